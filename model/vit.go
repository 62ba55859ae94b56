package model

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// ViTArch is one entry of a ViT arch zoo (or an arch dict).
type ViTArch struct {
	EmbedDims           int `yaml:"embed_dims"`
	NumLayers           int `yaml:"num_layers"`
	NumHeads            int `yaml:"num_heads"`
	FeedforwardChannels int `yaml:"feedforward_channels"`
}

// vitArchMMSelfSup is MMSelfSup's VisionTransformer.arch_zoo, which
// replaces mmcls's (backbones/vision_transformer.py).
var vitArchMMSelfSup = map[string]ViTArch{
	"mocov3-s": {384, 12, 12, 1536}, "mocov3-small": {384, 12, 12, 1536},
	"b": {768, 12, 12, 3072}, "base": {768, 12, 12, 3072},
}

// vitArchMMCls is mmcls 0.23's VisionTransformer.arch_zoo (MAEViT, CAEViT).
var vitArchMMCls = map[string]ViTArch{
	"s": {768, 8, 8, 2304}, "small": {768, 8, 8, 2304},
	"b": {768, 12, 12, 3072}, "base": {768, 12, 12, 3072},
	"l": {1024, 24, 16, 4096}, "large": {1024, 24, 16, 4096},
	"deit-t": {192, 12, 3, 768}, "deit-tiny": {192, 12, 3, 768},
	"deit-s": {384, 12, 6, 1536}, "deit-small": {384, 12, 6, 1536},
	"deit-b": {768, 12, 12, 3072}, "deit-base": {768, 12, 12, 3072},
}

// ViTBaseConfig holds mmcls VisionTransformer's arguments, shared by
// VisionTransformer, MAEViT and CAEViT. Arch is a zoo name or an arch
// dict; ImgSize an int or [h, w]; OutIndices an int or a list (negative
// counts from the end).
type ViTBaseConfig struct {
	Arch            any            `yaml:"arch"`
	ImgSize         any            `yaml:"img_size"`
	PatchSize       int            `yaml:"patch_size"`
	InChannels      int            `yaml:"in_channels"`
	OutIndices      any            `yaml:"out_indices"`
	DropRate        float64        `yaml:"drop_rate"`
	DropPathRate    float64        `yaml:"drop_path_rate"`
	QKVBias         bool           `yaml:"qkv_bias"`
	NormCfg         map[string]any `yaml:"norm_cfg"`
	FinalNorm       bool           `yaml:"final_norm"`
	WithClsToken    bool           `yaml:"with_cls_token"`
	OutputClsToken  bool           `yaml:"output_cls_token"`
	InterpolateMode string         `yaml:"interpolate_mode"`
	PatchCfg        map[string]any `yaml:"patch_cfg"`
	LayerCfgs       any            `yaml:"layer_cfgs"`
	InitCfg         any            `yaml:"init_cfg"`
}

// defaultViTBase is mmcls's defaults with arch given.
func defaultViTBase(arch string) ViTBaseConfig {
	return ViTBaseConfig{
		Arch: arch, ImgSize: 224, PatchSize: 16, InChannels: 3, OutIndices: -1,
		QKVBias: true, FinalNorm: true, WithClsToken: true, OutputClsToken: true,
		InterpolateMode: "bicubic",
	}
}

// resolved is the validated geometry of a ViTBaseConfig.
type vitGeometry struct {
	arch    ViTArch
	img     [2]int64
	outIdx  []int
	eps     float64
	hasInit bool
}

func (c *ViTBaseConfig) resolve(zoo map[string]ViTArch) (vitGeometry, error) {
	var g vitGeometry
	switch a := c.Arch.(type) {
	case string:
		arch, ok := zoo[strings.ToLower(a)]
		if !ok {
			names := make([]string, 0, len(zoo))
			for n := range zoo {
				names = append(names, n)
			}
			sort.Strings(names)
			return g, fmt.Errorf("arch: %q not in the arch zoo (have: %s)", a, strings.Join(names, ", "))
		}
		g.arch = arch
	case map[string]any:
		if err := decodeConfig("arch", a, &g.arch); err != nil {
			return g, err
		}
		for _, k := range []string{"embed_dims", "num_layers", "num_heads", "feedforward_channels"} {
			if _, ok := a[k]; !ok {
				return g, fmt.Errorf("arch.%s: missing (a custom arch needs embed_dims, num_layers, num_heads, feedforward_channels)", k)
			}
		}
	default:
		return g, fmt.Errorf("arch: want a name or a dict, got %s", describeValue(c.Arch))
	}
	a := g.arch
	if a.EmbedDims < 1 || a.NumLayers < 1 || a.NumHeads < 1 || a.FeedforwardChannels < 1 {
		return g, fmt.Errorf("arch %+v: sizes must be positive", a)
	}
	if a.EmbedDims%a.NumHeads != 0 {
		return g, fmt.Errorf("arch: embed_dims %d not divisible by num_heads %d", a.EmbedDims, a.NumHeads)
	}
	var err error
	if g.img, err = pair("img_size", c.ImgSize); err != nil {
		return g, err
	}
	if c.PatchSize < 1 || c.InChannels < 1 {
		return g, fmt.Errorf("patch_size %d and in_channels %d must be positive", c.PatchSize, c.InChannels)
	}
	idx, err := intList("out_indices", c.OutIndices)
	if err != nil {
		return g, err
	}
	for _, i := range idx {
		j := i
		if j < 0 {
			j += a.NumLayers
		}
		if j < 0 || j >= a.NumLayers {
			return g, fmt.Errorf("out_indices: %d outside the %d layers", i, a.NumLayers)
		}
		g.outIdx = append(g.outIdx, j)
	}
	if c.OutputClsToken && !c.WithClsToken {
		return g, fmt.Errorf("output_cls_token needs with_cls_token")
	}
	if c.DropRate < 0 || c.DropRate >= 1 || c.DropPathRate < 0 || c.DropPathRate >= 1 {
		return g, fmt.Errorf("drop_rate %g and drop_path_rate %g must lie in [0, 1)", c.DropRate, c.DropPathRate)
	}
	if len(c.PatchCfg) > 0 {
		return g, fmt.Errorf("patch_cfg: overrides not supported (got %v)", c.PatchCfg)
	}
	if err := emptyCfgs("layer_cfgs", c.LayerCfgs); err != nil {
		return g, err
	}
	if g.eps, err = lnEps("norm_cfg", c.NormCfg, 1e-6); err != nil {
		return g, err
	}
	return g, nil
}

// vitPretrained accepts init_cfg nil or {type: Pretrained, ...}: the
// transformer backbones have one fixed init scheme each.
func vitPretrained(who string, v any) (map[string]any, error) {
	specs, pre, err := parseInitCfg("init_cfg", v)
	if err != nil {
		return nil, err
	}
	if len(specs) > 0 {
		return nil, fmt.Errorf("init_cfg: only Pretrained (or the default) is supported for %s", who)
	}
	return pre, nil
}

// pair reads an int or a 2-list.
func pair(key string, v any) ([2]int64, error) {
	if n, ok := configInt(v); ok {
		if n < 1 {
			return [2]int64{}, fmt.Errorf("%s: %d must be positive", key, n)
		}
		return [2]int64{n, n}, nil
	}
	l, ok := configList(v)
	if ok && len(l) == 2 {
		a, ok1 := configInt(l[0])
		b, ok2 := configInt(l[1])
		if ok1 && ok2 && a > 0 && b > 0 {
			return [2]int64{a, b}, nil
		}
	}
	return [2]int64{}, fmt.Errorf("%s: want a positive int or [h, w], got %s", key, describeValue(v))
}

// intList reads an int or a list of ints.
func intList(key string, v any) ([]int, error) {
	if n, ok := configInt(v); ok {
		return []int{int(n)}, nil
	}
	l, ok := configList(v)
	if !ok || len(l) == 0 {
		return nil, fmt.Errorf("%s: want an int or a list of ints, got %s", key, describeValue(v))
	}
	out := make([]int, len(l))
	for i, x := range l {
		n, ok := configInt(x)
		if !ok {
			return nil, fmt.Errorf("%s[%d]: want an int, got %s", key, i, describeValue(x))
		}
		out[i] = int(n)
	}
	return out, nil
}

// emptyCfgs accepts nil, {} or a list of {} (per-layer overrides are not
// supported).
func emptyCfgs(key string, v any) error {
	switch x := v.(type) {
	case nil:
		return nil
	case map[string]any:
		if len(x) == 0 {
			return nil
		}
	case []any:
		for _, e := range x {
			if m, ok := e.(map[string]any); !ok || len(m) > 0 {
				return fmt.Errorf("%s: per-layer overrides not supported (got %v)", key, v)
			}
		}
		return nil
	}
	return fmt.Errorf("%s: per-layer overrides not supported (got %v)", key, v)
}

// vitCore is mmcls's VisionTransformer body: keys cls_token, pos_embed,
// patch_embed.projection.*, layers.{i}.*, ln1.* (PyTorch's state_dict
// order: own parameters, then children).
type vitCore struct {
	cfg      ViTBaseConfig
	geo      vitGeometry
	dim      int64
	patch    *patchEmbed
	cls, pos *ts.Tensor
	layers   []*encoderLayer
	norm     *layerNorm
	res      [2]int64 // patch grid at img_size
	frozen   int      // layers [0, frozen) run in eval mode
}

// newVitCore builds the body; layer describes the block variant
// (split q/v bias and γ for CAEViT).
func newVitCore(p *nn.Path, c ViTBaseConfig, geo vitGeometry, splitBias bool, initValues float64) (*vitCore, error) {
	return newVitCoreWindow(p, c, geo, splitBias, initValues, false)
}

// newVitCoreWindow is newVitCore; useWindow gives every block a relative
// position bias over the patch grid (MIMVisionTransformer's use_window).
func newVitCoreWindow(p *nn.Path, c ViTBaseConfig, geo vitGeometry, splitBias bool, initValues float64, useWindow bool) (*vitCore, error) {
	a := geo.arch
	v := &vitCore{cfg: c, geo: geo, dim: int64(a.EmbedDims)}
	var err error
	if v.cls, err = addParam(p, "cls_token", []int64{1, 1, v.dim}); err != nil {
		return nil, err
	}
	pe := &patchEmbed{patch: int64(c.PatchSize)}
	v.res[0], v.res[1] = pe.outSize(geo.img[0], geo.img[1])
	if v.pos, err = addParam(p, "pos_embed", []int64{1, v.res[0]*v.res[1] + 1, v.dim}); err != nil {
		return nil, err
	}
	if v.patch, err = newPatchEmbed(p.Sub("patch_embed"), int64(c.InChannels), v.dim, int64(c.PatchSize), 0); err != nil {
		return nil, err
	}
	var window [2]int64
	if useWindow {
		window = v.res
	}
	lp := p.Sub("layers")
	for i := 0; i < a.NumLayers; i++ {
		dpr := 0.0
		if a.NumLayers > 1 {
			dpr = c.DropPathRate * float64(i) / float64(a.NumLayers-1) // np.linspace
		}
		l, err := newEncoderLayer(lp.Sub(strconv.Itoa(i)), encoderLayerConfig{
			dim: v.dim, heads: int64(a.NumHeads), ffnDim: int64(a.FeedforwardChannels),
			qkvBias: c.QKVBias, splitBias: splitBias, eps: geo.eps,
			drop: c.DropRate, dropPath: dpr, initValues: initValues, window: window,
		})
		if err != nil {
			return nil, err
		}
		v.layers = append(v.layers, l)
	}
	if c.FinalNorm {
		if v.norm, err = newLayerNorm(p.Sub("ln1"), v.dim, geo.eps); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// linears returns every Linear of the blocks.
func (v *vitCore) linears() []*linear {
	var out []*linear
	for _, l := range v.layers {
		out = append(out, l.linears()...)
	}
	return out
}

// setSinCos writes the fixed 2-D sin-cos position embedding (zero cls
// row) and freezes it.
func (v *vitCore) setSinCos() error {
	vals, dims, err := sincosPosEmbed(v.res[0], v.res[1], v.dim, true)
	if err != nil {
		return err
	}
	if v.res[0] != v.res[1] {
		// MMSelfSup builds the table from int(sqrt(num_patches)) (MAE, CAE)
		// or patch_resolution (VisionTransformer); both need a square grid
		// for the table to mean rows and columns.
		return fmt.Errorf("img_size %v gives a %d×%d patch grid; the sin-cos position embedding needs a square one", v.geo.img, v.res[0], v.res[1])
	}
	if err := setFromFloats(v.pos, vals, dims); err != nil {
		return err
	}
	freezeTensors(v.pos)
	return nil
}

// checkInput validates x as N×C×H×W with the configured channels.
func (v *vitCore) checkInput(who string, x *ts.Tensor) ([]int64, error) {
	dims, err := x.Size()
	if err != nil {
		return nil, fmt.Errorf("%s input: %w", who, err)
	}
	if len(dims) != 4 || dims[1] != int64(v.cfg.InChannels) || dims[0] < 1 {
		return nil, fmt.Errorf("%s input shape %v, want N×%d×H×W", who, dims, v.cfg.InChannels)
	}
	return dims, nil
}

// runLayers applies the blocks (and the final norm after the last) to
// x, calling emit(i, y) after block i; x is borrowed, the result owned.
func (v *vitCore) runLayers(x *ts.Tensor, train bool, emit func(i int, y *ts.Tensor)) *ts.Tensor {
	cur := x
	for i, l := range v.layers {
		next := l.forward(cur, train && i >= v.frozen)
		if cur != x {
			cur.MustDrop()
		}
		cur = next
		if i == len(v.layers)-1 && v.norm != nil {
			cur = dropAfter(cur, v.norm.forward(cur))
		}
		if emit != nil {
			emit(i, cur)
		}
	}
	return cur
}

// VisionTransformerConfig is MMSelfSup's VisionTransformer (MoCo v3's
// backbone, algorithms.md §14): mmcls's arguments plus stop_grad_conv1,
// frozen_stages and norm_eval.
type VisionTransformerConfig struct {
	ViTBaseConfig `yaml:",inline"`
	StopGradConv1 bool `yaml:"stop_grad_conv1"`
	FrozenStages  int  `yaml:"frozen_stages"`
	NormEval      bool `yaml:"norm_eval"`
}

// DefaultVisionTransformerConfig returns the class defaults (arch "base").
func DefaultVisionTransformerConfig() VisionTransformerConfig {
	return VisionTransformerConfig{ViTBaseConfig: defaultViTBase("base"), FrozenStages: -1}
}

// Validate checks the arguments.
func (c *VisionTransformerConfig) Validate() error {
	geo, err := c.resolve(vitArchMMSelfSup)
	if err != nil {
		return err
	}
	if c.FrozenStages > geo.arch.NumLayers {
		return fmt.Errorf("frozen_stages %d > num_layers %d", c.FrozenStages, geo.arch.NumLayers)
	}
	return nil
}

// VisionTransformer is MMSelfSup's VisionTransformer over mmcls's
// (components.md §4.2). Forward returns, for each out index in order,
// the patch tokens N×D×h×w followed (with output_cls_token) by the cls
// token N×D — mmcls's [patch_token, cls_token] lists, flattened — so the
// last tensor is the cls token a vit_backbone neck reads. The position
// embedding is resized (interpolate_mode) when the input's patch grid
// differs from img_size's.
type VisionTransformer struct {
	*vitCore
	cfg        VisionTransformerConfig
	pretrained map[string]any
}

// NewVisionTransformer builds the backbone under p with MMSelfSup's
// init_weights unless init_cfg is Pretrained (the caller then loads it):
// fixed sin-cos position embedding, patch projection
// U(±√(6/(3·p²+D))) with bias 0, qkv U(±√(6/(3D/3+D))), other Linear
// xavier-uniform, Linear biases 0, cls token N(0, 1e-6²).
func NewVisionTransformer(p *nn.Path, c VisionTransformerConfig) (*VisionTransformer, error) {
	geo, err := c.resolve(vitArchMMSelfSup)
	if err != nil {
		return nil, err
	}
	pre, err := vitPretrained("VisionTransformer", c.InitCfg)
	if err != nil {
		return nil, err
	}
	core, err := newVitCore(p, c.ViTBaseConfig, geo, false, 0)
	if err != nil {
		return nil, err
	}
	v := &VisionTransformer{vitCore: core, cfg: c, pretrained: pre}
	if pre == nil {
		if err := v.initWeights(); err != nil {
			return nil, err
		}
	}
	if c.StopGradConv1 {
		freezeTensors(v.patch.proj.w, v.patch.proj.b)
	}
	v.freezeStages()
	return v, nil
}

func (v *VisionTransformer) initWeights() error {
	if err := v.setSinCos(); err != nil {
		return err
	}
	ps := float64(v.cfg.PatchSize)
	val := math.Sqrt(6 / (3*ps*ps + float64(v.dim))) // MMSelfSup hard-codes 3 channels here
	if err := v.patch.proj.reinit(InitSpec{Type: "Uniform", A: -val, B: val}); err != nil {
		return err
	}
	for _, l := range v.layers {
		q := l.attn.qkv
		bound := math.Sqrt(6 / float64(q.out/3+q.in)) // Q, K, V treated separately
		if err := q.reinit(InitSpec{Type: "Uniform", A: -bound, B: bound}); err != nil {
			return err
		}
		for _, lin := range []*linear{l.attn.proj, l.ffn.fc1, l.ffn.fc2} {
			if err := lin.reinit(xavierUniform); err != nil {
				return err
			}
		}
	}
	return initWeightBias(v.cls, nil, InitSpec{Type: "Normal", Std: 1e-6})
}

// freezeStages is _freeze_stages: frozen_stages ≥ 0 freezes the patch
// embedding, cls token and position embedding; k ≥ 1 also layers 0..k−1
// (and the final norm when k = num_layers).
func (v *VisionTransformer) freezeStages() {
	k := v.cfg.FrozenStages
	if k < 0 {
		return
	}
	freezeTensors(v.patch.proj.w, v.patch.proj.b, v.cls, v.pos)
	for i := 0; i < k; i++ {
		l := v.layers[i]
		for _, lin := range l.linears() {
			freezeTensors(lin.w, lin.b)
		}
		for _, n := range l.norms() {
			freezeTensors(n.w, n.b)
		}
	}
	if k == len(v.layers) && v.norm != nil {
		freezeTensors(v.norm.w, v.norm.b)
	}
	v.frozen = k
}

// Pretrained returns the init_cfg Pretrained entry, if any.
func (v *VisionTransformer) Pretrained() map[string]any { return v.pretrained }

// OutChannels lists D once per returned tensor.
func (v *VisionTransformer) OutChannels() []int64 {
	var out []int64
	for range v.geo.outIdx {
		out = append(out, v.dim)
		if v.cfg.OutputClsToken {
			out = append(out, v.dim)
		}
	}
	return out
}

// Forward runs the ViT on x (N×C×H×W).
func (v *VisionTransformer) Forward(x *ts.Tensor, train bool) ([]*ts.Tensor, error) {
	dims, err := v.checkInput("VisionTransformer", x)
	if err != nil {
		return nil, err
	}
	s := NewScope()
	defer s.Close()
	tok, hw := v.patch.forward(x) // N×L×D
	s.Track(tok)
	n := dims[0]
	cls := s.Track(v.cls.MustExpand([]int64{n, 1, v.dim}, false, false))
	h := s.Track(ts.MustCat([]ts.Tensor{*cls, *tok}, 1))
	pos, err := resizePosEmbed(v.pos, v.res, hw, v.cfg.InterpolateMode, 1)
	if err != nil {
		return nil, fmt.Errorf("VisionTransformer pos_embed: %w", err)
	}
	s.Track(pos)
	h = s.Track(h.MustAdd(pos, false))
	h = dropout(s, h, v.cfg.DropRate, train)
	if !v.cfg.WithClsToken {
		h = s.Track(h.MustNarrow(1, 1, hw[0]*hw[1], false))
	}
	want := map[int]bool{}
	for _, i := range v.geo.outIdx {
		want[i] = true
	}
	var outs []*ts.Tensor
	last := v.runLayers(h, train, func(i int, y *ts.Tensor) {
		if !want[i] {
			return
		}
		outs = append(outs, v.splitTokens(y, hw)...)
	})
	last.MustDrop()
	return outs, nil
}

// splitTokens turns B×(1+hw)×D into [patch B×D×h×w, cls B×D] (or the
// patch map alone).
func (v *VisionTransformer) splitTokens(y *ts.Tensor, hw [2]int64) []*ts.Tensor {
	b := y.MustSize()[0]
	start := int64(0)
	if v.cfg.WithClsToken {
		start = 1
	}
	pt := y.MustNarrow(1, start, hw[0]*hw[1], false).
		MustReshape([]int64{b, hw[0], hw[1], v.dim}, true).
		MustPermute([]int64{0, 3, 1, 2}, true).
		MustContiguous(true)
	if !v.cfg.OutputClsToken {
		return []*ts.Tensor{pt}
	}
	return []*ts.Tensor{pt, y.MustSelect(1, 0, false)}
}

// vitFeatures is the feature a ViT-based algorithm extracts: the last
// output of the backbone in eval mode without gradient — the cls token
// when it is 2-D, else the globally pooled map.
func vitFeatures(b Backbone, x *ts.Tensor) (*ts.Tensor, error) {
	var out *ts.Tensor
	err := WithoutGrad(func() error {
		feats, err := b.Forward(x, false)
		if err != nil {
			return err
		}
		last := feats[len(feats)-1]
		for _, f := range feats[:len(feats)-1] {
			f.MustDrop()
		}
		if last.Dim() == 2 {
			out = last
			return nil
		}
		out, err = last.AdaptiveAvgPool2d([]int64{1, 1}, true)
		if err != nil {
			return err
		}
		out, err = out.Flatten(1, -1, true)
		return err
	})
	return out, err
}

func init() {
	RegisterBackbone("VisionTransformer", func(p *nn.Path, m map[string]any) (Backbone, error) {
		c := DefaultVisionTransformerConfig()
		return buildFrom(p, "backbone", m, &c, func(c *VisionTransformerConfig) (Backbone, error) { return NewVisionTransformer(p, *c) })
	})
}

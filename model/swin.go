package model

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// SwinArch is one entry of mmcls's Swin arch zoo (or an arch dict).
type SwinArch struct {
	EmbedDims int   `yaml:"embed_dims"`
	Depths    []int `yaml:"depths"`
	NumHeads  []int `yaml:"num_heads"`
}

var swinArchZoo = map[string]SwinArch{
	"t": {96, []int{2, 2, 6, 2}, []int{3, 6, 12, 24}}, "tiny": {96, []int{2, 2, 6, 2}, []int{3, 6, 12, 24}},
	"s": {96, []int{2, 2, 18, 2}, []int{3, 6, 12, 24}}, "small": {96, []int{2, 2, 18, 2}, []int{3, 6, 12, 24}},
	"b": {128, []int{2, 2, 18, 2}, []int{4, 8, 16, 32}}, "base": {128, []int{2, 2, 18, 2}, []int{4, 8, 16, 32}},
	"l": {192, []int{2, 2, 18, 2}, []int{6, 12, 24, 48}}, "large": {192, []int{2, 2, 18, 2}, []int{6, 12, 24, 48}},
}

// SimMIMSwinConfig is MMSelfSup's SimMIMSwinTransformer
// (backbones/simmim_swin.py) arguments. The window size (mmcls default 7)
// is set per stage through stage_cfgs: {window_size: w} or
// {block_cfgs: {window_size: w}} (SimMIM's config), or a list of such
// dicts, one per stage.
type SimMIMSwinConfig struct {
	Arch           any            `yaml:"arch"`
	ImgSize        any            `yaml:"img_size"`
	InChannels     int            `yaml:"in_channels"`
	DropRate       float64        `yaml:"drop_rate"`
	DropPathRate   float64        `yaml:"drop_path_rate"`
	OutIndices     any            `yaml:"out_indices"`
	UseAbsPosEmbed bool           `yaml:"use_abs_pos_embed"`
	WithCp         bool           `yaml:"with_cp"`
	FrozenStages   int            `yaml:"frozen_stages"`
	NormEval       bool           `yaml:"norm_eval"`
	NormCfg        map[string]any `yaml:"norm_cfg"`
	StageCfgs      any            `yaml:"stage_cfgs"`
	PatchCfg       map[string]any `yaml:"patch_cfg"`
	InitCfg        any            `yaml:"init_cfg"`
}

// DefaultSimMIMSwinConfig returns the class defaults (arch "T").
func DefaultSimMIMSwinConfig() SimMIMSwinConfig {
	return SimMIMSwinConfig{Arch: "T", ImgSize: 224, InChannels: 3, DropPathRate: 0.1, OutIndices: []any{3}, FrozenStages: -1}
}

type swinGeometry struct {
	arch    SwinArch
	img     [2]int64
	windows []int64
	outIdx  []int
	eps     float64
}

func (c *SimMIMSwinConfig) resolve() (swinGeometry, error) {
	var g swinGeometry
	switch a := c.Arch.(type) {
	case string:
		arch, ok := swinArchZoo[strings.ToLower(a)]
		if !ok {
			names := make([]string, 0, len(swinArchZoo))
			for n := range swinArchZoo {
				names = append(names, n)
			}
			sort.Strings(names)
			return g, fmt.Errorf("arch: %q not in the arch zoo (have: %s)", a, strings.Join(names, ", "))
		}
		g.arch = arch
	case map[string]any:
		if len(a) != 3 {
			return g, fmt.Errorf("arch: a custom arch needs exactly embed_dims, depths, num_heads (got %v)", a)
		}
		if err := decodeConfig("arch", a, &g.arch); err != nil {
			return g, err
		}
	default:
		return g, fmt.Errorf("arch: want a name or a dict, got %s", describeValue(c.Arch))
	}
	a := g.arch
	if a.EmbedDims < 1 || len(a.Depths) == 0 || len(a.Depths) != len(a.NumHeads) {
		return g, fmt.Errorf("arch: embed_dims %d, depths %v, num_heads %v inconsistent", a.EmbedDims, a.Depths, a.NumHeads)
	}
	dim := a.EmbedDims
	for i := range a.Depths {
		if a.Depths[i] < 1 || a.NumHeads[i] < 1 || dim%a.NumHeads[i] != 0 {
			return g, fmt.Errorf("arch: stage %d depth %d, %d heads for %d dims", i, a.Depths[i], a.NumHeads[i], dim)
		}
		dim *= 2
	}
	var err error
	if g.img, err = pair("img_size", c.ImgSize); err != nil {
		return g, err
	}
	if c.InChannels < 1 {
		return g, fmt.Errorf("in_channels %d must be positive", c.InChannels)
	}
	if g.outIdx, err = intList("out_indices", c.OutIndices); err != nil {
		return g, err
	}
	for _, i := range g.outIdx {
		if i < 0 || i >= len(a.Depths) {
			return g, fmt.Errorf("out_indices: %d outside the %d stages", i, len(a.Depths))
		}
	}
	if g.windows, err = swinWindows(c.StageCfgs, len(a.Depths)); err != nil {
		return g, err
	}
	if c.DropRate < 0 || c.DropRate >= 1 || c.DropPathRate < 0 || c.DropPathRate >= 1 {
		return g, fmt.Errorf("drop_rate %g and drop_path_rate %g must lie in [0, 1)", c.DropRate, c.DropPathRate)
	}
	if c.FrozenStages >= len(a.Depths) {
		return g, fmt.Errorf("frozen_stages %d ≥ %d stages", c.FrozenStages, len(a.Depths))
	}
	if len(c.PatchCfg) > 0 {
		return g, fmt.Errorf("patch_cfg: overrides not supported (got %v)", c.PatchCfg)
	}
	if g.eps, err = lnEps("norm_cfg", c.NormCfg, 1e-5); err != nil {
		return g, err
	}
	return g, nil
}

// swinWindows reads the per-stage window size from stage_cfgs.
func swinWindows(v any, stages int) ([]int64, error) {
	out := make([]int64, stages)
	for i := range out {
		out[i] = 7
	}
	one := func(path string, m map[string]any) (int64, error) {
		c := struct {
			WindowSize int            `yaml:"window_size"`
			BlockCfgs  map[string]any `yaml:"block_cfgs"`
		}{WindowSize: 7}
		if err := decodeConfig(path, m, &c); err != nil {
			return 0, err
		}
		w := c.WindowSize
		if c.BlockCfgs != nil {
			b := struct {
				WindowSize int `yaml:"window_size"`
			}{WindowSize: w}
			if err := decodeConfig(path+".block_cfgs", c.BlockCfgs, &b); err != nil {
				return 0, err
			}
			w = b.WindowSize
		}
		if w < 1 {
			return 0, fmt.Errorf("%s: window_size %d must be positive", path, w)
		}
		return int64(w), nil
	}
	switch x := v.(type) {
	case nil:
	case map[string]any:
		w, err := one("stage_cfgs", x)
		if err != nil {
			return nil, err
		}
		for i := range out {
			out[i] = w
		}
	case []any:
		if len(x) != stages {
			return nil, fmt.Errorf("stage_cfgs: %d entries for %d stages", len(x), stages)
		}
		for i, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("stage_cfgs[%d]: want a dict, got %s", i, describeValue(e))
			}
			w, err := one(fmt.Sprintf("stage_cfgs[%d]", i), m)
			if err != nil {
				return nil, err
			}
			out[i] = w
		}
	default:
		return nil, fmt.Errorf("stage_cfgs: want a dict or a list of dicts, got %s", describeValue(v))
	}
	return out, nil
}

// Validate checks the arguments.
func (c *SimMIMSwinConfig) Validate() error {
	_, err := c.resolve()
	return err
}

type swinStage struct {
	blocks []*swinBlock
	down   *patchMerging
	dim    int64
}

// SimMIMSwinTransformer is mmcls 0.23's SwinTransformer with SimMIM's
// learnable mask token (algorithms.md §16, components.md §4.3): patch
// embedding conv 4×4/4 + LayerNorm, masked tokens replaced by mask_token,
// stages of Swin blocks (odd blocks shifted by ⌊w/2⌋) with PatchMerging
// between stages, and norm{i} on each out_indices stage, returned as
// N×C×H×W maps. Keys [absolute_pos_embed,] mask_token, patch_embed.*,
// stages.{i}.blocks.{j}.*, stages.{i}.downsample.*, norm{i}.*.
type SimMIMSwinTransformer struct {
	cfg        SimMIMSwinConfig
	geo        swinGeometry
	absPos     *ts.Tensor
	maskToken  *ts.Tensor
	patch      *patchEmbed
	stages     []*swinStage
	norms      map[int]*layerNorm
	res        [2]int64
	dim        int64
	pretrained map[string]any
	notes      []string
}

// NewSimMIMSwinTransformer builds the backbone under p with SimMIM's
// init_weights unless init_cfg is Pretrained: relative position tables,
// mask token and absolute position embedding trunc-normal(0.02), every
// Linear trunc-normal(0.02) with bias 0, LayerNorm 1/0; the patch
// projection keeps PyTorch's default init.
func NewSimMIMSwinTransformer(p *nn.Path, c SimMIMSwinConfig) (*SimMIMSwinTransformer, error) {
	return newSwin(p, c, "SimMIMSwinTransformer", true)
}

// newSwin builds the backbone; without withMask it is mmcls's plain
// SwinTransformer (no mask_token key).
func newSwin(p *nn.Path, c SimMIMSwinConfig, who string, withMask bool) (*SimMIMSwinTransformer, error) {
	geo, err := c.resolve()
	if err != nil {
		return nil, err
	}
	pre, err := vitPretrained(who, emptyInitCfg(c.InitCfg))
	if err != nil {
		return nil, err
	}
	sw := &SimMIMSwinTransformer{cfg: c, geo: geo, dim: int64(geo.arch.EmbedDims), norms: map[int]*layerNorm{}, pretrained: pre}
	if c.WithCp {
		sw.notes = append(sw.notes, configPath(p, "backbone")+".with_cp: gradient checkpointing ignored (same results, more memory)")
	}
	pe := &patchEmbed{patch: 4}
	sw.res[0], sw.res[1] = pe.outSize(geo.img[0], geo.img[1])
	if c.UseAbsPosEmbed {
		if sw.absPos, err = addParam(p, "absolute_pos_embed", []int64{1, sw.res[0] * sw.res[1], sw.dim}); err != nil {
			return nil, err
		}
	}
	if withMask {
		if sw.maskToken, err = addParam(p, "mask_token", []int64{1, 1, sw.dim}); err != nil {
			return nil, err
		}
	}
	if sw.patch, err = newPatchEmbed(p.Sub("patch_embed"), int64(c.InChannels), sw.dim, 4, 1e-5); err != nil {
		return nil, err
	}
	total := 0
	for _, d := range geo.arch.Depths {
		total += d
	}
	blockIdx := 0
	dim := sw.dim
	var linears []*linear
	for i, depth := range geo.arch.Depths {
		sp := p.Sub("stages").Sub(strconv.Itoa(i))
		st := &swinStage{dim: dim}
		for j := 0; j < depth; j++ {
			dpr := 0.0
			if total > 1 {
				dpr = c.DropPathRate * float64(blockIdx) / float64(total-1) // torch.linspace
			}
			blockIdx++
			b, err := newSwinBlock(sp.Sub("blocks").Sub(strconv.Itoa(j)), dim, int64(geo.arch.NumHeads[i]), geo.windows[i], j%2 == 1, dpr, 1e-5)
			if err != nil {
				return nil, err
			}
			linears = append(linears, b.attn.qkv, b.attn.proj, b.ffn.fc1, b.ffn.fc2)
			st.blocks = append(st.blocks, b)
		}
		if i < len(geo.arch.Depths)-1 {
			if st.down, err = newPatchMerging(sp.Sub("downsample"), dim, 2*dim); err != nil {
				return nil, err
			}
			linears = append(linears, st.down.reduction)
			dim *= 2
		}
		sw.stages = append(sw.stages, st)
	}
	for _, i := range geo.outIdx {
		if sw.norms[i], err = newLayerNorm(p.Sub("norm"+strconv.Itoa(i)), sw.stageDim(i), geo.eps); err != nil {
			return nil, err
		}
	}
	if pre == nil {
		if sw.absPos != nil {
			truncNormal(sw.absPos, 0.02)
		}
		if sw.maskToken != nil {
			truncNormal(sw.maskToken, 0.02)
		}
		for _, l := range linears {
			truncNormal(l.w, 0.02)
			if l.b != nil {
				if err := initWeightBias(l.b, nil, InitSpec{Type: "Constant"}); err != nil {
					return nil, err
				}
			}
		}
	}
	sw.freeze()
	return sw, nil
}

// stageDim is the channel count out of stage i (after its downsample).
func (sw *SimMIMSwinTransformer) stageDim(i int) int64 {
	d := sw.dim << uint(i+1)
	if i == len(sw.stages)-1 {
		d = sw.dim << uint(i)
	}
	return d
}

// freeze is _freeze_stages: the patch embedding and stages 0..k (and
// their out norms) get requires_grad False. Swin has no BatchNorm or
// dropout in those modules, so eval mode changes nothing else.
func (sw *SimMIMSwinTransformer) freeze() {
	k := sw.cfg.FrozenStages
	if k < 0 {
		return
	}
	freezeTensors(sw.patch.proj.w, sw.patch.proj.b, sw.patch.norm.w, sw.patch.norm.b)
	for i := 0; i <= k; i++ {
		for _, b := range sw.stages[i].blocks {
			freezeTensors(b.norm1.w, b.norm1.b, b.norm2.w, b.norm2.b, b.attn.table,
				b.attn.qkv.w, b.attn.qkv.b, b.attn.proj.w, b.attn.proj.b, b.ffn.fc1.w, b.ffn.fc1.b, b.ffn.fc2.w, b.ffn.fc2.b)
		}
		if d := sw.stages[i].down; d != nil {
			freezeTensors(d.norm.w, d.norm.b, d.reduction.w)
		}
		if n := sw.norms[i]; n != nil {
			freezeTensors(n.w, n.b)
		}
	}
}

// Notes reports settings honoured differently (with_cp).
func (sw *SimMIMSwinTransformer) Notes() []string { return sw.notes }

// Pretrained returns the init_cfg Pretrained entry, if any.
func (sw *SimMIMSwinTransformer) Pretrained() map[string]any { return sw.pretrained }

// OutChannels lists the channels of each out_indices stage.
func (sw *SimMIMSwinTransformer) OutChannels() []int64 {
	var out []int64
	for _, i := range sw.geo.outIdx {
		out = append(out, sw.stageDim(i))
	}
	return out
}

// PatchResolution is the token grid at img_size (the mask's shape).
func (sw *SimMIMSwinTransformer) PatchResolution() [2]int64 { return sw.res }

// Forward runs the backbone without masking.
func (sw *SimMIMSwinTransformer) Forward(x *ts.Tensor, train bool) ([]*ts.Tensor, error) {
	return sw.ForwardMasked(x, nil, train)
}

// ForwardMasked runs the backbone with tokens where mask is 1 replaced by
// mask_token: mask is N×h×w or N×(h·w) on the patch grid (any numeric
// dtype), or nil for no masking.
func (sw *SimMIMSwinTransformer) ForwardMasked(x, mask *ts.Tensor, train bool) ([]*ts.Tensor, error) {
	dims, err := x.Size()
	if err != nil {
		return nil, fmt.Errorf("SimMIMSwinTransformer input: %w", err)
	}
	if len(dims) != 4 || dims[1] != int64(sw.cfg.InChannels) || dims[0] < 1 {
		return nil, fmt.Errorf("SimMIMSwinTransformer input shape %v, want N×%d×H×W", dims, sw.cfg.InChannels)
	}
	s := NewScope()
	defer s.Close()
	tok, hw := sw.patch.forward(x) // N×L×C
	s.Track(tok)
	n, l := dims[0], hw[0]*hw[1]
	if mask != nil && sw.maskToken == nil {
		return nil, fmt.Errorf("SwinTransformer: a mask needs SimMIM's mask_token")
	}
	if mask != nil {
		md, err := mask.Size()
		if err != nil {
			return nil, err
		}
		flat := int64(1)
		for _, d := range md[1:] {
			flat *= d
		}
		if len(md) < 2 || md[0] != n || flat != l {
			return nil, fmt.Errorf("SimMIM mask shape %v, want %d×%d×%d (the patch grid)", md, n, hw[0], hw[1])
		}
		w := s.Track(mask.MustReshape([]int64{n, l, 1}, false).MustTotype(gotch.Float, true))
		mt := s.Track(sw.maskToken.MustExpand([]int64{n, l, sw.dim}, false, false))
		keep := s.Track(w.MustNeg(false))
		keep = s.Track(addScalar(keep, 1, false))                      // 1 − w
		a := s.Track(tok.MustMul(keep, false))                         // x·(1−w)
		tok = s.Track(a.MustAdd(s.Track(mt.MustMul(w, false)), false)) // + mask_token·w
	}
	if sw.absPos != nil {
		if hw != sw.res {
			return nil, fmt.Errorf("SimMIMSwinTransformer: input grid %v differs from img_size's %v; resizing absolute_pos_embed is not supported", hw, sw.res)
		}
		tok = s.Track(tok.MustAdd(sw.absPos, false))
	}
	tok = dropout(s, tok, sw.cfg.DropRate, train)
	var outs []*ts.Tensor
	cur := tok
	for i, st := range sw.stages {
		frozen := i <= sw.cfg.FrozenStages
		for _, b := range st.blocks {
			y, err := b.forward(cur, hw, train && !frozen)
			if err != nil {
				dropTensors(outs)
				return nil, err
			}
			cur = s.Track(y)
		}
		if st.down != nil {
			y, nhw := st.down.forward(cur, hw)
			cur, hw = s.Track(y), nhw
		}
		if norm := sw.norms[i]; norm != nil {
			o := s.Track(norm.forward(cur))
			c := sw.stageDim(i)
			outs = append(outs, o.MustView([]int64{-1, hw[0], hw[1], c}, false).MustPermute([]int64{0, 3, 1, 2}, true).MustContiguous(true))
		}
	}
	return outs, nil
}

// dropTensors drops tensors a failed forward had already produced.
func dropTensors(xs []*ts.Tensor) {
	for _, x := range xs {
		x.MustDrop()
	}
}

func init() {
	RegisterBackbone("SimMIMSwinTransformer", func(p *nn.Path, m map[string]any) (Backbone, error) {
		c := DefaultSimMIMSwinConfig()
		return buildFrom(p, "backbone", m, &c, func(c *SimMIMSwinConfig) (Backbone, error) { return NewSimMIMSwinTransformer(p, *c) })
	})
}

// patchGrid is the token grid of an N×C×H×W input.
func (sw *SimMIMSwinTransformer) patchGrid(x *ts.Tensor) [2]int64 {
	d := x.MustSize()
	h, w := sw.patch.outSize(d[2], d[3])
	return [2]int64{h, w}
}

package model

import (
	"fmt"
	"math"
	"strconv"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// CAENeckConfig is MMSelfSup's CAENeck (necks/cae_neck.py).
type CAENeckConfig struct {
	PatchSize      int            `yaml:"patch_size"`
	NumClasses     int            `yaml:"num_classes"`
	EmbedDims      int            `yaml:"embed_dims"`
	RegressorDepth int            `yaml:"regressor_depth"`
	DecoderDepth   int            `yaml:"decoder_depth"`
	NumHeads       int            `yaml:"num_heads"`
	MlpRatio       float64        `yaml:"mlp_ratio"`
	QKVBias        bool           `yaml:"qkv_bias"`
	QKScale        float64        `yaml:"qk_scale"` // 0: head_dim^−0.5
	DropRate       float64        `yaml:"drop_rate"`
	AttnDropRate   float64        `yaml:"attn_drop_rate"`
	DropPathRate   float64        `yaml:"drop_path_rate"`
	NormCfg        map[string]any `yaml:"norm_cfg"`
	InitValues     float64        `yaml:"init_values"`
	MaskTokensNum  int            `yaml:"mask_tokens_num"`
	InitCfg        any            `yaml:"init_cfg"`
}

// DefaultCAENeckConfig returns the class defaults.
func DefaultCAENeckConfig() CAENeckConfig {
	return CAENeckConfig{PatchSize: 16, NumClasses: 8192, EmbedDims: 768, RegressorDepth: 6, DecoderDepth: 8,
		NumHeads: 12, MlpRatio: 4, QKVBias: true, MaskTokensNum: 75}
}

// Validate checks the sizes.
func (c *CAENeckConfig) Validate() error {
	for _, v := range []struct {
		n string
		v int
	}{{"patch_size", c.PatchSize}, {"num_classes", c.NumClasses}, {"embed_dims", c.EmbedDims},
		{"regressor_depth", c.RegressorDepth}, {"decoder_depth", c.DecoderDepth}, {"num_heads", c.NumHeads},
		{"mask_tokens_num", c.MaskTokensNum}} {
		if err := positive(v.n, v.v); err != nil {
			return err
		}
	}
	if c.EmbedDims%c.NumHeads != 0 {
		return fmt.Errorf("embed_dims %d not divisible by num_heads %d", c.EmbedDims, c.NumHeads)
	}
	if c.MlpRatio <= 0 || c.InitValues < 0 || c.QKScale < 0 {
		return fmt.Errorf("mlp_ratio %g must be > 0, init_values %g and qk_scale %g ≥ 0", c.MlpRatio, c.InitValues, c.QKScale)
	}
	for _, r := range []float64{c.DropRate, c.AttnDropRate, c.DropPathRate} {
		if r < 0 || r >= 1 {
			return fmt.Errorf("drop rates (%g, %g, %g) must lie in [0, 1)", c.DropRate, c.AttnDropRate, c.DropPathRate)
		}
	}
	if c.AttnDropRate > 0 {
		return fmt.Errorf("attn_drop_rate %g: attention dropout in the decoder layers is not supported", c.AttnDropRate)
	}
	if c.InitCfg != nil {
		return fmt.Errorf("init_cfg: not supported (CAENeck has a fixed init)")
	}
	_, err := lnEps("norm_cfg", c.NormCfg, 1e-6)
	return err
}

// CAENeck is CAE's latent regressor and decoder (algorithms.md §17): the
// mask_tokens_num copies of mask_token query the visible tokens through
// regressor_depth cross-attention layers (norm_regressor gives the latent
// prediction), then decoder_depth MMSelfSup TransformerEncoderLayers on
// latent + masked position embedding, norm_decoder and a Linear to
// num_classes logits. Keys mask_token, regressors.{i}.*, decoders.{i}.*,
// norm_regressor, norm_decoder, head.
type CAENeck struct {
	cfg                    CAENeckConfig
	dim                    int64
	maskToken              *ts.Tensor
	regressors             []*caeRegressorLayer
	decoders               []*encoderLayer
	normRegressor, normDec *layerNorm
	head                   *linear
}

// NewCAENeck builds the neck under p with CAENeck.init_weights: Linear
// xavier-uniform / bias 0, LayerNorm 1/0, then mask_token and head.weight
// trunc-normal 0.02.
func NewCAENeck(p *nn.Path, c CAENeckConfig) (*CAENeck, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	eps, _ := lnEps("norm_cfg", c.NormCfg, 1e-6)
	d := int64(c.EmbedDims)
	n := &CAENeck{cfg: c, dim: d}
	var err error
	if n.maskToken, err = addParam(p, "mask_token", []int64{1, 1, d}); err != nil {
		return nil, err
	}
	ffnDim := int64(c.MlpRatio * float64(c.EmbedDims))
	for i := range c.RegressorDepth {
		r, err := newCAERegressorLayer(p.Sub("regressors").Sub(strconv.Itoa(i)), caeRegressorConfig{
			dim: d, heads: int64(c.NumHeads), ffnDim: ffnDim, qkvBias: c.QKVBias, qkScale: c.QKScale,
			drop: c.DropRate, attnDrop: c.AttnDropRate, dropPath: linspace(c.DropPathRate, i, c.RegressorDepth),
			eps: eps, initValues: c.InitValues,
		})
		if err != nil {
			return nil, err
		}
		n.regressors = append(n.regressors, r)
	}
	for i := range c.DecoderDepth {
		l, err := newEncoderLayer(p.Sub("decoders").Sub(strconv.Itoa(i)), encoderLayerConfig{
			dim: d, heads: int64(c.NumHeads), ffnDim: ffnDim, qkvBias: c.QKVBias, splitBias: true, eps: eps,
			drop: c.DropRate, dropPath: linspace(c.DropPathRate, i, c.DecoderDepth), initValues: c.InitValues,
		})
		if err != nil {
			return nil, err
		}
		n.decoders = append(n.decoders, l)
	}
	if n.normRegressor, err = newLayerNorm(p.Sub("norm_regressor"), d, eps); err != nil {
		return nil, err
	}
	if n.normDec, err = newLayerNorm(p.Sub("norm_decoder"), d, eps); err != nil {
		return nil, err
	}
	if n.head, err = newLinear(p.Sub("head"), d, int64(c.NumClasses), true, torchDefault); err != nil {
		return nil, err
	}
	return n, n.initWeights()
}

// linspace is torch.linspace(0, end, n)[i].
func linspace(end float64, i, n int) float64 {
	if n < 2 {
		return 0
	}
	return end * float64(i) / float64(n-1)
}

func (n *CAENeck) initWeights() error {
	var ls []*linear
	for _, r := range n.regressors {
		ls = append(ls, r.attn.q, r.attn.k, r.attn.v, r.attn.proj, r.ffn.fc1, r.ffn.fc2)
	}
	for _, d := range n.decoders {
		ls = append(ls, d.linears()...)
	}
	ls = append(ls, n.head)
	for _, l := range ls {
		if err := l.reinit(xavierUniform); err != nil {
			return err
		}
	}
	truncNormal(n.maskToken, 0.02)
	truncNormal(n.head.w, 0.02)
	return nil
}

// Forward is CAENeck.forward(x_unmasked, pos_embed_masked,
// pos_embed_unmasked) with xs = [visible tokens N×V×D (cls dropped),
// masked position rows N×K×D, visible position rows N×V×D]; it returns
// [logits N×K×num_classes, latent_pred N×K×D], owned by the caller.
func (n *CAENeck) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	if len(xs) != 3 {
		return nil, fmt.Errorf("CAENeck: %d inputs, want [x_unmasked, pos_embed_masked, pos_embed_unmasked]", len(xs))
	}
	xu, pm, pu := xs[0], xs[1], xs[2]
	ud, md, pud := xu.MustSize(), pm.MustSize(), pu.MustSize()
	k := int64(n.cfg.MaskTokensNum)
	if len(ud) != 3 || ud[2] != n.dim || !equalDims(ud, pud) || len(md) != 3 || md[0] != ud[0] || md[1] != k || md[2] != n.dim {
		return nil, fmt.Errorf("CAENeck: x_unmasked %v, pos_embed_masked %v, pos_embed_unmasked %v; want N×V×%d, N×%d×%d (mask_tokens_num), N×V×%d",
			ud, md, pud, n.dim, k, n.dim, n.dim)
	}
	s := NewScope()
	defer s.Close()
	x := s.Track(n.maskToken.MustExpand([]int64{ud[0], k, n.dim}, false, false))
	posK := s.Track(ts.MustCat([]ts.Tensor{*pu, *pm}, 1))
	for _, r := range n.regressors {
		kv := s.Track(ts.MustCat([]ts.Tensor{*xu, *x}, 1))
		x = s.Track(r.forward(x, kv, pm, posK, train))
	}
	latent := s.Track(n.normRegressor.forward(x))
	y := s.Track(latent.MustAdd(pm, false))
	for _, d := range n.decoders {
		y = s.Track(d.forward(y, train))
	}
	y = s.Track(n.normDec.forward(y))
	logits := s.Track(n.head.forward(y))
	return []*ts.Tensor{s.Keep(logits), s.Keep(latent)}, nil
}

// caeRegressorLayer is MMSelfSup's CAETransformerRegressorLayer:
// x = x_q + γ1·CrossAttn(LNq(x_q+pos_q), LNk(x_kv+pos_k), LNv(x_kv));
// x = LN2(x); x = x + γ2·FFN(x). Keys gamma_1_cross, gamma_2_cross (own
// parameters first), norm1_q_cross, norm1_k_cross, norm1_v_cross,
// norm2_cross, cross_attn.*, ffn.*. Without init_values the γs are ones
// that do not train, as in MMSelfSup.
type caeRegressorLayer struct {
	gamma1, gamma2 *ts.Tensor
	normQ, normK   *layerNorm
	normV, norm2   *layerNorm
	attn           *crossAttention
	ffn            *ffn
	dropPath       float64
}

type caeRegressorConfig struct {
	dim, heads, ffnDim int64
	qkvBias            bool
	qkScale            float64
	drop, attnDrop     float64
	dropPath, eps      float64
	initValues         float64
}

func newCAERegressorLayer(p *nn.Path, c caeRegressorConfig) (*caeRegressorLayer, error) {
	l := &caeRegressorLayer{dropPath: c.dropPath}
	var err error
	if l.gamma1, err = addParam(p, "gamma_1_cross", []int64{c.dim}); err != nil {
		return nil, err
	}
	if l.gamma2, err = addParam(p, "gamma_2_cross", []int64{c.dim}); err != nil {
		return nil, err
	}
	g := 1.0
	if c.initValues > 0 {
		g = c.initValues
	}
	for _, t := range []*ts.Tensor{l.gamma1, l.gamma2} {
		if err := initWeightBias(t, nil, InitSpec{Type: "Constant", Val: g}); err != nil {
			return nil, err
		}
	}
	if c.initValues <= 0 {
		freezeTensors(l.gamma1, l.gamma2)
	}
	for _, x := range []struct {
		dst  **layerNorm
		name string
	}{{&l.normQ, "norm1_q_cross"}, {&l.normK, "norm1_k_cross"}, {&l.normV, "norm1_v_cross"}, {&l.norm2, "norm2_cross"}} {
		if *x.dst, err = newLayerNorm(p.Sub(x.name), c.dim, c.eps); err != nil {
			return nil, err
		}
	}
	if l.attn, err = newCrossAttention(p.Sub("cross_attn"), c); err != nil {
		return nil, err
	}
	if l.ffn, err = newFFN(p.Sub("ffn"), c.dim, c.ffnDim, c.drop); err != nil {
		return nil, err
	}
	return l, nil
}

// forward returns the new queries (N×K×D), owned by the caller.
func (l *caeRegressorLayer) forward(xq, xkv, posQ, posK *ts.Tensor, train bool) *ts.Tensor {
	s := NewScope()
	defer s.Close()
	q := s.Track(l.normQ.forward(s.Track(xq.MustAdd(posQ, false))))
	k := s.Track(l.normK.forward(s.Track(xkv.MustAdd(posK, false))))
	v := s.Track(l.normV.forward(xkv))
	a := l.attn.forward(s, q, k, v, train)
	a = s.Track(a.MustMul(l.gamma1, false))
	a = dropPath(s, a, l.dropPath, train)
	x := s.Track(xq.MustAdd(a, false))
	x = s.Track(l.norm2.forward(x))
	f := l.ffn.forward(s, x, train)
	f = s.Track(f.MustMul(l.gamma2, false))
	f = dropPath(s, f, l.dropPath, train)
	return x.MustAdd(f, false)
}

// crossAttention is MMSelfSup's CrossMultiheadAttention: bias-free q, k,
// v Linears, with qkv_bias learnable q_bias and v_bias (k's bias fixed
// at 0); queries scaled by qk_scale (default head_dim^−0.5) before q·kᵀ.
// Keys q_bias, v_bias, q, k, v, proj.
type crossAttention struct {
	q, k, v, proj  *linear
	qBias, vBias   *ts.Tensor
	heads, headDim int64
	scale          float64
	attnDrop, drop float64
}

func newCrossAttention(p *nn.Path, c caeRegressorConfig) (*crossAttention, error) {
	if c.heads <= 0 || c.dim%c.heads != 0 {
		return nil, fmt.Errorf("%s: embed dims %d not divisible by %d heads", pathName(p, ""), c.dim, c.heads)
	}
	a := &crossAttention{heads: c.heads, headDim: c.dim / c.heads, attnDrop: c.attnDrop, drop: c.drop}
	a.scale = c.qkScale
	if a.scale == 0 {
		a.scale = math.Pow(float64(a.headDim), -0.5)
	}
	var err error
	if c.qkvBias {
		if a.qBias, err = addParam(p, "q_bias", []int64{c.dim}); err != nil {
			return nil, err
		}
		if a.vBias, err = addParam(p, "v_bias", []int64{c.dim}); err != nil {
			return nil, err
		}
	}
	for _, x := range []struct {
		dst  **linear
		name string
		bias bool
	}{{&a.q, "q", false}, {&a.k, "k", false}, {&a.v, "v", false}, {&a.proj, "proj", true}} {
		if *x.dst, err = newLinear(p.Sub(x.name), c.dim, c.dim, x.bias, torchDefault); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// forward maps queries N×Nq×D and keys/values N×Nk×D to N×Nq×D, tracked
// in s.
func (a *crossAttention) forward(s *Scope, x, k, v *ts.Tensor, train bool) *ts.Tensor {
	xd, kd := x.MustSize(), k.MustSize()
	b, nq, nk := xd[0], xd[1], kd[1]
	q := s.Track(ts.MustLinear(x, a.q.w, orNone(a.qBias)))
	kk := s.Track(ts.MustLinear(k, a.k.w, noTensor()))
	vv := s.Track(ts.MustLinear(v, a.v.w, orNone(a.vBias)))
	heads := func(t *ts.Tensor, n int64) *ts.Tensor { // B×n×D → B×H×n×hd
		return s.Track(t.MustReshape([]int64{b, n, a.heads, a.headDim}, false).MustPermute([]int64{0, 2, 1, 3}, true))
	}
	q, kk, vv = heads(q, nq), heads(kk, nk), heads(vv, nk)
	q = s.Track(mulScalar(q, a.scale, false)) // scaled before q·kᵀ, as MMSelfSup
	attn := s.Track(q.MustMatmul(s.Track(kk.MustTranspose(-2, -1, false)), false))
	attn = s.Track(attn.MustSoftmax(-1, gotch.Float, false)) // autocast's softmax is fp32 too; DType() ends the process on half
	attn = dropout(s, attn, a.attnDrop, train)
	out := s.Track(attn.MustMatmul(vv, false))
	out = s.Track(out.MustTranspose(1, 2, false).MustReshape([]int64{b, nq, a.heads * a.headDim}, true))
	out = s.Track(a.proj.forward(out))
	return dropout(s, out, a.drop, train)
}

func init() {
	RegisterNeck("CAENeck", func(p *nn.Path, m map[string]any) (Neck, error) {
		c := DefaultCAENeckConfig()
		return buildFrom(p, "neck", m, &c, func(c *CAENeckConfig) (Neck, error) { return NewCAENeck(p, *c) })
	})
}

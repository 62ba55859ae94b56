package model

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// Building blocks shared by the ViT family (VisionTransformer, MAEViT,
// CAEViT, MAEPretrainDecoder, CAENeck) and Swin: torch.nn.LayerNorm,
// mmcv's FFN, mmcls's and MMSelfSup's MultiheadAttention and
// TransformerEncoderLayer (components.md §4.2), DropPath. Forward methods
// take x borrowed and return a new tensor the caller owns; their
// intermediates go through a Scope. Shapes are validated by the backbone
// or neck entry points, so the Must* calls inside cannot fail on bad input.

// layerNorm is torch.nn.LayerNorm over the last dim: "weight", "bias".
type layerNorm struct {
	w, b *ts.Tensor
	c    int64
	eps  float64
}

func newLayerNorm(p *nn.Path, c int64, eps float64) (*layerNorm, error) {
	l := &layerNorm{c: c, eps: eps}
	var err error
	if l.w, err = addParam(p, "weight", []int64{c}); err != nil {
		return nil, err
	}
	if l.b, err = addParam(p, "bias", []int64{c}); err != nil {
		return nil, err
	}
	return l, l.reinit(InitSpec{Type: "Constant", Val: 1})
}

func (l *layerNorm) layerClass() string      { return "LayerNorm" }
func (l *layerNorm) reinit(s InitSpec) error { return initWeightBias(l.w, l.b, s) }

func (l *layerNorm) forward(x *ts.Tensor) *ts.Tensor {
	return ts.MustLayerNorm(x, []int64{l.c}, l.w, l.b, l.eps, false)
}

// lnEps reads mmcv's norm_cfg for transformers: only type LN, with eps.
func lnEps(path string, m map[string]any, def float64) (float64, error) {
	if m == nil {
		return def, nil
	}
	c := struct {
		Type string  `yaml:"type"`
		Eps  float64 `yaml:"eps"`
	}{Type: "LN", Eps: 1e-5} // mmcv's LN default eps when the dict omits it
	if err := decodeConfig(path, m, &c); err != nil {
		return 0, err
	}
	if c.Type != "LN" {
		return 0, fmt.Errorf("%s.type: %q not supported (have: LN)", path, c.Type)
	}
	if c.Eps <= 0 {
		return 0, fmt.Errorf("%s.eps: %g must be > 0", path, c.Eps)
	}
	return c.Eps, nil
}

// dropPath is mmcv's DropPath: in training each sample's branch is kept
// with probability 1−p and scaled by 1/(1−p). Draws from libtorch's
// generator. Returns x itself when inactive.
func dropPath(s *Scope, x *ts.Tensor, p float64, train bool) *ts.Tensor {
	if !train || p <= 0 {
		return x
	}
	dims := x.MustSize()
	shape := make([]int64, len(dims))
	shape[0] = dims[0]
	for i := 1; i < len(shape); i++ {
		shape[i] = 1
	}
	// Drawn in fp32 and cast to x's type: x.DType() ends the process on
	// the half/bf16 tensors autocast produces.
	r32 := s.Track(ts.MustRand(shape, gotch.Float, x.MustDevice()))
	r, err := ToScalarType(r32, ScalarTypeOf(x))
	if err != nil {
		panic(fmt.Errorf("drop path: %w", err)) // the model's Must* style; the runner recovers panics
	}
	s.Track(r)
	keep := s.Track(addScalar(r, 1-p, false).MustFloor(true)) // 1 with probability 1−p
	y := s.Track(divScalar(x, 1-p, false))
	return s.Track(y.MustMul(keep, false))
}

// dropout is F.dropout(x, p, train); x itself when inactive.
func dropout(s *Scope, x *ts.Tensor, p float64, train bool) *ts.Tensor {
	if !train || p <= 0 {
		return x
	}
	return s.Track(ts.MustDropout(x, p, train))
}

// ffn is mmcv's FFN with two fcs: layers.0.0 Linear(D→F) → GELU →
// Dropout → layers.1 Linear(F→D) → Dropout. The residual is the caller's.
type ffn struct {
	fc1, fc2 *linear
	drop     float64
}

func newFFN(p *nn.Path, d, f int64, drop float64) (*ffn, error) {
	fc1, err := newLinear(p.Sub("layers").Sub("0").Sub("0"), d, f, true, torchDefault)
	if err != nil {
		return nil, err
	}
	fc2, err := newLinear(p.Sub("layers").Sub("1"), f, d, true, torchDefault)
	if err != nil {
		return nil, err
	}
	return &ffn{fc1: fc1, fc2: fc2, drop: drop}, nil
}

func (f *ffn) forward(s *Scope, x *ts.Tensor, train bool) *ts.Tensor {
	h := s.Track(f.fc1.forward(x))
	h = s.Track(h.MustGelu(false))
	h = dropout(s, h, f.drop, train)
	h = s.Track(f.fc2.forward(h))
	return dropout(s, h, f.drop, train)
}

// attention is mmcls's MultiheadAttention (qkv Linear with bias=qkv_bias)
// or, with splitBias, MMSelfSup's variant: a bias-free qkv plus learnable
// q_bias and v_bias, the k bias fixed at 0 (components.md §4.2). With a
// window it is MMSelfSup's MultiheadAttentionWithRPE (see rpe).
type attention struct {
	qkv, proj      *linear
	qBias, vBias   *ts.Tensor
	rpe            *relPosBias // nil without a window
	heads, headDim int64
	dim            int64
	scale          float64
	attnDrop, drop float64
}

// newAttention builds the attention under p; a non-zero window adds the
// relative position bias for a window[0]×window[1] patch grid plus a cls
// token (MultiheadAttentionWithRPE, splitBias only).
func newAttention(p *nn.Path, dim, heads int64, qkvBias, splitBias bool, window [2]int64, attnDrop, drop float64) (*attention, error) {
	if heads <= 0 || dim%heads != 0 {
		return nil, fmt.Errorf("%s: embed dims %d not divisible by %d heads", pathName(p, ""), dim, heads)
	}
	a := &attention{heads: heads, headDim: dim / heads, dim: dim, attnDrop: attnDrop, drop: drop}
	a.scale = math.Pow(float64(a.headDim), -0.5)
	var err error
	if splitBias && qkvBias {
		// Own parameters come first in PyTorch's state_dict.
		if a.qBias, err = addParam(p, "q_bias", []int64{dim}); err != nil {
			return nil, err
		}
		if a.vBias, err = addParam(p, "v_bias", []int64{dim}); err != nil {
			return nil, err
		}
	}
	if window != [2]int64{} {
		if !splitBias {
			return nil, fmt.Errorf("%s: relative position bias needs MMSelfSup's attention (split q/v bias)", pathName(p, ""))
		}
		// After q_bias/v_bias, before the qkv and proj children.
		if a.rpe, err = newRelPosBias(p, window, heads); err != nil {
			return nil, err
		}
	}
	if a.qkv, err = newLinear(p.Sub("qkv"), dim, 3*dim, qkvBias && !splitBias, torchDefault); err != nil {
		return nil, err
	}
	if a.proj, err = newLinear(p.Sub("proj"), dim, dim, true, torchDefault); err != nil {
		return nil, err
	}
	return a, nil
}

// forward maps x (B×N×D) to B×N×D.
func (a *attention) forward(s *Scope, x *ts.Tensor, train bool) *ts.Tensor {
	dims := x.MustSize()
	b, n := dims[0], dims[1]
	var qkv *ts.Tensor
	if a.qBias != nil {
		zero := s.Track(a.vBias.MustZerosLike(false))
		bias := s.Track(ts.MustCat([]ts.Tensor{*a.qBias, *zero, *a.vBias}, 0))
		qkv = s.Track(ts.MustLinear(x, a.qkv.w, bias))
	} else {
		qkv = s.Track(a.qkv.forward(x))
	}
	qkv = s.Track(qkv.MustReshape([]int64{b, n, 3, a.heads, a.headDim}, false).MustPermute([]int64{2, 0, 3, 1, 4}, true))
	q := s.Track(qkv.MustSelect(0, 0, false)) // B×H×N×hd
	k := s.Track(qkv.MustSelect(0, 1, false))
	v := s.Track(qkv.MustSelect(0, 2, false))
	kt := s.Track(k.MustTranspose(-2, -1, false))
	var attn *ts.Tensor
	if a.rpe == nil {
		attn = s.Track(q.MustMatmul(kt, false))         // B×H×N×N
		attn = s.Track(mulScalar(attn, a.scale, false)) // mmcls scales after q·kᵀ
	} else {
		qs := s.Track(mulScalar(q, a.scale, false)) // MultiheadAttentionWithRPE scales q first
		attn = s.Track(qs.MustMatmul(kt, false))    // B×H×N×N
		attn = s.Track(attn.MustAdd(s.Track(a.rpe.bias(n)), false))
	}
	attn = s.Track(attn.MustSoftmax(-1, gotch.Float, false))
	attn = dropout(s, attn, a.attnDrop, train)
	out := s.Track(attn.MustMatmul(v, false)) // B×H×N×hd
	out = s.Track(out.MustTranspose(1, 2, false).MustReshape([]int64{b, n, a.dim}, true))
	out = s.Track(a.proj.forward(out))
	return dropout(s, out, a.drop, train)
}

// encoderLayer is a ViT block: mmcls's TransformerEncoderLayer (keys
// ln1, attn.qkv, attn.proj, ln2, ffn.layers.0.0, ffn.layers.1) or, with
// gamma (init_values > 0) and split qkv bias, MMSelfSup's
// (gamma_1, gamma_2 first). x ← x + DropPath(γ1·Attn(LN1 x));
// x ← x + DropPath(γ2·FFN(LN2 x)).
type encoderLayer struct {
	ln1, ln2       *layerNorm
	attn           *attention
	ffn            *ffn
	gamma1, gamma2 *ts.Tensor
	dropPath       float64
}

// encoderLayerConfig describes one block.
type encoderLayerConfig struct {
	dim, heads, ffnDim int64
	qkvBias, splitBias bool
	eps                float64
	drop, dropPath     float64
	initValues         float64  // > 0: MMSelfSup's γ layer scale
	window             [2]int64 // non-zero: relative position bias (use_window)
}

func newEncoderLayer(p *nn.Path, c encoderLayerConfig) (*encoderLayer, error) {
	l := &encoderLayer{dropPath: c.dropPath}
	var err error
	if c.initValues > 0 {
		if l.gamma1, err = addParam(p, "gamma_1", []int64{c.dim}); err != nil {
			return nil, err
		}
		if l.gamma2, err = addParam(p, "gamma_2", []int64{c.dim}); err != nil {
			return nil, err
		}
		for _, g := range []*ts.Tensor{l.gamma1, l.gamma2} {
			if err := initWeightBias(g, nil, InitSpec{Type: "Constant", Val: c.initValues}); err != nil {
				return nil, err
			}
		}
	}
	if l.ln1, err = newLayerNorm(p.Sub("ln1"), c.dim, c.eps); err != nil {
		return nil, err
	}
	if l.attn, err = newAttention(p.Sub("attn"), c.dim, c.heads, c.qkvBias, c.splitBias, c.window, 0, c.drop); err != nil {
		return nil, err
	}
	if l.ln2, err = newLayerNorm(p.Sub("ln2"), c.dim, c.eps); err != nil {
		return nil, err
	}
	if l.ffn, err = newFFN(p.Sub("ffn"), c.dim, c.ffnDim, c.drop); err != nil {
		return nil, err
	}
	return l, nil
}

// linears lists the block's Linear layers, qkv first.
func (l *encoderLayer) linears() []*linear {
	return []*linear{l.attn.qkv, l.attn.proj, l.ffn.fc1, l.ffn.fc2}
}

func (l *encoderLayer) norms() []*layerNorm { return []*layerNorm{l.ln1, l.ln2} }

// forward maps x (B×N×D) to a new B×N×D tensor.
func (l *encoderLayer) forward(x *ts.Tensor, train bool) *ts.Tensor {
	s := NewScope()
	defer s.Close()
	h := s.Track(l.ln1.forward(x))
	a := l.attn.forward(s, h, train)
	if l.gamma1 != nil {
		a = s.Track(a.MustMul(l.gamma1, false))
	}
	a = dropPath(s, a, l.dropPath, train)
	x1 := s.Track(x.MustAdd(a, false))
	h2 := s.Track(l.ln2.forward(x1))
	f := l.ffn.forward(s, h2, train)
	if l.gamma2 != nil {
		f = s.Track(f.MustMul(l.gamma2, false))
	}
	f = dropPath(s, f, l.dropPath, train)
	return x1.MustAdd(f, false)
}

// sincosPosEmbed is MMSelfSup's build_2d_sincos_position_embedding
// (components.md §4.1) for an h×w grid: (1, h·w [+1], d) float32, the
// optional cls row zero.
func sincosPosEmbed(h, w, d int64, clsToken bool) ([]float32, []int64, error) {
	if d%4 != 0 {
		return nil, nil, fmt.Errorf("embed dims %d not divisible by 4 (2-D sin-cos position embedding)", d)
	}
	pd := d / 4
	omega := make([]float64, pd)
	for i := range omega {
		omega[i] = 1 / math.Pow(10000, float64(float32(float64(i)/float64(pd))))
	}
	extra := int64(0)
	if clsToken {
		extra = 1
	}
	out := make([]float32, (h*w+extra)*d)
	for m := int64(0); m < h*w; m++ {
		// meshgrid(range(w), range(h)) in "ij" order, flattened.
		a, b := float64(m/h), float64(m%h)
		row := out[(m+extra)*d:]
		for i := int64(0); i < pd; i++ {
			row[i] = float32(math.Sin(a * omega[i]))
			row[pd+i] = float32(math.Cos(a * omega[i]))
			row[2*pd+i] = float32(math.Sin(b * omega[i]))
			row[3*pd+i] = float32(math.Cos(b * omega[i]))
		}
	}
	return out, []int64{1, h*w + extra, d}, nil
}

// setFromFloats copies vals (shape dims) into the VarStore tensor t.
func setFromFloats(t *ts.Tensor, vals []float32, dims []int64) error {
	src, err := ts.NewTensorFromData(vals, dims)
	if err != nil {
		return err
	}
	defer src.MustDrop()
	noGradDo(func() { t.Copy_(src) })
	return ts.TorchErr()
}

// truncNormal is mmcv's trunc_normal_(std, a=−2, b=2): a normal draw
// clamped to [a, b]. With the std ≤ 0.02 used here the bounds sit beyond
// 100σ, where clamping and resampling cannot differ in practice.
func truncNormal(t *ts.Tensor, std float64) {
	noGradDo(func() {
		fillVia(t, func(x *ts.Tensor) {
			x.MustNormal_(0, std)
			lo, hi := ts.FloatScalar(-2), ts.FloatScalar(2)
			x.MustClamp_(lo, hi)
			lo.MustDrop()
			hi.MustDrop()
		})
	})
}

// xavierUniform is the spec for nn.init.xavier_uniform_ with bias 0.
var xavierUniform = InitSpec{Type: "Xavier", Distribution: "uniform", Gain: 1}

// patchEmbed is mmcv's PatchEmbed: optional corner padding of the input
// to a multiple of the stride, conv k×k stride k ("projection"), tokens
// flattened row-major, optional LayerNorm ("norm").
type patchEmbed struct {
	proj  *conv2d
	norm  *layerNorm
	patch int64
}

func newPatchEmbed(p *nn.Path, in, dim, patch int64, normEps float64) (*patchEmbed, error) {
	c, err := newConv2d(p.Sub("projection"), in, dim, patch, patch, 0, 1, 1, true, torchDefault)
	if err != nil {
		return nil, err
	}
	pe := &patchEmbed{proj: c, patch: patch}
	if normEps > 0 {
		if pe.norm, err = newLayerNorm(p.Sub("norm"), dim, normEps); err != nil {
			return nil, err
		}
	}
	return pe, nil
}

// outSize is the token grid for an h×w input (AdaptivePadding "corner").
func (pe *patchEmbed) outSize(h, w int64) (int64, int64) {
	return (h + pe.patch - 1) / pe.patch, (w + pe.patch - 1) / pe.patch
}

// forward maps x (N×C×H×W) to tokens N×(h·w)×D and the grid (h, w).
func (pe *patchEmbed) forward(x *ts.Tensor) (*ts.Tensor, [2]int64) {
	s := NewScope()
	defer s.Close()
	dims := x.MustSize()
	h, w := pe.outSize(dims[2], dims[3])
	if ph, pw := h*pe.patch-dims[2], w*pe.patch-dims[3]; ph > 0 || pw > 0 {
		x = s.Track(x.MustConstantPadNd([]int64{0, pw, 0, ph}, false))
	}
	y := s.Track(pe.proj.forward(x))                                   // N×D×h×w
	y = s.Track(y.MustFlatten(2, -1, false).MustTranspose(1, 2, true)) // N×hw×D
	if pe.norm != nil {
		y = s.Track(pe.norm.forward(y))
	}
	return s.Keep(y), [2]int64{h, w}
}

// resizePosEmbed is mmcls's resize_pos_embed: the grid part of pos
// (1×(extra+sh·sw)×C) interpolated to dh×dw (align_corners False). It
// returns a new tensor (a shallow copy when the sizes already match).
func resizePosEmbed(pos *ts.Tensor, src, dst [2]int64, mode string, extra int64) (*ts.Tensor, error) {
	if src == dst {
		return pos.ShallowClone()
	}
	s := NewScope()
	defer s.Close()
	c := pos.MustSize()[2]
	ex := s.Track(pos.MustNarrow(1, 0, extra, false))
	grid := s.Track(pos.MustNarrow(1, extra, src[0]*src[1], false))
	grid = s.Track(grid.MustReshape([]int64{1, src[0], src[1], c}, false).MustPermute([]int64{0, 3, 1, 2}, true))
	var out *ts.Tensor
	var err error
	switch mode {
	case "bicubic":
		out, err = grid.UpsampleBicubic2d([]int64{dst[0], dst[1]}, false, nil, nil, false)
	case "bilinear":
		out, err = grid.UpsampleBilinear2d([]int64{dst[0], dst[1]}, false, nil, nil, false)
	default:
		return nil, fmt.Errorf("interpolate_mode %q not supported (have: bicubic, bilinear)", mode)
	}
	if err != nil {
		return nil, err
	}
	s.Track(out)
	out = s.Track(out.MustFlatten(2, -1, false).MustTranspose(1, 2, true))
	return ts.Cat([]ts.Tensor{*ex, *out}, 1)
}

// xavierBound is xavier_uniform_'s bound √(6/(fan_in+fan_out)).
func xavierBound(fanIn, fanOut float64) float64 { return math.Sqrt(6 / (fanIn + fanOut)) }

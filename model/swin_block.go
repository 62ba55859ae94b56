package model

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// windowMSA is mmcls's WindowMSA: window attention with a learnable
// relative position bias table ((2w−1)²×heads) indexed by the buffer
// relative_position_index[i][j] = (Δrow+w−1)·(2w−1) + (Δcol+w−1)
// (components.md §4.3). Keys relative_position_bias_table,
// relative_position_index, qkv.*, proj.*.
type windowMSA struct {
	table, index   *ts.Tensor
	qkv, proj      *linear
	heads, headDim int64
	dim, ws        int64
	scale          float64
}

func newWindowMSA(p *nn.Path, dim, heads, ws int64, qkvBias bool) (*windowMSA, error) {
	if heads <= 0 || dim%heads != 0 {
		return nil, fmt.Errorf("%s: embed dims %d not divisible by %d heads", pathName(p, ""), dim, heads)
	}
	a := &windowMSA{heads: heads, headDim: dim / heads, dim: dim, ws: ws}
	a.scale = math.Pow(float64(a.headDim), -0.5)
	var err error
	if a.table, err = addParam(p, "relative_position_bias_table", []int64{(2*ws - 1) * (2*ws - 1), heads}); err != nil {
		return nil, err
	}
	idx, err := ts.NewTensorFromData(relativePositionIndex(ws), []int64{ws * ws, ws * ws})
	if err != nil {
		return nil, err
	}
	defer idx.MustDrop()
	if a.index, err = AddBuffer(p, "relative_position_index", idx); err != nil {
		return nil, err
	}
	if a.qkv, err = newLinear(p.Sub("qkv"), dim, 3*dim, qkvBias, torchDefault); err != nil {
		return nil, err
	}
	if a.proj, err = newLinear(p.Sub("proj"), dim, dim, true, torchDefault); err != nil {
		return nil, err
	}
	truncNormal(a.table, 0.02) // WindowMSA.init_weights
	return a, nil
}

// relativePositionIndex is WindowMSA's buffer for a ws×ws window,
// row-major over (token i, token j).
func relativePositionIndex(ws int64) []int64 {
	n := ws * ws
	out := make([]int64, n*n)
	for i := int64(0); i < n; i++ {
		for j := int64(0); j < n; j++ {
			dr := i/ws - j/ws + ws - 1
			dc := i%ws - j%ws + ws - 1
			out[i*n+j] = dr*(2*ws-1) + dc
		}
	}
	return out
}

// bias returns the (heads, N, N) relative position bias.
func (a *windowMSA) bias(s *Scope) *ts.Tensor {
	n := a.ws * a.ws
	flat := s.Track(a.index.MustView([]int64{-1}, false))
	b := s.Track(a.table.MustIndexSelect(0, flat, false)) // N²×heads
	return s.Track(b.MustView([]int64{n, n, a.heads}, false).MustPermute([]int64{2, 0, 1}, true).MustContiguous(true))
}

// forward maps windows x (nW·B × N × C) to the same shape; mask
// (nW × N × N, 0 or −100) or nil.
func (a *windowMSA) forward(s *Scope, x, mask *ts.Tensor) *ts.Tensor {
	d := x.MustSize()
	b, n := d[0], d[1]
	qkv := s.Track(a.qkv.forward(x))
	qkv = s.Track(qkv.MustReshape([]int64{b, n, 3, a.heads, a.headDim}, false).MustPermute([]int64{2, 0, 3, 1, 4}, true))
	q := s.Track(qkv.MustSelect(0, 0, false))
	k := s.Track(qkv.MustSelect(0, 1, false))
	v := s.Track(qkv.MustSelect(0, 2, false))
	q = s.Track(mulScalar(q, a.scale, false)) // WindowMSA scales q before q·kᵀ
	attn := s.Track(q.MustMatmul(s.Track(k.MustTranspose(-2, -1, false)), false))
	attn = s.Track(attn.MustAdd(s.Track(a.bias(s).MustUnsqueeze(0, false)), false))
	if mask != nil {
		nw := mask.MustSize()[0]
		m := s.Track(mask.MustUnsqueeze(1, false).MustUnsqueeze(0, true)) // 1×nW×1×N×N
		attn = s.Track(attn.MustView([]int64{b / nw, nw, a.heads, n, n}, false).MustAdd(m, true))
		attn = s.Track(attn.MustView([]int64{-1, a.heads, n, n}, false))
	}
	attn = s.Track(attn.MustSoftmax(-1, gotch.Float, false))
	out := s.Track(attn.MustMatmul(v, false))
	out = s.Track(out.MustTranspose(1, 2, false).MustReshape([]int64{b, n, a.dim}, true))
	return s.Track(a.proj.forward(out))
}

// shiftAttnMask is ShiftWindowMSA.get_attn_mask for an hp×wp padded map:
// nW × ws² × ws² with −100 between tokens of different shift regions.
func shiftAttnMask(hp, wp, ws, shift int64) ([]float32, []int64) {
	region := func(i, size int64) int64 {
		switch {
		case i < size-ws:
			return 0
		case i < size-shift:
			return 1
		}
		return 2
	}
	nh, nw := hp/ws, wp/ws
	n := ws * ws
	ids := make([]int64, nh*nw*n) // window-partitioned region labels
	for wi := int64(0); wi < nh; wi++ {
		for wj := int64(0); wj < nw; wj++ {
			for r := int64(0); r < ws; r++ {
				for c := int64(0); c < ws; c++ {
					ids[(wi*nw+wj)*n+r*ws+c] = region(wi*ws+r, hp)*3 + region(wj*ws+c, wp)
				}
			}
		}
	}
	out := make([]float32, nh*nw*n*n)
	for w := int64(0); w < nh*nw; w++ {
		for i := int64(0); i < n; i++ {
			for j := int64(0); j < n; j++ {
				if ids[w*n+j] != ids[w*n+i] {
					out[(w*n+i)*n+j] = -100
				}
			}
		}
	}
	return out, []int64{nh * nw, n, n}
}

// swinBlock is mmcls's SwinBlock: x ← x + DropPath(ShiftWindowMSA(LN1 x));
// x ← x + DropPath(FFN(LN2 x)). Keys norm1, attn.w_msa.*, norm2, ffn.*.
type swinBlock struct {
	norm1, norm2 *layerNorm
	attn         *windowMSA
	ffn          *ffn
	ws, shift    int64
	dropPath     float64
}

func newSwinBlock(p *nn.Path, dim, heads, ws int64, shift bool, dropPath, eps float64) (*swinBlock, error) {
	b := &swinBlock{ws: ws, dropPath: dropPath}
	if shift {
		b.shift = ws / 2
	}
	var err error
	if b.norm1, err = newLayerNorm(p.Sub("norm1"), dim, eps); err != nil {
		return nil, err
	}
	if b.attn, err = newWindowMSA(p.Sub("attn").Sub("w_msa"), dim, heads, ws, true); err != nil {
		return nil, err
	}
	if b.norm2, err = newLayerNorm(p.Sub("norm2"), dim, eps); err != nil {
		return nil, err
	}
	if b.ffn, err = newFFN(p.Sub("ffn"), dim, 4*dim, 0); err != nil {
		return nil, err
	}
	return b, nil
}

// forward maps x (B×H·W×C) on the grid hw to a new tensor.
func (b *swinBlock) forward(x *ts.Tensor, hw [2]int64, train bool) (*ts.Tensor, error) {
	s := NewScope()
	defer s.Close()
	d := x.MustSize()
	bs, c := d[0], d[2]
	h, w := hw[0], hw[1]
	ws, shift := b.ws, b.shift
	switch m := min(h, w); {
	case m == ws:
		shift = 0 // pad_small_map False: no shift when the map is one window
	case m < ws:
		return nil, fmt.Errorf("Swin: feature map %d×%d is smaller than the window %d (pad_small_map is not supported)", h, w, ws)
	}
	y := s.Track(b.norm1.forward(x))
	y = s.Track(y.MustView([]int64{bs, h, w, c}, false))
	padR, padB := (ws-w%ws)%ws, (ws-h%ws)%ws
	if padR > 0 || padB > 0 {
		y = s.Track(y.MustConstantPadNd([]int64{0, 0, 0, padR, 0, padB}, false))
	}
	hp, wp := h+padB, w+padR
	var mask *ts.Tensor
	if shift > 0 {
		y = s.Track(y.MustRoll([]int64{-shift, -shift}, []int64{1, 2}, false))
		vals, dims := shiftAttnMask(hp, wp, ws, shift)
		mask = s.Track(ts.MustOfSlice(vals).MustView(dims, true))
	}
	// window partition: B×hp×wp×C → (B·nW)×ws²×C
	win := s.Track(y.MustView([]int64{bs, hp / ws, ws, wp / ws, ws, c}, false).
		MustPermute([]int64{0, 1, 3, 2, 4, 5}, true).MustContiguous(true).MustView([]int64{-1, ws * ws, c}, true))
	att := b.attn.forward(s, win, mask)
	// window reverse
	y = s.Track(att.MustView([]int64{bs, hp / ws, wp / ws, ws, ws, c}, false).
		MustPermute([]int64{0, 1, 3, 2, 4, 5}, true).MustContiguous(true).MustView([]int64{bs, hp, wp, c}, true))
	if shift > 0 {
		y = s.Track(y.MustRoll([]int64{shift, shift}, []int64{1, 2}, false))
	}
	if padR > 0 || padB > 0 {
		y = s.Track(y.MustNarrow(1, 0, h, false).MustNarrow(2, 0, w, true).MustContiguous(true))
	}
	y = s.Track(y.MustReshape([]int64{bs, h * w, c}, false))
	y = dropPath(s, y, b.dropPath, train)
	x1 := s.Track(x.MustAdd(y, false))
	f := b.ffn.forward(s, s.Track(b.norm2.forward(x1)), train)
	f = dropPath(s, f, b.dropPath, train)
	return x1.MustAdd(f, false), nil
}

// patchMerging is mmcv's PatchMerging (kernel 2): nn.Unfold(2, stride 2)
// gives each output position a 4C vector ordered channel-major, then
// LayerNorm(4C) ("norm") and a bias-free Linear(4C→2C) ("reduction").
type patchMerging struct {
	norm      *layerNorm
	reduction *linear
	in        int64
}

func newPatchMerging(p *nn.Path, in, out int64) (*patchMerging, error) {
	n, err := newLayerNorm(p.Sub("norm"), 4*in, 1e-5)
	if err != nil {
		return nil, err
	}
	r, err := newLinear(p.Sub("reduction"), 4*in, out, false, torchDefault)
	if err != nil {
		return nil, err
	}
	return &patchMerging{norm: n, reduction: r, in: in}, nil
}

// forward maps x (B×H·W×C) to B×H'·W'×out and the new grid.
func (m *patchMerging) forward(x *ts.Tensor, hw [2]int64) (*ts.Tensor, [2]int64) {
	s := NewScope()
	defer s.Close()
	b := x.MustSize()[0]
	y := s.Track(x.MustView([]int64{b, hw[0], hw[1], m.in}, false).MustPermute([]int64{0, 3, 1, 2}, true))
	ph, pw := hw[0]%2, hw[1]%2
	if ph > 0 || pw > 0 { // AdaptivePadding "corner"
		y = s.Track(y.MustConstantPadNd([]int64{0, pw, 0, ph}, false))
	}
	out := [2]int64{(hw[0] + ph) / 2, (hw[1] + pw) / 2}
	y = s.Track(y.MustIm2col([]int64{2, 2}, []int64{1, 1}, []int64{0, 0}, []int64{2, 2}, false)) // B×4C×L'
	y = s.Track(y.MustTranspose(1, 2, false))
	y = s.Track(m.norm.forward(y))
	return m.reduction.forward(y), out
}

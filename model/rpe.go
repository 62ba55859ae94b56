package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// relPosBias is the relative position bias of MMSelfSup's
// MultiheadAttentionWithRPE (utils/transformer_blocks.py, BEiT style), used
// by MIMVisionTransformer with use_window: a learnable table
// "relative_position_bias_table" ((2Wh−1)(2Ww−1)+3 × heads, zero-init) and
// the int64 buffer "relative_position_index" ((Wh·Ww+1)², part of the
// state dict) that maps each (query, key) token pair to a table row:
//
//   - patch→patch: (Δrow + Wh−1)·(2Ww−1) + (Δcol + Ww−1), Δ = query − key;
//   - cls→any: R−3, any→cls: R−2, cls→cls: R−1 (R rows in all; row 0 of
//     the index is written before column 0, so column 0 wins at [i, 0]).
type relPosBias struct {
	table, index *ts.Tensor
	window       [2]int64
	tokens       int64 // Wh·Ww + 1
}

func newRelPosBias(p *nn.Path, window [2]int64, heads int64) (*relPosBias, error) {
	if window[0] < 1 || window[1] < 1 {
		return nil, fmt.Errorf("%s: relative position bias window %v must be positive", pathName(p, ""), window)
	}
	r := &relPosBias{window: window, tokens: window[0]*window[1] + 1}
	rows := (2*window[0]-1)*(2*window[1]-1) + 3
	var err error
	if r.table, err = addParam(p, "relative_position_bias_table", []int64{rows, heads}); err != nil {
		return nil, err
	}
	if r.index, err = addBuffer(p, "relative_position_index", []int64{r.tokens, r.tokens}, gotch.Int64, 0); err != nil {
		return nil, err
	}
	idx, err := ts.NewTensorFromData(relPosIndex(window), []int64{r.tokens, r.tokens})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pathName(p, "relative_position_index"), err)
	}
	defer idx.MustDrop()
	noGradDo(func() { r.index.Copy_(idx) })
	if err := ts.TorchErr(); err != nil {
		return nil, fmt.Errorf("%s: %w", pathName(p, "relative_position_index"), err)
	}
	return r, nil
}

// relPosIndex computes relative_position_index row-major, as MMSelfSup's
// constructor does.
func relPosIndex(window [2]int64) []int64 {
	wh, ww := window[0], window[1]
	n := wh*ww + 1
	rows := (2*wh-1)*(2*ww-1) + 3
	out := make([]int64, n*n)
	for i := int64(0); i < wh*ww; i++ {
		for j := int64(0); j < wh*ww; j++ {
			dr := i/ww - j/ww + wh - 1
			dc := i%ww - j%ww + ww - 1
			out[(i+1)*n+(j+1)] = dr*(2*ww-1) + dc
		}
	}
	for j := int64(0); j < n; j++ {
		out[j] = rows - 3 // cls query → every key
	}
	for i := int64(0); i < n; i++ {
		out[i*n] = rows - 2 // every query → cls key
	}
	out[0] = rows - 1
	return out
}

// bias returns the 1×heads×N×N bias for N = Wh·Ww+1 tokens; the caller
// owns it. It panics (the block's Must* style) when N does not match the
// window, which the backbone's input check rules out.
func (r *relPosBias) bias(n int64) *ts.Tensor {
	if n != r.tokens {
		panic(fmt.Errorf("relative position bias for %d tokens, the window %v has %d", n, r.window, r.tokens))
	}
	s := NewScope()
	defer s.Close()
	flat := s.Track(r.index.MustView([]int64{-1}, false))
	b := s.Track(r.table.MustIndexSelect(0, flat, false))                                 // N²×heads
	b = s.Track(b.MustView([]int64{n, n, -1}, false).MustPermute([]int64{2, 0, 1}, true)) // heads×N×N
	return b.MustUnsqueeze(0, false)
}

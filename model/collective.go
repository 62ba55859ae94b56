package model

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/internal/torchx"
)

// Collective is the cross-process layer an algorithm uses in a multi-node
// run (actors/dist implements it; nil on one process). Every rank calls
// the same collectives in the same order.
type Collective interface {
	Rank() int
	World() int
	// AllGather returns every rank's row in rank order; rows have the
	// same length on every rank.
	AllGather(row []float32) ([][]float32, error)
	// AllReduceMean replaces buf on every rank with the element-wise mean
	// over ranks, bit-identical everywhere.
	AllReduceMean(buf []float32) error
	// Broadcast returns rank 0's data on every rank.
	Broadcast(data []byte) ([]byte, error)
}

// CollectiveUser is an algorithm with cross-process pieces (MoCo's queue
// and batch shuffle, SwAV's Sinkhorn); the trainer hands it the run's
// Collective before the first step.
type CollectiveUser interface {
	SetCollective(c Collective)
}

// multi reports whether c spans several ranks.
func multi(c Collective) bool { return c != nil && c.World() > 1 }

// ConcatAllGather is MMSelfSup's concat_all_gather: x (N×…, float32, no
// grad) from every rank concatenated along dim 0 in rank order, as a new
// tensor on x's device. With a nil Collective it returns a copy of x.
func ConcatAllGather(c Collective, x *ts.Tensor) (*ts.Tensor, error) {
	if !multi(c) {
		return torchx.Clone(x)
	}
	shape, err := x.Size()
	if err != nil {
		return nil, err
	}
	row, err := hostFloat32s(x)
	if err != nil {
		return nil, fmt.Errorf("concat_all_gather: %w", err)
	}
	rows, err := c.AllGather(row)
	if err != nil {
		return nil, fmt.Errorf("concat_all_gather: %w", err)
	}
	all := make([]float32, 0, len(row)*len(rows))
	for _, r := range rows {
		all = append(all, r...)
	}
	out := append([]int64{shape[0] * int64(len(rows))}, shape[1:]...)
	dev, err := x.Device()
	if err != nil {
		return nil, err
	}
	return torchx.FromFloat32sOn(all, dev, out...)
}

// hostFloat32s copies t (any dtype and device, any layout) into a new
// []float32 in row-major order with one memcpy: gotch's CopyData checks
// the destination element by element through reflection, which costs a
// noticeable part of a step for a batch of images.
func hostFloat32s(t *ts.Tensor) ([]float32, error) {
	c, err := t.To(gotch.CPU, false)
	if err != nil {
		return nil, err
	}
	if c, err = c.Totype(gotch.Float, true); err == nil {
		c, err = c.Contiguous(true)
	}
	if err != nil {
		return nil, err
	}
	defer c.MustDrop()
	out := make([]float32, c.Numel())
	if len(out) == 0 {
		return out, nil
	}
	lib.AtCopyData(lib.Ctensor(c.Ctensor()), unsafe.Pointer(&out[0]), uint(len(out)), 4)
	return out, ts.TorchErr()
}

// AllReduceSum replaces buf with the element-wise sum over ranks (the
// mean times World: exact for a power-of-two World).
func AllReduceSum(c Collective, buf []float32) error {
	if !multi(c) {
		return nil
	}
	if err := c.AllReduceMean(buf); err != nil {
		return err
	}
	w := float32(c.World())
	for i := range buf {
		buf[i] *= w
	}
	return nil
}

// allReduceSumTensor is AllReduceSum over a float32 tensor: a new tensor
// on t's device holding the sum of every rank's t.
func allReduceSumTensor(c Collective, t *ts.Tensor) (*ts.Tensor, error) {
	if !multi(c) {
		return torchx.Clone(t)
	}
	shape, err := t.Size()
	if err != nil {
		return nil, err
	}
	buf, err := hostFloat32s(t)
	if err != nil {
		return nil, err
	}
	if err := AllReduceSum(c, buf); err != nil {
		return nil, err
	}
	dev, err := t.Device()
	if err != nil {
		return nil, err
	}
	if len(shape) == 0 { // a 0-d total
		r, err := torchx.FromFloat32sOn(buf, dev, 1)
		if err != nil {
			return nil, err
		}
		return r.Squeeze(true)
	}
	return torchx.FromFloat32sOn(buf, dev, shape...)
}

// shuffleDDP is MMSelfSup's _batch_shuffle_ddp (utils/batch_shuffle.py):
// every rank's x gathered (concat_all_gather), a permutation of the
// global batch drawn on rank 0 and broadcast, and this rank's slice of
// the permuted batch returned with the global inverse permutation that
// unshuffleDDP needs. Runs without gradient; results go into s.
func shuffleDDP(s *Scope, c Collective, x *ts.Tensor) (local, unshuffle *ts.Tensor, err error) {
	all, err := s.TrackErr(ConcatAllGather(c, x))
	if err != nil {
		return nil, nil, fmt.Errorf("batch shuffle: %w", err)
	}
	dims, err := all.Size()
	if err != nil {
		return nil, nil, err
	}
	total := dims[0]
	var blob []byte
	if c.Rank() == 0 {
		p, err := s.TrackErr(ts.Randperm(total, gotch.Int64, gotch.CPU))
		if err != nil {
			return nil, nil, err
		}
		idx, err := torchx.Int64s(p)
		if err != nil {
			return nil, nil, err
		}
		blob = make([]byte, 8*len(idx))
		for i, v := range idx {
			binary.LittleEndian.PutUint64(blob[8*i:], uint64(v))
		}
	}
	if blob, err = c.Broadcast(blob); err != nil {
		return nil, nil, fmt.Errorf("batch shuffle: permutation from rank 0: %w", err)
	}
	if int64(len(blob)) != 8*total {
		return nil, nil, fmt.Errorf("batch shuffle: rank 0's permutation has %d entries, the global batch here %d: the ranks' batches differ", len(blob)/8, total)
	}
	perm := make([]int64, total)
	for i := range perm {
		perm[i] = int64(binary.LittleEndian.Uint64(blob[8*i:]))
	}
	dev, err := x.Device()
	if err != nil {
		return nil, nil, err
	}
	pt, err := s.TrackErr(torchx.FromInt64sOn(perm, dev, total))
	if err != nil {
		return nil, nil, err
	}
	per := total / int64(c.World())
	mine, err := s.TrackErr(pt.Narrow(0, int64(c.Rank())*per, per, false))
	if err != nil {
		return nil, nil, err
	}
	if local, err = s.TrackErr(all.IndexSelect(0, mine, false)); err != nil {
		return nil, nil, err
	}
	if unshuffle, err = s.TrackErr(pt.Argsort(0, false, false)); err != nil {
		return nil, nil, err
	}
	return local, unshuffle, nil
}

// unshuffleDDP is MMSelfSup's _batch_unshuffle_ddp: every rank's y (the
// outputs of its shuffled slice) gathered, and this rank's original
// samples' rows picked back with the inverse permutation.
func unshuffleDDP(s *Scope, c Collective, y, unshuffle *ts.Tensor) (*ts.Tensor, error) {
	all, err := s.TrackErr(ConcatAllGather(c, y))
	if err != nil {
		return nil, fmt.Errorf("batch unshuffle: %w", err)
	}
	dims, err := y.Size()
	if err != nil {
		return nil, err
	}
	mine, err := s.TrackErr(unshuffle.Narrow(0, int64(c.Rank())*dims[0], dims[0], false))
	if err != nil {
		return nil, err
	}
	return s.TrackErr(all.IndexSelect(0, mine, false))
}

// GatherLayer is MMSelfSup's GatherLayer (models/utils/gather_layer.py)
// concatenated: every rank's x along dim 0 in rank order, where this
// rank's rows are x itself (gradients flow to them) and the other ranks'
// rows are constants. Its backward thus returns this rank's slice of the
// incoming gradient and nothing else, as GatherLayer's does; with DDP's
// averaging the effective gradient is 1/World of the global loss's
// (algorithms.md §19.13). x is returned unchanged on one process; the
// result goes into s.
func GatherLayer(s *Scope, c Collective, x *ts.Tensor) (*ts.Tensor, error) {
	if !multi(c) {
		return x, nil
	}
	var all *ts.Tensor
	if err := WithoutGrad(func() error {
		var err error
		all, err = s.TrackErr(ConcatAllGather(c, x))
		return err
	}); err != nil {
		return nil, fmt.Errorf("gather layer: %w", err)
	}
	dims, err := x.Size()
	if err != nil {
		return nil, err
	}
	n, r, w := dims[0], int64(c.Rank()), int64(c.World())
	var parts []ts.Tensor
	if r > 0 {
		before, err := s.TrackErr(all.Narrow(0, 0, r*n, false))
		if err != nil {
			return nil, err
		}
		parts = append(parts, *before)
	}
	parts = append(parts, *x)
	if r < w-1 {
		after, err := s.TrackErr(all.Narrow(0, (r+1)*n, (w-r-1)*n, false))
		if err != nil {
			return nil, err
		}
		parts = append(parts, *after)
	}
	return s.TrackErr(ts.Cat(parts, 0))
}

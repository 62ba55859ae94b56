package model

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/internal/torchx"
)

// Collective is the cross-process layer an algorithm uses in a multi-node
// run (actors/dist implements it; nil on one process).
type Collective interface {
	World() int
	// AllGather returns every rank's row in rank order; rows have the
	// same length on every rank.
	AllGather(row []float32) ([][]float32, error)
}

// CollectiveUser is an algorithm with cross-process pieces (MoCo's queue);
// the trainer hands it the run's Collective before the first step.
type CollectiveUser interface {
	SetCollective(c Collective)
}

// ConcatAllGather is MMSelfSup's concat_all_gather: x (N×…, float32, no
// grad) from every rank concatenated along dim 0 in rank order, as a new
// tensor on x's device. With a nil Collective it returns a copy of x.
func ConcatAllGather(c Collective, x *ts.Tensor) (*ts.Tensor, error) {
	if c == nil || c.World() == 1 {
		return torchx.Clone(x)
	}
	shape, err := x.Size()
	if err != nil {
		return nil, err
	}
	row, err := torchx.Float32s(x)
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

package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// Sinkhorn is SwAV's Sinkhorn-Knopp (components.md §6.4) on one process:
// scores (B×K) → assignments (B×K) whose rows sum to 1, with prototypes
// equipartitioned. Runs without gradient; the caller owns the result.
func Sinkhorn(scores *ts.Tensor, iterations int, epsilon float64) (*ts.Tensor, error) {
	return DistributedSinkhorn(nil, scores, iterations, epsilon)
}

// DistributedSinkhorn is Sinkhorn over the union of every rank's scores
// (distributed_sinkhorn.py): B_g = B·World, and the total of Q and its
// per-prototype row sums are all-reduced (summed) across the ranks, so
// World ranks holding B rows each reach the assignments one process
// reaches with all World·B rows (up to float summation order). The column
// (per-sample) sums are local. With a nil or one-rank c it is Sinkhorn.
//
// Deviation, on purpose: MMSelfSup 0.9.0 all-reduces the row sums only in
// its "some row sum is exactly 0" branch (algorithms.md §19.4), which
// leaves each rank equipartitioning its own batch; flowssl all-reduces
// them every iteration, as the official SwAV code does. The zero test is
// made on the reduced sums, which are the same bits on every rank, so
// every rank calls the same collectives.
func DistributedSinkhorn(c Collective, scores *ts.Tensor, iterations int, epsilon float64) (*ts.Tensor, error) {
	dims, err := scores.Size()
	if err != nil {
		return nil, fmt.Errorf("sinkhorn: %w", err)
	}
	if len(dims) != 2 || dims[0] == 0 || dims[1] == 0 {
		return nil, fmt.Errorf("sinkhorn: scores shape %v, want B×K", dims)
	}
	if epsilon <= 0 || iterations < 0 {
		return nil, fmt.Errorf("sinkhorn: epsilon %g must be > 0 and iterations %d ≥ 0", epsilon, iterations)
	}
	world := 1
	if multi(c) {
		world = c.World()
	}
	b, k := float64(dims[0])*float64(world), float64(dims[1])
	// reduce replaces t (dropped) by its sum over the ranks.
	reduce := func(t *ts.Tensor) *ts.Tensor {
		if err != nil || !multi(c) {
			return t
		}
		var r *ts.Tensor
		r, err = allReduceSumTensor(c, t)
		t.MustDrop()
		if err != nil {
			return scalarOp(1, func(s *ts.Scalar) *ts.Tensor { return ts.MustFull([]int64{1}, s, gotch.Float, gotch.CPU) })
		}
		return r
	}
	var out *ts.Tensor
	noGradDo(func() {
		q := divScalar(scores, epsilon, false).MustExp(true).MustT(true) // K×B
		sum := reduce(q.MustSum(gotch.Float, false))
		q = q.MustDiv(sum, true)
		sum.MustDrop()
		for it := 0; it < iterations && err == nil; it++ {
			u := reduce(q.MustSumDimIntlist([]int64{1}, true, gotch.Float, false)) // K×1
			zero := scalarOp(0, func(s *ts.Scalar) *ts.Tensor { return u.MustEq(s, false) })
			if anyTrue(zero) {
				q = addScalar(q, 1e-12, true)
				u.MustDrop()
				u = reduce(q.MustSumDimIntlist([]int64{1}, true, gotch.Float, false))
			}
			q = q.MustDiv(u, true)
			u.MustDrop()
			q = divScalar(q, k, true)
			v := q.MustSumDimIntlist([]int64{0}, true, gotch.Float, false) // 1×B
			q = q.MustDiv(v, true)
			v.MustDrop()
			q = divScalar(q, b, true)
		}
		out = mulScalar(q, b, true).MustT(true)
	})
	if err != nil {
		out.MustDrop()
		return nil, fmt.Errorf("sinkhorn: %w", err)
	}
	return out, nil
}

// anyTrue reports torch.any(t) and drops t.
func anyTrue(t *ts.Tensor) bool {
	a := t.MustAny(true)
	defer a.MustDrop()
	return a.Float64Values()[0] != 0
}

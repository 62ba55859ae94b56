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
	b, k := float64(dims[0]), float64(dims[1])
	var out *ts.Tensor
	noGradDo(func() {
		q := divScalar(scores, epsilon, false).MustExp(true).MustT(true) // K×B
		sum := q.MustSum(gotch.Float, false)
		q = q.MustDiv(sum, true)
		sum.MustDrop()
		for it := 0; it < iterations; it++ {
			u := q.MustSumDimIntlist([]int64{1}, true, gotch.Float, false) // K×1
			zero := scalarOp(0, func(s *ts.Scalar) *ts.Tensor { return u.MustEq(s, false) })
			if anyTrue(zero) {
				q = addScalar(q, 1e-12, true)
				u.MustDrop()
				u = q.MustSumDimIntlist([]int64{1}, true, gotch.Float, false)
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
	return out, nil
}

// anyTrue reports torch.any(t) and drops t.
func anyTrue(t *ts.Tensor) bool {
	a := t.MustAny(true)
	defer a.MustDrop()
	return a.Float64Values()[0] != 0
}

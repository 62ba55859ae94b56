package cluster

import (
	"fmt"

	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/sugarme/gotch/ts"
)

// Sinkhorn is SwAV's distributed_sinkhorn (utils/distributed_sinkhorn.py,
// components.md §6.4) on one process (world size 1): scores B×K →
// Q = exp(scores/ε)ᵀ normalised to total 1, then iterations × {rows
// (prototypes) to 1/K — adding 1e-12 first if some row sums to exactly 0 —
// and columns (samples) to 1/B}; returns B·Qᵀ, whose rows sum to 1. It
// runs without gradient in scores' dtype; the caller owns the result.
func Sinkhorn(scores *ts.Tensor, iterations int, epsilon float64) (*ts.Tensor, error) {
	if epsilon <= 0 || iterations < 0 {
		return nil, fmt.Errorf("cluster: sinkhorn epsilon %g must be > 0 and iterations %d ≥ 0", epsilon, iterations)
	}
	var out *ts.Tensor
	err := torchx.WithoutGrad(func() error {
		return torchx.Run(func(s *torchx.Scope) error {
			dims := s.Shape(scores)
			if len(dims) != 2 || dims[0] == 0 || dims[1] == 0 {
				return fmt.Errorf("scores of shape %v, want B×K", dims)
			}
			b, k := float64(dims[0]), float64(dims[1])
			dt := scores.DType()
			q := s.T(s.T(s.T(scores.DivScalar(s.Float(epsilon), false)).Exp(false)).T(false)) // K×B
			q = s.T(q.Div(s.T(q.Sum(dt, false)), false))
			for it := 0; it < iterations; it++ {
				u := s.T(q.SumDimIntlist([]int64{1}, true, dt, false)) // K×1
				if s.Scalar(s.T(s.T(u.Eq(s.Float(0), false)).Any(false))) != 0 {
					q = s.T(q.AddScalar(s.Float(1e-12), false))
					u = s.T(q.SumDimIntlist([]int64{1}, true, dt, false))
				}
				q = s.T(s.T(q.Div(u, false)).DivScalar(s.Float(k), false))
				v := s.T(q.SumDimIntlist([]int64{0}, true, dt, false)) // 1×B
				q = s.T(s.T(q.Div(v, false)).DivScalar(s.Float(b), false))
			}
			out = s.Keep(s.T(s.T(s.T(q.MulScalar(s.Float(b), false)).T(false)).Contiguous(false)))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: sinkhorn: %w", err)
	}
	return out, nil
}

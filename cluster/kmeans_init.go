package cluster

import (
	"math/rand/v2"

	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// kmeansPP picks k rows of x by k-means++: the first uniformly, each next
// one with probability ∝ its squared distance to the nearest row picked so
// far (uniformly among unpicked rows once all distances are 0).
func kmeansPP(x *ts.Tensor, k int, rng *rand.Rand) (*ts.Tensor, error) {
	var out *ts.Tensor
	err := torchx.Run(func(s *torchx.Scope) error {
		n, _, err := matrixShape(x)
		if err != nil {
			return err
		}
		picked := []int{rng.IntN(int(n))}
		var d2 []float64
		for len(picked) < k {
			last := picked[len(picked)-1]
			nd := distTo(s, x, int64(last))
			if d2 == nil {
				d2 = nd
			} else {
				for i, v := range nd {
					d2[i] = min(d2[i], v)
				}
			}
			var tot float64
			for _, v := range d2 {
				tot += v
			}
			next := -1
			if tot > 0 {
				r := rng.Float64() * tot
				for i, v := range d2 {
					if r -= v; r < 0 && v > 0 {
						next = i
						break
					}
				}
			}
			if next < 0 { // all remaining mass is zero (duplicates) or rounding
				seen := map[int]bool{}
				for _, p := range picked {
					seen[p] = true
				}
				for next = rng.IntN(int(n)); seen[next]; next = (next + 1) % int(n) {
				}
			}
			picked = append(picked, next)
		}
		out = s.Keep(s.T(rowsOf(s, x, picked)))
		return nil
	})
	return out, err
}

// distTo returns the squared L2 distance of every row of x to row i.
func distTo(s *torchx.Scope, x *ts.Tensor, i int64) []float64 {
	row := s.T(x.Narrow(0, i, 1, false))
	diff := s.T(x.Sub(row, false))
	d := s.T(s.T(diff.Square(false)).SumDimIntlist([]int64{1}, false, gotch.Double, false))
	v := s.Float64s(d)
	s.Drop(d)
	s.Drop(diff)
	s.Drop(row)
	return v
}

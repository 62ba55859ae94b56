package cluster

import (
	"fmt"

	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// KNN returns, for every row of x (N×D), its k nearest rows in squared L2
// distance, nearest first (normally itself), as faiss's flat L2 search of x
// against itself: idx and dist are N×k row-major.
func KNN(x *ts.Tensor, k int) (idx []int64, dist []float32, err error) {
	err = torchx.Run(func(s *torchx.Scope) error {
		n, _, err := matrixShape(x)
		if err != nil {
			return err
		}
		if k < 1 || int64(k) > n {
			return fmt.Errorf("%d neighbours of %d points", k, n)
		}
		xt := s.T(x.T(false))
		xn := s.T(s.T(x.Square(false)).SumDimIntlist([]int64{1}, false, gotch.Float, false)) // N
		rows := max(1, chunkElems/n)
		for start := int64(0); start < n; start += rows {
			m := min(rows, n-start)
			err := torchx.Run(func(c *torchx.Scope) error {
				xc := c.T(x.Narrow(0, start, m, false))
				xcn := c.T(c.T(xn.Narrow(0, start, m, false)).Unsqueeze(1, false))
				dm := c.T(c.T(c.T(c.T(xc.Mm(xt, false)).MulScalar(c.Float(-2), false)).Add(xcn, false)).Add(xn, false))
				v, i := c.T2(dm.Topk(int64(k), 1, false, true, false))
				v = c.T(v.ClampMin(c.Float(0), false))
				idx = append(idx, c.Int64s(i)...)
				dist = append(dist, c.Float32s(v)...)
				return nil
			})
			s.Check(err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: knn: %w", err)
	}
	return idx, dist, nil
}

package cluster

import (
	"fmt"

	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// chunkElems bounds the distance block computed at once (rows × centroids),
// so 1.28 M × 10 000 assignments fit in GPU memory (128 MiB blocks).
const chunkElems = 1 << 25

// Nearest returns, for each row of x (N×D), the index of the nearest row
// of centroids (K×D) in squared L2 distance and that distance (clamped at
// 0), as faiss's flat L2 index search with k = 1. Both results (N int64,
// N float32) belong to the caller.
func Nearest(x, centroids *ts.Tensor) (labels, dist *ts.Tensor, err error) {
	err = torchx.Run(func(s *torchx.Scope) error {
		n, d, err := matrixShape(x)
		if err != nil {
			return err
		}
		k, dc, err := matrixShape(centroids)
		if err != nil {
			return fmt.Errorf("centroids: %w", err)
		}
		if d != dc {
			return fmt.Errorf("features have %d dims, centroids %d", d, dc)
		}
		ct := s.T(centroids.T(false))                                                                // D×K
		cn := s.T(s.T(centroids.Square(false)).SumDimIntlist([]int64{1}, false, gotch.Float, false)) // K
		rows := max(1, chunkElems/k)
		var ls, ds []ts.Tensor
		for start := int64(0); start < n; start += rows {
			m := min(rows, n-start)
			var l, dd *ts.Tensor
			err := torchx.Run(func(c *torchx.Scope) error {
				xc := c.T(x.Narrow(0, start, m, false))
				xn := c.T(c.T(xc.Square(false)).SumDimIntlist([]int64{1}, true, gotch.Float, false)) // m×1
				dot := c.T(xc.Mm(ct, false))
				dm := c.T(c.T(c.T(dot.MulScalar(c.Float(-2), false)).Add(xn, false)).Add(cn, false))
				v, i := c.T2(dm.MinDim(1, false, false))
				dd = c.Keep(c.T(v.ClampMin(c.Float(0), false)))
				l = c.Keep(i)
				return nil
			})
			s.Check(err)
			s.Track(l)
			s.Track(dd)
			ls, ds = append(ls, *l), append(ds, *dd)
		}
		labels = s.Keep(s.T(ts.Cat(ls, 0)))
		dist = s.Keep(s.T(ts.Cat(ds, 0)))
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: nearest centroid: %w", err)
	}
	return labels, dist, nil
}

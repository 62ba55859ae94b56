package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// Init picks k-means' initial centroids.
type Init int

const (
	// InitRandom uses k distinct random samples, as faiss does.
	InitRandom Init = iota
	// InitKMeansPP is k-means++ (D² sampling, one candidate per step). It
	// downloads N distances per centroid, so it is meant for small k (ODC's
	// 2-way split of the largest cluster).
	InitKMeansPP
)

// Kmeans is MMSelfSup's Kmeans(k, pca_dim) (utils/clustering.py,
// components.md §6.2): Preprocess (PCA-whitening to PCADim unless −1, L2
// normalisation), then faiss-style Lloyd k-means on libtorch tensors on the
// features' device.
type Kmeans struct {
	K      int `yaml:"k"`
	PCADim int `yaml:"pca_dim"`
	// NIter Lloyd iterations per restart (DeepCluster: 20).
	NIter int
	// NRedo restarts; the one with the lowest final objective is kept
	// (faiss nredo, default 1).
	NRedo int
	// MinPointsPerCentroid only produces a warning when N < K·it (faiss 39).
	MinPointsPerCentroid int
	// MaxPointsPerCentroid: when N > K·it, train on a random subset of
	// K·it rows (DeepCluster sets 10 000 000, i.e. never).
	MaxPointsPerCentroid int
	Init                 Init
}

// NewKmeans returns DeepCluster's settings: niter 20, nredo 1, min 39 and
// max 10 000 000 points per centroid, random initialisation.
func NewKmeans(k, pcaDim int) *Kmeans {
	return &Kmeans{K: k, PCADim: pcaDim, NIter: 20, NRedo: 1,
		MinPointsPerCentroid: 39, MaxPointsPerCentroid: 10_000_000}
}

// Validate checks the settings.
func (c *Kmeans) Validate() error {
	switch {
	case c.K < 1:
		return fmt.Errorf("cluster: Kmeans k = %d, need ≥ 1", c.K)
	case c.PCADim != -1 && c.PCADim < 1:
		return fmt.Errorf("cluster: Kmeans pca_dim = %d, need −1 or ≥ 1", c.PCADim)
	case c.NIter < 1 || c.NRedo < 1:
		return fmt.Errorf("cluster: Kmeans niter %d and nredo %d must be ≥ 1", c.NIter, c.NRedo)
	case c.MaxPointsPerCentroid < 1 || c.MinPointsPerCentroid < 0:
		return fmt.Errorf("cluster: Kmeans points per centroid min %d / max %d", c.MinPointsPerCentroid, c.MaxPointsPerCentroid)
	case c.Init != InitRandom && c.Init != InitKMeansPP:
		return fmt.Errorf("cluster: Kmeans init %d unknown", c.Init)
	}
	return nil
}

// Cluster preprocesses feat (N×D float32, dataset order) and runs Fit.
func (c *Kmeans) Cluster(feat *ts.Tensor, rng *rand.Rand) (*Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	x, err := Preprocess(feat, c.PCADim, rng)
	if err != nil {
		return nil, err
	}
	defer x.Drop()
	return c.Fit(x, rng)
}

// Fit clusters the rows of x as faiss's Clustering.train followed by a
// nearest-centroid search of every row: per restart, initial centroids, then
// NIter times {assign every row to its nearest centroid (squared L2);
// objective = Σ distances; centroids = member means; empty clusters re-seeded
// by splitting a large one (splitEmpty)}. Labels use the final centroids.
func (c *Kmeans) Fit(x *ts.Tensor, rng *rand.Rand) (*Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	res := &Result{K: c.K}
	err := torchx.Run(func(s *torchx.Scope) error {
		n, d, err := matrixShape(x)
		if err != nil {
			return err
		}
		k := int64(c.K)
		nTrain := n
		if n < k {
			return fmt.Errorf("%d points for %d clusters: need at least as many points as clusters", n, k)
		}
		if s.Scalar(s.T(s.T(x.Isfinite(false)).All(false))) == 0 {
			return fmt.Errorf("features contain NaN or Inf")
		}
		train := x
		if maxN := k * int64(c.MaxPointsPerCentroid); n > maxN {
			train = s.T(rowsOf(s, x, rng.Perm(int(n))[:maxN]))
			nTrain = maxN
		} else if n < k*int64(c.MinPointsPerCentroid) {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"clustering %d points to %d centroids: please provide at least %d training points", n, k, k*int64(c.MinPointsPerCentroid)))
		}
		var best *ts.Tensor
		bestObj := math.Inf(1)
		for redo := 0; redo < c.NRedo; redo++ {
			cent, obj, nsplit, err := c.lloyd(train, nTrain, d, rng)
			s.Check(err)
			s.Track(cent)
			if redo == 0 || obj[len(obj)-1] < bestObj {
				if best != nil {
					s.Drop(best)
				}
				best, bestObj = cent, obj[len(obj)-1]
				res.Obj, res.NSplit = obj, nsplit
			} else {
				s.Drop(cent)
			}
		}
		labels, _, err := Nearest(x, best)
		s.Check(err)
		s.Track(labels)
		res.Labels = s.Int64s(labels)
		res.Centroids = s.Keep(best)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: k-means: %w", err)
	}
	return res, nil
}

// lloyd runs one restart and returns its final centroids (caller owns),
// the objective and split count of each iteration.
func (c *Kmeans) lloyd(x *ts.Tensor, n, d int64, rng *rand.Rand) (*ts.Tensor, []float64, []int, error) {
	if n == int64(c.K) { // faiss: just copy the points, one fake iteration
		cent, err := torchx.Clone(x)
		return cent, []float64{0}, []int{0}, err
	}
	cent, err := c.initCentroids(x, int(n), rng)
	if err != nil {
		return nil, nil, nil, err
	}
	var objs []float64
	var splits []int
	for it := 0; it < c.NIter; it++ {
		var next *ts.Tensor
		err := torchx.Run(func(s *torchx.Scope) error {
			labels, dist, err := Nearest(x, cent)
			s.Check(err)
			s.Track(labels)
			s.Track(dist)
			objs = append(objs, s.Scalar(s.T(dist.Sum(gotch.Double, false))))
			sums := s.T(s.T(cent.ZerosLike(false)).IndexAdd(0, labels, x, false))
			none := torchx.Undefined()
			cnt, err := labels.Bincount(none, int64(c.K), false)
			_ = none.Drop()
			s.T(cnt, err)
			counts := s.Int64s(cnt)
			den := s.T(s.T(s.T(cnt.Totype(gotch.Float, false)).ClampMin(s.Float(1), false)).Unsqueeze(1, false))
			mean := s.T(sums.Div(den, false)) // empty clusters stay at 0 until split
			nsplit := 0
			for _, v := range counts {
				if v == 0 {
					nsplit++
				}
			}
			if nsplit > 0 {
				host := s.Float32s(mean)
				splitEmpty(host, counts, int(d), n, rng)
				dev, err := x.Device()
				s.Check(err)
				mean = s.T(torchx.FromFloat32sOn(host, dev, int64(c.K), d))
			}
			splits = append(splits, nsplit)
			next = s.Keep(mean)
			return nil
		})
		_ = cent.Drop()
		if err != nil {
			return nil, nil, nil, err
		}
		cent = next
	}
	return cent, objs, splits, nil
}

func (c *Kmeans) initCentroids(x *ts.Tensor, n int, rng *rand.Rand) (*ts.Tensor, error) {
	if c.Init == InitKMeansPP {
		return kmeansPP(x, c.K, rng)
	}
	var out *ts.Tensor
	err := torchx.Run(func(s *torchx.Scope) error {
		out = s.Keep(s.T(rowsOf(s, x, rng.Perm(n)[:c.K])))
		return nil
	})
	return out, err
}

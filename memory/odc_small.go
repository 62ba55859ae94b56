package memory

import (
	"fmt"
	"math/rand/v2"

	"github.com/bits-and-blooms/bitset"
	"github.com/flowssl/flowssl/cluster"
	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/sugarme/gotch/ts"
)

// SmallReport says what DealWithSmallClusters did.
type SmallReport struct {
	// Small is the set of classes that had fewer than min_cluster members
	// (empty ones included); each is now re-seeded from a split.
	Small *bitset.BitSet
	// Moved is the number of samples reassigned away from small classes.
	Moved int
	// RandomSplits counts the splits where 2-means left a side empty and a
	// random half was used instead.
	RandomSplits int
}

// DealWithSmallClusters is deal_with_small_clusters (ODCHook, every
// iteration): classes with fewer than min_cluster members are emptied by
// moving each member to argmax over the non-small classes c of
// ⟨centroid_c, feature⟩; then each emptied class e, in ascending order,
// takes over half of the currently largest class (first maximum): that
// class's bank features are split by 2-means (k-means++ initialisation, 10
// restarts, 20 iterations: sklearn's KMeans(n_clusters=2, random_state=0,
// max_iter=20) in spirit; draws from rng) or, if a side comes out empty, by
// a random half (⌊n/2⌋ stay, drawn without replacement from rng); the
// second part gets label e and both centroids are recomputed.
func (m *ODCMemory) DealWithSmallClusters(rng *rand.Rand) (*SmallReport, error) {
	rep := &SmallReport{}
	err := torchx.WithoutGrad(func() error {
		return torchx.Run(func(s *torchx.Scope) error {
			if !m.initialized {
				return fmt.Errorf("memory not initialised")
			}
			h := histogram(s, m.labels, m.cfg.NumClasses)
			rep.Small = cluster.SmallClusters(h, int64(m.cfg.MinCluster))
			if !rep.Small.Any() {
				return nil
			}
			if rep.Small.Count() == uint(m.cfg.NumClasses) {
				return fmt.Errorf("all %d classes have fewer than %d members", m.cfg.NumClasses, m.cfg.MinCluster)
			}
			moved, err := m.reassignSmall(s, rep.Small)
			if err != nil {
				return err
			}
			rep.Moved = moved
			for e, ok := rep.Small.NextSet(0); ok; e, ok = rep.Small.NextSet(e + 1) {
				random, err := m.redirect(s, int(e), rng)
				if err != nil {
					return fmt.Errorf("re-seed class %d: %w", e, err)
				}
				if random {
					rep.RandomSplits++
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("memory: ODC deal_with_small_clusters: %w", err)
	}
	return rep, nil
}

// reassignSmall moves every member of a small class to its most similar
// non-small centroid. Since targets are never small, doing all small
// classes at once equals MMSelfSup's class-by-class loop.
func (m *ODCMemory) reassignSmall(s *torchx.Scope, small *bitset.BitSet) (int, error) {
	var keep, smallIDs []int64
	for c := 0; c < m.cfg.NumClasses; c++ {
		if small.Test(uint(c)) {
			smallIDs = append(smallIDs, int64(c))
		} else {
			keep = append(keep, int64(c))
		}
	}
	st := s.T(torchx.FromInt64sOn(smallIDs, m.device, int64(len(smallIDs))))
	isSmall := s.T(ts.Isin(m.labels, st, false, false))
	ind := s.T(s.T(isSmall.Nonzero(false)).SqueezeDim(1, false))
	n := s.Shape(ind)[0]
	if n == 0 {
		return 0, nil
	}
	kt := s.T(torchx.FromInt64sOn(keep, m.device, int64(len(keep))))
	cent := s.T(m.centroids.IndexSelect(0, kt, false))
	feat := s.T(m.features.IndexSelect(0, ind, false))
	best := s.T(s.T(cent.Mm(s.T(feat.T(false)), false)).Argmax([]int64{0}, false, false))
	target := s.T(kt.IndexSelect(0, best, false))
	return int(n), m.labels.IndexCopy_(0, ind, target)
}

// redirect re-seeds empty class e from the largest class; it reports
// whether the random fallback was used.
func (m *ODCMemory) redirect(s *torchx.Scope, e int, rng *rand.Rand) (bool, error) {
	h := histogram(s, m.labels, m.cfg.NumClasses)
	if h[e] != 0 {
		return false, fmt.Errorf("class %d is not empty (%d members)", e, h[e])
	}
	big := 0
	for c, n := range h {
		if n > h[big] {
			big = c
		}
	}
	if h[big] < 2 {
		return false, fmt.Errorf("largest class %d has %d members, cannot split", big, h[big])
	}
	ind := s.T(s.T(s.T(m.labels.Eq(s.Int(int64(big)), false)).Nonzero(false)).SqueezeDim(1, false))
	members := s.Int64s(ind)
	feat := s.T(m.features.IndexSelect(0, ind, false))
	if s.Scalar(s.T(s.T(feat.Isnan(false)).Any(false))) != 0 {
		return false, fmt.Errorf("NaN in the features of class %d", big)
	}
	side, random, err := twoWay(feat, len(members), rng)
	if err != nil {
		return false, err
	}
	var second []int64
	for i, g := range side {
		if g == 1 {
			second = append(second, members[i])
		}
	}
	idx := s.T(torchx.FromInt64sOn(second, m.device, int64(len(second))))
	s.Check(m.labels.IndexFill_(0, idx, s.Int(int64(e))))
	return random, m.updateSome(s, []int{big, e})
}

// twoWay labels n rows 0/1 by 2-means, falling back to a random half.
func twoWay(feat *ts.Tensor, n int, rng *rand.Rand) ([]int64, bool, error) {
	km := &cluster.Kmeans{K: 2, PCADim: -1, NIter: 20, NRedo: 10, MaxPointsPerCentroid: 1 << 30, Init: cluster.InitKMeansPP}
	res, err := km.Fit(feat, rng)
	if err != nil {
		return nil, false, err
	}
	res.Close()
	if sz := res.Sizes(); sz[0] > 0 && sz[1] > 0 {
		return res.Labels, false, nil
	}
	side := make([]int64, n)
	for i := range side {
		side[i] = 1
	}
	for _, i := range rng.Perm(n)[:n/2] { // np.random.choice(n, n//2, replace=False) stays in part 1
		side[i] = 0
	}
	return side, true, nil
}

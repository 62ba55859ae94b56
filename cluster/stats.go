package cluster

import "github.com/bits-and-blooms/bitset"

// Histogram counts the members of each of k clusters (np.bincount with
// minlength k). A label outside [0, k) is an error.
func Histogram(labels []int64, k int) ([]int64, error) {
	if err := checkLabels(labels, k); err != nil {
		return nil, err
	}
	h := make([]int64, k)
	for _, l := range labels {
		h[l]++
	}
	return h, nil
}

// Stats is what DeepClusterHook and ODCHook log about cluster sizes.
type Stats struct {
	Empty int   // clusters with no member
	Min   int64 // smallest size (0 when some cluster is empty)
	Max   int64 // largest size
	// Imbalance is faiss's imbalance factor k·Σ size² / (Σ size)²; 1 for
	// perfectly balanced clusters.
	Imbalance float64
}

// SizeStats computes Stats from cluster sizes.
func SizeStats(sizes []int64) Stats {
	var s Stats
	if len(sizes) == 0 {
		return s
	}
	s.Min, s.Max = sizes[0], sizes[0]
	var tot, sq float64
	for _, n := range sizes {
		if n == 0 {
			s.Empty++
		}
		s.Min, s.Max = min(s.Min, n), max(s.Max, n)
		tot += float64(n)
		sq += float64(n) * float64(n)
	}
	if tot > 0 {
		s.Imbalance = sq * float64(len(sizes)) / (tot * tot)
	}
	return s
}

// SmallClusters returns the set of clusters with fewer than min members
// (ODC's small clusters; min = 1 gives the empty ones).
func SmallClusters(sizes []int64, min int64) *bitset.BitSet {
	b := bitset.New(uint(len(sizes)))
	for c, n := range sizes {
		if n < min {
			b.Set(uint(c))
		}
	}
	return b
}

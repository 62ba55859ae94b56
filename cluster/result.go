package cluster

import (
	"fmt"
	"math/rand/v2"

	"github.com/bits-and-blooms/bitset"
	"github.com/sugarme/gotch/ts"
)

// Clusterer is what DeepClusterHook calls: cluster N×D features (dataset
// order) into labels. Kmeans and PIC implement it.
type Clusterer interface {
	Cluster(feat *ts.Tensor, rng *rand.Rand) (*Result, error)
}

// Result is a clustering of N samples into K clusters.
type Result struct {
	// Labels[i] ∈ [0, K) is sample i's cluster.
	Labels []int64
	// K is the number of clusters (k-means: the k asked for, some possibly
	// empty; PIC: the number found).
	K int
	// Obj is the k-means objective (sum of squared L2 distances to the
	// assigned centroid) of each iteration of the kept restart; the last
	// entry is what MMSelfSup's Kmeans.cluster returns. Nil for PIC.
	Obj []float64
	// NSplit counts, per iteration, the empty clusters re-seeded by
	// splitting (faiss's nsplit).
	NSplit []int
	// Centroids (K×D, on the input's device) for k-means, nil for PIC. The
	// Result owns it: call Close.
	Centroids *ts.Tensor
	// Warnings are faiss's non-fatal complaints (too few points per
	// centroid), for the caller to log.
	Warnings []string
}

// Close drops the centroids. It must run on the thread that made them.
func (r *Result) Close() {
	if r != nil && r.Centroids != nil {
		_ = r.Centroids.Drop()
		r.Centroids = nil
	}
}

// Sizes is the number of members of each cluster.
func (r *Result) Sizes() []int64 {
	h, _ := Histogram(r.Labels, r.K) // labels are in range by construction
	return h
}

// Lists returns each cluster's member indices in ascending order
// (DeepCluster's images_lists).
func (r *Result) Lists() [][]int64 {
	return lists(r.Labels, r.K)
}

// Member returns cluster c's members as a bitset over sample indices.
func (r *Result) Member(c int) *bitset.BitSet {
	b := bitset.New(uint(len(r.Labels)))
	for i, l := range r.Labels {
		if int(l) == c {
			b.Set(uint(i))
		}
	}
	return b
}

// Empty returns the set of clusters with no member.
func (r *Result) Empty() *bitset.BitSet { return SmallClusters(r.Sizes(), 1) }

// Stats summarises the cluster sizes.
func (r *Result) Stats() Stats { return SizeStats(r.Sizes()) }

func lists(labels []int64, k int) [][]int64 {
	out := make([][]int64, k)
	for i, l := range labels {
		out[l] = append(out[l], int64(i))
	}
	return out
}

func checkLabels(labels []int64, k int) error {
	if k < 1 {
		return fmt.Errorf("cluster: %d clusters, need ≥ 1", k)
	}
	for i, l := range labels {
		if l < 0 || l >= int64(k) {
			return fmt.Errorf("cluster: label %d of sample %d outside [0, %d)", l, i, k)
		}
	}
	return nil
}

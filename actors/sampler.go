package actors

import (
	"fmt"
	"math/rand/v2"
)

// Sampler orders a dataset's indices for each epoch, with torch's
// DistributedSampler semantics: the order is padded (by repeating its
// head) to a multiple of World and rank Rank takes every World-th index,
// so each rank gets the same count and ranks together cover the data.
type Sampler struct {
	N         int
	BatchSize int
	Shuffle   bool
	DropLast  bool // drop the last incomplete batch
	Seed      uint64
	Rank      int
	World     int
	// Plan, when set, is consulted by the Loader each time it starts an
	// epoch (DeepCluster's uniform sampling over clusters). The channel
	// delivers that epoch's full index list (dataset indices, any length ≥
	// N is cut to N; it is then padded and split across ranks as Order
	// does) or nil for the sampler's own order; the Loader hands out no
	// sample of the epoch before it arrives, which is how `sync`
	// clustering holds the next epoch back until its labels exist.
	Plan func(epoch int) <-chan EpochPlan
}

// EpochPlan is one epoch's index list from Sampler.Plan (nil Indices: the
// sampler's own order) or the error that prevents it.
type EpochPlan struct {
	Indices []int
	Err     error
}

// Validate checks the sampler's settings.
func (s Sampler) Validate() error {
	switch {
	case s.N <= 0:
		return fmt.Errorf("sampler: dataset is empty")
	case s.BatchSize <= 0:
		return fmt.Errorf("sampler: batch size %d must be positive", s.BatchSize)
	case s.World < 1 || s.Rank < 0 || s.Rank >= s.World:
		return fmt.Errorf("sampler: rank %d of world %d", s.Rank, s.World)
	}
	if s.DropLast && s.perRank() < s.BatchSize {
		return fmt.Errorf("sampler: %d samples per rank is less than one batch of %d with drop_last", s.perRank(), s.BatchSize)
	}
	return nil
}

func (s Sampler) perRank() int { return (s.N + s.World - 1) / s.World }

// Len is the number of samples this rank steps through per epoch (after
// drop_last).
func (s Sampler) Len() int {
	n := s.perRank()
	if s.DropLast {
		n -= n % s.BatchSize
	}
	return n
}

// ItersPerEpoch is the number of batches per epoch.
func (s Sampler) ItersPerEpoch() int { return (s.Len() + s.BatchSize - 1) / s.BatchSize }

// Order returns this rank's indices for epoch e. It depends only on
// (Seed, e, N, Rank, World): every process and every run agrees.
func (s Sampler) Order(e int) []int {
	idx := make([]int, s.N)
	for i := range idx {
		idx[i] = i
	}
	if s.Shuffle {
		r := rand.New(rand.NewPCG(s.Seed, uint64(e)+0x9e3779b97f4a7c15))
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	}
	return s.split(idx)
}

// OrderFrom is Order for a given index list (an EpochPlan's): cut to N,
// padded by repeating its head and split across ranks.
func (s Sampler) OrderFrom(plan []int) ([]int, error) {
	if len(plan) < s.N {
		return nil, fmt.Errorf("sampler: epoch plan has %d indices for %d samples", len(plan), s.N)
	}
	idx := make([]int, s.N)
	for i, v := range plan[:s.N] {
		if v < 0 || v >= s.N {
			return nil, fmt.Errorf("sampler: epoch plan index %d outside [0, %d)", v, s.N)
		}
		idx[i] = v
	}
	return s.split(idx), nil
}

// split pads idx (N entries) to a multiple of World and returns this
// rank's share after drop_last.
func (s Sampler) split(idx []int) []int {
	total := s.perRank() * s.World
	for i := 0; len(idx) < total; i++ {
		idx = append(idx, idx[i])
	}
	out := make([]int, 0, s.perRank())
	for i := s.Rank; i < total; i += s.World {
		out = append(out, idx[i])
	}
	return out[:s.Len()]
}

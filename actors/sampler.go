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

package actors

import (
	"slices"
	"testing"
)

func TestSamplerDistributed(t *testing.T) {
	tests := []struct {
		name            string
		s               Sampler
		wantLen, wantIt int
	}{
		{"single", Sampler{N: 10, BatchSize: 4, World: 1}, 10, 3},
		{"drop_last", Sampler{N: 10, BatchSize: 4, DropLast: true, World: 1}, 8, 2},
		{"padded ranks", Sampler{N: 10, BatchSize: 2, World: 3, Rank: 2}, 4, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.s.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := len(tc.s.Order(0)); got != tc.wantLen || tc.s.Len() != tc.wantLen {
				t.Fatalf("len %d / %d, want %d", got, tc.s.Len(), tc.wantLen)
			}
			if got := tc.s.ItersPerEpoch(); got != tc.wantIt {
				t.Fatalf("iters %d, want %d", got, tc.wantIt)
			}
		})
	}
	// Ranks together cover every index; the padding repeats the head.
	var all []int
	for r := 0; r < 3; r++ {
		s := Sampler{N: 10, BatchSize: 2, World: 3, Rank: r, Shuffle: true, Seed: 7}
		all = append(all, s.Order(4)...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	if len(all) != 10 {
		t.Fatalf("ranks cover %d distinct indices, want 10", len(all))
	}
}

func TestSamplerShuffleDeterministic(t *testing.T) {
	s := Sampler{N: 100, BatchSize: 10, World: 1, Shuffle: true, Seed: 3}
	a, b := s.Order(1), s.Order(1)
	if !slices.Equal(a, b) {
		t.Fatal("same (seed, epoch) gave different orders")
	}
	if slices.Equal(a, s.Order(2)) {
		t.Fatal("epochs 1 and 2 have the same order")
	}
	if slices.IsSorted(a) {
		t.Fatal("shuffle left the order sorted")
	}
	sorted := slices.Clone(a)
	slices.Sort(sorted)
	for i, v := range sorted {
		if v != i {
			t.Fatalf("order is not a permutation: %v", sorted)
		}
	}
}

func TestSamplerValidate(t *testing.T) {
	for _, s := range []Sampler{
		{N: 0, BatchSize: 1, World: 1},
		{N: 5, BatchSize: 0, World: 1},
		{N: 5, BatchSize: 1, World: 2, Rank: 2},
		{N: 5, BatchSize: 8, World: 1, DropLast: true},
	} {
		if s.Validate() == nil {
			t.Errorf("%+v: want an error", s)
		}
	}
}

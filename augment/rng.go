package augment

import (
	"math"
	"math/rand/v2"
)

// NewRNG returns the generator for one view of one sample. The state is a
// function of (seed, epoch, index, view) only, so a sample's views are the
// same whichever worker makes them and in whatever order; each number goes
// through a SplitMix64 finaliser before the next is mixed in, so nearby
// tuples (index 7 vs 8, view 0 vs 1) give unrelated streams.
func NewRNG(seed, epoch, index, view uint64) *rand.Rand {
	h := splitMix(seed ^ 0x6a09e667f3bcc908)
	h = splitMix(h ^ epoch)
	h = splitMix(h ^ index)
	h = splitMix(h ^ view)
	return rand.New(rand.NewPCG(h, splitMix(h^0xbb67ae8584caa73b)))
}

// splitMix is the SplitMix64 output function (Steele, Lea, Flood 2014).
func splitMix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// uniform draws from [lo, hi), like torch.empty(1).uniform_(lo, hi).
func uniform(rng *rand.Rand, lo, hi float64) float64 {
	return lo + (hi-lo)*rng.Float64()
}

// randInt draws an integer in [lo, hi] inclusive, like
// torch.randint(lo, hi+1) and Python's random.randint(lo, hi).
func randInt(rng *rand.Rand, lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + rng.IntN(hi-lo+1)
}

// roundEven is Python's round() on floats (half to even), which torchvision
// uses for crop sizes.
func roundEven(x float64) int { return int(math.RoundToEven(x)) }

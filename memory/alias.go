package memory

import (
	"fmt"
	"math/rand/v2"
)

// Alias is MMSelfSup's AliasMethod (utils/alias_multinomial.py,
// components.md §6.5): Walker/Vose tables for drawing from a discrete
// distribution in O(1) per draw. It holds no tensors, so a goroutine other
// than the memory's owner may draw (e.g. to prefetch negatives).
type Alias struct {
	prob  []float32
	alias []int64
}

// NewAlias builds the tables from non-negative weights, normalised when
// they sum to more than 1 (as MMSelfSup; weights summing to < 1 are used
// as given, which only the leftover rule then corrects).
func NewAlias(probs []float64) (*Alias, error) {
	k := len(probs)
	if k == 0 {
		return nil, fmt.Errorf("memory: alias method over 0 outcomes")
	}
	var sum float64
	for i, p := range probs {
		if p < 0 || p != p {
			return nil, fmt.Errorf("memory: alias weight %d is %g", i, p)
		}
		sum += p
	}
	a := &Alias{prob: make([]float32, k), alias: make([]int64, k)}
	var smaller, larger []int
	for i, p := range probs {
		if sum > 1 {
			p /= sum
		}
		a.prob[i] = float32(k) * float32(p) // float32 as the torch tensor
		if a.prob[i] < 1 {
			smaller = append(smaller, i)
		} else {
			larger = append(larger, i)
		}
	}
	for len(smaller) > 0 && len(larger) > 0 {
		small, large := smaller[len(smaller)-1], larger[len(larger)-1]
		smaller, larger = smaller[:len(smaller)-1], larger[:len(larger)-1]
		a.alias[small] = int64(large)
		a.prob[large] = (a.prob[large] - 1) + a.prob[small]
		if a.prob[large] < 1 {
			smaller = append(smaller, large)
		} else {
			larger = append(larger, large)
		}
	}
	for _, i := range append(smaller, larger...) {
		a.prob[i] = 1
	}
	return a, nil
}

// Len is the number of outcomes.
func (a *Alias) Len() int { return len(a.prob) }

// Draw returns n outcomes: k uniform in [0, K), kept with probability
// prob[k], else alias[k].
func (a *Alias) Draw(n int, rng *rand.Rand) []int64 {
	out := make([]int64, n)
	a.fill(out, rng)
	return out
}

func (a *Alias) fill(out []int64, rng *rand.Rand) {
	k := len(a.prob)
	for i := range out {
		c := rng.IntN(k)
		if rng.Float32() < a.prob[c] {
			out[i] = int64(c)
		} else {
			out[i] = a.alias[c]
		}
	}
}

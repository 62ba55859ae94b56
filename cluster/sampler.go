package cluster

import (
	"fmt"
	"math/rand/v2"
)

// UniformIndices is DistributedSampler.set_uniform_indices
// (datasets/samplers/distributed_sampler.py, components.md §2.9), the
// epoch order DeepCluster uses after each clustering: with N = len(labels)
// and size = ⌊N/k⌋ + 1, each non-empty cluster contributes size members
// drawn with replacement iff it has ≤ size members (without replacement
// otherwise), clusters in label order; the concatenation is shuffled, cut
// to N and padded to totalSize by repeating its head (totalSize = N on one
// process; pass ⌈N/world⌉·world to mimic several).
//
// MMSelfSup seeds numpy's global RNG with the epoch; here rng is the
// caller's, which it should seed from (seed, epoch).
func UniformIndices(labels []int64, k, totalSize int, rng *rand.Rand) ([]int64, error) {
	n := len(labels)
	if n == 0 {
		return nil, fmt.Errorf("cluster: uniform sampling of an empty label list")
	}
	if totalSize < n {
		return nil, fmt.Errorf("cluster: total size %d < %d labels", totalSize, n)
	}
	if err := checkLabels(labels, k); err != nil {
		return nil, err
	}
	size := n/k + 1
	var out []int64
	for _, l := range lists(labels, k) {
		if len(l) == 0 {
			continue
		}
		out = append(out, choice(l, size, len(l) <= size, rng)...)
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	if len(out) > n {
		out = out[:n]
	}
	for i := 0; len(out) < totalSize; i++ {
		out = append(out, out[i])
	}
	return out, nil
}

// choice is np.random.choice(l, size, replace).
func choice(l []int64, size int, replace bool, rng *rand.Rand) []int64 {
	out := make([]int64, size)
	if replace {
		for i := range out {
			out[i] = l[rng.IntN(len(l))]
		}
		return out
	}
	p := append([]int64(nil), l...)
	for i := 0; i < size; i++ { // partial Fisher-Yates
		j := i + rng.IntN(len(p)-i)
		p[i], p[j] = p[j], p[i]
	}
	copy(out, p[:size])
	return out
}

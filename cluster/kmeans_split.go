package cluster

import "math/rand/v2"

// splitEps is faiss's EPS (1/1024, a bit above float16 machine epsilon).
const splitEps = 1.0 / 1024

// splitEmpty is faiss's split_clusters (Clustering.cpp) on host memory:
// every empty cluster ci takes a copy of a cluster cj found by cycling cj =
// 0, 1, … and accepting with probability (size_cj − 1)/(n − k); the two are
// pushed apart by factors 1 ± 1/1024 alternating per dimension (ci gets
// 1+ε on even dims, cj 1−ε), and cj's size is shared between them (ci gets
// ⌊half⌋ in faiss's float arithmetic). cent is k×d row-major, counts the
// assignment histogram (not modified). faiss re-seeds its generator with
// 1234 on every call; here the draws come from rng. Requires n > k.
func splitEmpty(cent []float32, counts []int64, d int, n int64, rng *rand.Rand) int {
	k := len(counts)
	hassign := make([]float32, k)
	for i, c := range counts {
		hassign[i] = float32(c)
	}
	nsplit := 0
	for ci := 0; ci < k; ci++ {
		if hassign[ci] != 0 {
			continue
		}
		cj := 0
		for ; ; cj = (cj + 1) % k {
			p := (hassign[cj] - 1) / float32(n-int64(k))
			if rng.Float32() < p {
				break
			}
		}
		a, b := cent[ci*d:(ci+1)*d], cent[cj*d:(cj+1)*d]
		copy(a, b)
		for j := range a {
			if j%2 == 0 {
				a[j] *= 1 + splitEps
				b[j] *= 1 - splitEps
			} else {
				a[j] *= 1 - splitEps
				b[j] *= 1 + splitEps
			}
		}
		hassign[ci] = hassign[cj] / 2
		hassign[cj] -= hassign[ci]
		nsplit++
	}
	return nsplit
}

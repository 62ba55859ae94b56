package cluster

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestUniformIndices checks set_uniform_indices: ⌊N/k⌋+1 draws per
// non-empty cluster (distinct members for large clusters, with replacement
// for small ones), cut to N, padded by the head, and on average an equal
// share for every non-empty cluster whatever its size.
func TestUniformIndices(t *testing.T) {
	sizes := []int{500, 300, 150, 45, 5, 0} // k = 6, N = 1000, size 167
	var labels []int64
	for c, n := range sizes {
		for i := 0; i < n; i++ {
			labels = append(labels, int64(c))
		}
	}
	rng := rand.New(rand.NewPCG(4, 4))
	rng.Shuffle(len(labels), func(i, j int) { labels[i], labels[j] = labels[j], labels[i] })
	const n, k, per = 1000, 6, 167
	share := make([]float64, k)
	const trials = 40
	for trial := 0; trial < trials; trial++ {
		idx, err := UniformIndices(labels, k, n, rand.New(rand.NewPCG(uint64(trial), 0)))
		if err != nil {
			t.Fatal(err)
		}
		if len(idx) != n {
			t.Fatalf("%d indices, want %d", len(idx), n)
		}
		drawn := idx[:5*per] // before padding: 5 non-empty clusters × 167
		count := make([]int, k)
		seen := map[int64]int{}
		for _, i := range drawn {
			count[labels[i]]++
			seen[i]++
		}
		for c := 0; c < 5; c++ {
			if count[c] != per {
				t.Fatalf("cluster %d drawn %d times, want %d", c, count[c], per)
			}
		}
		for i, m := range seen {
			if c := labels[i]; m > 1 && sizes[c] > per {
				t.Fatalf("member %d of large cluster %d drawn %d times (must be without replacement)", i, c, m)
			}
		}
		for j, i := range idx[5*per:] { // padding repeats the head
			if i != idx[j] {
				t.Fatalf("padding %d = %d, want head %d", j, i, idx[j])
			}
		}
		for _, i := range idx {
			share[labels[i]] += 1.0 / float64(n*trials)
		}
	}
	for c := 0; c < 5; c++ {
		if math.Abs(share[c]-0.2) > 0.01 {
			t.Fatalf("cluster %d share %.4f, want ≈ 0.2 (shares %v)", c, share[c], share)
		}
	}
	if share[5] != 0 {
		t.Fatal("empty cluster sampled")
	}
	if _, err := UniformIndices([]int64{0, 7}, 3, 2, rng); err == nil {
		t.Fatal("label outside k accepted")
	}
}

// TestReweight checks w_c ∝ (1/(count_c + 1e-10))^pow, Σw = 1, against
// values computed by hand.
func TestReweight(t *testing.T) {
	cases := []struct {
		counts []int64
		pow    float64
		want   []float64
	}{
		{[]int64{1, 4, 0, 9}, 0.5, norm([]float64{1, 0.5, 1e5, 1.0 / 3})},
		{[]int64{2, 2, 4}, 1, []float64{0.4, 0.4, 0.2}},
		{[]int64{10, 1000}, 0, []float64{0.5, 0.5}},
	}
	for _, c := range cases {
		got := Reweight(c.counts, c.pow)
		for i := range got {
			if math.Abs(float64(got[i])-c.want[i]) > 1e-6*math.Max(1, c.want[i]) {
				t.Fatalf("Reweight(%v, %g) = %v, want %v", c.counts, c.pow, got, c.want)
			}
		}
	}
	w, err := ReweightLabels([]int64{0, 2, 2, 2, 2}, 3, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	want := norm([]float64{1, 1e5, 0.5})
	for i := range w {
		if math.Abs(float64(w[i])-want[i]) > 1e-6 {
			t.Fatalf("ReweightLabels = %v, want %v", w, want)
		}
	}
}

func norm(v []float64) []float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x / s
	}
	return out
}

package memory

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAliasFrequencies: empirical frequencies of 400 000 draws match the
// normalised weights within 4 standard errors, for uniform (NPID's
// ones(length)), skewed and sub-unit-sum weights.
func TestAliasFrequencies(t *testing.T) {
	cases := []struct {
		name    string
		weights []float64
		want    []float64
	}{
		{"uniform", []float64{1, 1, 1, 1, 1, 1, 1}, []float64{1. / 7, 1. / 7, 1. / 7, 1. / 7, 1. / 7, 1. / 7, 1. / 7}},
		{"skewed", []float64{1, 2, 3, 4, 0}, []float64{0.1, 0.2, 0.3, 0.4, 0}},
		{"probabilities", []float64{0.5, 0.25, 0.25}, []float64{0.5, 0.25, 0.25}},
	}
	const n = 400000
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := NewAlias(c.weights)
			if err != nil {
				t.Fatal(err)
			}
			count := make([]int, len(c.weights))
			for _, k := range a.Draw(n, rand.New(rand.NewPCG(uint64(i), 3))) {
				count[k]++
			}
			for k, p := range c.want {
				got := float64(count[k]) / n
				se := math.Sqrt(p*(1-p)/n) + 1e-9
				if math.Abs(got-p) > 4*se {
					t.Fatalf("outcome %d: frequency %.5f, want %.5f (±%.5f)", k, got, p, 4*se)
				}
			}
		})
	}
	if _, err := NewAlias([]float64{1, -1}); err == nil {
		t.Fatal("negative weight accepted")
	}
}

// TestAliasTables checks the Vose construction on {0.1, 0.2, 0.3, 0.4}:
// prob = K·p = {0.4, 0.8, 1.2, 1.6}; pairing (pop from the end) gives
// alias[1] = 3 (prob[3] → 1.4), alias[0] = 3 (prob[3] → 0.8, now small),
// alias[3] = 2 (prob[2] → 1.0), leftover 2 → 1.
func TestAliasTables(t *testing.T) {
	a, err := NewAlias([]float64{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	wantP := []float32{0.4, 0.8, 1, 0.8}
	wantA := []int64{3, 3, 0, 2}
	for k := range wantP {
		if math.Abs(float64(a.prob[k]-wantP[k])) > 1e-6 || (a.prob[k] < 1 && a.alias[k] != wantA[k]) {
			t.Fatalf("tables prob %v alias %v, want %v %v", a.prob, a.alias, wantP, wantA)
		}
	}
}

package cluster

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flowssl/flowssl/internal/torchx"
)

// TestKmeansRecoversBlobs: well-separated Gaussian blobs are recovered
// (purity ≥ 0.95, every cluster matching one blob) with DeepCluster's
// preprocessing (no PCA and PCA-whitening) and both initialisations.
func TestKmeansRecoversBlobs(t *testing.T) {
	lock(t)
	cases := []struct {
		name   string
		pca    int
		init   Init
		nredo  int
		k, dim int
	}{
		{"random-init no-pca", -1, InitRandom, 5, 6, 16},
		{"kmeans++ no-pca", -1, InitKMeansPP, 1, 6, 16},
		{"random-init pca8", 8, InitRandom, 5, 6, 32},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			data, truth := blobs(rng, c.k, 80, c.dim, 5, 0.5)
			x := tensor(t, data, int64(len(truth)), int64(c.dim))
			km := NewKmeans(c.k, c.pca)
			km.Init, km.NRedo = c.init, c.nredo
			res, err := km.Cluster(x, rng)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			if p := purity(res.Labels, truth); p < 0.95 {
				t.Fatalf("purity %.3f < 0.95", p)
			}
			if p := purity(truth, res.Labels); p < 0.95 { // no blob split across clusters
				t.Fatalf("inverse purity %.3f < 0.95", p)
			}
			if len(res.Obj) != 20 {
				t.Fatalf("%d objective values, want niter 20", len(res.Obj))
			}
			for j := 1; j < len(res.Obj); j++ { // Lloyd never increases the objective
				if res.Obj[j] > res.Obj[j-1]*(1+1e-5)+1e-6 {
					t.Fatalf("objective rose at iteration %d: %v", j, res.Obj)
				}
			}
			if st := res.Stats(); st.Empty != 0 || st.Min != 80 || st.Max != 80 {
				t.Fatalf("cluster sizes %+v, want 80 each", st)
			}
			if len(res.Warnings) != 0 { // 480 points ≥ 6·39
				t.Fatalf("unexpected warnings %v", res.Warnings)
			}
		})
	}
}

// TestNearestBruteForce compares the chunked tensor assignment with a Go
// brute force.
func TestNearestBruteForce(t *testing.T) {
	lock(t)
	rng := rand.New(rand.NewPCG(3, 3))
	const n, k, d = 300, 7, 5
	xs := make([]float32, n*d)
	cs := make([]float32, k*d)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64())
	}
	for i := range cs {
		cs[i] = float32(rng.NormFloat64())
	}
	labels, dist, err := Nearest(tensor(t, xs, n, d), tensor(t, cs, k, d))
	if err != nil {
		t.Fatal(err)
	}
	defer labels.Drop()
	defer dist.Drop()
	l, _ := torchx.Int64s(labels)
	dv, _ := torchx.Float64s(dist)
	for i := 0; i < n; i++ {
		best, bd := -1, math.Inf(1)
		for c := 0; c < k; c++ {
			var s float64
			for j := 0; j < d; j++ {
				v := float64(xs[i*d+j] - cs[c*d+j])
				s += v * v
			}
			if s < bd {
				best, bd = c, s
			}
		}
		if int(l[i]) != best || math.Abs(dv[i]-bd) > 1e-4*(1+bd) {
			t.Fatalf("row %d: got (%d, %g), want (%d, %g)", i, l[i], dv[i], best, bd)
		}
	}
}

// TestSplitEmpty checks faiss's split_clusters on host data: the empty
// cluster becomes a ±1/1024 perturbed copy of a cluster with > 1 member.
func TestSplitEmpty(t *testing.T) {
	cent := []float32{
		1, 2, 3, // cluster 0: 1 member, never chosen (p = 0)
		0, 0, 0, // cluster 1: empty
		4, 8, -2, // cluster 2: 9 members
	}
	counts := []int64{1, 0, 9}
	rng := rand.New(rand.NewPCG(1, 2))
	if n := splitEmpty(cent, counts, 3, 10, rng); n != 1 {
		t.Fatalf("nsplit %d, want 1", n)
	}
	const e = 1.0 / 1024
	want := []float32{
		1, 2, 3,
		4 * (1 + e), 8 * (1 - e), -2 * (1 + e),
		4 * (1 - e), 8 * (1 + e), -2 * (1 - e),
	}
	for i := range want {
		if math.Abs(float64(cent[i]-want[i])) > 1e-6 {
			t.Fatalf("centroids %v, want %v", cent, want)
		}
	}
}

// TestKmeansEmptyClusterRepair: two groups of identical points and k = 3
// force an empty cluster in every iteration; it is re-seeded by splitting
// (NSplit > 0), nothing becomes NaN and the two groups stay apart.
func TestKmeansEmptyClusterRepair(t *testing.T) {
	lock(t)
	var data []float32
	var truth []int64
	for i := 0; i < 40; i++ {
		g := int64(i % 2)
		data = append(data, float32(3*g), float32(-2*g), 1)
		truth = append(truth, g)
	}
	km := NewKmeans(3, -1)
	res, err := km.Fit(tensor(t, data, 40, 3), rand.New(rand.NewPCG(5, 5)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	total := 0
	for _, s := range res.NSplit {
		total += s
	}
	if total == 0 || res.NSplit[0] == 0 {
		t.Fatalf("no empty-cluster split recorded: %v", res.NSplit)
	}
	// Only the ±1/1024 perturbations of the split copies stay in the
	// objective: 20 points × |(3,−2,1)|² × (1/1024)² ≈ 2.7e-4.
	if last := res.Obj[len(res.Obj)-1]; last > 1e-3 {
		t.Fatalf("final objective %g, want ≈ 0", last)
	}
	if len(res.Warnings) != 1 { // 40 points < 3·39
		t.Fatalf("warnings %v, want faiss's too-few-points warning", res.Warnings)
	}
	if purity(res.Labels, truth) != 1 {
		t.Fatalf("labels %v mix the groups", res.Labels)
	}
	cs, _ := torchx.Float64s(res.Centroids)
	for _, v := range cs {
		if math.IsNaN(v) {
			t.Fatalf("NaN centroid %v", cs)
		}
	}
	if res.Empty().Count() == 0 {
		t.Fatalf("expected one cluster left empty by identical points, sizes %v", res.Sizes())
	}
}

func TestKmeansRefusesBadInput(t *testing.T) {
	lock(t)
	rng := rand.New(rand.NewPCG(1, 1))
	if _, err := NewKmeans(5, -1).Fit(tensor(t, make([]float32, 8), 4, 2), rng); err == nil {
		t.Fatal("4 points for 5 clusters accepted")
	}
	nan := []float32{1, 2, float32(math.NaN()), 4, 5, 6}
	if _, err := NewKmeans(2, -1).Cluster(tensor(t, nan, 3, 2), rng); err == nil {
		t.Fatal("NaN features accepted")
	}
	if err := (&Kmeans{K: 3, PCADim: 0, NIter: 1, NRedo: 1, MaxPointsPerCentroid: 1}).Validate(); err == nil {
		t.Fatal("pca_dim 0 accepted")
	}
}

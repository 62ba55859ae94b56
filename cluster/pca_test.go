package cluster

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flowssl/flowssl/internal/torchx"
)

// correlated draws n rows of a d-dim Gaussian with a random mixing matrix
// plus an offset, so PCA has work to do.
func correlated(rng *rand.Rand, n, d int) []float32 {
	mix := make([]float64, d*d)
	for i := range mix {
		mix[i] = rng.NormFloat64()
	}
	out := make([]float32, n*d)
	z := make([]float64, d)
	for i := 0; i < n; i++ {
		for j := range z {
			z[j] = rng.NormFloat64() * float64(j+1)
		}
		for j := 0; j < d; j++ {
			v := 3.0 + float64(j)
			for l := 0; l < d; l++ {
				v += mix[j*d+l] * z[l]
			}
			out[i*d+j] = float32(v)
		}
	}
	return out
}

// gram returns YᵀY and the column means of an n×m row-major matrix.
func gram(y []float64, n, m int) ([]float64, []float64) {
	g := make([]float64, m*m)
	mean := make([]float64, m)
	for i := 0; i < n; i++ {
		for a := 0; a < m; a++ {
			mean[a] += y[i*m+a] / float64(n)
			for b := 0; b < m; b++ {
				g[a*m+b] += y[i*m+a] * y[i*m+b]
			}
		}
	}
	return g, mean
}

// TestPCAWhitening: faiss's PCAMatrix(eigen_power −0.5) output is centred
// with identity scatter YᵀY = I (covariance I/N), eigenvalues descending.
func TestPCAWhitening(t *testing.T) {
	lock(t)
	const n, d, m = 2000, 12, 6
	rng := rand.New(rand.NewPCG(11, 12))
	x := tensor(t, correlated(rng, n, d), n, d)
	p, err := TrainPCA(x, m, -0.5, 0, rng)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := 1; i < d; i++ {
		if p.Eigenvalues[i] > p.Eigenvalues[i-1] {
			t.Fatalf("eigenvalues not descending: %v", p.Eigenvalues)
		}
	}
	y, err := p.Apply(x)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Drop()
	if dims := y.MustSize(); dims[0] != n || dims[1] != m {
		t.Fatalf("output shape %v", dims)
	}
	yv, _ := torchx.Float64s(y)
	g, mean := gram(yv, n, m)
	for a := 0; a < m; a++ {
		if math.Abs(mean[a]) > 1e-4 {
			t.Fatalf("component %d mean %g, want 0", a, mean[a])
		}
		for b := 0; b < m; b++ {
			want := 0.0
			if a == b {
				want = 1
			}
			if math.Abs(g[a*m+b]-want) > 2e-3 {
				t.Fatalf("YᵀY[%d,%d] = %g, want %g", a, b, g[a*m+b], want)
			}
		}
	}
}

// TestPreprocess: rows come out unit-norm (x/(‖x‖+1e-10)), with and without
// PCA, and NaN input is refused.
func TestPreprocess(t *testing.T) {
	lock(t)
	rng := rand.New(rand.NewPCG(1, 9))
	const n, d = 300, 10
	x := tensor(t, correlated(rng, n, d), n, d)
	for _, pca := range []int{-1, 4} {
		y, err := Preprocess(x, pca, rng)
		if err != nil {
			t.Fatal(err)
		}
		dims := y.MustSize()
		want := int64(d)
		if pca > 0 {
			want = int64(pca)
		}
		if dims[1] != want {
			t.Fatalf("pca %d: width %d, want %d", pca, dims[1], want)
		}
		v, _ := torchx.Float64s(y)
		_ = y.Drop()
		for i := 0; i < n; i++ {
			var s float64
			for j := 0; j < int(want); j++ {
				s += v[i*int(want)+j] * v[i*int(want)+j]
			}
			if math.Abs(math.Sqrt(s)-1) > 1e-5 {
				t.Fatalf("pca %d: row %d norm %g", pca, i, math.Sqrt(s))
			}
		}
	}
	zero := tensor(t, make([]float32, 6), 3, 2)
	y, err := Preprocess(zero, -1, rng) // zero rows stay zero: norm + 1e-10
	if err != nil {
		t.Fatal(err)
	}
	v, _ := torchx.Float64s(y)
	_ = y.Drop()
	for _, e := range v {
		if e != 0 {
			t.Fatalf("zero rows normalised to %v", v)
		}
	}
	nan := tensor(t, []float32{1, float32(math.NaN())}, 1, 2)
	if _, err := Preprocess(nan, -1, rng); err == nil {
		t.Fatal("NaN accepted")
	}
}

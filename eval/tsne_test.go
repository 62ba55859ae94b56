package eval

import (
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// looKNN is the leave-one-out k-NN accuracy (percent, majority vote, ties
// to the lower label) of the n×c points y with their labels.
func looKNN(y []float64, n, c int, labels []int, k int) float64 {
	dist := SquaredDistances(y, n, c)
	hit := 0
	for i := 0; i < n; i++ {
		order := make([]int, 0, n-1)
		for j := 0; j < n; j++ {
			if j != i {
				order = append(order, j)
			}
		}
		for a := 0; a < k; a++ { // partial selection sort: k is small
			best := a
			for b := a + 1; b < len(order); b++ {
				if dist[i*n+order[b]] < dist[i*n+order[best]] {
					best = b
				}
			}
			order[a], order[best] = order[best], order[a]
		}
		votes := map[int]int{}
		for _, j := range order[:k] {
			votes[labels[j]]++
		}
		bestL, bestV := -1, -1
		for l, v := range votes {
			if v > bestV || v == bestV && l < bestL {
				bestL, bestV = l, v
			}
		}
		if bestL == labels[i] {
			hit++
		}
	}
	return 100 * float64(hit) / float64(n)
}

// t-SNE keeps neighbourhoods: on 6 Gaussian clusters in 50-D, the 2-D
// embedding's leave-one-out 5-NN accuracy is as high as in the input
// space, it spreads over more than the init's 1e-4 scale, and the KL
// divergence it reports is small.
func TestTSNEKeepsClusters(t *testing.T) {
	f := blobs(3, 240, 6, 50, 1.0)
	in := make([]float64, len(f.Data))
	for i, v := range f.Data {
		in[i] = float64(v)
	}
	base := looKNN(in, f.N, f.D, f.Labels, 5)
	o := DefaultTSNEOptions()
	o.Seed = 1
	calls := 0
	o.Progress = func(done, total int) { calls++ }
	res, err := TSNE(f, o)
	if err != nil {
		t.Fatal(err)
	}
	got := looKNN(res.Y, res.N, res.Components, f.Labels, 5)
	t.Logf("5-NN: %.1f%% in 50-D, %.1f%% in t-SNE 2-D; KL %.3f after %d iterations", base, got, res.KL, res.Iters)
	if base < 95 || got < base-2 {
		t.Fatalf("5-NN accuracy %.1f%% in 2-D, %.1f%% in the input", got, base)
	}
	if res.KL <= 0 || res.KL > 1.5 || res.Iters < 300 || calls != res.Iters {
		t.Fatalf("KL %g, %d iterations, %d progress calls", res.KL, res.Iters, calls)
	}
	MinMaxNormalize(res.Y, res.N, res.Components)
	for k := 0; k < 2; k++ {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := 0; i < res.N; i++ {
			lo, hi = math.Min(lo, res.Y[i*2+k]), math.Max(hi, res.Y[i*2+k])
		}
		if lo != 0 || hi != 1 {
			t.Fatalf("axis %d normalised to [%g, %g]", k, lo, hi)
		}
	}
}

// Against scikit-learn 1.2's exact t-SNE on the same data and initial
// embedding: the joint probabilities agree to float32 precision (scikit-learn
// runs the bandwidth search in float32); from scikit-learn's P, the KL
// gradient and the first two optimisation steps agree to 1e-6 (relative to
// their scale). Later steps amplify rounding differences chaotically (the
// second step already moves points 100× further than the first), so the
// full runs are compared by their final KL divergence (within 5 %) and the
// 5-NN accuracy of their embeddings.
func TestTSNEMatchesSklearn(t *testing.T) {
	sklearnAvailable(t)
	const n, d, perplexity, iters = 120, 10, 20.0, 1000
	f := blobs(5, n, 4, d, 0.8)
	x := make([]float64, n*d)
	for i, v := range f.Data {
		x[i] = float64(v)
	}
	r := rand.New(rand.NewPCG(7, 8))
	init := make([]float64, n*2)
	for i := range init {
		init[i] = 1e-4 * r.NormFloat64()
	}
	dir := t.TempDir()
	writeRaw(t, filepath.Join(dir, "x.f64"), x)
	writeRaw(t, filepath.Join(dir, "init.f64"), init)
	out, err := exec.Command("/usr/bin/python3", "testdata/tsne_ref.py", dir, fmt.Sprint(d), fmt.Sprint(perplexity), fmt.Sprint(iters)).CombinedOutput()
	if err != nil {
		t.Fatalf("tsne_ref.py: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "ref.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		P, Grad, Y2 []float64
		KL          float64
		Y           [][]float64
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	p := JointProbabilities(SquaredDistances(x, n, d), n, perplexity)
	pRef := make([]float64, n*n)
	k := 0
	var maxRel float64
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			if rel := math.Abs(p[i*n+j]-ref.P[k]) / ref.P[k]; ref.P[k] > 1e-6 && rel > maxRel {
				maxRel = rel
			}
			pRef[i*n+j], pRef[j*n+i] = ref.P[k], ref.P[k]
			k++
		}
	}
	if k != len(ref.P) || maxRel > 1e-4 {
		t.Fatalf("P: %d pairs (sklearn %d), max relative difference %g", k, len(ref.P), maxRel)
	}
	close := func(name string, got, want []float64) {
		t.Helper()
		var diff, scale float64
		for i := range want {
			diff = math.Max(diff, math.Abs(got[i]-want[i]))
			scale = math.Max(scale, math.Abs(want[i]))
		}
		if len(got) != len(want) || diff > 1e-6*scale {
			t.Fatalf("%s: max difference %g at scale %g", name, diff, scale)
		}
	}
	ex := make([]float64, len(pRef))
	for i, v := range pRef {
		ex[i] = 12 * v
	}
	o := DefaultTSNEOptions()
	o.Perplexity, o.Iters = perplexity, iters
	g := &tsneGD{p: ex, n: n, dims: 2, o: o}
	grad := make([]float64, n*2)
	g.klGrad(init, grad, true)
	close("gradient at init", grad, ref.Grad)
	y2 := append([]float64(nil), init...)
	g.run(y2, 0, 2, 0.5, tsneExplorationIters)
	close("after 2 steps", y2, ref.Y2)

	res := tsneOptimize(pRef, append([]float64(nil), init...), n, o)
	var yRef []float64
	for _, row := range ref.Y {
		yRef = append(yRef, row...)
	}
	a, c := looKNN(res.Y, n, 2, f.Labels, 5), looKNN(yRef, n, 2, f.Labels, 5)
	t.Logf("KL: flowssl %.4f, scikit-learn %.4f; 5-NN in 2-D: %.1f%%, %.1f%%", res.KL, ref.KL, a, c)
	if math.Abs(res.KL-ref.KL) > 0.05*ref.KL || math.Abs(a-c) > 5 {
		t.Fatalf("KL %.4f vs scikit-learn %.4f; 5-NN %.1f%% vs %.1f%%", res.KL, ref.KL, a, c)
	}
}

func TestTSNEBadInput(t *testing.T) {
	f := blobs(1, 20, 2, 3, 1)
	for _, c := range []struct {
		mod  func(*TSNEOptions)
		want string
	}{
		{func(o *TSNEOptions) {}, "perplexity 30 must be less than the 20"},
		{func(o *TSNEOptions) { o.Perplexity, o.Iters = 5, 100 }, "n_iter 100"},
		{func(o *TSNEOptions) { o.Perplexity, o.Init = 5, "spectral" }, `init "spectral"`},
	} {
		o := DefaultTSNEOptions()
		c.mod(&o)
		if _, err := TSNE(f, o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want %q", err, c.want)
		}
	}
}

// init "pca" starts from the leading principal components (first axis
// std 1e-4), so clusters separated along one direction start apart.
func TestTSNEPCAInit(t *testing.T) {
	f := blobs(2, 60, 3, 8, 2)
	x := make([]float64, len(f.Data))
	for i, v := range f.Data {
		x[i] = float64(v)
	}
	o := DefaultTSNEOptions()
	o.Init = "pca"
	y, err := tsneInit(x, f.N, f.D, o)
	if err != nil {
		t.Fatal(err)
	}
	var m, s float64
	for i := 0; i < f.N; i++ {
		m += y[i*2]
	}
	m /= float64(f.N)
	for i := 0; i < f.N; i++ {
		s += (y[i*2] - m) * (y[i*2] - m)
	}
	if s = math.Sqrt(s / float64(f.N)); math.Abs(s-1e-4) > 1e-9 || math.Abs(m) > 1e-9 {
		t.Fatalf("pca init: first axis mean %g std %g", m, s)
	}
}

// The scatter plot is a 960×960 PNG (10 inch at 96 dpi) that shows every
// class's tab20 colour.
func TestScatterPNG(t *testing.T) {
	f := blobs(4, 90, 3, 2, 3)
	y := make([]float64, len(f.Data))
	for i, v := range f.Data {
		y[i] = float64(v)
	}
	MinMaxNormalize(y, f.N, 2)
	p := filepath.Join(t.TempDir(), "pics", "feat5.png")
	if err := ScatterPNG(p, y, f.Labels, ScatterOptions{Title: "feat5", ClassNames: []string{"circle", "square"}}); err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	img, err := png.Decode(r)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 960 || b.Dy() != 960 {
		t.Fatalf("PNG is %v, want 960×960", b)
	}
	seen := map[[3]uint8]int{}
	for yy := 0; yy < 960; yy++ {
		for xx := 0; xx < 960; xx++ {
			r, g, b, _ := img.At(xx, yy).RGBA()
			seen[[3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}]++
		}
	}
	for c := 0; c < 3; c++ {
		if seen[tab20[c]] < 20 {
			t.Errorf("class %d colour %v: %d pixels", c, tab20[c], seen[tab20[c]])
		}
	}
	if err := ScatterPNG(p, y[:3], f.Labels, ScatterOptions{}); err == nil {
		t.Fatal("short coordinates accepted")
	}
}

package model

import (
	"encoding/binary"
	"math"
	"math/rand"
	"os"
	"runtime"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// paramSpec describes a test parameter: its initial values and the
// gradient it receives at each step (nil: never gets a gradient).
type paramSpec struct {
	name    string
	shape   []int64
	reqGrad bool
	init    []float32
	grads   [][]float32
}

// lockThread pins the test to its OS thread for libtorch's thread-local
// state and switches grad mode on: an earlier test may have returned this
// OS thread with grad off (gotch's ts.NoGrad restores a garbage mode).
func lockThread(t *testing.T) {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	if _, err := SetGradMode(true); err != nil {
		t.Fatal(err)
	}
}

func numel(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

func randVals(r *rand.Rand, n int, mean, std float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(mean + std*r.NormFloat64())
	}
	return v
}

// resnetLikeSpecs is a small parameter set named like MMSelfSup's
// ResNet/neck/head keys, with the corner cases the optimizers treat
// specially: a zero-initialised bias (LARS norm 0), a frozen parameter and
// a trainable parameter that never receives a gradient.
func resnetLikeSpecs(seed int64, steps int) []paramSpec {
	r := rand.New(rand.NewSource(seed))
	specs := []paramSpec{
		{name: "backbone.conv1.weight", shape: []int64{4, 3, 3, 3}},
		{name: "backbone.bn1.weight", shape: []int64{4}},
		{name: "backbone.bn1.bias", shape: []int64{4}},
		{name: "backbone.layer1.0.downsample.1.weight", shape: []int64{4}},
		{name: "neck.fc.weight", shape: []int64{6, 4}},
		{name: "neck.fc.bias", shape: []int64{6}},
		{name: "head.fc_cls.weight", shape: []int64{3, 6}},
		{name: "head.fc_cls.bias", shape: []int64{3}},
		{name: "backbone.frozen.weight", shape: []int64{2}},
		{name: "head.unused.weight", shape: []int64{2}},
	}
	for i := range specs {
		s := &specs[i]
		n := numel(s.shape)
		s.reqGrad = s.name != "backbone.frozen.weight"
		switch {
		case s.name == "neck.fc.bias":
			s.init = make([]float32, n)
		case s.name == "backbone.bn1.weight":
			s.init = randVals(r, n, 1, 0.1)
		default:
			s.init = randVals(r, n, 0, 0.5)
		}
		if s.reqGrad && s.name != "head.unused.weight" {
			for k := 0; k < steps; k++ {
				s.grads = append(s.grads, randVals(r, n, 0, 0.1))
			}
		}
	}
	return specs
}

// makeParams creates fresh leaf tensors from specs; drop them with dropParams.
func makeParams(t *testing.T, specs []paramSpec) []Param {
	t.Helper()
	ps := make([]Param, len(specs))
	for i, s := range specs {
		x, err := ts.NewTensorFromData(s.init, s.shape)
		if err != nil {
			t.Fatal(err)
		}
		y, err := x.SetRequiresGrad(s.reqGrad, true)
		if err != nil {
			t.Fatal(err)
		}
		ps[i] = Param{Name: s.name, T: y}
	}
	return ps
}

func dropParams(ps []Param) {
	for _, p := range ps {
		p.T.Drop()
	}
}

// backwardGrads makes p.grad += specs[i].grads[k] for every parameter with
// gradients, through loss = Σ_i sum(p_i ⊙ G_i).
func backwardGrads(t *testing.T, ps []Param, specs []paramSpec, k int) {
	t.Helper()
	var loss *ts.Tensor
	for i, s := range specs {
		if s.grads == nil {
			continue
		}
		g, err := ts.NewTensorFromData(s.grads[k], s.shape)
		if err != nil {
			t.Fatal(err)
		}
		prod := ps[i].T.MustMul(g, false)
		term := prod.MustSum(gotch.Float, true)
		g.MustDrop()
		if loss == nil {
			loss = term
		} else {
			loss = loss.MustAdd(term, true)
			term.MustDrop()
		}
	}
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	loss.MustDrop()
}

func floats(t *testing.T, x *ts.Tensor) []float64 {
	t.Helper()
	return x.Float64Values()
}

func gradValues(t *testing.T, p *ts.Tensor) []float64 {
	t.Helper()
	g, err := gradOf(p)
	if err != nil || g == nil {
		t.Fatalf("no grad: %v", err)
	}
	defer g.MustDrop()
	return g.Float64Values()
}

func writeF32(t *testing.T, path string, v []float32) {
	t.Helper()
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readF32(t *testing.T, path string) []float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float64, len(b)/4)
	for i := range v {
		v[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
	}
	return v
}

// assertClose compares with a norm-wise relative tolerance:
// max_i |got_i − want_i| ≤ rel · max_i |want_i|. Element-wise relative
// error is meaningless where a value is a near-cancellation of larger
// terms (momentum with dampening, Adam moments): torch fuses a + α·b into
// one rounding (FMA) where gotch, lacking an alpha argument, rounds twice.
func assertClose(t *testing.T, what string, got, want []float64, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	maxAbs, maxDiff, at := 0.0, 0.0, 0
	for i := range want {
		maxAbs = math.Max(maxAbs, math.Abs(want[i]))
		if d := math.Abs(got[i] - want[i]); d > maxDiff {
			maxDiff, at = d, i
		}
	}
	if maxDiff > rel*maxAbs {
		t.Fatalf("%s[%d] = %.9g, want %.9g: max diff %.3g > %g × max|want| %.3g", what, at, got[at], want[at], maxDiff, rel, maxAbs)
	}
}

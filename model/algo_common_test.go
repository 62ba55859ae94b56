package model

import (
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// Shared helpers of the algo_*_test.go files: float64 reference maths
// computed from tensors the model itself produced, so each test checks the
// algorithm's composition, not the layers.

// f64s reads t as float64 values in row-major order.
func f64s(t *ts.Tensor) []float64 {
	d := t.MustTotype(gotch.Double, false).MustContiguous(true)
	defer d.MustDrop()
	return d.Float64Values()
}

// normRows L2-normalises each of the n rows of x (n×d), F.normalize style.
func normRows(x []float64, n int) []float64 {
	d := len(x) / n
	out := make([]float64, len(x))
	for i := 0; i < n; i++ {
		var s float64
		for k := 0; k < d; k++ {
			s += x[i*d+k] * x[i*d+k]
		}
		s = math.Max(math.Sqrt(s), 1e-12)
		for k := 0; k < d; k++ {
			out[i*d+k] = x[i*d+k] / s
		}
	}
	return out
}

// negMeanCos is −mean_i cos(a_i, b_i) over n rows.
func negMeanCos(a, b []float64, n int) float64 {
	an, bn := normRows(a, n), normRows(b, n)
	d := len(a) / n
	var s float64
	for i := 0; i < n; i++ {
		for k := 0; k < d; k++ {
			s += an[i*d+k] * bn[i*d+k]
		}
	}
	return -s / float64(n)
}

// ceRow is −log softmax(logits)[label].
func ceRow(logits []float64, label int) float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, v)
	}
	var z float64
	for _, v := range logits {
		z += math.Exp(v - mx)
	}
	return math.Log(z) + mx - logits[label]
}

// ceAcc is mean CE and top-1 accuracy (%) of n×c scores against labels.
func ceAcc(scores []float64, labels []int64, c int) (float64, float64) {
	var loss, hit float64
	for i, y := range labels {
		row := scores[i*c : (i+1)*c]
		loss += ceRow(row, int(y))
		best := 0
		for k := range row {
			if row[k] > row[best] {
				best = k
			}
		}
		if best == int(y) {
			hit++
		}
	}
	n := float64(len(labels))
	return loss / n, 100 * hit / n
}

// algoBuild builds cfg in a fresh CPU VarStore.
func algoBuild(t testing.TB, cfg map[string]any) (Algorithm, *nn.VarStore) {
	t.Helper()
	vs := nn.NewVarStore(gotch.CPU)
	a, err := BuildAlgorithm(vs, cfg)
	if err != nil {
		t.Fatalf("build %v: %v", cfg["type"], err)
	}
	return a, vs
}

// stepValues runs one TrainStep without gradient and returns the logged values.
func stepValues(t testing.TB, a Algorithm, in *StepInput) map[string]float64 {
	t.Helper()
	var out map[string]float64
	if err := WithoutGrad(func() error {
		l, err := a.TrainStep(in)
		if err != nil {
			return err
		}
		defer l.Drop()
		out = l.Values()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// trainSteps runs steps SGD iterations on a fixed input and returns the
// total loss of the first and the last; after is called after each step.
func trainSteps(t testing.TB, a Algorithm, vs *nn.VarStore, in *StepInput, steps int, lr float64, after func(it int) error) (first, last float64) {
	t.Helper()
	opt, err := BuildOptimizer(ParamsOf(vs), map[string]any{"type": "SGD", "lr": lr, "momentum": 0.9, "weight_decay": 0.0})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Close()
	for it := 0; it < steps; it++ {
		in.Iter, in.MaxIters = it, steps
		l, err := a.TrainStep(in)
		if err != nil {
			t.Fatalf("step %d: %v", it, err)
		}
		total, err := l.Total()
		if err != nil {
			t.Fatal(err)
		}
		v := total.Float64Values()[0]
		if it == 0 {
			first = v
		}
		last = v
		if err := opt.ZeroGrad(); err != nil {
			t.Fatal(err)
		}
		if err := total.Backward(); err != nil {
			t.Fatal(err)
		}
		total.MustDrop()
		l.Drop()
		if err := opt.Step(); err != nil {
			t.Fatal(err)
		}
		if after != nil {
			if err := after(it); err != nil {
				t.Fatal(err)
			}
		}
	}
	if math.IsNaN(last) || !(last < first) {
		t.Fatalf("loss %.5f → %.5f over %d SGD steps on a fixed batch; want it to fall", first, last, steps)
	}
	return first, last
}

// algoKeys lists vs's state-dict names in order.
func algoKeys(vs *nn.VarStore) []string {
	var out []string
	for _, e := range StateDict(vs) {
		out = append(out, e.Name)
	}
	return out
}

// suffixes returns the sorted key suffixes under prefix+".".
func suffixes(keys []string, prefix string) []string {
	var out []string
	for _, k := range keys {
		if rest, ok := strings.CutPrefix(k, prefix+"."); ok {
			out = append(out, rest)
		}
	}
	sort.Strings(out)
	return out
}

// checkKeyLayout asserts that every key starts with one of tops, that the
// aliases hold exactly their targets' suffixes, and that want are present
// and notWant absent.
func checkKeyLayout(t testing.TB, keys []string, tops []string, aliases map[string]string, want, notWant []string) {
	t.Helper()
	have := map[string]bool{}
	for _, k := range keys {
		have[k] = true
		ok := false
		for _, p := range tops {
			if k == p || strings.HasPrefix(k, p+".") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("state dict key %q outside MMSelfSup's modules %v", k, tops)
		}
	}
	for alias, target := range aliases {
		a, b := suffixes(keys, alias), suffixes(keys, target)
		if len(a) == 0 || strings.Join(a, ",") != strings.Join(b, ",") {
			t.Errorf("alias %s has %d keys, %s has %d; want the same suffixes", alias, len(a), target, len(b))
		}
	}
	for _, k := range want {
		if !have[k] {
			t.Errorf("state dict lacks %s", k)
		}
	}
	for _, k := range notWant {
		if have[k] {
			t.Errorf("state dict has %s, which MMSelfSup's model lacks", k)
		}
	}
}

// algoMaxDiff is max|a−b| over equal-shaped tensors.
func algoMaxDiff(a, b *ts.Tensor) float64 {
	d := a.MustSub(b, false).MustAbs(true).MustMax(true)
	defer d.MustDrop()
	return d.Float64Values()[0]
}

// algoImages returns k random N×3×size×size batches.
func algoImages(k int, n, size int64) []*ts.Tensor {
	out := make([]*ts.Tensor, k)
	for i := range out {
		out[i] = ts.MustRandn([]int64{n, 3, size, size}, gotch.Float, gotch.CPU)
	}
	return out
}

func algoDropAll(xs []*ts.Tensor) {
	for _, x := range xs {
		x.MustDrop()
	}
}

// TestAlgorithmsDoNotLeak runs forward+backward steps of each algorithm of
// the algo_*_test.go files and requires RSS to grow by less than 6 MiB
// over 20 steps after a 6-step warm-up; a leaked activation of one step
// is already ≥ 0.25 MiB here.
func TestAlgorithmsDoNotLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("RSS leak check skipped in -short")
	}
	for _, c := range []struct {
		cfg   map[string]any
		views int
	}{
		{byolCfg(), 2}, {simsiamCfg(), 2}, {barlowCfg(), 2}, {rotationCfg(), 1}, {relativeLocCfg(), 9}, {denseclCfg(nil), 2},
	} {
		t.Run(c.cfg["type"].(string), func(t *testing.T) {
			onPinned(t, func() error {
				ManualSeed(90)
				a, _ := algoBuild(t, c.cfg)
				v := algoImages(c.views, 4, 32)
				defer algoDropAll(v)
				return stepNoLeak(t, func(it int) error {
					l, err := a.TrainStep(&StepInput{Views: v, Iter: it, MaxIters: 26})
					if err != nil {
						return err
					}
					total, err := l.Total()
					if err != nil {
						return err
					}
					if err := total.Backward(); err != nil {
						return err
					}
					total.MustDrop()
					l.Drop()
					if mt, ok := a.(MomentumTarget); ok {
						if err := mt.MomentumUpdate(0.99); err != nil {
							return err
						}
					}
					return nil
				})
			})
		})
	}
}

func TestNewAlgorithmConfigErrors(t *testing.T) {
	with := func(cfg map[string]any, k string, v any) map[string]any {
		cfg[k] = v
		return cfg
	}
	onPinned(t, func() error {
		for _, c := range []struct {
			cfg  map[string]any
			want string
		}{
			{with(byolCfg(), "base_momentum", 1.5), "model.base_momentum: 1.5 outside [0, 1]"},
			{with(byolCfg(), "momentum", 0.9), "model.momentum: unknown key"},
			{with(byolCfg(), "head", map[string]any{"type": "ContrastiveHead"}), "BYOL needs a LatentPredictHead"},
			{with(simsiamCfg(), "head", map[string]any{"type": "ContrastiveHead"}), "SimSiam needs a LatentPredictHead"},
			{with(barlowCfg(), "head", map[string]any{"type": "ContrastiveHead"}), "BarlowTwins needs a LatentCrossCorrelationHead"},
			{with(rotationCfg(), "neck", map[string]any{"type": "LinearNeck"}), "model.neck: unknown key"},
			{with(rotationCfg(), "head", map[string]any{"type": "ContrastiveHead"}), "RotationPred needs a classifier head"},
			{with(relativeLocCfg(), "neck", nil), "model.neck: missing"},
			{with(denseclCfg(nil), "neck", map[string]any{"type": "MoCoV2Neck", "in_channels": 512, "hid_channels": 8, "out_channels": 8}), "DenseCL needs a DenseCLNeck"},
			{with(denseclCfg(nil), "loss_lambda", -1), "model.loss_lambda"},
			{with(denseclCfg(nil), "shuffle_bn_groups", 0), "model.shuffle_bn_groups"},
		} {
			vs := nn.NewVarStore(gotch.CPU)
			_, err := BuildAlgorithm(vs, c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v: err = %v, want %q", c.cfg["type"], err, c.want)
			}
		}
		return nil
	})
}

// stepNoLeak runs 6 warm-up steps, then windows of 20 steps, and passes as
// soon as one window grows RSS by at most 6 MiB. A leak grows every window
// by the same amount; the allocator's one-off jumps (several MiB when
// other tests ran first) do not repeat, so three windows over the bound
// are a leak.
func stepNoLeak(t *testing.T, step func(it int) error) error {
	t.Helper()
	it := 0
	for ; it < 6; it++ {
		if err := step(it); err != nil {
			return err
		}
	}
	var grows []float64
	for w := 0; w < 3; w++ {
		base := rssBytes(t)
		for end := it + 20; it < end; it++ {
			if err := step(it); err != nil {
				return err
			}
		}
		grew := rssBytes(t) - base
		grows = append(grows, float64(grew)/(1<<20))
		t.Logf("RSS growth over 20 steps: %.2f MiB", grows[len(grows)-1])
		if grew <= 6<<20 {
			return nil
		}
	}
	t.Fatalf("RSS grew in every window of 20 steps: %v MiB", grows)
	return nil
}

package eval

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// blobs draws n rows of c Gaussian clusters in d dimensions whose centres
// are sep apart on average: an easy or a hard problem by sep.
func blobs(seed uint64, n, c, d int, sep float64) Features {
	r := rand.New(rand.NewPCG(seed, 1))
	centres := make([]float64, c*d)
	cr := rand.New(rand.NewPCG(99, 7)) // same centres for train and test
	for i := range centres {
		centres[i] = cr.NormFloat64() * sep
	}
	f := Features{N: n, D: d, Data: make([]float32, n*d), Labels: make([]int, n)}
	for i := 0; i < n; i++ {
		l := i % c
		f.Labels[i] = l
		for j := 0; j < d; j++ {
			f.Data[i*d+j] = float32(centres[l*d+j] + r.NormFloat64())
		}
	}
	return f
}

func writeRaw(t *testing.T, path string, v any) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := binary.Write(f, binary.LittleEndian, v); err != nil {
		t.Fatal(err)
	}
}

func sklearnAvailable(t *testing.T) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import sklearn, numpy").Run(); err != nil {
		t.Skip("/usr/bin/python3 lacks scikit-learn (apt-get install python3-sklearn)")
	}
}

// The dual coordinate-descent solver against scikit-learn's LinearSVC
// (liblinear) on the same normalised features: one-vs-rest arg-max
// accuracy within 1 point and decision values within 2 % of their range
// (both stop at tol 1e-4 with different sweep orders).
func TestLinearSVMMatchesSklearn(t *testing.T) {
	sklearnAvailable(t)
	const c, d = 5, 32
	train, test := blobs(1, 400, c, d, 0.35), blobs(2, 250, c, d, 0.35)
	xtr, xte := NormalizeRows(train), NormalizeRows(test)
	dir := t.TempDir()
	toI64 := func(l []int) []int64 {
		out := make([]int64, len(l))
		for i, v := range l {
			out[i] = int64(v)
		}
		return out
	}
	writeRaw(t, filepath.Join(dir, "xtr.f64"), xtr)
	writeRaw(t, filepath.Join(dir, "xte.f64"), xte)
	writeRaw(t, filepath.Join(dir, "ytr.i64"), toI64(train.Labels))
	writeRaw(t, filepath.Join(dir, "yte.i64"), toI64(test.Labels))
	costs := []float64{1, 100, math.Pow(0.5, 6)}
	var cs []string
	for _, x := range costs {
		cs = append(cs, strconv.FormatFloat(x, 'g', -1, 64))
	}
	out, err := exec.Command("/usr/bin/python3", "testdata/svm_ref.py", dir, strconv.Itoa(d), strings.Join(cs, ",")).CombinedOutput()
	if err != nil {
		t.Fatalf("svm_ref.py: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "ref.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Decisions [][][]float64
		Accuracy  []float64
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	for k, cost := range costs {
		dec := make([][]float64, c)
		for cl := 0; cl < c; cl++ {
			m, err := TrainLinearSVM(xtr, train.N, binaryLabels(train.Labels, cl), DefaultSVMParams(cost))
			if err != nil {
				t.Fatal(err)
			}
			dec[cl] = m.Decision(xte, test.N)
		}
		hit := 0
		var lo, hi, worst float64 = math.Inf(1), math.Inf(-1), 0
		for i := 0; i < test.N; i++ {
			best := 0
			for cl := 0; cl < c; cl++ {
				r := ref.Decisions[k][i][cl]
				lo, hi = math.Min(lo, r), math.Max(hi, r)
				worst = math.Max(worst, math.Abs(dec[cl][i]-r))
				if dec[cl][i] > dec[best][i] {
					best = cl
				}
			}
			if best == test.Labels[i] {
				hit++
			}
		}
		acc := 100 * float64(hit) / float64(test.N)
		t.Logf("C=%g: accuracy %.2f (sklearn %.2f), max |Δdecision| %.4g over range %.3g", cost, acc, ref.Accuracy[k], worst, hi-lo)
		if math.Abs(acc-ref.Accuracy[k]) > 1 {
			t.Errorf("C=%g: accuracy %.2f, sklearn %.2f", cost, acc, ref.Accuracy[k])
		}
		if worst > 0.02*(hi-lo) {
			t.Errorf("C=%g: decisions differ by %.4g (range %.3g)", cost, worst, hi-lo)
		}
	}
}

// AP by hand: scores [.9 .8 .7 .6] with labels [1 0 1 0] gives precision
// 1, 1/2, 2/3, 1/2 at recalls ½, ½, 1, 1; monotone envelope 1, 2/3, 2/3 ⇒
// AP = ½·1 + ½·2/3.
func TestAveragePrecision(t *testing.T) {
	for _, c := range []struct {
		scores []float64
		labels []int
		want   float64
	}{
		{[]float64{.9, .8, .7, .6}, []int{1, 0, 1, 0}, 0.5 + 0.5*2.0/3},
		{[]float64{.1, .2, .3}, []int{0, 0, 1}, 1},
		{[]float64{.1, .2, .3}, []int{1, 0, 0}, 1.0 / 3},
		{[]float64{.1, .2}, []int{0, 0}, 0},
	} {
		if got := AveragePrecision(c.scores, c.labels); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("AP(%v, %v) = %v, want %v", c.scores, c.labels, got, c.want)
		}
	}
}

// The full protocol and the low-shot one: separable clusters score near
// 100, overlapping ones less, low-shot mAP grows with k, and results
// repeat for the same seed.
func TestSVMProtocols(t *testing.T) {
	opts := SVMOptions{Costs: []float64{1, 0.0625}, Workers: 2, Seed: 3}
	easy, hard := blobs(5, 150, 3, 16, 2), blobs(5, 150, 3, 16, 0.25)
	easyT, hardT := blobs(6, 90, 3, 16, 2), blobs(6, 90, 3, 16, 0.25)
	re, err := SVMEvaluate(easy, easyT, opts)
	if err != nil {
		t.Fatal(err)
	}
	rh, err := SVMEvaluate(hard, hardT, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("easy mAP %.2f top1 %.2f, hard mAP %.2f top1 %.2f", re.MeanAP, re.Top1, rh.MeanAP, rh.Top1)
	if re.MeanAP < 99 || re.Top1 < 99 || rh.MeanAP >= re.MeanAP || rh.Top1 >= re.Top1 || rh.Top1 < 100.0/3 {
		t.Fatalf("easy %.2f/%.2f, hard %.2f/%.2f", re.MeanAP, re.Top1, rh.MeanAP, rh.Top1)
	}
	if len(re.Classes) != 3 || len(re.Classes[0].CVAP) != 2 {
		t.Fatalf("report shape %+v", re)
	}
	ls, err := LowShotSVM(hard, hardT, []int{1, 8, 32}, 3, opts)
	if err != nil {
		t.Fatal(err)
	}
	ls2, err := LowShotSVM(hard, hardT, []int{1, 8, 32}, 3, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range ls {
		t.Logf("k=%d cost %g mAP %.2f [%.2f, %.2f] ± %.2f", r.K, r.Cost, r.Mean, r.Min, r.Max, r.Std)
		if r != ls2[i] {
			t.Fatalf("low-shot not repeatable: %+v vs %+v", r, ls2[i])
		}
		if r.Min > r.Mean || r.Mean > r.Max || r.Std < 0 {
			t.Fatalf("inconsistent statistics %+v", r)
		}
	}
	if !(ls[0].Mean < ls[2].Mean) {
		t.Fatalf("low-shot mAP does not grow with k: %+v", ls)
	}
	if _, err := LowShotSVM(hard, hardT, []int{100}, 1, opts); err == nil || !strings.Contains(err.Error(), "fewer than k=100") {
		t.Fatalf("k beyond the data: err = %v", err)
	}
}

package eval

import (
	"fmt"
	"math"
	"sync"
)

// SVMOptions configures SVMEvaluate and LowShotSVM.
type SVMOptions struct {
	Costs   []float64 // default SVMCosts()
	Folds   int       // cross-validation folds; default 3
	Seed    uint64
	Workers int // parallel fits; default 1
	// Params builds the solver settings for one cost; default DefaultSVMParams.
	Params func(c float64) SVMParams
	// Progress, when set, is called (from any worker) after each finished
	// one-vs-rest class (SVMEvaluate) or low-shot (sample, k, class) job.
	Progress func()
}

func (o *SVMOptions) defaults() {
	if len(o.Costs) == 0 {
		o.Costs = SVMCosts()
	}
	if o.Folds == 0 {
		o.Folds = 3
	}
	if o.Workers < 1 {
		o.Workers = 1
	}
	if o.Params == nil {
		o.Params = DefaultSVMParams
	}
}

// SVMClass is one class's one-vs-rest result.
type SVMClass struct {
	Class    int       `json:"class"`
	CVAP     []float64 `json:"cv_ap"` // mean cross-validation AP per cost
	BestCost float64   `json:"best_cost"`
	TestAP   float64   `json:"test_ap"`
}

// SVMReport is the full SVM benchmark on a labelled dataset.
type SVMReport struct {
	Costs   []float64  `json:"costs"`
	Classes []SVMClass `json:"classes"`
	MeanAP  float64    `json:"mean_ap"` // percent
	Top1    float64    `json:"top1"`    // percent, arg-max of the per-class decisions
}

// SVMEvaluate is MMSelfSup's VOC07 SVM protocol (benchmarks.md §5) for a
// single-label dataset: features L2-normalised; for every class c a binary
// one-vs-rest LinearSVC per cost (label c ⇒ +1, others −1), the cost with
// the best mean k-fold cross-validation AP chosen, refit on all training
// rows, and AP on the test set; MeanAP is their mean. Top1 classifies each
// test row by the largest decision value over the chosen classifiers.
//
// Folds are stratified: the positives, then the negatives, are dealt to
// the folds in index order (scikit-learn's StratifiedKFold without
// shuffling assigns the same counts, not necessarily the same rows).
func SVMEvaluate(train, test Features, opts SVMOptions) (*SVMReport, error) {
	opts.defaults()
	if err := checkPair(train, test); err != nil {
		return nil, err
	}
	classes := numClasses(train, test)
	xtr, xte := NormalizeRows(train), NormalizeRows(test)
	rep := &SVMReport{Costs: opts.Costs, Classes: make([]SVMClass, classes)}
	decisions := make([][]float64, classes)
	var mu sync.Mutex
	var firstErr error
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				res, dec, err := oneVsRest(xtr, train, xte, test, c, opts)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("class %d: %w", c, err)
				}
				rep.Classes[c] = res
				decisions[c] = dec
				mu.Unlock()
				if opts.Progress != nil {
					opts.Progress()
				}
			}
		}()
	}
	for c := 0; c < classes; c++ {
		jobs <- c
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	var sum float64
	for _, r := range rep.Classes {
		sum += r.TestAP
	}
	rep.MeanAP = 100 * sum / float64(classes)
	hit := 0
	for i := 0; i < test.N; i++ {
		best := 0
		for c := 1; c < classes; c++ {
			if decisions[c][i] > decisions[best][i] {
				best = c
			}
		}
		if best == test.Labels[i] {
			hit++
		}
	}
	rep.Top1 = 100 * float64(hit) / float64(test.N)
	return rep, nil
}

// oneVsRest cross-validates every cost for class c, refits the best one
// and returns its test AP and decision values.
func oneVsRest(xtr []float64, train Features, xte []float64, test Features, c int, o SVMOptions) (SVMClass, []float64, error) {
	res := SVMClass{Class: c, CVAP: make([]float64, len(o.Costs))}
	y := binaryLabels(train.Labels, c)
	folds := stratifiedFolds(y, o.Folds)
	for k, cost := range o.Costs {
		var sum float64
		for f := 0; f < o.Folds; f++ {
			xa, ya, xb, yb := splitFold(xtr, train.D, y, folds, f)
			p := o.Params(cost)
			p.Seed = o.Seed
			m, err := TrainLinearSVM(xa, len(ya), ya, p)
			if err != nil {
				return res, nil, err
			}
			sum += AveragePrecision(m.Decision(xb, len(yb)), signToLabel(yb))
		}
		res.CVAP[k] = sum / float64(o.Folds)
		if k == 0 || res.CVAP[k] > res.CVAP[indexOf(o.Costs, res.BestCost)] {
			res.BestCost = cost
		}
	}
	p := o.Params(res.BestCost)
	p.Seed = o.Seed
	m, err := TrainLinearSVM(xtr, train.N, y, p)
	if err != nil {
		return res, nil, err
	}
	dec := m.Decision(xte, test.N)
	res.TestAP = AveragePrecision(dec, signToLabel(binaryLabels(test.Labels, c)))
	return res, dec, nil
}

func indexOf(xs []float64, v float64) int {
	for i, x := range xs {
		if x == v {
			return i
		}
	}
	return 0
}

func binaryLabels(labels []int, c int) []float64 {
	y := make([]float64, len(labels))
	for i, l := range labels {
		y[i] = -1
		if l == c {
			y[i] = 1
		}
	}
	return y
}

func signToLabel(y []float64) []int {
	out := make([]int, len(y))
	for i, v := range y {
		if v > 0 {
			out[i] = 1
		}
	}
	return out
}

// stratifiedFolds deals the positives, then the negatives, to folds
// 0, 1, …, k−1, 0, … in index order.
func stratifiedFolds(y []float64, k int) []int {
	f := make([]int, len(y))
	np, nn := 0, 0
	for i, v := range y {
		if v > 0 {
			f[i] = np % k
			np++
		} else {
			f[i] = nn % k
			nn++
		}
	}
	return f
}

// splitFold returns the rows outside fold f (training) and inside it.
func splitFold(x []float64, d int, y []float64, folds []int, f int) (xa, ya, xb, yb []float64) {
	for i, v := range y {
		row := x[i*d : (i+1)*d]
		if folds[i] == f {
			xb = append(xb, row...)
			yb = append(yb, v)
		} else {
			xa = append(xa, row...)
			ya = append(ya, v)
		}
	}
	return
}

func checkPair(train, test Features) error {
	if err := train.Validate("train"); err != nil {
		return err
	}
	if err := test.Validate("test"); err != nil {
		return err
	}
	if train.D != test.D {
		return fmt.Errorf("train features are %d-d, test %d-d", train.D, test.D)
	}
	for _, l := range append(append([]int(nil), train.Labels...), test.Labels...) {
		if l < 0 {
			return fmt.Errorf("negative label %d", l)
		}
	}
	return nil
}

func numClasses(fs ...Features) int {
	c := 0
	for _, f := range fs {
		for _, l := range f.Labels {
			c = max(c, l+1)
		}
	}
	return c
}

// meanStd returns mean, min, max and the population standard deviation.
func meanStd(v []float64) (mean, lo, hi, std float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		mean += x
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	mean /= float64(len(v))
	for _, x := range v {
		std += (x - mean) * (x - mean)
	}
	return mean, lo, hi, math.Sqrt(std / float64(len(v)))
}

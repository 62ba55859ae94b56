package eval

import (
	"fmt"
	"math/rand/v2"
	"sync"
)

// LowShotResult is one k of the low-shot SVM benchmark: mAP (percent) over
// the samples at the cost whose mean over samples is highest.
type LowShotResult struct {
	K    int     `json:"k"`
	Cost float64 `json:"cost"`
	Mean float64 `json:"mean"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	Std  float64 `json:"std"`
}

// LowShotSVM is MMSelfSup's low-shot SVM protocol (benchmarks.md §5) on a
// single-label dataset with C classes: for every sample s < samples and k,
// each class c is trained one-vs-rest on k random rows of class c and
// (C−1)·k random rows of other classes (VOC's 19·k for 20 classes; fewer
// when the data has fewer), for every cost; the test mAP over classes gives
// one value per cost; per k the cost with the best mean over samples is
// reported with the mean, min, max and std over samples (×100). Draws come
// from a PCG seeded with (opts.Seed, s, k, c).
func LowShotSVM(train, test Features, ks []int, samples int, opts SVMOptions) ([]LowShotResult, error) {
	opts.defaults()
	if err := checkPair(train, test); err != nil {
		return nil, err
	}
	if samples < 1 || len(ks) == 0 {
		return nil, fmt.Errorf("low-shot: %d samples and k values %v", samples, ks)
	}
	classes := numClasses(train, test)
	xtr, xte := NormalizeRows(train), NormalizeRows(test)
	byClass := make([][]int, classes)
	for i, l := range train.Labels {
		byClass[l] = append(byClass[l], i)
	}
	for _, k := range ks {
		if k < 1 {
			return nil, fmt.Errorf("low-shot: k=%d", k)
		}
		for c, rows := range byClass {
			if len(rows) < k {
				return nil, fmt.Errorf("low-shot: class %d has %d training rows, fewer than k=%d", c, len(rows), k)
			}
		}
	}
	type job struct{ s, ki, c int }
	// perClass[ki][s][c] is class c's test AP per cost; summed over classes
	// in class order afterwards, so the result does not depend on which
	// worker finished first.
	perClass := make([][][][]float64, len(ks))
	for ki := range ks {
		perClass[ki] = make([][][]float64, samples)
		for s := range perClass[ki] {
			perClass[ki][s] = make([][]float64, classes)
		}
	}
	var mu sync.Mutex
	var firstErr error
	jobs := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				vals, err := lowShotClass(xtr, train, xte, test, byClass, j.s, ks[j.ki], j.c, opts)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				perClass[j.ki][j.s][j.c] = vals
				mu.Unlock()
				if opts.Progress != nil {
					opts.Progress()
				}
			}
		}()
	}
	for ki := range ks {
		for s := 0; s < samples; s++ {
			for c := 0; c < classes; c++ {
				jobs <- job{s, ki, c}
			}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	// ap[ki][s][cost] sums AP over classes.
	ap := make([][][]float64, len(ks))
	for ki := range ks {
		ap[ki] = make([][]float64, samples)
		for s := range ap[ki] {
			ap[ki][s] = make([]float64, len(opts.Costs))
			for _, vals := range perClass[ki][s] {
				for i, v := range vals {
					ap[ki][s][i] += v
				}
			}
		}
	}
	out := make([]LowShotResult, len(ks))
	for ki, k := range ks {
		best, bestMean := 0, -1.0
		for ci := range opts.Costs {
			v := make([]float64, samples)
			for s := range v {
				v[s] = ap[ki][s][ci] / float64(classes)
			}
			if m, _, _, _ := meanStd(v); m > bestMean {
				best, bestMean = ci, m
			}
		}
		v := make([]float64, samples)
		for s := range v {
			v[s] = 100 * ap[ki][s][best] / float64(classes)
		}
		mean, lo, hi, std := meanStd(v)
		out[ki] = LowShotResult{K: k, Cost: opts.Costs[best], Mean: mean, Min: lo, Max: hi, Std: std}
	}
	return out, nil
}

// lowShotClass trains class c of sample s at k shots for every cost and
// returns the test AP per cost.
func lowShotClass(xtr []float64, train Features, xte []float64, test Features, byClass [][]int, s, k, c int, o SVMOptions) ([]float64, error) {
	rng := rand.New(rand.NewPCG(o.Seed^uint64(s)<<40^uint64(k)<<20, uint64(c)+1))
	pos := pick(rng, byClass[c], k)
	var others []int
	for oc, rows := range byClass {
		if oc != c {
			others = append(others, rows...)
		}
	}
	neg := pick(rng, others, min(len(others), (len(byClass)-1)*k))
	rows := append(pos, neg...)
	x := make([]float64, 0, len(rows)*train.D)
	y := make([]float64, len(rows))
	for i, r := range rows {
		x = append(x, xtr[r*train.D:(r+1)*train.D]...)
		y[i] = -1
		if i < len(pos) {
			y[i] = 1
		}
	}
	labels := signToLabel(binaryLabels(test.Labels, c))
	out := make([]float64, len(o.Costs))
	for i, cost := range o.Costs {
		p := o.Params(cost)
		p.Seed = o.Seed
		m, err := TrainLinearSVM(x, len(y), y, p)
		if err != nil {
			return nil, fmt.Errorf("low-shot class %d k=%d: %w", c, k, err)
		}
		out[i] = AveragePrecision(m.Decision(xte, test.N), labels)
	}
	return out, nil
}

// pick draws n distinct entries of rows (partial Fisher–Yates on a copy).
func pick(rng *rand.Rand, rows []int, n int) []int {
	cp := append([]int(nil), rows...)
	for i := 0; i < n; i++ {
		j := i + rng.IntN(len(cp)-i)
		cp[i], cp[j] = cp[j], cp[i]
	}
	return cp[:n]
}

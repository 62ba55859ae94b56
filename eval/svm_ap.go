package eval

import "sort"

// AveragePrecision is MMSelfSup's svm_helper AP (benchmarks.md §5):
// positives are labels > 0; scores sorted descending; precision made
// non-increasing from the right over (R=0,P=0) … (R=1,P=0); the sum of
// ΔR·P where recall changes. With no positive it is 0.
func AveragePrecision(scores []float64, labels []int) float64 {
	n := len(scores)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	npos := 0
	for _, l := range labels {
		if l > 0 {
			npos++
		}
	}
	if npos == 0 {
		return 0
	}
	rec := make([]float64, n+2)
	prec := make([]float64, n+2)
	tp, fp := 0, 0
	for k, i := range order {
		if labels[i] > 0 {
			tp++
		} else {
			fp++
		}
		rec[k+1] = float64(tp) / float64(npos)
		prec[k+1] = float64(tp) / float64(tp+fp)
	}
	rec[n+1], prec[n+1] = 1, 0
	for i := n; i >= 0; i-- {
		prec[i] = max(prec[i], prec[i+1])
	}
	var ap float64
	for i := 1; i < n+2; i++ {
		if rec[i] != rec[i-1] {
			ap += (rec[i] - rec[i-1]) * prec[i]
		}
	}
	return ap
}

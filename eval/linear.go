package eval

import (
	"fmt"
	"sort"
)

// TopK is MMSelfSup's SingleViewDataset.evaluate for one head's N×C
// scores (row-major) and labels: for each k, the percentage of rows whose
// label is among the k highest scores (torch.topk; ties keep the lower
// class index first). k larger than C is an error, as torch.topk fails.
func TopK(scores []float32, n, c int, labels []int, ks []int) ([]float64, error) {
	if n <= 0 || c <= 0 || len(scores) != n*c || len(labels) != n {
		return nil, fmt.Errorf("topk: %d scores for %d×%d and %d labels", len(scores), n, c, len(labels))
	}
	maxK := 0
	for _, k := range ks {
		if k < 1 || k > c {
			return nil, fmt.Errorf("topk: k=%d outside 1..%d classes", k, c)
		}
		maxK = max(maxK, k)
	}
	correct := make([]int, len(ks))
	idx := make([]int, c)
	for i := 0; i < n; i++ {
		y := labels[i]
		if y < 0 || y >= c {
			return nil, fmt.Errorf("topk: label %d of row %d outside 0..%d", y, i, c-1)
		}
		row := scores[i*c : (i+1)*c]
		for j := range idx {
			idx[j] = j
		}
		sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
		rank := maxK
		for r := 0; r < maxK; r++ {
			if idx[r] == y {
				rank = r
				break
			}
		}
		for j, k := range ks {
			if rank < k {
				correct[j]++
			}
		}
	}
	out := make([]float64, len(ks))
	for j := range ks {
		out[j] = 100 * float64(correct[j]) / float64(n)
	}
	return out, nil
}

// HeadsAccuracy splits f's rows (the heads' scores side by side, each
// f.D/len(heads) wide) per head and returns MMSelfSup's evaluation keys
// "{head}_top{k}" (percent).
func HeadsAccuracy(f Features, heads []string, ks []int) (map[string]float64, error) {
	if err := f.Validate("scores"); err != nil {
		return nil, err
	}
	if len(heads) == 0 || f.D%len(heads) != 0 {
		return nil, fmt.Errorf("heads accuracy: %d score columns for %d heads", f.D, len(heads))
	}
	c := f.D / len(heads)
	out := map[string]float64{}
	part := make([]float32, f.N*c)
	for h, name := range heads {
		for i := 0; i < f.N; i++ {
			copy(part[i*c:(i+1)*c], f.Data[i*f.D+h*c:i*f.D+(h+1)*c])
		}
		acc, err := TopK(part, f.N, c, f.Labels, ks)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for j, k := range ks {
			out[fmt.Sprintf("%s_top%d", name, k)] = acc[j]
		}
	}
	return out, nil
}

package eval

import (
	"fmt"
	"math"
	"sort"

	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/internal/torchx"
)

// Features is a row-major N×D matrix of float32 features with a label per row.
type Features struct {
	N, D   int
	Data   []float32
	Labels []int
}

// Validate checks the matrix against its labels.
func (f Features) Validate(name string) error {
	if f.N <= 0 || f.D <= 0 || len(f.Data) != f.N*f.D || len(f.Labels) != f.N {
		return fmt.Errorf("%s features: %d×%d with %d values and %d labels", name, f.N, f.D, len(f.Data), len(f.Labels))
	}
	return nil
}

// KNNResult is one k's accuracy, in percent as MMSelfSup prints it.
type KNNResult struct {
	K          int
	Top1, Top5 float64
}

// KNN runs MMSelfSup's weighted k-NN classifier (borrowed from DINO;
// benchmarks.md §1): L2-normalised features, cosine similarity, the top-k
// train neighbours vote with weight exp(s/T), classes ranked by summed
// weight. Test rows are processed in chunks of N_test/100 as the reference
// does (the result does not depend on the chunking).
func KNN(train, test Features, ks []int, temperature float64, numClasses int) ([]KNNResult, error) {
	if err := train.Validate("train"); err != nil {
		return nil, err
	}
	if err := test.Validate("test"); err != nil {
		return nil, err
	}
	if train.D != test.D {
		return nil, fmt.Errorf("knn: train features are %d-d, test features %d-d", train.D, test.D)
	}
	maxK := 0
	for _, k := range ks {
		if k <= 0 {
			return nil, fmt.Errorf("knn: k=%d must be positive", k)
		}
		maxK = max(maxK, k)
	}
	if maxK > train.N {
		return nil, fmt.Errorf("knn: k=%d exceeds the %d train samples", maxK, train.N)
	}
	for _, l := range append(append([]int(nil), train.Labels...), test.Labels...) {
		if l < 0 || l >= numClasses {
			return nil, fmt.Errorf("knn: label %d outside [0, %d)", l, numClasses)
		}
	}
	tr, err := normalized(train)
	if err != nil {
		return nil, err
	}
	defer tr.MustDrop()
	trT, err := tr.Transpose(0, 1, false)
	if err != nil {
		return nil, err
	}
	defer trT.MustDrop()

	top1 := make([]int, len(ks))
	top5 := make([]int, len(ks))
	chunk := max(1, test.N/100)
	scores := make([]float64, numClasses)
	rank := make([]int, numClasses)
	for start := 0; start < test.N; start += chunk {
		n := min(chunk, test.N-start)
		part := Features{N: n, D: test.D, Data: test.Data[start*test.D : (start+n)*test.D]}
		q, err := normalized(part)
		if err != nil {
			return nil, err
		}
		sim, err := q.Mm(trT, true) // [n, N_train]
		if err != nil {
			return nil, err
		}
		vals, idx, err := sim.Topk(int64(maxK), 1, true, true, true) // sorted, largest first
		if err != nil {
			return nil, err
		}
		v, err := torchx.Float64s(vals)
		vals.MustDrop()
		if err != nil {
			idx.MustDrop()
			return nil, err
		}
		ix, err := torchx.Int64s(idx)
		idx.MustDrop()
		if err != nil {
			return nil, err
		}
		for r := 0; r < n; r++ {
			label := test.Labels[start+r]
			for ki, k := range ks {
				clear(scores)
				for j := 0; j < k; j++ {
					scores[train.Labels[ix[r*maxK+j]]] += math.Exp(v[r*maxK+j] / temperature)
				}
				for c := range rank {
					rank[c] = c
				}
				// Stable, so ties keep class order as torch's sort does on CPU for equal keys.
				sort.SliceStable(rank, func(a, b int) bool { return scores[rank[a]] > scores[rank[b]] })
				if rank[0] == label {
					top1[ki]++
				}
				for c := 0; c < min(5, k, numClasses); c++ {
					if rank[c] == label {
						top5[ki]++
						break
					}
				}
			}
		}
	}
	out := make([]KNNResult, len(ks))
	for i, k := range ks {
		out[i] = KNNResult{K: k, Top1: 100 * float64(top1[i]) / float64(test.N), Top5: 100 * float64(top5[i]) / float64(test.N)}
	}
	return out, nil
}

func normalized(f Features) (*ts.Tensor, error) {
	x, err := torchx.FromFloat32s(f.Data, int64(f.N), int64(f.D))
	if err != nil {
		return nil, err
	}
	two := ts.FloatScalar(2)
	defer two.MustDrop()
	norm, err := x.NormScalaroptDim(two, []int64{1}, true, false)
	if err != nil {
		x.MustDrop()
		return nil, err
	}
	// F.normalize clamps the norm at 1e-12.
	eps := ts.FloatScalar(1e-12)
	defer eps.MustDrop()
	if norm, err = norm.ClampMin(eps, true); err != nil {
		x.MustDrop()
		return nil, err
	}
	y, err := x.Div(norm, true)
	norm.MustDrop()
	return y, err
}

package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// TSNEOptions are the arguments MMSelfSup's visualize_tsne.py passes to
// scikit-learn's TSNE (benchmarks.md §6); DefaultTSNEOptions has their
// defaults.
type TSNEOptions struct {
	Components           int     `json:"n_components"`            // 2
	Perplexity           float64 `json:"perplexity"`              // 30
	EarlyExaggeration    float64 `json:"early_exaggeration"`      // 12
	LearningRate         float64 `json:"learning_rate"`           // 200
	Iters                int     `json:"n_iter"`                  // 1000 (at least 250)
	ItersWithoutProgress int     `json:"n_iter_without_progress"` // 300
	MinGradNorm          float64 `json:"min_grad_norm"`           // 1e-7
	Init                 string  `json:"init"`                    // "random" (N(0, 1e-4²)) or "pca"
	Seed                 uint64  `json:"seed"`
	// Progress, when set, is called after every iteration with the
	// iteration count done so far and Iters.
	Progress func(done, total int) `json:"-"`
}

// DefaultTSNEOptions returns visualize_tsne.py's defaults.
func DefaultTSNEOptions() TSNEOptions {
	return TSNEOptions{Components: 2, Perplexity: 30, EarlyExaggeration: 12, LearningRate: 200, Iters: 1000,
		ItersWithoutProgress: 300, MinGradNorm: 1e-7, Init: "random"}
}

// TSNEResult is an embedding: N×Components row-major.
type TSNEResult struct {
	N, Components int
	Y             []float64
	KL            float64 // KL divergence after optimisation
	Iters         int     // iterations run (early stop counts)
}

// scikit-learn's constants (sklearn/manifold/_t_sne.py).
const (
	tsneExplorationIters = 250 // _EXPLORATION_N_ITER: early exaggeration, momentum 0.5
	tsneCheckEvery       = 50  // _N_ITER_CHECK
	tsneMinGain          = 0.01
	machineEpsilon       = 2.220446049250313e-16 // np.finfo(np.double).eps
	tsneMaxSamples       = 10000                 // three 10⁴×10⁴ float64 matrices: 2.4 GB
)

// TSNE embeds the rows of f with scikit-learn 1.2's exact t-SNE
// (method="exact"; MMSelfSup runs the default Barnes–Hut approximation
// with angle 0.5, whose gradient approaches this one as the angle goes to
// 0): squared Euclidean distances, per-row Gaussian bandwidths found by
// binary search on the perplexity, symmetrised joint P, Student-t (one
// degree of freedom) Q, and gradient descent with gains and momentum —
// 250 iterations with P exaggerated and momentum 0.5, then the rest with
// momentum 0.8, stopping early as scikit-learn does. The cost is O(N²)
// per iteration, fine for the 1000 points visualize_tsne.py plots.
func TSNE(f Features, o TSNEOptions) (*TSNEResult, error) {
	if err := f.Validate("t-SNE"); err != nil {
		return nil, err
	}
	if o.Components < 1 || o.Perplexity <= 0 || o.EarlyExaggeration < 1 || o.LearningRate <= 0 || o.Iters < tsneExplorationIters {
		return nil, fmt.Errorf("t-SNE: n_components %d, perplexity %g, early_exaggeration %g, learning_rate %g must be positive (exaggeration ≥ 1) and n_iter %d ≥ %d",
			o.Components, o.Perplexity, o.EarlyExaggeration, o.LearningRate, o.Iters, tsneExplorationIters)
	}
	if f.N > tsneMaxSamples {
		return nil, fmt.Errorf("t-SNE: %d samples; exact t-SNE keeps N×N matrices, so at most %d (visualize_tsne.py plots 1000: lower --max-num-class)", f.N, tsneMaxSamples)
	}
	if o.Perplexity >= float64(f.N) {
		return nil, fmt.Errorf("t-SNE: perplexity %g must be less than the %d samples", o.Perplexity, f.N)
	}
	x := make([]float64, len(f.Data))
	for i, v := range f.Data {
		x[i] = float64(v)
	}
	p := JointProbabilities(SquaredDistances(x, f.N, f.D), f.N, o.Perplexity)
	y, err := tsneInit(x, f.N, f.D, o)
	if err != nil {
		return nil, err
	}
	return tsneOptimize(p, y, f.N, o), nil
}

// tsneOptimize runs both phases of scikit-learn's optimisation from y.
func tsneOptimize(p, y []float64, n int, o TSNEOptions) *TSNEResult {
	for i := range p {
		p[i] *= o.EarlyExaggeration
	}
	g := &tsneGD{p: p, n: n, dims: o.Components, o: o}
	kl, it := g.run(y, 0, tsneExplorationIters, 0.5, tsneExplorationIters)
	for i := range p {
		p[i] /= o.EarlyExaggeration
	}
	if it < tsneExplorationIters || o.Iters > tsneExplorationIters {
		kl, it = g.run(y, it+1, o.Iters, 0.8, o.ItersWithoutProgress)
	}
	return &TSNEResult{N: n, Components: o.Components, Y: y, KL: kl, Iters: it + 1}
}

// tsneInit is init="random" (1e-4·N(0,1), as scikit-learn) or "pca" (the
// leading principal components scaled so the first has std 1e-4).
func tsneInit(x []float64, n, d int, o TSNEOptions) ([]float64, error) {
	y := make([]float64, n*o.Components)
	switch o.Init {
	case "random", "":
		r := rand.New(rand.NewPCG(o.Seed, 0x75e))
		for i := range y {
			y[i] = 1e-4 * r.NormFloat64()
		}
	case "pca":
		if o.Components > min(n, d) {
			return nil, fmt.Errorf("t-SNE: init pca needs n_components %d ≤ min(samples, features) %d", o.Components, min(n, d))
		}
		c := mat.NewDense(n, d, append([]float64(nil), x...))
		for j := 0; j < d; j++ {
			var m float64
			for i := 0; i < n; i++ {
				m += c.At(i, j)
			}
			m /= float64(n)
			for i := 0; i < n; i++ {
				c.Set(i, j, c.At(i, j)-m)
			}
		}
		var svd mat.SVD
		if !svd.Factorize(c, mat.SVDThin) {
			return nil, fmt.Errorf("t-SNE: init pca: SVD did not converge")
		}
		var u mat.Dense
		svd.UTo(&u)
		s := svd.Values(nil)
		for i := 0; i < n; i++ {
			for k := 0; k < o.Components; k++ {
				y[i*o.Components+k] = u.At(i, k) * s[k]
			}
		}
		var mean, sd float64
		for i := 0; i < n; i++ {
			mean += y[i*o.Components]
		}
		mean /= float64(n)
		for i := 0; i < n; i++ {
			sd += (y[i*o.Components] - mean) * (y[i*o.Components] - mean)
		}
		sd = math.Sqrt(sd / float64(n))
		for i := range y {
			y[i] = y[i] / sd * 1e-4
		}
	default:
		return nil, fmt.Errorf("t-SNE: init %q (want random or pca)", o.Init)
	}
	return y, nil
}

// SquaredDistances returns the n×n squared Euclidean distances between
// the rows of x (n×d).
func SquaredDistances(x []float64, n, d int) []float64 {
	out := make([]float64, n*n)
	parallelRows(n, func(i int) {
		xi := x[i*d : (i+1)*d]
		for j := i + 1; j < n; j++ {
			var s float64
			for k, v := range x[j*d : (j+1)*d] {
				t := xi[k] - v
				s += t * t
			}
			out[i*n+j] = s
		}
	})
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			out[j*n+i] = out[i*n+j]
		}
	}
	return out
}

// JointProbabilities is scikit-learn's _joint_probabilities: for each row
// the Gaussian precision β whose conditional distribution has entropy
// log(perplexity) nats (binary search, 100 steps, tolerance 1e-5, starting
// at β = 1), then P = (P + Pᵀ)/ΣP with entries at least machine epsilon
// off the diagonal. It returns P as an n×n matrix (zero diagonal).
func JointProbabilities(dist []float64, n int, perplexity float64) []float64 {
	cond := make([]float64, n*n)
	want := math.Log(perplexity)
	parallelRows(n, func(i int) {
		row := cond[i*n : (i+1)*n]
		di := dist[i*n : (i+1)*n]
		betaMin, betaMax, beta := math.Inf(-1), math.Inf(1), 1.0
		for step := 0; step < 100; step++ {
			var sum float64
			for j, d := range di {
				if j != i {
					row[j] = math.Exp(-d * beta)
					sum += row[j]
				}
			}
			if sum == 0 {
				sum = 1e-8 // EPSILON_DBL
			}
			var sumDP float64
			for j := range row {
				row[j] /= sum
				sumDP += di[j] * row[j]
			}
			diff := math.Log(sum) + beta*sumDP - want
			if math.Abs(diff) <= 1e-5 {
				break
			}
			if diff > 0 {
				betaMin = beta
				if math.IsInf(betaMax, 1) {
					beta *= 2
				} else {
					beta = (beta + betaMax) / 2
				}
			} else {
				betaMax = beta
				if math.IsInf(betaMin, -1) {
					beta /= 2
				} else {
					beta = (beta + betaMin) / 2
				}
			}
		}
	})
	p := make([]float64, n*n)
	var total float64
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			p[i*n+j] = cond[i*n+j] + cond[j*n+i]
			total += p[i*n+j]
		}
	}
	total = math.Max(total, machineEpsilon)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i != j {
				p[i*n+j] = math.Max(p[i*n+j]/total, machineEpsilon)
			}
		}
	}
	return p
}

// tsneGD is scikit-learn's _gradient_descent over _kl_divergence.
type tsneGD struct {
	p       []float64 // n×n joint probabilities (maybe exaggerated)
	n, dims int
	o       TSNEOptions
	num     []float64 // scratch: n×n Student-t numerators
}

// klGrad writes the gradient of KL(P‖Q) at y into grad and, with
// withKL (scikit-learn's compute_error, every 50th and the last
// iteration), returns KL; otherwise NaN.
// Q_ij = (1+|y_i−y_j|²)⁻¹ / Σ_{k≠l}(1+|y_k−y_l|²)⁻¹ floored at machine
// epsilon; ∂KL/∂y_i = 4 Σ_j (P_ij − Q_ij)(1+|y_i−y_j|²)⁻¹ (y_i − y_j).
func (g *tsneGD) klGrad(y, grad []float64, withKL bool) float64 {
	n, c := g.n, g.dims
	if g.num == nil {
		g.num = make([]float64, n*n)
	}
	num := g.num
	var sum float64
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			var d float64
			for k := 0; k < c; k++ {
				t := y[i*c+k] - y[j*c+k]
				d += t * t
			}
			q := 1 / (1 + d)
			num[i*n+j], num[j*n+i] = q, q
			sum += 2 * q
		}
	}
	var kl float64
	var mu sync.Mutex
	parallelRows(n, func(i int) {
		gi := grad[i*c : (i+1)*c]
		clear(gi)
		var part float64
		for j := 0; j < n; j++ {
			if j == i {
				continue
			}
			q := math.Max(num[i*n+j]/sum, machineEpsilon)
			pij := g.p[i*n+j]
			if withKL {
				part += pij * math.Log(math.Max(pij, machineEpsilon)/q)
			}
			w := (pij - q) * num[i*n+j]
			for k := 0; k < c; k++ {
				gi[k] += w * (y[i*c+k] - y[j*c+k])
			}
		}
		for k := range gi {
			gi[k] *= 4
		}
		mu.Lock()
		kl += part
		mu.Unlock()
	})
	if !withKL {
		return math.NaN()
	}
	return kl
}

// run iterates from iteration it to maxIter−1 with fresh gains and
// updates, as each _gradient_descent call does, and returns the last KL
// and the last iteration index.
func (g *tsneGD) run(y []float64, it, maxIter int, momentum float64, withoutProgress int) (float64, int) {
	grad := make([]float64, len(y))
	update := make([]float64, len(y))
	gains := make([]float64, len(y))
	for i := range gains {
		gains[i] = 1
	}
	kl := math.MaxFloat64
	best, bestIter := math.MaxFloat64, it
	i := it
	for ; i < maxIter; i++ {
		check := (i+1)%tsneCheckEvery == 0
		kl = g.klGrad(y, grad, check || i == maxIter-1)
		var norm float64
		for k := range y {
			if update[k]*grad[k] < 0 {
				gains[k] += 0.2
			} else {
				gains[k] *= 0.8
			}
			gains[k] = math.Max(gains[k], tsneMinGain)
			grad[k] *= gains[k]
			norm += grad[k] * grad[k]
			update[k] = momentum*update[k] - g.o.LearningRate*grad[k]
			y[k] += update[k]
		}
		if g.o.Progress != nil {
			g.o.Progress(i+1, g.o.Iters)
		}
		if check {
			if kl < best {
				best, bestIter = kl, i
			} else if i-bestIter > withoutProgress {
				break
			}
			if math.Sqrt(norm) <= g.o.MinGradNorm {
				break
			}
		}
	}
	if i == maxIter {
		i--
	}
	return kl, i
}

// parallelRows calls fn(i) for i in [0, n) on up to GOMAXPROCS goroutines.
func parallelRows(n int, fn func(i int)) {
	w := min(runtime.GOMAXPROCS(0), n)
	if w <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			for i := k; i < n; i += w {
				fn(i)
			}
		}(k)
	}
	wg.Wait()
}

// MinMaxNormalize scales each column of the n×c matrix y to [0, 1] in
// place, as visualize_tsne.py does before plotting.
func MinMaxNormalize(y []float64, n, c int) {
	for k := 0; k < c; k++ {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := 0; i < n; i++ {
			lo, hi = math.Min(lo, y[i*c+k]), math.Max(hi, y[i*c+k])
		}
		span := hi - lo
		for i := 0; i < n; i++ {
			if span > 0 {
				y[i*c+k] = (y[i*c+k] - lo) / span
			} else {
				y[i*c+k] = 0
			}
		}
	}
}

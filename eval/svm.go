package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// SVMParams are the settings of MMSelfSup's VOC07 SVMs, scikit-learn's
// LinearSVC(C, class_weight={1: PosWeight, -1: NegWeight},
// loss="squared_hinge", penalty="l2", dual=True, tol, max_iter,
// intercept_scaling) (benchmarks.md §5).
type SVMParams struct {
	C                float64
	PosWeight        float64 // 2 in MMSelfSup
	NegWeight        float64 // 1
	Tol              float64 // 1e-4
	MaxIter          int     // 2000
	InterceptScaling float64 // 1; the bias is regularised, as in liblinear
	Seed             uint64  // order of the coordinate sweeps
}

// DefaultSVMParams returns MMSelfSup's settings for cost c.
func DefaultSVMParams(c float64) SVMParams {
	return SVMParams{C: c, PosWeight: 2, NegWeight: 1, Tol: 1e-4, MaxIter: 2000, InterceptScaling: 1}
}

// SVMCosts is MMSelfSup's cost grid: 1, 10, 100, then 0.5^4 … 0.5^19.
func SVMCosts() []float64 {
	out := []float64{1, 10, 100}
	for p := 4; p <= 19; p++ {
		out = append(out, math.Pow(0.5, float64(p)))
	}
	return out
}

// LinearSVM is a trained binary classifier: decision = W·x + B.
type LinearSVM struct {
	W     []float64
	B     float64
	Iters int // outer iterations run
}

// Decision returns W·x + B for each of the n rows of x (n×d).
func (m *LinearSVM) Decision(x []float64, n int) []float64 {
	d := len(m.W)
	out := make([]float64, n)
	for i := 0; i < n; i++ {
		s := m.B
		row := x[i*d : (i+1)*d]
		for j, w := range m.W {
			s += w * row[j]
		}
		out[i] = s
	}
	return out
}

// TrainLinearSVM solves the L2-regularised squared-hinge SVM in its dual
// by coordinate descent with shrinking (liblinear's solve_l2r_l1l2_svc,
// the solver behind LinearSVC(dual=True)): x is n×d row-major, y ∈ {+1,−1}.
// The intercept is an extra feature of value InterceptScaling.
func TrainLinearSVM(x []float64, n int, y []float64, p SVMParams) (*LinearSVM, error) {
	if n <= 0 || len(x)%n != 0 || len(y) != n {
		return nil, fmt.Errorf("svm: %d values for %d rows and %d labels", len(x), n, len(y))
	}
	if p.C <= 0 || p.PosWeight <= 0 || p.NegWeight <= 0 || p.Tol <= 0 || p.MaxIter <= 0 {
		return nil, fmt.Errorf("svm: C %g, weights %g/%g, tol %g, max_iter %d must be positive", p.C, p.PosWeight, p.NegWeight, p.Tol, p.MaxIter)
	}
	d := len(x) / n
	bias := p.InterceptScaling
	w := make([]float64, d)
	var wb float64
	alpha := make([]float64, n)
	diag := make([]float64, n) // 1/(2·C_i) for the squared hinge
	qd := make([]float64, n)
	for i := 0; i < n; i++ {
		switch y[i] {
		case 1:
			diag[i] = 0.5 / (p.C * p.PosWeight)
		case -1:
			diag[i] = 0.5 / (p.C * p.NegWeight)
		default:
			return nil, fmt.Errorf("svm: label %g of row %d (want +1 or -1)", y[i], i)
		}
		q := diag[i] + bias*bias
		for _, v := range x[i*d : (i+1)*d] {
			q += v * v
		}
		qd[i] = q
	}
	index := make([]int, n)
	for i := range index {
		index[i] = i
	}
	rng := rand.New(rand.NewPCG(p.Seed, 0x5f3759df))
	active := n
	pgMaxOld, pgMinOld := math.Inf(1), math.Inf(-1)
	iter := 0
	for iter < p.MaxIter {
		pgMax, pgMin := math.Inf(-1), math.Inf(1)
		for i := 0; i < active; i++ {
			j := i + rng.IntN(active-i)
			index[i], index[j] = index[j], index[i]
		}
		for s := 0; s < active; s++ {
			i := index[s]
			row := x[i*d : (i+1)*d]
			g := wb * bias
			for j, v := range row {
				g += w[j] * v
			}
			g = g*y[i] - 1 + alpha[i]*diag[i]
			pg := 0.0
			if alpha[i] == 0 {
				if g > pgMaxOld {
					active--
					index[s], index[active] = index[active], index[s]
					s--
					continue
				}
				if g < 0 {
					pg = g
				}
			} else {
				pg = g
			}
			pgMax = math.Max(pgMax, pg)
			pgMin = math.Min(pgMin, pg)
			if math.Abs(pg) > 1e-12 {
				old := alpha[i]
				alpha[i] = math.Max(alpha[i]-g/qd[i], 0)
				delta := (alpha[i] - old) * y[i]
				for j, v := range row {
					w[j] += delta * v
				}
				wb += delta * bias
			}
		}
		iter++
		if pgMax-pgMin <= p.Tol {
			if active == n {
				break
			}
			active = n
			pgMaxOld, pgMinOld = math.Inf(1), math.Inf(-1)
			continue
		}
		pgMaxOld, pgMinOld = pgMax, pgMin
		if pgMaxOld <= 0 {
			pgMaxOld = math.Inf(1)
		}
		if pgMinOld >= 0 {
			pgMinOld = math.Inf(-1)
		}
	}
	return &LinearSVM{W: w, B: wb * bias, Iters: iter}, nil
}

// NormalizeRows returns f as float64 with each row divided by its L2 norm
// plus 1e-5, as MMSelfSup's SVM scripts prepare features.
func NormalizeRows(f Features) []float64 {
	out := make([]float64, len(f.Data))
	for i := 0; i < f.N; i++ {
		var s float64
		for _, v := range f.Data[i*f.D : (i+1)*f.D] {
			s += float64(v) * float64(v)
		}
		s = math.Sqrt(s) + 1e-5
		for j, v := range f.Data[i*f.D : (i+1)*f.D] {
			out[i*f.D+j] = float64(v) / s
		}
	}
	return out
}

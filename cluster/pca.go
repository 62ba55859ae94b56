package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// maxPointsPerD is faiss PCAMatrix's max_points_per_d: training uses at
// most 1000·D random rows.
const maxPointsPerD = 1000

// PCAMatrix is faiss's PCAMatrix(d_in, d_out, eigen_power) as trained by
// DeepCluster's preprocess_features: y = A·(x − mean), with A's rows the
// top d_out eigenvectors of the scatter matrix Σ(x−mean)(x−mean)ᵀ (not
// divided by N, as faiss), each scaled by (eigenvalue + Eps)^EigenPower.
// With EigenPower −0.5 the outputs are whitened: Σ y yᵀ = I over the
// training rows, i.e. their covariance is I/N.
type PCAMatrix struct {
	Mean        *ts.Tensor // D, float32
	A           *ts.Tensor // d_out×D, float32
	Eigenvalues []float64  // all D eigenvalues of the scatter matrix, descending
}

// TrainPCA fits a PCAMatrix on the rows of x (N×D float32). Eps is added to
// the eigenvalues before the power (faiss's epsilon, default 0). When N
// exceeds 1000·D, a random subset of 1000·D rows (drawn from rng) is used,
// as faiss does. The eigendecomposition runs in float64 on x's device.
func TrainPCA(x *ts.Tensor, dOut int, eigenPower, eps float64, rng *rand.Rand) (*PCAMatrix, error) {
	p := &PCAMatrix{}
	err := torchx.Run(func(s *torchx.Scope) error {
		n, d, err := matrixShape(x)
		if err != nil {
			return err
		}
		if dOut < 1 || int64(dOut) > d {
			return fmt.Errorf("cluster: PCA to %d dims from %d", dOut, d)
		}
		xs := x
		if n > maxPointsPerD*d {
			xs = s.T(rowsOf(s, x, rng.Perm(int(n))[:maxPointsPerD*d]))
			n = maxPointsPerD * d
		}
		xd := s.T(xs.Totype(gotch.Double, false))
		mean := s.T(xd.MeanDim([]int64{0}, true, gotch.Double, false)) // 1×D
		xc := s.T(xd.Sub(mean, false))
		scatter := s.T(s.T(xc.T(false)).Mm(xc, false)) // D×D
		vals, vecs := s.T2(scatter.LinalgEigh("U", false))
		ev := s.Float64s(vals) // ascending
		order := make([]int64, d)
		p.Eigenvalues = make([]float64, d)
		for i := range order {
			order[i] = d - 1 - int64(i)
			p.Eigenvalues[i] = ev[d-1-int64(i)]
		}
		scale := make([]float32, dOut)
		for i := range scale {
			scale[i] = float32(math.Pow(p.Eigenvalues[i]+eps, eigenPower))
		}
		dev, err := x.Device()
		s.Check(err)
		idx := s.T(torchx.FromInt64sOn(order[:dOut], dev, int64(dOut)))
		top := s.T(vecs.IndexSelect(1, idx, false)) // D×d_out, descending eigenvalues
		a := s.T(s.T(top.T(false)).Totype(gotch.Float, false))
		sc := s.T(torchx.FromFloat32sOn(scale, dev, int64(dOut), 1))
		p.A = s.Keep(s.T(s.T(a.Mul(sc, false)).Contiguous(false)))
		p.Mean = s.Keep(s.T(s.T(mean.SqueezeDim(0, false)).Totype(gotch.Float, false)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: train PCA: %w", err)
	}
	return p, nil
}

// Apply maps the rows of x (N×D) to N×d_out; the caller owns the result.
func (p *PCAMatrix) Apply(x *ts.Tensor) (*ts.Tensor, error) {
	var out *ts.Tensor
	err := torchx.Run(func(s *torchx.Scope) error {
		at := s.T(p.A.T(false))                                                 // D×d_out
		b := s.T(s.T(s.T(p.Mean.Unsqueeze(0, false)).Mm(at, false)).Neg(false)) // 1×d_out = −A·mean
		out = s.Keep(s.T(b.Addmm(x, at, false)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: apply PCA: %w", err)
	}
	return out, nil
}

// Close drops the matrix's tensors.
func (p *PCAMatrix) Close() {
	if p.Mean != nil {
		_ = p.Mean.Drop()
	}
	if p.A != nil {
		_ = p.A.Drop()
	}
	p.Mean, p.A = nil, nil
}

// Preprocess is DeepCluster's preprocess_features(x, pca)
// (utils/clustering.py, components.md §6.1): refuse NaN input; when
// pcaDim ≠ −1, PCA to pcaDim dims with whitening (eigen_power −0.5); then
// zero NaNs if they are at most 0.1 % of the values (error otherwise); and
// L2-normalise rows as x/(‖x‖ + 1e-10). x is N×D float32; the caller owns
// the result.
func Preprocess(x *ts.Tensor, pcaDim int, rng *rand.Rand) (*ts.Tensor, error) {
	var out *ts.Tensor
	err := torchx.Run(func(s *torchx.Scope) error {
		if _, _, err := matrixShape(x); err != nil {
			return err
		}
		if anyNaN(s, x) {
			return fmt.Errorf("nan occurs in the features")
		}
		y := x
		if pcaDim != -1 {
			p, err := TrainPCA(x, pcaDim, -0.5, 0, rng)
			if err != nil {
				return err
			}
			y, err = p.Apply(x)
			p.Close()
			s.T(y, err)
			nan := s.T(y.Isnan(false))
			if frac := s.Scalar(s.T(nan.Mean(gotch.Double, false))); frac > 0 {
				if frac > 0.001 {
					return fmt.Errorf("more than 0.1%% nan after PCA: %.4g%%", frac*100)
				}
				s.Check(y.MaskedFill_(nan, s.Float(0)))
			}
		}
		out = s.Keep(normalizeRows(s, y, 1e-10))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: preprocess features: %w", err)
	}
	return out, nil
}

// normalizeRows is x/(‖x‖₂ + eps) row-wise (a scope temporary).
func normalizeRows(s *torchx.Scope, x *ts.Tensor, eps float64) *ts.Tensor {
	n := s.T(x.NormScalaroptDim(s.Float(2), []int64{1}, true, false))
	n = s.T(n.AddScalar(s.Float(eps), false))
	return s.T(x.Div(n, false))
}

func anyNaN(s *torchx.Scope, x *ts.Tensor) bool {
	return s.Scalar(s.T(s.T(x.Isnan(false)).Any(false))) != 0
}

// rowsOf gathers rows idx of x (an untracked result for s.T).
func rowsOf(s *torchx.Scope, x *ts.Tensor, idx []int) (*ts.Tensor, error) {
	dev, err := x.Device()
	if err != nil {
		return nil, err
	}
	ix := make([]int64, len(idx))
	for i, v := range idx {
		ix[i] = int64(v)
	}
	t := s.T(torchx.FromInt64sOn(ix, dev, int64(len(ix))))
	return x.IndexSelect(0, t, false)
}

// matrixShape checks x is a non-empty 2-D float32 matrix.
func matrixShape(x *ts.Tensor) (n, d int64, err error) {
	dims, err := x.Size()
	if err != nil {
		return 0, 0, err
	}
	if len(dims) != 2 || dims[0] == 0 || dims[1] == 0 {
		return 0, 0, fmt.Errorf("features of shape %v, want N×D with N, D > 0", dims)
	}
	if x.DType() != gotch.Float {
		return 0, 0, fmt.Errorf("features of dtype %v, want float32", x.DType())
	}
	return dims[0], dims[1], nil
}

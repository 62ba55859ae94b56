package model

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/ts"
)

// ClipGradNorm rescales the gradients of params in place so that their
// joint normType-norm is at most maxNorm and returns the norm before
// clipping, with torch.nn.utils.clip_grad_norm_ (1.13) semantics:
// parameters without a gradient are ignored (result 0 if none has one);
// total = ‖(‖g_1‖_p, …, ‖g_n‖_p)‖_p (max of |g| for p = +Inf);
// every gradient is multiplied by min(1, maxNorm/(total + 1e-6)), computed
// in float32 as torch does. Call it on a locked OS thread.
func ClipGradNorm(params []Param, maxNorm, normType float64) (float64, error) {
	if maxNorm < 0 || math.IsNaN(maxNorm) {
		return 0, fmt.Errorf("clip_grad_norm: max_norm %v must be ≥ 0", maxNorm)
	}
	if normType <= 0 && !math.IsInf(normType, 1) {
		return 0, fmt.Errorf("clip_grad_norm: norm_type %v must be > 0", normType)
	}
	var total float64
	err := WithoutGrad(func() error {
		var grads []*ts.Tensor
		defer func() {
			for _, g := range grads {
				g.Drop()
			}
		}()
		for _, p := range params {
			g, err := gradOf(p.T)
			if err != nil {
				return fmt.Errorf("clip_grad_norm: grad of %s: %w", p.Name, err)
			}
			if g != nil {
				grads = append(grads, g)
			}
		}
		if len(grads) == 0 {
			return nil
		}
		s := &scratch{}
		defer s.drop()
		norms := make([]ts.Tensor, len(grads))
		for i, g := range grads {
			n := s.pNorm(g, normType)
			if s.err != nil {
				return fmt.Errorf("clip_grad_norm: %w", s.err)
			}
			norms[i] = *n
		}
		stacked, err := ts.Stack(norms, 0)
		s.own("stack", stacked, err)
		tot := s.pNorm(stacked, normType)
		if s.err != nil {
			return fmt.Errorf("clip_grad_norm: %w", s.err)
		}
		total, err = tot.Float64Value([]int64{})
		if err != nil {
			return fmt.Errorf("clip_grad_norm: total: %w", err)
		}
		denom := s.addScalar(tot, 1e-6) // out of place: see optim_ops_outofplace.go
		if s.err != nil {
			return fmt.Errorf("clip_grad_norm: %w", s.err)
		}
		rec, err := denom.Reciprocal(false)
		coef := s.mulScalar(s.own("reciprocal", rec, err), maxNorm)
		if s.err != nil {
			return fmt.Errorf("clip_grad_norm: %w", s.err)
		}
		one := ts.FloatScalar(1)
		defer one.Drop()
		if err := coef.ClampMax_(one); err != nil {
			return fmt.Errorf("clip_grad_norm: clamp: %w", err)
		}
		for _, g := range grads {
			if err := g.Mul_(coef); err != nil {
				return fmt.Errorf("clip_grad_norm: scale: %w", err)
			}
		}
		return nil
	})
	return total, err
}

// pNorm is torch.norm(t, p) over all elements (p = +Inf: max |t|).
func (s *scratch) pNorm(t *ts.Tensor, p float64) *ts.Tensor {
	if s.err != nil {
		return nil
	}
	if math.IsInf(p, 1) {
		a, err := t.Abs(false)
		if err != nil {
			s.fail("abs", err)
			return nil
		}
		m, err := a.Max(true)
		return s.own("max", m, err)
	}
	if p == 2 {
		n, err := t.Norm(false)
		return s.own("norm", n, err)
	}
	sc := ts.FloatScalar(p)
	defer sc.Drop()
	n, err := t.NormScalaroptDtype(sc, t.DType(), false)
	return s.own("norm", n, err)
}

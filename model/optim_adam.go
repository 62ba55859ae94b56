package model

import (
	"math"

	"github.com/sugarme/gotch/ts"
)

// Adam is torch.optim.Adam, or torch.optim.AdamW when Decoupled (1.13,
// single-tensor path). With step count t, lr η, betas β1 β2, eps ε, weight
// decay λ:
//
//	Adam:  g ← g + λ·p            AdamW: p ← p·(1 − η·λ)
//	m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
//	v̂ = max(v̂, v) if amsgrad
//	p ← p − η/(1−β1^t) · m / (√v(or v̂)/√(1−β2^t) + ε)
//
// State keys: step, exp_avg, exp_avg_sq (+ max_exp_avg_sq with amsgrad).
type Adam struct {
	base
	Decoupled bool
}

// NewAdam builds torch.optim.Adam.
func NewAdam(params []Param, groups []Group) (*Adam, error) {
	b, err := newBase("Adam", params, groups)
	if err != nil {
		return nil, err
	}
	return &Adam{base: b}, nil
}

// NewAdamW builds torch.optim.AdamW (decoupled weight decay).
func NewAdamW(params []Param, groups []Group) (*Adam, error) {
	b, err := newBase("AdamW", params, groups)
	if err != nil {
		return nil, err
	}
	return &Adam{base: b, Decoupled: true}, nil
}

// Step applies one Adam/AdamW update.
func (o *Adam) Step() error {
	return o.stepEach(func(i int, g *Group, grad *ts.Tensor, s *scratch) {
		p := o.params[i].T
		if o.state[i]["exp_avg"] == nil {
			o.setState(i, "exp_avg", s.zerosLike(p), s)
			o.setState(i, "exp_avg_sq", s.zerosLike(p), s)
			if g.Amsgrad {
				o.setState(i, "max_exp_avg_sq", s.zerosLike(p), s)
			}
			if s.err != nil {
				return
			}
			o.steps[i] = 0
		}
		o.steps[i]++
		step := o.steps[i]
		if o.Decoupled {
			s.mulScalarInPlace(p, 1-g.LR*g.WeightDecay)
		} else if g.WeightDecay != 0 {
			grad = s.addScaled(grad, p, g.WeightDecay)
		}
		m, v := o.state[i]["exp_avg"], o.state[i]["exp_avg_sq"]
		b1, b2 := g.Betas[0], g.Betas[1]
		s.mulScalarInPlace(m, b1)
		s.addScaledInPlace(m, grad, 1-b1)
		s.mulScalarInPlace(v, b2)
		s.addInPlace(v, s.mulScalar(s.mul(grad, grad), 1-b2))

		bc1 := 1 - math.Pow(b1, step)
		bc2 := 1 - math.Pow(b2, step)
		stepSize := g.LR / bc1
		sec := v
		if g.Amsgrad {
			mx := o.state[i]["max_exp_avg_sq"]
			if mx == nil { // amsgrad switched on after the first step
				mx = s.clone(v)
				o.setState(i, "max_exp_avg_sq", mx, s)
			}
			if s.err == nil {
				r, err := mx.MaximumOut(mx, v, false)
				if err == nil {
					err = r.Drop() // r aliases mx's storage through a new handle
				}
				s.fail("maximum", err)
			}
			sec = mx
		}
		// Out of place: an in-place op on this temporary would strand its
		// buffer (optim_ops_outofplace.go).
		denom := s.addScalar(s.divScalar(s.sqrt(sec), math.Sqrt(bc2)), g.Eps)
		s.addScaledInPlace(p, s.div(m, denom), -stepSize)
	})
}

package model

import "github.com/sugarme/gotch/ts"

// SGD is torch.optim.SGD (1.13, single-tensor path): with weight decay λ,
// momentum μ, dampening τ and learning rate η,
//
//	d = g + λ·p
//	buf = d (first step) | μ·buf + (1−τ)·d
//	d = d + μ·buf (nesterov) | buf
//	p ← p − η·d
//
// State key: momentum_buffer (only when μ ≠ 0).
type SGD struct{ base }

// NewSGD builds an SGD over params with the given groups.
func NewSGD(params []Param, groups []Group) (*SGD, error) {
	b, err := newBase("SGD", params, groups)
	if err != nil {
		return nil, err
	}
	return &SGD{b}, nil
}

// Step applies one SGD update.
func (o *SGD) Step() error {
	return o.stepEach(func(i int, g *Group, grad *ts.Tensor, s *scratch) {
		d := grad
		if g.WeightDecay != 0 {
			d = s.addScaled(d, o.params[i].T, g.WeightDecay)
		}
		if g.Momentum != 0 {
			d = momentumDirection(&o.base, i, g, d, s)
		}
		s.addScaledInPlace(o.params[i].T, d, -g.LR)
	})
}

// momentumDirection updates param i's momentum buffer with d and returns
// the direction to apply, shared by SGD and LARS.
func momentumDirection(b *base, i int, g *Group, d *ts.Tensor, s *scratch) *ts.Tensor {
	buf := b.state[i]["momentum_buffer"]
	if buf == nil {
		buf = s.clone(d)
		b.setState(i, "momentum_buffer", buf, s)
	} else {
		s.mulScalarInPlace(buf, g.Momentum)
		s.addScaledInPlace(buf, d, 1-g.Dampening)
	}
	if g.Nesterov {
		return s.addScaled(d, buf, g.Momentum)
	}
	return buf
}

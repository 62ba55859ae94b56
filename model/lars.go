package model

import "github.com/sugarme/gotch/ts"

// LARS is MMSelfSup's layer-wise adaptive rate scaling SGD
// (mmselfsup/core/optimizer/optimizers.py, You et al. 2017). Per parameter
// p with gradient g, in a group with lr η, weight decay λ, trust
// coefficient eta, momentum μ, dampening τ:
//
//	local = 1 if lars_exclude or ‖p‖ = 0 or ‖g‖ = 0,
//	        else eta·‖p‖ / (‖g‖ + λ·‖p‖ + eps)
//	d = (g + λ·p)·(local·η)
//	buf = d (first step) | μ·buf + (1−τ)·d;  d = d + μ·buf (nesterov) | buf
//	p ← p − d
//
// Unlike SGD the learning rate sits inside the momentum buffer. Norms are
// taken as float32 tensors and combined in float64, as the Python .item()
// calls do. State key: momentum_buffer.
type LARS struct {
	base
	Eps float64 // global, not per group (MMSelfSup default 1e-8)
}

// NewLARS builds a LARS optimizer.
func NewLARS(params []Param, groups []Group, eps float64) (*LARS, error) {
	b, err := newBase("LARS", params, groups)
	if err != nil {
		return nil, err
	}
	return &LARS{base: b, Eps: eps}, nil
}

// Step applies one LARS update.
func (o *LARS) Step() error {
	return o.stepEach(func(i int, g *Group, grad *ts.Tensor, s *scratch) {
		p := o.params[i].T
		local := 1.0
		if !g.LarsExclude {
			wn, gn := s.norm2(p), s.norm2(grad)
			if wn != 0 && gn != 0 {
				local = g.Eta * wn / (gn + g.WeightDecay*wn + o.Eps)
			}
		}
		d := s.mulScalar(s.addScaled(grad, p, g.WeightDecay), local*g.LR)
		if g.Momentum != 0 {
			d = momentumDirection(&o.base, i, g, d, s)
		}
		s.addScaledInPlace(p, d, -1)
	})
}

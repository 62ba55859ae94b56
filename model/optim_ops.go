package model

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/internal/torchx"
)

// scratch runs a sequence of tensor operations, keeps the first error and
// owns every intermediate so that one drop() frees them all. After an error
// every further call is a no-op returning nil, so update rules read as
// straight-line math and check the error once.
type scratch struct {
	err  error
	tmps []*ts.Tensor
}

func (s *scratch) fail(op string, err error) {
	if s.err == nil && err != nil {
		s.err = fmt.Errorf("%s: %w", op, err)
	}
}

// own records t as a temporary of this scratch.
func (s *scratch) own(op string, t *ts.Tensor, err error) *ts.Tensor {
	if err != nil {
		s.fail(op, err)
		return nil
	}
	s.tmps = append(s.tmps, t)
	return t
}

// release removes t from the temporaries: the caller keeps it.
func (s *scratch) release(t *ts.Tensor) *ts.Tensor {
	for i, x := range s.tmps {
		if x == t {
			s.tmps = append(s.tmps[:i], s.tmps[i+1:]...)
			break
		}
	}
	return t
}

func (s *scratch) drop() {
	for _, t := range s.tmps {
		if err := t.Drop(); err != nil {
			s.fail("drop", err)
		}
	}
	s.tmps = nil
}

// mulScalar returns a·v as a new tensor.
func (s *scratch) mulScalar(a *ts.Tensor, v float64) *ts.Tensor {
	if s.err != nil {
		return nil
	}
	sc := ts.FloatScalar(v)
	defer sc.Drop()
	r, err := a.MulScalar(sc, false)
	return s.own("mul", r, err)
}

// clone returns an independent copy of a (values bit-identical).
func (s *scratch) clone(a *ts.Tensor) *ts.Tensor { return s.mulScalar(a, 1) }

func (s *scratch) add(a, b *ts.Tensor) *ts.Tensor {
	if s.err != nil {
		return nil
	}
	r, err := a.Add(b, false)
	return s.own("add", r, err)
}

func (s *scratch) mul(a, b *ts.Tensor) *ts.Tensor {
	if s.err != nil {
		return nil
	}
	r, err := a.Mul(b, false)
	return s.own("mul", r, err)
}

func (s *scratch) div(a, b *ts.Tensor) *ts.Tensor {
	if s.err != nil {
		return nil
	}
	r, err := a.Div(b, false)
	return s.own("div", r, err)
}

func (s *scratch) sqrt(a *ts.Tensor) *ts.Tensor {
	if s.err != nil {
		return nil
	}
	r, err := a.Sqrt(false)
	return s.own("sqrt", r, err)
}

func (s *scratch) zerosLike(a *ts.Tensor) *ts.Tensor {
	if s.err != nil {
		return nil
	}
	r, err := a.ZerosLike(false)
	return s.own("zeros_like", r, err)
}

// addScaled returns a + alpha·b (torch's a.add(b, alpha=alpha)).
func (s *scratch) addScaled(a, b *ts.Tensor, alpha float64) *ts.Tensor {
	if alpha == 1 {
		return s.add(a, b)
	}
	return s.add(a, s.mulScalar(b, alpha))
}

// inplace helpers: a is modified.

func (s *scratch) addInPlace(a, b *ts.Tensor) {
	if s.err != nil {
		return
	}
	s.fail("add_", a.Add_(b))
}

// addScaledInPlace is torch's a.add_(b, alpha=alpha).
func (s *scratch) addScaledInPlace(a, b *ts.Tensor, alpha float64) {
	if alpha == 1 {
		s.addInPlace(a, b)
		return
	}
	s.addInPlace(a, s.mulScalar(b, alpha))
}

func (s *scratch) mulScalarInPlace(a *ts.Tensor, v float64) {
	if s.err != nil {
		return
	}
	sc := ts.FloatScalar(v)
	defer sc.Drop()
	s.fail("mul_", a.MulScalar_(sc))
}

func (s *scratch) divScalarInPlace(a *ts.Tensor, v float64) {
	if s.err != nil {
		return
	}
	sc := ts.FloatScalar(v)
	defer sc.Drop()
	s.fail("div_", a.DivScalar_(sc))
}

func (s *scratch) addScalarInPlace(a *ts.Tensor, v float64) {
	if s.err != nil {
		return
	}
	sc := ts.FloatScalar(v)
	defer sc.Drop()
	s.fail("add_", a.AddScalar_(sc))
}

// copyInPlace copies b into a; shapes must already agree (Copy_ has no
// error form and would end the process otherwise).
func (s *scratch) copyInPlace(a, b *ts.Tensor) {
	if s.err != nil {
		return
	}
	as, err := a.Size()
	if err != nil {
		s.fail("copy_", err)
		return
	}
	bs, err := b.Size()
	if err != nil {
		s.fail("copy_", err)
		return
	}
	if !sameShape(as, bs) {
		s.fail("copy_", fmt.Errorf("shape %v into %v", bs, as))
		return
	}
	a.Copy_(b)
}

// norm2 is torch.norm(a).item(): the L2 norm over all elements, computed in
// the tensor's dtype and widened to float64.
func (s *scratch) norm2(a *ts.Tensor) float64 {
	if s.err != nil {
		return 0
	}
	n, err := a.Norm(false)
	if err != nil {
		s.fail("norm", err)
		return 0
	}
	defer n.Drop()
	v, err := n.Float64Value([]int64{})
	if err != nil {
		s.fail("norm item", err)
		return 0
	}
	return v
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// WithoutGrad runs fn with libtorch's grad mode off on this OS thread and
// restores the previous mode (torch.no_grad). The caller must hold
// runtime.LockOSThread so that fn's tensor calls stay on this thread.
func WithoutGrad(fn func() error) error { return torchx.WithoutGrad(fn) }

// gradOf returns p's gradient (a new handle the caller drops) or nil when
// the parameter has none, as PyTorch's p.grad is None.
func gradOf(p *ts.Tensor) (*ts.Tensor, error) {
	g, err := p.Grad(false)
	if err != nil {
		return nil, err
	}
	ok, err := g.Defined()
	if err != nil {
		g.Drop()
		return nil, err
	}
	if !ok {
		g.Drop()
		return nil, nil
	}
	return g, nil
}

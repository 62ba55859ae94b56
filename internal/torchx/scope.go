package torchx

import (
	"fmt"

	"github.com/sugarme/gotch/ts"
)

// Scope tracks the tensors and scalars of one Run so they are freed
// together. It belongs to the Run that created it and to that Run's thread.
type Scope struct {
	live    []*ts.Tensor
	kept    map[*ts.Tensor]bool
	scalars []*ts.Scalar
}

// raised carries a gotch error from Scope.T up to Run; it never escapes Run.
type raised struct{ err error }

// Run calls fn with a fresh Scope. It returns fn's error, or the first error
// raised through the Scope (T, T2, Check, Fail), or a panic of fn turned
// into an error. It then drops every tracked tensor not kept; on error it
// drops the kept ones as well.
func Run(fn func(s *Scope) error) (err error) {
	s := &Scope{kept: map[*ts.Tensor]bool{}}
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(raised); ok {
				err = e.err
			} else {
				err = fmt.Errorf("torchx: panic: %v", r)
			}
		}
		s.close(err != nil)
	}()
	return fn(s)
}

// T tracks t and returns it; a non-nil err aborts the Run with that error.
// Use it around gotch's error forms: y := s.T(x.Mm(w, false)).
func (s *Scope) T(t *ts.Tensor, err error) *ts.Tensor {
	if err != nil {
		panic(raised{err})
	}
	return s.Track(t)
}

// T2 is T for gotch calls that return two tensors.
func (s *Scope) T2(a, b *ts.Tensor, err error) (*ts.Tensor, *ts.Tensor) {
	if err != nil {
		panic(raised{err})
	}
	return s.Track(a), s.Track(b)
}

// Check aborts the Run when err is non-nil (in-place gotch calls).
func (s *Scope) Check(err error) {
	if err != nil {
		panic(raised{err})
	}
}

// Fail aborts the Run with a formatted error.
func (s *Scope) Fail(format string, args ...any) {
	panic(raised{fmt.Errorf(format, args...)})
}

// Track adds t to the scope (nil is ignored) and returns it.
func (s *Scope) Track(t *ts.Tensor) *ts.Tensor {
	if t != nil {
		s.live = append(s.live, t)
	}
	return t
}

// Keep marks t to survive a successful Run; the caller becomes its owner.
func (s *Scope) Keep(t *ts.Tensor) *ts.Tensor {
	s.kept[t] = true
	return t
}

// Drop frees a tracked, not kept tensor now (long loops), instead of at the
// end of the Run.
func (s *Scope) Drop(t *ts.Tensor) {
	for i := len(s.live) - 1; i >= 0; i-- {
		if s.live[i] == t {
			s.live = append(s.live[:i], s.live[i+1:]...)
			delete(s.kept, t)
			_ = t.Drop()
			return
		}
	}
}

// Float returns a float scalar freed with the scope.
func (s *Scope) Float(v float64) *ts.Scalar {
	sc := ts.FloatScalar(v)
	s.scalars = append(s.scalars, sc)
	return sc
}

// Int returns an integer scalar freed with the scope.
func (s *Scope) Int(v int64) *ts.Scalar {
	sc := ts.IntScalar(v)
	s.scalars = append(s.scalars, sc)
	return sc
}

// Live is the number of tracked tensors a successful Run would drop now.
func (s *Scope) Live() int {
	n := 0
	for _, t := range s.live {
		if !s.kept[t] {
			n++
		}
	}
	return n
}

func (s *Scope) close(dropKept bool) {
	seen := make(map[*ts.Tensor]bool, len(s.live))
	for _, t := range s.live {
		if seen[t] || (s.kept[t] && !dropKept) {
			continue
		}
		seen[t] = true
		_ = t.Drop()
	}
	for _, sc := range s.scalars {
		_ = sc.Drop()
	}
	s.live, s.scalars = nil, nil
}

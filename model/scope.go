package model

import "github.com/sugarme/gotch/ts"

// Scope collects the tensors created during one step so they can be freed
// together: Track each result, Keep the few that must outlive the step, and
// Close drops the rest. A Scope is reusable: after Close it holds only the
// kept tensors, which it never drops (their new owner does).
//
// A Scope is not safe for concurrent use; like the tensors it holds it
// belongs to one Pinned thread.
type Scope struct {
	live []*ts.Tensor
	kept map[*ts.Tensor]bool
}

// NewScope returns an empty scope.
func NewScope() *Scope { return &Scope{kept: map[*ts.Tensor]bool{}} }

// Track adds t to the scope and returns it, so calls nest:
// y := s.Track(x.MustRelu(false)). A nil t is ignored.
func (s *Scope) Track(t *ts.Tensor) *ts.Tensor {
	if t != nil {
		s.live = append(s.live, t)
	}
	return t
}

// TrackErr is Track for the (tensor, error) results of gotch's error forms.
func (s *Scope) TrackErr(t *ts.Tensor, err error) (*ts.Tensor, error) {
	if err != nil {
		return nil, err
	}
	return s.Track(t), nil
}

// TrackAll tracks every tensor of ts and returns it.
func (s *Scope) TrackAll(xs []*ts.Tensor) []*ts.Tensor {
	for _, t := range xs {
		s.Track(t)
	}
	return xs
}

// TrackLosses tracks every tensor of l.
func (s *Scope) TrackLosses(l *Losses) *Losses {
	if l != nil {
		s.TrackAll(l.vals)
	}
	return l
}

// Keep marks t as surviving Close; the caller becomes its owner.
func (s *Scope) Keep(t *ts.Tensor) *ts.Tensor {
	s.kept[t] = true
	return t
}

// Live is the number of tracked tensors that Close would drop.
func (s *Scope) Live() int {
	n := 0
	for _, t := range s.live {
		if !s.kept[t] {
			n++
		}
	}
	return n
}

// Close drops every tracked tensor that was not kept. A tensor tracked twice
// is dropped once.
func (s *Scope) Close() {
	seen := make(map[*ts.Tensor]bool, len(s.live))
	for _, t := range s.live {
		if s.kept[t] || seen[t] {
			continue
		}
		seen[t] = true
		t.MustDrop()
	}
	s.live = s.live[:0]
	s.kept = map[*ts.Tensor]bool{}
}

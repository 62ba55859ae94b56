package model

import "github.com/sugarme/gotch/ts"

// Out-of-place scalar ops for the optimizers' temporaries. gotch's
// in-place ops (DivScalar_, AddScalar_, …) hand back a new C handle and
// overwrite the Go tensor's, never freeing the old one; on a parameter or
// a state tensor that only strands a small handle, but on a temporary the
// stranded handle keeps the whole buffer alive after the temporary is
// dropped (AdamW lost one parameter-sized tensor per parameter per step).
// Temporaries therefore use these new-tensor forms.

// divScalar returns a/v as a new tensor.
func (s *scratch) divScalar(a *ts.Tensor, v float64) *ts.Tensor {
	if s.err != nil {
		return nil
	}
	sc := ts.FloatScalar(v)
	defer sc.Drop()
	r, err := a.DivScalar(sc, false)
	return s.own("div", r, err)
}

// addScalar returns a+v as a new tensor.
func (s *scratch) addScalar(a *ts.Tensor, v float64) *ts.Tensor {
	if s.err != nil {
		return nil
	}
	sc := ts.FloatScalar(v)
	defer sc.Drop()
	r, err := a.AddScalar(sc, false)
	return s.own("add", r, err)
}

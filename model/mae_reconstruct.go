package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// MAEReconstruction is what MAE makes of one batch under a fixed mask,
// for inspection (MAE's visualisation): images are in the input's
// (normalised) space, N×3×H×W, owned by the caller (Drop frees them).
type MAEReconstruction struct {
	// Masked is the input with the removed patches zeroed.
	Masked *ts.Tensor
	// Pasted is the input's visible patches with the decoder's prediction
	// in the removed ones; with norm_pix the prediction is mapped back to
	// pixels with each target patch's mean and standard deviation, as the
	// MAE paper's figures do.
	Pasted *ts.Tensor
	// Loss is the head's loss on this batch: the (norm-pix) MSE over the
	// removed patches.
	Loss float64
}

// Drop frees the images.
func (r *MAEReconstruction) Drop() {
	for _, t := range []*ts.Tensor{r.Masked, r.Pasted} {
		if t != nil {
			t.MustDrop()
		}
	}
}

// Reconstruct runs encoder, decoder and head on x (N×3×H×W, normalised
// as in training) in eval mode without gradient, with the per-patch noise
// (N×L) fixing which patches are removed, as ForwardWithNoise.
func (m *MAE) Reconstruct(x, noise *ts.Tensor) (*MAEReconstruction, error) {
	out := &MAEReconstruction{}
	err := WithoutGrad(func() error {
		s := NewScope()
		defer s.Close()
		enc, err := m.backbone.ForwardWithNoise(x, noise, false)
		if err != nil {
			return err
		}
		s.TrackAll(enc)
		pred, err := m.neck.Forward([]*ts.Tensor{enc[0], enc[2]}, false)
		if err != nil {
			return err
		}
		s.TrackAll(pred)
		l, err := m.head.Loss(x, pred[0], enc[1])
		if err != nil {
			return err
		}
		s.TrackLosses(l)
		out.Loss = l.Get("loss").Float64Values()[0]
		target, err := s.TrackErr(m.head.Patchify(x)) // N×L×p²·3
		if err != nil {
			return err
		}
		pix := pred[0]
		if m.head.cfg.NormPix {
			mean := s.Track(target.MustMeanDim([]int64{-1}, true, gotch.Float, false))
			v := s.Track(target.MustVarDim([]int64{-1}, true, true, false))
			std := s.Track(addScalar(v, 1e-6, false).MustSqrt(true))
			pix = s.Track(s.Track(pix.MustMul(std, false)).MustAdd(mean, false))
		}
		w := s.Track(enc[1].MustUnsqueeze(-1, false)) // N×L×1, 1 = removed
		keep := s.Track(addScalar(s.Track(w.MustNeg(false)), 1, false))
		vis := s.Track(target.MustMul(keep, false))
		pasted := s.Track(vis.MustAdd(s.Track(pix.MustMul(w, false)), false))
		d := x.MustSize()
		if out.Masked, err = m.unpatchify(vis, d); err != nil {
			return err
		}
		out.Pasted, err = m.unpatchify(pasted, d)
		return err
	})
	if err != nil {
		out.Drop()
		return nil, fmt.Errorf("MAE reconstruction: %w", err)
	}
	return out, nil
}

// unpatchify inverts MAEPretrainHead.Patchify for an image of dims d.
func (m *MAE) unpatchify(t *ts.Tensor, d []int64) (*ts.Tensor, error) {
	p := int64(m.head.cfg.PatchSize)
	g := d[2] / p
	r, err := t.Reshape([]int64{d[0], g, g, p, p, 3}, false) // n h w p q c
	if err != nil {
		return nil, err
	}
	return r.MustPermute([]int64{0, 5, 1, 3, 2, 4}, true). // n c h p w q
								MustReshape([]int64{d[0], 3, g * p, g * p}, true), nil
}

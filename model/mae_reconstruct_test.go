package model

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// TestMAEReconstructPastesVisiblePatches: under a fixed noise, Pasted
// equals the input on the kept patches (unpatchify inverts Patchify),
// Masked is zero exactly on the removed ones (75% of them), and Loss is
// the head's loss of the same forward.
func TestMAEReconstructPastesVisiblePatches(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(21)
		a, _ := algoBuild(t, tinyMAECfg())
		m := a.(*MAE)
		x := ts.MustRandn([]int64{2, 3, 32, 32}, gotch.Float, gotch.CPU)
		l := m.backbone.NumPatches()
		noise := ts.MustRand([]int64{2, l}, gotch.Float, gotch.CPU)
		defer algoDropAll([]*ts.Tensor{x, noise})
		r, err := m.Reconstruct(x, noise)
		if err != nil {
			return err
		}
		defer r.Drop()
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
		want, err := m.head.Loss(x, pred[0], enc[1])
		if err != nil {
			return err
		}
		s.TrackLosses(want)
		if w := want.Get("loss").Float64Values()[0]; math.Abs(w-r.Loss) > 1e-6*math.Max(1, w) {
			t.Errorf("Loss %g, head loss %g", r.Loss, w)
		}
		xp := s.Track(must(m.head.Patchify(x)))
		pp := s.Track(must(m.head.Patchify(r.Pasted)))
		mp := s.Track(must(m.head.Patchify(r.Masked)))
		xv, pv, mv, mask := xp.Float64Values(), pp.Float64Values(), mp.Float64Values(), enc[1].Float64Values()
		d := len(xv) / len(mask)
		removed := 0
		for i, w := range mask {
			removed += int(w)
			for j := i * d; j < (i+1)*d; j++ {
				if w == 0 && (pv[j] != xv[j] || mv[j] != xv[j]) {
					t.Fatalf("patch %d is kept but Pasted/Masked differ from the input", i)
				}
				if w == 1 && mv[j] != 0 {
					t.Fatalf("patch %d is removed but Masked is not zero there", i)
				}
			}
		}
		if removed != 2*int(l-l/4) {
			t.Errorf("%d patches removed, want %d", removed, 2*(l-l/4))
		}
		return nil
	})
}

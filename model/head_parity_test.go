package model

import (
	"path/filepath"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// TestHeadParityTorch compares every head's loss with
// testdata/nets/ref_heads.py (torch 1.13.1) on the same inputs and weights:
// ContrastiveHead, ClsHead (loss, acc), LatentPredictHead (NonLinearNeck
// predictor, train-mode BN), LatentCrossCorrelationHead (and its running
// mean), Sinkhorn, and SwAVHead without and with a queue (loss, normalised
// prototypes, the queue after its update). Tolerance 1e-4 relative.
func TestHeadParityTorch(t *testing.T) {
	needTorch(t)
	dir := t.TempDir()
	onPinned(t, func() error {
		ManualSeed(7)
		s := NewScope()
		defer s.Close()
		randn := func(dims ...int64) *ts.Tensor { return s.Track(ts.MustRandn(dims, gotch.Float, gotch.CPU)) }
		scalar := func(v float64) *ts.Tensor {
			return s.Track(ts.MustOfSlice([]float64{v}).MustSqueeze(true))
		}
		in := []Named{
			{Name: "contrastive.pos", T: randn(4, 1)}, {Name: "contrastive.neg", T: randn(4, 16)},
			{Name: "contrastive.t", T: scalar(0.2)},
		}
		// ClsHead on 4-D features with avg-pool.
		vs := nn.NewVarStore(gotch.CPU)
		cls, err := NewClsHead(vs.Root().Sub("head"), ClsHeadConfig{WithAvgPool: true, InChannels: 8, NumClasses: 5})
		if err != nil {
			return err
		}
		clsX := randn(6, 8, 3, 3)
		labels := s.Track(ts.MustOfSlice([]int64{0, 1, 2, 3, 4, 0}))
		in = append(in, Named{Name: "cls.x", T: clsX}, Named{Name: "cls.labels", T: labels},
			Named{Name: "cls.fc_cls.weight", T: cls.fc.w}, Named{Name: "cls.fc_cls.bias", T: cls.fc.b})
		// LatentPredictHead with BYOL's predictor shape.
		lvs := nn.NewVarStore(gotch.CPU)
		lh, err := BuildHead(lvs.Root().Sub("head"), map[string]any{"type": "LatentPredictHead", "predictor": map[string]any{
			"type": "NonLinearNeck", "in_channels": 6, "hid_channels": 12, "out_channels": 6,
			"with_bias": true, "with_last_bn": false, "with_avg_pool": false, "norm_cfg": map[string]any{"type": "BN1d"}}})
		if err != nil {
			return err
		}
		randomiseBN(lvs)
		for _, e := range StateDict(lvs) {
			in = append(in, Named{Name: "latent." + e.Name[len("head."):], T: e.T})
		}
		lIn, lTg := randn(5, 6), randn(5, 6)
		in = append(in, Named{Name: "latent.input", T: lIn}, Named{Name: "latent.target", T: lTg})
		// Barlow Twins head.
		xvs := nn.NewVarStore(gotch.CPU)
		xh, err := NewLatentCrossCorrelationHead(xvs.Root().Sub("head"), LatentCrossCorrelationHeadConfig{InChannels: 7, Lambd: 0.0051})
		if err != nil {
			return err
		}
		z1, z2 := randn(6, 7), randn(6, 7)
		in = append(in, Named{Name: "xcorr.z1", T: z1}, Named{Name: "xcorr.z2", T: z2}, Named{Name: "xcorr.lambd", T: scalar(0.0051)})
		sc := randn(5, 9)
		in = append(in, Named{Name: "sinkhorn.scores", T: sc})
		// SwAV: 4 crops of batch 3, 8-d features, 10 prototypes, queue of 6.
		z := s.Track(l2Normalize(randn(12, 8)))
		protos := randn(10, 8)
		queue := randn(2, 6, 8)
		in = append(in, Named{Name: "swav.z", T: z}, Named{Name: "swav.prototypes.weight", T: protos}, Named{Name: "swav.queue", T: queue})
		writeTensors(t, filepath.Join(dir, "in.pth"), in)
		runRefScript(t, "heads", filepath.Join(dir, "in.pth"), filepath.Join(dir, "out.pth"))
		ref := readTensors(t, filepath.Join(dir, "out.pth"))

		check := func(key string, got *ts.Tensor) {
			t.Helper()
			if d := relDiff(t, key, got, refTensor(t, ref, key)); d > 1e-4 {
				t.Errorf("%s: relative diff %.3g > 1e-4", key, d)
			}
		}
		noGradDo(func() {
			l, err := (&ContrastiveHead{T: 0.2}).Loss(in[0].T, in[1].T)
			if err != nil {
				t.Fatal(err)
			}
			s.TrackLosses(l)
			check("contrastive.loss", l.Get("loss"))

			scores, err := cls.Forward([]*ts.Tensor{clsX}, true)
			if err != nil {
				t.Fatal(err)
			}
			s.TrackAll(scores)
			cl, err := cls.Loss(scores, labels)
			if err != nil {
				t.Fatal(err)
			}
			s.TrackLosses(cl)
			check("cls.loss", cl.Get("loss"))
			check("cls.acc", cl.Get("acc"))

			ll, err := lh.(LatentHead).Loss(lIn, lTg, true)
			if err != nil {
				t.Fatal(err)
			}
			s.TrackLosses(ll)
			check("latent.loss", ll.Get("loss"))

			xl, err := xh.Loss(z1, z2, true)
			if err != nil {
				t.Fatal(err)
			}
			s.TrackLosses(xl)
			check("xcorr.loss", xl.Get("loss"))
			check("xcorr.bn.running_mean", xh.bn.mean)

			q, err := Sinkhorn(sc, 3, 0.05)
			if err != nil {
				t.Fatal(err)
			}
			s.Track(q)
			check("sinkhorn.q", q)
		})
		for _, mode := range []string{"noqueue", "queue"} {
			svs := nn.NewVarStore(gotch.CPU)
			sh, err := NewSwAVHead(svs.Root().Sub("head"), SwAVHeadConfig{FeatDim: 8, SinkhornIterations: 3, Epsilon: 0.05,
				Temperature: 0.1, CropsForAssign: []int{0, 1}, NumCrops: []int{2, 2}, NumPrototypes: 10})
			if err != nil {
				return err
			}
			noGradDo(func() { sh.prototypes.w.Copy_(protos) })
			var qcopy *ts.Tensor
			if mode == "queue" {
				qcopy = s.Track(queue.MustMulScalar(ts.FloatScalar(1), false))
				if err := sh.SetQueue(qcopy); err != nil {
					return err
				}
			}
			sl, err := sh.Loss(z)
			if err != nil {
				return err
			}
			s.TrackLosses(sl)
			check("swav."+mode+".loss", sl.Get("loss"))
			check("swav."+mode+".prototypes", sh.prototypes.w)
			if mode == "queue" {
				check("swav.queue.after", qcopy)
				if !sh.UseQueue() {
					t.Error("queue with a non-zero last row was not used")
				}
			}
		}
		return nil
	})
}

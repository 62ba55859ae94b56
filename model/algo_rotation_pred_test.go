package model

import (
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// rotationCfg is _base_/models/rotation-pred.py with ResNet-18.
func rotationCfg() map[string]any {
	return map[string]any{
		"type":     "RotationPred",
		"backbone": tinyResNet(),
		"head":     map[string]any{"type": "ClsHead", "with_avg_pool": true, "in_channels": 512, "num_classes": 4},
	}
}

// mmselfsupRotations is RotationPredDataset's rotate() on an NCHW batch:
// [img, flip(imgᵀ, H), flip(img, H, W), flip(img, H)ᵀ] (HW transposed).
func mmselfsupRotations(x *ts.Tensor) []*ts.Tensor {
	return []*ts.Tensor{
		x.MustShallowClone(),
		x.MustTranspose(2, 3, false).MustFlip([]int64{2}, true),
		x.MustFlip([]int64{2, 3}, false),
		x.MustFlip([]int64{2}, false).MustTranspose(2, 3, true),
	}
}

func TestRotationPredLayoutLossAndAcc(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(50)
		a, vs := algoBuild(t, rotationCfg())
		m := a.(*RotationPred)
		checkKeyLayout(t, algoKeys(vs), []string{"backbone", "head"}, nil,
			[]string{"backbone.conv1.weight", "backbone.layer4.1.bn2.running_mean", "head.fc_cls.weight", "head.fc_cls.bias"}, nil)
		x := ts.MustRandn([]int64{3, 3, 32, 32}, gotch.Float, gotch.CPU)
		defer x.MustDrop()
		rots := mmselfsupRotations(x)
		defer algoDropAll(rots)

		one := stepValues(t, a, &StepInput{Views: []*ts.Tensor{x}})
		four := stepValues(t, a, &StepInput{Views: rots})
		if math.Abs(one["loss"]-four["loss"]) > 1e-5 || one["acc"] != four["acc"] {
			t.Fatalf("one view rotated in the model %v, four pre-rotated views %v: rotation directions differ", one, four)
		}

		// MMSelfSup's forward: N×4×C×H×W viewed as 4N, labels flattened.
		s := NewScope()
		defer s.Close()
		var want, wantAcc float64
		if err := WithoutGrad(func() error {
			parts := []ts.Tensor{*rots[0], *rots[1], *rots[2], *rots[3]}
			batch := s.Track(ts.MustStack(parts, 1).MustView([]int64{12, 3, 32, 32}, true))
			feats, err := m.backbone.Forward(batch, true)
			if err != nil {
				return err
			}
			s.TrackAll(feats)
			sc, err := m.head.Forward(feats, true)
			if err != nil {
				return err
			}
			s.TrackAll(sc)
			labels := make([]int64, 12)
			for i := range labels {
				labels[i] = int64(i % 4)
			}
			want, wantAcc = ceAcc(f64s(sc[0]), labels, 4)
			return nil
		}); err != nil {
			return err
		}
		if math.Abs(four["loss"]-want) > 1e-5 || math.Abs(four["acc"]-wantAcc) > 1e-4 {
			t.Fatalf("loss %.6f acc %.2f, CE/top-1 from the scores %.6f / %.2f", four["loss"], four["acc"], want, wantAcc)
		}

		// acc is logged, not summed into the total.
		l, err := a.TrainStep(&StepInput{Views: rots})
		if err != nil {
			return err
		}
		total, err := l.Total()
		if err != nil {
			return err
		}
		if tv, lv := total.Float64Values()[0], l.Values()["loss"]; math.Abs(tv-lv) > 1e-6 {
			t.Fatalf("total %.6f, loss %.6f: acc leaked into the total", tv, lv)
		}
		total.MustDrop()
		l.Drop()

		// Explicit labels reorder the targets: all-zero labels give the CE
		// of class 0 everywhere.
		zeros := make([]*ts.Tensor, 4)
		for i := range zeros {
			zeros[i] = ts.MustZeros([]int64{3}, gotch.Int64, gotch.CPU)
		}
		defer algoDropAll(zeros)
		z := stepValues(t, a, &StepInput{Views: rots, ViewLabels: zeros})
		if math.Abs(z["loss"]-four["loss"]) < 1e-6 {
			t.Fatal("ViewLabels ignored")
		}

		for _, c := range []struct {
			in   *StepInput
			want string
		}{
			{&StepInput{Views: rots[:2]}, "2 views"},
			{&StepInput{Views: rots[:1], ViewLabels: zeros[:1]}, "ViewLabels given with one view"},
			{&StepInput{Views: rots, ViewLabels: zeros[:3]}, "3 ViewLabels for 4 views"},
		} {
			if _, err := a.TrainStep(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		}
		return nil
	})
}

func TestRotationPredLossFalls(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(51)
		a, vs := algoBuild(t, rotationCfg())
		v := algoImages(1, 4, 32)
		defer algoDropAll(v)
		trainSteps(t, a, vs, &StepInput{Views: v}, 8, 0.05, nil)
		return nil
	})
}

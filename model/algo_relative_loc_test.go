package model

import (
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// relativeLocCfg is _base_/models/relative-loc.py with ResNet-18 and a
// 32-wide neck (head init_cfg as shipped).
func relativeLocCfg() map[string]any {
	return map[string]any{
		"type":     "RelativeLoc",
		"backbone": tinyResNet(),
		"neck":     map[string]any{"type": "RelativeLocNeck", "in_channels": 512, "out_channels": 32, "with_avg_pool": true},
		"head": map[string]any{"type": "ClsHead", "with_avg_pool": false, "in_channels": 32, "num_classes": 8,
			"init_cfg": []any{
				map[string]any{"type": "Normal", "std": 0.005, "layer": "Linear"},
				map[string]any{"type": "Constant", "val": 1, "layer": []any{"_BatchNorm", "GroupNorm"}},
			}},
	}
}

// TrainStep on 9 grid views equals MMSelfSup's path on the tensor
// RelativeLocDataset builds: N×8×6×h×w pairs (outer patch ‖ centre),
// viewed as 8N, chunked into the two 3-channel halves, each through the
// backbone, concatenated, neck, head; labels [0..7] per image.
func TestRelativeLocMatchesMMSelfSupLayout(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(60)
		a, vs := algoBuild(t, relativeLocCfg())
		m := a.(*RelativeLoc)
		checkKeyLayout(t, algoKeys(vs), []string{"backbone", "neck", "head"}, nil,
			[]string{"backbone.conv1.weight", "neck.fc.weight", "neck.fc.bias", "neck.bn.running_var", "head.fc_cls.weight"}, nil)
		const n = 2
		grid := algoImages(9, n, 32)
		defer algoDropAll(grid)

		ManualSeed(7) // the neck's dropout draws the same mask in both runs
		got := stepValues(t, a, &StepInput{Views: grid})

		s := NewScope()
		defer s.Close()
		var want, wantAcc float64
		ManualSeed(7)
		if err := WithoutGrad(func() error {
			var pairs []ts.Tensor
			for i := 0; i < 9; i++ {
				if i != 4 {
					pairs = append(pairs, *s.Track(ts.MustCat([]ts.Tensor{*grid[i], *grid[4]}, 1))) // N×6×h×w
				}
			}
			img := s.Track(ts.MustStack(pairs, 1).MustView([]int64{8 * n, 6, 32, 32}, true)) // 8N×6×h×w
			img1 := s.Track(img.MustNarrow(1, 0, 3, false))
			img2 := s.Track(img.MustNarrow(1, 3, 3, false))
			f1, err := m.backbone.Forward(img1, true)
			if err != nil {
				return err
			}
			s.TrackAll(f1)
			f2, err := m.backbone.Forward(img2, true)
			if err != nil {
				return err
			}
			s.TrackAll(f2)
			x := s.Track(ts.MustCat([]ts.Tensor{*f1[0], *f2[0]}, 1))
			h, err := m.neck.Forward([]*ts.Tensor{x}, true)
			if err != nil {
				return err
			}
			s.TrackAll(h)
			sc, err := m.head.Forward(h, true)
			if err != nil {
				return err
			}
			s.TrackAll(sc)
			labels := make([]int64, 8*n)
			for i := range labels {
				labels[i] = int64(i % 8)
			}
			want, wantAcc = ceAcc(f64s(sc[0]), labels, 8)
			return nil
		}); err != nil {
			return err
		}
		if math.Abs(got["loss"]-want) > 1e-5 || math.Abs(got["acc"]-wantAcc) > 1e-4 {
			t.Fatalf("loss %.6f acc %.2f; MMSelfSup layout gives %.6f / %.2f", got["loss"], got["acc"], want, wantAcc)
		}
		if math.Abs(want-math.Log(8)) > 0.05 {
			t.Fatalf("initial loss %.4f, want ≈ ln 8 (head init N(0, 0.005²))", want)
		}

		short := grid[:8]
		labs := []*ts.Tensor{ts.MustZeros([]int64{n}, gotch.Int64, gotch.CPU)}
		defer algoDropAll(labs)
		for _, c := range []struct {
			in   *StepInput
			want string
		}{
			{&StepInput{Views: short}, "pair view 0 has shape"},
			{&StepInput{Views: grid, ViewLabels: labs}, "1 ViewLabels, want none or 8"},
		} {
			if _, err := a.TrainStep(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		}
		return nil
	})
}

func TestRelativeLocLossFalls(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(61)
		a, vs := algoBuild(t, relativeLocCfg())
		grid := algoImages(9, 2, 32)
		defer algoDropAll(grid)
		trainSteps(t, a, vs, &StepInput{Views: grid}, 8, 0.1, nil)
		return nil
	})
}

package model

import (
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// swavCfg is _base_/models/swav.py with ResNet-18, a 64-wide hidden layer,
// 16-d features, 10 prototypes and crops [2, 3].
func swavCfg() map[string]any {
	return map[string]any{
		"type":     "SwAV",
		"backbone": tinyResNet(),
		"neck":     map[string]any{"type": "SwAVNeck", "in_channels": 512, "hid_channels": 64, "out_channels": 16, "with_avg_pool": true, "norm_cfg": map[string]any{"type": "BN"}},
		"head": map[string]any{"type": "SwAVHead", "feat_dim": 16, "epsilon": 0.05, "temperature": 0.1,
			"num_crops": []any{2, 3}, "num_prototypes": 10},
	}
}

// swavViews is 2 crops of 32 px and 3 of 16 px of a batch of n.
func swavViews(n int64) []*ts.Tensor {
	return append(algoImages(2, n, 32), algoImages(3, n, 16)...)
}

// The views are grouped by width (32, 32 | 16, 16, 16), one backbone pass
// per group, the neck's rows in view order; the loss is the head's on
// that z, and the prototypes come out L2-normalised.
func TestSwAVGroupsCropsAndNormalisesPrototypes(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(90)
		a, vs := algoBuild(t, swavCfg())
		m := a.(*SwAV)
		checkKeyLayout(t, algoKeys(vs), []string{"backbone", "neck", "head"}, map[string]string{"neck.projection_neck.1": "neck.bn"},
			[]string{"head.prototypes.weight", "neck.projection_neck.0.weight", "neck.projection_neck.3.bias", "neck.bn.running_var"}, nil)
		v := swavViews(3)
		defer algoDropAll(v)
		got := stepValues(t, a, &StepInput{Views: v})

		s := NewScope()
		defer s.Close()
		var want float64
		if err := WithoutGrad(func() error {
			var outs []*ts.Tensor
			for _, g := range [][]*ts.Tensor{v[:2], v[2:]} {
				parts := make([]ts.Tensor, len(g))
				for i, x := range g {
					parts[i] = *x
				}
				f, err := m.backbone.Forward(s.Track(ts.MustCat(parts, 0)), true)
				if err != nil {
					return err
				}
				s.TrackAll(f)
				outs = append(outs, f[0])
			}
			z, err := m.neck.Forward(outs, true)
			if err != nil {
				return err
			}
			s.TrackAll(z)
			if d := z[0].MustSize(); d[0] != 15 || d[1] != 16 {
				t.Fatalf("z is %v, want 15×16 (5 views of 3)", d)
			}
			l, err := m.head.Loss(z[0])
			if err != nil {
				return err
			}
			want = l.Values()["loss"]
			l.Drop()
			return nil
		}); err != nil {
			return err
		}
		if math.Abs(got["loss"]-want) > 1e-5 {
			t.Fatalf("loss %.6f, head on the grouped z %.6f", got["loss"], want)
		}
		norms := f64s(m.head.prototypes.w.MustNormScalaroptDim(ts.FloatScalar(2), []int64{1}, false, false))
		for i, n := range norms {
			if math.Abs(n-1) > 1e-5 {
				t.Fatalf("prototype %d has norm %.6f after the step", i, n)
			}
		}
		if _, err := a.TrainStep(&StepInput{Views: v[:4]}); err == nil || !strings.Contains(err.Error(), "4 views") {
			t.Fatalf("4 views for num_crops [2 3]: err %v", err)
		}
		return nil
	})
}

func TestSwAVLossFalls(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(91)
		a, vs := algoBuild(t, swavCfg())
		v := swavViews(4)
		defer algoDropAll(v)
		trainSteps(t, a, vs, &StepInput{Views: v}, 6, 0.05, nil)
		return nil
	})
}

// TestSwAVParityTorch runs MMSelfSup's SwAV forward_train
// (testdata/nets/ref_swav.py, torch 1.13.1) on the same weights and crops,
// without and with a queue: loss, normalised prototypes, every parameter's
// gradient, and the queue after its update. Tolerance 1e-4 relative.
func TestSwAVParityTorch(t *testing.T) {
	needTorch(t)
	for _, mode := range []string{"noqueue", "queue"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			onPinned(t, func() error {
				ManualSeed(92)
				a, vs := algoBuild(t, swavCfg())
				m := a.(*SwAV)
				v := swavViews(2)
				defer algoDropAll(v)
				var in []Named
				for _, e := range StateDict(vs) {
					in = append(in, Named{Name: "sd." + e.Name, T: e.T})
				}
				for i, x := range v {
					in = append(in, Named{Name: "view." + string(rune('0'+i)), T: x})
				}
				nc := ts.MustOfSlice([]int64{2, 3})
				defer nc.MustDrop()
				in = append(in, Named{Name: "num_crops", T: nc})
				var queue *ts.Tensor
				if mode == "queue" {
					queue = ts.MustRandn([]int64{2, 4, 16}, gotch.Float, gotch.CPU)
					defer queue.MustDrop()
					in = append(in, Named{Name: "queue", T: queue})
				}
				writeTensors(t, filepath.Join(dir, "in.pth"), in)
				cmd := exec.Command(refPython, filepath.Join("testdata", "nets", "ref_swav.py"), filepath.Join(dir, "in.pth"), filepath.Join(dir, "out.pth"))
				cmd.Env = append(cmd.Environ(), "OMP_NUM_THREADS=1")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("ref_swav.py: %v\n%s", err, out)
				}
				ref := readTensors(t, filepath.Join(dir, "out.pth"))

				if queue != nil {
					if err := m.SetQueue(queue); err != nil {
						return err
					}
				}
				l, err := a.TrainStep(&StepInput{Views: v})
				if err != nil {
					return err
				}
				total, err := l.Total()
				if err != nil {
					return err
				}
				if err := total.Backward(); err != nil {
					return err
				}
				check := func(key string, got *ts.Tensor) {
					t.Helper()
					if d := relDiff(t, key, got, refTensor(t, ref, key)); d > 1e-4 {
						t.Errorf("%s: relative diff %.3g > 1e-4", key, d)
					}
				}
				check("loss", total)
				check("prototypes", m.head.prototypes.w)
				n := 0
				for _, e := range StateDict(vs) {
					if _, err := ref.Tensor("grad." + e.Name); err != nil {
						continue
					}
					g := e.T.MustGrad(false)
					check("grad."+e.Name, g)
					g.MustDrop()
					n++
				}
				if n < 60 {
					t.Fatalf("compared %d gradients, want every parameter's", n)
				}
				if queue != nil {
					check("queue.after", queue)
					if !m.UseQueue() {
						t.Error("a random queue (non-zero last row) was not used")
					}
				}
				total.MustDrop()
				l.Drop()
				return nil
			})
		})
	}
}

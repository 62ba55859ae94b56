package model

import (
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"testing"

	"github.com/sugarme/gotch/ts"
)

// TestTransformerAlgorithmsDoNotLeak runs forward+backward steps of MoCo
// v3, MAE, SimMIM and CAE and requires RSS to grow by less than 6 MiB over 20
// steps after a 6-step warm-up (as TestAlgorithmsDoNotLeak).
func TestTransformerAlgorithmsDoNotLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("RSS leak check skipped in -short")
	}
	for _, c := range []struct {
		cfg    map[string]any
		views  int
		masked bool
	}{{mocov3Cfg(), 2, false}, {tinyMAECfg(), 1, false}, {tinySimMIMCfg(), 1, true}, {tinyCAECfg(), 0, true}} {
		t.Run(c.cfg["type"].(string), func(t *testing.T) {
			onPinned(t, func() error {
				ManualSeed(91)
				a, _ := algoBuild(t, c.cfg)
				v := algoImages(c.views, 4, 32)
				defer algoDropAll(v)
				in := &StepInput{Views: v}
				if c.views == 0 { // CAE: image, tokenizer image, mask
					img, imgT, mask := caeInputs(4)
					defer algoDropAll([]*ts.Tensor{img, imgT, mask})
					in = &StepInput{Views: []*ts.Tensor{img}, Seconds: []*ts.Tensor{imgT}, Masks: []*ts.Tensor{mask}}
				} else if c.masked {
					mask := randomMask(4)
					defer mask.MustDrop()
					in.Masks = []*ts.Tensor{mask}
				}
				return stepNoLeak(t, func(it int) error {
					l, err := a.TrainStep(in)
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
					total.MustDrop()
					l.Drop()
					if mt, ok := a.(MomentumTarget); ok {
						if err := mt.MomentumUpdate(0.99); err != nil {
							return err
						}
					}
					return nil
				})
			})
		})
	}
}

// TestMoCoV3HeadDoesNotLeak sizes MoCo v3's head so that any tensor it
// failed to drop would show: 256 samples × 256 features, so one leaked
// N×C (or N×N logits) tensor per step is 256 KiB, and 60 steps would grow
// RSS by 15 MiB; the check allows 4 MiB over 60 steps (allocator noise)
// after a 10-step warm-up, taking the best of three windows.
func TestMoCoV3HeadDoesNotLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("RSS leak check skipped in -short")
	}
	onPinned(t, func() error {
		ManualSeed(92)
		c := mocov3Cfg()
		h := c["head"].(map[string]any)
		h["predictor"].(map[string]any)["in_channels"] = 256
		h["predictor"].(map[string]any)["out_channels"] = 256
		h["predictor"].(map[string]any)["hid_channels"] = 256
		vs := nn.NewVarStore(gotch.CPU)
		hd, err := BuildHead(vs.Root().Sub("head"), h)
		if err != nil {
			return err
		}
		head := hd.(*MoCoV3Head)
		q := ts.MustRandn([]int64{256, 256}, gotch.Float, gotch.CPU).MustSetRequiresGrad(true, true)
		k := ts.MustRandn([]int64{256, 256}, gotch.Float, gotch.CPU)
		defer algoDropAll([]*ts.Tensor{q, k})
		step := func() error {
			l, err := head.Loss(q, k, true)
			if err != nil {
				return err
			}
			if err := l.Get("loss").Backward(); err != nil {
				return err
			}
			l.Drop()
			return nil
		}
		for range 10 {
			if err := step(); err != nil {
				return err
			}
		}
		best := int64(1 << 62)
		for range 3 {
			base := rssBytes(t)
			for range 60 {
				if err := step(); err != nil {
					return err
				}
			}
			best = min(best, rssBytes(t)-base)
		}
		t.Logf("best RSS growth over 60 head steps: %.2f MiB", float64(best)/(1<<20))
		if best > 4<<20 {
			t.Errorf("MoCoV3Head: RSS grew %.2f MiB over 60 steps in every window", float64(best)/(1<<20))
		}
		return nil
	})
}

// TestAdamWStepDoesNotStrandBuffers: AdamW (MAE, SimMIM, MoCo v3 and CAE
// train with it) once updated its denominator temporary in place, which
// in gotch strands the temporary's buffer; with 8 parameters of 256×256
// that lost 2 MiB per step. 40 steps must now grow RSS by less than
// 8 MiB (best of three windows), with gradient clipping on as well.
func TestAdamWStepDoesNotStrandBuffers(t *testing.T) {
	if testing.Short() {
		t.Skip("RSS leak check skipped in -short")
	}
	onPinned(t, func() error {
		var params []Param
		for i := range 8 {
			p := ts.MustRandn([]int64{256, 256}, gotch.Float, gotch.CPU).MustSetRequiresGrad(true, true)
			defer p.MustDrop()
			params = append(params, Param{Name: "w" + string(rune('0'+i)), T: p})
		}
		var total *ts.Tensor
		for _, p := range params {
			sq := p.T.MustMul(p.T, false).MustSum(gotch.Float, true)
			if total == nil {
				total = sq
			} else {
				total = total.MustAdd(sq, true)
				sq.MustDrop()
			}
		}
		if err := total.Backward(); err != nil {
			return err
		}
		total.MustDrop()
		opt, err := BuildOptimizer(params, map[string]any{"type": "AdamW", "lr": 1e-6, "weight_decay": 0.05})
		if err != nil {
			return err
		}
		defer opt.Close()
		step := func() error {
			if _, err := ClipGradNorm(params, 1.0, 2); err != nil {
				return err
			}
			return opt.Step()
		}
		for range 5 {
			if err := step(); err != nil {
				return err
			}
		}
		best := int64(1 << 62)
		for range 3 {
			base := rssBytes(t)
			for range 40 {
				if err := step(); err != nil {
					return err
				}
			}
			best = min(best, rssBytes(t)-base)
		}
		t.Logf("best RSS growth over 40 AdamW steps: %.2f MiB", float64(best)/(1<<20))
		if best > 8<<20 {
			t.Errorf("AdamW: RSS grew %.2f MiB over 40 steps in every window", float64(best)/(1<<20))
		}
		return nil
	})
}

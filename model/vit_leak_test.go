package model

import (
	"testing"

	"github.com/sugarme/gotch/ts"
)

// TestTransformerAlgorithmsDoNotLeak runs forward+backward steps of MoCo
// v3, MAE and SimMIM and requires RSS to grow by less than 6 MiB over 20
// steps after a 6-step warm-up (as TestAlgorithmsDoNotLeak).
func TestTransformerAlgorithmsDoNotLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("RSS leak check skipped in -short")
	}
	for _, c := range []struct {
		cfg    map[string]any
		views  int
		masked bool
	}{{mocov3Cfg(), 2, false}, {tinyMAECfg(), 1, false}, {tinySimMIMCfg(), 1, true}} {
		t.Run(c.cfg["type"].(string), func(t *testing.T) {
			onPinned(t, func() error {
				ManualSeed(91)
				a, _ := algoBuild(t, c.cfg)
				v := algoImages(c.views, 4, 32)
				defer algoDropAll(v)
				in := &StepInput{Views: v}
				if c.masked {
					mask := randomMask(4)
					defer mask.MustDrop()
					in.ViewLabels = []*ts.Tensor{mask}
				}
				var base int64
				for it := 0; it < 26; it++ {
					if it == 6 {
						base = rssBytes(t)
					}
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
				}
				grew := rssBytes(t) - base
				t.Logf("RSS growth over 20 steps: %.2f MiB", float64(grew)/(1<<20))
				if grew > 6<<20 {
					t.Fatalf("RSS grew by %.1f MiB over 20 steps", float64(grew)/(1<<20))
				}
				return nil
			})
		})
	}
}

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

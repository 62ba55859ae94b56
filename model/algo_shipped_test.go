package model

import (
	"math"
	"testing"

	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/configs/tree"
)

// The CPU configs shipped for the algorithms of the algo_*_test.go files
// build from their merged `model` dicts and take a training step at the
// configs' 64 px (RelativeLoc: 3×3 grid patches of 21 px, as
// image_to_patches cuts a 64 px image).
func TestShippedCPUConfigsStep(t *testing.T) {
	for _, c := range []struct {
		name        string
		views, size int64
	}{
		{"selfsup/mocov1/mocov1_resnet18_shapes-64px_cpu.yaml", 2, 64},
		{"selfsup/byol/byol_resnet18_shapes-64px_cpu.yaml", 2, 64},
		{"selfsup/simsiam/simsiam_resnet18_shapes-64px_cpu.yaml", 2, 64},
		{"selfsup/barlowtwins/barlowtwins_resnet18_shapes-64px_cpu.yaml", 2, 64},
		{"selfsup/densecl/densecl_resnet18_shapes-64px_cpu.yaml", 2, 64},
		{"selfsup/rotation_pred/rotation-pred_resnet18_shapes-64px_cpu.yaml", 1, 64},
		{"selfsup/relative_loc/relative-loc_resnet18_shapes-64px_cpu.yaml", 9, 21},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := configs.Load(c.name, configs.LoadOptions{NoDisk: true})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := tree.Lookup(cfg.Tree, "model")
			if err != nil {
				t.Fatal(err)
			}
			mc, ok := tree.ToPlain(raw).(map[string]any)
			if !ok {
				t.Fatalf("model is %T", raw)
			}
			onPinned(t, func() error {
				ManualSeed(80)
				a, _ := algoBuild(t, mc)
				v := algoImages(int(c.views), 4, c.size)
				defer algoDropAll(v)
				vals := stepValues(t, a, &StepInput{Views: v})
				for k, x := range vals {
					if math.IsNaN(x) || math.IsInf(x, 0) {
						t.Fatalf("%s = %v", k, x)
					}
				}
				return nil
			})
		})
	}
}

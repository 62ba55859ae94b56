package model

import (
	"math"
	"testing"

	"github.com/sugarme/gotch/ts"
)

// mocov3Cfg is mocov3_vit-small-p16.py scaled down: a 2-layer 32-d ViT
// (patch 8, 32 px), 3-layer projector and 2-layer predictor with
// MMSelfSup's flags.
func mocov3Cfg() map[string]any {
	return map[string]any{
		"type": "MoCoV3", "base_momentum": 0.99,
		"backbone": map[string]any{"type": "VisionTransformer", "arch": tinyViTArch(), "img_size": 32, "patch_size": 8,
			"stop_grad_conv1": true},
		"neck": map[string]any{"type": "NonLinearNeck", "in_channels": 32, "hid_channels": 64, "out_channels": 16,
			"num_layers": 3, "with_bias": false, "with_last_bn": true, "with_last_bn_affine": false,
			"with_last_bias": false, "with_avg_pool": false, "vit_backbone": true},
		"head": map[string]any{"type": "MoCoV3Head", "temperature": 0.2, "predictor": map[string]any{
			"type": "NonLinearNeck", "in_channels": 16, "hid_channels": 64, "out_channels": 16, "num_layers": 2,
			"with_bias": false, "with_last_bn": true, "with_last_bn_affine": false, "with_last_bias": false,
			"with_avg_pool": false}},
	}
}

func TestMoCoV3StateDictAndMomentumInit(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(30)
		a, vs := algoBuild(t, mocov3Cfg())
		m := a.(*MoCoV3)
		checkKeyLayout(t, algoKeys(vs), []string{"base_encoder", "momentum_encoder", "backbone", "neck", "head"},
			map[string]string{"backbone": "base_encoder.0", "neck": "base_encoder.1", "momentum_encoder.0": "base_encoder.0"},
			[]string{"base_encoder.0.cls_token", "base_encoder.0.pos_embed", "base_encoder.0.patch_embed.projection.weight",
				"base_encoder.0.layers.1.attn.qkv.bias", "base_encoder.0.layers.0.ffn.layers.0.0.weight",
				"base_encoder.0.layers.0.ffn.layers.1.bias", "base_encoder.0.ln1.weight", "base_encoder.1.bn2.running_var",
				"momentum_encoder.1.fc2.weight", "backbone.layers.0.ln2.bias", "head.predictor.fc1.weight"},
			[]string{"base_encoder.1.bn2.weight", "base_encoder.1.fc0.bias", "head.predictor.bn1.weight"})
		for _, p := range m.pairs {
			if d := algoMaxDiff(p[0], p[1]); d != 0 {
				t.Fatalf("momentum encoder differs from the base by %g after init", d)
			}
		}
		if mt, ok := a.(MomentumTarget); !ok || mt.BaseMomentum() != 0.99 {
			t.Fatalf("MoCoV3 as MomentumTarget: %v", ok)
		}
		// θ_m ← 0.5·θ_m + 0.5·θ_b after θ_b changes.
		p := m.pairs[0]
		_ = WithoutGrad(func() error {
			tmp := addScalar(p[0], 1, false)
			p[0].Copy_(tmp)
			tmp.MustDrop()
			return nil
		})
		before := f64s(p[1])
		if err := m.MomentumUpdate(0.5); err != nil {
			return err
		}
		after, online := f64s(p[1]), f64s(p[0])
		for i := range after {
			if math.Abs(after[i]-(0.5*before[i]+0.5*online[i])) > 1e-6 {
				t.Fatalf("EMA element %d: %g, want %g", i, after[i], 0.5*before[i]+0.5*online[i])
			}
		}
		return nil
	})
}

// loss = 2T·[CE(norm(pred(q1))·norm(k2)ᵀ/T, arange) + (q2, k1)], from the
// model's own projections in float64.
func TestMoCoV3LossFormula(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(31)
		a, _ := algoBuild(t, mocov3Cfg())
		m := a.(*MoCoV3)
		v := algoImages(2, 4, 32)
		defer algoDropAll(v)
		got := stepValues(t, a, &StepInput{Views: v})["loss"]
		s := NewScope()
		defer s.Close()
		var want float64
		if err := WithoutGrad(func() error {
			var q, k [2][]float64
			for i := 0; i < 2; i++ {
				qi, err := m.base.forward(s, v[i], true)
				if err != nil {
					return err
				}
				pp, err := m.head.Predictor.Forward([]*ts.Tensor{qi}, true)
				if err != nil {
					return err
				}
				s.TrackAll(pp)
				ki, err := m.mom.forward(s, v[i], true)
				if err != nil {
					return err
				}
				q[i], k[i] = normRows(f64s(pp[0]), 4), normRows(f64s(ki), 4)
			}
			const temp = 0.2
			for _, pr := range [][2]int{{0, 1}, {1, 0}} {
				var ce float64
				for r := 0; r < 4; r++ {
					logits := make([]float64, 4)
					for c := 0; c < 4; c++ {
						for d := 0; d < 16; d++ {
							logits[c] += q[pr[0]][r*16+d] * k[pr[1]][c*16+d] / temp
						}
					}
					ce += ceRow(logits, r)
				}
				want += 2 * temp * ce / 4
			}
			return nil
		}); err != nil {
			return err
		}
		if math.Abs(got-want) > 1e-4 {
			t.Fatalf("MoCoV3 loss %.6f, formula from the projections %.6f", got, want)
		}
		return nil
	})
}

func TestMoCoV3LossFalls(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(32)
		a, vs := algoBuild(t, mocov3Cfg())
		v := algoImages(2, 8, 32)
		defer algoDropAll(v)
		mt := a.(MomentumTarget)
		trainSteps(t, a, vs, &StepInput{Views: v}, 6, 0.05, func(it int) error {
			return mt.MomentumUpdate(MomentumUpdate{EndMomentum: 1, UpdateInterval: 1}.Momentum(mt.BaseMomentum(), it, 6))
		})
		if feat, err := a.Features(v[0]); err != nil {
			return err
		} else {
			defer feat.MustDrop()
			if d := feat.MustSize(); len(d) != 2 || d[0] != 8 || d[1] != 32 {
				t.Fatalf("Features shape %v, want [8 32] (cls token)", d)
			}
		}
		return nil
	})
}

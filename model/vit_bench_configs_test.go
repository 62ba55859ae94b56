package model

import (
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/configs/tree"
)

// shippedDict loads a shipped config and returns the dict at path.
func shippedDict(t *testing.T, name, path string) map[string]any {
	t.Helper()
	cfg, err := configs.Load(name, configs.LoadOptions{NoDisk: true})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tree.Lookup(cfg.Tree, path)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := tree.ToPlain(raw).(map[string]any)
	if !ok {
		t.Fatalf("%s: %s is %T", name, path, raw)
	}
	return m
}

// TestViTBenchmarkConfigsBuild builds the ViT fine-tuning and linear
// probing benchmarks' models and optimizers from the shipped configs,
// with the architecture shrunk (arch dict, 32 px, patch 8) so that the
// test is fast, and takes a supervised step on two labelled images:
//   - vit-small-p16_linear (MoCo v3's probe): VisionTransformer with every
//     stage frozen (frozen_stages = num_layers), ClsHead on the cls token
//     (vit_backbone); only head.* trains; SGD.
//   - vit-base-p16_ft (MAE's fine-tuning) with its train_cfg.augments
//     (batch Mixup/CutMix, num_classes shrunk with the head):
//     MIMVisionTransformer (mean-pooled patches through fc_norm) and
//     MAEFinetuneHead; AdamW with TransformerFinetuneConstructor's
//     layer decay 0.65 (the head keeps the base LR, block 0 of 2 gets 0.65²).
//   - vit-base-p16_ft-…-rpe (CAE's fine-tuning): the same with use_window
//     (a relative position bias table per block, trainable) and γ 0.1.
//   - _base_/models/vit-base-p16_linprobe: finetune False freezes the
//     backbone; MAELinprobeHead (BN without affine, Linear) trains.
func TestViTBenchmarkConfigsBuild(t *testing.T) {
	tiny := map[string]any{"_delete_": true, "embed_dims": 32, "num_layers": 2, "num_heads": 4, "feedforward_channels": 64}
	shrink := func(mc map[string]any) {
		b := mc["backbone"].(map[string]any)
		a := map[string]any{}
		for k, v := range tiny {
			if k != "_delete_" {
				a[k] = v
			}
		}
		b["arch"], b["img_size"], b["patch_size"] = a, 32, 8
		if fs, ok := b["frozen_stages"]; ok && fs != nil {
			b["frozen_stages"] = 2
		}
		h := mc["head"].(map[string]any)
		for _, k := range []string{"in_channels", "embed_dim"} {
			if _, ok := h[k]; ok {
				h[k] = 32
			}
		}
		h["num_classes"] = 10
		if tc, ok := mc["train_cfg"].(map[string]any); ok {
			for _, a := range tc["augments"].([]any) {
				a.(map[string]any)["num_classes"] = 10
			}
		}
	}
	for _, c := range []struct {
		name, config string
		trainable    []string // every trainable parameter starts with one of these
		decayed      string   // a parameter whose LR is base·0.65³ (layer decay), or ""
	}{
		{"mocov3 linear", "benchmarks/classification/imagenet/vit-small-p16_linear-8xb128-coslr-90e_in1k.yaml", []string{"head."}, ""},
		{"mae finetune", "benchmarks/classification/imagenet/vit-base-p16_ft-8xb128-coslr-100e_in1k.yaml", []string{"backbone.", "head."}, "backbone.layers.0.ffn.layers.1.weight"},
		{"cae finetune rpe", "benchmarks/classification/imagenet/vit-base-p16_ft-8xb128-coslr-100e-rpe_in1k.yaml", []string{"backbone.", "head."}, "backbone.layers.0.attn.relative_position_bias_table"},
		{"mae linprobe", "benchmarks/classification/_base_/models/vit-base-p16_linprobe.yaml", []string{"head."}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			mc := shippedDict(t, c.config, "model")
			shrink(mc)
			var optCfg map[string]any
			if !strings.HasPrefix(c.name, "mae linprobe") {
				optCfg = shippedDict(t, c.config, "optimizer")
			} else {
				optCfg = map[string]any{"type": "SGD", "lr": 0.1, "momentum": 0.9}
			}
			onPinned(t, func() error {
				ManualSeed(40)
				a, vs := algoBuild(t, mc)
				params := ParamsOf(vs)
				for _, p := range params {
					ok := false
					for _, pre := range c.trainable {
						ok = ok || strings.HasPrefix(p.Name, pre)
					}
					if !ok {
						t.Errorf("%s trains, want only %v", p.Name, c.trainable)
					}
				}
				opt, err := BuildOptimizer(params, optCfg)
				if err != nil {
					return err
				}
				defer opt.Close()
				if c.decayed != "" {
					checkLayerDecayLR(t, opt, params, optCfg, c.decayed)
				}
				x := ts.MustRandn([]int64{2, 3, 32, 32}, gotch.Float, gotch.CPU)
				labels := ts.MustOfSlice([]int64{3, 7})
				defer algoDropAll([]*ts.Tensor{x, labels})
				l, err := a.TrainStep(&StepInput{Views: []*ts.Tensor{x}, Labels: labels})
				if err != nil {
					return err
				}
				defer l.Drop()
				total, err := l.Total()
				if err != nil {
					return err
				}
				defer total.MustDrop()
				v := total.Float64Values()[0]
				// Ten classes: a fresh classifier scores about ln 10.
				if math.IsNaN(v) || v < 0.5*math.Log(10) || v > 3*math.Log(10) {
					t.Errorf("loss %v, want about ln 10 = %.2f", v, math.Log(10))
				}
				if err := opt.ZeroGrad(); err != nil {
					return err
				}
				if err := total.Backward(); err != nil {
					return err
				}
				return opt.Step()
			})
		})
	}
}

// checkLayerDecayLR: the head's group keeps optimizer.lr and name's group
// (in block 0 of 2) gets lr·layer_decay².
func checkLayerDecayLR(t *testing.T, opt Optimizer, params []Param, cfg map[string]any, name string) {
	t.Helper()
	lr, decay := cfg["lr"].(float64), cfg["layer_decay"].(float64)
	found := 0
	for _, g := range opt.Groups() {
		for _, i := range g.Params {
			n := params[i].Name
			want := -1.0
			switch {
			case n == name:
				want = lr * decay * decay
			case n == "head.head.weight":
				want = lr
			}
			if want >= 0 {
				found++
				if !relClose(g.LR, want, 1e-12) {
					t.Errorf("%s: lr %.6g, want %.6g", n, g.LR, want)
				}
			}
		}
	}
	if found != 2 {
		t.Errorf("found %d of %s and head.head.weight among the groups", found, name)
	}
}

// TestViTFinetuneConfigsBuildFullSize builds the shipped ViT-B/16
// fine-tuning models as they are (no shrinking): the Mixup/CutMix augments
// parse (1000 classes, prob ½ each, nothing left for Identity), the
// backbone has 12 blocks, and the rpe variant gives each block a
// (2·14−1)²+3 = 732 × 12 relative_position_bias_table and a 197×197
// index; the trainable parameter count is ViT-B's plus the head (the
// tables add 12·732·12 = 105,408, the γs 12·2·768 = 18,432).
func TestViTFinetuneConfigsBuildFullSize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two ViT-B models")
	}
	for _, c := range []struct {
		config string
		rpe    bool
		params int64
	}{
		{"benchmarks/classification/imagenet/vit-base-p16_ft-8xb128-coslr-100e_in1k.yaml", false, 86_558_440},
		{"benchmarks/classification/imagenet/vit-base-p16_ft-8xb128-coslr-100e-rpe_in1k.yaml", true, 86_558_440 + 105_408 + 18_432},
	} {
		t.Run(c.config[strings.LastIndex(c.config, "/")+1:], func(t *testing.T) {
			mc := shippedDict(t, c.config, "model")
			onPinned(t, func() error {
				a, vs := algoBuild(t, mc)
				m := a.(*Classification)
				if m.augments == nil || m.augments.NumClasses() != 1000 || len(m.augments.augs) != 2 {
					t.Fatalf("augments %+v, want Mixup and CutMix over 1000 classes", m.augments)
				}
				var n int64
				for _, p := range ParamsOf(vs) {
					sz := p.T.MustSize()
					k := int64(1)
					for _, d := range sz {
						k *= d
					}
					n += k
				}
				if n != c.params {
					t.Errorf("%d trainable parameters, want %d", n, c.params)
				}
				v := m.backbone.(*MIMVisionTransformer)
				if len(v.layers) != 12 {
					t.Fatalf("%d blocks, want 12", len(v.layers))
				}
				for i, l := range v.layers {
					if (l.attn.rpe != nil) != c.rpe {
						t.Fatalf("block %d: relative position bias %v, want %v", i, l.attn.rpe != nil, c.rpe)
					}
					if c.rpe {
						if tb, ix := l.attn.rpe.table.MustSize(), l.attn.rpe.index.MustSize(); tb[0] != 732 || tb[1] != 12 || ix[0] != 197 || ix[1] != 197 {
							t.Errorf("block %d: table %v index %v, want [732 12] and [197 197]", i, tb, ix)
						}
					}
				}
				return nil
			})
		})
	}
}

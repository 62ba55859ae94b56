package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	finetuneShapes     = "benchmarks/classification/shapes/vit-tiny-p4_ft-1xb64-coslr-10e_shapes-32px.yaml"
	finetuneSwinShapes = "benchmarks/classification/shapes/swin-tiny_ft-1xb64-coslr-10e_shapes-32px.yaml"
)

// trainLosses reads the "train" lines' losses from dir's JSON log.
func trainLosses(t *testing.T, dir string) []float64 {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, "*.log.json"))
	if err != nil || len(logs) != 1 {
		t.Fatalf("want one JSON log in %s, got %v (%v)", dir, logs, err)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, line := range strings.Split(string(b), "\n") {
		var rec struct {
			Message string   `json:"message"`
			Loss    *float64 `json:"loss"`
		}
		if line == "" || json.Unmarshal([]byte(line), &rec) != nil || rec.Message != "train" || rec.Loss == nil {
			continue
		}
		out = append(out, *rec.Loss)
	}
	return out
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// TestFinetuneShapesCLI fine-tunes the Shapes ViT config from the CLI
// (`flowssl linear`, random init) with everything the ImageNet recipe
// uses — RandomAug (RandAugment, random erasing), batch Mixup/CutMix,
// label smoothing, drop path, AdamW with layer decay, StepFixCosineAnnealing
// — on 32 images in batches of 16 for 15 epochs (30 steps, lr 2e-3,
// --deterministic, about 2 s each), as it is, with CAE's variant
// (use_window, init_values 0.1), and the Shapes Swin config (SimMIM's
// recipe: MMClsImageClassifierWrapper, grad clip, cosine LR). For each:
// the first step's loss is ln 10 (within 0.01 for the ViT head's
// trunc-normal 2e-5 init, 0.1 for the Swin head's 0.02), the mean of the
// last 10 logged losses is at least 0.03 below the mean of the first 5,
// linear_eval.json reports head{i}_top1/top5 on the 32 held-out images,
// and in the rpe run every block's relative_position_bias_table (zero at
// init) has trained.
func TestFinetuneShapesCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("fine-tunes a ViT from the CLI")
	}
	base := []string{
		"data.train.data_source.num_samples=32", "data.val.data_source.num_samples=32", "data.samples_per_gpu=16",
		"runner.max_epochs=15", "log_config.interval=1", "optimizer.lr=0.002", "checkpoint_config.interval=15",
	}
	for _, c := range []struct {
		name, config, head string
		firstTol           float64 // |first loss − ln 10|
		extra              []string
	}{
		{"mae recipe", finetuneShapes, "head0", 0.01, nil},
		{"cae recipe rpe", finetuneShapes, "head0", 0.01, []string{"model.backbone.use_window=true", "model.backbone.init_values=0.1"}},
		{"simmim swin recipe", finetuneSwinShapes, "head1", 0.1, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			wd := t.TempDir()
			args := []string{"linear", c.config, "--work-dir", wd, "--deterministic", "--workers", "2", "--seed", "0"}
			for _, o := range append(append([]string(nil), base...), c.extra...) {
				args = append(args, "--cfg-options", o)
			}
			out, err := run(t, args...)
			if err != nil {
				t.Fatalf("flowssl %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			losses := trainLosses(t, wd)
			if len(losses) != 30 {
				t.Fatalf("%d logged steps, want 30: %v", len(losses), losses)
			}
			if math.Abs(losses[0]-math.Log(10)) > c.firstTol {
				t.Errorf("first loss %v, want ln 10 = %.4f", losses[0], math.Log(10))
			}
			first, last := mean(losses[:5]), mean(losses[20:])
			if !(last < first-0.03) {
				t.Errorf("loss did not fall: first 5 steps %.4f, last 10 %.4f (%v)", first, last, losses)
			}
			b, err := os.ReadFile(filepath.Join(wd, "linear_eval.json"))
			if err != nil {
				t.Fatal(err)
			}
			var res linearResult
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatal(err)
			}
			t1, t5 := res.Results[c.head+"_top1"], res.Results[c.head+"_top5"]
			if res.ValSamples != 32 || res.Iters != 30 || len(res.Results) != 2 || t1 < 0 || t5 > 100 || t5 < t1 {
				t.Fatalf("linear_eval.json: %s", b)
			}
			if c.extra == nil {
				return
			}
			st := finalState(t, res.Trained)
			for i := 0; i < 4; i++ {
				k := "backbone.layers." + itoa(i) + ".attn.relative_position_bias_table"
				v, ok := st[k]
				if !ok {
					t.Fatalf("%s missing from the trained checkpoint", k)
				}
				if len(v) != (15*15+3)*4*4 || allZero(v) {
					t.Errorf("%s: %d bytes, all zero %v; want a trained 228×4 float32 table", k, len(v), allZero(v))
				}
			}
		})
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// TestFinetuneImageNetConfigsLoad: the shipped ImageNet fine-tuning
// configs (MAE's ViT-B, CAE's rpe variant, SimMIM's three Swin-B ones)
// pass what `flowssl linear` checks before training — the spec decodes,
// model.type is Classification or MMClsImageClassifierWrapper, the
// RandomAug train and bicubic val pipelines build — and `flowssl
// count-params` builds the full models (ViT-B/16 86.56 M parameters,
// 86.68 M with the per-block bias tables and layer scale; Swin-B 87.77 M
// at 224 px / window 7 as timm's swin_base_patch4_window7_224, 87.75 M at
// 192 px / window 6).
func TestFinetuneImageNetConfigsLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two ViT-B models")
	}
	for _, c := range []struct{ config, params string }{
		{"benchmarks/classification/imagenet/vit-base-p16_ft-8xb128-coslr-100e_in1k.yaml", "Number of parameters: 86.56 M"},
		{"benchmarks/classification/imagenet/vit-base-p16_ft-8xb128-coslr-100e-rpe_in1k.yaml", "Number of parameters: 86.68 M"},
		{"benchmarks/classification/imagenet/swin-base_ft-8xb256-coslr-100e_in1k.yaml", "Number of parameters: 87.75 M"},
		{"benchmarks/classification/imagenet/swin-base_ft-8xb256-coslr-100e_in1k-224.yaml", "Number of parameters: 87.77 M"},
		{"benchmarks/classification/imagenet/swin-base_ft-32xb64-coslr-100e_in1k.yaml", "Number of parameters: 87.75 M"},
	} {
		cfg, err := loadLinearConfig(linearOptions{Config: c.config})
		if err != nil {
			t.Fatalf("%s: %v", c.config, err)
		}
		for _, ds := range []string{"data.train", "data.val"} {
			d, err := plainAt(cfg, ds)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := buildViews(d, 0); err != nil {
				t.Errorf("%s %s pipeline: %v", c.config, ds, err)
			}
		}
		out, err := run(t, "count-params", c.config, "--work-dir", t.TempDir())
		if err != nil {
			t.Fatalf("count-params %s: %v\n%s", c.config, err, out)
		}
		if !strings.Contains(out, c.params) {
			t.Errorf("count-params %s:\n%s\nwant %q", c.config, out, c.params)
		}
	}
}

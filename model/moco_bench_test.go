package model

import (
	"runtime"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// benchmarkMoCoV2Step times one whole MoCo v2 training step (query and key
// encoders, EMA, queue, InfoNCE, backward, SGD) at batch 32 and reports
// img/s (source images, two views each). bench/moco_step.py runs the same
// step in PyTorch for BENCHMARKS.md.
func benchmarkMoCoV2Step(b *testing.B, depth int, size int64) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if _, err := SetGradMode(true); err != nil {
		b.Fatal(err)
	}
	ManualSeed(0)
	vs := nn.NewVarStore(gotch.CPU)
	width := int64(512)
	if depth >= 50 {
		width = 2048
	}
	a, err := BuildAlgorithm(vs, map[string]any{
		"type": "MoCo", "queue_len": 65536, "feat_dim": 128, "momentum": 0.999, "shuffle_bn_groups": 1,
		"backbone": map[string]any{"type": "ResNet", "depth": depth, "in_channels": 3, "out_indices": []any{4}, "norm_cfg": map[string]any{"type": "BN"}},
		"neck":     map[string]any{"type": "MoCoV2Neck", "in_channels": width, "hid_channels": width, "out_channels": 128, "with_avg_pool": true},
		"head":     map[string]any{"type": "ContrastiveHead", "temperature": 0.2},
	})
	if err != nil {
		b.Fatal(err)
	}
	opt, err := BuildOptimizer(ParamsOf(vs), map[string]any{"type": "SGD", "lr": 0.03, "momentum": 0.9, "weight_decay": 1e-4})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 32
	v1 := ts.MustRandn([]int64{batch, 3, size, size}, gotch.Float, gotch.CPU)
	v2 := ts.MustRandn([]int64{batch, 3, size, size}, gotch.Float, gotch.CPU)
	defer v1.MustDrop()
	defer v2.MustDrop()
	step := func(it int) {
		l, err := a.TrainStep(&StepInput{Views: []*ts.Tensor{v1, v2}, Iter: it})
		if err != nil {
			b.Fatal(err)
		}
		total, err := l.Total()
		if err != nil {
			b.Fatal(err)
		}
		if err := opt.ZeroGrad(); err != nil {
			b.Fatal(err)
		}
		if err := total.Backward(); err != nil {
			b.Fatal(err)
		}
		if err := opt.Step(); err != nil {
			b.Fatal(err)
		}
		total.MustDrop()
		l.Drop()
	}
	step(-2) // untimed warm-up, as the Python script does
	step(-1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step(i)
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkMoCoV2Step96 is MoCo v2 with ResNet-18 at 96 px.
func BenchmarkMoCoV2Step96(b *testing.B) { benchmarkMoCoV2Step(b, 18, 96) }

// BenchmarkMoCoV2Step224R50 is MoCo v2 as configured by MMSelfSup (ResNet-50, 224 px).
func BenchmarkMoCoV2Step224R50(b *testing.B) { benchmarkMoCoV2Step(b, 50, 224) }

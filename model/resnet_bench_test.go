package model

import (
	"runtime"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// benchmarkResNetStep times one training step's forward+backward of a
// ResNet (out_indices [4], global-average-pooled mean as the loss) at
// batch 32 and reports img/s. testdata/nets/bench_step.py times the same
// step in PyTorch for BENCHMARKS.md.
func benchmarkResNetStep(b *testing.B, depth int, size int64) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const batch = 32
	ManualSeed(0)
	vs := nn.NewVarStore(gotch.CPU)
	r, err := NewResNet(vs.Root().Sub("backbone"), DefaultResNetConfig(depth))
	if err != nil {
		b.Fatal(err)
	}
	params := NamedParameters(vs)
	x := ts.MustRandn([]int64{batch, 3, size, size}, gotch.Float, gotch.CPU)
	defer x.MustDrop()
	s := NewScope()
	// Two untimed steps, as bench_step.py does: the first ones pay for
	// libtorch's one-time kernel and allocator set-up.
	for i := -2; i < b.N; i++ {
		if i == 0 {
			b.ResetTimer()
		}
		outs, err := r.Forward(x, true)
		if err != nil {
			b.Fatal(err)
		}
		s.TrackAll(outs)
		loss := s.Track(outs[0].MustMean(gotch.Float, false))
		if err := loss.Backward(); err != nil {
			b.Fatal(err)
		}
		for _, p := range params {
			g := p.T.MustGrad(false)
			if g.MustDefined() {
				inPlace(g, func() { g.MustZero_() })
			}
			g.MustDrop()
		}
		s.Close()
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkResNet18Step96 is ResNet-18 at 96 px (SwAV's small crops).
func BenchmarkResNet18Step96(b *testing.B) { benchmarkResNetStep(b, 18, 96) }

// BenchmarkResNet50Step224 is ResNet-50 at 224 px, MMSelfSup's setting.
func BenchmarkResNet50Step224(b *testing.B) { benchmarkResNetStep(b, 50, 224) }

package augment

import "testing"

// benchmarkViews makes all views of one 500×375 sample per iteration,
// from JPEG bytes (decode included) or from decoded pixels, and reports
// images (samples) per second on one goroutine.
func benchmarkViews(b *testing.B, src string, fromBytes bool) {
	vm := tfViews(b, src)
	in := Input{Image: tfImage(500, 375, 12)}
	if fromBytes {
		in = Input{Bytes: tfJPEG(b, 500, 375)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := vm.Make(in, 1, 0, i); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

func BenchmarkMoCoV2Views(b *testing.B) {
	b.Run("jpeg", func(b *testing.B) { benchmarkViews(b, tfMoCoV2YAML, true) })
	b.Run("pixels", func(b *testing.B) { benchmarkViews(b, tfMoCoV2YAML, false) })
}

func BenchmarkSimCLRViews(b *testing.B) {
	b.Run("jpeg", func(b *testing.B) { benchmarkViews(b, tfSimCLRYAML, true) })
	b.Run("pixels", func(b *testing.B) { benchmarkViews(b, tfSimCLRYAML, false) })
}

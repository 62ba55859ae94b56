package augment

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU returns the CPU time the process has used (libvips decodes on its own worker thread). The op
// benchmarks below report it (cpu-µs/op) next to wall time because the
// development machine is shared: wall time there measures the neighbours.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchCPU runs f b.N times on one locked thread and reports its CPU time.
func benchCPU(b *testing.B, f func(i int)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	t0 := threadCPU()
	for i := range b.N {
		f(i)
	}
	b.ReportMetric(float64(threadCPU()-t0)/1e3/float64(b.N), "cpu-µs/op")
}

// BenchmarkOps times each image op of the MoCo v2 / SimCLR pipelines on a
// 224×224 RGB view (allocation of the result included).
func BenchmarkOps(b *testing.B) {
	src := tfImage(224, 224, 3)
	big := tfImage(320, 260, 4)
	cases := []struct {
		name string
		f    func() *Image
	}{
		{"brightness", func() *Image { return adjustBrightness(src, 1.3, false) }},
		{"contrast", func() *Image { return adjustContrast(src, 1.3, false) }},
		{"saturation", func() *Image { return adjustSaturation(src, 1.3, false) }},
		{"hue", func() *Image { return adjustHue(src, 0.07, false) }},
		{"gray", func() *Image { d := NewImage(224, 224, 3); grayInto(d, src); return d }},
		{"blur1", func() *Image { return gaussianBlurPIL(src, 1) }},
		{"blur2", func() *Image { return gaussianBlurPIL(src, 2) }},
		{"resize320x260", func() *Image { return resizePIL(big, 224, 224, InterpBilinear) }},
		{"resize160x150", func() *Image { return resizeCropPIL(big, 0, 0, 150, 160, 224, 224, InterpBilinear) }},
		{"flip", func() *Image { c := src.Clone(); hflipInPlace(c); return c }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { benchCPU(b, func(int) { c.f() }) })
	}
	lut := newTensorLUT(3, []float64{0.485, 0.456, 0.406}, []float64{0.229, 0.224, 0.225})
	b.Run("totensor", func(b *testing.B) { benchCPU(b, func(int) { toTensor(src, lut) }) })
}

// benchJPEGs reads up to 16 files of `flowssl bench augment --generate`.
func benchJPEGs(b *testing.B) [][]byte {
	files, _ := filepath.Glob("../work_dirs/bench_jpegs/*/*.JPEG")
	if len(files) == 0 {
		b.Skip("no work_dirs/bench_jpegs (flowssl bench augment --generate)")
	}
	var out [][]byte
	for _, f := range files[:min(16, len(files))] {
		buf, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, buf)
	}
	return out
}

// BenchmarkMoCoCPU: decode only, and decode plus both MoCo v2 views, of the
// `flowssl bench augment` JPEGs, one goroutine.
func BenchmarkMoCoCPU(b *testing.B) {
	imgs := benchJPEGs(b)
	vm := tfViews(b, tfMoCoV2YAML)
	b.Run("decode", func(b *testing.B) {
		benchCPU(b, func(i int) {
			if _, err := Decode(imgs[i%len(imgs)], DecodeOptions{}); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("views", func(b *testing.B) {
		benchCPU(b, func(i int) {
			if _, err := vm.Make(Input{Bytes: imgs[i%len(imgs)]}, 1, 0, i); err != nil {
				b.Fatal(err)
			}
		})
	})
}

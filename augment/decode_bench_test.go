package augment_test

import (
	"math/rand/v2"
	"testing"

	"github.com/flowssl/flowssl/augment"
)

// benchImages returns 8 ImageNet-like 500×375 quality-90 JPEGs (jpegset).
func benchImages(b *testing.B) [][]byte {
	b.Helper()
	return photoSet(b, 8, 500, 375)
}

// BenchmarkDecode: full decode of a 500×375 JPEG to RGB, one goroutine.
func BenchmarkDecode(b *testing.B) {
	imgs := benchImages(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := augment.Decode(imgs[i%len(imgs)], augment.DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkDecodeCrop224: a RandomResizedCrop view (bilinear, 224×224) of a
// 500×375 JPEG, decoded and resized in one pipeline, one goroutine.
func BenchmarkDecodeCrop224(b *testing.B) {
	imgs := benchImages(b)
	rng := rand.New(rand.NewPCG(1, 2))
	boxes := make([][4]int, 64)
	for i := range boxes {
		x, y, w, h := rrcBox(rng, 500, 375)
		boxes[i] = [4]int{x, y, w, h}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bx := boxes[i%len(boxes)]
		if _, err := augment.DecodeCrop(imgs[i%len(imgs)], bx[0], bx[1], bx[2], bx[3], 224, 224, augment.InterpBilinear, augment.DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

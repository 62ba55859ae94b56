package data

import (
	"fmt"
	"testing"
)

func benchmarkDrawShape(b *testing.B, size, channels int) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		DrawShape(1, i, size, channels)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

func BenchmarkDrawShape(b *testing.B) {
	for _, size := range []int{32, 64, 96, 224} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) { benchmarkDrawShape(b, size, 3) })
	}
	b.Run("size=64/grey", func(b *testing.B) { benchmarkDrawShape(b, 64, 1) })
}

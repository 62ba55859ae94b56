package augment

import (
	"math"
	"math/rand/v2"
	"os/exec"
	"testing"
)

// tfImage is a w×h RGB test image: smooth gradients (so resampling and
// blending land on fractional values and exercise rounding), a saturated
// colour wheel region (hue), and seeded noise (so every tap of a filter
// matters).
func tfImage(w, h int, seed uint64) *Image {
	rng := rand.New(rand.NewPCG(seed, 1))
	im := NewImage(w, h, 3)
	for y := range h {
		for x := range w {
			o := (y*w + x) * 3
			a := math.Atan2(float64(y-h/2), float64(x-w/2))
			im.Pix[o] = uint8(min(255, 255*x/max(1, w-1)+rng.IntN(24)))
			im.Pix[o+1] = uint8(127 + 127*math.Sin(a+float64(y)/9))
			im.Pix[o+2] = uint8(min(255, 255*y/max(1, h-1)+rng.IntN(16)))
			if (x/11+y/7)%5 == 0 {
				im.Pix[o], im.Pix[o+1], im.Pix[o+2] = uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256))
			}
		}
	}
	return im
}

// tfPython returns Debian's python3 if it has torch and torchvision, or
// skips the test.
func tfPython(t testing.TB) string {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch, torchvision, PIL, numpy").Run(); err != nil {
		t.Skipf("%s lacks torch/torchvision/PIL/numpy (%v): parity with torchvision not checked", py, err)
	}
	return py
}

// tfMaxDiff returns the largest absolute difference between two byte
// slices of equal length, and how many positions differ.
func tfMaxDiff(a, b []uint8) (maxd, n int) {
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		if d > 0 {
			n++
		}
		maxd = max(maxd, d)
	}
	return maxd, n
}

// tfRNG is a fixed generator for tests that need one but not its values.
func tfRNG() *rand.Rand { return NewRNG(1, 2, 3, 4) }

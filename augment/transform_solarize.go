package augment

import "math/rand/v2"

// Solarization is MMSelfSup's: with probability P (skipped when U > P)
// every value v >= Threshold becomes 255 − v.
type Solarization struct {
	Threshold int
	P         float64
}

func init() {
	register("Solarization", func(p *params) (Transform, error) {
		t := &Solarization{Threshold: p.int("threshold", 128), P: p.prob("p", 0.5)}
		return t, nil
	})
}

// Name implements Transform.
func (t *Solarization) Name() string { return "Solarization" }

// Apply implements ImageTransform.
func (t *Solarization) Apply(img *Image, rng *rand.Rand) (*Image, error) {
	return t.apply(img, rng, false)
}

func (t *Solarization) apply(img *Image, rng *rand.Rand, owned bool) (*Image, error) {
	if rng.Float64() > t.P {
		return img, nil
	}
	var lut [256]uint8
	for v := range lut {
		if v < t.Threshold {
			lut[v] = uint8(v)
		} else {
			lut[v] = uint8(255 - v)
		}
	}
	return applyLUT(img, &lut, owned), nil
}

// applyLUT maps every byte through lut, in place when owned.
func applyLUT(img *Image, lut *[256]uint8, owned bool) *Image {
	dst := img
	if !owned {
		dst = &Image{W: img.W, H: img.H, C: img.C, Pix: make([]uint8, len(img.Pix))}
	}
	lutMap(dst.Pix, img.Pix, lut)
	return dst
}

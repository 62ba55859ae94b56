package augment

import "math/rand/v2"

// luma is Pillow's RGB→L conversion (Convert.c L24): the ITU-R 601-2
// weights in 16-bit fixed point, rounded.
func luma(r, g, b uint8) uint8 {
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
}

// grayInto writes luma of the RGB image src into dst (either 1 or 3
// channels; dst may be src).
func grayInto(dst, src *Image) {
	grayPixels(dst.Pix, src.Pix[:3*src.W*src.H], dst.C)
}

// RandomGrayscale converts to luma (replicated to 3 channels) with
// probability P (draw U < P).
type RandomGrayscale struct{ P float64 }

func init() {
	register("RandomGrayscale", func(p *params) (Transform, error) {
		return &RandomGrayscale{P: p.prob("p", 0.1)}, nil
	})
}

// Name implements Transform.
func (t *RandomGrayscale) Name() string { return "RandomGrayscale" }

// Apply implements ImageTransform.
func (t *RandomGrayscale) Apply(img *Image, rng *rand.Rand) (*Image, error) {
	return t.apply(img, rng, false)
}

func (t *RandomGrayscale) apply(img *Image, rng *rand.Rand, owned bool) (*Image, error) {
	if !(rng.Float64() < t.P) || img.C == 1 {
		return img, nil
	}
	dst := img
	if !owned {
		dst = NewImage(img.W, img.H, 3)
	}
	grayInto(dst, img)
	return dst, nil
}

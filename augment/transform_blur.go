package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// GaussianBlur is MMSelfSup's: with probability P (skipped when U > P)
// draw σ ~ U(SigmaMin, SigmaMax) and apply PIL's ImageFilter.GaussianBlur
// (radius = σ).
type GaussianBlur struct {
	SigmaMin, SigmaMax, P float64
}

func init() {
	register("GaussianBlur", func(p *params) (Transform, error) {
		if !p.has("sigma_min") || !p.has("sigma_max") {
			return nil, fmt.Errorf(`parameters "sigma_min" and "sigma_max" are required`)
		}
		t := &GaussianBlur{SigmaMin: p.float("sigma_min", 0), SigmaMax: p.float("sigma_max", 0), P: p.prob("p", 0.5)}
		if t.SigmaMin < 0 || t.SigmaMax < t.SigmaMin {
			p.fail("sigma_max", "want 0 <= sigma_min <= sigma_max, got %g, %g", t.SigmaMin, t.SigmaMax)
		}
		return t, nil
	})
}

// Name implements Transform.
func (t *GaussianBlur) Name() string { return "GaussianBlur" }

// Apply implements ImageTransform.
func (t *GaussianBlur) Apply(img *Image, rng *rand.Rand) (*Image, error) {
	return t.apply(img, rng, false)
}

func (t *GaussianBlur) apply(img *Image, rng *rand.Rand, owned bool) (*Image, error) {
	if rng.Float64() > t.P {
		return img, nil
	}
	sigma := uniform(rng, t.SigmaMin, t.SigmaMax)
	if !owned {
		return gaussianBlurPIL(img, sigma), nil
	}
	blurInPlace(img, sigma)
	return img, nil
}

// boxRadius is Pillow's _gaussian_blur_radius (BoxBlur.c): the extended
// box radius whose `passes` repetitions have variance σ², from Gwosdek et
// al., "Theoretical foundations of Gaussian convolution by extended box
// filtering" (2011). Pillow computes in float32.
func boxRadius(sigma float32, passes int) float32 {
	sigma2 := sigma * sigma / float32(passes)
	L := float32(math.Sqrt(12.0*float64(sigma2) + 1.0))
	l := float32(math.Floor((float64(L) - 1.0) / 2.0))
	a := (2*l + 1) * (l*(l+1) - 3*sigma2)
	a /= 6 * (sigma2 - (l+1)*(l+1))
	return l + a
}

// gaussianBlurPIL is Pillow's ImagingGaussianBlur with 3 passes: three
// horizontal extended-box passes, then three vertical ones, each rounding
// to 8 bits. Each pass output is (sum of the 2·⌊r⌋+1 centred pixels)·ww +
// (the two pixels at distance ⌊r⌋+1)·fw in 24-bit fixed point, indices
// clamped to the image, which is what Pillow's edge loops amount to
// (fk_box_blur in kernels.c; gaussianBlurRef is the Go port it matches).
func gaussianBlurPIL(img *Image, sigma float64) *Image {
	out := img.Clone()
	blurInPlace(out, sigma)
	return out
}

// blurInPlace is gaussianBlurPIL on an image the caller owns.
func blurInPlace(im *Image, sigma float64) {
	fr := boxRadius(float32(sigma), 3)
	if fr == 0 {
		return
	}
	radius := int(fr)
	ww := uint32(float32(1<<24) / (fr*2 + 1))
	fw := ((1 << 24) - uint32(radius*2+1)*ww) / 2
	boxBlur(im, radius, ww, fw, 3)
}

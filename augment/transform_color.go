package augment

import (
	"math"
	"math/rand/v2"
)

// PIL's ImageEnhance (Brightness, Contrast, Color) blends the image with a
// "degenerate" image through Image.blend, whose C loop (Blend.c) computes
// in1 + alpha·(in2 − in1) in float32 and truncates (clipping to [0, 255]
// when alpha is outside [0, 1]). blend8 reproduces it for one value.
func blend8(in1, in2 uint8, alpha float32) uint8 {
	switch {
	case alpha == 0:
		return in1
	case alpha == 1:
		return in2
	}
	// The explicit float32 conversion keeps Go from fusing the multiply
	// and add, which C (x86-64 baseline, no FMA) does not do either.
	v := float32(in1) + float32(alpha*float32(int(in2)-int(in1)))
	if alpha >= 0 && alpha <= 1 {
		return uint8(v)
	}
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}

// blendLUT tabulates blend8(degenerate, v, alpha) for every v.
func blendLUT(degenerate uint8, alpha float32) *[256]uint8 {
	var lut [256]uint8
	for v := range lut {
		lut[v] = blend8(degenerate, uint8(v), alpha)
	}
	return &lut
}

// adjustBrightness is ImageEnhance.Brightness: blend with black.
func adjustBrightness(img *Image, f float64, owned bool) *Image {
	return applyLUT(img, blendLUT(0, float32(f)), owned)
}

// adjustContrast is ImageEnhance.Contrast: blend with the grey level
// int(mean(L) + 0.5), L the luma image.
func adjustContrast(img *Image, f float64, owned bool) *Image {
	var hist [256]uint32
	n := img.W * img.H
	if img.C == 3 {
		lumaHist(img.Pix[:3*n], &hist)
	} else {
		for _, v := range img.Pix[:n] {
			hist[v]++
		}
	}
	sum := 0.0
	for v, c := range hist {
		sum += float64(v * int(c))
	}
	m := int(sum/float64(n) + 0.5)
	return applyLUT(img, blendLUT(uint8(m), float32(f)), owned)
}

// adjustSaturation is ImageEnhance.Color: blend each pixel with its luma,
// v = g + float32(alpha·(s − g)) truncated (clipped when alpha is outside
// [0, 1]).
func adjustSaturation(img *Image, f float64, owned bool) *Image {
	if img.C == 1 {
		if owned {
			return img
		}
		return img.Clone()
	}
	dst := img
	if !owned {
		dst = NewImage(img.W, img.H, 3)
	}
	saturationBlend(dst.Pix, img.Pix, float32(f))
	return dst
}

// ColorJitter is torchvision's: each enabled op gets a factor drawn
// uniformly from its range, and the four ops run in a random order.
// A nil range disables the op.
type ColorJitter struct {
	Brightness, Contrast, Saturation, Hue *[2]float64
}

func init() {
	register("ColorJitter", func(p *params) (Transform, error) {
		return &ColorJitter{
			Brightness: jitterRange(p, "brightness", 1, 0, math.Inf(1), true),
			Contrast:   jitterRange(p, "contrast", 1, 0, math.Inf(1), true),
			Saturation: jitterRange(p, "saturation", 1, 0, math.Inf(1), true),
			Hue:        jitterRange(p, "hue", 0, -0.5, 0.5, false),
		}, nil
	})
}

// jitterRange is torchvision's ColorJitter._check_input: a scalar v gives
// [center−v, center+v] (the lower end clipped at 0 for the factors), a pair
// is taken as is; a range equal to {center} disables the op.
func jitterRange(p *params, key string, center, lo, hi float64, clipFirstOnZero bool) *[2]float64 {
	if !p.has(key) {
		p.get(key)
		return nil
	}
	v, _ := p.get(key)
	var r [2]float64
	if f, ok := number(v); ok {
		if f < 0 {
			p.fail(key, "must be non-negative, got %g", f)
			return nil
		}
		r = [2]float64{center - f, center + f}
		if clipFirstOnZero {
			r[0] = max(r[0], 0)
		}
	} else {
		r = p.pair(key, [2]float64{center, center})
		if r[0] < lo || r[1] > hi {
			p.fail(key, "range %v outside [%g, %g]", r, lo, hi)
			return nil
		}
	}
	if key == "hue" && (r[0] < -0.5 || r[1] > 0.5) {
		p.fail(key, "range %v outside [-0.5, 0.5]", r)
		return nil
	}
	if r[0] == center && r[1] == center {
		return nil
	}
	return &r
}

// Name implements Transform.
func (t *ColorJitter) Name() string { return "ColorJitter" }

// Factors draws the op order and the four factors as torchvision's
// get_params does (disabled ops keep NaN).
func (t *ColorJitter) Factors(rng *rand.Rand) (order [4]int, factors [4]float64) {
	perm := rng.Perm(4)
	copy(order[:], perm)
	for k, r := range []*[2]float64{t.Brightness, t.Contrast, t.Saturation, t.Hue} {
		factors[k] = math.NaN()
		if r != nil {
			factors[k] = uniform(rng, r[0], r[1])
		}
	}
	return order, factors
}

// Apply implements ImageTransform.
func (t *ColorJitter) Apply(img *Image, rng *rand.Rand) (*Image, error) {
	return t.apply(img, rng, false)
}

func (t *ColorJitter) apply(img *Image, rng *rand.Rand, owned bool) (*Image, error) {
	order, f := t.Factors(rng)
	for _, op := range order {
		if math.IsNaN(f[op]) {
			continue
		}
		img = colorOp(img, op, f[op], owned)
		owned = true
	}
	return img, nil
}

// colorOp applies op 0 brightness, 1 contrast, 2 saturation, 3 hue.
func colorOp(img *Image, op int, f float64, owned bool) *Image {
	switch op {
	case 0:
		return adjustBrightness(img, f, owned)
	case 1:
		return adjustContrast(img, f, owned)
	case 2:
		return adjustSaturation(img, f, owned)
	}
	return adjustHue(img, f, owned)
}

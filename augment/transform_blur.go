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

func (t *GaussianBlur) apply(img *Image, rng *rand.Rand, _ bool) (*Image, error) {
	if rng.Float64() > t.P {
		return img, nil
	}
	return gaussianBlurPIL(img, uniform(rng, t.SigmaMin, t.SigmaMax)), nil
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
// to 8 bits.
func gaussianBlurPIL(img *Image, sigma float64) *Image {
	r := boxRadius(float32(sigma), 3)
	out := img.Clone()
	if r == 0 {
		return out
	}
	line := boxBlurRows(out, r, 3, nil)
	tr := transpose(out)
	boxBlurRows(tr, r, 3, line)
	transposeInto(out, tr)
	return out
}

// boxBlurRows runs `passes` passes of ImagingHorizontalBoxBlur over every
// row of im in place (all passes on a row while it is in cache; rows are
// independent, so the order does not change the result). Each output is
// (sum of the 2·⌊r⌋+1 centred pixels)·ww + (the two pixels at distance
// ⌊r⌋+1)·fw, in 24-bit fixed point, indices clamped to the row, which is
// what Pillow's edge loops amount to. line is scratch space: the row is
// copied into it with ⌊r⌋+1 edge pixels repeated on each side so the inner
// loop needs no clamping.
func boxBlurRows(im *Image, fr float32, passes int, line []uint8) []uint8 {
	radius := int(fr)
	ww := uint32(float32(1<<24) / (fr*2 + 1))
	fw := ((1 << 24) - uint32(radius*2+1)*ww) / 2
	c, w := im.C, im.W
	pad := radius + 1
	if need := (w + 2*pad) * c; len(line) < need {
		line = make([]uint8, need)
	}
	in := line[:(w+2*pad)*c]
	for y := range im.H {
		row := im.Pix[y*w*c : (y+1)*w*c]
		for range passes {
			for i := range pad {
				copy(in[i*c:(i+1)*c], row[:c])
				copy(in[(pad+w+i)*c:(pad+w+i+1)*c], row[(w-1)*c:])
			}
			copy(in[pad*c:], row)
			if c == 3 {
				boxLine3(row, in, w, radius, ww, fw)
				continue
			}
			for ch := range c {
				// Padded index p corresponds to x = p − pad.
				var acc uint32
				for p := 0; p < 2*radius+1; p++ { // window of output −1: x ∈ [−r−1, r−1]
					acc += uint32(in[p*c+ch])
				}
				for x := range w {
					lo := (x + pad - radius - 1) * c // x − r − 1
					hi := (x + pad + radius) * c     // x + r
					acc += uint32(in[hi+ch]) - uint32(in[lo+ch])
					bulk := acc*ww + (uint32(in[lo+ch])+uint32(in[hi+c+ch]))*fw
					row[x*c+ch] = uint8((bulk + (1 << 23)) >> 24)
				}
			}
		}
	}
	return line
}

// boxLine3 is boxBlurRows' inner loop for RGB, the three channels at once.
func boxLine3(row, in []uint8, w, radius int, ww, fw uint32) {
	var a0, a1, a2 uint32
	for p := 0; p < 2*radius+1; p++ {
		a0 += uint32(in[3*p])
		a1 += uint32(in[3*p+1])
		a2 += uint32(in[3*p+2])
	}
	const half = 1 << 23
	for x := range w {
		lo := in[3*x : 3*x+3 : 3*x+3]                                        // x − r − 1
		hi := in[3*(x+2*radius+1) : 3*(x+2*radius+1)+6 : 3*(x+2*radius+1)+6] // x + r, x + r + 1
		a0 += uint32(hi[0]) - uint32(lo[0])
		a1 += uint32(hi[1]) - uint32(lo[1])
		a2 += uint32(hi[2]) - uint32(lo[2])
		d := row[3*x : 3*x+3 : 3*x+3]
		d[0] = uint8((a0*ww + (uint32(lo[0])+uint32(hi[3]))*fw + half) >> 24)
		d[1] = uint8((a1*ww + (uint32(lo[1])+uint32(hi[4]))*fw + half) >> 24)
		d[2] = uint8((a2*ww + (uint32(lo[2])+uint32(hi[5]))*fw + half) >> 24)
	}
}

// transpose returns im with rows and columns swapped.
func transpose(im *Image) *Image {
	out := NewImage(im.H, im.W, im.C)
	transposeInto(out, im)
	return out
}

func transposeInto(dst, src *Image) {
	c := src.C
	for y := range src.H {
		for x := range src.W {
			copy(dst.Pix[(x*dst.W+y)*c:(x*dst.W+y+1)*c], src.Pix[(y*src.W+x)*c:(y*src.W+x+1)*c])
		}
	}
}

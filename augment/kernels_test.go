package augment

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// noiseImage is a w×h image of uniform random bytes: every tap and every
// branch of a kernel sees arbitrary values.
func noiseImage(w, h, c int, seed uint64) *Image {
	rng := rand.New(rand.NewPCG(seed, 9))
	im := NewImage(w, h, c)
	for i := range im.Pix {
		im.Pix[i] = uint8(rng.Uint32())
	}
	return im
}

// kernelImages mixes smooth test images (the usual case) with noise and
// degenerate shapes.
func kernelImages(c int) []*Image {
	ims := []*Image{noiseImage(1, 1, c, 1), noiseImage(7, 1, c, 2), noiseImage(1, 9, c, 3), noiseImage(53, 41, c, 4), noiseImage(224, 224, c, 5)}
	if c == 3 {
		ims = append(ims, tfImage(97, 61, 6), tfImage(224, 224, 7))
	}
	return ims
}

func sameImage(t *testing.T, what string, got, want *Image) {
	t.Helper()
	if got.W != want.W || got.H != want.H || got.C != want.C {
		t.Fatalf("%s: %dx%dx%d, reference %dx%dx%d", what, got.W, got.H, got.C, want.W, want.H, want.C)
	}
	if !bytes.Equal(got.Pix, want.Pix) {
		mean, maxd := diffStats(got, want)
		t.Fatalf("%s: differs from the Go port: mean %.4f max %d", what, mean, maxd)
	}
}

// TestKernelsMatchGoPorts: every C kernel gives the bytes of the Go port
// of Pillow it replaced (kernels_ref_test.go), on noise and smooth images,
// 1 and 3 channels, degenerate sizes included.
func TestKernelsMatchGoPorts(t *testing.T) {
	for _, c := range []int{1, 3} {
		for _, im := range kernelImages(c) {
			for _, sigma := range []float64{0.1, 0.6, 1, 1.7, 2, 5} {
				sameImage(t, "blur", gaussianBlurPIL(im, sigma), gaussianBlurRef(im, sigma))
			}
			for _, in := range []Interp{InterpBilinear, InterpBicubic, InterpLanczos} {
				for _, sz := range [][2]int{{224, 224}, {13, 40}, {im.W, 5}, {1, 1}, {2 * im.W, im.H}} {
					want := resizeRef(im, sz[0], sz[1], in)
					for _, scalar := range []bool{false, true} {
						setScalarKernels(scalar)
						sameImage(t, "resize", resizePIL(im, sz[0], sz[1], in), want)
					}
					setScalarKernels(false)
					// A crop resized in place equals the copied crop resized.
					top, left := im.H/3, im.W/4
					h, w := max(1, im.H-top-im.H/5), max(1, im.W-left-1)
					sameImage(t, "crop+resize", resizeCropPIL(im, top, left, h, w, sz[0], sz[1], in),
						resizeRef(cropPIL(im, top, left, h, w), sz[0], sz[1], in))
				}
			}
			f := im.Clone()
			hflipInPlace(f)
			g := im.Clone()
			hflipRef(g)
			sameImage(t, "hflip", f, g)
			if c == 1 {
				continue
			}
			for _, a := range []float64{0, 0.35, 0.6, 1, 1.4, 1.8} {
				sameImage(t, "saturation", adjustSaturation(im, a, false), adjustSaturationRef(im, a, false))
			}
			for _, dc := range []int{1, 3} {
				a, b := NewImage(im.W, im.H, dc), NewImage(im.W, im.H, dc)
				grayInto(a, im)
				grayIntoRef(b, im)
				sameImage(t, "gray", a, b)
			}
			lut := newTensorLUT(3, []float64{0.485, 0.456, 0.406}, []float64{0.229, 0.224, 0.225})
			got, want := toTensor(im, lut), toTensorRef(im, lut)
			for i := range got.Data {
				if got.Data[i] != want.Data[i] {
					t.Fatalf("toTensor: value %d is %g, reference %g", i, got.Data[i], want.Data[i])
				}
			}
		}
	}
}

// TestHueKernelAllColours: fk_hue, table-driven, against the per-pixel
// Pillow port on all 2^24 colours for one shift and on noise for shifts
// of both signs and the extremes.
func TestHueKernelAllColours(t *testing.T) {
	// All colours, 2^20 at a time (16 chunks of 1024×1024).
	chunk := NewImage(1024, 1024, 3)
	for c := range 16 {
		for i := range 1 << 20 {
			v := c<<20 | i
			chunk.Pix[3*i], chunk.Pix[3*i+1], chunk.Pix[3*i+2] = uint8(v>>16), uint8(v>>8), uint8(v)
		}
		want := adjustHueRef(chunk, 0.07)
		sameImage(t, "hue 0.07, all colours", adjustHue(chunk, 0.07, false), want)
		// In place, as ColorJitter runs it on images it owns.
		sameImage(t, "hue 0.07 in place", adjustHue(chunk.Clone(), 0.07, true), want)
	}
	for _, w := range []int{1, 8, 9, 301} {
		noise := noiseImage(w, 7, 3, 11)
		for _, f := range []float64{-0.5, -0.2, -0.01, 0, 0.003, 0.1, 0.25, 0.5} {
			sameImage(t, "hue", adjustHue(noise, f, false), adjustHueRef(noise, f))
		}
	}
}

// resizeRef is resizePIL over the Go passes.
func resizeRef(im *Image, outW, outH int, interp Interp) *Image {
	if outW == im.W && outH == im.H {
		return im.Clone()
	}
	f := filterFor(interp)
	kh, bh, ch := resampleCoeffs(im.W, 0, float64(im.W), outW, f)
	kv, bv, cv := resampleCoeffs(im.H, 0, float64(im.H), outH, f)
	y0, y1 := bv[0], bv[2*outH-2]+bv[2*outH-1]
	src := im
	if outW != im.W {
		for i := range outH {
			bv[2*i] -= y0
		}
		src = NewImage(outW, y1-y0, im.C)
		resampleHRef(src, im, y0, kh, bh, ch)
	}
	if outH == im.H {
		return src
	}
	out := NewImage(outW, outH, im.C)
	resampleVRef(out, src, kv, bv, cv)
	return out
}

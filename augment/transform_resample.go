package augment

import "math"

// Pillow's ImagingResample (libImaging/Resample.c, Pillow 9.x), which
// torchvision's Resize and RandomResizedCrop call on PIL images: a
// horizontal then a vertical pass of a separable convolution whose support
// widens by the downscale factor (antialiasing), with coefficients in
// 22-bit fixed point and 8-bit rounding between the passes. Ported
// operation by operation so the result is bit-identical to PIL.

const resamplePrecision = 32 - 8 - 2

type resampleFilter struct {
	support float64
	fn      func(float64) float64
}

func bilinearFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

func bicubicFilter(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return ((a+2)*x-(a+3))*x*x + 1
	}
	if x < 2 {
		return (((x-5)*x+8)*x - 4) * a
	}
	return 0
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x *= math.Pi
	return math.Sin(x) / x
}

func lanczosFilter(x float64) float64 {
	if -3 <= x && x < 3 {
		return sinc(x) * sinc(x/3)
	}
	return 0
}

func filterFor(i Interp) resampleFilter {
	switch i {
	case InterpBicubic:
		return resampleFilter{2, bicubicFilter}
	case InterpLanczos:
		return resampleFilter{3, lanczosFilter}
	case interpHamming:
		return resampleFilter{1, hammingFilter}
	}
	return resampleFilter{1, bilinearFilter}
}

// resampleCoeffs is precompute_coeffs + normalize_coeffs_8bpc: for output
// index xx, taps k[xx*ksize : xx*ksize+n] apply to inputs starting at
// bounds[2xx], n = bounds[2xx+1].
func resampleCoeffs(inSize int, in0, in1 float64, outSize int, f resampleFilter) (ksize int, bounds []int, kk []int32) {
	scale := (in1 - in0) / float64(outSize)
	filterscale := max(scale, 1.0)
	support := f.support * filterscale
	ksize = int(math.Ceil(support))*2 + 1
	bounds = make([]int, outSize*2)
	kk = make([]int32, outSize*ksize)
	pre := make([]float64, ksize)
	ss := 1.0 / filterscale
	for xx := range outSize {
		center := in0 + (float64(xx)+0.5)*scale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), inSize) - xmin
		ww := 0.0
		for x := range xmax {
			w := f.fn((float64(x+xmin) - center + 0.5) * ss)
			pre[x] = w
			ww += w
		}
		k := kk[xx*ksize : (xx+1)*ksize]
		for x := range xmax {
			w := pre[x]
			if ww != 0 {
				w /= ww
			}
			if w < 0 {
				k[x] = int32(-0.5 + w*(1<<resamplePrecision))
			} else {
				k[x] = int32(0.5 + w*(1<<resamplePrecision))
			}
		}
		bounds[2*xx], bounds[2*xx+1] = xmin, xmax
	}
	return ksize, bounds, kk
}

func clip8(v int32) uint8 {
	v >>= resamplePrecision
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// resizePIL resizes im to outW×outH like PIL's Image.resize with the given
// filter (nearest goes through resizeNearestPIL, PIL's affine path).
func resizePIL(im *Image, outW, outH int, interp Interp) *Image {
	if outW == im.W && outH == im.H {
		return im.Clone()
	}
	if interp == InterpNearest {
		return resizeNearestPIL(im, outW, outH)
	}
	return resizeBoxPIL(im, [4]float64{0, 0, float64(im.W), float64(im.H)}, outW, outH, interp)
}

// resizeBoxPIL is PIL's Image.resize(size, filter, box) for the
// convolution filters: the region box (left, top, right, bottom, fractional
// source coordinates) is resampled to outW×outH; the filter reads source
// pixels around the box as far as the image extends.
func resizeBoxPIL(im *Image, box [4]float64, outW, outH int, interp Interp) *Image {
	return resizeView(viewOf(im), box, outW, outH, interp)
}

// resizeCropPIL is resizePIL(cropPIL(im, top, left, h, w), outW, outH,
// interp), torchvision's crop-then-resize, without copying the crop out
// when it lies inside the image.
func resizeCropPIL(im *Image, top, left, h, w, outW, outH int, interp Interp) *Image {
	if top < 0 || left < 0 || top+h > im.H || left+w > im.W || interp == InterpNearest || (outW == w && outH == h) {
		return resizePIL(cropPIL(im, top, left, h, w), outW, outH, interp)
	}
	v := pixView{pix: im.Pix, off: (top*im.W + left) * im.C, w: w, h: h, c: im.C, stride: im.W * im.C}
	return resizeView(v, [4]float64{0, 0, float64(w), float64(h)}, outW, outH, interp)
}

func resizeView(v pixView, box [4]float64, outW, outH int, interp Interp) *Image {
	f := filterFor(interp)
	needH := outW != v.w || box[0] != 0 || box[2] != float64(v.w)
	needV := outH != v.h || box[1] != 0 || box[3] != float64(v.h)
	if !needH && !needV {
		out := NewImage(v.w, v.h, v.c)
		for y := range v.h {
			copy(out.Pix[y*v.w*v.c:(y+1)*v.w*v.c], v.pix[v.off+y*v.stride:])
		}
		return out
	}
	kh, bh, ch := resampleCoeffs(v.w, box[0], box[2], outW, f)
	kv, bv, cv := resampleCoeffs(v.h, box[1], box[3], outH, f)
	// Only the source rows the vertical pass reads go through the
	// horizontal pass.
	y0 := bv[0]
	y1 := bv[2*outH-2] + bv[2*outH-1]
	if !needV {
		out := newPooledImage(outW, y1-y0, v.c)
		resampleH(out, v, y0, kh, bh, ch)
		return out
	}
	src := v
	if needH {
		for i := range outH {
			bv[2*i] -= y0
		}
		buf := getBytes(outW * (y1 - y0) * v.c)
		defer putBytes(buf)
		tmp := &Image{W: outW, H: y1 - y0, C: v.c, Pix: *buf}
		resampleH(tmp, v, y0, kh, bh, ch)
		src = viewOf(tmp)
	}
	out := newPooledImage(outW, outH, v.c)
	resampleV(out, src, kv, bv, cv)
	return out
}

// resizeNearestPIL is Pillow's NEAREST resize: an affine "scale" transform
// (Geometry.c ImagingScaleAffine) whose source coordinate starts at
// scale/2 and is advanced by repeated addition of scale, then truncated.
// The accumulated sum differs from (x+0.5)·scale in the last bits, which
// flips the chosen pixel where the product lands on an integer.
func resizeNearestPIL(im *Image, outW, outH int) *Image {
	out := NewImage(outW, outH, im.C)
	c := im.C
	ax := float64(im.W) / float64(outW)
	ay := float64(im.H) / float64(outH)
	cols := make([]int, outW)
	xo := ax * 0.5
	for x := range cols {
		cols[x] = min(int(xo), im.W-1) * c
		xo += ax
	}
	yo := ay * 0.5
	for y := range outH {
		src := im.Pix[min(int(yo), im.H-1)*im.W*c:]
		dst := out.Pix[y*outW*c : (y+1)*outW*c]
		for x, sc := range cols {
			copy(dst[x*c:(x+1)*c], src[sc:sc+c])
		}
		yo += ay
	}
	return out
}

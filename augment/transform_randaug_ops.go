package augment

import (
	"math"
	"math/rand/v2"
)

// PIL ImageOps / ImageEnhance / Image.transform operations used by timm's
// RandAugment, on 8-bit RGB or grey images. They return new images.

// autoContrast is ImageOps.autocontrast(img) with cutoff 0: per channel,
// stretch [lo, hi] of the histogram to [0, 255] (identity when lo == hi).
func autoContrast(img *Image) *Image {
	out := NewImage(img.W, img.H, img.C)
	c := img.C
	for ch := range c {
		lo, hi := 255, 0
		for i := ch; i < len(img.Pix); i += c {
			v := int(img.Pix[i])
			lo, hi = min(lo, v), max(hi, v)
		}
		var lut [256]uint8
		if hi <= lo {
			for v := range lut {
				lut[v] = uint8(v)
			}
		} else {
			scale := 255.0 / float64(hi-lo)
			offset := -float64(lo) * scale
			for v := range lut {
				x := int(float64(v)*scale + offset)
				lut[v] = clipInt8(x)
			}
		}
		for i := ch; i < len(img.Pix); i += c {
			out.Pix[i] = lut[img.Pix[i]]
		}
	}
	return out
}

// equalize is ImageOps.equalize: per channel, step = (n − count of the
// last non-zero bin) // 255, lut[v] = (n_<v + step//2) // step.
func equalize(img *Image) *Image {
	out := NewImage(img.W, img.H, img.C)
	c := img.C
	for ch := range c {
		var h [256]int
		for i := ch; i < len(img.Pix); i += c {
			h[img.Pix[i]]++
		}
		total, last := 0, 0
		for v, k := range h {
			total += k
			if k > 0 {
				last = v
			}
		}
		step := (total - h[last]) / 255
		var lut [256]uint8
		if step == 0 {
			for v := range lut {
				lut[v] = uint8(v)
			}
		} else {
			n := step / 2
			for v := range lut {
				lut[v] = uint8(min(255, n/step))
				n += h[v]
			}
		}
		for i := ch; i < len(img.Pix); i += c {
			out.Pix[i] = lut[img.Pix[i]]
		}
	}
	return out
}

func lutImage(img *Image, f func(v int) int) *Image {
	var lut [256]uint8
	for v := range lut {
		lut[v] = clipInt8(f(v))
	}
	return applyLUT(img, &lut, false)
}

// sharpness is ImageEnhance.Sharpness: blend with ImageFilter.SMOOTH
// (3×3 kernel [1 1 1; 1 5 1; 1 1 1]/13, border pixels kept).
func sharpness(img *Image, f float64) *Image {
	deg := img.Clone()
	c, w := img.C, img.W
	for y := 1; y < img.H-1; y++ {
		for x := 1; x < w-1; x++ {
			for ch := range c {
				s := 4 * int(img.Pix[(y*w+x)*c+ch])
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						s += int(img.Pix[((y+dy)*w+x+dx)*c+ch])
					}
				}
				deg.Pix[(y*w+x)*c+ch] = clipInt8((s + 6) / 13)
			}
		}
	}
	out := NewImage(img.W, img.H, img.C)
	alpha := float32(f)
	for i, v := range img.Pix {
		out.Pix[i] = blend8(deg.Pix[i], v, alpha)
	}
	return out
}

// affineBicubic is Image.transform(size, AFFINE, a, BICUBIC,
// fillcolor=fill): output (x, y) samples the input at
// (a0·(x+½) + a1·(y+½) + a2, a3·(x+½) + a4·(y+½) + a5) with Catmull-Rom
// (a = −0.5) weights over a 4×4 neighbourhood clamped to the image; points
// outside the image take fill.
func affineBicubic(img *Image, a [6]float64, fill []uint8) *Image {
	out := NewImage(img.W, img.H, img.C)
	c := img.C
	var wx, wy [4]float64
	for y := range img.H {
		for x := range img.W {
			o := out.Pix[(y*img.W+x)*c : (y*img.W+x+1)*c]
			xin := a[0]*(float64(x)+0.5) + a[1]*(float64(y)+0.5) + a[2]
			yin := a[3]*(float64(x)+0.5) + a[4]*(float64(y)+0.5) + a[5]
			if xin < 0 || yin < 0 || xin >= float64(img.W) || yin >= float64(img.H) {
				copy(o, fill)
				continue
			}
			fx, fy := xin-0.5, yin-0.5
			x0, y0 := int(math.Floor(fx)), int(math.Floor(fy))
			dx, dy := fx-float64(x0), fy-float64(y0)
			for k := range 4 {
				wx[k] = bicubicFilter(dx - float64(k-1))
				wy[k] = bicubicFilter(dy - float64(k-1))
			}
			for ch := range c {
				s := 0.0
				for j := range 4 {
					yy := min(max(y0+j-1, 0), img.H-1)
					row := 0.0
					for k := range 4 {
						xx := min(max(x0+k-1, 0), img.W-1)
						row += wx[k] * float64(img.Pix[(yy*img.W+xx)*c+ch])
					}
					s += wy[j] * row
				}
				o[ch] = clipInt8(int(math.Floor(s + 0.5)))
			}
		}
	}
	return out
}

// rotateBicubic is Image.rotate(deg, BICUBIC, fillcolor=fill) about the
// centre, same size.
func rotateBicubic(img *Image, deg float64, fill []uint8) *Image {
	w, h := float64(img.W), float64(img.H)
	a := -deg * math.Pi / 180
	m := [6]float64{math.Cos(a), math.Sin(a), 0, -math.Sin(a), math.Cos(a), 0}
	m[2] = m[0]*(-w/2) + m[1]*(-h/2) + w/2
	m[5] = m[3]*(-w/2) + m[4]*(-h/2) + h/2
	return affineBicubic(img, m, fill)
}

// randomSign returns ±v with probability ½ each (timm's _randomly_negate).
func randomSign(rng *rand.Rand, v float64) float64 {
	if rng.Float64() > 0.5 {
		return -v
	}
	return v
}

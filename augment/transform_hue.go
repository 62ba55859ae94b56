package augment

// adjustHue is torchvision's adjust_hue on PIL: convert to PIL's 8-bit
// HSV, add uint8(f·255) to H with wrap-around (numpy's uint8 cast
// truncates toward zero, then wraps), convert back. rgbToHSV and hsvToRGB
// follow Pillow's Convert.c including its float/double mix; fk_hue applies
// them through tables built from them (hueTables).
func adjustHue(img *Image, f float64, owned bool) *Image {
	if img.C == 1 {
		if owned {
			return img
		}
		return img.Clone()
	}
	delta := uint8(int64(f * 255))
	dst := img
	if !owned {
		dst = NewImage(img.W, img.H, 3)
	}
	hueShift(dst.Pix, img.Pix, delta)
	return dst
}

func clipInt8(v int) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}

// rgbToHSV is Pillow's rgb2hsv_row for one pixel. fmod(x, 1) is written as
// a subtraction, exact for the x ∈ [0.83, 1.84] that occur here.
func rgbToHSV(r, g, b uint8) (uint8, uint8, uint8) {
	maxc := max(r, g, b)
	minc := min(r, g, b)
	if maxc == minc {
		return 0, 0, maxc
	}
	cr := float32(maxc - minc)
	s := cr / float32(maxc)
	rc := float32(maxc-r) / cr
	gc := float32(maxc-g) / cr
	bc := float32(maxc-b) / cr
	var h float32
	switch {
	case r == maxc:
		h = bc - gc
	case g == maxc:
		h = float32(2.0 + float64(rc) - float64(bc))
	default:
		h = float32(4.0 + float64(gc) - float64(rc))
	}
	x := float64(h)/6.0 + 1.0
	if x >= 1 {
		x--
	}
	h = float32(x)
	return clipInt8(int(float64(h) * 255.0)), clipInt8(int(float64(s) * 255.0)), maxc
}

// hsvToRGB is Pillow's hsv2rgb for one pixel. Every argument of floor and
// round is non-negative, so they become int(x) and int(x + 0.5);
// TestHSVToRGBExhaustive checks all 2²⁴ inputs against the literal port.
func hsvToRGB(h, s, v uint8) (uint8, uint8, uint8) {
	if s == 0 {
		return v, v, v
	}
	hh := float64(h) * 6.0 / 255.0
	i := int(hh)
	f := float32(hh - float64(i))
	fs := float32(float64(s) / 255.0)
	vf := float64(v)
	p := clipInt8(int(vf*(1.0-float64(fs)) + 0.5))
	q := clipInt8(int(vf*(1.0-float64(fs*f)) + 0.5))
	t := clipInt8(int(vf*(1.0-float64(fs)*(1.0-float64(f))) + 0.5))
	switch i {
	case 0, 6:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	}
	return v, p, q
}

package augment

import (
	"math"
	"testing"
)

// Literal ports of Pillow 9.4 Convert.c (rgb2hsv_row, hsv2rgb) with C's
// fmod, floor and round; the fast versions must agree on every input.
func rgbToHSVRef(r, g, b uint8) (uint8, uint8, uint8) {
	maxc, minc := max(r, g, b), min(r, g, b)
	if maxc == minc {
		return 0, 0, maxc
	}
	cr := float32(maxc - minc)
	s := cr / float32(maxc)
	rc, gc, bc := float32(maxc-r)/cr, float32(maxc-g)/cr, float32(maxc-b)/cr
	var h float32
	switch {
	case r == maxc:
		h = bc - gc
	case g == maxc:
		h = float32(2.0 + float64(rc) - float64(bc))
	default:
		h = float32(4.0 + float64(gc) - float64(rc))
	}
	h = float32(math.Mod(float64(h)/6.0+1.0, 1.0))
	return clipInt8(int(float64(h) * 255.0)), clipInt8(int(float64(s) * 255.0)), maxc
}

func hsvToRGBRef(h, s, v uint8) (uint8, uint8, uint8) {
	if s == 0 {
		return v, v, v
	}
	i := int(math.Floor(float64(float32(h)) * 6.0 / 255.0))
	f := float32(float64(float32(h))*6.0/255.0 - float64(float32(i)))
	fs := float32(float64(float32(s)) / 255.0)
	vf := float64(float32(v))
	p := clipInt8(int(math.Round(vf * (1.0 - float64(fs)))))
	q := clipInt8(int(math.Round(vf * (1.0 - float64(fs*f)))))
	t := clipInt8(int(math.Round(vf * (1.0 - float64(fs)*(1.0-float64(f))))))
	switch i % 6 {
	case 0:
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

func TestHSVToRGBExhaustive(t *testing.T) {
	step := 1
	if testing.Short() {
		step = 7
	}
	for a := 0; a < 256; a += step {
		for b := range 256 {
			for c := range 256 {
				x, y, z := uint8(a), uint8(b), uint8(c)
				h1, s1, v1 := rgbToHSV(x, y, z)
				h2, s2, v2 := rgbToHSVRef(x, y, z)
				if h1 != h2 || s1 != s2 || v1 != v2 {
					t.Fatalf("rgbToHSV(%d,%d,%d) = %d,%d,%d, reference %d,%d,%d", a, b, c, h1, s1, v1, h2, s2, v2)
				}
				r1, g1, b1 := hsvToRGB(x, y, z)
				r2, g2, b2 := hsvToRGBRef(x, y, z)
				if r1 != r2 || g1 != g2 || b1 != b2 {
					t.Fatalf("hsvToRGB(%d,%d,%d) = %d,%d,%d, reference %d,%d,%d", a, b, c, r1, g1, b1, r2, g2, b2)
				}
			}
		}
	}
}

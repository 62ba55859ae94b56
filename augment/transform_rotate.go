package augment

import (
	"math"
	"math/rand/v2"
)

// RandomRotation is torchvision's with its defaults: angle ~ U(−d, d)
// degrees counter-clockwise about the centre, nearest neighbour, same size,
// zeros outside. The sampling is PIL's Image.rotate → affine transform in
// 16.16 fixed point (Geometry.c affine_fixed), reproduced exactly.
type RandomRotation struct{ Degrees [2]float64 }

func init() {
	register("RandomRotation", func(p *params) (Transform, error) {
		t := &RandomRotation{}
		if v, ok := p.get("degrees"); ok {
			if f, isNum := number(v); isNum {
				if f < 0 {
					p.fail("degrees", "must be non-negative, got %g", f)
				}
				t.Degrees = [2]float64{-f, f}
			} else {
				t.Degrees = p.pair("degrees", [2]float64{})
			}
		} else {
			p.fail("degrees", "missing")
		}
		if i := p.interp("interpolation", InterpNearest); i != InterpNearest {
			p.fail("interpolation", "only nearest is supported")
		}
		if p.bool("expand", false) {
			p.fail("expand", "expand=True is not supported")
		}
		if p.has("center") {
			p.get("center")
			p.fail("center", "only the image centre is supported")
		}
		if f := p.float("fill", 0); f != 0 {
			p.fail("fill", "only fill 0 is supported")
		}
		return t, nil
	})
}

// Name implements Transform.
func (t *RandomRotation) Name() string { return "RandomRotation" }

// Apply implements ImageTransform.
func (t *RandomRotation) Apply(img *Image, rng *rand.Rand) (*Image, error) {
	return t.apply(img, rng, false)
}

func (t *RandomRotation) apply(img *Image, rng *rand.Rand, _ bool) (*Image, error) {
	return rotatePIL(img, uniform(rng, t.Degrees[0], t.Degrees[1])), nil
}

// rotatePIL is Image.rotate(angle, NEAREST, expand=False, fillcolor=0).
func rotatePIL(img *Image, angle float64) *Image {
	angle = math.Mod(angle, 360)
	if angle < 0 {
		angle += 360
	}
	if angle == 0 {
		return img.Clone()
	}
	w, h := float64(img.W), float64(img.H)
	cx, cy := w/2, h/2
	a := -angle * math.Pi / 180
	r15 := func(x float64) float64 { return math.RoundToEven(x*1e15) / 1e15 }
	m := [6]float64{r15(math.Cos(a)), r15(math.Sin(a)), 0, r15(-math.Sin(a)), r15(math.Cos(a)), 0}
	m[2] = m[0]*(-cx) + m[1]*(-cy) + m[2] + cx
	m[5] = m[3]*(-cx) + m[4]*(-cy) + m[5] + cy
	return affineNearestFixed(img, m)
}

// affineNearestFixed is Pillow's affine_fixed: output (x, y) reads input
// (xx>>16, yy>>16) with the matrix in 16.16 fixed point, stepped by
// addition.
func affineNearestFixed(img *Image, a [6]float64) *Image {
	fix := func(v float64) int { return int(math.Floor(v*65536.0 + 0.5)) }
	a0, a1, a3, a4 := fix(a[0]), fix(a[1]), fix(a[3]), fix(a[4])
	a2 := fix(a[2] + a[0]*0.5 + a[1]*0.5)
	a5 := fix(a[5] + a[3]*0.5 + a[4]*0.5)
	out := NewImage(img.W, img.H, img.C)
	c := img.C
	for y := range img.H {
		xx, yy := a2, a5
		for x := range img.W {
			xin := xx >> 16
			if xin >= 0 && xin < img.W {
				yin := yy >> 16
				if yin >= 0 && yin < img.H {
					copy(out.Pix[(y*img.W+x)*c:(y*img.W+x+1)*c], img.Pix[(yin*img.W+xin)*c:(yin*img.W+xin+1)*c])
				}
			}
			xx += a0
			yy += a3
		}
		a2 += a1
		a5 += a4
	}
	return out
}

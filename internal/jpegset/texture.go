package jpegset

import (
	"math"
	"math/rand/v2"

	"github.com/flowssl/flowssl/augment"
)

// Texture draws a w×h photographic-like RGB image: a two-colour gradient,
// multi-octave value noise, a few soft-edged discs and rectangles, and a
// little per-pixel grain like a camera sensor's.
func Texture(w, h int, rng *rand.Rand) *augment.Image {
	im := augment.NewImage(w, h, 3)
	var c0, c1 [3]float64
	for k := range 3 {
		c0[k], c1[k] = 40+170*rng.Float64(), 40+170*rng.Float64()
	}
	angle := 2 * math.Pi * rng.Float64()
	dx, dy := math.Cos(angle), math.Sin(angle)
	noise := [3]*valueNoise{newValueNoise(rng), newValueNoise(rng), newValueNoise(rng)}
	type shape struct {
		disc          bool
		cx, cy, r, rh float64
		col           [3]float64
	}
	shapes := make([]shape, 6+rng.IntN(6))
	for i := range shapes {
		s := &shapes[i]
		s.disc = rng.IntN(2) == 0
		s.cx, s.cy = rng.Float64()*float64(w), rng.Float64()*float64(h)
		s.r, s.rh = (0.05+0.2*rng.Float64())*float64(w), (0.05+0.2*rng.Float64())*float64(h)
		for k := range 3 {
			s.col[k] = 255 * rng.Float64()
		}
	}
	scale := 1 / float64(max(w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)*scale, float64(y)*scale
			t := 0.5 + 0.5*((fx-0.5)*dx+(fy-0.5)*dy)
			var px [3]float64
			for k := range 3 {
				px[k] = c0[k] + (c1[k]-c0[k])*t
			}
			for _, s := range shapes {
				var d float64
				if s.disc {
					d = math.Hypot((float64(x)-s.cx)/s.r, (float64(y)-s.cy)/s.r) - 1
				} else {
					d = math.Max(math.Abs(float64(x)-s.cx)/s.r, math.Abs(float64(y)-s.cy)/s.rh) - 1
				}
				a := 1 / (1 + math.Exp(d*40)) // soft edge, a few pixels wide
				for k := range 3 {
					px[k] += (s.col[k] - px[k]) * a * 0.8
				}
			}
			o := (y*w + x) * 3
			for k := range 3 {
				v := px[k] + 110*noise[k].fractal(fx*8, fy*8) + 3*rng.NormFloat64()
				im.Pix[o+k] = uint8(math.Max(0, math.Min(255, math.Round(v))))
			}
		}
	}
	return im
}

// valueNoise is lattice noise with smooth (cubic Hermite) interpolation.
type valueNoise struct {
	perm [256]uint8
	val  [256]float64
}

func newValueNoise(rng *rand.Rand) *valueNoise {
	n := &valueNoise{}
	for i, p := range rng.Perm(256) {
		n.perm[i] = uint8(p)
		n.val[i] = 2*rng.Float64() - 1
	}
	return n
}

func (n *valueNoise) lattice(x, y int) float64 {
	return n.val[n.perm[(int(n.perm[x&255])+y)&255]]
}

func (n *valueNoise) at(x, y float64) float64 {
	x0, y0 := math.Floor(x), math.Floor(y)
	tx, ty := x-x0, y-y0
	sx, sy := tx*tx*(3-2*tx), ty*ty*(3-2*ty)
	ix, iy := int(x0), int(y0)
	a := n.lattice(ix, iy) + (n.lattice(ix+1, iy)-n.lattice(ix, iy))*sx
	b := n.lattice(ix, iy+1) + (n.lattice(ix+1, iy+1)-n.lattice(ix, iy+1))*sx
	return a + (b-a)*sy
}

// fractal sums 7 octaves, each twice the frequency and 0.7 times the
// amplitude of the one before (a power spectrum close to natural images'
// 1/f²), reaching 2-pixel detail at 1024 px.
func (n *valueNoise) fractal(x, y float64) float64 {
	var sum, amp, norm float64 = 0, 1, 0
	for range 7 {
		sum += amp * n.at(x, y)
		norm += amp
		x, y, amp = x*2, y*2, amp*0.7
	}
	return sum / norm
}

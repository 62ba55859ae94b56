package data

import "github.com/flowssl/flowssl/augment"

// paint renders the scene. Edges are anti-aliased analytically: a pixel's
// shape coverage is 0.5 − (signed distance of its centre in pixels),
// clamped to [0, 1], the area a straight edge cuts from it.
func (s *scene) paint(channels int) *augment.Image {
	im := augment.NewImage(s.size, s.size, channels)
	half := int64(s.size) * q8 / 2
	for y := range s.size {
		py := int64(y)*q8 + q8/2
		for x := range s.size {
			px := int64(x)*q8 + q8/2
			col := mix3(s.bgA, s.bgB, s.bgT(x, y, px-half, py-half))
			dx, dy := px-s.cx, py-s.cy
			if dx*dx+dy*dy < s.geom.bound {
				u := (dx*s.cos + dy*s.sin) >> 14
				v := (dy*s.cos - dx*s.sin) >> 14
				if a := clamp64(q8/2-s.geom.dist(u, v), 0, q8); a > 0 {
					col = mix3(col, mix3(s.fgA, s.fgB, s.texT(u, v)), a)
				}
			}
			n := int64(hash2(s.noiseKey, x, y)%uint32(2*s.noiseAmp+1)) - s.noiseAmp
			r, g, b := clamp64(col[0]+n, 0, 255), clamp64(col[1]+n, 0, 255), clamp64(col[2]+n, 0, 255)
			i := y*s.size + x
			if channels == 1 {
				im.Pix[i] = uint8((r*19595 + g*38470 + b*7471 + 0x8000) >> 16)
			} else {
				im.Pix[3*i], im.Pix[3*i+1], im.Pix[3*i+2] = uint8(r), uint8(g), uint8(b)
			}
		}
	}
	return im
}

// mix3 blends a towards b by t/256.
func mix3(a, b [3]int64, t int64) [3]int64 {
	return [3]int64{
		(a[0]*(q8-t) + b[0]*t) >> 8,
		(a[1]*(q8-t) + b[1]*t) >> 8,
		(a[2]*(q8-t) + b[2]*t) >> 8,
	}
}

// texT is the texture's blend weight (0..256, fgA to fgB) at (u, v) of the
// shape's frame, so the texture turns with the shape.
func (s *scene) texT(u, v int64) int64 {
	p1 := (u*s.tc + v*s.ts) >> 14
	p2 := (v*s.tc - u*s.ts) >> 14
	switch s.tex {
	case texStripes:
		return triWave(p1+s.texPhase, s.texP)
	case texChecker:
		a, b := triWave(p1+s.texPhase, s.texP)-128, triWave(p2, s.texP)-128
		return clamp64(128+a*b/16, 0, q8)
	case texDots:
		m1 := mod64(p1+s.texPhase, s.texP) - s.texP/2
		m2 := mod64(p2, s.texP) - s.texP/2
		return clamp64(q8/2+s.texP*3/10-isqrt(m1*m1+m2*m2), 0, q8)
	case texGradient:
		r := s.geom.r
		return clamp64((p1+r)*q8/(2*r), 0, q8)
	case texRings:
		return triWave(isqrt(u*u+v*v)+s.texPhase, s.texP)
	}
	return 0
}

// bgT is the background's blend weight (bgA to bgB) at pixel (x, y), whose
// centre is (qx, qy) from the image centre in Q8 pixels.
func (s *scene) bgT(x, y int, qx, qy int64) int64 {
	switch s.bg {
	case bgGradient:
		full := int64(s.size) * q8
		p := (qx*s.bc + qy*s.bs) >> 14
		return clamp64((p+full/2)*q8/full, 0, q8)
	case bgStripes:
		return triWave(((qx*s.bc+qy*s.bs)>>14)+s.bgPhase, s.bgP)
	case bgClouds:
		return s.clouds(x, y)
	}
	return 0
}

// clouds is value noise: smoothstep-interpolated random values on a coarse
// gridN×gridN lattice over the image.
func (s *scene) clouds(x, y int) int64 {
	n := int64(s.gridN)
	fx := (int64(x)*q8 + q8/2) * n / int64(s.size) // lattice units, Q8
	fy := (int64(y)*q8 + q8/2) * n / int64(s.size)
	ix, iy := min(fx>>8, n-1), min(fy>>8, n-1)
	tx, ty := smooth(fx-ix*q8), smooth(fy-iy*q8)
	row := n + 1
	g := s.grid
	top := g[iy*row+ix]*(q8-tx) + g[iy*row+ix+1]*tx
	bot := g[(iy+1)*row+ix]*(q8-tx) + g[(iy+1)*row+ix+1]*tx
	return (top*(q8-ty) + bot*ty) >> 16
}

// smooth is smoothstep on a Q8 fraction: t²(3 − 2t).
func smooth(t int64) int64 { return t * t * (3*q8 - 2*t) >> 16 }

func mod64(x, p int64) int64 {
	m := x % p
	if m < 0 {
		m += p
	}
	return m
}

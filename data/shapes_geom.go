package data

// ShapeClassNames returns the Shapes classes in label order.
func ShapeClassNames() []string { return append([]string(nil), shapeClassNames...) }

var shapeClassNames = []string{"circle", "square", "triangle", "star", "ring", "cross", "hexagon", "ellipse", "heart", "crescent"}

const (
	shapeCircle = iota
	shapeSquare
	shapeTriangle
	shapeStar
	shapeRing
	shapeCross
	shapeHexagon
	shapeEllipse
	shapeHeart
	shapeCrescent
	numShapeClasses
)

// geom is one shape's outline in its own frame (origin at the centre,
// rotation already removed), with sizes in Q8 pixels derived from the
// nominal radius r. Proportions (1/1024ths of r) give every class about the
// same area, 2r², so that class means of the pixels differ little.
type geom struct {
	class int
	r     int64
	bound int64 // squared radius beyond which the shape is surely absent (Q16)
	a, b  int64 // class-specific lengths
	c     int64
	// star: outward edge normal (nx, ny) of its length nl, tip at (a, 0)
	nx, ny, nl int64
}

func newGeom(class int, r int64) geom {
	g := geom{class: class, r: r}
	ext := r // furthest extent
	switch class {
	case shapeCircle:
		g.a = frac(r, 819) // 0.80: π·0.80² ≈ 2.01
	case shapeSquare:
		g.a = frac(r, 724) // half side 0.707: 4·0.707² = 2.00
		ext = frac(r, 1024)
	case shapeTriangle:
		g.a = frac(r, 635) // apothem 0.62, circumradius 1.24: 1.299·1.24² ≈ 2.00
		ext = 2 * g.a
	case shapeStar:
		// Pentagram, tip 1.23, inner vertices 0.45 of that: 2.939·1.23·0.554 ≈ 2.00.
		g.a = frac(r, 1260)
		g.b = frac(g.a, 461)
		ix, iy := g.b*cosDeg(36)/q14, g.b*sinDeg(36)/q14
		g.nx, g.ny = iy, g.a-ix
		g.nl = isqrt(g.nx*g.nx + g.ny*g.ny)
		ext = g.a
	case shapeRing:
		g.a = frac(r, 819) // mid radius 0.80, half width 0.20: π(1.0² − 0.6²) ≈ 2.01
		g.b = frac(r, 205)
		ext = g.a + g.b
	case shapeCross:
		g.a = frac(r, 1014) // arm half length 0.99, half width 0.297: 8ab − 4b² ≈ 2.00
		g.b = frac(r, 304)
		ext = frac(r, 1070)
	case shapeHexagon:
		g.a = frac(r, 778) // apothem 0.76, circumradius 0.877: 2.598·0.877² ≈ 2.00
		ext = frac(r, 900)
	case shapeEllipse:
		g.a = frac(r, 1155) // semi-axes 1.128 and 0.564: π·1.128·0.564 ≈ 2.00
		g.b = g.a / 2
		ext = g.a
	case shapeHeart:
		// A square of side 1.058 turned 45° (half diagonal h = 0.748) with
		// discs of radius 0.529 on its two upper sides: 1.785·1.058² ≈ 2.00.
		g.a = frac(r, 766) // h
		g.b = frac(r, 542) // disc radius
		g.c = frac(g.a, 106)
		ext = frac(r, 1050)
	case shapeCrescent:
		// Disc of radius 1.054 minus a disc of radius 0.864 shifted by 0.737
		// (lens-area formula: 2.00).
		g.a = frac(r, 1079)
		g.b = frac(r, 885)
		g.c = frac(r, 755)
		ext = g.a
	}
	ext += 2 * q8 // the anti-aliased edge
	g.bound = ext * ext
	return g
}

// dist returns the signed distance (Q8 pixels, negative inside) from the
// point (u, v) of the shape's frame to its outline. It is exact near edges
// and an estimate elsewhere, which is all coverage needs.
func (g *geom) dist(u, v int64) int64 {
	switch g.class {
	case shapeCircle:
		return isqrt(u*u+v*v) - g.a
	case shapeSquare:
		return max(abs64(u), abs64(v)) - g.a
	case shapeTriangle:
		return polygon(u, v, 3, 0) - g.a
	case shapeStar:
		return g.star(u, v)
	case shapeRing:
		return abs64(isqrt(u*u+v*v)-g.a) - g.b
	case shapeCross:
		au, av := abs64(u), abs64(v)
		return min(max(au-g.a, av-g.b), max(au-g.b, av-g.a))
	case shapeHexagon:
		return polygon(u, v, 6, 30) - g.a
	case shapeEllipse:
		return ellipse(u, v, g.a, g.b)
	case shapeHeart:
		v -= g.c // centre the outline's bounding box
		au := abs64(u)
		diamond := (au + abs64(v) - g.a) * 11585 / q14 // /√2
		hx, hy := g.a/2, -g.a/2
		disc := isqrt((au-hx)*(au-hx)+(v-hy)*(v-hy)) - g.b
		return min(diamond, disc)
	case shapeCrescent:
		outer := isqrt(u*u+v*v) - g.a
		du := u - g.c
		cut := isqrt(du*du+v*v) - g.b
		return max(outer, -cut)
	}
	return 1 << 40
}

// polygon returns max over n edge normals (at phase + k·360/n degrees) of
// the projection of (u, v): the distance to a regular polygon plus its
// apothem.
func polygon(u, v int64, n, phase int) int64 {
	best := int64(-1 << 62)
	for k := range n {
		d := phase + k*360/n
		best = max(best, (u*cosDeg(d)+v*sinDeg(d))>>14)
	}
	return best
}

// star folds (u, v) into the half-sector [0°, 36°] of the pentagram and
// measures the distance to the edge from the tip (a, 0) towards the inner
// vertex.
func (g *geom) star(u, v int64) int64 {
	bestK, best := 0, int64(-1<<62)
	for k := range 5 {
		if d := u*cosDeg(72*k) + v*sinDeg(72*k); d > best {
			bestK, best = k, d
		}
	}
	c, s := cosDeg(72*bestK), sinDeg(72*bestK)
	fu := best >> 14
	fv := abs64((-u*s + v*c) >> 14)
	return ((fu-g.a)*g.nx + fv*g.ny) / g.nl
}

// ellipse estimates the distance to the ellipse with semi-axes a (along u)
// and b = a/2 as f/|∇f| for f = (u/a)² + (v/b)² − 1.
func ellipse(u, v, a, b int64) int64 {
	x := u * 4096 / a // Q12
	y := v * 4096 / b
	den := 2 * isqrt(x*x+4*y*y) // |∇f|·a/2, Q12
	num := x*x + y*y - 1<<24    // f, Q24
	if den < 64 {
		return -a
	}
	return num * a / den / 4096
}

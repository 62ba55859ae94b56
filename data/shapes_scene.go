package data

import "math/rand/v2"

// Textures painted inside a shape. Each class prefers one (classPrefTex),
// a cue a learner can use but not rely on.
const (
	texSolid = iota
	texStripes
	texChecker
	texDots
	texGradient
	texRings
	numTextures
)

// Background styles.
const (
	bgFlat = iota
	bgGradient
	bgClouds
	bgStripes
	numBackgrounds
)

// scene is everything drawn from the RNG for one image; painting it is
// pure integer arithmetic.
type scene struct {
	size     int
	geom     geom
	cx, cy   int64 // centre, Q8 pixels
	cos, sin int64 // rotation, Q14

	fgA, fgB [3]int64
	tex      int
	tc, ts   int64 // texture direction in the shape's frame, Q14
	texP     int64 // texture period, Q8 pixels
	texPhase int64

	bgA, bgB [3]int64
	bg       int
	bc, bs   int64
	bgP      int64
	bgPhase  int64
	gridN    int
	grid     []int64 // (gridN+1)² values in 0..256

	noiseAmp int64
	noiseKey uint32
}

// rng draws integers from PCG with its own range reduction, so that the
// images do not depend on how math/rand/v2 maps ranges in a given Go
// release; only the PCG-DXSM stream itself is relied on.
type rng struct{ p *rand.PCG }

func (r rng) intn(n int) int { return int(((r.p.Uint64() >> 32) * uint64(n)) >> 32) }

// between returns a uniform integer in [lo, hi].
func (r rng) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.intn(hi-lo+1)
}

func newScene(seed uint64, index, size int) *scene {
	r := rng{rand.NewPCG(splitmix64(seed), splitmix64(uint64(index)^0x5eed5eed5eed5eed))}
	class := index % numShapeClasses
	full := int64(size) * q8
	s := &scene{size: size}

	rad := full * int64(r.between(225, 370)) / 1024
	s.geom = newGeom(class, rad)
	// The centre keeps at least 3/4 of the radius inside the image.
	jit := max(full/2-rad*3/4, 0)
	s.cx = full/2 + int64(r.between(int(-jit), int(jit)))
	s.cy = full/2 + int64(r.between(int(-jit), int(jit)))
	rot := r.intn(360)
	s.cos, s.sin = cosDeg(rot), sinDeg(rot)

	// Two thirds of the shapes are lighter than their background: enough
	// asymmetry for class means to show the outline's radial profile, while
	// equal areas keep the mean colours of all classes alike.
	fgLight := r.intn(3) < 2
	fgV, bgV := r.between(25, 105), r.between(165, 250)
	if fgLight {
		fgV, bgV = bgV, fgV
	}
	fgH, fgS := r.intn(360), r.between(40, 230)
	bgH, bgS := r.intn(360), r.between(40, 230)
	s.fgA = hsv(fgH, fgS, fgV)
	shift := r.between(50, 90)
	if fgLight {
		shift = -shift
	}
	s.fgB = hsv(fgH+r.between(-30, 30), fgS, fgV+shift)

	s.tex = r.intn(numTextures)
	if r.intn(2) == 0 {
		s.tex = class % numTextures
	}
	ta := r.intn(360)
	s.tc, s.ts = cosDeg(ta), sinDeg(ta)
	s.texP = max(rad*int64(r.between(300, 500))/1024, 3*q8)
	s.texPhase = int64(r.intn(int(s.texP)))

	s.bg = r.intn(numBackgrounds)
	bShift := r.between(20, 60)
	if !fgLight {
		bShift = -bShift
	}
	s.bgA = hsv(bgH, bgS, bgV)
	s.bgB = hsv(bgH+r.between(-40, 40), bgS, bgV+bShift)
	ba := r.intn(360)
	s.bc, s.bs = cosDeg(ba), sinDeg(ba)
	s.bgP = max(full*int64(r.between(80, 200))/1024, 4*q8)
	s.bgPhase = int64(r.intn(int(s.bgP)))
	s.gridN = r.between(2, 4)
	s.grid = make([]int64, (s.gridN+1)*(s.gridN+1))
	for i := range s.grid {
		s.grid[i] = int64(r.intn(257))
	}

	s.noiseAmp = int64(r.between(2, 14))
	s.noiseKey = uint32(r.p.Uint64())
	return s
}

// hsv converts hue (degrees, any integer), saturation and value (0..255,
// value clamped) to RGB with integer arithmetic.
func hsv(h, s, v int) [3]int64 {
	h = ((h % 360) + 360) % 360
	v = min(max(v, 0), 255)
	region := h / 60
	rem := (h - region*60) * 255 / 60
	p := v * (255 - s) / 255
	q := v * (255 - s*rem/255) / 255
	t := v * (255 - s*(255-rem)/255) / 255
	switch region {
	case 0:
		return [3]int64{int64(v), int64(t), int64(p)}
	case 1:
		return [3]int64{int64(q), int64(v), int64(p)}
	case 2:
		return [3]int64{int64(p), int64(v), int64(t)}
	case 3:
		return [3]int64{int64(p), int64(q), int64(v)}
	case 4:
		return [3]int64{int64(t), int64(p), int64(v)}
	}
	return [3]int64{int64(v), int64(p), int64(q)}
}

package data

import "math"

// Fixed-point helpers for the Shapes renderer. Everything after the RNG
// draws is integer arithmetic, so an image is bit-identical on every
// machine: Go may fuse float multiply-adds on some architectures, integers
// have no such freedom.
//
// Units: lengths are Q8 pixels (256 = one pixel), sines and cosines Q14
// (16384 = 1), angles whole degrees.

const (
	q8  = 256
	q14 = 16384
)

// sinQ14 holds round(sin(d°)·16384) for d = 0..359. math.Sin's last bits
// may differ between machines, but TestSinTableMargin checks that every
// entry is far (in ulps) from a rounding boundary, so the table is the
// same everywhere.
var sinQ14 = func() [360]int64 {
	var t [360]int64
	for d := range t {
		t[d] = int64(math.Round(math.Sin(float64(d)*math.Pi/180) * q14))
	}
	return t
}()

func sinDeg(d int) int64 { return sinQ14[((d%360)+360)%360] }
func cosDeg(d int) int64 { return sinQ14[((d+90)%360+360)%360] }

// isqrt returns floor(sqrt(n)) for 0 <= n < 2⁶², exactly: the float
// estimate is corrected with integer arithmetic.
func isqrt(n int64) int64 {
	if n <= 0 {
		return 0
	}
	r := int64(math.Sqrt(float64(n)))
	for r*r > n {
		r--
	}
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func clamp64(x, lo, hi int64) int64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// frac scales x by num/1024 (shape proportions are given in 1/1024ths).
func frac(x, num int64) int64 { return x * num / 1024 }

// triWave maps x to a triangle wave of period p: 256 at multiples of p, 0
// half-way between. Smooth stripes alias far less than hard ones.
func triWave(x, p int64) int64 {
	m := x % p
	if m < 0 {
		m += p
	}
	return abs64(2*m-p) * 256 / p
}

// splitmix64 scrambles a seed so that neighbouring seeds and indices give
// unrelated PCG streams.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hash2 is a cheap integer hash of a pixel position for per-pixel noise.
func hash2(key uint32, x, y int) uint32 {
	h := key ^ uint32(x)*0x9e3779b1 ^ uint32(y)*0x85ebca77
	h ^= h >> 15
	h *= 0x2c1b3c6d
	h ^= h >> 12
	h *= 0x297a2d39
	h ^= h >> 15
	return h
}

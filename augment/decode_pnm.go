package augment

import (
	"fmt"
	"math"
)

// isPNM reports whether buf starts like a Netpbm file (P1–P6).
func isPNM(buf []byte) bool {
	return len(buf) >= 3 && buf[0] == 'P' && buf[1] >= '1' && buf[1] <= '6' && pnmSpace(buf[2])
}

func pnmSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

type pnmHead struct {
	kind       byte // '1'..'6'
	w, h, max  int
	data       int // offset of the raster
	bands, bpv int // 1 or 3; bytes per binary value (1 or 2)
}

// pnmScanner reads the whitespace- and comment-separated tokens of a
// Netpbm header or plain raster.
type pnmScanner struct {
	buf []byte
	i   int
}

func (s *pnmScanner) skip() {
	for s.i < len(s.buf) {
		switch c := s.buf[s.i]; {
		case pnmSpace(c):
			s.i++
		case c == '#':
			for s.i < len(s.buf) && s.buf[s.i] != '\n' && s.buf[s.i] != '\r' {
				s.i++
			}
		default:
			return
		}
	}
}

// int reads a decimal number up to limit.
func (s *pnmScanner) int(limit int) (int, error) {
	s.skip()
	start, v := s.i, 0
	for s.i < len(s.buf) && s.buf[s.i] >= '0' && s.buf[s.i] <= '9' {
		v = v*10 + int(s.buf[s.i]-'0')
		if v > limit {
			return 0, fmt.Errorf("%w: pnm: number over %d", ErrBadImage, limit)
		}
		s.i++
	}
	if s.i == start {
		if s.i >= len(s.buf) {
			return 0, fmt.Errorf("%w: truncated: pnm data ends early", ErrBadImage)
		}
		return 0, fmt.Errorf("%w: pnm: expected a number at byte %d", ErrBadImage, s.i)
	}
	return v, nil
}

func pnmHeader(buf []byte) (pnmHead, error) {
	if !isPNM(buf) {
		return pnmHead{}, fmt.Errorf("%w: not a pnm file", ErrBadImage)
	}
	hd := pnmHead{kind: buf[1], max: 1, bands: 1, bpv: 1}
	s := &pnmScanner{buf: buf, i: 2}
	var err error
	if hd.w, err = s.int(1 << 30); err != nil {
		return hd, err
	}
	if hd.h, err = s.int(1 << 30); err != nil {
		return hd, err
	}
	if hd.kind != '1' && hd.kind != '4' {
		if hd.max, err = s.int(65535); err != nil {
			return hd, err
		}
		if hd.max < 1 {
			return hd, fmt.Errorf("%w: pnm: maxval 0", ErrBadImage)
		}
	}
	if hd.kind == '3' || hd.kind == '6' {
		hd.bands = 3
	}
	if hd.max > 255 {
		hd.bpv = 2
	}
	// One whitespace byte ends the header.
	if s.i >= len(buf) || !pnmSpace(buf[s.i]) {
		return hd, fmt.Errorf("%w: truncated: pnm header ends early", ErrBadImage)
	}
	hd.data = s.i + 1
	return hd, nil
}

// decodePNM reads P1–P6 as PIL 9.4's PpmImagePlugin does: bitmaps give 0
// (for 1) and 255, and samples with a maxval other than 255 are scaled to
// min(255, round(v/maxval·255)), Python's round (half to even). One
// deliberate difference: PIL opens grey files with maxval > 255 as 32-bit
// "I" and its RGB conversion then clips every value above 255, where this
// scales them like the RGB case.
func decodePNM(buf []byte, maxPixels int64) (goDecoded, error) {
	hd, err := pnmHeader(buf)
	if err != nil {
		return goDecoded{}, err
	}
	if err := checkSize(hd.w, hd.h, maxPixels); err != nil {
		return goDecoded{}, err
	}
	n := hd.w * hd.h * hd.bands
	raster := buf[hd.data:]
	// Every sample takes at least a byte (a plain bitmap's digits need no
	// separators; a binary bitmap packs 8 per byte), so this bounds the
	// allocation by the input size.
	need := n
	switch hd.kind {
	case '4':
		need = (hd.w + 7) / 8 * hd.h
	case '5', '6':
		need = n * hd.bpv
	}
	if len(raster) < need {
		return goDecoded{}, fmt.Errorf("%w: truncated: pnm raster has %d bytes, needs %d", ErrBadImage, len(raster), need)
	}
	vals := make([]uint8, n)
	scale := func(v int) (uint8, error) {
		if v > hd.max {
			return 0, fmt.Errorf("%w: pnm: sample %d over maxval %d", ErrBadImage, v, hd.max)
		}
		if hd.max == 255 {
			return uint8(v), nil
		}
		return uint8(min(255, math.RoundToEven(float64(v)/float64(hd.max)*255))), nil
	}
	switch hd.kind {
	case '1':
		s := &pnmScanner{buf: raster}
		for i := range vals {
			s.skip()
			if s.i >= len(raster) {
				return goDecoded{}, fmt.Errorf("%w: truncated: pnm data ends early", ErrBadImage)
			}
			switch raster[s.i] {
			case '0':
				vals[i] = 255
			case '1':
				vals[i] = 0
			default:
				return goDecoded{}, fmt.Errorf("%w: pnm: bad bitmap digit %q", ErrBadImage, raster[s.i])
			}
			s.i++
		}
	case '2', '3':
		s := &pnmScanner{buf: raster}
		for i := range vals {
			v, err := s.int(65535)
			if err != nil {
				return goDecoded{}, err
			}
			if vals[i], err = scale(v); err != nil {
				return goDecoded{}, err
			}
		}
	case '4':
		stride := (hd.w + 7) / 8
		for y := range hd.h {
			for x := range hd.w {
				if raster[y*stride+x/8]&(0x80>>(x%8)) == 0 {
					vals[y*hd.w+x] = 255
				}
			}
		}
	default:
		for i := range vals {
			v := int(raster[i*hd.bpv])
			if hd.bpv == 2 {
				v = v<<8 | int(raster[2*i+1])
			}
			if vals[i], err = scale(v); err != nil {
				return goDecoded{}, err
			}
		}
	}
	d := goDecoded{w: hd.w, h: hd.h, rgb: vals}
	if hd.bands == 1 {
		d.rgb = make([]uint8, 3*n)
		for i, v := range vals {
			d.rgb[3*i], d.rgb[3*i+1], d.rgb[3*i+2] = v, v, v
		}
	}
	return d, nil
}

package augment

/*
#cgo CFLAGS: -O3
#include "kernels.h"
*/
import "C"

import (
	"sync"
	"unsafe"
)

// The transforms' pixel loops run in kernels.c (see kernels.h for why);
// these wrappers take Go slices, which cgo lets C read and write for the
// duration of the call. Scratch memory comes from bufpool.go.

func u8p(b []uint8) *C.uint8_t { return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b))) }

// setScalarKernels switches fk_resample_h's SSE4.1 path off (tests).
func setScalarKernels(on bool) {
	C.fk_scalar_only = 0
	if on {
		C.fk_scalar_only = 1
	}
}

// boxBlur runs Pillow's extended box blur (passes passes along x, then
// along y) on im in place.
func boxBlur(im *Image, radius int, ww, fw uint32, passes int) {
	n := im.W * im.H * im.C
	s1, s2 := getBytes(n), getBytes(n)
	acc := getWords(max(im.W, im.H) * im.C)
	C.fk_box_blur(u8p(im.Pix), C.int(im.W), C.int(im.H), C.int(im.C), C.int(radius),
		C.uint32_t(ww), C.uint32_t(fw), C.int(passes), u8p(*s1), u8p(*s2),
		(*C.uint32_t)(unsafe.Pointer(&(*acc)[0])))
	putBytes(s1)
	putBytes(s2)
	putWords(acc)
}

// int32s converts resampleCoeffs' bounds for C.
func int32s(v []int) []int32 {
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}

// pixView is a w×h rectangle of an image's pixels: rows start stride
// bytes apart, the first at pix[off]. It lets a crop be resampled without
// copying it out first.
type pixView struct {
	pix                  []uint8
	off, w, h, c, stride int
}

func viewOf(im *Image) pixView {
	return pixView{pix: im.Pix, w: im.W, h: im.H, c: im.C, stride: im.W * im.C}
}

// resampleH is Pillow's horizontal pass over rows y0.. of in into out.
func resampleH(out *Image, in pixView, y0, ksize int, bounds []int, kk []int32) {
	b := int32s(bounds)
	C.fk_resample_h(u8p(in.pix[in.off:]), C.long(in.stride), C.int(in.w), C.int(in.c), C.int(y0), C.int(out.H),
		u8p(out.Pix), C.int(out.W), C.int(ksize),
		(*C.int32_t)(unsafe.Pointer(&b[0])), (*C.int32_t)(unsafe.Pointer(&kk[0])))
}

// resampleV is Pillow's vertical pass from in into out.
func resampleV(out *Image, in pixView, ksize int, bounds []int, kk []int32) {
	b := int32s(bounds)
	n := in.w * in.c
	acc := getWords(n)
	C.fk_resample_v(u8p(in.pix[in.off:]), C.long(in.stride), C.int(n), u8p(out.Pix), C.int(out.H), C.int(ksize),
		(*C.int32_t)(unsafe.Pointer(&b[0])), (*C.int32_t)(unsafe.Pointer(&kk[0])),
		(*C.int32_t)(unsafe.Pointer(&(*acc)[0])))
	putWords(acc)
}

// hueTables holds Pillow's 8-bit HSV conversion tabulated by rgbToHSV and
// hsvToRGB themselves, so fk_hue is exact by construction: hue depends only
// on which channel is largest and smallest, max−min and max−(the third
// channel); saturation on max−min and max; the sector and fraction of
// hsv2rgb on the hue, its float saturation on s.
type hueTables struct {
	h  [6*256*257/2 + 3]uint8 // + 3: fk_hue_avx2 gathers 4 bytes at a time
	s  [256*256 + 3]uint8
	hi [256]int32
	hf [256]float32
	fs [256]float32
}

var (
	hueOnce sync.Once
	hueTab  *hueTables
)

func hueTablesGet() *hueTables {
	hueOnce.Do(func() {
		t := new(hueTables)
		for cr := 1; cr < 256; cr++ {
			lo := uint8(255 - cr)
			for d := 0; d <= cr; d++ {
				m := uint8(255 - d)
				// A pixel of each sector with this (cr, d), in the
				// branch order of Pillow's rgb2hsv_row (fk_hue's).
				px := [6][3]uint8{
					{255, m, lo}, {255, lo, m}, // r max; min b, min g
					{lo, 255, m}, {m, 255, lo}, // g max; min r, min b
					{lo, m, 255}, {m, lo, 255}, // b max; min r, min g
				}
				for sec, p := range px {
					h, _, _ := rgbToHSV(p[0], p[1], p[2])
					t.h[sec*(256*257/2)+cr*(cr+1)/2+d] = h
				}
			}
			for v := cr; v < 256; v++ {
				_, s, _ := rgbToHSV(uint8(v), uint8(v-cr), uint8(v-cr))
				t.s[cr*256+v] = s
			}
		}
		for h := range 256 {
			hh := float64(h) * 6.0 / 255.0
			t.hi[h] = int32(hh)
			t.hf[h] = float32(hh - float64(int(hh)))
			t.fs[h] = float32(float64(h) / 255.0)
		}
		hueTab = t
	})
	return hueTab
}

func hueShift(dst, src []uint8, delta uint8) {
	t := hueTablesGet()
	C.fk_hue(u8p(src), u8p(dst), C.int(len(src)/3), C.uint8_t(delta), u8p(t.h[:]), u8p(t.s[:]),
		(*C.int32_t)(unsafe.Pointer(&t.hi[0])), (*C.float)(unsafe.Pointer(&t.hf[0])),
		(*C.float)(unsafe.Pointer(&t.fs[0])))
}

func saturationBlend(dst, src []uint8, alpha float32) {
	C.fk_saturation(u8p(src), u8p(dst), C.int(len(src)/3), C.float(alpha))
}

func lumaHist(src []uint8, hist *[256]uint32) {
	C.fk_luma_hist(u8p(src), C.int(len(src)/3), (*C.uint32_t)(unsafe.Pointer(&hist[0])))
}

func lutMap(dst, src []uint8, lut *[256]uint8) {
	if len(src) == 0 {
		return
	}
	C.fk_lut(u8p(src), u8p(dst), C.long(len(src)), u8p(lut[:]))
}

func grayPixels(dst, src []uint8, dc int) {
	C.fk_gray(u8p(src), u8p(dst), C.int(len(src)/3), C.int(dc))
}

func hflipInPlace(im *Image) {
	C.fk_hflip(u8p(im.Pix), C.int(im.W), C.int(im.H), C.int(im.C))
}

func toTensor3(src []uint8, lut tensorLUT, r, g, b []float32) {
	f := func(s []float32) *C.float { return (*C.float)(unsafe.Pointer(&s[0])) }
	C.fk_to_tensor3(u8p(src), C.int(len(r)), f(lut[0][:]), f(lut[1][:]), f(lut[2][:]), f(r), f(g), f(b))
}

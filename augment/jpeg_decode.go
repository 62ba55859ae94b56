package augment

/*
#cgo pkg-config: libjpeg
#include <stdlib.h>
#include "jpeg_decode.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// isJPEG reports whether buf starts with a JPEG SOI marker.
func isJPEG(buf []byte) bool {
	return len(buf) >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF
}

// jpegProbe returns the size of a JPEG that the direct path can decode
// (ok false: leave the file to libvips).
func jpegProbe(buf []byte) (w, h int, ok bool) {
	var info C.fj_info
	var status C.int
	var msg [256]C.char
	// fj_open reads buf only during the call, so no pin is needed.
	d := C.fj_open(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), 1, &info, &status, &msg[0], C.size_t(len(msg)))
	if d == nil {
		return 0, 0, false
	}
	C.fj_close(d)
	return int(info.width), int(info.height), true
}

// jpegDecode is decodeRegion's direct libjpeg path. It returns ok false,
// and no pixels, for everything it does not handle cleanly: CMYK/YCCK,
// EXIF orientation other than 1, any libjpeg warning or error, a size over
// MaxPixels, a crop outside the image. libvips then decodes the file (or
// reports why not), so errors and their texts stay libvips' and this path
// only adds speed: on ImageNet-sized files libvips' per-image set-up (an
// operation graph, a sink thread, strip copies) costs about as much as the
// decode itself (decode_bench_test.go).
func jpegDecode(buf []byte, o DecodeOptions, r *region) (*Image, decodeStats, bool) {
	scale := 1
	if r != nil {
		scale = r.shrink
	}
	var info C.fj_info
	var status C.int
	var msg [256]C.char
	// libjpeg keeps reading buf until fj_close, across cgo calls.
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	d := C.fj_open(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), C.int(scale), &info, &status, &msg[0], C.size_t(len(msg)))
	if d == nil {
		return nil, decodeStats{}, false
	}
	defer C.fj_close(d)
	W, H := int(info.width), int(info.height)
	ow, oh := int(info.out_w), int(info.out_h)
	if int64(W)*int64(H) > o.MaxPixels {
		return nil, decodeStats{}, false
	}
	st := decodeStats{shrink: scale, loadW: ow, loadH: oh, direct: true}
	x0, y0, x1, y1 := 0, 0, ow, oh
	if r != nil {
		if r.x < 0 || r.y < 0 || r.cw < 1 || r.ch < 1 || r.x > W-r.cw || r.y > H-r.ch {
			return nil, decodeStats{}, false
		}
		x0, y0 = min(r.x/scale, ow-1), min(r.y/scale, oh-1)
		x1 = min(max(x0+1, (r.x+r.cw+scale-1)/scale), ow)
		y1 = min(max(y0+1, (r.y+r.ch+scale-1)/scale), oh)
		st.areaX, st.areaY = x0, y0
	}
	out := newPooledImage(x1-x0, y1-y0, o.Channels)
	if o.Channels == 3 && x0 == 0 && x1 == ow {
		if C.fj_read(d, C.int(y0), C.int(y1), (*C.uchar)(unsafe.Pointer(&out.Pix[0])), &msg[0], C.size_t(len(msg))) != C.FJ_OK {
			releaseImage(out)
			return nil, decodeStats{}, false
		}
		return out, st, true
	}
	rows := getBytes((y1 - y0) * ow * 3)
	defer putBytes(rows)
	if C.fj_read(d, C.int(y0), C.int(y1), (*C.uchar)(unsafe.Pointer(&(*rows)[0])), &msg[0], C.size_t(len(msg))) != C.FJ_OK {
		releaseImage(out)
		return nil, decodeStats{}, false
	}
	w := x1 - x0
	for y := range y1 - y0 {
		src := (*rows)[(y*ow+x0)*3 : (y*ow+x1)*3]
		if o.Channels == 3 {
			copy(out.Pix[y*w*3:(y+1)*w*3], src)
			continue
		}
		dst := out.Pix[y*w : (y+1)*w]
		for i := range dst {
			p := src[3*i : 3*i+3 : 3*i+3]
			dst[i] = luma(p[0], p[1], p[2])
		}
	}
	return out, st, true
}

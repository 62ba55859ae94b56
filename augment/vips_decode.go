package augment

/*
#include <stdlib.h>
#include "vips_decode.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"github.com/h2non/bimg"
)

// Step codes of vips_decode.h, named for error messages.
var vipsSteps = map[C.int]string{
	C.FS_STEP_FORMAT:   "format",
	C.FS_STEP_HEADER:   "header",
	C.FS_STEP_LIMIT:    "size limit",
	C.FS_STEP_ARGS:     "arguments",
	C.FS_STEP_PIPELINE: "pipeline",
	C.FS_STEP_PIXELS:   "pixels",
}

// vipsErr turns a per-call fs_error into a Go error. Only caller mistakes
// (FS_STEP_ARGS) stay outside ErrBadImage.
func vipsErr(buf []byte, e *C.fs_error) error {
	lines := strings.Split(strings.TrimSpace(C.GoString(&e.msg[0])), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	msg := strings.Join(lines, "; ")
	step := vipsSteps[e.step]
	switch e.step {
	case C.FS_STEP_ARGS:
		return fmt.Errorf("augment: decode: %s", msg)
	case C.FS_STEP_FORMAT, C.FS_STEP_HEADER:
		// bimg's magic-byte sniffing names what the bytes look like,
		// which is more useful than libvips' "not in a known format".
		return fmt.Errorf("%w: %s (%d bytes, looks like %s): %s", ErrBadImage, step, len(buf), bimg.DetermineImageTypeName(buf), msg)
	}
	return fmt.Errorf("%w: %s: %s", ErrBadImage, step, msg)
}

func vipsProbe(buf []byte) (int, int, error) {
	if len(buf) == 0 {
		return 0, 0, fmt.Errorf("%w: empty input", ErrBadImage)
	}
	var e C.fs_error
	var w, h C.int
	// fs_probe drops its image before returning, so buf needs no pin.
	if C.fs_probe(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), &w, &h, &e) != 0 {
		return 0, 0, vipsErr(buf, &e)
	}
	return int(w), int(h), nil
}

// vipsDecode runs the C pipeline: fs_open builds it lazily over buf, Go
// allocates the output, fs_write streams the pixels into it. With r, the
// output is the part of the (shrunk, oriented) image that covers r's crop,
// and st.areaX, st.areaY say where it starts.
func vipsDecode(buf []byte, o DecodeOptions, r *region) (*Image, decodeStats, error) {
	p := C.fs_params{channels: C.int(o.Channels), max_pixels: C.int64_t(o.MaxPixels), shrink: 1}
	if r != nil {
		p.crop = 1
		p.x, p.y, p.cw, p.ch = C.int(r.x), C.int(r.y), C.int(r.cw), C.int(r.ch)
		p.shrink = C.int(r.shrink)
	}
	// libvips reads buf lazily from fs_open until fs_close, i.e. across
	// cgo calls, which cgo allows only for pinned memory.
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	var e C.fs_error
	d := C.fs_open(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), &p, &e)
	if d == nil {
		return nil, decodeStats{}, vipsErr(buf, &e)
	}
	defer C.fs_close(d)
	st := decodeStats{shrink: int(d.shrink), loadW: int(d.load_width), loadH: int(d.load_height),
		areaX: int(d.area_x), areaY: int(d.area_y)}
	im := NewImage(int(d.width), int(d.height), int(d.bands))
	if C.fs_write(d, unsafe.Pointer(&im.Pix[0]), C.size_t(len(im.Pix)), &e) != 0 {
		return nil, st, vipsErr(buf, &e)
	}
	return im, st, nil
}

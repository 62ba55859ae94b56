package augment

/*
#include <stdlib.h>
#include "vips_decode.h"
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"
)

// libvips band formats and interpretations for encodeRaw.
const (
	vipsUchar  = int(C.VIPS_FORMAT_UCHAR)
	vipsUshort = int(C.VIPS_FORMAT_USHORT)

	vipsBW     = int(C.VIPS_INTERPRETATION_B_W)
	vipsSRGB   = int(C.VIPS_INTERPRETATION_sRGB)
	vipsCMYK   = int(C.VIPS_INTERPRETATION_CMYK)
	vipsRGB16  = int(C.VIPS_INTERPRETATION_RGB16)
	vipsGrey16 = int(C.VIPS_INTERPRETATION_GREY16)
)

// encodeRaw saves packed samples (native-endian for 16-bit) through the
// libvips saver that suffix selects, e.g. ".png", ".jpg[Q=90]",
// ".webp[lossless]"; orientation > 0 is written as the EXIF orientation. It
// builds decode test fixtures that Go's encoders cannot (CMYK JPEG, grey+alpha
// and 16-bit PNG, WebP, TIFF) and backs EncodeJPEG.
func encodeRaw(pix []byte, w, h, bands, format, interp, orientation int, suffix string) ([]byte, error) {
	if w < 1 || h < 1 || bands < 1 || len(pix) == 0 {
		return nil, fmt.Errorf("augment: encode %dx%dx%d: empty image", w, h, bands)
	}
	cs := C.CString(suffix)
	defer C.free(unsafe.Pointer(cs))
	var out unsafe.Pointer
	var n C.size_t
	var e C.fs_error
	if C.fs_encode(unsafe.Pointer(&pix[0]), C.int(w), C.int(h), C.int(bands), C.int(format),
		C.int(interp), C.int(orientation), cs, &out, &n, &e) != 0 {
		return nil, fmt.Errorf("augment: encode %q: %s", suffix, strings.TrimSpace(C.GoString(&e.msg[0])))
	}
	defer C.g_free(C.gpointer(out))
	return C.GoBytes(out, C.int(n)), nil
}

// EncodeJPEG compresses im with libjpeg (through libvips) at the given
// quality (1..100), 4:2:0 chroma subsampling for RGB as in most photographs.
func EncodeJPEG(im *Image, quality int) ([]byte, error) {
	if err := im.Validate(); err != nil {
		return nil, err
	}
	if quality < 1 || quality > 100 {
		return nil, fmt.Errorf("augment: EncodeJPEG: quality %d outside 1..100", quality)
	}
	interp := vipsSRGB
	if im.C == 1 {
		interp = vipsBW
	}
	return encodeRaw(im.Pix, im.W, im.H, im.C, vipsUchar, interp, 0, fmt.Sprintf(".jpg[Q=%d,strip]", quality))
}

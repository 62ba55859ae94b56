/* jpeg_decode.h: JPEG decoding straight through libjpeg(-turbo), the same
 * library and settings libvips' jpegload and PIL use, without libvips'
 * per-image machinery (operation objects, a sink thread, strip copies),
 * which costs more than the decode itself on ImageNet-sized files. It
 * handles the common case only (8-bit grey or YCbCr/RGB, no EXIF rotation);
 * fj_open reports anything else as FJ_UNSUPPORTED and the caller uses the
 * libvips path. */
#ifndef FLOWSSL_JPEG_DECODE_H
#define FLOWSSL_JPEG_DECODE_H

#include <stddef.h>
#include <stdint.h>

enum {
	FJ_OK = 0,
	FJ_UNSUPPORTED = 1, /* decodable, but not by this path: use libvips */
	FJ_FAILED = 2       /* libjpeg gave up: corrupt or truncated */
};

typedef struct fj_decoder fj_decoder;

typedef struct {
	int width, height;  /* as stored (orientation 1 is required) */
	int out_w, out_h;   /* after DCT scaling */
} fj_info;

/* fj_open parses the header and sets up a decode at 1/scale (1, 2, 4 or
 * 8). *status is FJ_OK (d returned) or why not (NULL returned). */
fj_decoder *fj_open(const void *buf, size_t len, int scale, fj_info *info,
	int *status, char *msg, size_t msglen);

/* fj_read decodes output rows [y0, y1) into dst (packed RGB, stride
 * out_w*3) and stops there; rows above y0 are skipped without colour
 * conversion. Returns FJ_OK or FJ_FAILED with msg set. */
int fj_read(fj_decoder *d, int y0, int y1, unsigned char *dst, char *msg,
	size_t msglen);

void fj_close(fj_decoder *d);

#endif

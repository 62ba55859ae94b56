/* vips_decode.h: the small libvips pipeline behind augment.Decode and
 * augment.DecodeCrop for the files jpeg_decode.c leaves to it (load ->
 * autorot -> crop -> to 8-bit RGB/grey -> raw pixels; resampling is done in
 * Go, PIL's way). Every failure is reported through an fs_error owned by the
 * caller, so concurrent decodes never share error state except for libvips'
 * global message buffer (copied and cleared at the failing call). */
#ifndef FLOWSSL_VIPS_DECODE_H
#define FLOWSSL_VIPS_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <vips/vips.h>

/* Steps, reported in fs_error.step. */
enum {
	FS_OK = 0,
	FS_STEP_FORMAT = 1, /* no loader recognises the bytes */
	FS_STEP_HEADER = 2, /* the header cannot be read */
	FS_STEP_LIMIT = 3,  /* declared size over max_pixels */
	FS_STEP_ARGS = 4,   /* caller error: crop outside the image */
	FS_STEP_PIPELINE = 5, /* building crop/convert/resize failed */
	FS_STEP_PIXELS = 6  /* decoding the pixels failed (truncated, corrupt) */
};

typedef struct {
	int step;
	char msg[512];
} fs_error;

typedef struct {
	int channels;       /* 1 or 3 */
	int64_t max_pixels; /* > 0 */
	int crop;           /* 0: whole image, x..shrink ignored */
	int x, y, cw, ch;   /* oriented, full-resolution coordinates */
	int shrink;         /* JPEG shrink-on-load factor (1, 2, 4, 8) */
} fs_params;

typedef struct {
	VipsImage *out; /* uchar, bands == channels */
	int width, height, bands;
	int shrink;                  /* JPEG shrink-on-load factor used (1: none) */
	int load_width, load_height; /* as the loader produced it, before autorot */
	int area_x, area_y;          /* top-left of the output in the loaded,
					oriented image */
} fs_decoder;

void fs_init(void);
int fs_probe(const void *buf, size_t len, int *w, int *h, fs_error *e);
fs_decoder *fs_open(const void *buf, size_t len, const fs_params *p, fs_error *e);
int fs_write(fs_decoder *d, void *dst, size_t len, fs_error *e);
void fs_close(fs_decoder *d);

/* fs_encode saves packed pixels (format: VipsBandFormat, interp:
 * VipsInterpretation) with a saver chosen by suffix, e.g. ".jpg[Q=90]".
 * orientation > 0 is written as the EXIF orientation. *out is g_malloc'd. */
int fs_encode(const void *pix, int w, int h, int bands, int format, int interp,
	int orientation, const char *suffix, void **out, size_t *out_len,
	fs_error *e);

#endif

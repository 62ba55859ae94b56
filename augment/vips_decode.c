/* vips_decode.c: see vips_decode.h. Reference counting: every libvips
 * operation refs its inputs, so each step below unrefs the previous image as
 * soon as the next one exists and only the head of the chain is kept. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vips_decode.h"

/* fs_fail records the step and moves libvips' message (global, appended by
 * any thread) into the caller's fs_error. vips_error_buffer_copy copies and
 * clears under libvips' lock, so a message is reported once; with several
 * failing decodes at the same instant one of them may carry the other's text
 * (or, after fs_drain, the fallback), but the step, which is what callers
 * branch on, is always exact. */
static void fs_fail(fs_error *e, int step, const char *fallback)
{
	char *m = vips_error_buffer_copy();
	e->step = step;
	if (m && m[0])
		g_strlcpy(e->msg, m, sizeof(e->msg));
	else
		g_strlcpy(e->msg, fallback, sizeof(e->msg));
	g_free(m);
}

/* fs_drain drops what a successful call left in the error buffer: the
 * JPEG loader logs recoverable warnings ("Corrupt JPEG data: premature end
 * of data segment") there, and they would otherwise be reported as the
 * reason for the next, unrelated failure. */
static void fs_drain(void)
{
	g_free(vips_error_buffer_copy());
}

/* STEP replaces cur by the result of call, or jumps to fail. */
#define STEP(call)                                                             \
	do {                                                                   \
		VipsImage *nx = NULL;                                          \
		if (call) {                                                    \
			goto fail;                                             \
		}                                                              \
		g_object_unref(cur);                                           \
		cur = nx;                                                      \
	} while (0)

static void fs_quiet(const gchar *domain, GLogLevelFlags level,
	const gchar *message, void *data)
{
}

void fs_init(void)
{
	/* Failures come back as errors naming the step; libvips' warnings
	 * ("error in tile", libjpeg's "Corrupt JPEG data: extraneous bytes"
	 * on files that decode fine) would otherwise go straight to stderr
	 * from C, bypassing flowssl's logger, once per file and thread. */
	g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, fs_quiet, NULL);
	/* The operation cache keys on (operation, arguments); a stream of
	 * distinct images never hits it and it would pin up to 100 MB of
	 * decoded pixels, so it is off. */
	vips_cache_set_max(0);
	vips_cache_set_max_mem(0);
	vips_cache_set_max_files(0);
	/* Dataset files are untrusted input: refuse the loaders libvips marks
	 * untrusted (ImageMagick, PDF, SVG, JPEG-XL, JPEG2000, ...). */
	vips_block_untrusted_set(TRUE);
}

/* vips_foreign_find_load_buffer returns the class name,
 * "VipsForeignLoadJpegBuffer" for JPEG. */
static int fs_is_jpeg(const char *loader)
{
	return loader && strncmp(loader, "VipsForeignLoadJpeg", 19) == 0;
}

/* fs_load opens buf lazily: only the header is parsed here; pixels are
 * decoded when the pipeline is written. fail_on=truncated makes a truncated
 * file an error while keeping libjpeg's recoverable warnings (extraneous
 * bytes, ...) non-fatal, which is what PIL does. */
static VipsImage *fs_load(const void *buf, size_t len, const char *loader,
	VipsAccess access, int shrink, fs_error *e)
{
	VipsImage *im;

	if (shrink > 1 && fs_is_jpeg(loader))
		im = vips_image_new_from_buffer(buf, len, "", "access", access,
			"fail_on", VIPS_FAIL_ON_TRUNCATED, "shrink", shrink, NULL);
	else
		im = vips_image_new_from_buffer(buf, len, "", "access", access,
			"fail_on", VIPS_FAIL_ON_TRUNCATED, NULL);
	if (!im)
		fs_fail(e, FS_STEP_HEADER, "cannot read the image header");
	return im;
}

int fs_probe(const void *buf, size_t len, int *w, int *h, fs_error *e)
{
	const char *loader = vips_foreign_find_load_buffer(buf, len);
	VipsImage *im;

	if (!loader) {
		fs_fail(e, FS_STEP_FORMAT, "not a known image format");
		return -1;
	}
	if (!(im = fs_load(buf, len, loader, VIPS_ACCESS_SEQUENTIAL, 1, e)))
		return -1;
	if (vips_image_get_orientation_swap(im)) {
		*w = im->Ysize;
		*h = im->Xsize;
	} else {
		*w = im->Xsize;
		*h = im->Ysize;
	}
	g_object_unref(im);
	fs_drain();
	return 0;
}

/* fs_cmyk_to_rgb is PIL's cmyk2rgb: R = (255-K) - round(C*(255-K)/255), and
 * likewise G from M and B from Y; any band after K (alpha) is dropped. The
 * embedded ICC profile is ignored, as PIL's convert('RGB') and OpenCV do. */
static int fs_cmyk_to_rgb(VipsImage *in, VipsImage **out)
{
	VipsImage *base = vips_image_new();
	VipsImage **t = (VipsImage **) vips_object_local_array(VIPS_OBJECT(base), 7);
	int r = vips_extract_band(in, &t[0], 0, "n", 3, NULL) ||
		vips_extract_band(in, &t[1], 3, NULL) ||
		vips_linear1(t[1], &t[2], -1.0, 255.0, NULL) ||
		vips_multiply(t[0], t[2], &t[3], NULL) ||
		vips_linear1(t[3], &t[4], 1.0 / 255.0, 0.0, NULL) ||
		vips_round(t[4], &t[5], VIPS_OPERATION_ROUND_RINT, NULL) ||
		vips_subtract(t[2], t[5], &t[6], NULL) ||
		vips_cast(t[6], out, VIPS_FORMAT_UCHAR, NULL);
	g_object_unref(base);
	return r ? -1 : 0;
}

/* fs_luma is PIL's "L": (19595 R + 38470 G + 7471 B + 32768) >> 16. Every
 * product and the sum stay below 2^24, so float arithmetic is exact and the
 * truncating cast gives the same integer as the shift. */
static int fs_luma(VipsImage *in, VipsImage **out)
{
	VipsImage *base = vips_image_new();
	VipsImage **t = (VipsImage **) vips_object_local_array(VIPS_OBJECT(base), 3);
	int r;

	t[0] = vips_image_new_matrixv(3, 1, 19595.0, 38470.0, 7471.0);
	r = !t[0] || vips_recomb(in, &t[1], t[0], NULL) ||
		vips_linear1(t[1], &t[2], 1.0 / 65536.0, 0.5, NULL) ||
		vips_cast(t[2], out, VIPS_FORMAT_UCHAR, NULL);
	g_object_unref(base);
	return r ? -1 : 0;
}

static int fs_is_colorimetric(VipsInterpretation t)
{
	switch (t) {
	case VIPS_INTERPRETATION_XYZ:
	case VIPS_INTERPRETATION_LAB:
	case VIPS_INTERPRETATION_LABS:
	case VIPS_INTERPRETATION_LCH:
	case VIPS_INTERPRETATION_CMC:
	case VIPS_INTERPRETATION_YXY:
	case VIPS_INTERPRETATION_scRGB:
	case VIPS_INTERPRETATION_HSV:
		return 1;
	default:
		return 0;
	}
}

/* fs_to_channels converts any loaded image to uchar with 1 or 3 bands, the
 * way PIL's convert('RGB') / convert('L') would: 16-bit keeps the high byte
 * (65535 -> 255), alpha is dropped (not composited), grey is replicated. */
static int fs_to_channels(VipsImage *in, VipsImage **out, int channels)
{
	VipsImage *cur = in;

	g_object_ref(cur);
	if (cur->Coding != VIPS_CODING_NONE)
		STEP(vips_image_decode(cur, &nx));
	if (cur->BandFmt == VIPS_FORMAT_USHORT) {
		STEP(vips_rshift_const1(cur, &nx, 8, NULL));
		STEP(vips_cast(cur, &nx, VIPS_FORMAT_UCHAR, NULL));
	} else if (cur->BandFmt != VIPS_FORMAT_UCHAR) {
		/* Float/int files (HDR TIFF, LAB TIFF): let libvips map
		 * colorimetric spaces to sRGB, then clip. */
		if (fs_is_colorimetric(cur->Type))
			STEP(vips_colourspace(cur, &nx, VIPS_INTERPRETATION_sRGB, NULL));
		if (cur->BandFmt != VIPS_FORMAT_UCHAR)
			STEP(vips_cast(cur, &nx, VIPS_FORMAT_UCHAR, NULL));
	}
	if (cur->Type == VIPS_INTERPRETATION_CMYK && cur->Bands >= 4)
		STEP(fs_cmyk_to_rgb(cur, &nx));
	else if (cur->Bands > 1 && vips_image_hasalpha(cur))
		STEP(vips_extract_band(cur, &nx, 0, "n", cur->Bands - 1, NULL));
	/* Leftover band counts without a colour meaning (2-band multiband,
	 * multispectral TIFF): keep the first band or the first three. */
	if (cur->Bands == 2)
		STEP(vips_extract_band(cur, &nx, 0, NULL));
	else if (cur->Bands > 3)
		STEP(vips_extract_band(cur, &nx, 0, "n", 3, NULL));
	if (channels == 3 && cur->Bands == 1) {
		VipsImage *three[3] = {cur, cur, cur};
		STEP(vips_bandjoin(three, &nx, 3, NULL));
	} else if (channels == 1 && cur->Bands == 3) {
		STEP(fs_luma(cur, &nx));
	}
	*out = cur;
	return 0;
fail:
	g_object_unref(cur);
	return -1;
}

/* fs_floor_div and fs_ceil_div divide non-negative a by s > 0. */
static int fs_floor_div(int a, int s)
{
	return a / s;
}

static int fs_ceil_div(int a, int s)
{
	return (a + s - 1) / s;
}

fs_decoder *fs_open(const void *buf, size_t len, const fs_params *p, fs_error *e)
{
	const char *loader = vips_foreign_find_load_buffer(buf, len);
	VipsImage *cur;
	fs_decoder *d;
	int orient, ow, oh, shrink = 1;
	VipsAccess access;

	if (!loader) {
		fs_fail(e, FS_STEP_FORMAT, "not a known image format");
		return NULL;
	}
	if (!(cur = fs_load(buf, len, loader, VIPS_ACCESS_SEQUENTIAL, 1, e)))
		return NULL;
	/* Decompression-bomb guard before any pixel is decoded. */
	if ((int64_t) cur->Xsize * cur->Ysize > p->max_pixels) {
		e->step = FS_STEP_LIMIT;
		snprintf(e->msg, sizeof(e->msg),
			"%dx%d image has %lld pixels, over the limit of %lld",
			cur->Xsize, cur->Ysize,
			(long long) cur->Xsize * cur->Ysize,
			(long long) p->max_pixels);
		g_object_unref(cur);
		return NULL;
	}
	orient = vips_image_get_orientation(cur);
	ow = vips_image_get_orientation_swap(cur) ? cur->Ysize : cur->Xsize;
	oh = vips_image_get_orientation_swap(cur) ? cur->Xsize : cur->Ysize;
	if (p->crop) {
		if (p->x < 0 || p->y < 0 || p->cw < 1 || p->ch < 1 ||
			p->x > ow - p->cw || p->y > oh - p->ch) {
			e->step = FS_STEP_ARGS;
			snprintf(e->msg, sizeof(e->msg),
				"crop x=%d y=%d %dx%d is outside the %dx%d image",
				p->x, p->y, p->cw, p->ch, ow, oh);
			g_object_unref(cur);
			return NULL;
		}
		if (fs_is_jpeg(loader) && p->shrink > 1)
			shrink = p->shrink;
	}
	/* Sequential access streams the decode in strips (less memory, no
	 * full-image buffer), but rotations and vertical flips read the
	 * bottom first, so they need random access. */
	access = orient > 2 ? VIPS_ACCESS_RANDOM : VIPS_ACCESS_SEQUENTIAL;
	if (shrink > 1 || access != VIPS_ACCESS_SEQUENTIAL) {
		g_object_unref(cur);
		if (!(cur = fs_load(buf, len, loader, access, shrink, e)))
			return NULL;
	}
	d = g_new0(fs_decoder, 1);
	d->shrink = shrink;
	d->load_width = cur->Xsize;
	d->load_height = cur->Ysize;
	if (orient > 1)
		STEP(vips_autorot(cur, &nx, NULL));
	if (p->crop) {
		/* The loaded pixels that cover the crop: shrunk pixel i
		 * covers full pixels [i*shrink, (i+1)*shrink). The caller
		 * resamples the exact (fractional) box out of them. */
		int x0 = VIPS_MIN(fs_floor_div(p->x, shrink), cur->Xsize - 1);
		int y0 = VIPS_MIN(fs_floor_div(p->y, shrink), cur->Ysize - 1);
		int x1 = VIPS_CLIP(x0 + 1, fs_ceil_div(p->x + p->cw, shrink), cur->Xsize);
		int y1 = VIPS_CLIP(y0 + 1, fs_ceil_div(p->y + p->ch, shrink), cur->Ysize);

		d->area_x = x0;
		d->area_y = y0;
		if (x0 != 0 || y0 != 0 || x1 != cur->Xsize || y1 != cur->Ysize)
			STEP(vips_extract_area(cur, &nx, x0, y0, x1 - x0, y1 - y0, NULL));
	}
	STEP(fs_to_channels(cur, &nx, p->channels));
	if (cur->BandFmt != VIPS_FORMAT_UCHAR || cur->Bands != p->channels) {
		e->step = FS_STEP_PIPELINE;
		snprintf(e->msg, sizeof(e->msg), "pipeline produced %d bands of format %d",
			cur->Bands, cur->BandFmt);
		g_object_unref(cur);
		g_free(d);
		return NULL;
	}
	d->out = cur;
	d->width = cur->Xsize;
	d->height = cur->Ysize;
	d->bands = cur->Bands;
	return d;
fail:
	g_object_unref(cur);
	g_free(d);
	fs_fail(e, FS_STEP_PIPELINE, "building the decode pipeline failed");
	return NULL;
}

typedef struct {
	unsigned char *dst;
	size_t stride;
	int bands;
} fs_sink;

/* fs_sink_write copies each finished strip into the caller's buffer, so the
 * pixels land in Go memory without an intermediate libvips buffer. */
static int fs_sink_write(VipsRegion *r, VipsRect *area, void *a)
{
	fs_sink *s = (fs_sink *) a;
	size_t n = (size_t) area->width * s->bands;
	int y;

	for (y = 0; y < area->height; y++)
		memcpy(s->dst + (size_t) (area->top + y) * s->stride +
				(size_t) area->left * s->bands,
			VIPS_REGION_ADDR(r, area->left, area->top + y), n);
	return 0;
}

int fs_write(fs_decoder *d, void *dst, size_t len, fs_error *e)
{
	fs_sink s = {(unsigned char *) dst, (size_t) d->width * d->bands, d->bands};

	if (len != (size_t) d->width * d->height * d->bands) {
		e->step = FS_STEP_ARGS;
		snprintf(e->msg, sizeof(e->msg), "buffer of %zu bytes for %dx%dx%d",
			len, d->width, d->height, d->bands);
		return -1;
	}
	if (vips_sink_disc(d->out, fs_sink_write, &s)) {
		fs_fail(e, FS_STEP_PIXELS, "decoding the pixels failed");
		return -1;
	}
	fs_drain();
	return 0;
}

void fs_close(fs_decoder *d)
{
	if (!d)
		return;
	if (d->out)
		g_object_unref(d->out);
	g_free(d);
}

int fs_encode(const void *pix, int w, int h, int bands, int format, int interp,
	int orientation, const char *suffix, void **out, size_t *out_len,
	fs_error *e)
{
	size_t n = (size_t) w * h * bands * vips_format_sizeof((VipsBandFormat) format);
	VipsImage *im = vips_image_new_from_memory_copy(pix, n, w, h, bands,
		(VipsBandFormat) format);
	VipsImage *c = NULL;

	if (!im) {
		fs_fail(e, FS_STEP_PIPELINE, "wrapping the pixels failed");
		return -1;
	}
	if (vips_copy(im, &c, "interpretation", interp, NULL)) {
		g_object_unref(im);
		fs_fail(e, FS_STEP_PIPELINE, "setting the interpretation failed");
		return -1;
	}
	g_object_unref(im);
	if (orientation > 0)
		vips_image_set_int(c, VIPS_META_ORIENTATION, orientation);
	if (vips_image_write_to_buffer(c, suffix, out, out_len, NULL)) {
		g_object_unref(c);
		fs_fail(e, FS_STEP_PIPELINE, "encoding failed");
		return -1;
	}
	g_object_unref(c);
	return 0;
}

/* jpeg_decode.c: see jpeg_decode.h. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "jpeg_decode.h"

typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	int warned;
	char msg[JMSG_LENGTH_MAX];
} fj_err;

struct fj_decoder {
	struct jpeg_decompress_struct c;
	fj_err err;
};

static void fj_error_exit(j_common_ptr c)
{
	fj_err *e = (fj_err *) c->err;

	(*c->err->format_message)(c, e->msg);
	longjmp(e->jump, 1);
}

/* fj_emit_message keeps the first warning's text. Any warning (corrupt
 * data, premature end) makes the decode fail here, so that libvips, which
 * the caller falls back to, gives the verdict on damaged files: this path
 * only ever returns pixels for files libjpeg reads cleanly. */
static void fj_emit_message(j_common_ptr c, int level)
{
	fj_err *e = (fj_err *) c->err;

	if (level < 0 && !e->warned) {
		e->warned = 1;
		(*c->err->format_message)(c, e->msg);
	}
}

static unsigned fj_u16(const unsigned char *p, int le)
{
	return le ? p[0] | p[1] << 8 : p[0] << 8 | p[1];
}

static unsigned long fj_u32(const unsigned char *p, int le)
{
	return le ? (unsigned long) p[0] | (unsigned long) p[1] << 8 |
			(unsigned long) p[2] << 16 | (unsigned long) p[3] << 24
		  : (unsigned long) p[0] << 24 | (unsigned long) p[1] << 16 |
			(unsigned long) p[2] << 8 | (unsigned long) p[3];
}

/* fj_orientation returns the EXIF orientation of IFD0 (1 when there is
 * none) or -1 when the EXIF block cannot be read with certainty; the
 * caller then leaves the file to libvips, whose libexif reading is
 * authoritative. */
static int fj_orientation(j_decompress_ptr c)
{
	jpeg_saved_marker_ptr m;
	int found = 0, orient = 1;

	for (m = c->marker_list; m; m = m->next) {
		const unsigned char *d = m->data;
		unsigned len = m->data_length, ifd, n, i;
		int le;

		if (m->marker != JPEG_APP0 + 1 || len < 6 || memcmp(d, "Exif\0\0", 6) != 0)
			continue;
		if (found++)
			return -1; /* two EXIF blocks: which one wins is libexif's call */
		d += 6;
		len -= 6;
		if (len < 8)
			return -1;
		if (d[0] == 'I' && d[1] == 'I')
			le = 1;
		else if (d[0] == 'M' && d[1] == 'M')
			le = 0;
		else
			return -1;
		ifd = fj_u32(d + 4, le);
		if (ifd < 8 || ifd > len - 2)
			return -1;
		n = fj_u16(d + ifd, le);
		if (n > (len - ifd - 2) / 12)
			return -1;
		for (i = 0; i < n; i++) {
			const unsigned char *e = d + ifd + 2 + 12 * i;

			if (fj_u16(e, le) != 0x0112)
				continue;
			if (fj_u16(e + 2, le) != 3 || fj_u32(e + 4, le) != 1)
				return -1;
			orient = fj_u16(e + 8, le);
		}
	}
	return orient;
}

fj_decoder *fj_open(const void *buf, size_t len, int scale, fj_info *info,
	int *status, char *msg, size_t msglen)
{
	fj_decoder *d = calloc(1, sizeof(*d));
	struct jpeg_decompress_struct *c;

	if (!d) {
		*status = FJ_UNSUPPORTED;
		return NULL;
	}
	c = &d->c;
	c->err = jpeg_std_error(&d->err.pub);
	d->err.pub.error_exit = fj_error_exit;
	d->err.pub.emit_message = fj_emit_message;
	if (setjmp(d->err.jump)) {
		snprintf(msg, msglen, "%s", d->err.msg);
		jpeg_destroy_decompress(c);
		free(d);
		*status = FJ_FAILED;
		return NULL;
	}
	jpeg_create_decompress(c);
	jpeg_mem_src(c, (const unsigned char *) buf, (unsigned long) len);
	jpeg_save_markers(c, JPEG_APP0 + 1, 0xFFFF);
	jpeg_read_header(c, TRUE);
	*status = FJ_OK;
	if (d->err.warned)
		*status = FJ_FAILED;
	else if (!((c->jpeg_color_space == JCS_GRAYSCALE && c->num_components == 1) ||
			 ((c->jpeg_color_space == JCS_YCbCr || c->jpeg_color_space == JCS_RGB) &&
				 c->num_components == 3)))
		*status = FJ_UNSUPPORTED; /* CMYK, YCCK: libvips converts those */
	else if (fj_orientation(c) != 1)
		*status = FJ_UNSUPPORTED; /* rotated or unsure: libvips autorotates */
	if (*status != FJ_OK) {
		snprintf(msg, msglen, "%s", d->err.msg);
		jpeg_destroy_decompress(c);
		free(d);
		return NULL;
	}
	c->out_color_space = JCS_RGB;
	c->scale_num = 1;
	c->scale_denom = scale;
	jpeg_calc_output_dimensions(c);
	info->width = c->image_width;
	info->height = c->image_height;
	info->out_w = c->output_width;
	info->out_h = c->output_height;
	return d;
}

int fj_read(fj_decoder *d, int y0, int y1, unsigned char *dst, char *msg,
	size_t msglen)
{
	struct jpeg_decompress_struct *c = &d->c;
	size_t stride;
	JSAMPROW rows[16];

	if (setjmp(d->err.jump)) {
		snprintf(msg, msglen, "%s", d->err.msg);
		return FJ_FAILED;
	}
	jpeg_start_decompress(c);
	stride = (size_t) c->output_width * 3;
	if (y0 < 0 || y1 > (int) c->output_height || y0 >= y1) {
		snprintf(msg, msglen, "rows %d..%d outside 0..%u", y0, y1, c->output_height);
		return FJ_FAILED;
	}
	if (y0 > 0 && jpeg_skip_scanlines(c, (JDIMENSION) y0) != (JDIMENSION) y0) {
		snprintf(msg, msglen, "cannot skip %d rows", y0);
		return FJ_FAILED;
	}
	while ((int) c->output_scanline < y1) {
		int n = y1 - (int) c->output_scanline, i;

		if (n > 16)
			n = 16;
		for (i = 0; i < n; i++)
			rows[i] = dst + (size_t) ((int) c->output_scanline - y0 + i) * stride;
		if (jpeg_read_scanlines(c, rows, (JDIMENSION) n) == 0)
			break;
	}
	if (d->err.warned || (int) c->output_scanline < y1) {
		snprintf(msg, msglen, "%s", d->err.warned ? d->err.msg : "short read");
		return FJ_FAILED;
	}
	return FJ_OK;
}

void fj_close(fj_decoder *d)
{
	if (!d)
		return;
	jpeg_destroy_decompress(&d->c);
	free(d);
}

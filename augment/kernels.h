/* kernels.h: the per-pixel loops of the transforms, in C so that GCC can
 * vectorise them (AVX2 where the CPU has it, chosen at load time). Each is
 * a transcription of the Go port of Pillow's arithmetic in transform_*.go
 * (integer and float operations in the same order, no FMA contraction), and
 * kernels_test.go checks it against that port bit for bit. Buffers are
 * packed 8-bit HWC unless said otherwise; all scratch comes from Go. */
#ifndef FLOWSSL_KERNELS_H
#define FLOWSSL_KERNELS_H

#include <stdint.h>

/* fk_scalar_only, when set, makes fk_resample_h skip its SSE4.1 path
 * (tests compare both). */
extern int fk_scalar_only;

/* fk_transpose writes the c-channel w x h image src as an h x w image. */
void fk_transpose(const uint8_t *src, uint8_t *dst, int w, int h, int c);

/* fk_box_blur runs `passes` extended-box passes (Pillow's
 * ImagingLineBoxBlur with radius + fractional weights ww, fw in 24-bit fixed
 * point) along x, then along y, of img in place. s1 and s2 hold w*h*c
 * bytes, acc max(w, h)*c words. */
void fk_box_blur(uint8_t *img, int w, int h, int c, int radius, uint32_t ww,
	uint32_t fw, int passes, uint8_t *s1, uint8_t *s2, uint32_t *acc);

/* fk_resample_h is Pillow's ImagingResampleHorizontal_8bpc for rows
 * [y0, y0+rows) of src (in_w pixels wide, rows stride bytes apart) into dst
 * (out_w wide, rows tall, packed): output x uses taps kk[x*ksize ..] on
 * inputs bounds[2x] .. + bounds[2x+1]. */
void fk_resample_h(const uint8_t *src, long stride, int in_w, int c, int y0,
	int rows, uint8_t *dst, int out_w, int ksize, const int32_t *bounds,
	const int32_t *kk);

/* fk_resample_v is ImagingResampleVertical_8bpc: source rows of n values
 * stride bytes apart, output packed. acc holds n words. */
void fk_resample_v(const uint8_t *src, long stride, int n, uint8_t *dst,
	int out_h, int ksize, const int32_t *bounds, const int32_t *kk,
	int32_t *acc);

/* fk_hue shifts the hue of n RGB pixels by delta in Pillow's 8-bit HSV.
 * htab is the hue of every (sector, max-min, max-other) triple, stab the
 * saturation of every (max-min, max) pair, hi/hf the sector and fraction
 * of every hue, fs the float saturation of every s (hue_tables.go). */
void fk_hue(const uint8_t *src, uint8_t *dst, int n, uint8_t delta,
	const uint8_t *htab, const uint8_t *stab, const int32_t *hi,
	const float *hf, const float *fs);

/* fk_saturation is ImageEnhance.Color's blend of n RGB pixels with their
 * luma, g + float32(alpha*(v-g)) truncated and clamped; dst may be src. */
void fk_saturation(const uint8_t *src, uint8_t *dst, int n, float alpha);

/* fk_luma_hist adds the Pillow luma of n RGB pixels to hist. */
void fk_luma_hist(const uint8_t *src, int n, uint32_t *hist);

/* fk_gray writes the luma of n RGB pixels to dst with dc (1 or 3)
 * channels; dst may be src. */
void fk_gray(const uint8_t *src, uint8_t *dst, int n, int dc);

/* fk_lut maps n bytes through lut; dst may be src. */
void fk_lut(const uint8_t *src, uint8_t *dst, long n, const uint8_t *lut);

/* fk_hflip mirrors a w x h c-channel image left-right in place. */
void fk_hflip(uint8_t *img, int w, int h, int c);

/* fk_to_tensor3 converts n RGB pixels to three float planes through one
 * 256-entry table per channel. */
void fk_to_tensor3(const uint8_t *src, int n, const float *l0, const float *l1,
	const float *l2, float *r, float *g, float *b);

#endif

/* kernels.c: see kernels.h. Loops that vectorise well (one operation over
 * a whole row of values) get an AVX2 clone next to the baseline x86-64
 * one; the dynamic loader picks one at start-up. The float code (hue,
 * saturation) must not be contracted into FMAs, which would change
 * Pillow's rounding: GCC contracts only for targets with FMA, and neither
 * the baseline nor the "avx2" clone target has it (cgo does not allow
 * -ffp-contract=off, which would say so explicitly). */
#include <string.h>

#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FK_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define FK_CLONES
#endif

#define FK_PRECISION 22 /* Pillow's PRECISION_BITS for 8-bit resampling */

int fk_scalar_only;

static inline uint8_t fk_clip8(int32_t v)
{
	v >>= FK_PRECISION;
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t) v;
}

static inline uint8_t fk_clip_int(int v)
{
	return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t) v;
}

static inline uint8_t fk_luma(uint8_t r, uint8_t g, uint8_t b)
{
	return (uint8_t) ((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

/* fk_transpose_c is fk_transpose with the channel count known at compile
 * time, so each pixel moves as c byte copies in straight-line code. */
static inline void fk_transpose_c(const uint8_t *restrict src,
	uint8_t *restrict dst, int w, int h, const int c)
{
	enum { B = 32 };
	int bx, by, x, y, k;

	for (by = 0; by < h; by += B)
		for (bx = 0; bx < w; bx += B) {
			int ye = by + B < h ? by + B : h;
			int xe = bx + B < w ? bx + B : w;

			for (x = bx; x < xe; x++) {
				uint8_t *d = dst + ((size_t) x * h + by) * c;
				const uint8_t *s = src + ((size_t) by * w + x) * c;

				for (y = by; y < ye; y++, d += c, s += (size_t) w * c)
					for (k = 0; k < c; k++)
						d[k] = s[k];
			}
		}
}

/* fk_transpose3 moves each RGB pixel as one 4-byte load and store: the
 * extra byte read is the next source pixel's, the extra byte written is
 * the next destination pixel's, rewritten right after or by a later block
 * of the same row. The last pixel of each destination row (source row
 * h-1, which also holds the buffer's last byte) is moved byte by byte. */
static void fk_transpose3(const uint8_t *src, uint8_t *dst, int w, int h)
{
	enum { B = 32 };
	int bx, by, x, y;

	for (by = 0; by < h; by += B)
		for (bx = 0; bx < w; bx += B) {
			int ye = by + B < h ? by + B : h;
			int xe = bx + B < w ? bx + B : w;
			int yf = ye < h ? ye : h - 1;

			for (x = bx; x < xe; x++) {
				uint8_t *d = dst + ((size_t) x * h + by) * 3;
				const uint8_t *s = src + ((size_t) by * w + x) * 3;

				for (y = by; y < yf; y++, d += 3, s += (size_t) w * 3)
					memcpy(d, s, 4);
				if (yf < ye)
					d[0] = s[0], d[1] = s[1], d[2] = s[2];
			}
		}
}

void fk_transpose(const uint8_t *src, uint8_t *dst, int w, int h, int c)
{
	if (c == 3)
		fk_transpose3(src, dst, w, h);
	else if (c == 1)
		fk_transpose_c(src, dst, w, h, 1);
	else
		fk_transpose_c(src, dst, w, h, c);
}

static inline int fk_clampi(int v, int hi)
{
	return v < 0 ? 0 : v > hi ? hi : v;
}

/* fk_box_pass is one ImagingLineBoxBlur pass run down the columns of src
 * (h rows of n values) into dst, all columns at once: row indices outside
 * [0, h) are clamped, which is what Pillow's edge loops amount to. */
FK_CLONES static void fk_box_pass(const uint8_t *restrict src,
	uint8_t *restrict dst, int h, int n, int radius, uint32_t ww,
	uint32_t fw, uint32_t *restrict acc)
{
	int p, y, i;

	memset(acc, 0, (size_t) n * sizeof(*acc));
	for (p = -radius - 1; p <= radius - 1; p++) {
		const uint8_t *s = src + (size_t) fk_clampi(p, h - 1) * n;

		for (i = 0; i < n; i++)
			acc[i] += s[i];
	}
	for (y = 0; y < h; y++) {
		const uint8_t *restrict lo = src + (size_t) fk_clampi(y - radius - 1, h - 1) * n;
		const uint8_t *restrict hi = src + (size_t) fk_clampi(y + radius, h - 1) * n;
		const uint8_t *restrict hi1 = src + (size_t) fk_clampi(y + radius + 1, h - 1) * n;
		uint8_t *restrict d = dst + (size_t) y * n;

		for (i = 0; i < n; i++) {
			uint32_t a = acc[i] + hi[i] - lo[i];

			acc[i] = a;
			d[i] = (uint8_t) ((a * ww + ((uint32_t) lo[i] + hi1[i]) * fw + (1u << 23)) >> 24);
		}
	}
}

void fk_box_blur(uint8_t *img, int w, int h, int c, int radius, uint32_t ww,
	uint32_t fw, int passes, uint8_t *s1, uint8_t *s2, uint32_t *acc)
{
	uint8_t *buf[2] = {s1, s2};
	const uint8_t *cur;
	int p;

	/* Along x: transposed, the rows become columns. */
	fk_transpose(img, s1, w, h, c);
	cur = s1;
	for (p = 0; p < passes; p++) {
		uint8_t *dst = buf[(p + 1) & 1];

		fk_box_pass(cur, dst, w, h * c, radius, ww, fw, acc);
		cur = dst;
	}
	fk_transpose(cur, img, h, w, c);
	/* Along y. */
	cur = img;
	for (p = 0; p < passes; p++) {
		uint8_t *dst = buf[p & 1];

		fk_box_pass(cur, dst, h, w * c, radius, ww, fw, acc);
		cur = dst;
	}
	if (cur != img)
		memcpy(img, cur, (size_t) w * h * c);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define FK_SSE41 1

/* fk_resample_h3_sse41 is fk_resample_h for RGB with the three channels
 * of a tap in one 32-bit SIMD multiply-add (the same integer products
 * and sums, so the same result). A tap's 4-byte load reads one byte past
 * its pixel, so the row's last pixel is loaded byte by byte. */
__attribute__((target("sse4.1"))) static void fk_resample_h3_sse41(
	const uint8_t *src, long stride, int in_w, int y0, int rows,
	uint8_t *dst, int out_w, int ksize, const int32_t *bounds,
	const int32_t *kk)
{
	const __m128i half = _mm_set1_epi32(1 << (FK_PRECISION - 1));
	int y, xx, x;

	for (y = 0; y < rows; y++) {
		const uint8_t *s = src + (size_t) (y + y0) * stride;
		uint8_t *d = dst + (size_t) y * out_w * 3;

		for (xx = 0; xx < out_w; xx++) {
			const int32_t *k = kk + (size_t) xx * ksize;
			int xmin = bounds[2 * xx], n = bounds[2 * xx + 1];
			int nfast = xmin + n == in_w ? n - 1 : n;
			const uint8_t *p = s + (size_t) xmin * 3;
			__m128i acc = half;
			int32_t px, r;

			for (x = 0; x < nfast; x++) {
				memcpy(&px, p + 3 * x, 4);
				acc = _mm_add_epi32(acc, _mm_mullo_epi32(
					_mm_cvtepu8_epi32(_mm_cvtsi32_si128(px)),
					_mm_set1_epi32(k[x])));
			}
			if (nfast < n) {
				const uint8_t *q = p + 3 * nfast;

				px = q[0] | q[1] << 8 | q[2] << 16;
				acc = _mm_add_epi32(acc, _mm_mullo_epi32(
					_mm_cvtepu8_epi32(_mm_cvtsi32_si128(px)),
					_mm_set1_epi32(k[nfast])));
			}
			/* clip8: shift, then saturate to 0..255. */
			acc = _mm_srai_epi32(acc, FK_PRECISION);
			acc = _mm_packs_epi32(acc, acc);
			acc = _mm_packus_epi16(acc, acc);
			r = _mm_cvtsi128_si32(acc);
			d[3 * xx] = (uint8_t) r;
			d[3 * xx + 1] = (uint8_t) (r >> 8);
			d[3 * xx + 2] = (uint8_t) (r >> 16);
		}
	}
}
#endif

void fk_resample_h(const uint8_t *src, long stride, int in_w, int c, int y0,
	int rows, uint8_t *dst, int out_w, int ksize, const int32_t *bounds,
	const int32_t *kk)
{
	const int32_t half = 1 << (FK_PRECISION - 1);
	int y, xx, x, ch;

#ifdef FK_SSE41
	if (c == 3 && !fk_scalar_only && __builtin_cpu_supports("sse4.1")) {
		fk_resample_h3_sse41(src, stride, in_w, y0, rows, dst, out_w,
			ksize, bounds, kk);
		return;
	}
#endif
	for (y = 0; y < rows; y++) {
		const uint8_t *s = src + (size_t) (y + y0) * stride;
		uint8_t *d = dst + (size_t) y * out_w * c;

		for (xx = 0; xx < out_w; xx++) {
			const int32_t *k = kk + (size_t) xx * ksize;
			const uint8_t *p = s + (size_t) bounds[2 * xx] * c;
			int n = bounds[2 * xx + 1];

			if (c == 3) {
				int32_t s0 = half, s1 = half, s2 = half;

				for (x = 0; x < n; x++, p += 3) {
					s0 += p[0] * k[x];
					s1 += p[1] * k[x];
					s2 += p[2] * k[x];
				}
				d[3 * xx] = fk_clip8(s0);
				d[3 * xx + 1] = fk_clip8(s1);
				d[3 * xx + 2] = fk_clip8(s2);
				continue;
			}
			for (ch = 0; ch < c; ch++) {
				int32_t ss = half;

				for (x = 0; x < n; x++)
					ss += p[x * c + ch] * k[x];
				d[xx * c + ch] = fk_clip8(ss);
			}
		}
	}
}

FK_CLONES void fk_resample_v(const uint8_t *src, long stride, int n,
	uint8_t *dst, int out_h, int ksize, const int32_t *bounds,
	const int32_t *kk, int32_t *acc)
{
	const int32_t half = 1 << (FK_PRECISION - 1);
	int yy, y, i;

	for (yy = 0; yy < out_h; yy++) {
		const int32_t *k = kk + (size_t) yy * ksize;
		int ymin = bounds[2 * yy], cnt = bounds[2 * yy + 1];
		uint8_t *restrict d = dst + (size_t) yy * n;
		int32_t *restrict a = acc;

		for (i = 0; i < n; i++)
			a[i] = half;
		for (y = 0; y < cnt; y++) {
			const uint8_t *restrict s = src + (size_t) (ymin + y) * stride;
			int32_t w = k[y];

			for (i = 0; i < n; i++)
				a[i] += s[i] * w;
		}
		for (i = 0; i < n; i++)
			d[i] = fk_clip8(a[i]);
	}
}

/* Triangle offset of (cr, d), d <= cr, in one sector of the hue table. */
#define FK_TRI(cr, d) ((cr) * ((cr) + 1) / 2 + (d))
#define FK_SECTOR (256 * 257 / 2)

/* fk_hue_perm[i] says which of (v, p, q, t) goes to R, G and B in sector i
 * of hsv2rgb. */
static const uint8_t fk_hue_perm[8][3] = {
	{0, 3, 1}, {2, 0, 1}, {1, 0, 3}, {1, 2, 0}, {3, 1, 0}, {0, 1, 2}, {0, 3, 1}, {0, 1, 2},
};

static void fk_hue_scalar(const uint8_t *src, uint8_t *dst, int n, uint8_t delta,
	const uint8_t *htab, const uint8_t *stab, const int32_t *hi,
	const float *hf, const float *fs)
{
	int i;

	for (i = 0; i < n; i++) {
		const uint8_t *px = src + 3 * i;
		int r = px[0], g = px[1], b = px[2];
		int maxc = r > g ? (r > b ? r : b) : (g > b ? g : b);
		int minc = r < g ? (r < b ? r : b) : (g < b ? g : b);
		int cr = maxc - minc;
		/* Pillow's rgb2hsv_row branches on the maximum (r, then g,
		 * then b); the hue also depends on which channel is the
		 * minimum and on max - (the middle channel). */
		int sec = r == maxc ? (g >= b ? 0 : 1) : g == maxc ? (r <= b ? 2 : 3) : (r <= g ? 4 : 5);
		int d = 2 * maxc + minc - r - g - b;
		/* A grey pixel (cr 0) has h = s = 0: the table entries
		 * for cr 0 are 0, and s 0 makes p = q = t = v below. */
		int h = (uint8_t) (htab[sec * FK_SECTOR + FK_TRI(cr, d)] + delta);
		int s = stab[cr * 256 + maxc];
		float fsv = fs[s], f = hf[h];
		double vf = maxc;
		uint8_t val[4];
		const uint8_t *pm = fk_hue_perm[hi[h]];
		uint8_t *o = dst + 3 * i;

		val[0] = (uint8_t) maxc;
		val[1] = fk_clip_int((int) (vf * (1.0 - (double) fsv) + 0.5));
		val[2] = fk_clip_int((int) (vf * (1.0 - (double) (fsv * f)) + 0.5));
		val[3] = fk_clip_int((int) (vf * (1.0 - (double) fsv * (1.0 - (double) f)) + 0.5));
		o[0] = val[pm[0]];
		o[1] = val[pm[1]];
		o[2] = val[pm[2]];
	}
}

void fk_hue(const uint8_t *src, uint8_t *dst, int n, uint8_t delta,
	const uint8_t *htab, const uint8_t *stab, const int32_t *hi,
	const float *hf, const float *fs)
{
	fk_hue_scalar(src, dst, n, delta, htab, stab, hi, hf, fs);
}

/* fk_saturation_block is one block of fk_saturation into a separate
 * buffer, a loop GCC vectorises. The clamp is exact for every alpha: for
 * alpha in [0, 1] v stays in [0, 255] anyway, and truncating a v in
 * (0, 1) or (254, 255) gives what the clamp-free truncation would. */
FK_CLONES static void fk_saturation_block(const uint8_t *restrict src,
	uint8_t *restrict dst, int n, float alpha)
{
	int i, ch;

	for (i = 0; i < n; i++) {
		const uint8_t *s = src + 3 * i;
		int g = fk_luma(s[0], s[1], s[2]);
		float gf = (float) g;

		for (ch = 0; ch < 3; ch++) {
			float v = gf + alpha * (float) (s[ch] - g);

			v = v < 0.0f ? 0.0f : v;
			v = v > 255.0f ? 255.0f : v;
			dst[3 * i + ch] = (uint8_t) (int) v;
		}
	}
}

void fk_saturation(const uint8_t *src, uint8_t *dst, int n, float alpha)
{
	enum { B = 1024 };
	uint8_t tmp[3 * B];
	int i;

	for (i = 0; i < n; i += B) {
		int m = n - i < B ? n - i : B;

		fk_saturation_block(src + 3 * i, tmp, m, alpha);
		memcpy(dst + 3 * i, tmp, (size_t) 3 * m);
	}
}

void fk_luma_hist(const uint8_t *src, int n, uint32_t *hist)
{
	int i;

	for (i = 0; i < n; i++)
		hist[fk_luma(src[3 * i], src[3 * i + 1], src[3 * i + 2])]++;
}

void fk_gray(const uint8_t *src, uint8_t *dst, int n, int dc)
{
	int i;

	for (i = 0; i < n; i++) {
		uint8_t l = fk_luma(src[3 * i], src[3 * i + 1], src[3 * i + 2]);

		if (dc == 1) {
			dst[i] = l;
		} else {
			dst[3 * i] = l;
			dst[3 * i + 1] = l;
			dst[3 * i + 2] = l;
		}
	}
}

void fk_lut(const uint8_t *src, uint8_t *dst, long n, const uint8_t *lut)
{
	long i;

	for (i = 0; i < n; i++)
		dst[i] = lut[src[i]];
}

void fk_hflip(uint8_t *img, int w, int h, int c)
{
	int y, l, r, k;

	for (y = 0; y < h; y++) {
		uint8_t *row = img + (size_t) y * w * c;

		for (l = 0, r = w - 1; l < r; l++, r--)
			for (k = 0; k < c; k++) {
				uint8_t t = row[l * c + k];

				row[l * c + k] = row[r * c + k];
				row[r * c + k] = t;
			}
	}
}

void fk_to_tensor3(const uint8_t *src, int n, const float *l0, const float *l1,
	const float *l2, float *r, float *g, float *b)
{
	int i;

	for (i = 0; i < n; i++) {
		r[i] = l0[src[3 * i]];
		g[i] = l1[src[3 * i + 1]];
		b[i] = l2[src[3 * i + 2]];
	}
}

/* apply.c - gain-map application (ISO 21496-1 / Adobe hdrgm, and Apple),
 * FORMATS.md sections 4.2, 4.3 and 5.3:
 *
 *   r = map code / 255, resampled to the base size
 *   G = lerp(min, max, r^(1/gamma))                 (log2, per channel)
 *   out = (base + k_base) * 2^(G * w) - k_alt         (linear, 1.0 = SDR white)
 *
 * with w from the display headroom (gainmap_weight, negative for an HDR
 * base).  Apple maps: out = base * (1 + (H - 1) * g)^w, g the BT.709-decoded
 * code and w = clamp(log2 D / log2 H, 0, 1) -- the display scales the gain
 * in the log domain, as for ISO maps.
 *
 * Speed (issue 8): no pow/exp per pixel.  The map code -> 2^(G*w) curve is a
 * table with 16 entries per code, interpolated linearly (the resampled code
 * is fractional); the base decodes through a 256- or 65536-entry table; the
 * output encodes through a table indexed by the float's exponent and top
 * mantissa bits.  Rows are processed in strips by a few threads, the map is
 * resampled row by row, and no full-size float copy exists. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define GT_STEPS 16                        /* gain-table entries per map code */
#define GT_SIZE (255 * GT_STEPS + 2)       /* + one pad entry for the interpolation */

/* Curve table over x in [2^CT_MIN_EXP, 2^CT_MAX_EXP): 2^(23-CT_SHIFT) entries per octave. */
#define CT_SHIFT 15
#define CT_MIN_EXP (-40)
#define CT_MAX_EXP 8
#define CT_PER_OCTAVE (1 << (23 - CT_SHIFT))
#define CT_SIZE ((CT_MAX_EXP - CT_MIN_EXP) * CT_PER_OCTAVE + 1)
#define CT_BASE (((uint32_t)(127 + CT_MIN_EXP) << 23) >> CT_SHIFT)

typedef struct curve_table {
    float t[CT_SIZE];
    float x_lo, x_top;   /* inputs are clamped to [x_lo, x_top], x_top just below 2^CT_MAX_EXP */
} curve_table;

typedef double (*curve_fn)(double x, const void *arg);

static void curve_build(curve_table *ct, curve_fn f, const void *arg)
{
    for (int i = 0; i < CT_SIZE; i++) {
        double x = ldexp(1.0 + (double)(i % CT_PER_OCTAVE) / CT_PER_OCTAVE, i / CT_PER_OCTAVE + CT_MIN_EXP);
        ct->t[i] = (float)f(x, arg);
    }
    /* Below 2^-40 of SDR white every curve here is within 0.1 of a 16-bit code of its value at 0. */
    ct->x_lo = (float)ldexp(1.0, CT_MIN_EXP);
    ct->x_top = nextafterf((float)ldexp(1.0, CT_MAX_EXP), 0.0f);
}

static inline float curve_eval(const curve_table *ct, float x)
{
    /* maxss/minss, no branch; NaN -> x_lo (fminf/fmaxf would be library calls) */
    x = x > ct->x_lo ? x : ct->x_lo;
    x = x < ct->x_top ? x : ct->x_top;
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint32_t i = (u >> CT_SHIFT) - CT_BASE;
    float f = (float)(u & ((1u << CT_SHIFT) - 1)) * (1.0f / (float)(1u << CT_SHIFT));
    return ct->t[i] + f * (ct->t[i + 1] - ct->t[i]);
}

static double pq_signal(double x, const void *arg)
{
    (void)arg;
    return gainmap_pq_inverse_eotf(x * GM_SDR_WHITE_NITS);
}
static double srgb_signal(double x, const void *arg)
{
    (void)arg;
    return gainmap_srgb_from_linear(GM_MIN(x, 1.0));
}
static double hlg_signal(double x, const void *arg)
{
    (void)arg;
    return gainmap_hlg_oetf(GM_MIN(x, 1.0));
}
/* HLG inverse OOTF (BT.2100) for a GM_HLG_DISPLAY_NITS display: scene E = x * K(Y) where
 * x, Y are linear relative to SDR white; K(Y) = 203 / (a * (203 Y / a)^((g-1)/g)). */
static double hlg_scale(double y, const void *arg)
{
    double g = *(const double *)arg;
    if (!(y > 0.0))
        return 0.0;
    return GM_SDR_WHITE_NITS /
           (GM_HLG_DISPLAY_NITS * pow(GM_SDR_WHITE_NITS * y / GM_HLG_DISPLAY_NITS, (g - 1.0) / g));
}

/* Everything the row workers share (read-only while they run). */
typedef struct apply_job {
    const float *base_lut;           /* U8/U16 base: code -> linear */
    gainmap_transfer base_tf;        /* F32 base */
    int conv_in, conv_out;
    float m_in[9], m_out[9];
    int use_map;
    int one_gain;                    /* mch == 1 and the three curves are the same */
    uint32_t mch;                    /* map channels resampled: 1 or 3 */
    uint32_t mch_src;                /* the map's own channels */
    int same_size;                   /* the map has the base's size: no resampling */
    const float *gt[3];              /* per output channel: gain table */
    float kb[3], ka[3], koff[3];
    gainmap_transfer out_tf;
    const curve_table *enc;          /* PQ/sRGB/HLG signal */
    /* The common case's kernel (fast_row): 8-bit RGB base, PQ output. */
    int fast;
    const float *lutk[3];            /* per channel: code -> linear + k_base */
    const float *gx[3];              /* per channel: whole map code -> gain */
    const float *pq2;                /* (16-bit code + 0.5, slope) pairs over enc's grid */
    const curve_table *hlg_k;
    float luma[3];
    gm_resampler rs;                 /* taps shared; each worker owns a vrow */
    const gainmap_image *map;        /* whole map (NULL when its rows are streamed) */
    uint32_t width, height, base_ch;
    gainmap_pixel_type base_type;
    gainmap_pixel_type out_type;
    /* The current strip (set by gm_apply_rows before the workers start):
     * rows [y0, y0 + n) of the base, of a streamed full-size map and of the output. */
    uint32_t y0;
    const uint8_t *base_rows, *map_rows;
    uint8_t *out_rows;
    size_t base_stride, map_stride, out_stride;
} apply_job;

typedef struct apply_worker {
    const apply_job *job;
    uint32_t y0, y1;
    gm_resampler rs;
    float *v, *h;
} apply_worker;

static void base_row(const apply_job *j, uint32_t y, float *h)
{
    const uint32_t w = j->width, ch = j->base_ch;
    const char *row = (const char *)j->base_rows + (size_t)(y - j->y0) * j->base_stride;
    if (j->base_type == GAINMAP_PIXEL_U8 || j->base_type == GAINMAP_PIXEL_U16) {
        const float *lut = j->base_lut;
        const uint8_t *r8 = (const uint8_t *)row;
        const uint16_t *r16 = (const uint16_t *)(const void *)row;
        const int u8 = j->base_type == GAINMAP_PIXEL_U8;
        if (ch == 3 && u8) {
            for (size_t i = 0; i < (size_t)w * 3; i++)
                h[i] = lut[r8[i]];
            return;
        }
        for (uint32_t x = 0; x < w; x++) {
            for (uint32_t c = 0; c < 3; c++) {
                size_t at = (size_t)x * ch + (ch == 1 ? 0 : c);
                h[(size_t)x * 3 + c] = lut[u8 ? r8[at] : r16[at]];
            }
        }
        return;
    }
    const float *rf = (const float *)(const void *)row;
    int lin = j->base_tf == GAINMAP_TRANSFER_LINEAR || j->base_tf == GAINMAP_TRANSFER_UNKNOWN;
    for (uint32_t x = 0; x < w; x++) {
        for (uint32_t c = 0; c < 3; c++) {
            float s = rf[(size_t)x * ch + (ch == 1 ? 0 : c)];
            h[(size_t)x * 3 + c] = lin ? s : (float)gainmap_to_linear(j->base_tf, s);
        }
    }
}

static inline void mat3(const float *m, float *p)
{
    float r = p[0], g = p[1], b = p[2];
    p[0] = m[0] * r + m[1] * g + m[2] * b;
    p[1] = m[3] * r + m[4] * g + m[5] * b;
    p[2] = m[6] * r + m[7] * g + m[8] * b;
}

static inline float gain(const float *t, float code)
{
    float s = code * GT_STEPS;
    s = s < 0.0f ? 0.0f : s > 255.0f * GT_STEPS ? 255.0f * GT_STEPS : s;
    int i = (int)s;
    float f = s - (float)i;
    return t[i] + f * (t[i + 1] - t[i]);
}

/* Output primaries (when they differ from the maths space) and encoding, per pixel. */
static void encode_row(const apply_job *j, const float *h, uint32_t y)
{
    const uint32_t w = j->width;
    char *row = (char *)j->out_rows + (size_t)(y - j->y0) * j->out_stride;
    const int conv = j->conv_out;
    const float *m = j->m_out;
    const curve_table *enc = j->enc;
    if (j->out_tf == GAINMAP_TRANSFER_PQ) {
        /* the common case as its own loop (no per-pixel switch) */
        uint16_t *d = (uint16_t *)(void *)row;
        for (uint32_t x = 0; x < w; x++) {
            float r = h[(size_t)x * 3], g = h[(size_t)x * 3 + 1], b = h[(size_t)x * 3 + 2];
            if (conv) {
                float r2 = m[0] * r + m[1] * g + m[2] * b;
                float g2 = m[3] * r + m[4] * g + m[5] * b;
                float b2 = m[6] * r + m[7] * g + m[8] * b;
                r = r2;
                g = g2;
                b = b2;
            }
            d[(size_t)x * 3] = (uint16_t)(curve_eval(enc, r) * 65535.0f + 0.5f);
            d[(size_t)x * 3 + 1] = (uint16_t)(curve_eval(enc, g) * 65535.0f + 0.5f);
            d[(size_t)x * 3 + 2] = (uint16_t)(curve_eval(enc, b) * 65535.0f + 0.5f);
        }
        return;
    }
    for (uint32_t x = 0; x < w; x++) {
        float r = h[(size_t)x * 3], g = h[(size_t)x * 3 + 1], b = h[(size_t)x * 3 + 2];
        if (conv) {
            float r2 = m[0] * r + m[1] * g + m[2] * b;
            float g2 = m[3] * r + m[4] * g + m[5] * b;
            float b2 = m[6] * r + m[7] * g + m[8] * b;
            r = r2;
            g = g2;
            b = b2;
        }
        switch (j->out_tf) {
        case GAINMAP_TRANSFER_PQ: {
            uint16_t *d = (uint16_t *)(void *)row + (size_t)x * 3;
            d[0] = (uint16_t)(curve_eval(enc, r) * 65535.0f + 0.5f);
            d[1] = (uint16_t)(curve_eval(enc, g) * 65535.0f + 0.5f);
            d[2] = (uint16_t)(curve_eval(enc, b) * 65535.0f + 0.5f);
            break;
        }
        case GAINMAP_TRANSFER_HLG: {
            uint16_t *d = (uint16_t *)(void *)row + (size_t)x * 3;
            r = r > 0.0f ? r : 0.0f;
            g = g > 0.0f ? g : 0.0f;
            b = b > 0.0f ? b : 0.0f;
            float k = curve_eval(j->hlg_k, j->luma[0] * r + j->luma[1] * g + j->luma[2] * b);
            d[0] = (uint16_t)(curve_eval(enc, r * k) * 65535.0f + 0.5f);
            d[1] = (uint16_t)(curve_eval(enc, g * k) * 65535.0f + 0.5f);
            d[2] = (uint16_t)(curve_eval(enc, b * k) * 65535.0f + 0.5f);
            break;
        }
        case GAINMAP_TRANSFER_SRGB: {
            uint8_t *d = (uint8_t *)row + (size_t)x * 3;
            d[0] = (uint8_t)(curve_eval(enc, r) * 255.0f + 0.5f);
            d[1] = (uint8_t)(curve_eval(enc, g) * 255.0f + 0.5f);
            d[2] = (uint8_t)(curve_eval(enc, b) * 255.0f + 0.5f);
            break;
        }
        default: {
            float *d = (float *)(void *)row + (size_t)x * 3;
            d[0] = r > 0.0f ? r : 0.0f;   /* also turns NaN into 0 */
            d[1] = g > 0.0f ? g : 0.0f;
            d[2] = b > 0.0f ? b : 0.0f;
            break;
        }
        }
    }
}

/* The common case: an 8-bit RGB base, a gain map, 16-bit PQ output.  The row
 * goes through in chunks of FAST_N pixels held as three float arrays (struct
 * of arrays): table lookups (scalar: SSE2 has no gather), then the offsets,
 * the output matrix and the PQ table's index and fraction four pixels at a
 * time, then the table lookups and interpolation into the interleaved
 * output.  Same operations in the same order as the general path up to the
 * output encoding, whose table holds 65535 t + 0.5 and 65535 (t[i+1] - t[i]). */
#define FAST_N 64

static void fast_encode(const apply_job *j, float *r, float *g, float *b, int32_t *idx, float *frac, uint32_t n4)
{
    const curve_table *enc = j->enc;
    const int conv = j->conv_out;
    const float *m = j->m_out;
#ifdef __SSE2__
    const __m128 ka0 = _mm_set1_ps(j->ka[0]), ka1 = _mm_set1_ps(j->ka[1]), ka2 = _mm_set1_ps(j->ka[2]);
    const __m128 lo = _mm_set1_ps(enc->x_lo), top = _mm_set1_ps(enc->x_top);
    const __m128i mask = _mm_set1_epi32((1 << CT_SHIFT) - 1), base = _mm_set1_epi32((int)CT_BASE);
    const __m128 scale = _mm_set1_ps(1.0f / (float)(1u << CT_SHIFT));
    __m128 mm[9];
    for (int k = 0; k < 9; k++)
        mm[k] = _mm_set1_ps(m[k]);
    for (uint32_t i = 0; i < n4; i += 4) {
        __m128 v[3];
        v[0] = _mm_sub_ps(_mm_loadu_ps(r + i), ka0);
        v[1] = _mm_sub_ps(_mm_loadu_ps(g + i), ka1);
        v[2] = _mm_sub_ps(_mm_loadu_ps(b + i), ka2);
        if (conv) {
            __m128 o0 = _mm_add_ps(_mm_add_ps(_mm_mul_ps(mm[0], v[0]), _mm_mul_ps(mm[1], v[1])), _mm_mul_ps(mm[2], v[2]));
            __m128 o1 = _mm_add_ps(_mm_add_ps(_mm_mul_ps(mm[3], v[0]), _mm_mul_ps(mm[4], v[1])), _mm_mul_ps(mm[5], v[2]));
            __m128 o2 = _mm_add_ps(_mm_add_ps(_mm_mul_ps(mm[6], v[0]), _mm_mul_ps(mm[7], v[1])), _mm_mul_ps(mm[8], v[2]));
            v[0] = o0;
            v[1] = o1;
            v[2] = o2;
        }
        for (int c = 0; c < 3; c++) {
            /* max(x, lo) gives lo for NaN, as curve_eval */
            __m128 x = _mm_min_ps(_mm_max_ps(v[c], lo), top);
            __m128i u = _mm_castps_si128(x);
            _mm_storeu_si128((__m128i *)(void *)(idx + (size_t)c * FAST_N + i),
                             _mm_sub_epi32(_mm_srli_epi32(u, CT_SHIFT), base));
            _mm_storeu_ps(frac + (size_t)c * FAST_N + i, _mm_mul_ps(_mm_cvtepi32_ps(_mm_and_si128(u, mask)), scale));
        }
    }
#else
    for (uint32_t i = 0; i < n4; i++) {
        float v[3] = {r[i] - j->ka[0], g[i] - j->ka[1], b[i] - j->ka[2]};
        if (conv)
            mat3(m, v);
        for (int c = 0; c < 3; c++) {
            float x = v[c] > enc->x_lo ? v[c] : enc->x_lo;
            x = x < enc->x_top ? x : enc->x_top;
            uint32_t u;
            memcpy(&u, &x, sizeof u);
            idx[(size_t)c * FAST_N + i] = (int32_t)((u >> CT_SHIFT) - CT_BASE);
            frac[(size_t)c * FAST_N + i] = (float)(u & ((1u << CT_SHIFT) - 1)) * (1.0f / (float)(1u << CT_SHIFT));
        }
    }
#endif
}

static void fast_row(apply_worker *wk, uint32_t y)
{
    const apply_job *j = wk->job;
    const uint32_t w = j->width;
    const uint8_t *brow = j->base_rows + (size_t)(y - j->y0) * j->base_stride;
    uint16_t *drow = (uint16_t *)(void *)(j->out_rows + (size_t)(y - j->y0) * j->out_stride);
    const int full = j->same_size && j->mch == 3;
    const uint8_t *q = NULL;
    if (full)
        q = j->map ? (const uint8_t *)j->map->data + (size_t)y * j->map->stride
                   : j->map_rows + (size_t)(y - j->y0) * j->map_stride;
    else
        gm_resample_row(&wk->rs, y, wk->v);
    const uint32_t mc = j->mch_src;
    const float *l0 = j->lutk[0], *l1 = j->lutk[1], *l2 = j->lutk[2];
    const float *pq2 = j->pq2;
    float r[FAST_N], g[FAST_N], b[FAST_N], frac[3 * FAST_N];
    int32_t idx[3 * FAST_N];
    for (uint32_t x0 = 0; x0 < w; x0 += FAST_N) {
        const uint32_t n = GM_MIN((uint32_t)FAST_N, w - x0);
        const uint32_t n4 = (n + 3) & ~3u;
        const uint8_t *s = brow + (size_t)x0 * 3;
        if (full) {
            const float *g0 = j->gx[0], *g1 = j->gx[1], *g2 = j->gx[2];
            const uint8_t *c = q + (size_t)x0 * mc;
            for (uint32_t i = 0; i < n; i++, s += 3, c += mc) {
                r[i] = l0[s[0]] * g0[c[0]];
                g[i] = l1[s[1]] * g1[c[1]];
                b[i] = l2[s[2]] * g2[c[2]];
            }
        } else if (j->mch == 1) {
            const float *v = wk->v + x0;
            if (j->one_gain) {
                const float *t = j->gt[0];
                for (uint32_t i = 0; i < n; i++) {
                    float f = gain(t, v[i]);
                    r[i] = l0[s[3 * i]] * f;
                    g[i] = l1[s[3 * i + 1]] * f;
                    b[i] = l2[s[3 * i + 2]] * f;
                }
            } else {
                for (uint32_t i = 0; i < n; i++) {
                    r[i] = l0[s[3 * i]] * gain(j->gt[0], v[i]);
                    g[i] = l1[s[3 * i + 1]] * gain(j->gt[1], v[i]);
                    b[i] = l2[s[3 * i + 2]] * gain(j->gt[2], v[i]);
                }
            }
        } else {
            const float *v = wk->v + (size_t)x0 * 3;
            for (uint32_t i = 0; i < n; i++) {
                r[i] = l0[s[3 * i]] * gain(j->gt[0], v[3 * i]);
                g[i] = l1[s[3 * i + 1]] * gain(j->gt[1], v[3 * i + 1]);
                b[i] = l2[s[3 * i + 2]] * gain(j->gt[2], v[3 * i + 2]);
            }
        }
        for (uint32_t i = n; i < n4; i++)
            r[i] = g[i] = b[i] = 0.0f;
        fast_encode(j, r, g, b, idx, frac, n4);
        uint16_t *d = drow + (size_t)x0 * 3;
        for (uint32_t i = 0; i < n; i++, d += 3) {
            /* written out: gcc -O2 does not unroll a loop over c here */
            const float *e0 = pq2 + 2 * (size_t)idx[i];
            const float *e1 = pq2 + 2 * (size_t)idx[FAST_N + i];
            const float *e2 = pq2 + 2 * (size_t)idx[2 * FAST_N + i];
            d[0] = (uint16_t)(int32_t)(e0[0] + frac[i] * e0[1]);
            d[1] = (uint16_t)(int32_t)(e1[0] + frac[FAST_N + i] * e1[1]);
            d[2] = (uint16_t)(int32_t)(e2[0] + frac[2 * FAST_N + i] * e2[1]);
        }
    }
}

static void apply_rows(apply_worker *wk)
{
    const apply_job *j = wk->job;
    const uint32_t w = j->width;
    if (j->fast) {
        for (uint32_t y = wk->y0; y < wk->y1; y++)
            fast_row(wk, y);
        return;
    }
    for (uint32_t y = wk->y0; y < wk->y1; y++) {
        float *h = wk->h;
        base_row(j, y, h);
        if (j->conv_in)
            for (uint32_t x = 0; x < w; x++)
                mat3(j->m_in, h + (size_t)x * 3);
        if (j->use_map && j->same_size && j->mch == 3 && !j->one_gain) {
            /* A full-size map: its codes index the gain tables directly (the
             * resampler would only copy them, and a whole code needs no
             * interpolation). */
            const uint8_t *q = j->map ? (const uint8_t *)j->map->data + (size_t)y * j->map->stride
                                      : j->map_rows + (size_t)(y - j->y0) * j->map_stride;
            const uint32_t mc = j->mch_src;
            const float *t0 = j->gt[0], *t1 = j->gt[1], *t2 = j->gt[2];
            const float kb0 = j->kb[0], kb1 = j->kb[1], kb2 = j->kb[2];
            const float ka0 = j->ka[0], ka1 = j->ka[1], ka2 = j->ka[2];
            for (uint32_t x = 0; x < w; x++) {
                float *p = h + (size_t)x * 3;
                const uint8_t *c = q + (size_t)x * mc;
                p[0] = (p[0] + kb0) * t0[c[0] * GT_STEPS] - ka0;
                p[1] = (p[1] + kb1) * t1[c[1] * GT_STEPS] - ka1;
                p[2] = (p[2] + kb2) * t2[c[2] * GT_STEPS] - ka2;
            }
        } else if (j->use_map) {
            gm_resample_row(&wk->rs, y, wk->v);
            const float *v = wk->v;
            if (j->one_gain) {
                /* One map channel, one curve: a single lookup serves R, G and B. */
                const float *t = j->gt[0];
                const float kb0 = j->kb[0], kb1 = j->kb[1], kb2 = j->kb[2];
                const float ka0 = j->ka[0], ka1 = j->ka[1], ka2 = j->ka[2];
                for (uint32_t x = 0; x < w; x++) {
                    float *p = h + (size_t)x * 3;
                    float f = gain(t, v[x]);
                    p[0] = (p[0] + kb0) * f - ka0;
                    p[1] = (p[1] + kb1) * f - ka1;
                    p[2] = (p[2] + kb2) * f - ka2;
                }
            } else if (j->mch == 1) {
                for (uint32_t x = 0; x < w; x++) {
                    float *p = h + (size_t)x * 3;
                    for (int c = 0; c < 3; c++)
                        p[c] = (p[c] + j->kb[c]) * gain(j->gt[c], v[x]) - j->ka[c];
                }
            } else {
                for (uint32_t x = 0; x < w; x++) {
                    float *p = h + (size_t)x * 3;
                    const float *q = v + (size_t)x * 3;
                    for (int c = 0; c < 3; c++)
                        p[c] = (p[c] + j->kb[c]) * gain(j->gt[c], q[c]) - j->ka[c];
                }
            }
        } else {
            for (uint32_t x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                    h[(size_t)x * 3 + c] += j->koff[c];
        }
        encode_row(j, h, y);
    }
}

/* gm_parallel_strips callback: worker w runs its strips with its own scratch. */
static void apply_strip(void *arg, int worker, uint32_t y0, uint32_t y1)
{
    apply_worker *wk = (apply_worker *)arg + worker;
    wk->y0 = wk->job->y0 + y0;
    wk->y1 = wk->job->y0 + y1;
    apply_rows(wk);
}

void gainmap_decode_options_init(gainmap_decode_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->headroom = 0.0;
    opts->transfer = GAINMAP_TRANSFER_PQ;
    opts->primaries = GAINMAP_PRIMARIES_BT2020;
    opts->keep_orientation = 0;
}

static void to_f9(const double *m, float *f)
{
    for (int i = 0; i < 9; i++)
        f[i] = (float)m[i];
}

/* The state of one application: tables, the job and the workers' scratch. */
struct gm_apply {
    apply_job *job;
    apply_worker *wk;
    int nw;
    float *gt, *lut, *fast_tabs;
    curve_table *enc, *hk;
};

enum { APPLY_STRIP = 32 };

void gm_apply_end(gm_apply *a)
{
    if (!a)
        return;
    if (a->wk) {
        for (int i = 0; i < a->nw; i++) {
            free(a->wk[i].h);
            free(a->wk[i].v);
            free(a->wk[i].rs.vrow);
        }
        free(a->wk);
    }
    if (a->job)
        gm_resample_free(&a->job->rs);
    free(a->job);
    free(a->gt);
    free(a->lut);
    free(a->fast_tabs);
    free(a->enc);
    free(a->hk);
    free(a);
}

int gm_apply_uses_map(const gm_apply *a) { return a && a->job->use_map; }

gainmap_status gm_apply_begin(gainmap_ctx *ctx, const gainmap_image *base, const gainmap_image *map, int map_streamed,
                              const gainmap_metadata *meta, const gainmap_decode_options *opts, gm_apply **out_a,
                              gainmap_image *out)
{
    *out_a = NULL;
    memset(out, 0, sizeof *out);
    if (!base || !meta)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "apply: missing base image or metadata");
    if (base->channels < 1 || base->channels > 4 || base->channels == 2 || !gm_pixel_size(base->type))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "apply: the base must be 1, 3 or 4 channels of U8, U16 or F32");
    if (base->width == 0 || base->height == 0)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "apply: the base image is empty");
    gainmap_decode_options defaults;
    if (!opts) {
        gainmap_decode_options_init(&defaults);
        opts = &defaults;
    }
    gainmap_transfer otf = opts->transfer;
    if (otf != GAINMAP_TRANSFER_LINEAR && otf != GAINMAP_TRANSFER_PQ && otf != GAINMAP_TRANSFER_HLG &&
        otf != GAINMAP_TRANSFER_SRGB)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "apply: output transfer must be linear, pq, hlg or srgb, not %s",
                        gainmap_transfer_name(otf));
    if (!(opts->headroom == 0.0 || opts->headroom >= 1.0) || !isfinite(opts->headroom))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "apply: display headroom must be 0 (full) or at least 1, not %g",
                        opts->headroom);

    /* Weight and per-channel constants. */
    const int apple = meta->kind == GAINMAP_KIND_APPLE;
    gainmap_params p;
    double w, apple_h = 1.0;
    if (apple) {
        apple_h = meta->apple_headroom;
        if (!(apple_h >= 1.0) || !isfinite(apple_h))
            return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "apply: Apple headroom %g is not a number of at least 1",
                            apple_h);
        memset(&p, 0, sizeof p);
        p.use_base_colour_space = 1;
        double hl = log2(apple_h);
        double d = otf == GAINMAP_TRANSFER_SRGB ? 0.0 : opts->headroom == 0.0 ? hl : log2(opts->headroom);
        w = hl > 0.0 ? GM_CLAMP(d / hl, 0.0, 1.0) : 0.0;
    } else {
        gainmap_status st = gainmap_metadata_check(ctx, meta);
        if (st != GAINMAP_OK)
            return st;
        st = gainmap_metadata_to_params(meta, &p);
        if (st != GAINMAP_OK)
            return gm_error(ctx, st, "apply: unusable gain-map metadata");
        /* "Full" = the HDR rendition, whichever of base and alternate it is. */
        double full = GM_MAX(p.base_hdr_headroom, p.alternate_hdr_headroom);
        double d = otf == GAINMAP_TRANSFER_SRGB ? 0.0 : opts->headroom == 0.0 ? full : log2(opts->headroom);
        w = gainmap_weight(&p, d);
    }
    const int use_map = w != 0.0;
    if (use_map) {
        if (!map || (!map->data && !map_streamed) || map->type != GAINMAP_PIXEL_U8 || map->channels < 1 ||
            map->channels > 4 || map->channels == 2 || map->width == 0 || map->height == 0)
            return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "apply: the gain map must be 8-bit with 1, 3 or 4 channels");
        if (map_streamed && (map->width != base->width || map->height != base->height || map->channels < 3))
            return gm_error(ctx, GAINMAP_ERR_INVALID_ARG,
                            "apply: a gain map given row by row must have the base's size and 3 or 4 channels");
    }

    /* Colour spaces: base -> maths space -> output. */
    gainmap_primaries bp = base->primaries != GAINMAP_PRIMARIES_UNKNOWN ? base->primaries : GAINMAP_PRIMARIES_BT709;
    gainmap_primaries op = opts->primaries != GAINMAP_PRIMARIES_UNKNOWN ? opts->primaries : bp;
    /* JPEG gain maps do not signal the alternate's primaries: when the maths
     * is in the alternate space we use the requested output primaries, or
     * BT.2020 when the caller asked for the base's. */
    gainmap_primaries mp = p.use_base_colour_space ? bp
                           : opts->primaries != GAINMAP_PRIMARIES_UNKNOWN ? opts->primaries
                                                                         : GAINMAP_PRIMARIES_BT2020;

    gm_apply *a = calloc(1, sizeof *a);
    apply_job *j = a ? calloc(1, sizeof *j) : NULL;
    gainmap_status st = GAINMAP_OK;
    if (!j) {
        free(a);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory applying the gain map");
    }
    a->job = j;
    j->width = base->width;
    j->height = base->height;
    j->base_ch = base->channels;
    j->base_type = base->type;
    j->base_tf = base->transfer;
    j->out_tf = otf;
    j->use_map = use_map;
    double m[9];
    if (bp != mp) {
        if (gainmap_gamut_matrix(bp, mp, m) != 0) {
            st = gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "apply: no matrix from %s to %s", gainmap_primaries_name(bp),
                          gainmap_primaries_name(mp));
            goto fail;
        }
        to_f9(m, j->m_in);
        j->conv_in = 1;
    }
    if (mp != op) {
        if (gainmap_gamut_matrix(mp, op, m) != 0) {
            st = gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "apply: no matrix from %s to %s", gainmap_primaries_name(mp),
                          gainmap_primaries_name(op));
            goto fail;
        }
        to_f9(m, j->m_out);
        j->conv_out = 1;
    }

    /* Base decoding table. */
    if (base->type != GAINMAP_PIXEL_F32) {
        gainmap_transfer btf = base->transfer == GAINMAP_TRANSFER_UNKNOWN ? GAINMAP_TRANSFER_SRGB : base->transfer;
        size_t n = base->type == GAINMAP_PIXEL_U8 ? 256 : 65536;
        float *lut = a->lut = gm_malloc(ctx, n * sizeof *lut);
        if (!lut) {
            st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory applying the gain map");
            goto fail;
        }
        for (size_t i = 0; i < n; i++)
            lut[i] = (float)gainmap_to_linear(btf, (double)i / (double)(n - 1));
        j->base_lut = lut;
    }

    /* Gain tables: code (in 1/GT_STEPS steps) -> linear factor. */
    if (use_map) {
        int ntab = apple ? 1 : 3;
        float *gt = a->gt = gm_malloc(ctx, (size_t)ntab * GT_SIZE * sizeof *gt);
        if (!gt) {
            st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory applying the gain map");
            goto fail;
        }
        for (int c = 0; c < ntab; c++) {
            float *t = gt + (size_t)c * GT_SIZE;
            for (int i = 0; i < GT_SIZE; i++) {
                double r = GM_MIN((double)i / GT_STEPS, 255.0) / 255.0;
                double lg;
                if (apple) {
                    lg = log2(1.0 + (apple_h - 1.0) * gainmap_bt709_to_linear(r));
                } else {
                    double rg = p.gamma[c] == 1.0 ? r : pow(r, 1.0 / p.gamma[c]);
                    lg = p.gain_map_min[c] * (1.0 - rg) + p.gain_map_max[c] * rg;
                }
                t[i] = (float)exp2(lg * w);
            }
            j->gt[c] = t;
        }
        for (int c = ntab; c < 3; c++)
            j->gt[c] = gt;
        j->mch = map->channels >= 3 ? 3 : 1;
        j->mch_src = map->channels;
        j->one_gain = j->mch == 1 &&
                      (ntab == 1 || (memcmp(j->gt[0], j->gt[1], GT_SIZE * sizeof *gt) == 0 &&
                                     memcmp(j->gt[0], j->gt[2], GT_SIZE * sizeof *gt) == 0));
    }
    for (int c = 0; c < 3; c++) {
        j->kb[c] = apple ? 0.0f : (float)p.base_offset[c];
        j->ka[c] = apple ? 0.0f : (float)p.alternate_offset[c];
        j->koff[c] = apple ? 0.0f : (float)(p.base_offset[c] - p.alternate_offset[c]);
    }

    /* Output encoding tables. */
    if (otf != GAINMAP_TRANSFER_LINEAR) {
        curve_table *enc = a->enc = gm_malloc(ctx, sizeof *enc);
        if (!enc) {
            st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory applying the gain map");
            goto fail;
        }
        curve_build(enc, otf == GAINMAP_TRANSFER_PQ ? pq_signal : otf == GAINMAP_TRANSFER_HLG ? hlg_signal : srgb_signal,
                    NULL);
        j->enc = enc;
        if (otf == GAINMAP_TRANSFER_HLG) {
            curve_table *hk = a->hk = gm_malloc(ctx, sizeof *hk);
            if (!hk) {
                st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory applying the gain map");
                goto fail;
            }
            double g = gainmap_hlg_system_gamma(GM_HLG_DISPLAY_NITS);
            curve_build(hk, hlg_scale, &g);
            j->hlg_k = hk;
            double lw[3];
            gainmap_luma_weights(op, lw);
            for (int c = 0; c < 3; c++)
                j->luma[c] = (float)lw[c];
        }
    }

    /* The common case's kernel and its tables. */
    if (use_map && !j->conv_in && base->type == GAINMAP_PIXEL_U8 && base->channels == 3 &&
        otf == GAINMAP_TRANSFER_PQ) {
        float *ft = a->fast_tabs = gm_malloc(ctx, (6 * 256 + 2 * (size_t)CT_SIZE) * sizeof *ft);
        if (!ft) {
            st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory applying the gain map");
            goto fail;
        }
        for (int c = 0; c < 3; c++) {
            float *lk = ft + (size_t)c * 256, *gx = ft + (size_t)(3 + c) * 256;
            for (int i = 0; i < 256; i++) {
                lk[i] = a->lut[i] + j->kb[c];
                gx[i] = j->gt[c][i * GT_STEPS];
            }
            j->lutk[c] = lk;
            j->gx[c] = gx;
        }
        float *pq2 = ft + 6 * 256;
        const float *t = a->enc->t;
        for (size_t i = 0; i < CT_SIZE; i++) {
            pq2[2 * i] = t[i] * 65535.0f + 0.5f;
            pq2[2 * i + 1] = i + 1 < CT_SIZE ? (t[i + 1] - t[i]) * 65535.0f : 0.0f;
        }
        j->pq2 = pq2;
        j->fast = 1;
    }

    gainmap_pixel_type ot = otf == GAINMAP_TRANSFER_LINEAR ? GAINMAP_PIXEL_F32
                            : otf == GAINMAP_TRANSFER_SRGB ? GAINMAP_PIXEL_U8
                                                           : GAINMAP_PIXEL_U16;
    j->out_type = ot;
    if (use_map) {
        j->same_size = map->width == base->width && map->height == base->height;
        if (map_streamed) {
            j->map = NULL;   /* rows come with each strip; no resampling */
        } else {
            j->map = map;
            st = gm_resample_init(ctx, &j->rs, map, base->width, base->height, j->mch);
            if (st != GAINMAP_OK)
                goto fail;
        }
    }

    int nw = gm_thread_count(ctx, base->height, APPLY_STRIP);
    a->wk = calloc((size_t)nw, sizeof *a->wk);
    if (!a->wk) {
        st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory applying the gain map");
        goto fail;
    }
    a->nw = nw;
    for (int i = 0; i < nw; i++) {
        apply_worker *wk = &a->wk[i];
        wk->job = j;
        wk->h = gm_malloc(ctx, (size_t)base->width * 3 * sizeof(float));
        if (use_map && j->map) {
            wk->rs = j->rs;
            wk->rs.vrow = gm_malloc(ctx, (size_t)map->width * j->mch * sizeof(float));
            wk->rs.cached_y = UINT32_MAX;
            wk->v = gm_malloc(ctx, (size_t)base->width * j->mch * sizeof(float));
        }
        if (!wk->h || (use_map && j->map && (!wk->rs.vrow || !wk->v))) {
            st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory applying the gain map");
            goto fail;
        }
    }

    out->width = base->width;
    out->height = base->height;
    out->channels = 3;
    out->type = ot;
    out->stride = (size_t)base->width * 3 * gm_pixel_size(ot);
    out->transfer = otf;
    out->primaries = op;
    out->bit_depth = ot == GAINMAP_PIXEL_F32 ? 32 : ot == GAINMAP_PIXEL_U16 ? 16 : 8;
    out->has_cicp = 1;
    out->cicp[0] = (uint8_t)gainmap_primaries_to_cicp(op);
    out->cicp[1] = (uint8_t)gainmap_transfer_to_cicp(otf);
    out->cicp[2] = 0;
    out->cicp[3] = 1;
    out->orientation = base->orientation;
    *out_a = a;
    return GAINMAP_OK;

fail:
    gm_apply_end(a);
    memset(out, 0, sizeof *out);
    return st;
}

void gm_apply_rows(gm_apply *a, uint32_t y0, uint32_t n, const void *base_rows, size_t base_stride,
                   const void *map_rows, size_t map_stride, void *out_rows, size_t out_stride)
{
    apply_job *j = a->job;
    if (n == 0)
        return;
    j->y0 = y0;
    j->base_rows = base_rows;
    j->base_stride = base_stride;
    j->map_rows = map_rows;
    j->map_stride = map_stride;
    j->out_rows = out_rows;
    j->out_stride = out_stride;
    int nw = GM_MIN(a->nw, (int)((n + APPLY_STRIP - 1) / APPLY_STRIP));
    gm_parallel_strips(nw, n, APPLY_STRIP, apply_strip, a->wk);
}

gainmap_status gainmap_apply(gainmap_ctx *ctx, const gainmap_image *base, const gainmap_image *map,
                             const gainmap_metadata *meta, const gainmap_decode_options *opts, gainmap_image *out)
{
    if (!out)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "apply: NULL output image");
    memset(out, 0, sizeof *out);
    if (!base || !base->data || !meta)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "apply: missing base image or metadata");
    gm_apply *a;
    gainmap_image hdr;
    gainmap_status st = gm_apply_begin(ctx, base, map, 0, meta, opts, &a, &hdr);
    if (st != GAINMAP_OK)
        return st;
    st = gainmap_image_alloc(ctx, out, base->width, base->height, 3, hdr.type);
    if (st == GAINMAP_OK) {
        gm_apply_rows(a, 0, base->height, base->data, base->stride, NULL, 0, out->data, out->stride);
        void *data = out->data;
        size_t stride = out->stride;
        *out = hdr;
        out->data = data;
        out->stride = stride;
    }
    gm_apply_end(a);
    return st;
}

/* tonemap.c - HDR master -> SDR base without hue shifts.
 *
 * Per pixel: decode to linear light (1.0 = 203 cd/m2), scale the pixel by
 * curve(Y)/Y where Y is its luminance (one factor for R, G and B, so the
 * chromaticity - and the Oklab hue - stay exactly as they were), convert to
 * the base primaries, then bring colours that are outside or near the edge of
 * the base gamut inward at constant Oklab lightness and hue with a soft knee
 * (FORMATS.md 6.6, 6.7 for the curves).  With a .cube LUT the curve is
 * replaced by the LUT in its declared encodings. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REF_WHITE 203.0      /* library linear 1.0 (BT.2408) */
#define CURVE_N 4096         /* curve table entries over log2 luminance */
#define CURVE_LO (-24.0)     /* log2 of the smallest tabulated luminance */
/* The same ratio tabulated on the float's own bits (issue 8: no log2 per
 * pixel): 2^(23 - RT_SHIFT) entries per octave from 2^CURVE_LO, linear in
 * between; the index is the exponent and top mantissa bits. */
#define RT_SHIFT 15
#define RT_PER_OCTAVE (1 << (23 - RT_SHIFT))
#define RT_BASE (((uint32_t)(127 + (int)CURVE_LO) << 23) >> RT_SHIFT)

/* Soft gamut knee (in units of the boundary chroma at that L and hue):
 * untouched below KNEE, reaches the boundary at LIMIT, ACES-style power
 * compression with exponent POWER in between (slope 1 at the knee). */
#define GAMUT_KNEE 0.8
#define GAMUT_LIMIT 1.5
#define GAMUT_POWER 1.2
#define GAMUT_SCALE 0.2466394453717216   /* from the three above, see gamut_compress() */

struct gm_tonemap_state {
    gainmap_tonemapper method;
    double white;             /* HDR reference white, cd/m2 */
    double peak;              /* source peak, cd/m2 */
    double to_white;          /* library linear -> relative to HDR white: 203 / white */
    double P;                 /* peak / white */
    float ratio[CURVE_N];     /* curve(x)/x at x = 2^(CURVE_LO + i*step) */
    double step;
    float *rt;                /* curve(x)/x on the float-bit grid (RT_*) */
    float rt_lo, rt_top;      /* rt covers [rt_lo, rt_top) */
    gainmap_primaries src, base;
    gainmap_transfer src_tf;
    double w_src[3];          /* luminance weights of the source primaries */
    double m_src_base[9];
    /* gamut mapping in Oklab */
    double w_base[3];
    double base_to_lms[9], lms_to_base[9];
    int soft;                 /* the colours come from a wider gamut: soft knee */
    float *cmax;              /* GT_L x GT_H boundary chroma at (L, hue) */
    /* input decoding */
    float *in_table;          /* U8/U16 sample -> linear (HLG: scene light) */
    size_t in_entries;
    /* LUT path */
    const gainmap_lut *lut;
    gainmap_transfer lut_in, lut_out;
    double m_src_lutin[9], m_lutout_base[9];
};

/* ------------------------------------------------------------------ */
/* Curves: x = luminance relative to HDR white, P = peak / white;      */
/* result relative to SDR white, in [0, 1].                            */
/* ------------------------------------------------------------------ */

/* BT.2390 EETF in the PQ domain, source [0, peak] -> target [0, white]. */
static double curve_bt2390(double x, double white, double P)
{
    if (P <= 1.0)
        return fmin(x, 1.0);
    double src_max = gainmap_pq_inverse_eotf(P * white), src_min = gainmap_pq_inverse_eotf(0.0);
    double range = src_max - src_min;
    double e1 = (gainmap_pq_inverse_eotf(x * white) - src_min) / range;
    double max_lum = (gainmap_pq_inverse_eotf(white) - src_min) / range;
    double ks = 1.5 * max_lum - 0.5;
    double e2 = e1;
    if (e1 >= 1.0)
        e2 = max_lum;
    else if (e1 >= ks) {
        double t = (e1 - ks) / (1.0 - ks), t2 = t * t, t3 = t2 * t;
        e2 = (2 * t3 - 3 * t2 + 1) * ks + (t3 - 2 * t2 + t) * (1 - ks) + (-2 * t3 + 3 * t2) * max_lum;
    }
    double nits = gainmap_pq_eotf(e2 * range + src_min);
    return fmin(nits / white, 1.0);
}

/* BT.2446 Method A luminance curve (L_HDR = peak, L_SDR = white). */
static double curve_bt2446a(double x, double white, double P)
{
    if (P <= 1.0)
        return fmin(x, 1.0);
    double y = pow(fmin(x / P, 1.0), 1.0 / 2.4);
    double rho_h = 1.0 + 32.0 * pow(P * white / 10000.0, 1.0 / 2.4);
    double yp = log(1.0 + (rho_h - 1.0) * y) / log(rho_h);
    double yc;
    if (yp <= 0.7399)
        yc = 1.0770 * yp;
    else if (yp < 0.9909)
        yc = -1.1510 * yp * yp + 2.7811 * yp - 0.6302;
    else
        yc = 0.5 * yp + 0.5;
    double rho_s = 1.0 + 32.0 * pow(white / 10000.0, 1.0 / 2.4);
    double ys = (pow(rho_s, yc) - 1.0) / (rho_s - 1.0);
    return fmin(pow(fmax(ys, 0.0), 2.4), 1.0);
}

/* Extended Reinhard shoulder above a knee at 0.5: linear below, reaches 1
 * exactly at the peak, slope continuous at the knee. */
static double curve_reinhard(double x, double P)
{
    const double k = 0.5;
    if (x <= k || P <= 1.0)
        return fmin(x, 1.0);
    double u = (x - k) / (1.0 - k), U = (P - k) / (1.0 - k);
    return fmin(k + (1.0 - k) * u * (1.0 + u / (U * U)) / (1.0 + u), 1.0);
}

/* Hable's filmic curve (exposure 2, white = peak). */
static double hable(double x)
{
    const double A = 0.15, B = 0.50, C = 0.10, D = 0.20, E = 0.02, F = 0.30;
    return (x * (A * x + C * B) + D * E) / (x * (A * x + B) + D * F) - E / F;
}
static double curve_filmic(double x, double P) { return fmin(hable(2.0 * x) / hable(2.0 * fmax(P, 1.0)), 1.0); }

static double curve_eval(const gm_tonemap_state *s, double x)
{
    switch (s->method) {
    case GAINMAP_TONEMAP_BT2446A: return curve_bt2446a(x, s->white, s->P);
    case GAINMAP_TONEMAP_REINHARD: return curve_reinhard(x, s->P);
    case GAINMAP_TONEMAP_FILMIC: return curve_filmic(x, s->P);
    case GAINMAP_TONEMAP_CLIP: return fmin(x, 1.0);
    case GAINMAP_TONEMAP_BT2390:
    case GAINMAP_TONEMAP_DEFAULT: break;
    }
    return curve_bt2390(x, s->white, s->P);
}

double gm_tonemap_curve(const gm_tonemap_state *s, double x) { return x > 0.0 ? curve_eval(s, x) : 0.0; }

/* curve(x)/x from the table (log2 domain, linear interpolation). */
static inline double curve_ratio(const gm_tonemap_state *s, double x)
{
    double t = (log2(x) - CURVE_LO) / s->step;
    if (t <= 0.0)
        return s->ratio[0];
    if (t >= CURVE_N - 1)
        return 1.0 / x;   /* beyond the peak every curve is 1 */
    int i = (int)t;
    double f = t - i;
    return s->ratio[i] + f * (s->ratio[i + 1] - s->ratio[i]);
}

/* The same from the float-bit table: what gm_tonemap_row uses. */
static inline double curve_ratio_fast(const gm_tonemap_state *s, double xd)
{
    if (xd >= s->P)
        return 1.0 / xd;   /* every curve reaches 1 at the peak: exact there */
    float x = (float)xd;
    if (!(x > s->rt_lo))
        return s->rt[0];
    if (x >= s->rt_top)
        return 1.0 / xd;
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint32_t i = (u >> RT_SHIFT) - RT_BASE;
    float f = (float)(u & ((1u << RT_SHIFT) - 1)) * (1.0f / (float)(1u << RT_SHIFT));
    return s->rt[i] + f * (s->rt[i + 1] - s->rt[i]);
}

/* fmin/fmax with their NaN rules, inlined (the libm calls cost more than
 * the arithmetic around them). */
static inline double dmin(double a, double b) { return a < b || b != b ? a : b; }
static inline double dmax(double a, double b) { return a > b || b != b ? a : b; }

/* ------------------------------------------------------------------ */
/* Gamut mapping at constant Oklab lightness and hue                   */
/* ------------------------------------------------------------------ */
#define GT_L 128   /* boundary table: lightness steps */
#define GT_H 256   /* boundary table: hue steps */

static inline void mat_apply(const double m[9], const double in[3], double out[3])
{
    double r0 = m[0] * in[0] + m[1] * in[1] + m[2] * in[2];
    double r1 = m[3] * in[0] + m[4] * in[1] + m[5] * in[2];
    double r2 = m[6] * in[0] + m[7] * in[1] + m[8] * in[2];
    out[0] = r0;
    out[1] = r1;
    out[2] = r2;
}

static inline void oklab_to_base(const gm_tonemap_state *s, const double lab[3], double rgb[3])
{
    double c[3];
    gm_oklab_to_lms_cbrt(lab, c);
    for (int i = 0; i < 3; i++)
        c[i] = c[i] * c[i] * c[i];
    mat_apply(s->lms_to_base, c, rgb);
}

static inline bool inside(const double rgb[3])
{
    const double eps = 1e-7;
    return rgb[0] >= -eps && rgb[1] >= -eps && rgb[2] >= -eps && rgb[0] <= 1 + eps && rgb[1] <= 1 + eps &&
           rgb[2] <= 1 + eps;
}

/* Along a ray of constant L and hue the cube roots of LMS are linear in the
 * chroma: lms_cbrt(L, m ca, m cb) = L + m d (Oklab's M2 inverse).  The
 * searches below step along such rays, so each step is three cubes and the
 * LMS -> RGB matrix. */
typedef struct oklab_ray {
    double L, d[3];
} oklab_ray;

static inline void ray_init(oklab_ray *r, double L, double ca, double cb)
{
    const double z[3] = {0.0, ca, cb};
    r->L = L;
    gm_oklab_to_lms_cbrt(z, r->d);
}

static inline bool ray_inside(const gm_tonemap_state *s, const oklab_ray *r, double m)
{
    double c[3], t[3];
    for (int i = 0; i < 3; i++) {
        double v = r->L + m * r->d[i];
        c[i] = v * v * v;
    }
    mat_apply(s->lms_to_base, c, t);
    return inside(t);
}

/* f(x): identity below the knee, then compression that reaches 1 at LIMIT. */
static double gamut_compress(double x)
{
    const double t = GAMUT_KNEE, p = GAMUT_POWER;
    if (x <= t)
        return x;
    if (x >= GAMUT_LIMIT)
        return 1.0;
    /* scale so that f(LIMIT) = 1: (LIMIT-t) / (((LIMIT-t)/(1-t))^p - 1)^(1/p) */
    const double sc = GAMUT_SCALE;
    double d = (x - t) / sc;
    return fmin(t + sc * d / pow(1.0 + pow(d, p), 1.0 / p), 1.0);
}

/* Largest in-gamut chroma at lightness L along hue (ca, cb), by bisection. */
static double boundary_search(const gm_tonemap_state *s, double L, double ca, double cb)
{
    double lo = 0.0, hi = 0.6;   /* Oklab chroma of any RGB gamut here stays below 0.5 */
    oklab_ray r;
    ray_init(&r, L, ca, cb);
    for (int k = 0; k < 24; k++) {
        double mid = 0.5 * (lo + hi);
        if (ray_inside(s, &r, mid))
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static void boundary_table(gm_tonemap_state *s)
{
    for (int i = 0; i < GT_L; i++)
        for (int j = 0; j < GT_H; j++) {
            double L = (double)i / (GT_L - 1), h = 2.0 * M_PI * j / GT_H;
            s->cmax[i * GT_H + j] = (float)boundary_search(s, L, cos(h), sin(h));
        }
}

static inline double boundary_lookup(const gm_tonemap_state *s, double L, double h)
{
    double fl = GM_CLAMP(L, 0.0, 1.0) * (GT_L - 1), fh = (h < 0 ? h + 2.0 * M_PI : h) * (GT_H / (2.0 * M_PI));
    int i = (int)fl, j = (int)fh;
    if (i >= GT_L - 1)
        i = GT_L - 2;
    fl -= i;
    fh -= j;
    j %= GT_H;
    int j1 = (j + 1) % GT_H;
    const float *c = s->cmax;
    double a = c[i * GT_H + j] + fh * (c[i * GT_H + j1] - c[i * GT_H + j]);
    double b = c[(i + 1) * GT_H + j] + fh * (c[(i + 1) * GT_H + j1] - c[(i + 1) * GT_H + j]);
    return a + fl * (b - a);
}

static void gamut_map(const gm_tonemap_state *s, double rgb[3])
{
    double y = s->w_base[0] * rgb[0] + s->w_base[1] * rgb[1] + s->w_base[2] * rgb[2];
    if (!(y > 1e-9)) {
        rgb[0] = rgb[1] = rgb[2] = 0.0;
        return;
    }
    if (y >= 1.0) {
        rgb[0] = rgb[1] = rgb[2] = 1.0;
        return;
    }
    if ((!s->soft || (rgb[0] == rgb[1] && rgb[1] == rgb[2])) && inside(rgb))
        return;
    /* Cheap test first: how far along the line from the grey of equal
     * luminance can the pixel move before leaving the cube?  Three times its
     * distance or more keeps its Oklab chroma below the knee. */
    double reach = INFINITY;
    for (int c = 0; c < 3; c++) {
        double d = rgb[c] - y;
        if (d > 0)
            reach = dmin(reach, (1.0 - y) / d);
        else if (d < 0)
            reach = dmin(reach, y / -d);
    }
    if (reach >= 3.0 && s->soft)
        return;

    double lms[3], lab[3];
    mat_apply(s->base_to_lms, rgb, lms);
    gm_oklab_from_lms(lms, lab);
    double L = dmin(lab[0], 1.0), C = sqrt(lab[1] * lab[1] + lab[2] * lab[2]);
    if (!(C > 1e-4) || L <= 0.0) {
        /* achromatic to far below visibility (Oklab's own white has a, b of
         * order 1e-5): the grey of the same luminance */
        rgb[0] = rgb[1] = rgb[2] = y;
        return;
    }
    double ca = lab[1] / C, cb = lab[2] / C, t[3];
    double cmax = boundary_lookup(s, L, atan2(cb, ca));
    if ((C <= GAMUT_KNEE * cmax || !s->soft) && inside(rgb))
        return;
    /* from a gamut no wider than the base, only what lies outside (bright
     * colours whose channels passed 1) is brought to the boundary */
    double c2 = s->soft ? cmax * gamut_compress(C / dmax(cmax, 1e-12)) : dmin(C, cmax);
    double q[3] = {L, c2 * ca, c2 * cb};
    oklab_to_base(s, q, t);
    if (!inside(t)) {
        /* the interpolated boundary overshot (near a cusp): bisect below it */
        double lo = 0.0, hi = c2;
        oklab_ray r;
        ray_init(&r, L, ca, cb);
        /* the overshoot is usually small: try the top 1/32 first, then
         * 11 halvings reach the same c2 / 2^16 as 16 from zero would */
        int steps = 16;
        if (ray_inside(s, &r, c2 * (31.0 / 32.0))) {
            lo = c2 * (31.0 / 32.0);
            steps = 11;
        }
        for (int k = 0; k < steps; k++) {
            double mid = 0.5 * (lo + hi);
            if (ray_inside(s, &r, mid))
                lo = mid;
            else
                hi = mid;
        }
        q[1] = lo * ca;
        q[2] = lo * cb;
        oklab_to_base(s, q, t);
    }
    memcpy(rgb, t, sizeof t);
}

/* ------------------------------------------------------------------ */
/* Per-pixel entry point                                               */
/* ------------------------------------------------------------------ */
static inline __attribute__((always_inline)) void tonemap_rows(const gm_tonemap_state *s, const float *in,
                                                               float *out, size_t n, int ref)
{
    for (size_t i = 0; i < n; i++) {
        double v[3] = {in[3 * i], in[3 * i + 1], in[3 * i + 2]};
        if (s->lut) {
            float e[3], o[3];
            gm_mat3_apply(s->m_src_lutin, v, v);
            for (int c = 0; c < 3; c++)
                e[c] = (float)gainmap_from_linear(s->lut_in, s->lut_in == GAINMAP_TRANSFER_LINEAR ? v[c]
                                                                                                   : fmax(v[c], 0.0));
            gainmap_lut_apply(s->lut, e, o);
            for (int c = 0; c < 3; c++)
                v[c] = gainmap_to_linear(s->lut_out, GM_CLAMP((double)o[c], 0.0, 1.0));
            gm_mat3_apply(s->m_lutout_base, v, v);
        } else {
            double y = s->w_src[0] * v[0] + s->w_src[1] * v[1] + s->w_src[2] * v[2];
            if (y > 1e-12) {
                double x = y * s->to_white;
                double k = s->to_white * (s->method == GAINMAP_TONEMAP_CLIP ? dmin(1.0, 1.0 / x)
                                          : ref                                ? curve_ratio(s, x)
                                                                               : curve_ratio_fast(s, x));
                for (int c = 0; c < 3; c++)
                    v[c] *= k;
            } else {
                v[0] = v[1] = v[2] = 0.0;
            }
            mat_apply(s->m_src_base, v, v);
        }
        /* a matrix whose rows sum to 1 only to rounding must not split a
         * grey into three codes */
        double mx = dmax(fabs(v[0]), dmax(fabs(v[1]), fabs(v[2])));
        if (fabs(v[0] - v[1]) <= 1e-9 * mx && fabs(v[1] - v[2]) <= 1e-9 * mx)
            v[0] = v[1] = v[2] = (v[0] + v[1] + v[2]) / 3.0;
        gamut_map(s, v);
        for (int c = 0; c < 3; c++)
            out[3 * i + c] = v[c] >= 0.0 ? (float)dmin(v[c], 1.0) : 0.0f;   /* NaN -> 0 */
    }
}

void gm_tonemap_row(const gm_tonemap_state *s, const float *in, float *out, size_t n)
{
    tonemap_rows(s, in, out, n, 0);
}

void gm_tonemap_row_ref(const gm_tonemap_state *s, const float *in, float *out, size_t n)
{
    tonemap_rows(s, in, out, n, 1);
}

/* ------------------------------------------------------------------ */
/* Decoding the HDR image                                              */
/* ------------------------------------------------------------------ */
static double sample_linear(const gm_tonemap_state *s, double v)
{
    if (s->src_tf == GAINMAP_TRANSFER_HLG)
        return gainmap_hlg_inverse_oetf(GM_CLAMP(v, 0.0, 1.0));
    return gainmap_to_linear(s->src_tf, v);
}

void gm_tonemap_decode_row(const gm_tonemap_state *s, const gainmap_image *img, uint32_t y, float *out)
{
    const uint8_t *row = (const uint8_t *)img->data + (size_t)y * img->stride;
    uint32_t nc = img->channels;
    if (nc == 3 && s->src_tf != GAINMAP_TRANSFER_HLG && s->in_table) {
        /* the common case: one table lookup per sample */
        const float *t = s->in_table;
        size_t n = (size_t)img->width * 3;
        if (img->type == GAINMAP_PIXEL_U16) {
            const uint16_t *r16 = (const uint16_t *)(const void *)row;
            for (size_t i = 0; i < n; i++)
                out[i] = t[r16[i]];
        } else {
            for (size_t i = 0; i < n; i++)
                out[i] = t[row[i]];
        }
        return;
    }
    for (uint32_t x = 0; x < img->width; x++) {
        double v[3];
        for (int c = 0; c < 3; c++) {
            size_t i = (size_t)x * nc + (nc == 1 ? 0 : (size_t)c);
            if (img->type == GAINMAP_PIXEL_U8)
                v[c] = s->in_table[row[i]];
            else if (img->type == GAINMAP_PIXEL_U16)
                v[c] = s->in_table[((const uint16_t *)(const void *)row)[i]];
            else
                v[c] = sample_linear(s, ((const float *)(const void *)row)[i]);
        }
        if (s->src_tf == GAINMAP_TRANSFER_HLG) {
            /* BT.2100 OOTF (1000 cd/m2 display) with the source's luminance */
            double ys = s->w_src[0] * v[0] + s->w_src[1] * v[1] + s->w_src[2] * v[2];
            double k = ys > 0.0 ? 1000.0 * pow(ys, 0.2) / REF_WHITE : 0.0;
            for (int c = 0; c < 3; c++)
                v[c] *= k;
        }
        for (int c = 0; c < 3; c++)
            out[3 * x + c] = (float)v[c];
    }
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */
static gainmap_status check_image(gainmap_ctx *ctx, const gainmap_image *img)
{
    if (!img || !img->data || !img->width || !img->height)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "the HDR image is empty");
    if (img->channels != 1 && img->channels != 3 && img->channels != 4)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "the HDR image has %u channels (expected 1, 3 or 4)",
                        img->channels);
    if (img->type != GAINMAP_PIXEL_U8 && img->type != GAINMAP_PIXEL_U16 && img->type != GAINMAP_PIXEL_F32)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "the HDR image has an unknown pixel type");
    size_t row;
    if (!gm_mul_size((size_t)img->width * img->channels, gm_pixel_size(img->type), &row) || img->stride < row)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "the HDR image's stride %zu is shorter than a row", img->stride);
    return GAINMAP_OK;
}

/* 99.9th percentile of luminance (cd/m2) over at most ~1M sampled pixels. */
#define HIST_BINS 2048
#define HIST_LO (-12.0)   /* log2 nits */
#define HIST_HI 14.0
static gainmap_status percentile_peak(gainmap_ctx *ctx, const gm_tonemap_state *s, const gainmap_image *img,
                                      double *peak)
{
    uint32_t step = 1;
    while ((uint64_t)(img->width / step) * (img->height / step) > (1u << 20))
        step++;
    float *row = gm_malloc(ctx, (size_t)img->width * 3 * sizeof *row);
    uint32_t *hist = gm_calloc(ctx, HIST_BINS, sizeof *hist);
    if (!row || !hist) {
        free(row);
        free(hist);
        return GAINMAP_ERR_NOMEM;
    }
    uint64_t total = 0;
    for (uint32_t y = step / 2; y < img->height; y += step) {
        gm_tonemap_decode_row(s, img, y, row);
        for (uint32_t x = step / 2; x < img->width; x += step) {
            const float *p = row + 3 * (size_t)x;
            double nits = (s->w_src[0] * p[0] + s->w_src[1] * p[1] + s->w_src[2] * p[2]) * REF_WHITE;
            if (!(nits > 0.0))
                continue;   /* black (and NaN) says nothing about the peak */
            double b = (log2(nits) - HIST_LO) / (HIST_HI - HIST_LO) * HIST_BINS;
            hist[(int)GM_CLAMP(b, 0.0, HIST_BINS - 1.0)]++;
            total++;
        }
    }
    *peak = 0.0;
    if (total) {
        uint64_t above = 0, want = total / 1000;   /* the top 0.1 % */
        int i = HIST_BINS - 1;
        for (; i > 0; i--) {
            above += hist[i];
            if (above > want)
                break;
        }
        *peak = exp2(HIST_LO + (i + 1.0) * (HIST_HI - HIST_LO) / HIST_BINS);
    }
    free(row);
    free(hist);
    return GAINMAP_OK;
}

static gainmap_primaries default_primaries(gainmap_transfer tf)
{
    return tf == GAINMAP_TRANSFER_PQ || tf == GAINMAP_TRANSFER_HLG ? GAINMAP_PRIMARIES_BT2020
                                                                   : GAINMAP_PRIMARIES_BT709;
}

gainmap_status gm_tonemap_setup(gainmap_ctx *ctx, const gainmap_image *hdr, const gainmap_tonemap_options *opts,
                                gm_tonemap_state **out)
{
    *out = NULL;
    gainmap_tonemap_options defaults;
    if (!opts) {
        gainmap_tonemap_options_init(&defaults);
        opts = &defaults;
    }
    gainmap_status st = check_image(ctx, hdr);
    if (st != GAINMAP_OK)
        return st;
    if ((unsigned)opts->method > GAINMAP_TONEMAP_CLIP)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "unknown tone mapper %d", (int)opts->method);
    double white = opts->hdr_white_nits > 0.0 ? opts->hdr_white_nits : REF_WHITE;
    if (!(white >= 1.0 && white <= 10000.0))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HDR reference white %g cd/m2 is outside 1..10000", white);
    if (!(opts->peak_nits >= 0.0 && opts->peak_nits <= 10000.0))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "peak %g cd/m2 is outside 0..10000", opts->peak_nits);
    gainmap_primaries base = opts->base_primaries ? opts->base_primaries : GAINMAP_PRIMARIES_P3;
    gainmap_transfer src_tf = hdr->transfer;
    if (src_tf == GAINMAP_TRANSFER_UNKNOWN)
        src_tf = hdr->type == GAINMAP_PIXEL_F32 ? GAINMAP_TRANSFER_LINEAR : GAINMAP_TRANSFER_SRGB;
    gainmap_primaries src = hdr->primaries ? hdr->primaries : default_primaries(src_tf);

    gm_tonemap_state *s = gm_calloc(ctx, 1, sizeof *s);
    if (!s)
        return GAINMAP_ERR_NOMEM;
    s->method = opts->method == GAINMAP_TONEMAP_DEFAULT ? GAINMAP_TONEMAP_BT2390 : opts->method;
    s->white = white;
    s->to_white = REF_WHITE / white;
    s->src = src;
    s->base = base;
    s->src_tf = src_tf;
    if (gainmap_luma_weights(src, s->w_src) != 0 || gainmap_luma_weights(base, s->w_base) != 0 ||
        gainmap_gamut_matrix(src, base, s->m_src_base) != 0 || gm_oklab_matrix(base, s->base_to_lms) != 0 ||
        gm_mat3_invert(s->base_to_lms, s->lms_to_base) != 0) {
        free(s);
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "unknown primaries for tone mapping");
    }
    s->in_entries = hdr->type == GAINMAP_PIXEL_U8 ? 256 : hdr->type == GAINMAP_PIXEL_U16 ? 65536 : 0;
    if (s->in_entries) {
        if (!(s->in_table = gm_malloc(ctx, s->in_entries * sizeof *s->in_table))) {
            free(s);
            return GAINMAP_ERR_NOMEM;
        }
        for (size_t i = 0; i < s->in_entries; i++)
            s->in_table[i] = (float)sample_linear(s, (double)i / (double)(s->in_entries - 1));
    }
    if (opts->lut) {
        s->lut = opts->lut;
        s->lut_in = opts->lut_input ? opts->lut_input : GAINMAP_TRANSFER_PQ;
        s->lut_out = opts->lut_output ? opts->lut_output : GAINMAP_TRANSFER_GAMMA22;
        gainmap_primaries li = opts->lut_input_primaries ? opts->lut_input_primaries : src;
        gainmap_primaries lo = opts->lut_output_primaries ? opts->lut_output_primaries : base;
        if (gainmap_gamut_matrix(src, li, s->m_src_lutin) != 0 || gainmap_gamut_matrix(lo, base, s->m_lutout_base)) {
            gm_tonemap_free(s);
            return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "unknown LUT primaries");
        }
    }

    /* BT.709 within P3 within BT.2020: a soft knee only when the colours
     * arrive from a wider gamut than the base's */
    gainmap_primaries from = s->lut ? (opts->lut_output_primaries ? opts->lut_output_primaries : base) : src;
    s->soft = (from == GAINMAP_PRIMARIES_BT2020 && base != GAINMAP_PRIMARIES_BT2020) ||
              (from == GAINMAP_PRIMARIES_P3 && base == GAINMAP_PRIMARIES_BT709);

    if (!(s->cmax = gm_malloc(ctx, (size_t)GT_L * GT_H * sizeof *s->cmax))) {
        gm_tonemap_free(s);
        return GAINMAP_ERR_NOMEM;
    }
    boundary_table(s);

    double peak = opts->peak_nits;
    if (!(peak > 0.0) && hdr->max_cll > 0.0)
        peak = hdr->max_cll;
    if (!(peak > 0.0) && (st = percentile_peak(ctx, s, hdr, &peak)) != GAINMAP_OK) {
        gm_tonemap_free(s);
        return st;
    }
    s->peak = GM_CLAMP(peak, white, 10000.0);
    s->P = s->peak / white;

    s->step = (log2(fmax(s->P, 1.0)) + 0.5 - CURVE_LO) / (CURVE_N - 1);
    for (int i = 0; i < CURVE_N; i++) {
        double x = exp2(CURVE_LO + i * s->step);
        s->ratio[i] = (float)(curve_eval(s, x) / x);
    }
    /* Up to the octave holding the peak: above it every curve is 1. */
    int octaves = (int)ceil(log2(fmax(s->P, 1.0))) + 1 - (int)CURVE_LO;
    size_t nrt = (size_t)octaves * RT_PER_OCTAVE + 1;
    if (!(s->rt = gm_malloc(ctx, nrt * sizeof *s->rt))) {
        gm_tonemap_free(s);
        return GAINMAP_ERR_NOMEM;
    }
    for (size_t i = 0; i < nrt; i++) {
        double x = ldexp(1.0 + (double)(i % RT_PER_OCTAVE) / RT_PER_OCTAVE, (int)(i / RT_PER_OCTAVE) + (int)CURVE_LO);
        s->rt[i] = (float)(curve_eval(s, x) / x);
    }
    s->rt_lo = (float)ldexp(1.0, (int)CURVE_LO);
    s->rt_top = (float)ldexp(1.0, octaves + (int)CURVE_LO);
    *out = s;
    return GAINMAP_OK;
}

void gm_tonemap_free(gm_tonemap_state *s)
{
    if (!s)
        return;
    free(s->in_table);
    free(s->cmax);
    free(s->rt);
    free(s);
}

double gm_tonemap_peak_nits(const gm_tonemap_state *s) { return s->peak; }
gainmap_primaries gm_tonemap_source_primaries(const gm_tonemap_state *s) { return s->src; }

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */
void gainmap_tonemap_options_init(gainmap_tonemap_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->method = GAINMAP_TONEMAP_DEFAULT;
    opts->hdr_white_nits = REF_WHITE;
    opts->peak_nits = 0.0;
    opts->base_primaries = GAINMAP_PRIMARIES_P3;
    opts->base_transfer = GAINMAP_TRANSFER_SRGB;
    opts->lut = NULL;
    opts->lut_input = GAINMAP_TRANSFER_PQ;
    opts->lut_output = GAINMAP_TRANSFER_GAMMA22;
    opts->lut_input_primaries = GAINMAP_PRIMARIES_UNKNOWN;
    opts->lut_output_primaries = GAINMAP_PRIMARIES_UNKNOWN;
    opts->dither = 1;
}

static const char *const tm_names[] = {"default", "bt2390", "bt2446a", "reinhard", "filmic", "clip"};

const char *gainmap_tonemapper_name(gainmap_tonemapper t)
{
    return (unsigned)t < sizeof tm_names / sizeof tm_names[0] ? tm_names[t] : "unknown";
}

gainmap_tonemapper gainmap_tonemapper_from_name(const char *name)
{
    for (size_t i = 0; name && i < sizeof tm_names / sizeof tm_names[0]; i++)
        if (!strcmp(tm_names[i], name))
            return (gainmap_tonemapper)i;
    return GAINMAP_TONEMAP_DEFAULT;
}

#define ENC_N 65536   /* output table, indexed by sqrt(linear) */

/* 8x8 Bayer thresholds, (b + 0.5) / 64: one value per pixel, the same for
 * R, G and B so greys stay exactly grey. */
static const uint8_t BAYER8[8][8] = {
    {0, 32, 8, 40, 2, 34, 10, 42},  {48, 16, 56, 24, 50, 18, 58, 26}, {12, 44, 4, 36, 14, 46, 6, 38},
    {60, 28, 52, 20, 62, 30, 54, 22}, {3, 35, 11, 43, 1, 33, 9, 41},  {51, 19, 59, 27, 49, 17, 57, 25},
    {15, 47, 7, 39, 13, 45, 5, 37},  {63, 31, 55, 23, 61, 29, 53, 21},
};

typedef struct tm_job {
    const gm_tonemap_state *s;
    const gainmap_image *hdr;
    gainmap_image *sdr;
    const float *enc;          /* sqrt(linear) index -> 255 * encoded value */
    int dither;
    float **rows;              /* one scratch row per worker */
} tm_job;

static void tm_strip(void *arg, int worker, uint32_t y0, uint32_t y1)
{
    tm_job *j = arg;
    uint32_t w = j->hdr->width;
    float *row = j->rows[worker];
    for (uint32_t y = y0; y < y1; y++) {
        gm_tonemap_decode_row(j->s, j->hdr, y, row);
        gm_tonemap_row(j->s, row, row, w);
        uint8_t *o = (uint8_t *)j->sdr->data + (size_t)y * j->sdr->stride;
        for (uint32_t x = 0; x < w; x++) {
            float d = j->dither ? (BAYER8[y & 7][x & 7] + 0.5f) / 64.0f : 0.5f;
            for (int c = 0; c < 3; c++) {
                float e = j->enc[(int)(sqrtf(row[3 * x + c]) * (ENC_N - 1) + 0.5f)] + d;
                o[3 * x + c] = (uint8_t)(e >= 255.0f ? 255 : (int)e);
            }
        }
    }
}

gainmap_status gainmap_tonemap(gainmap_ctx *ctx, const gainmap_image *hdr, const gainmap_tonemap_options *opts,
                               gainmap_image *sdr)
{
    if (!sdr)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gainmap_tonemap needs an output image");
    memset(sdr, 0, sizeof *sdr);
    gainmap_tonemap_options defaults;
    if (!opts) {
        gainmap_tonemap_options_init(&defaults);
        opts = &defaults;
    }
    gainmap_transfer btf = opts->base_transfer ? opts->base_transfer : GAINMAP_TRANSFER_SRGB;
    if (btf == GAINMAP_TRANSFER_PQ || btf == GAINMAP_TRANSFER_HLG)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "the SDR base cannot use the %s transfer",
                        gainmap_transfer_name(btf));
    gm_tonemap_state *s = NULL;
    gainmap_status st = gm_tonemap_setup(ctx, hdr, opts, &s);
    if (st != GAINMAP_OK)
        return st;
    enum { STRIP = 32 };
    tm_job job;
    memset(&job, 0, sizeof job);
    float *enc = NULL;
    int nthreads = gm_thread_count(ctx, hdr->height, STRIP);
    if ((st = gainmap_image_alloc(ctx, sdr, hdr->width, hdr->height, 3, GAINMAP_PIXEL_U8)) != GAINMAP_OK)
        goto done;
    if (!(enc = gm_malloc(ctx, ENC_N * sizeof *enc))) {
        st = GAINMAP_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < ENC_N; i++) {
        double q = (double)i / (ENC_N - 1);
        enc[i] = (float)(255.0 * GM_CLAMP(gainmap_from_linear(btf, q * q), 0.0, 1.0));
    }
    job = (tm_job){s, hdr, sdr, enc, opts->dither != 0, NULL};
    if (!(job.rows = gm_calloc(ctx, (size_t)nthreads, sizeof *job.rows))) {
        st = GAINMAP_ERR_NOMEM;
        goto done;
    }
    for (int t = 0; t < nthreads; t++)
        if (!(job.rows[t] = gm_malloc(ctx, (size_t)hdr->width * 3 * sizeof(float)))) {
            st = GAINMAP_ERR_NOMEM;
            goto done;
        }
    gm_parallel_strips(nthreads, hdr->height, STRIP, tm_strip, &job);

    sdr->transfer = btf;
    sdr->primaries = s->base;
    sdr->bit_depth = 8;
    sdr->orientation = hdr->orientation;
    sdr->has_cicp = 1;
    sdr->cicp[0] = (uint8_t)gainmap_primaries_to_cicp(s->base);
    sdr->cicp[1] = (uint8_t)gainmap_transfer_to_cicp(btf);
    sdr->cicp[2] = 0;
    sdr->cicp[3] = 1;
    if (btf == GAINMAP_TRANSFER_SRGB && (s->base == GAINMAP_PRIMARIES_BT709 || s->base == GAINMAP_PRIMARIES_P3)) {
        uint8_t *icc = NULL;
        size_t n = 0;
        if ((st = gainmap_icc_generate(ctx, s->base == GAINMAP_PRIMARIES_P3 ? "p3" : "srgb", &icc, &n)) ==
            GAINMAP_OK) {
            sdr->icc = icc;
            sdr->icc_size = n;
        }
    }
    if (hdr->exif && hdr->exif_size && st == GAINMAP_OK)
        st = gainmap_image_set_exif(sdr, hdr->exif, hdr->exif_size);
done:
    for (int t = 0; job.rows && t < nthreads; t++)
        free(job.rows[t]);
    free(job.rows);
    free(enc);
    gm_tonemap_free(s);
    if (st != GAINMAP_OK)
        gainmap_image_free(sdr);
    return st;
}

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
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if GM_HAVE_AVX2_TARGET
#include <immintrin.h>
#endif

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
    /* curve(x)/x on the float-bit grid (RT_*), as pairs: entry i at
     * rt[2i], the float difference to entry i + 1 at rt[2i + 1] (0 for the
     * last), so one load serves the interpolation in both paths */
    float *rt;
    float rt_lo, rt_top;      /* rt covers [rt_lo, rt_top) */
    int simd;                 /* the SIMD path applies (see tm_simd4) */
    bool avx2;                /* gm_cpu_avx2() at setup */
    gainmap_primaries src, base;
    gainmap_transfer src_tf;
    double w_src[3];          /* luminance weights of the source primaries */
    double m_src_base[9];
    /* gamut mapping in Oklab */
    double w_base[3];
    double base_to_lms[9], lms_to_base[9];
    int soft;                 /* the colours come from a wider gamut: soft knee */
    int same_primaries;       /* src == base: m_src_base is the identity */
    double ok_m2[9];          /* cbrt(LMS) -> Oklab (the inverse of gm_oklab_to_lms_cbrt) */
    /* the same in float for the four-lane mapper (gamut_lanes) */
    float f_base_to_lms[9], f_lms_to_base[9], f_ok_m2[9], f_rowsum[3];
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
        return s->rt[0];   /* entry 0 */
    if (x >= s->rt_top)
        return 1.0 / xd;
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint32_t i = (u >> RT_SHIFT) - RT_BASE;
    float f = (float)(u & ((1u << RT_SHIFT) - 1)) * (1.0f / (float)(1u << RT_SHIFT));
    return s->rt[2 * i] + f * s->rt[2 * i + 1];
}

/* fmin/fmax with their NaN rules, inlined (the libm calls cost more than
 * the arithmetic around them). */
static inline double dmin(double a, double b) { return a < b || b != b ? a : b; }
static inline double dmax(double a, double b) { return a > b || b != b ? a : b; }

/* ------------------------------------------------------------------ */
/* Gamut mapping at constant Oklab lightness and hue                   */
/* ------------------------------------------------------------------ */
static inline bool inside(const double rgb[3])
{
    const double eps = 1e-7;
    return rgb[0] >= -eps && rgb[1] >= -eps && rgb[2] >= -eps && rgb[0] <= 1 + eps && rgb[1] <= 1 + eps &&
           rgb[2] <= 1 + eps;
}

/* Cube root to double precision without libm (issue 8: cbrt was a third
 * of the gamut mapper): exponent / 3 from the bits, then three Halley
 * steps (cubic convergence from the ~6 % first guess). */
static inline double fast_cbrt(double x)
{
    double a = fabs(x);
    if (!(a > 1e-200) || a > 1e200)
        return cbrt(x);   /* 0, tiny, huge, inf, NaN */
    uint64_t u;
    memcpy(&u, &a, sizeof u);
    u = u / 3 + ((uint64_t)0x2A9F7893u << 32);
    double y;
    memcpy(&y, &u, sizeof y);
    for (int i = 0; i < 3; i++) {
        double y3 = y * y * y;
        y *= (y3 + 2.0 * a) / (2.0 * y3 + a);
    }
    return x < 0 ? -y : y;
}

/* Along a ray of constant Oklab L and hue the cube roots of LMS are linear
 * in the chroma m: lms_cbrt(m) = L + m d (Oklab's M2 inverse has a first
 * column of ones), so each base RGB channel is a cubic in m,
 * rgb_k(m) = p[k][0] + p[k][1] m + p[k][2] m^2 + p[k][3] m^3.  The gamut
 * boundary along the ray is where the first channel reaches 0 or 1: a
 * root of a cubic, found by safeguarded Newton steps (no boundary table,
 * no bisection). */
typedef struct ray_poly {
    double p[3][4];
} ray_poly;

static inline void ray_poly_init(const gm_tonemap_state *s, double L, const double d[3], ray_poly *r)
{
    double t[4][3];
    for (int i = 0; i < 3; i++) {
        t[0][i] = L * L * L;
        t[1][i] = 3.0 * L * L * d[i];
        t[2][i] = 3.0 * L * d[i] * d[i];
        t[3][i] = d[i] * d[i] * d[i];
    }
    const double *m = s->lms_to_base;
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 4; j++)
            r->p[k][j] = m[3 * k] * t[j][0] + m[3 * k + 1] * t[j][1] + m[3 * k + 2] * t[j][2];
}

static inline double cubic(const double p[4], double m) { return p[0] + m * (p[1] + m * (p[2] + m * p[3])); }

/* Where a cubic with g(lo) and g(up) on opposite sides of zero, monotone
 * in between, crosses zero: Newton steps kept inside the bracket. */
static double cubic_root(const double p[4], double bound, double lo, double up)
{
    double glo = cubic(p, lo) - bound, gup = cubic(p, up) - bound;
    double m = glo != gup ? lo + (up - lo) * glo / (glo - gup) : 0.5 * (lo + up);
    bool neg_lo = glo < 0.0;
    for (int it = 0; it < 40; it++) {
        double g = cubic(p, m) - bound, dg = p[1] + m * (2.0 * p[2] + m * 3.0 * p[3]);
        if ((g < 0.0) == neg_lo)
            lo = m;
        else
            up = m;
        double next = dg != 0.0 ? m - g / dg : 0.5 * (lo + up);
        if (!(next >= lo && next <= up))
            next = 0.5 * (lo + up);
        double step = fabs(next - m);
        m = next;
        if (step <= 1e-12 || up - lo <= 1e-12)
            break;
    }
    return m;   /* within ~1e-12 of the crossing (either side: clamped after) */
}

/* Largest m in [0, hi] up to which all channels stay in [0, 1].  Between
 * its critical points (roots of the derivative, a quadratic) a channel is
 * monotone, so it leaves [0, 1] first in the first of those pieces whose
 * end lies outside, and there the crossing is bracketed. */
static double ray_boundary(const ray_poly *r, double hi)
{
    for (int k = 0; k < 3; k++) {
        const double *p = r->p[k];
        double v0 = p[0];
        if (v0 < 0.0 || v0 > 1.0)
            return 0.0;   /* outside already at m = 0 (Oklab white is not exactly RGB white) */
        /* pieces end at the critical points inside (0, hi), then at hi */
        double ends[3];
        int n = 0;
        double qa = 3.0 * p[3], qb = 2.0 * p[2], qc = p[1];
        if (qa != 0.0) {
            double disc = qb * qb - 4.0 * qa * qc;
            if (disc > 0.0) {
                double sq = sqrt(disc);
                double q = -0.5 * (qb + (qb >= 0.0 ? sq : -sq));
                double t1 = q / qa, t2 = q != 0.0 ? qc / q : t1;
                if (t1 > t2) {
                    double tt = t1;
                    t1 = t2;
                    t2 = tt;
                }
                if (t1 > 0.0 && t1 < hi)
                    ends[n++] = t1;
                if (t2 > 0.0 && t2 < hi && t2 != t1)
                    ends[n++] = t2;
            }
        } else if (qb != 0.0) {
            double t1 = -qc / qb;
            if (t1 > 0.0 && t1 < hi)
                ends[n++] = t1;
        }
        ends[n++] = hi;
        double prev = 0.0;
        for (int e = 0; e < n; e++) {
            double v = cubic(p, ends[e]);
            if (v > 1.0 || v < 0.0) {
                hi = cubic_root(p, v > 1.0 ? 1.0 : 0.0, prev, ends[e]);
                break;
            }
            prev = ends[e];
        }
    }
    return hi;
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

/* The cheap tests before the mapper proper.  True when rgb (luminance *y)
 * needs gamut_map_exact or gamut_lanes; otherwise rgb is final: black,
 * white, inside the base cube, or (soft knee) so near grey that its chroma
 * stays below the knee. */
static inline bool gamut_front(const gm_tonemap_state *s, double rgb[3], double *yout)
{
    double y = s->w_base[0] * rgb[0] + s->w_base[1] * rgb[1] + s->w_base[2] * rgb[2];
    if (!(y > 1e-9)) {
        rgb[0] = rgb[1] = rgb[2] = 0.0;
        return false;
    }
    if (y >= 1.0) {
        rgb[0] = rgb[1] = rgb[2] = 1.0;
        return false;
    }
    if ((!s->soft || (rgb[0] == rgb[1] && rgb[1] == rgb[2])) && inside(rgb))
        return false;
    if (s->soft) {
        /* how far along the line from the grey of equal luminance can the
         * pixel move before leaving the cube?  Three times its distance or
         * more keeps its Oklab chroma below the knee. */
        double reach = INFINITY;
        for (int c = 0; c < 3; c++) {
            double d = rgb[c] - y;
            if (d > 0)
                reach = dmin(reach, (1.0 - y) / d);
            else if (d < 0)
                reach = dmin(reach, y / -d);
        }
        if (reach >= 3.0)
            return false;
    }
    *yout = y;
    return true;
}

/* The reference mapper, in double precision to convergence (what
 * gm_tonemap_row_ref uses; gamut_lanes is its fast form). */
static void gamut_map_exact(const gm_tonemap_state *s, double rgb[3], double y)
{
    double lms[3], cr[3];
    gm_mat3_apply(s->base_to_lms, rgb, lms);
    for (int i = 0; i < 3; i++)
        cr[i] = fast_cbrt(lms[i]);
    const double *m2 = s->ok_m2;
    double L0 = m2[0] * cr[0] + m2[1] * cr[1] + m2[2] * cr[2];
    double a = m2[3] * cr[0] + m2[4] * cr[1] + m2[5] * cr[2];
    double b = m2[6] * cr[0] + m2[7] * cr[1] + m2[8] * cr[2];
    double L = dmin(L0, 1.0), C = sqrt(a * a + b * b);
    if (!(C > 1e-4) || L <= 0.0) {
        /* achromatic to far below visibility (Oklab's own white has a, b of
         * order 1e-5): the grey of the same luminance */
        rgb[0] = rgb[1] = rgb[2] = y;
        return;
    }
    /* the ray through the pixel: cbrt(lms) = L0 + C d */
    double d[3] = {(cr[0] - L0) / C, (cr[1] - L0) / C, (cr[2] - L0) / C};
    ray_poly r;
    ray_poly_init(s, L, d, &r);
    double c2;
    if (s->soft) {
        double cmax = ray_boundary(&r, 0.6);   /* Oklab chroma of any RGB gamut here stays below 0.5 */
        if (C <= GAMUT_KNEE * cmax && inside(rgb))
            return;
        c2 = cmax * gamut_compress(C / dmax(cmax, 1e-12));
    } else {
        /* from a gamut no wider than the base, only what lies outside
         * (bright colours whose channels passed 1) is brought to the
         * boundary */
        c2 = ray_boundary(&r, C);
    }
    for (int k = 0; k < 3; k++)
        rgb[k] = GM_CLAMP(cubic(r.p[k], c2), 0.0, 1.0);
}

/* ------------------------------------------------------------------ */
/* The same mapper four pixels at a time, in float (issue 8)           */
/* ------------------------------------------------------------------ */
/* GCC/Clang vector extensions: every lane is computed with the same IEEE
 * float operations whatever the lane count of the machine, and no lane
 * depends on another (a lane stops iterating when it has converged), so a
 * pixel maps to the same bits alone or in a batch, on every machine.  The
 * steps are gamut_map_exact's; the root search stops at float precision
 * (the boundary is found to ~1e-6 in chroma and in RGB, far inside one
 * 8-bit code). */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f vsplat(float x) { return (v4f){x, x, x, x}; }
static inline v4f vsel(v4i m, v4f a, v4f b) { return (v4f)((m & (v4i)a) | (~m & (v4i)b)); }
static inline v4f vmin(v4f a, v4f b) { return vsel(a < b, a, b); }
static inline v4f vmax(v4f a, v4f b) { return vsel(a > b, a, b); }
static inline v4f vabs(v4f a) { return (v4f)((v4i)a & (v4i){INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX}); }
static inline bool vany(v4i m)
{
#ifdef __SSE2__
    return _mm_movemask_ps((__m128)m) != 0;
#else
    return (m[0] | m[1] | m[2] | m[3]) != 0;
#endif
}
static inline v4f vsqrt(v4f a)
{
#ifdef __SSE2__
    return (v4f)_mm_sqrt_ps((__m128)a);
#else
    return (v4f){sqrtf(a[0]), sqrtf(a[1]), sqrtf(a[2]), sqrtf(a[3])};
#endif
}
static inline v4f vcubic(const v4f p[4], v4f m) { return p[0] + m * (p[1] + m * (p[2] + m * p[3])); }

/* Cube root: a third of the exponent from the float's bits (via float, as
 * SSE2 has no integer division), then two Halley steps. */
static inline v4f vcbrt(v4f x)
{
    v4f a = vabs(x);
    v4i u = (v4i)a;
    v4i g = __builtin_convertvector(__builtin_convertvector(u, v4f) * vsplat(1.0f / 3.0f), v4i) +
            (v4i){0x2A555555, 0x2A555555, 0x2A555555, 0x2A555555};
    v4f y = (v4f)g;
    for (int i = 0; i < 2; i++) {
        v4f y3 = y * y * y;
        y = y * ((y3 + a + a) / (y3 + y3 + a));
    }
    y = vsel(a > vsplat(1e-30f), y, vsplat(0.0f));   /* 0 and below float's normal range */
    return (v4f)((v4i)y | ((v4i)x & (v4i){INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN}));
}

/* cubic_root in four lanes: Newton steps kept inside [lo, up].  A lane
 * stops where the channel is within 4e-6 of the bound (the cubic's float
 * rounding is ~1e-6 there; 4e-6 is 1/80 of an 8-bit code at black, where
 * codes are densest) or its bracket is below 2e-6. */
static inline __attribute__((always_inline)) v4f vcubic_root(const v4f p[4], v4f bound, v4f lo, v4f up, v4i active)
{
    const v4f half = vsplat(0.5f), tol = vsplat(2e-6f), gtol = vsplat(5e-7f);
    v4f glo = vcubic(p, lo) - bound, gup = vcubic(p, up) - bound;
    v4f m = vsel(glo != gup, lo + (up - lo) * glo / (glo - gup), half * (lo + up));
    v4i neg_lo = glo < vsplat(0.0f);
    for (int it = 0; it < 40; it++) {
        v4f g = vcubic(p, m) - bound, dg = p[1] + m * (vsplat(2.0f) * p[2] + m * vsplat(3.0f) * p[3]);
        active &= ~(vabs(g) <= gtol);
        if (!vany(active))
            break;
        v4i same = ~((g < vsplat(0.0f)) ^ neg_lo);
        lo = vsel(active & same, m, lo);
        up = vsel(active & ~same, m, up);
        v4i dz = dg == vsplat(0.0f);
        v4f next = vsel(dz, half * (lo + up), m - g / vsel(dz, vsplat(1.0f), dg));
        next = vsel((next >= lo) & (next <= up), next, half * (lo + up));
        v4f step = vabs(next - m);
        m = vsel(active, next, m);
        active &= ~((step <= tol) | (up - lo <= tol));
    }
    return m;
}

/* ray_boundary in four lanes: the largest m in [0, hi] up to which all
 * three channels stay in [0, 1]. */
static inline __attribute__((always_inline)) v4f vray_boundary(const v4f p[3][4], v4f hi, v4i live)
{
    const v4f zero = vsplat(0.0f), one = vsplat(1.0f);
    for (int k = 0; k < 3; k++) {
        const v4f *q = p[k];
        v4i dead = (q[0] < zero) | (q[0] > one);   /* outside already at m = 0 */
        hi = vsel(dead, zero, hi);
        live &= ~dead;
        /* critical points: roots of 3 p3 m^2 + 2 p2 m + p1 */
        v4f qa = vsplat(3.0f) * q[3], qb = vsplat(2.0f) * q[2], qc = q[1];
        v4f disc = qb * qb - vsplat(4.0f) * qa * qc;
        v4i quad = (qa != zero) & (disc > zero);
        v4f sq = vsqrt(vmax(disc, zero));
        v4f qq = vsplat(-0.5f) * (qb + vsel(qb >= zero, sq, -sq));
        v4f t1 = qq / vsel(qa != zero, qa, one);
        v4f t2 = vsel(qq != zero, qc / vsel(qq != zero, qq, one), t1);
        v4f lo1 = vmin(t1, t2), hi1 = vmax(t1, t2);
        /* a derivative linear in m (p3 = 0 exactly) */
        v4i lin = (qa == zero) & (qb != zero);
        v4f tl = -qc / vsel(qb != zero, qb, one);
        v4i has1 = (quad | lin), has2 = quad;
        v4f e1 = vsel(quad, lo1, tl), e2 = hi1;
        v4i ok1 = has1 & (e1 > zero) & (e1 < hi);
        v4i ok2 = has2 & (e2 > zero) & (e2 < hi) & (e2 != e1);
        v4f v1 = vcubic(q, e1), v2 = vcubic(q, e2), vh = vcubic(q, hi);
        v4i o1 = ok1 & ((v1 > one) | (v1 < zero));
        v4i o2 = ~o1 & ok2 & ((v2 > one) | (v2 < zero));
        v4i oh = ~o1 & ~o2 & ((vh > one) | (vh < zero));
        v4i exits = live & (o1 | o2 | oh);
        if (!vany(exits))
            continue;
        v4f prev2 = vsel(ok1, e1, zero), prevh = vsel(ok2, e2, prev2);
        v4f lo = vsel(o1, zero, vsel(o2, prev2, prevh));
        v4f up = vsel(o1, e1, vsel(o2, e2, hi));
        v4f vend = vsel(o1, v1, vsel(o2, v2, vh));
        v4f bound = vsel(vend > one, one, zero);
        hi = vsel(exits, vcubic_root(q, bound, lo, up, exits), hi);
    }
    return hi;
}

static inline void store_clamped(const double v[3], float *out)
{
    for (int c = 0; c < 3; c++)
        out[c] = v[c] >= 0.0 ? (float)dmin(v[c], 1.0) : 0.0f;   /* NaN -> 0 */
}

/* Up to four pixels waiting for the mapper: their colours after the tone
 * curve (gamut_front said they need it) and their luminance. */
typedef struct gamut_queue {
    int n;
    uint32_t pos[4];
    v4f f[3];          /* R, G, B of the four pixels in float */
    v4f yf;            /* their luminance in float */
    double v[4][3];    /* R, G, B in double (kept as they are by the soft knee) */
} gamut_queue;

/* Map the queued pixels: out[i] is pixel i's final value, clamped to
 * [0, 1] as tonemap_pixel stores it. */
static inline __attribute__((always_inline)) void gamut_lanes_body(const gm_tonemap_state *s, const gamut_queue *q,
                                                                   float out[4][3])
{
    v4f rgb[3] = {q->f[0], q->f[1], q->f[2]};
    for (int i = q->n; i < 4; i++)   /* idle lanes: a copy of lane 0 */
        for (int c = 0; c < 3; c++)
            rgb[c][i] = rgb[c][0];
    const float *bl = s->f_base_to_lms, *m2 = s->f_ok_m2, *lb = s->f_lms_to_base;
    v4f cr[3];
    for (int i = 0; i < 3; i++)
        cr[i] = vcbrt(vsplat(bl[3 * i]) * rgb[0] + vsplat(bl[3 * i + 1]) * rgb[1] + vsplat(bl[3 * i + 2]) * rgb[2]);
    v4f L0 = vsplat(m2[0]) * cr[0] + vsplat(m2[1]) * cr[1] + vsplat(m2[2]) * cr[2];
    v4f a = vsplat(m2[3]) * cr[0] + vsplat(m2[4]) * cr[1] + vsplat(m2[5]) * cr[2];
    v4f b = vsplat(m2[6]) * cr[0] + vsplat(m2[7]) * cr[1] + vsplat(m2[8]) * cr[2];
    v4f L = vmin(L0, vsplat(1.0f)), C = vsqrt(a * a + b * b);
    v4i grey = ~(C > vsplat(1e-4f)) | (L <= vsplat(0.0f));
    v4f Cs = vsel(grey, vsplat(1.0f), C);
    /* the ray: cbrt(lms) = L + m d; channel k = sum_j p[k][j] m^j */
    v4f d[3], t1[3], t2[3], t3[3];
    for (int i = 0; i < 3; i++) {
        d[i] = (cr[i] - L0) / Cs;
        t1[i] = vsplat(3.0f) * L * L * d[i];
        t2[i] = vsplat(3.0f) * L * d[i] * d[i];
        t3[i] = d[i] * d[i] * d[i];
    }
    v4f L3 = L * L * L, p[3][4];
    for (int k = 0; k < 3; k++) {
        const float *m = lb + 3 * k;
        p[k][0] = L3 * vsplat(s->f_rowsum[k]);
        p[k][1] = vsplat(m[0]) * t1[0] + vsplat(m[1]) * t1[1] + vsplat(m[2]) * t1[2];
        p[k][2] = vsplat(m[0]) * t2[0] + vsplat(m[1]) * t2[1] + vsplat(m[2]) * t2[2];
        p[k][3] = vsplat(m[0]) * t3[0] + vsplat(m[1]) * t3[1] + vsplat(m[2]) * t3[2];
    }
    v4f c2 = vray_boundary(p, s->soft ? vsplat(0.6f) : C, ~grey);
    int keep = 0;   /* soft knee: lanes left as they are */
    if (s->soft)
        for (int i = 0; i < q->n; i++) {
            double cmax = c2[i], Ci = C[i];
            if (Ci <= GAMUT_KNEE * cmax && inside(q->v[i]))
                keep |= 1 << i;
            c2[i] = (float)(cmax * gamut_compress(Ci / dmax(cmax, 1e-12)));
        }
    /* as store_clamped would store them: the mapped colour, the grey of
     * the same luminance (< 1 here) or the colour kept, in [0, 1] */
    v4i kept = (v4i){-(keep & 1), -(keep >> 1 & 1), -(keep >> 2 & 1), -(keep >> 3 & 1)};
    v4f res[3];
    for (int k = 0; k < 3; k++) {
        v4f r = vsel(grey, q->yf, vsel(kept, rgb[k], vcubic(p[k], c2)));
        res[k] = vmin(vsel(r > vsplat(0.0f), r, vsplat(0.0f)), vsplat(1.0f));
    }
    for (int i = 0; i < q->n; i++)
        for (int c = 0; c < 3; c++)
            out[i][c] = res[c][i];
}

/* The body compiled twice: for any SSE2 machine, and with AVX2's encodings
 * (three-operand forms, fewer copies; no FMA, so the same bits). */
static void gamut_lanes_base(const gm_tonemap_state *s, const gamut_queue *q, float out[4][3])
{
    gamut_lanes_body(s, q, out);
}

#if GM_HAVE_AVX2_TARGET
GM_TARGET_AVX2 static void gamut_lanes_avx2(const gm_tonemap_state *s, const gamut_queue *q, float out[4][3])
{
    gamut_lanes_body(s, q, out);
}
#endif

static void gamut_lanes(const gm_tonemap_state *s, const gamut_queue *q, float out[4][3])
{
#if GM_HAVE_AVX2_TARGET
    if (s->avx2) {
        gamut_lanes_avx2(s, q, out);
        return;
    }
#endif
    gamut_lanes_base(s, q, out);
}

/* Everything before the gamut mapper's own work: v is the pixel in the
 * base primaries, final unless this returns true (then it needs the
 * mapper, with luminance *y). */
static inline __attribute__((always_inline)) bool tonemap_front(const gm_tonemap_state *s, const float *in,
                                                                double v[3], double *y_out, int ref)
{
    v[0] = in[0];
    v[1] = in[1];
    v[2] = in[2];
    if (s->lut) {
        float e[3], o[3];
        gm_mat3_apply(s->m_src_lutin, v, v);
        for (int c = 0; c < 3; c++)
            e[c] = (float)gainmap_from_linear(s->lut_in, s->lut_in == GAINMAP_TRANSFER_LINEAR ? v[c] : fmax(v[c], 0.0));
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
        if (ref || !s->same_primaries)
            gm_mat3_apply(s->m_src_base, v, v);
    }
    /* a matrix whose rows sum to 1 only to rounding must not split a
     * grey into three codes (without a matrix nothing to do: distinct
     * floats differ by far more than 1e-9 of the larger) */
    if (ref || s->lut || !s->same_primaries) {
        double mx = dmax(fabs(v[0]), dmax(fabs(v[1]), fabs(v[2])));
        if (fabs(v[0] - v[1]) <= 1e-9 * mx && fabs(v[1] - v[2]) <= 1e-9 * mx)
            v[0] = v[1] = v[2] = (v[0] + v[1] + v[2]) / 3.0;
    }
    return gamut_front(s, v, y_out);
}

/* One pixel through the reference path (the exact mapper). */
static void tonemap_pixel_ref(const gm_tonemap_state *s, const float *in, float *out)
{
    double v[3], y;
    if (tonemap_front(s, in, v, &y, 1))
        gamut_map_exact(s, v, y);
    store_clamped(v, out);
}

/* One pixel through the fast path: done (false), or queued under pos for
 * gamut_lanes (true; the caller runs the queue when it holds four). */
static inline bool tonemap_pixel_q(const gm_tonemap_state *s, const float *in, float *out, gamut_queue *q,
                                   uint32_t pos)
{
    double v[3], y;
    if (!tonemap_front(s, in, v, &y, 0)) {
        store_clamped(v, out);
        return false;
    }
    int n = q->n++;
    q->pos[n] = pos;
    memcpy(q->v[n], v, sizeof v);
    for (int c = 0; c < 3; c++)
        q->f[c][n] = (float)v[c];
    q->yf[n] = (float)y;
    return true;
}

#ifdef __SSE2__
/* Four pixels at once (issue 8) for the common case: same source and base
 * primaries, no LUT, a curve (not CLIP), HDR white 203 cd/m2 (to_white 1),
 * colours that stay inside the base cube.  The results are tonemap_pixel's
 * bits:
 *  - the luminance y is a double, computed as there (two pixels per
 *    register, the same operations in the same order; SSE2 has no FMA);
 *  - the ratio comes from the float-bit table as curve_ratio_fast computes
 *    it in float: entry + f * difference, one pair of s->rt per load;
 *  - there each channel is scaled in double, v * ratio, then rounded to
 *    float: the product of two floats is exact in double, so that is the
 *    float product v * ratio here;
 *  - gamut_map leaves a pixel alone when its scaled luminance y2 lies in
 *    (1e-9, 1) and each channel in [-1e-7, 1 + 1e-7].  Here y * ratio
 *    stands in for y2: with channels >= 0 the two differ by a few units
 *    of 2^-53 relative, so a margin of 1e-12 decides as y2 would; pixels
 *    within the margin go to the scalar path.  A channel passes when its
 *    float lies in [+0, 1] (sign bit clear), which implies the double
 *    test; the few in between take the scalar path too.
 * The mask returned has bit j set for each pixel j done here; the others
 * (black, at or above the peak, outside the cube, negative, NaN) must be
 * computed by tonemap_pixel. */
typedef struct tm_simd {
    __m128d w0, w1, w2, ylo, P, y2lo, y2hi;
    __m128 rt_lo, rt_top, fscale, one;
    __m128i base, fmask;
} tm_simd;

static void tm_simd_init(const gm_tonemap_state *s, tm_simd *k)
{
    k->w0 = _mm_set1_pd(s->w_src[0]);
    k->w1 = _mm_set1_pd(s->w_src[1]);
    k->w2 = _mm_set1_pd(s->w_src[2]);
    k->ylo = _mm_set1_pd(1e-12);
    k->P = _mm_set1_pd(s->P);
    k->y2lo = _mm_set1_pd(1e-9 * (1.0 + 1e-12));
    k->y2hi = _mm_set1_pd(1.0 - 1e-12);
    k->rt_lo = _mm_set1_ps(s->rt_lo);
    k->rt_top = _mm_set1_ps(s->rt_top);
    k->fscale = _mm_set1_ps(1.0f / (float)(1u << RT_SHIFT));
    k->one = _mm_set1_ps(1.0f);
    k->base = _mm_set1_epi32((int)RT_BASE);
    k->fmask = _mm_set1_epi32((int)((1u << RT_SHIFT) - 1));
}

/* the float lanes 0-1 and 2-3 as doubles; two double masks as one float mask */
static inline __m128d lo_pd(__m128 v) { return _mm_cvtps_pd(v); }
static inline __m128d hi_pd(__m128 v) { return _mm_cvtps_pd(_mm_castsi128_ps(_mm_shuffle_epi32(_mm_castps_si128(v), 0xEE))); }
static inline __m128 join_mask(__m128d lo, __m128d hi)
{
    return _mm_shuffle_ps(_mm_castpd_ps(lo), _mm_castpd_ps(hi), _MM_SHUFFLE(2, 0, 2, 0));
}

static inline int tm_simd4(const gm_tonemap_state *s, const tm_simd *k, __m128 *r, __m128 *g, __m128 *b)
{
    /* y = w0 r + w1 g + w2 b in double, in that order */
    __m128d yl = _mm_add_pd(_mm_add_pd(_mm_mul_pd(k->w0, lo_pd(*r)), _mm_mul_pd(k->w1, lo_pd(*g))),
                            _mm_mul_pd(k->w2, lo_pd(*b)));
    __m128d yh = _mm_add_pd(_mm_add_pd(_mm_mul_pd(k->w0, hi_pd(*r)), _mm_mul_pd(k->w1, hi_pd(*g))),
                            _mm_mul_pd(k->w2, hi_pd(*b)));
    /* curve_ratio_fast's table branch: y > 1e-12, x = y < P, rt_lo < (float)x < rt_top */
    __m128 ok = join_mask(_mm_and_pd(_mm_cmpgt_pd(yl, k->ylo), _mm_cmplt_pd(yl, k->P)),
                          _mm_and_pd(_mm_cmpgt_pd(yh, k->ylo), _mm_cmplt_pd(yh, k->P)));
    __m128 x = _mm_movelh_ps(_mm_cvtpd_ps(yl), _mm_cvtpd_ps(yh));
    ok = _mm_and_ps(ok, _mm_and_ps(_mm_cmpgt_ps(x, k->rt_lo), _mm_cmplt_ps(x, k->rt_top)));
    if (!_mm_movemask_ps(ok))
        return 0;
    /* index and fraction from the float's bits; lanes that failed read entry 0 */
    __m128i u = _mm_castps_si128(x);
    __m128i idx = _mm_and_si128(_mm_sub_epi32(_mm_srli_epi32(u, RT_SHIFT), k->base), _mm_castps_si128(ok));
    __m128 f = _mm_mul_ps(_mm_cvtepi32_ps(_mm_and_si128(u, k->fmask)), k->fscale);
    uint32_t ix[4];
    _mm_storeu_si128((__m128i *)(void *)ix, idx);
    const double *t = (const double *)(const void *)s->rt;   /* one pair per load */
    __m128 p01 = _mm_unpacklo_ps(_mm_castpd_ps(_mm_load_sd(t + ix[0])), _mm_castpd_ps(_mm_load_sd(t + ix[1])));
    __m128 p23 = _mm_unpacklo_ps(_mm_castpd_ps(_mm_load_sd(t + ix[2])), _mm_castpd_ps(_mm_load_sd(t + ix[3])));
    /* p01 = {a0, a1, d0, d1}, p23 = {a2, a3, d2, d3} */
    __m128 ratio = _mm_add_ps(_mm_movelh_ps(p01, p23), _mm_mul_ps(f, _mm_movehl_ps(p23, p01)));
    *r = _mm_mul_ps(*r, ratio);
    *g = _mm_mul_ps(*g, ratio);
    *b = _mm_mul_ps(*b, ratio);
    /* gamut_map's luminance test, 1e-9 < y2 < 1, with the margin */
    __m128d y2l = _mm_mul_pd(yl, lo_pd(ratio)), y2h = _mm_mul_pd(yh, hi_pd(ratio));
    ok = _mm_and_ps(ok, join_mask(_mm_and_pd(_mm_cmpgt_pd(y2l, k->y2lo), _mm_cmplt_pd(y2l, k->y2hi)),
                                  _mm_and_pd(_mm_cmpgt_pd(y2h, k->y2lo), _mm_cmplt_pd(y2h, k->y2hi))));
    /* inside the cube: no sign bit set, the largest <= 1 (NaN cannot reach
     * here: y would have been NaN) */
    __m128 mx = _mm_max_ps(*r, _mm_max_ps(*g, *b));
    ok = _mm_and_ps(ok, _mm_cmple_ps(mx, k->one));
    return _mm_movemask_ps(ok) & ~_mm_movemask_ps(_mm_or_ps(*r, _mm_or_ps(*g, *b)));
}

/* 12 floats r0 g0 b0 r1 | g1 b1 r2 g2 | b2 r3 g3 b3 <-> three registers of 4 */
static inline void load_soa(const float *p, __m128 *r, __m128 *g, __m128 *b)
{
    __m128 a = _mm_loadu_ps(p), c = _mm_loadu_ps(p + 4), e = _mm_loadu_ps(p + 8);
    __m128 t0 = _mm_shuffle_ps(c, e, _MM_SHUFFLE(0, 1, 0, 2));   /* r2 . r3 . */
    *r = _mm_shuffle_ps(a, t0, _MM_SHUFFLE(2, 0, 3, 0));         /* r0 r1 r2 r3 */
    __m128 t1 = _mm_shuffle_ps(a, c, _MM_SHUFFLE(0, 0, 0, 1));   /* g0 . g1 . */
    __m128 t2 = _mm_shuffle_ps(c, e, _MM_SHUFFLE(0, 2, 0, 3));   /* g2 . g3 . */
    *g = _mm_shuffle_ps(t1, t2, _MM_SHUFFLE(2, 0, 2, 0));
    __m128 t3 = _mm_shuffle_ps(a, c, _MM_SHUFFLE(0, 1, 0, 2));   /* b0 . b1 . */
    __m128 t4 = _mm_shuffle_ps(e, e, _MM_SHUFFLE(0, 3, 0, 0));   /* b2 . b3 . */
    *b = _mm_shuffle_ps(t3, t4, _MM_SHUFFLE(2, 0, 2, 0));
}

static inline void soa_to_aos(__m128 r, __m128 g, __m128 b, __m128 a[3])
{
    __m128 lo = _mm_unpacklo_ps(r, g), hi = _mm_unpackhi_ps(r, g);   /* r0 g0 r1 g1 | r2 g2 r3 g3 */
    __m128 t = _mm_shuffle_ps(b, r, _MM_SHUFFLE(0, 1, 0, 0));         /* b0 . r1 . */
    a[0] = _mm_shuffle_ps(lo, t, _MM_SHUFFLE(2, 0, 1, 0));            /* r0 g0 b0 r1 */
    __m128 t1 = _mm_shuffle_ps(lo, b, _MM_SHUFFLE(0, 1, 0, 3));       /* g1 . b1 . */
    a[1] = _mm_shuffle_ps(t1, hi, _MM_SHUFFLE(1, 0, 2, 0));           /* g1 b1 r2 g2 */
    __m128 t2 = _mm_shuffle_ps(b, hi, _MM_SHUFFLE(3, 2, 3, 2));       /* b2 b3 r3 g3 */
    a[2] = _mm_shuffle_ps(t2, t2, _MM_SHUFFLE(1, 3, 2, 0));           /* b2 r3 g3 b3 */
}

static inline void store_aos(float *p, __m128 r, __m128 g, __m128 b)
{
    __m128 a[3];
    soa_to_aos(r, g, b, a);
    _mm_storeu_ps(p, a[0]);
    _mm_storeu_ps(p + 4, a[1]);
    _mm_storeu_ps(p + 8, a[2]);
}
#endif


/* the pixels the SIMD path leaves, out of line (they are the rare ones) */
static __attribute__((noinline)) bool tonemap_pixel_fast(const gm_tonemap_state *s, const float *in, float *out,
                                                         gamut_queue *q, uint32_t pos)
{
    return tonemap_pixel_q(s, in, out, q, pos);
}

/* Run the queue of a float row: pixel pos at out + 3 pos. */
static void queue_to_row(const gm_tonemap_state *s, gamut_queue *q, float *out)
{
    float r[4][3];
    gamut_lanes(s, q, r);
    for (int i = 0; i < q->n; i++)
        memcpy(out + 3 * (size_t)q->pos[i], r[i], sizeof r[i]);
    q->n = 0;
}

/* Pixel indices of a row fit the queue's uint32_t (gm_check_dims). */
void gm_tonemap_row(const gm_tonemap_state *s, const float *in, float *out, size_t n)
{
    size_t i = 0;
    gamut_queue q = {0};
#ifdef __SSE2__
    if (s->simd) {
        tm_simd k;
        tm_simd_init(s, &k);
        for (; i + 4 <= n; i += 4) {
            __m128 r, g, b;
            load_soa(in + 3 * i, &r, &g, &b);
            int ok = tm_simd4(s, &k, &r, &g, &b);
            if (ok == 15) {
                store_aos(out + 3 * i, r, g, b);
                continue;
            }
            float src[12];   /* in may be out */
            memcpy(src, in + 3 * i, sizeof src);
            store_aos(out + 3 * i, r, g, b);
            for (int j = 0; j < 4; j++)
                if (!(ok >> j & 1) &&
                    tonemap_pixel_fast(s, src + 3 * j, out + 3 * (i + (size_t)j), &q, (uint32_t)(i + (size_t)j)) &&
                    q.n == 4)
                    queue_to_row(s, &q, out);
        }
    }
#endif
    for (; i < n; i++)
        if (tonemap_pixel_q(s, in + 3 * i, out + 3 * i, &q, (uint32_t)i) && q.n == 4)
            queue_to_row(s, &q, out);
    if (q.n)
        queue_to_row(s, &q, out);
}

void gm_tonemap_row_scalar(const gm_tonemap_state *s, const float *in, float *out, size_t n)
{
    gamut_queue q = {0};
    for (size_t i = 0; i < n; i++)
        if (tonemap_pixel_q(s, in + 3 * i, out + 3 * i, &q, (uint32_t)i) && q.n == 4)
            queue_to_row(s, &q, out);
    if (q.n)
        queue_to_row(s, &q, out);
}

void gm_tonemap_row_ref(const gm_tonemap_state *s, const float *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tonemap_pixel_ref(s, in + 3 * i, out + 3 * i);
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
        if (s->src_tf == GAINMAP_TRANSFER_HLG)
            gm_hlg_scene_to_linear(v);   /* BT.2100's BT.2020 weights, as the gain map and the decoder */
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
/* The bin, floor((log2(nits) - LO) / (HI - LO) * BINS), without log2
 * (issue 8): the double's exponent and top HB_BITS mantissa bits pick a
 * sub-octave slice, shorter than a bin, so at most one bin edge lies in it;
 * one comparison with that edge finishes. */
#define HB_BITS 7
#define HB_SHIFT (52 - HB_BITS)
#define HB_OCTAVES 26
typedef struct hist_bins {
    uint16_t first[HB_OCTAVES << HB_BITS];   /* bin at the start of each slice */
    double edge[HIST_BINS + 1];              /* nits where bin i starts */
} hist_bins;

static void hist_bins_init(hist_bins *h)
{
    for (int i = 0; i <= HIST_BINS; i++)
        h->edge[i] = exp2(HIST_LO + i * (HIST_HI - HIST_LO) / HIST_BINS);
    for (int i = 0; i < (HB_OCTAVES << HB_BITS); i++) {
        double x = ldexp(1.0 + (double)(i & ((1 << HB_BITS) - 1)) / (1 << HB_BITS), (i >> HB_BITS) + (int)HIST_LO);
        double b = floor((log2(x) - HIST_LO) / (HIST_HI - HIST_LO) * HIST_BINS);
        h->first[i] = (uint16_t)GM_CLAMP(b, 0.0, HIST_BINS - 1.0);
    }
}

static inline int hist_bin(const hist_bins *h, double nits)
{
    if (!(nits >= h->edge[0]))
        return 0;
    if (nits >= h->edge[HIST_BINS])
        return HIST_BINS - 1;
    uint64_t u;
    memcpy(&u, &nits, sizeof u);
    uint64_t i = (u >> HB_SHIFT) - ((uint64_t)(1023 + (int)HIST_LO) << HB_BITS);
    int b = h->first[i];
    return b + 1 < HIST_BINS && nits >= h->edge[b + 1] ? b + 1 : b;
}

static gainmap_status percentile_peak(gainmap_ctx *ctx, const gm_tonemap_state *s, const gainmap_image *img,
                                      double *peak)
{
    uint32_t step = 1;
    while ((uint64_t)(img->width / step) * (img->height / step) > (1u << 20))
        step++;
    /* a 3-channel integer master: only the sampled pixels are decoded */
    bool direct = img->channels == 3 && s->src_tf != GAINMAP_TRANSFER_HLG && s->in_table;
    float *row = direct ? NULL : gm_malloc(ctx, (size_t)img->width * 3 * sizeof *row);
    uint32_t *hist = gm_calloc(ctx, HIST_BINS, sizeof *hist);
    hist_bins *hb = gm_malloc(ctx, sizeof *hb);
    if ((!direct && !row) || !hist || !hb) {
        free(row);
        free(hist);
        free(hb);
        return GAINMAP_ERR_NOMEM;
    }
    hist_bins_init(hb);
    uint64_t total = 0;
    const float *t = s->in_table;
    for (uint32_t y = step / 2; y < img->height; y += step) {
        const uint8_t *src = (const uint8_t *)img->data + (size_t)y * img->stride;
        if (!direct)
            gm_tonemap_decode_row(s, img, y, row);
        for (uint32_t x = step / 2; x < img->width; x += step) {
            float p[3];
            if (!direct)
                memcpy(p, row + 3 * (size_t)x, sizeof p);
            else if (img->type == GAINMAP_PIXEL_U16)
                for (int c = 0; c < 3; c++)
                    p[c] = t[((const uint16_t *)(const void *)src)[3 * (size_t)x + c]];
            else
                for (int c = 0; c < 3; c++)
                    p[c] = t[src[3 * (size_t)x + c]];
            double nits = (s->w_src[0] * p[0] + s->w_src[1] * p[1] + s->w_src[2] * p[2]) * GM_SDR_WHITE_NITS;
            if (!(nits > 0.0))
                continue;   /* black (and NaN) says nothing about the peak */
            hist[hist_bin(hb, nits)]++;
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
    free(hb);
    return GAINMAP_OK;
}

/* The base in the master's own primaries where that is an SDR gamut: a
 * BT.709 master gets an sRGB base, a P3 master a P3 base.  Decoding
 * converts the HDR result from the base's primaries to the master's, and
 * from a wider gamut to a narrower one that conversion subtracts large
 * terms: the BT.709 green 10000/100 cd/m2 rings of BrightRings have P3
 * red and blue dominated by the green, so a map code's 0.027 stop on them
 * comes back as 40 % on BT.709 red (33.0 dB with a P3 base, 50.1 dB with
 * an sRGB one; issue 5).  A BT.2020 master gets a P3 base (narrower to
 * wider: no such loss) unless it holds colours P3 cannot show: more than
 * 1 % of the (sampled, not black) pixels outside P3 by more than 1/64 of
 * their largest component.  Such colours would be gamut-mapped in a P3
 * base, and a map applied in the base's primaries cannot bring them back
 * (their P3 components are negative); a BT.2020 base keeps them (the
 * libavif BT.2020 chart, 47 % outside P3: 29.1 dB with a P3 base, 51.3 dB
 * with a BT.2020 one). */
#define AUTO_MIN_LIGHT (1.0 / 256)   /* 0.8 cd/m2: darker pixels do not count */
#define AUTO_MARGIN (1.0 / 64)
#define AUTO_SHARE 100               /* 1 pixel in AUTO_SHARE */
gainmap_status gainmap_auto_base_primaries(gainmap_ctx *ctx, const gainmap_image *hdr, gainmap_primaries *out)
{
    if (!out)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gainmap_auto_base_primaries needs an output pointer");
    *out = GAINMAP_PRIMARIES_P3;
    gainmap_status st = check_image(ctx, hdr);
    if (st != GAINMAP_OK)
        return st;
    gainmap_primaries src = gm_image_primaries(hdr);
    if (src == GAINMAP_PRIMARIES_BT709)
        *out = GAINMAP_PRIMARIES_BT709;
    if (src != GAINMAP_PRIMARIES_BT2020)
        return GAINMAP_OK;
    gm_linear lin;
    if ((st = gm_linear_init(ctx, &lin, hdr, GAINMAP_PRIMARIES_P3)) != GAINMAP_OK)
        return st;
    float *row = gm_malloc(ctx, (size_t)hdr->width * 3 * sizeof *row);
    if (!row) {
        gm_linear_free(&lin);
        return GAINMAP_ERR_NOMEM;
    }
    uint32_t step = 1;
    while ((uint64_t)(hdr->width / step) * (hdr->height / step) > (1u << 20))
        step++;
    uint64_t lit = 0, outside = 0;
    for (uint32_t y = step / 2; y < hdr->height; y += step) {
        gm_linear_row(&lin, y, row);
        for (uint32_t x = step / 2; x < hdr->width; x += step) {
            const float *p = row + 3 * (size_t)x;
            float hi = fmaxf(p[0], fmaxf(p[1], p[2])), lo = fminf(p[0], fminf(p[1], p[2]));
            if (!(hi > AUTO_MIN_LIGHT))
                continue;
            lit++;
            outside += lo < -AUTO_MARGIN * hi;
        }
    }
    free(row);
    gm_linear_free(&lin);
    if (outside * AUTO_SHARE > lit)
        *out = GAINMAP_PRIMARIES_BT2020;
    return GAINMAP_OK;
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
    double white = opts->hdr_white_nits > 0.0 ? opts->hdr_white_nits : GM_SDR_WHITE_NITS;
    if (!(white >= 1.0 && white <= GM_PQ_PEAK_NITS))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HDR reference white %g cd/m2 is outside 1..10000", white);
    if (!(opts->peak_nits >= 0.0 && opts->peak_nits <= GM_PQ_PEAK_NITS))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "peak %g cd/m2 is outside 0..10000", opts->peak_nits);
    gainmap_primaries base = opts->base_primaries;
    if (!base && (st = gainmap_auto_base_primaries(ctx, hdr, &base)) != GAINMAP_OK)
        return st;
    gainmap_transfer src_tf = gm_image_transfer(hdr);
    gainmap_primaries src = gm_image_primaries(hdr);

    gm_tonemap_state *s = gm_calloc(ctx, 1, sizeof *s);
    if (!s)
        return GAINMAP_ERR_NOMEM;
    s->method = opts->method == GAINMAP_TONEMAP_DEFAULT ? GAINMAP_TONEMAP_BT2390 : opts->method;
    s->white = white;
    s->to_white = GM_SDR_WHITE_NITS / white;
    s->src = src;
    s->base = base;
    s->src_tf = src_tf;
    if (gainmap_luma_weights(src, s->w_src) != 0 || gainmap_luma_weights(base, s->w_base) != 0 ||
        gainmap_gamut_matrix(src, base, s->m_src_base) != 0 || gm_oklab_matrix(base, s->base_to_lms) != 0 ||
        gm_mat3_invert(s->base_to_lms, s->lms_to_base) != 0) {
        free(s);
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "unknown primaries for tone mapping");
    }
    if (src == base) {
        /* exactly (the matrix product may carry 1e-16 off the diagonal) */
        static const double id[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
        memcpy(s->m_src_base, id, sizeof id);
        s->same_primaries = 1;
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

    /* Oklab's M2 as the exact inverse of the cbrt(LMS) matrix the rays use */
    double m2inv[9];
    for (int j = 0; j < 3; j++) {
        double lab[3] = {j == 0, j == 1, j == 2}, col[3];
        gm_oklab_to_lms_cbrt(lab, col);
        for (int i = 0; i < 3; i++)
            m2inv[3 * i + j] = col[i];
    }
    if (gm_mat3_invert(m2inv, s->ok_m2) != 0) {
        gm_tonemap_free(s);
        return gm_error(ctx, GAINMAP_ERR_STATE, "the Oklab matrix cannot be inverted");
    }
    for (int i = 0; i < 9; i++) {
        s->f_base_to_lms[i] = (float)s->base_to_lms[i];
        s->f_lms_to_base[i] = (float)s->lms_to_base[i];
        s->f_ok_m2[i] = (float)s->ok_m2[i];
    }
    for (int k = 0; k < 3; k++)
        s->f_rowsum[k] = (float)(s->lms_to_base[3 * k] + s->lms_to_base[3 * k + 1] + s->lms_to_base[3 * k + 2]);

    double peak = opts->peak_nits;
    if (!(peak > 0.0) && hdr->max_cll > 0.0)
        peak = hdr->max_cll;
    if (!(peak > 0.0) && (st = percentile_peak(ctx, s, hdr, &peak)) != GAINMAP_OK) {
        gm_tonemap_free(s);
        return st;
    }
    s->peak = GM_CLAMP(peak, white, GM_PQ_PEAK_NITS);
    s->P = s->peak / white;

    s->step = (log2(fmax(s->P, 1.0)) + 0.5 - CURVE_LO) / (CURVE_N - 1);
    for (int i = 0; i < CURVE_N; i++) {
        double x = exp2(CURVE_LO + i * s->step);
        s->ratio[i] = (float)(curve_eval(s, x) / x);
    }
    /* Up to the octave holding the peak: above it every curve is 1. */
    int octaves = (int)ceil(log2(fmax(s->P, 1.0))) + 1 - (int)CURVE_LO;
    size_t nrt = (size_t)octaves * RT_PER_OCTAVE + 1;
    if (!(s->rt = gm_malloc(ctx, 2 * nrt * sizeof *s->rt))) {
        gm_tonemap_free(s);
        return GAINMAP_ERR_NOMEM;
    }
    for (size_t i = 0; i < nrt; i++) {
        double x = ldexp(1.0 + (double)(i % RT_PER_OCTAVE) / RT_PER_OCTAVE, (int)(i / RT_PER_OCTAVE) + (int)CURVE_LO);
        s->rt[2 * i] = (float)(curve_eval(s, x) / x);
    }
    for (size_t i = 0; i + 1 < nrt; i++)
        s->rt[2 * i + 1] = s->rt[2 * i + 2] - s->rt[2 * i];
    s->rt[2 * (nrt - 1) + 1] = 0.0f;
    s->avx2 = gm_cpu_avx2();
    s->simd = s->same_primaries && !s->soft && !s->lut && s->method != GAINMAP_TONEMAP_CLIP && s->to_white == 1.0;
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
    opts->hdr_white_nits = GM_SDR_WHITE_NITS;
    opts->peak_nits = 0.0;
    opts->base_primaries = GAINMAP_PRIMARIES_UNKNOWN;   /* auto */
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
    uint32_t rows_avx2;        /* rows made by tm_row_avx2 (atomic) */
} tm_job;

/* The 8-bit code of one sample from its table index (see tm_strip).  enc
 * holds values in [0, 255] and the threshold d is at most 63.5 / 64, so the
 * float sum stays below 256 (ulp 2^-16 there) and truncates to 0..255
 * without a clamp. */
static inline uint8_t enc_code(const float *enc, uint32_t idx, float d) { return (uint8_t)(int)(enc[idx] + d); }

/* sqrt(linear) table index, the same in the scalar and SSE2 forms */
static inline uint32_t enc_index(float v) { return (uint32_t)(int32_t)(sqrtf(v) * (ENC_N - 1) + 0.5f); }

#ifdef __SSE2__
static inline __m128i enc_index4(__m128 v)
{
    /* sqrtf's errno path keeps compilers from vectorising the scalar form */
    return _mm_cvttps_epi32(_mm_add_ps(_mm_mul_ps(_mm_sqrt_ps(v), _mm_set1_ps((float)(ENC_N - 1))), _mm_set1_ps(0.5f)));
}

/* Run the queue of an 8-bit row: pixel pos at o + 3 pos. */
static void queue_to_codes(const gm_tonemap_state *s, gamut_queue *q, const float *enc, const float dr[8], uint8_t *o)
{
    float r[4][3];
    gamut_lanes(s, q, r);
    for (int i = 0; i < q->n; i++)
        for (int c = 0; c < 3; c++)
            o[3 * (size_t)q->pos[i] + (size_t)c] = enc_code(enc, enc_index(r[i][c]), dr[q->pos[i] & 7]);
    q->n = 0;
}

/* One row of the fused path (below) and where it stands. */
typedef struct tm_fused_row {
    const gm_tonemap_state *s;
    const float *t, *enc, *dr;
    const uint8_t *src;        /* the row's samples: U8 */
    const uint16_t *s16;       /* or U16 */
    bool u16;
    uint8_t *o;                /* the row's codes */
    gamut_queue q;
} tm_fused_row;

/* Pixel x through tonemap_pixel: its codes now, or when the queue runs. */
static void fused_pixel(tm_fused_row *f, uint32_t x)
{
    float in[3], out[3];
    size_t p = 3 * (size_t)x;
    for (int c = 0; c < 3; c++)
        in[c] = f->t[f->u16 ? f->s16[p + (size_t)c] : f->src[p + (size_t)c]];
    if (tonemap_pixel_fast(f->s, in, out, &f->q, x)) {
        if (f->q.n == 4)
            queue_to_codes(f->s, &f->q, f->enc, f->dr, f->o);
        return;
    }
    for (int c = 0; c < 3; c++)
        f->o[p + (size_t)c] = enc_code(f->enc, enc_index(out[c]), f->dr[x & 7]);
}

#if GM_HAVE_AVX2_TARGET
/* tm_simd4 and the code step of tm_row_fused eight pixels at a time with
 * AVX2 (issue 8): the same float and double operations in the same order
 * (no FMA), so the bytes are the SSE2 path's on every machine.
 *  - The samples come in with plain loads that stay inside the group's 24
 *    samples, and byte shuffles split them into R, G and B.  (Gathers at
 *    odd offsets were slower than the whole SSE2 loop on AMD Zen 5.)
 *  - The input table, the ratio pairs (entry, difference: one 64-bit
 *    element each) and the encoding table are gathered, eight lanes at a
 *    time.
 *  - The lanes stay in pixel order (R, G and B in separate registers), so
 *    pixel x + i (x % 8 = 0) adds threshold dr[i] to each channel; the
 *    codes are packed to R G B 0 per pixel, then to 24 bytes.
 *  - The ok mask is tm_simd4's, tested in another order: the table range
 *    in float first (it keeps the ratio gathers inside the table; lanes
 *    outside it read entry 0), the luminance in double, then the cube.
 *    Lanes outside it get placeholder codes (index 0) and then go through
 *    fused_pixel, in x order, after their group's codes are stored.
 *  - A row goes in chunks of up to 8 groups, in three passes (samples to
 *    linear, linear to table indices, indices to codes): each group is a
 *    chain of three dependent table lookups, and a pass over several
 *    groups keeps the lookups of several of them in flight (issued one
 *    group after the other, the loop was no faster than SSE2's).
 * Returns where the row's rest starts (a multiple of 8). */
GM_TARGET_AVX2 static inline __m256 avx2_join_mask(__m256d lo, __m256d hi)
{
    /* {lo0 lo1 hi0 hi1 | lo2 lo3 hi2 hi3} as 64-bit pairs, then in order */
    __m256 t = _mm256_shuffle_ps(_mm256_castpd_ps(lo), _mm256_castpd_ps(hi), _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

GM_TARGET_AVX2 static inline __m256d avx2_lo_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
GM_TARGET_AVX2 static inline __m256d avx2_hi_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }

/* tm_simd's double constants */
typedef struct avx2_lum_k {
    __m256d w[3], ylo, P, y2lo, y2hi;
} avx2_lum_k;

GM_TARGET_AVX2 static inline __m256d avx2_lum(const avx2_lum_k *k, __m256d r, __m256d g, __m256d b)
{
    __m256d rg = _mm256_add_pd(_mm256_mul_pd(k->w[0], r), _mm256_mul_pd(k->w[1], g));
    return _mm256_add_pd(rg, _mm256_mul_pd(k->w[2], b));
}

/* ylo < y < P and y2lo < y2 < y2hi */
GM_TARGET_AVX2 static inline __m256d avx2_lum_ok(const avx2_lum_k *k, __m256d y, __m256d y2)
{
    __m256d a = _mm256_and_pd(_mm256_cmp_pd(y, k->ylo, _CMP_GT_OQ), _mm256_cmp_pd(y, k->P, _CMP_LT_OQ));
    __m256d b = _mm256_and_pd(_mm256_cmp_pd(y2, k->y2lo, _CMP_GT_OQ), _mm256_cmp_pd(y2, k->y2hi, _CMP_LT_OQ));
    return _mm256_and_pd(a, b);
}

/* the rt pairs (entry, difference) of the four indices in the low half */
GM_TARGET_AVX2 static inline __m256 avx2_pairs(const float *rt, __m256i idx)
{
    return _mm256_castpd_ps(_mm256_i32gather_pd((const double *)(const void *)rt, _mm256_castsi256_si128(idx), 8));
}

/* enc_index in eight lanes */
GM_TARGET_AVX2 static inline __m256i avx2_enc_index(__m256 v)
{
    return _mm256_cvttps_epi32(
        _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(v), _mm256_set1_ps((float)(ENC_N - 1))), _mm256_set1_ps(0.5f)));
}

GM_TARGET_AVX2 static uint32_t tm_row_avx2(tm_fused_row *f, uint32_t w)
{
    const gm_tonemap_state *s = f->s;
    const float *t = f->t, *enc = f->enc;
    const avx2_lum_k lk = {{_mm256_set1_pd(s->w_src[0]), _mm256_set1_pd(s->w_src[1]), _mm256_set1_pd(s->w_src[2])},
                          _mm256_set1_pd(1e-12), _mm256_set1_pd(s->P), _mm256_set1_pd(1e-9 * (1.0 + 1e-12)),
                          _mm256_set1_pd(1.0 - 1e-12)};
    const __m256 rt_lo = _mm256_set1_ps(s->rt_lo), rt_top = _mm256_set1_ps(s->rt_top),
                 fscale = _mm256_set1_ps(1.0f / (float)(1u << RT_SHIFT)), one = _mm256_set1_ps(1.0f),
                 d8 = _mm256_loadu_ps(f->dr);
    const __m256i base = _mm256_set1_epi32((int)RT_BASE), fmask = _mm256_set1_epi32((int)((1u << RT_SHIFT) - 1));
    /* U16: a = samples 0-7 | 12-19 of the group, c = samples 4-11 | 16-23
     * (pixels 0-3 and 4-7 alike); R = r0 r1 r2 from a | r3 from c,
     * G = g0 g1 | g2 g3, B = b0 b1 | b2 b3.  S(i): sample i of the half
     * to a 32-bit lane, -1: none */
#define S(i) (i) < 0 ? -1 : 2 * (i), (i) < 0 ? -1 : 2 * (i) + 1, -1, -1
#define W16(a, b, c, d) _mm256_setr_epi8(S(a), S(b), S(c), S(d), S(a), S(b), S(c), S(d))
    const __m256i w_r[2] = {W16(0, 3, 6, -1), W16(-1, -1, -1, 5)}, w_g[2] = {W16(1, 4, -1, -1), W16(-1, -1, 3, 6)},
                  w_b[2] = {W16(2, 5, -1, -1), W16(-1, -1, 4, 7)};
#undef W16
#undef S
    /* U8: pixels 0-3 from bytes 0-11 of the low half, 4-7 from bytes 4-15
     * of the high half (bytes 8-23 of the group) */
#define W8(a, b)                                                                                                       \
    _mm256_setr_epi8(a, -1, -1, -1, a + 3, -1, -1, -1, a + 6, -1, -1, -1, a + 9, -1, -1, -1, b, -1, -1, -1, b + 3, -1, \
                     -1, -1, b + 6, -1, -1, -1, b + 9, -1, -1, -1)
    const __m256i sh_r = W8(0, 4), sh_g = W8(1, 5), sh_b = W8(2, 6);
#undef W8
    /* R G B 0 per pixel -> 12 bytes per half, then 24 in a row */
    const __m256i pack = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0, 1, 2, 4, 5, 6, 8,
                                          9, 10, 12, 13, 14, -1, -1, -1, -1),
                  perm = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
    enum { CHUNK = 8 };
    __m256 rgb[CHUNK][3];
    __m256i ei[CHUNK][3];
    unsigned okb[CHUNK];
    uint32_t x = 0;
    while (x + 8 <= w) {
        uint32_t n = GM_MIN((w - x) / 8, (uint32_t)CHUNK);
        for (uint32_t k = 0; k < n; k++) {
            size_t p = 3 * (size_t)(x + 8 * k);
            __m256i ir, ig, ib;
            if (f->u16) {
                const uint16_t *g16 = f->s16 + p;
                __m256i a = _mm256_inserti128_si256(
                    _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)g16)),
                    _mm_loadu_si128((const __m128i *)(const void *)(g16 + 12)), 1);
                __m256i c = _mm256_inserti128_si256(
                    _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(g16 + 4))),
                    _mm_loadu_si128((const __m128i *)(const void *)(g16 + 16)), 1);
                ir = _mm256_or_si256(_mm256_shuffle_epi8(a, w_r[0]), _mm256_shuffle_epi8(c, w_r[1]));
                ig = _mm256_or_si256(_mm256_shuffle_epi8(a, w_g[0]), _mm256_shuffle_epi8(c, w_g[1]));
                ib = _mm256_or_si256(_mm256_shuffle_epi8(a, w_b[0]), _mm256_shuffle_epi8(c, w_b[1]));
            } else {
                __m256i v = _mm256_inserti128_si256(
                    _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(f->src + p))),
                    _mm_loadu_si128((const __m128i *)(const void *)(f->src + p + 8)), 1);
                ir = _mm256_shuffle_epi8(v, sh_r);
                ig = _mm256_shuffle_epi8(v, sh_g);
                ib = _mm256_shuffle_epi8(v, sh_b);
            }
            rgb[k][0] = _mm256_i32gather_ps(t, ir, 4);
            rgb[k][1] = _mm256_i32gather_ps(t, ig, 4);
            rgb[k][2] = _mm256_i32gather_ps(t, ib, 4);
        }
        for (uint32_t k = 0; k < n; k++) {
            __m256 r = rgb[k][0], g = rgb[k][1], b = rgb[k][2];
            /* y = w0 r + w1 g + w2 b in double, in that order */
            __m256d yl = avx2_lum(&lk, avx2_lo_pd(r), avx2_lo_pd(g), avx2_lo_pd(b));
            __m256d yh = avx2_lum(&lk, avx2_hi_pd(r), avx2_hi_pd(g), avx2_hi_pd(b));
            __m256 xf = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(yl)), _mm256_cvtpd_ps(yh), 1);
            __m256 ok = _mm256_and_ps(_mm256_cmp_ps(xf, rt_lo, _CMP_GT_OQ), _mm256_cmp_ps(xf, rt_top, _CMP_LT_OQ));
            __m256i u = _mm256_castps_si256(xf);
            __m256i idx = _mm256_sub_epi32(_mm256_srli_epi32(u, RT_SHIFT), base);
            idx = _mm256_and_si256(idx, _mm256_castps_si256(ok));
            __m256 fr = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(u, fmask)), fscale);
            /* the pairs of lanes 0 1 4 5 and 2 3 6 7, one 64-bit element each:
             * {a0 d0 a1 d1 | a4 d4 a5 d5} and {a2 d2 a3 d3 | a6 d6 a7 d7} */
            __m256 p0 = avx2_pairs(s->rt, _mm256_permute4x64_epi64(idx, _MM_SHUFFLE(3, 1, 2, 0)));
            __m256 p1 = avx2_pairs(s->rt, _mm256_permute4x64_epi64(idx, _MM_SHUFFLE(2, 0, 3, 1)));
            __m256 ratio = _mm256_add_ps(_mm256_shuffle_ps(p0, p1, _MM_SHUFFLE(2, 0, 2, 0)),
                                         _mm256_mul_ps(fr, _mm256_shuffle_ps(p0, p1, _MM_SHUFFLE(3, 1, 3, 1))));
            r = _mm256_mul_ps(r, ratio);
            g = _mm256_mul_ps(g, ratio);
            b = _mm256_mul_ps(b, ratio);
            /* y > 1e-12, y < P, and gamut_map's 1e-9 < y2 < 1 with the margin */
            __m256d okl = avx2_lum_ok(&lk, yl, _mm256_mul_pd(yl, avx2_lo_pd(ratio)));
            __m256d okh = avx2_lum_ok(&lk, yh, _mm256_mul_pd(yh, avx2_hi_pd(ratio)));
            ok = _mm256_and_ps(ok, avx2_join_mask(okl, okh));
            /* inside the cube: the largest <= 1, no sign bit set */
            ok = _mm256_and_ps(ok, _mm256_cmp_ps(_mm256_max_ps(r, _mm256_max_ps(g, b)), one, _CMP_LE_OQ));
            __m256i neg = _mm256_srai_epi32(_mm256_castps_si256(_mm256_or_ps(r, _mm256_or_ps(g, b))), 31);
            __m256i okm = _mm256_andnot_si256(neg, _mm256_castps_si256(ok));
            /* table indices (enc_index4; the other lanes may hold anything,
             * even NaN: index 0) */
            __m256i er = _mm256_and_si256(avx2_enc_index(r), okm);
            __m256i eg = _mm256_and_si256(avx2_enc_index(g), okm);
            __m256i eb = _mm256_and_si256(avx2_enc_index(b), okm);
            ei[k][0] = er;
            ei[k][1] = eg;
            ei[k][2] = eb;
            okb[k] = ~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(okm)) & 0xFFu;
        }
        for (uint32_t k = 0; k < n; k++) {
            size_t p = 3 * (size_t)(x + 8 * k);
            __m256i cr = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_i32gather_ps(enc, ei[k][0], 4), d8));
            __m256i cg = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_i32gather_ps(enc, ei[k][1], 4), d8));
            __m256i cb = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_i32gather_ps(enc, ei[k][2], 4), d8));
            __m256i px = _mm256_or_si256(_mm256_or_si256(cr, _mm256_slli_epi32(cg, 8)), _mm256_slli_epi32(cb, 16));
            px = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(px, pack), perm);
            _mm_storeu_si128((__m128i *)(void *)(f->o + p), _mm256_castsi256_si128(px));
            _mm_storel_epi64((__m128i *)(void *)(f->o + p + 16), _mm256_extracti128_si256(px, 1));
            for (unsigned rest = okb[k]; rest; rest &= rest - 1)
                fused_pixel(f, x + 8 * k + (uint32_t)__builtin_ctz(rest));
        }
        x += 8 * n;
    }
    return x;
}
#endif

/* Row y of a 3-channel U8/U16 master through table, tone map and encoding
 * in one pass, four pixels at a time (issue 8; eight with AVX2, see
 * tm_row_avx2): the samples go straight from the input table into R, G and
 * B registers, and the results of tm_simd4 straight to table indices, with
 * no float row in between.  Pixels tm_simd4 leaves, and the last width % 4,
 * go through tonemap_pixel (fused_pixel), in x order: the bytes are those
 * of the row-by-row path. */
static void tm_row_fused(const tm_job *j, uint32_t y, const tm_simd *k, const float dr[8], bool avx2)
{
    const gm_tonemap_state *s = j->s;
    const float *t = s->in_table, *enc = j->enc;
    const uint8_t *src = (const uint8_t *)j->hdr->data + (size_t)y * j->hdr->stride;
    const uint16_t *s16 = (const uint16_t *)(const void *)src;
    bool u16 = j->hdr->type == GAINMAP_PIXEL_U16;
    uint8_t *o = (uint8_t *)j->sdr->data + (size_t)y * j->sdr->stride;
    uint32_t w = j->hdr->width, x = 0;
    tm_fused_row f = {s, t, enc, dr, src, s16, u16, o, {0}};
#if GM_HAVE_AVX2_TARGET
    if (avx2)
        x = tm_row_avx2(&f, w);
#else
    (void)avx2;
#endif
    /* the thresholds of pixels x..x+3 in the row's sample order, for x % 8
     * = 0 and 4 */
    __m128 dq[2][3];
    for (int h = 0; h < 2; h++)
        for (int v = 0; v < 3; v++) {
            float t4[4];
            for (int e = 0; e < 4; e++)
                t4[e] = dr[4 * h + (4 * v + e) / 3];
            dq[h][v] = _mm_loadu_ps(t4);
        }
    for (; x + 4 <= w; x += 4) {
        size_t p = 3 * (size_t)x;
        __m128 r, g, b;
        if (u16) {
            r = _mm_setr_ps(t[s16[p]], t[s16[p + 3]], t[s16[p + 6]], t[s16[p + 9]]);
            g = _mm_setr_ps(t[s16[p + 1]], t[s16[p + 4]], t[s16[p + 7]], t[s16[p + 10]]);
            b = _mm_setr_ps(t[s16[p + 2]], t[s16[p + 5]], t[s16[p + 8]], t[s16[p + 11]]);
        } else {
            r = _mm_setr_ps(t[src[p]], t[src[p + 3]], t[src[p + 6]], t[src[p + 9]]);
            g = _mm_setr_ps(t[src[p + 1]], t[src[p + 4]], t[src[p + 7]], t[src[p + 10]]);
            b = _mm_setr_ps(t[src[p + 2]], t[src[p + 5]], t[src[p + 8]], t[src[p + 11]]);
        }
        int ok = tm_simd4(s, k, &r, &g, &b);
        /* table indices in the row's order r0 g0 b0 r1 | g1 b1 r2 g2 | b2 r3 g3 b3 */
        __m128 a[3];
        soa_to_aos(r, g, b, a);
        uint32_t ix[12];
        for (int v = 0; v < 3; v++)
            _mm_storeu_si128((__m128i *)(void *)(ix + 4 * v), enc_index4(a[v]));
        if (ok != 15)   /* placeholders (the lanes may hold anything, even NaN) */
            for (int i = 0; i < 4; i++)
                if (!(ok >> i & 1))
                    ix[3 * i] = ix[3 * i + 1] = ix[3 * i + 2] = 0;
        /* enc_code on 12 samples: the table value plus the pixel's
         * threshold, truncated (values in [0, 256): the packs keep them) */
        const __m128 *dv = dq[x >> 2 & 1];
        __m128i cv[3];
        for (int v = 0; v < 3; v++) {
            const uint32_t *iv = ix + 4 * v;
            cv[v] = _mm_cvttps_epi32(_mm_add_ps(_mm_setr_ps(enc[iv[0]], enc[iv[1]], enc[iv[2]], enc[iv[3]]), dv[v]));
        }
        __m128i bytes = _mm_packus_epi16(_mm_packs_epi32(cv[0], cv[1]), _mm_packs_epi32(cv[2], cv[2]));
        _mm_storel_epi64((__m128i *)(void *)(o + p), bytes);
        uint32_t last = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(bytes, 8));
        memcpy(o + p + 8, &last, 4);
        /* the lanes tm_simd4 left */
        for (int i = 0; ok != 15 && i < 4; i++)
            if (!(ok >> i & 1))
                fused_pixel(&f, x + (uint32_t)i);
    }
    for (; x < w; x++)
        fused_pixel(&f, x);
    if (f.q.n)
        queue_to_codes(s, &f.q, enc, dr, o);
}
#endif

static void tm_strip(void *arg, int worker, uint32_t y0, uint32_t y1)
{
    tm_job *j = arg;
    const gm_tonemap_state *s = j->s;
    uint32_t w = j->hdr->width;
    float *row = j->rows[worker];
#ifdef __SSE2__
    /* the fused path: gm_tonemap_decode_row's table case, tm_simd4's case */
    bool fused = s->simd && j->hdr->channels == 3 && s->src_tf != GAINMAP_TRANSFER_HLG && s->in_table;
    tm_simd k;
    bool avx2 = false;   /* decided once per strip */
    if (fused) {
        tm_simd_init(s, &k);
        avx2 = gm_cpu_avx2();
        if (avx2)
            __atomic_fetch_add(&j->rows_avx2, y1 - y0, __ATOMIC_RELAXED);
    }
#endif
    for (uint32_t y = y0; y < y1; y++) {
        float dr[8];
        for (int i = 0; i < 8; i++)
            dr[i] = j->dither ? (BAYER8[y & 7][i] + 0.5f) / 64.0f : 0.5f;
#ifdef __SSE2__
        if (fused) {
            tm_row_fused(j, y, &k, dr, avx2);
            continue;
        }
#endif
        gm_tonemap_decode_row(s, j->hdr, y, row);
        gm_tonemap_row(s, row, row, w);
        uint8_t *o = (uint8_t *)j->sdr->data + (size_t)y * j->sdr->stride;
        /* table index first, in place (row holds values in [0, 1]), then
         * the lookups */
        uint32_t *idx = (uint32_t *)(void *)row;
        size_t n = (size_t)w * 3;
        size_t i = 0;
#ifdef __SSE2__
        for (; i + 4 <= n; i += 4)
            _mm_storeu_si128((__m128i *)(void *)(idx + i), enc_index4(_mm_loadu_ps(row + i)));
#endif
        for (; i < n; i++)
            idx[i] = enc_index(row[i]);
        for (uint32_t x = 0; x < w; x++) {
            float d = dr[x & 7];
            for (int c = 0; c < 3; c++)
                o[3 * x + c] = enc_code(j->enc, idx[3 * x + c], d);
        }
    }
}

gainmap_status gainmap_tonemap(gainmap_ctx *ctx, const gainmap_image *hdr, const gainmap_tonemap_options *opts,
                               gainmap_image *sdr)
{
    return gm_tonemap_image(ctx, hdr, opts, sdr, NULL);
}

gainmap_status gm_tonemap_image(gainmap_ctx *ctx, const gainmap_image *hdr, const gainmap_tonemap_options *opts,
                                gainmap_image *sdr, uint32_t *rows_avx2)
{
    if (rows_avx2)
        *rows_avx2 = 0;
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
    job = (tm_job){s, hdr, sdr, enc, opts->dither != 0, NULL, 0};
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
    if (rows_avx2)
        *rows_avx2 = __atomic_load_n(&job.rows_avx2, __ATOMIC_RELAXED);

    sdr->transfer = btf;
    sdr->primaries = s->base;
    sdr->bit_depth = 8;
    sdr->orientation = hdr->orientation;
    sdr->has_cicp = 1;
    sdr->cicp[0] = (uint8_t)gainmap_primaries_to_cicp(s->base);
    sdr->cicp[1] = (uint8_t)gainmap_transfer_to_cicp(btf);
    sdr->cicp[2] = 0;
    sdr->cicp[3] = 1;
    const char *icc_name = gm_icc_name_for(s->base, btf);
    if (btf == GAINMAP_TRANSFER_SRGB && icc_name) {
        uint8_t *icc = NULL;
        size_t n = 0;
        if ((st = gainmap_icc_generate(ctx, icc_name, &icc, &n)) == GAINMAP_OK) {
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

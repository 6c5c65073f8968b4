/* gainmap_compute.c - an 8-bit gain map and its exact metadata from an SDR
 * base and an HDR rendition (FORMATS.md 4.1).
 *
 * Both images are linearised (1.0 = SDR white) into the base's primaries
 * (use_base_colour_space = 1, which UltraHDR XMP requires), then per pixel
 *   G = log2((HDR + k_hdr) / (SDR + k_sdr))
 * (k_hdr and the gamma chosen per picture by choose_shape unless given)
 * on luminance (1 channel) or on R, G, B (3 channels); G is box-averaged to
 * the map size in the log domain, its range taken from robust percentiles,
 * normalised, raised to gamma and rounded to 8 bits (optionally dithered).
 * Samples whose HDR value is 0 (a channel of a saturated primary) get code
 * 0 with a small margin below the needed gain: the decoder clamps negative
 * output to 0, so they come back exactly despite map JPEG error. */
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

/* Histogram for the robust range: 1/256-stop bins over [-20, +20] stops. */
#define HIST_LO (-20.0)
#define HIST_BINS (40 * 256)
#define HIST_ZERO (HIST_BINS / 2)   /* the bin of gain 0 */
/* Fraction of map samples allowed outside [min, max] at each end. */
#define RANGE_TAIL 1e-5
/* Denominator of the computed log2 values: short exact XMP decimals, and
 * small enough (1/d^2 = 1e-10) that a float -> continued-fraction reader
 * recovers this very fraction from the decimal. */
#define META_DEN 100000
/* Map codes kept below the lowest gain when some HDR samples are 0 (the
 * decoder clamps negative output to 0, so any gain at or below the needed
 * one reproduces them exactly; the margin absorbs map JPEG error). */
#define ZERO_MARGIN 3.0

void gainmap_encode_options_init(gainmap_encode_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    /* Chosen by measured quality per byte (docs/encoding.md). */
    o->quality = 90;
    o->gainmap_quality = 91;   /* 92 before the gamma was chosen per picture */
    o->subsampling = 444;
    o->gainmap_channels = 3;
    o->gainmap_scale = 1;
    o->gamma = NAN;   /* chosen per picture (choose_shape) */
    o->offset = 1.0 / 256.0;
    o->offset_hdr = NAN;
    o->min_boost = NAN;
    o->max_boost = NAN;
    o->target_headroom = 0.0;
    o->metadata = GAINMAP_METADATA_BOTH;
    o->dither = -1;
    gainmap_tonemap_options_init(&o->tonemap);
}

gainmap_status gainmap_encode_options_preset(gainmap_encode_options *o, const char *name)
{
    if (!o || !name)
        return GAINMAP_ERR_INVALID_ARG;
    if (strcmp(name, "default") == 0) {
        gainmap_tonemap_options keep = o->tonemap;
        gainmap_encode_options_init(o);
        o->tonemap = keep;
        return GAINMAP_OK;
    }
    if (strcmp(name, "small") == 0) {
        /* <= 1.6 bits per pixel at >= 40 dB on the bundled sample
         * (docs/encoding.md); progressive saves the last 3 %. */
        o->quality = 75;
        o->gainmap_quality = 72;   /* 75 before the gamma was chosen per picture */
        o->subsampling = 420;
        o->gainmap_channels = 3;
        o->gainmap_scale = 1;
        o->gamma = NAN;
        o->progressive = 1;
        return GAINMAP_OK;
    }
    return GAINMAP_ERR_INVALID_ARG;
}

/* ------------------------------------------------------------------ */
/* Linearisation: any image row -> linear RGB floats in dst primaries.  */
/* ------------------------------------------------------------------ */
void gm_linear_free(gm_linear *lin)
{
    if (!lin)
        return;
    free(lin->lut);
    memset(lin, 0, sizeof *lin);
}

gainmap_status gm_linear_init(gainmap_ctx *ctx, gm_linear *lin, const gainmap_image *img, gainmap_primaries dst)
{
    memset(lin, 0, sizeof *lin);
    lin->img = img;
    lin->tf = gm_image_transfer(img);
    gainmap_primaries src = gm_image_primaries(img);
    if (dst == GAINMAP_PRIMARIES_UNKNOWN)
        dst = src;
    lin->convert = src != dst;
    if (gainmap_gamut_matrix(src, dst, lin->m) != 0)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "no gamut matrix from %s to %s", gainmap_primaries_name(src),
                        gainmap_primaries_name(dst));
    if (img->channels != 1 && img->channels != 3 && img->channels != 4)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "image has %u channels (expected 1, 3 or 4)", img->channels);
    lin->hlg = lin->tf == GAINMAP_TRANSFER_HLG;
    size_t entries = img->type == GAINMAP_PIXEL_U8 ? 256 : img->type == GAINMAP_PIXEL_U16 ? 65536 : 0;
    if (entries) {
        lin->lut = gm_malloc(ctx, entries * sizeof(float));
        if (!lin->lut)
            return GAINMAP_ERR_NOMEM;
        double scale = 1.0 / (double)(entries - 1);
        for (size_t i = 0; i < entries; i++) {
            double s = (double)i * scale;
            /* HLG: scene light here; the OOTF needs the whole pixel (row code). */
            lin->lut[i] = (float)(lin->hlg ? gainmap_hlg_inverse_oetf(s) : gainmap_to_linear(lin->tf, s));
        }
    }
    return GAINMAP_OK;
}

/* Pixel x of a row as linear RGB (gm_linear_row's body). */
static inline void linear_pixel(const gm_linear *lin, const uint8_t *row, uint32_t x, double v[3])
{
    const gainmap_image *img = lin->img;
    uint32_t nc = img->channels;
    for (int c = 0; c < 3; c++) {
        uint32_t ci = nc == 1 ? 0 : (uint32_t)c;
        size_t i = (size_t)x * nc + ci;
        if (img->type == GAINMAP_PIXEL_U8)
            v[c] = lin->lut[row[i]];
        else if (img->type == GAINMAP_PIXEL_U16)
            v[c] = lin->lut[((const uint16_t *)(const void *)row)[i]];
        else {
            double s = ((const float *)(const void *)row)[i];
            v[c] = lin->hlg ? gainmap_hlg_inverse_oetf(GM_CLAMP(s, 0.0, 1.0)) : gainmap_to_linear(lin->tf, s);
        }
    }
    if (lin->hlg)
        gm_hlg_scene_to_linear(v);   /* BT.2020 weights for every primaries, as the decoder's inverse */
    if (lin->convert)
        gm_mat3_apply(lin->m, v, v);
}

void gm_linear_row(const gm_linear *lin, uint32_t y, float *out)
{
    const gainmap_image *img = lin->img;
    const uint8_t *row = (const uint8_t *)img->data + (size_t)y * img->stride;
    for (uint32_t x = 0; x < img->width; x++) {
        double v[3];
        linear_pixel(lin, row, x, v);
        out[3 * x] = (float)v[0];
        out[3 * x + 1] = (float)v[1];
        out[3 * x + 2] = (float)v[2];
    }
}

/* ------------------------------------------------------------------ */
/* Exact metadata values                                                */
/* ------------------------------------------------------------------ */
static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* x rounded to 1/META_DEN, reduced. */
static gainmap_fraction sfrac(double x)
{
    double n = floor(x * META_DEN + 0.5);
    n = GM_CLAMP(n, -2147483647.0, 2147483647.0);
    int64_t ni = (int64_t)n;
    uint64_t g = gcd64((uint64_t)(ni < 0 ? -ni : ni), META_DEN);
    if (g == 0)
        g = META_DEN;
    gainmap_fraction f = {(int32_t)(ni / (int64_t)g), (uint32_t)(META_DEN / g)};
    return f;
}

static gainmap_ufraction ufrac(double x)
{
    gainmap_fraction s = sfrac(x < 0 ? 0 : x);
    gainmap_ufraction u = {(uint32_t)s.n, s.d};
    return u;
}

/* User values (offset, gamma): exact when x = n/2^k (1/64), else 1/META_DEN. */
static gainmap_fraction sfrac_user(double x)
{
    for (int k = 0; k <= 16; k++) {
        double v = ldexp(x, k);
        if (v == floor(v) && fabs(v) <= 2147483647.0) {
            gainmap_fraction f = {(int32_t)v, (uint32_t)1 << k};
            return f;
        }
    }
    return sfrac(x);
}

static double fval(gainmap_fraction f) { return (double)f.n / (double)f.d; }

/* ------------------------------------------------------------------ */
/* The map                                                              */
/* ------------------------------------------------------------------ */
static const uint8_t bayer8[8][8] = {
    {0, 32, 8, 40, 2, 34, 10, 42},  {48, 16, 56, 24, 50, 18, 58, 26}, {12, 44, 4, 36, 14, 46, 6, 38},
    {60, 28, 52, 20, 62, 30, 54, 22}, {3, 35, 11, 43, 1, 33, 9, 41},  {51, 19, 59, 27, 49, 17, 57, 25},
    {15, 47, 7, 39, 13, 45, 5, 37}, {63, 31, 55, 23, 61, 29, 53, 21},
};

/* [lo, hi] holding all but RANGE_TAIL of the samples at each end, never
 * wider than the true extremes (so outlier-free content keeps its range). */
static uint64_t tail_count(uint64_t count) { return (uint64_t)((double)count * RANGE_TAIL); }

/* The first and last of nbins bins left once tail_count(count) samples are
 * dropped at each end. */
static void tail_bins(const uint32_t *hist, int nbins, uint64_t count, int *first, int *last)
{
    uint64_t tail = tail_count(count);
    uint64_t acc = 0;
    int a = 0, b = nbins - 1;
    for (; a < nbins - 1; a++) {
        acc += hist[a];
        if (acc > tail)
            break;
    }
    acc = 0;
    for (; b > 0; b--) {
        acc += hist[b];
        if (acc > tail)
            break;
    }
    *first = a;
    *last = b;
}

static void robust_range(const uint32_t *hist, uint64_t count, double vmin, double vmax, double *lo, double *hi)
{
    int a, b;
    tail_bins(hist, HIST_BINS, count, &a, &b);
    *lo = GM_MAX(vmin, HIST_LO + (double)a / 256.0);
    *hi = GM_MIN(vmax, HIST_LO + (double)(b + 1) / 256.0);
}

gainmap_primaries gm_sdr_primaries(const gainmap_image *sdr, const gainmap_encode_options *opts)
{
    if (sdr->primaries != GAINMAP_PRIMARIES_UNKNOWN)
        return sdr->primaries;
    if (opts->tonemap.base_primaries != GAINMAP_PRIMARIES_UNKNOWN)
        return opts->tonemap.base_primaries;
    return GAINMAP_PRIMARIES_P3;   /* the tone mapper's choice for most masters */
}

/* Checked arguments shared by the reference and the fast path. */
typedef struct cm_args {
    int nc, scale;
    double k, kh, gamma;
    uint32_t w, h, mw, mh;
    gainmap_primaries space;
    double wt[3];
} cm_args;

static gainmap_status check_args(gainmap_ctx *ctx, const gainmap_image *sdr, const gainmap_image *hdr,
                                 const gainmap_encode_options *opts, gainmap_image *map, gainmap_metadata *meta,
                                 cm_args *a)
{
    if (!sdr || !hdr || !map || !meta || !sdr->data || !hdr->data)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gainmap_compute: missing image or output");
    if (sdr->width != hdr->width || sdr->height != hdr->height)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "SDR image is %ux%u but the HDR image is %ux%u", sdr->width,
                        sdr->height, hdr->width, hdr->height);
    a->nc = opts->gainmap_channels;
    a->scale = opts->gainmap_scale;
    if (a->nc != 1 && a->nc != 3)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gain-map channels must be 1 or 3, not %d", a->nc);
    if (a->scale != 1 && a->scale != 2 && a->scale != 4)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gain-map scale must be 1, 2 or 4, not %d", a->scale);
    a->k = opts->offset;
    if (!(a->k >= 0.0 && a->k <= 1.0))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gain-map offset %g is outside [0, 1]", a->k);
    a->kh = opts->offset_hdr;   /* NAN: chosen by choose_shape */
    if (isfinite(a->kh) && !(a->kh >= 0.0 && a->kh <= 1.0))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gain-map HDR offset %g is outside [0, 1]", a->kh);
    a->gamma = opts->gamma;   /* NAN: chosen by choose_shape */
    if (isfinite(a->gamma) ? !(a->gamma > 0.0 && a->gamma <= 16.0) : !isnan(a->gamma))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gain-map gamma %g is outside (0, 16]", opts->gamma);
    if (!(opts->target_headroom >= 0.0 && opts->target_headroom <= 16.0))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "target headroom %g is outside [0, 16] stops",
                        opts->target_headroom);
    a->w = sdr->width;
    a->h = sdr->height;
    gainmap_status st = gm_check_dims(ctx, a->w, a->h, 16, "gain-map input");
    if (st != GAINMAP_OK)
        return st;
    a->mw = (a->w + (uint32_t)a->scale - 1) / (uint32_t)a->scale;
    a->mh = (a->h + (uint32_t)a->scale - 1) / (uint32_t)a->scale;
    a->space = gm_sdr_primaries(sdr, opts);
    gainmap_luma_weights(a->space, a->wt);
    return GAINMAP_OK;
}

/* ------------------------------------------------------------------ */
/* The map's shape: HDR offset and gamma (issue 5)                      */
/* ------------------------------------------------------------------ */
/* The decoder rebuilds HDR = (SDR + k) 2^G - kh, so a map error of e stops
 * moves a sample by (HDR + kh) ln2 e; in PQ codes PQ'(HDR) (HDR + kh) ln2 e.
 * A code error of E codes is an error in G of about R dG/dcode, where R is
 * the gain range and the gamma shapes the steps: G = lo + R (code/255)^(1/g),
 * so g > 1 makes the steps fine at the top of the range and coarse at the
 * bottom, g < 1 the reverse.
 *   kh: a small kh keeps deep shadows precise (PQ is steep in cd/m2 there
 *   and HDR << kh), but pulls the lowest gain log2((HDR + kh) / (SDR + k))
 *   down (dark samples over a brighter base, and samples whose HDR is 0,
 *   which need a gain at or below log2(kh / (SDR + k)) to decode to 0), so
 *   R grows and every code gets coarser.
 *   gamma: it should put the fine steps where the samples that matter are;
 *   with samples of HDR 0 it also sets the range, since their gain must sit
 *   ZERO_MARGIN codes above code 0 (build_meta).
 * choose_shape picks the (kh, gamma) pair with the least modelled squared
 * error sum((PQ'(HDR) (HDR + kh) R dG/dcode)^2) over a sample of at most
 * SH_SAMPLES pixels (on luminance for a 1-channel map), dG/dcode taken over
 * +-SH_CODE_ERR codes.  The samples are summed per 1/16-stop gain bin and
 * candidate kh, so each pair costs one pass over 640 bins.  Measured
 * against full encodes in docs/encoding.md (session 5). */
#define KH_N 5                 /* kh candidates 2^-10 .. 2^-14 */
#define GAMMA_N 5
#define SH_SAMPLES 16384
#define SH_CODE_ERR 2.0        /* typical map code error after its JPEG */
#define SH_BINS (40 * 16)      /* 1/16-stop gain histogram over [-20, +20] */
#define SH_SLOPE_LO (-30)      /* PQ slope table: 1/8-stop bins of log2(linear) */
#define SH_SLOPES (38 * 8)     /* up to 2^8 = 52000 cd/m2 */
/* gamma < 1 is left out: it coarsens the top of the range, where saturated
 * highlights keep their hue (test_encode_neutral: 5.9 degrees on a 1000 cd/m2
 * skin tone at 0.75, 1.4 at the choice among these) */
static const double gamma_candidates[GAMMA_N] = {1.0, 1.25, 1.5, 2.0, 2.5};
typedef struct shape_model {
    int nkh;
    float kh[KH_N];
    double s2[SH_SLOPES];             /* s^2 per bin, s = PQ'(x) in 10-bit codes per unit */
    uint32_t hist[KH_N][SH_BINS];     /* samples per gain bin */
    double weight[KH_N][SH_BINS];     /* sum of (s (HDR + kh))^2 per gain bin */
    uint64_t count, zeros;
} shape_model;

/* PQ code values (10-bit) per unit of linear light (1.0 = 203 cd/m2) at x. */
static double pq_slope(double x)
{
    double nits = x * GM_SDR_WHITE_NITS, d = nits * 1e-3;
    return (gainmap_pq_inverse_eotf(nits + d) - gainmap_pq_inverse_eotf(nits - d)) / (2.0 * d) *
           GM_SDR_WHITE_NITS * 1023.0;
}

static void shape_add(shape_model *m, double hdr, double sdr, double k)
{
    float h = (float)GM_MAX(hdr, 0.0), ls = gm_fast_log2f((float)(GM_MAX(sdr, 0.0) + k + 1e-12));
    double s2 = 0.0;
    if (h > 0.0f) {
        int b = (int)floorf((gm_fast_log2f(h) - (float)SH_SLOPE_LO) * 8.0f);
        s2 = m->s2[GM_CLAMP(b, 0, SH_SLOPES - 1)];
    } else {
        m->zeros++;
    }
    /* at 1/16 and above every candidate moves the gain by under 0.023 stop
     * (a third of a bin): one logarithm serves them all */
    float g = h >= 1.0f / 16 ? gm_fast_log2f(h + m->kh[0]) - ls : 0.0f;
    for (int i = 0; i < m->nkh; i++) {
        if (h < 1.0f / 16)
            g = gm_fast_log2f(h + m->kh[i]) - ls;
        int b = GM_CLAMP((int)floorf((g - (float)HIST_LO) * 16.0f), 0, SH_BINS - 1);
        m->hist[i][b]++;
        double t = (double)h + (double)m->kh[i];
        m->weight[i][b] += s2 * t * t;
    }
    m->count++;
}

/* The modelled error of candidate kh i with gamma g. */
static double shape_cost(const shape_model *m, int i, double g)
{
    int blo, bhi;
    tail_bins(m->hist[i], SH_BINS, m->count, &blo, &bhi);
    double lo = HIST_LO + blo / 16.0, hi = HIST_LO + (bhi + 1) / 16.0;
    if (m->zeros) {
        double f = pow(ZERO_MARGIN / 255.0, 1.0 / g);   /* as build_meta */
        lo = (lo - f * hi) / (1.0 - f);
    }
    double r = hi - lo, cost = 0.0;
    for (int b = blo; b <= bhi; b++) {
        if (!(m->weight[i][b] > 0.0))
            continue;
        double u = GM_CLAMP((HIST_LO + (b + 0.5) / 16.0 - lo) / r, 0.0, 1.0);
        double c = 255.0 * pow(u, g), c0 = GM_MAX(c - SH_CODE_ERR, 0.0), c1 = GM_MIN(c + SH_CODE_ERR, 255.0);
        double d = r * (pow(c1 / 255.0, 1.0 / g) - pow(c0 / 255.0, 1.0 / g)) / (c1 - c0);
        cost += m->weight[i][b] * d * d;
    }
    return cost;
}

/* a->kh and a->gamma where automatic (NAN), from the linearised images. */
static void choose_shape(cm_args *a, const gm_linear *ls, const gm_linear *lh)
{
    bool auto_kh = !isfinite(a->kh), auto_gamma = !isfinite(a->gamma);
    if (!auto_kh && !auto_gamma)
        return;
    if (auto_kh)
        a->kh = 1.0 / 1024.0;   /* the choices should the model be unavailable */
    if (auto_gamma)
        a->gamma = 1.25;
    shape_model *m = calloc(1, sizeof *m);
    if (!m)
        return;   /* no need to fail the encode */
    m->nkh = auto_kh ? KH_N : 1;
    for (int i = 0; i < m->nkh; i++)
        m->kh[i] = auto_kh ? ldexpf(1.0f, -10 - i) : (float)a->kh;
    for (int i = 0; i < SH_SLOPES; i++) {
        double s = pq_slope(exp2(SH_SLOPE_LO + (i + 0.5) / 8.0));
        m->s2[i] = s * s;
    }
    uint32_t step = 1;
    while ((uint64_t)(a->w / step) * (a->h / step) > SH_SAMPLES)
        step++;
    for (uint32_t y = step / 2; y < a->h; y += step) {
        const uint8_t *rs = (const uint8_t *)ls->img->data + (size_t)y * ls->img->stride;
        const uint8_t *rh = (const uint8_t *)lh->img->data + (size_t)y * lh->img->stride;
        for (uint32_t x = step / 2; x < a->w; x += step) {
            double vs[3], vh[3];
            linear_pixel(ls, rs, x, vs);
            linear_pixel(lh, rh, x, vh);
            if (a->nc == 1)
                shape_add(m, a->wt[0] * vh[0] + a->wt[1] * vh[1] + a->wt[2] * vh[2],
                          a->wt[0] * vs[0] + a->wt[1] * vs[1] + a->wt[2] * vs[2], a->k);
            else
                for (int c = 0; c < 3; c++)
                    shape_add(m, vh[c], vs[c], a->k);
        }
    }
    double best = INFINITY, user_gamma = a->gamma;
    for (int i = 0; i < m->nkh && m->count; i++)
        for (int gi = 0; gi < (auto_gamma ? GAMMA_N : 1); gi++) {
            double g = auto_gamma ? gamma_candidates[gi] : user_gamma;
            double cost = shape_cost(m, i, g);
            if (cost < best) {
                best = cost;
                a->kh = m->kh[i];
                a->gamma = g;
            }
        }
    free(m);
}

/* The quantiser's exact inputs, from the metadata as stored. */
typedef struct cm_quant {
    double minv[3], maxv[3], gamma;
    int dither;
} cm_quant;

/* Range (robust percentiles of the map samples, per channel histograms of
 * `count` samples each) -> metadata and the quantiser's values. */
static void build_meta(const gainmap_encode_options *opts, const cm_args *a, int nc, const uint32_t *hist, uint64_t count,
                       const double *vmin, const double *vmax, const int *anyzero, gainmap_metadata *meta,
                       cm_quant *q)
{
    gainmap_params p;
    memset(&p, 0, sizeof p);
    double top = 0.0;
    for (int c = 0; c < nc; c++) {
        double lo, hi;
        robust_range(hist + (size_t)c * HIST_BINS, count, vmin[c], vmax[c], &lo, &hi);
        if (isfinite(opts->min_boost))
            lo = opts->min_boost;
        if (isfinite(opts->max_boost))
            hi = opts->max_boost;
        if (hi < lo + 1.0 / 256.0)
            hi = lo + 1.0 / 256.0;
        /* Samples whose HDR value is 0 are written as code 0; keep
         * ZERO_MARGIN codes below the lowest needed gain so that map JPEG
         * error around them still decodes to <= 0 (clamped).  Codes count
         * after the gamma: the needed gain must sit at code ZERO_MARGIN,
         * i.e. at the fraction f = (ZERO_MARGIN / 255)^(1/gamma) of the new
         * range (0.029 at gamma 1.25; the linear 3/255 left it at code 1). */
        if (!isfinite(opts->min_boost) && anyzero[c]) {
            double f = pow(ZERO_MARGIN / 255.0, 1.0 / a->gamma);
            lo = (lo - f * hi) / (1.0 - f);
        }
        p.gain_map_min[c] = lo;
        p.gain_map_max[c] = hi;
        top = GM_MAX(top, hi);
    }
    if (nc == 3) {
        /* One range for R, G and B: a neutral gain then gets the same code
         * in every channel, so greys stay exactly grey through the map
         * (per-channel ranges gave casts up to dE_ITP 3.4 on a grey ramp;
         * quality per byte is the same, docs/encoding.md). */
        double lo = GM_MIN(p.gain_map_min[0], GM_MIN(p.gain_map_min[1], p.gain_map_min[2]));
        double hi = GM_MAX(p.gain_map_max[0], GM_MAX(p.gain_map_max[1], p.gain_map_max[2]));
        for (int c = 0; c < 3; c++) {
            p.gain_map_min[c] = lo;
            p.gain_map_max[c] = hi;
        }
    }
    memset(meta, 0, sizeof *meta);
    meta->kind = GAINMAP_KIND_ISO;
    meta->channel_count = (uint8_t)nc;
    meta->use_base_colour_space = 1;
    meta->flags = (uint8_t)((nc == 3 ? 0x80 : 0) | 0x40);
    meta->base_hdr_headroom.n = 0;
    meta->base_hdr_headroom.d = 1;
    /* FORMATS.md 4.1.7: capacity max = content max unless a target is given. */
    double cap = opts->target_headroom > 0.0 ? opts->target_headroom : top;
    meta->alternate_hdr_headroom = ufrac(GM_MAX(cap, 1.0 / 64.0));
    gainmap_fraction kf = sfrac_user(a->k), kfh = sfrac_user(a->kh);
    gainmap_fraction gs = sfrac_user(a->gamma);
    gainmap_ufraction gf = {(uint32_t)GM_MAX(gs.n, 0), gs.d};
    if (gf.n == 0)
        gf.n = 1;
    for (int c = 0; c < nc; c++) {
        meta->gain_map_min[c] = sfrac(p.gain_map_min[c]);
        meta->gain_map_max[c] = sfrac(p.gain_map_max[c]);
        if (meta->gain_map_max[c].n * (int64_t)meta->gain_map_min[c].d <=
            meta->gain_map_min[c].n * (int64_t)meta->gain_map_max[c].d)
            meta->gain_map_max[c] = sfrac(fval(meta->gain_map_min[c]) + 1e-3);
        meta->gamma[c] = gf;
        meta->base_offset[c] = kf;
        meta->alternate_offset[c] = kfh;
        q->minv[c] = fval(meta->gain_map_min[c]);
        q->maxv[c] = fval(meta->gain_map_max[c]);
    }
    q->gamma = (double)gf.n / (double)gf.d;
    q->dither = opts->dither;
    if (q->dither < 0) {
        /* auto: dither when one code step is coarser than 1/32 stop */
        double step = 0.0;
        for (int c = 0; c < nc; c++)
            step = GM_MAX(step, (q->maxv[c] - q->minv[c]) / 255.0);
        q->dither = step > 1.0 / 32.0;
    }
}

/* k = 0 and black pixels give infinities; keep them finite. */
static inline double clamp_gain(double v) { return isfinite(v) ? GM_CLAMP(v, -20.0, 20.0) : (v > 0 ? 20.0 : -20.0); }

/* ------------------------------------------------------------------ */
/* Reference: the formula in double precision, a float map in memory.   */
/* ------------------------------------------------------------------ */
gainmap_status gm_compute_ref(gainmap_ctx *ctx, const gainmap_image *sdr, const gainmap_image *hdr,
                              const gainmap_encode_options *opts, gainmap_image *map, gainmap_metadata *meta)
{
    gainmap_encode_options defaults;
    if (!opts) {
        gainmap_encode_options_init(&defaults);
        opts = &defaults;
    }
    cm_args a;
    gainmap_status st = check_args(ctx, sdr, hdr, opts, map, meta, &a);
    if (st != GAINMAP_OK)
        return st;
    int nc = a.nc, scale = a.scale;
    double k = a.k, *wt = a.wt;
    uint32_t w = a.w, h = a.h, mw = a.mw, mh = a.mh;

    gm_linear ls, lh;
    float *rs = NULL, *rh = NULL, *g = NULL;
    double *acc = NULL;
    uint32_t *hist = NULL;
    uint8_t *zero = NULL;   /* per map sample: every HDR sample under it is <= 0 */
    double vmin[3] = {INFINITY, INFINITY, INFINITY}, vmax[3] = {-INFINITY, -INFINITY, -INFINITY};
    memset(map, 0, sizeof *map);
    st = gm_linear_init(ctx, &ls, sdr, a.space);
    if (st == GAINMAP_OK)
        st = gm_linear_init(ctx, &lh, hdr, a.space);
    else
        memset(&lh, 0, sizeof lh);
    if (st != GAINMAP_OK)
        goto done;
    choose_shape(&a, &ls, &lh);
    rs = gm_malloc(ctx, (size_t)w * 3 * sizeof(float));
    rh = gm_malloc(ctx, (size_t)w * 3 * sizeof(float));
    acc = gm_calloc(ctx, (size_t)mw * (size_t)nc, sizeof(double));
    g = gm_malloc(ctx, (size_t)mw * mh * (size_t)nc * sizeof(float));
    hist = gm_calloc(ctx, (size_t)HIST_BINS * (size_t)nc, sizeof(uint32_t));
    zero = gm_malloc(ctx, (size_t)mw * mh * (size_t)nc);
    if (!rs || !rh || !acc || !g || !hist || !zero) {
        st = GAINMAP_ERR_NOMEM;
        goto done;
    }

    /* Pass 1: log2 ratios, box-averaged to map resolution. */
    for (uint32_t my = 0; my < mh; my++) {
        memset(acc, 0, (size_t)mw * (size_t)nc * sizeof(double));
        uint8_t *zrow = zero + (size_t)my * mw * (size_t)nc;
        memset(zrow, 1, (size_t)mw * (size_t)nc);
        uint32_t y0 = my * (uint32_t)scale, y1 = GM_MIN(h, y0 + (uint32_t)scale);
        for (uint32_t y = y0; y < y1; y++) {
            gm_linear_row(&ls, y, rs);
            gm_linear_row(&lh, y, rh);
            for (uint32_t x = 0; x < w; x++) {
                const float *s = rs + 3 * x, *t = rh + 3 * x;
                size_t mi = (size_t)(x / (uint32_t)scale) * (size_t)nc;
                double *ac = acc + mi;
                if (nc == 1) {
                    double ys = wt[0] * s[0] + wt[1] * s[1] + wt[2] * s[2];
                    double yh = wt[0] * t[0] + wt[1] * t[1] + wt[2] * t[2];
                    ac[0] += log2((GM_MAX(yh, 0.0) + a.kh) / (GM_MAX(ys, 0.0) + k + 1e-12));
                    if (yh > 0.0)
                        zrow[mi] = 0;
                } else {
                    for (int c = 0; c < 3; c++) {
                        ac[c] += log2((GM_MAX((double)t[c], 0.0) + a.kh) / (GM_MAX((double)s[c], 0.0) + k + 1e-12));
                        if (t[c] > 0.0f)
                            zrow[mi + (size_t)c] = 0;
                    }
                }
            }
        }
        for (uint32_t mx = 0; mx < mw; mx++) {
            uint32_t x0 = mx * (uint32_t)scale, x1 = GM_MIN(w, x0 + (uint32_t)scale);
            double area = (double)(x1 - x0) * (double)(y1 - y0);
            for (int c = 0; c < nc; c++) {
                double v = clamp_gain(acc[(size_t)mx * (size_t)nc + (size_t)c] / area);
                g[((size_t)my * mw + mx) * (size_t)nc + (size_t)c] = (float)v;
                vmin[c] = GM_MIN(vmin[c], v);
                vmax[c] = GM_MAX(vmax[c], v);
                int bin = (int)floor((v - HIST_LO) * 256.0);
                hist[(size_t)c * HIST_BINS + (size_t)GM_CLAMP(bin, 0, HIST_BINS - 1)]++;
            }
        }
    }

    int anyzero[3] = {0, 0, 0};
    for (size_t i = 0; i < (size_t)mw * mh * (size_t)nc; i++)
        if (zero[i])
            anyzero[i % (size_t)nc] = 1;
    cm_quant q;
    build_meta(opts, &a, nc, hist, (uint64_t)mw * mh, vmin, vmax, anyzero, meta, &q);

    /* Pass 2: quantise with the exact stored values (FORMATS.md 4.1.5). */
    if ((st = gainmap_image_alloc(ctx, map, mw, mh, (uint32_t)nc, GAINMAP_PIXEL_U8)) != GAINMAP_OK)
        goto done;
    for (uint32_t y = 0; y < mh; y++) {
        uint8_t *out = (uint8_t *)map->data + (size_t)y * map->stride;
        const float *src = g + (size_t)y * mw * (size_t)nc;
        const uint8_t *zrow = zero + (size_t)y * mw * (size_t)nc;
        for (uint32_t x = 0; x < mw; x++) {
            double bias = q.dither ? (bayer8[y & 7][x & 7] + 0.5) / 64.0 : 0.5;
            for (int c = 0; c < nc; c++) {
                if (zrow[(size_t)x * (size_t)nc + (size_t)c]) {
                    out[(size_t)x * (size_t)nc + (size_t)c] = 0;
                    continue;
                }
                double r = ((double)src[(size_t)x * (size_t)nc + (size_t)c] - q.minv[c]) / (q.maxv[c] - q.minv[c]);
                r = GM_CLAMP(r, 0.0, 1.0);
                if (q.gamma != 1.0)
                    r = pow(r, q.gamma);
                double qq = floor(r * 255.0 + bias);
                out[(size_t)x * (size_t)nc + (size_t)c] = (uint8_t)GM_CLAMP(qq, 0.0, 255.0);
            }
        }
    }
    map->transfer = GAINMAP_TRANSFER_UNKNOWN;
    map->primaries = GAINMAP_PRIMARIES_UNKNOWN;
    map->bit_depth = 8;
done:
    if (st != GAINMAP_OK)
        gainmap_image_free(map);
    gm_linear_free(&ls);
    gm_linear_free(&lh);
    free(rs);
    free(rh);
    free(acc);
    free(g);
    free(hist);
    free(zero);
    return st;
}

/* ------------------------------------------------------------------ */
/* Fast path: two passes over row strips on the thread pool, no float   */
/* map in memory.  Pass 1 computes each map row's gains for the         */
/* histogram and the extremes; pass 2 computes them again and quantises */
/* (recomputing costs less than storing 4 bytes per sample).  log2 of   */
/* an 8-bit or 16-bit sample comes from a table; of a float, from its   */
/* exponent and a short series (|error| < 1e-6 stops).  The usual       */
/* layout (16-bit RGB master, full-size map) has SSE2 kernels: pass 1   */
/* counts only the histogram's tails (tail_filter), pass 2 codes each   */
/* gain with one load and one comparison (build_fine).  Both give the   */
/* bytes of the per-sample loops, gm_compute_plain (test_perf_equiv).   */
/* ------------------------------------------------------------------ */

/* log2(x) for float x; exact to ~1e-7 relative in the mantissa part. */
static inline float fast_log2f(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    if (u - 0x00800000u >= 0x7F000000u)   /* 0, subnormal, negative, inf, NaN */
        return log2f(x);
    int e = (int)(u >> 23) - 127;
    uint32_t mu = (u & 0x007FFFFFu) | 0x3F800000u;
    float m;
    memcpy(&m, &mu, 4);
    if (m > 1.41421356f) {
        m *= 0.5f;
        e++;
    }
    /* log2(m) = 2/ln2 * atanh(t), t = (m - 1) / (m + 1), |t| <= 0.172 */
    float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
    float p = t * (2.88539008f + t2 * (0.961796694f + t2 * (0.577078016f + t2 * 0.412198583f)));
    return (float)e + p;
}

float gm_fast_log2f(float x) { return fast_log2f(x); }

/* Map samples per bias set of the quantiser's bin table. */
#define QBINS 1024
#define QTHR 257
/* Most bins of the fine quantiser table (8 of its tables side by side must
 * index with 16 bits; see build_fine). */
#define FINE_MAX 4096

/* One bin of the fine quantiser: every gain v of the bin has code
 * `code - 1` if v < thr, else `code` (build_fine proves it per bin). */
typedef struct cm_qent {
    float thr;
    int32_t code;
} cm_qent;

typedef struct cm_job {
    cm_args a;
    const gainmap_image *sdr, *hdr;
    gm_linear ls, lh;
    /* direct: 3-channel map, both images integer, same primaries, no HLG:
     * per-sample tables of log2(linear + k) and the HDR "<= 0" codes. */
    int direct;
    float *tsdr, *thdr;
    uint32_t hpos;    /* first HDR code whose linear value is > 0 (tables are monotone) */
    int inrange;      /* every table difference is finite and within +-20 stops */
    float tlo[3], thi[3];   /* pass1_sse2 counts only gains < tlo or >= thi (tail_filter) */
    float koff;
    /* per worker */
    int workers;
    float **rs, **rh, **g, **vals;
    double **acc;
    uint8_t **gz, **zf;
    uint32_t **hist;
    double (*vmin)[3], (*vmax)[3];
    int (*anyzero)[3];
    /* pass 2 */
    int pass;
    int nbias;
    float *thr;       /* [bias][c][QTHR]: smallest float G with code >= i (1..255), -inf, +inf */
    uint8_t *start;   /* [bias][c][QBINS]: about the code of the bin's samples */
    float *bin0, *binscale;   /* [bias][c] */
    /* or the fine table, one range for all channels: [bias][fbins] */
    cm_qent *fine;
    int fbins;
    float fbin0, fscale;
    int plain;   /* gm_compute_plain: no SSE2 kernels, no fine table */
    int avx2;    /* the AVX2 kernels instead of the SSE2 ones (gm_cpu_avx2) */
    gainmap_image *map;
} cm_job;

/* One image row's gains (w * nc floats, unclamped) and "HDR <= 0" flags. */
static void row_gains(const cm_job *j, int wk, uint32_t y, float *g, uint8_t *z)
{
    const cm_args *a = &j->a;
    uint32_t w = a->w;
    if (j->direct) {
        const gainmap_image *s = j->sdr, *h = j->hdr;
        const uint8_t *srow = (const uint8_t *)s->data + (size_t)y * s->stride;
        const uint8_t *hrow = (const uint8_t *)h->data + (size_t)y * h->stride;
        uint32_t snc = s->channels, hnc = h->channels, sci = snc == 1 ? 0 : 1, hci = hnc == 1 ? 0 : 1;
        const float *ts = j->tsdr, *th = j->thdr;
        uint32_t hp0 = j->hpos;
        if (h->type == GAINMAP_PIXEL_U16) {
            const uint16_t *hp = (const uint16_t *)(const void *)hrow;
            if (snc == 3 && hnc == 3) {
                for (size_t i = 0; i < (size_t)w * 3; i++) {
                    uint32_t hv = hp[i];
                    g[i] = th[hv] - ts[srow[i]];
                    z[i] = hv < hp0;
                }
                return;
            }
            for (uint32_t x = 0; x < w; x++)
                for (uint32_t c = 0; c < 3; c++) {
                    uint32_t hv = hp[(size_t)x * hnc + c * hci];
                    g[3 * x + c] = th[hv] - ts[srow[(size_t)x * snc + c * sci]];
                    z[3 * x + c] = hv < hp0;
                }
        } else {
            for (uint32_t x = 0; x < w; x++)
                for (uint32_t c = 0; c < 3; c++) {
                    uint32_t hv = hrow[(size_t)x * hnc + c * hci];
                    g[3 * x + c] = th[hv] - ts[srow[(size_t)x * snc + c * sci]];
                    z[3 * x + c] = hv < hp0;
                }
        }
        return;
    }
    float *rs = j->rs[wk], *rh = j->rh[wk];
    gm_linear_row(&j->ls, y, rs);
    gm_linear_row(&j->lh, y, rh);
    float k = j->koff, ks = (float)(a->k + 1e-12);
    if (a->nc == 1) {
        const double *wt = a->wt;
        for (uint32_t x = 0; x < w; x++) {
            const float *s = rs + 3 * x, *t = rh + 3 * x;
            double ys = wt[0] * s[0] + wt[1] * s[1] + wt[2] * s[2];
            double yh = wt[0] * t[0] + wt[1] * t[1] + wt[2] * t[2];
            g[x] = fast_log2f((float)GM_MAX(yh, 0.0) + k) - fast_log2f((float)GM_MAX(ys, 0.0) + ks);
            z[x] = !(yh > 0.0);
        }
        return;
    }
    for (size_t i = 0; i < (size_t)w * 3; i++) {
        float s = rs[i], t = rh[i];
        g[i] = fast_log2f((t > 0.0f ? t : 0.0f) + k) - fast_log2f((s > 0.0f ? s : 0.0f) + ks);
        z[i] = !(t > 0.0f);
    }
}

/* Map row my: clamped box-averaged gains (mw * nc) and "all HDR <= 0" flags. */
static void map_row(const cm_job *j, int wk, uint32_t my, float *vals, uint8_t *zf)
{
    const cm_args *a = &j->a;
    uint32_t scale = (uint32_t)a->scale, w = a->w, mw = a->mw;
    size_t nc = (size_t)a->nc, n = (size_t)mw * nc;
    uint32_t y0 = my * scale, y1 = GM_MIN(a->h, y0 + scale);
    if (scale == 1) {
        row_gains(j, wk, y0, vals, zf);
        for (size_t i = 0; i < n; i++) {
            float v = vals[i];
            vals[i] = v >= -20.0f && v <= 20.0f ? v : v > 20.0f ? 20.0f : -20.0f;   /* NaN -> -20 */
        }
        return;
    }
    double *acc = j->acc[wk];
    float *g = j->g[wk];
    uint8_t *gz = j->gz[wk];
    memset(acc, 0, n * sizeof *acc);
    memset(zf, 1, n);
    for (uint32_t y = y0; y < y1; y++) {
        row_gains(j, wk, y, g, gz);
        for (uint32_t x = 0; x < w; x++) {
            size_t mi = (size_t)(x / scale) * nc;
            for (size_t c = 0; c < nc; c++) {
                acc[mi + c] += g[(size_t)x * nc + c];
                zf[mi + c] &= gz[(size_t)x * nc + c];
            }
        }
    }
    for (uint32_t mx = 0; mx < mw; mx++) {
        uint32_t x0 = mx * scale, x1 = GM_MIN(w, x0 + scale);
        double area = (double)(x1 - x0) * (double)(y1 - y0);
        for (size_t c = 0; c < nc; c++)
            vals[(size_t)mx * nc + c] = (float)clamp_gain(acc[(size_t)mx * nc + c] / area);
    }
}

/* Code of gain v in table t (bias set and channel): the bin's starting
 * code, moved to the thresholds (t[0] = -inf and t[256] = +inf stop it). */
typedef struct cm_qtab {
    const float *thr, *bin0, *binscale;
    const uint8_t *start;
} cm_qtab;

static inline uint8_t quantise(cm_qtab qt, size_t t, float v)
{
    const float *thr = qt.thr + t * QTHR;
    float f = (v - qt.bin0[t]) * qt.binscale[t];   /* any rounding: corrected below */
    int bin = f > 0.0f ? (int)GM_MIN(f, (float)(QBINS - 1)) : 0;
    unsigned q = qt.start[t * QBINS + (size_t)bin];
    while (v >= thr[q + 1])
        q++;
    while (v < thr[q])
        q--;
    return (uint8_t)q;
}

/* The fine quantiser: the bin of v as the SSE2 kernel computes it (the
 * same float roundings; cvttps2dq and the 16-bit clamp give these values
 * for every f below 2^31, which build_fine ensures). */
static inline int fine_bin(float v, float bin0, float scale, int nb)
{
    float f = (v - bin0) * scale;
    return f > 0.0f ? (int)GM_MIN(f, (float)(nb - 1)) : 0;
}

/* Code of gain v with bias set b and channel c: one table load and one
 * comparison with the fine table, else the bin table and its corrections. */
static inline uint8_t code_at(const cm_job *j, cm_qtab qt, size_t b, size_t c, float v)
{
    if (j->fine) {
        const cm_qent *e = j->fine + b * (size_t)j->fbins + (size_t)fine_bin(v, j->fbin0, j->fscale, j->fbins);
        return (uint8_t)(e->code - (v < e->thr));
    }
    return quantise(qt, b * 3 + c, v);
}

#ifdef __SSE2__
/* SSE2 kernels for the usual layout (16-bit RGB master, 8-bit RGB base,
 * every table difference in range), 8 pixels = 24 samples a step.  SSE2 has
 * no gather, so the table loads stay scalar (two per gain: th[h] - ts[s]
 * with the subtraction from memory, as the scalar loop does); everything
 * else works on 4 or 8 samples at once.  Lane i of the k-th 4-gain vector
 * of a step is channel (4k + i) % 3 (so vectors k and k + 3 match), of the
 * m-th 8-lane vector (8m + i) % 3. */
typedef struct cm_acc1 {
    __m128 mn[3], mx[3];   /* extremes, lanes as 4-gain vectors k = m, m + 3 */
    __m128 lo[3], hi[3];   /* tail filter (see tail_filter), lanes as mn */
    __m128i hmin[3];       /* smallest HDR code ^ 0x8000 (signed min), lanes as 8-lane vector m */
} cm_acc1;

static inline __m128 gains4(const float *th, const float *ts, const uint16_t *h, const uint8_t *s)
{
    return _mm_setr_ps(th[h[0]] - ts[s[0]], th[h[1]] - ts[s[1]], th[h[2]] - ts[s[2]], th[h[3]] - ts[s[3]]);
}

/* Histogram bins of 4 gains less HIST_ZERO: floor(v * 256) in float (v * 256
 * is exact).  That equals the scalar (int)(((double)v + 20) * 256) - HIST_ZERO
 * for every float v in [-20, 20] (all 2.2e9 of them checked) once v in
 * [-2^-49, 0) is kept at 0, where the double sum rounds to 20: hence
 * "t - 1 where f < min(t, -2^-41)" rather than "where f < t". */
static inline __m128i hist_bins4(__m128 g)
{
    __m128 f = _mm_mul_ps(g, _mm_set1_ps(256.0f));
    __m128i t = _mm_cvttps_epi32(f);
    __m128 below = _mm_cmplt_ps(f, _mm_min_ps(_mm_cvtepi32_ps(t), _mm_set1_ps(-0x1p-41f)));
    return _mm_add_epi32(t, _mm_castps_si128(below));   /* -1 where truncation went up */
}

static inline void hist8(uint32_t *hist, const uint16_t *idx)
{
    hist[idx[0]]++;
    hist[idx[1]]++;
    hist[idx[2]]++;
    hist[idx[3]]++;
    hist[idx[4]]++;
    hist[idx[5]]++;
    hist[idx[6]]++;
    hist[idx[7]]++;
}

/* Histogram of one step's 24 gains (written out: GCC keeps neither a loop
 * over the vectors nor the counting loop in registers). */
static void count_step(const float *th, const float *ts, const uint16_t *h, const uint8_t *s, uint32_t *hist)
{
    const __m128i top = _mm_set1_epi16(HIST_BINS - 1 - HIST_ZERO);
    /* HIST_ZERO + the lane's channel histogram */
    const __m128i off0 = _mm_setr_epi16(HIST_ZERO, HIST_ZERO + HIST_BINS, HIST_ZERO + 2 * HIST_BINS, HIST_ZERO,
                                        HIST_ZERO + HIST_BINS, HIST_ZERO + 2 * HIST_BINS, HIST_ZERO,
                                        HIST_ZERO + HIST_BINS);
    const __m128i off1 = _mm_setr_epi16(HIST_ZERO + 2 * HIST_BINS, HIST_ZERO, HIST_ZERO + HIST_BINS,
                                        HIST_ZERO + 2 * HIST_BINS, HIST_ZERO, HIST_ZERO + HIST_BINS,
                                        HIST_ZERO + 2 * HIST_BINS, HIST_ZERO);
    const __m128i off2 = _mm_setr_epi16(HIST_ZERO + HIST_BINS, HIST_ZERO + 2 * HIST_BINS, HIST_ZERO,
                                        HIST_ZERO + HIST_BINS, HIST_ZERO + 2 * HIST_BINS, HIST_ZERO,
                                        HIST_ZERO + HIST_BINS, HIST_ZERO + 2 * HIST_BINS);
    _Alignas(16) uint16_t idx[24];
    __m128i b0 = hist_bins4(gains4(th, ts, h, s)), b1 = hist_bins4(gains4(th, ts, h + 4, s + 4));
    /* v = 20 gives the bin past the end: the last one, as GM_MIN does */
    _mm_store_si128((__m128i *)(void *)idx, _mm_add_epi16(_mm_min_epi16(_mm_packs_epi32(b0, b1), top), off0));
    b0 = hist_bins4(gains4(th, ts, h + 8, s + 8));
    b1 = hist_bins4(gains4(th, ts, h + 12, s + 12));
    _mm_store_si128((__m128i *)(void *)(idx + 8), _mm_add_epi16(_mm_min_epi16(_mm_packs_epi32(b0, b1), top), off1));
    b0 = hist_bins4(gains4(th, ts, h + 16, s + 16));
    b1 = hist_bins4(gains4(th, ts, h + 20, s + 20));
    _mm_store_si128((__m128i *)(void *)(idx + 16), _mm_add_epi16(_mm_min_epi16(_mm_packs_epi32(b0, b1), top), off2));
    hist8(hist, idx);
    hist8(hist, idx + 8);
    hist8(hist, idx + 16);
}

/* Extremes of the gains of vectors k and k + 3 of a step; lanes with a gain
 * below lo or at/above hi are set in the result. */
static inline __m128 extremes8(const float *th, const float *ts, const uint16_t *h, const uint8_t *s, __m128 *mn,
                               __m128 *mx, __m128 lo, __m128 hi)
{
    __m128 a = gains4(th, ts, h, s), b = gains4(th, ts, h + 12, s + 12);
    __m128 vlo = _mm_min_ps(a, b), vhi = _mm_max_ps(a, b);
    *mn = _mm_min_ps(*mn, vlo);
    *mx = _mm_max_ps(*mx, vhi);
    return _mm_or_ps(_mm_cmplt_ps(vlo, lo), _mm_cmpnlt_ps(vhi, hi));
}

/* Pass 1 over the first n samples of a row (n a multiple of 24): extremes
 * and "HDR <= 0" of every gain; the histogram only of steps that hold a
 * gain in one of the tails acc->lo / acc->hi leave out (tail_filter), the
 * others only cost the test. */
static void pass1_sse2(const cm_job *j, const uint16_t *hr, const uint8_t *sr, size_t n, uint32_t *hist, cm_acc1 *acc)
{
    const float *th = j->thdr, *ts = j->tsdr;
    const __m128i flip = _mm_set1_epi16(INT16_MIN);
    __m128 mn0 = acc->mn[0], mn1 = acc->mn[1], mn2 = acc->mn[2], mx0 = acc->mx[0], mx1 = acc->mx[1],
           mx2 = acc->mx[2];
    __m128i hmin0 = acc->hmin[0], hmin1 = acc->hmin[1], hmin2 = acc->hmin[2];
    for (size_t i = 0; i < n; i += 24) {
        const uint16_t *h = hr + i;
        const uint8_t *s = sr + i;
        __m128 tail = extremes8(th, ts, h, s, &mn0, &mx0, acc->lo[0], acc->hi[0]);
        tail = _mm_or_ps(tail, extremes8(th, ts, h + 4, s + 4, &mn1, &mx1, acc->lo[1], acc->hi[1]));
        tail = _mm_or_ps(tail, extremes8(th, ts, h + 8, s + 8, &mn2, &mx2, acc->lo[2], acc->hi[2]));
        hmin0 = _mm_min_epi16(hmin0, _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)h), flip));
        hmin1 = _mm_min_epi16(hmin1, _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(h + 8)), flip));
        hmin2 = _mm_min_epi16(hmin2, _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(h + 16)), flip));
        if (_mm_movemask_ps(tail))
            count_step(th, ts, h, s, hist);
    }
    acc->mn[0] = mn0;
    acc->mn[1] = mn1;
    acc->mn[2] = mn2;
    acc->mx[0] = mx0;
    acc->mx[1] = mx1;
    acc->mx[2] = mx2;
    acc->hmin[0] = hmin0;
    acc->hmin[1] = hmin1;
    acc->hmin[2] = hmin2;
}

/* Start values of the accumulators; the filter's bounds from j->tlo/thi. */
static void acc1_init(const cm_job *j, cm_acc1 *acc)
{
    for (int m = 0; m < 3; m++) {
        acc->mn[m] = _mm_set1_ps(INFINITY);
        acc->mx[m] = _mm_set1_ps(-INFINITY);
        acc->hmin[m] = _mm_set1_epi16(INT16_MAX);
        acc->lo[m] = _mm_setr_ps(j->tlo[(4 * m) % 3], j->tlo[(4 * m + 1) % 3], j->tlo[(4 * m + 2) % 3],
                                 j->tlo[(4 * m + 3) % 3]);
        acc->hi[m] = _mm_setr_ps(j->thi[(4 * m) % 3], j->thi[(4 * m + 1) % 3], j->thi[(4 * m + 2) % 3],
                                 j->thi[(4 * m + 3) % 3]);
    }
}

#if GM_HAVE_AVX2_TARGET
/* AVX2 kernels: pass1_sse2 and pass2_sse2 on 8 gains a vector, 3 vectors a
 * step.  Every gain goes through the same operations as there (the float
 * subtraction th[h] - ts[s], the histogram bin of hist_bins4, the fine bin,
 * its clamp and code), so the histogram, the extremes, the zero flags and
 * the codes are the SSE2 kernels' (no FMA: target "avx2" does not enable
 * it).  Lane i of vector k of a step is sample 8k + i: channel (8k + i) % 3
 * of pixel (8k + i) / 3, the layout of the SSE2 kernels' 8-lane vectors.
 * The table loads stay scalar: AVX2 gathers (vgatherdps) took 2.5 times as
 * long as 8 scalar loads on the AMD Zen 5 measured, and are slowed as much
 * by the Gather Data Sampling fix on Intel's Skylake to Tiger Lake.  The
 * accumulators stay in plain arrays between rows, so only these functions
 * hold AVX2 types. */
typedef struct cm_acc8 {
    float mn[3][8], mx[3][8];   /* extremes of vector k's lanes */
    float lo[3][8], hi[3][8];   /* tail filter (see tail_filter), lanes as mn */
    uint16_t hmin[24];          /* smallest HDR code of sample i of the steps */
} cm_acc8;

static void acc8_init(const cm_job *j, cm_acc8 *acc)
{
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 8; i++) {
            acc->mn[k][i] = INFINITY;
            acc->mx[k][i] = -INFINITY;
            acc->lo[k][i] = j->tlo[(8 * k + i) % 3];
            acc->hi[k][i] = j->thi[(8 * k + i) % 3];
        }
    for (int i = 0; i < 24; i++)
        acc->hmin[i] = UINT16_MAX;
}

/* t[i[0..3]]: one load and three inserts from memory (_mm_setr_ps or
 * _mm_insert_ps take 1 to 3 instructions more); the bits as they are */
GM_TARGET_AVX2 static inline int32_t cm_bits(const float *t, size_t i)
{
    int32_t b;
    memcpy(&b, t + i, sizeof b);
    return b;
}

#define CM_LOAD4(t, i)                                                                                 \
    _mm_castsi128_ps(_mm_insert_epi32(                                                                 \
        _mm_insert_epi32(_mm_insert_epi32(_mm_cvtsi32_si128(cm_bits(t, (i)[0])), cm_bits(t, (i)[1]), 1), \
                         cm_bits(t, (i)[2]), 2),                                                       \
        cm_bits(t, (i)[3]), 3))

/* 8 gains th[h[i]] - ts[s[i]] */
GM_TARGET_AVX2 static inline __m256 gains8(const float *th, const float *ts, const uint16_t *h, const uint8_t *s)
{
    __m256 a = _mm256_set_m128(CM_LOAD4(th, h + 4), CM_LOAD4(th, h));
    __m256 b = _mm256_set_m128(CM_LOAD4(ts, s + 4), CM_LOAD4(ts, s));
    return _mm256_sub_ps(a, b);
}

/* hist_bins4 on 8 gains. */
GM_TARGET_AVX2 static inline __m256i hist_bins8(__m256 g)
{
    __m256 f = _mm256_mul_ps(g, _mm256_set1_ps(256.0f));
    __m256i t = _mm256_cvttps_epi32(f);
    __m256 below = _mm256_cmp_ps(f, _mm256_min_ps(_mm256_cvtepi32_ps(t), _mm256_set1_ps(-0x1p-41f)), _CMP_LT_OS);
    return _mm256_add_epi32(t, _mm256_castps_si256(below));
}

/* HIST_ZERO + the histogram of lane i of vector k */
#define CM_HOFF(k, i) (HIST_ZERO + ((8 * (k) + (i)) % 3) * HIST_BINS)
#define CM_HOFF8(k)                                                                                                  \
    _mm256_setr_epi32(CM_HOFF(k, 0), CM_HOFF(k, 1), CM_HOFF(k, 2), CM_HOFF(k, 3), CM_HOFF(k, 4), CM_HOFF(k, 5), \
                      CM_HOFF(k, 6), CM_HOFF(k, 7))

/* count_step on the step's gains g[0..2] (the bins lie in [-HIST_ZERO,
 * HIST_ZERO], so the SSE2 kernel's 16-bit packing changes none). */
GM_TARGET_AVX2 static void count_step8(const __m256 *g, uint32_t *hist)
{
    const __m256i top = _mm256_set1_epi32(HIST_BINS - 1 - HIST_ZERO);
    _Alignas(32) uint32_t idx[24];
    _mm256_store_si256((__m256i *)(void *)idx, _mm256_add_epi32(_mm256_min_epi32(hist_bins8(g[0]), top), CM_HOFF8(0)));
    _mm256_store_si256((__m256i *)(void *)(idx + 8),
                       _mm256_add_epi32(_mm256_min_epi32(hist_bins8(g[1]), top), CM_HOFF8(1)));
    _mm256_store_si256((__m256i *)(void *)(idx + 16),
                       _mm256_add_epi32(_mm256_min_epi32(hist_bins8(g[2]), top), CM_HOFF8(2)));
    for (int i = 0; i < 24; i++)
        hist[idx[i]]++;
}

/* Vector k of a step: its gains into *g and the extremes; lanes with a gain
 * below lo or at/above hi are set in the result. */
GM_TARGET_AVX2 static inline __m256 extremes8x(const float *th, const float *ts, const uint16_t *h, const uint8_t *s,
                                               __m256 *g, __m256 *mn, __m256 *mx, __m256 lo, __m256 hi)
{
    __m256 v = gains8(th, ts, h, s);
    *g = v;
    *mn = _mm256_min_ps(*mn, v);
    *mx = _mm256_max_ps(*mx, v);
    return _mm256_or_ps(_mm256_cmp_ps(v, lo, _CMP_LT_OS), _mm256_cmp_ps(v, hi, _CMP_NLT_US));
}

/* pass1_sse2 with AVX2: the same steps counted (a step holds a gain in a
 * tail here exactly when it does there), so the same histogram. */
GM_TARGET_AVX2 static void pass1_avx2(const cm_job *j, const uint16_t *hr, const uint8_t *sr, size_t n,
                                      uint32_t *hist, cm_acc8 *acc)
{
    const float *th = j->thdr, *ts = j->tsdr;
    __m256 mn0 = _mm256_loadu_ps(acc->mn[0]), mn1 = _mm256_loadu_ps(acc->mn[1]), mn2 = _mm256_loadu_ps(acc->mn[2]);
    __m256 mx0 = _mm256_loadu_ps(acc->mx[0]), mx1 = _mm256_loadu_ps(acc->mx[1]), mx2 = _mm256_loadu_ps(acc->mx[2]);
    const __m256 lo0 = _mm256_loadu_ps(acc->lo[0]), lo1 = _mm256_loadu_ps(acc->lo[1]),
                 lo2 = _mm256_loadu_ps(acc->lo[2]);
    const __m256 hi0 = _mm256_loadu_ps(acc->hi[0]), hi1 = _mm256_loadu_ps(acc->hi[1]),
                 hi2 = _mm256_loadu_ps(acc->hi[2]);
    __m256i hm01 = _mm256_loadu_si256((const __m256i *)(const void *)acc->hmin);
    __m128i hm2 = _mm_loadu_si128((const __m128i *)(const void *)(acc->hmin + 16));
    for (size_t i = 0; i < n; i += 24) {
        const uint16_t *h = hr + i;
        const uint8_t *s = sr + i;
        __m256 g[3];
        __m256 tail = extremes8x(th, ts, h, s, &g[0], &mn0, &mx0, lo0, hi0);
        tail = _mm256_or_ps(tail, extremes8x(th, ts, h + 8, s + 8, &g[1], &mn1, &mx1, lo1, hi1));
        tail = _mm256_or_ps(tail, extremes8x(th, ts, h + 16, s + 16, &g[2], &mn2, &mx2, lo2, hi2));
        hm01 = _mm256_min_epu16(hm01, _mm256_loadu_si256((const __m256i *)(const void *)h));
        hm2 = _mm_min_epu16(hm2, _mm_loadu_si128((const __m128i *)(const void *)(h + 16)));
        if (_mm256_movemask_ps(tail))
            count_step8(g, hist);
    }
    _mm256_storeu_ps(acc->mn[0], mn0);
    _mm256_storeu_ps(acc->mn[1], mn1);
    _mm256_storeu_ps(acc->mn[2], mn2);
    _mm256_storeu_ps(acc->mx[0], mx0);
    _mm256_storeu_ps(acc->mx[1], mx1);
    _mm256_storeu_ps(acc->mx[2], mx2);
    _mm256_storeu_si256((__m256i *)(void *)acc->hmin, hm01);
    _mm_storeu_si128((__m128i *)(void *)(acc->hmin + 16), hm2);
}
#endif

/* Pass 1's kernel state: the SSE2 or the AVX2 accumulators (j->avx2). */
typedef struct cm_p1 {
    cm_acc1 v4;
#if GM_HAVE_AVX2_TARGET
    cm_acc8 v8;
#endif
    bool ran;   /* the lanes hold samples */
} cm_p1;

static void p1_init(const cm_job *j, cm_p1 *p)
{
    acc1_init(j, &p->v4);
#if GM_HAVE_AVX2_TARGET
    if (j->avx2)
        acc8_init(j, &p->v8);
#endif
    p->ran = false;
}

/* pass1_sse2 or pass1_avx2 over the first n samples (a multiple of 24). */
static void p1_run(const cm_job *j, const uint16_t *hr, const uint8_t *sr, size_t n, uint32_t *hist, cm_p1 *p)
{
    if (n == 0)
        return;
    p->ran = true;
#if GM_HAVE_AVX2_TARGET
    if (j->avx2) {
        pass1_avx2(j, hr, sr, n, hist, &p->v8);
        return;
    }
#endif
    pass1_sse2(j, hr, sr, n, hist, &p->v4);
}

/* The kernel's lanes back to channels (the order of min/max does not
 * matter: only the sign of a zero could differ, and -0 and +0 give the
 * same metadata). */
static void p1_fold(const cm_job *j, const cm_p1 *p, float *vmin, float *vmax, uint32_t *zero)
{
    if (!p->ran)
        return;
#if GM_HAVE_AVX2_TARGET
    if (j->avx2) {
        for (int i = 0; i < 24; i++) {
            int c = i % 3;
            vmin[c] = GM_MIN(vmin[c], p->v8.mn[i / 8][i % 8]);
            vmax[c] = GM_MAX(vmax[c], p->v8.mx[i / 8][i % 8]);
            zero[c] |= p->v8.hmin[i] < j->hpos;
        }
        return;
    }
#endif
    for (int m = 0; m < 3; m++) {
        float mn[4], mx[4];
        uint16_t hm[8];
        _mm_storeu_ps(mn, p->v4.mn[m]);
        _mm_storeu_ps(mx, p->v4.mx[m]);
        _mm_storeu_si128((__m128i *)(void *)hm, _mm_xor_si128(p->v4.hmin[m], _mm_set1_epi16(INT16_MIN)));
        for (int i = 0; i < 4; i++) {
            vmin[(4 * m + i) % 3] = GM_MIN(vmin[(4 * m + i) % 3], mn[i]);
            vmax[(4 * m + i) % 3] = GM_MAX(vmax[(4 * m + i) % 3], mx[i]);
        }
        for (int i = 0; i < 8; i++)
            zero[(8 * m + i) % 3] |= hm[i] < j->hpos;
    }
}

/* Rows of the tail filter's pre-pass: every TAIL_ROWS-th. */
#define TAIL_ROWS 64

/* The histogram only matters at its ends: robust_range stops at the first
 * bin a from below whose running count exceeds tail (and at b from above).
 * If every gain in the bins below jl is counted and there are more than
 * tail of them, the bins from jl up may hold any subset of their gains and
 * a is the same.  A pre-pass counts every TAIL_ROWS-th row's gains; they
 * are gains of the map, so where it finds tail + 1 of them below jl, so
 * will pass 1.  Pass 1 then counts every step holding a gain below
 * edge(jl) = HIST_LO + jl / 256 (a float): bin(v) < jl implies v <
 * edge(jl), since the double sum in the bin is exact but for |v| < 2^-24,
 * whose bins 5119 (v < 0) and 5120 (v < 2^-24) keep it true.  The other
 * gains of such a step are counted too: real gains, harmless.  The rest of
 * the steps only cost the test.  Likewise from above with jh: bin(v) >= jh
 * implies v >= edge(jh), except at jh = HIST_ZERO where gains down to
 * -2^-49 join bin HIST_ZERO (see hist_bins4), so the bound is -2^-49 there.
 * Not a single bin differs below jl or from jh up: the metadata are those
 * of the full histogram. */
static gainmap_status tail_filter(gainmap_ctx *ctx, cm_job *j)
{
    const gainmap_image *s = j->sdr, *h = j->hdr;
    uint32_t *hist = gm_calloc(ctx, (size_t)3 * HIST_BINS, sizeof *hist);
    if (!hist)
        return GAINMAP_ERR_NOMEM;
    cm_p1 acc;
    p1_init(j, &acc);   /* no filter yet: every step counted */
    for (uint32_t y = 0; y < j->a.h; y += TAIL_ROWS) {
        const uint8_t *srow = (const uint8_t *)s->data + (size_t)y * s->stride;
        const uint16_t *hrow = (const uint16_t *)(const void *)((const uint8_t *)h->data + (size_t)y * h->stride);
        p1_run(j, hrow, srow, (size_t)(j->a.w & ~7u) * 3, hist, &acc);
    }
    uint64_t need = tail_count((uint64_t)j->a.mw * j->a.mh) + 1;
    for (int c = 0; c < 3; c++) {
        const uint32_t *hc = hist + (size_t)c * HIST_BINS;
        uint64_t n = 0;
        int jl = 0, jh = HIST_BINS;
        while (jl < HIST_BINS && n < need)
            n += hc[jl++];
        /* bins < jl hold >= need gains; at HIST_BINS the last bin also holds v = 20 */
        if (n >= need && jl < HIST_BINS)
            j->tlo[c] = (float)(HIST_LO + jl / 256.0);
        for (n = 0; jh > 0 && n < need;)
            n += hc[--jh];
        if (n >= need)   /* bins >= jh hold >= need gains */
            j->thi[c] = jh == HIST_ZERO ? -0x1p-49f : (float)(HIST_LO + jh / 256.0);
    }
    free(hist);
    return GAINMAP_OK;
}

/* Codes of 4 gains from their fine-table entries tab[idx[0..3]]. */
static inline __m128i fine_codes4(const cm_qent *tab, const uint16_t *idx, __m128 v)
{
    __m128i e0 = _mm_loadl_epi64((const __m128i *)(const void *)(tab + idx[0]));
    __m128i e1 = _mm_loadl_epi64((const __m128i *)(const void *)(tab + idx[1]));
    __m128i e2 = _mm_loadl_epi64((const __m128i *)(const void *)(tab + idx[2]));
    __m128i e3 = _mm_loadl_epi64((const __m128i *)(const void *)(tab + idx[3]));
    __m128 a = _mm_castsi128_ps(_mm_unpacklo_epi64(e0, e1)), b = _mm_castsi128_ps(_mm_unpacklo_epi64(e2, e3));
    __m128 thr = _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    __m128i code = _mm_castps_si128(_mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm_add_epi32(code, _mm_castps_si128(_mm_cmplt_ps(v, thr)));
}

/* Pass 2 over the first n samples of a row (n a multiple of 24) with the
 * fine table.  th has -inf for the HDR codes whose linear value is <= 0
 * (set after pass 1), so those samples land in bin 0 and get code 0 with no
 * test of their own.  tab is the row's 8 bias tables (dithering: pixel x
 * uses table x & 7) or the one table; the table offset is added to the
 * 16-bit bin, so one base pointer serves the whole step. */
static void pass2_sse2(const cm_job *j, const uint16_t *hr, const uint8_t *sr, size_t n, const cm_qent *tab,
                       int dither, uint8_t *out)
{
    const float *th = j->thdr, *ts = j->tsdr;
    const __m128 bin0 = _mm_set1_ps(j->fbin0), scale = _mm_set1_ps(j->fscale);
    const __m128i top = _mm_set1_epi16((int16_t)(j->fbins - 1)), zero = _mm_setzero_si128();
    __m128i off[3];   /* the lane's bias table: pixel (8m + i) / 3 of the step */
    for (int m = 0; m < 3; m++) {
        int16_t o[8];
        for (int i = 0; i < 8; i++)
            o[i] = (int16_t)(dither ? (8 * m + i) / 3 * j->fbins : 0);
        off[m] = _mm_loadu_si128((const __m128i *)(const void *)o);
    }
    _Alignas(16) uint16_t idx[24];
    for (size_t i = 0; i < n; i += 24) {
        __m128 g[6];
        __m128i bin[6];
        for (int k = 0; k < 6; k++) {
            g[k] = gains4(th, ts, hr + i + 4 * k, sr + i + 4 * k);
            bin[k] = _mm_cvttps_epi32(_mm_mul_ps(_mm_sub_ps(g[k], bin0), scale));
        }
        for (int m = 0; m < 3; m++) {
            __m128i b = _mm_packs_epi32(bin[2 * m], bin[2 * m + 1]);
            b = _mm_min_epi16(_mm_max_epi16(b, zero), top);
            _mm_store_si128((__m128i *)(void *)(idx + 8 * m), _mm_add_epi16(b, off[m]));
        }
        __m128i c[6];
        for (int k = 0; k < 6; k++)
            c[k] = fine_codes4(tab, idx + 4 * k, g[k]);
        __m128i lo = _mm_packus_epi16(_mm_packs_epi32(c[0], c[1]), _mm_packs_epi32(c[2], c[3]));
        __m128i hi = _mm_packs_epi32(c[4], c[5]);
        _mm_storeu_si128((__m128i *)(void *)(out + i), lo);
        _mm_storel_epi64((__m128i *)(void *)(out + i + 16), _mm_packus_epi16(hi, hi));
    }
}

#if GM_HAVE_AVX2_TARGET
/* entries i0 and i1 of tab: thr0, code0, thr1, code1 */
#define CM_ENT2(tab, i0, i1)                                                                             \
    _mm_castpd_ps(_mm_loadh_pd(_mm_castsi128_pd(_mm_loadl_epi64((const __m128i *)(const void *)((tab) + (i0)))), \
                               (const double *)(const void *)((tab) + (i1))))

/* fine_codes4 on 8 gains. */
GM_TARGET_AVX2 static inline __m256i fine_codes8(const cm_qent *tab, const uint32_t *idx, __m256 v)
{
    __m256 a = _mm256_set_m128(CM_ENT2(tab, idx[4], idx[5]), CM_ENT2(tab, idx[0], idx[1]));
    __m256 b = _mm256_set_m128(CM_ENT2(tab, idx[6], idx[7]), CM_ENT2(tab, idx[2], idx[3]));
    __m256 thr = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    __m256i code = _mm256_castps_si256(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm256_add_epi32(code, _mm256_castps_si256(_mm256_cmp_ps(v, thr, _CMP_LT_OS)));
}

/* The fine bins of 8 gains plus the lanes' table offsets.  Clamping the
 * 32-bit bin to [0, top] gives what the SSE2 kernel's saturating pack to
 * 16 bits and clamp give. */
GM_TARGET_AVX2 static inline __m256i fine_bins8(__m256 g, __m256 bin0, __m256 scale, __m256i top, __m256i off)
{
    __m256i bin = _mm256_cvttps_epi32(_mm256_mul_ps(_mm256_sub_ps(g, bin0), scale));
    return _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(bin, _mm256_setzero_si256()), top), off);
}

/* pass2_sse2 with AVX2 (same arguments). */
GM_TARGET_AVX2 static void pass2_avx2(const cm_job *j, const uint16_t *hr, const uint8_t *sr, size_t n,
                                      const cm_qent *tab, int dither, uint8_t *out)
{
    const float *th = j->thdr, *ts = j->tsdr;
    const __m256 bin0 = _mm256_set1_ps(j->fbin0), scale = _mm256_set1_ps(j->fscale);
    const __m256i top = _mm256_set1_epi32(j->fbins - 1);
    /* packs/packus leave the bytes of vector k in dwords k and k + 4 */
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    __m256i off[3];   /* the lane's bias table: pixel (8k + i) / 3 of the step */
    for (int k = 0; k < 3; k++) {
        int32_t o[8];
        for (int i = 0; i < 8; i++)
            o[i] = dither ? (8 * k + i) / 3 * j->fbins : 0;
        off[k] = _mm256_loadu_si256((const __m256i *)(const void *)o);
    }
    _Alignas(32) uint32_t idx[24];
    for (size_t i = 0; i < n; i += 24) {
        const uint16_t *h = hr + i;
        const uint8_t *s = sr + i;
        __m256 g0 = gains8(th, ts, h, s), g1 = gains8(th, ts, h + 8, s + 8), g2 = gains8(th, ts, h + 16, s + 16);
        _mm256_store_si256((__m256i *)(void *)idx, fine_bins8(g0, bin0, scale, top, off[0]));
        _mm256_store_si256((__m256i *)(void *)(idx + 8), fine_bins8(g1, bin0, scale, top, off[1]));
        _mm256_store_si256((__m256i *)(void *)(idx + 16), fine_bins8(g2, bin0, scale, top, off[2]));
        __m256i c0 = fine_codes8(tab, idx, g0), c1 = fine_codes8(tab, idx + 8, g1), c2 = fine_codes8(tab, idx + 16, g2);
        __m256i b = _mm256_packus_epi16(_mm256_packs_epi32(c0, c1), _mm256_packs_epi32(c2, c2));
        b = _mm256_permutevar8x32_epi32(b, order);
        _mm_storeu_si128((__m128i *)(void *)(out + i), _mm256_castsi256_si128(b));
        _mm_storel_epi64((__m128i *)(void *)(out + i + 16), _mm256_extracti128_si256(b, 1));
    }
}
#endif   /* GM_HAVE_AVX2_TARGET */
#endif

/* Direct tables at full map size: gains straight from the samples, with
 * no row arrays in between (the default encoder's case). */
static void direct_pass1(cm_job *j, int wk, uint32_t y0, uint32_t y1)
{
    const gainmap_image *s = j->sdr, *h = j->hdr;
    const uint32_t w = j->a.w, snc = s->channels, hnc = h->channels, sci = snc == 1 ? 0 : 1,
                   hci = hnc == 1 ? 0 : 1, hp0 = j->hpos;
    const bool h16 = h->type == GAINMAP_PIXEL_U16, inrange = j->inrange != 0;
    const float *ts = j->tsdr, *th = j->thdr;
    uint32_t *hist = j->hist[wk];
    float vmin[3] = {INFINITY, INFINITY, INFINITY}, vmax[3] = {-INFINITY, -INFINITY, -INFINITY};
    uint32_t zero[3] = {0, 0, 0};
#ifdef __SSE2__
    const size_t nfast = j->plain ? 0 : (size_t)(w & ~7u) * 3;
    cm_p1 acc;
    p1_init(j, &acc);
#endif
    for (uint32_t y = y0; y < y1; y++) {
        const uint8_t *srow = (const uint8_t *)s->data + (size_t)y * s->stride;
        const uint8_t *hrow = (const uint8_t *)h->data + (size_t)y * h->stride;
        const uint16_t *h16row = (const uint16_t *)(const void *)hrow;
        if (h16 && snc == 3 && hnc == 3 && inrange) {
            /* the usual layout, channels unrolled */
            size_t i = 0;
#ifdef __SSE2__
            p1_run(j, h16row, srow, nfast, hist, &acc);
            i = nfast;
#endif
            for (; i < (size_t)w * 3; i += 3) {
                uint32_t h0 = h16row[i], h1 = h16row[i + 1], h2 = h16row[i + 2];
                float v0 = th[h0] - ts[srow[i]], v1 = th[h1] - ts[srow[i + 1]], v2 = th[h2] - ts[srow[i + 2]];
                vmin[0] = GM_MIN(vmin[0], v0);
                vmax[0] = GM_MAX(vmax[0], v0);
                vmin[1] = GM_MIN(vmin[1], v1);
                vmax[1] = GM_MAX(vmax[1], v1);
                vmin[2] = GM_MIN(vmin[2], v2);
                vmax[2] = GM_MAX(vmax[2], v2);
                int b0 = (int)(((double)v0 - HIST_LO) * 256.0), b1 = (int)(((double)v1 - HIST_LO) * 256.0),
                    b2 = (int)(((double)v2 - HIST_LO) * 256.0);   /* v >= HIST_LO: floor */
                hist[GM_MIN(b0, HIST_BINS - 1)]++;
                hist[HIST_BINS + GM_MIN(b1, HIST_BINS - 1)]++;
                hist[2 * HIST_BINS + GM_MIN(b2, HIST_BINS - 1)]++;
                zero[0] |= h0 < hp0;
                zero[1] |= h1 < hp0;
                zero[2] |= h2 < hp0;
            }
            continue;
        }
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t c = 0; c < 3; c++) {
                size_t hi = (size_t)x * hnc + c * hci;
                uint32_t hv = h16 ? h16row[hi] : hrow[hi];
                float v = th[hv] - ts[srow[(size_t)x * snc + c * sci]];
                if (!inrange)
                    v = v >= -20.0f && v <= 20.0f ? v : v > 20.0f ? 20.0f : -20.0f;
                vmin[c] = GM_MIN(vmin[c], v);
                vmax[c] = GM_MAX(vmax[c], v);
                int bin = (int)(((double)v - HIST_LO) * 256.0);   /* v >= HIST_LO: floor */
                hist[c * HIST_BINS + (size_t)GM_MIN(bin, HIST_BINS - 1)]++;
                zero[c] |= hv < hp0;
            }
    }
#ifdef __SSE2__
    p1_fold(j, &acc, vmin, vmax, zero);
#endif
    for (int c = 0; c < 3; c++) {
        j->vmin[wk][c] = GM_MIN(j->vmin[wk][c], (double)vmin[c]);
        j->vmax[wk][c] = GM_MAX(j->vmax[wk][c], (double)vmax[c]);
        j->anyzero[wk][c] |= (int)zero[c];
    }
}

static void direct_pass2(cm_job *j, uint32_t y0, uint32_t y1)
{
    const gainmap_image *s = j->sdr, *h = j->hdr;
    const uint32_t w = j->a.w, snc = s->channels, hnc = h->channels, sci = snc == 1 ? 0 : 1,
                   hci = hnc == 1 ? 0 : 1, hp0 = j->hpos;
    const bool h16 = h->type == GAINMAP_PIXEL_U16, inrange = j->inrange != 0, dither = j->nbias > 1;
    const float *ts = j->tsdr, *th = j->thdr;
    const cm_qtab qt = {j->thr, j->bin0, j->binscale, j->start};
    for (uint32_t y = y0; y < y1; y++) {
        const uint8_t *srow = (const uint8_t *)s->data + (size_t)y * s->stride;
        const uint8_t *hrow = (const uint8_t *)h->data + (size_t)y * h->stride;
        const uint16_t *h16row = (const uint16_t *)(const void *)hrow;
        uint8_t *out = (uint8_t *)j->map->data + (size_t)y * j->map->stride;
        const size_t brow = dither ? (size_t)(y & 7) * 8 : 0;   /* first bias set of the row */
        if (h16 && snc == 3 && hnc == 3 && inrange) {
            size_t i = 0;
#ifdef __SSE2__
            if (j->fine) {
                i = (size_t)(w & ~7u) * 3;
                const cm_qent *tab = j->fine + brow * (size_t)j->fbins;
#if GM_HAVE_AVX2_TARGET
                if (j->avx2)
                    pass2_avx2(j, h16row, srow, i, tab, dither, out);
                else
#endif
                    pass2_sse2(j, h16row, srow, i, tab, dither, out);
            }
#endif
            for (; i < (size_t)w * 3; i += 3) {
                size_t b = brow + (dither ? (i / 3) & 7 : 0);
                uint32_t h0 = h16row[i], h1 = h16row[i + 1], h2 = h16row[i + 2];
                float v0 = th[h0] - ts[srow[i]], v1 = th[h1] - ts[srow[i + 1]], v2 = th[h2] - ts[srow[i + 2]];
                out[i] = h0 < hp0 ? 0 : code_at(j, qt, b, 0, v0);
                out[i + 1] = h1 < hp0 ? 0 : code_at(j, qt, b, 1, v1);
                out[i + 2] = h2 < hp0 ? 0 : code_at(j, qt, b, 2, v2);
            }
            continue;
        }
        for (uint32_t x = 0; x < w; x++) {
            size_t b = brow + (dither ? x & 7 : 0);
            for (uint32_t c = 0; c < 3; c++) {
                size_t hi = (size_t)x * hnc + c * hci;
                uint32_t hv = h16 ? h16row[hi] : hrow[hi];
                float v = th[hv] - ts[srow[(size_t)x * snc + c * sci]];
                if (!inrange)
                    v = v >= -20.0f && v <= 20.0f ? v : v > 20.0f ? 20.0f : -20.0f;
                out[3 * (size_t)x + c] = hv < hp0 ? 0 : code_at(j, qt, b, c, v);
            }
        }
    }
}

static void cm_strip(void *arg, int wk, uint32_t my0, uint32_t my1)
{
    cm_job *j = arg;
    if (j->direct && j->a.scale == 1) {
        if (j->pass == 1)
            direct_pass1(j, wk, my0, my1);
        else
            direct_pass2(j, my0, my1);
        return;
    }
    size_t nc = (size_t)j->a.nc, mw = j->a.mw;
    float *vals = j->vals[wk];
    uint8_t *zf = j->zf[wk];
    for (uint32_t my = my0; my < my1; my++) {
        map_row(j, wk, my, vals, zf);
        if (j->pass == 1) {
            uint32_t *hist = j->hist[wk];
            double *vmin = j->vmin[wk], *vmax = j->vmax[wk];
            int *anyzero = j->anyzero[wk];
            for (size_t i = 0; i < mw; i++)
                for (size_t c = 0; c < nc; c++) {
                    double v = vals[i * nc + c];
                    vmin[c] = GM_MIN(vmin[c], v);
                    vmax[c] = GM_MAX(vmax[c], v);
                    int bin = (int)((v - HIST_LO) * 256.0);   /* v >= HIST_LO: floor */
                    hist[c * HIST_BINS + (size_t)GM_MIN(bin, HIST_BINS - 1)]++;
                    anyzero[c] |= zf[i * nc + c];
                }
            continue;
        }
        uint8_t *out = (uint8_t *)j->map->data + (size_t)my * j->map->stride;
        const cm_qtab qt = {j->thr, j->bin0, j->binscale, j->start};
        for (size_t i = 0; i < mw; i++) {
            size_t b = j->nbias > 1 ? (size_t)((my & 7) * 8 + (i & 7)) : 0;
            for (size_t c = 0; c < nc; c++)
                out[i * nc + c] = zf[i * nc + c] ? 0 : code_at(j, qt, b, c, vals[i * nc + c]);
        }
    }
}

/* Smallest float f with (double)f >= x. */
static float float_at_or_above(double x)
{
    float f = (float)x;
    if ((double)f < x)
        f = nextafterf(f, INFINITY);
    return f;
}

/* Thresholds of the quantiser: code = #{i >= 1 : G >= T_i} where T_i
 * solves 255 * ((G - min) / (max - min))^gamma + bias = i, the same codes
 * as floor(255 r^gamma + bias) up to the last bit of rounding.  Channels
 * with the first one's range (all three of a 3-channel map, build_meta)
 * share its thresholds: a copy, not 255 more pow() per bias set. */
static void setup_thresholds(cm_job *j, const cm_quant *q)
{
    size_t nc = (size_t)j->a.nc;
    for (int b = 0; b < j->nbias; b++) {
        double bias = j->nbias > 1 ? (bayer8[b / 8][b % 8] + 0.5) / 64.0 : 0.5;
        for (size_t c = 0; c < nc; c++) {
            float *t = j->thr + ((size_t)b * 3 + c) * QTHR;
            if (c > 0 && q->minv[c] == q->minv[0] && q->maxv[c] == q->maxv[0]) {
                memcpy(t, j->thr + (size_t)b * 3 * QTHR, QTHR * sizeof *t);
                continue;
            }
            double lo = q->minv[c], span = q->maxv[c] - q->minv[c];
            t[0] = -INFINITY;
            for (int i = 1; i < 256; i++) {
                double r = pow(((double)i - bias) / 255.0, 1.0 / q->gamma);
                t[i] = float_at_or_above(lo + span * r);
            }
            t[256] = INFINITY;
        }
    }
}

/* Bin table of quantise(): each bin's starting code. */
static void setup_bins(cm_job *j, const cm_quant *q)
{
    size_t nc = (size_t)j->a.nc;
    for (int b = 0; b < j->nbias; b++) {
        for (size_t c = 0; c < nc; c++) {
            size_t ti = (size_t)b * 3 + c;
            const float *t = j->thr + ti * QTHR;
            double lo = q->minv[c], span = q->maxv[c] - q->minv[c];
            j->bin0[ti] = (float)lo;
            j->binscale[ti] = (float)((double)QBINS / span);
            uint8_t *st = j->start + ti * QBINS;
            unsigned code = 0;
            for (int i = 0; i < QBINS; i++) {
                /* code of the bin's lowest value; the lookup corrects either way */
                float edge = (float)(lo + (double)i / (double)j->binscale[ti]);
                while (edge >= t[code + 1])
                    code++;
                st[i] = (uint8_t)code;
            }
        }
    }
}

/* The fine table: bins so narrow that none holds two thresholds of any
 * bias set, so a gain's code is the bin's code or one less, by one
 * comparison (no search).  Proved per bin, not assumed: edge[k] is the
 * smallest float whose fine_bin() is >= k (found by stepping floats), the
 * bin's gains are [edge[k], edge[k+1]), their codes run from the count of
 * thresholds <= edge[k] and the next threshold but one must not be below
 * edge[k+1].  When some bin fails (a gamma < 1 packs thresholds near the
 * minimum more tightly than FINE_MAX bins resolve) the bin table and
 * quantise() are used.  Needs one range for all channels. */
static gainmap_status build_fine(gainmap_ctx *ctx, cm_job *j, const cm_quant *q)
{
    for (int c = 1; c < j->a.nc; c++)
        if (q->minv[c] != q->minv[0] || q->maxv[c] != q->maxv[0])
            return GAINMAP_OK;
    double lo = q->minv[0], span = q->maxv[0] - lo, gap = INFINITY;
    for (int b = 0; b < j->nbias; b++) {
        const float *t = j->thr + (size_t)b * 3 * QTHR;
        for (int i = 1; i < 255; i++)
            gap = GM_MIN(gap, (double)t[i + 1] - (double)t[i]);
    }
    if (!(gap > 0.0) || !(span > 0.0) || !(1.5 * span / gap < FINE_MAX))
        return GAINMAP_OK;
    float *edge = gm_malloc(ctx, (FINE_MAX + 1) * sizeof *edge);
    if (!edge)
        return GAINMAP_ERR_NOMEM;
    gainmap_status st = GAINMAP_OK;
    for (int nb = GM_MAX(16, (int)ceil(1.5 * span / gap)); nb <= FINE_MAX && st == GAINMAP_OK; nb *= 2) {
        float bin0 = (float)lo, scale = (float)((double)nb / span);
        /* (v - bin0) * scale must stay below 2^31 (cvttps2dq) for v <= 20 */
        if (!((20.0 - (double)bin0) * (double)scale < 0x1p30))
            break;
        edge[0] = -INFINITY;
        edge[nb] = INFINITY;
        for (int k = 1; k < nb; k++) {
            float e = (float)((double)bin0 + (double)k / (double)scale);
            while (fine_bin(e, bin0, scale, nb) >= k)
                e = nextafterf(e, -INFINITY);
            while (fine_bin(e, bin0, scale, nb) < k)
                e = nextafterf(e, INFINITY);
            edge[k] = e;
        }
        cm_qent *fine = gm_malloc(ctx, (size_t)j->nbias * (size_t)nb * sizeof *fine);
        if (!fine) {
            st = GAINMAP_ERR_NOMEM;
            break;
        }
        bool ok = true;
        for (int b = 0; b < j->nbias && ok; b++) {
            const float *t = j->thr + (size_t)b * 3 * QTHR;
            cm_qent *tab = fine + (size_t)b * (size_t)nb;
            int c = 0;   /* thresholds <= edge[k] */
            for (int k = 0; k < nb && ok; k++) {
                while (c < 255 && t[c + 1] <= edge[k])
                    c++;
                ok = c == 255 || !(t[c + 2] < edge[k + 1]);
                tab[k].thr = t[c + 1];
                tab[k].code = c + 1;
            }
        }
        if (ok) {
            j->fine = fine;
            j->fbins = nb;
            j->fbin0 = bin0;
            j->fscale = scale;
            break;
        }
        free(fine);
    }
    free(edge);
    return st;
}

static void job_free(cm_job *j)
{
    gm_linear_free(&j->ls);
    gm_linear_free(&j->lh);
    free(j->tsdr);
    free(j->thdr);
    for (int i = 0; i < j->workers; i++) {
        if (j->rs)
            free(j->rs[i]);
        if (j->rh)
            free(j->rh[i]);
        if (j->g)
            free(j->g[i]);
        if (j->vals)
            free(j->vals[i]);
        if (j->acc)
            free(j->acc[i]);
        if (j->gz)
            free(j->gz[i]);
        if (j->zf)
            free(j->zf[i]);
        if (j->hist)
            free(j->hist[i]);
    }
    free(j->rs);
    free(j->rh);
    free(j->g);
    free(j->vals);
    free(j->acc);
    free(j->gz);
    free(j->zf);
    free(j->hist);
    free(j->vmin);
    free(j->vmax);
    free(j->anyzero);
    free(j->thr);
    free(j->start);
    free(j->bin0);
    free(j->binscale);
    free(j->fine);
}

/* Direct tables when every sample's linear value is the table's (3-channel
 * map, integer images, no conversion, no HLG OOTF, monotone tables). */
static gainmap_status direct_tables(gainmap_ctx *ctx, cm_job *j)
{
    const gainmap_image *s = j->sdr, *h = j->hdr;
    if (j->a.nc != 3 || s->type != GAINMAP_PIXEL_U8 || h->type == GAINMAP_PIXEL_F32 || j->ls.convert ||
        j->lh.convert || j->ls.hlg || j->lh.hlg || !j->ls.lut || !j->lh.lut)
        return GAINMAP_OK;
    size_t hn = h->type == GAINMAP_PIXEL_U16 ? 65536 : 256;
    for (size_t i = 1; i < hn; i++)
        if (!(j->lh.lut[i] >= j->lh.lut[i - 1]))
            return GAINMAP_OK;
    j->tsdr = gm_malloc(ctx, 256 * sizeof(float));
    j->thdr = gm_malloc(ctx, hn * sizeof(float));
    if (!j->tsdr || !j->thdr)
        return GAINMAP_ERR_NOMEM;
    double k = j->a.k;
    for (size_t i = 0; i < 256; i++)
        j->tsdr[i] = (float)log2(GM_MAX((double)j->ls.lut[i], 0.0) + k + 1e-12);
    j->hpos = 0;
    for (size_t i = 0; i < hn; i++) {
        double v = j->lh.lut[i];
        j->thdr[i] = (float)log2(GM_MAX(v, 0.0) + j->a.kh);
        if (!(v > 0.0))
            j->hpos = (uint32_t)i + 1;
    }
    j->direct = 1;
    /* Every difference inside [-20, 20] stops and finite: no clamp needed. */
    float smin = INFINITY, smax = -INFINITY, hmin = INFINITY, hmax = -INFINITY;
    for (size_t i = 0; i < 256; i++) {
        smin = GM_MIN(smin, j->tsdr[i]);
        smax = GM_MAX(smax, j->tsdr[i]);
    }
    for (size_t i = 0; i < hn; i++) {
        hmin = GM_MIN(hmin, j->thdr[i]);
        hmax = GM_MAX(hmax, j->thdr[i]);
    }
    j->inrange = isfinite(smin) && isfinite(smax) && isfinite(hmin) && isfinite(hmax) && hmax - smin <= 20.0f &&
                 hmin - smax >= -20.0f;
    return GAINMAP_OK;
}

/* gainmap_compute, or with plain != 0 the same tables evaluated one sample
 * at a time (gm_compute_plain, for the tests). */
static gainmap_status compute(gainmap_ctx *ctx, const gainmap_image *sdr, const gainmap_image *hdr,
                              const gainmap_encode_options *opts, gainmap_image *map, gainmap_metadata *meta, int plain,
                              gainmap_image *give, gm_compute_stats *stats)
{
    gainmap_encode_options defaults;
    if (!opts) {
        gainmap_encode_options_init(&defaults);
        opts = &defaults;
    }
    cm_job j;
    memset(&j, 0, sizeof j);
    gainmap_status st = check_args(ctx, sdr, hdr, opts, map, meta, &j.a);
    if (st != GAINMAP_OK)
        return st;
    memset(map, 0, sizeof *map);
    j.sdr = sdr;
    j.hdr = hdr;
    j.plain = plain;
    j.avx2 = !plain && gm_cpu_avx2();
    uint32_t mh = j.a.mh;
    size_t nc = (size_t)j.a.nc, n = (size_t)j.a.mw * nc, w = j.a.w;
    uint32_t strip = (uint32_t)GM_MAX(1, 32 / j.a.scale);
    j.workers = gm_thread_count(ctx, mh, strip);
    st = gm_linear_init(ctx, &j.ls, sdr, j.a.space);
    if (st == GAINMAP_OK)
        st = gm_linear_init(ctx, &j.lh, hdr, j.a.space);
    if (st == GAINMAP_OK) {
        choose_shape(&j.a, &j.ls, &j.lh);
        j.koff = (float)j.a.kh;
        st = direct_tables(ctx, &j);
    }
    for (int c = 0; c < 3; c++) {
        j.tlo[c] = INFINITY;   /* count every gain */
        j.thi[c] = -INFINITY;
    }
#ifdef __SSE2__
    if (st == GAINMAP_OK && !plain && j.direct && j.a.scale == 1 && j.inrange && hdr->type == GAINMAP_PIXEL_U16 &&
        sdr->channels == 3 && hdr->channels == 3)
        st = tail_filter(ctx, &j);
#endif
    if (st != GAINMAP_OK)
        goto done;
    size_t W = (size_t)j.workers;
    j.rs = gm_calloc(ctx, W, sizeof *j.rs);
    j.rh = gm_calloc(ctx, W, sizeof *j.rh);
    j.g = gm_calloc(ctx, W, sizeof *j.g);
    j.vals = gm_calloc(ctx, W, sizeof *j.vals);
    j.acc = gm_calloc(ctx, W, sizeof *j.acc);
    j.gz = gm_calloc(ctx, W, sizeof *j.gz);
    j.zf = gm_calloc(ctx, W, sizeof *j.zf);
    j.hist = gm_calloc(ctx, W, sizeof *j.hist);
    j.vmin = gm_calloc(ctx, W, sizeof *j.vmin);
    j.vmax = gm_calloc(ctx, W, sizeof *j.vmax);
    j.anyzero = gm_calloc(ctx, W, sizeof *j.anyzero);
    if (!j.rs || !j.rh || !j.g || !j.vals || !j.acc || !j.gz || !j.zf || !j.hist || !j.vmin || !j.vmax ||
        !j.anyzero) {
        st = GAINMAP_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < W; i++) {
        if (!j.direct) {
            if (!(j.rs[i] = gm_malloc(ctx, w * 3 * sizeof(float))) || !(j.rh[i] = gm_malloc(ctx, w * 3 * sizeof(float))))
                st = GAINMAP_ERR_NOMEM;
        }
        if (j.a.scale > 1) {
            if (!(j.g[i] = gm_malloc(ctx, w * nc * sizeof(float))) || !(j.gz[i] = gm_malloc(ctx, w * nc)) ||
                !(j.acc[i] = gm_malloc(ctx, n * sizeof(double))))
                st = GAINMAP_ERR_NOMEM;
        }
        if (!(j.vals[i] = gm_malloc(ctx, n * sizeof(float))) || !(j.zf[i] = gm_malloc(ctx, n)) ||
            !(j.hist[i] = gm_calloc(ctx, (size_t)HIST_BINS * nc, sizeof(uint32_t))))
            st = GAINMAP_ERR_NOMEM;
        for (int c = 0; c < 3; c++) {
            j.vmin[i][c] = INFINITY;
            j.vmax[i][c] = -INFINITY;
        }
        if (st != GAINMAP_OK)
            goto done;
    }

    /* Pass 1: histogram, extremes, zero samples. */
    j.pass = 1;
    gm_parallel_strips(j.workers, mh, strip, cm_strip, &j);
    for (size_t i = 1; i < W; i++) {
        for (size_t b = 0; b < (size_t)HIST_BINS * nc; b++)
            j.hist[0][b] += j.hist[i][b];
        for (size_t c = 0; c < nc; c++) {
            j.vmin[0][c] = GM_MIN(j.vmin[0][c], j.vmin[i][c]);
            j.vmax[0][c] = GM_MAX(j.vmax[0][c], j.vmax[i][c]);
            j.anyzero[0][c] |= j.anyzero[i][c];
        }
    }
    if (stats) {
        memset(stats, 0, sizeof *stats);
        for (size_t c = 0; c < nc; c++) {
            memcpy(stats->hist[c], j.hist[0] + c * HIST_BINS, HIST_BINS * sizeof(uint32_t));
            stats->vmin[c] = j.vmin[0][c];
            stats->vmax[c] = j.vmax[0][c];
            stats->anyzero[c] = j.anyzero[0][c];
        }
        stats->avx2 = j.avx2;
    }
    cm_quant q;
    build_meta(opts, &j.a, (int)nc, j.hist[0], (uint64_t)j.a.mw * mh, j.vmin[0], j.vmax[0], j.anyzero[0], meta, &q);

    /* Pass 2: the same gains again, quantised with the stored values (FORMATS.md 4.1.5). */
    j.nbias = q.dither ? 64 : 1;
    if (!(j.thr = gm_malloc(ctx, (size_t)j.nbias * 3 * QTHR * sizeof(float)))) {
        st = GAINMAP_ERR_NOMEM;
        goto done;
    }
    setup_thresholds(&j, &q);
    if (!plain && (st = build_fine(ctx, &j, &q)) != GAINMAP_OK)
        goto done;
    if (!j.fine) {
        j.start = gm_malloc(ctx, (size_t)j.nbias * 3 * QBINS);
        j.bin0 = gm_malloc(ctx, (size_t)j.nbias * 3 * sizeof(float));
        j.binscale = gm_malloc(ctx, (size_t)j.nbias * 3 * sizeof(float));
        if (!j.start || !j.bin0 || !j.binscale) {
            st = GAINMAP_ERR_NOMEM;
            goto done;
        }
        setup_bins(&j, &q);
    }
    /* The direct passes test "HDR <= 0" themselves, except pass2_sse2:
     * there -inf gains fall in bin 0 and get code 0 (pass 1 is done with
     * the true values; scaled maps average th in row_gains, not here). */
    if (j.direct && j.a.scale == 1)
        for (uint32_t i = 0; i < j.hpos; i++)
            j.thdr[i] = -INFINITY;
    gainmap_image base_view;   /* pass 2 reads the base through this when the map takes its pixels */
    if (give && j.a.scale == 1 && nc == 3 && sdr->channels == 3 && sdr->type == GAINMAP_PIXEL_U8 &&
        sdr->stride == (size_t)j.a.mw * 3) {
        base_view = *sdr;
        j.sdr = &base_view;
        j.ls.img = &base_view;
        map->data = give->data;
        give->data = NULL;
        map->width = j.a.mw;
        map->height = mh;
        map->channels = 3;
        map->type = GAINMAP_PIXEL_U8;
        map->stride = sdr->stride;
    } else if ((st = gainmap_image_alloc(ctx, map, j.a.mw, mh, (uint32_t)nc, GAINMAP_PIXEL_U8)) != GAINMAP_OK) {
        goto done;
    }
    j.map = map;
    j.pass = 2;
    gm_parallel_strips(j.workers, mh, strip, cm_strip, &j);
    map->transfer = GAINMAP_TRANSFER_UNKNOWN;
    map->primaries = GAINMAP_PRIMARIES_UNKNOWN;
    map->bit_depth = 8;
done:
    if (st != GAINMAP_OK)
        gainmap_image_free(map);
    job_free(&j);
    return st;
}

gainmap_status gainmap_compute(gainmap_ctx *ctx, const gainmap_image *sdr, const gainmap_image *hdr,
                               const gainmap_encode_options *opts, gainmap_image *map, gainmap_metadata *meta)
{
    return compute(ctx, sdr, hdr, opts, map, meta, 0, NULL, NULL);
}

gainmap_status gm_compute_over_base(gainmap_ctx *ctx, gainmap_image *sdr, const gainmap_image *hdr,
                                    const gainmap_encode_options *opts, gainmap_image *map, gainmap_metadata *meta)
{
    gainmap_status st = compute(ctx, sdr, hdr, opts, map, meta, 0, sdr, NULL);
    free(sdr->data);
    sdr->data = NULL;
    return st;
}

/* The histogram bin pass 1 gives gain v (tests: against the double sum). */
int gm_compute_hist_bin(float v)
{
#ifdef __SSE2__
    int32_t b[4];
    _mm_storeu_si128((__m128i *)(void *)b, hist_bins4(_mm_set1_ps(v)));
    return GM_MIN(b[0] + HIST_ZERO, HIST_BINS - 1);
#else
    int bin = (int)(((double)v - HIST_LO) * 256.0);
    return GM_MIN(bin, HIST_BINS - 1);
#endif
}

gainmap_status gm_compute_plain(gainmap_ctx *ctx, const gainmap_image *sdr, const gainmap_image *hdr,
                                const gainmap_encode_options *opts, gainmap_image *map, gainmap_metadata *meta)
{
    return compute(ctx, sdr, hdr, opts, map, meta, 1, NULL, NULL);
}

gainmap_status gm_compute_with_stats(gainmap_ctx *ctx, const gainmap_image *sdr, const gainmap_image *hdr,
                                     const gainmap_encode_options *opts, gainmap_image *map, gainmap_metadata *meta,
                                     gm_compute_stats *stats)
{
    _Static_assert(sizeof stats->hist[0] == HIST_BINS * sizeof(uint32_t), "histogram size");
    return compute(ctx, sdr, hdr, opts, map, meta, 0, NULL, stats);
}

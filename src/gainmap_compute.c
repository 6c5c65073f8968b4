/* gainmap_compute.c - an 8-bit gain map and its exact metadata from an SDR
 * base and an HDR rendition (FORMATS.md 4.1).
 *
 * Both images are linearised (1.0 = SDR white) into the base's primaries
 * (use_base_colour_space = 1, which UltraHDR XMP requires), then per pixel
 *   G = log2((HDR + k) / (SDR + k))
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

/* Histogram for the robust range: 1/256-stop bins over [-20, +20] stops. */
#define HIST_LO (-20.0)
#define HIST_BINS (40 * 256)
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
    o->quality = 92;
    o->gainmap_quality = 92;
    o->subsampling = 444;
    o->gainmap_channels = 3;
    o->gainmap_scale = 1;
    o->gamma = 1.25;
    o->offset = 1.0 / 1024.0;
    o->min_boost = NAN;
    o->max_boost = NAN;
    o->target_headroom = 0.0;
    o->metadata = GAINMAP_METADATA_BOTH;
    o->dither = -1;
    gainmap_tonemap_options_init(&o->tonemap);
}

int gm_encode_preset(gainmap_encode_options *o, const char *name)
{
    if (!o || !name)
        return -1;
    if (strcmp(name, "default") == 0) {
        gainmap_tonemap_options keep = o->tonemap;
        gainmap_encode_options_init(o);
        o->tonemap = keep;
        return 0;
    }
    if (strcmp(name, "small") == 0) {
        /* <= 1.6 bits per pixel at >= 40 dB on the bundled sample. */
        o->quality = 75;
        o->gainmap_quality = 75;
        o->subsampling = 420;
        o->gainmap_channels = 3;
        o->gainmap_scale = 1;
        o->gamma = 1.25;
        return 0;
    }
    return -1;
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
    lin->tf = img->transfer;
    if (lin->tf == GAINMAP_TRANSFER_UNKNOWN)
        lin->tf = img->type == GAINMAP_PIXEL_F32 ? GAINMAP_TRANSFER_LINEAR : GAINMAP_TRANSFER_SRGB;
    gainmap_primaries src = img->primaries;
    if (src == GAINMAP_PRIMARIES_UNKNOWN)
        src = (lin->tf == GAINMAP_TRANSFER_PQ || lin->tf == GAINMAP_TRANSFER_HLG) ? GAINMAP_PRIMARIES_BT2020
                                                                                  : GAINMAP_PRIMARIES_BT709;
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

void gm_linear_row(const gm_linear *lin, uint32_t y, float *out)
{
    const gainmap_image *img = lin->img;
    const uint8_t *row = (const uint8_t *)img->data + (size_t)y * img->stride;
    uint32_t nc = img->channels, w = img->width;
    for (uint32_t x = 0; x < w; x++) {
        double v[3];
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
        if (lin->hlg) {
            /* BT.2100 OOTF for a 1000 cd/m2 display, then 1.0 = 203 cd/m2.
             * Luminance with BT.2020 weights on the signal's own R, G, B
             * for every primaries (BT.2100's definition, and the inverse
             * the decoder applies); tonemap.c should match (docs/encoding.md). */
            double nits[3];
            gainmap_hlg_ootf(v, 1000.0, nits);
            for (int c = 0; c < 3; c++)
                v[c] = nits[c] / 203.0;
        }
        if (lin->convert) {
            const double *m = lin->m;
            double r = m[0] * v[0] + m[1] * v[1] + m[2] * v[2];
            double g = m[3] * v[0] + m[4] * v[1] + m[5] * v[2];
            double b = m[6] * v[0] + m[7] * v[1] + m[8] * v[2];
            v[0] = r;
            v[1] = g;
            v[2] = b;
        }
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
static void robust_range(const uint32_t *hist, uint64_t count, double vmin, double vmax, double *lo, double *hi)
{
    uint64_t tail = (uint64_t)((double)count * RANGE_TAIL);
    uint64_t acc = 0;
    int a = 0, b = HIST_BINS - 1;
    for (; a < HIST_BINS - 1; a++) {
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
    *lo = GM_MAX(vmin, HIST_LO + (double)a / 256.0);
    *hi = GM_MIN(vmax, HIST_LO + (double)(b + 1) / 256.0);
}

gainmap_status gainmap_compute(gainmap_ctx *ctx, const gainmap_image *sdr, const gainmap_image *hdr,
                               const gainmap_encode_options *opts, gainmap_image *map, gainmap_metadata *meta)
{
    if (!sdr || !hdr || !map || !meta || !sdr->data || !hdr->data)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gainmap_compute: missing image or output");
    gainmap_encode_options defaults;
    if (!opts) {
        gainmap_encode_options_init(&defaults);
        opts = &defaults;
    }
    if (sdr->width != hdr->width || sdr->height != hdr->height)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "SDR image is %ux%u but the HDR image is %ux%u", sdr->width,
                        sdr->height, hdr->width, hdr->height);
    int nc = opts->gainmap_channels;
    int scale = opts->gainmap_scale;
    if (nc != 1 && nc != 3)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gain-map channels must be 1 or 3, not %d", nc);
    if (scale != 1 && scale != 2 && scale != 4)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gain-map scale must be 1, 2 or 4, not %d", scale);
    double k = opts->offset;
    if (!(k >= 0.0 && k <= 1.0))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gain-map offset %g is outside [0, 1]", k);
    if (!(opts->gamma > 0.0 && opts->gamma <= 16.0))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gain-map gamma %g is outside (0, 16]", opts->gamma);
    if (!(opts->target_headroom >= 0.0 && opts->target_headroom <= 16.0))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "target headroom %g is outside [0, 16] stops",
                        opts->target_headroom);
    uint32_t w = sdr->width, h = sdr->height;
    gainmap_status st = gm_check_dims(ctx, w, h, 16, "gain-map input");
    if (st != GAINMAP_OK)
        return st;
    uint32_t mw = (w + (uint32_t)scale - 1) / (uint32_t)scale, mh = (h + (uint32_t)scale - 1) / (uint32_t)scale;

    gainmap_primaries space = sdr->primaries != GAINMAP_PRIMARIES_UNKNOWN ? sdr->primaries
                                                                          : opts->tonemap.base_primaries;
    if (space == GAINMAP_PRIMARIES_UNKNOWN)
        space = GAINMAP_PRIMARIES_BT709;
    double wt[3];
    gainmap_luma_weights(space, wt);

    gm_linear ls, lh;
    float *rs = NULL, *rh = NULL, *g = NULL;
    double *acc = NULL;
    uint32_t *hist = NULL;
    uint8_t *zero = NULL;   /* per map sample: every HDR sample under it is <= 0 */
    double vmin[3] = {INFINITY, INFINITY, INFINITY}, vmax[3] = {-INFINITY, -INFINITY, -INFINITY};
    memset(map, 0, sizeof *map);
    st = gm_linear_init(ctx, &ls, sdr, space);
    if (st == GAINMAP_OK)
        st = gm_linear_init(ctx, &lh, hdr, space);
    else
        memset(&lh, 0, sizeof lh);
    if (st != GAINMAP_OK)
        goto done;
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
                double *a = acc + mi;
                if (nc == 1) {
                    double ys = wt[0] * s[0] + wt[1] * s[1] + wt[2] * s[2];
                    double yh = wt[0] * t[0] + wt[1] * t[1] + wt[2] * t[2];
                    a[0] += log2((GM_MAX(yh, 0.0) + k) / (GM_MAX(ys, 0.0) + k + 1e-12));
                    if (yh > 0.0)
                        zrow[mi] = 0;
                } else {
                    for (int c = 0; c < 3; c++) {
                        a[c] += log2((GM_MAX((double)t[c], 0.0) + k) / (GM_MAX((double)s[c], 0.0) + k + 1e-12));
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
                double v = acc[(size_t)mx * (size_t)nc + (size_t)c] / area;
                /* k = 0 and black pixels give infinities; keep them finite. */
                v = isfinite(v) ? GM_CLAMP(v, -20.0, 20.0) : (v > 0 ? 20.0 : -20.0);
                g[((size_t)my * mw + mx) * (size_t)nc + (size_t)c] = (float)v;
                vmin[c] = GM_MIN(vmin[c], v);
                vmax[c] = GM_MAX(vmax[c], v);
                int bin = (int)floor((v - HIST_LO) * 256.0);
                hist[(size_t)c * HIST_BINS + (size_t)GM_CLAMP(bin, 0, HIST_BINS - 1)]++;
            }
        }
    }

    /* Range and metadata. */
    gainmap_params p;
    memset(&p, 0, sizeof p);
    double top = 0.0;
    for (int c = 0; c < nc; c++) {
        double lo, hi;
        robust_range(hist + (size_t)c * HIST_BINS, (uint64_t)mw * mh, vmin[c], vmax[c], &lo, &hi);
        if (isfinite(opts->min_boost))
            lo = opts->min_boost;
        if (isfinite(opts->max_boost))
            hi = opts->max_boost;
        if (hi < lo + 1.0 / 256.0)
            hi = lo + 1.0 / 256.0;
        if (!isfinite(opts->min_boost)) {
            /* Samples whose HDR value is 0 are written as code 0; keep
             * ZERO_MARGIN codes below the lowest needed gain so that map
             * JPEG error around them still decodes to <= 0 (clamped). */
            for (size_t i = (size_t)c; i < (size_t)mw * mh * (size_t)nc; i += (size_t)nc)
                if (zero[i]) {
                    lo -= ZERO_MARGIN * (hi - lo) / (255.0 - ZERO_MARGIN);
                    break;
                }
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
    gainmap_fraction kf = sfrac_user(k);
    gainmap_fraction gs = sfrac_user(opts->gamma);
    gainmap_ufraction gf = {(uint32_t)GM_MAX(gs.n, 0), gs.d};
    if (gf.n == 0)
        gf.n = 1;
    double minv[3], maxv[3];
    for (int c = 0; c < nc; c++) {
        meta->gain_map_min[c] = sfrac(p.gain_map_min[c]);
        meta->gain_map_max[c] = sfrac(p.gain_map_max[c]);
        if (meta->gain_map_max[c].n * (int64_t)meta->gain_map_min[c].d <=
            meta->gain_map_min[c].n * (int64_t)meta->gain_map_max[c].d)
            meta->gain_map_max[c] = sfrac(fval(meta->gain_map_min[c]) + 1e-3);
        meta->gamma[c] = gf;
        meta->base_offset[c] = kf;
        meta->alternate_offset[c] = kf;
        minv[c] = fval(meta->gain_map_min[c]);
        maxv[c] = fval(meta->gain_map_max[c]);
    }

    /* Pass 2: quantise with the exact stored values (FORMATS.md 4.1.5). */
    if ((st = gainmap_image_alloc(ctx, map, mw, mh, (uint32_t)nc, GAINMAP_PIXEL_U8)) != GAINMAP_OK)
        goto done;
    double gamma = (double)gf.n / (double)gf.d;
    int dither = opts->dither;
    if (dither < 0) {
        /* auto: dither when one code step is coarser than 1/32 stop */
        double step = 0.0;
        for (int c = 0; c < nc; c++)
            step = GM_MAX(step, (maxv[c] - minv[c]) / 255.0);
        dither = step > 1.0 / 32.0;
    }
    for (uint32_t y = 0; y < mh; y++) {
        uint8_t *out = (uint8_t *)map->data + (size_t)y * map->stride;
        const float *src = g + (size_t)y * mw * (size_t)nc;
        const uint8_t *zrow = zero + (size_t)y * mw * (size_t)nc;
        for (uint32_t x = 0; x < mw; x++) {
            double bias = dither ? (bayer8[y & 7][x & 7] + 0.5) / 64.0 : 0.5;
            for (int c = 0; c < nc; c++) {
                if (zrow[(size_t)x * (size_t)nc + (size_t)c]) {
                    out[(size_t)x * (size_t)nc + (size_t)c] = 0;
                    continue;
                }
                double r = ((double)src[(size_t)x * (size_t)nc + (size_t)c] - minv[c]) / (maxv[c] - minv[c]);
                r = GM_CLAMP(r, 0.0, 1.0);
                if (gamma != 1.0)
                    r = pow(r, gamma);
                double q = floor(r * 255.0 + bias);
                out[(size_t)x * (size_t)nc + (size_t)c] = (uint8_t)GM_CLAMP(q, 0.0, 255.0);
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

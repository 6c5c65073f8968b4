/* image_convert.c - an image re-encoded in another transfer, primaries and
 * pixel type through linear light (gainmap_image_recode), and its light
 * level in cd/m2 (gainmap_image_light_stats).  Linear 1.0 = SDR white =
 * 203 cd/m2 (BT.2408); HLG colour goes through the BT.2100 OOTF of a
 * 1000 cd/m2 display, never the per-channel shortcut. */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STRIP_ROWS 16

static gainmap_status check_image(gainmap_ctx *ctx, const gainmap_image *img, const char *fn)
{
    if (!img || !img->data || !img->width || !img->height)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "%s: no image (NULL or empty)", fn);
    uint64_t ps = gm_pixel_size(img->type);
    if (!ps || (img->channels != 1 && img->channels != 3 && img->channels != 4) ||
        (uint64_t)img->stride < (uint64_t)img->width * img->channels * ps)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "%s: inconsistent image (%ux%u, %u channels, stride %zu)", fn,
                        img->width, img->height, img->channels, img->stride);
    return GAINMAP_OK;
}

/* The integer code of sample i (U8/U16 only), to index a table. */
static inline unsigned code_at(gainmap_pixel_type t, const uint8_t *row, size_t i)
{
    if (t == GAINMAP_PIXEL_U8)
        return row[i];
    uint16_t v;
    memcpy(&v, row + 2 * i, 2);
    return v;
}

/* [0,1]; NaN -> 0. */
static inline double clamp01(double v) { return v > 0.0 ? (v < 1.0 ? v : 1.0) : 0.0; }

/* What one channel's signal becomes before the 3-channel step: HLG scene
 * light (the OOTF needs all three), else linear relative to SDR white. */
static double decode_channel(gainmap_transfer tf, double s)
{
    if (tf == GAINMAP_TRANSFER_HLG)
        return gainmap_hlg_inverse_oetf(clamp01(s));
    return gainmap_to_linear(tf, s);
}

/* For U8/U16 images: fn(tf, s) of every code s, so a pixel costs three
 * look-ups (the same doubles the direct calls give).  NULL for F32. */
static gainmap_status channel_table(gainmap_ctx *ctx, const gainmap_image *img, gainmap_transfer tf,
                                    double (*fn)(gainmap_transfer, double), double **out)
{
    *out = NULL;
    if (img->type == GAINMAP_PIXEL_F32)
        return GAINMAP_OK;
    size_t n = img->type == GAINMAP_PIXEL_U8 ? 256 : 65536;
    double *t = gm_malloc(ctx, n * sizeof *t);
    if (!t)
        return GAINMAP_ERR_NOMEM;
    double max = (double)(n - 1);
    for (size_t i = 0; i < n; i++)
        t[i] = fn(tf, (double)i / max);
    *out = t;
    return GAINMAP_OK;
}

static bool known_transfer(gainmap_transfer t) { return t >= GAINMAP_TRANSFER_LINEAR && t <= GAINMAP_TRANSFER_BT709; }

/* ---- gainmap_image_recode ------------------------------------------------ */

typedef struct recode_job {
    const gainmap_image *src;
    gainmap_image *dst;
    gainmap_transfer in_tf, out_tf;
    int gamut;
    double m[9];
    const double *table;   /* channel_table of src, or NULL */
} recode_job;

static void put_sample(gainmap_pixel_type t, uint8_t *row, size_t i, double v)
{
    switch (t) {
    case GAINMAP_PIXEL_U8: row[i] = (uint8_t)lrint(clamp01(v) * 255.0); break;
    case GAINMAP_PIXEL_U16: {
        uint16_t u = (uint16_t)lrint(clamp01(v) * 65535.0);
        memcpy(row + 2 * i, &u, 2);
        break;
    }
    case GAINMAP_PIXEL_F32: {
        float f = (float)v;
        memcpy(row + 4 * i, &f, 4);
        break;
    }
    }
}

static void recode_strip(void *arg, int worker, uint32_t y0, uint32_t y1)
{
    (void)worker;
    const recode_job *j = arg;
    const gainmap_image *src = j->src;
    gainmap_image *dst = j->dst;
    uint32_t ch = src->channels;
    for (uint32_t y = y0; y < y1; y++) {
        const uint8_t *srow = (const uint8_t *)src->data + (size_t)y * src->stride;
        uint8_t *drow = (uint8_t *)dst->data + (size_t)y * dst->stride;
        for (uint32_t x = 0; x < src->width; x++) {
            size_t base = (size_t)x * ch;
            double px[3];
            for (int c = 0; c < 3; c++) {
                size_t i = base + (ch >= 3 ? (size_t)c : 0);
                px[c] = j->table ? j->table[code_at(src->type, srow, i)]
                                 : decode_channel(j->in_tf, gm_sample(src->type, srow, i));
            }
            if (j->in_tf == GAINMAP_TRANSFER_HLG)
                gm_hlg_scene_to_linear(px);
            if (j->gamut)
                gm_mat3_apply(j->m, px, px);
            if (j->out_tf == GAINMAP_TRANSFER_HLG) {
                double nits[3], scene[3];
                for (int c = 0; c < 3; c++)
                    nits[c] = px[c] > 0.0 ? px[c] * GM_SDR_WHITE_NITS : 0.0;
                gainmap_hlg_inverse_ootf(nits, GM_HLG_DISPLAY_NITS, scene);
                for (int c = 0; c < 3; c++)
                    px[c] = gainmap_hlg_oetf(clamp01(scene[c]));
            } else if (j->out_tf != GAINMAP_TRANSFER_LINEAR) {
                for (int c = 0; c < 3; c++)
                    px[c] = clamp01(gainmap_from_linear(j->out_tf, px[c] > 0.0 ? px[c] : 0.0));
            }
            /* Grey stays grey: a neutral keeps R = G = B through the matrix. */
            put_sample(dst->type, drow, base, ch >= 3 ? px[0] : px[1]);
            if (ch >= 3) {
                put_sample(dst->type, drow, base + 1, px[1]);
                put_sample(dst->type, drow, base + 2, px[2]);
            }
            if (ch == 4)
                put_sample(dst->type, drow, base + 3, gm_sample(src->type, srow, base + 3));
        }
    }
}

gainmap_status gainmap_image_recode(gainmap_ctx *ctx, const gainmap_image *src, gainmap_transfer transfer,
                                    gainmap_primaries primaries, gainmap_pixel_type type, gainmap_image *dst)
{
    if (!dst)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "image_recode: NULL output image");
    if (dst == src)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "image_recode: the output must be another image than the input");
    memset(dst, 0, sizeof *dst);
    gainmap_status st = check_image(ctx, src, "image_recode");
    if (st != GAINMAP_OK)
        return st;
    if (!gm_pixel_size(type))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "image_recode: unknown pixel type %d", (int)type);
    if (!known_transfer(src->transfer))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG,
                        "the image's transfer is unknown: say how its samples are encoded (pq, hlg, linear, srgb...)");
    if (transfer != GAINMAP_TRANSFER_UNKNOWN && !known_transfer(transfer))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "image_recode: unknown output transfer %d", (int)transfer);
    recode_job j;
    memset(&j, 0, sizeof j);
    j.src = src;
    j.dst = dst;
    j.in_tf = src->transfer;
    j.out_tf = transfer == GAINMAP_TRANSFER_UNKNOWN ? src->transfer : transfer;
    gainmap_primaries out_p = primaries == GAINMAP_PRIMARIES_UNKNOWN ? src->primaries : primaries;
    j.gamut = src->primaries != out_p;
    if (j.gamut && gainmap_gamut_matrix(src->primaries, out_p, j.m) != 0)
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "cannot convert from %s to %s primaries",
                        gainmap_primaries_name(src->primaries), gainmap_primaries_name(out_p));

    double *table = NULL;
    if ((st = channel_table(ctx, src, j.in_tf, decode_channel, &table)) != GAINMAP_OK)
        return st;
    j.table = table;
    if ((st = gainmap_image_alloc(ctx, dst, src->width, src->height, src->channels, type)) != GAINMAP_OK) {
        free(table);
        return st;
    }
    dst->transfer = j.out_tf;
    dst->primaries = out_p;
    int cp = gainmap_primaries_to_cicp(out_p), tc = gainmap_transfer_to_cicp(j.out_tf);
    if (cp > 0 && tc > 0) {
        dst->has_cicp = 1;
        dst->cicp[0] = (uint8_t)cp;
        dst->cicp[1] = (uint8_t)tc;
        dst->cicp[2] = 0; /* RGB (H.273 MatrixCoefficients 0) */
        dst->cicp[3] = 1; /* full range */
    }
    dst->orientation = src->orientation;
    bool same = j.out_tf == src->transfer && out_p == src->primaries;
    if ((same && gainmap_image_set_icc(dst, src->icc, src->icc_size) != GAINMAP_OK) ||
        gainmap_image_set_exif(dst, src->exif, src->exif_size) != GAINMAP_OK) {
        free(table);
        gainmap_image_free(dst);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory copying the ICC profile or EXIF");
    }
    gm_parallel_strips(gm_thread_count(ctx, src->height, STRIP_ROWS), src->height, STRIP_ROWS, recode_strip, &j);
    free(table);
    return GAINMAP_OK;
}

/* ---- gainmap_image_light_stats ------------------------------------------- */

typedef struct stats_job {
    const gainmap_image *img;
    gainmap_transfer tf;
    double w[3];
    const double *table;   /* U8/U16: code -> nits (PQ, linear, SDR) or HLG scene light */
    float *lum;            /* row y's counted luminances start at lum + y * width */
    uint32_t *count;       /* per row: pixels counted */
    double *sum;           /* per row: sum of their luminance */
} stats_job;

static double channel_nits(gainmap_transfer tf, double s)
{
    switch (tf) {
    case GAINMAP_TRANSFER_PQ: return gainmap_pq_eotf(clamp01(s));
    case GAINMAP_TRANSFER_HLG: return gainmap_hlg_inverse_oetf(clamp01(s)); /* scene light: OOTF follows */
    case GAINMAP_TRANSFER_LINEAR: return s * GM_SDR_WHITE_NITS;
    default: return gainmap_to_linear(tf, s) * GM_SDR_WHITE_NITS;
    }
}

static void stats_strip(void *arg, int worker, uint32_t y0, uint32_t y1)
{
    (void)worker;
    const stats_job *j = arg;
    const gainmap_image *img = j->img;
    uint32_t ch = img->channels;
    bool is_float = img->type == GAINMAP_PIXEL_F32;
    for (uint32_t y = y0; y < y1; y++) {
        const uint8_t *row = (const uint8_t *)img->data + (size_t)y * img->stride;
        float *lum = j->lum + (size_t)y * img->width;
        uint32_t n = 0;
        double sum = 0.0;
        for (uint32_t x = 0; x < img->width; x++) {
            double nits[3];
            bool finite = true;
            for (int c = 0; c < 3; c++) {
                size_t i = (size_t)x * ch + (ch >= 3 ? (size_t)c : 0);
                if (j->table) {
                    nits[c] = j->table[code_at(img->type, row, i)];
                } else {
                    double s = gm_sample(img->type, row, i);
                    if (is_float && !isfinite(s))
                        finite = false;
                    nits[c] = channel_nits(j->tf, s);
                }
            }
            if (!finite)
                continue;
            if (j->tf == GAINMAP_TRANSFER_HLG) {
                double scene[3] = {nits[0], nits[1], nits[2]};
                gainmap_hlg_ootf(scene, GM_HLG_DISPLAY_NITS, nits);
            }
            double l = j->w[0] * nits[0] + j->w[1] * nits[1] + j->w[2] * nits[2];
            if (!(l > 0.0))
                l = 0.0;
            lum[n++] = (float)GM_MIN(l, (double)FLT_MAX);
            sum += l;
        }
        j->count[y] = n;
        j->sum[y] = sum;
    }
}

/* Non-negative finite floats order as their bit patterns do. */
static inline uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* The k-th smallest (1-based) of the counted luminances: a radix select on
 * the top and then the bottom 16 bits, exact and linear in time. */
static float kth_smallest(const stats_job *j, uint32_t rows, uint64_t k, uint64_t *hist)
{
    uint32_t w = j->img->width;
    memset(hist, 0, 65536 * sizeof *hist);
    for (uint32_t y = 0; y < rows; y++)
        for (uint32_t i = 0; i < j->count[y]; i++)
            hist[float_bits(j->lum[(size_t)y * w + i]) >> 16]++;
    uint32_t top = 0;
    for (uint64_t below = 0;; top++) {
        if (below + hist[top] >= k) {
            k -= below;
            break;
        }
        below += hist[top];
    }
    memset(hist, 0, 65536 * sizeof *hist);
    for (uint32_t y = 0; y < rows; y++)
        for (uint32_t i = 0; i < j->count[y]; i++) {
            uint32_t b = float_bits(j->lum[(size_t)y * w + i]);
            if (b >> 16 == top)
                hist[b & 0xffffu]++;
        }
    uint32_t low = 0;
    for (uint64_t below = 0;; low++) {
        if (below + hist[low] >= k)
            break;
        below += hist[low];
    }
    uint32_t bits = top << 16 | low;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

gainmap_status gainmap_image_light_stats(gainmap_ctx *ctx, const gainmap_image *img, gainmap_light_stats *out)
{
    if (!out)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "image_light_stats: NULL output");
    memset(out, 0, sizeof *out);
    gainmap_status st = check_image(ctx, img, "image_light_stats");
    if (st != GAINMAP_OK)
        return st;
    if (!known_transfer(img->transfer))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG,
                        "the image's transfer is unknown: say how its samples are encoded (pq, hlg, linear, srgb...)");
    stats_job j;
    memset(&j, 0, sizeof j);
    j.img = img;
    j.tf = img->transfer;
    if (gainmap_luma_weights(img->primaries, j.w) != 0)
        gainmap_luma_weights(GAINMAP_PRIMARIES_BT709, j.w);
    double *table = NULL;
    size_t n = (size_t)img->width * img->height;
    uint64_t *hist = NULL;
    if ((st = channel_table(ctx, img, j.tf, channel_nits, &table)) != GAINMAP_OK)
        return st;
    j.table = table;
    /* 4 bytes per pixel for the percentile, next to the image's own 3-16 */
    if ((st = gm_check_dims(ctx, img->width, img->height, sizeof(float), "luminance buffer")) != GAINMAP_OK)
        goto done;
    j.lum = gm_malloc(ctx, n * sizeof *j.lum);
    j.count = gm_malloc(ctx, (size_t)img->height * sizeof *j.count);
    j.sum = gm_malloc(ctx, (size_t)img->height * sizeof *j.sum);
    hist = gm_malloc(ctx, 65536 * sizeof *hist);
    if (!j.lum || !j.count || !j.sum || !hist) {
        st = GAINMAP_ERR_NOMEM;
        goto done;
    }
    gm_parallel_strips(gm_thread_count(ctx, img->height, STRIP_ROWS), img->height, STRIP_ROWS, stats_strip, &j);
    uint64_t counted = 0;
    double sum = 0.0;
    float peak = 0.0f;
    for (uint32_t y = 0; y < img->height; y++) {
        counted += j.count[y];
        sum += j.sum[y];
        for (uint32_t i = 0; i < j.count[y]; i++)
            peak = fmaxf(peak, j.lum[(size_t)y * img->width + i]);
    }
    out->pixels = counted;
    out->ignored = (uint64_t)n - counted;
    if (counted) {
        /* nearest rank ceil(0.999 n), in integers so no rounding moves it */
        uint64_t k = (counted * 999 + 999) / 1000;
        out->peak_nits = peak;
        out->p999_nits = kth_smallest(&j, img->height, k ? k : 1, hist);
        out->mean_nits = sum / (double)counted;
    }
done:
    free(table);
    free(j.lum);
    free(j.count);
    free(j.sum);
    free(hist);
    return st;
}

/* ------------------------------------------------------------------ */
/* Masters brighter than PQ can hold                                    */
/* ------------------------------------------------------------------ */
gainmap_status gm_master_limit(gainmap_ctx *ctx, const gainmap_image *hdr, gainmap_image *copy,
                               const gainmap_image **use)
{
    memset(copy, 0, sizeof *copy);
    *use = hdr;
    if (hdr->type != GAINMAP_PIXEL_F32 || hdr->transfer != GAINMAP_TRANSFER_LINEAR || !hdr->data)
        return GAINMAP_OK;
    const float lim = (float)(GM_PQ_PEAK_NITS / GM_SDR_WHITE_NITS);
    size_t n = (size_t)hdr->width * hdr->channels;
    bool over = false;
    for (uint32_t y = 0; y < hdr->height && !over; y++) {
        const float *r = (const float *)(const void *)((const uint8_t *)hdr->data + (size_t)y * hdr->stride);
        for (size_t i = 0; i < n; i++)
            if (!(r[i] <= lim)) {   /* also NaN and +inf */
                over = true;
                break;
            }
    }
    if (!over)
        return GAINMAP_OK;
    gainmap_status st = gainmap_image_alloc(ctx, copy, hdr->width, hdr->height, hdr->channels, GAINMAP_PIXEL_F32);
    if (st != GAINMAP_OK)
        return st;
    for (uint32_t y = 0; y < hdr->height; y++) {
        const float *r = (const float *)(const void *)((const uint8_t *)hdr->data + (size_t)y * hdr->stride);
        float *o = (float *)(void *)((uint8_t *)copy->data + (size_t)y * copy->stride);
        for (size_t i = 0; i < n; i++)
            o[i] = r[i] <= lim ? r[i] : r[i] > lim ? lim : 0.0f;   /* NaN -> 0 */
    }
    /* the rest is borrowed: the caller frees only copy->data */
    void *data = copy->data;
    size_t stride = copy->stride;
    *copy = *hdr;
    copy->data = data;
    copy->stride = stride;
    if (copy->max_cll > GM_PQ_PEAK_NITS)
        copy->max_cll = GM_PQ_PEAK_NITS;
    if (copy->max_fall > GM_PQ_PEAK_NITS)
        copy->max_fall = GM_PQ_PEAK_NITS;
    *use = copy;
    return GAINMAP_OK;
}

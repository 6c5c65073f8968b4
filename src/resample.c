/* resample.c - separable resampling of an 8-bit image (the gain map) to
 * another size, one output row at a time, so no full-size float copy of the
 * map ever exists.  Sample positions are centre-aligned: output pixel o
 * covers source coordinates [o*s, (o+1)*s) with s = src/dst.  Enlarging
 * uses bilinear interpolation at the centre (o + 0.5)*s - 0.5, edges
 * clamped; shrinking uses an area (box) filter, each source pixel weighted
 * by how much of it the output pixel covers. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Taps for one axis: out[o] = sum_k w[o*n + k] * src[idx[o*n + k]]. */
static gainmap_status make_taps(gainmap_ctx *ctx, uint32_t src, uint32_t dst, int *ntaps, uint32_t **idx,
                                float **wt)
{
    double s = (double)src / dst;
    int n = src <= dst ? 2 : (int)ceil(s) + 1;
    size_t count = (size_t)dst * (size_t)n;
    *idx = gm_malloc(ctx, count * sizeof **idx);
    *wt = gm_malloc(ctx, count * sizeof **wt);
    if (!*idx || !*wt)
        return GAINMAP_ERR_NOMEM;
    *ntaps = n;
    for (uint32_t o = 0; o < dst; o++) {
        uint32_t *ix = *idx + (size_t)o * n;
        float *w = *wt + (size_t)o * n;
        if (src <= dst) {
            double pos = (o + 0.5) * s - 0.5;
            double fl = floor(pos);
            double f = pos - fl;
            long i0 = (long)fl, i1 = i0 + 1;
            ix[0] = (uint32_t)GM_CLAMP(i0, 0L, (long)src - 1);
            ix[1] = (uint32_t)GM_CLAMP(i1, 0L, (long)src - 1);
            w[0] = (float)(1.0 - f);
            w[1] = (float)f;
        } else {
            double a = o * s, b = (o + 1) * s;
            long first = (long)floor(a);
            double sum = 0.0;
            for (int k = 0; k < n; k++) {
                long i = first + k;
                double lo = GM_MAX(a, (double)i), hi = GM_MIN(b, (double)(i + 1));
                double cover = hi > lo && i < (long)src ? hi - lo : 0.0;
                ix[k] = (uint32_t)GM_MIN(i, (long)src - 1);
                w[k] = (float)(cover / s);
                sum += cover / s;
            }
            /* Rounding of a and b: make the weights sum to exactly 1. */
            for (int k = 0; k < n; k++)
                w[k] = (float)(w[k] / sum);
        }
    }
    return GAINMAP_OK;
}

gainmap_status gm_resample_init(gainmap_ctx *ctx, gm_resampler *rs, const gainmap_image *src, uint32_t dst_w,
                                uint32_t dst_h, uint32_t channels)
{
    memset(rs, 0, sizeof *rs);
    if (!src || !src->data || src->type != GAINMAP_PIXEL_U8 || src->width == 0 || src->height == 0 || dst_w == 0 ||
        dst_h == 0 || channels == 0 || channels > src->channels)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "resample: bad source image or size");
    rs->src = src;
    rs->dst_w = dst_w;
    rs->dst_h = dst_h;
    rs->ch = channels;
    gainmap_status st = make_taps(ctx, src->width, dst_w, &rs->nx, &rs->xi, &rs->xw);
    if (st == GAINMAP_OK)
        st = make_taps(ctx, src->height, dst_h, &rs->ny, &rs->yi, &rs->yw);
    if (st == GAINMAP_OK) {
        rs->vrow = gm_malloc(ctx, (size_t)src->width * channels * sizeof *rs->vrow);
        if (!rs->vrow)
            st = GAINMAP_ERR_NOMEM;
    }
    if (st != GAINMAP_OK) {
        gm_resample_free(rs);
        return gm_error(ctx, st, "out of memory resampling the gain map");
    }
    rs->cached_y = UINT32_MAX;
    return GAINMAP_OK;
}

void gm_resample_free(gm_resampler *rs)
{
    if (!rs)
        return;
    free(rs->xi);
    free(rs->xw);
    free(rs->yi);
    free(rs->yw);
    free(rs->vrow);
    memset(rs, 0, sizeof *rs);
}

/* The vertical pass: source rows combined for output row y. */
static void vertical(gm_resampler *rs, uint32_t y)
{
    const gainmap_image *src = rs->src;
    const uint32_t sw = src->width, sch = src->channels, ch = rs->ch;
    const uint32_t *iy = rs->yi + (size_t)y * rs->ny;
    const float *wy = rs->yw + (size_t)y * rs->ny;
    float *v = rs->vrow;
    size_t n = (size_t)sw * ch;
    memset(v, 0, n * sizeof *v);
    for (int k = 0; k < rs->ny; k++) {
        float w = wy[k];
        if (w == 0.0f)
            continue;
        const uint8_t *row = (const uint8_t *)src->data + (size_t)iy[k] * src->stride;
        if (sch == ch) {
            for (size_t i = 0; i < n; i++)
                v[i] += w * row[i];
        } else {
            for (uint32_t x = 0; x < sw; x++)
                for (uint32_t c = 0; c < ch; c++)
                    v[(size_t)x * ch + c] += w * row[(size_t)x * sch + c];
        }
    }
}

void gm_resample_row(gm_resampler *rs, uint32_t y, float *out)
{
    if (rs->cached_y != y) {
        /* Consecutive output rows often share their source rows. */
        const uint32_t *iy = rs->yi + (size_t)y * rs->ny;
        const float *wy = rs->yw + (size_t)y * rs->ny;
        bool same = rs->cached_y != UINT32_MAX;
        if (same) {
            const uint32_t *py = rs->yi + (size_t)rs->cached_y * rs->ny;
            const float *pw = rs->yw + (size_t)rs->cached_y * rs->ny;
            same = memcmp(iy, py, rs->ny * sizeof *iy) == 0 && memcmp(wy, pw, rs->ny * sizeof *wy) == 0;
        }
        if (!same)
            vertical(rs, y);
        rs->cached_y = y;
    }
    const uint32_t ch = rs->ch, dw = rs->dst_w;
    const float *v = rs->vrow;
    if (rs->nx == 2) {
        const uint32_t *xi = rs->xi;
        const float *xw = rs->xw;
        if (ch == 1) {
            for (uint32_t o = 0; o < dw; o++)
                out[o] = xw[2 * (size_t)o] * v[xi[2 * (size_t)o]] + xw[2 * (size_t)o + 1] * v[xi[2 * (size_t)o + 1]];
            return;
        }
        for (uint32_t o = 0; o < dw; o++) {
            const uint32_t i0 = xi[2 * (size_t)o] * ch, i1 = xi[2 * (size_t)o + 1] * ch;
            const float w0 = xw[2 * (size_t)o], w1 = xw[2 * (size_t)o + 1];
            for (uint32_t c = 0; c < ch; c++)
                out[(size_t)o * ch + c] = w0 * v[i0 + c] + w1 * v[i1 + c];
        }
        return;
    }
    for (uint32_t o = 0; o < dw; o++) {
        const uint32_t *ix = rs->xi + (size_t)o * rs->nx;
        const float *wx = rs->xw + (size_t)o * rs->nx;
        for (uint32_t c = 0; c < ch; c++) {
            float acc = 0.0f;
            for (int k = 0; k < rs->nx; k++)
                acc += wx[k] * v[(size_t)ix[k] * ch + c];
            out[(size_t)o * ch + c] = acc;
        }
    }
}

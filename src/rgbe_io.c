/* rgbe_io.c - Radiance RGBE (.hdr) reader: flat and new-style run-length
 * scanlines, -Y/+Y row order with +X columns.
 * EXPOSURE lines are ignored: pixel values are the stored radiance, read as
 * linear light with 1.0 = SDR white (the float-format convention). */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool read_line(gm_reader *r, char *buf, size_t cap, bool *too_long)
{
    size_t n = 0;
    *too_long = false;
    for (;;) {
        if (!gm_rd_left(r))
            return false;
        uint8_t c = r->data[r->pos++];
        if (c == '\n')
            break;
        if (n + 1 < cap)
            buf[n++] = (char)c;
        else
            *too_long = true;
    }
    buf[n] = '\0';
    return true;
}

/* One scanline of width pixels into rgbe (4*width bytes). */
static gainmap_status read_scanline(gainmap_ctx *ctx, gm_reader *r, uint32_t width, uint8_t *rgbe, uint32_t y)
{
    const uint8_t *p = r->data + r->pos;
    size_t left = gm_rd_left(r);
    if (width >= 8 && width <= 0x7fff && left >= 4 && p[0] == 2 && p[1] == 2 && !(p[2] & 0x80)) {
        if ((uint32_t)((p[2] << 8) | p[3]) != width)
            return gm_error(ctx, GAINMAP_ERR_CORRUPT, "RGBE: scanline %u says width %u, not %u", y,
                            (p[2] << 8) | p[3], width);
        gm_rd_skip(r, 4);
        for (int c = 0; c < 4; c++) {
            uint32_t x = 0;
            while (x < width) {
                uint8_t n = gm_rd_u8(r);
                if (!gm_rd_ok(r))
                    return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "RGBE: truncated pixel data at scanline %u", y);
                if (n > 128) {
                    n = (uint8_t)(n - 128);
                    uint8_t v = gm_rd_u8(r);
                    if (n > width - x)
                        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "RGBE: a run overflows scanline %u", y);
                    for (uint8_t i = 0; i < n; i++)
                        rgbe[4 * (x++) + (uint32_t)c] = v;
                } else {
                    if (n == 0 || n > width - x)
                        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "RGBE: bad run length in scanline %u", y);
                    const uint8_t *s = gm_rd_bytes(r, n);
                    if (!s)
                        break;
                    for (uint8_t i = 0; i < n; i++)
                        rgbe[4 * (x++) + (uint32_t)c] = s[i];
                }
            }
            if (!gm_rd_ok(r))
                return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "RGBE: truncated pixel data at scanline %u", y);
        }
        return GAINMAP_OK;
    }
    if (left >= 4 && p[0] == 1 && p[1] == 1 && p[2] == 1)
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "RGBE: old-style run-length encoding is not supported");
    const uint8_t *s = gm_rd_bytes(r, (size_t)width * 4);
    if (!s)
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "RGBE: truncated pixel data at scanline %u", y);
    memcpy(rgbe, s, (size_t)width * 4);
    return GAINMAP_OK;
}

gainmap_status gm_rgbe_read(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out)
{
    gm_reader r;
    gm_rd_init(&r, data, size);
    char line[512];
    bool too_long;
    if (!read_line(&r, line, sizeof line, &too_long) || strncmp(line, "#?", 2))
        return gm_error(ctx, GAINMAP_ERR_FORMAT, "RGBE: bad magic (expected #?RADIANCE)");
    for (;;) {
        if (!read_line(&r, line, sizeof line, &too_long))
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "RGBE: truncated header");
        if (!line[0])
            break;
        if (!strncmp(line, "FORMAT=", 7) && strcmp(line + 7, "32-bit_rle_rgbe"))
            return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "RGBE: unsupported FORMAT=%.40s (only 32-bit_rle_rgbe)",
                            line + 7);
    }
    if (!read_line(&r, line, sizeof line, &too_long))
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "RGBE: truncated header (no resolution line)");
    char ys, xs;
    unsigned long h, w;
    int used = 0;
    if (sscanf(line, "%cY %lu %cX %lu%n", &ys, &h, &xs, &w, &used) != 4 || (ys != '-' && ys != '+') ||
        line[used] != '\0')
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED,
                        "RGBE: unsupported resolution line '%.40s' (expected -Y H +X W)", line);
    if (xs != '+')
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "RGBE: mirrored images (-X) are not supported");
    gainmap_status st = gm_check_dims(ctx, w, h, 12, "RGBE image");
    if (st != GAINMAP_OK)
        return st;
    /* The smallest scanline is 12 bytes (RLE header + one run per channel),
     * or 4*w flat: refuse a tiny file claiming a huge image before allocating. */
    if ((uint64_t)h * (w < 8 ? 4 * w : 12) > gm_rd_left(&r))
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "RGBE: truncated pixel data (%zu bytes for %lu scanlines)",
                        gm_rd_left(&r), h);
    uint8_t *rgbe = gm_malloc(ctx, (size_t)w * 4);
    if (!rgbe)
        return GAINMAP_ERR_NOMEM;
    st = gainmap_image_alloc(ctx, out, (uint32_t)w, (uint32_t)h, 3, GAINMAP_PIXEL_F32);
    for (uint32_t y = 0; st == GAINMAP_OK && y < h; y++) {
        st = read_scanline(ctx, &r, (uint32_t)w, rgbe, y);
        if (st != GAINMAP_OK)
            break;
        uint32_t row = ys == '-' ? y : (uint32_t)h - 1 - y;
        float *d = (float *)(void *)((uint8_t *)out->data + (size_t)row * out->stride);
        for (uint32_t x = 0; x < w; x++) {
            const uint8_t *q = rgbe + 4 * x;
            if (q[3] == 0) {
                d[3 * x] = d[3 * x + 1] = d[3 * x + 2] = 0.0f;
                continue;
            }
            /* Radiance's colr_color(): (mantissa + 0.5) * 2^(e - 136). */
            double f = ldexp(1.0, (int)q[3] - (128 + 8));
            for (int c = 0; c < 3; c++)
                d[3 * x + c] = (float)((q[c] + 0.5) * f);
        }
    }
    free(rgbe);
    if (st != GAINMAP_OK) {
        gainmap_image_free(out);
        return st;
    }
    out->bit_depth = 32;
    out->transfer = GAINMAP_TRANSFER_LINEAR;
    return GAINMAP_OK;
}

/* pnm_io.c - PFM (Pf grey / PF RGB floats) and binary PGM/PPM (P5/P6,
 * maxval up to 65535) readers and writers. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Next header token (whitespace and '#' comments skipped) into buf. */
static bool next_token(gm_reader *r, char *buf, size_t cap)
{
    for (;;) {
        if (!gm_rd_left(r))
            return false;
        uint8_t c = r->data[r->pos];
        if (is_space(c)) {
            r->pos++;
        } else if (c == '#') {
            while (gm_rd_left(r) && r->data[r->pos] != '\n')
                r->pos++;
        } else {
            break;
        }
    }
    size_t n = 0;
    while (gm_rd_left(r) && !is_space(r->data[r->pos]) && r->data[r->pos] != '#') {
        if (n + 1 >= cap)
            return false;
        buf[n++] = (char)r->data[r->pos++];
    }
    buf[n] = '\0';
    return n > 0;
}

static bool token_uint(gm_reader *r, uint64_t max, uint64_t *out)
{
    char buf[32];
    if (!next_token(r, buf, sizeof buf))
        return false;
    uint64_t v = 0;
    for (const char *p = buf; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > max)
            return false;
    }
    *out = v;
    return true;
}

/* The single whitespace byte that ends a header before the raster. */
static bool end_header(gm_reader *r)
{
    if (!gm_rd_left(r) || !is_space(r->data[r->pos]))
        return false;
    if (r->data[r->pos] == '\r' && r->size - r->pos >= 2 && r->data[r->pos + 1] == '\n')
        r->pos++;
    r->pos++;
    return true;
}

gainmap_status gm_pfm_read(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out)
{
    gm_reader r;
    gm_rd_init(&r, data, size);
    char tok[64];
    if (!next_token(&r, tok, sizeof tok) || (strcmp(tok, "PF") && strcmp(tok, "Pf")))
        return gm_error(ctx, GAINMAP_ERR_FORMAT, "PFM: bad magic (expected PF or Pf)");
    uint32_t channels = tok[1] == 'F' ? 3 : 1;
    uint64_t w, h;
    if (!token_uint(&r, 0xffffffffu, &w) || !token_uint(&r, 0xffffffffu, &h))
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "PFM: the header has no valid width and height");
    char *end;
    if (!next_token(&r, tok, sizeof tok))
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "PFM: the header has no scale");
    double scale = strtod(tok, &end);
    if (*end || scale == 0.0 || !isfinite(scale))
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "PFM: bad scale '%s' (a non-zero number)", tok);
    if (!end_header(&r))
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "PFM: truncated header");
    gainmap_status st = gm_check_dims(ctx, w, h, 4ull * channels, "PFM image");
    if (st != GAINMAP_OK)
        return st;
    size_t need = (size_t)w * h * channels * 4;
    if (gm_rd_left(&r) < need)
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "PFM: truncated pixel data (%zu of %zu bytes)",
                        gm_rd_left(&r), need);
    st = gainmap_image_alloc(ctx, out, (uint32_t)w, (uint32_t)h, channels, GAINMAP_PIXEL_F32);
    if (st != GAINMAP_OK)
        return st;
    bool le = scale < 0;
    const uint8_t *p = r.data + r.pos;
    size_t row_bytes = (size_t)w * channels * 4;
    /* PFM rows run bottom to top. */
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *s = p + (size_t)(h - 1 - y) * row_bytes;
        float *d = (float *)(void *)((uint8_t *)out->data + (size_t)y * out->stride);
        for (size_t i = 0; i < (size_t)w * channels; i++) {
            uint32_t u = le ? gm_le32(s + 4 * i) : gm_be32(s + 4 * i);
            memcpy(&d[i], &u, 4);
        }
    }
    out->bit_depth = 32;
    out->transfer = GAINMAP_TRANSFER_LINEAR;
    return GAINMAP_OK;
}

gainmap_status gm_pnm_read(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out)
{
    gm_reader r;
    gm_rd_init(&r, data, size);
    char tok[8];
    if (!next_token(&r, tok, sizeof tok) || (strcmp(tok, "P5") && strcmp(tok, "P6")))
        return gm_error(ctx, GAINMAP_ERR_FORMAT, "PPM: bad magic (expected binary P5 or P6)");
    uint32_t channels = tok[1] == '6' ? 3 : 1;
    uint64_t w, h, maxval;
    if (!token_uint(&r, 0xffffffffu, &w) || !token_uint(&r, 0xffffffffu, &h))
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "PPM: the header has no valid width and height");
    if (!token_uint(&r, 0xffffffffu, &maxval) || maxval == 0 || maxval > 65535)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "PPM: maxval must be 1 to 65535");
    if (!end_header(&r))
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "PPM: truncated header");
    size_t bps = maxval > 255 ? 2 : 1;
    gainmap_status st = gm_check_dims(ctx, w, h, bps * channels, "PPM image");
    if (st != GAINMAP_OK)
        return st;
    size_t need = (size_t)w * h * channels * bps;
    if (gm_rd_left(&r) < need)
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "PPM: truncated pixel data (%zu of %zu bytes)",
                        gm_rd_left(&r), need);
    st = gainmap_image_alloc(ctx, out, (uint32_t)w, (uint32_t)h, channels,
                             bps == 2 ? GAINMAP_PIXEL_U16 : GAINMAP_PIXEL_U8);
    if (st != GAINMAP_OK)
        return st;
    const uint8_t *p = r.data + r.pos;
    uint32_t full = bps == 2 ? 65535u : 255u;
    for (uint32_t y = 0; y < h; y++) {
        uint8_t *drow = (uint8_t *)out->data + (size_t)y * out->stride;
        const uint8_t *s = p + (size_t)y * w * channels * bps;
        for (size_t i = 0; i < (size_t)w * channels; i++) {
            uint32_t v = bps == 2 ? gm_be16(s + 2 * i) : s[i];
            if (v > maxval)
                v = (uint32_t)maxval;
            /* Other maxvals are rescaled to the full 8/16-bit range. */
            if (maxval != full)
                v = (uint32_t)((v * (uint64_t)full * 2 + maxval) / (2 * maxval));
            if (bps == 2) {
                uint16_t v16 = (uint16_t)v;
                memcpy(drow + 2 * i, &v16, 2);
            } else {
                drow[i] = (uint8_t)v;
            }
        }
    }
    uint32_t bits = 1;
    while (bits < 16 && (1ull << bits) - 1 < maxval)
        bits++;
    out->bit_depth = bits;
    return GAINMAP_OK;
}

gainmap_status gm_pfm_write(gainmap_ctx *ctx, const char *path, const gainmap_image *img)
{
    gainmap_image f;
    gainmap_status st = gm_image_convert(ctx, img, GAINMAP_PIXEL_F32, img->channels == 4 ? 3 : 0, &f);
    if (st != GAINMAP_OK)
        return st;
    gm_buf b;
    gm_buf_init(&b);
    gm_buf_printf(&b, "%s\n%u %u\n-1.0\n", f.channels == 3 ? "PF" : "Pf", f.width, f.height);
    size_t row = (size_t)f.width * f.channels;
    gm_buf_reserve(&b, row * 4 * f.height);
    for (uint32_t y = f.height; y-- > 0;) {
        const float *s = (const float *)(const void *)((const uint8_t *)f.data + (size_t)y * f.stride);
        for (size_t i = 0; i < row; i++) {
            uint32_t u;
            memcpy(&u, &s[i], 4);
            gm_buf_u32le(&b, u);
        }
    }
    gainmap_image_free(&f);
    if (b.bad) {
        gm_buf_free(&b);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "PFM: out of memory");
    }
    st = gm_write_bytes(ctx, path, b.data, b.size, "PFM");
    gm_buf_free(&b);
    return st;
}

gainmap_status gm_ppm_write(gainmap_ctx *ctx, const char *path, const gainmap_image *img)
{
    gainmap_image u;
    gainmap_status st = gm_image_convert(ctx, img, GAINMAP_PIXEL_U16, img->channels == 4 ? 3 : 0, &u);
    if (st != GAINMAP_OK)
        return st;
    gm_buf b;
    gm_buf_init(&b);
    gm_buf_printf(&b, "%s\n%u %u\n65535\n", u.channels == 3 ? "P6" : "P5", u.width, u.height);
    size_t row = (size_t)u.width * u.channels;
    gm_buf_reserve(&b, row * 2 * u.height);
    for (uint32_t y = 0; y < u.height; y++) {
        const uint16_t *s = (const uint16_t *)(const void *)((const uint8_t *)u.data + (size_t)y * u.stride);
        for (size_t i = 0; i < row; i++)
            gm_buf_u16be(&b, s[i]);
    }
    gainmap_image_free(&u);
    if (b.bad) {
        gm_buf_free(&b);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "PPM: out of memory");
    }
    st = gm_write_bytes(ctx, path, b.data, b.size, "PPM");
    gm_buf_free(&b);
    return st;
}

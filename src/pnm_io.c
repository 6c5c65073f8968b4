/* pnm_io.c - PFM (Pf grey / PF RGB floats) and binary PGM/PPM (P5/P6,
 * maxval up to 65535) readers and writers. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ---- writers: rows straight to the file ---------------------------------- */

/* Strips of rows are converted (gm_image_convert on a view of the strip,
 * so the pixels are the same as a whole-image conversion) into a buffer of
 * file bytes and written out: memory is one strip, not two image copies. */
enum { PNM_STRIP = 64 };

typedef struct pnm_out {
    int fd;
    const char *what;
} pnm_out;

static gainmap_status pnm_open(gainmap_ctx *ctx, pnm_out *o, const char *path, const char *what)
{
    o->what = what;
    o->fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (o->fd < 0)
        return gm_error(ctx, GAINMAP_ERR_IO, "%s: cannot open the output: %s", what, strerror(errno));
    return GAINMAP_OK;
}

static gainmap_status pnm_put(gainmap_ctx *ctx, pnm_out *o, const uint8_t *data, size_t size)
{
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(o->fd, data + done, size - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return gm_error(ctx, GAINMAP_ERR_IO, "%s: cannot write the output: %s", o->what,
                            strerror(w < 0 ? errno : ENOSPC));
        done += (size_t)w;
    }
    return GAINMAP_OK;
}

static gainmap_status pnm_close(gainmap_ctx *ctx, pnm_out *o, gainmap_status st)
{
    if (close(o->fd) != 0 && st == GAINMAP_OK)
        st = gm_error(ctx, GAINMAP_ERR_IO, "%s: cannot write the output: %s", o->what, strerror(errno));
    return st;
}

/* Rows [y0, y0 + n) of img converted to `type` (RGBA -> RGB), in *conv
 * (freed by the caller), or img itself when it already has that form. */
static gainmap_status strip_view(gainmap_ctx *ctx, const gainmap_image *img, gainmap_pixel_type type, uint32_t y0,
                                 uint32_t n, gainmap_image *conv, const gainmap_image **rows)
{
    memset(conv, 0, sizeof *conv);
    if (img->type == type && img->channels != 4 && (type != GAINMAP_PIXEL_F32 || img->transfer == GAINMAP_TRANSFER_LINEAR ||
                                                      img->transfer == GAINMAP_TRANSFER_UNKNOWN)) {
        *rows = img;
        return GAINMAP_OK;
    }
    gainmap_image view = *img;
    view.data = (uint8_t *)img->data + (size_t)y0 * img->stride;
    view.height = n;
    view.icc = NULL;
    view.icc_size = 0;
    view.exif = NULL;
    view.exif_size = 0;
    gainmap_status st = gm_image_convert(ctx, &view, type, img->channels == 4 ? 3 : 0, conv);
    *rows = conv;
    return st;
}

gainmap_status gm_pfm_write(gainmap_ctx *ctx, const char *path, const gainmap_image *img)
{
    gainmap_image probe;
    const gainmap_image *rows;
    /* the conversion's checks (channels, type) before the file is touched */
    gainmap_status st = strip_view(ctx, img, GAINMAP_PIXEL_F32, 0, 1, &probe, &rows);
    if (st != GAINMAP_OK)
        return st;
    gainmap_image_free(&probe);
    uint32_t ch = img->channels == 4 ? 3 : img->channels, w = img->width, h = img->height;
    size_t row = (size_t)w * ch;
    uint8_t *buf = gm_malloc(ctx, row * 4 * PNM_STRIP);
    if (!buf)
        return GAINMAP_ERR_NOMEM;
    pnm_out o;
    if ((st = pnm_open(ctx, &o, path, "PFM")) != GAINMAP_OK) {
        free(buf);
        return st;
    }
    char head[64];
    int hn = snprintf(head, sizeof head, "%s\n%u %u\n-1.0\n", ch == 3 ? "PF" : "Pf", w, h);
    st = pnm_put(ctx, &o, (const uint8_t *)head, (size_t)hn);
    /* PFM rows run bottom to top: strips from the last one up. */
    for (uint32_t end = h; st == GAINMAP_OK && end > 0;) {
        uint32_t n = GM_MIN((uint32_t)PNM_STRIP, end), y0 = end - n;
        gainmap_image conv;
        if ((st = strip_view(ctx, img, GAINMAP_PIXEL_F32, y0, n, &conv, &rows)) != GAINMAP_OK)
            break;
        uint32_t base = rows == img ? y0 : 0;
        uint8_t *p = buf;
        for (uint32_t i = n; i-- > 0;) {
            const float *s = (const float *)(const void *)((const uint8_t *)rows->data + (size_t)(base + i) * rows->stride);
            for (size_t k = 0; k < row; k++, p += 4) {
                uint32_t u;
                memcpy(&u, &s[k], 4);
                p[0] = (uint8_t)u;
                p[1] = (uint8_t)(u >> 8);
                p[2] = (uint8_t)(u >> 16);
                p[3] = (uint8_t)(u >> 24);
            }
        }
        gainmap_image_free(&conv);
        st = pnm_put(ctx, &o, buf, (size_t)(p - buf));
        end = y0;
    }
    free(buf);
    return pnm_close(ctx, &o, st);
}

gainmap_status gm_ppm_write(gainmap_ctx *ctx, const char *path, const gainmap_image *img)
{
    gainmap_image probe;
    const gainmap_image *rows;
    gainmap_status st = strip_view(ctx, img, GAINMAP_PIXEL_U16, 0, 1, &probe, &rows);
    if (st != GAINMAP_OK)
        return st;
    gainmap_image_free(&probe);
    uint32_t ch = img->channels == 4 ? 3 : img->channels, w = img->width, h = img->height;
    size_t row = (size_t)w * ch;
    uint8_t *buf = gm_malloc(ctx, row * 2 * PNM_STRIP);
    if (!buf)
        return GAINMAP_ERR_NOMEM;
    pnm_out o;
    if ((st = pnm_open(ctx, &o, path, "PPM")) != GAINMAP_OK) {
        free(buf);
        return st;
    }
    char head[64];
    int hn = snprintf(head, sizeof head, "%s\n%u %u\n65535\n", ch == 3 ? "P6" : "P5", w, h);
    st = pnm_put(ctx, &o, (const uint8_t *)head, (size_t)hn);
    for (uint32_t y0 = 0; st == GAINMAP_OK && y0 < h; y0 += PNM_STRIP) {
        uint32_t n = GM_MIN((uint32_t)PNM_STRIP, h - y0);
        gainmap_image conv;
        if ((st = strip_view(ctx, img, GAINMAP_PIXEL_U16, y0, n, &conv, &rows)) != GAINMAP_OK)
            break;
        uint32_t base = rows == img ? y0 : 0;
        uint8_t *p = buf;
        for (uint32_t i = 0; i < n; i++) {
            const uint16_t *s =
                (const uint16_t *)(const void *)((const uint8_t *)rows->data + (size_t)(base + i) * rows->stride);
            for (size_t k = 0; k < row; k++, p += 2) {
                p[0] = (uint8_t)(s[k] >> 8);
                p[1] = (uint8_t)s[k];
            }
        }
        gainmap_image_free(&conv);
        st = pnm_put(ctx, &o, buf, (size_t)(p - buf));
    }
    free(buf);
    return pnm_close(ctx, &o, st);
}

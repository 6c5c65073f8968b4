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

/* size bytes at offset at (< 0: at the file position) */
static gainmap_status pnm_put(gainmap_ctx *ctx, pnm_out *o, const uint8_t *data, size_t size, int64_t at)
{
    int e = gm_write_all(o->fd, data, size, at);
    if (e)
        return gm_error(ctx, GAINMAP_ERR_IO, "%s: cannot write the output: %s", o->what, strerror(e));
    return GAINMAP_OK;
}

static gainmap_status pnm_close(gainmap_ctx *ctx, pnm_out *o, gainmap_status st)
{
    if (close(o->fd) != 0 && st == GAINMAP_OK)
        st = gm_error(ctx, GAINMAP_ERR_IO, "%s: cannot write the output: %s", o->what, strerror(errno));
    return st;
}

/* One writer for both: PPM (16-bit big-endian, rows in order) and PFM
 * (little-endian floats, rows bottom to top: each strip goes to its place
 * in the file with pwrite). */
typedef struct pnm_writer {
    pnm_out o;
    int pfm;
    uint32_t ch, w, h, y;
    uint64_t head;
    uint8_t *buf;
    size_t cap;
} pnm_writer;

static void pnm_abort(void *state)
{
    pnm_writer *p = state;
    close(p->o.fd);
    free(p->buf);
    free(p);
}

static gainmap_status pnm_finish(gainmap_ctx *ctx, void *state)
{
    pnm_writer *p = state;
    gainmap_status st = pnm_close(ctx, &p->o, GAINMAP_OK);
    free(p->buf);
    free(p);
    return st;
}

static gainmap_status pnm_rows(gainmap_ctx *ctx, void *state, const gainmap_image *strip)
{
    pnm_writer *p = state;
    gainmap_image conv;
    const gainmap_image *rows;
    uint32_t n = strip->height;
    gainmap_status st = gm_strip_convert(ctx, strip, p->pfm ? GAINMAP_PIXEL_F32 : GAINMAP_PIXEL_U16,
                                         strip->channels == 4 ? 3 : 0, &conv, &rows);
    if (st != GAINMAP_OK)
        return st;
    size_t row = (size_t)p->w * p->ch, bytes = row * (p->pfm ? 4 : 2) * n;
    if (bytes > p->cap) {
        free(p->buf);
        p->cap = 0;
        if (!(p->buf = gm_malloc(ctx, bytes))) {
            gainmap_image_free(&conv);
            return GAINMAP_ERR_NOMEM;
        }
        p->cap = bytes;
    }
    uint8_t *d = p->buf;
    if (p->pfm) {
        for (uint32_t i = n; i-- > 0;) {
            const float *s = (const float *)(const void *)((const uint8_t *)rows->data + (size_t)i * rows->stride);
            for (size_t k = 0; k < row; k++, d += 4) {
                uint32_t u;
                memcpy(&u, &s[k], 4);
                d[0] = (uint8_t)u;
                d[1] = (uint8_t)(u >> 8);
                d[2] = (uint8_t)(u >> 16);
                d[3] = (uint8_t)(u >> 24);
            }
        }
    } else {
        for (uint32_t i = 0; i < n; i++) {
            const uint16_t *s = (const uint16_t *)(const void *)((const uint8_t *)rows->data + (size_t)i * rows->stride);
            for (size_t k = 0; k < row; k++, d += 2) {
                d[0] = (uint8_t)(s[k] >> 8);
                d[1] = (uint8_t)s[k];
            }
        }
    }
    gainmap_image_free(&conv);
    if (p->pfm)   /* rows y .. y+n-1 sit at file rows h-y-n .. h-y-1 */
        st = pnm_put(ctx, &p->o, p->buf, bytes, (int64_t)(p->head + (uint64_t)(p->h - p->y - n) * row * 4));
    else
        st = pnm_put(ctx, &p->o, p->buf, bytes, -1);
    p->y += n;
    return st;
}

static gainmap_status pnm_writer_open(gainmap_ctx *ctx, const char *path, const gainmap_image *hdr, int pfm,
                                      gm_fmt_writer *w)
{
    /* the conversion's checks (channels, type) before the file is touched */
    gainmap_status st = gm_strip_check(ctx, hdr, pfm ? GAINMAP_PIXEL_F32 : GAINMAP_PIXEL_U16,
                                       hdr->channels == 4 ? 3 : 0);
    if (st != GAINMAP_OK)
        return st;
    pnm_writer *p = calloc(1, sizeof *p);
    if (!p)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing the image");
    p->pfm = pfm;
    p->ch = hdr->channels == 4 ? 3 : hdr->channels;
    p->w = hdr->width;
    p->h = hdr->height;
    if ((st = pnm_open(ctx, &p->o, path, pfm ? "PFM" : "PPM")) != GAINMAP_OK) {
        free(p);
        return st;
    }
    char head[64];
    int hn = pfm ? snprintf(head, sizeof head, "%s\n%u %u\n-1.0\n", p->ch == 3 ? "PF" : "Pf", p->w, p->h)
                 : snprintf(head, sizeof head, "%s\n%u %u\n65535\n", p->ch == 3 ? "P6" : "P5", p->w, p->h);
    p->head = (uint64_t)hn;
    if ((st = pnm_put(ctx, &p->o, (const uint8_t *)head, (size_t)hn, -1)) != GAINMAP_OK) {
        pnm_abort(p);
        return st;
    }
    w->state = p;
    w->rows = pnm_rows;
    w->finish = pnm_finish;
    w->abort = pnm_abort;
    return GAINMAP_OK;
}

gainmap_status gm_ppm_writer(gainmap_ctx *ctx, const char *path, const gainmap_image *hdr, gm_fmt_writer *w)
{
    return pnm_writer_open(ctx, path, hdr, 0, w);
}

gainmap_status gm_pfm_writer(gainmap_ctx *ctx, const char *path, const gainmap_image *hdr, gm_fmt_writer *w)
{
    return pnm_writer_open(ctx, path, hdr, 1, w);
}

gainmap_status gm_pfm_write(gainmap_ctx *ctx, const char *path, const gainmap_image *img)
{
    gm_fmt_writer w;
    gainmap_status st = gm_pfm_writer(ctx, path, img, &w);
    return st != GAINMAP_OK ? st : gm_write_strips(ctx, img, &w);
}

gainmap_status gm_ppm_write(gainmap_ctx *ctx, const char *path, const gainmap_image *img)
{
    gm_fmt_writer w;
    gainmap_status st = gm_ppm_writer(ctx, path, img, &w);
    return st != GAINMAP_OK ? st : gm_write_strips(ctx, img, &w);
}

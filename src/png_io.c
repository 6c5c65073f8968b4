/* png_io.c - 8/16-bit PNG reader and 16-bit writer through libpng 1.6.
 * iCCP, cICP, eXIf and cLLi are read and written by us as "unknown" chunks:
 * libpng 1.6.39 predates cICP, and doing iCCP/eXIf the same way keeps the
 * bytes exact (libpng would drop an iCCP profile it dislikes). */
#include "internal.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

typedef struct png_state {
    gainmap_ctx *ctx;
    gm_reader r;          /* reader: the file's bytes in memory, or... */
    int fd;               /* ...the file (when >= 0) through buf */
    uint64_t size;        /* the file's size */
    uint8_t *buf;
    size_t buf_len, buf_pos;
    char msg[200];
    bool truncated;
    gainmap_status own;   /* our error already recorded before png_error() */
    FILE *out;            /* writer: the output file */
    int write_errno;      /* writer: errno of the write that failed, else 0 */
} png_state;

static void on_error(png_structp png, png_const_charp msg)
{
    png_state *s = png_get_error_ptr(png);
    if (s && !s->msg[0])
        snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

enum { READ_BUF = 1 << 16 };

static void read_cb(png_structp png, png_bytep out, size_t n)
{
    png_state *s = png_get_io_ptr(png);
    while (s->fd >= 0 && n) {
        if (s->buf_pos == s->buf_len) {
            ssize_t r = read(s->fd, s->buf, READ_BUF);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                s->own = gm_error(s->ctx, GAINMAP_ERR_IO, "PNG: cannot read the file: %s", strerror(errno));
                png_error(png, "read error");
            }
            if (r == 0) {
                s->truncated = true;
                png_error(png, "truncated");
            }
            s->buf_len = (size_t)r;
            s->buf_pos = 0;
        }
        size_t k = GM_MIN(n, s->buf_len - s->buf_pos);
        memcpy(out, s->buf + s->buf_pos, k);
        s->buf_pos += k;
        out += k;
        n -= k;
    }
    if (s->fd >= 0)
        return;
    const uint8_t *p = gm_rd_bytes(&s->r, n);
    if (!p) {
        s->truncated = true;
        png_error(png, "truncated");
    }
    memcpy(out, p, n);
}

/* Which chunk a truncated file ends inside, for the message. */
static void describe_truncation(const png_state *s, char *buf, size_t cap)
{
    uint64_t pos = 8, size = s->size;
    while (pos + 8 <= size) {
        uint8_t head[8];
        if (s->fd < 0)
            memcpy(head, s->r.data + pos, 8);
        else if (pread(s->fd, head, 8, (off_t)pos) != 8)
            break;
        uint32_t len = gm_be32(head);
        char name[5] = {0};
        memcpy(name, head + 4, 4);
        for (int i = 0; i < 4; i++)
            if (name[i] < 'A' || (name[i] > 'Z' && name[i] < 'a') || name[i] > 'z')
                name[i] = '?';
        if (pos + 12 + len > size) {
            snprintf(buf, cap, "truncated %s chunk", name);
            return;
        }
        if (!memcmp(name, "IEND", 4))
            break;
        pos += 12 + (uint64_t)len;
    }
    snprintf(buf, cap, "the file ends before its IEND chunk (truncated)");
}

/* Inflate the zlib stream of an iCCP chunk, refusing more than `limit` bytes. */
static gainmap_status inflate_icc(gainmap_ctx *ctx, const uint8_t *z, size_t zsize, uint64_t limit, uint8_t **out,
                                  size_t *out_size)
{
    gm_buf b;
    gm_buf_init(&b);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "PNG: cannot start zlib for iCCP");
    zs.next_in = (Bytef *)(uintptr_t)z;
    zs.avail_in = (uInt)GM_MIN(zsize, (size_t)UINT32_MAX);
    int zr = Z_OK;
    while (zr == Z_OK) {
        if (!gm_buf_reserve(&b, 65536))
            break;
        zs.next_out = b.data + b.size;
        zs.avail_out = 65536;
        zr = inflate(&zs, Z_NO_FLUSH);
        b.size += 65536 - zs.avail_out;
        if (b.size > limit) {
            size_t got = b.size;
            inflateEnd(&zs);
            gm_buf_free(&b);
            return gm_error(ctx, GAINMAP_ERR_LIMIT, "PNG iCCP profile is at least %zu bytes, more than the "
                            "%llu-byte metadata limit", got, (unsigned long long)limit);
        }
        if (zr == Z_OK && zs.avail_in == 0 && zs.avail_out != 0)
            zr = Z_BUF_ERROR;
    }
    inflateEnd(&zs);
    if (b.bad) {
        gm_buf_free(&b);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "PNG: out of memory inflating iCCP");
    }
    if (zr != Z_STREAM_END) {
        gm_buf_free(&b);
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "PNG: the iCCP profile's compressed data is corrupt");
    }
    *out = gm_buf_take(&b, out_size);
    return *out ? GAINMAP_OK : gm_error(ctx, GAINMAP_ERR_NOMEM, "PNG: out of memory");
}

static gainmap_status take_chunks(gainmap_ctx *ctx, png_structp png, png_infop info, gainmap_image *img)
{
    png_unknown_chunkp chunks = NULL;
    int n = png_get_unknown_chunks(png, info, &chunks);
    uint64_t limit = ctx ? (uint64_t)ctx->max_metadata_bytes : 16u << 20;
    for (int i = 0; i < n; i++) {
        const png_unknown_chunk *c = &chunks[i];
        const char *name = (const char *)c->name;
        if (!memcmp(name, "cICP", 4)) {
            if (c->size != 4)
                return gm_error(ctx, GAINMAP_ERR_CORRUPT, "PNG: cICP chunk is %zu bytes, not 4", c->size);
            if (!img->has_cicp) {
                img->has_cicp = 1;
                memcpy(img->cicp, c->data, 4);
            }
        } else if (!memcmp(name, "iCCP", 4) && !img->icc) {
            size_t k = 0;
            while (k < c->size && k < 80 && c->data[k])
                k++;
            if (k == 0 || k >= 80 || k + 2 > c->size || c->data[k + 1] != 0)
                return gm_error(ctx, GAINMAP_ERR_CORRUPT, "PNG: malformed iCCP chunk header");
            gainmap_status st = inflate_icc(ctx, c->data + k + 2, c->size - k - 2, limit, &img->icc, &img->icc_size);
            if (st != GAINMAP_OK)
                return st;
        } else if (!memcmp(name, "eXIf", 4) && !img->exif && c->size) {
            gainmap_status st = gm_check_meta_size(ctx, c->size, "PNG eXIf chunk");
            if (st != GAINMAP_OK)
                return st;
            if (gainmap_image_set_exif(img, c->data, c->size) != GAINMAP_OK)
                return gm_error(ctx, GAINMAP_ERR_NOMEM, "PNG: out of memory");
        } else if (!memcmp(name, "cLLi", 4) && c->size == 8) {
            img->max_cll = gm_be32(c->data) / 10000.0;
            img->max_fall = gm_be32(c->data + 4) / 10000.0;
        }
    }
    return GAINMAP_OK;
}

static const png_byte kept_chunks[] = "cICP\0iCCP\0eXIf\0cLLi";

/* Decode the PNG of s (whose first 33 bytes are head, when it has them);
 * libpng reads through read_cb. */
static gainmap_status decode(gainmap_ctx *ctx, png_state *ps, const uint8_t *head, gainmap_image *out)
{
    /* Check the IHDR dimensions ourselves first, with our limits and words. */
    if (ps->size < 33)
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "PNG: truncated before the end of the IHDR chunk");
    if (memcmp(head + 12, "IHDR", 4) || gm_be32(head + 8) != 13)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "PNG: the first chunk is not a 13-byte IHDR");
    gainmap_status st = gm_check_dims(ctx, gm_be32(head + 16), gm_be32(head + 20), 8, "PNG image");
    if (st != GAINMAP_OK)
        return st;

    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ps, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "PNG: out of memory");
    }
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        gainmap_image_free(out);
        if (ps->own != GAINMAP_OK)
            return ps->own;
        if (ps->truncated) {
            char what[80];
            describe_truncation(ps, what, sizeof what);
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "PNG: %s", what);
        }
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "PNG: %s", ps->msg[0] ? ps->msg : "corrupt data");
    }
    png_set_read_fn(png, ps, read_cb);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_chunk_malloc_max(png, (png_alloc_size_t)(ctx ? ctx->max_metadata_bytes : 16 << 20) + 4096);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_ALWAYS, kept_chunks, 4);
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    if (ctype == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(png);
    if (ctype == PNG_COLOR_TYPE_GRAY_ALPHA ||
        (ctype == PNG_COLOR_TYPE_GRAY && png_get_valid(png, info, PNG_INFO_tRNS)))
        png_set_gray_to_rgb(png);
    if (depth == 16)
        png_set_swap(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    uint32_t channels = png_get_channels(png, info);
    int out_depth = png_get_bit_depth(png, info);
    if ((channels != 1 && channels != 3 && channels != 4) || (out_depth != 8 && out_depth != 16)) {
        ps->own = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "PNG: unsupported layout of %u channels at %d bits",
                           channels, out_depth);
        png_error(png, "unsupported layout");
    }
    st = gainmap_image_alloc(ctx, out, w, h, channels, out_depth == 16 ? GAINMAP_PIXEL_U16 : GAINMAP_PIXEL_U8);
    if (st != GAINMAP_OK) {
        ps->own = st;
        png_error(png, "allocation failed");
    }
    if (png_get_rowbytes(png, info) != out->stride)
        png_error(png, "unexpected row size");
    rows = gm_malloc(ctx, sizeof(png_bytep) * h);
    if (!rows) {
        ps->own = GAINMAP_ERR_NOMEM;
        png_error(png, "allocation failed");
    }
    for (uint32_t y = 0; y < h; y++)
        rows[y] = (png_bytep)out->data + (size_t)y * out->stride;
    png_read_image(png, rows);
    png_read_end(png, info);
    free(rows);
    rows = NULL;
    out->bit_depth = (uint32_t)depth < 8 ? 8 : (uint32_t)depth;
    st = take_chunks(ctx, png, info, out);
    png_destroy_read_struct(&png, &info, NULL);
    if (st != GAINMAP_OK) {
        gainmap_image_free(out);
        return st;
    }
    return GAINMAP_OK;
}

gainmap_status gm_png_read(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out)
{
    png_state s;
    memset(&s, 0, sizeof s);
    s.ctx = ctx;
    s.fd = -1;
    s.size = size;
    gm_rd_init(&s.r, data, size);
    return decode(ctx, &s, data, out);
}

gainmap_status gm_png_read_fd(gainmap_ctx *ctx, int fd, uint64_t size, gainmap_image *out)
{
    memset(out, 0, sizeof *out);
    png_state s;
    memset(&s, 0, sizeof s);
    s.ctx = ctx;
    s.fd = fd;
    s.size = size;
    uint8_t head[33];
    errno = 0;
    if (size >= sizeof head && pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head)
        return gm_error(ctx, GAINMAP_ERR_IO, "PNG: cannot read the file: %s", strerror(errno ? errno : EIO));
    if (lseek(fd, 0, SEEK_SET) != 0)
        return gm_error(ctx, GAINMAP_ERR_IO, "PNG: cannot read the file: %s", strerror(errno));
    if (!(s.buf = gm_malloc(ctx, READ_BUF)))
        return GAINMAP_ERR_NOMEM;
    gainmap_status st = decode(ctx, &s, head, out);
    free(s.buf);
    return st;
}

/* ---- writer -------------------------------------------------------------- */

static void put_chunk(png_unknown_chunk *c, const char *name, uint8_t *data, size_t size)
{
    memset(c, 0, sizeof *c);
    memcpy(c->name, name, 4);
    c->data = data;
    c->size = size;
    c->location = PNG_HAVE_IHDR;
}

/* Our own write/flush callbacks keep the system's reason (ENOSPC, EFBIG,
 * EIO) that libpng's default "Write Error" drops. */
static void write_cb(png_structp png, png_bytep data, size_t n)
{
    png_state *s = png_get_io_ptr(png);
    errno = 0;
    if (fwrite(data, 1, n, s->out) != n) {
        s->write_errno = errno ? errno : EIO;
        png_error(png, "write failed");
    }
}

static void flush_cb(png_structp png)
{
    png_state *s = png_get_io_ptr(png);
    errno = 0;
    if (fflush(s->out) != 0) {
        s->write_errno = errno ? errno : EIO;
        png_error(png, "write failed");
    }
}

/* The cICP to write: the image's own tagging, else PQ/HLG/linear from its enums. */
static bool choose_cicp(const gainmap_image *img, uint8_t cicp[4])
{
    if (img->has_cicp) {
        memcpy(cicp, img->cicp, 4);
        return true;
    }
    if (img->transfer != GAINMAP_TRANSFER_PQ && img->transfer != GAINMAP_TRANSFER_HLG &&
        img->transfer != GAINMAP_TRANSFER_LINEAR)
        return false;
    int cp = gainmap_primaries_to_cicp(img->primaries), tc = gainmap_transfer_to_cicp(img->transfer);
    if (cp <= 0 || tc <= 0)
        return false;
    cicp[0] = (uint8_t)cp;
    cicp[1] = (uint8_t)tc;
    cicp[2] = 0; /* RGB */
    cicp[3] = 1; /* full range */
    return true;
}

/* The row writer's state (libpng's longjmp can come from any call, so all
 * of it lives here, not in locals). */
typedef struct png_writer {
    png_state s;
    png_structp png;
    png_infop info;
    FILE *f;
    uint8_t *iccp, *exif;
} png_writer;

static void png_writer_free(png_writer *w)
{
    if (w->png)
        png_destroy_write_struct(&w->png, w->info ? &w->info : NULL);
    if (w->f)
        fclose(w->f);
    free(w->iccp);
    free(w->exif);
    free(w);
}

static void png_abort(void *state) { png_writer_free(state); }

static gainmap_status png_jump_status(gainmap_ctx *ctx, png_writer *w)
{
    if (w->s.own)
        return w->s.own;
    if (w->s.write_errno)
        return gm_error(ctx, GAINMAP_ERR_IO, "PNG: cannot write the output: %s", strerror(w->s.write_errno));
    return gm_error(ctx, GAINMAP_ERR_CODEC, "PNG: cannot write: %s", w->s.msg[0] ? w->s.msg : "libpng failed");
}

static void png_put_rows(png_writer *w, const gainmap_image *rows)
{
    for (uint32_t y = 0; y < rows->height; y++)
        png_write_row(w->png, (png_const_bytep)rows->data + (size_t)y * rows->stride);
}

static gainmap_status png_rows(gainmap_ctx *ctx, void *state, const gainmap_image *strip)
{
    png_writer *w = state;
    gainmap_image conv;
    const gainmap_image *rows;
    gainmap_status st = gm_strip_convert(ctx, strip, GAINMAP_PIXEL_U16, 0, &conv, &rows);
    if (st != GAINMAP_OK)
        return st;
    if (setjmp(png_jmpbuf(w->png))) {
        gainmap_image_free(&conv);
        return png_jump_status(ctx, w);
    }
    png_put_rows(w, rows);
    gainmap_image_free(&conv);
    return GAINMAP_OK;
}

/* png_write_end (its own function: a longjmp target); 0 or the failure. */
static gainmap_status png_end(gainmap_ctx *ctx, png_writer *w)
{
    if (setjmp(png_jmpbuf(w->png)))
        return png_jump_status(ctx, w);
    png_write_end(w->png, w->info);
    return GAINMAP_OK;
}

static gainmap_status png_finish(gainmap_ctx *ctx, void *state)
{
    png_writer *w = state;
    gainmap_status st = png_end(ctx, w);
    if (st != GAINMAP_OK) {
        png_writer_free(w);
        return st;
    }
    errno = 0;
    if (fflush(w->f) != 0 || ferror(w->f))
        st = gm_error(ctx, GAINMAP_ERR_IO, "PNG: cannot write the output: %s", strerror(errno ? errno : EIO));
    png_destroy_write_struct(&w->png, &w->info);
    w->png = NULL;
    errno = 0;
    FILE *f = w->f;
    w->f = NULL;
    if (fclose(f) != 0 && st == GAINMAP_OK)
        st = gm_error(ctx, GAINMAP_ERR_IO, "PNG: cannot write the output: %s", strerror(errno ? errno : EIO));
    png_writer_free(w);
    return st;
}

/* IHDR, the chunks and libpng's set-up (its own function: a longjmp target). */
static gainmap_status png_start(gainmap_ctx *ctx, png_writer *w, const gainmap_image *img, png_unknown_chunk *chunks,
                                int nchunks)
{
    if (setjmp(png_jmpbuf(w->png)))
        return png_jump_status(ctx, w);
    png_set_write_fn(w->png, &w->s, write_cb, flush_cb);
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, 0, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    png_set_IHDR(w->png, w->info, img->width, img->height, 16, types[img->channels], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_keep_unknown_chunks(w->png, PNG_HANDLE_CHUNK_ALWAYS, kept_chunks, 4);
    if (nchunks)
        png_set_unknown_chunks(w->png, w->info, chunks, nchunks);
    png_write_info(w->png, w->info);
    png_set_swap(w->png);
    return GAINMAP_OK;
}

gainmap_status gm_png_writer(gainmap_ctx *ctx, const char *path, const gainmap_image *img, gm_fmt_writer *out)
{
    gainmap_status st = gm_strip_check(ctx, img, GAINMAP_PIXEL_U16, 0);
    if (st != GAINMAP_OK)
        return st;
    png_writer *w = calloc(1, sizeof *w);
    if (!w)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "PNG: out of memory");
    png_unknown_chunk chunks[4];
    int nchunks = 0;
    uint8_t cicp[4], clli[8];
    if (choose_cicp(img, cicp))
        put_chunk(&chunks[nchunks++], "cICP", cicp, 4);
    if (img->icc && img->icc_size) {
        uLong bound = compressBound((uLong)img->icc_size);
        static const char name[] = "ICC profile";
        w->iccp = gm_malloc(ctx, sizeof name + 1 + bound);
        if (!w->iccp) {
            png_writer_free(w);
            return GAINMAP_ERR_NOMEM;
        }
        memcpy(w->iccp, name, sizeof name); /* with its NUL */
        w->iccp[sizeof name] = 0;           /* compression method: deflate */
        uLongf zlen = bound;
        if (compress2(w->iccp + sizeof name + 1, &zlen, img->icc, (uLong)img->icc_size, 9) != Z_OK) {
            png_writer_free(w);
            return gm_error(ctx, GAINMAP_ERR_CODEC, "PNG: cannot compress the ICC profile");
        }
        put_chunk(&chunks[nchunks++], "iCCP", w->iccp, sizeof name + 1 + zlen);
    }
    size_t exif_size = 0;
    if (img->exif && img->exif_size) {
        w->exif = gm_malloc(ctx, img->exif_size);
        if (!w->exif) {
            png_writer_free(w);
            return GAINMAP_ERR_NOMEM;
        }
        memcpy(w->exif, img->exif, img->exif_size);
        exif_size = img->exif_size;
        if (img->orientation >= 1 && img->orientation <= 8)
            gm_exif_set_orientation(w->exif, exif_size, img->orientation);
    } else if (img->orientation > 1 && img->orientation <= 8) {
        uint8_t *exif = NULL;
        if ((st = gm_exif_make(ctx, img->orientation, &exif, &exif_size)) != GAINMAP_OK) {
            png_writer_free(w);
            return st;
        }
        w->exif = exif;
    }
    if (w->exif)
        put_chunk(&chunks[nchunks++], "eXIf", w->exif, exif_size);
    if (img->max_cll > 0) {
        uint32_t a = (uint32_t)GM_MIN(img->max_cll * 10000.0 + 0.5, 4294967295.0);
        uint32_t b = (uint32_t)GM_MIN(img->max_fall * 10000.0 + 0.5, 4294967295.0);
        for (int i = 0; i < 4; i++) {
            clli[i] = (uint8_t)(a >> (24 - 8 * i));
            clli[4 + i] = (uint8_t)(b >> (24 - 8 * i));
        }
        put_chunk(&chunks[nchunks++], "cLLi", clli, 8);
    }

    w->s.ctx = ctx;
    w->f = fopen(path, "wb");
    if (!w->f) {
        st = gm_error(ctx, GAINMAP_ERR_IO, "PNG: cannot open the output for writing: %s", strerror(errno));
        png_writer_free(w);
        return st;
    }
    w->s.out = w->f;
    w->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &w->s, on_error, on_warning);
    w->info = w->png ? png_create_info_struct(w->png) : NULL;
    if (!w->info) {
        png_writer_free(w);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "PNG: out of memory");
    }
    if ((st = png_start(ctx, w, img, chunks, nchunks)) != GAINMAP_OK) {
        png_writer_free(w);
        return st;
    }
    out->state = w;
    out->rows = png_rows;
    out->finish = png_finish;
    out->abort = png_abort;
    return GAINMAP_OK;
}

gainmap_status gm_png_write(gainmap_ctx *ctx, const char *path, const gainmap_image *img)
{
    gm_fmt_writer w;
    gainmap_status st = gm_png_writer(ctx, path, img, &w);
    return st != GAINMAP_OK ? st : gm_write_strips(ctx, img, &w);
}

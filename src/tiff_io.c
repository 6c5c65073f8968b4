/* tiff_io.c - TIFF reader (8/16-bit integer, 16/32-bit float; contiguous
 * grey, RGB, RGBA; strips or tiles) and writer (16-bit integer, or 32-bit
 * float for linear float images; deflate) through libtiff 4.5.  libtiff's
 * messages go to per-file handlers (TIFFOpenOptions), never to stderr. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

typedef struct tiff_state {
    const uint8_t *data;
    uint64_t size, pos;
    char msg[200];
    int fd;            /* writer: the output file */
    int write_errno;   /* writer: errno of the first failed write/seek/close, else 0 */
} tiff_state;

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    tiff_state *s = user;
    if (s && !s->msg[0]) {
        char text[180];
        vsnprintf(text, sizeof text, fmt, ap);
        /* libtiff's own messages start with the module; keep the text only. */
        snprintf(s->msg, sizeof s->msg, "%s", text);
        (void)module;
    }
    return 1; /* handled: do not call the global (printing) handler */
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    (void)user;
    (void)module;
    (void)fmt;
    (void)ap;
    return 1;
}

static TIFFOpenOptions *make_options(gainmap_ctx *ctx, tiff_state *s)
{
    TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
    if (!o)
        return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(o, on_error, s);
    TIFFOpenOptionsSetWarningHandlerExtR(o, on_warning, s);
    int64_t lim = ctx ? ctx->max_alloc_bytes : ((int64_t)4 << 30);
    TIFFOpenOptionsSetMaxSingleMemAlloc(o, (tmsize_t)lim);
    return o;
}

static tmsize_t mem_read(thandle_t h, void *buf, tmsize_t n)
{
    tiff_state *s = (tiff_state *)h;
    if (n < 0 || s->pos >= s->size)
        return 0;
    uint64_t k = GM_MIN((uint64_t)n, s->size - s->pos);
    memcpy(buf, s->data + s->pos, (size_t)k);
    s->pos += k;
    return (tmsize_t)k;
}

static tmsize_t no_write(thandle_t h, void *buf, tmsize_t n)
{
    (void)h;
    (void)buf;
    (void)n;
    return -1;
}

static toff_t mem_seek(thandle_t h, toff_t off, int whence)
{
    tiff_state *s = (tiff_state *)h;
    uint64_t base = whence == SEEK_CUR ? s->pos : whence == SEEK_END ? s->size : 0;
    if (off > UINT64_MAX - base)
        return (toff_t)-1;
    s->pos = base + off;
    return s->pos;
}

static int no_close(thandle_t h)
{
    (void)h;
    return 0;
}

static toff_t mem_size(thandle_t h) { return ((tiff_state *)h)->size; }

static int mem_map(thandle_t h, void **base, toff_t *size)
{
    tiff_state *s = (tiff_state *)h;
    *base = (void *)(uintptr_t)s->data;
    *size = s->size;
    return 1;
}

static void mem_unmap(thandle_t h, void *base, toff_t size)
{
    (void)h;
    (void)base;
    (void)size;
}

static gainmap_status fail(gainmap_ctx *ctx, gainmap_status st, const tiff_state *s, const char *fallback)
{
    return gm_error(ctx, st, "TIFF: %s", s->msg[0] ? s->msg : fallback);
}

/* The file procedures of the writer (libtiff's own would report "Write
 * error at scanline N" and drop the system's reason: ENOSPC, EFBIG, EIO) and
 * of the reader of an open file. */
static void fd_failed(tiff_state *s)
{
    if (!s->write_errno)
        s->write_errno = errno ? errno : EIO;
}

static tmsize_t fd_read(thandle_t h, void *buf, tmsize_t n)
{
    tiff_state *s = (tiff_state *)h;
    return n > 0 ? (tmsize_t)gm_read_all(s->fd, buf, (size_t)n, -1) : 0;
}

static tmsize_t fd_write(thandle_t h, void *buf, tmsize_t n)
{
    tiff_state *s = (tiff_state *)h;
    if (n <= 0)
        return 0;
    int e = gm_write_all(s->fd, buf, (size_t)n, -1);
    if (e) {
        errno = e;
        fd_failed(s);
        return -1;
    }
    return n;
}

static toff_t fd_seek(thandle_t h, toff_t off, int whence)
{
    tiff_state *s = (tiff_state *)h;
    if (off > (toff_t)INT64_MAX)
        return (toff_t)-1;
    off_t r = lseek(s->fd, (off_t)off, whence);
    if (r < 0) {
        fd_failed(s);
        return (toff_t)-1;
    }
    return (toff_t)r;
}

static int fd_close(thandle_t h)
{
    tiff_state *s = (tiff_state *)h;
    int r = close(s->fd);
    s->fd = -1;
    if (r != 0)
        fd_failed(s);
    return r;
}

static toff_t fd_size(thandle_t h)
{
    struct stat st;
    return fstat(((tiff_state *)h)->fd, &st) == 0 ? (toff_t)st.st_size : 0;
}

static int fd_map(thandle_t h, void **base, toff_t *size)
{
    (void)h;
    (void)base;
    (void)size;
    return 0;
}

static void fd_unmap(thandle_t h, void *base, toff_t size)
{
    (void)h;
    (void)base;
    (void)size;
}

/* Copy `rows` rows of `cols` pixels from a decoded block into the image,
 * converting half floats when needed. */
static void put_block(gainmap_image *img, const uint8_t *src, size_t src_stride, uint32_t x0, uint32_t y0,
                      uint32_t cols, uint32_t rows, bool half)
{
    size_t ps = gm_pixel_size(img->type) * img->channels;
    for (uint32_t r = 0; r < rows; r++) {
        const uint8_t *s = src + (size_t)r * src_stride;
        uint8_t *d = (uint8_t *)img->data + (size_t)(y0 + r) * img->stride + (size_t)x0 * ps;
        if (!half) {
            memcpy(d, s, (size_t)cols * ps);
            continue;
        }
        float *df = (float *)(void *)d;
        for (size_t i = 0; i < (size_t)cols * img->channels; i++) {
            uint16_t hv;
            memcpy(&hv, s + 2 * i, 2);
            df[i] = gm_half_to_float(hv);
        }
    }
}

/* The pixels and tags of the first image of an open TIFF, whose file is
 * `size` bytes (strips and tiles that run past it are reported as
 * truncation before libtiff reads them).  *out is freed on failure. */
static gainmap_status decode(gainmap_ctx *ctx, TIFF *tif, tiff_state *s, uint64_t size, gainmap_image *out)
{
    gainmap_status st = GAINMAP_OK;
    uint8_t *buf = NULL;
    uint32_t w = 0, h = 0;
    uint16_t spp = 1, bps = 1, fmt = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG, photo = 0, orient = 1;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h)) {
        st = fail(ctx, GAINMAP_ERR_CORRUPT, s, "no image width or length");
        goto done;
    }
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &orient);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo))
        photo = spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
    if (spp != 1 && spp != 3 && spp != 4) {
        st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "TIFF: unsupported %u samples per pixel", spp);
        goto done;
    }
    if ((spp == 1 && photo != PHOTOMETRIC_MINISBLACK) || (spp > 1 && photo != PHOTOMETRIC_RGB)) {
        st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED,
                      "TIFF: unsupported photometric interpretation %u with %u samples (only RGB and grey)", photo,
                      spp);
        goto done;
    }
    if (planar != PLANARCONFIG_CONTIG && spp > 1) {
        st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "TIFF: separate colour planes are not supported");
        goto done;
    }
    gainmap_pixel_type type;
    bool half = false;
    if (fmt == SAMPLEFORMAT_UINT && (bps == 8 || bps == 16)) {
        type = bps == 8 ? GAINMAP_PIXEL_U8 : GAINMAP_PIXEL_U16;
    } else if (fmt == SAMPLEFORMAT_IEEEFP && (bps == 32 || bps == 16)) {
        type = GAINMAP_PIXEL_F32;
        half = bps == 16;
    } else {
        st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "TIFF: unsupported %u-bit %s samples", bps,
                      fmt == SAMPLEFORMAT_IEEEFP ? "float" : fmt == SAMPLEFORMAT_INT ? "signed" : "integer");
        goto done;
    }
    st = gm_check_dims(ctx, w, h, (uint64_t)spp * gm_pixel_size(type), "TIFF image");
    if (st != GAINMAP_OK)
        goto done;
    uint32_t icc_len = 0;
    void *icc = NULL;
    if (TIFFGetField(tif, TIFFTAG_ICCPROFILE, &icc_len, &icc) && icc && icc_len) {
        if ((st = gm_check_meta_size(ctx, icc_len, "TIFF ICC profile")) != GAINMAP_OK)
            goto done;
        if (gainmap_image_set_icc(out, icc, icc_len) != GAINMAP_OK) {
            st = gm_error(ctx, GAINMAP_ERR_NOMEM, "TIFF: out of memory");
            goto done;
        }
    }
    /* Keep the metadata across the pixel allocation, which zeroes *out. */
    uint8_t *icc_copy = out->icc;
    size_t icc_size = out->icc_size;
    out->icc = NULL;
    st = gainmap_image_alloc(ctx, out, w, h, spp, type);
    out->icc = icc_copy;
    out->icc_size = icc_copy ? icc_size : 0;
    if (st != GAINMAP_OK)
        goto done;
    size_t file_bps = bps / 8;
    size_t row_bytes = (size_t)w * spp * file_bps;
    if (TIFFIsTiled(tif)) {
        uint32_t tw = 0, th = 0;
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
        tmsize_t tsize = TIFFTileSize(tif);
        size_t tstride = (size_t)tw * spp * file_bps;
        if (!tw || !th || tsize <= 0 || (uint64_t)tsize < (uint64_t)tstride * th) {
            st = fail(ctx, GAINMAP_ERR_CORRUPT, s, "bad tile size");
            goto done;
        }
        buf = gm_malloc(ctx, (size_t)tsize);
        if (!buf) {
            st = GAINMAP_ERR_NOMEM;
            goto done;
        }
        for (uint32_t ty = 0; ty < h; ty += th) {
            for (uint32_t tx = 0; tx < w; tx += tw) {
                uint32_t tile = TIFFComputeTile(tif, tx, ty, 0, 0);
                uint64_t off = TIFFGetStrileOffset(tif, tile), len = TIFFGetStrileByteCount(tif, tile);
                if (off > size || len > size - off) {
                    st = gm_error(ctx, GAINMAP_ERR_TRUNCATED, "TIFF: truncated: tile %u runs past the end of the file",
                                  tile);
                    goto done;
                }
                if (TIFFReadTile(tif, buf, tx, ty, 0, 0) < 0) {
                    st = fail(ctx, GAINMAP_ERR_CORRUPT, s, "cannot decode a tile");
                    goto done;
                }
                put_block(out, buf, tstride, tx, ty, GM_MIN(tw, w - tx), GM_MIN(th, h - ty), half);
            }
        }
    } else {
        uint32_t rps = h;
        TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
        if (rps == 0 || rps > h)
            rps = h;
        /* The file's rows are the image's rows (not half floats): libtiff
         * decodes, or for uncompressed data reads, straight into them. */
        bool direct = !half && out->stride == row_bytes;
        if (!direct && !(buf = gm_malloc(ctx, row_bytes * rps))) {
            st = GAINMAP_ERR_NOMEM;
            goto done;
        }
        for (uint32_t y = 0, strip = 0; y < h; y += rps, strip++) {
            uint32_t rows = GM_MIN(rps, h - y);
            tmsize_t want = (tmsize_t)(row_bytes * rows);
            uint64_t off = TIFFGetStrileOffset(tif, strip), len = TIFFGetStrileByteCount(tif, strip);
            if (off > size || len > size - off) {
                st = gm_error(ctx, GAINMAP_ERR_TRUNCATED, "TIFF: truncated: strip %u runs past the end of the file",
                              strip);
                goto done;
            }
            uint8_t *dst = direct ? (uint8_t *)out->data + (size_t)y * out->stride : buf;
            tmsize_t got = TIFFReadEncodedStrip(tif, strip, dst, want);
            if (got != want) {
                st = fail(ctx, got < 0 ? GAINMAP_ERR_CORRUPT : GAINMAP_ERR_TRUNCATED, s,
                          "truncated strip data");
                goto done;
            }
            if (!direct)
                put_block(out, buf, row_bytes, 0, y, w, rows, half);
        }
    }
    out->bit_depth = bps == 16 && half ? 16 : bps;
    out->orientation = orient >= 1 && orient <= 8 ? orient : 1;
done:
    free(buf);
    if (st != GAINMAP_OK)
        gainmap_image_free(out);
    return st;
}

/* Open the TIFF in s (s->fd, or bytes in memory when s->fd < 0) and
 * decode it; libtiff never maps the file ("m") nor closes s->fd. */
static gainmap_status read_tiff(gainmap_ctx *ctx, tiff_state *s, uint64_t size, gainmap_image *out)
{
    TIFFOpenOptions *opts = make_options(ctx, s);
    if (!opts)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "TIFF: out of memory");
    TIFF *tif = s->fd < 0 ? TIFFClientOpenExt("image", "rm", (thandle_t)s, mem_read, no_write, mem_seek, no_close,
                                              mem_size, mem_map, mem_unmap, opts)
                          : TIFFClientOpenExt("image", "rm", (thandle_t)s, fd_read, no_write, fd_seek, no_close,
                                              fd_size, fd_map, fd_unmap, opts);
    TIFFOpenOptionsFree(opts);
    if (!tif)
        return fail(ctx, size < 16 ? GAINMAP_ERR_TRUNCATED : GAINMAP_ERR_CORRUPT, s, "cannot read the header");
    gainmap_status st = decode(ctx, tif, s, size, out);
    TIFFClose(tif);
    return st;
}

/* EXIF from our own walk of the file's IFDs (libtiff's EXIF reading would
 * lose rationals' exact fractions and the tags it does not know); a broken
 * Exif or GPS IFD only loses that IFD. */
static size_t exif_limit(const gainmap_ctx *ctx)
{
    return ctx && ctx->max_metadata_bytes >= 0 ? (size_t)ctx->max_metadata_bytes : GM_EXIF_MAX_BYTES;
}

gainmap_status gm_tiff_read(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out)
{
    tiff_state s;
    memset(&s, 0, sizeof s);
    s.data = data;
    s.size = size;
    s.fd = -1;
    gainmap_status st = read_tiff(ctx, &s, size, out);
    if (st == GAINMAP_OK)
        gm_exif_from_tiff(data, size, exif_limit(ctx), &out->exif, &out->exif_size);
    return st;
}

gainmap_status gm_tiff_read_fd(gainmap_ctx *ctx, int fd, uint64_t size, gainmap_image *out)
{
    memset(out, 0, sizeof *out);
    if ((uint64_t)(size_t)size != size)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "TIFF: the file is too large for this system");
    tiff_state s;
    memset(&s, 0, sizeof s);
    s.fd = fd;
    s.size = size;
    if (lseek(fd, 0, SEEK_SET) != 0)
        return gm_error(ctx, GAINMAP_ERR_IO, "TIFF: cannot seek in the file: %s", strerror(errno));
    gainmap_status st = read_tiff(ctx, &s, size, out);
    if (st != GAINMAP_OK)
        return st;
    gm_exif_from_tiff_fd(fd, size, exif_limit(ctx), &out->exif, &out->exif_size);
    return GAINMAP_OK;
}


/* IFD0's descriptive tags from the image's EXIF, through libtiff (which
 * knows them); the orientation comes from img->orientation instead. */
static int set_exif_ifd0(TIFF *tif, const gainmap_image *img)
{
    static const uint16_t ascii[] = {TIFFTAG_DOCUMENTNAME, TIFFTAG_IMAGEDESCRIPTION, TIFFTAG_MAKE,
                                     TIFFTAG_MODEL,        TIFFTAG_SOFTWARE,         TIFFTAG_DATETIME,
                                     TIFFTAG_ARTIST,       TIFFTAG_HOSTCOMPUTER,     TIFFTAG_COPYRIGHT};
    int ok = 1;
    gm_exif_value v;
    for (size_t i = 0; i < sizeof ascii / sizeof *ascii; i++) {
        if (!gm_exif_find(img->exif, img->exif_size, 0, ascii[i], &v) || v.type != 2)
            continue;
        char *text = malloc(v.size + 1);
        if (!text)
            return 0;
        memcpy(text, v.data, v.size);
        text[v.size] = 0;   /* a Copyright "photographer\0editor" keeps its first part */
        if (text[0])
            ok &= TIFFSetField(tif, ascii[i], text);
        free(text);
    }
    gm_exif_value xr, yr, unit;
    if (gm_exif_find(img->exif, img->exif_size, 0, 0x011A, &xr) && xr.type == 5 &&
        gm_exif_find(img->exif, img->exif_size, 0, 0x011B, &yr) && yr.type == 5) {
        double r[2];
        const gm_exif_value *p[2] = {&xr, &yr};
        for (int i = 0; i < 2; i++) {
            uint32_t num = p[i]->le ? gm_le32(p[i]->data) : gm_be32(p[i]->data);
            uint32_t den = p[i]->le ? gm_le32(p[i]->data + 4) : gm_be32(p[i]->data + 4);
            r[i] = den ? (double)num / den : 0.0;
        }
        if (r[0] > 0 && r[1] > 0) {
            ok &= TIFFSetField(tif, TIFFTAG_XRESOLUTION, r[0]);
            ok &= TIFFSetField(tif, TIFFTAG_YRESOLUTION, r[1]);
            if (gm_exif_find(img->exif, img->exif_size, 0, 0x0128, &unit) && unit.type == 3) {
                uint16_t u = unit.le ? gm_le16(unit.data) : gm_be16(unit.data);
                if (u >= 1 && u <= 3)
                    ok &= TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, u);
            }
        }
    }
    return ok;
}

/* Append the Exif and GPS IFDs of exif to the TIFF libtiff has just
 * closed and point IFD0's placeholder entries (written as 0) at them. */
static gainmap_status append_exif_ifds(gainmap_ctx *ctx, const char *path, const gainmap_image *img)
{
    errno = 0;
    FILE *f = fopen(path, "r+b");
    if (!f)
        return gm_error(ctx, GAINMAP_ERR_IO, "TIFF: cannot reopen the output to add EXIF: %s", strerror(errno));
    gm_buf b;
    gm_buf_init(&b);
    bool ok = fseek(f, 0, SEEK_END) == 0;
    long end = ok ? ftell(f) : -1;
    uint32_t exif_at = 0, gps_at = 0;
    ok = end >= 8 && gm_exif_sub_ifds(img->exif, img->exif_size, (uint64_t)end, &b, &exif_at, &gps_at) &&
         fwrite(b.data, 1, b.size, f) == b.size;
    /* IFD0 as libtiff wrote it, in the EXIF's byte order (see gm_tiff_write) */
    uint8_t head[8];
    bool le = true;
    ok = ok && fseek(f, 0, SEEK_SET) == 0 && fread(head, 1, 8, f) == 8;
    ok = ok && head[0] == gm_exif_byte_order(img->exif, img->exif_size);
    if (ok) {
        le = head[0] == 'I';
        uint32_t ifd0 = le ? gm_le32(head + 4) : gm_be32(head + 4);
        uint8_t cnt[2];
        ok = fseek(f, (long)ifd0, SEEK_SET) == 0 && fread(cnt, 1, 2, f) == 2;
        unsigned n = ok ? (le ? gm_le16(cnt) : gm_be16(cnt)) : 0;
        for (unsigned i = 0; ok && i < n; i++) {
            uint8_t e[12];
            long at = (long)ifd0 + 2 + 12 * (long)i;
            ok = fseek(f, at, SEEK_SET) == 0 && fread(e, 1, 12, f) == 12;
            uint16_t tag = le ? gm_le16(e) : gm_be16(e);
            uint32_t value = tag == 0x8769 ? exif_at : tag == 0x8825 ? gps_at : 0;
            if (!ok || !value)
                continue;
            uint8_t v[4];
            for (int k = 0; k < 4; k++)
                v[k] = (uint8_t)(le ? value >> (8 * k) : value >> (24 - 8 * k));
            ok = fseek(f, at + 8, SEEK_SET) == 0 && fwrite(v, 1, 4, f) == 4;
        }
    }
    gm_buf_free(&b);
    int err = ok ? 0 : errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (ok)
        return GAINMAP_OK;
    return gm_error(ctx, GAINMAP_ERR_IO, "TIFF: cannot add the EXIF IFDs to the output%s%s", err ? ": " : "",
                    err ? strerror(err) : "");
}

typedef struct tiff_writer {
    tiff_state s;
    TIFF *tif;
    int as_float;
    uint32_t y;
    char *path;
    gainmap_image exif;   /* a copy of the EXIF, for its IFDs appended at the end */
    uint32_t exif_at, gps_at;
    uint8_t *row;
} tiff_writer;

static void tiff_abort(void *state)
{
    tiff_writer *w = state;
    if (w->tif)
        TIFFClose(w->tif);
    else if (w->s.fd >= 0)
        close(w->s.fd);
    free(w->path);
    free(w->row);
    gainmap_image_free(&w->exif);
    free(w);
}

static gainmap_status tiff_rows(gainmap_ctx *ctx, void *state, const gainmap_image *strip)
{
    tiff_writer *w = state;
    gainmap_image conv;
    const gainmap_image *rows;
    gainmap_status st =
        gm_strip_convert(ctx, strip, w->as_float ? GAINMAP_PIXEL_F32 : GAINMAP_PIXEL_U16, 0, &conv, &rows);
    if (st != GAINMAP_OK)
        return st;
    /* libtiff's predictor differences the row in place: give it our copy,
     * never the caller's pixels */
    size_t row = (size_t)rows->width * rows->channels * gm_pixel_size(rows->type);
    if (!w->row && !(w->row = gm_malloc(ctx, row))) {
        gainmap_image_free(&conv);
        return GAINMAP_ERR_NOMEM;
    }
    int ok = 1;
    for (uint32_t i = 0; ok && i < rows->height; i++) {
        memcpy(w->row, (const uint8_t *)rows->data + (size_t)i * rows->stride, row);
        ok = TIFFWriteScanline(w->tif, w->row, w->y + i, 0) == 1;
    }
    gainmap_image_free(&conv);
    w->y += strip->height;
    if (ok)
        return GAINMAP_OK;
    if (w->s.write_errno)
        return gm_error(ctx, GAINMAP_ERR_IO, "TIFF: cannot write the output: %s", strerror(w->s.write_errno));
    return fail(ctx, GAINMAP_ERR_IO, &w->s, "cannot write the output");
}

static gainmap_status tiff_finish(gainmap_ctx *ctx, void *state)
{
    tiff_writer *w = state;
    int ok = TIFFWriteDirectory(w->tif);
    TIFFClose(w->tif);
    w->tif = NULL;
    gainmap_status st = GAINMAP_OK;
    if (w->s.write_errno)
        st = gm_error(ctx, GAINMAP_ERR_IO, "TIFF: cannot write the output: %s", strerror(w->s.write_errno));
    else if (!ok || w->s.msg[0])
        st = fail(ctx, GAINMAP_ERR_IO, &w->s, "cannot write the output");
    else if (w->exif_at || w->gps_at)
        st = append_exif_ifds(ctx, w->path, &w->exif);
    w->s.fd = -1;
    tiff_abort(w);
    return st;
}

gainmap_status gm_tiff_writer(gainmap_ctx *ctx, const char *path, const gainmap_image *img, gm_fmt_writer *out)
{
    bool as_float = img->type == GAINMAP_PIXEL_F32 &&
                    (img->transfer == GAINMAP_TRANSFER_LINEAR || img->transfer == GAINMAP_TRANSFER_UNKNOWN);
    gainmap_status st = gm_strip_check(ctx, img, as_float ? GAINMAP_PIXEL_F32 : GAINMAP_PIXEL_U16, 0);
    if (st != GAINMAP_OK)
        return st;
    tiff_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "TIFF: out of memory");
    }
    w->s.fd = -1;
    w->as_float = as_float;
    /* EXIF: descriptive IFD0 tags through libtiff; the Exif and GPS IFDs
     * are appended by us after libtiff is done (placeholders in IFD0), in
     * the EXIF's byte order, which the whole file then takes. */
    char order = img->exif ? gm_exif_byte_order(img->exif, img->exif_size) : 0;
    if (order) {
        gm_buf probe;
        gm_buf_init(&probe);
        gm_exif_sub_ifds(img->exif, img->exif_size, 8, &probe, &w->exif_at, &w->gps_at);
        gm_buf_free(&probe);
        if ((w->exif_at || w->gps_at) && gainmap_image_set_exif(&w->exif, img->exif, img->exif_size) != GAINMAP_OK) {
            tiff_abort(w);
            return gm_error(ctx, GAINMAP_ERR_NOMEM, "TIFF: out of memory");
        }
    }
    w->s.fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (w->s.fd < 0) {
        st = gm_error(ctx, GAINMAP_ERR_IO, "TIFF: cannot open the output for writing: %s", strerror(errno));
        tiff_abort(w);
        return st;
    }
    TIFFOpenOptions *opts = make_options(ctx, &w->s);
    TIFF *tif = opts ? TIFFClientOpenExt(path, order == 'M' ? "wbm" : order == 'I' ? "wlm" : "wm", (thandle_t)&w->s,
                                         fd_read, fd_write, fd_seek, fd_close, fd_size, fd_map, fd_unmap, opts)
                     : NULL;
    if (opts)
        TIFFOpenOptionsFree(opts);
    if (!tif) {
        st = fail(ctx, GAINMAP_ERR_IO, &w->s, "cannot open the output for writing");
        tiff_abort(w);
        return st;
    }
    w->tif = tif;
    int ok = 1;
    ok &= TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, img->width);
    ok &= TIFFSetField(tif, TIFFTAG_IMAGELENGTH, img->height);
    ok &= TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)img->channels);
    ok &= TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)(as_float ? 32 : 16));
    ok &= TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, (uint16_t)(as_float ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT));
    ok &= TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, (uint16_t)(img->channels >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK));
    ok &= TIFFSetField(tif, TIFFTAG_PLANARCONFIG, (uint16_t)PLANARCONFIG_CONTIG);
    ok &= TIFFSetField(tif, TIFFTAG_COMPRESSION, (uint16_t)COMPRESSION_ADOBE_DEFLATE);
    ok &= TIFFSetField(tif, TIFFTAG_PREDICTOR, (uint16_t)(as_float ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL));
    ok &= TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tif, 0));
    if (img->channels == 4) {
        uint16_t extra = EXTRASAMPLE_UNASSALPHA;
        ok &= TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, (uint16_t)1, &extra);
    }
    if (img->orientation >= 1 && img->orientation <= 8)
        ok &= TIFFSetField(tif, TIFFTAG_ORIENTATION, (uint16_t)img->orientation);
    if (img->icc && img->icc_size) {
        ok &= TIFFSetField(tif, TIFFTAG_ICCPROFILE, (uint32_t)img->icc_size, img->icc);
    } else if (!as_float) {
        /* TIFF has no cICP: without an ICC a PQ/HLG or P3 file would read back as sRGB */
        const char *name = gm_icc_name_for(img->primaries, img->transfer);
        uint8_t *icc = NULL;
        size_t icc_size = 0;
        if (name && strcmp(name, "srgb") && gainmap_icc_generate(ctx, name, &icc, &icc_size) == GAINMAP_OK)
            ok &= TIFFSetField(tif, TIFFTAG_ICCPROFILE, (uint32_t)icc_size, icc);
        gainmap_free(icc);
    }
    if (order) {
        ok &= set_exif_ifd0(tif, img);
        if (w->exif_at)
            ok &= TIFFSetField(tif, TIFFTAG_EXIFIFD, (uint64_t)0);
        if (w->gps_at)
            ok &= TIFFSetField(tif, TIFFTAG_GPSIFD, (uint64_t)0);
    }
    if (!ok) {
        st = w->s.write_errno
                 ? gm_error(ctx, GAINMAP_ERR_IO, "TIFF: cannot write the output: %s", strerror(w->s.write_errno))
                 : fail(ctx, GAINMAP_ERR_IO, &w->s, "cannot write the output");
        tiff_abort(w);
        return st;
    }
    out->state = w;
    out->rows = tiff_rows;
    out->finish = tiff_finish;
    out->abort = tiff_abort;
    return GAINMAP_OK;
}

gainmap_status gm_tiff_write(gainmap_ctx *ctx, const char *path, const gainmap_image *img)
{
    gm_fmt_writer w;
    gainmap_status st = gm_tiff_writer(ctx, path, img, &w);
    return st != GAINMAP_OK ? st : gm_write_strips(ctx, img, &w);
}

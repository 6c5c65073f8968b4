/* internal.h - private declarations shared by libgainmap's source files. */
#ifndef GAINMAP_INTERNAL_H
#define GAINMAP_INTERNAL_H

#include "gainmap.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define GM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define GM_UNUSED __attribute__((unused))
#else
#define GM_PRINTF(a, b)
#define GM_UNUSED
#endif

#define GM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define GM_MAX(a, b) ((a) > (b) ? (a) : (b))
#define GM_CLAMP(x, lo, hi) ((x) < (lo) ? (lo) : (x) > (hi) ? (hi) : (x))

/* ------------------------------------------------------------------ */
/* Context (api.c)                                                     */
/* ------------------------------------------------------------------ */
struct gainmap_ctx {
    int64_t max_pixels;
    int64_t max_dimension;
    int64_t max_metadata_bytes;
    int64_t max_alloc_bytes;
    int64_t max_file_bytes;
    int64_t threads;
    gainmap_status first_status;   /* GAINMAP_OK when no error recorded */
    char error[512];
};

/* Record an error (only the first one since the last clear is kept) and
 * return status, so callers can write `return gm_error(ctx, ..., "...")`.
 * ctx may be NULL. */
gainmap_status gm_error(gainmap_ctx *ctx, gainmap_status status, const char *fmt, ...) GM_PRINTF(3, 4);
/* Check w x h (x channels x bytes per sample) against the limits. */
gainmap_status gm_check_dims(gainmap_ctx *ctx, uint64_t width, uint64_t height, uint64_t bytes_per_pixel,
                             const char *what);
/* Check a metadata block size against the limit. */
gainmap_status gm_check_meta_size(gainmap_ctx *ctx, uint64_t size, const char *what);
/* malloc/calloc that respect the allocation limit and record NOMEM. */
void *gm_malloc(gainmap_ctx *ctx, size_t size);
void *gm_calloc(gainmap_ctx *ctx, size_t count, size_t size);
/* Test hook: make the nth allocation from now fail (0 = off). */
void gm_fail_alloc_after(long n);

/* Overflow-checked size arithmetic: return false on overflow. */
static inline bool gm_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}
static inline bool gm_add_size(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return false;
    *out = a + b;
    return true;
}

/* ------------------------------------------------------------------ */
/* Checked reader for untrusted bytes (bytes.c).                       */
/* Every read is bounds-checked; a failed read sets a sticky `bad` flag */
/* and returns 0, so a parser may read a group of fields and test       */
/* gm_rd_ok() once afterwards.                                          */
/* ------------------------------------------------------------------ */
typedef struct gm_reader {
    const uint8_t *data;
    size_t size;
    size_t pos;
    bool bad;
} gm_reader;

void gm_rd_init(gm_reader *r, const uint8_t *data, size_t size);
static inline bool gm_rd_ok(const gm_reader *r) { return !r->bad; }
static inline size_t gm_rd_left(const gm_reader *r) { return r->bad ? 0 : r->size - r->pos; }
bool gm_rd_seek(gm_reader *r, size_t pos);
bool gm_rd_skip(gm_reader *r, size_t n);
uint8_t gm_rd_u8(gm_reader *r);
uint16_t gm_rd_u16be(gm_reader *r);
uint32_t gm_rd_u32be(gm_reader *r);
uint64_t gm_rd_u64be(gm_reader *r);
uint16_t gm_rd_u16le(gm_reader *r);
uint32_t gm_rd_u32le(gm_reader *r);
/* Pointer to the next n bytes (and advance), or NULL (sets bad). */
const uint8_t *gm_rd_bytes(gm_reader *r, size_t n);
/* A sub-reader over the next n bytes (advances r); bad if not available. */
gm_reader gm_rd_sub(gm_reader *r, size_t n);

/* Unchecked helpers for data already known to be in range. */
static inline uint16_t gm_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t gm_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint16_t gm_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t gm_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* ------------------------------------------------------------------ */
/* Growable output buffer (bytes.c).  Sticky error like the reader.    */
/* ------------------------------------------------------------------ */
typedef struct gm_buf {
    uint8_t *data;
    size_t size, cap;
    bool bad;
} gm_buf;

void gm_buf_init(gm_buf *b);
void gm_buf_free(gm_buf *b);
bool gm_buf_reserve(gm_buf *b, size_t extra);
void gm_buf_put(gm_buf *b, const void *data, size_t n);
void gm_buf_u8(gm_buf *b, uint8_t v);
void gm_buf_u16be(gm_buf *b, uint16_t v);
void gm_buf_u32be(gm_buf *b, uint32_t v);
void gm_buf_u16le(gm_buf *b, uint16_t v);
void gm_buf_u32le(gm_buf *b, uint32_t v);
void gm_buf_str(gm_buf *b, const char *s);            /* without the NUL */
void gm_buf_printf(gm_buf *b, const char *fmt, ...) GM_PRINTF(2, 3);
/* Overwrite bytes already written (for back-patching lengths). */
void gm_buf_patch_u16be(gm_buf *b, size_t at, uint16_t v);
void gm_buf_patch_u32be(gm_buf *b, size_t at, uint32_t v);
/* Hand the bytes to the caller (malloc'd; NUL-terminated, not counted). */
uint8_t *gm_buf_take(gm_buf *b, size_t *size);

/* ------------------------------------------------------------------ */
/* Files (io.c)                                                        */
/* ------------------------------------------------------------------ */
/* Base name of a path, for messages. */
const char *gm_basename(const char *path);
/* Extension without the dot ("" when none), lower-cased into buf. */
const char *gm_extension(const char *path, char *buf, size_t bufsize);
/* Temporary file beside `path` for an atomic write: on success *tmp_path is
 * a malloc'd name of a new, empty, exclusively created file.  Finish with
 * gm_temp_commit() (fsync + rename; removes the temp on failure) or
 * gm_temp_abort() (remove).  Both free *tmp_path. */
gainmap_status gm_temp_create(gainmap_ctx *ctx, const char *path, char **tmp_path);
gainmap_status gm_temp_commit(gainmap_ctx *ctx, char *tmp_path, const char *path, int overwrite);
void gm_temp_abort(char *tmp_path);

/* ------------------------------------------------------------------ */
/* Cross-module internals.  Each block names the file that owns it.    */
/* ------------------------------------------------------------------ */

/* image.c: bytes per sample of a pixel type. */
size_t gm_pixel_size(gainmap_pixel_type t);

/* jpeg_encode.c: 8-bit grey/RGB(A) pixels -> one JPEG stream (malloc'd,
 * release with gainmap_free).  subsampling 444/422/420 (ignored for grey);
 * optimize != 0: optimised Huffman tables.  extra may be NULL (= JFIF APP0
 * on, nothing else); its segments are written in order right after SOI (or
 * after the JFIF APP0 when jfif != 0), then the ICC profile when given. */
typedef struct gm_jpeg_app {
    int marker;              /* 0xE0..0xEF (APP0..APP15) or 0xFE (COM)     */
    const uint8_t *data;     /* payload without marker and length; <= 65533 bytes */
    size_t size;
} gm_jpeg_app;
typedef struct gm_jpeg_extra {
    int jfif;                          /* write the JFIF APP0 first         */
    const gm_jpeg_app *segments;
    size_t count;
    const uint8_t *icc;                /* ICC profile (APP2 ICC_PROFILE chunks), or NULL */
    size_t icc_size;
} gm_jpeg_extra;
gainmap_status gm_jpeg_encode(gainmap_ctx *ctx, const gainmap_image *img, int quality, int subsampling,
                              int optimize, const gm_jpeg_extra *extra, uint8_t **out, size_t *size);

#endif /* GAINMAP_INTERNAL_H */

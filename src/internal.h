/* internal.h - private declarations shared by libgainmap's source files. */
#ifndef GAINMAP_INTERNAL_H
#define GAINMAP_INTERNAL_H

#include "gainmap.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
/* The same in a byte order chosen at run time (le: little-endian), for
 * TIFF-structured data such as EXIF. */
void gm_buf_u16o(gm_buf *b, bool le, uint16_t v);
void gm_buf_u32o(gm_buf *b, bool le, uint32_t v);
void gm_buf_patch_u32o(gm_buf *b, bool le, size_t at, uint32_t v);
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
/* The first steps of gainmap_read_file: open `path` for reading and check
 * that it is a regular file within ctx->max_file_bytes (same errors); *fd is
 * the caller's to close. */
gainmap_status gm_open_input(gainmap_ctx *ctx, const char *path, int *fd, uint64_t *size);
/* The first n bytes of fd (read with pread, the file offset is kept) into a
 * malloc'd buffer with a 0 after them; "short read" when the file has fewer. */
gainmap_status gm_read_fd(gainmap_ctx *ctx, int fd, size_t n, uint8_t **data);
/* Read size bytes from fd (at offset at with pread, or at the file
 * position when at < 0), retrying on EINTR, until done, end of file or an
 * error: the bytes read, or -1 for an error before the first byte. */
int64_t gm_read_all(int fd, void *data, size_t size, int64_t at);
/* Write all size bytes to fd (at offset at with pwrite, or at the file
 * position when at < 0), retrying on EINTR: 0, or the errno of the failure
 * (ENOSPC when the system wrote nothing). */
int gm_write_all(int fd, const void *data, size_t size, int64_t at);

/* ------------------------------------------------------------------ */
/* Cross-module internals.  Each block names the file that owns it.    */
/* ------------------------------------------------------------------ */

/* cpu.c: whether the AVX2 kernels may run (x86-64 built with GCC or Clang,
 * a CPU and OS with AVX2).  They give the SSE2 kernels' exact results.
 * Functions holding AVX2 code are marked GM_TARGET_AVX2. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#define GM_HAVE_AVX2_TARGET 1
#define GM_TARGET_AVX2 __attribute__((target("avx2")))
#else
#define GM_HAVE_AVX2_TARGET 0
#define GM_TARGET_AVX2
#endif
bool gm_cpu_avx2(void);
/* Tests: off = true makes gm_cpu_avx2() false (call before any work). */
void gm_cpu_avx2_disable(bool off);

/* icc.c: name of the built-in profile that tags (primaries, transfer), or NULL. */
const char *gm_icc_name_for(gainmap_primaries primaries, gainmap_transfer transfer);

/* image.c: bytes per sample of a pixel type. */
size_t gm_pixel_size(gainmap_pixel_type t);
/* Sample i of a row of type t: integers normalised to [0,1], floats as stored. */
static inline double gm_sample(gainmap_pixel_type t, const uint8_t *row, size_t i)
{
    switch (t) {
    case GAINMAP_PIXEL_U8: return row[i] / 255.0;
    case GAINMAP_PIXEL_U16: {
        uint16_t v;
        memcpy(&v, row + 2 * i, 2);
        return v / 65535.0;
    }
    case GAINMAP_PIXEL_F32: {
        float v;
        memcpy(&v, row + 4 * i, 4);
        return v;
    }
    }
    return 0.0;
}

/* ---- encoder (issue 5): xmp_write.c, mpf_write.c, jpeg_container.c, gainmap_compute.c, encode.c, remux.c ---- */
extern const char GM_XMP_NS_HDRGM[], GM_XMP_NS_CONTAINER[], GM_XMP_NS_ITEM[], GM_XMP_NS_RDF[], GM_XMP_NS_X[];
/* xmp_write.c: XMP packets (no APP1 header).  Primary: hdrgm:Version + GContainer
 * with the gain map's Item:Length; gain map: hdrgm fields (forward direction,
 * use_base_colour_space only). */
gainmap_status gm_xmp_write_primary(gainmap_ctx *ctx, uint64_t map_length, gm_buf *out);
gainmap_status gm_xmp_write_gainmap(gainmap_ctx *ctx, const gainmap_metadata *m, gm_buf *out);
/* Decimal text of n/d: exact when d = 2^a 5^b, else 12 significant digits. */
int gm_xmp_format_fraction(char *buf, size_t size, int64_t n, uint64_t d);
/* mpf_write.c: the whole big-endian 2-image MPF APP2 segment, marker included. */
#define GM_MPF_SEGMENT_SIZE 90
void gm_mpf_write(uint8_t out[GM_MPF_SEGMENT_SIZE], uint32_t primary_size, uint32_t map_size, uint32_t map_offset);
/* jpeg_container.c */
typedef struct gm_jpeg_parts {
    const uint8_t *base; size_t base_size;   /* complete base JPEG, SOI..EOI */
    const uint8_t *map; size_t map_size;     /* complete gain-map JPEG, SOI..EOI */
    const uint8_t *exif; size_t exif_size;   /* TIFF structure (no "Exif\0\0") or NULL */
    const uint8_t *icc; size_t icc_size;     /* base ICC profile or NULL */
    const gainmap_metadata *meta;            /* KIND_ISO, flags without 0x04/0x08 */
    gainmap_metadata_mode mode;
} gm_jpeg_parts;
/* Build the two-image file (malloc'd *out).  The streams' own Exif, XMP,
 * ICC, MPF and ISO segments are dropped; all else is copied byte for byte. */
gainmap_status gm_jpeg_assemble(gainmap_ctx *ctx, const gm_jpeg_parts *p, uint8_t **out, size_t *out_size);
/* Append a JPEG stream minus SOI and minus those segments to out. */
gainmap_status gm_jpeg_copy_body(gainmap_ctx *ctx, const uint8_t *jpeg, size_t size, const char *what, gm_buf *out);
/* gainmap_compute.c: rows of any image as linear RGB floats (1.0 = SDR white;
 * HLG through the BT.2100 OOTF at 1000 cd/m2) in the primaries `dst`. */
typedef struct gm_linear {
    const gainmap_image *img;
    gainmap_transfer tf;
    float *lut;          /* U8/U16: sample -> linear (HLG: scene light) */
    int hlg, convert;
    double m[9];         /* gamut matrix source -> dst */
} gm_linear;
gainmap_status gm_linear_init(gainmap_ctx *ctx, gm_linear *lin, const gainmap_image *img, gainmap_primaries dst);
void gm_linear_row(const gm_linear *lin, uint32_t y, float *out);   /* out: 3 * width floats */
void gm_linear_free(gm_linear *lin);
/* The primaries an SDR base is in: its own tag, else the tone mapper's base
 * primaries when set, else P3 (an untagged given base, as before automatic
 * primaries). */
gainmap_primaries gm_sdr_primaries(const gainmap_image *sdr, const gainmap_encode_options *opts);
/* gainmap_compute.c: gainmap_compute's reference (double-precision log2 per
 * sample, the whole float map in memory), for tests/test_perf_equiv.c; and
 * its float log2 (from the float's bits, |error| < 1e-6). */
gainmap_status gm_compute_ref(gainmap_ctx *ctx, const gainmap_image *sdr, const gainmap_image *hdr,
                              const gainmap_encode_options *opts, gainmap_image *map, gainmap_metadata *meta);
/* gainmap_compute without its SSE2 kernels and fine quantiser table (the
 * same tables, one sample at a time): must give the very same bytes. */
gainmap_status gm_compute_plain(gainmap_ctx *ctx, const gainmap_image *sdr, const gainmap_image *hdr,
                                const gainmap_encode_options *opts, gainmap_image *map, gainmap_metadata *meta);
/* gainmap_compute on a base whose pixels the caller gives up (the
 * encoder's decoded base): a full-size 3-channel map is written over them
 * (each row's samples are read before its codes are written), so the base
 * and the map never take memory side by side.  sdr->data is NULL after
 * (its pixels are the map's or freed); its other fields stay. */
gainmap_status gm_compute_over_base(gainmap_ctx *ctx, gainmap_image *sdr, const gainmap_image *hdr,
                                    const gainmap_encode_options *opts, gainmap_image *map, gainmap_metadata *meta);
int gm_compute_hist_bin(float v);   /* pass 1's histogram bin of gain v in [-20, 20] */
float gm_fast_log2f(float x);
/* gainmap_compute with pass 1's totals (tests: the SSE2 and AVX2 kernels
 * must agree on them): per map channel the histogram of 1/256-stop bins
 * over [-20, 20] as counted (the fast path counts only the steps its tail
 * filter needs), the extremes and whether any HDR sample is <= 0. */
typedef struct gm_compute_stats {
    uint32_t hist[3][40 * 256];
    double vmin[3], vmax[3];
    int anyzero[3];
    int avx2;   /* the job chose the AVX2 kernels */
} gm_compute_stats;
gainmap_status gm_compute_with_stats(gainmap_ctx *ctx, const gainmap_image *sdr, const gainmap_image *hdr,
                                     const gainmap_encode_options *opts, gainmap_image *map, gainmap_metadata *meta,
                                     gm_compute_stats *stats);
/* encode.c: the whole encoder with per-stage timings (seconds) for bench/. */
typedef struct gm_encode_stats {
    double tonemap, gainmap, jpeg, assemble;
    size_t base_bytes, map_bytes;
    uint32_t map_width, map_height;
} gm_encode_stats;
/* Chroma subsampling of a 3-channel gain map (its channels are equally important). */
#define GM_MAP_SUBSAMPLING 444
/* base_jpeg != NULL: keep that JPEG byte for byte as the base (sdr ignored). */
gainmap_status gm_encode_jpeg(gainmap_ctx *ctx, const gainmap_image *hdr, const gainmap_image *sdr,
                              const uint8_t *base_jpeg, size_t base_jpeg_size, const gainmap_encode_options *opts,
                              uint8_t **out, size_t *out_size, gm_encode_stats *stats);
/* remux.c: ISO description of an Apple map with linear headroom H (min 0,
 * max log2 H, offsets 0, minimax-fitted gamma); *max_error_stops (may be
 * NULL) receives the worst error of that curve against Apple's. */
gainmap_status gm_apple_to_iso(gainmap_ctx *ctx, double headroom, gainmap_metadata *m, double *max_error_stops);
/* encode.c: the measured low-rate setting (docs/encoding.md), and the
 * round-trip quality measure used by tests and bench: PSNR of decode(jpg) at
 * full headroom vs the master, 10-bit PQ codes, master primaries. */
void gm_low_rate_options(gainmap_encode_options *o);
gainmap_status gm_encode_psnr_pq10(gainmap_ctx *ctx, const gainmap_image *master, const uint8_t *jpg, size_t size,
                                   double *psnr);

/* ---- reader: jpeg.c / mpf.c / xmp.c / iso21496.c / apple.c / gmfile.c ---- */

/* jpeg.c: JPEG segment walker.  Walks one JPEG image from its SOI to its
 * EOI without relying on marker order: fill bytes (0xFF runs) before markers,
 * RSTn and stuffed bytes in entropy-coded data, tables between progressive
 * scans.  The EOI is found by walking the entropy-coded data, so data after
 * the image (a gain map, trailing bytes) is never mistaken for part of it.
 * Remuxing: copy [segs[i].offset, +length) for the header segments you keep,
 * then [sos_offset, eoi_end) verbatim. */
typedef struct gm_jpeg_segment {
    uint8_t marker;        /* second marker byte: 0xE0+n APPn, 0xDB DQT, 0xC0 SOF0, 0xDA SOS... */
    size_t offset;         /* file offset of the segment's 0xFF marker byte */
    size_t length;         /* whole segment: 2 marker bytes + length field value */
    size_t payload;        /* file offset of the payload (after the length field) */
    size_t payload_size;   /* length field value - 2 */
} gm_jpeg_segment;

typedef struct gm_jpeg_layout {
    size_t start;            /* offset of SOI */
    gm_jpeg_segment *segs;   /* every marker segment in file order (malloc'd) */
    size_t nsegs;
    size_t nheader;          /* segments before the first SOS (segs[nheader] is that SOS) */
    size_t sos_offset;       /* offset of the first SOS marker */
    size_t eoi_end;          /* offset just past the EOI marker = end of this image */
    size_t extraneous;       /* stray non-marker bytes skipped between segments */
    uint32_t width, height;  /* from the SOF */
    uint8_t components;      /* from the SOF */
    uint8_t sof_marker;      /* 0xC0 baseline, 0xC1, 0xC2 progressive, ... */
    uint8_t precision;       /* sample bits */
} gm_jpeg_layout;

/* Walk the JPEG image that starts (with SOI) at data[start].  On success the
 * layout holds the segments, dimensions and eoi_end; free with
 * gm_jpeg_layout_free.  Errors: FORMAT (no SOI), TRUNCATED (ends before EOI
 * or inside a segment), CORRUPT (no SOF, bad lengths). */
gainmap_status gm_jpeg_scan(gainmap_ctx *ctx, const uint8_t *data, size_t size, size_t start,
                            gm_jpeg_layout *out);
void gm_jpeg_layout_free(gm_jpeg_layout *l);
/* The index of the n-th (0-based) header segment with this marker whose
 * payload starts with prefix[0..prefix_len), or -1. */
long gm_jpeg_find(const gm_jpeg_layout *l, const uint8_t *data, uint8_t marker, const void *prefix,
                  size_t prefix_len, size_t n);
/* Offset of the next "FF D8 FF" at or after `from`, or SIZE_MAX. */
size_t gm_jpeg_next_soi(const uint8_t *data, size_t size, size_t from);

/* Identifier prefixes of APPn payloads (with their NUL). */
#define GM_EXIF_ID "Exif\0\0"
#define GM_EXIF_ID_LEN 6
#define GM_XMP_ID "http://ns.adobe.com/xap/1.0/"            /* + NUL: 29 bytes */
#define GM_XMP_ID_LEN 29
#define GM_XMP_EXT_ID "http://ns.adobe.com/xmp/extension/"  /* + NUL: 35 bytes */
#define GM_XMP_EXT_ID_LEN 35
#define GM_ICC_ID "ICC_PROFILE"                            /* + NUL: 12 bytes */
#define GM_ICC_ID_LEN 12
#define GM_ISO_ID "urn:iso:std:iso:ts:21496:-1"            /* + NUL: 28 bytes */
#define GM_ISO_ID_LEN 28
#define GM_MPF_ID "MPF"                                    /* + NUL: 4 bytes */
#define GM_MPF_ID_LEN 4

/* mpf.c: CIPA DC-007 MP index. */
#define GM_MPF_MAX_ENTRIES 16
typedef struct gm_mpf_entry {
    uint32_t attribute, size, offset;   /* offset relative to the MPF TIFF header */
    uint16_t dep1, dep2;
} gm_mpf_entry;
typedef struct gm_mpf {
    bool big_endian;
    bool has_version;
    char version[5];          /* "0100" */
    uint32_t number_of_images;  /* tag B001 (0 when absent) */
    uint32_t nentries;        /* entries read from tag B002 (<= GM_MPF_MAX_ENTRIES) */
    uint32_t declared_entries;/* B002 count / 16 */
    uint32_t next_ifd;        /* offset of the MP Attribute IFD (0 = none) */
    size_t tiff_base;         /* absolute file offset of the TIFF header */
    gm_mpf_entry entries[GM_MPF_MAX_ENTRIES];
} gm_mpf;
/* Parse an APP2 payload that starts with "MPF\0"; payload_offset is its
 * absolute file offset.  CORRUPT when the IFD is unreadable. */
gainmap_status gm_mpf_parse(gainmap_ctx *ctx, const uint8_t *payload, size_t size, size_t payload_offset,
                            gm_mpf *out);

/* xmp.c: what we read from XMP packets (any prefix; resolved by URI). */
typedef struct gm_xmp_field {
    int count;          /* 0 absent, 1 or 3 values; -1 present but invalid */
    double v[3];
} gm_xmp_field;
#define GM_XMP_MAX_ITEMS 8
typedef struct gm_xmp_item {
    char semantic[24];
    char mime[32];
    int64_t length;     /* -1 when absent */
    int64_t padding;    /* 0 when absent */
} gm_xmp_item;
typedef struct gm_xmp {
    int packets;              /* well-formed packets parsed */
    int bad_packets;          /* packets expat rejected */
    bool has_hdrgm;           /* any hdrgm property */
    bool has_version;
    char version[16];         /* hdrgm:Version */
    gm_xmp_field gain_map_min, gain_map_max, gamma, offset_sdr, offset_hdr;
    gm_xmp_field capacity_min, capacity_max;
    int base_rendition_is_hdr;  /* -1 absent, 0 False, 1 True, 2 unparsable */
    int conflicts;            /* a property given twice with different values */
    int nitems;               /* GContainer directory items */
    bool has_directory;
    gm_xmp_item items[GM_XMP_MAX_ITEMS];
    bool has_apple;           /* HDRGainMap namespace seen */
    bool has_apple_version;
    long apple_version;       /* HDRGainMap:HDRGainMapVersion */
    bool has_apple_headroom;
    double apple_headroom;    /* HDRGainMap:HDRGainMapHeadroom (linear) */
    char aux_type[64];        /* apdi:AuxiliaryImageType */
} gm_xmp;
void gm_xmp_init(gm_xmp *x);
/* Add one packet (the APP1 payload after the XMP identifier). Malformed XML
 * counts in bad_packets; returns false only then. */
bool gm_xmp_parse(gm_xmp *x, const uint8_t *packet, size_t size);
/* Adobe hdrgm fields -> exact ISO-model metadata (FORMATS 1.4 defaults,
 * 3.3 BaseRenditionIsHDR swap).  CORRUPT naming the field when invalid. */
gainmap_status gm_xmp_to_metadata(gainmap_ctx *ctx, const gm_xmp *x, gainmap_metadata *m);

/* iso21496.c: flags of the ISO payload. */
#define GM_ISO_FLAG_MULTICHANNEL 0x80u
#define GM_ISO_FLAG_BASE_COLOUR 0x40u
#define GM_ISO_FLAG_COMMON_DENOM 0x08u   /* libultrahdr compact layout (read only) */
#define GM_ISO_FLAG_BACKWARD 0x04u       /* libultrahdr, informational */

/* apple.c: EXIF (TIFF structure, no "Exif\0\0") facts we need. */
typedef struct gm_exif_facts {
    int orientation;           /* 1..8, 0 when absent */
    bool has_maker33, has_maker48;
    double maker33, maker48;   /* Apple maker-note HDRHeadroom / HDRGain */
    bool has_apple_headroom;   /* at least one tag usable */
    double apple_headroom;     /* linear, FORMATS 5.3 with max(stops, 0) */
} gm_exif_facts;
void gm_exif_read(const uint8_t *tiff, size_t size, gm_exif_facts *out);
/* FORMATS 5.3: linear headroom from maker-note tags 33 and 48. */
double gm_apple_headroom(double maker33, double maker48);

/* gmfile.c / validate.c: issue list of a file. */
typedef struct gm_issue_list {
    gainmap_issue *items;   /* messages malloc'd, codes static */
    size_t count, cap;
} gm_issue_list;
void gm_issue_add(gm_issue_list *l, gainmap_severity sev, const char *code, const char *fmt, ...) GM_PRINTF(4, 5);
void gm_issue_list_free(gm_issue_list *l);
/* gmfile.c: the file's EXIF (gainmap_file_exif) copied into img, when it
 * has any; NOMEM with the message when the copy fails. */
gainmap_status gm_file_exif_to_image(gainmap_ctx *ctx, const gainmap_file *f, gainmap_image *img);

/* gmfile.c: everything learnt while opening a file (validate.c turns these
 * facts into issues, json.c prints them). */
struct gainmap_file {
    uint8_t *data;
    size_t size;
    gainmap_info info;
    gm_issue_list issues;
    gm_jpeg_layout base;
    gm_jpeg_layout map;
    bool has_map_layout;
    uint8_t *icc;                  /* reassembled base ICC (malloc'd) */
    size_t icc_size;
    int icc_chunks, icc_chunks_expected;
    bool icc_broken;               /* chunks missing / inconsistent */
    size_t exif_offset, exif_size; /* base EXIF TIFF structure inside data */
    gm_exif_facts exif, map_exif;
    bool has_mpf, mpf_broken;
    gm_mpf mpf;
    char mpf_error[160];
    int mpf_map_index;             /* MP entry used for the map, -1 none */
    int mpf_offset_mode;           /* 0 relative to TIFF header, 1 absolute, 2 from the APP2 marker */
    bool mpf_points_to_jpeg;       /* the MPF target of the map entry starts with FF D8 */
    uint64_t mpf_map_offset;       /* absolute offset the MPF entry gives (TIFF-relative mode) */
    bool has_gcontainer_offset;
    uint64_t gcontainer_offset, gcontainer_length;
    bool gcontainer_points_to_jpeg;
    uint64_t scan_offset;          /* next SOI after the primary's EOI, UINT64_MAX none */
    gm_xmp xmp_primary, xmp_map;
    bool has_ext_xmp;
    bool iso_stub;                 /* primary carries an ISO block */
    bool iso_stub_full;            /* ...and it is more than the 4-byte version */
    bool iso_in_map;
    gainmap_status iso_status;     /* parse + check of the map's ISO block */
    char iso_error[256];
    gainmap_metadata iso;
    bool xmp_meta_present;         /* map XMP carries hdrgm fields */
    gainmap_status xmp_status;
    char xmp_error[256];
    gainmap_metadata xmp_meta;
    bool hdrgm_in_primary_only;    /* imazen-style: gain-map fields only in the primary */
    bool apple_map;                /* map XMP says HDRGainMap */
    double apple_headroom;         /* chosen headroom, 0 when none */
    int apple_headroom_source;     /* 0 none, 1 XMP, 2 maker notes */
    bool map_announced;            /* primary says a map exists (hdrgm:Version, ISO stub, GContainer GainMap) */
    bool map_found;                /* a secondary JPEG was located (info map_offset/map_size) */
    char map_error[256];           /* why the located map could not be walked */
    uint32_t mpf_map_entry_size;   /* MP entry size of the map */
    uint64_t trailing_bytes;       /* after the last image we know of */
    /* HEIF/AVIF (info.container HEIF; docs/heif.md).  f->icc is a copy of
     * the base item's ICC, f->exif the primary's EXIF facts, f->xmp_map the
     * gain map's XMP item. */
    struct gm_heif *heif;
    struct gm_heif_gainmap *hg;    /* malloc'd; hg->kind NONE when no gain map */
    uint8_t *heif_base, *heif_map; /* single-image HEIF of the base / map item (malloc'd) */
    size_t heif_base_size, heif_map_size;
    char heif_base_error[256], heif_map_error[256];
    uint8_t *heif_exif;            /* EXIF item bytes (malloc'd); TIFF header at exif_offset */
    bool heif_has_tmap;            /* some 'tmap' item exists (used or not) */
};
/* validate.c: derive the issue list from the facts. */
void gm_validate_file(gainmap_file *f);

/* exif.c: EXIF as a TIFF structure ("II*\0"/"MM\0*", an "Exif\0\0" prefix
 * is skipped).  Every offset is bounds-checked. */
/* Orientation (tag 0x0112 of IFD0): 1..8, or 0 when absent or malformed. */
int gm_exif_orientation(const uint8_t *exif, size_t size);
/* Patch an existing orientation tag in place; false when there is none. */
bool gm_exif_set_orientation(uint8_t *exif, size_t size, int orientation);
/* A minimal little-endian EXIF holding only IFD0 with the orientation. */
gainmap_status gm_exif_make(gainmap_ctx *ctx, int orientation, uint8_t **out, size_t *size);
/* The most EXIF one JPEG APP1 segment carries (65533 - "Exif\0\0"). */
#define GM_EXIF_MAX_BYTES 65527u
/* EXIF of a TIFF file (data = the whole file): its descriptive IFD0 tags
 * (Make, Model, Software, DateTime, Artist, Copyright, ImageDescription,
 * Orientation, resolution...), the Exif IFD (with a maker note only when
 * self-relative and <= 32 KiB), its interoperability IFD and the GPS IFD,
 * rebuilt compactly in the file's byte order; no strip/tile/thumbnail or
 * other offset tags.  Entries outside the file, with unknown types, broken
 * or looping IFDs are skipped.  At most min(limit, GM_EXIF_MAX_BYTES)
 * bytes (the maker note, then long values shed to fit).  *out NULL when
 * nothing beyond orientation/resolution is found; never records an error. */
void gm_exif_from_tiff(const uint8_t *data, size_t size, size_t limit, uint8_t **out, size_t *out_size);
/* The same from an open TIFF file of `size` bytes, read with pread: only the
 * IFDs and values the walk needs are read (no mapping, so a file truncated
 * meanwhile gives less EXIF, never a SIGBUS). */
void gm_exif_from_tiff_fd(int fd, uint64_t size, size_t limit, uint8_t **out, size_t *out_size);
/* The Exif (+ interoperability) and GPS IFDs of exif appended to out in
 * exif's byte order (same filters and caps as above), laid out for out's
 * first byte at file offset base (>= 8, word alignment kept); *exif_at /
 * *gps_at: their offsets (0 when absent).  False when there is neither
 * (nothing appended) or on error. */
bool gm_exif_sub_ifds(const uint8_t *exif, size_t size, uint64_t base, gm_buf *out, uint32_t *exif_at,
                      uint32_t *gps_at);
/* One entry: ifd 0 (IFD0), 0x8769 (Exif), 0x8825 (GPS) or 0xA005
 * (interoperability); IFD0 only sees the descriptive tags above.  data
 * points into exif (size = count x type size, byte order le). */
typedef struct gm_exif_value {
    uint16_t type;
    uint32_t count;
    const uint8_t *data;
    size_t size;
    bool le;
} gm_exif_value;
bool gm_exif_find(const uint8_t *exif, size_t size, uint16_t ifd, uint16_t tag, gm_exif_value *v);
/* 'I' (little-endian), 'M' (big-endian) or 0 when not a TIFF header. */
char gm_exif_byte_order(const uint8_t *exif, size_t size);

/* image_io.c + png_io.c, tiff_io.c, exr_io.c, rgbe_io.c, pnm_io.c.
 * Readers fill *out (zeroed on failure) from bytes in memory; writers write
 * a whole file at `path` (the temp file of gainmap_image_write). */
gainmap_status gm_png_read(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out);
/* The same from an open file of `size` bytes, read through fd in 64 KiB
 * pieces (not closed; the file offset moves). */
gainmap_status gm_png_read_fd(gainmap_ctx *ctx, int fd, uint64_t size, gainmap_image *out);
gainmap_status gm_png_write(gainmap_ctx *ctx, const char *path, const gainmap_image *img);
gainmap_status gm_tiff_read(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out);
/* The same from an open file of `size` bytes, read through fd (not mapped,
 * not closed; the file offset moves). */
gainmap_status gm_tiff_read_fd(gainmap_ctx *ctx, int fd, uint64_t size, gainmap_image *out);
gainmap_status gm_tiff_write(gainmap_ctx *ctx, const char *path, const gainmap_image *img);
gainmap_status gm_exr_read(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out);
gainmap_status gm_exr_write(gainmap_ctx *ctx, const char *path, const gainmap_image *img);
gainmap_status gm_rgbe_read(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out);
gainmap_status gm_pfm_read(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out);
gainmap_status gm_pfm_write(gainmap_ctx *ctx, const char *path, const gainmap_image *img);
gainmap_status gm_pnm_read(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out);
gainmap_status gm_ppm_write(gainmap_ctx *ctx, const char *path, const gainmap_image *img);
/* A converted copy of src for a writer: type U16 (U8 * 257; F32 clamped to
 * [0,1] only when src->transfer is non-linear) or F32 (integers normalised,
 * then decoded to linear light when the transfer is non-linear, 1.0 = SDR
 * white).  channels 0 = keep; 3 from 4 drops alpha.  Metadata is copied. */
gainmap_status gm_image_convert(gainmap_ctx *ctx, const gainmap_image *src, gainmap_pixel_type type,
                                uint32_t channels, gainmap_image *dst);
/* Row-streaming writers.  A format's writer (gm_ppm_writer, gm_pfm_writer,
 * gm_png_writer, gm_tiff_writer) opens `path` for an image described by hdr
 * (every field but data; its icc/exif must outlive the writer) and fills *w:
 * rows() takes the next strip (hdr's fields, height = rows in the strip,
 * top to bottom; converted like gm_image_convert), finish() completes the
 * file and abort() gives up; both free the state.  gm_write_strips writes
 * a whole image through one (the whole-image writers are built on it, so
 * both give the same bytes).  gm_image_writer_* add the temporary file
 * (gm_temp_*): rows appear under `path` only after a successful finish. */
typedef struct gm_fmt_writer {
    void *state;
    gainmap_status (*rows)(gainmap_ctx *ctx, void *state, const gainmap_image *strip);
    gainmap_status (*finish)(gainmap_ctx *ctx, void *state);
    void (*abort)(void *state);
} gm_fmt_writer;
gainmap_status gm_ppm_writer(gainmap_ctx *ctx, const char *path, const gainmap_image *hdr, gm_fmt_writer *w);
gainmap_status gm_pfm_writer(gainmap_ctx *ctx, const char *path, const gainmap_image *hdr, gm_fmt_writer *w);
gainmap_status gm_png_writer(gainmap_ctx *ctx, const char *path, const gainmap_image *hdr, gm_fmt_writer *w);
gainmap_status gm_tiff_writer(gainmap_ctx *ctx, const char *path, const gainmap_image *hdr, gm_fmt_writer *w);
gainmap_status gm_write_strips(gainmap_ctx *ctx, const gainmap_image *img, const gm_fmt_writer *w);
/* A strip in `type` (channels 0 = keep, 3 = drop alpha): *rows = strip when it
 * has that form already, else conv (free it).  gm_strip_check: whether an
 * image described by hdr converts (the writers' check before any output). */
gainmap_status gm_strip_convert(gainmap_ctx *ctx, const gainmap_image *strip, gainmap_pixel_type type,
                                uint32_t channels, gainmap_image *conv, const gainmap_image **rows);
gainmap_status gm_strip_check(gainmap_ctx *ctx, const gainmap_image *hdr, gainmap_pixel_type type,
                              uint32_t channels);
typedef struct gm_image_writer gm_image_writer;
gainmap_status gm_image_writer_open(gainmap_ctx *ctx, const char *path, gainmap_file_format fmt,
                                    const gainmap_image *hdr, gm_image_writer **w);
gainmap_status gm_image_writer_write_rows(gm_image_writer *w, const void *rows, size_t stride, uint32_t n);
gainmap_status gm_image_writer_finish(gm_image_writer *w);
void gm_image_writer_abort(gm_image_writer *w);
/* Write all bytes to an open file descriptor-backed path (used by the
 * simple writers); records an IO error naming `what`. */
gainmap_status gm_write_bytes(gainmap_ctx *ctx, const char *path, const uint8_t *data, size_t size,
                              const char *what);
/* IEEE half <-> float (round to nearest even; inf/NaN kept). */
uint16_t gm_float_to_half(float f);
float gm_half_to_float(uint16_t h);

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
/* How the coefficients are coded (NULL = libjpeg's defaults: YCbCr, the
 * Annex K perceptual tables scaled by quality, sequential).  Flat tables
 * suit data nobody looks at (a gain map): every coefficient of every
 * component gets the step `flat` scaled by quality as libjpeg scales its
 * tables (x (200 - 2q) / 100 at q >= 50), which is MSE-optimal for an
 * orthonormal DCT. */
typedef enum gm_jpeg_tables { GM_JPEG_TABLES_STANDARD = 0, GM_JPEG_TABLES_FLAT } gm_jpeg_tables;
typedef struct gm_jpeg_coding {
    gm_jpeg_tables tables;
    double flat;                  /* GM_JPEG_TABLES_FLAT: the step at quality 50, (0, 255] */
    double dc;                    /* and the DC's, when finer (0 = flat too) */
    int rgb;                      /* code R, G, B as they are (Adobe APP14 transform 0, no JFIF) */
    int progressive;              /* jpeg_simple_progression */
} gm_jpeg_coding;
gainmap_status gm_jpeg_encode_coded(gainmap_ctx *ctx, const gainmap_image *img, int quality, int subsampling,
                                    int optimize, const gm_jpeg_coding *coding, const gm_jpeg_extra *extra,
                                    uint8_t **out, size_t *size);

/* image_convert.c: a linear float master with samples above what PQ can
 * hold (GM_PQ_PEAK_NITS; scene-referred EXR often goes far beyond) is
 * clipped there, in a copy: the encoders would otherwise spend the gain
 * map's range and the tone curve's peak on light no display or PQ
 * rendition shows.  *use = hdr when nothing is above (copy stays empty),
 * else = copy, whose icc/exif are borrowed from hdr: free only copy->data. */
#define GM_PQ_PEAK_NITS 10000.0
/* Library linear 1.0 for PQ and HLG: ITU-R BT.2408 HDR reference white. */
#define GM_SDR_WHITE_NITS 203.0
/* How an untagged image is read: float samples as linear light, others as
 * sRGB; PQ and HLG in BT.2020 primaries, the rest in BT.709. */
static inline gainmap_transfer gm_image_transfer(const gainmap_image *img)
{
    if (img->transfer != GAINMAP_TRANSFER_UNKNOWN)
        return img->transfer;
    return img->type == GAINMAP_PIXEL_F32 ? GAINMAP_TRANSFER_LINEAR : GAINMAP_TRANSFER_SRGB;
}
static inline gainmap_primaries gm_image_primaries(const gainmap_image *img)
{
    if (img->primaries != GAINMAP_PRIMARIES_UNKNOWN)
        return img->primaries;
    gainmap_transfer tf = gm_image_transfer(img);
    return tf == GAINMAP_TRANSFER_PQ || tf == GAINMAP_TRANSFER_HLG ? GAINMAP_PRIMARIES_BT2020
                                                                   : GAINMAP_PRIMARIES_BT709;
}
/* The HLG display the library assumes (BT.2100's reference, BT.2408). */
#define GM_HLG_DISPLAY_NITS 1000.0
/* HLG scene light (after the inverse OETF) -> display light relative to SDR
 * white: the BT.2100 OOTF of that display (BT.2020 luma weights on the
 * signal's own R, G, B), then 1.0 = 203 cd/m2. */
static inline void gm_hlg_scene_to_linear(double v[3])
{
    double nits[3];
    gainmap_hlg_ootf(v, GM_HLG_DISPLAY_NITS, nits);
    for (int c = 0; c < 3; c++)
        v[c] = nits[c] / GM_SDR_WHITE_NITS;
}
gainmap_status gm_master_limit(gainmap_ctx *ctx, const gainmap_image *hdr, gainmap_image *copy,
                               const gainmap_image **use);
/* resample.c: an 8-bit image (the gain map) resampled to dst_w x dst_h one
 * output row at a time (centre-aligned; bilinear when enlarging, area filter
 * when shrinking).  Values come out as floats in byte units [0, 255].  One
 * resampler per thread; the source must outlive it. */
typedef struct gm_resampler {
    const gainmap_image *src;
    uint32_t dst_w, dst_h, ch;   /* ch: leading source channels used */
    int nx, ny;                  /* taps per output pixel on each axis */
    uint32_t *xi, *yi;           /* tap source indices */
    float *xw, *yw;              /* tap weights (sum 1) */
    float *vrow;                 /* vertical pass for cached_y: src width x ch */
    uint32_t cached_y;
} gm_resampler;
gainmap_status gm_resample_init(gainmap_ctx *ctx, gm_resampler *rs, const gainmap_image *src, uint32_t dst_w,
                                uint32_t dst_h, uint32_t channels);
/* out: dst_w * ch floats. */
void gm_resample_row(gm_resampler *rs, uint32_t y, float *out);
void gm_resample_free(gm_resampler *rs);

/* apply.c: gainmap_apply in strips.  gm_apply_begin takes the base's
 * description (size, channels, type, primaries, transfer, orientation; its
 * data is not read) and the map: a whole 8-bit image, or with map_streamed
 * only its description (same size as the base, 3-4 channels), its rows then
 * given to each gm_apply_rows.  *out receives the output's description
 * (data NULL, stride of a packed row).  gm_apply_rows converts rows
 * [y0, y0 + n) on the thread pool; the result is the same as gainmap_apply's. */
/* jpeg_decode.c: one JPEG stream read row by row (gainmap_jpeg_decode is
 * open + start + rows + finish).  open reads the header: *header gets size,
 * channels (1 or 3), U8, sRGB/BT.709 (data NULL); start begins decoding (a
 * multi-scan stream is absorbed whole there).  The data must outlive the
 * reader.  Errors as gainmap_jpeg_decode's. */
typedef struct gm_jpeg_reader gm_jpeg_reader;
gainmap_status gm_jpeg_reader_open(gainmap_ctx *ctx, const uint8_t *data, size_t size, gm_jpeg_reader **r,
                                   gainmap_image *header);
gainmap_status gm_jpeg_reader_start(gm_jpeg_reader *r);
gainmap_status gm_jpeg_reader_rows(gm_jpeg_reader *r, void *dst, size_t stride, uint32_t n);
gainmap_status gm_jpeg_reader_finish(gm_jpeg_reader *r);
void gm_jpeg_reader_icc(const gm_jpeg_reader *r, const uint8_t **icc, size_t *size);
/* 1 for a progressive (multi-scan) stream: libjpeg then holds all its coefficients. */
int gm_jpeg_reader_multiscan(const gm_jpeg_reader *r);
void gm_jpeg_reader_close(gm_jpeg_reader *r);
/* A JPEG decoded over img's pixels, which must be 8-bit with the JPEG's
 * size and channels (STATE error otherwise): the encoder's closed loop
 * reuses the tone-mapped base's buffer. */
gainmap_status gm_jpeg_decode_into(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *img);

typedef struct gm_apply gm_apply;
gainmap_status gm_apply_begin(gainmap_ctx *ctx, const gainmap_image *base, const gainmap_image *map, int map_streamed,
                              const gainmap_metadata *meta, const gainmap_decode_options *opts, gm_apply **a,
                              gainmap_image *out);
int gm_apply_uses_map(const gm_apply *a);
void gm_apply_rows(gm_apply *a, uint32_t y0, uint32_t n, const void *base_rows, size_t base_stride,
                   const void *map_rows, size_t map_stride, void *out_rows, size_t out_stride);
void gm_apply_end(gm_apply *a);

/* threads.c: rows [0, rows) in strips of `strip` rows, run by `workers`
 * threads (the caller is one of them).  fn(arg, worker, y0, y1) is called
 * once per strip; worker in [0, workers) identifies the thread, for its own
 * scratch rows.  Strips are handed out in order but run concurrently.
 * gm_thread_count: GAINMAP_OPT_THREADS (0 = online cores), capped at 64
 * and at the number of strips. */
typedef void (*gm_strip_fn)(void *arg, int worker, uint32_t y0, uint32_t y1);
int gm_thread_count(const gainmap_ctx *ctx, uint32_t rows, uint32_t strip);
void gm_parallel_strips(int workers, uint32_t rows, uint32_t strip, gm_strip_fn fn, void *arg);

/* orient.c: a new image with EXIF orientation 1..8 applied (the stored
 * pixels turned/mirrored for display); 0 and 1 copy.  out's orientation is 1;
 * colour tags, ICC and EXIF are copied. */
gainmap_status gm_image_orient(gainmap_ctx *ctx, const gainmap_image *in, int orientation, gainmap_image *out);
/* The same replacing *img (orientations other than 2..8 leave it as it is). */
gainmap_status gm_image_orient_in_place(gainmap_ctx *ctx, gainmap_image *img, int orientation);

/* ---- heif.c / isobmff.c: ISOBMFF boxes and the HEIF item model ---- */
#define GM_4CC(a, b, c, d) \
    (((uint32_t)(uint8_t)(a) << 24) | ((uint32_t)(uint8_t)(b) << 16) | ((uint32_t)(uint8_t)(c) << 8) | (uint32_t)(uint8_t)(d))
#define GM_BOX_MAX_DEPTH 32          /* nesting accepted by gm_box_next */
#define GM_BOX_MAX_CHILDREN 100000   /* boxes inside one parent */

/* One box.  offset is relative to the data of the reader it was read from;
 * body covers the payload after the header (for a FullBox gm_box_full()
 * consumes version and flags from body). */
typedef struct gm_box {
    uint32_t type;
    uint8_t uuid[16];       /* 'uuid' boxes only */
    size_t offset;          /* of the size field */
    size_t header_size;     /* 8, 16 with largesize, +16 for 'uuid' */
    size_t size;            /* header + payload */
    bool large;             /* size came from the 64-bit largesize field */
    bool to_end;            /* size field 0: the box runs to the end of its parent */
    gm_reader body;
    uint8_t version;        /* gm_box_full() */
    uint32_t flags;
} gm_box;
/* Read the box at r's position and advance r past it.  TRUNCATED when the
 * header or the claimed size runs past r's end, CORRUPT when the size is
 * smaller than the header.  r is unchanged on failure only in position. */
gainmap_status gm_box_read(gainmap_ctx *ctx, gm_reader *r, gm_box *box);
/* Consume FullBox version (8 bits) and flags (24 bits); false if short. */
bool gm_box_full(gm_box *box);
/* Iterate the boxes of one payload with depth and count limits. */
typedef struct gm_box_iter {
    gm_reader r;
    unsigned depth;
    size_t count;
    gainmap_status status;  /* first error seen */
} gm_box_iter;
void gm_box_iter_init(gm_box_iter *it, gm_reader body, unsigned depth);
/* 1: *box is the next box; 0: end of the payload; -1: error (it->status,
 * recorded in ctx), including LIMIT beyond GM_BOX_MAX_DEPTH/CHILDREN. */
int gm_box_next(gainmap_ctx *ctx, gm_box_iter *it, gm_box *box);
/* Iterator over box's payload one level deeper than parent. */
void gm_box_iter_children(const gm_box_iter *parent, const gm_box *box, gm_box_iter *child);
/* Plain containers (moov, trak, iprp, ipco, grpl, dinf, ...). */
bool gm_box_is_container(uint32_t type);
/* Depth-first walk of every box, descending into plain containers and into
 * meta/iinf/iref.  visit returns 1 to descend, 0 to skip the children, -1
 * to stop (walk then returns INVALID_ARG). */
typedef int (*gm_box_visit)(void *user, const gm_box *box, unsigned depth);
gainmap_status gm_box_walk(gainmap_ctx *ctx, const uint8_t *data, size_t size, gm_box_visit visit, void *user);
/* Printable four-character code ('.' for unprintable bytes). */
const char *gm_fourcc_str(uint32_t type, char buf[5]);
/* Box writer on gm_buf: open returns the box start; close back-patches the
 * 32-bit size (sets b->bad for boxes over 4 GiB). */
size_t gm_boxw_open(gm_buf *b, uint32_t type);
size_t gm_boxw_open_full(gm_buf *b, uint32_t type, uint8_t version, uint32_t flags);
void gm_boxw_close(gm_buf *b, size_t at);
void gm_boxw_raw(gm_buf *b, uint32_t type, const void *payload, size_t size);

/* heif.c: a parsed HEIF/AVIF file.  Pointers into the file bytes stay valid
 * while those bytes live (gm_heif_parse does not copy them). */
#define GM_HEIF_MAX_ITEMS 20000
#define GM_HEIF_MAX_PROPS 32767
#define GM_HEIF_MAX_EXTENTS 4096     /* per item */
#define GM_HEIF_MAX_ISSUES 32
typedef struct gm_heif_issue {
    gainmap_severity severity;
    const char *code;       /* static, e.g. "tmap-not-in-altr" */
    char message[240];
} gm_heif_issue;
typedef struct gm_heif_prop {
    uint32_t type;
    const uint8_t *box;  size_t box_size;    /* the whole property box */
    const uint8_t *body; size_t body_size;   /* after the 8-byte header */
    bool ok;                /* the typed fields below were read */
    uint32_t width, height;                 /* ispe */
    uint32_t colour_type;                    /* colr: 'nclx', 'prof', 'rICC' */
    uint16_t cp, tc, mc; uint8_t full_range; /* colr nclx */
    const uint8_t *icc; size_t icc_size;     /* colr prof/rICC */
    uint8_t channels; uint8_t depth[4];      /* pixi (first 4 channels) */
    char aux_type[128];                      /* auxC URN (NUL-terminated) */
    const uint8_t *aux_subtype; size_t aux_subtype_size;
    uint8_t angle;                           /* irot: anticlockwise quarter turns */
    uint8_t axis;                            /* imir */
    uint16_t max_cll, max_fall;              /* clli */
    uint8_t chroma_format, bit_depth;        /* hvcC / av1C: 0 = monochrome, 1 = 4:2:0 ... */
} gm_heif_prop;
typedef struct gm_heif_extent {
    uint64_t index, offset, length;     /* length 0 = to the end of the source */
} gm_heif_extent;
typedef struct gm_heif_assoc {
    uint16_t index;         /* 1-based into props */
    bool essential;
} gm_heif_assoc;
typedef struct gm_heif_item {
    uint32_t id, type;      /* type: 'hvc1', 'av01', 'grid', 'tmap', 'Exif', 'mime', ... */
    uint8_t infe_version;
    bool hidden;            /* infe flags bit 0 */
    uint16_t protection_index;
    char name[64];
    char content_type[64];  /* 'mime' items */
    char content_encoding[32];
    bool has_location;      /* listed in iloc */
    uint8_t construction_method;   /* 0 file, 1 idat, 2 item (unsupported) */
    uint16_t data_reference_index;
    uint64_t base_offset;
    uint32_t nextents;
    gm_heif_extent *extents;
    uint32_t nassoc;
    gm_heif_assoc *assoc;
} gm_heif_item;
typedef struct gm_heif_ref {
    uint32_t type, from, count;   /* 'dimg', 'auxl', 'thmb', 'cdsc', ... */
    uint32_t *to;
} gm_heif_ref;
typedef struct gm_heif_group {
    uint32_t type, id, count;     /* 'altr', ... */
    uint32_t *ids;
} gm_heif_group;
typedef struct gm_heif {
    const uint8_t *data;
    size_t size;
    uint32_t major_brand, minor_version;
    uint32_t *brands;
    size_t nbrands;
    uint32_t handler;
    bool has_primary;
    uint32_t primary_id;
    gm_heif_item *items;    /* sorted by id */
    size_t nitems;
    gm_heif_prop *props;    /* ipco order; association index i is props[i - 1] */
    size_t nprops;
    gm_heif_ref *refs;
    size_t nrefs;
    gm_heif_group *groups;
    size_t ngroups;
    size_t meta_offset, meta_size;
    bool has_idat;
    size_t idat_offset, idat_size;   /* payload, file offsets */
    size_t nmdat;
    bool meta_after_mdat;
    uint64_t trailing_bytes;         /* after the last parsable top-level box */
    size_t nissues;
    gm_heif_issue issues[GM_HEIF_MAX_ISSUES];
} gm_heif;
/* Parse the boxes of a HEIF/AVIF file (ftyp first, one meta with hdlr
 * 'pict', pitm, iinf, iloc, iref, iprp, idat, grpl; meta may follow mdat).
 * Errors: FORMAT (no ftyp first), TRUNCATED/CORRUPT (bad boxes in meta),
 * UNSUPPORTED (handler not 'pict'), LIMIT, NOMEM.  Oddities that do not stop
 * reading go to (*out)->issues.  Free with gm_heif_free. */
gainmap_status gm_heif_parse(gainmap_ctx *ctx, const uint8_t *data, size_t size, gm_heif **out);
void gm_heif_free(gm_heif *h);
bool gm_heif_has_brand(const gm_heif *h, uint32_t brand);   /* major or compatible */
const gm_heif_item *gm_heif_item_by_id(const gm_heif *h, uint32_t id);
/* The n-th (0-based) property of this type associated with the item, or NULL. */
const gm_heif_prop *gm_heif_item_prop(const gm_heif *h, const gm_heif_item *item, uint32_t type, unsigned n);
/* The reference box of this type from item `from`, or NULL. */
const gm_heif_ref *gm_heif_ref_from(const gm_heif *h, uint32_t type, uint32_t from);
/* Does any reference of this type go from `from` to `to`? */
bool gm_heif_refers(const gm_heif *h, uint32_t type, uint32_t from, uint32_t to);
/* Is this item an image we can hand to the codec ('hvc1', 'av01', 'grid')? */
bool gm_heif_is_image(const gm_heif_item *item);
/* The item's bytes (extents concatenated, from the file or idat), malloc'd;
 * LIMIT when larger than max, TRUNCATED when an extent lies outside the file. */
gainmap_status gm_heif_item_data(gainmap_ctx *ctx, const gm_heif *h, const gm_heif_item *item, uint64_t max,
                                 uint8_t **out, size_t *size);
/* ImageGrid payload of a 'grid' item (ISO/IEC 23008-12 6.6.2.3). */
typedef struct gm_heif_grid {
    uint8_t version, flags;
    uint32_t rows, columns;               /* rows_minus_one + 1, ... */
    uint32_t output_width, output_height;
    const gm_heif_ref *tiles;             /* the item's dimg reference (count == rows*columns) */
} gm_heif_grid;
gainmap_status gm_heif_grid_read(gainmap_ctx *ctx, const gm_heif *h, const gm_heif_item *item, gm_heif_grid *g);
/* Stored size (ispe, or the grid's output size) and displayed size (after
 * irot); false when the item has neither. */
bool gm_heif_item_size(const gm_heif *h, const gm_heif_item *item, uint32_t *w, uint32_t *hgt, bool displayed);

/* Colour description of one item (pointers into the file). */
typedef struct gm_heif_colour {
    bool has_nclx;
    uint8_t cp, tc, mc, full_range;
    const uint8_t *icc; size_t icc_size;
    bool has_clli;
    uint16_t max_cll, max_fall;
    uint8_t pixi_channels, pixi_depth;   /* 0 when no pixi */
} gm_heif_colour;
void gm_heif_item_colour(const gm_heif *h, const gm_heif_item *item, gm_heif_colour *c);

/* How the gain map is carried. */
typedef enum gm_heif_gm_kind {
    GM_HEIF_GM_NONE = 0,
    GM_HEIF_GM_TMAP,          /* ISO 21496-1 'tmap' derived item (may also be an aux image) */
    GM_HEIF_GM_APPLE_AUX,     /* urn:com:apple:photo:2020:aux:hdrgainmap only */
    GM_HEIF_GM_SAMSUNG_AUX,   /* urn:com:samsung:photo:2024:aux:hdrgainmap only */
    GM_HEIF_GM_ADOBE_AUX      /* urn:com:photo:aux:hdrgainmap (pre-tmap ACR AVIF) */
} gm_heif_gm_kind;
#define GM_HEIF_AUX_APPLE "urn:com:apple:photo:2020:aux:hdrgainmap"
#define GM_HEIF_AUX_SAMSUNG "urn:com:samsung:photo:2024:aux:hdrgainmap"
#define GM_HEIF_AUX_ADOBE "urn:com:photo:aux:hdrgainmap"
typedef struct gm_heif_gainmap {
    gm_heif_gm_kind kind;
    uint32_t base_id, map_id, tmap_id;   /* tmap_id 0 unless kind TMAP */
    char map_aux_type[128];              /* the map item's auxC URN, "" when none */
    /* ISO tmap payload (after the version byte), copied; truncated to 512 bytes. */
    uint8_t tmap_version;
    uint8_t iso_payload[512];
    size_t iso_payload_size;
    gainmap_status iso_status;           /* gainmap_iso21496_parse result */
    /* Effective metadata (has_metadata 0 when none could be read). */
    bool has_metadata;
    gainmap_metadata metadata;
    /* Apple: the map is (also) Apple's aux gain map. */
    bool apple;
    double apple_headroom;               /* linear, 0 when unknown */
    int apple_headroom_source;           /* 0 none, 1 XMP, 2 maker notes */
    /* Metadata items (0 = none). */
    uint32_t map_xmp_id, base_xmp_id, exif_id;
    /* Sizes: stored (ispe) and displayed (after irot). */
    uint32_t base_width, base_height, base_display_width, base_display_height;
    uint32_t map_width, map_height, map_display_width, map_display_height;
    uint32_t tmap_width, tmap_height;    /* tmap ispe, 0 when none */
    uint8_t base_angle, map_angle, tmap_angle;   /* irot */
    uint32_t map_channels;               /* coded channels: 1 monochrome, 3 colour */
    gm_heif_colour base_colour, map_colour, tmap_colour;
    uint32_t ignored_tmap_id;            /* a tmap present but not usable (see issues) */
    size_t nissues;
    gm_heif_issue issues[16];
} gm_heif_gainmap;
/* Locate the gain map (FORMATS 3.4, 5): a usable 'tmap' wins; otherwise an
 * Apple, Samsung or Adobe auxiliary gain map of the primary.  OK when found,
 * NO_GAINMAP otherwise (nothing recorded in ctx); out->issues explain what
 * was ignored either way.  An allocation failure anywhere (tmap payload, XMP
 * or EXIF item) is NOMEM, never an issue.  ctx may be NULL. */
gainmap_status gm_heif_find_gainmap(gainmap_ctx *ctx, const gm_heif *h, gm_heif_gainmap *out);

/* Decode one image item (coded, grid, hidden or auxiliary) with libheif:
 * the item and its tiles are copied into a small single-image HEIF built
 * with the box writer, so libheif never sees the rest of the file.  Output:
 * 1 channel for monochrome items, else RGB; U8 for 8-bit sources, U16
 * (scaled to 0..65535, bit_depth = source bits) above.  irot/imir are
 * applied unless flags has GM_HEIF_DECODE_NO_TRANSFORM.  Colour tags (nclx,
 * ICC) of the item are copied into out. */
#define GM_HEIF_DECODE_NO_TRANSFORM 1u
gainmap_status gm_heif_decode_item(gainmap_ctx *ctx, const gm_heif *h, uint32_t item_id, unsigned flags,
                                   gainmap_image *out);
/* heif_plain.c: the primary image of a HEIF/AVIF file as an HDR master.
 * primary_hdr: f is HEIF and its primary image is PQ or HLG (nclx or ICC).
 * read_primary: that image decoded (gm_heif_decode_item; U16 scaled to
 * 0..65535 above 8 bits) with the file's transfer, primaries, nclx, ICC,
 * clli and EXIF; irot/imir/clap applied (orientation 1), or with
 * keep_orientation a plain irot kept and recorded as the orientation (the
 * EXIF's orientation tag, when there is one, patched to match).
 * image_read: gainmap_image_read's HEIF/AVIF branch (UNSUPPORTED, with the
 * reason, unless the primary is HDR).  decode.c: the EXIF orientation of an
 * irot of `angle` anticlockwise quarter turns. */
bool gm_heif_primary_hdr(const gainmap_file *f);
gainmap_status gm_heif_read_primary(gainmap_ctx *ctx, const gainmap_file *f, bool keep_orientation,
                                    gainmap_image *out);
gainmap_status gm_heif_image_read(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out);
int gm_irot_orientation(unsigned angle);
/* The single-image HEIF gm_heif_decode_item hands to libheif (for tests). */
gainmap_status gm_heif_extract_item(gainmap_ctx *ctx, const gm_heif *h, uint32_t item_id, uint8_t **out,
                                    size_t *size);

/* ---- HEIC writing (issue 6): heif_encode.c, heif_write.c ---- */
/* heif_encode.c: one picture -> HEVC through libheif/x265 as a codec.  img:
 * U8 (8-bit) or U16 (0..65535, quantised to bit_depth), 3 channels for
 * 444/420, 1 for 400 (monochrome).  Converted to Y'CbCr here with matrix
 * cicp[2] (1, 5, 6 or 9) and range cicp[3]; cicp is also the nclx libheif
 * gives x265's VUI. */
typedef struct gm_hevc_settings {
    int quality;        /* libheif lossy quality 0..100 */
    int chroma;         /* 444, 420, or 400 = monochrome */
    int bit_depth;      /* 8 or 10 */
    uint8_t cicp[4];    /* primaries, transfer, matrix, full range */
    const char *preset; /* x265 preset ("faster", "medium", ...); NULL = libheif's ("slow") */
    const char *tune;   /* x265 tune ("psnr", "ssim"); NULL = libheif's ("ssim") */
} gm_hevc_settings;
typedef struct gm_hevc_picture {
    uint8_t *hvcc; size_t hvcc_size;   /* whole property boxes from libheif's file */
    uint8_t *ispe; size_t ispe_size;
    uint8_t *clap; size_t clap_size;   /* NULL unless libheif cropped */
    uint8_t *data; size_t data_size;   /* the coded item data */
    uint32_t width, height;            /* the picture given */
    uint32_t coded_width, coded_height;  /* ispe */
    uint8_t bit_depth, channels;
    uint8_t *heif; size_t heif_size;   /* libheif's whole one-image file */
} gm_hevc_picture;
gainmap_status gm_hevc_encode(gainmap_ctx *ctx, const gainmap_image *img, const gm_hevc_settings *s,
                              gm_hevc_picture *out);
/* Decode p back (libheif's file through gm_heif_decode_item). */
gainmap_status gm_hevc_decode(gainmap_ctx *ctx, const gm_hevc_picture *p, gainmap_image *out);
void gm_hevc_picture_free(gm_hevc_picture *p);

/* heif_write.c: a HEIF file from a list of items (ftyp, meta with hdlr,
 * pitm, iinf/infe v2, iref, iprp, idat, grpl/altr, iloc; then mdat).
 * Property boxes are given whole and shared when byte-identical. */
#define GM_HW_MAX_PROPS 10
#define GM_HW_MAX_ITEMS 4096
typedef struct gm_hw_prop {
    const uint8_t *box; size_t size;
    bool essential;
} gm_hw_prop;
typedef struct gm_hw_item {
    uint32_t id, type;
    bool hidden;
    const char *name;           /* may be NULL */
    const char *content_type;   /* 'mime' items */
    const uint8_t *data; size_t size;
    bool in_idat;               /* iloc construction_method 1 */
    gm_hw_prop props[GM_HW_MAX_PROPS];
    unsigned nprops;
} gm_hw_item;
typedef struct gm_hw_ref {
    uint32_t type, from;
    uint32_t to[4];
    unsigned count;
    const uint32_t *to_many;    /* when set: count IDs from here instead of to[] (grid tiles) */
} gm_hw_ref;
typedef struct gm_hw_file {
    uint32_t brands[6];         /* brands[0] is the major brand; all are listed as compatible */
    unsigned nbrands;
    uint32_t primary;
    gm_hw_item *items;          /* nitems <= GM_HW_MAX_ITEMS, owned by the caller */
    unsigned nitems;
    gm_hw_ref refs[8];
    unsigned nrefs;
    uint32_t altr_id;           /* 0: no grpl */
    uint32_t altr[4];
    unsigned naltr;
} gm_hw_file;
gainmap_status gm_heif_write(gainmap_ctx *ctx, const gm_hw_file *f, uint8_t **out, size_t *size);
/* Property boxes (appended whole to b). */
void gm_hw_colr_nclx(gm_buf *b, const uint8_t cicp[4]);
void gm_hw_colr_icc(gm_buf *b, const uint8_t *icc, size_t size);
void gm_hw_pixi(gm_buf *b, unsigned channels, unsigned depth);
void gm_hw_ispe(gm_buf *b, uint32_t width, uint32_t height);
void gm_hw_clli(gm_buf *b, uint16_t max_cll, uint16_t max_fall);
void gm_hw_auxc(gm_buf *b, const char *urn);
/* ImageGridBox payload (the data of a 'grid' item, ISO/IEC 23008-12 6.6.2.3). */
void gm_hw_grid(gm_buf *b, uint32_t rows, uint32_t cols, uint32_t width, uint32_t height);
/* The master's EXIF (TIFF, any byte order) with the Apple maker note put
 * in its Exif IFD: IFD0 (orientation forced to 1), Exif IFD (its own
 * MakerNote replaced) and GPS IFD are copied in the master's byte order;
 * IFD1 (thumbnail) and the interoperability IFD are dropped.  exif may be
 * NULL (then as gm_apple_exif_make); headroom <= 0: no maker note.  A
 * malformed master EXIF is an error (the caller may fall back). */
gainmap_status gm_exif_merge_apple(gainmap_ctx *ctx, const uint8_t *exif, size_t exif_size, double headroom,
                                   uint8_t **out, size_t *size);
/* Apple maker-note tags 33/48 (FORMATS 5.3, inverted) for a linear
 * headroom: *m33 = 101/100 (the >= 1 branch), *m48 = n/1000000. */
void gm_apple_maker_values(double headroom, int32_t m33[2], int32_t m48[2]);
/* Big-endian EXIF (TIFF, no prefix): IFD0 -> Exif IFD -> Apple maker note
 * holding tags 33 and 48. */
gainmap_status gm_apple_exif_make(gainmap_ctx *ctx, double headroom, uint8_t **out, size_t *size);
/* encode_heic.c: gainmap_encode_heic that also reports what it wrote (for
 * tests and bench); w may be NULL. */
typedef struct gm_heic_written {
    bool has_iso;
    gainmap_metadata iso;         /* the tmap's metadata */
    double apple_headroom;        /* 0 unless an Apple map was written */
    uint32_t map_width, map_height, map_channels;
    size_t base_bytes, map_bytes;
    uint16_t max_cll, max_fall;
    double iso_fit_rms_stops;     /* heic: ISO reading of the Apple map vs Apple's (RMS over the map) */
    double seconds_hevc, seconds_total;
    uint32_t base_tiles, map_tiles;   /* grid tiles (0: one coded picture) */
    uint32_t tile_size;
    bool exif_from_master;            /* the master's EXIF was carried */
} gm_heic_written;
gainmap_status gm_encode_heic(gainmap_ctx *ctx, const gainmap_image *hdr, const gainmap_image *sdr,
                              const gainmap_encode_options *opts, const gainmap_heic_options *ho,
                              gainmap_heic_variant v, uint8_t **out, size_t *out_size, gm_heic_written *w);

/* colour.c: 3x3 maths (row-major, dst = M * src), Oklab and ICtCp. */
void gm_mat3_mul(const double a[9], const double b[9], double out[9]);
int gm_mat3_invert(const double m[9], double out[9]);                 /* -1 when singular */
/* out = m in (in == out allowed); inline, as per-pixel loops call it */
static inline void gm_mat3_apply(const double m[9], const double in[3], double out[3])
{
    double r0 = m[0] * in[0] + m[1] * in[1] + m[2] * in[2];
    double r1 = m[3] * in[0] + m[4] * in[1] + m[5] * in[2];
    double r2 = m[6] * in[0] + m[7] * in[1] + m[8] * in[2];
    out[0] = r0;
    out[1] = r1;
    out[2] = r2;
}
/* Oklab (Ottosson 2020): linear RGB in p -> LMS matrix; LMS -> Lab; Lab -> cube roots of LMS. */
int gm_oklab_matrix(gainmap_primaries p, double rgb_to_lms[9]);
void gm_oklab_from_lms(const double lms[3], double lab[3]);
void gm_oklab_to_lms_cbrt(const double lab[3], double lms_cbrt[3]);
int gm_oklab_from_linear(gainmap_primaries p, const double rgb[3], double lab[3]);
/* BT.2100 ICtCp of linear RGB in p, where 1.0 = nits_per_unit cd/m2; BT.2124 dE_ITP. */
int gm_ictcp_from_linear(gainmap_primaries p, const double rgb[3], double nits_per_unit, double itp[3]);
double gm_delta_e_itp(const double a[3], const double b[3]);

/* tonemap.c: HDR -> SDR, usable pixel by pixel by the encoders.
 * gm_tonemap_setup() resolves opts for one HDR image: source primaries and
 * transfer (UNKNOWN: BT.2020 for PQ/HLG, else BT.709; LINEAR for F32, else
 * sRGB), the peak (opts->peak_nits, else hdr->max_cll, else the 99.9th
 * percentile of luminance, never below HDR white), the curve table, the
 * gamut mapper and opts->lut (borrowed: it must outlive the state).  hdr's
 * pixels are read only to find the percentile.  The state is read-only
 * afterwards, so several threads may share it. */
typedef struct gm_tonemap_state gm_tonemap_state;
gainmap_status gm_tonemap_setup(gainmap_ctx *ctx, const gainmap_image *hdr, const gainmap_tonemap_options *opts,
                                gm_tonemap_state **out);
void gm_tonemap_free(gm_tonemap_state *s);
/* Row y of the HDR image as linear RGB floats (3 per pixel) in its own
 * primaries, 1.0 = 203 cd/m2 (HLG through the BT.2100 OOTF at 1000 cd/m2). */
void gm_tonemap_decode_row(const gm_tonemap_state *s, const gainmap_image *hdr, uint32_t y, float *out);
/* n pixels: in = linear RGB in the HDR primaries, 1.0 = 203 cd/m2 (as from
 * gm_tonemap_decode_row); out = SDR linear RGB in opts->base_primaries,
 * 1.0 = SDR white, every value in [0,1], hue kept (luminance curve, then
 * constant-hue gamut compression in Oklab).  in == out is allowed. */
void gm_tonemap_row(const gm_tonemap_state *s, const float *in, float *out, size_t n);
/* The reference the fast path is tested against (tests/test_perf_equiv.c):
 * the curve interpolated in the log2 domain through libm's log2. */
void gm_tonemap_row_ref(const gm_tonemap_state *s, const float *in, float *out, size_t n);
/* gm_tonemap_row without its SIMD path: the same bits, pixel by pixel (for tests) */
void gm_tonemap_row_scalar(const gm_tonemap_state *s, const float *in, float *out, size_t n);
/* The resolved source peak (cd/m2), the source primaries, and the bare curve
 * (luminance relative to HDR white -> relative to SDR white). */
double gm_tonemap_peak_nits(const gm_tonemap_state *s);
gainmap_primaries gm_tonemap_source_primaries(const gm_tonemap_state *s);
double gm_tonemap_curve(const gm_tonemap_state *s, double x);
/* gainmap_tonemap, also counting in *rows_avx2 (when not NULL) the rows its
 * AVX2 kernel made (tests: the dispatch took the kernel asked for). */
gainmap_status gm_tonemap_image(gainmap_ctx *ctx, const gainmap_image *hdr, const gainmap_tonemap_options *opts,
                                gainmap_image *sdr, uint32_t *rows_avx2);

/* ---- preview (issue 7): preview.c, font5x7.c ---- */
/* 5x7 glyph of ASCII 32..126: 7 rows top to bottom, bit 4 = left column;
 * NULL outside that range. */
const uint8_t *gm_font_glyph(int c);
/* Rows a glyph is drawn below the top of its cell (2 for g, p, q, y). */
int gm_font_drop(int c);
/* Panels of the contact sheet; rects are the drawn picture areas. */
typedef enum gm_preview_panel {
    GM_PREVIEW_BASE = 0, GM_PREVIEW_MAP, GM_PREVIEW_SCALE, GM_PREVIEW_HIST,
    GM_PREVIEW_H1, GM_PREVIEW_H2, GM_PREVIEW_H4, GM_PREVIEW_H8, GM_PREVIEW_TEXT,
    GM_PREVIEW_NPANELS
} gm_preview_panel;
typedef struct gm_rect {
    uint32_t x, y, w, h;
} gm_rect;
/* Layout for a displayed (oriented) base of base_w x base_h pixels. */
void gm_preview_layout(uint32_t base_w, uint32_t base_h, gm_rect rects[GM_PREVIEW_NPANELS], uint32_t *sheet_w,
                       uint32_t *sheet_h);

#endif /* GAINMAP_INTERNAL_H */

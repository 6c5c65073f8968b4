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
};
/* validate.c: derive the issue list from the facts. */
void gm_validate_file(gainmap_file *f);

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

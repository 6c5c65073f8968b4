/*
 * gainmap.h - libgainmap public API: read, validate, decode and encode HDR
 * gain-map photos (UltraHDR / Adobe hdrgm JPEG, ISO 21496-1, Apple).
 *
 * This is the only installed header.  Conventions:
 *  - Every call that can fail returns gainmap_status; gainmap_strerror() names
 *    it and gainmap_last_error(ctx) holds a sentence about the first failure.
 *  - Nothing prints.  A context is used by one thread at a time; context-free
 *    functions are reentrant.
 *  - Memory returned through an out-pointer (buffers, strings) is released with
 *    gainmap_free(); images with gainmap_image_free().  Free functions accept NULL.
 *  - Pixels are always RGB(A) in that channel order inside the library.
 *  - "Linear" pixel values are relative to SDR reference white: 1.0 = SDR
 *    white = 203 cd/m2 for PQ/HLG content (ITU-R BT.2408).
 */
#ifndef GAINMAP_H
#define GAINMAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(GAINMAP_BUILDING) && defined(__GNUC__)
#define GAINMAP_API __attribute__((visibility("default")))
#else
#define GAINMAP_API
#endif

/* ------------------------------------------------------------------ */
/* Versions                                                            */
/* ------------------------------------------------------------------ */
#define GAINMAP_VERSION_MAJOR 0
#define GAINMAP_VERSION_MINOR 1
#define GAINMAP_VERSION_PATCH 0
#define GAINMAP_VERSION_STRING "0.1.0"
#define GAINMAP_VERSION_NUMBER \
    ((GAINMAP_VERSION_MAJOR << 16) | (GAINMAP_VERSION_MINOR << 8) | GAINMAP_VERSION_PATCH)

/* Runtime version: (major << 16) | (minor << 8) | patch. */
GAINMAP_API unsigned gainmap_version(void);
GAINMAP_API const char *gainmap_version_string(void);
/* The pixel kernels this process runs: "avx2" (x86-64 CPUs with AVX2),
 * "sse2" (other x86-64 CPUs, or GAINMAP_NO_AVX2=1 in the environment) or
 * "portable".  Every choice gives the same output bytes. */
GAINMAP_API const char *gainmap_cpu_kernels(void);

/* ------------------------------------------------------------------ */
/* Status, context, options                                            */
/* ------------------------------------------------------------------ */
typedef enum gainmap_status {
    GAINMAP_OK = 0,
    GAINMAP_ERR_INVALID_ARG,   /* a caller error: NULL, out-of-range value   */
    GAINMAP_ERR_NOMEM,         /* allocation failed                          */
    GAINMAP_ERR_IO,            /* open/read/write/rename failed              */
    GAINMAP_ERR_TRUNCATED,     /* data ends before a structure does          */
    GAINMAP_ERR_FORMAT,        /* not this format (bad magic, unknown type)  */
    GAINMAP_ERR_CORRUPT,       /* right format, inconsistent contents        */
    GAINMAP_ERR_UNSUPPORTED,   /* valid but a feature we do not handle       */
    GAINMAP_ERR_LIMIT,         /* exceeds a configured limit                 */
    GAINMAP_ERR_NO_GAINMAP,    /* a valid image that carries no gain map     */
    GAINMAP_ERR_CODEC,         /* the JPEG/HEVC/PNG/... codec library failed */
    GAINMAP_ERR_STATE          /* context refused work after a fatal error   */
} gainmap_status;

/* Short English name of a status ("truncated data"). Never NULL. */
GAINMAP_API const char *gainmap_strerror(gainmap_status status);

typedef struct gainmap_ctx gainmap_ctx;

/* A new context with default options, or NULL when out of memory. */
GAINMAP_API gainmap_ctx *gainmap_ctx_new(void);
GAINMAP_API void gainmap_ctx_free(gainmap_ctx *ctx);

/* The sentence describing the first failure since the last
 * gainmap_clear_error(), or "" when none. Owned by ctx. */
GAINMAP_API const char *gainmap_last_error(const gainmap_ctx *ctx);
GAINMAP_API void gainmap_clear_error(gainmap_ctx *ctx);

typedef enum gainmap_option {
    /* Largest image, in pixels, any reader accepts.  Default 268435456 (256 MP). */
    GAINMAP_OPT_MAX_PIXELS = 1,
    /* Largest width or height.  Default 65535. */
    GAINMAP_OPT_MAX_DIMENSION = 2,
    /* Largest metadata block (XMP, ICC, EXIF, box) kept.  Default 16 MiB. */
    GAINMAP_OPT_MAX_METADATA_BYTES = 3,
    /* Largest single allocation for pixels.  Default 4 GiB. */
    GAINMAP_OPT_MAX_ALLOC_BYTES = 4,
    /* Largest input file read into memory.  Default 1 GiB. */
    GAINMAP_OPT_MAX_FILE_BYTES = 5,
    /* Worker threads for pixel work; 0 = number of cores.  Default 0. */
    GAINMAP_OPT_THREADS = 6
} gainmap_option;

GAINMAP_API gainmap_status gainmap_set_option(gainmap_ctx *ctx, gainmap_option key, int64_t value);
GAINMAP_API gainmap_status gainmap_get_option(const gainmap_ctx *ctx, gainmap_option key, int64_t *value);

/* Release memory the library returned (buffers, strings). NULL is fine. */
GAINMAP_API void gainmap_free(void *ptr);

/* ------------------------------------------------------------------ */
/* Colour: transfer functions, primaries, matrices                     */
/* ------------------------------------------------------------------ */
typedef enum gainmap_transfer {
    GAINMAP_TRANSFER_UNKNOWN = 0,
    GAINMAP_TRANSFER_LINEAR,   /* scene/display linear                        */
    GAINMAP_TRANSFER_SRGB,     /* IEC 61966-2-1 piecewise curve               */
    GAINMAP_TRANSFER_PQ,       /* SMPTE ST 2084                               */
    GAINMAP_TRANSFER_HLG,      /* ARIB STD-B67 / BT.2100                      */
    GAINMAP_TRANSFER_GAMMA22,  /* pure power 2.2                              */
    GAINMAP_TRANSFER_GAMMA24,  /* pure power 2.4                              */
    GAINMAP_TRANSFER_BT709     /* BT.709 OETF (Apple gain-map pixel encoding) */
} gainmap_transfer;

typedef enum gainmap_primaries {
    GAINMAP_PRIMARIES_UNKNOWN = 0,
    GAINMAP_PRIMARIES_BT709,   /* = sRGB */
    GAINMAP_PRIMARIES_P3,      /* Display P3 (P3-D65, SMPTE EG 432-1) */
    GAINMAP_PRIMARIES_BT2020
} gainmap_primaries;

/* PQ (ST 2084).  eotf: signal [0,1] -> cd/m2 [0,10000]; inverse: cd/m2 -> signal. */
GAINMAP_API double gainmap_pq_eotf(double signal);
GAINMAP_API double gainmap_pq_inverse_eotf(double nits);
/* HLG (BT.2100).  OETF: scene linear [0,1] -> signal; inverse OETF the reverse. */
GAINMAP_API double gainmap_hlg_oetf(double scene);
GAINMAP_API double gainmap_hlg_inverse_oetf(double signal);
/* HLG system gamma for a nominal peak: 1.2 + 0.42*log10(peak/1000). */
GAINMAP_API double gainmap_hlg_system_gamma(double peak_nits);
/* HLG OOTF on one RGB triple (BT.2020 luminance weights, black 0):
 * scene linear [0,1] -> display light in cd/m2 for a display of peak_nits. */
GAINMAP_API void gainmap_hlg_ootf(const double scene[3], double peak_nits, double display_nits[3]);
GAINMAP_API void gainmap_hlg_inverse_ootf(const double display_nits[3], double peak_nits, double scene[3]);
/* sRGB, BT.709 and pure-gamma curves on [0,1]. */
GAINMAP_API double gainmap_srgb_to_linear(double v);
GAINMAP_API double gainmap_srgb_from_linear(double l);
GAINMAP_API double gainmap_bt709_to_linear(double v);
GAINMAP_API double gainmap_bt709_from_linear(double l);

/* Generic: signal -> linear relative to SDR white (1.0 = 203 cd/m2 for PQ
 * and HLG; for SDR curves 1.0 = signal 1.0).  HLG here is the achromatic
 * (per channel) EOTF for a 1000 cd/m2 display; use the OOTF calls for colour. */
GAINMAP_API double gainmap_to_linear(gainmap_transfer tf, double signal);
GAINMAP_API double gainmap_from_linear(gainmap_transfer tf, double linear);

/* Chromaticities x,y of R, G, B and white (8 doubles). Returns 0 on success. */
GAINMAP_API int gainmap_primaries_xy(gainmap_primaries p, double xy[8]);
/* Row-major 3x3 matrices, column vector convention dst = M * src. */
GAINMAP_API int gainmap_rgb_to_xyz(gainmap_primaries p, double m[9]);
GAINMAP_API int gainmap_xyz_to_rgb(gainmap_primaries p, double m[9]);
GAINMAP_API int gainmap_gamut_matrix(gainmap_primaries src, gainmap_primaries dst, double m[9]);
/* Luminance weights (the Y row of RGB->XYZ). */
GAINMAP_API int gainmap_luma_weights(gainmap_primaries p, double w[3]);

/* Names used by the CLI and JSON: "pq", "hlg", "srgb", "p3", "bt2020", ... */
GAINMAP_API const char *gainmap_transfer_name(gainmap_transfer tf);
GAINMAP_API const char *gainmap_primaries_name(gainmap_primaries p);
GAINMAP_API gainmap_transfer gainmap_transfer_from_name(const char *name);
GAINMAP_API gainmap_primaries gainmap_primaries_from_name(const char *name);
/* H.273 code points <-> enums (0 / UNKNOWN when not representable). */
GAINMAP_API gainmap_transfer gainmap_transfer_from_cicp(int tc);
GAINMAP_API gainmap_primaries gainmap_primaries_from_cicp(int cp);
GAINMAP_API int gainmap_transfer_to_cicp(gainmap_transfer tf);
GAINMAP_API int gainmap_primaries_to_cicp(gainmap_primaries p);

/* ------------------------------------------------------------------ */
/* Images                                                              */
/* ------------------------------------------------------------------ */
typedef enum gainmap_pixel_type {
    GAINMAP_PIXEL_U8 = 1,
    GAINMAP_PIXEL_U16,
    GAINMAP_PIXEL_F32
} gainmap_pixel_type;

/* A plain image.  channels: 1 (grey), 3 (RGB) or 4 (RGBA).  data points at
 * height rows of stride bytes.  The struct owns data, icc and exif (malloc'd)
 * after gainmap_image_alloc() or any reader; gainmap_image_free() releases
 * them and zeroes the struct.  A caller may also point data at its own
 * memory and never call gainmap_image_free(). */
typedef struct gainmap_image {
    uint32_t width, height;
    uint32_t channels;
    gainmap_pixel_type type;
    size_t stride;                 /* bytes per row                        */
    void *data;
    uint32_t bit_depth;            /* significant bits of the source (8, 10, 12, 16, 32) */
    gainmap_transfer transfer;     /* how the samples are encoded          */
    gainmap_primaries primaries;
    /* H.273 tagging as read or to write (cICP chunk, nclx). has_cicp=0: none. */
    int has_cicp;
    uint8_t cicp[4];               /* primaries, transfer, matrix, full-range flag */
    uint8_t *icc;  size_t icc_size;
    uint8_t *exif; size_t exif_size;   /* TIFF structure ("II*\0"/"MM\0*"...), no "Exif\0\0" */
    int orientation;               /* EXIF 1..8; 0 = unknown (treated as 1) */
    /* Content light level when the source said so (cd/m2), else 0. */
    double max_cll, max_fall;
} gainmap_image;

/* Allocate pixels (zeroed) for a w x h image; checks ctx limits when ctx != NULL. */
GAINMAP_API gainmap_status gainmap_image_alloc(gainmap_ctx *ctx, gainmap_image *img, uint32_t width,
                                               uint32_t height, uint32_t channels, gainmap_pixel_type type);
GAINMAP_API void gainmap_image_free(gainmap_image *img);
/* Copy ICC/EXIF bytes into img (replacing what it had). */
GAINMAP_API gainmap_status gainmap_image_set_icc(gainmap_image *img, const uint8_t *icc, size_t size);
GAINMAP_API gainmap_status gainmap_image_set_exif(gainmap_image *img, const uint8_t *exif, size_t size);

typedef enum gainmap_file_format {
    GAINMAP_FORMAT_AUTO = 0,   /* from magic bytes on read, extension on write */
    GAINMAP_FORMAT_PNG,
    GAINMAP_FORMAT_TIFF,
    GAINMAP_FORMAT_EXR,
    GAINMAP_FORMAT_RGBE,       /* Radiance .hdr */
    GAINMAP_FORMAT_PFM,
    GAINMAP_FORMAT_PPM,        /* binary PPM/PGM, 8 or 16 bit */
    GAINMAP_FORMAT_JPEG,
    GAINMAP_FORMAT_HEIF
} gainmap_file_format;

/* Identify a format from its first bytes (AUTO when unknown). */
GAINMAP_API gainmap_file_format gainmap_detect_format(const uint8_t *data, size_t size);
/* Format from a file name's extension (AUTO when unknown). */
GAINMAP_API gainmap_file_format gainmap_format_from_path(const char *path);

/* Read an HDR/SDR image (PNG, TIFF, EXR, .hdr, PFM, PPM).  Integer formats
 * come back as U8/U16 with their transfer and primaries worked out from cICP,
 * or the ICC profile's contents, or the format's convention; float formats
 * come back as F32 LINEAR (EXR/PFM/.hdr, 1.0 = SDR white by convention).
 * HEIF/AVIF: the primary image when it is PQ or HLG (nclx or ICC), U16
 * (10/12-bit codes v scaled to round(v * 65535 / (2^bits - 1))) with its
 * nclx, ICC, EXIF and clli, irot/imir/clap applied (orientation 1);
 * UNSUPPORTED for an SDR primary (a gain-map photo is read with
 * gainmap_file_open). */
GAINMAP_API gainmap_status gainmap_image_read(gainmap_ctx *ctx, const char *path, gainmap_image *out);
GAINMAP_API gainmap_status gainmap_image_read_memory(gainmap_ctx *ctx, const uint8_t *data, size_t size,
                                                     gainmap_image *out);
/* Write an image: PNG (16-bit, cICP + iCCP), TIFF (16-bit, ICC), EXR (half),
 * PFM, PPM (16-bit).  Pixel types are converted as needed.  The file is
 * written to a temporary name in the same folder and renamed into place. */
GAINMAP_API gainmap_status gainmap_image_write(gainmap_ctx *ctx, const char *path, const gainmap_image *img,
                                               gainmap_file_format fmt);

/* Convert src (U8/U16/F32, 1, 3 or 4 channels) to another pixel type,
 * transfer and primaries through linear light (1.0 = SDR white = 203 cd/m2;
 * HLG both ways through the BT.2100 OOTF of a 1000 cd/m2 display; primaries
 * by gainmap_gamut_matrix).  transfer / primaries UNKNOWN = src's; src's
 * transfer must be known, its primaries too when they change.  dst (not
 * src) is allocated by the call: src's size and channels (grey stays grey;
 * alpha is copied, not converted).  Non-linear transfers give signals
 * clamped to [0,1]; LINEAR F32 is not clamped (a colour outside the new
 * gamut has negative components); integer types store [0,1] rounded, NaN
 * as 0.  dst gets transfer, primaries, bit_depth (8, 16, 32), cicp (has_cicp
 * when H.273 has code points for both; matrix 0, full range), EXIF and
 * orientation; the ICC profile only when transfer and primaries are both
 * unchanged (else none: it would misdescribe the pixels); max_cll/max_fall
 * 0.  On failure dst is zeroed. */
GAINMAP_API gainmap_status gainmap_image_recode(gainmap_ctx *ctx, const gainmap_image *src, gainmap_transfer transfer,
                                                gainmap_primaries primaries, gainmap_pixel_type type,
                                                gainmap_image *dst);

/* How bright an image is, from each pixel's luminance in cd/m2 (the Y row of
 * the image primaries' RGB->XYZ; BT.709 weights when UNKNOWN): PQ per ST 2084,
 * HLG through the OOTF of a 1000 cd/m2 display, LINEAR and the SDR curves
 * (sRGB, BT.709, gamma) with 1.0 = 203 cd/m2.  PQ/HLG signals are clamped to
 * [0,1]; negative luminance counts as 0; a pixel with a NaN or infinite
 * colour sample is left out.  Grey images count as R = G = B; alpha is
 * ignored.  Luminances are kept as floats (about 7 significant digits). */
typedef struct gainmap_light_stats {
    double peak_nits;    /* the brightest pixel                                */
    double p999_nits;    /* 99.9th percentile, nearest rank: the ceil(0.999 n)-th
                          * smallest of the n counted pixels                   */
    double mean_nits;    /* mean over the counted pixels                       */
    uint64_t pixels;     /* n: pixels counted (all 0 when none)                */
    uint64_t ignored;    /* pixels left out for a NaN or infinite sample       */
} gainmap_light_stats;
GAINMAP_API gainmap_status gainmap_image_light_stats(gainmap_ctx *ctx, const gainmap_image *img,
                                                     gainmap_light_stats *out);

/* ------------------------------------------------------------------ */
/* Gain-map metadata (ISO 21496-1 model; XMP and Apple map onto it)    */
/* ------------------------------------------------------------------ */
typedef struct gainmap_fraction {   /* signed value n/d; d > 0 when valid */
    int32_t n;
    uint32_t d;
} gainmap_fraction;
typedef struct gainmap_ufraction {
    uint32_t n;
    uint32_t d;
} gainmap_ufraction;

typedef enum gainmap_kind {
    GAINMAP_KIND_ISO = 0,   /* ISO 21496-1 / Adobe hdrgm: log2 map, 2^(G*w) */
    GAINMAP_KIND_APPLE      /* Apple: 1 + (H-1)*g_lin, BT.709-encoded map     */
} gainmap_kind;

/* Exact gain-map metadata. Channel values are R, G, B; when channel_count
 * is 1 only index 0 is meaningful and applies to every channel. */
typedef struct gainmap_metadata {
    gainmap_kind kind;
    uint16_t minimum_version, writer_version;
    uint8_t channel_count;              /* 1 or 3 */
    uint8_t use_base_colour_space;      /* ISO flag bit 6 */
    uint8_t flags;                      /* the raw ISO flags byte as read */
    gainmap_ufraction base_hdr_headroom;       /* log2 */
    gainmap_ufraction alternate_hdr_headroom;  /* log2 */
    gainmap_fraction gain_map_min[3];          /* log2 */
    gainmap_fraction gain_map_max[3];          /* log2 */
    gainmap_ufraction gamma[3];
    gainmap_fraction base_offset[3];
    gainmap_fraction alternate_offset[3];
    double apple_headroom;              /* KIND_APPLE: linear headroom H (>= 1) */
} gainmap_metadata;

/* Float view of the metadata, for the maths. */
typedef struct gainmap_params {
    int channel_count;
    int use_base_colour_space;
    double base_hdr_headroom, alternate_hdr_headroom;   /* log2 */
    double gain_map_min[3], gain_map_max[3], gamma[3];
    double base_offset[3], alternate_offset[3];
} gainmap_params;

/* Fill *p from *m (every channel filled, even for channel_count 1). */
GAINMAP_API gainmap_status gainmap_metadata_to_params(const gainmap_metadata *m, gainmap_params *p);
/* Exact fractions from floats (continued fractions, bounded denominators). */
GAINMAP_API gainmap_status gainmap_params_to_metadata(const gainmap_params *p, gainmap_metadata *m);
/* Structural validity: denominators, max >= min, gamma > 0, headrooms.
 * On failure ctx's last error names the field. */
GAINMAP_API gainmap_status gainmap_metadata_check(gainmap_ctx *ctx, const gainmap_metadata *m);
/* ISO 21496-1 GainMapMetadata payload (the bytes after the APP2 URN or the
 * tmap item's contents).  parse: the full layout and libultrahdr's compact
 * common-denominator form (flag 0x08; 0x04 is kept in flags, informational);
 * extra bytes after the metadata are CORRUPT unless writer_version > 0; a
 * 4-byte version-only payload (the primary image's stub) gives
 * GAINMAP_ERR_NO_GAINMAP with the versions filled in.  Structural only: run
 * gainmap_metadata_check() for value checks.  write: the full form only
 * (flags 0x80/0x40, never 0x04/0x08), after gainmap_metadata_check(); the
 * buffer is released with gainmap_free(). */
GAINMAP_API gainmap_status gainmap_iso21496_parse(gainmap_ctx *ctx, const uint8_t *data, size_t size,
                                                  gainmap_metadata *out);
GAINMAP_API gainmap_status gainmap_iso21496_write(gainmap_ctx *ctx, const gainmap_metadata *m,
                                                  uint8_t **out, size_t *out_size);

/* Weight of the map for a display with log2 headroom h (ISO 21496-1;
 * negative when the base is the HDR rendition). */
GAINMAP_API double gainmap_weight(const gainmap_params *p, double display_headroom_log2);

/* ------------------------------------------------------------------ */
/* Reading gain-map files (JPEG now, HEIF later)                       */
/* ------------------------------------------------------------------ */
typedef enum gainmap_container {
    GAINMAP_CONTAINER_UNKNOWN = 0,
    GAINMAP_CONTAINER_JPEG,
    GAINMAP_CONTAINER_HEIF
} gainmap_container;

/* Bits for gainmap_info.dialects: what the file carries. */
#define GAINMAP_DIALECT_HDRGM_XMP   0x01u  /* hdrgm:* gain-map XMP (Adobe / UltraHDR) */
#define GAINMAP_DIALECT_GCONTAINER  0x02u  /* Google GContainer directory */
#define GAINMAP_DIALECT_MPF         0x04u  /* CIPA MPF index */
#define GAINMAP_DIALECT_ISO21496    0x08u  /* ISO 21496-1 binary metadata */
#define GAINMAP_DIALECT_APPLE       0x10u  /* Apple HDRGainMap XMP / maker notes */
#define GAINMAP_DIALECT_TMAP        0x20u  /* HEIF 'tmap' derived item */

/* Where the gain-map stream was located. */
typedef enum gainmap_locator {
    GAINMAP_LOCATOR_NONE = 0,
    GAINMAP_LOCATOR_MPF,
    GAINMAP_LOCATOR_GCONTAINER,
    GAINMAP_LOCATOR_SCAN,          /* next SOI after the primary's EOI */
    GAINMAP_LOCATOR_HEIF_ITEM
} gainmap_locator;

typedef enum gainmap_meta_source {
    GAINMAP_META_NONE = 0,
    GAINMAP_META_ISO21496,
    GAINMAP_META_XMP,
    GAINMAP_META_APPLE
} gainmap_meta_source;

typedef struct gainmap_info {
    gainmap_container container;
    unsigned dialects;               /* GAINMAP_DIALECT_* bits */
    int has_gainmap;                 /* a usable map + valid metadata */
    uint32_t base_width, base_height, base_components;
    uint32_t map_width, map_height, map_components;
    int orientation;                 /* EXIF 1..8 (1 when absent) */
    gainmap_primaries base_primaries;  /* from the base's ICC (BT709 when none) */
    gainmap_transfer base_transfer;
    gainmap_meta_source meta_source;   /* which dialect the effective metadata came from */
    gainmap_metadata meta;             /* effective metadata (ISO wins over XMP) */
    gainmap_locator locator;
    uint64_t base_offset, base_size;   /* byte ranges in the file */
    uint64_t map_offset, map_size;
} gainmap_info;

typedef enum gainmap_severity {
    GAINMAP_SEVERITY_INFO = 0,
    GAINMAP_SEVERITY_WARNING,
    GAINMAP_SEVERITY_ERROR
} gainmap_severity;

typedef struct gainmap_issue {
    gainmap_severity severity;
    const char *code;      /* stable identifier, e.g. "iso-only" */
    const char *message;   /* one English sentence */
} gainmap_issue;

typedef struct gainmap_file gainmap_file;

/* Parse a gain-map file held in memory.  The bytes are copied.  Returns
 * GAINMAP_OK for any readable image (check info->has_gainmap), an error for
 * data that is not a readable JPEG/HEIF. */
GAINMAP_API gainmap_status gainmap_file_open_memory(gainmap_ctx *ctx, const uint8_t *data, size_t size,
                                                    gainmap_file **out);
GAINMAP_API gainmap_status gainmap_file_open(gainmap_ctx *ctx, const char *path, gainmap_file **out);
GAINMAP_API void gainmap_file_close(gainmap_file *f);
/* Owned by f; valid until gainmap_file_close. */
GAINMAP_API const gainmap_info *gainmap_file_info(const gainmap_file *f);
/* Spec violations and interop risks found while parsing (owned by f). */
GAINMAP_API size_t gainmap_file_issues(const gainmap_file *f, const gainmap_issue **issues);
/* Byte-exact streams inside the file (pointers owned by f).  For HEIF/AVIF,
 * whose items are not standalone streams, each is a valid single-image HEIF
 * (brand heic, or avif for AV1) holding the item - its tiles for a grid -
 * with its properties, coded data copied unchanged; UNSUPPORTED when it
 * could not be built (gainmap_file_issues says why). */
GAINMAP_API gainmap_status gainmap_file_base_stream(const gainmap_file *f, const uint8_t **data, size_t *size);
GAINMAP_API gainmap_status gainmap_file_map_stream(const gainmap_file *f, const uint8_t **data, size_t *size);
/* ICC profile of the base image, or NULL/0. */
GAINMAP_API gainmap_status gainmap_file_base_icc(const gainmap_file *f, const uint8_t **data, size_t *size);
/* EXIF (TIFF structure) of the primary image, or NULL/0. */
GAINMAP_API gainmap_status gainmap_file_exif(const gainmap_file *f, const uint8_t **data, size_t *size);
/* JSON description (schema "gainmap-info/1"); free with gainmap_free. */
GAINMAP_API gainmap_status gainmap_file_info_json(gainmap_ctx *ctx, const gainmap_file *f, char **json);

/* ------------------------------------------------------------------ */
/* Decoding to HDR                                                     */
/* ------------------------------------------------------------------ */
typedef struct gainmap_decode_options {
    /* Display headroom, linear (>= 1).  0 = the map's full (alternate) headroom. */
    double headroom;
    /* Output encoding: LINEAR (F32, 1.0 = SDR white), PQ or HLG (U16), SRGB (U8 SDR base only). */
    gainmap_transfer transfer;
    /* Output primaries; UNKNOWN = the base's. */
    gainmap_primaries primaries;
    /* Non-zero: keep the stored orientation instead of rotating the pixels. */
    int keep_orientation;
} gainmap_decode_options;

/* Defaults: headroom 0 (full), transfer PQ, primaries BT2020, orientation applied. */
GAINMAP_API void gainmap_decode_options_init(gainmap_decode_options *opts);

/* Decode a JPEG stream to an 8-bit image (channels 1 or 3 as stored). */
GAINMAP_API gainmap_status gainmap_jpeg_decode(gainmap_ctx *ctx, const uint8_t *data, size_t size,
                                               gainmap_image *out);
/* Apply a gain map to a decoded base (context-free maths).
 * base: U8/U16/F32 in base->transfer/base->primaries; map: U8 1 or 3 channels,
 * any size (resampled bilinearly); out: allocated by the call. */
GAINMAP_API gainmap_status gainmap_apply(gainmap_ctx *ctx, const gainmap_image *base, const gainmap_image *map,
                                         const gainmap_metadata *meta, const gainmap_decode_options *opts,
                                         gainmap_image *out);
/* Read a file's base and map and apply (what `gainmap decode` does).  A
 * HEIF/AVIF with no usable gain map whose primary image is PQ or HLG is
 * written as it is in opts' transfer and primaries (headroom 0; headroom 1
 * or an SRGB output: tone-mapped to SDR; another headroom: UNSUPPORTED);
 * any other file without a usable gain map: NO_GAINMAP. */
GAINMAP_API gainmap_status gainmap_decode(gainmap_ctx *ctx, const gainmap_file *f,
                                          const gainmap_decode_options *opts, gainmap_image *out);
/* gainmap_decode straight into an image file (format from fmt, or from the
 * extension when AUTO; written atomically, replacing `path`): a JPEG is
 * decoded, applied and written strip by strip, so neither the base nor the
 * result is ever whole in memory (HEIF files and JPEGs whose orientation
 * must be applied go through gainmap_decode).  The file's bytes are those
 * gainmap_image_write would write for gainmap_decode's image.  header (may
 * be NULL) receives the output's description: size, type, transfer,
 * primaries (no pixels, ICC or EXIF; nothing to free).  On failure it is
 * zeroed when the input could not be read or decoded, and kept when the
 * output could not be written (so a caller can tell which file to blame). */
GAINMAP_API gainmap_status gainmap_decode_to_file(gainmap_ctx *ctx, const gainmap_file *f,
                                                  const gainmap_decode_options *opts, const char *path,
                                                  gainmap_file_format fmt, gainmap_image *header);
/* A contact sheet of what a gain-map file holds, for an ordinary (SDR)
 * screen: the SDR base, the gain map in false colour (log2 gain) with a
 * scale bar, a histogram of the gain, renderings at display headroom 1, 2,
 * 4 and 8 (all tone-mapped with one fixed hue-preserving curve, so more
 * headroom looks brighter without clipping) and the key metadata as text.
 * title (may be NULL) is printed at the top.  *sheet is allocated: U8 RGB,
 * sRGB, 1260 pixels wide.  NO_GAINMAP when the file has no usable map. */
GAINMAP_API gainmap_status gainmap_render_preview(gainmap_ctx *ctx, const gainmap_file *f, const char *title,
                                                  gainmap_image *sheet);

/* ------------------------------------------------------------------ */
/* Tone mapping, gamut mapping, LUTs, ICC                              */
/* ------------------------------------------------------------------ */
typedef enum gainmap_tonemapper {
    GAINMAP_TONEMAP_DEFAULT = 0,
    GAINMAP_TONEMAP_BT2390,
    GAINMAP_TONEMAP_BT2446A,
    GAINMAP_TONEMAP_REINHARD,
    GAINMAP_TONEMAP_FILMIC,
    GAINMAP_TONEMAP_CLIP
} gainmap_tonemapper;

typedef struct gainmap_lut gainmap_lut;

typedef struct gainmap_tonemap_options {
    gainmap_tonemapper method;
    double hdr_white_nits;          /* HDR reference white, default 203        */
    double peak_nits;               /* source peak; 0 = from content/metadata  */
    /* SDR base gamut: BT709, P3 or BT2020; default UNKNOWN = automatic
     * (gainmap_auto_base_primaries: the master's for BT.709 and P3; P3
     * for BT.2020, or BT2020 when it holds colours outside P3) */
    gainmap_primaries base_primaries;
    gainmap_transfer base_transfer;   /* SDR base encoding, default SRGB      */
    /* Optional .cube LUT (not owned) replacing the built-in tone mapper: the
     * HDR pixels are converted to lut_input_primaries (UNKNOWN = the HDR
     * image's), encoded with lut_input (default PQ; also HLG, LINEAR with
     * 1.0 = 203 cd/m2, SRGB), looked up, decoded with lut_output (default
     * GAMMA22; or SRGB, ...) in lut_output_primaries (UNKNOWN = base
     * primaries), then gamut-mapped into the base.  Default NULL. */
    const gainmap_lut *lut;
    gainmap_transfer lut_input;
    gainmap_transfer lut_output;
    gainmap_primaries lut_input_primaries;
    gainmap_primaries lut_output_primaries;
    /* Ordered (8x8) dithering of the 8-bit base, the same threshold for R, G
     * and B (greys stay grey); removes banding and the quantisation hue error
     * of low-chroma areas.  Default 1. */
    int dither;
} gainmap_tonemap_options;

GAINMAP_API void gainmap_tonemap_options_init(gainmap_tonemap_options *opts);
GAINMAP_API const char *gainmap_tonemapper_name(gainmap_tonemapper t);
GAINMAP_API gainmap_tonemapper gainmap_tonemapper_from_name(const char *name);
/* HDR master (any type/transfer/primaries) -> SDR base (U8 RGB in
 * opts->base_primaries / opts->base_transfer), hue preserving. */
GAINMAP_API gainmap_status gainmap_tonemap(gainmap_ctx *ctx, const gainmap_image *hdr,
                                           const gainmap_tonemap_options *opts, gainmap_image *sdr);
/* The base primaries the tone mapper picks when opts->base_primaries is
 * UNKNOWN: the master's own for BT.709 (sRGB) and Display P3 masters; for
 * a BT.2020 master Display P3, unless more than 1 % of its pixels
 * (brighter than 0.8 cd/m2) lie outside P3 by more than 1/64 of their
 * largest component; then BT.2020, so a gain map applied in the base's
 * primaries can restore those colours.  (A base wider than the master
 * costs precision: decoding converts the result back to the master's
 * primaries, amplifying the map's rounding; docs/encoding.md.) */
GAINMAP_API gainmap_status gainmap_auto_base_primaries(gainmap_ctx *ctx, const gainmap_image *hdr,
                                                       gainmap_primaries *out);

GAINMAP_API gainmap_status gainmap_lut_load(gainmap_ctx *ctx, const char *path, gainmap_lut **out);
GAINMAP_API gainmap_status gainmap_lut_parse(gainmap_ctx *ctx, const char *text, size_t size, gainmap_lut **out);
GAINMAP_API void gainmap_lut_free(gainmap_lut *lut);
/* Apply to one RGB triple in the LUT's input encoding (tetrahedral for 3D). */
GAINMAP_API void gainmap_lut_apply(const gainmap_lut *lut, const float in[3], float out[3]);

/* Built-in ICC profiles generated by our code (ICC v4.4, D65 primaries
 * adapted to D50, a cicp tag, reproducible bytes).  Names: "srgb", "p3"
 * (compact parametric sRGB curve, for SDR bases), "p3-pq", "bt2020-pq"
 * (sampled PQ curve, 10000 cd/m2 = PCS white), "p3-hlg", "bt2020-hlg"
 * (sampled HLG curve for a 1000 cd/m2 display), "HDR_P3_D65_ST2084" (= p3-pq
 * under that description) and "P3_PQ" (203 cd/m2 = PCS white with a soft
 * shoulder above; see docs/colour.md).  *out is freed with gainmap_free(). */
GAINMAP_API gainmap_status gainmap_icc_generate(gainmap_ctx *ctx, const char *name, uint8_t **out, size_t *size);
/* The index-th built-in profile name (NULL past the end); *description, when
 * description != NULL, gets the profile's 'desc' text.  Static strings. */
GAINMAP_API const char *gainmap_icc_profile_name(size_t index, const char **description);
/* Identify primaries and transfer from an ICC profile's contents: the cicp
 * tag when present, else the colorants (compared with BT.709, Display P3 and
 * BT.2020 adapted to D50) and the TRC shape (sRGB, gamma 2.2/2.4, BT.709,
 * linear, sampled PQ, sampled HLG), else the profile's transform; never its
 * name.  Returns GAINMAP_OK for any readable RGB or grey profile, with
 * UNKNOWN for what is not recognised; an error for unreadable bytes or
 * another colour space. */
GAINMAP_API gainmap_status gainmap_icc_identify(gainmap_ctx *ctx, const uint8_t *icc, size_t size,
                                                gainmap_primaries *primaries, gainmap_transfer *transfer);

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */
typedef enum gainmap_metadata_mode {
    GAINMAP_METADATA_BOTH = 0,   /* XMP hdrgm + ISO 21496-1 (UltraHDR v1.1) */
    GAINMAP_METADATA_XMP,
    GAINMAP_METADATA_ISO
} gainmap_metadata_mode;

typedef struct gainmap_encode_options {
    int quality;                 /* base JPEG quality, default 90            */
    int gainmap_quality;         /* gain-map JPEG quality, default 91        */
    int subsampling;             /* 444, 422 or 420; default 444             */
    int gainmap_channels;        /* 1 or 3; default 3                        */
    int gainmap_scale;           /* 1, 2 or 4 (per dimension); default 1     */
    /* map encoding gamma: NAN (the default) = chosen per picture with the
     * HDR offset among 1, 1.25, 1.5, 2 and 2.5 by a model of the PQ error
     * (docs/encoding.md); a number in (0, 16] = that value */
    double gamma;
    double offset;               /* k_sdr, default 1/256 (and k_hdr, below)   */
    double min_boost, max_boost; /* log2; NAN = from content                 */
    double target_headroom;      /* log2 alternate headroom; 0 = from content */
    gainmap_metadata_mode metadata;
    gainmap_tonemap_options tonemap;
    /* Ordered (8x8 Bayer) dithering of the map codes: 0 off, 1 on, -1 auto
     * (on when one code step exceeds 1/32 stop).  Default -1. */
    int dither;
    /* Gain-map JPEG quantisation tables: 0 flat (the default: one step for
     * every coefficient, 0.75 (100 - gainmap_quality) codes at quality >= 50;
     * the map is data, not a picture), 1 libjpeg's perceptual tables. */
    int gainmap_tables;
    /* 1: progressive base and map JPEGs (2-5 % smaller at the same quality,
     * but about 4x slower to decode); default 0 = sequential (baseline),
     * which every decoder reads fastest and in strips.  The "small" preset
     * turns it on. */
    int progressive;
    /* k_hdr, the offset added to the HDR rendition: NAN (the default) =
     * chosen per picture among 1/1024 .. 1/16384 (powers of two) by a model
     * of the PQ error it leaves (a small k_hdr keeps precision in deep
     * shadows but widens the gain range, coarsening every code); a number
     * in [0, 1] = that value. */
    double offset_hdr;
} gainmap_encode_options;

GAINMAP_API void gainmap_encode_options_init(gainmap_encode_options *opts);
/* Apply a named preset on top of opts (tone-map settings are kept):
 * "default" (what gainmap_encode_options_init sets: base q90, map q91,
 * 4:4:4, 3-channel full-size map, sequential) or "small" (base q75 4:2:0,
 * map q72, progressive: <= 1.6 bits per pixel at >= 40 dB on the bundled
 * sample).  GAINMAP_ERR_INVALID_ARG for another name. */
GAINMAP_API gainmap_status gainmap_encode_options_preset(gainmap_encode_options *opts, const char *name);
/* Compute an 8-bit gain map and its metadata from an SDR base and an HDR image. */
GAINMAP_API gainmap_status gainmap_compute(gainmap_ctx *ctx, const gainmap_image *sdr, const gainmap_image *hdr,
                                           const gainmap_encode_options *opts, gainmap_image *map,
                                           gainmap_metadata *meta);
/* HDR master -> UltraHDR JPEG in memory (free with gainmap_free).  sdr may be
 * NULL (tone-mapped from hdr). */
GAINMAP_API gainmap_status gainmap_encode_jpeg(gainmap_ctx *ctx, const gainmap_image *hdr, const gainmap_image *sdr,
                                               const gainmap_encode_options *opts, uint8_t **out, size_t *out_size);
/* As gainmap_encode_jpeg with a finished SDR base JPEG, which is kept byte
 * for byte (its own Exif/XMP/MPF/ISO segments are replaced; its ICC profile
 * gives the base primaries, none = sRGB).  The map is computed against it. */
GAINMAP_API gainmap_status gainmap_encode_jpeg_with_base(gainmap_ctx *ctx, const gainmap_image *hdr,
                                                         const uint8_t *base_jpeg, size_t base_size,
                                                         const gainmap_encode_options *opts, uint8_t **out,
                                                         size_t *out_size);
/* Rewrite a gain-map JPEG (XMP-only, ISO-only, v1.1 or Apple) as an
 * UltraHDR v1.1 file carrying `mode` metadata, copying both JPEG streams'
 * coded data byte for byte.  Apple maps are re-described in ISO terms
 * (min 0, max log2(headroom), gamma fitted to Apple's curve) - an
 * approximation, see docs/encoding.md.  *out is freed with gainmap_free. */
GAINMAP_API gainmap_status gainmap_remux_jpeg(gainmap_ctx *ctx, const gainmap_file *f, gainmap_metadata_mode mode,
                                              uint8_t **out, size_t *out_size);

/* HEIC outputs (HEVC through libheif/x265; our own HEIF container). */
typedef enum gainmap_heic_variant {
    /* Apple + ISO together, as current iPhones write them: an 8-bit Display
     * P3 base, ONE hidden monochrome gain map that is both Apple's auxiliary
     * image and the tmap's second input (Apple pixel encoding; the tmap's
     * ISO 21496-1 metadata is the fitted description of that map, min 0,
     * max log2 H, gamma fitted - as iPhone 16 does), Apple XMP and maker
     * notes.  The default. */
    GAINMAP_HEIC_BOTH = 0,
    /* Base + Apple auxiliary gain map (urn:com:apple:photo:2020:aux:
     * hdrgainmap, g = BT.709 OETF((HDR/SDR - 1)/(H - 1)) on luminance),
     * HDRGainMap XMP (version 131072, linear headroom) and EXIF maker-note
     * tags 33/48 that give H through Apple's formula. */
    GAINMAP_HEIC_APPLE,
    /* Base + ISO 21496-1 'tmap' item (payload in idat, dimg tmap -> base,
     * map; altr [tmap, base]; hidden map of opts->gainmap_channels; tmap
     * colour = the HDR alternate: nclx PQ, PQ ICC, clli, pixi 10). */
    GAINMAP_HEIC_ISO,
    /* 10-bit HEVC of the master as PQ Display P3 (converted when it is
     * something else; chroma opts->subsampling 444 or 420), nclx 12/16/9
     * full range, clli, and the ICC profile "HDR_P3_D65_ST2084"... */
    GAINMAP_HEIC_PQ_HDR_P3_D65_ST2084,
    /* ...or "P3_PQ" (see gainmap_icc_generate). */
    GAINMAP_HEIC_PQ_P3_PQ
} gainmap_heic_variant;

/* HDR master -> HEIC in memory (free with gainmap_free).  sdr may be NULL
 * (tone-mapped from hdr with opts->tonemap); it is ignored by the PQ
 * variants.  opts->quality / gainmap_quality are libheif's HEVC quality
 * (0..100) for the base / the map; subsampling 444 (default) or 420 for the
 * base; an EXIF orientation of the master is applied to the pixels. */
GAINMAP_API gainmap_status gainmap_encode_heic(gainmap_ctx *ctx, const gainmap_image *hdr, const gainmap_image *sdr,
                                               const gainmap_encode_options *opts, gainmap_heic_variant variant,
                                               uint8_t **out, size_t *out_size);
/* HEIC settings that JPEG has no use for (gainmap_encode_heic_ex). */
typedef enum gainmap_heic_speed {
    GAINMAP_HEIC_SPEED_FAST = 0,     /* x265 preset "ultrafast" (the default) */
    GAINMAP_HEIC_SPEED_MEDIUM = 1,   /* x265 preset "fast" (~6 % smaller, ~3x the time) */
    GAINMAP_HEIC_SPEED_SLOW = 2      /* x265 preset "slow" (libheif's own default) */
} gainmap_heic_speed;
typedef struct gainmap_heic_options {
    gainmap_heic_speed speed;   /* default GAINMAP_HEIC_SPEED_FAST; x265 tune is "psnr" */
    /* -1 automatic (default): a picture with more than 8,912,896 samples
     * or a side above 8192 (beyond HEVC level 5.1) is written as a 'grid'
     * item of hidden tile_size x tile_size HEVC tiles; 0 never; 1 always. */
    int grid;
    uint32_t tile_size;         /* 64..4096, a multiple of 64; default 512 (as Apple) */
    /* 1 (default): carry the master's EXIF (orientation set to 1, since it
     * is applied to the pixels; thumbnail dropped), merged with the Apple
     * maker note.  0: only the maker note (Apple variants) or nothing. */
    int keep_exif;
} gainmap_heic_options;
GAINMAP_API void gainmap_heic_options_init(gainmap_heic_options *o);
/* gainmap_encode_heic with HEIC settings; heic_opts NULL = the defaults. */
GAINMAP_API gainmap_status gainmap_encode_heic_ex(gainmap_ctx *ctx, const gainmap_image *hdr,
                                                  const gainmap_image *sdr, const gainmap_encode_options *opts,
                                                  const gainmap_heic_options *heic_opts,
                                                  gainmap_heic_variant variant, uint8_t **out, size_t *out_size);
/* "heic", "heic-apple", "heic-iso", "heic-pq" (= HDR_P3_D65_ST2084),
 * "heic-pq-p3" (= P3_PQ); from_name returns -1 when unknown. */
GAINMAP_API const char *gainmap_heic_variant_name(gainmap_heic_variant v);
GAINMAP_API int gainmap_heic_variant_from_name(const char *name);

/* Write bytes to path through a temporary file in the same folder and an
 * atomic rename; never leaves a partial file.  Refuses to replace an
 * existing file unless overwrite != 0. */
GAINMAP_API gainmap_status gainmap_write_file(gainmap_ctx *ctx, const char *path, const uint8_t *data, size_t size,
                                              int overwrite);
/* Read a whole file, within GAINMAP_OPT_MAX_FILE_BYTES. */
GAINMAP_API gainmap_status gainmap_read_file(gainmap_ctx *ctx, const char *path, uint8_t **data, size_t *size);

#ifdef __cplusplus
}
#endif
#endif /* GAINMAP_H */

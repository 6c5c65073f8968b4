/* image_io.c - HDR image files: format detection, read/write dispatch, the
 * colour conventions of each format and pixel conversion for the writers. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

gainmap_file_format gainmap_detect_format(const uint8_t *d, size_t n)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    if (!d)
        return GAINMAP_FORMAT_AUTO;
    if (n >= 8 && !memcmp(d, png_sig, 8))
        return GAINMAP_FORMAT_PNG;
    if (n >= 4 && (!memcmp(d, "II*\0", 4) || !memcmp(d, "MM\0*", 4) || !memcmp(d, "II+\0", 4) ||
                   !memcmp(d, "MM\0+", 4)))
        return GAINMAP_FORMAT_TIFF;
    if (n >= 4 && d[0] == 0x76 && d[1] == 0x2f && d[2] == 0x31 && d[3] == 0x01)
        return GAINMAP_FORMAT_EXR;
    if (n >= 6 && (!memcmp(d, "#?RADIANCE", GM_MIN(n, 10)) || !memcmp(d, "#?RGBE", 6)))
        return GAINMAP_FORMAT_RGBE;
    if (n >= 3 && d[0] == 'P' && (d[1] == 'F' || d[1] == 'f') && (d[2] == '\n' || d[2] == ' ' || d[2] == '\r'))
        return GAINMAP_FORMAT_PFM;
    if (n >= 3 && d[0] == 'P' && (d[1] == '5' || d[1] == '6') &&
        (d[2] == '\n' || d[2] == ' ' || d[2] == '\r' || d[2] == '\t'))
        return GAINMAP_FORMAT_PPM;
    if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
        return GAINMAP_FORMAT_JPEG;
    if (n >= 12 && !memcmp(d + 4, "ftyp", 4)) {
        static const char *const brands[] = {"heic", "heix", "hevc", "heim", "heis", "mif1", "msf1", "avif", "avis"};
        for (size_t i = 0; i < sizeof brands / sizeof brands[0]; i++)
            if (!memcmp(d + 8, brands[i], 4))
                return GAINMAP_FORMAT_HEIF;
    }
    return GAINMAP_FORMAT_AUTO;
}

gainmap_file_format gainmap_format_from_path(const char *path)
{
    static const struct {
        const char *ext;
        gainmap_file_format fmt;
    } table[] = {
        {"png", GAINMAP_FORMAT_PNG},   {"tif", GAINMAP_FORMAT_TIFF},  {"tiff", GAINMAP_FORMAT_TIFF},
        {"exr", GAINMAP_FORMAT_EXR},   {"hdr", GAINMAP_FORMAT_RGBE},  {"rgbe", GAINMAP_FORMAT_RGBE},
        {"pic", GAINMAP_FORMAT_RGBE},  {"pfm", GAINMAP_FORMAT_PFM},   {"ppm", GAINMAP_FORMAT_PPM},
        {"pgm", GAINMAP_FORMAT_PPM},   {"pnm", GAINMAP_FORMAT_PPM},   {"jpg", GAINMAP_FORMAT_JPEG},
        {"jpeg", GAINMAP_FORMAT_JPEG}, {"heic", GAINMAP_FORMAT_HEIF}, {"heif", GAINMAP_FORMAT_HEIF},
        {"hif", GAINMAP_FORMAT_HEIF},  {"avif", GAINMAP_FORMAT_HEIF},
    };
    if (!path)
        return GAINMAP_FORMAT_AUTO;
    char ext[8];
    gm_extension(path, ext, sizeof ext);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(ext, table[i].ext))
            return table[i].fmt;
    return GAINMAP_FORMAT_AUTO;
}

/* Ask the ICC module what a profile is without letting its failure become
 * the context's error: an unidentified profile is not a read failure. */
static void identify_icc(gainmap_ctx *ctx, const gainmap_image *img, gainmap_primaries *p, gainmap_transfer *t)
{
    *p = GAINMAP_PRIMARIES_UNKNOWN;
    *t = GAINMAP_TRANSFER_UNKNOWN;
    gainmap_status saved = GAINMAP_OK;
    char msg[sizeof ctx->error];
    if (ctx) {
        saved = ctx->first_status;
        memcpy(msg, ctx->error, sizeof msg);
    }
    if (gainmap_icc_identify(ctx, img->icc, img->icc_size, p, t) != GAINMAP_OK) {
        *p = GAINMAP_PRIMARIES_UNKNOWN;
        *t = GAINMAP_TRANSFER_UNKNOWN;
    }
    if (ctx) {
        ctx->first_status = saved;
        memcpy(ctx->error, msg, sizeof msg);
    }
}

/* Transfer and primaries: what the reader found (EXR chromaticities), then
 * cICP, then the ICC profile's contents, then the format's convention. */
static void resolve_colour(gainmap_ctx *ctx, gainmap_image *img)
{
    if (img->has_cicp) {
        if (img->primaries == GAINMAP_PRIMARIES_UNKNOWN)
            img->primaries = gainmap_primaries_from_cicp(img->cicp[0]);
        if (img->transfer == GAINMAP_TRANSFER_UNKNOWN)
            img->transfer = gainmap_transfer_from_cicp(img->cicp[1]);
    }
    if (img->icc && (img->primaries == GAINMAP_PRIMARIES_UNKNOWN || img->transfer == GAINMAP_TRANSFER_UNKNOWN)) {
        gainmap_primaries p;
        gainmap_transfer t;
        identify_icc(ctx, img, &p, &t);
        if (img->primaries == GAINMAP_PRIMARIES_UNKNOWN)
            img->primaries = p;
        if (img->transfer == GAINMAP_TRANSFER_UNKNOWN)
            img->transfer = t;
    }
    img->transfer = gm_image_transfer(img);
    if (img->primaries == GAINMAP_PRIMARIES_UNKNOWN)
        img->primaries = GAINMAP_PRIMARIES_BT709;
}

/* What every reader's image gets: the orientation (EXIF, i.e. PNG eXIf,
 * first; TIFF readers set it from the tag) and the colour. */
static gainmap_status finish_read(gainmap_ctx *ctx, gainmap_status st, gainmap_image *out)
{
    if (st != GAINMAP_OK) {
        gainmap_image_free(out);
        return st;
    }
    int o = out->exif ? gm_exif_orientation(out->exif, out->exif_size) : 0;
    if (o)
        out->orientation = o;
    else if (out->orientation < 1 || out->orientation > 8)
        out->orientation = 1;
    resolve_colour(ctx, out);
    return GAINMAP_OK;
}

gainmap_status gainmap_image_read_memory(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out)
{
    if (!out)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "image_read: NULL output image");
    memset(out, 0, sizeof *out);
    if (!data && size)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "image_read: NULL data");
    if (size == 0)
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "the file is empty");
    gainmap_status st;
    switch (gainmap_detect_format(data, size)) {
    case GAINMAP_FORMAT_PNG: st = gm_png_read(ctx, data, size, out); break;
    case GAINMAP_FORMAT_TIFF: st = gm_tiff_read(ctx, data, size, out); break;
    case GAINMAP_FORMAT_EXR: st = gm_exr_read(ctx, data, size, out); break;
    case GAINMAP_FORMAT_RGBE: st = gm_rgbe_read(ctx, data, size, out); break;
    case GAINMAP_FORMAT_PFM: st = gm_pfm_read(ctx, data, size, out); break;
    case GAINMAP_FORMAT_PPM: st = gm_pnm_read(ctx, data, size, out); break;
    case GAINMAP_FORMAT_JPEG:
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED,
                        "this is a JPEG; read JPEG photos with the gain-map commands (gainmap info, decode)");
    case GAINMAP_FORMAT_HEIF:
        /* the primary image when it is PQ or HLG, upright (heif_plain.c) */
        return gm_heif_image_read(ctx, data, size, out);
    default:
        return gm_error(ctx, GAINMAP_ERR_FORMAT,
                        "not a PNG, TIFF, OpenEXR, Radiance .hdr, PFM, PPM or HEIF/AVIF image "
                        "(unrecognised first bytes)");
    }
    return finish_read(ctx, st, out);
}

gainmap_status gainmap_image_read(gainmap_ctx *ctx, const char *path, gainmap_image *out)
{
    if (!out || !path)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "image_read: NULL argument");
    memset(out, 0, sizeof *out);
    int fd;
    uint64_t size;
    gainmap_status st = gm_open_input(ctx, path, &fd, &size);
    if (st != GAINMAP_OK)
        return st;
    /* A TIFF or PNG (large masters; TIFFs often uncompressed) is decoded
     * from the file into the image without a copy of the whole file. */
    uint8_t head[16];
    ssize_t n = pread(fd, head, sizeof head, 0);
    gainmap_file_format fmt = n > 0 ? gainmap_detect_format(head, (size_t)n) : GAINMAP_FORMAT_AUTO;
    if (fmt == GAINMAP_FORMAT_TIFF || fmt == GAINMAP_FORMAT_PNG) {
        st = fmt == GAINMAP_FORMAT_TIFF ? gm_tiff_read_fd(ctx, fd, size, out) : gm_png_read_fd(ctx, fd, size, out);
        close(fd);
        return finish_read(ctx, st, out);
    }
    uint8_t *data;
    st = gm_read_fd(ctx, fd, (size_t)size, &data);
    close(fd);
    if (st != GAINMAP_OK)
        return st;
    st = gainmap_image_read_memory(ctx, data, (size_t)size, out);
    free(data);
    return st;
}

static const char *format_name(gainmap_file_format f)
{
    switch (f) {
    case GAINMAP_FORMAT_PNG: return "PNG";
    case GAINMAP_FORMAT_TIFF: return "TIFF";
    case GAINMAP_FORMAT_EXR: return "OpenEXR";
    case GAINMAP_FORMAT_RGBE: return "Radiance .hdr";
    case GAINMAP_FORMAT_PFM: return "PFM";
    case GAINMAP_FORMAT_PPM: return "PPM";
    case GAINMAP_FORMAT_JPEG: return "JPEG";
    case GAINMAP_FORMAT_HEIF: return "HEIF";
    case GAINMAP_FORMAT_AUTO: break;
    }
    return "unknown";
}

/* What both writers check first: a consistent image header (and, with
 * pixels, a stride that holds a row), and the format from the name when
 * *fmt is AUTO. */
static gainmap_status check_output(gainmap_ctx *ctx, const char *path, const gainmap_image *img, bool pixels,
                                   gainmap_file_format *fmt)
{
    if (img->width == 0 || img->height == 0 || (img->channels != 1 && img->channels != 3 && img->channels != 4) ||
        !gm_pixel_size(img->type) ||
        (pixels && img->stride < (size_t)img->width * img->channels * gm_pixel_size(img->type)))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "image_write: inconsistent image (%ux%u, %u channels)",
                        img->width, img->height, img->channels);
    if (*fmt == GAINMAP_FORMAT_AUTO) {
        *fmt = gainmap_format_from_path(path);
        if (*fmt == GAINMAP_FORMAT_AUTO)
            return gm_error(ctx, GAINMAP_ERR_INVALID_ARG,
                            "cannot tell the output format from the name %s: use .png, .tif, .exr, .pfm or .ppm",
                            gm_basename(path));
    }
    return GAINMAP_OK;
}

gainmap_status gainmap_image_write(gainmap_ctx *ctx, const char *path, const gainmap_image *img,
                                   gainmap_file_format fmt)
{
    if (!path || !img || !img->data)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "image_write: NULL argument");
    gainmap_status st = check_output(ctx, path, img, true, &fmt);
    if (st != GAINMAP_OK)
        return st;
    gainmap_status (*writer)(gainmap_ctx *, const char *, const gainmap_image *) = NULL;
    switch (fmt) {
    case GAINMAP_FORMAT_PNG: writer = gm_png_write; break;
    case GAINMAP_FORMAT_TIFF: writer = gm_tiff_write; break;
    case GAINMAP_FORMAT_EXR: writer = gm_exr_write; break;
    case GAINMAP_FORMAT_PFM: writer = gm_pfm_write; break;
    case GAINMAP_FORMAT_PPM: writer = gm_ppm_write; break;
    default: break;
    }
    if (!writer)
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED,
                        "writing %s images is not supported: use PNG, TIFF, OpenEXR, PFM or PPM", format_name(fmt));
    char *tmp;
    st = gm_temp_create(ctx, path, &tmp);
    if (st != GAINMAP_OK)
        return st;
    st = writer(ctx, tmp, img);
    if (st != GAINMAP_OK) {
        gm_temp_abort(tmp);
        return st;
    }
    return gm_temp_commit(ctx, tmp, path, 1);
}

gainmap_status gm_write_bytes(gainmap_ctx *ctx, const char *path, const uint8_t *data, size_t size,
                              const char *what)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        return gm_error(ctx, GAINMAP_ERR_IO, "%s: cannot open the output: %s", what, strerror(errno));
    int e = gm_write_all(fd, data, size, -1);
    if (e) {
        close(fd);
        return gm_error(ctx, GAINMAP_ERR_IO, "%s: cannot write the output: %s", what, strerror(e));
    }
    if (close(fd) != 0)
        return gm_error(ctx, GAINMAP_ERR_IO, "%s: cannot write the output: %s", what, strerror(errno));
    return GAINMAP_OK;
}

/* ---- half floats -------------------------------------------------------- */

uint16_t gm_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t exp = (x >> 23) & 0xffu, mant = x & 0x7fffffu;
    if (exp == 0xff)
        return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u | (mant >> 13) : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 0x1f)
        return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10)
            return sign;
        mant |= 0x800000u;
        unsigned shift = (unsigned)(14 - e);
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1u)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++; /* may carry into the exponent, up to infinity: correct rounding */
    return (uint16_t)(sign | h);
}

float gm_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, x;
    if (exp == 0) {
        if (!mant) {
            x = sign;
        } else {
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while (!(mant & 0x400u));
            x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 0x1f) {
        x = sign | 0x7f800000u | (mant << 13);
    } else {
        x = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* ---- pixel conversion for writers ---------------------------------------- */

static bool is_nonlinear(gainmap_transfer t)
{
    return t != GAINMAP_TRANSFER_LINEAR && t != GAINMAP_TRANSFER_UNKNOWN;
}

/* Signal -> linear light (1.0 = SDR white).  HLG colour goes through the
 * BT.2100 OOTF of a 1000 cd/m2 display, not the per-channel shortcut. */
static void to_linear_rgb(gainmap_transfer tf, double px[3])
{
    if (tf == GAINMAP_TRANSFER_HLG) {
        for (int c = 0; c < 3; c++)
            px[c] = gainmap_hlg_inverse_oetf(GM_CLAMP(px[c], 0.0, 1.0));
        gm_hlg_scene_to_linear(px);
        return;
    }
    for (int c = 0; c < 3; c++)
        px[c] = gainmap_to_linear(tf, px[c]);
}

gainmap_status gm_image_convert(gainmap_ctx *ctx, const gainmap_image *src, gainmap_pixel_type type,
                                uint32_t channels, gainmap_image *dst)
{
    memset(dst, 0, sizeof *dst);
    if (!channels)
        channels = src->channels;
    if (channels != src->channels && !(channels == 3 && src->channels == 4))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "cannot convert %u channels to %u", src->channels, channels);
    if (type == GAINMAP_PIXEL_U16 && src->type == GAINMAP_PIXEL_F32 && !is_nonlinear(src->transfer))
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED,
                        "linear floating-point pixels cannot be stored as 16-bit integers: encode them with a "
                        "transfer such as PQ or HLG first (recode --transfer pq)");
    if (type == GAINMAP_PIXEL_U8)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "conversion to 8 bits is not offered");
    gainmap_status st = gainmap_image_alloc(ctx, dst, src->width, src->height, channels, type);
    if (st != GAINMAP_OK)
        return st;
    dst->bit_depth = type == GAINMAP_PIXEL_U16 && src->type == GAINMAP_PIXEL_U16 ? src->bit_depth : dst->bit_depth;
    dst->transfer = src->transfer;
    dst->primaries = src->primaries;
    dst->has_cicp = src->has_cicp;
    memcpy(dst->cicp, src->cicp, 4);
    dst->orientation = src->orientation;
    dst->max_cll = src->max_cll;
    dst->max_fall = src->max_fall;
    if (gainmap_image_set_icc(dst, src->icc, src->icc_size) != GAINMAP_OK ||
        gainmap_image_set_exif(dst, src->exif, src->exif_size) != GAINMAP_OK) {
        gainmap_image_free(dst);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory copying metadata");
    }
    bool linearise = type == GAINMAP_PIXEL_F32 && is_nonlinear(src->transfer);
    if (type == GAINMAP_PIXEL_F32) {
        dst->transfer = GAINMAP_TRANSFER_LINEAR;
        dst->has_cicp = 0;
    }
    for (uint32_t y = 0; y < src->height; y++) {
        const uint8_t *srow = (const uint8_t *)src->data + (size_t)y * src->stride;
        uint8_t *drow = (uint8_t *)dst->data + (size_t)y * dst->stride;
        for (uint32_t x = 0; x < src->width; x++) {
            double px[4] = {0, 0, 0, 0};
            for (uint32_t c = 0; c < channels; c++)
                px[c] = gm_sample(src->type, srow, (size_t)x * src->channels + c);
            if (type == GAINMAP_PIXEL_U16) {
                uint16_t *d = (uint16_t *)(void *)drow + (size_t)x * channels;
                for (uint32_t c = 0; c < channels; c++) {
                    if (src->type == GAINMAP_PIXEL_U8)
                        d[c] = (uint16_t)(srow[(size_t)x * src->channels + c] * 257u);
                    else if (src->type == GAINMAP_PIXEL_U16)
                        memcpy(&d[c], srow + 2 * ((size_t)x * src->channels + c), 2);
                    else
                        d[c] = (uint16_t)lrint(GM_CLAMP(isnan(px[c]) ? 0.0 : px[c], 0.0, 1.0) * 65535.0);
                }
            } else {
                if (linearise) {
                    if (channels >= 3) {
                        to_linear_rgb(src->transfer, px);
                    } else {
                        double g[3] = {px[0], px[0], px[0]};
                        to_linear_rgb(src->transfer, g);
                        px[0] = g[0];
                    }
                }
                float *d = (float *)(void *)drow + (size_t)x * channels;
                for (uint32_t c = 0; c < channels; c++)
                    d[c] = (float)px[c];
            }
        }
    }
    return GAINMAP_OK;
}

/* ---- row-streaming writers ----------------------------------------------- */

gainmap_status gm_strip_convert(gainmap_ctx *ctx, const gainmap_image *strip, gainmap_pixel_type type,
                                uint32_t channels, gainmap_image *conv, const gainmap_image **rows)
{
    memset(conv, 0, sizeof *conv);
    bool same_ch = channels == 0 || channels == strip->channels;
    if (strip->type == type && same_ch && (type != GAINMAP_PIXEL_F32 || !is_nonlinear(strip->transfer))) {
        *rows = strip;
        return GAINMAP_OK;
    }
    gainmap_image view = *strip;
    view.icc = NULL;
    view.icc_size = 0;
    view.exif = NULL;
    view.exif_size = 0;
    *rows = conv;
    return gm_image_convert(ctx, &view, type, channels, conv);
}

gainmap_status gm_strip_check(gainmap_ctx *ctx, const gainmap_image *hdr, gainmap_pixel_type type,
                              uint32_t channels)
{
    size_t row = (size_t)hdr->width * hdr->channels * gm_pixel_size(hdr->type);
    uint8_t *zero = calloc(1, row ? row : 1);
    if (!zero)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing the image");
    gainmap_image strip = *hdr, conv;
    const gainmap_image *rows;
    strip.data = zero;
    strip.stride = row;
    strip.height = 1;
    gainmap_status st = gm_strip_convert(ctx, &strip, type, channels, &conv, &rows);
    gainmap_image_free(&conv);
    free(zero);
    return st;
}

gainmap_status gm_write_strips(gainmap_ctx *ctx, const gainmap_image *img, const gm_fmt_writer *w)
{
    enum { STRIP = 64 };
    gainmap_status st = GAINMAP_OK;
    for (uint32_t y0 = 0; st == GAINMAP_OK && y0 < img->height; y0 += STRIP) {
        gainmap_image strip = *img;
        strip.data = (uint8_t *)img->data + (size_t)y0 * img->stride;
        strip.height = GM_MIN((uint32_t)STRIP, img->height - y0);
        strip.icc = NULL;
        strip.icc_size = 0;
        strip.exif = NULL;
        strip.exif_size = 0;
        st = w->rows(ctx, w->state, &strip);
    }
    if (st != GAINMAP_OK) {
        w->abort(w->state);
        return st;
    }
    return w->finish(ctx, w->state);
}

/* OpenEXR: no row writer yet; the rows are collected and written at the end. */
typedef struct exr_buffered {
    char *path;
    gainmap_image img;
    uint32_t y;
} exr_buffered;

static void exr_buf_abort(void *state)
{
    exr_buffered *b = state;
    gainmap_image_free(&b->img);
    free(b->path);
    free(b);
}

static gainmap_status exr_buf_rows(gainmap_ctx *ctx, void *state, const gainmap_image *strip)
{
    (void)ctx;
    exr_buffered *b = state;
    size_t row = (size_t)strip->width * strip->channels * gm_pixel_size(strip->type);
    for (uint32_t i = 0; i < strip->height; i++)
        memcpy((uint8_t *)b->img.data + (size_t)(b->y + i) * b->img.stride,
               (const uint8_t *)strip->data + (size_t)i * strip->stride, row);
    b->y += strip->height;
    return GAINMAP_OK;
}

static gainmap_status exr_buf_finish(gainmap_ctx *ctx, void *state)
{
    exr_buffered *b = state;
    gainmap_status st = gm_exr_write(ctx, b->path, &b->img);
    exr_buf_abort(b);
    return st;
}

static gainmap_status exr_buffered_writer(gainmap_ctx *ctx, const char *path, const gainmap_image *hdr,
                                          gm_fmt_writer *w)
{
    exr_buffered *b = calloc(1, sizeof *b);
    if (!b || !(b->path = strdup(path))) {
        free(b);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing the image");
    }
    gainmap_status st = gainmap_image_alloc(ctx, &b->img, hdr->width, hdr->height, hdr->channels, hdr->type);
    if (st != GAINMAP_OK) {
        exr_buf_abort(b);
        return st;
    }
    void *data = b->img.data;
    size_t stride = b->img.stride;
    b->img = *hdr;   /* the caller's metadata (it outlives the writer) */
    b->img.data = data;
    b->img.stride = stride;
    b->img.icc = NULL;
    b->img.icc_size = 0;
    b->img.exif = NULL;
    b->img.exif_size = 0;
    if (gainmap_image_set_icc(&b->img, hdr->icc, hdr->icc_size) != GAINMAP_OK ||
        gainmap_image_set_exif(&b->img, hdr->exif, hdr->exif_size) != GAINMAP_OK) {
        exr_buf_abort(b);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory copying metadata");
    }
    w->state = b;
    w->rows = exr_buf_rows;
    w->finish = exr_buf_finish;
    w->abort = exr_buf_abort;
    return GAINMAP_OK;
}

struct gm_image_writer {
    gainmap_ctx *ctx;
    char *tmp;
    char *path;
    gm_fmt_writer w;
    gainmap_image hdr;
    uint32_t y;
};

gainmap_status gm_image_writer_open(gainmap_ctx *ctx, const char *path, gainmap_file_format fmt,
                                    const gainmap_image *hdr, gm_image_writer **out)
{
    *out = NULL;
    if (!path || !hdr)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "image_write: NULL argument");
    gainmap_status st = check_output(ctx, path, hdr, false, &fmt);
    if (st != GAINMAP_OK)
        return st;
    gainmap_status (*open_fn)(gainmap_ctx *, const char *, const gainmap_image *, gm_fmt_writer *) = NULL;
    switch (fmt) {
    case GAINMAP_FORMAT_PNG: open_fn = gm_png_writer; break;
    case GAINMAP_FORMAT_TIFF: open_fn = gm_tiff_writer; break;
    case GAINMAP_FORMAT_EXR: open_fn = exr_buffered_writer; break;
    case GAINMAP_FORMAT_PFM: open_fn = gm_pfm_writer; break;
    case GAINMAP_FORMAT_PPM: open_fn = gm_ppm_writer; break;
    default: break;
    }
    if (!open_fn)
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED,
                        "writing %s images is not supported: use PNG, TIFF, OpenEXR, PFM or PPM", format_name(fmt));
    gm_image_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing the image");
    }
    w->ctx = ctx;
    w->hdr = *hdr;
    w->hdr.data = NULL;
    st = gm_temp_create(ctx, path, &w->tmp);
    if (st == GAINMAP_OK) {
        st = open_fn(ctx, w->tmp, hdr, &w->w);
        if (st != GAINMAP_OK)
            gm_temp_abort(w->tmp);
    }
    if (st != GAINMAP_OK) {
        free(w->path);
        free(w);
        return st;
    }
    *out = w;
    return GAINMAP_OK;
}

gainmap_status gm_image_writer_write_rows(gm_image_writer *w, const void *rows, size_t stride, uint32_t n)
{
    if (n == 0)
        return GAINMAP_OK;
    if (n > w->hdr.height - w->y)
        return gm_error(w->ctx, GAINMAP_ERR_INVALID_ARG, "image_write: more rows than the image has");
    gainmap_image strip = w->hdr;
    strip.data = (void *)(uintptr_t)rows;
    strip.stride = stride;
    strip.height = n;
    strip.icc = NULL;
    strip.icc_size = 0;
    strip.exif = NULL;
    strip.exif_size = 0;
    gainmap_status st = w->w.rows(w->ctx, w->w.state, &strip);
    if (st == GAINMAP_OK)
        w->y += n;
    return st;
}

void gm_image_writer_abort(gm_image_writer *w)
{
    if (!w)
        return;
    w->w.abort(w->w.state);
    gm_temp_abort(w->tmp);
    free(w->path);
    free(w);
}

gainmap_status gm_image_writer_finish(gm_image_writer *w)
{
    if (w->y != w->hdr.height) {
        gainmap_status st = gm_error(w->ctx, GAINMAP_ERR_INVALID_ARG, "image_write: %u of %u rows given", w->y,
                                     w->hdr.height);
        gm_image_writer_abort(w);
        return st;
    }
    gainmap_status st = w->w.finish(w->ctx, w->w.state);
    if (st != GAINMAP_OK)
        gm_temp_abort(w->tmp);
    else
        st = gm_temp_commit(w->ctx, w->tmp, w->path, 1);
    free(w->path);
    free(w);
    return st;
}

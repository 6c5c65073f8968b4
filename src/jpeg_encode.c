/* jpeg_encode.c - 8-bit pixels to one JPEG stream through libjpeg-turbo's
 * classic API, with caller-supplied APPn segments right after SOI (or after
 * the JFIF APP0).  As in jpeg_decode.c the setjmp error exit stays here. */
#include "internal.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

typedef struct enc_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} enc_err;

/* Our own growable destination: libjpeg's jpeg_mem_dest leaks its buffer
 * when compression fails half way, this one is freed on every path. */
typedef struct enc_dest {
    struct jpeg_destination_mgr pub;
    uint8_t *buf;
    size_t cap;
    size_t len;      /* bytes finished in buf (set by term) */
    bool nomem;
} enc_dest;

typedef struct encode_state {
    struct jpeg_compress_struct cinfo;
    enc_err err;
    enc_dest dest;
} encode_state;

static void enc_error_exit(j_common_ptr cinfo)
{
    enc_err *e = (enc_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

static void enc_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void dest_init(j_compress_ptr cinfo)
{
    enc_dest *d = (enc_dest *)cinfo->dest;
    d->pub.next_output_byte = d->buf;
    d->pub.free_in_buffer = d->cap;
}

static boolean dest_empty(j_compress_ptr cinfo)
{
    enc_dest *d = (enc_dest *)cinfo->dest;
    /* libjpeg calls this only with the whole buffer full. */
    size_t used = d->cap;
    size_t ncap = d->cap * 2;
    uint8_t *nb = ncap > d->cap ? realloc(d->buf, ncap) : NULL;
    if (!nb) {
        d->nomem = true;
        ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 99);
    }
    d->buf = nb;
    d->cap = ncap;
    d->pub.next_output_byte = d->buf + used;
    d->pub.free_in_buffer = ncap - used;
    return TRUE;
}

static void dest_term(j_compress_ptr cinfo)
{
    enc_dest *d = (enc_dest *)cinfo->dest;
    d->len = d->cap - d->pub.free_in_buffer;
}

/* libjpeg's quality -> percentage of the basic table (jpeg_quality_scaling). */
static double quality_scale(int quality)
{
    return quality < 50 ? 5000.0 / quality : 200.0 - 2.0 * quality;
}

/* Flat tables for data nobody looks at (a gain map): one step for every
 * coefficient of every component, coding->flat percent-scaled by quality
 * as libjpeg scales its tables, rounded, 1..255 (baseline). */
static unsigned int scaled_step(double step, int quality)
{
    double q = floor(step * quality_scale(quality) / 100.0 + 0.5);
    return (unsigned int)GM_CLAMP(q, 1.0, 255.0);
}

static void flat_table(const gm_jpeg_coding *c, int quality, unsigned int t[DCTSIZE2])
{
    unsigned int ac = scaled_step(c->flat, quality);
    for (int i = 0; i < DCTSIZE2; i++)
        t[i] = ac;
    if (c->dc > 0)
        t[0] = GM_MIN(ac, scaled_step(c->dc, quality));
}

gainmap_status gm_jpeg_encode(gainmap_ctx *ctx, const gainmap_image *img, int quality, int subsampling,
                              int optimize, const gm_jpeg_extra *extra, uint8_t **out, size_t *size)
{
    return gm_jpeg_encode_coded(ctx, img, quality, subsampling, optimize, NULL, extra, out, size);
}

gainmap_status gm_jpeg_encode_coded(gainmap_ctx *ctx, const gainmap_image *img, int quality, int subsampling,
                                    int optimize, const gm_jpeg_coding *coding, const gm_jpeg_extra *extra,
                                    uint8_t **out, size_t *size)
{
    if (!out || !size)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "jpeg_encode: NULL output");
    *out = NULL;
    *size = 0;
    if (!img || !img->data)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "jpeg_encode: no image");
    if (img->type != GAINMAP_PIXEL_U8 || (img->channels != 1 && img->channels != 3 && img->channels != 4))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG,
                        "jpeg_encode: needs 8-bit grey, RGB or RGBA pixels (got %u channels of type %d)",
                        img->channels, (int)img->type);
    if (quality < 1 || quality > 100)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "JPEG quality must be 1 to 100, not %d", quality);
    if (subsampling != 444 && subsampling != 422 && subsampling != 420)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "JPEG subsampling must be 444, 422 or 420, not %d",
                        subsampling);
    if (coding && coding->tables == GM_JPEG_TABLES_FLAT &&
        (!(coding->flat > 0 && coding->flat <= 255) || !(coding->dc >= 0 && coding->dc <= 255)))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "jpeg_encode: a flat table's step must be in (0, 255], not %g",
                        coding->flat);
    if (img->width > JPEG_MAX_DIMENSION || img->height > JPEG_MAX_DIMENSION)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "%ux%u is larger than JPEG's %d-pixel limit", img->width,
                        img->height, (int)JPEG_MAX_DIMENSION);
    gainmap_status st = gm_check_dims(ctx, img->width, img->height, img->channels, "image to encode");
    if (st != GAINMAP_OK)
        return st;
    if (img->stride < (size_t)img->width * img->channels)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "jpeg_encode: stride %zu shorter than a row",
                        img->stride);
    if (extra) {
        for (size_t i = 0; i < extra->count; i++) {
            const gm_jpeg_app *sg = &extra->segments[i];
            if (!((sg->marker >= 0xE0 && sg->marker <= 0xEF) || sg->marker == 0xFE) || sg->size > 65533 ||
                (sg->size && !sg->data))
                return gm_error(ctx, GAINMAP_ERR_INVALID_ARG,
                                "jpeg_encode: segment %zu (marker 0x%02X, %zu bytes) cannot be written", i,
                                sg->marker, sg->size);
        }
    }

    encode_state *s = calloc(1, sizeof *s);
    if (!s)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory encoding a JPEG");
    /* A first guess at the size saves most reallocations. */
    size_t pixels = (size_t)img->width * img->height * img->channels;
    s->dest.cap = GM_MAX((size_t)65536, pixels / 4);
    s->dest.buf = malloc(s->dest.cap);
    if (!s->dest.buf) {
        free(s);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory encoding a JPEG");
    }
    s->cinfo.err = jpeg_std_error(&s->err.pub);
    s->err.pub.error_exit = enc_error_exit;
    s->err.pub.output_message = enc_output_message;
    if (setjmp(s->err.jump)) {
        if (s->dest.nomem)
            st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory encoding a JPEG");
        else
            st = gm_error(ctx, GAINMAP_ERR_CODEC, "JPEG encoding failed: %s", s->err.message);
        goto done;
    }
    jpeg_create_compress(&s->cinfo);
    s->dest.pub.init_destination = dest_init;
    s->dest.pub.empty_output_buffer = dest_empty;
    s->dest.pub.term_destination = dest_term;
    s->cinfo.dest = &s->dest.pub;

    s->cinfo.image_width = img->width;
    s->cinfo.image_height = img->height;
    s->cinfo.input_components = (int)img->channels;
    s->cinfo.in_color_space = img->channels == 1 ? JCS_GRAYSCALE : img->channels == 3 ? JCS_RGB : JCS_EXT_RGBX;
    jpeg_set_defaults(&s->cinfo);
    bool rgb = coding && coding->rgb && img->channels != 1;
    if (rgb)
        jpeg_set_colorspace(&s->cinfo, JCS_RGB);   /* Adobe APP14, transform 0 */
    if (coding && coding->tables == GM_JPEG_TABLES_FLAT) {
        /* One table for all components: YCbCr from RGB is close to
         * orthogonal in error gain (a unit of error in Y, Cb, Cr comes back
         * as 3, 3.26, 2.48 units squared over R, G, B). */
        unsigned int t[DCTSIZE2];
        flat_table(coding, quality, t);
        jpeg_add_quant_table(&s->cinfo, 0, t, 100, TRUE);
        for (int c = 0; c < s->cinfo.num_components; c++)
            s->cinfo.comp_info[c].quant_tbl_no = 0;
    } else {
        jpeg_set_quality(&s->cinfo, quality, TRUE);
    }
    s->cinfo.optimize_coding = optimize ? TRUE : FALSE;
    s->cinfo.dct_method = JDCT_ISLOW;
    /* JFIF promises YCbCr or grey. */
    s->cinfo.write_JFIF_header = (!rgb && (!extra || extra->jfif)) ? TRUE : FALSE;
    if (img->channels != 1) {
        /* The first component (luma) keeps full resolution. */
        s->cinfo.comp_info[0].h_samp_factor = subsampling == 444 || rgb ? 1 : 2;
        s->cinfo.comp_info[0].v_samp_factor = subsampling == 420 && !rgb ? 2 : 1;
        for (int c = 1; c < 3; c++) {
            s->cinfo.comp_info[c].h_samp_factor = 1;
            s->cinfo.comp_info[c].v_samp_factor = 1;
        }
    }
    if (coding && coding->progressive)
        jpeg_simple_progression(&s->cinfo);
    jpeg_start_compress(&s->cinfo, TRUE);
    if (extra) {
        for (size_t i = 0; i < extra->count; i++)
            jpeg_write_marker(&s->cinfo, extra->segments[i].marker, extra->segments[i].data,
                              (unsigned int)extra->segments[i].size);
        if (extra->icc && extra->icc_size)
            jpeg_write_icc_profile(&s->cinfo, extra->icc, (unsigned int)extra->icc_size);
    }
    while (s->cinfo.next_scanline < s->cinfo.image_height) {
        JSAMPROW rows[32];
        JDIMENSION y = s->cinfo.next_scanline;
        JDIMENSION n = GM_MIN(32u, s->cinfo.image_height - y);
        for (JDIMENSION i = 0; i < n; i++)
            rows[i] = (JSAMPROW)((const uint8_t *)img->data + (size_t)(y + i) * img->stride);
        jpeg_write_scanlines(&s->cinfo, rows, n);
    }
    jpeg_finish_compress(&s->cinfo);
    *out = s->dest.buf;
    *size = s->dest.len;
    s->dest.buf = NULL;

done:
    jpeg_destroy_compress(&s->cinfo);
    free(s->dest.buf);
    free(s);
    return st;
}

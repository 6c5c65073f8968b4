/* jpeg_decode.c - one JPEG stream to 8-bit pixels through libjpeg-turbo's
 * classic API.  libjpeg reports fatal errors by calling error_exit, which
 * must not return; ours longjmps back here, so the setjmp never leaves this
 * file and libjpeg's messages become gm_error sentences (nothing printed). */
#include "internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

/* More scans than any real progressive JPEG has; a crafted file with
 * thousands of tiny scans would otherwise make decoding very slow. */
#define GM_JPEG_MAX_SCANS 1000

typedef struct gm_jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    gainmap_status status;
    char message[JMSG_LENGTH_MAX];
} gm_jpeg_err;

typedef struct gm_jpeg_progress {
    struct jpeg_progress_mgr pub;
    gm_jpeg_err *err;
} gm_jpeg_progress;

static void on_error_exit(j_common_ptr cinfo)
{
    gm_jpeg_err *e = (gm_jpeg_err *)cinfo->err;
    if (e->status == GAINMAP_OK) {
        e->status = GAINMAP_ERR_CODEC;
        (*cinfo->err->format_message)(cinfo, e->message);
    }
    longjmp(e->jump, 1);
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* Warnings (level -1) are ignored, except that libjpeg's "premature end of
 * JPEG file" -- where it would pad the picture with grey -- is a truncation. */
static void on_emit_message(j_common_ptr cinfo, int level)
{
    gm_jpeg_err *e = (gm_jpeg_err *)cinfo->err;
    if (level < 0) {
        cinfo->err->num_warnings++;
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
            e->status = GAINMAP_ERR_TRUNCATED;
            snprintf(e->message, sizeof e->message, "the JPEG data ends before the image is complete");
            longjmp(e->jump, 1);
        }
    }
}

static void on_progress(j_common_ptr cinfo)
{
    gm_jpeg_progress *p = (gm_jpeg_progress *)cinfo->progress;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (cinfo->is_decompressor && d->input_scan_number > GM_JPEG_MAX_SCANS) {
        p->err->status = GAINMAP_ERR_LIMIT;
        snprintf(p->err->message, sizeof p->err->message, "the JPEG has more than %d scans",
                 GM_JPEG_MAX_SCANS);
        longjmp(p->err->jump, 1);
    }
}

/* State that must survive the longjmp lives here, not in locals. */
typedef struct decode_state {
    struct jpeg_decompress_struct cinfo;
    gm_jpeg_err err;
    gm_jpeg_progress progress;
    gainmap_image img;
    JOCTET *icc;
    unsigned int icc_len;
} decode_state;

gainmap_status gainmap_jpeg_decode(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out)
{
    if (!out)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "jpeg_decode: NULL output image");
    memset(out, 0, sizeof *out);
    if (!data || size == 0)
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "the JPEG stream is empty");
    if (size < 4 || data[0] != 0xFF || data[1] != 0xD8)
        return gm_error(ctx, GAINMAP_ERR_FORMAT, "the data does not start with a JPEG SOI marker");
    if ((uint64_t)size > (uint64_t)(unsigned long)-1)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "the JPEG stream is too large");

    decode_state *s = calloc(1, sizeof *s);
    if (!s)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory decoding a JPEG");
    gainmap_status st = GAINMAP_OK;
    s->cinfo.err = jpeg_std_error(&s->err.pub);
    s->err.pub.error_exit = on_error_exit;
    s->err.pub.output_message = on_output_message;
    s->err.pub.emit_message = on_emit_message;
    s->err.status = GAINMAP_OK;

    if (setjmp(s->err.jump)) {
        st = s->err.status;
        if (st == GAINMAP_ERR_CODEC)
            gm_error(ctx, st, "JPEG decoding failed: %s", s->err.message);
        else
            gm_error(ctx, st, "%s", s->err.message);
        goto done;
    }
    jpeg_create_decompress(&s->cinfo);
    s->progress.pub.progress_monitor = on_progress;
    s->progress.err = &s->err;
    s->cinfo.progress = &s->progress.pub;
    jpeg_mem_src(&s->cinfo, data, (unsigned long)size);
    jpeg_save_markers(&s->cinfo, JPEG_APP0 + 2, 0xFFFF);
    jpeg_read_header(&s->cinfo, TRUE);

    uint32_t channels;
    switch (s->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        s->cinfo.out_color_space = JCS_GRAYSCALE;
        channels = 1;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        s->cinfo.out_color_space = JCS_RGB;
        channels = 3;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "CMYK JPEGs are not supported");
        goto done;
    default:
        st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "JPEG with %d components in an unknown colour space",
                      s->cinfo.num_components);
        goto done;
    }
    /* Limits from the header, before libjpeg allocates its buffers. */
    st = gm_check_dims(ctx, s->cinfo.image_width, s->cinfo.image_height, channels, "JPEG image");
    if (st != GAINMAP_OK)
        goto done;

    if (jpeg_read_icc_profile(&s->cinfo, &s->icc, &s->icc_len) && s->icc) {
        if (gm_check_meta_size(ctx, s->icc_len, "the JPEG's ICC profile") != GAINMAP_OK) {
            st = GAINMAP_ERR_LIMIT;
            goto done;
        }
    }

    s->cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&s->cinfo);
    if (s->cinfo.output_components != (int)channels) {
        st = gm_error(ctx, GAINMAP_ERR_CODEC, "JPEG decoder gave %d components, expected %u",
                      s->cinfo.output_components, channels);
        goto done;
    }
    st = gainmap_image_alloc(ctx, &s->img, s->cinfo.output_width, s->cinfo.output_height, channels,
                             GAINMAP_PIXEL_U8);
    if (st != GAINMAP_OK)
        goto done;
    while (s->cinfo.output_scanline < s->cinfo.output_height) {
        JSAMPROW rows[16];
        JDIMENSION y = s->cinfo.output_scanline;
        JDIMENSION n = GM_MIN(16u, s->cinfo.output_height - y);
        for (JDIMENSION i = 0; i < n; i++)
            rows[i] = (JSAMPROW)((uint8_t *)s->img.data + (size_t)(y + i) * s->img.stride);
        if (jpeg_read_scanlines(&s->cinfo, rows, n) == 0) {
            st = gm_error(ctx, GAINMAP_ERR_TRUNCATED, "the JPEG data ends before the image is complete");
            goto done;
        }
    }
    jpeg_finish_decompress(&s->cinfo);

    s->img.transfer = GAINMAP_TRANSFER_SRGB;
    s->img.primaries = GAINMAP_PRIMARIES_BT709;
    s->img.bit_depth = 8;
    if (s->icc) {
        st = gainmap_image_set_icc(&s->img, s->icc, s->icc_len);
        if (st != GAINMAP_OK) {
            st = gm_error(ctx, st, "out of memory copying the JPEG's ICC profile");
            goto done;
        }
    }
    *out = s->img;
    memset(&s->img, 0, sizeof s->img);

done:
    jpeg_destroy_decompress(&s->cinfo);
    free(s->icc);
    gainmap_image_free(&s->img);
    free(s);
    return st;
}

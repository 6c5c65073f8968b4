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
struct gm_jpeg_reader {
    struct jpeg_decompress_struct cinfo;
    gm_jpeg_err err;
    gm_jpeg_progress progress;
    gainmap_ctx *ctx;
    int created;
    JOCTET *icc;
    unsigned int icc_len;
    uint32_t channels;
};

/* The error recorded by the longjmp target, as a gm_error sentence. */
static gainmap_status reader_fail(gm_jpeg_reader *r)
{
    gainmap_status st = r->err.status;
    if (st == GAINMAP_ERR_CODEC)
        gm_error(r->ctx, st, "JPEG decoding failed: %s", r->err.message);
    else
        gm_error(r->ctx, st, "%s", r->err.message);
    return st;
}

void gm_jpeg_reader_close(gm_jpeg_reader *r)
{
    if (!r)
        return;
    if (r->created)
        jpeg_destroy_decompress(&r->cinfo);
    free(r->icc);
    free(r);
}

gainmap_status gm_jpeg_reader_open(gainmap_ctx *ctx, const uint8_t *data, size_t size, gm_jpeg_reader **out,
                                   gainmap_image *header)
{
    *out = NULL;
    memset(header, 0, sizeof *header);
    if (!data || size == 0)
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "the JPEG stream is empty");
    if (size < 4 || data[0] != 0xFF || data[1] != 0xD8)
        return gm_error(ctx, GAINMAP_ERR_FORMAT, "the data does not start with a JPEG SOI marker");
    if ((uint64_t)size > (uint64_t)(unsigned long)-1)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "the JPEG stream is too large");

    gm_jpeg_reader *s = calloc(1, sizeof *s);
    if (!s)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory decoding a JPEG");
    gainmap_status st = GAINMAP_OK;
    s->ctx = ctx;
    s->cinfo.err = jpeg_std_error(&s->err.pub);
    s->err.pub.error_exit = on_error_exit;
    s->err.pub.output_message = on_output_message;
    s->err.pub.emit_message = on_emit_message;
    s->err.status = GAINMAP_OK;

    if (setjmp(s->err.jump)) {
        st = reader_fail(s);
        goto fail;
    }
    jpeg_create_decompress(&s->cinfo);
    s->created = 1;
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
        goto fail;
    default:
        st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "JPEG with %d components in an unknown colour space",
                      s->cinfo.num_components);
        goto fail;
    }
    /* Limits from the header, before libjpeg allocates its buffers. */
    st = gm_check_dims(ctx, s->cinfo.image_width, s->cinfo.image_height, channels, "JPEG image");
    if (st != GAINMAP_OK)
        goto fail;

    if (jpeg_read_icc_profile(&s->cinfo, &s->icc, &s->icc_len) && s->icc) {
        if (gm_check_meta_size(ctx, s->icc_len, "the JPEG's ICC profile") != GAINMAP_OK) {
            st = GAINMAP_ERR_LIMIT;
            goto fail;
        }
    }

    s->cinfo.dct_method = JDCT_ISLOW;
    s->channels = channels;
    header->width = s->cinfo.image_width;
    header->height = s->cinfo.image_height;
    header->channels = channels;
    header->type = GAINMAP_PIXEL_U8;
    header->stride = (size_t)header->width * channels;
    header->transfer = GAINMAP_TRANSFER_SRGB;
    header->primaries = GAINMAP_PRIMARIES_BT709;
    header->bit_depth = 8;
    *out = s;
    return GAINMAP_OK;

fail:
    gm_jpeg_reader_close(s);
    return st;
}

gainmap_status gm_jpeg_reader_start(gm_jpeg_reader *r)
{
    gm_jpeg_reader *volatile s = r;
    if (setjmp(s->err.jump))
        return reader_fail(s);
    jpeg_start_decompress(&s->cinfo);
    if (s->cinfo.output_components != (int)s->channels || s->cinfo.output_width != s->cinfo.image_width ||
        s->cinfo.output_height != s->cinfo.image_height)
        return gm_error(s->ctx, GAINMAP_ERR_CODEC, "JPEG decoder gave %d components, expected %u",
                        s->cinfo.output_components, s->channels);
    return GAINMAP_OK;
}

int gm_jpeg_reader_multiscan(const gm_jpeg_reader *r) { return jpeg_has_multiple_scans((j_decompress_ptr)&r->cinfo) ? 1 : 0; }

void gm_jpeg_reader_icc(const gm_jpeg_reader *r, const uint8_t **icc, size_t *size)
{
    *icc = r->icc;
    *size = r->icc ? r->icc_len : 0;
}

/* n rows into dst; false when the data ends first.  (Its locals are not in
 * the setjmp caller's frame, so the longjmp cannot clobber them.) */
static bool read_rows(gm_jpeg_reader *s, void *dst, size_t stride, uint32_t n)
{
    uint32_t done = 0;
    while (done < n) {
        JSAMPROW rows[16];
        JDIMENSION k = GM_MIN(16u, n - done);
        for (JDIMENSION i = 0; i < k; i++)
            rows[i] = (JSAMPROW)((uint8_t *)dst + (size_t)(done + i) * stride);
        JDIMENSION got = jpeg_read_scanlines(&s->cinfo, rows, k);
        if (got == 0)
            return false;
        done += got;
    }
    return true;
}

gainmap_status gm_jpeg_reader_rows(gm_jpeg_reader *r, void *dst, size_t stride, uint32_t n)
{
    gm_jpeg_reader *volatile s = r;
    if (setjmp(s->err.jump))
        return reader_fail(s);
    if (n > s->cinfo.output_height - s->cinfo.output_scanline)
        return gm_error(s->ctx, GAINMAP_ERR_INVALID_ARG, "JPEG: more rows asked for than the image has");
    if (!read_rows(s, dst, stride, n))
        return gm_error(s->ctx, GAINMAP_ERR_TRUNCATED, "the JPEG data ends before the image is complete");
    return GAINMAP_OK;
}

gainmap_status gm_jpeg_reader_finish(gm_jpeg_reader *r)
{
    gm_jpeg_reader *volatile s = r;
    if (setjmp(s->err.jump))
        return reader_fail(s);
    jpeg_finish_decompress(&s->cinfo);
    return GAINMAP_OK;
}

/* An opened reader's whole picture into img's pixels (its size). */
static gainmap_status read_all(gm_jpeg_reader *r, gainmap_image *img)
{
    gainmap_status st = gm_jpeg_reader_start(r);
    if (st == GAINMAP_OK)
        st = gm_jpeg_reader_rows(r, img->data, img->stride, img->height);
    if (st == GAINMAP_OK)
        st = gm_jpeg_reader_finish(r);
    return st;
}

gainmap_status gm_jpeg_decode_into(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *img)
{
    gm_jpeg_reader *r;
    gainmap_image head;
    gainmap_status st = gm_jpeg_reader_open(ctx, data, size, &r, &head);
    if (st != GAINMAP_OK)
        return st;
    if (head.width != img->width || head.height != img->height || head.channels != img->channels ||
        img->type != GAINMAP_PIXEL_U8)
        st = gm_error(ctx, GAINMAP_ERR_STATE, "the JPEG decodes to %ux%u with %u channels, not %ux%u with %u",
                      head.width, head.height, head.channels, img->width, img->height, img->channels);
    if (st == GAINMAP_OK)
        st = read_all(r, img);
    gm_jpeg_reader_close(r);
    return st;
}

gainmap_status gainmap_jpeg_decode(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out)
{
    if (!out)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "jpeg_decode: NULL output image");
    memset(out, 0, sizeof *out);
    gm_jpeg_reader *r;
    gainmap_image hdr, img;
    memset(&img, 0, sizeof img);
    gainmap_status st = gm_jpeg_reader_open(ctx, data, size, &r, &hdr);
    if (st != GAINMAP_OK)
        return st;
    st = gainmap_image_alloc(ctx, &img, hdr.width, hdr.height, hdr.channels, GAINMAP_PIXEL_U8);
    if (st == GAINMAP_OK)
        st = read_all(r, &img);
    if (st == GAINMAP_OK) {
        img.transfer = GAINMAP_TRANSFER_SRGB;
        img.primaries = GAINMAP_PRIMARIES_BT709;
        img.bit_depth = 8;
        if (r->icc && gainmap_image_set_icc(&img, r->icc, r->icc_len) != GAINMAP_OK)
            st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory copying the JPEG's ICC profile");
    }
    gm_jpeg_reader_close(r);
    if (st != GAINMAP_OK) {
        gainmap_image_free(&img);
        return st;
    }
    *out = img;
    return GAINMAP_OK;
}

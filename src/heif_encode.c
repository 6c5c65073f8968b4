/* heif_encode.c - one picture -> HEVC with libheif (x265) used as a codec.
 *
 * libheif 1.15 cannot write the items a gain-map HEIC needs (auxiliary
 * images, tmap, altr, hidden items), so it only compresses: the picture is
 * converted to Y'CbCr here (our matrix, full range, our rounding), libheif
 * writes a one-image HEIF into memory, and gm_heif_parse takes the hvcC,
 * ispe, clap and coded bytes back out of it for heif_write.c. */
#include "internal.h"

#include <libheif/heif.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* H.273 Kr, Kb of the matrices we code with. */
static bool matrix_weights(int mc, double *kr, double *kb)
{
    switch (mc) {
    case 1: *kr = 0.2126; *kb = 0.0722; return true;
    case 5:
    case 6: *kr = 0.299; *kb = 0.114; return true;
    case 9: *kr = 0.2627; *kb = 0.0593; return true;
    default: return false;
    }
}

static struct heif_error write_cb(struct heif_context *hc, const void *data, size_t size, void *user)
{
    (void)hc;
    gm_buf *b = user;
    gm_buf_put(b, data, size);
    struct heif_error e = {b->bad ? heif_error_Memory_allocation_error : heif_error_Ok, heif_suberror_Unspecified,
                           b->bad ? "out of memory" : "ok"};
    return e;
}

static gainmap_status codec_fail(gainmap_ctx *ctx, struct heif_error err, const char *what)
{
    return gm_error(ctx, GAINMAP_ERR_CODEC, "libheif could not %s: %s", what,
                    err.message ? err.message : "unknown error");
}

void gm_hevc_picture_free(gm_hevc_picture *p)
{
    if (!p)
        return;
    free(p->hvcc);
    free(p->ispe);
    free(p->clap);
    free(p->data);
    free(p->heif);
    memset(p, 0, sizeof *p);
}

static uint8_t *dup_bytes(const uint8_t *src, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, src, n);
    return d;
}

/* Take hvcC, ispe, clap and the coded bytes of libheif's primary item. */
static gainmap_status take_parts(gainmap_ctx *ctx, gm_hevc_picture *p)
{
    gm_heif *h = NULL;
    gainmap_status st = gm_heif_parse(ctx, p->heif, p->heif_size, &h);
    if (st != GAINMAP_OK)
        return st;
    const gm_heif_item *it = gm_heif_item_by_id(h, h->primary_id);
    if (!it || it->type != GM_4CC('h', 'v', 'c', '1')) {
        gm_heif_free(h);
        return gm_error(ctx, GAINMAP_ERR_CODEC, "libheif wrote a primary item that is not a coded HEVC image");
    }
    const gm_heif_prop *hvcc = gm_heif_item_prop(h, it, GM_4CC('h', 'v', 'c', 'C'), 0);
    const gm_heif_prop *ispe = gm_heif_item_prop(h, it, GM_4CC('i', 's', 'p', 'e'), 0);
    const gm_heif_prop *clap = gm_heif_item_prop(h, it, GM_4CC('c', 'l', 'a', 'p'), 0);
    if (!hvcc || !ispe || !ispe->ok) {
        gm_heif_free(h);
        return gm_error(ctx, GAINMAP_ERR_CODEC, "libheif wrote an HEVC item without hvcC or ispe");
    }
    p->hvcc = dup_bytes(hvcc->box, hvcc->box_size);
    p->hvcc_size = hvcc->box_size;
    p->ispe = dup_bytes(ispe->box, ispe->box_size);
    p->ispe_size = ispe->box_size;
    p->coded_width = ispe->width;
    p->coded_height = ispe->height;
    if (clap) {
        p->clap = dup_bytes(clap->box, clap->box_size);
        p->clap_size = clap->box_size;
    }
    st = gm_heif_item_data(ctx, h, it, h->size, &p->data, &p->data_size);
    gm_heif_free(h);
    if (st == GAINMAP_OK && (!p->hvcc || !p->ispe || (clap && !p->clap)))
        st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory copying the HEVC configuration");
    return st;
}

/* Fill libheif's planes from img: Y'CbCr (full or limited range) with the
 * settings' matrix, 4:2:0 chroma as the mean of each 2x2 block. */
static void fill_planes(struct heif_image *hi, const gainmap_image *img, const gm_hevc_settings *s, bool mono)
{
    const int bits = s->bit_depth;
    const double maxv = (double)((1 << bits) - 1), half = (double)(1 << (bits - 1));
    const bool full = s->cicp[3] != 0;
    /* limited range: Y 16..235, C 16..240 scaled to the bit depth (H.273) */
    const double ys = full ? maxv : 219.0 * (1 << (bits - 8)), yo = full ? 0.0 : 16.0 * (1 << (bits - 8));
    const double cs = full ? maxv : 224.0 * (1 << (bits - 8));
    double kr = 0.299, kb = 0.114;
    matrix_weights(s->cicp[2], &kr, &kb);
    const double kg = 1.0 - kr - kb;
    const double in_scale = img->type == GAINMAP_PIXEL_U8 ? 1.0 / 255.0 : 1.0 / 65535.0;
    const uint32_t w = img->width, h = img->height, nc = img->channels;
    int ystride = 0, bstride = 0, rstride = 0;
    uint8_t *yp = heif_image_get_plane(hi, heif_channel_Y, &ystride);
    uint8_t *bp = mono ? NULL : heif_image_get_plane(hi, heif_channel_Cb, &bstride);
    uint8_t *rp = mono ? NULL : heif_image_get_plane(hi, heif_channel_Cr, &rstride);
    const bool sub = s->chroma == 420;
    const uint32_t cw = sub ? (w + 1) / 2 : w;
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *row = (const uint8_t *)img->data + (size_t)y * img->stride;
        for (uint32_t x = 0; x < w; x++) {
            double rgb[3];
            for (int c = 0; c < 3; c++) {
                size_t i = (size_t)x * nc + (nc == 1 ? 0 : (size_t)c);
                rgb[c] = (img->type == GAINMAP_PIXEL_U8 ? row[i] : ((const uint16_t *)(const void *)row)[i]) * in_scale;
            }
            double Y = mono ? rgb[0] : kr * rgb[0] + kg * rgb[1] + kb * rgb[2];
            double yc = GM_CLAMP(floor(Y * ys + yo + 0.5), 0.0, maxv);
            if (bits > 8)
                ((uint16_t *)(void *)(yp + (size_t)y * (size_t)ystride))[x] = (uint16_t)yc;
            else
                yp[(size_t)y * (size_t)ystride + x] = (uint8_t)yc;
            if (mono)
                continue;
            double cb = (rgb[2] - Y) / (2.0 * (1.0 - kb)), cr = (rgb[0] - Y) / (2.0 * (1.0 - kr));
            if (sub) {
                /* accumulate in a double pass below */
                continue;
            }
            double bc = GM_CLAMP(floor(cb * cs + half + 0.5), 0.0, maxv);
            double rc = GM_CLAMP(floor(cr * cs + half + 0.5), 0.0, maxv);
            if (bits > 8) {
                ((uint16_t *)(void *)(bp + (size_t)y * (size_t)bstride))[x] = (uint16_t)bc;
                ((uint16_t *)(void *)(rp + (size_t)y * (size_t)rstride))[x] = (uint16_t)rc;
            } else {
                bp[(size_t)y * (size_t)bstride + x] = (uint8_t)bc;
                rp[(size_t)y * (size_t)rstride + x] = (uint8_t)rc;
            }
        }
    }
    if (mono || !sub)
        return;
    const uint32_t ch = (h + 1) / 2;
    for (uint32_t cy = 0; cy < ch; cy++)
        for (uint32_t cx = 0; cx < cw; cx++) {
            double sb = 0, sr = 0;
            int n = 0;
            for (uint32_t y = 2 * cy; y < GM_MIN(h, 2 * cy + 2); y++) {
                const uint8_t *row = (const uint8_t *)img->data + (size_t)y * img->stride;
                for (uint32_t x = 2 * cx; x < GM_MIN(w, 2 * cx + 2); x++) {
                    double rgb[3];
                    for (int c = 0; c < 3; c++) {
                        size_t i = (size_t)x * nc + (size_t)c;
                        rgb[c] = (img->type == GAINMAP_PIXEL_U8 ? row[i]
                                                               : ((const uint16_t *)(const void *)row)[i]) *
                                 in_scale;
                    }
                    double Y = kr * rgb[0] + kg * rgb[1] + kb * rgb[2];
                    sb += (rgb[2] - Y) / (2.0 * (1.0 - kb));
                    sr += (rgb[0] - Y) / (2.0 * (1.0 - kr));
                    n++;
                }
            }
            double bc = GM_CLAMP(floor(sb / n * cs + half + 0.5), 0.0, maxv);
            double rc = GM_CLAMP(floor(sr / n * cs + half + 0.5), 0.0, maxv);
            if (bits > 8) {
                ((uint16_t *)(void *)(bp + (size_t)cy * (size_t)bstride))[cx] = (uint16_t)bc;
                ((uint16_t *)(void *)(rp + (size_t)cy * (size_t)rstride))[cx] = (uint16_t)rc;
            } else {
                bp[(size_t)cy * (size_t)bstride + cx] = (uint8_t)bc;
                rp[(size_t)cy * (size_t)rstride + cx] = (uint8_t)rc;
            }
        }
}

gainmap_status gm_hevc_encode(gainmap_ctx *ctx, const gainmap_image *img, const gm_hevc_settings *s,
                              gm_hevc_picture *out)
{
    memset(out, 0, sizeof *out);
    if (!img || !img->data || !s)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HEVC encode: missing image or settings");
    if (s->bit_depth != 8 && s->bit_depth != 10)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HEVC bit depth must be 8 or 10, not %d", s->bit_depth);
    if (s->chroma != 444 && s->chroma != 420 && s->chroma != 400)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HEVC chroma format must be 444, 420 or 400, not %d", s->chroma);
    if (s->quality < 0 || s->quality > 100)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HEVC quality %d is outside 0..100", s->quality);
    const bool mono = s->chroma == 400;
    double kr, kb;
    if (!mono && !matrix_weights(s->cicp[2], &kr, &kb))
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "HEVC encode: matrix coefficients %u are not supported",
                        s->cicp[2]);
    if (img->type != GAINMAP_PIXEL_U8 && img->type != GAINMAP_PIXEL_U16)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HEVC encode: pixels must be 8 or 16-bit integers");
    if ((mono && img->channels != 1) || (!mono && img->channels != 3))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HEVC encode: %u channels do not fit chroma format %d",
                        img->channels, s->chroma);
    if (img->width > 16384 || img->height > 16384)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "HEVC encode: %ux%u is larger than one coded picture may be here",
                        img->width, img->height);
    gainmap_status st = gm_check_dims(ctx, img->width, img->height, 6, "HEVC picture");
    if (st != GAINMAP_OK)
        return st;

    const int w = (int)img->width, h = (int)img->height;
    struct heif_context *hc = heif_context_alloc();
    struct heif_image *hi = NULL;
    struct heif_encoder *enc = NULL;
    struct heif_encoding_options *eo = NULL;
    struct heif_color_profile_nclx *nclx = heif_nclx_color_profile_alloc();
    gm_buf b;
    gm_buf_init(&b);
    struct heif_error err;
    if (!hc || !nclx) {
        st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory starting libheif");
        goto done;
    }
    err = heif_image_create(w, h, mono ? heif_colorspace_monochrome : heif_colorspace_YCbCr,
                            mono ? heif_chroma_monochrome : s->chroma == 420 ? heif_chroma_420 : heif_chroma_444, &hi);
    if (err.code != heif_error_Ok) {
        st = codec_fail(ctx, err, "create an image");
        goto done;
    }
    int cw = s->chroma == 420 ? (w + 1) / 2 : w, ch = s->chroma == 420 ? (h + 1) / 2 : h;
    err = heif_image_add_plane(hi, heif_channel_Y, w, h, s->bit_depth);
    if (err.code == heif_error_Ok && !mono)
        err = heif_image_add_plane(hi, heif_channel_Cb, cw, ch, s->bit_depth);
    if (err.code == heif_error_Ok && !mono)
        err = heif_image_add_plane(hi, heif_channel_Cr, cw, ch, s->bit_depth);
    if (err.code != heif_error_Ok) {
        st = codec_fail(ctx, err, "add an image plane");
        goto done;
    }
    fill_planes(hi, img, s, mono);
    nclx->color_primaries = (enum heif_color_primaries)s->cicp[0];
    nclx->transfer_characteristics = (enum heif_transfer_characteristics)s->cicp[1];
    nclx->matrix_coefficients = (enum heif_matrix_coefficients)s->cicp[2];
    nclx->full_range_flag = s->cicp[3];
    err = heif_image_set_nclx_color_profile(hi, nclx);
    if (err.code != heif_error_Ok) {
        st = codec_fail(ctx, err, "tag the image");
        goto done;
    }
    err = heif_context_get_encoder_for_format(hc, heif_compression_HEVC, &enc);
    if (err.code != heif_error_Ok) {
        st = codec_fail(ctx, err, "find an HEVC encoder");
        goto done;
    }
    err = heif_encoder_set_lossy_quality(enc, s->quality);
    if (err.code == heif_error_Ok && !mono)
        err = heif_encoder_set_parameter_string(enc, "chroma", s->chroma == 420 ? "420" : "444");
    /* libheif 1.15's x265 plugin: preset ultrafast..placebo (its default
     * slow), tune psnr/ssim/grain/fastdecode (default ssim) */
    if (err.code == heif_error_Ok && s->preset)
        err = heif_encoder_set_parameter_string(enc, "preset", s->preset);
    if (err.code == heif_error_Ok && s->tune)
        err = heif_encoder_set_parameter_string(enc, "tune", s->tune);
    /* x265 would start a worker pool of every processor for each picture;
     * our own pool already runs the tiles in parallel within the context's
     * thread budget, so each x265 instance stays on its caller's thread. */
    if (err.code == heif_error_Ok)
        err = heif_encoder_set_parameter_string(enc, "x265:pools", "none");
    if (err.code != heif_error_Ok) {
        st = codec_fail(ctx, err, "configure x265");
        goto done;
    }
    eo = heif_encoding_options_alloc();
    if (!eo) {
        st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory starting libheif");
        goto done;
    }
    /* one coded item (no grid wrapper), with the image's own nclx */
    eo->macOS_compatibility_workaround = 0;
    eo->macOS_compatibility_workaround_no_nclx_profile = 0;
    eo->output_nclx_profile = nclx;
    err = heif_context_encode_image(hc, hi, enc, eo, NULL);
    if (err.code != heif_error_Ok) {
        st = codec_fail(ctx, err, "encode HEVC");
        goto done;
    }
    struct heif_writer writer = {1, write_cb};
    err = heif_context_write(hc, &writer, &b);
    if (err.code != heif_error_Ok || b.bad) {
        st = b.bad ? gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory collecting libheif's output")
                   : codec_fail(ctx, err, "write the HEIF");
        goto done;
    }
    out->heif = gm_buf_take(&b, &out->heif_size);
    if (!out->heif) {
        st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory collecting libheif's output");
        goto done;
    }
    out->width = img->width;
    out->height = img->height;
    out->bit_depth = (uint8_t)s->bit_depth;
    out->channels = mono ? 1 : 3;
    st = take_parts(ctx, out);
done:
    if (st != GAINMAP_OK)
        gm_hevc_picture_free(out);
    gm_buf_free(&b);
    if (eo)
        heif_encoding_options_free(eo);
    if (enc)
        heif_encoder_release(enc);
    if (hi)
        heif_image_release(hi);
    if (nclx)
        heif_nclx_color_profile_free(nclx);
    if (hc)
        heif_context_free(hc);
    return st;
}

gainmap_status gm_hevc_decode(gainmap_ctx *ctx, const gm_hevc_picture *p, gainmap_image *out)
{
    memset(out, 0, sizeof *out);
    gm_heif *h = NULL;
    gainmap_status st = gm_heif_parse(ctx, p->heif, p->heif_size, &h);
    if (st != GAINMAP_OK)
        return st;
    st = gm_heif_decode_item(ctx, h, h->primary_id, 0, out);
    gm_heif_free(h);
    return st;
}

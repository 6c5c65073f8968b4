/* exr_io.c - OpenEXR reader (half/float/uint R,G,B[,A] or Y; scanline and
 * single-level tiled parts; the first part) and half-float writer (ZIP),
 * through OpenEXR 3.1's C API (openexr.h).  The chromaticities attribute
 * becomes primaries when it matches BT.709, Display P3 or BT.2020. */
#include "internal.h"

#include <math.h>
#include <openexr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct exr_state {
    const uint8_t *data;
    uint64_t size;
    char msg[200];
} exr_state;

static void on_error(exr_const_context_t c, exr_result_t code, const char *msg)
{
    void *ud = NULL;
    exr_get_user_data(c, &ud);
    exr_state *s = ud;
    if (s && !s->msg[0])
        snprintf(s->msg, sizeof s->msg, "%s", msg ? msg : exr_get_default_error_message(code));
}

static int64_t mem_read(exr_const_context_t c, void *ud, void *buf, uint64_t sz, uint64_t off,
                        exr_stream_error_func_ptr_t err)
{
    (void)c;
    (void)err;
    exr_state *s = ud;
    if (off >= s->size)
        return 0;
    uint64_t n = GM_MIN(sz, s->size - off);
    memcpy(buf, s->data + off, (size_t)n);
    return (int64_t)n;
}

static int64_t mem_size(exr_const_context_t c, void *ud)
{
    (void)c;
    return (int64_t)((exr_state *)ud)->size;
}

static gainmap_status fail(gainmap_ctx *ctx, gainmap_status st, const exr_state *s, exr_result_t rv,
                           const char *what)
{
    const char *m = s->msg[0] ? s->msg : exr_get_default_error_message(rv);
    return gm_error(ctx, st, "OpenEXR: %s: %s", what, m);
}

static gainmap_primaries match_primaries(const exr_attr_chromaticities_t *ch)
{
    static const gainmap_primaries cand[] = {GAINMAP_PRIMARIES_BT709, GAINMAP_PRIMARIES_P3, GAINMAP_PRIMARIES_BT2020};
    const float got[8] = {ch->red_x, ch->red_y, ch->green_x, ch->green_y, ch->blue_x, ch->blue_y, ch->white_x, ch->white_y};
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
        double xy[8];
        if (gainmap_primaries_xy(cand[i], xy) != 0)
            continue;
        bool ok = true;
        for (int k = 0; k < 8; k++)
            ok = ok && fabs(got[k] - xy[k]) < 0.002;
        if (ok)
            return cand[i];
    }
    return GAINMAP_PRIMARIES_UNKNOWN;
}

/* Decode one chunk into the image (F32).  map: image channel -> decoder
 * channel.  Channels are decoded planar into tmp (ci->width * ci->height
 * floats each) and interleaved here: OpenEXR 3.1's interleaved 4-channel
 * fast paths assume their own channel order. */
static exr_result_t decode_chunk(exr_const_context_t c, const exr_chunk_info_t *ci, exr_decode_pipeline_t *dec,
                                 int *stage, const int map[4], uint32_t nch, gainmap_image *img, int64_t ox,
                                 int64_t oy, float *tmp)
{
    /* stage: 0 = no pipeline, 1 = initialised, 2 = routines chosen */
    exr_result_t rv = *stage ? exr_decoding_update(c, 0, ci, dec) : exr_decoding_initialize(c, 0, ci, dec);
    if (rv != EXR_ERR_SUCCESS)
        return rv;
    if (!*stage)
        *stage = 1;
    if (ox < 0 || oy < 0 || ci->width < 1 || ci->height < 1 || ox + ci->width > (int64_t)img->width ||
        oy + ci->height > (int64_t)img->height)
        return EXR_ERR_CORRUPT_CHUNK;
    size_t plane = (size_t)ci->width * (size_t)ci->height;
    for (int16_t i = 0; i < dec->channel_count; i++)
        dec->channels[i].decode_to_ptr = NULL;
    for (uint32_t k = 0; k < nch; k++) {
        exr_coding_channel_info_t *ch = &dec->channels[map[k]];
        if (ch->x_samples != 1 || ch->y_samples != 1)
            return EXR_ERR_FEATURE_NOT_IMPLEMENTED;
        ch->decode_to_ptr = (uint8_t *)(tmp + k * plane);
        ch->user_pixel_stride = 4;
        ch->user_line_stride = ci->width * 4;
        ch->user_bytes_per_element = 4;
        ch->user_data_type = EXR_PIXEL_FLOAT;
    }
    if (*stage == 1) {
        rv = exr_decoding_choose_default_routines(c, 0, dec);
        if (rv != EXR_ERR_SUCCESS)
            return rv;
        *stage = 2;
    }
    rv = exr_decoding_run(c, 0, dec);
    if (rv != EXR_ERR_SUCCESS)
        return rv;
    for (int32_t y = 0; y < ci->height; y++) {
        float *d = (float *)(void *)((uint8_t *)img->data + (size_t)(oy + y) * img->stride) + (size_t)ox * nch;
        for (int32_t x = 0; x < ci->width; x++)
            for (uint32_t k = 0; k < nch; k++)
                d[(size_t)x * nch + k] = tmp[k * plane + (size_t)y * ci->width + x];
    }
    return EXR_ERR_SUCCESS;
}

gainmap_status gm_exr_read(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out)
{
    exr_state s;
    memset(&s, 0, sizeof s);
    s.data = data;
    s.size = size;
    exr_context_initializer_t init = EXR_DEFAULT_CONTEXT_INITIALIZER;
    init.error_handler_fn = on_error;
    init.user_data = &s;
    init.read_fn = mem_read;
    init.size_fn = mem_size;
    int64_t maxdim = ctx ? ctx->max_dimension : 65535;
    init.max_image_width = init.max_image_height = (int)GM_MIN(maxdim, (int64_t)1 << 30);
    init.max_tile_width = init.max_tile_height = 65536;
    exr_context_t c = NULL;
    exr_result_t rv = exr_start_read(&c, "image", &init);
    if (rv != EXR_ERR_SUCCESS) {
        gainmap_status st = rv == EXR_ERR_FILE_BAD_HEADER && size < 64 ? GAINMAP_ERR_TRUNCATED
                            : rv == EXR_ERR_OUT_OF_MEMORY                 ? GAINMAP_ERR_NOMEM
                                                                          : GAINMAP_ERR_CORRUPT;
        if (s.msg[0] && strstr(s.msg, "larger than max"))
            st = GAINMAP_ERR_LIMIT;
        exr_finish(&c);
        return fail(ctx, st, &s, rv, "cannot read the header");
    }
    gainmap_status st = GAINMAP_OK;
    exr_decode_pipeline_t dec = EXR_DECODE_PIPELINE_INITIALIZER;
    int stage = 0;
    float *tmp = NULL;
    exr_attr_box2i_t dw;
    exr_storage_t storage;
    const exr_attr_chlist_t *chl = NULL;
    if ((rv = exr_get_data_window(c, 0, &dw)) != EXR_ERR_SUCCESS || (rv = exr_get_storage(c, 0, &storage)) ||
        (rv = exr_get_channels(c, 0, &chl)) != EXR_ERR_SUCCESS || !chl) {
        st = fail(ctx, GAINMAP_ERR_CORRUPT, &s, rv, "bad header");
        goto done;
    }
    int64_t w64 = (int64_t)dw.max.x - dw.min.x + 1, h64 = (int64_t)dw.max.y - dw.min.y + 1;
    if (w64 <= 0 || h64 <= 0) {
        st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "OpenEXR: empty data window");
        goto done;
    }
    if ((st = gm_check_dims(ctx, (uint64_t)w64, (uint64_t)h64, 16, "OpenEXR image")) != GAINMAP_OK)
        goto done;
    if (storage != EXR_STORAGE_SCANLINE && storage != EXR_STORAGE_TILED) {
        st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "OpenEXR: deep images are not supported");
        goto done;
    }
    /* Channel indices in the sorted list: R, G, B, A or Y. */
    int idx[5] = {-1, -1, -1, -1, -1};
    static const char *const names[5] = {"R", "G", "B", "A", "Y"};
    for (int i = 0; i < chl->num_channels; i++)
        for (int k = 0; k < 5; k++)
            if (!strcmp(chl->entries[i].name.str, names[k]))
                idx[k] = i;
    int map[4];
    uint32_t nch;
    if (idx[0] >= 0 && idx[1] >= 0 && idx[2] >= 0) {
        nch = idx[3] >= 0 ? 4 : 3;
        for (uint32_t k = 0; k < nch; k++)
            map[k] = idx[k];
    } else if (idx[4] >= 0) {
        nch = 1;
        map[0] = idx[4];
    } else {
        st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "OpenEXR: no R, G, B or Y channels (first is '%s')",
                      chl->num_channels ? chl->entries[0].name.str : "none");
        goto done;
    }
    st = gainmap_image_alloc(ctx, out, (uint32_t)w64, (uint32_t)h64, nch, GAINMAP_PIXEL_F32);
    if (st != GAINMAP_OK)
        goto done;
    /* Planar scratch for one chunk: at most max(scanlines per chunk, tile) rows. */
    int32_t lines = 1, tw = 0, th = 0, lx = 0, ly = 0;
    if (storage == EXR_STORAGE_SCANLINE)
        rv = exr_get_scanlines_per_chunk(c, 0, &lines);
    else if ((rv = exr_get_tile_levels(c, 0, &lx, &ly)) == EXR_ERR_SUCCESS)
        rv = exr_get_tile_sizes(c, 0, 0, 0, &tw, &th);
    if (rv != EXR_ERR_SUCCESS || lines < 1 || (storage != EXR_STORAGE_SCANLINE && (tw < 1 || th < 1))) {
        st = fail(ctx, GAINMAP_ERR_CORRUPT, &s, rv, "bad chunk layout");
        goto done;
    }
    uint64_t cw = storage == EXR_STORAGE_SCANLINE ? (uint64_t)w64 : (uint64_t)tw;
    uint64_t chh = storage == EXR_STORAGE_SCANLINE ? (uint64_t)lines : (uint64_t)th;
    if ((st = gm_check_dims(ctx, cw, chh, 4ull * nch, "OpenEXR chunk")) != GAINMAP_OK)
        goto done;
    tmp = gm_malloc(ctx, (size_t)(cw * chh * 4 * nch));
    if (!tmp) {
        st = GAINMAP_ERR_NOMEM;
        goto done;
    }
    if (storage == EXR_STORAGE_SCANLINE) {
        for (int64_t y = dw.min.y; y <= dw.max.y; y += lines) {
            exr_chunk_info_t ci;
            rv = exr_read_scanline_chunk_info(c, 0, (int)y, &ci);
            if (rv == EXR_ERR_SUCCESS)
                rv = decode_chunk(c, &ci, &dec, &stage, map, nch, out, (int64_t)ci.start_x - dw.min.x,
                                  (int64_t)ci.start_y - dw.min.y, tmp);
            if (rv != EXR_ERR_SUCCESS) {
                st = fail(ctx, rv == EXR_ERR_FEATURE_NOT_IMPLEMENTED ? GAINMAP_ERR_UNSUPPORTED : GAINMAP_ERR_CORRUPT,
                          &s, rv, "cannot decode the pixels");
                goto done;
            }
        }
    } else {
        for (int64_t ty = 0; ty * th < h64; ty++) {
            for (int64_t tx = 0; tx * tw < w64; tx++) {
                exr_chunk_info_t ci;
                rv = exr_read_tile_chunk_info(c, 0, (int)tx, (int)ty, 0, 0, &ci);
                /* a tile chunk's start_x/start_y are tile indices, not pixels */
                if (rv == EXR_ERR_SUCCESS)
                    rv = decode_chunk(c, &ci, &dec, &stage, map, nch, out, tx * tw, ty * th, tmp);
                if (rv != EXR_ERR_SUCCESS) {
                    st = fail(ctx, GAINMAP_ERR_CORRUPT, &s, rv, "cannot decode a tile");
                    goto done;
                }
            }
        }
    }
    exr_attr_chromaticities_t chroma;
    if (exr_attr_get_chromaticities(c, 0, "chromaticities", &chroma) == EXR_ERR_SUCCESS)
        out->primaries = match_primaries(&chroma);
    out->bit_depth = 32;
    for (uint32_t k = 0; k < nch; k++)
        if (chl->entries[map[k]].pixel_type == EXR_PIXEL_HALF)
            out->bit_depth = 16;
    out->transfer = GAINMAP_TRANSFER_LINEAR;
done:
    if (stage)
        exr_decoding_destroy(c, &dec);
    exr_finish(&c);
    free(tmp);
    if (st != GAINMAP_OK)
        gainmap_image_free(out);
    return st;
}

gainmap_status gm_exr_write(gainmap_ctx *ctx, const char *path, const gainmap_image *img)
{
    gainmap_image f;
    gainmap_status st = gm_image_convert(ctx, img, GAINMAP_PIXEL_F32, 0, &f);
    if (st != GAINMAP_OK)
        return st;
    uint32_t nch = f.channels;
    size_t count = (size_t)f.width * f.height * nch;
    uint16_t *half = gm_malloc(ctx, count * 2);
    if (!half) {
        gainmap_image_free(&f);
        return GAINMAP_ERR_NOMEM;
    }
    for (uint32_t y = 0; y < f.height; y++) {
        const float *src = (const float *)(const void *)((const uint8_t *)f.data + (size_t)y * f.stride);
        for (uint32_t x = 0; x < f.width; x++)
            for (uint32_t k = 0; k < nch; k++)
                half[(size_t)k * f.width * f.height + (size_t)y * f.width + x] = gm_float_to_half(src[(size_t)x * nch + k]);
    }
    exr_state s;
    memset(&s, 0, sizeof s);
    exr_context_initializer_t init = EXR_DEFAULT_CONTEXT_INITIALIZER;
    init.error_handler_fn = on_error;
    init.user_data = &s;
    exr_context_t c = NULL;
    exr_encode_pipeline_t enc = EXR_ENCODE_PIPELINE_INITIALIZER;
    int stage = 0; /* as in decode_chunk */
    int part = 0;
    exr_result_t rv = exr_start_write(&c, path, EXR_WRITE_FILE_DIRECTLY, &init);
    static const char *const rgba[4] = {"R", "G", "B", "A"};
    if (rv == EXR_ERR_SUCCESS)
        rv = exr_add_part(c, "image", EXR_STORAGE_SCANLINE, &part);
    if (rv == EXR_ERR_SUCCESS)
        rv = exr_initialize_required_attr_simple(c, part, (int32_t)f.width, (int32_t)f.height, EXR_COMPRESSION_ZIP);
    for (uint32_t k = 0; rv == EXR_ERR_SUCCESS && k < nch; k++)
        rv = exr_add_channel(c, part, nch == 1 ? "Y" : rgba[k], EXR_PIXEL_HALF, EXR_PERCEPTUALLY_LOGARITHMIC, 1, 1);
    double xy[8];
    if (rv == EXR_ERR_SUCCESS && f.primaries != GAINMAP_PRIMARIES_UNKNOWN && gainmap_primaries_xy(f.primaries, xy) == 0) {
        exr_attr_chromaticities_t ch = {(float)xy[0], (float)xy[1], (float)xy[2], (float)xy[3],
                                        (float)xy[4], (float)xy[5], (float)xy[6], (float)xy[7]};
        rv = exr_attr_set_chromaticities(c, part, "chromaticities", &ch);
    }
    if (rv == EXR_ERR_SUCCESS)
        rv = exr_write_header(c);
    int32_t lines = 1;
    if (rv == EXR_ERR_SUCCESS)
        rv = exr_get_scanlines_per_chunk(c, part, &lines);
    for (int32_t y = 0; rv == EXR_ERR_SUCCESS && (uint32_t)y < f.height; y += lines) {
        exr_chunk_info_t ci;
        rv = exr_write_scanline_chunk_info(c, part, y, &ci);
        if (rv != EXR_ERR_SUCCESS)
            break;
        rv = stage ? exr_encoding_update(c, part, &ci, &enc) : exr_encoding_initialize(c, part, &ci, &enc);
        if (rv != EXR_ERR_SUCCESS)
            break;
        if (!stage)
            stage = 1;
        for (int16_t i = 0; i < enc.channel_count; i++) {
            exr_coding_channel_info_t *ch = &enc.channels[i];
            uint32_t k = 0;
            while (k < nch && strcmp(ch->channel_name, nch == 1 ? "Y" : rgba[k]))
                k++;
            if (k == nch) {
                rv = EXR_ERR_INVALID_ARGUMENT;
                break;
            }
            /* Planar rows per channel: OpenEXR 3.1's interleaved 4-channel
             * fast path assumes its own channel order. */
            ch->encode_from_ptr = (const uint8_t *)(half + (size_t)k * f.width * f.height + (size_t)y * f.width);
            ch->user_pixel_stride = 2;
            ch->user_line_stride = (int32_t)(f.width * 2);
            ch->user_bytes_per_element = 2;
            ch->user_data_type = EXR_PIXEL_HALF;
        }
        if (rv == EXR_ERR_SUCCESS && stage == 1) {
            rv = exr_encoding_choose_default_routines(c, part, &enc);
            stage = 2;
        }
        if (rv == EXR_ERR_SUCCESS)
            rv = exr_encoding_run(c, part, &enc);
    }
    if (stage)
        exr_encoding_destroy(c, &enc);
    exr_result_t fr = c ? exr_finish(&c) : EXR_ERR_SUCCESS;
    if (rv == EXR_ERR_SUCCESS)
        rv = fr;
    free(half);
    gainmap_image_free(&f);
    if (rv != EXR_ERR_SUCCESS)
        return fail(ctx, GAINMAP_ERR_IO, &s, rv, "cannot write");
    return GAINMAP_OK;
}

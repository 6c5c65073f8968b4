/* heif_decode.c - decode one HEIF image item with libheif as a codec only.
 *
 * libheif 1.15 cannot hand out every item we need: hidden items are not
 * top-level images, tmap inputs are invisible to it, and it refuses whole
 * files it does not like (the iPhone 16 HEIC: "Too many auxiliary image
 * references").  So the item (and for a grid its tiles) is copied with its
 * properties into a small single-image HEIF built with our box writer, and
 * libheif decodes that file's primary image. */
#include "internal.h"

#include <libheif/heif.h>
#include <stdlib.h>
#include <string.h>

typedef struct mini_item {
    const gm_heif_item *src;
    uint32_t new_id;
    size_t data_pos;     /* offset in the mdat payload */
    size_t data_size;
    size_t patch_at;     /* iloc extent_offset field to back-patch */
} mini_item;

static bool is_coded(const gm_heif_item *it)
{
    return it && (it->type == GM_4CC('h', 'v', 'c', '1') || it->type == GM_4CC('a', 'v', '0', '1'));
}

gainmap_status gm_heif_extract_item(gainmap_ctx *ctx, const gm_heif *h, uint32_t item_id, uint8_t **out,
                                    size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    const gm_heif_item *item = gm_heif_item_by_id(h, item_id);
    if (!item)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "there is no item %u in the file", item_id);
    if (!gm_heif_is_image(item)) {
        char t[5];
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "item %u of type '%s' is not an image we can decode", item_id,
                        gm_fourcc_str(item->type, t));
    }
    gm_heif_grid grid;
    const gm_heif_ref *tiles = NULL;
    if (item->type == GM_4CC('g', 'r', 'i', 'd')) {
        gainmap_status st = gm_heif_grid_read(ctx, h, item, &grid);
        if (st != GAINMAP_OK)
            return st;
        tiles = grid.tiles;
    }
    size_t n = 1 + (tiles ? tiles->count : 0);
    if (n > 65535)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "grid item %u has too many tiles", item_id);
    mini_item *items = gm_calloc(ctx, n, sizeof *items);
    uint16_t *prop_map = gm_calloc(ctx, h->nprops + 1, sizeof *prop_map);   /* old index -> new index */
    uint16_t *order = gm_calloc(ctx, h->nprops + 1, sizeof *order);         /* new index -> old index */
    gm_buf mdat, b;
    gm_buf_init(&mdat);
    gm_buf_init(&b);
    gainmap_status st = GAINMAP_OK;
    if (!items || !prop_map || !order) {
        st = GAINMAP_ERR_NOMEM;
        goto done;
    }
    bool av1 = false;
    for (size_t i = 0; i < n; i++) {
        const gm_heif_item *it = i == 0 ? item : gm_heif_item_by_id(h, tiles->to[i - 1]);
        if (i > 0 && !is_coded(it)) {
            st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "tile %u of grid item %u is not a coded image",
                          tiles->to[i - 1], item_id);
            goto done;
        }
        av1 |= it->type == GM_4CC('a', 'v', '0', '1');
        items[i].src = it;
        items[i].new_id = (uint32_t)(i + 1);
        uint8_t *data;
        size_t size;
        st = gm_heif_item_data(ctx, h, it, h->size, &data, &size);
        if (st != GAINMAP_OK)
            goto done;
        items[i].data_pos = mdat.size;
        items[i].data_size = size;
        gm_buf_put(&mdat, data, size);
        free(data);
    }
    /* properties in first-use order, without auxC (the item becomes a plain image) */
    uint16_t nprops = 0;
    for (size_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < items[i].src->nassoc; k++) {
            uint16_t idx = items[i].src->assoc[k].index;
            if (idx && !prop_map[idx] && h->props[idx - 1].type != GM_4CC('a', 'u', 'x', 'C')) {
                prop_map[idx] = ++nprops;
                order[nprops] = idx;
            }
        }

    size_t box = gm_boxw_open(&b, GM_4CC('f', 't', 'y', 'p'));
    gm_buf_u32be(&b, av1 ? GM_4CC('a', 'v', 'i', 'f') : GM_4CC('h', 'e', 'i', 'c'));
    gm_buf_u32be(&b, 0);
    gm_buf_u32be(&b, GM_4CC('m', 'i', 'f', '1'));
    gm_buf_u32be(&b, av1 ? GM_4CC('a', 'v', 'i', 'f') : GM_4CC('h', 'e', 'i', 'c'));
    gm_buf_u32be(&b, GM_4CC('m', 'i', 'a', 'f'));
    gm_boxw_close(&b, box);

    size_t meta = gm_boxw_open_full(&b, GM_4CC('m', 'e', 't', 'a'), 0, 0);
    box = gm_boxw_open_full(&b, GM_4CC('h', 'd', 'l', 'r'), 0, 0);
    gm_buf_u32be(&b, 0);
    gm_buf_u32be(&b, GM_4CC('p', 'i', 'c', 't'));
    for (int i = 0; i < 3; i++)
        gm_buf_u32be(&b, 0);
    gm_buf_u8(&b, 0);
    gm_boxw_close(&b, box);

    box = gm_boxw_open_full(&b, GM_4CC('p', 'i', 't', 'm'), 0, 0);
    gm_buf_u16be(&b, 1);
    gm_boxw_close(&b, box);

    box = gm_boxw_open_full(&b, GM_4CC('i', 'i', 'n', 'f'), 0, 0);
    gm_buf_u16be(&b, (uint16_t)n);
    for (size_t i = 0; i < n; i++) {
        size_t infe = gm_boxw_open_full(&b, GM_4CC('i', 'n', 'f', 'e'), 2, i > 0 ? 1 : 0);
        gm_buf_u16be(&b, (uint16_t)items[i].new_id);
        gm_buf_u16be(&b, 0);
        gm_buf_u32be(&b, items[i].src->type);
        gm_buf_u8(&b, 0);
        gm_boxw_close(&b, infe);
    }
    gm_boxw_close(&b, box);

    if (tiles) {
        box = gm_boxw_open_full(&b, GM_4CC('i', 'r', 'e', 'f'), 0, 0);
        size_t ref = gm_boxw_open(&b, GM_4CC('d', 'i', 'm', 'g'));
        gm_buf_u16be(&b, 1);
        gm_buf_u16be(&b, (uint16_t)(n - 1));
        for (size_t i = 1; i < n; i++)
            gm_buf_u16be(&b, (uint16_t)items[i].new_id);
        gm_boxw_close(&b, ref);
        gm_boxw_close(&b, box);
    }

    box = gm_boxw_open(&b, GM_4CC('i', 'p', 'r', 'p'));
    size_t ipco = gm_boxw_open(&b, GM_4CC('i', 'p', 'c', 'o'));
    for (uint16_t k = 1; k <= nprops; k++) {
        const gm_heif_prop *p = &h->props[order[k] - 1];
        gm_buf_put(&b, p->box, p->box_size);
    }
    gm_boxw_close(&b, ipco);
    bool wide = nprops > 127;
    size_t ipma = gm_boxw_open_full(&b, GM_4CC('i', 'p', 'm', 'a'), 0, wide ? 1 : 0);
    gm_buf_u32be(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        const gm_heif_item *it = items[i].src;
        size_t count = 0;
        for (uint32_t k = 0; k < it->nassoc; k++)
            count += prop_map[it->assoc[k].index] != 0;
        if (count > 255) {
            st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "item %u has more than 255 properties", it->id);
            goto done;
        }
        gm_buf_u16be(&b, (uint16_t)items[i].new_id);
        gm_buf_u8(&b, (uint8_t)count);
        for (uint32_t k = 0; k < it->nassoc; k++) {
            uint16_t ni = prop_map[it->assoc[k].index];
            if (!ni)
                continue;
            if (wide)
                gm_buf_u16be(&b, (uint16_t)((it->assoc[k].essential ? 0x8000 : 0) | ni));
            else
                gm_buf_u8(&b, (uint8_t)((it->assoc[k].essential ? 0x80 : 0) | ni));
        }
    }
    gm_boxw_close(&b, ipma);
    gm_boxw_close(&b, box);

    box = gm_boxw_open_full(&b, GM_4CC('i', 'l', 'o', 'c'), 0, 0);
    gm_buf_u8(&b, 0x44);   /* offset_size 4, length_size 4 */
    gm_buf_u8(&b, 0x00);   /* base_offset_size 0 */
    gm_buf_u16be(&b, (uint16_t)n);
    for (size_t i = 0; i < n; i++) {
        gm_buf_u16be(&b, (uint16_t)items[i].new_id);
        gm_buf_u16be(&b, 0);
        gm_buf_u16be(&b, 1);
        items[i].patch_at = b.size;
        gm_buf_u32be(&b, 0);
        gm_buf_u32be(&b, (uint32_t)items[i].data_size);
    }
    gm_boxw_close(&b, box);
    gm_boxw_close(&b, meta);

    size_t mdat_start = b.size;
    if (mdat.size > UINT32_MAX - 16 || mdat_start > UINT32_MAX - 16 - mdat.size) {
        st = gm_error(ctx, GAINMAP_ERR_LIMIT, "item %u is too large to decode (over 4 GiB)", item_id);
        goto done;
    }
    box = gm_boxw_open(&b, GM_4CC('m', 'd', 'a', 't'));
    gm_buf_put(&b, mdat.data, mdat.size);
    gm_boxw_close(&b, box);
    for (size_t i = 0; i < n; i++)
        gm_buf_patch_u32be(&b, items[i].patch_at, (uint32_t)(mdat_start + 8 + items[i].data_pos));
    if (b.bad || mdat.bad) {
        st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory building a HEIF for item %u", item_id);
        goto done;
    }
    *out = gm_buf_take(&b, out_size);
    if (!*out)
        st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory building a HEIF for item %u", item_id);
done:
    gm_buf_free(&b);
    gm_buf_free(&mdat);
    free(items);
    free(prop_map);
    free(order);
    return st;
}

/* The coded item whose codec configuration describes the pixels. */
static const gm_heif_prop *codec_config(const gm_heif *h, const gm_heif_item *item)
{
    const gm_heif_item *coded = item;
    if (item->type == GM_4CC('g', 'r', 'i', 'd')) {
        const gm_heif_ref *tiles = gm_heif_ref_from(h, GM_4CC('d', 'i', 'm', 'g'), item->id);
        coded = tiles && tiles->count ? gm_heif_item_by_id(h, tiles->to[0]) : NULL;
    }
    const gm_heif_prop *p = gm_heif_item_prop(h, coded, GM_4CC('h', 'v', 'c', 'C'), 0);
    if (!p)
        p = gm_heif_item_prop(h, coded, GM_4CC('a', 'v', '1', 'C'), 0);
    return p && p->ok ? p : NULL;
}

static gainmap_status heif_fail(gainmap_ctx *ctx, struct heif_error err, uint32_t id, const char *what)
{
    return gm_error(ctx, GAINMAP_ERR_CODEC, "libheif could not %s item %u: %s", what, id,
                    err.message ? err.message : "unknown error");
}

gainmap_status gm_heif_decode_item(gainmap_ctx *ctx, const gm_heif *h, uint32_t item_id, unsigned flags,
                                   gainmap_image *out)
{
    memset(out, 0, sizeof *out);
    const gm_heif_item *item = gm_heif_item_by_id(h, item_id);
    if (!item)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "there is no item %u in the file", item_id);
    uint32_t w0, h0;
    if (gm_heif_item_size(h, item, &w0, &h0, false)) {
        gainmap_status st = gm_check_dims(ctx, w0, h0, 6, "HEIF image");
        if (st != GAINMAP_OK)
            return st;
    }
    uint8_t *mini;
    size_t mini_size;
    gainmap_status st = gm_heif_extract_item(ctx, h, item_id, &mini, &mini_size);
    if (st != GAINMAP_OK)
        return st;
    const gm_heif_prop *cfg = codec_config(h, item);
    bool mono = cfg && cfg->chroma_format == 0;

    struct heif_context *hc = heif_context_alloc();
    struct heif_image_handle *hh = NULL;
    struct heif_image *img = NULL;
    struct heif_decoding_options *opts = NULL;
    if (!hc) {
        st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory starting libheif");
        goto done;
    }
    if (ctx && ctx->max_dimension > 0 && ctx->max_dimension < INT32_MAX)
        heif_context_set_maximum_image_size_limit(hc, (int)ctx->max_dimension);
    struct heif_error err = heif_context_read_from_memory_without_copy(hc, mini, mini_size, NULL);
    if (err.code != heif_error_Ok) {
        st = heif_fail(ctx, err, item_id, "read");
        goto done;
    }
    err = heif_context_get_primary_image_handle(hc, &hh);
    if (err.code != heif_error_Ok) {
        st = heif_fail(ctx, err, item_id, "open");
        goto done;
    }
    int bits = heif_image_handle_get_luma_bits_per_pixel(hh);
    if (bits <= 0 && cfg)
        bits = cfg->bit_depth;
    if (bits <= 0)
        bits = 8;
    if (bits > 16) {
        st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "item %u has %d-bit samples", item_id, bits);
        goto done;
    }
    opts = heif_decoding_options_alloc();
    if (!opts) {
        st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory starting libheif");
        goto done;
    }
    opts->ignore_transformations = (flags & GM_HEIF_DECODE_NO_TRANSFORM) ? 1 : 0;
    enum heif_channel chan = mono ? heif_channel_Y : heif_channel_interleaved;
    /* RGB output takes the R of each pixel for a monochrome item (step 3) */
    size_t pick = 1;
    if (mono) {
        err = heif_decode_image(hh, &img, heif_colorspace_monochrome, heif_chroma_monochrome, opts);
        /* libheif 1.15 assembles grids of monochrome tiles as RGB and then
         * cannot convert back ("Unsupported color conversion"): take R. */
        if (err.code != heif_error_Ok) {
            chan = heif_channel_interleaved;
            pick = 3;
        }
    }
    if (!mono || pick == 3)
        err = heif_decode_image(hh, &img, heif_colorspace_RGB,
                                bits > 8 ? heif_chroma_interleaved_RRGGBB_LE : heif_chroma_interleaved_RGB, opts);
    if (err.code != heif_error_Ok) {
        st = heif_fail(ctx, err, item_id, "decode");
        goto done;
    }
    int w = heif_image_get_width(img, chan), ht = heif_image_get_height(img, chan);
    int stride = 0;
    const uint8_t *plane = heif_image_get_plane_readonly(img, chan, &stride);
    int range = heif_image_get_bits_per_pixel_range(img, chan);
    if (range > 0 && range <= 16)
        bits = range;
    if (!plane || w <= 0 || ht <= 0) {
        st = gm_error(ctx, GAINMAP_ERR_CODEC, "libheif returned no pixels for item %u", item_id);
        goto done;
    }
    uint32_t channels = mono ? 1 : 3;
    bool wide = bits > 8;
    st = gainmap_image_alloc(ctx, out, (uint32_t)w, (uint32_t)ht, channels,
                             wide ? GAINMAP_PIXEL_U16 : GAINMAP_PIXEL_U8);
    if (st != GAINMAP_OK)
        goto done;
    gm_heif_colour col;
    gm_heif_item_colour(h, item, &col);
    /* a grid without colour properties takes them from its first tile */
    if (!col.has_nclx && !col.icc && item->type == GM_4CC('g', 'r', 'i', 'd')) {
        const gm_heif_ref *tiles = gm_heif_ref_from(h, GM_4CC('d', 'i', 'm', 'g'), item->id);
        const gm_heif_item *t0 = tiles && tiles->count ? gm_heif_item_by_id(h, tiles->to[0]) : NULL;
        if (t0)
            gm_heif_item_colour(h, t0, &col);
    }
    /* libheif returns monochrome samples as coded; expand limited range here */
    bool expand = mono && pick == 1 && col.has_nclx && !col.full_range;
    uint32_t maxv = (1u << bits) - 1;
    double lo = (double)(16u << (bits - 8)), span = (double)(219u << (bits - 8));
    size_t row_samples = (size_t)w * channels;
    for (int y = 0; y < ht; y++) {
        const uint8_t *src = plane + (size_t)y * (size_t)stride;
        uint8_t *dst = (uint8_t *)out->data + (size_t)y * out->stride;
        for (size_t i = 0; i < row_samples; i++) {
            size_t si = i * pick;
            uint32_t v = wide ? (uint32_t)(src[2 * si] | (src[2 * si + 1] << 8)) : src[si];
            if (expand) {
                double e = ((double)v - lo) / span * maxv + 0.5;
                v = e <= 0 ? 0 : e >= maxv ? maxv : (uint32_t)e;
            }
            if (wide) {
                uint32_t s16 = (uint32_t)(((uint64_t)GM_MIN(v, maxv) * 65535u + maxv / 2) / maxv);
                ((uint16_t *)(void *)dst)[i] = (uint16_t)s16;
            } else {
                dst[i] = (uint8_t)v;
            }
        }
    }
    out->bit_depth = (uint32_t)bits;
    if (col.has_nclx) {
        out->has_cicp = 1;
        out->cicp[0] = col.cp;
        out->cicp[1] = col.tc;
        out->cicp[2] = col.mc;
        out->cicp[3] = col.full_range;
        out->transfer = gainmap_transfer_from_cicp(col.tc);
        out->primaries = gainmap_primaries_from_cicp(col.cp);
    }
    if (col.icc && col.icc_size && gainmap_image_set_icc(out, col.icc, col.icc_size) != GAINMAP_OK) {
        gainmap_image_free(out);
        st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory copying an ICC profile");
        goto done;
    }
    if (col.has_clli) {
        out->max_cll = col.max_cll;
        out->max_fall = col.max_fall;
    }
done:
    if (img)
        heif_image_release(img);
    if (opts)
        heif_decoding_options_free(opts);
    if (hh)
        heif_image_handle_release(hh);
    if (hc)
        heif_context_free(hc);
    free(mini);
    return st;
}

/* fuzz_heif.c - the HEIF/AVIF box reader and item model (gm_heif_parse), the
 * gain-map search (gm_heif_find_gainmap), and what gmfile/decode do with the
 * result before the codec: item sizes, colour, grids, item bytes and the
 * single-item HEIF handed to libheif.  libheif itself is not called. */
#include "internal.h"
#include "standalone.h"

#include <stdlib.h>

static void touch_item(gainmap_ctx *ctx, const gm_heif *h, uint32_t id)
{
    const gm_heif_item *item = gm_heif_item_by_id(h, id);
    if (!item)
        return;
    uint32_t w, hh;
    gm_heif_item_size(h, item, &w, &hh, true);
    gm_heif_colour c;
    gm_heif_item_colour(h, item, &c);
    if (item->type == GM_4CC('g', 'r', 'i', 'd')) {
        gm_heif_grid g;
        gm_heif_grid_read(ctx, h, item, &g);
    }
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (gm_heif_item_data(ctx, h, item, 1 << 20, &bytes, &n) == GAINMAP_OK)
        free(bytes);
    if (gm_heif_is_image(item) && gm_heif_extract_item(ctx, h, id, &bytes, &n) == GAINMAP_OK) {
        gm_heif *inner = NULL;   /* what we hand to libheif must parse again */
        if (gm_heif_parse(ctx, bytes, n, &inner) == GAINMAP_OK)
            gm_heif_free(inner);
        free(bytes);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    if (!ctx)
        return 0;
    gainmap_set_option(ctx, GAINMAP_OPT_MAX_PIXELS, 1 << 20);
    gm_heif *h = NULL;
    if (gm_heif_parse(ctx, data, size, &h) == GAINMAP_OK) {
        gm_heif_gainmap g;
        gm_heif_find_gainmap(ctx, h, &g);
        if (h->has_primary)
            touch_item(ctx, h, h->primary_id);
        if (g.kind != GM_HEIF_GM_NONE) {
            touch_item(ctx, h, g.map_id);
            if (g.tmap_id)
                touch_item(ctx, h, g.tmap_id);
        }
        /* gm_heif_find_gainmap with no context must also be safe. */
        gm_heif_find_gainmap(NULL, h, &g);
        gm_heif_free(h);
    }
    gainmap_ctx_free(ctx);
    return 0;
}

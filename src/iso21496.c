/* iso21496.c - ISO 21496-1 GainMapMetadata payload (FORMATS.md 3.1, 3.2).
 * Reads the full layout, the 4-byte version-only stub and libultrahdr's
 * common-denominator compact layout (flag 0x08); writes only the full layout. */
#include "internal.h"

#include <string.h>

gainmap_status gainmap_iso21496_parse(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_metadata *out)
{
    if (!data || !out)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "iso21496_parse: NULL argument");
    memset(out, 0, sizeof *out);
    out->kind = GAINMAP_KIND_ISO;
    gm_reader r;
    gm_rd_init(&r, data, size);
    out->minimum_version = gm_rd_u16be(&r);
    out->writer_version = gm_rd_u16be(&r);
    if (!gm_rd_ok(&r))
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "ISO 21496-1 metadata is %zu bytes, too short for its version",
                        size);
    if (out->minimum_version != 0)
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "ISO 21496-1 minimum_version %u is not supported (0 is)",
                        out->minimum_version);
    if (size == 4)
        return gm_error(ctx, GAINMAP_ERR_NO_GAINMAP,
                        "ISO 21496-1 block holds only the version (the primary image's stub), no metadata");
    uint8_t flags = gm_rd_u8(&r);
    out->flags = flags;
    out->channel_count = (flags & GM_ISO_FLAG_MULTICHANNEL) ? 3 : 1;
    out->use_base_colour_space = (flags & GM_ISO_FLAG_BASE_COLOUR) ? 1 : 0;
    int nc = out->channel_count;
    if (flags & GM_ISO_FLAG_COMMON_DENOM) {
        /* libultrahdr compact form: one denominator for every value */
        uint32_t d = gm_rd_u32be(&r);
        out->base_hdr_headroom = (gainmap_ufraction){gm_rd_u32be(&r), d};
        out->alternate_hdr_headroom = (gainmap_ufraction){gm_rd_u32be(&r), d};
        for (int c = 0; c < nc; c++) {
            out->gain_map_min[c] = (gainmap_fraction){(int32_t)gm_rd_u32be(&r), d};
            out->gain_map_max[c] = (gainmap_fraction){(int32_t)gm_rd_u32be(&r), d};
            out->gamma[c] = (gainmap_ufraction){gm_rd_u32be(&r), d};
            out->base_offset[c] = (gainmap_fraction){(int32_t)gm_rd_u32be(&r), d};
            out->alternate_offset[c] = (gainmap_fraction){(int32_t)gm_rd_u32be(&r), d};
        }
        if (gm_rd_ok(&r) && d == 0)
            return gm_error(ctx, GAINMAP_ERR_CORRUPT, "ISO 21496-1 common denominator is 0");
    } else {
        out->base_hdr_headroom.n = gm_rd_u32be(&r);
        out->base_hdr_headroom.d = gm_rd_u32be(&r);
        out->alternate_hdr_headroom.n = gm_rd_u32be(&r);
        out->alternate_hdr_headroom.d = gm_rd_u32be(&r);
        for (int c = 0; c < nc; c++) {
            out->gain_map_min[c].n = (int32_t)gm_rd_u32be(&r);
            out->gain_map_min[c].d = gm_rd_u32be(&r);
            out->gain_map_max[c].n = (int32_t)gm_rd_u32be(&r);
            out->gain_map_max[c].d = gm_rd_u32be(&r);
            out->gamma[c].n = gm_rd_u32be(&r);
            out->gamma[c].d = gm_rd_u32be(&r);
            out->base_offset[c].n = (int32_t)gm_rd_u32be(&r);
            out->base_offset[c].d = gm_rd_u32be(&r);
            out->alternate_offset[c].n = (int32_t)gm_rd_u32be(&r);
            out->alternate_offset[c].d = gm_rd_u32be(&r);
        }
    }
    if (!gm_rd_ok(&r))
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "ISO 21496-1 metadata is %zu bytes, too short for %d channel%s%s",
                        size, nc, nc == 1 ? "" : "s", (flags & GM_ISO_FLAG_COMMON_DENOM) ? " (compact form)" : "");
    /* pitfall 21: extra bytes are only allowed from a newer writer */
    if (gm_rd_left(&r) && out->writer_version == 0)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT,
                        "ISO 21496-1 metadata has %zu trailing bytes although writer_version is 0", gm_rd_left(&r));
    return GAINMAP_OK;
}

static void put_u(gm_buf *b, gainmap_ufraction f)
{
    gm_buf_u32be(b, f.n);
    gm_buf_u32be(b, f.d);
}

static void put_s(gm_buf *b, gainmap_fraction f)
{
    gm_buf_u32be(b, (uint32_t)f.n);
    gm_buf_u32be(b, f.d);
}

gainmap_status gainmap_iso21496_write(gainmap_ctx *ctx, const gainmap_metadata *m, uint8_t **out, size_t *out_size)
{
    if (!m || !out || !out_size)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "iso21496_write: NULL argument");
    *out = NULL;
    *out_size = 0;
    if (m->kind != GAINMAP_KIND_ISO)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "Apple gain-map metadata cannot be written as ISO 21496-1");
    gainmap_status st = gainmap_metadata_check(ctx, m);
    if (st != GAINMAP_OK)
        return st;
    /* Never the 0x04/0x08 flags: Skia and libavif mis-read them (pitfall 1). */
    uint8_t flags = (uint8_t)((m->channel_count == 3 ? GM_ISO_FLAG_MULTICHANNEL : 0) |
                              (m->use_base_colour_space ? GM_ISO_FLAG_BASE_COLOUR : 0));
    gm_buf b;
    gm_buf_init(&b);
    gm_buf_u16be(&b, 0);   /* minimum_version */
    gm_buf_u16be(&b, 0);   /* writer_version */
    gm_buf_u8(&b, flags);
    gainmap_ufraction bh = m->base_hdr_headroom, ah = m->alternate_hdr_headroom;
    if (bh.d == 0)   /* 0/0 tolerated on read as 0 (pitfall 12); write 0/1 */
        bh = (gainmap_ufraction){0, 1};
    if (ah.d == 0)
        ah = (gainmap_ufraction){0, 1};
    put_u(&b, bh);
    put_u(&b, ah);
    for (int c = 0; c < m->channel_count; c++) {
        put_s(&b, m->gain_map_min[c]);
        put_s(&b, m->gain_map_max[c]);
        put_u(&b, m->gamma[c]);
        put_s(&b, m->base_offset[c]);
        put_s(&b, m->alternate_offset[c]);
    }
    *out = gm_buf_take(&b, out_size);
    if (!*out)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing ISO 21496-1 metadata");
    return GAINMAP_OK;
}

/* mpf.c - CIPA DC-007 Multi-Picture Format index (FORMATS.md 2).  Offsets
 * inside MPF are relative to its TIFF header, which follows "MPF\0". */
#include "internal.h"

#include <string.h>

static uint16_t rd16(gm_reader *r, bool be) { return be ? gm_rd_u16be(r) : gm_rd_u16le(r); }
static uint32_t rd32(gm_reader *r, bool be) { return be ? gm_rd_u32be(r) : gm_rd_u32le(r); }

gainmap_status gm_mpf_parse(gainmap_ctx *ctx, const uint8_t *payload, size_t size, size_t payload_offset,
                            gm_mpf *out)
{
    memset(out, 0, sizeof *out);
    if (size < GM_MPF_ID_LEN || memcmp(payload, GM_MPF_ID, GM_MPF_ID_LEN) != 0)
        return gm_error(ctx, GAINMAP_ERR_FORMAT, "APP2 segment is not MPF");
    const uint8_t *tiff = payload + GM_MPF_ID_LEN;
    size_t tsize = size - GM_MPF_ID_LEN;
    out->tiff_base = payload_offset + GM_MPF_ID_LEN;
    if (tsize < 8)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "MPF index is %zu bytes, too short for its header", tsize);
    bool be;
    if (!memcmp(tiff, "MM\0*", 4))
        be = true;
    else if (!memcmp(tiff, "II*\0", 4))
        be = false;
    else
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "MPF index has no byte-order mark (II*/MM*)");
    out->big_endian = be;
    gm_reader r;
    gm_rd_init(&r, tiff, tsize);
    gm_rd_skip(&r, 4);
    uint32_t ifd = rd32(&r, be);
    if (!gm_rd_seek(&r, ifd))
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "MPF index IFD offset %u is outside the segment", ifd);
    uint16_t n = rd16(&r, be);
    uint32_t entry_off = 0, entry_bytes = 0;
    bool has_entries = false;
    for (uint16_t i = 0; i < n && gm_rd_ok(&r); i++) {
        uint16_t tag = rd16(&r, be);
        uint16_t type = rd16(&r, be);
        uint32_t count = rd32(&r, be);
        const uint8_t *val = gm_rd_bytes(&r, 4);
        if (!val)
            break;
        if (tag == 0xB000 && type == 7 && count == 4) {
            memcpy(out->version, val, 4);
            out->version[4] = 0;
            out->has_version = true;
        } else if (tag == 0xB001 && (type == 4 || type == 3)) {
            out->number_of_images = type == 4 ? (be ? gm_be32(val) : gm_le32(val)) : (be ? gm_be16(val) : gm_le16(val));
        } else if (tag == 0xB002 && type == 7) {
            entry_bytes = count;
            entry_off = be ? gm_be32(val) : gm_le32(val);
            has_entries = true;
        }
    }
    if (!gm_rd_ok(&r))
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "MPF index IFD (%u entries) runs past the end of the segment", n);
    out->next_ifd = rd32(&r, be);   /* may be missing in sloppy writers; not needed */
    if (!has_entries)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "MPF index has no MP Entry list (tag B002)");
    if (entry_bytes % 16 != 0)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "MPF MP Entry list is %u bytes, not a multiple of 16", entry_bytes);
    out->declared_entries = entry_bytes / 16;
    gm_reader e;
    gm_rd_init(&e, tiff, tsize);
    if (!gm_rd_seek(&e, entry_off) || gm_rd_left(&e) < entry_bytes)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "MPF MP Entry list (%u bytes at %u) is outside the segment",
                        entry_bytes, entry_off);
    for (uint32_t i = 0; i < out->declared_entries && i < GM_MPF_MAX_ENTRIES; i++) {
        gm_mpf_entry *en = &out->entries[i];
        en->attribute = rd32(&e, be);
        en->size = rd32(&e, be);
        en->offset = rd32(&e, be);
        en->dep1 = rd16(&e, be);
        en->dep2 = rd16(&e, be);
        out->nentries++;
    }
    return GAINMAP_OK;
}

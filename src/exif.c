/* exif.c - the few EXIF facts the image readers need: find and set the
 * orientation tag (0x0112) in IFD0 of a TIFF-structure blob (CIPA DC-008). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define TAG_ORIENTATION 0x0112
#define TYPE_SHORT 3

/* Locate the orientation entry; returns its byte offset within the TIFF
 * structure (tiff points at "II"/"MM") or 0 when absent/malformed. */
static size_t find_orientation(const uint8_t *tiff, size_t size, bool *le)
{
    gm_reader r;
    gm_rd_init(&r, tiff, size);
    const uint8_t *bom = gm_rd_bytes(&r, 2);
    if (!bom)
        return 0;
    if (bom[0] == 'I' && bom[1] == 'I')
        *le = true;
    else if (bom[0] == 'M' && bom[1] == 'M')
        *le = false;
    else
        return 0;
    uint16_t magic = *le ? gm_rd_u16le(&r) : gm_rd_u16be(&r);
    uint32_t ifd = *le ? gm_rd_u32le(&r) : gm_rd_u32be(&r);
    if (!gm_rd_ok(&r) || magic != 42 || !gm_rd_seek(&r, ifd))
        return 0;
    uint16_t count = *le ? gm_rd_u16le(&r) : gm_rd_u16be(&r);
    for (uint16_t i = 0; i < count && gm_rd_ok(&r); i++) {
        size_t at = r.pos;
        uint16_t tag = *le ? gm_rd_u16le(&r) : gm_rd_u16be(&r);
        uint16_t type = *le ? gm_rd_u16le(&r) : gm_rd_u16be(&r);
        uint32_t n = *le ? gm_rd_u32le(&r) : gm_rd_u32be(&r);
        gm_rd_skip(&r, 4);
        if (gm_rd_ok(&r) && tag == TAG_ORIENTATION)
            return type == TYPE_SHORT && n >= 1 ? at : 0;
    }
    return 0;
}

static const uint8_t *skip_prefix(const uint8_t *exif, size_t *size)
{
    if (*size >= 6 && !memcmp(exif, "Exif\0\0", 6)) {
        *size -= 6;
        return exif + 6;
    }
    return exif;
}

int gm_exif_orientation(const uint8_t *exif, size_t size)
{
    if (!exif)
        return 0;
    const uint8_t *t = skip_prefix(exif, &size);
    bool le;
    size_t at = find_orientation(t, size, &le);
    if (!at)
        return 0;
    int v = le ? gm_le16(t + at + 8) : gm_be16(t + at + 8);
    return v >= 1 && v <= 8 ? v : 0;
}

bool gm_exif_set_orientation(uint8_t *exif, size_t size, int orientation)
{
    if (!exif || orientation < 1 || orientation > 8)
        return false;
    uint8_t *t = (uint8_t *)skip_prefix(exif, &size);
    bool le;
    size_t at = find_orientation(t, size, &le);
    if (!at)
        return false;
    t[at + 8] = le ? (uint8_t)orientation : 0;
    t[at + 9] = le ? 0 : (uint8_t)orientation;
    return true;
}

gainmap_status gm_exif_make(gainmap_ctx *ctx, int orientation, uint8_t **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    if (orientation < 1 || orientation > 8)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "EXIF orientation %d is not 1 to 8", orientation);
    gm_buf b;
    gm_buf_init(&b);
    gm_buf_put(&b, "II*\0", 4);
    gm_buf_u32le(&b, 8);          /* IFD0 right after the header */
    gm_buf_u16le(&b, 1);          /* one entry */
    gm_buf_u16le(&b, TAG_ORIENTATION);
    gm_buf_u16le(&b, TYPE_SHORT);
    gm_buf_u32le(&b, 1);
    gm_buf_u16le(&b, (uint16_t)orientation);
    gm_buf_u16le(&b, 0);          /* value padding */
    gm_buf_u32le(&b, 0);          /* no next IFD */
    if (b.bad) {
        gm_buf_free(&b);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory building EXIF");
    }
    *out = gm_buf_take(&b, size);
    return GAINMAP_OK;
}

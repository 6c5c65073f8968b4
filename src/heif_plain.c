/* heif_plain.c - the primary image of a HEIF/AVIF file as an HDR master.
 *
 * A HEIF/AVIF whose primary image is PQ or HLG (nclx, or an ICC profile
 * gainmap_icc_identify recognises) is an HDR image in its own right, with or
 * without a gain map: gainmap_image_read reads it like a PQ TIFF, and
 * gainmap_decode writes it out when there is no gain map to apply.  The
 * container is read by gmfile.c (our box reader), the pixels by
 * heif_decode.c (libheif as the codec only). */
#include "internal.h"

#include <string.h>

static uint32_t primary_id(const gainmap_file *f)
{
    return f->hg && f->hg->kind != GM_HEIF_GM_NONE ? f->hg->base_id : f->heif->primary_id;
}

bool gm_heif_primary_hdr(const gainmap_file *f)
{
    return f && f->heif && f->info.container == GAINMAP_CONTAINER_HEIF &&
           (f->info.base_transfer == GAINMAP_TRANSFER_PQ || f->info.base_transfer == GAINMAP_TRANSFER_HLG);
}

gainmap_status gm_heif_read_primary(gainmap_ctx *ctx, const gainmap_file *f, bool keep_orientation,
                                    gainmap_image *out)
{
    memset(out, 0, sizeof *out);
    if (!f || !f->heif)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "read_primary: not a HEIF file");
    const gm_heif *h = f->heif;
    uint32_t id = primary_id(f);
    const gm_heif_item *it = gm_heif_item_by_id(h, id);
    if (!it)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "the HEIF file names no primary image item");
    const gm_heif_prop *irot = gm_heif_item_prop(h, it, GM_4CC('i', 'r', 'o', 't'), 0);
    unsigned angle = irot && irot->ok ? irot->angle & 3u : 0;
    /* The stored order can be kept only when a rotation is all there is: an
     * EXIF orientation cannot say a crop, and the mirror would need the
     * rotation's order spelled out (as decode.c does for gain-map files). */
    bool keep = keep_orientation && angle && !gm_heif_item_prop(h, it, GM_4CC('i', 'm', 'i', 'r'), 0) &&
                !gm_heif_item_prop(h, it, GM_4CC('c', 'l', 'a', 'p'), 0);
    gainmap_status st = gm_heif_decode_item(ctx, h, id, keep ? GM_HEIF_DECODE_NO_TRANSFORM : 0, out);
    if (st != GAINMAP_OK)
        return st;
    /* nclx when it names them, else the ICC profile's contents (gmfile.c) */
    out->transfer = f->info.base_transfer;
    out->primaries = f->info.base_primaries;
    out->orientation = keep ? gm_irot_orientation(angle) : 1;
    const uint8_t *exif;
    size_t exif_size;
    if (gainmap_file_exif(f, &exif, &exif_size) == GAINMAP_OK && exif && exif_size) {
        if (gainmap_image_set_exif(out, exif, exif_size) != GAINMAP_OK) {
            gainmap_image_free(out);
            return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory copying EXIF");
        }
        /* HEIF's EXIF orientation is informational (irot/imir rule): it is
         * made to say what the pixels now need */
        gm_exif_set_orientation(out->exif, out->exif_size, out->orientation);
    }
    return GAINMAP_OK;
}

gainmap_status gm_heif_image_read(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_image *out)
{
    memset(out, 0, sizeof *out);
    gainmap_file *f = NULL;
    gainmap_status st = gainmap_file_open_memory(ctx, data, size, &f);
    if (st != GAINMAP_OK)
        return st;
    if (gm_heif_primary_hdr(f))
        st = gm_heif_read_primary(ctx, f, false, out);
    else if (f->info.has_gainmap || f->map_found)
        st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED,
                      "this is a HEIF/AVIF gain-map photo with an SDR primary image; read it with the gain-map "
                      "commands (gainmap info, decode)");
    else
        st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED,
                      "this HEIF/AVIF image is SDR (%s transfer) and has no gain map: it is not an HDR master "
                      "(HEIF/AVIF is read as one when its primary image is PQ or HLG)",
                      gainmap_transfer_name(f->info.base_transfer));
    gainmap_file_close(f);
    return st;
}

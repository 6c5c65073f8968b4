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

/* irot and imir in their association order (ISO/IEC 23008-12 6.5.10-12),
 * as EXIF orientations applied one after the other.  imir axis 0 flips top
 * to bottom and axis 1 left to right, as libheif reads it. */
static gainmap_status apply_transforms(gainmap_ctx *ctx, const gm_heif *h, const gm_heif_item *it, gainmap_image *img)
{
    for (uint32_t k = 0; k < it->nassoc; k++) {
        uint16_t idx = it->assoc[k].index;
        const gm_heif_prop *p = idx && idx <= h->nprops ? &h->props[idx - 1] : NULL;
        if (!p || !p->ok)
            continue;
        int o = p->type == GM_4CC('i', 'r', 'o', 't')   ? gm_irot_orientation(p->angle)
                : p->type == GM_4CC('i', 'm', 'i', 'r') ? (p->axis ? 2 : 4)
                                                        : 1;
        gainmap_status st = gm_image_orient_in_place(ctx, img, o);
        if (st != GAINMAP_OK)
            return st;
    }
    return GAINMAP_OK;
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
    bool mirror = gm_heif_item_prop(h, it, GM_4CC('i', 'm', 'i', 'r'), 0) != NULL;
    /* Turns and mirrors are ours (libheif 1.15 mirrors 8-bit images only);
     * a crop (clap) is left to libheif with the rest.  The stored order is
     * kept when a turn is all there is: an EXIF orientation says it. */
    bool ours = (angle || mirror) && !gm_heif_item_prop(h, it, GM_4CC('c', 'l', 'a', 'p'), 0);
    bool keep = ours && keep_orientation && angle && !mirror;
    gainmap_status st = gm_heif_decode_item(ctx, h, id, ours ? GM_HEIF_DECODE_NO_TRANSFORM : 0, out);
    if (st == GAINMAP_OK && ours && !keep)
        st = apply_transforms(ctx, h, it, out);
    if (st != GAINMAP_OK) {
        gainmap_image_free(out);
        return st;
    }
    /* nclx when it names them, else the ICC profile's contents (gmfile.c) */
    out->transfer = f->info.base_transfer;
    out->primaries = f->info.base_primaries;
    out->orientation = keep ? gm_irot_orientation(angle) : 1;
    if ((st = gm_file_exif_to_image(ctx, f, out)) != GAINMAP_OK) {
        gainmap_image_free(out);
        return st;
    }
    /* HEIF's EXIF orientation is informational (irot/imir rule): it is
     * made to say what the pixels now need */
    if (out->exif)
        gm_exif_set_orientation(out->exif, out->exif_size, out->orientation);
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

/* decode.c - gainmap_decode: a parsed gain-map file to an HDR (or SDR) image.
 * Both JPEG streams are decoded, the base is tagged with the colour space the
 * parser found (its ICC; sRGB when none), the map is applied for the
 * requested display headroom, and the EXIF orientation is applied to the
 * result (FORMATS.md pitfall 9: the map follows the primary's orientation,
 * so rotating after applying is the same as rotating both before). */
#include "internal.h"

#include <string.h>

gainmap_status gainmap_decode(gainmap_ctx *ctx, const gainmap_file *f, const gainmap_decode_options *opts,
                              gainmap_image *out)
{
    if (!out)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "decode: NULL output image");
    memset(out, 0, sizeof *out);
    const gainmap_info *info = gainmap_file_info(f);
    if (!info)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "decode: no file");
    if (!info->has_gainmap)
        return gm_error(ctx, GAINMAP_ERR_NO_GAINMAP, "the file has no usable gain map");
    if (info->container != GAINMAP_CONTAINER_JPEG)
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "decoding is implemented for gain-map JPEGs only");
    gainmap_decode_options defaults;
    if (!opts) {
        gainmap_decode_options_init(&defaults);
        opts = &defaults;
    }

    const uint8_t *bdata, *mdata;
    size_t bsize, msize;
    gainmap_status st = gainmap_file_base_stream(f, &bdata, &bsize);
    if (st != GAINMAP_OK)
        return gm_error(ctx, st, "the base image stream is missing");
    st = gainmap_file_map_stream(f, &mdata, &msize);
    if (st != GAINMAP_OK)
        return gm_error(ctx, st, "the gain-map stream is missing");

    gainmap_image base, map, hdr;
    memset(&map, 0, sizeof map);
    memset(&hdr, 0, sizeof hdr);
    st = gainmap_jpeg_decode(ctx, bdata, bsize, &base);
    if (st != GAINMAP_OK)
        return st;
    base.primaries = info->base_primaries != GAINMAP_PRIMARIES_UNKNOWN ? info->base_primaries
                                                                        : GAINMAP_PRIMARIES_BT709;
    base.transfer = info->base_transfer != GAINMAP_TRANSFER_UNKNOWN ? info->base_transfer : GAINMAP_TRANSFER_SRGB;
    st = gainmap_jpeg_decode(ctx, mdata, msize, &map);
    if (st != GAINMAP_OK)
        goto done;
    st = gainmap_apply(ctx, &base, &map, &info->meta, opts, &hdr);
    if (st != GAINMAP_OK)
        goto done;
    gainmap_image_free(&map);
    gainmap_image_free(&base);

    int orientation = info->orientation >= 1 && info->orientation <= 8 ? info->orientation : 1;
    if (opts->keep_orientation || orientation == 1) {
        hdr.orientation = orientation;
        if (opts->keep_orientation) {
            const uint8_t *exif;
            size_t exif_size;
            if (gainmap_file_exif(f, &exif, &exif_size) == GAINMAP_OK && exif && exif_size &&
                gainmap_image_set_exif(&hdr, exif, exif_size) != GAINMAP_OK) {
                st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory copying EXIF");
                goto done;
            }
        }
        *out = hdr;
        return GAINMAP_OK;
    }
    st = gm_image_orient(ctx, &hdr, orientation, out);

done:
    gainmap_image_free(&hdr);
    gainmap_image_free(&map);
    gainmap_image_free(&base);
    return st;
}

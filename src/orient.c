/* orient.c - apply an EXIF orientation (TIFF tag 0x0112, values 1..8) to the
 * pixels, so the result displays upright with no orientation tag.
 * For display pixel (dx, dy) of a stored W x H image, the stored pixel is:
 *   1 (dx, dy)          2 (W-1-dx, dy)       3 (W-1-dx, H-1-dy)   4 (dx, H-1-dy)
 *   5 (dy, dx)          6 (dy, H-1-dx)       7 (W-1-dy, H-1-dx)   8 (W-1-dy, dx)
 * (5..8 swap width and height: 6 is "rotate 90 clockwise to display"). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

gainmap_status gm_image_orient(gainmap_ctx *ctx, const gainmap_image *in, int orientation, gainmap_image *out)
{
    if (!out)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "orient: NULL output");
    memset(out, 0, sizeof *out);
    if (!in || !in->data)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "orient: no image");
    if (orientation < 0 || orientation > 8)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "orient: EXIF orientation %d is not 1 to 8", orientation);
    if (orientation == 0)
        orientation = 1;
    const uint32_t W = in->width, H = in->height;
    const int swap = orientation >= 5;
    gainmap_status st = gainmap_image_alloc(ctx, out, swap ? H : W, swap ? W : H, in->channels, in->type);
    if (st != GAINMAP_OK)
        return st;
    const size_t px = in->channels * gm_pixel_size(in->type);
    const uint8_t *src = in->data;
    uint8_t *dst = out->data;
    const uint32_t ow = out->width, oh = out->height;
    for (uint32_t dy = 0; dy < oh; dy++) {
        uint8_t *drow = dst + (size_t)dy * out->stride;
        if (orientation <= 4) {
            uint32_t sy = (orientation == 3 || orientation == 4) ? H - 1 - dy : dy;
            const uint8_t *srow = src + (size_t)sy * in->stride;
            if (orientation == 1 || orientation == 4) {
                memcpy(drow, srow, (size_t)W * px);
            } else {
                for (uint32_t dx = 0; dx < ow; dx++)
                    memcpy(drow + (size_t)dx * px, srow + (size_t)(W - 1 - dx) * px, px);
            }
            continue;
        }
        /* Transposing orientations: display row dy reads stored column sx. */
        uint32_t sx = (orientation == 5 || orientation == 6) ? dy : W - 1 - dy;
        for (uint32_t dx = 0; dx < ow; dx++) {
            uint32_t sy = (orientation == 5 || orientation == 8) ? dx : H - 1 - dx;
            memcpy(drow + (size_t)dx * px, src + (size_t)sy * in->stride + (size_t)sx * px, px);
        }
    }
    out->bit_depth = in->bit_depth;
    out->transfer = in->transfer;
    out->primaries = in->primaries;
    out->has_cicp = in->has_cicp;
    memcpy(out->cicp, in->cicp, sizeof out->cicp);
    out->max_cll = in->max_cll;
    out->max_fall = in->max_fall;
    out->orientation = 1;
    if ((in->icc && gainmap_image_set_icc(out, in->icc, in->icc_size) != GAINMAP_OK) ||
        (in->exif && gainmap_image_set_exif(out, in->exif, in->exif_size) != GAINMAP_OK)) {
        gainmap_image_free(out);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory turning an image");
    }
    return GAINMAP_OK;
}

gainmap_status gm_image_orient_in_place(gainmap_ctx *ctx, gainmap_image *img, int orientation)
{
    if (orientation <= 1 || orientation > 8)
        return GAINMAP_OK;
    gainmap_image t;
    gainmap_status st = gm_image_orient(ctx, img, orientation, &t);
    if (st != GAINMAP_OK)
        return st;
    gainmap_image_free(img);
    *img = t;
    return GAINMAP_OK;
}

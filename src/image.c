/* image.c - the plain image struct: allocation, ownership, metadata copies. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

size_t gm_pixel_size(gainmap_pixel_type t)
{
    switch (t) {
    case GAINMAP_PIXEL_U8: return 1;
    case GAINMAP_PIXEL_U16: return 2;
    case GAINMAP_PIXEL_F32: return 4;
    }
    return 0;
}

gainmap_status gainmap_image_alloc(gainmap_ctx *ctx, gainmap_image *img, uint32_t width, uint32_t height,
                                   uint32_t channels, gainmap_pixel_type type)
{
    if (!img)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "image_alloc: NULL image");
    memset(img, 0, sizeof *img);
    size_t ps = gm_pixel_size(type);
    if (!ps || (channels != 1 && channels != 3 && channels != 4))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "image_alloc: %u channels of type %d", channels, (int)type);
    gainmap_status st = gm_check_dims(ctx, width, height, (uint64_t)ps * channels, "image");
    if (st != GAINMAP_OK)
        return st;
    size_t stride, total;
    if (!gm_mul_size((size_t)width * channels, ps, &stride) || !gm_mul_size(stride, height, &total))
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "image of %ux%u is too large", width, height);
    void *data = gm_calloc(ctx, total, 1);
    if (!data)
        return GAINMAP_ERR_NOMEM;
    img->width = width;
    img->height = height;
    img->channels = channels;
    img->type = type;
    img->stride = stride;
    img->data = data;
    img->bit_depth = (uint32_t)(type == GAINMAP_PIXEL_U8 ? 8 : type == GAINMAP_PIXEL_U16 ? 16 : 32);
    img->orientation = 1;
    return GAINMAP_OK;
}

void gainmap_image_free(gainmap_image *img)
{
    if (!img)
        return;
    free(img->data);
    free(img->icc);
    free(img->exif);
    memset(img, 0, sizeof *img);
}

static gainmap_status set_blob(uint8_t **dst, size_t *dst_size, const uint8_t *src, size_t size)
{
    uint8_t *copy = NULL;
    if (src && size) {
        copy = malloc(size);
        if (!copy)
            return GAINMAP_ERR_NOMEM;
        memcpy(copy, src, size);
    }
    free(*dst);
    *dst = copy;
    *dst_size = copy ? size : 0;
    return GAINMAP_OK;
}

gainmap_status gainmap_image_set_icc(gainmap_image *img, const uint8_t *icc, size_t size)
{
    if (!img)
        return GAINMAP_ERR_INVALID_ARG;
    return set_blob(&img->icc, &img->icc_size, icc, size);
}

gainmap_status gainmap_image_set_exif(gainmap_image *img, const uint8_t *exif, size_t size)
{
    if (!img)
        return GAINMAP_ERR_INVALID_ARG;
    return set_blob(&img->exif, &img->exif_size, exif, size);
}

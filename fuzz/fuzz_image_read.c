/* fuzz_image_read.c - every HDR image reader (PNG, TIFF, EXR, .hdr, PFM, PPM),
 * chosen by the magic bytes. */
#include "gainmap.h"
#include "standalone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    if (!ctx)
        return 0;
    gainmap_set_option(ctx, GAINMAP_OPT_MAX_PIXELS, 1 << 20);
    gainmap_image img;
    if (gainmap_image_read_memory(ctx, data, size, &img) == GAINMAP_OK)
        gainmap_image_free(&img);
    gainmap_ctx_free(ctx);
    return 0;
}

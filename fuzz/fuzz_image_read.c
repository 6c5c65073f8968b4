/* fuzz_image_read.c - every HDR image reader (PNG, TIFF, EXR, .hdr, PFM, PPM),
 * chosen by the magic bytes as gainmap_image_read_memory does. */
#include "gainmap.h"
#include "standalone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    if (!ctx)
        return 0;
    gainmap_set_option(ctx, GAINMAP_OPT_MAX_PIXELS, 1 << 20);
    gainmap_image img;
    gainmap_status st = gainmap_image_read_memory(ctx, data, size, &img);
    gm_fuzz_expect_error(ctx, st);
    if (st == GAINMAP_OK) {
        /* Every pixel the reader claims must be readable. */
        if (img.height && img.stride) {
            const volatile uint8_t *last = (const uint8_t *)img.data + (size_t)(img.height - 1) * img.stride;
            (void)last[img.stride - 1];
        }
        gainmap_image_free(&img);
    }
    gainmap_ctx_free(ctx);
    return 0;
}

/* fuzz_jpeg_decode.c - one JPEG stream through gainmap_jpeg_decode
 * (libjpeg-turbo behind our error handling, limits and ICC reassembly). */
#include "gainmap.h"
#include "standalone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    if (!ctx)
        return 0;
    /* Small images only: the fuzzer is after parser bugs, not big allocations. */
    gainmap_set_option(ctx, GAINMAP_OPT_MAX_PIXELS, 1 << 18);
    gainmap_image img;
    gainmap_status st = gainmap_jpeg_decode(ctx, data, size, &img);
    gm_fuzz_expect_error(ctx, st);
    if (st == GAINMAP_OK)
        gainmap_image_free(&img);
    gainmap_ctx_free(ctx);
    return 0;
}

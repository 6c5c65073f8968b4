/* fuzz_cube.c - the .cube LUT parser. */
#include "gainmap.h"
#include "standalone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    if (!ctx)
        return 0;
    gainmap_lut *lut = NULL;
    if (gainmap_lut_parse(ctx, (const char *)data, size, &lut) == GAINMAP_OK) {
        float in[3] = {0.5f, 0.25f, 1.0f}, out[3];
        gainmap_lut_apply(lut, in, out);
        gainmap_lut_free(lut);
    }
    gainmap_ctx_free(ctx);
    return 0;
}

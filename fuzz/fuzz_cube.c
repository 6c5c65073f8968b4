/* fuzz_cube.c - the .cube LUT parser and the interpolation at a few points,
 * including values outside the domain. */
#include "gainmap.h"
#include "standalone.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    if (!ctx)
        return 0;
    gainmap_lut *lut = NULL;
    gainmap_status st = gainmap_lut_parse(ctx, (const char *)data, size, &lut);
    gm_fuzz_expect_error(ctx, st);
    if (st == GAINMAP_OK) {
        static const float pts[][3] = {{0.5f, 0.25f, 1.0f}, {0, 0, 0}, {1, 1, 1}, {-1, 2, 0.5f},
                                       {1e30f, -1e30f, 0}, {NAN, 0.5f, INFINITY}};
        for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
            float out[3];
            gainmap_lut_apply(lut, pts[i], out);
        }
        gainmap_lut_free(lut);
    }
    gainmap_ctx_free(ctx);
    return 0;
}

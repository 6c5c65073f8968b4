/* fuzz_iso21496.c - the ISO 21496-1 metadata parser, and write(parse(x)). */
#include "gainmap.h"
#include "standalone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    if (!ctx)
        return 0;
    gainmap_metadata m;
    if (gainmap_iso21496_parse(ctx, data, size, &m) == GAINMAP_OK && gainmap_metadata_check(ctx, &m) == GAINMAP_OK) {
        uint8_t *out = NULL;
        size_t n = 0;
        if (gainmap_iso21496_write(ctx, &m, &out, &n) == GAINMAP_OK)
            gainmap_free(out);
        gainmap_params p;
        gainmap_metadata_to_params(&m, &p);
        (void)gainmap_weight(&p, 1.0);
    }
    gainmap_ctx_free(ctx);
    return 0;
}

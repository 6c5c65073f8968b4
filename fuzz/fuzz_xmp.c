/* fuzz_xmp.c - the XMP reader (expat, by namespace URI) and the hdrgm ->
 * metadata conversion.  The input is split at the first NUL into up to
 * several packets, as a JPEG with a main and a second XMP segment would
 * give. */
#include "internal.h"
#include "standalone.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    if (!ctx)
        return 0;
    gm_xmp x;
    gm_xmp_init(&x);
    size_t start = 0;
    for (int packets = 0; packets < 4 && start <= size; packets++) {
        const uint8_t *nul = start < size ? memchr(data + start, 0, size - start) : NULL;
        size_t end = nul ? (size_t)(nul - data) : size;
        gm_xmp_parse(&x, data + start, end - start);
        if (!nul)
            break;
        start = end + 1;
    }
    gainmap_metadata m;
    if (gm_xmp_to_metadata(ctx, &x, &m) == GAINMAP_OK) {
        if (gainmap_metadata_check(ctx, &m) == GAINMAP_OK) {
            gainmap_params p;
            gainmap_metadata_to_params(&m, &p);
            (void)gainmap_weight(&p, 1.0);
        }
    }
    if (x.nitems > GM_XMP_MAX_ITEMS)
        abort();
    gainmap_ctx_free(ctx);
    return 0;
}

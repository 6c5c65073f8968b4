/* fuzz_iso21496.c - the ISO 21496-1 metadata parser, and write(parse(x)):
 * what we write must parse back to the same metadata. */
#include "gainmap.h"
#include "standalone.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    if (!ctx)
        return 0;
    gainmap_metadata m;
    gainmap_status st = gainmap_iso21496_parse(ctx, data, size, &m);
    if (st != GAINMAP_ERR_NO_GAINMAP)
        gm_fuzz_expect_error(ctx, st);
    if (st == GAINMAP_OK && gainmap_metadata_check(ctx, &m) == GAINMAP_OK) {
        uint8_t *out = NULL;
        size_t n = 0;
        if (gainmap_iso21496_write(ctx, &m, &out, &n) == GAINMAP_OK) {
            gainmap_metadata back;
            if (gainmap_iso21496_parse(ctx, out, n, &back) != GAINMAP_OK)
                abort();
            gainmap_params p1, p2;
            gainmap_metadata_to_params(&m, &p1);
            gainmap_metadata_to_params(&back, &p2);
            if (p1.channel_count != p2.channel_count || p1.base_hdr_headroom != p2.base_hdr_headroom ||
                p1.alternate_hdr_headroom != p2.alternate_hdr_headroom)
                abort();
            for (int c = 0; c < 3; c++)
                if (p1.gain_map_min[c] != p2.gain_map_min[c] || p1.gain_map_max[c] != p2.gain_map_max[c] ||
                    p1.gamma[c] != p2.gamma[c] || p1.base_offset[c] != p2.base_offset[c] ||
                    p1.alternate_offset[c] != p2.alternate_offset[c])
                    abort();
            gainmap_free(out);
        }
        gainmap_params p;
        gainmap_metadata_to_params(&m, &p);
        (void)gainmap_weight(&p, 1.0);
    }
    gainmap_ctx_free(ctx);
    return 0;
}

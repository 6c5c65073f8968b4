/* fuzz_mpf.c - the CIPA MPF index parser (gm_mpf_parse) on an APP2 payload.
 * The input is the payload after the length field; inputs that do not start
 * with "MPF\0" get it prepended half of the time so the fuzzer need not find
 * the identifier. */
#include "internal.h"
#include "standalone.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    if (!ctx)
        return 0;
    const uint8_t *p = data;
    size_t n = size;
    uint8_t *owned = NULL;
    if ((size < 4 || memcmp(data, "MPF", 4) != 0) && size > 0 && (data[0] & 1)) {
        owned = malloc(size + 3);
        if (!owned) {
            gainmap_ctx_free(ctx);
            return 0;
        }
        memcpy(owned, "MPF", 4);
        memcpy(owned + 4, data + 1, size - 1);
        p = owned;
        n = size + 3;
    }
    gm_mpf m;
    if (gm_mpf_parse(ctx, p, n, 0x40, &m) == GAINMAP_OK) {
        /* The parser promises at most GM_MPF_MAX_ENTRIES entries. */
        if (m.nentries > GM_MPF_MAX_ENTRIES)
            abort();
        uint64_t sum = 0;
        for (uint32_t i = 0; i < m.nentries; i++)
            sum += (uint64_t)m.entries[i].offset + m.entries[i].size;
        (void)sum;
    }
    free(owned);
    gainmap_ctx_free(ctx);
    return 0;
}

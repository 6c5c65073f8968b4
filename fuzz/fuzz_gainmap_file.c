/* fuzz_gainmap_file.c - the whole gain-map file reader (JPEG and HEIF through
 * gainmap_file_open_memory): parse, describe (info JSON), validate (issues),
 * streams, and decode small images - what `gainmap info`, `validate` and
 * `decode` do. */
#include "gainmap.h"
#include "standalone.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    if (!ctx)
        return 0;
    gainmap_set_option(ctx, GAINMAP_OPT_MAX_PIXELS, 1 << 20);
    gainmap_file *f = NULL;
    gainmap_status st = gainmap_file_open_memory(ctx, data, size, &f);
    gm_fuzz_expect_error(ctx, st);
    if (st == GAINMAP_OK) {
        const gainmap_info *info = gainmap_file_info(f);
        const gainmap_issue *issues;
        size_t n = gainmap_file_issues(f, &issues);
        for (size_t i = 0; i < n; i++)
            if (!issues[i].code || !issues[i].message || !issues[i].message[0])
                abort();
        char *json = NULL;
        gainmap_clear_error(ctx);
        st = gainmap_file_info_json(ctx, f, &json);
        gm_fuzz_expect_error(ctx, st);
        if (st == GAINMAP_OK) {
            if (!json || json[0] != '{')
                abort();
            gainmap_free(json);
        }
        const uint8_t *p;
        size_t len;
        /* Streams handed out lie inside the file. */
        if (gainmap_file_map_stream(f, &p, &len) == GAINMAP_OK && p && len)
            (void)(volatile uint8_t)(p[0] ^ p[len - 1]);
        if (gainmap_file_base_stream(f, &p, &len) == GAINMAP_OK && p && len)
            (void)(volatile uint8_t)(p[0] ^ p[len - 1]);
        if (info && info->has_gainmap && (uint64_t)info->base_width * info->base_height <= (1u << 16)) {
            gainmap_decode_options opts;
            gainmap_decode_options_init(&opts);
            gainmap_image out;
            gainmap_clear_error(ctx);
            st = gainmap_decode(ctx, f, &opts, &out);
            gm_fuzz_expect_error(ctx, st);
            if (st == GAINMAP_OK)
                gainmap_image_free(&out);
        }
        gainmap_file_close(f);
    }
    gainmap_ctx_free(ctx);
    return 0;
}

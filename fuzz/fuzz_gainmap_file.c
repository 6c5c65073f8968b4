/* fuzz_gainmap_file.c - the whole gain-map file reader: parse, describe,
 * validate, and decode small images. */
#include "gainmap.h"
#include "standalone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    if (!ctx)
        return 0;
    gainmap_set_option(ctx, GAINMAP_OPT_MAX_PIXELS, 1 << 20);
    gainmap_file *f = NULL;
    if (gainmap_file_open_memory(ctx, data, size, &f) == GAINMAP_OK) {
        const gainmap_info *info = gainmap_file_info(f);
        const gainmap_issue *issues;
        gainmap_file_issues(f, &issues);
        char *json = NULL;
        if (gainmap_file_info_json(ctx, f, &json) == GAINMAP_OK)
            gainmap_free(json);
        if (info && info->has_gainmap && (uint64_t)info->base_width * info->base_height <= (1u << 16)) {
            gainmap_decode_options opts;
            gainmap_decode_options_init(&opts);
            gainmap_image out;
            if (gainmap_decode(ctx, f, &opts, &out) == GAINMAP_OK)
                gainmap_image_free(&out);
        }
        gainmap_file_close(f);
    }
    gainmap_ctx_free(ctx);
    return 0;
}

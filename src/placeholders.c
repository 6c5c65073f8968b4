/* placeholders.c - temporary stubs so the library links while the owning
 * modules are being written.  Each owner deletes its stub from here. */
#include "internal.h"

void gainmap_tonemap_options_init(gainmap_tonemap_options *opts)
{
    opts->method = GAINMAP_TONEMAP_DEFAULT;
    opts->hdr_white_nits = 203.0;
    opts->peak_nits = 0.0;
    opts->base_primaries = GAINMAP_PRIMARIES_P3;
    opts->base_transfer = GAINMAP_TRANSFER_SRGB;
}

gainmap_status gainmap_tonemap(gainmap_ctx *ctx, const gainmap_image *hdr, const gainmap_tonemap_options *opts,
                               gainmap_image *sdr)
{
    (void)hdr;
    (void)opts;
    (void)sdr;
    return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "tone mapping not implemented yet");
}

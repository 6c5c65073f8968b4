/* remux.c - rewrite a gain-map JPEG as UltraHDR v1.1 without touching the
 * coded pixels: both JPEG streams keep their tables and entropy data byte
 * for byte; only the metadata segments (Exif placement, XMP, ICC chunks,
 * ISO 21496-1, MPF) are written afresh. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* Largest error, in stops, of the ISO curve max * r^e against Apple's
 * log2(1 + (H - 1) * bt709_inverse(r)) over the 256 map codes. */
static double apple_fit_error(double H, double e)
{
    double lh = log2(H), worst = 0.0;
    for (int c = 0; c < 256; c++) {
        double r = c / 255.0;
        double apple = log2(1.0 + (H - 1.0) * gainmap_bt709_to_linear(r));
        double iso = lh * pow(r, e);
        worst = GM_MAX(worst, fabs(iso - apple));
    }
    return worst;
}

/* FORMATS.md 5.3: Apple applies 1 + (H-1)*g_lin, ISO 2^(G*w).  With the
 * map's bytes fixed, the closest ISO description is min 0 (code 0 = no
 * gain), max log2(H) (code 255 = full headroom), offsets 0 and the gamma
 * whose curve r^(1/gamma) best follows Apple's (minimax over the codes). */
gainmap_status gm_apple_to_iso(gainmap_ctx *ctx, double headroom, gainmap_metadata *m, double *max_error_stops)
{
    if (!(headroom >= 1.0) || !isfinite(headroom) || headroom > 65536.0)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "Apple gain-map headroom %g is not in [1, 65536]", headroom);
    if (headroom < 1.0 + 1e-6)
        headroom = 1.0 + 1e-6;
    /* coarse grid then golden-section refinement on the exponent e = 1/gamma */
    double best_e = 1.0, best = apple_fit_error(headroom, 1.0);
    for (double e = 0.2; e <= 3.0; e += 0.01) {
        double v = apple_fit_error(headroom, e);
        if (v < best) {
            best = v;
            best_e = e;
        }
    }
    double a = best_e - 0.01, b = best_e + 0.01;
    const double phi = 0.6180339887498949;
    for (int i = 0; i < 40; i++) {
        double c = b - phi * (b - a), d = a + phi * (b - a);
        if (apple_fit_error(headroom, c) < apple_fit_error(headroom, d))
            b = d;
        else
            a = c;
    }
    double e = 0.5 * (a + b);
    gainmap_params p;
    memset(&p, 0, sizeof p);
    p.channel_count = 1;
    p.use_base_colour_space = 1;
    p.base_hdr_headroom = 0.0;
    p.alternate_hdr_headroom = floor(log2(headroom) * 1e6 + 0.5) / 1e6;
    for (int c = 0; c < 3; c++) {
        p.gain_map_min[c] = 0.0;
        p.gain_map_max[c] = p.alternate_hdr_headroom;
        p.gamma[c] = floor(1e6 / e + 0.5) / 1e6;
    }
    gainmap_status st = gainmap_params_to_metadata(&p, m);
    if (st != GAINMAP_OK)
        return gm_error(ctx, st, "cannot express the Apple gain map in ISO 21496-1 fractions");
    if (max_error_stops)
        *max_error_stops = apple_fit_error(headroom, 1.0 / p.gamma[0]);
    return GAINMAP_OK;
}

gainmap_status gainmap_remux_jpeg(gainmap_ctx *ctx, const gainmap_file *f, gainmap_metadata_mode mode, uint8_t **out,
                                  size_t *out_size)
{
    if (!f || !out || !out_size)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "remux: missing file or output pointers");
    *out = NULL;
    *out_size = 0;
    const gainmap_info *info = gainmap_file_info(f);
    if (info->container != GAINMAP_CONTAINER_JPEG)
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "remux handles JPEG files only");
    if (!info->has_gainmap)
        return gm_error(ctx, GAINMAP_ERR_NO_GAINMAP, "the file has no usable gain map to remux");
    const uint8_t *base, *map, *icc, *exif;
    size_t base_size, map_size, icc_size, exif_size;
    gainmap_status st = gainmap_file_base_stream(f, &base, &base_size);
    if (st == GAINMAP_OK)
        st = gainmap_file_map_stream(f, &map, &map_size);
    if (st != GAINMAP_OK)
        return gm_error(ctx, st, "the file's image streams could not be located");
    if (gainmap_file_base_icc(f, &icc, &icc_size) != GAINMAP_OK) {
        icc = NULL;
        icc_size = 0;
    }
    if (gainmap_file_exif(f, &exif, &exif_size) != GAINMAP_OK) {
        exif = NULL;
        exif_size = 0;
    }
    gainmap_metadata meta = info->meta;
    if (meta.kind == GAINMAP_KIND_APPLE) {
        if ((st = gm_apple_to_iso(ctx, meta.apple_headroom, &meta, NULL)) != GAINMAP_OK)
            return st;
    } else {
        /* Read-side compatibility flags (libultrahdr 0x04/0x08) are never written. */
        meta.flags = (uint8_t)((meta.channel_count == 3 ? GM_ISO_FLAG_MULTICHANNEL : 0) |
                               (meta.use_base_colour_space ? GM_ISO_FLAG_BASE_COLOUR : 0));
        meta.minimum_version = 0;
        meta.writer_version = 0;
    }
    if ((st = gainmap_metadata_check(ctx, &meta)) != GAINMAP_OK)
        return st;
    gm_jpeg_parts parts = {base, base_size, map, map_size, exif, exif_size, icc, icc_size, &meta, mode};
    return gm_jpeg_assemble(ctx, &parts, out, out_size);
}

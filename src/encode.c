/* encode.c - HDR master -> UltraHDR v1.1 JPEG.
 *
 * Closed loop: the base is tone-mapped (or given), JPEG-compressed, then
 * DECODED again, and the gain map is computed against that decoded base, so
 * the map also corrects the base's compression error (FORMATS.md 4.1). */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The map's flat quantiser step at quality 50: 0.75 (100 - q) codes at
 * q >= 50, i.e. 6 at the default q 92 and 19 at the small preset's q 75
 * (both on the measured quality-per-byte frontier, docs/encoding.md). */
#define GM_MAP_FLAT_STEP 37.5
#define GM_MAP_DC_STEP 16.0

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static gainmap_status check_options(gainmap_ctx *ctx, const gainmap_encode_options *o)
{
    if (o->quality < 1 || o->quality > 100)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "base JPEG quality %d is outside 1..100", o->quality);
    if (o->gainmap_quality < 1 || o->gainmap_quality > 100)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gain-map JPEG quality %d is outside 1..100",
                        o->gainmap_quality);
    if (o->subsampling != 444 && o->subsampling != 422 && o->subsampling != 420)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "chroma subsampling %d is not 444, 422 or 420", o->subsampling);
    if (o->gainmap_tables != 0 && o->gainmap_tables != 1)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gain-map tables %d are not 0 (flat) or 1 (standard)",
                        o->gainmap_tables);
    if (o->progressive != 0 && o->progressive != 1)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "progressive must be 0 or 1, not %d", o->progressive);
    if (o->metadata != GAINMAP_METADATA_BOTH && o->metadata != GAINMAP_METADATA_XMP &&
        o->metadata != GAINMAP_METADATA_ISO)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "unknown metadata mode %d", (int)o->metadata);
    return GAINMAP_OK;
}

/* An Apple maker note's HDRHeadroom/HDRGain (tags 33/48) describe Apple's
 * own gain map, not ours: such EXIF is rebuilt without the maker note
 * (gm_exif_merge_apple with no headroom keeps IFD0's descriptive tags, the
 * Exif and GPS IFDs), the orientation put back as it was (the JPEG's pixels
 * are not turned).  If it cannot be rebuilt, only the orientation stays. */
static gainmap_status drop_apple_maker(gainmap_ctx *ctx, const uint8_t **exif, size_t *exif_size, uint8_t **owned)
{
    gm_exif_facts f;
    gm_exif_read(*exif, *exif_size, &f);
    if (!f.has_maker33 && !f.has_maker48)
        return GAINMAP_OK;
    int orientation = gm_exif_orientation(*exif, *exif_size);
    uint8_t *clean = NULL;
    size_t clean_size = 0;
    if (gm_exif_merge_apple(NULL, *exif, *exif_size, 0.0, &clean, &clean_size) == GAINMAP_OK && clean) {
        if (orientation > 1)
            gm_exif_set_orientation(clean, clean_size, orientation);
        *owned = clean;
        *exif = clean;
        *exif_size = clean_size;
        return GAINMAP_OK;
    }
    free(clean);
    *exif = NULL;
    *exif_size = 0;
    if (orientation <= 1)
        return GAINMAP_OK;
    gainmap_status st = gm_exif_make(ctx, orientation, owned, exif_size);
    *exif = *owned;
    return st;
}

/* The EXIF to carry: the master's, else the given base's (either without
 * an Apple maker note's HDR tags), else a minimal one when the master has a
 * non-default orientation. */
static gainmap_status pick_exif(gainmap_ctx *ctx, const gainmap_image *hdr, const uint8_t *base, size_t base_size,
                                uint8_t **owned, const uint8_t **exif, size_t *exif_size)
{
    *owned = NULL;
    *exif = NULL;
    *exif_size = 0;
    if (hdr->exif && hdr->exif_size) {
        *exif = hdr->exif;
        *exif_size = hdr->exif_size;
        return drop_apple_maker(ctx, exif, exif_size, owned);
    }
    if (base) {
        gm_jpeg_layout l;
        if (gm_jpeg_scan(ctx, base, base_size, 0, &l) == GAINMAP_OK) {
            long i = gm_jpeg_find(&l, base, 0xE1, GM_EXIF_ID, GM_EXIF_ID_LEN, 0);
            if (i >= 0) {
                *exif = base + l.segs[i].payload + GM_EXIF_ID_LEN;
                *exif_size = l.segs[i].payload_size - GM_EXIF_ID_LEN;
            }
            gm_jpeg_layout_free(&l);
        }
        gainmap_clear_error(ctx);   /* the base is scanned again (strictly) when assembled */
        if (*exif)
            return drop_apple_maker(ctx, exif, exif_size, owned);
    }
    if (hdr->orientation > 1 && hdr->orientation <= 8) {
        gainmap_status st = gm_exif_make(ctx, hdr->orientation, owned, exif_size);
        *exif = *owned;
        return st;
    }
    return GAINMAP_OK;
}

gainmap_status gm_encode_jpeg(gainmap_ctx *ctx, const gainmap_image *hdr, const gainmap_image *sdr,
                              const uint8_t *base_jpeg, size_t base_jpeg_size, const gainmap_encode_options *opts,
                              uint8_t **out, size_t *out_size, gm_encode_stats *stats)
{
    if (!hdr || !hdr->data || !out || !out_size)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "encode: missing HDR image or output pointers");
    *out = NULL;
    *out_size = 0;
    gainmap_encode_options defaults;
    if (!opts) {
        gainmap_encode_options_init(&defaults);
        opts = &defaults;
    }
    gm_encode_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    gainmap_status st = check_options(ctx, opts);
    if (st != GAINMAP_OK)
        return st;
    gainmap_image limited;   /* hdr clipped at PQ's peak, when it goes beyond */
    if ((st = gm_master_limit(ctx, hdr, &limited, &hdr)) != GAINMAP_OK)
        return st;

    gainmap_image tm, decoded, map;
    memset(&tm, 0, sizeof tm);
    memset(&decoded, 0, sizeof decoded);
    memset(&map, 0, sizeof map);
    uint8_t *base = NULL, *map_jpeg = NULL, *icc = NULL, *exif_owned = NULL;
    size_t base_size = 0, map_size = 0, icc_size = 0;
    const uint8_t *icc_use = NULL, *exif = NULL;
    size_t icc_use_size = 0, exif_size = 0;
    gainmap_primaries base_prim = opts->tonemap.base_primaries;
    double t;

    if (base_jpeg) {
        /* A given JPEG base is kept byte for byte. */
        t = now_seconds();
        if ((st = gainmap_jpeg_decode(ctx, base_jpeg, base_jpeg_size, &decoded)) != GAINMAP_OK)
            goto done;
        stats->jpeg += now_seconds() - t;
        base_prim = GAINMAP_PRIMARIES_BT709;   /* untagged JPEG = sRGB */
        if (decoded.icc && decoded.icc_size) {
            gainmap_primaries ip = GAINMAP_PRIMARIES_UNKNOWN;
            gainmap_transfer itf = GAINMAP_TRANSFER_UNKNOWN;
            if (gainmap_icc_identify(ctx, decoded.icc, decoded.icc_size, &ip, &itf) != GAINMAP_OK ||
                ip == GAINMAP_PRIMARIES_UNKNOWN) {
                st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "the SDR base's ICC profile names primaries we cannot use");
                goto done;
            }
            base_prim = ip;
            icc_use = decoded.icc;
            icc_use_size = decoded.icc_size;
        }
        base = (uint8_t *)base_jpeg;
        base_size = base_jpeg_size;
    } else {
        const gainmap_image *src = sdr;
        if (!src) {
            t = now_seconds();
            if ((st = gainmap_tonemap(ctx, hdr, &opts->tonemap, &tm)) != GAINMAP_OK)
                goto done;
            stats->tonemap += now_seconds() - t;
            src = &tm;
        }
        if (src->width != hdr->width || src->height != hdr->height) {
            st = gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "SDR image is %ux%u but the HDR image is %ux%u", src->width,
                          src->height, hdr->width, hdr->height);
            goto done;
        }
        if (src->type != GAINMAP_PIXEL_U8) {
            st = gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "the SDR base must be 8-bit");
            goto done;
        }
        base_prim = gm_sdr_primaries(src, opts);
        const char *name = gm_icc_name_for(base_prim, GAINMAP_TRANSFER_SRGB);
        if (!name) {
            st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "SDR base primaries %s are not supported (use p3, srgb or bt2020)",
                          gainmap_primaries_name(base_prim));
            goto done;
        }
        if ((st = gainmap_icc_generate(ctx, name, &icc, &icc_size)) != GAINMAP_OK)
            goto done;
        icc_use = icc;
        icc_use_size = icc_size;
        t = now_seconds();
        gm_jpeg_coding bc = {GM_JPEG_TABLES_STANDARD, 0, 0, 0, opts->progressive};
        if ((st = gm_jpeg_encode_coded(ctx, src, opts->quality, opts->subsampling, 1, &bc, NULL, &base,
                                       &base_size)) != GAINMAP_OK)
            goto done;
        /* The tone-mapped base is not needed once compressed: the decoded
         * base takes its buffer (no new pages) when it is ours. */
        if (src == &tm) {
            if ((st = gm_jpeg_decode_into(ctx, base, base_size, &tm)) != GAINMAP_OK)
                goto done;
            decoded = tm;
            memset(&tm, 0, sizeof tm);
        } else if ((st = gainmap_jpeg_decode(ctx, base, base_size, &decoded)) != GAINMAP_OK) {
            goto done;
        }
        stats->jpeg += now_seconds() - t;
    }
    gainmap_image_free(&tm);
    decoded.primaries = base_prim;
    decoded.transfer = GAINMAP_TRANSFER_SRGB;

    t = now_seconds();
    gainmap_metadata meta;
    /* The decoded base's pixels become the map's (its ICC may still be
     * used): with the tone-mapped base freed after compression and the
     * JPEGs coded without a whole-image coefficient buffer, the peak is the
     * master + one 3-byte-per-pixel image. */
    if ((st = gm_compute_over_base(ctx, &decoded, hdr, opts, &map, &meta)) != GAINMAP_OK)
        goto done;
    stats->gainmap += now_seconds() - t;

    t = now_seconds();
    gm_jpeg_coding mc = {opts->gainmap_tables ? GM_JPEG_TABLES_STANDARD : GM_JPEG_TABLES_FLAT, GM_MAP_FLAT_STEP, GM_MAP_DC_STEP, 0,
                         opts->progressive};
    if ((st = gm_jpeg_encode_coded(ctx, &map, opts->gainmap_quality, GM_MAP_SUBSAMPLING, 1, &mc, NULL, &map_jpeg,
                                   &map_size)) != GAINMAP_OK)
        goto done;
    stats->jpeg += now_seconds() - t;

    t = now_seconds();
    if ((st = pick_exif(ctx, hdr, base_jpeg, base_jpeg_size, &exif_owned, &exif, &exif_size)) != GAINMAP_OK)
        goto done;
    gm_jpeg_parts parts = {base, base_size, map_jpeg, map_size, exif, exif_size, icc_use, icc_use_size,
                           &meta,  opts->metadata};
    st = gm_jpeg_assemble(ctx, &parts, out, out_size);
    stats->assemble += now_seconds() - t;
    stats->base_bytes = base_size;
    stats->map_bytes = map_size;
    stats->map_width = map.width;
    stats->map_height = map.height;
done:
    free(limited.data);   /* pixels only: the rest is the caller's master's */
    if (base != base_jpeg)
        free(base);
    free(map_jpeg);
    free(icc);
    free(exif_owned);
    gainmap_image_free(&tm);
    gainmap_image_free(&decoded);
    gainmap_image_free(&map);
    return st;
}

void gm_low_rate_options(gainmap_encode_options *o)
{
    gainmap_encode_options_init(o);
    o->quality = 75;
    o->gainmap_quality = 70;
    o->gainmap_scale = 2;
}

/* PSNR of decode(jpg) at full headroom against the master, on 10-bit PQ
 * code values of all channels, both in the master's primaries (float
 * masters are PQ-encoded, clipped at 10000 cd/m2). */
gainmap_status gm_encode_psnr_pq10(gainmap_ctx *ctx, const gainmap_image *master, const uint8_t *jpg, size_t size,
                                   double *psnr)
{
    gainmap_file *f = NULL;
    gainmap_status st = gainmap_file_open_memory(ctx, jpg, size, &f);
    if (st != GAINMAP_OK)
        return st;
    gainmap_decode_options o;
    gainmap_decode_options_init(&o);
    o.headroom = 0;
    o.transfer = GAINMAP_TRANSFER_PQ;
    o.primaries = master->primaries != GAINMAP_PRIMARIES_UNKNOWN ? master->primaries : GAINMAP_PRIMARIES_BT709;
    o.keep_orientation = 1;
    gainmap_image out;
    memset(&out, 0, sizeof out);
    st = gainmap_decode(ctx, f, &o, &out);
    gainmap_file_close(f);
    if (st != GAINMAP_OK)
        return st;
    if (out.type != GAINMAP_PIXEL_U16 || out.width != master->width || out.height != master->height) {
        gainmap_image_free(&out);
        return gm_error(ctx, GAINMAP_ERR_STATE, "decoded image does not match the master");
    }
    gm_linear lin;
    float *row = NULL;
    bool direct = master->type == GAINMAP_PIXEL_U16 && master->transfer == GAINMAP_TRANSFER_PQ;
    st = gm_linear_init(ctx, &lin, master, o.primaries);
    if (st == GAINMAP_OK && !(row = gm_malloc(ctx, (size_t)master->width * 3 * sizeof(float))))
        st = GAINMAP_ERR_NOMEM;
    double se = 0;
    for (uint32_t y = 0; st == GAINMAP_OK && y < master->height; y++) {
        const uint16_t *d = (const uint16_t *)(const void *)((const uint8_t *)out.data + (size_t)y * out.stride);
        const uint16_t *m = (const uint16_t *)(const void *)((const uint8_t *)master->data + (size_t)y * master->stride);
        if (!direct)
            gm_linear_row(&lin, y, row);
        for (uint32_t x = 0; x < master->width; x++)
            for (uint32_t c = 0; c < 3; c++) {
                double ref = direct ? m[(size_t)x * master->channels + (master->channels == 1 ? 0 : c)] / 65535.0
                                    : gainmap_pq_inverse_eotf(GM_CLAMP(row[3 * x + c] * GM_SDR_WHITE_NITS, 0.0, GM_PQ_PEAK_NITS));
                double a = floor(ref * 1023.0 + 0.5);
                double b = floor(d[(size_t)x * out.channels + c] / 65535.0 * 1023.0 + 0.5);
                se += (a - b) * (a - b);
            }
    }
    double mse = se / ((double)master->width * master->height * 3.0);
    *psnr = mse > 0 ? 10.0 * log10(1023.0 * 1023.0 / mse) : 99.0;
    free(row);
    gm_linear_free(&lin);
    gainmap_image_free(&out);
    return st;
}

gainmap_status gainmap_encode_jpeg(gainmap_ctx *ctx, const gainmap_image *hdr, const gainmap_image *sdr,
                                   const gainmap_encode_options *opts, uint8_t **out, size_t *out_size)
{
    return gm_encode_jpeg(ctx, hdr, sdr, NULL, 0, opts, out, out_size, NULL);
}

gainmap_status gainmap_encode_jpeg_with_base(gainmap_ctx *ctx, const gainmap_image *hdr, const uint8_t *base_jpeg,
                                             size_t base_size, const gainmap_encode_options *opts, uint8_t **out,
                                             size_t *out_size)
{
    if (!base_jpeg || !base_size)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "encode: missing base JPEG");
    return gm_encode_jpeg(ctx, hdr, NULL, base_jpeg, base_size, opts, out, out_size, NULL);
}

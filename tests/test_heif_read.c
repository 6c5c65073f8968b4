/* test_heif_read.c - every HEIC/AVIF/HIF of the corpus through the PUBLIC
 * file API (gainmap_file_open, info, issues, streams, gainmap_decode):
 * dialects, displayed sizes, exact metadata fractions and their source,
 * issues of the files whose gain map must be ignored, one-line errors for
 * the corrupt one, and decoded pixels against an independent reference:
 * base and gain map decoded by heif-convert (libheif-examples) to PNG, the
 * gain-map formula (FORMATS 4.2/4.3, 5.3) evaluated here in doubles. */
#include "check.h"
#include "gainmap.h"
#include "support/testutil.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static const char *tmpdir;

static gainmap_file *open_rel(gainmap_ctx *ctx, const char *rel)
{
    gainmap_file *f = NULL;
    gainmap_status st = gainmap_file_open(ctx, tu_corpus(rel), &f);
    CHECK_MSG(st == GAINMAP_OK, "%s: %s", rel, gainmap_last_error(ctx));
    return f;
}

static const gainmap_issue *find_issue(const gainmap_file *f, const char *code)
{
    const gainmap_issue *is;
    size_t n = gainmap_file_issues(f, &is);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(is[i].code, code))
            return &is[i];
    return NULL;
}

#define CHECK_FRAC(fr, N, D)         \
    do {                             \
        CHECK_INT((fr).n, (N));      \
        CHECK_INT((fr).d, (D));      \
    } while (0)

/* ------------------------------------------------------------------ */
/* Info through the public API                                         */

static void test_info_iphone16(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = open_rel(ctx, "apple_heic_gainmap/libvips__apple-heic-gainmap.heic");
    if (f) {
        const gainmap_info *in = gainmap_file_info(f);
        CHECK_INT(in->container, GAINMAP_CONTAINER_HEIF);
        CHECK_INT(in->has_gainmap, 1);
        CHECK_INT(in->dialects, GAINMAP_DIALECT_TMAP | GAINMAP_DIALECT_ISO21496 | GAINMAP_DIALECT_APPLE);
        CHECK_INT(in->meta_source, GAINMAP_META_ISO21496);   /* tmap wins over Apple */
        CHECK_INT(in->locator, GAINMAP_LOCATOR_HEIF_ITEM);
        /* stored 5712x4284 grids with irot 3: displayed portrait */
        CHECK_INT(in->base_width, 4284);
        CHECK_INT(in->base_height, 5712);
        CHECK_INT(in->map_width, 2142);
        CHECK_INT(in->map_height, 2856);
        CHECK_INT(in->map_components, 1);
        CHECK_INT(in->orientation, 1);
        CHECK_INT(in->base_primaries, GAINMAP_PRIMARIES_P3);   /* Display P3 ICC */
        CHECK_INT(in->base_transfer, GAINMAP_TRANSFER_SRGB);
        const gainmap_metadata *m = &in->meta;
        CHECK_INT(m->kind, GAINMAP_KIND_ISO);
        CHECK_INT(m->flags, 0x40);
        CHECK_INT(m->channel_count, 1);
        CHECK_FRAC(m->base_hdr_headroom, 0, 1000000);
        CHECK_FRAC(m->alternate_hdr_headroom, 2787109, 1000000);
        CHECK_FRAC(m->gain_map_min[0], -7381, 1000000);
        CHECK_FRAC(m->gain_map_max[0], 2787109, 1000000);
        CHECK_FRAC(m->gamma[0], 896973, 1000000);
        CHECK_FRAC(m->base_offset[0], 10, 1000000);
        CHECK_FRAC(m->alternate_offset[0], 10, 1000000);
        size_t n = gainmap_file_issues(f, NULL);
        CHECK_INT(n, 0);
        const uint8_t *icc, *exif;
        size_t icc_size, exif_size;
        CHECK_INT(gainmap_file_base_icc(f, &icc, &icc_size), GAINMAP_OK);
        CHECK_INT(icc_size, 536);
        CHECK(icc && !memcmp(icc + 36, "acsp", 4));
        CHECK_INT(gainmap_file_exif(f, &exif, &exif_size), GAINMAP_OK);
        CHECK(exif && exif_size > 100 && (!memcmp(exif, "MM\0*", 4) || !memcmp(exif, "II*\0", 4)));
        char *json = NULL;
        CHECK_INT(gainmap_file_info_json(ctx, f, &json), GAINMAP_OK);
        CHECK_CONTAINS(json, "\"HDRGainMapHeadroom\": 6.902454");
        CHECK_CONTAINS(json, "\"gainmap_kind\": \"tmap\", \"base_item\": 46, \"gainmap_item\": 62, \"tmap_item\": 122");
        CHECK_CONTAINS(json, "\"base_stored\": {\"width\": 5712, \"height\": 4284, \"irot\": 3}");
        CHECK_CONTAINS(json, "\"apple_headroom\": 6.902454, \"apple_headroom_source\": \"xmp\"");
        gainmap_free(json);
    }
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

static void test_info_pug_apple_only(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = open_rel(ctx, "apple_heic_gainmap/pillowheif__pug.heic");
    if (f) {
        const gainmap_info *in = gainmap_file_info(f);
        CHECK_INT(in->has_gainmap, 1);
        CHECK_INT(in->dialects, GAINMAP_DIALECT_APPLE);
        CHECK_INT(in->meta_source, GAINMAP_META_APPLE);
        CHECK_INT(in->meta.kind, GAINMAP_KIND_APPLE);
        /* maker33 0.8786, no tag 48: 1.8 stops (FORMATS 5.3) */
        CHECK_NEAR(in->meta.apple_headroom, exp2(1.8), 1e-6);
        CHECK_INT(in->base_width, 4032);
        CHECK_INT(in->base_height, 3024);
        CHECK_INT(in->map_width, 2016);
        CHECK_INT(in->map_height, 1512);
        CHECK_INT(in->map_components, 1);
        /* the map is one coded item: its byte range is known */
        CHECK_INT(in->map_offset, 1161154);
        CHECK_INT(in->map_size, 128121);
        const gainmap_issue *is = find_issue(f, "apple-only");
        CHECK(is != NULL);
        if (is) {
            CHECK_INT(is->severity, GAINMAP_SEVERITY_WARNING);
            CHECK_STR(is->message, "Apple gain map only (no ISO 21496-1 'tmap' item): non-Apple platforms show SDR");
        }
    }
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

static void test_info_samsung(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = open_rel(ctx, "heic_gainmap_other/pillowheif__aux_YCbCr.heic");
    if (f) {
        const gainmap_info *in = gainmap_file_info(f);
        CHECK_INT(in->has_gainmap, 1);
        CHECK_INT(in->dialects, GAINMAP_DIALECT_TMAP | GAINMAP_DIALECT_ISO21496 | GAINMAP_DIALECT_HDRGM_XMP);
        CHECK_INT(in->meta_source, GAINMAP_META_ISO21496);
        CHECK_INT(in->base_width, 4000);
        CHECK_INT(in->base_height, 1848);
        CHECK_INT(in->map_width, 1000);
        CHECK_INT(in->map_height, 462);
        CHECK_INT(in->map_components, 3);         /* 3-channel map ... */
        CHECK_INT(in->meta.channel_count, 1);     /* ... with 1-channel metadata */
        CHECK_FRAC(in->meta.gain_map_max[0], 9646899, 4194304);
        CHECK_FRAC(in->meta.alternate_hdr_headroom, 9646899, 4194304);
        /* XMP GainMapMax 2.3 agrees with the tmap: no mismatch issue */
        CHECK(find_issue(f, "xmp-iso-mismatch") == NULL);
        CHECK_INT(gainmap_file_issues(f, NULL), 0);
    }
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

static void check_libavif_seine(const char *rel, unsigned flags, uint32_t mw, uint32_t mh, gainmap_transfer bt,
                                int64_t hb_n, uint32_t hb_d, int64_t ha_n, uint32_t ha_d)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = open_rel(ctx, rel);
    if (f) {
        const gainmap_info *in = gainmap_file_info(f);
        CHECK_INT(in->has_gainmap, 1);
        CHECK_INT(in->dialects, GAINMAP_DIALECT_TMAP | GAINMAP_DIALECT_ISO21496);
        CHECK_INT(in->meta_source, GAINMAP_META_ISO21496);
        CHECK_INT(in->base_width, 400);
        CHECK_INT(in->base_height, 300);
        CHECK_INT(in->map_width, mw);
        CHECK_INT(in->map_height, mh);
        CHECK_INT(in->map_components, 3);
        CHECK_INT(in->base_primaries, GAINMAP_PRIMARIES_BT709);
        CHECK_INT(in->base_transfer, bt);
        const gainmap_metadata *m = &in->meta;
        CHECK_INT(m->flags, flags);
        CHECK_INT(m->channel_count, 3);
        CHECK_FRAC(m->base_hdr_headroom, hb_n, hb_d);
        CHECK_FRAC(m->alternate_hdr_headroom, ha_n, ha_d);
        CHECK_FRAC(m->gain_map_min[0], -256907, 1000000);
        CHECK_FRAC(m->gain_map_min[1], -52273, 200000);
        CHECK_FRAC(m->gain_map_min[2], -70071, 250000);
        CHECK_FRAC(m->gain_map_max[2], 1277969, 1000000);
        CHECK_FRAC(m->gamma[0], 119223, 125000);
        CHECK_FRAC(m->gamma[2], 459711, 500000);
        CHECK_FRAC(m->base_offset[1], 1, 64);
        CHECK_FRAC(m->alternate_offset[2], 1, 64);
    }
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

static void test_info_avif_tmap(void)
{
    check_libavif_seine("avif_tmap/libavif__seine_sdr_gainmap_srgb.avif", 0xC0, 400, 300, GAINMAP_TRANSFER_SRGB, 0, 1,
                        13, 10);
    check_libavif_seine("avif_tmap/libavif__seine_hdr_gainmap_srgb.avif", 0x80, 400, 300, GAINMAP_TRANSFER_PQ, 13, 10,
                        0, 1);
    check_libavif_seine("avif_tmap/libavif__seine_hdr_gainmap_small_srgb.avif", 0x80, 200, 150, GAINMAP_TRANSFER_PQ,
                        13, 10, 0, 1);

    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = open_rel(ctx, "avif_tmap/libavif__color_grid_gainmap_different_grid.avif");
    if (f) {
        const gainmap_info *in = gainmap_file_info(f);
        CHECK_INT(in->has_gainmap, 1);
        CHECK_INT(in->base_width, 512);
        CHECK_INT(in->base_height, 600);
        CHECK_INT(in->map_width, 128);
        CHECK_INT(in->map_height, 160);
        CHECK_INT(in->base_size, 0);   /* grids have no single byte range */
        CHECK_FRAC(in->meta.base_hdr_headroom, 6, 2);
        CHECK_FRAC(in->meta.gain_map_max[1], 12, 2);
        CHECK_FRAC(in->meta.gamma[2], 1, 3);
        CHECK_FRAC(in->meta.alternate_offset[2], 40, 1000);
        CHECK(find_issue(f, "map-aspect") != NULL);
        CHECK(find_issue(f, "base-is-hdr") != NULL);
    }
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

static void test_info_avif_adobe(void)
{
    static const char *files[2] = {"avif_adobe_aux/libavif__colors_hdr_p3.avif",
                                   "avif_adobe_aux/libavif__seine_hdr_srgb.avif"};
    static const gainmap_primaries prim[2] = {GAINMAP_PRIMARIES_P3, GAINMAP_PRIMARIES_BT709};
    static const uint32_t hb[2][2] = {{6, 5}, {13, 10}};
    static const uint32_t size[2] = {200, 400};
    for (int i = 0; i < 2; i++) {
        gainmap_ctx *ctx = gainmap_ctx_new();
        gainmap_file *f = open_rel(ctx, files[i]);
        if (f) {
            const gainmap_info *in = gainmap_file_info(f);
            CHECK_INT(in->has_gainmap, 1);
            CHECK_INT(in->dialects, GAINMAP_DIALECT_HDRGM_XMP);
            CHECK_INT(in->meta_source, GAINMAP_META_XMP);
            CHECK_INT(in->base_primaries, prim[i]);
            CHECK_INT(in->base_transfer, GAINMAP_TRANSFER_PQ);
            CHECK_INT(in->base_width, size[i]);
            CHECK_INT(in->map_width, size[i]);
            CHECK_INT(in->meta.use_base_colour_space, 1);   /* always for XMP */
            CHECK_FRAC(in->meta.base_hdr_headroom, hb[i][0], hb[i][1]);   /* BaseRenditionIsHDR */
            CHECK_INT(in->meta.alternate_hdr_headroom.n, 0);
            const gainmap_issue *is = find_issue(f, "aux-gainmap-only");
            CHECK(is && is->severity == GAINMAP_SEVERITY_WARNING);
        }
        gainmap_file_close(f);
        gainmap_ctx_free(ctx);
    }
}

static void check_plain(const char *rel, uint32_t w, uint32_t h, gainmap_primaries p, gainmap_transfer t)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = open_rel(ctx, rel);
    if (f) {
        const gainmap_info *in = gainmap_file_info(f);
        CHECK_INT(in->container, GAINMAP_CONTAINER_HEIF);
        CHECK_INT(in->has_gainmap, 0);
        CHECK_INT(in->dialects, 0);
        CHECK_INT(in->meta_source, GAINMAP_META_NONE);
        CHECK_INT(in->base_width, w);
        CHECK_INT(in->base_height, h);
        CHECK_INT(in->base_primaries, p);
        CHECK_INT(in->base_transfer, t);
        const uint8_t *d;
        size_t n;
        CHECK_INT(gainmap_file_map_stream(f, &d, &n), GAINMAP_ERR_NO_GAINMAP);
        CHECK_INT(gainmap_file_base_stream(f, &d, &n), GAINMAP_OK);   /* the image itself still extracts */
        gainmap_image out;
        if (t == GAINMAP_TRANSFER_PQ) {
            /* a plain HDR image: an info note, and decode writes the image itself (tests/test_plain_hdr.c) */
            CHECK(find_issue(f, "no-gainmap") == NULL);
            const gainmap_issue *is = find_issue(f, "plain-hdr");
            CHECK(is && is->severity == GAINMAP_SEVERITY_INFO);
            if (is)
                CHECK_STR(is->message, "plain HDR image (PQ), no gain map: HDR screens show it as it is, others "
                                       "tone-map it");
            CHECK_INT(gainmap_decode(ctx, f, NULL, &out), GAINMAP_OK);
            CHECK_INT(out.width, w);
            CHECK_INT(out.height, h);
            CHECK_INT(out.transfer, GAINMAP_TRANSFER_PQ);
            CHECK_INT(out.primaries, GAINMAP_PRIMARIES_BT2020);
            gainmap_image_free(&out);
        } else {
            const gainmap_issue *is = find_issue(f, "no-gainmap");
            CHECK(is && is->severity == GAINMAP_SEVERITY_WARNING);
            CHECK(find_issue(f, "plain-hdr") == NULL);
            CHECK_INT(gainmap_decode(ctx, f, NULL, &out), GAINMAP_ERR_NO_GAINMAP);
            CHECK_STR(gainmap_last_error(ctx), "the file has no usable gain map");
        }
    }
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

static void test_info_no_gainmap(void)
{
    /* the primary grid has a Display P3 profile; another item's is empty */
    check_plain("negative_no_gainmap/pillowheif__empty_icc.heic", 1025, 900, GAINMAP_PRIMARIES_P3,
                GAINMAP_TRANSFER_SRGB);
    check_plain("heic_gainmap_other/libvips__oneplus-heic.heic", 4096, 3072, GAINMAP_PRIMARIES_P3,
                GAINMAP_TRANSFER_SRGB);
    check_plain("hdr_master/libavif__cosmos1650_yuv444_10bpc_p3pq.avif", 1024, 428, GAINMAP_PRIMARIES_P3,
                GAINMAP_TRANSFER_PQ);
    check_plain("hdr_master/libavif__colors_wcg_hdr_rec2020.avif", 200, 200, GAINMAP_PRIMARIES_BT2020,
                GAINMAP_TRANSFER_PQ);
    check_plain("corrupt_fuzz/libavif__poc_b_506387278.avif", 128, 64, GAINMAP_PRIMARIES_BT709,
                GAINMAP_TRANSFER_SRGB);
}

/* tmaps that readers must ignore: the file opens, the base is all there is */
static void check_ignored(const char *rel, uint32_t w, uint32_t h, const char *code, gainmap_severity sev,
                          const char *message)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = open_rel(ctx, rel);
    if (f) {
        const gainmap_info *in = gainmap_file_info(f);
        CHECK_INT(in->has_gainmap, 0);
        CHECK_INT(in->meta_source, GAINMAP_META_NONE);
        CHECK_INT(in->base_width, w);
        CHECK_INT(in->base_height, h);
        const gainmap_issue *is = find_issue(f, code);
        CHECK_MSG(is != NULL, "%s: no issue %s", rel, code);
        if (is) {
            CHECK_INT(is->severity, sev);
            CHECK_STR(is->message, message);
        }
        CHECK(find_issue(f, "no-gainmap") == NULL);   /* the tmap issue says it */
        CHECK(find_issue(f, "plain-hdr") == NULL);
        /* what a reader shows is the primary, here a PQ image: decode writes it as it is */
        CHECK_INT(in->base_transfer, GAINMAP_TRANSFER_PQ);
        gainmap_image out;
        CHECK_INT(gainmap_decode(ctx, f, NULL, &out), GAINMAP_OK);
        CHECK_INT(out.width, w);
        CHECK_INT(out.height, h);
        gainmap_image_free(&out);
    }
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

static void test_ignored_tmaps(void)
{
    check_ignored("corrupt_fuzz/libavif__seine_hdr_gainmap_wrongaltr.avif", 400, 300, "tmap-not-preferred",
                  GAINMAP_SEVERITY_WARNING,
                  "the 'altr' group lists base item 1 before tmap item 2, so the tmap is not the preferred rendition; "
                  "the gain map is ignored");
    check_ignored("corrupt_fuzz/libavif__unsupported_gainmap_version.avif", 100, 100, "tmap-version", GAINMAP_SEVERITY_WARNING,
                  "tmap item 3 has version 99 (only 0 is defined); the gain map is ignored");
    check_ignored("corrupt_fuzz/libavif__supported_gainmap_writer_version_with_extra_bytes.avif", 100, 100,
                  "tmap-trailing",
                  GAINMAP_SEVERITY_ERROR,
                  "tmap item 3: 4 bytes follow the ISO 21496-1 metadata although writer_version is 0; the gain map "
                  "is rejected");
}

static void test_corrupt_one_line(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = NULL;
    CHECK_INT(gainmap_file_open(ctx, tu_corpus("corrupt_fuzz/pillowheif__corrupted.hif"), &f),
              GAINMAP_ERR_TRUNCATED);
    CHECK(f == NULL);
    CHECK_STR(gainmap_last_error(ctx), "the file is cut short: data of tile item 256 lies beyond its end (28851 bytes)");
    /* every prefix of a small AVIF: an error sentence or a file, never a crash */
    size_t size;
    uint8_t *data = tu_read(tu_corpus("avif_tmap/libavif__color_grid_gainmap_different_grid.avif"), &size);
    CHECK(data != NULL);
    int opened = 0, failed = 0;
    for (size_t n = 0; data && n < size; n += 7) {
        gainmap_clear_error(ctx);
        gainmap_status st = gainmap_file_open_memory(ctx, data, n, &f);
        if (st == GAINMAP_OK) {
            opened++;
            gainmap_file_close(f);
        } else {
            const char *m = gainmap_last_error(ctx);
            failed++;
            CHECK_MSG(m[0] && !strchr(m, '\n'), "prefix %zu: status %d, message '%s'", n, st, m);
        }
    }
    CHECK(failed > 400);
    free(data);
    gainmap_ctx_free(ctx);
}

/* ------------------------------------------------------------------ */
/* Streams                                                             */

static void test_streams_reopen(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = open_rel(ctx, "apple_heic_gainmap/libvips__apple-heic-gainmap.heic");
    if (f) {
        const uint8_t *b, *m;
        size_t bn, mn;
        CHECK_INT(gainmap_file_base_stream(f, &b, &bn), GAINMAP_OK);
        CHECK_INT(gainmap_file_map_stream(f, &m, &mn), GAINMAP_OK);
        CHECK(bn > 1000000 && bn < 3102182);
        CHECK(!memcmp(b + 4, "ftypheic", 8));
        gainmap_file *fb = NULL, *fm = NULL;
        CHECK_INT(gainmap_file_open_memory(ctx, b, bn, &fb), GAINMAP_OK);
        CHECK_INT(gainmap_file_open_memory(ctx, m, mn, &fm), GAINMAP_OK);
        if (fb && fm) {
            /* the items keep their irot: the same displayed sizes */
            CHECK_INT(gainmap_file_info(fb)->base_width, 4284);
            CHECK_INT(gainmap_file_info(fb)->base_height, 5712);
            CHECK_INT(gainmap_file_info(fb)->has_gainmap, 0);
            CHECK_INT(gainmap_file_info(fm)->base_width, 2142);
            CHECK_INT(gainmap_file_info(fm)->base_height, 2856);
            const uint8_t *icc;
            size_t icc_size;
            gainmap_file_base_icc(fb, &icc, &icc_size);
            CHECK_INT(icc_size, 536);
        }
        gainmap_file_close(fb);
        gainmap_file_close(fm);
    }
    gainmap_file_close(f);
    f = open_rel(ctx, "avif_tmap/libavif__seine_hdr_gainmap_small_srgb.avif");
    if (f) {
        const uint8_t *m;
        size_t mn;
        CHECK_INT(gainmap_file_map_stream(f, &m, &mn), GAINMAP_OK);
        CHECK(!memcmp(m + 4, "ftypavif", 8));
        gainmap_file *fm = NULL;
        CHECK_INT(gainmap_file_open_memory(ctx, m, mn, &fm), GAINMAP_OK);
        if (fm) {
            CHECK_INT(gainmap_file_info(fm)->base_width, 200);
            CHECK_INT(gainmap_file_info(fm)->base_height, 150);
        }
        gainmap_file_close(fm);
        /* the map's coded bytes are inside the stream unchanged */
        const gainmap_info *in = gainmap_file_info(f);
        size_t raw_size;
        uint8_t *raw = tu_read(tu_corpus("avif_tmap/libavif__seine_hdr_gainmap_small_srgb.avif"), &raw_size);
        CHECK(raw && in->map_size == 12651);
        bool found = false;
        for (size_t i = 0; raw && i + in->map_size <= mn && !found; i++)
            found = !memcmp(m + i, raw + in->map_offset, (size_t)in->map_size);
        CHECK(found);
        free(raw);
    }
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

/* ------------------------------------------------------------------ */
/* Decoding against heif-convert + the formula                         */

typedef struct plane {
    gainmap_image img;
    int bits;          /* of the source: 8 or 10 */
} plane;

static bool read_png(const char *path, int bits, plane *p)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    memset(p, 0, sizeof *p);
    gainmap_status st = gainmap_image_read(ctx, path, &p->img);
    CHECK_MSG(st == GAINMAP_OK, "%s: %s", path, gainmap_last_error(ctx));
    gainmap_ctx_free(ctx);
    p->bits = bits;
    return st == GAINMAP_OK;
}

/* Signal in [0,1] of channel c at (x, y).  heif-convert writes 10-bit
 * samples as v << 6 in a 16-bit PNG. */
static double sig(const plane *p, uint32_t x, uint32_t y, uint32_t c)
{
    const gainmap_image *im = &p->img;
    size_t at = (size_t)x * im->channels + (im->channels == 1 ? 0 : c);
    const uint8_t *row = (const uint8_t *)im->data + (size_t)y * im->stride;
    if (im->type == GAINMAP_PIXEL_U8)
        return row[at] / 255.0;
    uint16_t v = ((const uint16_t *)(const void *)row)[at];
    return p->bits == 10 ? (v >> 6) / 1023.0 : v / 65535.0;
}

/* Bilinear, centre-aligned, edges clamped (the map is never smaller than 1/4 here). */
static double map_at(const plane *m, uint32_t bw, uint32_t bh, uint32_t x, uint32_t y, uint32_t c)
{
    uint32_t mw = m->img.width, mh = m->img.height;
    if (mw == bw && mh == bh)
        return sig(m, x, y, c);
    double sx = (x + 0.5) * mw / bw - 0.5, sy = (y + 0.5) * mh / bh - 0.5;
    double fx = floor(sx), fy = floor(sy);
    double ax = sx - fx, ay = sy - fy;
    long x0 = (long)fx, y0 = (long)fy;
    long xs[2] = {x0 < 0 ? 0 : x0 >= (long)mw ? (long)mw - 1 : x0, x0 + 1 >= (long)mw ? (long)mw - 1 : x0 + 1 < 0 ? 0 : x0 + 1};
    long ys[2] = {y0 < 0 ? 0 : y0 >= (long)mh ? (long)mh - 1 : y0, y0 + 1 >= (long)mh ? (long)mh - 1 : y0 + 1 < 0 ? 0 : y0 + 1};
    double top = (1 - ax) * sig(m, (uint32_t)xs[0], (uint32_t)ys[0], c) + ax * sig(m, (uint32_t)xs[1], (uint32_t)ys[0], c);
    double bot = (1 - ax) * sig(m, (uint32_t)xs[0], (uint32_t)ys[1], c) + ax * sig(m, (uint32_t)xs[1], (uint32_t)ys[1], c);
    return (1 - ay) * top + ay * bot;
}

static double fv(gainmap_fraction f) { return (double)f.n / f.d; }
static double ufv(gainmap_ufraction f) { return (double)f.n / f.d; }

/* ISO 21496-1 weight for a display of log2 headroom d (FORMATS 4.3). */
static double iso_weight(double hb, double ha, double d)
{
    if (ha > hb)
        return fmin(fmax((d - hb) / (ha - hb), 0.0), 1.0);
    return -fmin(fmax((hb - d) / (hb - ha), 0.0), 1.0);
}

static double base_linear(gainmap_transfer tf, double s)
{
    return tf == GAINMAP_TRANSFER_PQ ? gainmap_pq_eotf(s) / 203.0 : gainmap_srgb_to_linear(s);
}

typedef struct golden_stats {
    long n, bad;
    double max_rel;
} golden_stats;

/* Decode `f` at display headroom D (0 = full) as linear light in the base's
 * primaries and compare every step-th pixel with the reference. */
static golden_stats compare_decode(gainmap_ctx *ctx, const gainmap_file *f, const plane *base, const plane *map,
                                   double D, uint32_t step, double rel_tol)
{
    golden_stats s = {0, 0, 0.0};
    const gainmap_info *in = gainmap_file_info(f);
    gainmap_decode_options o;
    gainmap_decode_options_init(&o);
    o.headroom = D;
    o.transfer = GAINMAP_TRANSFER_LINEAR;
    o.primaries = GAINMAP_PRIMARIES_UNKNOWN;
    gainmap_image out;
    gainmap_status st = gainmap_decode(ctx, f, &o, &out);
    CHECK_MSG(st == GAINMAP_OK, "decode: %s", gainmap_last_error(ctx));
    if (st != GAINMAP_OK)
        return s;
    CHECK_INT(out.width, in->base_width);
    CHECK_INT(out.height, in->base_height);
    CHECK_INT(out.type, GAINMAP_PIXEL_F32);
    const gainmap_metadata *m = &in->meta;
    const bool apple = m->kind == GAINMAP_KIND_APPLE;
    double hb = ufv(m->base_hdr_headroom), ha = ufv(m->alternate_hdr_headroom);
    double w;
    if (apple) {
        double hl = log2(m->apple_headroom);
        w = D == 0.0 ? 1.0 : fmin(fmax(log2(D) / hl, 0.0), 1.0);
    } else {
        w = iso_weight(hb, ha, D == 0.0 ? fmax(hb, ha) : log2(D));
    }
    for (uint32_t y = step / 2; y < out.height; y += step) {
        const float *row = (const float *)(const void *)((const uint8_t *)out.data + (size_t)y * out.stride);
        for (uint32_t x = (y * 7) % step; x < out.width; x += step) {
            for (uint32_t c = 0; c < 3; c++) {
                double b = base_linear(in->base_transfer, sig(base, x, y, c));
                uint32_t mc = map->img.channels >= 3 ? c : 0;
                double r = map_at(map, out.width, out.height, x, y, mc);
                double want;
                if (apple) {
                    double g = gainmap_bt709_to_linear(r);
                    want = b * pow(1.0 + (m->apple_headroom - 1.0) * g, w);
                } else {
                    int k = m->channel_count == 3 ? (int)c : 0;
                    double rg = pow(r, 1.0 / ufv(m->gamma[k]));
                    double G = fv(m->gain_map_min[k]) * (1.0 - rg) + fv(m->gain_map_max[k]) * rg;
                    want = (b + fv(m->base_offset[k])) * exp2(G * w) - fv(m->alternate_offset[k]);
                }
                want = fmax(want, 0.0);
                double got = row[(size_t)x * 3 + c];
                double err = fabs(got - want) / fmax(want, 1e-2);
                if (err > s.max_rel)
                    s.max_rel = err;
                s.n++;
                s.bad += err > rel_tol;
            }
        }
    }
    gainmap_image_free(&out);
    return s;
}

/* heif-convert IN -> dir/stem.png (+ aux images); true when it ran.  Each
 * corpus file is converted once (PNG writing of 12 MP dominates the time). */
static bool heif_convert(const char *in, const char *stem, bool aux)
{
    char png[160];
    snprintf(png, sizeof png, "%s.png", stem);
    if (aux && tu_exists(tu_path(tmpdir, png)))
        return true;
    int rc = tu_run(NULL, "cd '%s' && heif-convert --quiet %s '%s' '%s.png'", tmpdir, aux ? "--with-aux --no-colons" : "",
                    in, stem);
    CHECK_MSG(rc == 0, "heif-convert %s failed", in);
    return rc == 0;
}

/* A file name stem for a corpus path: its base name without the extension. */
static const char *stem_of(const char *rel, char *buf, size_t n)
{
    const char *b = strrchr(rel, '/');
    snprintf(buf, n, "%s", b ? b + 1 : rel);
    char *dot = strrchr(buf, '.');
    if (dot)
        *dot = 0;
    return buf;
}

/* The hidden tmap gain map is not visible to heif-convert: write the map
 * stream (a one-item HEIF) and convert that. */
static bool convert_map_stream(const gainmap_file *f, const char *stem)
{
    const uint8_t *m;
    size_t n;
    if (gainmap_file_map_stream(f, &m, &n) != GAINMAP_OK)
        return false;
    char name[128];
    snprintf(name, sizeof name, "%s.heif", stem);
    CHECK_INT(tu_write(tu_path(tmpdir, name), m, n), 0);
    return heif_convert(tu_path(tmpdir, name), stem, false);
}

typedef struct golden_case {
    const char *rel;
    const char *aux_png;     /* heif-convert's aux output name, NULL: convert the map stream */
    int base_bits, map_bits;
    uint32_t step;
    double tol;              /* relative */
    double headrooms[3];     /* tested display headrooms (0 = full), 0-terminated after the first */
} golden_case;

static void run_golden(const golden_case *gc)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = open_rel(ctx, gc->rel);
    if (!f) {
        gainmap_ctx_free(ctx);
        return;
    }
    plane base, map;
    memset(&base, 0, sizeof base);
    memset(&map, 0, sizeof map);
    char stem[128], png[256];
    stem_of(gc->rel, stem, sizeof stem);
    snprintf(png, sizeof png, "%s.png", stem);
    bool ok = heif_convert(tu_corpus(gc->rel), stem, true) && read_png(tu_path(tmpdir, png), gc->base_bits, &base);
    snprintf(png, sizeof png, "%s-%s", stem, gc->aux_png ? gc->aux_png : "");
    if (ok && gc->aux_png)
        ok = read_png(tu_path(tmpdir, png), gc->map_bits, &map);
    else if (ok)
        ok = convert_map_stream(f, "m") && read_png(tu_path(tmpdir, "m.png"), gc->map_bits, &map);
    if (ok) {
        for (int i = 0; i < 3 && (i == 0 || gc->headrooms[i] != 0.0); i++) {
            golden_stats s = compare_decode(ctx, f, &base, &map, gc->headrooms[i], gc->step, gc->tol);
            printf("  %s at headroom %g: %ld samples, max relative error %.2e, %ld over %.1e\n", gc->rel,
                   gc->headrooms[i], s.n, s.max_rel, s.bad, gc->tol);
            CHECK(s.n > 1000);
            CHECK_INT(s.bad, 0);
        }
    }
    gainmap_image_free(&base.img);
    gainmap_image_free(&map.img);
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

static void test_golden_decodes(void)
{
    if (!tu_have("heif-convert")) {
        printf("  (heif-convert not installed; golden pixels skipped)\n");
        return;
    }
    /* 8-bit maps: our map code table interpolation is within 1e-3 of the
     * formula.  The Adobe maps are 10-bit and apply takes 8-bit codes:
     * rounding to 8 bits moves r by up to 1/510, the gain by up to
     * ln2 * (max - min) / gamma * r^(1/gamma - 1) / 510 -- 0.6 % for
     * colors_hdr_p3's blue (range 1.38 stops, gamma 0.32); 1e-2 covers it. */
    static const golden_case cases[] = {
        {"avif_tmap/libavif__seine_sdr_gainmap_srgb.avif", NULL, 8, 8, 1, 2e-3, {0, 1.5, 1}},
        {"avif_tmap/libavif__seine_hdr_gainmap_srgb.avif", NULL, 10, 8, 1, 2e-3, {1, 1.5685, 0}},
        {"avif_tmap/libavif__seine_hdr_gainmap_small_srgb.avif", NULL, 10, 8, 1, 2e-3, {1, 2, 0}},
        {"avif_tmap/libavif__color_grid_gainmap_different_grid.avif", NULL, 10, 8, 1, 2e-3, {1, 3, 0}},
        {"avif_adobe_aux/libavif__seine_hdr_srgb.avif", "urn_com_photo_aux_hdrgainmap.png", 10, 10, 1, 1e-2,
         {1, 1.5, 0}},
        {"avif_adobe_aux/libavif__colors_hdr_p3.avif", "urn_com_photo_aux_hdrgainmap.png", 10, 10, 1, 1e-2,
         {1, 0, 0}},
        {"apple_heic_gainmap/pillowheif__pug.heic", "urn_com_apple_photo_2020_aux_hdrgainmap.png", 8, 8, 37, 2e-3,
         {0, 2, 0}},
        {"heic_gainmap_other/pillowheif__aux_YCbCr.heic", "urn_com_samsung_photo_2024_aux_hdrgainmap.png", 8, 8, 29,
         2e-3, {0, 0, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_golden(&cases[i]);
}

/* The SDR rendition is the decoded base: headroom 1 for an SDR base, the
 * full headroom for an HDR base, in the base's own encoding. */
static void test_sdr_equals_base(void)
{
    static const struct {
        const char *rel;
        double headroom;
    } cases[] = {
        {"avif_tmap/libavif__seine_sdr_gainmap_srgb.avif", 1.0},
        {"apple_heic_gainmap/pillowheif__pug.heic", 1.0},
        {"avif_tmap/libavif__seine_hdr_gainmap_srgb.avif", 0.0},
        {"avif_adobe_aux/libavif__colors_hdr_p3.avif", 0.0},
    };
    if (!tu_have("heif-convert"))
        return;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gainmap_ctx *ctx = gainmap_ctx_new();
        gainmap_file *f = open_rel(ctx, cases[i].rel);
        plane base;
        memset(&base, 0, sizeof base);
        const gainmap_info *in = f ? gainmap_file_info(f) : NULL;
        bool pq = in && in->base_transfer == GAINMAP_TRANSFER_PQ;
        char stem[128], png[160];
        stem_of(cases[i].rel, stem, sizeof stem);
        snprintf(png, sizeof png, "%s.png", stem);
        if (f && heif_convert(tu_corpus(cases[i].rel), stem, true) &&
            read_png(tu_path(tmpdir, png), pq ? 10 : 8, &base)) {
            gainmap_decode_options o;
            gainmap_decode_options_init(&o);
            o.headroom = cases[i].headroom;
            o.transfer = pq ? GAINMAP_TRANSFER_PQ : GAINMAP_TRANSFER_SRGB;
            o.primaries = GAINMAP_PRIMARIES_UNKNOWN;
            gainmap_image out;
            CHECK_INT(gainmap_decode(ctx, f, &o, &out), GAINMAP_OK);
            long n = 0, off = 0;
            double worst = 0.0;
            for (uint32_t y = 0; out.data && y < out.height; y += pq ? 1 : 3) {
                const uint8_t *row = (const uint8_t *)out.data + (size_t)y * out.stride;
                for (uint32_t x = 0; x < out.width * 3; x += pq ? 1 : 5) {
                    double want = sig(&base, x / 3, y, x % 3);
                    double got = pq ? ((const uint16_t *)(const void *)row)[x] / 65535.0 : row[x] / 255.0;
                    /* PQ: within 1/8 of a 10-bit code; sRGB: exact 8-bit codes */
                    double d = fabs(got - want) * (pq ? 1023.0 : 255.0);
                    worst = fmax(worst, d);
                    off += d > (pq ? 0.125 : 1e-9);
                    n++;
                }
            }
            printf("  %s: SDR rendition vs base, %ld samples, worst %.3f codes\n", cases[i].rel, n, worst);
            CHECK(n > 10000);
            CHECK_INT(off, 0);
            gainmap_image_free(&out);
        }
        gainmap_image_free(&base.img);
        gainmap_file_close(f);
        gainmap_ctx_free(ctx);
    }
}

/* Default output (PQ BT.2020) of the HDR-base AVIF in the alternate
 * primaries' maths, and the iPhone 16 pixel limit / full decode. */
static void test_decode_defaults_and_limits(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = open_rel(ctx, "avif_tmap/libavif__seine_hdr_gainmap_srgb.avif");
    if (f) {
        gainmap_image a, b;
        CHECK_INT(gainmap_decode(ctx, f, NULL, &a), GAINMAP_OK);
        CHECK_INT(a.type, GAINMAP_PIXEL_U16);
        CHECK_INT(a.primaries, GAINMAP_PRIMARIES_BT2020);
        CHECK_INT(a.transfer, GAINMAP_TRANSFER_PQ);
        /* the same decode in linear BT.709, converted here, agrees */
        gainmap_decode_options o;
        gainmap_decode_options_init(&o);
        o.transfer = GAINMAP_TRANSFER_LINEAR;
        o.primaries = GAINMAP_PRIMARIES_BT709;
        CHECK_INT(gainmap_decode(ctx, f, &o, &b), GAINMAP_OK);
        double m[9];
        gainmap_gamut_matrix(GAINMAP_PRIMARIES_BT709, GAINMAP_PRIMARIES_BT2020, m);
        double worst = 0.0;
        for (uint32_t y = 0; a.data && b.data && y < a.height; y += 3)
            for (uint32_t x = 0; x < a.width; x += 3) {
                const float *p = (const float *)(const void *)((const uint8_t *)b.data + y * b.stride) + x * 3;
                const uint16_t *q = (const uint16_t *)(const void *)((const uint8_t *)a.data + y * a.stride) + x * 3;
                for (int c = 0; c < 3; c++) {
                    double lin = m[c * 3] * p[0] + m[c * 3 + 1] * p[1] + m[c * 3 + 2] * p[2];
                    double code = gainmap_pq_inverse_eotf(fmax(lin, 0.0) * 203.0) * 1023.0;
                    worst = fmax(worst, fabs(code - q[c] / 65535.0 * 1023.0));
                }
            }
        printf("  seine_hdr default PQ BT.2020 vs linear BT.709 converted: worst %.3f 10-bit codes\n", worst);
        CHECK(worst < 0.25);
        gainmap_image_free(&a);
        gainmap_image_free(&b);
    }
    gainmap_file_close(f);

    f = open_rel(ctx, "apple_heic_gainmap/libvips__apple-heic-gainmap.heic");
    if (f) {
        gainmap_image out;
        CHECK_INT(gainmap_set_option(ctx, GAINMAP_OPT_MAX_PIXELS, 20000000), GAINMAP_OK);
        CHECK_INT(gainmap_decode(ctx, f, NULL, &out), GAINMAP_ERR_LIMIT);
        CHECK_CONTAINS(gainmap_last_error(ctx), "5712");
        CHECK(!strchr(gainmap_last_error(ctx), '\n'));
        gainmap_clear_error(ctx);
        CHECK_INT(gainmap_set_option(ctx, GAINMAP_OPT_MAX_PIXELS, 268435456), GAINMAP_OK);
        if (!UNDER_ASAN) {
            /* once, full size: displayed portrait, SDR white stays SDR white at headroom 1 */
            gainmap_decode_options o;
            gainmap_decode_options_init(&o);
            o.transfer = GAINMAP_TRANSFER_LINEAR;
            o.primaries = GAINMAP_PRIMARIES_UNKNOWN;
            CHECK_INT(gainmap_decode(ctx, f, &o, &out), GAINMAP_OK);
            CHECK_INT(out.width, 4284);
            CHECK_INT(out.height, 5712);
            double mean = 0.0;
            long n = 0;
            for (uint32_t y = 0; out.data && y < out.height; y += 41)
                for (uint32_t x = 0; x < out.width * 3; x += 43, n++)
                    mean += ((const float *)(const void *)((const uint8_t *)out.data + y * out.stride))[x];
            mean /= n ? n : 1;
            /* the gain map brightens: the mean over the picture exceeds the SDR base's range */
            printf("  iPhone 16 full decode: mean linear %.3f\n", mean);
            CHECK(mean > 0.05 && mean < 6.91);
            gainmap_image_free(&out);
        }
    }
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

int main(void)
{
    tmpdir = tu_tmpdir("heif_read");
    RUN_TEST(test_info_iphone16);
    RUN_TEST(test_info_pug_apple_only);
    RUN_TEST(test_info_samsung);
    RUN_TEST(test_info_avif_tmap);
    RUN_TEST(test_info_avif_adobe);
    RUN_TEST(test_info_no_gainmap);
    RUN_TEST(test_ignored_tmaps);
    RUN_TEST(test_corrupt_one_line);
    RUN_TEST(test_streams_reopen);
    RUN_TEST(test_golden_decodes);
    RUN_TEST(test_sdr_equals_base);
    RUN_TEST(test_decode_defaults_and_limits);
    TEST_SUMMARY();
}

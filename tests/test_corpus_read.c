/* test_corpus_read.c - one test per real gain-map JPEG/MPO in the corpus,
 * asserting what it holds.  Expected values come from MANIFEST.tsv (sizes,
 * GainMapMax, Item:Length, MP types, Apple HDRHeadroom) and FORMATS.md
 * ("Verified against real files", 2.3, 3.3, 5.3); exiftool agreement on the
 * same fields is checked by test_exiftool.sh. */
#include "check.h"
#include "internal.h"
#include "support/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Corpus path: $GM_CORPUS_DIR, else the folder CMake compiled in (the
 * support library's corpus() falls back to a cwd-relative path). */
static const char *corpus(const char *rel)
{
    static char buf[4][4096];
    static int slot;
    const char *base = getenv("GM_CORPUS_DIR");
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", base && *base ? base : GM_CORPUS_DIR, rel);
    return buf[slot];
}

static gainmap_file *open_corpus(const char *rel)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = NULL;
    gainmap_status st = gainmap_file_open(ctx, corpus(rel), &f);
    CHECK_MSG(st == GAINMAP_OK, "%s: %s", rel, gainmap_last_error(ctx));
    gainmap_ctx_free(ctx);
    return f;
}

static bool has_issue(const gainmap_file *f, const char *code)
{
    const gainmap_issue *is;
    size_t n = gainmap_file_issues(f, &is);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(is[i].code, code))
            return true;
    return false;
}

static int count_warnings(const gainmap_file *f)
{
    const gainmap_issue *is;
    size_t n = gainmap_file_issues(f, &is);
    int w = 0;
    for (size_t i = 0; i < n; i++)
        w += is[i].severity != GAINMAP_SEVERITY_INFO;
    return w;
}

static double fv(gainmap_fraction f) { return (double)f.n / f.d; }
static double ufv(gainmap_ufraction f) { return (double)f.n / f.d; }

/* Sizes, locator, metadata source; the map stream is the file's bytes at the
 * reported range and starts with SOI and ends with EOI. */
static void common(const gainmap_file *f, uint32_t bw, uint32_t bh, uint32_t mw, uint32_t mh, uint32_t mc,
                   gainmap_locator loc, gainmap_meta_source src, unsigned dialects)
{
    const gainmap_info *in = gainmap_file_info(f);
    CHECK_INT(in->container, GAINMAP_CONTAINER_JPEG);
    CHECK_INT(in->has_gainmap, src != GAINMAP_META_NONE);
    CHECK_INT(in->base_width, bw);
    CHECK_INT(in->base_height, bh);
    CHECK_INT(in->map_width, mw);
    CHECK_INT(in->map_height, mh);
    CHECK_INT(in->map_components, mc);
    CHECK_INT(in->locator, loc);
    CHECK_INT(in->meta_source, src);
    CHECK_INT(in->dialects, dialects);
    const uint8_t *p, *b;
    size_t n, bn;
    CHECK_INT(gainmap_file_base_stream(f, &b, &bn), GAINMAP_OK);
    CHECK(bn == in->base_size && b[0] == 0xFF && b[1] == 0xD8 && b[bn - 2] == 0xFF && b[bn - 1] == 0xD9);
    if (mw) {
        CHECK_INT(gainmap_file_map_stream(f, &p, &n), GAINMAP_OK);
        CHECK(n == in->map_size && p == b + in->map_offset);
        CHECK(p[0] == 0xFF && p[1] == 0xD8 && p[n - 2] == 0xFF && p[n - 1] == 0xD9);
    }
    if (src != GAINMAP_META_NONE) {
        gainmap_ctx *ctx = gainmap_ctx_new();
        CHECK_MSG(gainmap_metadata_check(ctx, &in->meta) == GAINMAP_OK, "%s", gainmap_last_error(ctx));
        gainmap_ctx_free(ctx);
    }
}

static void check_max(const gainmap_file *f, int nc, double r, double g, double b)
{
    const gainmap_metadata *m = &gainmap_file_info(f)->meta;
    CHECK_INT(m->channel_count, nc);
    CHECK_NEAR(fv(m->gain_map_max[0]), r, 1e-6);
    if (nc == 3) {
        CHECK_NEAR(fv(m->gain_map_max[1]), g, 1e-6);
        CHECK_NEAR(fv(m->gain_map_max[2]), b, 1e-6);
    }
}

static void check_headrooms(const gainmap_file *f, double hb, double ha)
{
    const gainmap_metadata *m = &gainmap_file_info(f)->meta;
    CHECK_NEAR(ufv(m->base_hdr_headroom), hb, 1e-6);
    CHECK_NEAR(ufv(m->alternate_hdr_headroom), ha, 1e-6);
}

/* Every channel: min, gamma, base and alternate offsets. */
static void check_flat(const gainmap_file *f, double min, double gamma, double obase, double oalt)
{
    const gainmap_metadata *m = &gainmap_file_info(f)->meta;
    for (int c = 0; c < m->channel_count; c++) {
        CHECK_NEAR(fv(m->gain_map_min[c]), min, 1e-6);
        CHECK_NEAR(ufv(m->gamma[c]), gamma, 1e-6);
        CHECK_NEAR(fv(m->base_offset[c]), obase, 1e-6);
        CHECK_NEAR(fv(m->alternate_offset[c]), oalt, 1e-6);
    }
}

/* MPF: byte order, entry 1 size, entry 2 size = the map's true size. */
static void check_mpf(const gainmap_file *f, bool be, uint32_t primary_size_recorded)
{
    CHECK(f->has_mpf && !f->mpf_broken);
    CHECK_INT(f->mpf.big_endian, be);
    CHECK_INT(f->mpf.nentries, 2);
    CHECK_INT(f->mpf.entries[0].size, primary_size_recorded);
    CHECK_INT(f->mpf.entries[1].size, gainmap_file_info(f)->map_size);
    CHECK_INT(f->mpf_offset_mode, 0);
}

static void check_gcontainer_length(const gainmap_file *f, uint64_t len)
{
    CHECK(f->has_gcontainer_offset);
    CHECK_INT(f->gcontainer_length, len);
    CHECK_INT(gainmap_file_info(f)->map_size, len);
    CHECK_INT(f->gcontainer_offset, gainmap_file_info(f)->map_offset);
}

#define UHDR (GAINMAP_DIALECT_HDRGM_XMP | GAINMAP_DIALECT_GCONTAINER | GAINMAP_DIALECT_MPF)
#define ADOBE (GAINMAP_DIALECT_HDRGM_XMP | GAINMAP_DIALECT_MPF)

/* ---------------- ultrahdr_v1_xmp_mpf ---------------- */
static void test_libvips_ultra_hdr(void)
{
    gainmap_file *f = open_corpus("ultrahdr_v1_xmp_mpf/libvips__ultra-hdr.jpg");
    if (!f)
        return;
    common(f, 3840, 2160, 960, 540, 1, GAINMAP_LOCATOR_MPF, GAINMAP_META_XMP, UHDR);
    check_max(f, 1, 6.64386, 0, 0);
    check_headrooms(f, 0, 6.64386);
    check_mpf(f, true, 1158931);
    check_gcontainer_length(f, 31738);
    CHECK_INT(gainmap_file_info(f)->map_offset + gainmap_file_info(f)->map_size, 1190669);
    CHECK(has_issue(f, "xmp-only"));
    CHECK_INT(count_warnings(f), 0);
    gainmap_file_close(f);
}

static void test_vearutop_s01_orig(void)
{
    /* Pixel 6 Pro: little-endian MPF with a wrong primary size (FORMATS 2.3), no Gamma field */
    gainmap_file *f = open_corpus("ultrahdr_v1_xmp_mpf/vearutop__s01.orig.jpg");
    if (!f)
        return;
    common(f, 4080, 3072, 1020, 768, 1, GAINMAP_LOCATOR_MPF, GAINMAP_META_XMP, UHDR);
    check_max(f, 1, 2.656715, 0, 0);
    check_headrooms(f, 0, 2.656715);
    check_flat(f, 0, 1.0, 0, 0);
    CHECK_INT(f->xmp_map.gamma.count, 0);
    CHECK_INT(f->xmp_map.base_rendition_is_hdr, -1);
    check_mpf(f, false, 2683841);
    CHECK_INT(gainmap_file_info(f)->base_size, 2684148);
    CHECK(has_issue(f, "mpf-primary-size"));
    CHECK(has_issue(f, "extended-xmp"));
    CHECK(f->has_ext_xmp);
    gainmap_file_close(f);
}

static void test_gainmapjs_memorial(void)
{
    gainmap_file *f = open_corpus("ultrahdr_v1_xmp_mpf/gainmapjs__memorial.jpg");
    if (!f)
        return;
    common(f, 512, 768, 512, 768, 3, GAINMAP_LOCATOR_MPF, GAINMAP_META_XMP, UHDR);
    check_max(f, 1, 7.6145, 0, 0);
    check_headrooms(f, 0, 7.6145);
    check_flat(f, 0, 1.0, 1.0 / 64, 1.0 / 64);
    check_mpf(f, false, (uint32_t)gainmap_file_info(f)->base_size);
    CHECK_INT(count_warnings(f), 0);
    gainmap_file_close(f);
}

static void test_imazen_test_ultrahdr(void)
{
    /* hdrgm values only in the primary and a malformed MPF: rejected (FORMATS 1.4, 2.3) */
    gainmap_file *f = open_corpus("ultrahdr_v1_xmp_mpf/imazenuhdr__test_ultrahdr.jpg");
    if (!f)
        return;
    const gainmap_info *in = gainmap_file_info(f);
    CHECK(!in->has_gainmap);
    CHECK_INT(in->meta_source, GAINMAP_META_NONE);
    CHECK_INT(in->base_width, 256);
    CHECK_INT(in->base_height, 256);
    CHECK_INT(in->map_width, 64);
    CHECK_INT(in->map_height, 64);
    CHECK_INT(in->map_components, 1);
    CHECK_INT(in->locator, GAINMAP_LOCATOR_GCONTAINER);
    CHECK(f->mpf_broken);
    CHECK_STR(f->mpf_error, "MPF index has no MP Entry list (tag B002)");
    CHECK(f->hdrgm_in_primary_only);
    CHECK_NEAR(f->xmp_primary.gain_map_max.v[0], 2.072094, 1e-9);
    CHECK(!f->xmp_map.has_hdrgm);
    CHECK(has_issue(f, "hdrgm-in-primary"));
    CHECK(has_issue(f, "mpf-malformed"));
    gainmap_file_close(f);
}

static void test_libavif_paris(void)
{
    /* per-channel GainMapMax, no GainMapMin/Gamma, map larger than base, Extended XMP */
    gainmap_file *f = open_corpus("ultrahdr_v1_xmp_mpf/libavif__paris_exif_xmp_gainmap_bigendian.jpg");
    if (!f)
        return;
    common(f, 403, 302, 512, 384, 1, GAINMAP_LOCATOR_MPF, GAINMAP_META_XMP, UHDR);
    check_max(f, 3, 3.5, 3.6, 3.7);
    check_flat(f, 0, 1.0, 0, 0);
    CHECK_INT(f->xmp_map.gain_map_min.count, 0);
    CHECK_INT(f->xmp_map.gamma.count, 0);
    check_mpf(f, true, (uint32_t)gainmap_file_info(f)->base_size);
    CHECK(has_issue(f, "map-larger-than-base"));
    CHECK(has_issue(f, "extended-xmp"));
    gainmap_file_close(f);
}

static void test_gmspec_rgba_uhdr(void)
{
    gainmap_file *f = open_corpus("ultrahdr_v1_xmp_mpf/gmspec__rgba_uhdr.jpg");
    if (!f)
        return;
    common(f, 31, 32, 31, 32, 3, GAINMAP_LOCATOR_MPF, GAINMAP_META_XMP, UHDR);
    check_max(f, 1, 5.62238, 0, 0);
    check_flat(f, 0, 1.0, 0, 0);
    check_mpf(f, true, (uint32_t)gainmap_file_info(f)->base_size);
    gainmap_file_close(f);
}

/* The Awesome-Gain-Maps files: GainMapMin=0 Gamma=1 offsets 0, capacity 0..2.58496 */
static void awesome(const char *rel, uint32_t bw, uint32_t bh, uint32_t mw, uint32_t mh, uint64_t item_length,
                    bool larger)
{
    gainmap_file *f = open_corpus(rel);
    if (!f)
        return;
    common(f, bw, bh, mw, mh, 3, GAINMAP_LOCATOR_MPF, GAINMAP_META_XMP, UHDR);
    check_max(f, 1, 2.58496, 0, 0);
    check_headrooms(f, 0, 2.58496);
    check_flat(f, 0, 1.0, 0, 0);
    CHECK_INT(f->xmp_map.base_rendition_is_hdr, 0);
    check_mpf(f, true, (uint32_t)gainmap_file_info(f)->base_size);
    check_gcontainer_length(f, item_length);
    CHECK_INT(has_issue(f, "map-larger-than-base"), larger);
    CHECK_INT(f->mpf.entries[0].attribute, 0x00030000);
    CHECK_INT(f->mpf.entries[1].attribute, 0);
    gainmap_file_close(f);
}

static void test_awesomegm_cat(void)
{
    awesome("ultrahdr_v1_xmp_mpf/awesomegm__gm-Cat__44744745484_.jpg", 600, 450, 1600, 1200, 112880, true);
}
static void test_awesomegm_cats_dual(void)
{
    awesome("ultrahdr_v1_xmp_mpf/awesomegm__gm-Cats_dual_on_the_snowy_ground-01-Zenera.jpg", 600, 419, 1333, 933,
            142124, true);
    gainmap_file *f = open_corpus("ultrahdr_v1_xmp_mpf/awesomegm__gm-Cats_dual_on_the_snowy_ground-01-Zenera.jpg");
    /* 1333/600 = 2.222 vs 933/419 = 2.227: within 1 % */
    CHECK(f && !has_issue(f, "map-aspect"));
    gainmap_file_close(f);
}
static void test_awesomegm_kitten(void)
{
    awesome("ultrahdr_v1_xmp_mpf/awesomegm__gm-Kitten_with_paws_on_table__square_.jpg", 600, 600, 647, 647, 29710,
            true);
}
static void test_awesomegm_daisies(void)
{
    /* progressive primary and map, two XMP packets in each */
    awesome("ultrahdr_v1_xmp_mpf/awesomegm__gain_mapped-photo-colorful_daisies.jpg", 800, 600, 800, 600, 212152, false);
    gainmap_file *f = open_corpus("ultrahdr_v1_xmp_mpf/awesomegm__gain_mapped-photo-colorful_daisies.jpg");
    if (!f)
        return;
    CHECK_INT(f->base.sof_marker, 0xC2);
    CHECK_INT(f->map.sof_marker, 0xC2);
    CHECK_INT(f->xmp_primary.packets, 2);
    CHECK_INT(f->xmp_map.packets, 2);
    gainmap_file_close(f);
}
static void test_awesomegm_phi_falls(void)
{
    awesome("ultrahdr_v1_xmp_mpf/awesomegm__gain_mapped-photo-phi_falls.jpg", 1599, 1066, 1599, 1066, 362987, false);
}
static void test_awesomegm_mona_lisa(void)
{
    awesome("ultrahdr_v1_xmp_mpf/awesomegm__gain_mapped-procedural_art-square_flows_mona_lisa.jpg", 600, 780, 600, 780,
            103386, false);
}
static void test_awesomegm_color_01(void)
{
    awesome("ultrahdr_v1_xmp_mpf/awesomegm__gain_mapped-test_chart-color_01.jpg", 700, 700, 700, 700, 30656, false);
}
static void test_awesomegm_gray_51(void)
{
    awesome("ultrahdr_v1_xmp_mpf/awesomegm__gain_mapped-test_chart-gray_51.jpg", 600, 600, 600, 600, 31885, false);
}
static void test_awesomegm_guacamelee(void)
{
    awesome("ultrahdr_v1_xmp_mpf/awesomegm__gain_mapped-video_games-guacamelee.jpg", 700, 394, 700, 394, 76044, false);
}
static void test_awesomegm_matplotlib(void)
{
    awesome("ultrahdr_v1_xmp_mpf/awesomegm__gain_mapped-visualization-matplotlib_gpx.jpg", 640, 480, 640, 480, 11050,
            false);
}

/* ---------------- adobe_hdrgm_jpeg ---------------- */
static void test_libavif_seine_sdr(void)
{
    gainmap_file *f = open_corpus("adobe_hdrgm_jpeg/libavif__seine_sdr_gainmap_srgb.jpg");
    if (!f)
        return;
    common(f, 400, 300, 400, 300, 3, GAINMAP_LOCATOR_MPF, GAINMAP_META_XMP, ADOBE);
    check_max(f, 3, 1.277177, 1.277203, 1.277969);
    check_headrooms(f, 0, 1.3);
    const gainmap_metadata *m = &gainmap_file_info(f)->meta;
    for (int c = 0; c < 3; c++) {
        CHECK(fv(m->gain_map_min[c]) < 0);
        CHECK(ufv(m->gamma[c]) > 0.91 && ufv(m->gamma[c]) < 0.96);
        CHECK_NEAR(fv(m->base_offset[c]), 1.0 / 64, 1e-9);
    }
    CHECK_INT(f->mpf.entries[0].attribute, 0x20030000);   /* ACR sets the representative flag */
    CHECK(has_issue(f, "no-gcontainer"));
    CHECK_INT(count_warnings(f), 0);
    gainmap_file_close(f);
}

static void test_vearutop_old_acr(void)
{
    gainmap_file *f = open_corpus("adobe_hdrgm_jpeg/vearutop__old_acr.orig.jpg");
    if (!f)
        return;
    common(f, 4534, 3023, 4534, 3023, 3, GAINMAP_LOCATOR_MPF, GAINMAP_META_XMP, ADOBE);
    check_max(f, 3, 4.43563, 4.210847, 4.305444);
    check_mpf(f, true, (uint32_t)gainmap_file_info(f)->base_size);
    gainmap_file_close(f);
}

static void test_gainmapjs_02(void)
{
    gainmap_file *f = open_corpus("adobe_hdrgm_jpeg/gainmapjs__02.jpg");
    if (!f)
        return;
    common(f, 3000, 2098, 3000, 2098, 3, GAINMAP_LOCATOR_MPF, GAINMAP_META_XMP, ADOBE);
    check_max(f, 3, 3.522114, 3.060263, 2.706481);
    const gainmap_metadata *m = &gainmap_file_info(f)->meta;
    CHECK_NEAR(fv(m->base_offset[0]), 0.225551, 1e-9);   /* MANIFEST: OffsetSDR 0.2256 */
    CHECK_INT(gainmap_file_info(f)->base_primaries, GAINMAP_PRIMARIES_P3);   /* MANIFEST: Display P3 */
    gainmap_file_close(f);
}

/* ---------------- ultrahdr_iso21496_jpeg ---------------- */
static void test_vearutop_uhdr_acr17(void)
{
    /* ACR 17.1: XMP + ISO in both images, flags 0xC0, MP type 0x050000 for the map */
    gainmap_file *f = open_corpus("ultrahdr_iso21496_jpeg/vearutop__uhdr.jpg");
    if (!f)
        return;
    common(f, 5915, 3943, 5915, 3943, 3, GAINMAP_LOCATOR_MPF, GAINMAP_META_ISO21496,
           ADOBE | GAINMAP_DIALECT_ISO21496);
    check_max(f, 3, 3.8396, 3.822845, 3.947876);
    const gainmap_metadata *m = &gainmap_file_info(f)->meta;
    CHECK_INT(m->flags, 0xC0);
    CHECK_INT(m->gamma[0].n, 36533);   /* FORMATS 3.3: 1.114899 <-> 36533/32768 */
    CHECK_INT(m->gamma[0].d, 32768);
    CHECK(f->iso_stub && !f->iso_stub_full);
    CHECK_INT(f->mpf.entries[1].attribute & 0xFFFFFF, 0x050000);
    CHECK_INT(f->xmp_status, GAINMAP_OK);
    CHECK(!has_issue(f, "xmp-iso-mismatch"));
    CHECK_NEAR(ufv(f->xmp_meta.gamma[0]), 1.114899, 1e-9);
    gainmap_file_close(f);
}

static void test_uhdrrs_minnie(void)
{
    /* libultrahdr: ISO only, stub in the primary, full metadata in the map */
    gainmap_file *f = open_corpus("ultrahdr_iso21496_jpeg/uhdrrs__minnie_ultrahdr_sys.jpg");
    if (!f)
        return;
    common(f, 320, 240, 320, 240, 3, GAINMAP_LOCATOR_MPF, GAINMAP_META_ISO21496,
           GAINMAP_DIALECT_MPF | GAINMAP_DIALECT_ISO21496);
    const gainmap_metadata *m = &gainmap_file_info(f)->meta;
    CHECK_INT(m->flags, 0xC0);
    CHECK_INT(m->channel_count, 3);
    CHECK_INT(m->minimum_version, 0);
    CHECK_INT(m->writer_version, 0);
    CHECK_NEAR(fv(m->base_offset[0]), 1e-7, 1e-12);   /* libultrahdr writes 1e-7 (pitfall 15) */
    CHECK(f->iso_stub);
    CHECK(!f->xmp_map.has_hdrgm);
    CHECK(has_issue(f, "iso-only"));
    gainmap_file_close(f);
}

static void test_vearutop_s01_vipsth(void)
{
    gainmap_file *f = open_corpus("ultrahdr_iso21496_jpeg/vearutop__s01.vipsth.jpg");
    if (!f)
        return;
    common(f, 531, 400, 133, 100, 1, GAINMAP_LOCATOR_MPF, GAINMAP_META_ISO21496,
           GAINMAP_DIALECT_HDRGM_XMP | GAINMAP_DIALECT_MPF | GAINMAP_DIALECT_ISO21496);
    check_max(f, 1, 2.656715, 0, 0);
    CHECK_INT(gainmap_file_info(f)->meta.flags, 0x40);
    CHECK_NEAR(fv(f->xmp_meta.gain_map_max[0]), 2.656715, 1e-9);
    CHECK(!has_issue(f, "xmp-iso-mismatch"));
    CHECK(has_issue(f, "hdrgm-version-primary"));
    gainmap_file_close(f);
}

/* ---------------- apple_jpeg_gainmap ---------------- */
static void test_libavif_apple_gainmap_new(void)
{
    gainmap_file *f = open_corpus("apple_jpeg_gainmap/libavif__apple_gainmap_new.jpg");
    if (!f)
        return;
    common(f, 384, 512, 192, 256, 1, GAINMAP_LOCATOR_MPF, GAINMAP_META_APPLE,
           GAINMAP_DIALECT_MPF | GAINMAP_DIALECT_APPLE);
    const gainmap_metadata *m = &gainmap_file_info(f)->meta;
    CHECK_INT(m->kind, GAINMAP_KIND_APPLE);
    CHECK_NEAR(m->apple_headroom, 4.532783, 1e-9);   /* XMP headroom wins over the maker notes */
    CHECK_NEAR(ufv(m->alternate_hdr_headroom), log2(4.532783), 1e-6);
    CHECK_NEAR(f->exif.maker33, 1.518931985, 1e-9);
    CHECK_NEAR(f->exif.maker48, 0, 0);
    CHECK_NEAR(f->exif.apple_headroom, 8.0, 1e-12);  /* FORMATS 5.3: 3 stops */
    CHECK_INT(f->apple_headroom_source, 1);
    check_mpf(f, true, 44891);                       /* FORMATS 2.3: recorded 44891, actual 44821 */
    CHECK_INT(gainmap_file_info(f)->base_size, 44821);
    CHECK(has_issue(f, "mpf-primary-size"));
    CHECK(has_issue(f, "apple-headroom-mismatch"));
    gainmap_file_close(f);
}

static void test_pillow_frame_size(void)
{
    gainmap_file *f = open_corpus("apple_jpeg_gainmap/pillow__frame_size.mpo");
    if (!f)
        return;
    common(f, 56, 70, 349, 434, 1, GAINMAP_LOCATOR_MPF, GAINMAP_META_APPLE,
           GAINMAP_DIALECT_MPF | GAINMAP_DIALECT_APPLE);
    const gainmap_metadata *m = &gainmap_file_info(f)->meta;
    CHECK_NEAR(m->apple_headroom, exp2(1.8), 1e-9);  /* maker33 0.8432 < 1, maker48 0 -> 1.8 stops */
    CHECK_NEAR(f->exif.maker33, 0.8432090282, 1e-9);
    CHECK_INT(f->apple_headroom_source, 2);
    CHECK_INT(f->xmp_map.apple_version, 65536);
    CHECK(has_issue(f, "map-larger-than-base"));
    gainmap_file_close(f);
}

/* ---------------- negative_no_gainmap, corrupt_fuzz ---------------- */
static void test_negative_plain_jpeg(void)
{
    gainmap_file *f = open_corpus("negative_no_gainmap/gainmapjs__plain-jpeg.jpg");
    if (!f)
        return;
    common(f, 275, 297, 0, 0, 0, GAINMAP_LOCATOR_NONE, GAINMAP_META_NONE, 0);
    CHECK(has_issue(f, "no-gainmap"));
    const uint8_t *p;
    size_t n;
    CHECK_INT(gainmap_file_map_stream(f, &p, &n), GAINMAP_ERR_NO_GAINMAP);
    gainmap_file_close(f);
}

static void test_negative_sugarshack_mpo(void)
{
    /* stereo MPO: two full frames, MPF types 0x20020002 / 0x00020002, no gain map */
    gainmap_file *f = open_corpus("negative_no_gainmap/pillow__sugarshack.mpo");
    if (!f)
        return;
    common(f, 640, 480, 0, 0, 0, GAINMAP_LOCATOR_NONE, GAINMAP_META_NONE, GAINMAP_DIALECT_MPF);
    CHECK_INT(f->mpf.nentries, 2);
    CHECK_INT(f->mpf.entries[0].attribute, 0x20020002);
    CHECK_INT(f->mpf.entries[1].attribute, 0x00020002);
    CHECK(f->mpf.next_ifd != 0);
    CHECK(has_issue(f, "no-gainmap"));
    gainmap_file_close(f);
}

static void test_negative_heic(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = NULL;
    /* HEIF is read now (tests/test_heif_read.c): a plain HEIC is like a plain JPEG */
    CHECK_INT(gainmap_file_open(ctx, corpus("negative_no_gainmap/pillowheif__empty_icc.heic"), &f), GAINMAP_OK);
    CHECK_STR(gainmap_last_error(ctx), "");
    CHECK(f != NULL);
    if (f) {
        CHECK_INT(gainmap_file_info(f)->container, GAINMAP_CONTAINER_HEIF);
        CHECK_INT(gainmap_file_info(f)->has_gainmap, 0);
        CHECK(has_issue(f, "no-gainmap"));
    }
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

static void test_corrupt_truncated_ultrahdr(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = NULL;
    CHECK_INT(gainmap_file_open(ctx, corpus("corrupt_fuzz/gmspec__truncated_ultrahdr.jpg"), &f),
              GAINMAP_ERR_TRUNCATED);
    CHECK(f == NULL);
    const char *e = gainmap_last_error(ctx);
    CHECK_STR(e, "JPEG data ends at byte 1024, inside the header of the image at offset 0 (before its frame header)");
    CHECK(strchr(e, '\n') == NULL);
    gainmap_ctx_free(ctx);
    /* every prefix of a real file: an error or a clean open, never a crash */
    size_t n;
    uint8_t *d = tu_read(corpus("ultrahdr_v1_xmp_mpf/gmspec__rgba_uhdr.jpg"), &n);
    CHECK(d != NULL);
    int opened = 0, failed = 0;
    for (size_t cut = 0; d && cut <= n; cut++) {
        ctx = gainmap_ctx_new();
        gainmap_status st = gainmap_file_open_memory(ctx, d, cut, &f);
        if (st == GAINMAP_OK) {
            opened++;
            if (cut < n)   /* a cut inside the map leaves a base without a usable map */
                CHECK(!gainmap_file_info(f)->has_gainmap || cut == n);
            gainmap_file_close(f);
        } else {
            failed++;
            CHECK(gainmap_last_error(ctx)[0] != 0);
        }
        gainmap_ctx_free(ctx);
    }
    CHECK_INT(opened + failed, n + 1);
    CHECK_INT(opened, n + 1 - 3507);   /* opens once the primary (3507 bytes) is complete */
    free(d);
}

int main(void)
{
    RUN_TEST(test_libvips_ultra_hdr);
    RUN_TEST(test_vearutop_s01_orig);
    RUN_TEST(test_gainmapjs_memorial);
    RUN_TEST(test_imazen_test_ultrahdr);
    RUN_TEST(test_libavif_paris);
    RUN_TEST(test_gmspec_rgba_uhdr);
    RUN_TEST(test_awesomegm_cat);
    RUN_TEST(test_awesomegm_cats_dual);
    RUN_TEST(test_awesomegm_kitten);
    RUN_TEST(test_awesomegm_daisies);
    RUN_TEST(test_awesomegm_phi_falls);
    RUN_TEST(test_awesomegm_mona_lisa);
    RUN_TEST(test_awesomegm_color_01);
    RUN_TEST(test_awesomegm_gray_51);
    RUN_TEST(test_awesomegm_guacamelee);
    RUN_TEST(test_awesomegm_matplotlib);
    RUN_TEST(test_libavif_seine_sdr);
    RUN_TEST(test_vearutop_old_acr);
    RUN_TEST(test_gainmapjs_02);
    RUN_TEST(test_vearutop_uhdr_acr17);
    RUN_TEST(test_uhdrrs_minnie);
    RUN_TEST(test_vearutop_s01_vipsth);
    RUN_TEST(test_libavif_apple_gainmap_new);
    RUN_TEST(test_pillow_frame_size);
    RUN_TEST(test_negative_plain_jpeg);
    RUN_TEST(test_negative_sugarshack_mpo);
    RUN_TEST(test_negative_heic);
    RUN_TEST(test_corrupt_truncated_ultrahdr);
    TEST_SUMMARY();
}

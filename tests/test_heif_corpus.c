/* test_heif_corpus.c - every HEIC/AVIF/HIF of the corpus through our box
 * parser, gain-map search and libheif-as-codec decoder, asserting the facts
 * FORMATS.md 3.4 / 5 / "Verified against real files" gives.  heif-info and
 * heif-convert (libheif-examples) serve as the independent reader. */
#include "check.h"
#include "internal.h"
#include "support/testutil.h"

typedef struct opened {
    uint8_t *data;
    size_t size;
    gm_heif *h;
    gm_heif_gainmap g;
    gainmap_status find;
    gainmap_ctx *ctx;
} opened;

static bool open_file(const char *rel, opened *o)
{
    memset(o, 0, sizeof *o);
    o->ctx = gainmap_ctx_new();
    o->data = tu_read(tu_corpus(rel), &o->size);
    CHECK_MSG(o->data != NULL, "cannot read %s", rel);
    if (!o->data)
        return false;
    gainmap_status st = gm_heif_parse(o->ctx, o->data, o->size, &o->h);
    CHECK_MSG(st == GAINMAP_OK, "%s: %s", rel, gainmap_last_error(o->ctx));
    if (st != GAINMAP_OK)
        return false;
    o->find = gm_heif_find_gainmap(o->ctx, o->h, &o->g);
    return true;
}

static void close_file(opened *o)
{
    gm_heif_free(o->h);
    free(o->data);
    gainmap_ctx_free(o->ctx);
}

static bool has_issue(const gm_heif_gainmap *g, const char *code)
{
    for (size_t i = 0; i < g->nissues; i++)
        if (!strcmp(g->issues[i].code, code))
            return true;
    return false;
}

/* heif-info's first "image: WxH (id=N), primary" line must agree with us. */
static void cross_check_heif_info(const char *rel, const opened *o)
{
    if (!tu_have("heif-info")) {
        printf("  (heif-info not installed; cross-check skipped)\n");
        return;
    }
    char *out = NULL;
    tu_run(&out, "heif-info '%s' 2>&1", tu_corpus(rel));
    uint32_t w, hgt;
    const gm_heif_item *p = gm_heif_item_by_id(o->h, o->h->primary_id);
    CHECK(gm_heif_item_size(o->h, p, &w, &hgt, true));
    char want[96];
    snprintf(want, sizeof want, "image: %ux%u (id=%u), primary", w, hgt, o->h->primary_id);
    CHECK_CONTAINS(out, want);
    free(out);
}

static const uint8_t *row_at(const gainmap_image *im, uint32_t y) { return (const uint8_t *)im->data + y * im->stride; }

/* ------------------------------------------------------------------ */

static void test_iphone16_tmap_and_apple_aux(void)
{
    opened o;
    if (!open_file("apple_heic_gainmap/libvips__apple-heic-gainmap.heic", &o))
        return;
    gm_heif *h = o.h;
    gm_heif_gainmap *g = &o.g;
    CHECK(gm_heif_has_brand(h, GM_4CC('t', 'm', 'a', 'p')));
    CHECK_INT(h->major_brand, GM_4CC('h', 'e', 'i', 'c'));
    CHECK_INT(h->nitems, 123);
    CHECK_INT(o.find, GAINMAP_OK);
    CHECK_INT(g->kind, GM_HEIF_GM_TMAP);
    CHECK_INT(g->base_id, 46);
    CHECK_INT(g->map_id, 62);
    CHECK_INT(g->tmap_id, 122);
    CHECK_INT(h->primary_id, 46);
    /* the tmap payload is in idat, version 0, 61 bytes of metadata */
    const gm_heif_item *t = gm_heif_item_by_id(h, 122);
    CHECK_INT(t->construction_method, 1);
    CHECK(h->has_idat);
    CHECK_INT(g->tmap_version, 0);
    CHECK_INT(g->iso_payload_size, 61);
    /* altr [tmap, base] */
    CHECK_INT(h->ngroups, 1);
    CHECK_INT(h->groups[0].type, GM_4CC('a', 'l', 't', 'r'));
    CHECK(h->groups[0].count == 2 && h->groups[0].ids[0] == 122 && h->groups[0].ids[1] == 46);
    /* ISO metadata (FORMATS 5.4) */
    CHECK(g->has_metadata);
    const gainmap_metadata *m = &g->metadata;
    CHECK_INT(m->flags, 0x40);
    CHECK_INT(m->channel_count, 1);
    CHECK_INT(m->use_base_colour_space, 1);
    CHECK_INT(m->base_hdr_headroom.n, 0);
    CHECK_INT(m->alternate_hdr_headroom.n, 2787109);
    CHECK_INT(m->alternate_hdr_headroom.d, 1000000);
    CHECK_INT(m->gain_map_min[0].n, -7381);
    CHECK_INT(m->gain_map_min[0].d, 1000000);
    CHECK_INT(m->gain_map_max[0].n, 2787109);
    CHECK_INT(m->gamma[0].n, 896973);
    CHECK_INT(m->gamma[0].d, 1000000);
    CHECK_INT(m->base_offset[0].n, 10);
    CHECK_INT(m->alternate_offset[0].n, 10);
    /* geometry: grid base 5712x4284 with irot 3, map 2856x2142, tmap ispe rotated */
    CHECK_INT(gm_heif_item_by_id(h, 46)->type, GM_4CC('g', 'r', 'i', 'd'));
    CHECK_INT(gm_heif_item_by_id(h, 62)->type, GM_4CC('g', 'r', 'i', 'd'));
    CHECK(gm_heif_item_by_id(h, 62)->hidden);
    CHECK_INT(g->base_width, 5712);
    CHECK_INT(g->base_height, 4284);
    CHECK_INT(g->base_angle, 3);
    CHECK_INT(g->base_display_width, 4284);
    CHECK_INT(g->base_display_height, 5712);
    CHECK_INT(g->map_width, 2856);
    CHECK_INT(g->map_height, 2142);
    CHECK_INT(g->map_angle, 3);
    CHECK_INT(g->map_channels, 1);
    CHECK_INT(g->tmap_width, 4284);
    CHECK_INT(g->tmap_height, 5712);
    CHECK_INT(g->tmap_angle, 0);
    CHECK(!has_issue(g, "tmap-size"));
    /* colour: tmap ICC only with pixi 10, map nclx 2/2/2 full, base ICC */
    CHECK(!g->tmap_colour.has_nclx && g->tmap_colour.icc_size == 26688);
    CHECK_INT(g->tmap_colour.pixi_depth, 10);
    CHECK(g->map_colour.has_nclx && g->map_colour.cp == 2 && g->map_colour.tc == 2 && g->map_colour.full_range == 1);
    CHECK_INT(g->base_colour.icc_size, 536);
    /* the same map is Apple's aux gain map; XMP headroom 6.902454 (linear) */
    CHECK(g->apple);
    CHECK_STR(g->map_aux_type, GM_HEIF_AUX_APPLE);
    CHECK_INT(g->apple_headroom_source, 1);
    CHECK_NEAR(g->apple_headroom, 6.902454, 1e-6);
    CHECK_NEAR(log2(g->apple_headroom), 2787109 / 1e6, 1e-6);
    CHECK_INT(g->map_xmp_id, 120);
    CHECK_INT(g->exif_id, 124);
    /* the Apple EXIF maker notes give 2.787117 stops (FORMATS 5.3 table) */
    gm_exif_facts f;
    uint8_t *exif;
    size_t exif_size;
    CHECK_INT(gm_heif_item_data(o.ctx, h, gm_heif_item_by_id(h, 124), 1 << 20, &exif, &exif_size), GAINMAP_OK);
    uint32_t off = gm_be32(exif);
    gm_exif_read(exif + 4 + off, exif_size - 4 - off, &f);
    CHECK(f.has_apple_headroom);
    CHECK_NEAR(log2(f.apple_headroom), 2.787117, 1e-6);
    free(exif);

    /* decode base and map (libheif 1.15 cannot open this file itself) */
    gainmap_image base, map, raw, tile;
    CHECK_INT(gm_heif_decode_item(o.ctx, h, 46, 0, &base), GAINMAP_OK);
    CHECK_INT(base.width, 4284);
    CHECK_INT(base.height, 5712);
    CHECK_INT(base.channels, 3);
    CHECK_INT(base.type, GAINMAP_PIXEL_U8);
    CHECK_INT(base.icc_size, 536);
    CHECK_INT(gm_heif_decode_item(o.ctx, h, 62, 0, &map), GAINMAP_OK);
    CHECK_INT(map.width, 2142);
    CHECK_INT(map.height, 2856);
    CHECK_INT(map.channels, 1);
    CHECK(map.has_cicp && map.cicp[0] == 2 && map.cicp[3] == 1);
    /* grid assembly: the stored (unrotated) map's top-left tile equals the
     * first tile decoded on its own */
    CHECK_INT(gm_heif_decode_item(o.ctx, h, 62, GM_HEIF_DECODE_NO_TRANSFORM, &raw), GAINMAP_OK);
    CHECK_INT(raw.width, 2856);
    CHECK_INT(raw.height, 2142);
    const gm_heif_ref *tiles = gm_heif_ref_from(h, GM_4CC('d', 'i', 'm', 'g'), 62);
    CHECK(tiles && tiles->count == 15);
    CHECK_INT(gm_heif_decode_item(o.ctx, h, tiles->to[0], 0, &tile), GAINMAP_OK);
    CHECK_INT(tile.channels, 1);
    long diff = 0;
    for (uint32_t y = 0; y < tile.height && y < raw.height; y++)
        for (uint32_t x = 0; x < tile.width && x < raw.width; x++)
            diff += row_at(&tile, y)[x] != row_at(&raw, y)[x];
    CHECK_INT(diff, 0);
    /* irot 3 = 270 degrees anticlockwise = 90 clockwise: displayed (x, y)
     * = stored (column y, row H-1-x) */
    diff = 0;
    for (uint32_t y = 0; y < map.height; y += 97)
        for (uint32_t x = 0; x < map.width; x += 89)
            diff += row_at(&map, y)[x] != row_at(&raw, raw.height - 1 - x)[y];
    CHECK_INT(diff, 0);
    /* the map is not flat: an Apple map of a street scene spans many codes */
    int lo = 255, hi = 0;
    for (uint32_t y = 0; y < map.height; y += 7)
        for (uint32_t x = 0; x < map.width; x += 7) {
            int v = row_at(&map, y)[x];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    CHECK(hi - lo > 100);
    gainmap_image_free(&base);
    gainmap_image_free(&map);
    gainmap_image_free(&raw);
    gainmap_image_free(&tile);
    /* heif-info refuses this file; we do not depend on it */
    if (tu_have("heif-info")) {
        char *out = NULL;
        CHECK(tu_run(&out, "heif-info '%s' 2>&1", tu_corpus("apple_heic_gainmap/libvips__apple-heic-gainmap.heic")) != 0);
        CHECK_CONTAINS(out, "Too many auxiliary image references");
        free(out);
    }
    close_file(&o);
}

static void test_pug_apple_aux(void)
{
    const char *rel = "apple_heic_gainmap/pillowheif__pug.heic";
    opened o;
    if (!open_file(rel, &o))
        return;
    gm_heif_gainmap *g = &o.g;
    CHECK_INT(o.find, GAINMAP_OK);
    CHECK_INT(g->kind, GM_HEIF_GM_APPLE_AUX);
    CHECK_INT(g->base_id, 49);
    CHECK_INT(g->map_id, 52);
    CHECK_INT(g->tmap_id, 0);
    CHECK(g->apple);
    /* iOS 16.2: XMP without headroom, maker33 0.8786 -> 1.8 stops -> 3.482 */
    CHECK_INT(g->apple_headroom_source, 2);
    CHECK_NEAR(g->apple_headroom, exp2(1.8), 1e-9);
    CHECK(g->has_metadata);
    CHECK_INT(g->metadata.kind, GAINMAP_KIND_APPLE);
    CHECK_NEAR(g->metadata.apple_headroom, 3.482202, 1e-6);
    CHECK_INT(g->metadata.alternate_hdr_headroom.n, 9);
    CHECK_INT(g->metadata.alternate_hdr_headroom.d, 5);
    CHECK_INT(g->map_width, 2016);
    CHECK_INT(g->map_height, 1512);
    CHECK_INT(g->map_channels, 1);
    CHECK_INT(g->base_width, 4032);
    /* the depth map (auxid:2) is not taken for a gain map */
    const gm_heif_prop *aux = gm_heif_item_prop(o.h, gm_heif_item_by_id(o.h, 54), GM_4CC('a', 'u', 'x', 'C'), 0);
    CHECK(aux && !strcmp(aux->aux_type, "urn:mpeg:hevc:2015:auxid:2"));
    cross_check_heif_info(rel, &o);

    /* pixels against heif-convert --with-aux (the whole file through libheif) */
    gainmap_image base, map, ref;
    CHECK_INT(gm_heif_decode_item(o.ctx, o.h, 49, 0, &base), GAINMAP_OK);
    CHECK_INT(gm_heif_decode_item(o.ctx, o.h, 52, 0, &map), GAINMAP_OK);
    CHECK_INT(base.width, 4032);
    CHECK_INT(base.height, 3024);
    CHECK_INT(map.width, 2016);
    CHECK_INT(map.channels, 1);
    if (tu_have("heif-convert")) {
        const char *dir = tu_tmpdir("heif_corpus");
        CHECK_INT(tu_run(NULL, "heif-convert --quiet --with-aux --no-colons '%s' '%s'", tu_corpus(rel),
                         tu_path(dir, "pug.png")),
                  0);
        gainmap_ctx *c2 = gainmap_ctx_new();
        if (gainmap_image_read(c2, tu_path(dir, "pug-urn_com_apple_photo_2020_aux_hdrgainmap.png"), &ref) ==
            GAINMAP_OK) {
            CHECK_INT(ref.width, 2016);
            long diff = 0;
            for (uint32_t y = 0; y < ref.height; y++)
                for (uint32_t x = 0; x < ref.width; x++)
                    diff += row_at(&ref, y)[x * ref.channels] != row_at(&map, y)[x];
            CHECK_INT(diff, 0);
            gainmap_image_free(&ref);
        } else {
            CHECK_MSG(0, "reading heif-convert's PNG: %s", gainmap_last_error(c2));
        }
        gainmap_clear_error(c2);
        if (gainmap_image_read(c2, tu_path(dir, "pug.png"), &ref) == GAINMAP_OK) {
            CHECK_INT(ref.width, 4032);
            CHECK_INT(ref.channels, 3);
            long diff = 0;
            for (uint32_t y = 0; y < ref.height; y += 3)
                diff += memcmp(row_at(&ref, y), row_at(&base, y), (size_t)ref.width * 3) != 0;
            CHECK_INT(diff, 0);
            gainmap_image_free(&ref);
        }
        gainmap_ctx_free(c2);
    }
    gainmap_image_free(&base);
    gainmap_image_free(&map);
    close_file(&o);
}

static void test_samsung_meta_after_mdat(void)
{
    const char *rel = "heic_gainmap_other/pillowheif__aux_YCbCr.heic";
    opened o;
    if (!open_file(rel, &o))
        return;
    gm_heif_gainmap *g = &o.g;
    CHECK(o.h->meta_after_mdat);
    CHECK_INT(o.find, GAINMAP_OK);
    CHECK_INT(g->kind, GM_HEIF_GM_TMAP);
    CHECK_STR(g->map_aux_type, GM_HEIF_AUX_SAMSUNG);
    CHECK(!g->apple);
    CHECK_INT(g->base_id, 33);
    CHECK_INT(g->map_id, 37);
    CHECK_INT(g->tmap_id, 38);
    CHECK_INT(gm_heif_item_by_id(o.h, 38)->construction_method, 1);
    /* 3-channel map at 1/4, single-channel metadata */
    CHECK_INT(g->map_width, 1000);
    CHECK_INT(g->map_height, 462);
    CHECK_INT(g->base_width, 4000);
    CHECK_INT(g->base_height, 1848);
    CHECK_INT(g->map_channels, 3);
    CHECK(g->has_metadata);
    CHECK_INT(g->metadata.flags, 0x40);
    CHECK_INT(g->metadata.channel_count, 1);
    CHECK_INT(g->metadata.gain_map_max[0].n, 9646899);
    CHECK_INT(g->metadata.gain_map_max[0].d, 4194304);
    CHECK_INT(g->tmap_colour.pixi_depth, 8);
    CHECK_INT(g->tmap_width, 4000);
    /* the hdrgm XMP item (cdsc -> map) carries the same GainMapMax 2.3 */
    CHECK_INT(g->map_xmp_id, 41);
    gm_xmp x;
    gm_xmp_init(&x);
    uint8_t *xmp;
    size_t n;
    CHECK_INT(gm_heif_item_data(o.ctx, o.h, gm_heif_item_by_id(o.h, 41), 1 << 20, &xmp, &n), GAINMAP_OK);
    gm_xmp_parse(&x, xmp, n);
    CHECK(x.has_hdrgm);
    CHECK_NEAR(x.gain_map_max.v[0], 9646899.0 / 4194304.0, 1e-6);
    free(xmp);
    cross_check_heif_info(rel, &o);
    gainmap_image map;
    CHECK_INT(gm_heif_decode_item(o.ctx, o.h, 37, 0, &map), GAINMAP_OK);
    CHECK_INT(map.width, 1000);
    CHECK_INT(map.height, 462);
    CHECK_INT(map.channels, 3);
    gainmap_image_free(&map);
    close_file(&o);
}

static void test_oneplus_no_gainmap(void)
{
    const char *rel = "heic_gainmap_other/libvips__oneplus-heic.heic";
    opened o;
    if (!open_file(rel, &o))
        return;
    CHECK_INT(o.find, GAINMAP_ERR_NO_GAINMAP);
    CHECK_INT(o.g.kind, GM_HEIF_GM_NONE);
    CHECK_INT(o.g.nissues, 0);
    CHECK_INT(o.h->primary_id, 10048);
    const gm_heif_ref *tiles = gm_heif_ref_from(o.h, GM_4CC('d', 'i', 'm', 'g'), 10048);
    CHECK(tiles && tiles->count == 48);
    gm_heif_grid grid;
    CHECK_INT(gm_heif_grid_read(o.ctx, o.h, gm_heif_item_by_id(o.h, 10048), &grid), GAINMAP_OK);
    CHECK_INT(grid.rows, 6);
    CHECK_INT(grid.columns, 8);
    CHECK_INT(grid.output_width, 4096);
    CHECK_INT(grid.output_height, 3072);
    cross_check_heif_info(rel, &o);
    close_file(&o);
}

static void test_empty_icc_no_gainmap(void)
{
    const char *rel = "negative_no_gainmap/pillowheif__empty_icc.heic";
    opened o;
    if (!open_file(rel, &o))
        return;
    CHECK_INT(o.find, GAINMAP_ERR_NO_GAINMAP);
    /* item 5 has a 'prof' colr with an empty profile */
    const gm_heif_prop *c = gm_heif_item_prop(o.h, gm_heif_item_by_id(o.h, 5), GM_4CC('c', 'o', 'l', 'r'), 0);
    CHECK(c && c->ok && c->colour_type == GM_4CC('p', 'r', 'o', 'f') && c->icc_size == 0);
    cross_check_heif_info(rel, &o);
    /* a 1-tile grid of 1026x900 cropped to 1025x900 */
    gainmap_image img;
    CHECK_INT(gm_heif_decode_item(o.ctx, o.h, o.h->primary_id, 0, &img), GAINMAP_OK);
    CHECK_INT(img.width, 1025);
    CHECK_INT(img.height, 900);
    gainmap_image_free(&img);
    close_file(&o);
}

static void check_libavif_tmap(const char *rel, uint8_t flags, uint32_t hb_n, uint32_t hb_d, uint32_t ha_n,
                               uint32_t map_w, uint8_t base_tc, uint8_t tmap_tc)
{
    opened o;
    if (!open_file(rel, &o))
        return;
    gm_heif_gainmap *g = &o.g;
    CHECK_INT(o.find, GAINMAP_OK);
    CHECK_INT(g->kind, GM_HEIF_GM_TMAP);
    CHECK_INT(g->base_id, 1);
    CHECK_INT(g->tmap_id, 2);
    CHECK_INT(g->map_id, 3);
    CHECK(gm_heif_item_by_id(o.h, 3)->hidden);
    CHECK_INT(g->iso_payload_size, 141);
    CHECK_INT(g->metadata.flags, flags);
    CHECK_INT(g->metadata.channel_count, 3);
    CHECK_INT(g->metadata.base_hdr_headroom.n, hb_n);
    CHECK_INT(g->metadata.base_hdr_headroom.d, hb_d);
    CHECK_INT(g->metadata.alternate_hdr_headroom.n, ha_n);
    CHECK_INT(g->metadata.gain_map_min[0].n, -256907);
    CHECK_INT(g->metadata.gain_map_max[0].n, 1277177);
    CHECK_INT(g->metadata.gamma[0].n, 119223);
    CHECK_INT(g->metadata.gamma[0].d, 125000);
    CHECK_INT(g->metadata.base_offset[0].d, 64);
    CHECK_INT(g->base_colour.tc, base_tc);
    CHECK_INT(g->tmap_colour.tc, tmap_tc);
    CHECK_INT(g->map_width, map_w);
    CHECK_INT(g->nissues, 0);
    cross_check_heif_info(rel, &o);
    close_file(&o);
}

static void test_avif_tmap_sdr(void)
{
    check_libavif_tmap("avif_tmap/libavif__seine_sdr_gainmap_srgb.avif", 0xC0, 0, 1, 13, 400, 13, 16);
}

static void test_avif_tmap_hdr(void)
{
    check_libavif_tmap("avif_tmap/libavif__seine_hdr_gainmap_srgb.avif", 0x80, 13, 10, 0, 400, 16, 13);
    /* decode base (10-bit PQ) and map */
    opened o;
    if (!open_file("avif_tmap/libavif__seine_hdr_gainmap_srgb.avif", &o))
        return;
    gainmap_image base, map;
    CHECK_INT(gm_heif_decode_item(o.ctx, o.h, 1, 0, &base), GAINMAP_OK);
    CHECK_INT(base.width, 400);
    CHECK_INT(base.height, 300);
    CHECK_INT(base.type, GAINMAP_PIXEL_U16);
    CHECK_INT(base.bit_depth, 10);
    CHECK_INT(base.transfer, GAINMAP_TRANSFER_PQ);
    CHECK_INT(base.max_cll, 707);
    CHECK_INT(base.max_fall, 165);
    CHECK_INT(gm_heif_decode_item(o.ctx, o.h, 3, 0, &map), GAINMAP_OK);
    CHECK_INT(map.width, 400);
    CHECK_INT(map.channels, 3);
    CHECK_INT(map.type, GAINMAP_PIXEL_U8);
    /* 10-bit codes scale exactly to 16 bits: every sample is round(v * 65535 / 1023) */
    long off = 0;
    for (uint32_t y = 0; y < base.height; y += 5)
        for (uint32_t x = 0; x < base.width * 3; x += 7) {
            uint16_t v = ((const uint16_t *)(const void *)row_at(&base, y))[x];
            long code = (v * 1023L + 32767) / 65535;
            off += v != (uint16_t)((code * 65535 + 511) / 1023);
        }
    CHECK_INT(off, 0);
    gainmap_image_free(&base);
    gainmap_image_free(&map);
    close_file(&o);
}

static void test_avif_tmap_small_map(void)
{
    check_libavif_tmap("avif_tmap/libavif__seine_hdr_gainmap_small_srgb.avif", 0x80, 13, 10, 0, 200, 16, 13);
}

static void test_avif_tmap_grids(void)
{
    const char *rel = "avif_tmap/libavif__color_grid_gainmap_different_grid.avif";
    opened o;
    if (!open_file(rel, &o))
        return;
    CHECK_INT(o.find, GAINMAP_OK);
    CHECK_INT(o.g.kind, GM_HEIF_GM_TMAP);
    CHECK_INT(o.g.base_id, 1);
    CHECK_INT(o.g.map_id, 28);
    CHECK_INT(o.g.tmap_id, 27);
    CHECK_INT(o.g.base_width, 512);
    CHECK_INT(o.g.base_height, 600);
    CHECK_INT(o.g.map_width, 128);
    CHECK_INT(o.g.map_height, 160);
    cross_check_heif_info(rel, &o);
    gainmap_image map;
    CHECK_INT(gm_heif_decode_item(o.ctx, o.h, 28, 0, &map), GAINMAP_OK);
    CHECK_INT(map.width, 128);
    CHECK_INT(map.height, 160);
    gainmap_image_free(&map);
    close_file(&o);
}

static void check_adobe(const char *rel, uint32_t hb_n, uint32_t hb_d, const double max[3])
{
    opened o;
    if (!open_file(rel, &o))
        return;
    gm_heif_gainmap *g = &o.g;
    CHECK_INT(o.find, GAINMAP_OK);
    CHECK_INT(g->kind, GM_HEIF_GM_ADOBE_AUX);
    CHECK_STR(g->map_aux_type, GM_HEIF_AUX_ADOBE);
    CHECK_INT(g->base_id, 1);
    CHECK_INT(g->map_id, 4);
    CHECK(!gm_heif_item_by_id(o.h, 4)->hidden);
    CHECK_INT(g->map_xmp_id, 5);
    CHECK(g->has_metadata);
    /* BaseRenditionIsHDR=True: the base holds the larger headroom */
    CHECK_INT(g->metadata.base_hdr_headroom.n, hb_n);
    CHECK_INT(g->metadata.base_hdr_headroom.d, hb_d);
    CHECK_INT(g->metadata.alternate_hdr_headroom.n, 0);
    CHECK_INT(g->metadata.channel_count, 3);
    for (int c = 0; c < 3; c++)
        CHECK_NEAR((double)g->metadata.gain_map_max[c].n / g->metadata.gain_map_max[c].d, max[c], 1e-6);
    CHECK_INT(g->base_colour.tc, 16);
    CHECK(g->base_colour.has_clli);
    cross_check_heif_info(rel, &o);
    close_file(&o);
}

static void test_avif_adobe_aux(void)
{
    static const double p3[3] = {1.604015, 1.604056, 1.604018};
    static const double seine[3] = {1.277177, 1.277203, 1.277969};
    check_adobe("avif_adobe_aux/libavif__colors_hdr_p3.avif", 6, 5, p3);
    check_adobe("avif_adobe_aux/libavif__seine_hdr_srgb.avif", 13, 10, seine);
}

static void test_wrongaltr_ignored(void)
{
    const char *rel = "corrupt_fuzz/libavif__seine_hdr_gainmap_wrongaltr.avif";
    opened o;
    if (!open_file(rel, &o))
        return;
    CHECK_INT(o.find, GAINMAP_ERR_NO_GAINMAP);
    CHECK_INT(o.g.ignored_tmap_id, 2);
    CHECK(has_issue(&o.g, "tmap-not-preferred"));
    CHECK_STR(gainmap_last_error(o.ctx), "");
    gainmap_image base;
    CHECK_INT(gm_heif_decode_item(o.ctx, o.h, o.h->primary_id, 0, &base), GAINMAP_OK);
    CHECK_INT(base.width, 400);
    gainmap_image_free(&base);
    cross_check_heif_info(rel, &o);
    close_file(&o);
}

static void test_unsupported_tmap_version(void)
{
    opened o;
    if (!open_file("corrupt_fuzz/libavif__unsupported_gainmap_version.avif", &o))
        return;
    CHECK_INT(o.find, GAINMAP_ERR_NO_GAINMAP);
    CHECK(has_issue(&o.g, "tmap-version"));
    CHECK_CONTAINS(o.g.issues[0].message, "version 99");
    close_file(&o);
}

static void test_writer_version_extra_bytes(void)
{
    opened o;
    if (!open_file("corrupt_fuzz/libavif__supported_gainmap_writer_version_with_extra_bytes.avif", &o))
        return;
    CHECK_INT(o.find, GAINMAP_ERR_NO_GAINMAP);
    CHECK(has_issue(&o.g, "tmap-trailing"));
    CHECK_CONTAINS(o.g.issues[0].message, "4 bytes follow");
    CHECK_INT(o.g.issues[0].severity, GAINMAP_SEVERITY_ERROR);
    close_file(&o);
}

static void test_corrupted_hif_rejected(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    size_t size;
    uint8_t *data = tu_read(tu_corpus("corrupt_fuzz/pillowheif__corrupted.hif"), &size);
    CHECK(data != NULL);
    gm_heif *h = NULL;
    CHECK_INT(gm_heif_parse(ctx, data, size, &h), GAINMAP_ERR_TRUNCATED);
    CHECK(h == NULL);
    CHECK_STR(gainmap_last_error(ctx), "the file is cut short: data of tile item 256 lies beyond its end (28851 bytes)");
    free(data);
    gainmap_ctx_free(ctx);
}

static void test_poc_avis(void)
{
    const char *rel = "corrupt_fuzz/libavif__poc_b_506387278.avif";
    opened o;
    if (!open_file(rel, &o))
        return;
    CHECK_INT(o.h->major_brand, GM_4CC('a', 'v', 'i', 's'));
    CHECK_INT(o.find, GAINMAP_ERR_NO_GAINMAP);
    gainmap_image img;
    CHECK_INT(gm_heif_decode_item(o.ctx, o.h, 1, 0, &img), GAINMAP_OK);
    CHECK_INT(img.width, 128);
    CHECK_INT(img.height, 64);
    gainmap_image_free(&img);
    cross_check_heif_info(rel, &o);
    close_file(&o);
}

static void test_hdr_masters(void)
{
    const char *rel = "hdr_master/libavif__cosmos1650_yuv444_10bpc_p3pq.avif";
    opened o;
    if (open_file(rel, &o)) {
        CHECK_INT(o.find, GAINMAP_ERR_NO_GAINMAP);
        gainmap_image img;
        CHECK_INT(gm_heif_decode_item(o.ctx, o.h, 1, 0, &img), GAINMAP_OK);
        CHECK_INT(img.width, 1024);
        CHECK_INT(img.height, 428);
        CHECK_INT(img.bit_depth, 10);
        CHECK(img.has_cicp && img.cicp[0] == 12 && img.cicp[1] == 16 && img.cicp[2] == 12 && img.cicp[3] == 1);
        CHECK_INT(img.primaries, GAINMAP_PRIMARIES_P3);
        gainmap_image_free(&img);
        cross_check_heif_info(rel, &o);
        close_file(&o);
    }
    rel = "hdr_master/libavif__colors_wcg_hdr_rec2020.avif";
    if (open_file(rel, &o)) {
        CHECK_INT(o.find, GAINMAP_ERR_NO_GAINMAP);
        gm_heif_colour c;
        gm_heif_item_colour(o.h, gm_heif_item_by_id(o.h, 1), &c);
        CHECK(c.has_nclx && c.cp == 9 && c.tc == 16 && c.mc == 9);
        CHECK(c.has_clli && c.max_cll == 506 && c.max_fall == 269);
        cross_check_heif_info(rel, &o);
        close_file(&o);
    }
}

/* Every HEIF-family file in the corpus is either read or rejected with a
 * sentence, and the MANIFEST lists no HEIF file this program forgets. */
static void test_every_corpus_heif(void)
{
    char *list = NULL;
    tu_run(&list, "cd '%s' && ls */*.heic */*.avif */*.hif 2>/dev/null", tu_corpus(""));
    CHECK(list != NULL);
    int files = 0;
    for (char *line = list ? strtok(list, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        files++;
        gainmap_ctx *ctx = gainmap_ctx_new();
        size_t size;
        uint8_t *data = tu_read(tu_corpus(line), &size);
        gm_heif *h = NULL;
        gainmap_status st = gm_heif_parse(ctx, data, size, &h);
        CHECK_MSG(st == GAINMAP_OK || gainmap_last_error(ctx)[0], "%s failed without a message", line);
        if (st == GAINMAP_OK) {
            gm_heif_gainmap g;
            gm_heif_find_gainmap(ctx, h, &g);
            CHECK_MSG(gainmap_last_error(ctx)[0] == 0, "%s: %s", line, gainmap_last_error(ctx));
        }
        gm_heif_free(h);
        free(data);
        gainmap_ctx_free(ctx);
    }
    CHECK_INT(files, 18);
    free(list);
}

int main(void)
{
    /* testutil.c is built without GM_CORPUS_DIR; this program has it */
    setenv("GM_CORPUS_DIR", GM_CORPUS_DIR, 0);
    RUN_TEST(test_iphone16_tmap_and_apple_aux);
    RUN_TEST(test_pug_apple_aux);
    RUN_TEST(test_samsung_meta_after_mdat);
    RUN_TEST(test_oneplus_no_gainmap);
    RUN_TEST(test_empty_icc_no_gainmap);
    RUN_TEST(test_avif_tmap_sdr);
    RUN_TEST(test_avif_tmap_hdr);
    RUN_TEST(test_avif_tmap_small_map);
    RUN_TEST(test_avif_tmap_grids);
    RUN_TEST(test_avif_adobe_aux);
    RUN_TEST(test_wrongaltr_ignored);
    RUN_TEST(test_unsupported_tmap_version);
    RUN_TEST(test_writer_version_extra_bytes);
    RUN_TEST(test_corrupted_hif_rejected);
    RUN_TEST(test_poc_avis);
    RUN_TEST(test_hdr_masters);
    RUN_TEST(test_every_corpus_heif);
    TEST_SUMMARY();
}

/* test_heic_write.c - HEIC writing (issue 6): the four variants of
 * gainmap_encode_heic read back by our HEIF reader (exact metadata), by
 * Debian's heif-info/heif-convert and by exiftool; decode(encode(x)) PSNR
 * on 10-bit PQ codes; the Apple maker-note inversion; the box writer. */
#include "check.h"
#include "internal.h"
#include "support/synth_master.h"
#include "support/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* libx265 3.5 as driven by libheif 1.15 leaks ~1 KiB per 10-bit encode
 * (x265_10bit::x265_malloc, not freed by the library): not ours. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libx265.so\n"; }

#define W 256
#define H 192

static const char *dir;
static gainmap_image master;   /* photographic: what the PSNR targets are about */
static gainmap_image stress;   /* synth_master: sub-quantum dark saturated ramps */

/* A photograph-like PQ Display P3 master: sky, sun (4000 cd/m2), tinted
 * specular highlights, colour-chart patches, textured ground, and a grey
 * ramp 0.5 .. 2000 cd/m2.  Unlike synth_master it has no saturated colours
 * whose weaker channels lie below the 8-bit base's first code values,
 * which no luminance-only (Apple) map can restore. */
static void photo_master(uint32_t w, uint32_t h, gainmap_image *img)
{
    gainmap_image_alloc(NULL, img, w, h, 3, GAINMAP_PIXEL_U16);
    img->transfer = GAINMAP_TRANSFER_PQ;
    img->primaries = GAINMAP_PRIMARIES_P3;
    img->bit_depth = 16;
    static const double chart[12][3] = {
        {0.17, 0.09, 0.06}, {0.56, 0.33, 0.25}, {0.12, 0.19, 0.33}, {0.10, 0.15, 0.06},
        {0.24, 0.22, 0.43}, {0.13, 0.51, 0.41}, {0.67, 0.20, 0.03}, {0.07, 0.11, 0.39},
        {0.54, 0.09, 0.12}, {0.33, 0.50, 0.05}, {0.73, 0.36, 0.02}, {0.88, 0.88, 0.86},
    };
    uint32_t seed = 11;
    for (uint32_t y = 0; y < h; y++) {
        uint16_t *row = (uint16_t *)(void *)((uint8_t *)img->data + (size_t)y * img->stride);
        for (uint32_t x = 0; x < w; x++) {
            double fx = (double)x / w, fy = (double)y / h, nits[3];
            double tex = 1.0 + 0.2 * sin(fx * 70.0) * sin(fy * 50.0) + 0.05 * synth_noise(&seed);
            if (fy < 0.45) {   /* sky with a sun */
                double sky = 80.0 + 320.0 * (1.0 - fy / 0.45) * (0.5 + 0.5 * fx);
                nits[0] = 0.6 * sky;
                nits[1] = 0.8 * sky;
                nits[2] = sky;
                double d = hypot(fx - 0.75, (fy - 0.2) * h / w);
                if (d < 0.08) {
                    double sun = 4000.0 * exp(-d * d / (2 * 0.03 * 0.03));
                    for (int c = 0; c < 3; c++)
                        nits[c] = GM_MAX(nits[c], sun * (c == 2 ? 0.9 : 1.0));
                }
            } else if (fy < 0.6) {   /* chart patches, 1.0 = 203 cd/m2 */
                int i = (int)(fx * 12);
                for (int c = 0; c < 3; c++)
                    nits[c] = 203.0 * chart[i][c] * tex;
            } else if (fy < 0.7) {   /* grey ramp */
                double L = 0.5 * pow(4000.0, fx);
                nits[0] = nits[1] = nits[2] = L;
            } else {   /* warm ground with tinted specular glints */
                nits[0] = 50.0 * tex;
                nits[1] = 34.0 * tex;
                nits[2] = 18.0 * tex;
                for (int k = 0; k < 4; k++) {
                    double cx = 0.15 + 0.23 * k, d = hypot(fx - cx, (fy - 0.85) * h / w), r = 0.04;
                    static const double tint[4][3] = {{1, 0.85, 0.6}, {0.7, 0.9, 1}, {1, 0.6, 0.5}, {0.8, 1, 0.7}};
                    if (d < r)
                        for (int c = 0; c < 3; c++)
                            nits[c] = GM_MAX(nits[c], (600.0 + 700.0 * k) * (1 - d / r) * tint[k][c]);
                }
            }
            for (int c = 0; c < 3; c++)
                row[3 * x + c] =
                    (uint16_t)floor(gainmap_pq_inverse_eotf(GM_CLAMP(nits[c], 0.0, 10000.0)) * 65535.0 + 0.5);
        }
    }
}

/* MaxCLL / MaxFALL of a U16 PQ master (max(R,G,B) per pixel). */
static void master_light(const gainmap_image *m, double *cll, double *fall)
{
    double mx = 0, sum = 0;
    for (uint32_t y = 0; y < m->height; y++) {
        const uint16_t *r = (const uint16_t *)(const void *)((const uint8_t *)m->data + (size_t)y * m->stride);
        for (uint32_t x = 0; x < m->width; x++) {
            uint16_t v = GM_MAX(r[3 * x], GM_MAX(r[3 * x + 1], r[3 * x + 2]));
            double n = gainmap_pq_eotf(v / 65535.0);
            mx = GM_MAX(mx, n);
            sum += n;
        }
    }
    *cll = mx;
    *fall = sum / ((double)m->width * m->height);
}

/* PSNR over all channels of 10-bit PQ codes: a (U16 PQ, the master) vs b
 * (U16 PQ scaled 0..65535). */
static double psnr_pq10(const gainmap_image *a, const gainmap_image *b)
{
    double se = 0;
    for (uint32_t y = 0; y < a->height; y++) {
        const uint16_t *ra = (const uint16_t *)(const void *)((const uint8_t *)a->data + (size_t)y * a->stride);
        const uint16_t *rb = (const uint16_t *)(const void *)((const uint8_t *)b->data + (size_t)y * b->stride);
        for (uint32_t x = 0; x < a->width * 3; x++) {
            double ca = floor(ra[x] / 65535.0 * 1023.0 + 0.5), cb = floor(rb[x] / 65535.0 * 1023.0 + 0.5);
            se += (ca - cb) * (ca - cb);
        }
    }
    double mse = se / ((double)a->width * a->height * 3);
    return mse > 0 ? 10 * log10(1023.0 * 1023.0 / mse) : 99.0;
}

static bool same_fraction(gainmap_fraction a, gainmap_fraction b) { return a.n == b.n && a.d == b.d; }
static bool same_ufraction(gainmap_ufraction a, gainmap_ufraction b) { return a.n == b.n && a.d == b.d; }

static void check_same_metadata(const gainmap_metadata *got, const gainmap_metadata *want)
{
    CHECK_INT(got->channel_count, want->channel_count);
    CHECK_INT(got->use_base_colour_space, want->use_base_colour_space);
    CHECK(same_ufraction(got->base_hdr_headroom, want->base_hdr_headroom));
    CHECK(same_ufraction(got->alternate_hdr_headroom, want->alternate_hdr_headroom));
    for (int c = 0; c < want->channel_count; c++) {
        CHECK(same_fraction(got->gain_map_min[c], want->gain_map_min[c]));
        CHECK(same_fraction(got->gain_map_max[c], want->gain_map_max[c]));
        CHECK(same_ufraction(got->gamma[c], want->gamma[c]));
        CHECK(same_fraction(got->base_offset[c], want->base_offset[c]));
        CHECK(same_fraction(got->alternate_offset[c], want->alternate_offset[c]));
    }
}

typedef struct encoded {
    gainmap_heic_variant v;
    const char *file;
    uint8_t *data;
    size_t size;
    gm_heic_written w;
    double seconds;
} encoded;

static encoded files[5] = {
    {GAINMAP_HEIC_BOTH, "both.heic", NULL, 0, {0}, 0},
    {GAINMAP_HEIC_APPLE, "apple.heic", NULL, 0, {0}, 0},
    {GAINMAP_HEIC_ISO, "iso.heic", NULL, 0, {0}, 0},
    {GAINMAP_HEIC_PQ_HDR_P3_D65_ST2084, "pq.heic", NULL, 0, {0}, 0},
    {GAINMAP_HEIC_PQ_P3_PQ, "pq-p3pq.heic", NULL, 0, {0}, 0},
};
#define NFILES (sizeof files / sizeof files[0])

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_encode_all(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    for (size_t i = 0; i < NFILES; i++) {
        encoded *e = &files[i];
        double t = now();
        gainmap_status st = gm_encode_heic(ctx, &master, NULL, NULL, NULL, e->v, &e->data, &e->size, &e->w);
        e->seconds = now() - t;
        CHECK_MSG(st == GAINMAP_OK, "%s: %s", e->file, gainmap_last_error(ctx));
        if (st == GAINMAP_OK)
            CHECK(tu_write(tu_path(dir, e->file), e->data, e->size) == 0);
        printf("  %-14s %7zu bytes (base %zu, map %zu %ux%u x%u)  %.3f s (HEVC %.3f s)\n", e->file, e->size,
               e->w.base_bytes, e->w.map_bytes, e->w.map_width, e->w.map_height, e->w.map_channels, e->seconds,
               e->w.seconds_hevc);
    }
    gainmap_ctx_free(ctx);
}

static const gm_heif_prop *prop(const gm_heif *h, uint32_t id, uint32_t type, unsigned n)
{
    return gm_heif_item_prop(h, gm_heif_item_by_id(h, id), type, n);
}

/* Structure and metadata through gm_heif_parse + gm_heif_find_gainmap. */
static void test_read_back(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    for (size_t i = 0; i < NFILES; i++) {
        encoded *e = &files[i];
        if (!e->data)
            continue;
        gm_heif *h = NULL;
        gainmap_status st = gm_heif_parse(ctx, e->data, e->size, &h);
        CHECK_MSG(st == GAINMAP_OK, "%s: %s", e->file, gainmap_last_error(ctx));
        if (st != GAINMAP_OK)
            continue;
        CHECK_INT(h->nissues, 0);
        CHECK_INT(h->major_brand, GM_4CC('h', 'e', 'i', 'c'));
        CHECK(gm_heif_has_brand(h, GM_4CC('m', 'i', 'f', '1')));
        CHECK_INT(h->primary_id, 1);
        bool iso = e->v == GAINMAP_HEIC_ISO || e->v == GAINMAP_HEIC_BOTH;
        bool apple = e->v == GAINMAP_HEIC_APPLE || e->v == GAINMAP_HEIC_BOTH;
        bool pq = !iso && !apple;
        CHECK_INT(gm_heif_has_brand(h, GM_4CC('t', 'm', 'a', 'p')), iso);
        const gm_heif_prop *nclx = prop(h, 1, GM_4CC('c', 'o', 'l', 'r'), 0);
        const gm_heif_prop *icc = prop(h, 1, GM_4CC('c', 'o', 'l', 'r'), 1);
        CHECK(nclx && nclx->colour_type == GM_4CC('n', 'c', 'l', 'x'));
        CHECK(icc && icc->colour_type == GM_4CC('p', 'r', 'o', 'f'));
        if (nclx) {
            CHECK_INT(nclx->cp, 12);
            CHECK_INT(nclx->tc, pq ? 16 : 13);
            CHECK_INT(nclx->mc, pq ? 9 : 6);
            CHECK_INT(nclx->full_range, 1);
        }
        const gm_heif_prop *pixi = prop(h, 1, GM_4CC('p', 'i', 'x', 'i'), 0);
        CHECK(pixi && pixi->channels == 3 && pixi->depth[0] == (pq ? 10 : 8));
        const gm_heif_prop *hvcc = prop(h, 1, GM_4CC('h', 'v', 'c', 'C'), 0);
        CHECK(hvcc && hvcc->ok && hvcc->chroma_format == 3 && hvcc->bit_depth == (pq ? 10 : 8));
        if (icc) {
            uint8_t *want = NULL;
            size_t want_size = 0;
            const char *name = e->v == GAINMAP_HEIC_PQ_P3_PQ ? "P3_PQ" : pq ? "HDR_P3_D65_ST2084" : "p3";
            CHECK(gainmap_icc_generate(ctx, name, &want, &want_size) == GAINMAP_OK);
            CHECK(icc->icc_size == want_size && !memcmp(icc->icc, want, want_size));
            gainmap_free(want);
        }
        if (pq) {
            const gm_heif_prop *clli = prop(h, 1, GM_4CC('c', 'l', 'l', 'i'), 0);
            CHECK(clli && clli->max_cll == e->w.max_cll && clli->max_fall == e->w.max_fall);
            double cll, fall;
            master_light(&master, &cll, &fall);
            CHECK_NEAR(e->w.max_cll, cll, 0.5);
            CHECK_NEAR(e->w.max_fall, fall, 0.5);
            CHECK_INT(h->nitems, 1);
            gm_heif_gainmap g;
            CHECK_INT(gm_heif_find_gainmap(ctx, h, &g), GAINMAP_ERR_NO_GAINMAP);
            gm_heif_free(h);
            continue;
        }
        gm_heif_gainmap g;
        st = gm_heif_find_gainmap(ctx, h, &g);
        CHECK_MSG(st == GAINMAP_OK, "%s: no gain map found", e->file);
        if (st != GAINMAP_OK) {
            gm_heif_free(h);
            continue;
        }
        CHECK_INT(g.nissues, 0);
        for (size_t k = 0; k < g.nissues; k++)
            fprintf(stderr, "  %s: issue %s: %s\n", e->file, g.issues[k].code, g.issues[k].message);
        CHECK_INT(g.kind, iso ? GM_HEIF_GM_TMAP : GM_HEIF_GM_APPLE_AUX);
        CHECK_INT(g.base_id, 1);
        CHECK_INT(g.map_id, 2);
        CHECK(g.has_metadata);
        const gm_heif_item *map = gm_heif_item_by_id(h, 2);
        CHECK(map && map->hidden);
        CHECK_INT(g.map_channels, e->w.map_channels);
        CHECK_INT(g.map_width, e->w.map_width);
        CHECK_INT(g.map_height, e->w.map_height);
        CHECK_INT(g.base_width, W);
        CHECK_INT(g.base_height, H);
        if (iso) {
            CHECK_INT(g.tmap_id, 3);
            CHECK_INT(g.tmap_version, 0);
            CHECK_INT(g.tmap_width, W);
            CHECK_INT(g.tmap_height, H);
            CHECK(g.tmap_colour.has_nclx && g.tmap_colour.cp == 12 && g.tmap_colour.tc == 16);
            CHECK(g.tmap_colour.icc != NULL);
            CHECK(g.tmap_colour.has_clli && g.tmap_colour.max_cll == e->w.max_cll);
            CHECK_INT(g.tmap_colour.pixi_depth, 10);
            const gm_heif_item *t = gm_heif_item_by_id(h, 3);
            CHECK(t && t->construction_method == 1);
            /* dimg order base, map; altr [tmap, base] */
            const gm_heif_ref *dimg = gm_heif_ref_from(h, GM_4CC('d', 'i', 'm', 'g'), 3);
            CHECK(dimg && dimg->count == 2 && dimg->to[0] == 1 && dimg->to[1] == 2);
            CHECK(h->ngroups == 1 && h->groups[0].type == GM_4CC('a', 'l', 't', 'r') && h->groups[0].count == 2 &&
                  h->groups[0].ids[0] == 3 && h->groups[0].ids[1] == 1);
            check_same_metadata(&g.metadata, &e->w.iso);
            CHECK_INT(g.metadata.kind, GAINMAP_KIND_ISO);
        }
        CHECK_INT(g.apple, apple);
        if (apple) {
            CHECK_STR(g.map_aux_type, GM_HEIF_AUX_APPLE);
            CHECK(gm_heif_refers(h, GM_4CC('a', 'u', 'x', 'l'), 2, 1));
            CHECK_INT(g.map_channels, 1);
            CHECK_INT(g.apple_headroom_source, 1);   /* the XMP */
            CHECK_REL(g.apple_headroom, e->w.apple_headroom, 1e-6);
            CHECK(e->w.apple_headroom > 4.0 && e->w.apple_headroom < 64.0);
            if (!iso) {
                CHECK_INT(g.metadata.kind, GAINMAP_KIND_APPLE);
                CHECK_REL(g.metadata.apple_headroom, e->w.apple_headroom, 1e-6);
            } else {
                /* the ISO description of the Apple map: min 0, max = H_alt = log2 H */
                CHECK_NEAR((double)e->w.iso.alternate_hdr_headroom.n / e->w.iso.alternate_hdr_headroom.d,
                           log2(e->w.apple_headroom), 1e-6);
                CHECK(e->w.iso.gain_map_min[0].n <= 0);
                CHECK_NEAR((double)e->w.iso.gain_map_max[0].n / e->w.iso.gain_map_max[0].d,
                           log2(e->w.apple_headroom), 1e-6);
                CHECK(e->w.iso_fit_rms_stops > 0 && e->w.iso_fit_rms_stops < 0.05);
            }
            /* the maker notes alone give the same headroom (FORMATS 5.3) */
            CHECK(g.exif_id == 4);
            const gm_heif_item *ex = gm_heif_item_by_id(h, g.exif_id);
            uint8_t *d = NULL;
            size_t n = 0;
            if (ex && gm_heif_item_data(ctx, h, ex, 1 << 20, &d, &n) == GAINMAP_OK && n > 10) {
                CHECK_INT(gm_be32(d), 6);
                CHECK(!memcmp(d + 4, "Exif\0\0MM\0*", 10));
                gm_exif_facts facts;
                gm_exif_read(d + 10, n - 10, &facts);
                CHECK(facts.has_maker33 && facts.has_maker48);
                CHECK_NEAR(facts.maker33, 1.01, 1e-12);
                CHECK(facts.has_apple_headroom);
                CHECK_REL(facts.apple_headroom, e->w.apple_headroom, 1e-4);
            } else {
                CHECK(!"EXIF item readable");
            }
            free(d);
        }
        gm_heif_free(h);
    }
    gainmap_ctx_free(ctx);
}

/* decode(encode(x)) at full headroom vs the master, 10-bit PQ codes. */
static void test_psnr(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    for (size_t i = 0; i < NFILES; i++) {
        encoded *e = &files[i];
        if (!e->data)
            continue;
        gm_heif *h = NULL;
        if (gm_heif_parse(ctx, e->data, e->size, &h) != GAINMAP_OK)
            continue;
        bool pq = e->v == GAINMAP_HEIC_PQ_HDR_P3_D65_ST2084 || e->v == GAINMAP_HEIC_PQ_P3_PQ;
        gainmap_image base, map, out;
        memset(&map, 0, sizeof map);
        memset(&out, 0, sizeof out);
        gainmap_status st = gm_heif_decode_item(ctx, h, 1, 0, &base);
        CHECK_MSG(st == GAINMAP_OK, "%s: %s", e->file, gainmap_last_error(ctx));
        double db = -1;
        if (st == GAINMAP_OK && pq) {
            CHECK_INT(base.type, GAINMAP_PIXEL_U16);
            CHECK_INT(base.bit_depth, 10);
            CHECK_INT(base.transfer, GAINMAP_TRANSFER_PQ);
            CHECK_INT(base.primaries, GAINMAP_PRIMARIES_P3);
            db = psnr_pq10(&master, &base);
            CHECK_MSG(db >= 50.0, "%s: PSNR %.2f dB < 50", e->file, db);
        } else if (st == GAINMAP_OK) {
            gm_heif_gainmap g;
            st = gm_heif_find_gainmap(ctx, h, &g);
            if (st == GAINMAP_OK)
                st = gm_heif_decode_item(ctx, h, g.map_id, 0, &map);
            CHECK_MSG(st == GAINMAP_OK, "%s: map: %s", e->file, gainmap_last_error(ctx));
            if (st == GAINMAP_OK) {
                CHECK_INT(map.channels, e->w.map_channels);
                base.primaries = GAINMAP_PRIMARIES_P3;
                base.transfer = GAINMAP_TRANSFER_SRGB;
                if (g.metadata.kind == GAINMAP_KIND_APPLE)
                    map.transfer = GAINMAP_TRANSFER_BT709;
                gainmap_decode_options o;
                gainmap_decode_options_init(&o);
                o.headroom = 0;
                o.transfer = GAINMAP_TRANSFER_PQ;
                o.primaries = GAINMAP_PRIMARIES_P3;
                st = gainmap_apply(ctx, &base, &map, &g.metadata, &o, &out);
                CHECK_MSG(st == GAINMAP_OK, "%s: apply: %s", e->file, gainmap_last_error(ctx));
                if (st == GAINMAP_OK) {
                    db = psnr_pq10(&master, &out);
                    double floor_db = 45.0;
                    CHECK_MSG(db >= floor_db, "%s: PSNR %.2f dB < %.0f", e->file, db, floor_db);
                }
            }
        }
        printf("  %-14s PSNR %.2f dB (10-bit PQ codes, full headroom)\n", e->file, db);
        gainmap_image_free(&base);
        gainmap_image_free(&map);
        gainmap_image_free(&out);
        gm_heif_free(h);
    }
    gainmap_ctx_free(ctx);
}

/* Debian's libheif tools open every file and decode its primary image;
 * the Apple gain map is visible to them as an auxiliary image. */
static void test_libheif_tools(void)
{
    if (!tu_have("heif-info") || !tu_have("heif-convert")) {
        printf("  SKIP: heif-info/heif-convert not installed (package libheif-examples)\n");
        return;
    }
    for (size_t i = 0; i < NFILES; i++) {
        encoded *e = &files[i];
        if (!e->data)
            continue;
        const char *in = tu_path(dir, e->file);
        char *out = NULL;
        int rc = tu_run(&out, "heif-info '%s'", in);
        CHECK_MSG(rc == 0, "heif-info %s: %s", e->file, out ? out : "");
        CHECK_CONTAINS(out, "image: 256x192 (id=1), primary");
        CHECK_CONTAINS(out, "color profile: prof");
        bool pq = e->v == GAINMAP_HEIC_PQ_HDR_P3_D65_ST2084 || e->v == GAINMAP_HEIC_PQ_P3_PQ;
        if (pq) {
            char want[64];
            snprintf(want, sizeof want, "max content light level: %u", e->w.max_cll);
            CHECK_CONTAINS(out, want);
        }
        free(out);
        char png[512];
        snprintf(png, sizeof png, "%s.png", in);
        rc = tu_run(&out, "cd '%s' && heif-convert --with-aux --no-colons '%s' '%s'", dir, in, png);
        CHECK_MSG(rc == 0 && tu_exists(png), "heif-convert %s: %s", e->file, out ? out : "");
        free(out);
        bool apple = e->v == GAINMAP_HEIC_APPLE || e->v == GAINMAP_HEIC_BOTH;
        char aux[600];
        snprintf(aux, sizeof aux, "%.*s-urn_com_apple_photo_2020_aux_hdrgainmap.png", (int)(strlen(png) - 4), png);
        CHECK_INT(tu_exists(aux) != 0, apple);
        /* the decoded primary equals ours (same libheif underneath) */
        gainmap_ctx *ctx = gainmap_ctx_new();
        gainmap_image a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        gm_heif *h = NULL;
        if (gainmap_image_read(ctx, png, &a) == GAINMAP_OK && gm_heif_parse(ctx, e->data, e->size, &h) == GAINMAP_OK &&
            gm_heif_decode_item(ctx, h, 1, 0, &b) == GAINMAP_OK) {
            CHECK_INT(a.width, W);
            CHECK_INT(a.height, H);
            long diff = 0;
            for (uint32_t y = 0; y < a.height && a.channels >= 3; y++)
                for (uint32_t x = 0; x < a.width * 3; x++) {
                    const uint8_t *ra = (const uint8_t *)a.data + (size_t)y * a.stride;
                    const uint8_t *rb = (const uint8_t *)b.data + (size_t)y * b.stride;
                    uint32_t va = a.type == GAINMAP_PIXEL_U8 ? ra[x / 3 * a.channels + x % 3]
                                                             : ((const uint16_t *)(const void *)ra)[x / 3 * a.channels + x % 3];
                    uint32_t vb = b.type == GAINMAP_PIXEL_U8 ? rb[x] : ((const uint16_t *)(const void *)rb)[x];
                    if (a.type != b.type)   /* heif-convert writes 10-bit as 16-bit PNG */
                        va = b.type == GAINMAP_PIXEL_U8 ? va / 257 : va;
                    diff += labs((long)va - (long)vb) > (b.type == GAINMAP_PIXEL_U8 ? 0 : 64);
                }
            CHECK_MSG(diff == 0, "%s: %ld samples differ from heif-convert's", e->file, diff);
        } else {
            CHECK_MSG(0, "%s: reading heif-convert's PNG or decoding: %s", e->file, gainmap_last_error(ctx));
        }
        gainmap_image_free(&a);
        gainmap_image_free(&b);
        gm_heif_free(h);
        gainmap_ctx_free(ctx);
    }
}

/* exiftool reads the maker-note tags and the XMP with the values we meant. */
static void test_exiftool(void)
{
    if (!tu_have("exiftool")) {
        printf("  SKIP: exiftool not installed\n");
        return;
    }
    for (size_t i = 0; i < NFILES; i++) {
        encoded *e = &files[i];
        if (!e->data || !(e->v == GAINMAP_HEIC_APPLE || e->v == GAINMAP_HEIC_BOTH))
            continue;
        char *out = NULL;
        int rc = tu_run(&out, "exiftool -j -G1 -a '%s'", tu_path(dir, e->file));
        CHECK_INT(rc, 0);
        int32_t m33[2], m48[2];
        gm_apple_maker_values(e->w.apple_headroom, m33, m48);
        char want[128];
        CHECK_CONTAINS(out, "\"Apple:HDRHeadroom\": 1.01,");
        snprintf(want, sizeof want, "\"Apple:HDRGain\": %.6g,", (double)m48[0] / m48[1]);
        CHECK_CONTAINS(out, want);
        snprintf(want, sizeof want, "\"XMP-HDRGainMap:HDRGainMapHeadroom\": %.6f", e->w.apple_headroom);
        CHECK_CONTAINS(out, want);
        CHECK_CONTAINS(out, "\"XMP-HDRGainMap:HDRGainMapVersion\": 131072");
        CHECK_CONTAINS(out, "\"QuickTime:AuxiliaryImageType\": \"urn:com:apple:photo:2020:aux:hdrgainmap\"");
        CHECK(!strstr(out, "Warning"));
        /* exiftool's values through Apple's formula give the headroom */
        double hr = gm_apple_headroom(1.01, (double)m48[0] / m48[1]);
        CHECK_REL(hr, e->w.apple_headroom, 1e-3);
        free(out);
    }
}

/* FORMATS 5.3 inverted: the formula gives back the headroom asked for, in
 * both branches, at the branch edge, above 3 stops (negative HDRGain) and
 * at no headroom. */
static void test_maker_inversion(void)
{
    double worst = 0;
    int bad_fixed = 0;
    for (double stops = 0.0; stops <= 8.0; stops += 0.001) {
        int32_t m33[2], m48[2];
        gm_apple_maker_values(exp2(stops), m33, m48);
        bad_fixed += m33[0] != 101 || m33[1] != 100 || m48[1] != 1000000;
        double got = log2(gm_apple_headroom((double)m33[0] / m33[1], (double)m48[0] / m48[1]));
        worst = GM_MAX(worst, fabs(got - stops));
    }
    CHECK_INT(bad_fixed, 0);
    CHECK_MSG(worst <= 4e-5, "worst inversion error %g stops", worst);
    int32_t m33[2], m48[2];
    gm_apple_maker_values(8.0, m33, m48);   /* 3 stops: the edge of Apple's formula */
    CHECK_INT(m48[0], 0);
    gm_apple_maker_values(1.0, m33, m48);   /* no headroom: 2.303 / 0.303 */
    CHECK_INT(m48[0], 7600660);
    gm_apple_maker_values(exp2(2.3), m33, m48);
    CHECK_INT(m48[0], 10000);
    gm_apple_maker_values(6.902454, m33, m48);   /* the iPhone 16 sample: 2.787117 stops */
    CHECK_NEAR(m48[0], 3041, 1);
    /* the EXIF bytes: TIFF -> Exif IFD -> maker note, parsed back by apple.c */
    uint8_t *x = NULL;
    size_t n = 0;
    CHECK(gm_apple_exif_make(NULL, 16.0, &x, &n) == GAINMAP_OK);
    CHECK_INT(n, 104);
    if (x && n == 104) {
        static const uint8_t head[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x87, 0x69, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26};
        CHECK(!memcmp(x, head, sizeof head));
        CHECK(!memcmp(x + 44, "Apple iOS\0\0\1MM", 14));
        gm_exif_facts f;
        gm_exif_read(x, n, &f);
        CHECK(f.has_maker33 && f.has_maker48);
        CHECK_REL(f.apple_headroom, 16.0, 1e-4);
        CHECK_NEAR(f.maker48, -1.0 / 70.0, 1e-6);   /* 4 stops: -70 m48 + 3 = 4 */
    }
    gainmap_free(x);
}

/* The box writer on a tiny description: exact bytes of ftyp, infe v2
 * hidden flag, shared properties, idat item, altr group. */
static void test_writer_bytes(void)
{
    gm_buf pb;
    gm_buf_init(&pb);
    gm_hw_ispe(&pb, 2, 3);
    static const uint8_t ispe[] = {0, 0, 0, 20, 'i', 's', 'p', 'e', 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3};
    CHECK(pb.size == sizeof ispe && !memcmp(pb.data, ispe, sizeof ispe));
    gm_hw_file f;
    memset(&f, 0, sizeof f);
    gm_hw_item items[2];
    memset(items, 0, sizeof items);
    f.items = items;
    f.brands[0] = GM_4CC('h', 'e', 'i', 'c');
    f.brands[1] = GM_4CC('m', 'i', 'f', '1');
    f.nbrands = 2;
    f.primary = 1;
    static const uint8_t d1[] = {1, 2, 3}, d2[] = {9};
    f.items[0] = (gm_hw_item){.id = 1, .type = GM_4CC('h', 'v', 'c', '1'), .data = d1, .size = 3};
    f.items[0].props[0] = (gm_hw_prop){pb.data, pb.size, false};
    f.items[0].nprops = 1;
    f.items[1] = (gm_hw_item){.id = 2, .type = GM_4CC('t', 'm', 'a', 'p'), .hidden = true, .data = d2, .size = 1,
                              .in_idat = true};
    f.items[1].props[0] = (gm_hw_prop){pb.data, pb.size, true};
    f.items[1].nprops = 1;
    f.nitems = 2;
    f.refs[0] = (gm_hw_ref){GM_4CC('d', 'i', 'm', 'g'), 2, {1, 1}, 2, NULL};
    f.nrefs = 1;
    f.altr_id = 3;
    f.altr[0] = 2;
    f.altr[1] = 1;
    f.naltr = 2;
    uint8_t *out = NULL;
    size_t n = 0;
    gainmap_ctx *ctx = gainmap_ctx_new();
    CHECK(gm_heif_write(ctx, &f, &out, &n) == GAINMAP_OK);
    static const uint8_t ftyp[] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'h', 'e', 'i', 'c', 0, 0, 0, 0,
                                   'h', 'e', 'i', 'c', 'm', 'i', 'f', '1'};
    CHECK(n > sizeof ftyp && !memcmp(out, ftyp, sizeof ftyp));
    CHECK(n >= 11 && !memcmp(out + n - 11, "\0\0\0\x0bmdat\1\2\3", 11));   /* only item 1 in mdat */
    gm_heif *h = NULL;
    if (out && gm_heif_parse(ctx, out, n, &h) == GAINMAP_OK) {
        CHECK_INT(h->nitems, 2);
        CHECK_INT(h->nprops, 1);   /* one shared ispe */
        const gm_heif_item *t = gm_heif_item_by_id(h, 2);
        CHECK(t && t->hidden && t->construction_method == 1);
        CHECK(!gm_heif_item_by_id(h, 1)->hidden);
        uint8_t *d = NULL;
        size_t dn = 0;
        CHECK(t && gm_heif_item_data(ctx, h, t, 16, &d, &dn) == GAINMAP_OK && dn == 1 && d[0] == 9);
        free(d);
        CHECK(gm_heif_item_data(ctx, h, gm_heif_item_by_id(h, 1), 16, &d, &dn) == GAINMAP_OK && dn == 3 &&
              !memcmp(d, d1, 3));
        free(d);
        CHECK(h->ngroups == 1 && h->groups[0].id == 3 && h->groups[0].ids[0] == 2);
        CHECK(t && t->nassoc == 1 && t->assoc[0].essential);
        gm_heif_free(h);
    } else {
        CHECK(!"our own file parses");
    }
    gainmap_free(out);
    gm_buf_free(&pb);
    gainmap_ctx_free(ctx);
}

/* Options, names and error sentences. */
static void test_errors_and_options(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_encode_options o;
    gainmap_encode_options_init(&o);
    uint8_t *out = NULL;
    size_t n = 0;
    o.subsampling = 422;
    CHECK_INT(gainmap_encode_heic(ctx, &master, NULL, &o, GAINMAP_HEIC_ISO, &out, &n), GAINMAP_ERR_INVALID_ARG);
    CHECK_STR(gainmap_last_error(ctx), "HEIC chroma subsampling must be 444 or 420, not 422");
    gainmap_clear_error(ctx);
    CHECK_INT(gainmap_encode_heic(ctx, &master, NULL, NULL, (gainmap_heic_variant)9, &out, &n),
              GAINMAP_ERR_INVALID_ARG);
    CHECK_STR(gainmap_last_error(ctx), "unknown HEIC variant 9");
    gainmap_clear_error(ctx);
    gainmap_encode_options_init(&o);
    o.tonemap.base_primaries = GAINMAP_PRIMARIES_BT709;
    CHECK_INT(gainmap_encode_heic(ctx, &master, NULL, &o, GAINMAP_HEIC_APPLE, &out, &n), GAINMAP_ERR_UNSUPPORTED);
    CHECK_STR(gainmap_last_error(ctx), "an Apple gain-map HEIC needs a Display P3 base, not srgb");
    gainmap_clear_error(ctx);
    CHECK(out == NULL && n == 0);
    for (int v = 0; v <= GAINMAP_HEIC_PQ_P3_PQ; v++)
        CHECK_INT(gainmap_heic_variant_from_name(gainmap_heic_variant_name((gainmap_heic_variant)v)), v);
    CHECK_STR(gainmap_heic_variant_name(GAINMAP_HEIC_BOTH), "heic");
    CHECK_INT(gainmap_heic_variant_from_name("heic-jpeg"), -1);

    /* 4:2:0 PQ: hvcC says 4:2:0 10-bit, and it still decodes close to the master */
    gainmap_encode_options_init(&o);
    o.subsampling = 420;
    gm_heic_written w;
    CHECK(gm_encode_heic(ctx, &master, NULL, &o, NULL, GAINMAP_HEIC_PQ_HDR_P3_D65_ST2084, &out, &n, &w) == GAINMAP_OK);
    gm_heif *h = NULL;
    if (out && gm_heif_parse(ctx, out, n, &h) == GAINMAP_OK) {
        const gm_heif_prop *c = gm_heif_item_prop(h, gm_heif_item_by_id(h, 1), GM_4CC('h', 'v', 'c', 'C'), 0);
        CHECK(c && c->chroma_format == 1 && c->bit_depth == 10);
        gainmap_image img;
        if (gm_heif_decode_item(ctx, h, 1, 0, &img) == GAINMAP_OK) {
            double db = psnr_pq10(&master, &img);
            printf("  pq 4:2:0       %7zu bytes  PSNR %.2f dB\n", n, db);
            CHECK_MSG(db >= 42.0, "4:2:0 PSNR %.2f", db);
            gainmap_image_free(&img);
        }
        gm_heif_free(h);
    }
    gainmap_free(out);
    out = NULL;

    /* a given SDR base of the wrong size is refused */
    gainmap_image small;
    gainmap_image_alloc(NULL, &small, 16, 16, 3, GAINMAP_PIXEL_U8);
    CHECK_INT(gainmap_encode_heic(ctx, &master, &small, NULL, GAINMAP_HEIC_ISO, &out, &n), GAINMAP_ERR_INVALID_ARG);
    CHECK_STR(gainmap_last_error(ctx), "SDR image is 16x16 but the HDR image is 256x192");
    gainmap_image_free(&small);
    gainmap_ctx_free(ctx);
}

/* The encoder's stress master (synth_master): saturated ramps whose weaker
 * channels go down to 0.004 cd/m2, below the 8-bit base's first code
 * values.  A luminance-only Apple map restores less of them (Apple applies
 * no offset and one gain to R, G and B) than the 3-channel ISO map. */
static void test_stress_master(void)
{
    static const struct {
        gainmap_heic_variant v;
        double floor;
    } cases[] = {{GAINMAP_HEIC_ISO, 55.0}, {GAINMAP_HEIC_APPLE, 45.0}, {GAINMAP_HEIC_PQ_HDR_P3_D65_ST2084, 55.0}};
    gainmap_ctx *ctx = gainmap_ctx_new();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *out = NULL;
        size_t n = 0;
        gainmap_status st = gainmap_encode_heic(ctx, &stress, NULL, NULL, cases[i].v, &out, &n);
        CHECK_MSG(st == GAINMAP_OK, "%s", gainmap_last_error(ctx));
        gm_heif *h = NULL;
        double db = -1;
        if (st == GAINMAP_OK && gm_heif_parse(ctx, out, n, &h) == GAINMAP_OK) {
            gainmap_image base, map, img;
            memset(&map, 0, sizeof map);
            memset(&img, 0, sizeof img);
            gm_heif_gainmap g;
            if (gm_heif_decode_item(ctx, h, 1, 0, &base) == GAINMAP_OK) {
                if (gm_heif_find_gainmap(ctx, h, &g) != GAINMAP_OK) {
                    db = psnr_pq10(&stress, &base);
                } else if (gm_heif_decode_item(ctx, h, g.map_id, 0, &map) == GAINMAP_OK) {
                    base.primaries = GAINMAP_PRIMARIES_P3;
                    base.transfer = GAINMAP_TRANSFER_SRGB;
                    if (g.metadata.kind == GAINMAP_KIND_APPLE)
                        map.transfer = GAINMAP_TRANSFER_BT709;
                    gainmap_decode_options o;
                    gainmap_decode_options_init(&o);
                    o.primaries = GAINMAP_PRIMARIES_P3;
                    if (gainmap_apply(ctx, &base, &map, &g.metadata, &o, &img) == GAINMAP_OK)
                        db = psnr_pq10(&stress, &img);
                }
            }
            gainmap_image_free(&base);
            gainmap_image_free(&map);
            gainmap_image_free(&img);
            gm_heif_free(h);
        }
        printf("  stress %-10s %7zu bytes  PSNR %.2f dB\n", gainmap_heic_variant_name(cases[i].v), n, db);
        CHECK_MSG(db >= cases[i].floor, "stress %s: %.2f dB < %.1f", gainmap_heic_variant_name(cases[i].v), db,
                  cases[i].floor);
        gainmap_free(out);
    }
    gainmap_ctx_free(ctx);
}

/* decode(file) at full headroom in 10-bit PQ codes vs the master (the PQ
 * variants: the primary itself). */
static double file_psnr(gainmap_ctx *ctx, const gainmap_image *ref, const uint8_t *data, size_t size)
{
    gm_heif *h = NULL;
    double db = -1;
    if (gm_heif_parse(ctx, data, size, &h) != GAINMAP_OK)
        return -2;
    gainmap_image base, map, out;
    memset(&base, 0, sizeof base);
    memset(&map, 0, sizeof map);
    memset(&out, 0, sizeof out);
    gm_heif_gainmap g;
    if (gm_heif_decode_item(ctx, h, h->primary_id, 0, &base) == GAINMAP_OK) {
        if (gm_heif_find_gainmap(ctx, h, &g) != GAINMAP_OK) {
            db = psnr_pq10(ref, &base);
        } else if (gm_heif_decode_item(ctx, h, g.map_id, 0, &map) == GAINMAP_OK) {
            base.primaries = GAINMAP_PRIMARIES_P3;
            base.transfer = GAINMAP_TRANSFER_SRGB;
            if (g.metadata.kind == GAINMAP_KIND_APPLE)
                map.transfer = GAINMAP_TRANSFER_BT709;
            gainmap_decode_options o;
            gainmap_decode_options_init(&o);
            o.headroom = 0;
            o.transfer = GAINMAP_TRANSFER_PQ;
            o.primaries = GAINMAP_PRIMARIES_P3;
            if (gainmap_apply(ctx, &base, &map, &g.metadata, &o, &out) == GAINMAP_OK)
                db = psnr_pq10(ref, &out);
        }
    }
    gainmap_image_free(&base);
    gainmap_image_free(&map);
    gainmap_image_free(&out);
    gm_heif_free(h);
    return db;
}

/* PSNR of two 8-bit RGB pictures. */
static double psnr_u8(const gainmap_image *a, const gainmap_image *b)
{
    double se = 0;
    for (uint32_t y = 0; y < a->height; y++) {
        const uint8_t *ra = (const uint8_t *)a->data + (size_t)y * a->stride;
        const uint8_t *rb = (const uint8_t *)b->data + (size_t)y * b->stride;
        for (uint32_t x = 0; x < a->width * 3; x++)
            se += ((double)ra[x] - rb[x]) * ((double)ra[x] - rb[x]);
    }
    double mse = se / ((double)a->width * a->height * 3);
    return mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : 99.0;
}

/* Grid items: the base and the map as grids of hidden 64x64 tiles (forced
 * here; automatic beyond HEVC level 5.1) read back by our reader and by
 * libheif like the one-picture file, within codec error. */
static void test_grid(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_heic_options ho;
    gainmap_heic_options_init(&ho);
    CHECK_INT(ho.grid, -1);
    CHECK_INT(ho.tile_size, 512);
    CHECK_INT(ho.speed, GAINMAP_HEIC_SPEED_FAST);
    CHECK_INT(ho.keep_exif, 1);
    ho.grid = 1;
    ho.tile_size = 64;
    uint8_t *g = NULL, *one = NULL;
    size_t gn = 0, onen = 0;
    gm_heic_written w;
    CHECK(gm_encode_heic(ctx, &master, NULL, NULL, &ho, GAINMAP_HEIC_BOTH, &g, &gn, &w) == GAINMAP_OK);
    CHECK_INT(w.base_tiles, 12);   /* 256x192 in 64x64 tiles: 4 x 3 */
    CHECK_INT(w.map_tiles, 12);
    CHECK_INT(w.tile_size, 64);
    ho.grid = 0;
    gm_heic_written w1;
    CHECK(gm_encode_heic(ctx, &master, NULL, NULL, &ho, GAINMAP_HEIC_BOTH, &one, &onen, &w1) == GAINMAP_OK);
    CHECK_INT(w1.base_tiles, 0);
    /* the default (auto) does not grid a small picture */
    CHECK_INT(files[0].w.base_tiles, 0);
    printf("  grid 64x64     %7zu bytes vs %zu in one picture\n", gn, onen);
    gm_heif *h = NULL;
    if (g && gm_heif_parse(ctx, g, gn, &h) == GAINMAP_OK) {
        CHECK_INT(h->nissues, 0);
        const gm_heif_item *b = gm_heif_item_by_id(h, 1), *m = gm_heif_item_by_id(h, 2);
        CHECK(b && b->type == GM_4CC('g', 'r', 'i', 'd') && !b->hidden && b->construction_method == 1);
        CHECK(m && m->type == GM_4CC('g', 'r', 'i', 'd') && m->hidden);
        const gm_heif_prop *ispe = prop(h, 1, GM_4CC('i', 's', 'p', 'e'), 0);
        CHECK(ispe && ispe->width == W && ispe->height == H);
        CHECK(prop(h, 1, GM_4CC('c', 'o', 'l', 'r'), 1) != NULL);   /* nclx + ICC on the grid */
        CHECK(prop(h, 2, GM_4CC('a', 'u', 'x', 'C'), 0) != NULL);
        const gm_heif_ref *d = gm_heif_ref_from(h, GM_4CC('d', 'i', 'm', 'g'), 1);
        CHECK(d && d->count == 12);
        if (d && d->count == 12) {
            const gm_heif_item *t = gm_heif_item_by_id(h, d->to[11]);
            CHECK(t && t->type == GM_4CC('h', 'v', 'c', '1') && t->hidden);
            const gm_heif_prop *ti = t ? gm_heif_item_prop(h, t, GM_4CC('i', 's', 'p', 'e'), 0) : NULL;
            CHECK(ti && ti->width == 64 && ti->height == 64);
        }
        CHECK(gm_heif_refers(h, GM_4CC('a', 'u', 'x', 'l'), 2, 1));
        gm_heif_gainmap gg;
        CHECK(gm_heif_find_gainmap(ctx, h, &gg) == GAINMAP_OK && gg.kind == GM_HEIF_GM_TMAP && gg.base_id == 1 &&
              gg.map_id == 2 && gg.apple && gg.base_width == W && gg.map_height == H);
        check_same_metadata(&gg.metadata, &w.iso);
        /* base pixels: grid vs one picture, both through our reader */
        gm_heif *h1 = NULL;
        gainmap_image a, c;
        memset(&a, 0, sizeof a);
        memset(&c, 0, sizeof c);
        if (gm_heif_parse(ctx, one, onen, &h1) == GAINMAP_OK && gm_heif_decode_item(ctx, h, 1, 0, &a) == GAINMAP_OK &&
            gm_heif_decode_item(ctx, h1, 1, 0, &c) == GAINMAP_OK) {
            CHECK_INT(a.width, W);
            CHECK_INT(a.height, H);
            double db = psnr_u8(&a, &c);
            printf("  grid base vs one picture: %.2f dB (8-bit)\n", db);
            CHECK_MSG(db >= 40.0, "grid vs one-picture base %.2f dB", db);
            /* libheif's own decode of the grid file is ours */
            if (tu_have("heif-convert") && tu_write(tu_path(dir, "grid.heic"), g, gn) == 0) {
                char *out = NULL;
                int rc = tu_run(&out, "heif-convert '%s' '%s'", tu_path(dir, "grid.heic"), tu_path(dir, "grid.png"));
                CHECK_MSG(rc == 0, "heif-convert grid: %s", out ? out : "");
                free(out);
                gainmap_image p;
                if (gainmap_image_read(ctx, tu_path(dir, "grid.png"), &p) == GAINMAP_OK) {
                    CHECK(p.width == W && p.height == H && p.channels >= 3 && p.type == GAINMAP_PIXEL_U8);
                    long diff = 0;
                    for (uint32_t y = 0; y < p.height && p.channels >= 3; y++)
                        for (uint32_t x = 0; x < p.width; x++)
                            for (int k = 0; k < 3; k++)
                                diff += ((const uint8_t *)p.data)[(size_t)y * p.stride + x * p.channels + k] !=
                                        ((const uint8_t *)a.data)[(size_t)y * a.stride + x * 3 + k];
                    CHECK_MSG(diff == 0, "%ld samples of heif-convert's grid decode differ from ours", diff);
                    gainmap_image_free(&p);
                } else {
                    CHECK(!"heif-convert's PNG of the grid file reads");
                }
            }
        } else {
            CHECK(!"both files decode");
        }
        gainmap_image_free(&a);
        gainmap_image_free(&c);
        gm_heif_free(h1);
        double dg = file_psnr(ctx, &master, g, gn), d1 = file_psnr(ctx, &master, one, onen);
        printf("  grid heic PSNR %.2f dB, one picture %.2f dB\n", dg, d1);
        CHECK_MSG(dg >= 45.0 && fabs(dg - d1) < 1.5, "grid %.2f dB vs %.2f", dg, d1);
        gm_heif_free(h);
    } else {
        CHECK(!"the grid file parses");
    }
    gainmap_free(g);
    gainmap_free(one);
    /* heic-pq as a grid keeps its target */
    ho.grid = 1;
    ho.tile_size = 128;
    g = NULL;
    CHECK(gm_encode_heic(ctx, &master, NULL, NULL, &ho, GAINMAP_HEIC_PQ_P3_PQ, &g, &gn, &w) == GAINMAP_OK);
    CHECK_INT(w.base_tiles, 4);
    double dp = file_psnr(ctx, &master, g, gn);
    CHECK_MSG(dp >= 50.0, "grid heic-pq %.2f dB", dp);
    gainmap_free(g);
    /* bad settings */
    ho.tile_size = 100;
    CHECK_INT(gainmap_encode_heic_ex(ctx, &master, NULL, NULL, &ho, GAINMAP_HEIC_BOTH, &g, &gn),
              GAINMAP_ERR_INVALID_ARG);
    CHECK_STR(gainmap_last_error(ctx), "HEIC tile size 100 is not a multiple of 64 in 64..4096");
    gainmap_clear_error(ctx);
    gainmap_heic_options_init(&ho);
    ho.speed = (gainmap_heic_speed)7;
    CHECK_INT(gainmap_encode_heic_ex(ctx, &master, NULL, NULL, &ho, GAINMAP_HEIC_BOTH, &g, &gn),
              GAINMAP_ERR_INVALID_ARG);
    CHECK_STR(gainmap_last_error(ctx), "HEIC speed 7 is not fast (0), medium (1) or slow (2)");
    gainmap_ctx_free(ctx);
}

/* A little-endian EXIF: IFD0 Make, Orientation 6, StripOffsets, Exif and
 * GPS pointers; Exif IFD ExposureTime and a foreign MakerNote; GPS IFD
 * GPSVersionID; an IFD1 thumbnail. */
static size_t make_master_exif(uint8_t *e)
{
    size_t n = 0;
#define P16(v) (e[n] = (uint8_t)(v), e[n + 1] = (uint8_t)((v) >> 8), n += 2)
#define P32(v) (P16((v)&0xFFFF), P16((uint32_t)(v) >> 16))
#define ENT(tag, type, count, val) (P16(tag), P16(type), P32(count), P32(val))
    memcpy(e, "II*\0", 4);
    n = 4;
    P32(8);
    /* IFD0 at 8: 5 entries -> 8 + 2 + 60 + 4 = 74 */
    P16(5);
    ENT(0x010F, 2, 8, 74);          /* Make "TestCam\0" at 74 */
    ENT(0x0111, 4, 1, 0);           /* StripOffsets: dropped */
    ENT(0x0112, 3, 1, 6);           /* Orientation 6 */
    ENT(0x8769, 4, 1, 82);          /* Exif IFD at 82 */
    ENT(0x8825, 4, 1, 120);         /* GPS IFD at 120 */
    P32(138);                       /* IFD1 */
    memcpy(e + n, "TestCam", 8);
    n += 8;
    /* Exif IFD at 82: 2 entries -> 82 + 2 + 24 + 4 = 112 */
    P16(2);
    ENT(0x829A, 5, 1, 112);         /* ExposureTime 1/250 at 112 */
    ENT(0x927C, 7, 4, 0x4B4E554A);  /* a foreign maker note "JUNK" */
    P32(0);
    P32(1);
    P32(250);
    /* GPS IFD at 120: 1 entry */
    P16(1);
    ENT(0x0000, 1, 4, 0x00000202);  /* GPSVersionID 2.2.0.0 */
    P32(0);
    /* IFD1 at 138 */
    P16(1);
    ENT(0x0201, 4, 1, 0);
    P32(0);
    return n;
#undef ENT
#undef P32
#undef P16
}

static const uint8_t *find_bytes(const uint8_t *d, size_t n, const void *what, size_t wn)
{
    for (size_t i = 0; i + wn <= n; i++)
        if (!memcmp(d + i, what, wn))
            return d + i;
    return NULL;
}

/* The master's EXIF is carried into the HEIC merged with the maker note. */
static void test_exif_merge(void)
{
    uint8_t ex[256];
    size_t exn = make_master_exif(ex);
    CHECK_INT(gm_exif_orientation(ex, exn), 6);
    gainmap_ctx *ctx = gainmap_ctx_new();
    uint8_t *m = NULL;
    size_t mn = 0;
    CHECK(gm_exif_merge_apple(ctx, ex, exn, 8.0, &m, &mn) == GAINMAP_OK);
    if (m) {
        CHECK(!memcmp(m, "II*\0", 4));   /* the master's byte order */
        CHECK_INT(gm_exif_orientation(m, mn), 1);
        gm_exif_facts f;
        gm_exif_read(m, mn, &f);
        CHECK(f.has_apple_headroom);
        CHECK_REL(f.apple_headroom, 8.0, 1e-4);
        CHECK(find_bytes(m, mn, "TestCam", 8) != NULL);
        CHECK(find_bytes(m, mn, "JUNK", 4) == NULL);
        CHECK(find_bytes(m, mn, "Apple iOS", 9) != NULL);
        static const uint8_t gps[] = {0, 0, 1, 0, 4, 0, 0, 0, 2, 2, 0, 0};   /* the GPS entry, unchanged */
        CHECK(find_bytes(m, mn, gps, sizeof gps) != NULL);
        static const uint8_t expo[] = {1, 0, 0, 0, 250, 0, 0, 0};
        CHECK(find_bytes(m, mn, expo, sizeof expo) != NULL);
        static const uint8_t strip[] = {0x11, 0x01, 4, 0};
        CHECK(find_bytes(m, mn, strip, sizeof strip) == NULL);
    }
    gainmap_free(m);
    /* no maker note without a headroom; the "Exif\0\0" prefix is skipped */
    uint8_t pre[262];
    memcpy(pre, "Exif\0\0", 6);
    memcpy(pre + 6, ex, exn);
    m = NULL;
    CHECK(gm_exif_merge_apple(ctx, pre, exn + 6, 0.0, &m, &mn) == GAINMAP_OK);
    CHECK(m && find_bytes(m, mn, "Apple iOS", 9) == NULL && find_bytes(m, mn, "TestCam", 8) != NULL);
    gainmap_free(m);
    CHECK_INT(gm_exif_merge_apple(ctx, (const uint8_t *)"XX*\0\0\0\0\0", 8, 2.0, &m, &mn), GAINMAP_ERR_CORRUPT);
    CHECK_STR(gainmap_last_error(ctx), "the master's EXIF does not start with a TIFF header");
    gainmap_clear_error(ctx);

    /* through the encoder: orientation 6 turns the pixels, EXIF says 1 */
    gainmap_image img = master;
    img.exif = ex;
    img.exif_size = exn;
    img.orientation = 6;
    uint8_t *out = NULL;
    size_t n = 0;
    gm_heic_written w;
    CHECK(gm_encode_heic(ctx, &img, NULL, NULL, NULL, GAINMAP_HEIC_APPLE, &out, &n, &w) == GAINMAP_OK);
    CHECK(w.exif_from_master);
    gm_heif *h = NULL;
    if (out && gm_heif_parse(ctx, out, n, &h) == GAINMAP_OK) {
        gm_heif_gainmap g;
        CHECK(gm_heif_find_gainmap(ctx, h, &g) == GAINMAP_OK && g.base_width == H && g.base_height == W);
        const gm_heif_item *e = gm_heif_item_by_id(h, g.exif_id);
        uint8_t *d = NULL;
        size_t dn = 0;
        if (e && gm_heif_item_data(ctx, h, e, 1 << 16, &d, &dn) == GAINMAP_OK && dn > 10) {
            CHECK(!memcmp(d + 4, "Exif\0\0II*\0", 10));
            CHECK_INT(gm_exif_orientation(d + 10, dn - 10), 1);
            CHECK(find_bytes(d, dn, "TestCam", 8) != NULL);
            gm_exif_facts f;
            gm_exif_read(d + 10, dn - 10, &f);
            CHECK(f.has_apple_headroom);
            CHECK_REL(f.apple_headroom, w.apple_headroom, 1e-4);
        } else {
            CHECK(!"EXIF item readable");
        }
        free(d);
        gm_heif_free(h);
    }
    gainmap_free(out);
    /* keep_exif 0: only the maker note */
    gainmap_heic_options ho;
    gainmap_heic_options_init(&ho);
    ho.keep_exif = 0;
    out = NULL;
    CHECK(gm_encode_heic(ctx, &img, NULL, NULL, &ho, GAINMAP_HEIC_APPLE, &out, &n, &w) == GAINMAP_OK);
    CHECK(!w.exif_from_master);
    CHECK(out && find_bytes(out, n, "TestCam", 8) == NULL && find_bytes(out, n, "Apple iOS", 9) != NULL);
    gainmap_free(out);
    /* a malformed master EXIF is left out, the encode still works */
    img.exif = (uint8_t *)"XX*\0\0\0\0\0";
    img.exif_size = 8;
    img.orientation = 1;
    out = NULL;
    CHECK(gm_encode_heic(ctx, &img, NULL, NULL, NULL, GAINMAP_HEIC_APPLE, &out, &n, &w) == GAINMAP_OK);
    CHECK(!w.exif_from_master);
    gainmap_free(out);
    gainmap_ctx_free(ctx);
}

int main(void)
{
    dir = tu_tmpdir("heic_write");
    photo_master(W, H, &master);
    synth_master(W, H, &stress);
    RUN_TEST(test_encode_all);
    RUN_TEST(test_read_back);
    RUN_TEST(test_psnr);
    RUN_TEST(test_libheif_tools);
    RUN_TEST(test_exiftool);
    RUN_TEST(test_maker_inversion);
    RUN_TEST(test_writer_bytes);
    RUN_TEST(test_errors_and_options);
    RUN_TEST(test_stress_master);
    RUN_TEST(test_grid);
    RUN_TEST(test_exif_merge);
    for (size_t i = 0; i < NFILES; i++)
        gainmap_free(files[i].data);
    gainmap_image_free(&master);
    gainmap_image_free(&stress);
    TEST_SUMMARY();
}

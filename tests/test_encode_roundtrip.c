/* test_encode_roundtrip.c - decode(encode(x)) at full headroom against the
 * HDR master x: PSNR on 10-bit PQ code values over all channels, in the
 * master's own primaries, with the file size in bits per pixel.
 * Targets (issue 5): >= 48 dB at <= 2.8 bpp with default settings, and
 * >= 40 dB at <= 1.6 bpp with the "small" preset (gainmap_encode_options_preset).
 * Where a target is met the test asserts the target itself; elsewhere it
 * asserts the measured level (a regression floor, labelled so) and prints
 * "below the issue-5 target".  Figures: docs/encoding.md. */
#include "check.h"
#include "internal.h"
#include "support/synth_master.h"
#include "support/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Encode with o, decode at full headroom, and check PSNR >= min_db at
 * <= max_bpp.  Masters for which the issue-5 target (48 dB at 2.8 bpp,
 * 40 dB at 1.6 bpp) is not reached yet are held to the measured level
 * (a regression floor) and reported as "below target". */
static void run_case(gainmap_ctx *ctx, const char *name, const gainmap_image *master, const gainmap_encode_options *o,
                     bool small, double min_db, double max_bpp)
{
    uint8_t *jpg = NULL;
    size_t size = 0;
    gainmap_status st = gainmap_encode_jpeg(ctx, master, NULL, o, &jpg, &size);
    CHECK_MSG(st == GAINMAP_OK, "%s: %s", name, gainmap_last_error(ctx));
    if (st != GAINMAP_OK)
        return;
    double bpp = 8.0 * (double)size / ((double)master->width * master->height);
    double db = -1;
    st = gm_encode_psnr_pq10(ctx, master, jpg, size, &db);
    CHECK_MSG(st == GAINMAP_OK, "%s: decode: %s", name, gainmap_last_error(ctx));
    bool met = small ? (db >= 40.0 && bpp <= 1.6) : (db >= 48.0 && bpp <= 2.8);
    printf("  %-46s %5.2f dB  %.3f bpp%s\n", name, db, bpp, met ? "" : "   (below the issue-5 target)");
    CHECK_MSG(db >= min_db, "%s: PSNR %.2f dB < %.1f", name, db, min_db);
    CHECK_MSG(bpp <= max_bpp, "%s: %.3f bpp > %.2f", name, bpp, max_bpp);
    gainmap_free(jpg);
}

static void test_synthetic(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image m;
    synth_master(768, 512, &m);
    gainmap_encode_options o;
    gainmap_encode_options_init(&o);
    run_case(ctx, "synthetic P3 PQ, defaults", &m, &o, false, 48.0, 2.8);   /* target */
    CHECK_INT(gainmap_encode_options_preset(&o, "small"), GAINMAP_OK);
    run_case(ctx, "synthetic P3 PQ, --preset small", &m, &o, true, 40.0, 1.6);   /* target */
    gm_low_rate_options(&o);
    run_case(ctx, "synthetic P3 PQ, low rate (q75, map q70, 1/2)", &m, &o, true, 40.0, 1.6);
    gainmap_image_free(&m);
    gainmap_ctx_free(ctx);
}

/* A PQ master made from a scene-linear file: 16-bit PQ in the file's
 * primaries, clipped at 10000 cd/m2 (what PQ can hold). */
static gainmap_status pq_master_from(gainmap_ctx *ctx, const gainmap_image *lin, gainmap_image *pq)
{
    gainmap_status st = gainmap_image_alloc(ctx, pq, lin->width, lin->height, 3, GAINMAP_PIXEL_U16);
    if (st != GAINMAP_OK)
        return st;
    pq->transfer = GAINMAP_TRANSFER_PQ;
    pq->primaries = lin->primaries != GAINMAP_PRIMARIES_UNKNOWN ? lin->primaries : GAINMAP_PRIMARIES_BT709;
    gm_linear l;
    gm_linear_init(ctx, &l, lin, pq->primaries);
    float *row = malloc((size_t)lin->width * 3 * sizeof(float));
    for (uint32_t y = 0; y < lin->height; y++) {
        gm_linear_row(&l, y, row);
        uint16_t *o = (uint16_t *)(void *)((uint8_t *)pq->data + (size_t)y * pq->stride);
        for (size_t i = 0; i < (size_t)lin->width * 3; i++)
            o[i] = (uint16_t)floor(gainmap_pq_inverse_eotf(GM_CLAMP(row[i] * 203.0, 0.0, 10000.0)) * 65535.0 + 0.5);
    }
    free(row);
    gm_linear_free(&l);
    return GAINMAP_OK;
}

static void test_corpus_masters(void)
{
    /* {default dB, default bpp, small dB, small bpp}: the issue-5 targets
     * for the BT.2020 chart (met since the base follows the master into
     * BT.2020: 29.1 dB with a P3 base, whose map cannot carry colours
     * outside P3); for the others regression floors, NOT the targets (see
     * docs/encoding.md for why they miss them), measured minus ~0.3 dB /
     * plus ~3 % size. */
    static const char *files[] = {"gainmapjs__memorial.exr", "vearutop__BrightRings.exr",
                                  "libavif__cosmos1650_yuv444_10bpc_p3pq.avif",
                                  "libavif__colors_wcg_hdr_rec2020.avif"};
    static const double floors[][4] = {
        {44.3, 4.73, 39.1, 1.83}, {50.7, 4.01, 41.8, 2.29}, {47.4, 4.84, 41.4, 2.18}, {48.0, 2.8, 40.0, 1.6}};
    gainmap_ctx *ctx = gainmap_ctx_new();
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4096], name[128];
        snprintf(path, sizeof path, "%s/hdr_master/%s", GM_CORPUS_DIR, files[i]);
        gainmap_image lin, m;
        memset(&lin, 0, sizeof lin);
        memset(&m, 0, sizeof m);
        gainmap_status st = gainmap_image_read(ctx, path, &lin);
        CHECK_MSG(st == GAINMAP_OK, "%s: %s", files[i], gainmap_last_error(ctx));
        if (st != GAINMAP_OK)
            continue;
        CHECK_INT(pq_master_from(ctx, &lin, &m), GAINMAP_OK);
        gainmap_encode_options o;
        gainmap_encode_options_init(&o);
        snprintf(name, sizeof name, "%s as PQ, defaults", files[i]);
        run_case(ctx, name, &m, &o, false, floors[i][0], floors[i][1]);
        CHECK_INT(gainmap_encode_options_preset(&o, "small"), GAINMAP_OK);
        snprintf(name, sizeof name, "%s as PQ, --preset small", files[i]);
        run_case(ctx, name, &m, &o, true, floors[i][2], floors[i][3]);
        gainmap_image_free(&lin);
        gainmap_image_free(&m);
    }
    gainmap_ctx_free(ctx);
}

/* Scene-linear masters beyond PQ's 10000 cd/m2 (BrightRings peaks at
 * 208000) are clipped there before encoding (gm_master_limit): the float
 * master then encodes as well as its PQ version, and the map's range stops
 * at what PQ can hold.  Before the clip the EXR itself gave 23.7 dB with a
 * 10.1-stop range. */
static void test_float_master_clipped(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/hdr_master/vearutop__BrightRings.exr", GM_CORPUS_DIR);
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image lin;
    memset(&lin, 0, sizeof lin);
    gainmap_status st = gainmap_image_read(ctx, path, &lin);
    CHECK_MSG(st == GAINMAP_OK, "%s", gainmap_last_error(ctx));
    if (st == GAINMAP_OK) {
        gainmap_encode_options o;
        gainmap_encode_options_init(&o);
        run_case(ctx, "BrightRings.exr as float, defaults", &lin, &o, false, 50.7, 4.01);   /* as the PQ floor */
        uint8_t *jpg = NULL;
        size_t size = 0;
        CHECK_INT(gainmap_encode_jpeg(ctx, &lin, NULL, &o, &jpg, &size), GAINMAP_OK);
        gainmap_file *f = NULL;
        CHECK_INT(gainmap_file_open_memory(ctx, jpg, size, &f), GAINMAP_OK);
        gainmap_params p;
        CHECK_INT(gainmap_metadata_to_params(&gainmap_file_info(f)->meta, &p), GAINMAP_OK);
        /* log2(10000 / 203) = 5.62 stops, plus the quantiser's margin */
        CHECK_MSG(p.gain_map_max[0] < 5.9 && p.alternate_hdr_headroom < 5.9, "max %.3f headroom %.3f",
                  p.gain_map_max[0], p.alternate_hdr_headroom);
        gainmap_file_close(f);
        gainmap_free(jpg);
        gainmap_image_free(&lin);
    }

    /* the clip itself: values above 10000/203, +inf and NaN; untouched masters are not copied */
    gainmap_image m, c;
    const gainmap_image *use = NULL;
    CHECK_INT(gainmap_image_alloc(NULL, &m, 4, 1, 3, GAINMAP_PIXEL_F32), GAINMAP_OK);
    m.transfer = GAINMAP_TRANSFER_LINEAR;
    float *px = m.data;
    const float vals[12] = {0.5f, 49.0f, 0.0f, 1e6f, -0.25f, 2.0f, INFINITY, NAN, 1.0f, 49.26f, 49.27f, 3.0f};
    memcpy(px, vals, sizeof vals);
    m.max_cll = 208000.0;
    CHECK_INT(gm_master_limit(NULL, &m, &c, &use), GAINMAP_OK);
    CHECK(use == &c);
    const float *o = c.data;
    const float lim = (float)(10000.0 / 203.0);
    const float want[12] = {0.5f, 49.0f, 0.0f, lim, -0.25f, 2.0f, lim, 0.0f, 1.0f, 49.26f, lim, 3.0f};
    for (int i = 0; i < 12; i++)
        CHECK_MSG(o[i] == want[i], "sample %d: %g, want %g", i, o[i], want[i]);
    CHECK_NEAR(c.max_cll, 10000.0, 0.0);
    CHECK(c.data != m.data && c.width == 4 && c.transfer == GAINMAP_TRANSFER_LINEAR);
    free(c.data);
    px[3] = 49.0f;
    px[6] = 1.0f;
    px[7] = 1.0f;
    px[10] = 1.0f;
    CHECK_INT(gm_master_limit(NULL, &m, &c, &use), GAINMAP_OK);
    CHECK(use == &m && c.data == NULL);
    gainmap_image_free(&m);
    gainmap_ctx_free(ctx);
}

static void test_sample(void)
{
    const char *path = GM_SOURCE_DIR "/samples/sample_p3_pq.tif";
    if (!tu_exists(path)) {
        printf("SKIP: %s not there yet\n", path);
        return;
    }
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image m;
    gainmap_status st = gainmap_image_read(ctx, path, &m);
    CHECK_MSG(st == GAINMAP_OK, "%s", gainmap_last_error(ctx));
    if (st == GAINMAP_OK) {
        gainmap_encode_options o;
        gainmap_encode_options_init(&o);
        run_case(ctx, "samples/sample_p3_pq.tif, defaults", &m, &o, false, 48.0, 2.8);   /* target */
        CHECK_INT(gainmap_encode_options_preset(&o, "small"), GAINMAP_OK);
        run_case(ctx, "samples/sample_p3_pq.tif, --preset small", &m, &o, true, 40.0, 1.6);   /* target */
        gainmap_image_free(&m);
    }
    gainmap_ctx_free(ctx);
}

int main(void)
{
    RUN_TEST(test_synthetic);
    RUN_TEST(test_corpus_masters);
    RUN_TEST(test_float_master_clipped);
    RUN_TEST(test_sample);
    TEST_SUMMARY();
}

/* test_compute_avx2.c - gainmap_compute's AVX2 kernels (issue 8) against
 * its SSE2 kernels: the same pass-1 totals (histogram as counted, extremes,
 * "HDR <= 0" flags), the same metadata and the same map bytes, on widths
 * that leave every remainder for the scalar loop, 1- and 3-channel maps,
 * dithering on and off, scale 1 and 2, and the encoder's call that writes
 * the map over the base.  Both also match gm_compute_plain (one sample at a
 * time, no kernels).  On a machine without AVX2 the comparison cannot be
 * made: the test says so and only checks that the switch reports no AVX2. */
#include "check.h"
#include "internal.h"
#include "support/testutil.h"

static uint32_t rng = 8086;
static uint32_t rnd(void) { return tu_lcg(&rng); }

enum { NOISE, WIDE, HIDDEN };

/* Gains (stops) of pixel x, y: noisy steps in [-1, 4]; WIDE: from -9 to
 * +5.5 stops across the picture (the whole range the tables allow, bins
 * at both ends of the histogram); HIDDEN: the noise with a few pixels at
 * -6 and +6 stops in rows 37 and 50 (mod 64), which the tail filter's
 * pre-pass (every 64th row) never sees. */
static double gain_at(void *user, uint32_t x, uint32_t y)
{
    const tu_gain_kind *k = user;
    if (k->kind == WIDE)
        return -9.0 + 14.5 * ((double)x / (double)k->w * 0.7 + (double)y / (double)k->h * 0.3) +
               (double)(rnd() & 255) / 1024.0;
    if (k->kind == HIDDEN && (y % 64 == 37 || y % 64 == 50) && x % 7 == 3)
        return y % 64 == 37 ? -6.0 : 6.0;
    return tu_gain_steps(&rng, x, y);
}

/* An 8-bit sRGB P3 base and a 16-bit PQ P3 rendition (the encoder's
 * layout); zeros: some HDR samples 0 (a saturated primary). */
static void make_pair(gainmap_image *sdr, gainmap_image *hdr, uint32_t w, uint32_t h, int kind, int zeros)
{
    tu_gain_kind k = {kind, w, h};
    CHECK_INT(tu_gain_pair(sdr, hdr, w, h, 0, gain_at, &k, &rng, kind == WIDE, zeros ? 64 : 0), 0);
}

/* Map rows that differ between a and b (same size asserted). */
static long rows_differ(const gainmap_image *a, const gainmap_image *b)
{
    if (!a->data || !b->data || a->width != b->width || a->height != b->height || a->channels != b->channels)
        return -1;
    long n = 0;
    for (uint32_t y = 0; y < a->height; y++)
        n += memcmp((const uint8_t *)a->data + (size_t)y * a->stride, (const uint8_t *)b->data + (size_t)y * b->stride,
                    (size_t)a->width * a->channels) != 0;
    return n;
}

static long g_cases;

typedef struct run {
    gainmap_image map;
    gainmap_metadata meta;
    gm_compute_stats st;
} run;

static void one(const char *what, uint32_t w, uint32_t h, int kind, int zeros, int channels, int scale, int dither,
                double gamma, double offset)
{
    gainmap_image sdr, hdr;
    make_pair(&sdr, &hdr, w, h, kind, zeros);
    gainmap_encode_options o = tu_map_options(channels, scale, dither, gamma, offset);
    static run r[2];   /* [0] SSE2, [1] AVX2 */
    for (int v = 0; v < 2; v++) {
        gm_cpu_avx2_disable(v == 0);
        CHECK(gm_cpu_avx2() == (v == 1));
        CHECK_INT(gm_compute_with_stats(NULL, &sdr, &hdr, &o, &r[v].map, &r[v].meta, &r[v].st), GAINMAP_OK);
        CHECK_INT(r[v].st.avx2, v);   /* the job took the kernels asked for */
    }
    gm_cpu_avx2_disable(false);
    CHECK_MSG(memcmp(&r[0].meta, &r[1].meta, sizeof r[0].meta) == 0,
              "%s: metadata differ (min %d/%u vs %d/%u, max %d/%u vs %d/%u)", what, r[0].meta.gain_map_min[0].n,
              r[0].meta.gain_map_min[0].d, r[1].meta.gain_map_min[0].n, r[1].meta.gain_map_min[0].d,
              r[0].meta.gain_map_max[0].n, r[0].meta.gain_map_max[0].d, r[1].meta.gain_map_max[0].n,
              r[1].meta.gain_map_max[0].d);
    long bins = 0, counted = 0;
    for (int c = 0; c < 3; c++)
        for (int b = 0; b < 40 * 256; b++) {
            bins += r[0].st.hist[c][b] != r[1].st.hist[c][b];
            counted += r[1].st.hist[c][b];
        }
    CHECK_MSG(bins == 0, "%s: %ld histogram bins differ", what, bins);
    CHECK_MSG(counted > 0, "%s: an empty histogram (a degenerate test)", what);
    for (int c = 0; c < channels; c++) {
        CHECK_MSG(r[0].st.vmin[c] == r[1].st.vmin[c] && r[0].st.vmax[c] == r[1].st.vmax[c],
                  "%s: channel %d extremes [%.9g, %.9g] (SSE2) vs [%.9g, %.9g] (AVX2)", what, c, r[0].st.vmin[c],
                  r[0].st.vmax[c], r[1].st.vmin[c], r[1].st.vmax[c]);
        CHECK_MSG(r[0].st.anyzero[c] == r[1].st.anyzero[c], "%s: channel %d zero flag %d vs %d", what, c,
                  r[0].st.anyzero[c], r[1].st.anyzero[c]);
        if (scale == 1 && zeros && channels == 3)
            CHECK_MSG(r[1].st.anyzero[c] == 1, "%s: channel %d has no HDR zero (a degenerate test)", what, c);
    }
    CHECK_INT(r[1].map.channels, (uint32_t)channels);
    long rows = rows_differ(&r[0].map, &r[1].map);
    CHECK_MSG(rows == 0, "%s: %ld map rows differ between the SSE2 and the AVX2 kernels", what, rows);
    int seen[256] = {0}, distinct = 0;
    for (uint32_t y = 0; y < r[1].map.height; y++)
        for (uint32_t i = 0; i < r[1].map.width * r[1].map.channels; i++)
            distinct += !seen[((const uint8_t *)r[1].map.data)[(size_t)y * r[1].map.stride + i]]++;
    CHECK_MSG(distinct > 40, "%s: only %d distinct codes (a degenerate test)", what, distinct);

    /* the per-sample evaluation (no kernels) gives the same bytes */
    gainmap_image mp;
    gainmap_metadata meta_p;
    CHECK_INT(gm_compute_plain(NULL, &sdr, &hdr, &o, &mp, &meta_p), GAINMAP_OK);
    CHECK_MSG(memcmp(&meta_p, &r[1].meta, sizeof meta_p) == 0, "%s: metadata differ from gm_compute_plain", what);
    rows = rows_differ(&mp, &r[1].map);
    CHECK_MSG(rows == 0, "%s: %ld map rows differ from gm_compute_plain", what, rows);
    gainmap_image_free(&mp);

    /* the encoder's call (the map written over the base's pixels), both kernels */
    for (int v = 0; v < 2; v++) {
        gainmap_image given, m3;
        gainmap_metadata c;
        CHECK_INT(gainmap_image_alloc(NULL, &given, w, h, 3, GAINMAP_PIXEL_U8), GAINMAP_OK);
        memcpy(given.data, sdr.data, sdr.stride * h);
        given.transfer = sdr.transfer;
        given.primaries = sdr.primaries;
        gm_cpu_avx2_disable(v == 0);
        CHECK_INT(gm_compute_over_base(NULL, &given, &hdr, &o, &m3, &c), GAINMAP_OK);
        gm_cpu_avx2_disable(false);
        CHECK(memcmp(&c, &r[1].meta, sizeof c) == 0);
        rows = rows_differ(&m3, &r[1].map);
        CHECK_MSG(rows == 0, "%s: %ld map rows differ when the %s kernel writes over the base", what, rows,
                  v ? "AVX2" : "SSE2");
        gainmap_image_free(&m3);
        gainmap_image_free(&given);
    }
    for (int v = 0; v < 2; v++)
        gainmap_image_free(&r[v].map);
    gainmap_image_free(&sdr);
    gainmap_image_free(&hdr);
    g_cases++;
}

static void test_switch(void)
{
    gm_cpu_avx2_disable(true);
    CHECK(!gm_cpu_avx2());
    gm_cpu_avx2_disable(false);
    CHECK(gm_cpu_avx2());
}

static void test_kernels_identical(void)
{
    /* the kernels' layout (3 channels, full size): widths with 0, 1, 5 and 7
     * pixels left for the scalar loop, and 8 / 24 / 5 (one step, three
     * steps, no step) */
    one("520 wide, dither", 520, 130, NOISE, 1, 3, 1, 1, 1.25, 1.0 / 1024);
    one("333 wide, no dither", 333, 130, NOISE, 1, 3, 1, 0, 1.25, 1.0 / 1024);
    one("1001 wide, auto dither", 1001, 70, WIDE, 1, 3, 1, -1, 1.25, 1.0 / 1024);
    one("wide gains, dither", 263, 140, WIDE, 0, 3, 1, 1, 1.25, 1.0 / 1024);
    one("wide gains, offset 1/64", 263, 140, WIDE, 1, 3, 1, 0, 1.25, 1.0 / 64);
    one("hidden tails", 520, 200, HIDDEN, 0, 3, 1, 1, 1.25, 1.0 / 1024);
    one("hidden tails, gamma 1", 519, 200, HIDDEN, 0, 3, 1, 0, 1.0, 1.0 / 1024);
    one("gamma 0.5", 200, 64, NOISE, 1, 3, 1, 1, 0.5, 1.0 / 1024);
    one("8 wide", 8, 150, NOISE, 1, 3, 1, 1, 1.25, 1.0 / 1024);
    one("24 wide", 24, 150, NOISE, 1, 3, 1, 0, 1.25, 1.0 / 1024);
    one("13 wide", 13, 150, NOISE, 1, 3, 1, 1, 1.25, 1.0 / 1024);
    one("5 wide", 5, 150, NOISE, 1, 3, 1, 1, 1.25, 1.0 / 1024);
    /* the other layouts (no kernels): the switch changes nothing */
    one("1 channel", 333, 97, NOISE, 1, 1, 1, 1, 1.25, 1.0 / 1024);
    one("1 channel, no dither", 331, 97, WIDE, 1, 1, 1, 0, 1.25, 1.0 / 1024);
    one("scale 2", 333, 97, NOISE, 1, 3, 2, 1, 1.25, 1.0 / 1024);
    one("scale 2, 1 channel", 334, 98, WIDE, 1, 1, 2, 0, 1.25, 1.0 / 1024);
}

/* One HDR sample at 0 in lane L of a step (sample 24 + L of row 10, of
 * 48): only its channel has zeros, both kernels say so, and its code is 0. */
static void test_zero_in_each_lane(void)
{
    gainmap_image sdr, hdr;
    make_pair(&sdr, &hdr, 16, 64, NOISE, 0);
    gainmap_encode_options o;
    gainmap_encode_options_init(&o);
    uint16_t *row = (uint16_t *)(void *)((uint8_t *)hdr.data + 10 * hdr.stride);
    int bad = 0;
    for (int L = 0; L < 24; L++) {
        uint16_t keep = row[24 + L];
        row[24 + L] = 0;
        static run r[2];
        for (int v = 0; v < 2; v++) {
            gm_cpu_avx2_disable(v == 0);
            CHECK_INT(gm_compute_with_stats(NULL, &sdr, &hdr, &o, &r[v].map, &r[v].meta, &r[v].st), GAINMAP_OK);
        }
        gm_cpu_avx2_disable(false);
        for (int c = 0; c < 3; c++)
            if (r[0].st.anyzero[c] != (c == L % 3) || r[1].st.anyzero[c] != (c == L % 3)) {
                if (bad++ == 0)
                    fprintf(stderr, "lane %d: channel %d zero flags %d (SSE2), %d (AVX2), expected %d\n", L, c,
                            r[0].st.anyzero[c], r[1].st.anyzero[c], c == L % 3);
            }
        if (memcmp(&r[0].meta, &r[1].meta, sizeof r[0].meta) != 0 || rows_differ(&r[0].map, &r[1].map) != 0 ||
            ((const uint8_t *)r[1].map.data)[10 * r[1].map.stride + 24 + (size_t)L] != 0) {
            if (bad++ == 0)
                fprintf(stderr, "lane %d: the maps or metadata differ, or the zero sample's code is not 0\n", L);
        }
        for (int v = 0; v < 2; v++)
            gainmap_image_free(&r[v].map);
        row[24 + L] = keep;
    }
    CHECK_INT(bad, 0);
    gainmap_image_free(&sdr);
    gainmap_image_free(&hdr);
}

int main(void)
{
    if (!gm_cpu_avx2()) {
        /* nothing to compare the SSE2 kernels with */
        printf("AVX2 is not available (%s): the AVX2 kernels are not tested here\n",
               GM_HAVE_AVX2_TARGET ? "this CPU has none" : "not an x86 GCC/Clang build");
        CHECK(!gm_cpu_avx2());
        gm_cpu_avx2_disable(false);
        CHECK(!gm_cpu_avx2());
        TEST_SUMMARY();
    }
    RUN_TEST(test_switch);
    RUN_TEST(test_kernels_identical);
    RUN_TEST(test_zero_in_each_lane);
    printf("%ld cases compared\n", g_cases);
    TEST_SUMMARY();
}

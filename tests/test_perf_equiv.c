/* test_perf_equiv.c - the fast paths of issue 8 against references on
 * random images: the tone mapper's float-bit curve table against its log2
 * table (gm_tonemap_row vs gm_tonemap_row_ref), and gainmap_apply's tables
 * (gain per code, PQ by float bits, full-size map without resampling)
 * against the formula evaluated in double precision here. */
#include "internal.h"
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng = 12345;
static uint32_t rnd(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

/* Random 16-bit PQ master: half the pixels anywhere, half near greys and
 * near the peak (where the curve and the gamut mapper work hardest). */
static void random_master(gainmap_image *img, uint32_t w, uint32_t h, gainmap_primaries p)
{
    CHECK_INT(gainmap_image_alloc(NULL, img, w, h, 3, GAINMAP_PIXEL_U16), GAINMAP_OK);
    img->transfer = GAINMAP_TRANSFER_PQ;
    img->primaries = p;
    for (uint32_t y = 0; y < h; y++) {
        uint16_t *r = (uint16_t *)(void *)((uint8_t *)img->data + (size_t)y * img->stride);
        for (uint32_t x = 0; x < w; x++) {
            uint32_t base = rnd() & 0xFFFF;
            for (int c = 0; c < 3; c++)
                r[3 * x + c] = (uint16_t)((x & 1) ? rnd() & 0xFFFF : GM_MIN(65535u, base + (rnd() & 0x3FF)));
        }
    }
}

static int srgb_code(float v) { return (int)floor(gainmap_srgb_from_linear(GM_CLAMP((double)v, 0.0, 1.0)) * 255.0 + 0.5); }

static void test_tonemap_fast_vs_ref(gainmap_primaries src, gainmap_tonemapper method)
{
    const uint32_t w = 512, h = 64;
    gainmap_image img;
    random_master(&img, w, h, src);
    gainmap_tonemap_options o;
    gainmap_tonemap_options_init(&o);
    o.method = method;
    gm_tonemap_state *s = NULL;
    CHECK_INT(gm_tonemap_setup(NULL, &img, &o, &s), GAINMAP_OK);
    float *in = malloc((size_t)w * 3 * sizeof *in), *a = malloc((size_t)w * 3 * sizeof *a),
          *b = malloc((size_t)w * 3 * sizeof *b);
    double maxd = 0.0;
    int maxcode = 0;
    long differ = 0, snapped = 0;
    for (uint32_t y = 0; y < h; y++) {
        gm_tonemap_decode_row(s, &img, y, in);
        gm_tonemap_row(s, in, a, w);
        gm_tonemap_row_ref(s, in, b, w);
        for (size_t i = 0; i < (size_t)w * 3; i += 3) {
            /* The mapper turns a pixel whose tone-mapped luminance reaches
             * SDR white into white, and one a hair below into a colour a few
             * codes off white: a 1e-4 change of the curve near the peak can
             * cross that edge.  Such pixels are counted, not compared. */
            bool wa = a[i] == 1.0f && a[i + 1] == 1.0f && a[i + 2] == 1.0f;
            bool wb = b[i] == 1.0f && b[i + 1] == 1.0f && b[i + 2] == 1.0f;
            if (wa != wb) {
                snapped++;
                continue;
            }
            for (size_t c = i; c < i + 3; c++) {
                maxd = fmax(maxd, fabs((double)a[c] - (double)b[c]));
                int d = abs(srgb_code(a[c]) - srgb_code(b[c]));
                maxcode = GM_MAX(maxcode, d);
                differ += d != 0;
            }
        }
    }
    /* one 8-bit code at most, and only where a value sits on a rounding edge */
    CHECK(maxcode <= 1);
    CHECK(differ < (long)w * h * 3 / 100);
    CHECK_MSG(snapped < (long)w * h / 200, "%ld pixels crossed the white edge", snapped);
    CHECK(maxd < 2e-3);
    /* and the two are not the same code by accident: the ratio table was used */
    CHECK(maxd > 0.0);
    free(in);
    free(a);
    free(b);
    gm_tonemap_free(s);
    gainmap_image_free(&img);
}

/* gainmap_apply to 16-bit PQ BT.2020 vs double precision. */
static void test_apply_vs_double(int map_channels)
{
    const uint32_t w = 300, h = 40;
    gainmap_image base, map, out;
    CHECK_INT(gainmap_image_alloc(NULL, &base, w, h, 3, GAINMAP_PIXEL_U8), GAINMAP_OK);
    CHECK_INT(gainmap_image_alloc(NULL, &map, w, h, (uint32_t)map_channels, GAINMAP_PIXEL_U8), GAINMAP_OK);
    base.transfer = GAINMAP_TRANSFER_SRGB;
    base.primaries = GAINMAP_PRIMARIES_P3;
    for (uint32_t y = 0; y < h; y++) {
        uint8_t *b = (uint8_t *)base.data + (size_t)y * base.stride, *m = (uint8_t *)map.data + (size_t)y * map.stride;
        for (uint32_t i = 0; i < w * 3; i++)
            b[i] = (uint8_t)rnd();
        for (uint32_t i = 0; i < w * (uint32_t)map_channels; i++)
            m[i] = (uint8_t)rnd();
    }
    gainmap_params p;
    memset(&p, 0, sizeof p);
    p.channel_count = (uint8_t)map_channels;
    p.use_base_colour_space = 1;
    p.alternate_hdr_headroom = 3.5;
    for (int c = 0; c < 3; c++) {
        p.gain_map_min[c] = -0.5 + 0.25 * c;
        p.gain_map_max[c] = 3.5 - 0.5 * c;
        p.gamma[c] = c == 1 ? 1.0 : 0.5 + c;
        p.base_offset[c] = 1.0 / 64;
        p.alternate_offset[c] = 1.0 / 128;
    }
    gainmap_metadata meta;
    CHECK_INT(gainmap_params_to_metadata(&p, &meta), GAINMAP_OK);
    gainmap_params q;   /* the exact values the metadata holds */
    CHECK_INT(gainmap_metadata_to_params(&meta, &q), GAINMAP_OK);
    gainmap_decode_options o;
    gainmap_decode_options_init(&o);
    o.transfer = GAINMAP_TRANSFER_PQ;
    o.primaries = GAINMAP_PRIMARIES_BT2020;
    CHECK_INT(gainmap_apply(NULL, &base, &map, &meta, &o, &out), GAINMAP_OK);
    CHECK_INT(out.type, GAINMAP_PIXEL_U16);
    double m[9];
    CHECK_INT(gainmap_gamut_matrix(GAINMAP_PRIMARIES_P3, GAINMAP_PRIMARIES_BT2020, m), 0);
    double wgt = gainmap_weight(&q, q.alternate_hdr_headroom);
    CHECK_NEAR(wgt, 1.0, 1e-12);
    int maxd = 0;
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *b = (const uint8_t *)base.data + (size_t)y * base.stride;
        const uint8_t *g = (const uint8_t *)map.data + (size_t)y * map.stride;
        const uint16_t *d = (const uint16_t *)(const void *)((const uint8_t *)out.data + (size_t)y * out.stride);
        for (uint32_t x = 0; x < w; x++) {
            double lin[3], o2[3];
            for (int c = 0; c < 3; c++) {
                double r = g[x * (uint32_t)map_channels + (map_channels == 3 ? (uint32_t)c : 0)] / 255.0;
                double G = q.gain_map_min[c] + (q.gain_map_max[c] - q.gain_map_min[c]) * pow(r, 1.0 / q.gamma[c]);
                lin[c] = (gainmap_srgb_to_linear(b[3 * x + c] / 255.0) + q.base_offset[c]) * exp2(G * wgt) -
                         q.alternate_offset[c];
            }
            gm_mat3_apply(m, lin, o2);
            for (int c = 0; c < 3; c++) {
                double sig = gainmap_pq_inverse_eotf(GM_CLAMP(o2[c] * 203.0, 0.0, 10000.0));
                int want = (int)floor(sig * 65535.0 + 0.5);
                maxd = GM_MAX(maxd, abs(want - (int)d[3 * x + c]));
            }
        }
    }
    CHECK_MSG(maxd <= 1, "apply (%d-channel map) differs from double precision by %d PQ codes", map_channels, maxd);
    gainmap_image_free(&out);
    gainmap_image_free(&base);
    gainmap_image_free(&map);
}

static void test_tonemap_p3(void) { test_tonemap_fast_vs_ref(GAINMAP_PRIMARIES_P3, GAINMAP_TONEMAP_DEFAULT); }
static void test_tonemap_bt2020(void) { test_tonemap_fast_vs_ref(GAINMAP_PRIMARIES_BT2020, GAINMAP_TONEMAP_DEFAULT); }
static void test_tonemap_bt2446a(void) { test_tonemap_fast_vs_ref(GAINMAP_PRIMARIES_BT2020, GAINMAP_TONEMAP_BT2446A); }
static void test_apply_full_map3(void) { test_apply_vs_double(3); }
static void test_apply_full_map1(void) { test_apply_vs_double(1); }

int main(void)
{
    RUN_TEST(test_tonemap_p3);
    RUN_TEST(test_tonemap_bt2020);
    RUN_TEST(test_tonemap_bt2446a);
    RUN_TEST(test_apply_full_map3);
    RUN_TEST(test_apply_full_map1);
    TEST_SUMMARY();
}

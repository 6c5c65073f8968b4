/* test_tonemap_avx2.c - the tone mapper's AVX2 rows (tm_row_avx2, issue 8)
 * give exactly the bytes of its SSE2 rows.
 *
 * gainmap_tonemap (as gm_tonemap_image, which counts the rows its AVX2
 * kernel made) runs once with the AVX2 kernels switched off
 * (gm_cpu_avx2_disable) and once with them on; the 8-bit bases must be
 * identical, sample for sample, and the second run must have made every
 * row of a master the fused path takes with the AVX2 kernel (none of the
 * others).  The masters hold what the vector path takes (smooth colours
 * inside the base gamut) and what it hands to the scalar pixel path
 * (black, the brightest code above the peak, saturated primaries the gamut
 * mapper brings in, bright colours outside the cube), at widths 1..20
 * (rows shorter than one group of eight, and every tail length) and a few
 * hundred (odd), in U16 and U8, with and without dithering, for every
 * curve of the fused path.  On a machine without AVX2 only the SSE2 path
 * exists: the test says so and checks that gm_cpu_avx2() is false. */
#include "check.h"
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng = 20240611u;
static uint32_t rnd(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 7;
}

/* One pixel of row kind `kind` at x (codes 0..mx). */
static void pick(uint32_t kind, uint32_t x, uint32_t w, uint32_t mx, uint32_t v[3])
{
    uint32_t t = w > 1 ? x * mx / (w - 1) : mx / 2;
    switch (kind) {
    case 0:   /* smooth: a ramp with a gentle tint, almost all in the vector path */
        v[0] = t;
        v[1] = t * 15 / 16;
        v[2] = t * 7 / 8;
        return;
    case 1: { /* the pixels the vector path hands back, one kind per pixel */
        uint32_t r = rnd() % (mx + 1), c = rnd() % 3;
        switch (rnd() % 6) {
        case 0: v[0] = v[1] = v[2] = 0; return;                        /* black */
        case 1: v[0] = v[1] = v[2] = mx; return;                       /* above the peak */
        case 2: v[0] = v[1] = v[2] = 0; v[c] = mx - r / 16; return;    /* saturated primary */
        case 3: v[0] = v[1] = v[2] = r / 4; v[c] = mx * 3 / 4; return; /* bright, out of the cube */
        case 4: v[0] = v[1] = v[2] = rnd() % 4; return;                /* the darkest codes */
        default: v[0] = r; v[1] = rnd() % (mx + 1); v[2] = rnd() % (mx + 1); return;
        }
    }
    case 2:   /* greys and near-greys, with now and then a saturated one */
        v[0] = v[1] = v[2] = rnd() % (mx + 1);
        v[x % 3] = rnd() % 13 == 0 ? mx : GM_MIN(mx, v[x % 3] + rnd() % (mx / 32 + 1));
        return;
    default:  /* anything */
        for (int c = 0; c < 3; c++)
            v[c] = rnd() % (mx + 1);
        return;
    }
}

/* A 3-channel PQ Display-P3 master; pad > 0: rows that many samples longer
 * than the pixels (the fused path must use the stride). */
static void make_master(gainmap_image *img, uint32_t w, uint32_t h, gainmap_pixel_type type, size_t pad)
{
    memset(img, 0, sizeof *img);
    size_t ps = type == GAINMAP_PIXEL_U16 ? 2 : 1;
    img->width = w;
    img->height = h;
    img->channels = 3;
    img->type = type;
    img->stride = ((size_t)w * 3 + pad) * ps;
    img->data = malloc(img->stride * h);   /* exactly that: ASan sees any read past the last row */
    CHECK(img->data != NULL);
    img->bit_depth = type == GAINMAP_PIXEL_U16 ? 16 : 8;
    img->transfer = GAINMAP_TRANSFER_PQ;
    img->primaries = GAINMAP_PRIMARIES_P3;
    img->max_cll = 1000.0;
    uint32_t mx = type == GAINMAP_PIXEL_U16 ? 65535 : 255;
    for (uint32_t y = 0; y < h; y++) {
        uint8_t *row = (uint8_t *)img->data + (size_t)y * img->stride;
        memset(row + (size_t)w * 3 * ps, 0xA5, pad * ps);
        for (uint32_t x = 0; x < w; x++) {
            uint32_t v[3];
            pick((y + w) % 4, x, w, mx, v);
            for (int c = 0; c < 3; c++) {
                size_t i = 3 * (size_t)x + (size_t)c;
                if (type == GAINMAP_PIXEL_U16) {
                    uint16_t s = (uint16_t)v[c];
                    memcpy(row + 2 * i, &s, 2);
                } else {
                    row[i] = (uint8_t)v[c];
                }
            }
        }
    }
}

static long g_samples, g_codes_seen;

/* gainmap_tonemap through the SSE2 rows, then through the AVX2 rows (all
 * of them: fused = the master is one the fused path takes): the same
 * bytes. */
static void same_with(const gainmap_image *hdr, const gainmap_tonemap_options *opts, bool fused, const char *what)
{
    gainmap_tonemap_options o = *opts;
    gainmap_image a, b;
    uint32_t rows = 99;
    gm_cpu_avx2_disable(true);
    CHECK(!gm_cpu_avx2());
    CHECK_INT(gm_tonemap_image(NULL, hdr, &o, &a, &rows), GAINMAP_OK);
    CHECK_INT(rows, 0);
    gm_cpu_avx2_disable(false);
    CHECK(gm_cpu_avx2());
    CHECK_INT(gm_tonemap_image(NULL, hdr, &o, &b, &rows), GAINMAP_OK);
    CHECK_MSG(rows == (fused ? hdr->height : 0), "%s: %u of %u rows through the AVX2 kernel, expected %u", what, rows,
              hdr->height, fused ? hdr->height : 0);
    long differ = 0, first = -1;
    bool seen[256] = {false};
    for (uint32_t y = 0; y < hdr->height; y++) {
        const uint8_t *ra = (const uint8_t *)a.data + (size_t)y * a.stride;
        const uint8_t *rb = (const uint8_t *)b.data + (size_t)y * b.stride;
        for (size_t i = 0; i < (size_t)hdr->width * 3; i++) {
            seen[ra[i]] = true;
            if (ra[i] != rb[i]) {
                if (first < 0)
                    first = (long)((size_t)y * hdr->width * 3 + i);
                differ++;
            }
        }
    }
    long n = (long)hdr->width * hdr->height * 3;
    CHECK_MSG(differ == 0, "%s (%s, %ux%u %s, dither %d): %ld of %ld samples differ, the first at sample %ld", what,
              gainmap_tonemapper_name(o.method), hdr->width, hdr->height, hdr->type == GAINMAP_PIXEL_U16 ? "U16" : "U8",
              o.dither, differ, n, first);
    g_samples += n;
    for (int i = 0; i < 256; i++)
        g_codes_seen += seen[i];
    gainmap_image_free(&a);
    gainmap_image_free(&b);
}

static void same_both_ways(const gainmap_image *hdr, gainmap_tonemapper method, int dither, bool fused,
                           const char *what)
{
    gainmap_tonemap_options o;
    gainmap_tonemap_options_init(&o);
    o.method = method;
    o.dither = dither;
    same_with(hdr, &o, fused, what);
}

static void widths_1_to_20(gainmap_pixel_type type)
{
    for (uint32_t w = 1; w <= 20; w++) {
        gainmap_image m;
        make_master(&m, w, 9, type, 0);
        same_both_ways(&m, GAINMAP_TONEMAP_DEFAULT, 1, true, "short rows");
        gainmap_tonemapper other = w % 2 ? GAINMAP_TONEMAP_REINHARD : GAINMAP_TONEMAP_FILMIC;
        same_both_ways(&m, other, (int)(w % 3 == 0), true, "short rows");
        free(m.data);
    }
}

static void test_u16_widths(void) { widths_1_to_20(GAINMAP_PIXEL_U16); }
static void test_u8_widths(void) { widths_1_to_20(GAINMAP_PIXEL_U8); }

/* rows of a few hundred pixels (several chunks of groups, odd tails),
 * every curve the fused path takes, dithering on and off */
static void test_wide_rows(void)
{
    static const uint32_t widths[] = {257, 301, 333, 520, 527};
    static const gainmap_tonemapper methods[] = {GAINMAP_TONEMAP_DEFAULT, GAINMAP_TONEMAP_BT2446A,
                                                 GAINMAP_TONEMAP_REINHARD, GAINMAP_TONEMAP_FILMIC};
    for (size_t k = 0; k < sizeof widths / sizeof widths[0]; k++)
        for (int t = 0; t < 2; t++) {
            gainmap_image m;
            make_master(&m, widths[k], 21, t ? GAINMAP_PIXEL_U8 : GAINMAP_PIXEL_U16, 0);
            for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
                same_both_ways(&m, methods[i], (int)((i + k) % 2), true, "wide rows");
            free(m.data);
        }
}

/* the peak from the content (no MaxCLL), rows with padding, and the
 * peak at SDR white (every curve is then min(x, 1)) */
static void test_peaks_and_strides(void)
{
    for (int t = 0; t < 2; t++) {
        gainmap_image m;
        make_master(&m, 203, 17, t ? GAINMAP_PIXEL_U8 : GAINMAP_PIXEL_U16, 7);
        m.max_cll = 0.0;
        same_both_ways(&m, GAINMAP_TONEMAP_DEFAULT, 1, true, "content peak, padded rows");
        m.max_cll = 4000.0;
        same_both_ways(&m, GAINMAP_TONEMAP_BT2446A, 0, true, "peak 4000");
        m.max_cll = 203.0;
        same_both_ways(&m, GAINMAP_TONEMAP_DEFAULT, 1, true, "peak at white");
        free(m.data);
    }
}

/* outside the fused path (another base, HDR white, curve; HLG): no row
 * through the AVX2 kernel, the same bytes */
static void test_other_paths(void)
{
    gainmap_image m;
    make_master(&m, 37, 8, GAINMAP_PIXEL_U16, 0);
    gainmap_tonemap_options o;
    gainmap_tonemap_options_init(&o);
    o.base_primaries = GAINMAP_PRIMARIES_BT709;
    same_with(&m, &o, false, "BT.709 base");
    gainmap_tonemap_options_init(&o);
    o.hdr_white_nits = 300.0;
    same_with(&m, &o, false, "HDR white 300");
    same_both_ways(&m, GAINMAP_TONEMAP_CLIP, 1, false, "clip");
    m.transfer = GAINMAP_TRANSFER_HLG;
    same_both_ways(&m, GAINMAP_TONEMAP_DEFAULT, 1, false, "HLG");
    free(m.data);
}

/* the masters are not degenerate: the bases use most of the codes */
static void test_coverage(void)
{
    CHECK_MSG(g_samples > 300000, "%ld samples compared", g_samples);
    CHECK_MSG(g_codes_seen > 100 * 50, "%ld distinct codes summed over the comparisons", g_codes_seen);
}

int main(void)
{
    if (!gm_cpu_avx2()) {
        printf("no AVX2 on this machine (or in this build): only the SSE2 rows run, nothing to compare\n");
        CHECK(!gm_cpu_avx2());
        TEST_SUMMARY();
    }
    RUN_TEST(test_u16_widths);
    RUN_TEST(test_u8_widths);
    RUN_TEST(test_wide_rows);
    RUN_TEST(test_peaks_and_strides);
    RUN_TEST(test_other_paths);
    RUN_TEST(test_coverage);
    printf("%ld samples compared\n", g_samples);
    TEST_SUMMARY();
}

/* test_tonemap.c - HDR -> SDR base: curves against the BT.2390 / BT.2446A
 * formulas, a neutral grey ramp (0.01..4000 cd/m2) stays neutral for every
 * tone mapper and the LUT path (mean dE_ITP vs a neutral reference), colour
 * charts in P3 and BT.2020 keep their Oklab hue within 2 degrees, the
 * pipeline round-trips in-gamut colours, the peak comes from options,
 * MaxCLL or the content.  Prints the measurements docs/colour.md quotes. */
#include "check.h"
#include "internal.h"

#include <time.h>

static const gainmap_tonemapper METHODS[] = {GAINMAP_TONEMAP_BT2390, GAINMAP_TONEMAP_BT2446A,
                                             GAINMAP_TONEMAP_REINHARD, GAINMAP_TONEMAP_FILMIC,
                                             GAINMAP_TONEMAP_CLIP};
#define NMETHODS (sizeof METHODS / sizeof METHODS[0])

/* A 1-row F32 linear image (1.0 = 203 cd/m2) of n RGB pixels. */
static void make_f32(gainmap_image *img, const double (*px)[3], uint32_t n, gainmap_primaries p)
{
    CHECK_INT(gainmap_image_alloc(NULL, img, n, 1, 3, GAINMAP_PIXEL_F32), GAINMAP_OK);
    img->transfer = GAINMAP_TRANSFER_LINEAR;
    img->primaries = p;
    float *f = img->data;
    for (uint32_t i = 0; i < 3 * n; i++)
        f[i] = (float)px[i / 3][i % 3];
}

/* The same pixels PQ-encoded in a 16-bit image. */
static void make_pq16(gainmap_image *img, const double (*px)[3], uint32_t n, gainmap_primaries p)
{
    CHECK_INT(gainmap_image_alloc(NULL, img, n, 1, 3, GAINMAP_PIXEL_U16), GAINMAP_OK);
    img->transfer = GAINMAP_TRANSFER_PQ;
    img->primaries = p;
    uint16_t *u = img->data;
    for (uint32_t i = 0; i < 3 * n; i++)
        u[i] = (uint16_t)lround(65535.0 * gainmap_pq_inverse_eotf(px[i / 3][i % 3] * 203.0));
}

static void sdr_linear(const gainmap_image *sdr, uint32_t i, double rgb[3])
{
    const uint8_t *p = (const uint8_t *)sdr->data + 3 * (size_t)i;
    for (int c = 0; c < 3; c++)
        rgb[c] = gainmap_to_linear(sdr->transfer, p[c] / 255.0);
}

static double hue_deg(const double lab[3]) { return atan2(lab[2], lab[1]) * 180.0 / M_PI; }
static double hue_diff(double a, double b)
{
    double d = fabs(a - b);
    return d > 180.0 ? 360.0 - d : d;
}

/* ---- curves ---- */
static void test_curves(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    double px[1][3] = {{1, 1, 1}};
    gainmap_image img;
    make_f32(&img, px, 1, GAINMAP_PRIMARIES_BT2020);
    gainmap_tonemap_options o;
    gainmap_tonemap_options_init(&o);
    o.peak_nits = 1000.0;
    gm_tonemap_state *s = NULL;
    /* BT.2390 EETF 1000 -> 203 nits (FORMATS.md 6.6: 100 nits -> 99.4) */
    o.method = GAINMAP_TONEMAP_BT2390;
    CHECK_INT(gm_tonemap_setup(ctx, &img, &o, &s), GAINMAP_OK);
    CHECK_NEAR(gm_tonemap_peak_nits(s), 1000.0, 0);
    CHECK_NEAR(gm_tonemap_curve(s, 100.0 / 203.0) * 203.0, 99.36109, 1e-3);
    CHECK_NEAR(gm_tonemap_curve(s, 1.0) * 203.0, 159.04187, 1e-3);
    CHECK_NEAR(gm_tonemap_curve(s, 500.0 / 203.0) * 203.0, 198.85601, 1e-3);
    CHECK_NEAR(gm_tonemap_curve(s, 1000.0 / 203.0), 1.0, 1e-9);
    CHECK_NEAR(gm_tonemap_curve(s, 3000.0 / 203.0), 1.0, 0);
    CHECK_NEAR(gm_tonemap_curve(s, 10.0 / 203.0) * 203.0, 10.0, 1e-6);   /* below the knee: unchanged */
    gm_tonemap_free(s);
    /* BT.2446 Method A (L_HDR = 1000, L_SDR = 203), values from the FORMATS.md 6.7 formulas */
    o.method = GAINMAP_TONEMAP_BT2446A;
    CHECK_INT(gm_tonemap_setup(ctx, &img, &o, &s), GAINMAP_OK);
    CHECK_NEAR(gm_tonemap_curve(s, 0.1), 0.0472646027, 1e-8);
    CHECK_NEAR(gm_tonemap_curve(s, 0.5), 0.2031472277, 1e-8);
    CHECK_NEAR(gm_tonemap_curve(s, 1.0), 0.3755354180, 1e-8);
    CHECK_NEAR(gm_tonemap_curve(s, 2.0), 0.6257598289, 1e-8);
    CHECK_NEAR(gm_tonemap_curve(s, 1000.0 / 203.0), 1.0, 1e-9);
    gm_tonemap_free(s);
    /* every curve: monotone, 0 -> 0, peak -> 1, never above 1 */
    for (size_t m = 0; m < NMETHODS; m++) {
        o.method = METHODS[m];
        CHECK_INT(gm_tonemap_setup(ctx, &img, &o, &s), GAINMAP_OK);
        double prev = 0.0;
        int mono = 1;
        for (double x = 1e-5; x < 10.0; x *= 1.01) {
            double y = gm_tonemap_curve(s, x);
            if (y < prev - 1e-12 || y > 1.0)
                mono = 0;
            prev = y;
        }
        CHECK_MSG(mono, "%s is not monotone in [0,1]", gainmap_tonemapper_name(METHODS[m]));
        CHECK_NEAR(gm_tonemap_curve(s, 0.0), 0.0, 0);
        CHECK_NEAR(gm_tonemap_curve(s, 1000.0 / 203.0), 1.0, 1e-9);
        gm_tonemap_free(s);
    }
    /* hdr_white moves the anchor: with clip, 100 nits = white when --hdr-white 100 */
    o.method = GAINMAP_TONEMAP_CLIP;
    o.hdr_white_nits = 100.0;
    CHECK_INT(gm_tonemap_setup(ctx, &img, &o, &s), GAINMAP_OK);
    float in[3] = {100.0f / 203.0f, 100.0f / 203.0f, 100.0f / 203.0f}, out[3];
    gm_tonemap_row(s, in, out, 1);
    CHECK_NEAR(out[0], 1.0, 1e-6);
    in[0] = in[1] = in[2] = 50.0f / 203.0f;
    gm_tonemap_row(s, in, out, 1);
    CHECK_NEAR(out[1], 0.5, 1e-5);
    gm_tonemap_free(s);
    gainmap_image_free(&img);
    gainmap_ctx_free(ctx);
}

/* ---- neutral grey ramp ---- */
#define RAMP 512

static void ramp_pixels(double (*px)[3])
{
    for (int i = 0; i < RAMP; i++) {
        double nits = 0.01 * pow(4000.0 / 0.01, (double)i / (RAMP - 1));
        px[i][0] = px[i][1] = px[i][2] = nits / 203.0;
    }
}

/* Mean dE_ITP of the SDR base (shown with white at 203 cd/m2) against the
 * neutral grey of the same luminance. */
static double ramp_neutrality(const gainmap_image *sdr, int *exact)
{
    double w[3], sum = 0.0;
    gainmap_luma_weights(sdr->primaries, w);
    *exact = 1;
    for (uint32_t i = 0; i < sdr->width; i++) {
        double rgb[3], itp[3], ref[3];
        sdr_linear(sdr, i, rgb);
        const uint8_t *p = (const uint8_t *)sdr->data + 3 * i;
        if (p[0] != p[1] || p[1] != p[2]) {
            if (*exact && getenv("GM_DEBUG"))
                printf("    pixel %u: %u %u %u\n", i, p[0], p[1], p[2]);
            *exact = 0;
        }
        double y = w[0] * rgb[0] + w[1] * rgb[1] + w[2] * rgb[2], g[3] = {y, y, y};
        gm_ictcp_from_linear(sdr->primaries, rgb, 203.0, itp);
        gm_ictcp_from_linear(sdr->primaries, g, 203.0, ref);
        sum += gm_delta_e_itp(itp, ref);
    }
    return sum / sdr->width;
}

static char *identity_like_lut(void);

static void test_grey_ramp(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    static double px[RAMP][3];
    ramp_pixels(px);
    gainmap_image pq, lin;
    make_pq16(&pq, (const double(*)[3])px, RAMP, GAINMAP_PRIMARIES_BT2020);
    make_f32(&lin, (const double(*)[3])px, RAMP, GAINMAP_PRIMARIES_P3);
    const gainmap_primaries bases[2] = {GAINMAP_PRIMARIES_P3, GAINMAP_PRIMARIES_BT709};
    for (size_t m = 0; m < NMETHODS + 1; m++) {
        for (int b = 0; b < 2; b++) {
            for (int src = 0; src < 2; src++) {
                gainmap_tonemap_options o;
                gainmap_tonemap_options_init(&o);
                o.base_primaries = bases[b];
                gainmap_lut *lut = NULL;
                if (m < NMETHODS) {
                    o.method = METHODS[m];
                } else {
                    char *text = identity_like_lut();
                    CHECK_INT(gainmap_lut_parse(ctx, text, strlen(text), &lut), GAINMAP_OK);
                    free(text);
                    o.lut = lut;
                }
                o.dither = src;   /* PQ input undithered: the monotone check below needs it */
                gainmap_image sdr;
                CHECK_INT(gainmap_tonemap(ctx, src ? &lin : &pq, &o, &sdr), GAINMAP_OK);
                int exact = 0;
                double de = ramp_neutrality(&sdr, &exact);
                const char *name = m < NMETHODS ? gainmap_tonemapper_name(METHODS[m]) : "lut";
                CHECK_MSG(de < 1.0, "%s: mean dE_ITP %.4f", name, de);
                CHECK_MSG(exact, "%s: a grey pixel has R, G, B codes that differ", name);
                /* monotone, black stays near black, the top reaches white */
                const uint8_t *p = sdr.data;
                int mono = 1;
                for (uint32_t i = 1; i < sdr.width; i++)
                    if (p[3 * i] < p[3 * (i - 1)])
                        mono = 0;
                CHECK_MSG(mono || o.dither, "%s: ramp not monotone", name);
                CHECK_MSG(p[0] <= 3, "%s: 0.01 nits -> code %u", name, p[0]);
                CHECK_MSG(p[3 * (RAMP - 1)] == 255, "%s: 4000 nits -> code %u", name, p[3 * (RAMP - 1)]);
                if (b == 0 && src == 0)
                    printf("  grey ramp 0.01-4000 nits, %-8s mean dE_ITP %.5f (neutral codes: %s)\n", name, de,
                           exact ? "all" : "not all");
                gainmap_image_free(&sdr);
                gainmap_lut_free(lut);
            }
        }
    }
    gainmap_image_free(&pq);
    gainmap_image_free(&lin);
    gainmap_ctx_free(ctx);
}

/* A 33^3 LUT in PQ (input) -> gamma 2.2 (output): per channel
 * min(nits/203, 1) - a crude clip tone map, neutral on the diagonal. */
static char *identity_like_lut(void)
{
    const int n = 33;
    size_t cap = 64 + (size_t)n * n * n * 40;
    char *t = malloc(cap), *p = t;
    p += sprintf(p, "TITLE \"pq clip\"\nLUT_3D_SIZE %d\n", n);
    for (int b = 0; b < n; b++)
        for (int g = 0; g < n; g++)
            for (int r = 0; r < n; r++) {
                int idx[3] = {r, g, b};
                double v[3];
                for (int c = 0; c < 3; c++)
                    v[c] = pow(fmin(gainmap_pq_eotf(idx[c] / (double)(n - 1)) / 203.0, 1.0), 1 / 2.2);
                p += sprintf(p, "%.6f %.6f %.6f\n", v[0], v[1], v[2]);
            }
    return t;
}

/* ---- colour charts: hue kept ---- */
static const double CHART_P3[][3] = {
    /* saturated: P3 primaries and secondaries, and between */
    {1, 0, 0},        {0, 1, 0},        {0, 0, 1},        {1, 1, 0},       {0, 1, 1},       {1, 0, 1},
    {1, 0.5, 0},      {0.5, 0, 1},      {0, 0.6, 0.3},    {0.9, 0.1, 0.3}, {0.2, 0.4, 1.0}, {0.7, 1.0, 0.1},
    /* skin tones (light to dark), linear P3 */
    {0.78, 0.52, 0.40}, {0.62, 0.38, 0.27}, {0.45, 0.26, 0.17}, {0.25, 0.13, 0.08}, {0.85, 0.64, 0.55},
    /* muted */
    {0.4, 0.5, 0.3},  {0.3, 0.35, 0.5}, {0.5, 0.35, 0.4},
};
static const double CHART_2020[][3] = {
    {1, 0, 0},   {0, 1, 0},        {0, 0, 1},        {1, 1, 0},       {0, 1, 1},        {1, 0, 1},
    {1, 0.4, 0}, {0.3, 0, 1},      {0, 0.7, 0.4},    {0.8, 0.05, 0.2}, {0.1, 0.3, 1.0}, {0.6, 1.0, 0.0},
    {0.70, 0.50, 0.38}, {0.55, 0.37, 0.26}, {0.40, 0.25, 0.17}, {0.22, 0.13, 0.08},
};

/* An image of 8x8 patches in one row, F32 linear or 16-bit PQ. */
static void make_patches(gainmap_image *img, const double (*px)[3], uint32_t n, gainmap_primaries p, int pq)
{
    CHECK_INT(gainmap_image_alloc(NULL, img, n * 8, 8, 3, pq ? GAINMAP_PIXEL_U16 : GAINMAP_PIXEL_F32), GAINMAP_OK);
    img->transfer = pq ? GAINMAP_TRANSFER_PQ : GAINMAP_TRANSFER_LINEAR;
    img->primaries = p;
    for (uint32_t y = 0; y < 8; y++)
        for (uint32_t x = 0; x < n * 8; x++)
            for (int c = 0; c < 3; c++) {
                double v = px[x / 8][c];
                size_t i = (size_t)y * n * 8 * 3 + (size_t)x * 3 + c;
                if (pq)
                    ((uint16_t *)img->data)[i] = (uint16_t)lround(65535.0 * gainmap_pq_inverse_eotf(v * 203.0));
                else
                    ((float *)img->data)[i] = (float)v;
            }
}

/* Mean linear RGB of SDR patch k (8x8). */
static void patch_mean(const gainmap_image *sdr, uint32_t k, double rgb[3])
{
    rgb[0] = rgb[1] = rgb[2] = 0.0;
    for (uint32_t y = 0; y < 8; y++)
        for (uint32_t x = 0; x < 8; x++) {
            const uint8_t *p = (const uint8_t *)sdr->data + (size_t)y * sdr->stride + 3 * (size_t)(k * 8 + x);
            for (int c = 0; c < 3; c++)
                rgb[c] += gainmap_to_linear(sdr->transfer, p[c] / 255.0) / 64.0;
        }
}

static double chart_hue_error(gainmap_ctx *ctx, const double (*chart)[3], size_t npatch, gainmap_primaries src,
                              gainmap_primaries base, gainmap_tonemapper method, int pq, int dither)
{
    /* each patch at three brightnesses: 0.3, 1 and 4 x reference white */
    static const double scale[3] = {0.3, 1.0, 4.0};
    size_t n = npatch * 3;
    double(*px)[3] = malloc(n * sizeof *px);
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            px[i][c] = chart[i % npatch][c] * scale[i / npatch];
    gainmap_image hdr, sdr;
    make_patches(&hdr, (const double(*)[3])px, (uint32_t)n, src, pq);
    gainmap_tonemap_options o;
    gainmap_tonemap_options_init(&o);
    o.method = method;
    o.base_primaries = base;
    o.peak_nits = 1000.0;
    o.dither = dither;
    double worst = 0.0;
    if (gainmap_tonemap(ctx, &hdr, &o, &sdr) == GAINMAP_OK) {
        for (size_t i = 0; i < n; i++) {
            double a[3], b[3], rgb[3];
            gm_oklab_from_linear(src, px[i], a);
            patch_mean(&sdr, (uint32_t)i, rgb);
            gm_oklab_from_linear(base, rgb, b);
            double ca = hypot(a[1], a[2]), cb = hypot(b[1], b[2]);
            CHECK(ca > 0.025);   /* every patch has a hue to keep */
            if (cb < 0.005)
                continue;        /* a highlight rolled off to white has no hue left */
            double d = hue_diff(hue_deg(a), hue_deg(b));
            if (d > worst)
                worst = d;
            if (getenv("GM_DEBUG") && d > 1.0)
                printf("    patch %zu (%.3f %.3f %.3f): L %.3f C %.4f h %.2f -> L %.3f C %.4f h %.2f\n", i, px[i][0],
                       px[i][1], px[i][2], a[0], ca, hue_deg(a), b[0], cb, hue_deg(b));
        }
        gainmap_image_free(&sdr);
    } else {
        worst = 999;
    }
    gainmap_image_free(&hdr);
    free(px);
    return worst;
}

static void test_colour_chart_hue(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    double overall = 0.0, undithered = 0.0;
    for (size_t m = 0; m < NMETHODS; m++)
        for (int pq = 0; pq < 2; pq++)
            for (int base = 0; base < 2; base++) {
                gainmap_primaries bp = base ? GAINMAP_PRIMARIES_BT709 : GAINMAP_PRIMARIES_P3;
                double e1 = chart_hue_error(ctx, CHART_P3, sizeof CHART_P3 / sizeof CHART_P3[0],
                                            GAINMAP_PRIMARIES_P3, bp, METHODS[m], pq, 1);
                double e2 = chart_hue_error(ctx, CHART_2020, sizeof CHART_2020 / sizeof CHART_2020[0],
                                            GAINMAP_PRIMARIES_BT2020, bp, METHODS[m], pq, 1);
                CHECK_MSG(e1 < 2.0, "%s P3 -> %s: worst hue error %.3f deg", gainmap_tonemapper_name(METHODS[m]),
                          gainmap_primaries_name(bp), e1);
                CHECK_MSG(e2 < 2.0, "%s 2020 -> %s: worst hue error %.3f deg", gainmap_tonemapper_name(METHODS[m]),
                          gainmap_primaries_name(bp), e2);
                overall = fmax(overall, fmax(e1, e2));
                if (pq)
                    printf("  chart %-8s -> %-4s base: worst hue error P3 %.3f deg, BT.2020 %.3f deg\n",
                           gainmap_tonemapper_name(METHODS[m]), gainmap_primaries_name(bp), e1, e2);
                undithered = fmax(undithered, chart_hue_error(ctx, CHART_P3, sizeof CHART_P3 / sizeof CHART_P3[0],
                                                              GAINMAP_PRIMARIES_P3, bp, METHODS[m], pq, 0));
            }
    printf("  worst hue error over every chart, mapper and base: %.3f deg (%.3f deg without dithering)\n", overall,
           undithered);
    gainmap_ctx_free(ctx);
}

/* ---- the pipeline leaves in-gamut colours alone and maps saturated ones inside ---- */
static void test_pipeline_round_trip(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    double px[1][3] = {{0.5, 0.5, 0.5}};
    gainmap_image img;
    make_f32(&img, px, 1, GAINMAP_PRIMARIES_BT2020);
    gainmap_tonemap_options o;
    gainmap_tonemap_options_init(&o);
    o.method = GAINMAP_TONEMAP_CLIP;
    o.base_primaries = GAINMAP_PRIMARIES_BT709;
    o.peak_nits = 203.0;
    gm_tonemap_state *s = NULL;
    CHECK_INT(gm_tonemap_setup(ctx, &img, &o, &s), GAINMAP_OK);
    /* sRGB colours well inside the gamut, written in BT.2020: 2020 -> sRGB
     * through the whole per-pixel path returns them within 1e-5 */
    static const double srgb[][3] = {{0.5, 0.4, 0.3}, {0.2, 0.25, 0.3}, {0.6, 0.6, 0.55}, {0.1, 0.12, 0.08},
                                     {0.35, 0.3, 0.45}};
    double m[9];
    gainmap_gamut_matrix(GAINMAP_PRIMARIES_BT709, GAINMAP_PRIMARIES_BT2020, m);
    double worst = 0.0;
    for (size_t i = 0; i < sizeof srgb / sizeof srgb[0]; i++) {
        double v[3];
        gm_mat3_apply(m, srgb[i], v);
        float in[3] = {(float)v[0], (float)v[1], (float)v[2]}, out[3];
        gm_tonemap_row(s, in, out, 1);
        for (int c = 0; c < 3; c++)
            worst = fmax(worst, fabs(out[c] - srgb[i][c]));
    }
    CHECK_MSG(worst < 1e-5, "2020 -> sRGB pipeline round trip %g", worst);
    /* BT.2020 green is far outside sRGB: it lands inside with the same Oklab hue */
    float g[3] = {0.0f, 0.6f, 0.0f}, out[3];
    gm_tonemap_row(s, g, out, 1);
    CHECK(out[0] >= 0 && out[1] <= 1 && out[2] >= 0);
    double a[3], b[3], gi[3] = {0, 0.6, 0}, go[3] = {out[0], out[1], out[2]};
    gm_oklab_from_linear(GAINMAP_PRIMARIES_BT2020, gi, a);
    gm_oklab_from_linear(GAINMAP_PRIMARIES_BT709, go, b);
    CHECK_MSG(hue_diff(hue_deg(a), hue_deg(b)) < 0.05, "2020 green hue %.3f vs %.3f", hue_deg(a), hue_deg(b));
    CHECK_NEAR(b[0], a[0], 1e-4);   /* lightness kept */
    /* smooth: chroma is compressed, never increases, and is continuous along a saturation ramp */
    double prev = -1.0;
    int mono = 1;
    for (int i = 0; i <= 200; i++) {
        double t = i / 200.0, v[3] = {0.3 * (1 - t), 0.3 + 0.3 * t, 0.3 * (1 - t)}, lab[3];
        float fi[3] = {(float)v[0], (float)v[1], (float)v[2]}, fo[3];
        gm_tonemap_row(s, fi, fo, 1);
        double vo[3] = {fo[0], fo[1], fo[2]};
        gm_oklab_from_linear(GAINMAP_PRIMARIES_BT709, vo, lab);
        double c = hypot(lab[1], lab[2]);
        if (c < prev - 1e-3)
            mono = 0;
        prev = c;
    }
    CHECK_MSG(mono, "chroma along a saturation ramp is not monotone");
    gm_tonemap_free(s);
    gainmap_image_free(&img);
    gainmap_ctx_free(ctx);
}

/* ---- where the peak comes from ---- */
static void test_peak(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    CHECK_INT(gainmap_image_alloc(ctx, &img, 100, 100, 3, GAINMAP_PIXEL_U16), GAINMAP_OK);
    img.transfer = GAINMAP_TRANSFER_PQ;
    img.primaries = GAINMAP_PRIMARIES_BT2020;
    uint16_t *u = img.data;
    uint16_t c100 = (uint16_t)lround(65535 * gainmap_pq_inverse_eotf(100.0));
    uint16_t c1000 = (uint16_t)lround(65535 * gainmap_pq_inverse_eotf(1000.0));
    uint16_t c4000 = (uint16_t)lround(65535 * gainmap_pq_inverse_eotf(4000.0));
    for (int i = 0; i < 10000; i++)
        for (int c = 0; c < 3; c++)
            u[3 * i + c] = i < 30 ? c1000 : i == 50 ? c4000 : c100;   /* 0.3 % at 1000, one at 4000 */
    gainmap_tonemap_options o;
    gainmap_tonemap_options_init(&o);
    gm_tonemap_state *s = NULL;
    CHECK_INT(gm_tonemap_setup(ctx, &img, &o, &s), GAINMAP_OK);
    CHECK_MSG(fabs(gm_tonemap_peak_nits(s) / 1000.0 - 1.0) < 0.02, "percentile peak %.1f",
              gm_tonemap_peak_nits(s));
    gm_tonemap_free(s);
    img.max_cll = 1500.0;
    CHECK_INT(gm_tonemap_setup(ctx, &img, &o, &s), GAINMAP_OK);
    CHECK_NEAR(gm_tonemap_peak_nits(s), 1500.0, 0);
    gm_tonemap_free(s);
    o.peak_nits = 600.0;
    CHECK_INT(gm_tonemap_setup(ctx, &img, &o, &s), GAINMAP_OK);
    CHECK_NEAR(gm_tonemap_peak_nits(s), 600.0, 0);
    CHECK_INT(gm_tonemap_source_primaries(s), GAINMAP_PRIMARIES_BT2020);
    gm_tonemap_free(s);
    /* an image dimmer than reference white: peak never below white */
    img.max_cll = 0;
    o.peak_nits = 0;
    for (int i = 0; i < 30000; i++)
        u[i] = c100;
    CHECK_INT(gm_tonemap_setup(ctx, &img, &o, &s), GAINMAP_OK);
    CHECK_NEAR(gm_tonemap_peak_nits(s), 203.0, 0);
    gm_tonemap_free(s);
    /* bad options */
    o.peak_nits = 20000;
    CHECK_INT(gm_tonemap_setup(ctx, &img, &o, &s), GAINMAP_ERR_INVALID_ARG);
    CHECK_STR(gainmap_last_error(ctx), "peak 20000 cd/m2 is outside 0..10000");
    gainmap_clear_error(ctx);
    o.peak_nits = 0;
    o.base_transfer = GAINMAP_TRANSFER_PQ;
    gainmap_image sdr;
    CHECK_INT(gainmap_tonemap(ctx, &img, &o, &sdr), GAINMAP_ERR_INVALID_ARG);
    CHECK_STR(gainmap_last_error(ctx), "the SDR base cannot use the pq transfer");
    gainmap_clear_error(ctx);
    img.channels = 2;
    o.base_transfer = GAINMAP_TRANSFER_SRGB;
    CHECK_INT(gainmap_tonemap(ctx, &img, &o, &sdr), GAINMAP_ERR_INVALID_ARG);
    CHECK_STR(gainmap_last_error(ctx), "the HDR image has 2 channels (expected 1, 3 or 4)");
    img.channels = 3;
    gainmap_image_free(&img);
    gainmap_ctx_free(ctx);
}

/* ---- output tagging, names, default ---- */
static void test_output_and_names(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    static double px[RAMP][3];
    ramp_pixels(px);
    gainmap_image hdr, a, b;
    make_pq16(&hdr, (const double(*)[3])px, RAMP, GAINMAP_PRIMARIES_BT2020);
    gainmap_tonemap_options o;
    gainmap_tonemap_options_init(&o);
    CHECK_INT(o.method, GAINMAP_TONEMAP_DEFAULT);
    CHECK_NEAR(o.hdr_white_nits, 203.0, 0);
    CHECK_INT(o.base_primaries, GAINMAP_PRIMARIES_UNKNOWN);   /* automatic */
    CHECK_INT(o.base_transfer, GAINMAP_TRANSFER_SRGB);
    CHECK_INT(o.lut_input, GAINMAP_TRANSFER_PQ);
    CHECK_INT(o.lut_output, GAINMAP_TRANSFER_GAMMA22);
    CHECK_INT(o.dither, 1);
    CHECK_INT(gainmap_tonemap(ctx, &hdr, &o, &a), GAINMAP_OK);
    o.method = GAINMAP_TONEMAP_BT2390;
    CHECK_INT(gainmap_tonemap(ctx, &hdr, &o, &b), GAINMAP_OK);
    /* the default is BT.2390 (chosen by measurement, docs/colour.md) */
    CHECK(a.data && b.data && !memcmp(a.data, b.data, (size_t)RAMP * 3));
    CHECK_INT(a.type, GAINMAP_PIXEL_U8);
    CHECK_INT(a.channels, 3);
    CHECK_INT(a.primaries, GAINMAP_PRIMARIES_P3);
    CHECK_INT(a.transfer, GAINMAP_TRANSFER_SRGB);
    CHECK(a.has_cicp && a.cicp[0] == 12 && a.cicp[1] == 13 && a.cicp[2] == 0 && a.cicp[3] == 1);
    gainmap_primaries ip;
    gainmap_transfer it;
    CHECK(a.icc != NULL);
    CHECK_INT(gainmap_icc_identify(ctx, a.icc, a.icc_size, &ip, &it), GAINMAP_OK);
    CHECK_INT(ip, GAINMAP_PRIMARIES_P3);
    CHECK_INT(it, GAINMAP_TRANSFER_SRGB);
    gainmap_image_free(&a);
    gainmap_image_free(&b);
    gainmap_image_free(&hdr);
    CHECK_STR(gainmap_tonemapper_name(GAINMAP_TONEMAP_BT2446A), "bt2446a");
    CHECK_STR(gainmap_tonemapper_name((gainmap_tonemapper)42), "unknown");
    CHECK_INT(gainmap_tonemapper_from_name("filmic"), GAINMAP_TONEMAP_FILMIC);
    CHECK_INT(gainmap_tonemapper_from_name("clip"), GAINMAP_TONEMAP_CLIP);
    CHECK_INT(gainmap_tonemapper_from_name("reinhard"), GAINMAP_TONEMAP_REINHARD);
    CHECK_INT(gainmap_tonemapper_from_name("aces"), GAINMAP_TONEMAP_DEFAULT);
    gainmap_ctx_free(ctx);
}

/* ---- automatic base primaries (issue 5: BT.2020 masters) ---- */
/* n pixels: `green` of them BT.2020's green primary at `green_rel` x SDR
 * white, the rest a mid grey; which base does the tone mapper pick? */
static gainmap_primaries auto_pick(gainmap_ctx *ctx, uint32_t n, uint32_t green, double green_rel,
                                   gainmap_primaries master)
{
    double(*px)[3] = calloc(n, sizeof *px);
    for (uint32_t i = 0; i < n; i++) {
        px[i][0] = px[i][2] = i < green ? 0.0 : 0.5;
        px[i][1] = i < green ? green_rel : 0.5;
    }
    gainmap_image hdr;
    make_pq16(&hdr, (const double(*)[3])px, n, master);
    free(px);
    gainmap_primaries got = GAINMAP_PRIMARIES_UNKNOWN;
    CHECK_INT(gainmap_auto_base_primaries(ctx, &hdr, &got), GAINMAP_OK);
    gainmap_image_free(&hdr);
    return got;
}

static void test_auto_base_primaries(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    /* more than 1 % of the pixels outside P3: BT.2020; exactly 1 %: P3 */
    CHECK_INT(auto_pick(ctx, 1000, 11, 1.0, GAINMAP_PRIMARIES_BT2020), GAINMAP_PRIMARIES_BT2020);
    CHECK_INT(auto_pick(ctx, 1000, 10, 1.0, GAINMAP_PRIMARIES_BT2020), GAINMAP_PRIMARIES_P3);
    /* darker than 0.8 cd/m2 does not count (0.5 cd/m2 here), even half the picture */
    CHECK_INT(auto_pick(ctx, 1000, 500, 0.5 / 203.0, GAINMAP_PRIMARIES_BT2020), GAINMAP_PRIMARIES_P3);
    CHECK_INT(auto_pick(ctx, 1000, 500, 2.0 / 203.0, GAINMAP_PRIMARIES_BT2020), GAINMAP_PRIMARIES_BT2020);
    /* only a BT.2020 master can hold such colours */
    CHECK_INT(auto_pick(ctx, 1000, 500, 1.0, GAINMAP_PRIMARIES_P3), GAINMAP_PRIMARIES_P3);
    /* a BT.709 master keeps its primaries: a wider base would cost precision */
    CHECK_INT(auto_pick(ctx, 1000, 500, 1.0, GAINMAP_PRIMARIES_BT709), GAINMAP_PRIMARIES_BT709);
    CHECK_INT(gainmap_auto_base_primaries(ctx, NULL, NULL), GAINMAP_ERR_INVALID_ARG);

    /* the tone mapper follows the choice: a BT.2020 base, tagged so */
    double px[200][3];
    for (int i = 0; i < 200; i++) {
        px[i][0] = px[i][2] = i < 100 ? 0.0 : 0.25 + i / 400.0;
        px[i][1] = i < 100 ? 0.02 + i * 0.008 : 0.25 + i / 400.0;   /* green below SDR white */
    }
    gainmap_image hdr, sdr;
    make_pq16(&hdr, (const double(*)[3])px, 200, GAINMAP_PRIMARIES_BT2020);
    gainmap_tonemap_options o;
    gainmap_tonemap_options_init(&o);
    CHECK_INT(gainmap_tonemap(ctx, &hdr, &o, &sdr), GAINMAP_OK);
    CHECK_INT(sdr.primaries, GAINMAP_PRIMARIES_BT2020);
    CHECK(sdr.has_cicp && sdr.cicp[0] == 9 && sdr.cicp[1] == 13);
    gainmap_primaries ip = GAINMAP_PRIMARIES_UNKNOWN;
    gainmap_transfer it = GAINMAP_TRANSFER_UNKNOWN;
    CHECK(sdr.icc && gainmap_icc_identify(ctx, sdr.icc, sdr.icc_size, &ip, &it) == GAINMAP_OK);
    CHECK_INT(ip, GAINMAP_PRIMARIES_BT2020);
    CHECK_INT(it, GAINMAP_TRANSFER_SRGB);
    /* the green stays green: no red or blue leaks into it in the BT.2020 base */
    const uint8_t *b = sdr.data;
    CHECK(b[3 * 150] == b[3 * 150 + 1] && b[3 * 150 + 1] == b[3 * 150 + 2]);
    for (int i = 10; i < 100; i++)
        CHECK_MSG(b[3 * i] == 0 && b[3 * i + 2] == 0 && b[3 * i + 1] > 0, "pixel %d: %u %u %u", i, b[3 * i],
                  b[3 * i + 1], b[3 * i + 2]);
    gainmap_image_free(&sdr);
    /* asked for P3, the same master is gamut-mapped into P3 */
    o.base_primaries = GAINMAP_PRIMARIES_P3;
    CHECK_INT(gainmap_tonemap(ctx, &hdr, &o, &sdr), GAINMAP_OK);
    CHECK_INT(sdr.primaries, GAINMAP_PRIMARIES_P3);
    b = sdr.data;
    CHECK(b[3 * 50] > 0 || b[3 * 50 + 2] > 0);
    gainmap_image_free(&sdr);
    gainmap_image_free(&hdr);
    gainmap_ctx_free(ctx);
}

/* ---- the measurement behind the default ---- */
static void test_measure_default(void)
{
    /* For a 1000-nit master (ramp + P3 chart at 0.05..5 x white): how close
     * is the SDR base (white = 203 nits) to the HDR below reference white
     * (mean dE_ITP over pixels <= 203 nits), where does reference white land,
     * and how many distinct codes are left for 203..1000 nits? */
    gainmap_ctx *ctx = gainmap_ctx_new();
    enum { NG = 256 };
    size_t nc = sizeof CHART_P3 / sizeof CHART_P3[0], n = NG + nc * 8;
    double(*px)[3] = malloc(n * sizeof *px);
    for (int i = 0; i < NG; i++)
        px[i][0] = px[i][1] = px[i][2] = 0.05 * pow(1000.0 / 0.05, i / (NG - 1.0)) / 203.0;
    for (size_t i = 0; i < nc * 8; i++)
        for (int c = 0; c < 3; c++)
            px[NG + i][c] = CHART_P3[i % nc][c] * 0.05 * pow(100.0, (double)(i / nc) / 7.0);
    gainmap_image hdr;
    make_f32(&hdr, (const double(*)[3])px, (uint32_t)n, GAINMAP_PRIMARIES_P3);
    printf("  default measurement (1000-nit master, P3 base):\n");
    for (size_t m = 0; m < NMETHODS; m++) {
        gainmap_tonemap_options o;
        gainmap_tonemap_options_init(&o);
        o.method = METHODS[m];
        o.peak_nits = 1000.0;
        o.dither = 0;   /* single pixels: measure the curve, not the dither */
        gainmap_image sdr;
        if (gainmap_tonemap(ctx, &hdr, &o, &sdr) != GAINMAP_OK) {
            CHECK(0);
            continue;
        }
        double w[3], sum = 0.0;
        int count = 0, distinct = 0, last = -1, white_code = 0;
        gainmap_luma_weights(GAINMAP_PRIMARIES_P3, w);
        for (size_t i = 0; i < n; i++) {
            double y = w[0] * px[i][0] + w[1] * px[i][1] + w[2] * px[i][2];
            const uint8_t *p = (const uint8_t *)sdr.data + 3 * i;
            if (i < NG && y > 1.0) {
                if (p[0] != last)
                    distinct++;
                last = p[0];
            }
            if (i < NG && white_code == 0 && y >= 1.0)
                white_code = p[0];
            if (y > 1.0)
                continue;
            double rgb[3], a[3], b[3];
            sdr_linear(&sdr, (uint32_t)i, rgb);
            gm_ictcp_from_linear(GAINMAP_PRIMARIES_P3, px[i], 203.0, a);
            gm_ictcp_from_linear(GAINMAP_PRIMARIES_P3, rgb, 203.0, b);
            sum += gm_delta_e_itp(a, b);
            count++;
        }
        printf("    %-8s mean dE_ITP below white %6.2f, 203 nits -> code %3d, codes for 203..1000 nits %3d\n",
               gainmap_tonemapper_name(METHODS[m]), sum / count, white_code, distinct);
        gainmap_image_free(&sdr);
    }
    gainmap_image_free(&hdr);
    free(px);
    gainmap_ctx_free(ctx);
}

static void test_speed(void)
{
    /* 2 MP PQ 16-bit; prints the rate (12 MP figures are in docs/colour.md) */
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image hdr, sdr;
    uint32_t w = 2000, h = 1000;
    CHECK_INT(gainmap_image_alloc(ctx, &hdr, w, h, 3, GAINMAP_PIXEL_U16), GAINMAP_OK);
    hdr.transfer = GAINMAP_TRANSFER_PQ;
    hdr.primaries = GAINMAP_PRIMARIES_BT2020;
    uint16_t *u = hdr.data;
    uint32_t seed = 1;
    for (size_t i = 0; i < (size_t)w * h * 3; i++) {
        seed = seed * 1664525u + 1013904223u;
        u[i] = (uint16_t)(20000 + (seed >> 16) % 40000);
    }
    gainmap_tonemap_options o;
    gainmap_tonemap_options_init(&o);
    clock_t t0 = clock();
    CHECK_INT(gainmap_tonemap(ctx, &hdr, &o, &sdr), GAINMAP_OK);
    double sec = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("  speed: %.2f MP/s (2 MP random saturated PQ, default mapper, P3 base)\n", 2.0 / sec);
    gainmap_image_free(&sdr);
    gainmap_image_free(&hdr);
    gainmap_ctx_free(ctx);
}

int main(void)
{
    RUN_TEST(test_curves);
    RUN_TEST(test_grey_ramp);
    RUN_TEST(test_colour_chart_hue);
    RUN_TEST(test_pipeline_round_trip);
    RUN_TEST(test_peak);
    RUN_TEST(test_output_and_names);
    RUN_TEST(test_auto_base_primaries);
    RUN_TEST(test_measure_default);
    RUN_TEST(test_speed);
    TEST_SUMMARY();
}

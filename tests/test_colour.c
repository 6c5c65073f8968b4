/* test_colour.c - primaries, RGB<->XYZ and gamut matrices, luminance weights
 * against the 9-decimal values of FORMATS.md 6.4/6.5; gamut round trips;
 * names and H.273 code points. */
#include "check.h"
#include "internal.h"

static const gainmap_primaries P[3] = {GAINMAP_PRIMARIES_BT709, GAINMAP_PRIMARIES_P3, GAINMAP_PRIMARIES_BT2020};

static const double RGB2XYZ[3][9] = {
    {0.412390799, 0.357584339, 0.180480788, 0.212639006, 0.715168679, 0.072192315, 0.019330819, 0.119194780,
     0.950532152},
    {0.486570949, 0.265667693, 0.198217285, 0.228974564, 0.691738522, 0.079286914, 0.000000000, 0.045113382,
     1.043944369},
    {0.636958048, 0.144616904, 0.168880975, 0.262700212, 0.677998072, 0.059301716, 0.000000000, 0.028072693,
     1.060985058},
};
static const double XYZ2RGB[3][9] = {
    {3.240969942, -1.537383178, -0.498610760, -0.969243636, 1.875967502, 0.041555057, 0.055630080, -0.203976959,
     1.056971514},
    {2.493496912, -0.931383618, -0.402710784, -0.829488970, 1.762664060, 0.023624686, 0.035845830, -0.076172389,
     0.956884524},
    {1.716651188, -0.355670784, -0.253366281, -0.666684352, 1.616481237, 0.015768546, 0.017639857, -0.042770613,
     0.942103121},
};
/* GAMUT[src][dst] */
static const double GAMUT[3][3][9] = {
    {{0},
     {0.822461969, 0.177538031, 0.000000000, 0.033194199, 0.966805801, 0.000000000, 0.017082631, 0.072397441,
      0.910519929},
     {0.627403896, 0.329283038, 0.043313066, 0.069097289, 0.919540395, 0.011362316, 0.016391439, 0.088013308,
      0.895595253}},
    {{1.224940176, -0.224940176, 0.000000000, -0.042056955, 1.042056955, 0.000000000, -0.019637555, -0.078636046,
      1.098273600},
     {0},
     {0.753833034, 0.198597369, 0.047569597, 0.045743849, 0.941777220, 0.012478931, -0.001210340, 0.017601717,
      0.983608623}},
    {{1.660491002, -0.587641139, -0.072849863, -0.124550475, 1.132899897, -0.008349423, -0.018150763, -0.100578898,
      1.118729661},
     {1.343578253, -0.282179671, -0.061398582, -0.065297453, 1.075787916, -0.010490463, 0.002821787, -0.019598495,
      1.016776707},
     {0}},
};

static void mat_apply(const double m[9], const double v[3], double out[3])
{
    double r[3];
    for (int i = 0; i < 3; i++)
        r[i] = m[3 * i] * v[0] + m[3 * i + 1] * v[1] + m[3 * i + 2] * v[2];
    memcpy(out, r, sizeof r);
}

static void test_chromaticities(void)
{
    double xy[8];
    CHECK_INT(gainmap_primaries_xy(GAINMAP_PRIMARIES_P3, xy), 0);
    CHECK_NEAR(xy[0], 0.680, 0);
    CHECK_NEAR(xy[3], 0.690, 0);
    CHECK_NEAR(xy[6], 0.3127, 0);
    CHECK_NEAR(xy[7], 0.3290, 0);
    CHECK_INT(gainmap_primaries_xy(GAINMAP_PRIMARIES_BT2020, xy), 0);
    CHECK_NEAR(xy[0], 0.708, 0);
    CHECK_NEAR(xy[5], 0.046, 0);
    CHECK_INT(gainmap_primaries_xy(GAINMAP_PRIMARIES_UNKNOWN, xy), -1);
    double m[9];
    CHECK_INT(gainmap_rgb_to_xyz(GAINMAP_PRIMARIES_UNKNOWN, m), -1);
    CHECK_INT(gainmap_gamut_matrix(GAINMAP_PRIMARIES_UNKNOWN, GAINMAP_PRIMARIES_UNKNOWN, m), -1);
    CHECK_INT(gainmap_luma_weights(GAINMAP_PRIMARIES_UNKNOWN, m), -1);
}

static void test_matrices(void)
{
    for (int p = 0; p < 3; p++) {
        double m[9], inv[9];
        CHECK_INT(gainmap_rgb_to_xyz(P[p], m), 0);
        CHECK_INT(gainmap_xyz_to_rgb(P[p], inv), 0);
        double e1 = 0, e2 = 0;
        for (int i = 0; i < 9; i++) {
            e1 = fmax(e1, fabs(m[i] - RGB2XYZ[p][i]));
            e2 = fmax(e2, fabs(inv[i] - XYZ2RGB[p][i]));
        }
        CHECK_MSG(e1 < 1e-8, "%s RGB->XYZ max error %g", gainmap_primaries_name(P[p]), e1);
        CHECK_MSG(e2 < 1e-8, "%s XYZ->RGB max error %g", gainmap_primaries_name(P[p]), e2);
        /* white [1 1 1] -> D65 (0.950456, 1, 1.089058) */
        double w[3] = {1, 1, 1}, xyz[3];
        mat_apply(m, w, xyz);
        CHECK_NEAR(xyz[0], 0.950456, 1e-6);
        CHECK_NEAR(xyz[1], 1.0, 1e-12);
        CHECK_NEAR(xyz[2], 1.089058, 1e-6);
        for (int q = 0; q < 3; q++) {
            double g[9];
            CHECK_INT(gainmap_gamut_matrix(P[p], P[q], g), 0);
            double e = 0;
            for (int i = 0; i < 9; i++) {
                double want = p == q ? (i % 4 == 0 ? 1.0 : 0.0) : GAMUT[p][q][i];
                e = fmax(e, fabs(g[i] - want));
            }
            CHECK_MSG(e < 1e-8, "%s -> %s max error %g", gainmap_primaries_name(P[p]),
                      gainmap_primaries_name(P[q]), e);
            for (int r = 0; r < 3; r++)
                CHECK_NEAR(g[3 * r] + g[3 * r + 1] + g[3 * r + 2], 1.0, 1e-12);
        }
    }
}

static void test_luma(void)
{
    double w[3];
    CHECK_INT(gainmap_luma_weights(GAINMAP_PRIMARIES_BT709, w), 0);
    CHECK_NEAR(w[0], 0.212639, 5e-7);
    CHECK_NEAR(w[1], 0.715169, 5e-7);
    CHECK_NEAR(w[2], 0.072192, 5e-7);
    CHECK_INT(gainmap_luma_weights(GAINMAP_PRIMARIES_P3, w), 0);
    CHECK_NEAR(w[0], 0.228975, 5e-7);
    CHECK_NEAR(w[1], 0.691739, 5e-7);
    CHECK_NEAR(w[2], 0.079287, 5e-7);
    CHECK_INT(gainmap_luma_weights(GAINMAP_PRIMARIES_BT2020, w), 0);
    CHECK_NEAR(w[0], 0.262700, 5e-7);
    CHECK_NEAR(w[1], 0.677998, 5e-7);
    CHECK_NEAR(w[2], 0.059302, 5e-7);
    CHECK_NEAR(w[0] + w[1] + w[2], 1.0, 1e-12);
}

static void test_round_trips(void)
{
    /* P3 -> 2020 -> sRGB -> P3 and every pair, on colours inside and outside each gamut */
    static const double cols[][3] = {{1, 0, 0},      {0, 1, 0},        {0, 0, 1},    {1, 1, 1},
                                     {0.2, 0.5, 0.9}, {4.5, 0.01, 0.3}, {0, 0, 0},    {0.18, 0.18, 0.18},
                                     {-0.1, 0.6, 1.2}, {12.0, 8.0, 0.5}};
    double worst = 0;
    double a[9], b[9], c[9];
    CHECK_INT(gainmap_gamut_matrix(GAINMAP_PRIMARIES_P3, GAINMAP_PRIMARIES_BT2020, a), 0);
    CHECK_INT(gainmap_gamut_matrix(GAINMAP_PRIMARIES_BT2020, GAINMAP_PRIMARIES_BT709, b), 0);
    CHECK_INT(gainmap_gamut_matrix(GAINMAP_PRIMARIES_BT709, GAINMAP_PRIMARIES_P3, c), 0);
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
        double v[3];
        mat_apply(a, cols[k], v);
        mat_apply(b, v, v);
        mat_apply(c, v, v);
        for (int i = 0; i < 3; i++)
            worst = fmax(worst, fabs(v[i] - cols[k][i]) / fmax(1.0, fabs(cols[k][i])));
        for (int p = 0; p < 3; p++)
            for (int q = 0; q < 3; q++) {
                double f[9], g[9], u[3];
                gainmap_gamut_matrix(P[p], P[q], f);
                gainmap_gamut_matrix(P[q], P[p], g);
                mat_apply(f, cols[k], u);
                mat_apply(g, u, u);
                for (int i = 0; i < 3; i++)
                    worst = fmax(worst, fabs(u[i] - cols[k][i]) / fmax(1.0, fabs(cols[k][i])));
            }
    }
    CHECK_MSG(worst < 1e-12, "gamut round trip worst %g", worst);
    /* sRGB red is inside P3 and 2020: all components stay >= 0 */
    double red[3] = {1, 0, 0}, v[3];
    gainmap_gamut_matrix(GAINMAP_PRIMARIES_BT709, GAINMAP_PRIMARIES_BT2020, a);
    mat_apply(a, red, v);
    CHECK(v[0] > 0 && v[1] > 0 && v[2] > 0);
    CHECK_NEAR(v[0], 0.627403896, 1e-9);
    /* BT.2020 green is outside sRGB: a negative red appears */
    double green[3] = {0, 1, 0};
    mat_apply(b, green, v);
    CHECK_NEAR(v[0], -0.587641139, 1e-9);
}

static void test_names(void)
{
    CHECK_STR(gainmap_primaries_name(GAINMAP_PRIMARIES_BT709), "srgb");
    CHECK_STR(gainmap_primaries_name(GAINMAP_PRIMARIES_P3), "p3");
    CHECK_STR(gainmap_primaries_name(GAINMAP_PRIMARIES_BT2020), "bt2020");
    CHECK_STR(gainmap_primaries_name(GAINMAP_PRIMARIES_UNKNOWN), "unknown");
    CHECK_INT(gainmap_primaries_from_name("p3"), GAINMAP_PRIMARIES_P3);
    CHECK_INT(gainmap_primaries_from_name("display-p3"), GAINMAP_PRIMARIES_P3);
    CHECK_INT(gainmap_primaries_from_name("bt709"), GAINMAP_PRIMARIES_BT709);
    CHECK_INT(gainmap_primaries_from_name("srgb"), GAINMAP_PRIMARIES_BT709);
    CHECK_INT(gainmap_primaries_from_name("rec2020"), GAINMAP_PRIMARIES_BT2020);
    CHECK_INT(gainmap_primaries_from_name("bt2100"), GAINMAP_PRIMARIES_BT2020);
    CHECK_INT(gainmap_primaries_from_name("dci-p3"), GAINMAP_PRIMARIES_UNKNOWN);
    CHECK_INT(gainmap_primaries_from_name(NULL), GAINMAP_PRIMARIES_UNKNOWN);
    /* H.273 colour primaries: 1 = BT.709, 12 = P3-D65, 9 = BT.2020; 11 is DCI-P3 (not D65) */
    CHECK_INT(gainmap_primaries_to_cicp(GAINMAP_PRIMARIES_BT709), 1);
    CHECK_INT(gainmap_primaries_to_cicp(GAINMAP_PRIMARIES_P3), 12);
    CHECK_INT(gainmap_primaries_to_cicp(GAINMAP_PRIMARIES_BT2020), 9);
    CHECK_INT(gainmap_primaries_to_cicp(GAINMAP_PRIMARIES_UNKNOWN), 0);
    CHECK_INT(gainmap_primaries_from_cicp(1), GAINMAP_PRIMARIES_BT709);
    CHECK_INT(gainmap_primaries_from_cicp(12), GAINMAP_PRIMARIES_P3);
    CHECK_INT(gainmap_primaries_from_cicp(9), GAINMAP_PRIMARIES_BT2020);
    CHECK_INT(gainmap_primaries_from_cicp(11), GAINMAP_PRIMARIES_UNKNOWN);
    CHECK_INT(gainmap_primaries_from_cicp(2), GAINMAP_PRIMARIES_UNKNOWN);
}

int main(void)
{
    RUN_TEST(test_chromaticities);
    RUN_TEST(test_matrices);
    RUN_TEST(test_luma);
    RUN_TEST(test_round_trips);
    RUN_TEST(test_names);
    TEST_SUMMARY();
}

/* test_transfer.c - transfer functions against published reference values
 * (FORMATS.md 6.1-6.4: SMPTE ST 2084, BT.2100 HLG, IEC 61966-2-1, BT.709),
 * round trips, names and H.273 code points. */
#include "check.h"
#include "internal.h"

static void test_pq_reference_points(void)
{
    /* FORMATS.md 6.1 (6 decimals) and BT.2408 (203 nits <-> 0.5807) */
    CHECK_NEAR(gainmap_pq_inverse_eotf(100.0), 0.508078, 5e-7);
    CHECK_NEAR(gainmap_pq_inverse_eotf(203.0), 0.580689, 5e-7);
    CHECK_NEAR(gainmap_pq_inverse_eotf(1000.0), 0.751827, 5e-7);
    CHECK_NEAR(gainmap_pq_inverse_eotf(4000.0), 0.902572, 5e-7);
    CHECK_NEAR(gainmap_pq_inverse_eotf(10000.0), 1.0, 1e-12);
    CHECK_NEAR(gainmap_pq_eotf(1.0), 10000.0, 1e-8);
    CHECK_NEAR(gainmap_pq_eotf(0.0), 0.0, 0.0);
    /* E' = 0.58 is 201.7 nits, not 203 (FORMATS.md 6.1 note) */
    CHECK_NEAR(gainmap_pq_eotf(0.58), 201.7, 0.05);
    CHECK_NEAR(gainmap_pq_eotf(0.508078422), 100.0, 1e-5);
    CHECK_NEAR(gainmap_pq_eotf(0.751827096), 1000.0, 1e-4);
    /* zero light encodes to c1^m2 (about 7.3e-7) and decodes back to 0 */
    CHECK_NEAR(gainmap_pq_inverse_eotf(0.0), pow(0.8359375, 78.84375), 1e-15);
    CHECK_NEAR(gainmap_pq_eotf(gainmap_pq_inverse_eotf(0.0)), 0.0, 1e-12);
    /* out of range input is clamped, NaN gives black */
    CHECK_NEAR(gainmap_pq_eotf(1.5), 10000.0, 1e-8);
    CHECK_NEAR(gainmap_pq_eotf(-0.2), 0.0, 0.0);
    CHECK_NEAR(gainmap_pq_eotf(NAN), 0.0, 0.0);
    CHECK_NEAR(gainmap_pq_inverse_eotf(20000.0), 1.0, 1e-12);
}

static void test_pq_round_trip(void)
{
    double worst = 0.0;
    for (double nits = 1e-3; nits <= 10000.0; nits *= 1.0137) {
        double back = gainmap_pq_eotf(gainmap_pq_inverse_eotf(nits));
        worst = fmax(worst, fabs(back - nits) / nits);
    }
    CHECK_MSG(worst < 1e-6, "PQ round trip worst relative error %g", worst);
    worst = 0.0;
    for (int i = 1; i <= 1000; i++) {
        double e = i / 1000.0;
        double back = gainmap_pq_inverse_eotf(gainmap_pq_eotf(e));
        worst = fmax(worst, fabs(back - e) / e);
    }
    CHECK_MSG(worst < 1e-6, "PQ signal round trip worst relative error %g", worst);
    /* monotone */
    double prev = -1.0;
    int mono = 1;
    for (int i = 0; i <= 4096; i++) {
        double v = gainmap_pq_eotf(i / 4096.0);
        if (v < prev)
            mono = 0;
        prev = v;
    }
    CHECK(mono);
}

static void test_hlg(void)
{
    /* constants: b = 1 - 4a, c = 0.5 - a ln(4a) */
    CHECK_NEAR(gainmap_hlg_oetf(1.0 / 12.0), 0.5, 1e-12);
    CHECK_NEAR(gainmap_hlg_oetf(1.0), 1.0, 1e-8);
    CHECK_NEAR(gainmap_hlg_oetf(0.0), 0.0, 0.0);
    CHECK_NEAR(gainmap_hlg_oetf(0.5), 0.8716434713, 1e-9);
    /* BT.2408: 75 % HLG = 203 cd/m2 on a 1000 cd/m2 display */
    CHECK_NEAR(gainmap_hlg_inverse_oetf(0.75), 0.264963, 5e-7);
    CHECK_NEAR(gainmap_hlg_inverse_oetf(0.5), 1.0 / 12.0, 1e-12);
    CHECK_NEAR(gainmap_to_linear(GAINMAP_TRANSFER_HLG, 0.75) * 203.0, 203.15, 0.01);
    CHECK_NEAR(gainmap_from_linear(GAINMAP_TRANSFER_HLG, 203.1521453537 / 203.0), 0.75, 1e-9);
    /* both branches meet at E = 1/12 */
    CHECK_NEAR(gainmap_hlg_oetf(1.0 / 12.0 - 1e-12), gainmap_hlg_oetf(1.0 / 12.0 + 1e-12), 1e-9);
    double worst = 0.0;
    for (int i = 1; i <= 2000; i++) {
        double e = i / 2000.0;
        worst = fmax(worst, fabs(gainmap_hlg_inverse_oetf(gainmap_hlg_oetf(e)) - e) / e);
    }
    CHECK_MSG(worst < 1e-6, "HLG round trip worst relative error %g", worst);

    /* system gamma: 1.2 at 1000 nits, 1.2 + 0.42 log10(L/1000) elsewhere */
    CHECK_NEAR(gainmap_hlg_system_gamma(1000.0), 1.2, 1e-12);
    CHECK_NEAR(gainmap_hlg_system_gamma(2000.0), 1.2 + 0.42 * log10(2.0), 1e-12);
    CHECK_NEAR(gainmap_hlg_system_gamma(400.0), 1.2 + 0.42 * log10(0.4), 1e-12);

    /* OOTF of grey: 1000 * Ys^1.2 per channel */
    double grey[3] = {0.2649625598, 0.2649625598, 0.2649625598}, out[3], back[3];
    gainmap_hlg_ootf(grey, 1000.0, out);
    for (int c = 0; c < 3; c++)
        CHECK_NEAR(out[c], 203.1521453537, 1e-6);
    /* OOTF of a colour: Y_S with BT.2020 weights, every channel scaled alike */
    double col[3] = {0.5, 0.2, 0.05};
    gainmap_hlg_ootf(col, 1000.0, out);
    double ys = 0.2627 * 0.5 + 0.6780 * 0.2 + 0.0593 * 0.05;
    for (int c = 0; c < 3; c++)
        CHECK_REL(out[c], 1000.0 * pow(ys, 0.2) * col[c], 1e-12);
    gainmap_hlg_inverse_ootf(out, 1000.0, back);
    for (int c = 0; c < 3; c++)
        CHECK_REL(back[c], col[c], 1e-9);
    gainmap_hlg_ootf(col, 1600.0, out);
    gainmap_hlg_inverse_ootf(out, 1600.0, back);
    for (int c = 0; c < 3; c++)
        CHECK_REL(back[c], col[c], 1e-9);
    double black[3] = {0, 0, 0};
    gainmap_hlg_inverse_ootf(black, 1000.0, back);
    CHECK(back[0] == 0.0 && back[1] == 0.0 && back[2] == 0.0);
}

static void test_srgb_bt709(void)
{
    /* IEC 61966-2-1 */
    CHECK_NEAR(gainmap_srgb_to_linear(0.5), 0.2140411405, 1e-9);
    CHECK_NEAR(gainmap_srgb_from_linear(0.18), 0.4613561295, 1e-9);
    CHECK_NEAR(gainmap_srgb_to_linear(0.04045), 0.04045 / 12.92, 1e-12);
    CHECK_NEAR(gainmap_srgb_from_linear(0.0031308), 0.0031308 * 12.92, 1e-12);
    /* the two branches meet within 1e-7 at the breakpoint */
    CHECK_NEAR(gainmap_srgb_to_linear(0.04045), 0.0031308073, 1e-7);
    CHECK_NEAR(gainmap_srgb_from_linear(0.0031308 + 1e-12), 0.0404499360, 1e-7);
    CHECK_NEAR(gainmap_srgb_to_linear(1.0), 1.0, 1e-12);
    CHECK_NEAR(gainmap_srgb_from_linear(1.0), 1.0, 1e-12);
    CHECK_NEAR(gainmap_srgb_to_linear(0.0), 0.0, 0.0);
    /* BT.709 OETF, unrounded BT.2020 constants (alpha 1.09929682680944,
     * beta 0.018053968510807); within 2e-4 of the rounded 1.099/0.099 curve */
    CHECK_NEAR(gainmap_bt709_from_linear(0.18), 0.4088481089, 1e-9);
    CHECK_NEAR(gainmap_bt709_from_linear(0.18), 1.099 * pow(0.18, 0.45) - 0.099, 2e-4);
    CHECK_NEAR(gainmap_bt709_from_linear(0.0179), 4.5 * 0.0179, 1e-12);
    /* the segments meet: no gap at the breakpoint */
    CHECK_NEAR(gainmap_bt709_from_linear(0.018053968510807 - 1e-12),
               gainmap_bt709_from_linear(0.018053968510807 + 1e-12), 1e-9);
    CHECK_NEAR(gainmap_bt709_to_linear(0.08), 0.08 / 4.5, 1e-12);
    CHECK_NEAR(gainmap_bt709_to_linear(1.0), 1.0, 1e-12);

    double w1 = 0, w2 = 0, w3 = 0;
    for (int i = 1; i <= 4000; i++) {
        double v = i / 4000.0;
        w1 = fmax(w1, fabs(gainmap_srgb_from_linear(gainmap_srgb_to_linear(v)) - v) / v);
        w2 = fmax(w2, fabs(gainmap_bt709_from_linear(gainmap_bt709_to_linear(v)) - v) / v);
        w3 = fmax(w3, fabs(gainmap_bt709_to_linear(gainmap_bt709_from_linear(v)) - v) / v);
    }
    CHECK_MSG(w1 < 1e-6, "sRGB round trip %g", w1);
    CHECK_MSG(w2 < 1e-6, "BT.709 round trip %g", w2);
    CHECK_MSG(w3 < 1e-6, "BT.709 inverse round trip %g", w3);
}

static void test_generic(void)
{
    /* PQ and HLG: 1.0 linear = 203 cd/m2 */
    CHECK_NEAR(gainmap_to_linear(GAINMAP_TRANSFER_PQ, 0.580688881), 1.0, 1e-7);
    CHECK_NEAR(gainmap_from_linear(GAINMAP_TRANSFER_PQ, 1.0), 0.580688881, 1e-9);
    CHECK_NEAR(gainmap_to_linear(GAINMAP_TRANSFER_PQ, 1.0), 10000.0 / 203.0, 1e-8);
    CHECK_NEAR(gainmap_to_linear(GAINMAP_TRANSFER_GAMMA22, 0.5), pow(0.5, 2.2), 1e-12);
    CHECK_NEAR(gainmap_to_linear(GAINMAP_TRANSFER_GAMMA24, 0.5), pow(0.5, 2.4), 1e-12);
    CHECK_NEAR(gainmap_to_linear(GAINMAP_TRANSFER_LINEAR, 3.25), 3.25, 0.0);
    CHECK_NEAR(gainmap_to_linear(GAINMAP_TRANSFER_SRGB, 0.5), 0.2140411405, 1e-9);
    CHECK_NEAR(gainmap_to_linear(GAINMAP_TRANSFER_BT709, 0.4088481089), 0.18, 1e-9);
    static const gainmap_transfer all[] = {GAINMAP_TRANSFER_LINEAR, GAINMAP_TRANSFER_SRGB,
                                           GAINMAP_TRANSFER_PQ,     GAINMAP_TRANSFER_HLG,
                                           GAINMAP_TRANSFER_GAMMA22, GAINMAP_TRANSFER_GAMMA24,
                                           GAINMAP_TRANSFER_BT709};
    for (size_t t = 0; t < sizeof all / sizeof all[0]; t++) {
        double worst = 0.0;
        for (int i = 1; i <= 1000; i++) {
            double s = i / 1000.0;
            double back = gainmap_from_linear(all[t], gainmap_to_linear(all[t], s));
            worst = fmax(worst, fabs(back - s) / s);
        }
        CHECK_MSG(worst < 1e-6, "%s round trip worst %g", gainmap_transfer_name(all[t]), worst);
    }
}

static void test_names_cicp(void)
{
    CHECK_STR(gainmap_transfer_name(GAINMAP_TRANSFER_PQ), "pq");
    CHECK_STR(gainmap_transfer_name(GAINMAP_TRANSFER_HLG), "hlg");
    CHECK_STR(gainmap_transfer_name(GAINMAP_TRANSFER_SRGB), "srgb");
    CHECK_STR(gainmap_transfer_name(GAINMAP_TRANSFER_LINEAR), "linear");
    CHECK_STR(gainmap_transfer_name(GAINMAP_TRANSFER_GAMMA22), "gamma2.2");
    CHECK_STR(gainmap_transfer_name(GAINMAP_TRANSFER_GAMMA24), "gamma2.4");
    CHECK_STR(gainmap_transfer_name(GAINMAP_TRANSFER_BT709), "bt709");
    CHECK_STR(gainmap_transfer_name(GAINMAP_TRANSFER_UNKNOWN), "unknown");
    CHECK_INT(gainmap_transfer_from_name("pq"), GAINMAP_TRANSFER_PQ);
    CHECK_INT(gainmap_transfer_from_name("st2084"), GAINMAP_TRANSFER_PQ);
    CHECK_INT(gainmap_transfer_from_name("hlg"), GAINMAP_TRANSFER_HLG);
    CHECK_INT(gainmap_transfer_from_name("2.2"), GAINMAP_TRANSFER_GAMMA22);
    CHECK_INT(gainmap_transfer_from_name("gamma24"), GAINMAP_TRANSFER_GAMMA24);
    CHECK_INT(gainmap_transfer_from_name("bogus"), GAINMAP_TRANSFER_UNKNOWN);
    CHECK_INT(gainmap_transfer_from_name(NULL), GAINMAP_TRANSFER_UNKNOWN);
    /* H.273 transfer characteristics */
    CHECK_INT(gainmap_transfer_to_cicp(GAINMAP_TRANSFER_PQ), 16);
    CHECK_INT(gainmap_transfer_to_cicp(GAINMAP_TRANSFER_HLG), 18);
    CHECK_INT(gainmap_transfer_to_cicp(GAINMAP_TRANSFER_SRGB), 13);
    CHECK_INT(gainmap_transfer_to_cicp(GAINMAP_TRANSFER_LINEAR), 8);
    CHECK_INT(gainmap_transfer_to_cicp(GAINMAP_TRANSFER_BT709), 1);
    CHECK_INT(gainmap_transfer_to_cicp(GAINMAP_TRANSFER_GAMMA22), 4);
    CHECK_INT(gainmap_transfer_to_cicp(GAINMAP_TRANSFER_GAMMA24), 0);
    CHECK_INT(gainmap_transfer_to_cicp(GAINMAP_TRANSFER_UNKNOWN), 0);
    CHECK_INT(gainmap_transfer_from_cicp(16), GAINMAP_TRANSFER_PQ);
    CHECK_INT(gainmap_transfer_from_cicp(18), GAINMAP_TRANSFER_HLG);
    CHECK_INT(gainmap_transfer_from_cicp(13), GAINMAP_TRANSFER_SRGB);
    CHECK_INT(gainmap_transfer_from_cicp(8), GAINMAP_TRANSFER_LINEAR);
    CHECK_INT(gainmap_transfer_from_cicp(1), GAINMAP_TRANSFER_BT709);
    CHECK_INT(gainmap_transfer_from_cicp(6), GAINMAP_TRANSFER_BT709);
    CHECK_INT(gainmap_transfer_from_cicp(2), GAINMAP_TRANSFER_UNKNOWN);
    CHECK_INT(gainmap_transfer_from_cicp(255), GAINMAP_TRANSFER_UNKNOWN);
}

int main(void)
{
    RUN_TEST(test_pq_reference_points);
    RUN_TEST(test_pq_round_trip);
    RUN_TEST(test_hlg);
    RUN_TEST(test_srgb_bt709);
    RUN_TEST(test_generic);
    RUN_TEST(test_names_cicp);
    TEST_SUMMARY();
}

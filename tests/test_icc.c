/* test_icc.c - generated ICC profiles (header bytes, cicp bytes, lcms2
 * transforms within 0.5 dE00 of our own maths) and identification of
 * profiles from their contents (cicp, colorants, TRC shape), including real
 * profiles embedded in corpus JPEGs. */
#include "check.h"
#include "internal.h"
#include "support/testutil.h"

#include <lcms2.h>

static const struct {
    const char *name;
    gainmap_primaries prim;
    gainmap_transfer tf;
    int cp, tc;
} PROFILES[] = {
    {"srgb", GAINMAP_PRIMARIES_BT709, GAINMAP_TRANSFER_SRGB, 1, 13},
    {"p3", GAINMAP_PRIMARIES_P3, GAINMAP_TRANSFER_SRGB, 12, 13},
    {"p3-pq", GAINMAP_PRIMARIES_P3, GAINMAP_TRANSFER_PQ, 12, 16},
    {"bt2020-pq", GAINMAP_PRIMARIES_BT2020, GAINMAP_TRANSFER_PQ, 9, 16},
    {"p3-hlg", GAINMAP_PRIMARIES_P3, GAINMAP_TRANSFER_HLG, 12, 18},
    {"bt2020-hlg", GAINMAP_PRIMARIES_BT2020, GAINMAP_TRANSFER_HLG, 9, 18},
    {"HDR_P3_D65_ST2084", GAINMAP_PRIMARIES_P3, GAINMAP_TRANSFER_PQ, 12, 16},
    {"P3_PQ", GAINMAP_PRIMARIES_P3, GAINMAP_TRANSFER_PQ, 12, 16},
    {"bt709-pq", GAINMAP_PRIMARIES_BT709, GAINMAP_TRANSFER_PQ, 1, 16},
    {"bt709-hlg", GAINMAP_PRIMARIES_BT709, GAINMAP_TRANSFER_HLG, 1, 18},
    {"bt2020", GAINMAP_PRIMARIES_BT2020, GAINMAP_TRANSFER_SRGB, 9, 13},
};
#define NPROFILES (sizeof PROFILES / sizeof PROFILES[0])

/* Our expectation of each profile's curve (signal -> PCS-relative Y). */
static double expected_curve(const char *name, double e)
{
    if (strstr(name, "hlg")) {
        /* HLG inverse OETF then the 1000-nit achromatic OOTF (gamma 1.2) */
        const double a = 0.17883277, b = 0.28466892, c = 0.55991073;
        double s = e <= 0.5 ? e * e / 3.0 : (exp((e - c) / a) + b) / 12.0;
        return pow(s, 1.2);
    }
    if (!strcmp(name, "P3_PQ")) {
        /* 203 nits = 1, linear to 0.75, shoulder 0.75 + 0.25 t/(1+t) */
        double x = gainmap_pq_eotf(e) / 203.0;
        if (x <= 0.75)
            return x;
        double t = (x - 0.75) / 0.25;
        return 0.75 + 0.25 * t / (1.0 + t);
    }
    if (strstr(name, "pq") || strstr(name, "ST2084"))
        return gainmap_pq_eotf(e) / 10000.0;
    return e <= 0.04045 ? e / 12.92 : pow((e + 0.055) / 1.055, 2.4);
}

/* Lab (D50) of linear RGB in primaries p: D65 XYZ, Bradford to D50. */
static void reference_lab(gainmap_primaries p, const double lin[3], cmsCIELab *lab)
{
    double m[9];
    gainmap_rgb_to_xyz(p, m);
    double xyz[3];
    for (int i = 0; i < 3; i++)
        xyz[i] = m[3 * i] * lin[0] + m[3 * i + 1] * lin[1] + m[3 * i + 2] * lin[2];
    cmsCIEXYZ src = {xyz[0], xyz[1], xyz[2]}, d50;
    cmsCIEXYZ wsrc = {0.3127 / 0.3290, 1.0, (1.0 - 0.3127 - 0.3290) / 0.3290};
    cmsAdaptToIlluminant(&d50, &wsrc, cmsD50_XYZ(), &src);
    cmsXYZ2Lab(cmsD50_XYZ(), lab, &d50);
}

/* Offset of a tag's data in an ICC profile, or 0. */
static uint32_t find_tag(const uint8_t *icc, size_t size, const char *sig, uint32_t *len)
{
    uint32_t n = gm_be32(icc + 128);
    for (uint32_t i = 0; i < n && 132 + 12 * (i + 1) <= size; i++) {
        const uint8_t *e = icc + 132 + 12 * i;
        if (!memcmp(e, sig, 4)) {
            *len = gm_be32(e + 8);
            return gm_be32(e + 4);
        }
    }
    return 0;
}

static void test_generate_bytes(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    for (size_t i = 0; i < NPROFILES; i++) {
        uint8_t *icc = NULL;
        size_t size = 0;
        CHECK_INT(gainmap_icc_generate(ctx, PROFILES[i].name, &icc, &size), GAINMAP_OK);
        if (!icc)
            continue;
        CHECK_INT(gm_be32(icc), size);
        CHECK(!memcmp(icc + 36, "acsp", 4));
        CHECK(!memcmp(icc + 12, "mntr", 4));
        CHECK(!memcmp(icc + 16, "RGB ", 4));
        CHECK(!memcmp(icc + 20, "XYZ ", 4));
        /* version 4.4.0.0 and a fixed creation date 2024-01-01 */
        CHECK_MSG(icc[8] == 4 && icc[9] == 0x40, "%s version %02x.%02x", PROFILES[i].name, icc[8], icc[9]);
        CHECK_INT(gm_be16(icc + 24), 2024);
        CHECK_INT(gm_be16(icc + 26), 1);
        CHECK_INT(gm_be16(icc + 28), 1);
        /* cicp tag: 'cicp' 0000 cp tc 0 1 (ICC.1:2022 10.3) */
        uint32_t len = 0, off = find_tag(icc, size, "cicp", &len);
        CHECK_MSG(off != 0 && len == 12 && off + 12 <= size, "%s: cicp tag at %u len %u", PROFILES[i].name, off,
                  len);
        if (off && off + 12 <= size) {
            const uint8_t want[12] = {'c', 'i', 'c', 'p', 0, 0, 0, 0, (uint8_t)PROFILES[i].cp,
                                      (uint8_t)PROFILES[i].tc, 0, 1};
            CHECK_MSG(!memcmp(icc + off, want, 12), "%s: cicp bytes differ", PROFILES[i].name);
        }
        /* compact SDR profiles for JPEG bases; sampled HDR curves stored once */
        if (PROFILES[i].tf == GAINMAP_TRANSFER_SRGB)
            CHECK_MSG(size < 800, "%s is %zu bytes", PROFILES[i].name, size);
        else
            CHECK_MSG(size < 9000, "%s is %zu bytes", PROFILES[i].name, size);
        /* reproducible */
        uint8_t *again = NULL;
        size_t size2 = 0;
        CHECK_INT(gainmap_icc_generate(ctx, PROFILES[i].name, &again, &size2), GAINMAP_OK);
        CHECK(size2 == size && again && !memcmp(icc, again, size));
        gainmap_free(again);
        gainmap_free(icc);
    }
    /* the listing names every profile, in order */
    const char *desc = NULL;
    for (size_t i = 0; i < NPROFILES; i++)
        CHECK_STR(gainmap_icc_profile_name(i, &desc), PROFILES[i].name);
    CHECK(gainmap_icc_profile_name(NPROFILES, NULL) == NULL);
    CHECK_STR(gainmap_icc_profile_name(6, &desc), "HDR_P3_D65_ST2084");
    CHECK_STR(desc, "HDR_P3_D65_ST2084");
    gainmap_icc_profile_name(2, &desc);
    CHECK_STR(desc, "Display P3 PQ");

    uint8_t *icc = (uint8_t *)"x";
    size_t size = 5;
    CHECK_INT(gainmap_icc_generate(ctx, "adobe-rgb", &icc, &size), GAINMAP_ERR_INVALID_ARG);
    CHECK(icc == NULL && size == 0);
    CHECK_CONTAINS(gainmap_last_error(ctx), "unknown ICC profile name \"adobe-rgb\"");
    gainmap_ctx_free(ctx);
}

static void test_generate_transforms(void)
{
    static const double colours[][3] = {
        {1, 1, 1},       {0.5, 0.5, 0.5}, {0.18, 0.18, 0.18}, {0.05, 0.05, 0.05}, {1, 0, 0},
        {0, 1, 0},       {0, 0, 1},       {0.8, 0.6, 0.5},    {0.6, 0.45, 0.35},  {0.3, 0.7, 0.2},
        {0.58, 0.58, 0.58}, {0.75, 0.75, 0.75}, {0.9, 0.2, 0.6}, {0.2, 0.3, 0.9},   {0.95, 0.9, 0.1},
    };
    gainmap_ctx *ctx = gainmap_ctx_new();
    cmsHPROFILE lab = cmsCreateLab4Profile(NULL);
    double worst_all = 0;
    for (size_t i = 0; i < NPROFILES; i++) {
        uint8_t *icc = NULL;
        size_t size = 0;
        if (gainmap_icc_generate(ctx, PROFILES[i].name, &icc, &size) != GAINMAP_OK)
            continue;
        cmsHPROFILE h = cmsOpenProfileFromMem(icc, (cmsUInt32Number)size);
        CHECK_MSG(h != NULL, "lcms2 cannot open %s", PROFILES[i].name);
        if (!h) {
            gainmap_free(icc);
            continue;
        }
        CHECK(cmsGetColorSpace(h) == cmsSigRgbData);
        CHECK(cmsGetEncodedICCversion(h) == 0x4400000);
        cmsHTRANSFORM x = cmsCreateTransform(h, TYPE_RGB_DBL, lab, TYPE_Lab_DBL, INTENT_RELATIVE_COLORIMETRIC,
                                             cmsFLAGS_NOOPTIMIZE);
        CHECK(x != NULL);
        double worst = 0;
        for (size_t k = 0; x && k < sizeof colours / sizeof colours[0]; k++) {
            cmsCIELab got, want;
            cmsDoTransform(x, colours[k], &got, 1);
            double lin[3];
            for (int c = 0; c < 3; c++)
                lin[c] = expected_curve(PROFILES[i].name, colours[k][c]);
            reference_lab(PROFILES[i].prim, lin, &want);
            worst = fmax(worst, cmsCIE2000DeltaE(&got, &want, 1, 1, 1));
        }
        CHECK_MSG(worst < 0.5, "%s: worst dE00 %.3f", PROFILES[i].name, worst);
        worst_all = fmax(worst_all, worst);
        if (x)
            cmsDeleteTransform(x);
        cmsCloseProfile(h);
        gainmap_free(icc);
    }
    printf("  generated profiles: worst dE00 vs our maths %.4f\n", worst_all);
    cmsCloseProfile(lab);
    gainmap_ctx_free(ctx);
}

static void test_identify_generated(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    for (size_t i = 0; i < NPROFILES; i++) {
        uint8_t *icc = NULL;
        size_t size = 0;
        if (gainmap_icc_generate(ctx, PROFILES[i].name, &icc, &size) != GAINMAP_OK)
            continue;
        gainmap_primaries p = GAINMAP_PRIMARIES_UNKNOWN;
        gainmap_transfer t = GAINMAP_TRANSFER_UNKNOWN;
        CHECK_INT(gainmap_icc_identify(ctx, icc, size, &p, &t), GAINMAP_OK);
        CHECK_MSG(p == PROFILES[i].prim && t == PROFILES[i].tf, "%s identified as %s/%s", PROFILES[i].name,
                  gainmap_primaries_name(p), gainmap_transfer_name(t));
        /* without the cicp tag the colorants and the curve say the same */
        uint32_t len = 0, off = find_tag(icc, size, "cicp", &len);
        if (off) {
            icc[off + 8] = 2; /* unspecified primaries */
            icc[off + 9] = 2; /* unspecified transfer */
            CHECK_INT(gainmap_icc_identify(ctx, icc, size, &p, &t), GAINMAP_OK);
            CHECK_MSG(p == PROFILES[i].prim && t == PROFILES[i].tf, "%s without cicp identified as %s/%s",
                      PROFILES[i].name, gainmap_primaries_name(p), gainmap_transfer_name(t));
        }
        gainmap_free(icc);
    }
    gainmap_ctx_free(ctx);
}

/* A profile built here by lcms2 (no cicp tag), saved to memory. */
static uint8_t *make_profile(gainmap_primaries prim, cmsToneCurve *curve, const char *desc, double version,
                             size_t *size)
{
    double xy[8];
    gainmap_primaries_xy(prim, xy);
    cmsCIExyY w = {xy[6], xy[7], 1};
    cmsCIExyYTRIPLE p = {{xy[0], xy[1], 1}, {xy[2], xy[3], 1}, {xy[4], xy[5], 1}};
    cmsToneCurve *c3[3] = {curve, curve, curve};
    cmsHPROFILE h = cmsCreateRGBProfile(&w, &p, c3);
    cmsSetProfileVersion(h, version);
    cmsMLU *mlu = cmsMLUalloc(NULL, 1);
    cmsMLUsetASCII(mlu, "en", "US", desc);
    cmsWriteTag(h, cmsSigProfileDescriptionTag, mlu);
    cmsMLUfree(mlu);
    cmsUInt32Number n = 0;
    cmsSaveProfileToMem(h, NULL, &n);
    uint8_t *buf = malloc(n);
    cmsSaveProfileToMem(h, buf, &n);
    cmsCloseProfile(h);
    cmsFreeToneCurve(curve);
    *size = n;
    return buf;
}

static cmsToneCurve *sampled(double (*f)(double), int n)
{
    cmsUInt16Number *t = malloc(n * sizeof *t);
    for (int i = 0; i < n; i++)
        t[i] = (cmsUInt16Number)lround(fmin(1.0, f((double)i / (n - 1))) * 65535);
    cmsToneCurve *c = cmsBuildTabulatedToneCurve16(NULL, n, t);
    free(t);
    return c;
}
static double f_srgb(double e) { return gainmap_srgb_to_linear(e); }
static double f_pq(double e) { return gainmap_pq_eotf(e) / 10000.0; }
static double f_pq203(double e) { return gainmap_pq_eotf(e) / 203.0; }
static double f_hlg(double e) { return gainmap_hlg_inverse_oetf(e); }
static double f_g18(double e) { return pow(e, 1.8); }

static void test_identify_contents(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    const double srgb_p[5] = {2.4, 1.0 / 1.055, 0.055 / 1.055, 1.0 / 12.92, 0.04045};
    const double bt709_p[5] = {1.0 / 0.45, 1.0 / 1.09929682680944, 0.09929682680944 / 1.09929682680944, 1.0 / 4.5,
                               0.081242858};
    struct {
        gainmap_primaries prim;
        cmsToneCurve *curve;
        const char *desc;
        double version;
        gainmap_primaries want_p;
        gainmap_transfer want_t;
    } cases[] = {
        /* the name lies: contents win */
        {GAINMAP_PRIMARIES_BT709, cmsBuildParametricToneCurve(NULL, 4, srgb_p), "Display P3", 4.3,
         GAINMAP_PRIMARIES_BT709, GAINMAP_TRANSFER_SRGB},
        {GAINMAP_PRIMARIES_P3, cmsBuildParametricToneCurve(NULL, 4, srgb_p), "sRGB", 2.1, GAINMAP_PRIMARIES_P3,
         GAINMAP_TRANSFER_SRGB},
        {GAINMAP_PRIMARIES_BT2020, cmsBuildGamma(NULL, 2.4), "x", 4.3, GAINMAP_PRIMARIES_BT2020,
         GAINMAP_TRANSFER_GAMMA24},
        {GAINMAP_PRIMARIES_P3, cmsBuildGamma(NULL, 2.2), "x", 2.1, GAINMAP_PRIMARIES_P3, GAINMAP_TRANSFER_GAMMA22},
        {GAINMAP_PRIMARIES_BT709, cmsBuildGamma(NULL, 1.0), "x", 4.3, GAINMAP_PRIMARIES_BT709,
         GAINMAP_TRANSFER_LINEAR},
        {GAINMAP_PRIMARIES_BT709, cmsBuildParametricToneCurve(NULL, 4, bt709_p), "x", 4.3, GAINMAP_PRIMARIES_BT709,
         GAINMAP_TRANSFER_BT709},
        {GAINMAP_PRIMARIES_BT709, sampled(f_srgb, 1024), "x", 2.1, GAINMAP_PRIMARIES_BT709, GAINMAP_TRANSFER_SRGB},
        {GAINMAP_PRIMARIES_BT2020, sampled(f_pq, 4096), "x", 4.3, GAINMAP_PRIMARIES_BT2020, GAINMAP_TRANSFER_PQ},
        {GAINMAP_PRIMARIES_P3, sampled(f_pq203, 1024), "x", 4.3, GAINMAP_PRIMARIES_P3, GAINMAP_TRANSFER_PQ},
        {GAINMAP_PRIMARIES_BT2020, sampled(f_hlg, 1024), "x", 4.3, GAINMAP_PRIMARIES_BT2020,
         GAINMAP_TRANSFER_HLG},
        /* gamma 1.8 has no enum: unknown, primaries still found */
        {GAINMAP_PRIMARIES_P3, sampled(f_g18, 256), "x", 4.3, GAINMAP_PRIMARIES_P3, GAINMAP_TRANSFER_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t size = 0;
        uint8_t *icc = make_profile(cases[i].prim, cases[i].curve, cases[i].desc, cases[i].version, &size);
        gainmap_primaries p;
        gainmap_transfer t;
        CHECK_INT(gainmap_icc_identify(ctx, icc, size, &p, &t), GAINMAP_OK);
        CHECK_MSG(p == cases[i].want_p && t == cases[i].want_t, "case %zu identified as %s/%s", i,
                  gainmap_primaries_name(p), gainmap_transfer_name(t));
        free(icc);
    }
    /* unusual primaries (Adobe RGB 1998) are not mistaken for a known set */
    {
        cmsCIExyY w = {0.3127, 0.3290, 1};
        cmsCIExyYTRIPLE ap = {{0.64, 0.33, 1}, {0.21, 0.71, 1}, {0.15, 0.06, 1}};
        cmsToneCurve *g = cmsBuildGamma(NULL, 2.2);
        cmsToneCurve *c3[3] = {g, g, g};
        cmsHPROFILE h = cmsCreateRGBProfile(&w, &ap, c3);
        cmsUInt32Number n = 0;
        cmsSaveProfileToMem(h, NULL, &n);
        uint8_t *buf = malloc(n);
        cmsSaveProfileToMem(h, buf, &n);
        gainmap_primaries p;
        gainmap_transfer t;
        CHECK_INT(gainmap_icc_identify(ctx, buf, n, &p, &t), GAINMAP_OK);
        CHECK_INT(p, GAINMAP_PRIMARIES_UNKNOWN);
        CHECK_INT(t, GAINMAP_TRANSFER_GAMMA22);
        free(buf);
        cmsCloseProfile(h);
        cmsFreeToneCurve(g);
    }
    gainmap_ctx_free(ctx);
}

static void test_identify_errors(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_primaries p = GAINMAP_PRIMARIES_P3;
    gainmap_transfer t = GAINMAP_TRANSFER_PQ;
    uint8_t junk[200] = {0};
    CHECK_INT(gainmap_icc_identify(ctx, junk, 100, &p, &t), GAINMAP_ERR_TRUNCATED);
    CHECK_STR(gainmap_last_error(ctx), "the ICC profile is 100 bytes, shorter than its 132-byte header");
    CHECK_INT(p, GAINMAP_PRIMARIES_UNKNOWN);
    CHECK_INT(t, GAINMAP_TRANSFER_UNKNOWN);
    gainmap_clear_error(ctx);
    CHECK_INT(gainmap_icc_identify(ctx, junk, sizeof junk, &p, &t), GAINMAP_ERR_FORMAT);
    CHECK_STR(gainmap_last_error(ctx), "the ICC profile lacks the 'acsp' signature");
    gainmap_clear_error(ctx);

    uint8_t *icc = NULL;
    size_t size = 0;
    CHECK_INT(gainmap_icc_generate(ctx, "p3", &icc, &size), GAINMAP_OK);
    CHECK_INT(gainmap_icc_identify(ctx, icc, size - 10, &p, &t), GAINMAP_ERR_TRUNCATED);
    CHECK_CONTAINS(gainmap_last_error(ctx), "declares");
    gainmap_clear_error(ctx);
    /* a tag table pointing past the end */
    uint8_t *bad = malloc(size);
    memcpy(bad, icc, size);
    for (uint32_t i = 0; i < gm_be32(bad + 128); i++) {
        uint8_t *e = bad + 132 + 12 * i + 4;
        e[0] = 0x7f;
    }
    CHECK_INT(gainmap_icc_identify(ctx, bad, size, &p, &t), GAINMAP_ERR_CORRUPT);
    CHECK_CONTAINS(gainmap_last_error(ctx), "the ICC profile is not readable");
    gainmap_clear_error(ctx);
    free(bad);
    gainmap_free(icc);

    /* a Lab profile is refused; a grey profile has no primaries */
    cmsHPROFILE lab = cmsCreateLab4Profile(NULL);
    cmsUInt32Number n = 0;
    cmsSaveProfileToMem(lab, NULL, &n);
    uint8_t *buf = malloc(n);
    cmsSaveProfileToMem(lab, buf, &n);
    CHECK_INT(gainmap_icc_identify(ctx, buf, n, &p, &t), GAINMAP_ERR_UNSUPPORTED);
    CHECK_CONTAINS(gainmap_last_error(ctx), "non-RGB colour space (Lab )");
    gainmap_clear_error(ctx);
    free(buf);
    cmsCloseProfile(lab);
    cmsToneCurve *g = cmsBuildGamma(NULL, 2.2);
    cmsHPROFILE grey = cmsCreateGrayProfile(cmsD50_xyY(), g);
    cmsSaveProfileToMem(grey, NULL, &n);
    buf = malloc(n);
    cmsSaveProfileToMem(grey, buf, &n);
    CHECK_INT(gainmap_icc_identify(ctx, buf, n, &p, &t), GAINMAP_OK);
    CHECK_INT(p, GAINMAP_PRIMARIES_UNKNOWN);
    CHECK_INT(t, GAINMAP_TRANSFER_GAMMA22);
    free(buf);
    cmsCloseProfile(grey);
    cmsFreeToneCurve(g);
    CHECK_INT(gainmap_icc_identify(ctx, NULL, 0, &p, &t), GAINMAP_ERR_INVALID_ARG);
    gainmap_ctx_free(ctx);
}

/* The ICC profile of a JPEG (APP2 ICC_PROFILE chunks, in file order). */
static uint8_t *jpeg_icc(const char *path, size_t *size)
{
    size_t n = 0;
    uint8_t *d = tu_read(path, &n);
    if (!d)
        return NULL;
    uint8_t *icc = NULL;
    *size = 0;
    size_t i = 2;
    while (i + 4 <= n && d[i] == 0xFF && d[i + 1] != 0xDA) {
        size_t len = gm_be16(d + i + 2);
        if (i + 2 + len > n || len < 2)
            break;
        if (d[i + 1] == 0xE2 && len > 16 && !memcmp(d + i + 4, "ICC_PROFILE", 12)) {
            icc = realloc(icc, *size + len - 16);
            memcpy(icc + *size, d + i + 18, len - 16);
            *size += len - 16;
        }
        i += 2 + len;
    }
    free(d);
    return icc;
}

/* The corpus path from this program's own GM_CORPUS_DIR (the support
 * library is compiled without it and falls back to a cwd-relative path). */
static const char *corpus(const char *rel)
{
    static char buf[4096];
    const char *base = getenv("GM_CORPUS_DIR");
    snprintf(buf, sizeof buf, "%s/%s", base && *base ? base : GM_CORPUS_DIR, rel);
    return buf;
}

static void test_identify_corpus(void)
{
    static const struct {
        const char *file;
        gainmap_primaries p;
        gainmap_transfer t;
    } files[] = {
        /* Apple "Display P3" (v4.0, 548 bytes) */
        {"adobe_hdrgm_jpeg/gainmapjs__02.jpg", GAINMAP_PRIMARIES_P3, GAINMAP_TRANSFER_SRGB},
        /* HP/Microsoft "sRGB IEC61966-2.1" (v2.1, 1024-entry curv) */
        {"adobe_hdrgm_jpeg/libavif__seine_sdr_gainmap_srgb.jpg", GAINMAP_PRIMARIES_BT709, GAINMAP_TRANSFER_SRGB},
        {"apple_jpeg_gainmap/libavif__apple_gainmap_new.jpg", GAINMAP_PRIMARIES_P3, GAINMAP_TRANSFER_SRGB},
        /* libultrahdr "sRGB Gamut" (v4.3, parametric curve) */
        {"ultrahdr_v1_xmp_mpf/libvips__ultra-hdr.jpg", GAINMAP_PRIMARIES_BT709, GAINMAP_TRANSFER_SRGB},
        /* named "sRGB" but its TRC is curv gamma 2.199 and its colorants are
         * unadapted D65 (v2.1, 416 bytes): contents, not the name */
        {"ultrahdr_v1_xmp_mpf/imazenuhdr__test_ultrahdr.jpg", GAINMAP_PRIMARIES_BT709, GAINMAP_TRANSFER_GAMMA22},
        {"ultrahdr_v1_xmp_mpf/gainmapjs__memorial.jpg", GAINMAP_PRIMARIES_BT709, GAINMAP_TRANSFER_SRGB},
    };
    gainmap_ctx *ctx = gainmap_ctx_new();
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t size = 0;
        uint8_t *icc = jpeg_icc(corpus(files[i].file), &size);
        CHECK_MSG(icc != NULL, "%s: no ICC found", files[i].file);
        if (!icc)
            continue;
        gainmap_primaries p;
        gainmap_transfer t;
        CHECK_INT(gainmap_icc_identify(ctx, icc, size, &p, &t), GAINMAP_OK);
        CHECK_MSG(p == files[i].p && t == files[i].t, "%s identified as %s/%s", files[i].file,
                  gainmap_primaries_name(p), gainmap_transfer_name(t));
        free(icc);
    }
    gainmap_ctx_free(ctx);
}

int main(void)
{
    RUN_TEST(test_generate_bytes);
    RUN_TEST(test_generate_transforms);
    RUN_TEST(test_identify_generated);
    RUN_TEST(test_identify_contents);
    RUN_TEST(test_identify_errors);
    RUN_TEST(test_identify_corpus);
    TEST_SUMMARY();
}

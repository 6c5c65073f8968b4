/* icc.c - ICC profiles with lcms2: identify primaries and transfer from a
 * profile's contents (cicp tag, colorants, TRC shape - never its name) and
 * generate the profiles we attach (FORMATS.md 7.2, 7.3).
 *
 * Every call makes its own cmsContext with an error handler that records the
 * first lcms2 message, so nothing is global and nothing prints. */
#include "internal.h"

#include <lcms2.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* lcms2 context with a captured message                               */
/* ------------------------------------------------------------------ */
typedef struct icc_errors {
    char msg[200];
} icc_errors;

static void icc_log(cmsContext c, cmsUInt32Number code, const char *text)
{
    (void)code;
    icc_errors *e = cmsGetContextUserData(c);
    if (e && !e->msg[0] && text)
        snprintf(e->msg, sizeof e->msg, "%s", text);
}

static cmsContext icc_context(icc_errors *e)
{
    e->msg[0] = 0;
    cmsContext c = cmsCreateContext(NULL, e);
    if (c)
        cmsSetLogErrorHandlerTHR(c, icc_log);
    return c;
}

/* ------------------------------------------------------------------ */
/* Curves shared by generation and identification                      */
/* ------------------------------------------------------------------ */
#define PQ_REL_KNEE 0.75   /* P3_PQ: linear up to 75 % of reference white */

/* P3_PQ's curve: PQ signal -> luminance relative to 203 cd/m2 = PCS white,
 * linear below the knee, then a shoulder x/(1+x) that reaches 1 only at
 * infinity (10000 nits -> 0.9987) and keeps the slope continuous. */
static double pq_relative(double e)
{
    double x = gainmap_pq_eotf(e) / GM_SDR_WHITE_NITS;
    if (x <= PQ_REL_KNEE)
        return x;
    double t = (x - PQ_REL_KNEE) / (1.0 - PQ_REL_KNEE);
    return PQ_REL_KNEE + (1.0 - PQ_REL_KNEE) * t / (1.0 + t);
}

/* HLG display light for the nominal 1000 cd/m2 display (achromatic OOTF,
 * gamma 1.2), 1.0 = 1000 cd/m2. */
static double hlg_display(double e) { return pow(gainmap_hlg_inverse_oetf(e), 1.2); }

typedef enum curve_kind {
    CURVE_SRGB,
    CURVE_PQ_ABSOLUTE,   /* 10000 cd/m2 -> PCS white */
    CURVE_PQ_RELATIVE,   /* 203 cd/m2 -> PCS white, soft shoulder above */
    CURVE_HLG            /* 1000 cd/m2 display -> PCS white */
} curve_kind;

static double curve_eval(curve_kind k, double e)
{
    switch (k) {
    case CURVE_SRGB: return gainmap_srgb_to_linear(e);
    case CURVE_PQ_ABSOLUTE: return gainmap_pq_eotf(e) / 10000.0;
    case CURVE_PQ_RELATIVE: return pq_relative(e);
    case CURVE_HLG: return hlg_display(e);
    }
    return e;
}

/* ------------------------------------------------------------------ */
/* Generation                                                          */
/* ------------------------------------------------------------------ */
typedef struct icc_recipe {
    const char *name;
    const char *description;
    gainmap_primaries primaries;
    curve_kind curve;
    gainmap_transfer transfer;   /* for the cicp tag */
} icc_recipe;

static const icc_recipe recipes[] = {
    {"srgb", "sRGB", GAINMAP_PRIMARIES_BT709, CURVE_SRGB, GAINMAP_TRANSFER_SRGB},
    {"p3", "Display P3", GAINMAP_PRIMARIES_P3, CURVE_SRGB, GAINMAP_TRANSFER_SRGB},
    {"p3-pq", "Display P3 PQ", GAINMAP_PRIMARIES_P3, CURVE_PQ_ABSOLUTE, GAINMAP_TRANSFER_PQ},
    {"bt2020-pq", "BT.2020 PQ", GAINMAP_PRIMARIES_BT2020, CURVE_PQ_ABSOLUTE, GAINMAP_TRANSFER_PQ},
    {"p3-hlg", "Display P3 HLG", GAINMAP_PRIMARIES_P3, CURVE_HLG, GAINMAP_TRANSFER_HLG},
    {"bt2020-hlg", "BT.2020 HLG", GAINMAP_PRIMARIES_BT2020, CURVE_HLG, GAINMAP_TRANSFER_HLG},
    {"HDR_P3_D65_ST2084", "HDR_P3_D65_ST2084", GAINMAP_PRIMARIES_P3, CURVE_PQ_ABSOLUTE, GAINMAP_TRANSFER_PQ},
    {"P3_PQ", "P3_PQ", GAINMAP_PRIMARIES_P3, CURVE_PQ_RELATIVE, GAINMAP_TRANSFER_PQ},
    /* BT.709 primaries with an HDR curve: so a PQ/HLG TIFF in BT.709 is tagged too */
    {"bt709-pq", "BT.709 PQ", GAINMAP_PRIMARIES_BT709, CURVE_PQ_ABSOLUTE, GAINMAP_TRANSFER_PQ},
    {"bt709-hlg", "BT.709 HLG", GAINMAP_PRIMARIES_BT709, CURVE_HLG, GAINMAP_TRANSFER_HLG},
    /* an SDR base for a BT.2020 master with colours outside P3 (listed last:
     * the indices of gainmap_icc_profile_name stay as they were) */
    {"bt2020", "BT.2020 (sRGB curve)", GAINMAP_PRIMARIES_BT2020, CURVE_SRGB, GAINMAP_TRANSFER_SRGB},
};
#define NRECIPES (sizeof recipes / sizeof recipes[0])

const char *gainmap_icc_profile_name(size_t index, const char **description)
{
    if (index >= NRECIPES)
        return NULL;
    if (description)
        *description = recipes[index].description;
    return recipes[index].name;
}

#define TRC_SAMPLES 4096

static cmsToneCurve *build_curve(cmsContext c, curve_kind k)
{
    if (k == CURVE_SRGB) {
        /* IEC 61966-2-1 as ICC parametric type 3 (lcms2 type 4) */
        const cmsFloat64Number p[5] = {2.4, 1.0 / 1.055, 0.055 / 1.055, 1.0 / 12.92, 0.04045};
        return cmsBuildParametricToneCurve(c, 4, p);
    }
    /* PQ and HLG have no parametric form: a sampled 'curv' */
    cmsUInt16Number *t = malloc(TRC_SAMPLES * sizeof *t);
    if (!t)
        return NULL;
    for (int i = 0; i < TRC_SAMPLES; i++) {
        double v = curve_eval(k, (double)i / (TRC_SAMPLES - 1));
        t[i] = (cmsUInt16Number)lround(GM_CLAMP(v, 0.0, 1.0) * 65535.0);
    }
    cmsToneCurve *curve = cmsBuildTabulatedToneCurve16(c, TRC_SAMPLES, t);
    free(t);
    return curve;
}

static bool set_text(cmsContext c, cmsHPROFILE h, cmsTagSignature sig, const char *text)
{
    cmsMLU *mlu = cmsMLUalloc(c, 1);
    if (!mlu)
        return false;
    bool ok = cmsMLUsetASCII(mlu, "en", "US", text) && cmsWriteTag(h, sig, mlu);
    cmsMLUfree(mlu);
    return ok;
}

static cmsHPROFILE build_profile(cmsContext c, const icc_recipe *r)
{
    double xy[8];
    if (gainmap_primaries_xy(r->primaries, xy) != 0)
        return NULL;
    cmsCIExyY white = {xy[6], xy[7], 1.0};
    cmsCIExyYTRIPLE prim = {{xy[0], xy[1], 1.0}, {xy[2], xy[3], 1.0}, {xy[4], xy[5], 1.0}};
    cmsToneCurve *curve = build_curve(c, r->curve);
    if (!curve)
        return NULL;
    cmsToneCurve *curves[3] = {curve, curve, curve};
    cmsHPROFILE h = cmsCreateRGBProfileTHR(c, &white, &prim, curves);
    cmsFreeToneCurve(curve);
    if (!h)
        return NULL;
    /* ICC.1:2022: a profile with a cicp tag is version 4.4 */
    cmsSetProfileVersion(h, 4.4);
    cmsSetDeviceClass(h, cmsSigDisplayClass);
    cmsSetHeaderRenderingIntent(h, INTENT_PERCEPTUAL);
    /* ICC.1:2022 10.3 cicp: type sig, reserved, primaries, transfer, matrix 0
     * (RGB), full range.  Written raw: lcms2 2.14's writer emits 16 bytes
     * (four extra zeros before the code points). */
    const uint8_t cicp[12] = {'c', 'i', 'c', 'p', 0, 0, 0, 0, (uint8_t)gainmap_primaries_to_cicp(r->primaries),
                              (uint8_t)gainmap_transfer_to_cicp(r->transfer), 0, 1};
    /* the 'chrm' tag lcms2 adds repeats the colorants: drop it */
    bool ok = set_text(c, h, cmsSigProfileDescriptionTag, r->description) &&
              set_text(c, h, cmsSigCopyrightTag, "No copyright, use freely") &&
              cmsWriteTag(h, cmsSigChromaticityTag, NULL) && cmsWriteRawTag(h, cmsSigcicpTag, cicp, sizeof cicp);
    /* one sampled curve stored once, shared by the three channels */
    if (ok && r->curve != CURVE_SRGB)
        ok = cmsLinkTag(h, cmsSigGreenTRCTag, cmsSigRedTRCTag) && cmsLinkTag(h, cmsSigBlueTRCTag, cmsSigRedTRCTag);
    if (!ok) {
        cmsCloseProfile(h);
        return NULL;
    }
    return h;
}

const char *gm_icc_name_for(gainmap_primaries primaries, gainmap_transfer transfer)
{
    /* the first recipe whose tagging matches: the generic names come first */
    for (size_t i = 0; i < NRECIPES; i++)
        if (recipes[i].primaries == primaries && recipes[i].transfer == transfer)
            return recipes[i].name;
    return NULL;
}

gainmap_status gainmap_icc_generate(gainmap_ctx *ctx, const char *name, uint8_t **out, size_t *size)
{
    if (!name || !out || !size)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gainmap_icc_generate needs a name and output pointers");
    *out = NULL;
    *size = 0;
    const icc_recipe *r = NULL;
    for (size_t i = 0; i < NRECIPES; i++)
        if (!strcmp(recipes[i].name, name))
            r = &recipes[i];
    if (!r)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG,
                        "unknown ICC profile name \"%s\" (expected srgb, p3, bt2020, p3-pq, bt2020-pq, bt709-pq, p3-hlg, "
                        "bt2020-hlg, bt709-hlg, HDR_P3_D65_ST2084 or P3_PQ)",
                        name);
    icc_errors err;
    cmsContext c = icc_context(&err);
    if (!c)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory creating a colour-management context");
    gainmap_status st = GAINMAP_OK;
    cmsHPROFILE h = build_profile(c, r);
    cmsUInt32Number n = 0;
    uint8_t *buf = NULL;
    if (!h || !cmsSaveProfileToMem(h, NULL, &n) || n < 132)
        st = gm_error(ctx, GAINMAP_ERR_CODEC, "lcms2 could not build the %s profile%s%s", name,
                      err.msg[0] ? ": " : "", err.msg);
    else if (!(buf = gm_malloc(ctx, n)))
        st = GAINMAP_ERR_NOMEM;
    else if (!cmsSaveProfileToMem(h, buf, &n))
        st = gm_error(ctx, GAINMAP_ERR_CODEC, "lcms2 could not save the %s profile%s%s", name,
                      err.msg[0] ? ": " : "", err.msg);
    if (st != GAINMAP_OK) {
        free(buf);
        buf = NULL;
    }
    if (h)
        cmsCloseProfile(h);
    cmsDeleteContext(c);
    if (st != GAINMAP_OK)
        return st;
    /* Fixed creation date (2024-01-01 00:00:00) so the bytes are reproducible;
     * no profile ID is computed, so nothing else depends on it. */
    static const uint8_t date[12] = {0x07, 0xE8, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0};
    memcpy(buf + 24, date, sizeof date);
    *out = buf;
    *size = n;
    return GAINMAP_OK;
}

/* ------------------------------------------------------------------ */
/* Identification                                                      */
/* ------------------------------------------------------------------ */

/* Bradford adaptation of a D65 colour to lcms2's D50 (ICC PCS white). */
static void adapt_d65_to_d50(const double in[3], double out[3])
{
    static const double B[9] = {0.8951, 0.2664, -0.1614, -0.7502, 1.7135, 0.0367, 0.0389, -0.0685, 1.0296};
    static const double Bi[9] = {0.9869929, -0.1470543, 0.1599627, 0.4323053, 0.5183603,
                                 0.0492912, -0.0085287, 0.0400428, 0.9684867};
    const double d65[3] = {0.3127 / 0.3290, 1.0, (1.0 - 0.3127 - 0.3290) / 0.3290};
    const double d50[3] = {0.9642, 1.0, 0.8249};
    double sw[3], dw[3], v[3];
    for (int i = 0; i < 3; i++) {
        sw[i] = B[3 * i] * d65[0] + B[3 * i + 1] * d65[1] + B[3 * i + 2] * d65[2];
        dw[i] = B[3 * i] * d50[0] + B[3 * i + 1] * d50[1] + B[3 * i + 2] * d50[2];
    }
    for (int i = 0; i < 3; i++)
        v[i] = (B[3 * i] * in[0] + B[3 * i + 1] * in[1] + B[3 * i + 2] * in[2]) * dw[i] / sw[i];
    for (int i = 0; i < 3; i++)
        out[i] = Bi[3 * i] * v[0] + Bi[3 * i + 1] * v[1] + Bi[3 * i + 2] * v[2];
}

static bool xy_of(const double xyz[3], double xy[2])
{
    double s = xyz[0] + xyz[1] + xyz[2];
    if (!(s > 1e-9))
        return false;
    xy[0] = xyz[0] / s;
    xy[1] = xyz[1] / s;
    return true;
}

/* Nearest known primaries to three colorants (XYZ, PCS), compared as
 * chromaticities after D65->D50 adaptation (or, for v2 profiles that store
 * unadapted D65 colorants, as they are). */
static gainmap_primaries match_colorants(const double col[3][3])
{
    static const gainmap_primaries cand[3] = {GAINMAP_PRIMARIES_BT709, GAINMAP_PRIMARIES_P3,
                                              GAINMAP_PRIMARIES_BT2020};
    double got[3][2] = {{0}};
    for (int k = 0; k < 3; k++)
        if (!xy_of(col[k], got[k]))
            return GAINMAP_PRIMARIES_UNKNOWN;
    gainmap_primaries best = GAINMAP_PRIMARIES_UNKNOWN;
    double best_d = 0.004;   /* chromaticity distance; s15Fixed16 and white rounding stay far below */
    for (int p = 0; p < 3; p++) {
        double m[9];
        gainmap_rgb_to_xyz(cand[p], m);
        for (int adapted = 0; adapted < 2; adapted++) {
            double d = 0;
            for (int k = 0; k < 3; k++) {
                double xyz[3] = {m[k], m[3 + k], m[6 + k]}, xy[2] = {0, 0};
                if (adapted)
                    adapt_d65_to_d50(xyz, xyz);
                xy_of(xyz, xy);
                d = fmax(d, hypot(xy[0] - got[k][0], xy[1] - got[k][1]));
            }
            if (d < best_d) {
                best_d = d;
                best = cand[p];
            }
        }
    }
    return best;
}

#define ID_SAMPLES 64

/* Name the curve sampled at x = (i+1)/ID_SAMPLES (output normalised so the
 * curve's own value at 1.0 is 1). */
static gainmap_transfer classify_curve(const double y[ID_SAMPLES])
{
    static const struct {
        gainmap_transfer tf;
        int kind;   /* 0: gainmap_to_linear; 1: PQ/scale clipped; 2: P3_PQ; 3: HLG scene; 4: HLG display */
        double scale;
    } cand[] = {
        {GAINMAP_TRANSFER_LINEAR, 0, 0},   {GAINMAP_TRANSFER_SRGB, 0, 0},     {GAINMAP_TRANSFER_GAMMA22, 0, 0},
        {GAINMAP_TRANSFER_GAMMA24, 0, 0},  {GAINMAP_TRANSFER_BT709, 0, 0},    {GAINMAP_TRANSFER_PQ, 1, 10000},
        {GAINMAP_TRANSFER_PQ, 1, 203},     {GAINMAP_TRANSFER_PQ, 1, 100},     {GAINMAP_TRANSFER_PQ, 1, 1000},
        {GAINMAP_TRANSFER_PQ, 2, 0},       {GAINMAP_TRANSFER_HLG, 3, 0},      {GAINMAP_TRANSFER_HLG, 4, 0},
    };
    gainmap_transfer best = GAINMAP_TRANSFER_UNKNOWN;
    double best_err = 0.003;   /* sRGB and gamma 2.2 differ by up to 0.0085 */
    for (size_t c = 0; c < sizeof cand / sizeof cand[0]; c++) {
        double err = 0;
        for (int i = 0; i < ID_SAMPLES; i++) {
            double x = (double)(i + 1) / ID_SAMPLES, want;
            switch (cand[c].kind) {
            case 0: want = gainmap_to_linear(cand[c].tf, x); break;
            case 1: want = fmin(1.0, gainmap_pq_eotf(x) / cand[c].scale); break;
            case 2: want = pq_relative(x); break;
            case 3: want = gainmap_hlg_inverse_oetf(x); break;
            default: want = hlg_display(x); break;
            }
            err = fmax(err, fabs(y[i] - want));
        }
        if (err < best_err) {
            best_err = err;
            best = cand[c].tf;
        }
    }
    return best;
}

static gainmap_transfer identify_trc(cmsHPROFILE h, cmsTagSignature sig)
{
    const cmsToneCurve *t = cmsReadTag(h, sig);
    if (!t)
        return GAINMAP_TRANSFER_UNKNOWN;
    double y[ID_SAMPLES];
    for (int i = 0; i < ID_SAMPLES; i++)
        y[i] = cmsEvalToneCurveFloat(t, (cmsFloat32Number)(i + 1) / ID_SAMPLES);
    return classify_curve(y);
}

/* Profiles without TRC/colorant tags (LUT-based): run the transform to XYZ. */
static void identify_by_transform(cmsContext c, cmsHPROFILE h, gainmap_primaries *prim, gainmap_transfer *tf)
{
    cmsHPROFILE xyz = cmsCreateXYZProfileTHR(c);
    if (!xyz)
        return;
    cmsHTRANSFORM x = cmsCreateTransformTHR(c, h, TYPE_RGB_DBL, xyz, TYPE_XYZ_DBL, INTENT_RELATIVE_COLORIMETRIC,
                                            cmsFLAGS_NOOPTIMIZE | cmsFLAGS_NOCACHE);
    cmsCloseProfile(xyz);
    if (!x)
        return;
    if (*prim == GAINMAP_PRIMARIES_UNKNOWN) {
        double rgb[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, col[3][3];
        for (int k = 0; k < 3; k++)
            cmsDoTransform(x, rgb[k], col[k], 1);
        *prim = match_colorants((const double(*)[3])col);
    }
    if (*tf == GAINMAP_TRANSFER_UNKNOWN) {
        double white[3] = {1, 1, 1}, wx[3], y[ID_SAMPLES];
        cmsDoTransform(x, white, wx, 1);
        if (wx[1] > 1e-6) {
            for (int i = 0; i < ID_SAMPLES; i++) {
                double v = (double)(i + 1) / ID_SAMPLES, g[3] = {v, v, v}, o[3];
                cmsDoTransform(x, g, o, 1);
                y[i] = o[1] / wx[1];
            }
            *tf = classify_curve(y);
        }
    }
    cmsDeleteTransform(x);
}

gainmap_status gainmap_icc_identify(gainmap_ctx *ctx, const uint8_t *icc, size_t size,
                                    gainmap_primaries *primaries, gainmap_transfer *transfer)
{
    gainmap_primaries prim = GAINMAP_PRIMARIES_UNKNOWN;
    gainmap_transfer tf = GAINMAP_TRANSFER_UNKNOWN;
    if (primaries)
        *primaries = prim;
    if (transfer)
        *transfer = tf;
    if (!icc)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "no ICC profile given");
    gainmap_status st = gm_check_meta_size(ctx, size, "ICC profile");
    if (st != GAINMAP_OK)
        return st;
    /* ICC.1 7.2: 128-byte header, 'acsp' at 36, declared size first */
    gm_reader r;
    gm_rd_init(&r, icc, size);
    uint32_t declared = gm_rd_u32be(&r);
    if (size < 132)
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "the ICC profile is %zu bytes, shorter than its 132-byte header",
                        size);
    if (memcmp(icc + 36, "acsp", 4) != 0)
        return gm_error(ctx, GAINMAP_ERR_FORMAT, "the ICC profile lacks the 'acsp' signature");
    if (declared > size || declared < 132)
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "the ICC profile declares %u bytes but %zu are present",
                        (unsigned)declared, size);

    icc_errors err;
    cmsContext c = icc_context(&err);
    if (!c)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory creating a colour-management context");
    cmsHPROFILE h = cmsOpenProfileFromMemTHR(c, icc, declared);
    if (!h) {
        st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "the ICC profile is not readable%s%s", err.msg[0] ? ": " : "",
                      err.msg);
        cmsDeleteContext(c);
        return st;
    }
    cmsColorSpaceSignature space = cmsGetColorSpace(h);
    if (cmsIsTag(h, cmsSigcicpTag)) {
        /* Raw bytes: 12 per ICC.1:2022; lcms2 2.14 writes (and expects) 16
         * with four zeros before the code points - accept both. */
        uint8_t raw[16] = {0};
        cmsUInt32Number n = cmsReadRawTag(h, cmsSigcicpTag, raw, sizeof raw);
        const uint8_t *cp = NULL;
        if (n >= 12 && !memcmp(raw, "cicp", 4))
            cp = n >= 16 && !raw[8] && !raw[9] ? raw + 12 : raw + 8;
        if (cp) {
            prim = gainmap_primaries_from_cicp(cp[0]);
            tf = gainmap_transfer_from_cicp(cp[1]);
        }
    }
    if (space == cmsSigGrayData) {
        if (tf == GAINMAP_TRANSFER_UNKNOWN)
            tf = identify_trc(h, cmsSigGrayTRCTag);
    } else if (space == cmsSigRgbData) {
        if (prim == GAINMAP_PRIMARIES_UNKNOWN && cmsIsTag(h, cmsSigRedColorantTag) &&
            cmsIsTag(h, cmsSigGreenColorantTag) && cmsIsTag(h, cmsSigBlueColorantTag)) {
            const cmsCIEXYZ *cr = cmsReadTag(h, cmsSigRedColorantTag);
            const cmsCIEXYZ *cg = cmsReadTag(h, cmsSigGreenColorantTag);
            const cmsCIEXYZ *cb = cmsReadTag(h, cmsSigBlueColorantTag);
            if (cr && cg && cb) {
                double col[3][3] = {{cr->X, cr->Y, cr->Z}, {cg->X, cg->Y, cg->Z}, {cb->X, cb->Y, cb->Z}};
                prim = match_colorants((const double(*)[3])col);
            }
        }
        if (tf == GAINMAP_TRANSFER_UNKNOWN && cmsIsTag(h, cmsSigRedTRCTag)) {
            gainmap_transfer t0 = identify_trc(h, cmsSigRedTRCTag);
            if (t0 == identify_trc(h, cmsSigGreenTRCTag) && t0 == identify_trc(h, cmsSigBlueTRCTag))
                tf = t0;
        }
        if ((prim == GAINMAP_PRIMARIES_UNKNOWN && !cmsIsTag(h, cmsSigRedColorantTag)) ||
            (tf == GAINMAP_TRANSFER_UNKNOWN && !cmsIsTag(h, cmsSigRedTRCTag)))
            identify_by_transform(c, h, &prim, &tf);
    } else {
        st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "the ICC profile is for a non-RGB colour space (%.4s)",
                      (const char *)icc + 16);
    }
    cmsCloseProfile(h);
    cmsDeleteContext(c);
    if (st == GAINMAP_OK && err.msg[0])
        st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "the ICC profile is not readable: %s", err.msg);
    if (st != GAINMAP_OK)
        return st;
    if (primaries)
        *primaries = prim;
    if (transfer)
        *transfer = tf;
    return GAINMAP_OK;
}

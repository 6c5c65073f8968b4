/* test_image_convert.c - gainmap_image_recode and gainmap_image_light_stats
 * on synthetic images.  Recode: every step matches the maths of the header
 * (linear 1.0 = 203 cd/m2, HLG through the BT.2100 OOTF at 1000 cd/m2,
 * primaries by the gamut matrix) to half a code, and round trips PQ <-> HLG
 * <-> linear and P3 <-> BT.2020 <-> sRGB come back within the 16-bit
 * quantisation bound of the codes they went through; tags, ICC, EXIF.
 * Light stats: known peak, 99.9th percentile (rank boundary) and mean. */
#include "check.h"
#include "internal.h"

#define W 41
#define H 23

static uint32_t rng_state = 12345;
static double rnd(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (rng_state >> 8) / 16777216.0;
}

static float *fpx(const gainmap_image *img, uint32_t x, uint32_t y)
{
    return (float *)(void *)((uint8_t *)img->data + (size_t)y * img->stride) + (size_t)x * img->channels;
}

static uint16_t *upx(const gainmap_image *img, uint32_t x, uint32_t y)
{
    return (uint16_t *)(void *)((uint8_t *)img->data + (size_t)y * img->stride) + (size_t)x * img->channels;
}

static void mat_apply(const double m[9], const double v[3], double out[3])
{
    for (int r = 0; r < 3; r++)
        out[r] = m[3 * r] * v[0] + m[3 * r + 1] * v[1] + m[3 * r + 2] * v[2];
}

static void gamut(gainmap_primaries from, gainmap_primaries to, double m[9])
{
    static const double id[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    memcpy(m, id, sizeof id);
    if (from != to && gainmap_gamut_matrix(from, to, m) != 0)
        abort();
}

/* The header's maths, written out: signal triple -> linear (1.0 = 203 cd/m2). */
static void ref_decode(gainmap_transfer tf, const double s[3], double lin[3])
{
    if (tf == GAINMAP_TRANSFER_HLG) {
        double scene[3], nits[3];
        for (int c = 0; c < 3; c++)
            scene[c] = gainmap_hlg_inverse_oetf(GM_CLAMP(s[c], 0.0, 1.0));
        gainmap_hlg_ootf(scene, 1000.0, nits);
        for (int c = 0; c < 3; c++)
            lin[c] = nits[c] / 203.0;
    } else if (tf == GAINMAP_TRANSFER_PQ) {
        for (int c = 0; c < 3; c++)
            lin[c] = gainmap_pq_eotf(s[c]) / 203.0;
    } else {
        for (int c = 0; c < 3; c++)
            lin[c] = gainmap_to_linear(tf, s[c]);
    }
}

static void ref_encode(gainmap_transfer tf, const double lin[3], double s[3])
{
    if (tf == GAINMAP_TRANSFER_HLG) {
        double nits[3], scene[3];
        for (int c = 0; c < 3; c++)
            nits[c] = fmax(lin[c], 0.0) * 203.0;
        gainmap_hlg_inverse_ootf(nits, 1000.0, scene);
        for (int c = 0; c < 3; c++)
            s[c] = gainmap_hlg_oetf(GM_CLAMP(scene[c], 0.0, 1.0));
    } else if (tf == GAINMAP_TRANSFER_LINEAR) {
        memcpy(s, lin, 3 * sizeof *s);
    } else {
        for (int c = 0; c < 3; c++)
            s[c] = GM_CLAMP(gainmap_from_linear(tf, fmax(lin[c], 0.0)), 0.0, 1.0);
    }
}

static void signals(const gainmap_image *img, uint32_t x, uint32_t y, double s[3])
{
    for (int c = 0; c < 3; c++)
        s[c] = img->type == GAINMAP_PIXEL_F32 ? fpx(img, x, y)[c] : upx(img, x, y)[c] / 65535.0;
}

/* How far from the exact value pixel (x, y) of an intermediate image can
 * be, in linear light carried into primaries `to`: its signals are the exact
 * ones rounded to half a code (U16) or half an ulp (F32, <= 2^-24 |s|), so
 * the exact value lies between the decodes of the signals -q and +q (all
 * three moved together, which also bounds HLG's coupled decode: each output
 * of the OOTF grows with every input); the larger step, through |matrix|. */
static void quant_bound(const gainmap_image *img, uint32_t x, uint32_t y, gainmap_primaries to, double b[3])
{
    double lo[3], hi[3], mid[3], l0[3], l1[3], l2[3], h[3], m[9];
    signals(img, x, y, mid);
    for (int c = 0; c < 3; c++) {
        double q = img->type == GAINMAP_PIXEL_U16 ? 0.5 / 65535.0 : fabs(mid[c]) * 0x1p-24;
        lo[c] = mid[c] - q;
        hi[c] = mid[c] + q;
    }
    ref_decode(img->transfer, lo, l0);
    ref_decode(img->transfer, mid, l1);
    ref_decode(img->transfer, hi, l2);
    for (int c = 0; c < 3; c++)
        h[c] = fmax(l2[c] - l1[c], l1[c] - l0[c]);
    gamut(img->primaries, to, m);
    for (int c = 0; c < 3; c++)
        b[c] = fabs(m[3 * c]) * h[0] + fabs(m[3 * c + 1]) * h[1] + fabs(m[3 * c + 2]) * h[2];
}

/* `to` is `from` recoded: each sample is the reference conversion of from's
 * pixel, to half a code (U16) or float rounding (F32).  Returns failures. */
static int check_step(const gainmap_image *from, const gainmap_image *to)
{
    int bad = 0;
    double m[9];
    gamut(from->primaries, to->primaries, m);
    for (uint32_t y = 0; y < from->height; y++)
        for (uint32_t x = 0; x < from->width; x++) {
            double s[3], lin[3], lin2[3], want[3];
            signals(from, x, y, s);
            ref_decode(from->transfer, s, lin);
            mat_apply(m, lin, lin2);
            ref_encode(to->transfer, lin2, want);
            for (int c = 0; c < 3; c++) {
                double err = to->type == GAINMAP_PIXEL_U16 ? fabs(upx(to, x, y)[c] - want[c] * 65535.0) - 0.5
                                                           : fabs(fpx(to, x, y)[c] - want[c]) -
                                                                 (2e-7 * fabs(want[c]) + 1e-12);
                if (err > 1e-6 && bad++ < 3)
                    fprintf(stderr, "  step %s->%s at %u,%u ch %d: off by %g\n", gainmap_transfer_name(from->transfer),
                            gainmap_transfer_name(to->transfer), x, y, c, err);
            }
        }
    return bad;
}

/* Content: colours inside the sRGB gamut (so positive in every primaries),
 * made as BT.2020 HLG scene light in [0, 0.8] shown on the 1000 cd/m2
 * display (so HLG holds them unclipped), as linear F32 in `p`; the corners
 * (black, white, the sRGB primaries at full scene light) included.  sdr:
 * linear sRGB in [0, 1] instead, for the SDR curves. */
static gainmap_image make_content(gainmap_primaries p, int sdr)
{
    gainmap_image img;
    if (gainmap_image_alloc(NULL, &img, W, H, 3, GAINMAP_PIXEL_F32) != GAINMAP_OK)
        abort();
    img.transfer = GAINMAP_TRANSFER_LINEAR;
    img.primaries = p;
    double to2020[9], from2020[9], to_p[9];
    gamut(GAINMAP_PRIMARIES_BT709, GAINMAP_PRIMARIES_BT2020, to2020);
    gamut(GAINMAP_PRIMARIES_BT2020, p, from2020);
    gamut(GAINMAP_PRIMARIES_BT709, p, to_p);
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++) {
            uint32_t i = y * W + x;
            double t[3] = {rnd(), rnd(), rnd()}, lin[3];
            if (i < 8)
                for (int c = 0; c < 3; c++)
                    t[c] = (i >> c) & 1;
            if (sdr) {
                mat_apply(to_p, t, lin);
            } else {
                double scene[3], nits[3], l2020[3];
                mat_apply(to2020, t, scene);
                for (int c = 0; c < 3; c++)
                    scene[c] *= 0.8;
                gainmap_hlg_ootf(scene, 1000.0, nits);
                for (int c = 0; c < 3; c++)
                    l2020[c] = nits[c] / 203.0;
                mat_apply(from2020, l2020, lin);
            }
            for (int c = 0; c < 3; c++)
                fpx(&img, x, y)[c] = (float)lin[c];
        }
    return img;
}

/* src -> each (transfer, primaries, type) in turn -> back to src's encoding
 * as linear F32: every step checked against the maths, and the end within
 * the sum of the intermediate images' rounding bounds (plus the final
 * float's own rounding) of src.  Returns the worst error / bound ratio
 * (<= 1 required). */
typedef struct step {
    gainmap_transfer tf;
    gainmap_primaries p;
    gainmap_pixel_type type;
} step;

static double round_trip(const gainmap_image *src, const step *steps, int n)
{
    gainmap_image imgs[8];
    const gainmap_image *prev = src;
    for (int i = 0; i <= n; i++) {
        step s = i < n ? steps[i] : (step){GAINMAP_TRANSFER_LINEAR, src->primaries, GAINMAP_PIXEL_F32};
        gainmap_status st = gainmap_image_recode(NULL, prev, s.tf, s.p, s.type, &imgs[i]);
        CHECK_INT(st, GAINMAP_OK);
        if (st != GAINMAP_OK)
            return INFINITY;
        CHECK_INT(check_step(prev, &imgs[i]), 0);
        prev = &imgs[i];
    }
    const gainmap_image *back = &imgs[n];
    double worst = 0.0;
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++) {
            double bound[3] = {0, 0, 0};
            for (int i = 0; i < n; i++) {
                double b[3];
                quant_bound(&imgs[i], x, y, src->primaries, b);
                for (int c = 0; c < 3; c++)
                    bound[c] += b[c];
            }
            for (int c = 0; c < 3; c++) {
                double a = fpx(src, x, y)[c], b = fpx(back, x, y)[c], err = fabs(a - b);
                /* the final float's rounding, and double-precision noise */
                double tol = bound[c] + fabs(b) * 0x1p-24 + 1e-12 * fabs(a) + 1e-300;
                if (err > 0.0)
                    worst = fmax(worst, err / tol);
            }
        }
    for (int i = 0; i <= n; i++)
        gainmap_image_free(&imgs[i]);
    return worst;
}

#define PQ GAINMAP_TRANSFER_PQ
#define HLG GAINMAP_TRANSFER_HLG
#define LIN GAINMAP_TRANSFER_LINEAR
#define SRGB GAINMAP_TRANSFER_SRGB
#define P709 GAINMAP_PRIMARIES_BT709
#define P3 GAINMAP_PRIMARIES_P3
#define P2020 GAINMAP_PRIMARIES_BT2020
#define U16 GAINMAP_PIXEL_U16
#define F32 GAINMAP_PIXEL_F32

static void test_transfer_round_trips(void)
{
    gainmap_image src = make_content(P2020, 0);
    const struct {
        const char *what;
        step s[3];
        int n;
    } cases[] = {
        {"linear -> PQ16 -> linear", {{PQ, P2020, U16}}, 1},
        {"linear -> HLG16 -> linear", {{HLG, P2020, U16}}, 1},
        {"linear -> PQ16 -> HLG16 -> linear", {{PQ, P2020, U16}, {HLG, P2020, U16}}, 2},
        {"linear -> HLG16 -> PQ16 -> linear", {{HLG, P2020, U16}, {PQ, P2020, U16}}, 2},
        {"linear -> PQ16 -> HLG16 -> PQ16 -> linear", {{PQ, P2020, U16}, {HLG, P2020, U16}, {PQ, P2020, U16}}, 3},
        {"linear -> PQ float -> HLG float -> linear", {{PQ, P2020, F32}, {HLG, P2020, F32}}, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double worst = round_trip(&src, cases[i].s, cases[i].n);
        CHECK_MSG(worst <= 1.0, "%s: worst error %.3f x the quantisation bound", cases[i].what, worst);
        /* and the bound is not loose: one leg uses nearly all of it (0.99 measured) */
        if (cases[i].n == 1)
            CHECK_MSG(worst > 0.5, "%s: worst error only %.3f x the bound", cases[i].what, worst);
    }
    /* half a 16-bit PQ code at 1000 cd/m2 is 0.007 % of the light */
    double s = gainmap_pq_inverse_eotf(1000.0) * 65535.0;
    double step_rel = gainmap_pq_eotf((s + 0.5) / 65535.0) / gainmap_pq_eotf(s / 65535.0) - 1.0;
    CHECK_NEAR(step_rel, 7.0e-5, 1e-6);
    gainmap_image_free(&src);
}

static void test_primaries_round_trips(void)
{
    gainmap_image hdr = make_content(P3, 0), sdr = make_content(P3, 1);
    const struct {
        const char *what;
        const gainmap_image *src;
        step s[3];
        int n;
    } cases[] = {
        {"P3 -> BT.2020 -> sRGB -> P3 (linear float)", &hdr, {{LIN, P2020, F32}, {LIN, P709, F32}}, 2},
        {"P3 linear -> BT.2020 PQ16 -> P3", &hdr, {{PQ, P2020, U16}}, 1},
        {"P3 linear -> BT.2020 HLG16 -> sRGB PQ16 -> P3", &hdr, {{HLG, P2020, U16}, {PQ, P709, U16}}, 2},
        {"P3 linear -> P3 PQ16 -> BT.2020 HLG16 -> P3", &hdr, {{PQ, P3, U16}, {HLG, P2020, U16}}, 2},
        {"P3 SDR -> sRGB sRGB16 -> BT.2020 PQ16 -> P3", &sdr, {{SRGB, P709, U16}, {PQ, P2020, U16}}, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double worst = round_trip(cases[i].src, cases[i].s, cases[i].n);
        CHECK_MSG(worst <= 1.0, "%s: worst error %.3f x the quantisation bound", cases[i].what, worst);
    }
    /* the content really is wide: the P3 -> sRGB matrix of a P3 primary
     * leaves the sRGB gamut, and the BT.2020 image is not the P3 one */
    gainmap_image b;
    CHECK_INT(gainmap_image_recode(NULL, &hdr, LIN, P2020, F32, &b), GAINMAP_OK);
    CHECK(fabs(fpx(&b, 1, 0)[0] - fpx(&hdr, 1, 0)[0]) > 0.01); /* pixel 1 = scene red */
    gainmap_image_free(&b);
    gainmap_image_free(&hdr);
    gainmap_image_free(&sdr);
}

/* Golden values: encoding known signals. */
static void test_known_values(void)
{
    gainmap_image src;
    CHECK_INT(gainmap_image_alloc(NULL, &src, 3, 1, 3, F32), GAINMAP_OK);
    src.transfer = LIN;
    src.primaries = P2020;
    float *p = src.data;
    /* white 1.0 (203 cd/m2), 1000/203 (1000 cd/m2), black */
    for (int c = 0; c < 3; c++) {
        p[c] = 1.0f;
        p[3 + c] = (float)(1000.0 / 203.0);
        p[6 + c] = 0.0f;
    }
    gainmap_image pq, hlg;
    CHECK_INT(gainmap_image_recode(NULL, &src, PQ, GAINMAP_PRIMARIES_UNKNOWN, U16, &pq), GAINMAP_OK);
    CHECK_INT(gainmap_image_recode(NULL, &src, HLG, GAINMAP_PRIMARIES_UNKNOWN, U16, &hlg), GAINMAP_OK);
    /* BT.2408: 203 cd/m2 is PQ 0.5807 and HLG 0.75 (1000 cd/m2 display); 1000 cd/m2 is PQ 0.7518 */
    CHECK_INT(upx(&pq, 0, 0)[0], lrint(0.580689 * 65535.0));
    CHECK_INT(upx(&pq, 1, 0)[1], lrint(0.751827 * 65535.0));
    CHECK_INT(upx(&pq, 2, 0)[2], 0);
    CHECK_NEAR(upx(&hlg, 0, 0)[0] / 65535.0, 0.75, 1e-3);
    CHECK_INT(upx(&hlg, 1, 0)[0], 65535);                   /* display peak = signal 1 */
    CHECK_INT(upx(&hlg, 2, 0)[1], 0);
    gainmap_image_free(&pq);
    gainmap_image_free(&hlg);
    gainmap_image_free(&src);
}

static void test_tags_icc_exif(void)
{
    static const uint8_t icc[] = "not really an ICC profile, but bytes to carry";
    static const uint8_t exif[] = "MM\0*\0\0\0\x08 pretend";
    gainmap_image src;
    CHECK_INT(gainmap_image_alloc(NULL, &src, 4, 3, 3, U16), GAINMAP_OK);
    src.transfer = PQ;
    src.primaries = P3;
    src.orientation = 6;
    src.max_cll = 4000;
    src.has_cicp = 1;
    src.cicp[0] = 12, src.cicp[1] = 16, src.cicp[3] = 1;
    CHECK_INT(gainmap_image_set_icc(&src, icc, sizeof icc), GAINMAP_OK);
    CHECK_INT(gainmap_image_set_exif(&src, exif, sizeof exif), GAINMAP_OK);
    gainmap_image d;

    /* unchanged transfer and primaries: ICC kept (also across a type change) */
    CHECK_INT(gainmap_image_recode(NULL, &src, GAINMAP_TRANSFER_UNKNOWN, GAINMAP_PRIMARIES_UNKNOWN, F32, &d),
              GAINMAP_OK);
    CHECK_INT(d.transfer, PQ);
    CHECK_INT(d.primaries, P3);
    CHECK_INT(d.bit_depth, 32);
    CHECK_INT(d.icc_size, sizeof icc);
    CHECK(d.icc && !memcmp(d.icc, icc, sizeof icc));
    CHECK_INT(d.has_cicp, 1);
    CHECK(!memcmp(d.cicp, "\x0c\x10\x00\x01", 4));
    gainmap_image_free(&d);

    /* transfer changes: ICC dropped; cicp 12/18/0/1; EXIF and orientation kept */
    CHECK_INT(gainmap_image_recode(NULL, &src, HLG, P3, U16, &d), GAINMAP_OK);
    CHECK(d.icc == NULL && d.icc_size == 0);
    CHECK(!memcmp(d.cicp, "\x0c\x12\x00\x01", 4));
    CHECK_INT(d.bit_depth, 16);
    CHECK_INT(d.orientation, 6);
    CHECK_INT(d.exif_size, sizeof exif);
    CHECK(d.exif && !memcmp(d.exif, exif, sizeof exif));
    CHECK_NEAR(d.max_cll, 0.0, 0.0);
    CHECK_INT(d.width, 4);
    CHECK_INT(d.height, 3);
    CHECK_INT(d.channels, 3);
    gainmap_image_free(&d);

    /* primaries change: ICC dropped; cicp 9/16/0/1 */
    CHECK_INT(gainmap_image_recode(NULL, &src, PQ, P2020, GAINMAP_PIXEL_U8, &d), GAINMAP_OK);
    CHECK(d.icc == NULL);
    CHECK_INT(d.has_cicp, 1);
    CHECK(!memcmp(d.cicp, "\x09\x10\x00\x01", 4));
    CHECK_INT(d.bit_depth, 8);
    CHECK_INT(d.type, GAINMAP_PIXEL_U8);
    gainmap_image_free(&d);

    /* no H.273 code point for pure gamma 2.4: no cicp */
    CHECK_INT(gainmap_image_recode(NULL, &src, GAINMAP_TRANSFER_GAMMA24, P3, U16, &d), GAINMAP_OK);
    CHECK_INT(d.has_cicp, 0);
    CHECK_INT(d.transfer, GAINMAP_TRANSFER_GAMMA24);
    gainmap_image_free(&d);
    gainmap_image_free(&src);
}

static void test_grey_alpha(void)
{
    /* grey HLG U16 with codes 0..: stays grey; RGB output of the same is neutral */
    gainmap_image g;
    CHECK_INT(gainmap_image_alloc(NULL, &g, 16, 1, 1, U16), GAINMAP_OK);
    g.transfer = HLG;
    g.primaries = P2020;
    for (uint32_t x = 0; x < 16; x++)
        upx(&g, x, 0)[0] = (uint16_t)(x * 4369);
    gainmap_image d;
    CHECK_INT(gainmap_image_recode(NULL, &g, PQ, P2020, F32, &d), GAINMAP_OK);
    CHECK_INT(d.channels, 1);
    int bad = 0;
    for (uint32_t x = 0; x < 16; x++) {
        /* grey HLG: display = 1000 * scene^1.2 (Y_S = scene for R = G = B) */
        double scene = gainmap_hlg_inverse_oetf(x * 4369 / 65535.0);
        double want = gainmap_pq_inverse_eotf(1000.0 * pow(scene, 1.2));
        if (fabs(fpx(&d, x, 0)[0] - want) > 1e-6)
            bad++;
    }
    CHECK_INT(bad, 0);
    gainmap_image_free(&d);
    gainmap_image_free(&g);

    /* RGBA: alpha copied as a number, whatever the transfer does */
    gainmap_image a;
    CHECK_INT(gainmap_image_alloc(NULL, &a, 3, 1, 4, F32), GAINMAP_OK);
    a.transfer = LIN;
    a.primaries = P709;
    float vals[12] = {0.5f, 0.5f, 0.5f, 0.25f, 2.0f, 1.0f, 0.0f, 1.5f, 0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(a.data, vals, sizeof vals);
    CHECK_INT(gainmap_image_recode(NULL, &a, PQ, P2020, U16, &d), GAINMAP_OK);
    CHECK_INT(d.channels, 4);
    CHECK_INT(upx(&d, 0, 0)[3], 16384);   /* 0.25 * 65535 rounded */
    CHECK_INT(upx(&d, 1, 0)[3], 65535);   /* 1.5 clamped */
    CHECK_INT(upx(&d, 2, 0)[3], 0);
    gainmap_image d2;
    CHECK_INT(gainmap_image_recode(NULL, &d, LIN, P709, F32, &d2), GAINMAP_OK);
    CHECK_NEAR(fpx(&d2, 0, 0)[3], 16384 / 65535.0, 1e-7);
    /* the grey pixel stays grey through BT.2020 and back */
    CHECK_NEAR(fpx(&d2, 0, 0)[0], 0.5, 2e-4);
    CHECK_NEAR(fpx(&d2, 0, 0)[1], fpx(&d2, 0, 0)[0], 1e-5);
    gainmap_image_free(&d2);
    gainmap_image_free(&d);
    gainmap_image f;
    CHECK_INT(gainmap_image_recode(NULL, &a, LIN, P3, F32, &f), GAINMAP_OK);
    CHECK_NEAR(fpx(&f, 1, 0)[3], 1.5, 0.0); /* float alpha unclamped */
    /* (2, 1, 0) sRGB is inside P3: all components positive, and R stays the largest */
    CHECK(fpx(&f, 1, 0)[2] >= 0.0f && fpx(&f, 1, 0)[0] > fpx(&f, 1, 0)[1]);
    gainmap_image_free(&f);
    gainmap_image_free(&a);

    /* U8 alpha into U16: code * 257 exactly */
    gainmap_image b8;
    CHECK_INT(gainmap_image_alloc(NULL, &b8, 256, 1, 4, GAINMAP_PIXEL_U8), GAINMAP_OK);
    b8.transfer = SRGB;
    b8.primaries = P709;
    for (int x = 0; x < 256; x++)
        ((uint8_t *)b8.data)[4 * x + 3] = (uint8_t)x;
    CHECK_INT(gainmap_image_recode(NULL, &b8, SRGB, P709, U16, &d), GAINMAP_OK);
    bad = 0;
    for (uint32_t x = 0; x < 256; x++)
        bad += upx(&d, x, 0)[3] != x * 257;
    CHECK_INT(bad, 0);
    gainmap_image_free(&d);
    gainmap_image_free(&b8);
}

static void test_recode_errors(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image src, d;
    CHECK_INT(gainmap_image_alloc(NULL, &src, 2, 2, 3, U16), GAINMAP_OK);
    src.transfer = PQ;
    src.primaries = GAINMAP_PRIMARIES_UNKNOWN;
    memset(&d, 0x5a, sizeof d);
    CHECK_INT(gainmap_image_recode(ctx, &src, PQ, P3, U16, &d), GAINMAP_ERR_UNSUPPORTED);
    CHECK_STR(gainmap_last_error(ctx), "cannot convert from unknown to p3 primaries");
    CHECK(d.data == NULL && d.width == 0);
    gainmap_clear_error(ctx);
    /* unknown primaries are fine when they stay */
    CHECK_INT(gainmap_image_recode(ctx, &src, HLG, GAINMAP_PRIMARIES_UNKNOWN, U16, &d), GAINMAP_OK);
    CHECK_INT(d.has_cicp, 0);
    gainmap_image_free(&d);
    src.primaries = P3;
    src.transfer = GAINMAP_TRANSFER_UNKNOWN;
    CHECK_INT(gainmap_image_recode(ctx, &src, PQ, P3, U16, &d), GAINMAP_ERR_INVALID_ARG);
    CHECK_CONTAINS(gainmap_last_error(ctx), "transfer is unknown");
    gainmap_clear_error(ctx);
    src.transfer = PQ;
    CHECK_INT(gainmap_image_recode(ctx, &src, (gainmap_transfer)99, P3, U16, &d), GAINMAP_ERR_INVALID_ARG);
    CHECK_INT(gainmap_image_recode(ctx, &src, PQ, P3, (gainmap_pixel_type)9, &d), GAINMAP_ERR_INVALID_ARG);
    CHECK_INT(gainmap_image_recode(ctx, &src, PQ, P3, U16, &src), GAINMAP_ERR_INVALID_ARG);
    CHECK_INT(gainmap_image_recode(ctx, NULL, PQ, P3, U16, &d), GAINMAP_ERR_INVALID_ARG);
    CHECK_INT(gainmap_image_recode(ctx, &src, PQ, P3, U16, NULL), GAINMAP_ERR_INVALID_ARG);
    src.stride = 5;
    CHECK_INT(gainmap_image_recode(ctx, &src, PQ, P3, U16, &d), GAINMAP_ERR_INVALID_ARG);
    src.stride = 12;
    /* the allocation limit applies to the output */
    gainmap_clear_error(ctx);
    CHECK_INT(gainmap_set_option(ctx, GAINMAP_OPT_MAX_PIXELS, 3), GAINMAP_OK);
    CHECK(gainmap_image_recode(ctx, &src, PQ, P3, F32, &d) == GAINMAP_ERR_LIMIT);
    CHECK(d.data == NULL);
    gainmap_image_free(&src);
    gainmap_ctx_free(ctx);
}

/* The same result for 1 thread and 4. */
static void test_threads_agree(void)
{
    gainmap_ctx *c1 = gainmap_ctx_new(), *c4 = gainmap_ctx_new();
    gainmap_set_option(c1, GAINMAP_OPT_THREADS, 1);
    gainmap_set_option(c4, GAINMAP_OPT_THREADS, 4);
    gainmap_image src;
    CHECK_INT(gainmap_image_alloc(NULL, &src, 97, 131, 3, F32), GAINMAP_OK);
    src.transfer = LIN;
    src.primaries = P3;
    for (uint32_t y = 0; y < src.height; y++)
        for (uint32_t x = 0; x < src.width * 3; x++)
            fpx(&src, 0, y)[x] = (float)(rnd() * 40.0 - 1.0);
    gainmap_image a, b;
    CHECK_INT(gainmap_image_recode(c1, &src, HLG, P2020, U16, &a), GAINMAP_OK);
    CHECK_INT(gainmap_image_recode(c4, &src, HLG, P2020, U16, &b), GAINMAP_OK);
    CHECK(a.data && b.data && !memcmp(a.data, b.data, a.stride * a.height));
    gainmap_light_stats s1, s4;
    CHECK_INT(gainmap_image_light_stats(c1, &src, &s1), GAINMAP_OK);
    CHECK_INT(gainmap_image_light_stats(c4, &src, &s4), GAINMAP_OK);
    CHECK(!memcmp(&s1, &s4, sizeof s1));
    CHECK_INT(s1.pixels, 97 * 131);
    gainmap_image_free(&a);
    gainmap_image_free(&b);
    gainmap_image_free(&src);
    gainmap_ctx_free(c1);
    gainmap_ctx_free(c4);
}

/* ---- light stats ------------------------------------------------------- */

/* Grey linear F32 values v_i = i / 256 (i = 0 .. n-1) placed in a shuffled
 * order: luminance 203 v_i cd/m2, peak 203 (n-1)/256, 99.9th percentile the
 * ceil(0.999 n)-th smallest, mean 203 (n-1)/512. */
static void test_stats_linear_ranks(void)
{
    const uint32_t sizes[][2] = {{100, 20}, {50, 20}, {37, 29}, {1, 1}};
    for (size_t t = 0; t < 4; t++) {
        uint32_t w = sizes[t][0], h = sizes[t][1], n = w * h;
        gainmap_image img;
        CHECK_INT(gainmap_image_alloc(NULL, &img, w, h, 1, F32), GAINMAP_OK);
        img.transfer = LIN;
        img.primaries = P709;
        float *p = img.data;
        for (uint32_t i = 0; i < n; i++)
            p[i] = (float)i / 256.0f;
        for (uint32_t i = n - 1; i > 0; i--) {
            uint32_t j = (uint32_t)(rnd() * (i + 1));
            float tmp = p[i];
            p[i] = p[j];
            p[j] = tmp;
        }
        gainmap_light_stats s;
        CHECK_INT(gainmap_image_light_stats(NULL, &img, &s), GAINMAP_OK);
        /* rank k: 2000 -> 1998, 1000 -> 999, 1073 -> 1072, 1 -> 1 */
        uint32_t k = (uint32_t)((uint64_t)n * 999 / 1000 + ((uint64_t)n * 999 % 1000 != 0));
        CHECK_INT(k, t == 0 ? 1998 : t == 1 ? 999 : t == 2 ? 1072 : 1);
        CHECK_REL(s.peak_nits, 203.0 * (n - 1) / 256.0, 1e-7);
        CHECK_REL(s.p999_nits, 203.0 * (k - 1) / 256.0, 1e-7);
        CHECK_NEAR(s.mean_nits, 203.0 * (n - 1) / 512.0, 1e-9 * n);
        CHECK_INT(s.pixels, n);
        CHECK_INT(s.ignored, 0);
        gainmap_image_free(&img);
    }
}

/* PQ U16 grey: code 65535 = 10000 cd/m2, code 0 = 0.  With 1000 pixels the
 * 99.9th percentile is the 999th smallest: 0 with one bright pixel, 10000
 * with two. */
static void test_stats_pq_boundary(void)
{
    for (int bright = 1; bright <= 2; bright++) {
        gainmap_image img;
        CHECK_INT(gainmap_image_alloc(NULL, &img, 40, 25, 3, U16), GAINMAP_OK);
        img.transfer = PQ;
        img.primaries = P2020;
        for (int b = 0; b < bright; b++)
            for (int c = 0; c < 3; c++)
                upx(&img, (uint32_t)(7 + 13 * b), (uint32_t)(3 + 5 * b))[c] = 65535;
        gainmap_light_stats s;
        CHECK_INT(gainmap_image_light_stats(NULL, &img, &s), GAINMAP_OK);
        CHECK_REL(s.peak_nits, 10000.0, 1e-7);
        CHECK_NEAR(s.p999_nits, bright == 1 ? 0.0 : 10000.0, 1e-3);
        CHECK_NEAR(s.mean_nits, 10.0 * bright, 1e-9);
        gainmap_image_free(&img);
    }
}

/* Other encodings: HLG signal 1 = 1000 cd/m2 and 0.5 = 1000 * 12^-1.2;
 * sRGB 255 = 203 cd/m2; colour uses the image primaries' luminance weights. */
static void test_stats_encodings(void)
{
    gainmap_image img;
    CHECK_INT(gainmap_image_alloc(NULL, &img, 2, 1, 3, U16), GAINMAP_OK);
    img.transfer = HLG;
    img.primaries = P2020;
    for (int c = 0; c < 3; c++) {
        upx(&img, 0, 0)[c] = 65535;
        upx(&img, 1, 0)[c] = 32768; /* 0.500008 */
    }
    gainmap_light_stats s;
    CHECK_INT(gainmap_image_light_stats(NULL, &img, &s), GAINMAP_OK);
    double half = 1000.0 * pow(gainmap_hlg_inverse_oetf(32768 / 65535.0), 1.2);
    CHECK_NEAR(half, 1000.0 * pow(12.0, -1.2), 0.01);
    CHECK_REL(s.peak_nits, 1000.0, 1e-7);
    CHECK_REL(s.p999_nits, 1000.0, 1e-7);
    CHECK_REL(s.mean_nits, (1000.0 + half) / 2, 1e-7);
    gainmap_image_free(&img);

    CHECK_INT(gainmap_image_alloc(NULL, &img, 4, 1, 3, GAINMAP_PIXEL_U8), GAINMAP_OK);
    img.transfer = SRGB;
    img.primaries = P709;
    uint8_t *b = img.data;
    memset(b, 255, 3);        /* white */
    b[3] = 255;               /* pure red: 0.2126 of white */
    b[7] = 255;               /* pure green: 0.7152 */
    b[9] = b[10] = b[11] = 0; /* black */
    CHECK_INT(gainmap_image_light_stats(NULL, &img, &s), GAINMAP_OK);
    CHECK_REL(s.peak_nits, 203.0, 1e-6);
    CHECK_NEAR(s.mean_nits, 203.0 * (1.0 + 0.2126 + 0.7152) / 4, 0.01);
    /* the same bytes read as BT.2020: red and green weigh 0.2627 and 0.6780 */
    img.primaries = P2020;
    CHECK_INT(gainmap_image_light_stats(NULL, &img, &s), GAINMAP_OK);
    CHECK_NEAR(s.mean_nits, 203.0 * (1.0 + 0.2627 + 0.6780) / 4, 0.01);
    gainmap_image_free(&img);
}

/* NaN and infinite pixels are left out; negative luminance counts as 0. */
static void test_stats_nonfinite(void)
{
    gainmap_image img;
    CHECK_INT(gainmap_image_alloc(NULL, &img, 3, 2, 3, F32), GAINMAP_OK);
    img.transfer = LIN;
    img.primaries = P709;
    float v[18] = {1, 1, 1, NAN, 1, 1, 2, 2, 2, 1, INFINITY, 1, -1, -1, -1, 1, 1, -INFINITY};
    memcpy(img.data, v, sizeof v);
    gainmap_light_stats s;
    CHECK_INT(gainmap_image_light_stats(NULL, &img, &s), GAINMAP_OK);
    CHECK_INT(s.pixels, 3);
    CHECK_INT(s.ignored, 3);
    CHECK_REL(s.peak_nits, 406.0, 1e-7);
    CHECK_REL(s.p999_nits, 406.0, 1e-7);
    CHECK_REL(s.mean_nits, 609.0 / 3, 1e-9);
    for (int i = 0; i < 18; i++)
        v[i] = NAN;
    memcpy(img.data, v, sizeof v);
    CHECK_INT(gainmap_image_light_stats(NULL, &img, &s), GAINMAP_OK);
    CHECK_INT(s.pixels, 0);
    CHECK_INT(s.ignored, 6);
    CHECK_NEAR(s.peak_nits + s.p999_nits + s.mean_nits, 0.0, 0.0);
    gainmap_ctx *ctx = gainmap_ctx_new();
    img.transfer = GAINMAP_TRANSFER_UNKNOWN;
    CHECK_INT(gainmap_image_light_stats(ctx, &img, &s), GAINMAP_ERR_INVALID_ARG);
    CHECK_CONTAINS(gainmap_last_error(ctx), "transfer is unknown");
    CHECK_INT(gainmap_image_light_stats(ctx, NULL, &s), GAINMAP_ERR_INVALID_ARG);
    CHECK_INT(gainmap_image_light_stats(ctx, &img, NULL), GAINMAP_ERR_INVALID_ARG);
    gainmap_ctx_free(ctx);
    gainmap_image_free(&img);
}

int main(void)
{
    RUN_TEST(test_transfer_round_trips);
    RUN_TEST(test_primaries_round_trips);
    RUN_TEST(test_known_values);
    RUN_TEST(test_tags_icc_exif);
    RUN_TEST(test_grey_alpha);
    RUN_TEST(test_recode_errors);
    RUN_TEST(test_threads_agree);
    RUN_TEST(test_stats_linear_ranks);
    RUN_TEST(test_stats_pq_boundary);
    RUN_TEST(test_stats_encodings);
    RUN_TEST(test_stats_nonfinite);
    TEST_SUMMARY();
}

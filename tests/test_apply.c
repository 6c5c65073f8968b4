/* test_apply.c - gainmap_apply against a straightforward double-precision
 * reference of FORMATS.md 4.2/4.3 (ISO) and 5.3 (Apple): both directions,
 * 1- and 3-channel maps and metadata in every pairing, gamma, offsets,
 * several display headrooms, maps smaller and larger than the base, output
 * primaries, and PQ/HLG/sRGB output decoded back through transfer.c. */
#include "check.h"
#include "internal.h"

#include <stdio.h>

#define REL_TOL 0.005   /* the bound: 0.5 % relative in linear light */

/* ---------- reference (independent of src/apply.c and src/resample.c) ---------- */

/* Dense weights of source pixels for output pixel o on one axis:
 * bilinear at the centre when enlarging, exact area coverage when shrinking. */
static void axis_weights(uint32_t o, uint32_t src, uint32_t dst, double *wt)
{
    for (uint32_t i = 0; i < src; i++)
        wt[i] = 0.0;
    double s = (double)src / dst;
    if (src <= dst) {
        double pos = (o + 0.5) * s - 0.5;
        if (pos <= 0) {
            wt[0] = 1;
        } else if (pos >= src - 1) {
            wt[src - 1] = 1;
        } else {
            uint32_t i = (uint32_t)pos;
            wt[i] = 1 - (pos - i);
            wt[i + 1] = pos - i;
        }
    } else {
        double a = o * s, b = (o + 1) * s;
        for (uint32_t i = 0; i < src; i++) {
            double lo = fmax(a, i), hi = fmin(b, i + 1.0);
            if (hi > lo)
                wt[i] = (hi - lo) / s;
        }
    }
}

static double ref_code(const gainmap_image *map, uint32_t bw, uint32_t bh, uint32_t x, uint32_t y, uint32_t c)
{
    double wx[512], wy[512];
    axis_weights(x, map->width, bw, wx);
    axis_weights(y, map->height, bh, wy);
    uint32_t mc = map->channels >= 3 ? c : 0;
    double acc = 0;
    for (uint32_t j = 0; j < map->height; j++) {
        if (wy[j] == 0)
            continue;
        const uint8_t *row = (const uint8_t *)map->data + j * map->stride;
        for (uint32_t i = 0; i < map->width; i++)
            acc += wy[j] * wx[i] * row[i * map->channels + mc];
    }
    return acc;
}

static double ref_base(const gainmap_image *b, uint32_t x, uint32_t y, uint32_t c)
{
    uint32_t at = x * b->channels + (b->channels == 1 ? 0 : c);
    const char *row = (const char *)b->data + y * b->stride;
    switch (b->type) {
    case GAINMAP_PIXEL_U8: return gainmap_to_linear(b->transfer, ((const uint8_t *)row)[at] / 255.0);
    case GAINMAP_PIXEL_U16: return gainmap_to_linear(b->transfer, ((const uint16_t *)(const void *)row)[at] / 65535.0);
    default: return ((const float *)(const void *)row)[at];
    }
}

static double ref_weight(const gainmap_params *p, double display)
{
    double hb = p->base_hdr_headroom, ha = p->alternate_hdr_headroom;
    double h = display == 0 ? fmax(hb, ha) : log2(display);
    if (hb == ha)
        return 0;
    double w = fmin(fmax((h - hb) / (ha - hb), 0), 1);
    return ha < hb ? -w : w;
}

static void mat(const double m[9], double v[3])
{
    double r = v[0], g = v[1], b = v[2];
    v[0] = m[0] * r + m[1] * g + m[2] * b;
    v[1] = m[3] * r + m[4] * g + m[5] * b;
    v[2] = m[6] * r + m[7] * g + m[8] * b;
}

/* Expected linear output at (x, y), in the output primaries. */
static void ref_pixel(const gainmap_image *base, const gainmap_image *map, const gainmap_metadata *meta,
                      double display, gainmap_primaries outp, uint32_t x, uint32_t y, double o[3])
{
    gainmap_primaries bp = base->primaries;
    double v[3];
    for (int c = 0; c < 3; c++)
        v[c] = ref_base(base, x, y, c);
    if (meta->kind == GAINMAP_KIND_APPLE) {
        double H = meta->apple_headroom;
        double d = display == 0 ? log2(H) : log2(display);
        double w = fmin(fmax(d / log2(H), 0), 1);
        for (int c = 0; c < 3; c++) {
            double g = gainmap_bt709_to_linear(ref_code(map, base->width, base->height, x, y, c) / 255.0);
            o[c] = v[c] * pow(1 + (H - 1) * g, w);
        }
    } else {
        gainmap_params p;
        gainmap_metadata_to_params(meta, &p);
        gainmap_primaries mp = p.use_base_colour_space ? bp : outp;
        double m[9];
        if (mp != bp) {
            gainmap_gamut_matrix(bp, mp, m);
            mat(m, v);
        }
        double w = ref_weight(&p, display);
        for (int c = 0; c < 3; c++) {
            double r = ref_code(map, base->width, base->height, x, y, c) / 255.0;
            double G = p.gain_map_min[c] + (p.gain_map_max[c] - p.gain_map_min[c]) * pow(r, 1 / p.gamma[c]);
            o[c] = (v[c] + p.base_offset[c]) * exp2(G * w) - p.alternate_offset[c];
        }
        bp = mp;
    }
    if (bp != outp) {
        double m[9];
        gainmap_gamut_matrix(bp, outp, m);
        mat(m, o);
    }
    for (int c = 0; c < 3; c++)
        o[c] = fmax(o[c], 0);
}

/* ---------- fixtures ---------- */

static void make_base_u8(gainmap_image *b, uint32_t w, uint32_t h, uint32_t ch)
{
    gainmap_image_alloc(NULL, b, w, h, ch, GAINMAP_PIXEL_U8);
    b->transfer = GAINMAP_TRANSFER_SRGB;
    b->primaries = GAINMAP_PRIMARIES_BT709;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t c = 0; c < ch; c++)
                ((uint8_t *)b->data)[y * b->stride + x * ch + c] = (uint8_t)((x * 37 + y * 11 + c * 90) % 256);
}

static void make_map(gainmap_image *m, uint32_t w, uint32_t h, uint32_t ch)
{
    gainmap_image_alloc(NULL, m, w, h, ch, GAINMAP_PIXEL_U8);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t c = 0; c < ch; c++)
                ((uint8_t *)m->data)[y * m->stride + x * ch + c] = (uint8_t)((x * 53 + y * 17 + c * 71) % 256);
}

static void make_meta(gainmap_metadata *m, int ch, double hb, double ha, const double mn[3], const double mx[3],
                      const double gamma[3], const double kb[3], const double ka[3], int use_base)
{
    gainmap_params p;
    memset(&p, 0, sizeof p);
    p.channel_count = ch;
    p.use_base_colour_space = use_base;
    p.base_hdr_headroom = hb;
    p.alternate_hdr_headroom = ha;
    for (int c = 0; c < 3; c++) {
        p.gain_map_min[c] = mn[c];
        p.gain_map_max[c] = mx[c];
        p.gamma[c] = gamma[c];
        p.base_offset[c] = kb[c];
        p.alternate_offset[c] = ka[c];
    }
    CHECK_INT(gainmap_params_to_metadata(&p, m), GAINMAP_OK);
}

static double out_linear(const gainmap_image *o, uint32_t x, uint32_t y, uint32_t c)
{
    const char *row = (const char *)o->data + y * o->stride;
    if (o->type == GAINMAP_PIXEL_F32)
        return ((const float *)(const void *)row)[x * 3 + c];
    if (o->transfer == GAINMAP_TRANSFER_PQ)
        return gainmap_to_linear(GAINMAP_TRANSFER_PQ, ((const uint16_t *)(const void *)row)[x * 3 + c] / 65535.0);
    if (o->transfer == GAINMAP_TRANSFER_HLG) {
        const uint16_t *p = (const uint16_t *)(const void *)row + x * 3;
        double scene[3], disp[3];
        for (int k = 0; k < 3; k++)
            scene[k] = gainmap_hlg_inverse_oetf(p[k] / 65535.0);
        gainmap_hlg_ootf(scene, 1000.0, disp);
        return disp[c] / 203.0;
    }
    return gainmap_to_linear(o->transfer, ((const uint8_t *)row)[x * 3 + c] / 255.0);
}

/* Apply and compare every pixel; returns the largest relative error seen. */
static double compare(const char *name, const gainmap_image *base, const gainmap_image *map,
                      const gainmap_metadata *meta, double display, gainmap_transfer tf, gainmap_primaries outp,
                      double abs_tol, double clip)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_decode_options o;
    gainmap_decode_options_init(&o);
    o.headroom = display;
    o.transfer = tf;
    o.primaries = outp;
    gainmap_image out;
    gainmap_status st = gainmap_apply(ctx, base, map, meta, &o, &out);
    CHECK_MSG(st == GAINMAP_OK, "%s: %s", name, gainmap_last_error(ctx));
    double worst = 0;
    int bad = 0;
    if (st == GAINMAP_OK) {
        CHECK_INT(out.width, base->width);
        CHECK_INT(out.height, base->height);
        CHECK_INT(out.channels, 3);
        CHECK_INT(out.primaries, outp == GAINMAP_PRIMARIES_UNKNOWN ? base->primaries : outp);
        for (uint32_t y = 0; y < base->height; y++)
            for (uint32_t x = 0; x < base->width; x++) {
                double e[3];
                ref_pixel(base, map, meta, display, out.primaries, x, y, e);
                if (clip > 0 && fmax(e[0], fmax(e[1], e[2])) > clip)
                    continue;
                for (int c = 0; c < 3; c++) {
                    double a = out_linear(&out, x, y, c);
                    double err = fabs(a - e[c]);
                    if (err > REL_TOL * e[c] + abs_tol) {
                        if (bad++ < 3)
                            fprintf(stderr, "%s D=%g: (%u,%u,%d) got %.7g expected %.7g\n", name, display, x, y,
                                    c, a, e[c]);
                    }
                    if (e[c] > 0.05)
                        worst = fmax(worst, err / e[c]);
                }
            }
        CHECK_MSG(bad == 0, "%s at headroom %g: %d samples off", name, display, bad);
    }
    gainmap_image_free(&out);
    gainmap_ctx_free(ctx);
    return worst;
}

static const double ZERO3[3] = {0, 0, 0};
static const double ONE3[3] = {1, 1, 1};
static const double K64[3] = {1.0 / 64, 1.0 / 64, 1.0 / 64};
static const double HEADROOMS[] = {1, 1.5, 2, 2.83, 4, 0, 16};
#define NHEAD (sizeof HEADROOMS / sizeof HEADROOMS[0])

static void run_headrooms(const char *name, const gainmap_image *b, const gainmap_image *m,
                          const gainmap_metadata *meta)
{
    double worst = 0;
    for (size_t i = 0; i < NHEAD; i++)
        worst = fmax(worst, compare(name, b, m, meta, HEADROOMS[i], GAINMAP_TRANSFER_LINEAR,
                                    GAINMAP_PRIMARIES_UNKNOWN, 1e-6, 0));
    printf("  %-40s max rel err %.2e\n", name, worst);
    CHECK_MSG(worst < 1e-4, "%s: the table path should be far inside the bound (%.2e)", name, worst);
}

/* ---------- tests ---------- */

static void test_forward_channels(void)
{
    gainmap_image b3, b1, m1, m3;
    make_base_u8(&b3, 24, 20, 3);
    make_base_u8(&b1, 24, 20, 1);
    make_map(&m1, 24, 20, 1);
    make_map(&m3, 24, 20, 3);
    const double mn[3] = {-0.5, 0.1, -1.0}, mx[3] = {2.0, 1.5, 3.0}, g[3] = {1.0, 0.6, 2.2};
    const double kb[3] = {1.0 / 64, 0.01, 0.05}, ka[3] = {1.0 / 64, 0.02, 0.001};
    gainmap_metadata meta1, meta3;
    make_meta(&meta1, 1, 0, 2, (double[3]){0.0, 0.0, 0.0}, (double[3]){2, 2, 2}, ONE3, K64, K64, 1);
    make_meta(&meta3, 3, 0, 2.5, mn, mx, g, kb, ka, 1);
    run_headrooms("1-ch map, 1-ch meta", &b3, &m1, &meta1);
    run_headrooms("3-ch map, 3-ch meta, gamma, offsets", &b3, &m3, &meta3);
    run_headrooms("1-ch map, 3-ch meta (pitfall 8)", &b3, &m1, &meta3);
    run_headrooms("3-ch map, 1-ch meta (pitfall 8)", &b3, &m3, &meta1);
    run_headrooms("grey base, 3-ch map", &b1, &m3, &meta3);
    gainmap_metadata meta_g;
    make_meta(&meta_g, 1, 0.5, 3, (double[3]){0.3, 0, 0}, (double[3]){3, 0, 0}, (double[3]){1.8, 0, 0}, ZERO3,
              ZERO3, 1);
    run_headrooms("H_base 0.5, gamma 1.8, offsets 0", &b3, &m1, &meta_g);
    gainmap_image_free(&b3);
    gainmap_image_free(&b1);
    gainmap_image_free(&m1);
    gainmap_image_free(&m3);
}

static void test_backward(void)
{
    /* HDR base (linear float, and 16-bit PQ), SDR alternate: w <= 0. */
    gainmap_image bf, bpq, m1, m3;
    gainmap_image_alloc(NULL, &bf, 20, 14, 3, GAINMAP_PIXEL_F32);
    bf.transfer = GAINMAP_TRANSFER_LINEAR;
    bf.primaries = GAINMAP_PRIMARIES_BT709;
    gainmap_image_alloc(NULL, &bpq, 20, 14, 3, GAINMAP_PIXEL_U16);
    bpq.transfer = GAINMAP_TRANSFER_PQ;
    bpq.primaries = GAINMAP_PRIMARIES_BT709;
    for (uint32_t i = 0; i < 20 * 14 * 3; i++) {
        ((float *)bf.data)[i] = (float)(0.02 + (i % 97) * 0.04);
        ((uint16_t *)bpq.data)[i] = (uint16_t)(20000 + (i * 331) % 30000);
    }
    make_map(&m1, 20, 14, 1);
    make_map(&m3, 20, 14, 3);
    gainmap_metadata meta;
    make_meta(&meta, 3, 2.0, 0.0, (double[3]){-0.2, 0, 0.1}, (double[3]){2.0, 1.8, 2.2}, (double[3]){1, 0.9, 1.1},
              (double[3]){0.02, 0.03, 0.01}, K64, 1);
    run_headrooms("backward, float base", &bf, &m3, &meta);
    run_headrooms("backward, PQ base, 1-ch map", &bpq, &m1, &meta);

    /* At the base's headroom and above, w = 0: out = base + k_base - k_alt. */
    gainmap_decode_options o;
    gainmap_decode_options_init(&o);
    o.transfer = GAINMAP_TRANSFER_LINEAR;
    o.primaries = GAINMAP_PRIMARIES_UNKNOWN;
    o.headroom = 0;   /* full = the HDR base itself */
    gainmap_image out;
    CHECK_INT(gainmap_apply(NULL, &bf, &m3, &meta, &o, &out), GAINMAP_OK);
    CHECK_NEAR(((float *)out.data)[5], ((float *)bf.data)[5] + 0.01 - 1.0 / 64, 1e-6);
    gainmap_image_free(&out);
    /* headroom 1 = the SDR rendition: w = -1 exactly. */
    o.headroom = 1;
    CHECK_INT(gainmap_apply(NULL, &bf, &m3, &meta, &o, &out), GAINMAP_OK);
    double r = ((uint8_t *)m3.data)[0] / 255.0;
    double G = -0.2 + 2.2 * r;
    CHECK_REL(((float *)out.data)[0], (((float *)bf.data)[0] + 0.02) * exp2(-G) - 1.0 / 64, 1e-5);
    gainmap_image_free(&out);
    gainmap_image_free(&bf);
    gainmap_image_free(&bpq);
    gainmap_image_free(&m1);
    gainmap_image_free(&m3);
}

static void test_resampling(void)
{
    gainmap_image b, small, large, odd;
    make_base_u8(&b, 24, 20, 3);
    make_map(&small, 7, 5, 1);    /* 24/7 and 20/5: non-integer and integer enlargement */
    make_map(&large, 61, 43, 3);  /* bigger than the base: area filter */
    make_map(&odd, 30, 9, 1);     /* wider (shrink x) but shorter (enlarge y) */
    gainmap_metadata meta;
    make_meta(&meta, 1, 0, 3, (double[3]){-1, 0, 0}, (double[3]){3, 0, 0}, ONE3, K64, K64, 1);
    run_headrooms("map 7x5 < base 24x20", &b, &small, &meta);
    run_headrooms("map 61x43 > base 24x20", &b, &large, &meta);
    run_headrooms("map 30x9 vs base 24x20", &b, &odd, &meta);
    gainmap_image_free(&small);
    gainmap_image_free(&large);
    gainmap_image_free(&odd);

    /* Closed form on a linear gradient: with min 0, max 1, gamma 1, no
     * offsets and a white base, out = 2^(r) so 255*log2(out) is the sampled
     * code -- which for a gradient is the gradient at the sample position. */
    gainmap_image white;
    gainmap_image_alloc(NULL, &white, 20, 16, 3, GAINMAP_PIXEL_U8);
    memset(white.data, 255, white.stride * white.height);
    white.transfer = GAINMAP_TRANSFER_SRGB;
    white.primaries = GAINMAP_PRIMARIES_BT709;
    gainmap_metadata unit;
    make_meta(&unit, 1, 0, 1, ZERO3, ONE3, ONE3, ZERO3, ZERO3, 1);
    gainmap_decode_options o;
    gainmap_decode_options_init(&o);
    o.transfer = GAINMAP_TRANSFER_LINEAR;
    o.primaries = GAINMAP_PRIMARIES_UNKNOWN;
    gainmap_image grad, out;
    /* 5x4 map, 4x enlargement: sample at (x + 0.5)/4 - 0.5, clamped to the edge pixels. */
    gainmap_image_alloc(NULL, &grad, 5, 4, 1, GAINMAP_PIXEL_U8);
    for (uint32_t y = 0; y < 4; y++)
        for (uint32_t x = 0; x < 5; x++)
            ((uint8_t *)grad.data)[y * grad.stride + x] = (uint8_t)(40 * x + 10 * y);
    CHECK_INT(gainmap_apply(NULL, &white, &grad, &unit, &o, &out), GAINMAP_OK);
    int off = 0;
    for (uint32_t y = 0; y < 16; y++)
        for (uint32_t x = 0; x < 20; x++) {
            double sx = fmin(fmax((x + 0.5) / 4 - 0.5, 0), 4), sy = fmin(fmax((y + 0.5) / 4 - 0.5, 0), 3);
            double code = 255 * log2(((float *)out.data)[(y * 20 + x) * 3 + 1]);
            if (fabs(code - (40 * sx + 10 * sy)) > 0.01)
                off++;
        }
    CHECK_INT(off, 0);
    CHECK_NEAR(255 * log2(((float *)out.data)[(5 * 20 + 9) * 3]), 40 * 1.875 + 10 * 0.875, 0.01);
    gainmap_image_free(&out);
    gainmap_image_free(&grad);
    /* 100x80 map, 5x shrink: each output pixel is the mean of a 5x5 block,
     * i.e. the gradient at the block's centre 5x + 2, 5y + 2. */
    gainmap_image_alloc(NULL, &grad, 100, 80, 1, GAINMAP_PIXEL_U8);
    for (uint32_t y = 0; y < 80; y++)
        for (uint32_t x = 0; x < 100; x++)
            ((uint8_t *)grad.data)[y * grad.stride + x] = (uint8_t)(x + y);
    CHECK_INT(gainmap_apply(NULL, &white, &grad, &unit, &o, &out), GAINMAP_OK);
    off = 0;
    for (uint32_t y = 0; y < 16; y++)
        for (uint32_t x = 0; x < 20; x++) {
            double code = 255 * log2(((float *)out.data)[(y * 20 + x) * 3]);
            if (fabs(code - ((5 * x + 2) + (5 * y + 2))) > 0.01)
                off++;
        }
    CHECK_INT(off, 0);
    gainmap_image_free(&out);
    gainmap_image_free(&grad);
    gainmap_image_free(&white);
    gainmap_image_free(&b);
}

static void test_apple(void)
{
    gainmap_image b, m, big;
    make_base_u8(&b, 24, 20, 3);
    b.primaries = GAINMAP_PRIMARIES_P3;
    make_map(&m, 12, 10, 1);
    make_map(&big, 50, 41, 1);
    gainmap_metadata meta;
    memset(&meta, 0, sizeof meta);
    meta.kind = GAINMAP_KIND_APPLE;
    meta.apple_headroom = 3.482;
    run_headrooms("Apple, half-size map", &b, &m, &meta);
    run_headrooms("Apple, map larger than base", &b, &big, &meta);
    /* One pixel by hand: D = full, code c -> base * (1 + 2.482 * bt709^-1(c/255)). */
    gainmap_image same;
    make_map(&same, 24, 20, 1);
    gainmap_decode_options o;
    gainmap_decode_options_init(&o);
    o.transfer = GAINMAP_TRANSFER_LINEAR;
    o.primaries = GAINMAP_PRIMARIES_UNKNOWN;
    gainmap_image out;
    CHECK_INT(gainmap_apply(NULL, &b, &same, &meta, &o, &out), GAINMAP_OK);
    uint32_t x = 3, y = 2;
    uint8_t code = ((uint8_t *)same.data)[y * same.stride + x];
    uint8_t bc = ((uint8_t *)b.data)[y * b.stride + x * 3];
    CHECK_INT(code, (3 * 53 + 2 * 17) % 256);
    double want = gainmap_srgb_to_linear(bc / 255.0) * (1 + 2.482 * gainmap_bt709_to_linear(code / 255.0));
    CHECK_REL(((float *)out.data)[(y * 24 + x) * 3], want, 1e-5);
    CHECK_INT(out.primaries, GAINMAP_PRIMARIES_P3);
    gainmap_image_free(&out);
    gainmap_image_free(&same);
    gainmap_image_free(&b);
    gainmap_image_free(&m);
    gainmap_image_free(&big);
}

static void test_outputs(void)
{
    gainmap_image b, m;
    make_base_u8(&b, 24, 20, 3);
    make_map(&m, 12, 10, 3);
    gainmap_metadata meta;
    make_meta(&meta, 3, 0, 2.3, (double[3]){0, -0.2, 0.1}, (double[3]){2.3, 2.0, 2.2}, (double[3]){1, 1.2, 0.8}, K64,
              K64, 1);
    for (size_t i = 0; i < NHEAD; i++) {
        /* PQ: absolute quantisation near black ~1e-5 of SDR white. */
        compare("PQ out, BT.2020", &b, &m, &meta, HEADROOMS[i], GAINMAP_TRANSFER_PQ, GAINMAP_PRIMARIES_BT2020, 2e-5,
                0);
        compare("PQ out, base primaries", &b, &m, &meta, HEADROOMS[i], GAINMAP_TRANSFER_PQ, GAINMAP_PRIMARIES_UNKNOWN,
                2e-5, 0);
        /* HLG: a 1000 cd/m2 display clips at 1000/203 of SDR white. */
        compare("HLG out, BT.2020", &b, &m, &meta, HEADROOMS[i], GAINMAP_TRANSFER_HLG, GAINMAP_PRIMARIES_BT2020, 2e-4,
                4.9);
        compare("linear out, P3", &b, &m, &meta, HEADROOMS[i], GAINMAP_TRANSFER_LINEAR, GAINMAP_PRIMARIES_P3, 1e-6,
                0);
    }
    /* Maths in the alternate space (use_base_colour_space = 0): base P3,
     * alternate = the requested output primaries (BT.2020). */
    gainmap_metadata alt = meta;
    alt.use_base_colour_space = 0;
    b.primaries = GAINMAP_PRIMARIES_P3;
    compare("maths in BT.2020, P3 base", &b, &m, &alt, 0, GAINMAP_TRANSFER_LINEAR, GAINMAP_PRIMARIES_BT2020, 1e-6, 0);
    b.primaries = GAINMAP_PRIMARIES_BT709;

    gainmap_decode_options o;
    gainmap_decode_options_init(&o);
    CHECK_INT(o.transfer, GAINMAP_TRANSFER_PQ);
    CHECK_INT(o.primaries, GAINMAP_PRIMARIES_BT2020);
    CHECK(o.headroom == 0 && o.keep_orientation == 0);
    gainmap_image out;
    CHECK_INT(gainmap_apply(NULL, &b, &m, &meta, &o, &out), GAINMAP_OK);
    CHECK_INT(out.type, GAINMAP_PIXEL_U16);
    CHECK_INT(out.has_cicp, 1);
    CHECK(out.cicp[0] == 9 && out.cicp[1] == 16 && out.cicp[2] == 0 && out.cicp[3] == 1);
    gainmap_image_free(&out);

    /* SDR output is the base itself, code for code, whatever headroom is asked. */
    o.transfer = GAINMAP_TRANSFER_SRGB;
    o.primaries = GAINMAP_PRIMARIES_UNKNOWN;
    o.headroom = 4;
    CHECK_INT(gainmap_apply(NULL, &b, &m, &meta, &o, &out), GAINMAP_OK);
    CHECK_INT(out.type, GAINMAP_PIXEL_U8);
    CHECK(out.cicp[0] == 1 && out.cicp[1] == 13);
    CHECK(memcmp(out.data, b.data, b.stride * b.height) == 0);
    gainmap_image_free(&out);

    /* Headroom 1, linear: exactly the linearised base. */
    o.transfer = GAINMAP_TRANSFER_LINEAR;
    o.headroom = 1;
    CHECK_INT(gainmap_apply(NULL, &b, &m, &meta, &o, &out), GAINMAP_OK);
    int diff = 0;
    for (uint32_t i = 0; i < 24 * 20 * 3; i++)
        if (((float *)out.data)[i] != (float)gainmap_srgb_to_linear(((uint8_t *)b.data)[i] / 255.0))
            diff++;
    CHECK_INT(diff, 0);
    gainmap_image_free(&out);
    gainmap_image_free(&b);
    gainmap_image_free(&m);
}

static void test_threads_and_errors(void)
{
    gainmap_image b, m, o1, o4;
    make_base_u8(&b, 300, 257, 3);
    make_map(&m, 75, 65, 1);
    gainmap_metadata meta;
    make_meta(&meta, 1, 0, 2, ZERO3, (double[3]){2, 2, 2}, ONE3, K64, K64, 1);
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_decode_options o;
    gainmap_decode_options_init(&o);
    gainmap_set_option(ctx, GAINMAP_OPT_THREADS, 1);
    CHECK_INT(gainmap_apply(ctx, &b, &m, &meta, &o, &o1), GAINMAP_OK);
    gainmap_set_option(ctx, GAINMAP_OPT_THREADS, 4);
    CHECK_INT(gainmap_apply(ctx, &b, &m, &meta, &o, &o4), GAINMAP_OK);
    CHECK(memcmp(o1.data, o4.data, o1.stride * o1.height) == 0);
    gainmap_image_free(&o1);
    gainmap_image_free(&o4);

    o.headroom = 0.5;
    CHECK_INT(gainmap_apply(ctx, &b, &m, &meta, &o, &o1), GAINMAP_ERR_INVALID_ARG);
    CHECK_STR(gainmap_last_error(ctx), "apply: display headroom must be 0 (full) or at least 1, not 0.5");
    CHECK(o1.data == NULL);
    gainmap_clear_error(ctx);
    o.headroom = 0;
    o.transfer = GAINMAP_TRANSFER_GAMMA22;
    CHECK_INT(gainmap_apply(ctx, &b, &m, &meta, &o, &o1), GAINMAP_ERR_INVALID_ARG);
    CHECK_STR(gainmap_last_error(ctx), "apply: output transfer must be linear, pq, hlg or srgb, not gamma2.2");
    gainmap_clear_error(ctx);
    o.transfer = GAINMAP_TRANSFER_PQ;
    gainmap_metadata bad = meta;
    bad.gamma[0].n = 0;
    CHECK_INT(gainmap_apply(ctx, &b, &m, &bad, &o, &o1), GAINMAP_ERR_CORRUPT);
    CHECK_STR(gainmap_last_error(ctx), "gain-map gamma is 0 (all channel)");
    gainmap_clear_error(ctx);
    m.type = GAINMAP_PIXEL_U16;
    CHECK_INT(gainmap_apply(ctx, &b, &m, &meta, &o, &o1), GAINMAP_ERR_INVALID_ARG);
    CHECK_CONTAINS(gainmap_last_error(ctx), "gain map must be 8-bit");
    m.type = GAINMAP_PIXEL_U8;
    /* Allocation failures come back as NOMEM with nothing leaked (ASan). */
    for (long n = 1; n <= 12; n++) {
        gainmap_clear_error(ctx);
        gm_fail_alloc_after(n);
        gainmap_status st = gainmap_apply(ctx, &b, &m, &meta, &o, &o1);
        gm_fail_alloc_after(0);
        CHECK(st == GAINMAP_OK || st == GAINMAP_ERR_NOMEM);
        if (st != GAINMAP_OK)
            CHECK(o1.data == NULL);
        gainmap_image_free(&o1);
    }
    gainmap_ctx_free(ctx);
    gainmap_image_free(&b);
    gainmap_image_free(&m);
}

static void test_orient(void)
{
    /* 3x2 image with distinct pixels; check each orientation's corners. */
    gainmap_image in, out;
    gainmap_image_alloc(NULL, &in, 3, 2, 1, GAINMAP_PIXEL_U8);
    uint8_t *p = in.data;   /* a b c / d e f */
    for (int i = 0; i < 6; i++)
        p[i] = (uint8_t)('a' + i);
    static const char *want[9] = {"", "abcdef", "cbafed", "fedcba", "defabc", "adbecf", "daebfc", "fcebda",
                                  "cfbead"};
    for (int o = 1; o <= 8; o++) {
        CHECK_INT(gm_image_orient(NULL, &in, o, &out), GAINMAP_OK);
        CHECK_INT(out.width, o >= 5 ? 2 : 3);
        CHECK_INT(out.height, o >= 5 ? 3 : 2);
        char got[7] = {0};
        for (uint32_t y = 0; y < out.height; y++)
            for (uint32_t x = 0; x < out.width; x++)
                got[y * out.width + x] = (char)((uint8_t *)out.data)[y * out.stride + x];
        CHECK_MSG(strcmp(got, want[o]) == 0, "orientation %d: %s, expected %s", o, got, want[o]);
        CHECK_INT(out.orientation, 1);
        gainmap_image_free(&out);
    }
    CHECK_INT(gm_image_orient(NULL, &in, 9, &out), GAINMAP_ERR_INVALID_ARG);
    gainmap_image_free(&in);
}

int main(void)
{
    RUN_TEST(test_forward_channels);
    RUN_TEST(test_backward);
    RUN_TEST(test_resampling);
    RUN_TEST(test_apple);
    RUN_TEST(test_outputs);
    RUN_TEST(test_threads_and_errors);
    RUN_TEST(test_orient);
    TEST_SUMMARY();
}

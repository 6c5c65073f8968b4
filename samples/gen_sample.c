/* gen_sample.c - writes samples/sample_p3_pq.tif, the bundled HDR master:
 * a 16-bit PQ Display P3 TIFF (deflate, with a generated "p3-pq" ICC
 * profile) holding a neutral ramp from 0.01 to 4000 cd/m2, a colour chart
 * (P3 primaries/secondaries at SDR and highlight levels, skin tones,
 * neutrals), smooth hue/lightness gradients and fine texture with specular
 * highlights.  Deterministic: the same program writes the same file.
 *
 *   gen_sample OUT.tif
 */
#include "gainmap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W 768
#define H 512

/* P3-linear light in cd/m2 per channel. */
typedef struct {
    double r, g, b;
} nits3;

static uint16_t pq16(double nits)
{
    if (nits < 0.0)
        nits = 0.0;
    if (nits > 10000.0)
        nits = 10000.0;
    return (uint16_t)lrint(gainmap_pq_inverse_eotf(nits) * 65535.0);
}

static void put(gainmap_image *img, int x, int y, nits3 c)
{
    uint16_t *p = (uint16_t *)((uint8_t *)img->data + (size_t)y * img->stride) + 3 * (size_t)x;
    p[0] = pq16(c.r);
    p[1] = pq16(c.g);
    p[2] = pq16(c.b);
}

static nits3 grey(double n) { return (nits3){n, n, n}; }

/* Deterministic noise in [0,1). */
static uint32_t rng_state = 0x2545f491u;
static double rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (rng_state >> 8) / 16777216.0;
}

/* sRGB-encoded 8-bit colour -> P3-linear nits with SDR white at 203 cd/m2. */
static nits3 from_srgb8(int r, int g, int b)
{
    double lin[3] = {gainmap_srgb_to_linear(r / 255.0), gainmap_srgb_to_linear(g / 255.0),
                     gainmap_srgb_to_linear(b / 255.0)};
    double m[9];
    gainmap_gamut_matrix(GAINMAP_PRIMARIES_BT709, GAINMAP_PRIMARIES_P3, m);
    nits3 o;
    o.r = 203.0 * (m[0] * lin[0] + m[1] * lin[1] + m[2] * lin[2]);
    o.g = 203.0 * (m[3] * lin[0] + m[4] * lin[1] + m[5] * lin[2]);
    o.b = 203.0 * (m[6] * lin[0] + m[7] * lin[1] + m[8] * lin[2]);
    return o;
}

/* Hue in [0,1) -> fully saturated P3 colour with max channel 1. */
static nits3 hue(double h)
{
    double k[3];
    for (int i = 0; i < 3; i++) {
        double t = fmod(h * 6.0 + (i == 0 ? 0.0 : i == 1 ? 4.0 : 2.0), 6.0);
        double v = t < 1 ? 1 : t < 2 ? 2 - t : t < 4 ? 0 : t < 5 ? t - 4 : 1;
        k[i] = v;
    }
    return (nits3){k[0], k[1], k[2]};
}

static void draw(gainmap_image *img)
{
    /* 1. Neutral ramp, rows 0-63: smooth log ramp 0.01 -> 4000 cd/m2 on top,
     *    16 steps below (each step x2.4 apart). */
    for (int x = 0; x < W; x++) {
        double t = x / (double)(W - 1);
        double smooth = 0.01 * pow(4000.0 / 0.01, t);
        int step = x * 16 / W;
        double stepped = 0.01 * pow(4000.0 / 0.01, step / 15.0);
        for (int y = 0; y < 32; y++)
            put(img, x, y, grey(smooth));
        for (int y = 32; y < 64; y++)
            put(img, x, y, grey(stepped));
    }
    /* 2. Colour chart, rows 64-351, columns 0-383: 6 x 4 patches of 64x72. */
    static const double prim[6][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {0, 1, 1}, {1, 0, 1}, {1, 1, 0}};
    static const int skin[6][3] = {{115, 82, 68}, {194, 150, 130}, {141, 85, 36},
                                   {198, 134, 66}, {255, 219, 172}, {224, 172, 105}};
    static const double neutral[6] = {0.5, 5.0, 36.5, 100.0, 203.0, 1000.0};
    for (int row = 0; row < 4; row++) {
        for (int col = 0; col < 6; col++) {
            nits3 c;
            if (row == 0)
                c = (nits3){prim[col][0] * 203.0, prim[col][1] * 203.0, prim[col][2] * 203.0};
            else if (row == 1)   /* saturated highlights: channel peaks of 4000 cd/m2 */
                c = (nits3){prim[col][0] * 4000.0, prim[col][1] * 4000.0, prim[col][2] * 4000.0};
            else if (row == 2)
                c = from_srgb8(skin[col][0], skin[col][1], skin[col][2]);
            else
                c = grey(neutral[col]);
            for (int y = 64 + row * 72 + 4; y < 64 + (row + 1) * 72 - 4; y++)
                for (int x = col * 64 + 4; x < (col + 1) * 64 - 4; x++)
                    put(img, x, y, c);
            for (int y = 64 + row * 72; y < 64 + (row + 1) * 72; y++)
                for (int x = col * 64; x < (col + 1) * 64; x++)
                    if (y < 64 + row * 72 + 4 || y >= 64 + (row + 1) * 72 - 4 || x < col * 64 + 4 ||
                        x >= (col + 1) * 64 - 4)
                        put(img, x, y, grey(20.0));
        }
    }
    /* 3. Smooth gradients, rows 64-351, columns 384-767: hue across,
     *    level from 2000 cd/m2 (top) down to 1 cd/m2, desaturating to the right half's bottom. */
    for (int y = 64; y < 352; y++) {
        double v = (y - 64) / 287.0;
        double level = 2000.0 * pow(1.0 / 2000.0, v);
        for (int x = 384; x < W; x++) {
            nits3 h = hue((x - 384) / 384.0);
            double sat = 1.0 - 0.6 * v;
            put(img, x, y,
                (nits3){level * (sat * h.r + 1 - sat), level * (sat * h.g + 1 - sat), level * (sat * h.b + 1 - sat)});
        }
    }
    /* 4. Fine texture, rows 352-511: a zone plate (left) and a noisy
     *    fabric-like weave with specular glints up to 3000 cd/m2 (right). */
    for (int y = 352; y < H; y++) {
        for (int x = 0; x < 384; x++) {
            double dx = x - 192.0, dy = y - 432.0;
            double s = 0.5 + 0.5 * cos((dx * dx + dy * dy) * 0.004);
            put(img, x, y, grey(2.0 + 400.0 * s));
        }
        for (int x = 384; x < W; x++) {
            double weave = 0.5 + 0.25 * sin(x * 1.7) * sin(y * 1.3) + 0.25 * rnd();
            nits3 c = {60.0 * weave, 45.0 * weave, 30.0 * weave};
            if (rnd() < 0.004)
                c = (nits3){3000.0, 2600.0, 1800.0};
            put(img, x, y, c);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "Usage: gen_sample OUT.tif\nWrites the bundled 16-bit PQ Display P3 sample image.\n");
        return 2;
    }
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    if (!ctx || gainmap_image_alloc(ctx, &img, W, H, 3, GAINMAP_PIXEL_U16) != GAINMAP_OK) {
        fprintf(stderr, "gen_sample: out of memory\n");
        return 1;
    }
    img.transfer = GAINMAP_TRANSFER_PQ;
    img.primaries = GAINMAP_PRIMARIES_P3;
    img.orientation = 1;
    uint8_t *icc = NULL;
    size_t icc_size = 0;
    if (gainmap_icc_generate(ctx, "p3-pq", &icc, &icc_size) != GAINMAP_OK) {
        fprintf(stderr, "gen_sample: cannot make the ICC profile: %s\n", gainmap_last_error(ctx));
        return 1;
    }
    gainmap_image_set_icc(&img, icc, icc_size);
    gainmap_free(icc);
    draw(&img);
    gainmap_status st = gainmap_image_write(ctx, argv[1], &img, GAINMAP_FORMAT_TIFF);
    if (st != GAINMAP_OK)
        fprintf(stderr, "gen_sample: %s: %s\n", argv[1], gainmap_last_error(ctx));
    gainmap_image_free(&img);
    gainmap_ctx_free(ctx);
    return st == GAINMAP_OK ? 0 : 1;
}

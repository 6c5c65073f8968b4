/* synth_master.h - the synthetic HDR master shared by the encoder's tests
 * and bench: 16-bit PQ Display-P3, content chosen to stress a gain-map
 * encoder (true blacks, 0.05..4000 cd/m2 ramps, saturated highlights). */
#ifndef GM_SYNTH_MASTER_H
#define GM_SYNTH_MASTER_H

#include "gainmap.h"

#include <math.h>
#include <stdint.h>

#ifndef GM_CLAMP
#define GM_CLAMP(x, lo, hi) ((x) < (lo) ? (lo) : (x) > (hi) ? (hi) : (x))
#endif

/* Deterministic noise in [-1, 1]. */
static double synth_noise(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return ((*s >> 8) & 0xFFFF) / 32767.5 - 1.0;
}

/* A synthetic PQ Display-P3 master (16-bit): a colour chart, grey and colour
 * ramps from 0.05 to 4000 cd/m2, a textured "photo" region with a sky
 * gradient, saturated highlights and specular disks up to 4000 cd/m2. */
static void synth_master(uint32_t w, uint32_t h, gainmap_image *img)
{
    gainmap_image_alloc(NULL, img, w, h, 3, GAINMAP_PIXEL_U16);
    img->transfer = GAINMAP_TRANSFER_PQ;
    img->primaries = GAINMAP_PRIMARIES_P3;
    img->bit_depth = 16;
    static const double chart[24][3] = {
        {0.17, 0.09, 0.06}, {0.56, 0.33, 0.25}, {0.12, 0.19, 0.33}, {0.10, 0.15, 0.06}, {0.24, 0.22, 0.43},
        {0.13, 0.51, 0.41}, {0.67, 0.20, 0.03}, {0.07, 0.11, 0.39}, {0.54, 0.09, 0.12}, {0.09, 0.04, 0.14},
        {0.33, 0.50, 0.05}, {0.73, 0.36, 0.02}, {0.03, 0.05, 0.29}, {0.06, 0.30, 0.07}, {0.44, 0.03, 0.04},
        {0.80, 0.58, 0.01}, {0.50, 0.08, 0.29}, {0.00, 0.23, 0.38}, {0.88, 0.88, 0.86}, {0.58, 0.59, 0.59},
        {0.36, 0.36, 0.36}, {0.19, 0.19, 0.19}, {0.09, 0.09, 0.09}, {0.03, 0.03, 0.03},
    };
    uint32_t s = 7;
    for (uint32_t y = 0; y < h; y++) {
        uint16_t *row = (uint16_t *)(void *)((uint8_t *)img->data + (size_t)y * img->stride);
        for (uint32_t x = 0; x < w; x++) {
            double fx = (double)x / w, fy = (double)y / h, nits[3];
            if (fy < 0.35 && fx < 0.5) {   /* chart: 6 x 4 patches, 1.0 = 203 cd/m2 */
                int i = (int)(fy / 0.35 * 4) * 6 + (int)(fx / 0.5 * 6);
                for (int c = 0; c < 3; c++)
                    nits[c] = 203.0 * chart[i][c] * (1.0 + 0.01 * synth_noise(&s));
            } else if (fy < 0.35) {        /* ramps: grey, red, green, blue; log 0.05 .. 4000 */
                int band = (int)(fy / 0.35 * 4);
                double L = 0.05 * pow(4000.0 / 0.05, (fx - 0.5) / 0.5);
                for (int c = 0; c < 3; c++)
                    nits[c] = band == 0 ? L : (band - 1 == c ? L : 0.08 * L);
            } else {                       /* photo: sky, ground texture, highlights */
                double sky = 60.0 + 300.0 * (1.0 - (fy - 0.35) / 0.65) * (0.6 + 0.4 * fx);
                double tex = 1.0 + 0.25 * sin(fx * 80.0) * sin(fy * 60.0) + 0.06 * synth_noise(&s);
                nits[0] = sky * 0.55 * tex;
                nits[1] = sky * 0.75 * tex;
                nits[2] = sky * 1.00 * tex;
                if (fy > 0.7) {            /* warm ground */
                    nits[0] = 45.0 * tex;
                    nits[1] = 30.0 * tex;
                    nits[2] = 15.0 * tex;
                }
                for (int k = 0; k < 5; k++) {   /* specular disks 600 .. 4000 cd/m2 */
                    double cx = 0.1 + 0.2 * k, cy = 0.55, r = 0.03 + 0.01 * k;
                    double d = hypot(fx - cx, (fy - cy) * h / w);
                    if (d < r) {
                        double peak = 600.0 * pow(4000.0 / 600.0, k / 4.0) * (1.0 - 0.5 * d / r);
                        double tint[5][3] = {{1, 1, 1}, {1, 0.3, 0.2}, {0.3, 1, 0.4}, {0.4, 0.5, 1}, {1, 0.9, 0.7}};
                        for (int c = 0; c < 3; c++)
                            nits[c] = peak * tint[k][c];
                    }
                }
            }
            for (int c = 0; c < 3; c++) {
                double v = gainmap_pq_inverse_eotf(GM_CLAMP(nits[c], 0.0, 10000.0));
                row[3 * x + c] = (uint16_t)floor(v * 65535.0 + 0.5);
            }
        }
    }
}

#endif

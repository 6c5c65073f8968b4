/* bench_psnr.c - PSNR of 10-bit PQ code values between two binary PPMs.
 *
 *   bench_psnr REF.ppm TEST.ppm
 *   bench_psnr --to8 REF.ppm OUT.ppm
 *
 * REF is a 16-bit PPM of PQ code values (maxval 65535, e.g. from
 * `gainmap recode MASTER -o ref.ppm -t pq`); TEST is the same picture as a
 * 16-bit PPM (a decoded HDR file) or an 8-bit one (a single-layer 8-bit PQ
 * picture, each code standing for code / 255 of PQ's range).  Both are
 * reduced to 10-bit codes (round(v / maxval * 1023)) and compared over all
 * channels: the measure of tests/test_encode_roundtrip.c and bench/bound.sh.
 * Prints the PSNR in dB.  --to8 writes REF's codes rounded to 8 bits (the
 * input of a single-layer 8-bit PQ JPEG). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ppm {
    unsigned w, h, maxval;
    uint8_t *data;
} ppm;

static int read_ppm(const char *path, ppm *p)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    char magic[3] = {0};
    int ok = fscanf(f, "%2s %u %u %u", magic, &p->w, &p->h, &p->maxval) == 4 && magic[0] == 'P' &&
             magic[1] == '6' && p->w && p->h && p->maxval && p->maxval <= 65535 && fgetc(f) != EOF;
    size_t n = ok ? (size_t)p->w * p->h * 3 * (p->maxval > 255 ? 2 : 1) : 0;
    p->data = ok ? malloc(n) : NULL;
    ok = ok && p->data && fread(p->data, 1, n, f) == n;
    fclose(f);
    if (!ok)
        fprintf(stderr, "bench_psnr: %s is not a complete binary PPM\n", path);
    return ok ? 0 : -1;
}

static double code10(const ppm *p, size_t i)
{
    unsigned v = p->maxval > 255 ? (unsigned)p->data[2 * i] << 8 | p->data[2 * i + 1] : p->data[i];
    return floor((double)v / p->maxval * 1023.0 + 0.5);
}

int main(int argc, char **argv)
{
    ppm a, b;
    if (argc == 4 && !strcmp(argv[1], "--to8")) {
        if (read_ppm(argv[2], &a))
            return 1;
        FILE *f = fopen(argv[3], "wb");
        if (!f) {
            perror(argv[3]);
            return 1;
        }
        fprintf(f, "P6\n%u %u\n255\n", a.w, a.h);
        for (size_t i = 0; i < (size_t)a.w * a.h * 3; i++) {
            unsigned v = a.maxval > 255 ? (unsigned)a.data[2 * i] << 8 | a.data[2 * i + 1] : a.data[i];
            fputc((int)floor((double)v / a.maxval * 255.0 + 0.5), f);
        }
        free(a.data);
        return fclose(f) ? 1 : 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: bench_psnr REF.ppm TEST.ppm | bench_psnr --to8 REF.ppm OUT.ppm\n");
        return 2;
    }
    if (read_ppm(argv[1], &a) || read_ppm(argv[2], &b))
        return 1;
    if (a.w != b.w || a.h != b.h) {
        fprintf(stderr, "bench_psnr: %ux%u against %ux%u\n", a.w, a.h, b.w, b.h);
        return 1;
    }
    size_t n = (size_t)a.w * a.h * 3;
    double se = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = code10(&a, i) - code10(&b, i);
        se += d * d;
    }
    if (se == 0.0)
        printf("inf\n");
    else
        printf("%.2f\n", 10.0 * log10(1023.0 * 1023.0 * (double)n / se));
    free(a.data);
    free(b.data);
    return 0;
}

/* bench_apply.c - time the decode path on a synthetic 12 MP gain-map photo:
 * JPEG decode of base and map, and gainmap_apply to 16-bit PQ / float linear,
 * one thread and all cores.  Median of N runs (default 5), wall and CPU ms.
 * Usage: bench_apply [WIDTH HEIGHT [RUNS]] */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}
static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}
static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    const char *name;
    gainmap_status (*fn)(void *);
    void *arg;
} bench;

static void run(const char *name, int runs, double mp, gainmap_status (*fn)(void *), void *arg)
{
    double w[32], c[32];
    for (int i = 0; i < runs; i++) {
        double w0 = wall(), c0 = cpu();
        if (fn(arg) != GAINMAP_OK) {
            printf("%-44s failed\n", name);
            return;
        }
        w[i] = wall() - w0;
        c[i] = cpu() - c0;
    }
    qsort(w, (size_t)runs, sizeof w[0], cmp);
    qsort(c, (size_t)runs, sizeof c[0], cmp);
    printf("%-44s wall %8.1f ms  cpu %8.1f ms  %7.1f MP/s\n", name, w[runs / 2], c[runs / 2], mp / (w[runs / 2] / 1e3));
}

typedef struct {
    gainmap_ctx *ctx;
    const uint8_t *jpg;
    size_t size;
    const gainmap_image *base, *map;
    const gainmap_metadata *meta;
    gainmap_decode_options opts;
} job;

static gainmap_status do_decode(void *a)
{
    job *j = a;
    gainmap_image img;
    gainmap_status st = gainmap_jpeg_decode(j->ctx, j->jpg, j->size, &img);
    gainmap_image_free(&img);
    return st;
}
static gainmap_status do_apply(void *a)
{
    job *j = a;
    gainmap_image img;
    gainmap_status st = gainmap_apply(j->ctx, j->base, j->map, j->meta, &j->opts, &img);
    gainmap_image_free(&img);
    return st;
}

static void fill(gainmap_image *img, uint32_t seed)
{
    for (uint32_t y = 0; y < img->height; y++) {
        uint8_t *row = (uint8_t *)img->data + (size_t)y * img->stride;
        for (uint32_t x = 0; x < img->width * img->channels; x++)
            row[x] = (uint8_t)(((x / 3) * 7 + y * 3 + seed + ((x * 2654435761u + y * 40503u) >> 28)) & 255);
    }
}

int main(int argc, char **argv)
{
    uint32_t W = argc > 2 ? (uint32_t)atoi(argv[1]) : 4000, H = argc > 2 ? (uint32_t)atoi(argv[2]) : 3000;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    if (runs < 1 || runs > 31)
        runs = 5;
    double mp = W * (double)H / 1e6;
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image base, map4, map1;
    if (gainmap_image_alloc(ctx, &base, W, H, 3, GAINMAP_PIXEL_U8) || gainmap_image_alloc(ctx, &map4, W / 4, H / 4, 1, GAINMAP_PIXEL_U8) ||
        gainmap_image_alloc(ctx, &map1, W, H, 3, GAINMAP_PIXEL_U8)) {
        fprintf(stderr, "bench_apply: %s\n", gainmap_last_error(ctx));
        return 1;
    }
    fill(&base, 0);
    fill(&map4, 90);
    fill(&map1, 45);
    base.transfer = GAINMAP_TRANSFER_SRGB;
    base.primaries = GAINMAP_PRIMARIES_P3;
    printf("base %ux%u (%.1f MP), %d runs, median\n", W, H, mp, runs);

    job j;
    memset(&j, 0, sizeof j);
    j.ctx = ctx;
    j.base = &base;
    j.map = &map4;
    uint8_t *bj, *mj;
    size_t bs, ms;
    if (gm_jpeg_encode(ctx, &base, 90, 420, 1, NULL, &bj, &bs) || gm_jpeg_encode(ctx, &map4, 85, 420, 1, NULL, &mj, &ms)) {
        fprintf(stderr, "bench_apply: %s\n", gainmap_last_error(ctx));
        return 1;
    }
    j.jpg = bj;
    j.size = bs;
    run("jpeg decode base (q90 4:2:0)", runs, mp, do_decode, &j);
    j.jpg = mj;
    j.size = ms;
    run("jpeg decode map (1/4 size, grey)", runs, mp, do_decode, &j);

    gainmap_params p;
    memset(&p, 0, sizeof p);
    p.channel_count = 1;
    p.use_base_colour_space = 1;
    p.alternate_hdr_headroom = 3;
    for (int c = 0; c < 3; c++) {
        p.gain_map_max[c] = 3;
        p.gamma[c] = 1;
        p.base_offset[c] = p.alternate_offset[c] = 1.0 / 64;
    }
    gainmap_metadata meta;
    gainmap_params_to_metadata(&p, &meta);
    j.meta = &meta;
    gainmap_decode_options_init(&j.opts);
    static const struct {
        const char *name;
        int threads;
        int full_map;
        gainmap_transfer tf;
    } cases[] = {
        {"apply 1/4 map -> PQ BT.2020, 1 thread", 1, 0, GAINMAP_TRANSFER_PQ},
        {"apply 1/4 map -> PQ BT.2020, all cores", 0, 0, GAINMAP_TRANSFER_PQ},
        {"apply 1/4 map -> HLG BT.2020, 1 thread", 1, 0, GAINMAP_TRANSFER_HLG},
        {"apply 1/4 map -> linear float, 1 thread", 1, 0, GAINMAP_TRANSFER_LINEAR},
        {"apply full 3-ch map -> PQ, 1 thread", 1, 1, GAINMAP_TRANSFER_PQ},
        {"apply full 3-ch map -> PQ, all cores", 0, 1, GAINMAP_TRANSFER_PQ},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gainmap_set_option(ctx, GAINMAP_OPT_THREADS, cases[i].threads);
        j.map = cases[i].full_map ? &map1 : &map4;
        j.opts.transfer = cases[i].tf;
        run(cases[i].name, runs, mp, do_apply, &j);
    }
    gainmap_free(bj);
    gainmap_free(mj);
    gainmap_image_free(&base);
    gainmap_image_free(&map4);
    gainmap_image_free(&map1);
    gainmap_ctx_free(ctx);
    return 0;
}

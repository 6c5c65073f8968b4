/* bench_encode.c - encoder timing and quality per byte.
 *
 *   bench_encode [--size WxH] [--grid] [--no-grid] [MASTER]
 *
 * Without MASTER a synthetic 4000x3000 (12 MP) PQ Display-P3 master is
 * generated.  Prints the encode time split into read, tone map, gain map,
 * JPEG (base encode + decode + map encode) and write, then bits per pixel and
 * round-trip PSNR (10-bit PQ codes, full headroom, master primaries) for a
 * grid of settings. */
#include "internal.h"
#include "../tests/support/synth_master.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct setting {
    const char *name;
    int q, gq, ch, scale, sub;
    double gamma;   /* NAN: chosen per picture, as by default */
} setting;

int main(int argc, char **argv)
{
    uint32_t w = 4000, h = 3000;
    int grid = 1;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            if (sscanf(argv[++i], "%ux%u", &w, &h) != 2 || !w || !h) {
                fprintf(stderr, "bench_encode: --size expects WxH\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--no-grid") == 0) {
            grid = 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: bench_encode [--size WxH] [--no-grid] [MASTER]\n");
            return 2;
        } else {
            path = argv[i];
        }
    }
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image m;
    memset(&m, 0, sizeof m);
    double t0 = now();
    if (path) {
        if (gainmap_image_read(ctx, path, &m) != GAINMAP_OK) {
            fprintf(stderr, "bench_encode: %s: %s\n", path, gainmap_last_error(ctx));
            return 1;
        }
    } else {
        synth_master(w, h, &m);
        /* "read" of a generated master: time to write and read it back as 16-bit PNG */
        char tmpl[] = "/tmp/bench_encode_XXXXXX";
        char *dir = mkdtemp(tmpl);
        char file[256];
        snprintf(file, sizeof file, "%s/master.png", dir ? dir : "/tmp");
        if (dir && gainmap_image_write(ctx, file, &m, GAINMAP_FORMAT_PNG) == GAINMAP_OK) {
            gainmap_image_free(&m);
            t0 = now();
            if (gainmap_image_read(ctx, file, &m) != GAINMAP_OK) {
                fprintf(stderr, "bench_encode: %s\n", gainmap_last_error(ctx));
                return 1;
            }
            remove(file);
        }
        if (dir)
            rmdir(dir);
    }
    double t_read = now() - t0;
    double mp = (double)m.width * m.height / 1e6;
    printf("master: %s, %ux%u (%.1f MP), %s %s\n", path ? path : "synthetic (16-bit PNG)", m.width, m.height, mp,
           gainmap_transfer_name(m.transfer), gainmap_primaries_name(m.primaries));

    gainmap_encode_options o;
    gainmap_encode_options_init(&o);
    gm_encode_stats st;
    uint8_t *out = NULL;
    size_t size = 0;
    t0 = now();
    if (gm_encode_jpeg(ctx, &m, NULL, NULL, 0, &o, &out, &size, &st) != GAINMAP_OK) {
        fprintf(stderr, "bench_encode: encode: %s\n", gainmap_last_error(ctx));
        return 1;
    }
    double t_enc = now() - t0;
    t0 = now();
    char file[] = "/tmp/bench_encode_out.jpg";
    gainmap_write_file(ctx, file, out, size, 1);
    double t_write = now() - t0;
    remove(file);
    printf("\nencode time, default settings (q %d, map q %d, %d ch, scale %d, %d):\n", o.quality, o.gainmap_quality,
           o.gainmap_channels, o.gainmap_scale, o.subsampling);
    printf("  read       %7.3f s\n", t_read);
    printf("  tone map   %7.3f s\n", st.tonemap);
    printf("  gain map   %7.3f s\n", st.gainmap);
    printf("  JPEG       %7.3f s   (base encode + decode, map encode)\n", st.jpeg);
    printf("  assemble   %7.3f s\n", st.assemble);
    printf("  write      %7.3f s\n", t_write);
    printf("  total      %7.3f s   (encode call %.3f s)\n", t_read + t_enc + t_write, t_enc);
    printf("  size       %zu bytes = %.3f bpp (base %zu, map %zu, %ux%u)\n", size, 8.0 * size / (mp * 1e6),
           st.base_bytes, st.map_bytes, st.map_width, st.map_height);
    gainmap_free(out);
    if (!grid)
        goto done;

    static const setting settings[] = {
        {"default", 0, 0, 0, 0, 0, 0},
        {"low rate (gm_low_rate_options)", -1, 0, 0, 0, 0, 0},
        {"q95 gq95 3ch s1 444", 95, 95, 3, 1, 444, NAN},
        {"q90 gq90 3ch s1 444", 90, 90, 3, 1, 444, NAN},
        {"q90 gq90 3ch s1 420", 90, 90, 3, 1, 420, NAN},
        {"q85 gq85 3ch s1 444", 85, 85, 3, 1, 444, NAN},
        {"q85 gq85 3ch s2 444", 85, 85, 3, 2, 444, NAN},
        {"q75 gq75 3ch s2 444", 75, 75, 3, 2, 444, NAN},
        {"q75 gq70 3ch s2 420", 75, 70, 3, 2, 420, NAN},
        {"q90 gq85 1ch s1 420", 90, 85, 1, 1, 420, NAN},
        {"q90 gq85 1ch s4 420", 90, 85, 1, 4, 420, NAN},
        {"q90 gq90 3ch s1 444 gamma 1", 90, 90, 3, 1, 444, 1.0},
        {"q90 gq90 3ch s1 444 gamma 1.5", 90, 90, 3, 1, 444, 1.5},
    };
    printf("\n%-34s %8s %8s %9s\n", "setting", "bpp", "PSNR dB", "encode s");
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        const setting *s = &settings[i];
        gainmap_encode_options_init(&o);
        if (s->q < 0) {
            gm_low_rate_options(&o);
        } else if (s->q > 0) {
            o.quality = s->q;
            o.gainmap_quality = s->gq;
            o.gainmap_channels = s->ch;
            o.gainmap_scale = s->scale;
            o.subsampling = s->sub;
            o.gamma = s->gamma;
        }
        t0 = now();
        if (gainmap_encode_jpeg(ctx, &m, NULL, &o, &out, &size) != GAINMAP_OK) {
            printf("%-34s error: %s\n", s->name, gainmap_last_error(ctx));
            gainmap_clear_error(ctx);
            continue;
        }
        double te = now() - t0, db = 0;
        if (gm_encode_psnr_pq10(ctx, &m, out, size, &db) != GAINMAP_OK) {
            printf("%-34s decode error: %s\n", s->name, gainmap_last_error(ctx));
            gainmap_clear_error(ctx);
        } else {
            printf("%-34s %8.3f %8.2f %9.2f\n", s->name, 8.0 * size / (mp * 1e6), db, te);
        }
        gainmap_free(out);
    }
done:
    gainmap_image_free(&m);
    gainmap_ctx_free(ctx);
    return 0;
}

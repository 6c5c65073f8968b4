/* testutil.c - helpers for the test programs. */
#include "testutil.h"

#include "gainmap.h"

#include <math.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef GM_CORPUS_DIR
#define GM_CORPUS_DIR "../shared/corpus"
#endif

static char slots[8][4096];
static int slot;

static char *next_slot(void)
{
    slot = (slot + 1) % 8;
    return slots[slot];
}

const char *tu_tmpdir(const char *name)
{
    static char dir[4096];
    const char *base = getenv("GAINMAP_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(dir, sizeof dir, "%s/%s", base, name);
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot make %s\n", dir);
    return dir;
}

const char *tu_path(const char *dir, const char *file)
{
    char *s = next_slot();
    snprintf(s, 4096, "%s/%s", dir, file);
    return s;
}

const char *tu_corpus(const char *rel)
{
    char *s = next_slot();
    const char *base = getenv("GM_CORPUS_DIR");
    snprintf(s, 4096, "%s/%s", base && *base ? base : GM_CORPUS_DIR, rel);
    return s;
}

const char *tu_cli(void)
{
    const char *c = getenv("GAINMAP_CLI");
    return c && *c ? c : "build/gainmap";
}

int tu_run(char **out, const char *fmt, ...)
{
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd - 8, fmt, ap);
    va_end(ap);
    strcat(cmd, " 2>&1");
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += r;
        if (cap - n < 1024) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
    }
    if (buf)
        buf[n] = 0;
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    if (st == -1)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

uint8_t *tu_read(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (size)
        *size = buf ? (size_t)n : 0;
    return buf;
}

int tu_write(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, size, f);
    return (fclose(f) == 0 && w == size) ? 0 : -1;
}

int tu_exists(const char *path) { return access(path, F_OK) == 0; }

int tu_have(const char *program)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "command -v '%s' >/dev/null 2>&1", program);
    return system(cmd) == 0;
}

uint32_t tu_lcg(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

double tu_gain_steps(uint32_t *rng, uint32_t x, uint32_t y)
{
    double noise = (double)(tu_lcg(rng) & 255) / 1024.0;
    return -1.0 + 5.0 * (double)((x * 7 + y * 3) % 97) / 96.0 + noise;
}

struct gainmap_encode_options tu_map_options(int channels, int scale, int dither, double gamma, double offset)
{
    gainmap_encode_options o;
    gainmap_encode_options_init(&o);
    o.gainmap_channels = channels;
    o.gainmap_scale = scale;
    o.dither = dither;
    o.gamma = gamma;
    o.offset = offset;
    return o;
}

int tu_gain_pair(struct gainmap_image *sdr, struct gainmap_image *hdr, uint32_t w, uint32_t h, int float_hdr,
                 tu_gain_fn gain, void *user, uint32_t *rng, int full_range, uint32_t zero_every)
{
    if (gainmap_image_alloc(NULL, sdr, w, h, 3, GAINMAP_PIXEL_U8) != GAINMAP_OK)
        return -1;
    if (gainmap_image_alloc(NULL, hdr, w, h, 3, float_hdr ? GAINMAP_PIXEL_F32 : GAINMAP_PIXEL_U16) != GAINMAP_OK) {
        gainmap_image_free(sdr);
        return -1;
    }
    sdr->transfer = GAINMAP_TRANSFER_SRGB;
    sdr->primaries = GAINMAP_PRIMARIES_P3;
    hdr->transfer = float_hdr ? GAINMAP_TRANSFER_LINEAR : GAINMAP_TRANSFER_PQ;
    hdr->primaries = GAINMAP_PRIMARIES_P3;
    for (uint32_t y = 0; y < h; y++) {
        uint8_t *s = (uint8_t *)sdr->data + (size_t)y * sdr->stride;
        uint8_t *d = (uint8_t *)hdr->data + (size_t)y * hdr->stride;
        for (uint32_t x = 0; x < w; x++) {
            double g = gain(user, x, y);
            for (int c = 0; c < 3; c++) {
                uint8_t sv = (uint8_t)(full_range ? tu_lcg(rng) % 256 : 16 + tu_lcg(rng) % 200);
                s[3 * x + c] = sv;
                double lin = gainmap_srgb_to_linear(sv / 255.0) * exp2(g);
                if (zero_every && tu_lcg(rng) % zero_every == 0)
                    lin = 0.0;
                size_t i = 3 * (size_t)x + (size_t)c;
                if (float_hdr)
                    ((float *)(void *)d)[i] = (float)lin;
                else
                    ((uint16_t *)(void *)d)[i] =
                        (uint16_t)floor(gainmap_pq_inverse_eotf(fmin(lin * 203.0, 1e4)) * 65535.0 + 0.5);
            }
        }
    }
    return 0;
}

/* test_mutation.c - a deterministic mutation sweep over the whole corpus.
 *
 * Every corpus file (every category: gain-map JPEGs and MPOs, HEIF/AVIF,
 * negatives, corrupt files, HDR masters) is mutated many ways -
 * truncation at many offsets, single-bit flips (mostly in the headers),
 * overwritten byte runs, corrupted length fields (JPEG segment lengths in
 * both streams, ISOBMFF box sizes at the top level, inside meta and ipco)
 * and swapped neighbouring segments/boxes - and each mutant goes through
 * what `gainmap info`, `validate` and `decode` do (gainmap_file_open_memory,
 * gainmap_file_info_json, gainmap_file_issues, gainmap_decode with a small
 * pixel limit), through the HEIF item model (gm_heif_parse,
 * gm_heif_find_gainmap, item bytes) and, for image files, through
 * gainmap_image_read_memory.
 *
 * Passing means: no crash, no UB, no leak (ASan/valgrind runs), no input
 * slower than a few seconds, and every failure comes with a non-empty
 * gainmap_last_error; every success is a consistent result (JSON that starts
 * with '{', issues with codes and messages, images whose last row is
 * readable).  The number of mutants is printed.  GM_TEST_QUICK=1 (valgrind
 * runs) keeps one mutant in eight. */
#include "check.h"
#include "internal.h"
#include "support/testutil.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_PIXELS (1 << 18)   /* decode limit: keeps the sweep fast under ASan */
#define MAX_IMAGE_PIXELS (1 << 19)   /* image readers: the corpus masters are up to 512x768 */
#define SLOW_SECONDS 5.0

static long g_mutants, g_ok, g_errors, g_decoded, g_images, g_heif_parsed;
static double g_slowest;
static char g_slowest_name[256];
static int g_stride = 1;       /* GM_TEST_QUICK: run one mutant in g_stride */
static long g_seq;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng_state;
static uint64_t rng(void)
{
    /* xorshift64*: deterministic per file. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* A failed call must say why. */
#define EXPECT_CLEAN(ctx, st, what, name)                                                              \
    CHECK_MSG((st) == GAINMAP_OK || gainmap_last_error(ctx)[0] != '\0', "%s: %s failed (%s) without a message", \
              name, what, gainmap_strerror(st))

static void run_file_paths(const uint8_t *d, size_t n, const char *name)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_set_option(ctx, GAINMAP_OPT_MAX_PIXELS, MAX_PIXELS);
    gainmap_set_option(ctx, GAINMAP_OPT_THREADS, 1);
    gainmap_file *f = NULL;
    gainmap_status st = gainmap_file_open_memory(ctx, d, n, &f);
    EXPECT_CLEAN(ctx, st, "open", name);
    if (st != GAINMAP_OK) {
        CHECK(f == NULL);
        g_errors++;
        gainmap_ctx_free(ctx);
        return;
    }
    g_ok++;
    /* info --json */
    char *json = NULL;
    gainmap_clear_error(ctx);
    st = gainmap_file_info_json(ctx, f, &json);
    EXPECT_CLEAN(ctx, st, "info_json", name);
    if (st == GAINMAP_OK)
        CHECK_MSG(json && json[0] == '{' && json[strlen(json) - 1] != ',', "%s: bad JSON", name);
    gainmap_free(json);
    /* validate */
    const gainmap_issue *issues = NULL;
    size_t ni = gainmap_file_issues(f, &issues);
    for (size_t i = 0; i < ni; i++)
        CHECK_MSG(issues[i].code && issues[i].code[0] && issues[i].message && issues[i].message[0],
                  "%s: issue %zu without code or message", name, i);
    /* decode */
    const gainmap_info *info = gainmap_file_info(f);
    CHECK(info != NULL);
    if (info && info->has_gainmap) {
        const uint8_t *p;
        size_t len;
        if (gainmap_file_map_stream(f, &p, &len) == GAINMAP_OK && p && len)
            CHECK(p[0] == 0xFF || len > 0);   /* the bytes are readable */
        gainmap_decode_options o;
        gainmap_decode_options_init(&o);
        gainmap_image out;
        gainmap_clear_error(ctx);
        st = gainmap_decode(ctx, f, &o, &out);
        EXPECT_CLEAN(ctx, st, "decode", name);
        if (st == GAINMAP_OK) {
            g_decoded++;
            CHECK(out.width > 0 && out.height > 0 && out.data);
            const volatile uint8_t *last = (const uint8_t *)out.data + (size_t)(out.height - 1) * out.stride;
            (void)last[out.stride - 1];
            gainmap_image_free(&out);
        }
    }
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

static void run_heif_model(const uint8_t *d, size_t n, const char *name)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_set_option(ctx, GAINMAP_OPT_MAX_PIXELS, MAX_PIXELS);
    gm_heif *h = NULL;
    gainmap_status st = gm_heif_parse(ctx, d, n, &h);
    EXPECT_CLEAN(ctx, st, "heif_parse", name);
    if (st == GAINMAP_OK) {
        g_heif_parsed++;
        gm_heif_gainmap g;
        gm_heif_find_gainmap(ctx, h, &g);
        uint32_t ids[3] = {h->has_primary ? h->primary_id : 0, g.kind ? g.map_id : 0, g.tmap_id};
        for (int i = 0; i < 3; i++) {
            const gm_heif_item *item = ids[i] ? gm_heif_item_by_id(h, ids[i]) : NULL;
            if (!item)
                continue;
            uint8_t *bytes = NULL;
            size_t len = 0;
            gainmap_clear_error(ctx);
            st = gm_heif_item_data(ctx, h, item, 1 << 24, &bytes, &len);
            EXPECT_CLEAN(ctx, st, "heif_item_data", name);
            free(bytes);
            if (gm_heif_is_image(item)) {
                gainmap_clear_error(ctx);
                st = gm_heif_extract_item(ctx, h, ids[i], &bytes, &len);
                EXPECT_CLEAN(ctx, st, "heif_extract_item", name);
                if (st == GAINMAP_OK)
                    free(bytes);
            }
        }
        gm_heif_free(h);
    }
    gainmap_ctx_free(ctx);
}

static void run_image_reader(const uint8_t *d, size_t n, const char *name)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_set_option(ctx, GAINMAP_OPT_MAX_PIXELS, MAX_IMAGE_PIXELS);
    gainmap_image img;
    gainmap_status st = gainmap_image_read_memory(ctx, d, n, &img);
    EXPECT_CLEAN(ctx, st, "image_read", name);
    if (st == GAINMAP_OK) {
        g_images++;
        const volatile uint8_t *last = (const uint8_t *)img.data + (size_t)(img.height - 1) * img.stride;
        (void)last[img.stride - 1];
        gainmap_image_free(&img);
    } else {
        CHECK(img.data == NULL);
    }
    gainmap_ctx_free(ctx);
}

/* One mutant through every path that applies to its format. */
static void run(const uint8_t *d, size_t n, const char *file, const char *how)
{
    if (g_seq++ % g_stride)
        return;
    char name[256];
    snprintf(name, sizeof name, "%s [%s]", file, how);
    double t0 = now();
    g_mutants++;
    gainmap_file_format fmt = gainmap_detect_format(d, n);
    run_file_paths(d, n, name);
    if (fmt == GAINMAP_FORMAT_HEIF || (n >= 8 && !memcmp(d + 4, "ftyp", 4)))
        run_heif_model(d, n, name);
    if (fmt != GAINMAP_FORMAT_JPEG && fmt != GAINMAP_FORMAT_HEIF)
        run_image_reader(d, n, name);
    double dt = now() - t0;
    if (dt > g_slowest) {
        g_slowest = dt;
        snprintf(g_slowest_name, sizeof g_slowest_name, "%s", name);
    }
    CHECK_MSG(dt < SLOW_SECONDS, "%s took %.1f s", name, dt);
}

/* ---- structure finders (independent of the library's parsers) ---- */

typedef struct field {
    size_t offset;   /* of the length/size field */
    size_t start;    /* of the whole segment/box */
    size_t length;   /* of the whole segment/box */
    int kind;        /* 0 JPEG u16 length, 1 box u32 size */
} field;
#define MAX_FIELDS 64

/* JPEG header segments from the SOI at `soi` up to SOS. */
static size_t jpeg_fields(const uint8_t *d, size_t n, size_t soi, field *out, size_t cap, size_t count)
{
    size_t pos = soi + 2;
    while (count < cap && pos + 4 <= n && d[pos] == 0xFF) {
        uint8_t m = d[pos + 1];
        if (m == 0xFF) {
            pos++;
            continue;
        }
        if (m == 0xD9 || m == 0xD8)
            break;
        size_t len = gm_be16(d + pos + 2);
        out[count++] = (field){pos + 2, pos, len + 2, 0};
        if (m == 0xDA)
            break;
        pos += 2 + len;
    }
    return count;
}

/* ISOBMFF boxes in [start, end); descends into meta (FullBox), iprp, ipco,
 * iinf (FullBox + count) one level at a time. */
static size_t box_fields(const uint8_t *d, size_t n, size_t start, size_t end, int depth, field *out, size_t cap,
                         size_t count)
{
    size_t pos = start;
    while (count < cap && pos + 8 <= end) {
        uint64_t size = gm_be32(d + pos);
        uint32_t type = gm_be32(d + pos + 4);
        size_t hdr = 8;
        if (size == 1) {
            if (pos + 16 > end)
                break;
            size = ((uint64_t)gm_be32(d + pos + 8) << 32) | gm_be32(d + pos + 12);
            hdr = 16;
        } else if (size == 0) {
            size = end - pos;
        }
        if (size < hdr || size > end - pos)
            break;
        out[count++] = (field){pos, pos, (size_t)size, 1};
        if (depth < 3) {
            size_t skip = type == GM_4CC('m', 'e', 't', 'a') ? 4 : type == GM_4CC('i', 'i', 'n', 'f') ? 6 : 0;
            if (type == GM_4CC('m', 'e', 't', 'a') || type == GM_4CC('i', 'p', 'r', 'p') ||
                type == GM_4CC('i', 'p', 'c', 'o') || type == GM_4CC('i', 'i', 'n', 'f'))
                count = box_fields(d, n, pos + hdr + skip, pos + (size_t)size, depth + 1, out, cap, count);
        }
        pos += (size_t)size;
    }
    return count;
}

static void sweep(const char *path, const char *rel, uint64_t seed)
{
    size_t n;
    uint8_t *orig = tu_read(path, &n);
    CHECK_MSG(orig != NULL, "cannot read %s", path);
    if (!orig)
        return;
    uint8_t *m = malloc(n + 1);
    rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
    char how[96];

    /* The file itself. */
    run(orig, n, rel, "original");

    /* Truncation: every small prefix length that hits headers, then spread
     * over the file, then the last bytes. */
    static const size_t small[] = {0, 1, 2, 3, 4, 7, 8, 11, 12, 16, 20, 24, 32, 48, 64, 100, 128, 200, 256, 400,
                                   512, 1000, 2048, 4096};
    for (size_t i = 0; i < sizeof small / sizeof small[0] && small[i] < n; i++) {
        snprintf(how, sizeof how, "truncated to %zu", small[i]);
        run(orig, small[i], rel, how);
    }
    for (int k = 1; k < 16; k++) {
        size_t cut = (size_t)((double)n * k / 16);
        snprintf(how, sizeof how, "truncated to %zu", cut);
        run(orig, cut, rel, how);
    }
    for (size_t back = 1; back <= 3 && back < n; back++) {
        snprintf(how, sizeof how, "truncated to %zu", n - back);
        run(orig, n - back, rel, how);
    }

    /* Bit flips: 16 in the first 4 KB, 8 in the first 64 KB, 8 anywhere. */
    for (int i = 0; i < 32 && n > 0; i++) {
        size_t span = i < 16 ? GM_MIN(n, 4096) : i < 24 ? GM_MIN(n, 65536) : n;
        size_t at = (size_t)(rng() % span);
        unsigned bit = (unsigned)(rng() % 8);
        memcpy(m, orig, n);
        m[at] ^= (uint8_t)(1u << bit);
        snprintf(how, sizeof how, "bit %u of byte %zu flipped", bit, at);
        run(m, n, rel, how);
    }
    /* Overwritten runs of 1-16 bytes with 0x00, 0xFF or random bytes. */
    for (int i = 0; i < 8 && n > 0; i++) {
        size_t at = (size_t)(rng() % GM_MIN(n, 16384));
        size_t len = GM_MIN(1 + (size_t)(rng() % 16), n - at);
        int v = i % 3;
        memcpy(m, orig, n);
        for (size_t j = 0; j < len; j++)
            m[at + j] = v == 0 ? 0x00 : v == 1 ? 0xFF : (uint8_t)rng();
        snprintf(how, sizeof how, "%zu bytes at %zu set to %s", len, at, v == 0 ? "00" : v == 1 ? "FF" : "random");
        run(m, n, rel, how);
    }

    /* Structure: length fields and swaps. */
    field fs[MAX_FIELDS];
    size_t nf = 0;
    gainmap_file_format fmt = gainmap_detect_format(orig, n);
    if (fmt == GAINMAP_FORMAT_JPEG) {
        nf = jpeg_fields(orig, n, 0, fs, MAX_FIELDS, 0);
        /* The gain-map stream's segments too, located by the library on the original. */
        gainmap_ctx *ctx = gainmap_ctx_new();
        gainmap_file *f = NULL;
        if (gainmap_file_open_memory(ctx, orig, n, &f) == GAINMAP_OK) {
            const gainmap_info *info = gainmap_file_info(f);
            if (info->map_size && info->map_offset + 4 < n)
                nf = jpeg_fields(orig, n, (size_t)info->map_offset, fs, MAX_FIELDS, nf);
            gainmap_file_close(f);
        }
        gainmap_ctx_free(ctx);
    } else if (n >= 8 && !memcmp(orig + 4, "ftyp", 4)) {
        nf = box_fields(orig, n, 0, n, 0, fs, MAX_FIELDS, 0);
    }
    static const uint32_t jpeg_vals[] = {0, 1, 2, 3, 0xFFFF, 0x8000};
    static const uint32_t box_vals[] = {0, 1, 7, 8, 9, 0xFFFFFFFF, 0x80000000u};
    for (size_t i = 0; i < nf; i++) {
        const field *fl = &fs[i];
        for (int variant = 0; variant < 3; variant++) {
            memcpy(m, orig, n);
            uint32_t v;
            if (fl->kind == 0) {
                uint32_t len = (uint32_t)(fl->length - 2);
                v = variant == 0 ? jpeg_vals[(i + (size_t)rng()) % 6] : variant == 1 ? len + 1 : len - 1;
                v &= 0xFFFF;
                m[fl->offset] = (uint8_t)(v >> 8);
                m[fl->offset + 1] = (uint8_t)v;
            } else {
                uint32_t len = (uint32_t)fl->length;
                v = variant == 0 ? box_vals[(i + (size_t)rng()) % 7] : variant == 1 ? len + 1 : len - 1;
                m[fl->offset] = (uint8_t)(v >> 24);
                m[fl->offset + 1] = (uint8_t)(v >> 16);
                m[fl->offset + 2] = (uint8_t)(v >> 8);
                m[fl->offset + 3] = (uint8_t)v;
            }
            snprintf(how, sizeof how, "%s at %zu set to %u", fl->kind ? "box size" : "segment length",
                     fl->offset, v);
            run(m, n, rel, how);
        }
    }
    /* Swap neighbours (same stream / same parent: adjacent in the file). */
    for (size_t i = 0; i + 1 < nf; i++) {
        const field *a = &fs[i], *b = &fs[i + 1];
        if (a->start + a->length != b->start || b->start + b->length > n)
            continue;
        memcpy(m, orig, n);
        memcpy(m + a->start, orig + b->start, b->length);
        memcpy(m + a->start + b->length, orig + a->start, a->length);
        snprintf(how, sizeof how, "%s at %zu and %zu swapped", a->kind ? "boxes" : "segments", a->start, b->start);
        run(m, n, rel, how);
    }
    /* A duplicated segment/box and a removed one. */
    if (nf > 1) {
        size_t i = (size_t)(rng() % nf);
        const field *a = &fs[i];
        if (a->start + a->length <= n) {
            uint8_t *big = malloc(n + a->length);
            memcpy(big, orig, a->start + a->length);
            memcpy(big + a->start + a->length, orig + a->start, n - a->start);
            snprintf(how, sizeof how, "field at %zu duplicated", a->start);
            run(big, n + a->length, rel, how);
            free(big);
            memcpy(m, orig, a->start);
            memcpy(m + a->start, orig + a->start + a->length, n - a->start - a->length);
            snprintf(how, sizeof how, "field at %zu removed", a->start);
            run(m, n - a->length, rel, how);
        }
    }
    free(m);
    free(orig);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_sweep(void)
{
    const char *root = tu_corpus("");
    char rootbuf[4096];
    snprintf(rootbuf, sizeof rootbuf, "%s", root);
    char *files[256];
    size_t nfiles = 0;
    DIR *top = opendir(rootbuf);
    CHECK_MSG(top != NULL, "no corpus at %s", rootbuf);
    if (!top)
        return;
    struct dirent *c;
    while ((c = readdir(top)) != NULL) {
        if (c->d_name[0] == '.')
            continue;
        char dir[4600];
        snprintf(dir, sizeof dir, "%s/%s", rootbuf, c->d_name);
        DIR *sub = opendir(dir);
        if (!sub)
            continue;
        struct dirent *e;
        while ((e = readdir(sub)) != NULL && nfiles < 256) {
            if (e->d_name[0] == '.')
                continue;
            char rel[600];
            snprintf(rel, sizeof rel, "%s/%s", c->d_name, e->d_name);
            files[nfiles++] = strdup(rel);
        }
        closedir(sub);
    }
    closedir(top);
    qsort(files, nfiles, sizeof files[0], by_name);
    CHECK_MSG(nfiles >= 40, "only %zu corpus files", nfiles);
    double t0 = now();
    for (size_t i = 0; i < nfiles; i++) {
        char path[5200];
        snprintf(path, sizeof path, "%s/%s", rootbuf, files[i]);
        sweep(path, files[i], i + 1);
        free(files[i]);
    }
    printf("mutation sweep: %zu corpus files, %ld mutated inputs (%ld opened, %ld refused with a message; "
           "%ld decoded, %ld HEIF parsed, %ld images read) in %.1f s; slowest %.2f s: %s\n",
           nfiles, g_mutants, g_ok, g_errors, g_decoded, g_heif_parsed, g_images, now() - t0, g_slowest,
           g_slowest_name);
    /* The sweep reaches every path (a sweep that never decodes tests nothing). */
    CHECK(g_mutants > 1000 / g_stride);
    CHECK(g_decoded > 0);
    CHECK(g_heif_parsed > 0);
    CHECK(g_images > 0);
    CHECK(g_errors > 0 && g_ok > 0);
}

int main(void)
{
    const char *q = getenv("GM_TEST_QUICK");
    if (q && *q && strcmp(q, "0") != 0)
        g_stride = 8;
    RUN_TEST(test_sweep);
    TEST_SUMMARY();
}

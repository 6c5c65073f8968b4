/* test_faults_limits.c - a tiny file claiming 60000x60000 pixels is refused
 * at once, with a clear message, before any pixel memory is allocated: for
 * every format (JPEG, PNG, TIFF, OpenEXR, Radiance .hdr, PFM, PPM, HEIF) and
 * for either stream of a gain-map JPEG.
 *
 * 60000x60000 is inside the default dimension limit (65535) but is 3.6
 * gigapixels, over the default 256 MP limit, so the pixel limit must catch
 * it.  "Without allocating" is checked three ways: the status is LIMIT (not
 * NOMEM), the call returns within a fraction of a second, and - outside
 * sanitizer/valgrind runs - each call is repeated in a child process whose
 * address space is capped 256 MB above what it already uses, where an
 * attempt to allocate the 10+ GB of pixels would fail differently. */
#include "check.h"
#include "internal.h"
#include "support/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define GM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GM_ASAN 1
#endif
#endif

#define BIG 60000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef gainmap_status (*reader_fn)(gainmap_ctx *ctx, const uint8_t *data, size_t size);

static gainmap_status read_image(gainmap_ctx *ctx, const uint8_t *d, size_t n)
{
    gainmap_image img;
    gainmap_status st = gainmap_image_read_memory(ctx, d, n, &img);
    if (st == GAINMAP_OK)
        gainmap_image_free(&img);
    return st;
}

static gainmap_status read_jpeg(gainmap_ctx *ctx, const uint8_t *d, size_t n)
{
    gainmap_image img;
    gainmap_status st = gainmap_jpeg_decode(ctx, d, n, &img);
    if (st == GAINMAP_OK)
        gainmap_image_free(&img);
    return st;
}

static gainmap_status decode_file(gainmap_ctx *ctx, const uint8_t *d, size_t n)
{
    gainmap_file *f = NULL;
    gainmap_status st = gainmap_file_open_memory(ctx, d, n, &f);
    if (st != GAINMAP_OK)
        return st;
    gainmap_image img;
    st = gainmap_decode(ctx, f, NULL, &img);
    if (st == GAINMAP_OK)
        gainmap_image_free(&img);
    gainmap_file_close(f);
    return st;
}

static gainmap_status decode_heif_primary(gainmap_ctx *ctx, const uint8_t *d, size_t n)
{
    gm_heif *h = NULL;
    gainmap_status st = gm_heif_parse(ctx, d, n, &h);
    if (st != GAINMAP_OK)
        return st;
    gainmap_image img;
    st = gm_heif_decode_item(ctx, h, h->primary_id, 0, &img);
    if (st == GAINMAP_OK)
        gainmap_image_free(&img);
    gm_heif_free(h);
    return st;
}

#if !defined(GM_ASAN)
static long vm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}
#endif

/* The reader refuses the file with LIMIT, quickly, naming the size. */
static void expect_refused(const char *what, reader_fn fn, const uint8_t *d, size_t n)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    double t0 = now();
    gainmap_status st = fn(ctx, d, n);
    double dt = now() - t0;
    const char *msg = gainmap_last_error(ctx);
    printf("  %-26s %zu bytes -> %s: %s (%.1f ms)\n", what, n, gainmap_strerror(st), msg, dt * 1e3);
    CHECK_MSG(st == GAINMAP_ERR_LIMIT, "%s: status %s (%s)", what, gainmap_strerror(st), msg);
    CHECK_MSG(strstr(msg, "60000x60000") != NULL, "%s: message does not give the size: %s", what, msg);
    CHECK_MSG(strstr(msg, "limit") != NULL, "%s: message does not name the limit: %s", what, msg);
    CHECK_MSG(dt < 0.5, "%s took %.2f s", what, dt);
    gainmap_ctx_free(ctx);
#if !defined(GM_ASAN)
    if (getenv("GM_UNDER_VALGRIND"))
        return;
    /* Again with the address space capped: allocating the pixels is impossible. */
    long kb = vm_kb();
    if (kb <= 0)
        return;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {(rlim_t)(kb + 256 * 1024) * 1024, (rlim_t)(kb + 256 * 1024) * 1024};
        setrlimit(RLIMIT_AS, &rl);
        gainmap_ctx *c2 = gainmap_ctx_new();
        gainmap_status s2 = fn(c2, d, n);
        gainmap_ctx_free(c2);
        _exit(s2 == GAINMAP_ERR_LIMIT ? 0 : 10 + (int)s2);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s under a 256 MB address-space cap: %s", what,
              WIFEXITED(status) ? gainmap_strerror((gainmap_status)(WEXITSTATUS(status) - 10)) : "crashed");
#endif
}

static void put32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void test_png(void)
{
    uint8_t f[8 + 25 + 12];
    memcpy(f, "\x89PNG\r\n\x1a\n", 8);
    put32be(f + 8, 13);
    memcpy(f + 12, "IHDR", 4);
    put32be(f + 16, BIG);
    put32be(f + 20, BIG);
    f[24] = 16;   /* depth */
    f[25] = 2;    /* RGB */
    f[26] = f[27] = f[28] = 0;
    put32be(f + 29, (uint32_t)crc32(0, f + 12, 17));
    put32be(f + 33, 0);
    memcpy(f + 37, "IEND", 4);
    put32be(f + 41, (uint32_t)crc32(0, f + 37, 4));
    expect_refused("PNG", read_image, f, sizeof f);
}

static void tiff_entry(uint8_t *p, uint16_t tag, uint16_t type, uint32_t count, uint32_t value)
{
    p[0] = (uint8_t)tag, p[1] = (uint8_t)(tag >> 8);
    p[2] = (uint8_t)type, p[3] = (uint8_t)(type >> 8);
    p[4] = (uint8_t)count, p[5] = (uint8_t)(count >> 8), p[6] = (uint8_t)(count >> 16), p[7] = (uint8_t)(count >> 24);
    if (type == 3 && count == 1)
        p[8] = (uint8_t)value, p[9] = (uint8_t)(value >> 8), p[10] = p[11] = 0;
    else
        p[8] = (uint8_t)value, p[9] = (uint8_t)(value >> 8), p[10] = (uint8_t)(value >> 16),
        p[11] = (uint8_t)(value >> 24);
}

static void test_tiff(void)
{
    uint8_t f[8 + 2 + 10 * 12 + 4 + 16];
    memset(f, 0, sizeof f);
    memcpy(f, "II*\0\x08\0\0\0", 8);
    f[8] = 10;
    uint8_t *e = f + 10;
    uint32_t data_at = 8 + 2 + 10 * 12 + 4;
    tiff_entry(e + 0 * 12, 256, 4, 1, BIG);       /* ImageWidth */
    tiff_entry(e + 1 * 12, 257, 4, 1, BIG);       /* ImageLength */
    tiff_entry(e + 2 * 12, 258, 3, 1, 16);        /* BitsPerSample */
    tiff_entry(e + 3 * 12, 259, 3, 1, 1);         /* Compression none */
    tiff_entry(e + 4 * 12, 262, 3, 1, 1);         /* BlackIsZero */
    tiff_entry(e + 5 * 12, 273, 4, 1, data_at);   /* StripOffsets */
    tiff_entry(e + 6 * 12, 277, 3, 1, 1);         /* SamplesPerPixel */
    tiff_entry(e + 7 * 12, 278, 4, 1, BIG);       /* RowsPerStrip */
    tiff_entry(e + 8 * 12, 279, 4, 1, 16);        /* StripByteCounts */
    tiff_entry(e + 9 * 12, 284, 3, 1, 1);         /* PlanarConfig contig */
    expect_refused("TIFF", read_image, f, sizeof f);
}

static size_t exr_attr(uint8_t *p, const char *name, const char *type, const void *v, uint32_t size)
{
    size_t n = 0;
    memcpy(p + n, name, strlen(name) + 1), n += strlen(name) + 1;
    memcpy(p + n, type, strlen(type) + 1), n += strlen(type) + 1;
    p[n++] = (uint8_t)size, p[n++] = (uint8_t)(size >> 8), p[n++] = 0, p[n++] = 0;
    memcpy(p + n, v, size);
    return n + size;
}

static void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static void test_exr(void)
{
    uint8_t f[1024];
    size_t n = 0;
    memcpy(f, "\x76\x2f\x31\x01\x02\0\0\0", 8), n = 8;
    uint8_t ch[64];
    size_t c = 0;
    for (const char *name = "BGR"; *name; name++) {
        ch[c++] = (uint8_t)*name, ch[c++] = 0;
        le32(ch + c, 1), c += 4;             /* HALF */
        memset(ch + c, 0, 4), c += 4;        /* pLinear + reserved */
        le32(ch + c, 1), c += 4;             /* xSampling */
        le32(ch + c, 1), c += 4;             /* ySampling */
    }
    ch[c++] = 0;
    n += exr_attr(f + n, "channels", "chlist", ch, (uint32_t)c);
    uint8_t zero = 0;
    n += exr_attr(f + n, "compression", "compression", &zero, 1);
    uint8_t box[16];
    le32(box, 0), le32(box + 4, 0), le32(box + 8, BIG - 1), le32(box + 12, BIG - 1);
    n += exr_attr(f + n, "dataWindow", "box2i", box, 16);
    n += exr_attr(f + n, "displayWindow", "box2i", box, 16);
    n += exr_attr(f + n, "lineOrder", "lineOrder", &zero, 1);
    float one = 1.0f, v2[2] = {0, 0};
    n += exr_attr(f + n, "pixelAspectRatio", "float", &one, 4);
    n += exr_attr(f + n, "screenWindowCenter", "v2f", v2, 8);
    n += exr_attr(f + n, "screenWindowWidth", "float", &one, 4);
    f[n++] = 0;
    memset(f + n, 0, 64), n += 64;   /* the start of an offset table */
    expect_refused("OpenEXR", read_image, f, n);
}

static void test_text_formats(void)
{
    const char hdr[] = "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 60000 +X 60000\n\x80\x80\x80\x81";
    expect_refused("Radiance .hdr", read_image, (const uint8_t *)hdr, sizeof hdr - 1);
    const char pfm[] = "PF\n60000 60000\n-1.0\n\0\0\0\0\0\0\0\0\0\0\0\0";
    expect_refused("PFM", read_image, (const uint8_t *)pfm, sizeof pfm - 1);
    const char ppm[] = "P6\n60000 60000\n255\n\1\2\3";
    expect_refused("PPM (P6)", read_image, (const uint8_t *)ppm, sizeof ppm - 1);
    const char pgm[] = "P5\n60000 60000\n65535\n\1\2";
    expect_refused("PGM (P5, 16-bit)", read_image, (const uint8_t *)pgm, sizeof pgm - 1);
}

/* Set the SOF dimensions of the JPEG stream at data[start]. */
static bool patch_sof(uint8_t *d, size_t n, size_t start)
{
    size_t pos = start + 2;
    while (pos + 9 < n && d[pos] == 0xFF) {
        uint8_t m = d[pos + 1];
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            d[pos + 5] = BIG >> 8, d[pos + 6] = BIG & 0xFF;   /* height */
            d[pos + 7] = BIG >> 8, d[pos + 8] = BIG & 0xFF;   /* width */
            return true;
        }
        if (m == 0xDA)
            return false;
        pos += 2 + gm_be16(d + pos + 2);
    }
    return false;
}

static void test_jpeg(void)
{
    gainmap_image img;
    CHECK_INT(gainmap_image_alloc(NULL, &img, 16, 16, 3, GAINMAP_PIXEL_U8), GAINMAP_OK);
    uint8_t *jpg = NULL;
    size_t n = 0;
    CHECK_INT(gm_jpeg_encode(NULL, &img, 90, 420, 0, NULL, &jpg, &n), GAINMAP_OK);
    gainmap_image_free(&img);
    CHECK(jpg && patch_sof(jpg, n, 0));
    if (jpg)
        expect_refused("JPEG (gainmap_jpeg_decode)", read_jpeg, jpg, n);
    free(jpg);
}

/* Both streams of a real gain-map JPEG (31x32 base and map). */
static void test_gainmap_jpeg_streams(void)
{
    size_t n;
    uint8_t *orig = tu_read(tu_corpus("ultrahdr_v1_xmp_mpf/gmspec__rgba_uhdr.jpg"), &n);
    CHECK(orig != NULL);
    if (!orig)
        return;
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = NULL;
    CHECK_INT(gainmap_file_open_memory(ctx, orig, n, &f), GAINMAP_OK);
    size_t map_at = f ? (size_t)gainmap_file_info(f)->map_offset : 0;
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
    CHECK(map_at > 0);

    uint8_t *m = malloc(n);
    memcpy(m, orig, n);
    CHECK(patch_sof(m, n, map_at));
    expect_refused("gain-map JPEG, map stream", decode_file, m, n);
    memcpy(m, orig, n);
    CHECK(patch_sof(m, n, 0));
    expect_refused("gain-map JPEG, base stream", decode_file, m, n);
    free(m);
    free(orig);
}

/* Every 'ispe' of a small AVIF set to 60000x60000. */
static void test_heif(void)
{
    static const char *const files[] = {"avif_adobe_aux/libavif__colors_hdr_p3.avif",
                                        "hdr_master/libavif__colors_wcg_hdr_rec2020.avif"};
    for (size_t k = 0; k < 2; k++) {
        size_t n;
        uint8_t *d = tu_read(tu_corpus(files[k]), &n);
        CHECK(d != NULL);
        if (!d)
            continue;
        int patched = 0;
        for (size_t i = 4; i + 16 <= n; i++)
            if (!memcmp(d + i, "ispe", 4) && gm_be32(d + i - 4) == 20) {
                put32be(d + i + 8, BIG);
                put32be(d + i + 12, BIG);
                patched++;
            }
        CHECK(patched > 0);
        expect_refused(k ? "HEIF/AVIF primary (2)" : "HEIF/AVIF primary", decode_heif_primary, d, n);
        /* Through the file API: refused when opened or decoded, never allocated. */
        gainmap_ctx *ctx = gainmap_ctx_new();
        gainmap_file *f = NULL;
        gainmap_status st = gainmap_file_open_memory(ctx, d, n, &f);
        if (st == GAINMAP_OK && gainmap_file_info(f)->has_gainmap) {
            gainmap_file_close(f);
            expect_refused("HEIF/AVIF gain-map decode", decode_file, d, n);
        } else {
            gainmap_file_close(f);
            CHECK(st == GAINMAP_OK || gainmap_last_error(ctx)[0]);
        }
        gainmap_ctx_free(ctx);
        free(d);
    }
}

/* The limits are options: raising the pixel limit lets the same PFM header
 * through to the next check (the data is missing), lowering it refuses a
 * real small image. */
static void test_limits_are_options(void)
{
    const char pfm[] = "PF\n64 64\n-1.0\n";
    gainmap_ctx *ctx = gainmap_ctx_new();
    CHECK_INT(gainmap_set_option(ctx, GAINMAP_OPT_MAX_PIXELS, 1000), GAINMAP_OK);
    gainmap_image img;
    CHECK_INT(gainmap_image_read_memory(ctx, (const uint8_t *)pfm, sizeof pfm - 1, &img), GAINMAP_ERR_LIMIT);
    CHECK_CONTAINS(gainmap_last_error(ctx), "64x64 = 4096 pixels, more than the limit of 1000");
    gainmap_clear_error(ctx);
    CHECK_INT(gainmap_set_option(ctx, GAINMAP_OPT_MAX_PIXELS, 4096), GAINMAP_OK);
    CHECK_INT(gainmap_set_option(ctx, GAINMAP_OPT_MAX_DIMENSION, 63), GAINMAP_OK);
    CHECK_INT(gainmap_image_read_memory(ctx, (const uint8_t *)pfm, sizeof pfm - 1, &img), GAINMAP_ERR_LIMIT);
    CHECK_CONTAINS(gainmap_last_error(ctx), "larger than the 63-pixel dimension limit");
    gainmap_clear_error(ctx);
    CHECK_INT(gainmap_set_option(ctx, GAINMAP_OPT_MAX_DIMENSION, 64), GAINMAP_OK);
    CHECK_INT(gainmap_image_read_memory(ctx, (const uint8_t *)pfm, sizeof pfm - 1, &img), GAINMAP_ERR_TRUNCATED);
    gainmap_ctx_free(ctx);
}

int main(void)
{
    RUN_TEST(test_png);
    RUN_TEST(test_tiff);
    RUN_TEST(test_exr);
    RUN_TEST(test_text_formats);
    RUN_TEST(test_jpeg);
    RUN_TEST(test_gainmap_jpeg_streams);
    RUN_TEST(test_heif);
    RUN_TEST(test_limits_are_options);
    TEST_SUMMARY();
}

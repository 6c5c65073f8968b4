/* test_image_bad.c - every image reader against generated bad input
 * (truncated, garbage, wrong magic, absurd dimensions, oversized metadata,
 * failing allocations): one sentence naming the problem, the right status,
 * a zeroed output, and through the CLI exactly one line on stderr, exit 1. */
#include "check.h"
#include "internal.h"
#include "support/testutil.h"

#include <zlib.h>

static const char *dir;

typedef struct blob {
    uint8_t *data;
    size_t size;
} blob;

/* Read bytes through the public API; check status, message and zeroed output. */
static void expect(const uint8_t *data, size_t size, gainmap_status want, const char *msg_part, int line)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    memset(&img, 0x5a, sizeof img);
    gainmap_status st = gainmap_image_read_memory(ctx, data, size, &img);
    CHECK_MSG(st == want, "line %d: status %s (%s), expected %s", line, gainmap_strerror(st), gainmap_last_error(ctx),
              gainmap_strerror(want));
    CHECK_MSG(strstr(gainmap_last_error(ctx), msg_part) != NULL, "line %d: message \"%s\" lacks \"%s\"", line,
              gainmap_last_error(ctx), msg_part);
    CHECK_MSG(!strchr(gainmap_last_error(ctx), '\n'), "line %d: message has a newline", line);
    if (st == GAINMAP_OK)
        gainmap_image_free(&img);
    else
        CHECK_MSG(img.data == NULL && img.width == 0 && img.icc == NULL, "line %d: output not zeroed", line);
    gainmap_ctx_free(ctx);
}
#define EXPECT(d, n, st, msg) expect((const uint8_t *)(d), (n), (st), (msg), __LINE__)

static blob written(const char *name, gainmap_file_format fmt, uint32_t w, uint32_t h)
{
    gainmap_image img;
    gainmap_image_alloc(NULL, &img, w, h, 3, GAINMAP_PIXEL_U16);
    uint32_t s = 12345;
    for (size_t i = 0; i < (size_t)w * h * 3; i++) {
        s = s * 1103515245u + 12345u;
        ((uint16_t *)img.data)[i] = (uint16_t)(s >> 16);
    }
    img.transfer = GAINMAP_TRANSFER_PQ;
    img.primaries = GAINMAP_PRIMARIES_BT2020;
    const char *p = tu_path(dir, name);
    gainmap_ctx *ctx = gainmap_ctx_new();
    CHECK_INT(gainmap_image_write(ctx, p, &img, fmt), GAINMAP_OK);
    gainmap_ctx_free(ctx);
    gainmap_image_free(&img);
    blob b;
    b.data = tu_read(p, &b.size);
    CHECK(b.data != NULL);
    return b;
}

static size_t find(const blob *b, const char *what, size_t n)
{
    for (size_t i = 0; i + n <= b->size; i++)
        if (!memcmp(b->data + i, what, n))
            return i;
    return 0;
}

static void png_fix_crc(uint8_t *chunk_len_pos)
{
    uint32_t len = gm_be32(chunk_len_pos);
    uint32_t crc = (uint32_t)crc32(0, chunk_len_pos + 4, len + 4);
    uint8_t *c = chunk_len_pos + 8 + len;
    c[0] = (uint8_t)(crc >> 24);
    c[1] = (uint8_t)(crc >> 16);
    c[2] = (uint8_t)(crc >> 8);
    c[3] = (uint8_t)crc;
}

static void test_png_bad(void)
{
    blob b = written("ok.png", GAINMAP_FORMAT_PNG, 64, 64);
    EXPECT(b.data, b.size, GAINMAP_OK, "");
    size_t idat = find(&b, "IDAT", 4);
    CHECK(idat > 0);
    EXPECT(b.data, idat + 40, GAINMAP_ERR_TRUNCATED, "PNG: truncated IDAT chunk");
    EXPECT(b.data, b.size - 2, GAINMAP_ERR_TRUNCATED, "PNG: truncated IEND chunk");
    EXPECT(b.data, b.size - 12, GAINMAP_ERR_TRUNCATED, "PNG: the file ends before its IEND chunk");
    EXPECT(b.data, 20, GAINMAP_ERR_TRUNCATED, "PNG: truncated before the end of the IHDR chunk");
    EXPECT(b.data, 7, GAINMAP_ERR_FORMAT, "not a PNG, TIFF, OpenEXR, Radiance .hdr, PFM, PPM or HEIF/AVIF image");

    uint8_t *m = malloc(b.size);
    /* Absurd dimensions with a correct CRC: refused before anything is allocated. */
    memcpy(m, b.data, b.size);
    memcpy(m + 16, "\x00\x00\xea\x60\x00\x00\xea\x60", 8); /* 60000 x 60000 */
    png_fix_crc(m + 8);
    EXPECT(m, b.size, GAINMAP_ERR_LIMIT, "PNG image is 60000x60000 = 3600000000 pixels, more than the limit");
    memcpy(m + 16, "\x00\x00\x00\x00\x00\x00\x00\x10", 8);
    png_fix_crc(m + 8);
    EXPECT(m, b.size, GAINMAP_ERR_CORRUPT, "PNG image has zero size (0x16)");
    /* CRC mismatch in IHDR. */
    memcpy(m, b.data, b.size);
    m[29] ^= 0xff;
    EXPECT(m, b.size, GAINMAP_ERR_CORRUPT, "PNG: IHDR: CRC error");
    /* Garbage inside the IDAT zlib stream (CRC made consistent). */
    memcpy(m, b.data, b.size);
    for (size_t i = idat + 6; i < idat + 60; i++)
        m[i] ^= 0x5a;
    png_fix_crc(m + idat - 4);
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    CHECK(gainmap_image_read_memory(ctx, m, b.size, &img) == GAINMAP_ERR_CORRUPT);
    CHECK_MSG(!strncmp(gainmap_last_error(ctx), "PNG: ", 5), "message: %s", gainmap_last_error(ctx));
    gainmap_ctx_free(ctx);
    /* IHDR not first. */
    memcpy(m, b.data, b.size);
    memcpy(m + 12, "IHDX", 4);
    EXPECT(m, b.size, GAINMAP_ERR_CORRUPT, "PNG: the first chunk is not a 13-byte IHDR");
    free(m);
    free(b.data);

    /* An iCCP over the metadata limit is refused while inflating. */
    gainmap_image a;
    gainmap_image_alloc(NULL, &a, 2, 2, 3, GAINMAP_PIXEL_U16);
    uint8_t icc[5000] = {0};
    gainmap_image_set_icc(&a, icc, sizeof icc);
    const char *p = tu_path(dir, "bigicc.png");
    CHECK_INT(gainmap_image_write(NULL, p, &a, GAINMAP_FORMAT_PNG), GAINMAP_OK);
    gainmap_image_free(&a);
    ctx = gainmap_ctx_new();
    gainmap_set_option(ctx, GAINMAP_OPT_MAX_METADATA_BYTES, 1000);
    CHECK_INT(gainmap_image_read(ctx, p, &img), GAINMAP_ERR_LIMIT);
    CHECK_CONTAINS(gainmap_last_error(ctx), "PNG iCCP profile is at least 5000 bytes");
    CHECK_CONTAINS(gainmap_last_error(ctx), "more than the 1000-byte metadata limit");
    gainmap_ctx_free(ctx);
}

/* A hand-made uncompressed TIFF: one strip of `datalen` zero bytes. */
static blob make_tiff(uint32_t w, uint32_t h, uint16_t spp, uint16_t bps, uint16_t photometric, uint32_t datalen)
{
    gm_buf b;
    gm_buf_init(&b);
    gm_buf_put(&b, "II*\0", 4);
    gm_buf_u32le(&b, 8);
    struct {
        uint16_t tag, type;
        uint32_t count, value;
    } e[] = {
        {256, 4, 1, w},   {257, 4, 1, h},           {258, 3, 1, bps}, {259, 3, 1, 1},
        {262, 3, 1, photometric}, {273, 4, 1, 0}, {277, 3, 1, spp}, {278, 4, 1, h},
        {279, 4, 1, datalen},
    };
    size_t n = sizeof e / sizeof e[0];
    uint32_t data_at = (uint32_t)(8 + 2 + n * 12 + 4);
    e[5].value = data_at;
    gm_buf_u16le(&b, (uint16_t)n);
    for (size_t i = 0; i < n; i++) {
        gm_buf_u16le(&b, e[i].tag);
        gm_buf_u16le(&b, e[i].type);
        gm_buf_u32le(&b, e[i].count);
        if (e[i].type == 3) {
            gm_buf_u16le(&b, (uint16_t)e[i].value);
            gm_buf_u16le(&b, 0);
        } else {
            gm_buf_u32le(&b, e[i].value);
        }
    }
    gm_buf_u32le(&b, 0);
    for (uint32_t i = 0; i < datalen; i++)
        gm_buf_u8(&b, (uint8_t)i);
    blob out;
    out.data = gm_buf_take(&b, &out.size);
    return out;
}

static void test_tiff_bad(void)
{
    blob t = make_tiff(4, 2, 3, 8, 2, 24);
    EXPECT(t.data, t.size, GAINMAP_OK, "");
    EXPECT(t.data, t.size - 5, GAINMAP_ERR_TRUNCATED, "TIFF: truncated: strip 0 runs past the end of the file");
    free(t.data);
    t = make_tiff(60000, 60000, 3, 8, 2, 24);
    EXPECT(t.data, t.size, GAINMAP_ERR_LIMIT, "TIFF image is 60000x60000 = 3600000000 pixels, more than the limit");
    free(t.data);
    t = make_tiff(4, 2, 7, 8, 2, 56);
    EXPECT(t.data, t.size, GAINMAP_ERR_UNSUPPORTED, "TIFF: unsupported 7 samples per pixel");
    free(t.data);
    t = make_tiff(4, 2, 3, 12, 2, 36);
    EXPECT(t.data, t.size, GAINMAP_ERR_UNSUPPORTED, "TIFF: unsupported 12-bit integer samples");
    free(t.data);
    t = make_tiff(4, 2, 1, 8, 0, 8); /* min-is-white */
    EXPECT(t.data, t.size, GAINMAP_ERR_UNSUPPORTED, "TIFF: unsupported photometric interpretation 0 with 1 samples");
    free(t.data);
    EXPECT("II*\0\x08\0\0\0", 8, GAINMAP_ERR_TRUNCATED, "TIFF: ");
    EXPECT("MM\0*\xff\xff\xff\xf0garbage-garbage-garbage", 31, GAINMAP_ERR_CORRUPT, "TIFF: ");

    /* A deflate TIFF cut inside its strips. */
    blob b = written("ok.tif", GAINMAP_FORMAT_TIFF, 64, 64);
    EXPECT(b.data, b.size, GAINMAP_OK, "");
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    gainmap_status st = gainmap_image_read_memory(ctx, b.data, b.size / 2, &img);
    CHECK(st == GAINMAP_ERR_CORRUPT || st == GAINMAP_ERR_TRUNCATED);
    CHECK_MSG(!strncmp(gainmap_last_error(ctx), "TIFF: ", 6), "message: %s", gainmap_last_error(ctx));
    CHECK(img.data == NULL);
    gainmap_ctx_free(ctx);
    free(b.data);
}

static void test_exr_bad(void)
{
    gainmap_image f;
    gainmap_image_alloc(NULL, &f, 40, 40, 3, GAINMAP_PIXEL_F32);
    for (size_t i = 0; i < 40 * 40 * 3; i++)
        ((float *)f.data)[i] = (float)(i % 97) * 0.37f;
    f.transfer = GAINMAP_TRANSFER_LINEAR;
    const char *p = tu_path(dir, "ok.exr");
    CHECK_INT(gainmap_image_write(NULL, p, &f, GAINMAP_FORMAT_EXR), GAINMAP_OK);
    gainmap_image_free(&f);
    blob b;
    b.data = tu_read(p, &b.size);
    EXPECT(b.data, b.size, GAINMAP_OK, "");
    EXPECT(b.data, 30, GAINMAP_ERR_TRUNCATED, "OpenEXR: cannot read the header");
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    CHECK(gainmap_image_read_memory(ctx, b.data, b.size - 200, &img) != GAINMAP_OK);
    CHECK_MSG(!strncmp(gainmap_last_error(ctx), "OpenEXR: ", 9), "message: %s", gainmap_last_error(ctx));
    CHECK(img.data == NULL);
    gainmap_ctx_free(ctx);
    uint8_t *m = malloc(b.size);
    memcpy(m, b.data, b.size);
    size_t dw = find(&b, "dataWindow", 11);
    CHECK(dw > 0);
    /* name\0 "box2i"\0 size(4) then xmin ymin xmax ymax */
    uint8_t *box = m + dw + 11 + 6 + 4;
    memcpy(box + 8, "\x5f\xea\0\0\x5f\xea\0\0", 8); /* 59999, 59999 */
    EXPECT(m, b.size, GAINMAP_ERR_LIMIT, "OpenEXR image is 60000x60000 = 3600000000 pixels, more than the limit");
    memcpy(m, b.data, b.size);
    memset(m + 8, 0xee, 64);
    ctx = gainmap_ctx_new();
    CHECK(gainmap_image_read_memory(ctx, m, b.size, &img) != GAINMAP_OK);
    CHECK_MSG(!strncmp(gainmap_last_error(ctx), "OpenEXR: ", 9), "message: %s", gainmap_last_error(ctx));
    gainmap_ctx_free(ctx);
    free(m);
    free(b.data);
}

static void test_rgbe_bad(void)
{
    static const char hdr[] = "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n";
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%s-Y 60000 +X 60000\n", hdr);
    EXPECT(buf, (size_t)n, GAINMAP_ERR_LIMIT, "RGBE image is 60000x60000");
    n = snprintf(buf, sizeof buf, "%s-Y 4000 +X 4000\nabc", hdr);
    EXPECT(buf, (size_t)n, GAINMAP_ERR_TRUNCATED, "RGBE: truncated pixel data (3 bytes for 4000 scanlines)");
    n = snprintf(buf, sizeof buf, "#?RADIANCE\nFORMAT=32-bit_rle_xyze\n\n-Y 1 +X 1\nabcd");
    EXPECT(buf, (size_t)n, GAINMAP_ERR_UNSUPPORTED, "RGBE: unsupported FORMAT=32-bit_rle_xyze");
    n = snprintf(buf, sizeof buf, "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n");
    EXPECT(buf, (size_t)n, GAINMAP_ERR_TRUNCATED, "RGBE: truncated header");
    n = snprintf(buf, sizeof buf, "%s+X 4 -Y 4\n", hdr);
    EXPECT(buf, (size_t)n, GAINMAP_ERR_UNSUPPORTED, "RGBE: unsupported resolution line '+X 4 -Y 4'");
    /* RLE scanline with a zero-length literal run. */
    n = snprintf(buf, sizeof buf, "%s-Y 2 +X 8\n", hdr);
    memcpy(buf + n, "\x02\x02\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 24);
    EXPECT(buf, (size_t)n + 24, GAINMAP_ERR_CORRUPT, "RGBE: bad run length in scanline 0");
    /* A run longer than the line. */
    memcpy(buf + n, "\x02\x02\x00\x08\xff\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 24);
    EXPECT(buf, (size_t)n + 24, GAINMAP_ERR_CORRUPT, "RGBE: a run overflows scanline 0");
    memcpy(buf + n, "\x02\x02\x00\x09", 4);
    EXPECT(buf, (size_t)n + 24, GAINMAP_ERR_CORRUPT, "RGBE: scanline 0 says width 9, not 8");
    /* The real master cut in half. */
    blob b;
    const char *cp = tu_corpus("hdr_master/gainmapjs__memorial.hdr");
    if (!tu_exists(cp)) {
        static char alt[4096];
        snprintf(alt, sizeof alt, "%s/hdr_master/gainmapjs__memorial.hdr", GM_CORPUS_DIR);
        cp = alt;
    }
    b.data = tu_read(cp, &b.size);
    CHECK(b.data != NULL);
    if (b.data) {
        EXPECT(b.data, b.size / 2, GAINMAP_ERR_TRUNCATED, "RGBE: truncated pixel data at scanline");
        EXPECT(b.data, 5, GAINMAP_ERR_FORMAT, "not a PNG, TIFF");
    }
    free(b.data);
}

static void test_pfm_ppm_bad(void)
{
    EXPECT("PF\n60000 60000\n-1.0\n", 20, GAINMAP_ERR_LIMIT, "PFM image is 60000x60000");
    EXPECT("PF\n2 2\n-1.0\n0123456789", 22, GAINMAP_ERR_TRUNCATED, "PFM: truncated pixel data (10 of 48 bytes)");
    EXPECT("PF\n2 2\nabc\n", 11, GAINMAP_ERR_CORRUPT, "PFM: bad scale 'abc'");
    EXPECT("PF\n0 2\n-1.0\n", 12, GAINMAP_ERR_CORRUPT, "PFM image has zero size (0x2)");
    EXPECT("PF\n2 x\n-1.0\n", 12, GAINMAP_ERR_CORRUPT, "PFM: the header has no valid width and height");
    EXPECT("PF\n2 2\n-1.0", 11, GAINMAP_ERR_TRUNCATED, "PFM: truncated header");
    EXPECT("P6\n60000 60000\n255\n", 19, GAINMAP_ERR_LIMIT, "PPM image is 60000x60000");
    EXPECT("P6\n2 2\n70000\n", 13, GAINMAP_ERR_CORRUPT, "PPM: maxval must be 1 to 65535");
    EXPECT("P6\n2 2\n0\n", 9, GAINMAP_ERR_CORRUPT, "PPM: maxval must be 1 to 65535");
    EXPECT("P6\n2 2\n65535\n0123", 17, GAINMAP_ERR_TRUNCATED, "PPM: truncated pixel data (4 of 24 bytes)");
    EXPECT("P5\n-1 2\n255\n", 12, GAINMAP_ERR_CORRUPT, "PPM: the header has no valid width and height");
    EXPECT("P6\n99999999999 2\n255\n", 21, GAINMAP_ERR_CORRUPT, "PPM: the header has no valid width and height");
}

static void test_other_bad(void)
{
    EXPECT("", 0, GAINMAP_ERR_TRUNCATED, "the file is empty");
    EXPECT("hello, world", 12, GAINMAP_ERR_FORMAT,
           "not a PNG, TIFF, OpenEXR, Radiance .hdr, PFM, PPM or HEIF/AVIF image (unrecognised first bytes)");
    EXPECT("\xff\xd8\xff\xe0\0\x10JFIF", 10, GAINMAP_ERR_UNSUPPORTED,
           "this is a JPEG; read JPEG photos with the gain-map commands");
    /* HEIF/AVIF goes to the container reader (a PQ/HLG primary is read: tests/test_plain_hdr.c) */
    EXPECT("\0\0\0\x18" "ftypavif\0\0\0\0", 16, GAINMAP_ERR_TRUNCATED,
           "'ftyp' box at offset 0 claims 24 bytes but only 16 remain");
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    CHECK_INT(gainmap_image_read(ctx, tu_path(dir, "missing.png"), &img), GAINMAP_ERR_IO);
    CHECK_STR(gainmap_last_error(ctx), "cannot open: No such file or directory");
    gainmap_ctx_free(ctx);
}

/* Every allocation of ours failing in turn: clean failure, no leak, no crash. */
static void test_alloc_failures(void)
{
    static const gainmap_file_format fmts[] = {GAINMAP_FORMAT_PNG, GAINMAP_FORMAT_TIFF, GAINMAP_FORMAT_EXR,
                                               GAINMAP_FORMAT_PFM, GAINMAP_FORMAT_PPM};
    static const char *const names[] = {"a.png", "a.tif", "a.exr", "a.pfm", "a.ppm"};
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        blob b = written(names[f], fmts[f], 20, 20);
        int failures = 0, succeeded = 0;
        for (long n = 1; n <= 12; n++) {
            gainmap_ctx *ctx = gainmap_ctx_new();
            gainmap_image img;
            gm_fail_alloc_after(n);
            gainmap_status st = gainmap_image_read_memory(ctx, b.data, b.size, &img);
            gm_fail_alloc_after(0);
            if (st == GAINMAP_OK) {
                succeeded++;
                gainmap_image_free(&img);
            } else {
                failures++;
                CHECK_MSG(img.data == NULL && *gainmap_last_error(ctx), "%s n=%ld: %s", names[f], n,
                          gainmap_last_error(ctx));
            }
            gainmap_ctx_free(ctx);
        }
        CHECK_MSG(failures >= 1 && succeeded >= 1, "%s: %d failures, %d successes", names[f], failures, succeeded);
        free(b.data);
    }
}

static void test_cli(void)
{
    blob b = written("src.png", GAINMAP_FORMAT_PNG, 64, 64);
    size_t idat = find(&b, "IDAT", 4);
    tu_write(tu_path(dir, "bad.png"), b.data, idat + 40);
    free(b.data);
    char *out = NULL;
    int rc = tu_run(&out, "(cd '%s' && '%s' probe bad.png 2>&1 >/dev/null)", dir, tu_cli());
    CHECK_INT(rc, 1);
    CHECK_STR(out, "gainmap: bad.png: PNG: truncated IDAT chunk\n");
    free(out);
    rc = tu_run(&out, "(cd '%s' && '%s' probe bad.png 2>/dev/null)", dir, tu_cli());
    CHECK_INT(rc, 1);
    CHECK_STR(out, ""); /* nothing on stdout */
    free(out);
    tu_write(tu_path(dir, "huge.pfm"), "PF\n60000 60000\n-1.0\n", 20);
    rc = tu_run(&out, "(cd '%s' && '%s' probe huge.pfm 2>&1 >/dev/null)", dir, tu_cli());
    CHECK_INT(rc, 1);
    CHECK_STR(out, "gainmap: huge.pfm: PFM image is 60000x60000 = 3600000000 pixels, more than the limit of "
                   "268435456\n");
    free(out);
    tu_write(tu_path(dir, "seven.tif"), "", 0);
    blob t = make_tiff(4, 2, 7, 8, 2, 56);
    tu_write(tu_path(dir, "seven.tif"), t.data, t.size);
    free(t.data);
    rc = tu_run(&out, "(cd '%s' && '%s' probe seven.tif 2>&1 >/dev/null)", dir, tu_cli());
    CHECK_INT(rc, 1);
    CHECK_STR(out, "gainmap: seven.tif: TIFF: unsupported 7 samples per pixel\n");
    free(out);
    rc = tu_run(&out, "(cd '%s' && '%s' recode bad.png -o out.exr 2>&1 >/dev/null)", dir, tu_cli());
    CHECK_INT(rc, 1);
    CHECK_STR(out, "gainmap: bad.png: PNG: truncated IDAT chunk\n");
    free(out);
    CHECK(!tu_exists(tu_path(dir, "out.exr")));
}

int main(void)
{
    dir = tu_tmpdir("test_image_bad");
    RUN_TEST(test_png_bad);
    RUN_TEST(test_tiff_bad);
    RUN_TEST(test_exr_bad);
    RUN_TEST(test_rgbe_bad);
    RUN_TEST(test_pfm_ppm_bad);
    RUN_TEST(test_other_bad);
    RUN_TEST(test_alloc_failures);
    RUN_TEST(test_cli);
    TEST_SUMMARY();
}

/* test_jpeg_codec.c - gm_jpeg_encode / gainmap_jpeg_decode: round trips,
 * inserted segments, clean errors on damaged data, limits from the header. */
#include "check.h"
#include "internal.h"

#include <stdio.h>

#include <jpeglib.h>

/* A smooth test picture (JPEG-friendly, so PSNR is high at q95). */
static void make_image(gainmap_image *img, uint32_t w, uint32_t h, uint32_t ch)
{
    CHECK_INT(gainmap_image_alloc(NULL, img, w, h, ch, GAINMAP_PIXEL_U8), GAINMAP_OK);
    for (uint32_t y = 0; y < h; y++) {
        uint8_t *row = (uint8_t *)img->data + y * img->stride;
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t c = 0; c < ch; c++) {
                double v = 128 + 100 * sin((x * (c + 1) * 0.07) + y * 0.05 * (3 - c % 3));
                row[x * ch + c] = (uint8_t)(c == 3 ? 200 : v);
            }
    }
}

/* PSNR of b against the first `ch` channels of a. */
static double psnr(const gainmap_image *a, const gainmap_image *b, uint32_t ch)
{
    double se = 0;
    size_t n = 0;
    for (uint32_t y = 0; y < a->height; y++) {
        const uint8_t *ra = (const uint8_t *)a->data + y * a->stride;
        const uint8_t *rb = (const uint8_t *)b->data + y * b->stride;
        for (uint32_t x = 0; x < a->width; x++)
            for (uint32_t c = 0; c < ch; c++) {
                double d = (double)ra[x * a->channels + c] - rb[x * b->channels + c];
                se += d * d;
                n++;
            }
    }
    return se == 0 ? 99.0 : 10 * log10(255.0 * 255.0 / (se / (double)n));
}

static void round_trip(uint32_t w, uint32_t h, uint32_t ch, int sub, double min_psnr)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img, dec;
    make_image(&img, w, h, ch);
    uint8_t *jpg = NULL;
    size_t size = 0;
    CHECK_INT(gm_jpeg_encode(ctx, &img, 95, sub, 1, NULL, &jpg, &size), GAINMAP_OK);
    CHECK(size > 100 && jpg[0] == 0xFF && jpg[1] == 0xD8 && jpg[size - 2] == 0xFF && jpg[size - 1] == 0xD9);
    CHECK_INT(gainmap_jpeg_decode(ctx, jpg, size, &dec), GAINMAP_OK);
    CHECK_INT(dec.width, w);
    CHECK_INT(dec.height, h);
    CHECK_INT(dec.channels, ch == 1 ? 1 : 3);
    CHECK_INT(dec.type, GAINMAP_PIXEL_U8);
    CHECK_INT(dec.transfer, GAINMAP_TRANSFER_SRGB);
    double p = psnr(&img, &dec, ch == 1 ? 1 : 3);
    CHECK_MSG(p >= min_psnr, "%ux%ux%u %d: PSNR %.2f dB < %.1f", w, h, ch, sub, p, min_psnr);
    gainmap_free(jpg);
    gainmap_image_free(&img);
    gainmap_image_free(&dec);
    gainmap_ctx_free(ctx);
}

static void test_round_trips(void)
{
    round_trip(64, 48, 3, 444, 40.0);
    round_trip(61, 47, 3, 444, 40.0);   /* odd sizes, partial MCUs */
    round_trip(61, 47, 3, 420, 30.0);
    round_trip(64, 48, 3, 422, 32.0);
    round_trip(33, 17, 1, 420, 40.0);   /* grey stays grey */
    round_trip(40, 24, 4, 444, 40.0);   /* RGBA in, RGB out */
    round_trip(1, 1, 3, 444, 40.0);
}

static void test_segments_and_options(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    make_image(&img, 48, 32, 3);
    static const uint8_t exif[] = "Exif\0\0MM\0*\0\0\0\x08\0\0";
    static const uint8_t xmp[] = "http://ns.adobe.com/xap/1.0/\0<x/>";
    gm_jpeg_app segs[2] = {{0xE1, exif, sizeof exif - 1}, {0xE1, xmp, sizeof xmp - 1}};
    gm_jpeg_extra extra = {0, segs, 2, NULL, 0};
    uint8_t *jpg = NULL;
    size_t size = 0;

    /* JFIF off: the first segment follows SOI at once, byte for byte. */
    CHECK_INT(gm_jpeg_encode(ctx, &img, 90, 420, 1, &extra, &jpg, &size), GAINMAP_OK);
    CHECK(size > 40 && jpg[2] == 0xFF && jpg[3] == 0xE1);
    CHECK_INT(gm_be16(jpg + 4), sizeof exif - 1 + 2);
    CHECK(memcmp(jpg + 6, exif, sizeof exif - 1) == 0);
    size_t next = 4 + gm_be16(jpg + 4);
    CHECK(jpg[next] == 0xFF && jpg[next + 1] == 0xE1);
    CHECK(memcmp(jpg + next + 4, xmp, sizeof xmp - 1) == 0);
    size_t size_opt = size;
    gainmap_free(jpg);

    /* JFIF on: APP0 JFIF first, then ours. */
    extra.jfif = 1;
    CHECK_INT(gm_jpeg_encode(ctx, &img, 90, 420, 0, &extra, &jpg, &size), GAINMAP_OK);
    CHECK(jpg[2] == 0xFF && jpg[3] == 0xE0 && memcmp(jpg + 6, "JFIF", 5) == 0);
    next = 4 + gm_be16(jpg + 4);
    CHECK(jpg[next] == 0xFF && jpg[next + 1] == 0xE1 && memcmp(jpg + next + 4, exif, 6) == 0);
    /* Optimised Huffman tables are smaller than the standard ones (minus the 18-byte APP0). */
    CHECK_MSG(size_opt < size - 18, "optimised %zu, standard %zu", size_opt, size);
    gainmap_free(jpg);

    /* No extra: JFIF by default. */
    CHECK_INT(gm_jpeg_encode(ctx, &img, 90, 444, 1, NULL, &jpg, &size), GAINMAP_OK);
    CHECK(jpg[3] == 0xE0);
    gainmap_free(jpg);

    /* ICC profile comes back from the decoder. */
    uint8_t icc[700];
    for (size_t i = 0; i < sizeof icc; i++)
        icc[i] = (uint8_t)(i * 7 + 3);
    gm_jpeg_extra with_icc = {1, NULL, 0, icc, sizeof icc};
    CHECK_INT(gm_jpeg_encode(ctx, &img, 90, 444, 1, &with_icc, &jpg, &size), GAINMAP_OK);
    gainmap_image dec;
    CHECK_INT(gainmap_jpeg_decode(ctx, jpg, size, &dec), GAINMAP_OK);
    CHECK_INT(dec.icc_size, sizeof icc);
    CHECK(dec.icc && memcmp(dec.icc, icc, sizeof icc) == 0);
    gainmap_image_free(&dec);
    gainmap_free(jpg);

    /* Argument errors name the problem. */
    CHECK_INT(gm_jpeg_encode(ctx, &img, 0, 444, 1, NULL, &jpg, &size), GAINMAP_ERR_INVALID_ARG);
    CHECK_STR(gainmap_last_error(ctx), "JPEG quality must be 1 to 100, not 0");
    gainmap_clear_error(ctx);
    CHECK_INT(gm_jpeg_encode(ctx, &img, 90, 411, 1, NULL, &jpg, &size), GAINMAP_ERR_INVALID_ARG);
    CHECK_STR(gainmap_last_error(ctx), "JPEG subsampling must be 444, 422 or 420, not 411");
    gainmap_clear_error(ctx);
    gm_jpeg_app bad = {0xDB, exif, 4};
    gm_jpeg_extra bad_extra = {0, &bad, 1, NULL, 0};
    CHECK_INT(gm_jpeg_encode(ctx, &img, 90, 444, 1, &bad_extra, &jpg, &size), GAINMAP_ERR_INVALID_ARG);
    CHECK(jpg == NULL && size == 0);
    gainmap_image_free(&img);
    gainmap_ctx_free(ctx);
}

static uint8_t *encode_small(uint32_t w, uint32_t h, uint32_t ch, size_t *size)
{
    gainmap_image img;
    make_image(&img, w, h, ch);
    uint8_t *jpg = NULL;
    CHECK_INT(gm_jpeg_encode(NULL, &img, 90, 420, 1, NULL, &jpg, size), GAINMAP_OK);
    gainmap_image_free(&img);
    return jpg;
}

static void test_truncated(void)
{
    size_t size;
    uint8_t *jpg = encode_small(40, 30, 3, &size);
    gainmap_ctx *ctx = gainmap_ctx_new();
    int failures = 0, wrong_status = 0;
    for (size_t cut = 0; cut < size; cut++) {
        uint8_t *copy = malloc(cut + 1);   /* exact-size copy so ASan sees overreads */
        memcpy(copy, jpg, cut);
        gainmap_image dec;
        gainmap_clear_error(ctx);
        gainmap_status st = gainmap_jpeg_decode(ctx, copy, cut, &dec);
        if (st == GAINMAP_OK)
            failures++;
        else if (cut >= 4 && st != GAINMAP_ERR_TRUNCATED)
            wrong_status++;
        CHECK(dec.data == NULL);
        if (st != GAINMAP_OK && (!*gainmap_last_error(ctx) || strchr(gainmap_last_error(ctx), '\n')))
            failures++;
        gainmap_image_free(&dec);
        free(copy);
    }
    CHECK_INT(failures, 0);
    CHECK_INT(wrong_status, 0);
    gainmap_image dec;
    gainmap_clear_error(ctx);
    CHECK_INT(gainmap_jpeg_decode(ctx, jpg, size - 100, &dec), GAINMAP_ERR_TRUNCATED);
    CHECK_STR(gainmap_last_error(ctx), "the JPEG data ends before the image is complete");
    gainmap_clear_error(ctx);
    CHECK_INT(gainmap_jpeg_decode(ctx, (const uint8_t *)"GIF89a", 6, &dec), GAINMAP_ERR_FORMAT);
    CHECK_STR(gainmap_last_error(ctx), "the data does not start with a JPEG SOI marker");
    gainmap_ctx_free(ctx);
    gainmap_free(jpg);
}

static size_t find_marker(const uint8_t *d, size_t n, uint8_t m)
{
    for (size_t i = 2; i + 1 < n; i++)
        if (d[i] == 0xFF && d[i + 1] == m)
            return i;
    return 0;
}

static void test_corrupt(void)
{
    size_t size;
    uint8_t *jpg = encode_small(40, 30, 3, &size);
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image dec;

    /* 12-bit precision in SOF0: libjpeg's own sentence comes through. */
    uint8_t *copy = malloc(size);
    memcpy(copy, jpg, size);
    size_t sof = find_marker(copy, size, 0xC0);
    CHECK(sof > 0);
    copy[sof + 4] = 12;
    CHECK_INT(gainmap_jpeg_decode(ctx, copy, size, &dec), GAINMAP_ERR_CODEC);
    CHECK_STR(gainmap_last_error(ctx), "JPEG decoding failed: Unsupported JPEG data precision 12");
    free(copy);

    /* Random byte damage: never a crash, never a leak, always a clean answer. */
    uint32_t seed = 12345;
    int ok = 0, bad = 0, no_message = 0;
    for (int t = 0; t < 300; t++) {
        copy = malloc(size);
        memcpy(copy, jpg, size);
        for (int k = 0; k < 1 + t % 5; k++) {
            seed = seed * 1664525u + 1013904223u;
            size_t at = 2 + (seed >> 8) % (size - 2);
            copy[at] = (uint8_t)(seed >> 3);
        }
        gainmap_clear_error(ctx);
        gainmap_status st = gainmap_jpeg_decode(ctx, copy, size, &dec);
        if (st == GAINMAP_OK) {
            ok++;
            CHECK(dec.width <= 65535 && dec.data != NULL);
        } else {
            bad++;
            if (!*gainmap_last_error(ctx))
                no_message++;
        }
        gainmap_image_free(&dec);
        free(copy);
    }
    CHECK(bad > 0);
    CHECK_INT(no_message, 0);
    printf("  random damage: %d decoded, %d refused\n", ok, bad);
    gainmap_ctx_free(ctx);
    gainmap_free(jpg);
}

static void test_limits(void)
{
    size_t size;
    uint8_t *jpg = encode_small(16, 16, 3, &size);
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image dec;

    /* A 60000x60000 SOF with the data cut right after the SOS header: the
     * limit must refuse it from the header, before any scan is read (else
     * the answer would be "truncated") and before pixels are allocated. */
    size_t sof = find_marker(jpg, size, 0xC0);
    size_t sos = find_marker(jpg, size, 0xDA);
    CHECK(sof > 0 && sos > sof);
    size_t hdr_end = sos + 2 + gm_be16(jpg + sos + 2);
    uint8_t *big = malloc(hdr_end);
    memcpy(big, jpg, hdr_end);
    big[sof + 5] = 60000 >> 8;
    big[sof + 6] = 60000 & 255;
    big[sof + 7] = 60000 >> 8;
    big[sof + 8] = 60000 & 255;
    gm_fail_alloc_after(1);   /* any pixel allocation would now fail with NOMEM */
    CHECK_INT(gainmap_jpeg_decode(ctx, big, hdr_end, &dec), GAINMAP_ERR_LIMIT);
    gm_fail_alloc_after(0);
    CHECK_STR(gainmap_last_error(ctx),
              "JPEG image is 60000x60000 = 3600000000 pixels, more than the limit of 268435456");
    free(big);

    /* Configured limits apply too. */
    gainmap_clear_error(ctx);
    CHECK_INT(gainmap_set_option(ctx, GAINMAP_OPT_MAX_DIMENSION, 15), GAINMAP_OK);
    CHECK_INT(gainmap_jpeg_decode(ctx, jpg, size, &dec), GAINMAP_ERR_LIMIT);
    CHECK_CONTAINS(gainmap_last_error(ctx), "16x16");
    gainmap_clear_error(ctx);
    CHECK_INT(gainmap_set_option(ctx, GAINMAP_OPT_MAX_DIMENSION, 16), GAINMAP_OK);
    CHECK_INT(gainmap_jpeg_decode(ctx, jpg, size, &dec), GAINMAP_OK);
    gainmap_image_free(&dec);

    /* Allocation failure of the pixels is reported, not crashed on. */
    gainmap_clear_error(ctx);
    gm_fail_alloc_after(1);
    CHECK_INT(gainmap_jpeg_decode(ctx, jpg, size, &dec), GAINMAP_ERR_NOMEM);
    gm_fail_alloc_after(0);
    gainmap_ctx_free(ctx);
    gainmap_free(jpg);
}

/* A CMYK JPEG made directly with libjpeg. */
static void test_cmyk(void)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    unsigned char *buf = NULL;
    unsigned long len = 0;
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = 8;
    c.image_height = 8;
    c.input_components = 4;
    c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_start_compress(&c, TRUE);
    uint8_t row[32];
    memset(row, 100, sizeof row);
    JSAMPROW rp = row;
    for (int y = 0; y < 8; y++)
        jpeg_write_scanlines(&c, &rp, 1);
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image dec;
    CHECK_INT(gainmap_jpeg_decode(ctx, buf, len, &dec), GAINMAP_ERR_UNSUPPORTED);
    CHECK_STR(gainmap_last_error(ctx), "CMYK JPEGs are not supported");
    CHECK(dec.data == NULL);
    gainmap_ctx_free(ctx);
    free(buf);
}

int main(void)
{
    RUN_TEST(test_round_trips);
    RUN_TEST(test_segments_and_options);
    RUN_TEST(test_truncated);
    RUN_TEST(test_corrupt);
    RUN_TEST(test_limits);
    RUN_TEST(test_cmyk);
    TEST_SUMMARY();
}

/* test_image_io.c - HDR image files: detection, round trips through every
 * writer (bit-exact for 16-bit PNG/TIFF/PPM and PFM, half precision for
 * EXR), metadata (cICP, ICC, EXIF, orientation) kept byte-exact, the corpus
 * masters, and the committed sample matching its generator. */
#include "check.h"
#include "internal.h"
#include "support/testutil.h"

#include <dirent.h>
#include <openexr.h>
#include <png.h>
#include <tiffio.h>

static const char *dir;

/* A w x h test image with values covering the range, incl. 0 and max. */
static void make_u16(gainmap_image *img, uint32_t w, uint32_t h, uint32_t ch)
{
    CHECK_INT(gainmap_image_alloc(NULL, img, w, h, ch, GAINMAP_PIXEL_U16), GAINMAP_OK);
    for (uint32_t y = 0; y < h; y++) {
        uint16_t *p = (uint16_t *)(void *)((uint8_t *)img->data + y * img->stride);
        for (uint32_t i = 0; i < w * ch; i++)
            p[i] = (uint16_t)((y * 7919u + i * 104729u + (i % 3) * 31u) & 0xffffu);
    }
    uint16_t *p0 = img->data;
    p0[0] = 0;
    p0[1] = 65535;
}

static void make_f32(gainmap_image *img, uint32_t w, uint32_t h, uint32_t ch)
{
    CHECK_INT(gainmap_image_alloc(NULL, img, w, h, ch, GAINMAP_PIXEL_F32), GAINMAP_OK);
    for (uint32_t y = 0; y < h; y++) {
        float *p = (float *)(void *)((uint8_t *)img->data + y * img->stride);
        for (uint32_t i = 0; i < w * ch; i++)
            p[i] = (float)(0.001 * pow(1.37, (double)((y * w * ch + i) % 40)) * ((i % 7) ? 1.0 : 0.3));
    }
    img->transfer = GAINMAP_TRANSFER_LINEAR;
    ((float *)img->data)[0] = 0.0f;
    ((float *)img->data)[1] = 1234.5f;
}

static int same_pixels(const gainmap_image *a, const gainmap_image *b)
{
    if (a->width != b->width || a->height != b->height || a->channels != b->channels || a->type != b->type)
        return 0;
    size_t row = (size_t)a->width * a->channels * gm_pixel_size(a->type);
    for (uint32_t y = 0; y < a->height; y++)
        if (memcmp((uint8_t *)a->data + y * a->stride, (uint8_t *)b->data + y * b->stride, row))
            return 0;
    return 1;
}

/* No temp files (".NAME.gmtmp-...") left in dir. */
static int no_temp_files(void)
{
    DIR *d = opendir(dir);
    int ok = 1;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".gmtmp-"))
            ok = 0;
    if (d)
        closedir(d);
    return ok;
}

static void test_detect(void)
{
    static const uint8_t png[8] = {0x89, 'P', 'N', 'G', 13, 10, 26, 10};
    static const uint8_t exr[4] = {0x76, 0x2f, 0x31, 0x01};
    static const uint8_t jpg[4] = {0xff, 0xd8, 0xff, 0xe1};
    CHECK_INT(gainmap_detect_format(png, 8), GAINMAP_FORMAT_PNG);
    CHECK_INT(gainmap_detect_format(png, 7), GAINMAP_FORMAT_AUTO);
    CHECK_INT(gainmap_detect_format((const uint8_t *)"II*\0\10\0\0\0", 8), GAINMAP_FORMAT_TIFF);
    CHECK_INT(gainmap_detect_format((const uint8_t *)"MM\0*", 4), GAINMAP_FORMAT_TIFF);
    CHECK_INT(gainmap_detect_format(exr, 4), GAINMAP_FORMAT_EXR);
    CHECK_INT(gainmap_detect_format((const uint8_t *)"#?RADIANCE\n", 11), GAINMAP_FORMAT_RGBE);
    CHECK_INT(gainmap_detect_format((const uint8_t *)"PF\n1 1\n-1\n", 10), GAINMAP_FORMAT_PFM);
    CHECK_INT(gainmap_detect_format((const uint8_t *)"Pf\n", 3), GAINMAP_FORMAT_PFM);
    CHECK_INT(gainmap_detect_format((const uint8_t *)"P6\n", 3), GAINMAP_FORMAT_PPM);
    CHECK_INT(gainmap_detect_format((const uint8_t *)"P3\n", 3), GAINMAP_FORMAT_AUTO);
    CHECK_INT(gainmap_detect_format(jpg, 4), GAINMAP_FORMAT_JPEG);
    CHECK_INT(gainmap_detect_format((const uint8_t *)"\0\0\0\x18" "ftypheic\0\0\0\0", 16), GAINMAP_FORMAT_HEIF);
    CHECK_INT(gainmap_detect_format((const uint8_t *)"hello", 5), GAINMAP_FORMAT_AUTO);
    CHECK_INT(gainmap_format_from_path("a/b.PNG"), GAINMAP_FORMAT_PNG);
    CHECK_INT(gainmap_format_from_path("x.tiff"), GAINMAP_FORMAT_TIFF);
    CHECK_INT(gainmap_format_from_path("x.exr"), GAINMAP_FORMAT_EXR);
    CHECK_INT(gainmap_format_from_path("x.hdr"), GAINMAP_FORMAT_RGBE);
    CHECK_INT(gainmap_format_from_path("x.pfm"), GAINMAP_FORMAT_PFM);
    CHECK_INT(gainmap_format_from_path("x.pgm"), GAINMAP_FORMAT_PPM);
    CHECK_INT(gainmap_format_from_path("x.jpg"), GAINMAP_FORMAT_JPEG);
    CHECK_INT(gainmap_format_from_path("x.avif"), GAINMAP_FORMAT_HEIF);
    CHECK_INT(gainmap_format_from_path("x"), GAINMAP_FORMAT_AUTO);
    CHECK_INT(gainmap_format_from_path(".png"), GAINMAP_FORMAT_AUTO);
}

static void test_half(void)
{
    CHECK_INT(gm_float_to_half(1.0f), 0x3c00);
    CHECK_INT(gm_float_to_half(-2.0f), 0xc000);
    CHECK_INT(gm_float_to_half(0.1f), 0x2e66);
    CHECK_INT(gm_float_to_half(65504.0f), 0x7bff);
    CHECK_INT(gm_float_to_half(65520.0f), 0x7c00);          /* rounds up to infinity */
    CHECK_INT(gm_float_to_half(65519.0f), 0x7bff);
    CHECK_INT(gm_float_to_half(5.9604645e-8f), 0x0001);     /* smallest subnormal */
    CHECK_INT(gm_float_to_half(2.9e-8f), 0x0000);           /* below half of it */
    CHECK_INT(gm_float_to_half(1.0f + 1.0f / 2048.0f), 0x3c00); /* tie -> even */
    CHECK_INT(gm_float_to_half(1.0f + 3.0f / 2048.0f), 0x3c02); /* tie -> even (up) */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu))
            continue; /* NaN payloads */
        if (gm_float_to_half(gm_half_to_float((uint16_t)h)) != h)
            bad++;
    }
    CHECK_INT(bad, 0);
    CHECK(isinf(gm_half_to_float(0x7c00)));
    CHECK(isnan(gm_half_to_float(0x7e00)));
}

static void test_exif_helpers(void)
{
    uint8_t *e;
    size_t n;
    CHECK_INT(gm_exif_make(NULL, 6, &e, &n), GAINMAP_OK);
    CHECK_INT(n, 26);
    CHECK_INT(gm_exif_orientation(e, n), 6);
    CHECK(gm_exif_set_orientation(e, n, 3));
    CHECK_INT(gm_exif_orientation(e, n), 3);
    CHECK_INT(gm_exif_orientation(e, 21), 0);      /* entry cut off */
    CHECK_INT(gm_exif_orientation(e, 8), 0);
    CHECK(!gm_exif_set_orientation(e, 8, 3));
    /* Same with an "Exif\0\0" prefix and big-endian layout. */
    static const uint8_t be[] = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 2,
                                 0x01, 0x0f, 0, 2, 0, 0, 0, 4, 'A', 'B', 'C', 0,
                                 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0};
    CHECK_INT(gm_exif_orientation(be, sizeof be), 8);
    free(e);
    CHECK_INT(gm_exif_make(NULL, 9, &e, &n), GAINMAP_ERR_INVALID_ARG);
    CHECK(e == NULL && n == 0);
    uint8_t bogus[26];
    memcpy(bogus, "II*\0\xff\xff\xff\x7f", 8); /* IFD offset far outside */
    memset(bogus + 8, 0, sizeof bogus - 8);
    CHECK_INT(gm_exif_orientation(bogus, sizeof bogus), 0);
}

/* A small but valid-looking ICC byte string (read back byte-exact). */
static uint8_t *fake_icc(size_t *n)
{
    *n = 300;
    uint8_t *p = malloc(*n);
    for (size_t i = 0; i < *n; i++)
        p[i] = (uint8_t)(i * 13 + 7);
    p[0] = 0;
    p[1] = 0;
    p[2] = 0x01;
    p[3] = 0x2c;
    memcpy(p + 36, "acsp", 4);
    return p;
}

static void test_png_roundtrip(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image a, b;
    make_u16(&a, 37, 23, 3);
    a.transfer = GAINMAP_TRANSFER_PQ;
    a.primaries = GAINMAP_PRIMARIES_P3;
    size_t icc_n;
    uint8_t *icc = fake_icc(&icc_n);
    gainmap_image_set_icc(&a, icc, icc_n);
    uint8_t *exif;
    size_t exif_n;
    gm_exif_make(NULL, 6, &exif, &exif_n);
    gainmap_image_set_exif(&a, exif, exif_n);
    a.orientation = 6;
    a.max_cll = 1000.0;
    a.max_fall = 400.5;
    const char *p = tu_path(dir, "rt.png");
    CHECK_INT(gainmap_image_write(ctx, p, &a, GAINMAP_FORMAT_AUTO), GAINMAP_OK);
    CHECK_STR(gainmap_last_error(ctx), "");
    CHECK_INT(gainmap_image_read(ctx, p, &b), GAINMAP_OK);
    CHECK(same_pixels(&a, &b));
    CHECK_INT(b.bit_depth, 16);
    CHECK_INT(b.has_cicp, 1);
    CHECK_INT(b.cicp[0], 12);
    CHECK_INT(b.cicp[1], 16);
    CHECK_INT(b.cicp[2], 0);
    CHECK_INT(b.cicp[3], 1);
    CHECK_INT(b.transfer, GAINMAP_TRANSFER_PQ);
    CHECK_INT(b.primaries, GAINMAP_PRIMARIES_P3);
    CHECK(b.icc_size == icc_n && !memcmp(b.icc, icc, icc_n));
    CHECK(b.exif_size == exif_n && !memcmp(b.exif, exif, exif_n));
    CHECK_INT(b.orientation, 6);
    CHECK_NEAR(b.max_cll, 1000.0, 1e-9);
    CHECK_NEAR(b.max_fall, 400.5, 1e-9);
    gainmap_image_free(&b);

    /* Explicit cICP (HLG BT.2020) wins and comes back byte-exact; RGBA and grey keep their layout. */
    gainmap_image_free(&a);
    make_u16(&a, 5, 4, 4);
    a.has_cicp = 1;
    memcpy(a.cicp, "\x09\x12\x00\x01", 4);
    CHECK_INT(gainmap_image_write(ctx, p, &a, GAINMAP_FORMAT_PNG), GAINMAP_OK);
    CHECK_INT(gainmap_image_read(ctx, p, &b), GAINMAP_OK);
    CHECK(same_pixels(&a, &b));
    CHECK(b.has_cicp && !memcmp(b.cicp, "\x09\x12\x00\x01", 4));
    CHECK_INT(b.transfer, GAINMAP_TRANSFER_HLG);
    CHECK_INT(b.primaries, GAINMAP_PRIMARIES_BT2020);
    CHECK(b.icc == NULL && b.exif == NULL);
    CHECK_INT(b.orientation, 1);
    gainmap_image_free(&b);
    gainmap_image_free(&a);
    make_u16(&a, 9, 3, 1);
    CHECK_INT(gainmap_image_write(ctx, p, &a, GAINMAP_FORMAT_PNG), GAINMAP_OK);
    CHECK_INT(gainmap_image_read(ctx, p, &b), GAINMAP_OK);
    CHECK(same_pixels(&a, &b));
    CHECK_INT(b.has_cicp, 0); /* untagged sRGB convention: nothing written */
    CHECK_INT(b.transfer, GAINMAP_TRANSFER_SRGB);
    CHECK_INT(b.primaries, GAINMAP_PRIMARIES_BT709);
    gainmap_image_free(&b);
    gainmap_image_free(&a);

    /* Orientation without EXIF becomes a minimal eXIf. */
    make_u16(&a, 3, 2, 3);
    a.orientation = 8;
    CHECK_INT(gainmap_image_write(ctx, p, &a, GAINMAP_FORMAT_PNG), GAINMAP_OK);
    CHECK_INT(gainmap_image_read(ctx, p, &b), GAINMAP_OK);
    CHECK_INT(b.orientation, 8);
    CHECK_INT(gm_exif_orientation(b.exif, b.exif_size), 8);
    gainmap_image_free(&b);
    gainmap_image_free(&a);
    free(icc);
    free(exif);
    CHECK(no_temp_files());
    gainmap_ctx_free(ctx);
}

/* 8-bit PNGs made with libpng directly: palette and grey+alpha. */
static void test_png_8bit(void)
{
    const char *p = tu_path(dir, "pal.png");
    FILE *f = fopen(p, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, 4, 2, 8, PNG_COLOR_TYPE_PALETTE, 0, 0, 0);
    png_color pal[3] = {{255, 0, 0}, {0, 255, 0}, {10, 20, 30}};
    png_set_PLTE(png, info, pal, 3);
    png_write_info(png, info);
    png_byte r0[4] = {0, 1, 2, 0}, r1[4] = {2, 2, 1, 0};
    png_bytep rows[2] = {r0, r1};
    png_write_image(png, rows);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image b;
    CHECK_INT(gainmap_image_read(ctx, p, &b), GAINMAP_OK);
    CHECK_INT(b.type, GAINMAP_PIXEL_U8);
    CHECK_INT(b.channels, 3);
    CHECK_INT(b.width, 4);
    const uint8_t *px = b.data;
    CHECK(px[0] == 255 && px[1] == 0 && px[2] == 0);
    CHECK(px[6] == 10 && px[7] == 20 && px[8] == 30);
    CHECK_INT(((const uint8_t *)b.data + b.stride)[3 * 2 + 1], 255); /* row 1, x 2 = green */
    CHECK_INT(b.transfer, GAINMAP_TRANSFER_SRGB);
    /* 8-bit -> 16-bit writers scale by 257. */
    const char *q = tu_path(dir, "pal16.ppm");
    CHECK_INT(gainmap_image_write(ctx, q, &b, GAINMAP_FORMAT_AUTO), GAINMAP_OK);
    gainmap_image c;
    CHECK_INT(gainmap_image_read(ctx, q, &c), GAINMAP_OK);
    CHECK_INT(c.type, GAINMAP_PIXEL_U16);
    CHECK_INT(((uint16_t *)c.data)[0], 65535);
    CHECK_INT(((uint16_t *)c.data)[8], 30 * 257);
    gainmap_image_free(&c);
    gainmap_image_free(&b);
    gainmap_ctx_free(ctx);
}

static void test_tiff_roundtrip(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    const char *p = tu_path(dir, "rt.tif");
    for (uint32_t ch = 1; ch <= 4; ch++) {
        if (ch == 2)
            continue;
        gainmap_image a, b;
        make_u16(&a, 41, 19, ch);
        size_t icc_n;
        uint8_t *icc = fake_icc(&icc_n);
        gainmap_image_set_icc(&a, icc, icc_n);
        a.orientation = 6;
        CHECK_INT(gainmap_image_write(ctx, p, &a, GAINMAP_FORMAT_TIFF), GAINMAP_OK);
        CHECK_INT(gainmap_image_read(ctx, p, &b), GAINMAP_OK);
        CHECK(same_pixels(&a, &b));
        CHECK(b.icc_size == icc_n && b.icc && !memcmp(b.icc, icc, icc_n));
        CHECK_INT(b.orientation, 6);
        CHECK_INT(b.bit_depth, 16);
        gainmap_image_free(&a);
        gainmap_image_free(&b);
        free(icc);
    }
    /* An untagged PQ / HLG image gets a generated ICC, so its colour survives
     * (TIFF has no cICP); sRGB/BT.709 stays untagged. */
    static const struct { gainmap_transfer tf; gainmap_primaries pr; int tagged; } tags[] = {
        {GAINMAP_TRANSFER_PQ, GAINMAP_PRIMARIES_P3, 1},     {GAINMAP_TRANSFER_PQ, GAINMAP_PRIMARIES_BT2020, 1},
        {GAINMAP_TRANSFER_HLG, GAINMAP_PRIMARIES_BT2020, 1}, {GAINMAP_TRANSFER_SRGB, GAINMAP_PRIMARIES_BT709, 0},
    };
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        gainmap_image a, b;
        make_u16(&a, 9, 7, 3);
        a.transfer = tags[i].tf;
        a.primaries = tags[i].pr;
        CHECK_INT(gainmap_image_write(ctx, p, &a, GAINMAP_FORMAT_TIFF), GAINMAP_OK);
        CHECK_INT(gainmap_image_read(ctx, p, &b), GAINMAP_OK);
        CHECK_INT(b.transfer, tags[i].tf);
        CHECK_INT(b.primaries, tags[i].pr);
        CHECK_INT(b.icc_size != 0, tags[i].tagged);
        CHECK(same_pixels(&a, &b));
        gainmap_image_free(&a);
        gainmap_image_free(&b);
    }

    /* Linear float -> 32-bit float TIFF, exact. */
    gainmap_image a, b;
    make_f32(&a, 13, 11, 3);
    CHECK_INT(gainmap_image_write(ctx, p, &a, GAINMAP_FORMAT_TIFF), GAINMAP_OK);
    CHECK_INT(gainmap_image_read(ctx, p, &b), GAINMAP_OK);
    CHECK(same_pixels(&a, &b));
    CHECK_INT(b.transfer, GAINMAP_TRANSFER_LINEAR);
    gainmap_image_free(&b);
    gainmap_image_free(&a);

    /* An 8-bit tiled TIFF and a half-float TIFF written with libtiff directly. */
    TIFF *t = TIFFOpen(p, "w");
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 40);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, 20);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_TILEWIDTH, 16);
    TIFFSetField(t, TIFFTAG_TILELENGTH, 16);
    uint8_t tile[16 * 16 * 3];
    for (uint32_t ty = 0; ty < 20; ty += 16)
        for (uint32_t tx = 0; tx < 40; tx += 16) {
            for (uint32_t i = 0; i < 16 * 16; i++) {
                uint32_t x = tx + i % 16, y = ty + i / 16;
                tile[3 * i] = (uint8_t)x;
                tile[3 * i + 1] = (uint8_t)y;
                tile[3 * i + 2] = (uint8_t)(x * y);
            }
            TIFFWriteTile(t, tile, tx, ty, 0, 0);
        }
    TIFFClose(t);
    CHECK_INT(gainmap_image_read(ctx, p, &b), GAINMAP_OK);
    CHECK_INT(b.type, GAINMAP_PIXEL_U8);
    int bad = 0;
    for (uint32_t y = 0; y < 20; y++)
        for (uint32_t x = 0; x < 40; x++) {
            const uint8_t *q = (const uint8_t *)b.data + y * b.stride + 3 * x;
            bad += q[0] != x || q[1] != y || q[2] != (uint8_t)(x * y);
        }
    CHECK_INT(bad, 0);
    CHECK_INT(b.transfer, GAINMAP_TRANSFER_SRGB);
    gainmap_image_free(&b);

    t = TIFFOpen(p, "w");
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 3);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, 1);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 16);
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    uint16_t halves[3] = {0x3c00, 0x4900, 0x2e66};
    TIFFWriteScanline(t, halves, 0, 0);
    TIFFClose(t);
    CHECK_INT(gainmap_image_read(ctx, p, &b), GAINMAP_OK);
    CHECK_INT(b.type, GAINMAP_PIXEL_F32);
    CHECK_INT(b.bit_depth, 16);
    CHECK_NEAR(((float *)b.data)[0], 1.0, 0);
    CHECK_NEAR(((float *)b.data)[1], 10.0, 0);
    CHECK_NEAR(((float *)b.data)[2], 0.0999755859375, 0);
    gainmap_image_free(&b);
    gainmap_ctx_free(ctx);
}

static void test_ppm_pfm_roundtrip(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image a, b;
    const char *p = tu_path(dir, "rt.ppm");
    for (uint32_t ch = 1; ch <= 3; ch += 2) {
        make_u16(&a, 17, 9, ch);
        CHECK_INT(gainmap_image_write(ctx, p, &a, GAINMAP_FORMAT_PPM), GAINMAP_OK);
        CHECK_INT(gainmap_image_read(ctx, p, &b), GAINMAP_OK);
        CHECK(same_pixels(&a, &b));
        CHECK_INT(b.bit_depth, 16);
        gainmap_image_free(&a);
        gainmap_image_free(&b);
    }
    size_t n;
    uint8_t *bytes = tu_read(p, &n);
    CHECK(bytes && n == 14 + 17 * 9 * 6 && !memcmp(bytes, "P6\n17 9\n65535\n", 14));
    free(bytes);
    /* A 10-bit PGM (maxval 1023) is rescaled to 16 bits: 1023 -> 65535, 512 -> 32800. */
    const char *q = tu_path(dir, "ten.pgm");
    static const char ten[] = "P5 # comment\n2 1\n1023\n\x03\xff\x02\x00";
    tu_write(q, ten, sizeof ten - 1);
    CHECK_INT(gainmap_image_read(ctx, q, &b), GAINMAP_OK);
    CHECK_INT(b.bit_depth, 10);
    CHECK_INT(((uint16_t *)b.data)[0], 65535);
    CHECK_INT(((uint16_t *)b.data)[1], 32800);
    gainmap_image_free(&b);

    p = tu_path(dir, "rt.pfm");
    for (uint32_t ch = 1; ch <= 3; ch += 2) {
        make_f32(&a, 6, 5, ch);
        ((float *)a.data)[2] = -3.5f;
        CHECK_INT(gainmap_image_write(ctx, p, &a, GAINMAP_FORMAT_AUTO), GAINMAP_OK);
        CHECK_INT(gainmap_image_read(ctx, p, &b), GAINMAP_OK);
        CHECK(same_pixels(&a, &b));
        CHECK_INT(b.transfer, GAINMAP_TRANSFER_LINEAR);
        gainmap_image_free(&a);
        gainmap_image_free(&b);
    }
    /* Big-endian PFM (positive scale), rows bottom to top. */
    q = tu_path(dir, "be.pfm");
    tu_write(q, "Pf\n1 2\n1.0\n\x3f\x80\x00\x00\x40\x00\x00\x00", 19);
    CHECK_INT(gainmap_image_read(ctx, q, &b), GAINMAP_OK);
    CHECK_NEAR(((float *)b.data)[0], 2.0, 0);
    CHECK_NEAR(((float *)b.data)[1], 1.0, 0);
    gainmap_image_free(&b);
    gainmap_ctx_free(ctx);
}

static void test_exr_roundtrip(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image a, b;
    const char *p = tu_path(dir, "rt.exr");
    for (uint32_t ch = 1; ch <= 4; ch++) {
        if (ch == 2)
            continue;
        make_f32(&a, 33, 40, ch);
        a.primaries = ch == 3 ? GAINMAP_PRIMARIES_P3 : GAINMAP_PRIMARIES_BT2020;
        CHECK_INT(gainmap_image_write(ctx, p, &a, GAINMAP_FORMAT_EXR), GAINMAP_OK);
        CHECK_STR(gainmap_last_error(ctx), "");
        CHECK_INT(gainmap_image_read(ctx, p, &b), GAINMAP_OK);
        CHECK_STR(gainmap_last_error(ctx), "");
        CHECK(b.width == 33 && b.height == 40 && b.channels == ch && b.type == GAINMAP_PIXEL_F32);
        CHECK_INT(b.primaries, a.primaries);
        CHECK_INT(b.bit_depth, 16);
        double worst = 0.0;
        for (uint32_t y = 0; y < 40 && b.data; y++)
            for (uint32_t i = 0; i < 33 * ch; i++) {
                double x = ((float *)(void *)((uint8_t *)a.data + y * a.stride))[i];
                double r = ((float *)(void *)((uint8_t *)b.data + y * b.stride))[i];
                double e = fabs(r - x) / fmax(fabs(x), 6.1e-5);
                worst = fmax(worst, e);
            }
        CHECK_MSG(worst <= 1.0 / 2048.0, "worst relative error %g", worst); /* half: 11-bit significand */
        gainmap_image_free(&a);
        gainmap_image_free(&b);
    }
    /* Integer PQ input is decoded to linear light for EXR: PQ 203 nits -> 1.0. */
    CHECK_INT(gainmap_image_alloc(NULL, &a, 1, 1, 3, GAINMAP_PIXEL_U16), GAINMAP_OK);
    uint16_t v = (uint16_t)lrint(gainmap_pq_inverse_eotf(203.0) * 65535.0);
    for (int c = 0; c < 3; c++)
        ((uint16_t *)a.data)[c] = v;
    a.transfer = GAINMAP_TRANSFER_PQ;
    a.primaries = GAINMAP_PRIMARIES_P3;
    CHECK_INT(gainmap_image_write(ctx, p, &a, GAINMAP_FORMAT_EXR), GAINMAP_OK);
    CHECK_INT(gainmap_image_read(ctx, p, &b), GAINMAP_OK);
    CHECK_NEAR(((float *)b.data)[1], 1.0, 2e-3);
    CHECK_INT(b.primaries, GAINMAP_PRIMARIES_P3);
    gainmap_image_free(&a);
    gainmap_image_free(&b);
    gainmap_ctx_free(ctx);
}

/* A tiled (16x16, one level) float EXR with a data window not at 0,0,
 * written with OpenEXR's C API: the reader must place every tile. */
static void test_exr_tiled(void)
{
    const char *p = tu_path(dir, "tiled.exr");
    const uint32_t w = 37, h = 21;
    exr_context_t c = NULL;
    exr_context_initializer_t init = EXR_DEFAULT_CONTEXT_INITIALIZER;
    int part = 0;
    CHECK_INT(exr_start_write(&c, p, EXR_WRITE_FILE_DIRECTLY, &init), EXR_ERR_SUCCESS);
    CHECK_INT(exr_add_part(c, "tiles", EXR_STORAGE_TILED, &part), EXR_ERR_SUCCESS);
    CHECK_INT(exr_initialize_required_attr_simple(c, part, (int32_t)w, (int32_t)h, EXR_COMPRESSION_PIZ), EXR_ERR_SUCCESS);
    exr_attr_box2i_t dw;
    dw.min.x = 5;
    dw.min.y = -3;
    dw.max.x = 5 + (int32_t)w - 1;
    dw.max.y = -3 + (int32_t)h - 1;
    CHECK_INT(exr_set_data_window(c, part, &dw), EXR_ERR_SUCCESS);
    CHECK_INT(exr_set_tile_descriptor(c, part, 16, 16, EXR_TILE_ONE_LEVEL, EXR_TILE_ROUND_DOWN), EXR_ERR_SUCCESS);
    static const char *const names[3] = {"B", "G", "R"};
    for (int k = 0; k < 3; k++)
        CHECK_INT(exr_add_channel(c, part, names[k], EXR_PIXEL_FLOAT, EXR_PERCEPTUALLY_LINEAR, 1, 1), EXR_ERR_SUCCESS);
    CHECK_INT(exr_write_header(c), EXR_ERR_SUCCESS);
    float plane[3][16 * 16];
    exr_encode_pipeline_t enc = EXR_ENCODE_PIPELINE_INITIALIZER;
    int inited = 0;
    for (uint32_t ty = 0; ty * 16 < h; ty++)
        for (uint32_t tx = 0; tx * 16 < w; tx++) {
            exr_chunk_info_t ci;
            CHECK_INT(exr_write_tile_chunk_info(c, part, (int)tx, (int)ty, 0, 0, &ci), EXR_ERR_SUCCESS);
            CHECK_INT(inited ? exr_encoding_update(c, part, &ci, &enc) : exr_encoding_initialize(c, part, &ci, &enc),
                      EXR_ERR_SUCCESS);
            for (int32_t y = 0; y < ci.height; y++)
                for (int32_t x = 0; x < ci.width; x++)
                    for (int k = 0; k < 3; k++) /* B, G, R: value encodes position and channel */
                        plane[k][y * ci.width + x] = (float)((tx * 16 + (uint32_t)x) * 1000 + (ty * 16 + (uint32_t)y)) +
                                                     (float)(2 - k) * 0.25f;
            for (int k = 0; k < 3; k++) {
                enc.channels[k].encode_from_ptr = (const uint8_t *)plane[k];
                enc.channels[k].user_pixel_stride = 4;
                enc.channels[k].user_line_stride = ci.width * 4;
                enc.channels[k].user_bytes_per_element = 4;
                enc.channels[k].user_data_type = EXR_PIXEL_FLOAT;
            }
            if (!inited)
                CHECK_INT(exr_encoding_choose_default_routines(c, part, &enc), EXR_ERR_SUCCESS);
            inited = 1;
            CHECK_INT(exr_encoding_run(c, part, &enc), EXR_ERR_SUCCESS);
        }
    exr_encoding_destroy(c, &enc);
    CHECK_INT(exr_finish(&c), EXR_ERR_SUCCESS);

    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image b;
    CHECK_INT(gainmap_image_read(ctx, p, &b), GAINMAP_OK);
    CHECK_STR(gainmap_last_error(ctx), "");
    CHECK(b.width == w && b.height == h && b.channels == 3);
    int bad = 0;
    for (uint32_t y = 0; y < h && b.data; y++)
        for (uint32_t x = 0; x < w; x++)
            for (int c3 = 0; c3 < 3; c3++) {
                float v = ((float *)(void *)((uint8_t *)b.data + y * b.stride))[3 * x + (uint32_t)c3];
                bad += v != (float)(x * 1000 + y) + (float)c3 * 0.25f;
            }
    CHECK_INT(bad, 0);
    CHECK_INT(b.bit_depth, 32);
    gainmap_image_free(&b);
    gainmap_ctx_free(ctx);
}

static void test_write_refusals(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image a;
    make_f32(&a, 4, 4, 3);
    const char *p = tu_path(dir, "linear.png");
    CHECK_INT(gainmap_image_write(ctx, p, &a, GAINMAP_FORMAT_PNG), GAINMAP_ERR_UNSUPPORTED);
    CHECK_CONTAINS(gainmap_last_error(ctx), "linear floating-point pixels cannot be stored as 16-bit integers");
    CHECK(!tu_exists(p));
    CHECK(no_temp_files());
    gainmap_clear_error(ctx);
    CHECK_INT(gainmap_image_write(ctx, tu_path(dir, "x.bmp"), &a, GAINMAP_FORMAT_AUTO), GAINMAP_ERR_INVALID_ARG);
    CHECK_CONTAINS(gainmap_last_error(ctx), "cannot tell the output format from the name x.bmp");
    gainmap_clear_error(ctx);
    CHECK_INT(gainmap_image_write(ctx, tu_path(dir, "x.hdr"), &a, GAINMAP_FORMAT_AUTO), GAINMAP_ERR_UNSUPPORTED);
    CHECK_CONTAINS(gainmap_last_error(ctx), "writing Radiance .hdr images is not supported");
    gainmap_clear_error(ctx);
    CHECK_INT(gainmap_image_write(ctx, "/nonexistent-dir/x.png", &a, GAINMAP_FORMAT_AUTO), GAINMAP_ERR_IO);
    /* Non-linear float is clamped to [0,1] for 16 bits. */
    a.transfer = GAINMAP_TRANSFER_PQ;
    ((float *)a.data)[0] = -1.0f;
    ((float *)a.data)[1] = 2.0f;
    ((float *)a.data)[2] = 0.5f;
    gainmap_clear_error(ctx);
    CHECK_INT(gainmap_image_write(ctx, p, &a, GAINMAP_FORMAT_PNG), GAINMAP_OK);
    gainmap_image b;
    CHECK_INT(gainmap_image_read(ctx, p, &b), GAINMAP_OK);
    CHECK_INT(((uint16_t *)b.data)[0], 0);
    CHECK_INT(((uint16_t *)b.data)[1], 65535);
    CHECK_INT(((uint16_t *)b.data)[2], 32768);
    gainmap_image_free(&b);
    gainmap_image_free(&a);
    gainmap_ctx_free(ctx);
}

static void stats(const gainmap_image *img, double *max, double *mean, int *finite)
{
    *max = 0;
    *mean = 0;
    *finite = 1;
    for (uint32_t y = 0; y < img->height; y++) {
        const float *p = (const float *)(const void *)((const uint8_t *)img->data + y * img->stride);
        for (uint32_t i = 0; i < img->width * img->channels; i++) {
            if (!isfinite(p[i]) || p[i] < 0)
                *finite = 0;
            *max = fmax(*max, p[i]);
            *mean += p[i];
        }
    }
    *mean /= (double)img->width * img->height * img->channels;
}

/* tu_corpus() falls back to a path relative to the working folder when
 * GM_CORPUS_DIR is not in the environment; this program knows the real one. */
static const char *corpus(const char *rel)
{
    const char *p = tu_corpus(rel);
    if (tu_exists(p))
        return p;
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", GM_CORPUS_DIR, rel);
    return buf;
}

static void test_corpus(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image exr, hdr, rings;
    double max, mean, max2, mean2;
    int finite;
    CHECK_INT(gainmap_image_read(ctx, corpus("hdr_master/gainmapjs__memorial.exr"), &exr), GAINMAP_OK);
    CHECK_STR(gainmap_last_error(ctx), "");
    CHECK_INT(exr.width, 512);
    CHECK_INT(exr.height, 768);
    CHECK(exr.channels == 3 || exr.channels == 4);
    CHECK_INT(exr.transfer, GAINMAP_TRANSFER_LINEAR);
    stats(&exr, &max, &mean, &finite);
    CHECK(finite);
    CHECK_MSG(max > 4.0 && max < 65504.0, "memorial.exr max %g", max);
    CHECK(mean > 0.0);
    CHECK_INT(gainmap_image_read(ctx, corpus("hdr_master/gainmapjs__memorial.hdr"), &hdr), GAINMAP_OK);
    CHECK_INT(hdr.width, 512);
    CHECK_INT(hdr.height, 768);
    CHECK_INT(hdr.channels, 3);
    stats(&hdr, &max2, &mean2, &finite);
    CHECK(finite);
    CHECK(max2 > 4.0);
    /* The same scene: the means agree to a few percent (RGBE keeps ~1% per value). */
    double m3 = 0;
    for (uint32_t y = 0; y < exr.height; y++)
        for (uint32_t x = 0; x < exr.width; x++)
            for (int c = 0; c < 3; c++)
                m3 += ((float *)(void *)((uint8_t *)exr.data + y * exr.stride))[x * exr.channels + c];
    m3 /= (double)exr.width * exr.height * 3;
    CHECK_MSG(fabs(mean2 / m3 - 1.0) < 0.05, "hdr mean %g vs exr mean %g", mean2, m3);
    CHECK_INT(gainmap_image_read(ctx, corpus("hdr_master/vearutop__BrightRings.exr"), &rings), GAINMAP_OK);
    CHECK_INT(rings.width, 800);
    CHECK_INT(rings.height, 800);
    stats(&rings, &max, &mean, &finite);
    CHECK(max > 1.0 && finite);
    /* Round trip the real master through EXR (half) and PFM (exact). */
    const char *p = tu_path(dir, "memorial.pfm");
    CHECK_INT(gainmap_image_write(ctx, p, &hdr, GAINMAP_FORMAT_AUTO), GAINMAP_OK);
    gainmap_image back;
    CHECK_INT(gainmap_image_read(ctx, p, &back), GAINMAP_OK);
    CHECK(same_pixels(&hdr, &back));
    gainmap_image_free(&back);
    gainmap_image_free(&exr);
    gainmap_image_free(&hdr);
    gainmap_image_free(&rings);
    gainmap_ctx_free(ctx);
}

static void test_sample_matches_generator(void)
{
    const char *committed = tu_path(GM_SOURCE_DIR, "samples/sample_p3_pq.tif");
    const char *fresh = tu_path(dir, "sample_p3_pq.tif");
    char *out = NULL;
    int rc = tu_run(&out, "'%s/gen_sample' '%s'", GM_BUILD_DIR, fresh);
    CHECK_MSG(rc == 0, "gen_sample failed: %s", out ? out : "");
    free(out);
    size_t n = 0;
    uint8_t *bytes = tu_read(committed, &n);
    CHECK_MSG(bytes && n <= 2u << 20, "samples/sample_p3_pq.tif is %zu bytes", n);
    free(bytes);
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image a, b;
    CHECK_INT(gainmap_image_read(ctx, committed, &a), GAINMAP_OK);
    CHECK_INT(gainmap_image_read(ctx, fresh, &b), GAINMAP_OK);
    CHECK_MSG(same_pixels(&a, &b) && a.icc_size == b.icc_size && a.icc && !memcmp(a.icc, b.icc, a.icc_size),
              "samples/sample_p3_pq.tif differs from what gen_sample writes now: regenerate it with "
              "build/gen_sample samples/sample_p3_pq.tif");
    CHECK_INT(a.width, 768);
    CHECK_INT(a.height, 512);
    CHECK_INT(a.type, GAINMAP_PIXEL_U16);
    CHECK_INT(a.transfer, GAINMAP_TRANSFER_PQ);       /* from the ICC profile's contents */
    CHECK_INT(a.primaries, GAINMAP_PRIMARIES_P3);
    /* The neutral ramp spans 0.01 .. 4000 cd/m2 and the highlights pass 1000. */
    const uint16_t *row0 = a.data;
    CHECK_NEAR(gainmap_pq_eotf(row0[0] / 65535.0), 0.01, 0.002);
    CHECK_NEAR(gainmap_pq_eotf(row0[3 * 767] / 65535.0), 4000.0, 4.0);
    gainmap_image_free(&a);
    gainmap_image_free(&b);
    gainmap_ctx_free(ctx);
}

int main(void)
{
    dir = tu_tmpdir("test_image_io");
    RUN_TEST(test_detect);
    RUN_TEST(test_half);
    RUN_TEST(test_exif_helpers);
    RUN_TEST(test_png_roundtrip);
    RUN_TEST(test_png_8bit);
    RUN_TEST(test_tiff_roundtrip);
    RUN_TEST(test_ppm_pfm_roundtrip);
    RUN_TEST(test_exr_roundtrip);
    RUN_TEST(test_exr_tiled);
    RUN_TEST(test_write_refusals);
    RUN_TEST(test_corpus);
    RUN_TEST(test_sample_matches_generator);
    TEST_SUMMARY();
}

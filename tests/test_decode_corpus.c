/* test_decode_corpus.c - gainmap_decode on real files, against golden values.
 *
 * Golden pixels were computed outside this project: base and gain map
 * decoded with djpeg (libjpeg-turbo 2.1.5) from the streams inside each file,
 * metadata read with exiftool, then FORMATS.md 4.2 / 5.3 applied in Python
 * (double precision; for PQ also the P3->BT.2020 matrix from the
 * chromaticities).  The base and map codes are asserted too, so a failure
 * says whether the JPEG decoding or the maths moved. */
#include "check.h"
#include "internal.h"
#include "support/testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static gainmap_file *open_corpus(gainmap_ctx *ctx, const char *rel)
{
    gainmap_file *f = NULL;
    gainmap_status st = gainmap_file_open(ctx, tu_corpus(rel), &f);
    CHECK_MSG(st == GAINMAP_OK, "%s: %s", rel, gainmap_last_error(ctx));
    return st == GAINMAP_OK ? f : NULL;
}

static gainmap_status decode(gainmap_ctx *ctx, const gainmap_file *f, double headroom, gainmap_transfer tf,
                             gainmap_primaries p, gainmap_image *out)
{
    gainmap_decode_options o;
    gainmap_decode_options_init(&o);
    o.headroom = headroom;
    o.transfer = tf;
    o.primaries = p;
    gainmap_status st = gainmap_decode(ctx, f, &o, out);
    CHECK_MSG(st == GAINMAP_OK, "decode: %s", gainmap_last_error(ctx));
    return st;
}

static const uint8_t *pixel8(const gainmap_image *im, uint32_t x, uint32_t y)
{
    return (const uint8_t *)im->data + y * im->stride + x * im->channels;
}
static const float *pixelf(const gainmap_image *im, uint32_t x, uint32_t y)
{
    return (const float *)(const void *)((const char *)im->data + y * im->stride) + x * 3;
}
static const uint16_t *pixel16(const gainmap_image *im, uint32_t x, uint32_t y)
{
    return (const uint16_t *)(const void *)((const char *)im->data + y * im->stride) + x * 3;
}

/* Decode a file's two streams on their own (to check the codes). */
static void streams(gainmap_ctx *ctx, const gainmap_file *f, gainmap_image *base, gainmap_image *map)
{
    const uint8_t *d;
    size_t n;
    CHECK_INT(gainmap_file_base_stream(f, &d, &n), GAINMAP_OK);
    CHECK_INT(gainmap_jpeg_decode(ctx, d, n, base), GAINMAP_OK);
    CHECK_INT(gainmap_file_map_stream(f, &d, &n), GAINMAP_OK);
    CHECK_INT(gainmap_jpeg_decode(ctx, d, n, map), GAINMAP_OK);
}

/* ---- ultrahdr_v1_xmp_mpf/gmspec__rgba_uhdr.jpg: 31x32, 3-channel map, max 5.62238, P3 base ---- */
static const struct {
    uint32_t x, y;
    uint8_t base[3], map[3];
    double lin[3];    /* linear, base (P3) primaries, full headroom */
    uint16_t pq[3];   /* 16-bit PQ, BT.2020 */
} gmspec[] = {
    {0, 0, {151, 175, 162}, {37, 37, 35}, {0.5447487, 0.7546108, 0.6168516}, {34489, 36038, 34814}},
    {15, 16, {171, 166, 170}, {34, 34, 34}, {0.6847278, 0.6411561, 0.6758797}, {35396, 35071, 35392}},
    {30, 31, {161, 156, 98}, {29, 29, 29}, {0.5551609, 0.5178564, 0.1902543}, {33784, 33596, 27432}},
    {7, 25, {149, 149, 157}, {27, 27, 27}, {0.454061, 0.454061, 0.5093861}, {32800, 32772, 33506}},
};

static void test_gmspec(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = open_corpus(ctx, "ultrahdr_v1_xmp_mpf/gmspec__rgba_uhdr.jpg");
    if (!f) {
        gainmap_ctx_free(ctx);
        return;
    }
    const gainmap_info *in = gainmap_file_info(f);
    CHECK_INT(in->base_width, 31);
    CHECK_INT(in->base_height, 32);
    CHECK_INT(in->map_components, 3);
    CHECK_INT(in->base_primaries, GAINMAP_PRIMARIES_P3);
    gainmap_params p;
    gainmap_metadata_to_params(&in->meta, &p);
    CHECK_NEAR(p.gain_map_max[0], 5.62238, 1e-9);
    CHECK_NEAR(p.alternate_hdr_headroom, 5.62238, 1e-9);

    gainmap_image base, map, lin, pq;
    streams(ctx, f, &base, &map);
    for (size_t i = 0; i < sizeof gmspec / sizeof gmspec[0]; i++)
        for (int c = 0; c < 3; c++) {
            CHECK_INT(pixel8(&base, gmspec[i].x, gmspec[i].y)[c], gmspec[i].base[c]);
            CHECK_INT(pixel8(&map, gmspec[i].x, gmspec[i].y)[c], gmspec[i].map[c]);
        }
    if (decode(ctx, f, 0, GAINMAP_TRANSFER_LINEAR, GAINMAP_PRIMARIES_UNKNOWN, &lin) == GAINMAP_OK) {
        CHECK_INT(lin.primaries, GAINMAP_PRIMARIES_P3);
        for (size_t i = 0; i < sizeof gmspec / sizeof gmspec[0]; i++)
            for (int c = 0; c < 3; c++)
                CHECK_REL(pixelf(&lin, gmspec[i].x, gmspec[i].y)[c], gmspec[i].lin[c], 1e-5);
    }
    /* Defaults: full headroom, PQ, BT.2020. */
    gainmap_decode_options o;
    gainmap_decode_options_init(&o);
    CHECK_INT(gainmap_decode(ctx, f, &o, &pq), GAINMAP_OK);
    CHECK_INT(pq.type, GAINMAP_PIXEL_U16);
    CHECK(pq.cicp[0] == 9 && pq.cicp[1] == 16 && pq.cicp[2] == 0 && pq.cicp[3] == 1);
    for (size_t i = 0; i < sizeof gmspec / sizeof gmspec[0]; i++)
        for (int c = 0; c < 3; c++)
            CHECK_NEAR(pixel16(&pq, gmspec[i].x, gmspec[i].y)[c], gmspec[i].pq[c], 1);
    gainmap_image_free(&pq);
    gainmap_image_free(&lin);

    /* Headroom 1 ("sdr") in 8-bit sRGB is the base, byte for byte. */
    gainmap_image sdr;
    if (decode(ctx, f, 1, GAINMAP_TRANSFER_SRGB, GAINMAP_PRIMARIES_UNKNOWN, &sdr) == GAINMAP_OK) {
        CHECK_INT(sdr.width, base.width);
        int diff = 0;
        for (uint32_t y = 0; y < base.height; y++)
            diff += memcmp(pixel8(&sdr, 0, y), pixel8(&base, 0, y), base.width * 3) != 0;
        CHECK_INT(diff, 0);
    }
    gainmap_image_free(&sdr);
    gainmap_image_free(&base);
    gainmap_image_free(&map);
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

/* ---- adobe_hdrgm_jpeg/libavif__seine_sdr_gainmap_srgb.jpg: per-channel min<0, gamma, offsets 1/64 ---- */
static const struct {
    uint32_t x, y;
    uint8_t base[3], map[3];
    double full[3];   /* w = 1 (headroom max = 2^1.3) */
    double half[3];   /* w = 0.5 (headroom 2^0.65) */
} seine[] = {
    {0, 0, {213, 214, 219}, {196, 196, 204}, {1.261629, 1.270049, 1.375488}, {0.9170193, 0.9249235, 0.987952}},
    {200, 150, {39, 40, 44}, {156, 160, 169}, {0.04110207, 0.0432512, 0.05140748},
     {0.02951114, 0.03095005, 0.03667911}},
    /* Negative results clamp to 0. */
    {399, 299, {8, 0, 0}, {49, 47, 50}, {0.00261986, 0, 0}, {0.002523785, 0, 0}},
    {123, 45, {218, 222, 225}, {216, 221, 225}, {1.450124, 1.540097, 1.608755}, {1.009334, 1.061734, 1.101713}},
};

static void test_seine(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = open_corpus(ctx, "adobe_hdrgm_jpeg/libavif__seine_sdr_gainmap_srgb.jpg");
    if (!f) {
        gainmap_ctx_free(ctx);
        return;
    }
    gainmap_image base, map, full, half, one;
    streams(ctx, f, &base, &map);
    for (size_t i = 0; i < sizeof seine / sizeof seine[0]; i++)
        for (int c = 0; c < 3; c++) {
            CHECK_INT(pixel8(&base, seine[i].x, seine[i].y)[c], seine[i].base[c]);
            CHECK_INT(pixel8(&map, seine[i].x, seine[i].y)[c], seine[i].map[c]);
        }
    if (decode(ctx, f, 0, GAINMAP_TRANSFER_LINEAR, GAINMAP_PRIMARIES_UNKNOWN, &full) == GAINMAP_OK &&
        decode(ctx, f, exp2(0.65), GAINMAP_TRANSFER_LINEAR, GAINMAP_PRIMARIES_UNKNOWN, &half) == GAINMAP_OK) {
        for (size_t i = 0; i < sizeof seine / sizeof seine[0]; i++)
            for (int c = 0; c < 3; c++) {
                CHECK_NEAR(pixelf(&full, seine[i].x, seine[i].y)[c], seine[i].full[c], 1e-5 * seine[i].full[c] + 1e-7);
                CHECK_NEAR(pixelf(&half, seine[i].x, seine[i].y)[c], seine[i].half[c], 1e-5 * seine[i].half[c] + 1e-7);
            }
    }
    /* Headroom 1, linear: offsets cancel, every pixel is the linearised base exactly. */
    if (decode(ctx, f, 1, GAINMAP_TRANSFER_LINEAR, GAINMAP_PRIMARIES_UNKNOWN, &one) == GAINMAP_OK) {
        int diff = 0;
        for (uint32_t y = 0; y < base.height; y++)
            for (uint32_t x = 0; x < base.width; x++)
                for (int c = 0; c < 3; c++)
                    diff += pixelf(&one, x, y)[c] != (float)gainmap_srgb_to_linear(pixel8(&base, x, y)[c] / 255.0);
        CHECK_INT(diff, 0);
    }
    gainmap_image_free(&one);
    gainmap_image_free(&full);
    gainmap_image_free(&half);
    gainmap_image_free(&base);
    gainmap_image_free(&map);
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

/* ---- apple_jpeg_gainmap/pillow__frame_size.mpo: 56x70 base, 349x434 map (larger) ---- */
static const struct {
    uint32_t x, y;
    uint8_t base[3];
    double lin[3];    /* headroom 2^1.8 (maker notes 0.843/0): base * (1 + (H-1) g), map area-averaged */
} frame[] = {
    {0, 0, {145, 146, 140}, {0.3078515, 0.312518, 0.2851302}},
    {28, 35, {106, 112, 110}, {0.151983, 0.1708594, 0.1644239}},
    {55, 69, {101, 101, 101}, {0.1360483, 0.1360483, 0.1360483}},
    {10, 50, {189, 186, 169}, {0.5607709, 0.5410892, 0.4372115}},
};

static void test_apple_larger_map(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = open_corpus(ctx, "apple_jpeg_gainmap/pillow__frame_size.mpo");
    if (!f) {
        gainmap_ctx_free(ctx);
        return;
    }
    const gainmap_info *in = gainmap_file_info(f);
    CHECK_INT(in->meta.kind, GAINMAP_KIND_APPLE);
    CHECK_NEAR(in->meta.apple_headroom, exp2(1.8), 1e-9);
    CHECK_INT(in->map_width, 349);
    CHECK_INT(in->map_height, 434);
    gainmap_image base, map, lin;
    streams(ctx, f, &base, &map);
    if (decode(ctx, f, 0, GAINMAP_TRANSFER_LINEAR, GAINMAP_PRIMARIES_UNKNOWN, &lin) == GAINMAP_OK) {
        CHECK_INT(lin.width, 56);
        CHECK_INT(lin.height, 70);
        CHECK_INT(lin.primaries, GAINMAP_PRIMARIES_P3);
        for (size_t i = 0; i < sizeof frame / sizeof frame[0]; i++)
            for (int c = 0; c < 3; c++) {
                CHECK_INT(pixel8(&base, frame[i].x, frame[i].y)[c], frame[i].base[c]);
                CHECK_REL(pixelf(&lin, frame[i].x, frame[i].y)[c], frame[i].lin[c], 1e-5);
            }
    }
    gainmap_image_free(&lin);
    gainmap_image_free(&base);
    gainmap_image_free(&map);
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

/* ---- orientation: gmspec with an EXIF APP1 (orientation 6) put after SOI ---- */
static void test_orientation(void)
{
    size_t size;
    uint8_t *data = tu_read(tu_corpus("ultrahdr_v1_xmp_mpf/gmspec__rgba_uhdr.jpg"), &size);
    CHECK(data != NULL);
    if (!data)
        return;
    static const uint8_t app1[] = {0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,  'M', 'M', 0, 42, 0, 0, 0, 8,
                                   0,    1,    0x01, 0x12, 0,   3,   0,   0,   0, 1,  0,   6,   0, 0,  0, 0, 0, 0};
    uint8_t *mod = malloc(size + sizeof app1);
    memcpy(mod, data, 2);
    memcpy(mod + 2, app1, sizeof app1);
    memcpy(mod + 2 + sizeof app1, data + 2, size - 2);
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f0 = NULL, *f6 = NULL;
    CHECK_INT(gainmap_file_open_memory(ctx, data, size, &f0), GAINMAP_OK);
    CHECK_INT(gainmap_file_open_memory(ctx, mod, size + sizeof app1, &f6), GAINMAP_OK);
    if (f0 && f6) {
        CHECK_INT(gainmap_file_info(f6)->orientation, 6);
        CHECK_INT(gainmap_file_info(f6)->has_gainmap, 1);
        gainmap_image a, b, k;
        if (decode(ctx, f0, 0, GAINMAP_TRANSFER_LINEAR, GAINMAP_PRIMARIES_UNKNOWN, &a) == GAINMAP_OK &&
            decode(ctx, f6, 0, GAINMAP_TRANSFER_LINEAR, GAINMAP_PRIMARIES_UNKNOWN, &b) == GAINMAP_OK) {
            CHECK_INT(b.width, 32);
            CHECK_INT(b.height, 31);
            CHECK_INT(b.orientation, 1);
            /* 6 = rotate 90 clockwise: display (dx, dy) shows stored (dy, H-1-dx). */
            int diff = 0;
            for (uint32_t dy = 0; dy < 31; dy++)
                for (uint32_t dx = 0; dx < 32; dx++)
                    diff += memcmp(pixelf(&b, dx, dy), pixelf(&a, dy, 31 - dx), 12) != 0;
            CHECK_INT(diff, 0);
            gainmap_decode_options o;
            gainmap_decode_options_init(&o);
            o.transfer = GAINMAP_TRANSFER_LINEAR;
            o.primaries = GAINMAP_PRIMARIES_UNKNOWN;
            o.keep_orientation = 1;
            CHECK_INT(gainmap_decode(ctx, f6, &o, &k), GAINMAP_OK);
            CHECK_INT(k.width, 31);
            CHECK_INT(k.orientation, 6);
            CHECK(k.exif_size > 0 && k.exif && memcmp(k.exif, "MM", 2) == 0);
            CHECK(memcmp(k.data, a.data, a.stride * a.height) == 0);
            gainmap_image_free(&k);
        }
        gainmap_image_free(&a);
        gainmap_image_free(&b);
    }
    gainmap_file_close(f0);
    gainmap_file_close(f6);
    gainmap_ctx_free(ctx);
    free(mod);
    free(data);
}

/* ---- every gain-map JPEG of the four categories decodes; negatives say so ---- */
static void test_all_files(void)
{
    static const char *dirs[] = {"ultrahdr_v1_xmp_mpf", "adobe_hdrgm_jpeg", "ultrahdr_iso21496_jpeg",
                                 "apple_jpeg_gainmap", "negative_no_gainmap"};
    int decoded = 0;
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
        DIR *dir = opendir(tu_corpus(dirs[d]));
        CHECK_MSG(dir != NULL, "corpus folder %s", dirs[d]);
        if (!dir)
            continue;
        struct dirent *e;
        while ((e = readdir(dir))) {
            const char *dot = strrchr(e->d_name, '.');
            if (!dot || (strcmp(dot, ".jpg") && strcmp(dot, ".mpo")))
                continue;
            char rel[512];
            snprintf(rel, sizeof rel, "%s/%s", dirs[d], e->d_name);
            gainmap_ctx *ctx = gainmap_ctx_new();
            gainmap_file *f = open_corpus(ctx, rel);
            if (!f) {
                gainmap_ctx_free(ctx);
                continue;
            }
            const gainmap_info *in = gainmap_file_info(f);
            gainmap_decode_options o;
            gainmap_decode_options_init(&o);
            gainmap_image out;
            double t0 = now();
            gainmap_status st = gainmap_decode(ctx, f, &o, &out);
            double t1 = now();
            if (d == 4) {
                CHECK_MSG(st == GAINMAP_ERR_NO_GAINMAP, "%s: %d", rel, st);
                CHECK_STR(gainmap_last_error(ctx), "the file has no usable gain map");
            } else if (!in->has_gainmap) {
                /* A finding of the parser (e.g. a malformed MPF); decode must say so cleanly. */
                CHECK_INT(st, GAINMAP_ERR_NO_GAINMAP);
                printf("  %-70s no usable gain map (parser)\n", rel);
            } else {
                CHECK_MSG(st == GAINMAP_OK, "%s: %s", rel, gainmap_last_error(ctx));
                if (st == GAINMAP_OK) {
                    int sw = in->orientation >= 5;
                    CHECK_INT(out.width, sw ? in->base_height : in->base_width);
                    CHECK_INT(out.height, sw ? in->base_width : in->base_height);
                    CHECK_INT(out.type, GAINMAP_PIXEL_U16);
                    decoded++;
                    printf("  %-70s %5ux%-5u map %4ux%-4u %6.1f ms\n", rel, in->base_width, in->base_height,
                           in->map_width, in->map_height, (t1 - t0) * 1e3);
                }
            }
            gainmap_image_free(&out);
            gainmap_file_close(f);
            gainmap_ctx_free(ctx);
        }
        closedir(dir);
    }
    CHECK(decoded >= 20);
}

/* ---- the CLI end to end (skipped when the CLI was not built) ---- */
static void test_cli(void)
{
    if (!tu_exists(tu_cli())) {
        printf("  (no CLI at %s: skipped)\n", tu_cli());
        return;
    }
    const char *dir = tu_tmpdir("test_decode_corpus");
    const char *in = tu_corpus("ultrahdr_v1_xmp_mpf/gmspec__rgba_uhdr.jpg");
    const char *pfm = tu_path(dir, "g.pfm");
    char *out = NULL;
    int rc = tu_run(&out, "'%s' decode '%s' -o '%s' --primaries base", tu_cli(), in, pfm);
    CHECK_MSG(rc == 0, "%s", out ? out : "");
    free(out);
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    if (rc == 0 && gainmap_image_read(ctx, pfm, &img) == GAINMAP_OK) {
        CHECK_INT(img.width, 31);
        CHECK_INT(img.height, 32);
        for (size_t i = 0; i < sizeof gmspec / sizeof gmspec[0]; i++)
            for (int c = 0; c < 3; c++) {
                const float *p = (const float *)(const void *)((const char *)img.data +
                                                               gmspec[i].y * img.stride) + gmspec[i].x * img.channels;
                CHECK_REL(p[c], gmspec[i].lin[c], 1e-5);
            }
        gainmap_image_free(&img);
    } else {
        CHECK_MSG(0, "reading %s back: %s", pfm, gainmap_last_error(ctx));
    }
    gainmap_ctx_free(ctx);

    rc = tu_run(&out, "'%s' decode '%s' -o '%s' --headroom 0.5", tu_cli(), in, tu_path(dir, "x.png"));
    CHECK_INT(rc, 2);
    CHECK_CONTAINS(out, "option --headroom expects a number from 1 to");
    free(out);
    rc = tu_run(&out, "'%s' decode '%s' -o '%s' --transfer gamma", tu_cli(), in, tu_path(dir, "x.png"));
    CHECK_INT(rc, 2);
    CHECK_CONTAINS(out, "option --transfer expects pq, hlg, linear or srgb, not 'gamma'");
    free(out);
    rc = tu_run(&out, "'%s' decode '%s' -o '%s'", tu_cli(), in, tu_path(dir, "x.gif"));
    CHECK_INT(rc, 2);
    CHECK_CONTAINS(out, "option --output expects a name ending in .png, .tif, .exr, .pfm or .ppm");
    free(out);
    rc = tu_run(&out, "'%s' decode '%s'", tu_cli(), in);
    CHECK_INT(rc, 2);
    CHECK_CONTAINS(out, "needs --output");
    free(out);
    rc = tu_run(&out, "'%s' decode '%s' -o '%s'", tu_cli(), tu_corpus("negative_no_gainmap/gainmapjs__plain-jpeg.jpg"),
                tu_path(dir, "n.png"));
    CHECK_INT(rc, 1);
    CHECK_CONTAINS(out, "gainmap: ");
    CHECK_CONTAINS(out, "gainmapjs__plain-jpeg.jpg: the file has no usable gain map");
    free(out);
    CHECK(!tu_exists(tu_path(dir, "n.png")));
    rc = tu_run(&out, "'%s' decode '%s' -o '%s'", tu_cli(), tu_corpus("corrupt_fuzz/gmspec__truncated_ultrahdr.jpg"),
                tu_path(dir, "t.png"));
    CHECK_INT(rc, 1);
    CHECK(out && strchr(out, '\n') == out + strlen(out) - 1);   /* one line */
    free(out);
    rc = tu_run(&out, "'%s' help decode", tu_cli());
    CHECK_INT(rc, 0);
    CHECK_CONTAINS(out, "--keep-orientation");
    free(out);
}

int main(void)
{
    /* tu_corpus() reads this first; the support library is built without GM_CORPUS_DIR. */
    setenv("GM_CORPUS_DIR", GM_CORPUS_DIR, 0);
    RUN_TEST(test_gmspec);
    RUN_TEST(test_seine);
    RUN_TEST(test_apple_larger_map);
    RUN_TEST(test_orientation);
    RUN_TEST(test_all_files);
    RUN_TEST(test_cli);
    TEST_SUMMARY();
}

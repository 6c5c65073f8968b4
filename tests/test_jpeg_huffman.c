/* test_jpeg_huffman.c - optimised Huffman tables from a sample of the rows
 * (jpeg_encode.c): the stream decodes to exactly the pixels the standard
 * tables give (entropy coding is lossless, so any difference is a broken
 * table), every table codes every legal symbol within 16 bits and without
 * an all-ones code, rows the sample never saw (the worst case: the only
 * detail of the picture sits in them) still code, and the files stay
 * within a hair of libjpeg's own two-pass optimisation. */
#include "check.h"
#include "internal.h"

#include <stdint.h>
#include <stdio.h>

#include <jpeglib.h>

static uint32_t rng = 12345;
static uint32_t next_rand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

/* A smooth picture with grain; `wild` rows (y / 16 % 8 == 3, bands the
 * sample skips at stride 8) get full-range noise instead. */
static void make_image(gainmap_image *img, uint32_t w, uint32_t h, uint32_t ch, int wild)
{
    CHECK_INT(gainmap_image_alloc(NULL, img, w, h, ch, GAINMAP_PIXEL_U8), GAINMAP_OK);
    for (uint32_t y = 0; y < h; y++) {
        uint8_t *row = (uint8_t *)img->data + (size_t)y * img->stride;
        int noisy = wild && (y / 16) % 8 == 3;
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t c = 0; c < ch; c++) {
                int v = noisy ? (int)(next_rand() & 255)
                        : wild ? 128
                               : (int)(40 + 150.0 * x / w + 40.0 * sin(y * 0.01 + c) + (int)(next_rand() % 9) - 4);
                row[(size_t)x * ch + c] = (uint8_t)GM_CLAMP(v, 0, 255);
            }
    }
}

typedef struct dht_info {
    int tables, dc_tables, ac_tables;
    int bad_length, all_ones, missing;   /* counts of tables failing each rule */
} dht_info;

/* Every DHT table of a stream: code lengths 1..16 only, Kraft sum < 1 (the
 * all-ones code unused), and each legal symbol present. */
static dht_info check_dht(const uint8_t *d, size_t n)
{
    dht_info r = {0};
    gm_jpeg_layout l;
    if (gm_jpeg_scan(NULL, d, n, 0, &l) != GAINMAP_OK)
        return r;
    for (size_t i = 0; i < l.nsegs; i++) {
        if (l.segs[i].marker != 0xC4)
            continue;
        const uint8_t *p = d + l.segs[i].payload, *end = p + l.segs[i].payload_size;
        while (p + 17 <= end) {
            int cls = p[0] >> 4;
            int total = 0;
            double kraft = 0;
            for (int b = 1; b <= 16; b++) {
                total += p[b];
                kraft += p[b] * ldexp(1.0, -b);
            }
            if (p + 17 + total > end) {
                r.bad_length++;
                break;
            }
            int seen[256] = {0};
            for (int k = 0; k < total; k++)
                seen[p[17 + k]] = 1;
            int missing = 0;
            if (cls == 0) {
                r.dc_tables++;
                for (int v = 0; v <= 11; v++)
                    missing += !seen[v];
            } else {
                r.ac_tables++;
                missing += !seen[0x00] + !seen[0xF0];
                for (int run = 0; run < 16; run++)
                    for (int size = 1; size <= 10; size++)
                        missing += !seen[run << 4 | size];
            }
            r.tables++;
            r.missing += missing > 0;
            r.all_ones += !(kraft < 1.0);
            p += 17 + total;
        }
    }
    gm_jpeg_layout_free(&l);
    return r;
}

static int same_pixels(const gainmap_image *a, const gainmap_image *b)
{
    if (a->width != b->width || a->height != b->height || a->channels != b->channels)
        return 0;
    for (uint32_t y = 0; y < a->height; y++)
        if (memcmp((const uint8_t *)a->data + (size_t)y * a->stride, (const uint8_t *)b->data + (size_t)y * b->stride,
                   (size_t)a->width * a->channels))
            return 0;
    return 1;
}

/* Encode with sampled optimised tables and with the standard tables; both
 * must decode to the same pixels. Returns the two sizes. */
static void compare(const gainmap_image *img, int quality, int sub, const gm_jpeg_coding *coding, size_t *opt_size,
                    size_t *std_size)
{
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    CHECK_INT(gm_jpeg_encode_coded(NULL, img, quality, sub, 1, coding, NULL, &a, &na), GAINMAP_OK);
    CHECK_INT(gm_jpeg_encode_coded(NULL, img, quality, sub, 0, coding, NULL, &b, &nb), GAINMAP_OK);
    gainmap_image da, db;
    memset(&da, 0, sizeof da);
    memset(&db, 0, sizeof db);
    CHECK_INT(gainmap_jpeg_decode(NULL, a, na, &da), GAINMAP_OK);
    CHECK_INT(gainmap_jpeg_decode(NULL, b, nb, &db), GAINMAP_OK);
    CHECK_MSG(same_pixels(&da, &db), "%ux%u x%u q%d %d: optimised and standard tables decode differently", img->width,
              img->height, img->channels, quality, sub);
    dht_info h = check_dht(a, na);
    int comps = img->channels == 1 || (coding && coding->rgb) ? 1 : 2;
    if (img->height <= 752) {
        /* too short to sample: libjpeg's own optimisation, which lists only the symbols used */
        CHECK_INT(h.tables, 2 * comps);
        CHECK_INT(h.missing, 2 * comps);
        h.missing = 0;
    }
    CHECK_INT(h.dc_tables, comps);
    CHECK_INT(h.ac_tables, comps);
    CHECK_INT(h.bad_length, 0);
    CHECK_INT(h.all_ones, 0);
    CHECK_INT(h.missing, 0);
    *opt_size = na;
    *std_size = nb;
    free(a);
    free(b);
    gainmap_image_free(&da);
    gainmap_image_free(&db);
}

/* libjpeg's own optimize_coding (the whole-image two-pass) on the same
 * settings as gm_jpeg_encode_coded's defaults: YCbCr, standard tables. */
static size_t libjpeg_optimised_size(const gainmap_image *img, int quality, int sub)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    unsigned char *buf = NULL;
    unsigned long size = 0;
    jpeg_mem_dest(&c, &buf, &size);
    c.image_width = img->width;
    c.image_height = img->height;
    c.input_components = (int)img->channels;
    c.in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    c.dct_method = JDCT_ISLOW;
    c.optimize_coding = TRUE;
    if (img->channels == 3) {
        c.comp_info[0].h_samp_factor = sub == 444 ? 1 : 2;
        c.comp_info[0].v_samp_factor = sub == 420 ? 2 : 1;
    }
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)((uint8_t *)img->data + (size_t)c.next_scanline * img->stride);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(buf);
    return (size_t)size;
}

static void test_natural(void)
{
    static const struct {
        uint32_t w, h, ch;
        int q, sub;
    } cases[] = {
        {1200, 3072, 3, 90, 444},   /* stride 8: one band in 8 */
        {1200, 3072, 3, 75, 420},
        {640, 752, 3, 90, 444},     /* 47 bands: too short to sample */
        {640, 2000, 1, 90, 444},    /* stride 5 */
        {333, 771, 3, 92, 422},     /* stride 2, partial MCUs, a partial last band */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gainmap_image img;
        make_image(&img, cases[i].w, cases[i].h, cases[i].ch, 0);
        size_t opt = 0, std = 0;
        compare(&img, cases[i].q, cases[i].sub, NULL, &opt, &std);
        size_t ref = libjpeg_optimised_size(&img, cases[i].q, cases[i].sub);
        CHECK_MSG(opt < std, "case %zu: optimised %zu bytes, standard tables %zu", i, opt, std);
        /* measured: +0.08 % to +0.41 % over libjpeg's whole-image statistics, plus up to
         * ~300 bytes for listing the symbols the sample did not use; up to 752 rows it is
         * libjpeg's own */
        CHECK_MSG(cases[i].h <= 752 ? opt == ref : (double)opt <= (double)ref * 1.005 + 400, "case %zu: %zu bytes, libjpeg's optimum %zu", i, opt, ref);
        printf("  %ux%u x%u q%d %d: sampled %zu, libjpeg optimised %zu (%+.2f %%), standard %zu\n", cases[i].w,
               cases[i].h, cases[i].ch, cases[i].q, cases[i].sub, opt, ref, 100.0 * ((double)opt / ref - 1.0), std);
        gainmap_image_free(&img);
    }
}

/* The sample is flat grey; all the picture's detail (and DC categories up
 * to 11, AC sizes up to 10 at q100) is in rows it skips. */
static void test_unseen_rows(void)
{
    gainmap_image img;
    make_image(&img, 512, 3072, 3, 1);
    size_t opt = 0, std = 0;
    compare(&img, 100, 444, NULL, &opt, &std);
    gm_jpeg_coding flat = {GM_JPEG_TABLES_FLAT, 37.5, 16.0, 0, 0};
    compare(&img, 92, 444, &flat, &opt, &std);
    gm_jpeg_coding rgb = {GM_JPEG_TABLES_STANDARD, 0, 0, 1, 0};
    compare(&img, 100, 444, &rgb, &opt, &std);
    gainmap_image_free(&img);
    make_image(&img, 512, 3072, 1, 1);
    compare(&img, 100, 444, NULL, &opt, &std);
    gainmap_image_free(&img);
}

int main(void)
{
    RUN_TEST(test_natural);
    RUN_TEST(test_unseen_rows);
    TEST_SUMMARY();
}

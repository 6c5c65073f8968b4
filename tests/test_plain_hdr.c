/* test_plain_hdr.c - plain HDR HEIF/AVIF (a PQ or HLG primary image, no gain
 * map; src/heif_plain.c): gainmap_image_read reads the primary as an HDR
 * master, encode/recode take it, decode writes it, validate notes it.
 *
 * Golden samples: the 10-bit codes libheif's heif-convert (libheif-examples
 * 1.15) wrote for the two corpus AVIFs.  heif-convert stores a 10-bit code v
 * in a 16-bit PNG as v << 6 (its "(v << shift) | (v >> (16 - shift))" with
 * shift 6 adds nothing for v < 1024; every sample of its output is a
 * multiple of 64, checked below when heif-convert is installed), while we
 * scale to round(v * 65535 / 1023) as heif_decode.c does for every item. */
#include "check.h"
#include "gainmap.h"
#include "internal.h"
#include "support/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COSMOS "hdr_master/libavif__cosmos1650_yuv444_10bpc_p3pq.avif"
#define COLORS "hdr_master/libavif__colors_wcg_hdr_rec2020.avif"
#define SEINE_HDR "avif_tmap/libavif__seine_hdr_gainmap_srgb.avif"
#define SEINE_SDR "avif_tmap/libavif__seine_sdr_gainmap_srgb.avif"
#define PLAIN_SDR "negative_no_gainmap/pillowheif__empty_icc.heic"

static const char *tmp;
static char heic_pq[512];   /* samples/sample_p3_pq.tif written by `encode --as heic-pq` */

static const char *sample_tif(void)
{
    return GM_SOURCE_DIR "/samples/sample_p3_pq.tif";
}

/* A corpus file that must be there (test_corpus_present names the cause when the corpus is missing). */
static bool have_corpus(const char *rel)
{
    bool ok = tu_exists(tu_corpus(rel));
    CHECK_MSG(ok, "corpus file %s missing (%s)", rel, tu_corpus(rel));
    return ok;
}

static uint16_t u16_at(const gainmap_image *im, uint32_t x, uint32_t y, uint32_t c)
{
    const uint8_t *row = (const uint8_t *)im->data + (size_t)y * im->stride;
    return ((const uint16_t *)(const void *)row)[(size_t)x * im->channels + c];
}

static uint32_t scale10(uint32_t v)
{
    return (v * 65535u + 511u) / 1023u;
}

static uint32_t code10(uint32_t v16)
{
    return (v16 * 1023u + 32767u) / 65535u;
}

static bool read_ok(gainmap_ctx *ctx, const char *path, gainmap_image *img)
{
    gainmap_status st = gainmap_image_read(ctx, path, img);
    CHECK_MSG(st == GAINMAP_OK, "%s: %s", path, gainmap_last_error(ctx));
    return st == GAINMAP_OK;
}

typedef struct golden_px {
    uint32_t x, y;
    uint16_t rgb[3];   /* 10-bit codes */
} golden_px;

/* Whole-image comparison with heif-convert's 16-bit PNG (v << 6). */
static void compare_heif_convert(const char *rel, const gainmap_image *img)
{
    if (!tu_have("heif-convert")) {
        printf("  (heif-convert not installed: %s checked at the golden pixels only)\n", rel);
        return;
    }
    const char *png = tu_path(tmp, "heif-convert.png");
    int rc = tu_run(NULL, "heif-convert --quiet '%s' '%s'", tu_corpus(rel), png);
    CHECK_MSG(rc == 0, "heif-convert %s failed", rel);
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image ref;
    if (rc == 0 && read_ok(ctx, png, &ref)) {
        CHECK_INT(ref.width, img->width);
        CHECK_INT(ref.height, img->height);
        CHECK_INT(ref.type, GAINMAP_PIXEL_U16);
        size_t not64 = 0, differ = 0;
        for (uint32_t y = 0; y < img->height && ref.width == img->width && ref.height == img->height; y++)
            for (uint32_t x = 0; x < img->width; x++)
                for (uint32_t c = 0; c < 3; c++) {
                    uint16_t r = u16_at(&ref, x, y, c);
                    not64 += (r & 63) != 0;
                    differ += u16_at(img, x, y, c) != scale10(r >> 6);
                }
        CHECK_MSG(not64 == 0, "%s: %zu heif-convert samples are not v << 6", rel, not64);
        CHECK_MSG(differ == 0, "%s: %zu samples differ from heif-convert's", rel, differ);
        printf("  %s: all %u samples equal to heif-convert's\n", rel, img->width * img->height * 3);
        gainmap_image_free(&ref);
    }
    gainmap_ctx_free(ctx);
}

static void check_golden(const gainmap_image *img, const golden_px *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (uint32_t c = 0; c < 3; c++) {
            uint16_t v = u16_at(img, g[i].x, g[i].y, c);
            CHECK_MSG(v == scale10(g[i].rgb[c]), "(%u,%u)[%u] = %u, expected code %u -> %u", g[i].x, g[i].y, c, v,
                      g[i].rgb[c], scale10(g[i].rgb[c]));
        }
}

/* Every sample is a 10-bit code scaled exactly. */
static void check_exact_10bit(const gainmap_image *img)
{
    size_t bad = 0;
    for (uint32_t y = 0; y < img->height; y++)
        for (uint32_t x = 0; x < img->width; x++)
            for (uint32_t c = 0; c < img->channels; c++) {
                uint16_t v = u16_at(img, x, y, c);
                bad += v != scale10(code10(v));
            }
    CHECK_MSG(bad == 0, "%zu samples are not a scaled 10-bit code", bad);
}

static void test_read_cosmos(void)
{
    if (!have_corpus(COSMOS))
        return;
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    if (read_ok(ctx, tu_corpus(COSMOS), &img)) {
        CHECK_INT(img.width, 1024);
        CHECK_INT(img.height, 428);
        CHECK_INT(img.channels, 3);
        CHECK_INT(img.type, GAINMAP_PIXEL_U16);
        CHECK_INT(img.bit_depth, 10);
        CHECK_INT(img.transfer, GAINMAP_TRANSFER_PQ);
        CHECK_INT(img.primaries, GAINMAP_PRIMARIES_P3);
        CHECK_INT(img.has_cicp, 1);
        CHECK_INT(img.cicp[0], 12);
        CHECK_INT(img.cicp[1], 16);
        CHECK_INT(img.cicp[2], 12);
        CHECK_INT(img.cicp[3], 1);
        CHECK(img.icc == NULL);
        CHECK(img.exif == NULL);
        CHECK_INT(img.orientation, 1);
        static const golden_px g[] = {
            {0, 0, {347, 395, 455}},     {512, 214, {411, 299, 177}}, {100, 300, {499, 485, 305}},
            {1023, 427, {472, 474, 219}}, {700, 50, {683, 632, 581}},
        };
        check_golden(&img, g, sizeof g / sizeof g[0]);
        check_exact_10bit(&img);
        uint16_t mx = 0;
        for (uint32_t y = 0; y < img.height; y++)
            for (uint32_t x = 0; x < img.width; x++)
                for (uint32_t c = 0; c < 3; c++)
                    mx = u16_at(&img, x, y, c) > mx ? u16_at(&img, x, y, c) : mx;
        CHECK_INT(mx, scale10(1002));   /* heif-convert's brightest code */
        compare_heif_convert(COSMOS, &img);
        gainmap_image_free(&img);
    }
    gainmap_ctx_free(ctx);
}

static void test_read_colors(void)
{
    if (!have_corpus(COLORS))
        return;
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    if (read_ok(ctx, tu_corpus(COLORS), &img)) {
        CHECK_INT(img.width, 200);
        CHECK_INT(img.height, 200);
        CHECK_INT(img.type, GAINMAP_PIXEL_U16);
        CHECK_INT(img.bit_depth, 10);
        CHECK_INT(img.transfer, GAINMAP_TRANSFER_PQ);
        CHECK_INT(img.primaries, GAINMAP_PRIMARIES_BT2020);
        CHECK_INT(img.has_cicp, 1);
        CHECK_INT(img.cicp[0], 9);
        CHECK_INT(img.cicp[1], 16);
        static const golden_px g[] = {
            {0, 0, {692, 238, 0}},     {199, 199, {685, 685, 685}}, {100, 100, {586, 536, 216}},
            {50, 150, {682, 669, 663}}, {150, 20, {485, 632, 221}},
        };
        check_golden(&img, g, sizeof g / sizeof g[0]);
        check_exact_10bit(&img);
        compare_heif_convert(COLORS, &img);
        gainmap_image_free(&img);
    }
    gainmap_ctx_free(ctx);
}

/* PSNR of two U16 images' 10-bit PQ codes. */
static double psnr10(const gainmap_image *a, const gainmap_image *b)
{
    double se = 0;
    size_t n = 0;
    for (uint32_t y = 0; y < a->height; y++)
        for (uint32_t x = 0; x < a->width; x++)
            for (uint32_t c = 0; c < 3; c++) {
                double d = (double)code10(u16_at(a, x, y, c)) - (double)code10(u16_at(b, x, y, c));
                se += d * d;
                n++;
            }
    return se == 0 ? INFINITY : 10.0 * log10(1023.0 * 1023.0 / (se / (double)n));
}

static void test_heic_pq_roundtrip(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image src, img;
    if (read_ok(ctx, sample_tif(), &src) && read_ok(ctx, heic_pq, &img)) {
        CHECK_INT(img.width, 768);
        CHECK_INT(img.height, 512);
        CHECK_INT(img.type, GAINMAP_PIXEL_U16);
        CHECK_INT(img.bit_depth, 10);
        CHECK_INT(img.transfer, GAINMAP_TRANSFER_PQ);
        CHECK_INT(img.primaries, GAINMAP_PRIMARIES_P3);
        CHECK_INT(img.has_cicp, 1);   /* nclx and the ICC profile */
        CHECK_INT(img.cicp[0], 12);
        CHECK_INT(img.cicp[1], 16);
        CHECK(img.icc != NULL && img.icc_size > 128);
        gainmap_primaries p;
        gainmap_transfer t;
        CHECK_INT(gainmap_icc_identify(ctx, img.icc, img.icc_size, &p, &t), GAINMAP_OK);
        CHECK_INT(p, GAINMAP_PRIMARIES_P3);
        CHECK_INT(t, GAINMAP_TRANSFER_PQ);
        CHECK_NEAR(img.max_cll, 4000, 0);   /* the encoder's clli, from the master's peak */
        CHECK_NEAR(img.max_fall, 409, 0);
        CHECK_INT(img.orientation, 1);
        check_exact_10bit(&img);
        double q = psnr10(&src, &img);
        printf("  heic-pq round trip of sample_p3_pq.tif: PSNR %.2f dB on 10-bit PQ codes\n", q);
        CHECK_MSG(q > 59.0 && q < 64.0, "PSNR %.2f dB (measured 60.6)", q);
        gainmap_image_free(&img);
    }
    gainmap_image_free(&src);
    gainmap_ctx_free(ctx);
}

static int files_equal(const char *a, const char *b)
{
    size_t na, nb;
    uint8_t *da = tu_read(a, &na), *db = tu_read(b, &nb);
    int eq = da && db && na == nb && !memcmp(da, db, na);
    free(da);
    free(db);
    return eq;
}

static void test_cli_recode_decode(void)
{
    char *o = NULL;
    const char *rec = tu_path(tmp, "recode.tif"), *dec = tu_path(tmp, "decode.tif");
    int rc = tu_run(&o, "'%s' recode '%s' -o '%s'", tu_cli(), heic_pq, rec);
    CHECK_MSG(rc == 0, "recode: %s", o);
    free(o);
    rc = tu_run(&o, "'%s' decode '%s' -o '%s' -p base", tu_cli(), heic_pq, dec);
    CHECK_MSG(rc == 0, "decode: %s", o);
    CHECK_STR(o, "");
    free(o);
    CHECK_MSG(files_equal(rec, dec), "decode -p base and recode wrote different TIFFs");
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img, heic;
    if (read_ok(ctx, rec, &img) && read_ok(ctx, heic_pq, &heic)) {
        CHECK_INT(img.type, GAINMAP_PIXEL_U16);
        CHECK_INT(img.transfer, GAINMAP_TRANSFER_PQ);
        CHECK_INT(img.primaries, GAINMAP_PRIMARIES_P3);
        CHECK(img.icc != NULL);
        size_t differ = 0;
        for (uint32_t y = 0; y < img.height; y++)
            for (uint32_t x = 0; x < img.width; x++)
                for (uint32_t c = 0; c < 3; c++)
                    differ += u16_at(&img, x, y, c) != u16_at(&heic, x, y, c);
        CHECK_MSG(differ == 0, "%zu samples changed on the way (PQ P3 to PQ P3)", differ);
        gainmap_image_free(&heic);
        gainmap_image_free(&img);
    }
    /* the default: PQ BT.2020, as for a gain-map file */
    const char *d2020 = tu_path(tmp, "d2020.png");
    rc = tu_run(&o, "'%s' decode '%s' -o '%s'", tu_cli(), heic_pq, d2020);
    CHECK_MSG(rc == 0, "decode: %s", o);
    free(o);
    if (read_ok(ctx, d2020, &img)) {
        CHECK_INT(img.width, 768);
        CHECK_INT(img.transfer, GAINMAP_TRANSFER_PQ);
        CHECK_INT(img.primaries, GAINMAP_PRIMARIES_BT2020);
        gainmap_image_free(&img);
    }
    /* linear EXR, and the SDR rendition (tone-mapped: the file has none) */
    rc = tu_run(&o, "'%s' decode '%s' -o '%s'", tu_cli(), heic_pq, tu_path(tmp, "lin.exr"));
    CHECK_MSG(rc == 0, "decode exr: %s", o);
    free(o);
    if (read_ok(ctx, tu_path(tmp, "lin.exr"), &img)) {
        CHECK_INT(img.type, GAINMAP_PIXEL_F32);
        CHECK_INT(img.transfer, GAINMAP_TRANSFER_LINEAR);
        gainmap_image_free(&img);
    }
    rc = tu_run(&o, "'%s' decode '%s' -o '%s' -t srgb -p p3", tu_cli(), heic_pq, tu_path(tmp, "sdr.png"));
    CHECK_MSG(rc == 0, "decode srgb: %s", o);
    free(o);
    if (read_ok(ctx, tu_path(tmp, "sdr.png"), &img)) {
        CHECK_INT(img.transfer, GAINMAP_TRANSFER_SRGB);
        CHECK_INT(img.primaries, GAINMAP_PRIMARIES_P3);
        gainmap_image_free(&img);
    }
    rc = tu_run(&o, "'%s' decode '%s' -o '%s' -H 2", tu_cli(), heic_pq, tu_path(tmp, "h2.png"));
    CHECK_INT(rc, 1);
    CHECK_CONTAINS(o, ": the file has no gain map, only an HDR image, so there is no rendition for headroom 2 (use "
                      "max for the image as it is, or sdr for it tone-mapped)");
    free(o);
    CHECK(!tu_exists(tu_path(tmp, "h2.png")));
    /* SDR and no gain map: still nothing to decode */
    if (have_corpus(PLAIN_SDR)) {
        rc = tu_run(&o, "'%s' decode '%s' -o '%s'", tu_cli(), tu_corpus(PLAIN_SDR), tu_path(tmp, "sdr2.png"));
        CHECK_INT(rc, 1);
        CHECK_CONTAINS(o, ": the file has no usable gain map");
        free(o);
    }
    gainmap_ctx_free(ctx);
}

/* Library: gainmap_decode of a plain HDR file = gainmap_image_read + gainmap_image_recode. */
static void test_decode_equals_recode(void)
{
    if (!have_corpus(COSMOS))
        return;
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = NULL;
    gainmap_image img, rec, dec;
    CHECK_INT(gainmap_file_open(ctx, tu_corpus(COSMOS), &f), GAINMAP_OK);
    if (f && read_ok(ctx, tu_corpus(COSMOS), &img)) {
        gainmap_decode_options o;
        gainmap_decode_options_init(&o);
        o.transfer = GAINMAP_TRANSFER_HLG;
        o.primaries = GAINMAP_PRIMARIES_BT2020;
        CHECK_INT(gainmap_decode(ctx, f, &o, &dec), GAINMAP_OK);
        CHECK_INT(gainmap_image_recode(ctx, &img, GAINMAP_TRANSFER_HLG, GAINMAP_PRIMARIES_BT2020, GAINMAP_PIXEL_U16,
                                       &rec),
                  GAINMAP_OK);
        CHECK_INT(dec.type, GAINMAP_PIXEL_U16);
        CHECK_INT(dec.transfer, GAINMAP_TRANSFER_HLG);
        CHECK_INT(dec.width, 1024);
        CHECK(dec.stride == rec.stride && !memcmp(dec.data, rec.data, rec.stride * rec.height));
        /* written straight to a file: gainmap_image_write's bytes */
        gainmap_image hdr;
        const char *a = tu_path(tmp, "cosmos_dec.png"), *b = tu_path(tmp, "cosmos_rec.png");
        CHECK_INT(gainmap_decode_to_file(ctx, f, &o, a, GAINMAP_FORMAT_AUTO, &hdr), GAINMAP_OK);
        CHECK_INT(hdr.width, 1024);
        CHECK_INT(hdr.transfer, GAINMAP_TRANSFER_HLG);
        CHECK_INT(gainmap_image_write(ctx, b, &dec, GAINMAP_FORMAT_AUTO), GAINMAP_OK);
        CHECK(files_equal(a, b));
        gainmap_image_free(&dec);
        gainmap_image_free(&rec);
        gainmap_image_free(&img);
    }
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

static void check_validate_plain(const char *path)
{
    char *o = NULL;
    int rc = tu_run(&o, "'%s' validate '%s'", tu_cli(), path);
    CHECK_MSG(rc == 0, "validate %s: exit %d", path, rc);
    CHECK_STR(o, "info: plain HDR image (PQ), no gain map: HDR screens show it as it is, others tone-map it "
                 "[plain-hdr]\n");
    free(o);
}

static void test_validate(void)
{
    check_validate_plain(heic_pq);
    if (have_corpus(COSMOS))
        check_validate_plain(tu_corpus(COSMOS));
    if (have_corpus(COLORS))
        check_validate_plain(tu_corpus(COLORS));
    if (have_corpus(PLAIN_SDR)) {
        char *o = NULL;
        int rc = tu_run(&o, "'%s' validate '%s'", tu_cli(), tu_corpus(PLAIN_SDR));
        CHECK_INT(rc, 4);
        CHECK_CONTAINS(o, "[no-gainmap]");
        CHECK(!strstr(o ? o : "", "plain-hdr"));
        free(o);
    }
}

static void test_encode_cosmos(void)
{
    if (!have_corpus(COSMOS))
        return;
    const char *jpg = tu_path(tmp, "cosmos.jpg");
    char *o = NULL;
    int rc = tu_run(&o, "'%s' encode '%s' -o '%s'", tu_cli(), tu_corpus(COSMOS), jpg);
    CHECK_MSG(rc == 0, "encode: %s", o);
    CHECK_STR(o, "");
    free(o);
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = NULL;
    gainmap_image master, back;
    CHECK_INT(gainmap_file_open(ctx, jpg, &f), GAINMAP_OK);
    if (f && read_ok(ctx, tu_corpus(COSMOS), &master)) {
        const gainmap_info *in = gainmap_file_info(f);
        CHECK_INT(in->container, GAINMAP_CONTAINER_JPEG);
        CHECK_INT(in->has_gainmap, 1);
        CHECK_INT(in->base_width, 1024);
        CHECK_INT(in->base_height, 428);
        gainmap_decode_options o2;
        gainmap_decode_options_init(&o2);
        o2.primaries = GAINMAP_PRIMARIES_P3;
        CHECK_INT(gainmap_decode(ctx, f, &o2, &back), GAINMAP_OK);
        if (back.data) {
            double q = psnr10(&master, &back);
            printf("  cosmos AVIF -> UltraHDR JPEG -> decoded: PSNR %.2f dB on 10-bit PQ codes\n", q);
            CHECK_MSG(q > 40.0, "PSNR %.2f dB (measured 44.8)", q);
            gainmap_image_free(&back);
        }
        gainmap_image_free(&master);
    }
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

/* EXIF comes along (an HDR primary with a gain map is read too: it is the HDR rendition). */
static void test_exif_and_hdr_base(void)
{
    if (!have_corpus(SEINE_HDR))
        return;
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = NULL;
    gainmap_image img;
    CHECK_INT(gainmap_file_open(ctx, tu_corpus(SEINE_HDR), &f), GAINMAP_OK);
    if (f && read_ok(ctx, tu_corpus(SEINE_HDR), &img)) {
        CHECK_INT(img.transfer, GAINMAP_TRANSFER_PQ);
        CHECK_INT(img.primaries, GAINMAP_PRIMARIES_BT709);
        CHECK_INT(img.width, gainmap_file_info(f)->base_width);
        const uint8_t *e;
        size_t n;
        CHECK_INT(gainmap_file_exif(f, &e, &n), GAINMAP_OK);
        CHECK_INT(n, 946);
        CHECK(img.exif && img.exif_size == n && !memcmp(img.exif, e, n));
        CHECK_INT(img.orientation, 1);
        gainmap_image_free(&img);
    }
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

static void expect_refusal(const char *path, const char *msg)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    memset(&img, 0x5a, sizeof img);
    CHECK_INT(gainmap_image_read(ctx, path, &img), GAINMAP_ERR_UNSUPPORTED);
    CHECK_STR(gainmap_last_error(ctx), msg);
    CHECK(img.data == NULL && img.width == 0);
    gainmap_ctx_free(ctx);
}

static void test_sdr_refused(void)
{
    if (have_corpus(SEINE_SDR))
        expect_refusal(tu_corpus(SEINE_SDR), "this is a HEIF/AVIF gain-map photo with an SDR primary image; read it "
                                             "with the gain-map commands (gainmap info, decode)");
    if (have_corpus(PLAIN_SDR))
        expect_refusal(tu_corpus(PLAIN_SDR), "this HEIF/AVIF image is SDR (srgb transfer) and has no gain map: it is "
                                             "not an HDR master (HEIF/AVIF is read as one when its primary image is "
                                             "PQ or HLG)");
    /* and the CLI says so naming the file */
    if (have_corpus(PLAIN_SDR)) {
        char *o = NULL;
        int rc = tu_run(&o, "'%s' encode '%s' -o '%s'", tu_cli(), tu_corpus(PLAIN_SDR), tu_path(tmp, "n.jpg"));
        CHECK_INT(rc, 1);
        CHECK_CONTAINS(o, "pillowheif__empty_icc.heic: this HEIF/AVIF image is SDR (srgb transfer) and has no gain map");
        free(o);
    }
}

/* ---- orientation: irot/imir added to a primary ---- */

/* The primary of `src` with transform properties appended in this order
 * (e.g. "r1" irot angle 1, "m0" imir axis 0), rebuilt as a one-item HEIF by
 * the writer gm_heif_decode_item uses. */
static bool write_transformed(const char *src, const char *out, const char *ops)
{
    size_t size, nops = strlen(ops) / 2;
    uint8_t *data = tu_read(src, &size);
    gm_heif *h = NULL;
    bool ok = data && gm_heif_parse(NULL, data, size, &h) == GAINMAP_OK;
    static uint8_t boxes[4][9];
    gm_heif_item *it = ok ? (gm_heif_item *)(uintptr_t)gm_heif_item_by_id(h, h->primary_id) : NULL;
    gm_heif_prop *props = it ? realloc(h->props, (h->nprops + nops) * sizeof *props) : NULL;
    gm_heif_assoc *assoc = props ? realloc(it->assoc, (it->nassoc + nops) * sizeof *assoc) : NULL;
    uint8_t *mini = NULL;
    size_t mini_size = 0;
    if (props)
        h->props = props;
    ok = assoc != NULL && nops <= 4;
    if (ok) {
        it->assoc = assoc;
        for (size_t i = 0; i < nops; i++) {
            bool rot = ops[2 * i] == 'r';
            uint8_t v = (uint8_t)(ops[2 * i + 1] - '0'), *box = boxes[i];
            memcpy(box, "\0\0\0\x09", 4);
            memcpy(box + 4, rot ? "irot" : "imir", 4);
            box[8] = v;
            gm_heif_prop *p = &h->props[h->nprops++];
            memset(p, 0, sizeof *p);
            p->type = rot ? GM_4CC('i', 'r', 'o', 't') : GM_4CC('i', 'm', 'i', 'r');
            p->box = box;
            p->box_size = 9;
            p->body = box + 8;
            p->body_size = 1;
            p->ok = true;
            p->angle = rot ? v : 0;
            p->axis = rot ? 0 : v;
            it->assoc[it->nassoc].index = (uint16_t)h->nprops;
            it->assoc[it->nassoc].essential = true;
            it->nassoc++;
        }
        ok = gm_heif_extract_item(NULL, h, h->primary_id, &mini, &mini_size) == GAINMAP_OK &&
             tu_write(out, mini, mini_size) == 0;
    }
    CHECK_MSG(ok, "could not build %s", out);
    free(mini);
    gm_heif_free(h);
    free(data);
    return ok;
}

static void test_orientation(void)
{
    const char *rot = tu_path(tmp, "irot1.heic");
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image up, img;
    if (!write_transformed(heic_pq, rot, "r1") || !read_ok(ctx, heic_pq, &up)) {
        gainmap_ctx_free(ctx);
        return;
    }
    /* read: turned upright, orientation 1 */
    if (read_ok(ctx, rot, &img)) {
        CHECK_INT(img.width, 512);
        CHECK_INT(img.height, 768);
        CHECK_INT(img.orientation, 1);
        CHECK_INT(img.bit_depth, 10);
        CHECK_NEAR(img.max_cll, 4000, 0);
        /* a quarter turn anticlockwise: the right column becomes the top row */
        size_t differ = 0;
        for (uint32_t y = 0; y < img.height; y++)
            for (uint32_t x = 0; x < img.width; x++)
                for (uint32_t c = 0; c < 3; c++)
                    differ += u16_at(&img, x, y, c) != u16_at(&up, up.width - 1 - y, x, c);
        CHECK_MSG(differ == 0, "%zu samples are not where a quarter turn anticlockwise puts them", differ);
        gainmap_image_free(&img);
    }
    /* decode -k: the stored order, orientation 8 (EXIF's "turn 90 degrees anticlockwise") in the TIFF */
    char *o = NULL;
    const char *kept = tu_path(tmp, "kept.tif");
    int rc = tu_run(&o, "'%s' decode '%s' -o '%s' -p base -k", tu_cli(), rot, kept);
    CHECK_MSG(rc == 0, "decode -k: %s", o);
    free(o);
    if (read_ok(ctx, kept, &img)) {
        CHECK_INT(img.width, 768);
        CHECK_INT(img.height, 512);
        CHECK_INT(img.orientation, 8);
        CHECK(!memcmp(img.data, up.data, up.stride * up.height));
        gainmap_image_free(&img);
    }
    /* a 10-bit mirror (libheif 1.15 mirrors 8-bit images only): ours, and
     * applied even with keep_orientation (an irot alone is what is kept) */
    const char *mir = tu_path(tmp, "imir.heic");
    if (write_transformed(heic_pq, mir, "m1")) {
        gainmap_file *f = NULL;
        CHECK_INT(gainmap_file_open(ctx, mir, &f), GAINMAP_OK);
        gainmap_decode_options d;
        gainmap_decode_options_init(&d);
        d.keep_orientation = 1;
        d.primaries = GAINMAP_PRIMARIES_UNKNOWN;
        if (f && gainmap_decode(ctx, f, &d, &img) == GAINMAP_OK) {
            CHECK_INT(img.width, 768);
            CHECK_INT(img.orientation, 1);
            size_t lr = 0;
            for (uint32_t y = 0; y < img.height; y++)
                for (uint32_t x = 0; x < img.width; x++)
                    lr += u16_at(&img, x, y, 1) != u16_at(&up, up.width - 1 - x, y, 1);
            CHECK_MSG(lr == 0, "imir axis 1: %zu samples are not mirrored left to right", lr);
            gainmap_image_free(&img);
        } else {
            CHECK_MSG(0, "decode imir: %s", gainmap_last_error(ctx));
        }
        gainmap_file_close(f);
    }
    gainmap_image_free(&up);
    gainmap_ctx_free(ctx);
}

/* Our turns and mirrors, in property order, against libheif's on an 8-bit item. */
static void test_transforms_match_libheif(void)
{
    if (!have_corpus(SEINE_SDR))
        return;
    static const char *const ops[] = {"r1", "r2", "r3", "m0", "m1", "r1m0", "m0r1", "r3m1"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        const char *path = tu_path(tmp, "t8.avif");
        if (!write_transformed(tu_corpus(SEINE_SDR), path, ops[i]))
            continue;
        gainmap_ctx *ctx = gainmap_ctx_new();
        gainmap_file *f = NULL;
        gainmap_image ours, theirs;
        CHECK_INT(gainmap_file_open(ctx, path, &f), GAINMAP_OK);
        if (f && gm_heif_read_primary(ctx, f, false, &ours) == GAINMAP_OK) {
            CHECK_INT(ours.type, GAINMAP_PIXEL_U8);
            if (gm_heif_decode_item(ctx, f->heif, f->heif->primary_id, 0, &theirs) == GAINMAP_OK) {
                bool same = ours.width == theirs.width && ours.height == theirs.height;
                for (uint32_t y = 0; same && y < ours.height; y++)
                    same = !memcmp((uint8_t *)ours.data + y * ours.stride, (uint8_t *)theirs.data + y * theirs.stride,
                                   (size_t)ours.width * 3);
                CHECK_MSG(same, "%s: our transforms differ from libheif's", ops[i]);
                gainmap_image_free(&theirs);
            } else {
                CHECK_MSG(0, "%s: libheif: %s", ops[i], gainmap_last_error(ctx));
            }
            gainmap_image_free(&ours);
        } else {
            CHECK_MSG(0, "%s: %s", ops[i], gainmap_last_error(ctx));
        }
        gainmap_file_close(f);
        gainmap_ctx_free(ctx);
    }
}

int main(void)
{
    tmp = tu_tmpdir("test_plain_hdr");
    snprintf(heic_pq, sizeof heic_pq, "%s", tu_path(tmp, "sample_pq.heic"));
    char *o = NULL;
    int rc = tu_run(&o, "'%s' encode '%s' --as heic-pq -o '%s'", tu_cli(), sample_tif(), heic_pq);
    CHECK_MSG(rc == 0, "encode --as heic-pq: %s", o);
    free(o);
    RUN_TEST(test_read_cosmos);
    RUN_TEST(test_read_colors);
    RUN_TEST(test_heic_pq_roundtrip);
    RUN_TEST(test_cli_recode_decode);
    RUN_TEST(test_decode_equals_recode);
    RUN_TEST(test_validate);
    RUN_TEST(test_encode_cosmos);
    RUN_TEST(test_exif_and_hdr_base);
    RUN_TEST(test_sdr_refused);
    RUN_TEST(test_orientation);
    RUN_TEST(test_transforms_match_libheif);
    TEST_SUMMARY();
}

/* test_tiff_exif.c - EXIF of TIFF masters: a TIFF written by libtiff with
 * IFD0 descriptive tags, an Exif IFD and a GPS IFD (both byte orders) reads
 * back into img->exif with those values (checked by a small reader of our
 * own here, not the library's); exiftool finds the same fields in the
 * UltraHDR JPEG and the HEIC the CLI encodes from it and in a TIFF we write;
 * hostile files (IFD offsets past the end, loops, huge counts, movable and
 * non-movable maker notes, oversize values) still read, with the EXIF
 * partial or absent and no error recorded. */
#include "check.h"
#include "internal.h"
#include "support/testutil.h"

#include <tiffio.h>

static const char *dir;

/* ------------------------------------------------------------------ */
/* A tiny TIFF-structure reader for the checks (independent of exif.c) */
/* ------------------------------------------------------------------ */
typedef struct tval {
    uint16_t type;
    uint32_t count;
    const uint8_t *p;   /* value bytes */
    bool le;
} tval;

static uint32_t g16(const uint8_t *p, bool le) { return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)p[0] << 8 | p[1]; }
static uint32_t g32(const uint8_t *p, bool le)
{
    return le ? g16(p, true) | g16(p + 2, true) << 16 : g16(p, false) << 16 | g16(p + 2, false);
}

/* Entry `tag` of the IFD at off; false when absent or out of range. */
static bool ifd_get(const uint8_t *t, size_t n, uint32_t off, uint16_t tag, tval *v)
{
    bool le = t[0] == 'I';
    if (off + 2 > n)
        return false;
    uint32_t cnt = g16(t + off, le);
    if (off + 2 + 12 * (size_t)cnt > n)
        return false;
    for (uint32_t i = 0; i < cnt; i++) {
        const uint8_t *e = t + off + 2 + 12 * i;
        if (g16(e, le) != tag)
            continue;
        static const int sz[13] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8};
        uint16_t type = (uint16_t)g16(e + 2, le);
        uint32_t count = g32(e + 4, le);
        size_t size = (size_t)(type < 13 ? sz[type] : 4) * count;
        const uint8_t *p = size <= 4 ? e + 8 : t + g32(e + 8, le);
        if (size > 4 && g32(e + 8, le) + size > n)
            return false;
        *v = (tval){type, count, p, le};
        return true;
    }
    return false;
}

/* ifd: 0 = IFD0, else the tag of IFD0 pointing at the sub-IFD. */
static bool tag_get(const uint8_t *t, size_t n, uint16_t ifd, uint16_t tag, tval *v)
{
    if (!t || n < 8)
        return false;
    bool le = t[0] == 'I';
    uint32_t off = g32(t + 4, le);
    if (ifd) {
        tval p;
        if (!ifd_get(t, n, off, ifd, &p) || p.count != 1)
            return false;
        off = g32(p.p, le);
    }
    return ifd_get(t, n, off, tag, v);
}

static bool tag_str(const uint8_t *t, size_t n, uint16_t ifd, uint16_t tag, const char *want)
{
    tval v;
    if (!tag_get(t, n, ifd, tag, &v) || v.type != 2)
        return false;
    size_t len = strlen(want);
    return v.count >= len && !memcmp(v.p, want, len) && (v.count == len || v.p[len] == 0);
}

static double tag_num(const uint8_t *t, size_t n, uint16_t ifd, uint16_t tag, uint32_t index)
{
    tval v;
    if (!tag_get(t, n, ifd, tag, &v) || index >= v.count)
        return -1;
    switch (v.type) {
    case 1: case 7: return v.p[index];
    case 3: return g16(v.p + 2 * index, v.le);
    case 4: return g32(v.p + 4 * index, v.le);
    case 5: {
        uint32_t den = g32(v.p + 8 * index + 4, v.le);
        return den ? (double)g32(v.p + 8 * index, v.le) / den : -2;
    }
    default: return -3;
    }
}

static bool has_tag(const uint8_t *t, size_t n, uint16_t ifd, uint16_t tag)
{
    tval v;
    return tag_get(t, n, ifd, tag, &v);
}

/* ------------------------------------------------------------------ */
/* The master: 16-bit PQ P3 RGB with a "p3-pq" ICC, written by libtiff */
/* ------------------------------------------------------------------ */
#define W 64
#define H 48

static int write_master(const char *path, bool big_endian)
{
    uint8_t *icc = NULL;
    size_t icc_size = 0;
    if (gainmap_icc_generate(NULL, "p3-pq", &icc, &icc_size) != GAINMAP_OK)
        return 0;
    TIFF *tif = TIFFOpen(path, big_endian ? "wb" : "wl");
    if (!tif) {
        gainmap_free(icc);
        return 0;
    }
    int ok = 1;
    ok &= TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, W);
    ok &= TIFFSetField(tif, TIFFTAG_IMAGELENGTH, H);
    ok &= TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 3);
    ok &= TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 16);
    ok &= TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
    ok &= TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    ok &= TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
    ok &= TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, 16);
    ok &= TIFFSetField(tif, TIFFTAG_ICCPROFILE, (uint32_t)icc_size, icc);
    ok &= TIFFSetField(tif, TIFFTAG_MAKE, "TestCam");
    ok &= TIFFSetField(tif, TIFFTAG_MODEL, "TC-1 Mark II");
    ok &= TIFFSetField(tif, TIFFTAG_DATETIME, "2024:05:06 07:08:09");
    ok &= TIFFSetField(tif, TIFFTAG_ARTIST, "A. Tester");
    ok &= TIFFSetField(tif, TIFFTAG_COPYRIGHT, "(c) 2024 Test");
    ok &= TIFFSetField(tif, TIFFTAG_ORIENTATION, ORIENTATION_RIGHTTOP);   /* 6 */
    ok &= TIFFSetField(tif, TIFFTAG_EXIFIFD, (uint64_t)0);
    ok &= TIFFSetField(tif, TIFFTAG_GPSIFD, (uint64_t)0);
    uint16_t row[W * 3];
    for (uint32_t y = 0; ok && y < H; y++) {
        for (uint32_t x = 0; x < W; x++) {
            /* PQ code values from dark to ~1000 cd/m2, a hue shift across */
            row[3 * x] = (uint16_t)(8000 + 700 * x + 200 * y);
            row[3 * x + 1] = (uint16_t)(9000 + 600 * x);
            row[3 * x + 2] = (uint16_t)(10000 + 300 * x + 300 * y);
        }
        ok = TIFFWriteScanline(tif, row, y, 0) == 1;
    }
    ok = ok && TIFFWriteDirectory(tif);
    uint64_t exif_off = 0, gps_off = 0;
    ok = ok && TIFFCreateEXIFDirectory(tif) == 0;
    if (ok) {
        uint16_t iso = 400;
        ok &= TIFFSetField(tif, EXIFTAG_EXPOSURETIME, 1.0 / 250);
        ok &= TIFFSetField(tif, EXIFTAG_FNUMBER, 2.8);
        ok &= TIFFSetField(tif, EXIFTAG_ISOSPEEDRATINGS, 1, &iso);
        ok &= TIFFSetField(tif, EXIFTAG_DATETIMEORIGINAL, "2024:05:06 07:08:09");
        ok = ok && TIFFWriteCustomDirectory(tif, &exif_off);
    }
    /* libtiff 4.5 does not free a custom directory's values when the next
     * one is created */
    TIFFFreeDirectory(tif);
    ok = ok && TIFFCreateGPSDirectory(tif) == 0;
    if (ok) {
        const TIFFField *fl = TIFFFieldWithTag(tif, GPSTAG_LATITUDE);
        bool dbl = fl && TIFFFieldSetGetSize(fl) == 8;
        double latd[3] = {48, 51, 29.5}, lond[3] = {2, 17, 40.25};
        float latf[3] = {48, 51, 29.5f}, lonf[3] = {2, 17, 40.25f};
        uint8_t version[4] = {2, 3, 0, 0};
        ok &= TIFFSetField(tif, GPSTAG_VERSIONID, version);
        ok &= TIFFSetField(tif, GPSTAG_LATITUDEREF, "N");
        ok &= dbl ? TIFFSetField(tif, GPSTAG_LATITUDE, latd) : TIFFSetField(tif, GPSTAG_LATITUDE, latf);
        ok &= TIFFSetField(tif, GPSTAG_LONGITUDEREF, "E");
        ok &= dbl ? TIFFSetField(tif, GPSTAG_LONGITUDE, lond) : TIFFSetField(tif, GPSTAG_LONGITUDE, lonf);
        ok = ok && TIFFWriteCustomDirectory(tif, &gps_off);
    }
    /* back to IFD0 for the real offsets */
    ok = ok && TIFFSetDirectory(tif, 0);
    ok = ok && TIFFSetField(tif, TIFFTAG_EXIFIFD, exif_off);
    ok = ok && TIFFSetField(tif, TIFFTAG_GPSIFD, gps_off);
    ok = ok && TIFFRewriteDirectory(tif);
    TIFFClose(tif);
    gainmap_free(icc);
    return ok;
}

/* The values write_master put, found in a TIFF-structure blob. */
static void check_values(const uint8_t *t, size_t n, int orientation, const char *what)
{
    printf("  %s: %zu bytes of EXIF\n", what, n);
    CHECK(t != NULL);
    if (!t)
        return;
    CHECK(tag_str(t, n, 0, 0x010F, "TestCam"));
    CHECK(tag_str(t, n, 0, 0x0110, "TC-1 Mark II"));
    CHECK(tag_str(t, n, 0, 0x0132, "2024:05:06 07:08:09"));
    CHECK(tag_str(t, n, 0, 0x013B, "A. Tester"));
    CHECK(tag_str(t, n, 0, 0x8298, "(c) 2024 Test"));
    CHECK_INT(tag_num(t, n, 0, 0x0112, 0), orientation);
    CHECK_NEAR(tag_num(t, n, 0x8769, 0x829A, 0), 1.0 / 250, 1e-9);
    CHECK_NEAR(tag_num(t, n, 0x8769, 0x829D, 0), 2.8, 1e-6);
    CHECK_INT(tag_num(t, n, 0x8769, 0x8827, 0), 400);
    CHECK(tag_str(t, n, 0x8769, 0x9003, "2024:05:06 07:08:09"));
    CHECK_INT(tag_num(t, n, 0x8825, 0x0000, 0), 2);
    CHECK_INT(tag_num(t, n, 0x8825, 0x0000, 1), 3);
    CHECK(tag_str(t, n, 0x8825, 0x0001, "N"));
    CHECK_NEAR(tag_num(t, n, 0x8825, 0x0002, 0), 48, 1e-9);
    CHECK_NEAR(tag_num(t, n, 0x8825, 0x0002, 1), 51, 1e-9);
    CHECK_NEAR(tag_num(t, n, 0x8825, 0x0002, 2), 29.5, 1e-6);
    CHECK(tag_str(t, n, 0x8825, 0x0003, "E"));
    CHECK_NEAR(tag_num(t, n, 0x8825, 0x0004, 2), 40.25, 1e-6);
}

static void test_read_libtiff(bool big_endian)
{
    const char *path = tu_path(dir, big_endian ? "master_mm.tif" : "master_ii.tif");
    CHECK(write_master(path, big_endian));
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    CHECK(gainmap_image_read(ctx, path, &img) == GAINMAP_OK);
    CHECK_STR(gainmap_last_error(ctx), "");
    CHECK_INT(img.orientation, 6);
    CHECK_INT(img.transfer, GAINMAP_TRANSFER_PQ);
    CHECK(img.exif_size <= GM_EXIF_MAX_BYTES);
    if (img.exif) {
        CHECK_INT(img.exif[0], big_endian ? 'M' : 'I');   /* source byte order kept */
        /* strips, sizes, ICC and the like are not EXIF */
        static const uint16_t gone[] = {0x0100, 0x0101, 0x0102, 0x0103, 0x0106, 0x0111, 0x0115,
                                        0x0116, 0x0117, 0x011C, 0x8773};
        for (size_t i = 0; i < sizeof gone / sizeof *gone; i++)
            CHECK_MSG(!has_tag(img.exif, img.exif_size, 0, gone[i]), "tag 0x%04X in IFD0", gone[i]);
        CHECK_INT(gm_exif_orientation(img.exif, img.exif_size), 6);
        /* the library's own lookup agrees */
        gm_exif_value v;
        CHECK(gm_exif_find(img.exif, img.exif_size, 0x8769, 0x8827, &v) && v.type == 3 && v.count == 1);
        CHECK(gm_exif_find(img.exif, img.exif_size, 0x8825, 0x0002, &v) && v.type == 5 && v.count == 3);
        CHECK(!gm_exif_find(img.exif, img.exif_size, 0, 0x0111, &v));
    }
    check_values(img.exif, img.exif_size, 6, big_endian ? "MM master" : "II master");
    gainmap_image_free(&img);
    gainmap_ctx_free(ctx);
}

/* ------------------------------------------------------------------ */
/* exiftool on what the CLI makes of the master                        */
/* ------------------------------------------------------------------ */
static char *exiftool(const char *path)
{
    char *out = NULL;
    int rc = tu_run(&out, "exiftool -j -n -Make -Model -DateTime -ModifyDate -Artist -Copyright -Orientation "
                          "-ExposureTime -FNumber -ISO -DateTimeOriginal -GPSLatitude -GPSLongitude "
                          "-GPSLatitudeRef -GPSVersionID '%s'",
                    path);
    CHECK_INT(rc, 0);
    return out ? out : calloc(1, 1);
}

/* The number after "key": in exiftool's JSON, or -1. */
static double json_num(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(json, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

/* exiftool -validate finds no structural problem: only the tags the
 * master never had ("Missing required"), minor notes, and the deflate
 * compression code of our TIFF writer (not baseline). */
static void check_validate(const char *path)
{
    char *log = NULL;
    tu_run(&log, "exiftool -validate -warning -a '%s'", path);
    CHECK_CONTAINS(log ? log : "", "Validate");
    for (char *line = log; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = 0;
        if (!strncmp(line, "Warning", 7))
            CHECK_MSG(strstr(line, "Missing required") || strstr(line, "[minor]") ||
                          strstr(line, "IFD0 tag 0x0103 Compression"),
                      "%s: %s", gm_basename(path), line);
        line = end ? end + 1 : NULL;
    }
    free(log);
}

static void check_exiftool(const char *json, int orientation)
{
    char want[64];
    CHECK_CONTAINS(json, "\"Make\": \"TestCam\"");
    CHECK_CONTAINS(json, "\"Model\": \"TC-1 Mark II\"");
    CHECK_CONTAINS(json, "\"ModifyDate\": \"2024:05:06 07:08:09\"");
    CHECK_CONTAINS(json, "\"Artist\": \"A. Tester\"");
    CHECK_CONTAINS(json, "\"Copyright\": \"(c) 2024 Test\"");
    snprintf(want, sizeof want, "\"Orientation\": %d", orientation);
    CHECK_CONTAINS(json, want);
    /* libtiff stores these rationals from a float: 2.8 -> 2.799999952 */
    CHECK_NEAR(json_num(json, "ExposureTime"), 0.004, 1e-9);
    CHECK_NEAR(json_num(json, "FNumber"), 2.8, 1e-7);
    CHECK_CONTAINS(json, "\"ISO\": 400");
    CHECK_CONTAINS(json, "\"DateTimeOriginal\": \"2024:05:06 07:08:09\"");
    CHECK_CONTAINS(json, "\"GPSVersionID\": \"2 3 0 0\"");
    CHECK_CONTAINS(json, "\"GPSLatitudeRef\": \"N\"");
    /* 48 + 51/60 + 29.5/3600 = 48.858194..., 2 + 17/60 + 40.25/3600 = 2.294513... */
    CHECK_NEAR(json_num(json, "GPSLatitude"), 48 + 51 / 60.0 + 29.5 / 3600, 1e-9);
    CHECK_NEAR(json_num(json, "GPSLongitude"), 2 + 17 / 60.0 + 40.25 / 3600, 1e-9);
}

static void test_cli_outputs(void)
{
    if (!tu_have("exiftool")) {
        printf("  SKIP: exiftool not installed (libimage-exiftool-perl)\n");
        return;
    }
    for (int big = 0; big <= 1; big++) {
        const char *master = tu_path(dir, big ? "master_mm.tif" : "master_ii.tif");
        CHECK(write_master(master, big));
        char *json = exiftool(master);
        check_exiftool(json, 6);   /* the reference: exiftool on libtiff's file */
        free(json);

        const char *jpg = tu_path(dir, big ? "out_mm.jpg" : "out_ii.jpg");
        char *log = NULL;
        int rc = tu_run(&log, "'%s' encode '%s' -o '%s'", tu_cli(), master, jpg);
        CHECK_MSG(rc == 0, "encode to JPEG: %s", log ? log : "");
        free(log);
        json = exiftool(jpg);
        check_exiftool(json, 6);   /* JPEG keeps the pixels as stored and the tag */
        free(json);
        check_validate(jpg);

        const char *heic = tu_path(dir, big ? "out_mm.heic" : "out_ii.heic");
        log = NULL;
        rc = tu_run(&log, "'%s' encode '%s' -o '%s' --as heic-iso", tu_cli(), master, heic);
        CHECK_MSG(rc == 0, "encode to HEIC: %s", log ? log : "");
        free(log);
        json = exiftool(heic);
        check_exiftool(json, 1);   /* HEIC: orientation applied to the pixels */
        free(json);
        check_validate(heic);

        /* TIFF out: IFD0 tags through libtiff, Exif and GPS IFDs appended */
        gainmap_ctx *ctx = gainmap_ctx_new();
        gainmap_image img, back;
        const char *tif = tu_path(dir, big ? "rewritten_mm.tif" : "rewritten_ii.tif");
        CHECK(gainmap_image_read(ctx, master, &img) == GAINMAP_OK);
        CHECK(gainmap_image_write(ctx, tif, &img, GAINMAP_FORMAT_AUTO) == GAINMAP_OK);
        CHECK_STR(gainmap_last_error(ctx), "");
        json = exiftool(tif);
        check_exiftool(json, 6);
        free(json);
        check_validate(tif);
        CHECK(gainmap_image_read(ctx, tif, &back) == GAINMAP_OK);
        CHECK_INT(back.orientation, 6);
        check_values(back.exif, back.exif_size, 6, "rewritten TIFF");
        CHECK(back.width == img.width && back.height == img.height);
        if (back.data && img.data)
            CHECK(!memcmp(back.data, img.data, (size_t)img.stride * img.height));
        /* libtiff itself follows the appended Exif IFD */
        TIFF *t = TIFFOpen(tif, "r");
        uint64_t off = 0;
        CHECK(t && TIFFGetField(t, TIFFTAG_EXIFIFD, &off) && off > 8);
        if (t && off && TIFFReadEXIFDirectory(t, off)) {
            uint16_t n = 0, *iso = NULL;
            CHECK(TIFFGetField(t, EXIFTAG_ISOSPEEDRATINGS, &n, &iso) && n == 1 && iso && iso[0] == 400);
        } else {
            CHECK(!"libtiff reads the Exif IFD");
        }
        if (t)
            TIFFClose(t);
        gainmap_image_free(&img);
        gainmap_image_free(&back);
        gainmap_ctx_free(ctx);
    }
}

/* A camera's EXIF through TIFF: an iPhone JPEG decoded (keeping the stored
 * orientation, so with its EXIF) to TIFF, read back and encoded again; its
 * Apple maker note (offsets relative to itself) moves intact. */
static void test_camera_exif(void)
{
    const char *src = tu_corpus("apple_jpeg_gainmap/libavif__apple_gainmap_new.jpg");
    if (!tu_exists(src) || !tu_have("exiftool")) {
        printf("  SKIP: corpus file or exiftool missing\n");
        return;
    }
    const char *tif = tu_path(dir, "iphone.tif"), *jpg = tu_path(dir, "iphone.jpg");
    char *log = NULL;
    CHECK_INT(tu_run(&log, "'%s' decode -k '%s' -o '%s'", tu_cli(), src, tif), 0);
    free(log);
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    CHECK(gainmap_image_read(ctx, tif, &img) == GAINMAP_OK);
    CHECK(tag_str(img.exif, img.exif_size, 0, 0x010F, "Apple"));
    CHECK(tag_str(img.exif, img.exif_size, 0, 0x0110, "iPhone 13 mini"));
    CHECK_NEAR(tag_num(img.exif, img.exif_size, 0x8769, 0x829A, 0), 1.0 / 1018, 1e-12);
    tval mn;
    CHECK(tag_get(img.exif, img.exif_size, 0x8769, 0x927C, &mn) && !memcmp(mn.p, "Apple iOS", 9));
    gm_exif_facts facts;
    gm_exif_read(img.exif, img.exif_size, &facts);
    CHECK(facts.has_apple_headroom);
    gainmap_image_free(&img);
    gainmap_ctx_free(ctx);
    check_validate(tif);
    CHECK_INT(tu_run(&log, "'%s' encode '%s' -o '%s'", tu_cli(), tif, jpg), 0);
    free(log);
    log = NULL;
    CHECK_INT(tu_run(&log, "exiftool -j -n -Make -ExposureTime -LensModel -HDRHeadroom '%s'", jpg), 0);
    CHECK_CONTAINS(log ? log : "", "\"LensModel\": \"iPhone 13 mini back dual wide camera 5.1mm f/1.6\"");
    CHECK_NEAR(json_num(log ? log : "", "ExposureTime"), 1.0 / 1018, 1e-9);
    /* the Apple maker note described Apple's gain map, not ours: the encoder drops it */
    CHECK(log && !strstr(log, "HDRHeadroom"));
    free(log);
    check_validate(jpg);
}

/* ------------------------------------------------------------------ */
/* Hostile files, built byte by byte: 2x2 8-bit grey, one strip        */
/* ------------------------------------------------------------------ */
typedef struct ent {
    uint16_t tag, type;
    uint32_t count, value;
} ent;

typedef struct tb {
    gm_buf b;
    bool le;
} tb;

static void tb16(tb *t, uint32_t v)
{
    if (t->le)
        gm_buf_u16le(&t->b, (uint16_t)v);
    else
        gm_buf_u16be(&t->b, (uint16_t)v);
}
static void tb32(tb *t, uint32_t v)
{
    if (t->le)
        gm_buf_u32le(&t->b, v);
    else
        gm_buf_u32be(&t->b, v);
}
static void tb_ifd(tb *t, const ent *e, int n)
{
    tb16(t, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        tb16(t, e[i].tag);
        tb16(t, e[i].type);
        tb32(t, e[i].count);
        if (e[i].type == 3 && e[i].count == 1) {
            tb16(t, e[i].value);
            tb16(t, 0);
        } else {
            tb32(t, e[i].value);
        }
    }
    tb32(t, 0);
}

/* Layout: header, pixels (8), "TestCam\0" (12), IFD0 (20, 11 entries, 138
 * bytes -> 158); the caller appends more and passes exif/gps offsets. */
#define AFTER_IFD0 158u
static void tb_start(tb *t, bool le, uint32_t exif, uint32_t gps)
{
    gm_buf_init(&t->b);
    t->le = le;
    gm_buf_put(&t->b, le ? "II*\0" : "MM\0*", 4);
    tb32(t, 20);
    gm_buf_put(&t->b, "\x10\x40\x80\xF0", 4);
    gm_buf_put(&t->b, "TestCam\0", 8);
    ent e[11] = {{0x0100, 3, 1, 2},    {0x0101, 3, 1, 2},         {0x0102, 3, 1, 8},
                 {0x0103, 3, 1, 1},    {0x0106, 3, 1, 1},         {0x010F, 2, 8, 12},
                 {0x0111, 4, 1, 8},    {0x0115, 3, 1, 1},         {0x0117, 4, 1, 4},
                 {0x8769, 4, 1, exif}, {0x8825, 4, 1, gps}};
    tb_ifd(t, e, 11);
}

typedef struct read_result {
    gainmap_status st;
    uint8_t *exif;
    size_t exif_size;
    char error[200];
} read_result;

static read_result read_bytes(const uint8_t *d, size_t n, int64_t meta_limit)
{
    read_result r;
    memset(&r, 0, sizeof r);
    gainmap_ctx *ctx = gainmap_ctx_new();
    if (meta_limit)
        gainmap_set_option(ctx, GAINMAP_OPT_MAX_METADATA_BYTES, meta_limit);
    gainmap_image img;
    r.st = gainmap_image_read_memory(ctx, d, n, &img);
    snprintf(r.error, sizeof r.error, "%s", gainmap_last_error(ctx));
    if (r.st == GAINMAP_OK) {
        if (img.width != 2 || img.height != 2 || ((uint8_t *)img.data)[img.stride + 1] != 0xF0)
            r.st = GAINMAP_ERR_CORRUPT;
        r.exif = img.exif;
        r.exif_size = img.exif_size;
        img.exif = NULL;
    }
    gainmap_image_free(&img);
    gainmap_ctx_free(ctx);
    return r;
}

static read_result read_tb(tb *t, int64_t meta_limit)
{
    read_result r = read_bytes(t->b.data, t->b.size, meta_limit);
    gm_buf_free(&t->b);
    return r;
}

/* An Exif IFD at AFTER_IFD0: ExposureTime 1/125 (value after the IFD),
 * ISO 200, then `extra` entries. */
static void tb_exif(tb *t, const ent *extra, int n_extra, uint16_t claimed_count)
{
    ent e[8] = {{0x829A, 5, 1, 0}, {0x8827, 3, 1, 200}};
    for (int i = 0; i < n_extra; i++)
        e[2 + i] = extra[i];
    int n = 2 + n_extra;
    e[0].value = AFTER_IFD0 + 2 + 12 * (uint32_t)n + 4;
    size_t at = t->b.size;
    tb_ifd(t, e, n);
    if (claimed_count) {
        uint8_t *p = t->b.data + at;
        p[0] = (uint8_t)(t->le ? claimed_count : claimed_count >> 8);
        p[1] = (uint8_t)(t->le ? claimed_count >> 8 : claimed_count);
    }
    tb32(t, 1);
    tb32(t, 125);
}

static void test_hostile(void)
{
    for (int le = 0; le <= 1; le++) {
        tb t;
        read_result r;
        gm_exif_value v;

        /* sane: the builder itself makes a file whose EXIF reads */
        tb_start(&t, le, AFTER_IFD0, 0);
        tb_exif(&t, NULL, 0, 0);
        r = read_tb(&t, 0);
        CHECK_INT(r.st, GAINMAP_OK);
        CHECK(tag_str(r.exif, r.exif_size, 0, 0x010F, "TestCam"));
        CHECK_NEAR(tag_num(r.exif, r.exif_size, 0x8769, 0x829A, 0), 1.0 / 125, 1e-12);
        CHECK_INT(tag_num(r.exif, r.exif_size, 0x8769, 0x8827, 0), 200);
        CHECK(!has_tag(r.exif, r.exif_size, 0, 0x8825));   /* GPS pointer 0: none */
        CHECK(!has_tag(r.exif, r.exif_size, 0, 0x0111));
        free(r.exif);

        /* Exif IFD offset beyond the file, GPS at an odd offset past the end */
        tb_start(&t, le, 0x7FFFFFF0u, 0xFFFFFFFFu);
        r = read_tb(&t, 0);
        CHECK_INT(r.st, GAINMAP_OK);
        CHECK_STR(r.error, "");
        CHECK(tag_str(r.exif, r.exif_size, 0, 0x010F, "TestCam"));
        CHECK(!has_tag(r.exif, r.exif_size, 0, 0x8769));
        CHECK(!has_tag(r.exif, r.exif_size, 0, 0x8825));
        free(r.exif);

        /* Exif IFD offset at the very end (no room for its count) */
        tb_start(&t, le, AFTER_IFD0 - 1, 0);
        r = read_tb(&t, 0);
        CHECK_INT(r.st, GAINMAP_OK);
        CHECK(!has_tag(r.exif, r.exif_size, 0, 0x8769));
        free(r.exif);

        /* loops: Exif and GPS IFDs pointing at IFD0 */
        tb_start(&t, le, 20, 20);
        r = read_tb(&t, 0);
        CHECK_INT(r.st, GAINMAP_OK);
        CHECK(tag_str(r.exif, r.exif_size, 0, 0x010F, "TestCam"));
        CHECK(!has_tag(r.exif, r.exif_size, 0, 0x8769));
        CHECK(!has_tag(r.exif, r.exif_size, 0, 0x8825));
        free(r.exif);

        /* GPS pointing at the Exif IFD; the Exif IFD's interoperability
         * pointer at itself */
        ent self = {0xA005, 4, 1, AFTER_IFD0};
        tb_start(&t, le, AFTER_IFD0, AFTER_IFD0);
        tb_exif(&t, &self, 1, 0);
        r = read_tb(&t, 0);
        CHECK_INT(r.st, GAINMAP_OK);
        CHECK_INT(tag_num(r.exif, r.exif_size, 0x8769, 0x8827, 0), 200);
        CHECK(!has_tag(r.exif, r.exif_size, 0, 0x8825));
        CHECK(!has_tag(r.exif, r.exif_size, 0x8769, 0xA005));
        free(r.exif);

        /* huge entry count in the Exif IFD: the IFD is dropped */
        tb_start(&t, le, AFTER_IFD0, 0);
        tb_exif(&t, NULL, 0, 0xFFFF);
        r = read_tb(&t, 0);
        CHECK_INT(r.st, GAINMAP_OK);
        CHECK(tag_str(r.exif, r.exif_size, 0, 0x010F, "TestCam"));
        CHECK(!has_tag(r.exif, r.exif_size, 0, 0x8769));
        free(r.exif);

        /* huge value counts, a value offset past the end, an unknown type,
         * an IFD-typed entry: those entries go, the rest stays */
        ent bad[5] = {{0x9003, 2, 0xFFFFFFFFu, 8},     /* DateTimeOriginal, 4 GiB */
                      {0x829D, 5, 0x20000000u, 8},     /* FNumber, count * 8 overflows 32 bits */
                      {0x9286, 7, 100, 0x7FFFFFFFu},   /* UserComment past the end */
                      {0xA002, 99, 1, 1},              /* unknown type */
                      {0xA003, 13, 1, 20}};            /* an IFD where a size belongs */
        tb_start(&t, le, AFTER_IFD0, 0);
        tb_exif(&t, bad, 5, 0);
        r = read_tb(&t, 0);
        CHECK_INT(r.st, GAINMAP_OK);
        CHECK_STR(r.error, "");
        CHECK_INT(tag_num(r.exif, r.exif_size, 0x8769, 0x8827, 0), 200);
        CHECK_NEAR(tag_num(r.exif, r.exif_size, 0x8769, 0x829A, 0), 1.0 / 125, 1e-12);
        for (int i = 0; i < 5; i++)
            CHECK_MSG(!has_tag(r.exif, r.exif_size, 0x8769, bad[i].tag), "tag 0x%04X kept", bad[i].tag);
        free(r.exif);

        /* huge count on IFD0's Make: dropped; nothing else descriptive, so
         * no EXIF at all (the orientation would travel alone) */
        tb_start(&t, le, 0, 0);
        t.b.data[20 + 2 + 12 * 5 + (le ? 7 : 4)] = 0x40;   /* Make count 0x40000008 */
        r = read_tb(&t, 0);
        CHECK_INT(r.st, GAINMAP_OK);
        CHECK(r.exif == NULL);
        free(r.exif);

        /* duplicate tags: the first kept, entries come out sorted */
        ent dup[2] = {{0x8827, 3, 1, 800}, {0x0001, 3, 1, 7}};
        tb_start(&t, le, AFTER_IFD0, 0);
        tb_exif(&t, dup, 2, 0);
        r = read_tb(&t, 0);
        CHECK_INT(tag_num(r.exif, r.exif_size, 0x8769, 0x8827, 0), 200);
        CHECK(gm_exif_find(r.exif, r.exif_size, 0x8769, 0x0001, &v));
        if (r.exif) {
            tval p;
            CHECK(tag_get(r.exif, r.exif_size, 0, 0x8769, &p));
            uint32_t off = g32(p.p, p.le);
            CHECK_INT(g16(r.exif + off, p.le), 3);
            CHECK_INT(g16(r.exif + off + 2, p.le), 0x0001);
            CHECK_INT(g16(r.exif + off + 14, p.le), 0x829A);
            CHECK_INT(g16(r.exif + off + 26, p.le), 0x8827);
        }
        free(r.exif);

        /* truncated just after IFD0's count: libtiff refuses the file; one
         * error, no crash */
        tb_start(&t, le, AFTER_IFD0, 0);
        t.b.size = 22;
        r = read_tb(&t, 0);
        CHECK(r.st != GAINMAP_OK);
        CHECK(r.error[0] != 0);
    }
}

/* Maker notes: a self-relative one (Apple) moves along, one that counts
 * from the file's header (Canon-style, no signature) is dropped; values and
 * maker notes are shed to fit one APP1 segment and the metadata limit. */
static void test_maker_and_size(void)
{
    for (int le = 0; le <= 1; le++) {
        tb t;
        read_result r;
        uint32_t value_at = AFTER_IFD0 + 2 + 12 * 3 + 4 + 8;   /* after the IFD and ExposureTime */

        ent apple = {0x927C, 7, 64, value_at};
        tb_start(&t, le, AFTER_IFD0, 0);
        tb_exif(&t, &apple, 1, 0);
        gm_buf_put(&t.b, "Apple iOS\0\0\1MM", 14);
        for (int i = 14; i < 64; i++)
            gm_buf_u8(&t.b, (uint8_t)i);
        r = read_tb(&t, 0);
        tval v;
        CHECK(tag_get(r.exif, r.exif_size, 0x8769, 0x927C, &v) && v.count == 64 && !memcmp(v.p, "Apple iOS", 9) &&
              v.p[63] == 63);
        free(r.exif);

        ent canon = {0x927C, 7, 64, value_at};
        tb_start(&t, le, AFTER_IFD0, 0);
        tb_exif(&t, &canon, 1, 0);
        for (int i = 0; i < 64; i++)
            gm_buf_u8(&t.b, (uint8_t)i);
        r = read_tb(&t, 0);
        CHECK_INT(tag_num(r.exif, r.exif_size, 0x8769, 0x8827, 0), 200);
        CHECK(!has_tag(r.exif, r.exif_size, 0x8769, 0x927C));
        free(r.exif);

        /* 30000-byte Apple maker note + 60000-byte UserComment: too much for
         * one APP1; both go, ExposureTime and ISO stay */
        uint32_t big_at = value_at + 12;   /* one more entry than above */
        ent big[2] = {{0x927C, 7, 30000, big_at}, {0x9286, 7, 60000, big_at + 30000}};
        tb_start(&t, le, AFTER_IFD0, 0);
        tb_exif(&t, big, 2, 0);
        CHECK_INT(t.b.size, big_at);
        for (size_t i = 0; i < 90000; i++)
            gm_buf_u8(&t.b, 'x');
        memcpy(t.b.data + big_at, "Apple iOS\0\0\1MM", 14);
        r = read_tb(&t, 0);
        CHECK(r.exif && r.exif_size <= GM_EXIF_MAX_BYTES);
        CHECK_INT(tag_num(r.exif, r.exif_size, 0x8769, 0x8827, 0), 200);
        CHECK(!has_tag(r.exif, r.exif_size, 0x8769, 0x927C));
        CHECK(!has_tag(r.exif, r.exif_size, 0x8769, 0x9286));
        free(r.exif);

        /* a 120-byte metadata limit: the long ones go; 40: nothing fits, no
         * EXIF, the image still reads with no error */
        ent mid = {0x9286, 7, 100, value_at};
        for (int pass = 0; pass < 2; pass++) {
            tb_start(&t, le, AFTER_IFD0, 0);
            tb_exif(&t, &mid, 1, 0);
            for (int i = 0; i < 100; i++)
                gm_buf_u8(&t.b, 'c');
            r = read_tb(&t, pass ? 40 : 120);
            CHECK_INT(r.st, GAINMAP_OK);
            CHECK_STR(r.error, "");
            if (pass) {
                CHECK(r.exif == NULL);
            } else {
                CHECK(r.exif && r.exif_size <= 120);
                CHECK_INT(tag_num(r.exif, r.exif_size, 0x8769, 0x8827, 0), 200);
                CHECK(!has_tag(r.exif, r.exif_size, 0x8769, 0x9286));
            }
            free(r.exif);
        }
    }
}

/* Random byte changes in the directories of a libtiff-written master
 * (libtiff writes them after the pixels): the EXIF walk never reads out of
 * bounds (ASan), its blob fits the cap and rebuilding the blob from itself
 * gives the same bytes (it is already compact, sorted and aligned). */
static void test_mutated(void)
{
    const char *path = tu_path(dir, "master_ii.tif");
    size_t n = 0;
    uint8_t *orig = tu_read(path, &n);
    CHECK(orig && n > 2000);
    if (!orig)
        return;
    uint8_t *d = malloc(n);
    tval e, g;
    CHECK(tag_get(orig, n, 0, 0x8769, &e) && tag_get(orig, n, 0, 0x8825, &g));
    size_t ifds[3] = {g32(orig + 4, true), g32(e.p, true), g32(g.p, true)};
    uint32_t seed = 12345;
    int with_exif = 0, changed = 0, reads_ok = 0;
    uint8_t *x = NULL;
    size_t xn = 0;
    gm_exif_from_tiff(orig, n, GM_EXIF_MAX_BYTES, &x, &xn);
    CHECK(x != NULL);
    uint8_t *y = NULL;
    size_t yn = 0;
    gm_exif_from_tiff(x, xn, GM_EXIF_MAX_BYTES, &y, &yn);
    CHECK(y && yn == xn && !memcmp(x, y, xn));
    uint8_t *ref = x;
    size_t ref_n = xn;
    free(y);
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(d, orig, n);
        int flips = 1 + iter % 4;
        for (int k = 0; k < flips; k++) {
            seed = seed * 1103515245u + 12345u;
            /* within 200 bytes of an IFD, or anywhere past the pixels */
            size_t at = (seed >> 8) % 4 < 3 ? ifds[(seed >> 12) % 3] + (seed >> 16) % 200
                                           : W * H * 6 + (seed >> 8) % (n - W * H * 6);
            if (at >= n)
                at = n - 1;
            seed = seed * 1103515245u + 12345u;
            d[at] = (uint8_t)(seed >> 16);
        }
        gm_exif_from_tiff(d, n, GM_EXIF_MAX_BYTES, &x, &xn);
        if (x) {
            with_exif++;
            changed += xn != ref_n || memcmp(x, ref, xn);
            CHECK(xn <= GM_EXIF_MAX_BYTES && xn >= 8);
            int o = gm_exif_orientation(x, xn);
            CHECK(o >= 0 && o <= 8);
            gm_exif_from_tiff(x, xn, GM_EXIF_MAX_BYTES, &y, &yn);
            CHECK_MSG(y && yn == xn && !memcmp(x, y, xn), "iteration %d: rebuilt EXIF differs", iter);
            free(y);
        }
        free(x);
        if (iter % 15 == 0) {
            gainmap_ctx *ctx = gainmap_ctx_new();
            gainmap_image img;
            gainmap_status st = gainmap_image_read_memory(ctx, d, n, &img);
            reads_ok += st == GAINMAP_OK;
            CHECK(st == GAINMAP_OK || gainmap_last_error(ctx)[0]);
            gainmap_image_free(&img);
            gainmap_ctx_free(ctx);
        }
    }
    printf("  3000 mutants: %d with EXIF, %d of them changed; 200 full reads, %d succeeded\n", with_exif, changed,
           reads_ok);
    CHECK(with_exif > 1000);
    CHECK(changed > 1000);   /* the mutations do reach the directories */
    free(ref);
    free(d);
    free(orig);
}

/* A TIFF from the library's own writer without EXIF gets none back, and
 * the bundled sample still has no EXIF (nothing descriptive in it). */
static void test_plain(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    CHECK(gainmap_image_alloc(ctx, &img, 4, 4, 3, GAINMAP_PIXEL_U16) == GAINMAP_OK);
    img.orientation = 3;
    const char *p = tu_path(dir, "plain.tif");
    CHECK(gainmap_image_write(ctx, p, &img, GAINMAP_FORMAT_AUTO) == GAINMAP_OK);
    gainmap_image_free(&img);
    CHECK(gainmap_image_read(ctx, p, &img) == GAINMAP_OK);
    CHECK(img.exif == NULL);
    CHECK_INT(img.orientation, 3);
    gainmap_image_free(&img);
    char sample[1024];
    snprintf(sample, sizeof sample, "%s/samples/sample_p3_pq.tif", getenv("GM_SOURCE_DIR") ? getenv("GM_SOURCE_DIR") : ".");
    if (gainmap_image_read(ctx, sample, &img) == GAINMAP_OK) {
        CHECK(img.exif == NULL);
        gainmap_image_free(&img);
    }
    gainmap_ctx_free(ctx);
}

int main(void)
{
    dir = tu_tmpdir("tiff_exif");
    RUN_TEST(test_plain);
    test_read_libtiff(false);
    test_read_libtiff(true);
    RUN_TEST(test_mutated);
    RUN_TEST(test_hostile);
    RUN_TEST(test_maker_and_size);
    RUN_TEST(test_cli_outputs);
    RUN_TEST(test_camera_exif);
    TEST_SUMMARY();
}

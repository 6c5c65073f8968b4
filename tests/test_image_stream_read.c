/* test_image_stream_read.c - gainmap_image_read(path) decodes a TIFF from
 * the file descriptor (gm_tiff_read_fd) instead of a whole-file copy: for
 * every kind of TIFF we read (8/16-bit RGB, grey, RGBA, float, half float,
 * strips or tiles, none/LZW/Deflate, ICC, EXIF, orientation, both byte
 * orders) it must give the very image gainmap_image_read_memory gives for
 * the file's bytes, and the pixels written; truncated and corrupt files the
 * same status and message; directories, missing and oversized files the
 * errors they always had.  PNGs stream too (gm_png_read_fd), under the same
 * rules. */
#include "check.h"
#include "internal.h"
#include "support/testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <png.h>
#include <tiffio.h>
#include <unistd.h>

static const char *dir;

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

/* Deterministic samples that differ from row to row and channel to channel. */
static void fill(gainmap_image *img)
{
    for (uint32_t y = 0; y < img->height; y++) {
        uint8_t *row = (uint8_t *)img->data + (size_t)y * img->stride;
        for (uint32_t i = 0; i < img->width * img->channels; i++) {
            uint32_t v = y * 7919u + i * 104729u + (i % 3) * 31u;
            if (img->type == GAINMAP_PIXEL_U8)
                row[i] = (uint8_t)v;
            else if (img->type == GAINMAP_PIXEL_U16)
                ((uint16_t *)(void *)row)[i] = (uint16_t)v;
            else
                ((float *)(void *)row)[i] = (float)((v % 2047) / 512.0);
        }
    }
}

static int same_image_pixels(const gainmap_image *a, const gainmap_image *b)
{
    if (a->width != b->width || a->height != b->height || a->channels != b->channels || a->type != b->type ||
        !a->data || !b->data)
        return 0;
    size_t row = (size_t)a->width * a->channels * gm_pixel_size(a->type);
    for (uint32_t y = 0; y < a->height; y++)
        if (memcmp((uint8_t *)a->data + (size_t)y * a->stride, (uint8_t *)b->data + (size_t)y * b->stride, row))
            return 0;
    return 1;
}

static int same_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    return an == bn && (an == 0 || (a && b && !memcmp(a, b, an))) && (!a) == (!b);
}

/* Read `path` both ways; every field must agree.  The streamed image goes
 * to *keep when given (else freed); the status is returned and, through
 * msg, the streamed read's message. */
static gainmap_status both_ways(const char *path, gainmap_image *keep, char *msg, size_t msg_cap)
{
    gainmap_ctx *c1 = gainmap_ctx_new(), *c2 = gainmap_ctx_new();
    gainmap_image a, b;
    gainmap_status s1 = gainmap_image_read(c1, path, &a);
    size_t n = 0;
    uint8_t *data = tu_read(path, &n);
    CHECK(data != NULL);
    gainmap_status s2 = gainmap_image_read_memory(c2, data, n, &b);
    free(data);
    CHECK_MSG(s1 == s2, "%s: streamed %d, from memory %d", gm_basename(path), (int)s1, (int)s2);
    CHECK_STR(gainmap_last_error(c1), gainmap_last_error(c2));
    if (msg)
        snprintf(msg, msg_cap, "%s", gainmap_last_error(c1));
    if (s1 == GAINMAP_OK && s2 == GAINMAP_OK) {
        CHECK_MSG(same_image_pixels(&a, &b), "%s: pixels differ", gm_basename(path));
        CHECK_INT(a.stride, b.stride);
        CHECK_INT(a.bit_depth, b.bit_depth);
        CHECK_INT(a.transfer, b.transfer);
        CHECK_INT(a.primaries, b.primaries);
        CHECK_INT(a.has_cicp, b.has_cicp);
        CHECK(!memcmp(a.cicp, b.cicp, 4));
        CHECK_INT(a.orientation, b.orientation);
        CHECK(a.max_cll == b.max_cll && a.max_fall == b.max_fall);
        CHECK_MSG(same_bytes(a.icc, a.icc_size, b.icc, b.icc_size), "%s: ICC differs", gm_basename(path));
        CHECK_MSG(same_bytes(a.exif, a.exif_size, b.exif, b.exif_size), "%s: EXIF differs", gm_basename(path));
    }
    gainmap_image_free(&b);
    if (keep)
        *keep = a;
    else
        gainmap_image_free(&a);
    gainmap_ctx_free(c1);
    gainmap_ctx_free(c2);
    return s1;
}

/* Little-endian EXIF: IFD0 Make "Acme", Orientation 6, an Exif IFD with
 * ISOSpeedRatings 100. */
static const uint8_t exif_le[74] = {
    'I', 'I', 42, 0, 8, 0, 0, 0,                     /* header, IFD0 at 8 */
    3, 0,                                            /* 3 entries */
    0x0F, 0x01, 2, 0, 5, 0, 0, 0, 50, 0, 0, 0,        /* Make, ASCII[5] at 50 */
    0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0,         /* Orientation 6 */
    0x69, 0x87, 4, 0, 1, 0, 0, 0, 56, 0, 0, 0,        /* Exif IFD at 56 */
    0, 0, 0, 0,                                      /* no next IFD */
    'A', 'c', 'm', 'e', 0, 0,                        /* 50: Make, pad */
    1, 0,                                            /* 56: 1 entry */
    0x27, 0x88, 3, 0, 1, 0, 0, 0, 100, 0, 0, 0,       /* ISOSpeedRatings 100 */
    0, 0, 0, 0,
};

/* A TIFF of img through our writer (Deflate + predictor; 16-bit or float). */
static void check_own_writer(const char *name, uint32_t w, uint32_t h, uint32_t ch, gainmap_pixel_type type,
                             gainmap_transfer tf, gainmap_primaries pr, bool with_exif)
{
    const char *p = tu_path(dir, name);
    gainmap_image src, got;
    CHECK_INT(gainmap_image_alloc(NULL, &src, w, h, ch, type), GAINMAP_OK);
    fill(&src);
    src.transfer = tf;
    src.primaries = pr;
    src.bit_depth = type == GAINMAP_PIXEL_F32 ? 32 : 16;
    src.orientation = with_exif ? 6 : 3;
    if (with_exif)
        CHECK_INT(gainmap_image_set_exif(&src, exif_le, sizeof exif_le), GAINMAP_OK);
    CHECK_INT(gm_tiff_write(NULL, p, &src), GAINMAP_OK);
    CHECK_INT(both_ways(p, &got, NULL, 0), GAINMAP_OK);
    CHECK_MSG(same_image_pixels(&src, &got), "%s: not the pixels written", name);
    CHECK_INT(got.transfer, tf);
    CHECK_INT(got.primaries, pr);
    if (with_exif) {
        CHECK_INT(got.orientation, 6);
        gm_exif_value v;
        CHECK(got.exif && gm_exif_find(got.exif, got.exif_size, 0x8769, 0x8827, &v) && v.type == 3 &&
              gm_le16(v.data) == 100);
        CHECK(got.exif && gm_exif_find(got.exif, got.exif_size, 0, 0x010F, &v) && v.size == 5 &&
              !memcmp(v.data, "Acme", 5));
    } else {
        CHECK_INT(got.orientation, 3);
        CHECK(got.exif == NULL);
    }
    /* PQ/HLG/P3 get an ICC profile from our writer (TIFF has no cICP) */
    if (tf == GAINMAP_TRANSFER_PQ)
        CHECK(got.icc && got.icc_size > 128);
    gainmap_image_free(&got);
    gainmap_image_free(&src);
}

static void test_own_writer(void)
{
    check_own_writer("rgb16_pq.tif", 61, 37, 3, GAINMAP_PIXEL_U16, GAINMAP_TRANSFER_PQ, GAINMAP_PRIMARIES_P3, true);
    check_own_writer("rgba16.tif", 33, 20, 4, GAINMAP_PIXEL_U16, GAINMAP_TRANSFER_SRGB, GAINMAP_PRIMARIES_BT709, false);
    check_own_writer("grey16_hlg.tif", 40, 9, 1, GAINMAP_PIXEL_U16, GAINMAP_TRANSFER_HLG, GAINMAP_PRIMARIES_BT2020,
                     false);
    check_own_writer("rgb_f32.tif", 29, 31, 3, GAINMAP_PIXEL_F32, GAINMAP_TRANSFER_LINEAR, GAINMAP_PRIMARIES_BT709,
                     true);
    /* through the public writer and a tall image: many strips */
    const char *p = tu_path(dir, "public.tif");
    gainmap_image src, got;
    CHECK_INT(gainmap_image_alloc(NULL, &src, 300, 401, 3, GAINMAP_PIXEL_U16), GAINMAP_OK);
    fill(&src);
    src.transfer = GAINMAP_TRANSFER_PQ;
    src.primaries = GAINMAP_PRIMARIES_BT2020;
    CHECK_INT(gainmap_image_write(NULL, p, &src, GAINMAP_FORMAT_TIFF), GAINMAP_OK);
    CHECK_INT(both_ways(p, &got, NULL, 0), GAINMAP_OK);
    CHECK(same_image_pixels(&src, &got));
    CHECK_INT(got.primaries, GAINMAP_PRIMARIES_BT2020);
    gainmap_image_free(&got);
    gainmap_image_free(&src);
}

/* What libtiff writes for us: layouts our writer never produces. */
typedef struct variant {
    const char *name;
    uint32_t w, h, ch;
    unsigned bits;       /* 8, 16 or 32 */
    bool is_float, half; /* half: 16-bit IEEE samples */
    uint16_t compression;
    uint32_t rps;        /* 0: one strip; with tile: tile size */
    bool tiled, big_endian, icc;
    uint16_t orientation;   /* 0: no tag */
} variant;

static uint8_t *icc;
static size_t icc_size;

static const uint8_t *icc_bytes(size_t *n)
{
    if (!icc && gainmap_icc_generate(NULL, "p3-pq", &icc, &icc_size) != GAINMAP_OK)
        icc = NULL;
    *n = icc_size;
    return icc;
}

static bool write_variant(const char *path, const variant *v, const gainmap_image *src)
{
    TIFF *t = TIFFOpen(path, v->big_endian ? "wb" : "wl");
    if (!t)
        return false;
    int ok = 1;
    ok &= TIFFSetField(t, TIFFTAG_IMAGEWIDTH, v->w);
    ok &= TIFFSetField(t, TIFFTAG_IMAGELENGTH, v->h);
    ok &= TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)v->ch);
    ok &= TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)v->bits);
    ok &= TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, (uint16_t)(v->is_float ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT));
    ok &= TIFFSetField(t, TIFFTAG_PHOTOMETRIC, (uint16_t)(v->ch >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK));
    ok &= TIFFSetField(t, TIFFTAG_PLANARCONFIG, (uint16_t)PLANARCONFIG_CONTIG);
    ok &= TIFFSetField(t, TIFFTAG_COMPRESSION, v->compression);
    if (v->ch == 4) {
        uint16_t extra = EXTRASAMPLE_UNASSALPHA;
        ok &= TIFFSetField(t, TIFFTAG_EXTRASAMPLES, (uint16_t)1, &extra);
    }
    if (v->orientation)
        ok &= TIFFSetField(t, TIFFTAG_ORIENTATION, v->orientation);
    if (v->icc) {
        size_t n;
        const uint8_t *profile = icc_bytes(&n);
        ok &= profile && TIFFSetField(t, TIFFTAG_ICCPROFILE, (uint32_t)n, profile);
    }
    size_t sample = v->bits / 8, row = (size_t)v->w * v->ch * sample;
    /* the file's rows: the image's, or its floats as halves */
    uint8_t *rows = malloc(row * v->h);
    ok &= rows != NULL;
    for (uint32_t y = 0; ok && y < v->h; y++) {
        const uint8_t *s = (const uint8_t *)src->data + (size_t)y * src->stride;
        if (!v->half) {
            memcpy(rows + y * row, s, row);
            continue;
        }
        for (size_t i = 0; i < (size_t)v->w * v->ch; i++) {
            float f;
            memcpy(&f, s + 4 * i, 4);
            uint16_t hv = gm_float_to_half(f);
            memcpy(rows + y * row + 2 * i, &hv, 2);
        }
    }
    if (ok && v->tiled) {
        ok &= TIFFSetField(t, TIFFTAG_TILEWIDTH, v->rps);
        ok &= TIFFSetField(t, TIFFTAG_TILELENGTH, v->rps);
        size_t trow = (size_t)v->rps * v->ch * sample;
        uint8_t *tile = calloc(v->rps, trow);
        ok &= tile != NULL;
        for (uint32_t ty = 0; ok && ty < v->h; ty += v->rps)
            for (uint32_t tx = 0; ok && tx < v->w; tx += v->rps) {
                memset(tile, 0, trow * v->rps);
                for (uint32_t r = 0; r < v->rps && ty + r < v->h; r++)
                    memcpy(tile + r * trow, rows + (ty + r) * row + tx * v->ch * sample,
                           (size_t)GM_MIN(v->rps, v->w - tx) * v->ch * sample);
                ok &= TIFFWriteTile(t, tile, tx, ty, 0, 0) >= 0;
            }
        free(tile);
    } else if (ok) {
        ok &= TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, v->rps ? v->rps : v->h);
        for (uint32_t y = 0; ok && y < v->h; y++)
            ok &= TIFFWriteScanline(t, rows + y * row, y, 0) == 1;
    }
    free(rows);
    TIFFClose(t);
    return ok;
}

static void test_libtiff_variants(void)
{
    static const variant vs[] = {
        {"rgb8_raw.tif", 45, 23, 3, 8, false, false, COMPRESSION_NONE, 4, false, false, false, 0},
        {"rgb8_raw_1strip_be.tif", 45, 23, 3, 8, false, false, COMPRESSION_NONE, 0, false, true, true, 8},
        {"rgb16_raw_be.tif", 37, 19, 3, 16, false, false, COMPRESSION_NONE, 5, false, true, true, 0},
        {"rgb16_raw_le.tif", 37, 19, 3, 16, false, false, COMPRESSION_NONE, 7, false, false, true, 5},
        {"grey8_lzw.tif", 50, 30, 1, 8, false, false, COMPRESSION_LZW, 8, false, false, false, 2},
        {"grey16_raw.tif", 17, 40, 1, 16, false, false, COMPRESSION_NONE, 3, false, false, false, 0},
        {"rgba8_deflate.tif", 31, 17, 4, 8, false, false, COMPRESSION_ADOBE_DEFLATE, 6, false, false, false, 0},
        {"rgba16_raw_be.tif", 31, 17, 4, 16, false, false, COMPRESSION_NONE, 0, false, true, false, 4},
        {"rgb16_deflate_be.tif", 64, 33, 3, 16, false, false, COMPRESSION_ADOBE_DEFLATE, 16, false, true, true, 7},
        {"f32_raw.tif", 21, 13, 3, 32, true, false, COMPRESSION_NONE, 2, false, false, false, 0},
        {"f32_raw_be.tif", 21, 13, 1, 32, true, false, COMPRESSION_NONE, 5, false, true, false, 0},
        {"half_raw.tif", 21, 13, 3, 16, true, true, COMPRESSION_NONE, 4, false, false, false, 0},
        {"half_lzw_be.tif", 21, 13, 4, 16, true, true, COMPRESSION_LZW, 0, false, true, false, 6},
        {"tiled8_raw.tif", 40, 20, 3, 8, false, false, COMPRESSION_NONE, 16, true, false, true, 0},
        {"tiled16_lzw_be.tif", 50, 35, 3, 16, false, false, COMPRESSION_LZW, 16, true, true, false, 0},
        {"tiled_half_deflate.tif", 33, 18, 1, 16, true, true, COMPRESSION_ADOBE_DEFLATE, 16, true, false, false, 0},
    };
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        const variant *v = &vs[i];
        gainmap_pixel_type type = v->is_float ? GAINMAP_PIXEL_F32 : v->bits == 8 ? GAINMAP_PIXEL_U8 : GAINMAP_PIXEL_U16;
        gainmap_image src, got;
        CHECK_INT(gainmap_image_alloc(NULL, &src, v->w, v->h, v->ch, type), GAINMAP_OK);
        fill(&src);
        const char *p = tu_path(dir, v->name);
        CHECK_MSG(write_variant(p, v, &src), "%s: libtiff could not write it", v->name);
        CHECK_INT(both_ways(p, &got, NULL, 0), GAINMAP_OK);
        /* our fill's floats are multiples of 1/512 below 8: exact in halves */
        CHECK_MSG(same_image_pixels(&src, &got), "%s: not the pixels written", v->name);
        CHECK_INT(got.bit_depth, v->bits);
        CHECK_INT(got.orientation, v->orientation ? v->orientation : 1);
        if (v->icc) {
            size_t n;
            const uint8_t *profile = icc_bytes(&n);
            CHECK(same_bytes(got.icc, got.icc_size, profile, n));
            CHECK_INT(got.transfer, GAINMAP_TRANSFER_PQ);
            CHECK_INT(got.primaries, GAINMAP_PRIMARIES_P3);
        } else {
            CHECK(got.icc == NULL);
            CHECK_INT(got.transfer, v->is_float ? GAINMAP_TRANSFER_LINEAR : GAINMAP_TRANSFER_SRGB);
            CHECK_INT(got.primaries, GAINMAP_PRIMARIES_BT709);
        }
        gainmap_image_free(&got);
        gainmap_image_free(&src);
    }
}

/* An 8-bit grey TIFF laid out by hand, IFD first and strips last (as many
 * cameras and our bench master do), so that a cut lands in the pixels:
 * 16 x 32, 8 strips of 4 rows at 256 + 64 * i; the strip offsets at 160,
 * their byte counts at 200. */
enum { HW = 16, HH = 32, HRPS = 4, HSTRIPS = 8, HDATA = 256 };

static void put16(uint8_t *d, uint16_t v)
{
    d[0] = (uint8_t)v;
    d[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *d, uint32_t v)
{
    put16(d, (uint16_t)v);
    put16(d + 2, (uint16_t)(v >> 16));
}

static size_t hand_tiff(uint8_t *d)
{
    static const uint16_t tags[9] = {256, 257, 258, 259, 262, 273, 277, 278, 279};
    const uint32_t values[9] = {HW, HH, 8, 1, 1, 160, 1, HRPS, 200};
    const uint32_t counts[9] = {1, 1, 1, 1, 1, HSTRIPS, 1, 1, HSTRIPS};
    size_t size = HDATA + HW * HH;
    memset(d, 0, size);
    memcpy(d, "II*\0", 4);
    put32(d + 4, 8);
    put16(d + 8, 9);
    for (int i = 0; i < 9; i++) {
        uint8_t *e = d + 10 + 12 * i;
        put16(e, tags[i]);
        put16(e + 2, tags[i] == 273 || tags[i] == 279 ? 4 : 3);
        put32(e + 4, counts[i]);
        put32(e + 8, values[i]);
    }
    for (uint32_t s = 0; s < HSTRIPS; s++) {
        put32(d + 160 + 4 * s, HDATA + s * HW * HRPS);
        put32(d + 200 + 4 * s, HW * HRPS);
    }
    for (uint32_t i = 0; i < HW * HH; i++)
        d[HDATA + i] = (uint8_t)(i * 13 + 7);
    return size;
}

static gainmap_status write_and_read(const char *name, const uint8_t *d, size_t n, char *msg, size_t cap)
{
    const char *p = tu_path(dir, name);
    CHECK_INT(tu_write(p, d, n), 0);
    return both_ways(p, NULL, msg, cap);
}

static void test_truncated_and_corrupt(void)
{
    uint8_t d[HDATA + HW * HH], e[sizeof d];
    size_t n = hand_tiff(d);
    char msg[300];
    gainmap_image got;
    /* the hand-made file itself reads, with the pixels laid out above */
    const char *p = tu_path(dir, "hand.tif");
    CHECK_INT(tu_write(p, d, n), 0);
    CHECK_INT(both_ways(p, &got, NULL, 0), GAINMAP_OK);
    CHECK(got.data && got.width == HW && got.height == HH && got.type == GAINMAP_PIXEL_U8 &&
          !memcmp(got.data, d + HDATA, HW * HH));
    gainmap_image_free(&got);

    /* cut inside the pixels: our own check names the strip */
    CHECK_INT(write_and_read("cut_pixels.tif", d, HDATA + 5 * HW * HRPS + 3, msg, sizeof msg), GAINMAP_ERR_TRUNCATED);
    CHECK_STR(msg, "TIFF: truncated: strip 5 runs past the end of the file");
    CHECK_INT(write_and_read("cut_last.tif", d, n - 1, msg, sizeof msg), GAINMAP_ERR_TRUNCATED);
    CHECK_STR(msg, "TIFF: truncated: strip 7 runs past the end of the file");
    /* cut inside the header, the IFD, the strip tables: whatever libtiff
     * says, the same both ways */
    static const size_t cuts[] = {4, 7, 9, 15, 60, 120, 210, 240, 255};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        gainmap_status st = write_and_read("cut.tif", d, cuts[i], msg, sizeof msg);
        CHECK_MSG(st == GAINMAP_ERR_TRUNCATED || st == GAINMAP_ERR_CORRUPT, "cut at %zu: status %d (%s)", cuts[i],
                  (int)st, msg);
        CHECK_MSG(!strncmp(msg, "TIFF: ", 6), "cut at %zu: %s", cuts[i], msg);
    }
    CHECK_INT(write_and_read("cut_header.tif", d, 7, msg, sizeof msg), GAINMAP_ERR_TRUNCATED);

    /* 2 samples per pixel */
    memcpy(e, d, n);
    put16(e + 10 + 12 * 6 + 8, 2);
    CHECK_INT(write_and_read("spp2.tif", e, n, msg, sizeof msg), GAINMAP_ERR_UNSUPPORTED);
    CHECK_STR(msg, "TIFF: unsupported 2 samples per pixel");
    /* 12-bit samples */
    memcpy(e, d, n);
    put16(e + 10 + 12 * 2 + 8, 12);
    CHECK_INT(write_and_read("bits12.tif", e, n, msg, sizeof msg), GAINMAP_ERR_UNSUPPORTED);
    CHECK_STR(msg, "TIFF: unsupported 12-bit integer samples");
    /* raw pixels declared LZW: the codec fails on them */
    memcpy(e, d, n);
    put16(e + 10 + 12 * 3 + 8, COMPRESSION_LZW);
    CHECK_INT(write_and_read("fake_lzw.tif", e, n, msg, sizeof msg), GAINMAP_ERR_CORRUPT);
    CHECK_MSG(!strncmp(msg, "TIFF: ", 6) && strlen(msg) > 8, "%s", msg);
    /* IFD0 beyond the end of the file */
    memcpy(e, d, n);
    put32(e + 4, 100000);
    CHECK_INT(write_and_read("ifd_beyond.tif", e, n, msg, sizeof msg), GAINMAP_ERR_CORRUPT);
    /* a strip offset beyond the end */
    memcpy(e, d, n);
    put32(e + 160 + 4 * 2, 1u << 20);
    CHECK_INT(write_and_read("strip_beyond.tif", e, n, msg, sizeof msg), GAINMAP_ERR_TRUNCATED);
    CHECK_STR(msg, "TIFF: truncated: strip 2 runs past the end of the file");
    /* no image width */
    memcpy(e, d, n);
    put16(e + 10, 999);
    CHECK_INT(write_and_read("no_width.tif", e, n, msg, sizeof msg), GAINMAP_ERR_CORRUPT);
    /* garbage after a TIFF signature, and a BigTIFF signature with garbage */
    memset(e, 0xA5, n);
    memcpy(e, "MM\0*", 4);
    CHECK_INT(write_and_read("garbage.tif", e, n, msg, sizeof msg), GAINMAP_ERR_CORRUPT);
    memcpy(e, "II+\0", 4);
    CHECK_INT(write_and_read("garbage_big.tif", e, n, msg, sizeof msg), GAINMAP_ERR_CORRUPT);

    /* a truncated compressed file of our own writer, cut at several places */
    gainmap_image src;
    CHECK_INT(gainmap_image_alloc(NULL, &src, 64, 64, 3, GAINMAP_PIXEL_U16), GAINMAP_OK);
    fill(&src);
    p = tu_path(dir, "own_full.tif");
    CHECK_INT(gm_tiff_write(NULL, p, &src), GAINMAP_OK);
    gainmap_image_free(&src);
    size_t fn = 0;
    uint8_t *full = tu_read(p, &fn);
    CHECK(full && fn > 200);
    for (size_t cut = 4; full && cut < fn; cut = cut * 2 + 1) {
        gainmap_status st = write_and_read("own_cut.tif", full, cut, msg, sizeof msg);
        CHECK_MSG(st == GAINMAP_ERR_TRUNCATED || st == GAINMAP_ERR_CORRUPT, "cut at %zu: status %d", cut, (int)st);
    }
    free(full);
}

static void test_file_errors(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    uint8_t *data;
    size_t n;
    /* a directory */
    CHECK_INT(gainmap_image_read(ctx, dir, &img), GAINMAP_ERR_IO);
    CHECK_STR(gainmap_last_error(ctx), "not a regular file");
    CHECK(img.data == NULL);
    gainmap_ctx_free(ctx);
    ctx = gainmap_ctx_new();
    CHECK_INT(gainmap_read_file(ctx, dir, &data, &n), GAINMAP_ERR_IO);
    CHECK_STR(gainmap_last_error(ctx), "not a regular file");
    gainmap_ctx_free(ctx);
    /* a missing file */
    ctx = gainmap_ctx_new();
    CHECK_INT(gainmap_image_read(ctx, tu_path(dir, "missing.tif"), &img), GAINMAP_ERR_IO);
    CHECK_STR(gainmap_last_error(ctx), "cannot open: No such file or directory");
    gainmap_ctx_free(ctx);
    ctx = gainmap_ctx_new();
    CHECK_INT(gainmap_read_file(ctx, tu_path(dir, "missing.tif"), &data, &n), GAINMAP_ERR_IO);
    CHECK_STR(gainmap_last_error(ctx), "cannot open: No such file or directory");
    gainmap_ctx_free(ctx);
    /* an empty file */
    const char *p = tu_path(dir, "empty.tif");
    CHECK_INT(tu_write(p, "", 0), 0);
    ctx = gainmap_ctx_new();
    CHECK_INT(gainmap_image_read(ctx, p, &img), GAINMAP_ERR_TRUNCATED);
    CHECK_STR(gainmap_last_error(ctx), "the file is empty");
    gainmap_ctx_free(ctx);
    /* over the file-size limit: refused before any reading, TIFF or not */
    p = tu_path(dir, "rgb16_pq.tif");
    ctx = gainmap_ctx_new();
    CHECK_INT(gainmap_set_option(ctx, GAINMAP_OPT_MAX_FILE_BYTES, 100), GAINMAP_OK);
    CHECK_INT(gainmap_image_read(ctx, p, &img), GAINMAP_ERR_LIMIT);
    CHECK_CONTAINS(gainmap_last_error(ctx), "bytes, more than the 100-byte limit");
    CHECK(!strncmp(gainmap_last_error(ctx), "file is ", 8));
    gainmap_ctx_free(ctx);
    /* a TIFF's pixel limit: the same refusal both ways */
    ctx = gainmap_ctx_new();
    CHECK_INT(gainmap_set_option(ctx, GAINMAP_OPT_MAX_PIXELS, 100), GAINMAP_OK);
    gainmap_status st = gainmap_image_read(ctx, p, &img);
    CHECK_INT(st, GAINMAP_ERR_LIMIT);
    char m1[300];
    snprintf(m1, sizeof m1, "%s", gainmap_last_error(ctx));
    gainmap_ctx_free(ctx);
    ctx = gainmap_ctx_new();
    gainmap_set_option(ctx, GAINMAP_OPT_MAX_PIXELS, 100);
    data = tu_read(p, &n);
    CHECK_INT(gainmap_image_read_memory(ctx, data, n, &img), GAINMAP_ERR_LIMIT);
    CHECK_STR(gainmap_last_error(ctx), m1);
    free(data);
    gainmap_ctx_free(ctx);
}

/* gm_tiff_read_fd itself: the file offset need not be at the start, and
 * the descriptor stays open and the caller's. */
static void test_read_fd_direct(void)
{
    const char *p = tu_path(dir, "rgb8_raw.tif");
    int fd = open(p, O_RDONLY);
    CHECK(fd >= 0);
    off_t size = lseek(fd, 0, SEEK_END);
    gainmap_image a, b;
    CHECK_INT(gm_tiff_read_fd(NULL, fd, (uint64_t)size, &a), GAINMAP_OK);
    CHECK(lseek(fd, 0, SEEK_CUR) >= 0);   /* still open */
    size_t n;
    uint8_t *data = tu_read(p, &n);
    CHECK_INT(gm_tiff_read(NULL, data, n, &b), GAINMAP_OK);
    CHECK(same_image_pixels(&a, &b));
    gainmap_image_free(&a);
    gainmap_image_free(&b);
    free(data);
    close(fd);
}

/* The EXIF of a TIFF read from its descriptor (gm_exif_from_tiff_fd, pread,
 * no mapping) is the EXIF read from memory; and a file that shrank after its
 * size was taken gives what is left, not a SIGBUS: here the Exif IFD is said
 * to lie at 10000 in a file claimed to be 12000 bytes that holds 74 (a
 * mapping would fault on that page). */
static void test_exif_fd_shrunk(void)
{
    const char *p = tu_path(dir, "exif_only.tif");
    CHECK_INT(tu_write(p, exif_le, sizeof exif_le), 0);
    int fd = open(p, O_RDONLY);
    CHECK(fd >= 0);
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    gm_exif_from_tiff_fd(fd, sizeof exif_le, SIZE_MAX, &a, &na);
    gm_exif_from_tiff(exif_le, sizeof exif_le, SIZE_MAX, &b, &nb);
    CHECK(a && b && na == nb && !memcmp(a, b, na));
    gm_exif_value v;
    CHECK(a && gm_exif_find(a, na, 0x8769, 0x8827, &v) && gm_le16(v.data) == 100);
    free(a);
    free(b);
    close(fd);

    uint8_t moved[sizeof exif_le];
    memcpy(moved, exif_le, sizeof moved);
    moved[8 + 2 + 2 * 12 + 8] = 10000 & 0xFF;   /* the Exif IFD pointer's value */
    moved[8 + 2 + 2 * 12 + 9] = 10000 >> 8;
    CHECK_INT(tu_write(p, moved, sizeof moved), 0);
    fd = open(p, O_RDONLY);
    gm_exif_from_tiff_fd(fd, 12000, SIZE_MAX, &a, &na);
    CHECK(a && gm_exif_find(a, na, 0, 0x010F, &v) && v.size == 5 && !memcmp(v.data, "Acme", 5));
    CHECK(a && !gm_exif_find(a, na, 0x8769, 0x8827, &v));   /* beyond the end: gone, no fault */
    free(a);
    close(fd);
}

/* A PNG written by libpng: 8 bits, palette, grey, grey+alpha, interlaced. */
static bool write_png(const char *path, uint32_t w, uint32_t h, int depth, int ctype, int interlace)
{
    FILE *f = fopen(path, "wb");
    png_structp png = f ? png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL) : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        if (f)
            fclose(f);
        return false;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, depth, ctype, interlace, 0, 0);
    if (ctype == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[16];
        for (int i = 0; i < 16; i++)
            pal[i] = (png_color){(png_byte)(i * 16), (png_byte)(255 - i * 9), (png_byte)(i * i)};
        png_set_PLTE(png, info, pal, 16);
    }
    png_write_info(png, info);
    int ch = ctype == PNG_COLOR_TYPE_RGB ? 3 : ctype == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    size_t row = (size_t)w * ch * (depth / 8);
    uint8_t *px = malloc(row * h);
    png_bytep *rows = malloc(sizeof *rows * h);
    for (size_t i = 0; px && i < row * h; i++)
        px[i] = (uint8_t)(ctype == PNG_COLOR_TYPE_PALETTE ? i % 16 : i * 29 + i / 7);
    for (uint32_t y = 0; rows && y < h; y++)
        rows[y] = px + y * row;
    png_write_image(png, rows);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(px);
    return fclose(f) == 0;
}

/* PNG reads stream too (gm_png_read_fd): the same image, status and
 * message as from memory. */
static void test_png(void)
{
    /* our writer: 16-bit with cICP, ICC, eXIf (orientation 6), cLLi */
    static const struct { uint32_t ch; bool meta; } own[] = {{3, true}, {4, false}, {1, true}};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        gainmap_image src, got;
        CHECK_INT(gainmap_image_alloc(NULL, &src, 93, 41, own[i].ch, GAINMAP_PIXEL_U16), GAINMAP_OK);
        fill(&src);
        src.transfer = GAINMAP_TRANSFER_PQ;
        src.primaries = GAINMAP_PRIMARIES_BT2020;
        if (own[i].meta) {
            size_t n;
            const uint8_t *profile = icc_bytes(&n);
            CHECK_INT(gainmap_image_set_icc(&src, profile, n), GAINMAP_OK);
            CHECK_INT(gainmap_image_set_exif(&src, exif_le, sizeof exif_le), GAINMAP_OK);
            src.orientation = 6;
            src.max_cll = 1000;
            src.max_fall = 400;
        }
        const char *p = tu_path(dir, "own.png");
        CHECK_INT(gainmap_image_write(NULL, p, &src, GAINMAP_FORMAT_PNG), GAINMAP_OK);
        CHECK_INT(both_ways(p, &got, NULL, 0), GAINMAP_OK);
        CHECK(same_image_pixels(&src, &got));
        CHECK_INT(got.transfer, GAINMAP_TRANSFER_PQ);
        CHECK_INT(got.primaries, GAINMAP_PRIMARIES_BT2020);
        if (own[i].meta) {
            CHECK(same_bytes(got.icc, got.icc_size, src.icc, src.icc_size));
            CHECK(same_bytes(got.exif, got.exif_size, exif_le, sizeof exif_le));
            CHECK_INT(got.orientation, 6);
            CHECK(got.max_cll == 1000 && got.max_fall == 400);
        }
        gainmap_image_free(&got);

        /* cut anywhere: the same status and message both ways; inside the
         * pixels, "PNG: truncated IDAT chunk" */
        size_t n = 0;
        uint8_t *full = tu_read(p, &n);
        CHECK(full && n > 1000);
        char msg[300];
        for (size_t cut = 1; full && cut < n; cut = cut * 3 / 2 + 1) {
            gainmap_status st = write_and_read("cut.png", full, cut, msg, sizeof msg);
            CHECK_MSG(st == GAINMAP_ERR_TRUNCATED || st == GAINMAP_ERR_CORRUPT || (cut < 8 && st == GAINMAP_ERR_FORMAT),
                      "cut at %zu: status %d (%s)", cut, (int)st, msg);
        }
        if (full && i == 0) {
            size_t in_idat = 0;
            for (size_t k = 8; !in_idat && k + 4 <= n; k++)
                if (!memcmp(full + k, "IDAT", 4))
                    in_idat = k + 40;
            CHECK(in_idat > 0 && in_idat < n);
            CHECK_INT(write_and_read("cut.png", full, in_idat, msg, sizeof msg), GAINMAP_ERR_TRUNCATED);
            CHECK_STR(msg, "PNG: truncated IDAT chunk");
            CHECK_INT(write_and_read("cut.png", full, n - 4, msg, sizeof msg), GAINMAP_ERR_TRUNCATED);
            CHECK_STR(msg, "PNG: truncated IEND chunk");
            CHECK_INT(write_and_read("cut.png", full, 20, msg, sizeof msg), GAINMAP_ERR_TRUNCATED);
            CHECK_STR(msg, "PNG: truncated before the end of the IHDR chunk");
            /* a flipped byte in the pixels' compressed data: a CRC error */
            full[in_idat] ^= 0x55;
            CHECK_INT(write_and_read("crc.png", full, n, msg, sizeof msg), GAINMAP_ERR_CORRUPT);
            CHECK_MSG(!strncmp(msg, "PNG: ", 5) && strlen(msg) > 6, "%s", msg);
            /* IHDR named otherwise */
            full[in_idat] ^= 0x55;
            full[12] = 'X';
            CHECK_INT(write_and_read("nohdr.png", full, n, msg, sizeof msg), GAINMAP_ERR_CORRUPT);
            CHECK_STR(msg, "PNG: the first chunk is not a 13-byte IHDR");
        }
        free(full);
        gainmap_image_free(&src);
    }
    /* libpng's layouts our writer never makes */
    static const struct { const char *name; int depth, ctype, interlace; uint32_t ch; } lp[] = {
        {"rgb8.png", 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, 3},
        {"rgba8_adam7.png", 8, PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_ADAM7, 4},
        {"grey8.png", 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, 1},
        {"greyalpha16.png", 16, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_NONE, 4},
        {"palette8.png", 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_ADAM7, 3},
    };
    for (size_t i = 0; i < sizeof lp / sizeof lp[0]; i++) {
        const char *p = tu_path(dir, lp[i].name);
        CHECK_MSG(write_png(p, 301, 203, lp[i].depth, lp[i].ctype, lp[i].interlace), "%s", lp[i].name);
        gainmap_image got;
        CHECK_INT(both_ways(p, &got, NULL, 0), GAINMAP_OK);
        CHECK(got.width == 301 && got.height == 203 && got.channels == lp[i].ch);
        gainmap_image_free(&got);
    }
}

int main(void)
{
    dir = tu_tmpdir("image_stream_read");
    int fds = open_fds();
    RUN_TEST(test_own_writer);
    RUN_TEST(test_libtiff_variants);
    RUN_TEST(test_truncated_and_corrupt);
    RUN_TEST(test_file_errors);
    RUN_TEST(test_read_fd_direct);
    RUN_TEST(test_exif_fd_shrunk);
    RUN_TEST(test_png);
    /* every path above, failures included, closed what it opened */
    CHECK_INT(open_fds(), fds);
    gainmap_free(icc);
    TEST_SUMMARY();
}

/* test_encode.c - the UltraHDR writer: exact bytes of MPF and the segment
 * layout, XMP numbers, gain-map maths on known inputs, metadata read back
 * exactly by our reader and by exiftool, byte-exact SDR passthrough, remux. */
#include "check.h"
#include "internal.h"
#include "support/testutil.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *tmp;

/* Corpus path from the build's GM_CORPUS_DIR (independent of the working folder). */
static const char *corpus(const char *rel)
{
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", GM_CORPUS_DIR, rel);
    return buf[k];
}

/* ---- helpers ---------------------------------------------------------- */
static bool frac_eq(gainmap_fraction a, gainmap_fraction b)
{
    return a.d && b.d && (int64_t)a.n * b.d == (int64_t)b.n * a.d;
}
static bool ufrac_eq(gainmap_ufraction a, gainmap_ufraction b)
{
    return a.d && b.d && (uint64_t)a.n * b.d == (uint64_t)b.n * a.d;
}

/* Same metadata values (fractions compared exactly as numbers). */
/* Channel sets c of m are all equal to set 0. */
static bool sets_equal(const gainmap_metadata *m)
{
    for (int c = 1; c < m->channel_count; c++)
        if (!frac_eq(m->gain_map_min[c], m->gain_map_min[0]) || !frac_eq(m->gain_map_max[c], m->gain_map_max[0]) ||
            !ufrac_eq(m->gamma[c], m->gamma[0]) || !frac_eq(m->base_offset[c], m->base_offset[0]) ||
            !frac_eq(m->alternate_offset[c], m->alternate_offset[0]))
            return false;
    return true;
}

/* Equal metadata.  The encoder uses one range for R, G and B, so a 3-channel
 * map's three sets are identical and XMP writes them as scalars, which read
 * back as 1 set: 1 set equals 3 identical sets. */
static bool meta_equal(const gainmap_metadata *a, const gainmap_metadata *b, char *why, size_t n)
{
    if (a->channel_count != b->channel_count &&
        !((a->channel_count == 1 && sets_equal(b)) || (b->channel_count == 1 && sets_equal(a)))) {
        snprintf(why, n, "channels %u vs %u", a->channel_count, b->channel_count);
        return false;
    }
    if (a->use_base_colour_space != b->use_base_colour_space) {
        snprintf(why, n, "use_base_colour_space");
        return false;
    }
    if (!ufrac_eq(a->base_hdr_headroom, b->base_hdr_headroom) ||
        !ufrac_eq(a->alternate_hdr_headroom, b->alternate_hdr_headroom)) {
        snprintf(why, n, "headroom %u/%u vs %u/%u", a->alternate_hdr_headroom.n, a->alternate_hdr_headroom.d,
                 b->alternate_hdr_headroom.n, b->alternate_hdr_headroom.d);
        return false;
    }
    for (int c = 0; c < GM_MIN(a->channel_count, b->channel_count); c++) {
        if (!frac_eq(a->gain_map_min[c], b->gain_map_min[c]) || !frac_eq(a->gain_map_max[c], b->gain_map_max[c]) ||
            !ufrac_eq(a->gamma[c], b->gamma[c]) || !frac_eq(a->base_offset[c], b->base_offset[c]) ||
            !frac_eq(a->alternate_offset[c], b->alternate_offset[c])) {
            snprintf(why, n, "channel %d: min %d/%u vs %d/%u, max %d/%u vs %d/%u, gamma %u/%u vs %u/%u", c,
                     a->gain_map_min[c].n, a->gain_map_min[c].d, b->gain_map_min[c].n, b->gain_map_min[c].d,
                     a->gain_map_max[c].n, a->gain_map_max[c].d, b->gain_map_max[c].n, b->gain_map_max[c].d,
                     a->gamma[c].n, a->gamma[c].d, b->gamma[c].n, b->gamma[c].d);
            return false;
        }
    }
    return true;
}

/* Same values within tol (XMP decimals of foreign fractions: the reader's
 * decimal -> fraction step may pick a neighbour within 1e-12). */
static bool meta_near(const gainmap_metadata *a, const gainmap_metadata *b, double tol)
{
    gainmap_params p, q;
    gainmap_metadata_to_params(a, &p);
    gainmap_metadata_to_params(b, &q);
    if (p.channel_count != q.channel_count || fabs(p.base_hdr_headroom - q.base_hdr_headroom) > tol ||
        fabs(p.alternate_hdr_headroom - q.alternate_hdr_headroom) > tol)
        return false;
    for (int c = 0; c < 3; c++)
        if (fabs(p.gain_map_min[c] - q.gain_map_min[c]) > tol || fabs(p.gain_map_max[c] - q.gain_map_max[c]) > tol ||
            fabs(p.gamma[c] - q.gamma[c]) > tol || fabs(p.base_offset[c] - q.base_offset[c]) > tol ||
            fabs(p.alternate_offset[c] - q.alternate_offset[c]) > tol)
            return false;
    return true;
}

/* A w x h SDR (U8 sRGB P3) and HDR (F32 linear P3) pair with texture. */
static void make_pair(uint32_t w, uint32_t h, gainmap_image *sdr, gainmap_image *hdr)
{
    gainmap_image_alloc(NULL, sdr, w, h, 3, GAINMAP_PIXEL_U8);
    gainmap_image_alloc(NULL, hdr, w, h, 3, GAINMAP_PIXEL_F32);
    sdr->transfer = GAINMAP_TRANSFER_SRGB;
    sdr->primaries = GAINMAP_PRIMARIES_P3;
    hdr->transfer = GAINMAP_TRANSFER_LINEAR;
    hdr->primaries = GAINMAP_PRIMARIES_P3;
    uint32_t seed = 12345;
    for (uint32_t y = 0; y < h; y++) {
        uint8_t *s = (uint8_t *)sdr->data + y * sdr->stride;
        float *d = (float *)(void *)((uint8_t *)hdr->data + y * hdr->stride);
        for (uint32_t x = 0; x < w; x++) {
            seed = seed * 1103515245u + 12345u;
            double base[3] = {0.2 + 0.6 * x / w, 0.1 + 0.8 * y / h, 0.5 + 0.1 * ((seed >> 16) % 100) / 100.0};
            double boost = 1.0 + 7.0 * (double)x / w;   /* up to 3 stops */
            for (int c = 0; c < 3; c++) {
                s[3 * x + c] = (uint8_t)(gainmap_srgb_from_linear(base[c]) * 255.0 + 0.5);
                d[3 * x + c] = (float)(gainmap_srgb_to_linear(s[3 * x + c] / 255.0) * boost);
            }
        }
    }
}

/* ---- tests ------------------------------------------------------------ */
static void test_format_fraction(void)
{
    char b[64];
    gm_xmp_format_fraction(b, sizeof b, 1, 64);
    CHECK_STR(b, "0.015625");
    gm_xmp_format_fraction(b, sizeof b, 47091, 10000);
    CHECK_STR(b, "4.7091");
    gm_xmp_format_fraction(b, sizeof b, -1, 2);
    CHECK_STR(b, "-0.5");
    gm_xmp_format_fraction(b, sizeof b, 3, 1);
    CHECK_STR(b, "3");
    gm_xmp_format_fraction(b, sizeof b, -123456, 1000000);
    CHECK_STR(b, "-0.123456");
    gm_xmp_format_fraction(b, sizeof b, 1, 3);
    CHECK_STR(b, "0.333333333333");
    gm_xmp_format_fraction(b, sizeof b, 36533, 32768);   /* 2^15: 15 places, exact */
    CHECK_STR(b, "1.114898681640625");
}

static void test_mpf_bytes(void)
{
    uint8_t m[GM_MPF_SEGMENT_SIZE];
    gm_mpf_write(m, 1000, 500, 900);
    static const uint8_t want[GM_MPF_SEGMENT_SIZE] = {
        0xFF, 0xE2, 0x00, 0x58, 'M', 'P', 'F', 0, 'M', 'M', 0, '*', 0, 0, 0, 8, 0, 3,
        0xB0, 0x00, 0, 7, 0, 0, 0, 4, '0', '1', '0', '0',
        0xB0, 0x01, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2,
        0xB0, 0x02, 0, 7, 0, 0, 0, 32, 0, 0, 0, 50,
        0, 0, 0, 0,
        0x00, 0x03, 0x00, 0x00, 0, 0, 0x03, 0xE8, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0x01, 0xF4, 0, 0, 0x03, 0x84, 0, 0, 0, 0,
    };
    CHECK(memcmp(m, want, sizeof want) == 0);
    /* the reader's MPF parser agrees */
    gm_mpf mp;
    CHECK_INT(gm_mpf_parse(NULL, m + 4, sizeof m - 4, 4, &mp), GAINMAP_OK);
    CHECK(mp.big_endian);
    CHECK_INT(mp.nentries, 2);
    CHECK_INT(mp.entries[1].size, 500);
    CHECK_INT(mp.entries[1].offset, 900);
    CHECK_INT(mp.tiff_base, 8);
}

/* A 64x64 picture for the HDR-offset choice: `dark` = film-like shadows
 * (HDR 0.02..0.3 cd/m2 with grain, base near black) beside a highlight
 * (4x SDR white over a white base); else a saturated red
 * (HDR green and blue exactly 0 over a lifted base) beside a mid grey. */
static void offset_picture(int dark, gainmap_image *sdr, gainmap_image *hdr)
{
    gainmap_image_alloc(NULL, sdr, 64, 64, 3, GAINMAP_PIXEL_U8);
    gainmap_image_alloc(NULL, hdr, 64, 64, 3, GAINMAP_PIXEL_F32);
    sdr->transfer = GAINMAP_TRANSFER_SRGB;
    sdr->primaries = hdr->primaries = GAINMAP_PRIMARIES_P3;
    hdr->transfer = GAINMAP_TRANSFER_LINEAR;
    uint32_t seed = 7;
    for (uint32_t y = 0; y < 64; y++)
        for (uint32_t x = 0; x < 64; x++)
            for (int c = 0; c < 3; c++) {
                double h;
                if (dark)
                    h = x >= 56 ? 4.0
                                : (0.02 + 0.3 * ((x + y) / 126.0)) / 203.0 * (0.8 + 0.4 * tu_lcg(&seed) / 4294967296.0);
                else
                    h = x < 32 ? (c == 0 ? 2.0 : 0.0) : 0.18;
                double sl = dark ? GM_MIN(h, 1.0) : x < 32 ? (c == 0 ? 1.0 : 0.25) : 0.18;
                ((float *)(void *)((uint8_t *)hdr->data + y * hdr->stride))[3 * x + c] = (float)h;
                ((uint8_t *)sdr->data)[y * sdr->stride + 3 * x + c] =
                    (uint8_t)lround(255.0 * gainmap_srgb_from_linear(sl));
            }
}

/* The HDR offset is chosen per picture (issue 5): small for deep shadows
 * (precision where PQ is steep), 1/1024 when samples of HDR 0 over a bright
 * base would otherwise stretch the gain range; explicit values are kept;
 * the metadata carries both offsets, and the reference computes the same. */
static void test_compute_offset_hdr(void)
{
    gainmap_encode_options o;
    gainmap_encode_options_init(&o);
    o.gamma = 1.25;   /* the offset alone (the pair is chosen together otherwise) */
    gainmap_image sdr, hdr, map, map_ref;
    gainmap_metadata m, m_ref;
    for (int dark = 0; dark < 2; dark++) {
        offset_picture(dark, &sdr, &hdr);
        CHECK_INT(gainmap_compute(NULL, &sdr, &hdr, &o, &map, &m), GAINMAP_OK);
        for (int c = 0; c < 3; c++) {
            CHECK_INT(m.base_offset[c].n, 1);
            CHECK_INT(m.base_offset[c].d, 256);
            CHECK_INT(m.alternate_offset[c].n, 1);
            CHECK_MSG(dark ? m.alternate_offset[c].d >= 2048 : m.alternate_offset[c].d == 1024,
                      "%s picture: HDR offset 1/%u", dark ? "dark" : "saturated", m.alternate_offset[c].d);
        }
        /* the double-precision reference makes the same choice */
        CHECK_INT(gm_compute_ref(NULL, &sdr, &hdr, &o, &map_ref, &m_ref), GAINMAP_OK);
        CHECK_INT(m_ref.alternate_offset[0].d, m.alternate_offset[0].d);
        gainmap_image_free(&map_ref);
        gainmap_image_free(&map);
        /* an explicit HDR offset is used as given */
        o.offset_hdr = 1.0 / 512.0;   /* beyond the automatic choices */
        CHECK_INT(gainmap_compute(NULL, &sdr, &hdr, &o, &map, &m), GAINMAP_OK);
        CHECK_INT(m.alternate_offset[1].d, 512);
        CHECK_INT(m.base_offset[1].d, 256);
        gainmap_image_free(&map);
        o.offset_hdr = 1.5;
        CHECK_INT(gainmap_compute(NULL, &sdr, &hdr, &o, &map, &m), GAINMAP_ERR_INVALID_ARG);
        o.offset_hdr = NAN;
        gainmap_image_free(&sdr);
        gainmap_image_free(&hdr);
    }
}

static void test_compute_known(void)
{
    /* Left half HDR = SDR (G = 0); right half HDR + k = 4 (SDR + k) (G = 2). */
    gainmap_image sdr, hdr, map;
    gainmap_image_alloc(NULL, &sdr, 8, 4, 3, GAINMAP_PIXEL_U8);
    gainmap_image_alloc(NULL, &hdr, 8, 4, 3, GAINMAP_PIXEL_F32);
    sdr.transfer = GAINMAP_TRANSFER_SRGB;
    sdr.primaries = GAINMAP_PRIMARIES_BT709;
    hdr.transfer = GAINMAP_TRANSFER_LINEAR;
    hdr.primaries = GAINMAP_PRIMARIES_BT709;
    double k = 1.0 / 64.0, L = gainmap_srgb_to_linear(188 / 255.0);
    for (uint32_t y = 0; y < 4; y++)
        for (uint32_t x = 0; x < 8; x++)
            for (int c = 0; c < 3; c++) {
                ((uint8_t *)sdr.data)[y * sdr.stride + 3 * x + c] = 188;
                ((float *)(void *)((uint8_t *)hdr.data + y * hdr.stride))[3 * x + c] =
                    (float)(x < 4 ? L : 4 * L + 3 * k);
            }
    gainmap_encode_options o;
    gainmap_encode_options_init(&o);
    CHECK_INT(o.gainmap_channels, 3);   /* the measured defaults (docs/encoding.md) */
    CHECK_INT(o.subsampling, 444);
    CHECK_NEAR(o.offset, 1.0 / 256.0, 0);
    CHECK(isnan(o.offset_hdr));   /* chosen per picture */
    CHECK(isnan(o.gamma));   /* chosen per picture */
    CHECK_INT(o.quality, 90);
    CHECK_INT(o.gainmap_quality, 91);
    o.gainmap_channels = 1;
    o.offset = k;
    o.offset_hdr = k;
    o.gamma = 1.0;   /* the codes below are for gamma 1 */
    gainmap_metadata m;
    CHECK_INT(gainmap_compute(NULL, &sdr, &hdr, &o, &map, &m), GAINMAP_OK);
    CHECK_INT(map.width, 8);
    CHECK_INT(map.channels, 1);
    const uint8_t *p = map.data;
    CHECK_INT(p[0], 0);
    CHECK_INT(p[3], 0);
    CHECK_INT(p[4], 255);
    CHECK_INT(p[7 + 3 * map.stride], 255);
    CHECK_INT(m.channel_count, 1);
    CHECK_INT(m.flags, 0x40);
    CHECK_INT(m.gain_map_min[0].n, 0);
    CHECK_INT(m.gain_map_max[0].n, 2);
    CHECK_INT(m.gain_map_max[0].d, 1);
    CHECK_INT(m.alternate_hdr_headroom.n, 2);
    CHECK_INT(m.alternate_hdr_headroom.d, 1);
    CHECK_INT(m.base_offset[0].n, 1);
    CHECK_INT(m.base_offset[0].d, 64);
    CHECK_INT(m.gamma[0].n, 1);
    CHECK_INT(m.gamma[0].d, 1);
    gainmap_image_free(&map);

    /* scale 2 averages in the log domain: a 2x2 block of G = 0 and 2 -> 1 -> code 128 */
    for (uint32_t y = 0; y < 4; y++)
        for (uint32_t x = 0; x < 8; x++)
            for (int c = 0; c < 3; c++)
                ((float *)(void *)((uint8_t *)hdr.data + y * hdr.stride))[3 * x + c] =
                    (float)(((x + y) & 1) ? 4 * L + 3 * k : (x >= 6 ? 4 * L + 3 * k : L));
    o.gainmap_scale = 2;
    o.min_boost = 0.0;
    o.max_boost = 2.0;
    CHECK_INT(gainmap_compute(NULL, &sdr, &hdr, &o, &map, &m), GAINMAP_OK);
    CHECK_INT(map.width, 4);
    CHECK_INT(map.height, 2);
    p = map.data;
    CHECK_INT(p[0], 128);   /* (0 + 2 + 2 + 0)/4 = 1 stop -> 127.5 -> 128 */
    CHECK_INT(p[3], 255);   /* x 6..7 all G = 2 */
    gainmap_image_free(&map);

    /* 3 channels, gamma 2: a channel at half range -> 0.5^2 * 255 = 63.75 -> 64 */
    o.gainmap_scale = 1;
    o.gainmap_channels = 3;
    o.gamma = 2.0;
    for (uint32_t y = 0; y < 4; y++)
        for (uint32_t x = 0; x < 8; x++) {
            float *d = (float *)(void *)((uint8_t *)hdr.data + y * hdr.stride) + 3 * x;
            d[0] = (float)L;
            d[1] = (float)(2 * L + k);   /* G = 1 */
            d[2] = (float)(4 * L + 3 * k);
        }
    CHECK_INT(gainmap_compute(NULL, &sdr, &hdr, &o, &map, &m), GAINMAP_OK);
    CHECK_INT(map.channels, 3);
    CHECK_INT(m.channel_count, 3);
    CHECK_INT(m.flags, 0xC0);
    CHECK_INT(((uint8_t *)map.data)[1], 64);
    CHECK_INT(m.gamma[1].n, 2);
    gainmap_image_free(&map);

    /* bad options are named */
    o.gainmap_scale = 3;
    CHECK_INT(gainmap_compute(NULL, &sdr, &hdr, &o, &map, &m), GAINMAP_ERR_INVALID_ARG);
    gainmap_image_free(&sdr);
    gainmap_image_free(&hdr);
}

/* Encode with EXIF and check the primary's exact segment order and MPF. */
static void test_layout(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image sdr, hdr;
    make_pair(96, 64, &sdr, &hdr);
    uint8_t *exif;
    size_t exif_size;
    CHECK_INT(gm_exif_make(ctx, 6, &exif, &exif_size), GAINMAP_OK);
    gainmap_image_set_exif(&hdr, exif, exif_size);
    gainmap_encode_options o;
    gainmap_encode_options_init(&o);
    o.gainmap_channels = 1;   /* scalar hdrgm attributes, 1-component map */
    o.offset = 1.0 / 64.0;
    o.gamma = 1.0;
    uint8_t *out = NULL;
    size_t size = 0;
    gainmap_status st = gainmap_encode_jpeg(ctx, &hdr, &sdr, &o, &out, &size);
    CHECK_MSG(st == GAINMAP_OK, "%s", gainmap_last_error(ctx));
    if (st != GAINMAP_OK)
        goto done;
    tu_write(tu_path(tmp, "layout.jpg"), out, size);
    gm_jpeg_layout l;
    CHECK_INT(gm_jpeg_scan(ctx, out, size, 0, &l), GAINMAP_OK);
    CHECK(l.nheader >= 6);
    CHECK_INT(l.segs[0].marker, 0xE1);
    CHECK(memcmp(out + l.segs[0].payload, GM_EXIF_ID, GM_EXIF_ID_LEN) == 0);
    CHECK_INT(l.segs[0].payload_size, GM_EXIF_ID_LEN + exif_size);
    CHECK(memcmp(out + l.segs[0].payload + 6, exif, exif_size) == 0);
    CHECK_INT(l.segs[1].marker, 0xE1);
    CHECK(memcmp(out + l.segs[1].payload, GM_XMP_ID, GM_XMP_ID_LEN) == 0);
    CHECK_INT(l.segs[2].marker, 0xE2);
    CHECK(memcmp(out + l.segs[2].payload, GM_ICC_ID, GM_ICC_ID_LEN) == 0);
    CHECK_INT(out[l.segs[2].payload + 12], 1);   /* chunk 1 of 1 */
    CHECK_INT(out[l.segs[2].payload + 13], 1);
    CHECK_INT(l.segs[3].marker, 0xE2);
    CHECK(memcmp(out + l.segs[3].payload, GM_ISO_ID, GM_ISO_ID_LEN) == 0);
    CHECK_INT(l.segs[3].payload_size + 2, 34);
    CHECK(memcmp(out + l.segs[3].payload + GM_ISO_ID_LEN, "\0\0\0\0", 4) == 0);
    CHECK_INT(l.segs[4].marker, 0xE2);
    CHECK(memcmp(out + l.segs[4].payload, "MPF\0", 4) == 0);
    CHECK_INT(l.segs[4].payload_size + 2, 88);
    CHECK_INT(l.segs[5].marker, 0xE0);   /* the base's own JFIF APP0 follows */
    /* only one EXIF, XMP, ICC, ISO and MPF in the primary */
    CHECK(gm_jpeg_find(&l, out, 0xE1, GM_EXIF_ID, GM_EXIF_ID_LEN, 1) < 0);
    CHECK(gm_jpeg_find(&l, out, 0xE1, GM_XMP_ID, GM_XMP_ID_LEN, 1) < 0);
    CHECK(gm_jpeg_find(&l, out, 0xE2, "MPF", 4, 1) < 0);

    /* MPF: entry 1 = primary size, entry 2 offset -> FF D8 of the map */
    const uint8_t *t = out + l.segs[4].payload + 4;
    size_t tiff_pos = l.segs[4].payload + 4;
    uint32_t psize = gm_be32(t + 54), msize = gm_be32(t + 70), moff = gm_be32(t + 74);
    CHECK_INT(psize, l.eoi_end);
    CHECK_INT(msize, size - l.eoi_end);
    CHECK_INT(tiff_pos + moff, l.eoi_end);
    CHECK(out[tiff_pos + moff] == 0xFF && out[tiff_pos + moff + 1] == 0xD8);
    /* GContainer Item:Length = MPF size */
    char want[64];
    snprintf(want, sizeof want, "Item:Length=\"%u\"", msize);
    char *xmp = strndup((const char *)out + l.segs[1].payload + GM_XMP_ID_LEN, l.segs[1].payload_size - GM_XMP_ID_LEN);
    CHECK_CONTAINS(xmp, want);
    CHECK_CONTAINS(xmp, "hdrgm:Version=\"1.0\"");
    CHECK_CONTAINS(xmp, "Item:Semantic=\"GainMap\"");
    free(xmp);

    /* gain-map JPEG: SOI, APP1 XMP (hdrgm), APP2 ISO (61 bytes of metadata) */
    gm_jpeg_layout ml;
    CHECK_INT(gm_jpeg_scan(ctx, out, size, l.eoi_end, &ml), GAINMAP_OK);
    CHECK_INT(ml.eoi_end, size);
    CHECK_INT(ml.segs[0].marker, 0xE1);
    CHECK(memcmp(out + ml.segs[0].payload, GM_XMP_ID, GM_XMP_ID_LEN) == 0);
    CHECK_INT(ml.segs[1].marker, 0xE2);
    CHECK(memcmp(out + ml.segs[1].payload, GM_ISO_ID, GM_ISO_ID_LEN) == 0);
    CHECK_INT(ml.segs[1].payload_size, GM_ISO_ID_LEN + 61);
    CHECK_INT(out[ml.segs[1].payload + GM_ISO_ID_LEN + 4], 0x40);   /* flags: 1 channel, base colour space */
    CHECK_INT(ml.components, 1);
    gm_jpeg_layout_free(&ml);
    gm_jpeg_layout_free(&l);

    /* the reader sees the orientation and the whole file as valid */
    gainmap_file *f = NULL;
    CHECK_INT(gainmap_file_open_memory(ctx, out, size, &f), GAINMAP_OK);
    if (f) {
        const gainmap_info *info = gainmap_file_info(f);
        CHECK(info->has_gainmap);
        CHECK_INT(info->orientation, 6);
        CHECK_INT(info->locator, GAINMAP_LOCATOR_MPF);
        CHECK_INT(info->dialects & 0x0F, 0x0F);
        const gainmap_issue *is;
        size_t n = gainmap_file_issues(f, &is);
        for (size_t i = 0; i < n; i++)
            CHECK_MSG(is[i].severity == GAINMAP_SEVERITY_INFO, "issue %s: %s", is[i].code, is[i].message);
        gainmap_file_close(f);
    }
    char *o2 = NULL;
    int rc = tu_run(&o2, "'%s' validate '%s'", tu_cli(), tu_path(tmp, "layout.jpg"));
    CHECK_MSG(rc == 0, "validate exit %d: %s", rc, o2 ? o2 : "");
    free(o2);
done:
    free(exif);
    gainmap_free(out);
    gainmap_image_free(&sdr);
    gainmap_image_free(&hdr);
    gainmap_ctx_free(ctx);
}

/* gainmap_compute + assemble with each metadata mode; our reader must give
 * back exactly the metadata we wrote, from ISO and from XMP. */
static void test_readback(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image sdr, hdr;
    make_pair(64, 48, &sdr, &hdr);
    for (int ch = 1; ch <= 3; ch += 2) {
        for (int mode = 0; mode < 3; mode++) {
            gainmap_encode_options o;
            gainmap_encode_options_init(&o);
            o.gainmap_channels = ch;
            o.gamma = ch == 3 ? 0.8 : 1.0;
            o.metadata = (gainmap_metadata_mode)mode;
            uint8_t *out = NULL;
            size_t size = 0;
            gainmap_status st = gainmap_encode_jpeg(ctx, &hdr, &sdr, &o, &out, &size);
            CHECK_MSG(st == GAINMAP_OK, "%s", gainmap_last_error(ctx));
            if (st != GAINMAP_OK)
                continue;
            gainmap_file *f = NULL;
            CHECK_INT(gainmap_file_open_memory(ctx, out, size, &f), GAINMAP_OK);
            if (f) {
                const gainmap_info *info = gainmap_file_info(f);
                CHECK(info->has_gainmap);
                char why[256] = "";
                if (mode != GAINMAP_METADATA_XMP) {
                    CHECK_INT(f->iso_status, GAINMAP_OK);
                    CHECK_INT(info->meta_source, GAINMAP_META_ISO21496);
                    CHECK(info->dialects & GAINMAP_DIALECT_ISO21496);
                    CHECK_INT(f->iso.flags, ch == 3 ? 0xC0 : 0x40);
                }
                if (mode != GAINMAP_METADATA_ISO) {
                    CHECK_INT(f->xmp_status, GAINMAP_OK);
                    CHECK(info->dialects & GAINMAP_DIALECT_GCONTAINER);
                }
                if (mode == GAINMAP_METADATA_BOTH)
                    CHECK_MSG(meta_equal(&f->iso, &f->xmp_meta, why, sizeof why), "ISO vs XMP: %s", why);
                if (mode == GAINMAP_METADATA_ISO)
                    CHECK(!(info->dialects & (GAINMAP_DIALECT_HDRGM_XMP | GAINMAP_DIALECT_GCONTAINER)));
                if (mode == GAINMAP_METADATA_XMP)
                    CHECK(!(info->dialects & GAINMAP_DIALECT_ISO21496));
                /* XMP-only: the 3 identical sets are written (and read) as one */
                CHECK_INT(info->meta.channel_count, mode == GAINMAP_METADATA_XMP ? 1 : ch);
                CHECK_INT(info->map_components, ch);
                CHECK(info->meta.channel_count == 1 || sets_equal(&info->meta));
                /* same numbers as the maths produced: recompute against the decoded base */
                const uint8_t *b;
                size_t bs;
                gainmap_image dec;
                gainmap_file_base_stream(f, &b, &bs);
                CHECK_INT(gainmap_jpeg_decode(ctx, b, bs, &dec), GAINMAP_OK);
                dec.primaries = GAINMAP_PRIMARIES_P3;
                gainmap_image map;
                gainmap_metadata m;
                CHECK_INT(gainmap_compute(ctx, &dec, &hdr, &o, &map, &m), GAINMAP_OK);
                CHECK_MSG(meta_equal(&info->meta, &m, why, sizeof why), "mode %d ch %d: %s", mode, ch, why);
                gainmap_image_free(&map);
                gainmap_image_free(&dec);
                /* no issue beyond the one naming ISO-only files (a real interop risk) */
                const gainmap_issue *is;
                size_t n = gainmap_file_issues(f, &is);
                for (size_t i = 0; i < n; i++)
                    CHECK_MSG(is[i].severity == GAINMAP_SEVERITY_INFO ||
                                  (mode == GAINMAP_METADATA_ISO && strcmp(is[i].code, "iso-only") == 0),
                              "mode %d: issue %s: %s", mode, is[i].code, is[i].message);
                gainmap_file_close(f);
            }
            gainmap_free(out);
        }
    }
    gainmap_image_free(&sdr);
    gainmap_image_free(&hdr);
    gainmap_ctx_free(ctx);
}

/* Number after "key": in exiftool's JSON, or NAN. */
static double json_number(const char *json, const char *key)
{
    char k[128];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(json, k);
    if (!p)
        return NAN;
    p += strlen(k);
    while (*p == ' ' || *p == '"')
        p++;
    return strtod(p, NULL);
}

static void test_exiftool(void)
{
    if (!tu_have("exiftool")) {
        printf("SKIP: exiftool not installed\n");
        return;
    }
    const char *path = tu_path(tmp, "layout.jpg");
    size_t size;
    uint8_t *data = tu_read(path, &size);
    CHECK(data != NULL);
    if (!data)
        return;
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = NULL;
    CHECK_INT(gainmap_file_open_memory(ctx, data, size, &f), GAINMAP_OK);
    char *json = NULL;
    int rc = tu_run(&json, "exiftool -ee -j -G1 -a -n '%s'", path);
    CHECK_INT(rc, 0);
    if (f && json) {
        const gainmap_info *info = gainmap_file_info(f);
        gainmap_params p;
        gainmap_metadata_to_params(&info->meta, &p);
        CHECK_NEAR(json_number(json, "XMP-hdrgm:GainMapMax"), p.gain_map_max[0], 1e-9);
        CHECK_NEAR(json_number(json, "XMP-hdrgm:GainMapMin"), p.gain_map_min[0], 1e-9);
        CHECK_NEAR(json_number(json, "XMP-hdrgm:HDRCapacityMax"), p.alternate_hdr_headroom, 1e-9);
        CHECK_NEAR(json_number(json, "XMP-hdrgm:OffsetSDR"), 0.015625, 0);
        CHECK_NEAR(json_number(json, "XMP-hdrgm:Gamma"), 1.0, 0);
        CHECK_NEAR(json_number(json, "MPF0:NumberOfImages"), 2, 0);
        CHECK_NEAR(json_number(json, "MPImage2:MPImageLength"), (double)info->map_size, 0);
        CHECK_NEAR(json_number(json, "MPImage2:MPImageStart"), (double)info->map_offset, 0);
        CHECK_NEAR(json_number(json, "XMP-Container:DirectoryItemLength"), (double)info->map_size, 0);
        CHECK_NEAR(json_number(json, "IFD0:Orientation"), 6, 0);
    }
    free(json);
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
    free(data);
}

/* --sdr JPEG: the base keeps its tables and entropy data byte for byte. */
static void test_sdr_passthrough(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image sdr, hdr;
    make_pair(80, 40, &sdr, &hdr);
    uint8_t *icc = NULL, *base = NULL, *out = NULL;
    size_t icc_size = 0, base_size = 0, size = 0;
    CHECK_INT(gainmap_icc_generate(ctx, "p3", &icc, &icc_size), GAINMAP_OK);
    gm_jpeg_extra extra = {1, NULL, 0, icc, icc_size};
    CHECK_INT(gm_jpeg_encode(ctx, &sdr, 80, 444, 0, &extra, &base, &base_size), GAINMAP_OK);
    gainmap_encode_options o;
    gainmap_encode_options_init(&o);
    gainmap_status st = gainmap_encode_jpeg_with_base(ctx, &hdr, base, base_size, &o, &out, &size);
    CHECK_MSG(st == GAINMAP_OK, "%s", gainmap_last_error(ctx));
    if (st == GAINMAP_OK) {
        gm_jpeg_layout a, b;
        CHECK_INT(gm_jpeg_scan(ctx, base, base_size, 0, &a), GAINMAP_OK);
        CHECK_INT(gm_jpeg_scan(ctx, out, size, 0, &b), GAINMAP_OK);
        size_t na = a.eoi_end - a.sos_offset, nb = b.eoi_end - b.sos_offset;
        CHECK_INT(na, nb);
        CHECK(na == nb && memcmp(base + a.sos_offset, out + b.sos_offset, na) == 0);
        /* tables (DQT, SOF, DHT) identical too */
        long qa = gm_jpeg_find(&a, base, 0xDB, NULL, 0, 0), qb = gm_jpeg_find(&b, out, 0xDB, NULL, 0, 0);
        CHECK(qa >= 0 && qb >= 0);
        if (qa >= 0 && qb >= 0)
            CHECK(memcmp(base + a.segs[qa].offset, out + b.segs[qb].offset, b.sos_offset - b.segs[qb].offset) == 0);
        /* the given ICC is carried: P3 base */
        gainmap_file *f = NULL;
        CHECK_INT(gainmap_file_open_memory(ctx, out, size, &f), GAINMAP_OK);
        if (f) {
            CHECK_INT(gainmap_file_info(f)->base_primaries, GAINMAP_PRIMARIES_P3);
            const uint8_t *ic;
            size_t is;
            CHECK_INT(gainmap_file_base_icc(f, &ic, &is), GAINMAP_OK);
            CHECK(is == icc_size && memcmp(ic, icc, is) == 0);
            gainmap_file_close(f);
        }
        gm_jpeg_layout_free(&a);
        gm_jpeg_layout_free(&b);
    }
    gainmap_free(icc);
    gainmap_free(base);
    gainmap_free(out);
    gainmap_image_free(&sdr);
    gainmap_image_free(&hdr);
    gainmap_ctx_free(ctx);
}

/* Entropy-coded data of image `which` (0 base, 1 map) of a file. */
static bool same_streams(gainmap_ctx *ctx, const gainmap_file *a, const gainmap_file *b)
{
    bool ok = true;
    for (int which = 0; which < 2; which++) {
        const uint8_t *da, *db;
        size_t sa, sb;
        if (which == 0) {
            gainmap_file_base_stream(a, &da, &sa);
            gainmap_file_base_stream(b, &db, &sb);
        } else {
            gainmap_file_map_stream(a, &da, &sa);
            gainmap_file_map_stream(b, &db, &sb);
        }
        gm_jpeg_layout la, lb;
        if (gm_jpeg_scan(ctx, da, sa, 0, &la) != GAINMAP_OK)
            return false;
        if (gm_jpeg_scan(ctx, db, sb, 0, &lb) != GAINMAP_OK) {
            gm_jpeg_layout_free(&la);
            return false;
        }
        size_t na = la.eoi_end - la.sos_offset, nb = lb.eoi_end - lb.sos_offset;
        if (na != nb || memcmp(da + la.sos_offset, db + lb.sos_offset, na) != 0)
            ok = false;
        gm_jpeg_layout_free(&la);
        gm_jpeg_layout_free(&lb);
    }
    return ok;
}

static void remux_one(const char *rel, bool apple)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *in = NULL, *re = NULL;
    uint8_t *out = NULL;
    size_t size = 0;
    gainmap_status st = gainmap_file_open(ctx, corpus(rel), &in);
    CHECK_MSG(st == GAINMAP_OK, "%s: %s", rel, gainmap_last_error(ctx));
    if (st != GAINMAP_OK)
        goto done;
    st = gainmap_remux_jpeg(ctx, in, GAINMAP_METADATA_BOTH, &out, &size);
    CHECK_MSG(st == GAINMAP_OK, "%s: %s", rel, gainmap_last_error(ctx));
    if (st != GAINMAP_OK)
        goto done;
    CHECK_INT(gainmap_file_open_memory(ctx, out, size, &re), GAINMAP_OK);
    if (!re)
        goto done;
    const gainmap_info *a = gainmap_file_info(in), *b = gainmap_file_info(re);
    CHECK(b->has_gainmap);
    CHECK_INT(b->dialects & 0x0F, 0x0F);   /* XMP, GContainer, MPF, ISO */
    CHECK_INT(b->meta_source, GAINMAP_META_ISO21496);
    CHECK_MSG(same_streams(ctx, in, re), "%s: coded data changed", rel);
    CHECK_INT(a->base_width, b->base_width);
    CHECK_INT(a->map_width, b->map_width);
    CHECK_INT(a->orientation, b->orientation);
    char why[256] = "";
    if (!apple)
        CHECK_MSG(meta_equal(&a->meta, &b->meta, why, sizeof why), "%s: %s", rel, why);
    CHECK_MSG(meta_near(&re->iso, &re->xmp_meta, 1e-9), "%s: ISO and XMP differ", rel);
    const gainmap_issue *is;
    size_t n = gainmap_file_issues(re, &is);
    for (size_t i = 0; i < n; i++)
        CHECK_MSG(is[i].severity == GAINMAP_SEVERITY_INFO, "%s: issue %s: %s", rel, is[i].code, is[i].message);
    if (apple) {
        gainmap_params p;
        gainmap_metadata_to_params(&b->meta, &p);
        CHECK_NEAR(p.gain_map_max[0], log2(a->meta.apple_headroom), 1e-6);
        CHECK_NEAR(p.alternate_hdr_headroom, log2(a->meta.apple_headroom), 1e-6);
        CHECK_NEAR(p.gain_map_min[0], 0.0, 0);
        CHECK_NEAR(p.base_offset[0], 0.0, 0);
    }
    /* and back to ISO only: still the same streams, no XMP */
    gainmap_free(out);
    out = NULL;
    CHECK_INT(gainmap_remux_jpeg(ctx, re, GAINMAP_METADATA_ISO, &out, &size), GAINMAP_OK);
    gainmap_file *iso = NULL;
    if (out && gainmap_file_open_memory(ctx, out, size, &iso) == GAINMAP_OK) {
        CHECK(!(gainmap_file_info(iso)->dialects & GAINMAP_DIALECT_HDRGM_XMP));
        CHECK(same_streams(ctx, in, iso));
        CHECK(meta_equal(&gainmap_file_info(iso)->meta, &b->meta, why, sizeof why));
        gainmap_file_close(iso);
    }
done:
    gainmap_free(out);
    gainmap_file_close(in);
    gainmap_file_close(re);
    gainmap_ctx_free(ctx);
}

static void test_remux(void)
{
    remux_one("adobe_hdrgm_jpeg/libavif__seine_sdr_gainmap_srgb.jpg", false);   /* XMP only, 3 channels */
    remux_one("ultrahdr_iso21496_jpeg/uhdrrs__minnie_ultrahdr_sys.jpg", false); /* ISO only */
    remux_one("ultrahdr_v1_xmp_mpf/vearutop__s01.orig.jpg", false);             /* Pixel, extended XMP */
    remux_one("apple_jpeg_gainmap/libavif__apple_gainmap_new.jpg", true);
}

static void test_apple_fit(void)
{
    /* FORMATS.md pitfall 17: gamma 1 is 0.15 stop off at H = 6.9; the fit must beat it. */
    gainmap_metadata m;
    double err;
    CHECK_INT(gm_apple_to_iso(NULL, 6.902454, &m, &err), GAINMAP_OK);
    double gamma1 = 0;
    for (int c = 0; c < 256; c++) {
        double r = c / 255.0;
        gamma1 = fmax(gamma1, fabs(log2(6.902454) * r - log2(1 + 5.902454 * gainmap_bt709_to_linear(r))));
    }
    CHECK(gamma1 > 0.14 && gamma1 < 0.16);
    CHECK_MSG(err < 0.08 && err < 0.6 * gamma1, "fit error %g vs gamma-1 error %g", err, gamma1);
    CHECK_INT(m.gain_map_min[0].n, 0);
    CHECK_NEAR((double)m.gain_map_max[0].n / m.gain_map_max[0].d, log2(6.902454), 1e-6);
    CHECK_INT(gm_apple_to_iso(NULL, 0.5, &m, &err), GAINMAP_ERR_CORRUPT);
}

/* ---- gain-map coding: flat tables, progressive, RGB ----------------- */

/* The DQT tables of the JPEG at data[start]: tables[id][zigzag index]. */
static int read_dqt(const uint8_t *data, size_t size, size_t start, unsigned tables[4][64], gm_jpeg_layout *l)
{
    int n = 0;
    if (gm_jpeg_scan(NULL, data, size, start, l) != GAINMAP_OK)
        return -1;
    for (size_t i = 0; i < l->nheader; i++) {
        if (l->segs[i].marker != 0xDB)
            continue;
        const uint8_t *p = data + l->segs[i].payload;
        for (size_t k = 0; k + 65 <= l->segs[i].payload_size && (p[k] >> 4) == 0; k += 65, n++)
            for (int j = 0; j < 64; j++)
                tables[p[k] & 3][j] = p[k + 1 + j];
    }
    return n;
}

/* Quantisation table selectors of the SOF's components. */
static void sof_tq(const uint8_t *data, const gm_jpeg_layout *l, int tq[3])
{
    for (size_t i = 0; i < l->nheader; i++)
        if (l->segs[i].marker == l->sof_marker)
            for (int c = 0; c < l->components && c < 3; c++)
                tq[c] = data[l->segs[i].payload + 6 + 3 * c + 2];
}

static void test_map_coding(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image img;
    gainmap_image_alloc(ctx, &img, 64, 48, 3, GAINMAP_PIXEL_U8);
    for (uint32_t y = 0; y < img.height; y++)
        for (uint32_t x = 0; x < img.width; x++)
            for (int c = 0; c < 3; c++)
                ((uint8_t *)img.data)[y * img.stride + 3 * x + c] = (uint8_t)(40 + 2 * x + y + 30 * c);
    unsigned t[4][64];
    int tq[3] = {-1, -1, -1};
    gm_jpeg_layout l;

    /* Flat, as the encoder codes its map at q92: AC step 0.75 (100 - 92)
     * = 6, DC 16 x 0.16 = 2.56 -> 3 (libjpeg's DC step), one table for Y,
     * Cb and Cr, progressive (SOF2), JFIF kept. */
    gm_jpeg_coding flat = {GM_JPEG_TABLES_FLAT, 37.5, 16.0, 0, 1};
    uint8_t *jpg = NULL;
    size_t size = 0;
    CHECK_INT(gm_jpeg_encode_coded(ctx, &img, 92, 444, 1, &flat, NULL, &jpg, &size), GAINMAP_OK);
    CHECK_INT(read_dqt(jpg, size, 0, t, &l), 1);
    CHECK_INT(t[0][0], 3);
    int off = 0;
    for (int j = 1; j < 64; j++)
        off += t[0][j] != 6;
    CHECK_INT(off, 0);
    CHECK_INT(l.sof_marker, 0xC2);
    sof_tq(jpg, &l, tq);
    CHECK(tq[0] == 0 && tq[1] == 0 && tq[2] == 0);
    CHECK(gm_jpeg_find(&l, jpg, 0xE0, "JFIF\0", 5, 0) >= 0);
    gainmap_image back;
    memset(&back, 0, sizeof back);
    CHECK_INT(gainmap_jpeg_decode(ctx, jpg, size, &back), GAINMAP_OK);
    double se = 0;
    for (uint32_t y = 0; y < img.height; y++)
        for (size_t i = 0; i < (size_t)img.width * 3; i++) {
            int d = (int)((uint8_t *)img.data)[y * img.stride + i] - (int)((uint8_t *)back.data)[y * back.stride + i];
            se += d * d;
        }
    double rms = sqrt(se / (img.width * img.height * 3.0));
    printf("  flat step 6 round trip: RMS %.3f codes\n", rms);
    CHECK_MSG(rms > 0.3 && rms < 1.5, "flat q92 round trip RMS %.3f codes", rms);
    gainmap_image_free(&back);
    gm_jpeg_layout_free(&l);
    gainmap_free(jpg);

    /* RGB without colour conversion: Adobe APP14 transform 0, no JFIF
     * (JFIF means YCbCr), sequential; libjpeg decodes it as RGB. */
    gm_jpeg_coding rgb = {GM_JPEG_TABLES_FLAT, 37.5, 0, 1, 0};
    CHECK_INT(gm_jpeg_encode_coded(ctx, &img, 92, 420, 1, &rgb, NULL, &jpg, &size), GAINMAP_OK);
    CHECK_INT(read_dqt(jpg, size, 0, t, &l), 1);
    CHECK_INT(t[0][0], 6);
    CHECK(l.sof_marker == 0xC1 || l.sof_marker == 0xC0);
    CHECK(gm_jpeg_find(&l, jpg, 0xE0, "JFIF\0", 5, 0) < 0);
    long a = gm_jpeg_find(&l, jpg, 0xEE, "Adobe", 5, 0);
    CHECK(a >= 0 && l.segs[a].payload_size == 12 && jpg[l.segs[a].payload + 11] == 0);
    memset(&back, 0, sizeof back);
    CHECK_INT(gainmap_jpeg_decode(ctx, jpg, size, &back), GAINMAP_OK);
    CHECK_INT(back.channels, 3);
    CHECK_INT(((uint8_t *)back.data)[3 * 10 + 2] / 4, ((uint8_t *)img.data)[3 * 10 + 2] / 4);
    gainmap_image_free(&back);
    gm_jpeg_layout_free(&l);
    gainmap_free(jpg);

    flat.flat = 0;
    CHECK_INT(gm_jpeg_encode_coded(ctx, &img, 92, 444, 1, &flat, NULL, &jpg, &size), GAINMAP_ERR_INVALID_ARG);
    CHECK_STR(gainmap_last_error(ctx), "jpeg_encode: a flat table's step must be in (0, 255], not 0");
    gainmap_clear_error(ctx);
    gainmap_image_free(&img);

    /* The whole encoder: defaults = sequential base (Annex K tables) and
     * sequential map (flat); progressive + standard tables on request. */
    gainmap_image sdr, hdr;
    make_pair(96, 64, &sdr, &hdr);
    gainmap_encode_options o;
    gainmap_encode_options_init(&o);
    CHECK_INT(o.gainmap_tables, 0);
    CHECK_INT(o.progressive, 0);
    for (int variant = 0; variant < 2; variant++) {
        o.gainmap_tables = variant;
        o.progressive = variant;
        uint8_t *out = NULL;
        size_t out_size = 0;
        gainmap_status st = gainmap_encode_jpeg(ctx, &hdr, &sdr, &o, &out, &out_size);
        CHECK_MSG(st == GAINMAP_OK, "%s", gainmap_last_error(ctx));
        if (st != GAINMAP_OK)
            continue;
        CHECK_INT(read_dqt(out, out_size, 0, t, &l), 2);
        CHECK_INT(l.sof_marker, variant ? 0xC2 : 0xC0);
        CHECK_INT(t[0][1], 2);   /* Annex K luma (0,1) = 11 x 0.16 */
        size_t map_at = gm_jpeg_next_soi(out, out_size, l.eoi_end);
        gm_jpeg_layout_free(&l);
        CHECK(map_at != SIZE_MAX);
        if (map_at == SIZE_MAX) {
            gainmap_free(out);
            continue;
        }
        CHECK_INT(read_dqt(out, out_size, map_at, t, &l), variant ? 2 : 1);
        CHECK_INT(l.sof_marker, variant ? 0xC2 : 0xC0);
        CHECK_INT(t[0][0], 3);                   /* map q 91: libjpeg's DC 16 x 0.18 */
        CHECK_INT(t[0][1], variant ? 2 : 7);     /* flat 0.75 (100 - 91) = 6.75 */
        CHECK_INT(t[0][63], variant ? 18 : 7);   /* Annex K luma (7,7) = 99 x 0.18 */
        gm_jpeg_layout_free(&l);
        gainmap_free(out);
    }
    uint8_t *out = NULL;
    size_t out_size = 0;
    o.gainmap_tables = 2;
    CHECK_INT(gainmap_encode_jpeg(ctx, &hdr, &sdr, &o, &out, &out_size), GAINMAP_ERR_INVALID_ARG);
    CHECK_STR(gainmap_last_error(ctx), "gain-map tables 2 are not 0 (flat) or 1 (standard)");
    gainmap_clear_error(ctx);
    o.gainmap_tables = 0;
    o.progressive = -1;
    CHECK_INT(gainmap_encode_jpeg(ctx, &hdr, &sdr, &o, &out, &out_size), GAINMAP_ERR_INVALID_ARG);
    CHECK_STR(gainmap_last_error(ctx), "progressive must be 0 or 1, not -1");
    gainmap_image_free(&sdr);
    gainmap_image_free(&hdr);
    gainmap_ctx_free(ctx);
}

/* ---- EXIF: an Apple maker note's HDR tags do not describe our map ---- */

/* The EXIF (TIFF structure) of the primary image of a JPEG, malloc'd. */
static uint8_t *jpeg_exif(const uint8_t *jpg, size_t size, size_t *exif_size)
{
    gm_jpeg_layout l;
    uint8_t *e = NULL;
    *exif_size = 0;
    if (gm_jpeg_scan(NULL, jpg, size, 0, &l) != GAINMAP_OK)
        return NULL;
    long i = gm_jpeg_find(&l, jpg, 0xE1, GM_EXIF_ID, GM_EXIF_ID_LEN, 0);
    if (i >= 0 && (e = malloc(l.segs[i].payload_size)) != NULL) {
        *exif_size = l.segs[i].payload_size - GM_EXIF_ID_LEN;
        memcpy(e, jpg + l.segs[i].payload + GM_EXIF_ID_LEN, *exif_size);
    }
    gm_jpeg_layout_free(&l);
    return e;
}

static bool exif_ascii(const uint8_t *e, size_t n, uint16_t tag, const char *want)
{
    gm_exif_value v;
    return gm_exif_find(e, n, 0, tag, &v) && v.type == 2 && v.size >= strlen(want) &&
           memcmp(v.data, want, strlen(want)) == 0;
}

/* Make, Model and the Exif IFD stay; no maker note (so no HDRHeadroom /
 * HDRGain), the orientation as given. */
static void check_clean_exif(const char *what, const uint8_t *jpg, size_t size, int orientation)
{
    size_t n = 0;
    uint8_t *e = jpeg_exif(jpg, size, &n);
    CHECK_MSG(e != NULL, "%s: no EXIF written", what);
    if (!e)
        return;
    gm_exif_facts f;
    gm_exif_read(e, n, &f);
    gm_exif_value v;
    CHECK_MSG(!f.has_maker33 && !f.has_maker48 && !gm_exif_find(e, n, 0x8769, 0x927C, &v),
              "%s: the Apple maker note is still there", what);
    CHECK_MSG(exif_ascii(e, n, 0x010F, "Apple") && exif_ascii(e, n, 0x0110, "iPhone 13 mini"),
              "%s: Make/Model lost", what);
    CHECK_MSG(gm_exif_find(e, n, 0x8769, 0x829A, &v) && v.type == 5, "%s: ExposureTime lost", what);
    CHECK_INT(gm_exif_orientation(e, n), orientation);
    free(e);
}

static void test_exif_apple(void)
{
    const char *src = corpus("apple_jpeg_gainmap/libavif__apple_gainmap_new.jpg");
    size_t jsize = 0;
    uint8_t *jpg = tu_read(src, &jsize);
    if (!jpg) {
        printf("SKIP: %s missing\n", src);
        return;
    }
    gainmap_ctx *ctx = gainmap_ctx_new();
    size_t n = 0;
    uint8_t *apple = jpeg_exif(jpg, jsize, &n);
    gm_exif_facts f;
    CHECK(apple != NULL);
    gm_exif_read(apple, n, &f);
    CHECK(f.has_maker33 && f.has_maker48);   /* the input does carry Apple's HDR tags */
    gainmap_image sdr, hdr;
    memset(&sdr, 0, sizeof sdr);
    CHECK_INT(gainmap_jpeg_decode(ctx, jpg, jsize, &sdr), GAINMAP_OK);
    sdr.transfer = GAINMAP_TRANSFER_SRGB;
    sdr.primaries = GAINMAP_PRIMARIES_P3;
    gainmap_image_set_exif(&sdr, NULL, 0);
    gainmap_image_alloc(ctx, &hdr, sdr.width, sdr.height, 3, GAINMAP_PIXEL_F32);
    hdr.transfer = GAINMAP_TRANSFER_LINEAR;
    hdr.primaries = GAINMAP_PRIMARIES_P3;
    for (uint32_t y = 0; y < hdr.height; y++)
        for (uint32_t x = 0; x < hdr.width; x++)
            for (int c = 0; c < 3; c++)
                ((float *)(void *)((uint8_t *)hdr.data + y * hdr.stride))[3 * x + c] =
                    (float)(gainmap_srgb_to_linear(((uint8_t *)sdr.data)[y * sdr.stride + 3 * x + c] / 255.0) *
                            (1.0 + 3.0 * x / hdr.width));
    gainmap_encode_options o;
    gainmap_encode_options_init(&o);
    uint8_t *out = NULL;
    size_t size = 0;

    /* The iPhone JPEG given as the base: its EXIF is carried, cleaned. */
    gainmap_status st = gainmap_encode_jpeg_with_base(ctx, &hdr, jpg, jsize, &o, &out, &size);
    CHECK_MSG(st == GAINMAP_OK, "%s", gainmap_last_error(ctx));
    if (st == GAINMAP_OK)
        check_clean_exif("given base", out, size, 1);
    gainmap_free(out);

    /* The master's EXIF, with orientation 6 (kept: JPEG pixels are not turned). */
    CHECK(gm_exif_set_orientation(apple, n, 6));
    gainmap_image_set_exif(&hdr, apple, n);
    hdr.orientation = 6;
    st = gainmap_encode_jpeg(ctx, &hdr, &sdr, &o, &out, &size);
    CHECK_MSG(st == GAINMAP_OK, "%s", gainmap_last_error(ctx));
    if (st == GAINMAP_OK)
        check_clean_exif("master EXIF", out, size, 6);
    gainmap_free(out);

    /* Through the CLI as the brief's user would: decode -k (EXIF carried
     * into a 16-bit PQ TIFF), encode, exiftool. */
    if (tu_have("exiftool")) {
        const char *tif = tu_path(tmp, "iphone_pq.tif"), *res = tu_path(tmp, "iphone_pq.jpg");
        char *log = NULL;
        CHECK_INT(tu_run(&log, "'%s' decode -k -f '%s' -o '%s'", tu_cli(), src, tif), 0);
        free(log);
        log = NULL;
        CHECK_INT(tu_run(&log, "'%s' encode -f '%s' -o '%s'", tu_cli(), tif, res), 0);
        free(log);
        log = NULL;
        CHECK_INT(tu_run(&log, "exiftool -j -n -Make -Model -HDRHeadroom -HDRGain '%s'", res), 0);
        CHECK_CONTAINS(log ? log : "", "\"Make\": \"Apple\"");
        CHECK_CONTAINS(log ? log : "", "\"Model\": \"iPhone 13 mini\"");
        CHECK_MSG(log && !strstr(log, "HDRHeadroom") && !strstr(log, "HDRGain"), "exiftool still sees: %s", log);
        free(log);
    }
    free(apple);
    gainmap_image_free(&sdr);
    gainmap_image_free(&hdr);
    free(jpg);
    gainmap_ctx_free(ctx);
}

/* --verbose names what the encoder chose; the choices can be overridden. */
static void test_cli_choices(void)
{
    const char *chart = corpus("hdr_master/libavif__colors_wcg_hdr_rec2020.avif");
    char out[4096];
    snprintf(out, sizeof out, "%s", tu_path(tmp, "choices.jpg"));
    char *o = NULL;
    CHECK_INT(tu_run(&o, "'%s' --verbose encode -f '%s' -o '%s'", tu_cli(), chart, out), 0);
    CHECK_CONTAINS(o, "choices.jpg: base bt2020; 3-channel map 200x200, gain ");
    CHECK_CONTAINS(o, "offsets 0.00390625 (SDR) ");
    free(o);
    CHECK_INT(tu_run(&o, "'%s' --verbose encode -f '%s' -o '%s' --base-primaries p3 --offset-hdr 0.0009765625",
                     tu_cli(), chart, out),
              0);
    CHECK_CONTAINS(o, "choices.jpg: base p3;");
    CHECK_CONTAINS(o, "offsets 0.00390625 (SDR) 0.000976562 (HDR)");
    free(o);
    CHECK_INT(tu_run(&o, "'%s' --verbose encode -f '%s' -o '%s' --offset 0.015625 --base-primaries srgb", tu_cli(),
                     chart, out),
              0);
    CHECK_CONTAINS(o, "choices.jpg: base srgb;");
    CHECK_CONTAINS(o, "offsets 0.015625 (SDR) 0.015625 (HDR)");
    free(o);
    CHECK_INT(tu_run(&o, "'%s' encode -f '%s' -o '%s' --base-primaries adobe", tu_cli(), chart, out), 2);
    CHECK_CONTAINS(o, "--base-primaries expects auto, p3, srgb or bt2020, not 'adobe'");
    free(o);
    CHECK_INT(tu_run(&o, "'%s' encode -f '%s' -o '%s' --offset-hdr 2", tu_cli(), chart, out), 2);
    CHECK_CONTAINS(o, "--offset-hdr");
    free(o);
}

static void test_cli_errors(void)
{
    char *o = NULL;
    int rc = tu_run(&o, "'%s' encode in.tif -o x.jpg --gainmap-scale 3", tu_cli());
    CHECK_INT(rc, 2);
    CHECK_CONTAINS(o, "--gainmap-scale expects 1, 2 or 4, not '3'");
    free(o);
    rc = tu_run(&o, "'%s' encode in.tif -o x.jpg --metadata all", tu_cli());
    CHECK_INT(rc, 2);
    CHECK_CONTAINS(o, "--metadata expects both, xmp or iso, not 'all'");
    free(o);
    rc = tu_run(&o, "'%s' encode in.tif", tu_cli());
    CHECK_INT(rc, 2);
    CHECK_CONTAINS(o, "missing -o");
    free(o);
    rc = tu_run(&o, "'%s' encode '%s' -o '%s'", tu_cli(), tu_path(tmp, "none.tif"), tu_path(tmp, "x.jpg"));
    CHECK_INT(rc, 1);
    CHECK_CONTAINS(o, "none.tif");
    free(o);
    rc = tu_run(&o, "'%s' remux '%s' -o '%s'", tu_cli(), corpus("negative_no_gainmap/gainmapjs__plain-jpeg.jpg"),
                tu_path(tmp, "r.jpg"));
    CHECK_INT(rc, 1);
    CHECK_CONTAINS(o, "no usable gain map");
    free(o);
    rc = tu_run(&o, "'%s' remux '%s' -o '%s'", tu_cli(), tu_path(tmp, "layout.jpg"), tu_path(tmp, "layout.jpg"));
    CHECK_INT(rc, 2);
    CHECK_CONTAINS(o, "would overwrite the input");
    free(o);
    rc = tu_run(&o, "'%s' help encode", tu_cli());
    CHECK_INT(rc, 0);
    CHECK_CONTAINS(o, "--gainmap-channels");
    free(o);
}

int main(void)
{
    tmp = tu_tmpdir("test_encode");
    RUN_TEST(test_format_fraction);
    RUN_TEST(test_mpf_bytes);
    RUN_TEST(test_compute_known);
    RUN_TEST(test_compute_offset_hdr);
    RUN_TEST(test_layout);
    RUN_TEST(test_readback);
    RUN_TEST(test_exiftool);
    RUN_TEST(test_sdr_passthrough);
    RUN_TEST(test_remux);
    RUN_TEST(test_apple_fit);
    RUN_TEST(test_map_coding);
    RUN_TEST(test_exif_apple);
    RUN_TEST(test_cli_errors);
    RUN_TEST(test_cli_choices);
    TEST_SUMMARY();
}

/* test_jpeg_parse.c - the reader on hand-built byte strings: segment walker
 * (fill bytes, RST, stuffing, thumbnails, trailing data, truncation), MPF in
 * both byte orders, XMP attribute/element/Seq forms and any prefix, ISO
 * 21496-1 full/compact/stub/trailing bytes, Apple maker notes, and the same
 * answer whatever the marker order, MPF byte order or XMP form. */
#include "check.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- builders */
static void seg(gm_buf *b, uint8_t marker, const void *payload, size_t n)
{
    gm_buf_u8(b, 0xFF);
    gm_buf_u8(b, marker);
    gm_buf_u16be(b, (uint16_t)(n + 2));
    gm_buf_put(b, payload, n);
}

static void seg_id(gm_buf *b, uint8_t marker, const char *id, size_t idlen, const void *payload, size_t n)
{
    gm_buf p;
    gm_buf_init(&p);
    gm_buf_put(&p, id, idlen);
    gm_buf_put(&p, payload, n);
    seg(b, marker, p.data, p.size);
    gm_buf_free(&p);
}

/* DQT, SOF0, DHT, SOS and entropy data with stuffing, RST markers and fill
 * bytes, then EOI.  Not decodable; only walkable. */
static void body(gm_buf *b, uint16_t w, uint16_t h, uint8_t comps)
{
    uint8_t dqt[65] = {0};
    seg(b, 0xDB, dqt, sizeof dqt);
    uint8_t sof[6 + 3 * 3] = {8, (uint8_t)(h >> 8), (uint8_t)h, (uint8_t)(w >> 8), (uint8_t)w, comps};
    for (int c = 0; c < comps; c++) {
        sof[6 + 3 * c] = (uint8_t)(c + 1);
        sof[7 + 3 * c] = 0x11;
    }
    seg(b, 0xC0, sof, 6u + 3u * comps);
    uint8_t dht[29] = {0};
    seg(b, 0xC4, dht, sizeof dht);
    uint8_t sos[1 + 2 * 3 + 3] = {comps};
    seg(b, 0xDA, sos, 1u + 2u * comps + 3u);
    /* entropy data: FF00 stuffing, RST0/RST1, a fill-byte run before RST2 */
    static const uint8_t ecs[] = {0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0x00, 0xFF, 0xD1,
                                  0x78, 0xFF, 0xFF, 0xFF, 0xD2, 0x9A, 0xFF, 0x00, 0xBC};
    gm_buf_put(b, ecs, sizeof ecs);
    static const uint8_t eoi[] = {0xFF, 0xFF, 0xD9};   /* fill byte before EOI */
    gm_buf_put(b, eoi, sizeof eoi);
}

static const char HDRGM_URI[] = "http://ns.adobe.com/hdr-gain-map/1.0/";

/* Gain-map XMP in one of four forms; same values. */
static char *map_xmp(int form)
{
    static char buf[4096];
    const char *head = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF "
                       "xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">";
    const char *tail = "</rdf:RDF></x:xmpmeta>";
    switch (form) {
    case 0:   /* attributes */
        snprintf(buf, sizeof buf,
                 "%s<rdf:Description rdf:about=\"\" xmlns:hdrgm=\"%s\" hdrgm:Version=\"1.0\" hdrgm:GainMapMin=\"-0.5\" "
                 "hdrgm:GainMapMax=\"3.25\" hdrgm:Gamma=\"1.5\" hdrgm:OffsetSDR=\"0.01\" hdrgm:OffsetHDR=\"0.02\" "
                 "hdrgm:HDRCapacityMin=\"0.5\" hdrgm:HDRCapacityMax=\"3.25\" hdrgm:BaseRenditionIsHDR=\"False\"/>%s",
                 head, HDRGM_URI, tail);
        break;
    case 1:   /* child elements, whitespace, xpacket wrapper */
        snprintf(buf, sizeof buf,
                 "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n%s\n <rdf:Description "
                 "rdf:about=\"\" xmlns:hdrgm=\"%s\">\n  <hdrgm:Version>1.0</hdrgm:Version>\n"
                 "  <hdrgm:GainMapMin> -0.5 </hdrgm:GainMapMin>\n  <hdrgm:GainMapMax>\n3.25\n</hdrgm:GainMapMax>\n"
                 "  <hdrgm:Gamma>1.5</hdrgm:Gamma>\n  <hdrgm:OffsetSDR>0.01</hdrgm:OffsetSDR>\n"
                 "  <hdrgm:OffsetHDR>0.02</hdrgm:OffsetHDR>\n  <hdrgm:HDRCapacityMin>0.5</hdrgm:HDRCapacityMin>\n"
                 "  <hdrgm:HDRCapacityMax>3.25</hdrgm:HDRCapacityMax>\n"
                 "  <hdrgm:BaseRenditionIsHDR>False</hdrgm:BaseRenditionIsHDR>\n </rdf:Description>\n%s\n"
                 "<?xpacket end=\"w\"?>      \n\n",
                 head, HDRGM_URI, tail);
        break;
    case 2:   /* mixed: scalars as attributes, per-channel fields as rdf:Seq of one li (ACR style) */
        snprintf(buf, sizeof buf,
                 "%s<rdf:Description rdf:about=\"\" xmlns:hdrgm=\"%s\" hdrgm:Version=\"1.0\" hdrgm:OffsetSDR=\"0.01\" "
                 "hdrgm:OffsetHDR=\"0.02\" hdrgm:HDRCapacityMin=\"0.5\" hdrgm:HDRCapacityMax=\"3.25\">"
                 "<hdrgm:GainMapMin><rdf:Seq><rdf:li>-0.5</rdf:li></rdf:Seq></hdrgm:GainMapMin>"
                 "<hdrgm:GainMapMax><rdf:Seq>\n <rdf:li>3.25</rdf:li>\n</rdf:Seq></hdrgm:GainMapMax>"
                 "<hdrgm:Gamma><rdf:Seq><rdf:li>1.5</rdf:li></rdf:Seq></hdrgm:Gamma></rdf:Description>%s",
                 head, HDRGM_URI, tail);
        break;
    default:  /* an unusual prefix for hdrgm, and a decoy "hdrgm" prefix bound to another URI */
        snprintf(buf, sizeof buf,
                 "%s<rdf:Description rdf:about=\"\" xmlns:gm=\"%s\" xmlns:hdrgm=\"http://example.com/not-gain-map/\" "
                 "hdrgm:GainMapMax=\"9\" hdrgm:HDRCapacityMax=\"9\" gm:Version=\"1.0\" gm:GainMapMin=\"-0.5\" "
                 "gm:GainMapMax=\"3.25\" gm:Gamma=\"1.5\" gm:OffsetSDR=\"0.01\" gm:OffsetHDR=\"0.02\" "
                 "gm:HDRCapacityMin=\"0.5\" gm:HDRCapacityMax=\"3.25\"/>%s",
                 head, HDRGM_URI, tail);
        break;
    }
    return buf;
}

static const char PRIMARY_XMP[] =
    "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">"
    "<rdf:Description xmlns:Container=\"http://ns.google.com/photos/1.0/container/\" "
    "xmlns:Item=\"http://ns.google.com/photos/1.0/container/item/\" "
    "xmlns:hdrgm=\"http://ns.adobe.com/hdr-gain-map/1.0/\" hdrgm:Version=\"1.0\"><Container:Directory><rdf:Seq>"
    "<rdf:li rdf:parseType=\"Resource\"><Container:Item Item:Semantic=\"Primary\" Item:Mime=\"image/jpeg\"/></rdf:li>"
    "<rdf:li rdf:parseType=\"Resource\"><Container:Item Item:Semantic=\"GainMap\" Item:Mime=\"image/jpeg\" "
    "Item:Length=\"%u\"/></rdf:li></rdf:Seq></Container:Directory></rdf:Description></rdf:RDF></x:xmpmeta>";

/* ISO 21496-1 full payload (after the URN), 1 channel, the same values as the XMP. */
static size_t iso_full(uint8_t *p, uint8_t flags)
{
    gm_buf b;
    gm_buf_init(&b);
    gm_buf_u16be(&b, 0);
    gm_buf_u16be(&b, 0);
    gm_buf_u8(&b, flags);
    uint32_t v[] = {1, 2, 13, 4};   /* base 0.5, alternate 3.25 */
    for (int i = 0; i < 4; i++)
        gm_buf_u32be(&b, v[i]);
    int nc = (flags & 0x80) ? 3 : 1;
    for (int c = 0; c < nc; c++) {
        uint32_t ch[] = {(uint32_t)-1, 2, 13 + (uint32_t)c, 4, 3, 2, 1, 100, 1, 50};
        for (int i = 0; i < 10; i++)
            gm_buf_u32be(&b, ch[i]);
    }
    memcpy(p, b.data, b.size);
    size_t n = b.size;
    gm_buf_free(&b);
    return n;
}

enum { K_JFIF, K_EXIF, K_XMP, K_ICC, K_ISO, K_MPF, K_COUNT };

typedef struct spec {
    int order[K_COUNT];
    bool mpf_be;
    int xmp_form;
    bool iso;           /* ISO stub in primary + full ISO in map */
    bool map_xmp;       /* hdrgm XMP in the map */
    bool gcontainer;
    size_t trailing;
} spec;

/* EXIF (little-endian TIFF) with orientation 6 and an embedded "thumbnail"
 * holding FF D8 ... FF D9, which a naive EOI search would stop at. */
static void exif_payload(gm_buf *b)
{
    gm_buf_put(b, "II*\0", 4);
    gm_buf_u32le(b, 8);
    gm_buf_u16le(b, 1);
    gm_buf_u16le(b, 0x0112);
    gm_buf_u16le(b, 3);
    gm_buf_u32le(b, 1);
    gm_buf_u32le(b, 6);
    gm_buf_u32le(b, 0);
    static const uint8_t thumb[] = {0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x03, 0x00, 0xFF, 0xD9};
    gm_buf_put(b, thumb, sizeof thumb);
}

static void mpf_payload(uint8_t out[86], bool be, uint32_t psize, uint32_t msize, uint32_t moff)
{
    gm_buf b;
    gm_buf_init(&b);
    void (*u16)(gm_buf *, uint16_t) = be ? gm_buf_u16be : gm_buf_u16le;
    void (*u32)(gm_buf *, uint32_t) = be ? gm_buf_u32be : gm_buf_u32le;
    gm_buf_put(&b, "MPF\0", 4);
    gm_buf_put(&b, be ? "MM\0*" : "II*\0", 4);
    u32(&b, 8);
    u16(&b, 3);
    u16(&b, 0xB000); u16(&b, 7); u32(&b, 4); gm_buf_put(&b, "0100", 4);
    u16(&b, 0xB001); u16(&b, 4); u32(&b, 1); u32(&b, 2);
    u16(&b, 0xB002); u16(&b, 7); u32(&b, 32); u32(&b, 50);
    u32(&b, 0);
    u32(&b, 0x00030000); u32(&b, psize); u32(&b, 0); u16(&b, 0); u16(&b, 0);
    u32(&b, 0); u32(&b, msize); u32(&b, moff); u16(&b, 0); u16(&b, 0);
    memcpy(out, b.data, 86);
    gm_buf_free(&b);
}

static uint8_t *build(const spec *s, size_t *size)
{
    /* gain-map image */
    gm_buf m;
    gm_buf_init(&m);
    gm_buf_u8(&m, 0xFF);
    gm_buf_u8(&m, 0xD8);
    if (s->map_xmp) {
        const char *x = map_xmp(s->xmp_form);
        seg_id(&m, 0xE1, GM_XMP_ID, GM_XMP_ID_LEN, x, strlen(x));
    }
    if (s->iso) {
        uint8_t p[200];
        size_t n = iso_full(p, 0x40);
        seg_id(&m, 0xE2, GM_ISO_ID, GM_ISO_ID_LEN, p, n);
    }
    body(&m, 16, 8, 1);

    gm_buf b;
    gm_buf_init(&b);
    gm_buf_u8(&b, 0xFF);
    gm_buf_u8(&b, 0xD8);
    size_t mpf_at = 0;
    for (int i = 0; i < K_COUNT; i++) {
        switch (s->order[i]) {
        case K_JFIF: seg(&b, 0xE0, "JFIF\0\1\1\0\0\1\0\1\0\0", 14); break;
        case K_EXIF: {
            gm_buf e;
            gm_buf_init(&e);
            exif_payload(&e);
            seg_id(&b, 0xE1, GM_EXIF_ID, GM_EXIF_ID_LEN, e.data, e.size);
            gm_buf_free(&e);
            break;
        }
        case K_XMP: {
            char x[2048];
            if (s->gcontainer)
                snprintf(x, sizeof x, PRIMARY_XMP, (unsigned)m.size);
            else
                snprintf(x, sizeof x, "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/"
                                      "1999/02/22-rdf-syntax-ns#\"><rdf:Description xmlns:hdrgm=\"%s\" "
                                      "hdrgm:Version=\"1.0\"/></rdf:RDF></x:xmpmeta>",
                         HDRGM_URI);
            seg_id(&b, 0xE1, GM_XMP_ID, GM_XMP_ID_LEN, x, strlen(x));
            break;
        }
        case K_ICC: /* two chunks, stored out of order */
            seg_id(&b, 0xE2, GM_ICC_ID "\0\2\2", GM_ICC_ID_LEN + 2, "WORLD", 5);
            seg_id(&b, 0xE2, GM_ICC_ID "\0\1\2", GM_ICC_ID_LEN + 2, "HELLO", 5);
            break;
        case K_ISO:
            if (s->iso)
                seg_id(&b, 0xE2, GM_ISO_ID, GM_ISO_ID_LEN, "\0\0\0\0", 4);
            break;
        case K_MPF: {
            uint8_t p[86] = {0};
            mpf_at = b.size;
            seg(&b, 0xE2, p, sizeof p);
            break;
        }
        }
    }
    body(&b, 64, 32, 3);
    size_t psize = b.size;
    uint8_t p[86];
    mpf_payload(p, s->mpf_be, (uint32_t)psize, (uint32_t)m.size, (uint32_t)(psize - (mpf_at + 8)));
    memcpy(b.data + mpf_at + 4, p, sizeof p);
    gm_buf_put(&b, m.data, m.size);
    for (size_t i = 0; i < s->trailing; i++)
        gm_buf_u8(&b, 0);
    gm_buf_free(&m);
    return gm_buf_take(&b, size);
}

static gainmap_file *open_spec(const spec *s, gainmap_status *st)
{
    size_t n;
    uint8_t *d = build(s, &n);
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = NULL;
    *st = gainmap_file_open_memory(ctx, d, n, &f);
    free(d);
    gainmap_ctx_free(ctx);
    return f;
}

static bool has_issue(const gainmap_file *f, const char *code)
{
    const gainmap_issue *is;
    size_t n = gainmap_file_issues(f, &is);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(is[i].code, code))
            return true;
    return false;
}

static spec default_spec(void)
{
    spec s = {{K_JFIF, K_EXIF, K_XMP, K_ICC, K_ISO, K_MPF}, true, 0, false, true, true, 0};
    return s;
}

/* ---------------------------------------------------------------- tests */
static void test_walker(void)
{
    spec s = default_spec();
    size_t n;
    uint8_t *d = build(&s, &n);
    gm_jpeg_layout l;
    CHECK_INT(gm_jpeg_scan(NULL, d, n, 0, &l), GAINMAP_OK);
    CHECK_INT(l.width, 64);
    CHECK_INT(l.height, 32);
    CHECK_INT(l.components, 3);
    CHECK_INT(l.sof_marker, 0xC0);
    CHECK_INT(d[l.eoi_end - 1], 0xD9);
    CHECK_INT(d[l.eoi_end], 0xFF);   /* the gain map's SOI follows */
    CHECK_INT(d[l.eoi_end + 1], 0xD8);
    CHECK_INT(d[l.sos_offset + 1], 0xDA);
    CHECK_INT(l.segs[l.nheader].marker, 0xDA);
    CHECK(gm_jpeg_find(&l, d, 0xE2, GM_MPF_ID, GM_MPF_ID_LEN, 0) >= 0);
    CHECK(gm_jpeg_find(&l, d, 0xE2, GM_ICC_ID, GM_ICC_ID_LEN, 1) >= 0);
    CHECK(gm_jpeg_find(&l, d, 0xE2, GM_ICC_ID, GM_ICC_ID_LEN, 2) < 0);
    CHECK_INT(gm_jpeg_next_soi(d, n, l.eoi_end), l.eoi_end);
    CHECK_INT(l.extraneous, 0);
    gm_jpeg_layout_free(&l);

    /* every truncation point inside the primary is an error, never a crash */
    gm_jpeg_layout l2;
    size_t end;
    CHECK_INT(gm_jpeg_scan(NULL, d, n, 0, &l2), GAINMAP_OK);
    end = l2.eoi_end;
    gm_jpeg_layout_free(&l2);
    int bad = 0;
    for (size_t cut = 0; cut < end; cut++) {
        gainmap_status st = gm_jpeg_scan(NULL, d, cut, 0, &l2);
        if (st == GAINMAP_OK)
            bad++;
    }
    CHECK_INT(bad, 0);
    gainmap_ctx *ctx = gainmap_ctx_new();
    CHECK_INT(gm_jpeg_scan(ctx, d, 40, 0, &l2), GAINMAP_ERR_TRUNCATED);
    CHECK_CONTAINS(gainmap_last_error(ctx), "before its frame header");
    gainmap_clear_error(ctx);
    CHECK_INT(gm_jpeg_scan(ctx, d, end - 1, 0, &l2), GAINMAP_ERR_TRUNCATED);
    CHECK_CONTAINS(gainmap_last_error(ctx), "before the end-of-image marker");
    gainmap_ctx_free(ctx);

    /* stray bytes between segments are skipped and counted */
    gm_buf b;
    gm_buf_init(&b);
    gm_buf_put(&b, "\xFF\xD8", 2);
    seg(&b, 0xE0, "JFIF\0", 5);
    gm_buf_put(&b, "\x00\x11\x22", 3);
    body(&b, 5, 7, 1);
    CHECK_INT(gm_jpeg_scan(NULL, b.data, b.size, 0, &l2), GAINMAP_OK);
    CHECK_INT(l2.extraneous, 3);
    CHECK_INT(l2.width, 5);
    CHECK_INT(l2.height, 7);
    CHECK_INT(l2.eoi_end, b.size);
    gm_jpeg_layout_free(&l2);
    gm_buf_free(&b);

    /* progressive: tables between scans, several SOS */
    gm_buf_init(&b);
    gm_buf_put(&b, "\xFF\xD8", 2);
    uint8_t sof[9] = {8, 0, 2, 0, 3, 1, 1, 0x11, 0};
    seg(&b, 0xC2, sof, sizeof sof);
    uint8_t sos[6] = {1, 1, 0, 0, 0, 0};
    seg(&b, 0xDA, sos, sizeof sos);
    gm_buf_put(&b, "\x01\xFF\x00\x02", 4);
    uint8_t dht[5] = {0};
    seg(&b, 0xC4, dht, sizeof dht);
    seg(&b, 0xDA, sos, sizeof sos);
    gm_buf_put(&b, "\x03\xFF\xD3\x04\xFF\xD9", 6);
    gm_buf_put(&b, "TRAILER", 7);
    CHECK_INT(gm_jpeg_scan(NULL, b.data, b.size, 0, &l2), GAINMAP_OK);
    CHECK_INT(l2.sof_marker, 0xC2);
    CHECK_INT(l2.eoi_end, b.size - 7);
    CHECK_INT(l2.nsegs, 4);
    CHECK_INT(l2.nheader, 1);
    gm_jpeg_layout_free(&l2);
    gm_buf_free(&b);
    free(d);
}

static void test_mpf_both_orders(void)
{
    for (int be = 0; be < 2; be++) {
        uint8_t p[86];
        mpf_payload(p, be, 1000, 200, 900);
        gm_mpf m;
        CHECK_INT(gm_mpf_parse(NULL, p, sizeof p, 50, &m), GAINMAP_OK);
        CHECK_INT(m.big_endian, be);
        CHECK_INT(m.tiff_base, 54);
        CHECK_STR(m.version, "0100");
        CHECK_INT(m.number_of_images, 2);
        CHECK_INT(m.nentries, 2);
        CHECK_INT(m.entries[0].attribute, 0x00030000);
        CHECK_INT(m.entries[0].size, 1000);
        CHECK_INT(m.entries[1].size, 200);
        CHECK_INT(m.entries[1].offset, 900);
        CHECK_INT(m.next_ifd, 0);
    }
    /* the imazen-style malformed index: 4 stray bytes inside the B000 entry */
    uint8_t p[90];
    uint8_t good[86];
    mpf_payload(good, true, 1000, 200, 900);
    memcpy(p, good, 22);
    memset(p + 22, 0, 4);
    memcpy(p + 26, good + 22, 64);
    gm_mpf m;
    gainmap_ctx *ctx = gainmap_ctx_new();
    CHECK_INT(gm_mpf_parse(ctx, p, sizeof p, 0, &m), GAINMAP_ERR_CORRUPT);
    CHECK_STR(gainmap_last_error(ctx), "MPF index has no MP Entry list (tag B002)");
    gainmap_ctx_free(ctx);
    /* bad byte order, IFD offset past the end */
    memcpy(p, good, 86);
    p[4] = 'X';
    CHECK_INT(gm_mpf_parse(NULL, p, 86, 0, &m), GAINMAP_ERR_CORRUPT);
    memcpy(p, good, 86);
    p[11] = 200;
    CHECK_INT(gm_mpf_parse(NULL, p, 86, 0, &m), GAINMAP_ERR_CORRUPT);
    CHECK_INT(gm_mpf_parse(NULL, good, 20, 0, &m), GAINMAP_ERR_CORRUPT);
}

static void check_xmp_values(const gainmap_metadata *m)
{
    CHECK_INT(m->channel_count, 1);
    CHECK_INT(m->use_base_colour_space, 1);
    CHECK_INT(m->base_hdr_headroom.n, 1);
    CHECK_INT(m->base_hdr_headroom.d, 2);
    CHECK_INT(m->alternate_hdr_headroom.n, 13);
    CHECK_INT(m->alternate_hdr_headroom.d, 4);
    CHECK_INT(m->gain_map_min[0].n, -1);
    CHECK_INT(m->gain_map_min[0].d, 2);
    CHECK_INT(m->gain_map_max[0].n, 13);
    CHECK_INT(m->gain_map_max[0].d, 4);
    CHECK_INT(m->gamma[0].n, 3);
    CHECK_INT(m->gamma[0].d, 2);
    CHECK_INT(m->base_offset[0].n, 1);
    CHECK_INT(m->base_offset[0].d, 100);
    CHECK_INT(m->alternate_offset[0].n, 1);
    CHECK_INT(m->alternate_offset[0].d, 50);
}

static void test_xmp_forms(void)
{
    for (int form = 0; form < 4; form++) {
        gm_xmp x;
        gm_xmp_init(&x);
        const char *t = map_xmp(form);
        CHECK(gm_xmp_parse(&x, (const uint8_t *)t, strlen(t)));
        CHECK_INT(x.packets, 1);
        CHECK(x.has_version);
        CHECK_STR(x.version, "1.0");
        gainmap_metadata m;
        CHECK_INT(gm_xmp_to_metadata(NULL, &x, &m), GAINMAP_OK);
        check_xmp_values(&m);
    }
    /* defaults of FORMATS 1.4: only the required fields */
    gm_xmp x;
    gm_xmp_init(&x);
    const char *t = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-"
                    "syntax-ns#\"><rdf:Description xmlns:h=\"http://ns.adobe.com/hdr-gain-map/1.0/\" h:Version=\"1.0\" "
                    "h:GainMapMax=\"2\" h:HDRCapacityMax=\"2\"/></rdf:RDF></x:xmpmeta>";
    CHECK(gm_xmp_parse(&x, (const uint8_t *)t, strlen(t)));
    gainmap_metadata m;
    CHECK_INT(gm_xmp_to_metadata(NULL, &x, &m), GAINMAP_OK);
    CHECK_INT(m.gain_map_min[0].n, 0);
    CHECK_INT(m.gamma[0].n, 1);
    CHECK_INT(m.gamma[0].d, 1);
    CHECK_INT(m.base_offset[0].n, 1);
    CHECK_INT(m.base_offset[0].d, 64);
    CHECK_INT(m.alternate_offset[0].d, 64);
    CHECK_INT(m.base_hdr_headroom.n, 0);
    CHECK_INT(m.alternate_hdr_headroom.n, 2);

    /* BaseRenditionIsHDR=True swaps headrooms and offsets (FORMATS 3.3) */
    gm_xmp_init(&x);
    t = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">"
        "<rdf:Description xmlns:hdrgm=\"http://ns.adobe.com/hdr-gain-map/1.0/\" hdrgm:Version=\"1.0\" "
        "hdrgm:GainMapMax=\"2\" hdrgm:HDRCapacityMin=\"0.25\" hdrgm:HDRCapacityMax=\"2\" hdrgm:OffsetSDR=\"0.5\" "
        "hdrgm:OffsetHDR=\"0.125\" hdrgm:BaseRenditionIsHDR=\"true\"/></rdf:RDF></x:xmpmeta>";
    CHECK(gm_xmp_parse(&x, (const uint8_t *)t, strlen(t)));
    CHECK_INT(x.base_rendition_is_hdr, 1);
    CHECK_INT(gm_xmp_to_metadata(NULL, &x, &m), GAINMAP_OK);
    CHECK_INT(m.base_hdr_headroom.n, 2);
    CHECK_INT(m.base_hdr_headroom.d, 1);
    CHECK_INT(m.alternate_hdr_headroom.n, 1);
    CHECK_INT(m.alternate_hdr_headroom.d, 4);
    CHECK_INT(m.base_offset[0].n, 1);
    CHECK_INT(m.base_offset[0].d, 8);
    CHECK_INT(m.alternate_offset[0].n, 1);
    CHECK_INT(m.alternate_offset[0].d, 2);

    /* per-channel Seq of 3; a Seq of 2 is invalid */
    gm_xmp_init(&x);
    t = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">"
        "<rdf:Description xmlns:hdrgm=\"http://ns.adobe.com/hdr-gain-map/1.0/\" hdrgm:Version=\"1.0\" "
        "hdrgm:HDRCapacityMax=\"4\"><hdrgm:GainMapMax><rdf:Seq><rdf:li>1.5</rdf:li><rdf:li>2.5</rdf:li>"
        "<rdf:li>4</rdf:li></rdf:Seq></hdrgm:GainMapMax></rdf:Description></rdf:RDF></x:xmpmeta>";
    CHECK(gm_xmp_parse(&x, (const uint8_t *)t, strlen(t)));
    CHECK_INT(gm_xmp_to_metadata(NULL, &x, &m), GAINMAP_OK);
    CHECK_INT(m.channel_count, 3);
    CHECK_INT(m.gain_map_max[0].n, 3);
    CHECK_INT(m.gain_map_max[1].n, 5);
    CHECK_INT(m.gain_map_max[2].n, 4);
    CHECK_INT(m.gamma[2].n, 1);
    gm_xmp_init(&x);
    t = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">"
        "<rdf:Description xmlns:hdrgm=\"http://ns.adobe.com/hdr-gain-map/1.0/\" hdrgm:Version=\"1.0\" "
        "hdrgm:HDRCapacityMax=\"4\"><hdrgm:GainMapMax><rdf:Seq><rdf:li>1.5</rdf:li><rdf:li>2.5</rdf:li>"
        "</rdf:Seq></hdrgm:GainMapMax></rdf:Description></rdf:RDF></x:xmpmeta>";
    CHECK(gm_xmp_parse(&x, (const uint8_t *)t, strlen(t)));
    gainmap_ctx *ctx = gainmap_ctx_new();
    CHECK_INT(gm_xmp_to_metadata(ctx, &x, &m), GAINMAP_ERR_CORRUPT);
    CHECK_STR(gainmap_last_error(ctx), "hdrgm:GainMapMax is not a number or a list of 1 or 3 numbers");
    gainmap_clear_error(ctx);
    /* missing required field; HDRCapacityMax not above HDRCapacityMin */
    gm_xmp_init(&x);
    t = "<a xmlns:hdrgm=\"http://ns.adobe.com/hdr-gain-map/1.0/\" hdrgm:Version=\"1.0\" hdrgm:GainMapMax=\"1\"/>";
    CHECK(gm_xmp_parse(&x, (const uint8_t *)t, strlen(t)));
    CHECK_INT(gm_xmp_to_metadata(ctx, &x, &m), GAINMAP_ERR_CORRUPT);
    CHECK_STR(gainmap_last_error(ctx), "hdrgm:HDRCapacityMax is missing (it is required)");
    gainmap_clear_error(ctx);
    gm_xmp_init(&x);
    t = "<a xmlns:hdrgm=\"http://ns.adobe.com/hdr-gain-map/1.0/\" hdrgm:Version=\"1.0\" hdrgm:GainMapMax=\"1\" "
        "hdrgm:HDRCapacityMin=\"1\" hdrgm:HDRCapacityMax=\"1\"/>";
    CHECK(gm_xmp_parse(&x, (const uint8_t *)t, strlen(t)));
    CHECK_INT(gm_xmp_to_metadata(ctx, &x, &m), GAINMAP_ERR_CORRUPT);
    CHECK_CONTAINS(gainmap_last_error(ctx), "HDRCapacityMax (1) is not above HDRCapacityMin (1)");
    gainmap_ctx_free(ctx);
    /* several packets accumulate; a malformed one and a DTD are refused */
    gm_xmp_init(&x);
    const char *p1 = "<a xmlns:hdrgm=\"http://ns.adobe.com/hdr-gain-map/1.0/\" hdrgm:Version=\"1.0\"/>";
    const char *p2 = "<a xmlns:q=\"http://ns.adobe.com/hdr-gain-map/1.0/\"><q:GainMapMax>2</q:GainMapMax></a>";
    const char *p3 = "<a><b></a>";
    const char *p4 = "<!DOCTYPE a [<!ENTITY e \"x\">]><a xmlns:hdrgm=\"http://ns.adobe.com/hdr-gain-map/1.0/\" "
                     "hdrgm:HDRCapacityMax=\"&e;\"/>";
    CHECK(gm_xmp_parse(&x, (const uint8_t *)p1, strlen(p1)));
    CHECK(gm_xmp_parse(&x, (const uint8_t *)p2, strlen(p2)));
    CHECK(!gm_xmp_parse(&x, (const uint8_t *)p3, strlen(p3)));
    CHECK(!gm_xmp_parse(&x, (const uint8_t *)p4, strlen(p4)));
    CHECK_INT(x.packets, 2);
    CHECK_INT(x.bad_packets, 2);
    CHECK_INT(x.gain_map_max.count, 1);
    CHECK_NEAR(x.gain_map_max.v[0], 2.0, 0);
    CHECK_INT(x.capacity_max.count, 0);

    /* GContainer items, Apple fields */
    gm_xmp_init(&x);
    char px[2048];
    snprintf(px, sizeof px, PRIMARY_XMP, 4321u);
    CHECK(gm_xmp_parse(&x, (const uint8_t *)px, strlen(px)));
    CHECK(x.has_directory);
    CHECK_INT(x.nitems, 2);
    CHECK_STR(x.items[0].semantic, "Primary");
    CHECK_INT(x.items[0].length, -1);
    CHECK_STR(x.items[1].semantic, "GainMap");
    CHECK_STR(x.items[1].mime, "image/jpeg");
    CHECK_INT(x.items[1].length, 4321);
    gm_xmp_init(&x);
    t = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">"
        "<rdf:Description xmlns:HDRGainMap=\"http://ns.apple.com/HDRGainMap/1.0/\" "
        "xmlns:apdi=\"http://ns.apple.com/pixeldatainfo/1.0/\"><apdi:AuxiliaryImageType>"
        "urn:com:apple:photo:2020:aux:hdrgainmap</apdi:AuxiliaryImageType><HDRGainMap:HDRGainMapVersion>131072"
        "</HDRGainMap:HDRGainMapVersion><HDRGainMap:HDRGainMapHeadroom>6.902454</HDRGainMap:HDRGainMapHeadroom>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>";
    CHECK(gm_xmp_parse(&x, (const uint8_t *)t, strlen(t)));
    CHECK(x.has_apple_version);
    CHECK_INT(x.apple_version, 131072);
    CHECK(x.has_apple_headroom);
    CHECK_NEAR(x.apple_headroom, 6.902454, 1e-12);
    CHECK_STR(x.aux_type, "urn:com:apple:photo:2020:aux:hdrgainmap");
    CHECK(!x.has_hdrgm);
}

static void test_iso(void)
{
    uint8_t p[300];
    gainmap_metadata m, m3, mc;
    size_t n = iso_full(p, 0x40);
    CHECK_INT(n, 61);
    CHECK_INT(gainmap_iso21496_parse(NULL, p, n, &m), GAINMAP_OK);
    check_xmp_values(&m);
    CHECK_INT(m.flags, 0x40);
    n = iso_full(p, 0xC0);
    CHECK_INT(n, 141);
    CHECK_INT(gainmap_iso21496_parse(NULL, p, n, &m3), GAINMAP_OK);
    CHECK_INT(m3.channel_count, 3);
    CHECK_INT(m3.gain_map_max[2].n, 15);
    CHECK_INT(m3.gain_map_max[2].d, 4);

    /* libultrahdr's compact form (flag 0x08), with the backward bit 0x04 */
    gm_buf b;
    gm_buf_init(&b);
    gm_buf_u16be(&b, 0);
    gm_buf_u16be(&b, 0);
    gm_buf_u8(&b, 0x40 | 0x08 | 0x04);
    uint32_t v[] = {100, 50, 325, (uint32_t)-50, 325, 150, 1, 2};
    for (int i = 0; i < 8; i++)
        gm_buf_u32be(&b, v[i]);
    CHECK_INT(b.size, 37);
    CHECK_INT(gainmap_iso21496_parse(NULL, b.data, b.size, &mc), GAINMAP_OK);
    CHECK_INT(mc.flags, 0x4C);
    gainmap_params a, c;
    gainmap_metadata_to_params(&m, &a);
    gainmap_metadata_to_params(&mc, &c);
    CHECK_NEAR(c.base_hdr_headroom, a.base_hdr_headroom, 1e-12);
    CHECK_NEAR(c.alternate_hdr_headroom, a.alternate_hdr_headroom, 1e-12);
    CHECK_NEAR(c.gain_map_min[0], a.gain_map_min[0], 1e-12);
    CHECK_NEAR(c.gain_map_max[0], a.gain_map_max[0], 1e-12);
    CHECK_NEAR(c.gamma[0], a.gamma[0], 1e-12);
    CHECK_NEAR(c.base_offset[0], a.base_offset[0], 1e-12);
    CHECK_NEAR(c.alternate_offset[0], a.alternate_offset[0], 1e-12);
    gm_buf_free(&b);

    gainmap_ctx *ctx = gainmap_ctx_new();
    /* stub */
    CHECK_INT(gainmap_iso21496_parse(ctx, (const uint8_t *)"\0\0\0\0", 4, &m), GAINMAP_ERR_NO_GAINMAP);
    CHECK_CONTAINS(gainmap_last_error(ctx), "only the version");
    gainmap_clear_error(ctx);
    /* trailing bytes: invalid with writer_version 0 (pitfall 21), fine with 1 */
    n = iso_full(p, 0x40);
    memset(p + n, 0xAB, 4);
    CHECK_INT(gainmap_iso21496_parse(ctx, p, n + 4, &m), GAINMAP_ERR_CORRUPT);
    CHECK_STR(gainmap_last_error(ctx), "ISO 21496-1 metadata has 4 trailing bytes although writer_version is 0");
    gainmap_clear_error(ctx);
    p[3] = 1;
    CHECK_INT(gainmap_iso21496_parse(ctx, p, n + 4, &m), GAINMAP_OK);
    CHECK_INT(m.writer_version, 1);
    p[3] = 0;
    /* truncated, unsupported version */
    CHECK_INT(gainmap_iso21496_parse(ctx, p, n - 1, &m), GAINMAP_ERR_TRUNCATED);
    gainmap_clear_error(ctx);
    p[1] = 1;
    CHECK_INT(gainmap_iso21496_parse(ctx, p, n, &m), GAINMAP_ERR_UNSUPPORTED);
    CHECK_STR(gainmap_last_error(ctx), "ISO 21496-1 minimum_version 1 is not supported (0 is)");
    p[1] = 0;

    /* writer: full form only, flags 0x80/0x40, bytes identical to the input */
    uint8_t *w;
    size_t wn;
    n = iso_full(p, 0xC0);
    CHECK_INT(gainmap_iso21496_parse(NULL, p, n, &m3), GAINMAP_OK);
    CHECK_INT(gainmap_iso21496_write(ctx, &m3, &w, &wn), GAINMAP_OK);
    CHECK_INT(wn, 141);
    CHECK(wn == n && memcmp(w, p, n) == 0);
    gainmap_free(w);
    /* the compact-form metadata is written in the full layout without 0x08/0x04 */
    CHECK_INT(gainmap_iso21496_write(ctx, &mc, &w, &wn), GAINMAP_OK);
    CHECK_INT(wn, 61);
    CHECK_INT(w[4], 0x40);
    CHECK_INT(gainmap_iso21496_parse(NULL, w, wn, &m), GAINMAP_OK);
    CHECK_INT(m.gain_map_max[0].n, 325);
    CHECK_INT(m.gain_map_max[0].d, 100);
    gainmap_free(w);
    /* invalid metadata is refused */
    mc.gamma[0].n = 0;
    CHECK_INT(gainmap_iso21496_write(ctx, &mc, &w, &wn), GAINMAP_ERR_CORRUPT);
    gainmap_ctx_free(ctx);
}

/* TIFF (big-endian outer, to show the maker note ignores it) with an Apple maker note. */
static uint8_t *apple_exif(int32_t n33, int32_t d33, int32_t n48, int32_t d48, bool with48, size_t *size)
{
    gm_buf b;
    gm_buf_init(&b);
    gm_buf_put(&b, "II*\0", 4);
    gm_buf_u32le(&b, 8);
    /* IFD0 at 8: orientation 3, ExifIFD pointer */
    gm_buf_u16le(&b, 2);
    gm_buf_u16le(&b, 0x0112); gm_buf_u16le(&b, 3); gm_buf_u32le(&b, 1); gm_buf_u32le(&b, 3);
    gm_buf_u16le(&b, 0x8769); gm_buf_u16le(&b, 4); gm_buf_u32le(&b, 1); gm_buf_u32le(&b, 38);
    gm_buf_u32le(&b, 0);
    /* ExifIFD at 38: MakerNote at 56 */
    uint32_t mn_size = 14 + 2 + 2 * 12 + 4 + 16;
    gm_buf_u16le(&b, 1);
    gm_buf_u16le(&b, 0x927C); gm_buf_u16le(&b, 7); gm_buf_u32le(&b, mn_size); gm_buf_u32le(&b, 56);
    gm_buf_u32le(&b, 0);
    /* maker note (always big-endian; offsets from its start) */
    gm_buf_put(&b, "Apple iOS\0\0\1MM", 14);
    gm_buf_u16be(&b, with48 ? 2 : 1);
    gm_buf_u16be(&b, 0x0021); gm_buf_u16be(&b, 10); gm_buf_u32be(&b, 1); gm_buf_u32be(&b, 44);
    if (with48) {
        gm_buf_u16be(&b, 0x0030); gm_buf_u16be(&b, 10); gm_buf_u32be(&b, 1); gm_buf_u32be(&b, 52);
    } else {
        gm_buf_put(&b, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);
    }
    gm_buf_u32be(&b, 0);
    gm_buf_u32be(&b, (uint32_t)n33); gm_buf_u32be(&b, (uint32_t)d33);
    gm_buf_u32be(&b, (uint32_t)n48); gm_buf_u32be(&b, (uint32_t)d48);
    return gm_buf_take(&b, size);
}

static void test_apple(void)
{
    /* FORMATS 5.3 table */
    CHECK_NEAR(log2(gm_apple_headroom(0.8432090282, 0)), 1.8, 1e-12);
    CHECK_NEAR(log2(gm_apple_headroom(1.5189, 0)), 3.0, 1e-12);
    CHECK_NEAR(log2(gm_apple_headroom(1.0100, 0.003041)), 2.78713, 1e-5);
    CHECK_NEAR(log2(gm_apple_headroom(0.5, 0.02)), -0.101 * 0.02 + 1.601, 1e-12);
    CHECK_NEAR(gm_apple_headroom(0.5, 20), 1.0, 0);    /* max(stops, 0) clamp */
    CHECK_NEAR(gm_apple_headroom(2.0, 8.0), 1.0, 0);

    size_t n;
    uint8_t *t = apple_exif(3, 2, 1, 1000, true, &n);   /* 1.5, 0.001 -> 3 - 0.07 stops */
    gm_exif_facts e;
    gm_exif_read(t, n, &e);
    CHECK_INT(e.orientation, 3);
    CHECK(e.has_maker33);
    CHECK(e.has_maker48);
    CHECK_NEAR(e.maker33, 1.5, 0);
    CHECK_NEAR(e.maker48, 0.001, 1e-15);
    CHECK(e.has_apple_headroom);
    CHECK_NEAR(log2(e.apple_headroom), 2.93, 1e-12);
    free(t);
    t = apple_exif(-1, 2, 0, 1, false, &n);             /* tag 33 only: 48 counts as 0 */
    gm_exif_read(t, n, &e);
    CHECK(!e.has_maker48);
    CHECK_NEAR(log2(e.apple_headroom), 1.8, 1e-12);
    free(t);
    t = apple_exif(3, 0, 1, 0, true, &n);                /* zero denominators: unusable */
    gm_exif_read(t, n, &e);
    CHECK(!e.has_apple_headroom);
    /* truncations never read out of bounds */
    for (size_t k = 0; k < n; k++)
        gm_exif_read(t, k, &e);
    free(t);
}

static bool same_meta(const gainmap_metadata *a, const gainmap_metadata *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

static void test_file_invariance(void)
{
    /* reference: default order, big-endian MPF, attribute XMP */
    spec s = default_spec();
    gainmap_status st;
    gainmap_file *ref = open_spec(&s, &st);
    CHECK_INT(st, GAINMAP_OK);
    if (!ref)
        return;
    const gainmap_info *ri = gainmap_file_info(ref);
    CHECK(ri->has_gainmap);
    CHECK_INT(ri->meta_source, GAINMAP_META_XMP);
    check_xmp_values(&ri->meta);
    CHECK_INT(ri->base_width, 64);
    CHECK_INT(ri->base_height, 32);
    CHECK_INT(ri->map_width, 16);
    CHECK_INT(ri->map_height, 8);
    CHECK_INT(ri->map_components, 1);
    CHECK_INT(ri->locator, GAINMAP_LOCATOR_MPF);
    CHECK_INT(ri->map_offset, ri->base_size);
    CHECK_INT(ri->orientation, 6);
    CHECK_INT(ri->dialects, GAINMAP_DIALECT_HDRGM_XMP | GAINMAP_DIALECT_GCONTAINER | GAINMAP_DIALECT_MPF);
    const uint8_t *icc;
    size_t icc_size;
    CHECK_INT(gainmap_file_base_icc(ref, &icc, &icc_size), GAINMAP_OK);
    CHECK(icc_size == 10 && memcmp(icc, "HELLOWORLD", 10) == 0);
    CHECK(has_issue(ref, "xmp-only"));
    CHECK(!has_issue(ref, "mpf-primary-size"));
    CHECK(!has_issue(ref, "gcontainer-length"));

    /* every marker order x both MPF byte orders x four XMP forms */
    int perm[K_COUNT] = {0, 1, 2, 3, 4, 5};
    int variants = 0, mismatches = 0;
    int c[K_COUNT] = {0};
    for (int k = 0;;) {   /* Heap's algorithm */
        for (int be = 0; be < 2; be++) {
            for (int form = 0; form < 4; form++) {
                spec v = s;
                memcpy(v.order, perm, sizeof perm);
                v.mpf_be = be;
                v.xmp_form = form;
                gainmap_file *f = open_spec(&v, &st);
                variants++;
                const gainmap_info *fi = gainmap_file_info(f);
                if (!f || !fi->has_gainmap || !same_meta(&fi->meta, &ri->meta) || fi->map_width != 16 ||
                    fi->locator != GAINMAP_LOCATOR_MPF || fi->orientation != 6 || fi->dialects != ri->dialects ||
                    gainmap_file_issues(f, NULL) != gainmap_file_issues(ref, NULL) || f->icc_size != 10)
                    mismatches++;
                gainmap_file_close(f);
            }
        }
        while (k < K_COUNT && c[k] >= k) {
            c[k] = 0;
            k++;
        }
        if (k >= K_COUNT)
            break;
        int j = (k % 2) ? c[k] : 0;
        int tmp = perm[j];
        perm[j] = perm[k];
        perm[k] = tmp;
        c[k]++;
        k = 0;
    }
    CHECK_INT(variants, 720 * 8);
    CHECK_INT(mismatches, 0);
    gainmap_file_close(ref);
}

static gainmap_file *open_mem(const uint8_t *d, size_t n)
{
    gainmap_file *f = NULL;
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_status st = gainmap_file_open_memory(ctx, d, n, &f);
    if (st != GAINMAP_OK)
        fprintf(stderr, "open failed: %s\n", gainmap_last_error(ctx));
    gainmap_ctx_free(ctx);
    return f;
}

/* Offset of the MPF payload ("MPF\0") in a built file. */
static size_t mpf_payload_offset(const uint8_t *d, size_t n)
{
    gm_jpeg_layout l;
    size_t at = 0;
    if (gm_jpeg_scan(NULL, d, n, 0, &l) == GAINMAP_OK) {
        long i = gm_jpeg_find(&l, d, 0xE2, GM_MPF_ID, GM_MPF_ID_LEN, 0);
        if (i >= 0)
            at = l.segs[i].payload;
        gm_jpeg_layout_free(&l);
    }
    return at;
}

static gm_mpf_entry read_entry(const uint8_t *d, size_t n, int k)
{
    gm_mpf m;
    memset(&m, 0, sizeof m);
    size_t at = mpf_payload_offset(d, n);
    gm_mpf_parse(NULL, d + at, 86, at, &m);
    return m.entries[k];
}

static void put32(uint8_t *p, bool be, uint32_t v)
{
    if (be) {
        p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
    } else {
        p[3] = (uint8_t)(v >> 24); p[2] = (uint8_t)(v >> 16); p[1] = (uint8_t)(v >> 8); p[0] = (uint8_t)v;
    }
}

static void test_file_dialects(void)
{
    gainmap_status st;
    /* ISO + XMP: ISO wins; the values agree so no mismatch issue */
    spec s = default_spec();
    s.iso = true;
    gainmap_file *f = open_spec(&s, &st);
    CHECK_INT(st, GAINMAP_OK);
    const gainmap_info *in = gainmap_file_info(f);
    CHECK_INT(in->meta_source, GAINMAP_META_ISO21496);
    CHECK_INT(in->dialects & GAINMAP_DIALECT_ISO21496, GAINMAP_DIALECT_ISO21496);
    check_xmp_values(&in->meta);
    CHECK(!has_issue(f, "xmp-iso-mismatch"));
    CHECK(!has_issue(f, "xmp-only"));
    CHECK(!has_issue(f, "iso-only"));
    gainmap_file_close(f);

    /* ISO and XMP disagree on GainMapMax: ISO (14/4) is used and the mismatch reported */
    {
        size_t n0;
        uint8_t *d0 = build(&s, &n0);
        size_t urn = 0;
        for (size_t k = n0 - 1; k > 0 && !urn; k--)   /* the map's ISO block is the last one */
            if (k + GM_ISO_ID_LEN <= n0 && !memcmp(d0 + k, GM_ISO_ID, GM_ISO_ID_LEN) &&
                k + GM_ISO_ID_LEN + 61 <= n0)
                urn = k;
        CHECK(urn != 0);
        uint8_t *maxn = d0 + urn + GM_ISO_ID_LEN + 4 + 1 + 16 + 8;
        CHECK_INT(gm_be32(maxn), 13);
        maxn[3] = 14;
        gainmap_file *g = open_mem(d0, n0);
        CHECK(g && has_issue(g, "xmp-iso-mismatch"));
        CHECK_INT(gainmap_file_info(g)->meta.gain_map_max[0].n, 14);
        CHECK_INT(gainmap_file_info(g)->meta_source, GAINMAP_META_ISO21496);
        const gainmap_issue *is;
        size_t ni = gainmap_file_issues(g, &is);
        for (size_t k = 0; k < ni; k++)
            if (!strcmp(is[k].code, "xmp-iso-mismatch"))
                CHECK_STR(is[k].message, "XMP and ISO 21496-1 metadata disagree on GainMapMax (every channel): "
                                         "XMP 3.25, ISO 3.5; the ISO value is used");
        gainmap_file_close(g);
        free(d0);
    }

    /* ISO only */
    s.map_xmp = false;
    f = open_spec(&s, &st);
    in = gainmap_file_info(f);
    CHECK(in->has_gainmap);
    CHECK_INT(in->meta_source, GAINMAP_META_ISO21496);
    CHECK(has_issue(f, "iso-only"));
    gainmap_file_close(f);

    /* no MPF: GContainer locates the map */
    s = default_spec();
    size_t n;
    uint8_t *d = build(&s, &n);
    size_t mpf = mpf_payload_offset(d, n);
    d[mpf] = 'X';
    f = open_mem(d, n);
    in = gainmap_file_info(f);
    CHECK(in->has_gainmap);
    CHECK_INT(in->locator, GAINMAP_LOCATOR_GCONTAINER);
    CHECK(has_issue(f, "no-mpf"));
    CHECK_INT(in->dialects & GAINMAP_DIALECT_MPF, 0);
    gainmap_file_close(f);
    /* neither MPF nor GContainer: found by scanning after the primary's EOI */
    s.gcontainer = false;
    free(d);
    d = build(&s, &n);
    d[mpf_payload_offset(d, n)] = 'X';
    f = open_mem(d, n);
    in = gainmap_file_info(f);
    CHECK(in->has_gainmap);
    CHECK_INT(in->locator, GAINMAP_LOCATOR_SCAN);
    CHECK(has_issue(f, "located-by-scan"));
    CHECK(has_issue(f, "no-gcontainer"));
    gainmap_file_close(f);
    free(d);

    /* MPF with a wrong primary size, absolute offsets, and disagreement with GContainer */
    for (int be = 0; be < 2; be++) {
        s = default_spec();
        s.mpf_be = be;
        d = build(&s, &n);
        mpf = mpf_payload_offset(d, n);
        size_t tiff = mpf + 4;
        const gm_mpf_entry e = read_entry(d, n, 1);
        uint32_t psize = (uint32_t)(tiff + e.offset);
        put32(d + tiff + 50 + 4, be, psize + 7);   /* entry 1 size */
        f = open_mem(d, n);
        CHECK(has_issue(f, "mpf-primary-size"));
        CHECK_INT(gainmap_file_info(f)->locator, GAINMAP_LOCATOR_MPF);
        gainmap_file_close(f);
        put32(d + tiff + 50 + 4, be, psize);
        put32(d + tiff + 66 + 8, be, psize);       /* entry 2 offset from the file start */
        f = open_mem(d, n);
        in = gainmap_file_info(f);
        CHECK(in->has_gainmap);
        CHECK_INT(in->locator, GAINMAP_LOCATOR_MPF);
        CHECK_INT(in->map_offset, psize);
        CHECK(has_issue(f, "mpf-offset-base"));
        CHECK(!has_issue(f, "mpf-gcontainer-mismatch"));
        gainmap_file_close(f);
        /* a second copy of the map appended; MPF points at it, GContainer at the first */
        size_t msize = n - psize;
        uint8_t *d2 = malloc(n + msize);
        memcpy(d2, d, n);
        memcpy(d2 + n, d + psize, msize);
        put32(d2 + tiff + 66 + 8, be, (uint32_t)(n - tiff));
        f = open_mem(d2, n + msize);
        in = gainmap_file_info(f);
        CHECK_INT(in->map_offset, n);
        CHECK(has_issue(f, "mpf-gcontainer-mismatch"));
        gainmap_file_close(f);
        /* MPF offset pointing nowhere: GContainer takes over */
        put32(d2 + tiff + 66 + 8, be, 3);
        f = open_mem(d2, n + msize);
        in = gainmap_file_info(f);
        CHECK_INT(in->locator, GAINMAP_LOCATOR_GCONTAINER);
        CHECK_INT(in->map_offset, psize);
        CHECK(has_issue(f, "mpf-offset-wrong"));
        gainmap_file_close(f);
        free(d2);
        free(d);
    }

    /* trailing bytes; GContainer length off by one */
    s = default_spec();
    s.trailing = 5;
    f = open_spec(&s, &st);
    CHECK(has_issue(f, "trailing-data"));
    CHECK(gainmap_file_info(f)->has_gainmap);
    gainmap_file_close(f);

    /* a second image with no gain-map metadata and nothing announcing one (a stereo MPO) */
    s = default_spec();
    s.map_xmp = false;
    s.gcontainer = false;
    d = build(&s, &n);
    /* drop hdrgm:Version from the primary by renaming the namespace URI */
    uint8_t *hit = NULL;
    for (size_t k = 0; k + 12 <= n && !hit; k++)
        if (!memcmp(d + k, "hdr-gain-map", 12))
            hit = d + k;
    CHECK(hit != NULL);
    if (hit)
        memcpy(hit, "hdr-gain-mop", 12);
    f = open_mem(d, n);
    in = gainmap_file_info(f);
    CHECK(!in->has_gainmap);
    CHECK_INT(in->map_size, 0);
    CHECK(has_issue(f, "no-gainmap"));
    const uint8_t *ms;
    size_t msz;
    CHECK_INT(gainmap_file_map_stream(f, &ms, &msz), GAINMAP_ERR_NO_GAINMAP);
    gainmap_file_close(f);
    free(d);

    /* hdrgm values only in the primary (imazen style): rejected with an issue */
    s = default_spec();
    s.map_xmp = false;
    s.gcontainer = true;
    d = build(&s, &n);
    {
        gm_jpeg_layout l;
        CHECK_INT(gm_jpeg_scan(NULL, d, n, 0, &l), GAINMAP_OK);
        gm_buf b;
        gm_buf_init(&b);
        gm_buf_put(&b, d, 2);
        const char *x = map_xmp(0);
        seg_id(&b, 0xE1, GM_XMP_ID, GM_XMP_ID_LEN, x, strlen(x));
        gm_buf_put(&b, d + 2, n - 2);   /* the old MPF offsets stay relative, so still valid */
        gm_jpeg_layout_free(&l);
        size_t n2;
        uint8_t *d2 = gm_buf_take(&b, &n2);
        f = open_mem(d2, n2);
        in = gainmap_file_info(f);
        CHECK(!in->has_gainmap);
        CHECK(has_issue(f, "hdrgm-in-primary"));
        gainmap_file_close(f);
        free(d2);
    }
    free(d);

    /* not JPEG, HEIF */
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *g = NULL;
    /* a HEIF header goes to the HEIF reader, which finds this one cut short */
    CHECK_INT(gainmap_file_open_memory(ctx, (const uint8_t *)"\0\0\0\x18" "ftypheic\0\0\0\0", 16, &g),
              GAINMAP_ERR_TRUNCATED);
    CHECK_STR(gainmap_last_error(ctx), "'ftyp' box at offset 0 claims 24 bytes but only 16 remain");
    gainmap_clear_error(ctx);
    CHECK_INT(gainmap_file_open_memory(ctx, (const uint8_t *)"GIF89a", 6, &g), GAINMAP_ERR_FORMAT);
    CHECK_STR(gainmap_last_error(ctx), "not a JPEG or HEIF file");
    CHECK(g == NULL);
    gainmap_ctx_free(ctx);
}

int main(void)
{
    RUN_TEST(test_walker);
    RUN_TEST(test_mpf_both_orders);
    RUN_TEST(test_xmp_forms);
    RUN_TEST(test_iso);
    RUN_TEST(test_apple);
    RUN_TEST(test_file_invariance);
    RUN_TEST(test_file_dialects);
    TEST_SUMMARY();
}

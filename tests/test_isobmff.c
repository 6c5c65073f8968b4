/* test_isobmff.c - the ISOBMFF box reader/writer on hand-built boxes, and
 * the HEIF item model on small files built with the writer. */
#include "check.h"
#include "internal.h"
#include "support/testutil.h"

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void test_box_sizes(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    /* plain 32-bit size */
    uint8_t a[16] = {0, 0, 0, 16, 'f', 'r', 'e', 'e', 1, 2, 3, 4, 5, 6, 7, 8};
    gm_reader r;
    gm_box b;
    gm_rd_init(&r, a, sizeof a);
    CHECK_INT(gm_box_read(ctx, &r, &b), GAINMAP_OK);
    CHECK_INT(b.type, GM_4CC('f', 'r', 'e', 'e'));
    CHECK_INT(b.size, 16);
    CHECK_INT(b.header_size, 8);
    CHECK_INT(b.body.size, 8);
    CHECK_INT(b.body.data[0], 1);
    CHECK_INT(r.pos, 16);
    CHECK(!b.large && !b.to_end);

    /* 64-bit largesize */
    uint8_t l[24] = {0, 0, 0, 1, 'w', 'i', 'd', 'e', 0, 0, 0, 0, 0, 0, 0, 24, 9, 9, 9, 9, 9, 9, 9, 7};
    gm_rd_init(&r, l, sizeof l);
    CHECK_INT(gm_box_read(ctx, &r, &b), GAINMAP_OK);
    CHECK(b.large);
    CHECK_INT(b.size, 24);
    CHECK_INT(b.header_size, 16);
    CHECK_INT(b.body.size, 8);
    CHECK_INT(b.body.data[7], 7);

    /* size 0: to the end of the parent, after a first box */
    uint8_t z[28] = {0, 0, 0, 8, 'f', 'r', 'e', 'e', 0, 0, 0, 0, 'm', 'd', 'a', 't'};
    gm_rd_init(&r, z, sizeof z);
    CHECK_INT(gm_box_read(ctx, &r, &b), GAINMAP_OK);
    CHECK_INT(gm_box_read(ctx, &r, &b), GAINMAP_OK);
    CHECK(b.to_end);
    CHECK_INT(b.offset, 8);
    CHECK_INT(b.size, 20);
    CHECK_INT(b.body.size, 12);
    CHECK_INT(gm_rd_left(&r), 0);

    /* uuid user type */
    uint8_t u[28] = {0, 0, 0, 28, 'u', 'u', 'i', 'd'};
    for (int i = 0; i < 16; i++)
        u[8 + i] = (uint8_t)(0xA0 + i);
    gm_rd_init(&r, u, sizeof u);
    CHECK_INT(gm_box_read(ctx, &r, &b), GAINMAP_OK);
    CHECK_INT(b.header_size, 24);
    CHECK_INT(b.body.size, 4);
    CHECK_INT(b.uuid[15], 0xAF);
    gainmap_ctx_free(ctx);
}

static void test_box_errors(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gm_reader r;
    gm_box b;
    uint8_t a[20] = {0, 0, 0, 100, 'm', 'd', 'a', 't'};
    /* header cut short */
    gm_rd_init(&r, a, 6);
    CHECK_INT(gm_box_read(ctx, &r, &b), GAINMAP_ERR_TRUNCATED);
    CHECK_STR(gainmap_last_error(ctx), "box header at offset 0 is cut short (6 bytes left)");
    gainmap_clear_error(ctx);
    /* size past the end */
    gm_rd_init(&r, a, sizeof a);
    CHECK_INT(gm_box_read(ctx, &r, &b), GAINMAP_ERR_TRUNCATED);
    CHECK_STR(gainmap_last_error(ctx), "'mdat' box at offset 0 claims 100 bytes but only 20 remain");
    gainmap_clear_error(ctx);
    /* size smaller than the header */
    put32(a, 4);
    gm_rd_init(&r, a, sizeof a);
    CHECK_INT(gm_box_read(ctx, &r, &b), GAINMAP_ERR_CORRUPT);
    CHECK_CONTAINS(gainmap_last_error(ctx), "has size 4, smaller than its header");
    gainmap_clear_error(ctx);
    /* largesize smaller than its 16-byte header, and cut-short largesize */
    uint8_t l[16] = {0, 0, 0, 1, 'w', 'i', 'd', 'e', 0, 0, 0, 0, 0, 0, 0, 12};
    gm_rd_init(&r, l, sizeof l);
    CHECK_INT(gm_box_read(ctx, &r, &b), GAINMAP_ERR_CORRUPT);
    gainmap_clear_error(ctx);
    gm_rd_init(&r, l, 12);
    CHECK_INT(gm_box_read(ctx, &r, &b), GAINMAP_ERR_TRUNCATED);
    CHECK_CONTAINS(gainmap_last_error(ctx), "64-bit size is cut short");
    gainmap_clear_error(ctx);
    /* uuid without its 16 bytes */
    uint8_t u[12] = {0, 0, 0, 12, 'u', 'u', 'i', 'd'};
    gm_rd_init(&r, u, sizeof u);
    CHECK_INT(gm_box_read(ctx, &r, &b), GAINMAP_ERR_TRUNCATED);
    gainmap_clear_error(ctx);
    /* FullBox fields */
    uint8_t f[12] = {0, 0, 0, 12, 'p', 'i', 't', 'm', 2, 0xAB, 0xCD, 0xEF};
    gm_rd_init(&r, f, sizeof f);
    CHECK_INT(gm_box_read(ctx, &r, &b), GAINMAP_OK);
    CHECK(gm_box_full(&b));
    CHECK_INT(b.version, 2);
    CHECK_INT(b.flags, 0xABCDEF);
    CHECK_INT(gm_rd_left(&b.body), 0);
    put32(f, 10);
    gm_rd_init(&r, f, 10);
    CHECK_INT(gm_box_read(ctx, &r, &b), GAINMAP_OK);
    CHECK(!gm_box_full(&b));
    char t[5];
    CHECK_STR(gm_fourcc_str(0x41420a43, t), "AB.C");
    gainmap_ctx_free(ctx);
}

/* A child that claims more than its parent holds is caught even though
 * the bytes after the parent exist. */
static void test_children_bounded(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    uint8_t d[40] = {0};
    put32(d, 24);
    memcpy(d + 4, "iprp", 4);
    put32(d + 8, 8);
    memcpy(d + 12, "ipco", 4);
    put32(d + 16, 20);   /* 20 > the 8 bytes left in iprp */
    memcpy(d + 20, "ispe", 4);
    gm_reader r;
    gm_rd_init(&r, d, sizeof d);
    gm_box_iter top, child;
    gm_box_iter_init(&top, r, 0);
    gm_box b, c;
    CHECK_INT(gm_box_next(ctx, &top, &b), 1);
    CHECK_INT(b.type, GM_4CC('i', 'p', 'r', 'p'));
    gm_box_iter_children(&top, &b, &child);
    CHECK_INT(child.depth, 1);
    CHECK_INT(gm_box_next(ctx, &child, &c), 1);
    CHECK_INT(c.type, GM_4CC('i', 'p', 'c', 'o'));
    CHECK_INT(gm_box_next(ctx, &child, &c), -1);
    CHECK_INT(child.status, GAINMAP_ERR_TRUNCATED);
    CHECK_STR(gainmap_last_error(ctx), "'ispe' box at offset 8 claims 20 bytes but only 8 remain");
    /* after an error the iterator stays stopped */
    CHECK_INT(gm_box_next(ctx, &child, &c), -1);
    gainmap_ctx_free(ctx);
}

static int count_visit(void *user, const gm_box *box, unsigned depth)
{
    (void)box;
    (void)depth;
    (*(int *)user)++;
    return 1;
}

static void test_limits(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    /* 40 nested 'moov' boxes: the walker stops at GM_BOX_MAX_DEPTH */
    gm_buf b;
    gm_buf_init(&b);
    size_t at[40];
    for (int i = 0; i < 40; i++)
        at[i] = gm_boxw_open(&b, GM_4CC('m', 'o', 'o', 'v'));
    for (int i = 39; i >= 0; i--)
        gm_boxw_close(&b, at[i]);
    CHECK(!b.bad);
    CHECK_INT(b.size, 320);
    int visits = 0;
    CHECK_INT(gm_box_walk(ctx, b.data, b.size, count_visit, &visits), GAINMAP_ERR_LIMIT);
    CHECK_STR(gainmap_last_error(ctx), "boxes are nested more than 32 deep");
    CHECK_INT(visits, 33);
    gainmap_clear_error(ctx);
    /* 20 levels are fine */
    visits = 0;
    CHECK_INT(gm_box_walk(ctx, b.data + 160, 160, count_visit, &visits), GAINMAP_OK);
    CHECK_INT(visits, 20);
    gm_buf_free(&b);

    /* more than GM_BOX_MAX_CHILDREN boxes in one parent */
    size_t n = GM_BOX_MAX_CHILDREN + 1;
    uint8_t *many = calloc(n, 8);
    for (size_t i = 0; i < n; i++) {
        put32(many + 8 * i, 8);
        memcpy(many + 8 * i + 4, "free", 4);
    }
    visits = 0;
    CHECK_INT(gm_box_walk(ctx, many, n * 8, count_visit, &visits), GAINMAP_ERR_LIMIT);
    CHECK_STR(gainmap_last_error(ctx), "a box holds more than 100000 child boxes");
    CHECK_INT(visits, GM_BOX_MAX_CHILDREN);
    gainmap_clear_error(ctx);
    visits = 0;
    CHECK_INT(gm_box_walk(ctx, many, (n - 1) * 8, count_visit, &visits), GAINMAP_OK);
    CHECK_INT(visits, GM_BOX_MAX_CHILDREN);
    free(many);
    gainmap_ctx_free(ctx);
}

static void test_writer_round_trip(void)
{
    gm_buf b;
    gm_buf_init(&b);
    size_t meta = gm_boxw_open_full(&b, GM_4CC('m', 'e', 't', 'a'), 0, 0);
    size_t pitm = gm_boxw_open_full(&b, GM_4CC('p', 'i', 't', 'm'), 1, 0x000102);
    gm_buf_u32be(&b, 77);
    gm_boxw_close(&b, pitm);
    gm_boxw_raw(&b, GM_4CC('i', 'd', 'a', 't'), "abc", 3);
    gm_boxw_close(&b, meta);
    static const uint8_t expect[] = {0, 0, 0, 39, 'm', 'e', 't', 'a', 0, 0, 0, 0,          /* meta */
                                     0, 0, 0, 16, 'p', 'i', 't', 'm', 1, 0, 1, 2, 0, 0, 0, 77, /* pitm */
                                     0, 0, 0, 11, 'i', 'd', 'a', 't', 'a', 'b', 'c'};
    CHECK_INT(b.size, sizeof expect);
    CHECK(b.size == sizeof expect && memcmp(b.data, expect, sizeof expect) == 0);
    /* read it back through the walker */
    gainmap_ctx *ctx = gainmap_ctx_new();
    gm_reader r;
    gm_rd_init(&r, b.data, b.size);
    gm_box m, c;
    CHECK_INT(gm_box_read(ctx, &r, &m), GAINMAP_OK);
    CHECK(gm_box_full(&m));
    gm_box_iter it;
    gm_box_iter_init(&it, m.body, 1);
    CHECK_INT(gm_box_next(ctx, &it, &c), 1);
    CHECK(gm_box_full(&c));
    CHECK_INT(c.version, 1);
    CHECK_INT(c.flags, 0x102);
    CHECK_INT(gm_rd_u32be(&c.body), 77);
    CHECK_INT(gm_box_next(ctx, &it, &c), 1);
    CHECK_INT(c.body.size, 3);
    CHECK_INT(gm_box_next(ctx, &it, &c), 0);
    /* a bad close marks the buffer */
    gm_boxw_close(&b, b.size - 2);
    CHECK(b.bad);
    gm_buf_free(&b);
    gainmap_ctx_free(ctx);
}

/* ------------------------------------------------------------------ */
/* Small HEIF files built here to reach the parser's less common paths */
/* ------------------------------------------------------------------ */

typedef struct synth {
    int iloc_version;      /* 0, 1 or 2 */
    int wide_ipma;         /* ipma flags 1: 16-bit indices */
    int ipma_version;      /* 0 or 1 */
    int iref_version;      /* 0 or 1 */
    int meta_last;         /* mdat before meta */
    int idat;              /* tmap payload in idat (construction method 1) */
    int altr_order;        /* 0: [tmap, base]; 1: [base, tmap]; 2: no grpl */
    uint8_t tmap_version;
    int extra;             /* bytes after the ISO payload */
} synth;

static const uint8_t iso61[61] = {0, 0, 0, 0, 0x40,             /* versions, flags */
                                  0, 0, 0, 0, 0, 0, 0, 1,       /* base headroom 0/1 */
                                  0, 0, 0, 3, 0, 0, 0, 2,       /* alternate 3/2 */
                                  0, 0, 0, 0, 0, 0, 0, 1,       /* min 0/1 */
                                  0, 0, 0, 3, 0, 0, 0, 2,       /* max 3/2 */
                                  0, 0, 0, 1, 0, 0, 0, 1,       /* gamma 1/1 */
                                  0, 0, 0, 1, 0, 0, 0, 64,      /* base offset 1/64 */
                                  0, 0, 0, 1, 0, 0, 0, 64};     /* alternate offset 1/64 */

/* Items: 1 base 'hvc1' (640x480, irot 1), 2 gain map 'hvc1' hidden, 3 'tmap'. */
static uint8_t *build(const synth *s, size_t *size)
{
    gm_buf b;
    gm_buf_init(&b);
    size_t box = gm_boxw_open(&b, GM_4CC('f', 't', 'y', 'p'));
    gm_buf_str(&b, "heic");
    gm_buf_u32be(&b, 0);
    gm_buf_str(&b, "mif1heictmap");
    gm_boxw_close(&b, box);
    uint8_t payload[80];
    payload[0] = s->tmap_version;
    memcpy(payload + 1, iso61, 61);
    size_t plen = 62 + (size_t)s->extra;
    memset(payload + 62, 0xEE, (size_t)s->extra);
    static const uint8_t coded[2][6] = {{'B', 'A', 'S', 'E', '!', '!'}, {'M', 'A', 'P', '!', '!', '!'}};
    size_t mdat_at = 0;
    if (s->meta_last) {
        mdat_at = b.size;
        box = gm_boxw_open(&b, GM_4CC('m', 'd', 'a', 't'));
        gm_buf_put(&b, coded, 12);
        if (!s->idat)
            gm_buf_put(&b, payload, plen);
        gm_boxw_close(&b, box);
    }
    size_t meta = gm_boxw_open_full(&b, GM_4CC('m', 'e', 't', 'a'), 0, 0);
    box = gm_boxw_open_full(&b, GM_4CC('h', 'd', 'l', 'r'), 0, 0);
    gm_buf_u32be(&b, 0);
    gm_buf_str(&b, "pict");
    gm_buf_put(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0", 13);
    gm_boxw_close(&b, box);
    box = gm_boxw_open_full(&b, GM_4CC('p', 'i', 't', 'm'), 0, 0);
    gm_buf_u16be(&b, 1);
    gm_boxw_close(&b, box);
    box = gm_boxw_open_full(&b, GM_4CC('i', 'i', 'n', 'f'), 1, 0);
    gm_buf_u32be(&b, 3);
    static const char *types[3] = {"hvc1", "hvc1", "tmap"};
    for (int i = 0; i < 3; i++) {
        size_t infe = gm_boxw_open_full(&b, GM_4CC('i', 'n', 'f', 'e'), i == 2 ? 3 : 2, i == 1 ? 1 : 0);
        if (i == 2)
            gm_buf_u32be(&b, 3);
        else
            gm_buf_u16be(&b, (uint16_t)(i + 1));
        gm_buf_u16be(&b, 0);
        gm_buf_str(&b, types[i]);
        gm_buf_put(&b, i == 1 ? "GMap" : "", i == 1 ? 5 : 1);
        gm_boxw_close(&b, infe);
    }
    gm_boxw_close(&b, box);
    /* iref: dimg 3 -> [1, 2], auxl 2 -> [1] */
    box = gm_boxw_open_full(&b, GM_4CC('i', 'r', 'e', 'f'), (uint8_t)s->iref_version, 0);
    size_t ref = gm_boxw_open(&b, GM_4CC('d', 'i', 'm', 'g'));
    uint32_t ids[3] = {3, 1, 2};
    for (int i = 0; i < 3; i++) {
        if (s->iref_version)
            gm_buf_u32be(&b, ids[i]);
        else
            gm_buf_u16be(&b, (uint16_t)ids[i]);
        if (i == 0)
            gm_buf_u16be(&b, 2);
    }
    gm_boxw_close(&b, ref);
    ref = gm_boxw_open(&b, GM_4CC('a', 'u', 'x', 'l'));
    for (int i = 0; i < 3; i++) {
        uint32_t v = i == 0 ? 2 : 1;
        if (s->iref_version && i != 1)
            gm_buf_u32be(&b, v);
        else
            gm_buf_u16be(&b, (uint16_t)v);
    }
    gm_boxw_close(&b, ref);
    gm_boxw_close(&b, box);
    /* iprp: 1 ispe 640x480, 2 irot 1, 3 colr nclx 12/13/1 full, 4 auxC Apple, 5 ispe 320x240 */
    box = gm_boxw_open(&b, GM_4CC('i', 'p', 'r', 'p'));
    size_t ipco = gm_boxw_open(&b, GM_4CC('i', 'p', 'c', 'o'));
    size_t p = gm_boxw_open_full(&b, GM_4CC('i', 's', 'p', 'e'), 0, 0);
    gm_buf_u32be(&b, 640);
    gm_buf_u32be(&b, 480);
    gm_boxw_close(&b, p);
    gm_boxw_raw(&b, GM_4CC('i', 'r', 'o', 't'), "\x01", 1);
    gm_boxw_raw(&b, GM_4CC('c', 'o', 'l', 'r'), "nclx\0\x0c\0\x0d\0\x01\x80", 11);
    p = gm_boxw_open_full(&b, GM_4CC('a', 'u', 'x', 'C'), 0, 0);
    gm_buf_put(&b, GM_HEIF_AUX_APPLE, sizeof GM_HEIF_AUX_APPLE);
    gm_boxw_close(&b, p);
    p = gm_boxw_open_full(&b, GM_4CC('i', 's', 'p', 'e'), 0, 0);
    gm_buf_u32be(&b, 320);
    gm_buf_u32be(&b, 240);
    gm_boxw_close(&b, p);
    gm_boxw_close(&b, ipco);
    size_t ipma = gm_boxw_open_full(&b, GM_4CC('i', 'p', 'm', 'a'), (uint8_t)s->ipma_version, s->wide_ipma ? 1 : 0);
    gm_buf_u32be(&b, 3);
    static const uint8_t assoc[3][4] = {{1, 2, 3, 0}, {5, 2, 4, 0}, {1, 3, 0, 0}};
    static const uint8_t nassoc[3] = {3, 3, 2};
    for (int i = 0; i < 3; i++) {
        if (s->ipma_version)
            gm_buf_u32be(&b, (uint32_t)(i + 1));
        else
            gm_buf_u16be(&b, (uint16_t)(i + 1));
        gm_buf_u8(&b, nassoc[i]);
        for (int k = 0; k < nassoc[i]; k++) {
            bool essential = assoc[i][k] == 2;
            if (s->wide_ipma)
                gm_buf_u16be(&b, (uint16_t)(assoc[i][k] | (essential ? 0x8000 : 0)));
            else
                gm_buf_u8(&b, (uint8_t)(assoc[i][k] | (essential ? 0x80 : 0)));
        }
    }
    gm_boxw_close(&b, ipma);
    gm_boxw_close(&b, box);
    /* iloc */
    box = gm_boxw_open_full(&b, GM_4CC('i', 'l', 'o', 'c'), (uint8_t)s->iloc_version, 0);
    int v = s->iloc_version;
    gm_buf_u8(&b, v == 2 ? 0x84 : 0x44);           /* offset 8/4, length 4 */
    gm_buf_u8(&b, v >= 1 ? 0x44 : 0x40);           /* base offset 4, index 4 (v1+) */
    if (v < 2)
        gm_buf_u16be(&b, 3);
    else
        gm_buf_u32be(&b, 3);
    size_t patch[3];
    for (int i = 0; i < 3; i++) {
        if (v < 2)
            gm_buf_u16be(&b, (uint16_t)(i + 1));
        else
            gm_buf_u32be(&b, (uint32_t)(i + 1));
        bool in_idat = i == 2 && s->idat;
        if (v >= 1)
            gm_buf_u16be(&b, in_idat ? 1 : 0);
        gm_buf_u16be(&b, 0);
        patch[i] = b.size;
        gm_buf_u32be(&b, 0);   /* base offset, patched */
        gm_buf_u16be(&b, 1);
        if (v >= 1)
            gm_buf_u32be(&b, 0);   /* extent index */
        if (v == 2)
            gm_buf_u32be(&b, 0);   /* high half of the 64-bit offset */
        gm_buf_u32be(&b, 0);
        gm_buf_u32be(&b, (uint32_t)(i == 2 ? plen : 6));
    }
    gm_boxw_close(&b, box);
    if (s->idat)
        gm_boxw_raw(&b, GM_4CC('i', 'd', 'a', 't'), payload, plen);
    if (s->altr_order != 2) {
        box = gm_boxw_open(&b, GM_4CC('g', 'r', 'p', 'l'));
        size_t g = gm_boxw_open_full(&b, GM_4CC('a', 'l', 't', 'r'), 0, 0);
        gm_buf_u32be(&b, 10);
        gm_buf_u32be(&b, 2);
        gm_buf_u32be(&b, s->altr_order ? 1 : 3);
        gm_buf_u32be(&b, s->altr_order ? 3 : 1);
        gm_boxw_close(&b, g);
        gm_boxw_close(&b, box);
    }
    gm_boxw_close(&b, meta);
    if (!s->meta_last) {
        mdat_at = b.size;
        box = gm_boxw_open(&b, GM_4CC('m', 'd', 'a', 't'));
        gm_buf_put(&b, coded, 12);
        if (!s->idat)
            gm_buf_put(&b, payload, plen);
        gm_boxw_close(&b, box);
    }
    gm_buf_patch_u32be(&b, patch[0], (uint32_t)(mdat_at + 8));
    gm_buf_patch_u32be(&b, patch[1], (uint32_t)(mdat_at + 14));
    gm_buf_patch_u32be(&b, patch[2], s->idat ? 0 : (uint32_t)(mdat_at + 20));
    return gm_buf_take(&b, size);
}

static void check_synth(const synth *s)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    size_t size;
    uint8_t *data = build(s, &size);
    gm_heif *h = NULL;
    CHECK_INT(gm_heif_parse(ctx, data, size, &h), GAINMAP_OK);
    if (!h) {
        fprintf(stderr, "  parse: %s\n", gainmap_last_error(ctx));
        free(data);
        gainmap_ctx_free(ctx);
        return;
    }
    CHECK_INT(h->nitems, 3);
    CHECK_INT(h->primary_id, 1);
    CHECK_INT(h->meta_after_mdat, s->meta_last);
    CHECK(gm_heif_has_brand(h, GM_4CC('t', 'm', 'a', 'p')));
    const gm_heif_item *map = gm_heif_item_by_id(h, 2);
    CHECK(map && map->hidden && !strcmp(map->name, "GMap"));
    CHECK_INT(gm_heif_item_by_id(h, 3)->infe_version, 3);
    CHECK_INT(gm_heif_item_by_id(h, 3)->construction_method, s->idat ? 1 : 0);
    const gm_heif_prop *irot = gm_heif_item_prop(h, map, GM_4CC('i', 'r', 'o', 't'), 0);
    CHECK(irot && irot->ok && irot->angle == 1);
    CHECK(map && map->nassoc == 3 && map->assoc[1].essential && !map->assoc[0].essential);
    uint8_t *d;
    size_t n;
    CHECK_INT(gm_heif_item_data(ctx, h, map, 100, &d, &n), GAINMAP_OK);
    CHECK(n == 6 && !memcmp(d, "MAP!!!", 6));
    free(d);
    CHECK_INT(gm_heif_item_data(ctx, h, map, 5, &d, &n), GAINMAP_ERR_LIMIT);
    CHECK_STR(gainmap_last_error(ctx), "item 2 holds 6 bytes (limit 5)");
    gainmap_clear_error(ctx);

    gm_heif_gainmap g;
    gainmap_status st = gm_heif_find_gainmap(ctx, h, &g);
    bool usable = s->altr_order == 0 && s->tmap_version == 0 && s->extra == 0;
    CHECK_INT(st, GAINMAP_OK);
    CHECK_STR(gainmap_last_error(ctx), "");   /* an ignored tmap is an issue, not an error */
    if (usable) {
        CHECK_INT(g.kind, GM_HEIF_GM_TMAP);
        CHECK_INT(g.base_id, 1);
        CHECK_INT(g.map_id, 2);
        CHECK_INT(g.tmap_id, 3);
        CHECK(g.apple);
        CHECK_INT(g.iso_payload_size, 61);
        CHECK(g.has_metadata);
        CHECK_INT(g.metadata.alternate_hdr_headroom.n, 3);
        CHECK_INT(g.metadata.alternate_hdr_headroom.d, 2);
        CHECK_INT(g.metadata.base_offset[0].d, 64);
        CHECK_INT(g.base_width, 640);
        CHECK_INT(g.base_display_width, 480);
        CHECK_INT(g.map_display_height, 320);
        CHECK_INT(g.base_colour.cp, 12);
        CHECK_INT(g.base_colour.tc, 13);
        CHECK_INT(g.base_colour.full_range, 1);
    } else {
        /* the tmap is ignored; its second input is still Apple's aux gain map,
         * but this file has neither XMP nor EXIF to give its headroom */
        CHECK_INT(g.kind, GM_HEIF_GM_APPLE_AUX);
        CHECK_INT(g.map_id, 2);
        CHECK_INT(g.tmap_id, 0);
        CHECK(!g.has_metadata);
        CHECK_INT(g.ignored_tmap_id, 3);
        CHECK_INT(g.nissues, 2);
        CHECK_STR(g.issues[1].code, "apple-no-headroom");
        const char *code = s->altr_order == 1 ? "tmap-not-preferred"
                           : s->altr_order == 2 ? "tmap-not-in-altr"
                           : s->tmap_version ? "tmap-version"
                                             : "tmap-trailing";
        CHECK_STR(g.issues[0].code, code);
    }
    gm_heif_free(h);
    free(data);
    gainmap_ctx_free(ctx);
}

static void test_synthetic_heif(void)
{
    synth base = {0};
    check_synth(&base);
    synth s = base;
    s.iloc_version = 1;
    s.idat = 1;
    check_synth(&s);
    s = base;
    s.iloc_version = 2;
    s.wide_ipma = 1;
    s.ipma_version = 1;
    s.iref_version = 1;
    s.meta_last = 1;
    check_synth(&s);
    s = base;
    s.altr_order = 1;
    check_synth(&s);
    s = base;
    s.altr_order = 2;
    check_synth(&s);
    s = base;
    s.tmap_version = 1;
    check_synth(&s);
    s = base;
    s.extra = 3;
    check_synth(&s);
}

/* Every prefix and many single-byte corruptions of a small file: parse
 * and gain-map search fail cleanly or succeed, never crash (ASan run). */
static void test_truncation_and_corruption(void)
{
    synth s = {0};
    s.iloc_version = 1;
    s.idat = 1;
    size_t size;
    uint8_t *data = build(&s, &size);
    gainmap_ctx *ctx = gainmap_ctx_new();
    int ok = 0, failed = 0, unexplained = 0;
    for (size_t n = 0; n < size; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, data, n);
        gm_heif *h = NULL;
        gainmap_clear_error(ctx);
        gainmap_status st = gm_heif_parse(ctx, copy, n, &h);
        if (st == GAINMAP_OK) {
            gm_heif_gainmap g;
            gm_heif_find_gainmap(ctx, h, &g);
            ok++;
        } else {
            failed++;
            if (!gainmap_last_error(ctx)[0])
                unexplained++;
        }
        gm_heif_free(h);
        free(copy);
    }
    CHECK_INT(ok + failed, (int)size);
    CHECK(failed > (int)size / 2);   /* most prefixes cut the meta box */
    CHECK_INT(unexplained, 0);       /* every failure has a sentence */
    uint32_t seed = 12345;
    int parsed = 0;
    for (int i = 0; i < 3000; i++) {
        uint8_t *copy = malloc(size);
        memcpy(copy, data, size);
        seed = seed * 1103515245u + 12345u;
        size_t at = (seed >> 8) % size;
        seed = seed * 1103515245u + 12345u;
        copy[at] = (uint8_t)(seed >> 16);
        gm_heif *h = NULL;
        gainmap_clear_error(ctx);
        if (gm_heif_parse(ctx, copy, size, &h) == GAINMAP_OK) {
            gm_heif_gainmap g;
            gm_heif_find_gainmap(ctx, h, &g);
            parsed++;
        }
        gm_heif_free(h);
        free(copy);
    }
    CHECK(parsed > 0);
    free(data);
    gainmap_ctx_free(ctx);
}

int main(void)
{
    RUN_TEST(test_box_sizes);
    RUN_TEST(test_box_errors);
    RUN_TEST(test_children_bounded);
    RUN_TEST(test_limits);
    RUN_TEST(test_writer_round_trip);
    RUN_TEST(test_synthetic_heif);
    RUN_TEST(test_truncation_and_corruption);
    TEST_SUMMARY();
}

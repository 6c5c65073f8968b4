/* heif_write.c - HEIF files from a list of items, with our box writer.
 *
 * Layout: ftyp, meta (hdlr, pitm, iinf, iref, iprp, idat, grpl, iloc),
 * mdat.  iloc is written last inside meta and its mdat offsets are
 * back-patched once the size of meta is known.  Also the Apple EXIF maker
 * note (FORMATS.md 5.3) that gain-map HEICs carry. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Property boxes                                                      */
/* ------------------------------------------------------------------ */
void gm_hw_colr_nclx(gm_buf *b, const uint8_t cicp[4])
{
    size_t at = gm_boxw_open(b, GM_4CC('c', 'o', 'l', 'r'));
    gm_buf_u32be(b, GM_4CC('n', 'c', 'l', 'x'));
    gm_buf_u16be(b, cicp[0]);
    gm_buf_u16be(b, cicp[1]);
    gm_buf_u16be(b, cicp[2]);
    gm_buf_u8(b, cicp[3] ? 0x80 : 0);
    gm_boxw_close(b, at);
}

void gm_hw_colr_icc(gm_buf *b, const uint8_t *icc, size_t size)
{
    size_t at = gm_boxw_open(b, GM_4CC('c', 'o', 'l', 'r'));
    gm_buf_u32be(b, GM_4CC('p', 'r', 'o', 'f'));
    gm_buf_put(b, icc, size);
    gm_boxw_close(b, at);
}

void gm_hw_pixi(gm_buf *b, unsigned channels, unsigned depth)
{
    size_t at = gm_boxw_open_full(b, GM_4CC('p', 'i', 'x', 'i'), 0, 0);
    gm_buf_u8(b, (uint8_t)channels);
    for (unsigned c = 0; c < channels; c++)
        gm_buf_u8(b, (uint8_t)depth);
    gm_boxw_close(b, at);
}

void gm_hw_ispe(gm_buf *b, uint32_t width, uint32_t height)
{
    size_t at = gm_boxw_open_full(b, GM_4CC('i', 's', 'p', 'e'), 0, 0);
    gm_buf_u32be(b, width);
    gm_buf_u32be(b, height);
    gm_boxw_close(b, at);
}

void gm_hw_clli(gm_buf *b, uint16_t max_cll, uint16_t max_fall)
{
    size_t at = gm_boxw_open(b, GM_4CC('c', 'l', 'l', 'i'));
    gm_buf_u16be(b, max_cll);
    gm_buf_u16be(b, max_fall);
    gm_boxw_close(b, at);
}

void gm_hw_auxc(gm_buf *b, const char *urn)
{
    size_t at = gm_boxw_open_full(b, GM_4CC('a', 'u', 'x', 'C'), 0, 0);
    gm_buf_put(b, urn, strlen(urn) + 1);
    gm_boxw_close(b, at);
}

void gm_hw_grid(gm_buf *b, uint32_t rows, uint32_t cols, uint32_t width, uint32_t height)
{
    bool wide = width > 0xFFFF || height > 0xFFFF;
    gm_buf_u8(b, 0);                 /* version */
    gm_buf_u8(b, wide ? 1 : 0);      /* flags: 32-bit output size */
    gm_buf_u8(b, (uint8_t)(rows - 1));
    gm_buf_u8(b, (uint8_t)(cols - 1));
    if (wide) {
        gm_buf_u32be(b, width);
        gm_buf_u32be(b, height);
    } else {
        gm_buf_u16be(b, (uint16_t)width);
        gm_buf_u16be(b, (uint16_t)height);
    }
}

/* ------------------------------------------------------------------ */
/* The file                                                            */
/* ------------------------------------------------------------------ */
static bool same_box(const gm_hw_prop *a, const gm_hw_prop *b)
{
    return a->size == b->size && !memcmp(a->box, b->box, a->size);
}

gainmap_status gm_heif_write(gainmap_ctx *ctx, const gm_hw_file *f, uint8_t **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    if (!f->nbrands || !f->items || !f->nitems || f->nitems > GM_HW_MAX_ITEMS || f->nrefs > 8 || f->naltr > 4)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HEIF writer: bad file description");
    for (unsigned i = 0; i < f->nrefs; i++)
        if (f->refs[i].count > (f->refs[i].to_many ? GM_HW_MAX_ITEMS : 4u) || f->refs[i].count == 0)
            return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HEIF writer: bad reference from item %u",
                            f->refs[i].from);
    /* unique property boxes in first-use order; index[i][k] is 1-based */
    const gm_hw_prop **uniq = calloc((size_t)f->nitems * GM_HW_MAX_PROPS, sizeof *uniq);
    uint16_t(*index)[GM_HW_MAX_PROPS] = calloc(f->nitems, sizeof *index);
    if (!uniq || !index) {
        free(uniq);
        free(index);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing the HEIF file");
    }
    unsigned nuniq = 0;
    for (unsigned i = 0; i < f->nitems; i++) {
        const gm_hw_item *it = &f->items[i];
        if (it->nprops > GM_HW_MAX_PROPS || it->id == 0 || it->id > 0xFFFF) {
            free(uniq);
            free(index);
            return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HEIF writer: bad item %u", it->id);
        }
        for (unsigned k = 0; k < it->nprops; k++) {
            unsigned u = 0;
            while (u < nuniq && !same_box(uniq[u], &it->props[k]))
                u++;
            if (u == nuniq)
                uniq[nuniq++] = &it->props[k];
            index[i][k] = (uint16_t)(u + 1);
        }
    }
    /* ipma: 7-bit property indices unless there are more than 127 */
    const bool wide = nuniq > 127;

    gm_buf b;
    gm_buf_init(&b);
    size_t box = gm_boxw_open(&b, GM_4CC('f', 't', 'y', 'p'));
    gm_buf_u32be(&b, f->brands[0]);
    gm_buf_u32be(&b, 0);
    for (unsigned i = 0; i < f->nbrands; i++)
        gm_buf_u32be(&b, f->brands[i]);
    gm_boxw_close(&b, box);

    size_t meta = gm_boxw_open_full(&b, GM_4CC('m', 'e', 't', 'a'), 0, 0);
    box = gm_boxw_open_full(&b, GM_4CC('h', 'd', 'l', 'r'), 0, 0);
    gm_buf_u32be(&b, 0);
    gm_buf_u32be(&b, GM_4CC('p', 'i', 'c', 't'));
    for (int i = 0; i < 3; i++)
        gm_buf_u32be(&b, 0);
    gm_buf_u8(&b, 0);
    gm_boxw_close(&b, box);

    box = gm_boxw_open_full(&b, GM_4CC('p', 'i', 't', 'm'), 0, 0);
    gm_buf_u16be(&b, (uint16_t)f->primary);
    gm_boxw_close(&b, box);

    box = gm_boxw_open_full(&b, GM_4CC('i', 'i', 'n', 'f'), 0, 0);
    gm_buf_u16be(&b, (uint16_t)f->nitems);
    for (unsigned i = 0; i < f->nitems; i++) {
        const gm_hw_item *it = &f->items[i];
        size_t infe = gm_boxw_open_full(&b, GM_4CC('i', 'n', 'f', 'e'), 2, it->hidden ? 1 : 0);
        gm_buf_u16be(&b, (uint16_t)it->id);
        gm_buf_u16be(&b, 0);
        gm_buf_u32be(&b, it->type);
        gm_buf_put(&b, it->name ? it->name : "", strlen(it->name ? it->name : "") + 1);
        if (it->type == GM_4CC('m', 'i', 'm', 'e'))
            gm_buf_put(&b, it->content_type ? it->content_type : "", strlen(it->content_type ? it->content_type : "") + 1);
        gm_boxw_close(&b, infe);
    }
    gm_boxw_close(&b, box);

    if (f->nrefs) {
        box = gm_boxw_open_full(&b, GM_4CC('i', 'r', 'e', 'f'), 0, 0);
        for (unsigned i = 0; i < f->nrefs; i++) {
            const gm_hw_ref *r = &f->refs[i];
            size_t rb = gm_boxw_open(&b, r->type);
            gm_buf_u16be(&b, (uint16_t)r->from);
            gm_buf_u16be(&b, (uint16_t)r->count);
            for (unsigned k = 0; k < r->count; k++)
                gm_buf_u16be(&b, (uint16_t)(r->to_many ? r->to_many[k] : r->to[k]));
            gm_boxw_close(&b, rb);
        }
        gm_boxw_close(&b, box);
    }

    box = gm_boxw_open(&b, GM_4CC('i', 'p', 'r', 'p'));
    size_t ipco = gm_boxw_open(&b, GM_4CC('i', 'p', 'c', 'o'));
    for (unsigned u = 0; u < nuniq; u++)
        gm_buf_put(&b, uniq[u]->box, uniq[u]->size);
    gm_boxw_close(&b, ipco);
    size_t ipma = gm_boxw_open_full(&b, GM_4CC('i', 'p', 'm', 'a'), 0, wide ? 1 : 0);
    uint32_t with_props = 0;
    for (unsigned i = 0; i < f->nitems; i++)
        with_props += f->items[i].nprops > 0;
    gm_buf_u32be(&b, with_props);
    for (unsigned i = 0; i < f->nitems; i++) {
        const gm_hw_item *it = &f->items[i];
        if (!it->nprops)
            continue;
        gm_buf_u16be(&b, (uint16_t)it->id);
        gm_buf_u8(&b, (uint8_t)it->nprops);
        for (unsigned k = 0; k < it->nprops; k++) {
            if (wide)
                gm_buf_u16be(&b, (uint16_t)((it->props[k].essential ? 0x8000 : 0) | index[i][k]));
            else
                gm_buf_u8(&b, (uint8_t)((it->props[k].essential ? 0x80 : 0) | index[i][k]));
        }
    }
    gm_boxw_close(&b, ipma);
    gm_boxw_close(&b, box);
    free(uniq);
    free(index);

    size_t *idat_at = calloc(f->nitems, sizeof *idat_at), *patch = calloc(f->nitems, sizeof *patch);
    if (!idat_at || !patch) {
        free(idat_at);
        free(patch);
        gm_buf_free(&b);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing the HEIF file");
    }
    bool any_idat = false;
    for (unsigned i = 0; i < f->nitems; i++)
        any_idat |= f->items[i].in_idat;
    if (any_idat) {
        box = gm_boxw_open(&b, GM_4CC('i', 'd', 'a', 't'));
        size_t start = b.size;
        for (unsigned i = 0; i < f->nitems; i++)
            if (f->items[i].in_idat) {
                idat_at[i] = b.size - start;
                gm_buf_put(&b, f->items[i].data, f->items[i].size);
            }
        gm_boxw_close(&b, box);
    }

    if (f->altr_id) {
        box = gm_boxw_open(&b, GM_4CC('g', 'r', 'p', 'l'));
        size_t altr = gm_boxw_open_full(&b, GM_4CC('a', 'l', 't', 'r'), 0, 0);
        gm_buf_u32be(&b, f->altr_id);
        gm_buf_u32be(&b, f->naltr);
        for (unsigned k = 0; k < f->naltr; k++)
            gm_buf_u32be(&b, f->altr[k]);
        gm_boxw_close(&b, altr);
        gm_boxw_close(&b, box);
    }

    /* iloc v1 (construction_method), 32-bit offsets and lengths */
    box = gm_boxw_open_full(&b, GM_4CC('i', 'l', 'o', 'c'), 1, 0);
    gm_buf_u8(&b, 0x44);   /* offset_size 4, length_size 4 */
    gm_buf_u8(&b, 0x00);   /* base_offset_size 0, index_size 0 */
    gm_buf_u16be(&b, (uint16_t)f->nitems);
    for (unsigned i = 0; i < f->nitems; i++) {
        const gm_hw_item *it = &f->items[i];
        if (it->size > UINT32_MAX) {
            free(idat_at);
            free(patch);
            gm_buf_free(&b);
            return gm_error(ctx, GAINMAP_ERR_LIMIT, "HEIF writer: item %u is larger than 4 GiB", it->id);
        }
        gm_buf_u16be(&b, (uint16_t)it->id);
        gm_buf_u16be(&b, it->in_idat ? 1 : 0);
        gm_buf_u16be(&b, 0);
        gm_buf_u16be(&b, 1);
        patch[i] = b.size;
        gm_buf_u32be(&b, it->in_idat ? (uint32_t)idat_at[i] : 0);
        gm_buf_u32be(&b, (uint32_t)it->size);
    }
    gm_boxw_close(&b, box);
    gm_boxw_close(&b, meta);

    size_t payload = b.size + 8, total = payload;
    for (unsigned i = 0; i < f->nitems; i++)
        if (!f->items[i].in_idat)
            total += f->items[i].size;
    if (total > UINT32_MAX) {
        free(idat_at);
        free(patch);
        gm_buf_free(&b);
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "HEIF writer: the file would be larger than 4 GiB");
    }
    box = gm_boxw_open(&b, GM_4CC('m', 'd', 'a', 't'));
    for (unsigned i = 0; i < f->nitems; i++) {
        if (f->items[i].in_idat)
            continue;
        gm_buf_patch_u32be(&b, patch[i], (uint32_t)(b.size));
        gm_buf_put(&b, f->items[i].data, f->items[i].size);
    }
    gm_boxw_close(&b, box);
    free(idat_at);
    free(patch);
    if (b.bad) {
        gm_buf_free(&b);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing the HEIF file");
    }
    *out = gm_buf_take(&b, size);
    if (!*out)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing the HEIF file");
    return GAINMAP_OK;
}

/* ------------------------------------------------------------------ */
/* Apple maker note                                                    */
/* ------------------------------------------------------------------ */
/* FORMATS 5.3 with maker33 >= 1:
 *   stops = -70 m48 + 3        (m48 <= 0.01, i.e. stops in [2.3, 3] - and
 *                               above 3 with a negative m48)
 *   stops = -0.303 m48 + 2.303 (m48 > 0.01, stops below 2.29997)
 * maker33 is 101/100 as in the iPhone 16 sample; m48 has denominator 10^6
 * (error at most 3.5e-5 stops). */
void gm_apple_maker_values(double headroom, int32_t m33[2], int32_t m48[2])
{
    double s = headroom > 1.0 ? log2(headroom) : 0.0;
    double g = (2.303 - s) / 0.303;
    if (!(g > 0.01))
        g = GM_MIN(0.01, (3.0 - s) / 70.0);
    g = GM_CLAMP(g, -2000.0, 2000.0);
    m33[0] = 101;
    m33[1] = 100;
    m48[0] = (int32_t)floor(g * 1e6 + 0.5);
    m48[1] = 1000000;
}

gainmap_status gm_apple_exif_make(gainmap_ctx *ctx, double headroom, uint8_t **out, size_t *size)
{
    int32_t m33[2], m48[2];
    gm_apple_maker_values(headroom, m33, m48);
    gm_buf b;
    gm_buf_init(&b);
    gm_buf_str(&b, "MM");
    gm_buf_u16be(&b, 42);
    gm_buf_u32be(&b, 8);
    /* IFD0 (8): ExifIFD pointer */
    gm_buf_u16be(&b, 1);
    gm_buf_u16be(&b, 0x8769);
    gm_buf_u16be(&b, 4);
    gm_buf_u32be(&b, 1);
    gm_buf_u32be(&b, 26);
    gm_buf_u32be(&b, 0);
    /* Exif IFD (26): MakerNote, UNDEFINED, 60 bytes at 44 */
    gm_buf_u16be(&b, 1);
    gm_buf_u16be(&b, 0x927C);
    gm_buf_u16be(&b, 7);
    gm_buf_u32be(&b, 60);
    gm_buf_u32be(&b, 44);
    gm_buf_u32be(&b, 0);
    /* Maker note (44): header, IFD at 14, values at 44 and 52 (relative) */
    gm_buf_put(&b, "Apple iOS\0\0\1MM", 14);
    gm_buf_u16be(&b, 2);
    gm_buf_u16be(&b, 0x0021);
    gm_buf_u16be(&b, 10);
    gm_buf_u32be(&b, 1);
    gm_buf_u32be(&b, 44);
    gm_buf_u16be(&b, 0x0030);
    gm_buf_u16be(&b, 10);
    gm_buf_u32be(&b, 1);
    gm_buf_u32be(&b, 52);
    gm_buf_u32be(&b, 0);
    gm_buf_u32be(&b, (uint32_t)m33[0]);
    gm_buf_u32be(&b, (uint32_t)m33[1]);
    gm_buf_u32be(&b, (uint32_t)m48[0]);
    gm_buf_u32be(&b, (uint32_t)m48[1]);
    if (b.bad) {
        gm_buf_free(&b);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing EXIF");
    }
    *out = gm_buf_take(&b, size);
    return *out ? GAINMAP_OK : gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing EXIF");
}

/* ------------------------------------------------------------------ */
/* The master's EXIF merged with the Apple maker note                  */
/* ------------------------------------------------------------------ */
#define EXIF_MAX_ENTRIES 400

typedef struct exif_entry {
    uint16_t tag, type;
    uint32_t count;
    const uint8_t *value;   /* count * size bytes, in the source byte order */
    size_t size;
    int special;            /* 1 Exif IFD pointer, 2 GPS pointer, 3 maker note, 4 orientation */
} exif_entry;

typedef struct tiff_in {
    const uint8_t *d;
    size_t n;
    bool le;
} tiff_in;

static uint32_t tin_u16(const tiff_in *t, size_t at) { return t->le ? gm_le16(t->d + at) : gm_be16(t->d + at); }
static uint32_t tin_u32(const tiff_in *t, size_t at) { return t->le ? gm_le32(t->d + at) : gm_be32(t->d + at); }

static size_t type_size(uint16_t type)
{
    static const uint8_t sz[14] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4};
    return type < 14 ? sz[type] : 0;
}

/* Read the IFD at `off`: entries with a known type whose value lies inside
 * the TIFF.  Returns the count, or -1 when the IFD itself is outside. */
static int read_ifd(const tiff_in *t, uint32_t off, exif_entry *e, int max)
{
    if (off < 8 || (size_t)off + 2 > t->n)
        return -1;
    uint32_t n = tin_u16(t, off);
    if ((size_t)off + 2 + (size_t)n * 12 > t->n)
        return -1;
    int k = 0;
    for (uint32_t i = 0; i < n && k < max; i++) {
        size_t at = off + 2 + (size_t)i * 12;
        exif_entry x = {(uint16_t)tin_u16(t, at), (uint16_t)tin_u16(t, at + 2), tin_u32(t, at + 4), NULL, 0, 0};
        size_t ts = type_size(x.type);
        if (!ts || x.count > (1u << 24))
            continue;
        x.size = ts * x.count;
        if (x.size <= 4) {
            x.value = t->d + at + 8;
        } else {
            uint32_t vo = tin_u32(t, at + 8);
            if ((size_t)vo > t->n || x.size > t->n - vo)
                continue;
            x.value = t->d + vo;
        }
        e[k++] = x;
    }
    return k;
}


static int cmp_entry(const void *a, const void *b)
{
    const exif_entry *x = a, *y = b;
    return (int)x->tag - (int)y->tag;
}

/* Apple's maker note (60 bytes, offsets relative to its start, big-endian
 * whatever the TIFF's order): tags 33 and 48 as SRATIONAL. */
static void apple_maker_note(gm_buf *b, double headroom)
{
    int32_t m33[2], m48[2];
    gm_apple_maker_values(headroom, m33, m48);
    gm_buf_put(b, "Apple iOS\0\0\1MM", 14);
    gm_buf_u16be(b, 2);
    gm_buf_u16be(b, 0x0021);
    gm_buf_u16be(b, 10);
    gm_buf_u32be(b, 1);
    gm_buf_u32be(b, 44);
    gm_buf_u16be(b, 0x0030);
    gm_buf_u16be(b, 10);
    gm_buf_u32be(b, 1);
    gm_buf_u32be(b, 52);
    gm_buf_u32be(b, 0);
    gm_buf_u32be(b, (uint32_t)m33[0]);
    gm_buf_u32be(b, (uint32_t)m33[1]);
    gm_buf_u32be(b, (uint32_t)m48[0]);
    gm_buf_u32be(b, (uint32_t)m48[1]);
}

/* Write one IFD (entries sorted) followed by its out-of-line values;
 * pointer entries (special 1, 2) get a placeholder whose position is
 * returned in ptr_at[special]. */
static void write_ifd(gm_buf *b, bool le, exif_entry *e, int n, double headroom, size_t ptr_at[3])
{
    qsort(e, (size_t)n, sizeof *e, cmp_entry);
    gm_buf_u16o(b, le, (uint16_t)n);
    size_t *later = calloc((size_t)n + 1, sizeof *later);
    if (!later) {
        b->bad = true;
        return;
    }
    for (int i = 0; i < n; i++) {
        gm_buf_u16o(b, le, e[i].tag);
        gm_buf_u16o(b, le, e[i].type);
        gm_buf_u32o(b, le, e[i].count);
        if (e[i].special == 1 || e[i].special == 2) {
            ptr_at[e[i].special] = b->size;
            gm_buf_u32o(b, le, 0);
        } else if (e[i].special == 4) {
            gm_buf_u16o(b, le, 1);   /* orientation: applied to the pixels */
            gm_buf_u16o(b, le, 0);
        } else if (e[i].size <= 4 && e[i].special != 3) {
            uint8_t v[4] = {0};
            memcpy(v, e[i].value, e[i].size);
            gm_buf_put(b, v, 4);
        } else {
            later[i] = b->size;
            gm_buf_u32o(b, le, 0);
        }
    }
    gm_buf_u32o(b, le, 0);   /* no next IFD (IFD1, the thumbnail, is dropped) */
    for (int i = 0; i < n; i++) {
        if (!later[i])
            continue;
        gm_buf_patch_u32o(b, le, later[i], (uint32_t)b->size);
        if (e[i].special == 3)
            apple_maker_note(b, headroom);
        else
            gm_buf_put(b, e[i].value, e[i].size);
        if (e[i].size & 1)
            gm_buf_u8(b, 0);
    }
    free(later);
}

gainmap_status gm_exif_merge_apple(gainmap_ctx *ctx, const uint8_t *exif, size_t exif_size, double headroom,
                                   uint8_t **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    if (!exif || !exif_size) {
        if (headroom > 0)
            return gm_apple_exif_make(ctx, headroom, out, size);
        return GAINMAP_OK;
    }
    if (exif_size >= 6 && !memcmp(exif, "Exif\0\0", 6)) {
        exif += 6;
        exif_size -= 6;
    }
    tiff_in t = {exif, exif_size, false};
    if (exif_size < 8 || !((exif[0] == 'I' && exif[1] == 'I') || (exif[0] == 'M' && exif[1] == 'M')))
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "the master's EXIF does not start with a TIFF header");
    t.le = exif[0] == 'I';
    if (tin_u16(&t, 2) != 42)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "the master's EXIF does not start with a TIFF header");
    exif_entry *ifd0 = calloc(3 * EXIF_MAX_ENTRIES, sizeof *ifd0);
    if (!ifd0)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory merging EXIF");
    exif_entry *exi = ifd0 + EXIF_MAX_ENTRIES, *gps = exi + EXIF_MAX_ENTRIES;
    int n0 = read_ifd(&t, tin_u32(&t, 4), ifd0, EXIF_MAX_ENTRIES - 2), ne = 0, ng = 0;
    if (n0 < 0) {
        free(ifd0);
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "the master's EXIF has no readable first IFD");
    }
    /* IFD0: keep description tags; sub-IFD pointers are rebuilt, strip and
     * thumbnail offsets would point nowhere in the new TIFF */
    int k = 0;
    for (int i = 0; i < n0; i++) {
        exif_entry x = ifd0[i];
        if (x.tag == 0x8769 || x.tag == 0x8825) {
            if (x.count == 1 && (x.type == 4 || x.type == 13)) {
                uint32_t off = t.le ? gm_le32(x.value) : gm_be32(x.value);
                if (x.tag == 0x8769 && ne == 0)
                    ne = GM_MAX(0, read_ifd(&t, off, exi, EXIF_MAX_ENTRIES - 2));
                if (x.tag == 0x8825 && ng == 0)
                    ng = GM_MAX(0, read_ifd(&t, off, gps, EXIF_MAX_ENTRIES));
            }
            continue;
        }
        if (x.tag == 0x0111 || x.tag == 0x0117 || x.tag == 0x0144 || x.tag == 0x0145 || x.tag == 0x014A ||
            x.tag == 0x0201 || x.tag == 0x0202)
            continue;
        if (x.tag == 0x0112) {
            if (x.type != 3 || x.count != 1)
                continue;
            x.special = 4;
        }
        ifd0[k++] = x;
    }
    n0 = k;
    /* Exif IFD: its own maker note (offsets relative to who knows what)
     * and the interoperability pointer go */
    k = 0;
    for (int i = 0; i < ne; i++)
        if (exi[i].tag != 0x927C && exi[i].tag != 0xA005)
            exi[k++] = exi[i];
    ne = k;
    if (headroom > 0)
        exi[ne++] = (exif_entry){0x927C, 7, 60, NULL, 60, 3};
    if (ne > 0)
        ifd0[n0++] = (exif_entry){0x8769, 4, 1, NULL, 4, 1};
    if (ng > 0)
        ifd0[n0++] = (exif_entry){0x8825, 4, 1, NULL, 4, 2};

    gm_buf b;
    gm_buf_init(&b);
    gm_buf_put(&b, t.le ? "II" : "MM", 2);
    gm_buf_u16o(&b, t.le, 42);
    gm_buf_u32o(&b, t.le, 8);
    size_t ptr[3] = {0, 0, 0}, unused[3] = {0, 0, 0};
    write_ifd(&b, t.le, ifd0, n0, headroom, ptr);
    if (ne > 0) {
        if (b.size & 1)
            gm_buf_u8(&b, 0);
        gm_buf_patch_u32o(&b, t.le, ptr[1], (uint32_t)b.size);
        write_ifd(&b, t.le, exi, ne, headroom, unused);
    }
    if (ng > 0) {
        if (b.size & 1)
            gm_buf_u8(&b, 0);
        gm_buf_patch_u32o(&b, t.le, ptr[2], (uint32_t)b.size);
        write_ifd(&b, t.le, gps, ng, headroom, unused);
    }
    free(ifd0);
    if (b.bad || b.size > UINT32_MAX) {
        gm_buf_free(&b);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory merging EXIF");
    }
    *out = gm_buf_take(&b, size);
    return *out ? GAINMAP_OK : gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory merging EXIF");
}

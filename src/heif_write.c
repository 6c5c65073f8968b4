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
    if (!f->nbrands || f->nitems > GM_HW_MAX_ITEMS || f->nrefs > 8 || f->naltr > 4)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HEIF writer: bad file description");
    /* unique property boxes in first-use order */
    const gm_hw_prop *uniq[GM_HW_MAX_ITEMS * GM_HW_MAX_PROPS];
    uint8_t index[GM_HW_MAX_ITEMS][GM_HW_MAX_PROPS];
    unsigned nuniq = 0;
    for (unsigned i = 0; i < f->nitems; i++) {
        const gm_hw_item *it = &f->items[i];
        if (it->nprops > GM_HW_MAX_PROPS || it->id == 0 || it->id > 0xFFFF)
            return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HEIF writer: bad item %u", it->id);
        for (unsigned k = 0; k < it->nprops; k++) {
            unsigned u = 0;
            while (u < nuniq && !same_box(uniq[u], &it->props[k]))
                u++;
            if (u == nuniq)
                uniq[nuniq++] = &it->props[k];
            index[i][k] = (uint8_t)(u + 1);   /* <= 80, fits the 7-bit ipma index */
        }
    }

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
            for (unsigned k = 0; k < r->count && k < 4; k++)
                gm_buf_u16be(&b, (uint16_t)r->to[k]);
            gm_boxw_close(&b, rb);
        }
        gm_boxw_close(&b, box);
    }

    box = gm_boxw_open(&b, GM_4CC('i', 'p', 'r', 'p'));
    size_t ipco = gm_boxw_open(&b, GM_4CC('i', 'p', 'c', 'o'));
    for (unsigned u = 0; u < nuniq; u++)
        gm_buf_put(&b, uniq[u]->box, uniq[u]->size);
    gm_boxw_close(&b, ipco);
    size_t ipma = gm_boxw_open_full(&b, GM_4CC('i', 'p', 'm', 'a'), 0, 0);
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
        for (unsigned k = 0; k < it->nprops; k++)
            gm_buf_u8(&b, (uint8_t)((it->props[k].essential ? 0x80 : 0) | index[i][k]));
    }
    gm_boxw_close(&b, ipma);
    gm_boxw_close(&b, box);

    size_t idat_at[GM_HW_MAX_ITEMS] = {0};
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
    size_t patch[GM_HW_MAX_ITEMS] = {0};
    box = gm_boxw_open_full(&b, GM_4CC('i', 'l', 'o', 'c'), 1, 0);
    gm_buf_u8(&b, 0x44);   /* offset_size 4, length_size 4 */
    gm_buf_u8(&b, 0x00);   /* base_offset_size 0, index_size 0 */
    gm_buf_u16be(&b, (uint16_t)f->nitems);
    for (unsigned i = 0; i < f->nitems; i++) {
        const gm_hw_item *it = &f->items[i];
        if (it->size > UINT32_MAX) {
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

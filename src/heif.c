/* heif.c - the HEIF/AVIF item model (ISO/IEC 23008-12) read from the boxes
 * with our own reader, and the gain map found in it (FORMATS 3.4, 5).
 * libheif is used only as a codec (heif_decode.c). */
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FTYP GM_4CC('f', 't', 'y', 'p')
#define META GM_4CC('m', 'e', 't', 'a')
#define MDAT GM_4CC('m', 'd', 'a', 't')

static void issue_add(gm_heif_issue *list, size_t *n, size_t cap, gainmap_severity sev, const char *code,
                      const char *fmt, ...) GM_PRINTF(6, 7);
static void issue_add(gm_heif_issue *list, size_t *n, size_t cap, gainmap_severity sev, const char *code,
                      const char *fmt, ...)
{
    if (*n >= cap)
        return;
    gm_heif_issue *is = &list[(*n)++];
    is->severity = sev;
    is->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(is->message, sizeof is->message, fmt, ap);
    va_end(ap);
}

#define H_ISSUE(h, sev, code, ...) issue_add((h)->issues, &(h)->nissues, GM_HEIF_MAX_ISSUES, sev, code, __VA_ARGS__)

/* A NUL-terminated string from r; accepts a missing NUL at the end of the box. */
static void read_string(gm_reader *r, char *dst, size_t cap)
{
    size_t n = 0;
    while (gm_rd_left(r) > 0) {
        uint8_t c = gm_rd_u8(r);
        if (c == 0)
            break;
        if (n + 1 < cap)
            dst[n++] = (char)c;
    }
    if (cap)
        dst[n] = '\0';
}

static int item_cmp(const void *a, const void *b)
{
    uint32_t x = ((const gm_heif_item *)a)->id, y = ((const gm_heif_item *)b)->id;
    return x < y ? -1 : x > y;
}

const gm_heif_item *gm_heif_item_by_id(const gm_heif *h, uint32_t id)
{
    size_t lo = 0, hi = h->nitems;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->items[mid].id == id)
            return &h->items[mid];
        if (h->items[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static gm_heif_item *item_mut(gm_heif *h, uint32_t id) { return (gm_heif_item *)gm_heif_item_by_id(h, id); }

bool gm_heif_has_brand(const gm_heif *h, uint32_t brand)
{
    if (h->major_brand == brand)
        return true;
    for (size_t i = 0; i < h->nbrands; i++)
        if (h->brands[i] == brand)
            return true;
    return false;
}

const gm_heif_prop *gm_heif_item_prop(const gm_heif *h, const gm_heif_item *item, uint32_t type, unsigned n)
{
    if (!item)
        return NULL;
    for (uint32_t i = 0; i < item->nassoc; i++) {
        uint16_t idx = item->assoc[i].index;
        if (idx == 0 || idx > h->nprops)
            continue;
        const gm_heif_prop *p = &h->props[idx - 1];
        if (p->type == type && n-- == 0)
            return p;
    }
    return NULL;
}

const gm_heif_ref *gm_heif_ref_from(const gm_heif *h, uint32_t type, uint32_t from)
{
    for (size_t i = 0; i < h->nrefs; i++)
        if (h->refs[i].type == type && h->refs[i].from == from)
            return &h->refs[i];
    return NULL;
}

bool gm_heif_refers(const gm_heif *h, uint32_t type, uint32_t from, uint32_t to)
{
    for (size_t i = 0; i < h->nrefs; i++) {
        const gm_heif_ref *r = &h->refs[i];
        if (r->type != type || r->from != from)
            continue;
        for (uint32_t k = 0; k < r->count; k++)
            if (r->to[k] == to)
                return true;
    }
    return false;
}

bool gm_heif_is_image(const gm_heif_item *item)
{
    return item && (item->type == GM_4CC('h', 'v', 'c', '1') || item->type == GM_4CC('a', 'v', '0', '1') ||
                    item->type == GM_4CC('g', 'r', 'i', 'd'));
}

void gm_heif_free(gm_heif *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->nitems; i++) {
        free(h->items[i].extents);
        free(h->items[i].assoc);
    }
    for (size_t i = 0; i < h->nrefs; i++)
        free(h->refs[i].to);
    for (size_t i = 0; i < h->ngroups; i++)
        free(h->groups[i].ids);
    free(h->items);
    free(h->props);
    free(h->refs);
    free(h->groups);
    free(h->brands);
    free(h);
}

/* ------------------------------------------------------------------ */
/* meta children                                                       */
/* ------------------------------------------------------------------ */

static gainmap_status parse_ftyp(gainmap_ctx *ctx, gm_heif *h, gm_box *box)
{
    h->major_brand = gm_rd_u32be(&box->body);
    h->minor_version = gm_rd_u32be(&box->body);
    if (!gm_rd_ok(&box->body))
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "'ftyp' box is shorter than 8 bytes");
    size_t n = gm_rd_left(&box->body) / 4;
    if (n > 1024)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "'ftyp' lists %zu brands (limit 1024)", n);
    if (n) {
        h->brands = gm_calloc(ctx, n, sizeof *h->brands);
        if (!h->brands)
            return GAINMAP_ERR_NOMEM;
        for (size_t i = 0; i < n; i++)
            h->brands[i] = gm_rd_u32be(&box->body);
    }
    h->nbrands = n;
    return GAINMAP_OK;
}

static gainmap_status parse_iinf(gainmap_ctx *ctx, gm_heif *h, gm_box *box, unsigned depth)
{
    if (!gm_box_full(box))
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'iinf' box is cut short");
    uint32_t declared = box->version == 0 ? gm_rd_u16be(&box->body) : gm_rd_u32be(&box->body);
    if (!gm_rd_ok(&box->body))
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'iinf' box is cut short");
    if (declared > GM_HEIF_MAX_ITEMS)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "'iinf' declares %u items (limit %d)", declared, GM_HEIF_MAX_ITEMS);
    /* every infe is at least 12 bytes, so the payload bounds the count */
    size_t cap = gm_rd_left(&box->body) / 12;
    if (cap > GM_HEIF_MAX_ITEMS)
        cap = GM_HEIF_MAX_ITEMS;
    h->items = gm_calloc(ctx, cap ? cap : 1, sizeof *h->items);
    if (!h->items)
        return GAINMAP_ERR_NOMEM;
    gm_box_iter it;
    gm_box_iter_init(&it, box->body, depth + 1);
    gm_box infe;
    int rc;
    while ((rc = gm_box_next(ctx, &it, &infe)) == 1) {
        if (infe.type != GM_4CC('i', 'n', 'f', 'e'))
            continue;
        if (h->nitems >= cap)
            return gm_error(ctx, GAINMAP_ERR_CORRUPT, "'iinf' holds more 'infe' boxes than fit in it");
        gm_heif_item *item = &h->items[h->nitems];
        memset(item, 0, sizeof *item);
        if (!gm_box_full(&infe))
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'infe' box at offset %zu is cut short", infe.offset);
        item->infe_version = infe.version;
        item->hidden = (infe.flags & 1) != 0;
        gm_reader *r = &infe.body;
        if (infe.version < 2) {
            item->id = gm_rd_u16be(r);
            item->protection_index = gm_rd_u16be(r);
            read_string(r, item->name, sizeof item->name);
            read_string(r, item->content_type, sizeof item->content_type);
            read_string(r, item->content_encoding, sizeof item->content_encoding);
        } else {
            item->id = infe.version == 2 ? gm_rd_u16be(r) : gm_rd_u32be(r);
            item->protection_index = gm_rd_u16be(r);
            item->type = gm_rd_u32be(r);
            if (!gm_rd_ok(r))
                return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'infe' box at offset %zu is cut short", infe.offset);
            read_string(r, item->name, sizeof item->name);
            if (item->type == GM_4CC('m', 'i', 'm', 'e')) {
                read_string(r, item->content_type, sizeof item->content_type);
                read_string(r, item->content_encoding, sizeof item->content_encoding);
            } else if (item->type == GM_4CC('u', 'r', 'i', ' ')) {
                read_string(r, item->content_type, sizeof item->content_type);
            }
        }
        if (!gm_rd_ok(r))
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'infe' box at offset %zu is cut short", infe.offset);
        if (infe.version > 3)
            H_ISSUE(h, GAINMAP_SEVERITY_WARNING, "infe-version", "item %u has an 'infe' of unknown version %u",
                    item->id, infe.version);
        h->nitems++;
    }
    if (rc < 0)
        return it.status;
    if (h->nitems != declared)
        H_ISSUE(h, GAINMAP_SEVERITY_WARNING, "iinf-count", "'iinf' declares %u items but holds %zu", declared,
                h->nitems);
    qsort(h->items, h->nitems, sizeof *h->items, item_cmp);
    for (size_t i = 1; i < h->nitems; i++)
        if (h->items[i].id == h->items[i - 1].id)
            return gm_error(ctx, GAINMAP_ERR_CORRUPT, "item ID %u is defined twice", h->items[i].id);
    return GAINMAP_OK;
}

static uint64_t read_sized(gm_reader *r, unsigned size)
{
    switch (size) {
    case 4: return gm_rd_u32be(r);
    case 8: return gm_rd_u64be(r);
    default: return 0;
    }
}

static gainmap_status parse_iloc(gainmap_ctx *ctx, gm_heif *h, gm_box *box)
{
    if (!gm_box_full(box))
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'iloc' box is cut short");
    if (box->version > 2)
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "'iloc' version %u is not supported", box->version);
    gm_reader *r = &box->body;
    uint8_t a = gm_rd_u8(r), b = gm_rd_u8(r);
    unsigned offset_size = a >> 4, length_size = a & 15, base_offset_size = b >> 4;
    unsigned index_size = box->version >= 1 ? (b & 15) : 0;
    uint32_t count = box->version < 2 ? gm_rd_u16be(r) : gm_rd_u32be(r);
    if (!gm_rd_ok(r))
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'iloc' box is cut short");
    unsigned sizes[4] = {offset_size, length_size, base_offset_size, index_size};
    for (int i = 0; i < 4; i++)
        if (sizes[i] != 0 && sizes[i] != 4 && sizes[i] != 8)
            return gm_error(ctx, GAINMAP_ERR_CORRUPT, "'iloc' uses a field size of %u bytes (0, 4 or 8 allowed)",
                            sizes[i]);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t id = box->version < 2 ? gm_rd_u16be(r) : gm_rd_u32be(r);
        uint8_t method = 0;
        if (box->version >= 1)
            method = gm_rd_u16be(r) & 15;
        uint16_t dref = gm_rd_u16be(r);
        uint64_t base = read_sized(r, base_offset_size);
        uint16_t nextents = gm_rd_u16be(r);
        if (!gm_rd_ok(r))
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'iloc' entry %u of %u is cut short", i + 1, count);
        size_t per = offset_size + length_size + index_size;
        if (nextents > GM_HEIF_MAX_EXTENTS || (size_t)nextents * per > gm_rd_left(r))
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'iloc' entry for item %u lists %u extents that do not fit",
                            id, nextents);
        gm_heif_item *item = item_mut(h, id);
        if (!item) {
            gm_rd_skip(r, (size_t)nextents * per);
            H_ISSUE(h, GAINMAP_SEVERITY_WARNING, "iloc-unknown-item", "'iloc' locates item %u, which 'iinf' lacks",
                    id);
            continue;
        }
        if (item->has_location)
            return gm_error(ctx, GAINMAP_ERR_CORRUPT, "'iloc' locates item %u twice", id);
        item->has_location = true;
        item->construction_method = method;
        item->data_reference_index = dref;
        item->base_offset = base;
        item->nextents = nextents;
        if (nextents) {
            item->extents = gm_calloc(ctx, nextents, sizeof *item->extents);
            if (!item->extents)
                return GAINMAP_ERR_NOMEM;
        }
        for (uint16_t e = 0; e < nextents; e++) {
            gm_heif_extent *x = &item->extents[e];
            x->index = read_sized(r, index_size);
            x->offset = read_sized(r, offset_size);
            x->length = read_sized(r, length_size);
        }
        if (!gm_rd_ok(r))
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'iloc' entry for item %u is cut short", id);
    }
    return GAINMAP_OK;
}

static gainmap_status parse_iref(gainmap_ctx *ctx, gm_heif *h, gm_box *box, unsigned depth)
{
    if (!gm_box_full(box))
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'iref' box is cut short");
    if (box->version > 1)
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "'iref' version %u is not supported", box->version);
    bool wide = box->version == 1;
    size_t cap = gm_rd_left(&box->body) / 12 + 1;
    gm_heif_ref *refs = gm_calloc(ctx, h->nrefs + cap, sizeof *refs);
    if (!refs)
        return GAINMAP_ERR_NOMEM;
    if (h->nrefs)
        memcpy(refs, h->refs, h->nrefs * sizeof *refs);
    free(h->refs);
    h->refs = refs;
    gm_box_iter it;
    gm_box_iter_init(&it, box->body, depth + 1);
    gm_box rb;
    int rc;
    while ((rc = gm_box_next(ctx, &it, &rb)) == 1) {
        gm_reader *r = &rb.body;
        gm_heif_ref ref = {.type = rb.type};
        ref.from = wide ? gm_rd_u32be(r) : gm_rd_u16be(r);
        ref.count = gm_rd_u16be(r);
        if (!gm_rd_ok(r) || (size_t)ref.count * (wide ? 4 : 2) > gm_rd_left(r)) {
            char t[5];
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'%s' reference from item %u is cut short",
                            gm_fourcc_str(rb.type, t), ref.from);
        }
        if (ref.count) {
            ref.to = gm_calloc(ctx, ref.count, sizeof *ref.to);
            if (!ref.to)
                return GAINMAP_ERR_NOMEM;
            for (uint32_t k = 0; k < ref.count; k++)
                ref.to[k] = wide ? gm_rd_u32be(r) : gm_rd_u16be(r);
        }
        h->refs[h->nrefs++] = ref;
    }
    return rc < 0 ? it.status : GAINMAP_OK;
}

static void parse_prop(gm_heif_prop *p, gm_box *box)
{
    gm_reader *r = &box->body;
    switch (p->type) {
    case GM_4CC('i', 's', 'p', 'e'):
        gm_box_full(box);
        p->width = gm_rd_u32be(r);
        p->height = gm_rd_u32be(r);
        break;
    case GM_4CC('c', 'o', 'l', 'r'):
        p->colour_type = gm_rd_u32be(r);
        if (p->colour_type == GM_4CC('n', 'c', 'l', 'x')) {
            p->cp = gm_rd_u16be(r);
            p->tc = gm_rd_u16be(r);
            p->mc = gm_rd_u16be(r);
            p->full_range = gm_rd_u8(r) >> 7;
        } else if (p->colour_type == GM_4CC('p', 'r', 'o', 'f') || p->colour_type == GM_4CC('r', 'I', 'C', 'C')) {
            p->icc_size = gm_rd_left(r);
            p->icc = gm_rd_bytes(r, p->icc_size);
        }
        break;
    case GM_4CC('p', 'i', 'x', 'i'): {
        gm_box_full(box);
        p->channels = gm_rd_u8(r);
        for (unsigned i = 0; i < p->channels; i++) {
            uint8_t d = gm_rd_u8(r);
            if (i < 4)
                p->depth[i] = d;
        }
        break;
    }
    case GM_4CC('a', 'u', 'x', 'C'):
        gm_box_full(box);
        read_string(r, p->aux_type, sizeof p->aux_type);
        p->aux_subtype_size = gm_rd_left(r);
        p->aux_subtype = p->aux_subtype_size ? gm_rd_bytes(r, p->aux_subtype_size) : NULL;
        break;
    case GM_4CC('i', 'r', 'o', 't'):
        p->angle = gm_rd_u8(r) & 3;
        break;
    case GM_4CC('i', 'm', 'i', 'r'):
        p->axis = gm_rd_u8(r) & 1;
        break;
    case GM_4CC('c', 'l', 'l', 'i'):
        p->max_cll = gm_rd_u16be(r);
        p->max_fall = gm_rd_u16be(r);
        break;
    case GM_4CC('h', 'v', 'c', 'C'):
        /* HEVCDecoderConfigurationRecord: chroma_format_idc in byte 16, bit_depth_luma_minus8 in byte 17 */
        gm_rd_skip(r, 16);
        p->chroma_format = gm_rd_u8(r) & 3;
        p->bit_depth = (uint8_t)((gm_rd_u8(r) & 7) + 8);
        break;
    case GM_4CC('a', 'v', '1', 'C'): {
        /* AV1CodecConfigurationRecord byte 2: tier, high_bitdepth, twelve_bit, monochrome, ss_x, ss_y */
        gm_rd_skip(r, 2);
        uint8_t b = gm_rd_u8(r);
        p->bit_depth = (b & 0x40) ? ((b & 0x20) ? 12 : 10) : 8;
        if (b & 0x10)
            p->chroma_format = 0;
        else
            p->chroma_format = (b & 0x08) ? ((b & 0x04) ? 1 : 2) : 3;
        break;
    }
    default:
        return;
    }
    p->ok = gm_rd_ok(r);
}

static gainmap_status parse_ipma(gainmap_ctx *ctx, gm_heif *h, gm_box *box)
{
    if (!gm_box_full(box))
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'ipma' box is cut short");
    gm_reader *r = &box->body;
    uint32_t count = gm_rd_u32be(r);
    bool wide_index = box->flags & 1;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t id = box->version < 1 ? gm_rd_u16be(r) : gm_rd_u32be(r);
        uint8_t n = gm_rd_u8(r);
        if (!gm_rd_ok(r) || (size_t)n * (wide_index ? 2 : 1) > gm_rd_left(r))
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'ipma' entry %u of %u is cut short", i + 1, count);
        gm_heif_item *item = item_mut(h, id);
        gm_heif_assoc *a = NULL;
        if (item && n) {
            a = realloc(item->assoc, ((size_t)item->nassoc + n) * sizeof *a);
            if (!a)
                return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory reading 'ipma'");
            item->assoc = a;
            a += item->nassoc;
            item->nassoc += n;
        } else if (!item) {
            H_ISSUE(h, GAINMAP_SEVERITY_WARNING, "ipma-unknown-item",
                    "'ipma' gives properties to item %u, which 'iinf' lacks", id);
        }
        for (uint8_t k = 0; k < n; k++) {
            uint16_t v = wide_index ? gm_rd_u16be(r) : gm_rd_u8(r);
            bool essential = wide_index ? (v >> 15) : (v >> 7);
            uint16_t index = wide_index ? (v & 0x7FFF) : (v & 0x7F);
            if (index > h->nprops)
                return gm_error(ctx, GAINMAP_ERR_CORRUPT, "item %u refers to property %u but 'ipco' has %zu", id,
                                index, h->nprops);
            if (a) {
                a[k].index = index;
                a[k].essential = essential;
            }
        }
    }
    return GAINMAP_OK;
}

static gainmap_status parse_iprp(gainmap_ctx *ctx, gm_heif *h, gm_box *box, unsigned depth)
{
    gm_box_iter it;
    gm_box_iter_init(&it, box->body, depth + 1);
    gm_box child;
    int rc;
    bool have_ipco = false;
    /* ipco first: ipma indices refer to it whatever the box order */
    while ((rc = gm_box_next(ctx, &it, &child)) == 1) {
        if (child.type != GM_4CC('i', 'p', 'c', 'o'))
            continue;
        if (have_ipco)
            return gm_error(ctx, GAINMAP_ERR_CORRUPT, "'iprp' holds two 'ipco' boxes");
        have_ipco = true;
        size_t cap = gm_rd_left(&child.body) / 8;
        if (cap > GM_HEIF_MAX_PROPS)
            cap = GM_HEIF_MAX_PROPS;
        h->props = gm_calloc(ctx, cap ? cap : 1, sizeof *h->props);
        if (!h->props)
            return GAINMAP_ERR_NOMEM;
        gm_box_iter pit;
        gm_box_iter_children(&it, &child, &pit);
        gm_box pb;
        int prc;
        while ((prc = gm_box_next(ctx, &pit, &pb)) == 1) {
            if (h->nprops >= cap)
                return gm_error(ctx, GAINMAP_ERR_LIMIT, "'ipco' holds more than %zu properties", cap);
            gm_heif_prop *p = &h->props[h->nprops++];
            p->type = pb.type;
            p->box = pb.body.data - pb.header_size;
            p->box_size = pb.size;
            p->body = pb.body.data;
            p->body_size = pb.body.size;
            parse_prop(p, &pb);
        }
        if (prc < 0)
            return pit.status;
    }
    if (rc < 0)
        return it.status;
    gm_box_iter_init(&it, box->body, depth + 1);
    while ((rc = gm_box_next(ctx, &it, &child)) == 1) {
        if (child.type != GM_4CC('i', 'p', 'm', 'a'))
            continue;
        gainmap_status st = parse_ipma(ctx, h, &child);
        if (st != GAINMAP_OK)
            return st;
    }
    return rc < 0 ? it.status : GAINMAP_OK;
}

static gainmap_status parse_grpl(gainmap_ctx *ctx, gm_heif *h, gm_box *box, unsigned depth)
{
    gm_box_iter it;
    gm_box_iter_init(&it, box->body, depth + 1);
    gm_box g;
    int rc;
    size_t cap = gm_rd_left(&box->body) / 20 + 1;
    h->groups = gm_calloc(ctx, cap, sizeof *h->groups);
    if (!h->groups)
        return GAINMAP_ERR_NOMEM;
    while ((rc = gm_box_next(ctx, &it, &g)) == 1) {
        if (h->ngroups >= cap)
            break;
        gm_reader *r = &g.body;
        gm_heif_group grp = {.type = g.type};
        gm_box_full(&g);
        grp.id = gm_rd_u32be(r);
        grp.count = gm_rd_u32be(r);
        char t[5];
        if (!gm_rd_ok(r) || (uint64_t)grp.count * 4 > gm_rd_left(r))
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'%s' entity group is cut short", gm_fourcc_str(g.type, t));
        if (grp.count) {
            grp.ids = gm_calloc(ctx, grp.count, sizeof *grp.ids);
            if (!grp.ids)
                return GAINMAP_ERR_NOMEM;
            for (uint32_t k = 0; k < grp.count; k++)
                grp.ids[k] = gm_rd_u32be(r);
        }
        h->groups[h->ngroups++] = grp;
    }
    return rc < 0 ? it.status : GAINMAP_OK;
}

static gainmap_status parse_meta(gainmap_ctx *ctx, gm_heif *h, gm_box *meta)
{
    if (!gm_box_full(meta))
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'meta' box is cut short");
    h->meta_offset = meta->offset;
    h->meta_size = meta->size;
    /* Collect the children first so they can be parsed in dependency order. */
    enum { HDLR, PITM, IINF, ILOC, IREF, IPRP, IDAT, GRPL, NKIND };
    static const uint32_t kinds[NKIND] = {
        GM_4CC('h', 'd', 'l', 'r'), GM_4CC('p', 'i', 't', 'm'), GM_4CC('i', 'i', 'n', 'f'),
        GM_4CC('i', 'l', 'o', 'c'), GM_4CC('i', 'r', 'e', 'f'), GM_4CC('i', 'p', 'r', 'p'),
        GM_4CC('i', 'd', 'a', 't'), GM_4CC('g', 'r', 'p', 'l')};
    gm_box found[NKIND];
    bool have[NKIND] = {false};
    gm_box_iter it;
    gm_box_iter_init(&it, meta->body, 1);
    gm_box child;
    int rc;
    while ((rc = gm_box_next(ctx, &it, &child)) == 1) {
        for (int k = 0; k < NKIND; k++) {
            if (child.type != kinds[k])
                continue;
            if (have[k]) {
                char t[5];
                return gm_error(ctx, GAINMAP_ERR_CORRUPT, "'meta' holds two '%s' boxes", gm_fourcc_str(kinds[k], t));
            }
            have[k] = true;
            found[k] = child;
        }
    }
    if (rc < 0)
        return it.status;
    if (!have[HDLR])
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "'meta' has no 'hdlr' box");
    gm_box *b = &found[HDLR];
    gm_box_full(b);
    gm_rd_skip(&b->body, 4);
    h->handler = gm_rd_u32be(&b->body);
    if (!gm_rd_ok(&b->body))
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'hdlr' box is cut short");
    if (h->handler != GM_4CC('p', 'i', 'c', 't')) {
        char t[5];
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "'meta' handler is '%s', not 'pict' (not a still image)",
                        gm_fourcc_str(h->handler, t));
    }
    if (!have[IINF])
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "'meta' has no 'iinf' box");
    gainmap_status st = parse_iinf(ctx, h, &found[IINF], 2);
    if (st == GAINMAP_OK && have[ILOC])
        st = parse_iloc(ctx, h, &found[ILOC]);
    if (st == GAINMAP_OK && have[IPRP])
        st = parse_iprp(ctx, h, &found[IPRP], 2);
    if (st == GAINMAP_OK && have[IREF])
        st = parse_iref(ctx, h, &found[IREF], 2);
    if (st == GAINMAP_OK && have[GRPL])
        st = parse_grpl(ctx, h, &found[GRPL], 2);
    if (st != GAINMAP_OK)
        return st;
    if (have[IDAT]) {
        h->has_idat = true;
        h->idat_offset = (size_t)(found[IDAT].body.data - h->data);
        h->idat_size = found[IDAT].body.size;
    }
    if (have[PITM]) {
        b = &found[PITM];
        gm_box_full(b);
        h->primary_id = b->version == 0 ? gm_rd_u16be(&b->body) : gm_rd_u32be(&b->body);
        if (!gm_rd_ok(&b->body))
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'pitm' box is cut short");
        h->has_primary = true;
    }
    if (!h->has_primary)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "'meta' has no primary item ('pitm')");
    if (!gm_heif_item_by_id(h, h->primary_id))
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "the primary item %u is not in 'iinf'", h->primary_id);
    return GAINMAP_OK;
}

/* Does every extent of the item lie inside the file or idat? */
static bool extents_inside(const gm_heif *h, const gm_heif_item *it)
{
    uint64_t src = it->construction_method == 1 ? (h->has_idat ? h->idat_size : 0) : h->size;
    if (!it->has_location || it->construction_method > 1)
        return true;
    for (uint32_t e = 0; e < it->nextents; e++) {
        const gm_heif_extent *x = &it->extents[e];
        uint64_t start = it->base_offset + x->offset;
        if (start < x->offset || start > src || x->length > src - start)
            return false;
    }
    return true;
}

/* The primary image's data (its tiles for a grid) must be in the file: a
 * cut file is rejected here.  Other items out of bounds are only issues. */
static gainmap_status check_extents(gainmap_ctx *ctx, gm_heif *h)
{
    const gm_heif_ref *tiles = gm_heif_ref_from(h, GM_4CC('d', 'i', 'm', 'g'), h->primary_id);
    for (size_t i = 0; i < h->nitems; i++) {
        const gm_heif_item *it = &h->items[i];
        if (extents_inside(h, it))
            continue;
        bool needed = it->id == h->primary_id;
        for (uint32_t k = 0; tiles && k < tiles->count && !needed; k++)
            needed = tiles->to[k] == it->id;
        if (needed)
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED,
                            "the file is cut short: data of %s item %u lies beyond its end (%zu bytes)",
                            it->id == h->primary_id ? "primary" : "tile", it->id, h->size);
        H_ISSUE(h, GAINMAP_SEVERITY_WARNING, "item-outside", "data of item %u lies outside the file", it->id);
    }
    return GAINMAP_OK;
}

gainmap_status gm_heif_parse(gainmap_ctx *ctx, const uint8_t *data, size_t size, gm_heif **out)
{
    if (!out)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gm_heif_parse: NULL output");
    *out = NULL;
    if (!data || size < 12 || gm_be32(data + 4) != FTYP)
        return gm_error(ctx, GAINMAP_ERR_FORMAT, "not a HEIF/AVIF file: it does not start with an 'ftyp' box");
    gm_heif *h = gm_calloc(ctx, 1, sizeof *h);
    if (!h)
        return GAINMAP_ERR_NOMEM;
    h->data = data;
    h->size = size;
    gm_reader r;
    gm_rd_init(&r, data, size);
    gm_box_iter it;
    gm_box_iter_init(&it, r, 0);
    gainmap_status st = GAINMAP_OK;
    bool have_meta = false, have_ftyp = false;
    for (;;) {
        size_t at = it.r.pos;
        gm_box box;
        /* Top-level boxes are read without recording an error: junk after
         * the last box (OnePlus 'QTI ' data, a cut mdat) is only an issue
         * once meta is known. */
        int rc = gm_box_next(NULL, &it, &box);
        if (rc == 0)
            break;
        if (rc < 0) {
            if (!have_meta) {
                gm_reader again;
                gm_rd_init(&again, data, size);
                gm_rd_seek(&again, at);
                gm_box dummy;
                st = gm_box_read(ctx, &again, &dummy);
                if (st == GAINMAP_OK)
                    st = gm_error(ctx, GAINMAP_ERR_LIMIT, "too many top-level boxes");
                goto fail;
            }
            h->trailing_bytes = size - at;
            H_ISSUE(h, GAINMAP_SEVERITY_WARNING, "trailing-data",
                    "%zu bytes after the last complete box (offset %zu) are not a box", size - at, at);
            break;
        }
        if (box.type == FTYP) {
            if (have_ftyp) {
                H_ISSUE(h, GAINMAP_SEVERITY_WARNING, "ftyp-twice", "the file has a second 'ftyp' box");
                continue;
            }
            have_ftyp = true;
            if ((st = parse_ftyp(ctx, h, &box)) != GAINMAP_OK)
                goto fail;
        } else if (box.type == META) {
            if (have_meta) {
                st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "the file has two top-level 'meta' boxes");
                goto fail;
            }
            have_meta = true;
            if (h->nmdat)
                h->meta_after_mdat = true;
            if ((st = parse_meta(ctx, h, &box)) != GAINMAP_OK)
                goto fail;
        } else if (box.type == MDAT) {
            h->nmdat++;
        }
    }
    if (!have_meta) {
        st = gm_error(ctx, GAINMAP_ERR_FORMAT, "HEIF file without a top-level 'meta' box (not an image file)");
        goto fail;
    }
    if ((st = check_extents(ctx, h)) != GAINMAP_OK)
        goto fail;
    if (!gm_heif_has_brand(h, GM_4CC('m', 'i', 'f', '1')) && !gm_heif_has_brand(h, GM_4CC('m', 'i', 'a', 'f')))
        H_ISSUE(h, GAINMAP_SEVERITY_INFO, "no-mif1", "'ftyp' does not list the 'mif1' brand");
    *out = h;
    return GAINMAP_OK;
fail:
    gm_heif_free(h);
    return st;
}

/* ------------------------------------------------------------------ */
/* Item data, grids, sizes, colour                                     */
/* ------------------------------------------------------------------ */

/* Checks the item's extents and finds where its bytes come from: *src and
 * *src_size (file or idat), *total the concatenated length (<= max). */
static gainmap_status item_source(gainmap_ctx *ctx, const gm_heif *h, const gm_heif_item *item, uint64_t max,
                                  const uint8_t **src_out, size_t *src_size_out, size_t *total_out)
{
    if (!item->has_location)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "item %u has no location in 'iloc'", item->id);
    if (item->data_reference_index != 0)
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "item %u keeps its data in another file", item->id);
    const uint8_t *src;
    size_t src_size;
    if (item->construction_method == 0) {
        src = h->data;
        src_size = h->size;
    } else if (item->construction_method == 1) {
        if (!h->has_idat)
            return gm_error(ctx, GAINMAP_ERR_CORRUPT, "item %u is in 'idat' but there is no 'idat' box", item->id);
        src = h->data + h->idat_offset;
        src_size = h->idat_size;
    } else {
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "item %u uses 'iloc' construction method %u", item->id,
                        item->construction_method);
    }
    uint64_t total = 0;
    for (uint32_t e = 0; e < item->nextents; e++) {
        const gm_heif_extent *x = &item->extents[e];
        uint64_t start = item->base_offset + x->offset;
        if (start < x->offset || start > src_size)
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "item %u data starts at %llu, outside the %s (%zu bytes)",
                            item->id, (unsigned long long)start, item->construction_method ? "'idat' box" : "file",
                            src_size);
        uint64_t len = x->length ? x->length : src_size - start;
        if (len > src_size - start)
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED,
                            "item %u data (%llu bytes at %llu) runs past the end of the %s (%zu bytes)", item->id,
                            (unsigned long long)len, (unsigned long long)start,
                            item->construction_method ? "'idat' box" : "file", src_size);
        total += len;
    }
    if (total > max)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "item %u holds %llu bytes (limit %llu)", item->id,
                        (unsigned long long)total, (unsigned long long)max);
    *src_out = src;
    *src_size_out = src_size;
    *total_out = (size_t)total;
    return GAINMAP_OK;
}

/* Concatenates the extents item_source checked into buf; returns the length. */
static size_t item_copy(const gm_heif_item *item, const uint8_t *src, size_t src_size, uint8_t *buf)
{
    size_t pos = 0;
    for (uint32_t e = 0; e < item->nextents; e++) {
        const gm_heif_extent *x = &item->extents[e];
        size_t start = (size_t)(item->base_offset + x->offset);
        size_t len = (size_t)(x->length ? x->length : src_size - start);
        memcpy(buf + pos, src + start, len);
        pos += len;
    }
    return pos;
}

gainmap_status gm_heif_item_data(gainmap_ctx *ctx, const gm_heif *h, const gm_heif_item *item, uint64_t max,
                                 uint8_t **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    const uint8_t *src;
    size_t src_size, total;
    gainmap_status st = item_source(ctx, h, item, max, &src, &src_size, &total);
    if (st != GAINMAP_OK)
        return st;
    uint8_t *buf = gm_malloc(ctx, total + 1);
    if (!buf)
        return GAINMAP_ERR_NOMEM;
    size_t pos = item_copy(item, src, src_size, buf);
    buf[pos] = 0;
    *out = buf;
    *size = pos;
    return GAINMAP_OK;
}

gainmap_status gm_heif_grid_read(gainmap_ctx *ctx, const gm_heif *h, const gm_heif_item *item, gm_heif_grid *g)
{
    memset(g, 0, sizeof *g);
    /* at most 12 bytes: read into the stack, so sizes never fail for want of memory */
    uint8_t data[64];
    const uint8_t *src;
    size_t src_size, size;
    gainmap_status st = item_source(ctx, h, item, sizeof data, &src, &src_size, &size);
    if (st != GAINMAP_OK)
        return st;
    size = item_copy(item, src, src_size, data);
    gm_reader r;
    gm_rd_init(&r, data, size);
    g->version = gm_rd_u8(&r);
    g->flags = gm_rd_u8(&r);
    g->rows = gm_rd_u8(&r) + 1u;
    g->columns = gm_rd_u8(&r) + 1u;
    if (g->flags & 1) {
        g->output_width = gm_rd_u32be(&r);
        g->output_height = gm_rd_u32be(&r);
    } else {
        g->output_width = gm_rd_u16be(&r);
        g->output_height = gm_rd_u16be(&r);
    }
    if (!gm_rd_ok(&r))
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "grid item %u: ImageGrid data is cut short", item->id);
    if (g->version != 0)
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "grid item %u: ImageGrid version %u", item->id, g->version);
    g->tiles = gm_heif_ref_from(h, GM_4CC('d', 'i', 'm', 'g'), item->id);
    uint32_t n = g->tiles ? g->tiles->count : 0;
    if (n != g->rows * g->columns)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "grid item %u is %ux%u tiles but has %u 'dimg' references", item->id,
                        g->columns, g->rows, n);
    return GAINMAP_OK;
}

bool gm_heif_item_size(const gm_heif *h, const gm_heif_item *item, uint32_t *w, uint32_t *hgt, bool displayed)
{
    const gm_heif_prop *ispe = gm_heif_item_prop(h, item, GM_4CC('i', 's', 'p', 'e'), 0);
    uint32_t W = 0, H = 0;
    if (ispe && ispe->ok) {
        W = ispe->width;
        H = ispe->height;
    } else if (item && item->type == GM_4CC('g', 'r', 'i', 'd')) {
        gm_heif_grid g;
        if (gm_heif_grid_read(NULL, h, item, &g) != GAINMAP_OK)
            return false;
        W = g.output_width;
        H = g.output_height;
    } else {
        return false;
    }
    const gm_heif_prop *irot = gm_heif_item_prop(h, item, GM_4CC('i', 'r', 'o', 't'), 0);
    if (displayed && irot && irot->ok && (irot->angle & 1)) {
        uint32_t t = W;
        W = H;
        H = t;
    }
    *w = W;
    *hgt = H;
    return true;
}

void gm_heif_item_colour(const gm_heif *h, const gm_heif_item *item, gm_heif_colour *c)
{
    memset(c, 0, sizeof *c);
    const gm_heif_prop *p;
    for (unsigned n = 0; (p = gm_heif_item_prop(h, item, GM_4CC('c', 'o', 'l', 'r'), n)) != NULL; n++) {
        if (!p->ok)
            continue;
        if (p->colour_type == GM_4CC('n', 'c', 'l', 'x') && !c->has_nclx) {
            c->has_nclx = true;
            c->cp = (uint8_t)GM_MIN(p->cp, 255);
            c->tc = (uint8_t)GM_MIN(p->tc, 255);
            c->mc = (uint8_t)GM_MIN(p->mc, 255);
            c->full_range = p->full_range;
        } else if (p->icc && !c->icc) {
            c->icc = p->icc;
            c->icc_size = p->icc_size;
        }
    }
    p = gm_heif_item_prop(h, item, GM_4CC('c', 'l', 'l', 'i'), 0);
    if (p && p->ok) {
        c->has_clli = true;
        c->max_cll = p->max_cll;
        c->max_fall = p->max_fall;
    }
    p = gm_heif_item_prop(h, item, GM_4CC('p', 'i', 'x', 'i'), 0);
    if (p && p->ok && p->channels) {
        c->pixi_channels = p->channels;
        c->pixi_depth = p->depth[0];
    }
}

/* ------------------------------------------------------------------ */
/* Finding the gain map                                                */
/* ------------------------------------------------------------------ */

#define G_ISSUE(g, sev, code, ...) issue_add((g)->issues, &(g)->nissues, 16, sev, code, __VA_ARGS__)

/* A private context for parses whose failure is only an issue: errors land
 * there, not in the caller's context. */
static gainmap_ctx *scratch_ctx(const gainmap_ctx *ctx, gainmap_ctx *buf)
{
    if (!ctx)
        return NULL;
    *buf = *ctx;
    buf->first_status = GAINMAP_OK;
    buf->error[0] = '\0';
    return buf;
}

static const char *scratch_msg(const gainmap_ctx *s, gainmap_status st)
{
    return s && s->error[0] ? s->error : gainmap_strerror(st);
}

/* An allocation failure in a part that is otherwise optional is not a fact
 * about the file: it goes to the caller's context as NOMEM. */
static gainmap_status pass_nomem(gainmap_ctx *ctx, const gainmap_ctx *s, const char *what, uint32_t id)
{
    return gm_error(ctx, GAINMAP_ERR_NOMEM, "%s (reading %s %u)", scratch_msg(s, GAINMAP_ERR_NOMEM), what, id);
}

static uint64_t meta_limit(const gainmap_ctx *ctx)
{
    return ctx ? (uint64_t)ctx->max_metadata_bytes : (uint64_t)16 << 20;
}

/* Position of id in group g, or -1. */
static long group_pos(const gm_heif_group *g, uint32_t id)
{
    for (uint32_t k = 0; k < g->count; k++)
        if (g->ids[k] == id)
            return (long)k;
    return -1;
}

/* The first 'mime' XMP item describing `id` (cdsc -> id), or 0. */
static uint32_t xmp_for(const gm_heif *h, uint32_t id)
{
    for (size_t i = 0; i < h->nitems; i++) {
        const gm_heif_item *it = &h->items[i];
        if (it->type == GM_4CC('m', 'i', 'm', 'e') && !strcmp(it->content_type, "application/rdf+xml") &&
            gm_heif_refers(h, GM_4CC('c', 'd', 's', 'c'), it->id, id))
            return it->id;
    }
    return 0;
}

static uint32_t exif_for(const gm_heif *h, uint32_t id)
{
    for (size_t i = 0; i < h->nitems; i++) {
        const gm_heif_item *it = &h->items[i];
        if (it->type == GM_4CC('E', 'x', 'i', 'f') && gm_heif_refers(h, GM_4CC('c', 'd', 's', 'c'), it->id, id))
            return it->id;
    }
    return 0;
}

/* *got: the item held XMP packets (x filled).  An unreadable item is only
 * "no XMP"; NOMEM is returned. */
static gainmap_status read_xmp(gainmap_ctx *ctx, const gm_heif *h, uint32_t id, gm_xmp *x, bool *got)
{
    *got = false;
    const gm_heif_item *it = gm_heif_item_by_id(h, id);
    uint8_t *data;
    size_t size;
    gainmap_ctx sbuf, *s = scratch_ctx(ctx, &sbuf);
    if (!it)
        return GAINMAP_OK;
    gainmap_status st = gm_heif_item_data(s, h, it, meta_limit(ctx), &data, &size);
    if (st == GAINMAP_ERR_NOMEM)
        return pass_nomem(ctx, s, "XMP item", id);
    if (st != GAINMAP_OK)
        return GAINMAP_OK;
    gm_xmp_parse(x, data, size);
    free(data);
    *got = x->packets > 0;
    return GAINMAP_OK;
}

/* EXIF item: u32 offset of the TIFF header from the end of that field
 * (ISO/IEC 23008-12 A.2.1), usually after "Exif\0\0". */
static gainmap_status read_exif(gainmap_ctx *ctx, const gm_heif *h, uint32_t id, gm_exif_facts *facts, bool *got)
{
    *got = false;
    const gm_heif_item *it = gm_heif_item_by_id(h, id);
    uint8_t *data;
    size_t size;
    gainmap_ctx sbuf, *s = scratch_ctx(ctx, &sbuf);
    if (!it)
        return GAINMAP_OK;
    gainmap_status st = gm_heif_item_data(s, h, it, meta_limit(ctx), &data, &size);
    if (st == GAINMAP_ERR_NOMEM)
        return pass_nomem(ctx, s, "EXIF item", id);
    if (st != GAINMAP_OK)
        return GAINMAP_OK;
    bool ok = false;
    if (size >= 12) {
        uint32_t off = gm_be32(data);
        size_t at = (off <= size - 12) ? 4 + (size_t)off : SIZE_MAX;
        if (at == SIZE_MAX || (memcmp(data + at, "MM\0*", 4) && memcmp(data + at, "II*\0", 4)))
            at = (size >= 14 && !memcmp(data + 4, "Exif\0\0", 6)) ? 10 : SIZE_MAX;
        if (at != SIZE_MAX) {
            gm_exif_read(data + at, size - at, facts);
            ok = true;
        }
    }
    free(data);
    *got = ok;
    return GAINMAP_OK;
}

/* Apple headroom: the HDRGainMap XMP wins over the maker notes (FORMATS 5.2). */
static gainmap_status apple_headroom(gainmap_ctx *ctx, const gm_heif *h, gm_heif_gainmap *g)
{
    uint32_t ids[2] = {g->map_xmp_id, g->base_xmp_id};
    bool got;
    gainmap_status st;
    for (int i = 0; i < 2; i++) {
        if (!ids[i])
            continue;
        gm_xmp x;
        gm_xmp_init(&x);
        if ((st = read_xmp(ctx, h, ids[i], &x, &got)) != GAINMAP_OK)
            return st;
        if (got && x.has_apple_headroom && x.apple_headroom >= 1.0) {
            g->apple_headroom = x.apple_headroom;
            g->apple_headroom_source = 1;
            return GAINMAP_OK;
        }
    }
    gm_exif_facts f;
    if (!g->exif_id)
        return GAINMAP_OK;
    if ((st = read_exif(ctx, h, g->exif_id, &f, &got)) != GAINMAP_OK)
        return st;
    if (got && f.has_apple_headroom) {
        g->apple_headroom = f.apple_headroom;
        g->apple_headroom_source = 2;
    }
    return GAINMAP_OK;
}

/* Payload length the layout of FORMATS 3.2 implies for these flags. */
static size_t iso_expected_size(uint8_t flags)
{
    size_t nc = (flags & GM_ISO_FLAG_MULTICHANNEL) ? 3 : 1;
    return (flags & GM_ISO_FLAG_COMMON_DENOM) ? 5 + 12 + 20 * nc : 5 + 16 + 40 * nc;
}

/* Try one tmap item; *usable when it is (g filled).  NOMEM is returned,
 * everything else about the item is an issue. */
static gainmap_status try_tmap(gainmap_ctx *ctx, const gm_heif *h, const gm_heif_item *t, gm_heif_gainmap *g,
                               bool *usable)
{
    *usable = false;
    const gm_heif_ref *dimg = gm_heif_ref_from(h, GM_4CC('d', 'i', 'm', 'g'), t->id);
    if (!dimg || dimg->count != 2) {
        G_ISSUE(g, GAINMAP_SEVERITY_ERROR, "tmap-inputs",
                "tmap item %u has %u 'dimg' inputs instead of 2 (base, gain map); it is ignored", t->id,
                dimg ? dimg->count : 0);
        return GAINMAP_OK;
    }
    const gm_heif_item *base = gm_heif_item_by_id(h, dimg->to[0]);
    const gm_heif_item *map = gm_heif_item_by_id(h, dimg->to[1]);
    if (!gm_heif_is_image(base) || !gm_heif_is_image(map)) {
        G_ISSUE(g, GAINMAP_SEVERITY_ERROR, "tmap-inputs",
                "tmap item %u: input %u or %u is not an image item we can decode; it is ignored", t->id,
                dimg->to[0], dimg->to[1]);
        return GAINMAP_OK;
    }
    /* libavif: a tmap outside an 'altr' group, or not preferred to its base, is not used. */
    bool in_group = false, preferred = false;
    for (size_t i = 0; i < h->ngroups; i++) {
        const gm_heif_group *grp = &h->groups[i];
        if (grp->type != GM_4CC('a', 'l', 't', 'r'))
            continue;
        long pt = group_pos(grp, t->id), pb = group_pos(grp, base->id);
        if (pt < 0)
            continue;
        in_group = true;
        if (pb < 0 || pt < pb)
            preferred = true;
    }
    if (!in_group) {
        G_ISSUE(g, GAINMAP_SEVERITY_WARNING, "tmap-not-in-altr",
                "tmap item %u is not in an 'altr' group, so readers such as libavif ignore it; the gain map is ignored",
                t->id);
        return GAINMAP_OK;
    }
    if (!preferred) {
        G_ISSUE(g, GAINMAP_SEVERITY_WARNING, "tmap-not-preferred",
                "the 'altr' group lists base item %u before tmap item %u, so the tmap is not the preferred "
                "rendition; the gain map is ignored",
                base->id, t->id);
        return GAINMAP_OK;
    }
    uint8_t *payload;
    size_t size;
    gainmap_ctx sbuf, *s = scratch_ctx(ctx, &sbuf);
    gainmap_status st = gm_heif_item_data(s, h, t, 4096, &payload, &size);
    if (st == GAINMAP_ERR_NOMEM)
        return pass_nomem(ctx, s, "tmap item", t->id);
    if (st != GAINMAP_OK) {
        G_ISSUE(g, GAINMAP_SEVERITY_ERROR, "tmap-data", "tmap item %u: %s; it is ignored", t->id,
                scratch_msg(s, st));
        return GAINMAP_OK;
    }
    bool ok = false;
    if (size < 1) {
        G_ISSUE(g, GAINMAP_SEVERITY_ERROR, "tmap-data", "tmap item %u has no data; it is ignored", t->id);
    } else if (payload[0] != 0) {
        G_ISSUE(g, GAINMAP_SEVERITY_WARNING, "tmap-version",
                "tmap item %u has version %u (only 0 is defined); the gain map is ignored", t->id, payload[0]);
    } else if (size >= 3 && gm_be16(payload + 1) != 0) {
        G_ISSUE(g, GAINMAP_SEVERITY_WARNING, "iso-version",
                "tmap item %u needs ISO 21496-1 minimum_version %u (0 is supported); the gain map is ignored", t->id,
                gm_be16(payload + 1));
    } else if (size >= 6 && gm_be16(payload + 3) == 0 && size - 1 > iso_expected_size(payload[5])) {
        /* FORMATS pitfall 21: extra bytes are allowed only from a newer writer */
        G_ISSUE(g, GAINMAP_SEVERITY_ERROR, "tmap-trailing",
                "tmap item %u: %zu bytes follow the ISO 21496-1 metadata although writer_version is 0; the gain "
                "map is rejected",
                t->id, size - 1 - iso_expected_size(payload[5]));
    } else {
        ok = true;
    }
    if (!ok) {
        free(payload);
        g->ignored_tmap_id = t->id;
        return GAINMAP_OK;
    }
    g->tmap_version = payload[0];
    g->iso_payload_size = GM_MIN(size - 1, sizeof g->iso_payload);
    memcpy(g->iso_payload, payload + 1, g->iso_payload_size);
    s = scratch_ctx(ctx, &sbuf);
    g->iso_status = gainmap_iso21496_parse(s, payload + 1, size - 1, &g->metadata);
    free(payload);
    if (g->iso_status == GAINMAP_ERR_NOMEM)
        return pass_nomem(ctx, s, "tmap item", t->id);
    if (g->iso_status == GAINMAP_OK) {
        g->has_metadata = true;
    } else if (g->iso_status == GAINMAP_ERR_UNSUPPORTED && size - 1 == iso_expected_size(g->iso_payload[4])) {
        /* a well-sized payload whose parser is not available: keep the raw bytes */
        G_ISSUE(g, GAINMAP_SEVERITY_INFO, "iso-unparsed", "tmap item %u: %s", t->id, scratch_msg(s, g->iso_status));
    } else {
        G_ISSUE(g, GAINMAP_SEVERITY_ERROR, "tmap-metadata", "tmap item %u: %s; the gain map is ignored", t->id,
                scratch_msg(s, g->iso_status));
        memset(&g->metadata, 0, sizeof g->metadata);
        g->ignored_tmap_id = t->id;
        return GAINMAP_OK;
    }
    if (base->id != h->primary_id)
        G_ISSUE(g, GAINMAP_SEVERITY_WARNING, "tmap-base-not-primary",
                "the tmap's base image (item %u) is not the primary item (%u)", base->id, h->primary_id);
    if (!gm_heif_has_brand(h, GM_4CC('t', 'm', 'a', 'p')))
        G_ISSUE(g, GAINMAP_SEVERITY_WARNING, "no-tmap-brand", "the file has a tmap item but no 'tmap' brand in 'ftyp'");
    g->kind = GM_HEIF_GM_TMAP;
    g->tmap_id = t->id;
    g->base_id = base->id;
    g->map_id = map->id;
    *usable = true;
    return GAINMAP_OK;
}

static void fill_geometry(const gm_heif *h, gm_heif_gainmap *g)
{
    const gm_heif_item *base = gm_heif_item_by_id(h, g->base_id), *map = gm_heif_item_by_id(h, g->map_id);
    gm_heif_item_size(h, base, &g->base_width, &g->base_height, false);
    gm_heif_item_size(h, base, &g->base_display_width, &g->base_display_height, true);
    gm_heif_item_size(h, map, &g->map_width, &g->map_height, false);
    gm_heif_item_size(h, map, &g->map_display_width, &g->map_display_height, true);
    const gm_heif_prop *p = gm_heif_item_prop(h, base, GM_4CC('i', 'r', 'o', 't'), 0);
    g->base_angle = p && p->ok ? p->angle : 0;
    p = gm_heif_item_prop(h, map, GM_4CC('i', 'r', 'o', 't'), 0);
    g->map_angle = p && p->ok ? p->angle : 0;
    gm_heif_item_colour(h, base, &g->base_colour);
    gm_heif_item_colour(h, map, &g->map_colour);
    /* coded channels: a grid's tiles carry the codec configuration */
    const gm_heif_item *coded = map;
    if (map && map->type == GM_4CC('g', 'r', 'i', 'd')) {
        const gm_heif_ref *tiles = gm_heif_ref_from(h, GM_4CC('d', 'i', 'm', 'g'), map->id);
        coded = tiles && tiles->count ? gm_heif_item_by_id(h, tiles->to[0]) : NULL;
    }
    const gm_heif_prop *cfg = gm_heif_item_prop(h, coded, GM_4CC('h', 'v', 'c', 'C'), 0);
    if (!cfg)
        cfg = gm_heif_item_prop(h, coded, GM_4CC('a', 'v', '1', 'C'), 0);
    if (cfg && cfg->ok)
        g->map_channels = cfg->chroma_format == 0 ? 1 : 3;
    else
        g->map_channels = g->map_colour.pixi_channels == 1 ? 1 : 3;
    if (g->tmap_id) {
        const gm_heif_item *t = gm_heif_item_by_id(h, g->tmap_id);
        p = gm_heif_item_prop(h, t, GM_4CC('i', 's', 'p', 'e'), 0);
        if (p && p->ok) {
            g->tmap_width = p->width;
            g->tmap_height = p->height;
        }
        p = gm_heif_item_prop(h, t, GM_4CC('i', 'r', 'o', 't'), 0);
        g->tmap_angle = p && p->ok ? p->angle : 0;
        gm_heif_item_colour(h, t, &g->tmap_colour);
    }
    const gm_heif_prop *aux = gm_heif_item_prop(h, map, GM_4CC('a', 'u', 'x', 'C'), 0);
    if (aux && aux->ok)
        snprintf(g->map_aux_type, sizeof g->map_aux_type, "%s", aux->aux_type);
}

/* Apple -> ISO approximation (FORMATS 5.3, libavif): the exact Apple curve
 * stays available through kind APPLE and apple_headroom. */
static bool apple_metadata(double headroom, gainmap_metadata *m)
{
    gainmap_params p;
    memset(&p, 0, sizeof p);
    p.channel_count = 1;
    p.use_base_colour_space = 1;
    p.alternate_hdr_headroom = log2(headroom);
    for (int c = 0; c < 3; c++) {
        p.gain_map_max[c] = p.alternate_hdr_headroom;
        p.gamma[c] = 1.0;
    }
    if (gainmap_params_to_metadata(&p, m) != GAINMAP_OK)
        return false;
    m->kind = GAINMAP_KIND_APPLE;
    m->apple_headroom = headroom;
    return true;
}

gainmap_status gm_heif_find_gainmap(gainmap_ctx *ctx, const gm_heif *h, gm_heif_gainmap *g)
{
    memset(g, 0, sizeof *g);
    for (size_t i = 0; i < h->nitems && g->kind == GM_HEIF_GM_NONE; i++) {
        const gm_heif_item *t = &h->items[i];
        if (t->type == GM_4CC('t', 'm', 'a', 'p')) {
            gm_heif_gainmap tmp = *g;
            bool usable;
            gainmap_status st = try_tmap(ctx, h, t, &tmp, &usable);
            if (st != GAINMAP_OK)
                return st;
            if (usable) {
                *g = tmp;
            } else {
                /* keep only the issues and what was ignored */
                memcpy(g->issues, tmp.issues, sizeof g->issues);
                g->nissues = tmp.nissues;
                g->ignored_tmap_id = t->id;
            }
        }
    }
    if (g->kind == GM_HEIF_GM_NONE) {
        static const struct {
            const char *urn;
            gm_heif_gm_kind kind;
        } aux_kinds[] = {{GM_HEIF_AUX_APPLE, GM_HEIF_GM_APPLE_AUX},
                         {GM_HEIF_AUX_SAMSUNG, GM_HEIF_GM_SAMSUNG_AUX},
                         {GM_HEIF_AUX_ADOBE, GM_HEIF_GM_ADOBE_AUX}};
        for (size_t i = 0; i < h->nitems && g->kind == GM_HEIF_GM_NONE; i++) {
            const gm_heif_item *it = &h->items[i];
            const gm_heif_prop *aux = gm_heif_item_prop(h, it, GM_4CC('a', 'u', 'x', 'C'), 0);
            if (!aux || !aux->ok || !gm_heif_is_image(it))
                continue;
            for (size_t k = 0; k < sizeof aux_kinds / sizeof aux_kinds[0]; k++) {
                if (strcmp(aux->aux_type, aux_kinds[k].urn) != 0)
                    continue;
                if (!gm_heif_refers(h, GM_4CC('a', 'u', 'x', 'l'), it->id, h->primary_id)) {
                    G_ISSUE(g, GAINMAP_SEVERITY_WARNING, "aux-not-primary",
                            "gain-map item %u (%s) is not an auxiliary image of the primary item; it is ignored",
                            it->id, aux->aux_type);
                    break;
                }
                g->kind = aux_kinds[k].kind;
                g->base_id = h->primary_id;
                g->map_id = it->id;
                break;
            }
        }
    }
    if (g->kind == GM_HEIF_GM_NONE)
        return GAINMAP_ERR_NO_GAINMAP;
    fill_geometry(h, g);
    g->map_xmp_id = xmp_for(h, g->map_id);
    g->base_xmp_id = xmp_for(h, g->base_id);
    g->exif_id = exif_for(h, g->base_id);
    g->apple = strcmp(g->map_aux_type, GM_HEIF_AUX_APPLE) == 0;
    if (g->apple) {
        gainmap_status st = apple_headroom(ctx, h, g);
        if (st != GAINMAP_OK)
            return st;
    }
    gainmap_ctx sbuf, *s;
    switch (g->kind) {
    case GM_HEIF_GM_APPLE_AUX:
        if (g->apple_headroom >= 1.0 && apple_metadata(g->apple_headroom, &g->metadata))
            g->has_metadata = true;
        else
            G_ISSUE(g, GAINMAP_SEVERITY_ERROR, "apple-no-headroom",
                    "Apple gain map item %u has no usable headroom (no HDRGainMapHeadroom XMP, no maker-note tags 33/48)",
                    g->map_id);
        break;
    case GM_HEIF_GM_SAMSUNG_AUX:
    case GM_HEIF_GM_ADOBE_AUX: {
        gm_xmp x;
        gm_xmp_init(&x);
        bool got = false;
        gainmap_status st = GAINMAP_OK;
        if (g->map_xmp_id && (st = read_xmp(ctx, h, g->map_xmp_id, &x, &got)) != GAINMAP_OK)
            return st;
        got = got && x.has_hdrgm;
        if (!got && g->base_xmp_id) {
            gm_xmp_init(&x);
            if ((st = read_xmp(ctx, h, g->base_xmp_id, &x, &got)) != GAINMAP_OK)
                return st;
            got = got && x.has_hdrgm;
        }
        s = scratch_ctx(ctx, &sbuf);
        st = got ? gm_xmp_to_metadata(s, &x, &g->metadata) : GAINMAP_ERR_NO_GAINMAP;
        if (st == GAINMAP_ERR_NOMEM)
            return pass_nomem(ctx, s, "XMP of gain-map item", g->map_id);
        if (st == GAINMAP_OK)
            g->has_metadata = true;
        else
            G_ISSUE(g, GAINMAP_SEVERITY_ERROR, "aux-no-metadata", "auxiliary gain map item %u: %s", g->map_id,
                    got ? scratch_msg(s, st) : "no hdrgm XMP describes it");
        break;
    }
    default:
        break;
    }
    if (g->tmap_id && g->tmap_width && g->base_display_width &&
        !((g->tmap_width == g->base_width && g->tmap_height == g->base_height) ||
          (g->tmap_width == g->base_display_width && g->tmap_height == g->base_display_height)))
        G_ISSUE(g, GAINMAP_SEVERITY_WARNING, "tmap-size",
                "tmap item %u is %ux%u but its base image is %ux%u", g->tmap_id, g->tmap_width, g->tmap_height,
                g->base_display_width, g->base_display_height);
    if (g->map_angle != g->base_angle)
        G_ISSUE(g, GAINMAP_SEVERITY_WARNING, "map-rotation",
                "the gain map is rotated by %u quarter turns but the base by %u", g->map_angle, g->base_angle);
    return GAINMAP_OK;
}

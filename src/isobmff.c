/* isobmff.c - ISO/IEC 14496-12 box reader and writer.
 *
 * The reader never trusts a size field: every box is checked against the
 * bytes of its parent before a sub-reader is handed out, so a parser that
 * only reads through box->body cannot leave the box it is looking at. */
#include "internal.h"

#include <string.h>

const char *gm_fourcc_str(uint32_t type, char buf[5])
{
    for (int i = 0; i < 4; i++) {
        uint8_t c = (uint8_t)(type >> (24 - 8 * i));
        buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
    }
    buf[4] = '\0';
    return buf;
}

gainmap_status gm_box_read(gainmap_ctx *ctx, gm_reader *r, gm_box *box)
{
    memset(box, 0, sizeof *box);
    size_t start = r->pos;
    box->offset = start;
    if (gm_rd_left(r) < 8)
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "box header at offset %zu is cut short (%zu bytes left)", start,
                        gm_rd_left(r));
    uint64_t size = gm_rd_u32be(r);
    box->type = gm_rd_u32be(r);
    size_t header = 8;
    char name[5];
    if (size == 1) {
        if (gm_rd_left(r) < 8)
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'%s' box at offset %zu: 64-bit size is cut short",
                            gm_fourcc_str(box->type, name), start);
        size = gm_rd_u64be(r);
        header = 16;
        box->large = true;
    } else if (size == 0) {
        /* ISO/IEC 14496-12 4.2: size 0 = the box extends to the end of its container. */
        size = (uint64_t)(r->size - start);
        box->to_end = true;
    }
    if (box->type == GM_4CC('u', 'u', 'i', 'd')) {
        const uint8_t *u = gm_rd_bytes(r, 16);
        if (!u)
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "'uuid' box at offset %zu: user type is cut short", start);
        memcpy(box->uuid, u, 16);
        header += 16;
    }
    if (size < header)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "'%s' box at offset %zu has size %llu, smaller than its header",
                        gm_fourcc_str(box->type, name), start, (unsigned long long)size);
    if (size > (uint64_t)(r->size - start))
        return gm_error(ctx, GAINMAP_ERR_TRUNCATED,
                        "'%s' box at offset %zu claims %llu bytes but only %zu remain",
                        gm_fourcc_str(box->type, name), start, (unsigned long long)size, r->size - start);
    box->header_size = header;
    box->size = (size_t)size;
    gm_rd_init(&box->body, r->data + start + header, box->size - header);
    gm_rd_seek(r, start + box->size);
    return GAINMAP_OK;
}

bool gm_box_full(gm_box *box)
{
    uint32_t vf = gm_rd_u32be(&box->body);
    if (!gm_rd_ok(&box->body))
        return false;
    box->version = (uint8_t)(vf >> 24);
    box->flags = vf & 0xFFFFFFu;
    return true;
}

void gm_box_iter_init(gm_box_iter *it, gm_reader body, unsigned depth)
{
    memset(it, 0, sizeof *it);
    it->r = body;
    it->depth = depth;
}

int gm_box_next(gainmap_ctx *ctx, gm_box_iter *it, gm_box *box)
{
    if (it->status != GAINMAP_OK)
        return -1;
    if (!gm_rd_ok(&it->r) || gm_rd_left(&it->r) == 0)
        return 0;
    if (it->depth > GM_BOX_MAX_DEPTH) {
        it->status = gm_error(ctx, GAINMAP_ERR_LIMIT, "boxes are nested more than %d deep", GM_BOX_MAX_DEPTH);
        return -1;
    }
    if (it->count >= GM_BOX_MAX_CHILDREN) {
        it->status = gm_error(ctx, GAINMAP_ERR_LIMIT, "a box holds more than %d child boxes", GM_BOX_MAX_CHILDREN);
        return -1;
    }
    gainmap_status st = gm_box_read(ctx, &it->r, box);
    if (st != GAINMAP_OK) {
        it->status = st;
        return -1;
    }
    it->count++;
    return 1;
}

void gm_box_iter_children(const gm_box_iter *parent, const gm_box *box, gm_box_iter *child)
{
    gm_box_iter_init(child, box->body, parent->depth + 1);
}

bool gm_box_is_container(uint32_t type)
{
    switch (type) {
    case GM_4CC('m', 'o', 'o', 'v'):
    case GM_4CC('t', 'r', 'a', 'k'):
    case GM_4CC('m', 'd', 'i', 'a'):
    case GM_4CC('m', 'i', 'n', 'f'):
    case GM_4CC('s', 't', 'b', 'l'):
    case GM_4CC('d', 'i', 'n', 'f'):
    case GM_4CC('e', 'd', 't', 's'):
    case GM_4CC('i', 'p', 'r', 'p'):
    case GM_4CC('i', 'p', 'c', 'o'):
    case GM_4CC('g', 'r', 'p', 'l'):
    case GM_4CC('u', 'd', 't', 'a'):
        return true;
    default:
        return false;
    }
}

/* Children of a FullBox container start after version/flags (and for iinf
 * and iref after their own fields). */
static size_t full_container_skip(uint32_t type, const gm_box *box)
{
    switch (type) {
    case GM_4CC('m', 'e', 't', 'a'): return 4;
    case GM_4CC('i', 'r', 'e', 'f'): return 4;
    case GM_4CC('i', 'i', 'n', 'f'): {
        if (box->body.size < 4)
            return SIZE_MAX;
        return box->body.data[0] == 0 ? 6 : 8;
    }
    default: return SIZE_MAX;
    }
}

static gainmap_status walk(gainmap_ctx *ctx, gm_box_iter *it, gm_box_visit visit, void *user)
{
    gm_box box;
    int rc;
    while ((rc = gm_box_next(ctx, it, &box)) == 1) {
        int v = visit(user, &box, it->depth);
        if (v < 0)
            return GAINMAP_ERR_INVALID_ARG;
        if (v == 0)
            continue;
        gm_box_iter child;
        gm_box_iter_children(it, &box, &child);
        size_t skip = gm_box_is_container(box.type) ? 0 : full_container_skip(box.type, &box);
        if (skip == SIZE_MAX)
            continue;
        if (!gm_rd_skip(&child.r, skip))
            return gm_error(ctx, GAINMAP_ERR_TRUNCATED, "box at offset %zu is too short for its fields", box.offset);
        gainmap_status st = walk(ctx, &child, visit, user);
        if (st != GAINMAP_OK)
            return st;
    }
    return rc < 0 ? it->status : GAINMAP_OK;
}

gainmap_status gm_box_walk(gainmap_ctx *ctx, const uint8_t *data, size_t size, gm_box_visit visit, void *user)
{
    gm_reader r;
    gm_rd_init(&r, data, size);
    gm_box_iter it;
    gm_box_iter_init(&it, r, 0);
    return walk(ctx, &it, visit, user);
}

/* ------------------------------------------------------------------ */
/* Writer                                                              */
/* ------------------------------------------------------------------ */

size_t gm_boxw_open(gm_buf *b, uint32_t type)
{
    size_t at = b->size;
    gm_buf_u32be(b, 0);
    gm_buf_u32be(b, type);
    return at;
}

size_t gm_boxw_open_full(gm_buf *b, uint32_t type, uint8_t version, uint32_t flags)
{
    size_t at = gm_boxw_open(b, type);
    gm_buf_u32be(b, ((uint32_t)version << 24) | (flags & 0xFFFFFFu));
    return at;
}

void gm_boxw_close(gm_buf *b, size_t at)
{
    if (b->bad || at > b->size || b->size - at < 8) {
        b->bad = true;
        return;
    }
    size_t size = b->size - at;
    if (size > UINT32_MAX) {
        b->bad = true;   /* we never write boxes over 4 GiB */
        return;
    }
    gm_buf_patch_u32be(b, at, (uint32_t)size);
}

void gm_boxw_raw(gm_buf *b, uint32_t type, const void *payload, size_t size)
{
    size_t at = gm_boxw_open(b, type);
    gm_buf_put(b, payload, size);
    gm_boxw_close(b, at);
}

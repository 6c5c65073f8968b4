/* bytes.c - the one bounds-checked reader for untrusted bytes, and a growable writer. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gm_rd_init(gm_reader *r, const uint8_t *data, size_t size)
{
    r->data = data;
    r->size = data ? size : 0;
    r->pos = 0;
    r->bad = false;
}

static const uint8_t *take(gm_reader *r, size_t n)
{
    if (r->bad || n > r->size - r->pos) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

bool gm_rd_seek(gm_reader *r, size_t pos)
{
    if (r->bad || pos > r->size) {
        r->bad = true;
        return false;
    }
    r->pos = pos;
    return true;
}

bool gm_rd_skip(gm_reader *r, size_t n)
{
    take(r, n);
    return !r->bad;
}

uint8_t gm_rd_u8(gm_reader *r)
{
    const uint8_t *p = take(r, 1);
    return p ? p[0] : 0;
}

uint16_t gm_rd_u16be(gm_reader *r)
{
    const uint8_t *p = take(r, 2);
    return p ? gm_be16(p) : 0;
}

uint32_t gm_rd_u32be(gm_reader *r)
{
    const uint8_t *p = take(r, 4);
    return p ? gm_be32(p) : 0;
}

uint64_t gm_rd_u64be(gm_reader *r)
{
    const uint8_t *p = take(r, 8);
    return p ? ((uint64_t)gm_be32(p) << 32) | gm_be32(p + 4) : 0;
}

uint16_t gm_rd_u16le(gm_reader *r)
{
    const uint8_t *p = take(r, 2);
    return p ? gm_le16(p) : 0;
}

uint32_t gm_rd_u32le(gm_reader *r)
{
    const uint8_t *p = take(r, 4);
    return p ? gm_le32(p) : 0;
}

const uint8_t *gm_rd_bytes(gm_reader *r, size_t n) { return take(r, n); }

gm_reader gm_rd_sub(gm_reader *r, size_t n)
{
    gm_reader sub;
    const uint8_t *p = take(r, n);
    gm_rd_init(&sub, p, p ? n : 0);
    sub.bad = (p == NULL);
    return sub;
}

void gm_buf_init(gm_buf *b) { memset(b, 0, sizeof *b); }

void gm_buf_free(gm_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

bool gm_buf_reserve(gm_buf *b, size_t extra)
{
    if (b->bad)
        return false;
    size_t need;
    if (!gm_add_size(b->size, extra, &need) || !gm_add_size(need, 1, &need)) {
        b->bad = true;
        return false;
    }
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->bad = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void gm_buf_put(gm_buf *b, const void *data, size_t n)
{
    if (!n || !gm_buf_reserve(b, n))
        return;
    memcpy(b->data + b->size, data, n);
    b->size += n;
    b->data[b->size] = 0;
}

void gm_buf_u8(gm_buf *b, uint8_t v) { gm_buf_put(b, &v, 1); }

void gm_buf_u16be(gm_buf *b, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    gm_buf_put(b, p, 2);
}

void gm_buf_u32be(gm_buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    gm_buf_put(b, p, 4);
}

void gm_buf_u16le(gm_buf *b, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    gm_buf_put(b, p, 2);
}

void gm_buf_u32le(gm_buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    gm_buf_put(b, p, 4);
}

void gm_buf_u16o(gm_buf *b, bool le, uint16_t v)
{
    if (le)
        gm_buf_u16le(b, v);
    else
        gm_buf_u16be(b, v);
}

void gm_buf_u32o(gm_buf *b, bool le, uint32_t v)
{
    if (le)
        gm_buf_u32le(b, v);
    else
        gm_buf_u32be(b, v);
}

void gm_buf_patch_u32o(gm_buf *b, bool le, size_t at, uint32_t v)
{
    if (b->bad || at + 4 > b->size) {
        b->bad = true;
        return;
    }
    for (int i = 0; i < 4; i++)
        b->data[at + (size_t)i] = (uint8_t)(le ? v >> (8 * i) : v >> (24 - 8 * i));
}

void gm_buf_str(gm_buf *b, const char *s) { gm_buf_put(b, s, strlen(s)); }

void gm_buf_printf(gm_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->bad = true;
        return;
    }
    if (!gm_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->size, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->size += (size_t)n;
}

void gm_buf_patch_u16be(gm_buf *b, size_t at, uint16_t v)
{
    if (b->bad || at + 2 > b->size) {
        b->bad = true;
        return;
    }
    b->data[at] = (uint8_t)(v >> 8);
    b->data[at + 1] = (uint8_t)v;
}

void gm_buf_patch_u32be(gm_buf *b, size_t at, uint32_t v)
{
    if (b->bad || at + 4 > b->size) {
        b->bad = true;
        return;
    }
    b->data[at] = (uint8_t)(v >> 24);
    b->data[at + 1] = (uint8_t)(v >> 16);
    b->data[at + 2] = (uint8_t)(v >> 8);
    b->data[at + 3] = (uint8_t)v;
}

uint8_t *gm_buf_take(gm_buf *b, size_t *size)
{
    if (b->bad) {
        gm_buf_free(b);
        return NULL;
    }
    if (!b->data && !gm_buf_reserve(b, 0))
        return NULL;
    uint8_t *p = b->data;
    if (size)
        *size = b->size;
    memset(b, 0, sizeof *b);
    return p;
}

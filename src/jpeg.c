/* jpeg.c - JPEG segment walker (ITU-T T.81 B.1): markers, segments, SOF, and
 * the entropy-coded data walk that finds an image's true EOI. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void gm_jpeg_layout_free(gm_jpeg_layout *l)
{
    if (!l)
        return;
    free(l->segs);
    memset(l, 0, sizeof *l);
}

static gainmap_status push_segment(gainmap_ctx *ctx, gm_jpeg_layout *l, size_t *cap, const gm_jpeg_segment *s)
{
    if (l->nsegs == *cap) {
        size_t ncap = *cap ? *cap * 2 : 32;
        if (ncap > 1000000)
            return gm_error(ctx, GAINMAP_ERR_LIMIT, "JPEG has more than a million marker segments");
        gm_jpeg_segment *p = realloc(l->segs, ncap * sizeof *p);
        if (!p)
            return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory listing JPEG segments");
        l->segs = p;
        *cap = ncap;
    }
    l->segs[l->nsegs++] = *s;
    return GAINMAP_OK;
}

/* SOFn markers: C0-C3, C5-C7, C9-CB, CD-CF (C4 DHT, C8 JPG, CC DAC are not frames). */
static bool is_sof(uint8_t m)
{
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

/* Skip entropy-coded data starting at pos; return the offset of the next
 * real marker's 0xFF (not FF00 stuffing, not RSTn, not fill), or size. */
static size_t skip_entropy(const uint8_t *data, size_t size, size_t pos)
{
    while (pos < size) {
        const uint8_t *p = memchr(data + pos, 0xFF, size - pos);
        if (!p)
            return size;
        size_t at = (size_t)(p - data);
        size_t q = at + 1;
        while (q < size && data[q] == 0xFF)   /* fill bytes */
            q++;
        if (q >= size)
            return size;
        uint8_t m = data[q];
        if (m == 0x00 || (m >= 0xD0 && m <= 0xD7)) {
            pos = q + 1;
            continue;
        }
        return q - 1;   /* the last 0xFF of the run is the marker prefix */
    }
    return size;
}

gainmap_status gm_jpeg_scan(gainmap_ctx *ctx, const uint8_t *data, size_t size, size_t start,
                            gm_jpeg_layout *out)
{
    memset(out, 0, sizeof *out);
    if (!data || start > size || size - start < 2 || data[start] != 0xFF || data[start + 1] != 0xD8)
        return gm_error(ctx, GAINMAP_ERR_FORMAT, "not a JPEG image (no SOI marker at offset %zu)", start);
    out->start = start;
    gainmap_status st = GAINMAP_OK;
    size_t cap = 0;
    size_t pos = start + 2;
    bool seen_sos = false, seen_sof = false;
    for (;;) {
        /* Expect a marker: optional fill bytes 0xFF, then the code. */
        if (pos >= size)
            goto truncated;
        if (data[pos] != 0xFF) {
            /* Stray bytes (libjpeg: "extraneous bytes before marker"): skip to the next 0xFF. */
            const uint8_t *p = memchr(data + pos, 0xFF, size - pos);
            if (!p)
                goto truncated;
            out->extraneous += (size_t)(p - (data + pos));
            pos = (size_t)(p - data);
        }
        while (pos < size && data[pos] == 0xFF)
            pos++;
        if (pos >= size)
            goto truncated;
        size_t mpos = pos - 1;
        uint8_t m = data[pos++];
        if (m == 0x00) {   /* FF00 outside entropy data: stray bytes */
            out->extraneous += 2;
            continue;
        }
        if (m == 0xD9) {   /* EOI */
            if (!seen_sof || !seen_sos) {
                st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "JPEG image at offset %zu has no %s before its end marker",
                              start, !seen_sof ? "frame header (SOF)" : "scan (SOS)");
                goto fail;
            }
            out->eoi_end = pos;
            return GAINMAP_OK;
        }
        if (m == 0xD8) {
            st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "JPEG image at offset %zu has a second SOI at offset %zu", start,
                          mpos);
            goto fail;
        }
        if ((m >= 0xD0 && m <= 0xD7) || m == 0x01)   /* RSTn / TEM: no length */
            continue;
        if (size - pos < 2)
            goto truncated;
        size_t len = gm_be16(data + pos);
        if (len < 2) {
            st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "JPEG segment FF%02X at offset %zu has length %zu", m, mpos, len);
            goto fail;
        }
        if (len > size - pos)
            goto truncated;
        gm_jpeg_segment s = {m, mpos, (pos + len) - mpos, pos + 2, len - 2};
        st = push_segment(ctx, out, &cap, &s);
        if (st != GAINMAP_OK)
            goto fail;
        pos += len;
        if (is_sof(m) && !seen_sof) {
            if (len < 8) {
                st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "JPEG frame header (SOF) at offset %zu is too short", mpos);
                goto fail;
            }
            const uint8_t *p = data + s.payload;
            out->sof_marker = m;
            out->precision = p[0];
            out->height = gm_be16(p + 1);
            out->width = gm_be16(p + 3);
            out->components = p[5];
            seen_sof = true;
        }
        if (m == 0xDA) {
            if (!seen_sof) {
                st = gm_error(ctx, GAINMAP_ERR_CORRUPT,
                              "JPEG scan (SOS) at offset %zu comes before the frame header (SOF)", mpos);
                goto fail;
            }
            if (!seen_sos) {
                out->nheader = out->nsegs - 1;
                out->sos_offset = mpos;
                seen_sos = true;
            }
            pos = skip_entropy(data, size, pos);
        }
    }
truncated:
    if (!seen_sof)
        st = gm_error(ctx, GAINMAP_ERR_TRUNCATED,
                      "JPEG data ends at byte %zu, inside the header of the image at offset %zu (before its frame header)",
                      size, start);
    else
        st = gm_error(ctx, GAINMAP_ERR_TRUNCATED,
                      "JPEG data ends at byte %zu, before the end-of-image marker of the image at offset %zu", size,
                      start);
fail:
    gm_jpeg_layout_free(out);
    return st;
}

long gm_jpeg_find(const gm_jpeg_layout *l, const uint8_t *data, uint8_t marker, const void *prefix,
                  size_t prefix_len, size_t n)
{
    size_t end = l->nheader ? l->nheader : l->nsegs;
    for (size_t i = 0; i < end; i++) {
        const gm_jpeg_segment *s = &l->segs[i];
        if (s->marker != marker || s->payload_size < prefix_len)
            continue;
        if (prefix_len && memcmp(data + s->payload, prefix, prefix_len) != 0)
            continue;
        if (n-- == 0)
            return (long)i;
    }
    return -1;
}

size_t gm_jpeg_next_soi(const uint8_t *data, size_t size, size_t from)
{
    while (from < size) {
        const uint8_t *p = memchr(data + from, 0xFF, size - from);
        if (!p)
            break;
        size_t at = (size_t)(p - data);
        if (size - at >= 3 && data[at + 1] == 0xD8 && data[at + 2] == 0xFF)
            return at;
        from = at + 1;
    }
    return SIZE_MAX;
}

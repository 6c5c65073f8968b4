/* apple.c - EXIF facts: orientation and Apple's maker-note HDR headroom
 * (FORMATS.md 5.3).  The Apple maker note is always big-endian and its value
 * offsets are relative to the start of the maker note. */
#include "internal.h"

#include <math.h>
#include <string.h>

typedef struct tiff {
    const uint8_t *data;
    size_t size;
    bool be;
} tiff;

static uint16_t t16(const tiff *t, const uint8_t *p) { return t->be ? gm_be16(p) : gm_le16(p); }
static uint32_t t32(const tiff *t, const uint8_t *p) { return t->be ? gm_be32(p) : gm_le32(p); }

/* Entry `tag` of the IFD at `ifd`: pointer to its 12 bytes, or NULL. */
static const uint8_t *find_tag(const tiff *t, uint32_t ifd, uint16_t tag)
{
    if (ifd > t->size || t->size - ifd < 2)
        return NULL;
    uint16_t n = t16(t, t->data + ifd);
    for (uint32_t i = 0; i < n; i++) {
        size_t at = (size_t)ifd + 2 + 12u * i;
        if (at > t->size || t->size - at < 12)
            return NULL;
        if (t16(t, t->data + at) == tag)
            return t->data + at;
    }
    return NULL;
}

double gm_apple_headroom(double m33, double m48)
{
    double stops;
    if (m33 < 1.0)
        stops = m48 <= 0.01 ? -20.0 * m48 + 1.8 : -0.101 * m48 + 1.601;
    else
        stops = m48 <= 0.01 ? -70.0 * m48 + 3.0 : -0.303 * m48 + 2.303;
    return exp2(fmax(stops, 0.0));
}

/* An SRATIONAL (type 10, count 1) entry of the maker note: true when usable. */
static bool maker_rational(const tiff *mn, const uint8_t *e, double *out)
{
    if (!e || gm_be16(e + 2) != 10 || gm_be32(e + 4) != 1)
        return false;
    uint32_t off = gm_be32(e + 8);
    if (off > mn->size || mn->size - off < 8)
        return false;
    int32_t n = (int32_t)gm_be32(mn->data + off);
    int32_t d = (int32_t)gm_be32(mn->data + off + 4);
    if (d == 0)
        return false;
    *out = (double)n / (double)d;
    return true;
}

static void read_maker_note(const uint8_t *p, size_t size, gm_exif_facts *out)
{
    /* "Apple iOS" 00 | 00 01 | "MM", then the IFD */
    if (size < 16 || memcmp(p, "Apple iOS", 10) != 0 || memcmp(p + 12, "MM", 2) != 0)
        return;
    tiff mn = {p, size, true};
    out->has_maker33 = maker_rational(&mn, find_tag(&mn, 14, 0x0021), &out->maker33);
    out->has_maker48 = maker_rational(&mn, find_tag(&mn, 14, 0x0030), &out->maker48);
    if (out->has_maker33 || out->has_maker48) {
        /* a missing tag counts as 0 (libultrahdr, libavif) */
        out->has_apple_headroom = true;
        out->apple_headroom = gm_apple_headroom(out->has_maker33 ? out->maker33 : 0.0,
                                                out->has_maker48 ? out->maker48 : 0.0);
    }
}

void gm_exif_read(const uint8_t *data, size_t size, gm_exif_facts *out)
{
    memset(out, 0, sizeof *out);
    if (!data || size < 8)
        return;
    tiff t = {data, size, false};
    if (!memcmp(data, "MM\0*", 4))
        t.be = true;
    else if (memcmp(data, "II*\0", 4) != 0)
        return;
    uint32_t ifd0 = t32(&t, data + 4);
    const uint8_t *e = find_tag(&t, ifd0, 0x0112);
    if (e && t16(&t, e + 2) == 3 && t32(&t, e + 4) >= 1) {
        uint16_t o = t16(&t, e + 8);
        if (o >= 1 && o <= 8)
            out->orientation = o;
    }
    e = find_tag(&t, ifd0, 0x8769);
    if (!e)
        return;
    uint32_t exif_ifd = t32(&t, e + 8);
    e = find_tag(&t, exif_ifd, 0x927C);
    if (!e)
        return;
    uint32_t count = t32(&t, e + 4);
    uint32_t off = count <= 4 ? 0 : t32(&t, e + 8);
    if (count <= 4 || off > size || size - off < count)
        return;
    read_maker_note(data + off, count, out);
}

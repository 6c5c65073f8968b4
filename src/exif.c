/* exif.c - the EXIF the image readers and writers need (CIPA DC-008): find
 * and set the orientation tag (0x0112) in IFD0 of a TIFF-structure blob;
 * build a compact blob from a TIFF file's descriptive IFD0 tags and its
 * Exif, GPS and interoperability IFDs; lay those IFDs out again for the
 * TIFF writer. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define TAG_ORIENTATION 0x0112
#define TYPE_SHORT 3

/* Locate the orientation entry; returns its byte offset within the TIFF
 * structure (tiff points at "II"/"MM") or 0 when absent/malformed. */
static size_t find_orientation(const uint8_t *tiff, size_t size, bool *le)
{
    gm_reader r;
    gm_rd_init(&r, tiff, size);
    const uint8_t *bom = gm_rd_bytes(&r, 2);
    if (!bom)
        return 0;
    if (bom[0] == 'I' && bom[1] == 'I')
        *le = true;
    else if (bom[0] == 'M' && bom[1] == 'M')
        *le = false;
    else
        return 0;
    uint16_t magic = *le ? gm_rd_u16le(&r) : gm_rd_u16be(&r);
    uint32_t ifd = *le ? gm_rd_u32le(&r) : gm_rd_u32be(&r);
    if (!gm_rd_ok(&r) || magic != 42 || !gm_rd_seek(&r, ifd))
        return 0;
    uint16_t count = *le ? gm_rd_u16le(&r) : gm_rd_u16be(&r);
    for (uint16_t i = 0; i < count && gm_rd_ok(&r); i++) {
        size_t at = r.pos;
        uint16_t tag = *le ? gm_rd_u16le(&r) : gm_rd_u16be(&r);
        uint16_t type = *le ? gm_rd_u16le(&r) : gm_rd_u16be(&r);
        uint32_t n = *le ? gm_rd_u32le(&r) : gm_rd_u32be(&r);
        gm_rd_skip(&r, 4);
        if (gm_rd_ok(&r) && tag == TAG_ORIENTATION)
            return type == TYPE_SHORT && n >= 1 ? at : 0;
    }
    return 0;
}

static const uint8_t *skip_prefix(const uint8_t *exif, size_t *size)
{
    if (*size >= 6 && !memcmp(exif, "Exif\0\0", 6)) {
        *size -= 6;
        return exif + 6;
    }
    return exif;
}

int gm_exif_orientation(const uint8_t *exif, size_t size)
{
    if (!exif)
        return 0;
    const uint8_t *t = skip_prefix(exif, &size);
    bool le;
    size_t at = find_orientation(t, size, &le);
    if (!at)
        return 0;
    int v = le ? gm_le16(t + at + 8) : gm_be16(t + at + 8);
    return v >= 1 && v <= 8 ? v : 0;
}

bool gm_exif_set_orientation(uint8_t *exif, size_t size, int orientation)
{
    if (!exif || orientation < 1 || orientation > 8)
        return false;
    uint8_t *t = (uint8_t *)skip_prefix(exif, &size);
    bool le;
    size_t at = find_orientation(t, size, &le);
    if (!at)
        return false;
    t[at + 8] = le ? (uint8_t)orientation : 0;
    t[at + 9] = le ? 0 : (uint8_t)orientation;
    return true;
}

gainmap_status gm_exif_make(gainmap_ctx *ctx, int orientation, uint8_t **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    if (orientation < 1 || orientation > 8)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "EXIF orientation %d is not 1 to 8", orientation);
    gm_buf b;
    gm_buf_init(&b);
    gm_buf_put(&b, "II*\0", 4);
    gm_buf_u32le(&b, 8);          /* IFD0 right after the header */
    gm_buf_u16le(&b, 1);          /* one entry */
    gm_buf_u16le(&b, TAG_ORIENTATION);
    gm_buf_u16le(&b, TYPE_SHORT);
    gm_buf_u32le(&b, 1);
    gm_buf_u16le(&b, (uint16_t)orientation);
    gm_buf_u16le(&b, 0);          /* value padding */
    gm_buf_u32le(&b, 0);          /* no next IFD */
    if (b.bad) {
        gm_buf_free(&b);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory building EXIF");
    }
    *out = gm_buf_take(&b, size);
    return GAINMAP_OK;
}

/* ------------------------------------------------------------------ */
/* EXIF out of a whole TIFF file, and its sub-IFDs back into one.      */
/* ------------------------------------------------------------------ */
enum { K_IFD0, K_EXIF, K_GPS, K_INTEROP, K_KINDS };

#define TAG_EXIF_IFD 0x8769
#define TAG_GPS_IFD 0x8825
#define TAG_INTEROP_IFD 0xA005
#define TAG_MAKER_NOTE 0x927C
#define TYPE_LONG 4
#define TYPE_IFD 13
#define MAX_IFD_ENTRIES 512   /* more: the IFD is taken as broken */

typedef struct ex_ent {
    uint16_t tag, type;
    uint32_t count;
    const uint8_t *value;   /* size bytes in the source's byte order; NULL for a sub-IFD pointer */
    size_t size;
    int sub;                /* pointer to IFD kind sub (K_EXIF...), 0 for a value */
} ex_ent;

typedef struct ex_set {
    const uint8_t *d;
    size_t n;
    bool le;
    size_t max_value, max_maker;   /* per-entry caps (bytes) */
    ex_ent e[K_KINDS][MAX_IFD_ENTRIES + 2];
    int count[K_KINDS];
    uint32_t at[K_KINDS];          /* where each IFD was read (0: not read) */
} ex_set;

static size_t type_size(uint16_t type)
{
    /* BYTE ASCII SHORT LONG RATIONAL SBYTE UNDEFINED SSHORT SLONG SRATIONAL
     * FLOAT DOUBLE; IFD (13) and the BigTIFF types are pointers or foreign */
    static const uint8_t sz[13] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8};
    return type < 13 ? sz[type] : 0;
}

static uint32_t rd16(gm_reader *r, bool le) { return le ? gm_rd_u16le(r) : gm_rd_u16be(r); }
static uint32_t rd32(gm_reader *r, bool le) { return le ? gm_rd_u32le(r) : gm_rd_u32be(r); }

/* IFD0 tags worth carrying: what describes the picture, not how a TIFF
 * stores it (strips, tiles, samples, ICC, XMP and Photoshop blocks go). */
static bool ifd0_descriptive(uint16_t tag)
{
    switch (tag) {
    case 0x010D: /* DocumentName */
    case 0x010E: /* ImageDescription */
    case 0x010F: /* Make */
    case 0x0110: /* Model */
    case 0x0112: /* Orientation */
    case 0x011A: /* XResolution */
    case 0x011B: /* YResolution */
    case 0x0128: /* ResolutionUnit */
    case 0x0131: /* Software */
    case 0x0132: /* DateTime */
    case 0x013B: /* Artist */
    case 0x013C: /* HostComputer */
    case 0x4746: /* Rating */
    case 0x4749: /* RatingPercent */
    case 0x8298: /* Copyright */
    case 0x9C9B: /* XPTitle */
    case 0x9C9C: /* XPComment */
    case 0x9C9D: /* XPAuthor */
    case 0x9C9E: /* XPKeywords */
    case 0x9C9F: /* XPSubject */
        return true;
    default:
        return false;
    }
}

/* Tags that hold file offsets (or IFDs we do not follow from here): they
 * would point nowhere in a rebuilt structure. */
static bool is_pointer_tag(uint16_t tag)
{
    return tag == 0x0111 || tag == 0x0117 || tag == 0x0144 || tag == 0x0145 || tag == 0x014A || tag == 0x0201 ||
           tag == 0x0202 || tag == TAG_EXIF_IFD || tag == TAG_GPS_IFD || tag == TAG_INTEROP_IFD;
}

/* A maker note survives a move only when its offsets are relative to
 * itself: Apple ("Apple iOS"), Nikon type 3 (own TIFF header at +10),
 * Fujifilm, Olympus/OM System new style.  Canon, Sony, Panasonic, Pentax...
 * count from the TIFF header of the file they came from. */
static bool maker_note_movable(const uint8_t *p, size_t n)
{
    return (n >= 10 && !memcmp(p, "Apple iOS\0", 10)) ||
           (n >= 18 && !memcmp(p, "Nikon\0\2", 7) && (!memcmp(p + 10, "II*\0", 4) || !memcmp(p + 10, "MM\0*", 4))) ||
           (n >= 12 && !memcmp(p, "FUJIFILM", 8)) ||
           (n >= 12 && (!memcmp(p, "OLYMPUS\0II", 10) || !memcmp(p, "OLYMPUS\0MM", 10))) ||
           (n >= 12 && !memcmp(p, "OM SYSTEM\0", 10));
}

/* Read the IFD of `kind` at off.  Entries with an unknown type, a value
 * outside the data or above the caps are skipped; sub-IFD pointers of IFD0
 * (Exif, GPS) and of the Exif IFD (interoperability) go to ptr[].  An IFD
 * outside the data, with too many entries or already read (a loop) is not
 * read at all. */
static bool read_ifd(ex_set *s, int kind, uint32_t off, uint32_t ptr[K_KINDS])
{
    if (off < 8)
        return false;
    for (int k = 0; k < K_KINDS; k++)
        if (s->at[k] == off)
            return false;
    gm_reader r;
    gm_rd_init(&r, s->d, s->n);
    gm_rd_seek(&r, off);
    uint32_t n = rd16(&r, s->le);
    if (!gm_rd_ok(&r) || n > MAX_IFD_ENTRIES || gm_rd_left(&r) < (size_t)n * 12)
        return false;
    s->at[kind] = off;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t tag = (uint16_t)rd16(&r, s->le), type = (uint16_t)rd16(&r, s->le);
        uint32_t count = rd32(&r, s->le);
        size_t field = r.pos;
        uint32_t word = rd32(&r, s->le);
        int sub = kind == K_IFD0 && tag == TAG_EXIF_IFD  ? K_EXIF
                  : kind == K_IFD0 && tag == TAG_GPS_IFD ? K_GPS
                  : kind == K_EXIF && tag == TAG_INTEROP_IFD ? K_INTEROP
                                                           : 0;
        if (sub) {
            if (count == 1 && (type == TYPE_LONG || type == TYPE_IFD) && !ptr[sub])
                ptr[sub] = word;
            continue;
        }
        if (kind == K_IFD0 ? !ifd0_descriptive(tag) : is_pointer_tag(tag))
            continue;
        size_t ts = type_size(type);
        size_t size;
        if (!ts || !count || !gm_mul_size(ts, count, &size))
            continue;
        bool maker = kind == K_EXIF && tag == TAG_MAKER_NOTE;
        if (size > (maker ? s->max_maker : s->max_value))
            continue;
        const uint8_t *value;
        if (size <= 4) {
            value = s->d + field;
        } else {
            if (word > s->n || size > s->n - word)
                continue;
            value = s->d + word;
        }
        if (maker && !maker_note_movable(value, size))
            continue;
        s->e[kind][s->count[kind]++] = (ex_ent){tag, type, count, value, size, 0};
    }
    return true;
}

/* Parse a TIFF structure (header at d) into s.  False when the header or
 * IFD0 is unusable. */
static bool collect(ex_set *s, const uint8_t *d, size_t n, size_t max_value, size_t max_maker)
{
    memset(s->count, 0, sizeof s->count);
    memset(s->at, 0, sizeof s->at);
    s->d = d;
    s->n = n;
    s->max_value = max_value;
    s->max_maker = max_maker;
    if (n < 8 || !((d[0] == 'I' && d[1] == 'I') || (d[0] == 'M' && d[1] == 'M')))
        return false;
    s->le = d[0] == 'I';
    gm_reader r;
    gm_rd_init(&r, d, n);
    gm_rd_skip(&r, 2);
    uint32_t magic = rd16(&r, s->le), ifd0 = rd32(&r, s->le);
    if (!gm_rd_ok(&r) || magic != 42)   /* BigTIFF (43) is not EXIF's form */
        return false;
    uint32_t ptr[K_KINDS] = {0, 0, 0, 0};
    if (!read_ifd(s, K_IFD0, ifd0, ptr))
        return false;
    if (ptr[K_EXIF] && read_ifd(s, K_EXIF, ptr[K_EXIF], ptr) && ptr[K_INTEROP])
        read_ifd(s, K_INTEROP, ptr[K_INTEROP], ptr);
    if (ptr[K_GPS])
        read_ifd(s, K_GPS, ptr[K_GPS], ptr);
    if (!s->count[K_EXIF])
        s->count[K_INTEROP] = 0;   /* nothing would point at it */
    return true;
}




/* Write one IFD at the end of b (which will sit at file offset base): its
 * entries in ascending tag order (the first of duplicates kept), next-IFD
 * 0, then the values that do not fit in the entries, each at an even
 * offset.  The field of a pointer to IFD kind k goes to slot[k]. */
static void write_ifd(gm_buf *b, bool le, uint64_t base, const ex_ent *e, int n, size_t slot[K_KINDS])
{
    int order[MAX_IFD_ENTRIES + 2];
    int m = 0;
    for (int i = 0; i < n; i++) {
        int j = m;
        while (j > 0 && e[order[j - 1]].tag > e[i].tag)
            j--;
        if (j > 0 && e[order[j - 1]].tag == e[i].tag)
            continue;
        memmove(order + j + 1, order + j, (size_t)(m - j) * sizeof *order);
        order[j] = i;
        m++;
    }
    gm_buf_u16o(b, le, (uint16_t)m);
    size_t fields[MAX_IFD_ENTRIES + 2];
    for (int k = 0; k < m; k++) {
        const ex_ent *x = &e[order[k]];
        gm_buf_u16o(b, le, x->tag);
        gm_buf_u16o(b, le, x->type);
        gm_buf_u32o(b, le, x->count);
        fields[k] = b->size;
        uint8_t v[4] = {0, 0, 0, 0};
        if (x->value && x->size <= 4)
            memcpy(v, x->value, x->size);
        gm_buf_put(b, v, 4);
        if (x->sub)
            slot[x->sub] = fields[k];
    }
    gm_buf_u32o(b, le, 0);
    for (int k = 0; k < m; k++) {
        const ex_ent *x = &e[order[k]];
        if (!x->value || x->size <= 4)
            continue;
        if ((base + b->size) & 1)
            gm_buf_u8(b, 0);
        gm_buf_patch_u32o(b, le, fields[k], (uint32_t)(base + b->size));
        gm_buf_put(b, x->value, x->size);
    }
}

/* Lay out s: header and IFD0 when with_ifd0 (base 0), then the Exif IFD,
 * the interoperability IFD and the GPS IFD.  at[k]: offset of IFD k (0 when
 * not written). */
static void write_set(ex_set *s, gm_buf *b, bool with_ifd0, uint64_t base, uint32_t at[K_KINDS])
{
    size_t slot[K_KINDS] = {0, 0, 0, 0};
    memset(at, 0, K_KINDS * sizeof *at);
    if (s->count[K_EXIF])
        s->e[K_IFD0][s->count[K_IFD0]++] = (ex_ent){TAG_EXIF_IFD, TYPE_LONG, 1, NULL, 4, K_EXIF};
    if (s->count[K_GPS])
        s->e[K_IFD0][s->count[K_IFD0]++] = (ex_ent){TAG_GPS_IFD, TYPE_LONG, 1, NULL, 4, K_GPS};
    if (s->count[K_INTEROP])
        s->e[K_EXIF][s->count[K_EXIF]++] = (ex_ent){TAG_INTEROP_IFD, TYPE_LONG, 1, NULL, 4, K_INTEROP};
    if (with_ifd0) {
        gm_buf_put(b, s->le ? "II*\0" : "MM\0*", 4);
        gm_buf_u32o(b, s->le, 8);
        write_ifd(b, s->le, base, s->e[K_IFD0], s->count[K_IFD0], slot);
    }
    static const int kinds[3] = {K_EXIF, K_INTEROP, K_GPS};
    for (int i = 0; i < 3; i++) {
        int k = kinds[i];
        if (!s->count[k])
            continue;
        if ((base + b->size) & 1)
            gm_buf_u8(b, 0);
        at[k] = (uint32_t)(base + b->size);
        if (slot[k])
            gm_buf_patch_u32o(b, s->le, slot[k], at[k]);
        write_ifd(b, s->le, base, s->e[k], s->count[k], slot);
    }
}

void gm_exif_from_tiff(const uint8_t *file, size_t size, size_t limit, uint8_t **out, size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    ex_set *s = malloc(sizeof *s);
    if (!s)
        return;
    /* Fit one JPEG APP1 segment and the limit: shed the maker note, then
     * long values, before giving up. */
    static const size_t caps[3][2] = {{65535, 32768}, {4096, 0}, {64, 0}};
    if (limit > GM_EXIF_MAX_BYTES)
        limit = GM_EXIF_MAX_BYTES;
    for (int level = 0; level < 3; level++) {
        if (!collect(s, file, size, caps[level][0], caps[level][1]))
            break;
        bool worth = s->count[K_EXIF] || s->count[K_GPS];
        for (int i = 0; i < s->count[K_IFD0] && !worth; i++) {
            uint16_t t = s->e[K_IFD0][i].tag;
            worth = t != TAG_ORIENTATION && t != 0x011A && t != 0x011B && t != 0x0128;
        }
        if (!worth)
            break;   /* the orientation alone travels in img->orientation */
        gm_buf b;
        gm_buf_init(&b);
        uint32_t at[K_KINDS];
        write_set(s, &b, true, 0, at);
        if (!b.bad && b.size <= limit) {
            *out = gm_buf_take(&b, out_size);
            break;
        }
        gm_buf_free(&b);
        if (b.bad)
            break;
    }
    free(s);
}

/* gm_exif_from_tiff_fd: the bytes collect() may read, copied with pread into
 * a zero-filled buffer of the file's size at their own offsets.  Large
 * zero allocations come from the kernel untouched, so only the pages of the
 * IFDs and their values take memory.  A file that shrank meanwhile reads
 * short and leaves zeros (a mapping of it would raise SIGBUS instead). */
static void gather(int fd, uint64_t size, uint8_t *buf, uint64_t off, uint64_t len)
{
    if (off >= size)
        return;
    if (len > size - off)
        len = size - off;
    (void)gm_read_all(fd, buf + off, (size_t)len, (int64_t)off);   /* short: zeros stay */
}

static void gather_ifd(int fd, uint64_t size, uint8_t *buf, bool le, uint32_t off, int depth)
{
    gather(fd, size, buf, off, 2);
    if ((uint64_t)off + 2 > size)
        return;
    gm_reader r;
    gm_rd_init(&r, buf, (size_t)size);
    gm_rd_seek(&r, off);
    uint32_t n = rd16(&r, le);
    if (n > MAX_IFD_ENTRIES)
        return;
    gather(fd, size, buf, (uint64_t)off + 2, (uint64_t)n * 12);
    for (uint32_t i = 0; i < n && gm_rd_ok(&r); i++) {
        uint16_t tag = (uint16_t)rd16(&r, le), type = (uint16_t)rd16(&r, le);
        uint32_t count = rd32(&r, le), word = rd32(&r, le);
        if (!gm_rd_ok(&r))
            return;
        if ((tag == TAG_EXIF_IFD || tag == TAG_GPS_IFD || tag == TAG_INTEROP_IFD) && depth < 2) {
            gather_ifd(fd, size, buf, le, word, depth + 1);
            continue;
        }
        if (depth == 0 ? !ifd0_descriptive(tag) : is_pointer_tag(tag))
            continue;   /* read_ifd skips these without looking at their values */
        uint64_t bytes = (uint64_t)type_size(type) * count;
        if (bytes > 4 && bytes <= 65535)   /* collect() takes no longer value */
            gather(fd, size, buf, word, bytes);
    }
}

void gm_exif_from_tiff_fd(int fd, uint64_t size, size_t limit, uint8_t **out, size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    if (size < 8 || (uint64_t)(size_t)size != size)
        return;
    uint8_t *buf = calloc(1, (size_t)size);
    if (!buf)
        return;   /* no EXIF rather than no image */
    gather(fd, size, buf, 0, 8);
    if ((buf[0] == 'I' && buf[1] == 'I') || (buf[0] == 'M' && buf[1] == 'M')) {
        bool le = buf[0] == 'I';
        gm_reader r;
        gm_rd_init(&r, buf, 8);
        gm_rd_skip(&r, 4);
        gather_ifd(fd, size, buf, le, rd32(&r, le), 0);
        gm_exif_from_tiff(buf, (size_t)size, limit, out, out_size);
    }
    free(buf);
}

bool gm_exif_sub_ifds(const uint8_t *exif, size_t size, uint64_t base, gm_buf *out, uint32_t *exif_at,
                      uint32_t *gps_at)
{
    *exif_at = *gps_at = 0;
    if (!exif)
        return false;
    const uint8_t *t = skip_prefix(exif, &size);
    ex_set *s = malloc(sizeof *s);
    if (!s)
        return false;
    bool ok = collect(s, t, size, 65535, 32768) && (s->count[K_EXIF] || s->count[K_GPS]);
    if (ok) {
        uint32_t at[K_KINDS];
        size_t before = out->size;
        write_set(s, out, false, base, at);
        ok = !out->bad && base + (out->size - before) <= UINT32_MAX;
        *exif_at = at[K_EXIF];
        *gps_at = at[K_GPS];
    }
    free(s);
    return ok;
}

bool gm_exif_find(const uint8_t *exif, size_t size, uint16_t ifd, uint16_t tag, gm_exif_value *v)
{
    memset(v, 0, sizeof *v);
    if (!exif)
        return false;
    int kind = ifd == 0 ? K_IFD0 : ifd == TAG_EXIF_IFD ? K_EXIF : ifd == TAG_GPS_IFD ? K_GPS
                                 : ifd == TAG_INTEROP_IFD ? K_INTEROP : -1;
    if (kind < 0)
        return false;
    const uint8_t *t = skip_prefix(exif, &size);
    ex_set *s = malloc(sizeof *s);
    if (!s)
        return false;
    bool found = false;
    if (collect(s, t, size, SIZE_MAX, SIZE_MAX)) {
        for (int i = 0; i < s->count[kind] && !found; i++) {
            const ex_ent *x = &s->e[kind][i];
            if (x->tag == tag) {
                *v = (gm_exif_value){x->type, x->count, x->value, x->size, s->le};
                found = true;
            }
        }
    }
    free(s);
    return found;
}

char gm_exif_byte_order(const uint8_t *exif, size_t size)
{
    if (!exif)
        return 0;
    const uint8_t *t = skip_prefix(exif, &size);
    if (size < 8 || t[0] != t[1] || (t[0] != 'I' && t[0] != 'M'))
        return 0;
    return (char)t[0];
}

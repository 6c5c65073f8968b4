/* gmfile.c - open a gain-map file: walk the primary JPEG, read its APPn
 * metadata, locate the gain-map JPEG (MPF, then GContainer, then the next SOI
 * after the primary's EOI), read the map's metadata and pick the effective
 * metadata (ISO 21496-1 over hdrgm XMP; Apple on its own).  validate.c turns
 * what is recorded here into the issue list. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char APPLE_AUX_URN[] = "urn:com:apple:photo:2020:aux:hdrgainmap";

/* A throw-away copy of ctx (same limits, no error) for parses whose failure
 * is recorded as an issue rather than returned. */
static void scratch_ctx(gainmap_ctx *tmp, const gainmap_ctx *ctx)
{
    if (ctx) {
        *tmp = *ctx;
    } else {
        gainmap_ctx *d = gainmap_ctx_new();
        if (d) {
            *tmp = *d;
            gainmap_ctx_free(d);
        } else {
            memset(tmp, 0, sizeof *tmp);
        }
    }
    gainmap_clear_error(tmp);
}

static void copy_msg(char *dst, size_t n, const gainmap_ctx *tmp, gainmap_status st)
{
    const char *m = gainmap_last_error(tmp);
    snprintf(dst, n, "%s", m && *m ? m : gainmap_strerror(st));
}

static bool is_jpeg_at(const gainmap_file *f, uint64_t off)
{
    return off < f->size && f->size - off >= 3 && f->data[off] == 0xFF && f->data[off + 1] == 0xD8 &&
           f->data[off + 2] == 0xFF;
}

/* Concatenate the ICC_PROFILE APP2 chunks in sequence order (ICC.1 B.4). */
static gainmap_status read_icc(gainmap_ctx *ctx, gainmap_file *f)
{
    const gm_jpeg_layout *l = &f->base;
    size_t off[256] = {0}, len[256] = {0};
    bool have[256] = {false};
    int count = -1;
    size_t total = 0;
    for (size_t n = 0;; n++) {
        long i = gm_jpeg_find(l, f->data, 0xE2, GM_ICC_ID, GM_ICC_ID_LEN, n);
        if (i < 0)
            break;
        const gm_jpeg_segment *s = &l->segs[i];
        f->icc_chunks++;
        if (s->payload_size < GM_ICC_ID_LEN + 2) {
            f->icc_broken = true;
            continue;
        }
        const uint8_t *p = f->data + s->payload + GM_ICC_ID_LEN;
        int seq = p[0], cnt = p[1];
        if (count < 0)
            count = cnt;
        if (cnt != count || seq < 1 || seq > cnt || have[seq]) {
            f->icc_broken = true;
            continue;
        }
        have[seq] = true;
        off[seq] = s->payload + GM_ICC_ID_LEN + 2;
        len[seq] = s->payload_size - GM_ICC_ID_LEN - 2;
        total += len[seq];
    }
    f->icc_chunks_expected = count < 0 ? 0 : count;
    if (count <= 0)
        return GAINMAP_OK;
    for (int k = 1; k <= count; k++)
        if (!have[k])
            f->icc_broken = true;
    if (f->icc_broken || total == 0)
        return GAINMAP_OK;
    gainmap_status st = gm_check_meta_size(ctx, total, "ICC profile");
    if (st != GAINMAP_OK)
        return st;
    f->icc = gm_malloc(ctx, total);
    if (!f->icc)
        return GAINMAP_ERR_NOMEM;
    size_t at = 0;
    for (int k = 1; k <= count; k++) {
        memcpy(f->icc + at, f->data + off[k], len[k]);
        at += len[k];
    }
    f->icc_size = total;
    return GAINMAP_OK;
}

/* XMP packets, Extended-XMP presence, EXIF facts and the ISO block of one image. */
static void read_app_metadata(const gainmap_file *f, const gm_jpeg_layout *l, gm_xmp *xmp, bool *ext_xmp,
                              gm_exif_facts *exif, size_t *exif_off, size_t *exif_size, long *iso_seg)
{
    gm_xmp_init(xmp);
    for (size_t n = 0;; n++) {
        long i = gm_jpeg_find(l, f->data, 0xE1, GM_XMP_ID, GM_XMP_ID_LEN, n);
        if (i < 0)
            break;
        const gm_jpeg_segment *s = &l->segs[i];
        gm_xmp_parse(xmp, f->data + s->payload + GM_XMP_ID_LEN, s->payload_size - GM_XMP_ID_LEN);
    }
    /* Extended XMP (pitfall 19) is ignored: gain-map fields live in the main packet. */
    if (ext_xmp)
        *ext_xmp = gm_jpeg_find(l, f->data, 0xE1, GM_XMP_EXT_ID, GM_XMP_EXT_ID_LEN, 0) >= 0;
    memset(exif, 0, sizeof *exif);
    long e = gm_jpeg_find(l, f->data, 0xE1, GM_EXIF_ID, GM_EXIF_ID_LEN, 0);
    if (e >= 0) {
        const gm_jpeg_segment *s = &l->segs[e];
        gm_exif_read(f->data + s->payload + GM_EXIF_ID_LEN, s->payload_size - GM_EXIF_ID_LEN, exif);
        if (exif_off) {
            *exif_off = s->payload + GM_EXIF_ID_LEN;
            *exif_size = s->payload_size - GM_EXIF_ID_LEN;
        }
    }
    *iso_seg = gm_jpeg_find(l, f->data, 0xE2, GM_ISO_ID, GM_ISO_ID_LEN, 0);
}

static bool item_is(const gm_xmp_item *it, const char *semantic) { return !strcmp(it->semantic, semantic); }

/* MPF: the map entry's absolute offset, trying the TIFF-header base first and
 * then the bases buggy writers use (pitfall 3). */
static void locate_by_mpf(gainmap_file *f, size_t mpf_marker)
{
    if (!f->has_mpf || f->mpf_broken || f->mpf.nentries < 2)
        return;
    const gm_mpf_entry *e = &f->mpf.entries[1];
    f->mpf_map_index = 1;
    f->mpf_map_entry_size = e->size;
    uint64_t bases[3] = {f->mpf.tiff_base, 0, mpf_marker};
    f->mpf_map_offset = (uint64_t)f->mpf.tiff_base + e->offset;
    for (int mode = 0; mode < 3; mode++) {
        uint64_t at = bases[mode] + e->offset;
        if (is_jpeg_at(f, at)) {
            f->mpf_offset_mode = mode;
            f->mpf_points_to_jpeg = true;
            f->mpf_map_offset = at;
            return;
        }
    }
}

static void locate_by_gcontainer(gainmap_file *f)
{
    const gm_xmp *x = &f->xmp_primary;
    if (x->nitems < 2 || !item_is(&x->items[0], "Primary"))
        return;
    uint64_t at = f->base.eoi_end + (uint64_t)(x->items[0].padding > 0 ? x->items[0].padding : 0);
    for (int k = 1; k < x->nitems; k++) {
        const gm_xmp_item *it = &x->items[k];
        if (item_is(it, "GainMap")) {
            f->has_gcontainer_offset = true;
            f->gcontainer_offset = at;
            f->gcontainer_length = it->length > 0 ? (uint64_t)it->length : 0;
            f->gcontainer_points_to_jpeg = is_jpeg_at(f, at);
            return;
        }
        if (it->length < 0)
            return;   /* cannot skip an item of unknown length */
        at += (uint64_t)it->length + (uint64_t)(it->padding > 0 ? it->padding : 0);
    }
}

static gainmap_status open_jpeg(gainmap_ctx *ctx, gainmap_file *f)
{
    gainmap_status st = gm_jpeg_scan(ctx, f->data, f->size, 0, &f->base);
    if (st != GAINMAP_OK)
        return st;
    gainmap_info *info = &f->info;
    info->container = GAINMAP_CONTAINER_JPEG;
    info->base_width = f->base.width;
    info->base_height = f->base.height;
    info->base_components = f->base.components;
    info->base_offset = 0;
    info->base_size = f->base.eoi_end;

    long iso_seg;
    read_app_metadata(f, &f->base, &f->xmp_primary, &f->has_ext_xmp, &f->exif, &f->exif_offset, &f->exif_size,
                      &iso_seg);
    info->orientation = f->exif.orientation ? f->exif.orientation : 1;
    if (iso_seg >= 0) {
        f->iso_stub = true;
        f->iso_stub_full = f->base.segs[iso_seg].payload_size - GM_ISO_ID_LEN != 4;
    }
    st = read_icc(ctx, f);
    if (st != GAINMAP_OK)
        return st;
    info->base_primaries = GAINMAP_PRIMARIES_BT709;
    info->base_transfer = GAINMAP_TRANSFER_SRGB;
    if (f->icc) {
        gainmap_ctx tmp;
        scratch_ctx(&tmp, ctx);
        gainmap_primaries pr;
        gainmap_transfer tf;
        st = gainmap_icc_identify(&tmp, f->icc, f->icc_size, &pr, &tf);
        if (st == GAINMAP_ERR_NOMEM)
            return gm_error(ctx, st, "%s (reading the primary image's ICC profile)", gainmap_last_error(&tmp));
        if (st == GAINMAP_OK) {
            if (pr != GAINMAP_PRIMARIES_UNKNOWN)
                info->base_primaries = pr;
            if (tf != GAINMAP_TRANSFER_UNKNOWN)
                info->base_transfer = tf;
        }
    }

    /* MPF */
    long mpf_seg = gm_jpeg_find(&f->base, f->data, 0xE2, GM_MPF_ID, GM_MPF_ID_LEN, 0);
    size_t mpf_marker = 0;
    f->mpf_map_index = -1;
    if (mpf_seg >= 0) {
        const gm_jpeg_segment *s = &f->base.segs[mpf_seg];
        gainmap_ctx tmp;
        scratch_ctx(&tmp, ctx);
        f->has_mpf = true;
        mpf_marker = s->offset;
        gainmap_status ms = gm_mpf_parse(&tmp, f->data + s->payload, s->payload_size, s->payload, &f->mpf);
        if (ms != GAINMAP_OK) {
            f->mpf_broken = true;
            copy_msg(f->mpf_error, sizeof f->mpf_error, &tmp, ms);
        }
    }

    const gm_xmp *xp = &f->xmp_primary;
    bool gc_gainmap = false;
    for (int k = 0; k < xp->nitems; k++)
        gc_gainmap |= item_is(&xp->items[k], "GainMap");
    f->map_announced = xp->has_version || f->iso_stub || gc_gainmap;

    locate_by_mpf(f, mpf_marker);
    locate_by_gcontainer(f);
    size_t soi = gm_jpeg_next_soi(f->data, f->size, f->base.eoi_end);
    f->scan_offset = soi == SIZE_MAX ? UINT64_MAX : soi;

    /* Pick the map stream: MPF, then GContainer, then the next SOI. */
    uint64_t map_at = UINT64_MAX;
    gainmap_locator loc = GAINMAP_LOCATOR_NONE;
    if (f->mpf_points_to_jpeg && f->mpf_map_offset != 0) {
        map_at = f->mpf_map_offset;
        loc = GAINMAP_LOCATOR_MPF;
    } else if (f->has_gcontainer_offset && f->gcontainer_points_to_jpeg) {
        map_at = f->gcontainer_offset;
        loc = GAINMAP_LOCATOR_GCONTAINER;
    } else if (f->scan_offset != UINT64_MAX) {
        map_at = f->scan_offset;
        loc = GAINMAP_LOCATOR_SCAN;
    }

    uint64_t known_end = f->base.eoi_end;
    if (map_at != UINT64_MAX) {
        gainmap_ctx tmp;
        scratch_ctx(&tmp, ctx);
        gainmap_status ms = gm_jpeg_scan(&tmp, f->data, f->size, (size_t)map_at, &f->map);
        if (ms == GAINMAP_OK) {
            f->has_map_layout = true;
        } else {
            copy_msg(f->map_error, sizeof f->map_error, &tmp, ms);
        }
    }

    /* The map's own metadata. */
    if (f->has_map_layout) {
        long miso;
        read_app_metadata(f, &f->map, &f->xmp_map, NULL, &f->map_exif, NULL, NULL, &miso);
        if (miso >= 0) {
            const gm_jpeg_segment *s = &f->map.segs[miso];
            gainmap_ctx tmp;
            scratch_ctx(&tmp, ctx);
            f->iso_in_map = true;
            f->iso_status = gainmap_iso21496_parse(&tmp, f->data + s->payload + GM_ISO_ID_LEN,
                                                   s->payload_size - GM_ISO_ID_LEN, &f->iso);
            if (f->iso_status == GAINMAP_OK)
                f->iso_status = gainmap_metadata_check(&tmp, &f->iso);
            if (f->iso_status != GAINMAP_OK)
                copy_msg(f->iso_error, sizeof f->iso_error, &tmp, f->iso_status);
        }
        if (f->xmp_map.has_hdrgm) {
            gainmap_ctx tmp;
            scratch_ctx(&tmp, ctx);
            f->xmp_meta_present = true;
            f->xmp_status = gm_xmp_to_metadata(&tmp, &f->xmp_map, &f->xmp_meta);
            if (f->xmp_status != GAINMAP_OK)
                copy_msg(f->xmp_error, sizeof f->xmp_error, &tmp, f->xmp_status);
        }
        f->apple_map = f->xmp_map.has_apple_version || !strcmp(f->xmp_map.aux_type, APPLE_AUX_URN);
    }
    bool map_has_meta = f->iso_in_map || f->xmp_meta_present || f->apple_map;
    /* A secondary image is the gain map only when something says so: a
     * stereo MPO's second frame is not one (FORMATS 2.1). */
    f->map_found = map_at != UINT64_MAX && (f->map_announced || map_has_meta);
    if (!f->map_found && f->has_map_layout) {
        gm_jpeg_layout_free(&f->map);
        f->has_map_layout = false;
        gm_xmp_init(&f->xmp_map);
        memset(&f->map_exif, 0, sizeof f->map_exif);
    }
    f->hdrgm_in_primary_only = !f->xmp_meta_present && !f->iso_in_map && !f->apple_map &&
                               (xp->gain_map_max.count != 0 || xp->capacity_max.count != 0);

    if (f->map_found) {
        info->locator = loc;
        info->map_offset = map_at;
        if (f->has_map_layout) {
            info->map_size = f->map.eoi_end - map_at;
            info->map_width = f->map.width;
            info->map_height = f->map.height;
            info->map_components = f->map.components;
            if (f->map.eoi_end > known_end)
                known_end = f->map.eoi_end;
        }
    }

    /* Effective metadata: ISO wins over XMP (pitfall 11); Apple on its own. */
    if (f->map_found && f->has_map_layout) {
        if (f->iso_in_map && f->iso_status == GAINMAP_OK) {
            info->meta = f->iso;
            info->meta_source = GAINMAP_META_ISO21496;
        } else if (f->xmp_meta_present && f->xmp_status == GAINMAP_OK) {
            info->meta = f->xmp_meta;
            info->meta_source = GAINMAP_META_XMP;
        } else if (f->apple_map) {
            /* XMP headroom (linear) wins over the maker notes (FORMATS 5.2) */
            if (f->xmp_map.has_apple_headroom && f->xmp_map.apple_headroom >= 1.0 &&
                isfinite(f->xmp_map.apple_headroom)) {
                f->apple_headroom = f->xmp_map.apple_headroom;
                f->apple_headroom_source = 1;
            } else if (f->exif.has_apple_headroom) {
                f->apple_headroom = f->exif.apple_headroom;
                f->apple_headroom_source = 2;
            }
            if (f->apple_headroom_source) {
                gainmap_params p;
                memset(&p, 0, sizeof p);
                p.channel_count = 1;
                p.use_base_colour_space = 1;
                p.alternate_hdr_headroom = log2(f->apple_headroom);
                p.gain_map_max[0] = log2(f->apple_headroom);
                p.gamma[0] = 1.0;
                if (gainmap_params_to_metadata(&p, &info->meta) == GAINMAP_OK) {
                    info->meta.kind = GAINMAP_KIND_APPLE;
                    info->meta.apple_headroom = f->apple_headroom;
                    info->meta_source = GAINMAP_META_APPLE;
                }
            }
        }
    }
    info->has_gainmap = info->meta_source != GAINMAP_META_NONE;

    unsigned d = 0;
    if (xp->has_hdrgm || f->xmp_map.has_hdrgm)
        d |= GAINMAP_DIALECT_HDRGM_XMP;
    if (xp->has_directory || xp->nitems)
        d |= GAINMAP_DIALECT_GCONTAINER;
    if (f->has_mpf)
        d |= GAINMAP_DIALECT_MPF;
    if (f->iso_stub || f->iso_in_map)
        d |= GAINMAP_DIALECT_ISO21496;
    if (f->xmp_map.has_apple || f->apple_map)
        d |= GAINMAP_DIALECT_APPLE;
    info->dialects = d;

    /* Other MPF images (depth maps, ...) count as known data. */
    if (f->has_mpf && !f->mpf_broken) {
        for (uint32_t i = 1; i < f->mpf.nentries; i++) {
            uint64_t at = (uint64_t)f->mpf.tiff_base + f->mpf.entries[i].offset;
            uint64_t end = at + f->mpf.entries[i].size;
            if (f->mpf.entries[i].offset && is_jpeg_at(f, at) && end <= f->size && end > known_end)
                known_end = end;
        }
    }
    f->trailing_bytes = f->size > known_end ? f->size - known_end : 0;
    return GAINMAP_OK;
}

/* ---- HEIF / AVIF (docs/heif.md) ------------------------------------------ */

/* Base colour: nclx when it names known primaries/transfer, else the ICC
 * profile's contents, else sRGB. */
static gainmap_status heif_base_colour(gainmap_ctx *ctx, const gm_heif_colour *c, gainmap_info *info)
{
    info->base_primaries = GAINMAP_PRIMARIES_UNKNOWN;
    info->base_transfer = GAINMAP_TRANSFER_UNKNOWN;
    if (c->has_nclx) {
        info->base_primaries = gainmap_primaries_from_cicp(c->cp);
        info->base_transfer = gainmap_transfer_from_cicp(c->tc);
    }
    if (c->icc && c->icc_size &&
        (info->base_primaries == GAINMAP_PRIMARIES_UNKNOWN || info->base_transfer == GAINMAP_TRANSFER_UNKNOWN)) {
        gainmap_ctx tmp;
        scratch_ctx(&tmp, ctx);
        gainmap_primaries pr;
        gainmap_transfer tf;
        gainmap_status st = gainmap_icc_identify(&tmp, c->icc, c->icc_size, &pr, &tf);
        if (st == GAINMAP_ERR_NOMEM)
            return gm_error(ctx, st, "%s (reading the base image's ICC profile)", gainmap_last_error(&tmp));
        if (st == GAINMAP_OK) {
            if (info->base_primaries == GAINMAP_PRIMARIES_UNKNOWN)
                info->base_primaries = pr;
            if (info->base_transfer == GAINMAP_TRANSFER_UNKNOWN)
                info->base_transfer = tf;
        }
    }
    if (info->base_primaries == GAINMAP_PRIMARIES_UNKNOWN)
        info->base_primaries = GAINMAP_PRIMARIES_BT709;
    if (info->base_transfer == GAINMAP_TRANSFER_UNKNOWN)
        info->base_transfer = GAINMAP_TRANSFER_SRGB;
    return GAINMAP_OK;
}

/* Byte range of a coded item stored as one extent (0/0 for grids and
 * multi-extent items). */
static void heif_item_range(const gm_heif *h, uint32_t id, uint64_t *off, uint64_t *size)
{
    const gm_heif_item *it = gm_heif_item_by_id(h, id);
    *off = *size = 0;
    if (!it || !it->has_location || it->nextents != 1 || it->construction_method > 1 ||
        it->type == GM_4CC('g', 'r', 'i', 'd'))
        return;
    uint64_t o = it->base_offset + it->extents[0].offset, n = it->extents[0].length;
    if (it->construction_method == 1)
        o += h->idat_offset;
    if (n == 0 || o > h->size || n > h->size - o)
        return;
    *off = o;
    *size = n;
}

/* The first item of this type describing `id` (cdsc -> id), or 0. */
static uint32_t heif_cdsc(const gm_heif *h, uint32_t type, const char *mime, uint32_t id)
{
    for (size_t i = 0; i < h->nitems; i++) {
        const gm_heif_item *it = &h->items[i];
        if (it->type == type && (!mime || !strcmp(it->content_type, mime)) &&
            gm_heif_refers(h, GM_4CC('c', 'd', 's', 'c'), it->id, id))
            return it->id;
    }
    return 0;
}

/* Out of memory while reading an optional part: the open fails (NOMEM in
 * ctx) rather than describing the file without that part. */
static gainmap_status heif_nomem(gainmap_ctx *ctx, const gainmap_ctx *tmp, const char *what, uint32_t id)
{
    const char *m = gainmap_last_error(tmp);
    return gm_error(ctx, GAINMAP_ERR_NOMEM, "%s (reading %s %u)", m && *m ? m : "out of memory", what, id);
}

/* EXIF item: a u32 offset to the TIFF header follows (ISO/IEC 23008-12 A.2.1).
 * An unreadable item is only "no EXIF"; NOMEM is returned. */
static gainmap_status heif_read_exif(gainmap_ctx *ctx, gainmap_file *f, uint32_t id)
{
    const gm_heif_item *it = gm_heif_item_by_id(f->heif, id);
    uint8_t *data;
    size_t size;
    gainmap_ctx tmp;
    scratch_ctx(&tmp, ctx);
    if (!it)
        return GAINMAP_OK;
    gainmap_status st = gm_heif_item_data(&tmp, f->heif, it, (uint64_t)tmp.max_metadata_bytes, &data, &size);
    if (st == GAINMAP_ERR_NOMEM)
        return heif_nomem(ctx, &tmp, "EXIF item", id);
    if (st != GAINMAP_OK)
        return GAINMAP_OK;
    size_t at = SIZE_MAX;
    if (size >= 12) {
        uint32_t off = gm_be32(data);
        at = off <= size - 12 ? 4 + (size_t)off : SIZE_MAX;
        if (at == SIZE_MAX || (memcmp(data + at, "MM\0*", 4) && memcmp(data + at, "II*\0", 4)))
            at = (size >= 14 && !memcmp(data + 4, "Exif\0\0", 6)) ? 10 : SIZE_MAX;
    }
    if (at == SIZE_MAX) {
        free(data);
        return GAINMAP_OK;
    }
    f->heif_exif = data;
    f->exif_offset = at;
    f->exif_size = size - at;
    gm_exif_read(data + at, size - at, &f->exif);
    return GAINMAP_OK;
}

/* An unreadable XMP item leaves x empty; NOMEM is returned. */
static gainmap_status heif_read_xmp(gainmap_ctx *ctx, gainmap_file *f, uint32_t id, gm_xmp *x)
{
    const gm_heif_item *it = gm_heif_item_by_id(f->heif, id);
    uint8_t *data;
    size_t size;
    gainmap_ctx tmp;
    scratch_ctx(&tmp, ctx);
    if (!it)
        return GAINMAP_OK;
    gainmap_status st = gm_heif_item_data(&tmp, f->heif, it, (uint64_t)tmp.max_metadata_bytes, &data, &size);
    if (st == GAINMAP_ERR_NOMEM)
        return heif_nomem(ctx, &tmp, "XMP item", id);
    if (st != GAINMAP_OK)
        return GAINMAP_OK;
    gm_xmp_parse(x, data, size);
    free(data);
    return GAINMAP_OK;
}

/* A single-image HEIF of one item for base_stream/map_stream; a failure that
 * is the file's is kept as a sentence for those calls, NOMEM is returned. */
static gainmap_status heif_extract(gainmap_ctx *ctx, gainmap_file *f, uint32_t id, uint8_t **out, size_t *size,
                                   char *err, size_t errn)
{
    gainmap_ctx tmp;
    scratch_ctx(&tmp, ctx);
    gainmap_status st = gm_heif_extract_item(&tmp, f->heif, id, out, size);
    if (st == GAINMAP_ERR_NOMEM)
        return heif_nomem(ctx, &tmp, "image item", id);
    if (st != GAINMAP_OK)
        copy_msg(err, errn, &tmp, st);
    return GAINMAP_OK;
}

static gainmap_status open_heif(gainmap_ctx *ctx, gainmap_file *f)
{
    gainmap_status st = gm_heif_parse(ctx, f->data, f->size, &f->heif);
    if (st != GAINMAP_OK)
        return st;
    const gm_heif *h = f->heif;
    if (!h->has_primary || !gm_heif_item_by_id(h, h->primary_id))
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "the HEIF file names no primary image item");
    f->hg = gm_calloc(ctx, 1, sizeof *f->hg);
    if (!f->hg)
        return GAINMAP_ERR_NOMEM;
    gm_heif_gainmap *g = f->hg;
    gainmap_status find = gm_heif_find_gainmap(ctx, h, g);
    if (find != GAINMAP_OK && find != GAINMAP_ERR_NO_GAINMAP)
        return find;
    for (size_t i = 0; i < h->nitems; i++)
        f->heif_has_tmap |= h->items[i].type == GM_4CC('t', 'm', 'a', 'p');
    for (size_t i = 0; i < h->nissues; i++)
        gm_issue_add(&f->issues, h->issues[i].severity, h->issues[i].code, "%s", h->issues[i].message);
    for (size_t i = 0; i < g->nissues; i++)
        gm_issue_add(&f->issues, g->issues[i].severity, g->issues[i].code, "%s", g->issues[i].message);

    gainmap_info *info = &f->info;
    info->container = GAINMAP_CONTAINER_HEIF;
    info->orientation = 1;   /* irot/imir are applied by the decoder; HEIF's EXIF orientation is informational */
    info->base_components = 3;
    uint32_t base_id = find == GAINMAP_OK ? g->base_id : h->primary_id;
    gm_heif_colour bc;
    if (find == GAINMAP_OK) {
        bc = g->base_colour;
        info->base_width = g->base_display_width;
        info->base_height = g->base_display_height;
    } else {
        const gm_heif_item *p = gm_heif_item_by_id(h, base_id);
        gm_heif_item_colour(h, p, &bc);
        gm_heif_item_size(h, p, &info->base_width, &info->base_height, true);
    }
    /* a grid without colour properties of its own takes its first tile's */
    const gm_heif_item *bi = gm_heif_item_by_id(h, base_id);
    if (!bc.has_nclx && !bc.icc && bi && bi->type == GM_4CC('g', 'r', 'i', 'd')) {
        const gm_heif_ref *tiles = gm_heif_ref_from(h, GM_4CC('d', 'i', 'm', 'g'), base_id);
        const gm_heif_item *t0 = tiles && tiles->count ? gm_heif_item_by_id(h, tiles->to[0]) : NULL;
        if (t0)
            gm_heif_item_colour(h, t0, &bc);
    }
    if ((st = heif_base_colour(ctx, &bc, info)) != GAINMAP_OK)
        return st;
    if (bc.icc && bc.icc_size) {
        st = gm_check_meta_size(ctx, bc.icc_size, "ICC profile");
        if (st != GAINMAP_OK)
            return st;
        f->icc = gm_malloc(ctx, bc.icc_size);
        if (!f->icc)
            return GAINMAP_ERR_NOMEM;
        memcpy(f->icc, bc.icc, bc.icc_size);
        f->icc_size = bc.icc_size;
    }
    heif_item_range(h, base_id, &info->base_offset, &info->base_size);
    uint32_t exif_id = find == GAINMAP_OK && g->exif_id ? g->exif_id : heif_cdsc(h, GM_4CC('E', 'x', 'i', 'f'), NULL, base_id);
    if (exif_id && (st = heif_read_exif(ctx, f, exif_id)) != GAINMAP_OK)
        return st;
    st = heif_extract(ctx, f, base_id, &f->heif_base, &f->heif_base_size, f->heif_base_error,
                      sizeof f->heif_base_error);
    if (st != GAINMAP_OK)
        return st;

    if (find != GAINMAP_OK)
        return GAINMAP_OK;
    f->map_found = true;
    f->has_map_layout = true;
    info->locator = GAINMAP_LOCATOR_HEIF_ITEM;
    info->map_width = g->map_display_width;
    info->map_height = g->map_display_height;
    info->map_components = g->map_channels;
    heif_item_range(h, g->map_id, &info->map_offset, &info->map_size);
    st = heif_extract(ctx, f, g->map_id, &f->heif_map, &f->heif_map_size, f->heif_map_error,
                      sizeof f->heif_map_error);
    if (st != GAINMAP_OK)
        return st;
    if (g->map_xmp_id && (st = heif_read_xmp(ctx, f, g->map_xmp_id, &f->xmp_map)) != GAINMAP_OK)
        return st;
    f->apple_map = g->apple;
    f->apple_headroom = g->apple_headroom;
    f->apple_headroom_source = g->apple_headroom_source;

    unsigned d = 0;
    if (g->kind == GM_HEIF_GM_TMAP)
        d |= GAINMAP_DIALECT_TMAP | GAINMAP_DIALECT_ISO21496;
    if (g->apple)
        d |= GAINMAP_DIALECT_APPLE;
    if (g->kind == GM_HEIF_GM_SAMSUNG_AUX || g->kind == GM_HEIF_GM_ADOBE_AUX || f->xmp_map.has_hdrgm)
        d |= GAINMAP_DIALECT_HDRGM_XMP;
    info->dialects = d;

    if (g->has_metadata) {
        gainmap_ctx tmp;
        scratch_ctx(&tmp, ctx);
        gainmap_status ms = g->metadata.kind == GAINMAP_KIND_APPLE ? GAINMAP_OK : gainmap_metadata_check(&tmp, &g->metadata);
        if (g->kind == GM_HEIF_GM_TMAP) {
            f->iso_in_map = true;
            f->iso = g->metadata;
            f->iso_status = ms;
            if (ms != GAINMAP_OK)
                copy_msg(f->iso_error, sizeof f->iso_error, &tmp, ms);
        } else if (g->kind != GM_HEIF_GM_APPLE_AUX) {
            f->xmp_meta_present = true;
            f->xmp_meta = g->metadata;
            f->xmp_status = ms;
            if (ms != GAINMAP_OK)
                copy_msg(f->xmp_error, sizeof f->xmp_error, &tmp, ms);
        }
        if (ms == GAINMAP_OK) {
            info->meta = g->metadata;
            info->meta_source = g->kind == GM_HEIF_GM_TMAP        ? GAINMAP_META_ISO21496
                                : g->kind == GM_HEIF_GM_APPLE_AUX ? GAINMAP_META_APPLE
                                                                  : GAINMAP_META_XMP;
        }
    }
    /* a tmap file may describe the same map in hdrgm XMP too (Samsung): kept for the comparison */
    if (g->kind == GM_HEIF_GM_TMAP && f->xmp_map.has_hdrgm) {
        gainmap_ctx tmp;
        scratch_ctx(&tmp, ctx);
        f->xmp_meta_present = true;
        f->xmp_status = gm_xmp_to_metadata(&tmp, &f->xmp_map, &f->xmp_meta);
        if (f->xmp_status != GAINMAP_OK)
            copy_msg(f->xmp_error, sizeof f->xmp_error, &tmp, f->xmp_status);
    }
    info->has_gainmap = info->meta_source != GAINMAP_META_NONE;
    return GAINMAP_OK;
}

static gainmap_status open_owned(gainmap_ctx *ctx, uint8_t *data, size_t size, gainmap_file **out)
{
    gainmap_file *f = gm_calloc(ctx, 1, sizeof *f);
    if (!f) {
        free(data);
        return GAINMAP_ERR_NOMEM;
    }
    f->data = data;
    f->size = size;
    bool heif = size >= 12 && !memcmp(data + 4, "ftyp", 4);
    gainmap_status st = heif ? open_heif(ctx, f) : open_jpeg(ctx, f);
    if (st != GAINMAP_OK) {
        gainmap_file_close(f);
        return st;
    }
    gm_validate_file(f);
    *out = f;
    return GAINMAP_OK;
}

static gainmap_status sniff(gainmap_ctx *ctx, const uint8_t *data, size_t size)
{
    if (size >= 12 && !memcmp(data + 4, "ftyp", 4))
        return GAINMAP_OK;
    if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF)
        return gm_error(ctx, GAINMAP_ERR_FORMAT, "not a JPEG or HEIF file");
    return GAINMAP_OK;
}

gainmap_status gainmap_file_open_memory(gainmap_ctx *ctx, const uint8_t *data, size_t size, gainmap_file **out)
{
    if (out)
        *out = NULL;
    if (!data || !out)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "file_open_memory: NULL argument");
    gainmap_status st = sniff(ctx, data, size);
    if (st != GAINMAP_OK)
        return st;
    uint8_t *copy = gm_malloc(ctx, size);
    if (!copy)
        return GAINMAP_ERR_NOMEM;
    memcpy(copy, data, size);
    return open_owned(ctx, copy, size, out);
}

gainmap_status gainmap_file_open(gainmap_ctx *ctx, const char *path, gainmap_file **out)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "file_open: NULL argument");
    uint8_t *data;
    size_t size;
    gainmap_status st = gainmap_read_file(ctx, path, &data, &size);
    if (st != GAINMAP_OK)
        return st;
    st = sniff(ctx, data, size);
    if (st != GAINMAP_OK) {
        free(data);
        return st;
    }
    return open_owned(ctx, data, size, out);
}

void gainmap_file_close(gainmap_file *f)
{
    if (!f)
        return;
    gm_jpeg_layout_free(&f->base);
    gm_jpeg_layout_free(&f->map);
    gm_issue_list_free(&f->issues);
    gm_heif_free(f->heif);
    free(f->hg);
    free(f->heif_base);
    free(f->heif_map);
    free(f->heif_exif);
    free(f->icc);
    free(f->data);
    free(f);
}

const gainmap_info *gainmap_file_info(const gainmap_file *f) { return f ? &f->info : NULL; }

size_t gainmap_file_issues(const gainmap_file *f, const gainmap_issue **issues)
{
    if (issues)
        *issues = f ? f->issues.items : NULL;
    return f ? f->issues.count : 0;
}

gainmap_status gainmap_file_base_stream(const gainmap_file *f, const uint8_t **data, size_t *size)
{
    if (!f || !data || !size)
        return GAINMAP_ERR_INVALID_ARG;
    if (f->info.container == GAINMAP_CONTAINER_HEIF) {
        /* a HEIF item is not a standalone stream: a one-image HEIF of it */
        *data = f->heif_base;
        *size = f->heif_base_size;
        return f->heif_base ? GAINMAP_OK : GAINMAP_ERR_UNSUPPORTED;
    }
    *data = f->data;
    *size = (size_t)f->info.base_size;
    return GAINMAP_OK;
}

gainmap_status gainmap_file_map_stream(const gainmap_file *f, const uint8_t **data, size_t *size)
{
    if (!f || !data || !size)
        return GAINMAP_ERR_INVALID_ARG;
    *data = NULL;
    *size = 0;
    if (!f->map_found || !f->has_map_layout)
        return GAINMAP_ERR_NO_GAINMAP;
    if (f->info.container == GAINMAP_CONTAINER_HEIF) {
        *data = f->heif_map;
        *size = f->heif_map_size;
        return f->heif_map ? GAINMAP_OK : GAINMAP_ERR_UNSUPPORTED;
    }
    *data = f->data + f->info.map_offset;
    *size = (size_t)f->info.map_size;
    return GAINMAP_OK;
}

gainmap_status gainmap_file_base_icc(const gainmap_file *f, const uint8_t **data, size_t *size)
{
    if (!f || !data || !size)
        return GAINMAP_ERR_INVALID_ARG;
    *data = f->icc;
    *size = f->icc ? f->icc_size : 0;
    return GAINMAP_OK;
}

gainmap_status gainmap_file_exif(const gainmap_file *f, const uint8_t **data, size_t *size)
{
    if (!f || !data || !size)
        return GAINMAP_ERR_INVALID_ARG;
    const uint8_t *src = f->info.container == GAINMAP_CONTAINER_HEIF ? f->heif_exif : f->data;
    *data = f->exif_size && src ? src + f->exif_offset : NULL;
    *size = f->exif_size;
    return GAINMAP_OK;
}

gainmap_status gm_file_exif_to_image(gainmap_ctx *ctx, const gainmap_file *f, gainmap_image *img)
{
    const uint8_t *exif;
    size_t exif_size;
    if (gainmap_file_exif(f, &exif, &exif_size) != GAINMAP_OK || !exif || !exif_size)
        return GAINMAP_OK;
    if (gainmap_image_set_exif(img, exif, exif_size) != GAINMAP_OK)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory copying EXIF");
    return GAINMAP_OK;
}

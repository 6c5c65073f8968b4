/* validate.c - spec violations and interoperability risks of an opened file,
 * one gainmap_issue each, with a stable code (FORMATS.md 1-3, 5, 8). */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gm_issue_add(gm_issue_list *l, gainmap_severity sev, const char *code, const char *fmt, ...)
{
    if (l->count == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        gainmap_issue *p = realloc(l->items, ncap * sizeof *p);
        if (!p)
            return;
        l->items = p;
        l->cap = ncap;
    }
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *msg = malloc(strlen(buf) + 1);
    if (!msg)
        return;
    strcpy(msg, buf);
    l->items[l->count++] = (gainmap_issue){sev, code, msg};
}

void gm_issue_list_free(gm_issue_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free((char *)l->items[i].message);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static double fr(gainmap_fraction f) { return f.d ? (double)f.n / f.d : 0.0; }
static double ufr(gainmap_ufraction f) { return f.d ? (double)f.n / f.d : 0.0; }

/* "Beyond rounding": XMP text carries about 6-7 significant digits. */
static bool differ(double a, double b) { return fabs(a - b) > 1e-4 * fmax(1.0, fmax(fabs(a), fabs(b))); }

static void compare_xmp_iso(gainmap_file *f)
{
    const gainmap_metadata *x = &f->xmp_meta, *i = &f->iso;
    gm_issue_list *L = &f->issues;
    char what[96] = "";
    double a = 0, b = 0;
    if (differ(ufr(x->base_hdr_headroom), ufr(i->base_hdr_headroom))) {
        snprintf(what, sizeof what, "base headroom");
        a = ufr(x->base_hdr_headroom);
        b = ufr(i->base_hdr_headroom);
    } else if (differ(ufr(x->alternate_hdr_headroom), ufr(i->alternate_hdr_headroom))) {
        snprintf(what, sizeof what, "alternate headroom (HDRCapacityMax)");
        a = ufr(x->alternate_hdr_headroom);
        b = ufr(i->alternate_hdr_headroom);
    } else {
        static const char *chn[3] = {"red", "green", "blue"};
        int nc = GM_MAX(x->channel_count, i->channel_count);
        for (int c = 0; c < nc && !what[0]; c++) {
            int cx = x->channel_count == 3 ? c : 0, ci = i->channel_count == 3 ? c : 0;
            struct { const char *name; double a, b; } v[5] = {
                {"GainMapMin", fr(x->gain_map_min[cx]), fr(i->gain_map_min[ci])},
                {"GainMapMax", fr(x->gain_map_max[cx]), fr(i->gain_map_max[ci])},
                {"Gamma", ufr(x->gamma[cx]), ufr(i->gamma[ci])},
                {"base offset", fr(x->base_offset[cx]), fr(i->base_offset[ci])},
                {"alternate offset", fr(x->alternate_offset[cx]), fr(i->alternate_offset[ci])},
            };
            for (int k = 0; k < 5; k++) {
                if (differ(v[k].a, v[k].b)) {
                    snprintf(what, sizeof what, "%s (%s channel)", v[k].name, nc == 1 ? "every" : chn[c]);
                    a = v[k].a;
                    b = v[k].b;
                    break;
                }
            }
        }
    }
    if (what[0])
        gm_issue_add(L, GAINMAP_SEVERITY_WARNING, "xmp-iso-mismatch",
                     "XMP and ISO 21496-1 metadata disagree on %s: XMP %.6g, ISO %.6g; the ISO value is used", what,
                     a, b);
}

static const char *heif_aux_name(int kind)
{
    return kind == GM_HEIF_GM_SAMSUNG_AUX ? "Samsung" : "Adobe";
}

static void map_geometry_issues(gainmap_file *f)
{
    gm_issue_list *L = &f->issues;
    const gainmap_info *info = &f->info;
    uint32_t bw = info->base_width, bh = info->base_height, mw = info->map_width, mh = info->map_height;
    if (mw > bw || mh > bh)
        gm_issue_add(L, GAINMAP_SEVERITY_WARNING, "map-larger-than-base",
                     "the gain map (%ux%u) is larger than the base image (%ux%u); some readers refuse it", mw, mh, bw,
                     bh);
    if (bw && bh && mw && mh) {
        double ra = (double)mw / bw, rb = (double)mh / bh;
        if (fabs(ra / rb - 1.0) > 0.01)
            gm_issue_add(L, GAINMAP_SEVERITY_WARNING, "map-aspect",
                         "the gain map's aspect ratio (%ux%u) differs from the base's (%ux%u) by more than 1%%", mw,
                         mh, bw, bh);
    }
}

/* HEIF/AVIF: the parser's issues are already in the list (gmfile.c); these
 * are about what the file means for readers (FORMATS 3.4, 5, pitfall 20). */
static void validate_heif(gainmap_file *f)
{
    gm_issue_list *L = &f->issues;
    const gainmap_info *info = &f->info;
    const gm_heif_gainmap *g = f->hg;
    const gainmap_severity E = GAINMAP_SEVERITY_ERROR, W = GAINMAP_SEVERITY_WARNING, I = GAINMAP_SEVERITY_INFO;
    if (!f->map_found) {
        /* a PQ/HLG primary is an HDR image in its own right (heif_plain.c) */
        if (!f->heif_has_tmap && gm_heif_primary_hdr(f))
            gm_issue_add(L, I, "plain-hdr",
                         "plain HDR image (%s), no gain map: HDR screens show it as it is, others tone-map it",
                         info->base_transfer == GAINMAP_TRANSFER_PQ ? "PQ" : "HLG");
        else if (!f->heif_has_tmap)
            gm_issue_add(L, W, "no-gainmap",
                         "no gain map: the file has no 'tmap' item and no auxiliary gain-map image; every viewer "
                         "shows the primary image as it is");
        return;
    }
    if (!f->heif_map)
        gm_issue_add(L, E, "gainmap-unreadable", "the gain-map item %u cannot be copied out: %s", g->map_id,
                     f->heif_map_error);
    if (f->iso_in_map && f->iso_status != GAINMAP_OK)
        gm_issue_add(L, E, "iso-invalid", "the tmap's ISO 21496-1 gain-map metadata is invalid: %s; the gain map is "
                     "ignored", f->iso_error);
    if (g->kind != GM_HEIF_GM_TMAP && f->xmp_meta_present && f->xmp_status != GAINMAP_OK)
        gm_issue_add(L, E, "xmp-invalid", "the hdrgm XMP gain-map metadata is invalid: %s; the gain map is ignored",
                     f->xmp_error);
    if (f->xmp_map.conflicts)
        gm_issue_add(L, W, "xmp-conflict", "an XMP property is given twice with different values; the first is used");
    if (f->xmp_map.bad_packets)
        gm_issue_add(L, W, "xmp-malformed", "%d XMP packet(s) are not well-formed XML and were ignored",
                     f->xmp_map.bad_packets);
    switch (g->kind) {
    case GM_HEIF_GM_APPLE_AUX:
        gm_issue_add(L, W, "apple-only",
                     "Apple gain map only (no ISO 21496-1 'tmap' item): non-Apple platforms show SDR");
        break;
    case GM_HEIF_GM_SAMSUNG_AUX:
    case GM_HEIF_GM_ADOBE_AUX:
        gm_issue_add(L, W, "aux-gainmap-only",
                     "%s auxiliary gain map with hdrgm XMP only (no ISO 21496-1 'tmap' item): readers that follow "
                     "the AVIF/HEIF tmap (libavif, Chrome) show the base image",
                     heif_aux_name(g->kind));
        break;
    default:
        break;
    }
    if (g->kind == GM_HEIF_GM_TMAP && f->iso_status == GAINMAP_OK) {
        if (f->xmp_meta_present && f->xmp_status == GAINMAP_OK)
            compare_xmp_iso(f);
        if (f->iso.flags & GM_ISO_FLAG_COMMON_DENOM)
            gm_issue_add(L, W, "iso-flag-compact",
                         "ISO 21496-1 flag 0x08 (libultrahdr's common-denominator short form) is not in the published "
                         "layout: Chrome/Skia and libavif mis-read it and show SDR");
        if (f->iso.flags & 0x33)
            gm_issue_add(L, W, "iso-reserved-flags", "ISO 21496-1 reserved flag bits are set (flags 0x%02X)",
                         f->iso.flags);
        if (g->apple && f->apple_headroom_source) {
            double iso_h = ufr(f->iso.alternate_hdr_headroom), apple_h = log2(f->apple_headroom);
            if (fabs(iso_h - apple_h) > 0.01)
                gm_issue_add(L, I, "apple-iso-headroom",
                             "the Apple headroom (%.6g stops, from %s) and the tmap's alternate headroom (%.6g stops) "
                             "differ; the tmap is used",
                             apple_h, f->apple_headroom_source == 1 ? "HDRGainMapHeadroom" : "the maker notes", iso_h);
        }
    }
    if (f->apple_map && f->apple_headroom_source == 1 && f->exif.has_apple_headroom &&
        fabs(f->exif.apple_headroom - f->apple_headroom) > 0.01 * f->apple_headroom)
        gm_issue_add(L, I, "apple-headroom-mismatch",
                     "the XMP HDRGainMapHeadroom (%.6g) and the maker-note headroom (%.6g) differ; the XMP value is used",
                     f->apple_headroom, f->exif.apple_headroom);
    if (info->has_gainmap && info->meta.kind == GAINMAP_KIND_ISO) {
        gainmap_params p;
        gainmap_metadata_to_params(&info->meta, &p);
        if (p.base_hdr_headroom == p.alternate_hdr_headroom)
            gm_issue_add(L, E, "headroom-equal",
                         "the base and alternate headrooms are equal (%g): the gain map is never applied",
                         p.base_hdr_headroom);
        else if (p.base_hdr_headroom > p.alternate_hdr_headroom)
            gm_issue_add(L, I, "base-is-hdr",
                         "the base image is the HDR rendition (%.6g stops; the alternate %.6g): readers that ignore "
                         "the gain map show it as HDR",
                         p.base_hdr_headroom, p.alternate_hdr_headroom);
    }
    map_geometry_issues(f);
}

void gm_validate_file(gainmap_file *f)
{
    if (f->info.container == GAINMAP_CONTAINER_HEIF) {
        validate_heif(f);
        return;
    }
    gm_issue_list *L = &f->issues;
    const gainmap_info *info = &f->info;
    const gm_xmp *xp = &f->xmp_primary;
    const gainmap_severity E = GAINMAP_SEVERITY_ERROR, W = GAINMAP_SEVERITY_WARNING, I = GAINMAP_SEVERITY_INFO;

    /* --- what the file is ------------------------------------------------ */
    if (!f->map_found && !f->hdrgm_in_primary_only) {
        if (f->map_announced)
            gm_issue_add(L, E, "gainmap-missing",
                         "the primary image announces a gain map (%s) but no gain-map image was found",
                         xp->has_version ? "hdrgm:Version" : f->iso_stub ? "ISO 21496-1 block" : "GContainer item");
        else if (f->has_mpf && f->mpf.nentries >= 2)
            gm_issue_add(L, W, "no-gainmap",
                         "no gain map: the file holds %u MPF images but none carries gain-map metadata "
                         "(e.g. a stereo or multi-frame MPO); every viewer shows SDR",
                         f->mpf.nentries);
        else
            gm_issue_add(L, W, "no-gainmap", "no gain map: this is a plain JPEG and every viewer shows it as SDR");
    }
    if (f->hdrgm_in_primary_only)
        gm_issue_add(L, E, "hdrgm-in-primary",
                     "the hdrgm gain-map values are in the primary image's XMP, not in the gain-map image's; "
                     "conforming readers (libultrahdr, libavif) ignore the gain map, and so does gainmap");
    if (f->map_found && !f->has_map_layout)
        gm_issue_add(L, E, "gainmap-unreadable", "the gain-map image at byte %llu cannot be read: %s",
                     (unsigned long long)info->map_offset, f->map_error);

    /* --- MPF ---------------------------------------------------------------- */
    if (f->has_mpf && f->mpf_broken)
        gm_issue_add(L, W, "mpf-malformed", "the MPF index cannot be read (%s); the gain map was located %s",
                     f->mpf_error,
                     info->locator == GAINMAP_LOCATOR_GCONTAINER ? "through GContainer"
                     : info->locator == GAINMAP_LOCATOR_SCAN     ? "by scanning for the next image"
                                                                 : "nowhere");
    if (f->has_mpf && !f->mpf_broken && f->mpf.nentries >= 1 && f->map_found) {
        if (f->mpf.entries[0].size != info->base_size)
            gm_issue_add(L, W, "mpf-primary-size",
                         "MPF entry 1 gives the primary image size as %u bytes but it is %llu bytes",
                         f->mpf.entries[0].size, (unsigned long long)info->base_size);
        if (f->mpf.entries[0].offset != 0)
            gm_issue_add(L, W, "mpf-primary-offset", "MPF entry 1 has offset %u; the primary image's must be 0",
                         f->mpf.entries[0].offset);
    }
    if (f->has_mpf && !f->mpf_broken && f->mpf_map_index >= 1 && f->map_found) {
        if (!f->mpf_points_to_jpeg)
            gm_issue_add(L, E, "mpf-offset-wrong",
                         "MPF entry 2 points at byte %llu, which is not the start of a JPEG image; readers that "
                         "trust MPF will not find the gain map",
                         (unsigned long long)f->mpf_map_offset);
        else if (f->mpf_offset_mode != 0)
            gm_issue_add(L, E, "mpf-offset-base",
                         "MPF entry 2's offset is relative to %s, not to the MPF TIFF header as CIPA DC-007 requires",
                         f->mpf_offset_mode == 1 ? "the file start" : "the APP2 marker");
        if (f->has_map_layout && f->mpf_map_entry_size != info->map_size)
            gm_issue_add(L, W, "mpf-map-size", "MPF entry 2 gives the gain-map size as %u bytes but it is %llu bytes",
                         f->mpf_map_entry_size, (unsigned long long)info->map_size);
    }
    if (f->has_mpf && !f->mpf_broken && f->mpf.nentries < 2 && f->map_found)
        gm_issue_add(L, W, "mpf-no-map-entry", "the MPF index lists %u image(s) and no entry for the gain map",
                     f->mpf.nentries);
    if (!f->has_mpf && f->map_found)
        gm_issue_add(L, W, "no-mpf",
                     "no MPF index: some viewers (and Android's decoder) cannot find the gain map without it");

    /* --- GContainer ------------------------------------------------------- */
    if (f->map_found && xp->has_hdrgm && !(info->dialects & GAINMAP_DIALECT_GCONTAINER))
        gm_issue_add(L, I, "no-gcontainer",
                     "no GContainer directory (Adobe-style file): readers locate the gain map through MPF only");
    if (f->has_gcontainer_offset && f->map_found) {
        if (!f->gcontainer_points_to_jpeg)
            gm_issue_add(L, W, "gcontainer-offset-wrong",
                         "the GContainer directory places the gain map at byte %llu, which is not the start of a "
                         "JPEG image",
                         (unsigned long long)f->gcontainer_offset);
        else if (f->mpf_points_to_jpeg && f->gcontainer_offset != info->map_offset)
            gm_issue_add(L, E, "mpf-gcontainer-mismatch",
                         "MPF and GContainer disagree: MPF places the gain map at byte %llu, GContainer at byte %llu",
                         (unsigned long long)info->map_offset, (unsigned long long)f->gcontainer_offset);
        if (f->has_map_layout && f->gcontainer_length != info->map_size)
            gm_issue_add(L, W, "gcontainer-length",
                         "GContainer Item:Length of the gain map is %llu bytes but the gain-map image is %llu bytes",
                         (unsigned long long)f->gcontainer_length, (unsigned long long)info->map_size);
    }
    if (f->map_found && info->locator == GAINMAP_LOCATOR_SCAN)
        gm_issue_add(L, W, "located-by-scan",
                     "neither MPF nor GContainer locates the gain map; it was found by scanning for the image "
                     "after the primary's end");
    if (f->map_found && info->map_offset != info->base_size && info->locator != GAINMAP_LOCATOR_NONE)
        gm_issue_add(L, I, "gap-before-map", "%lld bytes lie between the primary image's end and the gain map",
                     (long long)info->map_offset - (long long)info->base_size);

    /* --- metadata dialects -------------------------------------------------- */
    bool has_iso = f->iso_in_map && f->iso_status == GAINMAP_OK;
    bool has_xmp = f->xmp_meta_present && f->xmp_status == GAINMAP_OK;
    if (f->iso_in_map && f->iso_status != GAINMAP_OK)
        gm_issue_add(L, E, "iso-invalid", "the ISO 21496-1 gain-map metadata is invalid: %s%s", f->iso_error,
                     has_xmp ? "; the XMP metadata is used instead" : "");
    if (f->xmp_meta_present && f->xmp_status != GAINMAP_OK)
        gm_issue_add(L, E, "xmp-invalid", "the hdrgm XMP gain-map metadata is invalid: %s%s", f->xmp_error,
                     has_iso ? "; the ISO 21496-1 metadata is used instead" : "");
    if (f->xmp_map.conflicts || xp->conflicts)
        gm_issue_add(L, W, "xmp-conflict", "an XMP property is given twice with different values; the first is used");
    if (f->xmp_map.bad_packets || xp->bad_packets)
        gm_issue_add(L, W, "xmp-malformed", "%d XMP packet(s) are not well-formed XML and were ignored",
                     f->xmp_map.bad_packets + xp->bad_packets);
    if (has_iso && !f->xmp_meta_present)
        gm_issue_add(L, W, "iso-only",
                     "ISO 21496-1 metadata only (no hdrgm XMP): Android 14 and older, and libultrahdr 1.0-based "
                     "apps, show SDR");
    if (has_xmp && !f->iso_in_map)
        gm_issue_add(L, I, "xmp-only",
                     "hdrgm XMP metadata only (UltraHDR v1.0, no ISO 21496-1): readers that know only ISO 21496-1 "
                     "show SDR");
    if (has_iso && has_xmp)
        compare_xmp_iso(f);
    if (has_iso && !f->iso_stub)
        gm_issue_add(L, W, "iso-primary-missing",
                     "the gain map carries ISO 21496-1 metadata but the primary image has no ISO 21496-1 version "
                     "block; readers such as Chrome look for it there first");
    if (f->iso_stub && f->map_found && f->has_map_layout && !f->iso_in_map)
        gm_issue_add(L, W, "iso-map-missing",
                     "the primary image has an ISO 21496-1 version block but the gain map has no ISO metadata");
    if (f->iso_stub_full)
        gm_issue_add(L, I, "iso-primary-full",
                     "the primary image's ISO 21496-1 block is more than the 4-byte version; readers expect only "
                     "the version there");
    if (f->iso_in_map && f->iso_status == GAINMAP_OK) {
        if (f->iso.flags & GM_ISO_FLAG_COMMON_DENOM)
            gm_issue_add(L, W, "iso-flag-compact",
                         "ISO 21496-1 flag 0x08 (libultrahdr's common-denominator short form) is not in the published "
                         "layout: Chrome/Skia and libavif mis-read it and show SDR");
        if (f->iso.flags & GM_ISO_FLAG_BACKWARD)
            gm_issue_add(L, W, "iso-flag-backward",
                         "ISO 21496-1 flag 0x04 (libultrahdr's backward-direction bit) is not in the published "
                         "layout; it is ignored");
        if (f->iso.flags & 0x33)
            gm_issue_add(L, W, "iso-reserved-flags", "ISO 21496-1 reserved flag bits are set (flags 0x%02X)",
                         f->iso.flags);
    }
    if (f->xmp_meta_present && !xp->has_version)
        gm_issue_add(L, W, "hdrgm-version-primary",
                     "the gain map has hdrgm XMP but the primary image's XMP has no hdrgm:Version: XMP-only "
                     "(UltraHDR v1.0) readers such as Android 14 do not look for the gain map");
    if (has_xmp && f->xmp_map.base_rendition_is_hdr == 1)
        gm_issue_add(L, I, "base-is-hdr",
                     "hdrgm:BaseRenditionIsHDR is True (HDR base): libultrahdr cannot decode such files");
    if (info->has_gainmap && info->meta.kind == GAINMAP_KIND_ISO) {
        gainmap_params p;
        gainmap_metadata_to_params(&info->meta, &p);
        if (p.base_hdr_headroom == p.alternate_hdr_headroom)
            gm_issue_add(L, E, "headroom-equal",
                         "the base and alternate headrooms are equal (%g): the gain map is never applied",
                         p.base_hdr_headroom);
    }

    /* --- Apple -------------------------------------------------------------- */
    if (f->apple_map) {
        if (info->meta_source == GAINMAP_META_APPLE)
            gm_issue_add(L, I, "apple-gainmap",
                         "Apple HDRGainMap gain map: only Apple platforms and a few readers apply it; readers that "
                         "know only UltraHDR or ISO 21496-1 show SDR");
        if (!f->apple_headroom_source && info->meta_source == GAINMAP_META_NONE)
            gm_issue_add(L, E, "apple-no-headroom",
                         "Apple gain map without a headroom: no HDRGainMapHeadroom in its XMP and no usable "
                         "maker-note tags 33/48");
        if (f->apple_headroom_source == 1 && f->exif.has_apple_headroom &&
            fabs(f->exif.apple_headroom - f->xmp_map.apple_headroom) > 0.01 * f->xmp_map.apple_headroom)
            gm_issue_add(L, I, "apple-headroom-mismatch",
                         "the XMP HDRGainMapHeadroom (%.6g) and the maker-note headroom (%.6g) differ; the XMP value "
                         "is used",
                         f->xmp_map.apple_headroom, f->exif.apple_headroom);
    }

    /* --- images ------------------------------------------------------------- */
    if (f->map_found && f->has_map_layout) {
        uint32_t bw = info->base_width, bh = info->base_height, mw = info->map_width, mh = info->map_height;
        if (mw > bw || mh > bh)
            gm_issue_add(L, W, "map-larger-than-base",
                         "the gain map (%ux%u) is larger than the base image (%ux%u); some readers refuse it", mw, mh,
                         bw, bh);
        if (bw && bh && mw && mh) {
            double ra = (double)mw / bw, rb = (double)mh / bh;
            if (fabs(ra / rb - 1.0) > 0.01)
                gm_issue_add(L, W, "map-aspect",
                             "the gain map's aspect ratio (%ux%u) differs from the base's (%ux%u) by more than 1%%",
                             mw, mh, bw, bh);
        }
        if (info->map_components != 1 && info->map_components != 3)
            gm_issue_add(L, E, "map-components", "the gain-map JPEG has %u components (must be 1 or 3)",
                         info->map_components);
        if (f->map_exif.orientation > 1)
            gm_issue_add(L, I, "map-orientation-ignored",
                         "the gain-map JPEG has EXIF orientation %d; it is ignored (the map follows the primary's "
                         "orientation)",
                         f->map_exif.orientation);
        if (f->map.extraneous)
            gm_issue_add(L, W, "jpeg-extraneous", "the gain-map JPEG has %zu stray bytes between segments",
                         f->map.extraneous);
    }
    if (f->base.extraneous)
        gm_issue_add(L, W, "jpeg-extraneous", "the primary JPEG has %zu stray bytes between segments",
                     f->base.extraneous);
    if (f->icc_broken)
        gm_issue_add(L, W, "icc-incomplete",
                     "the primary's ICC profile chunks are missing or inconsistent; the base is assumed to be sRGB");
    if (f->has_ext_xmp)
        gm_issue_add(L, I, "extended-xmp", "the primary carries Extended XMP; it is ignored (gain-map fields are in "
                                           "the main packet)");
    if (f->trailing_bytes)
        gm_issue_add(L, I, "trailing-data", "%llu bytes follow the last image and are ignored",
                     (unsigned long long)f->trailing_bytes);
}

/* json.c - gainmap_file_info_json: schema "gainmap-info/1".
 * Every metadata value is given as its exact fraction and as a float. */
#include "internal.h"

#include <math.h>
#include <string.h>

static void jstr(gm_buf *b, const char *s)
{
    gm_buf_u8(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if (*p == '"' || *p == '\\')
            gm_buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            gm_buf_printf(b, "\\u%04x", *p);
        else
            gm_buf_u8(b, *p);
    }
    gm_buf_u8(b, '"');
}

static void jnum(gm_buf *b, double v)
{
    if (isfinite(v))
        gm_buf_printf(b, "%.9g", v);
    else
        gm_buf_str(b, "null");
}

static void jfrac(gm_buf *b, int64_t n, uint32_t d)
{
    gm_buf_printf(b, "{\"n\": %lld, \"d\": %u, \"value\": ", (long long)n, d);
    if (d)
        jnum(b, (double)n / d);
    else
        gm_buf_str(b, n == 0 ? "0" : "null");
    gm_buf_u8(b, '}');
}

static void jchannels_s(gm_buf *b, const char *name, const gainmap_fraction *v, int nc)
{
    gm_buf_printf(b, ",\n    \"%s\": [", name);
    for (int c = 0; c < nc; c++) {
        if (c)
            gm_buf_str(b, ", ");
        jfrac(b, v[c].n, v[c].d);
    }
    gm_buf_u8(b, ']');
}

static void jchannels_u(gm_buf *b, const char *name, const gainmap_ufraction *v, int nc)
{
    gm_buf_printf(b, ",\n    \"%s\": [", name);
    for (int c = 0; c < nc; c++) {
        if (c)
            gm_buf_str(b, ", ");
        jfrac(b, v[c].n, v[c].d);
    }
    gm_buf_u8(b, ']');
}

static void jmeta(gm_buf *b, const gainmap_metadata *m)
{
    int nc = m->channel_count == 3 ? 3 : 1;
    gm_buf_printf(b, "{\n    \"kind\": \"%s\",\n    \"minimum_version\": %u,\n    \"writer_version\": %u,\n"
                     "    \"flags\": %u,\n    \"channel_count\": %d,\n    \"use_base_colour_space\": %s,\n"
                     "    \"base_hdr_headroom\": ",
                  m->kind == GAINMAP_KIND_APPLE ? "apple" : "iso", m->minimum_version, m->writer_version, m->flags, nc,
                  m->use_base_colour_space ? "true" : "false");
    jfrac(b, m->base_hdr_headroom.n, m->base_hdr_headroom.d);
    gm_buf_str(b, ",\n    \"alternate_hdr_headroom\": ");
    jfrac(b, m->alternate_hdr_headroom.n, m->alternate_hdr_headroom.d);
    jchannels_s(b, "gain_map_min", m->gain_map_min, nc);
    jchannels_s(b, "gain_map_max", m->gain_map_max, nc);
    jchannels_u(b, "gamma", m->gamma, nc);
    jchannels_s(b, "base_offset", m->base_offset, nc);
    jchannels_s(b, "alternate_offset", m->alternate_offset, nc);
    if (m->kind == GAINMAP_KIND_APPLE) {
        gm_buf_str(b, ",\n    \"apple_headroom\": ");
        jnum(b, m->apple_headroom);
    }
    gm_buf_str(b, "\n  }");
}

static void jfield(gm_buf *b, const char *name, const gm_xmp_field *f, bool *first)
{
    if (f->count == 0)
        return;
    gm_buf_printf(b, "%s\n    \"%s\": ", *first ? "" : ",", name);
    *first = false;
    if (f->count < 0) {
        gm_buf_str(b, "\"invalid\"");
        return;
    }
    gm_buf_u8(b, '[');
    for (int i = 0; i < f->count; i++) {
        if (i)
            gm_buf_str(b, ", ");
        jnum(b, f->v[i]);
    }
    gm_buf_u8(b, ']');
}

static void jxmp(gm_buf *b, const gm_xmp *x)
{
    bool first = true;
    gm_buf_u8(b, '{');
    if (x->has_version) {
        gm_buf_str(b, "\n    \"Version\": ");
        jstr(b, x->version);
        first = false;
    }
    jfield(b, "GainMapMin", &x->gain_map_min, &first);
    jfield(b, "GainMapMax", &x->gain_map_max, &first);
    jfield(b, "Gamma", &x->gamma, &first);
    jfield(b, "OffsetSDR", &x->offset_sdr, &first);
    jfield(b, "OffsetHDR", &x->offset_hdr, &first);
    jfield(b, "HDRCapacityMin", &x->capacity_min, &first);
    jfield(b, "HDRCapacityMax", &x->capacity_max, &first);
    if (x->base_rendition_is_hdr >= 0) {
        gm_buf_printf(b, "%s\n    \"BaseRenditionIsHDR\": %s", first ? "" : ",",
                      x->base_rendition_is_hdr == 1   ? "true"
                      : x->base_rendition_is_hdr == 0 ? "false"
                                                      : "\"invalid\"");
        first = false;
    }
    gm_buf_str(b, first ? "}" : "\n  }");
}

static const char *locator_name(gainmap_locator l)
{
    switch (l) {
    case GAINMAP_LOCATOR_MPF: return "mpf";
    case GAINMAP_LOCATOR_GCONTAINER: return "gcontainer";
    case GAINMAP_LOCATOR_SCAN: return "scan";
    case GAINMAP_LOCATOR_HEIF_ITEM: return "heif-item";
    case GAINMAP_LOCATOR_NONE: break;
    }
    return "none";
}

static const char *source_name(gainmap_meta_source s)
{
    switch (s) {
    case GAINMAP_META_ISO21496: return "iso21496";
    case GAINMAP_META_XMP: return "xmp";
    case GAINMAP_META_APPLE: return "apple";
    case GAINMAP_META_NONE: break;
    }
    return "none";
}

static const char *severity_name(gainmap_severity s)
{
    return s == GAINMAP_SEVERITY_ERROR ? "error" : s == GAINMAP_SEVERITY_WARNING ? "warning" : "info";
}

static void jfourcc(gm_buf *b, uint32_t t)
{
    char s[5];
    jstr(b, gm_fourcc_str(t, s));
}

/* HEIF items behind the description (docs/heif.md). */
static void jheif(gm_buf *b, const gainmap_file *f)
{
    const gm_heif *h = f->heif;
    const gm_heif_gainmap *g = f->hg;
    gm_buf_str(b, ",\n  \"heif\": {\"major_brand\": ");
    jfourcc(b, h->major_brand);
    gm_buf_str(b, ", \"brands\": [");
    for (size_t i = 0; i < h->nbrands; i++) {
        if (i)
            gm_buf_str(b, ", ");
        jfourcc(b, h->brands[i]);
    }
    gm_buf_printf(b, "], \"items\": %zu, \"primary_item\": %u, \"meta_after_mdat\": %s", h->nitems, h->primary_id,
                  h->meta_after_mdat ? "true" : "false");
    bool found = g && g->kind != GM_HEIF_GM_NONE;
    if (found) {
        static const char *kinds[] = {"none", "tmap", "apple-aux", "samsung-aux", "adobe-aux"};
        gm_buf_printf(b, ",\n    \"gainmap_kind\": \"%s\", \"base_item\": %u, \"gainmap_item\": %u",
                      kinds[g->kind <= GM_HEIF_GM_ADOBE_AUX ? g->kind : 0], g->base_id, g->map_id);
        if (g->tmap_id)
            gm_buf_printf(b, ", \"tmap_item\": %u", g->tmap_id);
        if (g->map_aux_type[0]) {
            gm_buf_str(b, ", \"gainmap_aux_type\": ");
            jstr(b, g->map_aux_type);
        }
        gm_buf_printf(b, ",\n    \"base_stored\": {\"width\": %u, \"height\": %u, \"irot\": %u}, "
                         "\"gainmap_stored\": {\"width\": %u, \"height\": %u, \"irot\": %u}",
                      g->base_width, g->base_height, g->base_angle, g->map_width, g->map_height, g->map_angle);
        if (g->tmap_id) {
            const gm_heif_colour *c = &g->tmap_colour;
            gm_buf_printf(b, ",\n    \"alternate\": {\"width\": %u, \"height\": %u", g->tmap_width, g->tmap_height);
            if (c->has_nclx)
                gm_buf_printf(b, ", \"cicp\": [%u, %u, %u, %u]", c->cp, c->tc, c->mc, c->full_range);
            gm_buf_printf(b, ", \"icc_size\": %zu", c->icc ? c->icc_size : (size_t)0);
            if (c->pixi_depth)
                gm_buf_printf(b, ", \"bit_depth\": %u", c->pixi_depth);
            if (c->has_clli)
                gm_buf_printf(b, ", \"max_cll\": %u, \"max_fall\": %u", c->max_cll, c->max_fall);
            gm_buf_str(b, "}");
        }
        if (g->apple_headroom_source) {
            gm_buf_str(b, ",\n    \"apple_headroom\": ");
            jnum(b, g->apple_headroom);
            gm_buf_printf(b, ", \"apple_headroom_source\": \"%s\"",
                          g->apple_headroom_source == 1 ? "xmp" : "maker-notes");
        }
    }
    if (g && g->ignored_tmap_id)
        gm_buf_printf(b, ",\n    \"ignored_tmap_item\": %u", g->ignored_tmap_id);
    gm_buf_str(b, "}");
}

gainmap_status gainmap_file_info_json(gainmap_ctx *ctx, const gainmap_file *f, char **json)
{
    if (!f || !json)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "file_info_json: NULL argument");
    *json = NULL;
    const gainmap_info *in = &f->info;
    gm_buf b;
    gm_buf_init(&b);
    gm_buf_printf(&b, "{\n  \"schema\": \"gainmap-info/1\",\n  \"container\": \"%s\",\n  \"file_size\": %zu,\n"
                      "  \"has_gainmap\": %s,\n  \"dialects\": [",
                  in->container == GAINMAP_CONTAINER_HEIF ? "heif" : "jpeg", f->size,
                  in->has_gainmap ? "true" : "false");
    static const struct { unsigned bit; const char *name; } dn[] = {
        {GAINMAP_DIALECT_HDRGM_XMP, "hdrgm-xmp"}, {GAINMAP_DIALECT_GCONTAINER, "gcontainer"},
        {GAINMAP_DIALECT_MPF, "mpf"},             {GAINMAP_DIALECT_ISO21496, "iso21496"},
        {GAINMAP_DIALECT_APPLE, "apple"},         {GAINMAP_DIALECT_TMAP, "tmap"},
    };
    bool first = true;
    for (size_t i = 0; i < sizeof dn / sizeof dn[0]; i++) {
        if (in->dialects & dn[i].bit) {
            gm_buf_printf(&b, "%s\"%s\"", first ? "" : ", ", dn[i].name);
            first = false;
        }
    }
    gm_buf_printf(&b, "],\n  \"base\": {\"width\": %u, \"height\": %u, \"components\": %u, \"offset\": %llu, "
                      "\"size\": %llu, \"orientation\": %d, \"primaries\": \"%s\", \"transfer\": \"%s\", "
                      "\"icc_size\": %zu},\n",
                  in->base_width, in->base_height, in->base_components, (unsigned long long)in->base_offset,
                  (unsigned long long)in->base_size, in->orientation, gainmap_primaries_name(in->base_primaries),
                  gainmap_transfer_name(in->base_transfer), f->icc_size);
    if (f->map_found)
        gm_buf_printf(&b, "  \"gainmap\": {\"width\": %u, \"height\": %u, \"components\": %u, \"offset\": %llu, "
                          "\"size\": %llu, \"locator\": \"%s\"},\n",
                      in->map_width, in->map_height, in->map_components, (unsigned long long)in->map_offset,
                      (unsigned long long)in->map_size, locator_name(in->locator));
    else
        gm_buf_str(&b, "  \"gainmap\": null,\n");
    gm_buf_printf(&b, "  \"metadata_source\": \"%s\",\n  \"metadata\": ", source_name(in->meta_source));
    if (in->meta_source != GAINMAP_META_NONE)
        jmeta(&b, &in->meta);
    else
        gm_buf_str(&b, "null");

    /* Per-dialect values as read. */
    gm_buf_str(&b, ",\n  \"iso21496\": ");
    if (f->iso_in_map && f->iso_status == GAINMAP_OK)
        jmeta(&b, &f->iso);
    else
        gm_buf_str(&b, "null");
    gm_buf_str(&b, ",\n  \"xmp\": ");
    if (f->xmp_map.has_hdrgm)
        jxmp(&b, &f->xmp_map);
    else
        gm_buf_str(&b, "null");
    gm_buf_str(&b, ",\n  \"primary_xmp\": ");
    if (f->xmp_primary.has_hdrgm)
        jxmp(&b, &f->xmp_primary);
    else
        gm_buf_str(&b, "null");
    gm_buf_str(&b, ",\n  \"apple\": ");
    if (f->apple_map || f->exif.has_apple_headroom) {
        gm_buf_str(&b, "{");
        bool fa = true;
        if (f->xmp_map.has_apple_version) {
            gm_buf_printf(&b, "\"HDRGainMapVersion\": %ld", f->xmp_map.apple_version);
            fa = false;
        }
        if (f->xmp_map.has_apple_headroom) {
            gm_buf_printf(&b, "%s\"HDRGainMapHeadroom\": ", fa ? "" : ", ");
            jnum(&b, f->xmp_map.apple_headroom);
            fa = false;
        }
        if (f->exif.has_maker33) {
            gm_buf_printf(&b, "%s\"HDRHeadroom\": ", fa ? "" : ", ");
            jnum(&b, f->exif.maker33);
            fa = false;
        }
        if (f->exif.has_maker48) {
            gm_buf_printf(&b, "%s\"HDRGain\": ", fa ? "" : ", ");
            jnum(&b, f->exif.maker48);
            fa = false;
        }
        if (f->exif.has_apple_headroom) {
            gm_buf_printf(&b, "%s\"maker_note_headroom\": ", fa ? "" : ", ");
            jnum(&b, f->exif.apple_headroom);
            fa = false;
        }
        gm_buf_str(&b, "}");
    } else {
        gm_buf_str(&b, "null");
    }
    gm_buf_str(&b, ",\n  \"mpf\": ");
    if (f->has_mpf && !f->mpf_broken) {
        gm_buf_printf(&b, "{\"byte_order\": \"%s\", \"version\": ", f->mpf.big_endian ? "big-endian" : "little-endian");
        jstr(&b, f->mpf.has_version ? f->mpf.version : "");
        gm_buf_printf(&b, ", \"number_of_images\": %u, \"tiff_offset\": %zu, \"entries\": [", f->mpf.number_of_images,
                      f->mpf.tiff_base);
        for (uint32_t i = 0; i < f->mpf.nentries; i++) {
            const gm_mpf_entry *e = &f->mpf.entries[i];
            gm_buf_printf(&b, "%s\n    {\"attribute\": %u, \"type\": %u, \"size\": %u, \"offset\": %u}",
                          i ? "," : "", e->attribute, e->attribute & 0xFFFFFFu, e->size, e->offset);
        }
        gm_buf_str(&b, "]}");
    } else if (f->has_mpf) {
        gm_buf_str(&b, "{\"error\": ");
        jstr(&b, f->mpf_error);
        gm_buf_str(&b, "}");
    } else {
        gm_buf_str(&b, "null");
    }
    gm_buf_str(&b, ",\n  \"gcontainer\": ");
    if (f->xmp_primary.nitems) {
        gm_buf_str(&b, "[");
        for (int i = 0; i < f->xmp_primary.nitems; i++) {
            const gm_xmp_item *it = &f->xmp_primary.items[i];
            gm_buf_printf(&b, "%s\n    {\"semantic\": ", i ? "," : "");
            jstr(&b, it->semantic);
            gm_buf_str(&b, ", \"mime\": ");
            jstr(&b, it->mime);
            gm_buf_printf(&b, ", \"length\": %lld, \"padding\": %lld}", (long long)it->length,
                          (long long)it->padding);
        }
        gm_buf_str(&b, "]");
    } else {
        gm_buf_str(&b, "null");
    }
    if (in->container == GAINMAP_CONTAINER_HEIF && f->heif)
        jheif(&b, f);
    gm_buf_str(&b, ",\n  \"issues\": [");
    for (size_t i = 0; i < f->issues.count; i++) {
        const gainmap_issue *is = &f->issues.items[i];
        gm_buf_printf(&b, "%s\n    {\"severity\": \"%s\", \"code\": ", i ? "," : "", severity_name(is->severity));
        jstr(&b, is->code);
        gm_buf_str(&b, ", \"message\": ");
        jstr(&b, is->message);
        gm_buf_str(&b, "}");
    }
    gm_buf_str(&b, f->issues.count ? "\n  ]\n}\n" : "]\n}\n");
    size_t n;
    *json = (char *)gm_buf_take(&b, &n);
    if (!*json)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing JSON");
    return GAINMAP_OK;
}

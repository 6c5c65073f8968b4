/* xmp_write.c - XMP packets written into UltraHDR JPEGs (FORMATS.md 1.3, 1.4):
 * the primary's GContainer directory and the gain map's hdrgm fields. */
#include "internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const char GM_XMP_NS_X[] = "adobe:ns:meta/";
const char GM_XMP_NS_RDF[] = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const char GM_XMP_NS_CONTAINER[] = "http://ns.google.com/photos/1.0/container/";
const char GM_XMP_NS_ITEM[] = "http://ns.google.com/photos/1.0/container/item/";
const char GM_XMP_NS_HDRGM[] = "http://ns.adobe.com/hdr-gain-map/1.0/";

static void open_packet(gm_buf *b)
{
    gm_buf_printf(b, "<x:xmpmeta xmlns:x=\"%s\" x:xmptk=\"libgainmap %s\">", GM_XMP_NS_X, GAINMAP_VERSION_STRING);
    gm_buf_printf(b, "<rdf:RDF xmlns:rdf=\"%s\">", GM_XMP_NS_RDF);
}

static void close_packet(gm_buf *b) { gm_buf_str(b, "</rdf:RDF></x:xmpmeta>"); }

gainmap_status gm_xmp_write_primary(gainmap_ctx *ctx, uint64_t map_length, gm_buf *out)
{
    open_packet(out);
    gm_buf_printf(out,
                  "<rdf:Description rdf:about=\"\" xmlns:Container=\"%s\" xmlns:Item=\"%s\" xmlns:hdrgm=\"%s\""
                  " hdrgm:Version=\"1.0\">",
                  GM_XMP_NS_CONTAINER, GM_XMP_NS_ITEM, GM_XMP_NS_HDRGM);
    gm_buf_str(out, "<Container:Directory><rdf:Seq>"
                    "<rdf:li rdf:parseType=\"Resource\">"
                    "<Container:Item Item:Semantic=\"Primary\" Item:Mime=\"image/jpeg\"/></rdf:li>"
                    "<rdf:li rdf:parseType=\"Resource\">");
    gm_buf_printf(out, "<Container:Item Item:Semantic=\"GainMap\" Item:Mime=\"image/jpeg\" Item:Length=\"%" PRIu64
                       "\"/></rdf:li>",
                  map_length);
    gm_buf_str(out, "</rdf:Seq></Container:Directory></rdf:Description>");
    close_packet(out);
    if (out->bad)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing the primary XMP");
    return GAINMAP_OK;
}

/* Decimal text of n/d.  When d = 2^a * 5^b the decimal terminates and is
 * written in full (long division), so a reader gets the very same value
 * back; otherwise 12 significant digits (FORMATS.md 1.4: at least 7). */
int gm_xmp_format_fraction(char *buf, size_t size, int64_t n, uint64_t d)
{
    if (d == 0 || d > UINT32_MAX)
        return snprintf(buf, size, "0");
    uint64_t r = d;
    while (r % 2 == 0)
        r /= 2;
    while (r % 5 == 0)
        r /= 5;
    if (r != 1)
        return snprintf(buf, size, "%.12g", (double)n / (double)d);
    uint64_t mag = n < 0 ? (uint64_t)(-(n + 1)) + 1 : (uint64_t)n;
    uint64_t ip = mag / d, rem = mag % d;
    char digits[80];
    size_t k = 0;
    while (rem && k < sizeof digits - 1) {   /* rem < d <= 2^32: rem * 10 fits */
        rem *= 10;
        digits[k++] = (char)('0' + rem / d);
        rem %= d;
    }
    digits[k] = 0;
    return snprintf(buf, size, "%s%" PRIu64 "%s%s", n < 0 && (ip || k) ? "-" : "", ip, k ? "." : "", digits);
}

static void put_signed(gm_buf *b, gainmap_fraction f)
{
    char t[64];
    gm_xmp_format_fraction(t, sizeof t, f.n, f.d);
    gm_buf_str(b, t);
}

static void put_unsigned(gm_buf *b, gainmap_ufraction f)
{
    char t[64];
    gm_xmp_format_fraction(t, sizeof t, (int64_t)f.n, f.d);
    gm_buf_str(b, t);
}

static bool same_signed(const gainmap_fraction v[3], int channels)
{
    for (int c = 1; c < channels; c++)
        if ((int64_t)v[c].n * v[0].d != (int64_t)v[0].n * v[c].d)
            return false;
    return true;
}

static bool same_unsigned(const gainmap_ufraction v[3], int channels)
{
    for (int c = 1; c < channels; c++)
        if ((uint64_t)v[c].n * v[0].d != (uint64_t)v[0].n * v[c].d)
            return false;
    return true;
}

gainmap_status gm_xmp_write_gainmap(gainmap_ctx *ctx, const gainmap_metadata *m, gm_buf *out)
{
    if (!m || m->kind != GAINMAP_KIND_ISO)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "XMP can only carry ISO-style (log2) gain-map metadata");
    if (!m->use_base_colour_space)
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED,
                        "XMP gain-map metadata needs the maths in the base colour space");
    /* Forward direction only: the base is SDR (hdrgm:BaseRenditionIsHDR False). */
    double hb = m->base_hdr_headroom.d ? (double)m->base_hdr_headroom.n / m->base_hdr_headroom.d : 0.0;
    double ha = m->alternate_hdr_headroom.d ? (double)m->alternate_hdr_headroom.n / m->alternate_hdr_headroom.d : 0.0;
    if (!(ha > hb))
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "XMP writer supports only an SDR base (alternate headroom above "
                                                      "base headroom)");
    int ch = m->channel_count == 3 ? 3 : 1;
    open_packet(out);
    gm_buf_printf(out, "<rdf:Description rdf:about=\"\" xmlns:hdrgm=\"%s\" hdrgm:Version=\"1.0\"", GM_XMP_NS_HDRGM);
    gm_buf_str(out, " hdrgm:BaseRenditionIsHDR=\"False\" hdrgm:HDRCapacityMin=\"");
    put_unsigned(out, m->base_hdr_headroom);
    gm_buf_str(out, "\" hdrgm:HDRCapacityMax=\"");
    put_unsigned(out, m->alternate_hdr_headroom);
    gm_buf_str(out, "\"");

    struct {
        const char *name;
        const gainmap_fraction *s;
        const gainmap_ufraction *u;
    } fields[5] = {
        {"GainMapMin", m->gain_map_min, NULL}, {"GainMapMax", m->gain_map_max, NULL}, {"Gamma", NULL, m->gamma},
        {"OffsetSDR", m->base_offset, NULL},   {"OffsetHDR", m->alternate_offset, NULL},
    };
    bool scalar[5];
    for (int i = 0; i < 5; i++) {
        scalar[i] = fields[i].s ? same_signed(fields[i].s, ch) : same_unsigned(fields[i].u, ch);
        if (!scalar[i])
            continue;
        gm_buf_printf(out, " hdrgm:%s=\"", fields[i].name);
        if (fields[i].s)
            put_signed(out, fields[i].s[0]);
        else
            put_unsigned(out, fields[i].u[0]);
        gm_buf_str(out, "\"");
    }
    gm_buf_str(out, ">");
    /* Per-channel values: child elements holding an rdf:Seq in R, G, B order. */
    for (int i = 0; i < 5; i++) {
        if (scalar[i])
            continue;
        gm_buf_printf(out, "<hdrgm:%s><rdf:Seq>", fields[i].name);
        for (int c = 0; c < 3; c++) {
            gm_buf_str(out, "<rdf:li>");
            if (fields[i].s)
                put_signed(out, fields[i].s[c]);
            else
                put_unsigned(out, fields[i].u[c]);
            gm_buf_str(out, "</rdf:li>");
        }
        gm_buf_printf(out, "</rdf:Seq></hdrgm:%s>", fields[i].name);
    }
    gm_buf_str(out, "</rdf:Description>");
    close_packet(out);
    if (out->bad)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing the gain-map XMP");
    return GAINMAP_OK;
}

/* xmp.c - XMP packets read with expat, namespace-aware: properties are found
 * by namespace URI, never by prefix (FORMATS.md 1.3, 1.4, 5.2, pitfall 6).
 * Accepts attribute and element forms, rdf:Seq/Bag/Alt lists, whitespace,
 * several packets.  The hdrgm names and namespace URIs live only here. */
#include "internal.h"

#include <expat.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_SEP ' '   /* cannot occur in a namespace URI */

static const char URI_RDF[] = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
static const char URI_HDRGM[] = "http://ns.adobe.com/hdr-gain-map/1.0/";
static const char URI_CONTAINER[] = "http://ns.google.com/photos/1.0/container/";
static const char URI_ITEM[] = "http://ns.google.com/photos/1.0/container/item/";
static const char URI_APPLE[] = "http://ns.apple.com/HDRGainMap/1.0/";
static const char URI_APDI[] = "http://ns.apple.com/pixeldatainfo/1.0/";

enum { NS_OTHER = 0, NS_RDF, NS_HDRGM, NS_CONTAINER, NS_ITEM, NS_APPLE, NS_APDI };

#define MAX_VALS 4
#define VAL_LEN 96

typedef struct pstate {
    gm_xmp *x;
    XML_Parser parser;
    int depth;
    bool bad;
    /* property element being read */
    int prop_depth, prop_ns;
    char prop_name[48];
    char text[VAL_LEN];
    size_t tlen;
    bool text_long;
    int li_depth;
    int nli;
    char li[MAX_VALS][VAL_LEN];
    size_t lilen;
    /* GContainer item being read */
    int item_depth, cur_item;
} pstate;

void gm_xmp_init(gm_xmp *x)
{
    memset(x, 0, sizeof *x);
    x->base_rendition_is_hdr = -1;
}

/* "URI local" -> namespace id and local name. */
static int split_name(const XML_Char *name, const char **local)
{
    const char *sp = strrchr(name, NS_SEP);
    if (!sp) {
        *local = name;
        return NS_OTHER;
    }
    *local = sp + 1;
    size_t n = (size_t)(sp - name);
    static const struct { const char *uri; int id; } tab[] = {
        {URI_RDF, NS_RDF},     {URI_HDRGM, NS_HDRGM}, {URI_CONTAINER, NS_CONTAINER},
        {URI_ITEM, NS_ITEM},   {URI_APPLE, NS_APPLE}, {URI_APDI, NS_APDI},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strlen(tab[i].uri) == n && !memcmp(tab[i].uri, name, n))
            return tab[i].id;
    return NS_OTHER;
}

static void trim(const char *s, char *out, size_t outsize)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    if (n >= outsize)
        n = outsize - 1;
    memcpy(out, s, n);
    out[n] = 0;
}

/* A real number in XML (always '.' as the decimal point, whatever the locale). */
static bool parse_real(const char *s, double *out)
{
    char buf[VAL_LEN];
    trim(s, buf, sizeof buf);
    if (!buf[0])
        return false;
    for (char *p = buf; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '+' || *p == 'e' || *p == 'E'))
            return false;
    }
    const char *dp = localeconv()->decimal_point;
    if (dp && dp[0] && dp[0] != '.' && !dp[1]) {
        for (char *p = buf; *p; p++)
            if (*p == '.')
                *p = dp[0];
    }
    char *end;
    double v = strtod(buf, &end);
    if (*end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool parse_int64(const char *s, int64_t *out)
{
    char buf[VAL_LEN];
    trim(s, buf, sizeof buf);
    if (!buf[0])
        return false;
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}

static void set_field(gm_xmp *x, gm_xmp_field *f, const char (*vals)[VAL_LEN], int n, bool scalar)
{
    gm_xmp_field nf = {0, {0, 0, 0}};
    if (n == 1 || (n == 3 && !scalar)) {
        nf.count = n;
        for (int i = 0; i < n; i++)
            if (!parse_real(vals[i], &nf.v[i]))
                nf.count = -1;
    } else {
        nf.count = -1;
    }
    if (f->count != 0) {
        if (f->count != nf.count || memcmp(f->v, nf.v, sizeof f->v) != 0)
            x->conflicts++;
        return;   /* first definition wins */
    }
    *f = nf;
}

static int parse_bool(const char *s)
{
    char b[16];
    trim(s, b, sizeof b);
    /* pitfall 7: XMP says True/False; be lenient when reading */
    if (!strcmp(b, "True") || !strcmp(b, "true") || !strcmp(b, "TRUE") || !strcmp(b, "1"))
        return 1;
    if (!strcmp(b, "False") || !strcmp(b, "false") || !strcmp(b, "FALSE") || !strcmp(b, "0"))
        return 0;
    return 2;
}

static gm_xmp_item *current_item(pstate *ps, bool create)
{
    gm_xmp *x = ps->x;
    if (ps->cur_item >= 0)
        return &x->items[ps->cur_item];
    if (!create || x->nitems >= GM_XMP_MAX_ITEMS)
        return NULL;
    ps->cur_item = x->nitems++;
    gm_xmp_item *it = &x->items[ps->cur_item];
    memset(it, 0, sizeof *it);
    it->length = -1;
    return it;
}

static void set_prop(pstate *ps, int ns, const char *name, const char (*vals)[VAL_LEN], int n)
{
    gm_xmp *x = ps->x;
    if (n <= 0)
        return;
    if (ns == NS_HDRGM) {
        x->has_hdrgm = true;
        static const struct { const char *name; size_t off; bool scalar; } fields[] = {
            {"GainMapMin", offsetof(gm_xmp, gain_map_min), false},
            {"GainMapMax", offsetof(gm_xmp, gain_map_max), false},
            {"Gamma", offsetof(gm_xmp, gamma), false},
            {"OffsetSDR", offsetof(gm_xmp, offset_sdr), false},
            {"OffsetHDR", offsetof(gm_xmp, offset_hdr), false},
            {"HDRCapacityMin", offsetof(gm_xmp, capacity_min), true},
            {"HDRCapacityMax", offsetof(gm_xmp, capacity_max), true},
        };
        if (!strcmp(name, "Version")) {
            char v[sizeof x->version];
            trim(vals[0], v, sizeof v);
            if (x->has_version && strcmp(v, x->version))
                x->conflicts++;
            else if (!x->has_version)
                memcpy(x->version, v, sizeof v);
            x->has_version = true;
            return;
        }
        if (!strcmp(name, "BaseRenditionIsHDR")) {
            int b = n == 1 ? parse_bool(vals[0]) : 2;
            if (x->base_rendition_is_hdr >= 0 && x->base_rendition_is_hdr != b)
                x->conflicts++;
            else
                x->base_rendition_is_hdr = b;
            return;
        }
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            if (!strcmp(name, fields[i].name))
                set_field(x, (gm_xmp_field *)((char *)x + fields[i].off), vals, n, fields[i].scalar);
        return;   /* unknown hdrgm:* (e.g. OplusScale) ignored (FORMATS 1.4) */
    }
    if (ns == NS_APPLE) {
        x->has_apple = true;
        if (!strcmp(name, "HDRGainMapVersion")) {
            int64_t v;
            if (parse_int64(vals[0], &v)) {
                x->has_apple_version = true;
                x->apple_version = (long)v;
            }
        } else if (!strcmp(name, "HDRGainMapHeadroom")) {
            double v;
            if (parse_real(vals[0], &v)) {
                x->has_apple_headroom = true;
                x->apple_headroom = v;
            }
        }
        return;
    }
    if (ns == NS_APDI) {
        if (!strcmp(name, "AuxiliaryImageType"))
            trim(vals[0], x->aux_type, sizeof x->aux_type);
        return;
    }
    if (ns == NS_ITEM) {
        gm_xmp_item *it = current_item(ps, true);
        if (!it)
            return;
        int64_t v;
        if (!strcmp(name, "Semantic"))
            trim(vals[0], it->semantic, sizeof it->semantic);
        else if (!strcmp(name, "Mime"))
            trim(vals[0], it->mime, sizeof it->mime);
        else if (!strcmp(name, "Length"))
            it->length = parse_int64(vals[0], &v) && v >= 0 ? v : -2;
        else if (!strcmp(name, "Padding"))
            it->padding = parse_int64(vals[0], &v) && v >= 0 ? v : -2;
    }
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    pstate *ps = ud;
    ps->depth++;
    const char *local;
    int ns = split_name(name, &local);
    if (ns == NS_CONTAINER && !strcmp(local, "Directory"))
        ps->x->has_directory = true;
    if (ns == NS_CONTAINER && !strcmp(local, "Item")) {
        ps->cur_item = -1;
        if (current_item(ps, true))
            ps->item_depth = ps->depth;
    }
    for (int i = 0; attrs[i]; i += 2) {
        const char *alocal;
        int ans = split_name(attrs[i], &alocal);
        if (ans == NS_ITEM && ps->cur_item < 0 && current_item(ps, true))
            ps->item_depth = ps->depth;   /* item fields as attributes of any element */
        if (ans == NS_HDRGM || ans == NS_APPLE || ans == NS_APDI || ans == NS_ITEM) {
            char v[1][VAL_LEN];
            snprintf(v[0], VAL_LEN, "%s", attrs[i + 1]);
            set_prop(ps, ans, alocal, (const char(*)[VAL_LEN])v, 1);
        }
    }
    if (ps->prop_depth == 0 && (ns == NS_HDRGM || ns == NS_APPLE || ns == NS_APDI || ns == NS_ITEM)) {
        if (ns == NS_ITEM && ps->cur_item < 0 && current_item(ps, true))
            ps->item_depth = ps->depth - 1;   /* item fields as child elements of an rdf:li */
        ps->prop_depth = ps->depth;
        ps->prop_ns = ns;
        snprintf(ps->prop_name, sizeof ps->prop_name, "%s", local);
        ps->tlen = 0;
        ps->text[0] = 0;
        ps->text_long = false;
        ps->nli = 0;
    } else if (ps->prop_depth && ns == NS_RDF && !strcmp(local, "li")) {
        ps->li_depth = ps->depth;
        ps->lilen = 0;
        if (ps->nli < MAX_VALS)
            ps->li[ps->nli][0] = 0;
    }
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    pstate *ps = ud;
    if (len <= 0)
        return;
    if (ps->li_depth && ps->depth == ps->li_depth) {
        if (ps->nli < MAX_VALS) {
            size_t n = GM_MIN((size_t)len, VAL_LEN - 1 - ps->lilen);
            memcpy(ps->li[ps->nli] + ps->lilen, s, n);
            ps->lilen += n;
            ps->li[ps->nli][ps->lilen] = 0;
        }
    } else if (ps->prop_depth && ps->depth == ps->prop_depth) {
        size_t n = GM_MIN((size_t)len, VAL_LEN - 1 - ps->tlen);
        memcpy(ps->text + ps->tlen, s, n);
        ps->tlen += n;
        ps->text[ps->tlen] = 0;
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    pstate *ps = ud;
    (void)name;
    if (ps->li_depth && ps->depth == ps->li_depth) {
        ps->nli++;
        ps->li_depth = 0;
    } else if (ps->prop_depth && ps->depth == ps->prop_depth) {
        if (ps->nli > 0) {
            /* more than MAX_VALS items: report the true count so it is rejected */
            set_prop(ps, ps->prop_ns, ps->prop_name, (const char(*)[VAL_LEN])ps->li,
                     ps->nli > MAX_VALS ? MAX_VALS : ps->nli);
        } else {
            char v[1][VAL_LEN];
            trim(ps->text, v[0], VAL_LEN);
            if (v[0][0])
                set_prop(ps, ps->prop_ns, ps->prop_name, (const char(*)[VAL_LEN])v, 1);
        }
        ps->prop_depth = 0;
    }
    if (ps->item_depth && ps->depth == ps->item_depth) {
        ps->item_depth = 0;
        ps->cur_item = -1;
    }
    ps->depth--;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal_subset)
{
    pstate *ps = ud;
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    /* XMP never has a DTD; refuse it rather than expand entities. */
    ps->bad = true;
    XML_StopParser(ps->parser, XML_FALSE);
}

bool gm_xmp_parse(gm_xmp *x, const uint8_t *packet, size_t size)
{
    while (size && (packet[size - 1] == 0 || packet[size - 1] == ' ' || packet[size - 1] == '\n' ||
                    packet[size - 1] == '\r' || packet[size - 1] == '\t'))
        size--;
    if (size == 0 || size > INT32_MAX) {
        x->bad_packets++;
        return false;
    }
    XML_Parser p = XML_ParserCreateNS(NULL, NS_SEP);
    if (!p) {
        x->bad_packets++;
        return false;
    }
    pstate ps;
    memset(&ps, 0, sizeof ps);
    ps.x = x;
    ps.parser = p;
    ps.cur_item = -1;
    XML_SetUserData(p, &ps);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    enum XML_Status st = XML_Parse(p, (const char *)packet, (int)size, XML_TRUE);
    XML_ParserFree(p);
    if (st != XML_STATUS_OK || ps.bad) {
        x->bad_packets++;
        return false;
    }
    x->packets++;
    return true;
}

static const char *field_name(const gm_xmp *x, const gm_xmp_field *f)
{
    if (f == &x->gain_map_min) return "GainMapMin";
    if (f == &x->gain_map_max) return "GainMapMax";
    if (f == &x->gamma) return "Gamma";
    if (f == &x->offset_sdr) return "OffsetSDR";
    if (f == &x->offset_hdr) return "OffsetHDR";
    if (f == &x->capacity_min) return "HDRCapacityMin";
    return "HDRCapacityMax";
}

/* Channel c of a field, or its default when absent. */
static double chan(const gm_xmp_field *f, int c, double dflt)
{
    if (f->count == 0)
        return dflt;
    return f->count == 3 ? f->v[c] : f->v[0];
}

gainmap_status gm_xmp_to_metadata(gainmap_ctx *ctx, const gm_xmp *x, gainmap_metadata *m)
{
    memset(m, 0, sizeof *m);
    if (!x->has_hdrgm)
        return gm_error(ctx, GAINMAP_ERR_NO_GAINMAP, "no hdrgm gain-map XMP");
    if (!x->has_version)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "hdrgm:Version is missing from the gain-map XMP");
    if (strncmp(x->version, "1.", 2) != 0)
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "hdrgm:Version \"%s\" is not supported (1.0 is)", x->version);
    const gm_xmp_field *all[] = {&x->gain_map_min, &x->gain_map_max, &x->gamma,       &x->offset_sdr,
                                 &x->offset_hdr,   &x->capacity_min, &x->capacity_max};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]->count < 0)
            return gm_error(ctx, GAINMAP_ERR_CORRUPT, "hdrgm:%s is not a number%s", field_name(x, all[i]),
                            i < 5 ? " or a list of 1 or 3 numbers" : "");
    if (x->gain_map_max.count == 0)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "hdrgm:GainMapMax is missing (it is required)");
    if (x->capacity_max.count == 0)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "hdrgm:HDRCapacityMax is missing (it is required)");
    if (x->base_rendition_is_hdr == 2)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "hdrgm:BaseRenditionIsHDR is neither True nor False");
    double cmin = chan(&x->capacity_min, 0, 0.0), cmax = chan(&x->capacity_max, 0, 0.0);
    if (cmin < 0)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "hdrgm:HDRCapacityMin is negative (%g)", cmin);
    if (!(cmax > cmin))
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "hdrgm:HDRCapacityMax (%g) is not above HDRCapacityMin (%g)", cmax,
                        cmin);
    gainmap_params p;
    memset(&p, 0, sizeof p);
    p.channel_count = 1;
    for (size_t i = 0; i < 5; i++)
        if (all[i]->count == 3)
            p.channel_count = 3;
    p.use_base_colour_space = 1;   /* XMP has no flag: math in base primaries (pitfall 10) */
    bool hdr_base = x->base_rendition_is_hdr == 1;
    /* FORMATS 3.3: BaseRenditionIsHDR swaps the headroom and offset roles */
    p.base_hdr_headroom = hdr_base ? cmax : cmin;
    p.alternate_hdr_headroom = hdr_base ? cmin : cmax;
    static const char *names[3] = {"red", "green", "blue"};
    for (int c = 0; c < p.channel_count; c++) {
        p.gain_map_min[c] = chan(&x->gain_map_min, c, 0.0);
        p.gain_map_max[c] = chan(&x->gain_map_max, c, 0.0);
        p.gamma[c] = chan(&x->gamma, c, 1.0);
        double osdr = chan(&x->offset_sdr, c, 1.0 / 64), ohdr = chan(&x->offset_hdr, c, 1.0 / 64);
        p.base_offset[c] = hdr_base ? ohdr : osdr;
        p.alternate_offset[c] = hdr_base ? osdr : ohdr;
        const char *ch = p.channel_count == 1 ? "all" : names[c];
        if (!(p.gamma[c] > 0))
            return gm_error(ctx, GAINMAP_ERR_CORRUPT, "hdrgm:Gamma is %g (must be above 0; %s channel)", p.gamma[c], ch);
        if (p.gain_map_max[c] < p.gain_map_min[c])
            return gm_error(ctx, GAINMAP_ERR_CORRUPT, "hdrgm:GainMapMax %g is below GainMapMin %g (%s channel)",
                            p.gain_map_max[c], p.gain_map_min[c], ch);
    }
    if (gainmap_params_to_metadata(&p, m) != GAINMAP_OK)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "hdrgm values are out of the representable range");
    m->kind = GAINMAP_KIND_ISO;
    return GAINMAP_OK;
}

/* metadata.c - exact gain-map metadata: fractions <-> floats, validation,
 * and the display weight of ISO 21496-1 (FORMATS.md 3.2, 4.3). */
#include "internal.h"

#include <math.h>
#include <string.h>

static double frac(gainmap_fraction f) { return f.d ? (double)f.n / (double)f.d : 0.0; }
static double ufrac(gainmap_ufraction f) { return f.d ? (double)f.n / (double)f.d : 0.0; }

gainmap_status gainmap_metadata_to_params(const gainmap_metadata *m, gainmap_params *p)
{
    if (!m || !p)
        return GAINMAP_ERR_INVALID_ARG;
    memset(p, 0, sizeof *p);
    p->channel_count = m->channel_count == 3 ? 3 : 1;
    p->use_base_colour_space = m->use_base_colour_space;
    /* pitfall 12: a 0/0 headroom counts as 0 */
    p->base_hdr_headroom = ufrac(m->base_hdr_headroom);
    p->alternate_hdr_headroom = ufrac(m->alternate_hdr_headroom);
    for (int c = 0; c < 3; c++) {
        int s = p->channel_count == 3 ? c : 0;
        p->gain_map_min[c] = frac(m->gain_map_min[s]);
        p->gain_map_max[c] = frac(m->gain_map_max[s]);
        p->gamma[c] = ufrac(m->gamma[s]);
        p->base_offset[c] = frac(m->base_offset[s]);
        p->alternate_offset[c] = frac(m->alternate_offset[s]);
    }
    return GAINMAP_OK;
}

/* Best rational approximation by continued fractions with d <= maxd. */
static void best_fraction(double x, uint64_t maxn, uint64_t maxd, uint64_t *num, uint64_t *den)
{
    uint64_t p0 = 0, q0 = 1, p1 = 1, q1 = 0;
    double v = x;
    for (int i = 0; i < 64; i++) {
        double a = floor(v);
        if (a > 4e18)
            break;
        uint64_t ai = (uint64_t)a;
        uint64_t p2 = ai * p1 + p0, q2 = ai * q1 + q0;
        if (q2 > maxd || p2 > maxn || (ai && p1 > (UINT64_MAX - p0) / ai))
            break;
        p0 = p1;
        q0 = q1;
        p1 = p2;
        q1 = q2;
        double f = v - a;
        if (f < 1e-12 || fabs((double)p1 / (double)q1 - x) <= 1e-12 * fmax(1.0, x))
            break;
        v = 1.0 / f;
    }
    if (q1 == 0) {   /* x too large: saturate */
        p1 = maxn;
        q1 = 1;
    }
    *num = p1;
    *den = q1;
}

static gainmap_status to_signed(double x, gainmap_fraction *f)
{
    if (!isfinite(x) || fabs(x) > 2147483647.0)
        return GAINMAP_ERR_INVALID_ARG;
    uint64_t n, d;
    best_fraction(fabs(x), 2147483647u, 4294967295u, &n, &d);
    f->n = x < 0 ? -(int32_t)n : (int32_t)n;
    f->d = (uint32_t)d;
    return GAINMAP_OK;
}

static gainmap_status to_unsigned(double x, gainmap_ufraction *f)
{
    if (!isfinite(x) || x < 0.0 || x > 4294967295.0)
        return GAINMAP_ERR_INVALID_ARG;
    uint64_t n, d;
    best_fraction(x, 4294967295u, 4294967295u, &n, &d);
    f->n = (uint32_t)n;
    f->d = (uint32_t)d;
    return GAINMAP_OK;
}

gainmap_status gainmap_params_to_metadata(const gainmap_params *p, gainmap_metadata *m)
{
    if (!p || !m)
        return GAINMAP_ERR_INVALID_ARG;
    memset(m, 0, sizeof *m);
    m->kind = GAINMAP_KIND_ISO;
    m->channel_count = p->channel_count == 3 ? 3 : 1;
    m->use_base_colour_space = p->use_base_colour_space ? 1 : 0;
    m->flags = (uint8_t)((m->channel_count == 3 ? 0x80 : 0) | (m->use_base_colour_space ? 0x40 : 0));
    gainmap_status st = to_unsigned(p->base_hdr_headroom, &m->base_hdr_headroom);
    if (st == GAINMAP_OK)
        st = to_unsigned(p->alternate_hdr_headroom, &m->alternate_hdr_headroom);
    for (int c = 0; c < m->channel_count && st == GAINMAP_OK; c++) {
        st = to_signed(p->gain_map_min[c], &m->gain_map_min[c]);
        if (st == GAINMAP_OK)
            st = to_signed(p->gain_map_max[c], &m->gain_map_max[c]);
        if (st == GAINMAP_OK)
            st = to_unsigned(p->gamma[c], &m->gamma[c]);
        if (st == GAINMAP_OK)
            st = to_signed(p->base_offset[c], &m->base_offset[c]);
        if (st == GAINMAP_OK)
            st = to_signed(p->alternate_offset[c], &m->alternate_offset[c]);
    }
    return st;
}

gainmap_status gainmap_metadata_check(gainmap_ctx *ctx, const gainmap_metadata *m)
{
    if (!m)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "metadata_check: NULL metadata");
    if (m->kind == GAINMAP_KIND_APPLE) {
        if (!(m->apple_headroom >= 1.0) || !isfinite(m->apple_headroom))
            return gm_error(ctx, GAINMAP_ERR_CORRUPT, "Apple gain-map headroom %g is not >= 1", m->apple_headroom);
        return GAINMAP_OK;
    }
    if (m->minimum_version != 0)
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "ISO 21496-1 minimum_version %u is not supported",
                        m->minimum_version);
    if (m->channel_count != 1 && m->channel_count != 3)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "gain-map metadata has %u channels (must be 1 or 3)",
                        m->channel_count);
    /* pitfall 12: 0/0 headroom is tolerated as 0; n/0 is not */
    if ((m->base_hdr_headroom.d == 0 && m->base_hdr_headroom.n != 0) ||
        (m->alternate_hdr_headroom.d == 0 && m->alternate_hdr_headroom.n != 0))
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "gain-map headroom has a zero denominator");
    static const char *names[3] = {"red", "green", "blue"};
    for (int c = 0; c < m->channel_count; c++) {
        const char *ch = m->channel_count == 1 ? "all" : names[c];
        if (!m->gain_map_min[c].d || !m->gain_map_max[c].d || !m->gamma[c].d || !m->base_offset[c].d ||
            !m->alternate_offset[c].d)
            return gm_error(ctx, GAINMAP_ERR_CORRUPT, "gain-map metadata (%s channel) has a zero denominator", ch);
        if ((int64_t)m->gain_map_max[c].n * m->gain_map_min[c].d <
            (int64_t)m->gain_map_min[c].n * m->gain_map_max[c].d)
            return gm_error(ctx, GAINMAP_ERR_CORRUPT, "gain-map max %g is below min %g (%s channel)",
                            frac(m->gain_map_max[c]), frac(m->gain_map_min[c]), ch);
        if (m->gamma[c].n == 0)
            return gm_error(ctx, GAINMAP_ERR_CORRUPT, "gain-map gamma is 0 (%s channel)", ch);
    }
    return GAINMAP_OK;
}

double gainmap_weight(const gainmap_params *p, double h)
{
    if (!p)
        return 0.0;
    double hb = p->base_hdr_headroom, ha = p->alternate_hdr_headroom;
    if (hb == ha)
        return 0.0;
    double w = (h - hb) / (ha - hb);
    w = GM_CLAMP(w, 0.0, 1.0);
    return ha < hb ? -w : w;
}

/* encode_heic.c - HDR master -> HEIC (PQ, Apple gain map, ISO 21496-1 tmap,
 * or Apple + ISO), FORMATS.md 3.4, 5, 7.
 *
 * The gain-map variants are closed loop like the JPEG encoder: the base is
 * HEVC-coded, decoded again, and the map is computed against the decoded
 * base.  HEVC comes from libheif (heif_encode.c); the container is ours
 * (heif_write.c). */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define APPLE_XMP_VERSION 131072   /* 0x20000: iOS 26, with the headroom element (FORMATS 5.2) */
/* Item IDs of our files; the altr group takes the next free ID. */
enum { ID_BASE = 1, ID_MAP = 2, ID_TMAP = 3, ID_EXIF = 4, ID_XMP = 5, ID_GROUP = 6 };

static const char *const variant_names[] = {"heic", "heic-apple", "heic-iso", "heic-pq", "heic-pq-p3"};

const char *gainmap_heic_variant_name(gainmap_heic_variant v)
{
    return (unsigned)v < sizeof variant_names / sizeof variant_names[0] ? variant_names[v] : "unknown";
}

int gainmap_heic_variant_from_name(const char *name)
{
    for (size_t i = 0; name && i < sizeof variant_names / sizeof variant_names[0]; i++)
        if (!strcmp(name, variant_names[i]))
            return (int)i;
    return -1;
}

/* MaxCLL / MaxFALL (cd/m2, H.265 D.3.35: max and frame mean of max(R,G,B))
 * of the master in `space`. */
static gainmap_status light_level(gainmap_ctx *ctx, const gainmap_image *hdr, gainmap_primaries space,
                                  uint16_t *cll, uint16_t *fall)
{
    gm_linear lin;
    gainmap_status st = gm_linear_init(ctx, &lin, hdr, space);
    float *row = st == GAINMAP_OK ? gm_malloc(ctx, (size_t)hdr->width * 3 * sizeof(float)) : NULL;
    if (st == GAINMAP_OK && !row)
        st = GAINMAP_ERR_NOMEM;
    double mx = 0, sum = 0;
    for (uint32_t y = 0; st == GAINMAP_OK && y < hdr->height; y++) {
        gm_linear_row(&lin, y, row);
        for (uint32_t x = 0; x < hdr->width; x++) {
            double m = GM_MAX(row[3 * x], GM_MAX(row[3 * x + 1], row[3 * x + 2])) * GM_SDR_WHITE_NITS;
            m = GM_CLAMP(m, 0.0, GM_PQ_PEAK_NITS);
            mx = GM_MAX(mx, m);
            sum += m;
        }
    }
    *cll = (uint16_t)floor(mx + 0.5);
    *fall = (uint16_t)floor(sum / ((double)hdr->width * hdr->height) + 0.5);
    free(row);
    gm_linear_free(&lin);
    return st;
}

/* The master as 16-bit PQ Display P3 RGB (codes 0..65535). */
static gainmap_status to_p3_pq(gainmap_ctx *ctx, const gainmap_image *hdr, gainmap_image *out)
{
    gainmap_status st = gainmap_image_alloc(ctx, out, hdr->width, hdr->height, 3, GAINMAP_PIXEL_U16);
    if (st != GAINMAP_OK)
        return st;
    bool direct = hdr->type == GAINMAP_PIXEL_U16 && hdr->transfer == GAINMAP_TRANSFER_PQ &&
                  hdr->primaries == GAINMAP_PRIMARIES_P3;
    gm_linear lin;
    memset(&lin, 0, sizeof lin);
    float *row = NULL;
    if (!direct) {
        st = gm_linear_init(ctx, &lin, hdr, GAINMAP_PRIMARIES_P3);
        if (st == GAINMAP_OK && !(row = gm_malloc(ctx, (size_t)hdr->width * 3 * sizeof(float))))
            st = GAINMAP_ERR_NOMEM;
    }
    for (uint32_t y = 0; st == GAINMAP_OK && y < hdr->height; y++) {
        uint16_t *d = (uint16_t *)(void *)((uint8_t *)out->data + (size_t)y * out->stride);
        if (direct) {
            const uint16_t *s = (const uint16_t *)(const void *)((const uint8_t *)hdr->data + (size_t)y * hdr->stride);
            for (uint32_t x = 0; x < hdr->width; x++)
                for (uint32_t c = 0; c < 3; c++)
                    d[3 * x + c] = s[(size_t)x * hdr->channels + (hdr->channels == 1 ? 0 : c)];
            continue;
        }
        gm_linear_row(&lin, y, row);
        for (size_t i = 0; i < (size_t)hdr->width * 3; i++) {
            double v = gainmap_pq_inverse_eotf(GM_CLAMP(row[i] * GM_SDR_WHITE_NITS, 0.0, GM_PQ_PEAK_NITS));
            d[i] = (uint16_t)floor(v * 65535.0 + 0.5);
        }
    }
    free(row);
    gm_linear_free(&lin);
    if (st != GAINMAP_OK)
        gainmap_image_free(out);
    out->transfer = GAINMAP_TRANSFER_PQ;
    out->primaries = GAINMAP_PRIMARIES_P3;
    out->bit_depth = 16;
    return st;
}

/* Apple gain map (FORMATS 5.1, 5.3): per map pixel the mean log2 luminance
 * ratio L of its block, r = 2^L, g = BT.709 OETF((r - 1) / (H - 1)) clipped
 * to [0, 1]; H = the ratio below which all but 1e-5 of the map lies (or
 * 2^target_headroom), rounded to 6 decimals as the XMP stores it. */
static gainmap_status apple_map(gainmap_ctx *ctx, const gainmap_image *sdr, const gainmap_image *hdr,
                                const gainmap_encode_options *o, gainmap_image *map, double *headroom)
{
    const uint32_t w = sdr->width, h = sdr->height, sc = (uint32_t)o->gainmap_scale;
    const uint32_t mw = (w + sc - 1) / sc, mh = (h + sc - 1) / sc;
    /* Apple applies no offset (HDR = SDR * gain), so the map's ratios take
     * only a guard against 0/0; the headroom is chosen from ratios with the
     * encoder's offset, so that near-black base pixels do not set it. */
    const double k = 1e-7, kh = o->offset > 0 ? o->offset : 1.0 / 1024.0;
    gainmap_primaries space = sdr->primaries;
    double wt[3];
    gainmap_luma_weights(space, wt);
    gm_linear ls, lh;
    memset(&lh, 0, sizeof lh);
    float *rs = NULL, *rh = NULL, *lg = NULL;
    double *acc = NULL, *acch = NULL;
    enum { BINS = 16 * 256 };   /* 1/256-stop bins over [0, 16] stops */
    uint32_t *hist = NULL;
    memset(map, 0, sizeof *map);
    gainmap_status st = gm_linear_init(ctx, &ls, sdr, space);
    if (st == GAINMAP_OK)
        st = gm_linear_init(ctx, &lh, hdr, space);
    if (st != GAINMAP_OK)
        goto done;
    rs = gm_malloc(ctx, (size_t)w * 3 * sizeof(float));
    rh = gm_malloc(ctx, (size_t)w * 3 * sizeof(float));
    lg = gm_malloc(ctx, (size_t)mw * mh * sizeof(float));
    acc = gm_calloc(ctx, mw, sizeof(double));
    acch = gm_calloc(ctx, mw, sizeof(double));
    hist = gm_calloc(ctx, BINS, sizeof(uint32_t));
    if (!rs || !rh || !lg || !acc || !acch || !hist) {
        st = GAINMAP_ERR_NOMEM;
        goto done;
    }
    double vmax = 0;
    for (uint32_t my = 0; my < mh; my++) {
        memset(acc, 0, mw * sizeof(double));
        memset(acch, 0, mw * sizeof(double));
        uint32_t y0 = my * sc, y1 = GM_MIN(h, y0 + sc);
        for (uint32_t y = y0; y < y1; y++) {
            gm_linear_row(&ls, y, rs);
            gm_linear_row(&lh, y, rh);
            for (uint32_t x = 0; x < w; x++) {
                const float *s = rs + 3 * x, *t = rh + 3 * x;
                double ys = wt[0] * s[0] + wt[1] * s[1] + wt[2] * s[2];
                double yh = wt[0] * t[0] + wt[1] * t[1] + wt[2] * t[2];
                acc[x / sc] += log2((GM_MAX(yh, 0.0) + k) / (GM_MAX(ys, 0.0) + k));
                acch[x / sc] += log2((GM_MAX(yh, 0.0) + kh) / (GM_MAX(ys, 0.0) + kh));
            }
        }
        for (uint32_t mx = 0; mx < mw; mx++) {
            uint32_t x0 = mx * sc, x1 = GM_MIN(w, x0 + sc);
            double area = (double)(x1 - x0) * (double)(y1 - y0);
            lg[(size_t)my * mw + mx] = (float)GM_CLAMP(acc[mx] / area, 0.0, 16.0);   /* Apple maps only brighten */
            double v = GM_CLAMP(acch[mx] / area, 0.0, 16.0);
            vmax = GM_MAX(vmax, v);
            hist[GM_MIN(BINS - 1, (int)(v * 256.0))]++;
        }
    }
    double top;
    if (o->target_headroom > 0) {
        top = o->target_headroom;
    } else {
        uint64_t tail = (uint64_t)((double)mw * mh * 1e-5), seen = 0;
        int b = BINS - 1;
        for (; b > 0; b--) {
            seen += hist[b];
            if (seen > tail)
                break;
        }
        top = GM_MIN(vmax, (b + 1) / 256.0);
    }
    top = GM_CLAMP(top, 1.0 / 64.0, 16.0);
    double H = floor(exp2(top) * 1e6 + 0.5) / 1e6;
    if ((st = gainmap_image_alloc(ctx, map, mw, mh, 1, GAINMAP_PIXEL_U8)) != GAINMAP_OK)
        goto done;
    for (uint32_t y = 0; y < mh; y++) {
        uint8_t *d = (uint8_t *)map->data + (size_t)y * map->stride;
        for (uint32_t x = 0; x < mw; x++) {
            double g = (exp2(lg[(size_t)y * mw + x]) - 1.0) / (H - 1.0);
            g = gainmap_bt709_from_linear(GM_CLAMP(g, 0.0, 1.0));
            d[x] = (uint8_t)GM_CLAMP(floor(g * 255.0 + 0.5), 0.0, 255.0);
        }
    }
    map->transfer = GAINMAP_TRANSFER_BT709;
    map->bit_depth = 8;
    *headroom = H;
done:
    gm_linear_free(&ls);
    gm_linear_free(&lh);
    free(rs);
    free(rh);
    free(lg);
    free(acc);
    free(acch);
    free(hist);
    return st;
}

/* The built-in base for a one-channel map.  A luminance gain (Apple's map,
 * or an ISO map with one channel) multiplies R, G and B alike, so it can
 * only restore the master when the base keeps the master's RGB ratios: the
 * tone curve is applied to max(R, G, B) and the pixel scaled by
 * curve(M) / M (no gamut compression, which would change the ratios).
 * 8x8 ordered dither, one threshold for R, G and B, as gainmap_tonemap. */
static const uint8_t bayer8[8][8] = {
    {0, 32, 8, 40, 2, 34, 10, 42},  {48, 16, 56, 24, 50, 18, 58, 26}, {12, 44, 4, 36, 14, 46, 6, 38},
    {60, 28, 52, 20, 62, 30, 54, 22}, {3, 35, 11, 43, 1, 33, 9, 41},  {51, 19, 59, 27, 49, 17, 57, 25},
    {15, 47, 7, 39, 13, 45, 5, 37}, {63, 31, 55, 23, 61, 29, 53, 21},
};

static gainmap_status ratio_base(gainmap_ctx *ctx, const gainmap_image *hdr, const gainmap_tonemap_options *to,
                                 gainmap_primaries bp, gainmap_image *out)
{
    gm_tonemap_state *ts = NULL;
    gainmap_status st = gm_tonemap_setup(ctx, hdr, to, &ts);
    if (st != GAINMAP_OK)
        return st;
    double m[9];
    float *row = NULL;
    if (gainmap_gamut_matrix(gm_tonemap_source_primaries(ts), bp, m) != 0)
        st = gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "no gamut matrix to the base primaries");
    if (st == GAINMAP_OK)
        st = gainmap_image_alloc(ctx, out, hdr->width, hdr->height, 3, GAINMAP_PIXEL_U8);
    if (st == GAINMAP_OK && !(row = gm_malloc(ctx, (size_t)hdr->width * 3 * sizeof(float))))
        st = GAINMAP_ERR_NOMEM;
    for (uint32_t y = 0; st == GAINMAP_OK && y < hdr->height; y++) {
        gm_tonemap_decode_row(ts, hdr, y, row);
        uint8_t *d = (uint8_t *)out->data + (size_t)y * out->stride;
        for (uint32_t x = 0; x < hdr->width; x++) {
            double v[3] = {row[3 * x], row[3 * x + 1], row[3 * x + 2]};
            gm_mat3_apply(m, v, v);
            double mx = 0;
            for (int c = 0; c < 3; c++) {
                v[c] = GM_MAX(v[c], 0.0);
                mx = GM_MAX(mx, v[c]);
            }
            double k = mx > 0 ? gm_tonemap_curve(ts, mx) / mx : 0.0;
            double bias = to->dither ? (bayer8[y & 7][x & 7] + 0.5) / 64.0 : 0.5;
            for (int c = 0; c < 3; c++) {
                double e = gainmap_srgb_from_linear(GM_CLAMP(v[c] * k, 0.0, 1.0));
                d[3 * x + c] = (uint8_t)GM_CLAMP(floor(e * 255.0 + bias), 0.0, 255.0);
            }
        }
    }
    free(row);
    gm_tonemap_free(ts);
    if (st != GAINMAP_OK) {
        gainmap_image_free(out);
        return st;
    }
    out->primaries = bp;
    out->transfer = GAINMAP_TRANSFER_SRGB;
    out->bit_depth = 8;
    return GAINMAP_OK;
}

/* ISO 21496-1 description of an Apple-encoded map (the "heic" variant, as
 * iPhone 16 writes it: offsets 0, max = H_alt = log2 H, min and gamma
 * fitted).  ISO gives L(c) = min + (max - min) (c/255)^(1/gamma), Apple
 * log2(1 + (H - 1) g_lin(c)); the two cannot agree everywhere, so min and
 * gamma minimise the squared difference over the map's own code histogram
 * (plus a 1 % uniform floor so that rare codes are not ignored). */
static gainmap_status apple_iso_fit(gainmap_ctx *ctx, const gainmap_image *map, double headroom,
                                    gainmap_metadata *m, double *rms_stops)
{
    double hist[256] = {0}, total = 0;
    for (uint32_t y = 0; y < map->height; y++) {
        const uint8_t *r = (const uint8_t *)map->data + (size_t)y * map->stride;
        for (uint32_t x = 0; x < map->width; x++)
            hist[r[x]] += 1.0;
    }
    total = (double)map->width * map->height;
    double target[256], base[256];
    const double top = floor(log2(headroom) * 1e6 + 0.5) / 1e6;
    for (int i = 0; i < 256; i++) {
        hist[i] += 0.01 * total / 256.0;
        target[i] = log2(1.0 + (headroom - 1.0) * gainmap_bt709_to_linear(i / 255.0));
        base[i] = i / 255.0;
    }
    double best = INFINITY, best_min = 0, best_e = 1;
    for (int pass = 0; pass < 2; pass++) {
        double m0 = pass ? best_min - 0.01 : -0.5, m1 = pass ? best_min + 0.01 : 0.0;
        double e0 = pass ? best_e - 0.01 : 0.2, e1 = pass ? best_e + 0.01 : 3.0;
        double dm = pass ? 0.0005 : 0.005, de = pass ? 0.0005 : 0.01;
        for (double mn = m0; mn <= m1 + 1e-12; mn += dm)
            for (double e = GM_MAX(e0, 0.05); e <= e1 + 1e-12; e += de) {
                double err = 0;
                for (int i = 0; i < 256; i++) {
                    double d = mn + (top - mn) * pow(base[i], e) - target[i];
                    err += hist[i] * d * d;
                }
                if (err < best) {
                    best = err;
                    best_min = GM_MIN(mn, 0.0);
                    best_e = e;
                }
            }
    }
    gainmap_params p;
    memset(&p, 0, sizeof p);
    p.channel_count = 1;
    p.use_base_colour_space = 1;
    p.alternate_hdr_headroom = top;
    p.gain_map_min[0] = floor(best_min * 1e6 + 0.5) / 1e6;
    p.gain_map_max[0] = top;
    p.gamma[0] = floor(1e6 / best_e + 0.5) / 1e6;
    gainmap_status st = gainmap_params_to_metadata(&p, m);
    if (st != GAINMAP_OK)
        return gm_error(ctx, st, "cannot express the Apple gain map in ISO 21496-1 fractions");
    if (rms_stops)
        *rms_stops = sqrt(best / (total * 1.01));
    return gainmap_metadata_check(ctx, m);
}

static gainmap_status apple_xmp(gainmap_ctx *ctx, double headroom, uint8_t **out, size_t *size)
{
    gm_buf b;
    gm_buf_init(&b);
    gm_buf_printf(&b,
                  "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"libgainmap " GAINMAP_VERSION_STRING "\">\n"
                  " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
                  "  <rdf:Description rdf:about=\"\"\n"
                  "    xmlns:HDRGainMap=\"http://ns.apple.com/HDRGainMap/1.0/\">\n"
                  "   <HDRGainMap:HDRGainMapVersion>%d</HDRGainMap:HDRGainMapVersion>\n"
                  "   <HDRGainMap:HDRGainMapHeadroom>%.6f</HDRGainMap:HDRGainMapHeadroom>\n"
                  "  </rdf:Description>\n"
                  " </rdf:RDF>\n"
                  "</x:xmpmeta>\n",
                  APPLE_XMP_VERSION, headroom);
    if (b.bad) {
        gm_buf_free(&b);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing XMP");
    }
    *out = gm_buf_take(&b, size);
    return *out ? GAINMAP_OK : gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing XMP");
}

/* Property boxes live in one buffer; items point into it after it stops growing. */
typedef struct prop_ref {
    size_t at, size;
    bool essential;
} prop_ref;
typedef struct props {
    gm_buf b;
    prop_ref (*list)[GM_HW_MAX_PROPS];
    unsigned *n;
} props;

static void prop_begin(props *p, unsigned item, size_t *at) { (void)item, *at = p->b.size; }
static void prop_end(props *p, unsigned item, size_t at, bool essential)
{
    if (p->n[item] < GM_HW_MAX_PROPS)
        p->list[item][p->n[item]++] = (prop_ref){at, p->b.size - at, essential};
}
static void prop_bytes(props *p, unsigned item, const uint8_t *box, size_t size, bool essential)
{
    size_t at;
    prop_begin(p, item, &at);
    gm_buf_put(&p->b, box, size);
    prop_end(p, item, at, essential);
}

/* Colour properties of an image item: nclx, ICC, pixi. */
static void colour_props(props *p, unsigned item, const uint8_t cicp[4], const uint8_t *icc, size_t icc_size,
                         unsigned channels, unsigned depth)
{
    size_t at;
    prop_begin(p, item, &at);
    gm_hw_colr_nclx(&p->b, cicp);
    prop_end(p, item, at, false);
    if (icc) {
        prop_begin(p, item, &at);
        gm_hw_colr_icc(&p->b, icc, icc_size);
        prop_end(p, item, at, false);
    }
    prop_begin(p, item, &at);
    gm_hw_pixi(&p->b, channels, depth);
    prop_end(p, item, at, false);
}

/* ------------------------------------------------------------------ */
/* One image as one HEVC picture or as a grid of tiles                 */
/* ------------------------------------------------------------------ */
typedef struct coded {
    gm_hevc_picture one;        /* no grid */
    gm_hevc_picture *tiles;     /* grid: rows * cols, row-major */
    uint32_t rows, cols, tile, ntiles;
    uint32_t width, height;
    uint8_t bit_depth, channels;
    uint8_t grid_data[12];      /* the grid item's payload */
    size_t grid_size;
    uint32_t *tile_ids;
} coded;

static void coded_free(coded *c)
{
    gm_hevc_picture_free(&c->one);
    for (uint32_t i = 0; c->tiles && i < c->ntiles; i++)
        gm_hevc_picture_free(&c->tiles[i]);
    free(c->tiles);
    free(c->tile_ids);
    memset(c, 0, sizeof *c);
}

static bool wants_grid(const gainmap_heic_options *ho, uint32_t w, uint32_t h)
{
    if (ho->grid == 0)
        return false;
    if (ho->grid > 0)
        return true;
    /* HEVC level 5.1 (what phone and PC hardware decoders take):
     * MaxLumaPs 8,912,896, sides up to sqrt(8 MaxLumaPs) = 8444 */
    return (uint64_t)w * h > 8912896u || w > 8192 || h > 8192;
}

/* The tile at (tx, ty), edge pixels repeated past the image. */
static gainmap_status cut_tile(gainmap_ctx *ctx, const gainmap_image *img, uint32_t tx, uint32_t ty, uint32_t t,
                               gainmap_image *out)
{
    gainmap_status st = gainmap_image_alloc(ctx, out, t, t, img->channels, img->type);
    if (st != GAINMAP_OK)
        return st;
    const size_t px = (size_t)img->channels * (img->type == GAINMAP_PIXEL_U16 ? 2 : 1);
    for (uint32_t y = 0; y < t; y++) {
        uint32_t sy = GM_MIN(img->height - 1, ty * t + y);
        const uint8_t *src = (const uint8_t *)img->data + (size_t)sy * img->stride;
        uint8_t *dst = (uint8_t *)out->data + (size_t)y * out->stride;
        uint32_t x0 = tx * t, n = x0 < img->width ? GM_MIN(t, img->width - x0) : 0;
        if (n)
            memcpy(dst, src + (size_t)x0 * px, (size_t)n * px);
        for (uint32_t x = n; x < t; x++)
            memcpy(dst + (size_t)x * px, src + (size_t)(img->width - 1) * px, px);
    }
    return GAINMAP_OK;
}

/* Tiles are coded (and decoded) by a few threads, each with its own libheif
 * context and x265/libde265 instance; every worker records errors in its
 * own copy of the context, the first one is passed on. */
typedef struct tile_job {
    const gainmap_image *img;
    const gm_hevc_settings *s;
    const coded *c;
    gainmap_image *out;     /* decode: the picture the tiles are pasted into */
    gainmap_ctx *wctx;      /* one per worker */
    gainmap_status *st;
} tile_job;

static gainmap_status encode_tile(gainmap_ctx *ctx, const gainmap_image *img, const gm_hevc_settings *s, const coded *c,
                                  uint32_t i)
{
    gainmap_image tile;
    gainmap_status st = cut_tile(ctx, img, i % c->cols, i / c->cols, c->tile, &tile);
    if (st == GAINMAP_OK)
        st = gm_hevc_encode(ctx, &tile, s, &c->tiles[i]);
    gainmap_image_free(&tile);
    return st;
}

static gainmap_status decode_tile(gainmap_ctx *ctx, const coded *c, uint32_t i, gainmap_image *out)
{
    gainmap_image tile;
    gainmap_status st = gm_hevc_decode(ctx, &c->tiles[i], &tile);
    if (st != GAINMAP_OK)
        return st;
    if (!out->data) {
        st = gainmap_image_alloc(ctx, out, c->width, c->height, tile.channels, tile.type);
        if (st == GAINMAP_OK) {
            out->bit_depth = tile.bit_depth;
            out->transfer = tile.transfer;
            out->primaries = tile.primaries;
            out->has_cicp = tile.has_cicp;
            memcpy(out->cicp, tile.cicp, sizeof out->cicp);
        }
    }
    if (st == GAINMAP_OK && (tile.channels != out->channels || tile.type != out->type || tile.width != c->tile ||
                             tile.height != c->tile))
        st = gm_error(ctx, GAINMAP_ERR_CODEC, "HEVC tile %u decoded as %ux%u", i, tile.width, tile.height);
    if (st == GAINMAP_OK) {
        const size_t px = (size_t)tile.channels * (tile.type == GAINMAP_PIXEL_U16 ? 2 : 1);
        uint32_t x0 = (i % c->cols) * c->tile, y0 = (i / c->cols) * c->tile;
        uint32_t nw = GM_MIN(c->tile, c->width - x0), nh = GM_MIN(c->tile, c->height - y0);
        for (uint32_t y = 0; y < nh; y++)
            memcpy((uint8_t *)out->data + (size_t)(y0 + y) * out->stride + (size_t)x0 * px,
                   (const uint8_t *)tile.data + (size_t)y * tile.stride, (size_t)nw * px);
    }
    gainmap_image_free(&tile);
    return st;
}

static void tile_strip(void *arg, int worker, uint32_t i0, uint32_t i1)
{
    tile_job *j = arg;
    for (uint32_t i = i0 + 1; i < i1 + 1 && j->st[worker] == GAINMAP_OK; i++)
        j->st[worker] = j->out ? decode_tile(&j->wctx[worker], j->c, i, j->out)
                               : encode_tile(&j->wctx[worker], j->img, j->s, j->c, i);
}

/* Tile 0 on this thread (it also loads libheif's plugins once), the rest
 * shared out. */
static gainmap_status run_tiles(gainmap_ctx *ctx, tile_job *j)
{
    gainmap_status st = j->out ? decode_tile(ctx, j->c, 0, j->out) : encode_tile(ctx, j->img, j->s, j->c, 0);
    if (st != GAINMAP_OK || j->c->ntiles == 1)
        return st;
    int workers = gm_thread_count(ctx, j->c->ntiles - 1, 1);
    j->wctx = gm_calloc(ctx, (size_t)workers, sizeof *j->wctx);
    j->st = gm_calloc(ctx, (size_t)workers, sizeof *j->st);
    if (!j->wctx || !j->st) {
        free(j->wctx);
        free(j->st);
        return GAINMAP_ERR_NOMEM;
    }
    for (int k = 0; k < workers; k++) {
        if (ctx)
            j->wctx[k] = *ctx;
        j->wctx[k].first_status = GAINMAP_OK;
        j->wctx[k].error[0] = 0;
        j->st[k] = GAINMAP_OK;
    }
    /* tiles 1.. are "rows" 0.. of the strip runner */
    gm_parallel_strips(workers, j->c->ntiles - 1, 1, tile_strip, j);
    for (int k = 0; k < workers && st == GAINMAP_OK; k++)
        if (j->st[k] != GAINMAP_OK) {
            st = j->st[k];
            if (ctx && ctx->first_status == GAINMAP_OK) {
                ctx->first_status = st;
                memcpy(ctx->error, j->wctx[k].error, sizeof ctx->error);
            }
        }
    free(j->wctx);
    free(j->st);
    return st;
}

static gainmap_status code_image(gainmap_ctx *ctx, const gainmap_image *img, const gm_hevc_settings *s,
                                 const gainmap_heic_options *ho, coded *c)
{
    memset(c, 0, sizeof *c);
    c->width = img->width;
    c->height = img->height;
    c->bit_depth = (uint8_t)s->bit_depth;
    c->channels = s->chroma == 400 ? 1 : 3;
    if (!wants_grid(ho, img->width, img->height))
        return gm_hevc_encode(ctx, img, s, &c->one);
    const uint32_t t = ho->tile_size;
    c->tile = t;
    c->cols = (img->width + t - 1) / t;
    c->rows = (img->height + t - 1) / t;
    if (c->cols > 256 || c->rows > 256 || (uint64_t)c->cols * c->rows > GM_HW_MAX_ITEMS / 2 - 8)
        return gm_error(ctx, GAINMAP_ERR_LIMIT,
                        "%ux%u in %ux%u tiles would need a %ux%u grid; use a larger tile size", img->width,
                        img->height, t, t, c->cols, c->rows);
    c->ntiles = c->cols * c->rows;
    c->tiles = gm_calloc(ctx, c->ntiles, sizeof *c->tiles);
    c->tile_ids = gm_calloc(ctx, c->ntiles, sizeof *c->tile_ids);
    if (!c->tiles || !c->tile_ids)
        return GAINMAP_ERR_NOMEM;
    gm_buf g;
    gm_buf_init(&g);
    gm_hw_grid(&g, c->rows, c->cols, img->width, img->height);
    c->grid_size = g.bad ? 0 : g.size;
    if (c->grid_size)
        memcpy(c->grid_data, g.data, g.size);
    gm_buf_free(&g);
    if (!c->grid_size)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing the grid");
    tile_job j = {img, s, c, NULL, NULL, NULL};
    return run_tiles(ctx, &j);
}

/* Decode what code_image made (the closed loop), tiles pasted and cropped. */
static gainmap_status decode_coded(gainmap_ctx *ctx, const coded *c, gainmap_image *out)
{
    if (!c->ntiles)
        return gm_hevc_decode(ctx, &c->one, out);
    memset(out, 0, sizeof *out);
    tile_job j = {NULL, NULL, c, out, NULL, NULL};
    gainmap_status st = run_tiles(ctx, &j);
    if (st != GAINMAP_OK)
        gainmap_image_free(out);
    return st;
}

/* The image item `id` at items[index] (an hvc1 item, or a grid in idat),
 * with its colour properties; a grid's tiles are added by add_tiles. */
static void image_item(props *p, gm_hw_file *f, unsigned index, uint32_t id, bool hidden, const coded *c,
                       const uint8_t cicp[4], const uint8_t *icc, size_t icc_size)
{
    if (!c->ntiles) {
        f->items[index] = (gm_hw_item){.id = id, .type = GM_4CC('h', 'v', 'c', '1'), .hidden = hidden,
                                       .data = c->one.data, .size = c->one.data_size};
        prop_bytes(p, index, c->one.hvcc, c->one.hvcc_size, true);
        prop_bytes(p, index, c->one.ispe, c->one.ispe_size, false);
        if (c->one.clap)
            prop_bytes(p, index, c->one.clap, c->one.clap_size, true);
    } else {
        f->items[index] = (gm_hw_item){.id = id, .type = GM_4CC('g', 'r', 'i', 'd'), .hidden = hidden,
                                       .data = c->grid_data, .size = c->grid_size, .in_idat = true};
        size_t at;
        prop_begin(p, index, &at);
        gm_hw_ispe(&p->b, c->width, c->height);
        prop_end(p, index, at, false);
    }
    colour_props(p, index, cicp, icc, icc_size, c->channels, c->bit_depth);
}

/* Hidden hvc1 tiles of a grid, IDs from *next_id, and the dimg reference. */
static void add_tiles(props *p, gm_hw_file *f, uint32_t grid_id, coded *c, const uint8_t cicp[4],
                      uint32_t *next_id)
{
    if (!c->ntiles)
        return;
    for (uint32_t i = 0; i < c->ntiles; i++) {
        unsigned k = f->nitems++;
        const gm_hevc_picture *t = &c->tiles[i];
        c->tile_ids[i] = (*next_id)++;
        f->items[k] = (gm_hw_item){.id = c->tile_ids[i], .type = GM_4CC('h', 'v', 'c', '1'), .hidden = true,
                                   .data = t->data, .size = t->data_size};
        prop_bytes(p, k, t->hvcc, t->hvcc_size, true);
        prop_bytes(p, k, t->ispe, t->ispe_size, false);
        size_t at;
        prop_begin(p, k, &at);
        gm_hw_colr_nclx(&p->b, cicp);
        prop_end(p, k, at, false);
    }
    f->refs[f->nrefs++] = (gm_hw_ref){GM_4CC('d', 'i', 'm', 'g'), grid_id, {0}, c->ntiles, c->tile_ids};
}

static void attach_props(props *p, gm_hw_file *f)
{
    for (unsigned i = 0; i < f->nitems; i++) {
        f->items[i].nprops = p->n[i];
        for (unsigned k = 0; k < p->n[i]; k++)
            f->items[i].props[k] = (gm_hw_prop){p->b.data + p->list[i][k].at, p->list[i][k].size,
                                                p->list[i][k].essential};
    }
}

static gainmap_status check_options(gainmap_ctx *ctx, const gainmap_encode_options *o, gainmap_heic_variant v)
{
    if ((unsigned)v > GAINMAP_HEIC_PQ_P3_PQ)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "unknown HEIC variant %d", (int)v);
    if (o->quality < 0 || o->quality > 100)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HEIC quality %d is outside 0..100", o->quality);
    if (o->gainmap_quality < 0 || o->gainmap_quality > 100)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gain-map HEVC quality %d is outside 0..100",
                        o->gainmap_quality);
    if (o->subsampling != 444 && o->subsampling != 420)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HEIC chroma subsampling must be 444 or 420, not %d",
                        o->subsampling);
    if (o->gainmap_scale != 1 && o->gainmap_scale != 2 && o->gainmap_scale != 4)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gain-map scale must be 1, 2 or 4, not %d", o->gainmap_scale);
    if (!(o->target_headroom >= 0.0 && o->target_headroom <= 16.0))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "target headroom %g is outside [0, 16] stops",
                        o->target_headroom);
    return GAINMAP_OK;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void gainmap_heic_options_init(gainmap_heic_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->speed = GAINMAP_HEIC_SPEED_FAST;
    o->grid = -1;
    o->tile_size = 512;
    o->keep_exif = 1;
}

static const char *x265_preset(gainmap_heic_speed s)
{
    switch (s) {
    case GAINMAP_HEIC_SPEED_FAST: return "ultrafast";
    case GAINMAP_HEIC_SPEED_SLOW: return "slow";
    default: return "fast";
    }
}

static gainmap_status check_heic_options(gainmap_ctx *ctx, const gainmap_heic_options *ho)
{
    if ((unsigned)ho->speed > GAINMAP_HEIC_SPEED_SLOW)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HEIC speed %d is not fast (0), medium (1) or slow (2)",
                        (int)ho->speed);
    if (ho->grid < -1 || ho->grid > 1)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HEIC grid setting %d is not -1, 0 or 1", ho->grid);
    if (ho->tile_size < 64 || ho->tile_size > 4096 || ho->tile_size % 64)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "HEIC tile size %u is not a multiple of 64 in 64..4096",
                        ho->tile_size);
    return GAINMAP_OK;
}

/* "Exif\0\0"-prefixed EXIF item payload (ISO/IEC 23008-12 A.2.1: u32
 * offset to the TIFF header, here after "Exif\0\0"): the master's EXIF
 * (orientation 1) with the Apple maker note when headroom > 0. */
static gainmap_status exif_item(gainmap_ctx *ctx, const gainmap_image *master, const gainmap_heic_options *ho,
                                double headroom, gm_heic_written *w, uint8_t **out, size_t *size)
{
    uint8_t *tiff = NULL;
    size_t tiff_size = 0;
    gainmap_status st = GAINMAP_ERR_NO_GAINMAP;
    if (ho->keep_exif && master->exif && master->exif_size) {
        /* a master EXIF we cannot take apart is left out, not fatal */
        st = gm_exif_merge_apple(NULL, master->exif, master->exif_size, headroom, &tiff, &tiff_size);
        w->exif_from_master = st == GAINMAP_OK && tiff;
    }
    if (st != GAINMAP_OK && headroom > 0 &&
        (st = gm_apple_exif_make(ctx, headroom, &tiff, &tiff_size)) != GAINMAP_OK)
        return st;
    if (!tiff)
        return GAINMAP_OK;
    *size = 10 + tiff_size;
    *out = gm_malloc(ctx, *size);
    if (!*out) {
        free(tiff);
        return GAINMAP_ERR_NOMEM;
    }
    memcpy(*out, "\0\0\0\6Exif\0\0", 10);
    memcpy(*out + 10, tiff, tiff_size);
    free(tiff);
    return GAINMAP_OK;
}

gainmap_status gm_encode_heic(gainmap_ctx *ctx, const gainmap_image *hdr_in, const gainmap_image *sdr_in,
                              const gainmap_encode_options *opts, const gainmap_heic_options *ho,
                              gainmap_heic_variant v, uint8_t **out, size_t *out_size, gm_heic_written *w)
{
    gm_heic_written wlocal;
    if (!w)
        w = &wlocal;
    memset(w, 0, sizeof *w);
    double t0 = now_seconds(), t;
    if (!hdr_in || !hdr_in->data || !out || !out_size)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "encode: missing HDR image or output pointers");
    *out = NULL;
    *out_size = 0;
    gainmap_encode_options defaults;
    if (!opts) {
        gainmap_encode_options_init(&defaults);
        opts = &defaults;
    }
    gainmap_heic_options hdefaults;
    if (!ho) {
        gainmap_heic_options_init(&hdefaults);
        ho = &hdefaults;
    }
    gainmap_status st = check_options(ctx, opts, v);
    if (st == GAINMAP_OK)
        st = check_heic_options(ctx, ho);
    if (st != GAINMAP_OK)
        return st;
    const bool pq = v == GAINMAP_HEIC_PQ_HDR_P3_D65_ST2084 || v == GAINMAP_HEIC_PQ_P3_PQ;
    const bool apple = v == GAINMAP_HEIC_APPLE || v == GAINMAP_HEIC_BOTH;
    const bool iso = v == GAINMAP_HEIC_ISO || v == GAINMAP_HEIC_BOTH;
    const char *preset = x265_preset(ho->speed);

    gainmap_image hdr_o, sdr_o, tm, pqimg, decoded, map, limited;
    memset(&limited, 0, sizeof limited);
    memset(&hdr_o, 0, sizeof hdr_o);
    memset(&sdr_o, 0, sizeof sdr_o);
    memset(&tm, 0, sizeof tm);
    memset(&pqimg, 0, sizeof pqimg);
    memset(&decoded, 0, sizeof decoded);
    memset(&map, 0, sizeof map);
    coded base_c, map_c;
    memset(&base_c, 0, sizeof base_c);
    memset(&map_c, 0, sizeof map_c);
    uint8_t *icc = NULL, *alt_icc = NULL, *iso_bytes = NULL, *exif = NULL, *xmp = NULL, *tmap = NULL;
    size_t icc_size = 0, alt_icc_size = 0, iso_size = 0, exif_size = 0, xmp_size = 0;
    props pr;
    memset(&pr, 0, sizeof pr);
    gm_buf_init(&pr.b);
    gm_hw_file f;
    memset(&f, 0, sizeof f);
    uint8_t base_cicp[4], map_cicp[4] = {2, 2, 2, 1};
    double H = 0;

    /* Light beyond PQ's 10000 cd/m2 is clipped (gm_master_limit); HEIF
     * orientation would need irot/imir: turn the pixels instead. */
    const gainmap_image *hdr = hdr_in, *sdr = sdr_in;
    if ((st = gm_master_limit(ctx, hdr_in, &limited, &hdr)) != GAINMAP_OK)
        goto done;
    if (hdr->orientation > 1 && hdr->orientation <= 8) {
        if ((st = gm_image_orient(ctx, hdr, hdr->orientation, &hdr_o)) != GAINMAP_OK)
            goto done;
        hdr = &hdr_o;
    }
    if (sdr_in && sdr_in->orientation > 1 && sdr_in->orientation <= 8) {
        if ((st = gm_image_orient(ctx, sdr_in, sdr_in->orientation, &sdr_o)) != GAINMAP_OK)
            goto done;
        sdr = &sdr_o;
    }
    uint16_t cll = 0, fall = 0;
    f.brands[f.nbrands++] = GM_4CC('h', 'e', 'i', 'c');
    f.brands[f.nbrands++] = GM_4CC('m', 'i', 'f', '1');
    f.primary = ID_BASE;
    gainmap_primaries bp = GAINMAP_PRIMARIES_P3;
    gm_hevc_settings s;

    if (pq) {
        if ((st = to_p3_pq(ctx, hdr, &pqimg)) != GAINMAP_OK)
            goto done;
        if ((st = light_level(ctx, hdr, GAINMAP_PRIMARIES_P3, &cll, &fall)) != GAINMAP_OK)
            goto done;
        s = (gm_hevc_settings){opts->quality, opts->subsampling, 10, {12, 16, 9, 1}, preset, "psnr"};
        t = now_seconds();
        if ((st = code_image(ctx, &pqimg, &s, ho, &base_c)) != GAINMAP_OK)
            goto done;
        w->seconds_hevc += now_seconds() - t;
        gainmap_image_free(&pqimg);
        const char *name = v == GAINMAP_HEIC_PQ_P3_PQ ? "P3_PQ" : "HDR_P3_D65_ST2084";
        if ((st = gainmap_icc_generate(ctx, name, &icc, &icc_size)) != GAINMAP_OK)
            goto done;
    } else {
        /* SDR base: given or tone-mapped, 8-bit, Display P3 or sRGB */
        bool one_channel = apple || opts->gainmap_channels == 1;
        /* automatic base primaries: Apple's map needs a P3 base */
        gainmap_tonemap_options to = opts->tonemap;
        if (!to.base_primaries && !sdr) {
            if (apple)
                to.base_primaries = GAINMAP_PRIMARIES_P3;
            else if ((st = gainmap_auto_base_primaries(ctx, hdr, &to.base_primaries)) != GAINMAP_OK)
                goto done;
        }
        if (!sdr) {
            gainmap_primaries tp = to.base_primaries;
            if (one_channel && !to.lut && (tp == GAINMAP_PRIMARIES_P3 || tp == GAINMAP_PRIMARIES_BT709))
                st = ratio_base(ctx, hdr, &to, tp, &tm);
            else
                st = gainmap_tonemap(ctx, hdr, &to, &tm);
            if (st != GAINMAP_OK)
                goto done;
            sdr = &tm;
        }
        if (sdr->width != hdr->width || sdr->height != hdr->height) {
            st = gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "SDR image is %ux%u but the HDR image is %ux%u", sdr->width,
                          sdr->height, hdr->width, hdr->height);
            goto done;
        }
        if (sdr->type != GAINMAP_PIXEL_U8 || (sdr->channels != 3 && sdr->channels != 4)) {
            st = gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "the SDR base must be 8-bit RGB");
            goto done;
        }
        bp = gm_sdr_primaries(sdr, opts);   /* a tone-mapped base carries its own */
        const char *icc_name = gm_icc_name_for(bp, GAINMAP_TRANSFER_SRGB);
        if (!icc_name) {
            st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED,
                          "SDR base primaries %s are not supported (use p3, srgb or bt2020)",
                          gainmap_primaries_name(bp));
            goto done;
        }
        if (apple && bp != GAINMAP_PRIMARIES_P3) {
            st = gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "an Apple gain-map HEIC needs a Display P3 base, not %s",
                          gainmap_primaries_name(bp));
            goto done;
        }
        const gainmap_image *base_src = sdr;
        gainmap_image rgb3;
        memset(&rgb3, 0, sizeof rgb3);
        if (sdr->channels == 4) {
            if ((st = gm_image_convert(ctx, sdr, GAINMAP_PIXEL_U16, 3, &rgb3)) != GAINMAP_OK)
                goto done;
            base_src = &rgb3;
        }
        uint8_t cp = (uint8_t)gainmap_primaries_to_cicp(bp);
        s = (gm_hevc_settings){opts->quality, opts->subsampling, 8, {cp, 13, 6, 1}, preset, "psnr"};
        t = now_seconds();
        st = code_image(ctx, base_src, &s, ho, &base_c);
        w->seconds_hevc += now_seconds() - t;
        gainmap_image_free(&rgb3);
        if (st != GAINMAP_OK)
            goto done;
        gainmap_image_free(&tm);
        if ((st = decode_coded(ctx, &base_c, &decoded)) != GAINMAP_OK)
            goto done;
        decoded.primaries = bp;
        decoded.transfer = GAINMAP_TRANSFER_SRGB;
        if ((st = gainmap_icc_generate(ctx, icc_name, &icc, &icc_size)) != GAINMAP_OK)
            goto done;

        gainmap_metadata meta;
        memset(&meta, 0, sizeof meta);
        if (apple) {
            if ((st = apple_map(ctx, &decoded, hdr, opts, &map, &H)) != GAINMAP_OK)
                goto done;
            if (iso && (st = apple_iso_fit(ctx, &map, H, &meta, &w->iso_fit_rms_stops)) != GAINMAP_OK)
                goto done;
            meta.kind = GAINMAP_KIND_ISO;
        } else if ((st = gainmap_compute(ctx, &decoded, hdr, opts, &map, &meta)) != GAINMAP_OK) {
            goto done;
        }
        gainmap_image_free(&decoded);
        bool mono = map.channels == 1;
        map_cicp[2] = mono ? 2 : 6;
        gm_hevc_settings ms = {opts->gainmap_quality, mono ? 400 : 444, 8, {2, 2, map_cicp[2], 1}, preset, "psnr"};
        t = now_seconds();
        if ((st = code_image(ctx, &map, &ms, ho, &map_c)) != GAINMAP_OK)
            goto done;
        w->seconds_hevc += now_seconds() - t;
        w->map_width = map.width;
        w->map_height = map.height;
        w->map_channels = map.channels;
        w->map_bytes = map_c.one.data_size;
        for (uint32_t i = 0; i < map_c.ntiles; i++)
            w->map_bytes += map_c.tiles[i].data_size;
        w->apple_headroom = apple ? H : 0.0;
        if (iso) {
            w->has_iso = true;
            w->iso = meta;
            if ((st = gainmap_iso21496_write(ctx, &meta, &iso_bytes, &iso_size)) != GAINMAP_OK)
                goto done;
            if (!(tmap = gm_malloc(ctx, iso_size + 1))) {
                st = GAINMAP_ERR_NOMEM;
                goto done;
            }
            tmap[0] = 0;   /* ToneMapImage version */
            memcpy(tmap + 1, iso_bytes, iso_size);
            if ((st = light_level(ctx, hdr, bp, &cll, &fall)) != GAINMAP_OK)
                goto done;
            if ((bp == GAINMAP_PRIMARIES_P3 || bp == GAINMAP_PRIMARIES_BT2020) &&
                (st = gainmap_icc_generate(ctx, gm_icc_name_for(bp, GAINMAP_TRANSFER_PQ), &alt_icc,
                                           &alt_icc_size)) != GAINMAP_OK)
                goto done;
        }
        if (apple && (st = apple_xmp(ctx, H, &xmp, &xmp_size)) != GAINMAP_OK)
            goto done;
    }
    memcpy(base_cicp, s.cicp, 4);
    if ((st = exif_item(ctx, hdr_in, ho, apple ? H : 0.0, w, &exif, &exif_size)) != GAINMAP_OK)
        goto done;

    /* items: base, map, tmap, Exif, XMP, then the grids' tiles */
    unsigned cap = 5 + base_c.ntiles + map_c.ntiles;
    f.items = gm_calloc(ctx, cap, sizeof *f.items);
    pr.list = gm_calloc(ctx, cap, sizeof *pr.list);
    pr.n = gm_calloc(ctx, cap, sizeof *pr.n);
    if (!f.items || !pr.list || !pr.n) {
        st = GAINMAP_ERR_NOMEM;
        goto done;
    }
    image_item(&pr, &f, f.nitems++, ID_BASE, false, &base_c, base_cicp, icc, icc_size);
    if (pq) {
        size_t at;
        prop_begin(&pr, 0, &at);
        gm_hw_clli(&pr.b, cll, fall);
        prop_end(&pr, 0, at, false);
    } else {
        unsigned mi = f.nitems++;
        image_item(&pr, &f, mi, ID_MAP, true, &map_c, map_cicp, NULL, 0);
        if (apple) {
            size_t at;
            prop_begin(&pr, mi, &at);
            gm_hw_auxc(&pr.b, GM_HEIF_AUX_APPLE);
            prop_end(&pr, mi, at, true);
            f.refs[f.nrefs++] = (gm_hw_ref){GM_4CC('a', 'u', 'x', 'l'), ID_MAP, {ID_BASE}, 1, NULL};
        }
    }
    if (iso) {
        unsigned ti = f.nitems++;
        f.items[ti] = (gm_hw_item){.id = ID_TMAP, .type = GM_4CC('t', 'm', 'a', 'p'), .data = tmap,
                                  .size = iso_size + 1, .in_idat = true};
        /* the HDR alternate: PQ in the base primaries (the maths runs there) */
        size_t at;
        prop_begin(&pr, ti, &at);
        gm_hw_ispe(&pr.b, base_c.width, base_c.height);
        prop_end(&pr, ti, at, false);
        uint8_t alt[4] = {base_cicp[0], 16, 0, 1};
        colour_props(&pr, ti, alt, alt_icc, alt_icc_size, 3, 10);
        prop_begin(&pr, ti, &at);
        gm_hw_clli(&pr.b, cll, fall);
        prop_end(&pr, ti, at, false);
        f.refs[f.nrefs++] = (gm_hw_ref){GM_4CC('d', 'i', 'm', 'g'), ID_TMAP, {ID_BASE, ID_MAP}, 2, NULL};
        f.altr_id = ID_GROUP;
        f.altr[0] = ID_TMAP;
        f.altr[1] = ID_BASE;
        f.naltr = 2;
        f.brands[f.nbrands++] = GM_4CC('t', 'm', 'a', 'p');
    }
    if (exif) {
        unsigned e = f.nitems++;
        f.items[e] = (gm_hw_item){.id = ID_EXIF, .type = GM_4CC('E', 'x', 'i', 'f'), .data = exif,
                                  .size = exif_size};
        f.refs[f.nrefs++] = (gm_hw_ref){GM_4CC('c', 'd', 's', 'c'), ID_EXIF, {ID_BASE}, 1, NULL};
    }
    if (xmp) {
        unsigned x = f.nitems++;
        f.items[x] = (gm_hw_item){.id = ID_XMP, .type = GM_4CC('m', 'i', 'm', 'e'),
                                  .content_type = "application/rdf+xml", .data = xmp, .size = xmp_size};
        f.refs[f.nrefs++] = (gm_hw_ref){GM_4CC('c', 'd', 's', 'c'), ID_XMP, {ID_MAP}, 1, NULL};
    }
    uint32_t next_id = ID_GROUP + 1;
    add_tiles(&pr, &f, ID_BASE, &base_c, base_cicp, &next_id);
    add_tiles(&pr, &f, ID_MAP, &map_c, map_cicp, &next_id);
    if (pr.b.bad) {
        st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory writing HEIF properties");
        goto done;
    }
    attach_props(&pr, &f);
    st = gm_heif_write(ctx, &f, out, out_size);
    w->base_bytes = base_c.one.data_size;
    for (uint32_t i = 0; i < base_c.ntiles; i++)
        w->base_bytes += base_c.tiles[i].data_size;
    w->base_tiles = base_c.ntiles;
    w->map_tiles = map_c.ntiles;
    w->tile_size = base_c.ntiles || map_c.ntiles ? ho->tile_size : 0;
    w->max_cll = cll;
    w->max_fall = fall;
    w->seconds_total = now_seconds() - t0;
done:
    free(limited.data);   /* pixels only: the rest is hdr_in's */
    gainmap_image_free(&hdr_o);
    gainmap_image_free(&sdr_o);
    gainmap_image_free(&tm);
    gainmap_image_free(&pqimg);
    gainmap_image_free(&decoded);
    gainmap_image_free(&map);
    coded_free(&base_c);
    coded_free(&map_c);
    gm_buf_free(&pr.b);
    free(pr.list);
    free(pr.n);
    free(f.items);
    free(icc);
    free(alt_icc);
    free(iso_bytes);
    free(exif);
    free(xmp);
    free(tmap);
    return st;
}

gainmap_status gainmap_encode_heic(gainmap_ctx *ctx, const gainmap_image *hdr, const gainmap_image *sdr,
                                   const gainmap_encode_options *opts, gainmap_heic_variant variant, uint8_t **out,
                                   size_t *out_size)
{
    return gm_encode_heic(ctx, hdr, sdr, opts, NULL, variant, out, out_size, NULL);
}

gainmap_status gainmap_encode_heic_ex(gainmap_ctx *ctx, const gainmap_image *hdr, const gainmap_image *sdr,
                                      const gainmap_encode_options *opts, const gainmap_heic_options *heic_opts,
                                      gainmap_heic_variant variant, uint8_t **out, size_t *out_size)
{
    return gm_encode_heic(ctx, hdr, sdr, opts, heic_opts, variant, out, out_size, NULL);
}

/* preview.c - gainmap_render_preview: a contact sheet of a gain-map file.
 *
 * Gain-map JPEGs are previewed from thumbnails: the base is box-filtered to
 * panel size first and the map applied to that thumbnail (gainmap_apply
 * resamples the map), so a 50 MP photo costs two JPEG decodes and four tiny
 * applies.  Other containers go through gainmap_decode at each headroom,
 * and their "map" panel shows the effective gain log2(HDR / SDR) measured
 * between the full-headroom and the headroom-1 decodes.  The renderings
 * share one tone curve (BT.2390 with the peak fixed at 8x SDR white) so
 * that brightness differences between them are the map's doing. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Geometry (pixels). */
#define PW 300          /* panel box */
#define PH 225
#define MARGIN 12
#define TITLE_H 18
#define LABEL_H 20
#define STRIP_H 30      /* scale bar + tick labels under the first row */
#define LINE_H 18       /* metadata text line at scale 2 */
#define NLINES 9
#define SHEET_W (4 * PW + 5 * MARGIN)
#define HIST_BINS 64
#define PREVIEW_PEAK 8.0   /* tone-curve peak, in SDR whites */

static const uint8_t BG[3] = {28, 28, 30}, BOX[3] = {46, 46, 50}, FG[3] = {225, 225, 225}, DIM[3] = {150, 150, 155};

static uint32_t col_x(int col) { return MARGIN + (uint32_t)col * (PW + MARGIN); }
static const uint32_t ROW_A_LABEL = MARGIN + TITLE_H + MARGIN;
#define ROW_A_BOX (ROW_A_LABEL + LABEL_H)
#define ROW_B_LABEL (ROW_A_BOX + PH + STRIP_H + MARGIN)
#define ROW_B_BOX (ROW_B_LABEL + LABEL_H)
#define TEXT_Y (ROW_B_BOX + PH + MARGIN)
#define SHEET_H (TEXT_Y + NLINES * LINE_H + MARGIN)

static void fit(uint32_t w, uint32_t h, uint32_t *tw, uint32_t *th)
{
    double s = GM_MIN((double)PW / w, (double)PH / h);
    *tw = (uint32_t)GM_CLAMP(lround(w * s), 1, PW);
    *th = (uint32_t)GM_CLAMP(lround(h * s), 1, PH);
}

void gm_preview_layout(uint32_t base_w, uint32_t base_h, gm_rect r[GM_PREVIEW_NPANELS], uint32_t *sheet_w,
                       uint32_t *sheet_h)
{
    uint32_t tw, th;
    fit(base_w ? base_w : 1, base_h ? base_h : 1, &tw, &th);
    uint32_t ox = (PW - tw) / 2, oy = (PH - th) / 2;
    r[GM_PREVIEW_BASE] = (gm_rect){col_x(0) + ox, ROW_A_BOX + oy, tw, th};
    r[GM_PREVIEW_MAP] = (gm_rect){col_x(1) + ox, ROW_A_BOX + oy, tw, th};
    r[GM_PREVIEW_SCALE] = (gm_rect){col_x(1), ROW_A_BOX + PH + 6, PW, 12};
    r[GM_PREVIEW_HIST] = (gm_rect){col_x(2), ROW_A_BOX, 2 * PW + MARGIN, PH};
    for (int k = 0; k < 4; k++)
        r[GM_PREVIEW_H1 + k] = (gm_rect){col_x(k) + ox, ROW_B_BOX + oy, tw, th};
    r[GM_PREVIEW_TEXT] = (gm_rect){MARGIN, TEXT_Y, SHEET_W - 2 * MARGIN, NLINES * LINE_H};
    *sheet_w = SHEET_W;
    *sheet_h = SHEET_H;
}

/* ---- drawing on the U8 RGB sheet ---- */

static void fill(gainmap_image *s, uint32_t x, uint32_t y, uint32_t w, uint32_t h, const uint8_t c[3])
{
    for (uint32_t j = y; j < y + h && j < s->height; j++) {
        uint8_t *p = (uint8_t *)s->data + (size_t)j * s->stride;
        for (uint32_t i = x; i < x + w && i < s->width; i++)
            memcpy(p + 3 * (size_t)i, c, 3);
    }
}

/* Text at scale 1 or 2; stops (with "..." when cut) at max_w pixels. */
static void text(gainmap_image *s, uint32_t x, uint32_t y, int scale, const uint8_t c[3], const char *str,
                 uint32_t max_w)
{
    uint32_t cell = 6u * (uint32_t)scale;
    size_t n = strlen(str), fits = max_w / cell;
    char buf[256];
    if (n > fits && fits >= 3) {
        n = GM_MIN(fits, sizeof buf - 1);
        memcpy(buf, str, n - 3);
        memcpy(buf + n - 3, "...", 3);
        buf[n] = '\0';
        str = buf;
    } else if (n > fits) {
        n = fits;
    }
    for (size_t k = 0; k < n; k++, x += cell) {
        const uint8_t *g = gm_font_glyph((unsigned char)str[k]);
        if (!g)
            g = gm_font_glyph('?');
        uint32_t drop = (uint32_t)(gm_font_drop((unsigned char)str[k]) * scale);
        for (int row = 0; row < 7; row++)
            for (int col = 0; col < 5; col++)
                if (g[row] & (0x10 >> col))
                    fill(s, x + (uint32_t)(col * scale), y + drop + (uint32_t)(row * scale), (uint32_t)scale,
                         (uint32_t)scale, c);
    }
}

/* Copy an U8 image (1 or 3+ channels) into the sheet at r. */
static void blit(gainmap_image *s, const gm_rect *r, const gainmap_image *img)
{
    for (uint32_t j = 0; j < r->h && j < img->height; j++) {
        const uint8_t *src = (const uint8_t *)img->data + (size_t)j * img->stride;
        uint8_t *dst = (uint8_t *)s->data + (size_t)(r->y + j) * s->stride + 3 * (size_t)r->x;
        for (uint32_t i = 0; i < r->w && i < img->width; i++) {
            const uint8_t *p = src + (size_t)i * img->channels;
            uint8_t *q = dst + 3 * (size_t)i;
            if (img->channels >= 3) {
                q[0] = p[0], q[1] = p[1], q[2] = p[2];
            } else {
                q[0] = q[1] = q[2] = p[0];
            }
        }
    }
}

/* Our false-colour scale for t in [0, 1]: dark blue, blue, green, yellow, red. */
static void false_colour(double t, uint8_t out[3])
{
    static const double anchors[5][3] = {
        {20, 22, 90}, {30, 110, 225}, {40, 190, 120}, {240, 210, 40}, {250, 70, 30},
    };
    t = GM_CLAMP(t, 0.0, 1.0) * 4.0;
    int i = (int)GM_MIN(t, 3.0);
    double f = t - i;
    for (int c = 0; c < 3; c++)
        out[c] = (uint8_t)lround(anchors[i][c] + (anchors[i + 1][c] - anchors[i][c]) * f);
}

/* ---- images ---- */

static double sample(const gainmap_image *img, const uint8_t *row, uint32_t x, uint32_t c)
{
    size_t i = (size_t)x * img->channels + c;
    switch (img->type) {
    case GAINMAP_PIXEL_U8: return row[i];
    case GAINMAP_PIXEL_U16: return ((const uint16_t *)(const void *)row)[i];
    default: return ((const float *)(const void *)row)[i];
    }
}

/* Box-filter src to w x h (nearest when enlarging); same type, channels and tags. */
static gainmap_status resize(gainmap_ctx *ctx, const gainmap_image *src, uint32_t w, uint32_t h, gainmap_image *dst)
{
    gainmap_status st = gainmap_image_alloc(ctx, dst, w, h, src->channels, src->type);
    if (st != GAINMAP_OK)
        return st;
    dst->transfer = src->transfer;
    dst->primaries = src->primaries;
    dst->bit_depth = src->bit_depth;
    uint32_t ch = src->channels;
    double acc[4];
    for (uint32_t y = 0; y < h; y++) {
        uint32_t y0 = (uint32_t)((uint64_t)y * src->height / h);
        uint32_t y1 = GM_MAX(y0 + 1, (uint32_t)((uint64_t)(y + 1) * src->height / h));
        uint8_t *drow = (uint8_t *)dst->data + (size_t)y * dst->stride;
        for (uint32_t x = 0; x < w; x++) {
            uint32_t x0 = (uint32_t)((uint64_t)x * src->width / w);
            uint32_t x1 = GM_MAX(x0 + 1, (uint32_t)((uint64_t)(x + 1) * src->width / w));
            memset(acc, 0, sizeof acc);
            for (uint32_t sy = y0; sy < y1; sy++) {
                const uint8_t *srow = (const uint8_t *)src->data + (size_t)sy * src->stride;
                for (uint32_t sx = x0; sx < x1; sx++)
                    for (uint32_t c = 0; c < ch && c < 4; c++)
                        acc[c] += sample(src, srow, sx, c);
            }
            double n = (double)(y1 - y0) * (x1 - x0);
            for (uint32_t c = 0; c < ch && c < 4; c++) {
                double v = acc[c] / n;
                size_t i = (size_t)x * ch + c;
                if (dst->type == GAINMAP_PIXEL_U8)
                    drow[i] = (uint8_t)lround(GM_CLAMP(v, 0.0, 255.0));
                else if (dst->type == GAINMAP_PIXEL_U16)
                    ((uint16_t *)(void *)drow)[i] = (uint16_t)lround(GM_CLAMP(v, 0.0, 65535.0));
                else
                    ((float *)(void *)drow)[i] = (float)v;
            }
        }
    }
    return GAINMAP_OK;
}

/* Linear F32 (1.0 = SDR white, BT.709) -> U8 sRGB through the shared curve. */
static gainmap_status render(gainmap_ctx *ctx, const gainmap_image *hdr, gainmap_image *out)
{
    gainmap_tonemap_options o;
    gainmap_tonemap_options_init(&o);
    o.method = GAINMAP_TONEMAP_BT2390;
    o.peak_nits = PREVIEW_PEAK * GM_SDR_WHITE_NITS;
    o.base_primaries = GAINMAP_PRIMARIES_BT709;
    o.base_transfer = GAINMAP_TRANSFER_SRGB;
    o.dither = 0;
    return gainmap_tonemap(ctx, hdr, &o, out);
}

/* Luminance of linear BT.709 RGB. */
static double luma(const float *p) { return 0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2]; }

/* What the preview shows, in displayed orientation. */
typedef struct pv {
    gainmap_image base;         /* U8 SDR base thumbnail */
    gainmap_image render[4];    /* U8 renderings at headroom 1, 2, 4, 8 */
    float *gain;                /* log2 gain per thumbnail pixel */
    uint32_t tw, th;
    double hist[HIST_BINS];
    double lo, hi;              /* colour scale and histogram range (stops) */
} pv;

/* log2 gain of a map code (0..255, fractional after resampling) in channel c. */
static double code_gain(const gainmap_metadata *m, const gainmap_params *p, double code, int c)
{
    double v = GM_CLAMP(code / 255.0, 0.0, 1.0);
    if (m->kind == GAINMAP_KIND_APPLE)
        return log2(1.0 + (GM_MAX(m->apple_headroom, 1.0) - 1.0) * gainmap_bt709_to_linear(v));
    double e = p->gamma[c] > 0.0 ? pow(v, 1.0 / p->gamma[c]) : v;
    return p->gain_map_min[c] + (p->gain_map_max[c] - p->gain_map_min[c]) * e;
}

static void hist_add(pv *v, double g)
{
    double t = (g - v->lo) / (v->hi - v->lo);
    int b = (int)floor(t * HIST_BINS);
    v->hist[GM_CLAMP(b, 0, HIST_BINS - 1)] += 1.0;
}

/* Gain-map JPEG: thumbnails first, then the maths. */
static gainmap_status from_jpeg(gainmap_ctx *ctx, const gainmap_file *f, const gainmap_info *info, pv *v)
{
    const uint8_t *bdata, *mdata;
    size_t bsize, msize;
    gainmap_status st = gainmap_file_base_stream(f, &bdata, &bsize);
    if (st == GAINMAP_OK)
        st = gainmap_file_map_stream(f, &mdata, &msize);
    if (st != GAINMAP_OK)
        return gm_error(ctx, st, "the file's image streams are missing");
    gainmap_image base, map, small, hdr;
    memset(&base, 0, sizeof base);
    memset(&map, 0, sizeof map);
    memset(&small, 0, sizeof small);
    memset(&hdr, 0, sizeof hdr);
    if ((st = gainmap_jpeg_decode(ctx, bdata, bsize, &base)) != GAINMAP_OK)
        goto done;
    if ((st = gainmap_jpeg_decode(ctx, mdata, msize, &map)) != GAINMAP_OK)
        goto done;
    base.primaries = info->base_primaries ? info->base_primaries : GAINMAP_PRIMARIES_BT709;
    base.transfer = info->base_transfer ? info->base_transfer : GAINMAP_TRANSFER_SRGB;
    int orient = info->orientation >= 1 && info->orientation <= 8 ? info->orientation : 1;
    bool swap = orient >= 5;
    /* Thumbnail in stored orientation. */
    uint32_t sw = swap ? v->th : v->tw, sh = swap ? v->tw : v->th;
    if ((st = resize(ctx, &base, sw, sh, &small)) != GAINMAP_OK)
        goto done;
    gainmap_image_free(&base);

    gainmap_decode_options o;
    gainmap_decode_options_init(&o);
    o.transfer = GAINMAP_TRANSFER_LINEAR;
    o.primaries = GAINMAP_PRIMARIES_BT709;
    for (int k = 0; k < 4; k++) {
        o.headroom = (double)(1 << k);
        if ((st = gainmap_apply(ctx, &small, &map, &info->meta, &o, &hdr)) != GAINMAP_OK)
            goto done;
        st = render(ctx, &hdr, &v->render[k]);
        gainmap_image_free(&hdr);
        if (st != GAINMAP_OK || (st = gm_image_orient_in_place(ctx, &v->render[k], orient)) != GAINMAP_OK)
            goto done;
    }
    v->base = small;
    memset(&small, 0, sizeof small);
    if ((st = gm_image_orient_in_place(ctx, &v->base, orient)) != GAINMAP_OK)
        goto done;

    /* Gain: the histogram counts every map pixel, the panel shows a thumbnail. */
    gainmap_params p;
    gainmap_metadata_to_params(&info->meta, &p);
    uint32_t mc = map.channels >= 3 ? 3 : 1;
    double table[3][256];
    for (uint32_t c = 0; c < mc; c++)
        for (int code = 0; code < 256; code++)
            table[c][code] = code_gain(&info->meta, &p, code, (int)c);
    for (uint32_t y = 0; y < map.height; y++) {
        const uint8_t *r = (const uint8_t *)map.data + (size_t)y * map.stride;
        for (uint32_t x = 0; x < map.width; x++) {
            double g = 0.0;
            for (uint32_t c = 0; c < mc; c++)
                g += table[c][r[(size_t)x * map.channels + c]];
            hist_add(v, g / mc);
        }
    }
    gainmap_image gm;
    memset(&gm, 0, sizeof gm);
    if ((st = resize(ctx, &map, sw, sh, &small)) != GAINMAP_OK ||
        (st = gainmap_image_alloc(ctx, &gm, sw, sh, 1, GAINMAP_PIXEL_F32)) != GAINMAP_OK)
        goto done;
    for (uint32_t y = 0; y < sh; y++) {
        const uint8_t *r = (const uint8_t *)small.data + (size_t)y * small.stride;
        float *g = (float *)(void *)((uint8_t *)gm.data + (size_t)y * gm.stride);
        for (uint32_t x = 0; x < sw; x++) {
            double s = 0.0;
            for (uint32_t c = 0; c < mc; c++)
                s += code_gain(&info->meta, &p, r[(size_t)x * small.channels + c], (int)c);
            g[x] = (float)(s / mc);
        }
    }
    if ((st = gm_image_orient_in_place(ctx, &gm, orient)) != GAINMAP_OK) {
        gainmap_image_free(&gm);
        goto done;
    }
    /* gm is now tw x th, rows packed (F32, one channel). */
    v->gain = gm_malloc(ctx, (size_t)v->tw * v->th * sizeof *v->gain);
    if (!v->gain) {
        gainmap_image_free(&gm);
        st = GAINMAP_ERR_NOMEM;
        goto done;
    }
    for (uint32_t y = 0; y < v->th; y++)
        memcpy(v->gain + (size_t)y * v->tw, (uint8_t *)gm.data + (size_t)y * gm.stride, v->tw * sizeof(float));
    gainmap_image_free(&gm);
done:
    gainmap_image_free(&base);
    gainmap_image_free(&map);
    gainmap_image_free(&small);
    gainmap_image_free(&hdr);
    return st;
}

/* Any container gainmap_decode reads: full-size decodes, shrunk. */
static gainmap_status from_decode(gainmap_ctx *ctx, const gainmap_file *f, pv *v)
{
    gainmap_decode_options o;
    gainmap_decode_options_init(&o);
    o.transfer = GAINMAP_TRANSFER_LINEAR;
    o.primaries = GAINMAP_PRIMARIES_BT709;
    gainmap_image full, small[5];
    memset(&full, 0, sizeof full);
    memset(small, 0, sizeof small);
    gainmap_status st = GAINMAP_OK;
    for (int k = 0; k < 5; k++) {   /* headroom 1, 2, 4, 8, then full */
        o.headroom = k < 4 ? (double)(1 << k) : 0.0;
        if ((st = gainmap_decode(ctx, f, &o, &full)) != GAINMAP_OK)
            goto done;
        st = resize(ctx, &full, v->tw, v->th, &small[k]);
        gainmap_image_free(&full);
        if (st != GAINMAP_OK)
            goto done;
        if (k < 4 && (st = render(ctx, &small[k], &v->render[k])) != GAINMAP_OK)
            goto done;
    }
    if ((st = gainmap_image_alloc(ctx, &v->base, v->tw, v->th, 3, GAINMAP_PIXEL_U8)) != GAINMAP_OK)
        goto done;
    if (!(v->gain = gm_malloc(ctx, (size_t)v->tw * v->th * sizeof *v->gain))) {
        st = GAINMAP_ERR_NOMEM;
        goto done;
    }
    uint32_t ch0 = small[0].channels, ch4 = small[4].channels;
    for (uint32_t y = 0; y < v->th; y++) {
        const float *s = (const float *)(const void *)((uint8_t *)small[0].data + (size_t)y * small[0].stride);
        const float *h = (const float *)(const void *)((uint8_t *)small[4].data + (size_t)y * small[4].stride);
        uint8_t *b = (uint8_t *)v->base.data + (size_t)y * v->base.stride;
        for (uint32_t x = 0; x < v->tw; x++) {
            for (int c = 0; c < 3; c++)
                b[3 * x + c] = (uint8_t)lround(
                    255.0 * gainmap_srgb_from_linear(GM_CLAMP(s[(size_t)x * ch0 + (uint32_t)c], 0.0, 1.0)));
            double k = 1.0 / 64;
            double g = log2((GM_MAX(luma(h + (size_t)x * ch4), 0.0) + k) / (GM_MAX(luma(s + (size_t)x * ch0), 0.0) + k));
            v->gain[(size_t)y * v->tw + x] = (float)g;
            hist_add(v, g);
        }
    }
done:
    gainmap_image_free(&full);
    for (int k = 0; k < 5; k++)
        gainmap_image_free(&small[k]);
    return st;
}

static void dialect_names(unsigned d, char *buf, size_t size)
{
    static const struct { unsigned bit; const char *name; } names[] = {
        {GAINMAP_DIALECT_HDRGM_XMP, "hdrgm XMP"}, {GAINMAP_DIALECT_GCONTAINER, "GContainer"},
        {GAINMAP_DIALECT_MPF, "MPF"},             {GAINMAP_DIALECT_ISO21496, "ISO 21496-1"},
        {GAINMAP_DIALECT_APPLE, "Apple"},         {GAINMAP_DIALECT_TMAP, "tmap"},
    };
    buf[0] = '\0';
    size_t n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (d & names[i].bit)
            n += (size_t)snprintf(buf + GM_MIN(n, size - 1), size - GM_MIN(n, size - 1), "%s%s", n ? ", " : "",
                                  names[i].name);
    if (!n)
        snprintf(buf, size, "none");
}

static void fmt3(char *buf, size_t size, const double v[3], int n)
{
    if (n == 1 || (v[0] == v[1] && v[1] == v[2]))
        snprintf(buf, size, "%.3f", v[0]);
    else
        snprintf(buf, size, "%.3f/%.3f/%.3f", v[0], v[1], v[2]);
}

static void draw_text_block(gainmap_image *s, const gm_rect *r, const gainmap_file *f, const gainmap_info *info)
{
    static const char *const sources[] = {"none", "ISO 21496-1", "XMP", "Apple"};
    static const char *const containers[] = {"unknown", "JPEG", "HEIF"};
    char lines[NLINES][320], d[96], a[64], b[64], c[64];
    memset(lines, 0, sizeof lines);
    dialect_names(info->dialects, d, sizeof d);
    snprintf(lines[0], sizeof lines[0], "Container: %s   Dialects: %s   Metadata from: %s",
             containers[info->container <= GAINMAP_CONTAINER_HEIF ? info->container : 0], d,
             sources[info->meta_source <= GAINMAP_META_APPLE ? info->meta_source : 0]);
    snprintf(lines[1], sizeof lines[1], "Base: %ux%u, %u ch, %s primaries, %s   Gain map: %ux%u, %u ch   Orientation: %d",
             info->base_width, info->base_height, info->base_components,
             gainmap_primaries_name(info->base_primaries), gainmap_transfer_name(info->base_transfer),
             info->map_width, info->map_height, info->map_components, info->orientation);
    gainmap_params p;
    gainmap_metadata_to_params(&info->meta, &p);
    int n = p.channel_count == 3 ? 3 : 1;
    if (info->meta.kind == GAINMAP_KIND_APPLE) {
        snprintf(lines[2], sizeof lines[2], "Apple gain map: headroom x%.3f (%.3f stops)", info->meta.apple_headroom,
                 log2(GM_MAX(info->meta.apple_headroom, 1.0)));
    } else {
        fmt3(a, sizeof a, p.gain_map_min, n);
        fmt3(b, sizeof b, p.gain_map_max, n);
        fmt3(c, sizeof c, p.gamma, n);
        snprintf(lines[2], sizeof lines[2], "Gain (stops): min %s  max %s   Gamma: %s   Channels: %d", a, b, c,
                 p.channel_count);
        fmt3(a, sizeof a, p.base_offset, n);
        fmt3(b, sizeof b, p.alternate_offset, n);
        snprintf(lines[3], sizeof lines[3], "Offsets: base %s  alternate %s   Base colour space for maths: %s", a, b,
                 p.use_base_colour_space ? "yes" : "no (alternate)");
    }
    snprintf(lines[4], sizeof lines[4], "Headroom (stops): base %.3f  alternate %.3f (x%.2f)   Versions: min %u writer %u",
             p.base_hdr_headroom, p.alternate_hdr_headroom, exp2(p.alternate_hdr_headroom),
             info->meta.minimum_version, info->meta.writer_version);
    const gainmap_issue *issues;
    size_t ni = gainmap_file_issues(f, &issues), nerr = 0, nwarn = 0;
    for (size_t i = 0; i < ni; i++) {
        nerr += issues[i].severity == GAINMAP_SEVERITY_ERROR;
        nwarn += issues[i].severity == GAINMAP_SEVERITY_WARNING;
    }
    snprintf(lines[5], sizeof lines[5], "Issues: %zu error%s, %zu warning%s, %zu note%s%s%.120s", nerr,
             nerr == 1 ? "" : "s", nwarn, nwarn == 1 ? "" : "s", ni - nerr - nwarn, ni - nerr - nwarn == 1 ? "" : "s",
             ni ? "   First: " : "", ni ? issues[0].message : "");
    snprintf(lines[7], sizeof lines[7], "Renderings: map applied for display headroom 1x..8x, then one fixed");
    snprintf(lines[8], sizeof lines[8], "hue-preserving tone curve (peak 8x SDR white) for this SDR screen.");
    for (int i = 0; i < NLINES; i++)
        text(s, r->x, r->y + (uint32_t)i * LINE_H, 2, i >= 7 ? DIM : FG, lines[i], r->w);
}

gainmap_status gainmap_render_preview(gainmap_ctx *ctx, const gainmap_file *f, const char *title,
                                      gainmap_image *sheet)
{
    if (!sheet)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "render_preview: NULL sheet");
    memset(sheet, 0, sizeof *sheet);
    const gainmap_info *info = gainmap_file_info(f);
    if (!info)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "render_preview: no file");
    if (!info->has_gainmap)
        return gm_error(ctx, GAINMAP_ERR_NO_GAINMAP, "the file has no usable gain map");
    uint32_t dw = info->base_width, dh = info->base_height;
    if (info->orientation >= 5 && info->orientation <= 8) {
        uint32_t t = dw;
        dw = dh;
        dh = t;
    }
    if (!dw || !dh)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "the base image has no size");
    gm_rect r[GM_PREVIEW_NPANELS];
    uint32_t W, H;
    gm_preview_layout(dw, dh, r, &W, &H);

    pv v;
    memset(&v, 0, sizeof v);
    v.tw = r[GM_PREVIEW_BASE].w;
    v.th = r[GM_PREVIEW_BASE].h;
    gainmap_params p;
    gainmap_metadata_to_params(&info->meta, &p);
    if (info->meta.kind == GAINMAP_KIND_APPLE) {
        v.lo = 0.0;
        v.hi = log2(GM_MAX(info->meta.apple_headroom, 1.0));
    } else {
        v.lo = GM_MIN(GM_MIN(p.gain_map_min[0], p.gain_map_min[1]), p.gain_map_min[2]);
        v.hi = GM_MAX(GM_MAX(p.gain_map_max[0], p.gain_map_max[1]), p.gain_map_max[2]);
    }
    if (!(v.hi - v.lo >= 0.01))
        v.hi = v.lo + 0.01;

    gainmap_status st = info->container == GAINMAP_CONTAINER_JPEG ? from_jpeg(ctx, f, info, &v)
                                                                   : from_decode(ctx, f, &v);
    if (st != GAINMAP_OK)
        goto done;
    if ((st = gainmap_image_alloc(ctx, sheet, W, H, 3, GAINMAP_PIXEL_U8)) != GAINMAP_OK)
        goto done;
    sheet->transfer = GAINMAP_TRANSFER_SRGB;
    sheet->primaries = GAINMAP_PRIMARIES_BT709;
    sheet->bit_depth = 8;
    fill(sheet, 0, 0, W, H, BG);
    if (title)
        text(sheet, MARGIN, MARGIN, 2, FG, title, W - 2 * MARGIN);

    static const char *const labels[8] = {
        "SDR base", "Gain map (log2, stops)", "Gain histogram (sqrt count)", "",
        "Headroom 1x (SDR)", "Headroom 2x (1 stop)", "Headroom 4x (2 stops)", "Headroom 8x (3 stops)",
    };
    for (int k = 0; k < 4; k++) {
        fill(sheet, col_x(k), ROW_B_BOX, PW, PH, BOX);
        text(sheet, col_x(k), ROW_B_LABEL, 2, FG, labels[4 + k], PW);
        blit(sheet, &r[GM_PREVIEW_H1 + k], &v.render[k]);
    }
    fill(sheet, col_x(0), ROW_A_BOX, PW, PH, BOX);
    fill(sheet, col_x(1), ROW_A_BOX, PW, PH, BOX);
    fill(sheet, r[GM_PREVIEW_HIST].x, r[GM_PREVIEW_HIST].y, r[GM_PREVIEW_HIST].w, r[GM_PREVIEW_HIST].h, BOX);
    text(sheet, col_x(0), ROW_A_LABEL, 2, FG, labels[0], PW);
    text(sheet, col_x(1), ROW_A_LABEL, 2, FG, labels[1], PW);
    text(sheet, col_x(2), ROW_A_LABEL, 2, FG, labels[2], 2 * PW);
    blit(sheet, &r[GM_PREVIEW_BASE], &v.base);

    /* Map in false colour. */
    const gm_rect *m = &r[GM_PREVIEW_MAP];
    for (uint32_t y = 0; y < m->h; y++) {
        uint8_t *row = (uint8_t *)sheet->data + (size_t)(m->y + y) * sheet->stride + 3 * (size_t)m->x;
        for (uint32_t x = 0; x < m->w; x++)
            false_colour((v.gain[(size_t)y * v.tw + x] - v.lo) / (v.hi - v.lo), row + 3 * x);
    }
    /* Scale bar and the histogram, with the same axis. */
    const gm_rect *sb = &r[GM_PREVIEW_SCALE], *hr = &r[GM_PREVIEW_HIST];
    for (uint32_t x = 0; x < sb->w; x++) {
        uint8_t c[3];
        false_colour((double)x / (sb->w - 1), c);
        fill(sheet, sb->x + x, sb->y, 1, sb->h, c);
    }
    double hmax = 0.0;
    for (int b = 0; b < HIST_BINS; b++)
        hmax = GM_MAX(hmax, sqrt(v.hist[b]));
    for (int b = 0; b < HIST_BINS; b++) {
        uint32_t x0 = hr->x + (uint32_t)((uint64_t)hr->w * (uint32_t)b / HIST_BINS);
        uint32_t x1 = hr->x + (uint32_t)((uint64_t)hr->w * (uint32_t)(b + 1) / HIST_BINS);
        uint32_t bh = hmax > 0 ? (uint32_t)lround((hr->h - 4) * sqrt(v.hist[b]) / hmax) : 0;
        uint8_t c[3];
        false_colour((b + 0.5) / HIST_BINS, c);
        if (bh)
            fill(sheet, x0, hr->y + hr->h - bh, x1 - x0 > 1 ? x1 - x0 - 1 : 1, bh, c);
    }
    char tick[32];
    for (int t = 0; t < 3; t++) {
        double g = v.lo + (v.hi - v.lo) * t / 2.0;
        snprintf(tick, sizeof tick, "%+.2f", g);
        uint32_t tw = (uint32_t)strlen(tick) * 6;
        uint32_t xs = t == 0 ? 0 : t == 1 ? (sb->w - tw) / 2 : sb->w - tw;
        uint32_t xh = t == 0 ? 0 : t == 1 ? (hr->w - tw) / 2 : hr->w - tw;
        text(sheet, sb->x + xs, sb->y + sb->h + 3, 1, FG, tick, tw);
        text(sheet, hr->x + xh, hr->y + hr->h + 9, 1, FG, tick, tw);
    }
    text(sheet, hr->x + hr->w / 2 - 84, hr->y + hr->h + 19, 1, DIM, "log2 gain (stops)", 120);
    draw_text_block(sheet, &r[GM_PREVIEW_TEXT], f, info);

done:
    if (st != GAINMAP_OK)
        gainmap_image_free(sheet);
    gainmap_image_free(&v.base);
    for (int k = 0; k < 4; k++)
        gainmap_image_free(&v.render[k]);
    free(v.gain);
    return st;
}

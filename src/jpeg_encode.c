/* jpeg_encode.c - 8-bit pixels to one JPEG stream through libjpeg-turbo's
 * classic API, with caller-supplied APPn segments right after SOI (or after
 * the JFIF APP0).  As in jpeg_decode.c the setjmp error exit stays here. */
#include "internal.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

typedef struct enc_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} enc_err;

/* Our own growable destination: libjpeg's jpeg_mem_dest leaks its buffer
 * when compression fails half way, this one is freed on every path. */
typedef struct enc_dest {
    struct jpeg_destination_mgr pub;
    uint8_t *buf;
    size_t cap;
    size_t len;      /* bytes finished in buf (set by term) */
    bool nomem;
} enc_dest;

typedef struct encode_state {
    struct jpeg_compress_struct cinfo;
    enc_err err;
    enc_dest dest;
} encode_state;

static void enc_error_exit(j_common_ptr cinfo)
{
    enc_err *e = (enc_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

static void enc_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void dest_init(j_compress_ptr cinfo)
{
    enc_dest *d = (enc_dest *)cinfo->dest;
    d->pub.next_output_byte = d->buf;
    d->pub.free_in_buffer = d->cap;
}

static boolean dest_empty(j_compress_ptr cinfo)
{
    enc_dest *d = (enc_dest *)cinfo->dest;
    /* libjpeg calls this only with the whole buffer full. */
    size_t used = d->cap;
    size_t ncap = d->cap * 2;
    uint8_t *nb = ncap > d->cap ? realloc(d->buf, ncap) : NULL;
    if (!nb) {
        d->nomem = true;
        ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 99);
    }
    d->buf = nb;
    d->cap = ncap;
    d->pub.next_output_byte = d->buf + used;
    d->pub.free_in_buffer = ncap - used;
    return TRUE;
}

static void dest_term(j_compress_ptr cinfo)
{
    enc_dest *d = (enc_dest *)cinfo->dest;
    d->len = d->cap - d->pub.free_in_buffer;
}

/* libjpeg's quality -> percentage of the basic table (jpeg_quality_scaling). */
static double quality_scale(int quality)
{
    return quality < 50 ? 5000.0 / quality : 200.0 - 2.0 * quality;
}

/* Flat tables for data nobody looks at (a gain map): one step for every
 * coefficient of every component, coding->flat percent-scaled by quality
 * as libjpeg scales its tables, rounded, 1..255 (baseline). */
static unsigned int scaled_step(double step, int quality)
{
    double q = floor(step * quality_scale(quality) / 100.0 + 0.5);
    return (unsigned int)GM_CLAMP(q, 1.0, 255.0);
}

static void flat_table(const gm_jpeg_coding *c, int quality, unsigned int t[DCTSIZE2])
{
    unsigned int ac = scaled_step(c->flat, quality);
    for (int i = 0; i < DCTSIZE2; i++)
        t[i] = ac;
    if (c->dc > 0)
        t[0] = GM_MIN(ac, scaled_step(c->dc, quality));
}

/* The compressor set up for img (everything but the Huffman choice and
 * JFIF), the same for the statistics sample and the real image.  Returns
 * whether R, G, B are coded as they are.  Runs under the caller's setjmp. */
static bool start_state(encode_state *s, const gainmap_image *img, int quality, int subsampling,
                        const gm_jpeg_coding *coding)
{
    s->cinfo.err = jpeg_std_error(&s->err.pub);
    s->err.pub.error_exit = enc_error_exit;
    s->err.pub.output_message = enc_output_message;
    jpeg_create_compress(&s->cinfo);
    s->dest.pub.init_destination = dest_init;
    s->dest.pub.empty_output_buffer = dest_empty;
    s->dest.pub.term_destination = dest_term;
    s->cinfo.dest = &s->dest.pub;

    s->cinfo.image_width = img->width;
    s->cinfo.image_height = img->height;
    s->cinfo.input_components = (int)img->channels;
    s->cinfo.in_color_space = img->channels == 1 ? JCS_GRAYSCALE : img->channels == 3 ? JCS_RGB : JCS_EXT_RGBX;
    jpeg_set_defaults(&s->cinfo);
    bool rgb = coding && coding->rgb && img->channels != 1;
    if (rgb)
        jpeg_set_colorspace(&s->cinfo, JCS_RGB);   /* Adobe APP14, transform 0 */
    if (coding && coding->tables == GM_JPEG_TABLES_FLAT) {
        /* One table for all components: YCbCr from RGB is close to
         * orthogonal in error gain (a unit of error in Y, Cb, Cr comes back
         * as 3, 3.26, 2.48 units squared over R, G, B). */
        unsigned int t[DCTSIZE2];
        flat_table(coding, quality, t);
        jpeg_add_quant_table(&s->cinfo, 0, t, 100, TRUE);
        for (int c = 0; c < s->cinfo.num_components; c++)
            s->cinfo.comp_info[c].quant_tbl_no = 0;
    } else {
        jpeg_set_quality(&s->cinfo, quality, TRUE);
    }
    s->cinfo.dct_method = JDCT_ISLOW;
    if (img->channels != 1) {
        /* The first component (luma) keeps full resolution. */
        s->cinfo.comp_info[0].h_samp_factor = subsampling == 444 || rgb ? 1 : 2;
        s->cinfo.comp_info[0].v_samp_factor = subsampling == 420 && !rgb ? 2 : 1;
        for (int c = 1; c < 3; c++) {
            s->cinfo.comp_info[c].h_samp_factor = 1;
            s->cinfo.comp_info[c].v_samp_factor = 1;
        }
    }
    if (coding && coding->progressive)
        jpeg_simple_progression(&s->cinfo);
    return rgb;
}

/* ------------------------------------------------------------------ */
/* Optimised Huffman tables from a sample of the rows                  */
/* ------------------------------------------------------------------ */

/* libjpeg's optimize_coding keeps every DCT coefficient of the image until
 * the end (2 bytes per sample) to count symbols before coding them.  Here
 * every k-th band of 16 rows (a whole number of MCU rows at any
 * subsampling; k = bands / HUFF_MIN_BANDS, so some 24 to 48 bands spread
 * over the picture, whatever its height) is compressed with
 * optimize_coding into a discarding destination; the optimal tables
 * libjpeg leaves in the sample's cinfo give each symbol seen a code
 * length, which becomes a pseudo frequency (2^-length is the probability
 * an optimal code assumes).  Symbols the sample never used get the lowest
 * frequency, so they still have codes (a baseline stream may hold any DC
 * category 0..11 and any AC run/size), and the lengths are rebuilt as a
 * length-limited Huffman code (ITU T.81 Annex K.2's rules: at most 16
 * bits, no code of all ones). */
#define HUFF_BAND 16u
#define HUFF_MIN_BANDS 24u   /* a sample at least this many bands tall */

typedef struct huff_table {
    uint8_t bits[17];    /* bits[L]: codes of length L */
    uint8_t val[256];    /* symbols by increasing length */
    int used;
} huff_table;

typedef struct jpeg_huff_set {
    huff_table dc[NUM_HUFF_TBLS], ac[NUM_HUFF_TBLS];
} jpeg_huff_set;

/* Code lengths of an optimal prefix code for freq[0..n) (0 = unused):
 * merge the two rarest subtrees until one is left; among equal
 * frequencies the higher symbol is merged first (it then sits deepest). */
static void huff_lengths(const uint64_t *freq, int n, int *len)
{
    uint64_t f[257];
    int next[257];
    for (int i = 0; i < n; i++) {
        f[i] = freq[i];
        next[i] = -1;
        len[i] = 0;
    }
    for (;;) {
        int a = -1, b = -1;   /* a: rarest, b: second rarest */
        for (int i = 0; i < n; i++) {
            if (!f[i])
                continue;
            if (a < 0 || f[i] <= f[a]) {
                b = a;
                a = i;
            } else if (b < 0 || f[i] <= f[b]) {
                b = i;
            }
        }
        if (b < 0)
            break;
        f[b] += f[a];
        f[a] = 0;
        for (int i = b;; i = next[i]) {   /* every symbol in both subtrees goes one level down */
            len[i]++;
            if (next[i] < 0) {
                next[i] = a;
                break;
            }
        }
        for (int i = a; i >= 0; i = next[i])
            len[i]++;
    }
}

/* A baseline table for the symbols with nonzero freq[0..255]. */
static void huff_build(const uint64_t *freq, huff_table *t)
{
    uint64_t f[257];
    int len[257];
    memcpy(f, freq, 256 * sizeof *f);
    f[256] = 1;   /* reserved: its code, one of the longest, is dropped, so no code is all ones */
    huff_lengths(f, 257, len);
    unsigned int count[258] = {0};
    for (int i = 0; i < 257; i++)
        if (f[i])
            count[len[i]]++;
    /* Annex K.3: move pairs of codes up from below length 16 */
    for (int i = 257; i > 16; i--) {
        while (count[i] > 0) {
            int j = i - 2;
            while (count[j] == 0)
                j--;
            count[i] -= 2;
            count[i - 1]++;
            count[j + 1] += 2;
            count[j]--;
        }
    }
    int last = 16;
    while (count[last] == 0)
        last--;
    count[last]--;   /* the reserved symbol's code */
    memset(t, 0, sizeof *t);
    for (int l = 1; l <= 16; l++)
        t->bits[l] = (uint8_t)count[l];
    /* symbols by their Huffman length, then value: the order the counts
     * were moved in keeps the commonest symbols on the shortest codes */
    int k = 0;
    for (int l = 1; l <= 257 && k < 256; l++)
        for (int v = 0; v < 256 && k < 256; v++)
            if (f[v] && len[v] == l)
                t->val[k++] = (uint8_t)v;
    t->used = 1;
}

/* Pseudo frequencies from a table libjpeg built for the sample, every
 * legal symbol included. */
static void huff_widen(const JHUFF_TBL *src, bool dc, huff_table *t)
{
    uint64_t freq[256] = {0};
    if (dc) {
        for (int v = 0; v <= 11; v++)
            freq[v] = 1;
    } else {
        freq[0x00] = freq[0xF0] = 1;
        for (int run = 0; run < 16; run++)
            for (int size = 1; size <= 10; size++)
                freq[run << 4 | size] = 1;
    }
    int k = 0;
    for (int l = 1; l <= 16; l++)
        for (int i = 0; i < src->bits[l] && k < 256; i++, k++)
            freq[src->huffval[k]] = (uint64_t)1 << (8 + 16 - l);
    huff_build(freq, t);
}

/* The sample's rows: bands of HUFF_BAND rows, every stride-th one. */
static uint32_t sample_stride(uint32_t height)
{
    uint32_t bands = (height + HUFF_BAND - 1) / HUFF_BAND;
    return GM_MAX(bands / HUFF_MIN_BANDS, 1u);
}

/* The sample's destination.  With optimize_coding libjpeg writes nothing
 * but SOI until the statistics pass is over and the optimal tables are in
 * cinfo; the first time its small buffer fills, the output pass has begun
 * and only costs time: leave it (the 2 of huff_from_sample's setjmp). */
static boolean tables_ready(j_compress_ptr cinfo)
{
    encode_state *s = (encode_state *)(void *)cinfo;   /* cinfo is its first member */
    longjmp(s->err.jump, 2);
}

static void state_free(encode_state *s)
{
    jpeg_destroy_compress(&s->cinfo);
    free(s->dest.buf);
    free(s);
}

static gainmap_status huff_from_sample(gainmap_ctx *ctx, const gainmap_image *img, int quality, int subsampling,
                                       const gm_jpeg_coding *coding, jpeg_huff_set *out)
{
    memset(out, 0, sizeof *out);
    encode_state *s = calloc(1, sizeof *s);
    if (s) {
        s->dest.cap = 256;   /* below the headers of the output pass */
        s->dest.buf = malloc(s->dest.cap);
    }
    if (!s || !s->dest.buf) {
        free(s);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory encoding a JPEG");
    }
    switch (setjmp(s->err.jump)) {
    case 0:
        break;
    case 2:
        goto tables;   /* the output pass began: the tables are final */
    default: {
        gainmap_status st =
            gm_error(ctx, GAINMAP_ERR_CODEC, "JPEG encoding failed (Huffman statistics): %s", s->err.message);
        state_free(s);
        return st;
    }
    }
    start_state(s, img, quality, subsampling, coding);
    s->dest.pub.empty_output_buffer = tables_ready;
    const uint32_t step = HUFF_BAND * sample_stride(img->height);   /* set after setjmp: not clobbered */
    s->cinfo.image_height = 0;
    for (uint32_t y = 0; y < img->height; y += step)
        s->cinfo.image_height += GM_MIN(HUFF_BAND, img->height - y);
    s->cinfo.optimize_coding = TRUE;
    s->cinfo.write_JFIF_header = FALSE;
    jpeg_start_compress(&s->cinfo, TRUE);
    for (uint32_t y = 0; y < img->height; y += step) {
        JSAMPROW band[HUFF_BAND];
        uint32_t n = GM_MIN(HUFF_BAND, img->height - y);
        for (uint32_t i = 0; i < n; i++)
            band[i] = (JSAMPROW)((const uint8_t *)img->data + (size_t)(y + i) * img->stride);
        for (uint32_t i = 0; i < n;)
            i += jpeg_write_scanlines(&s->cinfo, band + i, n - i);
    }
    jpeg_finish_compress(&s->cinfo);   /* returns only if the whole output fits the buffer */
tables:
    for (int c = 0; c < s->cinfo.num_components; c++) {
        int d = s->cinfo.comp_info[c].dc_tbl_no, a = s->cinfo.comp_info[c].ac_tbl_no;
        if (!out->dc[d].used && s->cinfo.dc_huff_tbl_ptrs[d])
            huff_widen(s->cinfo.dc_huff_tbl_ptrs[d], true, &out->dc[d]);
        if (!out->ac[a].used && s->cinfo.ac_huff_tbl_ptrs[a])
            huff_widen(s->cinfo.ac_huff_tbl_ptrs[a], false, &out->ac[a]);
    }
    state_free(s);
    return GAINMAP_OK;
}

static void huff_put(j_compress_ptr cinfo, JHUFF_TBL **slot, const huff_table *t)
{
    if (!t->used)
        return;
    if (!*slot)
        *slot = jpeg_alloc_huff_table((j_common_ptr)cinfo);
    memcpy((*slot)->bits, t->bits, sizeof t->bits);
    memcpy((*slot)->huffval, t->val, sizeof t->val);
    (*slot)->sent_table = FALSE;
}

static void huff_install(j_compress_ptr cinfo, const jpeg_huff_set *h)
{
    for (int i = 0; i < NUM_HUFF_TBLS; i++) {
        huff_put(cinfo, &cinfo->dc_huff_tbl_ptrs[i], &h->dc[i]);
        huff_put(cinfo, &cinfo->ac_huff_tbl_ptrs[i], &h->ac[i]);
    }
}

gainmap_status gm_jpeg_encode(gainmap_ctx *ctx, const gainmap_image *img, int quality, int subsampling,
                              int optimize, const gm_jpeg_extra *extra, uint8_t **out, size_t *size)
{
    return gm_jpeg_encode_coded(ctx, img, quality, subsampling, optimize, NULL, extra, out, size);
}

gainmap_status gm_jpeg_encode_coded(gainmap_ctx *ctx, const gainmap_image *img, int quality, int subsampling,
                                    int optimize, const gm_jpeg_coding *coding, const gm_jpeg_extra *extra,
                                    uint8_t **out, size_t *size)
{
    if (!out || !size)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "jpeg_encode: NULL output");
    *out = NULL;
    *size = 0;
    if (!img || !img->data)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "jpeg_encode: no image");
    if (img->type != GAINMAP_PIXEL_U8 || (img->channels != 1 && img->channels != 3 && img->channels != 4))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG,
                        "jpeg_encode: needs 8-bit grey, RGB or RGBA pixels (got %u channels of type %d)",
                        img->channels, (int)img->type);
    if (quality < 1 || quality > 100)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "JPEG quality must be 1 to 100, not %d", quality);
    if (subsampling != 444 && subsampling != 422 && subsampling != 420)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "JPEG subsampling must be 444, 422 or 420, not %d",
                        subsampling);
    if (coding && coding->tables == GM_JPEG_TABLES_FLAT &&
        (!(coding->flat > 0 && coding->flat <= 255) || !(coding->dc >= 0 && coding->dc <= 255)))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "jpeg_encode: a flat table's step must be in (0, 255], not %g",
                        coding->flat);
    if (img->width > JPEG_MAX_DIMENSION || img->height > JPEG_MAX_DIMENSION)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "%ux%u is larger than JPEG's %d-pixel limit", img->width,
                        img->height, (int)JPEG_MAX_DIMENSION);
    gainmap_status st = gm_check_dims(ctx, img->width, img->height, img->channels, "image to encode");
    if (st != GAINMAP_OK)
        return st;
    if (img->stride < (size_t)img->width * img->channels)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "jpeg_encode: stride %zu shorter than a row",
                        img->stride);
    if (extra) {
        for (size_t i = 0; i < extra->count; i++) {
            const gm_jpeg_app *sg = &extra->segments[i];
            if (!((sg->marker >= 0xE0 && sg->marker <= 0xEF) || sg->marker == 0xFE) || sg->size > 65533 ||
                (sg->size && !sg->data))
                return gm_error(ctx, GAINMAP_ERR_INVALID_ARG,
                                "jpeg_encode: segment %zu (marker 0x%02X, %zu bytes) cannot be written", i,
                                sg->marker, sg->size);
        }
    }

    /* Optimised Huffman tables without libjpeg's whole-image coefficient
     * buffer (6 bytes per pixel at 4:4:4): the tables come from a sample of
     * the rows (huff_from_sample), the image is then coded in one pass.
     * Pictures too short to sample (under 2 x HUFF_MIN_BANDS bands) keep
     * libjpeg's own two passes: their buffer is small. */
    bool sampled = optimize && !(coding && coding->progressive) && sample_stride(img->height) > 1;
    jpeg_huff_set tables;
    if (sampled) {
        if ((st = huff_from_sample(ctx, img, quality, subsampling, coding, &tables)) != GAINMAP_OK)
            return st;
    }
    encode_state *s = calloc(1, sizeof *s);
    if (!s)
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory encoding a JPEG");
    /* A first guess at the size saves most reallocations. */
    size_t pixels = (size_t)img->width * img->height * img->channels;
    s->dest.cap = GM_MAX((size_t)65536, pixels / 4);
    s->dest.buf = malloc(s->dest.cap);
    if (!s->dest.buf) {
        free(s);
        return gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory encoding a JPEG");
    }
    if (setjmp(s->err.jump)) {
        if (s->dest.nomem)
            st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory encoding a JPEG");
        else
            st = gm_error(ctx, GAINMAP_ERR_CODEC, "JPEG encoding failed: %s", s->err.message);
        goto done;
    }
    bool rgb = start_state(s, img, quality, subsampling, coding);
    s->cinfo.optimize_coding = optimize && !sampled ? TRUE : FALSE;
    if (sampled)
        huff_install(&s->cinfo, &tables);
    /* JFIF promises YCbCr or grey. */
    s->cinfo.write_JFIF_header = (!rgb && (!extra || extra->jfif)) ? TRUE : FALSE;
    jpeg_start_compress(&s->cinfo, TRUE);
    if (extra) {
        for (size_t i = 0; i < extra->count; i++)
            jpeg_write_marker(&s->cinfo, extra->segments[i].marker, extra->segments[i].data,
                              (unsigned int)extra->segments[i].size);
        if (extra->icc && extra->icc_size)
            jpeg_write_icc_profile(&s->cinfo, extra->icc, (unsigned int)extra->icc_size);
    }
    while (s->cinfo.next_scanline < s->cinfo.image_height) {
        JSAMPROW rows[32];
        JDIMENSION y = s->cinfo.next_scanline;
        JDIMENSION n = GM_MIN(32u, s->cinfo.image_height - y);
        for (JDIMENSION i = 0; i < n; i++)
            rows[i] = (JSAMPROW)((const uint8_t *)img->data + (size_t)(y + i) * img->stride);
        jpeg_write_scanlines(&s->cinfo, rows, n);
    }
    jpeg_finish_compress(&s->cinfo);
    *out = s->dest.buf;
    *size = s->dest.len;
    s->dest.buf = NULL;

done:
    state_free(s);
    return st;
}

/* decode.c - gainmap_decode: a parsed gain-map file to an HDR (or SDR) image.
 * Both JPEG streams are decoded, the base is tagged with the colour space the
 * parser found (its ICC; sRGB when none), the map is applied for the
 * requested display headroom, and the EXIF orientation is applied to the
 * result (FORMATS.md pitfall 9: the map follows the primary's orientation,
 * so rotating after applying is the same as rotating both before).  HEIF/AVIF
 * items are decoded with libheif through heif_decode.c, which applies their
 * irot/imir; the base's colour comes from its nclx or ICC (gmfile.c), and
 * a tmap's alternate primaries are used for the maths when its metadata
 * says so (use_base_colour_space 0).  A HEIF/AVIF without a usable gain
 * map whose primary image is PQ or HLG is written as it is (decode_plain). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- HEIF / AVIF (docs/heif.md) ------------------------------------------ */

/* EXIF orientation equivalent of an irot of `angle` anticlockwise quarter turns. */
int gm_irot_orientation(unsigned angle)
{
    static const int o[4] = {1, 8, 3, 6};
    return o[angle & 3];
}

/* A 10/12-bit gain map (U16 scaled to 0..65535) as the 8-bit codes apply expects. */
static gainmap_status map_to_u8(gainmap_ctx *ctx, gainmap_image *map)
{
    if (map->type == GAINMAP_PIXEL_U8)
        return GAINMAP_OK;
    gainmap_image m8;
    gainmap_status st = gainmap_image_alloc(ctx, &m8, map->width, map->height, map->channels, GAINMAP_PIXEL_U8);
    if (st != GAINMAP_OK)
        return st;
    for (uint32_t y = 0; y < map->height; y++) {
        const uint16_t *s = (const uint16_t *)(const void *)((const uint8_t *)map->data + (size_t)y * map->stride);
        uint8_t *d = (uint8_t *)m8.data + (size_t)y * m8.stride;
        for (size_t i = 0; i < (size_t)map->width * map->channels; i++)
            d[i] = (uint8_t)((s[i] * 255u + 32767u) / 65535u);
    }
    gainmap_image_free(map);
    *map = m8;
    return GAINMAP_OK;
}

/* Primaries of the tmap's alternate rendition (nclx, else ICC), UNKNOWN when not said. */
static gainmap_primaries alternate_primaries(gainmap_ctx *ctx, const gm_heif_gainmap *g)
{
    const gm_heif_colour *c = &g->tmap_colour;
    gainmap_primaries p = GAINMAP_PRIMARIES_UNKNOWN;
    if (c->has_nclx)
        p = gainmap_primaries_from_cicp(c->cp);
    if (p == GAINMAP_PRIMARIES_UNKNOWN && c->icc && c->icc_size) {
        gainmap_ctx tmp = *ctx;
        gainmap_clear_error(&tmp);
        gainmap_transfer tf;
        if (gainmap_icc_identify(&tmp, c->icc, c->icc_size, &p, &tf) != GAINMAP_OK)
            p = GAINMAP_PRIMARIES_UNKNOWN;
    }
    return p;
}

/* A gain-map HEIF/AVIF's two images, decoded, and how to apply them. */
typedef struct heif_parts {
    gainmap_image base, map;
    gainmap_metadata meta;     /* use_base_colour_space set when the alternate's primaries are the base's */
    gainmap_primaries ap, op;  /* the alternate's primaries (tmap), the output's */
    bool two_pass;             /* apply in ap, then re-encode in op */
    int orientation;           /* of the result: the irot kept, else 1 */
} heif_parts;

static void heif_parts_free(heif_parts *p)
{
    gainmap_image_free(&p->map);
    gainmap_image_free(&p->base);
}

static gainmap_status heif_prepare(gainmap_ctx *ctx, const gainmap_file *f, const gainmap_decode_options *opts,
                                   heif_parts *p)
{
    memset(p, 0, sizeof *p);
    const gainmap_info *info = &f->info;
    const gm_heif_gainmap *g = f->hg;
    if (!f->heif || !g || g->kind == GM_HEIF_GM_NONE)
        return gm_error(ctx, GAINMAP_ERR_NO_GAINMAP, "the file has no usable gain map");
    /* Keeping the stored orientation works when base and map share one plain irot. */
    const gm_heif_item *bi = gm_heif_item_by_id(f->heif, g->base_id), *mi = gm_heif_item_by_id(f->heif, g->map_id);
    bool keep = opts->keep_orientation && g->base_angle == g->map_angle &&
                !gm_heif_item_prop(f->heif, bi, GM_4CC('i', 'm', 'i', 'r'), 0) &&
                !gm_heif_item_prop(f->heif, mi, GM_4CC('i', 'm', 'i', 'r'), 0);
    unsigned flags = keep ? GM_HEIF_DECODE_NO_TRANSFORM : 0;
    p->orientation = keep ? gm_irot_orientation(g->base_angle) : 1;

    gainmap_status st = gm_heif_decode_item(ctx, f->heif, g->base_id, flags, &p->base);
    if (st != GAINMAP_OK)
        return st;
    p->base.primaries = info->base_primaries;
    p->base.transfer = info->base_transfer;
    st = gm_heif_decode_item(ctx, f->heif, g->map_id, flags, &p->map);
    if (st == GAINMAP_OK)
        st = map_to_u8(ctx, &p->map);
    if (st != GAINMAP_OK) {
        heif_parts_free(p);
        return st;
    }
    if (info->meta.kind == GAINMAP_KIND_APPLE)
        p->map.transfer = GAINMAP_TRANSFER_BT709;

    /* Maths in the alternate's primaries (use_base_colour_space 0): the tmap
     * says which they are, which a JPEG cannot. */
    p->meta = info->meta;
    p->ap = GAINMAP_PRIMARIES_UNKNOWN;
    if (p->meta.kind == GAINMAP_KIND_ISO && !p->meta.use_base_colour_space && g->kind == GM_HEIF_GM_TMAP)
        p->ap = alternate_primaries(ctx, g);
    p->op = opts->primaries != GAINMAP_PRIMARIES_UNKNOWN ? opts->primaries : p->base.primaries;
    if (p->ap != GAINMAP_PRIMARIES_UNKNOWN && p->ap == p->base.primaries) {
        /* same primaries: the base space is the alternate space */
        p->meta.use_base_colour_space = 1;
        p->meta.flags |= GM_ISO_FLAG_BASE_COLOUR;
    } else if (p->ap != GAINMAP_PRIMARIES_UNKNOWN && p->ap != p->op) {
        p->two_pass = true;
    }
    return GAINMAP_OK;
}

/* The two-pass case: apply in ap (linear), then a weight-0 pass re-encodes
 * the result in op. */
static gainmap_status heif_two_pass(gainmap_ctx *ctx, heif_parts *p, const gainmap_decode_options *opts,
                                    gainmap_image *hdr)
{
    gainmap_image tmp;
    gainmap_decode_options o1 = *opts;
    o1.primaries = p->ap;
    o1.transfer = GAINMAP_TRANSFER_LINEAR;
    if (opts->transfer == GAINMAP_TRANSFER_SRGB)
        o1.headroom = 1.0;   /* what apply does for an SDR output */
    gainmap_status st = gainmap_apply(ctx, &p->base, &p->map, &p->meta, &o1, &tmp);
    if (st != GAINMAP_OK)
        return st;
    gainmap_params id;
    gainmap_metadata im;
    memset(&id, 0, sizeof id);
    id.channel_count = 1;
    id.use_base_colour_space = 1;
    id.alternate_hdr_headroom = 1.0;
    for (int c = 0; c < 3; c++) {
        id.gamma[c] = 1.0;
        id.gain_map_max[c] = 1.0;
    }
    gainmap_decode_options o2 = *opts;
    o2.headroom = 1.0;   /* weight 0: the base (here the HDR result) re-encoded */
    o2.primaries = p->op;
    tmp.primaries = p->ap;
    tmp.transfer = GAINMAP_TRANSFER_LINEAR;
    st = gainmap_params_to_metadata(&id, &im);
    if (st == GAINMAP_OK)
        st = gainmap_apply(ctx, &tmp, NULL, &im, &o2, hdr);
    gainmap_image_free(&tmp);
    return st;
}

static gainmap_status decode_heif(gainmap_ctx *ctx, const gainmap_file *f, const gainmap_decode_options *opts,
                                  gainmap_image *out)
{
    heif_parts p;
    gainmap_status st = heif_prepare(ctx, f, opts, &p);
    if (st != GAINMAP_OK)
        return st;
    st = p.two_pass ? heif_two_pass(ctx, &p, opts, out) : gainmap_apply(ctx, &p.base, &p.map, &p.meta, opts, out);
    if (st == GAINMAP_OK)
        out->orientation = p.orientation;
    heif_parts_free(&p);
    return st;
}

/* A HEIF/AVIF without a gain map whose primary image is PQ or HLG (plain
 * HDR, heif_plain.c): that image is the HDR rendition, written as it is in
 * the requested encoding.  Headroom 'sdr' (1) or an SRGB output asks for the
 * SDR rendition, which the file does not carry: the image is tone-mapped
 * (gainmap_tonemap's defaults, as encode makes a base).  Any other headroom
 * has no rendition to give. */
static gainmap_status decode_plain(gainmap_ctx *ctx, const gainmap_file *f, const gainmap_decode_options *opts,
                                   gainmap_image *out)
{
    gainmap_transfer tf = opts->transfer;
    if (tf != GAINMAP_TRANSFER_PQ && tf != GAINMAP_TRANSFER_HLG && tf != GAINMAP_TRANSFER_LINEAR &&
        tf != GAINMAP_TRANSFER_SRGB)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "decode: the output transfer must be PQ, HLG, linear or sRGB");
    bool sdr = tf == GAINMAP_TRANSFER_SRGB || opts->headroom == 1.0;
    if (!sdr && opts->headroom != 0.0)
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED,
                        "the file has no gain map, only an HDR image, so there is no rendition for headroom %g "
                        "(use max for the image as it is, or sdr for it tone-mapped)",
                        opts->headroom);
    gainmap_image hdr, tmp;
    memset(&tmp, 0, sizeof tmp);
    gainmap_status st = gm_heif_read_primary(ctx, f, opts->keep_orientation != 0, &hdr);
    if (st != GAINMAP_OK)
        return st;
    gainmap_primaries op = opts->primaries != GAINMAP_PRIMARIES_UNKNOWN ? opts->primaries : hdr.primaries;
    const gainmap_image *src = &hdr;
    if (sdr) {
        gainmap_tonemap_options to;
        gainmap_tonemap_options_init(&to);
        to.base_primaries = op;
        to.base_transfer = GAINMAP_TRANSFER_SRGB;
        if ((st = gainmap_tonemap(ctx, &hdr, &to, &tmp)) != GAINMAP_OK)
            goto done;
        tmp.orientation = hdr.orientation;
        if (hdr.exif && gainmap_image_set_exif(&tmp, hdr.exif, hdr.exif_size) != GAINMAP_OK) {
            st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory copying EXIF");
            goto done;
        }
        src = &tmp;
    }
    st = gainmap_image_recode(ctx, src, tf, op,
                              tf == GAINMAP_TRANSFER_LINEAR ? GAINMAP_PIXEL_F32
                              : tf == GAINMAP_TRANSFER_SRGB ? GAINMAP_PIXEL_U8
                                                            : GAINMAP_PIXEL_U16,
                              out);
done:
    gainmap_image_free(&tmp);
    gainmap_image_free(&hdr);
    return st;
}

/* The checks gainmap_decode and decode_rows start with: a file with a gain
 * map (or an HDR HEIF primary); *opts becomes *defaults when NULL. */
static gainmap_status decode_start(gainmap_ctx *ctx, const gainmap_file *f, const gainmap_decode_options **opts,
                                   gainmap_decode_options *defaults, const gainmap_info **info)
{
    *info = gainmap_file_info(f);
    if (!*info)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "decode: no file");
    if (!(*info)->has_gainmap && !gm_heif_primary_hdr(f))
        return gm_error(ctx, GAINMAP_ERR_NO_GAINMAP, "the file has no usable gain map");
    if (!*opts) {
        gainmap_decode_options_init(defaults);
        *opts = defaults;
    }
    return GAINMAP_OK;
}

gainmap_status gainmap_decode(gainmap_ctx *ctx, const gainmap_file *f, const gainmap_decode_options *opts,
                              gainmap_image *out)
{
    if (!out)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "decode: NULL output image");
    memset(out, 0, sizeof *out);
    const gainmap_info *info;
    gainmap_decode_options defaults;
    gainmap_status st = decode_start(ctx, f, &opts, &defaults, &info);
    if (st != GAINMAP_OK)
        return st;
    if (!info->has_gainmap)
        return decode_plain(ctx, f, opts, out);
    if (info->container == GAINMAP_CONTAINER_HEIF)
        return decode_heif(ctx, f, opts, out);
    if (info->container != GAINMAP_CONTAINER_JPEG)
        return gm_error(ctx, GAINMAP_ERR_UNSUPPORTED, "the file is neither a gain-map JPEG nor HEIF");

    const uint8_t *bdata, *mdata;
    size_t bsize, msize;
    st = gainmap_file_base_stream(f, &bdata, &bsize);
    if (st != GAINMAP_OK)
        return gm_error(ctx, st, "the base image stream is missing");
    st = gainmap_file_map_stream(f, &mdata, &msize);
    if (st != GAINMAP_OK)
        return gm_error(ctx, st, "the gain-map stream is missing");

    gainmap_image base, map, hdr;
    memset(&map, 0, sizeof map);
    memset(&hdr, 0, sizeof hdr);
    st = gainmap_jpeg_decode(ctx, bdata, bsize, &base);
    if (st != GAINMAP_OK)
        return st;
    base.primaries = info->base_primaries != GAINMAP_PRIMARIES_UNKNOWN ? info->base_primaries
                                                                        : GAINMAP_PRIMARIES_BT709;
    base.transfer = info->base_transfer != GAINMAP_TRANSFER_UNKNOWN ? info->base_transfer : GAINMAP_TRANSFER_SRGB;
    st = gainmap_jpeg_decode(ctx, mdata, msize, &map);
    if (st != GAINMAP_OK)
        goto done;
    st = gainmap_apply(ctx, &base, &map, &info->meta, opts, &hdr);
    if (st != GAINMAP_OK)
        goto done;
    gainmap_image_free(&map);
    gainmap_image_free(&base);

    int orientation = info->orientation >= 1 && info->orientation <= 8 ? info->orientation : 1;
    if (opts->keep_orientation || orientation == 1) {
        hdr.orientation = orientation;
        if (opts->keep_orientation && (st = gm_file_exif_to_image(ctx, f, &hdr)) != GAINMAP_OK)
            goto done;
        *out = hdr;
        return GAINMAP_OK;
    }
    st = gm_image_orient(ctx, &hdr, orientation, out);

done:
    gainmap_image_free(&hdr);
    gainmap_image_free(&map);
    gainmap_image_free(&base);
    return st;
}

/* ---- strip by strip (issue 8) --------------------------------------------- */

/* The decoded rows to a sink: begin() with the output's description (every
 * field but data), then rows() top to bottom. */
typedef struct rows_sink {
    gainmap_status (*begin)(void *arg, const gainmap_image *hdr);
    gainmap_status (*rows)(void *arg, const void *rows, size_t stride, uint32_t n);
    void *arg;
} rows_sink;

enum { DECODE_STRIP = 128 };

/* An image in memory to the sink, DECODE_STRIP rows at a time. */
static gainmap_status image_to_sink(const rows_sink *sink, const gainmap_image *img)
{
    gainmap_status st = sink->begin(sink->arg, img);
    for (uint32_t y = 0; st == GAINMAP_OK && y < img->height; y += DECODE_STRIP)
        st = sink->rows(sink->arg, (const uint8_t *)img->data + (size_t)y * img->stride, img->stride,
                        GM_MIN((uint32_t)DECODE_STRIP, img->height - y));
    return st;
}

/* A whole decoded image to the sink (plain HDR HEIF, and orientations that
 * need the whole picture). */
static gainmap_status whole_to_sink(gainmap_ctx *ctx, const gainmap_file *f, const gainmap_decode_options *opts,
                                    const rows_sink *sink)
{
    gainmap_image img;
    gainmap_status st = gainmap_decode(ctx, f, opts, &img);
    if (st != GAINMAP_OK)
        return st;
    st = image_to_sink(sink, &img);
    gainmap_image_free(&img);
    return st;
}

/* JPEG, orientation 1 (or kept): the base is decoded, applied and handed on
 * DECODE_STRIP rows at a time; a full-size map (the encoder's default) is read
 * in step with it, any other map is decoded whole (it is small) and resampled.
 * The pixels are gainmap_decode's: the same tables, row by row. */
static gainmap_status stream_jpeg(gainmap_ctx *ctx, const gainmap_file *f, const gainmap_decode_options *opts,
                                  const rows_sink *sink)
{
    const gainmap_info *info = &f->info;
    const uint8_t *bdata, *mdata;
    size_t bsize, msize;
    gainmap_status st = gainmap_file_base_stream(f, &bdata, &bsize);
    if (st != GAINMAP_OK)
        return gm_error(ctx, st, "the base image stream is missing");
    st = gainmap_file_map_stream(f, &mdata, &msize);
    if (st != GAINMAP_OK)
        return gm_error(ctx, st, "the gain-map stream is missing");

    gm_jpeg_reader *br = NULL, *mr = NULL;
    gm_apply *a = NULL;
    gainmap_image bh, mh, map, oh;
    uint8_t *bbuf = NULL, *mbuf = NULL, *obuf = NULL;
    memset(&map, 0, sizeof map);
    /* The map first: a progressive (multi-scan) stream makes libjpeg hold all
     * its coefficients (2 bytes a sample) however it is read, so such a map
     * is decoded whole and its decoder freed before the base's starts. */
    st = gm_jpeg_reader_open(ctx, mdata, msize, &mr, &mh);
    if (st != GAINMAP_OK)
        return st;
    /* (the parser's base size from the SOF; checked against the decoder's below) */
    int streamed = mh.width == info->base_width && mh.height == info->base_height && mh.channels >= 3 &&
                   !gm_jpeg_reader_multiscan(mr);
    if (!streamed) {
        gm_jpeg_reader_close(mr);
        mr = NULL;
        if ((st = gainmap_jpeg_decode(ctx, mdata, msize, &map)) != GAINMAP_OK)
            goto done;
    }
    if (mr && (st = gm_jpeg_reader_start(mr)) != GAINMAP_OK)
        goto done;
    if ((st = gm_jpeg_reader_open(ctx, bdata, bsize, &br, &bh)) != GAINMAP_OK ||
        (st = gm_jpeg_reader_start(br)) != GAINMAP_OK)
        goto done;
    if (streamed && (mh.width != bh.width || mh.height != bh.height)) {
        st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "the base stream's size differs from the file's description");
        goto done;
    }
    bh.primaries = info->base_primaries != GAINMAP_PRIMARIES_UNKNOWN ? info->base_primaries : GAINMAP_PRIMARIES_BT709;
    bh.transfer = info->base_transfer != GAINMAP_TRANSFER_UNKNOWN ? info->base_transfer : GAINMAP_TRANSFER_SRGB;
    st = gm_apply_begin(ctx, &bh, streamed ? &mh : &map, streamed, &info->meta, opts, &a, &oh);
    if (st != GAINMAP_OK)
        goto done;
    int orientation = info->orientation >= 1 && info->orientation <= 8 ? info->orientation : 1;
    oh.orientation = orientation;
    if (opts->keep_orientation) {
        const uint8_t *exif;
        size_t exif_size;
        if (gainmap_file_exif(f, &exif, &exif_size) == GAINMAP_OK && exif && exif_size) {
            /* borrowed: the sink only reads it, and the file outlives the call */
            oh.exif = (uint8_t *)(uintptr_t)exif;
            oh.exif_size = exif_size;
        }
    }
    uint32_t rows = GM_MIN((uint32_t)DECODE_STRIP, bh.height);
    bbuf = gm_malloc(ctx, bh.stride * rows);
    mbuf = mr ? gm_malloc(ctx, mh.stride * rows) : NULL;
    obuf = gm_malloc(ctx, oh.stride * rows);
    if (!bbuf || !obuf || (mr && !mbuf)) {
        st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory decoding the image");
        goto done;
    }
    if ((st = sink->begin(sink->arg, &oh)) != GAINMAP_OK)
        goto done;
    for (uint32_t y = 0; y < bh.height; y += rows) {
        uint32_t n = GM_MIN(rows, bh.height - y);
        if ((st = gm_jpeg_reader_rows(br, bbuf, bh.stride, n)) != GAINMAP_OK)
            goto done;
        if (mr && (st = gm_jpeg_reader_rows(mr, mbuf, mh.stride, n)) != GAINMAP_OK)
            goto done;
        gm_apply_rows(a, y, n, bbuf, bh.stride, mbuf, mh.stride, obuf, oh.stride);
        if ((st = sink->rows(sink->arg, obuf, oh.stride, n)) != GAINMAP_OK)
            goto done;
    }
    st = gm_jpeg_reader_finish(br);
    if (st == GAINMAP_OK && mr)
        st = gm_jpeg_reader_finish(mr);
done:
    free(bbuf);
    free(mbuf);
    free(obuf);
    gm_apply_end(a);
    gainmap_image_free(&map);
    gm_jpeg_reader_close(mr);
    gm_jpeg_reader_close(br);
    return st;
}

/* Gain-map HEIF/AVIF: libheif decodes each image whole, but the output
 * (6 or 12 bytes a pixel) goes to the sink DECODE_STRIP rows at a time, as
 * the whole-image path computes them (the two-pass case excepted). */
static gainmap_status stream_heif(gainmap_ctx *ctx, const gainmap_file *f, const gainmap_decode_options *opts,
                                  const rows_sink *sink)
{
    heif_parts p;
    gainmap_status st = heif_prepare(ctx, f, opts, &p);
    if (st != GAINMAP_OK)
        return st;
    gm_apply *a = NULL;
    uint8_t *obuf = NULL;
    gainmap_image oh, whole;
    memset(&whole, 0, sizeof whole);
    if (p.two_pass) {
        if ((st = heif_two_pass(ctx, &p, opts, &whole)) != GAINMAP_OK)
            goto done;
        heif_parts_free(&p);
        whole.orientation = p.orientation;
        st = image_to_sink(sink, &whole);
        goto done;
    }
    if ((st = gm_apply_begin(ctx, &p.base, &p.map, 0, &p.meta, opts, &a, &oh)) != GAINMAP_OK)
        goto done;
    oh.orientation = p.orientation;
    uint32_t rows = GM_MIN((uint32_t)DECODE_STRIP, p.base.height);
    if (!(obuf = gm_malloc(ctx, oh.stride * rows))) {
        st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory decoding the image");
        goto done;
    }
    if ((st = sink->begin(sink->arg, &oh)) != GAINMAP_OK)
        goto done;
    for (uint32_t y = 0; y < p.base.height; y += rows) {
        uint32_t n = GM_MIN(rows, p.base.height - y);
        gm_apply_rows(a, y, n, (const uint8_t *)p.base.data + (size_t)y * p.base.stride, p.base.stride, NULL, 0, obuf,
                      oh.stride);
        if ((st = sink->rows(sink->arg, obuf, oh.stride, n)) != GAINMAP_OK)
            goto done;
    }
done:
    free(obuf);
    gm_apply_end(a);
    gainmap_image_free(&whole);
    heif_parts_free(&p);
    return st;
}

static gainmap_status decode_rows(gainmap_ctx *ctx, const gainmap_file *f, const gainmap_decode_options *opts,
                                  const rows_sink *sink)
{
    const gainmap_info *info;
    gainmap_decode_options defaults;
    gainmap_status st = decode_start(ctx, f, &opts, &defaults, &info);
    if (st != GAINMAP_OK)
        return st;
    int orientation = info->orientation >= 1 && info->orientation <= 8 ? info->orientation : 1;
    if (info->container == GAINMAP_CONTAINER_JPEG && (opts->keep_orientation || orientation == 1))
        return stream_jpeg(ctx, f, opts, sink);
    if (info->container == GAINMAP_CONTAINER_HEIF && info->has_gainmap)
        return stream_heif(ctx, f, opts, sink);
    return whole_to_sink(ctx, f, opts, sink);
}

typedef struct file_sink {
    gainmap_ctx *ctx;
    const char *path;
    gainmap_file_format fmt;
    gm_image_writer *w;
    gainmap_image *header;
    int write_failed;   /* the failure is the output's (open, write) */
} file_sink;

static gainmap_status file_begin(void *arg, const gainmap_image *hdr)
{
    file_sink *s = arg;
    if (s->header) {
        *s->header = *hdr;
        s->header->data = NULL;
        s->header->icc = NULL;
        s->header->icc_size = 0;
        s->header->exif = NULL;
        s->header->exif_size = 0;
    }
    gainmap_status st = gm_image_writer_open(s->ctx, s->path, s->fmt, hdr, &s->w);
    s->write_failed = st != GAINMAP_OK;
    return st;
}

static gainmap_status file_rows(void *arg, const void *rows, size_t stride, uint32_t n)
{
    file_sink *s = arg;
    gainmap_status st = gm_image_writer_write_rows(s->w, rows, stride, n);
    s->write_failed = st != GAINMAP_OK;
    return st;
}

gainmap_status gainmap_decode_to_file(gainmap_ctx *ctx, const gainmap_file *f, const gainmap_decode_options *opts,
                                      const char *path, gainmap_file_format fmt, gainmap_image *header)
{
    if (header)
        memset(header, 0, sizeof *header);
    if (!path)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "decode: NULL output path");
    file_sink s = {ctx, path, fmt, NULL, header, 0};
    rows_sink sink = {file_begin, file_rows, &s};
    gainmap_status st = decode_rows(ctx, f, opts, &sink);
    if (st == GAINMAP_OK) {
        st = gm_image_writer_finish(s.w);
        s.write_failed = st != GAINMAP_OK;
    } else {
        gm_image_writer_abort(s.w);
    }
    if (st != GAINMAP_OK && !s.write_failed && header)
        memset(header, 0, sizeof *header);
    return st;
}

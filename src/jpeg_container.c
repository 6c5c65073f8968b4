/* jpeg_container.c - assemble an UltraHDR v1.1 JPEG from a base JPEG, a
 * gain-map JPEG and metadata (FORMATS.md 1.1, 1.2, 2.2, 3.1, 7.3).
 *
 * Primary:  SOI, APP1 Exif, APP1 XMP (hdrgm:Version + GContainer), APP2 ICC...,
 *           APP2 ISO 21496-1 version stub, APP2 MPF, then the base minus its SOI
 *           (its own Exif/XMP/ICC/MPF/ISO segments removed).
 * Gain map: SOI, APP1 XMP (hdrgm), APP2 ISO 21496-1 metadata, map minus SOI. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define SEG_MAX_PAYLOAD 65533u   /* 16-bit length counts itself */
#define ICC_CHUNK 65519u         /* 65533 - 14 ("ICC_PROFILE\0" + seq + count) */

static bool has_sig(const uint8_t *p, size_t n, const char *sig, size_t sig_len)
{
    return n >= sig_len && memcmp(p, sig, sig_len) == 0;
}

/* Which APPn segments a rewritten stream drops: what we write ourselves. */
static bool drop_segment(uint8_t marker, const uint8_t *p, size_t n)
{
    if (marker == 0xE1)
        return has_sig(p, n, GM_EXIF_ID, GM_EXIF_ID_LEN) || has_sig(p, n, GM_XMP_ID, GM_XMP_ID_LEN) ||
               has_sig(p, n, GM_XMP_EXT_ID, GM_XMP_EXT_ID_LEN);
    if (marker == 0xE2)
        return has_sig(p, n, GM_ICC_ID, GM_ICC_ID_LEN) || has_sig(p, n, GM_ISO_ID, GM_ISO_ID_LEN) ||
               has_sig(p, n, GM_MPF_ID, GM_MPF_ID_LEN);
    return false;
}

/* Append `jpeg` minus its SOI to out, leaving out the header segments
 * drop_segment() names; from the first SOS to the EOI everything is copied
 * unchanged, and bytes after the EOI are not copied. */
gainmap_status gm_jpeg_copy_body(gainmap_ctx *ctx, const uint8_t *jpeg, size_t size, const char *what, gm_buf *out)
{
    gm_jpeg_layout l;
    gainmap_status st = gm_jpeg_scan(ctx, jpeg, size, 0, &l);
    if (st != GAINMAP_OK)
        return st;
    for (size_t i = 0; i < l.nheader; i++) {
        const gm_jpeg_segment *s = &l.segs[i];
        if (!drop_segment(s->marker, jpeg + s->payload, s->payload_size))
            gm_buf_put(out, jpeg + s->offset, s->length);
    }
    gm_buf_put(out, jpeg + l.sos_offset, l.eoi_end - l.sos_offset);
    gm_jpeg_layout_free(&l);
    return out->bad ? gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory copying the %s", what) : GAINMAP_OK;
}

static void segment(gm_buf *b, uint8_t marker, const void *sig, size_t sig_len, const void *data, size_t n)
{
    gm_buf_u8(b, 0xFF);
    gm_buf_u8(b, marker);
    gm_buf_u16be(b, (uint16_t)(2 + sig_len + n));
    gm_buf_put(b, sig, sig_len);
    gm_buf_put(b, data, n);
}

static gainmap_status put_xmp(gainmap_ctx *ctx, gm_buf *b, const gm_buf *xmp)
{
    if (xmp->size + GM_XMP_ID_LEN > SEG_MAX_PAYLOAD)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "XMP packet of %zu bytes does not fit one APP1 segment", xmp->size);
    segment(b, 0xE1, GM_XMP_ID, GM_XMP_ID_LEN, xmp->data, xmp->size);
    return GAINMAP_OK;
}

static gainmap_status put_icc(gainmap_ctx *ctx, gm_buf *b, const uint8_t *icc, size_t size)
{
    size_t chunks = (size + ICC_CHUNK - 1) / ICC_CHUNK;
    if (chunks > 255)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "ICC profile of %zu bytes needs more than 255 APP2 segments", size);
    for (size_t i = 0; i < chunks; i++) {
        size_t n = GM_MIN(ICC_CHUNK, size - i * ICC_CHUNK);
        gm_buf_u8(b, 0xFF);
        gm_buf_u8(b, 0xE2);
        gm_buf_u16be(b, (uint16_t)(2 + GM_ICC_ID_LEN + 2 + n));
        gm_buf_put(b, GM_ICC_ID, GM_ICC_ID_LEN);
        gm_buf_u8(b, (uint8_t)(i + 1));
        gm_buf_u8(b, (uint8_t)chunks);
        gm_buf_put(b, icc + i * ICC_CHUNK, n);
    }
    return GAINMAP_OK;
}

static gainmap_status build_map(gainmap_ctx *ctx, const gm_jpeg_parts *p, gm_buf *map)
{
    gainmap_status st = GAINMAP_OK;
    gm_buf_u8(map, 0xFF);
    gm_buf_u8(map, 0xD8);
    if (p->mode != GAINMAP_METADATA_ISO) {
        gm_buf xmp;
        gm_buf_init(&xmp);
        st = gm_xmp_write_gainmap(ctx, p->meta, &xmp);
        if (st == GAINMAP_OK)
            st = put_xmp(ctx, map, &xmp);
        gm_buf_free(&xmp);
        if (st != GAINMAP_OK)
            return st;
    }
    if (p->mode != GAINMAP_METADATA_XMP) {
        uint8_t *iso = NULL;
        size_t iso_size = 0;
        st = gainmap_iso21496_write(ctx, p->meta, &iso, &iso_size);
        if (st != GAINMAP_OK)
            return st;
        if (iso_size + GM_ISO_ID_LEN > SEG_MAX_PAYLOAD) {
            free(iso);
            return gm_error(ctx, GAINMAP_ERR_LIMIT, "ISO 21496-1 metadata too large for one APP2 segment");
        }
        segment(map, 0xE2, GM_ISO_ID, GM_ISO_ID_LEN, iso, iso_size);
        free(iso);
    }
    return gm_jpeg_copy_body(ctx, p->map, p->map_size, "gain-map JPEG", map);
}

gainmap_status gm_jpeg_assemble(gainmap_ctx *ctx, const gm_jpeg_parts *p, uint8_t **out, size_t *out_size)
{
    if (!p || !out || !out_size || !p->base || !p->map || !p->meta)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "assemble: missing base, map or metadata");
    *out = NULL;
    *out_size = 0;
    if (p->meta->kind != GAINMAP_KIND_ISO)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "assemble: metadata must be ISO-style (log2)");
    if (p->meta->flags & 0x0C)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "assemble: ISO flags 0x04/0x08 are never written");
    if (p->exif_size + GM_EXIF_ID_LEN > SEG_MAX_PAYLOAD)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "EXIF block of %zu bytes does not fit one APP1 segment",
                        p->exif_size);
    gm_buf map, pri;
    gm_buf_init(&map);
    gm_buf_init(&pri);
    gainmap_status st = build_map(ctx, p, &map);
    if (st == GAINMAP_OK && map.bad)
        st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory building the gain-map JPEG");
    if (st != GAINMAP_OK)
        goto done;

    gm_buf_u8(&pri, 0xFF);
    gm_buf_u8(&pri, 0xD8);
    if (p->exif && p->exif_size)
        segment(&pri, 0xE1, GM_EXIF_ID, GM_EXIF_ID_LEN, p->exif, p->exif_size);
    if (p->mode != GAINMAP_METADATA_ISO) {
        gm_buf xmp;
        gm_buf_init(&xmp);
        st = gm_xmp_write_primary(ctx, map.size, &xmp);
        if (st == GAINMAP_OK)
            st = put_xmp(ctx, &pri, &xmp);
        gm_buf_free(&xmp);
        if (st != GAINMAP_OK)
            goto done;
    }
    if (p->icc && p->icc_size && (st = put_icc(ctx, &pri, p->icc, p->icc_size)) != GAINMAP_OK)
        goto done;
    if (p->mode != GAINMAP_METADATA_XMP) {
        static const uint8_t version[4] = {0, 0, 0, 0};   /* minimum_version 0, writer_version 0 */
        segment(&pri, 0xE2, GM_ISO_ID, GM_ISO_ID_LEN, version, 4);
    }
    size_t mpf_at = pri.size;
    uint8_t mpf[GM_MPF_SEGMENT_SIZE];
    memset(mpf, 0, sizeof mpf);
    gm_buf_put(&pri, mpf, sizeof mpf);   /* filled in below, once the sizes are known */
    if ((st = gm_jpeg_copy_body(ctx, p->base, p->base_size, "base JPEG", &pri)) != GAINMAP_OK)
        goto done;
    if (pri.bad) {
        st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory building the primary JPEG");
        goto done;
    }
    if ((uint64_t)pri.size + map.size > UINT32_MAX) {
        st = gm_error(ctx, GAINMAP_ERR_LIMIT, "file exceeds the 4 GiB MPF offset range");
        goto done;
    }
    /* FORMATS.md 2.2: offsets count from the TIFF header, 8 bytes into the segment. */
    gm_mpf_write(mpf, (uint32_t)pri.size, (uint32_t)map.size, (uint32_t)(pri.size - (mpf_at + 8)));
    memcpy(pri.data + mpf_at, mpf, sizeof mpf);
    gm_buf_put(&pri, map.data, map.size);
    if (pri.bad) {
        st = gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory building the output JPEG");
        goto done;
    }
    *out = gm_buf_take(&pri, out_size);
done:
    gm_buf_free(&map);
    gm_buf_free(&pri);
    return st;
}

/* mpf_write.c - the CIPA DC-007 MPF APP2 segment of a two-image UltraHDR
 * file, big-endian, laid out as FORMATS.md 2.1 (APP2 length 88). */
#include "internal.h"

#include <string.h>

static void be16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint8_t *ifd_entry(uint8_t *p, uint16_t tag, uint16_t type, uint32_t count)
{
    be16(p, tag);
    be16(p + 2, type);
    be32(p + 4, count);
    return p + 8;   /* value / offset field */
}

/* out receives GM_MPF_SEGMENT_SIZE bytes: FF E2, length, "MPF\0", index IFD.
 * primary_size: whole primary JPEG (SOI..EOI, this segment included);
 * map_offset: gain-map SOI position minus the TIFF header position. */
void gm_mpf_write(uint8_t out[GM_MPF_SEGMENT_SIZE], uint32_t primary_size, uint32_t map_size, uint32_t map_offset)
{
    memset(out, 0, GM_MPF_SEGMENT_SIZE);
    out[0] = 0xFF;
    out[1] = 0xE2;
    be16(out + 2, GM_MPF_SEGMENT_SIZE - 2);
    memcpy(out + 4, "MPF\0", 4);
    uint8_t *t = out + 8;   /* TIFF base: every offset below counts from here */
    memcpy(t, "MM\0*", 4);
    be32(t + 4, 8);         /* index IFD right after the header */
    be16(t + 8, 3);
    uint8_t *v = ifd_entry(t + 10, 0xB000, 7, 4);   /* MPFVersion "0100" */
    memcpy(v, "0100", 4);
    v = ifd_entry(t + 22, 0xB001, 4, 1);            /* NumberOfImages */
    be32(v, 2);
    v = ifd_entry(t + 34, 0xB002, 7, 32);           /* MPEntry: 2 x 16 bytes at 50 */
    be32(v, 50);
    be32(t + 46, 0);                                /* no MP Attribute IFD */
    uint8_t *e = t + 50;
    be32(e, 0x00030000);   /* baseline MP primary image, JPEG */
    be32(e + 4, primary_size);
    be32(e + 8, 0);        /* CIPA: the first image's offset is 0 */
    e += 16;
    be32(e, 0x00000000);   /* undefined type: the gain map */
    be32(e + 4, map_size);
    be32(e + 8, map_offset);
}

/* bench_master.c - write a synthetic 16-bit PQ Display-P3 TIFF master for
 * bench/run.
 *
 *   bench_master WIDTH HEIGHT OUT.tif
 *
 * The content is the encoder tests' synthetic master (chart, 0.05..4000
 * cd/m2 ramps, sky, specular highlights) with film grain of about +-0.4 % of
 * the PQ signal on every pixel, so that the JPEG streams carry a realistic
 * amount of entropy (a smooth picture would make the codec floor look
 * unrealistically cheap).  The picture is computed at 1/4 size and enlarged
 * (pow() per pixel at 48 MP would dominate the bench's set-up time).
 * The TIFF is written here, uncompressed (strips of 16 rows, the P3-PQ ICC
 * profile), so that reading it costs what reading a master costs and not
 * what inflating Deflate costs; the library's writer always compresses. */
#include "gainmap.h"
#include "../tests/support/synth_master.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put16(FILE *f, unsigned v)
{
    fputc((int)(v & 255), f);
    fputc((int)(v >> 8), f);
}
static void put32(FILE *f, uint32_t v)
{
    put16(f, v & 0xFFFF);
    put16(f, v >> 16);
}
static void entry(FILE *f, unsigned tag, unsigned type, uint32_t count, uint32_t value)
{
    put16(f, tag);
    put16(f, type);
    put32(f, count);
    if (type == 3 && count == 1) {
        put16(f, value);
        put16(f, 0);
    } else {
        put32(f, value);
    }
}

/* Little-endian baseline TIFF, RGB 16-bit chunky, no compression. */
static int write_tiff(const char *path, const gainmap_image *img, const uint8_t *icc, size_t icc_size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    const uint32_t rps = 16, nstrips = (img->height + rps - 1) / rps;
    const uint32_t row = img->width * 6, nent = 11;
    /* header 8 | IFD | bits (6) | offsets | counts | icc | pixels */
    uint32_t ifd = 8, ifd_size = 2 + nent * 12 + 4;
    uint32_t bits = ifd + ifd_size, offs = bits + 6, cnts = offs + 4 * nstrips, iccat = cnts + 4 * nstrips;
    uint32_t data = (iccat + (uint32_t)icc_size + 15) & ~15u;
    fputs("II", f);
    put16(f, 42);
    put32(f, ifd);
    put16(f, nent);
    entry(f, 256, 4, 1, img->width);
    entry(f, 257, 4, 1, img->height);
    entry(f, 258, 3, 3, bits);
    entry(f, 259, 3, 1, 1);
    entry(f, 262, 3, 1, 2);
    entry(f, 273, 4, nstrips, offs);
    entry(f, 277, 3, 1, 3);
    entry(f, 278, 4, 1, rps);
    entry(f, 279, 4, nstrips, cnts);
    entry(f, 284, 3, 1, 1);
    entry(f, 34675, 7, (uint32_t)icc_size, iccat);
    put32(f, 0);
    for (int i = 0; i < 3; i++)
        put16(f, 16);
    for (uint32_t i = 0; i < nstrips; i++)
        put32(f, data + i * rps * row);
    for (uint32_t i = 0; i < nstrips; i++)
        put32(f, (img->height - i * rps < rps ? img->height - i * rps : rps) * row);
    fwrite(icc, 1, icc_size, f);
    for (uint32_t p = iccat + (uint32_t)icc_size; p < data; p++)
        fputc(0, f);
    for (uint32_t y = 0; y < img->height; y++) {
        const uint16_t *r = (const uint16_t *)(const void *)((const uint8_t *)img->data + (size_t)y * img->stride);
        for (size_t i = 0; i < (size_t)img->width * 3; i++)
            put16(f, r[i]);
    }
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_master WIDTH HEIGHT OUT.tif\n");
        return 2;
    }
    long w = strtol(argv[1], NULL, 10), h = strtol(argv[2], NULL, 10);
    if (w < 16 || h < 16 || w > 65535 || h > 65535) {
        fprintf(stderr, "bench_master: WIDTH and HEIGHT must be 16..65535\n");
        return 2;
    }
    gainmap_image small, img;
    uint32_t sw = (uint32_t)(w + 3) / 4, sh = (uint32_t)(h + 3) / 4;
    synth_master(sw, sh, &small);
    if (!small.data || gainmap_image_alloc(NULL, &img, (uint32_t)w, (uint32_t)h, 3, GAINMAP_PIXEL_U16) != GAINMAP_OK) {
        fprintf(stderr, "bench_master: out of memory\n");
        return 1;
    }
    img.transfer = GAINMAP_TRANSFER_PQ;
    img.primaries = GAINMAP_PRIMARIES_P3;
    img.bit_depth = 16;
    uint32_t s = 12345;
    for (uint32_t y = 0; y < (uint32_t)h; y++) {
        const uint16_t *src = (const uint16_t *)(const void *)((const uint8_t *)small.data + (size_t)(y / 4) * small.stride);
        uint16_t *row = (uint16_t *)(void *)((uint8_t *)img.data + (size_t)y * img.stride);
        for (uint32_t x = 0; x < (uint32_t)w; x++) {
            /* one grain value per pixel (luminance grain) plus a little per channel */
            s = s * 1664525u + 1013904223u;
            int grain = (int)((s >> 16) & 511) - 256;
            for (int c = 0; c < 3; c++) {
                s = s * 1664525u + 1013904223u;
                int v = src[(x / 4) * 3 + (uint32_t)c] + grain + (int)((s >> 24) & 63) - 32;
                row[3 * (size_t)x + (size_t)c] = (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v);
            }
        }
    }
    gainmap_image_free(&small);
    gainmap_ctx *ctx = gainmap_ctx_new();
    uint8_t *icc = NULL;
    size_t icc_size = 0;
    gainmap_status st = gainmap_icc_generate(ctx, "p3-pq", &icc, &icc_size);
    if (st != GAINMAP_OK)
        fprintf(stderr, "bench_master: %s\n", gainmap_last_error(ctx));
    else if (write_tiff(argv[3], &img, icc, icc_size) != 0) {
        fprintf(stderr, "bench_master: cannot write %s\n", argv[3]);
        st = GAINMAP_ERR_IO;
    }
    gainmap_free(icc);
    gainmap_image_free(&img);
    gainmap_ctx_free(ctx);
    return st == GAINMAP_OK ? 0 : 1;
}

/* test_preview.c - gainmap_render_preview and `gainmap preview`: sheet
 * size, non-trivial content in every panel, brighter renderings at more
 * headroom, the false-colour scale's end colours, the font table. */
#include "check.h"
#include "gainmap.h"
#include "internal.h"
#include "support/synth_master.h"
#include "support/testutil.h"

/* x265 (libheif's HEIC encoder, used for our HEIC output below) leaks a
 * little per thread; see tests/test_heic_write.c. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libx265.so\n"; }

typedef struct stats {
    double mean, var;    /* of luma (0..255) */
    double bright;       /* fraction of pixels with luma > 128 */
    double top;          /* mean luma of the brightest 5% */
} stats;

static void rgb_at(const gainmap_image *img, uint32_t x, uint32_t y, double rgb[3])
{
    const uint8_t *row = (const uint8_t *)img->data + (size_t)y * img->stride;
    for (int c = 0; c < 3; c++)
        rgb[c] = img->type == GAINMAP_PIXEL_U16 ? ((const uint16_t *)(const void *)row)[3 * x + c] / 257.0
                                                : row[3 * x + c];
}

static stats panel(const gainmap_image *img, const gm_rect *r)
{
    double s = 0, s2 = 0, n = 0, hi = 0, hist[256] = {0};
    for (uint32_t y = r->y; y < r->y + r->h; y++)
        for (uint32_t x = r->x; x < r->x + r->w; x++) {
            double p[3];
            rgb_at(img, x, y, p);
            double l = 0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2];
            s += l;
            s2 += l * l;
            hi += l > 128;
            hist[(int)GM_CLAMP(l, 0.0, 255.0)]++;
            n++;
        }
    stats st = {0, 0, 0, 0};
    if (n > 0) {
        st.mean = s / n;
        st.var = s2 / n - st.mean * st.mean;
        st.bright = hi / n;
        double want = 0.05 * n, got = 0, sum = 0;
        for (int b = 255; b >= 0 && got < want; b--) {
            double take = GM_MIN(hist[b], want - got);
            got += take;
            sum += take * (b + 0.5);
        }
        st.top = got > 0 ? sum / got : 0;
    }
    return st;
}

/* The checks every sheet must pass; base_w/h the displayed base size. */
static void check_sheet(const char *what, const gainmap_image *sheet, uint32_t base_w, uint32_t base_h)
{
    gm_rect r[GM_PREVIEW_NPANELS];
    uint32_t W, H;
    gm_preview_layout(base_w, base_h, r, &W, &H);
    CHECK_INT(sheet->width, W);
    CHECK_INT(sheet->height, H);
    CHECK_INT(W, 1260);
    CHECK_INT(sheet->channels, 3);
    if (sheet->width != W || sheet->height != H || sheet->channels != 3)
        return;
    static const char *const names[GM_PREVIEW_NPANELS] = {"base", "map", "scale", "hist", "h1", "h2", "h4", "h8", "text"};
    stats s[GM_PREVIEW_NPANELS];
    for (int p = 0; p < GM_PREVIEW_NPANELS; p++) {
        s[p] = panel(sheet, &r[p]);
        /* not a flat fill: the picture, the bars, the letters */
        CHECK_MSG(s[p].var > 20.0, "%s: panel %s variance %.2f", what, names[p], s[p].var);
    }
    /* More headroom looks brighter (one fixed curve for all four): on
     * average, and most in the highlights, where the map boosts. */
    CHECK_MSG(s[GM_PREVIEW_H2].mean > s[GM_PREVIEW_H1].mean, "%s: h2 %.2f vs h1 %.2f", what,
              s[GM_PREVIEW_H2].mean, s[GM_PREVIEW_H1].mean);
    CHECK_MSG(s[GM_PREVIEW_H4].mean > s[GM_PREVIEW_H2].mean, "%s: h4 %.2f vs h2 %.2f", what,
              s[GM_PREVIEW_H4].mean, s[GM_PREVIEW_H2].mean);
    CHECK_MSG(s[GM_PREVIEW_H8].mean >= s[GM_PREVIEW_H4].mean, "%s: h8 %.2f vs h4 %.2f", what,
              s[GM_PREVIEW_H8].mean, s[GM_PREVIEW_H4].mean);
    CHECK_MSG(s[GM_PREVIEW_H2].top > s[GM_PREVIEW_H1].top + 3.0, "%s: brightest 5%% h2 %.2f vs h1 %.2f", what,
              s[GM_PREVIEW_H2].top, s[GM_PREVIEW_H1].top);
    CHECK_MSG(s[GM_PREVIEW_H4].top > s[GM_PREVIEW_H2].top + 2.0, "%s: brightest 5%% h4 %.2f vs h2 %.2f", what,
              s[GM_PREVIEW_H4].top, s[GM_PREVIEW_H2].top);
    CHECK_MSG(s[GM_PREVIEW_H8].top >= s[GM_PREVIEW_H4].top, "%s: brightest 5%% h8 %.2f vs h4 %.2f", what,
              s[GM_PREVIEW_H8].top, s[GM_PREVIEW_H4].top);
    if (getenv("GM_PREVIEW_VERBOSE"))
        printf("%s: mean %.2f %.2f %.2f %.2f top5%% %.2f %.2f %.2f %.2f\n", what, s[GM_PREVIEW_H1].mean,
               s[GM_PREVIEW_H2].mean, s[GM_PREVIEW_H4].mean, s[GM_PREVIEW_H8].mean, s[GM_PREVIEW_H1].top,
               s[GM_PREVIEW_H2].top, s[GM_PREVIEW_H4].top, s[GM_PREVIEW_H8].top);
    /* ...without washing the picture out: under half the pixels past mid-grey at 8x */
    CHECK_MSG(s[GM_PREVIEW_H8].bright < 0.5, "%s: h8 bright fraction %.3f", what, s[GM_PREVIEW_H8].bright);
    /* Text: light letters on a dark ground. */
    CHECK_MSG(s[GM_PREVIEW_TEXT].bright > 0.02 && s[GM_PREVIEW_TEXT].bright < 0.4, "%s: text ink %.3f", what,
              s[GM_PREVIEW_TEXT].bright);
    /* The scale bar runs from our dark blue to our red-orange. */
    double left[3], right[3];
    rgb_at(sheet, r[GM_PREVIEW_SCALE].x, r[GM_PREVIEW_SCALE].y + 2, left);
    rgb_at(sheet, r[GM_PREVIEW_SCALE].x + r[GM_PREVIEW_SCALE].w - 1, r[GM_PREVIEW_SCALE].y + 2, right);
    CHECK_NEAR(left[0], 20, 0.01);
    CHECK_NEAR(left[1], 22, 0.01);
    CHECK_NEAR(left[2], 90, 0.01);
    CHECK_NEAR(right[0], 250, 0.01);
    CHECK_NEAR(right[1], 70, 0.01);
    CHECK_NEAR(right[2], 30, 0.01);
}

static void test_layout_and_font(void)
{
    gm_rect r[GM_PREVIEW_NPANELS];
    uint32_t W, H;
    gm_preview_layout(4000, 3000, r, &W, &H);
    CHECK_INT(r[GM_PREVIEW_BASE].w, 300);   /* 4:3 fills the 300x225 box */
    CHECK_INT(r[GM_PREVIEW_BASE].h, 225);
    gm_preview_layout(31, 32, r, &W, &H);   /* tiny images are enlarged to fit */
    CHECK_INT(r[GM_PREVIEW_BASE].h, 225);
    CHECK_INT(r[GM_PREVIEW_BASE].w, 218);
    gm_preview_layout(1, 5000, r, &W, &H);
    CHECK_INT(r[GM_PREVIEW_BASE].w, 1);
    for (int i = 0; i < GM_PREVIEW_NPANELS; i++) {
        CHECK(r[i].x + r[i].w <= W && r[i].y + r[i].h <= H && r[i].w > 0 && r[i].h > 0);
        for (int j = i + 1; j < GM_PREVIEW_NPANELS; j++) {
            bool apart = r[i].x + r[i].w <= r[j].x || r[j].x + r[j].w <= r[i].x || r[i].y + r[i].h <= r[j].y ||
                         r[j].y + r[j].h <= r[i].y;
            CHECK_MSG(apart, "panels %d and %d overlap", i, j);
        }
    }
    CHECK(gm_font_glyph(31) == NULL);
    CHECK(gm_font_glyph(127) == NULL);
    const uint8_t *h = gm_font_glyph('H');
    CHECK(h && h[0] == 0x11 && h[3] == 0x1F && h[6] == 0x11);
    const uint8_t *zero = gm_font_glyph('0'), *oh = gm_font_glyph('O');
    CHECK(zero && oh && memcmp(zero, oh, 7) != 0);
    int blank = 0, same = 0;
    for (int c = 32; c <= 126; c++) {
        const uint8_t *g = gm_font_glyph(c);
        int ink = 0;
        for (int k = 0; k < 7; k++) {
            CHECK((g[k] & ~0x1Fu) == 0);
            ink |= g[k];
        }
        blank += !ink;
        for (int d = c + 1; d <= 126; d++)
            same += memcmp(g, gm_font_glyph(d), 7) == 0;
    }
    CHECK_INT(blank, 1);   /* only the space */
    CHECK_INT(same, 0);    /* every glyph its own */
    CHECK_INT(gm_font_drop('g') + gm_font_drop('y') + gm_font_drop('a'), 4);
}

static void test_corpus_cli(void)
{
    const char *dir = tu_tmpdir("test_preview");
    const char *in = tu_corpus("ultrahdr_v1_xmp_mpf/gainmapjs__memorial.jpg");
    const char *out = tu_path(dir, "memorial_sheet.png");
    char *o = NULL;
    int rc = tu_run(&o, "'%s' preview '%s' -o '%s'", tu_cli(), in, out);
    CHECK_INT(rc, 0);
    free(o);
    gainmap_image sheet;
    CHECK_INT(gainmap_image_read(NULL, out, &sheet), GAINMAP_OK);
    check_sheet("memorial.jpg", &sheet, 512, 768);
    gainmap_image_free(&sheet);

    /* an existing sheet is kept without --force; replaced with it */
    rc = tu_run(&o, "'%s' preview '%s' -o '%s'", tu_cli(), in, out);
    CHECK_INT(rc, 1);
    CHECK_CONTAINS(o, "already exists (use --force to replace it)");
    free(o);
    CHECK_INT(tu_run(NULL, "'%s' preview -f '%s' -o '%s' -t 'a title'", tu_cli(), in, out), 0);
    /* misuse and files without a map */
    CHECK_INT(tu_run(&o, "'%s' preview '%s'", tu_cli(), in), 2);
    CHECK_CONTAINS(o, "needs --output SHEET.png");
    free(o);
    CHECK_INT(tu_run(&o, "'%s' preview '%s' -o '%s'", tu_cli(), in, tu_path(dir, "x.jpg")), 2);
    CHECK_CONTAINS(o, "option --output expects a name ending in .png, .tif or .ppm, not");
    free(o);
    rc = tu_run(&o, "'%s' preview '%s' -o '%s'", tu_cli(), tu_corpus("negative_no_gainmap/gainmapjs__plain-jpeg.jpg"),
                tu_path(dir, "plain.png"));
    CHECK_INT(rc, 1);
    CHECK_CONTAINS(o, "the file has no usable gain map");
    free(o);
    CHECK(!tu_exists(tu_path(dir, "plain.png")));
}

/* One of our own outputs (an UltraHDR JPEG from the synthetic master),
 * through the library, plus a 1-channel Apple corpus map. */
static void test_own_output(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_image master;
    synth_master(240, 160, &master);
    uint8_t *jpg = NULL;
    size_t size = 0;
    CHECK_INT(gainmap_encode_jpeg(ctx, &master, NULL, NULL, &jpg, &size), GAINMAP_OK);
    gainmap_file *f = NULL;
    CHECK_INT(gainmap_file_open_memory(ctx, jpg, size, &f), GAINMAP_OK);
    gainmap_image sheet;
    CHECK_INT(gainmap_render_preview(ctx, f, "our UltraHDR output", &sheet), GAINMAP_OK);
    check_sheet("own uhdr", &sheet, 240, 160);
    CHECK_INT(sheet.type, GAINMAP_PIXEL_U8);
    CHECK_INT(sheet.transfer, GAINMAP_TRANSFER_SRGB);
    gainmap_image_free(&sheet);
    gainmap_file_close(f);
    gainmap_free(jpg);

    /* HEIC output: previewed once gainmap_decode reads HEIF; until then a clean error. */
    uint8_t *heic = NULL;
    gainmap_status st = gainmap_encode_heic(ctx, &master, NULL, NULL, GAINMAP_HEIC_BOTH, &heic, &size);
    CHECK_INT(st, GAINMAP_OK);
    if (st == GAINMAP_OK && gainmap_file_open_memory(ctx, heic, size, &f) == GAINMAP_OK) {
        gainmap_clear_error(ctx);
        st = gainmap_render_preview(ctx, f, NULL, &sheet);
        if (st == GAINMAP_OK) {
            check_sheet("own heic", &sheet, 240, 160);
        } else {
            CHECK_INT(st, GAINMAP_ERR_UNSUPPORTED);
            CHECK(sheet.data == NULL);
            printf("note: HEIC preview not available yet: %s\n", gainmap_last_error(ctx));
        }
        gainmap_image_free(&sheet);
        gainmap_file_close(f);
    }
    gainmap_free(heic);
    gainmap_image_free(&master);

    gainmap_clear_error(ctx);
    CHECK_INT(gainmap_file_open(ctx, tu_corpus("apple_jpeg_gainmap/libavif__apple_gainmap_new.jpg"), &f), GAINMAP_OK);
    CHECK_INT(gainmap_render_preview(ctx, f, "apple", &sheet), GAINMAP_OK);
    check_sheet("apple jpeg", &sheet, 384, 512);
    gainmap_image_free(&sheet);
    gainmap_file_close(f);

    CHECK_INT(gainmap_file_open(ctx, tu_corpus("negative_no_gainmap/gainmapjs__plain-jpeg.jpg"), &f), GAINMAP_OK);
    CHECK_INT(gainmap_render_preview(ctx, f, NULL, &sheet), GAINMAP_ERR_NO_GAINMAP);
    CHECK(sheet.data == NULL);
    CHECK_INT(gainmap_render_preview(ctx, f, NULL, NULL), GAINMAP_ERR_INVALID_ARG);
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
}

int main(void)
{
    RUN_TEST(test_layout_and_font);
    RUN_TEST(test_corpus_cli);
    RUN_TEST(test_own_output);
    TEST_SUMMARY();
}

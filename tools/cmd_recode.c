/* cmd_recode.c - `gainmap recode`: convert an HDR image between file formats,
 * transfer functions and primaries. */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: gainmap recode [OPTIONS] IN -o OUT\n"
    "\n"
    "Convert an HDR image between formats (PNG, TIFF, OpenEXR, Radiance .hdr\n"
    "input; PNG, TIFF, OpenEXR, PFM, PPM output, chosen by OUT's extension),\n"
    "re-encoding its transfer function and primaries on the way.  Linear values\n"
    "are relative to SDR white (1.0 = 203 cd/m2); HLG is converted through the\n"
    "BT.2100 OOTF of a 1000 cd/m2 display.\n"
    "\n"
    "Options:\n"
    "  -o, --output OUT           output file (required; never the input)\n"
    "  -t, --transfer NAME        output transfer: pq, hlg or linear.  Default: linear\n"
    "                             for .exr/.pfm, else the input's (pq for linear input)\n"
    "  -p, --primaries NAME       output primaries: srgb, p3 or bt2020 (default: the input's)\n"
    "      --input-transfer NAME  read the input as this transfer (overrides its tags)\n"
    "      --input-primaries NAME read the input as these primaries\n"
    "  -h, --help                 this help\n"
    "\n"
    "Integer outputs are 16-bit (PNG gets a cICP chunk; PQ/HLG TIFFs get a matching\n"
    "ICC profile); OpenEXR output is half float, PFM 32-bit float.\n"
    "\n"
    "Examples:\n"
    "  gainmap recode master.exr -o master_pq.png --primaries bt2020\n"
    "  gainmap recode samples/sample_p3_pq.tif -o linear.exr\n"
    "  gainmap recode hdr_pq.png -o hdr_hlg.tif --transfer hlg\n"
    "\n"
    "Exit status: 0 ok, 1 failure, 2 misuse.\n";

static double sample(const gainmap_image *img, const unsigned char *row, size_t i)
{
    switch (img->type) {
    case GAINMAP_PIXEL_U8: return row[i] / 255.0;
    case GAINMAP_PIXEL_U16: {
        uint16_t v;
        memcpy(&v, row + 2 * i, 2);
        return v / 65535.0;
    }
    case GAINMAP_PIXEL_F32: {
        float v;
        memcpy(&v, row + 4 * i, 4);
        return v;
    }
    }
    return 0.0;
}

static double clamp01(double v) { return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v; }

/* Signal -> linear (1.0 = SDR white = 203 cd/m2). */
static void decode_px(gainmap_transfer tf, double px[3])
{
    if (tf == GAINMAP_TRANSFER_HLG) {
        double scene[3], nits[3];
        for (int c = 0; c < 3; c++)
            scene[c] = gainmap_hlg_inverse_oetf(clamp01(px[c]));
        gainmap_hlg_ootf(scene, 1000.0, nits);
        for (int c = 0; c < 3; c++)
            px[c] = nits[c] / 203.0;
    } else {
        for (int c = 0; c < 3; c++)
            px[c] = gainmap_to_linear(tf, px[c]);
    }
}

/* Linear -> signal [0,1] (or linear for LINEAR). */
static void encode_px(gainmap_transfer tf, double px[3])
{
    if (tf == GAINMAP_TRANSFER_HLG) {
        double nits[3], scene[3];
        for (int c = 0; c < 3; c++)
            nits[c] = px[c] > 0.0 ? px[c] * 203.0 : 0.0;
        gainmap_hlg_inverse_ootf(nits, 1000.0, scene);
        for (int c = 0; c < 3; c++)
            px[c] = gainmap_hlg_oetf(clamp01(scene[c]));
    } else if (tf != GAINMAP_TRANSFER_LINEAR) {
        for (int c = 0; c < 3; c++)
            px[c] = clamp01(gainmap_from_linear(tf, px[c] > 0.0 ? px[c] : 0.0));
    }
}

static const char *icc_name(gainmap_transfer tf, gainmap_primaries p)
{
    if (tf == GAINMAP_TRANSFER_PQ && p == GAINMAP_PRIMARIES_P3)
        return "p3-pq";
    if (tf == GAINMAP_TRANSFER_PQ && p == GAINMAP_PRIMARIES_BT2020)
        return "bt2020-pq";
    if (tf == GAINMAP_TRANSFER_HLG && p == GAINMAP_PRIMARIES_P3)
        return "p3-hlg";
    if (tf == GAINMAP_TRANSFER_HLG && p == GAINMAP_PRIMARIES_BT2020)
        return "bt2020-hlg";
    return NULL;
}

static int run(int argc, char **argv)
{
    enum { OPT_IN_TF = 256, OPT_IN_P };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"transfer", required_argument, NULL, 't'},
        {"primaries", required_argument, NULL, 'p'},
        {"input-transfer", required_argument, NULL, OPT_IN_TF},
        {"input-primaries", required_argument, NULL, OPT_IN_P},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out_path = NULL;
    gainmap_transfer out_tf = GAINMAP_TRANSFER_UNKNOWN, in_tf = GAINMAP_TRANSFER_UNKNOWN;
    gainmap_primaries out_p = GAINMAP_PRIMARIES_UNKNOWN, in_p = GAINMAP_PRIMARIES_UNKNOWN;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:t:p:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o': out_path = optarg; break;
        case 't':
            out_tf = gainmap_transfer_from_name(optarg);
            if (out_tf != GAINMAP_TRANSFER_PQ && out_tf != GAINMAP_TRANSFER_HLG && out_tf != GAINMAP_TRANSFER_LINEAR)
                return cli_usage_error("recode", "option --transfer expects pq, hlg or linear, not '%s'", optarg);
            break;
        case 'p':
        case OPT_IN_P: {
            gainmap_primaries p = gainmap_primaries_from_name(optarg);
            if (p == GAINMAP_PRIMARIES_UNKNOWN)
                return cli_usage_error("recode", "option --%s expects srgb, p3 or bt2020, not '%s'",
                                       opt == 'p' ? "primaries" : "input-primaries", optarg);
            *(opt == 'p' ? &out_p : &in_p) = p;
            break;
        }
        case OPT_IN_TF:
            in_tf = gainmap_transfer_from_name(optarg);
            if (in_tf == GAINMAP_TRANSFER_UNKNOWN)
                return cli_usage_error("recode",
                                       "option --input-transfer expects pq, hlg, linear, srgb, bt709, gamma2.2 or "
                                       "gamma2.4, not '%s'",
                                       optarg);
            break;
        case 'h': return cli_print_help(&cli_cmd_recode, stdout);
        case ':': return cli_usage_error("recode", "option %s needs a value", argv[optind - 1]);
        default: return cli_usage_error("recode", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("recode", optind >= argc ? "missing input FILE" : "expects exactly one input FILE");
    const char *in_path = argv[optind];
    if (!out_path)
        return cli_usage_error("recode", "missing -o OUT (the output file)");
    gainmap_file_format fmt = gainmap_format_from_path(out_path);
    if (fmt != GAINMAP_FORMAT_PNG && fmt != GAINMAP_FORMAT_TIFF && fmt != GAINMAP_FORMAT_EXR &&
        fmt != GAINMAP_FORMAT_PFM && fmt != GAINMAP_FORMAT_PPM)
        return cli_usage_error("recode", "option --output expects a name ending in .png, .tif, .exr, .pfm or .ppm, "
                                         "not '%s'", out_path);
    bool float_out = fmt == GAINMAP_FORMAT_EXR || fmt == GAINMAP_FORMAT_PFM;
    if (float_out && out_tf != GAINMAP_TRANSFER_UNKNOWN && out_tf != GAINMAP_TRANSFER_LINEAR)
        return cli_usage_error("recode", "option --transfer: %s files hold linear light; use --transfer linear",
                               fmt == GAINMAP_FORMAT_EXR ? "OpenEXR" : "PFM");
    if (cli_same_file(in_path, out_path)) {
        fprintf(stderr, "gainmap: %s: refusing to overwrite the input\n", out_path);
        return EXIT_FAIL;
    }

    gainmap_ctx *ctx = cli_ctx_new();
    gainmap_image in, out;
    memset(&out, 0, sizeof out);
    gainmap_status st = gainmap_image_read(ctx, in_path, &in);
    if (st != GAINMAP_OK) {
        int rc = cli_fail(in_path, ctx, st);
        gainmap_ctx_free(ctx);
        return rc;
    }
    if (in_tf != GAINMAP_TRANSFER_UNKNOWN)
        in.transfer = in_tf;
    if (in_p != GAINMAP_PRIMARIES_UNKNOWN)
        in.primaries = in_p;
    if (out_tf == GAINMAP_TRANSFER_UNKNOWN)
        out_tf = float_out ? GAINMAP_TRANSFER_LINEAR
                 : in.transfer == GAINMAP_TRANSFER_LINEAR ? GAINMAP_TRANSFER_PQ
                                                          : in.transfer;
    if (out_p == GAINMAP_PRIMARIES_UNKNOWN)
        out_p = in.primaries;
    uint32_t ch = in.channels;
    st = gainmap_image_alloc(ctx, &out, in.width, in.height, ch,
                             out_tf == GAINMAP_TRANSFER_LINEAR ? GAINMAP_PIXEL_F32 : GAINMAP_PIXEL_U16);
    if (st != GAINMAP_OK)
        goto fail;
    double m[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    bool gamut = in.primaries != out_p;
    if (gamut && gainmap_gamut_matrix(in.primaries, out_p, m) != 0) {
        fprintf(stderr, "gainmap: %s: cannot convert from %s to %s primaries\n", in_path,
                gainmap_primaries_name(in.primaries), gainmap_primaries_name(out_p));
        gainmap_image_free(&in);
        gainmap_image_free(&out);
        gainmap_ctx_free(ctx);
        return EXIT_FAIL;
    }
    for (uint32_t y = 0; y < in.height; y++) {
        const unsigned char *srow = (const unsigned char *)in.data + (size_t)y * in.stride;
        unsigned char *drow = (unsigned char *)out.data + (size_t)y * out.stride;
        for (uint32_t x = 0; x < in.width; x++) {
            size_t base = (size_t)x * ch;
            double px[3], alpha = ch == 4 ? sample(&in, srow, base + 3) : 1.0;
            for (int c = 0; c < 3; c++)
                px[c] = sample(&in, srow, base + (ch >= 3 ? (size_t)c : 0));
            decode_px(in.transfer, px);
            if (gamut) {
                double r = m[0] * px[0] + m[1] * px[1] + m[2] * px[2];
                double g = m[3] * px[0] + m[4] * px[1] + m[5] * px[2];
                double b = m[6] * px[0] + m[7] * px[1] + m[8] * px[2];
                px[0] = r;
                px[1] = g;
                px[2] = b;
            }
            encode_px(out_tf, px);
            /* A grey image stays grey: a neutral keeps R = G = B through the matrix. */
            double v[4] = {ch >= 3 ? px[0] : px[1], px[1], px[2], alpha};
            for (uint32_t c = 0; c < ch; c++) {
                if (out.type == GAINMAP_PIXEL_F32) {
                    float f = (float)v[c];
                    memcpy(drow + 4 * (base + c), &f, 4);
                } else {
                    uint16_t u = (uint16_t)lrint(clamp01(v[c]) * 65535.0);
                    memcpy(drow + 2 * (base + c), &u, 2);
                }
            }
        }
    }
    out.transfer = out_tf;
    out.primaries = out_p;
    out.orientation = in.orientation;
    out.bit_depth = out.type == GAINMAP_PIXEL_F32 ? 32 : 16;
    gainmap_image_set_exif(&out, in.exif, in.exif_size);
    /* The input's ICC no longer describes the pixels unless nothing changed. */
    if (in.transfer == out_tf && in.primaries == out_p && in.icc) {
        gainmap_image_set_icc(&out, in.icc, in.icc_size);
    } else if (icc_name(out_tf, out_p)) {
        unsigned char *icc = NULL;
        size_t icc_size = 0;
        if (gainmap_icc_generate(ctx, icc_name(out_tf, out_p), &icc, &icc_size) == GAINMAP_OK)
            gainmap_image_set_icc(&out, icc, icc_size);
        gainmap_free(icc);
        gainmap_clear_error(ctx);
    }
    st = gainmap_image_write(ctx, out_path, &out, fmt);
    if (st != GAINMAP_OK)
        goto fail;
    cli_note("%s: %ux%u %s %s -> %s %s\n", out_path, out.width, out.height, gainmap_transfer_name(in.transfer),
             gainmap_primaries_name(in.primaries), gainmap_transfer_name(out_tf), gainmap_primaries_name(out_p));
    gainmap_image_free(&in);
    gainmap_image_free(&out);
    gainmap_ctx_free(ctx);
    return EXIT_OK;
fail:;
    int rc = cli_fail(out.data ? out_path : in_path, ctx, st);
    gainmap_image_free(&in);
    gainmap_image_free(&out);
    gainmap_ctx_free(ctx);
    return rc;
}

const cli_command cli_cmd_recode = {
    "recode",
    "convert an HDR image between formats, transfers and primaries",
    usage,
    run,
};

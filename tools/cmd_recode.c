/* cmd_recode.c - `gainmap recode`: convert an HDR image between file formats,
 * transfer functions and primaries. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "Usage: gainmap recode [OPTIONS] IN -o OUT\n"
    "\n"
    "Convert an HDR image between formats (PNG, TIFF, OpenEXR, Radiance .hdr,\n"
    "PFM and PQ/HLG HEIC/AVIF input; PNG, TIFF, OpenEXR, PFM, PPM output, chosen\n"
    "by OUT's extension), re-encoding its transfer function and primaries on the\n"
    "way.  Linear values are relative to SDR white (1.0 = 203 cd/m2); HLG is\n"
    "converted through the BT.2100 OOTF of a 1000 cd/m2 display.\n"
    "\n"
    "Options:\n"
    "  -o, --output OUT           output file (required; never the input)\n"
    "  -f, --force                replace OUT if it exists\n"
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
    if (tf == GAINMAP_TRANSFER_PQ && p == GAINMAP_PRIMARIES_BT709)
        return "bt709-pq";
    if (tf == GAINMAP_TRANSFER_HLG && p == GAINMAP_PRIMARIES_BT709)
        return "bt709-hlg";
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
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out_path = NULL;
    bool force = false;
    gainmap_transfer out_tf = GAINMAP_TRANSFER_UNKNOWN, in_tf = GAINMAP_TRANSFER_UNKNOWN;
    gainmap_primaries out_p = GAINMAP_PRIMARIES_UNKNOWN, in_p = GAINMAP_PRIMARIES_UNKNOWN;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:t:p:fh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o': out_path = optarg; break;
        case 'f': force = true; break;
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
    if (!force && access(out_path, F_OK) == 0) {
        fprintf(stderr, "gainmap: %s: already exists (use --force to replace it)\n", out_path);
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
    st = gainmap_image_recode(ctx, &in, out_tf, out_p,
                              out_tf == GAINMAP_TRANSFER_LINEAR ? GAINMAP_PIXEL_F32 : GAINMAP_PIXEL_U16, &out);
    if (st != GAINMAP_OK) {
        int rc = cli_fail(in_path, ctx, st);
        gainmap_image_free(&in);
        gainmap_ctx_free(ctx);
        return rc;
    }
    /* The library keeps the input's ICC only while it still describes the
     * pixels; an HDR output without one gets our matching profile. */
    if (!out.icc && icc_name(out_tf, out_p)) {
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
    int rc = cli_fail(out_path, ctx, st);
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

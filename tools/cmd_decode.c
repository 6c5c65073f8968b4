/* cmd_decode.c - `gainmap decode`: a gain-map photo to an HDR image file. */
#include "cli.h"

#include <unistd.h>

#include <getopt.h>
#include <math.h>
#include <string.h>

static const char usage[] =
    "Usage: gainmap decode FILE -o OUT.{png,tif,exr,pfm,ppm} [OPTIONS]\n"
    "\n"
    "Apply the gain map of FILE (UltraHDR, Adobe hdrgm, ISO 21496-1 or Apple\n"
    "gain-map JPEG; HEIC/AVIF with an ISO 21496-1 tmap item, an Apple, Samsung or\n"
    "Adobe auxiliary gain map) to its base image and write the HDR result: what\n"
    "an HDR display with the chosen headroom would show.  The base is read in\n"
    "its own colour space (its ICC profile or HEIF nclx, sRGB when none), the\n"
    "gain map is resampled to the base size, and the orientation (JPEG EXIF,\n"
    "HEIF irot/imir) is applied to the pixels.  When the base is the HDR\n"
    "rendition (some AVIFs), 'max' gives the base and lower headrooms tone it\n"
    "down towards the SDR rendition.  A HEIC/AVIF with no gain map whose image\n"
    "is HDR (PQ or HLG) is written as it is in the chosen encoding, or\n"
    "tone-mapped for 'sdr' and srgb.\n"
    "\n"
    "Options:\n"
    "  -o, --output OUT        output file; the format follows the extension:\n"
    "                          .png (16-bit, cICP), .tif, .exr, .pfm, .ppm\n"
    "  -H, --headroom H        display headroom: a linear ratio >= 1 (4 = two\n"
    "                          stops above SDR white), 'max' for the file's full\n"
    "                          HDR rendition, or 'sdr' for the SDR rendition\n"
    "                          (default: max)\n"
    "  -t, --transfer TF       pq (16-bit, SMPTE ST 2084), hlg (16-bit, BT.2100,\n"
    "                          1000 cd/m2 display), linear (float, 1.0 = SDR white\n"
    "                          = 203 cd/m2) or srgb (8-bit SDR rendition)\n"
    "                          (default: pq; linear for .exr and .pfm)\n"
    "  -p, --primaries P       bt2020, p3, srgb (= bt709) or base (the base's own)\n"
    "                          (default: bt2020)\n"
    "  -k, --keep-orientation  keep the stored pixel order and the EXIF\n"
    "                          orientation tag instead of rotating\n"
    "  -f, --force             replace OUT if it exists\n"
    "  -h, --help              this help\n"
    "\n"
    "Examples:\n"
    "  gainmap decode photo.jpg -o hdr.png                  16-bit PQ BT.2020 PNG\n"
    "  gainmap decode photo.jpg -o hdr.exr                  linear half-float EXR\n"
    "  gainmap decode photo.jpg -o 2x.png --headroom 2      a 1-stop display\n"
    "  gainmap decode photo.jpg -o sdr.png -t srgb          the SDR base\n"
    "  gainmap decode photo.jpg -o p3.tif -p p3 -t hlg      HLG in Display P3\n"
    "  gainmap decode IMG_0001.HEIC -o hdr.exr              iPhone HEIC, linear\n"
    "\n"
    "Exit status: 0 written, 1 the file could not be read, decoded or written,\n"
    "2 misuse.\n";

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},
        {"headroom", required_argument, 0, 'H'},
        {"transfer", required_argument, 0, 't'},
        {"primaries", required_argument, 0, 'p'},
        {"keep-orientation", no_argument, 0, 'k'},
        {"force", no_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    gainmap_decode_options opts;
    gainmap_decode_options_init(&opts);
    const char *output = NULL;
    bool transfer_set = false;
    bool force = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:H:t:p:kfh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'H':
            if (!strcmp(optarg, "max")) {
                opts.headroom = 0.0;
            } else if (!strcmp(optarg, "sdr")) {
                opts.headroom = 1.0;
            } else if (!cli_parse_double("decode", "--headroom", optarg, 1.0, 1e6, &opts.headroom)) {
                fprintf(stderr, "(--headroom also takes 'max' or 'sdr')\n");
                return EXIT_USAGE;
            }
            break;
        case 't':
            if (!strcmp(optarg, "pq"))
                opts.transfer = GAINMAP_TRANSFER_PQ;
            else if (!strcmp(optarg, "hlg"))
                opts.transfer = GAINMAP_TRANSFER_HLG;
            else if (!strcmp(optarg, "linear"))
                opts.transfer = GAINMAP_TRANSFER_LINEAR;
            else if (!strcmp(optarg, "srgb") || !strcmp(optarg, "sdr"))
                opts.transfer = GAINMAP_TRANSFER_SRGB;
            else
                return cli_usage_error("decode", "option --transfer expects pq, hlg, linear or srgb, not '%s'",
                                       optarg);
            transfer_set = true;
            break;
        case 'p':
            if (!strcmp(optarg, "bt2020") || !strcmp(optarg, "rec2020"))
                opts.primaries = GAINMAP_PRIMARIES_BT2020;
            else if (!strcmp(optarg, "p3") || !strcmp(optarg, "display-p3"))
                opts.primaries = GAINMAP_PRIMARIES_P3;
            else if (!strcmp(optarg, "srgb") || !strcmp(optarg, "bt709"))
                opts.primaries = GAINMAP_PRIMARIES_BT709;
            else if (!strcmp(optarg, "base"))
                opts.primaries = GAINMAP_PRIMARIES_UNKNOWN;
            else
                return cli_usage_error("decode", "option --primaries expects bt2020, p3, srgb or base, not '%s'",
                                       optarg);
            break;
        case 'k': opts.keep_orientation = 1; break;
        case 'f': force = true; break;
        case 'h': return cli_print_help(&cli_cmd_decode, stdout);
        case ':': return cli_usage_error("decode", "option %s needs a value", argv[optind - 1]);
        default: return cli_usage_error("decode", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("decode", "expects a FILE to decode");
    if (argc - optind > 1)
        return cli_usage_error("decode", "expects one FILE, got %d", argc - optind);
    if (!output)
        return cli_usage_error("decode", "needs --output OUT.{png,tif,exr,pfm,ppm}");
    const char *input = argv[optind];
    gainmap_file_format fmt = gainmap_format_from_path(output);
    if (fmt != GAINMAP_FORMAT_PNG && fmt != GAINMAP_FORMAT_TIFF && fmt != GAINMAP_FORMAT_EXR &&
        fmt != GAINMAP_FORMAT_PFM && fmt != GAINMAP_FORMAT_PPM)
        return cli_usage_error("decode", "option --output expects a name ending in .png, .tif, .exr, .pfm or .ppm, not '%s'",
                               output);
    if (!transfer_set && (fmt == GAINMAP_FORMAT_EXR || fmt == GAINMAP_FORMAT_PFM))
        opts.transfer = GAINMAP_TRANSFER_LINEAR;
    if (cli_same_file(input, output)) {
        fprintf(stderr, "gainmap: %s: refusing to overwrite the input file\n", output);
        return EXIT_FAIL;
    }
    if (!force && access(output, F_OK) == 0) {
        fprintf(stderr, "gainmap: %s: already exists (use --force to replace it)\n", output);
        return EXIT_FAIL;
    }

    gainmap_ctx *ctx = cli_ctx_new();
    gainmap_file *f = NULL;
    gainmap_image img;
    memset(&img, 0, sizeof img);
    int rc = EXIT_OK;
    gainmap_status st = gainmap_file_open(ctx, input, &f);
    if (st == GAINMAP_OK)
        st = gainmap_decode_to_file(ctx, f, &opts, output, fmt, &img);
    if (st != GAINMAP_OK) {
        /* the header survives a failure only when the output was to blame */
        rc = cli_fail(img.width ? output : input, ctx, st);
    } else if (cli_verbose) {
        char hr[32];
        if (opts.headroom == 0.0)
            snprintf(hr, sizeof hr, "max");
        else
            snprintf(hr, sizeof hr, "%g", opts.headroom);
        cli_note("%s -> %s: %ux%u, %s primaries, %s transfer, headroom %s\n", input, output, img.width,
                 img.height, gainmap_primaries_name(img.primaries), gainmap_transfer_name(img.transfer), hr);
    }
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
    return rc;
}

const cli_command cli_cmd_decode = {
    "decode",
    "apply the gain map: HDR PNG/TIFF/EXR/PFM/PPM at any display headroom",
    usage,
    run,
};

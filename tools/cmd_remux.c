/* cmd_remux.c - `gainmap remux`: rewrite a gain-map JPEG's metadata as UltraHDR v1.1. */
#include "cli.h"

#include <getopt.h>
#include <string.h>

static const char usage[] =
    "Usage: gainmap remux IN.jpg -o OUT.jpg [--metadata both|xmp|iso]\n"
    "\n"
    "Rewrite a gain-map JPEG - Adobe/UltraHDR XMP only, ISO 21496-1 only, v1.1, or\n"
    "an Apple iPhone gain map - as an UltraHDR v1.1 file, without re-encoding: the\n"
    "base and gain-map JPEG streams keep their coded data byte for byte; only the\n"
    "metadata segments (EXIF placement, XMP, ICC, ISO 21496-1, MPF) are rewritten.\n"
    "Other XMP properties of the primary image are not kept.\n"
    "Apple gain maps (linear 1 + (H-1)g) are described in ISO terms as min 0,\n"
    "max log2(H), offsets 0 and a gamma fitted to Apple's curve: an approximation\n"
    "(worst case about 0.1 stop), since exact conversion would re-encode the map.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE    the JPEG to write (required; never the input)\n"
    "  -f, --force          replace OUT if it exists\n"
    "      --metadata MODE  both (XMP + ISO 21496-1, default), xmp or iso\n"
    "\n"
    "Examples:\n"
    "  gainmap remux adobe_export.jpg -o v11.jpg\n"
    "  gainmap remux iphone.jpg --metadata iso -o iso.jpg\n";

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},
        {"metadata", required_argument, 0, 'm'},
        {"force", no_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *cmd = "remux", *output = NULL;
    gainmap_metadata_mode mode = GAINMAP_METADATA_BOTH;
    int force = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:fh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'f': force = 1; break;
        case 'm':
            if (strcmp(optarg, "both") == 0)
                mode = GAINMAP_METADATA_BOTH;
            else if (strcmp(optarg, "xmp") == 0)
                mode = GAINMAP_METADATA_XMP;
            else if (strcmp(optarg, "iso") == 0)
                mode = GAINMAP_METADATA_ISO;
            else
                return cli_usage_error(cmd, "option --metadata expects both, xmp or iso, not '%s'", optarg);
            break;
        case 'h': return cli_print_help(&cli_cmd_remux, stdout);
        default: return cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error(cmd, "missing input file (a gain-map JPEG)");
    if (optind + 1 < argc)
        return cli_usage_error(cmd, "expected one input file, got %d", argc - optind);
    const char *input = argv[optind];
    if (!output)
        return cli_usage_error(cmd, "missing -o OUT.jpg");
    if (cli_same_file(input, output))
        return cli_usage_error(cmd, "output %s would overwrite the input", output);

    gainmap_ctx *ctx = cli_ctx_new();
    gainmap_file *f = NULL;
    uint8_t *out = NULL;
    size_t out_size = 0;
    int rc = EXIT_OK;
    const char *failed = input;
    gainmap_status st = gainmap_file_open(ctx, input, &f);
    if (st == GAINMAP_OK)
        st = gainmap_remux_jpeg(ctx, f, mode, &out, &out_size);
    if (st == GAINMAP_OK) {
        failed = output;
        st = gainmap_write_file(ctx, output, out, out_size, force);
    }
    if (st != GAINMAP_OK)
        rc = cli_fail(failed, ctx, st);
    else if (cli_verbose)
        cli_note("%s: %zu bytes\n", output, out_size);
    gainmap_free(out);
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
    return rc;
}

const cli_command cli_cmd_remux = {
    "remux",
    "rewrite a gain-map JPEG as UltraHDR v1.1 without re-encoding",
    usage,
    run,
};

/* cmd_preview.c - `gainmap preview`: a contact sheet of a gain-map file. */
#include "cli.h"

#include <getopt.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "Usage: gainmap preview FILE -o SHEET.png [OPTIONS]\n"
    "\n"
    "Draw one picture that shows what a gain-map photo holds, viewable on any\n"
    "screen: the SDR base; the gain map in false colour (log2 gain, in stops)\n"
    "with its scale; a histogram of the gain; the photo as displays with 1x,\n"
    "2x, 4x and 8x headroom would show it, all brought back to SDR with the\n"
    "same fixed tone curve (so more headroom looks brighter, nothing clips);\n"
    "and the key metadata as text.  FILE: a gain-map JPEG (UltraHDR, Adobe,\n"
    "ISO 21496-1, Apple), or a HEIC when the library reads it.\n"
    "\n"
    "Options:\n"
    "  -o, --output SHEET      the picture to write: .png (default choice), .tif\n"
    "                          or .ppm; never an input\n"
    "  -f, --force             replace SHEET if it exists\n"
    "  -t, --title TEXT        the heading (default: FILE's name)\n"
    "  -h, --help              this help\n"
    "\n"
    "Examples:\n"
    "  gainmap preview photo.jpg -o photo_sheet.png\n"
    "  gainmap preview converted/photo_uhdr.jpg -o check.png -t \"after convert\"\n"
    "\n"
    "Exit status: 0 written, 1 the file could not be read or has no gain map,\n"
    "2 misuse.\n";

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},
        {"force", no_argument, 0, 'f'},
        {"title", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *cmd = "preview", *output = NULL, *title = NULL;
    int force = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:ft:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'f': force = 1; break;
        case 't': title = optarg; break;
        case 'h': return cli_print_help(&cli_cmd_preview, stdout);
        case ':': return cli_usage_error(cmd, "option %s needs a value", argv[optind - 1]);
        default: return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error(cmd, "expects a FILE to preview");
    if (argc - optind > 1)
        return cli_usage_error(cmd, "expects one FILE, got %d", argc - optind);
    if (!output)
        return cli_usage_error(cmd, "needs --output SHEET.png");
    gainmap_file_format fmt = gainmap_format_from_path(output);
    if (fmt != GAINMAP_FORMAT_PNG && fmt != GAINMAP_FORMAT_TIFF && fmt != GAINMAP_FORMAT_PPM)
        return cli_usage_error(cmd, "option --output expects a name ending in .png, .tif or .ppm, not '%s'", output);
    const char *input = argv[optind];
    if (cli_same_file(input, output)) {
        fprintf(stderr, "gainmap: %s: refusing to overwrite the input file\n", output);
        return EXIT_FAIL;
    }
    if (!force && access(output, F_OK) == 0) {
        fprintf(stderr, "gainmap: %s: already exists (use --force to replace it)\n", output);
        return EXIT_FAIL;
    }
    if (!title) {
        const char *slash = strrchr(input, '/');
        title = slash ? slash + 1 : input;
    }

    gainmap_ctx *ctx = cli_ctx_new();
    gainmap_file *f = NULL;
    gainmap_image sheet;
    memset(&sheet, 0, sizeof sheet);
    int rc = EXIT_OK;
    gainmap_status st = gainmap_file_open(ctx, input, &f);
    if (st == GAINMAP_OK)
        st = gainmap_render_preview(ctx, f, title, &sheet);
    if (st != GAINMAP_OK) {
        rc = cli_fail(input, ctx, st);
    } else if ((st = gainmap_image_write(ctx, output, &sheet, fmt)) != GAINMAP_OK) {
        rc = cli_fail(output, ctx, st);
    } else if (cli_verbose) {
        cli_note("%s -> %s: %ux%u contact sheet\n", input, output, sheet.width, sheet.height);
    }
    gainmap_image_free(&sheet);
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
    return rc;
}

const cli_command cli_cmd_preview = {
    "preview",
    "contact sheet: base, false-colour map, histogram, renderings at 1x-8x, metadata",
    usage,
    run,
};

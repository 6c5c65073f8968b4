/* cmd_extract.c - `gainmap extract`: the byte-exact base and gain-map streams
 * (for HEIF/AVIF: each item as a one-image HEIF). */
#include "cli.h"

#include <getopt.h>
#include <string.h>
#include <strings.h>

static const char usage[] =
    "Usage: gainmap extract FILE [--base B.jpg] [--gainmap G.jpg] [--metadata M.json] [--force]\n"
    "\n"
    "Copy the streams inside a gain-map JPEG out unchanged: the primary (base)\n"
    "JPEG from its SOI to its EOI, and the gain-map JPEG, byte for byte as they\n"
    "are stored.  --metadata writes what `gainmap info --json` prints.  Give at\n"
    "least one output.  Outputs are written atomically; an existing file is\n"
    "replaced only with --force, and an output may never be the input.\n"
    "\n"
    "HEIC/AVIF/HIF input: the base and gain map are image items, not streams,\n"
    "so each is written as a one-image HEIF holding that item (its tiles for a\n"
    "grid) with its properties (colour, rotation, size) and its coded HEVC or\n"
    "AV1 data unchanged; any HEIF reader (heif-convert, Preview) opens it.  Name\n"
    "these outputs .heic/.heif (HEVC) or .avif (AV1); other names are refused.\n"
    "Apple and Samsung gain maps come out as plain (non-auxiliary) images.\n"
    "\n"
    "Options:\n"
    "  -b, --base FILE       write the base image's JPEG stream\n"
    "  -g, --gainmap FILE    write the gain map's JPEG stream\n"
    "  -m, --metadata FILE   write the JSON description (schema gainmap-info/1)\n"
    "  -f, --force           replace existing output files\n"
    "  -h, --help            this help\n"
    "\n"
    "Examples:\n"
    "  gainmap extract photo.jpg --base base.jpg --gainmap map.jpg\n"
    "  gainmap extract photo.jpg -m meta.json\n"
    "  gainmap extract IMG_0001.HEIC --base base.heic --gainmap map.heic -m meta.json\n"
    "  gainmap extract photo.avif -g map.avif\n"
    "\n"
    "Exit status: 0 done, 1 failure (unreadable input, no gain map, write error), 2 misuse.\n";

/* Does the name end in a HEIF extension (.heic .heif .hif .avif, any case)? */
static bool heif_name(const char *path)
{
    static const char *ext[] = {".heic", ".heif", ".hif", ".avif"};
    size_t len = strlen(path);
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t k = strlen(ext[i]);
        if (len > k && !strcasecmp(path + len - k, ext[i]))
            return true;
    }
    return false;
}

static int write_out(gainmap_ctx *ctx, const char *path, const uint8_t *data, size_t size, bool force)
{
    gainmap_status st = gainmap_write_file(ctx, path, data, size, force ? 1 : 0);
    if (st != GAINMAP_OK)
        return cli_fail(path, ctx, st);
    cli_note("wrote %s (%zu bytes)\n", path, size);
    return EXIT_OK;
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"base", required_argument, 0, 'b'},     {"gainmap", required_argument, 0, 'g'},
        {"metadata", required_argument, 0, 'm'}, {"force", no_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
    };
    const char *cmd = "extract", *base = NULL, *map = NULL, *meta = NULL;
    bool force = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "b:g:m:fh", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': base = optarg; break;
        case 'g': map = optarg; break;
        case 'm': meta = optarg; break;
        case 'f': force = true; break;
        case 'h': return cli_print_help(&cli_cmd_extract, stdout);
        case ':':
            return cli_usage_error(cmd, "option %s expects a file name", argv[optind - 1]);
        default:
            if (optopt == 'b' || optopt == 'g' || optopt == 'm')
                return cli_usage_error(cmd, "option %s expects a file name", argv[optind - 1]);
            return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error(cmd, "expects an input FILE");
    if (argc - optind > 1)
        return cli_usage_error(cmd, "expects one input FILE, got %d", argc - optind);
    const char *in = argv[optind];
    if (!base && !map && !meta)
        return cli_usage_error(cmd, "give at least one of --base, --gainmap, --metadata");
    const char *outs[3] = {base, map, meta};
    static const char *names[3] = {"--base", "--gainmap", "--metadata"};
    for (int i = 0; i < 3; i++) {
        if (outs[i] && (cli_same_file(outs[i], in) || !strcmp(outs[i], in)))
            return cli_usage_error(cmd, "option %s names the input file %s; refusing to overwrite it", names[i], in);
        for (int k = 0; k < i; k++)
            if (outs[i] && outs[k] && !strcmp(outs[i], outs[k]))
                return cli_usage_error(cmd, "options %s and %s name the same file", names[k], names[i]);
    }
    gainmap_ctx *ctx = cli_ctx_new();
    gainmap_file *f = NULL;
    gainmap_status st = gainmap_file_open(ctx, in, &f);
    if (st != GAINMAP_OK) {
        int rc = cli_fail(in, ctx, st);
        gainmap_ctx_free(ctx);
        return rc;
    }
    int rc = EXIT_OK;
    const uint8_t *p;
    size_t n;
    if (gainmap_file_info(f)->container == GAINMAP_CONTAINER_HEIF) {
        for (int i = 0; i < 2 && rc == EXIT_OK; i++) {
            if (outs[i] && !heif_name(outs[i])) {
                bool av1 = (i == 0 ? gainmap_file_base_stream(f, &p, &n) : gainmap_file_map_stream(f, &p, &n)) ==
                               GAINMAP_OK &&
                           n >= 12 && !memcmp(p + 8, "avif", 4);
                rc = cli_usage_error(cmd, "option %s: %s is a HEIF file, so its %s is written as a one-image %s; "
                                          "name it .%s",
                                     names[i], in, i == 0 ? "base" : "gain map", av1 ? "AVIF" : "HEIC",
                                     av1 ? "avif" : "heic");
            }
        }
        if (rc != EXIT_OK) {
            gainmap_file_close(f);
            gainmap_ctx_free(ctx);
            return rc;
        }
        if (base && gainmap_file_base_stream(f, &p, &n) != GAINMAP_OK) {
            fprintf(stderr, "gainmap: %s: the base image item cannot be copied out; nothing written\n", in);
            rc = EXIT_FAIL;
        }
    }
    if (rc == EXIT_OK && map && gainmap_file_map_stream(f, &p, &n) != GAINMAP_OK) {
        fprintf(stderr, "gainmap: %s: no gain-map image found; nothing written\n", in);
        rc = EXIT_FAIL;
    }
    if (rc == EXIT_OK && base && gainmap_file_base_stream(f, &p, &n) == GAINMAP_OK)
        rc = write_out(ctx, base, p, n, force);
    if (rc == EXIT_OK && map && gainmap_file_map_stream(f, &p, &n) == GAINMAP_OK)
        rc = write_out(ctx, map, p, n, force);
    if (rc == EXIT_OK && meta) {
        char *j = NULL;
        st = gainmap_file_info_json(ctx, f, &j);
        rc = st == GAINMAP_OK ? write_out(ctx, meta, (const uint8_t *)j, strlen(j), force) : cli_fail(in, ctx, st);
        gainmap_free(j);
    }
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
    return rc;
}

const cli_command cli_cmd_extract = {
    "extract",
    "copy out the base and gain-map streams (JPEG, or one-image HEIF) and metadata JSON",
    usage,
    run,
};

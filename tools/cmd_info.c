/* cmd_info.c - `gainmap info`: what a gain-map file holds. */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <string.h>

static const char usage[] =
    "Usage: gainmap info [--json] FILE...\n"
    "\n"
    "Describe what a gain-map photo holds: its container (JPEG, or HEIF for\n"
    "HEIC/AVIF/HIF), which metadata dialects it carries (hdrgm XMP, GContainer,\n"
    "MPF, ISO 21496-1, Apple, HEIF tmap), the base image and gain-map sizes (for\n"
    "HEIF as displayed, after rotation), where the gain map was found, the\n"
    "effective metadata (ISO 21496-1 wins over XMP and Apple) and any problems\n"
    "found while reading.\n"
    "\n"
    "Options:\n"
    "  -j, --json     print JSON (schema \"gainmap-info/1\"); several files give an array\n"
    "  -h, --help     this help\n"
    "\n"
    "Examples:\n"
    "  gainmap info photo.jpg\n"
    "  gainmap info IMG_0001.HEIC\n"
    "  gainmap info --json photo.jpg | jq .metadata.alternate_hdr_headroom.value\n"
    "\n"
    "Exit status: 0 when every file was read, 1 when one could not be read.\n";

static double fv(gainmap_fraction f) { return f.d ? (double)f.n / f.d : 0.0; }
static double ufv(gainmap_ufraction f) { return f.d ? (double)f.n / f.d : 0.0; }

static void print_channels_s(const char *label, const gainmap_fraction *v, int nc, const char *unit)
{
    printf("  %-15s", label);
    for (int c = 0; c < nc; c++)
        printf("%s%.6g", c ? " / " : "", fv(v[c]));
    printf("%s%s\n", unit, nc == 3 ? " (R / G / B)" : "");
}

static void dialect_list(unsigned d, char *buf, size_t n)
{
    static const struct { unsigned bit; const char *name; } tab[] = {
        {GAINMAP_DIALECT_HDRGM_XMP, "hdrgm XMP"}, {GAINMAP_DIALECT_GCONTAINER, "GContainer"},
        {GAINMAP_DIALECT_MPF, "MPF"},             {GAINMAP_DIALECT_ISO21496, "ISO 21496-1"},
        {GAINMAP_DIALECT_APPLE, "Apple HDRGainMap"}, {GAINMAP_DIALECT_TMAP, "HEIF tmap"},
    };
    buf[0] = 0;
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        if (d & tab[i].bit) {
            if (buf[0])
                strncat(buf, ", ", n - strlen(buf) - 1);
            strncat(buf, tab[i].name, n - strlen(buf) - 1);
        }
    }
    if (!buf[0])
        snprintf(buf, n, "none");
}

static const char *severity_word(gainmap_severity s)
{
    return s == GAINMAP_SEVERITY_ERROR ? "error" : s == GAINMAP_SEVERITY_WARNING ? "warning" : "info";
}

static void print_human(const char *path, const gainmap_file *f)
{
    const gainmap_info *in = gainmap_file_info(f);
    char dl[160];
    dialect_list(in->dialects, dl, sizeof dl);
    static const char *src[] = {"none", "ISO 21496-1", "hdrgm XMP", "Apple HDRGainMap"};
    static const char *loc[] = {"-", "MPF", "GContainer", "scanning after the primary", "HEIF item"};
    printf("%s\n", path);
    printf("  %-15s%s\n", "container", in->container == GAINMAP_CONTAINER_HEIF ? "HEIF" : "JPEG");
    printf("  %-15s%s\n", "gain map", in->has_gainmap ? "yes" : "no");
    printf("  %-15s%s\n", "dialects", dl);
    char range[64];
    /* HEIF grids and multi-extent items have no single byte range */
    if (in->base_size)
        snprintf(range, sizeof range, ", bytes %llu-%llu", (unsigned long long)in->base_offset,
                 (unsigned long long)(in->base_offset + in->base_size - 1));
    else
        range[0] = 0;
    printf("  %-15s%ux%u, %u component%s%s, %s primaries, %s transfer, orientation %d\n", "base image",
           in->base_width, in->base_height, in->base_components, in->base_components == 1 ? "" : "s", range,
           gainmap_primaries_name(in->base_primaries), gainmap_transfer_name(in->base_transfer), in->orientation);
    if (in->map_size || (in->locator == GAINMAP_LOCATOR_HEIF_ITEM && in->map_width)) {
        if (in->map_size)
            snprintf(range, sizeof range, ", bytes %llu-%llu", (unsigned long long)in->map_offset,
                     (unsigned long long)(in->map_offset + in->map_size - 1));
        else
            range[0] = 0;
        printf("  %-15s%ux%u, %u component%s%s, found by %s\n", "gain-map image", in->map_width, in->map_height,
               in->map_components, in->map_components == 1 ? "" : "s", range,
               loc[in->locator <= GAINMAP_LOCATOR_HEIF_ITEM ? in->locator : 0]);
    }
    if (in->meta_source != GAINMAP_META_NONE) {
        const gainmap_metadata *m = &in->meta;
        int nc = m->channel_count == 3 ? 3 : 1;
        printf("  %-15sfrom %s, %d channel%s, maths in the %s colour space\n", "metadata",
               src[in->meta_source <= GAINMAP_META_APPLE ? in->meta_source : 0], nc, nc == 1 ? "" : "s",
               m->use_base_colour_space ? "base" : "alternate");
        if (m->kind == GAINMAP_KIND_APPLE) {
            printf("  %-15s%.6g (%.6g stops); applied as 1 + (H - 1) * g\n", "Apple headroom", m->apple_headroom,
                   log2(m->apple_headroom));
        } else {
            double hb = ufv(m->base_hdr_headroom), ha = ufv(m->alternate_hdr_headroom);
            printf("  %-15sbase %.6g stops (%.4gx), alternate %.6g stops (%.4gx)%s\n", "headroom", hb, exp2(hb), ha,
                   exp2(ha), ha < hb ? " - the base is the HDR rendition" : "");
            print_channels_s("gain min", m->gain_map_min, nc, " stops");
            print_channels_s("gain max", m->gain_map_max, nc, " stops");
            printf("  %-15s", "gamma");
            for (int c = 0; c < nc; c++)
                printf("%s%.6g", c ? " / " : "", ufv(m->gamma[c]));
            printf("\n");
            print_channels_s("base offset", m->base_offset, nc, "");
            print_channels_s("alt. offset", m->alternate_offset, nc, "");
        }
    }
    const gainmap_issue *is;
    size_t n = gainmap_file_issues(f, &is);
    for (size_t i = 0; i < n; i++)
        printf("  %-15s%s: %s [%s]\n", i ? "" : "issues", severity_word(is[i].severity), is[i].message, is[i].code);
    if (!n)
        printf("  %-15snone\n", "issues");
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    bool json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'h': return cli_print_help(&cli_cmd_info, stdout);
        default: return cli_usage_error("info", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("info", "expects at least one FILE");
    int nfiles = argc - optind, rc = EXIT_OK, printed = 0;
    if (json && nfiles > 1)
        printf("[\n");
    for (int i = optind; i < argc; i++) {
        gainmap_ctx *ctx = cli_ctx_new();
        gainmap_file *f = NULL;
        gainmap_status st = gainmap_file_open(ctx, argv[i], &f);
        if (st != GAINMAP_OK) {
            rc = cli_fail(argv[i], ctx, st);
        } else if (json) {
            char *j = NULL;
            st = gainmap_file_info_json(ctx, f, &j);
            if (st != GAINMAP_OK) {
                rc = cli_fail(argv[i], ctx, st);
            } else {
                size_t len = strlen(j);
                while (len && j[len - 1] == '\n')
                    len--;
                printf("%s%.*s", printed++ ? ",\n" : "", (int)len, j);
                if (nfiles == 1)
                    printf("\n");
            }
            gainmap_free(j);
        } else {
            if (i > optind)
                printf("\n");
            print_human(argv[i], f);
        }
        gainmap_file_close(f);
        gainmap_ctx_free(ctx);
    }
    if (json && nfiles > 1)
        printf("%s]\n", printed ? "\n" : "");
    return rc;
}

const cli_command cli_cmd_info = {
    "info",
    "what a gain-map file holds (dialects, sizes, metadata, problems)",
    usage,
    run,
};

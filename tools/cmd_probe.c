/* cmd_probe.c - `gainmap probe`: what an HDR image file holds (format, size,
 * encoding, tagging) and how bright it is. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: gainmap probe [OPTIONS] FILE\n"
    "\n"
    "Describe an HDR or SDR image file (PNG, TIFF, OpenEXR, Radiance .hdr, PFM,\n"
    "PPM): format, size, channels, bit depth, transfer and primaries (from cICP,\n"
    "else the ICC profile's contents, else the format's convention), ICC and EXIF,\n"
    "orientation, and the content's light level: peak and 99.9th-percentile\n"
    "luminance in cd/m2 for PQ, HLG (1000 cd/m2 display) and linear images\n"
    "(linear 1.0 = SDR white = 203 cd/m2).\n"
    "\n"
    "Options:\n"
    "  -j, --json               print one JSON object (schema \"gainmap-probe/1\")\n"
    "  -t, --transfer NAME      read the pixels as this transfer instead:\n"
    "                           pq, hlg, linear, srgb, bt709, gamma2.2, gamma2.4\n"
    "  -p, --primaries NAME     read the pixels as these primaries: srgb, p3, bt2020\n"
    "  -h, --help               this help\n"
    "\n"
    "Examples:\n"
    "  gainmap probe samples/sample_p3_pq.tif\n"
    "  gainmap probe --json master.exr\n"
    "  gainmap probe --transfer hlg untagged.png\n"
    "\n"
    "Exit status: 0 ok, 1 unreadable file, 2 misuse.\n";

static const char *format_label(gainmap_file_format f)
{
    switch (f) {
    case GAINMAP_FORMAT_PNG: return "PNG";
    case GAINMAP_FORMAT_TIFF: return "TIFF";
    case GAINMAP_FORMAT_EXR: return "OpenEXR";
    case GAINMAP_FORMAT_RGBE: return "Radiance HDR";
    case GAINMAP_FORMAT_PFM: return "PFM";
    case GAINMAP_FORMAT_PPM: return "PPM";
    case GAINMAP_FORMAT_JPEG: return "JPEG";
    case GAINMAP_FORMAT_HEIF: return "HEIF";
    case GAINMAP_FORMAT_AUTO: break;
    }
    return "unknown";
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"transfer", required_argument, NULL, 't'},
        {"primaries", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    gainmap_transfer force_tf = GAINMAP_TRANSFER_UNKNOWN;
    gainmap_primaries force_p = GAINMAP_PRIMARIES_UNKNOWN;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":jt:p:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'j': json = true; break;
        case 't':
            force_tf = gainmap_transfer_from_name(optarg);
            if (force_tf == GAINMAP_TRANSFER_UNKNOWN)
                return cli_usage_error("probe",
                                       "option --transfer expects pq, hlg, linear, srgb, bt709, gamma2.2 or "
                                       "gamma2.4, not '%s'",
                                       optarg);
            break;
        case 'p':
            force_p = gainmap_primaries_from_name(optarg);
            if (force_p == GAINMAP_PRIMARIES_UNKNOWN)
                return cli_usage_error("probe", "option --primaries expects srgb, p3 or bt2020, not '%s'", optarg);
            break;
        case 'h': return cli_print_help(&cli_cmd_probe, stdout);
        case ':': return cli_usage_error("probe", "option %s needs a value", argv[optind - 1]);
        default: return cli_usage_error("probe", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("probe", optind >= argc ? "missing FILE" : "expects exactly one FILE");
    const char *path = argv[optind];

    gainmap_ctx *ctx = cli_ctx_new();
    unsigned char *data = NULL;
    size_t size = 0;
    gainmap_image img;
    gainmap_status st = gainmap_read_file(ctx, path, &data, &size);
    if (st == GAINMAP_OK)
        st = gainmap_image_read_memory(ctx, data, size, &img);
    if (st != GAINMAP_OK) {
        int rc = cli_fail(path, ctx, st);
        gainmap_free(data);
        gainmap_ctx_free(ctx);
        return rc;
    }
    gainmap_file_format fmt = gainmap_detect_format(data, size);
    gainmap_free(data);
    if (force_tf != GAINMAP_TRANSFER_UNKNOWN)
        img.transfer = force_tf;
    if (force_p != GAINMAP_PRIMARIES_UNKNOWN)
        img.primaries = force_p;

    const char *icc_id = NULL;
    char icc_buf[64];
    if (img.icc) {
        gainmap_primaries ip;
        gainmap_transfer it;
        if (gainmap_icc_identify(ctx, img.icc, img.icc_size, &ip, &it) == GAINMAP_OK) {
            snprintf(icc_buf, sizeof icc_buf, "%s %s", gainmap_primaries_name(ip), gainmap_transfer_name(it));
            icc_id = icc_buf;
        }
        gainmap_clear_error(ctx);
    }
    /* Light levels are shown for HDR encodings only. */
    gainmap_light_stats light;
    memset(&light, 0, sizeof light);
    bool light_applies = img.transfer == GAINMAP_TRANSFER_PQ || img.transfer == GAINMAP_TRANSFER_HLG ||
                         img.transfer == GAINMAP_TRANSFER_LINEAR;
    if (light_applies && (st = gainmap_image_light_stats(ctx, &img, &light)) != GAINMAP_OK) {
        int rc = cli_fail(path, ctx, st);
        gainmap_image_free(&img);
        gainmap_ctx_free(ctx);
        return rc;
    }
    bool have_light = light.pixels > 0;
    static const char *const layout[5] = {"", "grey", "", "RGB", "RGBA"};
    const char *type = img.type == GAINMAP_PIXEL_F32 ? "float" : "integer";

    if (json) {
        printf("{\"schema\":\"gainmap-probe/1\",\"file\":");
        json_string(path);
        printf(",\"format\":\"%s\",\"width\":%u,\"height\":%u,\"channels\":%u,\"layout\":\"%s\","
               "\"bit_depth\":%u,\"sample_type\":\"%s\",\"transfer\":\"%s\",\"primaries\":\"%s\",",
               format_label(fmt), img.width, img.height, img.channels, layout[img.channels], img.bit_depth, type,
               gainmap_transfer_name(img.transfer), gainmap_primaries_name(img.primaries));
        if (img.has_cicp)
            printf("\"cicp\":[%u,%u,%u,%u],", img.cicp[0], img.cicp[1], img.cicp[2], img.cicp[3]);
        else
            printf("\"cicp\":null,");
        printf("\"icc_bytes\":%zu,\"icc_identified\":", img.icc_size);
        if (icc_id)
            json_string(icc_id);
        else
            printf("null");
        printf(",\"exif_bytes\":%zu,\"orientation\":%d,", img.exif_size, img.orientation);
        if (have_light)
            printf("\"peak_nits\":%.2f,\"p999_nits\":%.2f,\"mean_nits\":%.3f}\n", light.peak_nits, light.p999_nits,
                   light.mean_nits);
        else
            printf("\"peak_nits\":null,\"p999_nits\":null,\"mean_nits\":null}\n");
    } else {
        printf("file:         %s\n", path);
        printf("format:       %s\n", format_label(fmt));
        printf("size:         %ux%u\n", img.width, img.height);
        printf("channels:     %u (%s)\n", img.channels, layout[img.channels]);
        printf("bit depth:    %u (%s samples)\n", img.bit_depth, type);
        printf("transfer:     %s%s\n", gainmap_transfer_name(img.transfer), force_tf ? " (from --transfer)" : "");
        printf("primaries:    %s%s\n", gainmap_primaries_name(img.primaries), force_p ? " (from --primaries)" : "");
        if (img.has_cicp)
            printf("cicp:         %u/%u/%u/%u\n", img.cicp[0], img.cicp[1], img.cicp[2], img.cicp[3]);
        else
            printf("cicp:         none\n");
        if (img.icc)
            printf("icc:          %zu bytes, %s%s\n", img.icc_size, icc_id ? "identified as " : "",
                   icc_id ? icc_id : "not identified");
        else
            printf("icc:          none\n");
        if (img.exif)
            printf("exif:         %zu bytes\n", img.exif_size);
        else
            printf("exif:         none\n");
        printf("orientation:  %d\n", img.orientation);
        if (have_light) {
            printf("peak:         %.1f cd/m2\n", light.peak_nits);
            printf("99.9%%:        %.1f cd/m2\n", light.p999_nits);
            printf("mean:         %.2f cd/m2\n", light.mean_nits);
        } else if (light_applies) {
            printf("light level:  n/a (no pixel has finite samples)\n");
        } else {
            printf("light level:  n/a (%s is an SDR encoding)\n", gainmap_transfer_name(img.transfer));
        }
    }
    gainmap_image_free(&img);
    gainmap_ctx_free(ctx);
    return EXIT_OK;
}

const cli_command cli_cmd_probe = {
    "probe",
    "describe an HDR image file: format, encoding, tagging, light level",
    usage,
    run,
};

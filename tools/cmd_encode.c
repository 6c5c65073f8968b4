/* cmd_encode.c - `gainmap encode`: HDR master -> UltraHDR v1.1 JPEG or HEIC
 * (Apple + ISO 21496-1 gain map, Apple only, ISO only, or 10-bit PQ). */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char usage[] =
    "Usage: gainmap encode IN -o OUT.jpg|OUT.heic [options]\n"
    "\n"
    "Turn an HDR master into an UltraHDR v1.1 JPEG or a HEIC: an SDR base that\n"
    "every viewer shows, plus a gain map that HDR screens (Android, Chrome, Apple)\n"
    "use to bring the highlights back.  The base is tone-mapped from the master\n"
    "(or given with --sdr), compressed, decoded again, and the gain map is\n"
    "computed against that decoded base, so the map also corrects the base's\n"
    "compression error.  --as heic-pq instead writes the master itself as a\n"
    "10-bit PQ HEIC (no gain map) for HDR-only workflows.\n"
    "IN: 16-bit PQ/HLG PNG or TIFF, OpenEXR, Radiance .hdr, PFM, or a PQ/HLG\n"
    "HEIC/AVIF (10/12-bit, e.g. a camera's or libavif's HDR output).\n"
    "\n"
    "Output:\n"
    "  -o, --output FILE         the file to write (required; never an input)\n"
    "  -f, --force               replace OUT if it exists\n"
    "      --as FORMAT           what to write (default: from OUT's extension,\n"
    "                            .heic/.heif/.hif -> heic, anything else -> jpeg):\n"
    "                            jpeg: UltraHDR v1.1 JPEG\n"
    "                            heic: Display P3 HEVC base + one gain map read\n"
    "                              both as Apple's auxiliary map (XMP + maker\n"
    "                              notes) and as an ISO 21496-1 tmap item, like\n"
    "                              iPhones since iOS 18\n"
    "                            heic-apple: Apple's gain map only (iOS 16/17 style)\n"
    "                            heic-iso: ISO 21496-1 tmap only (map channels\n"
    "                              from --gainmap-channels)\n"
    "                            heic-pq: 10-bit PQ Display P3 HEVC of the master\n"
    "                              with nclx, MaxCLL and an HDR ICC profile\n"
    "      --metadata MODE       JPEG: both (XMP + ISO 21496-1, UltraHDR v1.1), xmp\n"
    "                            or iso (default both)\n"
    "HEIC:\n"
    "      --icc NAME            heic-pq's ICC profile: HDR_P3_D65_ST2084 or P3_PQ\n"
    "                            (default HDR_P3_D65_ST2084)\n"
    "      --speed S             x265 effort: fast (preset ultrafast), medium (fast:\n"
    "                            ~6% smaller, ~3x the time) or slow (slow, libheif's\n"
    "                            own default) (default fast)\n"
    "      --grid MODE           auto, always or never: write large pictures as a\n"
    "                            grid of HEVC tiles, as Apple does; auto grids\n"
    "                            pictures beyond HEVC level 5.1 (more than 8.9 MP\n"
    "                            or a side above 8192) (default auto)\n"
    "      --tile-size N         grid tile side, a multiple of 64 (default 512)\n"
    "      --no-exif             do not carry the master's EXIF (the Apple maker\n"
    "                            note is still written); by default it is carried\n"
    "                            with orientation 1 (the pixels are turned)\n"
    "                            -q and --gainmap-quality are libheif's HEVC quality;\n"
    "                            --subsampling 422 is JPEG only; Apple maps (heic,\n"
    "                            heic-apple) are one-channel with Apple's own curve,\n"
    "                            so --gamma, --min-boost, --max-boost, --dither and\n"
    "                            --gainmap-channels 3 do not apply to them\n"
    "      --preset NAME         default or small; options after it override it\n"
    "                            default: q 90, map q 91, 4:4:4, 3-channel map at\n"
    "                              full size, gamma and HDR offset per picture,\n"
    "                              flat map tables, sequential (~2.74 bpp,\n"
    "                              ~48.9 dB PQ on the bundled sample)\n"
    "                            small: q 75, map q 72, base 4:2:0, progressive\n"
    "                              (~1.57 bpp, ~41.8 dB)\n"
    "Base image:\n"
    "  -q, --quality Q           base JPEG/HEVC quality 1..100 (default 90)\n"
    "      --subsampling S       base chroma subsampling 444, 422 (JPEG only) or 420\n"
    "                            (default 444)\n"
    "      --sdr FILE            use this SDR rendition as the base instead of tone\n"
    "                            mapping; a JPEG is kept byte for byte (JPEG output\n"
    "                            only; give HEIC a PNG or TIFF)\n"
    "      --tonemap NAME        default (= bt2390), bt2390, bt2446a, reinhard,\n"
    "                            filmic or clip (default default)\n"
    "      --hdr-white NITS      HDR reference white for tone mapping (default 203)\n"
    "      --peak NITS           master peak for tone mapping (default: the\n"
    "                            master's MaxCLL, else its 99.9th percentile)\n"
    "      --base-primaries P    auto, p3, srgb or bt2020; auto = the master's\n"
    "                            (srgb or p3); for a BT.2020 master p3, or bt2020\n"
    "                            when more than 1 % of its pixels lie outside P3\n"
    "                            (default auto)\n"
    "      --lut FILE            tone-map with this .cube LUT (1D or 3D) instead of\n"
    "                            the built-in curve; the result is still gamut-mapped\n"
    "                            into the base primaries\n"
    "      --lut-input TF        how the LUT expects its input: pq, hlg, linear\n"
    "                            (1.0 = 203 cd/m2) or srgb (default pq)\n"
    "      --lut-output TF       how the LUT's output is encoded: gamma2.2 or srgb\n"
    "                            (default gamma2.2)\n"
    "      --lut-primaries P[,Q] primaries of the LUT's input and output: p3,\n"
    "                            bt2020 or srgb; one name sets both (default: the\n"
    "                            master's primaries in, the base primaries out)\n"
    "Gain map:\n"
    "      --gainmap-quality Q   gain-map JPEG/HEVC quality 1..100 (default 91)\n"
    "      --gainmap-channels N  1 (luminance) or 3 (per colour channel) (default 3)\n"
    "      --gainmap-scale N     1, 2 or 4: map is 1/N of the base per side (default 1)\n"
    "      --gamma G|auto        map encoding gamma; auto picks 1, 1.25, 1.5, 2 or\n"
    "                            2.5 with the HDR offset, by the least modelled\n"
    "                            PQ error (above 1: finer steps for high gains)\n"
    "                            (default auto)\n"
    "      --offset K            offset added to SDR and HDR before the ratio\n"
    "                            (sets both; default 1/256 for SDR and, for HDR,\n"
    "                            1/1024 to 1/16384 chosen per picture)\n"
    "      --offset-sdr K        offset added to the SDR base only\n"
    "      --offset-hdr K|auto   offset added to the HDR rendition only; auto\n"
    "                            picks the power of two with the least modelled\n"
    "                            PQ error (small: precise deep shadows; large:\n"
    "                            narrower gain range)\n"
    "      --min-boost S         lowest gain in stops (log2; default from content)\n"
    "      --max-boost S         highest gain in stops (log2; default from content)\n"
    "      --target-headroom S   display headroom in stops at which the map applies\n"
    "                            fully (default: the content's max boost)\n"
    "      --dither MODE         ordered dithering of the map: auto, on or off\n"
    "                            (default auto: on when a map step exceeds 1/32 stop)\n"
    "      --gainmap-tables T    map JPEG quantisation: flat (every coefficient gets\n"
    "                            the step 0.75 x (100 - Q) map codes, the DC at most\n"
    "                            libjpeg's; nobody looks at the map, so its error\n"
    "                            counts everywhere alike) or standard (libjpeg's\n"
    "                            perceptual tables) (default flat; JPEG only)\n"
    "      --progressive         write progressive JPEGs: ~3% smaller, ~4x slower\n"
    "                            to decode (default sequential; --preset small\n"
    "                            turns it on; JPEG only)\n"
    "      --sequential          write sequential (baseline) JPEGs (the default)\n"
    "Input tagging overrides (when the master is untagged or mistagged):\n"
    "      --transfer T          pq, hlg or linear\n"
    "      --primaries P         p3, bt2020 or srgb\n"
    "\n"
    "Examples:\n"
    "  gainmap encode master.tif -o photo.jpg\n"
    "  gainmap encode master.exr -o photo.jpg --preset small\n"
    "  gainmap encode master.tif -o photo.jpg -q 85 --gainmap-scale 2\n"
    "  gainmap encode master.tif --sdr graded.jpg -o photo.jpg\n"
    "  gainmap encode master.tif --lut grade.cube --lut-input pq -o photo.jpg\n"
    "  gainmap encode master.png --metadata iso -o photo_iso.jpg\n"
    "  gainmap encode master.tif -o photo.heic                  Apple + ISO HEIC\n"
    "  gainmap encode master.tif -o photo.heic --as heic-apple --speed slow\n"
    "  gainmap encode master.tif -o hdr.heic --as heic-pq --icc P3_PQ\n"
    "  gainmap encode master.tif -o hdr.heic --as heic-pq --subsampling 420\n";


static bool parse_metadata_mode(const char *s, gainmap_metadata_mode *m)
{
    if (strcmp(s, "both") == 0)
        *m = GAINMAP_METADATA_BOTH;
    else if (strcmp(s, "xmp") == 0)
        *m = GAINMAP_METADATA_XMP;
    else if (strcmp(s, "iso") == 0)
        *m = GAINMAP_METADATA_ISO;
    else
        return false;
    return true;
}

/* --verbose: what the encoder chose for this picture (base primaries, the
 * map's range and offsets), read back from the file it wrote. */
static void note_choices(gainmap_ctx *ctx, const char *output, const uint8_t *data, size_t size)
{
    gainmap_file *f = NULL;
    if (gainmap_file_open_memory(ctx, data, size, &f) != GAINMAP_OK)
        return;
    const gainmap_info *in = gainmap_file_info(f);
    gainmap_params p;
    if (in->has_gainmap && in->meta.kind == GAINMAP_KIND_ISO && gainmap_metadata_to_params(&in->meta, &p) == GAINMAP_OK)
        cli_note("%s: base %s; %d-channel map %ux%u, gain %.3f..%.3f stops, gamma %g, offsets %g (SDR) %g (HDR), "
                 "headroom %.3f stops\n",
                 output, gainmap_primaries_name(in->base_primaries), p.channel_count, in->map_width, in->map_height,
                 p.gain_map_min[0], p.gain_map_max[0], p.gamma[0], p.base_offset[0], p.alternate_offset[0],
                 p.alternate_hdr_headroom);
    gainmap_file_close(f);
}

static int run(int argc, char **argv)
{
    enum {
        O_GMQ = 256, O_SUB, O_CH, O_SCALE, O_GAMMA, O_OFFSET, O_OFFS, O_OFFH, O_MINB, O_MAXB, O_TARGET, O_META, O_SDR, O_TM,
        O_WHITE, O_PEAK, O_BASEP, O_TF, O_PRIM, O_DITHER, O_PRESET, O_LUT, O_LUTIN, O_LUTOUT, O_LUTPRIM, O_HELP,
        O_AS, O_ICC, O_SPEED, O_GRID, O_TILE, O_NOEXIF, O_TABLES, O_SEQ, O_PROG
    };
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},     {"quality", required_argument, 0, 'q'},
        {"gainmap-quality", required_argument, 0, O_GMQ}, {"subsampling", required_argument, 0, O_SUB},
        {"gainmap-channels", required_argument, 0, O_CH}, {"gainmap-scale", required_argument, 0, O_SCALE},
        {"gamma", required_argument, 0, O_GAMMA},   {"offset", required_argument, 0, O_OFFSET},
        {"offset-sdr", required_argument, 0, O_OFFS},   {"offset-hdr", required_argument, 0, O_OFFH},
        {"min-boost", required_argument, 0, O_MINB}, {"max-boost", required_argument, 0, O_MAXB},
        {"target-headroom", required_argument, 0, O_TARGET}, {"metadata", required_argument, 0, O_META},
        {"sdr", required_argument, 0, O_SDR},       {"tonemap", required_argument, 0, O_TM},
        {"hdr-white", required_argument, 0, O_WHITE}, {"peak", required_argument, 0, O_PEAK},
        {"base-primaries", required_argument, 0, O_BASEP}, {"transfer", required_argument, 0, O_TF},
        {"primaries", required_argument, 0, O_PRIM}, {"dither", required_argument, 0, O_DITHER},
        {"preset", required_argument, 0, O_PRESET}, {"lut", required_argument, 0, O_LUT},
        {"lut-input", required_argument, 0, O_LUTIN}, {"lut-output", required_argument, 0, O_LUTOUT},
        {"lut-primaries", required_argument, 0, O_LUTPRIM},
        {"as", required_argument, 0, O_AS},         {"icc", required_argument, 0, O_ICC},
        {"speed", required_argument, 0, O_SPEED},   {"grid", required_argument, 0, O_GRID},
        {"tile-size", required_argument, 0, O_TILE}, {"no-exif", no_argument, 0, O_NOEXIF},
        {"gainmap-tables", required_argument, 0, O_TABLES}, {"sequential", no_argument, 0, O_SEQ},
        {"progressive", no_argument, 0, O_PROG},
        {"force", no_argument, 0, 'f'},             {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *cmd = "encode", *output = NULL, *sdr_path = NULL, *lut_path = NULL;
    gainmap_encode_options o;
    gainmap_encode_options_init(&o);
    gainmap_transfer tf_override = GAINMAP_TRANSFER_UNKNOWN;
    gainmap_primaries prim_override = GAINMAP_PRIMARIES_UNKNOWN;
    gainmap_heic_options ho;
    gainmap_heic_options_init(&ho);
    const char *as = NULL, *icc_name = NULL;
    /* options given explicitly, for refusing those a format cannot use */
    bool set_meta = false, set_gamma = false, set_minb = false, set_maxb = false, set_dither = false;
    bool set_heic = false, set_channels3 = false;
    const char *heic_opt = NULL, *jpeg_opt = NULL;
    long lv;
    int force = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:q:fh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'f': force = 1; break;
        case 'q':
            if (!cli_parse_int(cmd, "--quality", optarg, 1, 100, &lv))
                return EXIT_USAGE;
            o.quality = (int)lv;
            break;
        case O_GMQ:
            if (!cli_parse_int(cmd, "--gainmap-quality", optarg, 1, 100, &lv))
                return EXIT_USAGE;
            o.gainmap_quality = (int)lv;
            break;
        case O_SUB:
            if (!cli_parse_int(cmd, "--subsampling", optarg, 420, 444, &lv) || (lv != 420 && lv != 422 && lv != 444))
                return cli_usage_error(cmd, "option --subsampling expects 444, 422 or 420, not '%s'", optarg);
            o.subsampling = (int)lv;
            break;
        case O_CH:
            if (strcmp(optarg, "1") && strcmp(optarg, "3"))
                return cli_usage_error(cmd, "option --gainmap-channels expects 1 or 3, not '%s'", optarg);
            o.gainmap_channels = atoi(optarg);
            set_channels3 = o.gainmap_channels == 3;
            break;
        case O_SCALE:
            if (strcmp(optarg, "1") && strcmp(optarg, "2") && strcmp(optarg, "4"))
                return cli_usage_error(cmd, "option --gainmap-scale expects 1, 2 or 4, not '%s'", optarg);
            o.gainmap_scale = atoi(optarg);
            break;
        case O_GAMMA:
            set_gamma = true;
            if (!strcmp(optarg, "auto"))
                o.gamma = NAN;
            else if (!cli_parse_double(cmd, "--gamma", optarg, 0.01, 16, &o.gamma))
                return EXIT_USAGE;
            break;
        case O_OFFSET:
            if (!cli_parse_double(cmd, "--offset", optarg, 0, 1, &o.offset))
                return EXIT_USAGE;
            o.offset_hdr = o.offset;
            break;
        case O_OFFS:
            if (!cli_parse_double(cmd, "--offset-sdr", optarg, 0, 1, &o.offset))
                return EXIT_USAGE;
            break;
        case O_OFFH:
            if (!strcmp(optarg, "auto"))
                o.offset_hdr = NAN;
            else if (!cli_parse_double(cmd, "--offset-hdr", optarg, 0, 1, &o.offset_hdr))
                return EXIT_USAGE;
            break;
        case O_MINB:
            set_minb = true;
            if (!cli_parse_double(cmd, "--min-boost", optarg, -16, 16, &o.min_boost))
                return EXIT_USAGE;
            break;
        case O_MAXB:
            set_maxb = true;
            if (!cli_parse_double(cmd, "--max-boost", optarg, -16, 16, &o.max_boost))
                return EXIT_USAGE;
            break;
        case O_TARGET:
            if (!cli_parse_double(cmd, "--target-headroom", optarg, 0.01, 16, &o.target_headroom))
                return EXIT_USAGE;
            break;
        case O_META:
            set_meta = true;
            if (!parse_metadata_mode(optarg, &o.metadata))
                return cli_usage_error(cmd, "option --metadata expects both, xmp or iso, not '%s'", optarg);
            break;
        case O_SDR: sdr_path = optarg; break;
        case O_TM:
            o.tonemap.method = gainmap_tonemapper_from_name(optarg);
            if (o.tonemap.method == GAINMAP_TONEMAP_DEFAULT && strcmp(optarg, "default") != 0)
                return cli_usage_error(cmd,
                                       "option --tonemap expects default, bt2390, bt2446a, reinhard, filmic or clip, "
                                       "not '%s'",
                                       optarg);
            break;
        case O_WHITE:
            if (!cli_parse_double(cmd, "--hdr-white", optarg, 1, 10000, &o.tonemap.hdr_white_nits))
                return EXIT_USAGE;
            break;
        case O_PEAK:
            if (!cli_parse_double(cmd, "--peak", optarg, 1, 10000, &o.tonemap.peak_nits))
                return EXIT_USAGE;
            break;
        case O_BASEP:
            o.tonemap.base_primaries = strcmp(optarg, "auto") ? gainmap_primaries_from_name(optarg) : GAINMAP_PRIMARIES_UNKNOWN;
            if (strcmp(optarg, "auto") && o.tonemap.base_primaries == GAINMAP_PRIMARIES_UNKNOWN)
                return cli_usage_error(cmd, "option --base-primaries expects auto, p3, srgb or bt2020, not '%s'", optarg);
            break;
        case O_TF:
            tf_override = gainmap_transfer_from_name(optarg);
            if (tf_override != GAINMAP_TRANSFER_PQ && tf_override != GAINMAP_TRANSFER_HLG &&
                tf_override != GAINMAP_TRANSFER_LINEAR)
                return cli_usage_error(cmd, "option --transfer expects pq, hlg or linear, not '%s'", optarg);
            break;
        case O_PRIM:
            prim_override = gainmap_primaries_from_name(optarg);
            if (prim_override == GAINMAP_PRIMARIES_UNKNOWN)
                return cli_usage_error(cmd, "option --primaries expects p3, bt2020 or srgb, not '%s'", optarg);
            break;
        case O_DITHER:
            set_dither = true;
            if (strcmp(optarg, "auto") == 0)
                o.dither = -1;
            else if (strcmp(optarg, "on") == 0)
                o.dither = 1;
            else if (strcmp(optarg, "off") == 0)
                o.dither = 0;
            else
                return cli_usage_error(cmd, "option --dither expects auto, on or off, not '%s'", optarg);
            break;
        case O_TABLES:
            jpeg_opt = "--gainmap-tables";
            if (strcmp(optarg, "flat") == 0)
                o.gainmap_tables = 0;
            else if (strcmp(optarg, "standard") == 0)
                o.gainmap_tables = 1;
            else
                return cli_usage_error(cmd, "option --gainmap-tables expects flat or standard, not '%s'", optarg);
            break;
        case O_SEQ:
            jpeg_opt = "--sequential";
            o.progressive = 0;
            break;
        case O_PROG:
            jpeg_opt = "--progressive";
            o.progressive = 1;
            break;
        case O_PRESET:
            if (gainmap_encode_options_preset(&o, optarg) != GAINMAP_OK)
                return cli_usage_error(cmd, "option --preset expects default or small, not '%s'", optarg);
            break;
        case O_LUT: lut_path = optarg; break;
        case O_LUTIN:
            o.tonemap.lut_input = gainmap_transfer_from_name(optarg);
            if (o.tonemap.lut_input != GAINMAP_TRANSFER_PQ && o.tonemap.lut_input != GAINMAP_TRANSFER_HLG &&
                o.tonemap.lut_input != GAINMAP_TRANSFER_LINEAR && o.tonemap.lut_input != GAINMAP_TRANSFER_SRGB)
                return cli_usage_error(cmd, "option --lut-input expects pq, hlg, linear or srgb, not '%s'", optarg);
            break;
        case O_LUTOUT:
            if (strcmp(optarg, "gamma2.2") == 0)
                o.tonemap.lut_output = GAINMAP_TRANSFER_GAMMA22;
            else if (strcmp(optarg, "srgb") == 0)
                o.tonemap.lut_output = GAINMAP_TRANSFER_SRGB;
            else
                return cli_usage_error(cmd, "option --lut-output expects gamma2.2 or srgb, not '%s'", optarg);
            break;
        case O_LUTPRIM: {
            char in[32], out[32];
            const char *comma = strchr(optarg, ',');
            size_t n = comma ? (size_t)(comma - optarg) : strlen(optarg);
            if (n >= sizeof in || (comma && strlen(comma + 1) >= sizeof out))
                return cli_usage_error(cmd, "option --lut-primaries expects P or P,Q (p3, bt2020, srgb), not '%s'",
                                       optarg);
            memcpy(in, optarg, n);
            in[n] = 0;
            snprintf(out, sizeof out, "%s", comma ? comma + 1 : in);
            o.tonemap.lut_input_primaries = gainmap_primaries_from_name(in);
            o.tonemap.lut_output_primaries = gainmap_primaries_from_name(out);
            if (o.tonemap.lut_input_primaries == GAINMAP_PRIMARIES_UNKNOWN ||
                o.tonemap.lut_output_primaries == GAINMAP_PRIMARIES_UNKNOWN)
                return cli_usage_error(cmd, "option --lut-primaries expects P or P,Q (p3, bt2020, srgb), not '%s'",
                                       optarg);
            break;
        }
        case O_AS:
            if (strcmp(optarg, "jpeg") && strcmp(optarg, "heic") && strcmp(optarg, "heic-apple") &&
                strcmp(optarg, "heic-iso") && strcmp(optarg, "heic-pq"))
                return cli_usage_error(cmd, "option --as expects jpeg, heic, heic-apple, heic-iso or heic-pq, not '%s'",
                                       optarg);
            as = optarg;
            break;
        case O_ICC:
            if (strcmp(optarg, "HDR_P3_D65_ST2084") && strcmp(optarg, "P3_PQ"))
                return cli_usage_error(cmd, "option --icc expects HDR_P3_D65_ST2084 or P3_PQ, not '%s'", optarg);
            icc_name = optarg;
            break;
        case O_SPEED:
            set_heic = true, heic_opt = "--speed";
            if (strcmp(optarg, "fast") == 0)
                ho.speed = GAINMAP_HEIC_SPEED_FAST;
            else if (strcmp(optarg, "medium") == 0)
                ho.speed = GAINMAP_HEIC_SPEED_MEDIUM;
            else if (strcmp(optarg, "slow") == 0)
                ho.speed = GAINMAP_HEIC_SPEED_SLOW;
            else
                return cli_usage_error(cmd, "option --speed expects fast, medium or slow, not '%s'", optarg);
            break;
        case O_GRID:
            set_heic = true, heic_opt = "--grid";
            if (strcmp(optarg, "auto") == 0)
                ho.grid = -1;
            else if (strcmp(optarg, "always") == 0)
                ho.grid = 1;
            else if (strcmp(optarg, "never") == 0)
                ho.grid = 0;
            else
                return cli_usage_error(cmd, "option --grid expects auto, always or never, not '%s'", optarg);
            break;
        case O_TILE:
            set_heic = true, heic_opt = "--tile-size";
            if (!cli_parse_int(cmd, "--tile-size", optarg, 64, 4096, &lv) || lv % 64)
                return cli_usage_error(cmd, "option --tile-size expects a multiple of 64 from 64 to 4096, not '%s'",
                                       optarg);
            ho.tile_size = (uint32_t)lv;
            break;
        case O_NOEXIF:
            set_heic = true, heic_opt = "--no-exif";
            ho.keep_exif = 0;
            break;
        case 'h': return cli_print_help(&cli_cmd_encode, stdout);
        default: return cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error(cmd, "missing input file (the HDR master)");
    if (optind + 1 < argc)
        return cli_usage_error(cmd, "expected one input file, got %d", argc - optind);
    const char *input = argv[optind];
    if (!output)
        return cli_usage_error(cmd, "missing -o OUT.jpg or -o OUT.heic");
    if (cli_same_file(input, output) || (sdr_path && cli_same_file(sdr_path, output)))
        return cli_usage_error(cmd, "output %s would overwrite an input", output);
    if (isfinite(o.min_boost) && isfinite(o.max_boost) && o.max_boost <= o.min_boost)
        return cli_usage_error(cmd, "--max-boost (%g) must be above --min-boost (%g)", o.max_boost, o.min_boost);

    if (lut_path && sdr_path)
        return cli_usage_error(cmd, "--lut and --sdr both give the base; use one");

    /* the output format: --as, else the extension */
    int variant = -1;   /* -1 JPEG, else a gainmap_heic_variant */
    if (!as) {
        const char *dot = strrchr(output, '.');
        as = dot && (!strcasecmp(dot, ".heic") || !strcasecmp(dot, ".heif") || !strcasecmp(dot, ".hif")) ? "heic"
                                                                                                         : "jpeg";
    }
    if (strcmp(as, "jpeg") != 0)
        variant = strcmp(as, "heic-pq") == 0
                      ? (icc_name && !strcmp(icc_name, "P3_PQ") ? GAINMAP_HEIC_PQ_P3_PQ
                                                                : GAINMAP_HEIC_PQ_HDR_P3_D65_ST2084)
                      : gainmap_heic_variant_from_name(as);
    const bool heic_pq = variant == GAINMAP_HEIC_PQ_HDR_P3_D65_ST2084 || variant == GAINMAP_HEIC_PQ_P3_PQ;
    const bool heic_apple = variant == GAINMAP_HEIC_BOTH || variant == GAINMAP_HEIC_APPLE;
    if (icc_name && !heic_pq)
        return cli_usage_error(cmd, "--icc chooses heic-pq's profile; use it with --as heic-pq");
    if (variant < 0 && set_heic)
        return cli_usage_error(cmd, "%s applies to HEIC output; %s is written as %s", heic_opt, output,
                               "an UltraHDR JPEG (use -o OUT.heic or --as heic)");
    if (variant >= 0) {
        if (set_meta)
            return cli_usage_error(cmd, "--metadata applies to JPEG output; for HEIC choose --as heic, heic-apple "
                                        "or heic-iso");
        if (jpeg_opt)
            return cli_usage_error(cmd, "%s applies to JPEG output, not HEIC", jpeg_opt);
        if (o.subsampling == 422)
            return cli_usage_error(cmd, "--subsampling 422 is not available for HEIC (use 444 or 420)");
        if (sdr_path) {
            if (heic_pq)
                return cli_usage_error(cmd, "--sdr has no use with --as heic-pq (it writes the master itself)");
        }
        if (heic_pq && lut_path)
            return cli_usage_error(cmd, "--lut has no use with --as heic-pq (it writes the master itself)");
        if (heic_apple) {
            const char *bad = set_gamma ? "--gamma" : set_minb ? "--min-boost" : set_maxb ? "--max-boost"
                              : set_dither ? "--dither" : NULL;
            if (bad)
                return cli_usage_error(cmd, "%s does not apply to Apple's gain map (--as %s); use --as heic-iso", bad,
                                       as);
            if (set_channels3)
                return cli_usage_error(cmd, "Apple's gain map (--as %s) has one channel; --gainmap-channels 3 needs "
                                            "--as heic-iso",
                                       as);
        }
    }
    gainmap_ctx *ctx = cli_ctx_new();
    gainmap_lut *lut = NULL;
    gainmap_image hdr, sdr;
    memset(&hdr, 0, sizeof hdr);
    memset(&sdr, 0, sizeof sdr);
    uint8_t *base = NULL, *out = NULL;
    size_t base_size = 0, out_size = 0;
    int rc = EXIT_OK;
    const char *failed = input;
    gainmap_status st = GAINMAP_OK;
    if (lut_path) {
        failed = lut_path;
        if ((st = gainmap_lut_load(ctx, lut_path, &lut)) != GAINMAP_OK)
            goto fail;
        o.tonemap.lut = lut;
        failed = input;
    }
    st = gainmap_image_read(ctx, input, &hdr);
    if (st != GAINMAP_OK)
        goto fail;
    if (tf_override != GAINMAP_TRANSFER_UNKNOWN)
        hdr.transfer = tf_override;
    if (prim_override != GAINMAP_PRIMARIES_UNKNOWN)
        hdr.primaries = prim_override;
    if (variant >= 0) {
        if (sdr_path) {
            failed = sdr_path;
            if ((st = gainmap_read_file(ctx, sdr_path, &base, &base_size)) != GAINMAP_OK)
                goto fail;
            if (gainmap_detect_format(base, base_size) == GAINMAP_FORMAT_JPEG) {
                rc = cli_usage_error(cmd, "--sdr %s: a JPEG base is kept byte for byte only in JPEG output; for HEIC "
                                          "give the SDR as PNG or TIFF",
                                     sdr_path);
                goto done;
            }
            if ((st = gainmap_image_read_memory(ctx, base, base_size, &sdr)) != GAINMAP_OK)
                goto fail;
        }
        failed = output;
        st = gainmap_encode_heic_ex(ctx, &hdr, sdr.data ? &sdr : NULL, &o, &ho, (gainmap_heic_variant)variant, &out,
                                    &out_size);
    } else if (sdr_path) {
        failed = sdr_path;
        st = gainmap_read_file(ctx, sdr_path, &base, &base_size);
        if (st != GAINMAP_OK)
            goto fail;
        if (gainmap_detect_format(base, base_size) == GAINMAP_FORMAT_JPEG) {
            failed = output;
            st = gainmap_encode_jpeg_with_base(ctx, &hdr, base, base_size, &o, &out, &out_size);
        } else {
            st = gainmap_image_read_memory(ctx, base, base_size, &sdr);
            if (st != GAINMAP_OK)
                goto fail;
            failed = output;
            st = gainmap_encode_jpeg(ctx, &hdr, &sdr, &o, &out, &out_size);
        }
    } else {
        failed = output;
        st = gainmap_encode_jpeg(ctx, &hdr, NULL, &o, &out, &out_size);
    }
    if (st != GAINMAP_OK)
        goto fail;
    st = gainmap_write_file(ctx, output, out, out_size, force);
    if (st != GAINMAP_OK)
        goto fail;
    if (cli_verbose) {
        cli_note("%s: %s, %ux%u, %zu bytes, %.3f bits per pixel\n", output, variant < 0 ? "UltraHDR JPEG" : as,
                 hdr.width, hdr.height, out_size,
                 8.0 * (double)out_size / ((double)hdr.width * hdr.height));
        note_choices(ctx, output, out, out_size);
    }
    goto done;
fail:
    rc = cli_fail(failed, ctx, st);
done:
    gainmap_free(out);
    gainmap_free(base);
    gainmap_image_free(&hdr);
    gainmap_image_free(&sdr);
    gainmap_lut_free(lut);
    gainmap_ctx_free(ctx);
    return rc;
}

const cli_command cli_cmd_encode = {
    "encode",
    "HDR master -> UltraHDR v1.1 JPEG or gain-map/PQ HEIC",
    usage,
    run,
};

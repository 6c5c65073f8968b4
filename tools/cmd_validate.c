/* cmd_validate.c - `gainmap validate`: every spec violation or interop risk, one line each. */
#include "cli.h"

#include <getopt.h>
#include <string.h>

static const char usage[] =
    "Usage: gainmap validate [--quiet] FILE...\n"
    "\n"
    "Check gain-map photos against UltraHDR, Adobe hdrgm, ISO 21496-1, CIPA MPF and\n"
    "Apple's conventions and list each spec violation or interoperability risk as\n"
    "one line:\n"
    "\n"
    "  SEVERITY: message [code]\n"
    "\n"
    "SEVERITY is error (readers will ignore the gain map or misread it), warning\n"
    "(some platforms show SDR or mislocate the map) or info (a note).  code is a\n"
    "stable identifier such as iso-only, xmp-only, no-mpf, mpf-primary-size,\n"
    "mpf-gcontainer-mismatch, xmp-iso-mismatch, map-larger-than-base.  With several\n"
    "files each line starts with \"FILE: \".  A file with nothing to report gets\n"
    "the single line \"no issues found\".\n"
    "\n"
    "Options:\n"
    "  -q, --quiet    print nothing; only the exit status\n"
    "  -h, --help     this help\n"
    "\n"
    "Examples:\n"
    "  gainmap validate photo.jpg\n"
    "  gainmap validate --quiet photo.jpg && echo clean\n"
    "\n"
    "Exit status: 0 clean (info notes allowed), 4 when there are warnings or errors,\n"
    "1 when a file cannot be read at all.\n";

static const char *severity_word(gainmap_severity s)
{
    return s == GAINMAP_SEVERITY_ERROR ? "error" : s == GAINMAP_SEVERITY_WARNING ? "warning" : "info";
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    bool quiet = cli_quiet != 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'q': quiet = true; break;
        case 'h': return cli_print_help(&cli_cmd_validate, stdout);
        default: return cli_usage_error("validate", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("validate", "expects at least one FILE");
    bool several = argc - optind > 1;
    int rc = EXIT_OK;
    for (int i = optind; i < argc; i++) {
        gainmap_ctx *ctx = cli_ctx_new();
        gainmap_file *f = NULL;
        gainmap_status st = gainmap_file_open(ctx, argv[i], &f);
        if (st != GAINMAP_OK) {
            if (!quiet)
                cli_fail(argv[i], ctx, st);
            rc = EXIT_FAIL;
        } else {
            const gainmap_issue *is;
            size_t n = gainmap_file_issues(f, &is);
            if (n == 0 && !quiet)
                printf("%s%sno issues found\n", several ? argv[i] : "", several ? ": " : "");
            for (size_t k = 0; k < n; k++) {
                if (!quiet)
                    printf("%s%s%s: %s [%s]\n", several ? argv[i] : "", several ? ": " : "",
                           severity_word(is[k].severity), is[k].message, is[k].code);
                if (is[k].severity != GAINMAP_SEVERITY_INFO && rc == EXIT_OK)
                    rc = EXIT_INVALID;
            }
        }
        gainmap_file_close(f);
        gainmap_ctx_free(ctx);
    }
    return rc;
}

const cli_command cli_cmd_validate = {
    "validate",
    "list spec violations and interop risks, one line each (exit 4 when any)",
    usage,
    run,
};

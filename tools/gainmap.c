/* gainmap.c - the gainmap command: subcommand dispatch, help, version. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cli_quiet;
int cli_verbose;

static const cli_command *const commands[] = {
#define CLI_ENTRY(name) &cli_cmd_##name,
    CLI_COMMANDS(CLI_ENTRY)
#undef CLI_ENTRY
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

int cli_fail(const char *file, const gainmap_ctx *ctx, gainmap_status st)
{
    const char *msg = ctx ? gainmap_last_error(ctx) : "";
    if (!msg || !*msg)
        msg = gainmap_strerror(st);
    if (file)
        fprintf(stderr, "gainmap: %s: %s\n", file, msg);
    else
        fprintf(stderr, "gainmap: %s\n", msg);
    return EXIT_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "gainmap %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'gainmap help %s' for usage.\n", cmd);
    return EXIT_USAGE;
}

void cli_note(const char *fmt, ...)
{
    if (cli_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

gainmap_ctx *cli_ctx_new(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    if (!ctx) {
        fprintf(stderr, "gainmap: out of memory\n");
        exit(EXIT_FAIL);
    }
    return ctx;
}

bool cli_parse_double(const char *cmd, const char *opt, const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < lo || v > hi) {
        cli_usage_error(cmd, "option %s expects a number from %g to %g, not '%s'", opt, lo, hi, text);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_int(const char *cmd, const char *opt, const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        cli_usage_error(cmd, "option %s expects a whole number from %ld to %ld, not '%s'", opt, lo, hi, text);
        return false;
    }
    *out = v;
    return true;
}

bool cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

const cli_command *cli_find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

int cli_print_help(const cli_command *cmd, FILE *out)
{
    fprintf(out, "%s", cmd->usage);
    return EXIT_OK;
}

static void print_overview(FILE *out)
{
    fprintf(out,
            "gainmap %s - read, check, decode and make HDR gain-map photos\n"
            "\n"
            "Usage: gainmap [--quiet|--verbose] COMMAND [OPTIONS] ARGS...\n"
            "       gainmap help COMMAND     full help of one command\n"
            "       gainmap --version\n"
            "\n"
            "Commands:\n",
            gainmap_version_string());
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out,
            "\n"
            "A gain-map photo holds an SDR base image and a small gain map that tells\n"
            "an HDR display how much brighter each pixel may be.  Examples:\n"
            "  gainmap info photo.jpg                 what the file holds\n"
            "  gainmap validate photo.jpg             every spec violation, one per line\n"
            "  gainmap decode photo.jpg -o hdr.png    16-bit PQ PNG at full headroom\n"
            "  gainmap encode master.tif -o out.jpg   HDR master -> UltraHDR JPEG\n"
            "\n"
            "Exit codes: 0 success, 1 failure, 2 misuse, 4 validation problems,\n"
            "5 some files of a batch failed, 130 interrupted.\n");
}

int main(int argc, char **argv)
{
    if (gainmap_version() != GAINMAP_VERSION_NUMBER) {
        fprintf(stderr, "gainmap: library version %s does not match the tool (%s)\n", gainmap_version_string(),
                GAINMAP_VERSION_STRING);
        return EXIT_FAIL;
    }
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
            printf("gainmap %s (%s kernels)\n", gainmap_version_string(), gainmap_cpu_kernels());
            return EXIT_OK;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            print_overview(stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
            cli_quiet = 1;
        } else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
            cli_verbose = 1;
        } else {
            fprintf(stderr, "gainmap: unknown option '%s'\nRun 'gainmap --help' for usage.\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        print_overview(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[i];
    if (!strcmp(name, "help")) {
        if (i + 1 >= argc) {
            print_overview(stdout);
            return EXIT_OK;
        }
        const cli_command *c = cli_find_command(argv[i + 1]);
        if (!c) {
            fprintf(stderr, "gainmap: no command '%s'\nRun 'gainmap help' for the list.\n", argv[i + 1]);
            return EXIT_USAGE;
        }
        return cli_print_help(c, stdout);
    }
    if (!strcmp(name, "version")) {
        printf("gainmap %s (%s kernels)\n", gainmap_version_string(), gainmap_cpu_kernels());
        return EXIT_OK;
    }
    const cli_command *c = cli_find_command(name);
    if (!c) {
        fprintf(stderr, "gainmap: no command '%s'\nRun 'gainmap help' for the list.\n", name);
        return EXIT_USAGE;
    }
    /* Per-command -h/--help anywhere among its arguments. */
    for (int j = i + 1; j < argc; j++) {
        if (!strcmp(argv[j], "--"))
            break;
        if (!strcmp(argv[j], "-h") || !strcmp(argv[j], "--help"))
            return cli_print_help(c, stdout);
    }
    return c->run(argc - i, argv + i);
}

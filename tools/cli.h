/* cli.h - shared declarations of the gainmap command-line tool.
 * The CLI calls only the public API (gainmap.h); it holds no gain-map logic. */
#ifndef GAINMAP_CLI_H
#define GAINMAP_CLI_H

#include "gainmap.h"

#include <stdbool.h>
#include <stdio.h>

/* Exit codes shared by every subcommand. */
enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,        /* the work failed (bad input, I/O error)          */
    EXIT_USAGE = 2,       /* misuse: unknown option, missing argument        */
    EXIT_INVALID = 4,     /* validate: the file has spec violations          */
    EXIT_PARTIAL = 5,     /* convert: some files failed                      */
    EXIT_INTERRUPTED = 130
};

typedef struct cli_command {
    const char *name;
    const char *summary;               /* one line for `gainmap help` */
    const char *usage;                 /* full help text for `gainmap help CMD` */
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} cli_command;

/* Global flags set by the dispatcher (--quiet / --verbose before or after the command). */
extern int cli_quiet;
extern int cli_verbose;

/* Print "gainmap: FILE: <ctx's last error or strerror(st)>" and return EXIT_FAIL. */
int cli_fail(const char *file, const gainmap_ctx *ctx, gainmap_status st);
/* Print "gainmap CMD: <message>" and a hint to run `gainmap help CMD`; return EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a message to stderr unless --quiet. */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* New context with the CLI's defaults, or exits with EXIT_FAIL. */
gainmap_ctx *cli_ctx_new(void);
/* Parse a number; on error print "option --NAME expects ..." and return false. */
bool cli_parse_double(const char *cmd, const char *opt, const char *text, double lo, double hi, double *out);
bool cli_parse_int(const char *cmd, const char *opt, const char *text, long lo, long hi, long *out);
/* True when a and b name the same existing file (same device and inode). */
bool cli_same_file(const char *a, const char *b);
/* Print the full help of a command; returns EXIT_OK. */
int cli_print_help(const cli_command *cmd, FILE *out);
const cli_command *cli_find_command(const char *name);

/* Subcommands: one tools/cmd_NAME.c each. */
#define CLI_COMMANDS(X)  \
    X(info)              \
    X(validate)          \
    X(extract)           \
    X(decode)            \
    X(encode)            \
    X(remux)             \
    X(convert)           \
    X(preview)           \
    X(probe)             \
    X(recode)            \
    X(icc)

#define CLI_DECLARE(name) extern const cli_command cli_cmd_##name;
CLI_COMMANDS(CLI_DECLARE)
#undef CLI_DECLARE

#endif

/* cmd_icc.c - `gainmap icc` (not implemented yet). */
#include "cli.h"

static int run(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "gainmap %s: not implemented yet\n", argv[0]);
    return EXIT_FAIL;
}

const cli_command cli_cmd_icc = {
    "icc",
    "(not implemented yet)",
    "Usage: gainmap icc\n\nNot implemented yet.\n",
    run,
};

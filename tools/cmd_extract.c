/* cmd_extract.c - `gainmap extract` (not implemented yet). */
#include "cli.h"

static int run(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "gainmap %s: not implemented yet\n", argv[0]);
    return EXIT_FAIL;
}

const cli_command cli_cmd_extract = {
    "extract",
    "(not implemented yet)",
    "Usage: gainmap extract\n\nNot implemented yet.\n",
    run,
};

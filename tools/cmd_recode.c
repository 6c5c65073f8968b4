/* cmd_recode.c - `gainmap recode` (not implemented yet). */
#include "cli.h"

static int run(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "gainmap %s: not implemented yet\n", argv[0]);
    return EXIT_FAIL;
}

const cli_command cli_cmd_recode = {
    "recode",
    "(not implemented yet)",
    "Usage: gainmap recode\n\nNot implemented yet.\n",
    run,
};

/* cmd_decode.c - `gainmap decode` (not implemented yet). */
#include "cli.h"

static int run(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "gainmap %s: not implemented yet\n", argv[0]);
    return EXIT_FAIL;
}

const cli_command cli_cmd_decode = {
    "decode",
    "(not implemented yet)",
    "Usage: gainmap decode\n\nNot implemented yet.\n",
    run,
};

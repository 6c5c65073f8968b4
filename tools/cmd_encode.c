/* cmd_encode.c - `gainmap encode` (not implemented yet). */
#include "cli.h"

static int run(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "gainmap %s: not implemented yet\n", argv[0]);
    return EXIT_FAIL;
}

const cli_command cli_cmd_encode = {
    "encode",
    "(not implemented yet)",
    "Usage: gainmap encode\n\nNot implemented yet.\n",
    run,
};

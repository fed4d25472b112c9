/* vaultctl import (being written). */
#include "cli.h"

int cmd_import(cli *c, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error(c, "import is not available in this build yet");
}

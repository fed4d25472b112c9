/* vaultctl key rotate (being written). */
#include "cli.h"

int cmd_key_rotate(cli *c, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error(c, "key rotate is not available in this build yet");
}

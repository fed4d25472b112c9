/* vaultctl's --help, -h and `help` (docs/help.md): the texts come from
 * cli/vaultctl.help, compiled in from the build tree (cli/help.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "help.h"

#define HELP_NAME_MAX 64

static const vaultctl_help_entry *find(const char *name)
{
    const vaultctl_help_entry *e;

    for (e = vaultctl_help_entries; e->name; e++)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

const char *cli_help_text(const char *name)
{
    const vaultctl_help_entry *e = find(name);

    return e ? e->text : NULL;
}

int cli_help_for(const char *name)
{
    const char *text = cli_help_text(name);

    fputs(text ? text : cli_help_text(""), stdout);
    return EXIT_OK;
}

/* "--help" and what getopt_long takes for it ("--h", "--he", "--hel"), or -h. */
static int is_help_option(const char *a)
{
    size_t n = strlen(a);

    return strcmp(a, "-h") == 0 || (n >= 3 && n <= 6 && strncmp(a, "--help", n) == 0);
}

/* The help entry named by the command words of argv: "cmd" and, when
 * "cmd WORD" is one, that. */
static const vaultctl_help_entry *entry_of(int argc, char **argv)
{
    const vaultctl_help_entry *e = find(argv[0]), *leaf;
    char name[HELP_NAME_MAX];
    int i;

    if (!e)
        return NULL;
    for (i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        if (snprintf(name, sizeof name, "%s %s", argv[0], argv[i]) >= (int)sizeof name)
            continue;
        if ((leaf = find(name)) != NULL)
            return leaf;
    }
    return e;
}

const char *cli_command_name(int argc, char **argv)
{
    const vaultctl_help_entry *e = entry_of(argc, argv);

    return e ? e->name : argv[0];
}

int cli_help_requested(int argc, char **argv)
{
    const vaultctl_help_entry *e;
    int i, asked = 0;

    for (i = 1; i < argc && !asked; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        asked = is_help_option(argv[i]);
    }
    if (!asked || !(e = entry_of(argc, argv)))
        return 0;
    fputs(e->text, stdout);
    return 1;
}

int cli_help_command(int argc, char **argv)
{
    char name[HELP_NAME_MAX];
    const char *text;

    if (argc == 2 && is_help_option(argv[1])) /* `vaultctl help -h`: what help does */
        return cli_help_for("");
    if (argc > 3) {
        cli_errf("vaultctl: help: at most a command and a subcommand (vaultctl help record add)");
        return EXIT_USAGE;
    }
    if (snprintf(name, sizeof name, "%s%s%s", argc > 1 ? argv[1] : "", argc > 2 ? " " : "",
                 argc > 2 ? argv[2] : "") >= (int)sizeof name ||
        !(text = cli_help_text(name))) {
        cli_errf("vaultctl: help: no such command '%s'", name);
        return EXIT_USAGE;
    }
    fputs(text, stdout);
    return EXIT_OK;
}

/* vaultctl: command-line tool for data officers and compliance staff. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Warn when TZ names a zone without a file (cli.h). */
static void tz_check(void)
{
    const char *tz = getenv("TZ"), *dir = getenv("TZDIR");
    char path[4096];
    size_t i;

    if (!tz || !*tz)
        return;
    if (*tz == ':')
        tz++;
    /* A POSIX rule ("CST-8", "UTC0", "EST5EDT") carries an offset digit and
     * needs no file; anything else names a zone file, which glibc silently
     * replaces by UTC when it is missing ("Asia/Shangai"). */
    for (i = 0; tz[i]; i++)
        if (isdigit((unsigned char)tz[i]) && !strchr(tz, '/'))
            return;
    if (*tz == '/')
        snprintf(path, sizeof path, "%s", tz);
    else
        snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
    if (access(path, R_OK) != 0)
        cli_errf("vaultctl: warning: TZ=%s names no time zone (%s: %s): local times are UTC", tz,
                 path, strerror(errno));
}

static int run(const cli *base, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS, {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    cli c = *base;
    int opt, r;
    const char *cmd;

    c.vault_path = getenv("VAULT_PATH");
    /* A zone set on purpose in the environment asks for local times;
     * --local and --utc (last one wins) decide otherwise. */
    c.local = getenv("TZ") && *getenv("TZ");
    tzset();
    tz_check();
    if (vault_init() < 0) {
        cli_errf("vaultctl: %s", vault_error_last());
        return EXIT_FAIL;
    }
    opterr = 0;
    /* "+": stop at the command word; the command parses the rest. */
    while ((opt = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
        if (opt == 'h' || opt == OPT_HELP) {
            return cli_help_for("");
        }
        if (opt == 'V') {
            printf("vaultctl (libvault) %s\n", vault_version_string());
            return EXIT_OK;
        }
        r = cli_global_option(&c, opt, optarg);
        if (r < 0)
            return EXIT_USAGE;
        if (r == 0) {
            cli_errf("vaultctl: unknown option '%s'", argv[optind - 1]);
            fputs(cli_help_text(""), stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fputs(cli_help_text(""), stderr);
        return EXIT_USAGE;
    }
    cmd = argv[optind];
    argc -= optind;
    argv += optind;
    optind = 0; /* full re-initialisation of getopt for the command */
    /* "record erase", not "record", in its usage errors. */
    c.cmd = cli_command_name(argc, argv);
    /* --help or -h anywhere after the command: that leaf's help, exit 0. */
    if (strcmp(cmd, "help") == 0)
        return cli_help_command(argc, argv);
    if (cli_help_requested(argc, argv))
        return EXIT_OK;
    if (c.server && (strcmp(cmd, "init") == 0 || strcmp(cmd, "demo") == 0 ||
                     strcmp(cmd, "keyslot") == 0 || strcmp(cmd, "restore") == 0 ||
                     strcmp(cmd, "migrate") == 0)) {
        cli_errf("vaultctl: %s: not in client mode (--server): it works on a vault file", cmd);
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "init") == 0)
        return cmd_init(&c, argc, argv);
    if (strcmp(cmd, "keyslot") == 0)
        return cmd_keyslot(&c, argc, argv);
    if (strcmp(cmd, "key") == 0)
        return cmd_key(&c, argc, argv);
    if (strcmp(cmd, "policy") == 0)
        return cmd_policy(&c, argc, argv);
    if (strcmp(cmd, "record") == 0)
        return cmd_record(&c, argc, argv);
    if (strcmp(cmd, "audit") == 0)
        return cmd_audit(&c, argc, argv);
    if (strcmp(cmd, "grant") == 0)
        return cmd_grant(&c, argc, argv);
    if (strcmp(cmd, "revoke") == 0)
        return cmd_revoke(&c, argc, argv);
    if (strcmp(cmd, "grants") == 0)
        return cmd_grants(&c, argc, argv);
    if (strcmp(cmd, "break-glass") == 0)
        return cmd_break_glass(&c, argc, argv);
    if (strcmp(cmd, "canary") == 0)
        return cmd_canary(&c, argc, argv);
    if (strcmp(cmd, "retention") == 0)
        return cmd_retention(&c, argc, argv);
    if (strcmp(cmd, "import") == 0)
        return cmd_import(&c, argc, argv);
    if (strcmp(cmd, "export") == 0)
        return cmd_export(&c, argc, argv);
    if (strcmp(cmd, "demo") == 0)
        return cmd_demo(&c, argc, argv);
    if (strcmp(cmd, "token") == 0)
        return cmd_token(&c, argc, argv);
    if (strcmp(cmd, "witness") == 0)
        return cmd_witness(&c, argc, argv);
    if (strcmp(cmd, "backup") == 0)
        return cmd_backup(&c, argc, argv);
    if (strcmp(cmd, "restore") == 0)
        return cmd_restore(&c, argc, argv);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(&c, argc, argv);
    cli_errf("vaultctl: unknown command '%s'", cmd);
    fputs(cli_help_text(""), stderr);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    cli c;
    int ex;

    memset(&c, 0, sizeof c);
    c.subject = (vault_subject)VAULT_SUBJECT_INIT;
    c.prog = "vaultctl";
    /* First, before any key exists in this process. */
    if ((ex = cli_harden_process(&c)) != EXIT_OK)
        return ex;
    cli_locale_init();
    ex = run(&c, argc, argv);
    cli_env_secrets_free();
    /* A result that never reached its reader (a full disk, a closed pipe)
     * is a failure, not success with the output lost. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_errf("vaultctl: writing standard output: %s", strerror(errno ? errno : EIO));
        if (ex == EXIT_OK)
            ex = EXIT_FAIL;
    }
    return ex;
}

/* vaultctl: command-line tool for data officers and compliance staff. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char usage_text[] =
    "usage: vaultctl [global options] <command> [options]\n"
    "\n"
    "Commands:\n"
    "  init --policy FILE          create a vault governed by a policy\n"
    "  keyslot add|list|remove     manage the passphrases and key files that unlock it\n"
    "  key db-key                  print the raw SQLCipher key (logged)\n"
    "  key rotate --grade G        new data key for a grade, fields re-encrypted (resumable)\n"
    "  policy check|apply|show|explain|who-can\n"
    "  record add|get|find|update|erase\n"
    "  audit verify|checkpoint|pubkey|export|report\n"
    "  grant …, grant approve ID, revoke ID, grants   time-bound access by data officers\n"
    "  break-glass --record ID --reason TEXT         emergency access, flagged for review\n"
    "  import FILE.csv             add residents from CSV, all or nothing\n"
    "  export --record ID          a resident's copy of their record (JSON)\n"
    "  token keygen|issue          a development issuer of identity tokens (tests, demos)\n"
    "  witness keygen|serve|submit|verify   an independent witness of audit logs\n"
    "  backup --out FILE           a consistent copy of the vault file (logged)\n"
    "  restore --from FILE         put a backup back, checked first (logged)\n"
    "  demo                        a guided tour in a temporary directory\n"
    "\n"
    "Global options (also accepted after the command):\n"
    "  --vault PATH        the vault file (or VAULT_PATH)\n"
    "  --key-file FILE     unlock with a key file (else VAULT_PASSPHRASE, else a prompt)\n"
    "  --json              machine-readable output\n"
    "  --user U --role R --dept D --jurisdiction J --purpose P\n"
    "                      who is acting, for data commands\n"
    "  --server URL        client mode: use the vault vaultd serves, at\n"
    "                      unix:///run/vaultd/vaultd.sock or https://HOST:PORT; no key\n"
    "                      in this process, the token says who acts (only --purpose)\n"
    "  --token-file FILE   the identity token for --server (or VAULT_TOKEN, wiped from\n"
    "                      the environment at start)\n"
    "  --ca-file FILE --cert FILE --key FILE\n"
    "                      https: the CA to trust, the app's certificate and its key\n"
    "  --help              this text; `vaultctl <command> --help` for a command\n"
    "\n"
    "Files vaultctl writes (--out, new key files) are created new, mode 0600; it never\n"
    "overwrites a file or follows a symbolic link there.  Text output escapes control\n"
    "and bidi characters in values.  VAULT_PASSPHRASE is wiped from the environment\n"
    "at start, and vaultctl disables core dumps.\n"
    "\n"
    "Exit codes: 0 ok, 1 failure (including an output file that exists), 2 usage,\n"
    "3 integrity failure, 4 access denied, 5 not found, 6 wrong passphrase or key,\n"
    "7 invalid input.\n"
    "\n"
    "example:\n"
    "  vaultctl init --vault street.vault --policy policies/community.yaml --key-file street.key\n"
    "  vaultctl --vault street.vault --key-file street.key audit verify\n"
    "  vaultctl --server unix:///run/vaultd/vaultd.sock --token-file ~/.vault-token \\\n"
    "      --purpose resident_service record get 4f0c... --fields phone\n";

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
    if (vault_init() < 0) {
        cli_errf("vaultctl: %s", vault_error_last());
        return EXIT_FAIL;
    }
    opterr = 0;
    /* "+": stop at the command word; the command parses the rest. */
    while ((opt = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
        if (opt == 'h' || opt == OPT_HELP) {
            fputs(usage_text, stdout);
            return EXIT_OK;
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
            fputs(usage_text, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    cmd = argv[optind];
    argc -= optind;
    argv += optind;
    optind = 0; /* full re-initialisation of getopt for the command */
    c.cmd = cmd;
    if (c.server && (strcmp(cmd, "init") == 0 || strcmp(cmd, "demo") == 0 ||
                     strcmp(cmd, "keyslot") == 0 || strcmp(cmd, "restore") == 0)) {
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
    if (strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    cli_errf("vaultctl: unknown command '%s'", cmd);
    fputs(usage_text, stderr);
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
    return ex;
}

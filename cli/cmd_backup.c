/* vaultctl backup, restore (docs/backup.md). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli.h"

static const char backup_help[] =
    "usage: vaultctl --vault PATH [--key-file F] backup --out FILE\n"
    "\n"
    "Writes a consistent copy of the vault file to FILE while the vault stays open\n"
    "for others (SQLite's online backup API: one snapshot, whoever writes meanwhile).\n"
    "The copy is encrypted with the same key; FILE is created new, mode 0600, and an\n"
    "existing FILE is refused.  It is written as FILE.partial and appears as FILE only\n"
    "when complete.  An audit entry (action backup) is logged first, so the copy\n"
    "holds it.  The keys file PATH.keys is NOT in the copy: copy it separately (a\n"
    "plain cp is safe, it is always rewritten whole), and keep it apart from the copy.\n"
    "Do not cp the vault file itself while it is open: that copy misses what is still\n"
    "in PATH-wal and does not open.  --json prints {\"backup\": FILE}.\n"
    "\n"
    "example:\n"
    "  vaultctl --vault street.vault --key-file street.key backup --out /backup/street-2026-12-01.vault\n"
    "  cp street.vault.keys /keys-backup/street.vault.keys\n";

static const char restore_help[] =
    "usage: vaultctl --vault PATH [--key-file F] restore --from FILE [--force]\n"
    "\n"
    "Puts the backup FILE back as the vault PATH, unlocking PATH's current keys file.\n"
    "Before anything is replaced, a temporary copy (PATH.restoring) must open with\n"
    "the vault's keys, read, and pass `audit verify`.  Then, with no one else holding\n"
    "the vault open (stop vaultd and other vaultctl first: refused otherwise), the\n"
    "old file is kept as PATH.before-restore (and PATH.keys as\n"
    "PATH.keys.before-restore), the keys file's audit anchor is moved back to the\n"
    "backup's last signed checkpoint, and the copy takes PATH's place.  The restored\n"
    "log gets an entry (action restore) naming the checkpoint sizes it went back from\n"
    "and to.  --force replaces a PATH.before-restore left by an earlier restore.\n"
    "A copy put back by hand (cp) is refused at open as rolled back: use restore.\n"
    "--json prints {\"restored\": FILE, \"from_size\": N, \"to_size\": N, \"entries\": N}.\n"
    "\n"
    "Exit codes: 0 restored, 3 the copy fails a check (another vault's, tampered),\n"
    "1 the vault is open elsewhere or a file is in the way, 6 wrong passphrase or key.\n"
    "\n"
    "example:\n"
    "  vaultctl --vault street.vault --key-file street.key restore --from /backup/street-2026-12-01.vault\n";

int cmd_backup(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"out", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL;
    vault *v = NULL;
    int opt, r, rc, ex;

    c->cmd = "backup";
    while ((opt = cli_getopt(argc, argv, "o:", opts)) != -1) {
        if (opt == OPT_HELP || opt == 'h')
            return cli_help(backup_help);
        if (opt == 'o') {
            out = optarg;
            continue;
        }
        if ((r = cli_global_option(c, opt, optarg)) <= 0)
            return r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option");
    }
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    if (!out || !*out)
        return cli_usage_error(c, "where to? give --out FILE");
    if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
        return ex;
    {
        cli_progress bar;

        cli_progress_start(&bar, "backing up", "pages");
        rc = vault_backup(v, out, cli_progress_fn, &bar);
        cli_progress_end(&bar);
    }
    vault_close(v);
    if (rc < 0)
        return cli_fail(c, rc);
    if (c->json) {
        json_t *o = json_pack("{s:s}", "backup", out);
        ex = !o || cli_print_json(stdout, o) < 0 ? EXIT_FAIL : EXIT_OK;
        if (!o)
            cli_errf("vaultctl: backup: the file name is not UTF-8: no JSON for it");
        json_decref(o);
        return ex;
    }
    {
        char line[4200];
        snprintf(line, sizeof line, "backup written to %s (the keys file is not in it)\n", out);
        cli_put_lines(stdout, line); /* the name as typed: escaped */
    }
    return EXIT_OK;
}

int cmd_restore(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"from", required_argument, NULL, 'f'},
                                         {"force", no_argument, NULL, 'F'},
                                         {NULL, 0, NULL, 0}};
    const char *from = NULL;
    unsigned flags = 0;
    vault_secret secret = VAULT_SECRET_INIT;
    vault_restore_info info;
    int opt, r, rc, ex;

    c->cmd = "restore";
    while ((opt = cli_getopt(argc, argv, "f:", opts)) != -1) {
        if (opt == OPT_HELP || opt == 'h')
            return cli_help(restore_help);
        if (opt == 'f') {
            from = optarg;
            continue;
        }
        if (opt == 'F') {
            flags |= VAULT_RESTORE_FORCE;
            continue;
        }
        if ((r = cli_global_option(c, opt, optarg)) <= 0)
            return r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option");
    }
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    if (!from || !*from)
        return cli_usage_error(c, "from which backup? give --from FILE");
    if (!c->vault_path || !*c->vault_path)
        return cli_usage_error(c, "which vault? give --vault PATH or set VAULT_PATH");
    if ((ex = cli_unlock_secret(&secret, c)) != EXIT_OK)
        return ex;
    rc = vault_restore(&info, c->vault_path, from, &secret, flags);
    cli_secret_free(&secret);
    if (rc < 0)
        return cli_fail(c, rc);
    if (c->json) {
        json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:b}", "restored", from, "from_size",
                              (json_int_t)info.from_size, "to_size", (json_int_t)info.to_size,
                              "entries", (json_int_t)info.entries, "kept_old", info.kept_old);
        ex = !o || cli_print_json(stdout, o) < 0 ? EXIT_FAIL : EXIT_OK;
        if (!o)
            cli_errf("vaultctl: restore: the file name is not UTF-8: no JSON for it");
        json_decref(o);
        return ex;
    }
    {
        char line[4400];
        snprintf(line, sizeof line,
                 "restored %s from %s: %llu audit entries verified; signed checkpoint %llu "
                 "(was %llu)%s%s%s\n",
                 c->vault_path, from, (unsigned long long)info.entries,
                 (unsigned long long)info.to_size, (unsigned long long)info.from_size,
                 info.kept_old ? "; the old file is " : "", info.kept_old ? c->vault_path : "",
                 info.kept_old ? ".before-restore" : "");
        cli_put_lines(stdout, line);
    }
    return EXIT_OK;
}

/* vaultctl backup, restore (docs/backup.md). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli.h"

int cmd_backup(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"out", required_argument, NULL, 'o'},
                                         {"record-keys", no_argument, NULL, 'R'},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL;
    vault *v = NULL;
    int opt, r, rc, ex, rk = 0;

    c->cmd = "backup";
    while ((opt = cli_getopt(argc, argv, "o:", opts)) != -1) {
        if (opt == OPT_HELP || opt == 'h')
            return cli_help_for("backup");
        if (opt == 'o') {
            out = optarg;
            continue;
        }
        if (opt == 'R') {
            rk = 1;
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
        rc = rk ? vault_backup_record_keys(v, out, cli_progress_fn, &bar)
                : vault_backup(v, out, cli_progress_fn, &bar);
        cli_progress_end(&bar);
    }
    if (rc < 0) { /* the message first: closing the handle clears it */
        ex = cli_fail(c, rc);
        vault_close(v);
        return ex;
    }
    vault_close(v);
    if (c->json) {
        json_t *o = json_pack("{s:s,s:s}", "backup", out, "of", rk ? "record_keys" : "data");
        ex = !o || cli_print_json(stdout, o) < 0 ? EXIT_FAIL : EXIT_OK;
        if (!o)
            cli_errf("vaultctl: backup: the file name is not UTF-8: no JSON for it");
        json_decref(o);
        return ex;
    }
    {
        char line[4200];
        snprintf(line, sizeof line,
                 rk ? "record-key store backup written to %s (keep it on a short retention: "
                      "docs/erasure.md)\n"
                    : "backup written to %s (the keys file and the record-key store are not in "
                      "it)\n",
                 out);
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
            return cli_help_for("restore");
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

/* vaultctl migrate --from FILE --to LOCATION (docs/postgresql.md
 * "Migrating a street's vault"): the location is shown redacted
 * (vault_location_shown), never as typed. */
int cmd_migrate(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    const char *from = NULL, *to = NULL;
    vault_secret secret = VAULT_SECRET_INIT;
    vault_migrate_info info;
    char shown[1024];
    int opt, r, rc, ex;

    c->cmd = "migrate";
    while ((opt = cli_getopt(argc, argv, "f:t:", opts)) != -1) {
        if (opt == OPT_HELP || opt == 'h')
            return cli_help_for("migrate");
        if (opt == 'f') {
            from = optarg;
            continue;
        }
        if (opt == 't') {
            to = optarg;
            continue;
        }
        if ((r = cli_global_option(c, opt, optarg)) <= 0)
            return r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option");
    }
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    if (!from || !*from)
        return cli_usage_error(c, "from which vault file? give --from FILE");
    if (!to || !*to)
        return cli_usage_error(c, "to where? give --to LOCATION (postgresql://...)");
    if (c->vault_path && *c->vault_path)
        return cli_usage_error(c, "migrate takes --from and --to, not --vault");
    if (vault_location_shown(shown, sizeof shown, to) < 0)
        return cli_fail(c, VAULT_EINVALID);
    /* the source's keys file unlocks: --from is the vault this secret is for */
    c->vault_path = from;
    ex = cli_unlock_secret(&secret, c);
    c->vault_path = NULL;
    if (ex != EXIT_OK)
        return ex;
    {
        cli_progress bar;

        cli_progress_start(&bar, "migrating", "rows");
        rc = vault_migrate(&info, from, to, &secret, cli_progress_fn, &bar);
        cli_progress_end(&bar);
    }
    cli_secret_free(&secret);
    if (rc < 0)
        return cli_fail(c, rc);
    if (c->json) {
        json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "from", from, "to", shown, "entries",
                              (json_int_t)info.entries, "records", (json_int_t)info.records);
        ex = !o || cli_print_json(stdout, o) < 0 ? EXIT_FAIL : EXIT_OK;
        if (!o)
            cli_errf("vaultctl: migrate: the file name is not UTF-8: no JSON for it");
        json_decref(o);
        return ex;
    }
    {
        char line[6000];
        snprintf(line, sizeof line,
                 "migrated %s to %s: %llu records, %llu audit entries copied; the copy's log "
                 "verifies\n",
                 from, shown, (unsigned long long)info.records, (unsigned long long)info.entries);
        cli_put_lines(stdout, line);
    }
    return EXIT_OK;
}

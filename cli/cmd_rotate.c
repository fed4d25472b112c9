/* vaultctl key rotate: a new data key version for one grade, the grade's
 * fields re-encrypted under it in batches, the old versions retired. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"


typedef struct rotate_state {
    cli_progress bar;
    uint64_t done, total;
    const char *grade;
} rotate_state;

static void on_progress(uint64_t done, uint64_t total, void *arg)
{
    rotate_state *st = arg;

    st->done = done;
    st->total = total;
    cli_progress_update(&st->bar, done, total);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void print_summary(const cli *c, const rotate_state *st, double secs)
{
    double rate = secs > 0 ? (double)st->done / secs : 0.0;

    if (c->json) {
        json_t *o = json_pack("{s:s, s:b, s:I, s:f, s:f}", "grade", st->grade, "ok", 1,
                              "fields_reencrypted", (json_int_t)st->done, "seconds", secs,
                              "fields_per_second", rate);
        if (o) {
            json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
            fputc('\n', stdout);
            json_decref(o);
        }
        return;
    }
    printf("grade %s: new data key in use; %llu fields re-encrypted in %.2f s", st->grade,
           (unsigned long long)st->done, secs);
    if (st->done && secs > 0)
        printf(" (%.0f fields/s)", rate);
    printf("; old key versions retired\n");
}

int cmd_key_rotate(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"grade", required_argument, NULL, 'g'},
                                         {NULL, 0, NULL, 0}};
    rotate_state st;
    struct timespec t0;
    vault *v = NULL;
    int opt, r, rc, ex, i, words = 0;

    memset(&st, 0, sizeof st);
    c->cmd = "key rotate";
    while ((opt = cli_getopt(argc, argv, "g:", opts)) != -1) {
        if (opt == OPT_HELP)
            return cli_help_for("key rotate");
        if (opt == 'g') {
            st.grade = optarg;
            continue;
        }
        if ((r = cli_global_option(c, opt, optarg)) <= 0)
            return r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option or missing value");
    }
    /* What is left: the word "rotate" (cmd_key found it), nothing else. */
    for (i = optind; i < argc; i++) {
        if (strcmp(argv[i], "rotate") == 0 && words++ == 0)
            continue;
        return cli_usage_error(c, "unexpected argument '%s'", argv[i]);
    }
    if (!st.grade || !*st.grade)
        return cli_usage_error(c, "--grade G is required");
    if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
        return ex;
    cli_progress_start(&st.bar, st.grade, "fields");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = vault_key_rotate(v, st.grade, on_progress, &st);
    cli_progress_end(&st.bar);
    if (rc < 0) {
        ex = cli_fail(c, rc);
        if (st.done)
            fprintf(stderr, "%s: %s: %llu fields were moved before the failure; run the command "
                            "again to resume once it is resolved\n",
                    c->prog, c->cmd, (unsigned long long)st.done);
    } else {
        print_summary(c, &st, seconds_since(&t0));
        ex = EXIT_OK;
    }
    vault_close(v);
    return ex;
}

/* ---- key rotate-master ---- */

static void print_master_summary(const cli *c, const vault_master_rotation *m)
{
    char line[1600], shown[1024];
    size_t i, n = 0;
    char dropped[400] = "";

    /* A PostgreSQL location's password is never printed. */
    if (vault_location_shown(shown, sizeof shown, c->vault_path) < 0)
        snprintf(shown, sizeof shown, "(vault)");
    for (i = 0; i < m->slots_dropped && i < 32 && n < sizeof dropped - 12; i++)
        n += (size_t)snprintf(dropped + n, sizeof dropped - n, "%s%d", i ? ", " : "",
                              m->dropped[i]);
    if (c->json) {
        json_t *arr = json_array(), *o;
        for (i = 0; arr && i < m->slots_dropped && i < 32; i++)
            json_array_append_new(arr, json_integer(m->dropped[i]));
        o = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:b}", "vault",
                      shown, "ok", 1, "records", (json_int_t)m->records,
                      "digests_recomputed", (json_int_t)m->digests, "record_keys",
                      (json_int_t)m->record_keys, "erasures_kept", (json_int_t)m->erased,
                      "grade_keys", (json_int_t)m->grade_keys, "audit_entries",
                      (json_int_t)m->entries, "slot_kept",
                      m->slot_kept >= 0 ? json_integer(m->slot_kept) : json_null(), "slot_added",
                      m->slot_added >= 0 ? json_integer(m->slot_added) : json_null(),
                      "slots_dropped", arr ? arr : json_array(), "cleaned_leftovers",
                      m->cleaned);
        if (!o || cli_print_json(stdout, o) != EXIT_OK)
            cli_errf("vaultctl: key rotate-master: the vault path is not UTF-8: no JSON for it");
        json_decref(o);
        return;
    }
    snprintf(line, sizeof line,
             "master key of %s replaced: %llu records (%llu blind-index digests computed "
             "anew), %llu record keys and %llu grade-key versions wrapped anew; %llu audit "
             "entries carried, an entry and a checkpoint added\n",
             shown, (unsigned long long)m->records, (unsigned long long)m->digests,
             (unsigned long long)m->record_keys, (unsigned long long)m->grade_keys,
             (unsigned long long)m->entries);
    cli_put_lines(stdout, line); /* the path as shown: escaped */
    if (m->slot_kept >= 0)
        printf("keyslot %d (the secret used now) kept\n", m->slot_kept);
    if (m->slot_added >= 0)
        printf("keyslot %d added (the new secret)\n", m->slot_added);
    if (m->slots_dropped)
        printf("keyslots left behind: %s: their passphrases and key files open nothing made "
               "from now on\n", dropped);
    printf("copies made before (backups, old keys files) still open with the old secrets: "
           "retire them, and take a new backup\n");
    if (m->cleaned)
        printf("(the files of an earlier rotation that never committed were removed)\n");
}

int cmd_key_rotate_master(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"new-key-file", required_argument, NULL, 'k'},
                                         {"new-passphrase", no_argument, NULL, 'P'},
                                         {"label", required_argument, NULL, 'l'},
                                         {"drop-current", no_argument, NULL, 'D'},
                                         {NULL, 0, NULL, 0}};
    const char *new_key = NULL, *label = NULL;
    int new_pass = 0, drop = 0, opt, r, rc, ex, i, words = 0;
    vault_secret secret = VAULT_SECRET_INIT, fresh = VAULT_SECRET_INIT;
    vault_master_rotation m;
    cli_progress bar;

    c->cmd = "key rotate-master";
    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        if (opt == OPT_HELP)
            return cli_help_for("key rotate-master");
        if (opt == 'k')
            new_key = optarg;
        else if (opt == 'P')
            new_pass = 1;
        else if (opt == 'l')
            label = optarg;
        else if (opt == 'D')
            drop = 1;
        else if ((r = cli_global_option(c, opt, optarg)) <= 0)
            return r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option or missing value");
    }
    for (i = optind; i < argc; i++) {
        if (strcmp(argv[i], "rotate-master") == 0 && words++ == 0)
            continue;
        return cli_usage_error(c, "unexpected argument '%s'", argv[i]);
    }
    if (c->server)
        return cli_usage_error(c, "the master key is rotated on the vault's host, with vaultd "
                                  "stopped: give --vault PATH, not --server");
    if (!c->vault_path || !*c->vault_path)
        return cli_usage_error(c, "which vault? give --vault PATH or set VAULT_PATH");
    if (new_key && new_pass)
        return cli_usage_error(c, "one new secret: --new-key-file F or --new-passphrase");
    if (drop && !new_key && !new_pass)
        return cli_usage_error(c, "--drop-current needs a new secret (--new-key-file F or "
                                  "--new-passphrase): something must open the vault");
    if (label && !new_key && !new_pass)
        return cli_usage_error(c, "--label names the new secret's slot: give --new-key-file F "
                                  "or --new-passphrase");
    if ((ex = cli_unlock_secret(&secret, c)) != EXIT_OK)
        return ex;
    if ((new_key || new_pass) &&
        (ex = cli_new_secret(&fresh, c, new_key, "VAULT_NEW_PASSPHRASE")) != EXIT_OK) {
        cli_secret_free(&secret);
        return ex;
    }
    memset(&m, 0, sizeof m);
    cli_progress_start(&bar, "rotating", "rows");
    rc = vault_key_rotate_master(&m, c->vault_path, &secret, (new_key || new_pass) ? &fresh : NULL,
                                 label, drop ? VAULT_ROTATE_MASTER_DROP_CURRENT : 0,
                                 cli_progress_fn, &bar);
    cli_progress_end(&bar);
    cli_secret_free(&secret);
    if (new_key || new_pass)
        cli_secret_free(&fresh);
    if (rc < 0)
        return cli_fail(c, rc);
    print_master_summary(c, &m);
    return EXIT_OK;
}

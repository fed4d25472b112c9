/* vaultctl init, keyslot, key. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"

int cmd_init(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"policy", required_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    const char *policy = NULL;
    vault_secret secret = VAULT_SECRET_INIT;
    vault *v = NULL;
    char id[VAULT_ID_HEX_SIZE], key[VAULT_PUBKEY_SIZE], shown[1024];
    int opt, r, rc;

    while ((opt = cli_getopt(argc, argv, "p:", opts)) != -1) {
        if (opt == OPT_HELP)
            return cli_help_for("init");
        if (opt == 'p') {
            policy = optarg;
            continue;
        }
        if ((r = cli_global_option(c, opt, optarg)) <= 0)
            return r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option");
    }
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    if (!policy)
        return cli_usage_error(c, "--policy FILE is required");
    if (!c->vault_path)
        return cli_usage_error(c, "--vault PATH (or VAULT_PATH) is required");
    if ((r = cli_new_secret(&secret, c, c->key_file, "VAULT_PASSPHRASE")) != EXIT_OK)
        return r;
    rc = vault_create(&v, c->vault_path, policy, &secret);
    cli_secret_free(&secret);
    if (rc < 0)
        return cli_fail(c, rc);
    if (vault_id(id, sizeof id, v) < 0)
        id[0] = '\0';
    /* A PostgreSQL location's password is never printed. */
    if (vault_location_shown(shown, sizeof shown, c->vault_path) < 0)
        snprintf(shown, sizeof shown, "(vault)");
    /* The auditors' copy of the checkpoint key, pinned outside the vault. */
    if ((rc = vault_audit_pubkey(key, sizeof key, v)) < 0) {
        int ex = cli_fail(c, rc); /* before the close, which clears the message */
        vault_close(v);
        return ex;
    }
    if (c->json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "vault", shown, "id", id, "policy",
                              policy, "audit_pubkey", key);
        cli_print_json(stdout, o);
        json_decref(o);
    } else {
        char line[2600];
        snprintf(line, sizeof line, "created vault %s (id %s) with policy %s\n"
                 "audit public key (give auditors a copy; audit verify --pubkey checks it):\n"
                 "  %s\n", shown, id, policy, key);
        cli_put_lines(stdout, line); /* paths as typed: escaped */
    }
    vault_close(v);
    return EXIT_OK;
}

int cmd_keyslot(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"new-key-file", required_argument, NULL, 'k'},
                                         {"label", required_argument, NULL, 'l'},
                                         {NULL, 0, NULL, 0}};
    const char *new_key = NULL, *label = NULL, *sub = NULL;
    vault *v = NULL;
    vault_secret secret = VAULT_SECRET_INIT;
    vault_keyslot_info *slots = NULL;
    size_t n = 0, i;
    int opt, r, rc = VAULT_OK, ex = EXIT_OK, slot = -1;
    char *end = NULL;
    long num;

    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        if (opt == OPT_HELP)
            return cli_help_for("keyslot");
        if (opt == 'k')
            new_key = optarg;
        else if (opt == 'l')
            label = optarg;
        else if ((r = cli_global_option(c, opt, optarg)) <= 0)
            return r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option");
    }
    sub = optind < argc ? argv[optind] : NULL;
    if (!sub)
        return cli_usage_error(c, "say add, list or remove");
    c->cmd = strcmp(sub, "add") == 0 ? "keyslot add"
             : strcmp(sub, "list") == 0 ? "keyslot list"
             : strcmp(sub, "remove") == 0 ? "keyslot remove"
                                          : NULL;
    if (!c->cmd) {
        c->cmd = "keyslot";
        return cli_usage_error(c, "unknown subcommand '%s'", sub);
    }
    if (strcmp(sub, "remove") == 0) {
        if (optind + 1 >= argc)
            return cli_usage_error(c, "which slot? give its number (see keyslot list)");
        errno = 0;
        num = strtol(argv[optind + 1], &end, 10);
        if (errno || !end || *end || num < 0 || num > 1000000)
            return cli_usage_error(c, "slot must be a number");
        slot = (int)num;
    }
    if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
        return ex;
    if (strcmp(sub, "add") == 0) {
        if ((ex = cli_new_secret(&secret, c, new_key, "VAULT_NEW_PASSPHRASE")) != EXIT_OK)
            goto out;
        rc = vault_keyslot_add(&slot, v, &secret, label);
        cli_secret_free(&secret);
        if (rc == VAULT_OK && c->json)
            ex = cli_print_pack(c, "{s:i, s:s, s:s}", "slot", slot, "kind",
                                new_key ? "keyfile" : "passphrase", "label", label ? label : "");
        else if (rc == VAULT_OK)
            printf("added keyslot %d\n", slot);
    } else if (strcmp(sub, "remove") == 0) {
        rc = vault_keyslot_remove(v, slot);
        if (rc == VAULT_OK && c->json)
            ex = cli_print_pack(c, "{s:i, s:b}", "slot", slot, "removed", 1);
        else if (rc == VAULT_OK)
            printf("removed keyslot %d\n", slot);
    } else {
        rc = vault_keyslot_list(&slots, &n, v);
        if (rc == VAULT_OK && c->json) {
            json_t *arr = json_array();
            for (i = 0; i < n; i++)
                json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:I}", "slot", slots[i].slot,
                                                     "kind", slots[i].kind == VAULT_UNLOCK_KEYFILE ? "keyfile" : "passphrase",
                                                     "label", slots[i].label, "created", (json_int_t)slots[i].created));
            if (cli_print_json(stdout, arr) != EXIT_OK)
                rc = VAULT_ENOMEM;
            json_decref(arr);
        } else if (rc == VAULT_OK) {
            /* CREATED: ...Z (20 columns) or, local, ...+08:00 (25). */
            int tw = c->local ? 25 : 20;
            printf("%-5s %-11s %-*s %s\n", "SLOT", "KIND", tw, "CREATED", "LABEL");
            for (i = 0; i < n; i++) {
                char when[40];
                cli_time_format(when, sizeof when, slots[i].created, -1, c->local);
                printf("%-5d %-11s %-*s ", slots[i].slot,
                       slots[i].kind == VAULT_UNLOCK_KEYFILE ? "keyfile" : "passphrase", tw, when);
                /* A label is free text: escaped like any value. */
                if (cli_print_escaped(stdout, slots[i].label, strlen(slots[i].label), 0) != EXIT_OK)
                    rc = VAULT_ENOMEM;
                fputc('\n', stdout);
            }
        }
        vault_free(slots);
    }
    if (rc < 0)
        ex = cli_fail(c, rc);
out:
    vault_close(v);
    return ex;
}

int cmd_key(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS, {NULL, 0, NULL, 0}};
    vault *v = NULL;
    char *key = NULL;
    int opt, r, rc, ex, i;

    /* `key rotate` and `key rotate-master` have options of their own: hand
     * them the whole line. */
    for (i = 1; i < argc; i++) {
        int word = argv[i - 1][0] != '-' || strchr(argv[i - 1], '=') || i == 1;
        if (strcmp(argv[i], "rotate") == 0 && word) {
            c->cmd = "key rotate";
            return cmd_key_rotate(c, argc, argv);
        }
        if (strcmp(argv[i], "rotate-master") == 0 && word) {
            c->cmd = "key rotate-master";
            return cmd_key_rotate_master(c, argc, argv);
        }
    }
    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        if (opt == OPT_HELP)
            return cli_help_for("key");
        if ((r = cli_global_option(c, opt, optarg)) <= 0)
            return r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option");
    }
    if (optind >= argc || strcmp(argv[optind], "db-key") != 0)
        return cli_usage_error(c, "say db-key, rotate or rotate-master");
    c->cmd = "key db-key";
    if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
        return ex;
    key = sodium_malloc(80);
    if (!key) {
        vault_close(v);
        cli_errf("%s: out of secure memory", c->prog);
        return EXIT_FAIL;
    }
    rc = vault_db_key(key, 80, v);
    if (rc == VAULT_OK) {
        fprintf(stderr, "%s: warning: this key opens the vault file; it is printed for the "
                        "stock sqlcipher shell only\n", c->prog);
        /* jansson's copies are wiped when freed (vault_init's allocator). */
        ex = c->json ? cli_print_pack(c, "{s:s}", "db_key", key) : EXIT_OK;
        if (!c->json)
            printf("%s\n", key);
    } else {
        ex = cli_fail(c, rc);
    }
    sodium_free(key);
    vault_close(v);
    return ex;
}

/* vaultctl canary add --in JURISDICTION [--count N] [--fields F1,F2,...]:
 * decoy residents (docs/privacy.md "Canary records"), with plausible values
 * from cli/synth.c drawn from a random seed, added by a data officer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"
#include "synth.h"

#define CANARY_ADD_MAX 100

static const char *const synth_fields[] = {"name", "gender", "birth_date", "id_number", "phone",
                                           "address"};

static const char *synth_value(const synth_resident *r, const char *field)
{
    if (!strcmp(field, "name")) return r->name;
    if (!strcmp(field, "gender")) return r->gender;
    if (!strcmp(field, "birth_date")) return r->birth_date;
    if (!strcmp(field, "id_number")) return r->id_number;
    if (!strcmp(field, "phone")) return r->phone;
    if (!strcmp(field, "address")) return r->address;
    return NULL;
}

int cmd_canary(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"in", required_argument, NULL, 'i'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"fields", required_argument, NULL, 'F'},
                                         {NULL, 0, NULL, 0}};
    const char *in = NULL, *fields[8];
    char *list = NULL, *end = NULL, ids[CANARY_ADD_MAX][VAULT_ID_HEX_SIZE];
    long count = 1;
    size_t nf = 0, i;
    int opt, r, rc = VAULT_OK, ex = EXIT_OK, k;
    vault *v = NULL;
    vault_session *s = NULL;
    synth g;
    uint64_t seed;

    c->cmd = "canary add";
    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        switch (opt) {
        case OPT_HELP: return cli_help_for("canary add");
        case 'i': in = optarg; break;
        case 'n':
            count = strtol(optarg, &end, 10);
            if (!*optarg || *end || count < 1 || count > CANARY_ADD_MAX)
                return cli_usage_error(c, "--count takes 1 to %d", CANARY_ADD_MAX);
            break;
        case 'F': list = optarg; break;
        default:
            if ((r = cli_global_option(c, opt, optarg)) <= 0)
                return r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option");
        }
    }
    if (optind >= argc || strcmp(argv[optind], "add") != 0)
        return cli_usage_error(c, "say add: vaultctl canary add --in JURISDICTION");
    if (optind + 1 < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind + 1]);
    if (!in || !*in)
        return cli_usage_error(c, "where? give --in JURISDICTION (a grid or community)");
    if (list) {
        char *p = list, *comma;
        while (p && *p) {
            comma = strchr(p, ',');
            if (comma)
                *comma = '\0';
            if (*p) {
                if (nf == sizeof fields / sizeof fields[0] || !synth_value(&(synth_resident){0}, p))
                    return cli_usage_error(c, "--fields: '%s' is not one of name, gender, "
                                           "birth_date, id_number, phone, address", p);
                fields[nf++] = p;
            }
            p = comma ? comma + 1 : NULL;
        }
        if (nf == 0)
            return cli_usage_error(c, "--fields names no field");
    } else {
        for (i = 0; i < sizeof synth_fields / sizeof synth_fields[0]; i++)
            fields[nf++] = synth_fields[i];
    }
    if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
        goto out;
    if ((ex = cli_open_session(&s, v, c)) != EXIT_OK)
        goto out;
    /* A random seed: decoys nobody can predict from the program. */
    randombytes_buf(&seed, sizeof seed);
    synth_init(&g, seed);
    for (k = 0; k < count && rc == VAULT_OK; k++) {
        synth_resident res;
        const char *values[8];
        size_t lens[8];
        synth_resident_make(&g, &res);
        for (i = 0; i < nf; i++) {
            values[i] = synth_value(&res, fields[i]);
            lens[i] = strlen(values[i]);
        }
        rc = vault_canary_add(ids[k], sizeof ids[k], s, in, nf, fields, values, lens);
        sodium_memzero(&res, sizeof res);
    }
    if (rc < 0) {
        ex = cli_fail(c, rc);
        goto out;
    }
    if (c->json) {
        json_t *arr = json_array();
        for (k = 0; arr && k < count; k++)
            if (json_array_append_new(arr, json_string(ids[k])) != 0)
                json_decref(arr), arr = NULL;
        ex = arr ? cli_print_pack(c, "{s:o, s:s}", "canaries", arr, "in", in)
                 : cli_fail(c, VAULT_ENOMEM);
    } else {
        for (k = 0; k < count; k++)
            printf("%s\n", ids[k]);
        cli_errf("vaultctl: canary add: %ld decoy resident%s in %s: keep their ids to yourself "
                 "(any access to one raises an alarm)", count, count == 1 ? "" : "s", in);
    }
out:
    vault_session_close(s);
    vault_close(v);
    return ex;
}

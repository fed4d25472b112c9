/* vaultctl record add|get|find|update|erase. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"

#define MAX_FIELDS 256

typedef struct kv {
    size_t n;
    const char *fields[MAX_FIELDS];
    const char *values[MAX_FIELDS];
    size_t lens[MAX_FIELDS];
    char *owned[MAX_FIELDS]; /* copies made from argv or JSON */
    json_t *doc;
} kv;

static void kv_free(kv *k)
{
    size_t i;

    for (i = 0; i < k->n; i++) {
        if (k->owned[i]) {
            memset(k->owned[i], 0, strlen(k->owned[i]));
            free(k->owned[i]);
        }
    }
    json_decref(k->doc);
    memset(k, 0, sizeof *k);
}

static int kv_add_arg(cli *c, kv *k, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char *copy;

    if (!eq)
        return cli_usage_error(c, "expected FIELD=VALUE, got an argument without '='");
    if (eq == arg)
        return cli_usage_error(c, "expected FIELD=VALUE, got an empty field name before '='");
    if (k->n == MAX_FIELDS)
        return cli_usage_error(c, "at most %d fields at once", MAX_FIELDS);
    copy = strdup(arg);
    if (!copy)
        return EXIT_FAIL;
    copy[eq - arg] = '\0';
    k->owned[k->n] = copy;
    k->fields[k->n] = copy;
    k->values[k->n] = copy + (eq - arg) + 1;
    k->lens[k->n] = strlen(k->values[k->n]);
    k->n++;
    return EXIT_OK;
}

static int kv_add_json(cli *c, kv *k, const char *path)
{
    json_error_t err;
    const char *key;
    json_t *val;

    k->doc = strcmp(path, "-") == 0 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &err)
                                    : json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!k->doc) {
        /* Where, not jansson's text: it quotes the input ("near '3301...'"),
         * and the input holds the values --input keeps out of sight. */
        cli_errf("%s: %s: %s:%d:%d: not valid JSON (or a duplicate key)", c->prog, c->cmd, path,
                 err.line, err.column);
        return EXIT_INVALID;
    }
    if (!json_is_object(k->doc)) {
        cli_errf("%s: %s: %s: expected a JSON object of field: value", c->prog, c->cmd, path);
        return EXIT_INVALID;
    }
    json_object_foreach(k->doc, key, val) {
        if (!json_is_string(val)) {
            cli_errf("%s: %s: %s: value of field '%s' must be a string", c->prog, c->cmd,
                    path, key);
            return EXIT_INVALID;
        }
        if (k->n == MAX_FIELDS)
            return cli_usage_error(c, "at most %d fields at once", MAX_FIELDS);
        k->fields[k->n] = key;
        k->values[k->n] = json_string_value(val);
        k->lens[k->n] = json_string_length(val);
        k->owned[k->n] = NULL;
        k->n++;
    }
    return EXIT_OK;
}

/* The search value of `find --value-stdin`: all of standard input, at most
 * VAULT_VALUE_MAX bytes after one trailing newline is dropped.  *out is
 * malloc'ed; free it with value_free. */
static int read_value_stdin(cli *c, char **out, size_t *out_len)
{
    size_t cap = VAULT_VALUE_MAX + 2, n = 0, got;
    char *buf = malloc(cap);
    int ex = EXIT_OK;

    *out = NULL;
    *out_len = 0;
    if (!buf) {
        cli_errf("%s: %s: out of memory", c->prog, c->cmd);
        ex = EXIT_FAIL;
        goto out;
    }
    while (n < cap && (got = fread(buf + n, 1, cap - n, stdin)) > 0)
        n += got;
    if (ferror(stdin)) {
        cli_errf("%s: %s: cannot read the value from standard input", c->prog, c->cmd);
        ex = EXIT_FAIL;
        goto out;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > VAULT_VALUE_MAX) {
        cli_errf("%s: %s: the value on standard input is longer than %d bytes", c->prog,
                c->cmd, VAULT_VALUE_MAX);
        ex = EXIT_INVALID;
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    buf = NULL;
out:
    if (buf) {
        sodium_memzero(buf, cap);
        free(buf);
    }
    return ex;
}

static void value_free(char *value, size_t len)
{
    if (value) {
        sodium_memzero(value, len);
        free(value);
    }
}

static const char *effect_name(int e)
{
    return e == VAULT_EFFECT_ALLOW ? "allow" : e == VAULT_EFFECT_MASK ? "mask" : "deny";
}

static int print_result(cli *c, const char *id, const vault_result *r)
{
    size_t i, n = vault_result_count(r), len;
    int any = 0, ex = EXIT_OK;

    if (c->json) {
        json_t *fields = json_array();
        for (i = 0; i < n; i++) {
            const char *val = vault_result_value(r, i, &len);
            const vault_reason *why = vault_result_reason(r, i);
            json_t *o = json_pack("{s:s, s:s, s:b, s:s}", "field", vault_result_field(r, i),
                                  "effect", effect_name(vault_result_effect(r, i)), "present",
                                  vault_result_present(r, i), "reason", why->text);
            json_object_set_new(o, "value", val ? json_stringn(val, len) : json_null());
            if (*why->rule)
                json_object_set_new(o, "rule", json_string(why->rule));
            if (*why->where)
                json_object_set_new(o, "where", json_string(why->where));
            if (*why->grant)
                json_object_set_new(o, "grant", json_string(why->grant));
            json_array_append_new(fields, o);
        }
        json_t *doc = json_pack("{s:s, s:o}", "record", id, "fields", fields);
        ex = cli_print_json(stdout, doc);
        json_decref(doc);
    } else {
        printf("record %s\n", id);
        for (i = 0; i < n && ex == EXIT_OK; i++) {
            const char *val = vault_result_value(r, i, &len);
            const char *why = vault_result_reason(r, i)->text;
            int e = vault_result_effect(r, i);
            printf("  %-24s %-5s ", vault_result_field(r, i), effect_name(e));
            if (e == VAULT_EFFECT_DENY || !val)
                cli_print_padded(stdout, e == VAULT_EFFECT_DENY ? "-" : "(empty)", 28);
            else
                ex = cli_print_escaped(stdout, val, len, 28);
            fputc(' ', stdout);
            if (ex == EXIT_OK)
                ex = cli_print_escaped(stdout, why, strlen(why), 0);
            fputc('\n', stdout);
        }
    }
    if (ex != EXIT_OK) {
        cli_errf("%s: %s: out of memory printing the record", c->prog, c->cmd);
        return ex;
    }
    for (i = 0; i < n; i++)
        any |= vault_result_effect(r, i) != VAULT_EFFECT_DENY;
    return any || n == 0 ? EXIT_OK : EXIT_DENIED;
}

/* Split "a,b,c" into fields (in place). */
static int split_fields(cli *c, char *list, const char **out, size_t *n)
{
    char *p = list, *comma;

    *n = 0;
    while (p && *p) {
        if (*n == MAX_FIELDS)
            return cli_usage_error(c, "at most %d fields at once", MAX_FIELDS);
        comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p)
            out[(*n)++] = p;
        p = comma ? comma + 1 : NULL;
    }
    if (*n == 0) /* "" or ",,": nothing to read, which is not "all fields" */
        return cli_usage_error(c, "--fields names no field (give F1,F2,... or leave it out for all)");
    return EXIT_OK;
}

int cmd_record(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"in", required_argument, NULL, 'i'},
                                         {"input", required_argument, NULL, 'I'},
                                         {"fields", required_argument, NULL, 'F'},
                                         {"field", required_argument, NULL, 'f'},
                                         {"value", required_argument, NULL, 'v'},
                                         {"value-stdin", no_argument, NULL, 'S'},
                                         {NULL, 0, NULL, 0}};
    const char *in = NULL, *input = NULL, *field = NULL, *value = NULL, *sub;
    char *fields_arg = NULL, *stdin_value = NULL;
    const char *flist[MAX_FIELDS];
    size_t nf = 0, i, count = 0, value_len = 0;
    vault *v = NULL;
    vault_session *s = NULL;
    vault_result *res = NULL;
    char id[VAULT_ID_HEX_SIZE], *ids = NULL;
    kv k;
    int opt, r, rc = VAULT_OK, ex = EXIT_OK, first_arg, value_stdin = 0;

    memset(&k, 0, sizeof k);
    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        switch (opt) {
        case OPT_HELP: return cli_help_for("record");
        case 'i': in = optarg; break;
        case 'I': input = optarg; break;
        case 'F': fields_arg = optarg; break;
        case 'f': field = optarg; break;
        case 'v': value = optarg; break;
        case 'S': value_stdin = 1; break;
        default:
            if ((r = cli_global_option(c, opt, optarg)) <= 0)
                return r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option");
        }
    }
    sub = optind < argc ? argv[optind] : NULL;
    if (!sub)
        return cli_usage_error(c, "say add, get, find, update or erase");
    first_arg = optind + 1;
    if (value_stdin && strcmp(sub, "find") != 0) {
        c->cmd = "record";
        return cli_usage_error(c, "--value-stdin is for record find");
    }
    if (strcmp(sub, "add") == 0) {
        c->cmd = "record add";
        if (!in)
            return cli_usage_error(c, "--in JURISDICTION (where the resident lives) is required");
        for (i = (size_t)first_arg; i < (size_t)argc; i++)
            if ((ex = kv_add_arg(c, &k, argv[i])) != EXIT_OK)
                goto out;
    } else if (strcmp(sub, "update") == 0) {
        c->cmd = "record update";
        if (first_arg >= argc)
            return cli_usage_error(c, "which record? give its id");
        for (i = (size_t)first_arg + 1; i < (size_t)argc; i++)
            if ((ex = kv_add_arg(c, &k, argv[i])) != EXIT_OK)
                goto out;
    } else if (strcmp(sub, "get") == 0 || strcmp(sub, "erase") == 0) {
        c->cmd = strcmp(sub, "get") == 0 ? "record get" : "record erase";
        if (first_arg >= argc)
            return cli_usage_error(c, "which record? give its id");
        if (first_arg + 1 < argc)
            return cli_usage_error(c, "unexpected argument '%s'", argv[first_arg + 1]);
        if (fields_arg && (ex = split_fields(c, fields_arg, flist, &nf)) != EXIT_OK)
            return ex;
    } else if (strcmp(sub, "find") == 0) {
        c->cmd = "record find";
        if (!field || !value == !value_stdin)
            return cli_usage_error(c, "--field F and one of --value V or --value-stdin are required");
        if (first_arg < argc)
            return cli_usage_error(c, "unexpected argument '%s'", argv[first_arg]);
    } else {
        c->cmd = "record";
        return cli_usage_error(c, "unknown subcommand '%s'", sub);
    }
    if (input && (ex = kv_add_json(c, &k, input)) != EXIT_OK)
        goto out;
    if (value_stdin) {
        if ((ex = read_value_stdin(c, &stdin_value, &value_len)) != EXIT_OK)
            goto out;
        value = stdin_value;
    } else if (value) {
        value_len = strlen(value);
    }
    if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
        goto out;
    if ((ex = cli_open_session(&s, v, c)) != EXIT_OK)
        goto out;

    if (strcmp(sub, "add") == 0) {
        rc = vault_record_add(id, sizeof id, s, in, k.n, k.fields, k.values, k.lens);
        if (rc == VAULT_OK) {
            if (c->json) {
                json_t *o = json_pack("{s:s, s:I}", "record", id, "fields", (json_int_t)k.n);
                json_dumpf(o, stdout, JSON_INDENT(2));
                fputc('\n', stdout);
                json_decref(o);
            } else
                printf("%s\n", id);
        }
    } else if (strcmp(sub, "update") == 0) {
        rc = vault_record_update(s, argv[first_arg], k.n, k.fields, k.values, k.lens);
        if (rc == VAULT_OK && c->json)
            ex = cli_print_pack(c, "{s:s, s:I}", "record", argv[first_arg], "updated",
                                (json_int_t)k.n);
        else if (rc == VAULT_OK)
            printf("updated %zu field%s\n", k.n, k.n == 1 ? "" : "s");
    } else if (strcmp(sub, "get") == 0) {
        rc = vault_record_get(&res, s, argv[first_arg], fields_arg ? flist : NULL, nf);
        if (rc == VAULT_OK)
            ex = print_result(c, argv[first_arg], res);
    } else if (strcmp(sub, "erase") == 0) {
        rc = vault_record_erase(s, argv[first_arg]);
        if (rc == VAULT_OK && c->json)
            ex = cli_print_pack(c, "{s:s, s:b}", "record", argv[first_arg], "erased", 1);
        else if (rc == VAULT_OK)
            printf("erased %s\n", argv[first_arg]);
    } else {
        rc = vault_record_find(&ids, &count, s, field, value, value_len);
        if (rc == VAULT_OK && c->json) {
            json_t *arr = json_array();
            for (i = 0; i < count; i++)
                json_array_append_new(arr, json_string(ids + i * VAULT_ID_HEX_SIZE));
            json_dumpf(arr, stdout, JSON_INDENT(2));
            fputc('\n', stdout);
            json_decref(arr);
        } else if (rc == VAULT_OK) {
            for (i = 0; i < count; i++)
                printf("%s\n", ids + i * VAULT_ID_HEX_SIZE);
        }
        vault_free(ids);
    }
    if (rc < 0)
        ex = cli_fail(c, rc);
out:
    vault_result_free(res);
    vault_session_close(s);
    vault_close(v);
    kv_free(&k);
    value_free(stdin_value, value_len);
    return ex;
}

/* vaultctl grant, grant approve, revoke, grants, break-glass, export. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"

#define MAX_ITEMS 256

/* Split "a,b,c" in place. */
static int split(cli *c, char *list, const char **out, size_t *n, const char *what)
{
    char *p = list, *comma;

    *n = 0;
    while (p && *p) {
        if (*n == MAX_ITEMS)
            return cli_usage_error(c, "at most %d %s", MAX_ITEMS, what);
        comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p)
            out[(*n)++] = p;
        p = comma ? comma + 1 : NULL;
    }
    return EXIT_OK;
}

/* "read,search,export" -> VAULT_ACTION_* bits; EXIT_OK or EXIT_USAGE. */
static int parse_actions(cli *c, char *list, unsigned *out)
{
    static const struct {
        const char *name;
        int action;
    } names[] = {{"read", VAULT_ACTION_READ},
                 {"search", VAULT_ACTION_SEARCH},
                 {"export", VAULT_ACTION_EXPORT}};
    const char *items[MAX_ITEMS];
    size_t n = 0, i, k;
    int ex;

    *out = 0;
    if ((ex = split(c, list, items, &n, "actions")) != EXIT_OK)
        return ex;
    if (n == 0)
        return cli_usage_error(c, "--actions takes read, search and/or export");
    for (i = 0; i < n; i++) {
        for (k = 0; k < sizeof names / sizeof names[0]; k++)
            if (strcmp(items[i], names[k].name) == 0)
                break;
        if (k == sizeof names / sizeof names[0])
            return cli_usage_error(c, "--actions: a grant may allow read, search or export only");
        *out |= 1u << names[k].action;
    }
    return EXIT_OK;
}

/* Print the grant's warnings (deny rules that make it useless) on
 * standard error, one escaped line each.  The grant stands either way. */
static void print_warnings(const cli *c, vault *v, const char *id)
{
    char *w = NULL, *line, *nl;

    if (vault_grant_warnings(&w, v, id) < 0) {
        cli_errf("%s: warning: could not check grant %s against the deny rules: %s",
                c->prog, id, vault_error_last());
        return;
    }
    for (line = w; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        cli_errf("%s", line); /* escaped there */
    }
    vault_free(w);
}

/* Parse options common to these commands; returns -1 to go on, else an exit code. */
static int parse_global(cli *c, int opt, const char *name)
{
    int r;

    if (opt == OPT_HELP)
        return cli_help_for(name);
    if ((r = cli_global_option(c, opt, optarg)) <= 0)
        return r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option");
    return -1;
}

int cmd_grant(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"to-user", required_argument, NULL, 'u'},
                                         {"to-role", required_argument, NULL, 'r'},
                                         {"to-dept", required_argument, NULL, 'd'},
                                         {"mask", no_argument, NULL, 'm'},
                                         {"fields", required_argument, NULL, 'f'},
                                         {"grades", required_argument, NULL, 'g'},
                                         {"records", required_argument, NULL, 'R'},
                                         {"in", required_argument, NULL, 'i'},
                                         {"purposes", required_argument, NULL, 'p'},
                                         {"from", required_argument, NULL, 'F'},
                                         {"until", required_argument, NULL, 'U'},
                                         {"for", required_argument, NULL, 'D'},
                                         {"reason", required_argument, NULL, 'x'},
                                         {"actions", required_argument, NULL, 'a'},
                                         {NULL, 0, NULL, 0}};
    vault_grant_spec spec = VAULT_GRANT_SPEC_INIT;
    const char *fields[MAX_ITEMS], *records[MAX_ITEMS], *purposes[MAX_ITEMS];
    char *fl = NULL, *rl = NULL, *pl = NULL, *al = NULL, *grades = NULL, *dots;
    const char *from = NULL, *until = NULL, *dur = NULL;
    vault *v = NULL;
    vault_session *s = NULL;
    char id[VAULT_NAME_MAX];
    int opt, ex = EXIT_OK, rc, pending = 0;
    int64_t d;

    spec = (vault_grant_spec)VAULT_GRANT_SPEC_INIT;
    spec.effect = VAULT_EFFECT_ALLOW;
    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        switch (opt) {
        case 'u': spec.user = optarg; break;
        case 'r': spec.role = optarg; break;
        case 'd': spec.department = optarg; break;
        case 'm': spec.effect = VAULT_EFFECT_MASK; break;
        case 'f': fl = optarg; break;
        case 'g': grades = optarg; break;
        case 'R': rl = optarg; break;
        case 'i': spec.jurisdiction = optarg; break;
        case 'p': pl = optarg; break;
        case 'F': from = optarg; break;
        case 'U': until = optarg; break;
        case 'D': dur = optarg; break;
        case 'x': spec.reason = optarg; break;
        case 'a': al = optarg; break;
        default:
            if ((ex = parse_global(c, opt, "grant")) >= 0)
                return ex;
        }
    }
    if (optind < argc && strcmp(argv[optind], "approve") == 0) {
        c->cmd = "grant approve";
        if (optind + 1 >= argc)
            return cli_usage_error(c, "which grant? give its id");
        if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
            return ex;
        if ((ex = cli_open_session(&s, v, c)) == EXIT_OK) {
            rc = vault_grant_approve(s, argv[optind + 1]);
            if (rc < 0) {
                ex = cli_fail(c, rc);
            } else {
                if (c->json)
                    ex = cli_print_pack(c, "{s:s, s:b}", "grant", argv[optind + 1], "approved", 1);
                else
                    printf("approved %s\n", argv[optind + 1]);
                fflush(stdout);
                print_warnings(c, v, argv[optind + 1]);
            }
        }
        goto out;
    }
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    if (!spec.reason)
        return cli_usage_error(c, "--reason TEXT is required");
    if (fl && (ex = split(c, fl, fields, &spec.nfields, "fields")) != EXIT_OK)
        return ex;
    if (rl && (ex = split(c, rl, records, &spec.nrecords, "records")) != EXIT_OK)
        return ex;
    if (pl && (ex = split(c, pl, purposes, &spec.npurposes, "purposes")) != EXIT_OK)
        return ex;
    if (al && (ex = parse_actions(c, al, &spec.actions)) != EXIT_OK)
        return ex;
    spec.fields = fields;
    spec.records = records;
    spec.purposes = purposes;
    if (grades) {
        dots = strstr(grades, "..");
        if (!dots)
            return cli_usage_error(c, "--grades takes MIN..MAX, e.g. public..personal");
        *dots = '\0';
        spec.grade_min = *grades ? grades : NULL;
        spec.grade_max = dots[2] ? dots + 2 : NULL;
    }
    if (!fl && !grades)
        return cli_usage_error(c, "say what: --fields or --grades");
    if (from && (ex = cli_time_option(c, "--from", from, &spec.not_before)) != EXIT_OK)
        return ex;
    if (!!until == !!dur)
        return cli_usage_error(c, "give one of --until TIME or --for DURATION");
    if (until && (ex = cli_time_option(c, "--until", until, &spec.not_after)) != EXIT_OK)
        return ex;
    if (dur) {
        if ((d = cli_parse_duration(dur)) < 0)
            return cli_usage_error(c, "--for takes a duration like 45m, 8h or 7d");
        spec.not_after = (spec.not_before ? spec.not_before : (int64_t)time(NULL)) + d;
    }
    if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
        return ex;
    if ((ex = cli_open_session(&s, v, c)) != EXIT_OK)
        goto out;
    rc = vault_grant_issue(id, sizeof id, &pending, s, &spec);
    if (rc < 0) {
        ex = cli_fail(c, rc);
    } else if (c->json) {
        json_t *o = json_pack("{s:s, s:b}", "grant", id, "pending", pending);
        json_dumpf(o, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(o);
    } else {
        printf("%s%s\n", id, pending ? " (pending: needs a second officer's approval)" : "");
    }
    if (rc >= 0) {
        fflush(stdout);
        print_warnings(c, v, id);
    }
out:
    vault_session_close(s);
    vault_close(v);
    return ex;
}

int cmd_revoke(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"reason", required_argument, NULL, 'x'},
                                         {NULL, 0, NULL, 0}};
    const char *reason = NULL;
    vault *v = NULL;
    vault_session *s = NULL;
    int opt, ex = EXIT_OK, rc;

    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        if (opt == 'x')
            reason = optarg;
        else if ((ex = parse_global(c, opt, "revoke")) >= 0)
            return ex;
    }
    if (optind >= argc)
        return cli_usage_error(c, "which grant? give its id");
    if (!reason)
        return cli_usage_error(c, "--reason TEXT is required");
    if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
        return ex;
    if ((ex = cli_open_session(&s, v, c)) == EXIT_OK) {
        rc = vault_grant_revoke(s, argv[optind], reason);
        if (rc < 0)
            ex = cli_fail(c, rc);
        else if (c->json)
            ex = cli_print_pack(c, "{s:s, s:b}", "grant", argv[optind], "revoked", 1);
        else
            printf("revoked %s\n", argv[optind]);
    }
    vault_session_close(s);
    vault_close(v);
    return ex;
}

int cmd_grants(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"active", no_argument, NULL, 'a'},
                                         {NULL, 0, NULL, 0}};
    int opt, ex = EXIT_OK, rc, active = 0;
    vault *v = NULL;
    char *out = NULL;

    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        if (opt == 'a')
            active = 1;
        else if ((ex = parse_global(c, opt, "grants")) >= 0)
            return ex;
    }
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
        return ex;
    rc = vault_grant_list(&out, v, active, c->json);
    if (rc < 0) {
        ex = cli_fail(c, rc);
    } else {
        if (c->json)
            fputs(out, stdout);
        else
            cli_put_times(stdout, c, out);
        if (c->json)
            fputc('\n', stdout);
        else if (!*out)
            cli_errf("(no grants)");
    }
    vault_free(out);
    vault_close(v);
    return ex;
}

int cmd_break_glass(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"record", required_argument, NULL, 'r'},
                                         {"reason", required_argument, NULL, 'x'},
                                         {"for", required_argument, NULL, 'D'},
                                         {NULL, 0, NULL, 0}};
    const char *record = NULL, *reason = NULL, *dur = NULL;
    vault *v = NULL;
    vault_session *s = NULL;
    int opt, ex = EXIT_OK, rc;
    int64_t secs = 0;
    char id[VAULT_NAME_MAX];

    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        if (opt == 'r')
            record = optarg;
        else if (opt == 'x')
            reason = optarg;
        else if (opt == 'D')
            dur = optarg;
        else if ((ex = parse_global(c, opt, "break-glass")) >= 0)
            return ex;
    }
    if (!record)
        return cli_usage_error(c, "--record ID is required");
    if (!reason || !*reason)
        return cli_usage_error(c, "--reason TEXT is required: break-glass is reviewed");
    if (dur && (secs = cli_parse_duration(dur)) < 0)
        return cli_usage_error(c, "--for takes a duration like 30m or 2h");
    if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
        return ex;
    if ((ex = cli_open_session(&s, v, c)) == EXIT_OK) {
        rc = vault_break_glass(id, sizeof id, s, record, reason, secs);
        if (rc < 0)
            ex = cli_fail(c, rc);
        else if (c->json)
            ex = cli_print_pack(c, "{s:s, s:s, s:b}", "grant", id, "record", record, "flagged", 1);
        else
            printf("%s: record %s open for break-glass; every access is flagged for review\n", id,
                   record);
    }
    vault_session_close(s);
    vault_close(v);
    return ex;
}

int cmd_export(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"record", required_argument, NULL, 'r'},
                                         {"out", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    const char *record = NULL, *out_path = NULL;
    vault *v = NULL;
    vault_session *s = NULL;
    char *doc = NULL, *safe = NULL;
    int opt, ex = EXIT_OK, rc;
    FILE *f = NULL;

    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        if (opt == 'r')
            record = optarg;
        else if (opt == 'o')
            out_path = optarg;
        else if ((ex = parse_global(c, opt, "export")) >= 0)
            return ex;
    }
    if (!record)
        return cli_usage_error(c, "--record ID is required");
    /* Refuse a taken --out name before anything is read (and logged). */
    if (out_path && (ex = cli_file_create(&f, c, out_path)) != EXIT_OK)
        return ex;
    if ((ex = cli_open_vault(&v, c)) == EXIT_OK && (ex = cli_open_session(&s, v, c)) == EXIT_OK) {
        rc = vault_record_export(&doc, s, record);
        if (rc < 0) {
            ex = cli_fail(c, rc);
        } else if (!(safe = cli_escape(doc, strlen(doc), CLI_ESC_JSON))) {
            cli_errf("%s: export: out of memory", c->prog);
            ex = EXIT_FAIL;
        } else {
            fprintf(f ? f : stdout, "%s\n", safe);
        }
    }
    if (f && cli_file_finish(c, f, out_path, ex == EXIT_OK) != EXIT_OK && ex == EXIT_OK)
        ex = EXIT_FAIL; /* the write itself failed */
    else if (f && ex == EXIT_OK && c->json) /* the copy went to --out */
        ex = cli_print_pack(c, "{s:s, s:s}", "export", record, "out", out_path);
    cli_text_free(safe);
    vault_free(doc);
    vault_session_close(s);
    vault_close(v);
    return ex;
}

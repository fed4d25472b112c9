/* vaultctl policy check|apply|show|explain|who-can. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

static int parse_action(const char *name)
{
    static const char *const names[] = {"read", "write", "create", "search", "erase", "export"};
    static const int codes[] = {VAULT_ACTION_READ, VAULT_ACTION_WRITE, VAULT_ACTION_CREATE,
                                VAULT_ACTION_SEARCH, VAULT_ACTION_ERASE, VAULT_ACTION_EXPORT};
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return codes[i];
    return -1;
}

static int do_check(cli *c, const char *file)
{
    char *report = NULL;
    int rc = vault_policy_check(&report, file);

    if (c->json) {
        json_t *diags = json_array();
        char *line = report, *nl;
        while (line && *line) {
            nl = strchr(line, '\n');
            json_array_append_new(diags, json_stringn(line, nl ? (size_t)(nl - line) : strlen(line)));
            line = nl ? nl + 1 : NULL;
        }
        json_t *o = json_pack("{s:s, s:b, s:o}", "file", file, "valid", rc == VAULT_OK,
                              "diagnostics", diags);
        cli_print_json(stdout, o);
        json_decref(o);
    } else {
        /* The report quotes the file: escaped, line by line. */
        if (report && *report)
            cli_put_lines(stderr, report);
        if (rc == VAULT_OK) {
            cli_put_lines(stdout, file);
            printf(": valid\n");
        }
        else if (!report || !*report)
            cli_errf("%s: %s", c->prog, vault_error_last());
    }
    free(report);
    return rc == VAULT_OK ? EXIT_OK : cli_exit_code(rc);
}

/* The library's text as an array of its lines (no newlines). */
static json_t *lines_array(const char *text)
{
    json_t *arr = json_array();
    const char *line = text, *nl;

    while (arr && line && *line) {
        nl = strchr(line, '\n');
        if (json_array_append_new(arr, json_stringn(line, nl ? (size_t)(nl - line) : strlen(line))) != 0) {
            json_decref(arr);
            return NULL;
        }
        line = nl ? nl + 1 : NULL;
    }
    return arr;
}

/* policy apply --json: {"applied": FILE, "changes": [report lines]}. */
static int print_apply_json(cli *c, const char *file, const char *report)
{
    json_t *changes = lines_array(report);

    if (!changes)
        return cli_fail(c, VAULT_ENOMEM);
    return cli_print_pack(c, "{s:s, s:o}", "applied", file, "changes", changes);
}

/* policy explain --json: the decision from the report's last line,
 * "decision: EFFECT by rule ID (FILE:LINE)", "EFFECT by grant ID" or
 * "deny: why" (policy_reason_fill), and every line of the report. */
static int print_explain_json(cli *c, const char *report)
{
    char effect[16] = "", rule[VAULT_NAME_MAX] = "", where[VAULT_NAME_MAX + 32] = "",
         grant[VAULT_NAME_MAX] = "";
    const char *d = strstr(report, "\ndecision: "), *p, *end;
    size_t n;
    json_t *lines;

    if (!d) {
        cli_errf("%s: %s: the explanation has no decision line", c->prog, c->cmd);
        return EXIT_FAIL;
    }
    d += strlen("\ndecision: ");
    end = strchr(d, '\n');
    if (!end)
        end = d + strlen(d);
    n = strcspn(d, " :\n");
    snprintf(effect, sizeof effect, "%.*s", (int)n, d);
    if ((p = strstr(d, " by rule ")) && p < end) {
        const char *open;
        p += strlen(" by rule ");
        open = strstr(p, " (");
        if (open && open < end && end[-1] == ')') {
            snprintf(rule, sizeof rule, "%.*s", (int)(open - p), p);
            snprintf(where, sizeof where, "%.*s", (int)(end - 1 - (open + 2)), open + 2);
        }
    } else if ((p = strstr(d, " by grant ")) && p < end) {
        p += strlen(" by grant ");
        snprintf(grant, sizeof grant, "%.*s", (int)(end - p), p);
    }
    if (!(lines = lines_array(report)))
        return cli_fail(c, VAULT_ENOMEM);
    return cli_print_pack(c, "{s:s, s:s, s:s, s:s, s:s%, s:o}", "decision", effect, "rule", rule,
                          "where", where, "grant", grant, "reason", d, (size_t)(end - d),
                          "lines", lines);
}

int cmd_policy(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"record", required_argument, NULL, 'r'},
                                         {"field", required_argument, NULL, 'f'},
                                         {"action", required_argument, NULL, 'a'},
                                         {NULL, 0, NULL, 0}};
    const char *record = NULL, *field = NULL, *action_name = "read", *sub;
    vault *v = NULL;
    vault_session *s = NULL;
    char *out = NULL;
    char hash[65];
    int opt, r, rc = VAULT_OK, ex = EXIT_OK, action;

    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        if (opt == OPT_HELP)
            return cli_help_for("policy");
        if (opt == 'r')
            record = optarg;
        else if (opt == 'f')
            field = optarg;
        else if (opt == 'a')
            action_name = optarg;
        else if ((r = cli_global_option(c, opt, optarg)) <= 0)
            return r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option");
    }
    sub = optind < argc ? argv[optind] : NULL;
    if (!sub)
        return cli_usage_error(c, "say check, apply, show, explain or who-can");
    if (strcmp(sub, "check") == 0) {
        c->cmd = "policy check";
        if (optind + 1 >= argc)
            return cli_usage_error(c, "which file?");
        return do_check(c, argv[optind + 1]);
    }
    if (strcmp(sub, "apply") == 0) {
        c->cmd = "policy apply";
        if (optind + 1 >= argc)
            return cli_usage_error(c, "which file?");
        if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
            return ex;
        rc = vault_policy_apply(&out, v, argv[optind + 1]);
        if (rc == VAULT_OK && c->json) {
            ex = print_apply_json(c, argv[optind + 1], out);
        } else if (rc == VAULT_OK) {
            printf("applied ");
            cli_put_lines(stdout, argv[optind + 1]);
            printf("\n");
            if (out && *out)
                cli_put_lines(stdout, out);
            else
                printf("no (role, department, field) read access or app changes\n");
        }
    } else if (strcmp(sub, "show") == 0) {
        c->cmd = "policy show";
        if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
            return ex;
        rc = vault_policy_source(&out, hash, sizeof hash, v);
        if (rc == VAULT_OK && c->json) {
            json_t *o = json_pack("{s:s, s:s}", "sha256", hash, "source", out);
            cli_print_json(stdout, o);
            json_decref(o);
        } else if (rc == VAULT_OK) {
            printf("# sha256 %s\n", hash);
            cli_put_lines(stdout, out); /* a stored policy may hold bidi text */
        }
    } else if (strcmp(sub, "explain") == 0) {
        c->cmd = "policy explain";
        if (!record)
            return cli_usage_error(c, "--record ID is required");
        if ((action = parse_action(action_name)) < 0)
            return cli_usage_error(c, "unknown action '%s'", action_name);
        if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
            return ex;
        if ((ex = cli_open_session(&s, v, c)) != EXIT_OK)
            goto out;
        rc = vault_explain(&out, s, action, record, field);
        if (rc == VAULT_OK && c->json) {
            ex = print_explain_json(c, out);
        } else if (rc == VAULT_OK) {
            /* Grant windows in it: local under --local / TZ. */
            char *local = c->local ? cli_time_localize(out) : NULL;
            cli_put_lines(stdout, local ? local : out);
            free(local);
        }
    } else if (strcmp(sub, "who-can") == 0) {
        c->cmd = "policy who-can";
        if (!field)
            return cli_usage_error(c, "--field F is required");
        if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
            return ex;
        rc = vault_who_can(&out, v, field, record, c->json);
        if (rc == VAULT_OK) {
            char *local = c->local && !c->json ? cli_time_localize(out) : NULL;
            char *safe = local ? cli_escape(local, strlen(local), CLI_ESC_LINES)
                               : cli_escape(out, strlen(out), c->json ? CLI_ESC_JSON : CLI_ESC_LINES);
            free(local);
            fputs(safe ? safe : "", stdout);
            cli_text_free(safe);
            if (*out && out[strlen(out) - 1] != '\n')
                fputc('\n', stdout);
        }
    } else {
        c->cmd = "policy";
        return cli_usage_error(c, "unknown subcommand '%s'", sub);
    }
    if (rc < 0)
        ex = cli_fail(c, rc);
out:
    vault_free(out);
    vault_session_close(s);
    vault_close(v);
    return ex;
}

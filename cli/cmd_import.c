/* vaultctl import FILE.csv: residents from CSV, all or nothing. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

int cmd_import(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS, {NULL, 0, NULL, 0}};
    const char *file;
    vault *v = NULL;
    vault_session *s = NULL;
    size_t count = 0;
    int opt, r, rc, ex = EXIT_OK;
    cli_progress bar;

    c->cmd = "import";
    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        if (opt == OPT_HELP)
            return cli_help_for("import");
        if ((r = cli_global_option(c, opt, optarg)) <= 0)
            return r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option");
    }
    if (optind >= argc)
        return cli_usage_error(c, "which file? give FILE.csv");
    file = argv[optind];
    if (optind + 1 < argc)
        return cli_usage_error(c, "unexpected argument '%s' (one file at a time)",
                               argv[optind + 1]);
    if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
        goto out;
    if ((ex = cli_open_session(&s, v, c)) != EXIT_OK)
        goto out;
    /* The total is not known before the file is read: a count. */
    cli_progress_start(&bar, "importing", "records");
    rc = vault_import_csv(&count, s, file, cli_progress_fn, &bar);
    cli_progress_end(&bar);
    if (rc < 0) {
        ex = cli_fail(c, rc);
        goto out;
    }
    if (c->json) {
        json_t *o = json_pack("{s:I}", "imported", (json_int_t)count);
        cli_print_json(stdout, o);
        json_decref(o);
    } else {
        char line[1200];
        snprintf(line, sizeof line, "imported %zu record%s from %s\n", count,
                 count == 1 ? "" : "s", file);
        cli_put_lines(stdout, line); /* the file name as typed: escaped */
    }
out:
    vault_session_close(s);
    vault_close(v);
    return ex;
}

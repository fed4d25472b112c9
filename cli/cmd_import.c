/* vaultctl import FILE.csv: residents from CSV, all or nothing. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

static const char import_help[] =
    "usage: vaultctl [subject] import FILE.csv\n"
    "\n"
    "Adds one resident record per CSV row, as the acting subject (--user U --role R\n"
    "--dept D --jurisdiction J --purpose P).  The first row names the columns: fields of\n"
    "the vault's policy, plus one column named `jurisdiction` giving where each resident\n"
    "lives.  Cells are RFC 4180 CSV (quote cells holding commas, quotes or line breaks;\n"
    "double the quotes inside), UTF-8 with an optional byte order mark.  An empty cell\n"
    "leaves that field unset.\n"
    "\n"
    "All or nothing: the file is imported in one transaction.  The first bad row,\n"
    "unknown or duplicate column, or denied create or write stops the import with\n"
    "FILE:ROW:COL: message on standard error (ROW counts records, the header is row 1;\n"
    "COL counts cells from 1), and no record is added.  Messages never show values.\n"
    "Each record created gets its own audit entry; a denial is logged as well.\n"
    "A progress line is shown on standard error when it is a terminal.\n"
    "Format, limits and messages: docs/import.md.\n"
    "\n"
    "Exit codes: 0 imported, 7 invalid file (bad row, column or value), 4 denied,\n"
    "5 no such file, 1 other failure.  --json prints {\"imported\": N}.\n"
    "\n"
    "example:\n"
    "  $ cat residents.csv\n"
    "  jurisdiction,name,phone,address\n"
    "  hangzhou/gongshu/xiaohe/changzheng/grid-07,张三,13812345678,\"长征路12号3单元501\"\n"
    "  $ vaultctl --vault v --key-file k --user li --role data_officer --dept street_office \\\n"
    "      --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service \\\n"
    "      import residents.csv\n"
    "  imported 1 record from residents.csv\n";

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
            return cli_help(import_help);
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

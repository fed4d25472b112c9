/* vaultctl retention plan|run: the policy's retention schedules
 * (docs/policy-format.md "Retention"): what is due now, and erasing it
 * through the logged erase path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_retention(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS, {NULL, 0, NULL, 0}};
    const char *sub;
    char *text = NULL;
    vault *v = NULL;
    int opt, r, rc = VAULT_OK, ex = EXIT_OK, run;

    c->cmd = "retention";
    /* The leaf first, so --help after it shows the leaf's page. */
    sub = argc > 1 && argv[1][0] != '-' ? argv[1] : NULL;
    if (sub && strcmp(sub, "plan") != 0 && strcmp(sub, "run") != 0)
        return cli_usage_error(c, "say plan or run: vaultctl retention plan");
    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        if (opt == OPT_HELP)
            return cli_help_for(sub ? (strcmp(sub, "run") == 0 ? "retention run"
                                                               : "retention plan")
                                    : "retention");
        if ((r = cli_global_option(c, opt, optarg)) <= 0)
            return r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option or missing value");
    }
    if (optind >= argc)
        return cli_usage_error(c, "say plan or run: vaultctl retention plan");
    sub = argv[optind];
    if (strcmp(sub, "plan") != 0 && strcmp(sub, "run") != 0)
        return cli_usage_error(c, "say plan or run: vaultctl retention plan");
    if (optind + 1 < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind + 1]);
    run = strcmp(sub, "run") == 0;
    c->cmd = run ? "retention run" : "retention plan";
    if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
        goto out;
    rc = run ? vault_retention_run(&text, v, c->json) : vault_retention_plan(&text, v, c->json);
    if (rc < 0) {
        ex = cli_fail(c, rc);
        goto out;
    }
    fputs(text, stdout);
    if (c->json)
        fputc('\n', stdout);
out:
    vault_free(text);
    vault_close(v);
    return ex;
}

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

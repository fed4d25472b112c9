/* vaultctl witness keygen|pubkey|serve|submit|verify: an independent C2SP
 * tlog-witness for audit logs (witness/, docs/witness.md). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../witness/witness.h"
#include "cli.h"

#define TEXT_MAX 65536 /* checkpoint, proof and note files read whole */
#define LOGS_MAX WITNESS_LOGS_MAX

enum { OPT_NAME = OPT__GLOBAL_END, OPT_OUT, OPT_STATE, OPT_LISTEN, OPT_LOG, OPT_URL, OPT_WITNESS,
       OPT_CHECKPOINT, OPT_OLD, OPT_PROOF };

typedef struct witness_args {
    const char *name, *out, *key, *state, *listen, *url, *wvkey, *checkpoint, *old, *proof,
        *file;
    const char *logs[LOGS_MAX];
    size_t nlogs;
} witness_args;

/* A small text file, whole, NUL-terminated (malloc'ed). */
static int read_text(const cli *c, char **out, size_t *len, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n;

    *out = NULL;
    if (!f) {
        cli_errf("%s: %s: %s: cannot open: %s", c->prog, c->cmd, path, strerror(errno));
        return errno == ENOENT ? EXIT_NOTFOUND : EXIT_FAIL;
    }
    buf = malloc(TEXT_MAX + 1);
    n = buf ? fread(buf, 1, TEXT_MAX + 1, f) : 0;
    if (!buf || ferror(f) || n > TEXT_MAX) {
        cli_errf("%s: %s: %s: cannot read (or over %d bytes)", c->prog, c->cmd, path, TEXT_MAX);
        fclose(f);
        free(buf);
        return EXIT_INVALID;
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return EXIT_OK;
}

static int do_keygen(cli *c, const witness_args *a)
{
    char vkey[WITNESS_VKEY_MAX];
    int rc;

    if (!a->name || !a->out)
        return cli_usage_error(c, "keygen needs --name NAME and --out FILE");
    if ((rc = witness_key_generate(vkey, sizeof vkey, a->name, a->out)) < 0)
        return cli_fail(c, rc);
    if (c->json)
        return cli_print_pack(c, "{s:s, s:s}", "vkey", vkey, "out", a->out);
    printf("%s\n", vkey);
    return EXIT_OK;
}

static int do_pubkey(cli *c, const witness_args *a)
{
    char vkey[WITNESS_VKEY_MAX];
    int rc;

    if (!a->key)
        return cli_usage_error(c, "pubkey needs --key FILE");
    if ((rc = witness_key_vkey(vkey, sizeof vkey, a->key)) < 0)
        return cli_fail(c, rc);
    if (c->json)
        return cli_print_pack(c, "{s:s}", "vkey", vkey);
    printf("%s\n", vkey);
    return EXIT_OK;
}

static int do_serve(cli *c, const witness_args *a)
{
    witness_config cfg = {a->state, a->key, a->logs, a->nlogs};
    witness *w = NULL;
    witness_http *h = NULL;
    sigset_t set;
    int rc, sig = 0;

    if (c->json) /* a server: its only output is the line naming the port */
        return cli_refuse_json(c);
    if (!a->state || !a->key || !a->listen || a->nlogs == 0)
        return cli_usage_error(c, "serve needs --state DIR, --key FILE, --listen HOST:PORT and "
                                  "at least one --log VKEY");
    /* Signals go to sigwait below, not to libmicrohttpd's threads. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if ((rc = witness_open(&w, &cfg)) < 0 || (rc = witness_http_start(&h, w, a->listen)) < 0) {
        witness_close(w);
        return cli_fail(c, rc);
    }
    printf("listening on %.*s:%u\n", (int)(strrchr(a->listen, ':') - a->listen), a->listen,
           witness_http_port(h));
    fflush(stdout);
    fprintf(stderr, "witness %s: %zu log(s), state in %s\n", witness_name(w), a->nlogs, a->state);
    sigwait(&set, &sig);
    fprintf(stderr, "witness %s: stopping (signal %d)\n", witness_name(w), sig);
    witness_http_stop(h);
    witness_close(w);
    return EXIT_OK;
}

static int parse_old(uint64_t *out, const char *s)
{
    char *end = NULL;

    errno = 0;
    if (!s || !*s || *s == '-' || *s == '+')
        return 0;
    *out = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0';
}

static int do_submit(cli *c, const witness_args *a)
{
    char *note = NULL, *proof = NULL, *line = NULL;
    size_t nlen = 0, plen = 0;
    uint64_t old = 0, size = 0;
    int rc, ex;

    if (!a->url || !a->wvkey || !a->checkpoint)
        return cli_usage_error(c, "submit needs --url URL, --witness VKEY and --checkpoint FILE");
    if (a->old && !parse_old(&old, a->old))
        return cli_usage_error(c, "--old wants a tree size (decimal)");
    if ((ex = read_text(c, &note, &nlen, a->checkpoint)) != EXIT_OK)
        goto out;
    if (a->proof && (ex = read_text(c, &proof, &plen, a->proof)) != EXIT_OK)
        goto out;
    rc = witness_submit_text(&line, &size, a->url, a->wvkey, old, proof, plen, note, nlen);
    if (rc < 0) {
        ex = cli_fail(c, rc);
        goto out;
    }
    if (c->json) {
        size_t n = strlen(line);
        while (n && line[n - 1] == '\n')
            n--;
        ex = cli_print_pack(c, "{s:s%, s:I}", "cosignature", line, n, "size", (json_int_t)size);
    } else {
        fputs(line, stdout);
        ex = EXIT_OK;
    }
out:
    free(note);
    free(proof);
    free(line);
    return ex;
}

static int do_verify(cli *c, const witness_args *a)
{
    char *note = NULL;
    size_t len = 0;
    uint64_t ts = 0;
    int rc, ex;

    if (!a->wvkey || !a->file)
        return cli_usage_error(c, "verify needs --witness VKEY and FILE");
    if ((ex = read_text(c, &note, &len, a->file)) != EXIT_OK)
        return ex;
    rc = witness_note_verify(&ts, note, len, a->wvkey);
    free(note);
    if (rc < 0)
        return cli_fail(c, rc);
    if (c->json)
        return cli_print_pack(c, "{s:b, s:I}", "ok", 1, "cosigned", (json_int_t)ts);
    printf("ok: cosigned at %" PRIu64 " (POSIX time)\n", ts);
    return EXIT_OK;
}

int cmd_witness(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"name", required_argument, NULL, OPT_NAME},
                                         {"out", required_argument, NULL, OPT_OUT},
                                         {"state", required_argument, NULL, OPT_STATE},
                                         {"listen", required_argument, NULL, OPT_LISTEN},
                                         {"log", required_argument, NULL, OPT_LOG},
                                         {"url", required_argument, NULL, OPT_URL},
                                         {"witness", required_argument, NULL, OPT_WITNESS},
                                         {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
                                         {"old", required_argument, NULL, OPT_OLD},
                                         {"proof", required_argument, NULL, OPT_PROOF},
                                         {NULL, 0, NULL, 0}};
    static const char *const subs[] = {"keygen", "pubkey", "serve", "submit", "verify"};
    static char cmdname[32];
    witness_args a;
    const char *sub = NULL;
    int opt, r, i;
    size_t k;

    memset(&a, 0, sizeof a);
    opterr = 0;
    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        switch (opt) {
        case OPT_HELP: return cli_help_for("witness");
        case OPT_NAME: a.name = optarg; continue;
        case OPT_OUT: a.out = optarg; continue;
        case OPT_KEY: a.key = optarg; continue; /* the witness key, not a TLS client key */
        case OPT_STATE: a.state = optarg; continue;
        case OPT_LISTEN: a.listen = optarg; continue;
        case OPT_URL: a.url = optarg; continue;
        case OPT_WITNESS: a.wvkey = optarg; continue;
        case OPT_CHECKPOINT: a.checkpoint = optarg; continue;
        case OPT_OLD: a.old = optarg; continue;
        case OPT_PROOF: a.proof = optarg; continue;
        case OPT_LOG:
            if (a.nlogs == LOGS_MAX)
                return cli_usage_error(c, "more than %d --log keys", LOGS_MAX);
            a.logs[a.nlogs++] = optarg;
            continue;
        default: break;
        }
        if ((r = cli_global_option(c, opt, optarg)) <= 0)
            return r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option or missing value");
    }
    if (!a.key)
        a.key = c->cert_key_file; /* `vaultctl --key FILE witness ...` */
    for (i = optind; i < argc; i++) {
        for (k = 0; !sub && k < sizeof subs / sizeof subs[0]; k++)
            if (strcmp(argv[i], subs[k]) == 0)
                sub = argv[i];
        if (sub == argv[i])
            continue;
        if (sub && strcmp(sub, "verify") == 0 && !a.file) {
            a.file = argv[i];
            continue;
        }
        return cli_usage_error(c, "unexpected argument '%s'", argv[i]);
    }
    if (!sub)
        return cli_usage_error(c, "say 'witness keygen|pubkey|serve|submit|verify'");
    snprintf(cmdname, sizeof cmdname, "witness %s", sub);
    c->cmd = cmdname;
    if (strcmp(sub, "keygen") == 0)
        return do_keygen(c, &a);
    if (strcmp(sub, "pubkey") == 0)
        return do_pubkey(c, &a);
    if (strcmp(sub, "serve") == 0)
        return do_serve(c, &a);
    if (strcmp(sub, "submit") == 0)
        return do_submit(c, &a);
    return do_verify(c, &a);
}

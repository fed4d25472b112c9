/* vaultctl audit verify|checkpoint|pubkey|export|report|anomalies|summary|prove|
 * consistency|check-proof|verify-bundle|witness. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

#define NOTE_MAX (64 * 1024)

/* Read a small text file (notes, keys); NULL and a message on failure. */
static char *read_small(cli *c, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (!f) {
        cli_errf("%s: %s: %s: cannot open", c->prog, c->cmd, path);
        return NULL;
    }
    buf = malloc(NOTE_MAX + 1);
    if (!buf) {
        fclose(f);
        return NULL;
    }
    n = fread(buf, 1, NOTE_MAX + 1, f);
    fclose(f);
    if (n > NOTE_MAX) {
        cli_errf("%s: %s: %s: larger than %d bytes", c->prog, c->cmd, path, NOTE_MAX);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static int write_out(cli *c, const char *path, const char *text)
{
    if (!path) {
        fputs(text, stdout);
        return EXIT_OK;
    }
    return cli_file_write(c, path, text, strlen(text));
}

/* checkpoint and pubkey: the text itself goes to --out FILE (or standard
 * output); with --json, standard output gets {key: text} (and "out": the
 * file when one was written): jtext, the text as a value (the key
 * without the newline the file gets). */
static int write_out_json(cli *c, const char *path, const char *key, const char *text,
                          const char *jtext)
{
    json_t *o;
    int ex = EXIT_OK;

    if (!c->json)
        return write_out(c, path, text);
    if (path && (ex = cli_file_write(c, path, text, strlen(text))) != EXIT_OK)
        return ex;
    o = json_pack("{s:s}", key, jtext);
    if (o && path && json_object_set_new(o, "out", json_string(path)) != 0)
        json_decref(o), o = NULL;
    ex = !o || cli_print_json(stdout, o) < 0 ? EXIT_FAIL : EXIT_OK;
    if (!o)
        cli_errf("vaultctl: %s: the output is not UTF-8: no JSON for it", c->cmd);
    json_decref(o);
    return ex;
}

static int report_verify(cli *c, int rc, const vault_audit_result *r, cli_progress *bar)
{
    char when[40];

    cli_progress_end(bar);
    if (rc < 0 && rc != VAULT_EINTEGRITY)
        return cli_fail(c, rc);
    if (c->json) {
        if (cli_print_pack(c, "{s:b, s:s, s:I, s:I, s:I, s:s, s:I, s:I}", "ok", r->failure == 0,
                           "failure", r->failure_name, "bad_seq", (json_int_t)r->bad_seq,
                           "entries", (json_int_t)r->entries, "checkpoints",
                           (json_int_t)r->checkpoints, "message", r->message, "newest_size",
                           (json_int_t)r->newest_size, "newest_time",
                           (json_int_t)r->newest_time) != EXIT_OK)
            return EXIT_FAIL;
        if (r->failure) /* also said on stderr, as in text mode */
            cli_errf("%s: %s: FAILED: %s at entry %llu: %s", c->prog, c->cmd, r->failure_name,
                     (unsigned long long)r->bad_seq, r->message);
    } else if (r->failure) {
        /* A failure is an error: standard error, the class first. */
        cli_errf("%s: %s: FAILED: %s at entry %llu: %s", c->prog, c->cmd, r->failure_name,
                 (unsigned long long)r->bad_seq, r->message);
    } else {
        printf("ok: %llu entries, %llu signed checkpoints verified\n",
               (unsigned long long)r->entries, (unsigned long long)r->checkpoints);
        if (r->newest_size && r->newest_time > 0) {
            cli_time_format(when, sizeof when, r->newest_time, -1, c->local);
            printf("newest checkpoint: %llu entries, signed %s\n",
                   (unsigned long long)r->newest_size, when);
        }
        if (r->message[0]) /* a note on how, e.g. --since verified in full */
            fprintf(stderr, "vaultctl: %s: %s\n", c->cmd, r->message);
    }
    return r->failure ? EXIT_INTEGRITY : EXIT_OK;
}

/* Read every --checkpoint file; EXIT_OK or the exit code. */
static int read_notes(char ***out, cli *c, const char *const *paths, size_t n)
{
    char **notes = n ? calloc(n, sizeof *notes) : NULL;
    size_t i;

    *out = NULL;
    if (n && !notes)
        return cli_fail(c, VAULT_ENOMEM);
    for (i = 0; i < n; i++)
        if (!(notes[i] = read_small(c, paths[i]))) {
            while (i-- > 0)
                free(notes[i]);
            free(notes);
            return EXIT_FAIL;
        }
    *out = notes;
    return EXIT_OK;
}

/* A sequence number or tree size: decimal digits only. */
static int parse_u64(const cli *c, const char *opt, const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long n;

    if (!s || *s < '0' || *s > '9')
        return cli_usage_error(c, "%s wants a number", opt);
    errno = 0;
    n = strtoull(s, &end, 10);
    if (errno || *end || n > INT64_MAX)
        return cli_usage_error(c, "%s wants a number up to 2^63-1", opt);
    *out = (uint64_t)n;
    return EXIT_OK;
}

/* Text output shows hashes in hex (as tests/vectors/proofs.txt); the
 * proof object carries them in base64. */
static void print_hex(const char *label, const uint8_t h[32])
{
    size_t i;

    fputs(label, stdout);
    for (i = 0; i < 32; i++)
        printf("%02x", h[i]);
    fputc('\n', stdout);
}

/* A proof from the vault: the JSON object to --out or (--json) stdout,
 * else a few lines for people. */
static int show_proof(cli *c, const vault_proof *p, const char *out_path)
{
    char *json = NULL;
    size_t i;
    int rc, ex = EXIT_OK;

    if ((rc = vault_proof_json(&json, p)) != VAULT_OK)
        return cli_fail(c, rc);
    if (out_path) {
        size_t n = strlen(json);
        char *line = malloc(n + 2);
        if (!line) {
            vault_free(json);
            return cli_fail(c, VAULT_ENOMEM);
        }
        memcpy(line, json, n);
        line[n] = '\n', line[n + 1] = '\0';
        ex = cli_file_write(c, out_path, line, n + 1);
        free(line);
        if (ex == EXIT_OK && c->json)
            ex = cli_print_pack(c, "{s:s}", "out", out_path);
    } else if (c->json) {
        printf("%s\n", json);
    }
    vault_free(json);
    if (out_path || c->json)
        return ex;
    if (p->kind == VAULT_PROOF_INCLUSION && p->log) {
        printf("entry %llu of log ", (unsigned long long)p->seq);
        cli_print_escaped(stdout, p->log, strlen(p->log), 0);
        printf(" is in its tree of size %llu, which city log entry %llu claims, in the tree "
               "of size %llu\n", (unsigned long long)p->size, (unsigned long long)p->via_seq,
               (unsigned long long)p->via_size);
        print_hex("leaf       ", p->leaf);
    } else if (p->kind == VAULT_PROOF_INCLUSION) {
        printf("entry %llu is in the tree of size %llu\n", (unsigned long long)p->seq,
               (unsigned long long)p->size);
        print_hex("leaf       ", p->leaf);
    } else {
        printf("the tree of size %llu extends the tree of size %llu\n",
               (unsigned long long)p->size, (unsigned long long)p->from);
        print_hex("from_root  ", p->from_root);
    }
    print_hex("root       ", p->root);
    for (i = 0; i < p->nhashes; i++)
        print_hex(i ? "           " : "hashes     ", p->hashes[i]);
    if (p->nhashes == 0)
        printf("hashes     (none)\n");
    if (p->log) {
        print_hex("city root  ", p->via_root);
        for (i = 0; i < p->via_nhashes; i++)
            print_hex(i ? "           " : "city hashes", p->via_hashes[i]);
    }
    if (p->kind == VAULT_PROOF_CONSISTENCY && p->from)
        printf("from note  %s\n", p->from_checkpoint ? "signed checkpoint (in --out / --json)"
                                                      : "none stored for this size");
    printf("note       %s\n", p->checkpoint ? "signed checkpoint (in --out / --json)"
                                            : "none stored for this size: check it with a note of this size");
    return EXIT_OK;
}

/* A bundle file, whole (at most 64 MiB: the verifier's limit, plus one
 * byte so that a larger one is refused by it, not cut); NULL and a message
 * on failure. */
#define BUNDLE_FILE_MAX (64u << 20)
static char *read_bundle(cli *c, const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL, *grown;
    size_t n = 0, cap = 0, got;

    if (!f) {
        cli_errf("%s: %s: %s: cannot open", c->prog, c->cmd, path);
        return NULL;
    }
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            if (cap > BUNDLE_FILE_MAX + 1)
                cap = BUNDLE_FILE_MAX + 1;
            grown = realloc(buf, cap + 1);
            if (!grown) {
                cli_errf("%s: %s: out of memory", c->prog, c->cmd);
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0 && n < BUNDLE_FILE_MAX + 1);
    if (ferror(f)) {
        cli_errf("%s: %s: %s: read error", c->prog, c->cmd, path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The bundle's JSON and a final newline (as the vectors have it), through
 * the one safe file writer. */
static int write_bundle(cli *c, const char *path, const char *json)
{
    size_t n = strlen(json);
    char *t = malloc(n + 2);
    int ex;

    if (!t)
        return cli_fail(c, VAULT_ENOMEM);
    memcpy(t, json, n);
    t[n] = '\n';
    t[n + 1] = '\0';
    ex = cli_file_write(c, path, t, n + 1);
    free(t);
    return ex;
}

/* verify-bundle: the bundle against the log's key and the witnesses' keys;
 * max_age > 0: its checkpoint must also be that recent (as verify --max-age). */
static int verify_bundle(cli *c, const char *path, const char *pub_path, const char *const *wpaths,
                         size_t nw, size_t quorum, int64_t max_age)
{
    char *text = NULL, *pub = NULL, **wk = NULL;
    size_t len = 0, i;
    vault_audit_result r;
    int rc, ex = EXIT_FAIL;

    memset(&r, 0, sizeof r);
    wk = calloc(nw ? nw : 1, sizeof *wk);
    if (!wk || !(text = read_bundle(c, path, &len)) || !(pub = read_small(c, pub_path)))
        goto out;
    for (i = 0; i < nw; i++)
        if (!(wk[i] = read_small(c, wpaths[i])))
            goto out;
    rc = vault_audit_verify_bundle(&r, text, len, pub, (const char *const *)wk, nw, quorum);
    if (rc >= 0 && max_age && vault_audit_require_recent(&r, max_age) < 0)
        rc = VAULT_EINTEGRITY;
    if (rc < 0 && rc != VAULT_EINTEGRITY) {
        ex = cli_fail(c, rc);
        goto out;
    }
    if (c->json) {
        if (cli_print_pack(c, "{s:b, s:s, s:I, s:I, s:s, s:I, s:I}", "ok", r.failure == 0,
                           "failure", r.failure_name, "bad_seq", (json_int_t)r.bad_seq,
                           "entries", (json_int_t)r.entries, "message", r.message,
                           "size", (json_int_t)r.newest_size, "time",
                           (json_int_t)r.newest_time) != EXIT_OK)
            goto out;
        if (r.failure)
            cli_errf("%s: %s: FAILED: %s: %s", c->prog, c->cmd, r.failure_name, r.message);
    } else if (r.failure) {
        cli_errf("%s: %s: FAILED: %s: %s", c->prog, c->cmd, r.failure_name, r.message);
    } else {
        printf("%s\n", r.message);
    }
    ex = r.failure ? EXIT_INTEGRITY : EXIT_OK;
out:
    for (i = 0; wk && i < nw; i++)
        free(wk[i]);
    free(wk);
    free(text);
    free(pub);
    return ex;
}

/* check-proof: the proof file against the public key and the notes. */
static int check_proof(cli *c, const char *proof_path, const char *pub_path, char **notes,
                       size_t nnotes)
{
    char *text = NULL, *pub = NULL;
    vault_proof p;
    int rc = VAULT_OK, ex = EXIT_FAIL;

    memset(&p, 0, sizeof p);
    if (!(text = read_small(c, proof_path)) || !(pub = read_small(c, pub_path)))
        goto out;
    if ((rc = vault_proof_parse(&p, text, strlen(text))) == VAULT_OK)
        rc = vault_proof_check(&p, pub, (const char *const *)notes, nnotes);
    if (rc < 0) {
        ex = cli_fail(c, rc);
        goto out;
    }
    ex = EXIT_OK;
    if (c->json && p.kind == VAULT_PROOF_INCLUSION && p.log)
        ex = cli_print_pack(c, "{s:b, s:s, s:s, s:I, s:I, s:I}", "ok", 1, "kind", "inclusion",
                            "log", p.log, "seq", (json_int_t)p.seq, "size", (json_int_t)p.size,
                            "city_size", (json_int_t)p.via_size);
    else if (c->json && p.kind == VAULT_PROOF_INCLUSION)
        ex = cli_print_pack(c, "{s:b, s:s, s:I, s:I}", "ok", 1, "kind", "inclusion", "seq",
                            (json_int_t)p.seq, "size", (json_int_t)p.size);
    else if (c->json)
        ex = cli_print_pack(c, "{s:b, s:s, s:I, s:I}", "ok", 1, "kind", "consistency", "from",
                            (json_int_t)p.from, "size", (json_int_t)p.size);
    else if (p.kind == VAULT_PROOF_INCLUSION && p.log) {
        printf("ok: entry %llu of log ", (unsigned long long)p.seq);
        cli_print_escaped(stdout, p.log, strlen(p.log), 0);
        printf(" is in its tree of size %llu, claimed in the signed tree of size %llu\n",
               (unsigned long long)p.size, (unsigned long long)p.via_size);
    } else if (p.kind == VAULT_PROOF_INCLUSION)
        printf("ok: entry %llu is in the signed tree of size %llu\n", (unsigned long long)p.seq,
               (unsigned long long)p.size);
    else
        printf("ok: the signed tree of size %llu extends the signed tree of size %llu\n",
               (unsigned long long)p.size, (unsigned long long)p.from);
out:
    vault_proof_clear(&p);
    free(text);
    free(pub);
    return ex;
}

int cmd_audit(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"checkpoint", required_argument, NULL, 'c'},
                                         {"export", required_argument, NULL, 'e'},
                                         {"pubkey", required_argument, NULL, 'p'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"record", required_argument, NULL, 'r'},
                                         {"denied", no_argument, NULL, 'd'},
                                         {"break-glass", no_argument, NULL, 'b'},
                                         {"seq", required_argument, NULL, 'n'},
                                         {"size", required_argument, NULL, 's'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"proof", required_argument, NULL, 'P'},
                                         {"max-age", required_argument, NULL, 'A'},
                                         {"bundle", required_argument, NULL, 'B'},
                                         {"witness-key", required_argument, NULL, 'W'},
                                         {"witness-quorum", required_argument, NULL, 'Q'},
                                         {"since", required_argument, NULL, 'S'},
                                         {"compact", no_argument, NULL, 'C'},
                                         {"by", required_argument, NULL, 'Y'},
                                         {"month", required_argument, NULL, 'M'},
                                         {"csv", no_argument, NULL, 'V'},
                                         {"log", required_argument, NULL, 'L'},
                                         {NULL, 0, NULL, 0}};
    const char *wk_paths[64], *quorum_arg = NULL;
    char *wkeys[64] = {0};
    size_t nwk = 0;
    uint64_t quorum = 0;
    const char *export_path = NULL, *pub_path = NULL, *out_path = NULL, **cp_paths = NULL, **grown;
    const char *record = NULL, *sub, *report_user = NULL, *proof_path = NULL;
    const char *seq_arg = NULL, *size_arg = NULL, *from_arg = NULL, *to_arg = NULL;
    const char *log_arg = NULL;
    const char *max_age_arg = NULL, *bundle_path = NULL, *since_path = NULL;
    char *since = NULL;
    const char *by_arg = NULL, *month_arg = NULL;
    int compact = 0, csv = 0;
    int64_t max_age = 0;
    uint64_t a = 0, b = 0;
    vault_proof proof = {0};
    int denied = 0, glass = 0, opt, r, rc = VAULT_OK, ex = EXIT_OK, kinds;
    cli_progress bar;
    char **notes = NULL, *pub = NULL, *text = NULL, key[256];
    size_t ncp = 0, i;
    vault *v = NULL;
    vault_audit_result res;

    cli_progress_start(&bar, "verifying", "entries");
    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        switch (opt) {
        case OPT_HELP:
            ex = cli_help_for("audit");
            goto out;
        case 'c':
            if (ncp >= VAULT_AUDIT_NOTES_MAX) {
                ex = cli_usage_error(c, "at most %d --checkpoint files", VAULT_AUDIT_NOTES_MAX);
                goto out;
            }
            grown = realloc(cp_paths, (ncp + 1) * sizeof *cp_paths);
            if (!grown) {
                ex = cli_fail(c, VAULT_ENOMEM);
                goto out;
            }
            cp_paths = grown;
            cp_paths[ncp++] = optarg;
            break;
        case 'e': export_path = optarg; break;
        case 'p': pub_path = optarg; break;
        case 'o': out_path = optarg; break;
        case 'r': record = optarg; break;
        case 'd': denied = 1; break;
        case 'b': glass = 1; break;
        case 'n': seq_arg = optarg; break;
        case 'L': log_arg = optarg; break;
        case 's': size_arg = optarg; break;
        case 'f': from_arg = optarg; break;
        case 't': to_arg = optarg; break;
        case 'P': proof_path = optarg; break;
        case 'A': max_age_arg = optarg; break;
        case 'B': bundle_path = optarg; break;
        case 'W':
            if (nwk >= 64) {
                ex = cli_usage_error(c, "at most 64 --witness-key files");
                goto out;
            }
            wk_paths[nwk++] = optarg;
            break;
        case 'Q': quorum_arg = optarg; break;
        case 'S': since_path = optarg; break;
        case 'C': compact = 1; break;
        case 'Y': by_arg = optarg; break;
        case 'M': month_arg = optarg; break;
        case 'V': csv = 1; break;
        default:
            if ((r = cli_global_option(c, opt, optarg)) <= 0) {
                ex = r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option");
                goto out;
            }
        }
    }
    sub = optind < argc ? argv[optind] : NULL;
    if (!sub) {
        ex = cli_usage_error(c, "say verify, checkpoint, pubkey, export, report, anomalies, "
                                "summary, prove, consistency, check-proof, verify-bundle or "
                                "witness");
        goto out;
    }
    if (max_age_arg && (max_age = cli_parse_duration(max_age_arg)) <= 0) {
        ex = cli_usage_error(c, "--max-age: '%s' is not a duration such as 30m, 24h or 7d",
                             max_age_arg);
        goto out;
    }
    if (strcmp(sub, "verify-bundle") == 0) {
        c->cmd = "audit verify-bundle";
        if (optind + 2 != argc || !pub_path) {
            ex = cli_usage_error(c, "verify-bundle needs FILE and --pubkey FILE");
            goto out;
        }
        if (quorum_arg && ((ex = parse_u64(c, "--witness-quorum", quorum_arg, &a)) != EXIT_OK))
            goto out;
        if (quorum_arg && (a == 0 || a > nwk)) {
            ex = cli_usage_error(c, "--witness-quorum must be 1 .. the number of --witness-key "
                                    "files (%zu)", nwk);
            goto out;
        }
        ex = verify_bundle(c, argv[optind + 1], pub_path, wk_paths, nwk, (size_t)a, max_age);
        goto out;
    }
    if (optind + 1 < argc) {
        ex = cli_usage_error(c, "unexpected argument '%s'", argv[optind + 1]);
        goto out;
    }
    memset(&res, 0, sizeof res);
    if ((seq_arg || size_arg || log_arg) && strcmp(sub, "prove") != 0) {
        ex = cli_usage_error(c, "--seq, --size and --log go with prove");
        goto out;
    }
    if ((from_arg || to_arg) && strcmp(sub, "consistency") != 0) {
        ex = cli_usage_error(c, "--from and --to go with consistency");
        goto out;
    }
    if (max_age_arg && strcmp(sub, "verify") != 0) {
        ex = cli_usage_error(c, "--max-age goes with verify and verify-bundle");
        goto out;
    }
    if (since_path && strcmp(sub, "anomalies") != 0 && (strcmp(sub, "verify") != 0 || export_path)) {
        ex = cli_usage_error(c, "--since goes with verify in the vault (not with --export), or anomalies");
        goto out;
    }
    if ((by_arg || month_arg || csv) && strcmp(sub, "summary") != 0) {
        ex = cli_usage_error(c, "--by, --month and --csv go with summary");
        goto out;
    }
    if (compact && strcmp(sub, "export") != 0) {
        ex = cli_usage_error(c, "--compact goes with export");
        goto out;
    }
    if (bundle_path && strcmp(sub, "report") != 0) {
        ex = cli_usage_error(c, "--bundle goes with report --record");
        goto out;
    }
    if ((nwk || quorum_arg) && !(strcmp(sub, "verify") == 0 && export_path)) {
        ex = cli_usage_error(c, "--witness-key and --witness-quorum go with verify --export and verify-bundle "
                                "(in the vault, the policy's witnesses: count)");
        goto out;
    }
    if (quorum_arg && !nwk) {
        ex = cli_usage_error(c, "--witness-quorum needs --witness-key FILE");
        goto out;
    }
    if (quorum_arg && ((ex = parse_u64(c, "--witness-quorum", quorum_arg, &quorum)) != EXIT_OK ||
                       quorum == 0 || quorum > nwk)) {
        ex = cli_usage_error(c, "--witness-quorum: from 1 to the %zu witness keys given", nwk);
        goto out;
    }
    for (i = 0; i < nwk; i++)
        if (!(wkeys[i] = read_small(c, wk_paths[i]))) {
            ex = EXIT_FAIL;
            goto out;
        }
    if (proof_path && strcmp(sub, "check-proof") != 0) {
        ex = cli_usage_error(c, "--proof goes with check-proof");
        goto out;
    }
    if (strcmp(sub, "check-proof") == 0) {
        c->cmd = "audit check-proof";
        if (!proof_path || !pub_path) {
            ex = cli_usage_error(c, "check-proof needs --proof FILE and --pubkey FILE");
            goto out;
        }
        if ((ex = read_notes(&notes, c, cp_paths, ncp)) != EXIT_OK)
            goto out;
        ex = check_proof(c, proof_path, pub_path, notes, ncp);
        goto out;
    }

    if (strcmp(sub, "verify") == 0) {
        c->cmd = "audit verify";
        if (export_path) {
            if (!pub_path) {
                ex = cli_usage_error(c, "--export needs --pubkey");
                goto out;
            }
            if ((ex = read_notes(&notes, c, cp_paths, ncp)) != EXIT_OK)
                goto out;
            if (!(pub = read_small(c, pub_path))) {
                ex = EXIT_FAIL;
                goto out;
            }
            rc = vault_audit_verify_export_witnessed(&res, export_path, pub,
                                                     (const char *const *)notes, ncp,
                                                     (const char *const *)wkeys, nwk,
                                                     (size_t)quorum,
                                                     cli_progress_fn, &bar);
            if (rc >= 0 && max_age && vault_audit_require_recent(&res, max_age) < 0)
                rc = VAULT_EINTEGRITY;
            ex = report_verify(c, rc, &res, &bar);
            goto out;
        }
        if ((ex = read_notes(&notes, c, cp_paths, ncp)) != EXIT_OK)
            goto out;
        if (pub_path && !(pub = read_small(c, pub_path))) {
            ex = EXIT_FAIL;
            goto out;
        }
        if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
            goto out;
        /* The auditor's own copy of the key: the vault's must be the same. */
        if (pub && (rc = vault_audit_pin(v, pub)) < 0) {
            ex = cli_fail(c, rc);
            goto out;
        }
        if (since_path && !(since = read_small(c, since_path))) {
            ex = EXIT_FAIL;
            goto out;
        }
        if (since)
            rc = vault_audit_verify_since(&res, v, since, (const char *const *)notes, ncp,
                                          cli_progress_fn, &bar);
        else
            rc = vault_audit_verify_notes(&res, v, (const char *const *)notes, ncp,
                                          cli_progress_fn, &bar);
        if (rc >= 0 && max_age && vault_audit_require_recent(&res, max_age) < 0)
            rc = VAULT_EINTEGRITY;
        ex = report_verify(c, rc, &res, &bar);
        goto out;
    }
    if (ncp) {
        ex = cli_usage_error(c, "--checkpoint goes with verify");
        goto out;
    }
    if (strcmp(sub, "witness") == 0) {
        vault_witness_status st[32];
        size_t n = 0;

        c->cmd = "audit witness";
        if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
            goto out;
        rc = vault_audit_witness(st, 32, &n, v, NULL, 0, 0);
        /* A round that reached no witness (none has a url, say) is only
         * the error line; one with statuses reports each, failed or not. */
        if (c->json && (rc == VAULT_OK || n > 0)) {
            json_t *arr = json_array();
            for (i = 0; arr && i < n; i++)
                if (json_array_append_new(arr, json_pack("{s:s, s:b, s:b, s:I, s:s}", "name",
                                                         st[i].name, "cosigned",
                                                         st[i].result == VAULT_OK, "already",
                                                         st[i].already, "size",
                                                         (json_int_t)st[i].size, "message",
                                                         st[i].result == VAULT_OK ? ""
                                                                                  : st[i].message)) != 0)
                    json_decref(arr), arr = NULL;
            if (!arr)
                ex = cli_fail(c, VAULT_ENOMEM);
            else
                ex = cli_print_pack(c, "{s:o}", "witnesses", arr);
            n = 0;
        }
        for (i = 0; i < n; i++) {
            if (st[i].result == VAULT_OK)
                printf("%s: %s checkpoint %llu\n", st[i].name,
                       st[i].already ? "had cosigned" : "cosigned", (unsigned long long)st[i].size);
            else
                printf("%s: not cosigned: %s\n", st[i].name, st[i].message);
        }
    } else if (strcmp(sub, "checkpoint") == 0) {
        c->cmd = "audit checkpoint";
        if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
            goto out;
        if ((rc = vault_audit_checkpoint(&text, v)) == VAULT_OK)
            ex = write_out_json(c, out_path, "checkpoint", text, text);
    } else if (strcmp(sub, "pubkey") == 0) {
        c->cmd = "audit pubkey";
        if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
            goto out;
        if ((rc = vault_audit_pubkey(key, sizeof key, v)) == VAULT_OK) {
            char line[sizeof key + 1];

            snprintf(line, sizeof line, "%s\n", key);
            ex = write_out_json(c, out_path, "pubkey", line, key);
        }
    } else if (strcmp(sub, "export") == 0) {
        c->cmd = "audit export";
        if (c->json && !out_path) { /* the export itself is the output */
            ex = cli_refuse_json(c);
            goto out;
        }
        if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
            goto out;
        /* To standard output, no bar: it may be the same terminal. */
        bar.label = "exporting";
        rc = vault_audit_export_as(v, out_path ? out_path : "-", compact ? VAULT_EXPORT_COMPACT : 0,
                                   out_path ? cli_progress_fn : NULL, &bar);
        cli_progress_end(&bar);
        if (rc == VAULT_OK && c->json)
            ex = cli_print_pack(c, "{s:s, s:b}", "out", out_path, "compact", compact);
    } else if (strcmp(sub, "prove") == 0 || strcmp(sub, "consistency") == 0) {
        int inclusion = strcmp(sub, "prove") == 0;
        c->cmd = inclusion ? "audit prove" : "audit consistency";
        if (!(inclusion ? seq_arg : from_arg)) {
            ex = cli_usage_error(c, inclusion ? "prove needs --seq N" : "consistency needs --from A");
            goto out;
        }
        if ((ex = parse_u64(c, inclusion ? "--seq" : "--from", inclusion ? seq_arg : from_arg,
                            &a)) != EXIT_OK)
            goto out;
        if ((inclusion ? size_arg : to_arg) &&
            (ex = parse_u64(c, inclusion ? "--size" : "--to", inclusion ? size_arg : to_arg,
                            &b)) != EXIT_OK)
            goto out;
        if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
            goto out;
        rc = inclusion ? vault_audit_prove_in(&proof, v, log_arg, a, b)
                       : vault_audit_consistency(&proof, v, a, b);
        if (rc == VAULT_OK)
            ex = show_proof(c, &proof, out_path);
    } else if (strcmp(sub, "anomalies") == 0) {
        /* --since DURATION here (default 7d); verify's --since is a file */
        int64_t window = since_path ? cli_parse_duration(since_path) : 7 * 86400;

        c->cmd = "audit anomalies";
        if (window < 60 || window > 366 * 86400) {
            ex = cli_usage_error(c, "--since takes a duration from 1m to 366d (e.g. 7d)");
            goto out;
        }
        if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
            goto out;
        rc = vault_audit_anomalies(&text, v, window, c->json);
        if (rc == VAULT_OK) {
            fputs(text, stdout);
            if (c->json)
                fputc('\n', stdout);
        }
    } else if (strcmp(sub, "summary") == 0) {
        c->cmd = "audit summary";
        if (!month_arg) {
            ex = cli_usage_error(c, "summary needs --month YYYY-MM");
            goto out;
        }
        if (csv && c->json) {
            ex = cli_usage_error(c, "give --json or --csv, not both");
            goto out;
        }
        if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
            goto out;
        rc = vault_audit_summary(&text, v, by_arg, month_arg,
                                 c->json ? VAULT_SUMMARY_JSON
                                 : csv   ? VAULT_SUMMARY_CSV : VAULT_SUMMARY_TEXT);
        if (rc == VAULT_OK) {
            fputs(text, stdout);
            if (c->json)
                fputc('\n', stdout);
        }
    } else if (strcmp(sub, "report") == 0) {
        c->cmd = "audit report";
        /* Here --user names whose accesses to report, not who is acting. */
        report_user = c->subject.user;
        c->subject.user = NULL;
        kinds = !!record + !!report_user + denied + glass;
        if (kinds != 1) {
            ex = cli_usage_error(c, "give exactly one of --record ID, --user U, --denied, --break-glass");
            goto out;
        }
        if (bundle_path && !record) {
            ex = cli_usage_error(c, "--bundle goes with --record ID");
            goto out;
        }
        if ((ex = cli_open_vault(&v, c)) != EXIT_OK)
            goto out;
        if (bundle_path) {
            rc = vault_audit_bundle(&text, v, record);
            if (rc == VAULT_OK && (ex = write_bundle(c, bundle_path, text)) == EXIT_OK && c->json)
                ex = cli_print_pack(c, "{s:s, s:s}", "bundle", bundle_path, "record", record);
        } else {
            rc = vault_audit_report(&text, v,
                                    record ? VAULT_REPORT_RECORD
                                    : report_user ? VAULT_REPORT_USER
                                    : denied ? VAULT_REPORT_DENIED : VAULT_REPORT_BREAK_GLASS,
                                    record ? record : report_user, c->json);
            if (rc == VAULT_OK) {
                if (c->json)
                    fputs(text, stdout);
                else
                    cli_put_times(stdout, c, text);
                if (c->json)
                    fputc('\n', stdout);
                else if (!*text)
                    cli_errf("(no matching entries)");
            }
        }
    } else {
        c->cmd = "audit";
        ex = cli_usage_error(c, "unknown subcommand '%s'", sub);
        goto out;
    }
    if (rc < 0)
        ex = cli_fail(c, rc);
out:
    vault_proof_clear(&proof);
    vault_free(text);
    for (i = 0; notes && i < ncp; i++)
        free(notes[i]);
    free(notes);
    free(cp_paths);
    free(pub);
    free(since);
    for (i = 0; i < nwk; i++)
        free(wkeys[i]);
    vault_close(v);
    return ex;
}

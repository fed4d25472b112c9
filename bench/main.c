/* vault_bench: options, the run's temp directory, the JSON document. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bench.h"

#ifndef VAULT_SOURCE_DIR
#define VAULT_SOURCE_DIR "."
#endif
#ifndef VAULT_POLICY_DIR
#define VAULT_POLICY_DIR VAULT_SOURCE_DIR "/policies"
#endif

static const char usage[] =
    "usage: vault_bench [--quick] [--json-out FILE] [--residents N] [--pg-rows N]\n"
    "                   [--only SECTION] [--policy FILE] [--tmp DIR] [--keep]\n"
    "\n"
    "Measures each libvault operation next to the raw primitive it rests on and\n"
    "prints one JSON document on standard output (progress goes to standard error).\n"
    "  --quick          small sizes (20 000 residents), under a minute\n"
    "  --json-out FILE  also write the JSON document to FILE\n"
    "  --residents N    residents to import (default 1 000 000, quick 20 000)\n"
    "  --pg-rows N      rows and residents of the PostgreSQL section (default\n"
    "                   100 000, quick 20 000)\n"
    "  --only SECTION   crypto, policy, vault, service or pg (default: all; service\n"
    "                   serves the imported vault with vaultd, after vault)\n"
    "  --policy FILE    the default policy (default policies/community.yaml)\n"
    "  --tmp DIR        where the run's temp directory is made (default /tmp)\n"
    "  --keep           keep the temp directory (vaults, CSV) after the run\n"
    "See bench/README.md.\n";

static char workdir[4096];
static int keep_workdir;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static void remove_workdir(void)
{
    if (workdir[0] && !keep_workdir && nftw(workdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "vault_bench: could not remove %s\n", workdir);
}

static size_t parse_count(const char *s, const char *opt)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || !end || *end || v == 0 || v > 100000000ull || s[0] == '-')
        bench_die("%s: expected a positive whole number, got '%s'", opt, s);
    return (size_t)v;
}

/* First line of a shell command's output, "" when it fails. */
static void command_line(char *out, size_t cap, const char *cmd)
{
    FILE *p = popen(cmd, "r");
    size_t n;

    out[0] = '\0';
    if (!p)
        return;
    if (!fgets(out, (int)cap, p))
        out[0] = '\0';
    n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    pclose(p);
}

static void cpu_model(char *out, size_t cap)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512], *c;

    snprintf(out, cap, "unknown");
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0 && (c = strchr(line, ':'))) {
            c += 1 + (c[1] == ' ');
            c[strcspn(c, "\n")] = '\0';
            snprintf(out, cap, "%s", c);
            break;
        }
    fclose(f);
}

static json_t *loadavg(void)
{
    char buf[128];
    FILE *f = fopen("/proc/loadavg", "r");

    buf[0] = '\0';
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = '\0';
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
    return json_string(buf);
}

static json_t *machine(void)
{
    json_t *o = json_object();
    char buf[512], cmd[600];
    struct utsname u;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    bench_set(o, "date", json_string(buf));
    /* Read-only git: GIT_OPTIONAL_LOCKS=0 keeps status from touching the index. */
    snprintf(cmd, sizeof cmd, "GIT_OPTIONAL_LOCKS=0 git -C '%s' rev-parse --short HEAD 2>/dev/null",
             VAULT_SOURCE_DIR);
    command_line(buf, sizeof buf, cmd);
    bench_set(o, "commit", json_string(buf[0] ? buf : "unknown"));
    snprintf(cmd, sizeof cmd,
             "GIT_OPTIONAL_LOCKS=0 git -C '%s' status --porcelain --untracked-files=all 2>/dev/null"
             " | wc -l", VAULT_SOURCE_DIR);
    command_line(buf, sizeof buf, cmd);
    bench_set(o, "working_tree_changes", json_integer(strtol(buf, NULL, 10)));
    cpu_model(buf, sizeof buf);
    bench_set(o, "cpu", json_string(buf));
    bench_set(o, "cpus", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    bench_set(o, "loadavg_at_start", loadavg());
    if (uname(&u) == 0) {
        snprintf(buf, sizeof buf, "%s %s %s", u.sysname, u.release, u.machine);
        bench_set(o, "kernel", json_string(buf));
    }
    bench_set(o, "libvault", json_string(vault_version_string()));
    bench_set(o, "libsodium", json_string(sodium_version_string()));
    bench_set(o, "sqlite", json_string(sqlite3_libversion()));
    if (sqlite3_open(":memory:", &db) == SQLITE_OK && sqlite3_key(db, "x", 1) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA cipher_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        bench_set(o, "sqlcipher", json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return o;
}

/* ---- the summary: every figure against its DESIGN.md §9 target ---- */

static double num(json_t *root, const char *a, const char *b, const char *k)
{
    json_t *o = json_object_get(root, a);

    if (o && b)
        o = json_object_get(o, b);
    return json_number_value(json_object_get(o, k));
}

static void line(json_t *arr, const char *measure, const char *figure, const char *target, int met)
{
    json_t *o = json_object();

    bench_set(o, "measure", json_string(measure));
    bench_set(o, "figure", json_string(figure));
    bench_set(o, "target", json_string(target));
    bench_set(o, "met", met < 0 ? json_null() : json_boolean(met)); /* -1: no target */
    if (json_array_append_new(arr, o) != 0)
        bench_die("out of memory");
}

static void ratio_line(json_t *arr, json_t *root, const char *measure, const char *a,
                       const char *b, const char *unit, double target)
{
    char fig[160], tgt[64];
    double r = num(root, a, b, "ratio");

    if (!json_object_get(root, a))
        return;
    snprintf(fig, sizeof fig, "%.2f x raw (%.0f vs %.0f %s)", r, num(root, a, b, "libvault"),
             num(root, a, b, "raw"), unit);
    snprintf(tgt, sizeof tgt, ">= %.2g x raw", target);
    line(arr, measure, fig, tgt, r >= target);
}

static json_t *summary(json_t *root)
{
    json_t *arr = json_array(), *pg, *f;
    char fig[160];
    double p50, p99, v, r;

    ratio_line(arr, root, "field seal, 32 B", "field_crypto", "seal_32", "ops/s", 0.7);
    ratio_line(arr, root, "field open, 32 B", "field_crypto", "open_32", "ops/s", 0.7);
    ratio_line(arr, root, "field seal, 1 KiB", "field_crypto", "seal_1k", "ops/s", 0.7);
    ratio_line(arr, root, "field open, 1 KiB", "field_crypto", "open_1k", "ops/s", 0.7);
    if (json_object_get(root, "policy_decision")) {
        p50 = num(root, "policy_decision", "default_policy", "p50_ns");
        p99 = num(root, "policy_decision", "default_policy", "p99_ns");
        snprintf(fig, sizeof fig, "p50 %.0f ns, p99 %.0f ns", p50, p99);
        line(arr, "policy decision, default policy", fig, "p50 <= 1000 ns, p99 <= 5000 ns",
             p50 <= 1000 && p99 <= 5000);
        p50 = num(root, "policy_decision", "generated_1k_rules_10k_grants", "p50_ns");
        p99 = num(root, "policy_decision", "generated_1k_rules_10k_grants", "p99_ns");
        snprintf(fig, sizeof fig, "p50 %.0f ns, p99 %.0f ns", p50, p99);
        line(arr, "policy decision, 1k rules + 10k grants", fig, "p50 <= 1000 ns, p99 <= 5000 ns",
             p50 <= 1000 && p99 <= 5000);
    }
    ratio_line(arr, root, "audited reads, batched", "audited_reads_batched", NULL, "reads/s", 0.5);
    ratio_line(arr, root, "audited reads, one durable commit each", "audited_reads_durable", NULL,
               "commits/s", 0.8);
    ratio_line(arr, root, "bulk import (fields)", "bulk_import", NULL, "fields/s", 0.25);
    if (json_object_get(root, "audit_verify")) {
        v = num(root, "audit_verify", NULL, "libvault");
        r = num(root, "audit_verify", NULL, "ratio");
        snprintf(fig, sizeof fig, "%.0f entries/s, %.2f x raw SHA-256 (%.0f entries/s)", v, r,
                 num(root, "audit_verify", NULL, "raw"));
        line(arr, "audit verify (in the vault)", fig, ">= 700 000 entries/s", v >= 7e5);
    }
    if (json_object_get(root, "lookup_blind_index")) {
        snprintf(fig, sizeof fig, "p50 %.1f us, p99 %.1f us (%.0f residents)",
                 num(root, "lookup_blind_index", NULL, "p50_us"),
                 num(root, "lookup_blind_index", NULL, "p99_us"),
                 num(root, "lookup_blind_index", NULL, "residents"));
        line(arr, "lookup by blind index", fig, "(reported; no target)", -1);
    }
    if (json_object_get(root, "import_peak_rss")) {
        v = num(root, "import_peak_rss", NULL, "peak_rss_mb");
        snprintf(fig, sizeof fig, "%.1f MB peak RSS importing %.0f residents", v,
                 num(root, "import_peak_rss", NULL, "residents"));
        line(arr, "memory", fig, "< 100 MB importing 1 M residents", v < 100);
    }
    if ((pg = json_object_get(json_object_get(root, "postgresql"), "libvault"))) {
        static const char *const figs[4][2] = {
            {"import", "postgresql: import, 2 workers, 7 districts (residents vs COPY rows)"},
            {"point_read", "postgresql: audited point reads vs raw point selects"},
            {"durable_write", "postgresql: durable record writes vs raw durable commits"},
            {"reads_8_clients", "postgresql: 8 clients' audited reads vs 8 raw selecting"}};
        int k;
        for (k = 0; k < 4; k++) {
            f = json_object_get(pg, figs[k][0]);
            double lv = json_number_value(json_object_get(f, "libvault"));
            double rw = json_number_value(json_object_get(f, "raw"));
            double tr = json_number_value(json_object_get(f, "target_ratio"));
            char tgt[64];
            r = json_number_value(json_object_get(f, "ratio"));
            snprintf(fig, sizeof fig, "%.3f x raw (%.0f vs %.0f %s)", r, lv, rw,
                     json_string_value(json_object_get(f, "unit")));
            snprintf(tgt, sizeof tgt, ">= %.2g x raw", tr);
            line(arr, figs[k][1], fig, tr > 0 ? tgt : "(reported; no target)",
                 tr > 0 ? r >= tr : -1);
        }
        f = json_object_get(json_object_get(pg, "point_read"), "vs_raw_durable_commit");
        r = json_number_value(json_object_get(f, "ratio"));
        snprintf(fig, sizeof fig, "%.3f x raw (%.0f vs %.0f commits/s)", r,
                 json_number_value(json_object_get(f, "libvault")),
                 json_number_value(json_object_get(f, "raw")));
        line(arr, "postgresql: audited reads, one durable commit each", fig, ">= 0.8 x raw",
             r >= 0.8);
    }
    if (json_object_get(root, "vaultd")) {
        static const char *const batched[2][2] = {
            {"reads_batched_unix", "vaultd: audited reads, batched, Unix socket"},
            {"reads_batched_tls", "vaultd: audited reads, batched, TLS"}};
        static const char *const loads[2][2] = {
            {"load_unix", "vaultd: 16 clients, single audited reads, Unix socket"},
            {"load_tls", "vaultd: 16 clients, single audited reads, TLS"}};
        int t;
        for (t = 0; t < 2; t++) {
            r = num(root, "vaultd", batched[t][0], "ratio");
            snprintf(fig, sizeof fig, "%.2f x embedded (%.0f vs %.0f reads/s)", r,
                     num(root, "vaultd", batched[t][0], "vaultd"),
                     num(root, "vaultd", batched[t][0], "embedded"));
            line(arr, batched[t][1], fig, t == 0 ? ">= 0.5 x embedded, same run"
                                                 : "(reported against 0.5 x embedded)",
                 t == 0 ? r >= 0.5 : -1);
        }
        for (t = 0; t < 2; t++) {
            snprintf(fig, sizeof fig, "%.0f requests/s, p50 %.0f us, p99 %.0f us",
                     num(root, "vaultd", loads[t][0], "requests_per_s"),
                     num(root, "vaultd", loads[t][0], "p50_us"),
                     num(root, "vaultd", loads[t][0], "p99_us"));
            line(arr, loads[t][1], fig, "(reported; no target)", -1);
        }
    }
    return arr;
}

int main(int argc, char **argv)
{
    bench_cfg cfg;
    const char *json_out = NULL, *only = NULL, *tmp = "/tmp";
    char policy[4096], self[4096];
    ssize_t n;
    size_t residents = 0, pg_rows = 0;
    json_t *root, *params;
    char *text;
    uint64_t t0;
    int i;

    if (argc > 1 && strcmp(argv[1], "--child-import") == 0) {
        bench_check(vault_init(), "vault_init");
        return bench_import_child(argc - 2, argv + 2);
    }
    memset(&cfg, 0, sizeof cfg);
    snprintf(policy, sizeof policy, "%s/community.yaml", VAULT_POLICY_DIR);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            cfg.quick = 1;
        } else if (strcmp(a, "--keep") == 0) {
            keep_workdir = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (val && strcmp(a, "--json-out") == 0) {
            json_out = val, i++;
        } else if (val && strcmp(a, "--residents") == 0) {
            residents = parse_count(val, a), i++;
        } else if (val && strcmp(a, "--pg-rows") == 0) {
            pg_rows = parse_count(val, a), i++;
        } else if (val && strcmp(a, "--only") == 0) {
            only = val, i++;
            if (strcmp(only, "crypto") && strcmp(only, "policy") && strcmp(only, "vault") &&
                strcmp(only, "service") && strcmp(only, "pg"))
                bench_die("--only: crypto, policy, vault, service or pg");
        } else if (val && strcmp(a, "--policy") == 0) {
            snprintf(policy, sizeof policy, "%s", val), i++;
        } else if (val && strcmp(a, "--tmp") == 0) {
            tmp = val, i++;
        } else {
            if (!val && (strcmp(a, "--json-out") == 0 || strcmp(a, "--residents") == 0 ||
                         strcmp(a, "--pg-rows") == 0 ||
                         strcmp(a, "--only") == 0 || strcmp(a, "--policy") == 0 ||
                         strcmp(a, "--tmp") == 0))
                fprintf(stderr, "vault_bench: %s needs a value\n", a);
            else
                fprintf(stderr, "vault_bench: unknown argument: %s\n", a);
            fputs(usage, stderr);
            return 2;
        }
    }
    cfg.residents = residents ? residents : cfg.quick ? 20000 : 1000000;
    cfg.pg_rows = pg_rows ? pg_rows : cfg.quick ? 20000 : 100000;
    cfg.crypto_seconds = cfg.quick ? 0.2 : 0.5;
    cfg.crypto_rounds = cfg.quick ? 3 : 7;
    cfg.decisions = cfg.quick ? 200000 : 2000000;
    cfg.batch_size = 1000;
    cfg.batches = cfg.quick ? 5 : 20;
    cfg.read_rounds = cfg.quick ? 3 : 5;
    cfg.commits = cfg.quick ? 100 : 300;
    cfg.commit_rounds = cfg.quick ? 3 : 5;
    cfg.lookups = cfg.quick ? 200 : 2000;
    cfg.verify_rounds = 3;
    cfg.service_seconds = cfg.quick ? 3 : 10;
    cfg.policy = policy;
    /* The import child runs this binary again; the resolved path (not
     * /proc/self/exe itself) also works under valgrind --trace-children. */
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || (size_t)n >= sizeof self - 1)
        bench_die("cannot resolve /proc/self/exe");
    self[n] = '\0';
    cfg.self = self;
    bench_check(vault_init(), "vault_init");

    if ((size_t)snprintf(workdir, sizeof workdir, "%s/vault-bench-XXXXXX", tmp) >= sizeof workdir)
        bench_die("--tmp: path too long");
    if (!mkdtemp(workdir))
        bench_die("mkdtemp %s: %s", workdir, strerror(errno));
    atexit(remove_workdir);
    cfg.workdir = workdir;

    t0 = bench_now_ns();
    root = json_object();
    bench_set(root, "benchmark", json_string("libvault vault_bench"));
    bench_set(root, "mode", json_string(cfg.quick ? "quick" : "full"));
    bench_set(root, "machine", machine());
    params = json_object();
    bench_set(params, "residents", json_integer((json_int_t)cfg.residents));
    bench_set(params, "pg_rows", json_integer((json_int_t)cfg.pg_rows));
    bench_set(params, "decisions", json_integer((json_int_t)cfg.decisions));
    bench_set(params, "batch_size", json_integer((json_int_t)cfg.batch_size));
    bench_set(params, "service_load_seconds", bench_real(cfg.service_seconds, 1));
    bench_set(params, "policy", json_string(cfg.policy));
    bench_set(root, "params", params);
    if (!only || strcmp(only, "crypto") == 0)
        bench_crypto(root, &cfg);
    if (!only || strcmp(only, "policy") == 0)
        bench_policy(root, &cfg);
    if (!only || strcmp(only, "vault") == 0 || strcmp(only, "service") == 0)
        bench_vault(root, &cfg, !only || strcmp(only, "vault") == 0,
                    !only || strcmp(only, "service") == 0);
    if (!only || strcmp(only, "pg") == 0)
        bench_pg(root, &cfg);
    bench_set(json_object_get(root, "machine"), "loadavg_at_end", loadavg());
    bench_set(root, "summary", summary(root));
    bench_set(root, "run_seconds", bench_real((double)(bench_now_ns() - t0) / 1e9, 1));

    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    if (!text)
        bench_die("out of memory writing the JSON document");
    fputs(text, stdout);
    fputc('\n', stdout);
    if (json_out) {
        FILE *f = fopen(json_out, "w");
        if (!f || fputs(text, f) < 0 || fputc('\n', f) == EOF || fclose(f) != 0)
            bench_die("%s: cannot write", json_out);
    }
    free(text);
    json_decref(root);
    return fflush(stdout) == 0 ? 0 : 1;
}

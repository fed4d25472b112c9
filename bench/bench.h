/* vault_bench: each libvault operation next to the raw primitive it rests
 * on, in one run, printed as one JSON document (README.md in this
 * directory explains every figure).  Not a test: nothing here asserts. */
#ifndef VAULT_BENCH_H
#define VAULT_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "vault.h"

/* Sizes and durations of one run. */
typedef struct bench_cfg {
    int quick;
    size_t residents;       /* imported into the big vault (and looked up in it) */
    size_t pg_rows;         /* rows of the PostgreSQL section (--pg-rows) */
    double crypto_seconds;  /* per timed round of a seal/open loop */
    int crypto_rounds;      /* rounds, alternating libvault and raw */
    size_t decisions;       /* timed policy decisions per policy */
    size_t batch_size;      /* reads per vault_record_get_batch */
    size_t batches;         /* batches per round */
    int read_rounds;
    size_t commits;         /* durable commits per round */
    int commit_rounds;
    size_t lookups;         /* blind-index lookups */
    int verify_rounds;
    double service_seconds;  /* how long the load driver runs per transport (service.c) */
    const char *policy;     /* the default policy file */
    const char *workdir;    /* temp directory holding every file of the run */
    const char *self;       /* this program, for the import child */
} bench_cfg;

/* ---- time and statistics (util.c) ---- */

uint64_t bench_now_ns(void);
/* The p-th percentile (0..100) of n samples; sorts them in place. */
uint64_t bench_percentile(uint64_t *s, size_t n, double p);
double bench_median(double *v, size_t n);
/* Abort the run with a message (the bench has no partial results). */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Die with vault_error_last() when rc < 0. */
void bench_check(int rc, const char *what);
/* xorshift64*: deterministic request mixes. */
uint64_t bench_rand(uint64_t *state);
/* Write a progress line on stderr (the JSON goes to stdout). */
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- JSON helpers (util.c) ---- */

/* Round to `digits` decimals, so the document stays readable. */
json_t *bench_real(double v, int digits);
/* Set o[k] = v (stolen); dies on failure. */
void bench_set(json_t *o, const char *k, json_t *v);
/* A libvault-vs-raw comparison: {libvault, raw, unit, ratio, target_ratio, met}. */
json_t *bench_ratio(double libvault, double raw, const char *unit, double target_ratio);

/* ---- raw SQLCipher (raw.c) ---- */

/* Open (creating if needed) a SQLCipher database with a raw 32-byte key
 * given as "x'<64 hex>'" and libvault's pragmas (WAL, synchronous=FULL,
 * secure_delete, 16 MiB cache; SQLCipher's default 1 KiB pages). */
sqlite3 *raw_open(const char *path, const char *keyspec);
void raw_exec(sqlite3 *db, const char *sql);
sqlite3_stmt *raw_prepare(sqlite3 *db, const char *sql);
/* An integer pragma's value (page_size, cache_size, ...). */
long raw_pragma(sqlite3 *db, const char *name);
/* A fresh random raw key spec. */
void raw_random_key(char out[68]);

/* ---- the measures; each adds its figures to `out` ---- */

void bench_crypto(json_t *out, const bench_cfg *cfg);
void bench_policy(json_t *out, const bench_cfg *cfg);
/* Everything on a real vault: import (peak RSS in a child), batched and
 * durable audited reads, lookups, audit verification (do_vault); then
 * vaultd serving that vault (do_service, last: it adds entries to the
 * vault's log).  With service alone, the import runs and the rest of the
 * vault section is skipped. */
void bench_vault(json_t *out, const bench_cfg *cfg, int do_vault, int do_service);

/* Raw libpq on the server VAULT_PG_URI names (pg.c), then a vault on the
 * same server (pg_vault.c): adds out["postgresql"], or says it was
 * skipped when the variable is unset. */
void bench_pg(json_t *out, const bench_cfg *cfg);

/* The raw figures the vault side is compared with (pg.c). */
typedef struct pg_raw_figures {
    double copy_pk_rows_per_s;
    double point_select_per_s, point_select_p50_us;
    double durable_commit_per_s, durable_commit_p50_us;
    double clients_per_s, clients_p50_us, clients_p99_us; /* 8 connections */
} pg_raw_figures;

/* The vault side (pg_vault.c): a vault in schema bench_vault of the same
 * database (c: a raw connection to it, for the record ids and to drop the
 * schema), cfg->pg_rows residents; adds out["libvault"]. */
void bench_pg_vault(json_t *out, const bench_cfg *cfg, PGconn *c, const char *uri,
                    const pg_raw_figures *raw);

/* The import child (argv after "--child-import"): returns the exit code. */
int bench_import_child(int argc, char **argv);

/* ---- shared by vault.c, reads.c and verify.c ---- */

#define VB_COLUMNS 8 /* synthetic fields per resident (cli/synth.h) */

typedef struct vb {
    const bench_cfg *cfg;
    char key[512], vault[512], csv[512];
    size_t residents, fields, field_bytes;
    uint16_t *lens;             /* per resident and column: value bytes, 0 = empty */
    char (*lookup)[24];         /* id numbers of sampled residents */
    size_t nlookup;
    vault *v;
    vault_session *s;
    sqlite3 *raw;               /* the vault's own file, opened with its db key */
    char (*ids)[VAULT_ID_HEX_SIZE]; /* every record id */
    size_t nids;
    double raw_commit_p50_ns;   /* from the durable-commit baseline */
} vb;

/* Batched and durable audited reads, and blind-index lookups (reads.c). */
void bench_reads(json_t *out, vb *b);
void bench_lookups(json_t *out, vb *b);
/* Audit verification against raw SHA-256 (verify.c). */
void bench_verify(json_t *out, vb *b);
/* vaultd next to embedded on b's vault: batched reads over the Unix socket
 * and TLS, a 16-client load driver (service.c).  Adds out["vaultd"]. */
void bench_service(json_t *out, vb *b);

#endif

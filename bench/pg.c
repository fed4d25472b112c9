/* Raw libpq on the PostgreSQL server the run is given (VAULT_PG_URI): the
 * primitives the PostgreSQL backend (issue 17) is measured against, as
 * DESIGN.md §9 asks, in the same run (the vault side: pg_vault.c).  Point
 * selects by primary key one at a time, pipelined, and from 8 connections
 * at once, COPY (binary) into a heap and into a table with a primary key,
 * and durable single-row commits.  The rows are shaped
 * like the backend's record rows: a shard, a 16-byte id and a body of the
 * synthetic residents' mean size.  The server's settings are recorded
 * with the figures (bench/README.md "PostgreSQL"). */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "bench.h"

#define BODY_BYTES 684    /* the mean audit-entry / record body size measured at 1 M */
#define SHARDS 7          /* the districts of the import figure (issue 17) */
#define PIPELINE_DEPTH 256
#define CLIENTS 8         /* the concurrent clients of the 8-client figure */

/* Shown on standard error as well as kept in the JSON. */
static const char *const SHOWN[] = {"server_version", "shared_buffers", "synchronous_commit",
                                    "fsync", "wal_level", "max_connections"};
static const char *const SETTINGS[] = {
    "server_version", "shared_buffers", "fsync", "synchronous_commit", "wal_sync_method",
    "wal_level", "max_wal_size", "checkpoint_timeout", "work_mem", "maintenance_work_mem",
    "synchronous_standby_names", "max_connections"};

static void pg_die(PGconn *c, const char *what)
{
    bench_die("%s: %s", what, PQerrorMessage(c));
}

static void pg_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        pg_die(c, sql);
    }
    PQclear(r);
}

static void pg_prepare(PGconn *c, const char *name, const char *sql, int nparams)
{
    PGresult *r = PQprepare(c, name, sql, nparams, NULL);

    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        pg_die(c, sql);
    }
    PQclear(r);
}

/* Row i's id: 16 bytes, its index big-endian after a random prefix that
 * keeps the ids spread like the vault's random ids. */
static void row_id(uint8_t id[16], const uint8_t salt[8], uint64_t i)
{
    int k;

    memcpy(id, salt, 8);
    for (k = 0; k < 8; k++)
        id[8 + k] = (uint8_t)(i >> (56 - 8 * k));
    /* Spread: hash so that ids are not in insertion order. */
    crypto_generichash(id, 16, id, 16, NULL, 0);
}

static void shard_of(char out[16], uint64_t i)
{
    snprintf(out, 16, "d%02u", (unsigned)(i % SHARDS));
}

typedef struct copybuf {
    char *p;
    size_t n, cap;
} copybuf;

static void cb_put(copybuf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1 << 20;
        while (cap < b->n + n)
            cap *= 2;
        if (!(b->p = realloc(b->p, cap)))
            bench_die("out of memory");
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void cb_u16(copybuf *b, uint16_t v)
{
    v = htons(v);
    cb_put(b, &v, 2);
}

static void cb_u32(copybuf *b, uint32_t v)
{
    v = htonl(v);
    cb_put(b, &v, 4);
}

/* COPY n rows (binary) into table; returns rows per second. */
static double copy_rows(PGconn *c, const char *table, size_t n, const uint8_t salt[8],
                        const uint8_t *body)
{
    static const char sig[] = "PGCOPY\n\377\r\n";
    char sql[128], shard[16];
    uint8_t id[16];
    copybuf b = {0};
    PGresult *r;
    uint64_t t0, i;

    snprintf(sql, sizeof sql, "COPY %s (shard, id, body) FROM STDIN (FORMAT binary)", table);
    t0 = bench_now_ns();
    r = PQexec(c, "BEGIN");
    PQclear(r);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        pg_die(c, sql);
    PQclear(r);
    cb_put(&b, sig, 11);
    cb_u32(&b, 0);
    cb_u32(&b, 0);
    for (i = 0; i < n; i++) {
        shard_of(shard, i);
        row_id(id, salt, i);
        cb_u16(&b, 3);
        cb_u32(&b, (uint32_t)strlen(shard));
        cb_put(&b, shard, strlen(shard));
        cb_u32(&b, 16);
        cb_put(&b, id, 16);
        cb_u32(&b, BODY_BYTES);
        cb_put(&b, body + (i % 64), BODY_BYTES);
        if (b.n >= (1u << 20)) {
            if (PQputCopyData(c, b.p, (int)b.n) != 1)
                pg_die(c, "PQputCopyData");
            b.n = 0;
        }
    }
    cb_u16(&b, 0xffff);
    if (PQputCopyData(c, b.p, (int)b.n) != 1 || PQputCopyEnd(c, NULL) != 1)
        pg_die(c, "PQputCopyEnd");
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            PQclear(r);
            pg_die(c, "COPY");
        }
        PQclear(r);
    }
    pg_exec(c, "COMMIT");
    free(b.p);
    return (double)n / ((double)(bench_now_ns() - t0) / 1e9);
}

/* Point selects of `n` random existing rows, one round trip each. */
static void point_selects(PGconn *c, size_t rows, size_t n, const uint8_t salt[8], double *rate,
                          double *p50_us)
{
    uint64_t *lat = calloc(n, sizeof *lat), st = 0x9e3779b97f4a7c15u, t0, t;
    char shard[16];
    uint8_t id[16];
    const char *vals[2];
    int lens[2], fmts[2] = {0, 1};
    PGresult *r;
    size_t i;

    if (!lat)
        bench_die("out of memory");
    pg_prepare(c, "get", "SELECT body FROM bench_pk WHERE shard = $1 AND id = $2", 2);
    t0 = bench_now_ns();
    for (i = 0; i < n; i++) {
        uint64_t k = bench_rand(&st) % rows;
        shard_of(shard, k);
        row_id(id, salt, k);
        vals[0] = shard, lens[0] = 0;
        vals[1] = (const char *)id, lens[1] = 16;
        t = bench_now_ns();
        r = PQexecPrepared(c, "get", 2, vals, lens, fmts, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
            pg_die(c, "point select");
        PQclear(r);
        lat[i] = bench_now_ns() - t;
    }
    *rate = (double)n / ((double)(bench_now_ns() - t0) / 1e9);
    *p50_us = (double)bench_percentile(lat, n, 50) / 1e3;
    free(lat);
}

/* The same selects in libpq's pipeline mode, PIPELINE_DEPTH in flight. */
static double pipelined_selects(PGconn *c, size_t rows, size_t n, const uint8_t salt[8])
{
    uint64_t st = 0x2545f4914f6cdd1du, t0;
    char shard[PIPELINE_DEPTH][16];
    uint8_t id[PIPELINE_DEPTH][16];
    const char *vals[2];
    int lens[2], fmts[2] = {0, 1};
    size_t done = 0, j, m;
    PGresult *r;

    if (PQenterPipelineMode(c) != 1)
        pg_die(c, "PQenterPipelineMode");
    t0 = bench_now_ns();
    while (done < n) {
        m = n - done < PIPELINE_DEPTH ? n - done : PIPELINE_DEPTH;
        for (j = 0; j < m; j++) {
            uint64_t k = bench_rand(&st) % rows;
            shard_of(shard[j], k);
            row_id(id[j], salt, k);
            vals[0] = shard[j], lens[0] = 0;
            vals[1] = (const char *)id[j], lens[1] = 16;
            if (PQsendQueryPrepared(c, "get", 2, vals, lens, fmts, 1) != 1)
                pg_die(c, "PQsendQueryPrepared");
        }
        if (PQpipelineSync(c) != 1)
            pg_die(c, "PQpipelineSync");
        for (j = 0; j < m; j++) {
            r = PQgetResult(c);
            if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
                pg_die(c, "pipelined select");
            PQclear(r);
            if ((r = PQgetResult(c)) != NULL) /* the NULL that ends each query */
                bench_die("pipelined select: more than one result");
        }
        r = PQgetResult(c);
        if (PQresultStatus(r) != PGRES_PIPELINE_SYNC)
            pg_die(c, "pipeline sync");
        PQclear(r);
        done += m;
    }
    if (PQexitPipelineMode(c) != 1)
        pg_die(c, "PQexitPipelineMode");
    return (double)n / ((double)(bench_now_ns() - t0) / 1e9);
}

/* n single-row INSERTs, each its own durable transaction. */
static void durable_commits(PGconn *c, size_t n, const uint8_t *body, double *rate, double *p50_us)
{
    uint64_t *lat = calloc(n, sizeof *lat), t0, t;
    uint8_t id[16], salt[8];
    const char *vals[2];
    int lens[2], fmts[2] = {1, 1};
    PGresult *r;
    size_t i;

    if (!lat)
        bench_die("out of memory");
    randombytes_buf(salt, sizeof salt);
    pg_exec(c, "CREATE TABLE bench_commit (id bytea PRIMARY KEY, body bytea NOT NULL)");
    pg_prepare(c, "ins", "INSERT INTO bench_commit (id, body) VALUES ($1, $2)", 2);
    t0 = bench_now_ns();
    for (i = 0; i < n; i++) {
        row_id(id, salt, i);
        vals[0] = (const char *)id, lens[0] = 16;
        vals[1] = (const char *)body, lens[1] = BODY_BYTES;
        t = bench_now_ns();
        r = PQexecPrepared(c, "ins", 2, vals, lens, fmts, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            pg_die(c, "durable insert");
        PQclear(r);
        lat[i] = bench_now_ns() - t;
    }
    *rate = (double)n / ((double)(bench_now_ns() - t0) / 1e9);
    *p50_us = (double)bench_percentile(lat, n, 50) / 1e3;
    free(lat);
}

/* CLIENTS threads, each its own connection, `per` point selects each. */
typedef struct raw_client {
    const char *uri;
    size_t rows, per;
    const uint8_t *salt;
    uint64_t seed, *lat;
} raw_client;

static void *raw_client_main(void *arg)
{
    raw_client *rc = arg;
    PGconn *c = PQconnectdb(rc->uri);
    char shard[16];
    uint8_t id[16];
    const char *vals[2];
    int lens[2], fmts[2] = {0, 1};
    PGresult *r;
    uint64_t t;
    size_t i;

    if (PQstatus(c) != CONNECTION_OK)
        pg_die(c, "connecting a client");
    pg_prepare(c, "get", "SELECT body FROM bench_pk WHERE shard = $1 AND id = $2", 2);
    for (i = 0; i < rc->per; i++) {
        uint64_t k = bench_rand(&rc->seed) % rc->rows;
        shard_of(shard, k);
        row_id(id, rc->salt, k);
        vals[0] = shard, lens[0] = 0;
        vals[1] = (const char *)id, lens[1] = 16;
        t = bench_now_ns();
        r = PQexecPrepared(c, "get", 2, vals, lens, fmts, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
            pg_die(c, "client point select");
        PQclear(r);
        rc->lat[i] = bench_now_ns() - t;
    }
    PQfinish(c);
    return NULL;
}

static void raw_clients(const char *uri, size_t rows, size_t per, const uint8_t salt[8],
                        pg_raw_figures *f)
{
    raw_client rc[CLIENTS];
    pthread_t t[CLIENTS];
    uint64_t *lat = calloc(per * CLIENTS, sizeof *lat), t0;
    int i;

    if (!lat)
        bench_die("out of memory");
    t0 = bench_now_ns();
    for (i = 0; i < CLIENTS; i++) {
        rc[i] = (raw_client){uri, rows, per, salt, 0x2545f4914f6cdd1du * (uint64_t)(i + 1),
                             lat + (size_t)i * per};
        if (pthread_create(&t[i], NULL, raw_client_main, &rc[i]) != 0)
            bench_die("pthread_create failed");
    }
    for (i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);
    f->clients_per_s = (double)(per * CLIENTS) / ((double)(bench_now_ns() - t0) / 1e9);
    f->clients_p50_us = (double)bench_percentile(lat, per * CLIENTS, 50) / 1e3;
    f->clients_p99_us = (double)bench_percentile(lat, per * CLIENTS, 99) / 1e3;
    free(lat);
}

void bench_pg(json_t *out, const bench_cfg *cfg)
{
    const char *uri = getenv("VAULT_PG_URI");
    json_t *o, *set, *raw;
    PGconn *c;
    uint8_t salt[8], *body;
    size_t rows = cfg->pg_rows, nsel = cfg->quick ? 2000 : 20000,
           npipe = cfg->quick ? 20000 : 200000, ncommit = cfg->quick ? 300 : 3000,
           nclient = cfg->quick ? 1000 : 5000, i;
    double heap, pipe;
    pg_raw_figures f;
    char shown[512];
    size_t sl = 0;

    o = json_object();
    bench_set(out, "postgresql", o);
    if (!uri || !*uri) {
        bench_note("postgresql: skipped: VAULT_PG_URI is not set (make bench runs the bench in "
                   "a throwaway cluster, tests/pg/pg_cluster.sh)");
        bench_set(o, "skipped", json_string("VAULT_PG_URI is not set"));
        return;
    }
    c = PQconnectdb(uri);
    if (PQstatus(c) != CONNECTION_OK)
        pg_die(c, "connecting to VAULT_PG_URI");
    set = json_object();
    for (i = 0; i < sizeof SETTINGS / sizeof *SETTINGS; i++) {
        char sql[96];
        PGresult *r;
        snprintf(sql, sizeof sql, "SHOW %s", SETTINGS[i]);
        r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            pg_die(c, sql);
        bench_set(set, SETTINGS[i], json_string(PQgetvalue(r, 0, 0)));
        PQclear(r);
    }
    shown[0] = '\0';
    for (i = 0; i < sizeof SHOWN / sizeof *SHOWN && sl < sizeof shown; i++)
        sl += (size_t)snprintf(shown + sl, sizeof shown - sl, "%s%s %s", i ? ", " : "", SHOWN[i],
                               json_string_value(json_object_get(set, SHOWN[i])));
    bench_note("postgresql: %s", shown);
    bench_set(o, "settings", set);
    bench_set(o, "connection", json_string(PQhost(c) && PQhost(c)[0] == '/' ? "unix socket" : "tcp"));
    bench_set(o, "rows", json_integer((json_int_t)rows));
    bench_set(o, "body_bytes", json_integer(BODY_BYTES));
    if (!(body = malloc(BODY_BYTES + 64)))
        bench_die("out of memory");
    randombytes_buf(body, BODY_BYTES + 64);
    randombytes_buf(salt, sizeof salt);

    pg_exec(c, "SET client_min_messages = warning");
    pg_exec(c, "DROP TABLE IF EXISTS bench_heap, bench_pk, bench_commit");
    pg_exec(c, "CREATE TABLE bench_heap (shard text NOT NULL, id bytea NOT NULL, body bytea NOT NULL)");
    pg_exec(c, "CREATE TABLE bench_pk (shard text NOT NULL, id bytea NOT NULL, body bytea NOT NULL,"
               " PRIMARY KEY (shard, id))");
    memset(&f, 0, sizeof f);
    bench_note("postgresql: COPY %zu rows into a heap", rows);
    heap = copy_rows(c, "bench_heap", rows, salt, body);
    bench_note("postgresql: COPY %zu rows into a table with a primary key", rows);
    f.copy_pk_rows_per_s = copy_rows(c, "bench_pk", rows, salt, body);
    pg_exec(c, "VACUUM ANALYZE bench_pk");
    bench_note("postgresql: %zu point selects, then %zu pipelined", nsel, npipe);
    point_selects(c, rows, nsel, salt, &f.point_select_per_s, &f.point_select_p50_us);
    pipe = pipelined_selects(c, rows, npipe, salt);
    bench_note("postgresql: %d clients, %zu point selects each", CLIENTS, nclient);
    raw_clients(uri, rows, nclient, salt, &f);
    bench_note("postgresql: %zu durable single-row commits", ncommit);
    durable_commits(c, ncommit, body, &f.durable_commit_per_s, &f.durable_commit_p50_us);
    pg_exec(c, "DROP TABLE bench_heap, bench_pk, bench_commit");

    raw = json_object();
    bench_set(raw, "copy_heap_rows_per_s", bench_real(heap, 0));
    bench_set(raw, "copy_pk_rows_per_s", bench_real(f.copy_pk_rows_per_s, 0));
    bench_set(raw, "point_select_per_s", bench_real(f.point_select_per_s, 0));
    bench_set(raw, "point_select_p50_us", bench_real(f.point_select_p50_us, 1));
    bench_set(raw, "pipelined_select_per_s", bench_real(pipe, 0));
    bench_set(raw, "pipeline_depth", json_integer(PIPELINE_DEPTH));
    bench_set(raw, "clients_8_select_per_s", bench_real(f.clients_per_s, 0));
    bench_set(raw, "clients_8_select_p50_us", bench_real(f.clients_p50_us, 1));
    bench_set(raw, "clients_8_select_p99_us", bench_real(f.clients_p99_us, 1));
    bench_set(raw, "durable_commit_per_s", bench_real(f.durable_commit_per_s, 0));
    bench_set(raw, "durable_commit_p50_us", bench_real(f.durable_commit_p50_us, 1));
    bench_set(o, "raw_libpq", raw);
    bench_pg_vault(o, cfg, c, uri, &f);
    free(body);
    PQfinish(c);
}

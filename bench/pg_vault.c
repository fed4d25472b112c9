/* The vault side of the PostgreSQL section (pg.c has the raw libpq side):
 * a vault on the same server (schema bench_vault of VAULT_PG_URI's
 * database, its keys file in the run's directory), measured in the same
 * run as the raw primitives and printed as ratios against them
 * (bench/README.md "PostgreSQL"):
 *  - import: --pg-rows synthetic residents across 7 districts (7 shards:
 *    hangzhou/<district>), by 2 workers, each a thread with its own handle
 *    importing the CSV of its districts (vault_import_csv, what `vaultctl
 *    import` runs), against raw COPY of as many rows into a table with a
 *    primary key;
 *  - point reads: vault_record_get of one field (phone) by id, audited
 *    (one durable commit each), one at a time, against raw point selects;
 *  - durable writes: vault_record_add of one resident, against raw
 *    single-row durable commits;
 *  - 8 clients: 8 threads, each its own handle (vault_reopen) and
 *    session, audited reads one at a time, against 8 raw connections doing
 *    point selects.
 * The figures are added to out["postgresql"]["libvault"]. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "bench.h"
#include "synth.h"

#define PGV_SCHEMA "bench_vault"
#define PGV_SEED 20261202u
#define PGV_DISTRICTS 7
#define PGV_WORKERS 2
#define PGV_CLIENTS 8
/* A worker whose import waited out the write lock's 10 s lock_timeout
 * (the other worker's import holds it for its whole transaction) starts
 * over: at most this many times. */
#define PGV_BUSY_TRIES 360

static const char *const DISTRICT[PGV_DISTRICTS] = {"gongshu", "xihu",    "shangcheng", "binjiang",
                                                    "xiaoshan", "yuhang", "linping"};
static const char *const COLUMNS[] = {"name",    "gender",  "birth_date", "id_number",
                                      "phone",   "address", "health",     "disability"};
#define NCOL (sizeof COLUMNS / sizeof *COLUMNS)
static const char *const PHONE[] = {"phone"};

/* A data officer of the whole city: every district is within reach. */
static const vault_subject city_officer = {sizeof(vault_subject), "bench.pg.officer",
                                           "data_officer", "street_office", "hangzhou",
                                           "resident_service"};

typedef struct pgv {
    const bench_cfg *cfg;
    char loc[2048], key[600], csv[PGV_WORKERS][600];
    size_t rows;
    char (*ids)[VAULT_ID_HEX_SIZE];
    size_t nids;
    vault *v;
    vault_session *s;
} pgv;

static void secret_of(vault_secret *sec, const char *key)
{
    vault_secret init = VAULT_SECRET_INIT;

    *sec = init;
    sec->kind = VAULT_UNLOCK_KEYFILE;
    sec->data = key;
}

static const char *column_value(const synth_resident *r, size_t c)
{
    const char *const v[NCOL] = {r->name,  r->gender,  r->birth_date, r->id_number,
                                 r->phone, r->address, r->health,     r->disability};
    return v[c];
}

/* Resident i of the run lives in district i % 7 (its jurisdiction the
 * synthetic one with the district in place of gongshu). */
static void resident(synth *g, synth_resident *r, size_t i)
{
    char rest[sizeof r->jurisdiction];
    const char *tail;
    int n;

    synth_resident_make(g, r);
    tail = strchr(r->jurisdiction + strlen("hangzhou/"), '/');
    snprintf(rest, sizeof rest, "%s", tail ? tail : "");
    n = snprintf(r->jurisdiction, sizeof r->jurisdiction, "hangzhou/%s", DISTRICT[i % PGV_DISTRICTS]);
    if (n < 0 || (size_t)n + strlen(rest) >= sizeof r->jurisdiction)
        bench_die("postgresql vault: a jurisdiction too long");
    memcpy(r->jurisdiction + n, rest, strlen(rest) + 1);
}

/* Worker w's CSV: the residents of the districts d with d % 2 == w. */
static void write_csvs(pgv *p)
{
    FILE *f[PGV_WORKERS];
    synth g;
    synth_resident r;
    size_t i, c;
    int w;

    for (w = 0; w < PGV_WORKERS; w++) {
        if (!(f[w] = fopen(p->csv[w], "w")))
            bench_die("%s: %s", p->csv[w], strerror(errno));
        fputs("jurisdiction", f[w]);
        for (c = 0; c < NCOL; c++)
            fprintf(f[w], ",%s", COLUMNS[c]);
        fputc('\n', f[w]);
    }
    synth_init(&g, PGV_SEED);
    for (i = 0; i < p->rows; i++) {
        FILE *o = f[(i % PGV_DISTRICTS) % PGV_WORKERS];
        resident(&g, &r, i);
        csv_fwrite(o, r.jurisdiction, strlen(r.jurisdiction));
        for (c = 0; c < NCOL; c++) {
            fputc(',', o);
            csv_fwrite(o, column_value(&r, c), strlen(column_value(&r, c)));
        }
        fputc('\n', o);
    }
    for (w = 0; w < PGV_WORKERS; w++)
        if (fclose(f[w]) != 0)
            bench_die("%s: write failed", p->csv[w]);
}

/* ---- import by 2 workers ---- */

typedef struct import_worker {
    const char *csv;
    vault_session *s;
    size_t count;
    int busy; /* imports refused by the write lock's timeout, started over */
    int rc;
    char err[512];
} import_worker;

static void *import_main(void *arg)
{
    import_worker *w = arg;

    do
        w->rc = vault_import_csv(&w->count, w->s, w->csv, NULL, NULL);
    while (w->rc == VAULT_EBUSY && ++w->busy < PGV_BUSY_TRIES);
    snprintf(w->err, sizeof w->err, "%s", w->rc < 0 ? vault_error_last() : "");
    return NULL;
}

/* Returns the wall-clock seconds from the workers' start to the last's end. */
static double import_two(pgv *p, json_t *o)
{
    vault *v[PGV_WORKERS] = {NULL};
    vault_session *s[PGV_WORKERS] = {NULL};
    import_worker w[PGV_WORKERS];
    pthread_t t[PGV_WORKERS];
    vault_secret sec;
    uint64_t t0, dt;
    size_t total = 0;
    int i, busy = 0;

    secret_of(&sec, p->key);
    /* Opened before any import starts: an open waits for no one. */
    for (i = 0; i < PGV_WORKERS; i++) {
        bench_check(vault_open(&v[i], p->loc, &sec), "postgresql vault: vault_open");
        bench_check(vault_session_open(&s[i], v[i], &city_officer), "postgresql vault: session");
        memset(&w[i], 0, sizeof w[i]);
        w[i].csv = p->csv[i];
        w[i].s = s[i];
    }
    t0 = bench_now_ns();
    for (i = 0; i < PGV_WORKERS; i++)
        if (pthread_create(&t[i], NULL, import_main, &w[i]) != 0)
            bench_die("pthread_create failed");
    for (i = 0; i < PGV_WORKERS; i++)
        pthread_join(t[i], NULL);
    dt = bench_now_ns() - t0;
    for (i = 0; i < PGV_WORKERS; i++) {
        if (w[i].rc < 0)
            bench_die("postgresql vault: import of %s: %s", w[i].csv, w[i].err);
        total += w[i].count;
        busy += w[i].busy;
        vault_session_close(s[i]);
        vault_close(v[i]);
    }
    if (total != p->rows)
        bench_die("postgresql vault: imported %zu records, expected %zu", total, p->rows);
    bench_set(o, "workers", json_integer(PGV_WORKERS));
    bench_set(o, "districts", json_integer(PGV_DISTRICTS));
    bench_set(o, "residents", json_integer((json_int_t)total));
    bench_set(o, "worker_residents", json_pack("[I,I]", (json_int_t)w[0].count,
                                               (json_int_t)w[1].count));
    bench_set(o, "lock_timeouts_started_over", json_integer(busy));
    return (double)dt / 1e9;
}

/* Every record id, through a raw connection. */
static void load_ids(pgv *p, PGconn *c)
{
    PGresult *r = PQexecParams(c, "SELECT id FROM " PGV_SCHEMA ".records", 0, NULL, NULL, NULL,
                               NULL, 1);
    int i, n;

    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        bench_die("postgresql vault: reading the record ids: %s", PQerrorMessage(c));
    n = PQntuples(r);
    if ((size_t)n != p->rows)
        bench_die("postgresql vault: %d records, expected %zu", n, p->rows);
    if (!(p->ids = malloc((size_t)n * sizeof *p->ids)))
        bench_die("out of memory");
    for (i = 0; i < n; i++) {
        if (PQgetlength(r, i, 0) != VAULT_ID_BYTES)
            bench_die("postgresql vault: a record id of unexpected length");
        sodium_bin2hex(p->ids[i], VAULT_ID_HEX_SIZE, (const uint8_t *)PQgetvalue(r, i, 0),
                       VAULT_ID_BYTES);
    }
    p->nids = (size_t)n;
    PQclear(r);
}

/* ---- audited point reads ---- */

static uint64_t one_read(vault_session *s, const char *id)
{
    vault_result *res = NULL;
    uint64_t t = bench_now_ns();

    bench_check(vault_record_get(&res, s, id, PHONE, 1), "postgresql vault: vault_record_get");
    t = bench_now_ns() - t;
    if (vault_result_count(res) != 1 || vault_result_effect(res, 0) != VAULT_EFFECT_ALLOW ||
        !vault_result_present(res, 0))
        bench_die("postgresql vault: expected an allowed, present phone");
    vault_result_free(res);
    return t;
}

static void point_reads(pgv *p, size_t n, double *rate, double *p50_us)
{
    uint64_t *lat = calloc(n, sizeof *lat), st = 0x51ed270b27f5a1c3u, t0;
    size_t i;

    if (!lat)
        bench_die("out of memory");
    t0 = bench_now_ns();
    for (i = 0; i < n; i++)
        lat[i] = one_read(p->s, p->ids[bench_rand(&st) % p->nids]);
    *rate = (double)n / ((double)(bench_now_ns() - t0) / 1e9);
    *p50_us = (double)bench_percentile(lat, n, 50) / 1e3;
    free(lat);
}

/* ---- durable single-record writes ---- */

static void durable_writes(pgv *p, size_t n, double *rate, double *p50_us)
{
    uint64_t *lat = calloc(n, sizeof *lat), t0, t;
    synth g;
    synth_resident r;
    const char *vals[NCOL];
    size_t lens[NCOL], i, c;
    char id[VAULT_ID_HEX_SIZE];

    if (!lat)
        bench_die("out of memory");
    synth_init(&g, PGV_SEED + 1);
    t0 = bench_now_ns();
    for (i = 0; i < n; i++) {
        resident(&g, &r, i);
        for (c = 0; c < NCOL; c++) {
            vals[c] = column_value(&r, c);
            lens[c] = strlen(vals[c]);
        }
        t = bench_now_ns();
        bench_check(vault_record_add(id, sizeof id, p->s, r.jurisdiction, NCOL, COLUMNS, vals,
                                     lens),
                    "postgresql vault: vault_record_add");
        lat[i] = bench_now_ns() - t;
    }
    *rate = (double)n / ((double)(bench_now_ns() - t0) / 1e9);
    *p50_us = (double)bench_percentile(lat, n, 50) / 1e3;
    free(lat);
}

/* ---- 8 clients ---- */

typedef struct client {
    pgv *p;
    vault *v;
    vault_session *s;
    size_t n;
    uint64_t seed, *lat;
} client;

static void *client_main(void *arg)
{
    client *c = arg;
    size_t i;

    for (i = 0; i < c->n; i++)
        c->lat[i] = one_read(c->s, c->p->ids[bench_rand(&c->seed) % c->p->nids]);
    return NULL;
}

static void eight_clients(pgv *p, size_t per, double *rate, double *p50_us, double *p99_us)
{
    client c[PGV_CLIENTS];
    pthread_t t[PGV_CLIENTS];
    uint64_t *lat = calloc(per * PGV_CLIENTS, sizeof *lat), t0;
    int i;

    if (!lat)
        bench_die("out of memory");
    for (i = 0; i < PGV_CLIENTS; i++) {
        c[i].p = p;
        c[i].n = per;
        c[i].seed = 0x9e3779b97f4a7c15u * (uint64_t)(i + 1);
        c[i].lat = lat + (size_t)i * per;
        bench_check(vault_reopen(&c[i].v, p->v), "postgresql vault: vault_reopen");
        bench_check(vault_session_open(&c[i].s, c[i].v, &city_officer),
                    "postgresql vault: session");
    }
    t0 = bench_now_ns();
    for (i = 0; i < PGV_CLIENTS; i++)
        if (pthread_create(&t[i], NULL, client_main, &c[i]) != 0)
            bench_die("pthread_create failed");
    for (i = 0; i < PGV_CLIENTS; i++)
        pthread_join(t[i], NULL);
    *rate = (double)(per * PGV_CLIENTS) / ((double)(bench_now_ns() - t0) / 1e9);
    *p50_us = (double)bench_percentile(lat, per * PGV_CLIENTS, 50) / 1e3;
    *p99_us = (double)bench_percentile(lat, per * PGV_CLIENTS, 99) / 1e3;
    for (i = 0; i < PGV_CLIENTS; i++) {
        vault_session_close(c[i].s);
        vault_close(c[i].v);
    }
    free(lat);
}

static void drop_schema(PGconn *c)
{
    PGresult *r = PQexec(c, "DROP SCHEMA IF EXISTS " PGV_SCHEMA " CASCADE");

    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        bench_die("DROP SCHEMA " PGV_SCHEMA ": %s", PQerrorMessage(c));
    PQclear(r);
}

void bench_pg_vault(json_t *out, const bench_cfg *cfg, PGconn *c, const char *uri,
                    const pg_raw_figures *raw)
{
    pgv p;
    vault_secret sec;
    json_t *o = json_object(), *cmp, *info;
    size_t nread = cfg->quick ? 500 : 2000, nwrite = cfg->quick ? 200 : 1000,
           per = cfg->quick ? 100 : 300;
    double secs, rate, p50, p99;

    memset(&p, 0, sizeof p);
    p.cfg = cfg;
    p.rows = cfg->pg_rows;
    if ((size_t)snprintf(p.key, sizeof p.key, "%s/pgvault.key", cfg->workdir) >= sizeof p.key ||
        (size_t)snprintf(p.loc, sizeof p.loc, "%s%svault_keys=%s/pgvault.keys&vault_schema=%s",
                         uri, strchr(uri, '?') ? "&" : "?", cfg->workdir, PGV_SCHEMA) >=
            sizeof p.loc ||
        (size_t)snprintf(p.csv[0], sizeof p.csv[0], "%s/pg-worker0.csv", cfg->workdir) >=
            sizeof p.csv[0] ||
        (size_t)snprintf(p.csv[1], sizeof p.csv[1], "%s/pg-worker1.csv", cfg->workdir) >=
            sizeof p.csv[1])
        bench_die("postgresql vault: paths too long");
    drop_schema(c);
    bench_check(vault_keyfile_generate(p.key), "vault_keyfile_generate");
    secret_of(&sec, p.key);
    bench_check(vault_create(&p.v, p.loc, cfg->policy, &sec), "postgresql vault: vault_create");
    vault_close(p.v);
    p.v = NULL;
    bench_note("postgresql vault: writing %zu residents across %d districts", p.rows,
               PGV_DISTRICTS);
    write_csvs(&p);

    bench_note("postgresql vault: import by %d workers", PGV_WORKERS);
    info = json_object();
    secs = import_two(&p, info);
    cmp = bench_ratio((double)p.rows / secs, raw->copy_pk_rows_per_s, "residents/s vs rows/s",
                      0.25);
    if (json_object_update(cmp, info) != 0)
        bench_die("out of memory building the JSON document");
    json_decref(info);
    bench_set(cmp, "libvault_seconds", bench_real(secs, 3));
    bench_set(cmp, "raw_primitive", json_string("COPY (binary) of as many rows (shard, 16-byte "
                                                "id, 684-byte body) into a table with a primary "
                                                "key, one transaction"));
    bench_set(o, "import", cmp);
    bench_note("postgresql vault: import %.0f residents/s, raw COPY %.0f rows/s, ratio %.3f",
               (double)p.rows / secs, raw->copy_pk_rows_per_s,
               (double)p.rows / secs / raw->copy_pk_rows_per_s);

    bench_check(vault_open(&p.v, p.loc, &sec), "postgresql vault: vault_open");
    bench_check(vault_set_actor(p.v, "bench"), "vault_set_actor");
    bench_check(vault_session_open(&p.s, p.v, &city_officer), "postgresql vault: session");
    load_ids(&p, c);

    bench_note("postgresql vault: %zu audited point reads", nread);
    point_reads(&p, nread, &rate, &p50);
    cmp = bench_ratio(rate, raw->point_select_per_s, "reads/s", 0);
    bench_set(cmp, "libvault_p50_us", bench_real(p50, 1));
    bench_set(cmp, "raw_p50_us", bench_real(raw->point_select_p50_us, 1));
    bench_set(cmp, "reads", json_integer((json_int_t)nread));
    bench_set(cmp, "vs_raw_durable_commit",
              bench_ratio(rate, raw->durable_commit_per_s, "commits/s", 0.8));
    bench_set(cmp, "raw_primitive", json_string("prepared SELECT body ... WHERE shard = $1 AND "
                                                "id = $2, one round trip each (vs_raw_durable_"
                                                "commit: the raw single-row durable commit)"));
    bench_set(o, "point_read", cmp);
    bench_note("postgresql vault: point reads %.0f/s (p50 %.0f us), raw selects %.0f/s", rate,
               p50, raw->point_select_per_s);

    bench_note("postgresql vault: %zu durable single-record writes", nwrite);
    durable_writes(&p, nwrite, &rate, &p50);
    cmp = bench_ratio(rate, raw->durable_commit_per_s, "commits/s", 0);
    bench_set(cmp, "libvault_p50_us", bench_real(p50, 1));
    bench_set(cmp, "raw_p50_us", bench_real(raw->durable_commit_p50_us, 1));
    bench_set(cmp, "writes", json_integer((json_int_t)nwrite));
    bench_set(cmp, "raw_primitive", json_string("one prepared single-row INSERT (16-byte id, "
                                                "684-byte body) per durable transaction"));
    bench_set(o, "durable_write", cmp);
    bench_note("postgresql vault: writes %.0f/s (p50 %.0f us), raw commits %.0f/s", rate, p50,
               raw->durable_commit_per_s);

    bench_note("postgresql vault: %d clients, %zu audited reads each", PGV_CLIENTS, per);
    eight_clients(&p, per, &rate, &p50, &p99);
    cmp = bench_ratio(rate, raw->clients_per_s, "reads/s", 0);
    bench_set(cmp, "clients", json_integer(PGV_CLIENTS));
    bench_set(cmp, "libvault_p50_us", bench_real(p50, 1));
    bench_set(cmp, "libvault_p99_us", bench_real(p99, 1));
    bench_set(cmp, "raw_p50_us", bench_real(raw->clients_p50_us, 1));
    bench_set(cmp, "raw_p99_us", bench_real(raw->clients_p99_us, 1));
    bench_set(cmp, "raw_primitive", json_string("8 threads, each its own connection, prepared "
                                                "point selects one at a time"));
    bench_set(o, "reads_8_clients", cmp);
    bench_note("postgresql vault: %d clients %.0f reads/s, raw %.0f/s", PGV_CLIENTS, rate,
               raw->clients_per_s);

    vault_session_close(p.s);
    vault_close(p.v);
    drop_schema(c);
    free(p.ids);
    bench_set(out, "libvault", o);
}

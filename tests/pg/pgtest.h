/* Shared by the PostgreSQL concurrency and crash tests
 * (tests/pg/test_pg_concurrency.c, tests/pg/test_pg_crash.c; issue 17,
 * "Tests with a real PostgreSQL"), header-only: the vault on the server
 * VAULT_PG_URI names, the DBA's connection, the children's logs of what
 * they were acknowledged, the parent's model of the vault and the checks
 * on it (below the API, so that checking adds no audit entry), and the
 * writer processes the crash and rotation tests kill or run beside.
 *
 * The records are spread over 3 districts, which are 3 shards (the shard
 * column: the first two segments of the jurisdiction), and each shard has
 * its own audit chain (docs/postgresql.md "Per-shard chains"): the entries
 * about a record are in its shard's log, the rest in the city log.  The
 * checks run per log: scan_linear over each log's chain (positions
 * 1..N of that log), audit_count the entries of every log together, and
 * check_tables' per-shard record counts. */
#ifndef VAULT_PGTEST_H
#define VAULT_PGTEST_H

#include "testutil.h"
#include "testsnap.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <libpq-fe.h>

#include "audit/audit_claims.h"
#include "audit/audit_format.h"
#include "crypto.h"
#include "record.h"
#include "store/store.h"
#include "vault_int.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define NF 3
#define NDISTRICT 3
#define WRITERS_MAX 8    /* writers in one round of check_round */
#define ROT_MAX_OPS 400  /* a RUN_ROT writer stops after this many calls */
#define SAMPLE_OLD 30    /* older records re-checked after each round */

static const char *const FIELDS[NF] = {"name", "phone", "id_number"};
/* Three districts: three shards (hangzhou/gongshu, hangzhou/xihu,
 * hangzhou/shangcheng). */
static const char *const DISTRICT[NDISTRICT] = {
    "hangzhou/gongshu/xiaohe/changzheng/grid-07",
    "hangzhou/xihu/lingyin/fayun/grid-01",
    "hangzhou/shangcheng/hubin/qingbo/grid-03",
};
static const char *const SHARD[NDISTRICT] = {"hangzhou/gongshu", "hangzhou/xihu",
                                             "hangzhou/shangcheng"};

static const char *pg_uri;
static char *dir;
/* ---- the vault and the DBA's connection ---- */

static inline void location(char *buf, size_t cap, const char *schema)
{
    assert_true((size_t)snprintf(buf, cap, "%s%svault_keys=%s/%s.keys&vault_schema=%s", pg_uri,
                                 strchr(pg_uri, '?') ? "&" : "?", dir, schema, schema) < cap);
}

static inline void keyfile(char *buf, size_t cap, const char *schema)
{
    assert_true((size_t)snprintf(buf, cap, "%s/%s.key", dir, schema) < cap);
}

/* Open the vault (the test fails, or a child exits, when it doesn't). */
static inline int open_vault(vault **v, const char *schema)
{
    char loc[1024], kf[600];
    vault_secret sec;

    location(loc, sizeof loc, schema);
    keyfile(kf, sizeof kf, schema);
    sec = tu_keyfile_secret(kf);
    return vault_open(v, loc, &sec);
}

static inline void make_vault(const char *schema)
{
    char loc[1024], kf[600];
    vault *v = NULL;
    vault_secret sec;

    location(loc, sizeof loc, schema);
    keyfile(kf, sizeof kf, schema);
    assert_int_equal(vault_keyfile_generate(kf), 0);
    sec = tu_keyfile_secret(kf);
    if (vault_create(&v, loc, POLICY, &sec) != 0)
        fail_msg("vault_create: %s", vault_error_last());
    vault_close(v);
}

/* An officer of the whole city: every district is within reach. */
static inline vault_session *officer(vault *v, const char *user)
{
    vault_subject sub = {sizeof(vault_subject), user, "data_officer", "street_office", "hangzhou",
                         "resident_service"};
    vault_session *s = NULL;

    return vault_session_open(&s, v, &sub) == 0 ? s : NULL;
}

/* One number from the cluster's superuser (a DBA with psql): the first
 * column of the first row of sql, after %s is replaced by the schema. */
/* sql = fmt with every %s replaced by the schema (the test fails when it
 * does not fit). */
static inline void dba_sql(char *sql, size_t cap, const char *schema, const char *fmt)
{
    const char *p;
    size_t o = 0;

    for (p = fmt; *p && o + 70 < cap; p++) {
        if (p[0] == '%' && p[1] == 's') {
            o += (size_t)snprintf(sql + o, cap - o, "%s", schema);
            p++;
        } else {
            sql[o++] = *p;
        }
    }
    assert_true(*p == '\0');
    sql[o] = '\0';
}

static inline int64_t dba_count(const char *schema, const char *fmt)
{
    char sql[2048];
    PGconn *c = PQconnectdb(pg_uri);
    PGresult *r;
    int64_t n;

    dba_sql(sql, sizeof sql, schema, fmt);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return n;
}

/* Run sql as the DBA; every %s is the schema (the test fails when it
 * does). */
static inline void dba_exec(const char *schema, const char *fmt)
{
    char sql[8192];
    PGconn *c = PQconnectdb(pg_uri);
    PGresult *res;

    dba_sql(sql, sizeof sql, schema, fmt);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(res);
    PQfinish(c);
}

/* ---- values: each record gets a unique number k ---- */

static inline void values_for(char out[NF][64], uint64_t k)
{
    snprintf(out[0], 64, "居民%llu", (unsigned long long)k);
    snprintf(out[1], 64, "1%010llu", (unsigned long long)k);
    snprintf(out[2], 64, "330102%012llu", (unsigned long long)k);
}

/* ---- the children's logs: one file per thread, one line per call ----
 *   TA k d          an add of value k in district d is about to be made
 *   AA k d id       it returned VAULT_OK
 *   TP id phone     a phone update is about to be made
 *   AP id phone     it returned VAULT_OK
 *   AR id           a read returned VAULT_OK with the expected values
 *   BZ              the call in flight returned VAULT_EBUSY (nothing done)
 *   EIO             it returned VAULT_EIO: the connection is gone
 *   ER message      anything else (the test fails)
 * A line is written with one write() on an O_APPEND file, so a SIGKILL
 * leaves whole lines, and an "A" line is written only after the call
 * returned. */

static inline void say(int fd, const char *fmt, ...) VAULT_PRINTF(2, 3);
static inline void say(int fd, const char *fmt, ...)
{
    char line[600];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof line && write(fd, line, (size_t)n) != n)
        _exit(9);
}

static inline int log_open(const char *name)
{
    char path[700];
    int fd;

    snprintf(path, sizeof path, "%s/%s.log", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0)
        _exit(8);
    return fd;
}

/* ---- the parent's model of the vault ---- */

typedef struct rec {
    uint8_t id[VAULT_ID_BYTES];
    uint64_t k;
    int district;
    char phone[64];
    char alt[64]; /* a phone update in flight at a kill: "" when none */
} rec;

typedef struct model {
    const char *schema;
    rec *recs;
    size_t nrecs, cap;
    uint64_t adds, puts, reads, busy, eio, kills;
    uint64_t absent_k[64]; /* adds that returned VAULT_EBUSY: must be absent */
    size_t nabsent;
} model;

static inline rec *rec_add(model *m, const uint8_t id[VAULT_ID_BYTES], uint64_t k, int d)
{
    rec *r;
    char vals[NF][64];

    if (m->nrecs == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 256;
        m->recs = realloc(m->recs, m->cap * sizeof *m->recs);
        assert_non_null(m->recs);
    }
    r = &m->recs[m->nrecs++];
    memset(r, 0, sizeof *r);
    memcpy(r->id, id, VAULT_ID_BYTES);
    r->k = k;
    r->district = d;
    values_for(vals, k);
    snprintf(r->phone, sizeof r->phone, "%s", vals[1]);
    return r;
}

static inline rec *rec_find(model *m, const uint8_t id[VAULT_ID_BYTES])
{
    size_t i;

    for (i = m->nrecs; i-- > 0;)
        if (memcmp(m->recs[i].id, id, VAULT_ID_BYTES) == 0) /* memcmp ok: not secret */
            return &m->recs[i];
    return NULL;
}

/* What a log left in flight. */
typedef struct pending {
    int add, put, eio;
    uint64_t k;
    int district;
    uint8_t id[VAULT_ID_BYTES];
    char phone[64];
    uint64_t acks; /* "A" lines */
} pending;

/* Read one log into the model; *pd gets what was in flight at its end. */
static inline void log_settle(model *m, const char *name, pending *pd)
{
    char path[700], *buf, *line, *save = NULL, hex[VAULT_ID_HEX_SIZE + 1], ph[64];
    unsigned long long k;
    size_t len = 0;
    int d;
    uint8_t id[VAULT_ID_BYTES];
    rec *r;

    memset(pd, 0, sizeof *pd);
    snprintf(path, sizeof path, "%s/%s.log", dir, name);
    buf = (char *)tu_read_file(path, &len);
    if (!buf)
        return; /* killed before it wrote anything */
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "ER ", 3) == 0)
            fail_msg("%s: %s", name, line + 3);
        if (sscanf(line, "TA %llu %d", &k, &d) == 2) {
            pd->add = 1;
            pd->put = 0;
            pd->k = k;
            pd->district = d;
        } else if (sscanf(line, "AA %llu %d %32s", &k, &d, hex) == 3) {
            assert_int_equal(vault__id_parse(id, hex), 0);
            assert_true(d >= 0 && d < NDISTRICT);
            rec_add(m, id, k, d);
            m->adds++;
            pd->add = 0;
            pd->acks++;
        } else if (sscanf(line, "TP %32s %63s", hex, ph) == 2) {
            assert_int_equal(vault__id_parse(pd->id, hex), 0);
            snprintf(pd->phone, sizeof pd->phone, "%s", ph);
            pd->put = 1;
            pd->add = 0;
        } else if (sscanf(line, "AP %32s %63s", hex, ph) == 2) {
            assert_int_equal(vault__id_parse(id, hex), 0);
            r = rec_find(m, id);
            if (!r)
                fail_msg("%s: an update of record %s, which the test never saw made", name, hex);
            snprintf(r->phone, sizeof r->phone, "%s", ph);
            m->puts++;
            pd->put = 0;
            pd->acks++;
        } else if (sscanf(line, "AR %32s", hex) == 1) {
            m->reads++;
            pd->acks++;
        } else if (strcmp(line, "BZ") == 0) {
            if (pd->add && m->nabsent < sizeof m->absent_k / sizeof m->absent_k[0])
                m->absent_k[m->nabsent++] = pd->k;
            pd->add = pd->put = 0; /* refused: nothing of it may be there */
            m->busy++;
        } else if (strcmp(line, "EIO") == 0) {
            pd->eio = 1;
            m->eio++;
        } else {
            fail_msg("%s: unexpected line '%s'", name, line);
        }
    }
    free(buf);
}

/* ---- checks on the vault (below the API: no audit entries) ---- */


/* The record holds its values (the phone: the acknowledged one, or the one
 * in flight, which then becomes it) and lies in its district. */
static inline void check_record(vault *v, rec *r)
{
    char vals[NF][64], *pt = NULL, hex[VAULT_ID_HEX_SIZE];
    size_t j, len = 0;
    int rc;
    record_ctx rx = vault__record_ctx(v);
    record_row row;

    memset(&row, 0, sizeof row);
    values_for(vals, r->k);
    vault__id_format(hex, r->id);
    rc = TU_SNAP(v->db, record_load(&row, VAULT__RX(v), r->id));
    if (rc != 0)
        fail_msg("record %s: rc %d (%s)", hex, rc, vault_error_last());
    if (strcmp(row.jurisdiction, DISTRICT[r->district]) != 0)
        fail_msg("record %s is in %s, not in district %d", hex, row.jurisdiction, r->district);
    for (j = 0; j < NF; j++) {
        const char *want = j == 1 ? r->phone : vals[j];
        rc = TU_SNAP(v->db, record_open_secure(&pt, &len, &rx, &row, FIELDS[j]));
        if (rc != 0)
            fail_msg("record %s field %s: rc %d (%s)", hex, FIELDS[j], rc, vault_error_last());
        if (len == strlen(want) && memcmp(pt, want, len) == 0) { /* memcmp ok: test values */
            if (j == 1)
                r->alt[0] = '\0';
        } else if (j == 1 && r->alt[0] && len == strlen(r->alt) &&
                   memcmp(pt, r->alt, len) == 0) { /* memcmp ok: test values */
            snprintf(r->phone, sizeof r->phone, "%s", r->alt);
            r->alt[0] = '\0';
        } else {
            fail_msg("record %s field %s holds neither the acknowledged value nor the one in "
                     "flight", hex, FIELDS[j]);
        }
        vc_free(pt);
        pt = NULL;
    }
    record_row_free(&row);
}

/* Straight on the tables: exactly the records the model knows, each whole
 * (3 fields, 2 blind-index rows: phone and id_number), per shard. */
static inline void check_tables(model *m)
{
    size_t per[NDISTRICT] = {0}, i;
    int d;
    char sql[256];

    for (i = 0; i < m->nrecs; i++)
        per[m->recs[i].district]++;
    if (dba_count(m->schema, "SELECT count(*) FROM %s.records") != (int64_t)m->nrecs)
        fail_msg("%lld records in the vault, %zu known",
                 (long long)dba_count(m->schema, "SELECT count(*) FROM %s.records"), m->nrecs);
    assert_int_equal(dba_count(m->schema, "SELECT count(*) FROM %s.records r WHERE (SELECT "
                                          "count(*) FROM %s.fields f WHERE f.record_id = r.id) <> 3"),
                     0);
    assert_int_equal(dba_count(m->schema, "SELECT count(*) FROM %s.blind_index"),
                     2 * (int64_t)m->nrecs);
    for (d = 0; d < NDISTRICT; d++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %%s.records WHERE shard = '%s'", SHARD[d]);
        assert_int_equal(dba_count(m->schema, sql), (int64_t)per[d]);
    }
}

/* How far scan_linear has read each log (a log not listed: from 1). */
#define LOGS_MAX 64
typedef struct log_marks {
    char name[LOGS_MAX][STORE_LOG_MAX + 1];
    int64_t pos[LOGS_MAX];
    size_t n;
} log_marks;

static inline int64_t *mark_of(log_marks *m, const char *log)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        if (strcmp(m->name[i], log) == 0)
            return &m->pos[i];
    assert_true(m->n < LOGS_MAX);
    snprintf(m->name[m->n], sizeof m->name[m->n], "%s", log);
    m->pos[m->n] = 0;
    return &m->pos[m->n++];
}

static inline int64_t marks_total(const log_marks *m)
{
    int64_t n = 0;
    size_t i;

    for (i = 0; i < m->n; i++)
        n += m->pos[i];
    return n;
}

typedef struct linear_ctx {
    int64_t next;
    uint64_t total;       /* entries scanned, every log */
    size_t logs;          /* logs that have entries */
    int bad;
    uint64_t creates;     /* "create" entries, outcome ok */
    uint64_t rotate_errs; /* "key_rotate" entries that failed */
    uint64_t heads;       /* "log_heads" entries: the city log's claims of the shard heads */
    model *m;
    uint8_t (*created)[VAULT_ID_BYTES];
    size_t ncreated, cap;
} linear_ctx;

/* Each entry's position is the next one, and its sequence number is its
 * position: positions 1..N without a gap, no two entries at one. */
static inline int linear_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                     size_t head_len)
{
    linear_ctx *c = arg;
    af_entry e;
    void *storage = NULL;

    (void)head;
    (void)head_len;
    if (pos != c->next || af_entry_decode(&e, &storage, entry, len) != 0 ||
        e.seq != (uint64_t)pos) {
        c->bad = 1;
        return -1;
    }
    if (strcmp(e.action, "create") == 0 && e.outcome == AF_OUTCOME_OK && e.has_record) {
        if (c->ncreated == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 256;
            c->created = realloc(c->created, c->cap * sizeof *c->created);
        }
        if (c->created)
            memcpy(c->created[c->ncreated++], e.record_id, VAULT_ID_BYTES);
        c->creates++;
    }
    if (strcmp(e.action, "key_rotate") == 0 && e.outcome != AF_OUTCOME_OK)
        c->rotate_errs++;
    if (strcmp(e.action, AF_ACTION_LOG_HEADS) == 0)
        c->heads++;
    free(storage);
    c->next++;
    return c->created || !c->cap ? 0 : -1;
}

/* Scan every log's entries after the mark for it (marks NULL: from 1),
 * each log linear by itself, and move the marks to each log's end. */
static inline void scan_linear(vault *v, log_marks *marks, linear_ctx *lc)
{
    log_marks from_start;
    store_log_list l;
    size_t i;
    int rc;

    memset(&from_start, 0, sizeof from_start);
    memset(&l, 0, sizeof l);
    if (!marks)
        marks = &from_start;
    assert_int_equal(TU_SNAP(v->db, store_audit_log_list(&l, v->db, 0)), 0);
    lc->logs = l.n;
    for (i = 0; i < l.n; i++) {
        int64_t *at = mark_of(marks, l.log[i].name);

        lc->next = *at + 1;
        rc = TU_SNAP(v->db, store_audit_scan_in(v->db, l.log[i].name, *at, linear_fn, lc));
        if (rc != 0 || lc->bad)
            fail_msg("the audit log %s is not linear at position %lld (rc %d)",
                     l.log[i].name[0] ? l.log[i].name : "(city)", (long long)lc->next, rc);
        lc->total += (uint64_t)(lc->next - 1 - *at);
        *at = lc->next - 1;
        if (*at != l.log[i].pos) /* each log read to its newest position */
            fail_msg("the audit log %s ends at %lld, its newest position is %lld",
                     l.log[i].name[0] ? l.log[i].name : "(city)", (long long)*at,
                     (long long)l.log[i].pos);
    }
    store_log_list_free(&l);
}

/* Every record new since `first` has exactly one create entry among those
 * scanned, and every create entry scanned has its record. */
static inline void check_creates(model *m, const linear_ctx *lc, size_t first)
{
    size_t i, j, n;
    char hex[VAULT_ID_HEX_SIZE];

    if (lc->ncreated != m->nrecs - first)
        fail_msg("%zu create entries, %zu records created", lc->ncreated, m->nrecs - first);
    for (i = first; i < m->nrecs; i++) {
        for (j = 0, n = 0; j < lc->ncreated; j++)
            n += memcmp(lc->created[j], m->recs[i].id, VAULT_ID_BYTES) == 0; /* memcmp ok: ids */
        if (n != 1) {
            vault__id_format(hex, m->recs[i].id);
            fail_msg("record %s has %zu create entries", hex, n);
        }
    }
}

/* The entries of every log (each log's newest position, summed). */
static inline int64_t audit_count(vault *v)
{
    store_log_list l;
    int64_t n = 0;
    size_t i;

    memset(&l, 0, sizeof l);
    assert_int_equal(TU_SNAP(v->db, store_audit_log_list(&l, v->db, 0)), 0);
    for (i = 0; i < l.n; i++)
        n += l.log[i].pos;
    store_log_list_free(&l);
    return n;
}

static inline void verify_log(vault *v, const char *when)
{
    vault_audit_result ar;

    if (vault_audit_verify(&ar, v, NULL, NULL, NULL) != 0 || ar.failure != VAULT_AUDIT_OK)
        fail_msg("%s: the audit log does not verify: %s (%s)", when, ar.message, vault_error_last());
}
/* One call's outcome: 0 acknowledged, 1 VAULT_EBUSY (logged BZ), -1 failed
 * (logged ER). */
static inline int outcome(int fd, int rc, const char *what)
{
    if (rc == 0)
        return 0;
    if (rc == VAULT_EBUSY) {
        say(fd, "BZ\n");
        return 1;
    }
    say(fd, "ER %s: rc %d: %s\n", what, rc, vault_error_last());
    return -1;
}

/* ---- writers for the kill, terminate and rotation tests ---- */

enum { RUN_KILL, RUN_TERM, RUN_ROT };

typedef struct wctx {
    const char *schema;
    const char *name; /* its log */
    int mode;
    uint64_t base;    /* its values: base, base + 1, ... */
    int ready_fd;     /* one byte once the vault is open (-1: none) */
    const char *stop; /* RUN_ROT: stop once this file exists */
    char (*seeds)[VAULT_ID_HEX_SIZE]; /* RUN_ROT: records of its own to update */
    uint64_t *seed_k;
    size_t nseeds;
} wctx;

/* A connection the server ended: this call and every later one on the
 * handle fail with VAULT_EIO "connection lost", and none returns a value. */
static inline void after_eio(int fd, vault *v, vault_session *s, vault_result *res)
{
    vault_result *r2 = NULL;
    const char *zero = "00000000000000000000000000000000";
    char hex[VAULT_ID_HEX_SIZE];
    const char *f = "phone", *val = "13000000000";
    size_t len = 11;

    if (res) {
        say(fd, "ER a call that failed with VAULT_EIO gave a result\n");
        _exit(1);
    }
    if (!strstr(vault_error_last(), "connection lost")) {
        say(fd, "ER VAULT_EIO without 'connection lost': %s\n", vault_error_last());
        _exit(1);
    }
    say(fd, "EIO\n");
    if (vault_record_get(&r2, s, zero, FIELDS, NF) != VAULT_EIO || r2) {
        say(fd, "ER a read after the connection was lost did not fail with VAULT_EIO: %s\n",
            vault_error_last());
        _exit(1);
    }
    if (vault_record_add(hex, sizeof hex, s, DISTRICT[0], 1, &f, &val, &len) != VAULT_EIO) {
        say(fd, "ER a write after the connection was lost did not fail with VAULT_EIO: %s\n",
            vault_error_last());
        _exit(1);
    }
    vault_session_close(s);
    vault_close(v);
    close(fd);
    _exit(0);
}

static inline void writer_open(const wctx *x, int fd, vault **v, vault_session **s)
{
    if (open_vault(v, x->schema) != 0) {
        say(fd, "ER vault_open: %s\n", vault_error_last());
        _exit(1);
    }
    if (!(*s = officer(*v, x->name))) {
        say(fd, "ER session: %s\n", vault_error_last());
        _exit(1);
    }
}

static inline void writer_main(const wctx *x)
{
    vault *v = NULL;
    vault_session *s = NULL;
    vault_result *res = NULL;
    char vals[NF][64], hex[VAULT_ID_HEX_SIZE], phone[64], (*ids)[VAULT_ID_HEX_SIZE];
    uint64_t *ks, k = x->base, u = x->base + 50000;
    const char *values[NF];
    size_t lens[NF], n = 0, j, cap = 4096;
    unsigned ops = 0;
    int fd = log_open(x->name), rc, o;
    char one = 1;

    ids = calloc(cap, sizeof *ids);
    ks = calloc(cap, sizeof *ks);
    if (!ids || !ks)
        _exit(2);
    for (j = 0; j < x->nseeds && n < cap; j++, n++) {
        memcpy(ids[n], x->seeds[j], VAULT_ID_HEX_SIZE);
        ks[n] = x->seed_k[j];
    }
    writer_open(x, fd, &v, &s);
    if (x->ready_fd >= 0 && write(x->ready_fd, &one, 1) != 1)
        _exit(2);
    for (;; ops++) {
        int op = rand() % 100;
        if (x->mode == RUN_ROT && (ops >= ROT_MAX_OPS || access(x->stop, F_OK) == 0))
            break;
        if (n == 0 || op < 55) {
            int d = rand() % NDISTRICT;
            values_for(vals, k);
            for (j = 0; j < NF; j++) {
                values[j] = vals[j];
                lens[j] = strlen(vals[j]);
            }
            say(fd, "TA %llu %d\n", (unsigned long long)k, d);
            rc = vault_record_add(hex, sizeof hex, s, DISTRICT[d], NF, FIELDS, values, lens);
            if (rc == VAULT_EIO && x->mode == RUN_TERM)
                after_eio(fd, v, s, NULL);
            if ((o = outcome(fd, rc, "vault_record_add")) < 0)
                _exit(1);
            if (o == 0) {
                say(fd, "AA %llu %d %s\n", (unsigned long long)k, d, hex);
                if (n < cap) {
                    memcpy(ids[n], hex, sizeof hex);
                    ks[n++] = k;
                }
            }
            k++;
        } else if (op < 85) {
            const char *rid = ids[(size_t)rand() % n];
            snprintf(phone, sizeof phone, "2%010llu", (unsigned long long)u++);
            say(fd, "TP %s %s\n", rid, phone);
            rc = vault_record_put(s, rid, "phone", phone, strlen(phone));
            if (rc == VAULT_EIO && x->mode == RUN_TERM)
                after_eio(fd, v, s, NULL);
            if ((o = outcome(fd, rc, "vault_record_put")) < 0)
                _exit(1);
            if (o == 0)
                say(fd, "AP %s %s\n", rid, phone);
        } else {
            size_t i = (size_t)rand() % n;
            rc = vault_record_get(&res, s, ids[i], FIELDS, NF);
            if (rc == VAULT_EIO && x->mode == RUN_TERM)
                after_eio(fd, v, s, res);
            if ((o = outcome(fd, rc, "vault_record_get")) < 0)
                _exit(1);
            if (o == 0) {
                /* the name and id number never change */
                values_for(vals, ks[i]);
                for (j = 0; j < NF; j += 2) {
                    size_t len = 0;
                    const char *val = vault_result_value(res, j, &len);
                    if (!val || len != strlen(vals[j]) ||
                        memcmp(val, vals[j], len) != 0) { /* memcmp ok: test values */
                        say(fd, "ER read %s field %s: not the value written\n", ids[i],
                            FIELDS[j]);
                        _exit(1);
                    }
                }
                say(fd, "AR %s\n", ids[i]);
            }
            vault_result_free(res);
            res = NULL;
        }
        /* Now and then close and open again: kills land in vault_close (its
         * checkpoint) and in vault_open too. */
        if (x->mode == RUN_KILL && ops % 10 == 9) {
            vault_session_close(s);
            vault_close(v);
            writer_open(x, fd, &v, &s);
        }
    }
    vault_session_close(s);
    vault_close(v);
    close(fd);
    _exit(0);
}

/* Start n writers of round `round` (their logs: SCHEMA-rROUND-wI); with
 * ready, wait until each has the vault open. */
static inline void start_writers(pid_t *pids, int n, const char *schema, int mode, int round,
                          char names[][64], int ready, wctx *proto)
{
    int i, fds[2] = {-1, -1};
    char b;

    if (ready)
        assert_int_equal(pipe(fds), 0);
    for (i = 0; i < n; i++) {
        snprintf(names[i], 64, "%s-r%d-w%d", schema, round, i);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            wctx x;
            if (proto)
                x = *proto;
            else
                memset(&x, 0, sizeof x);
            x.schema = schema;
            x.name = names[i];
            x.mode = mode;
            x.base = 10000000ull + ((uint64_t)round * 8 + (uint64_t)i) * 100000ull;
            x.ready_fd = fds[1];
            if (fds[0] >= 0)
                close(fds[0]);
            srand((unsigned)time(NULL) * 31u + (unsigned)(round * 8 + i));
            if (proto && proto->seeds) { /* its own share of the seeds */
                x.seeds = proto->seeds + (size_t)i * proto->nseeds;
                x.seed_k = proto->seed_k + (size_t)i * proto->nseeds;
            }
            writer_main(&x);
        }
    }
    if (!ready)
        return;
    close(fds[1]);
    for (i = 0; i < n; i++) {
        struct pollfd pf = {fds[0], POLLIN, 0};
        if (poll(&pf, 1, 60000) != 1 || read(fds[0], &b, 1) != 1)
            fail_msg("round %d: writer %d did not open the vault", round, i);
    }
    close(fds[0]);
}

/* After a round: the vault opens, the log verifies and is linear, every
 * acknowledged write is there, what was in flight is whole or absent. */
static inline void check_round(model *m, char names[][64], int n, log_marks *audit_pos, int round)
{
    vault *v = NULL;
    linear_ctx lc;
    pending pd[WRITERS_MAX];
    size_t first = m->nrecs, i;
    int w;
    char vals[NF][64];
    uint8_t id[VAULT_ID_BYTES] = {0};
    rec *r;

    memset(&lc, 0, sizeof lc);
    assert_true(n <= WRITERS_MAX);
    if (open_vault(&v, m->schema) != 0)
        fail_msg("round %d: the vault does not open: %s", round, vault_error_last());
    verify_log(v, "after the round");
    for (w = 0; w < n; w++)
        log_settle(m, names[w], &pd[w]);
    for (w = 0; w < n; w++) {
        if (pd[w].add) {
            values_for(vals, pd[w].k);
            if (tu_find_by_idno(id, v, vals[2]) == 1)
                rec_add(m, id, pd[w].k, pd[w].district);
        }
        if (pd[w].put && (r = rec_find(m, pd[w].id)) != NULL)
            snprintf(r->alt, sizeof r->alt, "%s", pd[w].phone);
    }
    scan_linear(v, audit_pos, &lc);
    check_creates(m, &lc, first);
    for (i = first; i < m->nrecs; i++)
        check_record(v, &m->recs[i]);
    for (i = 0; i < m->nrecs; i++)
        if (m->recs[i].alt[0] || (i < first && (size_t)rand() % (first + 1) < SAMPLE_OLD))
            check_record(v, &m->recs[i]);
    for (i = 0; i < m->nabsent; i++) {
        values_for(vals, m->absent_k[i]);
        assert_int_equal(tu_find_by_idno(id, v, vals[2]), 0);
    }
    check_tables(m);
    free(lc.created);
    vault_close(v);
}

static inline int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* main() of a test program: VAULT_PG_URI required (fails without it, never
 * passes), VAULT_TEST_ONLY=NAME runs one test. */
static inline int pgtest_run(const char *prog, const struct CMUnitTest *tests, size_t n)
{
    int failed;

    pg_uri = getenv("VAULT_PG_URI");
    if (!pg_uri || !*pg_uri) {
        fprintf(stderr, "%s: VAULT_PG_URI is not set (run it under tests/pg/pg_cluster.sh run)\n",
                prog);
        return 1;
    }
    if (vault_init() < 0)
        return 1;
    srand((unsigned)time(NULL));
    if (getenv("VAULT_TEST_ONLY")) /* one test by name, e.g. test_sigkill_clients */
        cmocka_set_test_filter(getenv("VAULT_TEST_ONLY"));
    dir = tu_tmpdir();
    failed = _cmocka_run_group_tests(prog, tests, n, NULL, NULL);
    tu_rmdir(dir);
    return failed;
}

#endif

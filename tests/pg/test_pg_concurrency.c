/* pg_concurrency: many processes and threads on one PostgreSQL vault, and
 * what a crash or a lost connection leaves behind (issue 17, "Tests with a
 * real PostgreSQL"), on the server VAULT_PG_URI names (ctest runs it in a
 * throwaway cluster, tests/pg/pg_cluster.sh; without VAULT_PG_URI it fails
 * rather than pass).
 *
 *  - test_processes_and_threads: 8 processes x 4 threads, each thread with
 *    its own handle (thread 0 the process's vault_open, the others
 *    vault_reopen of it, as vaultd's workers), add, update and read records
 *    in 3 districts.  Every call that returned VAULT_OK is written to the
 *    thread's log file; afterwards every acknowledged record is there with
 *    its values, nothing that failed (VAULT_EBUSY: allowed and counted) is,
 *    and the audit log is linear and complete: positions 1..N, each entry's
 *    sequence number its position, N = the entries the acknowledged calls
 *    account for, and vault_audit_verify passes.
 *  - test_sigkill_clients: writers SIGKILLed at random moments (20 kills).
 *  - test_terminate_backends: the writers' PostgreSQL backends ended with
 *    pg_terminate_backend mid-run (in one round, with every writer held
 *    inside a transaction by a DBA's lock on the generation table); each
 *    writer's next call fails closed with VAULT_EIO, and every later one
 *    on that handle too.
 *    After each round of either: every acknowledged write is there with
 *    its value, a write in flight is whole or absent, each record has its
 *    one create entry, the log verifies and the vault opens.
 *  - test_rotation_with_writers: a rotation of grade personal SIGKILLed
 *    after its first batch, resumed (in batches of 4 records), and a
 *    second one by vault_key_rotate, while 4 writer processes add and
 *    update personal fields; afterwards no field is under a
 *    retired version, the retired key rows are gone, every value reads
 *    back and the log verifies.
 *  - test_lock_timeout: another connection holds the write lock past the
 *    10 s lock_timeout: VAULT_EBUSY, nothing written, nothing logged.
 *
 * Phase 1 keeps one audit chain per vault.  The records are spread over 3
 * districts, which are 3 shards (the shard column: the first two segments
 * of the jurisdiction); when phase 2 gives each shard its own chain, the
 * same checks run per shard: the linear check over each shard's chain
 * (positions 1..N_shard), the entry count per shard = the acknowledged
 * operations on that shard's records, and the per-shard record counts
 * checked below stay as they are. */
#include "testutil.h"
#include "testsnap.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include <libpq-fe.h>

#include "audit/audit_format.h"
#include "crypto.h"
#include "record.h"
#include "rotate.h"
#include "store/store.h"
#include "vault_int.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define NF 3
#define NDISTRICT 3
#define NPROC 8
#define NTHREAD 4
#define OPS_PER_THREAD 12
#define KILL_ROUNDS 10   /* x 2 writers: 20 kills */
#define KILL_WRITERS 2
#define TERM_ROUNDS 3    /* x 3 writers: 9 backends terminated */
#define TERM_WRITERS 3
#define ROT_WRITERS 4
#define ROT_SEEDS 40
#define ROT_MAX_OPS 400
#define SAMPLE_OLD 30

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

static void location(char *buf, size_t cap, const char *schema)
{
    assert_true((size_t)snprintf(buf, cap, "%s%svault_keys=%s/%s.keys&vault_schema=%s", pg_uri,
                                 strchr(pg_uri, '?') ? "&" : "?", dir, schema, schema) < cap);
}

static void keyfile(char *buf, size_t cap, const char *schema)
{
    assert_true((size_t)snprintf(buf, cap, "%s/%s.key", dir, schema) < cap);
}

/* Open the vault (the test fails, or a child exits, when it doesn't). */
static int open_vault(vault **v, const char *schema)
{
    char loc[1024], kf[600];
    vault_secret sec;

    location(loc, sizeof loc, schema);
    keyfile(kf, sizeof kf, schema);
    sec = tu_keyfile_secret(kf);
    return vault_open(v, loc, &sec);
}

static void make_vault(const char *schema)
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
static vault_session *officer(vault *v, const char *user)
{
    vault_subject sub = {sizeof(vault_subject), user, "data_officer", "street_office", "hangzhou",
                         "resident_service"};
    vault_session *s = NULL;

    return vault_session_open(&s, v, &sub) == 0 ? s : NULL;
}

/* One number from the cluster's superuser (a DBA with psql): the first
 * column of the first row of sql, after %s is replaced by the schema. */
static int64_t dba_count(const char *schema, const char *fmt)
{
    char sql[2048];
    PGconn *c = PQconnectdb(pg_uri);
    PGresult *r;
    int64_t n;
    const char *p;
    size_t o = 0;

    /* every %s is the schema */
    for (p = fmt; *p && o + 70 < sizeof sql; p++) {
        if (p[0] == '%' && p[1] == 's') {
            o += (size_t)snprintf(sql + o, sizeof sql - o, "%s", schema);
            p++;
        } else {
            sql[o++] = *p;
        }
    }
    assert_true(*p == '\0');
    sql[o] = '\0';
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return n;
}

/* ---- values: each record gets a unique number k ---- */

static void values_for(char out[NF][64], uint64_t k)
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

static void say(int fd, const char *fmt, ...) VAULT_PRINTF(2, 3);
static void say(int fd, const char *fmt, ...)
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

static int log_open(const char *name)
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

static rec *rec_add(model *m, const uint8_t id[VAULT_ID_BYTES], uint64_t k, int d)
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

static rec *rec_find(model *m, const uint8_t id[VAULT_ID_BYTES])
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
static void log_settle(model *m, const char *name, pending *pd)
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

/* Records whose id_number is this value (0 or 1 expected). */
static size_t find_by_idno(uint8_t out[VAULT_ID_BYTES], vault *v, const char *idno)
{
    uint8_t *ids = NULL;
    size_t n = 0;
    const vp_field *f = policy_field(v->policy, "id_number");
    record_ctx rx = vault__record_ctx(v);

    assert_non_null(f);
    assert_int_equal(TU_SNAP(v->db, record_find(&ids, &n, &rx, f, idno, strlen(idno))), 0);
    if (n >= 1)
        memcpy(out, ids, VAULT_ID_BYTES);
    free(ids);
    return n;
}

/* The record holds its values (the phone: the acknowledged one, or the one
 * in flight, which then becomes it) and lies in its district. */
static void check_record(vault *v, rec *r)
{
    char vals[NF][64], *pt = NULL, hex[VAULT_ID_HEX_SIZE];
    size_t j, len = 0;
    int rc;
    record_ctx rx = vault__record_ctx(v);
    record_row row;

    memset(&row, 0, sizeof row);
    values_for(vals, r->k);
    vault__id_format(hex, r->id);
    rc = TU_SNAP(v->db, record_load(&row, v->db, r->id));
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
static void check_tables(model *m)
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

typedef struct linear_ctx {
    int64_t next;
    int bad;
    uint64_t creates;     /* "create" entries, outcome ok */
    uint64_t rotate_errs; /* "key_rotate" entries that failed */
    model *m;
    uint8_t (*created)[VAULT_ID_BYTES];
    size_t ncreated, cap;
} linear_ctx;

/* Each entry's position is the next one, and its sequence number is its
 * position: positions 1..N without a gap, no two entries at one. */
static int linear_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
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
    free(storage);
    c->next++;
    return c->created || !c->cap ? 0 : -1;
}

/* Scan entries after `after`; lc->next must then be after + 1. */
static void scan_linear(vault *v, int64_t after, linear_ctx *lc)
{
    int rc;

    lc->next = after + 1;
    rc = TU_SNAP(v->db, store_audit_scan(v->db, after, linear_fn, lc));
    if (rc != 0 || lc->bad)
        fail_msg("the audit log is not linear at position %lld (rc %d)", (long long)lc->next, rc);
}

/* Every record new since `first` has exactly one create entry among those
 * scanned, and every create entry scanned has its record. */
static void check_creates(model *m, const linear_ctx *lc, size_t first)
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

static int64_t audit_count(vault *v)
{
    int64_t n = 0;

    assert_int_equal(TU_SNAP(v->db, store_audit_count(&n, v->db)), 0);
    return n;
}

static void verify_log(vault *v, const char *when)
{
    vault_audit_result ar;

    if (vault_audit_verify(&ar, v, NULL, NULL, NULL) != 0 || ar.failure != VAULT_AUDIT_OK)
        fail_msg("%s: the audit log does not verify: %s (%s)", when, ar.message, vault_error_last());
}

/* ---- test 1: 8 processes x 4 threads ---- */

typedef struct worker {
    const char *schema;
    vault *v;
    int proc, thread;
    unsigned seed;
    int failed;
} worker;

typedef struct mine {
    char id[VAULT_ID_HEX_SIZE];
    uint64_t k;
    char phone[64];
} mine;

/* One call's outcome: 0 acknowledged, 1 VAULT_EBUSY (logged BZ), -1 failed
 * (logged ER). */
static int outcome(int fd, int rc, const char *what)
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

static void *thread_main(void *arg)
{
    worker *w = arg;
    char name[64], vals[NF][64], hex[VAULT_ID_HEX_SIZE], phone[64];
    const char *values[NF];
    size_t lens[NF], nmine = 0, j, len;
    mine my[OPS_PER_THREAD];
    vault_session *s;
    vault_result *res = NULL;
    unsigned i;
    int fd, rc, o;

    snprintf(name, sizeof name, "%s-p%d-t%d", w->schema, w->proc, w->thread);
    fd = log_open(name);
    s = officer(w->v, name);
    if (!s) {
        say(fd, "ER session: %s\n", vault_error_last());
        w->failed = 1;
        goto out;
    }
    for (i = 0; i < OPS_PER_THREAD; i++) {
        unsigned op = (unsigned)rand_r(&w->seed) % 100;
        uint64_t k = 1000000ull * (uint64_t)(w->proc + 1) + 100000ull * (uint64_t)w->thread + i;
        mine *m = nmine ? &my[(unsigned)rand_r(&w->seed) % nmine] : NULL;

        if (op < 50 || !m) {
            int d = (int)((unsigned)rand_r(&w->seed) % NDISTRICT);
            values_for(vals, k);
            for (j = 0; j < NF; j++) {
                values[j] = vals[j];
                lens[j] = strlen(vals[j]);
            }
            say(fd, "TA %llu %d\n", (unsigned long long)k, d);
            rc = vault_record_add(hex, sizeof hex, s, DISTRICT[d], NF, FIELDS, values, lens);
            if ((o = outcome(fd, rc, "vault_record_add")) < 0)
                goto fail;
            if (o == 0) {
                say(fd, "AA %llu %d %s\n", (unsigned long long)k, d, hex);
                memcpy(my[nmine].id, hex, sizeof hex);
                my[nmine].k = k;
                snprintf(my[nmine].phone, sizeof my[nmine].phone, "%s", vals[1]);
                nmine++;
            }
        } else if (op < 75) {
            snprintf(phone, sizeof phone, "2%010llu", (unsigned long long)(k + 50000));
            say(fd, "TP %s %s\n", m->id, phone);
            rc = vault_record_put(s, m->id, "phone", phone, strlen(phone));
            if ((o = outcome(fd, rc, "vault_record_put")) < 0)
                goto fail;
            if (o == 0) {
                say(fd, "AP %s %s\n", m->id, phone);
                snprintf(m->phone, sizeof m->phone, "%s", phone);
            }
        } else {
            rc = vault_record_get(&res, s, m->id, FIELDS, NF);
            if ((o = outcome(fd, rc, "vault_record_get")) < 0)
                goto fail;
            if (o == 0) {
                values_for(vals, m->k);
                snprintf(vals[1], sizeof vals[1], "%s", m->phone);
                for (j = 0; j < NF; j++) {
                    const char *val = vault_result_value(res, j, &len);
                    if (vault_result_effect(res, j) != VAULT_EFFECT_ALLOW || !val ||
                        len != strlen(vals[j]) ||
                        memcmp(val, vals[j], len) != 0) { /* memcmp ok: test values */
                        say(fd, "ER read %s field %s: not the value written\n", m->id, FIELDS[j]);
                        goto fail;
                    }
                }
                say(fd, "AR %s\n", m->id);
            }
            vault_result_free(res);
            res = NULL;
        }
    }
    goto out;
fail:
    w->failed = 1;
out:
    vault_result_free(res);
    vault_session_close(s);
    close(fd);
    return NULL;
}

static void process_main(const char *schema, int proc)
{
    vault *v[NTHREAD] = {NULL};
    worker w[NTHREAD];
    pthread_t th[NTHREAD];
    char name[64];
    int t, failed = 0, fd;

    snprintf(name, sizeof name, "%s-p%d", schema, proc);
    fd = log_open(name);
    if (open_vault(&v[0], schema) != 0) {
        say(fd, "ER vault_open: %s\n", vault_error_last());
        _exit(1);
    }
    for (t = 1; t < NTHREAD; t++)
        if (vault_reopen(&v[t], v[0]) != 0) {
            say(fd, "ER vault_reopen: %s\n", vault_error_last());
            _exit(1);
        }
    memset(w, 0, sizeof w);
    for (t = 0; t < NTHREAD; t++) {
        w[t].schema = schema;
        w[t].v = v[t];
        w[t].proc = proc;
        w[t].thread = t;
        w[t].seed = (unsigned)time(NULL) ^ (unsigned)(proc * 7919 + t * 104729);
        if (pthread_create(&th[t], NULL, thread_main, &w[t]) != 0)
            _exit(1);
    }
    for (t = 0; t < NTHREAD; t++) {
        pthread_join(th[t], NULL);
        failed |= w[t].failed;
    }
    for (t = NTHREAD; t-- > 0;)
        vault_close(v[t]);
    close(fd);
    _exit(failed ? 1 : 0);
}

static void test_processes_and_threads(void **state)
{
    model m;
    vault *v = NULL;
    pid_t pids[NPROC];
    int p, t, status, running, verifies = 0;
    int64_t before, after;
    uint64_t expected;
    linear_ctx lc;
    pending pd;
    char name[64];
    size_t i;

    (void)state;
    memset(&m, 0, sizeof m);
    memset(&lc, 0, sizeof lc);
    m.schema = "conc";
    make_vault(m.schema);
    assert_int_equal(open_vault(&v, m.schema), 0);
    before = audit_count(v);
    for (p = 0; p < NPROC; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0)
            process_main(m.schema, p);
    }
    /* The parent verifies while they work: every snapshot is a valid log. */
    do {
        verify_log(v, "during the run");
        verifies++;
        usleep(200 * 1000);
        running = 0;
        for (p = 0; p < NPROC; p++) {
            pid_t r;
            if (pids[p] == 0)
                continue;
            r = waitpid(pids[p], &status, WNOHANG);
            if (r == 0) {
                running++;
                continue;
            }
            assert_int_equal(r, pids[p]);
            pids[p] = 0;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                snprintf(name, sizeof name, "%s-p%d", m.schema, p);
                log_settle(&m, name, &pd); /* fails with its ER line */
                for (t = 0; t < NTHREAD; t++) {
                    snprintf(name, sizeof name, "%s-p%d-t%d", m.schema, p, t);
                    log_settle(&m, name, &pd);
                }
                fail_msg("process %d ended with status 0x%x", p, status);
            }
        }
    } while (running > 0);
    vault_close(v);
    v = NULL;

    for (p = 0; p < NPROC; p++)
        for (t = 0; t < NTHREAD; t++) {
            snprintf(name, sizeof name, "%s-p%d-t%d", m.schema, p, t);
            log_settle(&m, name, &pd);
            /* no kills here: every call ended, acknowledged or refused */
            if (pd.add || pd.put)
                fail_msg("%s: a call that never returned", name);
        }

    /* Afterwards, from a fresh handle: complete, linear, intact. */
    assert_int_equal(open_vault(&v, m.schema), 0);
    after = audit_count(v);
    expected = m.adds + m.puts + m.reads + (uint64_t)verifies;
    if ((uint64_t)(after - before) != expected)
        fail_msg("%lld entries appended; the acknowledged calls (%llu adds, %llu updates, %llu "
                 "reads) and %d verifies account for %llu", (long long)(after - before),
                 (unsigned long long)m.adds, (unsigned long long)m.puts,
                 (unsigned long long)m.reads, verifies, (unsigned long long)expected);
    scan_linear(v, 0, &lc);
    assert_int_equal(lc.next - 1, after);
    check_creates(&m, &lc, 0);
    {
        vault_audit_result ar;
        assert_int_equal(vault_audit_verify(&ar, v, NULL, NULL, NULL), 0);
        assert_int_equal(ar.entries, (uint64_t)after);
    }
    assert_int_equal(dba_count(m.schema, "SELECT count(*) - count(DISTINCT pos) FROM %s.audit"), 0);
    assert_int_equal(dba_count(m.schema, "SELECT max(pos) - count(*) FROM %s.audit"), 0);
    for (i = 0; i < m.nabsent; i++) { /* refused adds left nothing */
        char vals[NF][64];
        uint8_t id[VAULT_ID_BYTES];
        values_for(vals, m.absent_k[i]);
        assert_int_equal(find_by_idno(id, v, vals[2]), 0);
    }
    check_tables(&m);
    for (i = 0; i < m.nrecs; i++)
        check_record(v, &m.recs[i]);
    printf("# concurrency: %d processes x %d threads, %llu adds, %llu updates, %llu reads "
           "acknowledged, %llu VAULT_EBUSY, %d verifies meanwhile, %lld entries\n", NPROC, NTHREAD,
           (unsigned long long)m.adds, (unsigned long long)m.puts, (unsigned long long)m.reads,
           (unsigned long long)m.busy, verifies, (long long)after);
    vault_close(v);
    free(lc.created);
    free(m.recs);
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
static void after_eio(int fd, vault *v, vault_session *s, vault_result *res)
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

static void writer_open(const wctx *x, int fd, vault **v, vault_session **s)
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

static void writer_main(const wctx *x)
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
static void start_writers(pid_t *pids, int n, const char *schema, int mode, int round,
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
static void check_round(model *m, char names[][64], int n, int64_t *audit_pos, int round)
{
    vault *v = NULL;
    linear_ctx lc;
    pending pd[TERM_WRITERS > KILL_WRITERS ? TERM_WRITERS : KILL_WRITERS];
    size_t first = m->nrecs, i;
    int w;
    char vals[NF][64];
    uint8_t id[VAULT_ID_BYTES];
    rec *r;

    memset(&lc, 0, sizeof lc);
    if (open_vault(&v, m->schema) != 0)
        fail_msg("round %d: the vault does not open: %s", round, vault_error_last());
    verify_log(v, "after the round");
    for (w = 0; w < n; w++)
        log_settle(m, names[w], &pd[w]);
    for (w = 0; w < n; w++) {
        if (pd[w].add) {
            values_for(vals, pd[w].k);
            if (find_by_idno(id, v, vals[2]) == 1)
                rec_add(m, id, pd[w].k, pd[w].district);
        }
        if (pd[w].put && (r = rec_find(m, pd[w].id)) != NULL)
            snprintf(r->alt, sizeof r->alt, "%s", pd[w].phone);
    }
    scan_linear(v, *audit_pos, &lc);
    check_creates(m, &lc, first);
    *audit_pos = lc.next - 1;
    for (i = first; i < m->nrecs; i++)
        check_record(v, &m->recs[i]);
    for (i = 0; i < m->nrecs; i++)
        if (m->recs[i].alt[0] || (i < first && (size_t)rand() % (first + 1) < SAMPLE_OLD))
            check_record(v, &m->recs[i]);
    for (i = 0; i < m->nabsent; i++) {
        values_for(vals, m->absent_k[i]);
        assert_int_equal(find_by_idno(id, v, vals[2]), 0);
    }
    check_tables(m);
    free(lc.created);
    vault_close(v);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- test 2: SIGKILL of clients ---- */

static void test_sigkill_clients(void **state)
{
    model m;
    pid_t pids[KILL_WRITERS];
    char names[KILL_WRITERS][64];
    int round, i, status;
    int64_t pos = 0;
    uint64_t acked;

    (void)state;
    memset(&m, 0, sizeof m);
    m.schema = "killed";
    make_vault(m.schema);
    for (round = 1; round <= KILL_ROUNDS; round++) {
        start_writers(pids, KILL_WRITERS, m.schema, RUN_KILL, round, names, 0, NULL);
        /* some kills land while the writers are still opening the vault */
        usleep((useconds_t)(round % 4 == 0 ? rand() % 100 : 150 + rand() % 600) * 1000);
        for (i = 0; i < KILL_WRITERS; i++)
            kill(pids[i], SIGKILL);
        for (i = 0; i < KILL_WRITERS; i++) {
            assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
            if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
                pending pd;
                log_settle(&m, names[i], &pd); /* fails with its ER line */
                fail_msg("round %d: writer %d ended on its own (status 0x%x)", round, i, status);
            }
            m.kills++;
        }
        check_round(&m, names, KILL_WRITERS, &pos, round);
    }
    acked = m.adds + m.puts + m.reads;
    printf("# sigkill: %llu kills, %llu calls acknowledged (%llu adds, %llu updates), %zu "
           "records, %lld entries, all verified\n", (unsigned long long)m.kills,
           (unsigned long long)acked, (unsigned long long)m.adds, (unsigned long long)m.puts,
           m.nrecs, (long long)pos);
    assert_true(m.adds > 0);
    free(m.recs);
}

/* ---- test 3: pg_terminate_backend mid-run ---- */

/* End every client backend of the database but this one's and the
 * holder's (application_name vault_test_hold); returns how many. */
static int64_t terminate_clients(void)
{
    PGconn *c = PQconnectdb(pg_uri);
    PGresult *r;
    int64_t n;

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    r = PQexec(c, "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) AS t FROM "
                  "pg_stat_activity WHERE datname = current_database() AND pid <> "
                  "pg_backend_pid() AND backend_type = 'client backend' AND "
                  "application_name <> 'vault_test_hold') x WHERE t");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("pg_terminate_backend: %s", PQerrorMessage(c));
    n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return n;
}

/* A DBA's lock on the generation row's table: every writer that begins
 * blocks inside its transaction (the write lock taken, or waiting for it)
 * until the holder lets go.  NULL: no hold. */
static PGconn *hold_generation(const char *schema)
{
    char sql[200];
    PGconn *c;
    PGresult *r;

    c = PQconnectdb(pg_uri);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "SET application_name = 'vault_test_hold'"));
    snprintf(sql, sizeof sql, "BEGIN; LOCK TABLE %s.generation IN ACCESS EXCLUSIVE MODE", schema);
    r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    return c;
}

static void test_terminate_backends(void **state)
{
    model m;
    pid_t pids[TERM_WRITERS];
    char names[TERM_WRITERS][64];
    int round, i, status;
    int64_t pos = 0, terminated = 0, t0;
    uint64_t eio_before;
    int in_tx = 0;

    (void)state;
    memset(&m, 0, sizeof m);
    m.schema = "terminated";
    make_vault(m.schema);
    for (round = 1; round <= TERM_ROUNDS; round++) {
        PGconn *hold = NULL;
        start_writers(pids, TERM_WRITERS, m.schema, RUN_TERM, round, names, 1, NULL);
        usleep((useconds_t)(100 + rand() % 500) * 1000);
        if (round == 2) { /* every writer caught inside a transaction */
            hold = hold_generation(m.schema);
            t0 = now_ms();
            while (dba_count(m.schema, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                       "current_database() AND wait_event_type IN ('Lock') AND "
                                       "state <> 'idle'") < TERM_WRITERS)
                if (now_ms() - t0 > 5000)
                    fail_msg("round 2: the writers are not all waiting inside a transaction");
                else
                    usleep(20 * 1000);
        }
        i = (int)terminate_clients();
        if (hold) {
            PQclear(PQexec(hold, "ROLLBACK"));
            PQfinish(hold);
            in_tx++;
        }
        if (i < TERM_WRITERS)
            fail_msg("round %d: %d backends terminated, %d writers connected", round, i,
                     TERM_WRITERS);
        terminated += i;
        /* each writer's next call fails with VAULT_EIO and it exits 0 */
        t0 = now_ms();
        for (i = 0; i < TERM_WRITERS; i++) {
            pid_t r;
            while ((r = waitpid(pids[i], &status, WNOHANG)) == 0) {
                if (now_ms() - t0 > 60000) {
                    kill(pids[i], SIGKILL);
                    fail_msg("round %d: writer %d still runs after its backend was terminated",
                             round, i);
                }
                usleep(20 * 1000);
            }
            assert_int_equal(r, pids[i]);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                pending pd;
                log_settle(&m, names[i], &pd); /* fails with its ER line */
                fail_msg("round %d: writer %d: status 0x%x", round, i, status);
            }
        }
        eio_before = m.eio;
        check_round(&m, names, TERM_WRITERS, &pos, round);
        assert_int_equal(m.eio - eio_before, TERM_WRITERS); /* each saw its VAULT_EIO */
    }
    /* Three writers never wait 10 s for the write lock: a VAULT_EBUSY here
     * is a terminated connection reported as something it isn't. */
    assert_int_equal(m.busy, 0);
    assert_int_equal(in_tx, 1);
    printf("# terminate: %lld backends terminated (one round's all inside a transaction), %llu "
           "VAULT_EIO seen, %llu calls acknowledged, %zu records, %lld entries, all verified\n",
           (long long)terminated,
           (unsigned long long)m.eio, (unsigned long long)(m.adds + m.puts + m.reads), m.nrecs,
           (long long)pos);
    free(m.recs);
}

/* ---- test 4: key rotation while writers write ---- */

static void rotator_progress(uint64_t done, uint64_t total, void *arg)
{
    char one = 1;

    (void)done;
    (void)total;
    if (write(*(int *)arg, &one, 1) != 1)
        _exit(2);
}

/* A rotation in batches of 2 records, in a process of its own, SIGKILLed
 * once its first batch has committed: left unfinished, version 2 created
 * and some fields still under version 1. */
static void kill_a_rotation(const char *schema)
{
    int fds[2], status, rc;
    pid_t pid;
    char b;
    struct pollfd pf;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        vault *v = NULL;
        int fd = fds[1];
        close(fds[0]);
        if (open_vault(&v, schema) != 0)
            _exit(1);
        rc = rotate__run(v, "personal", 2, 0, rotator_progress, &fd);
        _exit(rc == 0 ? 3 : 4); /* it ended before the kill */
    }
    close(fds[1]);
    pf.fd = fds[0];
    pf.events = POLLIN;
    pf.revents = 0;
    if (poll(&pf, 1, 60000) != 1 || read(fds[0], &b, 1) != 1)
        fail_msg("the rotation process committed no batch");
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(fds[0]);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        fail_msg("the rotation ended before it was killed (status 0x%x)", status);
}

/* The calls the writers' logs acknowledge so far ("A" lines). */
static size_t acks_so_far(char names[][64], int n)
{
    char path[700];
    size_t total = 0, len = 0, j;
    uint8_t *buf;
    int i;

    for (i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s.log", dir, names[i]);
        if (!(buf = tu_read_file(path, &len)))
            continue;
        for (j = 0; j < len; j++)
            total += buf[j] == 'A' && (j == 0 || buf[j - 1] == '\n');
        free(buf);
    }
    return total;
}

static void test_rotation_with_writers(void **state)
{
    model m;
    vault *v = NULL;
    vault_session *s;
    pid_t pids[ROT_WRITERS];
    char names[ROT_WRITERS][64], stop[600], vals[NF][64];
    char seeds[ROT_SEEDS][VAULT_ID_HEX_SIZE];
    uint64_t seed_k[ROT_SEEDS];
    const char *values[NF];
    size_t lens[NF], j, i, during_start, during_end;
    uint8_t id[VAULT_ID_BYTES];
    uint32_t latest = 0;
    int64_t stale = -1;
    int w, status;
    wctx proto;
    linear_ctx lc;
    pending pd[ROT_WRITERS];

    (void)state;
    memset(&m, 0, sizeof m);
    memset(&lc, 0, sizeof lc);
    m.schema = "rot";
    make_vault(m.schema);
    assert_int_equal(open_vault(&v, m.schema), 0);
    s = officer(v, "seed");
    assert_non_null(s);
    for (i = 0; i < ROT_SEEDS; i++) {
        values_for(vals, 1 + i);
        for (j = 0; j < NF; j++) {
            values[j] = vals[j];
            lens[j] = strlen(vals[j]);
        }
        assert_int_equal(vault_record_add(seeds[i], sizeof seeds[i], s, DISTRICT[i % NDISTRICT],
                                          NF, FIELDS, values, lens), 0);
        assert_int_equal(vault__id_parse(id, seeds[i]), 0);
        rec_add(&m, id, 1 + i, (int)(i % NDISTRICT));
        seed_k[i] = 1 + i;
    }
    vault_session_close(s);
    assert_int_equal(TU_SNAP(v->db, store_gradekey_latest(&latest, v->db, "personal")), 0);
    assert_int_equal(latest, 1);

    snprintf(stop, sizeof stop, "%s/rot.stop", dir);
    memset(&proto, 0, sizeof proto);
    proto.stop = stop;
    proto.seeds = seeds; /* writer i updates seeds i*10 .. i*10 + 9 besides its own */
    proto.seed_k = seed_k;
    proto.nseeds = ROT_SEEDS / ROT_WRITERS;
    start_writers(pids, ROT_WRITERS, m.schema, RUN_ROT, 1, names, 1, &proto);
    usleep(200 * 1000);
    during_start = acks_so_far(names, ROT_WRITERS);
    /* A rotation killed after its first batch: version 2 made, version 1
     * still in use and kept. */
    kill_a_rotation(m.schema);
    assert_int_equal(dba_count(m.schema, "SELECT count(*) FROM %s.grade_keys WHERE grade = "
                                         "'personal'"), 2);
    assert_true(dba_count(m.schema, "SELECT count(*) FROM %s.fields WHERE grade = 'personal' "
                                    "AND key_version = 1") > 0);
    /* Twice more: the first resumes the killed one in batches of 4 records
     * (each its own transaction, so the writers' transactions fall between
     * them), the second runs as vault_key_rotate does, moving the fields
     * the writers sealed under version 2 meanwhile. */
    if (rotate__run(v, "personal", 4, 0, NULL, NULL) != 0)
        fail_msg("the resumed rotation failed: %s", vault_error_last());
    if (vault_key_rotate(v, "personal", NULL, NULL) != 0)
        fail_msg("the second rotation failed: %s", vault_error_last());
    during_end = acks_so_far(names, ROT_WRITERS);
    usleep(200 * 1000);
    tu_write_file(stop, "stop", 4);
    for (w = 0; w < ROT_WRITERS; w++) {
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            log_settle(&m, names[w], &pd[w]); /* fails with its ER line */
            fail_msg("writer %d: status 0x%x", w, status);
        }
    }
    vault_close(v);
    v = NULL;
    for (w = 0; w < ROT_WRITERS; w++) {
        log_settle(&m, names[w], &pd[w]);
        if (pd[w].add || pd[w].put)
            fail_msg("%s: a call that never returned", names[w]);
    }
    if (during_end <= during_start)
        fail_msg("no write was acknowledged while the rotations ran (%zu before, %zu after)",
                 during_start, during_end);

    /* From a fresh handle: nothing under a retired version, the retired
     * key rows gone, every value back, the log intact. */
    assert_int_equal(open_vault(&v, m.schema), 0);
    assert_int_equal(TU_SNAP(v->db, store_gradekey_latest(&latest, v->db, "personal")), 0);
    assert_int_equal(latest, 3);
    assert_int_equal(TU_SNAP(v->db, store_field_count_stale(&stale, v->db, "personal", latest)), 0);
    assert_int_equal(stale, 0);
    assert_int_equal(dba_count(m.schema, "SELECT count(*) FROM %s.fields WHERE grade = "
                                         "'personal' AND key_version <> 3"), 0);
    assert_int_equal(dba_count(m.schema, "SELECT count(*) FROM %s.grade_keys WHERE grade = "
                                         "'personal'"), 1);
    assert_int_equal(dba_count(m.schema, "SELECT count(*) FROM %s.fields WHERE grade = "
                                         "'personal'"), 2 * (int64_t)m.nrecs);
    verify_log(v, "after the rotations");
    scan_linear(v, 0, &lc);
    assert_int_equal(lc.rotate_errs, 0); /* neither rotation stopped on the way */
    check_creates(&m, &lc, 0);
    check_tables(&m);
    for (i = 0; i < m.nrecs; i++)
        check_record(v, &m.recs[i]);
    printf("# rotation: a rotation of grade personal killed after its first batch, resumed, and "
           "a second one, with %d writers, %zu writes acknowledged "
           "while they ran, %llu adds and %llu updates in all, %llu VAULT_EBUSY, %zu records, "
           "0 fields under versions 1 and 2\n", ROT_WRITERS, during_end - during_start,
           (unsigned long long)m.adds, (unsigned long long)m.puts, (unsigned long long)m.busy,
           m.nrecs);
    vault_close(v);
    free(lc.created);
    free(m.recs);
}

/* ---- test 5: the write lock not had within lock_timeout ---- */

/* Another connection holds the vault's write lock for longer than the
 * 10 s lock_timeout: a write fails with VAULT_EBUSY, in one line without
 * a value, leaves nothing (no record, no entry), and succeeds once the
 * lock is free.  (The one case of test_processes_and_threads' allowed
 * VAULT_EBUSY, made to happen.) */
static void test_lock_timeout(void **state)
{
    vault *v = NULL, *holder = NULL;
    vault_session *s;
    char vals[NF][64], hex[VAULT_ID_HEX_SIZE];
    const char *values[NF];
    size_t lens[NF], j;
    uint8_t id[VAULT_ID_BYTES];
    int64_t before, t0, waited;
    int rc;

    (void)state;
    make_vault("busy");
    assert_int_equal(open_vault(&v, "busy"), 0);
    assert_int_equal(open_vault(&holder, "busy"), 0);
    s = officer(v, "li");
    assert_non_null(s);
    values_for(vals, 77);
    for (j = 0; j < NF; j++) {
        values[j] = vals[j];
        lens[j] = strlen(vals[j]);
    }
    before = audit_count(v);
    assert_int_equal(store_begin(holder->db, STORE_TX_WRITE), 0); /* takes the write lock */
    t0 = now_ms();
    rc = vault_record_add(hex, sizeof hex, s, DISTRICT[1], NF, FIELDS, values, lens);
    waited = now_ms() - t0;
    store_rollback(holder->db);
    assert_int_equal(rc, VAULT_EBUSY);
    assert_true(waited >= 9000); /* lock_timeout, STORE_BUSY_TIMEOUT_MS */
    assert_non_null(strstr(vault_error_last(), "lock"));
    assert_null(strchr(vault_error_last(), '\n'));
    for (j = 0; j < NF; j++)
        assert_null(strstr(vault_error_last(), vals[j]));
    assert_int_equal(audit_count(v), before);
    assert_int_equal(find_by_idno(id, v, vals[2]), 0);
    assert_int_equal(dba_count("busy", "SELECT count(*) FROM %s.records"), 0);
    /* the lock free again: the same call goes through */
    assert_int_equal(vault_record_add(hex, sizeof hex, s, DISTRICT[1], NF, FIELDS, values, lens), 0);
    assert_int_equal(audit_count(v), before + 1);
    assert_int_equal(dba_count("busy", "SELECT count(*) FROM %s.records"), 1);
    verify_log(v, "after the lock timeout");
    printf("# lock timeout: VAULT_EBUSY after %lld ms, nothing written, then the write went "
           "through\n", (long long)waited);
    vault_session_close(s);
    vault_close(holder);
    vault_close(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_processes_and_threads),
        cmocka_unit_test(test_sigkill_clients),
        cmocka_unit_test(test_terminate_backends),
        cmocka_unit_test(test_rotation_with_writers),
        cmocka_unit_test(test_lock_timeout),
    };
    int failed;

    pg_uri = getenv("VAULT_PG_URI");
    if (!pg_uri || !*pg_uri) {
        fprintf(stderr, "test_pg_concurrency: VAULT_PG_URI is not set (run it under "
                        "tests/pg/pg_cluster.sh run)\n");
        return 1;
    }
    if (vault_init() < 0)
        return 1;
    srand((unsigned)time(NULL));
    if (getenv("VAULT_TEST_ONLY")) /* one test by name, e.g. test_sigkill_clients */
        cmocka_set_test_filter(getenv("VAULT_TEST_ONLY"));
    dir = tu_tmpdir();
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    tu_rmdir(dir);
    return failed;
}

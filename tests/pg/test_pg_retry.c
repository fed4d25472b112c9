/* PostgreSQL: bounded retries of deadlocks (issue 17, docs/postgresql.md
 * "Transactions and errors").  A deadlock is planted with two real
 * connections: the backend's connection V holds a deferred (audited-read)
 * transaction's snapshot, which keeps an ACCESS SHARE lock on the
 * generation table; the DBA's connection B takes the vault's write lock
 * (the advisory lock) and then asks for ACCESS EXCLUSIVE on generation;
 * V's first write asks for the write lock.  V waits for B, B for V.  V's
 * deadlock_timeout is short and B's long, so the server always picks V as
 * the victim (the waiter whose deadlock check runs first).
 *
 *  - test_deadlock_bounded: B never gives up: V's lock step is tried
 *    PG_TRIES (3) times, no more, and fails with VAULT_EBUSY; the server
 *    counts exactly 3 deadlocks (pg_stat_database.deadlocks);
 *  - test_deadlock_retried: B gives up (lock_timeout) after V's first
 *    deadlock: V's second try gets the write lock, the write commits, and
 *    the server counted 1 deadlock;
 *  - test_stale_snapshot_not_retried: a commit since the begin that moved
 *    the generation makes the lock step's generation check fail:
 *    VAULT_EBUSY at once, no retry (what was read stays stale; the caller
 *    starts over), and the transaction changed nothing.
 *
 * Deferred statements (docs/postgresql.md, "Round trips"): what the
 * server refuses of an audit append or state update sent with the commit
 * fails the commit, and nothing is kept (test_deferred_position_taken,
 * test_deferred_state_not_newest: a DBA's row planted between the
 * append and the commit); refused writes among queued appends undo
 * themselves only (test_deferred_among_refusals); a read-only
 * transaction's rollback, not waited for, still ends it at once on the
 * server (test_rollback_not_waited).
 *
 * The bound above the backend (an audited read starts over at most
 * OP_AUDITED_TRIES times, libvault/op.h) is session.c's. */
#include "pgtest.h"

#include <pthread.h>

#include <sodium.h>

#include "store/postgresql.h"
#include "storerow.h"

#define V_DEADLOCK_MS 500 /* V's deadlock_timeout */
#define B_GIVES_UP_MS 750 /* B's lock_timeout in test_deadlock_retried */

static int schema_no;

typedef struct conn_pair {
    char schema[64];
    store_backend *v; /* the backend under test */
    PGconn *b;        /* the DBA's connection */
    int64_t key;      /* the vault's write-lock key, as pg_locks shows it */
    char loc[1024];   /* the vault's location and store key, for more handles */
    uint8_t skey[32];
} conn_pair;

typedef struct mwriter {
    store_backend *v;
    int rc;
    char err[512];
    int64_t ms;
    volatile int done;
} mwriter;

static void b_exec(PGconn *b, const char *sql)
{
    PGresult *r = PQexec(b, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(b));
    PQclear(r);
}

static int64_t b_int(PGconn *b, const char *sql)
{
    PGresult *r = PQexec(b, sql);
    int64_t n;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(b));
    n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

/* The database's deadlock count, once the victim's backend has exited and
 * flushed its statistics and the count has stopped moving. */
static int64_t deadlocks(PGconn *b)
{
    int64_t n = -1, was;
    int i;

    for (i = 0; i < 40; i++) {
        was = n;
        b_exec(b, "SELECT pg_stat_clear_snapshot()");
        n = b_int(b, "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()");
        if (i >= 4 && n == was)
            break;
        usleep(100 * 1000);
    }
    return n;
}

static void pair_open(conn_pair *p)
{
    char *loc = p->loc, sql[256], opts[64];
    uint8_t *key = p->skey;

    memset(p, 0, sizeof *p);
    snprintf(p->schema, sizeof p->schema, "retry_%d", ++schema_no);
    assert_true((size_t)snprintf(loc, sizeof p->loc, "%s%svault_schema=%s", pg_uri,
                                 strchr(pg_uri, '?') ? "&" : "?", p->schema) < sizeof p->loc);
    randombytes_buf(key, sizeof p->skey);
    /* V's server session: a deadlock check V_DEADLOCK_MS into a wait. */
    snprintf(opts, sizeof opts, "-c deadlock_timeout=%dms", V_DEADLOCK_MS);
    assert_int_equal(setenv("PGOPTIONS", opts, 1), 0);
    if (store_postgresql_open(&p->v, loc, key, 1) != 0)
        fail_msg("store_postgresql_open: %s", vault_error_last());
    assert_int_equal(unsetenv("PGOPTIONS"), 0);
    p->b = PQconnectdb(pg_uri);
    assert_int_equal(PQstatus(p->b), CONNECTION_OK);
    b_exec(p->b, "SET deadlock_timeout = '20s'"); /* B never checks first */
    /* The write-lock key: what V holds in a write transaction. */
    assert_int_equal(p->v->begin(p->v, STORE_TX_WRITE), 0);
    p->key = b_int(p->b, "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks"
                         " WHERE locktype = 'advisory' AND granted");
    p->v->rollback(p->v);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'");
    assert_int_equal(b_int(p->b, sql), 0);
}

static void pair_close(conn_pair *p)
{
    char sql[128];

    if (p->v)
        p->v->free(p->v);
    p->v = NULL;
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", p->schema);
    b_exec(p->b, "SET client_min_messages = warning");
    b_exec(p->b, sql);
    PQfinish(p->b);
}

static void *meta_writer(void *arg)
{
    mwriter *w = arg;
    static const uint8_t value[4] = {1, 2, 3, 4};
    store_meta m;
    int64_t t0 = now_ms();

    memset(&m, 0, sizeof m);
    m.key = "retry_test";
    m.value = value;
    m.len = sizeof value;
    w->rc = w->v->meta_put(w->v, &m);
    w->ms = now_ms() - t0;
    snprintf(w->err, sizeof w->err, "%s", w->rc < 0 ? vault_error_last() : "");
    w->done = 1;
    return NULL;
}

static int meta_found(void *arg, const store_meta *row)
{
    (void)row;
    *(int *)arg = 1;
    return 1;
}

/* V in a deferred transaction, B holding the write lock; V's writer
 * thread started and seen waiting for the lock; then B's LOCK TABLE sent
 * (not waited for): the deadlock.  lock_timeout_ms > 0: B gives up then. */
static void plant_deadlock(conn_pair *p, mwriter *w, pthread_t *t, int lock_timeout_ms)
{
    char sql[256];
    int i;

    assert_int_equal(p->v->begin(p->v, STORE_TX_DEFERRED), 0);
    b_exec(p->b, "BEGIN");
    snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%lld)", (long long)p->key);
    b_exec(p->b, sql);
    if (lock_timeout_ms > 0) {
        snprintf(sql, sizeof sql, "SET LOCAL lock_timeout = '%dms'", lock_timeout_ms);
        b_exec(p->b, sql);
    }
    memset(w, 0, sizeof *w);
    w->v = p->v;
    assert_int_equal(pthread_create(t, NULL, meta_writer, w), 0);
    for (i = 0; i < 500 && b_int(p->b, "SELECT count(*) FROM pg_locks WHERE locktype ="
                                        " 'advisory' AND NOT granted") == 0; i++)
        usleep(10 * 1000);
    assert_true(i < 500); /* V waits for the write lock */
    snprintf(sql, sizeof sql, "LOCK TABLE %s.generation IN ACCESS EXCLUSIVE MODE", p->schema);
    assert_int_equal(PQsendQuery(p->b, sql), 1);
}

/* Wait for the writer (at most 30 s: an unbounded retry fails here). */
static void writer_join(mwriter *w, pthread_t t)
{
    int i;

    for (i = 0; i < 3000 && !w->done; i++)
        usleep(10 * 1000);
    if (!w->done)
        fail_msg("the write was still retrying after 30 s: the retries are not bounded");
    assert_int_equal(pthread_join(t, NULL), 0);
}

/* B's LOCK TABLE's result: 1 granted, 0 refused by its lock_timeout. */
static int b_lock_result(PGconn *b)
{
    PGresult *r;
    int ok = -1;

    while ((r = PQgetResult(b)) != NULL) {
        if (PQresultStatus(r) == PGRES_COMMAND_OK)
            ok = 1;
        else if (strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE), "55P03") == 0)
            ok = 0;
        else
            fail_msg("LOCK TABLE: %s", PQerrorMessage(b));
        PQclear(r);
    }
    assert_true(ok >= 0);
    return ok;
}

static void test_deadlock_bounded(void **state)
{
    conn_pair p;
    mwriter w;
    pthread_t t;
    int64_t before, after;

    (void)state;
    pair_open(&p);
    before = deadlocks(p.b);
    plant_deadlock(&p, &w, &t, 0);
    writer_join(&w, t);
    assert_int_equal(w.rc, VAULT_EBUSY);
    assert_non_null(strstr(w.err, "deadlocked with another connection 3 times"));
    assert_non_null(strstr(w.err, "40P01"));
    assert_null(strchr(w.err, '\n'));
    /* three waits of at least the deadlock timeout each */
    assert_true(w.ms >= 3 * V_DEADLOCK_MS - 50);
    p.v->rollback(p.v); /* releases V's locks: B's LOCK TABLE goes through */
    assert_int_equal(b_lock_result(p.b), 1);
    b_exec(p.b, "ROLLBACK");
    p.v->free(p.v); /* V's backend exits: its statistics are flushed */
    p.v = NULL;
    after = deadlocks(p.b);
    printf("# deadlock every try: VAULT_EBUSY after %lld ms, %lld deadlocks counted\n",
           (long long)w.ms, (long long)(after - before));
    assert_int_equal(after - before, 3);
    pair_close(&p);
}

static void test_deadlock_retried(void **state)
{
    conn_pair p;
    mwriter w;
    pthread_t t;
    int64_t before, after;
    int found = 0;

    (void)state;
    pair_open(&p);
    before = deadlocks(p.b);
    plant_deadlock(&p, &w, &t, B_GIVES_UP_MS);
    /* B's wait ends by its lock_timeout, after V's first deadlock and
     * before V's second try would be checked; B then lets the lock go. */
    assert_int_equal(b_lock_result(p.b), 0);
    b_exec(p.b, "ROLLBACK");
    writer_join(&w, t);
    if (w.rc != 0)
        fail_msg("the retried write failed: %s", w.err);
    assert_true(w.ms >= V_DEADLOCK_MS - 50); /* it did wait for one deadlock */
    assert_int_equal(p.v->commit(p.v), 0);
    assert_int_equal(p.v->begin(p.v, STORE_TX_SNAPSHOT), 0);
    assert_int_equal(p.v->meta_get(p.v, "retry_test", meta_found, &found), 0);
    p.v->rollback(p.v);
    assert_int_equal(found, 1);
    p.v->free(p.v);
    p.v = NULL;
    after = deadlocks(p.b);
    printf("# one deadlock: the second try got the write lock after %lld ms, %lld deadlocks "
           "counted\n", (long long)w.ms, (long long)(after - before));
    assert_int_equal(after - before, 1);
    pair_close(&p);
}

static void test_stale_snapshot_not_retried(void **state)
{
    conn_pair p;
    mwriter w;
    pthread_t t;
    char sql[128];
    int found = 0;
    int64_t gen;

    (void)state;
    pair_open(&p);
    assert_int_equal(p.v->begin(p.v, STORE_TX_DEFERRED), 0);
    snprintf(sql, sizeof sql, "UPDATE %s.generation SET n = n + 1", p.schema);
    b_exec(p.b, sql); /* another connection's commit since the snapshot */
    snprintf(sql, sizeof sql, "SELECT n FROM %s.generation", p.schema);
    gen = b_int(p.b, sql);
    memset(&w, 0, sizeof w);
    w.v = p.v;
    assert_int_equal(pthread_create(&t, NULL, meta_writer, &w), 0);
    writer_join(&w, t);
    assert_int_equal(w.rc, VAULT_EBUSY);
    assert_non_null(strstr(w.err, "changed the policy, grants or keys"));
    assert_non_null(strstr(w.err, "start over"));
    assert_null(strstr(w.err, "times")); /* one try, not the deadlock's three */
    p.v->rollback(p.v);
    assert_int_equal(b_int(p.b, sql), gen);
    /* The caller's new transaction sees the commit and writes. */
    assert_int_equal(p.v->begin(p.v, STORE_TX_DEFERRED), 0);
    memset(&w, 0, sizeof w);
    w.v = p.v;
    assert_int_equal(pthread_create(&t, NULL, meta_writer, &w), 0);
    writer_join(&w, t);
    if (w.rc != 0)
        fail_msg("the write after starting over failed: %s", w.err);
    assert_int_equal(p.v->commit(p.v), 0);
    assert_int_equal(p.v->begin(p.v, STORE_TX_SNAPSHOT), 0);
    assert_int_equal(p.v->meta_get(p.v, "retry_test", meta_found, &found), 0);
    p.v->rollback(p.v);
    assert_int_equal(found, 1);
    pair_close(&p);
}

/* ---- deferred statements (docs/postgresql.md, "Round trips") ----
 * Audit appends and state updates are sent with the next statement, the
 * commit's at the latest: what the server refuses of them then fails the
 * commit, and nothing of the transaction is kept. */

typedef struct dseal {
    int n;
    uint8_t heads[4][32];
} dseal;

static int dseal_cb(void *arg, const store_audit_head *h, store_audit_row *out, size_t cap,
                    size_t *n)
{
    dseal *d = arg;
    int i;

    assert_true((size_t)d->n <= cap && d->n <= 4);
    for (i = 0; i < d->n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].pos = h->pos + 1 + i;
        out[i].entry = (const uint8_t *)"entry";
        out[i].len = 5;
        memset(d->heads[i], (int)out[i].pos, 32);
        out[i].head = d->heads[i];
        out[i].head_len = 32;
        out[i].user = "tester";
    }
    *n = (size_t)d->n;
    return 0;
}

static int64_t count_in(conn_pair *p, const char *what)
{
    char sql[300];

    snprintf(sql, sizeof sql, "SELECT %s", what);
    return b_int(p->b, sql);
}

/* SELECT what FROM the pair's schema's table, one row: the DBA's view. */
static int64_t in_schema(conn_pair *p, const char *what, const char *table)
{
    char sql[256];

    snprintf(sql, sizeof sql, "SELECT %s FROM %s.%s", what, p->schema, table);
    return b_int(p->b, sql);
}

/* The DBA's row at pos, committed at once (the audit table takes INSERTs
 * from its owner: only UPDATE and DELETE are refused). */
static void dba_row(conn_pair *p, int pos)
{
    char sql[384];

    snprintf(sql, sizeof sql, "INSERT INTO %s.audit(log, pos, entry, head, \"user\", flags) VALUES"
             " ('', %d, 'x', decode(repeat('ab', 32), 'hex'), 'dba', 0)", p->schema, pos);
    b_exec(p->b, sql);
}

static void test_deferred_position_taken(void **state)
{
    conn_pair p;
    dseal d = {2, {{0}}};
    int64_t gen;

    (void)state;
    pair_open(&p);
    gen = in_schema(&p, "n", "generation");
    assert_int_equal(p.v->begin(p.v, STORE_TX_WRITE), 0);
    assert_int_equal(p.v->audit_write(p.v, STORE_LOG_CITY, dseal_cb, &d), 0); /* queued: 1 and 2 */
    dba_row(&p, 1);
    assert_int_equal(p.v->commit(p.v), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "position is taken"));
    assert_int_equal(in_schema(&p, "count(*)", "audit"), 1); /* the DBA's row, none of V's */
    assert_int_equal(in_schema(&p, "n", "generation"), gen);
    /* the handle goes on: its next transaction sees the DBA's row */
    assert_int_equal(p.v->begin(p.v, STORE_TX_SNAPSHOT), 0);
    {
        int64_t n = -1;
        assert_int_equal(p.v->audit_count(p.v, STORE_LOG_CITY, &n), 0);
        assert_int_equal(n, 1);
    }
    p.v->rollback(p.v);
    pair_close(&p);
}

/* A log's head row is locked by the append, to the commit (another
 * connection's FOR UPDATE NOWAIT of it fails meanwhile, of another log's
 * not), and an append to a log with entries whose head row a DBA removed
 * fails the commit, nothing kept. */
static void test_head_row_locked(void **state)
{
    conn_pair p;
    dseal d = {2, {{0}}};
    char sql[256];
    int64_t n = -1;
    PGresult *r;

    (void)state;
    pair_open(&p);
    assert_int_equal(p.v->begin(p.v, STORE_TX_WRITE), 0);
    assert_int_equal(p.v->audit_write(p.v, "hangzhou/xihu", dseal_cb, &d), 0);
    assert_int_equal(p.v->audit_write(p.v, STORE_LOG_CITY, dseal_cb, &d), 0);
    assert_int_equal(p.v->commit(p.v), 0);
    assert_int_equal(in_schema(&p, "count(*)", "audit_heads"), 2);

    assert_int_equal(p.v->begin(p.v, STORE_TX_WRITE), 0);
    assert_int_equal(p.v->audit_write(p.v, "hangzhou/xihu", dseal_cb, &d), 0);
    assert_int_equal(p.v->audit_count(p.v, "hangzhou/xihu", &n), 0); /* sends the queue */
    assert_int_equal(n, 4);
    b_exec(p.b, "BEGIN");
    snprintf(sql, sizeof sql,
             "SELECT pos FROM %s.audit_heads WHERE log = 'hangzhou/xihu' FOR UPDATE NOWAIT",
             p.schema);
    r = PQexec(p.b, sql);
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "55P03");
    PQclear(r);
    b_exec(p.b, "ROLLBACK");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM (SELECT pos FROM %s.audit_heads WHERE log = ''"
             " FOR UPDATE NOWAIT) x",
             p.schema);
    assert_int_equal(b_int(p.b, sql), 1); /* the city log's: not this transaction's */
    assert_int_equal(p.v->commit(p.v), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT pos FROM %s.audit_heads WHERE log = 'hangzhou/xihu'"
             " FOR UPDATE NOWAIT) x",
             p.schema);
    assert_int_equal(b_int(p.b, sql), 1); /* free after the commit */

    /* the head row removed by a DBA: the append, which locks it first,
     * is refused, nothing queued */
    snprintf(sql, sizeof sql, "DELETE FROM %s.audit_heads WHERE log = 'hangzhou/xihu'", p.schema);
    b_exec(p.b, sql);
    assert_int_equal(p.v->begin(p.v, STORE_TX_WRITE), 0);
    assert_int_equal(p.v->audit_write(p.v, "hangzhou/xihu", dseal_cb, &d), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "head row of log 'hangzhou/xihu' is missing"));
    p.v->rollback(p.v);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.audit WHERE log = 'hangzhou/xihu'",
             p.schema);
    assert_int_equal(b_int(p.b, sql), 4);
    pair_close(&p);
}

static void test_deferred_state_not_newest(void **state)
{
    conn_pair p;
    dseal d = {1, {{0}}};
    store_audit_state st;
    uint8_t blob[1] = {9};

    (void)state;
    pair_open(&p);
    memset(&st, 0, sizeof st);
    assert_int_equal(p.v->begin(p.v, STORE_TX_WRITE), 0);
    assert_int_equal(p.v->audit_write(p.v, STORE_LOG_CITY, dseal_cb, &d), 0); /* 1, queued */
    st.pos = 1;
    memset(st.head, 1, 32);
    st.state = blob;
    st.len = 1;
    /* against the transaction's head: refused at once */
    st.pos = 2;
    assert_int_equal(p.v->audit_state_put(p.v, &st, 0), VAULT_EINTEGRITY);
    st.pos = 1;
    st.head[5] = 0;
    assert_int_equal(p.v->audit_state_put(p.v, &st, 0), VAULT_EINTEGRITY);
    st.head[5] = 1;
    assert_int_equal(p.v->audit_state_put(p.v, &st, 0), 0); /* the newest, for V */
    dba_row(&p, 3); /* ... not for the server, by the commit */
    assert_int_equal(p.v->commit(p.v), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "not the newest"));
    assert_int_equal(in_schema(&p, "count(*)", "audit"), 1);
    assert_int_equal(in_schema(&p, "count(*)", "audit_heads"), 0); /* V's first append's */
    pair_close(&p);
}

/* A write refused before it sent anything, and one the server refused,
 * after queued appends: each undoes itself, the appends stay. */
static void test_deferred_among_refusals(void **state)
{
    conn_pair p;
    dseal d = {1, {{0}}};
    store_gradekey k;

    (void)state;
    pair_open(&p);
    memset(&k, 0, sizeof k);
    k.grade = "personal";
    k.version = 1;
    k.wrapped = (const uint8_t *)"w";
    k.len = 1;
    assert_int_equal(p.v->begin(p.v, STORE_TX_DEFERRED), 0);
    assert_int_equal(p.v->audit_write(p.v, STORE_LOG_CITY, dseal_cb, &d), 0);
    k.grade = NULL;
    assert_int_equal(p.v->gradekey_add(p.v, &k), VAULT_EINVALID); /* nothing sent */
    k.grade = "personal";
    assert_int_equal(p.v->gradekey_add(p.v, &k), 0);
    assert_int_equal(p.v->audit_write(p.v, STORE_LOG_CITY, dseal_cb, &d), 0);
    assert_int_equal(p.v->gradekey_add(p.v, &k), VAULT_EEXISTS); /* the server's refusal */
    assert_int_equal(p.v->audit_write(p.v, STORE_LOG_CITY, dseal_cb, &d), 0);
    assert_int_equal(p.v->commit(p.v), 0);
    assert_int_equal(in_schema(&p, "count(*)", "audit"), 3);
    assert_int_equal(in_schema(&p, "count(*)", "grade_keys"), 1);
    pair_close(&p);
}

/* A read-only transaction's rollback is sent, not waited for: the server
 * still ends it at once (the handle idle after, nothing held: no
 * "idle in transaction" for a DDL to wait behind), and the handle's next
 * transaction reads the rollback's result first and goes on. */
static void test_rollback_not_waited(void **state)
{
    conn_pair p;
    static const char *const in_tx =
        "count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        " AND pid <> pg_backend_pid() AND datname = current_database()"
        " AND state LIKE 'idle in transaction%'";
    int64_t n = -1, gen = -1;
    int i;

    (void)state;
    pair_open(&p);
    assert_int_equal(p.v->begin(p.v, STORE_TX_SNAPSHOT), 0);
    assert_int_equal(p.v->generation(p.v, &gen), 0);
    assert_int_equal(count_in(&p, in_tx), 1);
    p.v->rollback(p.v);
    for (i = 0; i < 200 && (n = count_in(&p, in_tx)) != 0; i++)
        usleep(10 * 1000);
    assert_int_equal(n, 0);
    b_exec(p.b, "SET lock_timeout = '2s'");
    {
        char sql[160];
        snprintf(sql, sizeof sql, "BEGIN; LOCK TABLE %s.generation IN ACCESS EXCLUSIVE MODE;"
                 " COMMIT", p.schema);
        b_exec(p.b, sql);
    }
    assert_int_equal(p.v->begin(p.v, STORE_TX_DEFERRED), 0);
    assert_int_equal(p.v->audit_count(p.v, STORE_LOG_CITY, &n), 0);
    assert_int_equal(n, 0);
    p.v->rollback(p.v);
    assert_int_equal(p.v->begin(p.v, STORE_TX_WRITE), 0); /* after a rollback not waited for */
    p.v->rollback(p.v);
    assert_int_equal(count_in(&p, "count(*) FROM pg_locks WHERE locktype = 'advisory'"), 0);
    pair_close(&p);
}

/* ---- audited reads without the write lock (docs/postgresql.md
 * "Transactions and errors") ----
 * A deferred transaction (an audited read) takes no write lock: its
 * appends lock their log's head row from the seal to the commit, so two
 * in different logs go on side by side and two in one log one after the
 * other, the second chained after the first's commit; its commit fails
 * when the generation moved since its begin (a policy, grant or key
 * change), not for the audit log's own rows; audit-only commits don't
 * move the generation; a quota's count and use are one step per user. */

typedef struct appender {
    store_backend *v;
    const char *log;
    dseal d;
    int rc;
    int64_t ms;
    char err[512];
    volatile int done;
} appender;

static void *deferred_append(void *arg)
{
    appender *a = arg;
    int64_t t0 = now_ms();

    a->d.n = 1;
    a->rc = a->v->begin(a->v, STORE_TX_DEFERRED);
    if (a->rc == 0)
        a->rc = a->v->audit_write(a->v, a->log, dseal_cb, &a->d);
    if (a->rc == 0)
        a->rc = a->v->commit(a->v);
    else
        a->v->rollback(a->v);
    a->ms = now_ms() - t0;
    snprintf(a->err, sizeof a->err, "%s", a->rc < 0 ? vault_error_last() : "");
    a->done = 1;
    return NULL;
}

/* The thread's end, at most 30 s away. */
static void thread_join(volatile int *done, pthread_t t)
{
    int i;

    for (i = 0; i < 3000 && !*done; i++)
        usleep(10 * 1000);
    assert_true(*done);
    assert_int_equal(pthread_join(t, NULL), 0);
}

/* Another handle on the pair's vault (its own connection). */
static store_backend *another(conn_pair *p)
{
    store_backend *b = NULL;

    if (store_postgresql_open(&b, p->loc, p->skey, 0) != 0)
        fail_msg("store_postgresql_open: %s", vault_error_last());
    return b;
}

/* Waiters for a lock of the kind (a row's: 'transactionid'). */
static int64_t waiters(conn_pair *p, const char *locktype)
{
    char sql[160];

    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_locks WHERE locktype = '%s' AND NOT granted",
             locktype);
    return b_int(p->b, sql);
}

static int64_t wait_for_waiter(conn_pair *p, const char *locktype)
{
    int64_t n = 0;
    int i;

    for (i = 0; i < 500 && (n = waiters(p, locktype)) == 0; i++)
        usleep(10 * 1000);
    return n;
}

/* fn(arg) started on a thread of its own and seen waiting for a lock of
 * the kind, not done. */
static void start_waiting(conn_pair *p, pthread_t *t, void *(*fn)(void *), void *arg,
                          volatile int *done, const char *locktype)
{
    assert_int_equal(pthread_create(t, NULL, fn, arg), 0);
    assert_true(wait_for_waiter(p, locktype) > 0);
    assert_false(*done);
}

static void test_audited_reads_apart(void **state)
{
    conn_pair p;
    dseal d = {1, {{0}}};
    appender a, b;
    pthread_t ta, tb;
    store_backend *w1, *w2;
    char sql[256];
    int64_t gen;

    (void)state;
    pair_open(&p);
    w1 = another(&p);
    w2 = another(&p);
    /* the log has a committed head row (a new log's is its first
     * append's, which nobody else sees until it commits) */
    assert_int_equal(p.v->begin(p.v, STORE_TX_DEFERRED), 0);
    assert_int_equal(p.v->audit_write(p.v, "hangzhou/xihu", dseal_cb, &d), 0);
    assert_int_equal(p.v->commit(p.v), 0);
    gen = in_schema(&p, "n", "generation");
    assert_int_equal(p.v->begin(p.v, STORE_TX_DEFERRED), 0);
    assert_int_equal(p.v->audit_write(p.v, "hangzhou/xihu", dseal_cb, &d), 0); /* head locked */
    /* no write lock (the rotation lock, shared, is all it holds), and the
     * head row is this transaction's */
    assert_int_equal(count_in(&p, "count(*) FROM pg_locks WHERE locktype = 'advisory'"
                                  " AND mode <> 'ShareLock'"), 0);
    assert_int_equal(count_in(&p, "count(*) FROM pg_locks WHERE locktype = 'advisory'"
                                  " AND mode = 'ShareLock'"), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM (SELECT pos FROM %s.audit_heads WHERE log ="
             " 'hangzhou/xihu' FOR UPDATE SKIP LOCKED) x", p.schema);
    assert_int_equal(b_int(p.b, sql), 0);

    /* another log: not waited for */
    memset(&a, 0, sizeof a);
    a.v = w1;
    a.log = "hangzhou/gongshu";
    assert_int_equal(pthread_create(&ta, NULL, deferred_append, &a), 0);
    thread_join(&a.done, ta);
    if (a.rc != 0)
        fail_msg("the append to another log failed: %s", a.err);
    printf("# an audited read of another log committed in %lld ms meanwhile\n", (long long)a.ms);

    /* the same log: waits for the head row (its FOR UPDATE: the row is
     * there, committed), then chains after it */
    memset(&b, 0, sizeof b);
    b.v = w2;
    b.log = "hangzhou/xihu";
    start_waiting(&p, &tb, deferred_append, &b, &b.done, "transactionid");
    assert_int_equal(p.v->commit(p.v), 0);
    thread_join(&b.done, tb);
    if (b.rc != 0)
        fail_msg("the append after the head row was free failed: %s", b.err);
    snprintf(sql, sizeof sql, "SELECT string_agg(pos::text, ',' ORDER BY pos) = '1,2,3'"
             " FROM %s.audit WHERE log = 'hangzhou/xihu'", p.schema);
    {
        PGresult *r = PQexec(p.b, sql);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        assert_string_equal(PQgetvalue(r, 0, 0), "t");
        PQclear(r);
    }
    /* b sealed at the head V's commit left: position 3, after it */
    assert_int_equal(b.d.heads[0][0], 3);
    /* appends alone don't move the generation */
    assert_int_equal(in_schema(&p, "n", "generation"), gen);
    w1->free(w1);
    w2->free(w2);
    pair_close(&p);
}

static void put_key(store_backend *v, const char *key)
{
    static const uint8_t value[2] = {7, 7};
    store_meta m;

    memset(&m, 0, sizeof m);
    m.key = key;
    m.value = value;
    m.len = sizeof value;
    assert_int_equal(v->begin(v, STORE_TX_WRITE), 0);
    assert_int_equal(v->meta_put(v, &m), 0);
    assert_int_equal(v->commit(v), 0);
}

static void test_audited_read_generation(void **state)
{
    conn_pair p;
    dseal d = {1, {{0}}};
    store_backend *w;
    int64_t gen;

    (void)state;
    pair_open(&p);
    w = another(&p);
    /* a change a handle keeps loaded, committed while the read read:
     * the read's commit fails, nothing of it kept */
    assert_int_equal(p.v->begin(p.v, STORE_TX_DEFERRED), 0);
    assert_int_equal(p.v->audit_write(p.v, STORE_LOG_CITY, dseal_cb, &d), 0);
    gen = in_schema(&p, "n", "generation");
    put_key(w, "retry_test");
    assert_int_equal(in_schema(&p, "n", "generation"), gen + 1);
    assert_int_equal(p.v->commit(p.v), VAULT_EBUSY);
    assert_non_null(strstr(vault_error_last(), "changed the policy, grants or keys while this "
                                               "transaction read"));
    assert_int_equal(in_schema(&p, "count(*)", "audit"), 0);
    assert_int_equal(count_in(&p, "count(*) FROM pg_locks WHERE locktype = 'advisory'"), 0);
    /* the audit log's own meta row does not move it: the read commits */
    assert_int_equal(p.v->begin(p.v, STORE_TX_DEFERRED), 0);
    assert_int_equal(p.v->audit_write(p.v, STORE_LOG_CITY, dseal_cb, &d), 0);
    gen = in_schema(&p, "n", "generation");
    put_key(w, STORE_META_AUDIT_PREFIX "retry_test");
    assert_int_equal(in_schema(&p, "n", "generation"), gen);
    assert_int_equal(p.v->commit(p.v), 0);
    assert_int_equal(in_schema(&p, "count(*)", "audit"), 1);
    /* and a deferred read that writes nothing commits whatever moved */
    assert_int_equal(p.v->begin(p.v, STORE_TX_DEFERRED), 0);
    put_key(w, "retry_test");
    assert_int_equal(p.v->commit(p.v), 0);
    w->free(w);
    pair_close(&p);
}

typedef struct counter {
    store_backend *v;
    const char *user;
    int64_t used;
    int rc;
    volatile int done;
} counter;

/* A deferred transaction on its own thread: begun, a quota counted (user
 * NULL: none), rolled back. */
static void *quota_counter(void *arg)
{
    counter *q = arg;

    q->rc = q->v->begin(q->v, STORE_TX_DEFERRED);
    if (q->rc == 0 && q->user)
        q->rc = q->v->quota_count(q->v, "q", q->user, 0, &q->used);
    if (q->rc == 0)
        q->v->rollback(q->v);
    q->done = 1;
    return NULL;
}


static void test_quota_serialised(void **state)
{
    conn_pair p;
    store_backend *w;
    counter c, other;
    pthread_t t, to;
    int64_t used = -1;

    (void)state;
    pair_open(&p);
    w = another(&p);
    assert_int_equal(p.v->begin(p.v, STORE_TX_DEFERRED), 0);
    assert_int_equal(p.v->quota_count(p.v, "q", "alice", 0, &used), 0);
    assert_int_equal(used, 0);
    /* another user's count: not waited for */
    memset(&other, 0, sizeof other);
    other.v = w;
    other.user = "bob";
    assert_int_equal(pthread_create(&to, NULL, quota_counter, &other), 0);
    thread_join(&other.done, to);
    assert_int_equal(other.rc, 0);
    /* the same user's waits for the use this transaction records */
    memset(&c, 0, sizeof c);
    c.v = w;
    c.user = "alice";
    start_waiting(&p, &t, quota_counter, &c, &c.done, "advisory");
    assert_int_equal(p.v->quota_add(p.v, "q", "alice", 0, 10), 0);
    assert_int_equal(p.v->commit(p.v), 0);
    thread_join(&c.done, t);
    assert_int_equal(c.rc, 0);
    assert_int_equal(c.used, 1);
    w->free(w);
    pair_close(&p);
}

/* The records an audited read read are checked at its commit: one that
 * another connection changed or removed meanwhile fails it (VAULT_EBUSY,
 * nothing kept); a record write does not move the generation. */
static void fill_one(store_record *r, store_field *f, int64_t version)
{
    tu_store_record(r, f, 0x42, "hangzhou/xihu/lingyin", version);
}

static int read_cb(void *arg, size_t i, const store_record *row)
{
    (void)i;
    *(int64_t *)arg = row ? row->version : -1;
    return 0;
}

static void read_and_log(conn_pair *p, int64_t want_version)
{
    dseal d = {1, {{0}}};
    int64_t seen = 0;
    uint8_t id[VAULT_ID_BYTES];

    memset(id, 0x42, sizeof id);
    assert_int_equal(p->v->begin(p->v, STORE_TX_DEFERRED), 0);
    assert_int_equal(p->v->record_get_batch(p->v, id, 1, read_cb, &seen), 0);
    assert_int_equal(seen, want_version);
    assert_int_equal(p->v->audit_write(p->v, "hangzhou/xihu", dseal_cb, &d), 0);
}

static void test_audited_read_record_changed(void **state)
{
    conn_pair p;
    store_backend *w;
    store_record r;
    store_field f;
    store_gradekey k;
    int64_t gen, logged;

    (void)state;
    pair_open(&p);
    w = another(&p);
    memset(&k, 0, sizeof k);
    k.grade = "personal";
    k.version = 1;
    k.wrapped = (const uint8_t *)"wrapped";
    k.len = 7;
    fill_one(&r, &f, 1);
    assert_int_equal(w->begin(w, STORE_TX_WRITE), 0);
    assert_int_equal(w->gradekey_add(w, &k), 0);
    assert_int_equal(w->record_write(w, &r, 1), 0);
    assert_int_equal(w->commit(w), 0);
    /* nobody changed it: the read commits */
    read_and_log(&p, 1);
    assert_int_equal(p.v->commit(p.v), 0);
    logged = in_schema(&p, "count(*)", "audit");
    assert_int_equal(logged, 1);
    /* changed after it was read: the read's commit fails */
    read_and_log(&p, 1);
    gen = in_schema(&p, "n", "generation");
    fill_one(&r, &f, 2);
    assert_int_equal(w->begin(w, STORE_TX_WRITE), 0);
    assert_int_equal(w->record_write(w, &r, 0), 0);
    assert_int_equal(w->commit(w), 0);
    assert_int_equal(in_schema(&p, "n", "generation"), gen); /* a record: not moved */
    assert_int_equal(p.v->commit(p.v), VAULT_EBUSY);
    assert_non_null(strstr(vault_error_last(), "a record this transaction read changed"));
    assert_int_equal(in_schema(&p, "count(*)", "audit"), logged);
    /* removed after it was read: the same */
    read_and_log(&p, 2);
    assert_int_equal(w->begin(w, STORE_TX_WRITE), 0);
    assert_int_equal(w->record_delete(w, r.id), 0);
    assert_int_equal(w->commit(w), 0);
    assert_int_equal(p.v->commit(p.v), VAULT_EBUSY);
    assert_int_equal(in_schema(&p, "count(*)", "audit"), logged);
    w->free(w);
    pair_close(&p);
}

/* A master-key rotation's copy holds the rotation lock: an audited read
 * (no write lock) does not begin until the rotation's transaction ends;
 * one under way is waited for by the rotation. */

static void test_rotation_holds_reads(void **state)
{
    conn_pair p;
    store_backend *w;
    counter b;
    pthread_t t;

    (void)state;
    pair_open(&p);
    w = another(&p);
    /* a read under way: the rotation lock is not to be had */
    assert_int_equal(p.v->begin(p.v, STORE_TX_DEFERRED), 0);
    assert_int_equal(w->begin(w, STORE_TX_WRITE), 0);
    b_exec(p.b, "SET lock_timeout = '300ms'");
    {
        char sql[160];
        PGresult *r;
        snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%lld)",
                 (long long)count_in(&p, "objid::bigint | (classid::bigint << 32) FROM pg_locks"
                                         " WHERE locktype = 'advisory' AND mode = 'ShareLock'"));
        b_exec(p.b, "BEGIN");
        r = PQexec(p.b, sql);
        assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR); /* held shared by the read */
        PQclear(r);
        b_exec(p.b, "ROLLBACK");
    }
    p.v->rollback(p.v);
    assert_int_equal(store_pg_rotation_hold(w), 0);
    /* a read does not begin meanwhile */
    memset(&b, 0, sizeof b);
    b.v = p.v;
    start_waiting(&p, &t, quota_counter, &b, &b.done, "advisory");
    w->rollback(w);
    thread_join(&b.done, t);
    assert_int_equal(b.rc, 0);
    /* and only in a write transaction */
    assert_int_equal(w->begin(w, STORE_TX_DEFERRED), 0);
    assert_int_equal(store_pg_rotation_hold(w), VAULT_ESTATE);
    w->rollback(w);
    w->free(w);
    pair_close(&p);
}

/* A read-only snapshot's begin goes with its first statement: its key
 * check is checked before any result, and a snapshot whose check failed
 * reads nothing more (only a rollback). */
static void test_lazy_snapshot_key_check(void **state)
{
    conn_pair p;
    char sql[256];
    int found = 0;
    int64_t gen = -1;

    (void)state;
    pair_open(&p);
    /* a snapshot that reads nothing sends nothing */
    assert_int_equal(p.v->begin(p.v, STORE_TX_SNAPSHOT), 0);
    assert_int_equal(count_in(&p, "count(*) FROM pg_stat_activity WHERE backend_type = 'client"
                                  " backend' AND pid <> pg_backend_pid() AND datname ="
                                  " current_database() AND state LIKE 'idle in transaction%'"),
                     0);
    assert_int_equal(p.v->commit(p.v), 0);
    /* the generation inside one comes with its begin */
    assert_int_equal(p.v->begin(p.v, STORE_TX_SNAPSHOT), 0);
    assert_int_equal(p.v->generation(p.v, &gen), 0);
    assert_int_equal(gen, in_schema(&p, "n", "generation"));
    p.v->rollback(p.v);
    /* another key's check (a DBA's, or a rotation's): no result, then nothing */
    put_key(p.v, "retry_test");
    snprintf(sql, sizeof sql, "UPDATE %s.store_info SET keycheck = set_byte(keycheck, 0,"
             " get_byte(keycheck, 0) # 1)", p.schema);
    b_exec(p.b, sql);
    assert_int_equal(p.v->begin(p.v, STORE_TX_SNAPSHOT), 0);
    assert_int_equal(p.v->meta_get(p.v, "retry_test", meta_found, &found), VAULT_EAUTH);
    assert_int_equal(found, 0);
    assert_int_not_equal(p.v->meta_get(p.v, "retry_test", meta_found, &found), VAULT_OK);
    assert_int_equal(found, 0);
    assert_int_not_equal(p.v->commit(p.v), VAULT_OK);
    p.v->rollback(p.v);
    b_exec(p.b, sql); /* put back */
    assert_int_equal(p.v->begin(p.v, STORE_TX_SNAPSHOT), 0);
    assert_int_equal(p.v->meta_get(p.v, "retry_test", meta_found, &found), VAULT_OK);
    assert_int_equal(found, 1);
    p.v->rollback(p.v);
    pair_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadlock_bounded),
        cmocka_unit_test(test_deadlock_retried),
        cmocka_unit_test(test_stale_snapshot_not_retried),
        cmocka_unit_test(test_deferred_position_taken),
        cmocka_unit_test(test_deferred_state_not_newest),
        cmocka_unit_test(test_deferred_among_refusals),
        cmocka_unit_test(test_rollback_not_waited),
        cmocka_unit_test(test_head_row_locked),
        cmocka_unit_test(test_audited_reads_apart),
        cmocka_unit_test(test_audited_read_generation),
        cmocka_unit_test(test_quota_serialised),
        cmocka_unit_test(test_audited_read_record_changed),
        cmocka_unit_test(test_rotation_holds_reads),
        cmocka_unit_test(test_lazy_snapshot_key_check),
    };

    return pgtest_run("test_pg_retry", tests, sizeof tests / sizeof tests[0]);
}

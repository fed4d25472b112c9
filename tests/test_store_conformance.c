/* store_conformance: the store conformance suite.  One set of tests of the
 * backend table (store/backend.h), written once and run against every
 * backend through the opener table `kinds` below: the in-memory double
 * (tests/store_mem.c), the SQLCipher backend (store/sqlcipher.c, files
 * in a temporary directory) and, when VAULT_PG_URI names a server, the
 * PostgreSQL backend (store/postgresql.c, one schema per store, dropped
 * at the end; ctest test_store_conformance_pg runs it in a throwaway
 * cluster, tests/pg/pg_cluster.sh).  Each cmocka group is one backend, and each test's
 * name starts with it ("sqlcipher: records").  What the contract leaves to
 * each backend's own open function (how a store is named, what a missing
 * one returns) is in the entry; everything else is asserted alike.
 * Last, a whole vault on the double through the public API, which leaves
 * no SQLCipher file behind.  Run one backend with an argument:
 * test_store_conformance sqlcipher.  "postgresql" without VAULT_PG_URI
 * fails (it is what the ctest asks for: it must not pass by skipping). */
#include "testutil.h"

#include <dirent.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "store/backend.h"
#include "store/postgresql.h"
#include "store/sqlcipher.h"
#include "store_mem.h"
#include "storerow.h"

static const uint8_t K1[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                               17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static uint8_t K2[32];

/* ---- the opener table: one entry per backend ---- */

typedef struct backend_kind {
    const char *name; /* the backend's name member, and the group's */
    /* Open (create 1: make) the store called `name`; the backend's own
     * open function's result. */
    int (*open)(store_backend **out, const char *name, const uint8_t key[32], int create);
    /* Drop the store called `name` (every connection closed). */
    void (*forget)(const char *name);
    int missing_rc; /* what open (create 0) of a store never made returns */
    /* 1: record_write refuses a field under a grade key the store lacks,
     * and gradekey_retire a key a field still uses (backend.h) */
    int refs_checked;
} backend_kind;

static int mem_open(store_backend **out, const char *name, const uint8_t key[32], int create)
{
    return store_mem_open(out, name, key, create);
}

static void mem_forget(const char *name)
{
    assert_int_equal(store_mem_forget(name), VAULT_OK);
}

/* SQLCipher stores are files NAME.vault in one temporary directory. */
static char *sq_dir;

static void sq_path(char *buf, size_t cap, const char *name)
{
    assert_true((size_t)snprintf(buf, cap, "%s/%s.vault", sq_dir, name) < cap);
}

static int sq_open(store_backend **out, const char *name, const uint8_t key[32], int create)
{
    char path[512];

    sq_path(path, sizeof path, name);
    return store_sqlcipher_open(out, path, key, create);
}

static void sq_forget(const char *name)
{
    static const char *const tails[] = {"", "-wal", "-shm"};
    char path[512], side[600];
    size_t i;

    sq_path(path, sizeof path, name);
    assert_int_equal(unlink(path), 0);
    for (i = 0; i < VAULT_ARRAY_LEN(tails); i++) {
        snprintf(side, sizeof side, "%s%s", path, tails[i]);
        unlink(side);
    }
}

/* PostgreSQL stores are schemas t_<pid>_NAME of the database VAULT_PG_URI
 * names, dropped by forget through a connection of the test's own. */
static const char *pg_uri;

static void pg_schema(char *buf, size_t cap, const char *name)
{
    assert_true((size_t)snprintf(buf, cap, "t_%ld_%s", (long)getpid(), name) < cap);
}

static int pg_open(store_backend **out, const char *name, const uint8_t key[32], int create)
{
    char schema[64], loc[1024];

    pg_schema(schema, sizeof schema, name);
    assert_true((size_t)snprintf(loc, sizeof loc, "%s%svault_schema=%s", pg_uri,
                                 strchr(pg_uri, '?') ? "&" : "?", schema) < sizeof loc);
    return store_postgresql_open(out, loc, key, create);
}

/* Run sql (one statement) as the test's own superuser connection. */
static void pg_admin(const char *sql)
{
    PGconn *c = PQconnectdb(pg_uri);
    PGresult *r;

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "SET client_min_messages = warning")); /* no NOTICE of the cascade */
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static void pg_forget(const char *name)
{
    char schema[64], sql[128];

    pg_schema(schema, sizeof schema, name);
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    pg_admin(sql);
}

static const backend_kind kinds[] = {
    {"memory", mem_open, mem_forget, VAULT_EIO, 0},
    {"sqlcipher", sq_open, sq_forget, VAULT_ENOTFOUND, 0},
    {"postgresql", pg_open, pg_forget, VAULT_EINTEGRITY, 1},
};

/* The backend the running group tests (set by its group setup). */
static const backend_kind *K;

/* Each test uses its own store, forgotten at the end. */
static store_backend *open_new(const char *name)
{
    store_backend *be = NULL;

    assert_int_equal(K->open(&be, name, K1, 1), VAULT_OK);
    assert_non_null(be);
    return be;
}

static store_backend *open_again(const char *name)
{
    store_backend *be = NULL;

    assert_int_equal(K->open(&be, name, K1, 0), VAULT_OK);
    assert_non_null(be);
    return be;
}

static void done(store_backend *be, const char *name)
{
    be->free(be);
    K->forget(name);
}

/* ---- meta, the row every transaction test writes ---- */

typedef struct got_meta {
    char value[64];
    uint8_t mac[STORE_MAC_BYTES];
} got_meta;

static int meta_cb(void *arg, const store_meta *row)
{
    got_meta *g = arg;

    assert_true(row->len < sizeof g->value);
    memcpy(g->value, row->value, row->len);
    g->value[row->len] = 0;
    memcpy(g->mac, row->mac, STORE_MAC_BYTES);
    return 0;
}

static void put_meta(store_backend *be, const char *key, const char *value)
{
    store_meta m;

    memset(&m, 0, sizeof m);
    m.key = key;
    m.value = (const uint8_t *)value;
    m.len = strlen(value);
    memset(m.mac, value[0], sizeof m.mac);
    assert_int_equal(be->meta_put(be, &m), VAULT_OK);
}

/* The meta value as be reads it in its open transaction ("" if none). */
static const char *meta_of(store_backend *be, const char *key, got_meta *g)
{
    int rc = be->meta_get(be, key, meta_cb, g);

    if (rc == VAULT_ENOTFOUND)
        g->value[0] = 0;
    else
        assert_int_equal(rc, VAULT_OK);
    return g->value;
}

static void test_open(void **state)
{
    store_backend *a, *b = NULL;
    got_meta g;

    (void)state;
    a = open_new("open");
    assert_int_equal(a->version, STORE_BACKEND_VERSION);
    assert_string_equal(a->name, K->name);
    assert_true((a->bulk_begin == NULL) == (a->bulk_end == NULL)); /* both or neither */
    assert_non_null(a->audit_state_put);
    /* a store is made once; one never made does not open */
    assert_int_equal(K->open(&b, "open", K1, 1), VAULT_EEXISTS);
    assert_null(b);
    assert_int_equal(K->open(&b, "nowhere", K1, 0), K->missing_rc);
    assert_null(b);
    /* the key of the create, and only it */
    assert_int_equal(K->open(&b, "open", K2, 0), VAULT_EAUTH);
    assert_null(b);
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    put_meta(a, "vault_id", "v-one");
    assert_int_equal(a->commit(a), VAULT_OK);
    /* a second connection, and one after every connection closed, see it */
    b = open_again("open");
    assert_int_equal(b->begin(b, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_string_equal(meta_of(b, "vault_id", &g), "v-one");
    b->rollback(b);
    b->free(b);
    /* free with a write transaction open ends it: nothing of it is kept
     * and the write lock is free */
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    put_meta(a, "vault_id", "v-lost");
    a->free(a);
    a = open_again("open");
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    assert_string_equal(meta_of(a, "vault_id", &g), "v-one");
    a->rollback(a);
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    a->free(a); /* and a snapshot */
    done(open_again("open"), "open");
    /* a forgotten name can be made again, empty */
    a = open_new("open");
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_int_equal(a->meta_get(a, "vault_id", meta_cb, &g), VAULT_ENOTFOUND);
    a->rollback(a);
    done(a, "open");
}

/* The double's own registry (tests/store_mem.h), beyond the table. */
static void test_mem_registry(void **state)
{
    store_backend *a = open_new("reg"), *b = NULL;

    (void)state;
    assert_int_equal(K->open(&b, "nowhere", K1, 0), VAULT_EIO);
    assert_non_null(strstr(vault_error_last(), "no such store"));
    assert_int_equal(store_mem_open(&b, "", K1, 1), VAULT_EINVALID);
    assert_int_equal(store_mem_forget("reg"), VAULT_EBUSY); /* a connection is open */
    a->free(a);
    assert_int_equal(store_mem_forget("reg"), VAULT_OK);
    assert_int_equal(store_mem_forget("reg"), VAULT_ENOTFOUND);
}

static void test_tx_rules(void **state)
{
    store_backend *a = open_new("rules");
    store_meta m = {"k", (const uint8_t *)"v", 1, {0}};
    got_meta g;
    int from = 0;
    int64_t n;

    (void)state;
    /* nothing but begin and generation runs outside a transaction */
    assert_int_equal(a->meta_get(a, "k", meta_cb, &g), VAULT_ESTATE);
    assert_int_equal(a->record_count(a, &n), VAULT_ESTATE);
    {
        uint8_t rid[VAULT_ID_BYTES];
        int seen = 0;
        memset(rid, 7, sizeof rid);
        assert_int_equal(a->quota_count_records(a, "q", "ann", 0, rid, &n, &seen), VAULT_ESTATE);
    }
    assert_int_equal(a->meta_put(a, &m), VAULT_ESTATE);
    assert_int_equal(a->commit(a), VAULT_ESTATE);
    a->rollback(a); /* harmless */
    assert_int_equal(a->generation(a, &n), VAULT_OK);
    /* a standby read (a backend without a standby configured: the
     * primary's snapshot) reads but does not write */
    if (a->standby_reads) {
        assert_int_equal(a->begin(a, STORE_TX_STANDBY), VAULT_OK);
        assert_int_equal(a->begin(a, STORE_TX_STANDBY), VAULT_ESTATE);
        assert_int_equal(a->record_count(a, &n), VAULT_OK);
        assert_int_equal(a->meta_put(a, &m), VAULT_ESTATE);
        a->rollback(a);
    }
    /* a snapshot reads but does not write, and does not nest */
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_ESTATE);
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_ESTATE);
    assert_int_equal(a->record_count(a, &n), VAULT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(a->meta_put(a, &m), VAULT_ESTATE);
    assert_int_equal(a->quota_add(a, "q", "ann", 0, 1), VAULT_ESTATE);
    {
        uint8_t rid[VAULT_ID_BYTES];
        int seen = 0;
        memset(rid, 7, sizeof rid);
        assert_int_equal(a->quota_add_record(a, "q", "ann", rid, 0, 1), VAULT_ESTATE);
        assert_int_equal(a->quota_count_records(a, "q", "ann", 0, rid, &n, &seen), VAULT_OK);
        assert_int_equal(n, 0);
    }
    assert_int_equal(a->migrate(a, &from, NULL, NULL, NULL, NULL), VAULT_ESTATE);
    assert_int_equal(a->commit(a), VAULT_OK);
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_int_equal(a->meta_get(a, "k", meta_cb, &g), VAULT_ENOTFOUND); /* nothing was written */
    a->rollback(a);
    /* a write transaction does not nest either */
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_ESTATE);
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_ESTATE);
    /* migrate on a new store: the current schema, nothing done */
    assert_int_equal(a->migrate(a, &from, NULL, NULL, NULL, NULL), VAULT_OK);
    assert_int_equal(from, 8); /* STORE_SCHEMA_VERSION */
    assert_int_equal(a->meta_put(a, &m), VAULT_OK); /* the transaction is still usable */
    assert_int_equal(a->commit(a), VAULT_OK);
    /* a deferred transaction only where the backend offers one */
    if (!a->deferred_writes)
        assert_int_not_equal(a->begin(a, STORE_TX_DEFERRED), VAULT_OK);
    /* reads of the latest commits only in a deferred transaction */
    assert_true(!a->deferred_fresh || a->deferred_writes);
    done(a, "rules");
}

static void test_tx_isolation(void **state)
{
    store_backend *a = open_new("iso"), *b = open_again("iso");
    got_meta g;
    int64_t g0, g1, g2, g3;

    (void)state;
    assert_int_equal(b->generation(b, &g0), VAULT_OK);
    /* one writer at a time (SQLCipher gives up after its busy timeout) */
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    assert_int_equal(b->begin(b, STORE_TX_WRITE), VAULT_EBUSY);
    /* readers do not wait for the writer; they see what was committed */
    assert_int_equal(b->begin(b, STORE_TX_SNAPSHOT), VAULT_OK);
    put_meta(a, "k", "first");
    assert_string_equal(meta_of(a, "k", &g), "first");
    assert_string_equal(meta_of(b, "k", &g), "");
    assert_int_equal(a->commit(a), VAULT_OK);
    /* b's snapshot still reads the state of its begin */
    assert_string_equal(meta_of(b, "k", &g), "");
    assert_int_equal(b->commit(b), VAULT_OK);
    /* the generation changed with another connection's commit */
    assert_int_equal(b->generation(b, &g1), VAULT_OK);
    assert_true(g1 != g0);
    assert_int_equal(b->generation(b, &g2), VAULT_OK);
    assert_int_equal(g2, g1); /* and only then */
    assert_int_equal(b->begin(b, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_string_equal(meta_of(b, "k", &g), "first");
    b->rollback(b);
    /* the lock went with the commit; a's generation (each connection's
     * own number: compared only with itself) changes with b's commit */
    assert_int_equal(a->generation(a, &g1), VAULT_OK);
    assert_int_equal(b->begin(b, STORE_TX_WRITE), VAULT_OK);
    put_meta(b, "k", "second");
    assert_int_equal(b->commit(b), VAULT_OK);
    assert_int_equal(a->generation(a, &g2), VAULT_OK);
    assert_true(g2 != g1);
    if (a->deferred_writes) {
        /* a deferred transaction reads its snapshot; its first write fails
         * if another connection committed since, and nothing is written */
        assert_int_equal(a->begin(a, STORE_TX_DEFERRED), VAULT_OK);
        assert_string_equal(meta_of(a, "k", &g), "second");
        assert_int_equal(b->begin(b, STORE_TX_WRITE), VAULT_OK);
        put_meta(b, "k", "third");
        assert_int_equal(b->commit(b), VAULT_OK);
        {
            store_meta m = {"k", (const uint8_t *)"late", 4, {0}};
            assert_int_equal(a->meta_put(a, &m), VAULT_EBUSY);
        }
        a->rollback(a);
        /* one that nobody overtook writes */
        assert_int_equal(a->begin(a, STORE_TX_DEFERRED), VAULT_OK);
        assert_string_equal(meta_of(a, "k", &g), "third");
        put_meta(a, "k", "fourth");
        assert_int_equal(b->generation(b, &g1), VAULT_OK); /* before a's commit */
        assert_int_equal(a->commit(a), VAULT_OK);
        assert_int_equal(b->generation(b, &g3), VAULT_OK);
        assert_true(g3 != g1);
        assert_int_equal(b->begin(b, STORE_TX_SNAPSHOT), VAULT_OK);
        assert_string_equal(meta_of(b, "k", &g), "fourth");
        b->rollback(b);
    }
    a->free(a);
    done(b, "iso");
}

static int64_t now_count(store_backend *be, int (*count)(store_backend *, int64_t *))
{
    int64_t n = -1;

    assert_int_equal(count(be, &n), VAULT_OK);
    return n;
}

/* A log's newest position, now. */
static int64_t log_count(store_backend *be, const char *log)
{
    int64_t n = -1;

    assert_int_equal(be->audit_count(be, log, &n), VAULT_OK);
    return n;
}

static int seal_one(void *arg, const store_audit_head *head, store_audit_row *out, size_t cap,
                    size_t *n)
{
    static const uint8_t entry[] = "entry", h[32] = {7};

    (void)arg;
    assert_true(cap >= 1);
    memset(out, 0, sizeof *out);
    out->pos = head->pos + 1;
    out->entry = entry;
    out->len = sizeof entry;
    out->head = h;
    out->head_len = sizeof h;
    out->user = "u";
    *n = 1;
    return 0;
}

static void fill_record(store_record *r, store_field *f, uint8_t idbyte, const char *jur)
{
    tu_store_record(r, f, idbyte, jur, 1);
}

/* The grade keys the records of these tests are sealed under (a backend
 * may check that a field's key is stored: refs_checked). */
static void add_record_keys(store_backend *be)
{
    static const struct {
        const char *grade;
        uint32_t version;
    } keys[] = {{"personal", 1}, {"personal", 2}, {"special", 1}};
    store_gradekey k;
    size_t i;

    for (i = 0; i < VAULT_ARRAY_LEN(keys); i++) {
        memset(&k, 0, sizeof k);
        k.grade = keys[i].grade;
        k.version = keys[i].version;
        k.wrapped = (const uint8_t *)"wrapped";
        k.len = 7;
        assert_int_equal(be->gradekey_add(be, &k), VAULT_OK);
    }
}

static void test_rollback_restores(void **state)
{
    store_backend *a = open_new("undo"), *b = open_again("undo");
    store_record r;
    store_field f;
    store_policy p;
    got_meta g;
    int64_t gen0, gen1, next0, next1;

    (void)state;
    memset(&p, 0, sizeof p);
    p.filename = "p.yaml";
    p.source = "rules: []\n";
    p.len = strlen(p.source);
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    put_meta(a, "k", "kept");
    assert_int_equal(a->commit(a), VAULT_OK);
    assert_int_equal(a->generation(a, &gen0), VAULT_OK);

    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    assert_int_equal(a->policy_next_id(a, &next0), VAULT_OK);
    add_record_keys(a);
    put_meta(a, "k", "changed");
    put_meta(a, "new", "value");
    fill_record(&r, &f, 0x11, "city/a");
    assert_int_equal(a->record_write(a, &r, 1), VAULT_OK);
    assert_int_equal(a->policy_add(a, &p), VAULT_OK);
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_one, NULL), VAULT_OK);
    assert_int_equal(now_count(a, a->record_count), 1);
    a->rollback(a);

    assert_int_equal(a->generation(a, &gen1), VAULT_OK);
    assert_int_equal(gen1, gen0);
    /* the lock is free again, and the state is the one before */
    assert_int_equal(b->begin(b, STORE_TX_WRITE), VAULT_OK);
    assert_string_equal(meta_of(b, "k", &g), "kept");
    assert_int_equal(b->meta_get(b, "new", meta_cb, &g), VAULT_ENOTFOUND);
    assert_int_equal(now_count(b, b->record_count), 0);
    assert_int_equal(log_count(b, STORE_LOG_CITY), 0);
    assert_int_equal(b->policy_active(b, NULL, NULL), VAULT_ENOTFOUND);
    assert_int_equal(b->policy_next_id(b, &next1), VAULT_OK);
    assert_int_equal(next1, next0);
    {
        uint8_t id[VAULT_ID_BYTES];
        store_iter *it = NULL;
        uint8_t dg[4] = {1, 2, 3, 4};
        assert_int_equal(b->bidx_find(b, &it, "phone", dg, sizeof dg), VAULT_OK);
        assert_int_equal(b->bidx_next(it, id), 0);
        b->iter_free(it);
    }
    b->rollback(b);
    a->free(a);
    done(b, "undo");
}

/* ---- records ---- */

typedef struct got_records {
    size_t n, calls, stop_after;
    int fail;
    uint8_t ids[8][VAULT_ID_BYTES];
    int present[8];
    char jur[8][32];
    char fields[8][64]; /* "name:grade:kv:counter:ct," ... */
    uint8_t mac[8][STORE_MAC_BYTES];
    store_backend *rewrite; /* scan_stale: rewrite each row at key version 2 */
} got_records;

static void keep_record(got_records *g, size_t i, const store_record *row)
{
    size_t k, off = 0;

    assert_true(i < 8);
    g->present[i] = row != NULL;
    if (!row)
        return;
    memcpy(g->ids[i], row->id, VAULT_ID_BYTES);
    snprintf(g->jur[i], sizeof g->jur[i], "%s", row->jurisdiction);
    memcpy(g->mac[i], row->mac, STORE_MAC_BYTES);
    g->fields[i][0] = 0;
    for (k = 0; k < row->nfields; k++) {
        const store_field *f = &row->fields[k];
        off += (size_t)snprintf(g->fields[i] + off, sizeof g->fields[i] - off, "%s:%s:%u:%lld:%.*s,",
                                f->name, f->grade, f->key_version, (long long)f->counter,
                                (int)f->ct_len, (const char *)f->ct);
        assert_true(off < sizeof g->fields[i]);
    }
}

static int batch_cb(void *arg, size_t i, const store_record *row)
{
    got_records *g = arg;

    g->calls++;
    if (g->fail)
        return VAULT_EDENIED;
    keep_record(g, i, row);
    g->n = i + 1;
    return g->stop_after && g->calls >= g->stop_after ? 1 : 0;
}

static size_t find_ids(store_backend *be, const char *field, const uint8_t *dg, size_t len,
                       uint8_t out[8][VAULT_ID_BYTES])
{
    store_iter *it = NULL;
    size_t n = 0;
    int r;

    assert_int_equal(be->bidx_find(be, &it, field, dg, len), VAULT_OK);
    while ((r = be->bidx_next(it, out[n])) == 1)
        assert_true(++n < 8);
    assert_int_equal(r, 0);
    be->iter_free(it);
    return n;
}

static void test_records(void **state)
{
    store_backend *a = open_new("rec");
    store_record r1, r2;
    store_field f1[2], f2[1];
    uint8_t ct[4] = {'a', 'b', 'c', 'd'}, ids[3 * VAULT_ID_BYTES], found[8][VAULT_ID_BYTES];
    static const uint8_t dg_a[8] = "digest-a", dg_b[8] = "digest-b";
    char jur[16];
    got_records g;

    (void)state;
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    add_record_keys(a);
    snprintf(jur, sizeof jur, "city/b");
    fill_record(&r2, f1, 0x22, jur);
    r2.nfields = 2;
    f1[0].name = "phone";
    f1[0].ct = ct;
    f1[0].ct_len = sizeof ct;
    f1[0].counter = 4;
    memcpy(f1[0].digest, dg_a, sizeof dg_a);
    f1[0].digest_len = sizeof dg_a;
    memset(&f1[1], 0, sizeof f1[1]);
    f1[1].name = "name";
    f1[1].grade = "personal";
    f1[1].key_version = 1;
    f1[1].ct = (const uint8_t *)"nm";
    f1[1].ct_len = 2;
    memset(r2.mac, 0xAB, sizeof r2.mac);
    /* fields come in name order (backend.h store_record): refused else */
    assert_int_equal(a->record_write(a, &r2, 1), VAULT_EINVALID);
    {
        store_field t = f1[0];
        f1[0] = f1[1];
        f1[1] = t;
    }
    assert_int_equal(a->record_write(a, &r2, 1), VAULT_OK);
    fill_record(&r1, f2, 0x11, "city/a");
    memcpy(f2[0].digest, dg_a, sizeof dg_a);
    f2[0].digest_len = sizeof dg_a;
    assert_int_equal(a->record_write(a, &r1, 1), VAULT_OK);
    /* the backend keeps copies: the caller's buffers may change */
    ct[0] = 'X';
    jur[0] = 'X';
    /* insert of a taken id, replace of a missing one, a field twice */
    assert_int_equal(a->record_write(a, &r1, 1), VAULT_EEXISTS);
    {
        store_record r3;
        store_field f3[2];
        fill_record(&r3, f3, 0x33, "city/c");
        assert_int_equal(a->record_write(a, &r3, 0), VAULT_ENOTFOUND);
        f3[1] = f3[0];
        r3.nfields = 2;
        assert_int_equal(a->record_write(a, &r3, 1), VAULT_EINVALID);
        r3.jurisdiction = NULL;
        r3.nfields = 1;
        assert_int_equal(a->record_write(a, &r3, 1), VAULT_EINVALID);
    }
    assert_int_equal(now_count(a, a->record_count), 2);

    /* batch: in the order asked, NULL for a missing id */
    memset(ids, 0x22, VAULT_ID_BYTES);
    memset(ids + VAULT_ID_BYTES, 0x99, VAULT_ID_BYTES);
    memset(ids + 2 * VAULT_ID_BYTES, 0x11, VAULT_ID_BYTES);
    memset(&g, 0, sizeof g);
    assert_int_equal(a->record_get_batch(a, ids, 3, batch_cb, &g), VAULT_OK);
    assert_int_equal(g.n, 3);
    assert_true(g.present[0] && !g.present[1] && g.present[2]);
    assert_string_equal(g.jur[0], "city/b");
    assert_string_equal(g.fields[0], "name:personal:1:0:nm,phone:personal:1:4:abcd,");
    assert_memory_equal(g.mac[0], r2.mac, STORE_MAC_BYTES);
    assert_string_equal(g.fields[2], "phone:personal:1:0:ct,");
    /* a callback stops early (> 0) or fails (< 0) */
    memset(&g, 0, sizeof g);
    g.stop_after = 1;
    assert_int_equal(a->record_get_batch(a, ids, 3, batch_cb, &g), VAULT_OK);
    assert_int_equal(g.calls, 1);
    memset(&g, 0, sizeof g);
    g.fail = 1;
    assert_int_equal(a->record_get_batch(a, ids, 3, batch_cb, &g), VAULT_EDENIED);
    assert_int_equal(g.calls, 1);

    /* the blind index: both records, in id order, and only that field */
    assert_int_equal(find_ids(a, "phone", dg_a, sizeof dg_a, found), 2);
    assert_int_equal(found[0][0], 0x11);
    assert_int_equal(found[1][0], 0x22);
    assert_int_equal(find_ids(a, "name", dg_a, sizeof dg_a, found), 0);
    assert_int_equal(find_ids(a, "phone", dg_a, 4, found), 0);
    /* a rewrite moves the record's index row to the new digest */
    memcpy(f2[0].digest, dg_b, sizeof dg_b);
    r1.version = 2;
    assert_int_equal(a->record_write(a, &r1, 0), VAULT_OK);
    assert_int_equal(find_ids(a, "phone", dg_a, sizeof dg_a, found), 1);
    assert_int_equal(found[0][0], 0x22);
    assert_int_equal(find_ids(a, "phone", dg_b, sizeof dg_b, found), 1);
    assert_int_equal(found[0][0], 0x11);
    /* a rewrite may move the record to another shard (PostgreSQL: other
     * partitions, through the id directory): found by id there, once,
     * with its fields and index row, and nothing left where it was */
    r1.jurisdiction = "city/b/grid-1"; /* PostgreSQL: another partition than city/a's */
    r1.version = 3;
    assert_int_equal(a->record_write(a, &r1, 0), VAULT_OK);
    memset(&g, 0, sizeof g);
    assert_int_equal(a->record_get_batch(a, ids, 3, batch_cb, &g), VAULT_OK);
    assert_true(g.present[0] && !g.present[1] && g.present[2]);
    assert_string_equal(g.jur[2], "city/b/grid-1");
    assert_string_equal(g.fields[2], "phone:personal:1:0:ct,");
    assert_int_equal(find_ids(a, "phone", dg_b, sizeof dg_b, found), 1);
    assert_int_equal(found[0][0], 0x11);
    assert_int_equal(now_count(a, a->record_count), 2);
    r1.jurisdiction = "city/a";
    r1.version = 4;
    assert_int_equal(a->record_write(a, &r1, 0), VAULT_OK);
    memset(&g, 0, sizeof g);
    assert_int_equal(a->record_get_batch(a, ids, 3, batch_cb, &g), VAULT_OK);
    assert_string_equal(g.jur[2], "city/a");
    assert_int_equal(now_count(a, a->record_count), 2);
    /* a field without a digest has no index row */
    f2[0].digest_len = 0;
    assert_int_equal(a->record_write(a, &r1, 0), VAULT_OK);
    assert_int_equal(find_ids(a, "phone", dg_b, sizeof dg_b, found), 0);

    /* delete: the record and its index rows go */
    assert_int_equal(a->record_delete(a, r2.id), VAULT_OK);
    assert_int_equal(a->record_delete(a, r2.id), VAULT_ENOTFOUND);
    assert_int_equal(find_ids(a, "phone", dg_a, sizeof dg_a, found), 0);
    memset(&g, 0, sizeof g);
    assert_int_equal(a->record_get_batch(a, ids, 3, batch_cb, &g), VAULT_OK);
    assert_true(!g.present[0] && !g.present[1] && g.present[2]);
    assert_int_equal(now_count(a, a->record_count), 1);
    assert_int_equal(a->commit(a), VAULT_OK);
    done(a, "rec");
}

static int stale_cb(void *arg, const store_record *row)
{
    got_records *g = arg;
    store_record copy = *row;
    store_field f[4];
    size_t i;

    assert_true(row->nfields <= 4);
    keep_record(g, g->n++, row);
    /* rotation: rewrite the record from inside the scan */
    for (i = 0; i < row->nfields; i++) {
        f[i] = row->fields[i];
        if (strcmp(f[i].grade, "personal") == 0)
            f[i].key_version = 2;
    }
    copy.fields = f;
    copy.version++;
    return g->rewrite ? g->rewrite->record_write(g->rewrite, &copy, 0) : 0;
}

static int fail_cb(void *arg, const store_record *row)
{
    (void)arg;
    (void)row;
    return VAULT_EDENIED;
}

static void test_stale(void **state)
{
    store_backend *a = open_new("stale");
    store_record r;
    store_field f[2];
    got_records g;
    int64_t n;
    uint8_t b;

    (void)state;
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    add_record_keys(a);
    for (b = 1; b <= 3; b++) {
        fill_record(&r, f, b, "city/a");
        r.nfields = 2;
        f[1] = f[0];
        f[0].name = "health";
        f[0].grade = "special";
        f[1].key_version = b == 2 ? 2 : 1; /* record 2 is already rotated */
        assert_int_equal(a->record_write(a, &r, 1), VAULT_OK);
    }
    assert_int_equal(a->field_count_stale(a, "personal", 2, &n), VAULT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(a->field_count_stale(a, "special", 2, &n), VAULT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(a->field_count_stale(a, "personal", 1, &n), VAULT_OK);
    assert_int_equal(n, 0);
    /* batches of one, each rewritten by the callback */
    memset(&g, 0, sizeof g);
    g.rewrite = a;
    assert_int_equal(a->record_scan_stale(a, "personal", 2, 1, stale_cb, &g), VAULT_OK);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.ids[0][0], 1);
    assert_int_equal(a->record_scan_stale(a, "personal", 2, 1, stale_cb, &g), VAULT_OK);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.ids[1][0], 3);
    assert_string_equal(g.fields[1], "health:special:1:0:ct,phone:personal:1:0:ct,");
    assert_int_equal(a->record_scan_stale(a, "personal", 2, 10, stale_cb, &g), VAULT_OK);
    assert_int_equal(g.n, 2);
    assert_int_equal(a->field_count_stale(a, "personal", 2, &n), VAULT_OK);
    assert_int_equal(n, 0);
    /* the rewrites kept the other grade's fields */
    assert_int_equal(a->field_count_stale(a, "special", 2, &n), VAULT_OK);
    assert_int_equal(n, 3);
    /* a failing callback fails the scan */
    memset(&g, 0, sizeof g);
    assert_int_equal(a->record_scan_stale(a, "special", 2, 10, fail_cb, &g), VAULT_EDENIED);
    assert_int_equal(a->commit(a), VAULT_OK);
    done(a, "stale");
}

/* ---- audit log ---- */

typedef struct seal_plan {
    size_t n;
    int64_t first_pos; /* 0: head->pos + 1 */
    int fail;
    int64_t saw_pos;
    uint8_t saw_head[32];
    char saw_entry[16];
    uint8_t heads[4][32];
    char entries[4][16];
    uint8_t rid[VAULT_ID_BYTES];
} seal_plan;

static int seal_cb(void *arg, const store_audit_head *head, store_audit_row *out, size_t cap,
                   size_t *n)
{
    seal_plan *p = arg;
    size_t i;

    p->saw_pos = head->pos;
    memcpy(p->saw_head, head->head, 32);
    snprintf(p->saw_entry, sizeof p->saw_entry, "%.*s", (int)head->len,
             head->entry ? (const char *)head->entry : "");
    if (p->fail)
        return VAULT_EDENIED;
    assert_true(p->n <= cap && p->n <= 4);
    for (i = 0; i < p->n; i++) {
        int64_t pos = (p->first_pos ? p->first_pos : head->pos + 1) + (int64_t)i;
        memset(&out[i], 0, sizeof out[i]);
        out[i].pos = pos;
        snprintf(p->entries[i], sizeof p->entries[i], "entry-%lld", (long long)pos);
        out[i].entry = (const uint8_t *)p->entries[i];
        out[i].len = strlen(p->entries[i]);
        memset(p->heads[i], (int)pos, 32);
        out[i].head = p->heads[i];
        out[i].head_len = 32;
        /* odd positions are filed under the record, all under a user */
        out[i].record_id = pos % 2 ? p->rid : NULL;
        out[i].user = pos <= 2 ? "ann" : "bob";
        out[i].flags = (unsigned)pos;
    }
    *n = p->n;
    return 0;
}

/* The rows an iteration with filter f returns, each checked to be as
 * seal_cb wrote it, as "1,3," (with_log: "LOG:1,LOG:3,"). */
static const char *filtered_rows(char *buf, size_t cap, store_backend *be,
                                 const store_audit_filter *f, int with_log)
{
    store_audit_row row;
    store_iter *it = NULL;
    size_t off = 0;
    int r;

    buf[0] = 0;
    assert_int_equal(be->audit_iter(be, &it, f), VAULT_OK);
    while ((r = be->audit_next(it, &row)) == 1) {
        char want[16];
        snprintf(want, sizeof want, "entry-%lld", (long long)row.pos);
        assert_non_null(row.log);
        assert_int_equal(row.len, strlen(want));
        assert_memory_equal(row.entry, want, row.len);
        assert_int_equal(row.head_len, 32);
        assert_int_equal(row.head[0], (uint8_t)row.pos);
        assert_int_equal(row.flags, (unsigned)row.pos);
        if (with_log)
            off += (size_t)snprintf(buf + off, cap - off, "%s:", row.log);
        off += (size_t)snprintf(buf + off, cap - off, "%lld,", (long long)row.pos);
        assert_true(off < cap);
    }
    assert_int_equal(r, 0);
    be->iter_free(it);
    return buf;
}

/* The positions an iteration of the city log with this filter returns. */
static const char *positions(char *buf, size_t cap, store_backend *be, int64_t after,
                             const uint8_t *rid, const char *user)
{
    store_audit_filter f = {STORE_LOG_CITY, after, rid, user};

    return filtered_rows(buf, cap, be, &f, 0);
}

static int head_cb(void *arg, const store_audit_head *h)
{
    *(int64_t *)arg = h->pos;
    return 0;
}

/* What audit_head says of the newest row's state: its first byte, 0 for none. */
static int state_cb(void *arg, const store_audit_head *h)
{
    int *out = arg;

    *out = h->state ? h->state[0] : 0;
    if (h->state)
        assert_int_equal(h->state_mac[0], h->state[0]); /* kept as given */
    return 0;
}

static int state_now(store_backend *a)
{
    int v = -1;

    assert_int_equal(a->audit_head(a, STORE_LOG_CITY, state_cb, &v), VAULT_OK);
    return v;
}

/* The audit state (table version 2): only on the newest row, named by its
 * position and chain head; an append leaves the new newest row without
 * one; a rollback restores the state of before; snapshots keep theirs. */
static void test_audit_state(void **state)
{
    store_backend *a = open_new("state"), *b = open_again("state");
    seal_plan p;
    store_audit_state st;
    uint8_t bytes[1] = {7};

    (void)state;
    memset(&p, 0, sizeof p);
    memset(&st, 0, sizeof st);
    st.state = bytes;
    st.len = 1;
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    st.pos = 1;
    assert_int_equal(a->audit_state_put(a, &st, 0), VAULT_EINTEGRITY); /* an empty log */
    p.n = 2;
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_cb, &p), VAULT_OK);
    assert_int_equal(state_now(a), 0);
    st.pos = 1; /* not the newest */
    memset(st.head, 1, 32);
    assert_int_equal(a->audit_state_put(a, &st, 0), VAULT_EINTEGRITY);
    st.pos = 2; /* the newest, with another head */
    assert_int_equal(a->audit_state_put(a, &st, 0), VAULT_EINTEGRITY);
    memset(st.head, 2, 32);
    st.mac[0] = 7;
    assert_int_equal(a->audit_state_put(a, &st, 0), VAULT_OK);
    assert_int_equal(state_now(a), 7);
    assert_int_equal(a->commit(a), VAULT_OK);

    /* a snapshot keeps the state of its begin */
    assert_int_equal(b->begin(b, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_int_equal(b->audit_state_put(b, &st, 0), VAULT_ESTATE);
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    p.n = 1;
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_cb, &p), VAULT_OK);
    assert_int_equal(state_now(a), 0); /* the new newest row carries none yet */
    bytes[0] = 9;
    st.mac[0] = 9;
    st.pos = 3;
    memset(st.head, 3, 32);
    assert_int_equal(a->audit_state_put(a, &st, 2), VAULT_OK);
    assert_int_equal(state_now(a), 9);
    a->rollback(a);
    assert_int_equal(state_now(b), 7);
    b->rollback(b);
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_int_equal(state_now(a), 7); /* the rollback left the committed state */
    a->rollback(a);
    b->free(b);
    done(a, "state");
}

/* Appends keep their place among the other writes of a transaction: a
 * refused write after them (refused by the server, or before anything was
 * sent) undoes itself only; many appends in one transaction (more than
 * the PostgreSQL backend keeps waiting, 32) all land, in order; a
 * rollback after them keeps none. */
static void add_gk(store_backend *be, const char *grade, uint32_t v, const char *wrapped,
                   int want);

static void test_audit_among_writes(void **state)
{
    store_backend *a = open_new("among");
    seal_plan p;
    store_audit_state st;
    uint8_t bytes[1] = {5};
    char buf[256], want[256];
    int64_t pos = -1;
    size_t off = 0;
    int i;

    (void)state;
    memset(&p, 0, sizeof p);
    memset(&st, 0, sizeof st);
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    add_gk(a, "personal", 1, "wrapped-1", VAULT_OK);
    p.n = 2;
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_cb, &p), VAULT_OK);
    add_gk(a, "personal", 1, "again", VAULT_EEXISTS); /* the server refuses it */
    p.n = 1;
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_cb, &p), VAULT_OK);
    assert_int_equal(p.saw_pos, 2);
    p.fail = 1; /* the seal refuses: nothing queued */
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_cb, &p), VAULT_EDENIED);
    p.fail = 0;
    add_gk(a, "personal", 2, "wrapped-2", VAULT_OK);
    st.state = bytes;
    st.len = 1;
    st.pos = 3;
    memset(st.head, 3, 32);
    st.mac[0] = 5;
    assert_int_equal(a->audit_state_put(a, &st, 0), VAULT_OK);
    assert_int_equal(a->commit(a), VAULT_OK);
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_string_equal(positions(buf, sizeof buf, a, 0, NULL, NULL), "1,2,3,");
    assert_int_equal(state_now(a), 5);
    add_gk(a, "personal", 3, "in a snapshot", VAULT_ESTATE);
    a->rollback(a);

    /* 40 appends, one entry each, then the state on the last */
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    for (i = 0; i < 40; i++) {
        assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_cb, &p), VAULT_OK);
        assert_int_equal(p.saw_pos, 3 + i);
    }
    st.pos = 43;
    memset(st.head, 43, 32);
    st.mac[0] = bytes[0] = 6;
    assert_int_equal(a->audit_state_put(a, &st, 3), VAULT_OK);
    assert_int_equal(log_count(a, STORE_LOG_CITY), 43);
    assert_int_equal(a->commit(a), VAULT_OK);
    for (i = 1; i <= 43; i++)
        off += (size_t)snprintf(want + off, sizeof want - off, "%d,", i);
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_string_equal(positions(buf, sizeof buf, a, 0, NULL, NULL), want);
    assert_int_equal(state_now(a), 6);
    a->rollback(a);

    /* ... and 40 more, rolled back: none kept, the state as it was */
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    for (i = 0; i < 40; i++)
        assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_cb, &p), VAULT_OK);
    assert_int_equal(log_count(a, STORE_LOG_CITY), 83);
    a->rollback(a);
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_int_equal(a->audit_head(a, STORE_LOG_CITY, head_cb, &pos), VAULT_OK);
    assert_int_equal(pos, 43);
    assert_int_equal(state_now(a), 6);
    a->rollback(a);
    done(a, "among");
}

static void test_audit(void **state)
{
    store_backend *a = open_new("audit");
    seal_plan p;
    char buf[64];
    int64_t pos = -1;

    (void)state;
    memset(&p, 0, sizeof p);
    memset(p.rid, 0x5A, sizeof p.rid);
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    /* the seal callback sees the head: empty at first */
    p.n = 3;
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_cb, &p), VAULT_OK);
    assert_int_equal(p.saw_pos, 0);
    assert_string_equal(p.saw_entry, "");
    p.n = 1;
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_cb, &p), VAULT_OK);
    assert_int_equal(p.saw_pos, 3);
    assert_string_equal(p.saw_entry, "entry-3");
    assert_int_equal(p.saw_head[0], 3);
    assert_int_equal(log_count(a, STORE_LOG_CITY), 4);
    /* rows that do not follow the head are refused, and nothing is kept */
    p.n = 2;
    p.first_pos = 6;
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_cb, &p), VAULT_EINTEGRITY);
    p.first_pos = 4;
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_cb, &p), VAULT_EINTEGRITY);
    p.first_pos = 0;
    p.fail = 1;
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_cb, &p), VAULT_EDENIED);
    assert_int_equal(log_count(a, STORE_LOG_CITY), 4);
    assert_int_equal(a->audit_head(a, STORE_LOG_CITY, head_cb, &pos), VAULT_OK);
    assert_int_equal(pos, 4);
    /* the filters before the report indexes are brought up, and after */
    assert_string_equal(positions(buf, sizeof buf, a, 0, p.rid, NULL), "1,3,");
    assert_string_equal(positions(buf, sizeof buf, a, 1, NULL, "ann"), "2,");
    assert_string_equal(positions(buf, sizeof buf, a, 0, p.rid, "bob"), "3,");
    assert_int_equal(a->audit_index(a), VAULT_OK);
    assert_string_equal(positions(buf, sizeof buf, a, 1, p.rid, NULL), "3,");
    assert_int_equal(a->commit(a), VAULT_OK);

    /* iteration and its filters, in a snapshot */
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_string_equal(positions(buf, sizeof buf, a, 0, NULL, NULL), "1,2,3,4,");
    assert_string_equal(positions(buf, sizeof buf, a, 2, NULL, NULL), "3,4,");
    assert_string_equal(positions(buf, sizeof buf, a, 4, NULL, NULL), "");
    assert_string_equal(positions(buf, sizeof buf, a, 0, p.rid, NULL), "1,3,");
    assert_string_equal(positions(buf, sizeof buf, a, 0, NULL, "bob"), "3,4,");
    assert_string_equal(positions(buf, sizeof buf, a, 0, p.rid, "ann"), "1,");
    assert_string_equal(positions(buf, sizeof buf, a, 0, NULL, "nobody"), "");
    assert_int_equal(a->audit_index(a), VAULT_ESTATE);
    a->rollback(a);
    {
        /* NULL filter: everything; an iterator freed early, after its
         * transaction ended, and NULL */
        store_iter *it = NULL;
        store_audit_row row;
        assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
        assert_int_equal(a->audit_iter(a, &it, NULL), VAULT_OK);
        assert_int_equal(a->audit_next(it, &row), 1);
        assert_int_equal(row.pos, 1);
        assert_int_equal(a->audit_next(it, &row), 1);
        assert_int_equal(row.pos, 2);
        a->rollback(a);
        a->iter_free(it);
        a->iter_free(NULL);
        /* outside a transaction there is no iteration */
        assert_int_equal(a->audit_iter(a, &it, NULL), VAULT_ESTATE);
        assert_int_equal(a->audit_count(a, STORE_LOG_CITY, &pos), VAULT_ESTATE);
    }
    done(a, "audit");
}

/* ---- grants ---- */

static void fill_grant(store_grant *g, const char *id, int64_t created)
{
    memset(g, 0, sizeof *g);
    g->id = id;
    g->state = "active";
    g->issuer = "li";
    g->issuer_role = "data_officer";
    g->department = "health";
    g->effect = 2;
    g->actions = 5;
    g->fields = "phone\nname";
    g->jurisdiction = "city/a";
    g->not_before = created;
    g->not_after = created + 3600;
    g->reason = "follow-up";
    g->created = created;
    memset(g->mac, (int)created, sizeof g->mac);
}

typedef struct got_grants {
    size_t n;
    char ids[8][16];
    char state[16];
    int user_null, approver_null;
    char revoked_by[16], fields[32];
    int64_t not_after, changed;
    uint8_t mac[STORE_MAC_BYTES];
} got_grants;

static int grant_cb(void *arg, const store_grant *row)
{
    got_grants *g = arg;

    assert_true(g->n < 8);
    snprintf(g->ids[g->n++], sizeof g->ids[0], "%s", row->id);
    snprintf(g->state, sizeof g->state, "%s", row->state);
    snprintf(g->revoked_by, sizeof g->revoked_by, "%s", row->revoked_by ? row->revoked_by : "-");
    snprintf(g->fields, sizeof g->fields, "%s", row->fields);
    g->user_null = row->user == NULL;
    g->approver_null = row->approver == NULL;
    g->not_after = row->not_after;
    g->changed = row->changed;
    memcpy(g->mac, row->mac, STORE_MAC_BYTES);
    return 0;
}

static void test_grants(void **state)
{
    store_backend *a = open_new("grants");
    store_grant g;
    got_grants got;

    (void)state;
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    fill_grant(&g, "g-b", 20);
    assert_int_equal(a->grant_insert(a, &g), VAULT_OK);
    assert_int_equal(a->grant_insert(a, &g), VAULT_EEXISTS);
    fill_grant(&g, "g-z", 10);
    assert_int_equal(a->grant_insert(a, &g), VAULT_OK);
    fill_grant(&g, "g-a", 20);
    assert_int_equal(a->grant_insert(a, &g), VAULT_OK);
    fill_grant(&g, NULL, 20);
    assert_int_equal(a->grant_insert(a, &g), VAULT_EINVALID);

    memset(&got, 0, sizeof got);
    assert_int_equal(a->grant_get(a, "g-z", grant_cb, &got), VAULT_OK);
    assert_string_equal(got.ids[0], "g-z");
    assert_string_equal(got.state, "active");
    assert_string_equal(got.fields, "phone\nname");
    assert_true(got.user_null && got.approver_null);
    assert_int_equal(got.not_after, 3610);
    assert_int_equal(got.mac[0], 10);
    assert_int_equal(a->grant_get(a, "g-none", grant_cb, &got), VAULT_ENOTFOUND);

    /* update by id replaces the row */
    fill_grant(&g, "g-z", 10);
    g.state = "revoked";
    g.revoked_by = "wang";
    g.revoke_reason = "done";
    g.changed = 99;
    memset(g.mac, 0xEE, sizeof g.mac);
    assert_int_equal(a->grant_update(a, &g), VAULT_OK);
    memset(&got, 0, sizeof got);
    assert_int_equal(a->grant_get(a, "g-z", grant_cb, &got), VAULT_OK);
    assert_string_equal(got.state, "revoked");
    assert_string_equal(got.revoked_by, "wang");
    assert_int_equal(got.changed, 99);
    assert_int_equal(got.mac[0], 0xEE);
    g.id = "g-none";
    assert_int_equal(a->grant_update(a, &g), VAULT_ENOTFOUND);

    /* oldest first: (created, id) */
    memset(&got, 0, sizeof got);
    assert_int_equal(a->grant_scan(a, grant_cb, &got), VAULT_OK);
    assert_int_equal(got.n, 3);
    assert_string_equal(got.ids[0], "g-z");
    assert_string_equal(got.ids[1], "g-a");
    assert_string_equal(got.ids[2], "g-b");
    assert_int_equal(a->commit(a), VAULT_OK);
    done(a, "grants");
}

/* ---- checkpoints, meta, policies, grade keys, quotas ---- */

static int cp_cb(void *arg, const store_checkpoint *row)
{
    char *buf = arg;
    size_t off = strlen(buf);

    snprintf(buf + off, 64 - off, "%llu=%.*s,", (unsigned long long)row->size, (int)row->len,
             row->note);
    return 0;
}

static void add_cp(store_backend *be, uint64_t size, const char *note)
{
    store_checkpoint c;

    memset(&c, 0, sizeof c);
    c.size = size;
    c.note = note;
    c.len = strlen(note);
    assert_int_equal(be->checkpoint_add(be, &c), VAULT_OK);
}

static void test_checkpoints(void **state)
{
    store_backend *a = open_new("cp");
    char buf[64] = "";
    uint64_t last = 1;

    (void)state;
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    assert_int_equal(a->checkpoint_last(a, &last), VAULT_OK);
    assert_int_equal(last, 0);
    add_cp(a, 5, "five");
    add_cp(a, 2, "two");
    add_cp(a, 9, "nine");
    add_cp(a, 5, "FIVE"); /* one per tree size */
    assert_int_equal(a->checkpoint_scan(a, cp_cb, buf), VAULT_OK);
    assert_string_equal(buf, "2=two,5=FIVE,9=nine,");
    assert_int_equal(a->checkpoint_last(a, &last), VAULT_OK);
    assert_int_equal(last, 9);
    assert_int_equal(a->commit(a), VAULT_OK);
    done(a, "cp");
}

typedef struct got_policy {
    int64_t id;
    char filename[32], source[64];
} got_policy;

static int policy_cb(void *arg, const store_policy *row)
{
    got_policy *g = arg;

    g->id = row->id;
    snprintf(g->filename, sizeof g->filename, "%s", row->filename);
    snprintf(g->source, sizeof g->source, "%.*s", (int)row->len, row->source);
    assert_int_equal(row->source[row->len], 0); /* text stays a string */
    return 0;
}

static int gk_cb(void *arg, const store_gradekey *row)
{
    snprintf(arg, 16, "%.*s", (int)row->len, (const char *)row->wrapped);
    return 0;
}

static void add_gk(store_backend *be, const char *grade, uint32_t v, const char *wrapped, int want)
{
    store_gradekey k;

    memset(&k, 0, sizeof k);
    k.grade = grade;
    k.version = v;
    k.wrapped = (const uint8_t *)wrapped;
    k.len = strlen(wrapped);
    assert_int_equal(be->gradekey_add(be, &k), want);
}

static void test_meta_policies_keys_quota(void **state)
{
    store_backend *a = open_new("misc");
    got_meta m;
    got_policy gp;
    store_policy p;
    char buf[16];
    int64_t id, n;
    uint32_t v = 0;

    (void)state;
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    /* meta: put, overwrite, MAC bytes kept */
    assert_int_equal(a->meta_get(a, "created", meta_cb, &m), VAULT_ENOTFOUND);
    put_meta(a, "created", "1700000000");
    put_meta(a, "created", "2700000000");
    assert_string_equal(meta_of(a, "created", &m), "2700000000");
    assert_int_equal(m.mac[0], '2');
    /* meta_delete (version 6): the row goes, a second delete finds none,
     * other rows stay; refused in a snapshot (after the commit below) */
    put_meta(a, "rk/01", "wrapped-1");
    put_meta(a, "rk/02", "wrapped-2");
    assert_int_equal(a->meta_delete(a, "rk/01"), VAULT_OK);
    assert_int_equal(a->meta_get(a, "rk/01", meta_cb, &m), VAULT_ENOTFOUND);
    assert_int_equal(a->meta_delete(a, "rk/01"), VAULT_ENOTFOUND);
    assert_int_equal(a->meta_delete(a, "rk/none"), VAULT_ENOTFOUND);
    assert_string_equal(meta_of(a, "rk/02", &m), "wrapped-2");
    assert_string_equal(meta_of(a, "created", &m), "2700000000");
    /* a delete then a put of the same key in one transaction */
    assert_int_equal(a->meta_delete(a, "rk/02"), VAULT_OK);
    put_meta(a, "rk/02", "wrapped-3");
    assert_string_equal(meta_of(a, "rk/02", &m), "wrapped-3");
    assert_int_equal(a->commit(a), VAULT_OK);
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_int_equal(a->meta_delete(a, "rk/02"), VAULT_ESTATE);
    assert_string_equal(meta_of(a, "rk/02", &m), "wrapped-3");
    a->rollback(a);
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    /* a delete rolled back leaves the row */
    assert_int_equal(a->meta_delete(a, "rk/02"), VAULT_OK);
    a->rollback(a);
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    assert_string_equal(meta_of(a, "rk/02", &m), "wrapped-3");

    /* policies: increasing ids, the newest active */
    assert_int_equal(a->policy_active(a, policy_cb, &gp), VAULT_ENOTFOUND);
    assert_int_equal(a->policy_next_id(a, &id), VAULT_OK);
    memset(&p, 0, sizeof p);
    p.filename = "one.yaml";
    p.source = "version: 1";
    p.len = strlen(p.source);
    assert_int_equal(a->policy_add(a, &p), VAULT_OK);
    assert_int_equal(p.id, id);
    p.filename = "two.yaml";
    p.source = "version: 2";
    assert_int_equal(a->policy_add(a, &p), VAULT_OK);
    assert_true(p.id > id);
    assert_int_equal(a->policy_next_id(a, &n), VAULT_OK);
    assert_true(n > p.id);
    assert_int_equal(a->policy_active(a, policy_cb, &gp), VAULT_OK);
    assert_int_equal(gp.id, p.id);
    assert_string_equal(gp.filename, "two.yaml");
    assert_string_equal(gp.source, "version: 2");

    /* grade keys: one per (grade, version), latest, retire */
    assert_int_equal(a->gradekey_latest(a, "personal", &v), VAULT_ENOTFOUND);
    add_gk(a, "personal", 1, "wrap-1", VAULT_OK);
    add_gk(a, "personal", 2, "wrap-2", VAULT_OK);
    add_gk(a, "special", 7, "wrap-s", VAULT_OK);
    add_gk(a, "personal", 2, "again", VAULT_EEXISTS);
    assert_int_equal(a->gradekey_latest(a, "personal", &v), VAULT_OK);
    assert_int_equal(v, 2);
    assert_int_equal(a->gradekey_get(a, "personal", 1, gk_cb, buf), VAULT_OK);
    assert_string_equal(buf, "wrap-1");
    assert_int_equal(a->gradekey_get(a, "personal", 3, gk_cb, buf), VAULT_ENOTFOUND);
    assert_int_equal(a->gradekey_retire(a, "personal", 2), VAULT_OK);
    assert_int_equal(a->gradekey_get(a, "personal", 1, gk_cb, buf), VAULT_ENOTFOUND);
    assert_int_equal(a->gradekey_get(a, "personal", 2, gk_cb, buf), VAULT_OK);
    assert_int_equal(a->gradekey_get(a, "special", 7, gk_cb, buf), VAULT_OK);

    /* quotas: uses later than since; add forgets the user's older ones */
    assert_int_equal(a->quota_add(a, "phone-search", "ann", 0, 100), VAULT_OK);
    assert_int_equal(a->quota_add(a, "phone-search", "ann", 0, 200), VAULT_OK);
    assert_int_equal(a->quota_add(a, "phone-search", "ann", 0, 300), VAULT_OK);
    assert_int_equal(a->quota_add(a, "phone-search", "bob", 0, 100), VAULT_OK);
    assert_int_equal(a->quota_count(a, "phone-search", "ann", 150, &n), VAULT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(a->quota_count(a, "phone-search", "ann", 200, &n), VAULT_OK);
    assert_int_equal(n, 1); /* later than since, not at it */
    assert_int_equal(a->quota_add(a, "phone-search", "ann", 200, 400), VAULT_OK);
    assert_int_equal(a->quota_count(a, "phone-search", "ann", 0, &n), VAULT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(a->quota_count(a, "phone-search", "bob", 0, &n), VAULT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(a->quota_count(a, "other", "ann", 0, &n), VAULT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(a->commit(a), VAULT_OK);
    done(a, "misc");
}

/* Residents quotas (version 7): uses that name a record count each record
 * once in the window; a record used again moves to its newest use; add
 * forgets the user's uses at or before since; other users and quotas
 * apart; the uses survive the commit. */
static void test_quota_records(void **state)
{
    store_backend *a = open_new("qrec");
    uint8_t r1[VAULT_ID_BYTES], r2[VAULT_ID_BYTES], r3[VAULT_ID_BYTES];
    int64_t n = -1;
    int seen = -1;

    (void)state;
    memset(r1, 1, sizeof r1);
    memset(r2, 2, sizeof r2);
    memset(r3, 3, sizeof r3);
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    assert_int_equal(a->quota_count_records(a, "res", "ann", 0, r1, &n, &seen), VAULT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(seen, 0);
    assert_int_equal(a->quota_add_record(a, "res", "ann", r1, 0, 100), VAULT_OK);
    assert_int_equal(a->quota_add_record(a, "res", "ann", r2, 0, 100), VAULT_OK);
    assert_int_equal(a->quota_add_record(a, "res", "ann", r1, 0, 200), VAULT_OK); /* a reread */
    assert_int_equal(a->quota_add_record(a, "res", "bob", r3, 0, 100), VAULT_OK);
    assert_int_equal(a->quota_add_record(a, "other", "ann", r3, 0, 100), VAULT_OK);
    assert_int_equal(a->quota_count_records(a, "res", "ann", 0, r1, &n, &seen), VAULT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(seen, 1);
    assert_int_equal(a->quota_count_records(a, "res", "ann", 0, r3, &n, &seen), VAULT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(seen, 0);
    /* the reread moved r1 to 200: after 150 only r1 is in the window */
    assert_int_equal(a->quota_count_records(a, "res", "ann", 150, r2, &n, &seen), VAULT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(seen, 0);
    assert_int_equal(a->quota_count_records(a, "res", "ann", 150, r1, &n, &seen), VAULT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(seen, 1);
    assert_int_equal(a->quota_count_records(a, "res", "ann", 200, r1, &n, &seen), VAULT_OK);
    assert_int_equal(n, 0); /* later than since, not at it */
    assert_int_equal(seen, 0);
    /* one row per record: the plain count sees two, not three */
    assert_int_equal(a->quota_count(a, "res", "ann", 0, &n), VAULT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(a->commit(a), VAULT_OK);

    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_int_equal(a->quota_add_record(a, "res", "ann", r3, 0, 300), VAULT_ESTATE);
    assert_int_equal(a->quota_count_records(a, "res", "ann", 0, r2, &n, &seen), VAULT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(seen, 1);
    assert_int_equal(a->quota_count_records(a, "res", "bob", 0, r3, &n, &seen), VAULT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(seen, 1);
    assert_int_equal(a->quota_count_records(a, "res", "cat", 0, r3, &n, &seen), VAULT_OK);
    assert_int_equal(n, 0);
    a->rollback(a);

    /* add forgets ann's uses at or before since (r2 at 100), not bob's */
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    assert_int_equal(a->quota_add_record(a, "res", "ann", r3, 150, 300), VAULT_OK);
    assert_int_equal(a->quota_count_records(a, "res", "ann", INT64_MIN, r2, &n, &seen), VAULT_OK);
    assert_int_equal(n, 2); /* r1 at 200, r3 at 300 */
    assert_int_equal(seen, 0);
    assert_int_equal(a->quota_count_records(a, "res", "bob", INT64_MIN, r3, &n, &seen), VAULT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(a->quota_count_records(a, "other", "ann", INT64_MIN, r3, &n, &seen), VAULT_OK);
    assert_int_equal(n, 1);
    /* a missing member: refused */
    assert_int_equal(a->quota_add_record(a, "res", "ann", NULL, 0, 300), VAULT_EINVALID);
    assert_int_equal(a->quota_count_records(a, "res", NULL, 0, r1, &n, &seen), VAULT_EINVALID);
    assert_int_equal(a->commit(a), VAULT_OK);
    done(a, "qrec");
}

/* ---- grade-key references (backends with refs_checked) ---- */

/* A field names a stored grade key; a key a field uses is not retired.
 * Each refusal changes nothing and leaves the transaction usable. */
static void test_key_refs(void **state)
{
    store_backend *a = open_new("refs");
    store_record r;
    store_field f;
    int64_t n;
    char buf[16];

    (void)state;
    if (!K->refs_checked) {
        done(a, "refs");
        skip(); /* SQLCipher and the double leave it to the layers above */
    }
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    fill_record(&r, &f, 0x44, "city/a");
    assert_int_equal(a->record_write(a, &r, 1), VAULT_EINVALID); /* no key personal/1 */
    assert_int_equal(now_count(a, a->record_count), 0);
    add_gk(a, "personal", 1, "w1", VAULT_OK);
    add_gk(a, "personal", 2, "w2", VAULT_OK);
    assert_int_equal(a->record_write(a, &r, 1), VAULT_OK);
    /* a key a field still uses stays, and so does every other key */
    assert_int_equal(a->gradekey_retire(a, "personal", 2), VAULT_ESTATE);
    assert_int_equal(a->gradekey_get(a, "personal", 1, gk_cb, buf), VAULT_OK);
    assert_string_equal(buf, "w1");
    /* rewritten under version 2, the old key can go */
    f.key_version = 2;
    r.version = 2;
    assert_int_equal(a->record_write(a, &r, 0), VAULT_OK);
    assert_int_equal(a->field_count_stale(a, "personal", 2, &n), VAULT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(a->gradekey_retire(a, "personal", 2), VAULT_OK);
    assert_int_equal(a->gradekey_get(a, "personal", 1, gk_cb, buf), VAULT_ENOTFOUND);
    assert_int_equal(a->commit(a), VAULT_OK);
    done(a, "refs");
}

/* ---- callbacks: > 0 stops early (VAULT_OK), < 0 fails with that code ---- */

typedef struct counter {
    int calls, answer;
} counter;

static int counted(void *arg)
{
    counter *c = arg;

    c->calls++;
    return c->answer;
}

/* One counting callback per row type. */
#define COUNTING_CB(fn, type)                                                                      \
    static int fn(void *arg, const type *row)                                                      \
    {                                                                                              \
        (void)row;                                                                                 \
        return counted(arg);                                                                       \
    }
COUNTING_CB(count_meta, store_meta)
COUNTING_CB(count_policy, store_policy)
COUNTING_CB(count_gk, store_gradekey)
COUNTING_CB(count_grant, store_grant)
COUNTING_CB(count_cp, store_checkpoint)
COUNTING_CB(count_head, store_audit_head)
COUNTING_CB(count_record, store_record)

/* Every callback operation, with two rows where it can visit two:
 * answer 1 visits one and succeeds, answer -EDENIED visits one and
 * fails with it, answer 0 visits all. */
static void test_callbacks(void **state)
{
    store_backend *a = open_new("cb");
    store_policy p;
    store_grant gr;
    store_record r;
    store_field f;
    counter c;
    uint8_t b;
    int answers[3] = {1, VAULT_EDENIED, 0}, want_rc, i;

    (void)state;
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    put_meta(a, "m", "v");
    memset(&p, 0, sizeof p);
    p.filename = "p.yaml";
    p.source = "x";
    p.len = 1;
    assert_int_equal(a->policy_add(a, &p), VAULT_OK);
    add_gk(a, "personal", 1, "w", VAULT_OK);
    fill_grant(&gr, "g-1", 1);
    assert_int_equal(a->grant_insert(a, &gr), VAULT_OK);
    fill_grant(&gr, "g-2", 2);
    assert_int_equal(a->grant_insert(a, &gr), VAULT_OK);
    add_cp(a, 1, "one");
    add_cp(a, 2, "two");
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_one, NULL), VAULT_OK);
    for (b = 1; b <= 2; b++) {
        fill_record(&r, &f, b, "city/a");
        assert_int_equal(a->record_write(a, &r, 1), VAULT_OK);
    }
    for (i = 0; i < 3; i++) {
        int many = answers[i] == 0 ? 2 : 1;
        want_rc = answers[i] < 0 ? answers[i] : VAULT_OK;
        c = (counter){0, answers[i]};
        assert_int_equal(a->meta_get(a, "m", count_meta, &c), want_rc);
        assert_int_equal(a->policy_active(a, count_policy, &c), want_rc);
        assert_int_equal(a->gradekey_get(a, "personal", 1, count_gk, &c), want_rc);
        assert_int_equal(a->grant_get(a, "g-1", count_grant, &c), want_rc);
        assert_int_equal(a->audit_head(a, STORE_LOG_CITY, count_head, &c), want_rc);
        assert_int_equal(c.calls, 5);
        c.calls = 0;
        assert_int_equal(a->grant_scan(a, count_grant, &c), want_rc);
        assert_int_equal(c.calls, many);
        c.calls = 0;
        assert_int_equal(a->checkpoint_scan(a, count_cp, &c), want_rc);
        assert_int_equal(c.calls, many);
        c.calls = 0;
        assert_int_equal(a->record_scan_stale(a, "personal", 2, 10, count_record, &c), want_rc);
        assert_int_equal(c.calls, many);
    }
    a->rollback(a);
    done(a, "cb");
}

/* ---- iterators: freed early, and NULL ---- */

static void test_iterators(void **state)
{
    store_backend *a = open_new("iter");
    store_record r;
    store_field f;
    store_iter *it = NULL, *it2 = NULL;
    uint8_t id[VAULT_ID_BYTES], b;
    static const uint8_t dg[4] = {9, 9, 9, 9};

    (void)state;
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    add_record_keys(a);
    for (b = 3; b >= 1; b--) { /* written in reverse: found in id order */
        fill_record(&r, &f, b, "city/a");
        memcpy(f.digest, dg, sizeof dg);
        f.digest_len = sizeof dg;
        assert_int_equal(a->record_write(a, &r, 1), VAULT_OK);
    }
    assert_int_equal(a->commit(a), VAULT_OK);
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    /* two at once, each on its own; one freed before its end */
    assert_int_equal(a->bidx_find(a, &it, "phone", dg, sizeof dg), VAULT_OK);
    assert_int_equal(a->bidx_find(a, &it2, "phone", dg, sizeof dg), VAULT_OK);
    assert_int_equal(a->bidx_next(it, id), 1);
    assert_int_equal(id[0], 1);
    assert_int_equal(a->bidx_next(it2, id), 1);
    assert_int_equal(id[0], 1);
    assert_int_equal(a->bidx_next(it, id), 1);
    assert_int_equal(id[0], 2);
    a->iter_free(it);
    assert_int_equal(a->bidx_next(it2, id), 1);
    assert_int_equal(id[0], 2);
    assert_int_equal(a->bidx_next(it2, id), 1);
    assert_int_equal(id[0], 3);
    assert_int_equal(a->bidx_next(it2, id), 0);
    a->iter_free(it2);
    /* one never read */
    assert_int_equal(a->bidx_find(a, &it, "phone", dg, sizeof dg), VAULT_OK);
    a->iter_free(it);
    a->iter_free(NULL);
    a->rollback(a);
    /* outside a transaction there is no iteration */
    it = NULL;
    assert_int_equal(a->bidx_find(a, &it, "phone", dg, sizeof dg), VAULT_ESTATE);
    assert_null(it);
    done(a, "iter");
}

/* ---- bulk loading (when the backend offers it) ---- */

/* Large enough for SQLCipher's bulk path (BULK_MIN in sqlcipher.c). */
#define BULK_RECORDS 20000

/* A new store in a write transaction with the record keys, for the bulk
 * tests; skipped on a backend without bulk mode (the double offers none,
 * tests/store_mem.c). */
static store_backend *open_bulk(const char *name)
{
    store_backend *a = open_new(name);

    if (!a->bulk_begin) {
        done(a, name);
        skip();
    }
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    add_record_keys(a);
    return a;
}

static void test_bulk(void **state)
{
    store_backend *a;
    store_record r;
    store_field f;
    seal_plan p;
    char buf[64];
    uint8_t found[8][VAULT_ID_BYTES], dg[4] = {0, 0, 0, 7};
    int64_t n;
    size_t i;

    (void)state;
    a = open_bulk("bulk");
    assert_int_equal(a->bulk_begin(a, BULK_RECORDS), VAULT_OK);
    for (i = 0; i < BULK_RECORDS; i++) {
        fill_record(&r, &f, 0, "city/a");
        r.id[0] = (uint8_t)(i >> 8);
        r.id[1] = (uint8_t)i;
        r.id[2] = 0xB0;
        dg[0] = (uint8_t)(i % 5);
        memcpy(f.digest, dg, sizeof dg);
        f.digest_len = sizeof dg;
        assert_int_equal(a->record_write(a, &r, 1), VAULT_OK);
        if (i == 7) { /* a rewrite inside the load: its own row first */
            f.digest[0] = 4;
            f.digest[3] = 8;
            assert_int_equal(a->record_write(a, &r, 0), VAULT_OK);
        }
    }
    /* audit entries appended in the load reach the report indexes */
    memset(&p, 0, sizeof p);
    memset(p.rid, 0x5A, sizeof p.rid);
    p.n = 4;
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_cb, &p), VAULT_OK);
    assert_int_equal(a->bulk_end(a), VAULT_OK);
    assert_int_equal(now_count(a, a->record_count), BULK_RECORDS);
    dg[0] = 4;
    dg[3] = 8;
    assert_int_equal(find_ids(a, "phone", dg, sizeof dg, found), 1);
    assert_int_equal(found[0][1], 7);
    p.n = 1; /* one after the load: the tail past the indexes */
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_cb, &p), VAULT_OK);
    assert_int_equal(a->commit(a), VAULT_OK);
    /* the index holds every record once, in id order */
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    {
        store_iter *it = NULL;
        uint8_t id[VAULT_ID_BYTES], prev[VAULT_ID_BYTES];
        int rr;
        dg[0] = 3;
        dg[3] = 7;
        n = 0;
        assert_int_equal(a->bidx_find(a, &it, "phone", dg, sizeof dg), VAULT_OK);
        while ((rr = a->bidx_next(it, id)) == 1) {
            if (n)
                assert_true(memcmp(prev, id, VAULT_ID_BYTES) < 0); /* memcmp ok: not secret */
            memcpy(prev, id, VAULT_ID_BYTES);
            n++;
        }
        assert_int_equal(rr, 0);
        a->iter_free(it);
        assert_int_equal(n, BULK_RECORDS / 5);
    }
    assert_string_equal(positions(buf, sizeof buf, a, 0, p.rid, NULL), "1,3,5,");
    assert_string_equal(positions(buf, sizeof buf, a, 0, NULL, "bob"), "3,4,5,");
    assert_string_equal(positions(buf, sizeof buf, a, 2, NULL, "ann"), "");
    assert_string_equal(positions(buf, sizeof buf, a, 1, p.rid, "bob"), "3,5,");
    a->rollback(a);
    done(a, "bulk");
}

/* A bulk load meets a refused row (an id taken before the load): the
 * backend may say so at the write or later (PostgreSQL sends the rows in
 * batches), but nothing acknowledged is lost at commit: the commit keeps
 * every row it acknowledged, or fails and keeps none of the load.  Meta
 * rows put in the load are read back as put, the last put of a key
 * winning. */
/* A write refused in a bulk load, after rows the load acknowledged:
 * it undoes itself only, and the rows are committed. */
static void test_bulk_then_refused(void **state)
{
    store_backend *a;
    store_record r;
    store_field f;
    got_meta g;

    (void)state;
    a = open_bulk("bulkthen");
    assert_int_equal(a->bulk_begin(a, BULK_RECORDS), VAULT_OK);
    put_meta(a, "bulk/a", "1");
    fill_record(&r, &f, 0xB1, "city/a");
    assert_int_equal(a->record_write(a, &r, 1), VAULT_OK);
    assert_int_equal(a->meta_delete(a, "bulk/none"), VAULT_ENOTFOUND);
    put_meta(a, "bulk/b", "2");
    assert_int_equal(a->meta_delete(a, "bulk/none"), VAULT_ENOTFOUND);
    assert_int_equal(a->bulk_end(a), VAULT_OK);
    assert_int_equal(a->commit(a), VAULT_OK);
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_string_equal(meta_of(a, "bulk/a", &g), "1");
    assert_string_equal(meta_of(a, "bulk/b", &g), "2");
    assert_int_equal(now_count(a, a->record_count), 1);
    a->rollback(a);
    done(a, "bulkthen");
}

static void test_bulk_refused(void **state)
{
    store_backend *a;
    store_record r;
    store_field f;
    got_meta g;
    int64_t before;
    size_t i, acked = 0;
    int rc, refused = 0, crc;

    (void)state;
    a = open_bulk("bulkref");
    fill_record(&r, &f, 0xC1, "city/a");
    assert_int_equal(a->record_write(a, &r, 1), VAULT_OK);
    assert_int_equal(a->commit(a), VAULT_OK);
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    before = now_count(a, a->record_count);
    assert_int_equal(before, 1);
    assert_int_equal(a->bulk_begin(a, BULK_RECORDS), VAULT_OK);
    put_meta(a, "bulk/k", "1");
    put_meta(a, "bulk/k", "2");
    assert_string_equal(meta_of(a, "bulk/k", &g), "2"); /* read back inside the load */
    for (i = 0; i < 50; i++) {
        fill_record(&r, &f, 0, "city/a");
        r.id[0] = 0xD0;
        r.id[1] = (uint8_t)i;
        if (i == 20)
            memset(r.id, 0xC1, VAULT_ID_BYTES); /* taken */
        rc = a->record_write(a, &r, 1);
        if (rc == VAULT_OK)
            acked++;
        else
            refused = 1;
        if (rc < 0 && rc != VAULT_EEXISTS)
            assert_int_equal(rc, VAULT_ESTATE); /* after a failed batch: only a rollback */
    }
    rc = a->bulk_end(a);
    if (rc < 0)
        refused = 1;
    crc = a->commit(a); /* tried even after a failed bulk_end */
    if (crc < 0)
        a->rollback(a);
    assert_true(refused || crc < 0);
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    if (crc == VAULT_OK) {
        assert_int_equal(now_count(a, a->record_count), before + (int64_t)acked);
        assert_string_equal(meta_of(a, "bulk/k", &g), "2");
    } else {
        assert_int_equal(now_count(a, a->record_count), before);
        assert_string_equal(meta_of(a, "bulk/k", &g), "");
    }
    a->rollback(a);
    done(a, "bulkref");
}

/* ---- backup_to (when the backend makes file copies) ---- */

static void test_backup(void **state)
{
    store_backend *a = open_new("orig"), *c;
    char path[512];
    got_meta g;

    (void)state;
    if (!a->backup_to) {
        done(a, "orig");
        skip(); /* the double makes no file copies */
    }
    sq_path(path, sizeof path, "copy");
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    put_meta(a, "k", "copied");
    assert_int_equal(a->commit(a), VAULT_OK);
    /* in a read transaction only */
    assert_int_equal(a->backup_to(a, path, K1, NULL, NULL), VAULT_ESTATE);
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_int_equal(a->backup_to(a, path, K1, NULL, NULL), VAULT_OK);
    /* never over a file that is there */
    assert_int_equal(a->backup_to(a, path, K1, NULL, NULL), VAULT_EEXISTS);
    a->rollback(a);
    c = open_again("copy");
    assert_int_equal(c->begin(c, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_string_equal(meta_of(c, "k", &g), "copied");
    c->rollback(c);
    done(c, "copy");
    done(a, "orig");
}

/* ---- row_scan (version 5) and store_copy over it ---- */

/* Every row row_scan hands out, one line each ("m:key=value|mac0"). */
typedef struct scan_log {
    char text[2048];
    size_t n;
} scan_log;

static int scan_cb(void *arg, int kind, const void *row)
{
    scan_log *l = arg;
    char line[200];
    size_t len = strlen(l->text);

    switch (kind) {
    case STORE_ROW_META: {
        const store_meta *m = row;
        snprintf(line, sizeof line, "m:%s=%.*s|%d;", m->key, (int)m->len, (const char *)m->value,
                 m->mac[0]);
        break;
    }
    case STORE_ROW_POLICY: {
        const store_policy *p = row;
        snprintf(line, sizeof line, "p:%lld=%s,%.*s,%lld|%d;", (long long)p->id, p->filename,
                 (int)p->len, p->source, (long long)p->applied, p->mac[0]);
        break;
    }
    case STORE_ROW_GRADEKEY: {
        const store_gradekey *k = row;
        snprintf(line, sizeof line, "k:%s/%u=%.*s|%d;", k->grade, (unsigned)k->version, (int)k->len,
                 (const char *)k->wrapped, k->mac[0]);
        break;
    }
    case STORE_ROW_RECORD: {
        const store_record *r = row;
        snprintf(line, sizeof line, "r:%d@%lld,%s,%zu:%s=%.*s|%d;", r->id[0], (long long)r->created,
                 r->jurisdiction, r->nfields, r->nfields ? r->fields[0].name : "",
                 r->nfields ? (int)r->fields[0].ct_len : 0,
                 r->nfields ? (const char *)r->fields[0].ct : "", r->mac[0]);
        break;
    }
    case STORE_ROW_GRANT: {
        const store_grant *g = row;
        snprintf(line, sizeof line, "g:%s@%lld|%d;", g->id, (long long)g->created, g->mac[0]);
        break;
    }
    case STORE_ROW_CHECKPOINT: {
        const store_checkpoint *c = row;
        snprintf(line, sizeof line, "c:%llu=%.*s|%d;", (unsigned long long)c->size, (int)c->len,
                 c->note, c->mac[0]);
        break;
    }
    case STORE_ROW_QUOTA: {
        const store_quota_row *q = row;
        if (q->record)
            snprintf(line, sizeof line, "q:%s/%s@%lld#%d;", q->quota, q->user, (long long)q->at,
                     q->record[0]);
        else
            snprintf(line, sizeof line, "q:%s/%s@%lld;", q->quota, q->user, (long long)q->at);
        break;
    }
    case STORE_ROW_AUDIT: {
        const store_audit_row *a = row;
        snprintf(line, sizeof line, "a:%lld=%.*s,%s,%s,%u,h%d;", (long long)a->pos, (int)a->len,
                 (const char *)a->entry, a->user, a->record_id ? "rec" : "-", a->flags,
                 a->head_len == 32 ? a->head[0] : -1);
        break;
    }
    case STORE_ROW_AUDIT_STATE: {
        const store_audit_state *a = row;
        snprintf(line, sizeof line, "s:%lld=%.*s,h%d|%d;", (long long)a->pos, (int)a->len,
                 (const char *)a->state, a->head[0], a->mac[0]);
        break;
    }
    default:
        fail_msg("row_scan handed out kind %d", kind);
    }
    assert_true(len + strlen(line) < sizeof l->text);
    memcpy(l->text + len, line, strlen(line) + 1);
    l->n++;
    return 0;
}

/* All rows of one kind, as be's open transaction sees them. */
static const char *scan_all(scan_log *l, store_backend *be, int kind)
{
    memset(l, 0, sizeof *l);
    assert_int_equal(be->row_scan(be, kind, scan_cb, l), VAULT_OK);
    return l->text;
}

static int scan_stop(void *arg, int kind, const void *row)
{
    (void)kind;
    (void)row;
    return ++*(int *)arg >= 2 ? 1 : 0;
}

static int scan_fail(void *arg, int kind, const void *row)
{
    (void)arg;
    (void)kind;
    (void)row;
    return VAULT_EDENIED;
}

static const int every_kind[] = {
    STORE_ROW_META,       STORE_ROW_POLICY, STORE_ROW_GRADEKEY, STORE_ROW_RECORD,      STORE_ROW_GRANT,
    STORE_ROW_CHECKPOINT, STORE_ROW_QUOTA,  STORE_ROW_AUDIT,    STORE_ROW_AUDIT_STATE,
};

static void fill_for_scan(store_backend *a)
{
    store_policy p;
    store_record r;
    store_field f;
    store_grant g;
    store_audit_state st;
    seal_plan plan;
    static const struct {
        uint8_t id;
        int64_t created;
    } recs[] = {{3, 10}, {1, 20}, {2, 20}}; /* created in (created, id) order */
    size_t i;

    put_meta(a, "zeta", "last");
    put_meta(a, "alpha", "first");
    memset(&p, 0, sizeof p);
    p.filename = "one.yaml";
    p.source = "version: 1";
    p.len = strlen(p.source);
    p.applied = 5;
    memset(p.mac, 'p', sizeof p.mac);
    assert_int_equal(a->policy_add(a, &p), VAULT_OK);
    p.filename = "two.yaml";
    p.source = "version: 2";
    assert_int_equal(a->policy_add(a, &p), VAULT_OK);
    add_gk(a, "special", 1, "wrap-s", VAULT_OK);
    add_gk(a, "personal", 2, "wrap-2", VAULT_OK);
    add_gk(a, "personal", 1, "wrap-1", VAULT_OK);
    for (i = 0; i < VAULT_ARRAY_LEN(recs); i++) {
        fill_record(&r, &f, recs[i].id, "city/a");
        r.created = recs[i].created;
        memset(r.mac, 'r' + (int)i, sizeof r.mac);
        assert_int_equal(a->record_write(a, &r, 1), VAULT_OK);
    }
    fill_grant(&g, "g2", 5);
    assert_int_equal(a->grant_insert(a, &g), VAULT_OK);
    fill_grant(&g, "g1", 5);
    assert_int_equal(a->grant_insert(a, &g), VAULT_OK);
    fill_grant(&g, "g3", 3);
    assert_int_equal(a->grant_insert(a, &g), VAULT_OK);
    add_cp(a, 4, "four");
    add_cp(a, 2, "two");
    assert_int_equal(a->quota_add(a, "search", "bob", 0, 5), VAULT_OK);
    assert_int_equal(a->quota_add(a, "search", "ann", 0, 7), VAULT_OK);
    assert_int_equal(a->quota_add(a, "search", "ann", 0, 6), VAULT_OK);
    {
        uint8_t r9[VAULT_ID_BYTES], r4[VAULT_ID_BYTES];
        memset(r9, 9, sizeof r9);
        memset(r4, 4, sizeof r4);
        /* same second: ordered by record, after a use without one */
        assert_int_equal(a->quota_add_record(a, "search", "ann", r9, 0, 6), VAULT_OK);
        assert_int_equal(a->quota_add_record(a, "search", "ann", r4, 0, 6), VAULT_OK);
    }
    memset(&plan, 0, sizeof plan);
    memset(plan.rid, 1, sizeof plan.rid);
    plan.n = 3;
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_cb, &plan), VAULT_OK);
    memset(&st, 0, sizeof st);
    st.pos = 3;
    memset(st.head, 3, sizeof st.head);
    st.state = (const uint8_t *)"tree";
    st.len = 4;
    memset(st.mac, 's', sizeof st.mac);
    assert_int_equal(a->audit_state_put(a, &st, 0), VAULT_OK);
}

static void test_row_scan(void **state)
{
    store_backend *a = open_new("scan");
    scan_log l;
    size_t i;
    int n = 0;

    (void)state;
    /* outside a transaction: refused */
    assert_int_equal(a->row_scan(a, STORE_ROW_META, scan_cb, &l), VAULT_ESTATE);
    /* an empty store: no row of any kind */
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    for (i = 0; i < VAULT_ARRAY_LEN(every_kind); i++) {
        scan_all(&l, a, every_kind[i]);
        assert_int_equal(l.n, 0);
    }
    assert_int_equal(a->row_scan(a, 0, scan_cb, &l), VAULT_EINVALID);
    assert_int_equal(a->row_scan(a, STORE_ROW_AUDIT + 1, scan_cb, &l), VAULT_EINVALID);
    a->rollback(a);

    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    fill_for_scan(a);
    /* the writer sees its own rows */
    assert_string_equal(scan_all(&l, a, STORE_ROW_META), "m:alpha=first|102;m:zeta=last|108;");
    assert_int_equal(a->commit(a), VAULT_OK);

    /* every kind, in its order, every member and MAC as written */
    assert_int_equal(a->begin(a, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_string_equal(scan_all(&l, a, STORE_ROW_META), "m:alpha=first|102;m:zeta=last|108;");
    assert_string_equal(scan_all(&l, a, STORE_ROW_POLICY),
                        "p:1=one.yaml,version: 1,5|112;p:2=two.yaml,version: 2,5|112;");
    assert_string_equal(scan_all(&l, a, STORE_ROW_GRADEKEY),
                        "k:personal/1=wrap-1|0;k:personal/2=wrap-2|0;k:special/1=wrap-s|0;");
    assert_string_equal(scan_all(&l, a, STORE_ROW_RECORD),
                        "r:3@10,city/a,1:phone=ct|114;r:1@20,city/a,1:phone=ct|115;"
                        "r:2@20,city/a,1:phone=ct|116;");
    assert_string_equal(scan_all(&l, a, STORE_ROW_GRANT), "g:g3@3|3;g:g1@5|5;g:g2@5|5;");
    assert_string_equal(scan_all(&l, a, STORE_ROW_CHECKPOINT), "c:2=two|0;c:4=four|0;");
    assert_string_equal(scan_all(&l, a, STORE_ROW_QUOTA),
                        "q:search/ann@6;q:search/ann@6#4;q:search/ann@6#9;q:search/ann@7;"
                        "q:search/bob@5;");
    assert_string_equal(scan_all(&l, a, STORE_ROW_AUDIT),
                        "a:1=entry-1,ann,rec,1,h1;a:2=entry-2,ann,-,2,h2;a:3=entry-3,bob,rec,3,h3;");
    assert_string_equal(scan_all(&l, a, STORE_ROW_AUDIT_STATE), "s:3=tree,h3|115;");
    /* a callback stops (> 0: OK) or fails (< 0: its code) */
    assert_int_equal(a->row_scan(a, STORE_ROW_RECORD, scan_stop, &n), VAULT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(a->row_scan(a, STORE_ROW_AUDIT, scan_fail, NULL), VAULT_EDENIED);
    assert_int_equal(a->row_scan(a, STORE_ROW_META, scan_fail, NULL), VAULT_EDENIED);
    a->rollback(a);

    /* an append leaves the new newest row without a state: none scanned */
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_one, NULL), VAULT_OK);
    scan_all(&l, a, STORE_ROW_AUDIT_STATE);
    assert_int_equal(l.n, 0);
    a->rollback(a);
    done(a, "scan");
}

/* ---- a whole vault on the double, through the public API ----
 * (store_backend_name below is the one look past vault.h: the handle's
 * store, to show which backend ran.) */
#include <time.h>

#include "store/store.h"
#include "vault_int.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"



static void test_vault_on_memory(void **state)
{
    char *dir = tu_tmpdir(), cwd[1024], a[VAULT_ID_HEX_SIZE], b[VAULT_ID_HEX_SIZE];
    char gid[VAULT_NAME_MAX], *text = NULL, *hits = NULL;
    const char *both[2] = {a, b}, *grant_fields[] = {"name"};
    vault_secret sec = tu_pass_secret("memory backend passphrase");
    vault *v = NULL, *w = NULL;
    vault_session *s, *s2;
    vault_result *res[2] = {NULL, NULL};
    vault_grant_spec g = VAULT_GRANT_SPEC_INIT;
    vault_audit_result ar;
    size_t n = 0;
    int pending = -1;
    DIR *d;
    struct dirent *e;

    (void)state;
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(store_register_backend("memory", store_mem_open), 0);
    if (vault_create(&v, "memory:city", POLICY, &sec) != 0)
        fail_msg("vault_create: %s", vault_error_last());
    assert_string_equal(store_backend_name(v->db), "memory");
    {
        char dbkey[80];
        assert_int_equal(vault_db_key(dbkey, sizeof dbkey, v), VAULT_ESTATE); /* no SQLCipher file */
    }
    assert_int_equal(vault_policy_apply(&text, v, POLICY), 0);
    vault_free(text);
    s = tu_session(v, "li", "data_officer", "street_office", STREET, "resident_service");

    /* records: add, get, batch, update, find, erase */
    tu_add_resident(s, a, GRID7, "张三", "13812345678");
    tu_add_resident(s, b, GRID7, "李四", "13987654321");
    tu_expect_value(s, a, "phone", "13812345678");
    assert_int_equal(vault_record_get_batch(res, s, both, 2, NULL, 0), 0);
    vault_result_free(res[0]);
    vault_result_free(res[1]);
    {
        const char *f = "phone", *val = "13800000000";
        size_t len = strlen(val);
        assert_int_equal(vault_record_update(s, a, 1, &f, &val, &len), 0);
    }
    tu_expect_value(s, a, "phone", "13800000000");
    assert_int_equal(vault_record_find(&hits, &n, s, "phone", "13800000000", 11), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(hits, a, VAULT_ID_HEX_SIZE);
    vault_free(hits);
    assert_int_equal(vault_record_find(&hits, &n, s, "phone", "13812345678", 11), 0);
    assert_int_equal(n, 0); /* the old value's index row went with the update */
    vault_free(hits);
    assert_int_equal(vault_record_erase(s, b), 0);
    assert_int_equal(vault_record_get(&res[0], s, b, NULL, 0), VAULT_ENOTFOUND);

    /* a grant: issue, list, revoke */
    g = tu_grant_spec(grant_fields, 1, "health", STREET, 3600, "clinic follow-up");
    assert_int_equal(vault_grant_issue(gid, sizeof gid, &pending, s, &g), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(vault_grant_list(&text, v, 1, 0), 0);
    assert_non_null(strstr(text, gid));
    vault_free(text);
    assert_int_equal(vault_grant_revoke(s, gid, "no longer needed"), 0);
    assert_int_equal(vault_grant_list(&text, v, 1, 0), 0);
    assert_null(strstr(text, gid));
    vault_free(text);

    /* rotation re-seals every personal field through the backend */
    assert_int_equal(vault_key_rotate(v, "personal", NULL, NULL), 0);
    tu_expect_value(s, a, "phone", "13800000000");

    /* an import (one transaction, collected entries sealed at commit), an
     * export, and a resident's report, all through the backend table */
    {
        char *csvdir = tu_tmpdir(), csv[600], *rep = NULL;
        size_t imported = 0;

        snprintf(csv, sizeof csv, "%s/in.csv", csvdir);
        tu_write_file(csv, "jurisdiction,name,phone\n" GRID7 ",钱七,13800000005\n" GRID7
                           ",孙八,13800000006\n", strlen("jurisdiction,name,phone\n" GRID7
                                                         ",钱七,13800000005\n" GRID7
                                                         ",孙八,13800000006\n"));
        assert_int_equal(vault_import_csv(&imported, s, csv, NULL, NULL), 0);
        assert_int_equal(imported, 2);
        tu_rmdir(csvdir);
        vault_session *req = tu_session(v, "li", "data_officer", "street_office", STREET,
                                        "resident_request");
        assert_int_equal(vault_record_export(&text, req, a), 0);
        assert_non_null(strstr(text, "13800000000"));
        vault_free(text);
        vault_session_close(req);
        assert_int_equal(vault_audit_report(&rep, v, VAULT_REPORT_RECORD, a, 0), 0);
        assert_non_null(strstr(rep, " export "));
        assert_non_null(strstr(rep, " create "));
        vault_free(rep);
    }

    /* a second handle on the same store reads what the first wrote */
    assert_int_equal(vault_open(&w, "memory:city", &sec), 0);
    s2 = tu_session(w, "li", "data_officer", "street_office", STREET, "resident_service");
    tu_expect_value(s2, a, "phone", "13800000000");
    assert_int_equal(vault_audit_verify(&ar, w, NULL, NULL, NULL), 0);
    assert_int_equal(ar.failure, VAULT_AUDIT_OK);
    assert_true(ar.entries > 10);
    vault_session_close(s2);
    vault_session_close(s);
    vault_close(w);
    vault_close(v);

    /* nothing reached SQLCipher: the key sidecar is the only file */
    d = opendir(".");
    assert_non_null(d);
    n = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        assert_string_equal(e->d_name, "memory:city.keys");
        n++;
    }
    closedir(d);
    assert_int_equal(n, 1);
    assert_int_equal(store_mem_forget("city"), VAULT_OK);
    assert_int_equal(chdir(cwd), 0);
    tu_rmdir(dir);
}

/* ---- store_copy and destroy over the backend (version 5) ---- */

static int test_guard_mac(void *arg, const uint8_t *msg, size_t len, uint8_t out[STORE_MAC_BYTES])
{
    return crypto_generichash(out, STORE_MAC_BYTES, msg, len, arg, 32) == 0 ? VAULT_OK : VAULT_ERROR;
}

static uint8_t GUARD_KEY[32] = {9, 9, 9};
static uint8_t OTHER_GUARD_KEY[32] = {8, 8, 8};

/* A store over a new backend store `name`; *raw keeps the backend (owned
 * by the store, usable behind its back while it is idle). */
static store *store_new_on(const char *name, uint8_t *gkey, store_backend **raw)
{
    store_guard guard = {test_guard_mac, gkey};
    store_backend *be = open_new(name);
    store *s = NULL;

    assert_int_equal(store_open_backend(&s, be, &guard, NULL), VAULT_OK);
    if (raw)
        *raw = be;
    return s;
}

static void store_done(store *s, const char *name)
{
    store_close(s);
    K->forget(name);
}

/* Every row of every kind of be, one text (a committed snapshot). */
static void scan_every(char *out, size_t cap, store_backend *be)
{
    scan_log l;
    size_t i, len = 0;

    out[0] = 0;
    assert_int_equal(be->begin(be, STORE_TX_SNAPSHOT), VAULT_OK);
    for (i = 0; i < VAULT_ARRAY_LEN(every_kind); i++) {
        scan_all(&l, be, every_kind[i]);
        assert_true(len + strlen(l.text) < cap);
        memcpy(out + len, l.text, strlen(l.text) + 1);
        len += strlen(l.text);
    }
    be->rollback(be);
}

typedef struct copy_progress {
    uint64_t calls, done, total;
} copy_progress;

static void copy_progress_fn(uint64_t done, uint64_t total, void *arg)
{
    copy_progress *p = arg;

    assert_true(done <= total);
    p->calls++;
    p->done = done;
    p->total = total;
}

static void fill_through_store(store *s)
{
    store_record r;
    store_field f;
    store_grant g;
    seal_plan plan;
    int64_t id = 0;
    uint8_t head[32], rid[VAULT_ID_BYTES];
    size_t i;

    memset(head, 0x11, sizeof head);
    assert_int_equal(store_begin(s, STORE_TX_WRITE), VAULT_OK);
    assert_int_equal(store_meta_put(s, "vault_id", (const uint8_t *)"v-1", 3), VAULT_OK);
    assert_int_equal(store_meta_put(s, "format", (const uint8_t *)"fmt", 3), VAULT_OK);
    assert_int_equal(store_policy_add(&id, s, head, "one.yaml", "version: 1", 10, 5), VAULT_OK);
    assert_int_equal(store_policy_add(&id, s, head, "two.yaml", "version: 2", 10, 6), VAULT_OK);
    assert_int_equal(store_gradekey_add(s, "personal", 1, (const uint8_t *)"w1", 2, 1), VAULT_OK);
    assert_int_equal(store_gradekey_add(s, "special", 1, (const uint8_t *)"ws", 2, 1), VAULT_OK);
    for (i = 0; i < 3; i++) {
        fill_record(&r, &f, (uint8_t)(i + 1), "city/a");
        r.created = (int64_t)(10 * (i + 1));
        assert_int_equal(store_record_write(s, &r, 1), VAULT_OK);
    }
    fill_grant(&g, "g1", 5);
    assert_int_equal(store_grant_insert(s, &g), VAULT_OK);
    assert_int_equal(store_checkpoint_add(s, 2, "note two", 9), VAULT_OK);
    assert_int_equal(store_quota_add(s, "search", "ann", 0, 7), VAULT_OK);
    memset(rid, 5, sizeof rid);
    assert_int_equal(store_quota_add_record(s, "residents", "ann", rid, 0, 8), VAULT_OK);
    memset(&plan, 0, sizeof plan);
    memset(plan.rid, 1, sizeof plan.rid);
    plan.n = 3;
    assert_int_equal(store_audit_seal(s, seal_cb, &plan), VAULT_OK);
    memset(head, 3, sizeof head);
    assert_int_equal(store_audit_state_put(s, 0, 3, head, (const uint8_t *)"tree", 4), VAULT_OK);
    assert_int_equal(store_commit(s), VAULT_OK);
}

static int rec_seen(void *arg, const store_record *row)
{
    (void)row;
    ++*(int *)arg;
    return 0;
}

static void test_copy(void **state)
{
    store_backend *sbe, *dbe, *xbe;
    store *src = store_new_on("copysrc", GUARD_KEY, &sbe), *dst, *x;
    store_copy_stats st;
    copy_progress pr = {0};
    char want[4096], got[4096], empty[512];
    store_meta bad;
    uint8_t id[VAULT_ID_BYTES];
    int seen = 0;

    (void)state;
    fill_through_store(src);
    scan_every(want, sizeof want, sbe);

    /* a copy: every row as it was, MACs and all */
    dst = store_new_on("copydst", GUARD_KEY, &dbe);
    scan_every(empty, sizeof empty, dbe);
    assert_string_equal(empty, "");
    assert_int_equal(store_copy(&st, src, dst, copy_progress_fn, &pr), VAULT_OK);
    assert_int_equal(st.records, 3);
    assert_int_equal(st.entries, 3);
    /* 2 meta, 2 policies, 2 keys, 3 records, 1 grant, 1 checkpoint, 2 quota uses (one naming
     * its record), 3 entries, 1 state */
    assert_int_equal(st.rows, 17);
    assert_true(pr.calls >= 1);
    assert_int_equal(pr.done, 17);
    assert_int_equal(pr.total, 17);
    scan_every(got, sizeof got, dbe);
    assert_string_equal(got, want);
    /* and they pass their MACs where they are now */
    memset(id, 2, sizeof id);
    assert_int_equal(store_begin(dst, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_int_equal(store_record_get(dst, id, rec_seen, &seen), VAULT_OK);
    assert_int_equal(seen, 1);
    store_rollback(dst);

    /* a target that holds anything: refused, nothing written */
    assert_int_equal(store_copy(&st, src, dst, NULL, NULL), VAULT_EEXISTS);
    assert_non_null(strstr(vault_error_last(), "not empty"));
    scan_every(got, sizeof got, dbe);
    assert_string_equal(got, want);
    x = store_new_on("copyone", GUARD_KEY, &xbe);
    assert_int_equal(xbe->begin(xbe, STORE_TX_WRITE), VAULT_OK);
    put_meta(xbe, "only", "one");
    assert_int_equal(xbe->commit(xbe), VAULT_OK);
    assert_int_equal(store_copy(&st, src, x, NULL, NULL), VAULT_EEXISTS);
    scan_every(got, sizeof got, xbe);
    assert_string_equal(got, "m:only=one|111;");
    store_done(x, "copyone");

    /* a target under another row key: refused, nothing committed */
    x = store_new_on("copykey", OTHER_GUARD_KEY, &xbe);
    assert_int_equal(store_copy(&st, src, x, NULL, NULL), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "row key"));
    scan_every(got, sizeof got, xbe);
    assert_string_equal(got, "");
    store_done(x, "copykey");

    /* a source row changed behind store.c: refused, nothing committed */
    assert_int_equal(sbe->begin(sbe, STORE_TX_WRITE), VAULT_OK);
    memset(&bad, 0, sizeof bad);
    bad.key = "zz-planted";
    bad.value = (const uint8_t *)"x";
    bad.len = 1;
    assert_int_equal(sbe->meta_put(sbe, &bad), VAULT_OK);
    assert_int_equal(sbe->commit(sbe), VAULT_OK);
    x = store_new_on("copybad", GUARD_KEY, &xbe);
    assert_int_equal(store_copy(&st, src, x, NULL, NULL), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "zz-planted"));
    assert_int_equal(st.rows, 0);
    scan_every(got, sizeof got, xbe);
    assert_string_equal(got, "");
    store_done(x, "copybad");

    /* the source's own transaction is left as it was */
    assert_int_equal(store_copy(&st, src, src, NULL, NULL), VAULT_EINVALID);
    assert_int_equal(store_in_tx(src), 0);
    store_done(dst, "copydst");
    store_done(src, "copysrc");
}

static void test_destroy(void **state)
{
    store_backend *a = open_new("gone"), *b, *c = NULL;
    char schema[64], sql[600];

    (void)state;
    if (!a->destroy) {
        done(a, "gone");
        skip(); /* SQLCipher: a file, removed by whoever made it */
    }
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    put_meta(a, "k", "v");
    assert_int_equal(a->destroy(a), VAULT_ESTATE); /* inside a transaction */
    assert_int_equal(a->commit(a), VAULT_OK);
    /* a handle that did not create it drops nothing */
    b = open_again("gone");
    assert_int_equal(b->destroy(b), VAULT_ESTATE);
    assert_non_null(strstr(vault_error_last(), "not created by this"));
    b->free(b);
    assert_int_equal(a->destroy(a), VAULT_OK);
    assert_int_equal(a->destroy(a), VAULT_ESTATE); /* once */
    a->free(a);
    assert_int_equal(K->open(&c, "gone", K1, 0), K->missing_rc);
    assert_null(c);
    /* the name is free for a new store */
    a = open_new("gone");
    done(a, "gone");

    if (K->open != pg_open)
        return;
    /* PostgreSQL: a schema a DBA made empty stays, only its tables go */
    pg_schema(schema, sizeof schema, "premade");
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    pg_admin(sql);
    a = open_new("premade");
    assert_int_equal(a->destroy(a), VAULT_OK);
    a->free(a);
    snprintf(sql, sizeof sql, "DO $$ BEGIN IF (SELECT count(*) FROM pg_namespace n JOIN pg_class k"
                              " ON k.relnamespace = n.oid WHERE n.nspname = '%s') <> 0 OR"
                              " NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '%s')"
                              " THEN RAISE 'left'; END IF; END $$", schema, schema);
    pg_admin(sql); /* raises when tables are left or the schema is gone */
    pg_forget("premade");
}

/* The audit log's logs (table version 9).  A backend without many_logs
 * (a file, the memory double) keeps the city log only and refuses any
 * other, storing nothing; PostgreSQL keeps each apart: positions from 1
 * in each, each its own head and state, iterations by log, every log
 * listed (the city's first) with its newest position, a copy takes them
 * all; and through store.c a state is bound to its log, so one moved onto
 * another log's head row fails its MAC. */
typedef struct logs_seen {
    char text[256];
    size_t off;
} logs_seen;

static int log_seen(void *arg, const char *log, int64_t pos)
{
    logs_seen *l = arg;

    l->off += (size_t)snprintf(l->text + l->off, sizeof l->text - l->off, "%s=%lld;", log,
                               (long long)pos);
    assert_true(l->off < sizeof l->text);
    return 0;
}

static const char *logs_now(logs_seen *l, store_backend *be)
{
    memset(l, 0, sizeof *l);
    assert_int_equal(be->audit_logs(be, log_seen, l), VAULT_OK);
    return l->text;
}

/* The (log, pos) of every row an iteration of log (NULL: every log) returns. */
static const char *log_rows(char *buf, size_t cap, store_backend *be, const char *log)
{
    store_audit_filter f = {log, 0, NULL, NULL};

    return filtered_rows(buf, cap, be, &f, 1);
}

static void test_logs(void **state)
{
    static const char *const XIHU = "hangzhou/xihu", *const GONGSHU = "hangzhou/gongshu";
    store_backend *a = open_new("logs"), *b;
    seal_plan p;
    store_audit_state st;
    uint8_t bytes[1] = {5};
    logs_seen l;
    char buf[512];
    int64_t pos = -1;

    (void)state;
    memset(&p, 0, sizeof p);
    memset(&st, 0, sizeof st);
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    assert_string_equal(logs_now(&l, a), "");
    p.n = 2;
    assert_int_equal(a->audit_write(a, STORE_LOG_CITY, seal_cb, &p), VAULT_OK);
    assert_int_equal(a->audit_write(a, NULL, seal_cb, &p), VAULT_OK); /* NULL: the city's */
    assert_int_equal(log_count(a, STORE_LOG_CITY), 4);
    if (!a->many_logs) {
        /* one log: any other refused, nothing stored */
        assert_int_equal(a->audit_write(a, XIHU, seal_cb, &p), VAULT_EINVALID);
        assert_non_null(strstr(vault_error_last(), XIHU));
        assert_int_equal(a->audit_head(a, XIHU, head_cb, &pos), VAULT_EINVALID);
        assert_int_equal(a->audit_count(a, XIHU, &pos), VAULT_EINVALID);
        {
            store_audit_filter f = {XIHU, 0, NULL, NULL};
            store_iter *it = NULL;
            assert_int_equal(a->audit_iter(a, &it, &f), VAULT_EINVALID);
            assert_null(it);
        }
        st.log = XIHU;
        st.pos = 4;
        memset(st.head, 4, 32);
        st.state = bytes;
        st.len = 1;
        assert_int_equal(a->audit_state_put(a, &st, 0), VAULT_EINVALID);
        assert_int_equal(log_count(a, STORE_LOG_CITY), 4);
        assert_string_equal(logs_now(&l, a), "=4;");
        assert_string_equal(log_rows(buf, sizeof buf, a, NULL), ":1,:2,:3,:4,");
        assert_int_equal(a->commit(a), VAULT_OK);
        done(a, "logs");
        return;
    }
    /* each log its own positions, from 1 */
    p.n = 3;
    assert_int_equal(a->audit_write(a, XIHU, seal_cb, &p), VAULT_OK);
    assert_int_equal(p.saw_pos, 0);
    p.n = 1;
    assert_int_equal(a->audit_write(a, GONGSHU, seal_cb, &p), VAULT_OK);
    assert_int_equal(a->audit_write(a, XIHU, seal_cb, &p), VAULT_OK);
    assert_int_equal(p.saw_pos, 3);
    assert_string_equal(p.saw_entry, "entry-3");
    /* out of order in a log: refused, nothing stored */
    p.first_pos = 9;
    assert_int_equal(a->audit_write(a, GONGSHU, seal_cb, &p), VAULT_EINTEGRITY);
    p.first_pos = 0;
    assert_int_equal(log_count(a, XIHU), 4);
    assert_int_equal(log_count(a, GONGSHU), 1);
    assert_int_equal(log_count(a, "hangzhou/binjiang"), 0);
    assert_string_equal(logs_now(&l, a), "=4;hangzhou/gongshu=1;hangzhou/xihu=4;");
    /* each log's state, on its own newest row */
    st.log = XIHU;
    st.pos = 4;
    memset(st.head, 4, 32);
    st.state = bytes;
    st.len = 1;
    memset(st.mac, 5, sizeof st.mac);
    assert_int_equal(a->audit_state_put(a, &st, 0), VAULT_OK);
    st.log = GONGSHU; /* gongshu's newest is at 1 */
    assert_int_equal(a->audit_state_put(a, &st, 0), VAULT_EINTEGRITY);
    assert_int_equal(a->commit(a), VAULT_OK);

    b = open_again("logs");
    assert_int_equal(b->begin(b, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_string_equal(logs_now(&l, b), "=4;hangzhou/gongshu=1;hangzhou/xihu=4;");
    assert_int_equal(b->audit_head(b, XIHU, head_cb, &pos), VAULT_OK);
    assert_int_equal(pos, 4);
    {
        int v = -1;
        assert_int_equal(b->audit_head(b, XIHU, state_cb, &v), VAULT_OK);
        assert_int_equal(v, 5);
        assert_int_equal(b->audit_head(b, GONGSHU, state_cb, &v), VAULT_OK);
        assert_int_equal(v, 0);
        assert_int_equal(b->audit_head(b, STORE_LOG_CITY, state_cb, &v), VAULT_OK);
        assert_int_equal(v, 0);
    }
    assert_string_equal(log_rows(buf, sizeof buf, b, XIHU),
                        "hangzhou/xihu:1,hangzhou/xihu:2,hangzhou/xihu:3,hangzhou/xihu:4,");
    assert_string_equal(log_rows(buf, sizeof buf, b, STORE_LOG_CITY), ":1,:2,:3,:4,");
    assert_string_equal(log_rows(buf, sizeof buf, b, NULL),
                        ":1,:2,:3,:4,hangzhou/gongshu:1,hangzhou/xihu:1,hangzhou/xihu:2,"
                        "hangzhou/xihu:3,hangzhou/xihu:4,");
    /* the city log's filters see the city log only */
    assert_string_equal(positions(buf, sizeof buf, b, 0, NULL, "bob"), "3,4,");
    b->rollback(b);
    b->free(b);
    done(a, "logs");
}

/* Through store.c: each log's state is MAC'd with its log, and a copy
 * takes every log. */
static void test_logs_through_store(void **state)
{
    static const char *const XIHU = "hangzhou/xihu", *const GONGSHU = "hangzhou/gongshu";
    store_backend *sbe, *dbe;
    store *src, *dst;
    seal_plan p;
    logs_seen l;
    char sql[600], schema[64], buf[512];
    uint8_t st[3] = {1, 2, 3}, out[8], head[32];
    int64_t pos = 0;
    size_t len = 0;

    (void)state;
    src = store_new_on("logst", GUARD_KEY, &sbe);
    if (!sbe->many_logs) {
        assert_int_equal(store_begin(src, STORE_TX_WRITE), VAULT_OK);
        memset(&p, 0, sizeof p);
        p.n = 1;
        assert_int_equal(store_audit_seal_in(src, XIHU, seal_cb, &p), VAULT_EINVALID);
        assert_int_equal(store_many_logs(src), 0);
        store_rollback(src);
        store_done(src, "logst");
        return;
    }
    assert_int_equal(store_many_logs(src), 1);
    assert_int_equal(store_begin(src, STORE_TX_WRITE), VAULT_OK);
    memset(&p, 0, sizeof p);
    p.n = 1;
    assert_int_equal(store_audit_seal_in(src, XIHU, seal_cb, &p), VAULT_OK);
    assert_int_equal(store_audit_seal_in(src, GONGSHU, seal_cb, &p), VAULT_OK);
    assert_int_equal(store_audit_seal(src, seal_cb, &p), VAULT_OK);
    memset(head, 1, 32); /* seal_cb's head of position 1, in each log */
    assert_int_equal(store_audit_state_put_in(src, XIHU, 0, 1, head, st, 3), VAULT_OK);
    st[0] = 7;
    assert_int_equal(store_audit_state_put_in(src, GONGSHU, 0, 1, head, st, 3), VAULT_OK);
    /* bad names: refused before the backend sees them */
    assert_int_equal(store_audit_seal_in(src, "a\nb", seal_cb, &p), VAULT_EINVALID);
    assert_int_equal(store_audit_seal_in(src, "hangzhou/\xff\xfe", seal_cb, &p), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "UTF-8"));
    assert_int_equal(store_commit(src), VAULT_OK);

    assert_int_equal(store_begin(src, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_int_equal(store_audit_state_get_in(&pos, out, sizeof out, &len, src, XIHU), VAULT_OK);
    assert_int_equal(pos, 1);
    assert_int_equal(len, 3);
    assert_int_equal(out[0], 1);
    assert_int_equal(store_audit_state_get_in(&pos, out, sizeof out, &len, src, GONGSHU),
                     VAULT_OK);
    assert_int_equal(out[0], 7);
    assert_int_equal(store_audit_count_in(&pos, src, XIHU), VAULT_OK);
    assert_int_equal(pos, 1);
    memset(&l, 0, sizeof l);
    assert_int_equal(store_audit_logs(src, log_seen, &l), VAULT_OK);
    assert_string_equal(l.text, "=1;hangzhou/gongshu=1;hangzhou/xihu=1;");
    store_rollback(src);

    /* a copy: every log, to the same positions, states and all */
    dst = store_new_on("logsd", GUARD_KEY, &dbe);
    assert_int_equal(store_copy(NULL, src, dst, NULL, NULL), VAULT_OK);
    assert_int_equal(dbe->begin(dbe, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_string_equal(logs_now(&l, dbe), "=1;hangzhou/gongshu=1;hangzhou/xihu=1;");
    assert_string_equal(log_rows(buf, sizeof buf, dbe, NULL),
                        ":1,hangzhou/gongshu:1,hangzhou/xihu:1,");
    dbe->rollback(dbe);
    assert_int_equal(store_begin(dst, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_int_equal(store_audit_state_get_in(&pos, out, sizeof out, &len, dst, GONGSHU),
                     VAULT_OK);
    assert_int_equal(out[0], 7);
    store_rollback(dst);
    store_done(dst, "logsd");

    /* a DBA puts xihu's state (same position and chain head) on
     * gongshu's head row: its MAC names xihu */
    pg_schema(schema, sizeof schema, "logst");
    snprintf(sql, sizeof sql,
             "UPDATE %s.audit_heads g SET state = x.state, mac = x.mac FROM %s.audit_heads x"
             " WHERE g.log = 'hangzhou/gongshu' AND x.log = 'hangzhou/xihu'", schema, schema);
    pg_admin(sql);
    assert_int_equal(store_begin(src, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_int_equal(store_audit_state_get_in(&pos, out, sizeof out, &len, src, GONGSHU),
                     VAULT_EINTEGRITY);
    assert_int_equal(store_audit_state_get_in(&pos, out, sizeof out, &len, src, XIHU), VAULT_OK);
    store_rollback(src);
    store_done(src, "logst");
}

/* PostgreSQL schema 5 (no quota_use.record) is brought to 6 by migrate:
 * the column added, the uses kept, the version row moved; a layout older
 * than any PostgreSQL vault had is refused.  (SQLCipher's schema 5 to 6:
 * test_vault's test_schema5_migrates.) */
static void test_pg_schema5(void **state)
{
    store_backend *a;
    char schema[64], sql[300];
    uint8_t rid[VAULT_ID_BYTES];
    int from = 0, seen = 0;
    int64_t n = 0;

    (void)state;
    if (K->open != pg_open)
        skip();
    memset(rid, 6, sizeof rid);
    a = open_new("schema5");
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    assert_int_equal(a->quota_add(a, "search", "ann", 0, 7), VAULT_OK);
    assert_int_equal(a->commit(a), VAULT_OK);
    a->free(a);
    pg_schema(schema, sizeof schema, "schema5");
    snprintf(sql, sizeof sql, "ALTER TABLE %s.quota_use DROP COLUMN record", schema);
    pg_admin(sql);
    snprintf(sql, sizeof sql, "UPDATE %s.store_info SET version = 5", schema);
    pg_admin(sql);

    a = open_again("schema5");
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    assert_int_equal(a->migrate(a, &from, NULL, NULL, NULL, NULL), VAULT_OK);
    assert_int_equal(from, 5);
    assert_int_equal(a->quota_add_record(a, "res", "ann", rid, 0, 8), VAULT_OK);
    assert_int_equal(a->commit(a), VAULT_OK);
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    assert_int_equal(a->migrate(a, &from, NULL, NULL, NULL, NULL), VAULT_OK);
    assert_int_equal(from, 8); /* STORE_SCHEMA_VERSION: done once */
    assert_int_equal(a->quota_count(a, "search", "ann", 0, &n), VAULT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(a->quota_count_records(a, "res", "ann", 0, rid, &n, &seen), VAULT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(seen, 1);
    assert_int_equal(a->commit(a), VAULT_OK);
    a->free(a);

    snprintf(sql, sizeof sql, "UPDATE %s.store_info SET version = 4", schema);
    pg_admin(sql);
    a = open_again("schema5");
    assert_int_equal(a->begin(a, STORE_TX_WRITE), VAULT_OK);
    assert_int_equal(a->migrate(a, &from, NULL, NULL, NULL, NULL), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "which no PostgreSQL vault ever had"));
    a->rollback(a);
    done(a, "schema5");
}

/* The suite: every test of the table, once per backend. */
static const struct {
    const char *name;
    CMUnitTestFunction fn;
} suite[] = {
    {"open", test_open},
    {"tx rules", test_tx_rules},
    {"tx isolation", test_tx_isolation},
    {"rollback restores", test_rollback_restores},
    {"records", test_records},
    {"stale", test_stale},
    {"audit", test_audit},
    {"audit state", test_audit_state},
    {"audit among writes", test_audit_among_writes},
    {"logs", test_logs},
    {"logs through store", test_logs_through_store},
    {"grants", test_grants},
    {"checkpoints", test_checkpoints},
    {"meta policies keys quota", test_meta_policies_keys_quota},
    {"quota records", test_quota_records},
    {"postgresql schema 5", test_pg_schema5},
    {"callbacks", test_callbacks},
    {"iterators", test_iterators},
    {"bulk", test_bulk},
    {"bulk_refused", test_bulk_refused},
    {"bulk then refused", test_bulk_then_refused},
    {"backup", test_backup},
    {"grade key references", test_key_refs},
    {"row scan", test_row_scan},
    {"copy", test_copy},
    {"destroy", test_destroy},
};
#define SUITE_N VAULT_ARRAY_LEN(suite)

static int group_setup(void **state)
{
    (void)state;
    if (strcmp(K->name, "sqlcipher") == 0)
        sq_dir = tu_tmpdir();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (sq_dir) {
        tu_rmdir(sq_dir);
        sq_dir = NULL;
    }
    return 0;
}

/* One cmocka group for kinds[k]: the suite (and the double's own extras). */
static int run_kind(size_t k)
{
    static char names[SUITE_N + 1][80];
    struct CMUnitTest tests[SUITE_N + 1];
    size_t i, n = 0;
    int failed;

    memset(tests, 0, sizeof tests);
    for (i = 0; i < SUITE_N; i++) {
        snprintf(names[n], sizeof names[n], "%s: %s", kinds[k].name, suite[i].name);
        tests[n].name = names[n];
        tests[n].test_func = suite[i].fn;
        n++;
    }
    if (kinds[k].open == mem_open) {
        snprintf(names[n], sizeof names[n], "%s: registry", kinds[k].name);
        tests[n].name = names[n];
        tests[n].test_func = test_mem_registry;
        n++;
    }
    K = &kinds[k]; /* the tests' backend */
    failed = _cmocka_run_group_tests(kinds[k].name, tests, n, group_setup, group_teardown);
    return failed;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest vault_tests[] = {
        cmocka_unit_test(test_vault_on_memory),
    };
    int failed = 0;
    size_t k;

    if (sodium_init() < 0)
        return 1;
    memset(K2, 0x42, sizeof K2);
    pg_uri = getenv("VAULT_PG_URI");
    if (pg_uri && !*pg_uri)
        pg_uri = NULL;
    if (argc >= 2 && strcmp(argv[1], "postgresql") == 0 && !pg_uri) {
        fprintf(stderr, "test_store_conformance postgresql: VAULT_PG_URI is not set (run it "
                        "under tests/pg/pg_cluster.sh run)\n");
        return 1;
    }
    for (k = 0; k < VAULT_ARRAY_LEN(kinds); k++) {
        if (kinds[k].open == pg_open && !pg_uri)
            continue; /* no server named */
        if (argc < 2 || strcmp(argv[1], kinds[k].name) == 0)
            failed += run_kind(k);
    }
    if (argc < 2 || strcmp(argv[1], "vault") == 0)
        failed += cmocka_run_group_tests_name("vault on memory", vault_tests, NULL, NULL);
    return failed;
}

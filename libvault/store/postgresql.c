/* postgresql: the store backend table (store/backend.h) over libpq, phase 1
 * of issue 17 (docs/postgresql.md).
 *
 * A vault is one schema of a PostgreSQL database (vault_schema, default
 * "libvault"), so one database can hold several.  Its location is a libpq
 * URI ("postgresql://...", "postgres://...") or "pg:" and a libpq
 * connection string; libvault's own parameters (vault_keys, vault_schema)
 * are taken out before libpq sees it.  The server sees what every backend
 * sees: ids, jurisdictions, field names and grades, ciphertexts, digests,
 * opaque audit bytes and a MAC per row.  store.c computes and checks the
 * MACs; this file never sees a key but the store key, of which it keeps a
 * keyed check value (VAULT_EAUTH for another key, like SQLCipher).
 *
 * How it works:
 *  - one connection per backend handle, search_path set to the vault's
 *    schema, lock_timeout STORE_BUSY_TIMEOUT_MS; no reconnect: a lost
 *    connection fails the call and every later one with VAULT_EIO, and the
 *    transaction it had is gone (nothing released);
 *  - STORE_TX_SNAPSHOT is BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY
 *    (on the primary, sent with the snapshot's first statement: lazy_run);
 *    STORE_TX_WRITE is BEGIN (READ COMMITTED) and the schema's write lock,
 *    pg_advisory_xact_lock(key of the schema name): one writer of records,
 *    grants, policy and keys at a time per vault, as SQLCipher's BEGIN
 *    IMMEDIATE;
 *    STORE_TX_DEFERRED (an audited read) is READ COMMITTED without the
 *    write lock: its appends lock their log's head row from the seal to
 *    the commit (audit_head_load), its commit checks the generation is
 *    the begin's under the generation lock (pg_commit), and a write of
 *    another kind takes the write lock and checks it there (lock_step);
 *    either check failing is VAULT_EBUSY (docs/postgresql.md "Audited
 *    reads");
 *  - every write but the audit log's runs under a savepoint, so a refused
 *    write (a duplicate id, a grade key still in use) leaves the
 *    transaction usable and changes nothing, as the contract says;
 *  - round trips: statements that don't need each other's answers go in
 *    one libpq pipeline (a begin's, a batch of records', the lock step's,
 *    the commit's), and the audit log's appends and state updates wait
 *    in a queue until the next statement, the commit's at the latest;
 *    what the server refuses of them fails that statement and aborts the
 *    transaction ("round trips" below, docs/postgresql.md "Round
 *    trips");
 *  - generation: the generation row, bumped by the commit of a
 *    transaction that changed a row a handle keeps loaded (WR_TRUST),
 *    less this connection's own bumps; read with the key check at the
 *    begin and kept for the transaction;
 *  - audit rows are immutable (a trigger refuses UPDATE, DELETE and
 *    TRUNCATE); each is in a log (schema 8: the city log '' or a shard's,
 *    positions counted per log) and each log's state lives in its
 *    audit_heads row, which names the row it belongs to and is locked FOR
 *    UPDATE by every append before it reads the head; positions are the
 *    client's, never a sequence's; rows go in with one INSERT ... SELECT
 *    FROM unnest(...); a log's head is read under that lock once per
 *    transaction and kept;
 *  - parameters and results are binary (int8, bytea, text, arrays);
 *  - iterators are server-side cursors read ITER_BATCH rows at a time;
 *  - bulk mode (bulk_begin .. bulk_end) batches new records and meta rows
 *    into COPY (see "bulk mode" below).
 * backup_to is NULL: a PostgreSQL vault is copied with the DBA's pg_dump
 * or pg_basebackup (docs/postgresql.md). */
#include "store/postgresql.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "store/store.h"

#define PG_SCHEMA_DEFAULT "libvault"
#define PG_SCHEMA_MAX 63
#define NAMEDATALEN_MAX 64 /* a role name, as the server's NAMEDATALEN */
#define PG_PARAMS_MAX 40
#define PG_SEAL_CAP 256
#define ITER_BATCH 1000
#define KEYCHECK_LABEL "libvault/postgresql/keycheck/v1"
/* Serialization failures and deadlocks: tries of a step the backend owns
 * whole (a begin, the deferred write's lock step), and the most the n-th
 * retry waits, n * [1, PG_BACKOFF_MS] ms at random (docs/postgresql.md,
 * "Transactions and errors"). */
#define PG_TRIES 3
#define PG_BACKOFF_MS 20
/* Standby reads: how long a begin waits for the standby to replay what
 * the primary had committed, polling every PG_STANDBY_POLL_MS, before it
 * reads from the primary instead; and how long after a failed standby
 * connection before the next is tried (docs/postgresql.md "Standby
 * reads"). */
#define PG_STANDBY_WAIT_MS 1000
#define PG_STANDBY_POLL_MS 10
#define PG_STANDBY_RETRY_MS 10000
/* ... after a standby that stayed behind for all of PG_STANDBY_WAIT_MS,
 * how long before it is asked again; and the connect_timeout (seconds)
 * of its connection unless its own string says. */
#define PG_STANDBY_BEHIND_MS 5000
#define PG_STANDBY_CONNECT_S "3"
/* Deferred statements (pend_add): at most this many, holding at most
 * this many bytes of parameters, wait before they are sent on their own. */
#define PG_PEND_MAX 32
#define PG_PEND_BYTES (4u << 20)
/* Prepared statements a connection keeps ("prepared statements" below). */
#define PG_PREP_MAX 48

/* Type OIDs (pg_type.h, stable across releases). */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25
#define OID_BYTEA_ARRAY 1001
#define OID_TEXT_ARRAY 1009
#define OID_INT8_ARRAY 1016

/* ---- locations ---- */

static const char *uri_rest(const char *loc)
{
    if (strncmp(loc, "postgresql://", 13) == 0)
        return loc + 13;
    if (strncmp(loc, "postgres://", 11) == 0)
        return loc + 11;
    return NULL;
}

int store_pg_is_location(const char *location)
{
    return location && (uri_rest(location) || strncmp(location, "pg:", 3) == 0);
}

/* A location taken apart: the conninfo handed to libpq, the schema, the keys
 * path (NULL when none), all malloc'ed. */
typedef struct pg_loc {
    char *conninfo;
    char schema[PG_SCHEMA_MAX + 1];
    char *keys;
    char *standby; /* vault_standby: the standby's libpq conninfo or URI, or NULL */
} pg_loc;

static void loc_free(pg_loc *l)
{
    if (l->conninfo) {
        sodium_memzero(l->conninfo, strlen(l->conninfo)); /* it may hold a password */
        free(l->conninfo);
    }
    free(l->keys);
    if (l->standby) {
        sodium_memzero(l->standby, strlen(l->standby));
        free(l->standby);
    }
    memset(l, 0, sizeof *l);
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decode n bytes of s (URI query values) into a new string. */
static int pct_decode(char **out, const char *s, size_t n)
{
    int rc = VAULT_OK;
    char *d = malloc(n + 1);
    size_t i, k = 0;

    *out = NULL;
    ENSURE(d, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            d[k++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            d[k++] = s[i];
        }
    }
    d[k] = '\0';
    ENSURE(strlen(d) == k, VAULT_EINVALID, "postgresql location: a parameter holds a NUL byte");
    *out = d;
    d = NULL;
cleanup:
    free(d);
    return rc;
}

static int schema_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > PG_SCHEMA_MAX || strncmp(s, "pg_", 3) == 0)
        return 0;
    for (i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || ch == '_' || (i > 0 && ch >= '0' && ch <= '9')))
            return 0;
    }
    return 1;
}

/* One keyword=value of a connection string: the keyword, the value as
 * written (quotes and all), and where the whole item starts and ends. */
typedef struct kv_item {
    const char *key, *val, *start, *end;
    size_t klen, vlen;
} kv_item;

/* The next item of a connection string from *p; 0 at the end, 1 with an
 * item, VAULT_EINVALID when it is not a connection string. */
static int kv_next(const char **p, kv_item *it)
{
    const char *s = *p;

    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (!*s)
        return 0;
    it->start = it->key = s;
    while (*s && *s != '=' && *s != ' ' && *s != '\t')
        s++;
    it->klen = (size_t)(s - it->key);
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s != '=' || it->klen == 0)
        return VAULT_EINVALID;
    s++;
    while (*s == ' ' || *s == '\t')
        s++;
    it->val = s;
    if (*s == '\'') {
        s++;
        while (*s && *s != '\'') {
            if (*s == '\\' && s[1])
                s++;
            s++;
        }
        if (*s != '\'')
            return VAULT_EINVALID;
        s++;
    } else {
        while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            s++;
    }
    it->vlen = (size_t)(s - it->val);
    it->end = s;
    *p = s;
    return 1;
}

/* A connection-string value without its quotes and escapes. */
static int kv_value(char **out, const kv_item *it)
{
    int rc = VAULT_OK;
    char *d = malloc(it->vlen + 1);
    size_t i, k = 0, n = it->vlen;
    const char *v = it->val;

    *out = NULL;
    ENSURE(d, VAULT_ENOMEM, "out of memory");
    if (n >= 2 && v[0] == '\'') {
        v++;
        n -= 2;
    }
    for (i = 0; i < n; i++) {
        if (v[i] == '\\' && i + 1 < n)
            i++;
        d[k++] = v[i];
    }
    d[k] = '\0';
    *out = d;
    d = NULL;
cleanup:
    free(d);
    return rc;
}

static int kv_is(const char *k, size_t n, const char *want)
{
    return strlen(want) == n && strncmp(k, want, n) == 0;
}

/* A growing string. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int err;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    char *g;
    size_t cap;

    if (b->err)
        return;
    if (b->len + n + 1 > b->cap) {
        cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        g = realloc(b->p, cap);
        if (!g) {
            b->err = 1;
            return;
        }
        b->p = g;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static int take_param(pg_loc *l, const char *name, size_t nlen, char *value, int *taken)
{
    int rc = VAULT_OK;

    *taken = 1;
    if (kv_is(name, nlen, "vault_keys")) {
        ENSURE(*value, VAULT_EINVALID, "postgresql location: vault_keys is empty");
        free(l->keys);
        l->keys = value;
        value = NULL;
    } else if (kv_is(name, nlen, "vault_standby")) {
        ENSURE(*value, VAULT_EINVALID, "postgresql location: vault_standby is empty");
        if (l->standby) {
            sodium_memzero(l->standby, strlen(l->standby));
            free(l->standby);
        }
        l->standby = value;
        value = NULL;
    } else if (kv_is(name, nlen, "vault_schema")) {
        ENSURE(schema_ok(value), VAULT_EINVALID,
               "postgresql location: vault_schema must be 1..63 of a-z, 0-9 and _, not "
               "starting with a digit or pg_");
        snprintf(l->schema, sizeof l->schema, "%s", value);
    } else {
        *taken = 0;
    }
cleanup:
    free(value);
    return rc;
}

/* Take a location apart (store_pg_is_location must hold). */
static int loc_parse(pg_loc *l, const char *location)
{
    int rc = VAULT_OK, taken, r;
    sbuf b = {0};
    const char *rest = uri_rest(location), *q, *p, *amp;
    char *val = NULL;
    kv_item it;
    int first = 1;

    memset(l, 0, sizeof *l);
    snprintf(l->schema, sizeof l->schema, "%s", PG_SCHEMA_DEFAULT);
    if (rest) {
        q = strchr(location, '?');
        sb_add(&b, location, q ? (size_t)(q - location) : strlen(location));
        for (p = q ? q + 1 : NULL; p && *p; p = amp ? amp + 1 : NULL) {
            const char *eq;
            size_t n;

            amp = strchr(p, '&');
            n = amp ? (size_t)(amp - p) : strlen(p);
            eq = memchr(p, '=', n);
            if (eq) {
                GUARD(pct_decode(&val, eq + 1, n - (size_t)(eq + 1 - p)));
                rc = take_param(l, p, (size_t)(eq - p), val, &taken);
                val = NULL;
                GUARD(rc);
                if (taken)
                    continue;
            }
            sb_add(&b, first ? "?" : "&", 1);
            sb_add(&b, p, n);
            first = 0;
        }
    } else {
        p = location + 3;
        while ((r = kv_next(&p, &it)) == 1) {
            GUARD(kv_value(&val, &it));
            rc = take_param(l, it.key, it.klen, val, &taken);
            val = NULL;
            GUARD(rc);
            if (taken)
                continue;
            if (b.len)
                sb_add(&b, " ", 1);
            sb_add(&b, it.start, (size_t)(it.end - it.start));
        }
        ENSURE(r == 0, VAULT_EINVALID,
               "postgresql location: after pg: comes a libpq connection string "
               "(KEYWORD=VALUE ...)");
        if (!b.len)
            sb_add(&b, "", 0);
    }
    ENSURE(!b.err, VAULT_ENOMEM, "out of memory");
    l->conninfo = b.p;
    b.p = NULL;
cleanup:
    if (b.p) {
        sodium_memzero(b.p, b.cap);
        free(b.p);
    }
    free(val);
    if (rc < 0)
        loc_free(l);
    return rc;
}

int store_pg_keys_path(char **out, const char *location)
{
    int rc = VAULT_OK;
    pg_loc l;

    *out = NULL;
    GUARD(loc_parse(&l, location));
    if (!l.keys) {
        loc_free(&l);
        ENSURE(0, VAULT_EINVALID,
               "postgresql location: no vault_keys=PATH (the keys file, kept on this host, "
               "never in the database)");
    }
    *out = l.keys;
    l.keys = NULL;
    loc_free(&l);
cleanup:
    return rc;
}

int store_pg_sibling(char **out, const char *location, const char *suffix)
{
    int rc = VAULT_OK;
    pg_loc l;
    char schema[2 * (PG_SCHEMA_MAX + 1)];
    size_t n;

    *out = NULL;
    GUARD(loc_parse(&l, location));
    snprintf(schema, sizeof schema, "%s%s", l.schema, suffix);
    loc_free(&l);
    ENSURE(strlen(schema) <= PG_SCHEMA_MAX && schema_ok(schema), VAULT_EINVALID,
           "postgresql location: vault_schema leaves no room for '%s' (at most %d characters "
           "with it)",
           suffix, PG_SCHEMA_MAX);
    n = strlen(location) + strlen(schema) + sizeof " vault_schema=";
    *out = malloc(n);
    ENSURE(*out, VAULT_ENOMEM, "out of memory");
    /* A later vault_schema wins over an earlier one (take_param). */
    if (uri_rest(location))
        snprintf(*out, n, "%s%svault_schema=%s", location, strchr(location, '?') ? "&" : "?",
                 schema);
    else
        snprintf(*out, n, "%s vault_schema=%s", location, schema);
cleanup:
    return rc;
}

/* A vault_standby value, decoded (NULL: it did not decode), that may
 * hold a secret: one libpq's own parsing finds a password or an SSL key
 * password in (a URI's user:password@ and its percent-encoded keywords
 * too), or one it can't parse.  Shown as *** then, whole; freed here. */
static int standby_secret(char *v)
{
    int secret = 1;
    PQconninfoOption *opts = v ? PQconninfoParse(v, NULL) : NULL, *o;

    if (opts) {
        secret = 0;
        for (o = opts; o->keyword; o++)
            if (o->val && *o->val &&
                (strcmp(o->keyword, "password") == 0 || strcmp(o->keyword, "sslpassword") == 0))
                secret = 1;
        PQconninfoFree(opts);
    }
    if (v) {
        sodium_memzero(v, strlen(v));
        free(v);
    }
    return secret;
}

/* A URI query item (KEY=VALUE, n bytes) whose key, percent-decoded as
 * libpq decodes it, is password or sslpassword. */
static int uri_key_secret(const char *item, size_t n)
{
    const char *eq = memchr(item, '=', n);
    char *k = NULL;
    int secret;

    if (pct_decode(&k, item, eq ? (size_t)(eq - item) : n) != VAULT_OK)
        return 1;
    secret = strcmp(k, "password") == 0 || strcmp(k, "sslpassword") == 0;
    free(k);
    return secret;
}

/* The same, of a value percent-encoded in a URI. */
static int standby_secret_pct(const char *v, size_t n)
{
    char *d = NULL;

    return standby_secret(pct_decode(&d, v, n) == VAULT_OK ? d : NULL);
}

/* ... and of a connection string's item. */
static int standby_secret_kv(const kv_item *it)
{
    char *d = NULL;

    return standby_secret(kv_value(&d, it) == VAULT_OK ? d : NULL);
}

void store_pg_display(char *out, size_t cap, const char *location)
{
    sbuf b = {0};
    const char *rest = uri_rest(location), *p, *q, *amp;
    kv_item it;

    if (!cap)
        return;
    if (rest) {
        const char *auth_end = rest + strcspn(rest, "/?#");
        const char *at = NULL, *s, *colon;

        for (s = rest; s < auth_end; s++)
            if (*s == '@')
                at = s;
        colon = at ? memchr(rest, ':', (size_t)(at - rest)) : NULL;
        if (colon) {
            sb_add(&b, location, (size_t)(colon + 1 - location));
            sb_str(&b, "***");
            p = at;
        } else {
            p = location;
        }
        q = strchr(p, '?');
        sb_add(&b, p, q ? (size_t)(q + 1 - p) : strlen(p));
        for (p = q ? q + 1 : NULL; p && *p; p = amp ? amp + 1 : NULL) {
            size_t n;
            amp = strchr(p, '&');
            n = amp ? (size_t)(amp + 1 - p) : strlen(p);
            if (uri_key_secret(p, n)) {
                const char *eq = memchr(p, '=', n);
                sb_add(&b, p, eq ? (size_t)(eq - p) : n);
                sb_str(&b, "=***");
                if (amp)
                    sb_add(&b, "&", 1);
            } else if (strncmp(p, "vault_standby=", 14) == 0 &&
                       standby_secret_pct(p + 14, n - 14 - (amp ? 1 : 0))) {
                sb_str(&b, "vault_standby=***");
                if (amp)
                    sb_add(&b, "&", 1);
            } else {
                sb_add(&b, p, n);
            }
        }
    } else {
        int r;
        sb_str(&b, "pg:");
        p = location + 3;
        while ((r = kv_next(&p, &it)) == 1) {
            if (b.len > 3)
                sb_add(&b, " ", 1);
            if (kv_is(it.key, it.klen, "password"))
                sb_str(&b, "password=***");
            else if (kv_is(it.key, it.klen, "sslpassword"))
                sb_str(&b, "sslpassword=***");
            else if (kv_is(it.key, it.klen, "vault_standby") && standby_secret_kv(&it))
                sb_str(&b, "vault_standby=***");
            else
                sb_add(&b, it.start, (size_t)(it.end - it.start));
        }
        if (r < 0) { /* not a connection string: show none of it */
            b.len = 0;
            sb_str(&b, "pg:(malformed connection string)");
        }
    }
    snprintf(out, cap, "%s", b.err || !b.p ? "(postgresql location)" : b.p);
    if (b.p) {
        sodium_memzero(b.p, b.cap);
        free(b.p);
    }
}

/* ---- the connection ---- */

typedef struct pg {
    store_backend base; /* first: a store_backend * is a pg * */
    PGconn *conn;
    char schema[PG_SCHEMA_MAX + 1];
    char shown[256];   /* the location with its password hidden */
    int64_t write_key; /* advisory lock key of the schema's write lock */
    int64_t gen_key;   /* ... of the generation's lock (taken at commit only) */
    int64_t rot_key;   /* ... of the rotation lock (audited reads: shared) */
    int tx;            /* -1 none, else a store_tx_kind */
    int locked;        /* the write lock is held */
    int dirty;         /* this transaction wrote something */
    int bump;          /* ... that moves the generation (WR_TRUST) */
    int dead;          /* the connection is gone */
    uint64_t txno;     /* counts transactions begun, for iterators */
    uint64_t cursors;  /* counts cursors, for their names */
    int64_t own_commits;
    int created;     /* this handle created the vault's tables (destroy) */
    int made_schema; /* ... and the schema itself (no DBA made it) */
    char conflict[6]; /* the last error's SQLSTATE when 40001 or 40P01, else "" */
    uint8_t kc[32];   /* the key check of the key this handle opened with */
    /* Bulk mode (bulk_begin .. bulk_end, in a write transaction): new
     * records and meta rows wait here, in COPY's binary tuples (records,
     * fields, blind index) and arrays (meta), until bulk_flush sends them:
     * before any other statement, at BULK_ROWS or BULK_BYTES, at the end. */
    int bulk;
    int bulk_broken;   /* a flush failed: rows acknowledged were lost; only a rollback */
    int flushing;
    size_t bk_records, bk_fields, bk_bidx, bk_meta;
    struct arr *bk;    /* [BK_IDS, BK_RECORDS, BK_FIELDS, BK_BIDX, BK_MKEY, BK_MVAL, BK_MMAC] */
    /* Standby reads (STORE_TX_STANDBY, "Standby reads" below): the
     * standby's conninfo (vault_standby), its connection (made when first
     * needed, NULL after a failure until ro_retry_at), and while a
     * transaction runs there the primary's connection, put aside (conn
     * is the standby's meanwhile). */
    char *standby_info;
    PGconn *ro;
    PGconn *home;
    int64_t ro_retry_at; /* CLOCK_MONOTONIC ms */
    /* Deferred statements ("round trips" below): audit appends and audit
     * state updates, sent ahead of the next statement, in its pipeline
     * (the commit's at the latest).  pipe_broken: a pipeline could not be
     * sent whole, so what the server ran of it is unknown: only a
     * rollback. */
    struct pend *pq[PG_PEND_MAX];
    int npq;
    size_t pq_bytes;
    int pipe_broken;
    /* This transaction's generation row (n as its begin read it) and
     * audit head (as the last audit_head read or append left it), each
     * valid while its txno is the transaction's (0: not had). */
    uint64_t gen_txno;
    int64_t gen_n;
    uint64_t ah_txno;
    int ah_locked; /* the cached head was read with its row locked FOR UPDATE */
    char ah_log[STORE_LOG_MAX + 1]; /* the log the audit head cache holds */
    int sp_queued;      /* wr_begin's savepoint is pq[sp_queued - 1], unsent (0: not) */
    uint64_t flushes;   /* counts sends of the queue */
    int rb_inflight;    /* abandon's ROLLBACK is sent, its result not read yet */
    int lazy;           /* a snapshot begun here, its BEGIN not sent yet (pg_begin) */
    uint64_t sp_flushes; /* ... when that savepoint was queued */
    int64_t ah_pos;
    uint8_t ah_head[32];
    uint8_t *ah_entry, *ah_state;
    size_t ah_len, ah_state_len;
    uint8_t ah_mac[STORE_MAC_BYTES];
    /* The primary's prepared statements: their text, and 1 once the
     * server has it (2: its Parse is in the pipeline being sent). */
    const char *prep_sql[PG_PREP_MAX];
    int prep_ok[PG_PREP_MAX];
    int nprep;
    unsigned prep_gen; /* bumped when the cache is forgotten (prep_name) */
    /* The records an audited read (STORE_TX_DEFERRED) read: their shards,
     * ids and versions, checked unchanged at its commit (rd_note). */
    struct arr *rd;
    size_t nrd;
} pg;

static pg *P(store_backend *be)
{
    return (pg *)be;
}

/* FNV-1a over label and schema: a fixed advisory lock key per vault. */
static int64_t lock_key(const char *label, const char *schema)
{
    uint64_t h = 1469598103934665603ULL;
    const char *parts[2] = {label, schema};
    size_t i, k;

    for (k = 0; k < 2; k++)
        for (i = 0; parts[k][i]; i++) {
            h ^= (uint8_t)parts[k][i];
            h *= 1099511628211ULL;
        }
    return (int64_t)h;
}

/* The advisory lock key of one user's uses of one quota: FNV-1a over the
 * schema's write-lock key, the quota and the user, a NUL after each (two
 * pairs that collide only share a lock). */
static int64_t quota_key(int64_t write_key, const char *quota, const char *user)
{
    uint64_t h = (uint64_t)write_key ^ 0x71756f7461ULL; /* "quota" */
    const char *parts[2] = {quota, user};
    size_t i, k;

    for (k = 0; k < 2; k++) {
        for (i = 0; parts[k][i]; i++) {
            h ^= (uint8_t)parts[k][i];
            h *= 1099511628211ULL;
        }
        h *= 1099511628211ULL; /* the NUL */
    }
    return (int64_t)h;
}

/* ---- parameters and results (binary) ---- */

typedef struct qp {
    int n;
    Oid types[PG_PARAMS_MAX];
    const char *vals[PG_PARAMS_MAX];
    int lens[PG_PARAMS_MAX];
    int fmts[PG_PARAMS_MAX];
    uint8_t ints[PG_PARAMS_MAX][8];
} qp;

static void put_be64(uint8_t *b, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        b[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void put_be32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

static void p_raw(qp *p, Oid type, const void *v, size_t len)
{
    int i = p->n++;

    p->types[i] = type;
    p->vals[i] = v;
    p->lens[i] = (int)len;
    p->fmts[i] = 1;
}

static void p_int(qp *p, int64_t v)
{
    put_be64(p->ints[p->n], (uint64_t)v);
    p_raw(p, OID_INT8, p->ints[p->n], 8);
}

/* NULL b: SQL NULL. */
static void p_bytes(qp *p, const void *b, size_t n)
{
    p_raw(p, OID_BYTEA, b && n == 0 ? "" : b, b ? n : 0);
}

static void p_textn(qp *p, const char *s, size_t n)
{
    p_raw(p, OID_TEXT, s, s ? n : 0);
}

static void p_text(qp *p, const char *s)
{
    p_textn(p, s, s ? strlen(s) : 0);
}

/* A one-dimensional binary array being built. */
typedef struct arr {
    uint8_t *p;
    size_t len, cap;
    uint32_t n;
    int err, has_null;
    Oid elem;
} arr;

static void arr_raw(arr *a, const void *s, size_t n)
{
    uint8_t *g;
    size_t cap;

    if (a->err)
        return;
    if (a->len + n > a->cap) {
        cap = a->cap ? a->cap : 256;
        while (cap < a->len + n)
            cap *= 2;
        g = realloc(a->p, cap);
        if (!g) {
            a->err = 1;
            return;
        }
        a->p = g;
        a->cap = cap;
    }
    if (n)
        memcpy(a->p + a->len, s, n);
    a->len += n;
}

static void arr_start(arr *a, Oid elem)
{
    uint8_t hdr[20] = {0};

    memset(a, 0, sizeof *a);
    a->elem = elem;
    arr_raw(a, hdr, sizeof hdr); /* ndim, has_null, elem, dim, lower bound: set at the end */
}

/* NULL v: a NULL element. */
static void arr_add(arr *a, const void *v, size_t n)
{
    uint8_t l[4];

    if (n > INT32_MAX) {
        a->err = 1;
        return;
    }
    put_be32(l, v ? (uint32_t)n : 0xFFFFFFFFu);
    arr_raw(a, l, 4);
    if (v)
        arr_raw(a, v, n);
    else
        a->has_null = 1;
    a->n++;
}

static void arr_int(arr *a, int64_t v)
{
    uint8_t b[8];

    put_be64(b, (uint64_t)v);
    arr_add(a, b, 8);
}

static void arr_end(arr *a)
{
    if (a->err || a->len < 20)
        return;
    put_be32(a->p, 1);
    put_be32(a->p + 4, (uint32_t)a->has_null);
    put_be32(a->p + 8, a->elem);
    put_be32(a->p + 12, a->n);
    put_be32(a->p + 16, 1);
}

static void arr_free(arr *a)
{
    free(a->p);
    a->p = NULL;
}

static void p_arr(qp *p, arr *a, Oid array_type)
{
    arr_end(a);
    p_raw(p, array_type, a->p, a->len);
}

static int64_t r_int(const PGresult *r, int row, int col)
{
    const uint8_t *b = (const uint8_t *)PQgetvalue(r, row, col);
    int n = PQgetlength(r, row, col), i;
    uint64_t v = 0;

    if (PQgetisnull(r, row, col))
        return 0;
    for (i = 0; i < n && i < 8; i++)
        v = (v << 8) | b[i];
    if (n == 4)
        return (int64_t)(int32_t)(uint32_t)v;
    if (n == 2)
        return (int64_t)(int16_t)(uint16_t)v;
    return (int64_t)v;
}

static const uint8_t *r_bytes(const PGresult *r, int row, int col, size_t *len)
{
    *len = 0;
    if (PQgetisnull(r, row, col))
        return NULL;
    *len = (size_t)PQgetlength(r, row, col);
    return (const uint8_t *)PQgetvalue(r, row, col);
}

/* Text columns: NUL-terminated by libpq; NULL for SQL NULL. */
static const char *r_text(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static void r_mac(uint8_t mac[STORE_MAC_BYTES], const PGresult *r, int row, int col)
{
    size_t n;
    const uint8_t *b = r_bytes(r, row, col, &n);

    memset(mac, 0, STORE_MAC_BYTES);
    if (b)
        memcpy(mac, b, n < STORE_MAC_BYTES ? n : STORE_MAC_BYTES);
}

/* ---- errors ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The standby's connection failed: it goes, the primary's comes back
 * (the handle lives on), and no new one is tried for PG_STANDBY_RETRY_MS. */
static void standby_drop(pg *c)
{
    if (c->home) {
        c->conn = c->home;
        c->home = NULL;
    }
    PQfinish(c->ro);
    c->ro = NULL;
    c->ro_retry_at = mono_ms() + PG_STANDBY_RETRY_MS;
}

static int lost(pg *c, const char *what)
{
    if (c->home) {
        standby_drop(c);
        c->tx = -1;
        c->locked = 0;
        return vault__err(VAULT_EIO, "postgresql: %s: the standby's connection was lost (%s)",
                          c->shown, what);
    }
    c->dead = 1;
    c->tx = -1;
    c->locked = 0;
    return vault__err(VAULT_EIO, "postgresql: %s: database connection lost (%s)", c->shown, what);
}

static void prep_forget(pg *c);

/* The error of a failed statement (docs/postgresql.md, "Transactions and
 * errors").  fk_rc: what a foreign-key violation means for this
 * operation.  Never the server's message: its DETAIL can quote values. */
static int pg_err(pg *c, const PGresult *r, const char *what, int fk_rc)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    c->conflict[0] = '\0';
    if (!r || PQstatus(c->conn) == CONNECTION_BAD || (st && strncmp(st, "08", 2) == 0) ||
        (st && (strcmp(st, "57P01") == 0 || strcmp(st, "57P02") == 0 ||
                strcmp(st, "57P03") == 0)))
        return lost(c, what);
    if (!st)
        return vault__err(VAULT_EIO, "postgresql: %s failed", what);
    if (strcmp(st, "23505") == 0)
        return vault__err(VAULT_EEXISTS, "postgresql: %s: the key is taken", what);
    if (strcmp(st, "23502") == 0)
        return vault__err(VAULT_EINVALID, "postgresql: %s: a value the row needs is missing", what);
    if (strcmp(st, "23503") == 0)
        return vault__err(fk_rc, "postgresql: %s: %s", what,
                          fk_rc == VAULT_ESTATE ? "rows still refer to what it would delete"
                                                : "the row refers to a row the store does not have");
    if (strcmp(st, "55P03") == 0 || strcmp(st, "57014") == 0)
        return vault__err(VAULT_EBUSY, "postgresql: %s: a lock was not had in time", what);
    if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0) {
        snprintf(c->conflict, sizeof c->conflict, "%s", st);
        return vault__err(VAULT_EBUSY,
                          "postgresql: %s: another connection's transaction got in the way "
                          "(SQLSTATE %s): start over", what, st);
    }
    if (strcmp(st, "26000") == 0) {
        /* a prepared statement the server no longer has (a DISCARD, a
         * DEALLOCATE behind libvault): prepared again from the next call */
        prep_forget(c);
        return vault__err(VAULT_EBUSY, "postgresql: %s: the server dropped this connection's "
                                       "prepared statements: start over", what);
    }
    if (strcmp(st, "25P02") == 0)
        return vault__err(VAULT_ESTATE,
                          "postgresql: %s: the transaction was aborted by an earlier error", what);
    if (strcmp(st, "42501") == 0)
        return vault__err(VAULT_EDENIED, "postgresql: %s: permission denied to this role", what);
    if (strcmp(st, "42P01") == 0 || strcmp(st, "3F000") == 0)
        return vault__err(VAULT_EINTEGRITY, "postgresql: %s: a table of the vault is missing", what);
    return vault__err(VAULT_EIO, "postgresql: %s failed (SQLSTATE %s)", what, st);
}

static int bulk_flush(pg *c);
static void rd_reset(pg *c);

/* ---- round trips ----
 * A statement costs a round trip to the server, and the server's work for
 * the small statements an audited read needs is a fraction of it; so
 * statements that don't need each other's answers go in one pipeline
 * (libpq's pipeline mode: sent together, one Sync, their results read in
 * order), and the audit log's writes don't go at once at all: they wait
 * in the connection's queue of deferred statements (pend) and go ahead of
 * the next statement, in its pipeline; the commit's at the latest
 * ([queue..., the generation's bump, COMMIT]).  Order is kept: nothing is
 * sent that is not behind every deferred statement.  A deferred
 * statement that fails aborts the transaction (there is no savepoint
 * under it) and what runs behind it in its pipeline, COMMIT included;
 * its error is the call's, named after the statement ("appending to the
 * audit log", ...). */

enum { PS_PLAIN, PS_AUDIT_ROWS, PS_AUDIT_STATE, PS_GEN_CHECK, PS_READ_CHECK };

/* One statement of a pipeline; out (NULL: not kept) gets its result.
 * prep: PREP_WANT for a static statement the primary's connection keeps
 * prepared ("prepared statements" below); pipe_run turns it into
 * PREP_RUN (slot: its name), after a PREP_MAKE of its own the first time. */
enum { PREP_NONE, PREP_WANT, PREP_RUN, PREP_MAKE };
typedef struct pstmt {
    const char *what, *sql;
    const qp *p;
    PGresult **out;
    int fk_rc;
    int kind; /* PS_*: how its errors read */
    int prep;
    int slot;
} pstmt;

/* A deferred statement, with its parameters' bytes (data) its own. */
typedef struct pend {
    const char *what, *sql; /* static strings */
    int kind;
    qp p;
    uint8_t data[];
} pend;

static void pend_drop(pg *c)
{
    int i;

    for (i = 0; i < c->npq; i++)
        free(c->pq[i]);
    c->npq = 0;
    c->pq_bytes = 0;
}

/* The error of statement s, whose result r failed. */
static int stmt_err(pg *c, const pstmt *s, const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int rc = pg_err(c, r, s->what, s->fk_rc);

    if (c->dead || !st)
        return rc;
    if (s->kind == PS_AUDIT_ROWS && strcmp(st, "23505") == 0)
        return vault__err(VAULT_EINTEGRITY, "audit log: an entry's position is taken");
    if (s->kind == PS_AUDIT_STATE && strcmp(st, "22012") == 0)
        return vault__err(VAULT_EINTEGRITY, "audit log: the audit state's entry is not the newest");
    if (s->kind == PS_READ_CHECK && strcmp(st, "22012") == 0)
        return vault__err(VAULT_EBUSY, "postgresql: committing: a record this transaction read "
                                       "changed or went before it committed: start over");
    if (s->kind == PS_GEN_CHECK && strcmp(st, "22012") == 0)
        return vault__err(VAULT_EBUSY, "postgresql: committing: another connection changed the "
                                       "policy, grants or keys while this transaction read: "
                                       "start over");
    return rc;
}

/* ---- prepared statements ----
 * The statements of the hot paths (an audited read's, a write's) are
 * parsed and planned once per connection, not at every call: each is
 * marked PREP_WANT where it is built (static text only: the cache knows
 * a statement by the address of its text), and the primary's connection
 * keeps up to PG_PREP_MAX of them as libvault_<slot>.  The first use
 * sends its Parse ahead of it in the same pipeline (PREP_MAKE); a Parse
 * the server refused, or never ran (an earlier statement failed), is
 * sent again next time.  A standby's connection prepares nothing.  A
 * prepared statement outlives a rollback (the server keeps it for the
 * session) and follows DDL (the server plans it again after a table it
 * reads is replaced). */
/* Named for the cache's generation too: one dropped and made again never
 * meets a name the server still has. */
static void prep_name(char *out, size_t cap, unsigned gen, int slot)
{
    snprintf(out, cap, "libvault_%u_%d", gen, slot);
}

/* Forget every prepared statement (the server's session may have lost them). */
static void prep_forget(pg *c)
{
    c->nprep = 0;
    c->prep_gen++;
}

/* The slot of sql (-1: no room): *made is 1 when it is prepared. */
static int prep_slot(pg *c, const char *sql, int *made)
{
    int i;

    for (i = 0; i < c->nprep; i++)
        if (c->prep_sql[i] == sql) {
            *made = c->prep_ok[i];
            return i;
        }
    if (c->nprep == PG_PREP_MAX)
        return -1;
    c->prep_sql[c->nprep] = sql;
    c->prep_ok[c->nprep] = 0;
    *made = 0;
    return c->nprep++;
}

static int send_one(pg *c, PGconn *conn, const pstmt *s)
{
    const qp *p = s->p;
    char name[32];

    if (s->prep == PREP_MAKE || s->prep == PREP_RUN)
        prep_name(name, sizeof name, c->prep_gen, s->slot);
    if (s->prep == PREP_MAKE)
        return PQsendPrepare(conn, name, s->sql, p ? p->n : 0, p ? p->types : NULL);
    if (s->prep == PREP_RUN)
        return PQsendQueryPrepared(conn, name, p ? p->n : 0, p ? p->vals : NULL,
                                   p ? p->lens : NULL, p ? p->fmts : NULL, 1);
    return PQsendQueryParams(conn, s->sql, p ? p->n : 0, p ? p->types : NULL, p ? p->vals : NULL,
                             p ? p->lens : NULL, p ? p->fmts : NULL, 1);
}

/* Send s[0..n) in one pipeline, read every result; the first failure's
 * error is returned (those behind it were not run).  On failure no out
 * is left set. */
static int pipe_send(pg *c, const pstmt *s, int n)
{
    int rc = VAULT_OK, i = 0, sent = 0, nulls = 0;
    PGconn *conn = c->conn; /* a standby's failure puts the primary's back */
    PGresult *r;
    ExecStatusType st;

    for (i = 0; i < n; i++)
        if (s[i].out)
            *s[i].out = NULL;
    if (PQenterPipelineMode(conn) != 1)
        return PQstatus(conn) == CONNECTION_BAD
                   ? lost(c, s[0].what)
                   : vault__err(VAULT_ESTATE, "postgresql: %s: the connection is busy", s[0].what);
    for (sent = 0; sent < n; sent++)
        if (send_one(c, conn, &s[sent]) != 1)
            break;
    if (PQpipelineSync(conn) != 1)
        /* what was sent may or may not have run, and the connection is
         * left mid-pipeline: given up on, as a lost one (fails closed) */
        return lost(c, s[0].what);
    /* Each statement's results end with a NULL; the Sync's ends it all. */
    for (i = 0;;) {
        r = PQgetResult(conn);
        if (!r) {
            if (PQstatus(conn) == CONNECTION_BAD || ++nulls > n + 1) {
                if (rc == VAULT_OK || (!c->dead && c->conn == conn))
                    rc = lost(c, s[i < n ? i : n - 1].what);
                goto failed;
            }
            if (i < n)
                i++;
            continue;
        }
        st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (i < sent && rc == VAULT_OK) {
            if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
                if (s[i].prep == PREP_MAKE && c->conn == conn && !c->home)
                    c->prep_ok[s[i].slot] = 1;
                if (s[i].out && !*s[i].out) {
                    *s[i].out = r;
                    r = NULL;
                }
            } else if (st == PGRES_PIPELINE_ABORTED) {
                rc = vault__err(VAULT_ESTATE, "postgresql: %s: the transaction was aborted by "
                                              "an earlier error", s[i].what);
            } else {
                rc = stmt_err(c, &s[i], r);
                if (c->dead || c->conn != conn) { /* the connection is gone */
                    PQclear(r);
                    goto failed;
                }
            }
        }
        PQclear(r);
    }
    if (PQexitPipelineMode(conn) != 1) {
        /* left in pipeline mode, a ROLLBACK could not be sent: given up
         * on, as a lost connection */
        if (rc == VAULT_OK || (!c->dead && c->conn == conn))
            rc = lost(c, s[n - 1].what);
        goto failed;
    }
    if (sent < n) {
        c->pipe_broken = 1; /* the rest never went: only a rollback */
        if (rc == VAULT_OK)
            rc = vault__err(VAULT_ESTATE, "postgresql: %s: the statement could not be sent; "
                                          "roll the transaction back", s[sent].what);
    }
failed:
    if (rc < 0)
        for (i = 0; i < n; i++)
            if (s[i].out) {
                PQclear(*s[i].out);
                *s[i].out = NULL;
            }
    return rc;
}

/* The result of a ROLLBACK abandon sent without waiting (the server ran
 * it as soon as it read it: nothing of the transaction is held there),
 * read before the connection's next use. */
static void drain(pg *c)
{
    PGresult *r;

    if (!c->rb_inflight)
        return;
    c->rb_inflight = 0;
    while ((r = PQgetResult(c->conn)) != NULL)
        PQclear(r);
    /* gone, or (never seen) still in the transaction: given up on */
    if (PQstatus(c->conn) == CONNECTION_BAD || PQtransactionStatus(c->conn) != PQTRANS_IDLE)
        c->dead = 1;
}

/* Run s[0..n) behind the deferred statements, in one round trip (none
 * when there is nothing to send).  The queue is empty after, whatever
 * happened (run, failed with the transaction, or dropped unsent:
 * pipe_broken), except on the early refusals (a connection lost, a
 * broken transaction), which leave it to the rollback. */
static int lazy_run(pg *c, const pstmt *s, int n);

static int pipe_run(pg *c, const pstmt *s, int n)
{
    int rc = VAULT_OK, i, k = 0, handed = 0, slot = -1, made = 0;
    pstmt *all = NULL;
    PGresult *r = NULL;
    ExecStatusType st;

    drain(c);
    if (c->dead)
        return vault__err(VAULT_EIO, "postgresql: %s: database connection lost earlier",
                          n ? s[0].what : "sending statements");
    if (c->bulk_broken || c->pipe_broken)
        return vault__err(VAULT_ESTATE, "postgresql: %s: %s in this transaction; roll it back",
                          n ? s[0].what : "sending statements",
                          c->bulk_broken ? "a bulk load failed" : "statements could not be sent");
    /* What the statement reads or follows includes the waiting rows. */
    if (c->bulk && !c->flushing && (c->bk_records || c->bk_meta))
        GUARD(bulk_flush(c));
    if (c->lazy)
        return lazy_run(c, s, n);
    if (c->npq == 0 && n == 1 && (s[0].prep != PREP_WANT || c->home ||
                                  ((slot = prep_slot(c, s[0].sql, &made)) >= 0 && made) ||
                                  slot < 0)) {
        /* the plain round trip (a statement prepared before, or not to be) */
        const qp *p = s[0].p;
        char name[32];
        if (s[0].out)
            *s[0].out = NULL;
        if (s[0].prep == PREP_WANT && !c->home && slot >= 0) {
            prep_name(name, sizeof name, c->prep_gen, slot);
            r = PQexecPrepared(c->conn, name, p ? p->n : 0, p ? p->vals : NULL,
                               p ? p->lens : NULL, p ? p->fmts : NULL, 1);
        } else {
            r = PQexecParams(c->conn, s[0].sql, p ? p->n : 0, p ? p->types : NULL,
                             p ? p->vals : NULL, p ? p->lens : NULL, p ? p->fmts : NULL, 1);
        }
        st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            rc = stmt_err(c, &s[0], r);
            goto cleanup;
        }
        if (s[0].out) {
            *s[0].out = r;
            r = NULL;
        }
        goto cleanup;
    }
    if (c->npq + n == 0)
        goto cleanup;
    /* room for a Parse ahead of each */
    all = calloc(2 * (size_t)(c->npq + n), sizeof *all);
    ENSURE(all, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < c->npq + n; i++) {
        pstmt one;
        if (i < c->npq) {
            memset(&one, 0, sizeof one);
            one.what = c->pq[i]->what;
            one.sql = c->pq[i]->sql;
            one.p = &c->pq[i]->p;
            one.fk_rc = VAULT_EINVALID;
            one.kind = c->pq[i]->kind;
            /* the queued appends and state updates: static, hot */
            one.prep = one.kind != PS_PLAIN ? PREP_WANT : PREP_NONE;
        } else {
            one = s[i - c->npq];
        }
        if (one.prep == PREP_WANT) {
            one.prep = PREP_NONE;
            if (!c->home && (slot = prep_slot(c, one.sql, &made)) >= 0) {
                one.prep = PREP_RUN;
                one.slot = slot;
                if (!made) { /* its Parse first, once in the pipeline */
                    all[k] = one;
                    all[k].prep = PREP_MAKE;
                    all[k].out = NULL;
                    c->prep_ok[slot] = 2; /* its Parse is in this pipeline */
                    k++;
                }
            }
        }
        all[k++] = one;
    }
    if (c->npq)
        c->flushes++;
    handed = 1;
    rc = pipe_send(c, all, k);
    for (i = 0; i < k; i++) /* a Parse not seen to succeed is sent again */
        if (all[i].prep == PREP_MAKE && c->prep_ok[all[i].slot] == 2)
            c->prep_ok[all[i].slot] = 0;
    /* A failure the server did not abort for (the client's: a pipeline
     * not entered, a result not read) may have lost queued statements
     * with the transaction still open: it must not commit. */
    if (rc < 0 && c->npq && !c->dead && PQtransactionStatus(c->conn) == PQTRANS_INTRANS)
        c->pipe_broken = 1;
cleanup:
    free(all);
    PQclear(r);
    if (!handed && c->npq)
        c->pipe_broken = 1; /* dropped unsent: the transaction must not commit */
    pend_drop(c);
    return rc;
}

/* Defer a statement (kind PS_*; sql a static string): it goes ahead of
 * the next one sent, or on its own when the queue is full. */
static int pend_add(pg *c, const char *what, const char *sql, int kind, const qp *p)
{
    int rc = VAULT_OK, i;
    size_t bytes = 0, off = 0;
    pend *d;

    for (i = 0; p && i < p->n; i++)
        bytes += p->vals[i] ? (size_t)p->lens[i] : 0;
    if (c->npq == PG_PEND_MAX || (c->npq && c->pq_bytes + bytes > PG_PEND_BYTES))
        GUARD(pipe_run(c, NULL, 0));
    d = malloc(sizeof *d + bytes + 1);
    ENSURE(d, VAULT_ENOMEM, "out of memory");
    d->what = what;
    d->sql = sql;
    d->kind = kind;
    memset(&d->p, 0, sizeof d->p);
    if (p)
        d->p = *p;
    for (i = 0; i < d->p.n; i++) {
        if (!p->vals[i])
            continue;
        memcpy(d->data + off, p->vals[i], (size_t)p->lens[i]);
        d->p.vals[i] = (const char *)d->data + off;
        off += (size_t)p->lens[i];
    }
    c->pq[c->npq++] = d;
    c->pq_bytes += bytes;
cleanup:
    return rc;
}

/* The audit head cache goes (docs/postgresql.md, "Round trips"). */
static void ah_drop(pg *c)
{
    free(c->ah_entry);
    free(c->ah_state);
    c->ah_entry = c->ah_state = NULL;
    c->ah_len = c->ah_state_len = 0;
    c->ah_txno = 0;
    c->ah_locked = 0;
    c->ah_log[0] = '\0';
}

/* Run one statement; *out (may be NULL: cleared here) gets its result. */
static int q_ex(pg *c, PGresult **out, const char *what, int fk_rc, const char *sql, const qp *p)
{
    pstmt s = {what, sql, p, out, fk_rc, PS_PLAIN, PREP_NONE, 0};

    if (out)
        *out = NULL;
    return pipe_run(c, &s, 1);
}

static int q(pg *c, PGresult **out, const char *what, const char *sql, const qp *p)
{
    return q_ex(c, out, what, VAULT_EINVALID, sql, p);
}

/* q of a static statement of a hot path: kept prepared ("prepared
 * statements"); sql must be a string literal. */
static int qs(pg *c, PGresult **out, const char *what, const char *sql, const qp *p)
{
    pstmt s = {what, sql, p, out, VAULT_EINVALID, PS_PLAIN, PREP_WANT, 0};

    if (out)
        *out = NULL;
    return pipe_run(c, &s, 1);
}

/* ---- transactions ---- */

static int need_read(pg *c)
{
    if (c->dead)
        return vault__err(VAULT_EIO, "postgresql: database connection lost earlier");
    if (c->tx < 0)
        return vault__err(VAULT_ESTATE, "postgresql: read outside a transaction");
    return VAULT_OK;
}

/* ---- retries (40001, 40P01) ----
 * Only a step this file owns from its first statement to its last is
 * tried again: a begin (nothing done yet: roll back, begin again) and the
 * deferred write's lock step (under a savepoint of its own, so a deadlock
 * while waiting for the write lock undoes the wait only, never the
 * transaction's reads).  A conflict anywhere else fails the call with
 * VAULT_EBUSY, and the unit of work above starts over (its bound:
 * OP_AUDITED_TRIES in libvault/op.h; a write call returns VAULT_EBUSY to
 * its caller).  A failed generation check of the lock step is not
 * retried either: what was read is stale and stays stale. */

/* 1 when rc is the VAULT_EBUSY of a serialization failure (or, with
 * deadlock_only, of a deadlock alone). */
static int conflicted(const pg *c, int rc, int deadlock_only)
{
    if (rc != VAULT_EBUSY || !c->conflict[0])
        return 0;
    return !deadlock_only || strcmp(c->conflict, "40P01") == 0;
}

/* Before the n-th retry: n * [1, PG_BACKOFF_MS] ms, at random, so two
 * connections that collided don't collide again in step. */
static void backoff(int n)
{
    uint32_t ms = (uint32_t)n * (1 + randombytes_uniform(PG_BACKOFF_MS));
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    vault__err_clear();
}

/* The deferred write's lock step, under the savepoint vault_lock (left
 * to the commit to release): the write lock, then the generation as the
 * latest commit left it (every commit that moves it holds the write lock,
 * so none can be half-way now).  Not the begin's: another connection
 * changed the policy, grants, grade keys or meta rows since this
 * transaction began, and what it decided may be stale: VAULT_EBUSY, not
 * retried here (the caller starts over). */
static int lock_step(pg *c)
{
    int rc = VAULT_OK, tries;
    qp p = {0};
    PGresult *r = NULL;

    p_int(&p, c->write_key);
    for (tries = 1;; tries++) {
        /* one round trip: the savepoint, the lock, the check */
        pstmt s[3] = {
            {"taking the write lock", "SAVEPOINT vault_lock", NULL, NULL, VAULT_EINVALID, PS_PLAIN, PREP_NONE, 0},
            {"taking the write lock", "SELECT pg_advisory_xact_lock($1)", &p, NULL, VAULT_EINVALID,
             PS_PLAIN, PREP_WANT, 0},
            {"checking for later commits", "SELECT n FROM generation", NULL, &r, VAULT_EINVALID,
             PS_PLAIN, PREP_WANT, 0},
        };
        rc = pipe_run(c, s, 3);
        /* The row is never removed (a rotation keeps it too): gone is
         * a DBA's doing. */
        if (rc == VAULT_OK && (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)))
            rc = vault__err(VAULT_EINTEGRITY, "postgresql: %s: the generation row is missing",
                            c->shown);
        else if (rc == VAULT_OK && (c->gen_txno != c->txno || r_int(r, 0, 0) != c->gen_n))
            rc = vault__err(VAULT_EBUSY, "postgresql: %s: another connection changed the policy, "
                                         "grants or keys since this transaction began: start over",
                            c->shown);
        PQclear(r);
        r = NULL;
        if (rc == VAULT_OK || !conflicted(c, rc, 1))
            break;
        ENSURE(tries < PG_TRIES, VAULT_EBUSY,
               "postgresql: taking the write lock: deadlocked with another connection %d times "
               "(SQLSTATE 40P01): start over", tries);
        GUARD(q(c, NULL, "taking the write lock", "ROLLBACK TO SAVEPOINT vault_lock", NULL));
        backoff(tries);
    }
    GUARD(rc);
    c->locked = 1;
cleanup:
    PQclear(r);
    return rc;
}

/* The vault's key check is still the one this handle opened with: a
 * master-key rotation by another process replaces the tables under new
 * keys, and a handle with the old ones must neither read rows it can't
 * check nor write rows tagged under the old key (docs/keyslots.md
 * section 11).  r: the begin's KEY_CHECK_SQL, in a READ COMMITTED
 * transaction the latest commit's, in a snapshot what the snapshot sees;
 * it has the generation row's n too, kept for the transaction. */
#define KEY_CHECK_SQL "SELECT (SELECT keycheck FROM store_info), n FROM generation"
/* The newest audit row of log $1 and the state on it (audit_head_load). */
#define AUDIT_HEAD_SQL                                                                            \
    "SELECT a.pos, a.entry, a.head, s.state, s.mac FROM audit a"                                  \
    " LEFT JOIN audit_heads s ON s.log = a.log AND s.pos = a.pos AND s.head = a.head"            \
    " WHERE a.log = $1 ORDER BY a.pos DESC LIMIT 1"
static int ah_fill(pg *c, const PGresult *r, const char *log);

static int key_check_row(pg *c, const PGresult *r)
{
    int rc = VAULT_OK;
    const uint8_t *kc;
    size_t n = 0;

    kc = PQntuples(r) == 1 ? r_bytes(r, 0, 0, &n) : NULL;
    ENSURE(kc && n == 32 && !PQgetisnull(r, 0, 1), VAULT_EINTEGRITY,
           "postgresql: %s: the vault's store row or generation row is missing", c->shown);
    ENSURE(sodium_memcmp(kc, c->kc, 32) == 0, VAULT_EAUTH,
           "postgresql: %s: the vault's key changed since this handle opened it (a master-key "
           "rotation): open it again with the new keys file", c->shown);
    c->gen_n = r_int(r, 0, 1);
    c->gen_txno = c->txno;
cleanup:
    return rc;
}

/* A snapshot's first statements, behind its BEGIN and key check in one
 * round trip (pg_begin leaves a primary's snapshot unsent: a read-only
 * call's begin costs no round trip of its own).  The key check is
 * checked before any result is handed back. */
static int lazy_run(pg *c, const pstmt *s, int n)
{
    int rc = VAULT_OK, i;
    PGresult *kr = NULL;
    pstmt *all = calloc((size_t)n + 2, sizeof *all);

    ENSURE(all, VAULT_ENOMEM, "out of memory");
    /* nothing is queued in a snapshot (writes are refused there) */
    ENSURE(c->npq == 0, VAULT_ESTATE, "postgresql: statements queued in a read-only transaction");
    all[0] = (pstmt){"beginning a transaction", "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                     NULL, NULL, VAULT_EINVALID, PS_PLAIN, PREP_NONE, 0};
    all[1] = (pstmt){"checking the vault's key", KEY_CHECK_SQL, NULL, &kr, VAULT_EINVALID,
                     PS_PLAIN, PREP_WANT, 0};
    for (i = 0; i < n; i++)
        all[i + 2] = s[i];
    c->lazy = 0; /* sent now, whatever comes of it */
    rc = pipe_run(c, all, n + 2);
    if (rc == VAULT_OK)
        rc = key_check_row(c, kr);
    if (rc < 0) {
        /* a snapshot whose begin or key check failed reads nothing more:
         * only a rollback (as a failed begin_once leaves none open) */
        c->pipe_broken = 1;
        for (i = 0; i < n; i++)
            if (s[i].out) {
                PQclear(*s[i].out);
                *s[i].out = NULL;
            }
    }
cleanup:
    PQclear(kr);
    free(all);
    return rc;
}

/* What a write is, for the locks it needs and the generation:
 *  - WR_TRUST: a row a handle keeps loaded (meta, policy, grade key,
 *    grant): the write lock, and the commit moves the generation;
 *  - WR_DATA: a record: the write lock;
 *  - WR_OWN: a row serialised by a lock of its own, not the write lock:
 *    the audit log's (checkpoints, its "audit_" meta rows: written only
 *    under the city log's head row, which the seal holds) and quota uses
 *    (under their user's lock, quota_lock).  An audited read writes these
 *    alone, so it never waits for the write lock. */
enum { WR_TRUST, WR_DATA, WR_OWN };

/* 1 when this is a deferred transaction without the write lock and the
 * generation moved since its begin (a commit changed the policy, grants
 * or keys since: what it read may not go together). */
static int moved_on(pg *c)
{
    PGresult *r = NULL;
    int moved = 0;

    if (c->tx != STORE_TX_DEFERRED || c->locked || c->gen_txno != c->txno)
        return 0;
    if (qs(c, &r, "reading the generation", "SELECT n FROM generation", NULL) == VAULT_OK)
        moved = PQntuples(r) == 1 && r_int(r, 0, 0) != c->gen_n;
    PQclear(r);
    vault__err_clear();
    return moved;
}

/* Before a write: a write transaction (a deferred one takes the lock
 * now, unless the write is WR_OWN), then a savepoint the write can fall
 * back to, deferred: it goes in the write's first statement's pipeline. */
static int wr_begin(pg *c, const char *what, int kind)
{
    int rc = VAULT_OK;

    GUARD(need_read(c));
    ENSURE(c->tx != STORE_TX_SNAPSHOT, VAULT_ESTATE, "postgresql: %s in a read-only transaction",
           what);
    if (!c->locked && kind != WR_OWN)
        GUARD(lock_step(c));
    /* Bulk rows waiting go first, outside the savepoint: they were
     * acknowledged, and a refused write must not take them with it. */
    if (c->bulk && (c->bk_records || c->bk_meta))
        GUARD(bulk_flush(c));
    GUARD(pend_add(c, what, "SAVEPOINT vault_op", PS_PLAIN, NULL));
    c->sp_queued = c->npq; /* the savepoint is pq[npq - 1] until sent */
    c->sp_flushes = c->flushes;
cleanup:
    return rc;
}

/* After a write: keep it (rc >= 0: the savepoint's release deferred), or
 * undo it and keep the transaction. */
static int wr_end(pg *c, int rc, int kind)
{
    int r;

    if (c->dead)
        return rc;
    if (rc >= 0) {
        c->sp_queued = 0;
        r = pend_add(c, "releasing a savepoint", "RELEASE SAVEPOINT vault_op", PS_PLAIN, NULL);
        if (r < 0) {
            c->pipe_broken = 1; /* the write is in, its call failed: no commit */
            return r;
        }
        c->dirty = 1;
        if (kind == WR_TRUST)
            c->bump = 1;
        return rc;
    }
    if (c->sp_queued && c->flushes == c->sp_flushes && c->npq >= c->sp_queued) {
        /* nothing of the write was sent: its savepoint, unsent, goes */
        while (c->npq >= c->sp_queued)
            free(c->pq[--c->npq]); /* no parameters: pq_bytes is unchanged */
        c->sp_queued = 0;
        return rc;
    }
    c->sp_queued = 0;
    if (PQtransactionStatus(c->conn) == PQTRANS_INERROR ||
        PQtransactionStatus(c->conn) == PQTRANS_INTRANS) {
        /* behind anything deferred, as every statement; an error here
         * (the savepoint never ran: the transaction is aborted) leaves
         * the transaction to the rollback; the write's error stays */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", vault_error_last());
        r = q(c, NULL, "undoing a write", "ROLLBACK TO SAVEPOINT vault_op", NULL);
        if (r == VAULT_OK)
            (void)q(c, NULL, "undoing a write", "RELEASE SAVEPOINT vault_op", NULL);
        ah_drop(c);
        (void)vault__err(rc, "%s", msg);
    }
    return rc;
}

#define WRITE_OP(c, what, kind, call)           \
    do {                                        \
        int wr_rc_ = wr_begin((c), what, kind); \
        if (wr_rc_ < 0)                         \
            return wr_rc_;                      \
        return wr_end((c), (call), kind);       \
    } while (0)

static void bulk_reset(pg *c);

static void abandon(pg *c)
{
    PGresult *r;

    pend_drop(c); /* never sent: nothing of them happened */
    ah_drop(c);
    c->lazy = 0; /* a snapshot never sent: nothing to end there */
    c->pipe_broken = 0;
    c->sp_queued = 0;
    c->gen_txno = 0;
    drain(c);
    if (!c->dead && PQtransactionStatus(c->conn) != PQTRANS_IDLE) {
        /* A read-only snapshot on the primary (it takes no lock but
         * ACCESS SHARE): sent, not waited for, a round trip saved per
         * read-only call (drain reads the result before the next use).
         * Any other is waited for, so a rollback returns with the write
         * lock released; the standby's too, its connection is put aside
         * after. */
        if (!c->home && c->tx == STORE_TX_SNAPSHOT && PQsendQuery(c->conn, "ROLLBACK") == 1) {
            c->rb_inflight = 1;
            goto done;
        }
        r = PQexec(c->conn, "ROLLBACK");
        PQclear(r);
        if (PQstatus(c->conn) == CONNECTION_BAD) {
            if (c->home)
                standby_drop(c); /* the standby's: the primary's lives on */
            else
                c->dead = 1;
        } else if (!c->home && PQtransactionStatus(c->conn) != PQTRANS_IDLE) {
            c->dead = 1; /* still in the transaction: given up on */
        }
    }
done:
    c->tx = -1;
    c->locked = 0;
    c->dirty = 0;
    c->bump = 0;
    rd_reset(c);
    bulk_reset(c);
    if (c->home) { /* a standby read's transaction: back to the primary */
        c->conn = c->home;
        c->home = NULL;
    }
}

/* One try of a begin, in one round trip: BEGIN, the write lock for a
 * write transaction, the key check with the generation row.  A deferred
 * one (an audited read) is READ COMMITTED without the write lock: each of
 * its reads sees the latest commits, its appends lock their logs' head
 * rows when they are sealed (audit_head_load), and its commit checks the
 * generation is still this one (pg_commit).  On failure, nothing of it
 * is left open. */
static int begin_once(pg *c, store_tx_kind kind)
{
    int rc = VAULT_OK, started = 0, n = 0;
    qp p = {0};
    PGresult *r = NULL;
    pstmt s[4];
    static const char *const sql[] = {
        [STORE_TX_SNAPSHOT] = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        [STORE_TX_WRITE] = "BEGIN",
        [STORE_TX_DEFERRED] = "BEGIN",
    };

    c->tx = (int)kind;
    c->txno++;
    c->locked = 0;
    c->dirty = 0;
    c->bump = 0;
    rd_reset(c);
    c->pipe_broken = 0;
    c->sp_queued = 0;
    ah_drop(c);
    pend_drop(c);
    s[n++] = (pstmt){"beginning a transaction", sql[kind], NULL, NULL, VAULT_EINVALID, PS_PLAIN, PREP_NONE, 0};
    if (kind == STORE_TX_WRITE) {
        p_int(&p, c->write_key);
        s[n++] = (pstmt){"taking the write lock", "SELECT pg_advisory_xact_lock($1)", &p, NULL,
                         VAULT_EINVALID, PS_PLAIN, PREP_WANT, 0};
    }
    if (kind == STORE_TX_DEFERRED) {
        /* a master-key rotation's copy is waited for (store_pg_rotation_hold) */
        p_int(&p, c->rot_key);
        s[n++] = (pstmt){"beginning a transaction", "SELECT pg_advisory_xact_lock_shared($1)", &p,
                         NULL, VAULT_EINVALID, PS_PLAIN, PREP_WANT, 0};
    }
    s[n++] = (pstmt){"checking the vault's key", KEY_CHECK_SQL, NULL, &r, VAULT_EINVALID,
                     PS_PLAIN, PREP_WANT, 0};
    started = 1;
    GUARD(pipe_run(c, s, n));
    c->locked = kind == STORE_TX_WRITE;
    GUARD(key_check_row(c, r));
cleanup:
    PQclear(r);
    if (rc < 0 && started)
        abandon(c); /* this begin's transaction, never one open before */
    if (rc < 0)
        c->tx = -1;
    return rc;
}

/* ---- standby reads ----
 * A STORE_TX_STANDBY transaction is a read-only snapshot, served by the
 * streaming standby vault_standby names once the standby has replayed
 * every commit the primary had made when the begin asked it: the
 * primary's generation row is read first (one statement, outside any
 * transaction), then the standby's, in the snapshot the transaction will
 * use.  A standby behind it is asked again every PG_STANDBY_POLL_MS, for
 * PG_STANDBY_WAIT_MS; then, or when it can't be reached, or anything
 * else goes wrong there (an error, the key check of a rotation it has
 * not replayed), the transaction is the primary's.  So nothing is read
 * from a standby that lacks a commit made before the call: a grant
 * revoked on the primary is never taken as live from a standby. */

static int conn_setup(pg *c);

/* The standby's connection, made if need be and set up as the primary's:
 * 1 ready, 0 not to be had (now). */
static int standby_connect(pg *c)
{
    int rc;

    if (c->ro && c->ro_retry_at && mono_ms() < c->ro_retry_at)
        return 0; /* behind a moment ago: not asked again yet */
    if (c->ro && PQstatus(c->ro) == CONNECTION_OK)
        return 1;
    if (c->ro || mono_ms() < c->ro_retry_at) {
        if (c->ro)
            standby_drop(c);
        return 0;
    }
    {
        /* connect_timeout first: one in the standby's own string wins */
        /* and keepalives, so a standby that stops answering is given up
         * on in seconds, not when TCP gives up */
        static const char *const keys[] = {"connect_timeout", "keepalives", "keepalives_idle",
                                           "keepalives_interval", "keepalives_count",
                                           "tcp_user_timeout", "dbname", NULL};
        const char *vals[] = {PG_STANDBY_CONNECT_S, "1", "5", "2", "3", "10000",
                              c->standby_info, NULL};
        c->ro = PQconnectdbParams(keys, vals, 1);
    }
    if (!c->ro || PQstatus(c->ro) != CONNECTION_OK) {
        standby_drop(c);
        return 0;
    }
    c->home = c->conn;
    c->conn = c->ro;
    rc = conn_setup(c);
    if (c->home) {
        c->conn = c->home;
        c->home = NULL;
    }
    if (rc < 0) {
        standby_drop(c);
        return 0;
    }
    return 1;
}

/* Where the primary is: its generation row's n, the end of its WAL (the
 * insert position: every commit made so far is before it) and its
 * cluster's system identifier. */
static int primary_now(pg *c, int64_t *gen, char *lsn, size_t lcap, char *sysid, size_t scap)
{
    int rc = VAULT_OK;
    PGresult *r = NULL;

    GUARD(q(c, &r, "reading the primary's generation",
            "SELECT g.n, (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
            " ELSE pg_current_wal_insert_lsn() END)::text,"
            " (SELECT system_identifier FROM pg_control_system())::text FROM generation g", NULL));
    ENSURE(PQntuples(r) == 1 && !PQgetisnull(r, 0, 1) && !PQgetisnull(r, 0, 2), VAULT_EINTEGRITY,
           "postgresql: %s: the generation row is missing", c->shown);
    *gen = r_int(r, 0, 0);
    snprintf(lsn, lcap, "%s", PQgetvalue(r, 0, 1));
    snprintf(sysid, scap, "%s", PQgetvalue(r, 0, 2));
cleanup:
    PQclear(r);
    return rc;
}

/* Where the standby (conn) is, read before its snapshot is taken, so the
 * snapshot has everything replayed by then: 1 a standby of the primary's
 * cluster that has replayed its WAL up to lsn; 0 one that has not yet;
 * -1 not a standby of that cluster (not in recovery, another system
 * identifier), or not to be asked. */
static int standby_has(pg *c, const char *lsn, const char *sysid)
{
    int st;
    PGresult *r = NULL;
    qp p = {0};

    p_text(&p, lsn);
    p_text(&p, sysid);
    if (q(c, &r, "asking the standby where it is",
          "SELECT CASE WHEN NOT pg_is_in_recovery() OR (SELECT system_identifier"
          " FROM pg_control_system())::text <> $2 THEN -1"
          " WHEN pg_last_wal_replay_lsn() >= $1::pg_lsn THEN 1 ELSE 0 END::int8",
          &p) < 0)
        return -1;
    st = PQntuples(r) == 1 ? (int)r_int(r, 0, 0) : -1;
    PQclear(r);
    return st;
}

/* 1: a snapshot on the standby is open (conn is the standby's); 0: none
 * (the caller begins on the primary); < 0: the primary failed. */
static int standby_begin(pg *c)
{
    int64_t want = 0, have = -1, deadline;
    int rc, st;
    char lsn[32], sysid[32];

    rc = primary_now(c, &want, lsn, sizeof lsn, sysid, sizeof sysid);
    if (rc < 0)
        return rc;
    deadline = mono_ms() + PG_STANDBY_WAIT_MS;
    for (;;) {
        if (!standby_connect(c))
            break;
        c->home = c->conn;
        c->conn = c->ro;
        rc = VAULT_OK;
        st = standby_has(c, lsn, sysid);
        if (st == 1) {
            /* in the snapshot: the generation too (the begin's), as a check */
            rc = begin_once(c, STORE_TX_SNAPSHOT);
            have = rc == VAULT_OK ? c->gen_n : -1;
            if (rc == VAULT_OK && have >= want)
                return 1;
        }
        abandon(c); /* the standby's snapshot, if one is open; back to the primary */
        if (rc < 0 || !c->ro)
            break;
        if (st < 0) {
            /* not this primary's standby: not asked again for long */
            c->ro_retry_at = mono_ms() + PG_STANDBY_RETRY_MS;
            break;
        }
        if (mono_ms() + PG_STANDBY_POLL_MS > deadline) {
            /* behind for all of it: the primary's for a while */
            c->ro_retry_at = mono_ms() + PG_STANDBY_BEHIND_MS;
            break;
        }
        {
            struct timespec ts = {0, PG_STANDBY_POLL_MS * 1000000L};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
        }
    }
    vault__err_clear();
    return 0;
}

static int pg_begin(store_backend *be, store_tx_kind kind)
{
    pg *c = P(be);
    int rc = VAULT_OK, tries;

    ENSURE(!c->dead, VAULT_EIO, "postgresql: %s: database connection lost earlier", c->shown);
    ENSURE(c->tx < 0, VAULT_ESTATE, "postgresql: a transaction is already open");
    ENSURE(kind == STORE_TX_SNAPSHOT || kind == STORE_TX_WRITE || kind == STORE_TX_DEFERRED ||
               kind == STORE_TX_STANDBY,
           VAULT_EINVALID, "postgresql: unknown transaction kind");
    if (kind == STORE_TX_STANDBY) {
        if (c->standby_info && standby_begin(c) == 1)
            goto cleanup;
        kind = STORE_TX_SNAPSHOT; /* the primary's, then */
    }
    ENSURE(!c->dead, VAULT_EIO, "postgresql: %s: database connection lost", c->shown);
    if (kind == STORE_TX_SNAPSHOT && !c->home) {
        /* its BEGIN and key check go with its first statement (lazy_run) */
        c->tx = (int)kind;
        c->txno++;
        c->locked = c->dirty = c->bump = 0;
        c->pipe_broken = 0;
        c->sp_queued = 0;
        rd_reset(c);
        ah_drop(c);
        pend_drop(c);
        c->lazy = 1;
        goto cleanup;
    }
    /* Nothing is done before the begin's last statement: a conflict on
     * the way is tried again (PG_TRIES), the last one's error returned. */
    for (tries = 1; (rc = begin_once(c, kind)) < 0; tries++) {
        if (!conflicted(c, rc, 0) || tries >= PG_TRIES)
            break;
        backoff(tries);
    }
cleanup:
    return rc;
}

/* In one round trip: the deferred statements, then
 *  - when the transaction changed a row a handle keeps loaded (WR_TRUST),
 *    the generation's bump, under the generation's lock;
 *  - when an audited read (deferred, without the write lock) wrote, the
 *    generation's check under that lock, shared: still the begin's, or
 *    the policy, grants or keys it decided by changed meanwhile and the
 *    commit fails (22012, VAULT_EBUSY: the caller starts over).  The
 *    lock orders the two: a bump waits for the checks under way, a check
 *    for the bump under way, so no read commits on a grant revoked
 *    before its commit;
 * then COMMIT.  Both locks are taken after every head row (the seal came
 * first), and nothing waits once it has one: no deadlock through them. */
/* no row, or not the begin's n: a division by zero (a missing row, a
 * DBA's doing, then fails the next begin's key check) */
#define GEN_CHECK_SQL "SELECT 1 / count(*) FILTER (WHERE n = $1) FROM generation"
/* ... and every record an audited read read still there at the version
 * and with the MAC read (rd_note): the writer of one that changed appends to the record's
 * shard log, whose head this transaction holds by now, so a change not
 * seen here commits after this read, in time and in the log */
#define READ_CHECK_SQL                                                                            \
    "SELECT 1 / (count(r.id) = $5)::int::int8 FROM unnest($1::text[], $2::bytea[], $3::int8[],"  \
    " $4::bytea[]) AS u(shard, id, version, mac) LEFT JOIN records r ON r.shard = u.shard"        \
    " AND r.id = u.id AND r.version = u.version AND r.mac = u.mac"
static int pg_commit(store_backend *be)
{
    pg *c = P(be);
    int rc = VAULT_OK, n = 0;
    PGresult *r = NULL;
    qp kp = {0}, gp = {0}, rp = {0};
    pstmt s[5];

    ENSURE(!c->dead, VAULT_EIO, "postgresql: %s: database connection lost earlier", c->shown);
    ENSURE(c->tx >= 0, VAULT_ESTATE, "postgresql: commit without a transaction");
    if (c->lazy) { /* a snapshot that read nothing: nothing was begun there */
        c->lazy = 0;
        c->tx = -1;
        c->gen_txno = 0;
        goto cleanup;
    }
    ENSURE(PQtransactionStatus(c->conn) == PQTRANS_INTRANS, VAULT_ESTATE,
           "postgresql: commit of a transaction an earlier error aborted");
    ENSURE(!c->bulk_broken, VAULT_ESTATE,
           "postgresql: commit of a transaction whose bulk load failed");
    ENSURE(!c->pipe_broken, VAULT_ESTATE,
           "postgresql: commit of a transaction whose statements could not all be sent");
    if (c->bulk)
        GUARD(bulk_flush(c));
    p_int(&kp, c->gen_key);
    if (c->bump) {
        s[n++] = (pstmt){"committing", "SELECT pg_advisory_xact_lock($1)", &kp, NULL,
                         VAULT_EINVALID, PS_PLAIN, PREP_WANT, 0};
        s[n++] = (pstmt){"committing", "UPDATE generation SET n = n + 1", NULL, NULL,
                         VAULT_EINVALID, PS_PLAIN, PREP_WANT, 0};
    } else if (c->dirty && !c->locked) {
        ENSURE(c->gen_txno == c->txno, VAULT_ESTATE,
               "postgresql: commit of a transaction whose begin read no generation");
        p_int(&gp, c->gen_n);
        s[n++] = (pstmt){"committing", "SELECT pg_advisory_xact_lock_shared($1)", &kp, NULL,
                         VAULT_EINVALID, PS_PLAIN, PREP_WANT, 0};
        s[n++] = (pstmt){"committing", GEN_CHECK_SQL, &gp, NULL, VAULT_EINVALID, PS_GEN_CHECK, PREP_WANT, 0};
    }
    if (c->tx == STORE_TX_DEFERRED && c->dirty && c->nrd) {
        ENSURE(!c->rd[0].err && !c->rd[1].err && !c->rd[2].err && !c->rd[3].err, VAULT_ENOMEM,
               "out of memory");
        p_arr(&rp, &c->rd[0], OID_TEXT_ARRAY);
        p_arr(&rp, &c->rd[1], OID_BYTEA_ARRAY);
        p_arr(&rp, &c->rd[2], OID_INT8_ARRAY);
        p_arr(&rp, &c->rd[3], OID_BYTEA_ARRAY);
        p_int(&rp, (int64_t)c->nrd);
        s[n++] = (pstmt){"committing", READ_CHECK_SQL, &rp, NULL, VAULT_EINVALID, PS_READ_CHECK,
                         PREP_WANT, 0};
    }
    s[n++] = (pstmt){"committing", "COMMIT", NULL, &r, VAULT_EINVALID, PS_PLAIN, PREP_NONE, 0};
    GUARD(pipe_run(c, s, n));
    ENSURE(strcmp(PQcmdStatus(r), "COMMIT") == 0, VAULT_EIO,
           "postgresql: the commit was rolled back by the server");
    if (c->bump)
        c->own_commits++;
    c->tx = -1;
    c->locked = 0;
    c->dirty = 0;
    c->bump = 0;
    rd_reset(c);
    c->gen_txno = 0;
    ah_drop(c);
    bulk_reset(c); /* a bulk load lasts one transaction */
    if (c->home) {
        c->conn = c->home;
        c->home = NULL;
    }
cleanup:
    PQclear(r);
    if (rc < 0 && c->tx >= 0)
        abandon(c);
    return rc;
}

static void pg_rollback(store_backend *be)
{
    abandon(P(be));
}

static int pg_generation(store_backend *be, int64_t *out)
{
    pg *c = P(be);
    int rc = VAULT_OK;
    PGresult *r = NULL;

    if (c->tx >= 0 && c->lazy)
        GUARD(pipe_run(c, NULL, 0)); /* the snapshot's begin: its key check reads n */
    if (c->tx >= 0 && c->gen_txno == c->txno) {
        /* the begin's: it stays, in a snapshot as under the write lock
         * (every bump is a writer's, at its commit) */
        *out = c->gen_n - c->own_commits;
        goto cleanup;
    }
    GUARD(qs(c, &r, "reading the generation", "SELECT n FROM generation", NULL));
    ENSURE(PQntuples(r) == 1, VAULT_EINTEGRITY, "postgresql: the generation row is missing");
    *out = r_int(r, 0, 0) - c->own_commits;
cleanup:
    PQclear(r);
    return rc;
}

static int make_parted(pg *c, const char *what);
static int make_audit(pg *c, const char *what);

/* What remaking the tables old_tables (an SQL text[] of names) would lose,
 * refused with nothing changed (the vault's own triggers, indexes and
 * columns and check constraints: the SQL text[]s triggers and columns,
 * each 'table.name', indexes and checks, each a name): a DBA's trigger,
 * index or row-security policy on them, row security turned on, a
 * publication of them, a foreign key into them from outside, a column,
 * constraint, rule, statistics object or storage parameter of a DBA's.
 * why names the change for the message. */
static int layout_refusal(pg *c, const char *old_tables, const char *triggers,
                          const char *indexes, const char *columns, const char *checks,
                          const char *why)
{
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};
    char sql[3000];

    snprintf(sql, sizeof sql,
             "WITH v AS (SELECT k.oid FROM pg_class k WHERE k.relnamespace = $1::regnamespace"
             "  AND k.relname = ANY (%s))"
             " SELECT coalesce("
             "  (SELECT format('the trigger %%s on %%s', t.tgname, t.tgrelid::regclass)"
             "   FROM pg_trigger t WHERE t.tgrelid IN (SELECT oid FROM v) AND NOT t.tgisinternal"
             "   AND (SELECT relname FROM pg_class WHERE oid = t.tgrelid) || '.' || t.tgname"
             "   <> ALL (%s) LIMIT 1),"
             "  (SELECT format('the foreign key %%s on %%s', k.conname, k.conrelid::regclass)"
             "   FROM pg_constraint k WHERE k.contype = 'f' AND k.confrelid IN (SELECT oid FROM v)"
             "   AND k.conrelid NOT IN (SELECT oid FROM v) LIMIT 1),"
             "  (SELECT format('the index %%s', x.indexrelid::regclass) FROM pg_index x"
             "   JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid IN (SELECT oid FROM v)"
             "   AND i.relname <> ALL (%s) LIMIT 1),"
             "  (SELECT format('the row-security policy %%s on %%s', y.polname, y.polrelid::regclass)"
             "   FROM pg_policy y WHERE y.polrelid IN (SELECT oid FROM v) LIMIT 1),"
             "  (SELECT format('row security on %%s', k.oid::regclass) FROM pg_class k"
             "   WHERE k.oid IN (SELECT oid FROM v) AND k.relrowsecurity LIMIT 1),"
             "  (SELECT format('the publication %%s', b.pubname) FROM pg_publication_rel u"
             "   JOIN pg_publication b ON b.oid = u.prpubid WHERE u.prrelid IN (SELECT oid FROM v)"
             "   LIMIT 1),"
             /* a DBA's column (its data would not be copied), constraint,
              * rule, statistics object or storage parameter */
             "  (SELECT format('the column %%s of %%s', t.attname, t.attrelid::regclass)"
             "   FROM pg_attribute t WHERE t.attrelid IN (SELECT oid FROM v) AND t.attnum > 0"
             "   AND NOT t.attisdropped AND (SELECT relname FROM pg_class WHERE oid = t.attrelid)"
             "   || '.' || t.attname <> ALL (%s) LIMIT 1),"
             "  (SELECT format('the constraint %%s on %%s', k.conname, k.conrelid::regclass)"
             "   FROM pg_constraint k WHERE k.conrelid IN (SELECT oid FROM v)"
             "   AND NOT (k.contype IN ('p', 'u', 'n')"
             "   OR (k.contype = 'f' AND k.confrelid IN (SELECT oid FROM v))"
             "   OR (k.contype = 'f' AND k.confrelid = 'grade_keys'::regclass)"
             "   OR (k.contype = 'c' AND k.conname = ANY (%s))) LIMIT 1),"
             "  (SELECT format('the rule %%s on %%s', w.rulename, w.ev_class::regclass)"
             "   FROM pg_rewrite w WHERE w.ev_class IN (SELECT oid FROM v) LIMIT 1),"
             "  (SELECT format('the statistics object %%s', x.stxname) FROM pg_statistic_ext x"
             "   WHERE x.stxrelid IN (SELECT oid FROM v) LIMIT 1),"
             "  (SELECT format('the storage parameters of %%s', k.oid::regclass) FROM pg_class k"
             "   WHERE k.oid IN (SELECT oid FROM v) AND k.reloptions IS NOT NULL LIMIT 1))",
             old_tables, triggers, indexes, columns, checks);
    p_text(&p, c->schema);
    GUARD(q(c, &r, "checking what refers to the vault", sql, &p));
    ENSURE(PQgetisnull(r, 0, 0), VAULT_ESTATE,
           "postgresql: %s: the vault's tables must be remade (%s), which would lose "
           "%s: drop it first, and make it again after", c->shown, why, PQgetvalue(r, 0, 0));
cleanup:
    PQclear(r);
    return rc;
}

/* Grant on each new table what was granted on its old one (and on the
 * old one's columns, where the new one has the column), to the same
 * roles (PUBLIC is 0), grant options too; run as the owner.  pairs: SQL
 * VALUES rows ('old', 'new'). */
static int regrant(pg *c, const char *what, const char *pairs)
{
    int rc = VAULT_OK;
    char sql[2000];

    snprintf(sql, sizeof sql,
             "DO $$ DECLARE g record; BEGIN FOR g IN"
             " WITH m(old, new) AS (VALUES %s),"
             " a AS (SELECT m.new, NULL::name AS col, x.* FROM m, pg_class k, aclexplode(k.relacl) x"
             "  WHERE k.oid = m.old::regclass AND x.grantee <> k.relowner"
             "  UNION ALL SELECT m.new, t.attname, x.* FROM m, pg_attribute t, aclexplode(t.attacl) x"
             "  WHERE t.attrelid = m.old::regclass AND t.attnum > 0 AND NOT t.attisdropped"
             "  AND EXISTS (SELECT 1 FROM pg_attribute n WHERE n.attrelid = m.new::regclass"
             "  AND n.attname = t.attname AND NOT n.attisdropped))"
             " SELECT DISTINCT * FROM a LOOP EXECUTE format('GRANT %%s %%s ON %%I TO %%s %%s',"
             "  g.privilege_type, CASE WHEN g.col IS NULL THEN '' ELSE format('(%%I)', g.col) END,"
             "  g.new, CASE WHEN g.grantee = 0 THEN 'PUBLIC'"
             "  ELSE quote_ident(pg_get_userbyid(g.grantee)) END,"
             "  CASE WHEN g.is_grantable THEN 'WITH GRANT OPTION' ELSE '' END); END LOOP; END $$",
             pairs);
    ENSURE(strlen(sql) < sizeof sql - 1, VAULT_EINVALID, "postgresql: %s: too long", what);
    GUARD(q(c, NULL, what, sql, NULL));
cleanup:
    return rc;
}

/* A vault made before its tables were partitioned (schema 6 and older:
 * plain records, fields and blind_index, records with UNIQUE (id)) is
 * brought to the partitioned layout of schema 7 (parted_ddl) in the
 * opening transaction, under the write lock, as the tables' owner (SET
 * LOCAL ROLE: the new tables are the owner's, whoever opens it, who must
 * be the owner or a member of its role): the three tables are renamed
 * aside (TABLE_v1, their indexes too), the partitioned ones made, the
 * rows copied, the directory filled from records, the privileges of each
 * old table (and its columns) granted again by the owner on the new one
 * (records' on record_ids too), and the old tables dropped.  What the new
 * tables would not carry is refused first, naming it, with nothing
 * changed: a DBA's trigger, index or row-security policy on them, row
 * security turned on, a publication of them, a foreign key into them
 * from outside the vault.  A view over them fails the drop, and the
 * transaction with it.  schema7: the vault says it is at schema 7 (its
 * tables must be partitioned already). */
static int partition_layout(pg *c, int schema7)
{
    static const char *const old_tables = "ARRAY['records', 'fields', 'blind_index']";
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};
    char sql[3000], owner[NAMEDATALEN_MAX];
    const char *kind;

    p_text(&p, c->schema);
    GUARD(q(c, &r, "reading the tables' layout",
            "SELECT relkind::text, pg_has_role(relowner, 'MEMBER')::int::int8,"
            " pg_get_userbyid(relowner)::text FROM pg_class"
            " WHERE oid = to_regclass(quote_ident($1) || '.records')", &p));
    ENSURE(PQntuples(r) == 1, VAULT_EINTEGRITY, "postgresql: %s: a table of the vault is missing",
           c->shown);
    kind = r_text(r, 0, 0);
    if (kind && strcmp(kind, "p") == 0)
        goto cleanup;
    ENSURE(kind && strcmp(kind, "r") == 0, VAULT_EINTEGRITY,
           "postgresql: %s: the vault's records are not a table", c->shown);
    ENSURE(!schema7, VAULT_EINTEGRITY,
           "postgresql: %s: the vault is at schema 7 but its tables are not partitioned",
           c->shown);
    ENSURE(r_int(r, 0, 1) == 1, VAULT_EDENIED,
           "postgresql: %s: the vault's tables are not partitioned yet (schema 6, made by an "
           "earlier libvault): open it once as the schema's owner, which partitions them",
           c->shown);
    snprintf(owner, sizeof owner, "%s", r_text(r, 0, 2) ? r_text(r, 0, 2) : "");
    PQclear(r);
    r = NULL;
    GUARD(layout_refusal(c, old_tables, "ARRAY[]::text[]",
                         "ARRAY['records_pkey', 'records_id_key', 'fields_pkey',"
                         " 'fields_grade_key', 'blind_index_pkey', 'blind_index_record']",
                         "ARRAY['records.shard', 'records.id', 'records.jurisdiction',"
                         " 'records.created', 'records.updated', 'records.version', 'records.mac',"
                         " 'fields.shard', 'fields.record_id', 'fields.name', 'fields.grade',"
                         " 'fields.key_version', 'fields.counter', 'fields.ct', 'fields.digest',"
                         " 'blind_index.shard', 'blind_index.id', 'blind_index.field',"
                         " 'blind_index.digest']", "ARRAY[]::text[]", "schema 7, partitioned"));
    /* the owner makes the new tables: it needs what that takes (a
     * superuser who opens it may have kept the schema for itself) */
    memset(&p, 0, sizeof p);
    p_text(&p, owner);
    p_text(&p, c->schema);
    GUARD(q(c, &r, "checking the owner's privileges",
            "SELECT has_schema_privilege($1, $2, 'CREATE')::int::int8,"
            " has_table_privilege($1, quote_ident($2) || '.grade_keys', 'REFERENCES')::int::int8",
            &p));
    ENSURE(r_int(r, 0, 0) == 1 && r_int(r, 0, 1) == 1, VAULT_EDENIED,
           "postgresql: %s: the vault's tables must be partitioned (schema 7) by their owner %s, "
           "who needs CREATE on schema %s and REFERENCES on its grade_keys: grant them first",
           c->shown, owner, c->schema);
    PQclear(r);
    r = NULL;
    /* as the owner, whose the new tables are and who grants again */
    memset(&p, 0, sizeof p);
    p_text(&p, owner);
    /* (SET LOCAL: a failure's rollback ends it too) */
    GUARD(q(c, NULL, "partitioning the vault's tables", "SELECT set_config('role', $1, true)", &p));
    /* aside: the tables and their indexes (index names are the schema's) */
    snprintf(sql, sizeof sql,
             "DO $$ DECLARE i record; t text; BEGIN"
             " FOR i IN SELECT x.indexrelid::regclass AS ix, k.relname FROM pg_index x"
             "  JOIN pg_class k ON k.oid = x.indexrelid WHERE x.indrelid IN"
             "  ('records'::regclass, 'fields'::regclass, 'blind_index'::regclass) LOOP"
             "  EXECUTE format('ALTER INDEX %%s RENAME TO %%I', i.ix, i.relname || '_v1'); END LOOP;"
             " FOREACH t IN ARRAY %s LOOP"
             "  EXECUTE format('ALTER TABLE %%I RENAME TO %%I', t, t || '_v1'); END LOOP; END $$",
             old_tables);
    GUARD(q(c, NULL, "partitioning the vault's tables", sql, NULL));
    GUARD(make_parted(c, "partitioning the vault's tables"));
    GUARD(q(c, NULL, "partitioning the vault's tables",
            "INSERT INTO record_ids(id, shard) SELECT id, shard FROM records_v1", NULL));
    GUARD(q(c, NULL, "partitioning the vault's tables",
            "INSERT INTO records(shard, id, jurisdiction, created, updated, version, mac)"
            " SELECT shard, id, jurisdiction, created, updated, version, mac FROM records_v1", NULL));
    GUARD(q(c, NULL, "partitioning the vault's tables",
            "INSERT INTO fields(shard, record_id, name, grade, key_version, counter, ct, digest)"
            " SELECT shard, record_id, name, grade, key_version, counter, ct, digest FROM fields_v1",
            NULL));
    GUARD(q(c, NULL, "partitioning the vault's tables",
            "INSERT INTO blind_index(shard, id, field, digest)"
            " SELECT shard, id, field, digest FROM blind_index_v1", NULL));
    /* the privileges, as they were, to the same roles (PUBLIC is 0),
     * granted by the owner */
    GUARD(regrant(c, "partitioning the vault's tables",
                  "('records_v1', 'records'), ('records_v1', 'record_ids'),"
                  " ('fields_v1', 'fields'), ('blind_index_v1', 'blind_index')"));
    GUARD(q(c, NULL, "partitioning the vault's tables (a view over them must go first)",
            "DROP TABLE blind_index_v1, fields_v1, records_v1", NULL));
    GUARD(q(c, NULL, "partitioning the vault's tables", "RESET ROLE", NULL));
    c->dirty = c->bump = 1;
cleanup:
    PQclear(r);
    return rc;
}

/* A vault of schema 7 (one audit log: audit keyed by pos, the one-row
 * audit_state) is brought to the logs of schema 8 (audit_ddl) as
 * partition_layout brings older ones to 7, in the opening transaction,
 * as the owner: audit is renamed aside (audit_v7, its indexes too), the
 * new tables made, every entry copied into the city log (''), the state
 * row into the city log's head row, the privileges granted again (and
 * INSERT on audit_heads to whoever could UPDATE audit_state: a new log's
 * first append makes its head row), and the old tables dropped.  What the
 * new tables would not carry is refused first, naming it (as there).
 * schema8: the vault says it is at schema 8 (its log must be there). */
static int audit_layout(pg *c, int schema8)
{
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};
    char owner[NAMEDATALEN_MAX];
    const char *kind;

    p_text(&p, c->schema);
    GUARD(q(c, &r, "reading the tables' layout",
            "SELECT (to_regclass(quote_ident($1) || '.audit_heads') IS NOT NULL)::int::int8,"
            " relkind::text, pg_has_role(relowner, 'MEMBER')::int::int8,"
            " pg_get_userbyid(relowner)::text FROM pg_class"
            " WHERE oid = to_regclass(quote_ident($1) || '.audit')", &p));
    ENSURE(PQntuples(r) == 1, VAULT_EINTEGRITY, "postgresql: %s: a table of the vault is missing",
           c->shown);
    kind = r_text(r, 0, 1);
    if (r_int(r, 0, 0) == 1 && kind && strcmp(kind, "p") == 0)
        goto cleanup;
    ENSURE(!schema8, VAULT_EINTEGRITY,
           "postgresql: %s: the vault is at schema 8 but its audit log is not kept by log",
           c->shown);
    ENSURE(kind && strcmp(kind, "r") == 0 && r_int(r, 0, 0) == 0, VAULT_EINTEGRITY,
           "postgresql: %s: the vault's audit log is neither schema 7's nor schema 8's", c->shown);
    ENSURE(r_int(r, 0, 2) == 1, VAULT_EDENIED,
           "postgresql: %s: the vault's audit log is not kept by log yet (schema 7, made by an "
           "earlier libvault): open it once as the schema's owner, which brings it to schema 8",
           c->shown);
    snprintf(owner, sizeof owner, "%s", r_text(r, 0, 3) ? r_text(r, 0, 3) : "");
    PQclear(r);
    r = NULL;
    GUARD(layout_refusal(c, "ARRAY['audit', 'audit_state']",
                         "ARRAY['audit.audit_no_change', 'audit.audit_no_truncate']",
                         "ARRAY['audit_pkey', 'audit_by_record', 'audit_by_user',"
                         " 'audit_state_pkey']",
                         "ARRAY['audit.pos', 'audit.entry', 'audit.head', 'audit.record_id',"
                         " 'audit.user', 'audit.flags', 'audit_state.one', 'audit_state.pos',"
                         " 'audit_state.head', 'audit_state.state', 'audit_state.mac']",
                         "ARRAY['audit_pos_check', 'audit_state_one_check']",
                         "schema 8, one chain per log"));
    memset(&p, 0, sizeof p);
    p_text(&p, owner);
    p_text(&p, c->schema);
    GUARD(q(c, &r, "checking the owner's privileges",
            "SELECT has_schema_privilege($1, $2, 'CREATE')::int::int8", &p));
    ENSURE(r_int(r, 0, 0) == 1, VAULT_EDENIED,
           "postgresql: %s: the vault's audit log must be kept by log (schema 8) by its owner "
           "%s, who needs CREATE on schema %s: grant it first", c->shown, owner, c->schema);
    PQclear(r);
    r = NULL;
    memset(&p, 0, sizeof p);
    p_text(&p, owner);
    GUARD(q(c, NULL, "keeping the audit log by log", "SELECT set_config('role', $1, true)", &p));
    GUARD(q(c, NULL, "keeping the audit log by log",
            "DO $$ DECLARE i record; BEGIN"
            " FOR i IN SELECT x.indexrelid::regclass AS ix, k.relname FROM pg_index x"
            "  JOIN pg_class k ON k.oid = x.indexrelid WHERE x.indrelid = 'audit'::regclass LOOP"
            "  EXECUTE format('ALTER INDEX %s RENAME TO %I', i.ix, i.relname || '_v7'); END LOOP;"
            " ALTER TABLE audit RENAME TO audit_v7; END $$", NULL));
    GUARD(make_audit(c, "keeping the audit log by log"));
    GUARD(q(c, NULL, "keeping the audit log by log",
            "INSERT INTO audit(log, pos, entry, head, record_id, \"user\", flags)"
            " SELECT '', pos, entry, head, record_id, \"user\", flags FROM audit_v7", NULL));
    GUARD(q(c, NULL, "keeping the audit log by log",
            "INSERT INTO audit_heads(log, pos, head, state, mac)"
            " SELECT '', pos, head, state, mac FROM audit_state", NULL));
    GUARD(regrant(c, "keeping the audit log by log",
                  "('audit_v7', 'audit'), ('audit_state', 'audit_heads')"));
    /* the new column: what a role held on pos (a column grant), it holds
     * on log; a log's first append makes its head row: INSERT on
     * audit_heads to whoever could UPDATE audit_state (or its pos) */
    GUARD(q(c, NULL, "keeping the audit log by log",
            "DO $$ DECLARE g record; BEGIN"
            " FOR g IN SELECT DISTINCT x.privilege_type, x.grantee, x.is_grantable"
            "  FROM pg_attribute t, aclexplode(t.attacl) x WHERE t.attrelid = 'audit_v7'::regclass"
            "  AND t.attname = 'pos' LOOP"
            "  EXECUTE format('GRANT %s (log) ON audit TO %s %s', g.privilege_type,"
            "   CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(g.grantee))"
            "   END, CASE WHEN g.is_grantable THEN 'WITH GRANT OPTION' ELSE '' END); END LOOP;"
            " FOR g IN SELECT DISTINCT x.grantee FROM pg_class k, aclexplode(k.relacl) x"
            "  WHERE k.oid = 'audit_state'::regclass AND x.privilege_type = 'UPDATE'"
            "  AND x.grantee <> k.relowner"
            "  UNION SELECT x.grantee FROM pg_attribute t, aclexplode(t.attacl) x"
            "  WHERE t.attrelid = 'audit_state'::regclass AND t.attname = 'pos'"
            "  AND x.privilege_type = 'UPDATE' LOOP"
            "  EXECUTE format('GRANT INSERT ON audit_heads TO %s', CASE WHEN g.grantee = 0"
            "   THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(g.grantee)) END); END LOOP; END $$",
            NULL));
    GUARD(q(c, NULL, "keeping the audit log by log (a view over it must go first)",
            "DROP TABLE audit_v7, audit_state", NULL));
    GUARD(q(c, NULL, "keeping the audit log by log", "RESET ROLE", NULL));
    c->dirty = c->bump = 1;
cleanup:
    PQclear(r);
    return rc;
}

static int pg_migrate(store_backend *be, int *from, int (*remac)(void *arg, int kind, void *row),
                      void *arg, void (*progress)(uint64_t, uint64_t, void *), void *parg)
{
    pg *c = P(be);
    int rc = VAULT_OK;
    PGresult *r = NULL;
    int64_t v;
    qp p = {0};

    (void)remac;
    (void)arg;
    (void)progress;
    (void)parg;
    GUARD(need_read(c));
    ENSURE(c->tx != STORE_TX_SNAPSHOT, VAULT_ESTATE, "postgresql: migrate outside a write transaction");
    GUARD(q(c, &r, "reading the schema version", "SELECT version FROM store_info", NULL));
    ENSURE(PQntuples(r) == 1, VAULT_EINTEGRITY, "postgresql: the schema version row is missing");
    v = r_int(r, 0, 0);
    ENSURE(v <= STORE_SCHEMA_VERSION, VAULT_ESTATE,
           "postgresql: the vault has schema %lld, this libvault knows up to %d",
           (long long)v, STORE_SCHEMA_VERSION);
    /* The first PostgreSQL layout is schema 5. */
    ENSURE(v >= 5, VAULT_EINTEGRITY,
           "postgresql: the vault has schema %lld, which no PostgreSQL vault ever had",
           (long long)v);
    *from = (int)v;
    /* Schema 6: the record a residents-quota use names (a column only,
     * NULL for the uses counted before).  ALTER TABLE needs the schema's
     * owner: an app role without it gets the server's refusal. */
    if (v < 6)
        GUARD(q(c, NULL, "migrating to schema 6", "ALTER TABLE quota_use ADD COLUMN record bytea",
                NULL));
    /* Schema 7: the partitioned tables (a vault at 7 must have them). */
    GUARD(partition_layout(c, v >= 7));
    /* Schema 8: the audit log by log (a vault at 8 must have it). */
    GUARD(audit_layout(c, v >= 8));
    if (v < STORE_SCHEMA_VERSION) {
        memset(&p, 0, sizeof p);
        p_int(&p, STORE_SCHEMA_VERSION);
        GUARD(q(c, NULL, "migrating the schema version",
                "UPDATE store_info SET version = $1::int8::int4", &p));
        c->dirty = c->bump = 1;
    }
cleanup:
    PQclear(r);
    return rc;
}

/* A callback's answer: > 0 stops with VAULT_OK, < 0 fails with it. */
static int visited(int r)
{
    return r < 0 ? r : VAULT_OK;
}

/* ---- meta ---- */

static int pg_meta_get(store_backend *be, const char *key,
                       int (*fn)(void *arg, const store_meta *row), void *arg)
{
    pg *c = P(be);
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};
    store_meta m;

    GUARD(need_read(c));
    ENSURE(key, VAULT_EINVALID, "postgresql: meta key missing");
    p_text(&p, key);
    GUARD(qs(c, &r, "reading a meta row", "SELECT value, mac FROM meta WHERE key = $1", &p));
    ENSURE(PQntuples(r) == 1, VAULT_ENOTFOUND, "postgresql: no meta value '%s'", key);
    memset(&m, 0, sizeof m);
    m.key = key;
    m.value = r_bytes(r, 0, 0, &m.len);
    r_mac(m.mac, r, 0, 1);
    rc = visited(fn(arg, &m));
cleanup:
    PQclear(r);
    return rc;
}

/* A meta row's write kind: the audit log's own rows (STORE_META_AUDIT_PREFIX)
 * are WR_OWN, every other WR_TRUST. */
static int meta_kind(const char *key)
{
    return key && strncmp(key, STORE_META_AUDIT_PREFIX, sizeof STORE_META_AUDIT_PREFIX - 1) == 0
               ? WR_OWN
               : WR_TRUST;
}

static int meta_put(pg *c, const store_meta *m)
{
    int rc = VAULT_OK;
    qp p = {0};

    ENSURE(m->key && (m->value || !m->len), VAULT_EINVALID, "postgresql: meta row incomplete");
    p_text(&p, m->key);
    p_bytes(&p, m->value ? m->value : (const uint8_t *)"", m->len);
    p_bytes(&p, m->mac, STORE_MAC_BYTES);
    GUARD(qs(c, NULL, "writing a meta row",
             "INSERT INTO meta(key, value, mac) VALUES ($1, $2, $3)"
             " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, mac = EXCLUDED.mac", &p));
cleanup:
    return rc;
}

static int bulk_meta(pg *c, const store_meta *m);

static int pg_meta_put(store_backend *be, const store_meta *m)
{
    if (P(be)->bulk)
        return bulk_meta(P(be), m);
    WRITE_OP(P(be), "writing a meta row", meta_kind(m->key), meta_put(P(be), m));
}

static int meta_delete(pg *c, const char *key)
{
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};

    ENSURE(key, VAULT_EINVALID, "postgresql: meta key missing");
    p_text(&p, key);
    GUARD(q(c, &r, "deleting a meta row", "DELETE FROM meta WHERE key = $1", &p));
    ENSURE(strcmp(PQcmdTuples(r), "1") == 0, VAULT_ENOTFOUND, "postgresql: no meta value '%s'",
           key);
cleanup:
    PQclear(r);
    return rc;
}

static int pg_meta_delete(store_backend *be, const char *key)
{
    WRITE_OP(P(be), "deleting a meta row", meta_kind(key), meta_delete(P(be), key));
}

/* ---- policies ---- */

static int pg_policy_next_id(store_backend *be, int64_t *out)
{
    pg *c = P(be);
    int rc = VAULT_OK;
    PGresult *r = NULL;

    GUARD(need_read(c));
    GUARD(q(c, &r, "reading the policies", "SELECT coalesce(max(id), 0) + 1 FROM policies", NULL));
    *out = r_int(r, 0, 0);
cleanup:
    PQclear(r);
    return rc;
}

static int policy_add(pg *c, store_policy *row)
{
    int rc = VAULT_OK;
    int64_t id = 0;
    qp p = {0};

    ENSURE(row->filename && (row->source || !row->len), VAULT_EINVALID,
           "postgresql: policy row incomplete");
    GUARD(pg_policy_next_id(&c->base, &id));
    /* The MAC covers the id store.c got from policy_next_id, in this same
     * write transaction: the same id. */
    p_int(&p, id);
    p_bytes(&p, row->hash, 32);
    p_text(&p, row->filename);
    p_textn(&p, row->source ? row->source : "", row->len);
    p_int(&p, row->applied);
    p_bytes(&p, row->mac, STORE_MAC_BYTES);
    GUARD(q(c, NULL, "adding a policy",
            "INSERT INTO policies(id, hash, filename, source, applied, mac)"
            " VALUES ($1, $2, $3, $4, $5, $6)", &p));
    row->id = id;
cleanup:
    return rc;
}

static int pg_policy_add(store_backend *be, store_policy *row)
{
    WRITE_OP(P(be), "adding a policy", WR_TRUST, policy_add(P(be), row));
}

static int pg_policy_active(store_backend *be, int (*fn)(void *arg, const store_policy *row),
                            void *arg)
{
    pg *c = P(be);
    int rc = VAULT_OK;
    PGresult *r = NULL;
    store_policy pol;
    size_t n;
    const uint8_t *h;

    GUARD(need_read(c));
    GUARD(q(c, &r, "reading the active policy",
            "SELECT id, hash, filename, source, applied, mac FROM policies ORDER BY id DESC LIMIT 1",
            NULL));
    ENSURE(PQntuples(r) == 1, VAULT_ENOTFOUND, "postgresql: no policy applied");
    memset(&pol, 0, sizeof pol);
    pol.id = r_int(r, 0, 0);
    h = r_bytes(r, 0, 1, &n);
    ENSURE(h && n == 32, VAULT_EINTEGRITY, "postgresql: the active policy's hash has the wrong size");
    memcpy(pol.hash, h, 32);
    pol.filename = r_text(r, 0, 2);
    pol.source = r_text(r, 0, 3);
    pol.len = (size_t)PQgetlength(r, 0, 3);
    pol.applied = r_int(r, 0, 4);
    r_mac(pol.mac, r, 0, 5);
    ENSURE(pol.filename && pol.source, VAULT_EINTEGRITY, "postgresql: the active policy row is incomplete");
    rc = visited(fn(arg, &pol));
cleanup:
    PQclear(r);
    return rc;
}

/* ---- grade keys ---- */

static int gradekey_add(pg *c, const store_gradekey *k)
{
    int rc = VAULT_OK;
    qp p = {0};

    ENSURE(k->grade && k->wrapped, VAULT_EINVALID, "postgresql: grade key row incomplete");
    p_text(&p, k->grade);
    p_int(&p, k->version);
    p_bytes(&p, k->wrapped, k->len);
    p_int(&p, k->created);
    p_bytes(&p, k->mac, STORE_MAC_BYTES);
    rc = q(c, NULL, "adding a grade key",
           "INSERT INTO grade_keys(grade, version, wrapped, created, mac) VALUES ($1, $2, $3, $4, $5)",
           &p);
    if (rc == VAULT_EEXISTS)
        rc = vault__err(VAULT_EEXISTS, "postgresql: grade '%s' already has key version %u",
                        k->grade, (unsigned)k->version);
cleanup:
    return rc;
}

static int pg_gradekey_add(store_backend *be, const store_gradekey *k)
{
    WRITE_OP(P(be), "adding a grade key", WR_TRUST, gradekey_add(P(be), k));
}

static int pg_gradekey_get(store_backend *be, const char *grade, uint32_t version,
                           int (*fn)(void *arg, const store_gradekey *row), void *arg)
{
    pg *c = P(be);
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};
    store_gradekey k;

    GUARD(need_read(c));
    ENSURE(grade, VAULT_EINVALID, "postgresql: no grade");
    p_text(&p, grade);
    p_int(&p, version);
    GUARD(qs(c, &r, "reading a grade key",
            "SELECT wrapped, created, mac FROM grade_keys WHERE grade = $1 AND version = $2", &p));
    if (PQntuples(r) != 1 && moved_on(c))
        /* an audited read's field under a version a rotation retired
         * after it was read (READ COMMITTED): the read starts over */
        ENSURE(0, VAULT_EBUSY, "postgresql: grade '%s' key version %u was retired while this "
               "transaction read: start over", grade, (unsigned)version);
    ENSURE(PQntuples(r) == 1, VAULT_ENOTFOUND, "postgresql: grade '%s' has no key version %u", grade,
           (unsigned)version);
    memset(&k, 0, sizeof k);
    k.grade = grade;
    k.version = version;
    k.wrapped = r_bytes(r, 0, 0, &k.len);
    k.created = r_int(r, 0, 1);
    r_mac(k.mac, r, 0, 2);
    rc = visited(fn(arg, &k));
cleanup:
    PQclear(r);
    return rc;
}

static int pg_gradekey_latest(store_backend *be, const char *grade, uint32_t *out)
{
    pg *c = P(be);
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};

    GUARD(need_read(c));
    ENSURE(grade, VAULT_EINVALID, "postgresql: no grade");
    p_text(&p, grade);
    GUARD(qs(c, &r, "reading the grade keys", "SELECT max(version) FROM grade_keys WHERE grade = $1",
            &p));
    ENSURE(PQntuples(r) == 1 && !PQgetisnull(r, 0, 0), VAULT_ENOTFOUND,
           "postgresql: grade '%s' has no key yet", grade);
    *out = (uint32_t)r_int(r, 0, 0);
cleanup:
    PQclear(r);
    return rc;
}

static int gradekey_retire(pg *c, const char *grade, uint32_t below)
{
    int rc = VAULT_OK;
    qp p = {0};

    ENSURE(grade, VAULT_EINVALID, "postgresql: no grade");
    p_text(&p, grade);
    p_int(&p, below);
    /* The foreign key of fields refuses while a field uses such a key. */
    GUARD(q_ex(c, NULL, "retiring grade keys", VAULT_ESTATE,
               "DELETE FROM grade_keys WHERE grade = $1 AND version < $2", &p));
cleanup:
    return rc;
}

static int pg_gradekey_retire(store_backend *be, const char *grade, uint32_t below_version)
{
    WRITE_OP(P(be), "retiring grade keys", WR_TRUST, gradekey_retire(P(be), grade, below_version));
}

/* ---- records ---- */

#define shard_len store_shard_len

/* Records of a result set, each with its fields, from one statement (one
 * snapshot even in READ COMMITTED, where an audited read reads without
 * the write lock: a record and its fields are never from two commits).
 * res holds one row per field (and one, its field columns NULL, for a
 * record without any), REC_COLS then the field's columns, in (id, name)
 * order; row[i] is record i's first row, count[i] its fields. */
typedef struct recset {
    PGresult *res;
    int nrec;
    store_field *fields;
    int *row;   /* per record: its first row in res */
    int *first; /* ... its first field in fields */
    int *count;
} recset;

static void recset_free(recset *s)
{
    PQclear(s->res);
    free(s->fields);
    free(s->row);
    free(s->first);
    free(s->count);
    memset(s, 0, sizeof *s);
}

#define REC_COLS "r.id, r.jurisdiction, r.created, r.updated, r.version, r.mac"
#define REC_NCOLS 6
#define FLD_COLS "f.name, f.grade, f.key_version, f.counter, f.ct, f.digest"

/* Read the records whose ids are in the bytea array param 1 of p. */
static int recset_load(recset *s, pg *c, const qp *p)
{
    int rc = VAULT_OK, i, nrows, nf = 0;
    size_t len, dl, plen = 0;
    const uint8_t *prev = NULL;

    memset(s, 0, sizeof *s);
    GUARD(qs(c, &s->res, "reading records",
            "SELECT " REC_COLS ", " FLD_COLS " FROM record_ids d JOIN records r"
            " ON r.shard = d.shard AND r.id = d.id LEFT JOIN fields f ON f.shard = r.shard"
            " AND f.record_id = r.id WHERE d.id = ANY($1) ORDER BY r.id, f.name", p));
    nrows = PQntuples(s->res);
    s->fields = calloc((size_t)nrows + 1, sizeof *s->fields);
    s->row = calloc((size_t)nrows + 1, sizeof *s->row);
    s->first = calloc((size_t)nrows + 1, sizeof *s->first);
    s->count = calloc((size_t)nrows + 1, sizeof *s->count);
    ENSURE(s->fields && s->row && s->first && s->count, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < nrows; i++) {
        const uint8_t *id = r_bytes(s->res, i, 0, &len), *d;
        store_field *f;
        if (!prev || len != plen || memcmp(prev, id, len) != 0) { /* memcmp ok: not secret */
            s->row[s->nrec] = i;
            s->first[s->nrec] = nf;
            s->nrec++;
            prev = id;
            plen = len;
        }
        if (PQgetisnull(s->res, i, REC_NCOLS))
            continue; /* a record without fields */
        f = &s->fields[nf++];
        s->count[s->nrec - 1]++;
        f->name = r_text(s->res, i, REC_NCOLS);
        f->grade = r_text(s->res, i, REC_NCOLS + 1);
        f->key_version = (uint32_t)r_int(s->res, i, REC_NCOLS + 2);
        f->counter = r_int(s->res, i, REC_NCOLS + 3);
        f->ct = r_bytes(s->res, i, REC_NCOLS + 4, &f->ct_len);
        d = r_bytes(s->res, i, REC_NCOLS + 5, &dl);
        ENSURE(dl <= STORE_DIGEST_MAX, VAULT_EINTEGRITY, "postgresql: a blind-index digest is too long");
        if (d && dl)
            memcpy(f->digest, d, dl);
        f->digest_len = d ? dl : 0;
        if (!f->ct)
            f->ct = (const uint8_t *)"";
    }
cleanup:
    return rc;
}

/* Record i of s as a store_record. */
static int recset_row(store_record *out, const recset *s, int i)
{
    int rc = VAULT_OK;
    size_t len;
    int r = s->row[i];
    const uint8_t *id = r_bytes(s->res, r, 0, &len);

    memset(out, 0, sizeof *out);
    ENSURE(id && len == VAULT_ID_BYTES, VAULT_EINTEGRITY, "postgresql: a record id has the wrong size");
    memcpy(out->id, id, VAULT_ID_BYTES);
    out->jurisdiction = r_text(s->res, r, 1);
    out->created = r_int(s->res, r, 2);
    out->updated = r_int(s->res, r, 3);
    out->version = r_int(s->res, r, 4);
    r_mac(out->mac, s->res, r, 5);
    out->nfields = (size_t)s->count[i];
    out->fields = s->fields + s->first[i];
cleanup:
    return rc;
}

/* The record of s with this id, or -1. */
static int recset_find(const recset *s, const uint8_t *id)
{
    int lo = 0, hi = s->nrec;

    while (lo < hi) {
        int mid = lo + (hi - lo) / 2, cmp;
        size_t len;
        const uint8_t *m = r_bytes(s->res, s->row[mid], 0, &len);
        cmp = len == VAULT_ID_BYTES ? memcmp(m, id, VAULT_ID_BYTES) : -1; /* memcmp ok: not secret */
        if (cmp == 0)
            return mid;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ---- what an audited read read ---- */

enum { RD_SHARD, RD_ID, RD_VER, RD_MAC, RD_N };

static void rd_reset(pg *c)
{
    int i;

    if (c->rd) {
        for (i = 0; i < RD_N; i++)
            arr_free(&c->rd[i]);
        free(c->rd);
        c->rd = NULL;
    }
    c->nrd = 0;
}

/* A record an audited read read (its row as the store returned it), for
 * the commit's check (READ_CHECK_SQL). */
static int rd_note(pg *c, const store_record *r)
{
    int rc = VAULT_OK;

    if (!c->rd) {
        c->rd = calloc(RD_N, sizeof *c->rd);
        ENSURE(c->rd, VAULT_ENOMEM, "out of memory");
        arr_start(&c->rd[RD_SHARD], OID_TEXT);
        arr_start(&c->rd[RD_ID], OID_BYTEA);
        arr_start(&c->rd[RD_VER], OID_INT8);
        arr_start(&c->rd[RD_MAC], OID_BYTEA);
    }
    ENSURE(r->jurisdiction, VAULT_EINTEGRITY, "postgresql: a record without a jurisdiction");
    arr_add(&c->rd[RD_SHARD], r->jurisdiction, shard_len(r->jurisdiction));
    arr_add(&c->rd[RD_ID], r->id, VAULT_ID_BYTES);
    arr_int(&c->rd[RD_VER], r->version);
    arr_add(&c->rd[RD_MAC], r->mac, STORE_MAC_BYTES);
    c->nrd++;
    ENSURE(!c->rd[RD_SHARD].err && !c->rd[RD_ID].err && !c->rd[RD_VER].err &&
               !c->rd[RD_MAC].err, VAULT_ENOMEM, "out of memory");
cleanup:
    return rc;
}

static int pg_record_get_batch(store_backend *be, const uint8_t *ids, size_t n,
                               int (*fn)(void *arg, size_t i, const store_record *row), void *arg)
{
    pg *c = P(be);
    int rc = VAULT_OK, at, r;
    recset s = {0};
    arr a = {0};
    qp p = {0};
    store_record rec;
    size_t i;

    GUARD(need_read(c));
    ENSURE(ids || !n, VAULT_EINVALID, "postgresql: no record ids");
    if (!n)
        goto cleanup;
    arr_start(&a, OID_BYTEA);
    for (i = 0; i < n; i++)
        arr_add(&a, ids + i * VAULT_ID_BYTES, VAULT_ID_BYTES);
    ENSURE(!a.err, VAULT_ENOMEM, "out of memory");
    p_arr(&p, &a, OID_BYTEA_ARRAY);
    GUARD(recset_load(&s, c, &p));
    for (i = 0; i < n; i++) {
        at = recset_find(&s, ids + i * VAULT_ID_BYTES);
        if (at >= 0) {
            GUARD(recset_row(&rec, &s, at));
            if (c->tx == STORE_TX_DEFERRED)
                GUARD(rd_note(c, &rec));
        }
        r = fn(arg, i, at >= 0 ? &rec : NULL);
        if (r != 0) {
            rc = visited(r);
            break;
        }
    }
cleanup:
    recset_free(&s);
    arr_free(&a);
    return rc;
}

static int record_check(const store_record *row)
{
    int rc = VAULT_OK;
    size_t i;

    ENSURE(row->jurisdiction && *row->jurisdiction, VAULT_EINVALID,
           "postgresql: record without a jurisdiction");
    ENSURE(row->fields || !row->nfields, VAULT_EINVALID, "postgresql: record fields missing");
    for (i = 0; i < row->nfields; i++) {
        const store_field *f = &row->fields[i];
        ENSURE(f->name && f->grade, VAULT_EINVALID, "postgresql: field without a name or grade");
        ENSURE(f->ct || !f->ct_len, VAULT_EINVALID, "postgresql: field ciphertext missing");
        ENSURE(f->digest_len <= STORE_DIGEST_MAX, VAULT_EINVALID,
               "postgresql: blind-index digest too long");
        ENSURE(i == 0 || strcmp(row->fields[i - 1].name, f->name) < 0, VAULT_EINVALID,
               "postgresql: a record's fields are out of name order or named twice");
    }
cleanup:
    return rc;
}

/* A record out of the directory and its shard, its fields and index rows
 * with it ($1 its id; no foreign key cascades: parted_ddl): the command
 * tag's count is the records' (0 when either row was missing). */
#define DELETE_RECORD_SQL                                                                   \
    "WITH d AS (DELETE FROM record_ids WHERE id = $1 RETURNING shard, id),"                 \
    " f AS (DELETE FROM fields x USING d WHERE x.shard = d.shard AND x.record_id = d.id),"  \
    " b AS (DELETE FROM blind_index x USING d WHERE x.shard = d.shard AND x.id = d.id)"    \
    " DELETE FROM records r USING d WHERE r.shard = d.shard AND r.id = d.id"

static int record_write(pg *c, const store_record *row, int is_new)
{
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};
    arr names = {0}, grades = {0}, kvs = {0}, ctrs = {0}, cts = {0}, dgs = {0};
    arr bfield = {0}, bdg = {0};
    size_t i, nb = 0;
    const char *j = row->jurisdiction;

    GUARD(record_check(row));
    if (!is_new) {
        /* the fields and index rows go with the record; it may come
         * back in another shard */
        p_bytes(&p, row->id, VAULT_ID_BYTES);
        GUARD(q(c, &r, "replacing a record", DELETE_RECORD_SQL, &p));
        ENSURE(strcmp(PQcmdTuples(r), "1") == 0, VAULT_ENOTFOUND, "postgresql: no such record");
        memset(&p, 0, sizeof p);
    }
    p_textn(&p, j, shard_len(j));
    p_bytes(&p, row->id, VAULT_ID_BYTES);
    p_text(&p, j);
    p_int(&p, row->created);
    p_int(&p, row->updated);
    p_int(&p, row->version);
    p_bytes(&p, row->mac, STORE_MAC_BYTES);
    rc = qs(c, NULL, "writing a record",
            "WITH d AS (INSERT INTO record_ids(id, shard) VALUES ($2, $1))"
            " INSERT INTO records(shard, id, jurisdiction, created, updated, version, mac)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)", &p);
    if (rc == VAULT_EEXISTS)
        rc = vault__err(VAULT_EEXISTS, "postgresql: record id already taken");
    GUARD(rc);
    if (!row->nfields)
        goto cleanup;
    arr_start(&names, OID_TEXT);
    arr_start(&grades, OID_TEXT);
    arr_start(&kvs, OID_INT8);
    arr_start(&ctrs, OID_INT8);
    arr_start(&cts, OID_BYTEA);
    arr_start(&dgs, OID_BYTEA);
    arr_start(&bfield, OID_TEXT);
    arr_start(&bdg, OID_BYTEA);
    for (i = 0; i < row->nfields; i++) {
        const store_field *f = &row->fields[i];
        arr_add(&names, f->name, strlen(f->name));
        arr_add(&grades, f->grade, strlen(f->grade));
        arr_int(&kvs, f->key_version);
        arr_int(&ctrs, f->counter);
        arr_add(&cts, f->ct ? f->ct : (const uint8_t *)"", f->ct_len);
        arr_add(&dgs, f->digest_len ? f->digest : NULL, f->digest_len);
        if (f->digest_len) {
            arr_add(&bfield, f->name, strlen(f->name));
            arr_add(&bdg, f->digest, f->digest_len);
            nb++;
        }
    }
    ENSURE(!names.err && !grades.err && !kvs.err && !ctrs.err && !cts.err && !dgs.err &&
               !bfield.err && !bdg.err, VAULT_ENOMEM, "out of memory");
    memset(&p, 0, sizeof p);
    p_textn(&p, j, shard_len(j));
    p_bytes(&p, row->id, VAULT_ID_BYTES);
    p_arr(&p, &names, OID_TEXT_ARRAY);
    p_arr(&p, &grades, OID_TEXT_ARRAY);
    p_arr(&p, &kvs, OID_INT8_ARRAY);
    p_arr(&p, &ctrs, OID_INT8_ARRAY);
    p_arr(&p, &cts, OID_BYTEA_ARRAY);
    p_arr(&p, &dgs, OID_BYTEA_ARRAY);
    /* A field under a grade key the store does not have: the row is wrong. */
    GUARD(qs(c, NULL, "writing a record's fields",
             "INSERT INTO fields(shard, record_id, name, grade, key_version, counter, ct, digest)"
             " SELECT $1, $2, u.* FROM unnest($3::text[], $4::text[], $5::int8[], $6::int8[],"
             " $7::bytea[], $8::bytea[]) AS u", &p));
    if (nb) {
        memset(&p, 0, sizeof p);
        p_textn(&p, j, shard_len(j));
        p_bytes(&p, row->id, VAULT_ID_BYTES);
        p_arr(&p, &bfield, OID_TEXT_ARRAY);
        p_arr(&p, &bdg, OID_BYTEA_ARRAY);
        GUARD(qs(c, NULL, "writing the blind index",
                 "INSERT INTO blind_index(shard, id, field, digest)"
                " SELECT $1, $2, u.* FROM unnest($3::text[], $4::bytea[]) AS u", &p));
    }
cleanup:
    PQclear(r);
    arr_free(&names);
    arr_free(&grades);
    arr_free(&kvs);
    arr_free(&ctrs);
    arr_free(&cts);
    arr_free(&dgs);
    arr_free(&bfield);
    arr_free(&bdg);
    return rc;
}

/* ---- bulk mode ----
 * A load (import, a copy into this store) writes new records and meta
 * rows that nothing reads back until it is done; each is a handful of
 * round trips on its own.  In bulk mode they wait in memory and go in
 * BULK_ROWS at a time: the records, fields and blind-index rows with one
 * COPY (binary) each, the meta rows with one INSERT ... ON CONFLICT over
 * arrays.  Any other statement first sends what
 * waits, so reads, counts and commits see every write made before them.
 * The rows' errors (a taken id, a grade key the store lacks) come at the
 * flush, for the batch, returned by the call that made it flush (the
 * write that filled it, any other statement, bulk_end, the commit); the
 * rows acknowledged before are lost with it, so the transaction is then
 * good only for a rollback (bulk_broken, cleared by the rollback alone):
 * nothing acknowledged is ever committed without the rest.  A bulk load
 * ends with its transaction. */

#define BULK_ROWS 2000
#define BULK_BYTES (8u << 20)

enum { BK_IDS, BK_RECORDS, BK_FIELDS, BK_BIDX, BK_MKEY, BK_MVAL, BK_MMAC, BK_N };

static int bulk_ready(pg *c);

static void bulk_reset(pg *c)
{
    size_t i;

    if (c->bk) {
        for (i = 0; i < BK_N; i++) {
            if (c->bk[i].p)
                sodium_memzero(c->bk[i].p, c->bk[i].cap);
            arr_free(&c->bk[i]);
        }
        free(c->bk);
        c->bk = NULL;
    }
    c->bulk = c->bulk_broken = c->flushing = 0;
    c->bk_records = c->bk_fields = c->bk_bidx = c->bk_meta = 0;
}

static void bulk_start_meta(pg *c)
{
    arr_start(&c->bk[BK_MKEY], OID_TEXT);
    arr_start(&c->bk[BK_MVAL], OID_BYTEA);
    arr_start(&c->bk[BK_MMAC], OID_BYTEA);
}

/* COPY binary: a tuple's field count, then each field's length and bytes. */
static void cp_tuple(arr *a, uint16_t n)
{
    uint8_t b[2] = {(uint8_t)(n >> 8), (uint8_t)n};

    arr_raw(a, b, 2);
}

/* A field: the same length-prefixed bytes as an array's element (NULL v:
 * NULL); the element count arr_add keeps is not used here. */
static void cp_val(arr *a, const void *v, size_t n)
{
    arr_add(a, v, n);
}

static void cp_text(arr *a, const char *s, size_t n)
{
    cp_val(a, s, n);
}

static void cp_int(arr *a, int64_t v)
{
    uint8_t b[8];

    put_be64(b, (uint64_t)v);
    cp_val(a, b, 8);
}

/* One COPY ... FROM STDIN (FORMAT binary) of the tuples in a. */
static int copy_in(pg *c, const char *what, const char *sql, const arr *a)
{
    static const uint8_t head[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
    static const uint8_t tail[2] = {0xff, 0xff};
    int rc = VAULT_OK;
    PGresult *r;

    r = PQexec(c->conn, sql);
    if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
        rc = pg_err(c, r, what, VAULT_EINVALID);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    if (PQputCopyData(c->conn, (const char *)head, sizeof head) != 1 ||
        PQputCopyData(c->conn, (const char *)a->p, (int)a->len) != 1 ||
        PQputCopyData(c->conn, (const char *)tail, sizeof tail) != 1 ||
        PQputCopyEnd(c->conn, NULL) != 1) {
        if (PQstatus(c->conn) != CONNECTION_OK)
            return lost(c, what);
        /* libpq could not take the data (its memory): the server is told
         * the COPY failed, and the transaction is left for the rollback */
        (void)PQputCopyEnd(c->conn, "libvault: the rows could not be sent");
        while ((r = PQgetResult(c->conn)) != NULL)
            PQclear(r);
        return vault__err(VAULT_ENOMEM, "postgresql: %s: the rows could not be sent (out of "
                                        "memory)", what);
    }
    r = PQgetResult(c->conn);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg_err(c, r, what, VAULT_EINVALID);
    PQclear(r);
    while ((r = PQgetResult(c->conn)) != NULL)
        PQclear(r);
    return rc;
}

static int bulk_flush(pg *c)
{
    int rc = VAULT_OK;
    qp p = {0};
    size_t i;

    if (c->bulk_broken)
        return vault__err(VAULT_ESTATE, "postgresql: a bulk load failed in this transaction; "
                                        "roll it back");
    if (!c->bulk || (!c->bk_records && !c->bk_meta))
        return VAULT_OK;
    c->flushing = 1;
    if (c->npq) /* the deferred statements first: order is kept */
        GUARD(pipe_run(c, NULL, 0));
    for (i = 0; i < BK_N; i++)
        ENSURE(!c->bk[i].err, VAULT_ENOMEM, "out of memory");
    if (c->bk_records)
        GUARD(copy_in(c, "loading record ids",
                      "COPY record_ids(id, shard) FROM STDIN (FORMAT binary)", &c->bk[BK_IDS]));
    if (c->bk_records)
        GUARD(copy_in(c, "loading records",
                      "COPY records(shard, id, jurisdiction, created, updated, version, mac)"
                      " FROM STDIN (FORMAT binary)", &c->bk[BK_RECORDS]));
    if (c->bk_fields)
        GUARD(copy_in(c, "loading fields",
                      "COPY fields(shard, record_id, name, grade, key_version, counter, ct, digest)"
                      " FROM STDIN (FORMAT binary)", &c->bk[BK_FIELDS]));
    if (c->bk_bidx)
        GUARD(copy_in(c, "loading the blind index",
                      "COPY blind_index(shard, id, field, digest) FROM STDIN (FORMAT binary)",
                      &c->bk[BK_BIDX]));
    if (c->bk_meta) {
        p_arr(&p, &c->bk[BK_MKEY], OID_TEXT_ARRAY);
        p_arr(&p, &c->bk[BK_MVAL], OID_BYTEA_ARRAY);
        p_arr(&p, &c->bk[BK_MMAC], OID_BYTEA_ARRAY);
        /* a key put twice in the batch: its last value */
        GUARD(q(c, NULL, "loading meta rows",
                "INSERT INTO meta(key, value, mac) SELECT DISTINCT ON (k) k, v, m"
                " FROM unnest($1::text[], $2::bytea[], $3::bytea[]) WITH ORDINALITY AS u(k, v, m, o)"
                " ORDER BY k, o DESC"
                " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, mac = EXCLUDED.mac", &p));
        c->bump = 1; /* meta rows are WR_TRUST (meta_kind): a bulk load's too */
    }
    c->dirty = 1;
cleanup:
    c->flushing = 0;
    if (rc < 0) /* the batch is gone, acknowledged rows with it */
        c->bulk_broken = 1;
    if (c->bk) {
        for (i = 0; i < BK_MKEY; i++) {
            if (c->bk[i].p)
                sodium_memzero(c->bk[i].p, c->bk[i].len);
            c->bk[i].len = 0;
            c->bk[i].err = 0;
        }
        for (i = BK_MKEY; i < BK_N; i++) {
            if (c->bk[i].p)
                sodium_memzero(c->bk[i].p, c->bk[i].cap);
            arr_free(&c->bk[i]);
        }
        bulk_start_meta(c);
    }
    c->bk_records = c->bk_fields = c->bk_bidx = c->bk_meta = 0;
    return rc;
}

static int bulk_full(pg *c)
{
    size_t i, bytes = 0;

    for (i = 0; i < BK_N; i++)
        bytes += c->bk[i].len;
    return c->bk_records + c->bk_meta >= BULK_ROWS || bytes >= BULK_BYTES;
}

static int bulk_record(pg *c, const store_record *row)
{
    int rc = VAULT_OK;
    const char *j = row->jurisdiction;
    size_t i, sl;
    arr *ids = &c->bk[BK_IDS], *rec = &c->bk[BK_RECORDS], *fld = &c->bk[BK_FIELDS];
    arr *bx = &c->bk[BK_BIDX];

    GUARD(record_check(row));
    GUARD(bulk_ready(c));
    sl = shard_len(j);
    cp_tuple(ids, 2);
    cp_val(ids, row->id, VAULT_ID_BYTES);
    cp_text(ids, j, sl);
    cp_tuple(rec, 7);
    cp_text(rec, j, sl);
    cp_val(rec, row->id, VAULT_ID_BYTES);
    cp_text(rec, j, strlen(j));
    cp_int(rec, row->created);
    cp_int(rec, row->updated);
    cp_int(rec, row->version);
    cp_val(rec, row->mac, STORE_MAC_BYTES);
    c->bk_records++;
    for (i = 0; i < row->nfields; i++) {
        const store_field *f = &row->fields[i];
        cp_tuple(fld, 8);
        cp_text(fld, j, sl);
        cp_val(fld, row->id, VAULT_ID_BYTES);
        cp_text(fld, f->name, strlen(f->name));
        cp_text(fld, f->grade, strlen(f->grade));
        cp_int(fld, f->key_version);
        cp_int(fld, f->counter);
        cp_val(fld, f->ct ? f->ct : (const uint8_t *)"", f->ct_len);
        cp_val(fld, f->digest_len ? f->digest : NULL, f->digest_len);
        c->bk_fields++;
        if (f->digest_len) {
            cp_tuple(bx, 4);
            cp_text(bx, j, sl);
            cp_val(bx, row->id, VAULT_ID_BYTES);
            cp_text(bx, f->name, strlen(f->name));
            cp_val(bx, f->digest, f->digest_len);
            c->bk_bidx++;
        }
    }
    ENSURE(!ids->err && !rec->err && !fld->err && !bx->err, VAULT_ENOMEM, "out of memory");
    if (bulk_full(c))
        GUARD(bulk_flush(c));
cleanup:
    return rc;
}

static int bulk_meta(pg *c, const store_meta *m)
{
    int rc = VAULT_OK;

    ENSURE(m->key && (m->value || !m->len), VAULT_EINVALID, "postgresql: meta row incomplete");
    GUARD(bulk_ready(c));
    arr_add(&c->bk[BK_MKEY], m->key, strlen(m->key));
    arr_add(&c->bk[BK_MVAL], m->value ? m->value : (const uint8_t *)"", m->len);
    arr_add(&c->bk[BK_MMAC], m->mac, STORE_MAC_BYTES);
    ENSURE(!c->bk[BK_MKEY].err && !c->bk[BK_MVAL].err && !c->bk[BK_MMAC].err, VAULT_ENOMEM,
           "out of memory");
    c->bk_meta++;
    if (bulk_full(c))
        GUARD(bulk_flush(c));
cleanup:
    return rc;
}

static int pg_bulk_begin(store_backend *be, size_t expected)
{
    pg *c = P(be);
    int rc = VAULT_OK;

    (void)expected;
    GUARD(need_read(c));
    ENSURE(c->tx != STORE_TX_SNAPSHOT, VAULT_ESTATE, "postgresql: a bulk load in a read-only "
                                                     "transaction");
    if (c->bulk)
        return VAULT_OK;
    if (!c->locked)
        GUARD(lock_step(c));
    c->bk = calloc(BK_N, sizeof *c->bk);
    ENSURE(c->bk, VAULT_ENOMEM, "out of memory");
    bulk_start_meta(c);
    c->bulk = 1;
cleanup:
    return rc;
}

static int pg_bulk_end(store_backend *be)
{
    pg *c = P(be);
    int rc = VAULT_OK;

    if (!c->bulk)
        return VAULT_OK;
    GUARD(bulk_flush(c));
    bulk_reset(c);
cleanup:
    return rc;
}

/* A bulk write: what wr_begin asks of any write (a live connection, a
 * transaction that may write, the write lock). */
static int bulk_ready(pg *c)
{
    int rc = VAULT_OK;

    ENSURE(!c->bulk_broken, VAULT_ESTATE, "postgresql: a bulk load failed in this transaction; "
                                          "roll it back");
    GUARD(need_read(c));
    ENSURE(c->tx != STORE_TX_SNAPSHOT, VAULT_ESTATE, "postgresql: a write in a read-only "
                                                     "transaction");
    if (!c->locked)
        GUARD(lock_step(c));
cleanup:
    return rc;
}

static int pg_record_write(store_backend *be, const store_record *row, int is_new)
{
    if (P(be)->bulk && is_new)
        return bulk_record(P(be), row);
    WRITE_OP(P(be), "writing a record", WR_DATA, record_write(P(be), row, is_new));
}

static int record_delete(pg *c, const uint8_t id[VAULT_ID_BYTES])
{
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};

    p_bytes(&p, id, VAULT_ID_BYTES);
    GUARD(q(c, &r, "deleting a record", DELETE_RECORD_SQL, &p));
    ENSURE(strcmp(PQcmdTuples(r), "1") == 0, VAULT_ENOTFOUND, "postgresql: no such record");
cleanup:
    PQclear(r);
    return rc;
}

static int pg_record_delete(store_backend *be, const uint8_t id[VAULT_ID_BYTES])
{
    WRITE_OP(P(be), "deleting a record", WR_DATA, record_delete(P(be), id));
}

static int count_of(pg *c, const char *what, const char *sql, const qp *p, int64_t *out)
{
    int rc = VAULT_OK;
    PGresult *r = NULL;

    GUARD(need_read(c));
    GUARD(q(c, &r, what, sql, p));
    *out = PQntuples(r) == 1 ? r_int(r, 0, 0) : 0;
cleanup:
    PQclear(r);
    return rc;
}

static int pg_record_count(store_backend *be, int64_t *out)
{
    return count_of(P(be), "counting records", "SELECT count(*) FROM records", NULL, out);
}

static int pg_record_scan_stale(store_backend *be, const char *grade, uint32_t below_version,
                                size_t limit, int (*fn)(void *arg, const store_record *row),
                                void *arg)
{
    pg *c = P(be);
    int rc = VAULT_OK, i, r;
    PGresult *ids = NULL;
    recset s = {0};
    arr a = {0};
    qp p = {0};
    store_record rec;

    GUARD(need_read(c));
    ENSURE(grade, VAULT_EINVALID, "postgresql: no grade");
    if (!limit)
        goto cleanup;
    p_text(&p, grade);
    p_int(&p, below_version);
    p_int(&p, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
    GUARD(q(c, &ids, "finding stale fields",
            "SELECT DISTINCT record_id FROM fields WHERE grade = $1 AND key_version < $2"
            " ORDER BY record_id LIMIT $3", &p));
    if (!PQntuples(ids))
        goto cleanup;
    arr_start(&a, OID_BYTEA);
    for (i = 0; i < PQntuples(ids); i++) {
        size_t n;
        const uint8_t *b = r_bytes(ids, i, 0, &n);
        arr_add(&a, b, n);
    }
    ENSURE(!a.err, VAULT_ENOMEM, "out of memory");
    memset(&p, 0, sizeof p);
    p_arr(&p, &a, OID_BYTEA_ARRAY);
    /* all read before the first callback, which may rewrite records */
    GUARD(recset_load(&s, c, &p));
    for (i = 0; i < s.nrec; i++) {
        GUARD(recset_row(&rec, &s, i));
        r = fn(arg, &rec);
        if (r != 0) {
            rc = visited(r);
            break;
        }
    }
cleanup:
    PQclear(ids);
    recset_free(&s);
    arr_free(&a);
    return rc;
}

static int pg_field_count_stale(store_backend *be, const char *grade, uint32_t below_version,
                                int64_t *out)
{
    qp p = {0};

    p_text(&p, grade ? grade : "");
    p_int(&p, below_version);
    return count_of(P(be), "counting stale fields",
                    "SELECT count(*) FROM fields WHERE grade = $1 AND key_version < $2", &p, out);
}

/* ---- iterators: a server-side cursor, ITER_BATCH rows at a time ---- */

struct store_iter {
    pg *c;
    uint64_t txno; /* the transaction the cursor lives in */
    char name[40];
    PGresult *batch;
    int row, done, audit;
};

static void pg_iter_free(store_iter *it)
{
    char sql[64];
    PGresult *r;

    if (!it)
        return;
    if (!it->done && !it->c->dead && it->c->tx >= 0 && it->c->txno == it->txno &&
        PQtransactionStatus(it->c->conn) == PQTRANS_INTRANS) {
        snprintf(sql, sizeof sql, "CLOSE %s", it->name);
        r = PQexec(it->c->conn, sql);
        PQclear(r);
    }
    PQclear(it->batch);
    free(it);
}

static int iter_open(store_iter **out, pg *c, int audit, const char *query, const qp *p)
{
    int rc = VAULT_OK;
    store_iter *it = calloc(1, sizeof *it);
    sbuf sql = {0};

    *out = NULL;
    ENSURE(it, VAULT_ENOMEM, "out of memory");
    it->c = c;
    it->txno = c->txno;
    it->audit = audit;
    it->done = 1;
    snprintf(it->name, sizeof it->name, "vault_iter_%llu", (unsigned long long)++c->cursors);
    sb_str(&sql, "DECLARE ");
    sb_str(&sql, it->name);
    sb_str(&sql, " NO SCROLL CURSOR FOR ");
    sb_str(&sql, query);
    ENSURE(!sql.err, VAULT_ENOMEM, "out of memory");
    GUARD(q(c, NULL, audit ? "reading the audit log" : "reading the blind index", sql.p, p));
    it->done = 0;
    *out = it;
    it = NULL;
cleanup:
    free(sql.p);
    pg_iter_free(it);
    return rc;
}

/* The next row of the cursor: 1 with *row set, 0 at the end, < 0. */
static int iter_step(store_iter *it, int *row)
{
    int rc = VAULT_OK;
    char sql[64];
    pg *c = it->c;

    if (it->batch && it->row < PQntuples(it->batch)) {
        *row = it->row++;
        return 1;
    }
    if (it->done)
        return 0;
    ENSURE(c->tx >= 0 && c->txno == it->txno, VAULT_ESTATE,
           "postgresql: an iterator used after its transaction ended");
    PQclear(it->batch);
    it->batch = NULL;
    it->row = 0;
    snprintf(sql, sizeof sql, "FETCH %d FROM %s", ITER_BATCH, it->name);
    GUARD(q(c, &it->batch, it->audit ? "reading the audit log" : "reading the blind index", sql,
            NULL));
    if (PQntuples(it->batch) < ITER_BATCH) {
        snprintf(sql, sizeof sql, "CLOSE %s", it->name);
        GUARD(q(c, NULL, "closing a cursor", sql, NULL));
        it->done = 1;
    }
    if (it->row < PQntuples(it->batch)) {
        *row = it->row++;
        return 1;
    }
    return 0;
cleanup:
    return rc;
}

static int pg_bidx_find(store_backend *be, store_iter **out, const char *field,
                        const uint8_t *digest, size_t len)
{
    pg *c = P(be);
    int rc = VAULT_OK;
    qp p = {0};

    *out = NULL;
    GUARD(need_read(c));
    ENSURE(field && digest && len && len <= STORE_DIGEST_MAX, VAULT_EINVALID,
           "postgresql: bad blind-index lookup");
    p_text(&p, field);
    p_bytes(&p, digest, len);
    GUARD(iter_open(out, c, 0,
                    "SELECT id FROM blind_index WHERE field = $1 AND digest = $2 ORDER BY id", &p));
cleanup:
    return rc;
}

static int pg_bidx_next(store_iter *it, uint8_t id[VAULT_ID_BYTES])
{
    int rc = VAULT_OK, row = 0, r;
    size_t n;
    const uint8_t *b;

    r = iter_step(it, &row);
    if (r <= 0)
        return r;
    b = r_bytes(it->batch, row, 0, &n);
    ENSURE(b && n == VAULT_ID_BYTES, VAULT_EINTEGRITY, "postgresql: a blind-index id has the wrong size");
    memcpy(id, b, VAULT_ID_BYTES);
    return 1;
cleanup:
    return rc;
}

/* ---- audit log ---- */

/* The newest audit row and the state on it: the transaction's cache of
 * one log's head (docs/postgresql.md, "Audited reads": read with the
 * log's head row locked, ah_locked, nobody else appends to the log until
 * the transaction ends; read without, it is what the transaction saw;
 * and the audit tables change in a transaction only by audit_write and
 * audit_state_put, which keep the cache, and a master-key rotation's
 * swap, which drops it). */
static int ah_fill(pg *c, const PGresult *r, const char *log)
{
    int rc = VAULT_OK;
    size_t n, len = 0, slen = 0;
    const uint8_t *hd, *e, *st;

    ah_drop(c);
    snprintf(c->ah_log, sizeof c->ah_log, "%s", store_log_name(log));
    c->ah_pos = 0;
    memset(c->ah_head, 0, 32);
    memset(c->ah_mac, 0, sizeof c->ah_mac);
    if (PQntuples(r) == 1) {
        c->ah_pos = r_int(r, 0, 0);
        e = r_bytes(r, 0, 1, &len);
        hd = r_bytes(r, 0, 2, &n);
        ENSURE(hd && n == 32, VAULT_EINTEGRITY,
               "audit log: the newest entry's chain head has the wrong size");
        memcpy(c->ah_head, hd, 32);
        if (e) {
            c->ah_entry = malloc(len + 1);
            ENSURE(c->ah_entry, VAULT_ENOMEM, "out of memory");
            memcpy(c->ah_entry, e, len);
            c->ah_len = len;
        }
        st = r_bytes(r, 0, 3, &slen);
        if (st) {
            c->ah_state = malloc(slen + 1);
            ENSURE(c->ah_state, VAULT_ENOMEM, "out of memory");
            memcpy(c->ah_state, st, slen);
            c->ah_state_len = slen;
            r_mac(c->ah_mac, r, 0, 4);
        }
    }
    c->ah_txno = c->txno;
cleanup:
    if (rc < 0)
        ah_drop(c);
    return rc;
}

/* The head row of log $1, locked for the transaction (FOR UPDATE: a
 * transaction that holds it is waited for, up to lock_timeout). */
#define AUDIT_LOCK_SQL "SELECT pos FROM audit_heads WHERE log = $1 FOR UPDATE"

/* The log's head into the cache, which holds one log's: another log's is
 * read in its place.  lock: for an append or a state (a transaction that
 * may write): the log's head row is locked first, then the head read in
 * a statement of its own, so in READ COMMITTED it is the newest (the
 * previous holder committed before the lock was had) and stays so until
 * this transaction ends: the seal numbers and chains from it, and no
 * other transaction appends to the log meanwhile.  Both go in one round
 * trip; a log's first append makes its head row first (another's first
 * append of the same log is waited for, then its row locked).  Without
 * lock (a read): the head as the transaction sees it. */
static int audit_head_load(pg *c, const char *log, int lock)
{
    int rc = VAULT_OK, made;
    PGresult *r = NULL, *lr = NULL;
    qp p = {0};

    log = store_log_name(log);
    if (c->ah_txno == c->txno && strcmp(c->ah_log, log) == 0 && (c->ah_locked || !lock))
        return VAULT_OK;
    p_text(&p, log);
    if (!lock) {
        GUARD(qs(c, &r, "reading the audit log", AUDIT_HEAD_SQL, &p));
        GUARD(ah_fill(c, r, log));
        goto cleanup;
    }
    ENSURE(c->tx != STORE_TX_SNAPSHOT, VAULT_ESTATE,
           "postgresql: locking the audit head in a read-only transaction");
    for (made = 0;; made = 1) {
        pstmt s[3];
        int n = 0;
        if (made)
            s[n++] = (pstmt){"locking the audit head",
                             "INSERT INTO audit_heads(log, pos) VALUES ($1, 0)"
                             " ON CONFLICT (log) DO NOTHING", &p, NULL, VAULT_EINVALID, PS_PLAIN, PREP_NONE, 0};
        s[n++] = (pstmt){"locking the audit head", AUDIT_LOCK_SQL, &p, &lr, VAULT_EINVALID,
                         PS_PLAIN, PREP_WANT, 0};
        s[n++] = (pstmt){"reading the audit log", AUDIT_HEAD_SQL, &p, &r, VAULT_EINVALID,
                         PS_PLAIN, PREP_WANT, 0};
        GUARD(pipe_run(c, s, n));
        if (PQntuples(lr) == 1)
            break;
        /* no head row: a new log (made now), or one with entries whose
         * row a DBA removed */
        ENSURE(PQntuples(r) == 0, VAULT_EINTEGRITY,
               "audit log: the head row of log '%s' is missing (removed outside libvault)", log);
        ENSURE(!made, VAULT_EINTEGRITY, "audit log: the head row of log '%s' could not be made",
               log);
        PQclear(lr);
        PQclear(r);
        lr = r = NULL;
    }
    GUARD(ah_fill(c, r, log));
    c->ah_locked = 1;
cleanup:
    PQclear(r);
    PQclear(lr);
    return rc;
}

static int audit_head_read(pg *c, const char *log, int lock,
                           int (*fn)(void *arg, const store_audit_head *h), void *arg)
{
    int rc = VAULT_OK;
    store_audit_head h;

    GUARD(audit_head_load(c, log, lock));
    memset(&h, 0, sizeof h);
    h.pos = c->ah_pos;
    if (c->ah_pos) {
        h.entry = c->ah_entry ? c->ah_entry : (const uint8_t *)"";
        h.len = c->ah_len;
        memcpy(h.head, c->ah_head, 32);
        h.state = c->ah_state;
        h.state_len = c->ah_state_len;
        if (h.state)
            memcpy(h.state_mac, c->ah_mac, STORE_MAC_BYTES);
    }
    rc = visited(fn(arg, &h));
cleanup:
    return rc;
}

static int pg_audit_head(store_backend *be, const char *log,
                         int (*fn)(void *arg, const store_audit_head *h), void *arg)
{
    int rc = VAULT_OK;

    GUARD(need_read(P(be)));
    rc = audit_head_read(P(be), log, 0, fn, arg);
cleanup:
    return rc;
}

typedef struct seal_ctx {
    store_audit_seal_fn seal;
    void *arg;
    int64_t head_pos;
    store_audit_row rows[PG_SEAL_CAP];
    size_t n;
    int called;
} seal_ctx;

static int seal_at_head(void *arg, const store_audit_head *h)
{
    seal_ctx *c = arg;

    c->head_pos = h->pos;
    c->called = 1;
    return c->seal(c->arg, h, c->rows, PG_SEAL_CAP, &c->n);
}

/* Seal entries at the log's head, locked (audit_head_load: the first
 * time in the transaction, one round trip) and defer their INSERT: it
 * goes in the next round trip, the commit's at the latest.  Rows that
 * don't follow the head are refused before anything is queued; a
 * position taken meanwhile (no writer but a DBA's can: the head row is
 * this transaction's) fails at the send, and the transaction with it.
 * A seal that gives no rows only locks the head (the library's chain
 * load does that before it reads the head it will chain from). */
static int audit_write(pg *c, const char *log, store_audit_seal_fn seal, void *arg)
{
    int rc = VAULT_OK;
    seal_ctx *s = NULL;
    arr pos = {0}, ent = {0}, hd = {0}, rid = {0}, usr = {0}, fl = {0};
    qp p = {0};
    size_t i;
    uint8_t *last = NULL;

    log = store_log_name(log);
    ENSURE(seal, VAULT_EINVALID, "postgresql: no seal callback");
    GUARD(need_read(c));
    ENSURE(c->tx != STORE_TX_SNAPSHOT, VAULT_ESTATE,
           "postgresql: appending to the audit log in a read-only transaction");
    s = calloc(1, sizeof *s);
    ENSURE(s, VAULT_ENOMEM, "out of memory");
    s->seal = seal;
    s->arg = arg;
    GUARD(audit_head_read(c, log, 1, seal_at_head, s));
    ENSURE(s->n <= PG_SEAL_CAP, VAULT_EINVALID, "audit log: too many entries sealed");
    if (!s->n)
        goto cleanup;
    /* Every row follows the one before, the first the head: checked
     * before any is queued, so a refused append stores nothing. */
    for (i = 0; i < s->n; i++)
        ENSURE(s->rows[i].pos == s->head_pos + 1 + (int64_t)i && s->rows[i].entry &&
                   s->rows[i].len && s->rows[i].head && s->rows[i].head_len == 32,
               VAULT_EINTEGRITY, "audit log: entries out of order");
    arr_start(&pos, OID_INT8);
    arr_start(&ent, OID_BYTEA);
    arr_start(&hd, OID_BYTEA);
    arr_start(&rid, OID_BYTEA);
    arr_start(&usr, OID_TEXT);
    arr_start(&fl, OID_INT8);
    for (i = 0; i < s->n; i++) {
        const store_audit_row *a = &s->rows[i];
        const char *u = a->user ? a->user : "";
        arr_int(&pos, a->pos);
        arr_add(&ent, a->entry, a->len);
        arr_add(&hd, a->head, a->head_len);
        arr_add(&rid, a->record_id, a->record_id ? VAULT_ID_BYTES : 0);
        arr_add(&usr, u, strlen(u));
        arr_int(&fl, a->flags);
    }
    ENSURE(!pos.err && !ent.err && !hd.err && !rid.err && !usr.err && !fl.err, VAULT_ENOMEM,
           "out of memory");
    last = malloc(s->rows[s->n - 1].len + 1);
    ENSURE(last, VAULT_ENOMEM, "out of memory");
    p_text(&p, log);
    p_arr(&p, &pos, OID_INT8_ARRAY);
    p_arr(&p, &ent, OID_BYTEA_ARRAY);
    p_arr(&p, &hd, OID_BYTEA_ARRAY);
    p_arr(&p, &rid, OID_BYTEA_ARRAY);
    p_arr(&p, &usr, OID_TEXT_ARRAY);
    p_arr(&p, &fl, OID_INT8_ARRAY);
    GUARD(pend_add(c, "appending to the audit log",
                   "INSERT INTO audit(log, pos, entry, head, record_id, \"user\", flags)"
                   " SELECT $1, * FROM unnest($2::int8[], $3::bytea[], $4::bytea[], $5::bytea[],"
                   " $6::text[], $7::int8[])", PS_AUDIT_ROWS, &p));
    /* the cache follows: the new newest row, no state on it yet; the
     * INSERT may still be queued, or sent: either way this
     * transaction's */
    {
        const store_audit_row *a = &s->rows[s->n - 1];
        memcpy(last, a->entry, a->len);
        free(c->ah_entry);
        free(c->ah_state);
        c->ah_entry = last;
        last = NULL;
        c->ah_len = a->len;
        c->ah_state = NULL;
        c->ah_state_len = 0;
        memset(c->ah_mac, 0, sizeof c->ah_mac);
        c->ah_pos = a->pos;
        memcpy(c->ah_head, a->head, 32);
    }
    c->dirty = 1;
cleanup:
    if (rc < 0 && s && s->n && c->ah_txno == c->txno && !c->pipe_broken)
        ah_drop(c); /* a failed queue or send: read it again */
    free(last);
    free(s);
    arr_free(&pos);
    arr_free(&ent);
    arr_free(&hd);
    arr_free(&rid);
    arr_free(&usr);
    arr_free(&fl);
    return rc;
}

static int pg_audit_write(store_backend *be, const char *log, store_audit_seal_fn seal, void *arg)
{
    return audit_write(P(be), log, seal, arg);
}

/* The state goes on the newest row (the cache's, checked here at once)
 * by a deferred UPDATE, checked again by the server: no row updated is
 * a division by zero (SQLSTATE 22012), which fails the transaction. */
static int audit_state_put(pg *c, const store_audit_state *st)
{
    int rc = VAULT_OK;
    qp p = {0};
    uint8_t *copy = NULL;

    ENSURE(st && st->state && st->len, VAULT_EINVALID, "postgresql: an empty audit state");
    GUARD(need_read(c));
    ENSURE(c->tx != STORE_TX_SNAPSHOT, VAULT_ESTATE,
           "postgresql: writing the audit state in a read-only transaction");
    GUARD(audit_head_load(c, st->log, 1));
    /* Only onto the log's newest row, with its chain head; the log's one
     * slot drops whatever row carried the state before (prev_pos). */
    ENSURE(st->pos > 0 && st->pos == c->ah_pos && sodium_memcmp(st->head, c->ah_head, 32) == 0,
           VAULT_EINTEGRITY, "audit log: the audit state's entry is not the newest");
    copy = malloc(st->len);
    ENSURE(copy, VAULT_ENOMEM, "out of memory");
    memcpy(copy, st->state, st->len);
    p_int(&p, st->pos);
    p_bytes(&p, st->head, 32);
    p_bytes(&p, st->state, st->len);
    p_bytes(&p, st->mac, STORE_MAC_BYTES);
    p_text(&p, store_log_name(st->log));
    GUARD(pend_add(c, "writing the audit state",
                   "WITH u AS (UPDATE audit_heads SET pos = $1, head = $2, state = $3, mac = $4"
                   " WHERE log = $5 AND EXISTS (SELECT 1 FROM audit a WHERE a.log = $5"
                   " AND a.pos = $1 AND a.head = $2"
                   " AND a.pos = (SELECT max(pos) FROM audit WHERE log = $5)) RETURNING 1)"
                   " SELECT 1 / count(*)::int8 FROM u", PS_AUDIT_STATE, &p));
    free(c->ah_state);
    c->ah_state = copy;
    copy = NULL;
    c->ah_state_len = st->len;
    memcpy(c->ah_mac, st->mac, STORE_MAC_BYTES);
    c->dirty = 1;
cleanup:
    free(copy);
    return rc;
}

static int pg_audit_state_put(store_backend *be, const store_audit_state *st, int64_t prev_pos)
{
    (void)prev_pos;
    return audit_state_put(P(be), st);
}

static int pg_audit_iter(store_backend *be, store_iter **out, const store_audit_filter *f)
{
    pg *c = P(be);
    int rc = VAULT_OK;
    qp p = {0};
    sbuf sql = {0};
    char n[16];

    *out = NULL;
    GUARD(need_read(c));
    sb_str(&sql, "SELECT pos, entry, head, record_id, \"user\", flags, log FROM audit WHERE pos > $1");
    p_int(&p, f ? f->after_pos : 0);
    if (f && f->log) {
        p_text(&p, f->log);
        snprintf(n, sizeof n, "%d", p.n);
        sb_str(&sql, " AND log = $");
        sb_str(&sql, n);
    }
    if (f && f->record_id) {
        p_bytes(&p, f->record_id, VAULT_ID_BYTES);
        snprintf(n, sizeof n, "%d", p.n);
        sb_str(&sql, " AND record_id = $");
        sb_str(&sql, n);
    }
    if (f && f->user) {
        p_text(&p, f->user);
        snprintf(n, sizeof n, "%d", p.n);
        sb_str(&sql, " AND \"user\" = $");
        sb_str(&sql, n);
    }
    sb_str(&sql, " ORDER BY log, pos");
    ENSURE(!sql.err, VAULT_ENOMEM, "out of memory");
    GUARD(iter_open(out, c, 1, sql.p, &p));
cleanup:
    free(sql.p);
    return rc;
}

static int pg_audit_next(store_iter *it, store_audit_row *row)
{
    int rc = VAULT_OK, at = 0, r;
    size_t n;

    r = iter_step(it, &at);
    if (r <= 0)
        return r;
    memset(row, 0, sizeof *row);
    row->pos = r_int(it->batch, at, 0);
    row->entry = r_bytes(it->batch, at, 1, &row->len);
    row->head = r_bytes(it->batch, at, 2, &row->head_len);
    row->record_id = r_bytes(it->batch, at, 3, &n);
    ENSURE(!row->record_id || n == VAULT_ID_BYTES, VAULT_EINTEGRITY,
           "audit log: an entry's record id has the wrong size");
    row->user = r_text(it->batch, at, 4);
    row->flags = (unsigned)r_int(it->batch, at, 5);
    row->log = r_text(it->batch, at, 6);
    ENSURE(row->entry && row->head && row->log, VAULT_EINTEGRITY,
           "audit log: an entry is incomplete");
    return 1;
cleanup:
    return rc;
}

static int pg_audit_count(store_backend *be, const char *log, int64_t *out)
{
    qp p = {0};

    /* the newest position, not count(*): found from the primary key */
    p_text(&p, store_log_name(log));
    return count_of(P(be), "counting audit entries",
                    "SELECT coalesce(max(pos), 0) FROM audit WHERE log = $1", &p, out);
}

/* The logs, from the audit rows themselves (not the head rows a DBA may
 * take out), one index probe each: the next name after the last, then
 * its newest position; and those whose head row names entries when none
 * is left (position 0: a DBA's cut). */
#define AUDIT_LOGS_SQL                                                                            \
    "WITH RECURSIVE l(log) AS (SELECT min(log) FROM audit UNION ALL"                            \
    " SELECT (SELECT min(a.log) FROM audit a WHERE a.log > l.log) FROM l WHERE l.log IS NOT NULL),"\
    " n(log) AS (SELECT log FROM l WHERE log IS NOT NULL UNION"                                  \
    " SELECT log FROM audit_heads WHERE pos > 0)"                                                \
    " SELECT n.log, coalesce((SELECT max(a.pos) FROM audit a WHERE a.log = n.log), 0) FROM n"    \
    " ORDER BY n.log"

static int pg_audit_logs(store_backend *be, int (*fn)(void *arg, const char *log, int64_t pos),
                         void *arg)
{
    pg *c = P(be);
    int rc = VAULT_OK, i;
    PGresult *r = NULL;

    GUARD(need_read(c));
    GUARD(q(c, &r, "listing the audit logs", AUDIT_LOGS_SQL, NULL));
    for (i = 0; i < PQntuples(r); i++) {
        int v;
        ENSURE(r_text(r, i, 0), VAULT_EINTEGRITY, "audit log: a log without a name");
        v = fn(arg, r_text(r, i, 0), r_int(r, i, 1));
        GUARD(visited(v));
        if (v > 0)
            break;
    }
cleanup:
    PQclear(r);
    return rc;
}

static int pg_audit_index(store_backend *be)
{
    pg *c = P(be);
    int rc = VAULT_OK;

    /* The (record_id, pos) and (user, pos) indexes are PostgreSQL's own,
     * always up to date: nothing to bring up, but only in a write. */
    GUARD(need_read(c));
    ENSURE(c->tx != STORE_TX_SNAPSHOT, VAULT_ESTATE,
           "postgresql: audit_index in a read-only transaction");
cleanup:
    return rc;
}

/* ---- checkpoints ---- */

static int checkpoint_add(pg *c, const store_checkpoint *cp)
{
    int rc = VAULT_OK;
    qp p = {0};

    ENSURE(cp->note, VAULT_EINVALID, "postgresql: checkpoint without a note");
    ENSURE(cp->size <= INT64_MAX, VAULT_EINVALID, "postgresql: checkpoint size out of range");
    p_int(&p, (int64_t)cp->size);
    p_textn(&p, cp->note, cp->len);
    p_int(&p, cp->created);
    p_bytes(&p, cp->mac, STORE_MAC_BYTES);
    GUARD(q(c, NULL, "adding a checkpoint",
            "INSERT INTO checkpoints(size, note, created, mac) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (size) DO UPDATE SET note = EXCLUDED.note, created = EXCLUDED.created,"
            " mac = EXCLUDED.mac", &p));
cleanup:
    return rc;
}

static int pg_checkpoint_add(store_backend *be, const store_checkpoint *cp)
{
    WRITE_OP(P(be), "adding a checkpoint", WR_OWN, checkpoint_add(P(be), cp));
}

static int pg_checkpoint_scan(store_backend *be, int (*fn)(void *arg, const store_checkpoint *row),
                              void *arg)
{
    pg *c = P(be);
    int rc = VAULT_OK, i, r;
    PGresult *res = NULL;
    store_checkpoint cp;

    GUARD(need_read(c));
    GUARD(q(c, &res, "reading checkpoints",
            "SELECT size, note, created, mac FROM checkpoints ORDER BY size", NULL));
    for (i = 0; i < PQntuples(res); i++) {
        memset(&cp, 0, sizeof cp);
        cp.size = (uint64_t)r_int(res, i, 0);
        cp.note = r_text(res, i, 1);
        cp.len = (size_t)PQgetlength(res, i, 1);
        cp.created = r_int(res, i, 2);
        r_mac(cp.mac, res, i, 3);
        ENSURE(cp.note, VAULT_EINTEGRITY, "postgresql: a checkpoint without its note");
        r = fn(arg, &cp);
        if (r != 0) {
            rc = visited(r);
            break;
        }
    }
cleanup:
    PQclear(res);
    return rc;
}

static int pg_checkpoint_last(store_backend *be, uint64_t *out)
{
    int64_t v = 0;
    int rc = count_of(P(be), "reading checkpoints", "SELECT coalesce(max(size), 0) FROM checkpoints",
                      NULL, &v);

    if (rc == VAULT_OK)
        *out = (uint64_t)v;
    return rc;
}

/* ---- grants ---- */

#define GRANT_COLS                                                                                \
    "id, state, issuer, issuer_role, subject_user, subject_role, subject_department, effect,"    \
    " actions, fields, grade_min, grade_max, records, jurisdiction, purposes, not_before,"       \
    " not_after, reason, break_glass, approver, revoked_by, revoke_reason, created, changed, mac," \
    " issuer_iss, issuer_sub, issuer_app, issuer_jti, approver_iss, approver_sub, approver_app,"  \
    " approver_jti"
#define GRANT_NCOLS 33

static void grant_params(qp *p, const store_grant *g)
{
    p_text(p, g->id);
    p_text(p, g->state);
    p_text(p, g->issuer);
    p_text(p, g->issuer_role ? g->issuer_role : "");
    p_text(p, g->user);
    p_text(p, g->role);
    p_text(p, g->department);
    p_int(p, g->effect);
    p_int(p, g->actions);
    p_text(p, g->fields);
    p_text(p, g->grade_min);
    p_text(p, g->grade_max);
    p_text(p, g->records);
    p_text(p, g->jurisdiction);
    p_text(p, g->purposes);
    p_int(p, g->not_before);
    p_int(p, g->not_after);
    p_text(p, g->reason ? g->reason : "");
    p_int(p, g->break_glass);
    p_text(p, g->approver);
    p_text(p, g->revoked_by);
    p_text(p, g->revoke_reason);
    p_int(p, g->created);
    p_int(p, g->changed);
    p_bytes(p, g->mac, STORE_MAC_BYTES);
    p_text(p, g->issued_by.iss);
    p_text(p, g->issued_by.sub);
    p_text(p, g->issued_by.app);
    p_text(p, g->issued_by.jti);
    p_text(p, g->approved_by.iss);
    p_text(p, g->approved_by.sub);
    p_text(p, g->approved_by.app);
    p_text(p, g->approved_by.jti);
}

static void grant_row(store_grant *g, const PGresult *r, int i)
{
    memset(g, 0, sizeof *g);
    g->id = r_text(r, i, 0);
    g->state = r_text(r, i, 1);
    g->issuer = r_text(r, i, 2);
    g->issuer_role = r_text(r, i, 3);
    g->user = r_text(r, i, 4);
    g->role = r_text(r, i, 5);
    g->department = r_text(r, i, 6);
    g->effect = (int)r_int(r, i, 7);
    g->actions = (unsigned)r_int(r, i, 8);
    g->fields = r_text(r, i, 9);
    g->grade_min = r_text(r, i, 10);
    g->grade_max = r_text(r, i, 11);
    g->records = r_text(r, i, 12);
    g->jurisdiction = r_text(r, i, 13);
    g->purposes = r_text(r, i, 14);
    g->not_before = r_int(r, i, 15);
    g->not_after = r_int(r, i, 16);
    g->reason = r_text(r, i, 17);
    g->break_glass = (int)r_int(r, i, 18);
    g->approver = r_text(r, i, 19);
    g->revoked_by = r_text(r, i, 20);
    g->revoke_reason = r_text(r, i, 21);
    g->created = r_int(r, i, 22);
    g->changed = r_int(r, i, 23);
    r_mac(g->mac, r, i, 24);
    g->issued_by.iss = r_text(r, i, 25);
    g->issued_by.sub = r_text(r, i, 26);
    g->issued_by.app = r_text(r, i, 27);
    g->issued_by.jti = r_text(r, i, 28);
    g->approved_by.iss = r_text(r, i, 29);
    g->approved_by.sub = r_text(r, i, 30);
    g->approved_by.app = r_text(r, i, 31);
    g->approved_by.jti = r_text(r, i, 32);
}

static int grant_check(const store_grant *g)
{
    int rc = VAULT_OK;

    ENSURE(g->id && g->state && g->issuer, VAULT_EINVALID, "postgresql: grant row incomplete");
cleanup:
    return rc;
}

static int grant_insert(pg *c, const store_grant *g)
{
    int rc = VAULT_OK;
    qp p = {0};

    GUARD(grant_check(g));
    grant_params(&p, g);
    rc = q(c, NULL, "adding a grant",
           "INSERT INTO grants(" GRANT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
           " $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26,"
           " $27, $28, $29, $30, $31, $32, $33)", &p);
    if (rc == VAULT_EEXISTS)
        rc = vault__err(VAULT_EEXISTS, "postgresql: grant id already taken");
cleanup:
    return rc;
}

static int pg_grant_insert(store_backend *be, const store_grant *g)
{
    WRITE_OP(P(be), "adding a grant", WR_TRUST, grant_insert(P(be), g));
}

static int grant_update(pg *c, const store_grant *g)
{
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};

    GUARD(grant_check(g));
    grant_params(&p, g);
    GUARD(q(c, &r, "updating a grant",
            "UPDATE grants SET state = $2, issuer = $3, issuer_role = $4, subject_user = $5,"
            " subject_role = $6, subject_department = $7, effect = $8, actions = $9, fields = $10,"
            " grade_min = $11, grade_max = $12, records = $13, jurisdiction = $14, purposes = $15,"
            " not_before = $16, not_after = $17, reason = $18, break_glass = $19, approver = $20,"
            " revoked_by = $21, revoke_reason = $22, created = $23, changed = $24, mac = $25,"
            " issuer_iss = $26, issuer_sub = $27, issuer_app = $28, issuer_jti = $29,"
            " approver_iss = $30, approver_sub = $31, approver_app = $32, approver_jti = $33"
            " WHERE id = $1", &p));
    ENSURE(strcmp(PQcmdTuples(r), "1") == 0, VAULT_ENOTFOUND, "postgresql: no such grant");
cleanup:
    PQclear(r);
    return rc;
}

static int pg_grant_update(store_backend *be, const store_grant *g)
{
    WRITE_OP(P(be), "updating a grant", WR_TRUST, grant_update(P(be), g));
}

static int grant_rows(pg *c, const char *id, int (*fn)(void *arg, const store_grant *row),
                      void *arg)
{
    int rc = VAULT_OK, i, r;
    PGresult *res = NULL;
    qp p = {0};
    store_grant g;

    GUARD(need_read(c));
    if (id) {
        p_text(&p, id);
        GUARD(q(c, &res, "reading a grant", "SELECT " GRANT_COLS " FROM grants WHERE id = $1", &p));
        ENSURE(PQntuples(res) == 1, VAULT_ENOTFOUND, "postgresql: no such grant");
    } else {
        /* "C" collation: byte order, as SQLite and the double compare */
        GUARD(q(c, &res, "reading the grants",
                "SELECT " GRANT_COLS " FROM grants ORDER BY created, id COLLATE \"C\"", NULL));
    }
    /* rows read whole first: fn may update grants */
    for (i = 0; i < PQntuples(res); i++) {
        grant_row(&g, res, i);
        ENSURE(g.id && g.state && g.issuer, VAULT_EINTEGRITY, "postgresql: a grant row is incomplete");
        r = fn(arg, &g);
        if (r != 0) {
            rc = visited(r);
            break;
        }
    }
cleanup:
    PQclear(res);
    return rc;
}

static int pg_grant_get(store_backend *be, const char *id,
                        int (*fn)(void *arg, const store_grant *row), void *arg)
{
    int rc = VAULT_OK;

    ENSURE(id, VAULT_EINVALID, "postgresql: no grant id");
    rc = grant_rows(P(be), id, fn, arg);
cleanup:
    return rc;
}

static int pg_grant_scan(store_backend *be, int (*fn)(void *arg, const store_grant *row), void *arg)
{
    return grant_rows(P(be), NULL, fn, arg);
}

/* ---- search quotas ---- */

/* A count of quota uses, sql (one row) with p: in a transaction that may
 * write, under the user's lock of that quota (pg_advisory_xact_lock,
 * taken first, in the same round trip), so that the count and the use
 * it lets through (quota_add) are one step: two audited reads by one
 * user, which take no write lock, can't both take the last use. */
static int quota_lock_count(pg *c, PGresult **out, const char *quota, const char *user,
                            const char *sql, const qp *p)
{
    int rc = VAULT_OK, n = 0;
    qp kp = {0};
    pstmt s[2];

    *out = NULL;
    GUARD(need_read(c));
    if (c->tx != STORE_TX_SNAPSHOT) {
        p_int(&kp, quota_key(c->write_key, quota, user));
        s[n++] = (pstmt){"counting quota uses", "SELECT pg_advisory_xact_lock($1)", &kp, NULL,
                         VAULT_EINVALID, PS_PLAIN, PREP_WANT, 0};
    }
    s[n++] = (pstmt){"counting quota uses", sql, p, out, VAULT_EINVALID, PS_PLAIN, PREP_WANT, 0};
    GUARD(pipe_run(c, s, n));
    ENSURE(PQntuples(*out) == 1, VAULT_EINTEGRITY, "postgresql: a count returned no row");
cleanup:
    if (rc < 0) {
        PQclear(*out);
        *out = NULL;
    }
    return rc;
}

static int pg_quota_count(store_backend *be, const char *quota, const char *user, int64_t since,
                          int64_t *out)
{
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};

    ENSURE(quota && user, VAULT_EINVALID, "postgresql: quota or user missing");
    p_text(&p, quota);
    p_text(&p, user);
    p_int(&p, since);
    GUARD(quota_lock_count(P(be), &r, quota, user,
                           "SELECT count(*) FROM quota_use WHERE quota = $1 AND \"user\" = $2"
                           " AND at > $3", &p));
    *out = r_int(r, 0, 0);
cleanup:
    PQclear(r);
    return rc;
}

static int quota_add(pg *c, const char *quota, const char *user, int64_t since, int64_t now)
{
    int rc = VAULT_OK;
    qp p = {0};

    ENSURE(quota && user, VAULT_EINVALID, "postgresql: quota or user missing");
    p_text(&p, quota);
    p_text(&p, user);
    p_int(&p, since);
    GUARD(q(c, NULL, "recording a quota use",
            "DELETE FROM quota_use WHERE quota = $1 AND \"user\" = $2 AND at <= $3", &p));
    p.n = 2;
    p_int(&p, now);
    GUARD(q(c, NULL, "recording a quota use",
            "INSERT INTO quota_use(quota, \"user\", at) VALUES ($1, $2, $3)", &p));
cleanup:
    return rc;
}

static int pg_quota_add(store_backend *be, const char *quota, const char *user, int64_t since,
                        int64_t now)
{
    WRITE_OP(P(be), "recording a quota use", WR_OWN, quota_add(P(be), quota, user, since, now));
}

static int pg_quota_count_records(store_backend *be, const char *quota, const char *user,
                                  int64_t since, const uint8_t record[VAULT_ID_BYTES], int64_t *out,
                                  int *seen)
{
    pg *c = P(be);
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};

    ENSURE(quota && user && record, VAULT_EINVALID, "postgresql: quota, user or record missing");
    p_text(&p, quota);
    p_text(&p, user);
    p_int(&p, since);
    p_bytes(&p, record, VAULT_ID_BYTES);
    GUARD(quota_lock_count(c, &r, quota, user,
                           "SELECT count(DISTINCT record), count(*) FILTER (WHERE record = $4)"
                           " FROM quota_use WHERE quota = $1 AND \"user\" = $2 AND at > $3"
                           " AND record IS NOT NULL", &p));
    *out = r_int(r, 0, 0);
    *seen = r_int(r, 0, 1) != 0;
cleanup:
    PQclear(r);
    return rc;
}

static int quota_add_record(pg *c, const char *quota, const char *user,
                            const uint8_t record[VAULT_ID_BYTES], int64_t since, int64_t now)
{
    int rc = VAULT_OK;
    qp p = {0};

    ENSURE(quota && user && record, VAULT_EINVALID, "postgresql: quota, user or record missing");
    p_text(&p, quota);
    p_text(&p, user);
    p_int(&p, since);
    p_bytes(&p, record, VAULT_ID_BYTES);
    GUARD(q(c, NULL, "recording a quota use",
            "DELETE FROM quota_use WHERE quota = $1 AND \"user\" = $2 AND"
            " (at <= $3 OR record = $4)", &p));
    memset(&p, 0, sizeof p);
    p_text(&p, quota);
    p_text(&p, user);
    p_int(&p, now);
    p_bytes(&p, record, VAULT_ID_BYTES);
    GUARD(q(c, NULL, "recording a quota use",
            "INSERT INTO quota_use(quota, \"user\", at, record) VALUES ($1, $2, $3, $4)", &p));
cleanup:
    return rc;
}

static int pg_quota_add_record(store_backend *be, const char *quota, const char *user,
                               const uint8_t record[VAULT_ID_BYTES], int64_t since, int64_t now)
{
    WRITE_OP(P(be), "recording a quota use", WR_OWN,
             quota_add_record(P(be), quota, user, record, since, now));
}

/* ---- row scans and destroy (backend.h, version 5: store_copy) ---- */

#define SCAN_RECORDS_PAGE 500

typedef struct scan_fwd {
    int kind;
    int (*fn)(void *arg, int kind, const void *row);
    void *arg;
} scan_fwd;

static int fwd_grant(void *arg, const store_grant *row)
{
    scan_fwd *f = arg;
    return f->fn(f->arg, f->kind, row);
}

static int fwd_checkpoint(void *arg, const store_checkpoint *row)
{
    scan_fwd *f = arg;
    return f->fn(f->arg, f->kind, row);
}

/* Each log's state, the one its newest row carries, by log. */
static int scan_states(pg *c, const scan_fwd *f)
{
    int rc = VAULT_OK, i, v = 0;
    PGresult *r = NULL;
    store_audit_state a;
    const uint8_t *hd;
    size_t n = 0;

    GUARD(q(c, &r, "reading the audit log",
            "SELECT h.log, a.pos, a.head, h.state, h.mac FROM audit_heads h JOIN audit a"
            " ON a.log = h.log AND a.pos = h.pos AND a.head = h.head WHERE h.state IS NOT NULL"
            " AND a.pos = (SELECT max(x.pos) FROM audit x WHERE x.log = h.log) ORDER BY h.log",
            NULL));
    for (i = 0; i < PQntuples(r) && v == 0; i++) {
        memset(&a, 0, sizeof a);
        a.log = r_text(r, i, 0);
        a.pos = r_int(r, i, 1);
        hd = r_bytes(r, i, 2, &n);
        ENSURE(a.log && hd && n == 32, VAULT_EINTEGRITY,
               "audit log: the newest entry's chain head has the wrong size");
        memcpy(a.head, hd, 32);
        a.state = r_bytes(r, i, 3, &a.len);
        ENSURE(a.state && a.len, VAULT_EINTEGRITY, "audit log: an audit state is empty");
        r_mac(a.mac, r, i, 4);
        v = f->fn(f->arg, STORE_ROW_AUDIT_STATE, &a);
        GUARD(visited(v));
    }
cleanup:
    PQclear(r);
    return rc;
}

/* Records in (created, id) order (PostgreSQL keeps no row ids), a page
 * at a time, each with its fields. */
static int scan_records(pg *c, const scan_fwd *f)
{
    int rc = VAULT_OK, i, at, r, n;
    PGresult *page = NULL;
    recset set = {0};
    arr a = {0};
    qp p = {0};
    store_record rec;
    int64_t after_created = INT64_MIN;
    uint8_t after_id[VAULT_ID_BYTES];
    size_t after_len = 0, len;
    const uint8_t *id;

    for (;;) {
        memset(&p, 0, sizeof p);
        p_int(&p, after_created);
        p_bytes(&p, after_id, after_len);
        GUARD(q(c, &page, "scanning records",
                "SELECT id, created FROM records WHERE (created, id) > ($1, $2)"
                " ORDER BY created, id LIMIT 500", &p)); /* SCAN_RECORDS_PAGE */
        n = PQntuples(page);
        if (n == 0)
            break;
        arr_start(&a, OID_BYTEA);
        for (i = 0; i < n; i++) {
            id = r_bytes(page, i, 0, &len);
            ENSURE(id && len == VAULT_ID_BYTES, VAULT_EINTEGRITY,
                   "postgresql: a record id has the wrong size");
            arr_add(&a, id, len);
        }
        ENSURE(!a.err, VAULT_ENOMEM, "out of memory");
        memset(&p, 0, sizeof p);
        p_arr(&p, &a, OID_BYTEA_ARRAY);
        GUARD(recset_load(&set, c, &p));
        for (i = 0; i < n; i++) {
            id = r_bytes(page, i, 0, &len);
            at = recset_find(&set, id);
            ENSURE(at >= 0, VAULT_EINTEGRITY, "postgresql: a record vanished during a scan");
            GUARD(recset_row(&rec, &set, at));
            r = f->fn(f->arg, f->kind, &rec);
            if (r != 0) {
                rc = visited(r);
                goto cleanup;
            }
        }
        id = r_bytes(page, n - 1, 0, &len);
        memcpy(after_id, id, VAULT_ID_BYTES);
        after_len = VAULT_ID_BYTES;
        after_created = r_int(page, n - 1, 1);
        recset_free(&set);
        arr_free(&a);
        PQclear(page);
        page = NULL;
        if (n < SCAN_RECORDS_PAGE)
            break;
    }
cleanup:
    recset_free(&set);
    arr_free(&a);
    PQclear(page);
    return rc;
}

static int scan_audit(pg *c, const scan_fwd *f)
{
    int rc = VAULT_OK, r;
    store_iter *it = NULL;
    store_audit_row row;

    GUARD(iter_open(&it, c, 1,
                    "SELECT pos, entry, head, record_id, \"user\", flags, log FROM audit"
                    " ORDER BY log, pos", NULL));
    while ((r = pg_audit_next(it, &row)) == 1) {
        ENSURE(row.user, VAULT_EINTEGRITY, "audit log: the entry at position %lld is incomplete",
               (long long)row.pos);
        r = f->fn(f->arg, f->kind, &row);
        if (r != 0)
            break;
    }
    rc = visited(r);
cleanup:
    pg_iter_free(it);
    return rc;
}

/* meta, policies, grade keys, quota uses: small tables, read whole. */
static int scan_table(pg *c, const scan_fwd *f)
{
    static const char *const sql[] = {
        [STORE_ROW_META] = "SELECT key, value, mac FROM meta ORDER BY key COLLATE \"C\"",
        [STORE_ROW_POLICY] = "SELECT id, hash, filename, source, applied, mac FROM policies ORDER BY id",
        [STORE_ROW_GRADEKEY] = "SELECT grade, version, wrapped, created, mac FROM grade_keys"
                               " ORDER BY grade COLLATE \"C\", version",
        [STORE_ROW_QUOTA] = "SELECT quota, \"user\", at, record FROM quota_use"
                            " ORDER BY quota COLLATE \"C\", \"user\" COLLATE \"C\", at,"
                            " record NULLS FIRST",
    };
    int rc = VAULT_OK, i, r = 0;
    PGresult *res = NULL;
    size_t n;
    const uint8_t *h;

    GUARD(q(c, &res, "scanning rows", sql[f->kind], NULL));
    for (i = 0; i < PQntuples(res) && r == 0; i++) {
        switch (f->kind) {
        case STORE_ROW_META: {
            store_meta m;
            memset(&m, 0, sizeof m);
            m.key = r_text(res, i, 0);
            m.value = r_bytes(res, i, 1, &m.len);
            r_mac(m.mac, res, i, 2);
            ENSURE(m.key && m.value, VAULT_EINTEGRITY, "postgresql: a meta row is incomplete");
            r = f->fn(f->arg, f->kind, &m);
            break;
        }
        case STORE_ROW_POLICY: {
            store_policy pol;
            memset(&pol, 0, sizeof pol);
            pol.id = r_int(res, i, 0);
            h = r_bytes(res, i, 1, &n);
            ENSURE(h && n == 32, VAULT_EINTEGRITY, "postgresql: a policy's hash has the wrong size");
            memcpy(pol.hash, h, 32);
            pol.filename = r_text(res, i, 2);
            pol.source = r_text(res, i, 3);
            pol.len = (size_t)PQgetlength(res, i, 3);
            pol.applied = r_int(res, i, 4);
            r_mac(pol.mac, res, i, 5);
            ENSURE(pol.filename && pol.source, VAULT_EINTEGRITY,
                   "postgresql: a policy row is incomplete");
            r = f->fn(f->arg, f->kind, &pol);
            break;
        }
        case STORE_ROW_GRADEKEY: {
            store_gradekey k;
            memset(&k, 0, sizeof k);
            k.grade = r_text(res, i, 0);
            k.version = (uint32_t)r_int(res, i, 1);
            k.wrapped = r_bytes(res, i, 2, &k.len);
            k.created = r_int(res, i, 3);
            r_mac(k.mac, res, i, 4);
            ENSURE(k.grade && k.wrapped, VAULT_EINTEGRITY, "postgresql: a grade key row is incomplete");
            r = f->fn(f->arg, f->kind, &k);
            break;
        }
        default: {
            store_quota_row qr;
            qr.quota = r_text(res, i, 0);
            qr.user = r_text(res, i, 1);
            qr.at = r_int(res, i, 2);
            qr.record = r_bytes(res, i, 3, &n);
            ENSURE(qr.quota && qr.user && (!qr.record || n == VAULT_ID_BYTES), VAULT_EINTEGRITY,
                   "postgresql: a quota row is incomplete");
            r = f->fn(f->arg, f->kind, &qr);
            break;
        }
        }
    }
    rc = visited(r);
cleanup:
    PQclear(res);
    return rc;
}

static int pg_row_scan(store_backend *be, int kind, int (*fn)(void *arg, int kind, const void *row),
                       void *arg)
{
    pg *c = P(be);
    int rc = VAULT_OK;
    scan_fwd f = {kind, fn, arg};

    GUARD(need_read(c));
    switch (kind) {
    case STORE_ROW_META:
    case STORE_ROW_POLICY:
    case STORE_ROW_GRADEKEY:
    case STORE_ROW_QUOTA: rc = scan_table(c, &f); break;
    case STORE_ROW_RECORD: rc = scan_records(c, &f); break;
    case STORE_ROW_GRANT: rc = grant_rows(c, NULL, fwd_grant, &f); break;
    case STORE_ROW_CHECKPOINT: rc = pg_checkpoint_scan(be, fwd_checkpoint, &f); break;
    case STORE_ROW_AUDIT: rc = scan_audit(c, &f); break;
    case STORE_ROW_AUDIT_STATE: rc = scan_states(c, &f); break;
    default: rc = vault__err(VAULT_EINVALID, "postgresql: row_scan of unknown kind %d", kind);
    }
cleanup:
    return rc;
}

/* Drop what create_schema made: the schema when it made it (CASCADE:
 * the tables, the trigger function), else only the vault's objects in
 * the schema a DBA made, which stays.  Under the create lock and the
 * write lock, so no one is inside the vault while it goes. */
static int pg_destroy(store_backend *be)
{
    pg *c = P(be);
    int rc = VAULT_OK, began = 0;
    qp p = {0};
    char sql[1200];

    ENSURE(c->tx < 0, VAULT_ESTATE, "postgresql: destroy inside a transaction");
    ENSURE(c->created, VAULT_ESTATE,
           "postgresql: %s: schema %s was not created by this connection: not dropped", c->shown,
           c->schema);
    /* A copy that failed because the connection was lost (a server
     * restart, pg_terminate_backend) must still take its schema away:
     * connect again, with the same parameters (names below are
     * schema-qualified: the search path is not needed). */
    drain(c);
    if (c->dead || PQstatus(c->conn) != CONNECTION_OK) {
        PQreset(c->conn);
        prep_forget(c); /* a new session: nothing prepared */
        ENSURE(PQstatus(c->conn) == CONNECTION_OK, VAULT_EIO,
               "postgresql: %s: cannot connect again to drop schema %s", c->shown, c->schema);
        c->dead = 0;
        GUARD(q(c, NULL, "dropping the vault",
                "SELECT set_config('client_min_messages', 'warning', false)", NULL));
    }
    GUARD(q(c, NULL, "dropping the vault", "BEGIN", NULL));
    began = 1;
    c->tx = STORE_TX_WRITE;
    p_int(&p, lock_key("libvault/create/", c->schema));
    GUARD(q(c, NULL, "dropping the vault", "SELECT pg_advisory_xact_lock($1)", &p));
    memset(&p, 0, sizeof p);
    p_int(&p, c->write_key);
    GUARD(q(c, NULL, "dropping the vault", "SELECT pg_advisory_xact_lock($1)", &p));
    /* the schema name was checked: a-z, 0-9 and _ only */
    if (c->made_schema)
        snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", c->schema);
    else
        snprintf(sql, sizeof sql,
                 "DROP TABLE %s.store_info, %s.generation, %s.meta, %s.policies, %s.grade_keys,"
                 " %s.record_ids, %s.records, %s.fields, %s.blind_index, %s.audit, %s.audit_heads,"
                 " %s.checkpoints, %s.grants, %s.quota_use CASCADE",
                 c->schema, c->schema, c->schema, c->schema, c->schema, c->schema, c->schema,
                 c->schema, c->schema, c->schema, c->schema, c->schema, c->schema, c->schema);
    GUARD(q(c, NULL, "dropping the vault", sql, NULL));
    if (!c->made_schema) {
        snprintf(sql, sizeof sql, "DROP FUNCTION %s.audit_immutable()", c->schema);
        GUARD(q(c, NULL, "dropping the vault", sql, NULL));
    }
    GUARD(q(c, NULL, "dropping the vault", "COMMIT", NULL));
    c->tx = -1;
    c->created = 0;
cleanup:
    if (rc < 0 && began)
        abandon(c); /* this call's transaction only */
    return rc;
}

/* ---- open, create, close ---- */

static void pg_free(store_backend *be)
{
    pg *c = P(be);

    if (!c)
        return;
    if (c->conn) {
        if (c->rb_inflight)
            c->rb_inflight = 0; /* its result is not needed: the connection goes */
        else
            abandon(c);
        PQfinish(c->conn);
    }
    pend_drop(c);
    ah_drop(c);
    rd_reset(c);
    PQfinish(c->ro);
    if (c->standby_info) {
        sodium_memzero(c->standby_info, strlen(c->standby_info));
        free(c->standby_info);
    }
    free(c);
}

static const store_backend pg_table = {
    .version = STORE_BACKEND_VERSION,
    .name = "postgresql",
    .free = pg_free,
    .migrate = pg_migrate,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .generation = pg_generation,
    .meta_get = pg_meta_get,
    .meta_put = pg_meta_put,
    .policy_add = pg_policy_add,
    .policy_active = pg_policy_active,
    .policy_next_id = pg_policy_next_id,
    .gradekey_add = pg_gradekey_add,
    .gradekey_get = pg_gradekey_get,
    .gradekey_latest = pg_gradekey_latest,
    .gradekey_retire = pg_gradekey_retire,
    .record_get_batch = pg_record_get_batch,
    .record_write = pg_record_write,
    .record_delete = pg_record_delete,
    .record_count = pg_record_count,
    .record_scan_stale = pg_record_scan_stale,
    .field_count_stale = pg_field_count_stale,
    .bidx_find = pg_bidx_find,
    .bidx_next = pg_bidx_next,
    .audit_write = pg_audit_write,
    .audit_head = pg_audit_head,
    .audit_iter = pg_audit_iter,
    .audit_next = pg_audit_next,
    .audit_count = pg_audit_count,
    .audit_index = pg_audit_index,
    .checkpoint_add = pg_checkpoint_add,
    .checkpoint_scan = pg_checkpoint_scan,
    .checkpoint_last = pg_checkpoint_last,
    .grant_insert = pg_grant_insert,
    .grant_get = pg_grant_get,
    .grant_update = pg_grant_update,
    .grant_scan = pg_grant_scan,
    .quota_count = pg_quota_count,
    .quota_add = pg_quota_add,
    .bulk_begin = pg_bulk_begin,
    .bulk_end = pg_bulk_end,
    .iter_free = pg_iter_free,
    .deferred_writes = 1,
    .audit_state_put = pg_audit_state_put,
    .audit_logs = pg_audit_logs,
    .many_logs = 1,
    .backup_to = NULL,
    .row_scan = pg_row_scan,
    .destroy = pg_destroy,
    .meta_delete = pg_meta_delete,
    .quota_count_records = pg_quota_count_records,
    .quota_add_record = pg_quota_add_record,
    .standby_reads = 1,
    .deferred_fresh = 1,
};

/* The tables of a new vault, schema 6, partitioned (docs/postgresql.md
 * "Schema" and "Partitions"): records and fields by the hash of their
 * shard, PG_PARTS ways alike, so a record's fields are in the partition
 * of the same number; the blind index by the hash of its digest; the id
 * directory, which holds each id once in place of a UNIQUE (id) no
 * partitioned table can have, by the hash of the id.  The partitions are
 * made after these (partition_ddl). */
#define PG_PARTS 8

static const char *const schema_ddl[] = {
    "CREATE TABLE store_info(one boolean PRIMARY KEY DEFAULT true CHECK (one),"
    " version integer NOT NULL, keycheck bytea NOT NULL)",
    "CREATE TABLE generation(one boolean PRIMARY KEY DEFAULT true CHECK (one), n bigint NOT NULL)",
    "CREATE TABLE meta(key text PRIMARY KEY, value bytea NOT NULL, mac bytea NOT NULL)",
    "CREATE TABLE policies(id bigint PRIMARY KEY, hash bytea NOT NULL, filename text NOT NULL,"
    " source text NOT NULL, applied bigint NOT NULL, mac bytea NOT NULL)",
    "CREATE TABLE grade_keys(grade text NOT NULL, version bigint NOT NULL, wrapped bytea NOT NULL,"
    " created bigint NOT NULL, mac bytea NOT NULL, PRIMARY KEY (grade, version))",
};

/* The partitioned tables; the same statements make them when an older,
 * unpartitioned vault is brought to this layout (partition_layout).
 * Fields and index rows have no foreign key to their record: the check
 * probes the partitioned records for each row written, which halved the
 * import (docs/postgresql.md "Partitions"); the record's delete takes
 * them (DELETE_RECORD_SQL), and a field is read through the directory
 * with its record, never without it.  The grade-key one stays: a grade
 * key can't be deleted while a field is sealed under it. */
static const char *const parted_ddl[] = {
    "CREATE TABLE record_ids(id bytea PRIMARY KEY, shard text NOT NULL) PARTITION BY HASH (id)",
    "CREATE TABLE records(shard text NOT NULL, id bytea NOT NULL, jurisdiction text NOT NULL,"
    " created bigint NOT NULL, updated bigint NOT NULL, version bigint NOT NULL,"
    " mac bytea NOT NULL, PRIMARY KEY (shard, id)) PARTITION BY HASH (shard)",
    "CREATE TABLE fields(shard text NOT NULL, record_id bytea NOT NULL, name text NOT NULL,"
    " grade text NOT NULL, key_version bigint NOT NULL, counter bigint NOT NULL,"
    " ct bytea NOT NULL, digest bytea, PRIMARY KEY (shard, record_id, name),"
    " FOREIGN KEY (grade, key_version) REFERENCES grade_keys(grade, version))"
    " PARTITION BY HASH (shard)",
    "CREATE INDEX fields_grade_key ON fields(grade, key_version)",
    "CREATE TABLE blind_index(shard text NOT NULL, id bytea NOT NULL, field text NOT NULL,"
    " digest bytea NOT NULL, PRIMARY KEY (field, digest, id)) PARTITION BY HASH (digest)",
    "CREATE INDEX blind_index_record ON blind_index(shard, id)",
};

/* The partitioned tables' names, as parted_ddl makes them. */
static const char *const parted_tables[] = {"record_ids", "records", "fields", "blind_index"};

static const char *const tail_ddl[] = {
    "CREATE TABLE checkpoints(size bigint PRIMARY KEY, note text NOT NULL, created bigint NOT NULL,"
    " mac bytea NOT NULL)",
    "CREATE TABLE grants(id text PRIMARY KEY, state text NOT NULL, issuer text NOT NULL,"
    " issuer_role text NOT NULL, subject_user text, subject_role text, subject_department text,"
    " effect bigint NOT NULL, actions bigint NOT NULL, fields text, grade_min text,"
    " grade_max text, records text, jurisdiction text, purposes text, not_before bigint NOT NULL,"
    " not_after bigint NOT NULL, reason text NOT NULL, break_glass bigint NOT NULL,"
    " approver text, revoked_by text, revoke_reason text, created bigint NOT NULL,"
    " changed bigint NOT NULL, mac bytea NOT NULL, issuer_iss text, issuer_sub text,"
    " issuer_app text, issuer_jti text, approver_iss text, approver_sub text, approver_app text,"
    " approver_jti text)",
    "CREATE TABLE quota_use(quota text NOT NULL, \"user\" text NOT NULL, at bigint NOT NULL,"
    " record bytea)",
    "CREATE INDEX quota_use_lookup ON quota_use(quota, \"user\", at)",
    /* Audit rows are never changed or removed by anyone but the owner
     * dropping the trigger (which the hash chain and checkpoints catch). */
    "CREATE FUNCTION audit_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " RAISE EXCEPTION 'libvault: audit entries are append-only (%)', TG_OP"
    " USING ERRCODE = 'insufficient_privilege'; END $$",
    "INSERT INTO generation(n) VALUES (0)",
};

/* The audit log, schema 8 (docs/postgresql.md "Schema"): every entry in
 * its log (the city's, '', or a shard's), positions counted per log, the
 * table partitioned by the hash of the log, PG_PARTS ways; each log's
 * head row (its newest position, chain head and audit state, MAC'd; made
 * by the log's first append, locked by every append).  Byte order (COLLATE
 * "C") for the logs' names, as the store lists them.  The immutability
 * triggers go on the table (the row one is cloned onto each partition)
 * and, for TRUNCATE, on each partition too (a statement trigger is not
 * cloned, and a partition can be truncated by itself).  After tail_ddl
 * (the trigger function). */
static const char *const audit_ddl[] = {
    "CREATE TABLE audit(log text COLLATE \"C\" NOT NULL, pos bigint NOT NULL CHECK (pos > 0),"
    " entry bytea NOT NULL, head bytea NOT NULL, record_id bytea, \"user\" text NOT NULL,"
    " flags bigint NOT NULL, PRIMARY KEY (log, pos)) PARTITION BY HASH (log)",
    "CREATE INDEX audit_by_record ON audit(record_id, log, pos) WHERE record_id IS NOT NULL",
    "CREATE INDEX audit_by_user ON audit(\"user\", log, pos)",
    "CREATE TABLE audit_heads(log text COLLATE \"C\" PRIMARY KEY,"
    " pos bigint NOT NULL CHECK (pos >= 0), head bytea, state bytea, mac bytea)",
    "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit"
    " FOR EACH ROW EXECUTE FUNCTION audit_immutable()",
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_immutable()",
};

/* The audit tables and audit's partitions, in the schema of the search
 * path. */
static int make_audit(pg *c, const char *what)
{
    int rc = VAULT_OK;
    size_t i;
    char sql[600];

    for (i = 0; i < VAULT_ARRAY_LEN(audit_ddl); i++)
        GUARD(q(c, NULL, what, audit_ddl[i], NULL));
    snprintf(sql, sizeof sql,
             "DO $$ BEGIN FOR n IN 0..%d LOOP"
             " EXECUTE format('CREATE TABLE %%I PARTITION OF audit FOR VALUES WITH (MODULUS %d,"
             " REMAINDER %%s)', 'audit_p' || n, n);"
             " EXECUTE format('CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON %%I"
             " FOR EACH STATEMENT EXECUTE FUNCTION audit_immutable()', 'audit_p' || n);"
             " END LOOP; END $$",
             PG_PARTS - 1, PG_PARTS);
    GUARD(q(c, NULL, what, sql, NULL));
cleanup:
    return rc;
}

/* The partitioned tables and their PG_PARTS partitions each (TABLE_pN,
 * N the hash remainder), in the schema of the search path. */
static int make_parted(pg *c, const char *what)
{
    int rc = VAULT_OK;
    size_t i, n = 0;
    char names[200], sql[600];

    for (i = 0; i < VAULT_ARRAY_LEN(parted_ddl); i++)
        GUARD(q(c, NULL, what, parted_ddl[i], NULL));
    for (i = 0; i < VAULT_ARRAY_LEN(parted_tables); i++)
        n += (size_t)snprintf(names + n, sizeof names - n, "%s'%s'", i ? ", " : "", parted_tables[i]);
    /* one round trip for the partitions (constant names only) */
    snprintf(sql, sizeof sql,
             "DO $$ DECLARE t text; BEGIN FOREACH t IN ARRAY ARRAY[%s] LOOP FOR n IN 0..%d LOOP"
             " EXECUTE format('CREATE TABLE %%I PARTITION OF %%I FOR VALUES WITH (MODULUS %d,"
             " REMAINDER %%s)', t || '_p' || n, t, n); END LOOP; END LOOP; END $$",
             names, PG_PARTS - 1, PG_PARTS);
    GUARD(q(c, NULL, what, sql, NULL));
cleanup:
    return rc;
}

static void keycheck_of(uint8_t out[32], const uint8_t key[32], const char *schema)
{
    crypto_generichash_state h;

    crypto_generichash_init(&h, key, 32, 32);
    crypto_generichash_update(&h, (const uint8_t *)KEYCHECK_LABEL, sizeof KEYCHECK_LABEL);
    crypto_generichash_update(&h, (const uint8_t *)schema, strlen(schema));
    crypto_generichash_final(&h, out, 32);
}

/* Make the schema, in one transaction under the create lock. */
static int create_schema(pg *c, const uint8_t key[32])
{
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};
    size_t i;
    uint8_t kc[32];
    char sql[160];

    GUARD(q(c, NULL, "creating the vault", "BEGIN", NULL));
    c->tx = STORE_TX_WRITE;
    p_int(&p, lock_key("libvault/create/", c->schema));
    GUARD(q(c, NULL, "creating the vault", "SELECT pg_advisory_xact_lock($1)", &p));
    memset(&p, 0, sizeof p);
    p_text(&p, c->schema);
    GUARD(q(c, &r, "creating the vault",
            "SELECT (SELECT count(*) FROM pg_class k WHERE k.relnamespace = n.oid)"
            " FROM pg_namespace n WHERE n.nspname = $1", &p));
    if (PQntuples(r) == 1) {
        ENSURE(r_int(r, 0, 0) == 0, VAULT_EEXISTS,
               "postgresql: %s: schema %s already holds tables", c->shown, c->schema);
    } else {
        /* the schema name was checked: a-z, 0-9 and _ only */
        snprintf(sql, sizeof sql, "CREATE SCHEMA %s", c->schema);
        GUARD(q(c, NULL, "creating the vault schema", sql, NULL));
        c->made_schema = 1;
    }
    for (i = 0; i < VAULT_ARRAY_LEN(schema_ddl); i++)
        GUARD(q(c, NULL, "creating the vault tables", schema_ddl[i], NULL));
    GUARD(make_parted(c, "creating the vault tables"));
    for (i = 0; i < VAULT_ARRAY_LEN(tail_ddl); i++)
        GUARD(q(c, NULL, "creating the vault tables", tail_ddl[i], NULL));
    GUARD(make_audit(c, "creating the vault tables"));
    keycheck_of(kc, key, c->schema);
    memset(&p, 0, sizeof p);
    p_int(&p, STORE_SCHEMA_VERSION);
    p_bytes(&p, kc, sizeof kc);
    GUARD(q(c, NULL, "creating the vault",
            "INSERT INTO store_info(version, keycheck) VALUES ($1::int8::int4, $2)", &p));
    GUARD(q(c, NULL, "creating the vault", "COMMIT", NULL));
    c->tx = -1;
    c->created = 1;
cleanup:
    PQclear(r);
    if (rc < 0) {
        c->made_schema = 0;
        abandon(c);
    }
    return rc;
}

/* An existing vault: the schema is there, and opens with this key. */
static int check_schema(pg *c, const uint8_t key[32])
{
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};
    size_t n;
    const uint8_t *kc;
    uint8_t want[32];

    p_text(&p, c->schema);
    GUARD(q(c, &r, "opening the vault", "SELECT to_regclass(quote_ident($1) || '.store_info')::text",
            &p));
    ENSURE(PQntuples(r) == 1 && !PQgetisnull(r, 0, 0), VAULT_EINTEGRITY,
           "postgresql: %s: not a libvault vault (no schema %s)", c->shown, c->schema);
    PQclear(r);
    r = NULL;
    GUARD(q(c, &r, "opening the vault", "SELECT keycheck FROM store_info", NULL));
    ENSURE(PQntuples(r) == 1, VAULT_EINTEGRITY, "postgresql: %s: not a libvault vault (no store row)",
           c->shown);
    kc = r_bytes(r, 0, 0, &n);
    keycheck_of(want, key, c->schema);
    ENSURE(kc && n == 32 && sodium_memcmp(kc, want, 32) == 0, VAULT_EAUTH,
           "postgresql: %s: wrong key for this vault", c->shown);
    memcpy(c->kc, want, sizeof c->kc);
cleanup:
    sodium_memzero(want, sizeof want);
    PQclear(r);
    return rc;
}

/* The session settings of a handle's connection (conn: the primary's,
 * or the standby's): the vault's schema first in the search path, the
 * lock timeout, warnings only. */
static int conn_setup(pg *c)
{
    int rc = VAULT_OK;
    qp p = {0};
    char tmo[32];

    p_text(&p, c->schema);
    snprintf(tmo, sizeof tmo, "%d", STORE_BUSY_TIMEOUT_MS);
    p_text(&p, tmo);
    GUARD(q(c, NULL, "setting up the connection",
            "SELECT set_config('search_path', quote_ident($1), false),"
            " set_config('lock_timeout', $2, false), set_config('client_min_messages', 'warning', false)",
            &p));
cleanup:
    return rc;
}

/* A connection to location's server, set up as the handles' are, with no
 * vault looked for. */
static int connect_to(pg **out, const char *location)
{
    int rc = VAULT_OK;
    pg *c = NULL;
    pg_loc l;

    *out = NULL;
    memset(&l, 0, sizeof l);
    ENSURE(location && store_pg_is_location(location), VAULT_EINVALID,
           "postgresql: not a PostgreSQL location");
    c = calloc(1, sizeof *c);
    ENSURE(c, VAULT_ENOMEM, "out of memory");
    c->base = pg_table;
    c->tx = -1;
    store_pg_display(c->shown, sizeof c->shown, location);
    GUARD(loc_parse(&l, location));
    snprintf(c->schema, sizeof c->schema, "%s", l.schema);
    c->write_key = lock_key("libvault/write/", c->schema);
    c->gen_key = lock_key("libvault/generation/", c->schema);
    c->rot_key = lock_key("libvault/rotation/", c->schema);
    c->conn = PQconnectdb(l.conninfo);
    ENSURE(c->conn, VAULT_ENOMEM, "out of memory");
    /* libpq's message names the server, never the password: not shown
     * anyway, the location (redacted) says where. */
    ENSURE(PQstatus(c->conn) == CONNECTION_OK, VAULT_EIO,
           "postgresql: %s: cannot connect to the server", c->shown);
    if (l.standby) {
        c->standby_info = l.standby;
        l.standby = NULL;
    }
    GUARD(conn_setup(c));
    *out = c;
    c = NULL;
cleanup:
    loc_free(&l);
    pg_free(c ? &c->base : NULL);
    return rc;
}

int store_postgresql_open(store_backend **out, const char *location, const uint8_t key[32],
                          int create)
{
    int rc = VAULT_OK;
    pg *c = NULL;

    *out = NULL;
    ENSURE(location && key, VAULT_EINVALID, "postgresql: not a PostgreSQL location");
    GUARD(connect_to(&c, location));
    if (create)
        GUARD(create_schema(c, key));
    GUARD(check_schema(c, key));
    *out = &c->base;
    c = NULL;
cleanup:
    pg_free(c ? &c->base : NULL);
    return rc;
}

/* ---- master-key rotation (docs/keyslots.md section 11) ----
 *
 * The copies under the new keys live in schemas of their own, made and
 * marked here (the schema's comment names the live schema and the vault
 * ID), so a leftover is told from anything else of that name.  The swap
 * keeps the live tables, their owner, privileges (column ones and grant
 * options too), triggers and whatever depends on them (a DBA's views):
 * in the vault's write transaction it replaces their rows with the
 * copies' (DELETE, so a reader's snapshot from before still sees the old
 * rows whole), appends the copy's audit rows past the live log's last,
 * puts the new key check in store_info, and drops the copy. */

/* The tables whose rows are replaced, children before parents (the order
 * rows go out; they come in the other way).  audit (appended to), store_info
 * (its key check updated) and generation (bumped) keep their rows. */
static const char *const rotated_tables[] = {
    "blind_index", "fields", "records", "record_ids", "grade_keys", "meta",
    "policies",    "audit_heads", "checkpoints", "grants", "quota_use",
};

#define ROTATION_MARK_PREFIX "libvault master-key rotation copy of "

/* The comment that marks a rotation copy of schema `live` of vault id. */
static void rotation_mark(char *out, size_t cap, const char *live, const uint8_t id[VAULT_ID_BYTES])
{
    char hex[2 * VAULT_ID_BYTES + 1];

    sodium_bin2hex(hex, sizeof hex, id, VAULT_ID_BYTES);
    snprintf(out, cap, ROTATION_MARK_PREFIX "%s, vault %s", live, hex);
}

/* What schema `name` is to a rotation of `mark`'s vault: 0 absent, 1 its
 * copy, 2 something else. */
static int copy_state(pg *c, int *out, const char *name, const char *mark)
{
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};

    p_text(&p, name);
    p_text(&p, mark);
    GUARD(q(c, &r, "looking for a rotation's copy",
            "SELECT (coalesce(obj_description(oid, 'pg_namespace'), '') = $2)::int::int8"
            " FROM pg_namespace WHERE nspname = $1", &p));
    *out = PQntuples(r) == 0 ? 0 : r_int(r, 0, 0) == 1 ? 1 : 2;
cleanup:
    PQclear(r);
    return rc;
}

/* "ARRAY['blind_index', ...]": the rotated tables (constant names). */
static void rotated_array(char *out, size_t cap)
{
    size_t i, n = 0;

    n += (size_t)snprintf(out + n, cap - n, "ARRAY[");
    for (i = 0; i < VAULT_ARRAY_LEN(rotated_tables) && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s'%s'", i ? ", " : "", rotated_tables[i]);
    if (n < cap)
        snprintf(out + n, cap - n, "]::text[]");
}

/* The role may do what the rotation of live's tables needs. */
static int rotation_allowed(pg *c, const char *live)
{
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};
    char tables[400], sql[1600];

    rotated_array(tables, sizeof tables);
    /* has_*_privilege with a list is true when any one is held: one
     * privilege a call. */
    snprintf(sql, sizeof sql,
             "SELECT has_database_privilege(current_database(), 'CREATE')::int::int8,"
             " (SELECT count(*) FROM unnest(%s) t, (VALUES ('SELECT'), ('INSERT'), ('DELETE')) w(p)"
             "  WHERE to_regclass(quote_ident($1) || '.' || t) IS NULL"
             "  OR NOT has_table_privilege(quote_ident($1) || '.' || t, w.p)),"
             " (to_regclass(quote_ident($1) || '.audit') IS NOT NULL"
             "  AND has_table_privilege(quote_ident($1) || '.store_info', 'SELECT')"
             "  AND has_table_privilege(quote_ident($1) || '.store_info', 'UPDATE')"
             "  AND has_table_privilege(quote_ident($1) || '.generation', 'SELECT')"
             "  AND has_table_privilege(quote_ident($1) || '.generation', 'UPDATE')"
             "  AND has_table_privilege(quote_ident($1) || '.audit', 'SELECT')"
             "  AND has_table_privilege(quote_ident($1) || '.audit', 'INSERT'))::int::int8",
             tables);
    p_text(&p, live);
    GUARD(q(c, &r, "checking the rotation's privileges", sql, &p));
    ENSURE(r_int(r, 0, 0) == 1, VAULT_EDENIED,
           "postgresql: %s: master-key rotation needs CREATE on the database (for the copies' "
           "schemas): run it as the vault's owner", c->shown);
    ENSURE(r_int(r, 0, 1) == 0 && r_int(r, 0, 2) == 1, VAULT_EDENIED,
           "postgresql: %s: master-key rotation needs SELECT, INSERT and DELETE on the tables of "
           "schema %s and UPDATE on its store_info and generation: run it as the vault's owner",
           c->shown, live);
    PQclear(r);
    r = NULL;
    /* The swap deletes the live rows: nothing outside the vault may hang
     * on them (a foreign key would cascade, null or refuse), and no
     * publication may carry the deletes (quota_use has no key). */
    snprintf(sql, sizeof sql,
             "WITH t AS (SELECT k.oid FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace"
             "  WHERE n.nspname = $1 AND k.relname = ANY (%s || ARRAY['audit', 'store_info',"
             "  'generation'])),"
             /* and their partitions, whose foreign keys are the vault's own */
             " v AS (SELECT oid FROM t UNION SELECT i.inhrelid FROM pg_inherits i"
             "  WHERE i.inhparent IN (SELECT oid FROM t))"
             " SELECT (SELECT format('%%s on %%s', k.conname, k.conrelid::regclass) FROM pg_constraint k"
             "  WHERE k.contype = 'f' AND k.confrelid IN (SELECT oid FROM v)"
             "  AND k.conrelid NOT IN (SELECT oid FROM v) LIMIT 1),"
             " (SELECT string_agg(DISTINCT pubname, ', ') FROM pg_publication_tables"
             "  WHERE schemaname = $1),"
             " (SELECT format('%%s on %%s', t.tgname, t.tgrelid::regclass) FROM pg_trigger t"
             "  WHERE t.tgrelid IN (SELECT oid FROM v) AND NOT t.tgisinternal"
             "  AND t.tgname NOT IN ('audit_no_change', 'audit_no_truncate') LIMIT 1)",
             tables);
    GUARD(q(c, &r, "checking what refers to the vault", sql, &p));
    ENSURE(PQgetisnull(r, 0, 0), VAULT_ESTATE,
           "postgresql: %s: the foreign key %s refers to a table of schema %s: the rotation would "
           "delete through it; drop it first", c->shown, PQgetvalue(r, 0, 0), live);
    ENSURE(PQgetisnull(r, 0, 1), VAULT_ESTATE,
           "postgresql: %s: schema %s's tables are in the publication %s: take them out for the "
           "rotation", c->shown, live, PQgetvalue(r, 0, 1));
    ENSURE(PQgetisnull(r, 0, 2), VAULT_ESTATE,
           "postgresql: %s: the trigger %s would fire for every row the rotation replaces: "
           "disable or drop it first", c->shown, PQgetvalue(r, 0, 2));
cleanup:
    PQclear(r);
    return rc;
}

int store_pg_lost(const store_backend *be)
{
    const pg *c = (const pg *)be;

    /* a ROLLBACK in flight: the next use tells (drain) */
    return c->dead || !c->conn || PQstatus(c->conn) == CONNECTION_BAD;
}

int store_pg_rotation_allowed(const char *live_loc)
{
    int rc = VAULT_OK;
    pg *c = NULL;

    GUARD(connect_to(&c, live_loc));
    GUARD(rotation_allowed(c, c->schema));
cleanup:
    pg_free(c ? &c->base : NULL);
    return rc;
}

int store_pg_which_key(const char *location, const uint8_t *const *keys, size_t n, int *which)
{
    int rc = VAULT_OK;
    pg *c = NULL;
    PGresult *r = NULL;
    qp p = {0};
    const uint8_t *kc;
    uint8_t want[32];
    size_t len = 0, i;

    *which = -1;
    GUARD(connect_to(&c, location));
    GUARD(q(c, NULL, "reading the vault's key check", "BEGIN", NULL));
    c->tx = STORE_TX_WRITE;
    /* the write lock: waits for a transaction holding it (a commit under
     * way) to end, so what is read after is its outcome */
    p_int(&p, c->write_key);
    GUARD(q(c, NULL, "taking the write lock", "SELECT pg_advisory_xact_lock($1)", &p));
    GUARD(q(c, &r, "reading the vault's key check", "SELECT keycheck FROM store_info", NULL));
    kc = PQntuples(r) == 1 ? r_bytes(r, 0, 0, &len) : NULL;
    ENSURE(kc && len == 32, VAULT_EINTEGRITY, "postgresql: %s: the vault's store row is missing",
           c->shown);
    for (i = 0; i < n; i++) {
        keycheck_of(want, keys[i], c->schema);
        if (sodium_memcmp(kc, want, 32) == 0)
            *which = (int)i;
    }
cleanup:
    sodium_memzero(want, sizeof want);
    PQclear(r);
    if (c)
        abandon(c);
    pg_free(c ? &c->base : NULL);
    return rc;
}

/* On a new connection to next_loc, in a transaction *out_c is left in:
 * what the schema there is to a rotation of live_loc's vault id
 * (copy_state), and a marked copy dropped (*state 1: it was there).  On
 * failure nothing is left open. */
static int copy_schema_begin(pg **out_c, int *state, const char *live_loc, const char *next_loc,
                             const uint8_t id[VAULT_ID_BYTES], const char *what)
{
    int rc = VAULT_OK, began = 0;
    pg *c = NULL;
    pg_loc live;
    char mark[200], sql[200];

    *out_c = NULL;
    *state = 0;
    memset(&live, 0, sizeof live);
    GUARD(loc_parse(&live, live_loc));
    GUARD(connect_to(&c, next_loc));
    ENSURE(strcmp(live.schema, c->schema) != 0, VAULT_EINVALID,
           "postgresql: rotation: the copy's schema is the vault's");
    rotation_mark(mark, sizeof mark, live.schema, id);
    GUARD(q(c, NULL, what, "BEGIN", NULL));
    began = 1;
    GUARD(copy_state(c, state, c->schema, mark));
    /* schema names were checked: a-z, 0-9 and _ only */
    if (*state == 1) {
        snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", c->schema);
        GUARD(q(c, NULL, "dropping an earlier rotation's copy", sql, NULL));
    }
    *out_c = c;
    c = NULL;
cleanup:
    if (c && began)
        abandon(c);
    pg_free(c ? &c->base : NULL);
    loc_free(&live);
    return rc;
}

/* Commit what copy_schema_begin began (and whatever was added), and let
 * the connection go. */
static int copy_schema_end(pg *c, int rc, const char *what)
{
    if (rc == VAULT_OK)
        rc = q(c, NULL, what, "COMMIT", NULL);
    if (rc < 0)
        abandon(c);
    pg_free(&c->base);
    return rc;
}

int store_pg_rotation_prepare(const char *live_loc, const char *next_loc,
                              const uint8_t id[VAULT_ID_BYTES], int *cleaned)
{
    int rc = VAULT_OK, state = 0;
    pg *c = NULL;
    pg_loc live;
    char mark[200], sql[400];
    const char *what = "making the rotation's schema";

    memset(&live, 0, sizeof live);
    *cleaned = 0;
    GUARD(loc_parse(&live, live_loc));
    GUARD(copy_schema_begin(&c, &state, live_loc, next_loc, id, what));
    ENSURE(state != 2, VAULT_EEXISTS,
           "postgresql: %s: schema %s exists and is not this vault's rotation copy: move it "
           "away first", c->shown, c->schema);
    *cleaned = state == 1;
    /* the mark is made of schema names, hex and constant text */
    rotation_mark(mark, sizeof mark, live.schema, id);
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", c->schema);
    GUARD(q(c, NULL, what, sql, NULL));
    snprintf(sql, sizeof sql, "COMMENT ON SCHEMA %s IS '%s'", c->schema, mark);
    GUARD(q(c, NULL, what, sql, NULL));
cleanup:
    if (c)
        rc = copy_schema_end(c, rc, what);
    if (rc < 0)
        *cleaned = 0;
    loc_free(&live);
    return rc;
}

int store_pg_rotation_discard(const char *live_loc, const char *next_loc,
                              const uint8_t id[VAULT_ID_BYTES])
{
    int rc, state = 0;
    pg *c = NULL;
    const char *what = "dropping the rotation's copy";

    rc = copy_schema_begin(&c, &state, live_loc, next_loc, id, what);
    return c ? copy_schema_end(c, rc, what) : rc;
}

/* The column list of live.table, quoted by the server. */
static int columns_of(pg *c, char **out, const char *live, const char *table)
{
    int rc = VAULT_OK;
    PGresult *r = NULL;
    qp p = {0};

    *out = NULL;
    p_text(&p, live);
    p_text(&p, table);
    GUARD(q(c, &r, "reading the vault's columns",
            "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute"
            " WHERE attrelid = to_regclass(quote_ident($1) || '.' || quote_ident($2))"
            " AND attnum > 0 AND NOT attisdropped", &p));
    ENSURE(PQntuples(r) == 1 && !PQgetisnull(r, 0, 0), VAULT_EINTEGRITY,
           "postgresql: %s: table %s.%s of the vault is missing", c->shown, live, table);
    *out = strdup(PQgetvalue(r, 0, 0));
    ENSURE(*out, VAULT_ENOMEM, "out of memory");
cleanup:
    PQclear(r);
    return rc;
}

/* INSERT INTO live.table (cols) SELECT cols FROM next.table [where]. */
static int rows_from(pg *c, const char *live, const char *next, const char *table,
                     const char *where, const qp *p)
{
    int rc = VAULT_OK;
    char *cols = NULL, *sql = NULL;
    size_t n;

    GUARD(columns_of(c, &cols, live, table));
    n = 2 * strlen(cols) + 3 * PG_SCHEMA_MAX + 200 + (where ? strlen(where) : 0);
    sql = malloc(n);
    ENSURE(sql, VAULT_ENOMEM, "out of memory");
    ENSURE((size_t)snprintf(sql, n, "INSERT INTO %s.%s (%s) SELECT %s FROM %s.%s%s", live, table,
                            cols, cols, next, table, where ? where : "") < n,
           VAULT_EINVALID, "postgresql: rotation: names too long");
    GUARD(q(c, NULL, "putting the rows under the new keys in place", sql, p));
cleanup:
    free(cols);
    free(sql);
    return rc;
}

/* Replace `live`'s rows with `next`'s (same database, same schema
 * version), in the caller's transaction; then drop next (mark: its
 * comment, checked). */
static int swap_one(pg *c, const char *live, const char *next, const uint8_t key[32],
                    const char *mark)
{
    int rc = VAULT_OK, state = 0;
    char sql[2048]; /* the longest, the comparison: about 420 + 8 names of at most 63 */
    uint8_t kc[32];
    qp p = {0};
    PGresult *r = NULL;
    int64_t last;
    size_t i, k;

    ENSURE(schema_ok(live) && schema_ok(next) && strcmp(live, next) != 0 &&
               strlen(live) <= PG_SCHEMA_MAX && strlen(next) <= PG_SCHEMA_MAX,
           VAULT_EINVALID, "postgresql: rotation: bad schema names");
    GUARD(copy_state(c, &state, next, mark));
    ENSURE(state == 1, VAULT_EINTEGRITY,
           "postgresql: %s: schema %s is not this rotation's copy", c->shown, next);
    /* each log's newest entry in live, and how many of them the copy
     * lacks (with that chain head at that position) */
    snprintf(sql, sizeof sql,
             "WITH m AS (SELECT log, max(pos) AS pos FROM %s.audit GROUP BY log)"
             " SELECT ((SELECT version FROM %s.store_info) = (SELECT version FROM %s.store_info))"
             "::int::int8, (SELECT count(*) FROM m),"
             " (SELECT count(*) FROM m WHERE NOT EXISTS (SELECT 1 FROM %s.audit l"
             "  JOIN %s.audit n USING (log, pos) WHERE l.log = m.log AND l.pos = m.pos"
             "  AND l.head = n.head))",
             live, live, next, live, next);
    ENSURE(strlen(sql) < sizeof sql - 1, VAULT_EINVALID, "postgresql: rotation: names too long");
    GUARD(q(c, &r, "comparing the copy with the vault", sql, NULL));
    ENSURE(r_int(r, 0, 0) == 1, VAULT_ESTATE,
           "postgresql: %s: the copy's schema version is not the vault's", c->shown);
    last = r_int(r, 0, 1);
    /* the copy holds each live log, to its last entry, and more */
    ENSURE(last == 0 || r_int(r, 0, 2) == 0, VAULT_EINTEGRITY,
           "postgresql: %s: the copy's audit log does not continue the vault's", c->shown);
    for (i = 0; i < VAULT_ARRAY_LEN(rotated_tables); i++) {
        snprintf(sql, sizeof sql, "DELETE FROM %s.%s", live, rotated_tables[i]);
        GUARD(q(c, NULL, "taking the rows under the old keys out", sql, NULL));
    }
    for (k = VAULT_ARRAY_LEN(rotated_tables); k > 0; k--)
        GUARD(rows_from(c, live, next, rotated_tables[k - 1], NULL, NULL));
    snprintf(sql, sizeof sql,
             " WHERE pos > coalesce((SELECT max(l.pos) FROM %s.audit l WHERE l.log = %s.audit.log),"
             " 0)", live, next);
    GUARD(rows_from(c, live, next, "audit", sql, NULL));
    keycheck_of(kc, key, live);
    memset(&p, 0, sizeof p);
    p_bytes(&p, kc, sizeof kc);
    PQclear(r);
    r = NULL;
    snprintf(sql, sizeof sql, "UPDATE %s.store_info SET keycheck = $1", live);
    GUARD(q(c, &r, "putting the new key check in place", sql, &p));
    ENSURE(strcmp(PQcmdTuples(r), "1") == 0, VAULT_EINTEGRITY,
           "postgresql: %s: the store row of %s is missing", c->shown, live);
    snprintf(sql, sizeof sql, "UPDATE %s.generation SET n = n + 1", live);
    GUARD(q(c, NULL, "putting the new key check in place", sql, NULL));
    /* the audit tables and the generation row changed under the
     * transaction's copies: read again if needed */
    ah_drop(c);
    c->gen_txno = 0;
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", next);
    GUARD(q(c, NULL, "dropping the rotation's copy", sql, NULL));
cleanup:
    PQclear(r);
    sodium_memzero(kc, sizeof kc);
    return rc;
}

int store_pg_rotation_hold(store_backend *be)
{
    pg *c = P(be);
    int rc = VAULT_OK;
    qp p = {0};

    ENSURE(c->tx == STORE_TX_WRITE && c->locked, VAULT_ESTATE,
           "postgresql: the rotation lock is taken in a write transaction");
    p_int(&p, c->rot_key);
    GUARD(q(c, NULL, "waiting for the audited reads under way",
            "SELECT pg_advisory_xact_lock($1)", &p));
cleanup:
    return rc;
}

int store_pg_rotate_swap(store_backend *be, const char *live_rk_loc, const char *next_loc,
                         const char *next_rk_loc, const uint8_t key[32], const uint8_t rk_key[32],
                         const uint8_t id[VAULT_ID_BYTES])
{
    pg *c = P(be);
    int rc = VAULT_OK;
    pg_loc lrk, n, nrk;
    char mark[200];

    memset(&lrk, 0, sizeof lrk);
    memset(&n, 0, sizeof n);
    memset(&nrk, 0, sizeof nrk);
    ENSURE(c->tx == STORE_TX_WRITE && c->locked, VAULT_ESTATE,
           "postgresql: rotation: the swap runs in the vault's write transaction");
    GUARD(loc_parse(&lrk, live_rk_loc));
    GUARD(loc_parse(&n, next_loc));
    GUARD(loc_parse(&nrk, next_rk_loc));
    /* The commit must stay committed: the keys file is replaced once it
     * returns (an asynchronous commit lost in a crash or failover would
     * leave the tables under keys no file holds). */
    GUARD(q(c, NULL, "rotating the vault's key",
            "SELECT set_config('synchronous_commit', CASE current_setting('synchronous_commit')"
            " WHEN 'remote_apply' THEN 'remote_apply' ELSE 'on' END, true)", NULL));
    rotation_mark(mark, sizeof mark, c->schema, id);
    GUARD(swap_one(c, c->schema, n.schema, key, mark));
    rotation_mark(mark, sizeof mark, lrk.schema, id);
    GUARD(swap_one(c, lrk.schema, nrk.schema, rk_key, mark));
    c->dirty = c->bump = 1;
cleanup:
    loc_free(&lrk);
    loc_free(&n);
    loc_free(&nrk);
    return rc;
}

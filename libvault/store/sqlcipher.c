/* store/sqlcipher.c: the SQLCipher backend (store/backend.h).
 *
 * One encrypted SQLite file per vault: WAL mode, a busy timeout, write
 * transactions taken with BEGIN IMMEDIATE so writers serialise, snapshot
 * transactions with a deferred BEGIN so readers don't wait for them.
 * Schema 6 (storage v2 as schema 3 made it, docs/storage.md, with the
 * audit state on the newest audit row (4), the principals on each grant
 * (5) and the record a residents-quota use names (6)):
 *  - records: an integer row id (rid) so rows append in import order, the
 *    random public id in one unique index, and the record's fields in its
 *    own row (body), so a read touches the id index and one page;
 *  - blind_index: appended in import order, looked up through a covering
 *    index (field, digest, id);
 *  - audit: no index on the hot path; the report indexes audit_by_record
 *    and audit_by_user are brought up to date at checkpoints (audit_index)
 *    and reports read them plus the short tail after them; the newest
 *    row carries the audit state (state, state_mac), so a commit that
 *    appends one entry writes one page;
 *  - every row that decides access carries the MAC store.c gave it.
 * This file is the only one that knows SQL, PRAGMAs or SQLCipher. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store/sqlcipher.h"
#include "store/store.h"
#include "text.h"

/* Prepared statements, created on first use and kept for the connection. */
enum {
    Q_META_GET,
    Q_META_PUT,
    Q_META_UPD,
    Q_META_DEL,
    Q_POLICY_ADD,
    Q_POLICY_ACTIVE,
    Q_POLICY_NEXT,
    Q_GK_ADD,
    Q_GK_GET,
    Q_GK_LATEST,
    Q_GK_RETIRE,
    Q_REC_INSERT,
    Q_REC_UPDATE,
    Q_REC_GET,
    Q_REC_BODY,
    Q_REC_DEL,
    Q_REC_COUNT,
    Q_REC_SCAN,
    Q_BIDX_PUT,
    Q_BIDX_DEL,
    Q_BIDX_FIND,
    Q_DATA_VERSION,
    Q_AUDIT_APPEND,
    Q_AUDIT_LAST,
    Q_AUDIT_COUNT,
    Q_AUDIT_STATE_SET,
    Q_AUDIT_STATE_DROP,
    Q_STATE_GET,
    Q_STATE_PUT,
    Q_CP_ADD,
    Q_CP_LAST,
    Q_GRANT_INSERT,
    Q_GRANT_GET,
    Q_GRANT_UPDATE,
    Q_QUOTA_COUNT,
    Q_QUOTA_PRUNE,
    Q_QUOTA_ADD,
    Q_QUOTA_RECORDS,
    Q_QUOTA_FORGET,
    Q_QUOTA_ADD_RECORD,
    Q__COUNT
};


/* The grant columns of storage v1 (before the MAC). */
#define GRANT_COLS_V1                                                                              \
    "id, state, issuer, issuer_role, subject_user, subject_role, subject_department, effect,"     \
    " actions, fields, grade_min, grade_max, records, jurisdiction, purposes, not_before,"        \
    " not_after, reason, break_glass, approver, revoked_by, revoke_reason, created, changed"

/* ... the principals of schema 5 ... */
#define GRANT_COLS_V5                                                                              \
    "issuer_iss, issuer_sub, issuer_app, issuer_jti, approver_iss, approver_sub, approver_app,"   \
    " approver_jti"

/* ... and of now (schema 3 added the MAC). */
#define GRANT_COLS GRANT_COLS_V1 ", mac, " GRANT_COLS_V5

static const char *const query_sql[Q__COUNT] = {
    [Q_META_GET] = "SELECT value, mac FROM meta WHERE key = ?1",
    [Q_META_PUT] = "INSERT INTO meta(key, value, mac) VALUES (?1, ?2, ?3)",
    [Q_META_UPD] = "UPDATE meta SET value = ?2, mac = ?3 WHERE key = ?1",
    [Q_META_DEL] = "DELETE FROM meta WHERE key = ?1",
    [Q_POLICY_ADD] = "INSERT INTO policies(id, hash, filename, source, applied, mac) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_POLICY_ACTIVE] = "SELECT id, hash, filename, source, applied, mac FROM policies "
                        "ORDER BY id DESC LIMIT 1",
    [Q_POLICY_NEXT] = "SELECT coalesce(max(id), 0) + 1 FROM policies",
    [Q_GK_ADD] = "INSERT INTO grade_keys(grade, version, wrapped, created, mac) "
                 "VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_GK_GET] = "SELECT wrapped, created, mac FROM grade_keys WHERE grade = ?1 AND version = ?2",
    [Q_GK_LATEST] = "SELECT max(version) FROM grade_keys WHERE grade = ?1",
    [Q_GK_RETIRE] = "DELETE FROM grade_keys WHERE grade = ?1 AND version < ?2",
    [Q_REC_INSERT] = "INSERT INTO records(id, jurisdiction, created, updated, version, body, mac) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_REC_UPDATE] = "UPDATE records SET jurisdiction = ?2, created = ?3, updated = ?4, "
                     "version = ?5, body = ?6, mac = ?7 WHERE id = ?1",
    [Q_REC_GET] = "SELECT id, jurisdiction, created, updated, version, body, mac FROM records "
                  "WHERE id = ?1",
    [Q_REC_BODY] = "SELECT body FROM records WHERE id = ?1",
    [Q_REC_DEL] = "DELETE FROM records WHERE id = ?1",
    [Q_REC_COUNT] = "SELECT count(*) FROM records",
    [Q_REC_SCAN] = "SELECT id, jurisdiction, created, updated, version, body, mac, rid "
                   "FROM records WHERE rid > ?1 ORDER BY rid",
    [Q_BIDX_PUT] = "INSERT INTO blind_index(field, digest, id) VALUES (?1, ?2, ?3)",
    [Q_BIDX_DEL] = "DELETE FROM blind_index WHERE field = ?1 AND digest = ?2 AND id = ?3",
    [Q_BIDX_FIND] = "SELECT id FROM blind_index WHERE field = ?1 AND digest = ?2 ORDER BY id",
    [Q_DATA_VERSION] = "PRAGMA data_version",
    [Q_AUDIT_APPEND] = "INSERT INTO audit(pos, entry, head, record_id, user, flags) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_AUDIT_LAST] = "SELECT pos, entry, head, state, state_mac FROM audit ORDER BY pos DESC LIMIT 1",
    /* Positions are 1, 2, ... in append order (INTEGER PRIMARY KEY): the
     * newest one is the count, found in the rowid b-tree, where count(*)
     * would read every page of the log (2.4 s at 10^6 entries, at each
     * vault_close).  A row taken out by someone else leaves it larger
     * than the rows left, which verification reports. */
    [Q_AUDIT_COUNT] = "SELECT coalesce(max(pos), 0) FROM audit",
    [Q_AUDIT_STATE_SET] = "UPDATE audit SET state = ?2, state_mac = ?3 WHERE pos = ?1 AND head = ?4"
                          " AND pos = (SELECT max(pos) FROM audit)",
    [Q_AUDIT_STATE_DROP] = "UPDATE audit SET state = NULL, state_mac = NULL WHERE pos = ?1",
    [Q_STATE_GET] = "SELECT value FROM store_state WHERE key = ?1",
    [Q_STATE_PUT] = "INSERT OR REPLACE INTO store_state(key, value) VALUES (?1, ?2)",
    [Q_CP_ADD] = "INSERT OR REPLACE INTO checkpoints(size, note, created, mac) "
                 "VALUES (?1, ?2, ?3, ?4)",
    [Q_CP_LAST] = "SELECT max(size) FROM checkpoints",
    [Q_GRANT_INSERT] = "INSERT INTO grants(" GRANT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                       " ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,"
                       " ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33)",
    [Q_GRANT_GET] = "SELECT " GRANT_COLS " FROM grants WHERE id = ?1",
    [Q_GRANT_UPDATE] = "UPDATE grants SET state = ?2, issuer = ?3, issuer_role = ?4,"
                       " subject_user = ?5, subject_role = ?6, subject_department = ?7,"
                       " effect = ?8, actions = ?9, fields = ?10, grade_min = ?11,"
                       " grade_max = ?12, records = ?13, jurisdiction = ?14, purposes = ?15,"
                       " not_before = ?16, not_after = ?17, reason = ?18, break_glass = ?19,"
                       " approver = ?20, revoked_by = ?21, revoke_reason = ?22, created = ?23,"
                       " changed = ?24, mac = ?25, issuer_iss = ?26, issuer_sub = ?27,"
                       " issuer_app = ?28, issuer_jti = ?29, approver_iss = ?30,"
                       " approver_sub = ?31, approver_app = ?32, approver_jti = ?33 WHERE id = ?1",
    [Q_QUOTA_COUNT] = "SELECT count(*) FROM quota_use WHERE quota = ?1 AND user = ?2 AND at > ?3",
    [Q_QUOTA_PRUNE] = "DELETE FROM quota_use WHERE quota = ?1 AND user = ?2 AND at <= ?3",
    [Q_QUOTA_ADD] = "INSERT INTO quota_use(quota, user, at) VALUES (?1, ?2, ?3)",
    [Q_QUOTA_RECORDS] = "SELECT count(DISTINCT record), coalesce(max(record = ?4), 0) FROM quota_use"
                        " WHERE quota = ?1 AND user = ?2 AND at > ?3 AND record IS NOT NULL",
    [Q_QUOTA_FORGET] = "DELETE FROM quota_use WHERE quota = ?1 AND user = ?2 AND"
                       " (at <= ?3 OR record = ?4)",
    [Q_QUOTA_ADD_RECORD] = "INSERT INTO quota_use(quota, user, at, record) VALUES (?1, ?2, ?3, ?4)",
};

/* Schema 2 added the quota uses (kept for stores of schema 1). */
static const char *const schema_v2 =
    "CREATE TABLE quota_use(quota TEXT NOT NULL, user TEXT NOT NULL, at INTEGER NOT NULL);"
    "CREATE INDEX quota_use_lookup ON quota_use(quota, user, at);";

/* Schema 6: the record a residents-quota use names (NULL for the others),
 * for new vaults and older ones alike. */
static const char *const schema_v6 = "ALTER TABLE quota_use ADD COLUMN record BLOB;";

/* The grant principals' columns (schema 5), for CREATE and ALTER. */
#define GRANT_PRINCIPAL_DECL                                                                       \
    " issuer_iss TEXT, issuer_sub TEXT, issuer_app TEXT, issuer_jti TEXT, approver_iss TEXT,"     \
    " approver_sub TEXT, approver_app TEXT, approver_jti TEXT"

/* Schema 5: the tables of a new vault (quota_use comes from schema 2);
 * the same as schema 3's but for audit.state and audit.state_mac (4) and
 * the grants' principals (5). */
static const char *const schema_tables =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL, mac BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE policies(id INTEGER PRIMARY KEY, hash BLOB NOT NULL, filename TEXT NOT NULL,"
    " source TEXT NOT NULL, applied INTEGER NOT NULL, mac BLOB NOT NULL);"
    "CREATE TABLE grade_keys(grade TEXT NOT NULL, version INTEGER NOT NULL, wrapped BLOB NOT NULL,"
    " created INTEGER NOT NULL, mac BLOB NOT NULL, PRIMARY KEY(grade, version)) WITHOUT ROWID;"
    "CREATE TABLE records(rid INTEGER PRIMARY KEY, id BLOB NOT NULL, jurisdiction TEXT NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL, version INTEGER NOT NULL,"
    " body BLOB NOT NULL, mac BLOB NOT NULL);"
    "CREATE UNIQUE INDEX records_id ON records(id);"
    "CREATE TABLE blind_index(field TEXT NOT NULL, digest BLOB NOT NULL, id BLOB NOT NULL);"
    "CREATE INDEX blind_index_lookup ON blind_index(field, digest, id);"
    "CREATE TABLE audit(pos INTEGER PRIMARY KEY, entry BLOB NOT NULL, head BLOB NOT NULL,"
    " record_id BLOB, user TEXT NOT NULL, flags INTEGER NOT NULL, state BLOB, state_mac BLOB);"
    "CREATE TABLE audit_by_record(record_id BLOB NOT NULL, pos INTEGER NOT NULL,"
    " PRIMARY KEY(record_id, pos)) WITHOUT ROWID;"
    "CREATE TABLE audit_by_user(user TEXT NOT NULL, pos INTEGER NOT NULL,"
    " PRIMARY KEY(user, pos)) WITHOUT ROWID;"
    "CREATE TABLE checkpoints(size INTEGER PRIMARY KEY, note TEXT NOT NULL,"
    " created INTEGER NOT NULL, mac BLOB NOT NULL);"
    "CREATE TABLE grants(id TEXT PRIMARY KEY, state TEXT NOT NULL, issuer TEXT NOT NULL,"
    " issuer_role TEXT NOT NULL, subject_user TEXT, subject_role TEXT, subject_department TEXT,"
    " effect INTEGER NOT NULL, actions INTEGER NOT NULL, fields TEXT, grade_min TEXT,"
    " grade_max TEXT, records TEXT, jurisdiction TEXT, purposes TEXT,"
    " not_before INTEGER NOT NULL, not_after INTEGER NOT NULL, reason TEXT NOT NULL,"
    " break_glass INTEGER NOT NULL, approver TEXT, revoked_by TEXT, revoke_reason TEXT,"
    " created INTEGER NOT NULL, changed INTEGER, mac BLOB NOT NULL," GRANT_PRINCIPAL_DECL
    ") WITHOUT ROWID;"
    /* Book-keeping of this backend (how far the report indexes reach). */
    "CREATE TABLE store_state(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;";

#define SCHEMA_NOW 8
#define STATE_INDEXED "audit_indexed"
/* Record bodies: format byte, then the fields (docs/storage.md). */
#define BODY_FORMAT 1
#define FIELDS_MAX 1024
/* Bulk loads at least this large add their blind-index rows at the end,
 * sorted (store/backend.h bulk_begin). */
#define BULK_MIN 20000
/* Page cache: 16 MiB normally, 32 MiB during a bulk load (DESIGN.md
 * section 9: an import's peak RSS under 100 MB). */
#define CACHE_PRAGMA "PRAGMA cache_size = -16384"
#define CACHE_BULK_PRAGMA "PRAGMA cache_size = -32768"
/* The report indexes are merged once this many entries are not in them
 * (at a checkpoint): a sorted batch that large touches each index page a
 * few times instead of once per entry.  Reports read the unmerged tail
 * by scanning it. */
#define AUDIT_INDEX_BATCH 65536

/* The field names a bulk load indexes (the policy's exact-index fields). */
typedef struct field_names {
    char name[FIELDS_MAX][VAULT_NAME_MAX];
    size_t n;
} field_names;

/* A report-index key of an entry a bulk load appended. */
typedef struct audit_key {
    uint8_t record_id[VAULT_ID_BYTES];
    uint8_t has_record;
    uint16_t user;      /* index into sqlc.ausers */
    int64_t pos;
} audit_key;
#define AUSERS_MAX 16

typedef struct sqlc {
    store_backend base;
    sqlite3 *db;
    sqlite3_stmt *q[Q__COUNT];
    char *path;
    int bulk;           /* in a bulk load: blind-index rows added in sorted chunks */
    field_names *bulk_names; /* the names its records index, as they came */
    struct bidx_tuple *bulk_t; /* the load's blind-index rows not yet added */
    size_t bulk_n;
    /* The report-index keys of the entries a bulk load appended since the
     * last merge, from position akeys_from on (0: none kept), so
     * audit_merge need not read the entries back; their few users. */
    audit_key *akeys;
    size_t nakeys, akcap;
    int64_t akeys_from;
    char ausers[AUSERS_MAX][VAULT_NAME_MAX];
    size_t nausers;
    /* Decoded record bodies: field array and the names, reused. */
    store_field fields[FIELDS_MAX];
    char names[FIELDS_MAX * 2 * VAULT_NAME_MAX];
    /* Where the last stale scan stopped (a rowid), and for what. */
    int64_t stale_rid;
    char stale_grade[VAULT_NAME_MAX];
    uint32_t stale_below;
    int page_size;      /* the file's cipher_page_size */
    /* The transaction the caller began (backend.h: every operation but
     * open/close/begin/generation needs one; writes need a write or
     * deferred one; none nests). */
    int tx_open;
    store_tx_kind tx_kind;
    /* Body encoding buffer, reused. */
    uint8_t *buf;
    size_t buf_cap;
} sqlc;

static sqlc *S(store_backend *be) { return (sqlc *)be; }

/* Map a SQLite result to a libvault code with a message naming `what`. */
static int db_err(sqlc *s, int src, const char *what)
{
    int code;

    switch (src & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = VAULT_EBUSY;
        break;
    case SQLITE_NOTADB:
        code = VAULT_EAUTH;
        break;
    case SQLITE_CORRUPT:
        code = VAULT_EINTEGRITY;
        break;
    case SQLITE_NOMEM:
        code = VAULT_ENOMEM;
        break;
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        code = VAULT_EIO;
        break;
    case SQLITE_CONSTRAINT:
        /* a duplicate key; a missing required value is bad input */
        code = s && s->db && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_NOTNULL
                   ? VAULT_EINVALID
                   : VAULT_EEXISTS;
        break;
    default:
        code = VAULT_ERROR;
    }
    return vault__err(code, "database: %s: %s", what,
                      s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src));
}

/* The statements that write (refused in a snapshot). */
static const unsigned char query_writes[Q__COUNT] = {
    [Q_META_PUT] = 1, [Q_META_UPD] = 1, [Q_META_DEL] = 1, [Q_POLICY_ADD] = 1, [Q_GK_ADD] = 1,
    [Q_GK_RETIRE] = 1, [Q_REC_INSERT] = 1, [Q_REC_UPDATE] = 1, [Q_REC_DEL] = 1,
    [Q_BIDX_PUT] = 1, [Q_BIDX_DEL] = 1, [Q_AUDIT_APPEND] = 1, [Q_AUDIT_STATE_SET] = 1,
    [Q_AUDIT_STATE_DROP] = 1, [Q_STATE_PUT] = 1, [Q_CP_ADD] = 1, [Q_GRANT_INSERT] = 1,
    [Q_GRANT_UPDATE] = 1, [Q_QUOTA_PRUNE] = 1, [Q_QUOTA_ADD] = 1, [Q_QUOTA_FORGET] = 1,
    [Q_QUOTA_ADD_RECORD] = 1,
};

/* VAULT_ESTATE unless the caller's transaction allows the operation. */
static int need_tx(sqlc *s, int writes)
{
    if (!s->tx_open)
        return vault__err(VAULT_ESTATE, "database: an operation outside a transaction");
    if (writes && s->tx_kind == STORE_TX_SNAPSHOT)
        return vault__err(VAULT_ESTATE, "database: a write in a read-only transaction");
    return VAULT_OK;
}

static int stmt(sqlite3_stmt **out, sqlc *s, int q)
{
    int src;

    *out = NULL;
    if (q != Q_DATA_VERSION) {
        int rc = need_tx(s, query_writes[q]);
        if (rc < 0)
            return rc;
    }
    if (!s->q[q]) {
        src = sqlite3_prepare_v2(s->db, query_sql[q], -1, &s->q[q], NULL);
        if (src != SQLITE_OK)
            return db_err(s, src, "prepare");
    }
    *out = s->q[q];
    return VAULT_OK;
}

/* A statement of its own, for scans whose callbacks use the cached ones. */
static int stmt_own(sqlite3_stmt **out, sqlc *s, const char *sql)
{
    int src, rc = need_tx(s, 0);

    *out = NULL;
    if (rc < 0)
        return rc;
    src = sqlite3_prepare_v2(s->db, sql, -1, out, NULL);
    return src == SQLITE_OK ? VAULT_OK : db_err(s, src, "prepare");
}

/* Reset a statement after use, wiping its bindings. */
static void done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

static int exec(sqlc *s, const char *sql, const char *what)
{
    int src = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

    return src == SQLITE_OK ? VAULT_OK : db_err(s, src, what);
}

/* Step a statement that returns no rows. */
static int step_done(sqlc *s, sqlite3_stmt *st, const char *what)
{
    int src = sqlite3_step(st);

    return src == SQLITE_DONE ? VAULT_OK : db_err(s, src, what);
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : (const char *)sqlite3_column_text(st, i);
}

/* Copy a MAC column; a missing or short one reads as all zero, which no
 * row's tag is (store.c then reports the row as failing its MAC). */
static void col_mac(uint8_t out[STORE_MAC_BYTES], sqlite3_stmt *st, int i)
{
    memset(out, 0, STORE_MAC_BYTES);
    if (sqlite3_column_bytes(st, i) == STORE_MAC_BYTES)
        memcpy(out, sqlite3_column_blob(st, i), STORE_MAC_BYTES);
}

static int user_version(int *out, sqlc *s)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);

    if (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return VAULT_OK;
    }
    sqlite3_finalize(st);
    return db_err(s, src, "reading the schema version");
}

static int set_user_version(sqlc *s, int v)
{
    char sql[64];

    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
    return exec(s, sql, "setting the schema version");
}

/* ---- record bodies ----
 * format u8 (1), count u16le, then per field: name (u8 length + bytes),
 * grade (u8 length + bytes), key_version u32le, counter i64le, digest (u8
 * length + bytes), ciphertext (u32le length + bytes). */

static int buf_reserve(sqlc *s, size_t need)
{
    uint8_t *grown;
    size_t cap = s->buf_cap ? s->buf_cap : 4096;

    if (need <= s->buf_cap)
        return VAULT_OK;
    while (cap < need)
        cap *= 2;
    grown = realloc(s->buf, cap);
    if (!grown)
        return vault__err(VAULT_ENOMEM, "out of memory");
    s->buf = grown;
    s->buf_cap = cap;
    return VAULT_OK;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    int i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    int i;

    for (i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int body_encode(size_t *out_len, sqlc *s, const store_record *r)
{
    int rc = VAULT_OK;
    size_t need = 3, i, pos, nl, gl;
    const store_field *f;

    ENSURE(r->nfields <= FIELDS_MAX, VAULT_ELIMIT, "a record has more than %d fields", FIELDS_MAX);
    for (i = 0; i < r->nfields; i++) {
        f = &r->fields[i];
        nl = strlen(f->name);
        gl = strlen(f->grade);
        ENSURE(nl > 0 && nl < VAULT_NAME_MAX && gl > 0 && gl < VAULT_NAME_MAX &&
                   f->digest_len <= STORE_DIGEST_MAX &&
                   f->ct_len <= UINT32_MAX,
               VAULT_EINVALID, "database: field '%s' cannot be stored", f->name);
        /* in name order, each once (backend.h store_record) */
        ENSURE(i == 0 || strcmp(r->fields[i - 1].name, f->name) < 0, VAULT_EINVALID,
               "database: a record's fields are out of name order or named twice");
        need += 1 + nl + 1 + gl + 4 + 8 + 1 + f->digest_len + 4 + f->ct_len;
    }
    GUARD(buf_reserve(s, need));
    s->buf[0] = BODY_FORMAT;
    put_le(s->buf + 1, r->nfields, 2);
    pos = 3;
    for (i = 0; i < r->nfields; i++) {
        f = &r->fields[i];
        nl = strlen(f->name);
        gl = strlen(f->grade);
        s->buf[pos++] = (uint8_t)nl;
        memcpy(s->buf + pos, f->name, nl);
        pos += nl;
        s->buf[pos++] = (uint8_t)gl;
        memcpy(s->buf + pos, f->grade, gl);
        pos += gl;
        put_le(s->buf + pos, f->key_version, 4);
        put_le(s->buf + pos + 4, (uint64_t)f->counter, 8);
        pos += 12;
        s->buf[pos++] = (uint8_t)f->digest_len;
        memcpy(s->buf + pos, f->digest, f->digest_len);
        pos += f->digest_len;
        put_le(s->buf + pos, f->ct_len, 4);
        pos += 4;
        if (f->ct_len)
            memcpy(s->buf + pos, f->ct, f->ct_len);
        pos += f->ct_len;
    }
    *out_len = pos;
cleanup:
    return rc;
}

/* Decode a body into s->fields and s->names; ciphertext pointers point
 * into b (the column's bytes). */
static int body_decode(size_t *out_n, sqlc *s, const uint8_t *b, size_t len)
{
    int rc = VAULT_OK;
    size_t n, i, pos = 3, npos = 0, l;
    store_field *f;

#define NEED(k) ENSURE(pos + (k) <= len, VAULT_EINTEGRITY, "database: a record row failed its integrity check (malformed body)")
    ENSURE(len >= 3 && b[0] == BODY_FORMAT, VAULT_EINTEGRITY, "database: a record row failed its integrity check (malformed body)");
    n = (size_t)get_le(b + 1, 2);
    ENSURE(n <= FIELDS_MAX, VAULT_EINTEGRITY, "database: a record row failed its integrity check (malformed body)");
    for (i = 0; i < n; i++) {
        f = &s->fields[i];
        memset(f, 0, sizeof *f);
        NEED(1);
        l = b[pos++];
        NEED(l);
        ENSURE(l > 0 && l < VAULT_NAME_MAX && npos + l + 1 <= sizeof s->names, VAULT_EINTEGRITY,
               "database: a record row failed its integrity check (malformed body)");
        memcpy(s->names + npos, b + pos, l);
        s->names[npos + l] = '\0';
        f->name = s->names + npos;
        npos += l + 1;
        pos += l;
        NEED(1);
        l = b[pos++];
        NEED(l);
        ENSURE(l > 0 && l < VAULT_NAME_MAX && npos + l + 1 <= sizeof s->names, VAULT_EINTEGRITY,
               "database: a record row failed its integrity check (malformed body)");
        memcpy(s->names + npos, b + pos, l);
        s->names[npos + l] = '\0';
        f->grade = s->names + npos;
        npos += l + 1;
        pos += l;
        NEED(12);
        f->key_version = (uint32_t)get_le(b + pos, 4);
        f->counter = (int64_t)get_le(b + pos + 4, 8);
        pos += 12;
        NEED(1);
        l = b[pos++];
        ENSURE(l <= STORE_DIGEST_MAX, VAULT_EINTEGRITY, "database: a record row failed its integrity check (malformed body)");
        NEED(l);
        memcpy(f->digest, b + pos, l);
        f->digest_len = l;
        pos += l;
        NEED(4);
        l = (size_t)get_le(b + pos, 4);
        pos += 4;
        NEED(l);
        f->ct = b + pos;
        f->ct_len = l;
        pos += l;
    }
    ENSURE(pos == len, VAULT_EINTEGRITY, "database: a record row failed its integrity check (malformed body)");
#undef NEED
    *out_n = n;
cleanup:
    return rc;
}

/* Fill r from a row of Q_REC_GET / Q_REC_SCAN (columns id, jurisdiction,
 * created, updated, version, body, mac). */
static int row_to_record(store_record *r, sqlc *s, sqlite3_stmt *st)
{
    int rc = VAULT_OK;
    size_t n = 0;

    memset(r, 0, sizeof *r);
    ENSURE(sqlite3_column_bytes(st, 0) == VAULT_ID_BYTES, VAULT_EINTEGRITY,
           "database: a record row has a bad id");
    memcpy(r->id, sqlite3_column_blob(st, 0), VAULT_ID_BYTES);
    r->jurisdiction = col_text(st, 1);
    ENSURE(r->jurisdiction, VAULT_EINTEGRITY, "database: a record row has no jurisdiction");
    r->created = sqlite3_column_int64(st, 2);
    r->updated = sqlite3_column_int64(st, 3);
    r->version = sqlite3_column_int64(st, 4);
    GUARD(body_decode(&n, s, sqlite3_column_blob(st, 5), (size_t)sqlite3_column_bytes(st, 5)));
    r->nfields = n;
    r->fields = s->fields;
    col_mac(r->mac, st, 6);
cleanup:
    return rc;
}

/* A callback's answer as the operation's result: > 0 (stop early) is
 * success. */
static int visited(int r)
{
    return r > 0 ? VAULT_OK : r;
}

/* Run sql (a statement of its own: callbacks may use the cached ones)
 * and hand each row to row(arg, st): < 0 fails with that code, > 0 stops. */
static int scan_rows(sqlc *s, const char *sql, int (*row)(void *arg, sqlite3_stmt *st), void *arg,
                     const char *what)
{
    int rc = VAULT_OK, src, r = 0;
    sqlite3_stmt *st = NULL;

    GUARD(stmt_own(&st, s, sql));
    while ((src = sqlite3_step(st)) == SQLITE_ROW && (r = row(arg, st)) == 0)
        ;
    GUARD(r);
    if (src != SQLITE_DONE && src != SQLITE_ROW)
        rc = db_err(s, src, what);
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* Rows of the tables with a MAC, from the columns in the order given
 * (the MAC last; a v1 table's SELECT gives NULL for it, read as zeros). */
static int policy_row(store_policy *p, sqlite3_stmt *st) /* id, hash, filename, source, applied, mac */
{
    memset(p, 0, sizeof *p);
    p->id = sqlite3_column_int64(st, 0);
    if (sqlite3_column_bytes(st, 1) == 32)
        memcpy(p->hash, sqlite3_column_blob(st, 1), 32);
    p->filename = col_text(st, 2);
    p->source = col_text(st, 3);
    p->len = (size_t)sqlite3_column_bytes(st, 3);
    p->applied = sqlite3_column_int64(st, 4);
    col_mac(p->mac, st, 5);
    if (!p->filename || !p->source)
        return vault__err(VAULT_EINTEGRITY, "database: a policy row is malformed");
    return VAULT_OK;
}

static int checkpoint_row(store_checkpoint *c, sqlite3_stmt *st) /* size, note, created, mac */
{
    c->size = (uint64_t)sqlite3_column_int64(st, 0);
    c->note = col_text(st, 1);
    c->len = (size_t)sqlite3_column_bytes(st, 1);
    c->created = sqlite3_column_int64(st, 2);
    col_mac(c->mac, st, 3);
    if (!c->note)
        return vault__err(VAULT_EINTEGRITY, "database: a checkpoint row is malformed");
    return VAULT_OK;
}

/* ---- open, close, transactions ---- */

static void sq_free(store_backend *be)
{
    sqlc *s = S(be);
    size_t i;

    if (!s)
        return;
    if (s->db && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    for (i = 0; i < Q__COUNT; i++)
        sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    free(s->buf);
    free(s->path);
    free(s->bulk_names);
    free(s->bulk_t);
    free(s->akeys);
    free(s);
}

static int sq_begin(store_backend *be, store_tx_kind kind)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;

    ENSURE(!s->tx_open, VAULT_ESTATE, "database: a transaction is already open");
    ENSURE(kind == STORE_TX_SNAPSHOT || kind == STORE_TX_WRITE || kind == STORE_TX_DEFERRED,
           VAULT_EINVALID, "database: unknown transaction kind");
    if (kind == STORE_TX_WRITE)
        GUARD(exec(s, "BEGIN IMMEDIATE", "begin"));
    else
        /* A deferred BEGIN takes its snapshot at the first read: read now,
         * so the snapshot is the one the caller's first look (the
         * generation, the policy) sees.  A later write in a stale
         * snapshot fails with SQLITE_BUSY_SNAPSHOT (VAULT_EBUSY), never
         * silently. */
        GUARD(exec(s, "BEGIN; SELECT count(*) FROM store_state", "begin"));
    s->tx_open = 1;
    s->tx_kind = kind;
cleanup:
    if (rc < 0 && !s->tx_open && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL); /* the BEGIN's read failed */
    return rc;
}

static int sq_commit(store_backend *be)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;

    ENSURE(s->tx_open, VAULT_ESTATE, "database: commit outside a transaction");
    rc = exec(s, "COMMIT", "commit");
    /* A commit that failed busy leaves the transaction open (rollback
     * ends it); any other end of it ends it here. */
    s->tx_open = !sqlite3_get_autocommit(s->db);
cleanup:
    return rc;
}

static void sq_rollback(store_backend *be)
{
    sqlc *s = S(be);

    s->tx_open = 0;
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    if (s->bulk) { /* what the load wrote went with the rollback */
        s->bulk = 0;
        s->bulk_n = 0;
        free(s->bulk_t);
        s->bulk_t = NULL;
        s->nakeys = 0;
        s->akeys_from = 0;
        sqlite3_exec(s->db, CACHE_PRAGMA, NULL, NULL, NULL);
    }
}

/* A query of one integer (a count, a version, the next id). */
static int count_query(sqlc *s, int q, int64_t *out, const char *what)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, q));
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, what);
        goto cleanup;
    }
    *out = sqlite3_column_int64(st, 0);
cleanup:
    done(st);
    return rc;
}

static int sq_generation(store_backend *be, int64_t *out)
{
    return count_query(S(be), Q_DATA_VERSION, out, "data version");
}

/* ---- meta ---- */

static int sq_meta_get(store_backend *be, const char *key,
                       int (*fn)(void *arg, const store_meta *row), void *arg)
{
    sqlc *s = S(be);
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;
    store_meta m;

    GUARD(stmt(&st, s, Q_META_GET));
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    ENSURE(src != SQLITE_DONE, VAULT_ENOTFOUND, "database: no meta value '%s'", key);
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "reading meta");
        goto cleanup;
    }
    m.key = key;
    m.value = sqlite3_column_blob(st, 0);
    m.len = (size_t)sqlite3_column_bytes(st, 0);
    col_mac(m.mac, st, 1);
    rc = visited(fn(arg, &m));
cleanup:
    done(st);
    return rc;
}

/* SQLite 3.15 has no upsert, and INSERT OR REPLACE makes SQLCipher 3.4
 * encrypt a statement journal page by page.  So: UPDATE by primary key,
 * and INSERT only when no row changed. */
static int sq_meta_put(store_backend *be, const store_meta *m)
{
    sqlc *s = S(be);
    int rc = VAULT_OK, i;
    sqlite3_stmt *st[2] = {NULL, NULL};

    GUARD(stmt(&st[0], s, Q_META_UPD));
    GUARD(stmt(&st[1], s, Q_META_PUT));
    for (i = 0; i < 2; i++) {
        sqlite3_bind_text(st[i], 1, m->key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st[i], 2, m->value, (int)m->len, SQLITE_STATIC);
        sqlite3_bind_blob(st[i], 3, m->mac, STORE_MAC_BYTES, SQLITE_STATIC);
    }
    GUARD(step_done(s, st[0], "writing meta"));
    if (sqlite3_changes(s->db) == 0)
        GUARD(step_done(s, st[1], "writing meta"));
cleanup:
    done(st[0]);
    done(st[1]);
    return rc;
}

static int sq_meta_delete(store_backend *be, const char *key)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_META_DEL));
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    GUARD(step_done(s, st, "deleting meta"));
    ENSURE(sqlite3_changes(s->db) == 1, VAULT_ENOTFOUND, "database: no meta value '%s'", key);
cleanup:
    done(st);
    return rc;
}

/* ---- policies ---- */

static int sq_policy_next_id(store_backend *be, int64_t *out)
{
    return count_query(S(be), Q_POLICY_NEXT, out, "reading policies");
}

static int sq_policy_add(store_backend *be, store_policy *p)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_POLICY_ADD));
    /* The id is the backend's (backend.h): NULL makes SQLite give
     * max(id) + 1, the id policy_next_id promised. */
    sqlite3_bind_null(st, 1);
    sqlite3_bind_blob(st, 2, p->hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, p->filename, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, p->source, (int)p->len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, p->applied);
    sqlite3_bind_blob(st, 6, p->mac, STORE_MAC_BYTES, SQLITE_STATIC);
    GUARD(step_done(s, st, "storing the policy"));
    p->id = sqlite3_last_insert_rowid(s->db);
cleanup:
    done(st);
    return rc;
}

static int sq_policy_active(store_backend *be, int (*fn)(void *arg, const store_policy *row),
                            void *arg)
{
    sqlc *s = S(be);
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;
    store_policy p;

    GUARD(stmt(&st, s, Q_POLICY_ACTIVE));
    src = sqlite3_step(st);
    ENSURE(src != SQLITE_DONE, VAULT_ENOTFOUND, "database: the vault has no policy");
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "reading the policy");
        goto cleanup;
    }
    GUARD(policy_row(&p, st));
    rc = visited(fn(arg, &p));
cleanup:
    done(st);
    return rc;
}

/* ---- grade keys ---- */

static int sq_gradekey_add(store_backend *be, const store_gradekey *k)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_GK_ADD));
    sqlite3_bind_text(st, 1, k->grade, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, k->version);
    sqlite3_bind_blob(st, 3, k->wrapped, (int)k->len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, k->created);
    sqlite3_bind_blob(st, 5, k->mac, STORE_MAC_BYTES, SQLITE_STATIC);
    GUARD(step_done(s, st, "storing a grade key"));
cleanup:
    done(st);
    return rc;
}

static int sq_gradekey_get(store_backend *be, const char *grade, uint32_t version,
                           int (*fn)(void *arg, const store_gradekey *row), void *arg)
{
    sqlc *s = S(be);
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;
    store_gradekey k;

    GUARD(stmt(&st, s, Q_GK_GET));
    sqlite3_bind_text(st, 1, grade, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    src = sqlite3_step(st);
    ENSURE(src != SQLITE_DONE, VAULT_ENOTFOUND, "database: no key version %u for grade '%s'",
           (unsigned)version, grade);
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "reading a grade key");
        goto cleanup;
    }
    k.grade = grade;
    k.version = version;
    k.wrapped = sqlite3_column_blob(st, 0);
    k.len = (size_t)sqlite3_column_bytes(st, 0);
    k.created = sqlite3_column_int64(st, 1);
    col_mac(k.mac, st, 2);
    rc = visited(fn(arg, &k));
cleanup:
    done(st);
    return rc;
}

static int sq_gradekey_latest(store_backend *be, const char *grade, uint32_t *out)
{
    sqlc *s = S(be);
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_GK_LATEST));
    sqlite3_bind_text(st, 1, grade, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "reading grade key versions");
        goto cleanup;
    }
    ENSURE(sqlite3_column_type(st, 0) != SQLITE_NULL, VAULT_ENOTFOUND,
           "grade '%s' has no key yet", grade);
    *out = (uint32_t)sqlite3_column_int64(st, 0);
cleanup:
    done(st);
    return rc;
}

static int sq_gradekey_retire(store_backend *be, const char *grade, uint32_t below_version)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_GK_RETIRE));
    sqlite3_bind_text(st, 1, grade, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, below_version);
    GUARD(step_done(s, st, "retiring grade keys"));
cleanup:
    done(st);
    return rc;
}

/* ---- records ---- */

static int sq_record_get_batch(store_backend *be, const uint8_t *ids, size_t n,
                               int (*fn)(void *arg, size_t i, const store_record *row), void *arg)
{
    sqlc *s = S(be);
    int rc = VAULT_OK, src, r;
    sqlite3_stmt *st = NULL;
    store_record rec;
    size_t i;

    GUARD(stmt(&st, s, Q_REC_GET));
    for (i = 0; i < n; i++) {
        sqlite3_bind_blob(st, 1, ids + i * VAULT_ID_BYTES, VAULT_ID_BYTES, SQLITE_STATIC);
        src = sqlite3_step(st);
        if (src == SQLITE_DONE) {
            r = fn(arg, i, NULL);
        } else if (src == SQLITE_ROW) {
            GUARD(row_to_record(&rec, s, st));
            r = fn(arg, i, &rec);
        } else {
            rc = db_err(s, src, "reading a record");
            goto cleanup;
        }
        done(st);
        if (r < 0) {
            rc = r;
            goto cleanup;
        }
        if (r > 0)
            break;
    }
cleanup:
    done(st);
    return rc;
}

/* The digests a stored record's fields have now (for index upkeep). */
typedef struct old_digest {
    char field[VAULT_NAME_MAX];
    uint8_t digest[STORE_DIGEST_MAX];
    size_t len;
} old_digest;

static int old_digests(old_digest **out, size_t *out_n, sqlc *s, const uint8_t *id)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;
    size_t n = 0, i, k = 0;
    old_digest *d = NULL;

    *out = NULL;
    *out_n = 0;
    GUARD(stmt(&st, s, Q_REC_BODY));
    sqlite3_bind_blob(st, 1, id, VAULT_ID_BYTES, SQLITE_STATIC);
    src = sqlite3_step(st);
    ENSURE(src != SQLITE_DONE, VAULT_ENOTFOUND, "no such record");
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "reading a record");
        goto cleanup;
    }
    GUARD(body_decode(&n, s, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0)));
    if (n) {
        d = calloc(n, sizeof *d);
        ENSURE(d, VAULT_ENOMEM, "out of memory");
    }
    for (i = 0; i < n; i++) {
        if (!s->fields[i].digest_len)
            continue;
        snprintf(d[k].field, sizeof d[k].field, "%s", s->fields[i].name);
        memcpy(d[k].digest, s->fields[i].digest, s->fields[i].digest_len);
        d[k].len = s->fields[i].digest_len;
        k++;
    }
    *out = d;
    *out_n = k;
    d = NULL;
cleanup:
    free(d);
    done(st);
    return rc;
}

static int bidx_change(sqlc *s, int q, const char *field, const uint8_t *digest, size_t len,
                       const uint8_t *id)
{
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, q));
    sqlite3_bind_text(st, 1, field, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, digest, (int)len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, id, VAULT_ID_BYTES, SQLITE_STATIC);
    GUARD(step_done(s, st, "writing the blind index"));
cleanup:
    done(st);
    return rc;
}

static int bidx_bulk_note(sqlc *s, const store_record *r);
static int bidx_flush(sqlc *s);

static int sq_record_write(store_backend *be, const store_record *r, int is_new)
{
    sqlc *s = S(be);
    int rc = VAULT_OK, keep;
    sqlite3_stmt *st = NULL;
    old_digest *old = NULL;
    size_t nold = 0, len = 0, i, k;

    if (!is_new && s->bulk)
        GUARD(bidx_flush(s)); /* the load's own rows first, so old_digests sees them */
    if (!is_new)
        GUARD(old_digests(&old, &nold, s, r->id));
    GUARD(body_encode(&len, s, r));
    GUARD(stmt(&st, s, is_new ? Q_REC_INSERT : Q_REC_UPDATE));
    sqlite3_bind_blob(st, 1, r->id, VAULT_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->jurisdiction, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->created);
    sqlite3_bind_int64(st, 4, r->updated);
    sqlite3_bind_int64(st, 5, r->version);
    sqlite3_bind_blob(st, 6, s->buf, (int)len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, r->mac, STORE_MAC_BYTES, SQLITE_STATIC);
    rc = step_done(s, st, is_new ? "creating a record" : "updating a record");
    if (rc == VAULT_EEXISTS)
        rc = vault__err(VAULT_EEXISTS, "a record with this id exists");
    GUARD(rc);
    ENSURE(is_new || sqlite3_changes(s->db) == 1, VAULT_ENOTFOUND, "no such record");
    /* Blind index: drop the digests that changed, add the new ones. */
    for (k = 0; k < nold; k++) {
        keep = 0;
        for (i = 0; i < r->nfields && !keep; i++)
            keep = r->fields[i].digest_len == old[k].len &&
                   strcmp(r->fields[i].name, old[k].field) == 0 &&
                   memcmp(r->fields[i].digest, old[k].digest, old[k].len) == 0; /* memcmp ok: not secret */
        if (!keep)
            GUARD(bidx_change(s, Q_BIDX_DEL, old[k].field, old[k].digest, old[k].len, r->id));
    }
    if (s->bulk && is_new) { /* added with the load's next sorted chunk */
        GUARD(bidx_bulk_note(s, r));
        goto cleanup;
    }
    for (i = 0; i < r->nfields; i++) {
        if (!r->fields[i].digest_len)
            continue;
        keep = 0;
        for (k = 0; k < nold && !keep; k++)
            keep = r->fields[i].digest_len == old[k].len &&
                   strcmp(r->fields[i].name, old[k].field) == 0 &&
                   memcmp(r->fields[i].digest, old[k].digest, old[k].len) == 0; /* memcmp ok: not secret */
        if (!keep)
            GUARD(bidx_change(s, Q_BIDX_PUT, r->fields[i].name, r->fields[i].digest,
                              r->fields[i].digest_len, r->id));
    }
cleanup:
    done(st);
    free(old);
    return rc;
}

static int sq_record_delete(store_backend *be, const uint8_t id[VAULT_ID_BYTES])
{
    sqlc *s = S(be);
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;
    old_digest *old = NULL;
    size_t nold = 0, k;

    GUARD(old_digests(&old, &nold, s, id));
    for (k = 0; k < nold; k++)
        GUARD(bidx_change(s, Q_BIDX_DEL, old[k].field, old[k].digest, old[k].len, id));
    GUARD(stmt(&st, s, Q_REC_DEL));
    sqlite3_bind_blob(st, 1, id, VAULT_ID_BYTES, SQLITE_STATIC);
    GUARD(step_done(s, st, "erasing a record"));
cleanup:
    done(st);
    free(old);
    return rc;
}


static int sq_record_count(store_backend *be, int64_t *out)
{
    return count_query(S(be), Q_REC_COUNT, out, "counting records");
}

static int has_stale(const store_record *r, const char *grade, uint32_t below)
{
    size_t i;

    for (i = 0; i < r->nfields; i++)
        if (r->fields[i].key_version < below && strcmp(r->fields[i].grade, grade) == 0)
            return 1;
    return 0;
}

/* Rotation has no index to read (a grade index would cost every write):
 * it scans records in row order, resuming where the last call on this
 * connection stopped for the same grade and version, once round. */
static int sq_record_scan_stale(store_backend *be, const char *grade, uint32_t below_version,
                                size_t limit, int (*fn)(void *arg, const store_record *row),
                                void *arg)
{
    sqlc *s = S(be);
    int rc = VAULT_OK, src, r, wrapped = 0;
    sqlite3_stmt *st = NULL;
    store_record rec;
    size_t found = 0;
    int64_t start;

    if (strcmp(s->stale_grade, grade) != 0 || s->stale_below != below_version) {
        snprintf(s->stale_grade, sizeof s->stale_grade, "%s", grade);
        s->stale_below = below_version;
        s->stale_rid = 0;
    }
    start = s->stale_rid;
    GUARD(stmt_own(&st, s, query_sql[Q_REC_SCAN]));
    for (;;) {
        sqlite3_bind_int64(st, 1, s->stale_rid);
        while (found < limit && (src = sqlite3_step(st)) == SQLITE_ROW) {
            s->stale_rid = sqlite3_column_int64(st, 7);
            if (wrapped && s->stale_rid > start)
                break;
            GUARD(row_to_record(&rec, s, st));
            if (!has_stale(&rec, grade, below_version))
                continue;
            found++;
            r = fn(arg, &rec);
            if (r < 0) {
                rc = r;
                goto cleanup;
            }
            if (r > 0)
                goto cleanup;
        }
        if (found >= limit || wrapped || start == 0)
            break;
        if (src != SQLITE_DONE && src != SQLITE_ROW) {
            rc = db_err(s, src, "scanning records");
            goto cleanup;
        }
        /* Reached the end: go round once from the start. */
        wrapped = 1;
        s->stale_rid = 0;
        sqlite3_reset(st);
    }
    if (found < limit)
        s->stale_rid = 0;
cleanup:
    sqlite3_finalize(st);
    return rc;
}

static int sq_field_count_stale(store_backend *be, const char *grade, uint32_t below_version,
                                int64_t *out)
{
    sqlc *s = S(be);
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;
    store_record rec;
    size_t i;
    int64_t n = 0;

    GUARD(stmt_own(&st, s, query_sql[Q_REC_SCAN]));
    sqlite3_bind_int64(st, 1, 0);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        GUARD(row_to_record(&rec, s, st));
        for (i = 0; i < rec.nfields; i++)
            if (rec.fields[i].key_version < below_version &&
                strcmp(rec.fields[i].grade, grade) == 0)
                n++;
    }
    if (src != SQLITE_DONE) {
        rc = db_err(s, src, "counting fields");
        goto cleanup;
    }
    *out = n;
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* ---- iterators ---- */

struct store_iter {
    sqlc *s;
    int kind; /* 1 blind index, 2 audit */
    sqlite3_stmt *st[2];
    int phase;
};

static void sq_iter_free(store_iter *it)
{
    if (!it)
        return;
    sqlite3_finalize(it->st[0]);
    sqlite3_finalize(it->st[1]);
    free(it);
}

static int iter_new(store_iter **out, sqlc *s, int kind)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return vault__err(VAULT_ENOMEM, "out of memory");
    (*out)->s = s;
    (*out)->kind = kind;
    return VAULT_OK;
}

static int sq_bidx_find(store_backend *be, store_iter **out, const char *field,
                        const uint8_t *digest, size_t len)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;
    store_iter *it = NULL;

    *out = NULL;
    GUARD(iter_new(&it, s, 1));
    GUARD(stmt_own(&it->st[0], s, query_sql[Q_BIDX_FIND]));
    sqlite3_bind_text(it->st[0], 1, field, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(it->st[0], 2, digest, (int)len, SQLITE_TRANSIENT);
    *out = it;
    it = NULL;
cleanup:
    sq_iter_free(it);
    return rc;
}

static int sq_bidx_next(store_iter *it, uint8_t id[VAULT_ID_BYTES])
{
    int src = sqlite3_step(it->st[0]);

    if (src == SQLITE_DONE)
        return 0;
    if (src != SQLITE_ROW)
        return db_err(it->s, src, "searching the index");
    if (sqlite3_column_bytes(it->st[0], 0) != VAULT_ID_BYTES)
        return vault__err(VAULT_EINTEGRITY, "database: bad record id in the index");
    memcpy(id, sqlite3_column_blob(it->st[0], 0), VAULT_ID_BYTES);
    return 1;
}

/* ---- audit log ---- */

static int state_get(sqlc *s, const char *key, int64_t *out)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;

    *out = 0;
    GUARD(stmt(&st, s, Q_STATE_GET));
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else if (src != SQLITE_DONE)
        rc = db_err(s, src, "reading store state");
cleanup:
    done(st);
    return rc;
}

static int state_put(sqlc *s, const char *key, int64_t v)
{
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_STATE_PUT));
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    GUARD(step_done(s, st, "writing store state"));
cleanup:
    done(st);
    return rc;
}

/* A vault file is one shard: it keeps the city log only (backend.h,
 * "The audit log's logs"). */
static int one_log(const char *log)
{
    if (store_log_is_city(log))
        return VAULT_OK;
    return vault__err(VAULT_EINVALID,
                      "database: a vault file keeps one audit log; it has no log '%s'", log);
}

static int sq_audit_head(store_backend *be, const char *log,
                         int (*fn)(void *arg, const store_audit_head *h), void *arg)
{
    sqlc *s = S(be);
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;
    store_audit_head h;

    memset(&h, 0, sizeof h);
    GUARD(one_log(log));
    GUARD(stmt(&st, s, Q_AUDIT_LAST));
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        ENSURE(sqlite3_column_bytes(st, 2) == 32, VAULT_EINTEGRITY,
               "audit log: the newest entry's chain head has the wrong size");
        memcpy(h.head, sqlite3_column_blob(st, 2), 32);
        h.pos = sqlite3_column_int64(st, 0);
        h.entry = sqlite3_column_blob(st, 1);
        h.len = (size_t)sqlite3_column_bytes(st, 1);
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            h.state = sqlite3_column_blob(st, 3);
            h.state_len = (size_t)sqlite3_column_bytes(st, 3);
            col_mac(h.state_mac, st, 4);
        }
    } else if (src != SQLITE_DONE) {
        rc = db_err(s, src, "reading the audit log");
        goto cleanup;
    }
    rc = visited(fn(arg, &h));
cleanup:
    done(st);
    return rc;
}

typedef struct seal_ctx {
    store_audit_seal_fn seal;
    void *arg;
    int64_t head_pos;
    store_audit_row rows[256];
    size_t n;
} seal_ctx;

static int seal_at_head(void *arg, const store_audit_head *h)
{
    seal_ctx *c = arg;

    c->head_pos = h->pos;
    return c->seal(c->arg, h, c->rows, VAULT_ARRAY_LEN(c->rows), &c->n);
}

/* The newest entry's position (0 for an empty log). */
static int audit_head_pos(sqlc *s, int64_t *out)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;

    *out = 0;
    GUARD(stmt(&st, s, Q_AUDIT_LAST));
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else if (src != SQLITE_DONE)
        rc = db_err(s, src, "reading the audit log");
cleanup:
    done(st);
    return rc;
}

/* Keep an appended entry's report-index keys (bulk loads).  Anything
 * unexpected (a gap, many users, a long name) stops the keeping: the next
 * merge then reads the entries back, as outside a bulk load. */
static int akey_note(sqlc *s, const store_audit_row *r)
{
    int rc = VAULT_OK;
    const char *user = r->user ? r->user : "";
    audit_key *k, *grown;
    size_t u;

    for (u = 0; u < s->nausers && strcmp(s->ausers[u], user) != 0; u++)
        ;
    if (r->pos != s->akeys_from + (int64_t)s->nakeys ||
        (u == s->nausers && (u == AUSERS_MAX || strlen(user) >= VAULT_NAME_MAX))) {
        s->akeys_from = 0;
        s->nakeys = 0;
        return VAULT_OK;
    }
    if (u == s->nausers)
        snprintf(s->ausers[s->nausers++], VAULT_NAME_MAX, "%s", user);
    if (s->nakeys == s->akcap) {
        size_t cap = s->akcap ? 2 * s->akcap : 4096;
        grown = realloc(s->akeys, cap * sizeof *grown);
        ENSURE(grown, VAULT_ENOMEM, "out of memory");
        s->akeys = grown;
        s->akcap = cap;
    }
    k = &s->akeys[s->nakeys++];
    k->has_record = r->record_id != NULL;
    if (r->record_id)
        memcpy(k->record_id, r->record_id, VAULT_ID_BYTES);
    else
        memset(k->record_id, 0, VAULT_ID_BYTES);
    k->user = (uint16_t)u;
    k->pos = r->pos;
cleanup:
    return rc;
}

static int sq_audit_write(store_backend *be, const char *log, store_audit_seal_fn seal, void *arg)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;
    seal_ctx c;
    int64_t pos = 0;
    size_t i;

    memset(&c, 0, sizeof c);
    c.seal = seal;
    c.arg = arg;
    GUARD(one_log(log));
    GUARD(stmt(&st, s, Q_AUDIT_APPEND)); /* a write transaction, before the seal */
    /* The write transaction holds the head; the seal sees the last row. */
    GUARD(sq_audit_head(be, log, seal_at_head, &c));
    ENSURE(c.n <= VAULT_ARRAY_LEN(c.rows), VAULT_EINVALID, "audit log: too many entries sealed");
    /* Every row follows the one before, the first the head: checked
     * before any is stored, so a refused append stores nothing. */
    for (i = 0, pos = c.head_pos; i < c.n; i++, pos++)
        ENSURE(c.rows[i].pos == pos + 1 && c.rows[i].entry && c.rows[i].head, VAULT_EINTEGRITY,
               "audit log: entries out of order");
    for (i = 0; i < c.n; i++) {
        const store_audit_row *r = &c.rows[i];

        sqlite3_bind_int64(st, 1, r->pos);
        sqlite3_bind_blob(st, 2, r->entry, (int)r->len, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, r->head, (int)r->head_len, SQLITE_STATIC);
        if (r->record_id)
            sqlite3_bind_blob(st, 4, r->record_id, VAULT_ID_BYTES, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 4);
        sqlite3_bind_text(st, 5, r->user ? r->user : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, r->flags);
        GUARD(step_done(s, st, "appending to the audit log"));
        done(st);
        if (s->akeys_from)
            GUARD(akey_note(s, r));
    }
cleanup:
    done(st);
    return rc;
}

/* The state moves onto the newest row with the same UPDATE pair whatever
 * the caller wrote before: both rows are nearly always on the rightmost
 * leaf page the append just wrote, so the commit writes no other page. */
static int sq_audit_state_put(store_backend *be, const store_audit_state *a, int64_t prev_pos)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(one_log(a->log));
    GUARD(stmt(&st, s, Q_AUDIT_STATE_SET));
    sqlite3_bind_int64(st, 1, a->pos);
    sqlite3_bind_blob(st, 2, a->state, (int)a->len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, a->mac, STORE_MAC_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, a->head, 32, SQLITE_STATIC);
    GUARD(step_done(s, st, "writing the audit state"));
    ENSURE(sqlite3_changes(s->db) == 1, VAULT_EINTEGRITY,
           "audit log: the audit state's entry is not the newest");
    done(st);
    st = NULL;
    if (prev_pos > 0 && prev_pos != a->pos) {
        GUARD(stmt(&st, s, Q_AUDIT_STATE_DROP));
        sqlite3_bind_int64(st, 1, prev_pos);
        GUARD(step_done(s, st, "writing the audit state"));
    }
cleanup:
    done(st);
    return rc;
}

#define AUDIT_COLS "a.pos, a.entry, a.head, a.record_id, a.user, a.flags"

static int sq_audit_iter(store_backend *be, store_iter **out, const store_audit_filter *f)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;
    store_iter *it = NULL;
    int64_t indexed = 0;
    static const store_audit_filter all = {NULL, 0, NULL, NULL};

    *out = NULL;
    if (!f)
        f = &all; /* every entry */
    GUARD(one_log(f->log));
    GUARD(iter_new(&it, s, 2));
    if (!f->record_id && !f->user) {
        GUARD(stmt_own(&it->st[1], s,
                       "SELECT " AUDIT_COLS " FROM audit a WHERE a.pos > ?1 ORDER BY a.pos"));
        sqlite3_bind_int64(it->st[1], 1, f->after_pos);
        it->phase = 1;
    } else {
        /* The merged index up to `indexed`, then the tail after it. */
        GUARD(state_get(s, STATE_INDEXED, &indexed));
        if (f->record_id) {
            GUARD(stmt_own(&it->st[0], s,
                           "SELECT " AUDIT_COLS " FROM audit_by_record r JOIN audit a"
                           " ON a.pos = r.pos WHERE r.record_id = ?1 AND r.pos > ?2"
                           " AND r.pos <= ?3 AND (?4 IS NULL OR a.user = ?4) ORDER BY r.pos"));
            GUARD(stmt_own(&it->st[1], s,
                           "SELECT " AUDIT_COLS " FROM audit a WHERE a.pos > ?2 AND a.pos > ?3"
                           " AND a.record_id = ?1 AND (?4 IS NULL OR a.user = ?4)"
                           " ORDER BY a.pos"));
            sqlite3_bind_blob(it->st[0], 1, f->record_id, VAULT_ID_BYTES, SQLITE_TRANSIENT);
            sqlite3_bind_blob(it->st[1], 1, f->record_id, VAULT_ID_BYTES, SQLITE_TRANSIENT);
            if (f->user) { /* both filters: the entries filed under both */
                sqlite3_bind_text(it->st[0], 4, f->user, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(it->st[1], 4, f->user, -1, SQLITE_TRANSIENT);
            }
        } else {
            GUARD(stmt_own(&it->st[0], s,
                           "SELECT " AUDIT_COLS " FROM audit_by_user u JOIN audit a"
                           " ON a.pos = u.pos WHERE u.user = ?1 AND u.pos > ?2"
                           " AND u.pos <= ?3 ORDER BY u.pos"));
            GUARD(stmt_own(&it->st[1], s,
                           "SELECT " AUDIT_COLS " FROM audit a WHERE a.pos > ?2 AND a.pos > ?3"
                           " AND a.user = ?1 ORDER BY a.pos"));
            sqlite3_bind_text(it->st[0], 1, f->user, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(it->st[1], 1, f->user, -1, SQLITE_TRANSIENT);
        }
        sqlite3_bind_int64(it->st[0], 2, f->after_pos);
        sqlite3_bind_int64(it->st[0], 3, indexed);
        sqlite3_bind_int64(it->st[1], 2, f->after_pos);
        sqlite3_bind_int64(it->st[1], 3, indexed);
    }
    *out = it;
    it = NULL;
cleanup:
    sq_iter_free(it);
    return rc;
}

static int sq_audit_next(store_iter *it, store_audit_row *row)
{
    sqlite3_stmt *st;
    int src;

    for (;;) {
        st = it->st[it->phase];
        src = sqlite3_step(st);
        if (src == SQLITE_ROW)
            break;
        if (src != SQLITE_DONE)
            return db_err(it->s, src, "reading the audit log");
        if (it->phase == 1)
            return 0;
        it->phase = 1;
    }
    memset(row, 0, sizeof *row);
    row->log = STORE_LOG_CITY;
    row->pos = sqlite3_column_int64(st, 0);
    row->entry = sqlite3_column_blob(st, 1);
    row->len = (size_t)sqlite3_column_bytes(st, 1);
    row->head = sqlite3_column_blob(st, 2);
    row->head_len = (size_t)sqlite3_column_bytes(st, 2);
    if (sqlite3_column_bytes(st, 3) == VAULT_ID_BYTES)
        row->record_id = sqlite3_column_blob(st, 3);
    row->user = col_text(st, 4);
    row->flags = (unsigned)sqlite3_column_int64(st, 5);
    return 1;
}

static int sq_audit_count(store_backend *be, const char *log, int64_t *out)
{
    int rc = VAULT_OK;

    *out = 0;
    GUARD(one_log(log));
    rc = count_query(S(be), Q_AUDIT_COUNT, out, "counting audit entries");
cleanup:
    return rc;
}

/* The one log, when it has entries. */
static int sq_audit_logs(store_backend *be, int (*fn)(void *arg, const char *log, int64_t pos),
                         void *arg)
{
    int rc = VAULT_OK;
    int64_t n = 0;

    GUARD(audit_head_pos(S(be), &n));
    if (n > 0)
        rc = visited(fn(arg, STORE_LOG_CITY, n));
cleanup:
    return rc;
}

static int akey_by_record(const void *a, const void *b)
{
    const audit_key *x = a, *y = b;
    int c = memcmp(x->record_id, y->record_id, VAULT_ID_BYTES); /* memcmp ok: not secret */

    return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* Keys whose user fields hold the users' ranks in name order. */
static int akey_by_user(const void *a, const void *b)
{
    const audit_key *x = a, *y = b;
    int c = (x->user > y->user) - (x->user < y->user);

    return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* Add the kept keys to the report indexes, each in its index's order. */
static int akeys_merge(sqlc *s)
{
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;
    uint16_t rank[AUSERS_MAX], by_name[AUSERS_MAX];
    size_t i, j;

    qsort(s->akeys, s->nakeys, sizeof *s->akeys, akey_by_record);
    GUARD(stmt_own(&st, s, "INSERT OR IGNORE INTO audit_by_record(record_id, pos) VALUES (?1, ?2)"));
    for (i = 0; i < s->nakeys; i++) {
        if (!s->akeys[i].has_record)
            continue;
        sqlite3_bind_blob(st, 1, s->akeys[i].record_id, VAULT_ID_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, s->akeys[i].pos);
        GUARD(step_done(s, st, "indexing the audit log"));
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    /* The users in name order (at most AUSERS_MAX: insertion sort). */
    for (i = 0; i < s->nausers; i++) {
        for (j = i; j > 0 && strcmp(s->ausers[by_name[j - 1]], s->ausers[i]) > 0; j--)
            by_name[j] = by_name[j - 1];
        by_name[j] = (uint16_t)i;
    }
    for (i = 0; i < s->nausers; i++)
        rank[by_name[i]] = (uint16_t)i;
    for (i = 0; i < s->nakeys; i++)
        s->akeys[i].user = rank[s->akeys[i].user];
    qsort(s->akeys, s->nakeys, sizeof *s->akeys, akey_by_user);
    GUARD(stmt_own(&st, s, "INSERT OR IGNORE INTO audit_by_user(user, pos) VALUES (?1, ?2)"));
    for (i = 0; i < s->nakeys; i++) {
        sqlite3_bind_text(st, 1, s->ausers[by_name[s->akeys[i].user]], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, s->akeys[i].pos);
        GUARD(step_done(s, st, "indexing the audit log"));
        sqlite3_reset(st);
    }
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* Merge the entries after the indexed position into the report indexes,
 * in key order (one sorted batch instead of a random insert per entry);
 * unless force, only once AUDIT_INDEX_BATCH entries are waiting.  In a
 * bulk load the keys of the entries it appended are at hand (akeys): only
 * entries from before it are read back. */
static int audit_merge(sqlc *s, int force)
{
    int rc = VAULT_OK, kept;
    int64_t indexed = 0, head = 0, upto;
    char sql[256];

    GUARD(state_get(s, STATE_INDEXED, &indexed));
    GUARD(audit_head_pos(s, &head));
    if (head <= indexed || (!force && head - indexed < AUDIT_INDEX_BATCH))
        goto cleanup;
    kept = s->akeys_from > indexed && s->nakeys > 0 &&
           s->akeys_from + (int64_t)s->nakeys - 1 == head;
    upto = kept ? s->akeys_from - 1 : head;
    if (upto > indexed) {
        snprintf(sql, sizeof sql,
                 "INSERT OR IGNORE INTO audit_by_record(record_id, pos) SELECT record_id, pos"
                 " FROM audit WHERE pos > %lld AND pos <= %lld AND record_id IS NOT NULL"
                 " ORDER BY record_id, pos",
                 (long long)indexed, (long long)upto);
        GUARD(exec(s, sql, "indexing the audit log"));
        snprintf(sql, sizeof sql,
                 "INSERT OR IGNORE INTO audit_by_user(user, pos) SELECT user, pos"
                 " FROM audit WHERE pos > %lld AND pos <= %lld ORDER BY user, pos",
                 (long long)indexed, (long long)upto);
        GUARD(exec(s, sql, "indexing the audit log"));
    }
    if (kept)
        GUARD(akeys_merge(s));
    GUARD(state_put(s, STATE_INDEXED, head));
    if (s->bulk) { /* keep the keys of what the load appends next */
        s->akeys_from = head + 1;
        s->nakeys = 0;
    }
cleanup:
    return rc;
}

static int sq_audit_index(store_backend *be)
{
    int rc = need_tx(S(be), 1);

    return rc < 0 ? rc : audit_merge(S(be), 0);
}

/* ---- checkpoints ---- */

static int sq_checkpoint_add(store_backend *be, const store_checkpoint *c)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_CP_ADD));
    sqlite3_bind_int64(st, 1, (int64_t)c->size);
    sqlite3_bind_text(st, 2, c->note, (int)c->len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, c->created);
    sqlite3_bind_blob(st, 4, c->mac, STORE_MAC_BYTES, SQLITE_STATIC);
    GUARD(step_done(s, st, "storing a checkpoint"));
cleanup:
    done(st);
    return rc;
}

static int sq_checkpoint_last(store_backend *be, uint64_t *out)
{
    sqlc *s = S(be);
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;

    *out = 0;
    GUARD(stmt(&st, s, Q_CP_LAST));
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "reading checkpoints");
        goto cleanup;
    }
    if (sqlite3_column_type(st, 0) != SQLITE_NULL)
        *out = (uint64_t)sqlite3_column_int64(st, 0);
cleanup:
    done(st);
    return rc;
}

typedef struct cp_visit {
    int (*fn)(void *arg, const store_checkpoint *row);
    void *arg;
} cp_visit;

static int cp_row(void *arg, sqlite3_stmt *st)
{
    cp_visit *c = arg;
    store_checkpoint row;
    int rc = checkpoint_row(&row, st);

    return rc < 0 ? rc : c->fn(c->arg, &row);
}

static int sq_checkpoint_scan(store_backend *be, int (*fn)(void *arg, const store_checkpoint *row),
                              void *arg)
{
    cp_visit c = {fn, arg};

    return scan_rows(S(be), "SELECT size, note, created, mac FROM checkpoints ORDER BY size",
                     cp_row, &c, "reading checkpoints");
}

/* ---- grants ---- */

static void grant_bind(sqlite3_stmt *st, const store_grant *g)
{
    sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, g->state, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, g->issuer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, g->issuer_role, -1, SQLITE_STATIC);
    bind_opt_text(st, 5, g->user);
    bind_opt_text(st, 6, g->role);
    bind_opt_text(st, 7, g->department);
    sqlite3_bind_int(st, 8, g->effect);
    sqlite3_bind_int64(st, 9, g->actions);
    bind_opt_text(st, 10, g->fields);
    bind_opt_text(st, 11, g->grade_min);
    bind_opt_text(st, 12, g->grade_max);
    bind_opt_text(st, 13, g->records);
    bind_opt_text(st, 14, g->jurisdiction);
    bind_opt_text(st, 15, g->purposes);
    sqlite3_bind_int64(st, 16, g->not_before);
    sqlite3_bind_int64(st, 17, g->not_after);
    sqlite3_bind_text(st, 18, g->reason, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 19, g->break_glass);
    bind_opt_text(st, 20, g->approver);
    bind_opt_text(st, 21, g->revoked_by);
    bind_opt_text(st, 22, g->revoke_reason);
    sqlite3_bind_int64(st, 23, g->created);
    if (g->changed)
        sqlite3_bind_int64(st, 24, g->changed);
    else
        sqlite3_bind_null(st, 24);
    sqlite3_bind_blob(st, 25, g->mac, STORE_MAC_BYTES, SQLITE_STATIC);
    bind_opt_text(st, 26, g->issued_by.iss);
    bind_opt_text(st, 27, g->issued_by.sub);
    bind_opt_text(st, 28, g->issued_by.app);
    bind_opt_text(st, 29, g->issued_by.jti);
    bind_opt_text(st, 30, g->approved_by.iss);
    bind_opt_text(st, 31, g->approved_by.sub);
    bind_opt_text(st, 32, g->approved_by.app);
    bind_opt_text(st, 33, g->approved_by.jti);
}

/* Fill g from a row of GRANT_COLS; strings point into the row. */
static int grant_row(store_grant *g, sqlite3_stmt *st)
{
    memset(g, 0, sizeof *g);
    g->id = col_text(st, 0);
    g->state = col_text(st, 1);
    g->issuer = col_text(st, 2);
    g->issuer_role = col_text(st, 3);
    g->user = col_text(st, 4);
    g->role = col_text(st, 5);
    g->department = col_text(st, 6);
    g->effect = sqlite3_column_int(st, 7);
    g->actions = (unsigned)sqlite3_column_int64(st, 8);
    g->fields = col_text(st, 9);
    g->grade_min = col_text(st, 10);
    g->grade_max = col_text(st, 11);
    g->records = col_text(st, 12);
    g->jurisdiction = col_text(st, 13);
    g->purposes = col_text(st, 14);
    g->not_before = sqlite3_column_int64(st, 15);
    g->not_after = sqlite3_column_int64(st, 16);
    g->reason = col_text(st, 17);
    g->break_glass = sqlite3_column_int(st, 18);
    g->approver = col_text(st, 19);
    g->revoked_by = col_text(st, 20);
    g->revoke_reason = col_text(st, 21);
    g->created = sqlite3_column_int64(st, 22);
    g->changed = sqlite3_column_type(st, 23) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 23);
    col_mac(g->mac, st, 24);
    g->issued_by.iss = col_text(st, 25);
    g->issued_by.sub = col_text(st, 26);
    g->issued_by.app = col_text(st, 27);
    g->issued_by.jti = col_text(st, 28);
    g->approved_by.iss = col_text(st, 29);
    g->approved_by.sub = col_text(st, 30);
    g->approved_by.app = col_text(st, 31);
    g->approved_by.jti = col_text(st, 32);
    if (!g->id || !g->state || !g->issuer || !g->issuer_role || !g->reason)
        return vault__err(VAULT_EINTEGRITY, "database: a grant row is malformed");
    return VAULT_OK;
}

static int sq_grant_insert(store_backend *be, const store_grant *g)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_GRANT_INSERT));
    grant_bind(st, g);
    GUARD(step_done(s, st, "storing a grant"));
cleanup:
    done(st);
    return rc;
}

static int sq_grant_update(store_backend *be, const store_grant *g)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_GRANT_UPDATE));
    grant_bind(st, g);
    GUARD(step_done(s, st, "updating a grant"));
    ENSURE(sqlite3_changes(s->db) == 1, VAULT_ENOTFOUND, "no grant '%s'", g->id);
cleanup:
    done(st);
    return rc;
}

static int sq_grant_get(store_backend *be, const char *id,
                        int (*fn)(void *arg, const store_grant *row), void *arg)
{
    sqlc *s = S(be);
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;
    store_grant g;

    GUARD(stmt_own(&st, s, query_sql[Q_GRANT_GET]));
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    ENSURE(src != SQLITE_DONE, VAULT_ENOTFOUND, "no such grant");
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "reading a grant");
        goto cleanup;
    }
    GUARD(grant_row(&g, st));
    rc = visited(fn(arg, &g));
cleanup:
    sqlite3_finalize(st);
    return rc;
}

typedef struct grant_visit {
    int (*fn)(void *arg, const store_grant *row);
    void *arg;
} grant_visit;

static int grant_visit_row(void *arg, sqlite3_stmt *st)
{
    grant_visit *c = arg;
    store_grant row;
    int rc = grant_row(&row, st);

    return rc < 0 ? rc : c->fn(c->arg, &row);
}

static int sq_grant_scan(store_backend *be, int (*fn)(void *arg, const store_grant *row), void *arg)
{
    grant_visit c = {fn, arg};

    return scan_rows(S(be), "SELECT " GRANT_COLS " FROM grants ORDER BY created, id",
                     grant_visit_row, &c, "reading grants");
}

/* ---- quotas ---- */

static int sq_quota_count(store_backend *be, const char *quota, const char *user, int64_t since,
                          int64_t *out)
{
    sqlc *s = S(be);
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_QUOTA_COUNT));
    sqlite3_bind_text(st, 1, quota, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, since);
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "counting quota uses");
        goto cleanup;
    }
    *out = sqlite3_column_int64(st, 0);
cleanup:
    done(st);
    return rc;
}

static int sq_quota_add(store_backend *be, const char *quota, const char *user, int64_t since,
                        int64_t now)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_QUOTA_PRUNE));
    sqlite3_bind_text(st, 1, quota, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, since);
    GUARD(step_done(s, st, "pruning quota uses"));
    done(st);
    GUARD(stmt(&st, s, Q_QUOTA_ADD));
    sqlite3_bind_text(st, 1, quota, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    GUARD(step_done(s, st, "recording a quota use"));
cleanup:
    done(st);
    return rc;
}

static int sq_quota_count_records(store_backend *be, const char *quota, const char *user,
                                  int64_t since, const uint8_t record[VAULT_ID_BYTES], int64_t *out,
                                  int *seen)
{
    sqlc *s = S(be);
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;

    ENSURE(quota && user && record, VAULT_EINVALID, "database: quota, user or record missing");
    GUARD(stmt(&st, s, Q_QUOTA_RECORDS));
    sqlite3_bind_text(st, 1, quota, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, since);
    sqlite3_bind_blob(st, 4, record, VAULT_ID_BYTES, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "counting the residents of quota uses");
        goto cleanup;
    }
    *out = sqlite3_column_int64(st, 0);
    *seen = sqlite3_column_int64(st, 1) != 0;
cleanup:
    done(st);
    return rc;
}

static int sq_quota_add_record(store_backend *be, const char *quota, const char *user,
                               const uint8_t record[VAULT_ID_BYTES], int64_t since, int64_t now)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    ENSURE(quota && user && record, VAULT_EINVALID, "database: quota, user or record missing");
    GUARD(stmt(&st, s, Q_QUOTA_FORGET));
    sqlite3_bind_text(st, 1, quota, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, since);
    sqlite3_bind_blob(st, 4, record, VAULT_ID_BYTES, SQLITE_STATIC);
    GUARD(step_done(s, st, "pruning quota uses"));
    done(st);
    GUARD(stmt(&st, s, Q_QUOTA_ADD_RECORD));
    sqlite3_bind_text(st, 1, quota, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_blob(st, 4, record, VAULT_ID_BYTES, SQLITE_STATIC);
    GUARD(step_done(s, st, "recording a quota use"));
cleanup:
    done(st);
    return rc;
}

/* ---- bulk loads ---- */

/* One blind-index row of a bulk load; field is an index into the load's
 * field names (in the order they came; bidx_flush ranks them by name so
 * the tuples sort as the index does). */
typedef struct bidx_tuple {
    uint32_t field;
    uint8_t dlen;
    uint8_t digest[STORE_DIGEST_MAX];
    uint8_t id[VAULT_ID_BYTES];
} bidx_tuple;

/* The load's blind-index rows are added in chunks sorted by key, each
 * sweeping the index in order (memory bounded by the chunk: 262 144 rows
 * of 56 bytes). */
#define BIDX_CHUNK 262144

static int sq_bulk_begin(store_backend *be, size_t expected)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;

    GUARD(need_tx(s, 1));
    if (s->bulk || expected < BULK_MIN)
        return VAULT_OK;
    /* The id index stays (kept in the larger cache; rebuilding it from a
     * sort needed the sort's memory, over the 100 MB target at 1 M);
     * the blind-index rows are kept as the records come and added in
     * sorted chunks (bidx_flush), not read back from the records. */
    free(s->bulk_names);
    free(s->bulk_t);
    s->bulk_n = 0;
    s->bulk_names = calloc(1, sizeof *s->bulk_names);
    s->bulk_t = malloc(BIDX_CHUNK * sizeof *s->bulk_t);
    ENSURE(s->bulk_names && s->bulk_t, VAULT_ENOMEM, "out of memory");
    GUARD(audit_head_pos(s, &s->akeys_from));
    s->akeys_from++;
    s->nakeys = 0;
    s->nausers = 0;
    GUARD(exec(s, CACHE_BULK_PRAGMA, "starting a bulk load"));
    s->bulk = 1;
cleanup:
    return rc;
}

static int tuple_cmp(const void *a, const void *b)
{
    const bidx_tuple *x = a, *y = b;
    int c = (x->field > y->field) - (x->field < y->field);
    size_t n = x->dlen < y->dlen ? x->dlen : y->dlen;

    if (c)
        return c;
    /* Ordering the index's keys, as the index itself does. */
    if ((c = memcmp(x->digest, y->digest, n)) != 0) /* memcmp ok: not secret */
        return c;
    if (x->dlen != y->dlen)
        return x->dlen < y->dlen ? -1 : 1;
    return memcmp(x->id, y->id, VAULT_ID_BYTES); /* memcmp ok: not secret */
}

/* Add the kept rows to the blind index, sorted by key. */
static int bidx_flush(sqlc *s)
{
    int rc = VAULT_OK;
    const field_names *fn = s->bulk_names;
    uint32_t rank[FIELDS_MAX], by_name[FIELDS_MAX];
    size_t i, j, k;

    if (!s->bulk_n)
        return VAULT_OK;
    /* Field numbers in name order (a handful of names: insertion sort). */
    for (i = 0; i < fn->n; i++) {
        for (j = i; j > 0 && strcmp(fn->name[by_name[j - 1]], fn->name[i]) > 0; j--)
            by_name[j] = by_name[j - 1];
        by_name[j] = (uint32_t)i;
    }
    for (i = 0; i < fn->n; i++)
        rank[by_name[i]] = (uint32_t)i;
    for (k = 0; k < s->bulk_n; k++)
        s->bulk_t[k].field = rank[s->bulk_t[k].field];
    qsort(s->bulk_t, s->bulk_n, sizeof *s->bulk_t, tuple_cmp);
    for (k = 0; k < s->bulk_n; k++)
        GUARD(bidx_change(s, Q_BIDX_PUT, fn->name[by_name[s->bulk_t[k].field]],
                          s->bulk_t[k].digest, s->bulk_t[k].dlen, s->bulk_t[k].id));
    s->bulk_n = 0;
cleanup:
    return rc;
}

/* Keep the blind-index rows of a record the load created. */
static int bidx_bulk_note(sqlc *s, const store_record *r)
{
    int rc = VAULT_OK;
    field_names *fn = s->bulk_names;
    bidx_tuple *t;
    size_t i, k;

    for (i = 0; i < r->nfields; i++) {
        if (!r->fields[i].digest_len)
            continue;
        ENSURE(r->fields[i].digest_len <= STORE_DIGEST_MAX, VAULT_EINVALID,
               "a blind-index digest is too long");
        for (k = 0; k < fn->n && strcmp(fn->name[k], r->fields[i].name) != 0; k++)
            ;
        if (k == fn->n) {
            ENSURE(fn->n < FIELDS_MAX, VAULT_ELIMIT, "a bulk load indexes more than %d fields",
                   FIELDS_MAX);
            snprintf(fn->name[fn->n++], VAULT_NAME_MAX, "%s", r->fields[i].name);
        }
        if (s->bulk_n == BIDX_CHUNK)
            GUARD(bidx_flush(s));
        t = &s->bulk_t[s->bulk_n++];
        t->field = (uint32_t)k;
        memcpy(t->digest, r->fields[i].digest, r->fields[i].digest_len);
        t->dlen = (uint8_t)r->fields[i].digest_len;
        memcpy(t->id, r->id, VAULT_ID_BYTES);
    }
cleanup:
    return rc;
}

static int sq_bulk_end(store_backend *be)
{
    sqlc *s = S(be);
    int rc = VAULT_OK;

    GUARD(need_tx(s, 1));
    if (!s->bulk)
        return VAULT_OK;
    /* The last blind-index chunk, then the report indexes for the load's
     * entries (sorting in memory: SQLite's temporary files are not
     * encrypted). */
    GUARD(bidx_flush(s));
    GUARD(audit_merge(s, 1));
    GUARD(exec(s, CACHE_PRAGMA, "ending a bulk load"));
    s->bulk = 0;
    free(s->bulk_names);
    s->bulk_names = NULL;
    free(s->bulk_t);
    s->bulk_t = NULL;
    free(s->akeys);
    s->akeys = NULL;
    s->nakeys = s->akcap = 0;
    s->akeys_from = 0;
cleanup:
    return rc;
}

/* ---- migrations ---- */

typedef int (*remac_fn)(void *arg, int kind, void *row);
typedef void (*progress_fn)(uint64_t done, uint64_t total, void *arg);

/* One table of storage v1 copied into its schema-3 table: the SELECT
 * lists the columns in the order the row decoders read them (NULL for the
 * MAC); each row is tagged (remac) and written through the backend's own
 * operation. */
typedef struct table_copy {
    int kind; /* STORE_ROW_* */
    const char *what, *sql;
} table_copy;

static const table_copy copies[] = {
    {STORE_ROW_META, "meta", "SELECT key, value FROM v1_meta ORDER BY key"},
    {STORE_ROW_POLICY, "policies",
     "SELECT id, hash, filename, source, applied, NULL FROM v1_policies ORDER BY id"},
    {STORE_ROW_GRADEKEY, "grade keys", "SELECT grade, version, wrapped, created FROM v1_grade_keys"},
    {STORE_ROW_CHECKPOINT, "checkpoints",
     "SELECT size, note, created, NULL FROM v1_checkpoints ORDER BY size"},
    {STORE_ROW_GRANT, "grants",
     "SELECT " GRANT_COLS_V1 ", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
     " FROM v1_grants"},
};

static int copy_one(sqlc *s, int kind, sqlite3_stmt *st, remac_fn remac, void *arg)
{
    int rc = VAULT_OK;
    union {
        store_meta m;
        store_policy p;
        store_gradekey k;
        store_checkpoint c;
        store_grant g;
    } r;

    memset(&r, 0, sizeof r);
    switch (kind) {
    case STORE_ROW_META:
        r.m.key = col_text(st, 0);
        r.m.value = sqlite3_column_blob(st, 1);
        r.m.len = (size_t)sqlite3_column_bytes(st, 1);
        ENSURE(r.m.key, VAULT_EINTEGRITY, "database: a meta row is malformed");
        GUARD(remac(arg, kind, &r.m));
        GUARD(sq_meta_put(&s->base, &r.m));
        break;
    case STORE_ROW_POLICY:
        GUARD(policy_row(&r.p, st));
        GUARD(remac(arg, kind, &r.p));
        GUARD(sq_policy_add(&s->base, &r.p));
        break;
    case STORE_ROW_GRADEKEY:
        r.k.grade = col_text(st, 0);
        r.k.version = (uint32_t)sqlite3_column_int64(st, 1);
        r.k.wrapped = sqlite3_column_blob(st, 2);
        r.k.len = (size_t)sqlite3_column_bytes(st, 2);
        r.k.created = sqlite3_column_int64(st, 3);
        ENSURE(r.k.grade, VAULT_EINTEGRITY, "database: a grade key row is malformed");
        GUARD(remac(arg, kind, &r.k));
        GUARD(sq_gradekey_add(&s->base, &r.k));
        break;
    case STORE_ROW_CHECKPOINT:
        GUARD(checkpoint_row(&r.c, st));
        GUARD(remac(arg, kind, &r.c));
        GUARD(sq_checkpoint_add(&s->base, &r.c));
        break;
    case STORE_ROW_GRANT:
        GUARD(grant_row(&r.g, st));
        GUARD(remac(arg, kind, &r.g));
        GUARD(sq_grant_insert(&s->base, &r.g));
        break;
    default:
        ENSURE(0, VAULT_EINVALID, "database: no copy for row kind %d", kind);
    }
cleanup:
    return rc;
}

typedef struct copy_ctx {
    sqlc *s;
    int kind;
    remac_fn remac;
    void *arg;
} copy_ctx;

static int copy_row(void *arg, sqlite3_stmt *st)
{
    copy_ctx *c = arg;

    return copy_one(c->s, c->kind, st, c->remac, c->arg);
}

static int copy_rows(sqlc *s, const table_copy *t, remac_fn remac, void *arg)
{
    copy_ctx c = {s, t->kind, remac, arg};

    return scan_rows(s, t->sql, copy_row, &c, t->what);
}

/* Storage v1 (schemas 1 and 2) to schema 3 (in the tables of schema 4:
 * migrate_state then moves the audit state): rename the old tables, create
 * the new ones, copy every row with a MAC, drop the old tables. */
static int migrate_v3(sqlc *s, remac_fn remac, void *arg, progress_fn progress, void *parg)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL, *fs = NULL, *bs = NULL;
    store_field *fields = NULL;
    char *names = NULL;
    size_t nf = 0, i;
    char norm[VAULT_NAME_MAX];
    uint64_t total = 0, done = 0;

    GUARD(exec(s,
               "DROP INDEX records_jurisdiction; DROP INDEX fields_grade;"
               "DROP INDEX blind_index_lookup; DROP INDEX audit_record; DROP INDEX audit_user;"
               "ALTER TABLE meta RENAME TO v1_meta; ALTER TABLE policies RENAME TO v1_policies;"
               "ALTER TABLE grade_keys RENAME TO v1_grade_keys;"
               "ALTER TABLE records RENAME TO v1_records; ALTER TABLE fields RENAME TO v1_fields;"
               "ALTER TABLE blind_index RENAME TO v1_blind_index;"
               "ALTER TABLE audit RENAME TO v1_audit;"
               "ALTER TABLE checkpoints RENAME TO v1_checkpoints;"
               "ALTER TABLE grants RENAME TO v1_grants;",
               "migrating to storage v2"));
    GUARD(exec(s, schema_tables, "migrating to storage v2"));

    /* the small tables, each row tagged as it is copied */
    for (i = 0; i < VAULT_ARRAY_LEN(copies); i++)
        GUARD(copy_rows(s, &copies[i], remac, arg));

    /* records with their fields and digests, in creation order */
    fields = calloc(FIELDS_MAX, sizeof *fields);
    names = malloc(FIELDS_MAX * 2 * VAULT_NAME_MAX);
    ENSURE(fields && names, VAULT_ENOMEM, "out of memory");
    if (progress) {
        GUARD(stmt_own(&st, s, "SELECT count(*) FROM v1_records"));
        src = sqlite3_step(st);
        ENSURE(src == SQLITE_ROW, VAULT_EINTEGRITY, "database: migrating records: %s",
               sqlite3_errmsg(s->db));
        total = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        st = NULL;
        progress(0, total, parg);
    }
    GUARD(stmt_own(&st, s,
                   "SELECT id, jurisdiction, created, updated, version FROM v1_records"
                   " ORDER BY created, id"));
    GUARD(stmt_own(&fs, s,
                   "SELECT name, grade, key_version, ct FROM v1_fields WHERE record_id = ?1"
                   " ORDER BY name"));
    GUARD(stmt_own(&bs, s, "SELECT digest FROM v1_blind_index WHERE field = ?1 AND record_id = ?2"));
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        store_record r;
        size_t npos = 0, l;
        uint8_t *cts = NULL;

        memset(&r, 0, sizeof r);
        ENSURE(sqlite3_column_bytes(st, 0) == VAULT_ID_BYTES, VAULT_EINTEGRITY,
               "database: a record row has a bad id");
        memcpy(r.id, sqlite3_column_blob(st, 0), VAULT_ID_BYTES);
        r.jurisdiction = col_text(st, 1);
        r.created = sqlite3_column_int64(st, 2);
        r.updated = sqlite3_column_int64(st, 3);
        r.version = sqlite3_column_int64(st, 4);
        ENSURE(r.jurisdiction, VAULT_EINTEGRITY, "database: a record row failed its integrity check (malformed body)");
        sqlite3_bind_blob(fs, 1, r.id, VAULT_ID_BYTES, SQLITE_STATIC);
        nf = 0;
        while ((src = sqlite3_step(fs)) == SQLITE_ROW) {
            store_field *f;
            ENSURE(nf < FIELDS_MAX, VAULT_ELIMIT, "a record has more than %d fields", FIELDS_MAX);
            f = &fields[nf];
            memset(f, 0, sizeof *f);
            for (i = 0; i < 2; i++) {
                const char *t = col_text(fs, (int)i);
                ENSURE(t && (l = strlen(t)) < VAULT_NAME_MAX, VAULT_EINTEGRITY,
                       "database: a field row is malformed");
                memcpy(names + npos, t, l + 1);
                if (i == 0)
                    f->name = names + npos;
                else
                    f->grade = names + npos;
                npos += l + 1;
            }
            f->key_version = (uint32_t)sqlite3_column_int64(fs, 2);
            /* v1 ciphertexts bind no counter; the field keeps the record's
             * version until it is written or rotated again. */
            f->counter = r.version;
            l = (size_t)sqlite3_column_bytes(fs, 3);
            cts = malloc(l ? l : 1);
            ENSURE(cts, VAULT_ENOMEM, "out of memory");
            memcpy(cts, sqlite3_column_blob(fs, 3), l);
            f->ct = cts;
            f->ct_len = l;
            cts = NULL;
            sqlite3_bind_text(bs, 1, f->name, -1, SQLITE_STATIC);
            sqlite3_bind_blob(bs, 2, r.id, VAULT_ID_BYTES, SQLITE_STATIC);
            if (sqlite3_step(bs) == SQLITE_ROW &&
                (l = (size_t)sqlite3_column_bytes(bs, 0)) <= STORE_DIGEST_MAX) {
                memcpy(f->digest, sqlite3_column_blob(bs, 0), l);
                f->digest_len = l;
            }
            sqlite3_reset(bs);
            nf++;
        }
        sqlite3_reset(fs);
        r.fields = fields;
        r.nfields = nf;
        rc = src == SQLITE_DONE ? remac(arg, STORE_ROW_RECORD, &r)
                                : db_err(s, src, "migrating fields");
        if (rc == VAULT_OK)
            rc = sq_record_write(&s->base, &r, 1);
        for (i = 0; i < nf; i++)
            free((void *)fields[i].ct);
        nf = 0;
        GUARD(rc);
        if (progress && ++done <= total)
            progress(done, total, parg);
    }
    ENSURE(src == SQLITE_DONE, VAULT_EINTEGRITY, "database: migrating records: %s",
           sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    st = NULL;

    /* the audit log as it is; the user copies normalised for the index */
    GUARD(exec(s, "INSERT INTO audit(pos, entry, head, record_id, user, flags)"
                  " SELECT pos, entry, head, record_id, user, flags FROM v1_audit",
               "migrating the audit log"));
    GUARD(stmt_own(&st, s, "SELECT DISTINCT user FROM audit"));
    sqlite3_finalize(fs);
    fs = NULL;
    GUARD(stmt_own(&fs, s, "UPDATE audit SET user = ?2 WHERE user = ?1"));
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *u = col_text(st, 0);
        if (!u || !*u || vault__user_norm(norm, sizeof norm, u, "user") < 0 || strcmp(norm, u) == 0)
            continue;
        sqlite3_bind_text(fs, 1, u, -1, SQLITE_STATIC);
        sqlite3_bind_text(fs, 2, norm, -1, SQLITE_STATIC);
        src = sqlite3_step(fs);
        sqlite3_reset(fs);
        ENSURE(src == SQLITE_DONE, VAULT_EINTEGRITY, "database: migrating the audit log: %s",
               sqlite3_errmsg(s->db));
    }
    vault__err_clear();
    sqlite3_finalize(st);
    st = NULL;

    GUARD(exec(s,
               "DROP TABLE v1_blind_index; DROP TABLE v1_fields; DROP TABLE v1_records;"
               "DROP TABLE v1_meta; DROP TABLE v1_policies; DROP TABLE v1_grade_keys;"
               "DROP TABLE v1_audit; DROP TABLE v1_checkpoints; DROP TABLE v1_grants;",
               "migrating to storage v2"));
    GUARD(audit_merge(s, 1));
cleanup:
    for (i = 0; fields && i < nf; i++) /* a record left half-copied */
        free((void *)fields[i].ct);
    sqlite3_finalize(st);
    sqlite3_finalize(fs);
    sqlite3_finalize(bs);
    free(fields);
    free(names);
    return rc;
}

/* Schema 4: the audit state leaves its meta row for the newest audit row,
 * tagged there by remac after it checked the meta row's MAC. */
static int migrate_state(sqlc *s, remac_fn remac, void *arg)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL, *up = NULL;
    store_audit_state a;

    memset(&a, 0, sizeof a);
    GUARD(stmt_own(&st, s, "SELECT value, mac FROM meta WHERE key = '" STORE_META_AUDIT_TREE "'"));
    src = sqlite3_step(st);
    if (src == SQLITE_DONE)
        goto cleanup; /* none (no entry yet): nothing to move */
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "migrating the audit state");
        goto cleanup;
    }
    a.state = sqlite3_column_blob(st, 0);
    a.len = (size_t)sqlite3_column_bytes(st, 0);
    col_mac(a.mac, st, 1);
    GUARD(stmt_own(&up, s, "SELECT pos, head FROM audit ORDER BY pos DESC LIMIT 1"));
    src = sqlite3_step(up);
    ENSURE(src == SQLITE_ROW && sqlite3_column_bytes(up, 1) == 32 && a.len > 0, VAULT_EINTEGRITY,
           "database: migrating the audit state: it has no newest entry to go on");
    a.pos = sqlite3_column_int64(up, 0);
    memcpy(a.head, sqlite3_column_blob(up, 1), 32);
    sqlite3_finalize(up);
    up = NULL;
    GUARD(remac(arg, STORE_ROW_AUDIT_STATE, &a));
    GUARD(sq_audit_state_put(&s->base, &a, 0));
    sqlite3_finalize(st); /* a.state pointed into its row */
    st = NULL;
    GUARD(exec(s, "DELETE FROM meta WHERE key = '" STORE_META_AUDIT_TREE "'",
               "migrating the audit state"));
cleanup:
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    return rc;
}

static int sq_migrate(store_backend *be, int *from, remac_fn remac, void *arg, progress_fn progress,
                      void *parg)
{
    sqlc *s = S(be);
    int rc = VAULT_OK, version = 0;

    GUARD(need_tx(s, 1));
    GUARD(user_version(&version, s));
    *from = version;
    ENSURE(version <= SCHEMA_NOW, VAULT_ESTATE,
           "vault schema version %d is newer than this libvault supports (%d)", version, SCHEMA_NOW);
    ENSURE(version > 0, VAULT_EINTEGRITY, "not a libvault vault (no schema)");
    if (version == SCHEMA_NOW)
        goto cleanup;
    if (version < 2)
        GUARD(exec(s, schema_v2, "migrating the schema"));
    if (version < 3)
        GUARD(migrate_v3(s, remac, arg, progress, parg)); /* creates schema 5's tables */
    else if (version < 4)
        GUARD(exec(s,
                   "ALTER TABLE audit ADD COLUMN state BLOB;"
                   "ALTER TABLE audit ADD COLUMN state_mac BLOB;",
                   "migrating to schema 4"));
    /* Schema 5: columns only.  A grant row without principals keeps its
     * bytes and MAC (store.c row_bytes), so no row is re-tagged. */
    if (version >= 3 && version < 5)
        GUARD(exec(s,
                   "ALTER TABLE grants ADD COLUMN issuer_iss TEXT;"
                   "ALTER TABLE grants ADD COLUMN issuer_sub TEXT;"
                   "ALTER TABLE grants ADD COLUMN issuer_app TEXT;"
                   "ALTER TABLE grants ADD COLUMN issuer_jti TEXT;"
                   "ALTER TABLE grants ADD COLUMN approver_iss TEXT;"
                   "ALTER TABLE grants ADD COLUMN approver_sub TEXT;"
                   "ALTER TABLE grants ADD COLUMN approver_app TEXT;"
                   "ALTER TABLE grants ADD COLUMN approver_jti TEXT;",
                   "migrating to schema 5"));
    if (version < 4)
        GUARD(migrate_state(s, remac, arg));
    /* Schema 6: a column only (NULL for every use counted before). */
    if (version < 6)
        GUARD(exec(s, schema_v6, "migrating to schema 6"));
    /* Schema 7: PostgreSQL's partitioned layout; 8: PostgreSQL's audit
     * log by log (a file keeps one log); nothing in a file. */
    GUARD(set_user_version(s, SCHEMA_NOW));
    /* The statements prepared before refer to the old tables. */
cleanup:
    return rc;
}

/* Open the connection, key it, set the page size and prove the key with a
 * first read.  SQLITE_NOTADB (wrong key, or pages of another size) is
 * returned as is for the caller to decide. */
static int connect_keyed(sqlc *s, const char *path, const char *keyhex, int page_size)
{
    char pragma[64];
    int src;

    src = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL);
    if (src != SQLITE_OK)
        return src;
    src = sqlite3_key(s->db, keyhex, (int)strlen(keyhex));
    if (src != SQLITE_OK)
        return src;
    snprintf(pragma, sizeof pragma, "PRAGMA cipher_page_size = %d;", page_size);
    src = sqlite3_exec(s->db, pragma, NULL, NULL, NULL);
    if (src != SQLITE_OK)
        return src;
    /* Before the first read: it waits like every other statement while
     * another process recovers or checkpoints the WAL. */
    sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
    return sqlite3_exec(s->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
}

/* ---- copies: backup and restore (docs/backup.md) ---- */

/* Pages copied per sqlite3_backup_step between progress reports. */
#define COPY_STEP_PAGES 256
/* How long a claim waits for the other connections of a vault to go. */
#define CLAIM_TIMEOUT_MS 2000

/* "x'<64 hex>'" in guarded memory (sodium_free it), or NULL. */
static char *keyhex_new(const uint8_t key[32])
{
    char *k = sodium_malloc(3 + 64 + 1);

    if (!k)
        return NULL;
    k[0] = 'x';
    k[1] = '\'';
    sodium_bin2hex(k + 2, 65, key, 32);
    k[66] = '\'';
    k[67] = '\0';
    return k;
}

static int copy_code(int src)
{
    switch (src & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return VAULT_EBUSY;
    case SQLITE_NOMEM:
        return VAULT_ENOMEM;
    case SQLITE_NOTADB:
        return VAULT_EAUTH;
    case SQLITE_CORRUPT:
        return VAULT_EINTEGRITY;
    default:
        return VAULT_EIO;
    }
}

/* A keyed connection to an existing file, page size found as at open
 * (4 KiB, else the 1 KiB of older vaults).  *page_size receives it. */
static int open_keyed(sqlc *s, int *page_size, const char *path, const char *keyhex)
{
    int src = connect_keyed(s, path, keyhex, STORE_PAGE_SIZE);

    *page_size = STORE_PAGE_SIZE;
    if (src == SQLITE_NOTADB) {
        sqlite3_close(s->db);
        s->db = NULL;
        src = connect_keyed(s, path, keyhex, STORE_PAGE_SIZE_LEGACY);
        *page_size = STORE_PAGE_SIZE_LEGACY;
    }
    if (src == SQLITE_NOTADB)
        return vault__err(VAULT_EAUTH, "%s: wrong key, or not a libvault vault", path);
    if (src == SQLITE_CANTOPEN)
        return vault__err(VAULT_ENOTFOUND, "%s: cannot open the vault file", path);
    if (src != SQLITE_OK)
        return vault__err(copy_code(src), "%s: %s", path,
                          s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src));
    return VAULT_OK;
}

/* Copy the main database of `from` (a connection in the read transaction
 * its caller holds, so the copy is that one snapshot however long it
 * takes and whoever writes meanwhile) into the new file `path`: created
 * here (O_EXCL, mode 0600, never through a symbolic link), keyed with the
 * same key and page size, through SQLite's online backup API; removed
 * again when anything fails. */
static int copy_into(sqlite3 *from, int page_size, const char *path, const char *keyhex,
                     vault_progress_fn progress, void *arg)
{
    int rc = VAULT_OK, src, fd, made = 0;
    sqlite3 *to = NULL;
    sqlite3_backup *b = NULL;
    char pragma[64];
    int total;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    ENSURE(fd >= 0, errno == EEXIST ? VAULT_EEXISTS : VAULT_EIO, "%s: %s", path, strerror(errno));
    close(fd);
    made = 1;
    src = sqlite3_open_v2(path, &to, SQLITE_OPEN_READWRITE, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_key(to, keyhex, (int)strlen(keyhex));
    snprintf(pragma, sizeof pragma, "PRAGMA cipher_page_size = %d;", page_size);
    if (src == SQLITE_OK)
        src = sqlite3_exec(to, pragma, NULL, NULL, NULL);
    ENSURE(src == SQLITE_OK, copy_code(src), "%s: %s", path,
           to ? sqlite3_errmsg(to) : sqlite3_errstr(src));
    b = sqlite3_backup_init(to, "main", from, "main");
    ENSURE(b, copy_code(sqlite3_errcode(to)), "%s: cannot start the copy: %s", path,
           sqlite3_errmsg(to));
    do {
        src = sqlite3_backup_step(b, COPY_STEP_PAGES);
        total = sqlite3_backup_pagecount(b);
        if (progress && (src == SQLITE_OK || src == SQLITE_DONE))
            progress((uint64_t)(total - sqlite3_backup_remaining(b)), (uint64_t)total, arg);
    } while (src == SQLITE_OK);
    src = src == SQLITE_DONE ? sqlite3_backup_finish(b) : (sqlite3_backup_finish(b), src);
    b = NULL;
    ENSURE(src == SQLITE_OK, copy_code(src), "%s: copying the vault: %s", path,
           sqlite3_errstr(src));
    src = sqlite3_close(to);
    to = NULL;
    ENSURE(src == SQLITE_OK, copy_code(src), "%s: closing the copy: %s", path,
           sqlite3_errstr(src));
cleanup:
    if (b)
        sqlite3_backup_finish(b);
    sqlite3_close(to);
    if (rc < 0 && made && rc != VAULT_EEXISTS) {
        char side[4096];

        unlink(path);
        snprintf(side, sizeof side, "%s-journal", path);
        unlink(side);
    }
    return rc;
}

static int sq_backup_to(store_backend *be, const char *path, const uint8_t key[32],
                        vault_progress_fn progress, void *arg)
{
    int rc = VAULT_OK;
    sqlc *s = S(be);
    char *keyhex = keyhex_new(key);

    ENSURE(keyhex, VAULT_ENOMEM, "out of secure memory");
    ENSURE(!sqlite3_get_autocommit(s->db), VAULT_ESTATE,
           "database: a backup runs in the caller's read transaction");
    GUARD(copy_into(s->db, s->page_size, path, keyhex, progress, arg));
cleanup:
    if (keyhex)
        sodium_free(keyhex);
    return rc;
}

int store_sqlcipher_copy(const char *from, const char *to, const uint8_t key[32],
                         vault_progress_fn progress, void *arg)
{
    int rc = VAULT_OK, page_size = 0;
    sqlc *s = calloc(1, sizeof *s);
    char *keyhex = keyhex_new(key);

    ENSURE(s && keyhex, VAULT_ENOMEM, "out of memory");
    GUARD(open_keyed(s, &page_size, from, keyhex));
    GUARD(exec(s, "BEGIN; SELECT count(*) FROM sqlite_master", "reading the copy"));
    GUARD(copy_into(s->db, page_size, to, keyhex, progress, arg));
cleanup:
    if (keyhex)
        sodium_free(keyhex);
    sq_free(s ? &s->base : NULL);
    return rc;
}

struct sqc_claim {
    sqlc *s;
    char *keyhex; /* kept for store_sqlcipher_claim_copy */
    int page_size;
};

int store_sqlcipher_claim(sqc_claim **out, const char *path, const uint8_t key[32])
{
    int rc = VAULT_OK, page_size = 0, src;
    sqc_claim *c = NULL;
    char *keyhex = keyhex_new(key);
    char wal[4096];
    sqlite3_stmt *st = NULL;
    struct stat sb;

    *out = NULL;
    c = calloc(1, sizeof *c);
    ENSURE(c && keyhex, VAULT_ENOMEM, "out of memory");
    c->s = calloc(1, sizeof *c->s);
    ENSURE(c->s, VAULT_ENOMEM, "out of memory");
    GUARD(open_keyed(c->s, &page_size, path, keyhex));
    sqlite3_busy_timeout(c->s->db, CLAIM_TIMEOUT_MS);
    /* Leaving WAL mode needs the only connection to the file: every other
     * one (a vault handle, vaultd, the sqlcipher shell) holds a lock on it
     * for as long as it is open.  It also folds the WAL into the file. */
    GUARD(exec(c->s, "PRAGMA locking_mode = EXCLUSIVE", "claiming the vault"));
    src = sqlite3_prepare_v2(c->s->db, "PRAGMA journal_mode = DELETE", -1, &st, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    ENSURE(src == SQLITE_ROW && sqlite3_column_text(st, 0) &&
               strcmp((const char *)sqlite3_column_text(st, 0), "delete") == 0,
           VAULT_EBUSY, "%s is open elsewhere (a vault handle, vaultd, a shell): close it first",
           path);
    sqlite3_finalize(st);
    st = NULL;
    /* Held until the release: whoever opens the file meanwhile waits. */
    GUARD(exec(c->s, "BEGIN EXCLUSIVE; COMMIT", "claiming the vault"));
    snprintf(wal, sizeof wal, "%s-wal", path);
    ENSURE(stat(wal, &sb) != 0 && errno == ENOENT, VAULT_EBUSY,
           "%s is open elsewhere (its WAL is still there): close it first", path);
    c->keyhex = keyhex;
    c->page_size = page_size;
    keyhex = NULL;
    *out = c;
    c = NULL;
cleanup:
    sqlite3_finalize(st);
    if (keyhex)
        sodium_free(keyhex);
    store_sqlcipher_release(c);
    return rc;
}

void store_sqlcipher_release(sqc_claim *c)
{
    if (!c)
        return;
    sq_free(c->s ? &c->s->base : NULL);
    if (c->keyhex)
        sodium_free(c->keyhex);
    free(c);
}

int store_sqlcipher_claim_copy(sqc_claim *c, const char *to)
{
    int rc = VAULT_OK;

    ENSURE(c && c->s && c->keyhex && to, VAULT_EINVALID, "claim copy: missing argument");
    GUARD(copy_into(c->s->db, c->page_size, to, c->keyhex, NULL, NULL));
cleanup:
    return rc;
}

/* ---- row_scan (backend.h, version 5: store_copy) ---- */

typedef struct scan_visit {
    sqlc *s;
    int kind;
    int (*fn)(void *arg, int kind, const void *row);
    void *arg;
} scan_visit;

static int scan_row(void *arg, sqlite3_stmt *st)
{
    scan_visit *v = arg;
    int rc = VAULT_OK;

    switch (v->kind) {
    case STORE_ROW_META: {
        store_meta m;
        memset(&m, 0, sizeof m);
        m.key = col_text(st, 0);
        m.value = sqlite3_column_blob(st, 1);
        m.len = (size_t)sqlite3_column_bytes(st, 1);
        col_mac(m.mac, st, 2);
        ENSURE(m.key, VAULT_EINTEGRITY, "database: a meta row is malformed");
        if (!m.value)
            m.value = (const uint8_t *)"";
        return v->fn(v->arg, v->kind, &m);
    }
    case STORE_ROW_POLICY: {
        store_policy p;
        GUARD(policy_row(&p, st));
        return v->fn(v->arg, v->kind, &p);
    }
    case STORE_ROW_GRADEKEY: {
        store_gradekey k;
        memset(&k, 0, sizeof k);
        k.grade = col_text(st, 0);
        k.version = (uint32_t)sqlite3_column_int64(st, 1);
        k.wrapped = sqlite3_column_blob(st, 2);
        k.len = (size_t)sqlite3_column_bytes(st, 2);
        k.created = sqlite3_column_int64(st, 3);
        col_mac(k.mac, st, 4);
        ENSURE(k.grade && k.wrapped, VAULT_EINTEGRITY, "database: a grade key row is malformed");
        return v->fn(v->arg, v->kind, &k);
    }
    case STORE_ROW_RECORD: {
        store_record r;
        GUARD(row_to_record(&r, v->s, st));
        return v->fn(v->arg, v->kind, &r);
    }
    case STORE_ROW_GRANT: {
        store_grant g;
        GUARD(grant_row(&g, st));
        return v->fn(v->arg, v->kind, &g);
    }
    case STORE_ROW_CHECKPOINT: {
        store_checkpoint c;
        memset(&c, 0, sizeof c);
        GUARD(checkpoint_row(&c, st));
        return v->fn(v->arg, v->kind, &c);
    }
    case STORE_ROW_QUOTA: {
        store_quota_row q;
        q.quota = col_text(st, 0);
        q.user = col_text(st, 1);
        q.at = sqlite3_column_int64(st, 2);
        q.record = NULL;
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            ENSURE(sqlite3_column_bytes(st, 3) == VAULT_ID_BYTES, VAULT_EINTEGRITY,
                   "database: a quota row's record is malformed");
            q.record = sqlite3_column_blob(st, 3);
        }
        ENSURE(q.quota && q.user, VAULT_EINTEGRITY, "database: a quota row is malformed");
        return v->fn(v->arg, v->kind, &q);
    }
    case STORE_ROW_AUDIT: {
        store_audit_row a;
        memset(&a, 0, sizeof a);
        a.log = STORE_LOG_CITY;
        a.pos = sqlite3_column_int64(st, 0);
        a.entry = sqlite3_column_blob(st, 1);
        a.len = (size_t)sqlite3_column_bytes(st, 1);
        a.head = sqlite3_column_blob(st, 2);
        a.head_len = (size_t)sqlite3_column_bytes(st, 2);
        if (sqlite3_column_bytes(st, 3) == VAULT_ID_BYTES)
            a.record_id = sqlite3_column_blob(st, 3);
        a.user = col_text(st, 4);
        a.flags = (unsigned)sqlite3_column_int64(st, 5);
        ENSURE(a.entry && a.head && a.user, VAULT_EINTEGRITY,
               "audit log: the entry at position %lld is incomplete", (long long)a.pos);
        return v->fn(v->arg, v->kind, &a);
    }
    default:
        rc = vault__err(VAULT_EINVALID, "database: row_scan of unknown kind %d", v->kind);
    }
cleanup:
    return rc;
}

typedef struct state_visit {
    int (*fn)(void *arg, int kind, const void *row);
    void *arg;
} state_visit;

/* The newest audit row's state as a store_audit_state (no call: none). */
static int state_of_head(void *arg, const store_audit_head *h)
{
    state_visit *v = arg;
    store_audit_state a;

    return store_head_state(&a, h) ? v->fn(v->arg, STORE_ROW_AUDIT_STATE, &a) : 0;
}

static int sq_row_scan(store_backend *be, int kind, int (*fn)(void *arg, int kind, const void *row),
                       void *arg)
{
    static const char *const sql[] = {
        [STORE_ROW_META] = "SELECT key, value, mac FROM meta ORDER BY key",
        [STORE_ROW_POLICY] = "SELECT id, hash, filename, source, applied, mac FROM policies ORDER BY id",
        [STORE_ROW_GRADEKEY] =
            "SELECT grade, version, wrapped, created, mac FROM grade_keys ORDER BY grade, version",
        [STORE_ROW_RECORD] = "SELECT id, jurisdiction, created, updated, version, body, mac"
                             " FROM records ORDER BY rid",
        [STORE_ROW_GRANT] = "SELECT " GRANT_COLS " FROM grants ORDER BY created, id",
        [STORE_ROW_CHECKPOINT] = "SELECT size, note, created, mac FROM checkpoints ORDER BY size",
        [STORE_ROW_QUOTA] =
            "SELECT quota, user, at, record FROM quota_use ORDER BY quota, user, at, record",
        [STORE_ROW_AUDIT] = "SELECT pos, entry, head, record_id, user, flags FROM audit ORDER BY pos",
    };
    scan_visit v = {S(be), kind, fn, arg};
    state_visit sv = {fn, arg};

    if (kind == STORE_ROW_AUDIT_STATE)
        return sq_audit_head(be, STORE_LOG_CITY, state_of_head, &sv);
    if (kind < STORE_ROW_META || kind > STORE_ROW_AUDIT || !sql[kind])
        return vault__err(VAULT_EINVALID, "database: row_scan of unknown kind %d", kind);
    return scan_rows(S(be), sql[kind], scan_row, &v, "scanning rows");
}

static const store_backend sqlcipher_table = {
    .version = STORE_BACKEND_VERSION,
    .name = "sqlcipher",
    .free = sq_free,
    .migrate = sq_migrate,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .generation = sq_generation,
    .meta_get = sq_meta_get,
    .meta_put = sq_meta_put,
    .policy_add = sq_policy_add,
    .policy_active = sq_policy_active,
    .policy_next_id = sq_policy_next_id,
    .gradekey_add = sq_gradekey_add,
    .gradekey_get = sq_gradekey_get,
    .gradekey_latest = sq_gradekey_latest,
    .gradekey_retire = sq_gradekey_retire,
    .record_get_batch = sq_record_get_batch,
    .record_write = sq_record_write,
    .record_delete = sq_record_delete,
    .record_count = sq_record_count,
    .record_scan_stale = sq_record_scan_stale,
    .field_count_stale = sq_field_count_stale,
    .bidx_find = sq_bidx_find,
    .bidx_next = sq_bidx_next,
    .audit_write = sq_audit_write,
    .audit_head = sq_audit_head,
    .audit_iter = sq_audit_iter,
    .audit_next = sq_audit_next,
    .audit_count = sq_audit_count,
    .audit_index = sq_audit_index,
    .checkpoint_add = sq_checkpoint_add,
    .checkpoint_scan = sq_checkpoint_scan,
    .checkpoint_last = sq_checkpoint_last,
    .grant_insert = sq_grant_insert,
    .grant_get = sq_grant_get,
    .grant_update = sq_grant_update,
    .grant_scan = sq_grant_scan,
    .quota_count = sq_quota_count,
    .quota_add = sq_quota_add,
    .bulk_begin = sq_bulk_begin,
    .bulk_end = sq_bulk_end,
    .iter_free = sq_iter_free,
    .deferred_writes = 1,
    .audit_state_put = sq_audit_state_put,
    .audit_logs = sq_audit_logs,
    .backup_to = sq_backup_to,
    .row_scan = sq_row_scan,
    .destroy = NULL, /* a file: the caller removes it */
    .meta_delete = sq_meta_delete,
    .quota_count_records = sq_quota_count_records,
    .quota_add_record = sq_quota_add_record,
};

int store_sqlcipher_open(store_backend **out, const char *path, const uint8_t key[32], int create)
{
    int rc = VAULT_OK;
    sqlc *s = NULL;
    char *keyhex = NULL; /* "x'<64 hex>'" */
    int fd = -1, src;
    const size_t keyhex_len = 3 + 64;

    *out = NULL;
    if (create) {
        /* Create the file ourselves: refuses to clobber, sets mode 0600. */
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ENSURE(fd >= 0, errno == EEXIST ? VAULT_EEXISTS : VAULT_EIO, "%s: %s", path,
               strerror(errno));
        close(fd);
    }
    s = calloc(1, sizeof *s);
    ENSURE(s, VAULT_ENOMEM, "out of memory");
    s->base = sqlcipher_table;
    s->path = strdup(path);
    ENSURE(s->path, VAULT_ENOMEM, "out of memory");
    keyhex = sodium_malloc(keyhex_len + 1);
    ENSURE(keyhex, VAULT_ENOMEM, "out of secure memory");
    keyhex[0] = 'x';
    keyhex[1] = '\'';
    sodium_bin2hex(keyhex + 2, 65, key, 32);
    keyhex[66] = '\'';
    keyhex[67] = '\0';
    src = connect_keyed(s, path, keyhex, STORE_PAGE_SIZE);
    s->page_size = STORE_PAGE_SIZE;
    if (src == SQLITE_NOTADB && !create) {
        /* Vaults made before 4 KiB pages use SQLCipher 3's 1 KiB default. */
        sqlite3_close(s->db);
        s->db = NULL;
        src = connect_keyed(s, path, keyhex, STORE_PAGE_SIZE_LEGACY);
        s->page_size = STORE_PAGE_SIZE_LEGACY;
    }
    if (src == SQLITE_NOTADB) {
        rc = vault__err(VAULT_EAUTH, "%s: wrong key, or not a libvault vault", path);
        goto cleanup;
    }
    if (src == SQLITE_CANTOPEN) {
        rc = vault__err(VAULT_ENOTFOUND, "%s: cannot open the vault file", path);
        goto cleanup;
    }
    if (src != SQLITE_OK) {
        rc = s->db ? db_err(s, src, "open") : vault__err(VAULT_ENOMEM, "out of memory");
        goto cleanup;
    }
    {
        /* The first read waited for whoever held the file as its only
         * connection (a restore, a master-key rotation): if that one put
         * another file at the path meanwhile, this connection holds the
         * replaced one, and what it wrote would be lost. */
        int moved = 0;

        if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK &&
            moved) {
            rc = vault__err(VAULT_EBUSY,
                            "%s was replaced while it was being opened (a restore or a "
                            "master-key rotation): open it again", path);
            goto cleanup;
        }
    }
    GUARD(exec(s,
               "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
               "PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY;"
               /* 16 MiB of page cache: reads of a large vault keep the id
                * index cached, and memory stays well bounded. */
               CACHE_PRAGMA ";",
               "setting pragmas"));
    if (create) {
        GUARD(exec(s, "BEGIN IMMEDIATE", "creating the schema"));
        rc = exec(s, schema_v2, "creating the schema");
        if (rc == VAULT_OK)
            rc = exec(s, schema_tables, "creating the schema");
        if (rc == VAULT_OK)
            rc = exec(s, schema_v6, "creating the schema");
        if (rc == VAULT_OK)
            rc = set_user_version(s, SCHEMA_NOW);
        if (rc == VAULT_OK)
            rc = exec(s, "COMMIT", "creating the schema");
        if (rc < 0) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            goto cleanup;
        }
    }
    *out = &s->base;
    s = NULL;
cleanup:
    if (keyhex)
        sodium_free(keyhex);
    sq_free(s ? &s->base : NULL);
    if (rc < 0 && create && rc != VAULT_EEXISTS)
        unlink(path);
    return rc;
}

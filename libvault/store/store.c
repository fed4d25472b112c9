/* store: SQLCipher schema, migrations, transactions, prepared statements. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store.h"

/* Prepared statements, created on first use and kept for the connection. */
enum {
    Q_META_GET,
    Q_META_PUT,
    Q_META_UPD,
    Q_POLICY_ADD,
    Q_POLICY_ACTIVE,
    Q_GK_ADD,
    Q_GK_GET,
    Q_GK_LATEST,
    Q_REC_INSERT,
    Q_REC_GET,
    Q_REC_TOUCH,
    Q_REC_DEL_FIELDS,
    Q_REC_DEL_BIDX,
    Q_REC_DEL,
    Q_REC_COUNT,
    Q_FIELD_PUT,
    Q_FIELD_UPD,
    Q_FIELD_GET,
    Q_BIDX_PUT,
    Q_BIDX_UPD,
    Q_BIDX_FIND,
    Q_DATA_VERSION,
    Q_AUDIT_APPEND,
    Q_AUDIT_LAST,
    Q_AUDIT_SCAN,
    Q_AUDIT_SCAN_RECORD,
    Q_AUDIT_COUNT,
    Q_CP_ADD,
    Q_CP_SCAN,
    Q_CP_LAST,
    Q_FIELD_STALE,
    Q_FIELD_STALE_COUNT,
    Q_GK_RETIRE,
    Q_GRANT_INSERT,
    Q_GRANT_GET,
    Q_GRANT_SET_STATE,
    Q_GRANT_SCAN,
    Q_QUOTA_COUNT,
    Q_QUOTA_PRUNE,
    Q_QUOTA_ADD,
    Q__COUNT
};

static const char *const query_sql[Q__COUNT] = {
    [Q_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [Q_META_PUT] = "INSERT INTO meta(key, value) VALUES (?1, ?2)",
    [Q_META_UPD] = "UPDATE meta SET value = ?2 WHERE key = ?1",
    [Q_POLICY_ADD] = "INSERT INTO policies(hash, filename, source, applied) VALUES (?1, ?2, ?3, ?4)",
    [Q_POLICY_ACTIVE] = "SELECT id, filename, source FROM policies ORDER BY id DESC LIMIT 1",
    [Q_GK_ADD] = "INSERT INTO grade_keys(grade, version, wrapped, created) VALUES (?1, ?2, ?3, ?4)",
    [Q_GK_GET] = "SELECT wrapped FROM grade_keys WHERE grade = ?1 AND version = ?2",
    [Q_GK_LATEST] = "SELECT max(version) FROM grade_keys WHERE grade = ?1",
    [Q_REC_INSERT] = "INSERT INTO records(id, jurisdiction, created, updated, version) "
                     "VALUES (?1, ?2, ?3, ?3, 1)",
    [Q_REC_GET] = "SELECT jurisdiction, created, updated, version FROM records WHERE id = ?1",
    [Q_REC_TOUCH] = "UPDATE records SET updated = ?2, version = version + 1 WHERE id = ?1",
    [Q_REC_DEL_FIELDS] = "DELETE FROM fields WHERE record_id = ?1",
    [Q_REC_DEL_BIDX] = "DELETE FROM blind_index WHERE record_id = ?1",
    [Q_REC_DEL] = "DELETE FROM records WHERE id = ?1",
    [Q_REC_COUNT] = "SELECT count(*) FROM records",
    [Q_FIELD_PUT] = "INSERT INTO fields(record_id, name, grade, key_version, ct, updated) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_FIELD_UPD] = "UPDATE fields SET grade = ?3, key_version = ?4, ct = ?5, updated = ?6 "
                    "WHERE record_id = ?1 AND name = ?2",
    [Q_FIELD_GET] = "SELECT grade, key_version, ct FROM fields WHERE record_id = ?1 AND name = ?2",
    [Q_BIDX_PUT] = "INSERT INTO blind_index(field, digest, record_id) VALUES (?1, ?2, ?3)",
    [Q_BIDX_UPD] = "UPDATE blind_index SET digest = ?2 WHERE field = ?1 AND record_id = ?3",
    [Q_BIDX_FIND] = "SELECT record_id FROM blind_index WHERE field = ?1 AND digest = ?2 "
                    "ORDER BY record_id",
    [Q_DATA_VERSION] = "PRAGMA data_version",
    [Q_AUDIT_APPEND] = "INSERT INTO audit(pos, entry, head, record_id, user, flags) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_AUDIT_LAST] = "SELECT pos, entry, head FROM audit ORDER BY pos DESC LIMIT 1",
    [Q_AUDIT_SCAN] = "SELECT pos, entry, head FROM audit WHERE pos > ?1 ORDER BY pos",
    [Q_AUDIT_SCAN_RECORD] = "SELECT pos, entry, head FROM audit WHERE record_id = ?1 ORDER BY pos",
    [Q_AUDIT_COUNT] = "SELECT count(*) FROM audit",
    [Q_CP_ADD] = "INSERT OR REPLACE INTO checkpoints(size, note, created) VALUES (?1, ?2, ?3)",
    [Q_CP_SCAN] = "SELECT size, note FROM checkpoints ORDER BY size",
    [Q_CP_LAST] = "SELECT max(size) FROM checkpoints",
    [Q_FIELD_STALE] = "SELECT record_id, name, key_version, ct FROM fields "
                      "WHERE grade = ?1 AND key_version < ?2 LIMIT ?3",
    [Q_FIELD_STALE_COUNT] = "SELECT count(*) FROM fields WHERE grade = ?1 AND key_version < ?2",
    [Q_GK_RETIRE] = "DELETE FROM grade_keys WHERE grade = ?1 AND version < ?2",
    [Q_GRANT_INSERT] = "INSERT INTO grants(id, state, issuer, issuer_role, subject_user, subject_role,"
                       " subject_department, effect, actions, fields, grade_min, grade_max, records,"
                       " jurisdiction, purposes, not_before, not_after, reason, break_glass, created)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
                       " ?16, ?17, ?18, ?19, ?20)",
    [Q_GRANT_GET] = "SELECT id, state, issuer, issuer_role, subject_user, subject_role,"
                    " subject_department, effect, actions, fields, grade_min, grade_max, records,"
                    " jurisdiction, purposes, not_before, not_after, reason, break_glass, approver,"
                    " revoked_by, revoke_reason, created, changed FROM grants WHERE id = ?1",
    [Q_GRANT_SET_STATE] = "UPDATE grants SET state = ?2, approver = coalesce(?3, approver),"
                          " revoked_by = coalesce(?4, revoked_by),"
                          " revoke_reason = coalesce(?5, revoke_reason), changed = ?6 WHERE id = ?1",
    [Q_GRANT_SCAN] = "SELECT id, state, issuer, issuer_role, subject_user, subject_role,"
                     " subject_department, effect, actions, fields, grade_min, grade_max, records,"
                     " jurisdiction, purposes, not_before, not_after, reason, break_glass, approver,"
                     " revoked_by, revoke_reason, created, changed FROM grants ORDER BY created, id",
    [Q_QUOTA_COUNT] = "SELECT count(*) FROM quota_use WHERE quota = ?1 AND user = ?2 AND at > ?3",
    [Q_QUOTA_PRUNE] = "DELETE FROM quota_use WHERE quota = ?1 AND user = ?2 AND at <= ?3",
    [Q_QUOTA_ADD] = "INSERT INTO quota_use(quota, user, at) VALUES (?1, ?2, ?3)",
};

/* Schema, one entry per version; migration N takes user_version N-1 to N. */
static const char *const migrations[] = {
    /* 1: initial schema */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE policies(id INTEGER PRIMARY KEY, hash BLOB NOT NULL, filename TEXT NOT NULL,"
    " source TEXT NOT NULL,"
    " applied INTEGER NOT NULL);"
    "CREATE TABLE grade_keys(grade TEXT NOT NULL, version INTEGER NOT NULL, wrapped BLOB NOT NULL,"
    " created INTEGER NOT NULL, PRIMARY KEY(grade, version)) WITHOUT ROWID;"
    "CREATE TABLE records(id BLOB PRIMARY KEY, jurisdiction TEXT NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX records_jurisdiction ON records(jurisdiction);"
    "CREATE TABLE fields(record_id BLOB NOT NULL REFERENCES records(id), name TEXT NOT NULL,"
    " grade TEXT NOT NULL, key_version INTEGER NOT NULL, ct BLOB NOT NULL,"
    " updated INTEGER NOT NULL, PRIMARY KEY(record_id, name)) WITHOUT ROWID;"
    "CREATE INDEX fields_grade ON fields(grade, key_version);"
    "CREATE TABLE blind_index(field TEXT NOT NULL, digest BLOB NOT NULL,"
    " record_id BLOB NOT NULL REFERENCES records(id), PRIMARY KEY(field, record_id)) WITHOUT ROWID;"
    "CREATE INDEX blind_index_lookup ON blind_index(field, digest);"
    /* The audit log: pos is the storage position; the sequence number lives
     * inside the signed-over entry bytes.  record_id, user and flags are
     * copies for finding entries quickly; reports re-check the entry. */
    "CREATE TABLE audit(pos INTEGER PRIMARY KEY, entry BLOB NOT NULL, head BLOB NOT NULL,"
    " record_id BLOB, user TEXT NOT NULL, flags INTEGER NOT NULL);"
    "CREATE INDEX audit_record ON audit(record_id);"
    "CREATE INDEX audit_user ON audit(user);"
    "CREATE TABLE checkpoints(size INTEGER PRIMARY KEY, note TEXT NOT NULL,"
    " created INTEGER NOT NULL);"
    /* Grants: lists (fields, records, purposes) are newline-separated. */
    "CREATE TABLE grants(id TEXT PRIMARY KEY, state TEXT NOT NULL, issuer TEXT NOT NULL,"
    " issuer_role TEXT NOT NULL, subject_user TEXT, subject_role TEXT, subject_department TEXT,"
    " effect INTEGER NOT NULL, actions INTEGER NOT NULL, fields TEXT, grade_min TEXT,"
    " grade_max TEXT, records TEXT, jurisdiction TEXT, purposes TEXT,"
    " not_before INTEGER NOT NULL, not_after INTEGER NOT NULL, reason TEXT NOT NULL,"
    " break_glass INTEGER NOT NULL, approver TEXT, revoked_by TEXT, revoke_reason TEXT,"
    " created INTEGER NOT NULL, changed INTEGER) WITHOUT ROWID;",
    /* 2: uses of search quotas, one row per counted search */
    "CREATE TABLE quota_use(quota TEXT NOT NULL, user TEXT NOT NULL, at INTEGER NOT NULL);"
    "CREATE INDEX quota_use_lookup ON quota_use(quota, user, at);",
};

_Static_assert(VAULT_ARRAY_LEN(migrations) == STORE_SCHEMA_VERSION, "one migration per version");

struct store {
    sqlite3 *db;
    sqlite3_stmt *q[Q__COUNT];
    int in_tx;
    store_tx_hooks hooks;
};

/* Map a SQLite result to a libvault code with a message naming `what`. */
static int db_err(store *s, int src, const char *what)
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
        code = VAULT_EEXISTS;
        break;
    default:
        code = VAULT_ERROR;
    }
    return vault__err(code, "database: %s: %s", what,
                      s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src));
}

static int stmt(sqlite3_stmt **out, store *s, int q)
{
    int src;

    if (!s->q[q]) {
        src = sqlite3_prepare_v2(s->db, query_sql[q], -1, &s->q[q], NULL);
        if (src != SQLITE_OK)
            return db_err(s, src, "prepare");
    }
    *out = s->q[q];
    return VAULT_OK;
}

/* Reset a statement after use, wiping its bindings. */
static void done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

static int exec(store *s, const char *sql, const char *what)
{
    int src = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

    return src == SQLITE_OK ? VAULT_OK : db_err(s, src, what);
}

static int user_version(int *out, store *s)
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

static int migrate(store *s, int create)
{
    int rc = VAULT_OK;
    int version = 0, v;
    char sql[64];

    GUARD(store_begin(s, 1));
    GUARD(user_version(&version, s));
    ENSURE(version <= STORE_SCHEMA_VERSION, VAULT_ESTATE,
           "vault schema version %d is newer than this libvault supports (%d)", version,
           STORE_SCHEMA_VERSION);
    ENSURE(version > 0 || create, VAULT_EINTEGRITY, "not a libvault vault (no schema)");
    for (v = version; v < STORE_SCHEMA_VERSION; v++) {
        GUARD(exec(s, migrations[v], "migrating the schema"));
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        GUARD(exec(s, sql, "setting the schema version"));
    }
    GUARD(store_commit(s));
cleanup:
    if (rc < 0)
        store_rollback(s);
    return rc;
}

/* Open the connection, key it, set the page size and prove the key with a
 * first read.  SQLITE_NOTADB (wrong key, or pages of another size) is
 * returned as is for the caller to decide. */
static int connect_keyed(store *s, const char *path, const char *keyhex, int page_size)
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

int store_open(store **out, const char *path, const uint8_t key[32], int create)
{
    int rc = VAULT_OK;
    store *s = NULL;
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
    keyhex = sodium_malloc(keyhex_len + 1);
    ENSURE(keyhex, VAULT_ENOMEM, "out of secure memory");
    keyhex[0] = 'x';
    keyhex[1] = '\'';
    sodium_bin2hex(keyhex + 2, 65, key, 32);
    keyhex[66] = '\'';
    keyhex[67] = '\0';
    src = connect_keyed(s, path, keyhex, STORE_PAGE_SIZE);
    if (src == SQLITE_NOTADB && !create) {
        /* Vaults made before 4 KiB pages use SQLCipher 3's 1 KiB default. */
        sqlite3_close(s->db);
        s->db = NULL;
        src = connect_keyed(s, path, keyhex, STORE_PAGE_SIZE_LEGACY);
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
    GUARD(exec(s,
               "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
               "PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY;"
               /* 16 MiB of page cache: bulk imports stop re-reading and
                * re-decrypting pages, and memory stays well bounded. */
               "PRAGMA cache_size = -16384;",
               "setting pragmas"));
    GUARD(migrate(s, create));
    *out = s;
    s = NULL;
cleanup:
    if (keyhex)
        sodium_free(keyhex);
    store_close(s);
    if (rc < 0 && create && rc != VAULT_EEXISTS)
        unlink(path);
    return rc;
}

void store_close(store *s)
{
    size_t i;

    if (!s)
        return;
    memset(&s->hooks, 0, sizeof s->hooks); /* the layer above may be half gone */
    if (s->in_tx)
        store_rollback(s);
    for (i = 0; i < Q__COUNT; i++)
        sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    free(s);
}

int store_begin(store *s, int write)
{
    int rc = VAULT_OK;

    ENSURE(!s->in_tx, VAULT_ESTATE, "database: transaction already open");
    GUARD(exec(s, write ? "BEGIN IMMEDIATE" : "BEGIN", "begin"));
    s->in_tx = 1;
    if (s->hooks.after_begin) {
        rc = s->hooks.after_begin(s->hooks.arg, write);
        if (rc < 0)
            store_rollback(s);
    }
cleanup:
    return rc;
}

static void tx_end(store *s, int committed)
{
    s->in_tx = 0;
    if (s->hooks.at_end)
        s->hooks.at_end(s->hooks.arg, committed);
}

int store_commit(store *s)
{
    int rc = VAULT_OK;

    if (s->in_tx && s->hooks.before_commit)
        rc = s->hooks.before_commit(s->hooks.arg);
    if (rc == VAULT_OK)
        rc = exec(s, "COMMIT", "commit");
    if (rc < 0) {
        store_rollback(s);
        return rc;
    }
    tx_end(s, 1);
    return VAULT_OK;
}

void store_rollback(store *s)
{
    if (s->in_tx || !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    tx_end(s, 0);
}

void store_set_tx_hooks(store *s, const store_tx_hooks *hooks)
{
    if (hooks)
        s->hooks = *hooks;
    else
        memset(&s->hooks, 0, sizeof s->hooks);
}

int store_in_tx(const store *s)
{
    return s->in_tx;
}

int store_data_version(store *s, int64_t *out)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_DATA_VERSION));
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "data version");
        goto cleanup;
    }
    *out = sqlite3_column_int64(st, 0);
cleanup:
    done(st);
    return rc;
}

/* Step a statement that returns no rows. */
static int step_done(store *s, sqlite3_stmt *st, const char *what)
{
    int src = sqlite3_step(st);

    return src == SQLITE_DONE ? VAULT_OK : db_err(s, src, what);
}

int store_meta_get(store *s, const char *key, uint8_t *out, size_t cap, size_t *out_len)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;
    size_t n;

    GUARD(stmt(&st, s, Q_META_GET));
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    ENSURE(src != SQLITE_DONE, VAULT_ENOTFOUND, "database: no meta value '%s'", key);
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "reading meta");
        goto cleanup;
    }
    n = (size_t)sqlite3_column_bytes(st, 0);
    ENSURE(n <= cap, VAULT_EINTEGRITY, "database: meta value '%s' too long", key);
    if (n)
        memcpy(out, sqlite3_column_blob(st, 0), n);
    *out_len = n;
cleanup:
    done(st);
    return rc;
}

/* SQLite 3.15 has no upsert, and INSERT OR REPLACE makes SQLCipher 3.4
 * encrypt a statement journal page by page (the bench measured 45 page
 * encryptions per imported resident).  So: UPDATE by primary key, and
 * INSERT only when no row changed.  The caller holds a write transaction. */
static int upsert(store *s, sqlite3_stmt *upd, sqlite3_stmt *ins, const char *what)
{
    int rc = step_done(s, upd, what);

    if (rc == VAULT_OK && sqlite3_changes(s->db) == 0)
        rc = step_done(s, ins, what);
    return rc;
}

int store_meta_put(store *s, const char *key, const uint8_t *val, size_t len)
{
    int rc = VAULT_OK, i;
    sqlite3_stmt *st[2] = {NULL, NULL};

    GUARD(stmt(&st[0], s, Q_META_UPD));
    GUARD(stmt(&st[1], s, Q_META_PUT));
    for (i = 0; i < 2; i++) {
        sqlite3_bind_text(st[i], 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st[i], 2, val, (int)len, SQLITE_STATIC);
    }
    GUARD(upsert(s, st[0], st[1], "writing meta"));
cleanup:
    done(st[0]);
    done(st[1]);
    return rc;
}

int store_policy_add(int64_t *out_id, store *s, const uint8_t hash[32], const char *filename,
                     const char *source, size_t len, int64_t now)
{
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_POLICY_ADD));
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, filename, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, source, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    GUARD(step_done(s, st, "storing the policy"));
    if (out_id)
        *out_id = sqlite3_last_insert_rowid(s->db);
cleanup:
    done(st);
    return rc;
}

int store_policy_active(int64_t *out_id, char *filename_out, size_t filename_cap,
                        char **out_source, size_t *out_len, store *s)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;
    size_t n;
    char *text = NULL;

    GUARD(stmt(&st, s, Q_POLICY_ACTIVE));
    src = sqlite3_step(st);
    ENSURE(src != SQLITE_DONE, VAULT_EINTEGRITY, "database: the vault has no policy");
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "reading the policy");
        goto cleanup;
    }
    snprintf(filename_out, filename_cap, "%s", (const char *)sqlite3_column_text(st, 1));
    n = (size_t)sqlite3_column_bytes(st, 2);
    text = malloc(n + 1);
    ENSURE(text, VAULT_ENOMEM, "out of memory");
    if (n)
        memcpy(text, sqlite3_column_text(st, 2), n);
    text[n] = '\0';
    *out_id = sqlite3_column_int64(st, 0);
    *out_source = text;
    *out_len = n;
    text = NULL;
cleanup:
    free(text);
    done(st);
    return rc;
}

int store_gradekey_add(store *s, const char *grade, uint32_t version, const uint8_t *wrapped,
                       size_t len, int64_t now)
{
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_GK_ADD));
    sqlite3_bind_text(st, 1, grade, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    sqlite3_bind_blob(st, 3, wrapped, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    GUARD(step_done(s, st, "storing a grade key"));
cleanup:
    done(st);
    return rc;
}

int store_gradekey_get(uint8_t *out, size_t cap, size_t *out_len, store *s, const char *grade,
                       uint32_t version)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;
    size_t n;

    GUARD(stmt(&st, s, Q_GK_GET));
    sqlite3_bind_text(st, 1, grade, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    src = sqlite3_step(st);
    ENSURE(src != SQLITE_DONE, VAULT_EINTEGRITY, "database: no key version %u for grade '%s'",
           (unsigned)version, grade);
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "reading a grade key");
        goto cleanup;
    }
    n = (size_t)sqlite3_column_bytes(st, 0);
    ENSURE(n <= cap, VAULT_EINTEGRITY, "database: wrapped grade key has the wrong size");
    memcpy(out, sqlite3_column_blob(st, 0), n);
    *out_len = n;
cleanup:
    done(st);
    return rc;
}

int store_gradekey_latest(uint32_t *out, store *s, const char *grade)
{
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

int store_record_insert(store *s, const uint8_t id[VAULT_ID_BYTES], const char *jurisdiction,
                        int64_t now)
{
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_REC_INSERT));
    sqlite3_bind_blob(st, 1, id, VAULT_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, jurisdiction, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    GUARD(step_done(s, st, "creating a record"));
cleanup:
    done(st);
    return rc;
}

int store_record_get(store_record *out, store *s, const uint8_t id[VAULT_ID_BYTES])
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;
    size_t n;

    GUARD(stmt(&st, s, Q_REC_GET));
    sqlite3_bind_blob(st, 1, id, VAULT_ID_BYTES, SQLITE_STATIC);
    src = sqlite3_step(st);
    ENSURE(src != SQLITE_DONE, VAULT_ENOTFOUND, "no such record");
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "reading a record");
        goto cleanup;
    }
    n = (size_t)sqlite3_column_bytes(st, 0);
    ENSURE(n <= VAULT_JURISDICTION_MAX, VAULT_EINTEGRITY, "database: record jurisdiction too long");
    memcpy(out->jurisdiction, sqlite3_column_text(st, 0), n);
    out->jurisdiction[n] = '\0';
    out->created = sqlite3_column_int64(st, 1);
    out->updated = sqlite3_column_int64(st, 2);
    out->version = sqlite3_column_int64(st, 3);
cleanup:
    done(st);
    return rc;
}

int store_record_touch(store *s, const uint8_t id[VAULT_ID_BYTES], int64_t now)
{
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_REC_TOUCH));
    sqlite3_bind_blob(st, 1, id, VAULT_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    GUARD(step_done(s, st, "updating a record"));
    ENSURE(sqlite3_changes(s->db) == 1, VAULT_ENOTFOUND, "no such record");
cleanup:
    done(st);
    return rc;
}

static int delete_by_id(store *s, int q, const uint8_t id[VAULT_ID_BYTES], const char *what)
{
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, q));
    sqlite3_bind_blob(st, 1, id, VAULT_ID_BYTES, SQLITE_STATIC);
    GUARD(step_done(s, st, what));
cleanup:
    done(st);
    return rc;
}

int store_record_delete(store *s, const uint8_t id[VAULT_ID_BYTES])
{
    int rc = VAULT_OK;

    GUARD(delete_by_id(s, Q_REC_DEL_BIDX, id, "erasing index entries"));
    GUARD(delete_by_id(s, Q_REC_DEL_FIELDS, id, "erasing fields"));
    GUARD(delete_by_id(s, Q_REC_DEL, id, "erasing a record"));
    ENSURE(sqlite3_changes(s->db) == 1, VAULT_ENOTFOUND, "no such record");
cleanup:
    return rc;
}

int store_record_count(int64_t *out, store *s)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_REC_COUNT));
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "counting records");
        goto cleanup;
    }
    *out = sqlite3_column_int64(st, 0);
cleanup:
    done(st);
    return rc;
}

int store_field_put(store *s, const uint8_t id[VAULT_ID_BYTES], const char *field,
                    const char *grade, uint32_t key_version, const uint8_t *ct, size_t len,
                    int64_t now)
{
    int rc = VAULT_OK, i;
    sqlite3_stmt *st[2] = {NULL, NULL};

    GUARD(stmt(&st[0], s, Q_FIELD_UPD));
    GUARD(stmt(&st[1], s, Q_FIELD_PUT));
    for (i = 0; i < 2; i++) {
        sqlite3_bind_blob(st[i], 1, id, VAULT_ID_BYTES, SQLITE_STATIC);
        sqlite3_bind_text(st[i], 2, field, -1, SQLITE_STATIC);
        sqlite3_bind_text(st[i], 3, grade, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st[i], 4, key_version);
        sqlite3_bind_blob(st[i], 5, ct, (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(st[i], 6, now);
    }
    GUARD(upsert(s, st[0], st[1], "writing a field"));
cleanup:
    done(st[0]);
    done(st[1]);
    return rc;
}

int store_field_get(uint8_t **out, size_t *out_len, char *grade_out, uint32_t *key_version,
                    store *s, const uint8_t id[VAULT_ID_BYTES], const char *field)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;
    size_t n, g;
    uint8_t *buf = NULL;

    GUARD(stmt(&st, s, Q_FIELD_GET));
    sqlite3_bind_blob(st, 1, id, VAULT_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, field, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    ENSURE(src != SQLITE_DONE, VAULT_ENOTFOUND, "field '%s' has no value", field);
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "reading a field");
        goto cleanup;
    }
    g = (size_t)sqlite3_column_bytes(st, 0);
    ENSURE(g > 0 && g < VAULT_NAME_MAX, VAULT_EINTEGRITY, "database: bad grade on field '%s'", field);
    memcpy(grade_out, sqlite3_column_text(st, 0), g);
    grade_out[g] = '\0';
    *key_version = (uint32_t)sqlite3_column_int64(st, 1);
    n = (size_t)sqlite3_column_bytes(st, 2);
    buf = malloc(n ? n : 1);
    ENSURE(buf, VAULT_ENOMEM, "out of memory");
    if (n)
        memcpy(buf, sqlite3_column_blob(st, 2), n);
    *out = buf;
    *out_len = n;
    buf = NULL;
cleanup:
    free(buf);
    done(st);
    return rc;
}

int store_bidx_put(store *s, const char *field, const uint8_t *digest, size_t dlen,
                   const uint8_t id[VAULT_ID_BYTES])
{
    int rc = VAULT_OK, i;
    sqlite3_stmt *st[2] = {NULL, NULL};

    GUARD(stmt(&st[0], s, Q_BIDX_UPD));
    GUARD(stmt(&st[1], s, Q_BIDX_PUT));
    for (i = 0; i < 2; i++) {
        sqlite3_bind_text(st[i], 1, field, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st[i], 2, digest, (int)dlen, SQLITE_STATIC);
        sqlite3_bind_blob(st[i], 3, id, VAULT_ID_BYTES, SQLITE_STATIC);
    }
    GUARD(upsert(s, st[0], st[1], "writing an index entry"));
cleanup:
    done(st[0]);
    done(st[1]);
    return rc;
}

int store_bidx_find(uint8_t **out, size_t *out_count, store *s, const char *field,
                    const uint8_t *digest, size_t dlen)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;
    uint8_t *ids = NULL, *grown;
    size_t n = 0, cap = 0;

    GUARD(stmt(&st, s, Q_BIDX_FIND));
    sqlite3_bind_text(st, 1, field, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, digest, (int)dlen, SQLITE_STATIC);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        ENSURE(sqlite3_column_bytes(st, 0) == VAULT_ID_BYTES, VAULT_EINTEGRITY,
               "database: bad record id in the index");
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            grown = realloc(ids, cap * VAULT_ID_BYTES);
            ENSURE(grown, VAULT_ENOMEM, "out of memory");
            ids = grown;
        }
        memcpy(ids + n * VAULT_ID_BYTES, sqlite3_column_blob(st, 0), VAULT_ID_BYTES);
        n++;
    }
    if (src != SQLITE_DONE) {
        rc = db_err(s, src, "searching the index");
        goto cleanup;
    }
    *out = ids;
    *out_count = n;
    ids = NULL;
cleanup:
    free(ids);
    done(st);
    return rc;
}

int store_audit_append(store *s, int64_t pos, const uint8_t *entry, size_t len,
                       const uint8_t head[32], const uint8_t *record_id, const char *user,
                       unsigned flags)
{
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_AUDIT_APPEND));
    sqlite3_bind_int64(st, 1, pos);
    sqlite3_bind_blob(st, 2, entry, (int)len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, head, 32, SQLITE_STATIC);
    if (record_id)
        sqlite3_bind_blob(st, 4, record_id, VAULT_ID_BYTES, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_text(st, 5, user ? user : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, flags);
    GUARD(step_done(s, st, "appending to the audit log"));
cleanup:
    done(st);
    return rc;
}

int store_audit_last(int64_t *out_pos, uint8_t **out_entry, size_t *out_len, uint8_t head[32],
                     store *s)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;
    size_t n;

    *out_pos = 0;
    *out_entry = NULL;
    *out_len = 0;
    memset(head, 0, 32);
    GUARD(stmt(&st, s, Q_AUDIT_LAST));
    src = sqlite3_step(st);
    if (src == SQLITE_DONE)
        goto cleanup;
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "reading the audit log");
        goto cleanup;
    }
    ENSURE(sqlite3_column_bytes(st, 2) == 32, VAULT_EINTEGRITY,
           "audit log: the newest entry's chain head has the wrong size");
    memcpy(head, sqlite3_column_blob(st, 2), 32);
    n = (size_t)sqlite3_column_bytes(st, 1);
    *out_entry = malloc(n ? n : 1);
    ENSURE(*out_entry, VAULT_ENOMEM, "out of memory");
    if (n)
        memcpy(*out_entry, sqlite3_column_blob(st, 1), n);
    *out_len = n;
    *out_pos = sqlite3_column_int64(st, 0);
cleanup:
    done(st);
    return rc;
}

/* Run a scan query (bound by bind) and call fn for each row. */
static int audit_scan_query(store *s, int q, int64_t after_pos, const uint8_t *record_id,
                            int (*fn)(void *arg, int64_t pos, const uint8_t *entry, size_t len,
                                      const uint8_t *head, size_t head_len),
                            void *arg)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;

    /* A statement of its own: callbacks may use the cached ones. */
    src = sqlite3_prepare_v2(s->db, query_sql[q], -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = db_err(s, src, "prepare");
        goto cleanup;
    }
    if (record_id)
        sqlite3_bind_blob(st, 1, record_id, VAULT_ID_BYTES, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, after_pos);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        int r = fn(arg, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1),
                   (size_t)sqlite3_column_bytes(st, 1), sqlite3_column_blob(st, 2),
                   (size_t)sqlite3_column_bytes(st, 2));
        if (r < 0) {
            rc = r;
            goto cleanup;
        }
        if (r > 0) /* the callback asked to stop */
            break;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = db_err(s, src, "reading the audit log");
cleanup:
    sqlite3_finalize(st);
    return rc;
}

int store_audit_scan(store *s, int64_t after_pos,
                     int (*fn)(void *arg, int64_t pos, const uint8_t *entry, size_t len,
                               const uint8_t *head, size_t head_len),
                     void *arg)
{
    return audit_scan_query(s, Q_AUDIT_SCAN, after_pos, NULL, fn, arg);
}

int store_audit_scan_record(store *s, const uint8_t record_id[VAULT_ID_BYTES],
                            int (*fn)(void *arg, int64_t pos, const uint8_t *entry, size_t len,
                                      const uint8_t *head, size_t head_len),
                            void *arg)
{
    return audit_scan_query(s, Q_AUDIT_SCAN_RECORD, 0, record_id, fn, arg);
}

int store_audit_count(int64_t *out, store *s)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_AUDIT_COUNT));
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "counting audit entries");
        goto cleanup;
    }
    *out = sqlite3_column_int64(st, 0);
cleanup:
    done(st);
    return rc;
}

int store_checkpoint_add(store *s, uint64_t size, const char *note, int64_t now)
{
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_CP_ADD));
    sqlite3_bind_int64(st, 1, (int64_t)size);
    sqlite3_bind_text(st, 2, note, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    GUARD(step_done(s, st, "storing a checkpoint"));
cleanup:
    done(st);
    return rc;
}

int store_checkpoint_last(uint64_t *out, store *s)
{
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

int store_checkpoint_scan(store *s, int (*fn)(void *arg, uint64_t size, const char *note, size_t len),
                          void *arg)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;

    src = sqlite3_prepare_v2(s->db, query_sql[Q_CP_SCAN], -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = db_err(s, src, "prepare");
        goto cleanup;
    }
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        GUARD(fn(arg, (uint64_t)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                 (size_t)sqlite3_column_bytes(st, 1)));
    if (src != SQLITE_DONE)
        rc = db_err(s, src, "reading checkpoints");
cleanup:
    sqlite3_finalize(st);
    return rc;
}

int store_field_scan_stale(store *s, const char *grade, uint32_t below_version, size_t limit,
                           int (*fn)(void *arg, const uint8_t *record_id, const char *field,
                                     uint32_t key_version, const uint8_t *ct, size_t len),
                           void *arg)
{
    int rc = VAULT_OK, src, r;
    sqlite3_stmt *st = NULL;

    /* A statement of its own: the callback writes through cached ones. */
    src = sqlite3_prepare_v2(s->db, query_sql[Q_FIELD_STALE], -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = db_err(s, src, "prepare");
        goto cleanup;
    }
    sqlite3_bind_text(st, 1, grade, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, below_version);
    sqlite3_bind_int64(st, 3, (int64_t)limit);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        ENSURE(sqlite3_column_bytes(st, 0) == VAULT_ID_BYTES, VAULT_EINTEGRITY,
               "database: bad record id on a field");
        r = fn(arg, sqlite3_column_blob(st, 0), (const char *)sqlite3_column_text(st, 1),
               (uint32_t)sqlite3_column_int64(st, 2), sqlite3_column_blob(st, 3),
               (size_t)sqlite3_column_bytes(st, 3));
        if (r < 0) {
            rc = r;
            goto cleanup;
        }
    }
    if (src != SQLITE_DONE)
        rc = db_err(s, src, "reading fields");
cleanup:
    sqlite3_finalize(st);
    return rc;
}

int store_field_count_stale(int64_t *out, store *s, const char *grade, uint32_t below_version)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_FIELD_STALE_COUNT));
    sqlite3_bind_text(st, 1, grade, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, below_version);
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "counting fields");
        goto cleanup;
    }
    *out = sqlite3_column_int64(st, 0);
cleanup:
    done(st);
    return rc;
}

int store_gradekey_retire(store *s, const char *grade, uint32_t below_version)
{
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

static void bind_opt_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

int store_grant_insert(store *s, const store_grant *g)
{
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_GRANT_INSERT));
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
    sqlite3_bind_int64(st, 20, g->created);
    GUARD(step_done(s, st, "storing a grant"));
cleanup:
    done(st);
    return rc;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : (const char *)sqlite3_column_text(st, i);
}

/* Fill g from a row of Q_GRANT_GET / Q_GRANT_SCAN; strings point into the row. */
static void grant_row(store_grant *g, sqlite3_stmt *st)
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
    g->changed = sqlite3_column_int64(st, 23);
}

int store_grant_get(store *s, const char *id, int (*fn)(void *arg, const store_grant *g), void *arg)
{
    int rc = VAULT_OK, src;
    sqlite3_stmt *st = NULL;
    store_grant g;

    GUARD(stmt(&st, s, Q_GRANT_GET));
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    ENSURE(src != SQLITE_DONE, VAULT_ENOTFOUND, "no grant '%s'", id);
    if (src != SQLITE_ROW) {
        rc = db_err(s, src, "reading a grant");
        goto cleanup;
    }
    grant_row(&g, st);
    GUARD(fn(arg, &g));
cleanup:
    done(st);
    return rc;
}

int store_grant_set_state(store *s, const char *id, const char *state, const char *approver,
                          const char *revoked_by, const char *revoke_reason, int64_t now)
{
    int rc = VAULT_OK;
    sqlite3_stmt *st = NULL;

    GUARD(stmt(&st, s, Q_GRANT_SET_STATE));
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
    bind_opt_text(st, 3, approver);
    bind_opt_text(st, 4, revoked_by);
    bind_opt_text(st, 5, revoke_reason);
    sqlite3_bind_int64(st, 6, now);
    GUARD(step_done(s, st, "updating a grant"));
    ENSURE(sqlite3_changes(s->db) == 1, VAULT_ENOTFOUND, "no grant '%s'", id);
cleanup:
    done(st);
    return rc;
}

int store_grant_scan(store *s, int (*fn)(void *arg, const store_grant *g), void *arg)
{
    int rc = VAULT_OK, src, r;
    sqlite3_stmt *st = NULL;
    store_grant g;

    src = sqlite3_prepare_v2(s->db, query_sql[Q_GRANT_SCAN], -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = db_err(s, src, "prepare");
        goto cleanup;
    }
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        grant_row(&g, st);
        if ((r = fn(arg, &g)) < 0) {
            rc = r;
            goto cleanup;
        }
    }
    if (src != SQLITE_DONE)
        rc = db_err(s, src, "reading grants");
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* ---- Search quotas ---- */

int store_quota_count(int64_t *out, store *s, const char *quota, const char *user, int64_t since)
{
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

int store_quota_add(store *s, const char *quota, const char *user, int64_t since, int64_t now)
{
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

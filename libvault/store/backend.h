/* store_backend: the table of operations a storage backend implements.
 *
 * libvault keeps its data through one of these tables (libgit2's
 * git_refdb_backend is the model: a struct of function pointers with a
 * version field and an _INIT macro).  The SQLCipher backend
 * (store/sqlcipher.c) is the embedded default; tests/store_mem.c is an
 * in-memory double that proves nothing above this table reaches SQLCipher.
 *
 * What a backend sees: record ids, jurisdiction paths, field names and
 * grades, ciphertexts, blind-index digests, opaque audit entry bytes, and
 * an opaque MAC per row.  Never a key, a plaintext or a policy decision.
 * It does not check MACs: store.c (the layer above every backend) computes
 * the tag of every row it writes and checks the tag of every row a backend
 * returns, so a backend (or whoever edits its files) cannot hand the
 * library a row the library did not write.
 *
 * Conventions for every operation:
 *  - return VAULT_OK (0) or a negative VAULT_E* code with the message set
 *    through vault__err (never with a value or a key in it);
 *  - VAULT_ENOTFOUND for "no such row", VAULT_EEXISTS for a duplicate key,
 *    VAULT_EBUSY when a lock could not be had in time, VAULT_EINVALID for
 *    a row without a member it needs (an id, a jurisdiction);
 *  - pointers in rows handed to a callback (or returned through an
 *    iterator) are valid only until the callback returns (the next call of
 *    the iterator); the caller copies what it keeps;
 *  - a callback returns 0 to go on, > 0 to stop early (the operation then
 *    returns VAULT_OK), < 0 to fail (the operation returns that code);
 *  - every operation but open/close/begin/generation runs inside a
 *    transaction the caller began; writes need a write transaction.  The
 *    backend refuses the others with VAULT_ESTATE, changing nothing: an
 *    operation (or commit) outside a transaction, a write in a snapshot,
 *    a begin while one is open.
 * tests/test_store_conformance.c checks every backend against this file. 
 *
 * Adding an operation: append it at the end, bump STORE_BACKEND_VERSION,
 * and have store_open refuse tables of a version it does not know.
 * Version 2 added audit_state_put (the audit state kept with the newest
 * audit row instead of a meta row); store_open refuses version 1.
 * Version 3 changed a row's layout: store_grant gained the principals
 * that issued and approved it (store_principal; schema 5).
 * Version 4 added backup_to (may be NULL: a backend without file copies).
 * Version 5 added row_scan (every stored row of a kind, for store_copy)
 * and destroy (may be NULL: drop a store this handle created); store_open
 * refuses versions 1 to 4.
 * Version 6 added meta_delete (the record-key store erases a record's key
 * by deleting its meta row: docs/erasure.md); store_open refuses 1 to 5.
 * Version 7 added quota_count_records and quota_add_record (residents
 * quotas count distinct records: a quota use may name its record, and
 * store_quota_row gained that record); store_open refuses 1 to 6.
 * Version 8 added the flag standby_reads (begin accepts STORE_TX_STANDBY);
 * store_open refuses 1 to 7.
 * Version 9 gave the audit log its logs (docs/postgresql.md "Per-shard
 * chains"): audit_write, audit_head and audit_count name the log they
 * act on, store_audit_state, store_audit_row and store_audit_filter gained
 * their log, audit_logs lists the logs and the flag many_logs says a
 * backend keeps more than the city log; store_open refuses 1 to 8.
 * Version 10 added the flag deferred_fresh (STORE_TX_DEFERRED reads the
 * latest commits, not a snapshot: PostgreSQL's audited reads, which take
 * no write lock); such a backend's generation must move with every change
 * a handle keeps loaded (what an audited read's commit checks), and may
 * stay with the rest; store_open refuses 1 to 9. */
#ifndef VAULT_STORE_BACKEND_H
#define VAULT_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

#define STORE_BACKEND_VERSION 10
#define STORE_BACKEND_INIT {STORE_BACKEND_VERSION}
#define STORE_MAC_BYTES 32
#define STORE_DIGEST_MAX 32

/* ---- rows ---- */

/* One field of a record.  counter is the record version at which the
 * field was last written (the write counter bound into its ciphertext's
 * associated data); digest is the field's blind-index digest (digest_len
 * 0 when the field has no exact index). */
typedef struct store_field {
    const char *name;
    const char *grade;
    uint32_t key_version;
    int64_t counter;
    const uint8_t *ct;
    size_t ct_len;
    uint8_t digest[STORE_DIGEST_MAX];
    size_t digest_len;
} store_field;

/* A record: its header and every field it has, in field-name order, each
 * name once (record_write refuses others with VAULT_EINVALID). */
typedef struct store_record {
    uint8_t id[VAULT_ID_BYTES];
    const char *jurisdiction;
    int64_t created, updated, version;
    size_t nfields;
    const store_field *fields;
    uint8_t mac[STORE_MAC_BYTES];
} store_record;

typedef struct store_meta {
    const char *key;
    const uint8_t *value;
    size_t len;
    uint8_t mac[STORE_MAC_BYTES];
} store_meta;

typedef struct store_policy {
    int64_t id; /* assigned by the backend at insert, increasing */
    uint8_t hash[32];
    const char *filename;
    const char *source;
    size_t len;
    int64_t applied;
    uint8_t mac[STORE_MAC_BYTES];
} store_policy;

typedef struct store_gradekey {
    const char *grade;
    uint32_t version;
    const uint8_t *wrapped;
    size_t len;
    int64_t created;
    uint8_t mac[STORE_MAC_BYTES];
} store_gradekey;

/* An authenticated principal a grant row records (vault_principal: the
 * token's issuer and subject, the app, the token id).  Every member NULL
 * when none is recorded: an embedded caller, or a row written before
 * schema 5.  iss and sub are both set or both NULL. */
typedef struct store_principal {
    const char *iss, *sub, *app, *jti;
} store_principal;

typedef struct store_grant {
    const char *id, *state; /* "pending", "active", "suspended", "revoked" */
    const char *issuer, *issuer_role;
    const char *user, *role, *department; /* recipient pattern (NULL = any) */
    int effect;
    unsigned actions;
    const char *fields;       /* newline-separated, or NULL */
    const char *grade_min, *grade_max;
    const char *records;      /* newline-separated hex ids, or NULL */
    const char *jurisdiction;
    const char *purposes;     /* newline-separated, or NULL (any) */
    int64_t not_before, not_after;
    const char *reason;
    int break_glass;
    const char *approver, *revoked_by, *revoke_reason; /* NULL until set */
    int64_t created;
    int64_t changed;          /* last state change (0: none) */
    store_principal issued_by;   /* who issued it, as authenticated (schema 5) */
    store_principal approved_by; /* who approved it, once approved (schema 5) */
    uint8_t mac[STORE_MAC_BYTES];
} store_grant;

typedef struct store_checkpoint {
    uint64_t size;
    const char *note;
    size_t len;
    int64_t created;
    uint8_t mac[STORE_MAC_BYTES];
} store_checkpoint;

/* The audit log's logs (version 9).  Every entry belongs to one log, and
 * positions count per log from 1.  The city log, "" (STORE_LOG_CITY; NULL
 * names it too wherever a log is named), holds what names no record's
 * shard; a backend with many_logs set keeps any other log besides, named
 * by a shard (a jurisdiction's first two segments, store_shard_len), and
 * one without it refuses any but the city log with VAULT_EINVALID.  A
 * log's name is at most STORE_LOG_MAX bytes. */
#define STORE_LOG_CITY ""
#define STORE_LOG_MAX 255

static inline const char *store_log_name(const char *log)
{
    return log ? log : STORE_LOG_CITY;
}

static inline int store_log_is_city(const char *log)
{
    return !log || !*log;
}

/* The shard of a jurisdiction: the length of its first two segments
 * (all of it when it has fewer). */
static inline size_t store_shard_len(const char *j)
{
    const char *s = strchr(j, '/');

    if (s)
        s = strchr(s + 1, '/');
    return s ? (size_t)(s - j) : strlen(j);
}

/* An audit entry as stored: log is the log it is in (store_log_name; a
 * seal callback's rows need none: they go to the log appended to), pos
 * its storage position in that log (1, 2, ...), entry the signed-over
 * bytes, head the chain head after it.  record_id (may be NULL), user
 * and flags are unsigned copies for finding entries; whoever reads them
 * through a filter re-checks the entry itself. */
typedef struct store_audit_row {
    const char *log;
    int64_t pos;
    const uint8_t *entry;
    size_t len;
    const uint8_t *head;
    size_t head_len;
    const uint8_t *record_id;
    const char *user;
    unsigned flags;
} store_audit_row;

/* A log's head while the backend holds it: its last stored row (pos 0,
 * entry NULL when the log is empty), and the audit state that row carries
 * (state NULL when it carries none; see store_audit_state). */
typedef struct store_audit_head {
    int64_t pos;
    const uint8_t *entry;
    size_t len;
    uint8_t head[32];
    const uint8_t *state;
    size_t state_len;
    uint8_t state_mac[STORE_MAC_BYTES];
} store_audit_head;

/* The log layer's state (its Merkle frontier and trust digest: opaque
 * bytes here), kept with the newest audit row so that a commit that
 * appends writes it on the page it appends to.  pos and head name the row
 * it belongs to; the MAC (store.c, row kind 7) binds the three, so a state
 * moved to another row, changed or put on a row it was not written for
 * fails.  Only the newest row carries one.  log: the log of that row
 * (store_log_name), bound into the MAC too for any but the city log. */
typedef struct store_audit_state {
    const char *log;
    int64_t pos;
    uint8_t head[32];
    const uint8_t *state;
    size_t len;
    uint8_t mac[STORE_MAC_BYTES];
} store_audit_state;

/* The audit state a head carries, as its row (pointers into h): 1, or 0
 * when it carries none (an empty log, or no state written yet).  One
 * conversion for every backend's row_scan and for store.c. */
static inline int store_head_state(store_audit_state *a, const store_audit_head *h)
{
    if (!h->pos || !h->entry || !h->state || !h->state_len)
        return 0;
    memset(a, 0, sizeof *a);
    a->log = STORE_LOG_CITY; /* the caller sets another log's */
    a->pos = h->pos;
    memcpy(a->head, h->head, 32);
    a->state = h->state;
    a->len = h->state_len;
    memcpy(a->mac, h->state_mac, STORE_MAC_BYTES);
    return 1;
}

/* Which entries an audit iteration returns: those of log (NULL: of every
 * log, by log then position; after_pos then counts in each), after
 * after_pos, and then only those filed under record_id (if not NULL) and
 * user (if not NULL).  A NULL filter: every entry. */
typedef struct store_audit_filter {
    const char *log;
    int64_t after_pos;
    const uint8_t *record_id;
    const char *user;
} store_audit_filter;

/* The audit seal callback.  The backend calls it once per append while it
 * holds the log head (SQLCipher: inside the write transaction; a server
 * backend: with the head row locked).  It fills up to cap rows in out
 * (positions head->pos + 1, ...), sets *n, and returns 0; the backend
 * stores exactly those rows.  The rows' memory is the callback's and stays
 * valid until the append returns. */
typedef int (*store_audit_seal_fn)(void *arg, const store_audit_head *head, store_audit_row *out,
                                   size_t cap, size_t *n);

/* Iterators: next returns 1 with a row, 0 at the end, < 0 on error; free
 * may be called at any time (and with NULL). */
typedef struct store_iter store_iter;

typedef enum store_tx_kind {
    STORE_TX_SNAPSHOT = 0, /* reads only, one consistent snapshot */
    STORE_TX_WRITE = 1,    /* reads and writes; the write lock is held */
    /* An audited read: reads without the write lock.  Its audit appends
     * and state writes, and the audit log's own meta rows and checkpoints
     * and quota uses, need no write lock (the log's head is held from its
     * seal to the end instead; a quota's count and use are serialised per
     * user); any other write takes the write lock and fails with
     * VAULT_EBUSY if the generation moved since the begin; and the commit
     * fails with VAULT_EBUSY if it did (the caller starts over).  Reads
     * may see commits made after the begin (PostgreSQL: READ COMMITTED).
     * A backend may be stricter: SQLCipher reads in a snapshot whose
     * first write takes the write lock and fails if another connection
     * committed anything since.
     * Only for backends that set deferred_writes; store.c asks the others
     * for STORE_TX_WRITE instead. */
    STORE_TX_DEFERRED = 2,
    /* Reads only, one consistent snapshot, which a backend with a
     * standby (standby_reads) may take on it, but only once the standby
     * has every commit the primary had when the begin was asked;
     * store.c asks the others for STORE_TX_SNAPSHOT instead. */
    STORE_TX_STANDBY = 3
} store_tx_kind;

/* Row kinds, for MACs (store.c) and migrations. */
enum {
    STORE_ROW_META = 1,
    STORE_ROW_POLICY = 2,
    STORE_ROW_GRADEKEY = 3,
    STORE_ROW_RECORD = 4,
    STORE_ROW_GRANT = 5,
    STORE_ROW_CHECKPOINT = 6,
    /* The audit state (store_audit_state).  In migrate's remac only: the
     * state of a schema 3 store's meta row STORE_META_AUDIT_TREE, whose
     * meta MAC the backend passes in row->mac; remac checks it as that
     * meta row's (VAULT_EINTEGRITY when it fails), then tags the state. */
    STORE_ROW_AUDIT_STATE = 7,
    /* row_scan only (these rows carry no MAC): a quota use
     * (store_quota_row), an audit row (store_audit_row). */
    STORE_ROW_QUOTA = 8,
    STORE_ROW_AUDIT = 9
};

/* One counted use of a quota (quota_add, quota_add_record), for row_scan.
 * record: the record a residents-quota use names (quota_add_record), NULL
 * for a use that names none (version 7). */
typedef struct store_quota_row {
    const char *quota, *user;
    int64_t at;
    const uint8_t *record;
} store_quota_row;

/* Bulk mode: a large load (import) may tell the backend to defer index
 * maintenance to the end of the transaction (bulk_end), within the
 * memory the backend was given. */

typedef struct store_backend store_backend;
struct store_backend {
    unsigned int version; /* STORE_BACKEND_VERSION */
    const char *name;     /* "sqlcipher", "memory", ... for messages */

    void (*free)(store_backend *be);

    /* Schema.  Opening (the backend's own open function) creates the
     * newest schema in a new store; an older store is brought up to date
     * by migrate, inside a write transaction the caller holds: the backend
     * calls remac(arg, kind, row) for every row that needs a MAC now (row
     * points to the store_* struct of that STORE_ROW_* kind; remac fills
     * its mac member) and writes the rows back.  *from receives the
     * version the store had (the current one: nothing was done).
     * progress (may be NULL) is called with (done, total, parg) while a
     * migration copies the records: records copied of the records there
     * are, the last call with done = total. */
    int (*migrate)(store_backend *be, int *from,
                   int (*remac)(void *arg, int kind, void *row), void *arg,
                   void (*progress)(uint64_t done, uint64_t total, void *parg), void *parg);

    /* Transactions. */
    int (*begin)(store_backend *be, store_tx_kind kind);
    int (*commit)(store_backend *be);
    void (*rollback)(store_backend *be);
    /* A number that changes when another connection committed a change
     * to a row a handle keeps loaded between transactions (meta rows but
     * the audit log's own, STORE_META_AUDIT_PREFIX; policies, grade keys,
     * grants), and may change on other commits too (SQLCipher: PRAGMA
     * data_version, every commit; PostgreSQL: those alone, so that audit
     * appends and record writes don't make every other handle reload).
     * Each connection's own: compare it with this connection's earlier
     * ones.  A deferred transaction (STORE_TX_DEFERRED) that wrote commits
     * only if it has not changed since its begin (VAULT_EBUSY). */
    int (*generation)(store_backend *be, int64_t *out);

    /* Meta: small named values. */
    int (*meta_get)(store_backend *be, const char *key,
                    int (*fn)(void *arg, const store_meta *row), void *arg);
    int (*meta_put)(store_backend *be, const store_meta *row);

    /* Policies: each applied policy is kept; the newest is active. */
    int (*policy_add)(store_backend *be, store_policy *row); /* sets row->id */
    int (*policy_active)(store_backend *be, int (*fn)(void *arg, const store_policy *row),
                         void *arg);
    /* The id policy_add will give the next policy (the MAC covers it). */
    int (*policy_next_id)(store_backend *be, int64_t *out);

    /* Grade keys. */
    int (*gradekey_add)(store_backend *be, const store_gradekey *row);
    int (*gradekey_get)(store_backend *be, const char *grade, uint32_t version,
                        int (*fn)(void *arg, const store_gradekey *row), void *arg);
    int (*gradekey_latest)(store_backend *be, const char *grade, uint32_t *out);
    int (*gradekey_retire)(store_backend *be, const char *grade, uint32_t below_version);

    /* Records, with their fields, in one row.  record_write inserts (is_new
     * = 1; VAULT_EEXISTS when the id is taken) or replaces the record and
     * makes its blind-index rows match the new fields' digests.  Each
     * field's (grade, key_version) names a stored grade key: a backend may
     * refuse one that does not with VAULT_EINVALID, and gradekey_retire of
     * a key a field still uses with VAULT_ESTATE, changing nothing
     * (PostgreSQL does, by foreign key; the layers above never ask for
     * either, rotation retires a key once no field uses it). */
    int (*record_get_batch)(store_backend *be, const uint8_t *ids, size_t n,
                            int (*fn)(void *arg, size_t i, const store_record *row), void *arg);
    int (*record_write)(store_backend *be, const store_record *row, int is_new);
    int (*record_delete)(store_backend *be, const uint8_t id[VAULT_ID_BYTES]);
    int (*record_count)(store_backend *be, int64_t *out);
    /* Records with a field of `grade` sealed under a key version below
     * below_version, up to limit of them (rotation rewrites each with
     * record_write, so the next call returns the next ones). */
    int (*record_scan_stale)(store_backend *be, const char *grade, uint32_t below_version,
                             size_t limit, int (*fn)(void *arg, const store_record *row),
                             void *arg);
    int (*field_count_stale)(store_backend *be, const char *grade, uint32_t below_version,
                             int64_t *out);

    /* Blind index: the ids of the records whose `field` has this digest,
     * in id order. */
    int (*bidx_find)(store_backend *be, store_iter **out, const char *field,
                     const uint8_t *digest, size_t len);
    int (*bidx_next)(store_iter *it, uint8_t id[VAULT_ID_BYTES]);

    /* Audit log.  audit_write appends to `log` without touching its
     * audit state (the new newest row has none until audit_state_put);
     * rows whose positions do not follow the log's head one by one are
     * refused with VAULT_EINTEGRITY and none is stored.  audit_head
     * returns the log's newest row with the state it carries;
     * audit_count sets *out to the log's newest position (its entries'
     * number). */
    int (*audit_write)(store_backend *be, const char *log, store_audit_seal_fn seal, void *arg);
    int (*audit_head)(store_backend *be, const char *log,
                      int (*fn)(void *arg, const store_audit_head *h), void *arg);
    int (*audit_iter)(store_backend *be, store_iter **out, const store_audit_filter *filter);
    int (*audit_next)(store_iter *it, store_audit_row *row);
    int (*audit_count)(store_backend *be, const char *log, int64_t *out);
    /* Report indexes: bring the (record, pos) and (user, pos) indexes up
     * to the head of the log (called at checkpoints, off the hot path). */
    int (*audit_index)(store_backend *be);

    /* Checkpoints (signed notes) by tree size. */
    int (*checkpoint_add)(store_backend *be, const store_checkpoint *row);
    int (*checkpoint_scan)(store_backend *be, int (*fn)(void *arg, const store_checkpoint *row),
                           void *arg);
    int (*checkpoint_last)(store_backend *be, uint64_t *out);

    /* Grants. */
    int (*grant_insert)(store_backend *be, const store_grant *row);
    int (*grant_get)(store_backend *be, const char *id,
                     int (*fn)(void *arg, const store_grant *row), void *arg);
    int (*grant_update)(store_backend *be, const store_grant *row); /* by id */
    int (*grant_scan)(store_backend *be, int (*fn)(void *arg, const store_grant *row),
                      void *arg); /* oldest first (created, id) */

    /* Search quotas: one row per counted use. */
    int (*quota_count)(store_backend *be, const char *quota, const char *user, int64_t since,
                       int64_t *out);
    int (*quota_add)(store_backend *be, const char *quota, const char *user, int64_t since,
                     int64_t now);

    /* Bulk loading (may be NULL): after bulk_begin, index maintenance may
     * wait until bulk_end, which brings every index up to date inside the
     * same transaction.  expected is the number of records coming.  A
     * backend may also hold new rows back and send them in batches
     * (PostgreSQL): a row's refusal then comes with its batch, from the
     * call that sent it (a later write, any other call, bulk_end or the
     * commit), and the transaction is good only for a rollback after it,
     * so no acknowledged row is committed without the others.  The load
     * ends with its transaction. */
    int (*bulk_begin)(store_backend *be, size_t expected);
    int (*bulk_end)(store_backend *be);

    /* Iterators of this backend. */
    void (*iter_free)(store_iter *it);

    /* 1 when begin accepts STORE_TX_DEFERRED. */
    int deferred_writes;

    /* Version 2.  Keep st with the newest audit row of st->log, which
     * must be the row at st->pos with chain head st->head (VAULT_EINTEGRITY
     * otherwise), replacing the state it has; and drop the state of the
     * row at prev_pos (the row that carried it until now; nothing when
     * prev_pos is 0 or st->pos).  In a write transaction. */
    int (*audit_state_put)(store_backend *be, const store_audit_state *st, int64_t prev_pos);

    /* Version 4 (may be NULL).  Copy the whole store, as the caller's read
     * transaction sees it, into the new file `path` (created here, O_EXCL,
     * mode 0600; removed again on failure), keyed with `key`, the store
     * key it was opened with (docs/backup.md).  progress (may be NULL)
     * gets pages done of total. */
    int (*backup_to)(store_backend *be, const char *path, const uint8_t key[32],
                     vault_progress_fn progress, void *arg);

    /* Version 5.  Hand every stored row of one STORE_ROW_* kind to
     * fn(arg, kind, row), row pointing to that kind's struct, as the
     * caller's transaction sees them, in a stable order: meta by key
     * (byte order), policies by id, grade keys by (grade, version),
     * records with all their fields in creation order (SQLCipher: its row
     * id; a backend without row ids: created, then id), grants by
     * (created, id), checkpoints by size, quota uses (STORE_ROW_QUOTA)
     * by (quota, user, at, record; a use without a record first), audit
     * rows (STORE_ROW_AUDIT) by (log, pos), and for STORE_ROW_AUDIT_STATE
     * the state each log's newest audit row carries (one store_audit_state
     * per log, by log; none for a log whose newest row carries none).  MACs are
     * returned as stored, never checked (store.c does).  VAULT_EINVALID
     * for another kind.  Pointers live until fn returns; fn must not
     * use this backend handle. */
    int (*row_scan)(store_backend *be, int kind,
                    int (*fn)(void *arg, int kind, const void *row), void *arg);

    /* Version 5 (may be NULL).  Drop the store this handle created (its
     * open had create = 1), with every row in it, outside a transaction;
     * afterwards only free may be called.  VAULT_ESTATE, dropping
     * nothing, when this handle did not create it, or inside a
     * transaction.  For undoing a copy that failed (vault_migrate). */
    int (*destroy)(store_backend *be);

    /* Version 6.  Delete the meta row `key` (VAULT_ENOTFOUND, changing
     * nothing, when there is none).  In a write transaction. */
    int (*meta_delete)(store_backend *be, const char *key);

    /* Version 7.  Residents quotas: uses that name a record, at most one
     * row per (quota, user, record).  quota_count_records sets *out to the
     * number of distinct records among the uses of `quota` by `user` later
     * than `since`, and *seen to 1 when `record` is one of them (0
     * otherwise); quota_add_record forgets that user's uses of the quota
     * at or before `since` and any earlier use of `record`, then records
     * a use of `record` at `now` (a record read again moves to `now`, so
     * it stays counted once while it is in the window).  The count needs
     * a transaction, the add a write transaction. */
    int (*quota_count_records)(store_backend *be, const char *quota, const char *user,
                               int64_t since, const uint8_t record[VAULT_ID_BYTES], int64_t *out,
                               int *seen);
    int (*quota_add_record)(store_backend *be, const char *quota, const char *user,
                            const uint8_t record[VAULT_ID_BYTES], int64_t since, int64_t now);

    /* Version 8.  A flag, not an operation (0 in a table that does not
     * set it): 1 when begin accepts STORE_TX_STANDBY. */
    int standby_reads;

    /* Version 9.  Every log that has entries, by name (byte order, the
     * city log first), with its newest position: fn(arg, log, pos); and
     * one whose head row names entries when it has none left, with pos 0
     * (a backend with such rows: entries cut outside libvault, which
     * verification reports).  In a transaction; fn must not use this
     * backend handle. */
    int (*audit_logs)(store_backend *be, int (*fn)(void *arg, const char *log, int64_t pos),
                      void *arg);
    /* A flag (0 in a table that does not set it): 1 when the backend
     * keeps logs besides the city log. */
    int many_logs;

    /* Version 10.  A flag (0 in a table that does not set it): 1 when a
     * STORE_TX_DEFERRED transaction reads without a snapshot, each read
     * the latest commits (so what a handle keeps loaded must not be read
     * again inside one: the caller starts over instead, op.c). */
    int deferred_fresh;
};

#endif

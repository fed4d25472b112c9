/* store: the layer every other module keeps its data through.  It runs
 * one storage backend (store/backend.h: SQLCipher by default, chosen by the
 * vault's location) and stands between it and the library:
 *
 *  - every row that decides access or holds audit state (meta, policies,
 *    grade keys, records with their fields, grants, checkpoints) is written
 *    with a MAC computed here through the guard the keyring installs, and
 *    every such row a backend returns is checked here before anyone above
 *    sees it: a row that fails is VAULT_EINTEGRITY, never used;
 *  - the transaction hooks of the layer above run here, whatever backend;
 *  - nothing above this header knows SQL, row ids, PRAGMAs or SQLCipher.
 *
 * One store handle is one backend connection; it is not shared between
 * threads without the caller's lock (the vault handle holds one).  The
 * canonical bytes each MAC covers are in docs/storage.md. */
#ifndef VAULT_STORE_H
#define VAULT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "store/backend.h"

/* The schema of the SQLCipher backend's files (docs/storage.md):
 * 1 first release, 2 quota uses, 3 storage v2 (row MACs, one row per
 * record with its fields, integer row ids, report indexes off the hot
 * path), 4 the audit state on the newest audit row (no meta row), 5 the
 * principals that issued and approved each grant (grants: issuer_iss, ...),
 * 6 the record a quota use names (quota_use.record: residents quotas),
 * 7 PostgreSQL's partitioned tables and id directory (docs/postgresql.md
 * "Partitions"; a SQLCipher file changes only its version, so that no
 * older libvault opens a partitioned PostgreSQL vault and writes records
 * without their directory rows), 8 PostgreSQL's audit log by log (audit
 * keyed by (log, pos), partitioned by log; the head rows audit_heads; a
 * file changes only its version again: it keeps the one city log). */
#define STORE_SCHEMA_VERSION 8
#define STORE_BUSY_TIMEOUT_MS 10000
/* SQLCipher page size (PRAGMA cipher_page_size) of new vaults: 4 KiB, as
 * SQLCipher 4 and most file systems use.  Vaults created with 1 KiB pages
 * (SQLCipher 3's default, used by development builds before this
 * change) still open. */
#define STORE_PAGE_SIZE 4096
#define STORE_PAGE_SIZE_LEGACY 1024

typedef struct store store;

/* How the store tags rows: mac(arg, msg, len, out) writes the 32-byte
 * keyed tag of msg (the keyring: BLAKE2b under the row-MAC key). */
typedef struct store_guard {
    int (*mac)(void *arg, const uint8_t *msg, size_t len, uint8_t out[STORE_MAC_BYTES]);
    void *arg;
} store_guard;

/* A backend's open function: uri is what followed "scheme:" (or the whole
 * location for the default backend), key the 32-byte store key, create 1
 * to make a new store (failing if one exists). */
typedef int (*store_backend_open_fn)(store_backend **out, const char *uri, const uint8_t key[32],
                                     int create);
/* Make "scheme:..." locations open with fn (process-wide; tests register
 * their in-memory double as "memory").  At most 8 schemes. */
int store_register_backend(const char *scheme, store_backend_open_fn fn) VAULT_MUST_CHECK;

/* A migration leaves this meta row (one byte: the schema it came from)
 * in its own transaction; the vault logs the migration and empties the
 * row in one transaction of its own, so a crash between the two still
 * gets the migration logged at the next open. */
#define STORE_META_MIGRATED "store_migrated_from"
/* The meta row that held the audit state up to schema 3; the migration
 * to schema 4 moves it onto the newest audit row and deletes it. */
#define STORE_META_AUDIT_TREE "audit_tree"
/* Meta rows whose key begins with this are the audit log's own (its
 * keys, the last signed checkpoint, the tree at each checkpoint, the
 * claimed shard heads): the library writes them with the city log's head
 * held (sealed or locked in the transaction: audit_log.c), or under the
 * write lock (at creation; the claimed heads' sum, in a checkpoint's write
 * transaction), and nothing a handle keeps loaded between transactions
 * depends on them.  A backend with deferred_writes lets a deferred
 * transaction write them without the write lock, and their writes don't
 * move the generation (docs/postgresql.md "Transactions and errors"). */
#define STORE_META_AUDIT_PREFIX "audit_"

/* 0 when `location` names a PostgreSQL vault ("postgresql://...",
 * "postgres://...", "pg:...") or a registered backend ("scheme:..."), 1
 * when it is a file path (the SQLCipher backend). */
int store_location_is_file(const char *location);
/* The keys sidecar of the vault at `location`, malloc'ed: PATH.keys for a
 * file (and "scheme:NAME.keys" for a registered backend); for PostgreSQL
 * its vault_keys=PATH parameter (the keys live on this host, never in the
 * database), VAULT_EINVALID when the location has none. */
int store_location_keys_path(char **out, const char *location) VAULT_MUST_CHECK;
/* The location of a store kept beside the vault at `location`,
 * malloc'ed: PATH.SUFFIX for a file (and "scheme:NAME.SUFFIX"), for
 * PostgreSQL the schema NAME_SUFFIX of the same database (reckeys.h). */
int store_location_sibling(char **out, const char *location, const char *suffix) VAULT_MUST_CHECK;
/* The location as messages, logs and outputs may show it: a password in a
 * PostgreSQL location replaced by "***" (docs/postgresql.md "Locations").
 * Always NUL-terminates out (cap > 0). */
void store_location_display(char *out, size_t cap, const char *location);
/* How a vault that makes no file copies is copied (one phrase). */
const char *store_location_copy_hint(const char *location);

/* Open the store at `location` (a file path for SQLCipher, or
 * "scheme:rest" for a registered backend) with the store key and the row
 * guard, migrating an older schema (re-tagging every row).  A wrong key
 * gives VAULT_EAUTH; a file that is not a libvault store VAULT_EINTEGRITY;
 * a newer schema VAULT_ESTATE.  mig may be NULL. */
typedef struct store_migration {
    /* In (may be NULL): the migration's progress, records copied of total
     * (backend.h migrate).  Not called when no migration copies records. */
    void (*progress)(uint64_t done, uint64_t total, void *arg);
    void *arg;
    /* Out: the schema version the store had before (0 when none was done). */
    int from;
} store_migration;
int store_open(store **out, const char *location, const uint8_t key[32], int create,
               const store_guard *guard, store_migration *mig) VAULT_MUST_CHECK;
/* The same over a backend the caller opened (tests). */
int store_open_backend(store **out, store_backend *be, const store_guard *guard,
                       store_migration *mig) VAULT_MUST_CHECK;
void store_close(store *s);
/* The backend's name ("sqlcipher", "memory"). */
const char *store_backend_name(const store *s);

/* Transactions.  STORE_TX_WRITE takes the write lock at once, waiting up
 * to the busy timeout (then VAULT_EBUSY); STORE_TX_SNAPSHOT reads;
 * STORE_TX_DEFERRED is an audited read: no write lock for its audit
 * appends, a VAULT_EBUSY commit if the generation moved (store/backend.h). */
int store_begin(store *s, store_tx_kind kind) VAULT_MUST_CHECK;
int store_commit(store *s) VAULT_MUST_CHECK;
void store_rollback(store *s);
/* 1 while a transaction is open; store_tx_writes: 1 when it is a write. */
int store_in_tx(const store *s);
int store_tx_writes(const store *s);
/* State the layer above keeps for the length of one transaction (the audit
 * log's tail, the newest grade key versions).  before_commit (may be NULL)
 * runs inside the transaction just before COMMIT: it writes what was kept
 * back; if it fails the transaction is rolled back and store_commit returns
 * its error.  at_end (may be NULL) runs after every COMMIT or ROLLBACK,
 * successful or not, to forget what was kept; committed is 1 only after a
 * COMMIT that succeeded. */
typedef struct store_tx_hooks {
    int (*before_commit)(void *arg);
    void (*at_end)(void *arg, int committed);
    void *arg;
    /* after_begin (may be NULL) runs once BEGIN succeeded and, for a write
     * transaction, the write lock is held: it can pick up what another
     * connection committed while this one waited.  If it fails the
     * transaction is rolled back and store_begin returns its error. */
    int (*after_begin)(void *arg, int write);
} store_tx_hooks;
void store_set_tx_hooks(store *s, const store_tx_hooks *hooks);
/* A number that changes when another connection commits. */
int store_generation(store *s, int64_t *out) VAULT_MUST_CHECK;

/* Small named values (vault id, creation time, ...), MAC'd. */
int store_meta_get(store *s, const char *key, uint8_t *out, size_t cap, size_t *out_len) VAULT_MUST_CHECK;
int store_meta_put(store *s, const char *key, const uint8_t *val, size_t len) VAULT_MUST_CHECK;
/* Delete a meta row: VAULT_ENOTFOUND when there is none. */
int store_meta_delete(store *s, const char *key) VAULT_MUST_CHECK;

/* Policies: each applied policy is kept; the newest is active. */
int store_policy_add(int64_t *out_id, store *s, const uint8_t hash[32], const char *filename,
                     const char *source, size_t len, int64_t now) VAULT_MUST_CHECK;
/* The active policy's id, file name (as applied), hash and source
 * (malloc'ed, NUL-terminated). */
int store_policy_active(int64_t *out_id, char *filename_out, size_t filename_cap,
                        char **out_source, size_t *out_len, store *s) VAULT_MUST_CHECK;

/* Wrapped grade keys per (grade, version). */
int store_gradekey_add(store *s, const char *grade, uint32_t version, const uint8_t *wrapped,
                       size_t len, int64_t now) VAULT_MUST_CHECK;
int store_gradekey_get(uint8_t *out, size_t cap, size_t *out_len, store *s, const char *grade,
                       uint32_t version) VAULT_MUST_CHECK;
/* Newest version of a grade's key; VAULT_ENOTFOUND when it has none. */
int store_gradekey_latest(uint32_t *out, store *s, const char *grade) VAULT_MUST_CHECK;
/* Delete the wrapped keys of `grade` older than below_version. */
int store_gradekey_retire(store *s, const char *grade, uint32_t below_version) VAULT_MUST_CHECK;

/* ---- Records (store_record, store_field: store/backend.h) ----
 * A record row handed to a callback has passed its MAC; it and everything
 * it points to live until the callback returns. */

typedef int (*store_record_fn)(void *arg, const store_record *row);
/* VAULT_ENOTFOUND when there is no such record. */
int store_record_get(store *s, const uint8_t id[VAULT_ID_BYTES], store_record_fn fn,
                     void *arg) VAULT_MUST_CHECK;
/* n ids (16 bytes each, back to back); fn(arg, i, row) with row NULL for
 * an id that has no record. */
int store_record_get_batch(store *s, const uint8_t *ids, size_t n,
                           int (*fn)(void *arg, size_t i, const store_record *row),
                           void *arg) VAULT_MUST_CHECK;
/* Write a record whole (its MAC is computed here, into row->mac):
 * is_new = 1 inserts (VAULT_EEXISTS when the id is taken), 0 replaces. */
int store_record_write(store *s, store_record *row, int is_new) VAULT_MUST_CHECK;
/* Delete the record, its fields and index entries. */
int store_record_delete(store *s, const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;
int store_record_count(int64_t *out, store *s) VAULT_MUST_CHECK;
/* Records with a field of `grade` under a key version below
 * below_version, up to limit; fn may rewrite each (store_record_write). */
int store_record_scan_stale(store *s, const char *grade, uint32_t below_version, size_t limit,
                            store_record_fn fn, void *arg) VAULT_MUST_CHECK;
/* Every record, each checked against its MAC, in the backend's stable
 * order (backend.h row_scan).  fn must not use the store: copy what it
 * needs (retention.c takes ids and times, then loads each). */
int store_record_scan(store *s, store_record_fn fn, void *arg) VAULT_MUST_CHECK;
int store_field_count_stale(int64_t *out, store *s, const char *grade,
                            uint32_t below_version) VAULT_MUST_CHECK;

/* Record ids whose `field` has this blind-index digest: *out malloc'ed,
 * *out_count ids of 16 bytes, in id order.  The index rows carry no MAC:
 * callers check each candidate against its (MAC'd) record's digest. */
int store_bidx_find(uint8_t **out, size_t *out_count, store *s, const char *field,
                    const uint8_t *digest, size_t dlen) VAULT_MUST_CHECK;

/* Bulk loading: tell the backend a large load is coming (it may defer
 * index upkeep to store_bulk_end, which completes it in the same
 * transaction). */
int store_bulk_begin(store *s, size_t expected) VAULT_MUST_CHECK;
int store_bulk_end(store *s) VAULT_MUST_CHECK;

/* ---- Grants (store_grant: store/backend.h) ---- */

int store_grant_insert(store *s, const store_grant *g) VAULT_MUST_CHECK;
/* Call fn with the grant (valid during the call only).  VAULT_ENOTFOUND. */
int store_grant_get(store *s, const char *id, int (*fn)(void *arg, const store_grant *g),
                    void *arg) VAULT_MUST_CHECK;
/* Set state, and approver (with its principal) / revoker / reason where
 * not NULL. */
int store_grant_set_state(store *s, const char *id, const char *state, const char *approver,
                          const store_principal *approved_by, const char *revoked_by,
                          const char *revoke_reason, int64_t now) VAULT_MUST_CHECK;
/* Every grant, oldest first; fn returns < 0 to stop with that error. */
int store_grant_scan(store *s, int (*fn)(void *arg, const store_grant *g), void *arg) VAULT_MUST_CHECK;

/* ---- Audit log ---- */

/* Seal and append entries while the backend holds the log head: fn is
 * called (store_audit_seal_fn, store/backend.h) again as long as it fills
 * every row it is offered; a call that fills fewer ends it.  Inside a
 * write transaction. */
int store_audit_seal(store *s, store_audit_seal_fn fn, void *arg) VAULT_MUST_CHECK;
/* The newest entry (pos 0, *out_entry NULL and head all zero when empty).
 * *out_entry is malloc'ed. */
int store_audit_last(int64_t *out_pos, uint8_t **out_entry, size_t *out_len, uint8_t head[32],
                     store *s) VAULT_MUST_CHECK;
typedef int (*store_audit_fn)(void *arg, int64_t pos, const uint8_t *entry, size_t len,
                              const uint8_t *head, size_t head_len);
/* Call fn for every entry after after_pos in storage order.  fn returns 0
 * to go on, > 0 to stop, < 0 to fail (returned). */
int store_audit_scan(store *s, int64_t after_pos, store_audit_fn fn, void *arg) VAULT_MUST_CHECK;
/* The same for the entries filed under one record, or under one user, in
 * storage order: a report costs its entries, not the log.  The copies the
 * filter reads are not signed: callers re-check each entry. */
int store_audit_scan_record(store *s, const uint8_t record_id[VAULT_ID_BYTES], store_audit_fn fn,
                            void *arg) VAULT_MUST_CHECK;
int store_audit_scan_user(store *s, const char *user, store_audit_fn fn, void *arg) VAULT_MUST_CHECK;
/* The newest entry's storage position, 0 for an empty log: the number of
 * entries of a log nobody cut (positions run 1, 2, ...), found without
 * reading the log; more than the rows left when rows were taken out. */
int store_audit_count(int64_t *out, store *s) VAULT_MUST_CHECK;
/* The audit state (the log layer's bytes, store/backend.h
 * store_audit_state) kept with the newest entry.  put: on the entry at pos
 * with chain head `head`, which must be the newest (VAULT_EINTEGRITY
 * otherwise), tagged here; the state of the entry at prev_pos (the one
 * that carried it until now, 0 for none) is dropped.  get: *out_pos is
 * the newest entry's position (0 when the log is empty) and *out_len 0
 * when it carries no state (a log cut back, or the state removed: the
 * caller refuses it); VAULT_EINTEGRITY when the state fails its MAC. */
int store_audit_state_put(store *s, int64_t prev_pos, int64_t pos, const uint8_t head[32],
                          const uint8_t *state, size_t len) VAULT_MUST_CHECK;
int store_audit_state_get(int64_t *out_pos, uint8_t *out, size_t cap, size_t *out_len,
                          store *s) VAULT_MUST_CHECK;
/* Bring the report indexes up to the head (at checkpoints). */
int store_audit_index(store *s) VAULT_MUST_CHECK;

/* The calls above act on the city log (STORE_LOG_CITY, store/backend.h);
 * these on the log they name (NULL: the city log), each as its namesake
 * does.  A backend without many_logs refuses any other log with
 * VAULT_EINVALID.  store_audit_scan_in visits that log's entries only. */
int store_audit_seal_in(store *s, const char *log, store_audit_seal_fn fn,
                        void *arg) VAULT_MUST_CHECK;
int store_audit_last_in(int64_t *out_pos, uint8_t **out_entry, size_t *out_len, uint8_t head[32],
                        store *s, const char *log) VAULT_MUST_CHECK;
int store_audit_scan_in(store *s, const char *log, int64_t after_pos, store_audit_fn fn,
                        void *arg) VAULT_MUST_CHECK;
int store_audit_scan_record_in(store *s, const char *log, const uint8_t record_id[VAULT_ID_BYTES],
                               store_audit_fn fn, void *arg) VAULT_MUST_CHECK;
int store_audit_scan_user_in(store *s, const char *log, const char *user, store_audit_fn fn,
                             void *arg) VAULT_MUST_CHECK;
int store_audit_count_in(int64_t *out, store *s, const char *log) VAULT_MUST_CHECK;
int store_audit_state_put_in(store *s, const char *log, int64_t prev_pos, int64_t pos,
                             const uint8_t head[32], const uint8_t *state,
                             size_t len) VAULT_MUST_CHECK;
int store_audit_state_get_in(int64_t *out_pos, uint8_t *out, size_t cap, size_t *out_len,
                             store *s, const char *log) VAULT_MUST_CHECK;
/* Every log that has entries, the city log first, then by name (byte
 * order), with its newest position (0 for a log whose head row names
 * entries it no longer has: backend.h); fn returns 0 to go on, > 0 to stop,
 * < 0 to fail (returned).  In a transaction. */
int store_audit_logs(store *s, int (*fn)(void *arg, const char *log, int64_t pos),
                     void *arg) VAULT_MUST_CHECK;
/* The logs store_audit_logs lists, copied: an array of (name, newest
 * position), the city log first when it has entries; shards_only leaves
 * it out.  Free with store_log_list_free.  In a transaction. */
typedef struct store_log_entry {
    char name[STORE_LOG_MAX + 1];
    int64_t pos;
} store_log_entry;
typedef struct store_log_list {
    store_log_entry *log;
    size_t n, cap;
} store_log_list;
int store_audit_log_list(store_log_list *out, store *s, int shards_only) VAULT_MUST_CHECK;
void store_log_list_free(store_log_list *l);

/* 1 when the store keeps logs besides the city log (PostgreSQL). */
int store_many_logs(const store *s);
/* 1 when a STORE_TX_DEFERRED transaction reads the latest commits, not a
 * snapshot (backend.h deferred_fresh: PostgreSQL). */
int store_deferred_fresh(const store *s);
/* VAULT_EINVALID when log can't name a log: longer than STORE_LOG_MAX,
 * not UTF-8, or with a control character (NULL and "" are the city's). */
int store_log_check(const char *log) VAULT_MUST_CHECK;

/* Signed checkpoints (C2SP notes) by tree size, MAC'd. */
int store_checkpoint_add(store *s, uint64_t size, const char *note, int64_t now) VAULT_MUST_CHECK;
int store_checkpoint_last(uint64_t *out, store *s) VAULT_MUST_CHECK;
int store_checkpoint_scan(store *s, int (*fn)(void *arg, uint64_t size, const char *note, size_t len),
                          void *arg) VAULT_MUST_CHECK;

/* ---- What must not roll back ----
 * A digest over every grant row and the active policy row (their ids and
 * MACs, each row checked): the audit log keeps it in its MAC'd audit state,
 * written with every grant or policy change, and checks it when grants or
 * the policy are loaded, so a grant row put back as it once was (a revoked
 * grant active again) or a newer policy row removed no longer matches the
 * state the log recorded (docs/storage.md, "Rolled-back rows"). */
int store_trust_digest(store *s, uint8_t out[32]) VAULT_MUST_CHECK;
/* 1 when the current transaction wrote a grant or policy row. */
int store_trust_changed(const store *s);

/* ---- Copies (backup and restore, docs/backup.md) ---- */

/* Copy the store as the caller's read transaction sees it into the new
 * file `path` (O_EXCL, mode 0600; nothing left behind on failure), keyed
 * with `key` (the store key it was opened with).  VAULT_ESTATE for a
 * backend that makes no file copies; VAULT_EEXISTS when `path` exists. */
int store_backup(store *s, const char *path, const uint8_t key[32], vault_progress_fn progress,
                 void *arg) VAULT_MUST_CHECK;
/* Copy the closed store file `from` into the new file `to` the same way;
 * VAULT_EAUTH when `from` does not open with `key`. */
int store_file_copy(const char *from, const char *to, const uint8_t key[32],
                    vault_progress_fn progress, void *arg) VAULT_MUST_CHECK;
/* Hold the store file at `path` as its only connection (its WAL folded
 * into the file, no one else can open it) until store_file_release, so it
 * can be replaced.  VAULT_EBUSY when it is open elsewhere. */
typedef struct store_file_claim store_file_claim;
int store_file_claim_take(store_file_claim **out, const char *path,
                          const uint8_t key[32]) VAULT_MUST_CHECK;
/* Copy the claimed file, as it is, into the new file `to` (O_EXCL, mode
 * 0600, keyed with the same key; nothing left behind on failure): a
 * snapshot nobody can write to meanwhile. */
int store_file_claim_copy(store_file_claim *c, const char *to) VAULT_MUST_CHECK;
void store_file_release(store_file_claim *c);

/* Copy every row of the open store `from` into the open, empty store
 * `to` (docs/storage.md "Copying a store"): in one write transaction on
 * `to`, reading `from` in the caller's transaction when one is open
 * (else a snapshot of its own).  Every row's MAC is checked as it is read
 * (VAULT_EINTEGRITY: nothing committed) and written as it was, which
 * needs both stores opened with the same master key's row guard
 * (VAULT_EINVALID otherwise); audit rows keep their bytes, positions and
 * heads, the newest its state, so the chain, the tree and every
 * checkpoint verify in the copy.  VAULT_EEXISTS, nothing written, when
 * `to` holds any row.  progress (may be NULL): rows copied of total, the
 * last call with done = total.  *out (may be NULL) counts what went in. */
typedef struct store_copy_stats {
    uint64_t rows, records, entries;
} store_copy_stats;
int store_copy(store_copy_stats *out, store *from, store *to, vault_progress_fn progress,
               void *arg) VAULT_MUST_CHECK;
/* The same between stores under different master keys (master-key
 * rotation, docs/keyslots.md "Rotating the master key"): every row is
 * checked against the source's guard, handed to rk->row (may be NULL) to
 * change, and tagged with the target's guard.  The hook gets a copy of
 * the row (kind as in row_scan: STORE_ROW_META ... STORE_ROW_AUDIT_STATE,
 * never audit entries or quota uses, which carry no tag and go across as
 * they are); it may point members at memory of its own that lives until
 * its next call, and returns < 0 to stop the copy (nothing committed). */
typedef struct store_rekey {
    int (*row)(void *arg, int kind, void *row);
    void *arg;
} store_rekey;
int store_copy_rekey(store_copy_stats *out, store *from, store *to, const store_rekey *rk,
                     vault_progress_fn progress, void *arg) VAULT_MUST_CHECK;
/* Master-key rotation of a PostgreSQL vault (docs/keyslots.md section
 * 11; postgresql.h says more).  store_rotation_prepare, under the vault's
 * write lock: the empty, marked place of a copy of live_location at
 * next_location (an earlier copy of the vault's dropped: *cleaned = 1;
 * anything else there: VAULT_EEXISTS); store_rotation_discard drops that
 * copy and nothing else.  store_rotate_swap, in `live`'s write
 * transaction: the complete copies at next_location and next_rk_location
 * (under the new keys; key and rk_key their store keys) replace the rows
 * of the vault's tables and of its record-key store's at
 * live_rk_location, the tables kept.  The caller's commit makes it so.
 * VAULT_ESTATE for another backend. */
/* fn(arg) while s holds its write lock, in a write transaction that
 * writes nothing and is rolled back after (its begin reads the store's key
 * check on PostgreSQL: a store whose key changed fails with VAULT_EAUTH
 * before fn runs).  Outside a transaction; fn's result is returned. */
int store_under_write_lock(store *s, int (*fn)(void *arg), void *arg) VAULT_MUST_CHECK;
/* PostgreSQL only (postgresql.h): the rotation's checks before anything
 * is made, and which key a vault is under, read under its write lock. */
int store_rotation_allowed(const char *live_location) VAULT_MUST_CHECK;
/* 1 when s's database connection is gone (PostgreSQL), else 0. */
int store_connection_lost(const store *s);
int store_which_key(const char *location, const uint8_t *const *keys, size_t n,
                    int *which) VAULT_MUST_CHECK;
int store_rotation_prepare(const char *live_location, const char *next_location,
                           const uint8_t id[VAULT_ID_BYTES], int *cleaned) VAULT_MUST_CHECK;
int store_rotation_discard(const char *live_location, const char *next_location,
                           const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;
/* In `live`'s write transaction, before a rotation copies it: no audited
 * read (which takes no write lock) commits until this transaction ends
 * (store_pg_rotation_hold).  VAULT_ESTATE for another backend. */
int store_rotation_hold(store *live) VAULT_MUST_CHECK;
int store_rotate_swap(store *live, const char *live_rk_location, const char *next_location,
                      const char *next_rk_location, const uint8_t key[32],
                      const uint8_t rk_key[32], const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;
/* Drop the store `s` created (store_open with create = 1) with all its
 * rows, outside a transaction; then only store_close.  VAULT_ESTATE when
 * its backend drops no store (SQLCipher: a file is removed by its
 * maker) or this handle did not create it. */
int store_destroy(store *s) VAULT_MUST_CHECK;

/* ---- Search quotas (one row per counted use) ---- */

/* Uses of `quota` by `user` later than `since` (unix seconds). */
int store_quota_count(int64_t *out, store *s, const char *quota, const char *user,
                      int64_t since) VAULT_MUST_CHECK;
/* Forget that user's uses at or before `since`, then record one at `now`.
 * Inside the caller's write transaction. */
int store_quota_add(store *s, const char *quota, const char *user, int64_t since,
                    int64_t now) VAULT_MUST_CHECK;
/* Residents quotas (uses that name a record, backend.h version 7): the
 * distinct records among `user`'s uses of `quota` later than `since`, and
 * whether `record` is one of them. */
int store_quota_count_records(int64_t *out, int *seen, store *s, const char *quota,
                              const char *user, int64_t since,
                              const uint8_t record[VAULT_ID_BYTES]) VAULT_MUST_CHECK;
/* Forget that user's uses at or before `since` and the earlier use of
 * `record`, then record a use of `record` at `now`.  Inside the caller's
 * write transaction. */
int store_quota_add_record(store *s, const char *quota, const char *user,
                           const uint8_t record[VAULT_ID_BYTES], int64_t since,
                           int64_t now) VAULT_MUST_CHECK;

#endif

/* store: the SQLCipher database, the only module that writes SQL.  Above
 * it everything speaks in records, fields, keys and audit entries; a
 * PostgreSQL backend can implement this same interface later.
 *
 * One store handle is one connection; it is not shared between threads
 * without the caller's lock (the vault handle holds one).  Several
 * processes may open the same file: WAL mode, a busy timeout, and write
 * transactions taken with BEGIN IMMEDIATE so writers serialise. */
#ifndef VAULT_STORE_H
#define VAULT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define STORE_SCHEMA_VERSION 2
#define STORE_BUSY_TIMEOUT_MS 10000
/* SQLCipher page size (PRAGMA cipher_page_size) of new vaults: 4 KiB, as
 * SQLCipher 4 and most file systems use.  Vaults created with 1 KiB pages
 * (SQLCipher 3's default, used by development builds before this
 * change) still open. */
#define STORE_PAGE_SIZE 4096
#define STORE_PAGE_SIZE_LEGACY 1024

typedef struct store store;

/* Open (create = 1: create a new file, failing if it exists) with the raw
 * 32-byte SQLCipher key.  A wrong key gives VAULT_EAUTH; a file that is not
 * a libvault database VAULT_EINTEGRITY; a newer schema VAULT_ESTATE. */
int store_open(store **out, const char *path, const uint8_t key[32], int create) VAULT_MUST_CHECK;
void store_close(store *s);

/* Transactions.  write = 1 takes the write lock at once (BEGIN IMMEDIATE),
 * waiting up to the busy timeout (then VAULT_EBUSY). */
int store_begin(store *s, int write) VAULT_MUST_CHECK;
int store_commit(store *s) VAULT_MUST_CHECK;
void store_rollback(store *s);
/* 1 while a transaction is open. */
int store_in_tx(const store *s);
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
/* A counter that changes when another connection commits (PRAGMA data_version). */
int store_data_version(store *s, int64_t *out) VAULT_MUST_CHECK;

/* Small named values (vault id, creation time, ...). */
int store_meta_get(store *s, const char *key, uint8_t *out, size_t cap, size_t *out_len) VAULT_MUST_CHECK;
int store_meta_put(store *s, const char *key, const uint8_t *val, size_t len) VAULT_MUST_CHECK;

/* Policies: each applied policy is kept; the newest is active. */
int store_policy_add(int64_t *out_id, store *s, const uint8_t hash[32], const char *filename,
                     const char *source, size_t len, int64_t now) VAULT_MUST_CHECK;
/* The active policy's id, file name (as applied) and source (malloc'ed,
 * NUL-terminated). */
int store_policy_active(int64_t *out_id, char *filename_out, size_t filename_cap,
                        char **out_source, size_t *out_len, store *s) VAULT_MUST_CHECK;

/* Wrapped grade keys per (grade, version). */
int store_gradekey_add(store *s, const char *grade, uint32_t version, const uint8_t *wrapped,
                       size_t len, int64_t now) VAULT_MUST_CHECK;
int store_gradekey_get(uint8_t *out, size_t cap, size_t *out_len, store *s, const char *grade,
                       uint32_t version) VAULT_MUST_CHECK;
/* Newest version of a grade's key; VAULT_ENOTFOUND when it has none. */
int store_gradekey_latest(uint32_t *out, store *s, const char *grade) VAULT_MUST_CHECK;

/* Records. */
typedef struct store_record {
    char jurisdiction[VAULT_JURISDICTION_MAX + 1];
    int64_t created, updated, version;
} store_record;

int store_record_insert(store *s, const uint8_t id[VAULT_ID_BYTES], const char *jurisdiction,
                        int64_t now) VAULT_MUST_CHECK;
/* VAULT_ENOTFOUND when there is no such record. */
int store_record_get(store_record *out, store *s, const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;
/* Bump version and updated time. */
int store_record_touch(store *s, const uint8_t id[VAULT_ID_BYTES], int64_t now) VAULT_MUST_CHECK;
/* Delete the record, its fields and index entries (secure_delete is on). */
int store_record_delete(store *s, const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;
int store_record_count(int64_t *out, store *s) VAULT_MUST_CHECK;

/* Field ciphertexts. */
int store_field_put(store *s, const uint8_t id[VAULT_ID_BYTES], const char *field,
                    const char *grade, uint32_t key_version, const uint8_t *ct, size_t len,
                    int64_t now) VAULT_MUST_CHECK;
/* *out is malloc'ed (ciphertext, not secret).  VAULT_ENOTFOUND if unset.
 * grade_out holds VAULT_NAME_MAX bytes. */
int store_field_get(uint8_t **out, size_t *out_len, char *grade_out, uint32_t *key_version,
                    store *s, const uint8_t id[VAULT_ID_BYTES], const char *field) VAULT_MUST_CHECK;

/* Blind index: one digest per (field, record). */
int store_bidx_put(store *s, const char *field, const uint8_t *digest, size_t dlen,
                   const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;
/* Record ids with this digest: *out malloc'ed, *out_count ids of 16 bytes. */
int store_bidx_find(uint8_t **out, size_t *out_count, store *s, const char *field,
                    const uint8_t *digest, size_t dlen) VAULT_MUST_CHECK;

/* ---- Grants ---- */

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
    const char *approver, *revoked_by, *revoke_reason; /* read back only */
    int64_t created;
    int64_t changed;          /* last state change (0: none); read back only */
} store_grant;

int store_grant_insert(store *s, const store_grant *g) VAULT_MUST_CHECK;
/* Call fn with the grant (valid during the call only).  VAULT_ENOTFOUND. */
int store_grant_get(store *s, const char *id, int (*fn)(void *arg, const store_grant *g),
                    void *arg) VAULT_MUST_CHECK;
/* Set state, and approver / revoker / reason where not NULL. */
int store_grant_set_state(store *s, const char *id, const char *state, const char *approver,
                          const char *revoked_by, const char *revoke_reason,
                          int64_t now) VAULT_MUST_CHECK;
/* Every grant, oldest first; fn returns < 0 to stop with that error. */
int store_grant_scan(store *s, int (*fn)(void *arg, const store_grant *g), void *arg) VAULT_MUST_CHECK;

/* ---- Key rotation ---- */

/* Call fn for up to `limit` fields of `grade` sealed under a key version
 * below `below_version`.  fn may rewrite the field (store_field_put). */
int store_field_scan_stale(store *s, const char *grade, uint32_t below_version, size_t limit,
                           int (*fn)(void *arg, const uint8_t *record_id, const char *field,
                                     uint32_t key_version, const uint8_t *ct, size_t len),
                           void *arg) VAULT_MUST_CHECK;
int store_field_count_stale(int64_t *out, store *s, const char *grade,
                            uint32_t below_version) VAULT_MUST_CHECK;
/* Delete the wrapped keys of `grade` older than below_version. */
int store_gradekey_retire(store *s, const char *grade, uint32_t below_version) VAULT_MUST_CHECK;

/* ---- Audit log ---- */

/* Append an entry at storage position pos with its chain head. */
int store_audit_append(store *s, int64_t pos, const uint8_t *entry, size_t len,
                       const uint8_t head[32], const uint8_t *record_id, const char *user,
                       unsigned flags) VAULT_MUST_CHECK;
/* The newest entry (pos 0, *out_entry NULL and head all zero when empty).
 * *out_entry is malloc'ed. */
int store_audit_last(int64_t *out_pos, uint8_t **out_entry, size_t *out_len, uint8_t head[32],
                     store *s) VAULT_MUST_CHECK;
/* Call fn for every entry after after_pos in storage order.  fn returns 0
 * to go on, > 0 to stop, < 0 to fail (returned). */
int store_audit_scan(store *s, int64_t after_pos,
                     int (*fn)(void *arg, int64_t pos, const uint8_t *entry, size_t len,
                               const uint8_t *head, size_t head_len),
                     void *arg) VAULT_MUST_CHECK;
/* The same for the entries filed under one record (the audit_record
 * index), in storage order: a resident's report costs their entries, not
 * the log.  The copy in the record_id column is not signed: callers
 * re-check each entry's own record id. */
int store_audit_scan_record(store *s, const uint8_t record_id[VAULT_ID_BYTES],
                            int (*fn)(void *arg, int64_t pos, const uint8_t *entry, size_t len,
                                      const uint8_t *head, size_t head_len),
                            void *arg) VAULT_MUST_CHECK;
int store_audit_count(int64_t *out, store *s) VAULT_MUST_CHECK;

/* Signed checkpoints (C2SP notes) by tree size. */
int store_checkpoint_add(store *s, uint64_t size, const char *note, int64_t now) VAULT_MUST_CHECK;
int store_checkpoint_last(uint64_t *out, store *s) VAULT_MUST_CHECK;
int store_checkpoint_scan(store *s, int (*fn)(void *arg, uint64_t size, const char *note, size_t len),
                          void *arg) VAULT_MUST_CHECK;

/* ---- Search quotas (one row per counted use) ---- */

/* Uses of `quota` by `user` later than `since` (unix seconds). */
int store_quota_count(int64_t *out, store *s, const char *quota, const char *user,
                      int64_t since) VAULT_MUST_CHECK;
/* Forget that user's uses at or before `since`, then record one at `now`.
 * Inside the caller's write transaction. */
int store_quota_add(store *s, const char *quota, const char *user, int64_t since,
                    int64_t now) VAULT_MUST_CHECK;

#endif

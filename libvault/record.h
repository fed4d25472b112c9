/* record: resident records as the library holds them between the store
 * and the data calls.  No policy here: callers decide before they call.
 *
 * A record_row is a working copy of one record: its header and its sealed
 * fields.  Load it (the store has checked its row MAC), open fields from
 * it, change fields in it, and save it whole: one row write with its
 * blind-index digests (store_record_write).  Every field's ciphertext is
 * bound to the vault, the record, the field name, the grade, the key
 * version and the field's write counter (the record version at which it
 * was written), so a restored older ciphertext fails to open. */
#ifndef VAULT_RECORD_H
#define VAULT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "keyring.h"
#include "policy/policy.h"
#include "reckeys.h"
#include "store/store.h"

typedef struct record_field {
    char name[VAULT_NAME_MAX];
    char grade[VAULT_NAME_MAX];
    uint32_t key_version;
    int64_t counter;
    size_t ct_off, ct_len; /* into the row's data */
    uint8_t digest[STORE_DIGEST_MAX];
    size_t digest_len;
} record_field;

typedef struct record_row {
    uint8_t id[VAULT_ID_BYTES];
    char jurisdiction[VAULT_JURISDICTION_MAX + 1];
    int64_t created, updated, version;
    int is_new; /* not stored yet */
    size_t nfields, fcap;
    record_field *fields;
    uint8_t *data; /* ciphertexts, back to back */
    size_t dlen, dcap;
    store_field *scratch; /* for saving */
    /* The record's own key (reckeys.h), in secure memory once loaded or
     * made: rkey_state RKEY_UNKNOWN (not looked up), RKEY_LOADED (from the
     * key store, or made for this row: rkey_new, stored by record_save),
     * RKEY_NONE (the key store has no row for it: a record written before
     * record keys, if none of its fields is format 3), RKEY_ERASED (the
     * key store holds its erasure). */
    uint8_t *rkey;
    int rkey_state, rkey_new;
} record_row;

enum { RKEY_UNKNOWN = 0, RKEY_LOADED = 1, RKEY_NONE = 2, RKEY_ERASED = 3 };

/* What record calls need of the vault: its id, keys, store and policy
 * (for the grade of each field). */
typedef struct record_ctx {
    const uint8_t *vault_id;
    keyring *keys;
    store *db;
    const vault_policy *policy;
    reckeys *rk; /* the record-key store */
} record_ctx;

/* A row starts empty (all zero is fine too); free releases its memory
 * (ciphertexts, and the record key, wiped). */
void record_row_init(record_row *r);
void record_row_free(record_row *r);

/* Start a new record: a random id, version 1, a new record key (stored
 * with the row by record_save).  Touches no store (import workers call
 * it). */
int record_new(record_row *r, const char *jurisdiction, int64_t now) VAULT_MUST_CHECK;
/* Load a record with its key.  VAULT_ENOTFOUND when there is none, or
 * when the key store holds its erasure (an erased record whose rows
 * survive in a restored backup, or an erase cut short);
 * VAULT_EINTEGRITY when its row fails its MAC, its key its check, or the
 * key store has neither its key nor its erasure although its fields need
 * one (a key store older than the data, or changed: never taken for an
 * erasure). */
int record_load(record_row *r, const record_ctx *c,
                const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;
/* The same, but an erased record's remains load too (rkey_state
 * RKEY_ERASED, nothing of them opens): for the erase that completes an
 * erasure cut short. */
int record_load_erasable(record_row *r, const record_ctx *c,
                         const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;
/* 1 when a loaded row is an erased record's remains (the key store holds
 * its erasure), 0 when not, VAULT_EINTEGRITY as record_load.  Looks the
 * key up when not yet known. */
int record_erased(const record_ctx *c, record_row *r) VAULT_MUST_CHECK;
/* Load from a row the store handed out (already checked). */
int record_copy(record_row *r, const store_record *row) VAULT_MUST_CHECK;
/* Begin changing a stored record: the next version, written now.  Once
 * per update, before record_set. */
void record_touch(record_row *r, int64_t now);
/* Seal value into field f of the row (the newest key of its grade, the
 * row's version as the write counter); *out_ct_hash (may be NULL)
 * receives the SHA-256 of the new ciphertext, for the audit log. */
int record_set(uint8_t *out_ct_hash, const record_ctx *c, record_row *r, const vp_field *f,
               const char *value, size_t len, int64_t now) VAULT_MUST_CHECK;
/* The same in two steps, for a caller that seals away from the store (the
 * import's worker thread): record_key_latest looks the grade's newest key
 * up through the keyring (it may read the store, so the thread that owns
 * the transaction calls it); record_set_key only seals and indexes, with
 * no store access.  The key stays valid until the transaction ends. */
typedef struct record_key {
    const char *grade;   /* the policy's grade name */
    const uint8_t *key;  /* in the keyring's guarded cache */
    uint32_t version;
} record_key;
int record_key_latest(record_key *out, const record_ctx *c, const vp_field *f,
                      int64_t now) VAULT_MUST_CHECK;
int record_set_key(uint8_t *out_ct_hash, const record_ctx *c, record_row *r, const vp_field *f,
                   const record_key *k, const char *value, size_t len) VAULT_MUST_CHECK;
/* Write the row whole (insert when new). */
int record_save(const record_ctx *c, record_row *r) VAULT_MUST_CHECK;
/* 1 when the row has a value for the field. */
int record_has(const record_row *r, const char *field);
/* Remove the field from the row (stored by the next record_save, which
 * also drops its blind-index rows): 1 when it had one, 0 when not.  Only
 * the whole-record erase reaches copies of the data (docs/erasure.md). */
int record_unset(record_row *r, const char *field);

/* Open field f into memory from alloc(arg, n), which returns n writable
 * bytes of secure memory or NULL; NUL-terminated; on failure the caller
 * wipes what it handed out.  VAULT_ENOTFOUND when the field has no
 * value. */
typedef char *(*record_alloc_fn)(void *arg, size_t n);
int record_open(char **out, size_t *out_len, const record_ctx *c, const record_row *r,
                const char *field, record_alloc_fn alloc, void *arg) VAULT_MUST_CHECK;
/* The same into guarded memory (vc_malloc; release with vc_free). */
int record_open_secure(char **out, size_t *out_len, const record_ctx *c, const record_row *r,
                       const char *field) VAULT_MUST_CHECK;

/* Re-seal every field of `grade` under a key version below `target` with
 * key version target (rotation).  *moved counts them; on a field that
 * fails to open, *bad_field names it and the error is returned. */
int record_reseal(size_t *moved, char *bad_field, size_t bad_cap, const record_ctx *c,
                  record_row *r, const char *grade, uint32_t target) VAULT_MUST_CHECK;

/* Candidates by blind index, each checked against its record's MAC'd
 * digest (a forged index row finds nothing): malloc'ed array of 16-byte
 * ids. */
int record_find(uint8_t **out, size_t *out_count, const record_ctx *c, const vp_field *f,
                const char *value, size_t len) VAULT_MUST_CHECK;
/* Destroy the record's key (reckeys_erase, made durable before the data
 * commits), then delete its rows.  A record without a key (written before
 * record keys, or whose key is already gone) loses its rows only. */
int record_erase(const record_ctx *c, const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;

/* Master-key rotation: row's fields (row->nfields of them, into
 * `fields`) with each blind-index digest computed anew under bidx_root,
 * the field opened with c's keys; other members as they were (the
 * ciphertexts are the row's).  An erased record's remains (*erased = 1)
 * keep no digest at all.  *reindexed counts the digests computed. */
int record_reindex(store_field *fields, size_t *reindexed, int *erased, const record_ctx *c,
                   const store_record *row, const uint8_t bidx_root[VC_KEYBYTES]) VAULT_MUST_CHECK;

#endif

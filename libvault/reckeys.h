/* reckeys: the record-key store (docs/erasure.md).
 *
 * Every record has a key of its own (32 random bytes); its fields are
 * sealed in format 3 under a key made of that record key and their grade
 * key (crypto.h), so a field opens only while both exist.  The record keys
 * live wrapped (under the keyring's wrap key, bound to the vault and the
 * record id) in a store of their own beside the data: the file PATH.rkeys
 * next to a SQLCipher vault (keyed with a key of its own, not the data's
 * database key), the schema NAME_rkeys next to a PostgreSQL vault's
 * schema NAME.  A backup of the data never holds them; erasing a record
 * deletes its key, so the record is gone from every copy of the data,
 * restored or not, that is opened with the current key store.
 *
 * Transactions: the key store's reads and writes ride on the data's unit
 * of work.  The first read opens a snapshot of the key store, the first
 * write a write transaction (the data's write lock is already held: every
 * writer of the key store holds it, so the two never wait on each other
 * the other way round).  reckeys_commit, called just before the data
 * commits, makes the key store's writes durable first: a crash between the
 * two leaves at worst a key without a record (a create that did not
 * happen: harmless) or a record without a key (an erase that happened but
 * whose data rows and entry did not commit: the record reads as erased,
 * and erasing it again completes it).  Never a record erased in the data
 * whose key survives. */
#ifndef VAULT_RECKEYS_H
#define VAULT_RECKEYS_H

#include <stdint.h>

#include "keyring.h"
#include "store/store.h"

#define RECKEY_BYTES 32

typedef struct reckeys reckeys;

/* The key store of the vault at `location`, malloc'ed: PATH.rkeys for a
 * file vault ("scheme:NAME.rkeys" for a registered backend), the location
 * with vault_schema=NAME_rkeys for PostgreSQL. */
int reckeys_location(char **out, const char *location) VAULT_MUST_CHECK;

/* Open (create = 1: make) the key store at `location` for the vault
 * `vault_id`; the keyring stays the caller's and must outlive the handle.
 * A key store of another vault is VAULT_EINTEGRITY; a missing one, when
 * create is 0, the backend's "no such store" (VAULT_ENOTFOUND or
 * VAULT_EIO). */
int reckeys_open(reckeys **out, const char *location, keyring *k,
                 const uint8_t vault_id[VAULT_ID_BYTES], int create) VAULT_MUST_CHECK;
void reckeys_close(reckeys *r);
/* The underlying store (vault_migrate copies it). */
store *reckeys_store(reckeys *r);

/* Record id's key into out (RECKEY_BYTES, the caller's secure memory).
 * VAULT_ENOTFOUND when it has none: *erased 1 when the store says it was
 * erased (its tombstone), 0 when the store has no row for it at all (a
 * record written before record keys, or a key store older than the data,
 * or damaged: the caller decides which); VAULT_EINTEGRITY when the stored
 * key fails its check. */
int reckeys_get(uint8_t out[RECKEY_BYTES], int *erased, reckeys *r,
                const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;
/* Store a new record's key (in the key store's write transaction, made
 * durable by reckeys_commit). */
int reckeys_put(reckeys *r, const uint8_t id[VAULT_ID_BYTES],
                const uint8_t key[RECKEY_BYTES]) VAULT_MUST_CHECK;
/* Destroy a record's key: its row then holds the erasure's tombstone
 * (also for a record that had no key). */
int reckeys_erase(reckeys *r, const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;

/* Copy the key store, as one snapshot of it, into the new file `path`
 * (store_backup: SQLCipher only, keyed with the key store's own key),
 * outside the data's transactions. */
int reckeys_backup(reckeys *r, const char *path, vault_progress_fn progress,
                   void *arg) VAULT_MUST_CHECK;

/* A large load (import) is coming in this unit of work: the key store's
 * write transaction runs in the store's bulk mode (store_bulk_begin with
 * `expected` records), ended by reckeys_commit; reckeys_end forgets it. */
int reckeys_bulk_begin(reckeys *r, size_t expected) VAULT_MUST_CHECK;

/* Commit what this unit of work wrote to the key store (the data's
 * before_commit); a snapshot is just ended.  On failure nothing of the key
 * store's transaction stays, and the data must not commit either. */
int reckeys_commit(reckeys *r) VAULT_MUST_CHECK;
/* The data's transaction ended: roll back whatever of the key store is
 * still open (nothing after reckeys_commit). */
void reckeys_end(reckeys *r);

/* Master-key rotation: the value of the key store's meta row `name`
 * for a key store under `to`'s keys.  A record's key is unwrapped with
 * r's keys and wrapped again under to's (the same key, the same
 * associated data); a tombstone stays one (*tombstone = 1); the store's
 * other rows go as they are.  out: cap bytes (RECKEY_BYTES +
 * VC_WRAP_OVERHEAD suffice for a key).  VAULT_EINTEGRITY for a key that
 * fails its check or a malformed row. */
int reckeys_rewrap(uint8_t *out, size_t cap, size_t *out_len, int *tombstone, const reckeys *r,
                   const keyring *to, const char *name, const uint8_t *val,
                   size_t len) VAULT_MUST_CHECK;

#endif

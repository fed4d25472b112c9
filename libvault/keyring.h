/* keyring: the unlocked master key, the keys derived from it, and the
 * per-grade data keys (random, versioned, stored wrapped in the database).
 * All key bytes live in sodium_malloc memory and are wiped on free. */
#ifndef VAULT_KEYRING_H
#define VAULT_KEYRING_H

#include <stdint.h>

#include "crypto.h"
#include "store/store.h"

typedef struct keyring keyring;

/* Take a copy of the master key and derive the subkeys from it. */
int keyring_new(keyring **out, const uint8_t master[VC_KEYBYTES],
                const uint8_t vault_id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;
void keyring_free(keyring *k);

const uint8_t *keyring_master(const keyring *k);
const uint8_t *keyring_db_key(const keyring *k);     /* SQLCipher raw key */
const uint8_t *keyring_bidx_root(const keyring *k);  /* blind index root */
const uint8_t *keyring_pseudonym_root(const keyring *k); /* the pseudonym mask's root */
const uint8_t *keyring_canary_key(const keyring *k);     /* seals the canary set */
const uint8_t *keyring_wrap_key(const keyring *k);   /* wraps keys kept in the database */
const uint8_t *keyring_reckeys_db_key(const keyring *k);  /* the record-key store's store key */
const uint8_t *keyring_reckey_wrap_key(const keyring *k); /* wraps the record keys */
const uint8_t *keyring_vault_id(const keyring *k);
/* The row guard the store tags and checks rows with (store.h). */
const store_guard *keyring_row_guard(const keyring *k);

/* Create and store version `version` of `grade`'s data key. */
int keyring_grade_key_create(keyring *k, store *db, const char *grade, uint32_t version,
                             int64_t now) VAULT_MUST_CHECK;
/* The data key of `grade` at `version` (unwrapped once, then cached).
 * *out points into the keyring and lives as long as it does. */
int keyring_grade_key(const uint8_t **out, keyring *k, store *db, const char *grade,
                      uint32_t version) VAULT_MUST_CHECK;
/* The newest version of `grade`'s key, creating version 1 if it has none
 * (the caller holds a write transaction).  The version found is remembered
 * until the transaction ends (keyring_tx_end), so a bulk write asks the
 * database once per grade. */
int keyring_grade_key_latest(const uint8_t **out, uint32_t *out_version, keyring *k, store *db,
                             const char *grade, int64_t now) VAULT_MUST_CHECK;

/* Master-key rotation: the wrapped key of `grade` at `version`, opened
 * with `from`'s wrap key and wrapped again under `to`'s (the same vault)
 * into out (cap bytes, VC_KEYBYTES + VC_WRAP_OVERHEAD suffice).  The key
 * itself stays the same.  VAULT_EINTEGRITY when it does not open. */
int keyring_grade_rewrap(uint8_t *out, size_t cap, size_t *out_len, const keyring *from,
                         const keyring *to, const char *grade, uint32_t version,
                         const uint8_t *wrapped, size_t len) VAULT_MUST_CHECK;

/* The end of a store transaction (a store hook, via vault.c): forget the
 * newest versions remembered in it; after a rollback also forget every
 * cached key, since keys created in it were never stored. */
void keyring_tx_end(keyring *k, int committed);

#endif

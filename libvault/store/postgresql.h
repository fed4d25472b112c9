/* The PostgreSQL backend of the store table (store/backend.h): a vault
 * kept in one schema of a PostgreSQL database, through libpq.  Locations
 * and the schema are in docs/postgresql.md. */
#ifndef VAULT_STORE_POSTGRESQL_H
#define VAULT_STORE_POSTGRESQL_H

#include "store/backend.h"

/* 1 when `location` names a PostgreSQL vault: "postgresql://...",
 * "postgres://..." (libpq URIs) or "pg:KEYWORD=VALUE ..." (a libpq
 * connection string after the prefix). */
int store_pg_is_location(const char *location);

/* The keys sidecar's path a PostgreSQL location names (its vault_keys
 * parameter), malloc'ed; VAULT_EINVALID when it names none. */
int store_pg_keys_path(char **out, const char *location) VAULT_MUST_CHECK;

/* The location as it may be shown: any password replaced by "***".
 * Always NUL-terminates out (cap > 0); cut to fit. */
void store_pg_display(char *out, size_t cap, const char *location);
/* The same location with the schema NAME+suffix instead of NAME (the
 * record-key store beside a vault), malloc'ed; VAULT_EINVALID when the
 * name would be too long. */
int store_pg_sibling(char **out, const char *location, const char *suffix) VAULT_MUST_CHECK;

/* Open the vault at `location` (store_pg_is_location) with the 32-byte
 * store key; create 1 makes its schema (VAULT_EEXISTS when the schema
 * holds tables already).  A schema that is not there: VAULT_EINTEGRITY;
 * a key other than the create's: VAULT_EAUTH. */
int store_postgresql_open(store_backend **out, const char *location, const uint8_t key[32],
                          int create) VAULT_MUST_CHECK;

/* Master-key rotation (docs/keyslots.md section 11).
 *
 * store_pg_rotation_prepare: under the vault's write lock (the caller's),
 * on a connection of its own, after store_pg_rotation_allowed: makes the
 * empty schema next_loc names, marked as vault id's copy of
 * live_loc's schema; a copy an earlier rotation of that vault left there
 * is dropped first (*cleaned = 1); any other schema of that name is
 * VAULT_EEXISTS and left alone.  store_pg_rotation_discard drops the
 * marked copy if it is there, and nothing else.
 *
 * store_pg_rotate_swap, in the vault's write transaction on `be`: the
 * marked copies at next_loc and next_rk_loc (complete, under the new keys;
 * key and rk_key their store keys) replace the rows of the live vault's
 * tables and of its record-key store's at live_rk_loc (the tables kept,
 * with their owner, privileges and dependants; the audit rows appended),
 * the key checks computed for the live names, the copies dropped.  Nothing
 * changes until the caller commits. */
/* store_pg_rotation_allowed: the role may rotate the vault at live_loc
 * (VAULT_EDENIED), and nothing outside it would be changed by the swap (a
 * foreign key into its tables, a publication of them: VAULT_ESTATE).
 * store_pg_which_key: under the vault's write lock (so after any
 * transaction holding it has ended), which of keys[0..n-1] the vault's
 * key check is of (*which, -1 for none). */
int store_pg_rotation_allowed(const char *live_loc) VAULT_MUST_CHECK;
/* 1 when be's connection is gone (a lost connection was seen). */
int store_pg_lost(const store_backend *be);
int store_pg_which_key(const char *location, const uint8_t *const *keys, size_t n,
                       int *which) VAULT_MUST_CHECK;
int store_pg_rotation_prepare(const char *live_loc, const char *next_loc,
                              const uint8_t id[VAULT_ID_BYTES], int *cleaned) VAULT_MUST_CHECK;
int store_pg_rotation_discard(const char *live_loc, const char *next_loc,
                              const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;
/* store_pg_rotation_hold, in the vault's write transaction on `be`, before
 * the copy: the rotation lock, exclusively, to the commit.  Every audited
 * read (STORE_TX_DEFERRED, which takes no write lock) holds it shared from
 * its begin, so the rotation waits for those under way and none begins
 * until the swap committed (its begin then fails the key check). */
int store_pg_rotation_hold(store_backend *be) VAULT_MUST_CHECK;
int store_pg_rotate_swap(store_backend *be, const char *live_rk_loc, const char *next_loc,
                         const char *next_rk_loc, const uint8_t key[32], const uint8_t rk_key[32],
                         const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;

#endif

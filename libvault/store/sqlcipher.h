/* The SQLCipher backend of the store table (store/backend.h): one
 * encrypted SQLite file per vault, the embedded default.  Its schema and
 * the body format of its record rows are in docs/storage.md. */
#ifndef VAULT_STORE_SQLCIPHER_H
#define VAULT_STORE_SQLCIPHER_H

#include "store/backend.h"

/* path: the vault file; key: the 32-byte raw SQLCipher key; create 1
 * makes a new file (mode 0600, failing if it exists). */
int store_sqlcipher_open(store_backend **out, const char *path, const uint8_t key[32],
                         int create) VAULT_MUST_CHECK;

/* Copies (docs/backup.md).  store_sqlcipher_copy: the closed vault file
 * `from` into the new file `to` (O_EXCL, mode 0600), in one read
 * transaction, through SQLite's online backup API; VAULT_EAUTH when
 * `from` does not open with `key`.  store_sqlcipher_claim: the only
 * connection to the vault file at `path`, out of WAL mode (its WAL folded
 * into the file) and holding the exclusive lock until released, so the
 * file can be replaced: VAULT_EBUSY when another connection has it open. */
typedef struct sqc_claim sqc_claim;
int store_sqlcipher_copy(const char *from, const char *to, const uint8_t key[32],
                         vault_progress_fn progress, void *arg) VAULT_MUST_CHECK;
int store_sqlcipher_claim(sqc_claim **out, const char *path,
                          const uint8_t key[32]) VAULT_MUST_CHECK;
/* Copy the claimed file into the new file `to`, keyed the same. */
int store_sqlcipher_claim_copy(sqc_claim *c, const char *to) VAULT_MUST_CHECK;
void store_sqlcipher_release(sqc_claim *c);

#endif

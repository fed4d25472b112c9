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

#endif

/* store_mem: an in-memory store backend (test double of store/backend.h).
 * See the comment at the top of tests/store_mem.c for what it keeps and
 * how it behaves. */
#ifndef VAULT_TESTS_STORE_MEM_H
#define VAULT_TESTS_STORE_MEM_H

#include <stdint.h>

#include "store/backend.h"

/* Open a connection to the in-memory store named `uri` (the same shape as
 * store_backend_open_fn in store/store.h).  create = 1 makes a new store
 * under that name and fails with VAULT_EEXISTS if the name is taken;
 * create = 0 opens an existing one: VAULT_EIO ("no such store") when the
 * name is unknown, VAULT_EAUTH when key is not the key it was created
 * with.  Stores live in a process-wide registry until store_mem_forget,
 * so every connection (and a later open) sees the same data. */
int store_mem_open(store_backend **out, const char *uri, const uint8_t key[32],
                   int create) VAULT_MUST_CHECK;

/* Drop the store named `uri` and all its data.  VAULT_ENOTFOUND when there
 * is none, VAULT_EBUSY while a connection to it is still open. */
int store_mem_forget(const char *uri) VAULT_MUST_CHECK;

#endif

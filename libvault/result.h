/* result: a read's per-field results (vault_result), built by the data
 * calls of both modes: session.c (embedded: values opened straight into
 * the arena) and client/client.c (client mode: values received from
 * vaultd).  Values live in one guarded arena, wiped when freed. */
#ifndef VAULT_RESULT_H
#define VAULT_RESULT_H

#include <stddef.h>

#include "internal.h"

typedef struct result_item {
    char field[VAULT_NAME_MAX];
    int effect;
    int present;
    int has_value;
    size_t off; /* the value, NUL-terminated, at arena + off */
    size_t len;
    vault_reason reason;
} result_item;

/* A result's values share one guarded arena (vc_malloc: guarded, locked,
 * wiped when freed or grown) rather than one guarded mapping per value,
 * which cost ~10 system calls each (bench/README.md). */
struct vault_result {
    size_t n;
    result_item *items;
    char *arena;
    size_t cap, used;
};

/* A result of n zeroed items (effect deny, nothing present). */
int result_new(vault_result **out, size_t n) VAULT_MUST_CHECK;
/* A record_alloc_fn: room for n bytes past the arena's committed end (arg:
 * the result); NULL when out of secure memory. */
char *result_arena_alloc(void *arg, size_t n);
/* Keep the len bytes (and a NUL) written at arena + used as its value. */
void result_arena_commit(vault_result *r, result_item *it, size_t len);
/* Fill item i from received parts: field name, effect, presence, the
 * value (copied into the arena; NULL for none) and the reason (copied;
 * NULL for an empty one).  VAULT_EINVALID for i out of range or a field
 * name too long, VAULT_ENOMEM. */
int result_set(vault_result *r, size_t i, const char *field, int effect, int present,
               const char *value, size_t len, const vault_reason *why) VAULT_MUST_CHECK;

#endif

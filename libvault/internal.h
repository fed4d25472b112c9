/* Internal conventions shared by every module: error reporting and the
 * guard macros.  Not installed. */
#ifndef VAULT_INTERNAL_H
#define VAULT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vault.h"

#if defined(__GNUC__)
#define VAULT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define VAULT_MUST_CHECK __attribute__((warn_unused_result))
#else
#define VAULT_PRINTF(a, b)
#define VAULT_MUST_CHECK
#endif

/* Record `code` with a one-line message for vault_error_last() and return
 * `code`.  Messages must never contain secrets or field values. */
int vault__err(int code, const char *fmt, ...) VAULT_PRINTF(2, 3);
/* Forget the last error (start of a public call). */
void vault__err_clear(void);

/*
 * Every function that can fail declares `int rc = VAULT_OK;`, ends with a
 * single `cleanup:` label that frees what it holds, and returns rc.
 *   GUARD(x)              propagate a negative code from x unchanged
 *   ENSURE(cond, code, …) fail with code and a formatted message
 */
#define GUARD(x)                      \
    do {                              \
        int guard_rc_ = (x);          \
        if (guard_rc_ < 0) {          \
            rc = guard_rc_;           \
            goto cleanup;             \
        }                             \
    } while (0)

#define ENSURE(cond, code, ...)                   \
    do {                                          \
        if (!(cond)) {                            \
            rc = vault__err((code), __VA_ARGS__); \
            goto cleanup;                         \
        }                                         \
    } while (0)

/* Option structs (vault.h "Option structs"): a public struct the caller
 * fills in starts with `size_t size`, set by its VAULT_*_INIT macro to
 * sizeof the struct in the caller's header.  vault__opt_in copies the
 * caller's struct `in` into `full` (full_size bytes, this library's
 * layout) with the members past the caller's size zeroed: a caller built
 * against an older header has no such member, and gets its default.
 * VAULT_EINVALID, naming the struct and its INIT macro, for a size of
 * 0 or less than the size member itself (never initialised) or above
 * full_size (a newer header than this library). */
int vault__opt_in(void *full, size_t full_size, const void *in, const char *name,
                  const char *init) VAULT_MUST_CHECK;

/* In a function with `rc` and `cleanup:`: check the caller's struct
 * behind pointer parameter `param` (when not NULL), copy it into `local`
 * and point `param` at the copy. */
#define VAULT_OPT_IN(param, local, name, init)                                          \
    do {                                                                                \
        if ((param) != NULL) {                                                          \
            GUARD(vault__opt_in(&(local), sizeof(local), (param), (name), (init)));     \
            (param) = &(local);                                                         \
        }                                                                               \
    } while (0)

#define VAULT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Make *p (an array of *cap elements of elem bytes, or NULL) hold at least
 * need elements, doubling from `first`; VAULT_ENOMEM (message set), *p
 * and *cap unchanged, when it can't. */
int vault__grow(void **p, size_t *cap, size_t need, size_t elem, size_t first) VAULT_MUST_CHECK;

#endif

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

#define VAULT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif

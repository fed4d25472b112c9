/* names: record ids, names and jurisdiction paths, the default actor and
 * the clock (names.c).  Not installed. */
#ifndef VAULT_NAMES_H
#define VAULT_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* "os:<login name>" for the actor of operations without a session. */
void vault__default_actor(char *out, size_t cap);

/* The principal an audit entry records (vault_principal, kept). */
typedef struct vault__who {
    char issuer[VAULT_PRINCIPAL_MAX];
    char subject[VAULT_PRINCIPAL_MAX];
    char token_id[VAULT_PRINCIPAL_MAX];
    char app[VAULT_PRINCIPAL_MAX];
    char peer[VAULT_PRINCIPAL_MAX];
    int64_t not_after; /* the last second the credential is good; 0: no limit */
} vault__who;

/* The embedded caller: everything empty but the peer
 * "local:uid=U,pid=P" (this process's real uid and pid). */
void vault__who_local(vault__who *out);
/* Check an authenticated principal (the rules of vault_principal in
 * vault.h) and copy it.  VAULT_EINVALID or VAULT_ELIMIT naming the part
 * ("principal app: ..."), never its text; *out is left untouched then. */
int vault__who_set(vault__who *out, const vault_principal *in) VAULT_MUST_CHECK;
/* A principal as asserted, for the entry that logs its refusal: each
 * string that passes the text rule as it is, else "?"; NULL `in` is the
 * embedded caller. */
void vault__who_asserted(vault__who *out, const vault_principal *in);
/* VAULT_EAUTH when w's credential is past its not_after at `now` (the
 * message says when, never who); VAULT_OK for one without a limit. */
int vault__who_current(const vault__who *w, int64_t now) VAULT_MUST_CHECK;

/* Current time in unix seconds (VAULT_FAKE_NOW is not consulted: tests
 * pass times explicitly where they need them). */
int64_t vault__now(void);

/* Parse record ids: 32 hex characters, or UUID text with dashes. */
int vault__id_parse(uint8_t out[VAULT_ID_BYTES], const char *text) VAULT_MUST_CHECK;
void vault__id_format(char out[VAULT_ID_HEX_SIZE], const uint8_t id[VAULT_ID_BYTES]);

/* A jurisdiction path: segments of [a-z0-9_-], separated by single '/',
 * no leading or trailing '/', at most VAULT_JURISDICTION_MAX bytes. */
int vault__jurisdiction_check(const char *path, const char *what) VAULT_MUST_CHECK;
/* The same check after dropping one trailing '/' (docs/policy-format.md):
 * writes the path as it is stored and compared into out (cap >=
 * VAULT_JURISDICTION_MAX + 1; out may be path). */
int vault__jurisdiction_norm(char *out, size_t cap, const char *path,
                             const char *what) VAULT_MUST_CHECK;
/* A name (user, role, ...): 1..VAULT_NAME_MAX-1 bytes of [A-Za-z0-9_.@-]. */
int vault__name_check(const char *name, const char *what) VAULT_MUST_CHECK;

#endif

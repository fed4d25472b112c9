/* grants_set: stored grants mapped onto the policy, and the live set
 * decisions use (grants_set.c, below op).  Not installed. */
#ifndef VAULT_GRANTS_SET_H
#define VAULT_GRANTS_SET_H

#include "vault_int.h"

/* A newline-separated list split into an array pointing into a copy. */
typedef struct strlist {
    char *buf;
    const char **items;
    size_t n;
} strlist;
void grants__strlist_free(strlist *l);
int grants__strlist_split(strlist *l, const char *text) VAULT_MUST_CHECK;

/* A store_principal with its strings its own (NULL: none). */
typedef struct owned_principal {
    char *iss, *sub, *app, *jti;
} owned_principal;

/* A stored grant with every string its own, and its vp_grant view for the
 * current policy. */
typedef struct owned_grant {
    vp_grant g;
    strlist fields, records, purposes;
    char *id, *state, *issuer, *issuer_role, *user, *role, *department, *jurisdiction;
    char *reason, *approver, *revoked_by, *revoke_reason;
    owned_principal issued_by, approved_by; /* schema 5; all NULL when none */
    int break_glass;
    int usable; /* every grade it names exists in the policy */
    int64_t created, changed;
} owned_grant;
/* Copy row s and map it onto policy p; release with grants__own_free. */
int grants__own(owned_grant *o, const vault_policy *p, const store_grant *s) VAULT_MUST_CHECK;
void grants__own_free(owned_grant *o);
/* Bump the grants version in the caller's write transaction, so every
 * handle rebuilds its set. */
int grants__bump(vault *v) VAULT_MUST_CHECK;

/* Rebuild v->grants from the database (active, unexpired grants). */
int grants__reload(vault *v) VAULT_MUST_CHECK;
/* Rebuild when another connection changed the grants (or force). */
int grants__sync(vault *v, int force) VAULT_MUST_CHECK;

/* 1 for the id of a break-glass grant. */
int grants__is_break_glass(const char *grant_id);

#endif

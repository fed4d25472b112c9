/* grants: live grants for decisions (the rest of the module is public API
 * in vault.h: vault_grant_*, vault_break_glass). */
#ifndef VAULT_GRANTS_H
#define VAULT_GRANTS_H

#include "vault_int.h"

/* Rebuild v->grants from the database (active, unexpired grants). */
int grants__reload(vault *v) VAULT_MUST_CHECK;
/* Rebuild when another connection changed the grants (or force). */
int grants__sync(vault *v, int force) VAULT_MUST_CHECK;
/* Inside policy apply's write transaction, before the commit: every
 * outstanding grant (active or pending, unexpired) that `newp` no longer
 * allows (grade ceiling, duration, recipients, a grade gone, an approval
 * now needed and never given) is suspended, one audit entry each.  *out
 * (malloc'ed, NULL when none) gets one "! suspended ID: why" line each. */
int grants__recheck(char **out, vault *v, const vault_policy *newp) VAULT_MUST_CHECK;
/* 1 for the id of a break-glass grant. */
int grants__is_break_glass(const char *grant_id);

#endif

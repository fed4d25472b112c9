/* grants: the live set for decisions (grants_set.c, below op) and the
 * officers' actions (grants.c: the public vault_grant_*, vault_break_glass
 * of vault.h, and the re-check on policy apply). */
#ifndef VAULT_GRANTS_H
#define VAULT_GRANTS_H

#include "grants_set.h"

/* ---- grants.c: officers' actions ---- */

/* Inside policy apply's write transaction, before the commit: every
 * outstanding grant (active or pending, unexpired) that `newp` no longer
 * allows (grade ceiling, duration, recipients, a grade gone, an approval
 * now needed and never given) is suspended, one audit entry each.  *out
 * (malloc'ed, NULL when none) gets one "! suspended ID: why" line each. */
int grants__recheck(char **out, vault *v, const vault_policy *newp) VAULT_MUST_CHECK;

#endif

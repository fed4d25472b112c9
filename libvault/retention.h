/* retention: the policy's retention schedules carried out
 * (vault_retention_plan, vault_retention_run; docs/erasure.md
 * "Retention", docs/policy-format.md "Retention").  Not installed.
 *
 * A plan reads every record once (one snapshot) and lists, per record,
 * what is due now: the whole record (a `record: true` schedule), some of
 * its fields (field and category schedules), or the remains of an erased
 * record whose key is already gone (an erase cut short).  A run computes
 * a plan, logs it, then carries it out in batches of at most `batch`
 * records, each its own write transaction: every record of a batch is
 * loaded again and carried out only when a fresh evaluation gives exactly
 * what the plan listed for it (else it is skipped, for the next run).  A
 * record is erased with record_erase (its key destroyed, committed before
 * the data), fields are removed with one row write; each is one "erase"
 * entry by the actor "retention" naming the schedule, never a value.  A
 * kill leaves every record whole, erased, or with exactly its due fields
 * removed; the next run continues with what is left.
 *
 * Retention is the vault's own duty, not an access: no rule decides it,
 * no reader's quota counts it, and opening a date or flag field for it
 * raises no canary alarm.  Who may start it is the caller's affair (any
 * embedded caller; through vaultd a data officer, or vaultd itself on its
 * schedule); the entries carry that principal and the user "retention". */
#ifndef VAULT_RETENTION_H
#define VAULT_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "vault_int.h"

/* Records carried out per write transaction by vault_retention_run. */
#define RETENTION_BATCH 100
/* Problem entries written for one plan (the rest are counted). */
#define RETENTION_PROBLEMS_LOGGED 100

/* Plan at time `now` (unix seconds; vault_retention_plan passes the
 * clock) and log it; *out as vault_retention_plan describes. */
int retention__plan(char **out, vault *v, int64_t now, int as_json) VAULT_MUST_CHECK;
/* Plan at `now` and carry it out in batches of `batch` records;
 * max_batches > 0 stops after that many batches, as a kill would (tests).
 * Returns 0 when done, 1 when stopped at max_batches, or a negative
 * VAULT_E* code (batches committed before it stay committed). */
int retention__run(char **out, vault *v, int64_t now, size_t batch, size_t max_batches,
                   int as_json) VAULT_MUST_CHECK;

#endif

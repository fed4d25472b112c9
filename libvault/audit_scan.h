/* audit_scan: reading a stretch of the log for a count or a summary
 * (audit_anomaly.c, audit_summary.c), trusting only what checks.
 *
 * The stored rows carry unsigned copies (the report indexes' user and
 * record id, the flags) and each row's chain head; a count of people's
 * accesses must not rest on them.  audit__scan_checked re-hashes every
 * entry it hands out and chains it to the one before (head_n =
 * SHA-256(0x02 | head_{n-1} | leaf_n), docs/audit-format.md), up to the
 * newest entry, whose head the store's MAC'd audit state vouches for: an
 * entry changed, removed or put in (by someone with the database key)
 * breaks the chain or that head, and the scan fails with VAULT_EINTEGRITY
 * instead of counting it.  Both calls run in the caller's read
 * transaction. */
#ifndef VAULT_AUDIT_SCAN_H
#define VAULT_AUDIT_SCAN_H

#include <stdint.h>

#include "vault_int.h"

/* The storage position of the first entry whose signed time is at or
 * after t_us (the log is appended in time order): a binary search that
 * decodes O(log n) entries; *out is one past the newest when none is. */
int audit__first_at(int64_t *out, vault *v, int64_t t_us) VAULT_MUST_CHECK;

/* Call fn (store_audit_fn: 0 goes on, > 0 stops, < 0 fails) for every
 * entry from position `first` (>= 1) to the newest, each checked against
 * the chain from the stored head of the entry before `first` (32 zero
 * bytes for the first entry), and at the end the newest head against the
 * MAC'd audit state.  fn may have been called for entries before a
 * failure is found further on: a caller counts into its own state and
 * uses it only when this returns VAULT_OK.  fn stopping early (> 0)
 * skips the end check: only for callers that need no more than a probe. */
int audit__scan_checked(vault *v, int64_t first, store_audit_fn fn, void *arg) VAULT_MUST_CHECK;

/* The same in the log named (NULL or "": the city log; docs/postgresql.md
 * "Per-shard chains"). */
int audit__first_at_in(int64_t *out, vault *v, const char *log, int64_t t_us) VAULT_MUST_CHECK;
int audit__scan_checked_in(vault *v, const char *log, int64_t first, store_audit_fn fn,
                           void *arg) VAULT_MUST_CHECK;
/* For the city log and then every shard log with entries (a store that
 * keeps them), each(arg, log, first): first the position of its first
 * entry at or after t_us (audit__first_at_in). */
int audit__since_every_log(vault *v, int64_t t_us,
                           int (*each)(void *arg, const char *log, int64_t first),
                           void *arg) VAULT_MUST_CHECK;

#endif

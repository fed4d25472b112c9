/* audit_claims: the shard logs' heads that the city log claims, with no
 * database (docs/audit-format.md §5 "Shard logs").  A log_heads entry of
 * the city log holds, in its detail, one line per shard log,
 * "SIZE ROOTHEX LOG\n": the size of that log's tree and its Merkle root
 * (64 lowercase hex digits), the log's name last.  The city checkpoints
 * that cover the entry cover those heads, so a verifier checks each shard
 * log against every head claimed for it.  Used by verification in the
 * vault (audit_api.c), the export verifier (audit_export.c) and the log
 * layer that writes the claims (audit_log.c). */
#ifndef VAULT_AUDIT_CLAIMS_H
#define VAULT_AUDIT_CLAIMS_H

#include "audit_format.h"

#define AF_ACTION_LOG_HEADS "log_heads" /* the action of a claiming entry */
#define AF_LOG_NAME_MAX 255             /* bytes in a shard log's name */
#define AF_CLAIMS_PER_ENTRY 512         /* lines one log_heads entry holds at most */

/* Append one claim line for (log, size, root) to the text at *text (len
 * bytes used of cap, grown with vault__grow; always NUL-terminated). */
int af_claim_line(char **text, size_t *len, size_t *cap, const char *log, uint64_t size,
                  const uint8_t root[32]) VAULT_MUST_CHECK;

/* The claims found so far, as checkpoints the shard verifiers check
 * (af_checkpoint.claimed set; origin: the log's name; time 0).  bad is
 * set, and bad_pos names the entry, at the first log_heads entry whose
 * detail does not parse. */
typedef struct af_claims {
    af_checkpoint *c;
    size_t n, cap;
    int bad;
    uint64_t bad_pos;
} af_claims;

/* A city-log entry at pos (its bytes; it need not decode: a damaged entry
 * is the verifier's finding): when it is a log_heads entry whose outcome
 * is ok, its claims are kept.  A detail with a line that does not parse,
 * or that names one log twice, is bad (nothing of it kept).
 * VAULT_ENOMEM is the only error. */
int af_claims_take(af_claims *l, uint64_t pos, const uint8_t *entry, size_t len) VAULT_MUST_CHECK;

/* Sort by log name (bytes, as strcmp) then size; do it once, after the
 * city log. */
void af_claims_sort(af_claims *l);

/* Walk the sorted claims log by log, in ascending order of name, with
 * *cursor starting at 0: the claims of `log` (*n of them, sorted by size,
 * for af_verifier_init; NULL and 0 when there are none).  A claimed log
 * that sorts before `log` (log NULL: any left, at the end of the walk) was
 * not met, so it is missing from the log's source: the first such goes to
 * r as "rolled back", `source` naming where it is missing ("the store",
 * "the export"), unless r already holds a finding. */
const af_checkpoint *af_claims_next(af_claims *l, size_t *cursor, const char *log, size_t *n,
                                    af_verify_result *r, const char *source);

/* After a shard log's finding in r: put "log NAME: " before its message,
 * keeping as much of the finding as fits. */
void af_verify_in_log(af_verify_result *r, const char *log);

void af_claims_free(af_claims *l);

#endif

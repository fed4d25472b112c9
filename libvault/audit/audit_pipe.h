/* audit_pipe: verification on two threads (docs/audit-format.md section 5,
 * "Two threads").  The caller reads the log (the SQLCipher scan, or an
 * export's lines) and queues each entry; a worker thread checks, hashes
 * and chains them through an af_verifier.  The result is the one the
 * af_verifier would give fed the same entries in the same order on one
 * thread: the worker stops feeding at the first finding other than
 * "missing", exactly where verify_fn's scan stops.
 *
 * Memory is bounded: AF_PIPE_BATCHES batches of AF_PIPE_BATCH_BYTES
 * bytes (and AF_PIPE_BATCH_ITEMS entries) are in flight at most.  When
 * the worker can't be started, entries are verified on the caller's
 * thread as they are queued (same result, one core). */
#ifndef VAULT_AUDIT_PIPE_H
#define VAULT_AUDIT_PIPE_H

#include "audit_format.h"

#define AF_PIPE_BATCHES 4
#define AF_PIPE_BATCH_BYTES (1u << 20)
#define AF_PIPE_BATCH_ITEMS 2048

typedef struct af_pipe af_pipe;

/* Start verifying into *ver (initialised by the caller, af_verifier_init
 * or af_verifier_resume; it must stay put until af_pipe_finish).
 * VAULT_ENOMEM when the batches can't be allocated. */
int af_pipe_start(af_pipe **out, af_verifier *ver) VAULT_MUST_CHECK;

/* Queue one entry (copied).  With seq_from_entry, the sequence number is
 * the one inside the entry's bytes (af_entry_check), or `seq` (the
 * storage position) when they don't parse, as the in-vault scan does;
 * else `seq` is the number the export line claims.  stored_head may be
 * NULL (none stored).  Returns 1 once the worker has stopped on a
 * finding (the caller may stop reading), else 0.  An entry longer than
 * half a batch (no valid one is: AF_ENTRY_MAX) is verified on the
 * caller's thread, in its place in the order. */
int af_pipe_push(af_pipe *p, uint64_t seq, int seq_from_entry, const uint8_t *entry, size_t len,
                 const uint8_t *stored_head);

/* Wait until the worker has verified every entry queued so far; the
 * caller may then read *ver (and feed it directly) until its next push. */
void af_pipe_drain(af_pipe *p);

/* 1 once the worker has stopped on a finding. */
int af_pipe_stopped(af_pipe *p);

/* Wait until every queued entry has been fed to the verifier, stop the
 * worker and free p (NULL is a no-op).  *ver then holds the result. */
void af_pipe_finish(af_pipe *p);

#endif

/* rotate: data-key rotation for one grade (vault_key_rotate).  Not
 * installed.  The procedure and its guarantees are in docs/key-rotation.md. */
#ifndef VAULT_ROTATE_H
#define VAULT_ROTATE_H

#include <stddef.h>

#include "vault_int.h"

/* Fields re-encrypted per write transaction by vault_key_rotate. */
#define ROTATE_BATCH 500

/*
 * Rotate `grade`'s data key on v.  Takes the handle's lock for the whole
 * run (the caller must not hold it, nor have a transaction open).
 *
 *  1. One write transaction: when the grade has no key yet, create version
 *     1 and stop.  When an earlier rotation is unfinished (fields of the
 *     grade still sealed under a version below the newest, or a version
 *     below the newest not yet retired), resume it with the newest version
 *     as the target; otherwise create version newest+1 as the target.
 *     Logged ("key_rotate": created or resumed).
 *  2. Batches of at most `batch` records (each with all its fields of
 *     the grade), each its own write transaction:
 *     open each stale field under its own version, seal it under the
 *     target, store it back.  progress(done, total, arg) (may be NULL)
 *     runs after every committed batch and once at the end; total is the
 *     number of stale fields counted in step 1.  It runs under the lock:
 *     it must not call back into v.
 *  3. One write transaction: with no stale field left, retire every
 *     version below the target.  Logged ("key_rotate": retired).
 *
 * max_batches > 0 stops after that many batches, before step 3, as an
 * interruption would (tests use it); 0 means no limit.
 *
 * Returns 0 when the rotation is complete, 1 when it stopped at
 * max_batches (it can be resumed), or a negative VAULT_E* code:
 * VAULT_EINVALID for a grade the active policy does not declare,
 * VAULT_EINTEGRITY when a stored ciphertext fails to open (the message
 * names the record and field; the batch is rolled back, the failure is
 * logged, and no key is retired), VAULT_EBUSY when another writer kept
 * the database locked past the busy timeout.  Batches committed before a
 * failure stay committed; running again resumes.
 */
int rotate__run(vault *v, const char *grade, size_t batch, size_t max_batches,
                vault_progress_fn progress, void *arg) VAULT_MUST_CHECK;

#endif

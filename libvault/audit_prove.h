/* audit_prove.h: the proof maker of audit_prove.c for the other public
 * calls on the log (audit_witness.c: the consistency proofs a witness
 * asks for).  Not installed. */
#ifndef VAULT_AUDIT_PROVE_H
#define VAULT_AUDIT_PROVE_H

#include <stdint.h>

#include "vault_int.h"

/* A proof from the stored log in one read snapshot of its own (the
 * caller holds the handle and no transaction), every entry up to the
 * size checked as vault_audit_verify checks it; not logged.  kind
 * VAULT_PROOF_INCLUSION: (a, b) = (seq, size); VAULT_PROOF_CONSISTENCY:
 * (from, to); size or to 0: the newest signed checkpoint's size. */
int audit__prove_local(vault_proof *out, vault *v, int kind, uint64_t a,
                       uint64_t b) VAULT_MUST_CHECK;

/* An embedded vault's own submission (docs/witness.md): after a call
 * that committed a checkpoint, when the policy's witnesses give URLs and
 * vault_set_witness_auto did not turn it off, submit the newest
 * checkpoint with a short timeout; failures are dropped (audit_witness.c).
 * The caller holds neither the handle nor a transaction. */
void audit__witness_auto(vault *v);

#endif

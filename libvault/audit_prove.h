/* audit_prove.h: the proof maker of audit_prove.c for the other public
 * calls on the log (audit_witness.c: the consistency proofs a witness
 * asks for).  Not installed. */
#ifndef VAULT_AUDIT_PROVE_H
#define VAULT_AUDIT_PROVE_H

#include <stdint.h>

#include "audit/audit_format.h"
#include "vault_int.h"

/* The stored checkpoints of one read snapshot, each checked as
 * vault_audit_verify checks them (signed by this vault's key, under the
 * size its row names): audit__cps_fn is the store_checkpoint_scan
 * callback; audit__cps_sorted sorts them by size and gives how many are
 * at most `size`.  origin and pk are the caller's. */
typedef struct audit_cps {
    const char *origin;
    const uint8_t *pk;
    af_checkpoint *cps;
    size_t n, cap;
    uint64_t newest; /* the largest checkpoint size (0: none) */
} audit_cps;
int audit__cps_fn(void *arg, uint64_t size, const char *note, size_t len) VAULT_MUST_CHECK;
size_t audit__cps_sorted(audit_cps *l, uint64_t size);

/* One entry as a store scan gives it (store_audit_fn), through the
 * verifier (its bytes, sequence, stored chain head and the checkpoints'
 * roots): *seq (its sequence number, or its position when it doesn't
 * decode) and its leaf hash.  VAULT_EINTEGRITY with the verifier's
 * finding ("... ; run audit verify"). */
int audit__entry_verified(af_verifier *ver, int64_t pos, const uint8_t *entry, size_t len,
                          const uint8_t *head, size_t head_len, uint64_t *seq,
                          uint8_t leaf[32]) VAULT_MUST_CHECK;

/* A proof from the stored log in one read snapshot of its own (the
 * caller holds the handle and no transaction), every entry up to the
 * size checked as vault_audit_verify checks it; not logged.  kind
 * VAULT_PROOF_INCLUSION: (a, b) = (seq, size); VAULT_PROOF_CONSISTENCY:
 * (from, to); size or to 0: the newest signed checkpoint's size. */
int audit__prove_local(vault_proof *out, vault *v, int kind, uint64_t a,
                       uint64_t b) VAULT_MUST_CHECK;
/* The same for an entry of `log` (NULL or "": the city log; a shard log:
 * inclusion only, in two levels: vault_audit_prove_in). */
int audit__prove_local_in(vault_proof *out, vault *v, const char *log, int kind, uint64_t a,
                          uint64_t b) VAULT_MUST_CHECK;

/* An embedded vault's own submission (docs/witness.md): after a call
 * that committed a checkpoint, when the policy's witnesses give URLs and
 * vault_set_witness_auto did not turn it off, submit the newest
 * checkpoint with a short timeout; failures are dropped (audit_witness.c).
 * The caller holds neither the handle nor a transaction. */
void audit__witness_auto(vault *v);

#endif

/* audit_proof: RFC 6962 inclusion and consistency proofs made from a
 * stream of leaf hashes, their JSON form and their offline check, with no
 * database (the vault side is libvault/audit_prove.c).  Leaf indexes here
 * are 0-based, as in RFC 6962 and af_inclusion_verify; the log's sequence
 * numbers (1-based) appear only in vault_proof.  docs/audit-format.md,
 * "Proofs". */
#ifndef VAULT_AUDIT_PROOF_H
#define VAULT_AUDIT_PROOF_H

#include "audit_format.h"

/* A proof is the Merkle Tree Hashes of O(log size) disjoint ranges of
 * leaves (RFC 6962 section 2.1.1 PATH, section 2.1.2 SUBPROOF).  The
 * prover plans the ranges first, then takes the leaves 0 .. size-1 once,
 * in order, hashing each range as it passes: one pass, O(log size)
 * memory (the ranges, one af_merkle per range in progress and one for
 * the whole tree). */
#define AF_PROOF_RANGES VAULT_PROOF_HASHES_MAX

typedef struct af_prover {
    int kind;                 /* VAULT_PROOF_* */
    uint64_t index;           /* inclusion: the leaf (0-based) */
    uint64_t from;            /* consistency: size1 */
    uint64_t size;            /* leaves to take */
    uint64_t lo[AF_PROOF_RANGES], hi[AF_PROOF_RANGES]; /* range k = leaves [lo, hi) */
    size_t n;                 /* ranges, in proof order */
    size_t order[AF_PROOF_RANGES]; /* range numbers by lo */
    size_t cur;               /* next range in `order` */
    af_merkle part, all;
    uint64_t pushed;          /* leaves taken */
    uint8_t hashes[AF_PROOF_RANGES][32]; /* hashes[k]: MTH of range k */
    uint8_t leaf[32];         /* inclusion: leaf `index` */
    uint8_t from_root[32];    /* consistency: root of the first `from` leaves */
    uint8_t root[32];         /* root of all `size` leaves, once done */
} af_prover;

/* Plan the proof of leaf `index` in the tree of `size` leaves.
 * VAULT_EINVALID unless index < size. */
int af_prover_inclusion(af_prover *p, uint64_t index, uint64_t size) VAULT_MUST_CHECK;
/* Plan the proof that the tree of size2 leaves extends the first size1.
 * VAULT_EINVALID unless size1 <= size2. */
int af_prover_consistency(af_prover *p, uint64_t size1, uint64_t size2) VAULT_MUST_CHECK;
/* An inclusion proof planned for leaf `index`, resumed there: `first` is
 * the tree of the first `index` leaves (an af_merkle that took them), so
 * every range before the leaf (one of first's perfect subtrees: RFC 6962
 * puts only such on the left of a path) comes from it, and the leaves
 * from `index` on follow with af_prover_push.  This lets one pass over a
 * log make the proof of an entry it only recognises when it reaches it.
 * VAULT_EINVALID unless p is such a fresh plan and first->size == index. */
int af_prover_resume(af_prover *p, const af_merkle *first) VAULT_MUST_CHECK;
/* Take the next leaf (leaves beyond `size` are ignored).  Returns 1 once
 * all `size` leaves are in (the proof is then complete), else 0. */
int af_prover_push(af_prover *p, const uint8_t leaf[32]);
/* 1 when all leaves are in. */
int af_prover_done(const af_prover *p);
/* Copy the finished proof into *out (kind, seq = index + 1 or from, size,
 * leaf or from_root, root, hashes); the notes stay as they are. */
void af_prover_result(vault_proof *out, const af_prover *p);

/* The JSON object of vault_proof_json / vault_proof_parse. */
int af_proof_json(char **out, const vault_proof *p) VAULT_MUST_CHECK;
int af_proof_parse(vault_proof *out, const char *json, size_t len) VAULT_MUST_CHECK;
/* vault_proof_clear: what *p holds freed, *p zeroed. */
void af_proof_free(vault_proof *p);

/* vault_proof_check with the verifier key parsed (name, pk). */
int af_proof_check(const vault_proof *p, const char *name, const uint8_t pk[32],
                   const char *const *notes, size_t nnotes) VAULT_MUST_CHECK;

/* Several inclusion proofs into one tree from one pass over its leaves
 * (a resident's bundle: every entry of a record).  The ranges of each
 * proof are planned with af_prover_inclusion; the distinct ranges of all
 * proofs are nodes of the same RFC 6962 tree, so one stack of subtree
 * roots (as af_merkle keeps, with each node's first leaf) meets every one
 * of them as it forms: one node hash per leaf, whatever the number of
 * proofs, and O(k log size) memory for k proofs. */
typedef struct af_batch_node {
    uint64_t lo, hi;   /* leaves [lo, hi) */
    uint8_t hash[32];  /* their Merkle Tree Hash, once formed */
} af_batch_node;

typedef struct af_batch {
    uint64_t size;            /* leaves to take */
    size_t nproofs;
    size_t *first;            /* proof j's ranges: ref[first[j] .. first[j + 1]) */
    size_t *ref;              /* indexes into node[], in PATH order */
    size_t *leaf;             /* proof j's own leaf: node[leaf[j]] */
    af_batch_node *node;      /* distinct ranges sorted by (hi, hi - lo): the order they form */
    size_t nnodes, cur;
    af_batch_node stack[65];  /* perfect subtrees not yet merged, largest first */
    size_t sp;
    uint64_t pushed;
    uint8_t root[32];
} af_batch;

/* Plan inclusion proofs of the leaves idx[0..n) (0-based, each < size) in
 * the tree of `size` leaves.  VAULT_EINVALID for an index not below size,
 * VAULT_ENOMEM.  Free with af_batch_free. */
int af_batch_init(af_batch *b, const uint64_t *idx, size_t n, uint64_t size) VAULT_MUST_CHECK;
/* Take the next leaf (beyond `size`: ignored); 1 once all are in. */
int af_batch_push(af_batch *b, const uint8_t leaf[32]);
/* Proof j (0-based, in the order of idx): its leaf, path hashes (*nhashes
 * of them, at most VAULT_PROOF_HASHES_MAX) and the root.  VAULT_EINVALID
 * before all leaves are in. */
int af_batch_proof(uint8_t leaf[32], uint8_t hashes[][32], size_t *nhashes, const af_batch *b,
                   size_t j) VAULT_MUST_CHECK;
void af_batch_free(af_batch *b);

#endif

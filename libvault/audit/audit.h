/* audit: the hash-chained log inside the vault (audit_log.c; the public
 * calls on it are in audit_api.c).  Entries are collected in the caller's
 * write transaction and sealed at its commit, so an operation and its
 * entry commit together or not at all.  Formats: audit_format.h, docs/audit-format.md. */
#ifndef VAULT_AUDIT_H
#define VAULT_AUDIT_H

#include "audit_bundle.h"
#include "audit_claims.h"
#include "audit_format.h"
#include "crypto.h"
#include "vault_int.h"

/* One entry collected in the current transaction, sealed at commit. */
typedef struct audit_pending {
    uint8_t *enc;    /* encoded with sequence number 0 until sealed */
    size_t len;
    uint8_t head[32];/* the chain head after it, once sealed */
    int has_record;
    uint8_t record_id[VAULT_ID_BYTES];
    char user[VAULT_NAME_MAX]; /* the comparison form reports file it under */
    unsigned flags;
} audit_pending;

/* An entry whose commit was refused because its principal's credential
 * expired (audit_tx_due): what the refusal logged after the rollback
 * says of it. */
typedef struct audit_late {
    char user[VAULT_NAME_MAX], role[VAULT_NAME_MAX], department[VAULT_NAME_MAX];
    char jurisdiction[VAULT_JURISDICTION_MAX + 1], purpose[VAULT_NAME_MAX];
    char action[VAULT_NAME_MAX];
    vault__who who;
    int has_record;
    uint8_t record_id[VAULT_ID_BYTES];
} audit_late;

/* The audit log's tail as the current write transaction sees it (audit_log.c).
 * Entries are collected as the operation runs (audit_append) and sealed
 * at commit (audit_tx_flush; a long transaction also every
 * AUDIT_PENDING_BYTES), while the store holds the log head: each
 * gets the next sequence number, its leaf and chain hash, and goes into
 * the Merkle state; due checkpoints are signed; the tree state is written
 * back onto the newest entry.  Forgotten at COMMIT or ROLLBACK: a rolled-back operation leaves
 * no entry (its refusal is logged in a transaction of its own). */
/* One log's part of the tail (docs/postgresql.md "Per-shard chains"): the
 * city log's ("") or a shard's, each its own chain, positions, Merkle
 * state and collected entries. */
typedef struct audit_chain {
    char log[STORE_LOG_MAX + 1]; /* "" the city log */
    int valid;       /* head and tree loaded in this transaction */
    int locked;      /* ... with the head held (chain_load) */
    int dirty;       /* entries sealed or trust changed: the state must be saved */
    int64_t pos;     /* storage position of the newest entry (0: none) */
    int64_t state_pos; /* the entry the store's tree state is on (0: none) */
    uint64_t seq;    /* its sequence number */
    uint8_t head[32];/* the chain head after it */
    af_merkle tree;
    audit_pending *p;/* collected, p[sealed..np) not yet sealed */
    size_t np, cap, sealed;
} audit_chain;

typedef struct audit_tail {
    int broken;      /* sealing failed half-way: the commit must fail */
    int sealing;     /* seal_pending is collecting a log_heads entry */
    audit_chain city;   /* the city log: checkpoints, the trust digest */
    audit_chain *logs;  /* the shard logs appended to, by name (byte order) */
    size_t nlogs, logs_cap;
    size_t bytes;    /* encoded bytes collected and not yet sealed, every log */
    size_t city_bytes; /* ... of them the city log's */
    int crossed;     /* a mid-transaction seal crossed a claim's interval */
    int trust_known; /* the city log's tree state carries the trust digest */
    int trust_mark;  /* recompute it at this transaction's commit */
    uint8_t trust[32];
    /* A checkpoint signed in this transaction: its size and root go to the
     * keys file's anchor once the transaction committed. */
    int signed_dirty;
    uint64_t signed_size;
    uint8_t signed_root[32];
    /* The earliest not_after of an entry collected with outcome ok (an
     * access or a change; refusals release nothing and aren't held), and
     * that entry; 0: none.  late: the one a refused commit left to log,
     * kept past the transaction's end. */
    int64_t deadline;
    audit_late held;
    int late_set;
    audit_late late;
} audit_tail;

/* The action of the city log's entries that claim shard heads. */
#define AUDIT_LOG_HEADS AF_ACTION_LOG_HEADS /* audit/audit_claims.h */

/* A transaction that collects more than this seals what it has at once
 * (the heads of the logs it sealed are then held until it ends; the city
 * log's entries, where the store keeps shard logs, wait for the commit
 * up to as much again: audit_log.c seal_pending): memory stays bounded. */
#define AUDIT_PENDING_BYTES (4u << 20)

/* A signed checkpoint is written automatically every this many entries,
 * and on close when entries were added since the last one. */
#define AUDIT_CHECKPOINT_EVERY 1000

/* Create the checkpoint signing key (in vault_create's transaction). */
int audit_keys_create(vault *v) VAULT_MUST_CHECK;

/* Fill the actor of an entry and its principal from a session, or from
 * the vault's actor when s is NULL, and the action; everything else zero.
 * The entry borrows the strings of s (or v). */
void audit_entry_init(af_entry *e, const vault *v, const vault_session *s, const char *action);
/* Decode the stored entry at pos for a report or a count (*storage: free
 * it); a damaged one is VAULT_EINTEGRITY naming its position. */
int audit_entry_read(af_entry *e, void **storage, int64_t pos, const uint8_t *entry,
                     size_t len) VAULT_MUST_CHECK;

/* Collect e in the caller's write transaction (time and policy hash are
 * set here, the sequence number when it is sealed at commit); checkpoints
 * that fall due are signed then. */
int audit_append(vault *v, af_entry *e) VAULT_MUST_CHECK;

/* Transaction hooks (op.c installs them on the store): seal the collected
 * entries and write the tree state before COMMIT; forget the tail at its
 * end.  audit_tx_flush may also run earlier (a checkpoint asked for now
 * covers every entry collected before it). */
int audit_tx_flush(vault *v) VAULT_MUST_CHECK;
void audit_tx_forget(vault *v);
/* After a transaction ended: when it committed a checkpoint, write its
 * size and root into the keys file's anchor (docs/keyslots.md section
 * 10).  A failure leaves the anchor one checkpoint behind, which the
 * checks allow; it is never ahead of the store. */
void audit_anchor_sync(vault *v, int committed);
/* Write what audit_anchor_sync left pending into the keys file; the
 * caller holds a write transaction (the lock every writer of the keys
 * file holds), which it then ends.  Failures are dropped. */
void audit_anchor_flush(vault *v);
/* At open: the store must extend the last checkpoint the keys file's
 * anchor recorded.  VAULT_EINTEGRITY ("rolled back") when the store is
 * older than the anchor or holds another history.  A refusal here (and
 * one before signing a checkpoint) is counted in the anchor's refusal
 * record when the caller's transaction holds the write lock
 * (docs/keyslots.md section 10); the error stays the refusal's. */
int audit_anchor_check(vault *v) VAULT_MUST_CHECK;
/* The size of the last checkpoint this vault signed (*found 0 when the
 * record is absent: nothing signed since it was introduced). */
int audit__signed_size(uint64_t *size, int *found, vault *v) VAULT_MUST_CHECK;

/* Before COMMIT (op.c's hook, ahead of audit_tx_flush): VAULT_EAUTH
 * when an entry collected in the transaction records an access for a
 * principal whose not_after is before `now`; the commit must not happen
 * (the store rolls back) and the entry is kept for audit_late_take. */
int audit_tx_due(vault *v, int64_t now) VAULT_MUST_CHECK;
/* After such a refused commit: 1 and *out filled (once), else 0. */
int audit_late_take(audit_late *out, vault *v);
/* Log the refusal of `l` (outcome denied, no deadline) in the caller's
 * write transaction. */
int audit_late_append(vault *v, const audit_late *l) VAULT_MUST_CHECK;

/* The trust digest (store_trust_digest: the grant rows and the active
 * policy row) is kept in the MAC'd tree state, written whenever a
 * transaction changed a grant or the policy.  audit_trust_check compares
 * the store's rows with it (in the caller's transaction):
 * VAULT_EINTEGRITY when they differ (a row put back or
 * removed); a vault whose tree state has none yet passes.
 * audit_trust_mark asks the current write transaction to record it
 * (a migrated vault, at the open that logs the migration). */
int audit_trust_check(vault *v) VAULT_MUST_CHECK;
void audit_trust_mark(vault *v);

/* Free the handle's tail (at vault_close). */
void audit_tail_free(vault *v);

/* Semi-private to the audit folder (audit_log.c, used by audit.c). */
void audit__origin(char *out, size_t cap, const vault *v);
/* Master-key rotation: the meta row holding the wrapped checkpoint key,
 * unwrapped with v's keys and wrapped again under `to`'s (the signing key
 * itself stays: the log's public key does not change). */
#define AUDIT_META_SK "audit_sk"
int audit__sk_rewrap(uint8_t *out, size_t cap, size_t *out_len, const vault *v,
                     const keyring *to, const uint8_t *wrapped, size_t len) VAULT_MUST_CHECK;
/* The audit state `state` (the store's row of the newest entry), whose
 * trust digest must be `from` (VAULT_EINTEGRITY otherwise), given the
 * trust digest `to` of the same rows tagged under another master key.
 * A state written before the trust digest is left as it is. */
int audit__state_retrust(uint8_t *state, size_t len, const uint8_t from[32],
                         const uint8_t to[32]) VAULT_MUST_CHECK;
int audit__load_pk(uint8_t pk[VC_SIGN_PUBLICKEYBYTES], vault *v) VAULT_MUST_CHECK;
/* The kept tree state; *missing set (VAULT_EINTEGRITY) when the newest
 * entry carries none. */
int audit__tree_load(af_merkle *m, int *missing, vault *v) VAULT_MUST_CHECK;
/* *out 1 when shard logs have entries no log_heads claim covers (a
 * checkpoint is due: audit_checkpoint claims them). */
int audit__heads_behind(int *out, vault *v) VAULT_MUST_CHECK;
/* The same for the log named (NULL or "": the city log's). */
int audit__tree_load_in(af_merkle *m, int *missing, vault *v, const char *log) VAULT_MUST_CHECK;
/* The tree of the checkpoint of `size` as the vault kept it when it
 * signed it (audit_log.c "the tree at each checkpoint"): its subtree
 * roots, the storage position of its last entry and the chain head after
 * it.  *found 0 when none is kept (a checkpoint signed before they were);
 * VAULT_EINTEGRITY when the row fails its MAC or is damaged.  The caller
 * must compare the roots' fold with a root it trusts. */
int audit__checkpoint_state(af_merkle *tree, int64_t *pos, uint8_t head[32], int *found, vault *v,
                            uint64_t size) VAULT_MUST_CHECK;
/* One entry for a query on the log itself, in the caller's transaction. */
int audit__log_meta(vault *v, const char *action, int outcome, const char *detail) VAULT_MUST_CHECK;

/* key id | Ed25519 signature of a bundle statement by the checkpoint key
 * (the pinned one; audit_bundle.h). */
int audit__bundle_sign(uint8_t out[AF_BUNDLE_SIG_BYTES], vault *v, const char *text,
                       size_t len) VAULT_MUST_CHECK;

/* Sign and store a checkpoint of the whole log (caller's write
 * transaction).  *out_note may be NULL. */
int audit_checkpoint(char **out_note, vault *v) VAULT_MUST_CHECK;


#endif

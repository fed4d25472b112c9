/* audit: the hash-chained log inside the vault (audit_log.c; the public
 * calls on it are in audit.c).  Entries are appended in
 * the caller's write transaction, so an operation and its entry commit
 * together or not at all.  Formats: audit_format.h, docs/audit-format.md. */
#ifndef VAULT_AUDIT_H
#define VAULT_AUDIT_H

#include "audit_format.h"
#include "crypto.h"
#include "vault_int.h"

/* The audit log's tail as the current write transaction sees it (audit_log.c):
 * loaded from the database at the first append of a transaction, kept here
 * while it lasts, written back once just before COMMIT, forgotten at COMMIT
 * or ROLLBACK.  The write lock is held throughout, so no other connection
 * can append meanwhile. */
typedef struct audit_tail {
    int valid;       /* loaded in this transaction */
    int dirty;       /* entries appended: the tree state must be saved */
    int broken;      /* an append failed half-way: the commit must fail */
    int64_t pos;     /* storage position of the newest entry (0: none) */
    uint64_t seq;    /* its sequence number */
    uint8_t head[32];/* the chain head after it */
    af_merkle tree;
} audit_tail;

/* A signed checkpoint is written automatically every this many entries,
 * and on close when entries were added since the last one. */
#define AUDIT_CHECKPOINT_EVERY 1000

/* Create the checkpoint signing key (in vault_create's transaction). */
int audit_keys_create(vault *v) VAULT_MUST_CHECK;

/* Fill the actor of an entry from a session, or from the vault's actor
 * when s is NULL, and the action; everything else zero. */
void audit_entry_init(af_entry *e, const vault *v, const vault_session *s, const char *action);

/* Append e (seq, time and policy hash are set here) in the caller's write
 * transaction; writes a checkpoint when one is due. */
int audit_append(vault *v, af_entry *e) VAULT_MUST_CHECK;

/* Transaction hooks (vault.c installs them on the store): write the
 * kept tree state before COMMIT; forget the kept tail at its end. */
int audit_tx_flush(vault *v) VAULT_MUST_CHECK;
void audit_tx_forget(vault *v);

/* Free the handle's tail (at vault_close). */
void audit_tail_free(vault *v);

/* Semi-private to the audit folder (audit_log.c, used by audit.c). */
void audit__origin(char *out, size_t cap, const vault *v);
int audit__load_pk(uint8_t pk[VC_SIGN_PUBLICKEYBYTES], vault *v) VAULT_MUST_CHECK;
int audit__tree_load(af_merkle *m, vault *v) VAULT_MUST_CHECK;
/* One entry for a query on the log itself, in the caller's transaction. */
int audit__log_meta(vault *v, const char *action, int outcome, const char *detail) VAULT_MUST_CHECK;

/* Sign and store a checkpoint of the whole log (caller's write
 * transaction).  *out_note may be NULL. */
int audit_checkpoint(char **out_note, vault *v) VAULT_MUST_CHECK;


#endif

/* op: entering and leaving a public call on a handle, and the store
 * transaction hooks (op.c).  vault__enter, vault__leave, vault__exit and
 * vault__retired_free are declared in vault_int.h.  Not installed. */
#ifndef VAULT_OP_H
#define VAULT_OP_H

#include "vault_int.h"

/* Load the vault's active policy when it changed (or there is none yet). */
int op_load_policy(vault *v) VAULT_MUST_CHECK;
/* Install the transaction hooks on the handle's store. */
void op_attach_tx_hooks(vault *v);

/* Transactions.  Nothing else in the library begins, commits or rolls
 * back one (tests/layers checks it).  OP_READ is a read transaction,
 * OP_WRITE takes the write lock (and picks up what another connection
 * committed before it got the lock: see op.c). */
#define OP_READ 0
#define OP_WRITE 1
/* An audited read: reads without the write lock, its entries hold their
 * logs' heads from the seal at commit (store/backend.h STORE_TX_DEFERRED;
 * SQLCipher: a snapshot whose seal takes the write lock); op_commit fails
 * with VAULT_EBUSY when another connection changed the policy, grants or
 * keys meanwhile (SQLCipher: committed anything), and the caller starts
 * over (vault_record_get_batch, session.c: at most OP_AUDITED_TRIES times).
 * op.c itself retries nothing: any other VAULT_EBUSY (a lock not had in
 * time, a deadlock the backend's own bounded retries did not clear,
 * docs/postgresql.md) goes to the public call's caller. */
#define OP_AUDITED_READ 2
/* How many times an audited read is tried in a snapshot before it takes
 * the write lock from the start. */
#define OP_AUDITED_TRIES 3
/* A read for reports, verification and who-can: a snapshot that may be
 * taken on the vault's streaming standby (PostgreSQL, vault_standby)
 * once it has replayed every commit the primary had made when it began,
 * else on the primary (docs/postgresql.md "Standby reads").  Nothing may
 * be written in it: the call's audit entry goes in an OP_WRITE of its
 * own, before or after. */
#define OP_STANDBY_READ 3
int op_begin(vault *v, int kind) VAULT_MUST_CHECK;
int op_commit(vault *v) VAULT_MUST_CHECK;
/* Roll back the open transaction, if any. */
void op_rollback(vault *v);
/* 1 inside a transaction. */
int op_in_tx(const vault *v);

/* One audit entry for a query without a session (action, outcome, a
 * detail without values) in a write transaction of its own, committed
 * before the caller returns anything. */
/* Load the active policy and the live grants (force_grants: rebuild the
 * grant set even if its version did not change), in the caller's
 * transaction or in a snapshot of their own. */
int op_reload(vault *v, int force_grants) VAULT_MUST_CHECK;
/* Outside a transaction: what vault__enter does, again (the policy and
 * grants another connection committed since, loaded in a snapshot of
 * their own); an audited read that starts over calls it first. */
int op_refresh(vault *v) VAULT_MUST_CHECK;
int op_log_query(vault *v, const char *action, int outcome, const char *detail) VAULT_MUST_CHECK;
/* 1 for the codes that refuse a request (denied, invalid, over a limit,
 * not found, wrong state), which every call logs (DESIGN.md section 6). */
int op_is_refusal(int rc);
/* Roll back, log the refusal of `action` in a transaction of its own
 * (the session's principal, or the actor's when s is NULL; the record
 * when rid is set; detail "refused: <the message set>; request: ..."),
 * and return `code` with the message that was set.  If the entry can't
 * be written the call still fails, with the logging error. */
int op_refused(vault *v, vault_session *s, const char *action, const uint8_t *rid, int code,
               const char *request) VAULT_MUST_CHECK;
/* Write a checkpoint if entries were added since the last one (on close;
 * its own transaction; failures are the caller's to ignore). */
int op_checkpoint_if_needed(vault *v) VAULT_MUST_CHECK;

/* Queue an alarm of the current transaction: raised through the
 * handle's callback (vault_set_alarm) when it commits, dropped otherwise. */
int op_alarm_add(vault *v, const vault__alarm *a) VAULT_MUST_CHECK;

#endif

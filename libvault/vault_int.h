/* The vault handle and session structures, shared by the layers that act
 * on a handle (docs/architecture.md).  Not installed. */
#ifndef VAULT_VAULT_INT_H
#define VAULT_VAULT_INT_H

#include <pthread.h>
#include <stdint.h>

#include "keyring.h"
#include "keyslot.h"
#include "names.h"
#include "policy/policy.h"
#include "record.h"
#include "store/store.h"


struct vault_client; /* client/client.c */

struct vault {
    pthread_mutex_t lock; /* every public call on the handle holds it */
    /* Client mode (vault_connect): the connection to vaultd, and nothing
     * below is set (no keys, no store).  NULL for an embedded handle. */
    struct vault_client *remote;
    char *path;
    char *keys_path;
    /* path as messages and outputs show it: a password in a PostgreSQL
     * location replaced by *** (store_location_display) */
    char shown[512];
    uint8_t id[VAULT_ID_BYTES];
    keyring *keys;
    store *db;
    reckeys *rk;            /* the record-key store beside db (reckeys.h) */
    vault_policy *policy;   /* the active policy, reloaded when it changes */
    vp_grantset *grants;    /* live grants, rebuilt when they change (grants.c) */
    int64_t grants_version; /* meta "grants_version" the set was built from */
    int64_t policy_id;
    int64_t generation;     /* last seen store generation */
    /* A policy and grant set replaced inside a transaction (the refresh
     * after BEGIN): kept until that transaction ends, because the call
     * that began it may still hold pointers taken before. */
    vault_policy *retired_policy;
    vp_grantset *retired_grants;
    char actor[VAULT_NAME_MAX]; /* recorded for operations without a session */
    vault__who actor_who;   /* and its principal (vault_set_actor_as; else local) */
    int ready;              /* fully opened: close may write a checkpoint */
    int audited_begin;      /* op_begin is beginning an OP_AUDITED_READ */
    /* The audit key pinned in the keys sidecar (read at open; unknown for
     * a sidecar written before pinning that could not be pinned), and a
     * key the caller expects (vault_audit_pin). */
    ks_anchor anchor;
    int anchor_known;
    int anchor_pending;     /* a committed checkpoint the keys file doesn't have yet */
    uint64_t anchor_pending_size;
    uint8_t anchor_pending_root[32];
    uint8_t expect_pk[32];
    int expect_known;
    struct audit_tail *tail; /* audit_log.c, for the current transaction only */
    /* A checkpoint was committed since the last submission to witnesses
     * (audit_anchor_sync sets it); witness_manual: vault_set_witness_auto
     * turned the embedded vault's own submission off (vaultd does). */
    int witness_due;
    int witness_manual;
    /* Alarms of the current transaction (vault_set_alarm), raised when it
     * commits and dropped when it doesn't (op.c tx_at_end). */
    vault_alarm_fn alarm_fn;
    void *alarm_arg;
    struct vault__alarm *alarms;
    size_t nalarms;
    /* The decoy records' ids, sorted (canary.c), loaded with the policy. */
    uint8_t *canaries;
    size_t ncanaries;
    /* The record last loaded or created and the shard log its entries go
     * to (vault__route; route_log "" for none). */
    uint8_t route_id[VAULT_ID_BYTES];
    char route_log[STORE_LOG_MAX + 1];
};

/* One pending alarm (the strings copied: the session may be gone). */
#define VAULT__ALARMS_MAX 64
typedef struct vault__alarm {
    char kind[16]; /* "quota", "canary" */
    char name[VAULT_NAME_MAX], user[VAULT_NAME_MAX], role[VAULT_NAME_MAX];
    char department[VAULT_NAME_MAX], purpose[VAULT_NAME_MAX], record[VAULT_ID_HEX_SIZE];
    int64_t count, limit, per, time;
} vault__alarm;

struct vault_session {
    vault *v;
    char user[VAULT_NAME_MAX];
    char role[VAULT_NAME_MAX];
    char department[VAULT_NAME_MAX];
    char jurisdiction[VAULT_JURISDICTION_MAX + 1];
    char purpose[VAULT_NAME_MAX];
    vault__who who;         /* the principal its entries record */
    vp_subject subject;
};

/* Lock the handle, clear the thread's error, and pick up a policy another
 * process applied since the last call. */
int vault__enter(vault *v) VAULT_MUST_CHECK;
/* vault__enter for a call that reads only in audited reads (OP_AUDITED_READ,
 * then OP_WRITE): where those read the latest commits (store_deferred_fresh)
 * no refresh of its own, the begin of the first compares the generation
 * and the call starts over, reloaded, when it moved (op.c tx_after_begin):
 * a round trip less per audited read; else vault__enter. */
int vault__enter_audited(vault *v) VAULT_MUST_CHECK;
void vault__leave(vault *v);
/* Lock the handle and clear the thread's error, without the refresh: for
 * calls that change only the handle's own state (the actor), which must
 * not fail because the store can't be read just then. */
int vault__lock(vault *v) VAULT_MUST_CHECK;
/* The end of a public call that entered (entered = 1): roll back any
 * transaction still open (the call failed half-way), then unlock. */
void vault__exit(vault *v, int entered);
/* Free what a refresh inside the last transaction replaced (vault.c). */
void vault__retired_free(vault *v);

/* Where an entry about a record goes (docs/postgresql.md "Per-shard
 * chains"): where the store keeps shard logs, the log of the record's
 * shard (the first two segments of its jurisdiction, store_shard_len).
 * A call that has loaded a record (its row MAC checked) or created one
 * names it here; audit_append sends an entry about that record that names
 * no log of its own to that log (vault__routed), and any other entry to
 * the city log.  A route lasts until the call ends (vault__enter clears
 * it); a shard longer than a log's name (STORE_LOG_MAX) has none.  Where an entry is kept decides which chain and lock it
 * takes, not what it proves: every log is verified alike.  A no-op for a
 * store of one log. */
void vault__route(vault *v, const uint8_t id[VAULT_ID_BYTES], const char *jurisdiction);
/* The log vault__route named for record id, or NULL (the city log). */
const char *vault__routed(const vault *v, const uint8_t id[VAULT_ID_BYTES]);

/* ---- session.c, for other modules acting for a session ---- */

/* Decide with the vault's policy and live grants (fails closed). */
int session__decide(vp_decision *d, const vault_session *s, int action, const char *record_id,
                    const char *jurisdiction, const char *field);
/* Roll back the caller's transaction, log a refused attempt in one of its
 * own, and return `code` with the message that was set. */
int session__log_denial(vault_session *s, const char *action, const uint8_t *id,
                        const char *field, const vp_decision *d, int code);

/* The record layer's view of the handle. */
/* vault_open with the record-key store at rk_location instead of the one
 * beside path (vault_restore checks a copy against the live one). */
int vault__open_with_reckeys(vault **out, const char *path, const vault_secret *secret,
                             const char *rk_location) VAULT_MUST_CHECK;

/* vault_open with the master key already unwrapped (master-key rotation
 * opens its snapshot and its new copy so); rk_location as above (NULL:
 * the store beside path); keys_path (may be NULL) the keys file instead
 * of the one the location names. */
int vault__open_master(vault **out, const char *path, const uint8_t *master,
                       const uint8_t id[VAULT_ID_BYTES], const char *rk_location,
                       const char *keys_path) VAULT_MUST_CHECK;
/* Finish a master-key rotation of the vault file at path that committed
 * (its new keys file is in place, k holds its keys) but whose new stores
 * were not yet renamed into place (rotate_master.c); nothing when there
 * is none.  Test builds set vault__rotate_master_stop to a step number to
 * be killed there, or vault__rotate_master_hook to be called at each step. */
int vault__rotate_master_recover(const char *path, const keyring *k) VAULT_MUST_CHECK;
/* The same for a PostgreSQL vault, before its keys file is unlocked: the
 * swap committed (the store opens with the keys of KEYS.rotating, which
 * `secret` unlocks) but KEYS.rotating was not yet renamed over KEYS. */
int vault__rotate_master_recover_keys(const char *location, const char *keys_path,
                                      const vault_secret *secret) VAULT_MUST_CHECK;
extern int vault__rotate_master_stop;
extern void (*vault__rotate_master_hook)(int step);
/* Test builds: a PostgreSQL rotation's commit that succeeded is reported
 * as lost (the reply never came). */
extern int vault__rotate_master_lose_reply;

/* The whole log verifies (chain, tree, signatures, checkpoints, the
 * anchor); missing cosignatures (unwitnessed) are let through: a copy or a
 * rotation carries the same checkpoints to be cosigned.  Otherwise
 * VAULT_EINTEGRITY "WHAT audit log does not verify (class: ...)"
 * (migrate.c; vault_migrate and vault_key_rotate_master). */
int vault__log_verifies(vault *v, const char *what) VAULT_MUST_CHECK;

/* File helpers (backup.c).  VAULT__PATH_MAX bounds the paths they build. */
#define VAULT__PATH_MAX 4096
int vault__path_with(char *out, size_t cap, const char *base, const char *suffix) VAULT_MUST_CHECK;
int vault__exists(const char *path);
int vault__sync_dir_of(const char *path) VAULT_MUST_CHECK;
/* A new file `to` (O_EXCL, mode 0600) with the bytes of the keys file `from`. */
int vault__keys_copy(const char *from, const char *to) VAULT_MUST_CHECK;

/* The same as a pointer to a compound literal (tests). */
#define VAULT__RX(v) (&(record_ctx){(v)->id, (v)->keys, (v)->db, (v)->policy, (v)->rk})

static inline record_ctx vault__record_ctx(const vault *v)
{
    record_ctx c = {v->id, v->keys, v->db, v->policy, v->rk};
    return c;
}

#endif

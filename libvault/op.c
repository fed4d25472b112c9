/* op: the unit of work (docs/architecture.md, "The unit of work"):
 * entering a public call on a handle (its lock, and the policy and grants
 * another connection committed meanwhile), every transaction's begin
 * (snapshot, write, audited read), commit and rollback, leaving a call
 * (rolling back what a failed call left open), and the store transaction
 * hooks: after begin, the policy and grants the transaction sees; before
 * commit, the audit entries collected in it sealed; at the end, the
 * per-transaction state forgotten.  Calls down only (policy, grants_set,
 * audit_log, keyring, store), never up. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "grants_set.h"
#include "op.h"
#include "canary.h"
#include "text.h"

/* ---- locking and policy reload ---- */

int op_load_policy(vault *v)
{
    int rc = VAULT_OK;
    char *src = NULL, *report = NULL;
    size_t len = 0;
    int64_t id = 0;
    char filename[256];
    vault_policy *p = NULL;

    GUARD(store_policy_active(&id, filename, sizeof filename, &src, &len, v->db));
    if (v->policy && id == v->policy_id)
        goto cleanup;
    rc = policy_parse(&p, &report, filename, src, len);
    /* The stored policy was valid when applied; failing now means damage. */
    ENSURE(rc == VAULT_OK, VAULT_EINTEGRITY, "the vault's stored policy no longer parses: %s",
           report && *report ? report : "unknown error");
    if (store_in_tx(v->db)) {
        policy_free(v->retired_policy);
        v->retired_policy = v->policy;
    } else {
        policy_free(v->policy);
    }
    v->policy = p;
    v->policy_id = id;
    p = NULL;
cleanup:
    policy_free(p);
    free(report);
    free(src);
    return rc;
}

void vault__retired_free(vault *v)
{
    policy_grantset_free(v->retired_grants);
    v->retired_grants = NULL;
    policy_free(v->retired_policy);
    v->retired_policy = NULL;
}

int op_reload(vault *v, int force_grants)
{
    int rc = VAULT_OK, own = !store_in_tx(v->db);
    int64_t before = v->policy_id;
    const vp_grantset *had = v->grants;

    /* Every read is inside a transaction: one snapshot when the caller
     * holds none. */
    if (own)
        GUARD(store_begin(v->db, STORE_TX_SNAPSHOT));
    GUARD(op_load_policy(v));
    GUARD(canary__load(v));
    /* Grade names map to indices through the policy: rebuild the grants
     * when either changed. */
    GUARD(grants__sync(v, force_grants || before != v->policy_id));
    /* What was loaded must be what the log last vouched for: a grant row
     * put back, or the newest policy row removed, is refused here. */
    if (v->grants != had || v->policy_id != before)
        GUARD(audit_trust_check(v));
    if (own)
        GUARD(store_commit(v->db));
cleanup:
    if (own && store_in_tx(v->db))
        store_rollback(v->db);
    return rc;
}

/* Pick up a policy or grants another connection committed since this one
 * last looked. */
static int refresh(vault *v)
{
    int rc = VAULT_OK;
    int64_t dv = 0;

    GUARD(store_generation(v->db, &dv));
    if (dv != v->generation) {
        int64_t was = v->generation;
        GUARD(op_reload(v, 0));
        /* (a reload in a snapshot of its own refreshed in its begin, with
         * a generation as new or newer: that one stays) */
        if (v->generation == was)
            v->generation = dv;
    }
cleanup:
    return rc;
}

int op_refresh(vault *v)
{
    return refresh(v);
}

int vault__enter(vault *v)
{
    int rc = VAULT_OK;

    if (!v)
        return vault__err(VAULT_EINVALID, "no vault handle");
    pthread_mutex_lock(&v->lock);
    vault__err_clear();
    v->route_log[0] = '\0'; /* a route is one call's (vault__route) */
    GUARD(refresh(v));
cleanup:
    if (rc < 0)
        pthread_mutex_unlock(&v->lock);
    return rc;
}

int vault__enter_audited(vault *v)
{
    if (!v)
        return vault__err(VAULT_EINVALID, "no vault handle");
    if (!store_deferred_fresh(v->db))
        return vault__enter(v); /* a snapshot reloads in itself, consistently */
    pthread_mutex_lock(&v->lock);
    vault__err_clear();
    v->route_log[0] = '\0';
    /* no refresh: the audited read's begin compares the generation with
     * this handle's and starts over, reloaded, when it moved */
    return VAULT_OK;
}

int vault__lock(vault *v)
{
    if (!v)
        return vault__err(VAULT_EINVALID, "no vault handle");
    pthread_mutex_lock(&v->lock);
    vault__err_clear();
    return VAULT_OK;
}

void vault__leave(vault *v)
{
    if (v)
        pthread_mutex_unlock(&v->lock);
}

void vault__exit(vault *v, int entered)
{
    if (!entered)
        return;
    if (store_in_tx(v->db))
        store_rollback(v->db);
    vault__leave(v);
}

/* ---- state kept for one store transaction (store_tx_hooks) ---- */

/* A write transaction may have waited for another connection's lock: what
 * that one committed meanwhile (a revoked grant, a new policy) must be
 * what this transaction's decisions use. */
static int tx_after_begin(void *arg, int write)
{
    vault *v = arg;
    int rc = VAULT_OK;
    int64_t dv = 0;

    (void)write; /* a snapshot's decisions need the policy it sees too */
    if (!v->ready)
        return VAULT_OK;
    if (v->audited_begin && store_deferred_fresh(v->db)) {
        /* An audited read may read without a snapshot (PostgreSQL: READ
         * COMMITTED): its policy, grants and trust digest would be read
         * across commits.  What changed since the handle last loaded them
         * is loaded in a snapshot of its own instead: the read starts
         * over (op_refresh, then a new begin). */
        GUARD(store_generation(v->db, &dv));
        ENSURE(dv == v->generation, VAULT_EBUSY,
               "the policy or grants changed as the read began: start over");
        goto cleanup;
    }
    rc = refresh(v);
cleanup:
    return rc;
}

/* A transaction that records an access for a principal past its
 * not_after never commits (the store rolls it back): nothing written,
 * no value released; op_commit logs the refusal. */
static int tx_before_commit(void *arg)
{
    int rc = VAULT_OK;

    GUARD(audit_tx_due(arg, vault__now()));
    GUARD(audit_tx_flush(arg));
    /* Last: the record keys are durable before the data that needs them,
     * and a key erased is gone before the erase commits (reckeys.h). */
    GUARD(reckeys_commit(((vault *)arg)->rk));
cleanup:
    return rc;
}

/* The alarms of a transaction that committed, to the handle's callback;
 * those of one that didn't are dropped (nothing happened). */
static void alarms_raise(vault *v, int committed)
{
    size_t i;

    for (i = 0; committed && v->alarm_fn && i < v->nalarms; i++) {
        const vault__alarm *p = &v->alarms[i];
        vault_alarm a = {p->kind, p->name, p->user, p->role, p->department, p->purpose,
                         p->record, p->count, p->limit, p->per, p->time};
        v->alarm_fn(&a, v->alarm_arg);
    }
    v->nalarms = 0;
}

int op_alarm_add(vault *v, const vault__alarm *a)
{
    if (!v->alarms) {
        v->alarms = calloc(VAULT__ALARMS_MAX, sizeof *v->alarms);
        if (!v->alarms)
            return vault__err(VAULT_ENOMEM, "out of memory");
    }
    /* A transaction with more alarms than this raises the first ones: the
     * flagged entries are all in the log. */
    if (v->nalarms < VAULT__ALARMS_MAX)
        v->alarms[v->nalarms++] = *a;
    return VAULT_OK;
}

static void tx_at_end(void *arg, int committed)
{
    vault *v = arg;

    alarms_raise(v, committed);
    audit_anchor_sync(v, committed);
    audit_tx_forget(v);
    reckeys_end(v->rk);
    keyring_tx_end(v->keys, committed);
    vault__retired_free(v);
}

void op_attach_tx_hooks(vault *v)
{
    store_tx_hooks h = {tx_before_commit, tx_at_end, v, tx_after_begin};

    store_set_tx_hooks(v->db, &h);
}

/* ---- transactions: the only code that begins and ends them ---- */

int op_begin(vault *v, int kind)
{
    static const store_tx_kind kinds[] = {[OP_READ] = STORE_TX_SNAPSHOT,
                                          [OP_WRITE] = STORE_TX_WRITE,
                                          [OP_AUDITED_READ] = STORE_TX_DEFERRED,
                                          [OP_STANDBY_READ] = STORE_TX_STANDBY};

    int rc;

    if (kind < OP_READ || kind > OP_STANDBY_READ)
        return vault__err(VAULT_EINVALID, "op_begin: unknown transaction kind %d", kind);
    v->audited_begin = kind == OP_AUDITED_READ;
    rc = store_begin(v->db, kinds[kind]);
    v->audited_begin = 0;
    return rc;
}

/* The refusal of a commit whose credential expired (tx_before_commit),
 * in a transaction of its own; returns VAULT_EAUTH with the message the
 * refusal set, or the logging error. */
static int log_late(vault *v, const audit_late *l)
{
    int rc = VAULT_OK;
    char saved[256];

    snprintf(saved, sizeof saved, "%s", vault_error_last());
    GUARD(op_begin(v, OP_WRITE));
    GUARD(audit_late_append(v, l));
    GUARD(store_commit(v->db));
    rc = vault__err(VAULT_EAUTH, "%s", saved);
cleanup:
    op_rollback(v);
    return rc;
}

/* The checkpoint a commit signed goes into the keys file's anchor under
 * the write lock (keyslot changes hold it too: two writers of the file
 * must not run at once).  A failure leaves the anchor one behind. */
static void anchor_flush(vault *v)
{
    if (!v->anchor_pending)
        return;
    if (store_begin(v->db, STORE_TX_WRITE) < 0) {
        v->anchor_pending = 0;
        vault__err_clear();
        return;
    }
    audit_anchor_flush(v);
    store_rollback(v->db);
}

int op_commit(vault *v)
{
    int rc = store_commit(v->db);
    audit_late late;

    if (rc == VAULT_EAUTH && audit_late_take(&late, v))
        rc = log_late(v, &late);
    if (rc == VAULT_OK)
        anchor_flush(v);
    return rc;
}

void op_rollback(vault *v)
{
    if (store_in_tx(v->db))
        store_rollback(v->db);
}

int op_in_tx(const vault *v)
{
    return store_in_tx(v->db);
}

/* ---- small units of work of their own ---- */

/* One entry for a query without a session (an administrator's listing or
 * a query on the log), committed before the caller returns anything. */
int op_log_query(vault *v, const char *action, int outcome, const char *detail)
{
    int rc = VAULT_OK;

    GUARD(op_begin(v, OP_WRITE));
    GUARD(audit__log_meta(v, action, outcome, detail));
    GUARD(op_commit(v));
cleanup:
    if (store_in_tx(v->db))
        op_rollback(v);
    return rc;
}

/* A checkpoint if entries were added since the last one (on close). */
int op_checkpoint_if_needed(vault *v)
{
    int rc = VAULT_OK;
    int64_t count = 0;
    uint64_t last = 0;

    int behind = 0;

    GUARD(op_begin(v, OP_WRITE));
    GUARD(store_audit_count(&count, v->db));
    GUARD(store_checkpoint_last(&last, v->db));
    GUARD(audit__heads_behind(&behind, v)); /* shard logs' entries not claimed yet */
    if ((uint64_t)count > last || behind)
        GUARD(audit_checkpoint(NULL, v));
    GUARD(op_commit(v));
cleanup:
    if (store_in_tx(v->db))
        op_rollback(v);
    return rc;
}


int op_is_refusal(int rc)
{
    return rc == VAULT_EDENIED || rc == VAULT_EINVALID || rc == VAULT_ELIMIT ||
           rc == VAULT_ENOTFOUND || rc == VAULT_ESTATE || rc == VAULT_EPOLICY;
}

int op_refused(vault *v, vault_session *s, const char *action, const uint8_t *rid, int code,
               const char *request)
{
    char saved[512], detail[1024], *esc = NULL;
    int rc = VAULT_OK;
    af_entry e;

    snprintf(saved, sizeof saved, "%s", vault_error_last());
    op_rollback(v);
    /* The message may quote what the caller typed (an unknown id): one
     * line of valid UTF-8 in the log whatever it was. */
    if (vault__text_escape(&esc, saved, strlen(saved)) < 0)
        vault__err_clear();
    snprintf(detail, sizeof detail, "refused: %s%s%s", esc ? esc : "?",
             request && *request ? "; request: " : "", request ? request : "");
    free(esc);
    audit_entry_init(&e, v, s, action);
    e.outcome = code == VAULT_EDENIED ? AF_OUTCOME_DENIED : AF_OUTCOME_ERROR;
    if (rid) {
        e.has_record = 1;
        memcpy(e.record_id, rid, VAULT_ID_BYTES);
    }
    e.detail = detail;
    GUARD(op_begin(v, OP_WRITE));
    GUARD(audit_append(v, &e));
    GUARD(op_commit(v));
    rc = vault__err(code, "%s", saved);
cleanup:
    op_rollback(v);
    return rc;
}

/* rotate_master: vault_key_rotate_master, a new master key for a vault
 * file and everything derived from it (docs/keyslots.md section 11).
 *
 * The vault is claimed (no other connection), copied as it is into a
 * snapshot, and the snapshot copied row by row into a new store under the
 * new master key's keys: every row tagged anew, grade keys, the audit
 * signing key, the canary set and the record keys wrapped anew, every
 * blind-index digest computed anew, the audit state given the new trust
 * digest.  The new keys file holds the new master key under the secrets
 * kept.  Files, for the vault PATH:
 *
 *   PATH.rotate-snapshot{,.keys,.rkeys}   the snapshot (old keys), removed
 *                                         before the commit
 *   PATH.rotating-master{,.keys,.rkeys}   the new vault, keys file first
 *
 * The commit is the rename of PATH.rotating-master.keys over PATH.keys:
 * while that file exists the rotation has not happened (the next rotation
 * removes what is left); once it is gone, PATH.rotating-master and its
 * record-key store are the vault and are renamed into place, by this call
 * or, after a crash, by the next open (vault__rotate_master_recover). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "canary.h"
#include "crypto.h"
#include "keyring.h"
#include "keyslot.h"
#include "op.h"
#include "reckeys.h"
#include "record.h"
#include "store/postgresql.h"
#include "store/store.h"
#include "vault_int.h"

#define SNAP_SUFFIX ".rotate-snapshot"
#define NEXT_SUFFIX ".rotating-master"
#define RM_DETAIL_MAX 512

int vault__rotate_master_stop;
void (*vault__rotate_master_hook)(int step);
int vault__rotate_master_lose_reply;

unsigned vault_const_rotate_master_drop_current(void) { return VAULT_ROTATE_MASTER_DROP_CURRENT; }

/* Test builds stop a rotation dead at a step, or do something there
 * (tests/test_rotate_master.c, tests/pg/test_pg_rotate_master.c): nothing
 * else sets them. */
static void step(int n)
{
    if (vault__rotate_master_hook)
        vault__rotate_master_hook(n);
    if (vault__rotate_master_stop == n)
        raise(SIGKILL);
}

typedef struct rm_paths {
    char keys[VAULT__PATH_MAX], rkeys[VAULT__PATH_MAX];
    char snap[VAULT__PATH_MAX], snap_keys[VAULT__PATH_MAX], snap_rkeys[VAULT__PATH_MAX];
    char next[VAULT__PATH_MAX], next_keys[VAULT__PATH_MAX], next_rkeys[VAULT__PATH_MAX];
} rm_paths;

static int paths_make(rm_paths *p, const char *path)
{
    int rc = VAULT_OK;

    GUARD(vault__path_with(p->keys, sizeof p->keys, path, ".keys"));
    GUARD(vault__path_with(p->rkeys, sizeof p->rkeys, path, ".rkeys"));
    GUARD(vault__path_with(p->snap, sizeof p->snap, path, SNAP_SUFFIX));
    GUARD(vault__path_with(p->snap_keys, sizeof p->snap_keys, path, SNAP_SUFFIX ".keys"));
    GUARD(vault__path_with(p->snap_rkeys, sizeof p->snap_rkeys, path, SNAP_SUFFIX ".rkeys"));
    GUARD(vault__path_with(p->next, sizeof p->next, path, NEXT_SUFFIX));
    GUARD(vault__path_with(p->next_keys, sizeof p->next_keys, path, NEXT_SUFFIX ".keys"));
    GUARD(vault__path_with(p->next_rkeys, sizeof p->next_rkeys, path, NEXT_SUFFIX ".rkeys"));
cleanup:
    return rc;
}

/* A store file and what SQLite keeps beside it. */
static void remove_store_file(const char *path)
{
    static const char *const sides[] = {"-wal", "-shm", "-journal"};
    char side[VAULT__PATH_MAX + 16];
    size_t i;

    unlink(path);
    for (i = 0; i < VAULT_ARRAY_LEN(sides); i++) {
        snprintf(side, sizeof side, "%s%s", path, sides[i]);
        unlink(side);
    }
}

static void remove_snapshot(const rm_paths *p)
{
    remove_store_file(p->snap);
    remove_store_file(p->snap_rkeys);
    unlink(p->snap_keys);
}

/* What an uncommitted rotation left: its stores before its keys file, so
 * that "the stores without the keys file" never means anything but a
 * commit. */
static void remove_uncommitted(const rm_paths *p)
{
    remove_store_file(p->next);
    remove_store_file(p->next_rkeys);
    unlink(p->next_keys);
    remove_snapshot(p);
}

/* 1 when the store file at path opens with key (and nobody has it open). */
static int opens_with(const char *path, const uint8_t key[32])
{
    store_file_claim *c = NULL;
    int rc = store_file_claim_take(&c, path, key);

    store_file_release(c);
    if (rc < 0)
        vault__err_clear();
    return rc == VAULT_OK;
}

static int rename_in(const char *from, const char *to)
{
    if (rename(from, to) == 0 || errno == ENOENT) /* ENOENT: another process did it */
        return VAULT_OK;
    return vault__err(VAULT_EIO, "%s: %s", to, strerror(errno));
}

/* Put the committed rotation's stores in place: the record keys first,
 * then the data (each rename on its own, so a crash between them is
 * finished by the next open). */
static int finish(const rm_paths *p, const char *path)
{
    int rc = VAULT_OK;
    char side[VAULT__PATH_MAX + 8];

    if (vault__exists(p->next_rkeys))
        GUARD(rename_in(p->next_rkeys, p->rkeys));
    step(7);
    if (vault__exists(p->next))
        GUARD(rename_in(p->next, path));
    GUARD(vault__sync_dir_of(path));
    /* The replaced files' shared-memory indexes (their WALs were folded). */
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", p->rkeys);
    unlink(side);
cleanup:
    return rc;
}

int vault__rotate_master_recover(const char *path, const keyring *k)
{
    int rc = VAULT_OK;
    rm_paths p;

    GUARD(paths_make(&p, path));
    if (!vault__exists(p.next) && !vault__exists(p.next_rkeys))
        return VAULT_OK;
    if (vault__exists(p.next_keys))
        return VAULT_OK; /* not committed: the vault is PATH as it is */
    /* Committed (the keys file in place): the new stores open with the
     * keys from it, or they are not this rotation's and stay untouched. */
    if (vault__exists(p.next) && !opens_with(p.next, keyring_db_key(k)))
        return VAULT_OK;
    if (vault__exists(p.next_rkeys) && !opens_with(p.next_rkeys, keyring_reckeys_db_key(k)))
        return VAULT_OK;
    GUARD(finish(&p, path));
cleanup:
    return rc;
}

/* ---- the rows, under the new keys ---- */

typedef struct rekey_ctx {
    vault *old;         /* the snapshot, open under the old keys */
    keyring *to;        /* the new keys */
    store *from_st, *to_st;
    int rk_store;       /* 1 while copying the record-key store */
    uint8_t *buf;       /* a meta row's or grade key's new value */
    size_t cap;
    store_field *fields; /* a record's fields with their new digests */
    size_t fcap;
    uint8_t *state;      /* the audit state with its new trust digest */
    vault_master_rotation *info;
} rekey_ctx;

static int need_buf(rekey_ctx *c, size_t n)
{
    uint8_t *b;

    if (n <= c->cap)
        return VAULT_OK;
    b = realloc(c->buf, n);
    if (!b)
        return vault__err(VAULT_ENOMEM, "out of memory");
    c->buf = b;
    c->cap = n;
    return VAULT_OK;
}

static int rekey_meta(rekey_ctx *c, store_meta *m)
{
    int rc = VAULT_OK, tomb = 0;
    size_t n = 0;

    if (c->rk_store) {
        GUARD(need_buf(c, m->len + VC_WRAP_OVERHEAD + RECKEY_BYTES));
        GUARD(reckeys_rewrap(c->buf, c->cap, &n, &tomb, c->old->rk, c->to, m->key, m->value,
                             m->len));
        if (strncmp(m->key, "rk/", 3) == 0) {
            if (tomb)
                c->info->erased++;
            else
                c->info->record_keys++;
        }
    } else if (strcmp(m->key, AUDIT_META_SK) == 0) {
        GUARD(need_buf(c, m->len + VC_WRAP_OVERHEAD));
        GUARD(audit__sk_rewrap(c->buf, c->cap, &n, c->old, c->to, m->value, m->len));
    } else if (strcmp(m->key, CANARY_META) == 0) {
        GUARD(need_buf(c, CANARY_VALUE_CAP));
        GUARD(canary__rewrap(c->buf, c->cap, &n, c->old, c->to, m->value, m->len));
    } else {
        return VAULT_OK; /* no key in it: only tagged anew */
    }
    m->value = c->buf;
    m->len = n;
cleanup:
    return rc;
}

static int rekey_row(void *arg, int kind, void *row)
{
    rekey_ctx *c = arg;
    int rc = VAULT_OK, erased = 0;
    size_t n = 0;

    switch (kind) {
    case STORE_ROW_META:
        GUARD(rekey_meta(c, row));
        break;
    case STORE_ROW_GRADEKEY: {
        store_gradekey *k = row;
        GUARD(need_buf(c, k->len + VC_WRAP_OVERHEAD));
        GUARD(keyring_grade_rewrap(c->buf, c->cap, &n, c->old->keys, c->to, k->grade, k->version,
                                   k->wrapped, k->len));
        k->wrapped = c->buf;
        k->len = n;
        c->info->grade_keys++;
        break;
    }
    case STORE_ROW_RECORD: {
        store_record *r = row;
        if (r->nfields > c->fcap) {
            store_field *f = realloc(c->fields, r->nfields * sizeof *f);
            ENSURE(f, VAULT_ENOMEM, "out of memory");
            c->fields = f;
            c->fcap = r->nfields;
        }
        GUARD(record_reindex(c->fields, &n, &erased, VAULT__RX(c->old), r,
                             keyring_bidx_root(c->to)));
        r->fields = c->fields;
        c->info->records++;
        c->info->digests += n;
        break;
    }
    case STORE_ROW_AUDIT_STATE: {
        store_audit_state *a = row;
        uint8_t was[32], now[32];
        free(c->state);
        c->state = malloc(a->len ? a->len : 1);
        ENSURE(c->state, VAULT_ENOMEM, "out of memory");
        memcpy(c->state, a->state, a->len);
        GUARD(store_trust_digest(c->from_st, was));
        GUARD(store_trust_digest(c->to_st, now));
        GUARD(audit__state_retrust(c->state, a->len, was, now));
        a->state = c->state;
        break;
    }
    default: /* policies, grants, checkpoints: tagged anew as they are */
        break;
    }
cleanup:
    return rc;
}

static void rekey_free(rekey_ctx *c)
{
    if (c->buf)
        vc_wipe(c->buf, c->cap);
    free(c->buf);
    free(c->fields);
    free(c->state);
}

/* Copy the old vault's two stores (in the caller's transaction, or a
 * snapshot of their own) into new ones at next and next_rk, under the new
 * keys. */
static int copy_stores(rekey_ctx *c, const char *next, const char *next_rk,
                       vault_progress_fn progress, void *arg)
{
    int rc = VAULT_OK;
    store *dst = NULL, *dst_rk = NULL;
    store_rekey rk = {rekey_row, c};
    store_copy_stats st;

    GUARD(store_open(&dst, next, keyring_db_key(c->to), 1, keyring_row_guard(c->to), NULL));
    GUARD(store_open(&dst_rk, next_rk, keyring_reckeys_db_key(c->to), 1,
                     keyring_row_guard(c->to), NULL));
    c->from_st = c->old->db;
    c->to_st = dst;
    GUARD(store_copy_rekey(&st, c->old->db, dst, &rk, progress, arg));
    c->info->entries = st.entries;
    reckeys_end(c->old->rk);
    c->rk_store = 1;
    c->from_st = reckeys_store(c->old->rk);
    c->to_st = dst_rk;
    GUARD(store_copy_rekey(NULL, reckeys_store(c->old->rk), dst_rk, &rk, NULL, NULL));
cleanup:
    if (c->old->rk)
        reckeys_end(c->old->rk);
    store_close(dst);
    store_close(dst_rk);
    return rc;
}


/* Close v (may be NULL) keeping the message of the failure rc < 0: a
 * close may clear it (a checkpoint it could not sign). */
static void close_keeping_error(vault *v, int rc)
{
    char saved[512];

    if (!v)
        return;
    snprintf(saved, sizeof saved, "%s", vault_error_last());
    vault_close(v);
    if (rc < 0)
        vault__err(rc, "%s", saved);
}

/* Open the new vault, check it, log the rotation there and sign a
 * checkpoint over it (its keys file's anchor follows). */
static int seal_new(const char *next, const char *next_rk, const char *next_keys,
                    const uint8_t *master, const uint8_t id[VAULT_ID_BYTES],
                    const vault_master_rotation *info)
{
    int rc = VAULT_OK;
    vault *nv = NULL;
    char detail[RM_DETAIL_MAX], dropped[160] = "", *note = NULL;
    size_t i, n = 0;

    GUARD(vault__open_master(&nv, next, master, id, next_rk, next_keys));
    GUARD(vault_set_witness_auto(nv, 0));
    GUARD(vault__log_verifies(nv, "master-key rotation: the new copy's"));
    for (i = 0; i < info->slots_dropped && n < sizeof dropped - 12; i++)
        n += (size_t)snprintf(dropped + n, sizeof dropped - n, "%s%d", i ? "," : "",
                              info->dropped[i]);
    snprintf(detail, sizeof detail,
             "master key replaced: every key derived from it is new; %llu records (%llu "
             "blind-index digests computed anew), %llu record keys and %llu grade keys wrapped "
             "anew; keyslots: kept %d, added %d, left behind %s",
             (unsigned long long)info->records, (unsigned long long)info->digests,
             (unsigned long long)info->record_keys, (unsigned long long)info->grade_keys,
             info->slot_kept, info->slot_added, info->slots_dropped ? dropped : "none");
    GUARD(op_log_query(nv, "key_rotate_master", AF_OUTCOME_OK, detail));
    GUARD(vault_audit_checkpoint(&note, nv));
cleanup:
    vault_free(note);
    close_keeping_error(nv, rc);
    return rc;
}

/* Open the snapshot and check its log: a vault whose log does not verify
 * is not carried under new keys. */
static int open_snapshot(vault **out, const rm_paths *p, const uint8_t *master,
                         const uint8_t id[VAULT_ID_BYTES])
{
    int rc = VAULT_OK;

    GUARD(vault__open_master(out, p->snap, master, id, p->snap_rkeys, NULL));
    GUARD(vault_set_witness_auto(*out, 0));
    GUARD(vault__log_verifies(*out, "master-key rotation refused: the"));
cleanup:
    return rc;
}

/* ---- a PostgreSQL vault ----
 *
 * No file to claim: the vault's write lock and its rotation lock are
 * held from the copy to the swap, so no writer and no audited read
 * (store_rotation_hold) commits in between, and every handle checks the
 * vault's key check at each transaction it begins (postgresql.c
 * key_unchanged), so a handle still under the old keys fails closed.
 * Locations: the schemas NAME_rotating and NAME_rotating_rkeys, each
 * marked as this vault's copy (store_rotation_prepare); the new keys file
 * KEYS.rotating beside KEYS.  The commit is the swap's: the copies' rows
 * take the live rows' places in the vault's write transaction; then
 * KEYS.rotating is renamed over KEYS, which the next open does if a crash
 * came between (vault__rotate_master_recover_keys).
 *
 * KEYS.rotating is only ever removed or renamed under the vault's write
 * lock with the key check read under it: removed when the live tables are
 * still under the old keys (then it is an uncommitted rotation's: a
 * rotation writes it only under the lock), renamed when they are under its
 * own.  A commit whose outcome is unknown (the connection lost during
 * COMMIT) removes nothing. */

#define KEYS_NEXT_SUFFIX ".rotating"

typedef struct keys_move {
    const char *from, *to;
    const uint8_t *master;
} keys_move;

/* Under the write lock, the tables under m->master's keys.  Every writer
 * of KEYS.rotating holds that lock, so what is checked here stays so to
 * the rename: `from` is renamed only if it holds the master (it may be a
 * later rotation's, begun after an open put ours in place); otherwise
 * `to` must hold it already. */
static int keys_move_fn(void *arg)
{
    const keys_move *m = arg;
    int r;

    if (vault__exists(m->from)) {
        r = ks_holds(m->from, m->master);
        if (r == VAULT_OK) {
            if (rename(m->from, m->to) == 0)
                return vault__sync_dir_of(m->to);
            if (errno != ENOENT)
                return vault__err(VAULT_EIO, "%s: %s", m->to, strerror(errno));
            r = VAULT_EAUTH; /* gone meanwhile: `to` must hold it */
        }
        if (r != VAULT_EAUTH)
            return r;
        vault__err_clear();
    }
    r = ks_holds(m->to, m->master);
    if (r == VAULT_EAUTH)
        return vault__err(VAULT_EINTEGRITY,
                          "the vault's tables are under keys neither %s nor %s holds", m->to,
                          m->from);
    return r;
}

/* Under the vault's write lock, the tables under k's keys: next_keys
 * becomes keys_path if it holds k's master; keys_path holding it already
 * is done too (another open or rotation put it there).  VAULT_EAUTH (and
 * nothing renamed) when the tables are not under k's keys. */
static int keys_in_place(const char *location, const char *keys_path, const char *next_keys,
                         keyring *k)
{
    int rc = VAULT_OK;
    store *st = NULL;
    keys_move m = {next_keys, keys_path, keyring_master(k)};

    GUARD(store_open(&st, location, keyring_db_key(k), 0, keyring_row_guard(k), NULL));
    GUARD(store_under_write_lock(st, keys_move_fn, &m));
cleanup:
    store_close(st);
    return rc;
}

int vault__rotate_master_recover_keys(const char *location, const char *keys_path,
                                      const vault_secret *secret)
{
    int rc = VAULT_OK, r;
    char next_keys[VAULT__PATH_MAX];
    uint8_t *m = NULL, id[VAULT_ID_BYTES];
    keyring *k = NULL;

    GUARD(vault__path_with(next_keys, sizeof next_keys, keys_path, KEYS_NEXT_SUFFIX));
    if (!vault__exists(next_keys))
        return VAULT_OK;
    m = vc_malloc(VAULT_KEY_BYTES);
    ENSURE(m, VAULT_ENOMEM, "out of secure memory");
    /* Only when the secret unlocks the new keys file and the tables are
     * under its keys: otherwise it is an uncommitted rotation's (or one
     * under way), and the vault is what KEYS says. */
    r = ks_unlock(m, id, next_keys, secret);
    if (r < 0) {
        vault__err_clear();
        goto cleanup;
    }
    GUARD(keyring_new(&k, m, id));
    r = keys_in_place(location, keys_path, next_keys, k);
    if (r == VAULT_EAUTH)
        vault__err_clear();
    else
        rc = r;
cleanup:
    keyring_free(k);
    vc_free(m);
    return rc;
}

/* Under the write lock, with v (opened under master) and its key check
 * still the live one (no rotation committed since): the copies and
 * next_keys go.  0 when done. */
static int discard_uncommitted(vault *v, const uint8_t *master, const char *location,
                               const char *live_rk, const char *next, const char *next_rk,
                               const char *next_keys)
{
    int rc = VAULT_OK;

    ENSURE(vc_equal(keyring_master(v->keys), master, VAULT_KEY_BYTES), VAULT_ESTATE,
           "the vault opened under other keys");
    GUARD(op_begin(v, OP_WRITE));
    rc = store_rotation_discard(live_rk, next_rk, v->id);
    if (rc == VAULT_OK)
        rc = store_rotation_discard(location, next, v->id);
    if (rc == VAULT_OK && unlink(next_keys) != 0 && errno != ENOENT)
        rc = vault__err(VAULT_EIO, "%s: %s", next_keys, strerror(errno));
    op_rollback(v);
cleanup:
    return rc;
}

static int rotate_elsewhere(vault_master_rotation *info, const char *location,
                            const vault_secret *secret, const vault_secret *new_secret,
                            const char *new_label, unsigned flags, vault_progress_fn progress,
                            void *arg)
{
    int rc = VAULT_OK, in_tx = 0, next_made = 0, commit_sent = 0, committed = 0, cleaned = 0;
    int r, r2;
    vault *v = NULL, *again = NULL;
    char *keys = NULL, *next = NULL, *next_rk = NULL, *live_rk = NULL;
    char next_keys[VAULT__PATH_MAX], saved[512];
    uint8_t *master = NULL, *newm = NULL, *old_db = NULL;
    ks_rekey_info ki;
    rekey_ctx rc_ctx;
    size_t i;

    memset(&rc_ctx, 0, sizeof rc_ctx);
    ENSURE(store_pg_is_location(location), VAULT_ESTATE,
           "%s: this backend's vaults have no master-key rotation (a vault file or PostgreSQL)",
           location);
    GUARD(store_location_keys_path(&keys, location));
    GUARD(vault__path_with(next_keys, sizeof next_keys, keys, KEYS_NEXT_SUFFIX));
    GUARD(store_location_sibling(&next, location, "rotating"));
    GUARD(reckeys_location(&next_rk, next));
    GUARD(reckeys_location(&live_rk, location));
    master = vc_malloc(VAULT_KEY_BYTES);
    newm = vc_malloc(VAULT_KEY_BYTES);
    old_db = vc_malloc(VAULT_KEY_BYTES);
    ENSURE(master && newm && old_db, VAULT_ENOMEM, "out of secure memory");
    GUARD(vault_open(&v, location, secret));
    GUARD(vault_set_witness_auto(v, 0));
    GUARD(vault__log_verifies(v, "master-key rotation refused: the"));
    /* The write lock, to the swap's commit: no writer commits meanwhile,
     * and no other rotation runs.  Its begin read the key check: the
     * tables are under KEYS's keys, so a KEYS.rotating is an uncommitted
     * rotation's. */
    GUARD(op_begin(v, OP_WRITE));
    in_tx = 1;
    /* and the rotation lock: audited reads, which take no write lock,
     * commit nothing to the live tables from the copy to the swap */
    GUARD(store_rotation_hold(v->db));
    /* What the swap needs, before anything is made or removed. */
    GUARD(store_rotation_allowed(location));
    GUARD(store_rotation_allowed(live_rk));
    if (vault__exists(next_keys)) {
        ENSURE(unlink(next_keys) == 0 || errno == ENOENT, VAULT_EIO, "%s: %s", next_keys,
               strerror(errno));
        info->cleaned = 1;
    }
    GUARD(store_rotation_prepare(location, next, v->id, &cleaned));
    info->cleaned |= cleaned;
    next_made = 1;
    GUARD(store_rotation_prepare(live_rk, next_rk, v->id, &cleaned));
    info->cleaned |= cleaned;
    memcpy(master, keyring_master(v->keys), VAULT_KEY_BYTES);
    vc_random(newm, VAULT_KEY_BYTES);
    GUARD(ks_rekey(&ki, keys, next_keys, master, newm,
                   (flags & VAULT_ROTATE_MASTER_DROP_CURRENT) ? NULL : secret, new_secret,
                   new_label ? new_label : ""));
    info->slot_kept = ki.kept;
    info->slot_added = ki.added;
    info->slots_dropped = ki.ndropped;
    for (i = 0; i < ki.ndropped && i < VAULT_ARRAY_LEN(info->dropped); i++)
        info->dropped[i] = ki.dropped[i].slot;
    GUARD(keyring_new(&rc_ctx.to, newm, v->id));
    rc_ctx.old = v;
    rc_ctx.info = info;
    GUARD(copy_stores(&rc_ctx, next, next_rk, progress, arg));
    step(3);
    GUARD(seal_new(next, next_rk, next_keys, newm, v->id, info));
    step(4);
    GUARD(store_rotate_swap(v->db, live_rk, next, next_rk, keyring_db_key(rc_ctx.to),
                            keyring_reckeys_db_key(rc_ctx.to), v->id));
    step(5);
    in_tx = 0;
    commit_sent = 1;
    r = op_commit(v); /* the commit: the tables are under the new keys */
    if (r == VAULT_OK && vault__rotate_master_lose_reply)
        r = vault__err(VAULT_EIO, "postgresql: committing: database connection lost (test)");
    if (r < 0) {
        /* Committed or not, the server alone knows: read the key check
         * under the write lock (which waits for that transaction's end),
         * this handle's connection closed first (its session may hold
         * the lock yet). */
        const uint8_t *both[2] = {old_db, keyring_db_key(rc_ctx.to)};
        int which = -1;

        snprintf(saved, sizeof saved, "%s", vault_error_last());
        memcpy(old_db, keyring_db_key(v->keys), VAULT_KEY_BYTES);
        v->ready = 0;
        vault_close(v);
        v = NULL;
        rc_ctx.old = NULL;
        r2 = store_which_key(location, both, 2, &which);
        if (r2 == VAULT_OK && which == 1) {
            committed = 1; /* it took: the keys file follows */
            GUARD(keys_in_place(location, keys, next_keys, rc_ctx.to));
            goto cleanup;
        }
        if (r2 == VAULT_OK && which == 0 && vault_open(&again, location, secret) == VAULT_OK &&
            discard_uncommitted(again, master, location, live_rk, next, next_rk, next_keys) ==
                VAULT_OK) {
            rc = vault__err(r, "the master-key rotation did not commit (%s): the vault is as it "
                               "was", saved);
            goto cleanup;
        }
        rc = vault__err(r, "the commit of the master-key rotation failed (%s) and whether it "
                           "took is not known: open the vault to finish (with the new secret "
                           "if it took, the old one if not); the next rotation removes what is "
                           "left", saved);
        goto cleanup;
    }
    committed = 1;
    step(6);
    GUARD(keys_in_place(location, keys, next_keys, rc_ctx.to));
cleanup:
    if (rc < 0)
        snprintf(saved, sizeof saved, "%s", vault_error_last());
    if (in_tx)
        op_rollback(v);
    if (rc < 0 && next_made && !commit_sent &&
        discard_uncommitted(v, master, location, live_rk, next, next_rk, next_keys) < 0)
        snprintf(saved + strlen(saved), sizeof saved - strlen(saved),
                 "; the copies could not be dropped (the next rotation does)");
    if (v) {
        v->ready = 0; /* nothing signed under the old keys on the way out */
        vault_close(v);
    }
    if (again) {
        again->ready = 0;
        vault_close(again);
    }
    if (rc < 0 && committed)
        vault__err(rc, "the master key was replaced but %s could not be put in place (%s): "
                       "open the vault to finish", keys, saved);
    else if (rc < 0)
        vault__err(rc, "%s", saved);
    rekey_free(&rc_ctx);
    keyring_free(rc_ctx.to);
    vc_free(master);
    vc_free(newm);
    vc_free(old_db);
    free(keys);
    free(next);
    free(next_rk);
    free(live_rk);
    return rc;
}

int vault_key_rotate_master(vault_master_rotation *out, const char *path,
                            const vault_secret *secret, const vault_secret *new_secret,
                            const char *new_label, unsigned flags, vault_progress_fn progress,
                            void *arg)
{
    int rc = VAULT_OK, next_made = 0, committed = 0;
    rm_paths p;
    uint8_t *master = NULL, *newm = NULL;
    uint8_t id[VAULT_ID_BYTES];
    keyring *kr = NULL;
    store_file_claim *claim = NULL, *rk_claim = NULL;
    vault *old = NULL;
    vault_secret secret_l, new_l;
    vault_master_rotation info;
    ks_rekey_info ki;
    rekey_ctx rc_ctx;
    size_t i;

    vault__err_clear();
    memset(&info, 0, sizeof info);
    memset(&rc_ctx, 0, sizeof rc_ctx);
    GUARD(vault_init());
    ENSURE(path && *path && secret, VAULT_EINVALID,
           "vault_key_rotate_master: missing vault path or secret");
    VAULT_OPT_IN(secret, secret_l, "vault_secret", "VAULT_SECRET_INIT");
    if (new_secret)
        VAULT_OPT_IN(new_secret, new_l, "vault_secret", "VAULT_SECRET_INIT");
    ENSURE((flags & ~VAULT_ROTATE_MASTER_DROP_CURRENT) == 0, VAULT_EINVALID,
           "vault_key_rotate_master: unknown flags");
    ENSURE(new_secret || !(flags & VAULT_ROTATE_MASTER_DROP_CURRENT), VAULT_EINVALID,
           "vault_key_rotate_master: dropping the current secret needs a new one");
    if (!store_location_is_file(path)) {
        rc = rotate_elsewhere(&info, path, secret, new_secret, new_label, flags, progress, arg);
        if (rc == VAULT_OK && out)
            *out = info;
        return rc;
    }
    GUARD(paths_make(&p, path));
    ENSURE(vault__exists(path), VAULT_ENOTFOUND, "%s: no such vault", path);
    master = vc_malloc(VAULT_KEY_BYTES);
    newm = vc_malloc(VAULT_KEY_BYTES);
    ENSURE(master && newm, VAULT_ENOMEM, "out of secure memory");
    GUARD(ks_unlock(master, id, p.keys, secret));
    GUARD(keyring_new(&kr, master, id));
    /* A committed rotation not yet in place is finished first. */
    GUARD(vault__rotate_master_recover(path, kr));
    /* Nobody else has the vault open from here to the end (another
     * rotation included). */
    GUARD(store_file_claim_take(&claim, path, keyring_db_key(kr)));
    if (vault__exists(p.rkeys))
        GUARD(store_file_claim_take(&rk_claim, p.rkeys, keyring_reckeys_db_key(kr)));
    /* An uncommitted rotation's leftovers go. */
    if (vault__exists(p.next_keys) || vault__exists(p.snap) || vault__exists(p.snap_keys) ||
        vault__exists(p.snap_rkeys)) {
        remove_uncommitted(&p);
        info.cleaned = 1;
    }
    ENSURE(!vault__exists(p.next) && !vault__exists(p.next_rkeys), VAULT_EEXISTS,
           "%s exists and is not this vault's: move it away first", p.next);
    GUARD(store_file_claim_copy(claim, p.snap));
    if (rk_claim)
        GUARD(store_file_claim_copy(rk_claim, p.snap_rkeys));
    GUARD(vault__keys_copy(p.keys, p.snap_keys));
    step(1);
    GUARD(open_snapshot(&old, &p, master, id));
    vc_random(newm, VAULT_KEY_BYTES);
    next_made = 1;
    GUARD(ks_rekey(&ki, p.keys, p.next_keys, master, newm,
                   (flags & VAULT_ROTATE_MASTER_DROP_CURRENT) ? NULL : secret, new_secret,
                   new_label ? new_label : ""));
    info.slot_kept = ki.kept;
    info.slot_added = ki.added;
    info.slots_dropped = ki.ndropped;
    for (i = 0; i < ki.ndropped && i < VAULT_ARRAY_LEN(info.dropped); i++)
        info.dropped[i] = ki.dropped[i].slot;
    step(2);
    GUARD(keyring_new(&rc_ctx.to, newm, id));
    rc_ctx.old = old;
    rc_ctx.info = &info;
    GUARD(copy_stores(&rc_ctx, p.next, p.next_rkeys, progress, arg));
    vault_close(old);
    old = NULL;
    step(3);
    GUARD(seal_new(p.next, NULL, NULL, newm, id, &info));
    step(4);
    remove_snapshot(&p);
    GUARD(vault__sync_dir_of(path));
    step(5);
    /* The commit: from this rename on, the new master key is the vault's. */
    ENSURE(rename(p.next_keys, p.keys) == 0, VAULT_EIO, "%s: %s", p.keys, strerror(errno));
    committed = 1;
    GUARD(vault__sync_dir_of(path));
    step(6);
    GUARD(finish(&p, path));
    step(8);
    if (out)
        *out = info;
cleanup:
    close_keeping_error(old, rc);
    if (rc < 0 && !committed) {
        /* The vault is PATH as it was: what this run made goes. */
        remove_snapshot(&p);
        if (next_made)
            remove_uncommitted(&p);
    }
    if (rc < 0 && committed) {
        char saved[512];

        snprintf(saved, sizeof saved, "%s", vault_error_last());
        vault__err(rc, "the master key was replaced but %s could not be put in place (%s): "
                       "open the vault to finish", path, saved);
    }
    store_file_release(rk_claim);
    store_file_release(claim);
    rekey_free(&rc_ctx);
    keyring_free(rc_ctx.to);
    keyring_free(kr);
    vc_free(master);
    vc_free(newm);
    return rc;
}

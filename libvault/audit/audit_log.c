/* audit log inside the vault: the signing key, the Merkle state, the
 * tail of the current transaction, appending entries and writing
 * checkpoints.  Called by the layers that act (op, grants, session,
 * vault); calls none of them.  The public calls on the log (verify,
 * export, reports) are in audit.c. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"
#include "crypto.h"
#include "keyring.h"
#include "keyslot.h"
#include "text.h"

#define SK_AD_LABEL "libvault/auditkey/v1"
#define META_PK "audit_pk"
#define META_SK AUDIT_META_SK
#define META_SIGNED "audit_signed"
#define SIGNED_BLOB (8 + 8 + 32 + sizeof(((af_merkle *)0)->stack))
#define TREE_BLOB (8 + sizeof(((af_merkle *)0)->stack) + 1 + 32)
#define TRUST_TAG 'T' 

static int64_t now_us(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

void audit__origin(char *out, size_t cap, const vault *v)
{
    char hex[VAULT_ID_HEX_SIZE];

    vault__id_format(hex, v->id);
    snprintf(out, cap, "libvault/%s", hex);
}

/* ---- signing key ---- */

static size_t sk_ad(uint8_t *ad, const vault *v)
{
    memcpy(ad, SK_AD_LABEL, sizeof SK_AD_LABEL - 1);
    memcpy(ad + sizeof SK_AD_LABEL - 1, v->id, VAULT_ID_BYTES);
    return sizeof SK_AD_LABEL - 1 + VAULT_ID_BYTES;
}

int audit_keys_create(vault *v)
{
    int rc = VAULT_OK;
    uint8_t pk[VC_SIGN_PUBLICKEYBYTES], *sk = NULL;
    uint8_t wrapped[VC_SIGN_SECRETKEYBYTES + VC_WRAP_OVERHEAD], ad[64];
    size_t wlen = 0;

    sk = vc_malloc(VC_SIGN_SECRETKEYBYTES);
    ENSURE(sk, VAULT_ENOMEM, "out of secure memory");
    GUARD(vc_sign_keypair(pk, sk));
    GUARD(vc_wrap(wrapped, sizeof wrapped, &wlen, keyring_wrap_key(v->keys), ad, sk_ad(ad, v), sk,
                  VC_SIGN_SECRETKEYBYTES));
    GUARD(store_meta_put(v->db, META_PK, pk, sizeof pk));
    GUARD(store_meta_put(v->db, META_SK, wrapped, wlen));
cleanup:
    vc_free(sk);
    return rc;
}

int audit__sk_rewrap(uint8_t *out, size_t cap, size_t *out_len, const vault *v,
                     const keyring *to, const uint8_t *wrapped, size_t len)
{
    int rc = VAULT_OK;
    uint8_t *sk = NULL, ad[64];
    size_t n = 0, adlen = sk_ad(ad, v);

    sk = vc_malloc(VC_SIGN_SECRETKEYBYTES);
    ENSURE(sk, VAULT_ENOMEM, "out of secure memory");
    rc = vc_unwrap(sk, VC_SIGN_SECRETKEYBYTES, &n, keyring_wrap_key(v->keys), ad, adlen, wrapped,
                   len);
    ENSURE(rc == VAULT_OK && n == VC_SIGN_SECRETKEYBYTES, VAULT_EINTEGRITY,
           "audit log: the checkpoint key failed its integrity check");
    GUARD(vc_wrap(out, cap, out_len, keyring_wrap_key(to), ad, adlen, sk,
                  VC_SIGN_SECRETKEYBYTES));
cleanup:
    vc_free(sk);
    return rc;
}

int audit__state_retrust(uint8_t *state, size_t len, const uint8_t from[32],
                         const uint8_t to[32])
{
    uint64_t size = 0;
    size_t live;
    int i;

    if (len < 8)
        return vault__err(VAULT_EINTEGRITY, "audit log: the tree state is damaged");
    for (i = 0; i < 8; i++)
        size |= (uint64_t)state[i] << (8 * i);
    live = (size_t)__builtin_popcountll(size);
    if (len != 8 + 32 * live + 33 || state[8 + 32 * live] != TRUST_TAG)
        return VAULT_OK; /* a state written before the trust digest: nothing to carry */
    if (!vc_equal(state + 8 + 32 * live + 1, from, 32))
        return vault__err(VAULT_EINTEGRITY,
                          "audit log: integrity check failed: the grants or the policy are not "
                          "the ones the log recorded (rows put back or removed outside "
                          "libvault)");
    memcpy(state + 8 + 32 * live + 1, to, 32);
    return VAULT_OK;
}

/* The store's key against the pinned ones (the sidecar's, the caller's). */
static int pk_pinned(const uint8_t pk[VC_SIGN_PUBLICKEYBYTES], const vault *v)
{
    if (v->anchor_known && !vc_equal(pk, v->anchor.pk, VC_SIGN_PUBLICKEYBYTES))
        return vault__err(VAULT_EINTEGRITY,
                          "audit log: integrity check failed: "
                          "the checkpoint key in the store is not "
                          "the one pinned in the keys file %s (the store was changed outside "
                          "libvault)", v->keys_path);
    if (v->expect_known && !vc_equal(pk, v->expect_pk, VC_SIGN_PUBLICKEYBYTES))
        return vault__err(VAULT_EINTEGRITY,
                          "audit log: integrity check failed: "
                          "the checkpoint key in the store is not "
                          "the pinned public key given");
    return VAULT_OK;
}

int audit__load_pk(uint8_t pk[VC_SIGN_PUBLICKEYBYTES], vault *v)
{
    size_t n = 0;
    int rc = store_meta_get(v->db, META_PK, pk, VC_SIGN_PUBLICKEYBYTES, &n);

    if (rc == VAULT_ENOTFOUND || (rc == VAULT_OK && n != VC_SIGN_PUBLICKEYBYTES))
        return vault__err(VAULT_EINTEGRITY, "audit log: the checkpoint public key is missing");
    if (rc == VAULT_OK)
        rc = pk_pinned(pk, v);
    return rc;
}

/* The secret key, unwrapped into *out (vc_malloc'ed; vc_free it). */
static int load_sk(uint8_t **out, vault *v)
{
    int rc = VAULT_OK;
    uint8_t wrapped[VC_SIGN_SECRETKEYBYTES + VC_WRAP_OVERHEAD], ad[64], *sk = NULL;
    uint8_t pk[VC_SIGN_PUBLICKEYBYTES];
    size_t wlen = 0, n = 0;

    rc = store_meta_get(v->db, META_SK, wrapped, sizeof wrapped, &wlen);
    ENSURE(rc != VAULT_ENOTFOUND, VAULT_EINTEGRITY, "audit log: the checkpoint key is missing");
    GUARD(rc);
    sk = vc_malloc(VC_SIGN_SECRETKEYBYTES);
    ENSURE(sk, VAULT_ENOMEM, "out of secure memory");
    rc = vc_unwrap(sk, VC_SIGN_SECRETKEYBYTES, &n, keyring_wrap_key(v->keys), ad, sk_ad(ad, v),
                   wrapped, wlen);
    ENSURE(rc == VAULT_OK && n == VC_SIGN_SECRETKEYBYTES, VAULT_EINTEGRITY,
           "audit log: the checkpoint key failed its integrity check");
    /* Never sign with a key other than the pinned one. */
    GUARD(vc_sign_sk_to_pk(pk, sk));
    GUARD(pk_pinned(pk, v));
    *out = sk;
    sk = NULL;
cleanup:
    vc_free(sk);
    return rc;
}

/* Sign a resident bundle's statement (audit_bundle.h) with the checkpoint
 * key; the key never leaves this file. */
int audit__bundle_sign(uint8_t out[AF_BUNDLE_SIG_BYTES], vault *v, const char *text, size_t len)
{
    int rc = VAULT_OK;
    uint8_t *sk = NULL;
    char origin[64];

    audit__origin(origin, sizeof origin, v);
    GUARD(load_sk(&sk, v));
    GUARD(af_bundle_sign(out, text, len, origin, sk));
cleanup:
    vc_free(sk);
    return rc;
}

/* ---- Merkle state, kept with the newest entry so appends stay O(log n) ----
 *
 * The tree state (store_audit_state_put: on the newest audit row, MAC'd
 * with its position and chain head, so a commit that appends writes it on
 * the page it appends to) holds the size (8 bytes, little-endian) and
 * then the popcount(size) live subtree roots, 32 bytes each, largest first
 * (at most 8 + 64 * 32 bytes), then (storage v2) 'T' and the 32-byte trust
 * digest.  Vaults written before this layout stored all 64 stack slots
 * whatever the size; all read the same.  Up to store schema 3 it was the
 * meta row "audit_tree" (the migration moves it). */

/* *missing (may be NULL) is set when the newest entry carries no state:
 * VAULT_EINTEGRITY then as well. */
static int tree_load(af_merkle *m, uint8_t trust[32], int *trust_known, int64_t *at, int *missing,
                     vault *v, const char *log)
{
    uint8_t blob[TREE_BLOB];
    size_t n = 0, live;
    int rc = VAULT_OK, i;

    af_merkle_init(m);
    *trust_known = 0;
    if (missing)
        *missing = 0;
    GUARD(store_audit_state_get_in(at, blob, sizeof blob, &n, v->db, log));
    if (*at == 0)
        goto cleanup; /* an empty log: the empty tree */
    if (n == 0 && missing)
        *missing = 1;
    ENSURE(n > 0, VAULT_EINTEGRITY,
           "audit log: integrity check failed: the newest entry (position %lld) carries no tree "
           "state (entries after it were cut, or the state removed outside libvault)",
           (long long)*at);
    ENSURE(n >= 8, VAULT_EINTEGRITY, "audit log: the tree state is damaged");
    m->size = 0;
    for (i = 0; i < 8; i++)
        m->size |= (uint64_t)blob[i] << (8 * i);
    live = (size_t)__builtin_popcountll(m->size);
    if (n == 8 + 32 * live + 33 && blob[8 + 32 * live] == TRUST_TAG) {
        memcpy(trust, blob + 8 + 32 * live + 1, 32);
        *trust_known = 1;
    } else {
        ENSURE(n == 8 + 32 * live || n == 8 + sizeof m->stack, VAULT_EINTEGRITY,
               "audit log: the tree state is damaged");
    }
    memcpy(m->stack, blob + 8, 32 * live);
cleanup:
    return rc;
}

int audit__tree_load_in(af_merkle *m, int *missing, vault *v, const char *log)
{
    uint8_t trust[32];
    int known = 0;
    int64_t at = 0;

    return tree_load(m, trust, &known, &at, missing, v, log);
}

int audit__tree_load(af_merkle *m, int *missing, vault *v)
{
    return audit__tree_load_in(m, missing, v, STORE_LOG_CITY);
}

static int is_city(const audit_chain *ch)
{
    return ch->log[0] == '\0';
}

/* A chain's state onto its newest entry (ch->pos), off the entry that had
 * it; the trust digest rides on the city log's only. */
static int tree_save(audit_tail *t, audit_chain *ch, vault *v)
{
    int rc = VAULT_OK;
    uint8_t blob[TREE_BLOB];
    size_t live = (size_t)__builtin_popcountll(ch->tree.size), n;
    int i;

    ENSURE(ch->pos > 0, VAULT_ESTATE, "audit log: a tree state needs an entry to be kept with");
    for (i = 0; i < 8; i++)
        blob[i] = (uint8_t)(ch->tree.size >> (8 * i));
    memcpy(blob + 8, ch->tree.stack, 32 * live);
    n = 8 + 32 * live;
    if (is_city(ch) && t->trust_known) {
        blob[n] = TRUST_TAG;
        memcpy(blob + n + 1, t->trust, 32);
        n += 33;
    }
    GUARD(store_audit_state_put_in(v->db, ch->log, ch->state_pos, ch->pos, ch->head, blob, n));
    ch->state_pos = ch->pos;
    ch->dirty = 0;
cleanup:
    return rc;
}

/* ---- the tail of the current transaction ---- */

static audit_tail *tail_get(vault *v)
{
    if (!v->tail)
        v->tail = calloc(1, sizeof *v->tail);
    return v->tail;
}

/* A seal that gives no rows: the store only takes the log's head. */
static int hold_fn(void *arg, const store_audit_head *h, store_audit_row *out, size_t cap,
                   size_t *n)
{
    (void)arg;
    (void)h;
    (void)out;
    (void)cap;
    *n = 0;
    return VAULT_OK;
}

/* A log's newest entry and tree state as the store has them, checked
 * against each other (once per transaction); the city log's state also
 * gives the trust digest.  lock (in a transaction that may write): held
 * first, for the transaction, so that what is read is the newest and
 * stays so (a server backend locks the log's head row: other
 * transactions append to the log meanwhile otherwise); a chain read
 * without it earlier in the transaction is read again.  Every chain a
 * transaction seals or claims from its own seal is loaded so. */
static int chain_load(audit_tail *t, audit_chain *ch, vault *v, int lock)
{
    int rc = VAULT_OK;
    uint8_t *last = NULL, trust[32];
    size_t len = 0;
    int known = 0;

    lock = lock && store_tx_writes(v->db);
    if (ch->valid && (ch->locked || !lock))
        return VAULT_OK;
    if (lock) {
        /* nothing of it is sealed yet: sealing holds it */
        ENSURE(!ch->valid || ch->pos == ch->state_pos, VAULT_ESTATE,
               "audit log: a chain sealed without its head held");
        ch->valid = 0;
        GUARD(store_audit_seal_in(v->db, ch->log, hold_fn, NULL));
        ch->locked = 1;
    }
    ch->seq = 0;
    GUARD(store_audit_last_in(&ch->pos, &last, &len, ch->head, v->db, ch->log));
    if (last) {
        rc = af_entry_check(&ch->seq, last, len);
        ENSURE(rc == VAULT_OK, VAULT_EINTEGRITY,
               "audit log: the newest entry%s%s is damaged; run vaultctl audit verify",
               is_city(ch) ? "" : " of log ", ch->log);
    }
    GUARD(tree_load(&ch->tree, is_city(ch) ? t->trust : trust,
                    is_city(ch) ? &t->trust_known : &known, &ch->state_pos, NULL, v, ch->log));
    ENSURE(!known, VAULT_EINTEGRITY,
           "audit log: the tree state of log %s carries a trust digest (only the city log's "
           "does)", ch->log);
    ENSURE(ch->state_pos == ch->pos, VAULT_EINTEGRITY,
           "audit log: the tree state is not on the newest entry%s%s",
           is_city(ch) ? "" : " of log ", ch->log);
    ENSURE(ch->tree.size == ch->seq, VAULT_EINTEGRITY,
           "audit log: the tree state covers %llu entries but the log%s%s has %llu",
           (unsigned long long)ch->tree.size, is_city(ch) ? "" : " ", ch->log,
           (unsigned long long)ch->seq);
    ch->valid = 1;
cleanup:
    free(last);
    return rc;
}

/* The city log's chain, held where the transaction may write (a
 * checkpoint is signed over it, or the trust digest goes onto it). */
static int tail_load(audit_tail *t, vault *v)
{
    return chain_load(t, &t->city, v, 1);
}

/* The tail's chain for log (created, in name order, when new). */
static int chain_for(audit_chain **out, audit_tail *t, const char *log)
{
    size_t lo = 0, hi = t->nlogs, mid;
    int c;

    *out = NULL;
    if (!log || !*log) {
        *out = &t->city;
        return VAULT_OK;
    }
    if (store_log_check(log) < 0)
        return vault__err(VAULT_EINVALID, "audit log: %s", vault_error_last());
    while (lo < hi) {
        mid = (lo + hi) / 2;
        c = strcmp(t->logs[mid].log, log);
        if (c == 0) {
            *out = &t->logs[mid];
            return VAULT_OK;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (vault__grow((void **)&t->logs, &t->logs_cap, t->nlogs + 1, sizeof *t->logs, 8) < 0)
        return VAULT_ENOMEM;
    memmove(&t->logs[lo + 1], &t->logs[lo], (t->nlogs - lo) * sizeof *t->logs);
    memset(&t->logs[lo], 0, sizeof t->logs[lo]);
    snprintf(t->logs[lo].log, sizeof t->logs[lo].log, "%s", log);
    t->nlogs++;
    *out = &t->logs[lo];
    return VAULT_OK;
}

/* Checkpoints that fell due while sealing: the tree size and root. */
#define DUE_MAX 64
typedef struct seal_ctx {
    vault *v;
    audit_chain *t; /* the chain sealed */
    size_t ndue;
    uint64_t due_size[DUE_MAX];
    uint8_t due_root[DUE_MAX][32];
    int rc;
} seal_ctx;

/* store_audit_seal callback: called while the store holds the log head.
 * Numbers, hashes and chains the next collected entries. */
static int seal_fn(void *arg, const store_audit_head *h, store_audit_row *out, size_t cap,
                   size_t *n)
{
    seal_ctx *c = arg;
    audit_chain *t = c->t;
    int rc = VAULT_OK;
    uint8_t leaf[32];
    audit_pending *p;

    *n = 0;
    /* The head loaded for this transaction must be the one the store now
     * holds (a server backend locks it only for the append). */
    ENSURE(t->valid && h->pos == t->pos && vc_equal(h->head, t->head, 32), VAULT_EBUSY,
           "audit log: another connection appended meanwhile; try again");
    while (*n < cap && t->sealed < t->np && c->ndue < DUE_MAX) {
        p = &t->p[t->sealed];
        af_entry_set_seq(p->enc, p->len, t->seq + 1);
        af_leaf_hash(leaf, p->enc, p->len);
        af_chain_next(p->head, t->head, leaf);
        af_merkle_push(&t->tree, leaf);
        t->pos++;
        t->seq++;
        memcpy(t->head, p->head, 32);
        out[*n].pos = t->pos;
        out[*n].entry = p->enc;
        out[*n].len = p->len;
        out[*n].head = p->head;
        out[*n].head_len = 32;
        out[*n].record_id = p->has_record ? p->record_id : NULL;
        out[*n].user = p->user;
        out[*n].flags = p->flags;
        (*n)++;
        t->sealed++;
        t->dirty = 1;
        /* the city log's checkpoints (a shard log's are to come:
         * docs/postgresql.md "Per-shard chains") */
        if (is_city(t) && t->tree.size % AUDIT_CHECKPOINT_EVERY == 0) {
            c->due_size[c->ndue] = t->tree.size;
            af_merkle_root(&t->tree, c->due_root[c->ndue]);
            if (++c->ndue == DUE_MAX)
                break; /* the caller signs these, then seals on */
        }
    }
cleanup:
    return rc;
}

static int checkpoint_store(char **out_note, vault *v, uint64_t size, const uint8_t root[32]);

/* Seal every entry collected for one log and sign the checkpoints that
 * fell due; the sealed entries' bytes are released (the store has them). */
static int seal_chain(vault *v, audit_tail *t, audit_chain *ch)
{
    int rc = VAULT_OK;
    seal_ctx c;
    size_t i;

    if (ch->sealed < ch->np) {
        memset(&c, 0, sizeof c);
        c.v = v;
        c.t = ch;
        GUARD(chain_load(t, ch, v, 1));
        /* A large load seals many checkpoints' worth: sign them as they
         * fall due, DUE_MAX at a time. */
        while (ch->sealed < ch->np) {
            c.ndue = 0;
            GUARD(store_audit_seal_in(v->db, ch->log, seal_fn, &c));
            for (i = 0; i < c.ndue; i++)
                GUARD(checkpoint_store(NULL, v, c.due_size[i], c.due_root[i]));
        }
        /* The state moves onto the new newest entry (every seal: a long
         * transaction's store is never without it). */
        GUARD(tree_save(t, ch, v));
    }
    for (i = 0; i < ch->np; i++)
        free(ch->p[i].enc);
    ch->np = ch->sealed = 0;
cleanup:
    return rc;
}

static int heads_append(vault *v, audit_tail *t, int all);

/* Every log's collected entries: the shard logs in name order, then the
 * city log (two transactions that append to the same logs take their
 * heads in the same order).  A shard log that crossed a multiple of
 * AUDIT_CHECKPOINT_EVERY has its head claimed in the city log (a
 * log_heads entry, before the city log's own entries are sealed) and a
 * city checkpoint signed over it.
 *
 * mid: a seal in the middle of a long transaction (AUDIT_PENDING_BYTES):
 * the shard logs only, while the city log's head is not held yet and the
 * store keeps shard logs, so that the city log's head is still taken
 * after every shard log's this transaction takes, at its commit (an
 * audited read, which takes no write lock, takes a shard's and then the
 * city log's: a writer holding the city log's while it waits for a
 * shard's would deadlock with it); a crossing's claim waits for the
 * commit too.  The city log's entries are sealed mid-transaction only in
 * a store of one log, once its head is held anyway, or once they alone
 * reach AUDIT_PENDING_BYTES (memory stays bounded; docs/postgresql.md
 * "Audited reads" names the lock-order exception that makes). */
static int seal_pending(vault *v, audit_tail *t, int mid)
{
    int rc = VAULT_OK, crossed = t->crossed;
    size_t i;
    uint64_t before;

    /* From here the kept tail and the store move together (every log's,
     * and the claim of a crossing): if any of it fails, the transaction
     * may not commit. */
    t->broken = 1;
    for (i = 0; i < t->nlogs; i++) {
        audit_chain *ch = &t->logs[i];
        if (ch->sealed == ch->np)
            continue;
        GUARD(chain_load(t, ch, v, 1));
        before = ch->tree.size;
        GUARD(seal_chain(v, t, ch));
        if (before / AUDIT_CHECKPOINT_EVERY != ch->tree.size / AUDIT_CHECKPOINT_EVERY)
            crossed = 1;
    }
    if (mid && !t->city.locked && store_many_logs(v->db) && t->city_bytes < AUDIT_PENDING_BYTES) {
        t->crossed = crossed;
        t->bytes = t->city_bytes;
        t->broken = 0;
        goto cleanup;
    }
    t->crossed = 0;
    if (crossed) {
        t->sealing = 1; /* its entry is collected, not sealed on the spot */
        rc = heads_append(v, t, 0);
        t->sealing = 0;
        GUARD(rc);
    }
    if (!mid && (store_trust_changed(v->db) || t->trust_mark)) {
        /* A grant or the policy changed: the state the log now vouches
         * for, on the city log's head, taken here, after every shard
         * log's (first, so the seal below writes the state once). */
        GUARD(tail_load(t, v));
        GUARD(store_trust_digest(v->db, t->trust));
        t->trust_known = 1;
        t->trust_mark = 0;
        t->city.dirty = 1;
    }
    GUARD(seal_chain(v, t, &t->city));
    if (crossed && t->city.tree.size % AUDIT_CHECKPOINT_EVERY != 0) {
        /* (a size on the interval was signed by the seal) */
        uint8_t root[32];
        af_merkle_root(&t->city.tree, root);
        GUARD(checkpoint_store(NULL, v, t->city.tree.size, root));
    }
    t->bytes = t->city_bytes = 0;
    t->broken = 0;
cleanup:
    return rc;
}

/* Seal what is collected, write the tree state.  Inside the write
 * transaction, before COMMIT. */
int audit_tx_flush(vault *v)
{
    int rc = VAULT_OK;
    audit_tail *t = v->tail;

    if (!t)
        return VAULT_OK; /* nothing appended on this handle yet */
    if (t->broken)
        return vault__err(VAULT_ESTATE, "audit: sealing failed in this transaction; rolled back");
    /* (a changed trust digest goes onto the city log's state there) */
    GUARD(seal_pending(v, t, 0));
    if (t->city.valid && t->city.dirty)
        GUARD(tree_save(t, &t->city, v)); /* the trust changed and nothing was sealed */
cleanup:
    return rc;
}

int audit_trust_check(vault *v)
{
    int rc = VAULT_OK, known = 0;
    af_merkle m;
    uint8_t kept[32], now[32];
    int64_t at = 0;

    ENSURE(store_in_tx(v->db), VAULT_ESTATE, "audit: trust check outside a transaction");
    GUARD(tree_load(&m, kept, &known, &at, NULL, v, STORE_LOG_CITY));
    if (known) {
        GUARD(store_trust_digest(v->db, now));
        ENSURE(vc_equal(kept, now, 32), VAULT_EINTEGRITY,
               "the grants and policy failed their integrity check: they are not the ones the "
               "audit log recorded (a row was put back or removed outside libvault)");
    }
cleanup:
    return rc;
}

void audit_trust_mark(vault *v)
{
    audit_tail *t = tail_get(v);

    if (t)
        t->trust_mark = 1;
}

static void chain_free(audit_chain *ch)
{
    size_t i;

    for (i = 0; i < ch->np; i++)
        free(ch->p[i].enc);
    free(ch->p);
}

void audit_tx_forget(vault *v)
{
    audit_tail *t = v->tail;
    size_t i;

    if (!t)
        return;
    chain_free(&t->city);
    for (i = 0; i < t->nlogs; i++)
        chain_free(&t->logs[i]);
    free(t->logs);
    {
        /* A refused commit's entry outlives its transaction until logged. */
        int late_set = t->late_set;
        audit_late late = t->late;
        memset(t, 0, sizeof *t);
        t->late_set = late_set;
        t->late = late;
    }
}

/* ---- deadlines: nothing commits for a credential that expired ---- */

static void late_copy(audit_late *l, const af_entry *e)
{
    memset(l, 0, sizeof *l);
    snprintf(l->user, sizeof l->user, "%s", e->user ? e->user : "");
    snprintf(l->role, sizeof l->role, "%s", e->role ? e->role : "");
    snprintf(l->department, sizeof l->department, "%s", e->department ? e->department : "");
    snprintf(l->jurisdiction, sizeof l->jurisdiction, "%s",
             e->jurisdiction ? e->jurisdiction : "");
    snprintf(l->purpose, sizeof l->purpose, "%s", e->purpose ? e->purpose : "");
    snprintf(l->action, sizeof l->action, "%s", e->action ? e->action : "");
    snprintf(l->who.issuer, sizeof l->who.issuer, "%s", e->who.issuer ? e->who.issuer : "");
    snprintf(l->who.subject, sizeof l->who.subject, "%s", e->who.subject ? e->who.subject : "");
    snprintf(l->who.token_id, sizeof l->who.token_id, "%s",
             e->who.token_id ? e->who.token_id : "");
    snprintf(l->who.app, sizeof l->who.app, "%s", e->who.app ? e->who.app : "");
    snprintf(l->who.peer, sizeof l->who.peer, "%s", e->who.peer ? e->who.peer : "");
    l->who.not_after = e->not_after;
    l->has_record = e->has_record;
    if (e->has_record)
        memcpy(l->record_id, e->record_id, VAULT_ID_BYTES);
}

int audit_tx_due(vault *v, int64_t now)
{
    audit_tail *t = v->tail;

    if (!t || !t->deadline || now <= t->deadline)
        return VAULT_OK;
    t->late = t->held;
    t->late_set = 1;
    return vault__err(VAULT_EAUTH,
                      "the caller's token expired during the request; nothing was committed");
}

int audit_late_take(audit_late *out, vault *v)
{
    audit_tail *t = v->tail;

    if (!t || !t->late_set)
        return 0;
    *out = t->late;
    t->late_set = 0;
    memset(&t->late, 0, sizeof t->late);
    return 1;
}

int audit_late_append(vault *v, const audit_late *l)
{
    af_entry e;
    char detail[128];

    memset(&e, 0, sizeof e);
    e.user = l->user;
    e.role = l->role;
    e.department = l->department;
    e.jurisdiction = l->jurisdiction;
    e.purpose = l->purpose;
    e.who.issuer = l->who.issuer;
    e.who.subject = l->who.subject;
    e.who.token_id = l->who.token_id;
    e.who.app = l->who.app;
    e.who.peer = l->who.peer;
    e.action = l->action;
    e.outcome = AF_OUTCOME_DENIED; /* releases nothing: no deadline of its own */
    e.has_record = l->has_record;
    memcpy(e.record_id, l->record_id, VAULT_ID_BYTES);
    snprintf(detail, sizeof detail,
             "refused at commit: the caller's token expired (not_after %lld); nothing was "
             "committed",
             (long long)l->who.not_after);
    e.detail = detail;
    return audit_append(v, &e);
}

void audit_tail_free(vault *v)
{
    audit_tx_forget(v);
    free(v->tail);
    v->tail = NULL;
}

/* ---- appending ---- */

void audit_entry_init(af_entry *e, const vault *v, const vault_session *s, const char *action)
{
    /* The one place an entry gets its principal: the session's, or the
     * actor's for operations without one. */
    const vault__who *w = s ? &s->who : &v->actor_who;

    memset(e, 0, sizeof *e);
    if (s) {
        e->user = s->user;
        e->role = s->role;
        e->department = s->department;
        e->jurisdiction = s->jurisdiction;
        e->purpose = s->purpose;
    } else {
        e->user = v->actor;
    }
    e->who.issuer = w->issuer;
    e->who.subject = w->subject;
    e->who.token_id = w->token_id;
    e->who.app = w->app;
    e->who.peer = w->peer;
    e->not_after = w->not_after;
    e->action = action;
    e->outcome = AF_OUTCOME_OK;
}

int audit_entry_read(af_entry *e, void **storage, int64_t pos, const uint8_t *entry, size_t len)
{
    if (af_entry_decode(e, storage, entry, len) < 0)
        return vault__err(VAULT_EINTEGRITY,
                          "audit log: entry at position %lld is damaged; run audit verify",
                          (long long)pos);
    return VAULT_OK;
}

int audit_append(vault *v, af_entry *e)
{
    int rc = VAULT_OK;
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    audit_tail *t = tail_get(v);
    audit_chain *ch = NULL;
    audit_pending *p, *grown;

    ENSURE(t, VAULT_ENOMEM, "out of memory");
    ENSURE(store_in_tx(v->db) && store_tx_writes(v->db), VAULT_ESTATE,
           "audit: append outside a write transaction");
    /* (seal_pending's own log_heads entry is collected while it seals) */
    ENSURE(!t->broken || t->sealing, VAULT_ESTATE,
           "audit: sealing failed in this transaction; rolled back");
    /* Its log: the one it names where the store keeps shard logs, else
     * its record's shard (vault__route), else the city log (a vault file
     * is one shard). */
    if (store_many_logs(v->db))
        GUARD(chain_for(&ch, t, e->log ? e->log
                                : e->has_record ? vault__routed(v, e->record_id) : NULL));
    else
        GUARD(chain_for(&ch, t, NULL));
    e->version = AF_VERSION_2; /* every new entry */
    e->seq = 0; /* numbered when sealed */
    e->time_us = now_us();
    memcpy(e->policy_hash, policy_hash(v->policy), 32);
    GUARD(af_entry_encode(&enc, &enc_len, e));
    if (ch->np == ch->cap) {
        size_t cap = ch->cap ? ch->cap * 2 : 16;
        grown = realloc(ch->p, cap * sizeof *ch->p);
        ENSURE(grown, VAULT_ENOMEM, "out of memory");
        ch->p = grown;
        ch->cap = cap;
    }
    p = &ch->p[ch->np];
    memset(p, 0, sizeof *p);
    p->enc = enc;
    p->len = enc_len;
    enc = NULL;
    p->has_record = e->has_record;
    if (e->has_record)
        memcpy(p->record_id, e->record_id, VAULT_ID_BYTES);
    /* The user copy the report index files the entry under: the
     * comparison form reports look it up by. */
    if (!e->user || vault__user_norm(p->user, sizeof p->user, e->user, "user") < 0) {
        snprintf(p->user, sizeof p->user, "%s", e->user ? e->user : "");
        vault__err_clear();
    }
    p->flags = e->flags;
    /* An access or a change commits only while its credential is good. */
    if (e->outcome == AF_OUTCOME_OK && e->not_after &&
        (!t->deadline || e->not_after < t->deadline)) {
        t->deadline = e->not_after;
        late_copy(&t->held, e);
    }
    ch->np++;
    t->bytes += enc_len;
    if (ch == &t->city)
        t->city_bytes += enc_len;
    /* A long transaction (an import) seals as it goes, so the collected
     * entries never hold more than AUDIT_PENDING_BYTES (the shard logs':
     * the city log's wait for the commit up to as much again). */
    if ((t->bytes - t->city_bytes >= AUDIT_PENDING_BYTES || t->city_bytes >= AUDIT_PENDING_BYTES) &&
        !t->sealing)
        GUARD(seal_pending(v, t, 1));
cleanup:
    free(enc);
    return rc;
}

/* ---- the vault as its own first witness ----
 *
 * The meta row "audit_signed" (row MAC'd) records the last checkpoint this
 * vault signed: its size (u64le), the storage position of its last entry
 * (i64le), the chain head after it, and the popcount(size) subtree roots
 * of the tree at that size (as the tree state).  Before signing a larger
 * tree the vault reads the entries after that position, re-chains them
 * from the recorded head and extends the recorded tree with them: the
 * result must be the tree it is about to sign.  A log rewritten, cut or
 * put back behind its back fails that, and nothing is signed (docs/
 * audit-format.md "The vault as its own first witness"). */

typedef struct signed_rec {
    af_merkle tree;
    int64_t pos;
    uint8_t head[32];
} signed_rec;

/* The record stored under meta key `key` (*found 0 when absent). */
static int rec_load(signed_rec *r, int *found, vault *v, const char *key)
{
    int rc = VAULT_OK;
    uint8_t blob[SIGNED_BLOB];
    size_t n = 0, live;
    int i;

    memset(r, 0, sizeof *r);
    af_merkle_init(&r->tree);
    *found = 0;
    rc = store_meta_get(v->db, key, blob, sizeof blob, &n);
    if (rc == VAULT_ENOTFOUND) {
        vault__err_clear();
        rc = VAULT_OK;
        goto cleanup; /* nothing signed since this record exists */
    }
    GUARD(rc);
    ENSURE(n >= 48, VAULT_EINTEGRITY,
           "audit log: integrity check failed: the record of the last signed checkpoint is "
           "damaged");
    for (i = 0; i < 8; i++) {
        r->tree.size |= (uint64_t)blob[i] << (8 * i);
        r->pos |= (int64_t)((uint64_t)blob[8 + i] << (8 * i));
    }
    memcpy(r->head, blob + 16, 32);
    live = (size_t)__builtin_popcountll(r->tree.size);
    ENSURE(n == 48 + 32 * live && r->pos >= 0, VAULT_EINTEGRITY,
           "audit log: integrity check failed: "
           "the record of the last signed checkpoint is damaged");
    memcpy(r->tree.stack, blob + 48, 32 * live);
    *found = 1;
cleanup:
    return rc;
}

static int signed_load(signed_rec *r, int *found, vault *v)
{
    return rec_load(r, found, v, META_SIGNED);
}

static int rec_save(const signed_rec *r, vault *v, const char *key)
{
    uint8_t blob[SIGNED_BLOB];
    size_t live = (size_t)__builtin_popcountll(r->tree.size);
    int i;

    for (i = 0; i < 8; i++) {
        blob[i] = (uint8_t)(r->tree.size >> (8 * i));
        blob[8 + i] = (uint8_t)((uint64_t)r->pos >> (8 * i));
    }
    memcpy(blob + 16, r->head, 32);
    memcpy(blob + 48, r->tree.stack, 32 * live);
    return store_meta_put(v->db, key, blob, 48 + 32 * live);
}

static int signed_save(const signed_rec *r, vault *v)
{
    return rec_save(r, v, META_SIGNED);
}

/* ---- the tree at each checkpoint (for audit verify --since) ----
 *
 * Every checkpoint the vault signs also leaves the same record as
 * "audit_signed" under meta key "audit_cp/<size>": the storage position
 * of its last entry, the chain head after it and the subtree roots of
 * the tree at its size.  Incremental verification starts from it once
 * the roots fold to the root of a checkpoint the auditor trusts (so the
 * row needs no other authentication; its MAC is the meta rows' one). */
static void cp_key(char *out, size_t cap, uint64_t size)
{
    snprintf(out, cap, "audit_cp/%llu", (unsigned long long)size);
}

int audit__checkpoint_state(af_merkle *tree, int64_t *pos, uint8_t head[32], int *found, vault *v,
                            uint64_t size)
{
    int rc = VAULT_OK;
    signed_rec r;
    char key[40];

    cp_key(key, sizeof key, size);
    GUARD(rec_load(&r, found, v, key));
    if (*found && r.tree.size != size) {
        *found = 0;
        rc = vault__err(VAULT_EINTEGRITY, "audit log: integrity check failed: the kept tree of "
                        "checkpoint %llu is stored under another size",
                        (unsigned long long)size);
        goto cleanup;
    }
    *tree = r.tree;
    *pos = r.pos;
    memcpy(head, r.head, 32);
cleanup:
    return rc;
}

typedef struct extend_ctx {
    signed_rec *r;
    uint64_t to;
} extend_ctx;

static int extend_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                     size_t head_len)
{
    extend_ctx *c = arg;
    signed_rec *r = c->r;
    uint64_t seq = 0;
    uint8_t leaf[32], next[32];

    if (af_entry_check(&seq, entry, len) < 0 || seq != r->tree.size + 1)
        return vault__err(VAULT_EINTEGRITY,
                          "audit log: integrity check failed: "
                          "entry %llu after the last checkpoint "
                          "this vault signed is not the next one (the log was rewritten outside "
                          "libvault); refused",
                          (unsigned long long)(r->tree.size + 1));
    af_leaf_hash(leaf, entry, len);
    af_chain_next(next, r->head, leaf);
    if (head_len != 32 || !vc_equal(next, head, 32))
        return vault__err(VAULT_EINTEGRITY,
                          "audit log: integrity check failed: "
                          "entry %llu does not chain onto the last "
                          "checkpoint this vault signed (the log was rewritten outside libvault); "
                          "refused", (unsigned long long)seq);
    af_merkle_push(&r->tree, leaf);
    memcpy(r->head, next, 32);
    r->pos = pos;
    return r->tree.size >= c->to ? 1 : 0;
}

/* The tree of (size, root) must extend the last checkpoint this vault
 * signed; *r becomes the record of (size, root).  On a refusal *cls
 * says which kind (KS_REFUSED_*). */
static int witness_self(signed_rec *r, int *cls, vault *v, uint64_t size, const uint8_t root[32])
{
    int rc = VAULT_OK, found = 0;
    uint8_t have[32];
    extend_ctx c;

    *cls = KS_REFUSED_REWRITTEN; /* a damaged record, entries that don't chain */
    GUARD(signed_load(r, &found, v));
    *cls = KS_REFUSED_RECORD_MISSING;
    /* Deleting the record must not start the history afresh: the keys
     * file says whether one existed.  (A vault from before the record
     * starts from its first entry, once.) */
    ENSURE(found || !v->anchor_known || v->anchor.size == 0, VAULT_EINTEGRITY,
           "audit log: integrity check failed: "
           "the record of the last checkpoint this vault signed is missing, and the "
           "keys file %s records one of %llu entries (the store was changed outside libvault); "
           "refused", v->keys_path, (unsigned long long)v->anchor.size);
    *cls = KS_REFUSED_ROLLED_BACK;
    ENSURE(!v->anchor_known || r->tree.size >= v->anchor.size, VAULT_EINTEGRITY,
           "audit log: integrity check failed: "
           "rolled back: the keys file %s records a signed checkpoint of %llu entries "
           "and the store's record only %llu; refused", v->keys_path,
           (unsigned long long)v->anchor.size, (unsigned long long)r->tree.size);
    ENSURE(r->tree.size <= size, VAULT_EINTEGRITY,
           "audit log: integrity check failed: "
           "rolled back: this vault signed a checkpoint of %llu entries and the log "
           "now has %llu (the store was replaced by an older copy or cut); refused",
           (unsigned long long)r->tree.size, (unsigned long long)size);
    *cls = KS_REFUSED_REWRITTEN;
    if (r->tree.size < size) {
        c.r = r;
        c.to = size;
        GUARD(store_audit_scan(v->db, r->pos, extend_fn, &c));
    }
    af_merkle_root(&r->tree, have);
    ENSURE(r->tree.size == size && vc_equal(have, root, 32), VAULT_EINTEGRITY,
           "audit log: integrity check failed: "
           "the log of %llu entries does not extend the last checkpoint this vault "
           "signed (the store was changed outside libvault); refused",
           (unsigned long long)size);
cleanup:
    return rc;
}

int audit__signed_size(uint64_t *size, int *found, vault *v)
{
    signed_rec r;
    int rc = signed_load(&r, found, v);

    *size = rc == VAULT_OK ? r.tree.size : 0;
    return rc;
}

/* Count a refusal of the store in the keys file's anchor (docs/keyslots.md
 * section 10), only under the store's write lock like every writer of
 * the keys file; the refusal's error code and message stay what they
 * were whatever happens here. */
static void refusal_note(vault *v, int rc, int cls)
{
    char saved[512];
    int code = vault_error_code();
    ks_anchor a;

    if (rc != VAULT_EINTEGRITY || !v->anchor_known || !v->keys_path || !store_in_tx(v->db) ||
        !store_tx_writes(v->db))
        return;
    snprintf(saved, sizeof saved, "%s", vault_error_last());
    if (ks_refusal_note(&a, v->keys_path, keyring_master(v->keys), cls, now_us()) == VAULT_OK)
        v->anchor.refused = a.refused;
    vault__err(code, "%s", saved);
}

static int anchor_check(vault *v, int *cls)
{
    int rc = VAULT_OK, found = 0;
    signed_rec r;
    uint8_t root[32];
    audit_tail *t = tail_get(v);

    *cls = KS_REFUSED_REWRITTEN;
    ENSURE(t, VAULT_ENOMEM, "out of memory");
    ENSURE(store_in_tx(v->db), VAULT_ESTATE, "audit: anchor check outside a transaction");
    GUARD(signed_load(&r, &found, v));
    /* The log must extend what the vault signed last: at most one
     * interval of entries to read (a checkpoint falls due every
     * AUDIT_CHECKPOINT_EVERY). */
    if (found || (v->anchor_known && v->anchor.size > 0)) {
        GUARD(tail_load(t, v));
        af_merkle_root(&t->city.tree, root);
        GUARD(witness_self(&r, cls, v, t->city.tree.size, root));
        GUARD(signed_load(&r, &found, v));
    }
    if (!v->anchor_known || v->anchor.size == 0)
        goto cleanup;
    *cls = KS_REFUSED_ROLLED_BACK;
    ENSURE(found && r.tree.size >= v->anchor.size, VAULT_EINTEGRITY,
           "audit log: integrity check failed: "
           "rolled back: the keys file %s records a signed checkpoint of %llu entries "
           "and the store's log has signed only %llu (the vault file was replaced by an older "
           "copy)", v->keys_path, (unsigned long long)v->anchor.size,
           (unsigned long long)r.tree.size);
    if (r.tree.size == v->anchor.size) {
        af_merkle_root(&r.tree, root);
        *cls = KS_REFUSED_REWRITTEN;
        ENSURE(vc_equal(root, v->anchor.root, 32), VAULT_EINTEGRITY,
               "audit log: integrity check failed: "
               "the store's last signed checkpoint is not the one the keys file %s "
               "records (another history of %llu entries)", v->keys_path,
               (unsigned long long)r.tree.size);
    }
cleanup:
    return rc;
}

int audit_anchor_check(vault *v)
{
    int cls = KS_REFUSED_REWRITTEN;
    int rc = anchor_check(v, &cls);

    refusal_note(v, rc, cls);
    return rc;
}

void audit_anchor_sync(vault *v, int committed)
{
    audit_tail *t = v->tail;

    if (!t || !t->signed_dirty)
        return;
    t->signed_dirty = 0;
    if (committed)
        v->witness_due = 1; /* for the witnesses (audit_witness.c) */
    if (!committed || !v->anchor_known || !v->keys_path ||
        t->signed_size <= v->anchor.size)
        return;
    /* Written by audit_anchor_flush, under the write lock that every
     * writer of the keys file holds (not here, at the transaction's end). */
    v->anchor_pending = 1;
    v->anchor_pending_size = t->signed_size;
    memcpy(v->anchor_pending_root, t->signed_root, 32);
}

void audit_anchor_flush(vault *v)
{
    ks_anchor a;

    if (!v->anchor_pending)
        return;
    v->anchor_pending = 0;
    if (!v->anchor_known || v->anchor_pending_size <= v->anchor.size ||
        !store_in_tx(v->db) || !store_tx_writes(v->db))
        return;
    /* Another handle (another vaultd) may have moved it further since this
     * one read it: audited reads sign checkpoints on many handles at once.
     * The anchor only moves forward here. */
    {
        ks_anchor cur;
        int found = 0;
        if (ks_anchor_get(&cur, &found, v->keys_path, keyring_master(v->keys)) != VAULT_OK ||
            (found && !vc_equal(cur.pk, v->anchor.pk, sizeof cur.pk))) {
            vault__err_clear(); /* not this handle's to overwrite: one behind */
            return;
        }
        if (found && cur.size >= v->anchor_pending_size) {
            v->anchor = cur;
            return;
        }
    }
    a = v->anchor;
    a.size = v->anchor_pending_size;
    memcpy(a.root, v->anchor_pending_root, 32);
    if (ks_anchor_set(v->keys_path, keyring_master(v->keys), &a) == VAULT_OK)
        v->anchor = a;
    /* else: one checkpoint behind until the next one (docs/keyslots.md) */
    vault__err_clear();
}

/* Sign the tree at (size, root) and store the note. */
static int checkpoint_store(char **out_note, vault *v, uint64_t size, const uint8_t root[32])
{
    int rc = VAULT_OK, cls = KS_REFUSED_REWRITTEN;
    uint8_t *sk = NULL;
    char origin[64], *note = NULL, key[40];
    signed_rec r;
    audit_tail *t = tail_get(v);

    ENSURE(t, VAULT_ENOMEM, "out of memory");
    audit__origin(origin, sizeof origin, v);
    rc = witness_self(&r, &cls, v, size, root);
    refusal_note(v, rc, cls);
    GUARD(rc);
    GUARD(load_sk(&sk, v));
    GUARD(af_checkpoint_sign_at(&note, origin, size, root, vault__now(), sk));
    GUARD(store_checkpoint_add(v->db, size, note, vault__now()));
    GUARD(signed_save(&r, v));
    cp_key(key, sizeof key, size);
    GUARD(rec_save(&r, v, key));
    t->signed_dirty = 1;
    t->signed_size = size;
    memcpy(t->signed_root, root, 32);
    /* The report indexes catch up here, off the hot path. */
    GUARD(store_audit_index(v->db));
    if (out_note) {
        *out_note = note;
        note = NULL;
    }
cleanup:
    vc_free(sk);
    free(note);
    return rc;
}

/* ---- the shard logs' heads in the city log ----
 *
 * A log_heads entry (docs/audit-format.md "Shard logs") claims, in its
 * detail, the size and Merkle root of shard logs, one line each,
 * "SIZE ROOTHEX LOG\n" (af_claim_line; the log's name last: it has no
 * control character), at most AF_CLAIMS_PER_ENTRY lines an entry.  The
 * city checkpoints that cover it cover those heads: verification checks
 * every claim against the shard log it names.  The meta row "audit_claimed" (MAC'd)
 * keeps the sum of the shard logs' sizes at the last full claim, which is
 * how op_checkpoint_if_needed sees shard entries no checkpoint covers. */
#define META_CLAIMED "audit_claimed"

typedef struct heads_buf {
    char *text;
    size_t len, cap;
    size_t lines;
    uint64_t total; /* the shard logs' sizes, summed */
} heads_buf;

static int heads_line(heads_buf *b, const char *log, uint64_t size, const uint8_t root[32])
{
    if (af_claim_line(&b->text, &b->len, &b->cap, log, size, root) < 0)
        return VAULT_ENOMEM;
    b->lines++;
    b->total += size;
    return VAULT_OK;
}

/* One log_heads entry of what b holds, collected in the city log. */
static int heads_flush(vault *v, heads_buf *b)
{
    af_entry e;
    int rc;

    if (!b->lines)
        return VAULT_OK;
    audit_entry_init(&e, v, NULL, AUDIT_LOG_HEADS);
    e.detail = b->text;
    e.log = NULL;
    rc = audit_append(v, &e);
    b->len = 0;
    b->lines = 0;
    if (b->text)
        b->text[0] = '\0';
    return rc;
}

/* The store's shard logs, each with a chain in the tail (loaded later:
 * the listing's callback does not use the store). */
static int heads_of(void *arg, const char *log, int64_t pos)
{
    audit_chain *ch = NULL;

    (void)pos;
    if (!*log)
        return 0;
    return chain_for(&ch, arg, log);
}

/* Claim shard heads in the city log: every shard log's (all), or those
 * this transaction sealed. */
static int heads_append(vault *v, audit_tail *t, int all)
{
    int rc = VAULT_OK;
    heads_buf b;
    size_t i;
    uint8_t root[32], sum[8];

    memset(&b, 0, sizeof b);
    if (all)
        GUARD(store_audit_logs(v->db, heads_of, t));
    for (i = 0; i < t->nlogs; i++) {
        audit_chain *ch = &t->logs[i];
        if (all && !ch->valid) {
            /* its head as this transaction has it; a damaged shard log is
             * left unclaimed (verification reports it), never a reason to
             * sign no city checkpoint */
            rc = chain_load(t, ch, v, 0);
            if (rc == VAULT_EINTEGRITY) {
                vault__err_clear();
                rc = VAULT_OK;
                continue;
            }
            GUARD(rc);
        }
        if (!ch->valid || !ch->tree.size)
            continue;
        af_merkle_root(&ch->tree, root);
        GUARD(heads_line(&b, ch->log, ch->tree.size, root));
        if (b.lines == AF_CLAIMS_PER_ENTRY)
            GUARD(heads_flush(v, &b));
    }
    GUARD(heads_flush(v, &b));
    if (all) {
        for (i = 0; i < 8; i++)
            sum[i] = (uint8_t)(b.total >> (8 * i));
        GUARD(store_meta_put(v->db, META_CLAIMED, sum, sizeof sum));
    }
cleanup:
    free(b.text);
    return rc;
}

static int sum_shards(void *arg, const char *log, int64_t pos)
{
    if (*log)
        *(uint64_t *)arg += (uint64_t)pos;
    return 0;
}

int audit__heads_behind(int *out, vault *v)
{
    int rc = VAULT_OK, i;
    uint64_t total = 0, claimed = 0;
    uint8_t sum[8];
    size_t n = 0;

    *out = 0;
    if (!store_many_logs(v->db))
        return VAULT_OK;
    GUARD(store_audit_logs(v->db, sum_shards, &total));
    if (!total)
        goto cleanup;
    rc = store_meta_get(v->db, META_CLAIMED, sum, sizeof sum, &n);
    if (rc == VAULT_ENOTFOUND) {
        vault__err_clear();
        rc = VAULT_OK;
    }
    GUARD(rc);
    ENSURE(n == 0 || n == sizeof sum, VAULT_EINTEGRITY,
           "audit log: the record of the claimed shard heads is damaged");
    for (i = 0; i < 8 && n; i++)
        claimed |= (uint64_t)sum[i] << (8 * i);
    *out = total != claimed;
cleanup:
    return rc;
}

int audit_checkpoint(char **out_note, vault *v)
{
    int rc = VAULT_OK, behind = 0;
    uint8_t root[32];
    audit_tail *t = tail_get(v);

    ENSURE(t, VAULT_ENOMEM, "out of memory");
    /* Everything collected so far is sealed first: the checkpoint covers it. */
    GUARD(audit_tx_flush(v));
    /* and the shard logs' heads, claimed in the city log, with it */
    GUARD(audit__heads_behind(&behind, v));
    if (behind) {
        GUARD(heads_append(v, t, 1));
        GUARD(audit_tx_flush(v));
    }
    GUARD(tail_load(t, v));
    af_merkle_root(&t->city.tree, root);
    GUARD(checkpoint_store(out_note, v, t->city.tree.size, root));
cleanup:
    return rc;
}

/* One entry for a query on the audit log itself (export, checkpoint,
 * pubkey, verify), appended in the caller's write transaction.  Records
 * the actor, the action and a detail without values. */
int audit__log_meta(vault *v, const char *action, int outcome, const char *detail)
{
    af_entry e;

    audit_entry_init(&e, v, NULL, action);
    e.outcome = outcome;
    e.detail = detail;
    return audit_append(v, &e);
}

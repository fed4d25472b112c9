/* audit_witness: submitting the vault's newest checkpoint to witnesses
 * (C2SP tlog-witness, libvault/audit/witness_client.c) and storing the
 * cosignatures they return with the checkpoint (docs/witness.md
 * "Submitting from a vault").
 *
 * One call, three steps, and no network call inside a transaction:
 *   1. a read snapshot: the newest stored checkpoint, and for each
 *      witness the largest stored checkpoint it has cosigned (the size it
 *      holds, unless it lost track); then, per distinct size, the
 *      consistency proof from there (audit__prove_local, its own
 *      snapshot);
 *   2. no transaction and the handle unlocked: witness_submit to each
 *      witness that hasn't cosigned the newest checkpoint; on a 409 (the
 *      witness holds another size) once more with a proof from that size;
 *   3. one write transaction: each line returned is appended to the
 *      stored note if it verifies (af_cosignature_verify) with that
 *      witness's pinned key for exactly this checkpoint, and the row is
 *      written again (store_checkpoint_add replaces it, MAC'd anew).
 * Storing cosignatures is not logged: they are signed statements that
 * anyone can check, and a log entry for each would make the newest
 * checkpoint stale at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/audit_cosign.h"
#include "audit/witness_client.h"
#include "audit_prove.h"
#include "crypto.h"
#include "op.h"

typedef unsigned long long ull;

#define WITNESS_TARGETS_MAX 32

size_t vault_witness_status_size(void) { return sizeof(vault_witness_status); }

typedef struct target {
    witness_peer peer;
    char url[WITNESS_URL_MAX + 1]; /* a copy: the policy may be replaced while unlocked */
    uint64_t held;        /* the largest stored checkpoint it cosigned (0: none) */
    int done;             /* it cosigned the newest already */
    int unpinned;         /* the policy no longer pins its key: not submitted to */
    char *line;           /* the cosignature it returned (malloc'ed) */
    int rc;
    char message[256];
} target;

typedef struct scan_ctx {
    char origin[64];
    uint8_t pk[32];
    target *t;
    size_t nt;
    uint64_t want;        /* 0: keep the newest; else the note of this size */
    char *note;           /* that stored checkpoint (malloc'ed) */
    size_t len;
    uint64_t size;
} scan_ctx;

static int scan_fn(void *arg, uint64_t size, const char *note, size_t len)
{
    scan_ctx *c = arg;
    af_checkpoint cp;

    if (af_checkpoint_verify(&cp, note, len, c->origin, c->pk) != VAULT_OK || cp.size != size)
        return vault__err(VAULT_EINTEGRITY, "audit log: checkpoint %llu: bad signature; run "
                          "audit verify", (ull)size);
    for (size_t i = 0; i < c->nt; i++) {
        if (af_cosignature_verify(NULL, note, len, c->t[i].peer.name, c->t[i].peer.pk) ==
                VAULT_OK &&
            size > c->t[i].held)
            c->t[i].held = size;
        vault__err_clear();
    }
    if (c->want ? size == c->want : (!c->note || size > c->size)) {
        char *copy = strndup(note, len);

        if (!copy)
            return vault__err(VAULT_ENOMEM, "out of memory");
        free(c->note);
        c->note = copy;
        c->len = len;
        c->size = size;
    }
    return VAULT_OK;
}

/* The note as the log signed it: its text and the log's own signature
 * lines, without other witnesses' cosignatures (what is sent). */
static int log_signed(char **out, size_t *out_len, const char *note, size_t len,
                      const char *origin)
{
    int rc = VAULT_OK;
    size_t tlen, at, olen = strlen(origin);
    const char *p, *end = note + len;
    char *buf = NULL;

    GUARD(af_note_text_len(&tlen, note, len));
    buf = malloc(len + 1);
    ENSURE(buf, VAULT_ENOMEM, "out of memory");
    memcpy(buf, note, tlen + 1); /* the text and the blank line */
    at = tlen + 1;
    for (p = note + tlen + 1; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

        /* "— origin " (U+2014, a space, the log's key name, a space) */
        if (l > 4 + olen && memcmp(p, "\xe2\x80\x94 ", 4) == 0 && /* memcmp ok: not secret */
            memcmp(p + 4, origin, olen) == 0 && p[4 + olen] == ' ') { /* memcmp ok: not secret */
            memcpy(buf + at, p, l);
            at += l;
        }
        p += l;
    }
    buf[at] = '\0';
    *out = buf;
    *out_len = at;
    buf = NULL;
cleanup:
    free(buf);
    return rc;
}

/* A consistency proof from `from` to `to` (both in the stored log).
 * from 0 or from == to: no hashes. */
static int proof_for(vault_proof *pr, vault *v, uint64_t from, uint64_t to)
{
    memset(pr, 0, sizeof *pr);
    if (from == 0 || from >= to)
        return VAULT_OK;
    return audit__prove_local(pr, v, VAULT_PROOF_CONSISTENCY, from, to);
}

/* Step 2 for one witness: submit, and after a 409 once more from the size
 * the witness gave.  Runs with the handle unlocked except for the proof. */
static void submit_one(target *t, vault *v, const char *note, size_t len, uint64_t size,
                       long timeout_ms)
{
    vault_proof *pr = calloc(1, sizeof *pr);
    uint64_t old = t->held, got = 0;
    int rc, tries;

    if (!pr) {
        t->rc = vault__err(VAULT_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (tries = 0; tries < 2; tries++) {
        vault_proof_clear(pr);
        if (old > 0 && old < size) {
            rc = vault__enter(v);
            if (rc == VAULT_OK) {
                rc = proof_for(pr, v, old, size);
                vault__exit(v, 1);
            }
            if (rc < 0)
                break;
        }
        rc = witness_submit(&t->line, &got, t->url, &t->peer, old,
                            (const uint8_t (*)[32])pr->hashes, pr->nhashes, note, len, timeout_ms);
        if (rc == VAULT_ESTATE && got > size) {
            /* It cosigned a larger tree of this log than the vault now has. */
            rc = vault__err(VAULT_EINTEGRITY,
                            "witness %s: rolled back: it cosigned a tree of %llu entries and "
                            "this log's newest checkpoint has %llu", t->peer.name,
                            (unsigned long long)got, (unsigned long long)size);
            break;
        }
        if (rc != VAULT_ESTATE || got == old)
            break;
        old = got; /* it holds another size: catch it up from there */
    }
    t->rc = rc;
cleanup:
    if (t->rc < 0)
        snprintf(t->message, sizeof t->message, "%s", vault_error_last());
    vault_proof_clear(pr);
    free(pr);
}

/* Step 3: append the verified lines to the stored note of `size`. */
static int store_lines(size_t *stored, vault *v, target *t, size_t nt, uint64_t size)
{
    int rc = VAULT_OK;
    scan_ctx c = {0};
    char *note = NULL, *grown;
    size_t len;

    *stored = 0;
    GUARD(op_begin(v, OP_WRITE));
    GUARD(audit__load_pk(c.pk, v));
    audit__origin(c.origin, sizeof c.origin, v);
    /* The note of exactly `size`, read again in this transaction (newer
     * checkpoints may have been signed, or cosignatures stored, meanwhile). */
    c.want = size;
    GUARD(store_checkpoint_scan(v->db, scan_fn, &c));
    ENSURE(c.note, VAULT_EINTEGRITY,
           "audit log: the checkpoint of %llu entries is no longer stored", (ull)size);
    note = c.note;
    c.note = NULL;
    len = c.len;
    for (size_t i = 0; i < nt; i++) {
        size_t ll;

        if (!t[i].line)
            continue;
        if (af_cosignature_verify(NULL, note, len, t[i].peer.name, t[i].peer.pk) == VAULT_OK)
            continue; /* stored meanwhile */
        vault__err_clear();
        ll = strlen(t[i].line);
        if (len + ll > AF_NOTE_MAX) {
            t[i].rc = vault__err(VAULT_ELIMIT, "witness %s: the checkpoint note would exceed %d "
                                 "bytes with its cosignature", t[i].peer.name, AF_NOTE_MAX);
            snprintf(t[i].message, sizeof t[i].message, "%s", vault_error_last());
            continue;
        }
        grown = realloc(note, len + ll + 1);
        ENSURE(grown, VAULT_ENOMEM, "out of memory");
        note = grown;
        memcpy(note + len, t[i].line, ll + 1);
        if (af_cosignature_verify(NULL, note, len + ll, t[i].peer.name, t[i].peer.pk) !=
            VAULT_OK) {
            note[len] = '\0'; /* not this witness's cosignature of this checkpoint */
            t[i].rc = vault__err(VAULT_EINTEGRITY, "witness %s: its answer is not a cosignature "
                                 "of checkpoint %llu", t[i].peer.name, (ull)size);
            snprintf(t[i].message, sizeof t[i].message, "%s", vault_error_last());
            continue;
        }
        len += ll;
        (*stored)++;
    }
    if (*stored > 0)
        GUARD(store_checkpoint_add(v->db, size, note, vault__now()));
    GUARD(op_commit(v));
cleanup:
    op_rollback(v);
    free(c.note);
    free(note);
    return rc;
}

/* The targets: the given (key, url) pairs, or the policy's witnesses that
 * give a URL.  A given key that the policy doesn't pin (vaultd's
 * audit.witnesses after a policy apply dropped it) is that target's own
 * failure (VAULT_EDENIED in its status): the others are still submitted. */
static int targets_fill(target *t, size_t *nt, vault *v, const vault_witness_target *in,
                        size_t nin)
{
    int rc = VAULT_OK;
    size_t n = 0, stride = 0;
    vault_witness_target one;

    if (in) {
        ENSURE(nin <= WITNESS_TARGETS_MAX, VAULT_ELIMIT, "at most %d witnesses",
               WITNESS_TARGETS_MAX);
        if (nin > 0)
            memcpy(&stride, &in[0].size, sizeof stride); /* the caller's sizeof */
        for (size_t i = 0; i < nin; i++) {
            const vp_witness *w;
            /* element i of the caller's array, at the caller's stride */
            const vault_witness_target *ti =
                (const vault_witness_target *)(const void *)((const char *)in + i * stride);

            GUARD(vault__opt_in(&one, sizeof one, ti, "vault_witness_target",
                                "VAULT_WITNESS_TARGET_INIT"));
            ENSURE(one.size == stride, VAULT_EINVALID,
                   "witness %zu: vault_witness_target sizes differ within the array", i + 1);
            ENSURE(one.key && one.url, VAULT_EINVALID, "witness %zu: missing key or url",
                   i + 1);
            w = policy_witness_find(v->policy, one.key);
            if (w) {
                snprintf(t[n].peer.name, sizeof t[n].peer.name, "%s", w->name);
                memcpy(t[n].peer.pk, w->pk, 32);
            } else {
                ENSURE(af_vkey_parse(t[n].peer.name, t[n].peer.pk, one.key, strlen(one.key),
                                     AF_SIGTYPE_COSIGN_V1) == VAULT_OK,
                       VAULT_EINVALID, "witness %zu: its key is not a witness verifier key",
                       i + 1);
                t[n].unpinned = 1;
                t[n].rc = vault__err(VAULT_EDENIED, "witness %s: not pinned by the policy's "
                                     "witnesses (policy %s)", t[n].peer.name,
                                     v->policy ? policy_name(v->policy) : "none");
                snprintf(t[n].message, sizeof t[n].message, "%s", vault_error_last());
                vault__err_clear();
            }
            ENSURE(strlen(one.url) <= WITNESS_URL_MAX, VAULT_EINVALID,
                   "witness %zu: url longer than %d bytes", i + 1, WITNESS_URL_MAX);
            snprintf(t[n].url, sizeof t[n].url, "%s", one.url);
            n++;
        }
    } else {
        for (size_t i = 0; i < policy_witness_count(v->policy) && n < WITNESS_TARGETS_MAX; i++) {
            const vp_witness *w = policy_witness_at(v->policy, i);

            if (!w->url)
                continue;
            snprintf(t[n].peer.name, sizeof t[n].peer.name, "%s", w->name);
            memcpy(t[n].peer.pk, w->pk, 32);
            snprintf(t[n].url, sizeof t[n].url, "%s", w->url); /* policy: at most 1023 */
            n++;
        }
    }
    *nt = n;
cleanup:
    return rc;
}

int vault_audit_witness(vault_witness_status *status, size_t cap, size_t *out_n, vault *v,
                        const vault_witness_target *targets, size_t ntargets, long timeout_ms)
{
    int rc = VAULT_OK, entered = 0;
    target t[WITNESS_TARGETS_MAX];
    scan_ctx c = {0};
    char *sent = NULL;
    size_t nt = 0, sent_len = 0, stored = 0, failed = 0;
    uint64_t size;

    memset(t, 0, sizeof t);
    if (out_n)
        *out_n = 0;
    ENSURE(v, VAULT_EINVALID, "no vault handle");
    ENSURE(!v->remote, VAULT_EINVALID, "vaultd submits its checkpoints itself (audit.witnesses "
           "in its configuration)");
    ENSURE(timeout_ms >= 0, VAULT_EINVALID, "timeout must not be negative");
    GUARD(vault__enter(v));
    entered = 1;
    GUARD(targets_fill(t, &nt, v, targets, ntargets));
    ENSURE(nt > 0, VAULT_ENOTFOUND, "no witness to submit to: the policy's witnesses give no url");
    GUARD(op_begin(v, OP_READ));
    GUARD(audit__load_pk(c.pk, v));
    audit__origin(c.origin, sizeof c.origin, v);
    c.t = t;
    c.nt = nt;
    GUARD(store_checkpoint_scan(v->db, scan_fn, &c));
    op_rollback(v);
    ENSURE(c.note, VAULT_ENOTFOUND, "no signed checkpoint yet; write one (audit checkpoint)");
    size = c.size;
    for (size_t i = 0; i < nt; i++)
        t[i].done = !t[i].unpinned && af_cosignature_verify(NULL, c.note, c.len, t[i].peer.name,
                                                            t[i].peer.pk) == VAULT_OK;
    vault__err_clear();
    GUARD(log_signed(&sent, &sent_len, c.note, c.len, c.origin));
    /* Step 2 without the handle's lock or any transaction. */
    vault__exit(v, entered);
    entered = 0;
    for (size_t i = 0; i < nt; i++)
        if (!t[i].done && !t[i].unpinned)
            submit_one(&t[i], v, sent, sent_len, size, timeout_ms);
    GUARD(vault__enter(v));
    entered = 1;
    GUARD(store_lines(&stored, v, t, nt, size));
    for (size_t i = 0; i < nt; i++) {
        if (status && i < cap) {
            vault_witness_status *s = &status[i];

            memset(s, 0, sizeof *s);
            memcpy(s->name, t[i].peer.name, sizeof s->name); /* both 256, NUL-terminated */
            s->name[sizeof s->name - 1] = '\0';
            s->size = size;
            s->already = t[i].done;
            s->result = t[i].done ? VAULT_OK : t[i].rc;
            snprintf(s->message, sizeof s->message, "%s", t[i].done ? "" : t[i].message);
        }
        if (!t[i].done && t[i].rc < 0)
            failed++;
    }
    if (out_n)
        *out_n = nt < cap ? nt : cap;
    if (failed > 0) {
        size_t first = 0;

        while (t[first].done || t[first].rc == VAULT_OK)
            first++;
        rc = vault__err(t[first].rc, "%zu of %zu witnesses did not cosign checkpoint %llu; "
                        "first: %s", failed, nt, (ull)size, t[first].message);
    }
cleanup:
    vault__exit(v, entered);
    for (size_t i = 0; i < nt; i++)
        free(t[i].line);
    free(c.note);
    free(sent);
    return rc;
}

int vault_set_witness_auto(vault *v, int on)
{
    if (!v)
        return vault__err(VAULT_EINVALID, "no vault handle");
    v->witness_manual = !on;
    return VAULT_OK;
}

void audit__witness_auto(vault *v)
{
    if (!v || v->remote || v->witness_manual || !v->witness_due)
        return;
    v->witness_due = 0;
    /* Best effort: a witness that is down is tried again at the next
     * checkpoint (or by hand: vaultctl audit witness). */
    if (vault_audit_witness(NULL, 0, NULL, v, NULL, 0, VAULT_WITNESS_AUTO_MS) < 0)
        vault__err_clear();
}

int vault_witness_pinned(vault *v, const char *key)
{
    int rc = VAULT_OK, entered = 0;
    char name[256];
    uint8_t pk[32];

    ENSURE(key, VAULT_EINVALID, "missing witness key");
    ENSURE(v && !v->remote, VAULT_EINVALID, "vault_witness_pinned needs an embedded vault");
    ENSURE(af_vkey_parse(name, pk, key, strlen(key), AF_SIGTYPE_COSIGN_V1) == VAULT_OK,
           VAULT_EINVALID, "not a witness verifier key (name+keyid+base64 of 0x04 and an "
           "Ed25519 key, as `vaultctl witness pubkey` prints it)");
    GUARD(vault__enter(v));
    entered = 1;
    ENSURE(policy_witness_find(v->policy, key), VAULT_EDENIED,
           "witness %s is not pinned by the policy's witnesses: (policy %s)", name,
           v->policy ? policy_name(v->policy) : "none");
cleanup:
    vault__exit(v, entered);
    return rc;
}

int vault_witness_take_due(vault *v)
{
    int due;

    if (!v || v->remote)
        return 0;
    pthread_mutex_lock(&v->lock);
    due = v->witness_due;
    v->witness_due = 0;
    pthread_mutex_unlock(&v->lock);
    return due;
}

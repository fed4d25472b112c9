/* audit_bundle_api (vault side): the public bundle calls (include/vault.h,
 * "Resident proof bundles"; docs/audit-format.md §11).  The resident's
 * entries are found through the report index, then the log is read once
 * (entries 1 .. size of the newest stored checkpoint), every entry
 * checked as vault_audit_verify checks it before its leaf is used, and
 * all the inclusion proofs come out of that one pass (af_batch).  The
 * same pass looks for entries about the record that the index left out,
 * so a trimmed index gives VAULT_EINTEGRITY, never a short bundle.  When
 * the policy pins witnesses, the checkpoint is the newest stored one that
 * carries the policy's quorum of their cosignatures, and the statement
 * counts the record's entries after it ("later").  The pure part is
 * audit/audit_bundle.c. */
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/audit_bundle.h"
#include "audit/audit_cosign.h"
#include "audit/audit_proof.h"
#include "audit_prove.h"
#include "client/client.h"
#include "crypto.h"
#include "op.h"

typedef unsigned long long ull;

typedef struct bundle_ctx {
    vault *v;
    char origin[64];
    uint8_t pk[32];
    uint8_t record[VAULT_ID_BYTES];
    audit_cps cl;        /* the stored checkpoints, checked */
    uint64_t size;       /* the size of the checkpoint the bundle proves into */
    char *note;          /* its note, as stored */
    uint64_t later;      /* the record's entries in the index after it */
    af_witness_key *wk;  /* the policy's witnesses (NULL: none pinned) */
    size_t nwk, quorum;  /* ... and how many must have cosigned */
    size_t best;         /* the most cosignatures a stored checkpoint carries */
    /* the record's entries in the tree, from the index */
    uint64_t *seqs;
    uint8_t **bytes;
    size_t *lens;
    size_t n, ncap;
    size_t next;         /* the scan: the next of seqs[] it should meet */
    af_verifier ver;
    af_batch batch;
} bundle_ctx;

/* The newest checkpoint's note, byte for byte as stored (with any
 * cosignature lines stored with it). */
static int note_fn(void *arg, uint64_t size, const char *note, size_t len)
{
    bundle_ctx *c = arg;

    if (size != c->size || c->note)
        return VAULT_OK;
    c->note = strndup(note, len);
    return c->note ? VAULT_OK : vault__err(VAULT_ENOMEM, "out of memory");
}

/* With pinned witnesses: the newest stored checkpoint (each one's
 * signature checked by the scan before) that at least `quorum` of them
 * cosigned, by distinct keys (af_cosign_count, as vault_audit_verify
 * counts them); lines that don't verify don't count. */
static int quorum_fn(void *arg, uint64_t size, const char *note, size_t len)
{
    bundle_ctx *c = arg;
    size_t n = af_cosign_count(note, len, c->wk, c->nwk, NULL);

    if (n > c->best)
        c->best = n;
    if (n >= c->quorum && size > c->size)
        c->size = size;
    return VAULT_OK;
}

/* The policy's witnesses as af_cosign_count takes them. */
static int witnesses_load(bundle_ctx *c, const vault_policy *p)
{
    size_t n = policy_witness_count(p);

    c->quorum = policy_witness_quorum(p);
    if (c->quorum == 0 || n == 0)
        return VAULT_OK;
    c->wk = calloc(n, sizeof *c->wk);
    if (!c->wk)
        return vault__err(VAULT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const vp_witness *w = policy_witness_at(p, i);

        snprintf(c->wk[i].name, sizeof c->wk[i].name, "%s", w->name);
        memcpy(c->wk[i].pk, w->pk, 32);
    }
    c->nwk = n;
    return VAULT_OK;
}

/* 1 when the (decodable) entry is filed under the record. */
static int about(const bundle_ctx *c, const uint8_t *entry, size_t len, uint64_t *seq)
{
    af_entry e;
    void *storage = NULL;
    int yes;

    if (af_entry_decode(&e, &storage, entry, len) != VAULT_OK) {
        vault__err_clear();
        return 0;
    }
    yes = e.has_record && memcmp(e.record_id, c->record, VAULT_ID_BYTES) == 0; /* memcmp ok: not secret */
    *seq = e.seq;
    free(storage);
    return yes;
}

/* The index's entries of the record (copies: re-checked by the scan). */
static int rec_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                  size_t head_len)
{
    bundle_ctx *c = arg;
    uint64_t seq = 0;
    size_t cap;
    void *g1, *g2, *g3;

    (void)pos;
    (void)head;
    (void)head_len;
    if (!about(c, entry, len, &seq))
        return VAULT_OK; /* the scan below finds any damage */
    if (seq > c->size) {
        c->later++; /* newer than the checkpoint: not in this bundle, counted */
        return VAULT_OK;
    }
    if (c->n > 0 && seq <= c->seqs[c->n - 1])
        return vault__err(VAULT_EINTEGRITY,
                          "audit log: the report index lists entry %llu out of order; run audit "
                          "verify", (ull)seq);
    if (c->n == AF_BUNDLE_ENTRIES_MAX)
        return vault__err(VAULT_ELIMIT, "bundle: the record has more than %d entries",
                          AF_BUNDLE_ENTRIES_MAX);
    if (c->n == c->ncap) {
        cap = c->ncap ? 2 * c->ncap : 32;
        g1 = realloc(c->seqs, cap * sizeof *c->seqs);
        if (g1)
            c->seqs = g1;
        g2 = realloc(c->bytes, cap * sizeof *c->bytes);
        if (g2)
            c->bytes = g2;
        g3 = realloc(c->lens, cap * sizeof *c->lens);
        if (g3)
            c->lens = g3;
        if (!g1 || !g2 || !g3)
            return vault__err(VAULT_ENOMEM, "out of memory");
        c->ncap = cap;
    }
    c->bytes[c->n] = malloc(len ? len : 1);
    if (!c->bytes[c->n])
        return vault__err(VAULT_ENOMEM, "out of memory");
    memcpy(c->bytes[c->n], entry, len);
    c->lens[c->n] = len;
    c->seqs[c->n++] = seq;
    return VAULT_OK;
}

/* The pass over entries 1 .. size: verify, prove, and hold the index to
 * account. */
static int entry_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                    size_t head_len)
{
    bundle_ctx *c = arg;
    uint64_t seq = 0, s2 = 0;
    uint8_t leaf[32];
    int rc = audit__entry_verified(&c->ver, pos, entry, len, head, head_len, &seq, leaf);

    if (rc < 0)
        return rc;
    if (c->next < c->n && c->seqs[c->next] == seq) {
        /* The index's copy must be the log's entry. */
        if (c->lens[c->next] != len ||
            memcmp(c->bytes[c->next], entry, len) != 0) /* memcmp ok: not secret */
            return vault__err(VAULT_EINTEGRITY,
                              "audit log: the report index's copy of entry %llu differs from the "
                              "log; run audit verify", (ull)seq);
        c->next++;
    } else if (memmem(entry, len, c->record, VAULT_ID_BYTES) && about(c, entry, len, &s2)) {
        return vault__err(VAULT_EINTEGRITY,
                          "audit log: entry %llu is filed under the record but the report index "
                          "does not list it; run audit verify", (ull)seq);
    }
    return af_batch_push(&c->batch, leaf);
}

static void ctx_free(bundle_ctx *c)
{
    size_t i;

    if (!c)
        return;
    for (i = 0; i < c->n; i++)
        free(c->bytes[i]);
    free(c->bytes);
    free(c->lens);
    free(c->seqs);
    free(c->cl.cps);
    free(c->note);
    free(c->wk);
    af_batch_free(&c->batch);
    free(c);
}

static int bundle_local(char **out, vault *v, const uint8_t record[VAULT_ID_BYTES])
{
    int rc = VAULT_OK;
    bundle_ctx *c = calloc(1, sizeof *c);
    af_bundle_entry *be = NULL;
    uint8_t (*hashes)[32] = NULL, leaf[32], sig[AF_BUNDLE_SIG_BYTES];
    uint64_t *idx = NULL;
    int64_t count = 0;
    char *statement = NULL;
    size_t i, ncps = 0, used = 0, nh;

    ENSURE(c, VAULT_ENOMEM, "out of memory");
    c->v = v;
    memcpy(c->record, record, VAULT_ID_BYTES);
    GUARD(op_begin(v, OP_READ));
    GUARD(audit__load_pk(c->pk, v));
    audit__origin(c->origin, sizeof c->origin, v);
    GUARD(store_audit_count(&count, v->db));
    c->cl.origin = c->origin;
    c->cl.pk = c->pk;
    GUARD(store_checkpoint_scan(v->db, audit__cps_fn, &c->cl));
    c->size = c->cl.newest;
    ENSURE(c->size > 0, VAULT_ENOTFOUND, "no signed checkpoint yet; write one (audit checkpoint)");
    GUARD(witnesses_load(c, v->policy));
    {
        /* Not a bundle about an old tree: the newest stored checkpoint must
         * be the last one this vault signed (deleted newer rows would hide
         * the accesses after it). */
        uint64_t last = 0;
        int known = 0;
        GUARD(audit__signed_size(&last, &known, v));
        ENSURE(!known || last <= c->size, VAULT_EINTEGRITY,
               "audit log: missing (this vault signed a checkpoint of %llu entries and the "
               "store's newest covers %llu: checkpoints were deleted); run audit verify",
               (ull)last, (ull)c->size);
    }
    if (c->wk) {
        /* Into the newest checkpoint the policy's witnesses vouch for. */
        c->size = 0;
        GUARD(store_checkpoint_scan(v->db, quorum_fn, c));
        ENSURE(c->size > 0, VAULT_ENOTFOUND,
               "no checkpoint is cosigned by %zu of the policy's witnesses yet (the best has "
               "%zu); submit one (audit witness)", c->quorum, c->best);
    }
    ENSURE(c->size <= (uint64_t)count, VAULT_EINTEGRITY,
           "audit log: truncated (the checkpoint of %llu entries covers more than the log's "
           "%llu); run audit verify", (ull)c->size, (ull)count);
    GUARD(store_checkpoint_scan(v->db, note_fn, c));
    ENSURE(c->note, VAULT_EINTEGRITY, "audit log: the newest checkpoint's note went missing");
    GUARD(store_audit_scan_record(v->db, c->record, rec_fn, c));
    idx = malloc((c->n ? c->n : 1) * sizeof *idx);
    ENSURE(idx, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < c->n; i++)
        idx[i] = c->seqs[i] - 1;
    GUARD(af_batch_init(&c->batch, idx, c->n, c->size));
    ncps = audit__cps_sorted(&c->cl, c->size);
    af_verifier_init(&c->ver, c->cl.cps, ncps);
    ENSURE(c->ver.res.cls == AF_OK, VAULT_EINTEGRITY, "audit log: %s", c->ver.res.message);
    GUARD(store_audit_scan(v->db, 0, entry_fn, c));
    ENSURE(c->batch.pushed == c->size, VAULT_EINTEGRITY,
           "audit log: truncated (fewer than %llu entries stored); run audit verify",
           (ull)c->size);
    ENSURE(c->next == c->n, VAULT_EINTEGRITY,
           "audit log: the report index lists entries the log does not hold; run audit verify");
    /* The proofs, out of the one pass; the statement is signed in the
     * same snapshot (the key is read from it). */
    be = calloc(c->n ? c->n : 1, sizeof *be);
    hashes = malloc((c->batch.first[c->n] ? c->batch.first[c->n] : 1) * sizeof *hashes);
    ENSURE(be && hashes, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < c->n; i++) {
        GUARD(af_batch_proof(leaf, hashes + used, &nh, &c->batch, i));
        be[i].seq = c->seqs[i];
        be[i].entry = c->bytes[i];
        be[i].len = c->lens[i];
        be[i].nhashes = nh;
        be[i].hashes = (const uint8_t(*)[32])(hashes + used);
        used += nh;
    }
    GUARD(af_bundle_statement(&statement, c->origin, c->size, c->batch.root, c->record, c->seqs,
                              c->n, c->later));
    GUARD(audit__bundle_sign(sig, v, statement, strlen(statement)));
    GUARD(af_bundle_json(out, c->origin, c->record, c->note, statement, sig, be, c->n));
cleanup:
    op_rollback(v);
    free(statement);
    free(hashes);
    free(be);
    free(idx);
    ctx_free(c);
    return rc;
}

int vault_audit_bundle(char **out, vault *v, const char *record_id)
{
    int rc = VAULT_OK, entered = 0;
    uint8_t record[VAULT_ID_BYTES];
    af_entry e;
    char detail[64];

    ENSURE(out && record_id, VAULT_EINVALID, "vault_audit_bundle: missing output or record id");
    *out = NULL;
    if (v && v->remote)
        return client_audit_bundle(out, v, record_id); /* vaultd logs the call */
    GUARD(vault__enter(v));
    entered = 1;
    GUARD(vault__id_parse(record, record_id));
    /* Handing out a resident's audit trail is an access to it: logged
     * first and filed under the record, as a report is. */
    GUARD(op_begin(v, OP_WRITE));
    audit_entry_init(&e, v, NULL, "audit_bundle");
    snprintf(detail, sizeof detail, "record %s", record_id);
    e.detail = detail;
    e.has_record = 1;
    memcpy(e.record_id, record, VAULT_ID_BYTES);
    GUARD(audit_append(v, &e));
    GUARD(op_commit(v));
    GUARD(bundle_local(out, v, record));
cleanup:
    vault__exit(v, entered);
    return rc;
}

int vault_audit_verify_bundle(vault_audit_result *out, const char *json, size_t len,
                              const char *pubkey, const char *const *witness_keys,
                              size_t nwitness, size_t quorum)
{
    int rc = VAULT_OK, cls;
    af_verify_result r;
    af_bundle_witness *w = NULL;
    char name[256];
    uint8_t pk[32];
    size_t i;

    vault__err_clear();
    ENSURE(out && (json || len == 0) && pubkey && (witness_keys || nwitness == 0),
           VAULT_EINVALID, "vault_audit_verify_bundle: missing argument");
    memset(out, 0, sizeof *out);
    ENSURE(nwitness <= AF_BUNDLE_WITNESSES_MAX, VAULT_ELIMIT, "at most %d witness keys",
           AF_BUNDLE_WITNESSES_MAX);
    GUARD(vc_init());
    GUARD(af_log_vkey_parse(name, pk, pubkey));
    if (nwitness) {
        w = calloc(nwitness, sizeof *w);
        ENSURE(w, VAULT_ENOMEM, "out of memory");
    }
    for (i = 0; i < nwitness; i++) {
        ENSURE(witness_keys[i], VAULT_EINVALID, "witness key %zu is missing", i + 1);
        rc = af_vkey_parse(w[i].name, w[i].pk, witness_keys[i], strlen(witness_keys[i]),
                           AF_SIGTYPE_COSIGN_V1);
        ENSURE(rc == VAULT_OK, VAULT_EINVALID,
               "witness key %zu is not a witness verifier key (name+keyid+base64 of type 0x04)",
               i + 1);
    }
    cls = af_bundle_verify(&r, json, len, name, pk, w, nwitness,
                           quorum ? quorum : nwitness);
    if (cls < 0) {
        rc = cls; /* its own message stands */
        goto cleanup;
    }
    out->failure = r.cls;
    snprintf(out->failure_name, sizeof out->failure_name, "%s",
             r.cls ? af_bundle_class_name(r.cls) : "");
    out->bad_seq = r.bad_seq;
    out->entries = r.entries;
    out->checkpoints = r.checkpoints;
    out->newest_size = r.newest_size;
    out->newest_time = r.newest_time;
    snprintf(out->message, sizeof out->message, "%s", r.message);
    if (r.cls != AF_OK)
        rc = vault__err(VAULT_EINTEGRITY, "%s", r.message);
cleanup:
    free(w);
    return rc;
}

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
 * counts the record's entries after it ("later").  Where the store keeps
 * shard logs, the same pass follows the city log's claims of them, and
 * each claimed shard log is then read to its largest claim the same way
 * (a v2 bundle: docs/audit-format.md §11 "Shard logs").  The pure part is
 * audit/audit_bundle.c. */
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/audit_bundle.h"
#include "audit/audit_claims.h"
#include "audit/audit_cosign.h"
#include "audit/audit_proof.h"
#include "audit_prove.h"
#include "client/client.h"
#include "crypto.h"
#include "op.h"

typedef unsigned long long ull;

/* The record's entries in one tree: the city log's up to the checkpoint,
 * or a shard log's up to its newest claim in it. */
typedef struct rec_part {
    uint64_t size;       /* the tree's size */
    uint64_t *seqs;      /* the record's entries in it, from the index */
    uint8_t **bytes;
    size_t *lens;
    size_t n, ncap;
    size_t next;         /* the scan: the next of seqs[] it should meet */
    af_batch batch;
} rec_part;

/* A log_heads entry of the city log that holds some shard log's newest
 * claim: its inclusion proof in the checkpoint's tree, planned when the
 * pass met it and resumed from the tree before it (af_prover_resume). */
typedef struct claim_prover {
    uint64_t seq;
    uint8_t *bytes;
    size_t len;
    size_t refs;         /* the shard logs whose newest claim it holds */
    af_prover pr;
} claim_prover;

/* A shard log the checkpoint claims (docs/audit-format.md §11 "Shard
 * logs"): its largest claim in the city tree, and the record's entries in
 * the tree claimed. */
typedef struct shard_part {
    char log[STORE_LOG_MAX + 1];
    uint8_t root[32];
    claim_prover *via;
    rec_part p;          /* p.size: the claimed size */
    af_claims all;       /* every claim of it in the checkpoint's tree (none larger) */
} shard_part;

typedef struct bundle_ctx {
    vault *v;
    char origin[64];
    uint8_t pk[32];
    uint8_t record[VAULT_ID_BYTES];
    audit_cps cl;        /* the stored checkpoints, checked */
    uint64_t size;       /* the size of the checkpoint the bundle proves into */
    char *note;          /* its note, as stored */
    uint64_t later;      /* the record's entries in the index after the trees */
    af_witness_key *wk;  /* the policy's witnesses (NULL: none pinned) */
    size_t nwk, quorum;  /* ... and how many must have cosigned */
    size_t best;         /* the most cosignatures a stored checkpoint carries */
    rec_part city;       /* the city log's entries of the record */
    size_t in;           /* the record's entries in every part */
    int many;            /* the store keeps shard logs */
    shard_part *sh;      /* the claimed shard logs, by name */
    size_t nsh, shcap;
    claim_prover **cp;   /* the claim entries some shard log's newest claim is in */
    size_t ncp, cpcap;
    af_verifier ver;
} bundle_ctx;

/* rec_fn's argument: whose entries, into which part. */
typedef struct rec_arg {
    bundle_ctx *c;
    rec_part *p;
} rec_arg;

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

/* The index's entries of the record in one log (copies: re-checked by
 * the scan), those in the part's tree into it, the others counted later. */
static int rec_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                  size_t head_len)
{
    rec_arg *ra = arg;
    bundle_ctx *c = ra->c;
    rec_part *p = ra->p;
    uint64_t seq = 0;
    size_t cap;

    (void)pos;
    (void)head;
    (void)head_len;
    if (!about(c, entry, len, &seq))
        return VAULT_OK; /* the scan below finds any damage */
    if (!p || seq > p->size) {
        c->later++; /* newer than the tree: not in this bundle, counted */
        return VAULT_OK;
    }
    if (p->n > 0 && seq <= p->seqs[p->n - 1])
        return vault__err(VAULT_EINTEGRITY,
                          "audit log: the report index lists entry %llu out of order; run audit "
                          "verify", (ull)seq);
    if (c->in == AF_BUNDLE_ENTRIES_MAX)
        return vault__err(VAULT_ELIMIT, "bundle: the record has more than %d entries",
                          AF_BUNDLE_ENTRIES_MAX);
    if (p->n == p->ncap) {
        cap = p->ncap;
        if (vault__grow((void **)&p->seqs, &cap, p->n + 1, sizeof *p->seqs, 32) < 0)
            return VAULT_ENOMEM;
        cap = p->ncap;
        if (vault__grow((void **)&p->bytes, &cap, p->n + 1, sizeof *p->bytes, 32) < 0)
            return VAULT_ENOMEM;
        cap = p->ncap;
        if (vault__grow((void **)&p->lens, &cap, p->n + 1, sizeof *p->lens, 32) < 0)
            return VAULT_ENOMEM;
        p->ncap = cap;
    }
    p->bytes[p->n] = malloc(len ? len : 1);
    if (!p->bytes[p->n])
        return vault__err(VAULT_ENOMEM, "out of memory");
    memcpy(p->bytes[p->n], entry, len);
    p->lens[p->n] = len;
    p->seqs[p->n++] = seq;
    c->in++;
    return VAULT_OK;
}

/* One entry of a part's pass, verified: the index held to account (its
 * copy must be the log's entry; an entry about the record it does not
 * list is damage), then its leaf into the part's proofs. */
static int part_entry(bundle_ctx *c, rec_part *p, uint64_t seq, const uint8_t *entry, size_t len)
{
    uint64_t s2 = 0;

    if (p->next < p->n && p->seqs[p->next] == seq) {
        if (p->lens[p->next] != len ||
            memcmp(p->bytes[p->next], entry, len) != 0) /* memcmp ok: not secret */
            return vault__err(VAULT_EINTEGRITY,
                              "audit log: the report index's copy of entry %llu differs from the "
                              "log; run audit verify", (ull)seq);
        p->next++;
    } else if (memmem(entry, len, c->record, VAULT_ID_BYTES) && about(c, entry, len, &s2)) {
        return vault__err(VAULT_EINTEGRITY,
                          "audit log: entry %llu is filed under the record but the report index "
                          "does not list it; run audit verify", (ull)seq);
    }
    return VAULT_OK;
}

/* The shard part of log (created in name order when new), or NULL. */
static shard_part *part_for(bundle_ctx *c, const char *log, int create)
{
    size_t lo = 0, hi = c->nsh;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(c->sh[mid].log, log);

        if (d == 0)
            return &c->sh[mid];
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!create || vault__grow((void **)&c->sh, &c->shcap, c->nsh + 1, sizeof *c->sh, 8) < 0)
        return NULL;
    memmove(c->sh + lo + 1, c->sh + lo, (c->nsh - lo) * sizeof *c->sh);
    memset(&c->sh[lo], 0, sizeof *c->sh);
    snprintf(c->sh[lo].log, sizeof c->sh[lo].log, "%s", log);
    c->nsh++;
    return &c->sh[lo];
}

static void prover_free(claim_prover *p)
{
    if (p) {
        free(p->bytes);
        free(p);
    }
}

/* A log_heads entry of the city log at seq (in the checkpoint's tree;
 * `before` the tree of the entries before it): each shard log it claims
 * at least as far as any claim before (claims only grow; a smaller one
 * would hide the entries between) has its largest claim here, proved from
 * here on (the first claim of the largest size is the one proved).  Every
 * claim of a log is kept for its pass. */
static int claims_met(bundle_ctx *c, uint64_t seq, const uint8_t *entry, size_t len,
                      const af_merkle *before)
{
    int rc = VAULT_OK;
    af_claims cl = {0};
    claim_prover *np = NULL;
    shard_part *sp;
    size_t i, j;

    GUARD(af_claims_take(&cl, seq, entry, len));
    ENSURE(!cl.bad, VAULT_EINTEGRITY,
           "audit log: entry %llu: malformed (a log_heads entry whose claims do not parse); run "
           "audit verify", (ull)seq);
    if (cl.n == 0)
        goto cleanup;
    np = calloc(1, sizeof *np);
    ENSURE(np, VAULT_ENOMEM, "out of memory");
    np->seq = seq;
    np->len = len;
    np->bytes = malloc(len);
    ENSURE(np->bytes, VAULT_ENOMEM, "out of memory");
    memcpy(np->bytes, entry, len);
    GUARD(af_prover_inclusion(&np->pr, seq - 1, c->size));
    GUARD(af_prover_resume(&np->pr, before));
    /* owned by the list from here on, whatever fails below */
    GUARD(vault__grow((void **)&c->cp, &c->cpcap, c->ncp + 1, sizeof *c->cp, 8));
    c->cp[c->ncp++] = np;
    np = NULL;
    for (i = 0; i < cl.n; i++) {
        ENSURE(part_for(c, cl.c[i].origin, 0) || c->nsh < AF_BUNDLE_LOGS_MAX, VAULT_ELIMIT,
               "bundle: the city log claims more than %d shard logs", AF_BUNDLE_LOGS_MAX);
        sp = part_for(c, cl.c[i].origin, 1);
        ENSURE(sp, VAULT_ENOMEM, "out of memory");
        GUARD(vault__grow((void **)&sp->all.c, &sp->all.cap, sp->all.n + 1, sizeof *sp->all.c,
                          8));
        sp->all.c[sp->all.n++] = cl.c[i];
        if (sp->via && cl.c[i].size <= sp->p.size)
            continue; /* an earlier claim reaches as far: it stays the one proved */
        if (sp->via)
            sp->via->refs--;
        sp->via = c->cp[c->ncp - 1];
        sp->via->refs++;
        sp->p.size = cl.c[i].size;
        memcpy(sp->root, cl.c[i].root, 32);
    }
    /* the claim entries no shard log's largest claim is in any more */
    for (i = j = 0; i < c->ncp; i++) {
        if (c->cp[i]->refs)
            c->cp[j++] = c->cp[i];
        else
            prover_free(c->cp[i]);
    }
    c->ncp = j;
cleanup:
    prover_free(np);
    af_claims_free(&cl);
    return rc;
}

/* The pass over the city log's entries 1 .. size: verify, prove, hold
 * the index to account, and follow the shard logs' newest claims. */
static int entry_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                    size_t head_len)
{
    bundle_ctx *c = arg;
    uint64_t seq = 0;
    uint8_t leaf[32];
    af_merkle before;
    int heads = c->many && memmem(entry, len, AF_ACTION_LOG_HEADS,
                                  sizeof AF_ACTION_LOG_HEADS - 1) != NULL;
    int rc;
    size_t i;

    if (heads)
        before = c->ver.tree;
    rc = audit__entry_verified(&c->ver, pos, entry, len, head, head_len, &seq, leaf);
    if (rc < 0)
        return rc;
    if ((rc = part_entry(c, &c->city, seq, entry, len)) < 0)
        return rc;
    for (i = 0; i < c->ncp; i++)
        (void)af_prover_push(&c->cp[i]->pr, leaf);
    if (heads && seq <= c->size) {
        if ((rc = claims_met(c, seq, entry, len, &before)) < 0)
            return rc;
        /* a new claim prover starts at this very leaf */
        for (i = 0; i < c->ncp; i++)
            if (c->cp[i]->seq == seq)
                (void)af_prover_push(&c->cp[i]->pr, leaf);
    }
    return af_batch_push(&c->city.batch, leaf);
}

/* A shard part's pass over its log's entries 1 .. the claimed size,
 * verified with the claim as the log's checkpoint. */
typedef struct shard_pass {
    bundle_ctx *c;
    rec_part *p;
    af_verifier ver;
} shard_pass;

static int shard_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                    size_t head_len)
{
    shard_pass *sp = arg;
    uint64_t seq = 0;
    uint8_t leaf[32];
    int rc = audit__entry_verified(&sp->ver, pos, entry, len, head, head_len, &seq, leaf);

    if (rc < 0)
        return rc;
    if ((rc = part_entry(sp->c, sp->p, seq, entry, len)) < 0)
        return rc;
    return af_batch_push(&sp->p->batch, leaf);
}

/* Plan the part's proofs (its seqs in a tree of p->size). */
static int part_plan(rec_part *p)
{
    int rc = VAULT_OK;
    uint64_t *idx = malloc((p->n ? p->n : 1) * sizeof *idx);
    size_t i;

    ENSURE(idx, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < p->n; i++)
        idx[i] = p->seqs[i] - 1;
    GUARD(af_batch_init(&p->batch, idx, p->n, p->size));
cleanup:
    free(idx);
    return rc;
}

/* Every shard log: the record's entries in the tree its largest claim
 * names (verified up to there, against every claim of it), or, for a log
 * the checkpoint claims nothing of, counted later. */
static int shards_read(bundle_ctx *c)
{
    int rc = VAULT_OK;
    store_log_list l = {0};
    shard_part *sp;
    shard_pass pass;
    rec_arg ra;
    size_t i, k = 0;

    GUARD(store_audit_log_list(&l, c->v->db, 1));
    for (i = 0; i < l.n; i++) {
        sp = part_for(c, l.log[i].name, 0);
        ra.c = c;
        ra.p = sp ? &sp->p : NULL;
        GUARD(store_audit_scan_record_in(c->v->db, l.log[i].name, c->record, rec_fn, &ra));
        if (!sp)
            continue;
        k++;
        GUARD(part_plan(&sp->p));
        memset(&pass, 0, sizeof pass);
        pass.c = c;
        pass.p = &sp->p;
        {
            /* checked against every claim of it (the largest is the one
             * proved: none is beyond it) */
            af_claims_sort(&sp->all);
            af_verifier_init(&pass.ver, sp->all.c, sp->all.n);
            rc = store_audit_scan_in(c->v->db, sp->log, 0, shard_fn, &pass);
            if (rc < 0 && pass.ver.res.cls == AF_OK)
                GUARD(rc);
            ENSURE(rc >= 0 && sp->p.batch.pushed == sp->p.size, VAULT_EINTEGRITY,
                   "audit log: log %.80s: %s; run audit verify", sp->log,
                   rc < 0 ? pass.ver.res.message : "rolled back (fewer entries than the city "
                                                   "log claims)");
        }
        ENSURE(sp->p.next == sp->p.n, VAULT_EINTEGRITY,
               "audit log: log %.80s: the report index lists entries the log does not hold; run "
               "audit verify", sp->log);
    }
    /* a log the city log claims that the store does not have */
    ENSURE(k == c->nsh, VAULT_EINTEGRITY,
           "audit log: a shard log the city log claims is gone (rolled back); run audit verify");
cleanup:
    store_log_list_free(&l);
    return rc;
}

static void part_free(rec_part *p)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        free(p->bytes[i]);
    free(p->bytes);
    free(p->lens);
    free(p->seqs);
    af_batch_free(&p->batch);
}

static void ctx_free(bundle_ctx *c)
{
    size_t i;

    if (!c)
        return;
    part_free(&c->city);
    for (i = 0; i < c->nsh; i++) {
        part_free(&c->sh[i].p);
        af_claims_free(&c->sh[i].all);
    }
    free(c->sh);
    for (i = 0; i < c->ncp; i++)
        prover_free(c->cp[i]);
    free(c->cp);
    free(c->cl.cps);
    free(c->note);
    free(c->wk);
    free(c);
}

/* The entries and proofs of one part into be[] and hashes[] (from *used
 * on), each of log (NULL: the city log). */
static int part_out(af_bundle_entry *be, uint8_t (*hashes)[32], size_t *used, const rec_part *p,
                    const char *log)
{
    int rc = VAULT_OK;
    uint8_t leaf[32];
    size_t i, nh;

    for (i = 0; i < p->n; i++) {
        GUARD(af_batch_proof(leaf, hashes + *used, &nh, &p->batch, i));
        be[i].log = log;
        be[i].seq = p->seqs[i];
        be[i].entry = p->bytes[i];
        be[i].len = p->lens[i];
        be[i].nhashes = nh;
        be[i].hashes = (const uint8_t(*)[32])(hashes + *used);
        *used += nh;
    }
cleanup:
    return rc;
}

static int bundle_local(char **out, vault *v, const uint8_t record[VAULT_ID_BYTES])
{
    int rc = VAULT_OK;
    bundle_ctx *c = calloc(1, sizeof *c);
    af_bundle_entry *be = NULL;
    af_bundle_log *bl = NULL;
    uint8_t (*hashes)[32] = NULL, sig[AF_BUNDLE_SIG_BYTES];
    int64_t count = 0;
    char *statement = NULL;
    size_t i, ncps = 0, used = 0, total, nhashes, at;
    rec_arg ra;

    ENSURE(c, VAULT_ENOMEM, "out of memory");
    c->v = v;
    memcpy(c->record, record, VAULT_ID_BYTES);
    GUARD(op_begin(v, OP_READ));
    c->many = store_many_logs(v->db);
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
    c->city.size = c->size;
    ra.c = c;
    ra.p = &c->city;
    GUARD(store_audit_scan_record(v->db, c->record, rec_fn, &ra));
    GUARD(part_plan(&c->city));
    ncps = audit__cps_sorted(&c->cl, c->size);
    af_verifier_init(&c->ver, c->cl.cps, ncps);
    ENSURE(c->ver.res.cls == AF_OK, VAULT_EINTEGRITY, "audit log: %s", c->ver.res.message);
    GUARD(store_audit_scan(v->db, 0, entry_fn, c));
    ENSURE(c->city.batch.pushed == c->size, VAULT_EINTEGRITY,
           "audit log: truncated (fewer than %llu entries stored); run audit verify",
           (ull)c->size);
    ENSURE(c->city.next == c->city.n, VAULT_EINTEGRITY,
           "audit log: the report index lists entries the log does not hold; run audit verify");
    if (c->many)
        GUARD(shards_read(c));
    /* The proofs, out of the passes; the statement is signed in the same
     * snapshot (the key is read from it). */
    total = c->city.n;
    nhashes = c->city.batch.first[c->city.n];
    for (i = 0; i < c->nsh; i++) {
        total += c->sh[i].p.n;
        nhashes += c->sh[i].p.batch.first[c->sh[i].p.n];
    }
    be = calloc(total ? total : 1, sizeof *be);
    bl = calloc(c->nsh ? c->nsh : 1, sizeof *bl);
    hashes = malloc((nhashes ? nhashes : 1) * sizeof *hashes);
    ENSURE(be && bl && hashes, VAULT_ENOMEM, "out of memory");
    GUARD(part_out(be, hashes, &used, &c->city, NULL));
    at = c->city.n;
    for (i = 0; i < c->nsh; i++) {
        shard_part *sp = &c->sh[i];

        GUARD(part_out(be + at, hashes, &used, &sp->p, sp->log));
        at += sp->p.n;
        bl[i].log = sp->log;
        bl[i].size = sp->p.size;
        memcpy(bl[i].root, sp->root, 32);
        bl[i].seqs = sp->p.seqs;
        bl[i].n = sp->p.n;
        ENSURE(af_prover_done(&sp->via->pr), VAULT_EINTEGRITY,
               "audit log: truncated (fewer than %llu entries stored); run audit verify",
               (ull)c->size);
        if (sp->p.n) {
            bl[i].via_seq = sp->via->seq;
            bl[i].via_entry = sp->via->bytes;
            bl[i].via_len = sp->via->len;
            bl[i].via_nhashes = sp->via->pr.n;
            bl[i].via_hashes = (const uint8_t(*)[32])sp->via->pr.hashes;
        }
    }
    GUARD(af_bundle_statement(&statement, c->origin, c->size, c->city.batch.root, c->record,
                              c->city.seqs, c->city.n, bl, c->nsh, c->later));
    GUARD(audit__bundle_sign(sig, v, statement, strlen(statement)));
    GUARD(af_bundle_json(out, c->origin, c->record, c->note, statement, sig, be, total, bl,
                         c->nsh));
cleanup:
    op_rollback(v);
    free(statement);
    free(hashes);
    free(be);
    free(bl);
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

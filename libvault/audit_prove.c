/* audit_prove: the public proof calls (include/vault.h, "Proofs").  The
 * proof is made while reading the stored log once, every entry checked as
 * vault_audit_verify checks it (af_verifier: bytes, sequence, chain head,
 * the stored checkpoints' signatures and roots) before its leaf is used,
 * so damaged or forged rows give VAULT_EINTEGRITY, never a proof.  Cost:
 * one pass over the first `size` entries (two SHA-256 per entry: the
 * verifier's and the prover's leaf), O(log size) memory besides the list
 * of checkpoints.  The pure part is audit/audit_proof.c. */
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/audit_proof.h"
#include "audit_prove.h"
#include "client/client.h"
#include "crypto.h"
#include "op.h"

typedef unsigned long long ull;

size_t vault_proof_struct_size(void) { return sizeof(vault_proof); }
size_t vault_proof_hashes_max(void) { return VAULT_PROOF_HASHES_MAX; }
int vault_const_proof_inclusion(void) { return VAULT_PROOF_INCLUSION; }
int vault_const_proof_consistency(void) { return VAULT_PROOF_CONSISTENCY; }

void vault_proof_clear(vault_proof *p)
{
    af_proof_free(p);
}

int vault_proof_json(char **out, const vault_proof *p)
{
    vault__err_clear();
    return af_proof_json(out, p);
}

int vault_proof_parse(vault_proof *out, const char *json, size_t len)
{
    vault__err_clear();
    return af_proof_parse(out, json, len);
}

int vault_proof_check(const vault_proof *p, const char *pubkey, const char *const *notes,
                      size_t nnotes)
{
    int rc = VAULT_OK;
    uint8_t pk[32];
    char name[256];

    vault__err_clear();
    ENSURE(p && pubkey, VAULT_EINVALID, "vault_proof_check: missing proof or public key");
    ENSURE(nnotes <= VAULT_AUDIT_NOTES_MAX, VAULT_ELIMIT, "at most %d checkpoints",
           VAULT_AUDIT_NOTES_MAX);
    GUARD(vc_init());
    GUARD(af_log_vkey_parse(name, pk, pubkey));
    GUARD(af_proof_check(p, name, pk, notes, nnotes));
cleanup:
    return rc;
}

/* ---- making a proof from the stored log ---- */

typedef struct prove_ctx {
    vault *v;
    char origin[64];
    uint8_t pk[32];
    audit_cps cl;       /* verified stored checkpoints, any order until sorted */
    uint64_t want[2];   /* sizes whose notes are wanted (0: none) */
    char *notes[2];
    af_verifier ver;
    af_prover prover;
} prove_ctx;

int audit__cps_fn(void *arg, uint64_t size, const char *note, size_t len)
{
    audit_cps *l = arg;
    af_checkpoint cp;
    af_checkpoint *grown;
    char why[256];

    if (af_checkpoint_verify(&cp, note, len, l->origin, l->pk) != VAULT_OK) {
        snprintf(why, sizeof why, "%s", vault_error_last()); /* formatted into its own buffer */
        return vault__err(VAULT_EINTEGRITY, "audit log: checkpoint %llu: bad signature (%s)",
                          (ull)size, why);
    }
    if (cp.size != size)
        return vault__err(VAULT_EINTEGRITY,
                          "audit log: checkpoint %llu: bad signature (the note is stored under "
                          "another size)", (ull)size);
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        grown = realloc(l->cps, l->cap * sizeof *grown);
        if (!grown)
            return vault__err(VAULT_ENOMEM, "out of memory");
        l->cps = grown;
    }
    l->cps[l->n++] = cp;
    if (size > l->newest)
        l->newest = size;
    return VAULT_OK;
}

static int cp_cmp(const void *a, const void *b)
{
    const af_checkpoint *x = a, *y = b;

    return x->size < y->size ? -1 : x->size > y->size;
}

size_t audit__cps_sorted(audit_cps *l, uint64_t size)
{
    size_t n = 0;

    if (l->n > 1)
        qsort(l->cps, l->n, sizeof *l->cps, cp_cmp);
    while (n < l->n && l->cps[n].size <= size)
        n++;
    return n;
}

/* Second pass over the (few) checkpoints: keep the notes of the wanted
 * sizes.  Rows were checked by audit__cps_fn in the same snapshot. */
static int note_fn(void *arg, uint64_t size, const char *note, size_t len)
{
    prove_ctx *c = arg;
    size_t i;

    for (i = 0; i < 2; i++)
        if (c->want[i] && size == c->want[i] && !c->notes[i]) {
            c->notes[i] = strndup(note, len);
            if (!c->notes[i])
                return vault__err(VAULT_ENOMEM, "out of memory");
        }
    return VAULT_OK;
}

int audit__entry_verified(af_verifier *ver, int64_t pos, const uint8_t *entry, size_t len,
                          const uint8_t *head, size_t head_len, uint64_t *seq, uint8_t leaf[32])
{
    int r;

    *seq = 0;
    if (af_entry_check(seq, entry, len) == VAULT_OK) {
        r = af_verifier_push_checked(ver, *seq, entry, len, head_len == 32 ? head : NULL);
    } else {
        vault__err_clear();
        *seq = (uint64_t)pos;
        r = af_verifier_push(ver, (uint64_t)pos, entry, len, head_len == 32 ? head : NULL);
    }
    if (r != AF_OK)
        return vault__err(VAULT_EINTEGRITY, "audit log: %s; run audit verify", ver->res.message);
    af_leaf_hash(leaf, entry, len);
    return VAULT_OK;
}

/* One entry of a pass: checked by the verifier, then its leaf into the
 * prover (1 once the prover has all its leaves: the scan stops). */
static int verified_push(af_verifier *ver, af_prover *pr, int64_t pos, const uint8_t *entry,
                         size_t len, const uint8_t *head, size_t head_len)
{
    uint64_t seq;
    uint8_t leaf[32];
    int rc = audit__entry_verified(ver, pos, entry, len, head, head_len, &seq, leaf);

    return rc < 0 ? rc : af_prover_push(pr, leaf);
}

static int entry_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                    size_t head_len)
{
    prove_ctx *c = arg;

    return verified_push(&c->ver, &c->prover, pos, entry, len, head, head_len);
}

/* ---- an entry of a shard log: two levels ----
 *
 * One pass over the city log up to the newest signed checkpoint (every
 * entry verified) finds the first log_heads entry that claims a tree of
 * the log covering seq (of `want` entries, when named); the city proof
 * of that entry is planned when the pass reaches it and resumed from the
 * verifier's tree of the entries before it (af_prover_resume), so one
 * pass is enough.  Then one pass over the shard log up to the claimed
 * size, verified against the claim, makes the shard proof. */
typedef struct shard_ctx {
    const char *log;
    uint64_t seq, want;     /* the entry; the claimed size wanted (0: the first covering) */
    uint64_t city_size;     /* the checkpoint's */
    af_verifier ver;        /* the pass's (city, then shard) */
    af_prover prover;       /* city, then shard */
    int found;
    af_checkpoint claim;    /* the claim found (origin: the log) */
    af_claims all;          /* every claim of the log in the checkpoint's tree */
    uint64_t via_seq;
    uint8_t *via_entry;
    size_t via_len;
    uint64_t seen;
} shard_ctx;

/* A log_heads entry's claims: each of c->log kept (the shard pass checks
 * them all), and 1 (c->claim set) when one covers c->seq (of c->want
 * entries, when named) and none was found before; 0 otherwise;
 * VAULT_EINTEGRITY for claims that do not parse, VAULT_ENOMEM. */
static int claim_in(shard_ctx *c, uint64_t seq, const uint8_t *entry, size_t len)
{
    af_claims cl = {0};
    size_t i;
    int r;

    if (!memmem(entry, len, AF_ACTION_LOG_HEADS, sizeof AF_ACTION_LOG_HEADS - 1))
        return 0;
    r = af_claims_take(&cl, seq, entry, len);
    if (r == 0 && cl.bad)
        r = vault__err(VAULT_EINTEGRITY,
                       "audit log: entry %llu: malformed (a log_heads entry whose claims do not "
                       "parse); run audit verify", (unsigned long long)seq);
    for (i = 0; r >= 0 && i < cl.n; i++) {
        if (strcmp(cl.c[i].origin, c->log) != 0)
            continue;
        if (vault__grow((void **)&c->all.c, &c->all.cap, c->all.n + 1, sizeof *c->all.c, 8) < 0) {
            r = VAULT_ENOMEM;
            break;
        }
        c->all.c[c->all.n++] = cl.c[i];
        if (!c->found && r == 0 && cl.c[i].size >= c->seq &&
            (!c->want || cl.c[i].size == c->want)) {
            c->claim = cl.c[i];
            r = 1;
        }
    }
    af_claims_free(&cl);
    return r;
}

static int city_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                   size_t head_len)
{
    shard_ctx *c = arg;
    af_merkle before;
    uint64_t seq;
    uint8_t leaf[32];
    int rc, r = 0;

    if (!c->found)
        before = c->ver.tree;
    rc = audit__entry_verified(&c->ver, pos, entry, len, head, head_len, &seq, leaf);
    if (rc < 0)
        return rc;
    c->seen++;
    if ((r = claim_in(c, seq, entry, len)) < 0)
        return r;
    if (r == 1) {
        c->found = 1;
        c->via_seq = seq;
        c->via_entry = malloc(len);
        if (!c->via_entry)
            return vault__err(VAULT_ENOMEM, "out of memory");
        memcpy(c->via_entry, entry, len);
        c->via_len = len;
        if ((rc = af_prover_inclusion(&c->prover, seq - 1, c->city_size)) < 0 ||
            (rc = af_prover_resume(&c->prover, &before)) < 0)
            return rc;
    }
    if (c->found)
        (void)af_prover_push(&c->prover, leaf);
    return c->seen >= c->city_size; /* the checkpoint's entries, every claim in them */
}

static int shard_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                    size_t head_len)
{
    shard_ctx *c = arg;

    return verified_push(&c->ver, &c->prover, pos, entry, len, head, head_len);
}

/* The proof of entry seq of shard log `log` (prove_ctx's origin, key and
 * checkpoints loaded, in the caller's read snapshot). */
static int prove_shard(vault_proof *out, prove_ctx *p, const char *log, uint64_t seq,
                       uint64_t want)
{
    int rc = VAULT_OK;
    shard_ctx *c = calloc(1, sizeof *c);
    int64_t count = 0;
    size_t ncps;

    ENSURE(c, VAULT_ENOMEM, "out of memory");
    ENSURE(want == 0 || want >= seq, VAULT_EINVALID, "entry %llu is not in the tree of size %llu",
           (ull)seq, (ull)want);
    GUARD(store_audit_count_in(&count, p->v->db, log));
    ENSURE(count > 0, VAULT_ENOTFOUND, "log %.80s: no such log", log);
    ENSURE(seq <= (uint64_t)count, VAULT_ENOTFOUND, "log %.80s: entry %llu: the log has %llu "
           "entries", log, (ull)seq, (ull)count);
    ENSURE(p->cl.newest > 0, VAULT_ENOTFOUND,
           "no signed checkpoint yet; write one (audit checkpoint)");
    c->log = log;
    c->seq = seq;
    c->want = want;
    c->city_size = p->cl.newest;
    p->want[0] = c->city_size;
    GUARD(store_checkpoint_scan(p->v->db, note_fn, p));
    ncps = audit__cps_sorted(&p->cl, c->city_size);
    af_verifier_init(&c->ver, p->cl.cps, ncps);
    ENSURE(c->ver.res.cls == AF_OK, VAULT_EINTEGRITY, "audit log: %s", c->ver.res.message);
    GUARD(store_audit_scan(p->v->db, 0, city_fn, c));
    ENSURE(c->seen >= c->city_size, VAULT_EINTEGRITY,
           "audit log: truncated (fewer than %llu entries stored); run audit verify",
           (ull)c->city_size);
    ENSURE(c->found, VAULT_ENOTFOUND,
           want ? "log %.80s: no claim of %llu entries in the newest checkpoint (size %llu)"
                : "log %.80s: entry %llu is newer than the claims the newest checkpoint (size "
                  "%llu) covers; write one (audit checkpoint)",
           log, (ull)(want ? want : seq), (ull)c->city_size);
    ENSURE(af_prover_done(&c->prover), VAULT_EINTEGRITY,
           "audit log: truncated (fewer than %llu entries stored); run audit verify",
           (ull)c->city_size);
    af_prover_result(out, &c->prover);
    out->via_seq = c->via_seq;
    out->via_size = out->size;
    memcpy(out->via_root, out->root, 32);
    out->via_nhashes = out->nhashes;
    memcpy(out->via_hashes, out->hashes, out->nhashes * 32);
    /* the shard level: its entries up to the claim, verified against it
     * and every smaller claim of the log in the checkpoint's tree */
    {
        size_t i, k = 0;

        for (i = 0; i < c->all.n; i++)
            if (c->all.c[i].size <= c->claim.size)
                c->all.c[k++] = c->all.c[i];
        c->all.n = k;
        af_claims_sort(&c->all);
        af_verifier_init(&c->ver, c->all.c, c->all.n);
    }
    GUARD(af_prover_inclusion(&c->prover, seq - 1, c->claim.size));
    GUARD(store_audit_scan_in(p->v->db, log, 0, shard_fn, c));
    ENSURE(af_prover_done(&c->prover), VAULT_EINTEGRITY,
           "audit log: log %.80s: rolled back (fewer than the %llu entries the city log claimed); "
           "run audit verify", log, (ull)c->claim.size);
    ENSURE(vc_equal(c->prover.root, c->claim.root, 32), VAULT_EINTEGRITY,
           "audit log: log %.80s: rolled back (its tree at %llu entries is not the one the city "
           "log claimed); run audit verify", log, (ull)c->claim.size);
    out->seq = c->prover.index + 1;
    out->size = c->prover.size;
    memcpy(out->leaf, c->prover.leaf, 32);
    memcpy(out->root, c->prover.root, 32);
    out->nhashes = c->prover.n;
    memcpy(out->hashes, c->prover.hashes, c->prover.n * 32);
    out->log = strdup(log);
    ENSURE(out->log, VAULT_ENOMEM, "out of memory");
    out->via_entry = c->via_entry;
    out->via_len = c->via_len;
    c->via_entry = NULL;
    out->checkpoint = p->notes[0];
    p->notes[0] = NULL;
cleanup:
    if (c) {
        free(c->via_entry);
        af_claims_free(&c->all);
    }
    free(c);
    return rc;
}

/* Make the proof in one read snapshot: kind, (a, b) = (seq, size) or
 * (from, to).  Not logged (audit_prove.h). */
int audit__prove_local(vault_proof *out, vault *v, int kind, uint64_t a, uint64_t b)
{
    return audit__prove_local_in(out, v, NULL, kind, a, b);
}

int audit__prove_local_in(vault_proof *out, vault *v, const char *log, int kind, uint64_t a,
                          uint64_t b)
{
    int rc = VAULT_OK;
    prove_ctx *c = calloc(1, sizeof *c);
    int64_t count = 0;
    uint64_t size = b;
    size_t ncps = 0;

    ENSURE(c, VAULT_ENOMEM, "out of memory");
    c->v = v;
    if (kind == VAULT_PROOF_INCLUSION)
        ENSURE(a >= 1, VAULT_EINVALID, "entry 0: sequence numbers start at 1");
    ENSURE(kind == VAULT_PROOF_INCLUSION || store_log_is_city(log), VAULT_EINVALID,
           "consistency proofs are of the city log (its checkpoints cover the shard logs)");
    if (!store_log_is_city(log))
        GUARD(store_log_check(log));
    GUARD(op_begin(v, OP_READ));
    GUARD(audit__load_pk(c->pk, v));
    audit__origin(c->origin, sizeof c->origin, v);
    GUARD(store_audit_count(&count, v->db));
    c->cl.origin = c->origin;
    c->cl.pk = c->pk;
    GUARD(store_checkpoint_scan(v->db, audit__cps_fn, &c->cl));
    if (!store_log_is_city(log)) {
        GUARD(prove_shard(out, c, log, a, b));
        goto cleanup;
    }
    if (size == 0) {
        ENSURE(c->cl.newest > 0, VAULT_ENOTFOUND,
               "no signed checkpoint yet; write one (audit checkpoint) or name a size");
        size = c->cl.newest;
    }
    ENSURE(size <= (uint64_t)count, VAULT_ENOTFOUND,
           "no tree of size %llu: the log has %llu entries", (ull)size, (ull)count);
    if (kind == VAULT_PROOF_INCLUSION) {
        ENSURE(a <= size, b ? VAULT_EINVALID : VAULT_ENOTFOUND,
               b ? "entry %llu is not in the tree of size %llu"
                 : "entry %llu is newer than the newest checkpoint (size %llu); "
                   "write one (audit checkpoint) or name a size",
               (ull)a, (ull)size);
        GUARD(af_prover_inclusion(&c->prover, a - 1, size));
    } else {
        ENSURE(a <= size, VAULT_EINVALID,
               "from %llu is larger than to %llu", (ull)a, (ull)size);
        GUARD(af_prover_consistency(&c->prover, a, size));
        c->want[1] = a;
    }
    c->want[0] = size;
    GUARD(store_checkpoint_scan(v->db, note_fn, c));
    /* Only the checkpoints inside the range are checked on the way. */
    ncps = audit__cps_sorted(&c->cl, size);
    af_verifier_init(&c->ver, c->cl.cps, ncps);
    ENSURE(c->ver.res.cls == AF_OK, VAULT_EINTEGRITY, "audit log: %s", c->ver.res.message);
    if (!af_prover_done(&c->prover))
        GUARD(store_audit_scan(v->db, 0, entry_fn, c));
    ENSURE(af_prover_done(&c->prover), VAULT_EINTEGRITY,
           "audit log: truncated (fewer than %llu entries stored); run audit verify", (ull)size);
    op_rollback(v);
    af_prover_result(out, &c->prover);
    out->checkpoint = c->notes[0];
    c->notes[0] = NULL;
    if (kind == VAULT_PROOF_CONSISTENCY && a > 0) {
        out->from_checkpoint = c->notes[1];
        c->notes[1] = NULL;
    }
cleanup:
    op_rollback(v);
    if (c) {
        free(c->notes[0]);
        free(c->notes[1]);
        free(c->cl.cps);
        free(c);
    }
    return rc;
}

/* A proof over vaultd: its JSON answer, parsed as an offline verifier
 * would (nothing the service sends is taken on trust beyond its shape). */
static int prove_remote(vault_proof *out, vault *v, const char *log, int kind, uint64_t a,
                        uint64_t b)
{
    int rc = VAULT_OK;
    char *json = NULL;

    if (kind == VAULT_PROOF_INCLUSION)
        GUARD(client_audit_proof(&json, v, "/v1/audit/prove", log, "seq", a, "size", b));
    else
        GUARD(client_audit_proof(&json, v, "/v1/audit/consistency", NULL, "from", a, "to", b));
    GUARD(af_proof_parse(out, json, strlen(json)));
    ENSURE(out->kind == kind, VAULT_EIO, "vaultd: the proof answer is of the wrong kind");
    ENSURE(!out->log == !log && (!log || strcmp(out->log, log) == 0), VAULT_EIO,
           "vaultd: the proof answer is of another log");
    ENSURE(kind == VAULT_PROOF_INCLUSION ? out->seq == a : out->from == a, VAULT_EIO,
           "vaultd: the proof answer is of another entry or size");
    ENSURE(b == 0 || out->size == b, VAULT_EIO, "vaultd: the proof answer is of another size");
cleanup:
    free(json);
    return rc;
}

static int prove(vault_proof *out, vault *v, const char *log, int kind, uint64_t a, uint64_t b)
{
    const char *action = kind == VAULT_PROOF_INCLUSION ? "audit_prove" : "audit_consistency";
    int rc = VAULT_OK, entered = 0, logged;
    char detail[320], saved[256];

    ENSURE(out, VAULT_EINVALID, "missing output");
    memset(out, 0, sizeof *out);
    if (v && v->remote) {
        rc = prove_remote(out, v, log, kind, a, b); /* vaultd logs the call */
        goto cleanup;
    }
    GUARD(vault__enter(v));
    entered = 1;
    rc = audit__prove_local_in(out, v, log, kind, a, b);
    /* Logged after the read, refusals too, so that the entry names the
     * outcome; its detail holds only sizes, the log and the message. */
    if (rc == VAULT_OK && kind == VAULT_PROOF_INCLUSION && out->log)
        snprintf(detail, sizeof detail,
                 "entry %llu of log %.80s in its tree of size %llu, claimed in the tree of size "
                 "%llu%s", (ull)a, out->log, (ull)out->size, (ull)out->via_size,
                 out->checkpoint ? " (signed checkpoint)" : "");
    else if (rc == VAULT_OK && kind == VAULT_PROOF_INCLUSION)
        snprintf(detail, sizeof detail, "entry %llu in the tree of size %llu%s", (ull)a,
                 (ull)out->size, out->checkpoint ? " (signed checkpoint)" : "");
    else if (rc == VAULT_OK)
        snprintf(detail, sizeof detail, "size %llu to size %llu%s", (ull)a, (ull)out->size,
                 out->checkpoint ? " (signed checkpoint)" : "");
    else
        snprintf(detail, sizeof detail, "refused: %s", vault_error_last());
    snprintf(saved, sizeof saved, "%s", vault_error_last());
    logged = op_log_query(v, action, rc == VAULT_OK ? AF_OUTCOME_OK : AF_OUTCOME_ERROR, detail);
    if (rc == VAULT_OK) {
        GUARD(logged);
    } else {
        /* The refusal is what the caller asked about, also when damage
         * found stops appends. */
        rc = vault__err(rc, "%s", saved);
    }
cleanup:
    if (rc < 0 && out)
        vault_proof_clear(out);
    vault__exit(v, entered);
    return rc;
}

int vault_audit_prove(vault_proof *out, vault *v, uint64_t seq, uint64_t size)
{
    return prove(out, v, NULL, VAULT_PROOF_INCLUSION, seq, size);
}

int vault_audit_prove_in(vault_proof *out, vault *v, const char *log, uint64_t seq,
                         uint64_t size)
{
    return prove(out, v, store_log_is_city(log) ? NULL : log, VAULT_PROOF_INCLUSION, seq, size);
}

int vault_audit_consistency(vault_proof *out, vault *v, uint64_t from, uint64_t to)
{
    return prove(out, v, NULL, VAULT_PROOF_CONSISTENCY, from, to);
}

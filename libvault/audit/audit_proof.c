/* audit_proof: RFC 6962 proofs from a stream of leaves, their JSON form
 * and their offline check (audit_proof.h; docs/audit-format.md, "Proofs"). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit_claims.h"
#include "audit_proof.h"
#include "crypto.h"

typedef unsigned long long ull;

/* Largest power of two smaller than n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;

    while (k << 1 < n)
        k <<= 1;
    return k;
}

static int add_range(af_prover *p, uint64_t lo, uint64_t hi)
{
    if (p->n == AF_PROOF_RANGES)
        return vault__err(VAULT_ELIMIT, "proof: more than %d hashes", AF_PROOF_RANGES);
    p->lo[p->n] = lo;
    p->hi[p->n] = hi;
    p->n++;
    return VAULT_OK;
}

/* PATH(m, D[lo:hi]) of RFC 6962 section 2.1.1: the sibling subtrees from
 * the bottom up. */
static int plan_path(af_prover *p, uint64_t m, uint64_t lo, uint64_t hi)
{
    int rc = VAULT_OK;
    uint64_t k;

    if (hi - lo <= 1)
        goto cleanup;
    k = split_point(hi - lo);
    if (m < k) {
        GUARD(plan_path(p, m, lo, lo + k));
        GUARD(add_range(p, lo + k, hi));
    } else {
        GUARD(plan_path(p, m - k, lo + k, hi));
        GUARD(add_range(p, lo, lo + k));
    }
cleanup:
    return rc;
}

/* SUBPROOF(m, D[lo:hi], b) of RFC 6962 section 2.1.2. */
static int plan_subproof(af_prover *p, uint64_t m, uint64_t lo, uint64_t hi, int b)
{
    int rc = VAULT_OK;
    uint64_t k;

    if (m == hi - lo) {
        if (!b)
            GUARD(add_range(p, lo, hi));
        goto cleanup;
    }
    k = split_point(hi - lo);
    if (m <= k) {
        GUARD(plan_subproof(p, m, lo, lo + k, b));
        GUARD(add_range(p, lo + k, hi));
    } else {
        GUARD(plan_subproof(p, m - k, lo + k, hi, 0));
        GUARD(add_range(p, lo, lo + k));
    }
cleanup:
    return rc;
}

/* The ranges are disjoint: order them by their first leaf, so that one
 * pass over the leaves meets them one after the other. */
static void plan_order(af_prover *p)
{
    size_t i, j, t;

    for (i = 0; i < p->n; i++)
        p->order[i] = i;
    for (i = 1; i < p->n; i++)
        for (j = i; j > 0 && p->lo[p->order[j - 1]] > p->lo[p->order[j]]; j--)
            t = p->order[j], p->order[j] = p->order[j - 1], p->order[j - 1] = t;
    af_merkle_init(&p->part);
    af_merkle_init(&p->all);
    af_merkle_root(&p->all, p->root); /* the empty tree, until leaves come */
    if (p->kind == VAULT_PROOF_CONSISTENCY && p->from == 0)
        memcpy(p->from_root, p->root, 32);
}

int af_prover_inclusion(af_prover *p, uint64_t index, uint64_t size)
{
    int rc = VAULT_OK;

    ENSURE(p, VAULT_EINVALID, "af_prover_inclusion: missing argument");
    memset(p, 0, sizeof *p);
    ENSURE(index < size, VAULT_EINVALID, "proof: leaf %llu is not in a tree of %llu leaves",
           (ull)index, (ull)size);
    p->kind = VAULT_PROOF_INCLUSION;
    p->index = index;
    p->size = size;
    GUARD(plan_path(p, index, 0, size));
    plan_order(p);
cleanup:
    return rc;
}

int af_prover_consistency(af_prover *p, uint64_t size1, uint64_t size2)
{
    int rc = VAULT_OK;

    ENSURE(p, VAULT_EINVALID, "af_prover_consistency: missing argument");
    memset(p, 0, sizeof *p);
    ENSURE(size1 <= size2, VAULT_EINVALID,
           "proof: a tree of %llu leaves can't extend one of %llu", (ull)size2, (ull)size1);
    p->kind = VAULT_PROOF_CONSISTENCY;
    p->from = size1;
    p->size = size2;
    /* Size 0 and equal sizes need no hashes (RFC 6962 section 2.1.2). */
    if (size1 > 0 && size1 < size2)
        GUARD(plan_subproof(p, size1, 0, size2, 1));
    plan_order(p);
cleanup:
    return rc;
}

int af_prover_resume(af_prover *p, const af_merkle *first)
{
    int rc = VAULT_OK;
    uint64_t lo = 0, n;
    unsigned j = 0;
    int b, got[AF_PROOF_RANGES] = {0};
    size_t k;

    ENSURE(p && first, VAULT_EINVALID, "af_prover_resume: missing argument");
    n = first->size;
    ENSURE(p->kind == VAULT_PROOF_INCLUSION && p->pushed == 0 && n == p->index, VAULT_EINVALID,
           "proof: resumed at leaf %llu, planned for leaf %llu", (ull)n, (ull)p->index);
    /* first's stack: its perfect subtrees, the largest (leftmost) first */
    for (b = 63; b >= 0; b--) {
        uint64_t w = (uint64_t)1 << b;

        if (!(n & w))
            continue;
        for (k = 0; k < p->n; k++)
            if (p->lo[k] == lo && p->hi[k] == lo + w) {
                memcpy(p->hashes[k], first->stack[j], 32);
                got[k] = 1;
            }
        j++;
        lo += w;
    }
    while (p->cur < p->n && p->lo[p->order[p->cur]] < n) {
        ENSURE(got[p->order[p->cur]], VAULT_EINVALID,
               "proof: a range before leaf %llu is not a subtree of the first %llu leaves",
               (ull)n, (ull)n);
        p->cur++;
    }
    p->all = *first;
    p->pushed = n;
cleanup:
    return rc;
}

int af_prover_done(const af_prover *p) { return p->pushed >= p->size; }

int af_prover_push(af_prover *p, const uint8_t leaf[32])
{
    uint64_t i = p->pushed;
    size_t k;

    if (af_prover_done(p))
        return 1;
    if (p->kind == VAULT_PROOF_INCLUSION && i == p->index)
        memcpy(p->leaf, leaf, 32);
    if (p->cur < p->n && i >= p->lo[k = p->order[p->cur]]) {
        af_merkle_push(&p->part, leaf);
        if (i + 1 == p->hi[k]) {
            af_merkle_root(&p->part, p->hashes[k]);
            af_merkle_init(&p->part);
            p->cur++;
        }
    }
    af_merkle_push(&p->all, leaf);
    p->pushed++;
    if (p->kind == VAULT_PROOF_CONSISTENCY && p->pushed == p->from)
        af_merkle_root(&p->all, p->from_root);
    if (!af_prover_done(p))
        return 0;
    af_merkle_root(&p->all, p->root);
    return 1;
}

void af_prover_result(vault_proof *out, const af_prover *p)
{
    out->kind = p->kind;
    out->seq = p->kind == VAULT_PROOF_INCLUSION ? p->index + 1 : 0;
    out->from = p->kind == VAULT_PROOF_CONSISTENCY ? p->from : 0;
    out->size = p->size;
    memset(out->leaf, 0, 32);
    memset(out->from_root, 0, 32);
    if (p->kind == VAULT_PROOF_INCLUSION)
        memcpy(out->leaf, p->leaf, 32);
    else
        memcpy(out->from_root, p->from_root, 32);
    memcpy(out->root, p->root, 32);
    out->nhashes = p->n;
    memcpy(out->hashes, p->hashes, p->n * 32);
}

/* ---- JSON ---------------------------------------------------------------- */

static int jset(json_t *o, const char *k, json_t *v)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        return vault__err(VAULT_ENOMEM, "out of memory building a proof");
    return VAULT_OK;
}

static json_t *jb64(const uint8_t h[32])
{
    char b[48];

    if (vc_bin2b64(b, sizeof b, h, 32) != VAULT_OK)
        return NULL;
    return json_string(b);
}

static json_t *jnote(const char *note)
{
    return note ? json_string(note) : json_null();
}

static json_t *jsize(uint64_t n)
{
    return n <= INT64_MAX ? json_integer((json_int_t)n) : NULL;
}

/* The via object of a shard log's entry: {seq, entry, size, hashes, root}
 * (NULL when memory runs out or the proof can't be written). */
static json_t *via_json(const vault_proof *p)
{
    json_t *o = json_object(), *a = json_array(), *e = NULL;
    size_t i, n = 4 * ((p->via_len + 2) / 3) + 1;
    char *b64 = NULL;
    int bad = 0;

    if (!o || !a || p->via_nhashes > VAULT_PROOF_HASHES_MAX || !p->via_entry ||
        p->via_len > AF_ENTRY_MAX)
        goto fail;
    b64 = malloc(n);
    if (!b64 || vc_bin2b64(b64, n, p->via_entry, p->via_len) != VAULT_OK)
        goto fail;
    for (i = 0; i < p->via_nhashes; i++)
        if (json_array_append_new(a, jb64(p->via_hashes[i])) != 0)
            goto fail;
    e = json_string(b64);
    /* json_object_set_new takes its value, set or not */
    bad |= json_object_set_new(o, "seq", jsize(p->via_seq));
    bad |= json_object_set_new(o, "entry", e);
    bad |= json_object_set_new(o, "size", jsize(p->via_size));
    bad |= json_object_set_new(o, "hashes", a);
    bad |= json_object_set_new(o, "root", jb64(p->via_root));
    e = a = NULL;
    if (bad)
        goto fail;
    free(b64);
    return o;
fail:
    vault__err_clear();
    free(b64);
    json_decref(e);
    json_decref(a);
    json_decref(o);
    return NULL;
}

int af_proof_json(char **out, const vault_proof *p)
{
    int rc = VAULT_OK;
    json_t *o = NULL, *a = NULL;
    size_t i;
    int inc;

    ENSURE(out && p, VAULT_EINVALID, "vault_proof_json: missing argument");
    *out = NULL;
    inc = p->kind == VAULT_PROOF_INCLUSION;
    ENSURE(inc || p->kind == VAULT_PROOF_CONSISTENCY, VAULT_EINVALID, "proof: unknown kind %d",
           p->kind);
    ENSURE(p->nhashes <= VAULT_PROOF_HASHES_MAX, VAULT_EINVALID, "proof: more than %d hashes",
           VAULT_PROOF_HASHES_MAX);
    o = json_object();
    a = json_array();
    ENSURE(o && a, VAULT_ENOMEM, "out of memory building a proof");
    for (i = 0; i < p->nhashes; i++)
        ENSURE(json_array_append_new(a, jb64(p->hashes[i])) == 0, VAULT_ENOMEM,
               "out of memory building a proof");
    if (inc && p->log) {
        ENSURE(*p->log && strlen(p->log) <= AF_LOG_NAME_MAX && p->via_entry && p->via_len > 0 &&
                   p->via_len <= AF_ENTRY_MAX && p->via_nhashes <= VAULT_PROOF_HASHES_MAX,
               VAULT_EINVALID, "proof: a shard log's entry needs its log's name and via entry");
        ENSURE(json_object_set_new(o, "log", json_string(p->log)) == 0, VAULT_EINVALID,
               "proof: the log's name is not UTF-8");
    }
    if (inc) {
        GUARD(jset(o, "seq", jsize(p->seq)));
        GUARD(jset(o, "size", jsize(p->size)));
        GUARD(jset(o, "leaf", jb64(p->leaf)));
    } else {
        GUARD(jset(o, "from", jsize(p->from)));
        GUARD(jset(o, "size", jsize(p->size)));
        GUARD(jset(o, "from_root", jb64(p->from_root)));
    }
    rc = jset(o, "hashes", a);
    a = NULL;
    GUARD(rc);
    GUARD(jset(o, "root", jb64(p->root)));
    if (inc && p->log)
        GUARD(jset(o, "via", via_json(p)));
    if (!inc)
        GUARD(jset(o, "from_checkpoint", jnote(p->from_checkpoint)));
    GUARD(jset(o, "checkpoint", jnote(p->checkpoint)));
    *out = json_dumps(o, JSON_COMPACT);
    ENSURE(*out, VAULT_ENOMEM, "out of memory building a proof");
cleanup:
    json_decref(a);
    json_decref(o);
    return rc;
}

static int get_size(uint64_t *out, json_t *o, const char *key)
{
    json_t *j = json_object_get(o, key);

    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return vault__err(VAULT_EINVALID, "proof: \"%s\" is not a non-negative integer", key);
    *out = (uint64_t)json_integer_value(j);
    return VAULT_OK;
}

static int get_hash(uint8_t out[32], json_t *j, const char *key)
{
    size_t n = 0;

    if (!json_is_string(j) ||
        vc_b642bin(out, 32, &n, json_string_value(j), json_string_length(j)) != VAULT_OK ||
        n != 32) {
        vault__err_clear();
        return vault__err(VAULT_EINVALID, "proof: \"%s\" is not base64 of 32 bytes", key);
    }
    return VAULT_OK;
}

static int get_note(char **out, json_t *o, const char *key)
{
    json_t *j = json_object_get(o, key);

    if (json_is_null(j))
        return VAULT_OK;
    if (!json_is_string(j) || json_string_length(j) > AF_NOTE_MAX ||
        strlen(json_string_value(j)) != json_string_length(j))
        return vault__err(VAULT_EINVALID, "proof: \"%s\" is neither a note of at most %d bytes "
                          "nor null", key, AF_NOTE_MAX);
    *out = strdup(json_string_value(j));
    if (!*out)
        return vault__err(VAULT_ENOMEM, "out of memory reading a proof");
    return VAULT_OK;
}

/* An array of at most VAULT_PROOF_HASHES_MAX hashes into h, *n of them;
 * `what` names it ("hashes", "via.hashes"). */
static int get_hashes(uint8_t (*h)[32], size_t *n, json_t *a, const char *what)
{
    int rc = VAULT_OK;
    json_t *v;
    size_t i;
    char name[40];

    ENSURE(json_is_array(a), VAULT_EINVALID, "proof: \"%s\" is not an array", what);
    ENSURE(json_array_size(a) <= VAULT_PROOF_HASHES_MAX, VAULT_EINVALID,
           "proof: more than %d hashes in \"%s\"", VAULT_PROOF_HASHES_MAX, what);
    json_array_foreach(a, i, v) {
        snprintf(name, sizeof name, "%s[%zu]", what, i);
        GUARD(get_hash(h[i], v, name));
    }
    *n = json_array_size(a);
cleanup:
    return rc;
}

/* The via object of a shard log's entry, exactly its five keys. */
static int get_via(vault_proof *out, json_t *o)
{
    static const char *const keys[] = {"seq", "entry", "size", "hashes", "root"};
    int rc = VAULT_OK;
    json_t *e, *v;
    const char *key;
    size_t i, n = 0;

    ENSURE(json_is_object(o), VAULT_EINVALID, "proof: \"via\" is not an object");
    json_object_foreach(o, key, v) {
        for (i = 0; i < VAULT_ARRAY_LEN(keys) && strcmp(key, keys[i]) != 0; i++)
            ;
        ENSURE(i < VAULT_ARRAY_LEN(keys), VAULT_EINVALID, "proof: unknown key in \"via\"");
    }
    for (i = 0; i < VAULT_ARRAY_LEN(keys); i++)
        ENSURE(json_object_get(o, keys[i]), VAULT_EINVALID, "proof: missing \"via.%s\"",
               keys[i]);
    GUARD(get_size(&out->via_seq, o, "seq"));
    GUARD(get_size(&out->via_size, o, "size"));
    e = json_object_get(o, "entry");
    ENSURE(json_is_string(e) && json_string_length(e) <= 4 * ((AF_ENTRY_MAX + 2) / 3),
           VAULT_EINVALID, "proof: \"via.entry\" is not base64 of at most %d bytes",
           AF_ENTRY_MAX);
    n = json_string_length(e) / 4 * 3 + 3; /* what base64 of that length can hold */
    out->via_entry = malloc(n);
    ENSURE(out->via_entry, VAULT_ENOMEM, "out of memory reading a proof");
    if (vc_b642bin_public(out->via_entry, n, &n, json_string_value(e),
                          json_string_length(e)) != VAULT_OK || n == 0) {
        vault__err_clear();
        ENSURE(0, VAULT_EINVALID, "proof: \"via.entry\" is not base64 of at most %d bytes",
               AF_ENTRY_MAX);
    }
    out->via_len = n;
    GUARD(get_hash(out->via_root, json_object_get(o, "root"), "via.root"));
    GUARD(get_hashes(out->via_hashes, &out->via_nhashes, json_object_get(o, "hashes"),
                     "via.hashes"));
cleanup:
    return rc;
}

int af_proof_parse(vault_proof *out, const char *json, size_t len)
{
    static const char *const inc_keys[] = {"seq", "size", "leaf", "hashes", "root", "checkpoint",
                                           "log", "via"};
    static const char *const con_keys[] = {"from", "size", "from_root", "hashes",
                                           "root", "from_checkpoint", "checkpoint"};
    int rc = VAULT_OK, inc;
    json_t *o = NULL, *v;
    const char *key;
    const char *const *keys;
    size_t nkeys, i;

    if (out)
        memset(out, 0, sizeof *out);
    ENSURE(out && json, VAULT_EINVALID, "vault_proof_parse: missing argument");
    o = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    ENSURE(json_is_object(o), VAULT_EINVALID, "proof: not a JSON object");
    inc = json_object_get(o, "seq") != NULL;
    ENSURE(inc != (json_object_get(o, "from") != NULL), VAULT_EINVALID,
           "proof: needs \"seq\" (inclusion) or \"from\" (consistency), not both");
    keys = inc ? inc_keys : con_keys;
    nkeys = inc ? VAULT_ARRAY_LEN(inc_keys) : VAULT_ARRAY_LEN(con_keys);
    json_object_foreach(o, key, v) {
        for (i = 0; i < nkeys && strcmp(key, keys[i]) != 0; i++)
            ;
        ENSURE(i < nkeys, VAULT_EINVALID, "proof: unknown key in an %s proof",
               inc ? "inclusion" : "consistency");
    }
    for (i = 0; i < nkeys; i++)
        ENSURE(json_object_get(o, keys[i]) || (inc && i >= 6), VAULT_EINVALID,
               "proof: missing \"%s\"", keys[i]);
    /* a shard log's entry: "log" and "via" together */
    ENSURE(!json_object_get(o, "log") == !json_object_get(o, "via"), VAULT_EINVALID,
           "proof: \"log\" and \"via\" go together");
    out->kind = inc ? VAULT_PROOF_INCLUSION : VAULT_PROOF_CONSISTENCY;
    GUARD(get_size(&out->size, o, "size"));
    if (inc) {
        GUARD(get_size(&out->seq, o, "seq"));
        GUARD(get_hash(out->leaf, json_object_get(o, "leaf"), "leaf"));
        if ((v = json_object_get(o, "log"))) {
            ENSURE(json_is_string(v) && json_string_length(v) >= 1 &&
                       json_string_length(v) <= AF_LOG_NAME_MAX &&
                       strlen(json_string_value(v)) == json_string_length(v),
                   VAULT_EINVALID, "proof: \"log\" is not a shard log's name");
            out->log = strdup(json_string_value(v));
            ENSURE(out->log, VAULT_ENOMEM, "out of memory reading a proof");
            GUARD(get_via(out, json_object_get(o, "via")));
        }
    } else {
        GUARD(get_size(&out->from, o, "from"));
        GUARD(get_hash(out->from_root, json_object_get(o, "from_root"), "from_root"));
        GUARD(get_note(&out->from_checkpoint, o, "from_checkpoint"));
    }
    GUARD(get_hash(out->root, json_object_get(o, "root"), "root"));
    GUARD(get_note(&out->checkpoint, o, "checkpoint"));
    GUARD(get_hashes(out->hashes, &out->nhashes, json_object_get(o, "hashes"), "hashes"));
cleanup:
    if (rc < 0 && out)
        af_proof_free(out);
    json_decref(o);
    return rc;
}

/* ---- offline check --------------------------------------------------------- */

typedef struct vouch {
    int size, from; /* a signed note vouches for root / from_root */
} vouch;

/* One note (`where` names it): it must verify under (name, pk), be of the
 * proof's size or from-size (`want`: 0 either, else that one) and name the
 * same root. */
static int check_note(vouch *w, const vault_proof *p, const char *note, const char *name,
                      const uint8_t pk[32], uint64_t want, const char *where)
{
    int rc = VAULT_OK, r, con = p->kind == VAULT_PROOF_CONSISTENCY;
    af_checkpoint c;
    char why[256];

    r = af_checkpoint_verify(&c, note, strlen(note), name, pk);
    /* a copy: the message is formatted into the buffer it comes from */
    snprintf(why, sizeof why, "%s", vault_error_last());
    ENSURE(r != VAULT_EINTEGRITY, VAULT_EINTEGRITY, "%s: bad signature (%s)", where, why);
    ENSURE(r == VAULT_OK, r, "%s: %s", where, why);
    ENSURE(c.size == p->size || (con && c.size == p->from), VAULT_EINVALID,
           "%s is of size %llu, the proof of size %llu", where, (ull)c.size, (ull)p->size);
    ENSURE(want == 0 || c.size == want, VAULT_EINTEGRITY,
           "%s is of size %llu, not %llu as the proof says", where, (ull)c.size, (ull)want);
    if (c.size == p->size) {
        ENSURE(vc_equal(c.root, p->root, 32), VAULT_EINTEGRITY,
               "root: %s (size %llu) names another root than the proof", where, (ull)c.size);
        w->size = 1;
    }
    if (con && c.size == p->from) {
        ENSURE(vc_equal(c.root, p->from_root, 32), VAULT_EINTEGRITY,
               "root: %s (size %llu) names another root than the proof's from_root", where,
               (ull)c.size);
        w->from = 1;
    }
cleanup:
    return rc;
}

void af_proof_free(vault_proof *p)
{
    if (!p)
        return;
    free(p->checkpoint);
    free(p->from_checkpoint);
    free(p->log);
    free(p->via_entry);
    memset(p, 0, sizeof *p);
}

/* A shard log's entry: the claim its via_entry makes for (log, size,
 * root), then the city-log proof of that entry as an inclusion proof of
 * its own, which the notes must vouch for (af_proof_check). */
static int check_via(const vault_proof *p, const char *name, const uint8_t pk[32],
                     const char *const *notes, size_t nnotes)
{
    int rc = VAULT_OK;
    af_claims cl = {0};
    vault_proof city;
    uint64_t inner = 0;
    size_t i;
    int found = 0;

    memset(&city, 0, sizeof city);
    ENSURE(p->via_entry && p->via_len > 0 && p->via_nhashes <= VAULT_PROOF_HASHES_MAX,
           VAULT_EINVALID, "proof: a shard log's entry without its via entry");
    if (af_entry_check(&inner, p->via_entry, p->via_len) != VAULT_OK) {
        vault__err_clear();
        ENSURE(0, VAULT_EINTEGRITY, "claim: the via entry is not a canonical audit entry");
    }
    ENSURE(inner == p->via_seq, VAULT_EINTEGRITY,
           "claim: the via entry is entry %llu, the proof says %llu", (ull)inner,
           (ull)p->via_seq);
    GUARD(af_claims_take(&cl, p->via_seq, p->via_entry, p->via_len));
    for (i = 0; i < cl.n && !found; i++)
        found = strcmp(cl.c[i].origin, p->log) == 0 && cl.c[i].size == p->size &&
                vc_equal(cl.c[i].root, p->root, 32);
    ENSURE(found, VAULT_EINTEGRITY,
           "claim: city log entry %llu does not claim the tree of %llu entries of log %.80s "
           "with this root", (ull)p->via_seq, (ull)p->size, p->log);
    city.kind = VAULT_PROOF_INCLUSION;
    city.seq = p->via_seq;
    city.size = p->via_size;
    af_leaf_hash(city.leaf, p->via_entry, p->via_len);
    memcpy(city.root, p->via_root, 32);
    city.nhashes = p->via_nhashes;
    memcpy(city.hashes, p->via_hashes, p->via_nhashes * 32);
    city.checkpoint = p->checkpoint; /* borrowed */
    rc = af_proof_check(&city, name, pk, notes, nnotes);
cleanup:
    af_claims_free(&cl);
    return rc;
}

int af_proof_check(const vault_proof *p, const char *name, const uint8_t pk[32],
                   const char *const *notes, size_t nnotes)
{
    int rc = VAULT_OK, r, con;
    vouch w = {0, 0};
    af_merkle empty;
    uint8_t e[32];
    char where[256];
    size_t i;

    ENSURE(p && name && pk && (notes || nnotes == 0), VAULT_EINVALID,
           "vault_proof_check: missing argument");
    con = p->kind == VAULT_PROOF_CONSISTENCY;
    ENSURE(con || p->kind == VAULT_PROOF_INCLUSION, VAULT_EINVALID, "proof: unknown kind %d",
           p->kind);
    ENSURE(p->nhashes <= VAULT_PROOF_HASHES_MAX, VAULT_EINVALID, "proof: more than %d hashes",
           VAULT_PROOF_HASHES_MAX);
    if (con) {
        r = af_consistency_verify(p->from, p->size, p->from_root, p->root,
                                  (const uint8_t(*)[32])p->hashes, p->nhashes);
        if (r == VAULT_OK && p->from == 0) {
            /* The empty tree needs no hashes; its root is still fixed. */
            af_merkle_init(&empty);
            af_merkle_root(&empty, e);
            r = vc_equal(e, p->from_root, 32) ? VAULT_OK
                : vault__err(VAULT_EINTEGRITY, "from_root is not the empty tree's");
        }
    } else {
        ENSURE(p->seq >= 1, VAULT_EINVALID, "proof: entry 0 (sequence numbers start at 1)");
        r = af_inclusion_verify(p->seq - 1, p->size, p->leaf, (const uint8_t(*)[32])p->hashes,
                                p->nhashes, p->root);
    }
    if (r != VAULT_OK) { /* a copy: the message is formatted into its own buffer */
        snprintf(where, sizeof where, "%s", vault_error_last());
        rc = vault__err(r, "proof: %s", where);
        goto cleanup;
    }
    if (!con && p->log) {
        /* the notes sign the city tree: they are checked on the city level */
        rc = check_via(p, name, pk, notes, nnotes);
        goto cleanup;
    }
    if (p->checkpoint)
        GUARD(check_note(&w, p, p->checkpoint, name, pk, p->size, "the proof's checkpoint"));
    if (con && p->from_checkpoint)
        GUARD(check_note(&w, p, p->from_checkpoint, name, pk, p->from,
                         "the proof's from_checkpoint"));
    for (i = 0; i < nnotes; i++) {
        ENSURE(notes[i], VAULT_EINVALID, "checkpoint %zu is missing", i + 1);
        if (nnotes > 1)
            snprintf(where, sizeof where, "checkpoint %zu", i + 1);
        else
            snprintf(where, sizeof where, "the checkpoint");
        GUARD(check_note(&w, p, notes[i], name, pk, 0, where));
    }
    ENSURE(w.size, VAULT_ENOTFOUND, "no signed checkpoint of size %llu vouches for the root",
           (ull)p->size);
    ENSURE(!con || p->from == 0 || w.from, VAULT_ENOTFOUND,
           "no signed checkpoint of size %llu vouches for from_root", (ull)p->from);
cleanup:
    return rc;
}

/* ---- several inclusion proofs in one pass ---------------------------------- */

static int node_cmp(const void *a, const void *b)
{
    const af_batch_node *x = a, *y = b;

    if (x->hi != y->hi)
        return x->hi < y->hi ? -1 : 1;
    if (x->hi - x->lo != y->hi - y->lo)
        return x->hi - x->lo < y->hi - y->lo ? -1 : 1;
    return 0;
}

static size_t node_find(const af_batch *b, uint64_t lo, uint64_t hi)
{
    af_batch_node key;
    const af_batch_node *f;

    key.lo = lo;
    key.hi = hi;
    f = bsearch(&key, b->node, b->nnodes, sizeof key, node_cmp);
    return f ? (size_t)(f - b->node) : b->nnodes;
}

void af_batch_free(af_batch *b)
{
    if (!b)
        return;
    free(b->first);
    free(b->ref);
    free(b->leaf);
    free(b->node);
    memset(b, 0, sizeof *b);
}

int af_batch_init(af_batch *b, const uint64_t *idx, size_t n, uint64_t size)
{
    int rc = VAULT_OK;
    af_prover *p = NULL;
    size_t j, k, m = 0, total = 0, w;

    ENSURE(b && (idx || n == 0), VAULT_EINVALID, "af_batch_init: missing argument");
    memset(b, 0, sizeof *b);
    b->size = size;
    b->nproofs = n;
    ENSURE(n <= SIZE_MAX / (AF_PROOF_RANGES + 1) - 1, VAULT_ELIMIT, "proof: too many proofs");
    p = malloc(sizeof *p);
    b->first = calloc(n + 1, sizeof *b->first);
    b->leaf = calloc(n ? n : 1, sizeof *b->leaf);
    b->ref = calloc(n * AF_PROOF_RANGES + 1, sizeof *b->ref);
    b->node = calloc(n * (AF_PROOF_RANGES + 1) + 1, sizeof *b->node);
    ENSURE(p && b->first && b->leaf && b->ref && b->node, VAULT_ENOMEM,
           "out of memory planning proofs");
    /* Every range of every proof, and each proof's own leaf. */
    for (j = 0; j < n; j++) {
        GUARD(af_prover_inclusion(p, idx[j], size));
        for (k = 0; k < p->n; k++) {
            b->node[m].lo = p->lo[k];
            b->node[m++].hi = p->hi[k];
        }
        b->node[m].lo = idx[j];
        b->node[m++].hi = idx[j] + 1;
        total += p->n;
    }
    /* Distinct, in the order they form as the leaves pass. */
    if (m > 1)
        qsort(b->node, m, sizeof *b->node, node_cmp);
    for (k = 0, w = 0; k < m; k++)
        if (w == 0 || node_cmp(&b->node[w - 1], &b->node[k]) != 0)
            b->node[w++] = b->node[k];
    b->nnodes = w;
    /* Plan again to refer to them (the plans are cheap: O(log size)). */
    for (j = 0, total = 0; j < n; j++) {
        GUARD(af_prover_inclusion(p, idx[j], size));
        b->first[j] = total;
        for (k = 0; k < p->n; k++)
            b->ref[total++] = node_find(b, p->lo[k], p->hi[k]);
        b->leaf[j] = node_find(b, idx[j], idx[j] + 1);
    }
    b->first[n] = total;
    af_merkle_init(&p->all);
    af_merkle_root(&p->all, b->root); /* the empty tree's, until leaves come */
cleanup:
    free(p);
    if (rc < 0)
        af_batch_free(b);
    return rc;
}

/* A node formed: keep its hash when a proof wants it (nodes form in the
 * order of node[], so one cursor finds them). */
static void batch_formed(af_batch *b, uint64_t lo, uint64_t hi, const uint8_t hash[32])
{
    if (b->cur < b->nnodes && b->node[b->cur].lo == lo && b->node[b->cur].hi == hi)
        memcpy(b->node[b->cur++].hash, hash, 32);
}

int af_batch_push(af_batch *b, const uint8_t leaf[32])
{
    af_batch_node *l, *r;
    uint8_t h[32];
    size_t i;

    if (b->pushed >= b->size)
        return 1;
    r = &b->stack[b->sp++];
    r->lo = b->pushed;
    r->hi = b->pushed + 1;
    memcpy(r->hash, leaf, 32);
    batch_formed(b, r->lo, r->hi, r->hash);
    /* Two perfect subtrees of one size make the next larger one. */
    while (b->sp >= 2 && b->stack[b->sp - 1].hi - b->stack[b->sp - 1].lo ==
                             b->stack[b->sp - 2].hi - b->stack[b->sp - 2].lo) {
        l = &b->stack[b->sp - 2];
        r = &b->stack[b->sp - 1];
        af_node_hash(l->hash, l->hash, r->hash);
        l->hi = r->hi;
        b->sp--;
        batch_formed(b, l->lo, l->hi, l->hash);
    }
    if (++b->pushed < b->size)
        return 0;
    /* The right edge: fold from the right; [lo, size) forms at each step. */
    memcpy(h, b->stack[b->sp - 1].hash, 32);
    for (i = b->sp - 1; i-- > 0;) {
        af_node_hash(h, b->stack[i].hash, h);
        batch_formed(b, b->stack[i].lo, b->size, h);
    }
    memcpy(b->root, h, 32);
    return 1;
}

int af_batch_proof(uint8_t leaf[32], uint8_t hashes[][32], size_t *nhashes, const af_batch *b,
                   size_t j)
{
    int rc = VAULT_OK;
    size_t k;

    ENSURE(b && leaf && hashes && nhashes && j < b->nproofs, VAULT_EINVALID,
           "af_batch_proof: missing argument");
    ENSURE(b->pushed >= b->size && b->cur == b->nnodes, VAULT_EINVALID,
           "proof: the tree's leaves are not all in yet");
    memcpy(leaf, b->node[b->leaf[j]].hash, 32);
    *nhashes = b->first[j + 1] - b->first[j];
    for (k = 0; k < *nhashes; k++)
        memcpy(hashes[k], b->node[b->ref[b->first[j] + k]].hash, 32);
cleanup:
    return rc;
}

/* audit: the public calls on the log: the actor, checkpoints and the
 * public key, verification, export and reports.  Each enters the handle
 * (op.c) and uses the log through audit_log.c. */
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

#include "audit/audit.h"
#include "audit_scan.h"
#include "audit/audit_claims.h"
#include "audit/audit_cosign.h"
#include "audit/audit_pipe.h"
#include "audit_prove.h"
#include "crypto.h"
#include "text.h"
#include "op.h"
#include "client/client.h"


/* ---- public: actor, checkpoint, pubkey ---- */

int vault_set_actor(vault *v, const char *user)
{
    if (v && v->remote)
        return client_unsupported("vault_set_actor", "the actor is the token's subject");
    int rc = VAULT_OK;
    char norm[VAULT_NAME_MAX];

    GUARD(vault__lock(v));
    /* The rule for session users (text.h), kept in the same comparison
     * form, so that reports find the actor under either spelling. */
    rc = vault__user_norm(norm, sizeof norm, user, "actor");
    if (rc == VAULT_OK) {
        snprintf(v->actor, sizeof v->actor, "%s", norm);
        vault__who_local(&v->actor_who); /* embedded again */
    }
    vault__leave(v);
cleanup:
    return rc;
}

/* A refused vault_set_actor_as is an attempt to act as someone: one
 * entry with the name and principal as asserted (malformed as "?"),
 * outcome denied, the reason as detail.  Returns `code` with the saved
 * message, or the logging error. */
static int log_actor_refusal(vault *v, const char *user, const vault_principal *who, int code)
{
    int rc = VAULT_OK;
    char saved[512], name[VAULT_NAME_MAX];
    vault__who w;
    af_entry e;

    snprintf(saved, sizeof saved, "%s", vault_error_last());
    if (!user || vault__user_norm(name, sizeof name, user, "actor") != VAULT_OK)
        snprintf(name, sizeof name, "?");
    vault__who_asserted(&w, who);
    GUARD(op_begin(v, OP_WRITE));
    audit_entry_init(&e, v, NULL, "set_actor");
    e.user = name;
    e.who.issuer = w.issuer, e.who.subject = w.subject, e.who.token_id = w.token_id;
    e.who.app = w.app, e.who.peer = w.peer;
    e.outcome = AF_OUTCOME_DENIED;
    e.detail = saved;
    GUARD(audit_append(v, &e));
    GUARD(op_commit(v));
    rc = vault__err(code, "%s", saved);
cleanup:
    op_rollback(v);
    return rc;
}

int vault_set_actor_as(vault *v, const char *user, const vault_principal *who)
{
    if (v && v->remote)
        return client_unsupported("vault_set_actor_as", "the actor is the token's subject");
    int rc = VAULT_OK, entered = 0;
    char norm[VAULT_NAME_MAX];
    vault__who w;
    vault_principal who_l;

    VAULT_OPT_IN(who, who_l, "vault_principal", "VAULT_PRINCIPAL_INIT");
    GUARD(vault__enter(v));
    entered = 1;
    rc = vault__user_norm(norm, sizeof norm, user, "actor");
    if (rc == VAULT_OK)
        rc = who ? vault__who_set(&w, who) : vault__err(VAULT_EINVALID, "missing principal");
    if (rc == VAULT_OK)
        rc = vault__who_current(&w, vault__now());
    if (rc < 0) {
        rc = log_actor_refusal(v, user, who, rc);
        goto cleanup;
    }
    snprintf(v->actor, sizeof v->actor, "%s", norm);
    v->actor_who = w;
cleanup:
    vault__exit(v, entered);
    return rc;
}


int vault_log_refusal(vault *v, const vault_principal *who, const char *action,
                      const char *detail)
{
    if (v && v->remote)
        return client_unsupported("vault_log_refusal", "vaultd logs its own refusals");
    int rc = VAULT_OK, entered = 0;
    char act[VAULT_NAME_MAX], det[VAULT_REASON_TEXT_SIZE];
    vault__who w;
    vault_principal who_l;
    af_entry e;

    ENSURE(v, VAULT_EINVALID, "missing vault handle");
    VAULT_OPT_IN(who, who_l, "vault_principal", "VAULT_PRINCIPAL_INIT");
    ENSURE(action && vault__name_check(action, "action") == VAULT_OK, VAULT_EINVALID,
           "vault_log_refusal: the action must be a name");
    snprintf(act, sizeof act, "%s", action);
    /* The reason is free text without values; anything else is replaced. */
    if (detail && vault__text_check(detail, sizeof det - 1, "detail") == VAULT_OK)
        snprintf(det, sizeof det, "%s", detail);
    else
        snprintf(det, sizeof det, "(malformed reason)");
    vault__err_clear();
    vault__who_asserted(&w, who);
    GUARD(vault__enter(v));
    entered = 1;
    GUARD(op_begin(v, OP_WRITE));
    audit_entry_init(&e, v, NULL, act);
    e.user = "?"; /* nobody was authenticated */
    e.who.issuer = w.issuer, e.who.subject = w.subject, e.who.token_id = w.token_id;
    e.who.app = w.app, e.who.peer = w.peer;
    e.outcome = AF_OUTCOME_DENIED;
    e.detail = det;
    GUARD(audit_append(v, &e));
    GUARD(op_commit(v));
cleanup:
    if (entered) {
        op_rollback(v);
        vault__exit(v, entered);
    }
    return rc;
}

int vault_audit_checkpoint(char **out_note, vault *v)
{
    if (v && v->remote)
        return client_audit_checkpoint(out_note, v);
    int rc = VAULT_OK, entered = 0;

    if (out_note)
        *out_note = NULL;
    GUARD(vault__enter(v));
    entered = 1;
    GUARD(op_begin(v, OP_WRITE));
    /* Logged before signing: the note covers its own entry. */
    GUARD(audit__log_meta(v, "audit_checkpoint", AF_OUTCOME_OK, "signed checkpoint handed out"));
    GUARD(audit_checkpoint(out_note, v));
    GUARD(op_commit(v));
cleanup:
    if (rc < 0 && out_note) {
        free(*out_note);
        *out_note = NULL;
    }
    vault__exit(v, entered);
    if (rc == VAULT_OK)
        audit__witness_auto(v); /* the note handed out is the one before cosignatures */
    return rc;
}

/* C2SP note verifier key: name+keyid(hex)+base64(0x01 | pk). */
static int format_vkey(char *out, size_t cap, const char *name, const uint8_t pk[32])
{
    uint8_t keyid[4], typed[33];
    char b64[64];
    int rc = VAULT_OK;

    af_note_keyid(keyid, name, pk);
    typed[0] = 0x01;
    memcpy(typed + 1, pk, 32);
    GUARD(vc_bin2b64(b64, sizeof b64, typed, sizeof typed));
    ENSURE((size_t)snprintf(out, cap, "%s+%02x%02x%02x%02x+%s", name, keyid[0], keyid[1], keyid[2],
                            keyid[3], b64) < cap,
           VAULT_EINVALID, "public key buffer too small");
cleanup:
    return rc;
}

/* Client mode: the service's key against the one the caller pinned. */
static int remote_pubkey(char *out, size_t out_size, vault *v)
{
    int rc = VAULT_OK;
    char name[256];
    uint8_t pk[32];

    GUARD(client_audit_pubkey(out, out_size, v));
    if (v->expect_known) {
        GUARD(af_log_vkey_parse(name, pk, out));
        ENSURE(vc_equal(pk, v->expect_pk, sizeof pk), VAULT_EINTEGRITY,
               "audit log: the service's checkpoint key is not the pinned public key given");
    }
cleanup:
    if (rc < 0 && out && out_size > 0)
        out[0] = '\0';
    return rc;
}

int vault_audit_pin(vault *v, const char *pubkey)
{
    int rc = VAULT_OK, entered = 0;
    char name[256], origin[64];
    uint8_t pk[32];

    ENSURE(v, VAULT_EINVALID, "missing vault handle");
    ENSURE(pubkey, VAULT_EINVALID, "missing public key");
    GUARD(af_log_vkey_parse(name, pk, pubkey));
    if (!v->remote) {
        GUARD(vault__enter(v));
        entered = 1;
        audit__origin(origin, sizeof origin, v);
        ENSURE(strcmp(name, origin) == 0, VAULT_EINTEGRITY,
               "audit log: the pinned public key given is for %s, not this vault (%s)", name,
               origin);
    }
    memcpy(v->expect_pk, pk, sizeof pk);
    v->expect_known = 1;
cleanup:
    if (entered)
        vault__exit(v, entered);
    return rc;
}

int vault_audit_pubkey(char *out, size_t out_size, vault *v)
{
    if (v && v->remote)
        return remote_pubkey(out, out_size, v);
    int rc = VAULT_OK, entered = 0;
    uint8_t pk[32];
    char origin[64];

    ENSURE(out && out_size > 0, VAULT_EINVALID, "missing output");
    out[0] = '\0';
    GUARD(vault__enter(v));
    entered = 1;
    GUARD(op_begin(v, OP_WRITE));
    GUARD(audit__load_pk(pk, v));
    audit__origin(origin, sizeof origin, v);
    GUARD(format_vkey(out, out_size, origin, pk));
    GUARD(audit__log_meta(v, "audit_pubkey", AF_OUTCOME_OK, "checkpoint public key handed out"));
    GUARD(op_commit(v));
cleanup:
    if (rc < 0 && out && out_size > 0)
        out[0] = '\0';
    vault__exit(v, entered);
    return rc;
}

/* ---- verification ---- */

static void result_fill(vault_audit_result *out, const af_verify_result *r)
{
    int cls = r->cls;

    memset(out, 0, sizeof *out);
    out->failure = cls;
    snprintf(out->failure_name, sizeof out->failure_name, "%s", cls ? af_class_name(cls) : "");
    out->bad_seq = r->bad_seq;
    out->entries = r->entries;
    out->checkpoints = r->checkpoints;
    snprintf(out->message, sizeof out->message, "%s", r->message);
    out->newest_size = r->newest_size;
    out->newest_time = r->newest_time;
}


typedef struct cp_list {
    af_checkpoint *cps;
    size_t n, cap;
    const char *name; /* the verifier key's name: this log's origin */
    const uint8_t *pk;
    af_verify_result *res;
    char *newest;         /* the note of the largest stored checkpoint (malloc'ed) */
    size_t newest_len;
    uint64_t newest_size;
    uint64_t from;        /* incremental: stored checkpoints below this size are skipped */
} cp_list;

static int cp_push(cp_list *l, const af_checkpoint *cp)
{
    af_checkpoint *grown;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        grown = realloc(l->cps, l->cap * sizeof *grown);
        if (!grown)
            return vault__err(VAULT_ENOMEM, "out of memory");
        l->cps = grown;
    }
    l->cps[l->n++] = *cp;
    return VAULT_OK;
}

/* A checkpoint stored in the vault, under the size its row claims. */
static int cp_scan_fn(void *arg, uint64_t size, const char *note, size_t len)
{
    cp_list *l = arg;
    af_checkpoint cp;

    if (l->res->cls)
        return 0; /* keep the first failure */
    if (size < l->from)
        return 0; /* covered by the trusted checkpoint */
    if (af_checkpoint_verify(&cp, note, len, l->name, l->pk) < 0) {
        af_verify_set(l->res, AF_BAD_SIGNATURE, size, "checkpoint %llu: bad signature (%s)",
                    (unsigned long long)size, vault_error_last());
        return 0;
    }
    if (cp.size != size) {
        af_verify_set(l->res, AF_BAD_SIGNATURE, size,
                    "checkpoint %llu: bad signature (the note is stored under another size)",
                    (unsigned long long)size);
        return 0;
    }
    if (!l->newest || size > l->newest_size) {
        char *copy = strndup(note, len);

        if (!copy)
            return vault__err(VAULT_ENOMEM, "out of memory");
        free(l->newest);
        l->newest = copy;
        l->newest_len = len;
        l->newest_size = size;
    }
    return cp_push(l, &cp);
}

/* The policy's witnesses as a verifier pins them; *out malloc'ed (NULL
 * when none). */
static int policy_witness_keys(af_witness_key **out, size_t *n, const vault_policy *p)
{
    size_t count = policy_witness_count(p);

    *out = NULL;
    *n = 0;
    if (count == 0)
        return VAULT_OK;
    *out = calloc(count, sizeof **out);
    if (!*out)
        return vault__err(VAULT_ENOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const vp_witness *w = policy_witness_at(p, i);

        snprintf((*out)[i].name, sizeof (*out)[i].name, "%s", w->name);
        memcpy((*out)[i].pk, w->pk, 32);
    }
    *n = count;
    return VAULT_OK;
}

/* After a clean scan: the newest checkpoint (note, size; NULL when none)
 * must carry `quorum` valid cosignatures from distinct witnesses of keys
 * (docs/audit-format.md section 5, "Witnesses").  Shared with the export
 * verifier. */
static void witness_check(af_verify_result *r, const char *note, size_t len, uint64_t size,
                          const af_witness_key *keys, size_t nkeys, size_t quorum)
{
    char names[160] = "";
    size_t count, used = 0;
    uint64_t mask = 0;

    if (quorum == 0 || r->cls)
        return;
    if (!note) {
        af_verify_set(r, AF_UNWITNESSED, 0, "unwitnessed (%zu cosignatures required and no "
                      "signed checkpoint to carry them)", quorum);
        return;
    }
    count = af_cosign_count(note, len, keys, nkeys, &mask);
    if (count >= quorum)
        return;
    for (size_t i = 0; i < nkeys && i < 64; i++)
        if (mask & ((uint64_t)1 << i)) {
            int w = snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "",
                             keys[i].name);
            if (w < 0 || (size_t)w >= sizeof names - used)
                break;
            used += (size_t)w;
        }
    af_verify_set(r, AF_UNWITNESSED, size,
                  "checkpoint %llu: unwitnessed (%zu of %zu required cosignatures%s%s)",
                  (unsigned long long)size, count, quorum, count ? ": " : "", names);
}

/* External note i of n (kept outside the vault): a bad signature is
 * reported at the size the note claims, a note that does not parse as
 * malformed. */
static int cp_external_as(cp_list *l, const char *note, const char *where)
{
    af_checkpoint cp;
    int r;

    r = af_checkpoint_verify(&cp, note, strlen(note), l->name, l->pk);
    if (r == VAULT_EINTEGRITY) {
        af_verify_set(l->res, AF_BAD_SIGNATURE, cp.size, "checkpoint %llu: bad signature (%s: %s)",
                    (unsigned long long)cp.size, where, vault_error_last());
        return 0;
    }
    if (r < 0) {
        af_verify_set(l->res, AF_MALFORMED, 0, "%s: malformed (%s)", where, vault_error_last());
        return 0;
    }
    if (cp.size < l->from)
        return vault__err(VAULT_EINVALID, "%s covers %llu entries, fewer than the --since "
                          "checkpoint's %llu: verify the whole log to check it", where,
                          (unsigned long long)cp.size, (unsigned long long)l->from);
    cp.external = 1;
    return cp_push(l, &cp);
}

static int cp_external(cp_list *l, const char *note, size_t i, size_t n)
{
    char where[48];

    if (n > 1)
        snprintf(where, sizeof where, "external checkpoint %zu", i + 1);
    else
        snprintf(where, sizeof where, "external checkpoint");
    return cp_external_as(l, note, where);
}

static int cp_cmp(const void *a, const void *b)
{
    const af_checkpoint *x = a, *y = b;

    return x->size < y->size ? -1 : x->size > y->size;
}

typedef struct verify_ctx {
    af_verifier ver;
    af_pipe *pipe;     /* the worker that verifies what the scan reads */
    vault_progress_fn progress;
    void *arg;
    uint64_t total, scanned;
    af_claims *claims; /* the city log's scan: the shard heads it claims (may be NULL) */
} verify_ctx;

/* The scan, on the calling thread: each entry goes to the pipe's worker
 * (audit/audit_pipe.h), which checks, hashes and chains it as the
 * single-threaded verifier would, sequence number from the entry's bytes
 * (a damaged entry keeps its storage position so the failure names the
 * right place). */
static int verify_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                     size_t head_len)
{
    verify_ctx *c = arg;
    int r = af_pipe_push(c->pipe, (uint64_t)pos, 1, entry, len, head_len == 32 ? head : NULL);

    if (r == 0 && c->claims)
        r = af_claims_take(c->claims, (uint64_t)pos, entry, len);
    c->scanned++;
    if (c->progress && (c->scanned & 0xffff) == 0)
        c->progress(c->scanned, c->total, c->arg);
    return r;
}

size_t vault_audit_notes_max(void) { return VAULT_AUDIT_NOTES_MAX; }

static int tree_state_check_in(af_verifier *ver, vault *v, const char *log);

static int tree_state_check(af_verifier *ver, vault *v)
{
    return tree_state_check_in(ver, v, STORE_LOG_CITY);
}

/* After a clean scan: the Merkle state the vault keeps for appends (on
 * the newest entry, written in every appending transaction) must describe
 * the same log.  Entries cut from the end take the state with them, and
 * a state put back with them shows the size it covers: both show up
 * here; someone who also rewrites it (with the row-MAC key) is caught only
 * by a checkpoint kept outside the vault. */
static int tree_state_check_in(af_verifier *ver, vault *v, const char *log)
{
    af_merkle kept;
    uint8_t a[32], b[32];
    af_verify_result *r = &ver->res;
    unsigned long long have = (unsigned long long)ver->tree.size;
    int missing = 0;
    int rc = audit__tree_load_in(&kept, &missing, v, log);

    if (rc == VAULT_EINTEGRITY && missing) {
        af_verify_set(r, AF_TRUNCATED, have + 1,
                    "entry %llu: truncated (the newest entry carries no tree state: entries "
                    "after it were cut, or the state removed)", have + 1);
        return VAULT_OK;
    }
    if (rc == VAULT_EINTEGRITY) {
        af_verify_set(r, AF_MALFORMED, have + 1,
                    "entry %llu: malformed (the vault's kept tree state is damaged)", have + 1);
        return VAULT_OK;
    }
    if (rc < 0)
        return rc;
    if (kept.size > ver->tree.size) {
        af_verify_set(r, AF_TRUNCATED, have + 1,
                    "entry %llu: truncated (log has %llu entries but the vault's tree state "
                    "covers %llu)",
                    have + 1, have, (unsigned long long)kept.size);
        return VAULT_OK;
    }
    if (kept.size < ver->tree.size) {
        af_verify_set(r, AF_MODIFIED, (uint64_t)kept.size + 1,
                    "entry %llu: modified (entries after %llu are not in the vault's tree state)",
                    (unsigned long long)kept.size + 1, (unsigned long long)kept.size);
        return VAULT_OK;
    }
    af_merkle_root(&kept, a);
    af_merkle_root(&ver->tree, b);
    if (!vc_equal(a, b, 32))
        af_verify_set(r, AF_MODIFIED, have,
                    "entry %llu: modified (entries up to %llu do not match the vault's tree state)",
                    have, have);
    return VAULT_OK;
}

/* Check the notes argument of the verify calls. */
static int notes_check(const char *const *notes, size_t nnotes)
{
    size_t i;

    if (nnotes > VAULT_AUDIT_NOTES_MAX)
        return vault__err(VAULT_ELIMIT, "at most %d external checkpoints", VAULT_AUDIT_NOTES_MAX);
    if (nnotes && !notes)
        return vault__err(VAULT_EINVALID, "missing external checkpoints");
    for (i = 0; i < nnotes; i++)
        if (!notes[i])
            return vault__err(VAULT_EINVALID, "external checkpoint %zu is missing", i + 1);
    return VAULT_OK;
}

/* The detail of a verify entry: outcome class, where, and the counts. */
static void verify_detail(char *out, size_t cap, const vault_audit_result *r, size_t nnotes,
                          uint64_t since_size, int since)
{
    char from[48] = "";

    if (since == 1)
        snprintf(from, sizeof from, " after checkpoint %llu", (unsigned long long)since_size);
    else if (since == 2)
        snprintf(from, sizeof from, " (in full: no tree kept at %llu)",
                 (unsigned long long)since_size);
    if (r->failure)
        snprintf(out, cap, "%s at entry %llu; %llu entries%s, %llu checkpoints (%zu external)",
                 r->failure_name, (unsigned long long)r->bad_seq, (unsigned long long)r->entries,
                 from, (unsigned long long)r->checkpoints, nnotes);
    else
        snprintf(out, cap, "ok; %llu entries%s, %llu checkpoints (%zu external)",
                 (unsigned long long)r->entries, from, (unsigned long long)r->checkpoints,
                 nnotes);
}

/* Client mode: the service verifies; a key other than the pinned one is a
 * bad signature whatever it says. */
static int remote_verify(vault_audit_result *out, vault *v, const char *const *notes,
                         size_t nnotes)
{
    char key[VAULT_PUBKEY_SIZE];
    int rc = client_audit_verify(out, v, notes, nnotes);

    if (rc < 0 || !v->expect_known)
        return rc;
    if (remote_pubkey(key, sizeof key, v) == VAULT_EINTEGRITY) {
        memset(out, 0, sizeof *out);
        out->failure = VAULT_AUDIT_BAD_SIGNATURE;
        snprintf(out->failure_name, sizeof out->failure_name, "%s",
                 af_class_name(AF_BAD_SIGNATURE));
        snprintf(out->message, sizeof out->message, "bad signature: %s", vault_error_last());
        vault__err_clear();
    }
    return rc;
}

/* After a clean scan: the stored checkpoints must include the last one
 * the vault signed, and none may lag the log by a full interval (one
 * falls due every AUDIT_CHECKPOINT_EVERY entries, in the transaction that
 * reaches it): otherwise checkpoints were deleted. */
static int checkpoints_check(af_verifier *ver, vault *v)
{
    int rc = VAULT_OK, found = 0;
    uint64_t last = 0, signed_size = 0, have = ver->tree.size;

    GUARD(store_checkpoint_last(&last, v->db));
    GUARD(audit__signed_size(&signed_size, &found, v));
    if (found && signed_size > last) {
        af_verify_set(&ver->res, AF_MISSING, signed_size,
                      "checkpoint %llu: missing (this vault signed a checkpoint of %llu entries "
                      "and the store's newest covers %llu: checkpoints were deleted)",
                      (unsigned long long)signed_size, (unsigned long long)signed_size,
                      (unsigned long long)last);
    } else if (have >= last + AUDIT_CHECKPOINT_EVERY) {
        af_verify_set(&ver->res, AF_MISSING, last + AUDIT_CHECKPOINT_EVERY,
                      "checkpoint %llu: missing (the newest stored checkpoint covers %llu of %llu "
                      "entries; one falls due every %d: checkpoints were deleted)",
                      (unsigned long long)(last + AUDIT_CHECKPOINT_EVERY),
                      (unsigned long long)last, (unsigned long long)have,
                      AUDIT_CHECKPOINT_EVERY);
    }
cleanup:
    return rc;
}

/* The trusted checkpoint of an incremental verification: its signature
 * with the vault's key, and the tree the vault kept at its size, which
 * must fold to its root.  A finding goes to *res (checked by the caller);
 * an error (no tree kept for it) is returned. */
typedef struct since_state {
    af_checkpoint cp;
    af_merkle tree;
    int64_t pos;
    uint8_t head[32];
    int full; /* no tree kept at its size: verify in full, the note as external */
} since_state;

static int since_load(since_state *ss, af_verify_result *res, vault *v, const char *note,
                      const char *origin, const uint8_t pk[32], int64_t count)
{
    int rc = VAULT_OK, found = 0;
    uint8_t root[32];

    memset(ss, 0, sizeof *ss);
    rc = af_checkpoint_verify(&ss->cp, note, strlen(note), origin, pk);
    if (rc == VAULT_EINTEGRITY) {
        af_verify_set(res, AF_BAD_SIGNATURE, ss->cp.size,
                      "checkpoint %llu: bad signature (the --since checkpoint: %s)",
                      (unsigned long long)ss->cp.size, vault_error_last());
        return VAULT_OK;
    }
    if (rc < 0) {
        af_verify_set(res, AF_MALFORMED, 0, "the --since checkpoint: malformed (%s)",
                      vault_error_last());
        return VAULT_OK;
    }
    if (ss->cp.size > (uint64_t)count) {
        af_verify_set(res, AF_ROLLBACK, (uint64_t)count + 1,
                      "entry %llu: rolled back (log has %llu entries but the trusted checkpoint "
                      "covers %llu)", (unsigned long long)count + 1, (unsigned long long)count,
                      (unsigned long long)ss->cp.size);
        return VAULT_OK;
    }
    if (ss->cp.size == 0) {
        af_merkle_init(&ss->tree); /* the empty tree: everything is new */
        return VAULT_OK;
    }
    rc = audit__checkpoint_state(&ss->tree, &ss->pos, ss->head, &found, v, ss->cp.size);
    if (rc == VAULT_EINTEGRITY) {
        af_verify_set(res, AF_MODIFIED, ss->cp.size, "entry %llu: modified (%s)",
                      (unsigned long long)ss->cp.size, vault_error_last());
        return VAULT_OK;
    }
    GUARD(rc);
    if (!found) {
        /* Signed before the vault kept these, its record removed, or a
         * history that never had a checkpoint of that size (a copy put
         * back and used): the whole log is verified against the note,
         * which gives "rolled back" in the last two cases. */
        ss->full = 1;
        return VAULT_OK;
    }
    af_merkle_root(&ss->tree, root);
    if (!vc_equal(root, ss->cp.root, 32))
        af_verify_set(res, AF_ROLLBACK, ss->cp.size,
                      "entry %llu: rolled back (the log's tree at %llu entries is not the one "
                      "of the trusted checkpoint)", (unsigned long long)ss->cp.size,
                      (unsigned long long)ss->cp.size);
cleanup:
    return rc;
}

/* One log's entries after `after` through c's verifier, on its worker.
 * The scan reads ahead of the worker: a read error past a finding the
 * worker made is not what one thread would have met.  The finding
 * stands. */
static int scan_verified(verify_ctx *c, vault *v, const char *log, int64_t after)
{
    int rc = VAULT_OK;

    GUARD(af_pipe_start(&c->pipe, &c->ver));
    rc = store_audit_scan_in(v->db, log, after, verify_fn, c);
    af_pipe_finish(c->pipe); /* joins the worker: c->ver is complete */
    c->pipe = NULL;
    if (rc < 0 && c->ver.res.cls != AF_OK && c->ver.res.cls != AF_MISSING) {
        vault__err_clear();
        rc = VAULT_OK;
    }
cleanup:
    return rc;
}

/* The shard logs (a store with many_logs: docs/postgresql.md "Per-shard
 * chains"), after a clean city log: each its own chain, positions and
 * Merkle tree from entry 1, checked as the city log's are (through the
 * pipe), against every head the city log's log_heads entries claimed for
 * it (cl, sorted here: checkpoints of that log to its verifier), and its
 * kept tree state; a log claimed but not in the store is rolled back.
 * The first finding goes to *res, its message naming the log.  Progress
 * goes on counting from the city log's (c). */
static int verify_shards(af_verify_result *res, uint64_t *entries, vault *v,
                         const store_log_list *ll, af_claims *cl, verify_ctx *c)
{
    int rc = VAULT_OK;
    const store_log_list l = *ll;
    const af_checkpoint *mine;
    size_t i, k = 0, n;

    af_claims_sort(cl);
    for (i = 0; i < l.n && !res->cls; i++) {
        mine = af_claims_next(cl, &k, l.log[i].name, &n, res, "the store");
        if (res->cls)
            break;
        if (l.log[i].pos == 0) {
            /* listed by its head row alone: every entry of it is gone */
            af_verify_set(res, AF_TRUNCATED, 1,
                          "log %.80s: entry 1: truncated (its head row names entries the store "
                          "no longer has)", l.log[i].name);
            break;
        }
        af_verifier_init(&c->ver, mine, n);
        c->claims = NULL;
        GUARD(scan_verified(c, v, l.log[i].name, 0));
        if (!c->ver.res.cls)
            (void)af_verifier_finish(&c->ver);
        if (!c->ver.res.cls)
            GUARD(tree_state_check_in(&c->ver, v, l.log[i].name));
        *entries += c->ver.res.entries;
        if (c->ver.res.cls) {
            *res = c->ver.res;
            af_verify_in_log(res, l.log[i].name);
        }
    }
    if (!res->cls)
        (void)af_claims_next(cl, &k, NULL, &n, res, "the store");
cleanup:
    return rc;
}

/* Full (since NULL) or incremental verification in the vault. */
static int verify_local(vault_audit_result *out, vault *v, const char *since,
                        const char *const *notes, size_t nnotes, vault_progress_fn progress,
                        void *arg)
{
    int rc = VAULT_OK, entered = 0, logged;
    uint8_t pk[32];
    char origin[64], detail[192];
    cp_list l = {0};
    verify_ctx c;
    af_verify_result pre;
    since_state ss;
    af_claims claims = {0};
    store_log_list shards = {0};
    int64_t count = 0;
    size_t i;

    ENSURE(out, VAULT_EINVALID, "missing output");
    memset(out, 0, sizeof *out);
    memset(&pre, 0, sizeof pre);
    memset(&c, 0, sizeof c);
    memset(&ss, 0, sizeof ss);
    GUARD(notes_check(notes, nnotes));
    GUARD(vault__enter(v));
    entered = 1;
    GUARD(op_begin(v, OP_STANDBY_READ)); /* one consistent snapshot */
    rc = audit__load_pk(pk, v);
    if (rc == VAULT_EINTEGRITY) {
        /* The stored public key fails its row MAC: nothing it would verify
         * can be trusted. */
        af_verify_set(&pre, AF_BAD_SIGNATURE, 0, "bad signature: %s", vault_error_last());
        rc = VAULT_OK;
    }
    GUARD(rc);
    GUARD(store_audit_count(&count, v->db));
    audit__origin(origin, sizeof origin, v);
    if (since && !pre.cls)
        GUARD(since_load(&ss, &pre, v, since, origin, pk, count));
    l.name = origin;
    l.pk = pk;
    l.res = &pre;
    l.from = ss.full ? 0 : ss.cp.size;
    rc = pre.cls ? VAULT_OK : store_checkpoint_scan(v->db, cp_scan_fn, &l);
    if (rc == VAULT_EINTEGRITY && !pre.cls) {
        /* A checkpoint row that fails its row MAC was written by someone
         * else than this vault: a signature it did not make. */
        af_verify_set(&pre, AF_BAD_SIGNATURE, 0, "bad signature: %s", vault_error_last());
        rc = VAULT_OK;
    }
    GUARD(rc);
    for (i = 0; i < nnotes && !pre.cls; i++)
        GUARD(cp_external(&l, notes[i], i, nnotes));
    if (since && ss.full && !pre.cls)
        GUARD(cp_external_as(&l, since, "the --since checkpoint"));
    if (pre.cls) {
        result_fill(out, &pre);
    } else {
        if (l.n > 1)
            qsort(l.cps, l.n, sizeof *l.cps, cp_cmp);
        if (since && !ss.full)
            af_verifier_resume(&c.ver, l.cps, l.n, &ss.tree, ss.head);
        else
            af_verifier_init(&c.ver, l.cps, l.n);
        c.progress = progress;
        c.arg = arg;
        c.total = (uint64_t)count - (ss.full ? 0 : ss.cp.size);
        if (store_many_logs(v->db)) {
            GUARD(store_audit_log_list(&shards, v->db, 1));
            for (i = 0; i < shards.n; i++)
                c.total += (uint64_t)shards.log[i].pos;
        }
        /* the shard heads the city log claims (an incremental
         * verification: those after its trusted checkpoint) */
        c.claims = store_many_logs(v->db) ? &claims : NULL;
        if (!c.ver.res.cls)
            GUARD(scan_verified(&c, v, STORE_LOG_CITY, ss.pos));
        if (!c.ver.res.cls)
            (void)af_verifier_finish(&c.ver);
        if (!c.ver.res.cls)
            GUARD(tree_state_check(&c.ver, v));
        if (!c.ver.res.cls)
            GUARD(checkpoints_check(&c.ver, v));
        if (!c.ver.res.cls && store_many_logs(v->db)) {
            uint64_t shard_entries = 0;
            af_verify_result sr, city = c.ver.res;

            memset(&sr, 0, sizeof sr);
            GUARD(verify_shards(&sr, &shard_entries, v, &shards, &claims, &c));
            c.ver.res = city;
            if (!sr.cls && claims.bad)
                af_verify_set(&sr, AF_MALFORMED, claims.bad_pos,
                              "entry %llu: malformed (a log_heads entry whose claims do not "
                              "parse)", (unsigned long long)claims.bad_pos);
            if (sr.cls) {
                /* the city log's checkpoints, never a shard log's claims */
                sr.checkpoints = city.checkpoints;
                sr.newest_size = city.newest_size;
                sr.newest_time = city.newest_time;
                sr.entries = city.entries + shard_entries;
                c.ver.res = sr;
            } else {
                c.ver.res.entries += shard_entries;
            }
        }
        if (!c.ver.res.cls && policy_witness_quorum(v->policy) > 0) {
            af_witness_key *keys = NULL;
            size_t nkeys = 0;

            GUARD(policy_witness_keys(&keys, &nkeys, v->policy));
            witness_check(&c.ver.res, l.newest, l.newest_len, l.newest_size, keys, nkeys,
                          policy_witness_quorum(v->policy));
            free(keys);
        }
        result_fill(out, &c.ver.res);
        out->checkpoints = l.n;
        if (ss.full && !out->failure)
            snprintf(out->message, sizeof out->message,
                     "verified in full: the vault keeps no tree for the trusted checkpoint of "
                     "%llu entries (signed before libvault kept them, or its record removed)",
                     (unsigned long long)ss.cp.size);
        if (progress)
            progress(c.scanned, c.total, arg);
    }
    op_rollback(v); /* read-only */
    /* Logged after the scan, so that it never covers its own entry.  When
     * the damage found stops appends, the finding is still reported; an
     * intact log whose verification can't be logged is an error. */
    verify_detail(detail, sizeof detail, out, nnotes, since ? ss.cp.size : 0,
                  since ? (ss.full ? 2 : 1) : 0);
    logged = op_log_query(v, "audit_verify", out->failure ? AF_OUTCOME_ERROR : AF_OUTCOME_OK,
                             detail);
    if (!out->failure)
        GUARD(logged);
    if (out->failure)
        rc = vault__err(VAULT_EINTEGRITY, "audit log: %s", out->message);
cleanup:
    af_pipe_finish(c.pipe);
    vault__exit(v, entered);
    free(l.cps);
    free(l.newest);
    af_claims_free(&claims);
    store_log_list_free(&shards);
    return rc;
}

int vault_audit_verify_notes(vault_audit_result *out, vault *v, const char *const *notes,
                             size_t nnotes, vault_progress_fn progress, void *arg)
{
    if (v && v->remote)
        return remote_verify(out, v, notes, nnotes);
    return verify_local(out, v, NULL, notes, nnotes, progress, arg);
}

int vault_audit_verify_since(vault_audit_result *out, vault *v, const char *since_note,
                             const char *const *notes, size_t nnotes, vault_progress_fn progress,
                             void *arg)
{
    if (!since_note) {
        if (out)
            memset(out, 0, sizeof *out);
        return vault__err(VAULT_EINVALID, "vault_audit_verify_since: missing the trusted "
                          "checkpoint");
    }
    if (v && v->remote) {
        if (out)
            memset(out, 0, sizeof *out);
        return vault__err(VAULT_EINVALID, "incremental verification runs in the vault, not "
                          "through vaultd: verify an export, or ask vaultd's operator");
    }
    return verify_local(out, v, since_note, notes, nnotes, progress, arg);
}

int vault_audit_verify(vault_audit_result *out, vault *v, const char *checkpoint_note,
                       vault_progress_fn progress, void *arg)
{
    return vault_audit_verify_notes(out, v, &checkpoint_note, checkpoint_note ? 1 : 0, progress,
                                    arg);
}

/* ---- export ---- */

typedef struct export_ctx {
    FILE *f;
    int compact;      /* VAULT_EXPORT_COMPACT: no decoded keys */
    vault_progress_fn progress;
    void *arg;
    uint64_t done, total;
    int failed;
} export_ctx;

static int export_cp_fn(void *arg, uint64_t size, const char *note, size_t len)
{
    export_ctx *c = arg;
    char *line = NULL;
    int rc;

    (void)size;
    (void)len;
    rc = af_export_checkpoint_line(&line, note);
    if (rc == VAULT_OK && fprintf(c->f, "%s\n", line) < 0)
        rc = vault__err(VAULT_EIO, "audit export: write failed");
    free(line);
    return rc;
}

static int export_entry_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len,
                           const uint8_t *head, size_t head_len)
{
    export_ctx *c = arg;
    char *line = NULL;
    uint64_t seq = 0;
    int rc;

    /* A damaged entry is exported as stored, under its storage position,
     * so that an offline verifier reports it (docs/audit-format.md §4). */
    if (af_entry_check(&seq, entry, len) < 0) {
        vault__err_clear();
        seq = (uint64_t)pos;
    }
    rc = (c->compact ? af_export_compact_line : af_export_entry_line)(
        &line, seq, entry, len, head_len == 32 ? head : NULL);
    if (rc == VAULT_OK && fprintf(c->f, "%s\n", line) < 0)
        rc = vault__err(VAULT_EIO, "audit export: write failed");
    free(line);
    c->done++;
    if (c->progress && (c->done & 0xffff) == 0)
        c->progress(c->done, c->total, c->arg);
    return rc;
}

int vault_audit_export(vault *v, const char *path, vault_progress_fn progress, void *arg)
{
    return vault_audit_export_as(v, path, 0, progress, arg);
}

int vault_audit_export_as(vault *v, const char *path, int flags, vault_progress_fn progress,
                          void *arg)
{
    if (flags & ~VAULT_EXPORT_COMPACT)
        return vault__err(VAULT_EINVALID, "vault_audit_export_as: unknown flags 0x%x",
                          (unsigned)flags);
    if (v && v->remote && flags)
        return vault__err(VAULT_EINVALID, "vaultd writes full exports only: export through "
                          "it without --compact");
    if (v && v->remote)
        return client_audit_export(v, path);
    int rc = VAULT_OK, entered = 0, to_stdout = 0, fd = -1, created = 0;
    export_ctx c;
    int64_t count = 0;
    char *tmp = NULL;
    size_t n, i;
    store_log_list shards = {0};

    memset(&c, 0, sizeof c);
    c.compact = (flags & VAULT_EXPORT_COMPACT) != 0;
    ENSURE(path, VAULT_EINVALID, "missing export path");
    to_stdout = strcmp(path, "-") == 0;
    GUARD(vault__enter(v));
    entered = 1;
    if (to_stdout) {
        c.f = stdout;
    } else {
        /* Write beside the target and rename, so a failed export never
         * leaves a partial file under the requested name. */
        n = strlen(path) + 16;
        tmp = malloc(n);
        ENSURE(tmp, VAULT_ENOMEM, "out of memory");
        snprintf(tmp, n, "%s.partial", path);
        /* New file only, never through a symlink, 0600 whatever the umask:
         * the log names residents and officers. */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        ENSURE(fd >= 0, errno == EEXIST ? VAULT_EEXISTS : VAULT_EIO, "%s: cannot create: %s", tmp,
               errno == EEXIST ? "it exists already" : strerror(errno));
        created = 1;
        if (fchmod(fd, 0600) == 0)
            c.f = fdopen(fd, "w");
        if (!c.f) {
            rc = vault__err(VAULT_EIO, "%s: cannot create: %s", tmp, strerror(errno));
            close(fd);
            goto cleanup;
        }
    }
    c.progress = progress;
    c.arg = arg;
    /* Logged (and committed) first, so the export includes its own entry. */
    GUARD(op_log_query(v, "audit_export", AF_OUTCOME_OK,
                          to_stdout ? (c.compact ? "to standard output, compact" :
                                       "to standard output") :
                                      (c.compact ? "to a file, compact" : "to a file")));
    GUARD(op_begin(v, OP_STANDBY_READ));
    GUARD(store_audit_count(&count, v->db));
    c.total = (uint64_t)count;
    if (store_many_logs(v->db)) {
        GUARD(store_audit_log_list(&shards, v->db, 1));
        for (i = 0; i < shards.n; i++)
            c.total += (uint64_t)shards.log[i].pos;
    }
    GUARD(store_checkpoint_scan(v->db, export_cp_fn, &c));
    GUARD(store_audit_scan(v->db, 0, export_entry_fn, &c));
    /* then each shard log's, after a line that names it (the list's
     * order: ascending bytes) */
    for (i = 0; i < shards.n; i++) {
        char *line = NULL;

        GUARD(af_export_log_line(&line, shards.log[i].name));
        if (fprintf(c.f, "%s\n", line) < 0)
            rc = vault__err(VAULT_EIO, "audit export: write failed");
        free(line);
        GUARD(rc);
        GUARD(store_audit_scan_in(v->db, shards.log[i].name, 0, export_entry_fn, &c));
    }
    op_rollback(v);
    if (!to_stdout) {
        ENSURE(fflush(c.f) == 0 && fsync(fileno(c.f)) == 0, VAULT_EIO, "%s: write failed", tmp);
        fclose(c.f);
        c.f = NULL;
        /* link, not rename: an existing export is never overwritten */
        ENSURE(link(tmp, path) == 0, errno == EEXIST ? VAULT_EEXISTS : VAULT_EIO,
               "%s: %s", path, errno == EEXIST ? "already exists" : strerror(errno));
        unlink(tmp);
    } else {
        fflush(stdout);
    }
    if (progress)
        progress(c.done, c.total, arg);
cleanup:
    if (c.f && !to_stdout) {
        fclose(c.f);
        unlink(tmp);
    } else if (rc < 0 && created) {
        unlink(tmp); /* ours; never a file that was there before */
    }
    vault__exit(v, entered);
    free(tmp);
    store_log_list_free(&shards);
    return rc;
}

typedef struct progress_bridge {
    vault_progress_fn fn;
    void *arg;
} progress_bridge;

static void bridge(uint64_t done, void *arg)
{
    progress_bridge *b = arg;

    b->fn(done, 0, b->arg);
}

int vault_audit_verify_export_notes(vault_audit_result *out, const char *export_path,
                                    const char *pubkey, const char *const *notes, size_t nnotes,
                                    vault_progress_fn progress, void *arg)
{
    int rc = VAULT_OK;
    uint8_t pk[32];
    char name[256];
    FILE *f = NULL;
    af_verify_result r;
    progress_bridge b = {progress, arg};

    vault__err_clear();
    ENSURE(out && export_path && pubkey, VAULT_EINVALID, "missing export, public key or output");
    memset(out, 0, sizeof *out);
    GUARD(notes_check(notes, nnotes));
    GUARD(vc_init());
    GUARD(af_log_vkey_parse(name, pk, pubkey));
    f = strcmp(export_path, "-") == 0 ? stdin : fopen(export_path, "r");
    ENSURE(f, VAULT_ENOTFOUND, "%s: cannot open the export", export_path);
    memset(&r, 0, sizeof r);
    rc = af_export_verify(&r, f, name, pk, notes, nnotes, progress ? bridge : NULL, &b);
    GUARD(rc);
    rc = VAULT_OK;
    result_fill(out, &r);
    if (out->failure)
        rc = vault__err(VAULT_EINTEGRITY, "audit export: %s", out->message);
cleanup:
    if (f && f != stdin)
        fclose(f);
    return rc;
}

int vault_audit_verify_export(vault_audit_result *out, const char *export_path, const char *pubkey,
                              const char *checkpoint_note, vault_progress_fn progress, void *arg)
{
    return vault_audit_verify_export_notes(out, export_path, pubkey, &checkpoint_note,
                                           checkpoint_note ? 1 : 0, progress, arg);
}

/* The newest checkpoint an export carries (its checkpoint lines come
 * first): *out malloc'ed (NULL when it has none), verified with the log's
 * key as af_export_verify did. */
static int export_newest(char **out, size_t *out_len, uint64_t *out_size, const char *path,
                         const char *name, const uint8_t pk[32])
{
    int rc = VAULT_OK;
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    json_t *o = NULL;

    *out = NULL;
    *out_len = 0;
    *out_size = 0;
    ENSURE(f, VAULT_ENOTFOUND, "%s: cannot open the export", path);
    while ((n = getline(&line, &cap, f)) > 0) {
        json_t *cp;
        const char *note;
        af_checkpoint c;

        if (strncmp(line, "{\"checkpoint\"", 13) != 0)
            break;
        json_decref(o);
        o = json_loadb(line, (size_t)n, 0, NULL);
        cp = o ? json_object_get(o, "checkpoint") : NULL;
        if (!json_is_string(cp))
            break;
        note = json_string_value(cp);
        if (af_checkpoint_verify(&c, note, json_string_length(cp), name, pk) != VAULT_OK) {
            vault__err_clear();
            continue;
        }
        if (!*out || c.size > *out_size) {
            free(*out);
            *out = strndup(note, json_string_length(cp));
            ENSURE(*out, VAULT_ENOMEM, "out of memory");
            *out_len = json_string_length(cp);
            *out_size = c.size;
        }
    }
cleanup:
    json_decref(o);
    free(line);
    if (f)
        fclose(f);
    return rc;
}

int vault_audit_verify_export_witnessed(vault_audit_result *out, const char *export_path,
                                        const char *pubkey, const char *const *notes,
                                        size_t nnotes, const char *const *witness_keys,
                                        size_t nwitness, size_t quorum,
                                        vault_progress_fn progress, void *arg)
{
    int rc = VAULT_OK;
    af_witness_key *keys = NULL;
    af_verify_result r;
    char name[256], *newest = NULL;
    uint8_t pk[32];
    size_t newest_len = 0;
    uint64_t newest_size = 0;

    vault__err_clear();
    ENSURE(out && export_path && pubkey, VAULT_EINVALID, "missing export, public key or output");
    memset(out, 0, sizeof *out);
    ENSURE(nwitness == 0 || witness_keys, VAULT_EINVALID, "missing witness keys");
    ENSURE(nwitness <= 64, VAULT_ELIMIT, "at most 64 witness keys");
    ENSURE(quorum <= nwitness, VAULT_EINVALID,
           "a quorum of %zu cosignatures is more than the %zu witness keys given", quorum,
           nwitness);
    ENSURE(nwitness == 0 || strcmp(export_path, "-") != 0, VAULT_EINVALID,
           "counting cosignatures needs an export file, not standard input");
    if (nwitness > 0) {
        keys = calloc(nwitness, sizeof *keys);
        ENSURE(keys, VAULT_ENOMEM, "out of memory");
        for (size_t i = 0; i < nwitness; i++) {
            ENSURE(witness_keys[i], VAULT_EINVALID, "witness key %zu is missing", i + 1);
            rc = af_vkey_parse(keys[i].name, keys[i].pk, witness_keys[i],
                               strlen(witness_keys[i]), AF_SIGTYPE_COSIGN_V1);
            ENSURE(rc == VAULT_OK, VAULT_EINVALID,
                   "witness key %zu is not a witness verifier key (name+keyid+base64 of 0x04 "
                   "and an Ed25519 key)", i + 1);
        }
    }
    GUARD(vault_audit_verify_export_notes(out, export_path, pubkey, notes, nnotes, progress,
                                          arg));
    if (nwitness == 0)
        goto cleanup;
    GUARD(af_log_vkey_parse(name, pk, pubkey));
    GUARD(export_newest(&newest, &newest_len, &newest_size, export_path, name, pk));
    memset(&r, 0, sizeof r);
    witness_check(&r, newest, newest_len, newest_size, keys, nwitness,
                  quorum ? quorum : nwitness);
    if (r.cls) {
        out->failure = r.cls;
        snprintf(out->failure_name, sizeof out->failure_name, "%s", af_class_name(r.cls));
        out->bad_seq = r.bad_seq;
        snprintf(out->message, sizeof out->message, "%s", r.message);
        rc = vault__err(VAULT_EINTEGRITY, "audit export: %s", out->message);
    }
cleanup:
    free(keys);
    free(newest);
    return rc;
}

/* ---- reports ---- */

typedef struct report_ctx {
    int kind;
    uint8_t record[VAULT_ID_BYTES];
    char user[VAULT_NAME_MAX]; /* comparison form (text.h) */
    int as_json;
    json_t *arr;
    vault_buf text; /* wiped: it holds who accessed whom */
    int failed;
    const char *log; /* the log being read ("" the city log's) */
} report_ctx;

static const char *outcome_name(int o)
{
    return o == AF_OUTCOME_OK ? "ok" : o == AF_OUTCOME_DENIED ? "denied" : "error";
}

static const char *effect_name(int e)
{
    return e == VAULT_EFFECT_ALLOW ? "allow" : e == VAULT_EFFECT_MASK ? "mask" : "deny";
}

static int text_append(report_ctx *c, const char *fmt, ...) VAULT_PRINTF(2, 3);
static int text_append(report_ctx *c, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vault__buf_vprintf(&c->text, fmt, ap);
    va_end(ap);
    return rc;
}

/* Free text from the log on a report line, with control characters and
 * bidi controls escaped (text.h): a stored newline can't forge a line,
 * an ESC sequence can't hide one on a terminal. */
static int text_append_esc(report_ctx *c, const char *prefix, const char *s)
{
    int rc = VAULT_OK;
    char *esc = NULL;

    GUARD(vault__text_escape(&esc, s ? s : "", s ? strlen(s) : 0));
    GUARD(text_append(c, "%s%s", prefix, esc));
cleanup:
    free(esc);
    return rc;
}

static int ascii_only(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 0;
    return 1;
}

/* Does the user name stored in an entry name `want` (comparison form)?
 * Both sides are compared in the comparison form; ASCII names fold
 * without libunistring.  A stored name that is no valid user name (older
 * entries) matches only byte for byte. */
static int user_matches(const char *want, const char *user)
{
    char norm[VAULT_NAME_MAX];
    size_t i;

    if (!user)
        return 0;
    if (strcmp(user, want) == 0)
        return 1;
    if (ascii_only(user) && ascii_only(want)) {
        for (i = 0; user[i] && want[i]; i++) {
            char a = user[i], b = want[i];
            if (a >= 'A' && a <= 'Z')
                a = (char)(a - 'A' + 'a');
            if (a != b)
                return 0;
        }
        return user[i] == '\0' && want[i] == '\0';
    }
    if (vault__user_norm(norm, sizeof norm, user, "user") != VAULT_OK) {
        vault__err_clear();
        return 0;
    }
    return strcmp(norm, want) == 0;
}

static void time_text(char *out, size_t cap, int64_t us)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tmv;
    char base[24];

    gmtime_r(&t, &tmv);
    if (strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tmv) == 0)
        base[0] = '\0';
    snprintf(out, cap, "%.19s.%06lldZ", base, (long long)(us % 1000000));
}

static int report_match(const report_ctx *c, const af_entry *e)
{
    size_t i;

    switch (c->kind) {
    case VAULT_REPORT_RECORD:
        return e->has_record && memcmp(e->record_id, c->record, VAULT_ID_BYTES) == 0; /* memcmp ok: not secret */
    case VAULT_REPORT_USER:
        return user_matches(c->user, e->user);
    case VAULT_REPORT_BREAK_GLASS:
        return (e->flags & AF_FLAG_BREAK_GLASS) != 0;
    case VAULT_REPORT_DENIED:
        if (e->outcome == AF_OUTCOME_DENIED)
            return 1;
        for (i = 0; i < e->nfields; i++)
            if (e->fields[i].effect == VAULT_EFFECT_DENY)
                return 1;
        return 0;
    default:
        return 0;
    }
}

static json_t *jprincipal(const af_entry *e, const char *s)
{
    return e->version == AF_VERSION_2 ? json_string(s) : json_null();
}

/* After the subject on a text line: " [app=A iss=I sub=S]" for an entry of
 * an authenticated caller, " [embedded]" for one of an embedded caller;
 * nothing for LVA1 entries, which recorded no principal. */
static int text_principal(report_ctx *c, const af_entry *e)
{
    int rc = VAULT_OK;
    const char *sep = " [";

    if (e->version != AF_VERSION_2)
        goto cleanup;
    if (!*e->who.app && !*e->who.issuer) {
        GUARD(text_append(c, " [embedded]"));
        goto cleanup;
    }
    if (*e->who.app) {
        GUARD(text_append_esc(c, " [app=", e->who.app));
        sep = " ";
    }
    if (*e->who.issuer) {
        GUARD(text_append(c, "%siss=", sep));
        GUARD(text_append_esc(c, "", e->who.issuer));
        GUARD(text_append_esc(c, " sub=", e->who.subject));
    }
    GUARD(text_append(c, "]"));
cleanup:
    return rc;
}

static int report_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                     size_t head_len)
{
    report_ctx *c = arg;
    af_entry e;
    void *storage = NULL;
    char when[40], rid[VAULT_ID_HEX_SIZE];
    size_t i;
    int rc = VAULT_OK;

    (void)head;
    (void)head_len;
    if (audit_entry_read(&e, &storage, pos, entry, len) < 0)
        return VAULT_EINTEGRITY;
    if (!report_match(c, &e))
        goto cleanup;
    time_text(when, sizeof when, e.time_us);
    if (e.has_record)
        vault__id_format(rid, e.record_id);
    if (c->as_json) {
        json_t *fields = json_array(), *o;
        for (i = 0; i < e.nfields; i++)
            json_array_append_new(fields, json_pack("{s:s, s:s, s:s}", "name", e.fields[i].name,
                                                    "effect", effect_name(e.fields[i].effect),
                                                    "reason", e.fields[i].reason));
        o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:s}", "seq",
                      (json_int_t)e.seq, "time", when, "user", e.user, "role", e.role,
                      "department", e.department, "jurisdiction", e.jurisdiction, "purpose",
                      e.purpose, "action", e.action, "outcome", outcome_name(e.outcome), "fields",
                      fields, "break_glass", (e.flags & AF_FLAG_BREAK_GLASS) != 0, "detail",
                      e.detail);
        ENSURE(o, VAULT_ENOMEM, "report: could not build JSON");
        json_object_set_new(o, "record", e.has_record ? json_string(rid) : json_null());
        json_object_set_new(o, "alert", json_boolean((e.flags & AF_FLAG_ALERT) != 0));
        json_object_set_new(o, "canary", json_boolean((e.flags & AF_FLAG_CANARY) != 0));
        /* The principal: null in LVA1 entries, which recorded none. */
        json_object_set_new(o, "issuer", jprincipal(&e, e.who.issuer));
        json_object_set_new(o, "subject", jprincipal(&e, e.who.subject));
        json_object_set_new(o, "token_id", jprincipal(&e, e.who.token_id));
        json_object_set_new(o, "app", jprincipal(&e, e.who.app));
        json_object_set_new(o, "peer", jprincipal(&e, e.who.peer));
        /* a shard log's entry says which (its seq counts in that log) */
        if (c->log && *c->log && json_object_set_new(o, "log", json_string(c->log)) < 0) {
            json_decref(o);
            ENSURE(0, VAULT_ENOMEM, "report: could not build JSON");
        }
        json_array_append_new(c->arr, o);
    } else if (c->log && *c->log) {
        GUARD(text_append_esc(c, "", when));
        GUARD(text_append_esc(c, "  ", c->log));
        GUARD(text_append(c, "#%llu", (unsigned long long)e.seq));
    } else {
        GUARD(text_append(c, "%s  #%llu", when, (unsigned long long)e.seq));
    }
    if (!c->as_json) {
        GUARD(text_append_esc(c, "  ", e.user));
        if (*e.role) {
            GUARD(text_append_esc(c, " (", e.role));
            GUARD(text_append_esc(c, "/", e.department));
            GUARD(text_append_esc(c, " @ ", e.jurisdiction));
            GUARD(text_append(c, ")"));
        }
        GUARD(text_principal(c, &e));
        GUARD(text_append_esc(c, "  ", e.action));
        if (*e.purpose)
            GUARD(text_append_esc(c, "  purpose=", e.purpose));
        if (e.has_record)
            GUARD(text_append(c, "  record=%s", rid));
        GUARD(text_append(c, "  %s", outcome_name(e.outcome)));
        for (i = 0; i < e.nfields; i++) {
            GUARD(text_append_esc(c, i ? "," : "  ", e.fields[i].name));
            GUARD(text_append(c, ":%s", effect_name(e.fields[i].effect)));
        }
        if (e.flags & AF_FLAG_BREAK_GLASS)
            GUARD(text_append(c, "  [BREAK-GLASS]"));
        if (e.flags & AF_FLAG_ALERT)
            GUARD(text_append(c, "  [ALERT]"));
        if (e.flags & AF_FLAG_CANARY)
            GUARD(text_append(c, "  [CANARY]"));
        if (*e.detail) {
            GUARD(text_append_esc(c, "  (", e.detail));
            GUARD(text_append(c, ")"));
        }
        GUARD(text_append(c, "\n"));
    }
cleanup:
    free(storage);
    return rc;
}

int vault_audit_report(char **out, vault *v, int kind, const char *arg, int as_json)
{
    if (v && v->remote)
        return client_audit_report(out, v, kind, arg, as_json);
    int rc = VAULT_OK, entered = 0;
    report_ctx c;
    af_entry e;
    char detail[VAULT_NAME_MAX + 32];

    memset(&c, 0, sizeof c);
    vault__buf_init(&c.text, "audit report", 0, 1);
    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    GUARD(vault__enter(v));
    entered = 1;
    c.kind = kind;
    c.as_json = as_json;
    if (kind == VAULT_REPORT_RECORD)
        GUARD(vault__id_parse(c.record, arg));
    else if (kind == VAULT_REPORT_USER)
        /* Every actor the log can hold: session users and "os:<login>"
         * (or vault_set_actor) actors, compared in the comparison form. */
        GUARD(vault__user_norm(c.user, sizeof c.user, arg, "user"));
    else
        ENSURE(kind == VAULT_REPORT_DENIED || kind == VAULT_REPORT_BREAK_GLASS, VAULT_EINVALID,
               "unknown report kind %d", kind);
    if (as_json) {
        c.arr = json_array();
        ENSURE(c.arr, VAULT_ENOMEM, "out of memory");
    }
    /* The report is itself an access to audit data: log it first. */
    GUARD(op_begin(v, OP_WRITE));
    audit_entry_init(&e, v, NULL, "audit_report");
    snprintf(detail, sizeof detail, "%s%s%s",
             kind == VAULT_REPORT_RECORD ? "record " : kind == VAULT_REPORT_USER ? "user "
             : kind == VAULT_REPORT_DENIED ? "denied" : "break-glass",
             kind == VAULT_REPORT_RECORD || kind == VAULT_REPORT_USER ? "" : "",
             kind == VAULT_REPORT_RECORD ? arg : kind == VAULT_REPORT_USER ? c.user : "");
    e.detail = detail;
    if (kind == VAULT_REPORT_RECORD) {
        e.has_record = 1;
        memcpy(e.record_id, c.record, VAULT_ID_BYTES);
    }
    GUARD(audit_append(v, &e));
    GUARD(op_commit(v));
    GUARD(op_begin(v, OP_STANDBY_READ));
    /* A resident's or a user's report reads their entries through the
     * report indexes; report_fn checks each entry's own (signed) record id
     * or user all the same.  Every log, the city log's first, each in its
     * own order (docs/audit-format.md §7). */
    {
        store_log_list l = {0};
        size_t i;

        rc = store_audit_log_list(&l, v->db, 1);
        for (i = 0; rc == VAULT_OK && i <= l.n; i++) {
            c.log = i ? l.log[i - 1].name : STORE_LOG_CITY;
            if (kind == VAULT_REPORT_RECORD)
                rc = store_audit_scan_record_in(v->db, c.log, c.record, report_fn, &c);
            else if (kind == VAULT_REPORT_USER)
                rc = store_audit_scan_user_in(v->db, c.log, c.user, report_fn, &c);
            else
                rc = store_audit_scan_in(v->db, c.log, 0, report_fn, &c);
        }
        store_log_list_free(&l);
        GUARD(rc);
    }
    op_rollback(v);
    GUARD(vault__listing_take(out, as_json ? c.arr : NULL, &c.text));
cleanup:
    vault__exit(v, entered);
    json_decref(c.arr);
    vault__buf_free(&c.text);
    return rc;
}

int vault_audit_require_recent(vault_audit_result *r, int64_t max_age)
{
    int64_t now = vault__now();

    if (!r || max_age <= 0)
        return vault__err(VAULT_EINVALID, "audit: a maximum checkpoint age must be positive");
    if (r->failure != VAULT_AUDIT_OK)
        return VAULT_OK;
    if (r->newest_time > 0 && r->newest_time <= now + 60 && now - r->newest_time <= max_age)
        return VAULT_OK;
    r->failure = VAULT_AUDIT_MISSING;
    snprintf(r->failure_name, sizeof r->failure_name, "%s", af_class_name(AF_MISSING));
    r->bad_seq = r->newest_size + 1;
    if (r->newest_time <= 0)
        snprintf(r->message, sizeof r->message,
                 "checkpoint %llu: missing (the newest checkpoint carries no signed time; one "
                 "signed within %lld s is required)",
                 (unsigned long long)r->newest_size, (long long)max_age);
    else if (r->newest_time > now + 60)
        snprintf(r->message, sizeof r->message,
                 "checkpoint %llu: missing (the newest checkpoint is dated %lld s in the future)",
                 (unsigned long long)r->newest_size, (long long)(r->newest_time - now));
    else
        snprintf(r->message, sizeof r->message,
                 "checkpoint %llu: missing (the newest checkpoint was signed %lld s ago; one "
                 "signed within %lld s is required)",
                 (unsigned long long)r->newest_size, (long long)(now - r->newest_time),
                 (long long)max_age);
    return vault__err(VAULT_EINTEGRITY, "audit log: %s", r->message);
}

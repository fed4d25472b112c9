/* witness_core: the witness's decisions on add-checkpoint (C2SP
 * tlog-witness; docs/witness.md "Request" and "Answers"), below HTTP. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/audit_cosign.h"
#include "audit/audit_format.h"
#include "crypto.h"
#include "internal.h"
#include "vault.h"
#include "witness_int.h"

#define B64_HASH 44
#define CT_TEXT "text/plain; charset=utf-8"
#define CT_SIZE "text/x.tlog.size"

/* ---- opening ---- */

static int add_log(witness *w, const char *vkey)
{
    int rc = VAULT_OK;
    witness_log *l = &w->logs[w->nlogs];
    uint8_t h[32];
    size_t i;

    memset(l, 0, sizeof *l);
    GUARD(af_vkey_parse(l->origin, l->pk, vkey, strlen(vkey), AF_SIGTYPE_ED25519));
    for (i = 0; i < w->nlogs; i++)
        ENSURE(strcmp(w->logs[i].origin, l->origin) != 0, VAULT_EINVALID,
               "witness: log %s is named twice", l->origin);
    vc_sha256(h, l->origin, strlen(l->origin));
    GUARD(vc_bin2hex(l->id, sizeof l->id, h, 16));
    ENSURE(pthread_mutex_init(&l->mu, NULL) == 0, VAULT_ERROR, "witness: cannot create a lock");
    w->nlogs++;
    GUARD(witness__state_load(w, l));
cleanup:
    return rc;
}

int witness_open(witness **out, const witness_config *cfg)
{
    int rc = VAULT_OK;
    witness *w = NULL;
    size_t i;

    ENSURE(out && cfg && cfg->state_dir && cfg->key_file && (cfg->logs || cfg->nlogs == 0),
           VAULT_EINVALID, "witness_open: missing argument");
    *out = NULL;
    ENSURE(cfg->nlogs > 0, VAULT_EINVALID, "witness: no log to witness (--log VKEY)");
    ENSURE(cfg->nlogs <= WITNESS_LOGS_MAX, VAULT_ELIMIT, "witness: more than %d logs",
           WITNESS_LOGS_MAX);
    GUARD(vc_init());
    w = calloc(1, sizeof *w);
    ENSURE(w, VAULT_ENOMEM, "out of memory for the witness");
    w->lock_fd = -1;
    w->sk = vc_malloc(64);
    w->dir = strdup(cfg->state_dir);
    w->logs = calloc(cfg->nlogs, sizeof *w->logs);
    ENSURE(w->sk && w->dir && w->logs, VAULT_ENOMEM, "out of memory for the witness");
    GUARD(witness__key_load(w->name, w->pk, w->sk, cfg->key_file));
    GUARD(witness__state_open(&w->lock_fd, w->dir));
    for (i = 0; i < cfg->nlogs; i++)
        GUARD(add_log(w, cfg->logs[i]));
    *out = w;
    w = NULL;
cleanup:
    witness_close(w);
    return rc;
}

void witness_close(witness *w)
{
    size_t i;

    if (!w)
        return;
    for (i = 0; i < w->nlogs; i++)
        pthread_mutex_destroy(&w->logs[i].mu);
    free(w->logs);
    vc_free(w->sk);
    free(w->dir);
    if (w->lock_fd >= 0)
        close(w->lock_fd);
    free(w);
}

const char *witness_name(const witness *w)
{
    return w ? w->name : "";
}

/* ---- the request ---- */

int witness_request_parse(witness_request *out, const char *body, size_t len)
{
    int rc = VAULT_OK;
    const char *p = body, *end = body + len, *nl;
    size_t n = 0, llen;

    ENSURE(out && body, VAULT_EINVALID, "witness: missing request");
    memset(out, 0, sizeof *out);
    ENSURE(len <= WITNESS_BODY_MAX, VAULT_ELIMIT, "request body over %d bytes", WITNESS_BODY_MAX);
    nl = memchr(p, '\n', len);
    ENSURE(nl && nl - p > 4 && memcmp(p, "old ", 4) == 0 && /* memcmp ok: not secret */
               af_parse_u64(&out->old_size, p + 4, (size_t)(nl - p - 4)),
           VAULT_EINVALID, "the first line is not \"old SIZE\" (decimal, no leading zeros)");
    for (p = nl + 1;; p = nl + 1) {
        ENSURE(p < end && (nl = memchr(p, '\n', (size_t)(end - p))), VAULT_EINVALID,
               "no empty line after the consistency proof");
        llen = (size_t)(nl - p);
        if (llen == 0)
            break;
        ENSURE(out->nproof < VAULT_ARRAY_LEN(out->proof), VAULT_EINVALID,
               "more than %zu consistency proof lines", VAULT_ARRAY_LEN(out->proof));
        ENSURE(llen == B64_HASH && vc_b642bin(out->proof[out->nproof], 32, &n, p, llen) == 0 &&
                   n == 32,
               VAULT_EINVALID, "consistency proof line %zu is not base64 of 32 bytes",
               out->nproof + 1);
        out->nproof++;
    }
    ENSURE(out->old_size > 0 || out->nproof == 0, VAULT_EINVALID,
           "a consistency proof from size 0 must be empty");
    out->note = nl + 1;
    out->note_len = (size_t)(end - out->note);
    ENSURE(out->note_len > 0, VAULT_EINVALID, "no checkpoint after the empty line");
cleanup:
    return rc;
}

/* ---- the answer ---- */

static void reply(witness_reply *r, int status, const char *type, const char *fmt, ...)
    VAULT_PRINTF(4, 5);
static void reply(witness_reply *r, int status, const char *type, const char *fmt, ...)
{
    va_list ap;

    r->status = status;
    r->content_type = type;
    va_start(ap, fmt);
    vsnprintf(r->body, sizeof r->body, fmt, ap);
    va_end(ap);
}

static witness_log *find_log(witness *w, const char *note, size_t len)
{
    const char *nl = memchr(note, '\n', len);
    size_t n = nl ? (size_t)(nl - note) : 0, i;

    for (i = 0; n > 0 && i < w->nlogs; i++)
        if (strlen(w->logs[i].origin) == n &&
            memcmp(w->logs[i].origin, note, n) == 0) /* memcmp ok: not secret */
            return &w->logs[i];
    return NULL;
}

static void keep_evidence(witness *w, const witness_log *l, const char *kind, uint64_t size,
                          const char *body, size_t len)
{
    if (witness__evidence(w, l, kind, size, body, len) < 0)
        fprintf(stderr, "witness: %s: evidence not kept: %s\n", l->origin, vault_error_last());
    else
        fprintf(stderr, "witness: %s: %s at size %" PRIu64 " kept in %s/evidence\n", l->origin,
                kind, size, w->dir);
}

/* The checks of docs/witness.md "Answers", in order, with l->mu held. */
static void decide(witness *w, witness_log *l, witness_reply *r, const witness_request *q,
                   const af_checkpoint *cp, const char *body, size_t len, uint64_t now)
{
    char *line = NULL;

    if (q->old_size != l->size) {
        reply(r, 409, CT_SIZE, "%" PRIu64 "\n", l->size);
        goto done;
    }
    /* Before the first cosignature (old 0, the proof empty) there is
     * nothing to be consistent with. */
    if (l->has && cp->size == l->size) {
        if (!vc_equal(cp->root, l->root, 32)) {
            /* Two log-signed roots for one size: a split view. */
            keep_evidence(w, l, "split", cp->size, body, len);
            reply(r, 409, CT_SIZE, "%" PRIu64 "\n", l->size);
            goto done;
        }
        if (q->nproof != 0) {
            reply(r, 422, CT_TEXT, "witness: a proof between equal sizes must be empty\n");
            goto done;
        }
    } else if (l->has && af_consistency_verify(q->old_size, cp->size, l->root, cp->root, q->proof,
                                     q->nproof) != VAULT_OK) {
        /* Signed by the log and not an extension of what was cosigned:
         * evidence of a fork, or a wrong proof. */
        keep_evidence(w, l, "inconsistent", cp->size, body, len);
        reply(r, 422, CT_TEXT, "witness: %s\n", vault_error_last());
        goto done;
    }
    if (af_cosign(&line, q->note, q->note_len, w->name, w->sk, now) != VAULT_OK) {
        reply(r, 500, CT_TEXT, "witness: %s\n", vault_error_last());
        goto done;
    }
    /* Persisted before the answer: a cosignature the witness would not
     * stand by after a restart is never sent. */
    if (witness__state_save(w, l, q->note, q->note_len) != VAULT_OK) {
        fprintf(stderr, "witness: %s: %s\n", l->origin, vault_error_last());
        reply(r, 500, CT_TEXT, "witness: the state could not be saved; not cosigned\n");
        goto done;
    }
    l->has = 1;
    l->size = cp->size;
    memcpy(l->root, cp->root, 32);
    reply(r, 200, CT_TEXT, "%s", line);
done:
    free(line);
}

void witness_add_checkpoint(witness *w, witness_reply *r, const char *body, size_t len,
                            uint64_t now)
{
    witness_request *q = calloc(1, sizeof *q);
    witness_log *l;
    af_checkpoint cp;
    int rc;

    if (!q) {
        reply(r, 500, CT_TEXT, "witness: out of memory\n");
        return;
    }
    if (witness_request_parse(q, body, len) != VAULT_OK) {
        reply(r, len > WITNESS_BODY_MAX ? 413 : 400, CT_TEXT, "witness: %s\n", vault_error_last());
        goto done;
    }
    l = find_log(w, q->note, q->note_len);
    if (!l) {
        reply(r, 404, CT_TEXT, "witness: unknown log (not witnessed here)\n");
        goto done;
    }
    rc = af_checkpoint_verify(&cp, q->note, q->note_len, l->origin, l->pk);
    if (rc == VAULT_EINVALID) {
        reply(r, 400, CT_TEXT, "witness: %s\n", vault_error_last());
        goto done;
    }
    if (rc != VAULT_OK) {
        reply(r, 403, CT_TEXT, "witness: no signature by the key pinned for %s\n", l->origin);
        goto done;
    }
    if (q->old_size > cp.size) {
        reply(r, 400, CT_TEXT, "witness: old size %" PRIu64 " is over the checkpoint's %" PRIu64 "\n",
              q->old_size, cp.size);
        goto done;
    }
    pthread_mutex_lock(&l->mu);
    decide(w, l, r, q, &cp, body, len, now);
    pthread_mutex_unlock(&l->mu);
    fprintf(stderr, "witness: %s old %" PRIu64 " size %" PRIu64 ": %d\n", l->origin, q->old_size,
            cp.size, r->status);
done:
    sodium_memzero(q, sizeof *q);
    free(q);
}

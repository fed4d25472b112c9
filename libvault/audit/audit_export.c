/* audit_export: the streaming verifier and the JSON Lines export (writing
 * lines, and verifying a whole export offline with the public key alone).
 * Formats and failure classes: docs/audit-format.md. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h> /* sodium_memcmp only */

#include "audit_claims.h"
#include "audit_format.h"
#include "audit_pipe.h"
#include "crypto.h"

const char *af_class_name(int cls)
{
    switch (cls) {
    case AF_OK: return "ok";
    case AF_MODIFIED: return "modified";
    case AF_MISSING: return "missing";
    case AF_REORDERED: return "reordered";
    case AF_TRUNCATED: return "truncated";
    case AF_BAD_SIGNATURE: return "bad signature";
    case AF_MALFORMED: return "malformed";
    case AF_ROLLBACK: return "rolled back";
    case AF_UNWITNESSED: return "unwitnessed";
    default: return "unknown";
    }
}

int af_verify_set(af_verify_result *r, int cls, uint64_t bad_seq, const char *fmt, ...)
{
    va_list ap;

    r->cls = cls;
    r->bad_seq = bad_seq;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    return cls;
}

typedef unsigned long long ull;

/* ---- streaming verifier ------------------------------------------------- */

/* Compare the tree with every checkpoint of exactly its size. */
static int check_checkpoints(af_verifier *v)
{
    uint8_t root[32];
    int have_root = 0;

    while (v->next_cp < v->ncps && v->cps[v->next_cp].size == v->tree.size) {
        if (!have_root)
            af_merkle_root(&v->tree, root), have_root = 1;
        if (sodium_memcmp(root, v->cps[v->next_cp].root, 32) != 0 && v->cps[v->next_cp].claimed)
            return af_verify_set(&v->res, AF_ROLLBACK, v->tree.size,
                                 "entry %llu: rolled back (the log's tree at %llu entries is not "
                                 "the one the city log claimed)",
                                 (ull)v->tree.size, (ull)v->tree.size);
        if (sodium_memcmp(root, v->cps[v->next_cp].root, 32) != 0 && v->cps[v->next_cp].external)
            return af_verify_set(&v->res, AF_ROLLBACK, v->tree.size,
                                 "entry %llu: rolled back (the log does not extend the "
                                 "checkpoint of %llu entries kept outside the vault)",
                                 (ull)v->tree.size, (ull)v->tree.size);
        if (sodium_memcmp(root, v->cps[v->next_cp].root, 32) != 0)
            return af_verify_set(&v->res, AF_MODIFIED, v->tree.size,
                              "entry %llu: modified (entries up to %llu do not match the signed "
                              "checkpoint)",
                              (ull)v->tree.size, (ull)v->tree.size);
        v->res.checkpoints++;
        if (v->tree.size >= v->res.newest_size) {
            if (v->tree.size > v->res.newest_size)
                v->res.newest_time = 0;
            v->res.newest_size = v->tree.size;
            if (v->cps[v->next_cp].time > v->res.newest_time)
                v->res.newest_time = v->cps[v->next_cp].time;
        }
        v->next_cp++;
    }
    return AF_OK;
}

void af_verifier_init(af_verifier *v, const af_checkpoint *cps, size_t ncps)
{
    size_t i;

    memset(v, 0, sizeof *v);
    v->next_seq = 1;
    af_merkle_init(&v->tree);
    v->cps = cps;
    v->ncps = cps ? ncps : 0;
    /* An unsorted list would let a checkpoint pass unchecked: refuse it. */
    for (i = 1; i < v->ncps; i++)
        if (cps[i].size < cps[i - 1].size) {
            af_verify_set(&v->res, AF_MALFORMED, 0, "checkpoints: malformed (not sorted by size)");
            return;
        }
    (void)check_checkpoints(v); /* checkpoints of the empty tree */
}

void af_verifier_resume(af_verifier *v, const af_checkpoint *cps, size_t ncps,
                        const af_merkle *tree, const uint8_t head[32])
{
    size_t i;

    memset(v, 0, sizeof *v);
    v->tree = *tree;
    v->next_seq = tree->size + 1;
    memcpy(v->head, head, 32);
    v->cps = cps;
    v->ncps = cps ? ncps : 0;
    for (i = 0; i < v->ncps; i++)
        if (cps[i].size < tree->size || (i > 0 && cps[i].size < cps[i - 1].size)) {
            af_verify_set(&v->res, AF_MALFORMED, 0,
                          "checkpoints: malformed (not sorted by size from the trusted one)");
            return;
        }
    (void)check_checkpoints(v); /* those of the trusted size */
}

static int verifier_push(af_verifier *v, uint64_t seq, const uint8_t *entry, size_t len,
                         const uint8_t *stored_head, int checked)
{
    uint8_t leaf[32], head[32];
    uint64_t inner = seq;

    v->res.entries++;
    if (v->res.cls != AF_OK) {
        /* A skipped number that turns up later was moved, not lost. */
        if (v->res.cls == AF_MISSING && seq == v->res.bad_seq)
            af_verify_set(&v->res, AF_REORDERED, seq,
                       "entry %llu: reordered (stored after a later entry)", (ull)seq);
        return v->res.cls;
    }
    if (seq == 0)
        return af_verify_set(&v->res, AF_MALFORMED, 0,
                          "entry 0: malformed (sequence numbers start at 1)");
    if (seq < v->next_seq)
        return af_verify_set(&v->res, AF_REORDERED, seq,
                          "entry %llu: reordered (stored after entry %llu)", (ull)seq,
                          (ull)(v->next_seq - 1));
    if (seq > v->next_seq)
        return af_verify_set(&v->res, AF_MISSING, v->next_seq,
                          "entry %llu: missing (entry %llu follows entry %llu)",
                          (ull)v->next_seq, (ull)seq, (ull)(v->next_seq - 1));
    if (!checked && af_entry_check(&inner, entry, len) != VAULT_OK)
        return af_verify_set(&v->res, AF_MALFORMED, seq, "entry %llu: malformed (%s)", (ull)seq,
                          vault_error_last());
    if (inner != seq)
        return af_verify_set(&v->res, AF_MODIFIED, seq,
                          "entry %llu: modified (its bytes hold sequence number %llu)",
                          (ull)seq, (ull)inner);
    af_leaf_hash(leaf, entry, len);
    af_chain_next(head, v->head, leaf);
    if (stored_head && sodium_memcmp(head, stored_head, 32) != 0)
        return af_verify_set(&v->res, AF_MODIFIED, seq,
                          "entry %llu: modified (its hash does not match the chain)", (ull)seq);
    memcpy(v->head, head, 32);
    af_merkle_push(&v->tree, leaf);
    v->next_seq++;
    return check_checkpoints(v);
}

int af_verifier_push(af_verifier *v, uint64_t seq, const uint8_t *entry, size_t len,
                     const uint8_t *stored_head)
{
    return verifier_push(v, seq, entry, len, stored_head, 0);
}

int af_verifier_push_checked(af_verifier *v, uint64_t seq, const uint8_t *entry, size_t len,
                             const uint8_t *stored_head)
{
    return verifier_push(v, seq, entry, len, stored_head, 1);
}

int af_verifier_push_stored(af_verifier *v, uint64_t pos, const uint8_t *entry, size_t len,
                            const uint8_t *stored_head)
{
    uint64_t seq = 0;

    if (af_entry_check(&seq, entry, len) == VAULT_OK)
        return af_verifier_push_checked(v, seq, entry, len, stored_head);
    vault__err_clear();
    return af_verifier_push(v, pos, entry, len, stored_head);
}

int af_verifier_finish(af_verifier *v)
{
    size_t i;

    if (v->res.cls != AF_OK)
        return v->res.cls;
    /* A checkpoint kept outside the vault that is larger than the log: the
     * log was put back to an older state (or cut with the checkpoints the
     * vault kept); the largest one is named. */
    for (i = v->ncps; i-- > v->next_cp;)
        if (v->cps[i].claimed)
            return af_verify_set(&v->res, AF_ROLLBACK, v->tree.size + 1,
                                 "entry %llu: rolled back (the log has %llu entries but the "
                                 "city log claimed %llu)",
                                 (ull)(v->tree.size + 1), (ull)v->tree.size,
                                 (ull)v->cps[i].size);
    for (i = v->ncps; i-- > v->next_cp;)
        if (v->cps[i].external)
            return af_verify_set(&v->res, AF_ROLLBACK, v->tree.size + 1,
                                 "entry %llu: rolled back (log has %llu entries but the "
                                 "checkpoint kept outside the vault covers %llu)",
                                 (ull)(v->tree.size + 1), (ull)v->tree.size,
                                 (ull)v->cps[i].size);
    if (v->next_cp < v->ncps)
        return af_verify_set(&v->res, AF_TRUNCATED, v->tree.size + 1,
                          "entry %llu: truncated (log has %llu entries but checkpoint covers "
                          "%llu)",
                          (ull)(v->tree.size + 1), (ull)v->tree.size,
                          (ull)v->cps[v->ncps - 1].size);
    return AF_OK;
}

/* ---- export lines ------------------------------------------------------ */

static const char *const outcome_names[] = {"ok", "denied", "error"};
static const char *const effect_names[] = {"deny", "mask", "allow"};

/* Set key k of o to v (stolen); VAULT_ENOMEM when either is NULL. */
static int jset(json_t *o, const char *k, json_t *v)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        return vault__err(VAULT_ENOMEM, "out of memory building an export line");
    return VAULT_OK;
}

static json_t *jhex(const uint8_t *bin, size_t len)
{
    char hex[65];

    if (len > 32 || vc_bin2hex(hex, sizeof hex, bin, len) != VAULT_OK)
        return NULL;
    return json_string(hex);
}

/* RFC 3339 UTC with microseconds, or null outside years 0000..9999. */
static json_t *jtime(int64_t us)
{
    int64_t secs = us / 1000000, frac = us % 1000000;
    time_t t;
    struct tm tm;
    char buf[64];

    if (frac < 0)
        frac += 1000000, secs--;
    t = (time_t)secs;
    if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        return json_null();
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
    return json_string(buf);
}

/* The decoded keys for people (verifiers ignore them). */
static int add_decoded(json_t *o, const af_entry *e)
{
    int rc = VAULT_OK;
    json_t *fields = NULL;
    size_t i;

    GUARD(jset(o, "time", jtime(e->time_us)));
    GUARD(jset(o, "user", json_string(e->user)));
    GUARD(jset(o, "role", json_string(e->role)));
    GUARD(jset(o, "department", json_string(e->department)));
    GUARD(jset(o, "jurisdiction", json_string(e->jurisdiction)));
    GUARD(jset(o, "purpose", json_string(e->purpose)));
    if (e->version == AF_VERSION_2) { /* LVA1 entries recorded no principal */
        GUARD(jset(o, "issuer", json_string(e->who.issuer)));
        GUARD(jset(o, "subject", json_string(e->who.subject)));
        GUARD(jset(o, "token_id", json_string(e->who.token_id)));
        GUARD(jset(o, "app", json_string(e->who.app)));
        GUARD(jset(o, "peer", json_string(e->who.peer)));
    }
    GUARD(jset(o, "action", json_string(e->action)));
    GUARD(jset(o, "outcome", json_string(outcome_names[e->outcome])));
    GUARD(jset(o, "break_glass", json_boolean(e->flags & AF_FLAG_BREAK_GLASS)));
    if (e->flags & AF_FLAG_ALERT) /* only when set: older lines look as they did */
        GUARD(jset(o, "alert", json_true()));
    if (e->flags & AF_FLAG_CANARY)
        GUARD(jset(o, "canary", json_true()));
    GUARD(jset(o, "record", e->has_record ? jhex(e->record_id, 16) : json_null()));
    GUARD(jset(o, "policy_sha256", jhex(e->policy_hash, 32)));
    fields = json_array();
    ENSURE(fields, VAULT_ENOMEM, "out of memory building an export line");
    for (i = 0; i < e->nfields; i++) {
        const af_field *f = &e->fields[i];
        json_t *jf = json_object();

        ENSURE(jf && json_array_append_new(fields, jf) == 0, VAULT_ENOMEM,
               "out of memory building an export line");
        GUARD(jset(jf, "name", json_string(f->name)));
        GUARD(jset(jf, "effect", json_string(effect_names[f->effect])));
        GUARD(jset(jf, "reason", json_string(f->reason)));
        GUARD(jset(jf, "ct_sha256", f->has_ct_hash ? jhex(f->ct_hash, 32) : json_null()));
    }
    rc = jset(o, "fields", fields);
    fields = NULL;
    GUARD(rc);
    GUARD(jset(o, "detail", json_string(e->detail)));
cleanup:
    json_decref(fields);
    return rc;
}

/* {"seq":N,"entry":"<base64>","head":"<hex>" or null} plus, when `e` is
 * given, its decoded keys, else "decoded": false. */
static int build_line(char **out, uint64_t seq, const char *b64, const uint8_t head[32],
                      const af_entry *e)
{
    int rc = VAULT_OK;
    json_t *o = json_object();

    ENSURE(o, VAULT_ENOMEM, "out of memory building an export line");
    GUARD(jset(o, "seq", json_integer((json_int_t)seq)));
    GUARD(jset(o, "entry", json_string(b64)));
    GUARD(jset(o, "head", head ? jhex(head, 32) : json_null()));
    if (e)
        GUARD(add_decoded(o, e));
    else
        GUARD(jset(o, "decoded", json_false()));
    *out = json_dumps(o, JSON_COMPACT);
    ENSURE(*out, VAULT_ENOMEM, "out of memory building an export line");
cleanup:
    json_decref(o);
    return rc;
}

/* The arguments of an entry line's writer (fn names it). */
static int line_args(char **out, uint64_t seq, const uint8_t *entry, size_t len, const char *fn)
{
    int rc = VAULT_OK;

    ENSURE(out && (entry || len == 0), VAULT_EINVALID, "%s: missing argument", fn);
    *out = NULL;
    ENSURE(seq > 0 && seq <= INT64_MAX, VAULT_EINVALID,
           "export: sequence number out of range");
    ENSURE(len <= AF_ENTRY_MAX, VAULT_ELIMIT, "export: entry is %zu bytes, more than %d", len,
           AF_ENTRY_MAX);
cleanup:
    return rc;
}

int af_export_compact_line(char **out, uint64_t seq, const uint8_t *entry, size_t len,
                           const uint8_t head[32])
{
    int rc = VAULT_OK;
    size_t b64cap = vc_b64_len(len), cap;
    char *line = NULL, hex[65];
    int n;

    GUARD(line_args(out, seq, entry, len, "af_export_compact_line"));
    /* {"seq":<20>,"entry":"<b64>","head":"<64>"} */
    cap = 32 + b64cap + 80;
    line = malloc(cap);
    ENSURE(line, VAULT_ENOMEM, "out of memory building an export line");
    n = snprintf(line, cap, "{\"seq\":%llu,\"entry\":\"", (ull)seq);
    GUARD(vc_bin2b64(line + n, cap - (size_t)n, entry, len));
    n += (int)strlen(line + n);
    if (head) {
        GUARD(vc_bin2hex(hex, sizeof hex, head, 32));
        snprintf(line + n, cap - (size_t)n, "\",\"head\":\"%s\"}", hex);
    } else {
        snprintf(line + n, cap - (size_t)n, "\",\"head\":null}");
    }
    *out = line;
    line = NULL;
cleanup:
    free(line);
    return rc;
}

int af_export_entry_line(char **out, uint64_t seq, const uint8_t *entry, size_t len,
                         const uint8_t head[32])
{
    int rc = VAULT_OK;
    char *b64 = NULL, *line = NULL;
    void *storage = NULL;
    af_entry e;
    int decoded;

    GUARD(line_args(out, seq, entry, len, "af_export_entry_line"));
    b64 = malloc(vc_b64_len(len));
    ENSURE(b64, VAULT_ENOMEM, "out of memory building an export line");
    GUARD(vc_bin2b64(b64, vc_b64_len(len), entry, len));
    /* An entry that does not decode is still exported as it is stored, so
     * that the verifier reports it. */
    decoded = af_entry_decode(&e, &storage, entry, len) == VAULT_OK;
    GUARD(build_line(&line, seq, b64, head, decoded ? &e : NULL));
    if (strlen(line) > AF_EXPORT_LINE_MAX) {
        free(line);
        line = NULL;
        GUARD(build_line(&line, seq, b64, head, NULL));
    }
    *out = line;
    line = NULL;
cleanup:
    free(line);
    free(storage);
    free(b64);
    return rc;
}

int af_export_checkpoint_line(char **out, const char *note)
{
    int rc = VAULT_OK;
    json_t *o = NULL;

    ENSURE(out && note, VAULT_EINVALID, "af_export_checkpoint_line: missing argument");
    *out = NULL;
    o = json_object();
    ENSURE(o, VAULT_ENOMEM, "out of memory building an export line");
    ENSURE(strlen(note) <= AF_NOTE_MAX, VAULT_ELIMIT, "export: checkpoint note too long");
    ENSURE(json_object_set_new(o, "checkpoint", json_string(note)) == 0, VAULT_EINVALID,
           "export: checkpoint note is not UTF-8");
    *out = json_dumps(o, JSON_COMPACT);
    ENSURE(*out, VAULT_ENOMEM, "out of memory building an export line");
cleanup:
    json_decref(o);
    return rc;
}

int af_export_log_line(char **out, const char *log)
{
    int rc = VAULT_OK;
    json_t *o = NULL;

    ENSURE(out && log, VAULT_EINVALID, "af_export_log_line: missing argument");
    *out = NULL;
    ENSURE(*log && strlen(log) <= AF_LOG_NAME_MAX, VAULT_EINVALID,
           "export: a shard log's name is 1 to %d bytes", AF_LOG_NAME_MAX);
    o = json_object();
    ENSURE(o, VAULT_ENOMEM, "out of memory building an export line");
    ENSURE(json_object_set_new(o, "log", json_string(log)) == 0, VAULT_EINVALID,
           "export: a log's name is not UTF-8");
    *out = json_dumps(o, JSON_COMPACT);
    ENSURE(*out, VAULT_ENOMEM, "out of memory building an export line");
cleanup:
    json_decref(o);
    return rc;
}

/* ---- export verification ------------------------------------------------ */

/* Bounded line reader: lines longer than AF_EXPORT_LINE_MAX never make it
 * into memory whole (getline would grow without limit). */
#define READ_CHUNK 65536
enum { LINE_EOF = 0, LINE_OK = 1, LINE_TOO_LONG = 2, LINE_IOERR = 3 };

typedef struct line_reader {
    FILE *f;
    char *buf;
    size_t cap, start, end, scanned;
    int eof;
    uint64_t no; /* number of the line last returned */
} line_reader;

static int read_line(line_reader *r, const char **line, size_t *len)
{
    for (;;) {
        char *nl = memchr(r->buf + r->scanned, '\n', r->end - r->scanned);
        size_t got;

        if (nl) {
            *line = r->buf + r->start;
            *len = (size_t)(nl - *line);
            r->start = r->scanned = (size_t)(nl - r->buf) + 1;
            r->no++;
            return *len > AF_EXPORT_LINE_MAX ? LINE_TOO_LONG : LINE_OK;
        }
        r->scanned = r->end;
        if (r->end - r->start > AF_EXPORT_LINE_MAX)
            return r->no++, LINE_TOO_LONG;
        if (r->eof) {
            if (r->end == r->start)
                return LINE_EOF;
            *line = r->buf + r->start;
            *len = r->end - r->start;
            r->start = r->scanned = r->end;
            r->no++;
            return LINE_OK;
        }
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start, r->scanned -= r->start, r->start = 0;
        }
        got = fread(r->buf + r->end, 1, r->cap - r->end, r->f);
        if (got == 0) {
            if (ferror(r->f))
                return LINE_IOERR;
            r->eof = 1;
        }
        r->end += got;
    }
}

typedef struct export_state {
    af_verify_result res;  /* failures before the entries start */
    af_checkpoint *cps;
    size_t ncps, cap;
    int in_entries;        /* 0 while reading checkpoint lines */
    af_verifier v;         /* owned by the pipe's worker while it runs */
    af_pipe *pipe;         /* NULL until the entries start */
    uint8_t *entry;        /* reused for every entry: AF_ENTRY_MAX bytes */
    uint64_t queued;       /* entry lines handed to the pipe */
    /* the shard logs: while in_shard, v verifies log's entries */
    af_claims claims;      /* what the city log's log_heads entries claim */
    size_t cursor;         /* af_claims_next's */
    int in_shard;
    char log[AF_LOG_NAME_MAX + 1];
    int named;             /* res's message names its log already */
    af_verify_result city; /* the city log's result, once its entries are over */
    af_verify_result unmet; /* a claimed log the export does not have */
    uint64_t done;         /* entries of the logs that are over */
} export_state;

static int cmp_size(const void *a, const void *b)
{
    uint64_t x = ((const af_checkpoint *)a)->size, y = ((const af_checkpoint *)b)->size;

    return x < y ? -1 : x > y;
}

/* Verify one checkpoint note and keep it; `where` names it in messages. */
static int add_checkpoint(export_state *st, const char *note, size_t len, const char *name,
                          const uint8_t pk[32], const char *where)
{
    af_checkpoint c;
    int rc = af_checkpoint_verify(&c, note, len, name, pk);

    if (rc == VAULT_EINTEGRITY)
        return af_verify_set(&st->res, AF_BAD_SIGNATURE, c.size,
                          "checkpoint %llu: bad signature (%s: %s)", (ull)c.size, where,
                          vault_error_last());
    if (rc != VAULT_OK)
        return af_verify_set(&st->res, AF_MALFORMED, 0, "%s: malformed (%s)", where,
                          vault_error_last());
    c.external = strncmp(where, "external", 8) == 0;
    if (st->ncps == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 8;
        af_checkpoint *p = realloc(st->cps, cap * sizeof *p);

        if (!p)
            return vault__err(VAULT_ENOMEM, "out of memory reading checkpoints");
        st->cps = p, st->cap = cap;
    }
    st->cps[st->ncps++] = c;
    return AF_OK;
}

/* The checkpoint lines are over: order them and start the verifier. */
static int start_entries(export_state *st)
{
    size_t i;

    st->in_entries = 1;
    if (st->ncps > 1)
        qsort(st->cps, st->ncps, sizeof *st->cps, cmp_size);
    for (i = 1; i < st->ncps; i++)
        if (st->cps[i].size == st->cps[i - 1].size &&
            sodium_memcmp(st->cps[i].root, st->cps[i - 1].root, 32) != 0 &&
            (st->cps[i].external || st->cps[i - 1].external))
            return af_verify_set(&st->res, AF_ROLLBACK, st->cps[i].size,
                                 "entry %llu: rolled back (a checkpoint of size %llu kept "
                                 "outside the vault has another root: the key signed two "
                                 "histories)",
                                 (ull)st->cps[i].size, (ull)st->cps[i].size);
        else if (st->cps[i].size == st->cps[i - 1].size &&
            sodium_memcmp(st->cps[i].root, st->cps[i - 1].root, 32) != 0)
            return af_verify_set(&st->res, AF_MODIFIED, st->cps[i].size,
                              "entry %llu: modified (two signed checkpoints of size %llu have "
                              "different roots)",
                              (ull)st->cps[i].size, (ull)st->cps[i].size);
    af_verifier_init(&st->v, st->cps, st->ncps);
    st->res = st->v.res;
    if (st->res.cls == AF_OK) {
        int rc = af_pipe_start(&st->pipe, &st->v);

        if (rc < 0)
            return rc; /* out of memory */
    }
    return st->res.cls;
}

/* Let the worker verify everything queued, then read its state (the
 * slow path and the end look at it on this thread). */
static void sync_worker(export_state *st)
{
    if (st->pipe)
        af_pipe_drain(st->pipe);
    if (st->in_entries)
        st->res = st->v.res;
}

/* After sync_worker: 1 when verification has stopped on a finding (any
 * class but a provisional "missing", after which only sequence numbers
 * are still read). */
static int worker_stopped(const export_state *st)
{
    return st->in_entries && st->v.res.cls != AF_OK && st->v.res.cls != AF_MISSING;
}

/* The canonical entry line af_export_compact_line writes, exactly:
 * {"seq":N,"entry":"<base64>","head":"<64 hex>"}.  Returns 1 and the
 * parts (the head decoded) when the line is that, else 0 (the line then goes through the
 * JSON parser, which gives the verdict).  The bytes it accepts are a
 * JSON object that a JSON parser reads as the same three values. */
static int canonical_line(const char *line, size_t len, uint64_t *seq, const char **b64,
                          size_t *b64len, uint8_t head[32])
{
    static const char p1[] = "{\"seq\":", p2[] = ",\"entry\":\"", p3[] = "\",\"head\":\"";
    const char *p = line, *end = line + len, *q;
    uint64_t n = 0;
    size_t digits = 0;

    if (len < sizeof p1 - 1 || memcmp(p, p1, sizeof p1 - 1) != 0) /* memcmp ok: not secret */
        return 0;
    p += sizeof p1 - 1;
    while (p < end && *p >= '0' && *p <= '9' && digits < 18) {
        n = n * 10 + (uint64_t)(*p++ - '0');
        digits++;
    }
    if (digits == 0 || (digits > 1 && line[sizeof p1 - 1] == '0') || n == 0)
        return 0;
    if ((size_t)(end - p) < sizeof p2 - 1 || memcmp(p, p2, sizeof p2 - 1) != 0) /* memcmp ok: not secret */
        return 0;
    p += sizeof p2 - 1;
    q = memchr(p, '"', (size_t)(end - p));
    if (!q)
        return 0;
    *b64 = p;
    *b64len = (size_t)(q - p);
    p = q;
    if ((size_t)(end - p) != sizeof p3 - 1 + 64 + 2 ||
        memcmp(p, p3, sizeof p3 - 1) != 0) /* memcmp ok: not secret */
        return 0;
    p += sizeof p3 - 1;
    for (size_t i = 0; i < 64; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
    for (size_t i = 0; i < 32; i++) {
        unsigned hi = (unsigned char)p[2 * i], lo = (unsigned char)p[2 * i + 1];

        head[i] = (uint8_t)(((hi <= '9' ? hi - '0' : hi - 'a' + 10) << 4) |
                            (lo <= '9' ? lo - '0' : lo - 'a' + 10));
    }
    if (p[64] != '"' || p[65] != '}')
        return 0;
    *seq = n;
    return 1;
}

/* One entry line's seq, entry bytes and head; 0 or AF_MALFORMED. */
static int parse_entry_line(export_state *st, json_t *j, uint64_t lineno, uint64_t *seq,
                            size_t *len, uint8_t head[32])
{
    json_t *js = json_object_get(j, "seq"), *je = json_object_get(j, "entry"),
           *jh = json_object_get(j, "head");
    size_t hlen = 0;
    uint64_t expect = st->v.next_seq;

    if (!json_is_integer(js) || json_integer_value(js) <= 0)
        return af_verify_set(&st->res, AF_MALFORMED, expect,
                          "line %llu: malformed (no positive integer \"seq\")", (ull)lineno);
    *seq = (uint64_t)json_integer_value(js);
    if (!json_is_string(je) ||
        vc_b642bin(st->entry, AF_ENTRY_MAX, len, json_string_value(je),
                   json_string_length(je)) != VAULT_OK)
        return af_verify_set(&st->res, AF_MALFORMED, *seq,
                          "line %llu: malformed (\"entry\" is not base64 of at most %d bytes)",
                          (ull)lineno, AF_ENTRY_MAX);
    if (!json_is_string(jh) || json_string_length(jh) != 64 ||
        vc_hex2bin(head, 32, &hlen, json_string_value(jh), 64) != VAULT_OK || hlen != 32)
        return af_verify_set(&st->res, AF_MALFORMED, *seq,
                          "line %llu: malformed (\"head\" is not 64 hex digits)", (ull)lineno);
    return AF_OK;
}

/* The end of one log's entry lines (a log line follows, or the input
 * ends): the worker stopped, the log's verifier finished.  AF_OK, or the
 * class of its finding (in st->res, naming a shard log). */
static int end_log(export_state *st)
{
    af_pipe_finish(st->pipe);
    st->pipe = NULL;
    if (st->v.res.cls == AF_OK)
        (void)af_verifier_finish(&st->v);
    if (st->in_shard && st->v.res.cls == AF_OK && st->v.res.entries == 0)
        af_verify_set(&st->v.res, AF_TRUNCATED, 1,
                      "entry 1: truncated (the export lists the log with no entries)");
    st->done += st->v.res.entries;
    st->res = st->v.res;
    st->v.res.entries = 0;
    if (!st->in_shard)
        st->city = st->res;
    if (st->res.cls != AF_OK && st->in_shard) {
        af_verify_in_log(&st->res, st->log);
        st->named = 1;
    }
    return st->res.cls;
}

/* A log line that is malformed: the finding, unless a provisional
 * "missing" is pending: a log line, even a bad one, ends the log's lines,
 * so the gap is the verdict (the lines after it are another log's: read
 * as this log's, they would look like a reordering). */
static int bad_log_line(export_state *st, uint64_t lineno, const char *why)
{
    if (st->in_entries && st->v.res.cls == AF_MISSING)
        return end_log(st);
    st->named = 1;
    return af_verify_set(&st->res, AF_MALFORMED, 0, "line %llu: malformed (%s)", (ull)lineno,
                         why);
}

/* A {"log": NAME} line: the log before it is over; NAME's entries follow,
 * verified against the heads the city log claimed for it.  AF_OK, the
 * class of a finding, or VAULT_ENOMEM. */
static int switch_log(export_state *st, const char *name, size_t n, uint64_t lineno)
{
    const af_checkpoint *mine;
    size_t nmine = 0;
    int rc;

    /* a finding about the line itself names no log, and no entry */
    if (n == 0 || n > AF_LOG_NAME_MAX || strlen(name) != n)
        return bad_log_line(st, lineno, "\"log\" is not a shard log's name");
    /* after a provisional "missing" the log ends there, with that verdict */
    if (st->v.res.cls == AF_MISSING)
        return end_log(st);
    if (st->in_shard && strcmp(name, st->log) <= 0)
        return bad_log_line(st, lineno, strcmp(name, st->log) == 0
                                            ? "a log's entries in two sections"
                                            : "the logs are not in ascending order of name");
    if ((rc = end_log(st)) != AF_OK)
        return rc;
    if (!st->in_shard)
        af_claims_sort(&st->claims);
    /* a claimed log passed over is reported at the end: sections out of
     * order are malformed first */
    mine = af_claims_next(&st->claims, &st->cursor, name, &nmine, &st->unmet, "the export");
    st->in_shard = 1;
    memcpy(st->log, name, n + 1);
    af_verifier_init(&st->v, mine, nmine);
    st->res = st->v.res;
    if (st->res.cls != AF_OK)
        return st->res.cls;
    return af_pipe_start(&st->pipe, &st->v) < 0 ? VAULT_ENOMEM : AF_OK;
}

/* One line of the export.  Returns AF_OK to go on, else the class; a
 * negative VAULT_E* code for a failure that is not a finding. */
static int export_line(export_state *st, const char *line, size_t len, uint64_t lineno,
                       const char *name, const uint8_t pk[32])
{
    json_t *j = NULL, *cp, *jl;
    int missing;
    uint64_t seq = 0;
    size_t elen = 0, b64len = 0;
    const char *b64 = NULL;
    uint8_t head[32];
    char where[48];
    int rc = AF_OK;

    /* The common case, on the entries' way to the worker: a canonical
     * line (audit export --compact writes nothing else). */
    if (st->pipe && canonical_line(line, len, &seq, &b64, &b64len, head) &&
        vc_b642bin_public(st->entry, AF_ENTRY_MAX, &elen, b64, b64len) == VAULT_OK) {
        st->queued++;
        if (!st->in_shard && af_claims_take(&st->claims, seq, st->entry, elen) < 0)
            return VAULT_ENOMEM;
        if (af_pipe_push(st->pipe, seq, 0, st->entry, elen, head) == 0)
            return AF_OK;
        sync_worker(st); /* it stopped: the finding is in its state */
        return st->res.cls;
    }
    vault__err_clear();
    /* Anything else is read here, with the worker idle.  When it has
     * stopped on a finding meanwhile, that finding is the verdict: one
     * thread would not have read this line. */
    sync_worker(st);
    if (worker_stopped(st))
        return st->res.cls;
    missing = st->in_entries && st->v.res.cls == AF_MISSING;
    j = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);

    if (!json_is_object(j)) {
        if (!missing) /* after a gap only sequence numbers still matter */
            rc = af_verify_set(&st->res, AF_MALFORMED, st->in_entries ? st->v.next_seq : 0,
                            "line %llu: malformed (not a JSON object)", (ull)lineno);
        goto cleanup;
    }
    cp = json_object_get(j, "checkpoint");
    if (cp && !st->in_entries) {
        if (!json_is_string(cp)) {
            rc = af_verify_set(&st->res, AF_MALFORMED, 0,
                            "line %llu: malformed (\"checkpoint\" is not a string)",
                            (ull)lineno);
            goto cleanup;
        }
        snprintf(where, sizeof where, "line %llu", (ull)lineno);
        rc = add_checkpoint(st, json_string_value(cp), json_string_length(cp), name, pk, where);
        goto cleanup;
    }
    if (!st->in_entries && (rc = start_entries(st)) != AF_OK)
        goto cleanup;
    if (cp) {
        if (!missing)
            rc = af_verify_set(&st->res, AF_MALFORMED, st->v.next_seq,
                            "line %llu: malformed (checkpoint line after the entries)",
                            (ull)lineno);
        goto cleanup;
    }
    jl = json_object_get(j, "log");
    if (jl) {
        if (json_object_size(j) != 1 || !json_is_string(jl)) {
            rc = bad_log_line(st, lineno, "a log line is {\"log\": NAME} alone");
            goto cleanup;
        }
        rc = switch_log(st, json_string_value(jl), json_string_length(jl), lineno);
        goto cleanup;
    }
    if (parse_entry_line(st, j, lineno, &seq, &elen, head) != AF_OK) {
        rc = missing ? AF_OK : st->res.cls;
        goto cleanup;
    }
    if (!st->in_shard && af_claims_take(&st->claims, seq, st->entry, elen) < 0) {
        rc = VAULT_ENOMEM;
        goto cleanup;
    }
    st->queued++;
    rc = af_verifier_push(&st->v, seq, st->entry, elen, head); /* the worker is idle */
    st->res = st->v.res;
    if (rc == AF_MISSING) /* keep reading: the number may turn up later */
        rc = AF_OK;
cleanup:
    json_decref(j);
    return rc;
}

int af_export_verify(af_verify_result *out, FILE *in, const char *name, const uint8_t pk[32],
                     const char *const *notes, size_t nnotes,
                     void (*progress)(uint64_t done, void *arg), void *arg)
{
    int rc = VAULT_OK, got;
    export_state st;
    line_reader lr;
    const char *line = NULL;
    size_t len = 0, i;
    uint64_t reported = 0;
    char where[48];

    memset(&st, 0, sizeof st);
    memset(&lr, 0, sizeof lr);
    ENSURE(out && in && name && pk && (notes || nnotes == 0), VAULT_EINVALID,
           "af_export_verify: missing argument");
    memset(out, 0, sizeof *out);
    st.entry = malloc(AF_ENTRY_MAX);
    lr.f = in;
    lr.cap = AF_EXPORT_LINE_MAX + 1 + READ_CHUNK;
    lr.buf = malloc(lr.cap);
    ENSURE(st.entry && lr.buf, VAULT_ENOMEM, "out of memory verifying an export");
    /* rc >= 0 from here on is a class: AF_OK goes on, anything else is the
     * finding; negative codes are failures to read. */
    /* Every external note is checked, not only one of them. */
    for (i = 0; i < nnotes; i++) {
        ENSURE(notes[i], VAULT_EINVALID, "af_export_verify: external checkpoint %zu is missing",
               i + 1);
        if (nnotes > 1)
            snprintf(where, sizeof where, "external checkpoint %zu", i + 1);
        else
            snprintf(where, sizeof where, "external checkpoint");
        rc = add_checkpoint(&st, notes[i], strlen(notes[i]), name, pk, where);
        if (rc != AF_OK)
            goto cleanup;
    }
    for (;;) {
        got = read_line(&lr, &line, &len);
        ENSURE(got != LINE_IOERR, VAULT_EIO, "export: read error");
        if (got == LINE_EOF)
            break;
        if (got == LINE_TOO_LONG) {
            sync_worker(&st);
            if (worker_stopped(&st)) {
                rc = st.res.cls;
                goto cleanup;
            }
            rc = af_verify_set(&st.res, AF_MALFORMED, st.in_entries ? st.v.next_seq : 0,
                            "line %llu: malformed (longer than %d bytes)", (ull)lr.no,
                            AF_EXPORT_LINE_MAX);
            if (!(st.in_entries && st.v.res.cls == AF_MISSING))
                goto cleanup;
            break; /* a gap is already known; the rest can't be read line by line */
        }
        rc = export_line(&st, line, len, lr.no, name, pk);
        if (rc != AF_OK)
            goto cleanup;
        if (progress && st.in_entries && st.queued % 65536 == 0 && st.queued != reported)
            progress(reported = st.queued, arg);
    }
    if (!st.in_entries && (rc = start_entries(&st)) != AF_OK)
        goto cleanup;
    if ((rc = end_log(&st)) != AF_OK)
        goto cleanup;
    if (!st.in_shard)
        af_claims_sort(&st.claims);
    (void)af_claims_next(&st.claims, &st.cursor, NULL, &i, &st.unmet, "the export");
    st.res = st.unmet;
    st.named = 1;
    if (st.res.cls == AF_OK && st.claims.bad)
        af_verify_set(&st.res, AF_MALFORMED, st.claims.bad_pos,
                      "entry %llu: malformed (a log_heads entry whose claims do not parse)",
                      (ull)st.claims.bad_pos);
    rc = st.res.cls;
cleanup:
    /* The worker stops before anything it reads is freed or copied. */
    af_pipe_finish(st.pipe);
    st.pipe = NULL;
    if (rc >= 0 && st.in_entries && st.v.res.cls != AF_OK && st.res.cls == AF_OK)
        st.res = st.v.res;
    if (rc >= 0 && st.in_shard && st.res.cls != AF_OK && !st.named)
        af_verify_in_log(&st.res, st.log); /* a finding inside a shard log's lines */
    if (rc >= 0 && out) {
        const af_verify_result *city = st.in_shard ? &st.city : &st.v.res;

        *out = st.res;
        if (st.in_entries)
            out->entries = st.done + st.v.res.entries, out->checkpoints = city->checkpoints,
            out->newest_size = city->newest_size, out->newest_time = city->newest_time;
    }
    free(lr.buf);
    free(st.entry);
    free(st.cps);
    af_claims_free(&st.claims);
    return rc;
}

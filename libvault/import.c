/* import: residents from a CSV file (libcsv), all or nothing, in one write
 * transaction.  Streaming: the file is read in 64 KiB chunks and only the
 * current row is held, so memory stays bounded whatever the file's size.
 *
 * Two threads.  A worker parses the file and prepares each record away
 * from the store: the decisions and their reasons, the field seals, blind
 * indexes and ciphertext digests, the entry's detail.  It hands batches of
 * IMPORT_BATCH prepared records (ciphertexts, never plaintext) through a
 * ring of IMPORT_BATCHES to the calling thread, which alone owns the
 * transaction: it writes each record through the store (row MAC) and
 * appends its audit entry, in the file's order.  The grade keys are looked
 * up by the calling thread before the worker starts.  The first failure in
 * file order wins; either thread's stops both, and the transaction rolls
 * back.  Format and messages: docs/import.md. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <csv.h>
#include <sodium.h>

#include "audit/audit.h"
#include "vault_int.h"
#include "op.h"
#include "client/client.h"

#define IMPORT_CHUNK (64 * 1024)
#define IMPORT_PROGRESS_EVERY 1000
#define IMPORT_BLK 4096 /* libcsv's field buffer grows by this much */
#define JURISDICTION_COLUMN "jurisdiction"
/* A resident's CSV row is rarely shorter: the file size over this is an
 * upper estimate of its records, for the store's bulk mode. */
#define IMPORT_ROW_BYTES 64
/* Records a batch, and batches in the ring: the worker fills one while the
 * writer writes another, one waits (memory: a few KB a prepared record). */
#define IMPORT_BATCH 256
#define IMPORT_BATCHES 3

/* One record prepared by the worker: ciphertexts, digests, the entry's
 * fields and texts; nothing secret. */
typedef struct prepared {
    record_row rec;
    af_field *af;          /* one per policy field */
    size_t naf;
    vault_reason *reasons; /* the row's distinct reasons, formatted once each */
    size_t rcap;
    char *detail;
    size_t row;            /* its CSV row, for the writer's messages */
} prepared;

typedef struct batch {
    prepared *p;           /* IMPORT_BATCH slots */
    size_t n;
} batch;

/* The ring between the worker and the writer.  `ready` counts the batches
 * handed over and not yet released (the one being written included); the
 * worker fills slot (rd + ready) % IMPORT_BATCHES, the writer writes slot
 * rd, so they never share one. */
typedef struct ring {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    batch b[IMPORT_BATCHES];
    size_t rd, ready;
    int done;              /* the worker has finished (its result in im->rc) */
    int stop;              /* the writer failed: the worker stops */
} ring;

typedef struct importer {
    vault_session *s;
    vault *v;
    const char *path;
    int rc;             /* first failure; callbacks do nothing once set */
    size_t row;         /* current record number, the header is 1 */
    size_t ncells;      /* cells seen so far in the current record */
    int header_done;
    size_t ncols;
    size_t jcol;        /* the jurisdiction column (0-based), SIZE_MAX until seen */
    const vp_field **cols; /* per column; NULL for the jurisdiction */
    unsigned char *seen;   /* per policy field: named by the header */
    /* The current row: cells back to back, each NUL-terminated.  It holds
     * plaintext, so it is wiped after every row and before it is freed. */
    char *buf;
    size_t len, cap;
    size_t *off, *clen;
    vp_decision *decs;     /* the decisions the current row's reasons came from */
    size_t nfields;        /* the policy's field count */
    size_t detail_cap;
    record_key *keys;      /* per column: its grade's newest key (looked up by the writer) */
    size_t *ridx;          /* per field of the row: its reason's index */
    int keys_wanted;       /* the worker waits for keys (under q.lock) */
    int keys_ready;        /* the writer answered (under q.lock) */
    size_t keys_row;       /* the row that needed them */
    ring q;
    batch *cur;            /* the batch the worker fills; NULL between batches */
    struct csv_parser *parser;
    FILE *file;
    unsigned char *chunk;
    char errmsg[512];      /* the worker's failure message, for the writer to raise */
    size_t count;          /* records imported (the writer's) */
    vault_progress_fn progress;
    void *arg;
    /* A refused decision, logged once the transaction is rolled back. */
    int denied;
    vp_decision d;
    const char *denied_field;
} importer;

/* libcsv's field buffer holds values too: wipe whatever it gives back. */
static void *wipe_realloc(void *p, size_t n)
{
    size_t old;
    void *q;

    if (!p)
        return malloc(n);
    old = malloc_usable_size(p);
    q = malloc(n ? n : 1);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    sodium_memzero(p, old);
    free(p);
    return q;
}

static void wipe_free(void *p)
{
    if (p) {
        sodium_memzero(p, malloc_usable_size(p));
        free(p);
    }
}

/* RFC 4180: spaces are part of a cell (libcsv trims them by default). */
static int no_space(unsigned char c)
{
    (void)c;
    return 0;
}

/* Fail with "FILE:ROW:COL: message" (col is 1-based). */
VAULT_PRINTF(5, 6)
static int fail_at(importer *im, int code, size_t row, size_t col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    im->rc = vault__err(code, "%s:%zu:%zu: %s", im->path, row, col, msg);
    return im->rc;
}

/* Put FILE:ROW:COL in front of the message a lower layer set. */
static int locate_error(importer *im, int code, size_t col)
{
    char saved[512];

    snprintf(saved, sizeof saved, "%s", vault_error_last());
    return fail_at(im, code, im->row, col, "%s", saved);
}

/* A header cell that looks like a field name may be quoted in a message;
 * anything else may be data (a file without its header row), so it is
 * not shown. */
static int shows_as_name(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > 64 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    for (i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

static void header_cell(importer *im, const char *s, size_t n, size_t col)
{
    char name[VAULT_NAME_MAX];
    const vp_field *f = NULL;
    int idx = -1;

    if (n == 0) {
        fail_at(im, VAULT_EINVALID, 1, col + 1, "empty column name");
        return;
    }
    if (n < sizeof name && !memchr(s, '\0', n)) {
        memcpy(name, s, n);
        name[n] = '\0';
        if (strcmp(name, JURISDICTION_COLUMN) == 0) {
            if (im->jcol != SIZE_MAX) {
                fail_at(im, VAULT_EINVALID, 1, col + 1, "duplicate column '%s'", name);
                return;
            }
            im->jcol = col;
            im->cols[col] = NULL;
            return;
        }
        f = policy_field(im->v->policy, name);
        idx = policy_field_index(im->v->policy, name);
    }
    if (!f || idx < 0) {
        if (shows_as_name(s, n))
            fail_at(im, VAULT_EINVALID, 1, col + 1,
                    "unknown column '%.*s' (not a field of the policy)", (int)n, s);
        else
            fail_at(im, VAULT_EINVALID, 1, col + 1,
                    "unknown column (not a field of the policy; its text is not shown as it "
                    "does not look like a field name: is the header row missing?)");
        return;
    }
    if (im->seen[idx]) {
        fail_at(im, VAULT_EINVALID, 1, col + 1, "duplicate column '%s'", f->name);
        return;
    }
    /* Only distinct valid names get here, so col <= the field count and
     * cols (field count + 1 entries) is never overrun. */
    im->seen[idx] = 1;
    im->cols[col] = f;
}

static void header_end(importer *im)
{
    if (im->jcol == SIZE_MAX) {
        fail_at(im, VAULT_EINVALID, 1, 1, "no jurisdiction column");
        return;
    }
    im->ncols = im->ncells;
    im->off = calloc(im->ncols, sizeof *im->off);
    im->clen = calloc(im->ncols, sizeof *im->clen);
    if (!im->off || !im->clen)
        im->rc = vault__err(VAULT_ENOMEM, "out of memory");
    im->header_done = 1;
}

static int row_append(importer *im, const char *s, size_t n)
{
    size_t need = im->len + n + 1, cap;
    char *nb;

    if (need > im->cap) {
        cap = im->cap ? im->cap : 1024;
        while (cap < need)
            cap *= 2;
        nb = wipe_realloc(im->buf, cap);
        if (!nb)
            return vault__err(VAULT_ENOMEM, "out of memory");
        im->buf = nb;
        im->cap = cap;
    }
    if (n)
        memcpy(im->buf + im->len, s, n);
    im->buf[im->len + n] = '\0';
    im->len = need;
    return VAULT_OK;
}

/* libcsv: one cell. */
static void on_cell(void *data, size_t n, void *arg)
{
    importer *im = arg;
    size_t col;

    if (im->rc)
        return;
    col = im->ncells++;
    if (!im->header_done) {
        header_cell(im, data, n, col);
        return;
    }
    if (n > VAULT_VALUE_MAX) {
        if (col < im->ncols && im->cols[col])
            fail_at(im, VAULT_ELIMIT, im->row, col + 1,
                    "value of field '%s' is longer than %d bytes", im->cols[col]->name,
                    VAULT_VALUE_MAX);
        else
            fail_at(im, VAULT_ELIMIT, im->row, col + 1, "cell is longer than %d bytes",
                    VAULT_VALUE_MAX);
        return;
    }
    if (col >= im->ncols) /* counted for the message, not kept */
        return;
    im->off[col] = im->len;
    im->clen[col] = n;
    if (row_append(im, data, n) < 0)
        im->rc = VAULT_ENOMEM;
}

static int is_blank_row(const importer *im)
{
    size_t i;

    for (i = 0; i < im->ncols; i++)
        if (im->clen[i])
            return 0;
    return 1;
}

static void deny(importer *im, const vp_decision *d, const vp_field *f, size_t col)
{
    vault_reason why;

    policy_reason_fill(&why, d);
    if (f)
        fail_at(im, VAULT_EDENIED, im->row, col + 1, "write of field '%s' denied: %s", f->name,
                why.text);
    else
        fail_at(im, VAULT_EDENIED, im->row, col + 1, "create of a record denied: %s", why.text);
    im->denied = 1;
    im->d = *d;
    im->denied_field = f ? f->name : NULL;
}

/* ---- the ring between the worker and the writer ---- */

/* Worker: the next free batch to fill; NULL when the writer stopped. */
static batch *batch_acquire(importer *im)
{
    ring *q = &im->q;
    batch *b = NULL;

    pthread_mutex_lock(&q->lock);
    while (q->ready == IMPORT_BATCHES && !q->stop)
        pthread_cond_wait(&q->cond, &q->lock);
    if (!q->stop) {
        b = &q->b[(q->rd + q->ready) % IMPORT_BATCHES];
        b->n = 0;
    }
    pthread_mutex_unlock(&q->lock);
    return b;
}

/* Worker: hand the batch being filled to the writer. */
static void batch_push(importer *im)
{
    ring *q = &im->q;

    if (!im->cur || im->cur->n == 0)
        return;
    pthread_mutex_lock(&q->lock);
    q->ready++;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    im->cur = NULL;
}

/* Worker: the keys of the row's columns that have none yet, looked up by
 * the writer once it has written every record handed over before (so the
 * first failure in file order is the one reported). */
static int keys_request(importer *im)
{
    ring *q = &im->q;
    size_t i;
    int need = 0;

    for (i = 0; i < im->ncols; i++)
        if (im->cols[i] && im->clen[i] && !im->keys[i].key)
            need = 1;
    if (!need)
        return VAULT_OK;
    batch_push(im);
    pthread_mutex_lock(&q->lock);
    im->keys_ready = 0;
    im->keys_row = im->row;
    im->keys_wanted = 1;
    pthread_cond_broadcast(&q->cond);
    while (!im->keys_ready && !q->stop)
        pthread_cond_wait(&q->cond, &q->lock);
    need = q->stop;
    pthread_mutex_unlock(&q->lock);
    if (need) /* the writer failed: its message is the one reported */
        return im->rc = VAULT_ESTATE;
    return VAULT_OK;
}

/* A prepared slot holds room for every field of the policy. */
static int prepared_init(prepared *p, const importer *im)
{
    record_row_init(&p->rec);
    p->af = calloc(im->nfields + 1, sizeof *p->af);
    p->detail = malloc(im->detail_cap);
    p->rcap = 2;
    p->reasons = calloc(p->rcap, sizeof *p->reasons);
    if (!p->af || !p->detail || !p->reasons)
        return vault__err(VAULT_ENOMEM, "out of memory");
    return VAULT_OK;
}

static void prepared_free(prepared *p)
{
    record_row_free(&p->rec);
    free(p->af);
    free(p->detail);
    free(p->reasons);
}

/* Worker: prepare one record from the current row into the batch being
 * filled.  No store, no audit log: decisions, seals, digests, texts. */
static int prepare_row(importer *im)
{
    const char *jur = im->buf + im->off[im->jcol];
    char jbuf[VAULT_JURISDICTION_MAX + 1];
    char canon[VAULT_ID_HEX_SIZE];
    vp_decision d;
    vault_reason why;
    const vp_field *f;
    prepared *p;
    size_t i, k, n = 0, nr = 0;
    int64_t now = vault__now();
    int rc;
    record_ctx rx = vault__record_ctx(im->v);

    if (strlen(jur) != im->clen[im->jcol])
        return fail_at(im, VAULT_EINVALID, im->row, im->jcol + 1,
                       "jurisdiction contains a NUL byte");
    if ((rc = vault__jurisdiction_norm(jbuf, sizeof jbuf, jur, "jurisdiction")) < 0) {
        /* A path is not a field value, but a misaligned file could put one
         * in this column: never echo the cell (the check quotes it when it
         * finds an empty segment: "jurisdiction '<path>' has ..."). */
        if (strncmp(vault_error_last(), "jurisdiction '", 14) == 0)
            return fail_at(im, rc, im->row, im->jcol + 1,
                           "jurisdiction has an empty segment (use a/b/c, no leading, trailing "
                           "or double '/')");
        return locate_error(im, rc, im->jcol + 1);
    }
    jur = jbuf;
    (void)session__decide(&d, im->s, VAULT_ACTION_CREATE, NULL, jur, NULL);
    if (d.effect != VAULT_EFFECT_ALLOW) {
        deny(im, &d, NULL, im->jcol);
        return im->rc;
    }
    policy_reason_fill(&why, &d);
    if ((rc = keys_request(im)) < 0)
        return rc;
    if (!im->cur && !(im->cur = batch_acquire(im)))
        return im->rc = VAULT_ESTATE; /* the writer failed: its message is reported */
    p = &im->cur->p[im->cur->n];
    p->row = im->row;
    if ((rc = record_new(&p->rec, jur, now)) < 0)
        return locate_error(im, rc, im->jcol + 1);
    vault__id_format(canon, p->rec.id);
    for (i = 0; i < im->ncols; i++) {
        f = im->cols[i];
        if (!f || im->clen[i] == 0) /* the jurisdiction, or an empty cell: not set */
            continue;
        (void)session__decide(&d, im->s, VAULT_ACTION_WRITE, canon, jur, f->name);
        if (d.effect != VAULT_EFFECT_ALLOW) {
            deny(im, &d, f, i);
            return im->rc;
        }
        /* One rule usually allows every column: its reason is formatted
         * once per row, and the entry stores it once (LVA2). */
        for (k = 0; k < nr && !policy_reason_same(&im->decs[k], &d); k++)
            ;
        if (k == nr) {
            if (nr == p->rcap) {
                vault_reason *grown = realloc(p->reasons, 2 * p->rcap * sizeof *grown);
                if (!grown)
                    return im->rc = vault__err(VAULT_ENOMEM, "out of memory");
                p->reasons = grown;
                p->rcap *= 2;
            }
            policy_reason_fill(&p->reasons[nr], &d);
            im->decs[nr++] = d;
        }
        im->ridx[n] = k;
        p->af[n].name = f->name;
        p->af[n].effect = d.effect;
        p->af[n].has_ct_hash = 1;
        rc = record_set_key(p->af[n].ct_hash, &rx, &p->rec, f, &im->keys[i],
                            im->buf + im->off[i], im->clen[i]);
        if (rc < 0)
            return locate_error(im, rc, i + 1);
        n++;
    }
    for (i = 0; i < n; i++) /* now that p->reasons no longer moves */
        p->af[i].reason = p->reasons[im->ridx[i]].text;
    p->naf = n;
    snprintf(p->detail, im->detail_cap, "import %s row %zu (create: %s)", im->path, im->row,
             why.text);
    if (++im->cur->n == IMPORT_BATCH)
        batch_push(im);
    return VAULT_OK;
}

/* Writer: "FILE:ROW:COL: " in front of the message a lower layer set. */
static int writer_error(const importer *im, int code, size_t row, size_t col)
{
    char saved[512];

    snprintf(saved, sizeof saved, "%s", vault_error_last());
    return vault__err(code, "%s:%zu:%zu: %s", im->path, row, col, saved);
}

/* Writer: one prepared record through the store, then its audit entry. */
static int write_record(importer *im, prepared *p)
{
    record_ctx rx = vault__record_ctx(im->v);
    af_entry e;
    int rc;

    if ((rc = record_save(&rx, &p->rec)) < 0)
        return writer_error(im, rc, p->row, 1);
    audit_entry_init(&e, im->v, im->s, "create");
    e.has_record = 1;
    memcpy(e.record_id, p->rec.id, VAULT_ID_BYTES);
    vault__route(im->v, p->rec.id, p->rec.jurisdiction);
    e.fields = p->af;
    e.nfields = p->naf;
    e.detail = p->detail;
    if ((rc = audit_append(im->v, &e)) < 0)
        return writer_error(im, rc, p->row, 1);
    im->count++;
    if (im->progress && im->count % IMPORT_PROGRESS_EVERY == 0)
        im->progress(im->count, 0, im->arg);
    return VAULT_OK;
}

/* Writer: the keys the worker asked for, each column's grade's newest. */
static int writer_keys(importer *im)
{
    record_ctx rx = vault__record_ctx(im->v);
    size_t i;
    int rc;

    for (i = 0; i < im->ncols; i++) {
        if (!im->cols[i] || !im->clen[i] || im->keys[i].key)
            continue;
        if ((rc = record_key_latest(&im->keys[i], &rx, im->cols[i], vault__now())) < 0)
            return writer_error(im, rc, im->keys_row, i + 1);
    }
    return VAULT_OK;
}

/* libcsv: end of a record. */
static void on_row(int c, void *arg)
{
    importer *im = arg;

    (void)c;
    if (im->rc)
        return;
    if (!im->header_done) {
        header_end(im);
    } else if (im->ncells != im->ncols) {
        fail_at(im, VAULT_EINVALID, im->row,
                (im->ncells < im->ncols ? im->ncells : im->ncols) + 1,
                "row has %zu cells, header has %zu", im->ncells, im->ncols);
    } else if (!is_blank_row(im)) {
        (void)prepare_row(im);
    }
    if (im->len)
        sodium_memzero(im->buf, im->len);
    im->len = 0;
    if (im->rc)
        return;
    im->ncells = 0;
    im->row++;
}

/* After each chunk: a cell still being read that has outgrown any value
 * (libcsv keeps it whole) fails now, which bounds memory. */
static void check_open_cell(importer *im, struct csv_parser *p)
{
    size_t col = im->ncells;

    if (im->rc || csv_get_buffer_size(p) <= (size_t)VAULT_VALUE_MAX + 2 * IMPORT_BLK)
        return;
    if (!im->header_done)
        fail_at(im, VAULT_ELIMIT, 1, col + 1, "column name is longer than %d bytes",
                VAULT_VALUE_MAX);
    else if (col < im->ncols && im->cols[col])
        fail_at(im, VAULT_ELIMIT, im->row, col + 1, "value of field '%s' is longer than %d bytes",
                im->cols[col]->name, VAULT_VALUE_MAX);
    else
        fail_at(im, VAULT_ELIMIT, im->row, col + 1, "cell is longer than %d bytes",
                VAULT_VALUE_MAX);
}

static void parse_error(importer *im, struct csv_parser *p, int at_end)
{
    if (csv_error(p) == CSV_EPARSE && at_end)
        fail_at(im, VAULT_EINVALID, im->row, im->ncells + 1,
                "quoted cell not closed at the end of the file (a '\"' is missing)");
    else if (csv_error(p) == CSV_EPARSE)
        fail_at(im, VAULT_EINVALID, im->row, im->ncells + 1,
                "malformed CSV: a '\"' inside an unquoted cell, or text after a closing '\"' "
                "(quote the cell and double its quotes)");
    else if (csv_error(p) == CSV_ENOMEM)
        im->rc = vault__err(VAULT_ENOMEM, "out of memory");
    else
        fail_at(im, VAULT_ELIMIT, im->row, im->ncells + 1, "%s", csv_strerror(csv_error(p)));
}

static int importer_init(importer *im, vault_session *s, const char *path,
                         vault_progress_fn progress, void *arg)
{
    size_t nf, i, k;

    memset(im, 0, sizeof *im);
    im->s = s;
    im->v = s->v;
    im->path = path;
    im->row = 1;
    im->jcol = SIZE_MAX;
    im->progress = progress;
    im->arg = arg;
    nf = policy_field_count(s->v->policy);
    im->nfields = nf;
    im->detail_cap = strlen(path) + VAULT_REASON_TEXT_SIZE + 64;
    im->cols = calloc(nf + 1, sizeof *im->cols);
    im->seen = calloc(nf + 1, 1);
    im->decs = calloc(nf + 1, sizeof *im->decs);
    im->keys = calloc(nf + 1, sizeof *im->keys);
    im->ridx = calloc(nf + 1, sizeof *im->ridx);
    if (!im->cols || !im->seen || !im->decs || !im->keys || !im->ridx)
        return vault__err(VAULT_ENOMEM, "out of memory");
    for (i = 0; i < IMPORT_BATCHES; i++) {
        im->q.b[i].p = calloc(IMPORT_BATCH, sizeof *im->q.b[i].p);
        if (!im->q.b[i].p)
            return vault__err(VAULT_ENOMEM, "out of memory");
        for (k = 0; k < IMPORT_BATCH; k++)
            if (prepared_init(&im->q.b[i].p[k], im) < 0)
                return VAULT_ENOMEM;
    }
    return VAULT_OK;
}

static void importer_free(importer *im)
{
    size_t i, k;

    if (im->buf) {
        sodium_memzero(im->buf, im->cap);
        free(im->buf);
    }
    free(im->cols);
    free(im->seen);
    free(im->decs);
    free(im->keys);
    free(im->ridx);
    free(im->off);
    free(im->clen);
    for (i = 0; i < IMPORT_BATCHES; i++) {
        for (k = 0; im->q.b[i].p && k < IMPORT_BATCH; k++)
            prepared_free(&im->q.b[i].p[k]);
        free(im->q.b[i].p);
    }
}

static int open_csv(FILE **out, const char *path)
{
    FILE *f = fopen(path, "rb");

    if (!f && errno == ENOENT)
        return vault__err(VAULT_ENOTFOUND, "%s: no such file", path);
    if (!f)
        return vault__err(VAULT_EIO, "%s: cannot open: %s", path, strerror(errno));
    /* Unbuffered: fread fills our chunk directly, so no stdio buffer keeps
     * a copy of the plaintext. */
    setvbuf(f, NULL, _IONBF, 0);
    *out = f;
    return VAULT_OK;
}

/* Feed the whole file to libcsv, chunk by chunk. */
static int parse_file(importer *im, FILE *f, struct csv_parser *p, unsigned char *chunk)
{
    size_t n, used, skip;
    int first = 1;

    while (!im->rc && (n = fread(chunk, 1, IMPORT_CHUNK, f)) > 0) {
        skip = 0;
        if (first && n >= 3 && memcmp(chunk, "\xEF\xBB\xBF", 3) == 0) /* memcmp ok: not secret */
            skip = 3; /* UTF-8 byte order mark */
        first = 0;
        used = csv_parse(p, chunk + skip, n - skip, on_cell, on_row, im);
        if (!im->rc && used != n - skip)
            parse_error(im, p, 0);
        check_open_cell(im, p);
    }
    if (im->rc)
        return im->rc;
    if (ferror(f))
        return im->rc = vault__err(VAULT_EIO, "%s: read error: %s", im->path, strerror(errno));
    if (csv_fini(p, on_cell, on_row, im) != 0 && !im->rc)
        parse_error(im, p, 1);
    if (!im->rc && !im->header_done)
        fail_at(im, VAULT_EINVALID, 1, 1, "empty file (no header row)");
    return im->rc;
}

/* The worker: parse the file, prepare its records, hand them over. */
static void *worker_main(void *arg)
{
    importer *im = arg;
    int rc = parse_file(im, im->file, im->parser, im->chunk);

    /* What was prepared before a failure is written too, so a writer's
     * failure earlier in the file is the one reported. */
    batch_push(im);
    if (rc < 0)
        snprintf(im->errmsg, sizeof im->errmsg, "%s", vault_error_last());
    pthread_mutex_lock(&im->q.lock);
    im->q.done = 1;
    pthread_cond_broadcast(&im->q.cond);
    pthread_mutex_unlock(&im->q.lock);
    return NULL;
}

/* The writer (the calling thread, which owns the transaction): every
 * batch in order, and the keys the worker asks for. */
static int writer_run(importer *im)
{
    ring *q = &im->q;
    batch *b;
    size_t i;
    int rc = VAULT_OK, keys;

    for (;;) {
        pthread_mutex_lock(&q->lock);
        while (q->ready == 0 && !q->done && !im->keys_wanted)
            pthread_cond_wait(&q->cond, &q->lock);
        b = q->ready ? &q->b[q->rd] : NULL;
        keys = !b && im->keys_wanted;
        pthread_mutex_unlock(&q->lock);
        if (!b && !keys)
            break; /* the worker is done and everything is written */
        if (keys)
            rc = writer_keys(im);
        for (i = 0; b && i < b->n && rc == VAULT_OK; i++)
            rc = write_record(im, &b->p[i]);
        pthread_mutex_lock(&q->lock);
        if (keys) {
            im->keys_wanted = 0;
            im->keys_ready = 1;
        } else {
            q->rd = (q->rd + 1) % IMPORT_BATCHES;
            q->ready--;
        }
        if (rc < 0)
            q->stop = 1;
        pthread_cond_broadcast(&q->cond);
        pthread_mutex_unlock(&q->lock);
        if (rc < 0)
            break;
    }
    return rc;
}

/* Run the worker and the writer; the first failure in file order wins. */
static int import_run(importer *im)
{
    int rc, wrc, prc;
    pthread_t th;

    prc = pthread_mutex_init(&im->q.lock, NULL);
    if (prc == 0 && (prc = pthread_cond_init(&im->q.cond, NULL)) != 0)
        pthread_mutex_destroy(&im->q.lock);
    if (prc != 0)
        return vault__err(VAULT_ERROR, "import: cannot set up its threads: %s", strerror(prc));
    if ((prc = pthread_create(&th, NULL, worker_main, im)) != 0) {
        rc = vault__err(VAULT_ERROR, "import: cannot start its worker thread: %s", strerror(prc));
        goto cleanup;
    }
    wrc = writer_run(im);
    pthread_join(th, NULL);
    if (wrc < 0) { /* earlier in the file than anything the worker met */
        rc = wrc;
        goto cleanup;
    }
    rc = im->rc;
    if (rc < 0)
        vault__err(rc, "%s", im->errmsg);
cleanup:
    pthread_cond_destroy(&im->q.cond);
    pthread_mutex_destroy(&im->q.lock);
    return rc;
}

int vault_import_csv(size_t *out_count, vault_session *s, const char *path,
                     vault_progress_fn progress, void *arg)
{
    if (s && s->v->remote)
        return client_import_csv(out_count, s, path);
    int rc = VAULT_OK, entered = 0, parser = 0, logged = 0;
    importer im;
    struct csv_parser p;
    FILE *f = NULL;
    unsigned char *chunk = NULL;
    struct stat st;

    memset(&im, 0, sizeof im);
    if (out_count)
        *out_count = 0;
    ENSURE(s, VAULT_EINVALID, "no session");
    ENSURE(path && *path, VAULT_EINVALID, "missing CSV file name");
    GUARD(vault__enter(s->v));
    entered = 1;
    GUARD(importer_init(&im, s, path, progress, arg));
    GUARD(open_csv(&f, path));
    chunk = malloc(IMPORT_CHUNK);
    ENSURE(chunk, VAULT_ENOMEM, "out of memory");
    ENSURE(csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) == 0, VAULT_ENOMEM, "out of memory");
    parser = 1;
    csv_set_space_func(&p, no_space);
    csv_set_realloc_func(&p, wipe_realloc);
    csv_set_free_func(&p, wipe_free);
    csv_set_blk_size(&p, IMPORT_BLK);
    im.file = f;
    im.parser = &p;
    im.chunk = chunk;
    /* The whole file is one transaction: all records or none. */
    GUARD(op_begin(s->v, OP_WRITE));
    /* A large file: the store may build its indexes once at the end. */
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0) {
        GUARD(store_bulk_begin(s->v->db, (size_t)st.st_size / IMPORT_ROW_BYTES));
        /* The record keys too where each would be round trips of its own
         * (a server); a file's key store gains nothing but cache. */
        if (s->v->rk && !store_location_is_file(s->v->path))
            GUARD(reckeys_bulk_begin(s->v->rk, (size_t)st.st_size / IMPORT_ROW_BYTES));
    }
    rc = import_run(&im);
    if (rc == VAULT_EDENIED && im.denied) {
        rc = session__log_denial(s, "import", NULL, im.denied_field, &im.d, rc);
        logged = 1;
        goto cleanup;
    }
    GUARD(rc);
    GUARD(store_bulk_end(s->v->db));
    GUARD(op_commit(s->v));
    if (progress && im.count % IMPORT_PROGRESS_EVERY != 0)
        progress(im.count, 0, arg);
    if (out_count)
        *out_count = im.count;
cleanup:
    /* A file refused (missing, bad CSV, an unknown column, a bad value):
     * nothing is imported, and the refusal is an entry (its message says
     * where, never a value). */
    if (entered && !logged && op_is_refusal(rc))
        rc = op_refused(s->v, s, "import", NULL, rc, NULL);
    if (entered) {
        op_rollback(s->v);
        vault__leave(s->v);
    }
    if (parser)
        csv_free(&p);
    if (chunk) {
        sodium_memzero(chunk, IMPORT_CHUNK);
        free(chunk);
    }
    if (f)
        fclose(f);
    importer_free(&im);
    return rc;
}

/* store_mem: every operation of struct store_backend (store/backend.h),
 * kept in process memory.  It is the test double that shows nothing above
 * the backend table reaches SQLCipher: a vault opened on "memory:NAME"
 * runs the whole library over this file and leaves no database behind.
 *
 * How it works:
 *  - stores are named by the uri given to store_mem_open and kept in a
 *    process-wide registry (one mutex guards it and every store's shared
 *    state), so two connections, or a close and a later open, see the same
 *    data; the key given at create must be given again at open;
 *  - a store's committed state is one immutable `mem_data` with a reference
 *    count.  A snapshot transaction takes a reference to it (so it reads
 *    exactly the state of its BEGIN); a write transaction takes the store's
 *    write lock (VAULT_EBUSY at once if another connection has it: nothing
 *    waits), works on a deep copy, and commit installs that copy (rollback
 *    frees it, which restores the state exactly).  generation counts the
 *    commits of every connection of the store;
 *  - rows are kept as the store_* structs of backend.h with copies of all
 *    their bytes; callbacks that may write (records, grants) are handed a
 *    copy of their row, so a rewrite inside the callback is safe;
 *  - MACs are opaque bytes: kept and returned, never computed or checked
 *    (store.c does that);
 *  - the audit state (audit_state_put) is one slot per state, with the
 *    position it belongs to: audit_head returns it only while that
 *    position is the newest row, so an append leaves the newest row
 *    without one until the next put, as the contract says;
 *  - migrate reports the current schema (MEM_SCHEMA_VERSION, 8) and does nothing;
 *    audit_index has no index to build; bulk loading is not offered.
 * Everything is a linear scan or a sorted array: it is meant for tests,
 * not for size. */
#include "store_mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* The schema the SQLCipher backend is at (STORE_SCHEMA_VERSION in
 * store/store.h); this backend has no older layout to migrate from. */
#define MEM_SCHEMA_VERSION 8
/* Audit rows one seal callback may hand back per append. */
#define MEM_SEAL_CAP 256

typedef struct mem_bidx {
    char *field;
    uint8_t digest[STORE_DIGEST_MAX];
    size_t len;
    uint8_t id[VAULT_ID_BYTES];
} mem_bidx;

typedef struct mem_quota {
    char *quota, *user;
    int64_t at;
    int has_record; /* a residents-quota use (quota_add_record) */
    uint8_t record[VAULT_ID_BYTES];
} mem_quota;

/* A growing array of n rows (cap allocated) of one type. */
#define MEM_ARRAY(type, name) \
    type *name;               \
    size_t n_##name, cap_##name

/* One state of a store: committed (shared, never changed) or the working
 * copy of a write transaction (private to its connection). */
typedef struct mem_data {
    int refs;
    int64_t next_policy;
    MEM_ARRAY(store_meta, meta);
    MEM_ARRAY(store_policy, policy);
    MEM_ARRAY(store_gradekey, gradekey);
    MEM_ARRAY(store_record, record); /* in id order */
    MEM_ARRAY(mem_bidx, bidx);
    MEM_ARRAY(store_audit_row, audit); /* in pos order */
    store_audit_state state; /* the audit state, on row state.pos (0: none) */
    MEM_ARRAY(store_checkpoint, checkpoint); /* in size order */
    MEM_ARRAY(store_grant, grant);
    MEM_ARRAY(mem_quota, quota);
} mem_data;

typedef struct mem_store {
    struct mem_store *next;
    char *name;
    uint8_t *key; /* 32 bytes, sodium_malloc */
    mem_data *data;
    int conns;
    const void *writer; /* the connection holding the write lock */
    int64_t generation;
    int dropped; /* destroy took it out of the registry: freed with its last connection */
} mem_store;

typedef struct mem_be {
    store_backend base; /* first: a store_backend * is a mem_be * */
    mem_store *st;
    int tx; /* -1 none, else a store_tx_kind */
    mem_data *work; /* write transaction: the working copy */
    mem_data *snap; /* snapshot transaction: the committed state it reads */
    int created;    /* this connection created the store (destroy) */
} mem_be;

struct store_iter {
    mem_data *data; /* audit iterator: the state it reads (a reference) */
    size_t i, n;
    uint8_t *ids; /* blind-index iterator: the ids found */
    int64_t after_pos;
    int has_record;
    uint8_t record_id[VAULT_ID_BYTES];
    char *user;
};

static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;
static mem_store *mem_stores;

/* ---- small helpers ---- */

static void release(const void *p)
{
    free((void *)p);
}

static int nomem(void)
{
    return vault__err(VAULT_ENOMEM, "memory store: out of memory");
}

/* Make room for need rows in *arr (cap rows allocated, elem bytes each). */
static int grow(void *arr, size_t *cap, size_t need, size_t elem)
{
    void **p = arr;
    size_t ncap = *cap ? *cap : 8;
    void *q;

    if (need <= *cap)
        return VAULT_OK;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return nomem();
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / elem)
        return nomem();
    q = realloc(*p, ncap * elem);
    if (!q)
        return nomem();
    *p = q;
    *cap = ncap;
    return VAULT_OK;
}

#define GROW(d, name) grow(&(d)->name, &(d)->cap_##name, (d)->n_##name + 1, sizeof *(d)->name)

static int dup_str(const char **out, const char *s)
{
    *out = NULL;
    if (!s)
        return VAULT_OK;
    *out = strdup(s);
    return *out ? VAULT_OK : nomem();
}

/* A copy of n bytes with a NUL after them (policy sources and notes are
 * text); NULL only when p is NULL. */
static int dup_bytes(const uint8_t **out, const uint8_t *p, size_t n)
{
    uint8_t *q;

    *out = NULL;
    if (!p)
        return VAULT_OK;
    if (n == SIZE_MAX)
        return nomem();
    q = malloc(n + 1);
    if (!q)
        return nomem();
    if (n)
        memcpy(q, p, n);
    q[n] = 0;
    *out = q;
    return VAULT_OK;
}

static int id_cmp(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, VAULT_ID_BYTES); /* memcmp ok: not secret */
}

/* ---- rows: copy (all bytes) and drop ---- */

static void meta_drop(store_meta *m)
{
    release(m->key);
    release(m->value);
}

static int meta_copy(store_meta *dst, const store_meta *src)
{
    int rc = VAULT_OK;

    *dst = *src;
    dst->key = NULL;
    dst->value = NULL;
    GUARD(dup_str(&dst->key, src->key));
    GUARD(dup_bytes(&dst->value, src->value, src->len));
cleanup:
    if (rc < 0)
        meta_drop(dst);
    return rc;
}

static void policy_drop(store_policy *p)
{
    release(p->filename);
    release(p->source);
}

static int policy_copy(store_policy *dst, const store_policy *src)
{
    int rc = VAULT_OK;

    *dst = *src;
    dst->filename = dst->source = NULL;
    GUARD(dup_str(&dst->filename, src->filename));
    GUARD(dup_bytes((const uint8_t **)&dst->source, (const uint8_t *)src->source, src->len));
cleanup:
    if (rc < 0)
        policy_drop(dst);
    return rc;
}

static void gradekey_drop(store_gradekey *g)
{
    release(g->grade);
    release(g->wrapped);
}

static int gradekey_copy(store_gradekey *dst, const store_gradekey *src)
{
    int rc = VAULT_OK;

    *dst = *src;
    dst->grade = NULL;
    dst->wrapped = NULL;
    GUARD(dup_str(&dst->grade, src->grade));
    GUARD(dup_bytes(&dst->wrapped, src->wrapped, src->len));
cleanup:
    if (rc < 0)
        gradekey_drop(dst);
    return rc;
}

static void record_drop(store_record *r)
{
    size_t i;

    release(r->jurisdiction);
    for (i = 0; r->fields && i < r->nfields; i++) {
        release(r->fields[i].name);
        release(r->fields[i].grade);
        release(r->fields[i].ct);
    }
    release(r->fields);
    r->fields = NULL;
    r->jurisdiction = NULL;
}

static int record_copy(store_record *dst, const store_record *src)
{
    int rc = VAULT_OK;
    store_field *f = NULL;
    size_t i;

    *dst = *src;
    dst->jurisdiction = NULL;
    dst->fields = NULL;
    dst->nfields = 0;
    GUARD(dup_str(&dst->jurisdiction, src->jurisdiction));
    if (src->nfields) {
        f = calloc(src->nfields, sizeof *f);
        if (!f) {
            rc = nomem();
            goto cleanup;
        }
        dst->fields = f;
        dst->nfields = src->nfields;
    }
    for (i = 0; i < src->nfields; i++) {
        f[i] = src->fields[i];
        f[i].name = f[i].grade = NULL;
        f[i].ct = NULL;
        GUARD(dup_str(&f[i].name, src->fields[i].name));
        GUARD(dup_str(&f[i].grade, src->fields[i].grade));
        GUARD(dup_bytes(&f[i].ct, src->fields[i].ct, src->fields[i].ct_len));
    }
cleanup:
    if (rc < 0)
        record_drop(dst);
    return rc;
}

static void audit_drop(store_audit_row *a)
{
    release(a->entry);
    release(a->head);
    release(a->record_id);
    release(a->user);
}

static int audit_copy(store_audit_row *dst, const store_audit_row *src)
{
    int rc = VAULT_OK;

    *dst = *src;
    dst->log = STORE_LOG_CITY; /* the one log (src's pointer is the caller's) */
    dst->entry = dst->head = dst->record_id = NULL;
    dst->user = NULL;
    GUARD(dup_bytes(&dst->entry, src->entry, src->len));
    GUARD(dup_bytes(&dst->head, src->head, src->head_len));
    GUARD(dup_bytes(&dst->record_id, src->record_id, VAULT_ID_BYTES));
    GUARD(dup_str(&dst->user, src->user));
cleanup:
    if (rc < 0)
        audit_drop(dst);
    return rc;
}

static void checkpoint_drop(store_checkpoint *c)
{
    release(c->note);
}

static int checkpoint_copy(store_checkpoint *dst, const store_checkpoint *src)
{
    *dst = *src;
    return dup_bytes((const uint8_t **)&dst->note, (const uint8_t *)src->note, src->len);
}

/* The string members of a grant, for copying and freeing them alike. */
#define GRANT_STRINGS(g)                                                                     \
    &(g)->id, &(g)->state, &(g)->issuer, &(g)->issuer_role, &(g)->user, &(g)->role,          \
        &(g)->department, &(g)->fields, &(g)->grade_min, &(g)->grade_max, &(g)->records,     \
        &(g)->jurisdiction, &(g)->purposes, &(g)->reason, &(g)->approver, &(g)->revoked_by, \
        &(g)->revoke_reason, &(g)->issued_by.iss, &(g)->issued_by.sub, &(g)->issued_by.app,   \
        &(g)->issued_by.jti, &(g)->approved_by.iss, &(g)->approved_by.sub,                    \
        &(g)->approved_by.app, &(g)->approved_by.jti

static void grant_drop(store_grant *g)
{
    const char **s[] = {GRANT_STRINGS(g)};
    size_t i;

    for (i = 0; i < VAULT_ARRAY_LEN(s); i++) {
        release(*s[i]);
        *s[i] = NULL;
    }
}

static int grant_copy(store_grant *dst, const store_grant *src)
{
    int rc = VAULT_OK;
    const char **d[] = {GRANT_STRINGS(dst)};
    const char *const *s[] = {GRANT_STRINGS(src)};
    size_t i;

    *dst = *src;
    for (i = 0; i < VAULT_ARRAY_LEN(d); i++)
        *d[i] = NULL;
    for (i = 0; i < VAULT_ARRAY_LEN(d); i++)
        GUARD(dup_str(d[i], *s[i]));
cleanup:
    if (rc < 0)
        grant_drop(dst);
    return rc;
}

static void bidx_drop(mem_bidx *b)
{
    free(b->field);
}

static int bidx_copy(mem_bidx *dst, const mem_bidx *src)
{
    *dst = *src;
    return dup_str((const char **)&dst->field, src->field);
}

static void quota_drop(mem_quota *q)
{
    free(q->quota);
    free(q->user);
}

static int quota_copy(mem_quota *dst, const mem_quota *src)
{
    int rc = VAULT_OK;

    *dst = *src;
    dst->quota = dst->user = NULL;
    GUARD(dup_str((const char **)&dst->quota, src->quota));
    GUARD(dup_str((const char **)&dst->user, src->user));
cleanup:
    if (rc < 0)
        quota_drop(dst);
    return rc;
}

/* ---- states ---- */

#define DROP_ALL(d, name, drop)                  \
    do {                                         \
        size_t k_;                               \
        for (k_ = 0; k_ < (d)->n_##name; k_++)   \
            drop(&(d)->name[k_]);                \
        free((d)->name);                         \
    } while (0)

static void data_free(mem_data *d)
{
    if (!d)
        return;
    DROP_ALL(d, meta, meta_drop);
    DROP_ALL(d, policy, policy_drop);
    DROP_ALL(d, gradekey, gradekey_drop);
    DROP_ALL(d, record, record_drop);
    DROP_ALL(d, bidx, bidx_drop);
    DROP_ALL(d, audit, audit_drop);
    release(d->state.state);
    DROP_ALL(d, checkpoint, checkpoint_drop);
    DROP_ALL(d, grant, grant_drop);
    DROP_ALL(d, quota, quota_drop);
    free(d);
}

/* Drop one reference (under mem_lock). */
static void data_unref(mem_data *d)
{
    if (d && --d->refs == 0)
        data_free(d);
}

/* Copy every row of one table of src into dst (n_ counts the rows copied
 * so far, so data_free cleans up after a failure half way). */
#define COPY_ALL(dst, src, name, copy)                                         \
    do {                                                                       \
        size_t k_;                                                             \
        if ((src)->n_##name) {                                                 \
            (dst)->name = calloc((src)->n_##name, sizeof *(dst)->name);        \
            if (!(dst)->name) {                                                \
                rc = nomem();                                                  \
                goto cleanup;                                                  \
            }                                                                  \
            (dst)->cap_##name = (src)->n_##name;                               \
        }                                                                      \
        for (k_ = 0; k_ < (src)->n_##name; k_++) {                             \
            GUARD(copy(&(dst)->name[k_], &(src)->name[k_]));                   \
            (dst)->n_##name = k_ + 1;                                          \
        }                                                                      \
    } while (0)

/* A deep copy of src with one reference (the undo copy of a write
 * transaction is the state it started from). */
static int data_clone(mem_data **out, const mem_data *src)
{
    int rc = VAULT_OK;
    mem_data *d = calloc(1, sizeof *d);

    *out = NULL;
    if (!d)
        return nomem();
    d->refs = 1;
    d->next_policy = src->next_policy;
    COPY_ALL(d, src, meta, meta_copy);
    COPY_ALL(d, src, policy, policy_copy);
    COPY_ALL(d, src, gradekey, gradekey_copy);
    COPY_ALL(d, src, record, record_copy);
    COPY_ALL(d, src, bidx, bidx_copy);
    COPY_ALL(d, src, audit, audit_copy);
    d->state = src->state;
    d->state.state = NULL;
    GUARD(dup_bytes(&d->state.state, src->state.state, src->state.len));
    COPY_ALL(d, src, checkpoint, checkpoint_copy);
    COPY_ALL(d, src, grant, grant_copy);
    COPY_ALL(d, src, quota, quota_copy);
    *out = d;
    d = NULL;
cleanup:
    data_free(d);
    return rc;
}

/* ---- transactions ---- */

static mem_be *conn(store_backend *be)
{
    return (mem_be *)be;
}

/* The state the open transaction reads (NULL outside one). */
static mem_data *reading(store_backend *be)
{
    mem_be *m = conn(be);

    return m->tx == STORE_TX_WRITE ? m->work : m->tx == STORE_TX_SNAPSHOT ? m->snap : NULL;
}

static int need_read(mem_data **out, store_backend *be)
{
    *out = reading(be);
    if (!*out)
        return vault__err(VAULT_ESTATE, "memory store: read outside a transaction");
    return VAULT_OK;
}

static int need_write(mem_data **out, store_backend *be)
{
    *out = conn(be)->tx == STORE_TX_WRITE ? conn(be)->work : NULL;
    if (!*out)
        return vault__err(VAULT_ESTATE, "memory store: write outside a write transaction");
    return VAULT_OK;
}

static int mem_begin(store_backend *be, store_tx_kind kind)
{
    int rc = VAULT_OK;
    mem_be *m = conn(be);
    mem_store *st = m->st;

    ENSURE(m->tx < 0, VAULT_ESTATE, "memory store: a transaction is already open");
    ENSURE(kind == STORE_TX_SNAPSHOT || kind == STORE_TX_WRITE, VAULT_EINVALID,
           "memory store: unknown transaction kind");
    pthread_mutex_lock(&mem_lock);
    if (kind == STORE_TX_SNAPSHOT) {
        m->snap = st->data;
        m->snap->refs++;
    } else if (st->writer) {
        rc = vault__err(VAULT_EBUSY, "memory store: another connection holds the write lock");
    } else {
        rc = data_clone(&m->work, st->data);
        if (rc == VAULT_OK)
            st->writer = m;
    }
    pthread_mutex_unlock(&mem_lock);
    GUARD(rc);
    m->tx = (int)kind;
cleanup:
    return rc;
}

/* End the open transaction; commit installs the working copy. */
static void end_tx(mem_be *m, int commit)
{
    mem_store *st = m->st;

    pthread_mutex_lock(&mem_lock);
    if (m->tx == STORE_TX_SNAPSHOT) {
        data_unref(m->snap);
    } else if (m->tx == STORE_TX_WRITE) {
        if (commit) {
            data_unref(st->data);
            st->data = m->work; /* the connection's reference becomes the store's */
            st->generation++;
        } else {
            data_unref(m->work);
        }
        st->writer = NULL;
    }
    pthread_mutex_unlock(&mem_lock);
    m->snap = m->work = NULL;
    m->tx = -1;
}

static int mem_commit(store_backend *be)
{
    if (conn(be)->tx < 0)
        return vault__err(VAULT_ESTATE, "memory store: commit without a transaction");
    end_tx(conn(be), 1);
    return VAULT_OK;
}

static void mem_rollback(store_backend *be)
{
    end_tx(conn(be), 0);
}

static int mem_generation(store_backend *be, int64_t *out)
{
    pthread_mutex_lock(&mem_lock);
    *out = conn(be)->st->generation;
    pthread_mutex_unlock(&mem_lock);
    return VAULT_OK;
}

static int mem_migrate(store_backend *be, int *from, int (*remac)(void *arg, int kind, void *row),
                       void *arg, void (*progress)(uint64_t, uint64_t, void *), void *parg)
{
    int rc = VAULT_OK;
    mem_data *d;

    (void)remac;
    (void)arg;
    (void)progress;
    (void)parg;
    GUARD(need_write(&d, be));
    *from = MEM_SCHEMA_VERSION;
cleanup:
    return rc;
}

/* A callback's answer: > 0 stops with VAULT_OK, < 0 fails with it. */
static int cb_done(int r, int *stop)
{
    *stop = r != 0;
    return r < 0 ? r : VAULT_OK;
}

/* ---- meta ---- */

static store_meta *meta_find(mem_data *d, const char *key)
{
    size_t i;

    for (i = 0; i < d->n_meta; i++)
        if (strcmp(d->meta[i].key, key) == 0)
            return &d->meta[i];
    return NULL;
}

static int mem_meta_get(store_backend *be, const char *key,
                        int (*fn)(void *arg, const store_meta *row), void *arg)
{
    int rc = VAULT_OK, stop;
    mem_data *d;
    store_meta *m;

    GUARD(need_read(&d, be));
    ENSURE(key, VAULT_EINVALID, "memory store: meta key missing");
    m = meta_find(d, key);
    ENSURE(m, VAULT_ENOTFOUND, "memory store: no meta value '%s'", key);
    GUARD(cb_done(fn(arg, m), &stop));
cleanup:
    return rc;
}

static int mem_meta_delete(store_backend *be, const char *key)
{
    int rc = VAULT_OK;
    mem_data *d;
    store_meta *m;

    GUARD(need_write(&d, be));
    ENSURE(key, VAULT_EINVALID, "memory store: meta key missing");
    m = meta_find(d, key);
    ENSURE(m, VAULT_ENOTFOUND, "memory store: no meta value '%s'", key);
    meta_drop(m);
    *m = d->meta[--d->n_meta];
cleanup:
    return rc;
}

static int mem_meta_put(store_backend *be, const store_meta *row)
{
    int rc = VAULT_OK;
    mem_data *d;
    store_meta copy, *old;

    GUARD(need_write(&d, be));
    ENSURE(row->key && (row->value || !row->len), VAULT_EINVALID,
           "memory store: meta row incomplete");
    GUARD(meta_copy(&copy, row));
    old = meta_find(d, row->key);
    if (old) {
        meta_drop(old);
        *old = copy;
        goto cleanup;
    }
    rc = GROW(d, meta);
    if (rc < 0) {
        meta_drop(&copy);
        goto cleanup;
    }
    d->meta[d->n_meta++] = copy;
cleanup:
    return rc;
}

/* ---- policies ---- */

static int mem_policy_add(store_backend *be, store_policy *row)
{
    int rc = VAULT_OK;
    mem_data *d;
    store_policy copy;

    GUARD(need_write(&d, be));
    ENSURE(row->filename && (row->source || !row->len), VAULT_EINVALID,
           "memory store: policy row incomplete");
    GUARD(GROW(d, policy));
    GUARD(policy_copy(&copy, row));
    copy.id = d->next_policy++;
    d->policy[d->n_policy++] = copy;
    row->id = copy.id;
cleanup:
    return rc;
}

static int mem_policy_active(store_backend *be, int (*fn)(void *arg, const store_policy *row),
                             void *arg)
{
    int rc = VAULT_OK, stop;
    mem_data *d;

    GUARD(need_read(&d, be));
    ENSURE(d->n_policy, VAULT_ENOTFOUND, "memory store: no policy applied");
    GUARD(cb_done(fn(arg, &d->policy[d->n_policy - 1]), &stop));
cleanup:
    return rc;
}

static int mem_policy_next_id(store_backend *be, int64_t *out)
{
    int rc = VAULT_OK;
    mem_data *d;

    GUARD(need_read(&d, be));
    *out = d->next_policy;
cleanup:
    return rc;
}

/* ---- grade keys ---- */

static store_gradekey *gradekey_find(mem_data *d, const char *grade, uint32_t version)
{
    size_t i;

    for (i = 0; i < d->n_gradekey; i++)
        if (d->gradekey[i].version == version && strcmp(d->gradekey[i].grade, grade) == 0)
            return &d->gradekey[i];
    return NULL;
}

static int mem_gradekey_add(store_backend *be, const store_gradekey *row)
{
    int rc = VAULT_OK;
    mem_data *d;
    store_gradekey copy;

    GUARD(need_write(&d, be));
    ENSURE(row->grade && row->wrapped, VAULT_EINVALID, "memory store: grade key row incomplete");
    ENSURE(!gradekey_find(d, row->grade, row->version), VAULT_EEXISTS,
           "memory store: grade '%s' already has key version %u", row->grade, row->version);
    GUARD(GROW(d, gradekey));
    GUARD(gradekey_copy(&copy, row));
    d->gradekey[d->n_gradekey++] = copy;
cleanup:
    return rc;
}

static int mem_gradekey_get(store_backend *be, const char *grade, uint32_t version,
                            int (*fn)(void *arg, const store_gradekey *row), void *arg)
{
    int rc = VAULT_OK, stop;
    mem_data *d;
    store_gradekey *g;

    GUARD(need_read(&d, be));
    g = gradekey_find(d, grade, version);
    ENSURE(g, VAULT_ENOTFOUND, "memory store: grade '%s' has no key version %u", grade, version);
    GUARD(cb_done(fn(arg, g), &stop));
cleanup:
    return rc;
}

static int mem_gradekey_latest(store_backend *be, const char *grade, uint32_t *out)
{
    int rc = VAULT_OK, found = 0;
    mem_data *d;
    size_t i;

    GUARD(need_read(&d, be));
    for (i = 0; i < d->n_gradekey; i++) {
        if (strcmp(d->gradekey[i].grade, grade) != 0)
            continue;
        if (!found || d->gradekey[i].version > *out)
            *out = d->gradekey[i].version;
        found = 1;
    }
    ENSURE(found, VAULT_ENOTFOUND, "memory store: grade '%s' has no key yet", grade);
cleanup:
    return rc;
}

static int mem_gradekey_retire(store_backend *be, const char *grade, uint32_t below_version)
{
    int rc = VAULT_OK;
    mem_data *d;
    size_t i, k = 0;

    GUARD(need_write(&d, be));
    for (i = 0; i < d->n_gradekey; i++) {
        store_gradekey *g = &d->gradekey[i];
        if (g->version < below_version && strcmp(g->grade, grade) == 0)
            gradekey_drop(g);
        else
            d->gradekey[k++] = *g;
    }
    d->n_gradekey = k;
cleanup:
    return rc;
}

/* ---- records and the blind index ---- */

/* The index of the record with this id, or where it would go (*found 0). */
static size_t record_pos(const mem_data *d, const uint8_t *id, int *found)
{
    size_t lo = 0, hi = d->n_record;

    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = id_cmp(d->record[mid].id, id);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Hand fn a copy of the record (fn may rewrite or delete it). */
static int record_call(const store_record *r, size_t i, int batch,
                       int (*fn_batch)(void *arg, size_t i, const store_record *row),
                       int (*fn)(void *arg, const store_record *row), void *arg)
{
    int rc = VAULT_OK;
    store_record copy;
    int have = 0;

    if (r) {
        GUARD(record_copy(&copy, r));
        have = 1;
    }
    rc = batch ? fn_batch(arg, i, have ? &copy : NULL) : fn(arg, &copy);
cleanup:
    if (have)
        record_drop(&copy);
    return rc;
}

static int mem_record_get_batch(store_backend *be, const uint8_t *ids, size_t n,
                                int (*fn)(void *arg, size_t i, const store_record *row), void *arg)
{
    int rc = VAULT_OK, found, stop = 0;
    mem_data *d;
    size_t i, at;

    GUARD(need_read(&d, be));
    ENSURE(ids || !n, VAULT_EINVALID, "memory store: no record ids");
    for (i = 0; i < n && !stop; i++) {
        at = record_pos(d, ids + i * VAULT_ID_BYTES, &found);
        GUARD(cb_done(record_call(found ? &d->record[at] : NULL, i, 1, fn, NULL, arg), &stop));
    }
cleanup:
    return rc;
}

static void bidx_remove(mem_data *d, const uint8_t *id)
{
    size_t i, k = 0;

    for (i = 0; i < d->n_bidx; i++) {
        if (id_cmp(d->bidx[i].id, id) == 0)
            bidx_drop(&d->bidx[i]);
        else
            d->bidx[k++] = d->bidx[i];
    }
    d->n_bidx = k;
}

/* Replace the record's index rows by those of r's fields' digests.  All
 * that can fail happens before the old rows go. */
static int bidx_set(mem_data *d, const store_record *r)
{
    int rc = VAULT_OK;
    mem_bidx *rows = NULL;
    size_t i, n = 0, want = 0;

    for (i = 0; i < r->nfields; i++)
        want += r->fields[i].digest_len != 0;
    GUARD(grow(&d->bidx, &d->cap_bidx, d->n_bidx + want, sizeof *d->bidx));
    if (want && !(rows = calloc(want, sizeof *rows))) {
        rc = nomem();
        goto cleanup;
    }
    for (i = 0; i < r->nfields; i++) {
        const store_field *f = &r->fields[i];
        if (!f->digest_len)
            continue;
        if (!(rows[n].field = strdup(f->name))) {
            rc = nomem();
            goto cleanup;
        }
        memcpy(rows[n].digest, f->digest, f->digest_len);
        rows[n].len = f->digest_len;
        memcpy(rows[n].id, r->id, VAULT_ID_BYTES);
        n++;
    }
    bidx_remove(d, r->id);
    if (n)
        memcpy(&d->bidx[d->n_bidx], rows, n * sizeof *rows);
    d->n_bidx += n;
    n = 0;
cleanup:
    for (i = 0; i < n; i++)
        bidx_drop(&rows[i]);
    free(rows);
    return rc;
}

static int record_check(const store_record *row)
{
    int rc = VAULT_OK;
    size_t i;

    ENSURE(row->jurisdiction, VAULT_EINVALID, "memory store: record without a jurisdiction");
    ENSURE(row->fields || !row->nfields, VAULT_EINVALID, "memory store: record fields missing");
    for (i = 0; i < row->nfields; i++) {
        const store_field *f = &row->fields[i];
        ENSURE(f->name && f->grade, VAULT_EINVALID, "memory store: field without a name or grade");
        ENSURE(f->ct || !f->ct_len, VAULT_EINVALID, "memory store: field ciphertext missing");
        ENSURE(f->digest_len <= STORE_DIGEST_MAX, VAULT_EINVALID,
               "memory store: blind-index digest too long");
        /* in name order, each once (store/backend.h store_record) */
        ENSURE(i == 0 || strcmp(row->fields[i - 1].name, f->name) < 0, VAULT_EINVALID,
               "memory store: a record's fields are out of name order or named twice");
    }
cleanup:
    return rc;
}

static int mem_record_write(store_backend *be, const store_record *row, int is_new)
{
    int rc = VAULT_OK, found;
    mem_data *d;
    store_record copy;
    size_t at;
    int have = 0;

    GUARD(need_write(&d, be));
    GUARD(record_check(row));
    at = record_pos(d, row->id, &found);
    ENSURE(!(is_new && found), VAULT_EEXISTS, "memory store: record id already taken");
    ENSURE(is_new || found, VAULT_ENOTFOUND, "memory store: no such record");
    if (!found)
        GUARD(GROW(d, record));
    GUARD(record_copy(&copy, row));
    have = 1;
    /* the index rows first: if they fail the old record stays whole */
    GUARD(bidx_set(d, &copy));
    if (found) {
        record_drop(&d->record[at]);
    } else {
        memmove(&d->record[at + 1], &d->record[at], (d->n_record - at) * sizeof *d->record);
        d->n_record++;
    }
    d->record[at] = copy;
    have = 0;
cleanup:
    if (have)
        record_drop(&copy);
    return rc;
}

static int mem_record_delete(store_backend *be, const uint8_t id[VAULT_ID_BYTES])
{
    int rc = VAULT_OK, found;
    mem_data *d;
    size_t at;

    GUARD(need_write(&d, be));
    at = record_pos(d, id, &found);
    ENSURE(found, VAULT_ENOTFOUND, "memory store: no such record");
    record_drop(&d->record[at]);
    memmove(&d->record[at], &d->record[at + 1], (d->n_record - at - 1) * sizeof *d->record);
    d->n_record--;
    bidx_remove(d, id);
cleanup:
    return rc;
}

static int mem_record_count(store_backend *be, int64_t *out)
{
    int rc = VAULT_OK;
    mem_data *d;

    GUARD(need_read(&d, be));
    *out = (int64_t)d->n_record;
cleanup:
    return rc;
}

/* Fields of the record sealed under an old version of grade. */
static size_t stale_fields(const store_record *r, const char *grade, uint32_t below)
{
    size_t i, n = 0;

    for (i = 0; i < r->nfields; i++)
        if (r->fields[i].key_version < below && strcmp(r->fields[i].grade, grade) == 0)
            n++;
    return n;
}

static int mem_record_scan_stale(store_backend *be, const char *grade, uint32_t below_version,
                                 size_t limit, int (*fn)(void *arg, const store_record *row),
                                 void *arg)
{
    int rc = VAULT_OK, found, stop = 0;
    mem_data *d;
    uint8_t *ids = NULL;
    size_t i, n = 0, at;

    GUARD(need_read(&d, be));
    ENSURE(grade, VAULT_EINVALID, "memory store: no grade");
    /* the ids first: fn rewrites records, which moves the rows */
    if (d->n_record) {
        ids = malloc(d->n_record * VAULT_ID_BYTES);
        if (!ids) {
            rc = nomem();
            goto cleanup;
        }
    }
    for (i = 0; i < d->n_record && n < limit; i++)
        if (stale_fields(&d->record[i], grade, below_version))
            memcpy(ids + VAULT_ID_BYTES * n++, d->record[i].id, VAULT_ID_BYTES);
    for (i = 0; i < n && !stop; i++) {
        at = record_pos(d, ids + i * VAULT_ID_BYTES, &found);
        if (found)
            GUARD(cb_done(record_call(&d->record[at], 0, 0, NULL, fn, arg), &stop));
    }
cleanup:
    free(ids);
    return rc;
}

static int mem_field_count_stale(store_backend *be, const char *grade, uint32_t below_version,
                                 int64_t *out)
{
    int rc = VAULT_OK;
    mem_data *d;
    size_t i;

    GUARD(need_read(&d, be));
    *out = 0;
    for (i = 0; i < d->n_record; i++)
        *out += (int64_t)stale_fields(&d->record[i], grade, below_version);
cleanup:
    return rc;
}

static int mem_bidx_find(store_backend *be, store_iter **out, const char *field,
                         const uint8_t *digest, size_t len)
{
    int rc = VAULT_OK;
    mem_data *d;
    store_iter *it = NULL;
    size_t i, k;

    *out = NULL;
    GUARD(need_read(&d, be));
    ENSURE(field && digest && len && len <= STORE_DIGEST_MAX, VAULT_EINVALID,
           "memory store: bad blind-index lookup");
    it = calloc(1, sizeof *it);
    if (!it || (d->n_bidx && !(it->ids = malloc(d->n_bidx * VAULT_ID_BYTES)))) {
        rc = nomem();
        goto cleanup;
    }
    for (i = 0; i < d->n_bidx; i++) {
        const mem_bidx *b = &d->bidx[i];
        uint8_t *slot;
        if (b->len != len || strcmp(b->field, field) != 0)
            continue;
        if (memcmp(b->digest, digest, len) != 0) /* memcmp ok: not secret */
            continue;
        /* insert in id order */
        for (k = it->n; k > 0 && id_cmp(it->ids + (k - 1) * VAULT_ID_BYTES, b->id) > 0; k--)
            ;
        slot = it->ids + k * VAULT_ID_BYTES;
        memmove(slot + VAULT_ID_BYTES, slot, (it->n - k) * VAULT_ID_BYTES);
        memcpy(slot, b->id, VAULT_ID_BYTES);
        it->n++;
    }
    *out = it;
    it = NULL;
cleanup:
    if (it) {
        free(it->ids);
        free(it);
    }
    return rc;
}

static int mem_bidx_next(store_iter *it, uint8_t id[VAULT_ID_BYTES])
{
    if (!it->ids || it->i >= it->n)
        return 0;
    memcpy(id, it->ids + it->i++ * VAULT_ID_BYTES, VAULT_ID_BYTES);
    return 1;
}

/* ---- audit log ---- */

/* One log, the city's, as in a vault file. */
static int one_log(const char *log)
{
    if (store_log_is_city(log))
        return VAULT_OK;
    return vault__err(VAULT_EINVALID, "memory store: one audit log only, not '%s'", log);
}

static void audit_head_of(const mem_data *d, store_audit_head *h)
{
    memset(h, 0, sizeof *h);
    if (!d->n_audit)
        return;
    {
        const store_audit_row *last = &d->audit[d->n_audit - 1];
        h->pos = last->pos;
        h->entry = last->entry;
        h->len = last->len;
        memcpy(h->head, last->head, last->head_len < sizeof h->head ? last->head_len : sizeof h->head);
        if (d->state.state && d->state.pos == last->pos) {
            h->state = d->state.state;
            h->state_len = d->state.len;
            memcpy(h->state_mac, d->state.mac, STORE_MAC_BYTES);
        }
    }
}

static int mem_audit_write(store_backend *be, const char *log, store_audit_seal_fn seal, void *arg)
{
    int rc = VAULT_OK, r;
    mem_data *d;
    store_audit_head head;
    store_audit_row *rows = NULL, *copies = NULL;
    size_t n = 0, i, ncopied = 0;

    GUARD(need_write(&d, be));
    GUARD(one_log(log));
    ENSURE(seal, VAULT_EINVALID, "memory store: no seal callback");
    rows = calloc(MEM_SEAL_CAP, sizeof *rows);
    if (!rows) {
        rc = nomem();
        goto cleanup;
    }
    audit_head_of(d, &head);
    r = seal(arg, &head, rows, MEM_SEAL_CAP, &n);
    if (r != 0) {
        rc = r < 0 ? r : VAULT_OK;
        goto cleanup;
    }
    ENSURE(n <= MEM_SEAL_CAP, VAULT_EINVALID, "memory store: seal returned too many rows");
    for (i = 0; i < n; i++) {
        ENSURE(rows[i].pos == head.pos + 1 + (int64_t)i, VAULT_EINTEGRITY,
               "memory store: audit row at position %lld, the log head is at %lld",
               (long long)rows[i].pos, (long long)(head.pos + (int64_t)i));
        ENSURE(rows[i].entry && rows[i].len && rows[i].head && rows[i].head_len, VAULT_EINVALID,
               "memory store: audit row without entry or head");
    }
    /* copy all first, then append: all or nothing */
    if (n) {
        copies = calloc(n, sizeof *copies);
        if (!copies) {
            rc = nomem();
            goto cleanup;
        }
    }
    for (i = 0; i < n; i++) {
        GUARD(audit_copy(&copies[i], &rows[i]));
        ncopied = i + 1;
    }
    GUARD(grow(&d->audit, &d->cap_audit, d->n_audit + n, sizeof *d->audit));
    if (n)
        memcpy(&d->audit[d->n_audit], copies, n * sizeof *copies);
    d->n_audit += n;
    ncopied = 0;
cleanup:
    for (i = 0; i < ncopied; i++)
        audit_drop(&copies[i]);
    free(copies);
    free(rows);
    return rc;
}

static int mem_audit_head(store_backend *be, const char *log,
                          int (*fn)(void *arg, const store_audit_head *h), void *arg)
{
    int rc = VAULT_OK, stop;
    mem_data *d;
    store_audit_head head;

    GUARD(need_read(&d, be));
    GUARD(one_log(log));
    audit_head_of(d, &head);
    GUARD(cb_done(fn(arg, &head), &stop));
cleanup:
    return rc;
}

static int mem_audit_state_put(store_backend *be, const store_audit_state *st, int64_t prev_pos)
{
    int rc = VAULT_OK;
    mem_data *d;
    store_audit_head head;
    const uint8_t *copy = NULL;

    GUARD(need_write(&d, be));
    ENSURE(st && st->state && st->len, VAULT_EINVALID, "memory store: an empty audit state");
    GUARD(one_log(st->log));
    audit_head_of(d, &head);
    ENSURE(head.entry && head.pos == st->pos && memcmp(head.head, st->head, 32) == 0, /* memcmp ok: not secret */
           VAULT_EINTEGRITY, "memory store: the audit state's entry is not the newest");
    /* one slot: putting it here drops it from prev_pos, whichever that was */
    (void)prev_pos;
    GUARD(dup_bytes(&copy, st->state, st->len));
    release(d->state.state);
    d->state = *st;
    d->state.log = NULL; /* the city's; st's pointer is the caller's */
    d->state.state = copy;
cleanup:
    return rc;
}

static void mem_iter_free(store_iter *it)
{
    if (!it)
        return;
    if (it->data) {
        pthread_mutex_lock(&mem_lock);
        data_unref(it->data);
        pthread_mutex_unlock(&mem_lock);
    }
    free(it->ids);
    free(it->user);
    free(it);
}

static int mem_audit_iter(store_backend *be, store_iter **out, const store_audit_filter *filter)
{
    int rc = VAULT_OK;
    mem_data *d;
    store_iter *it = NULL;

    *out = NULL;
    GUARD(need_read(&d, be));
    GUARD(one_log(filter ? filter->log : NULL));
    it = calloc(1, sizeof *it);
    if (!it) {
        rc = nomem();
        goto cleanup;
    }
    if (filter) {
        it->after_pos = filter->after_pos;
        if (filter->record_id) {
            it->has_record = 1;
            memcpy(it->record_id, filter->record_id, VAULT_ID_BYTES);
        }
        if (filter->user && !(it->user = strdup(filter->user))) {
            rc = nomem();
            goto cleanup;
        }
    }
    /* the iterator keeps the state it reads alive past a commit */
    pthread_mutex_lock(&mem_lock);
    d->refs++;
    pthread_mutex_unlock(&mem_lock);
    it->data = d;
    *out = it;
    it = NULL;
cleanup:
    mem_iter_free(it);
    return rc;
}

static int audit_matches(const store_iter *it, const store_audit_row *a)
{
    if (a->pos <= it->after_pos)
        return 0;
    if (it->has_record && (!a->record_id || id_cmp(a->record_id, it->record_id) != 0))
        return 0;
    if (it->user && (!a->user || strcmp(a->user, it->user) != 0))
        return 0;
    return 1;
}

static int mem_audit_next(store_iter *it, store_audit_row *row)
{
    /* rows are read by index: an append in the same transaction may move
     * the array, but never the bytes of a stored row */
    while (it->data && it->i < it->data->n_audit) {
        const store_audit_row *a = &it->data->audit[it->i++];
        if (audit_matches(it, a)) {
            *row = *a;
            return 1;
        }
    }
    return 0;
}

static int mem_audit_count(store_backend *be, const char *log, int64_t *out)
{
    int rc = VAULT_OK;
    mem_data *d;

    GUARD(need_read(&d, be));
    GUARD(one_log(log));
    *out = (int64_t)d->n_audit;
cleanup:
    return rc;
}

static int mem_audit_logs(store_backend *be, int (*fn)(void *arg, const char *log, int64_t pos),
                          void *arg)
{
    int rc = VAULT_OK, stop;
    mem_data *d;

    GUARD(need_read(&d, be));
    if (d->n_audit)
        GUARD(cb_done(fn(arg, STORE_LOG_CITY, (int64_t)d->n_audit), &stop));
cleanup:
    return rc;
}

static int mem_audit_index(store_backend *be)
{
    int rc = VAULT_OK;
    mem_data *d;

    /* audit_iter filters the log itself: there is no index to bring up */
    GUARD(need_write(&d, be));
cleanup:
    return rc;
}

/* ---- checkpoints ---- */

static int mem_checkpoint_add(store_backend *be, const store_checkpoint *row)
{
    int rc = VAULT_OK;
    mem_data *d;
    store_checkpoint copy;
    size_t at;

    GUARD(need_write(&d, be));
    ENSURE(row->note, VAULT_EINVALID, "memory store: checkpoint without a note");
    for (at = 0; at < d->n_checkpoint && d->checkpoint[at].size < row->size; at++)
        ;
    GUARD(GROW(d, checkpoint));
    GUARD(checkpoint_copy(&copy, row));
    if (at < d->n_checkpoint && d->checkpoint[at].size == row->size) {
        /* one checkpoint per tree size: a new one replaces it */
        checkpoint_drop(&d->checkpoint[at]);
    } else {
        memmove(&d->checkpoint[at + 1], &d->checkpoint[at],
                (d->n_checkpoint - at) * sizeof *d->checkpoint);
        d->n_checkpoint++;
    }
    d->checkpoint[at] = copy;
cleanup:
    return rc;
}

static int mem_checkpoint_scan(store_backend *be, int (*fn)(void *arg, const store_checkpoint *row),
                               void *arg)
{
    int rc = VAULT_OK, stop = 0;
    mem_data *d;
    size_t i;

    GUARD(need_read(&d, be));
    for (i = 0; i < d->n_checkpoint && !stop; i++)
        GUARD(cb_done(fn(arg, &d->checkpoint[i]), &stop));
cleanup:
    return rc;
}

static int mem_checkpoint_last(store_backend *be, uint64_t *out)
{
    int rc = VAULT_OK;
    mem_data *d;

    GUARD(need_read(&d, be));
    *out = d->n_checkpoint ? d->checkpoint[d->n_checkpoint - 1].size : 0;
cleanup:
    return rc;
}

/* ---- grants ---- */

static store_grant *grant_find(mem_data *d, const char *id)
{
    size_t i;

    for (i = 0; i < d->n_grant; i++)
        if (strcmp(d->grant[i].id, id) == 0)
            return &d->grant[i];
    return NULL;
}

static int grant_check(const store_grant *row)
{
    int rc = VAULT_OK;

    ENSURE(row->id && row->state && row->issuer, VAULT_EINVALID,
           "memory store: grant row incomplete");
cleanup:
    return rc;
}

static int mem_grant_insert(store_backend *be, const store_grant *row)
{
    int rc = VAULT_OK;
    mem_data *d;
    store_grant copy;

    GUARD(need_write(&d, be));
    GUARD(grant_check(row));
    ENSURE(!grant_find(d, row->id), VAULT_EEXISTS, "memory store: grant id already taken");
    GUARD(GROW(d, grant));
    GUARD(grant_copy(&copy, row));
    d->grant[d->n_grant++] = copy;
cleanup:
    return rc;
}

static int mem_grant_get(store_backend *be, const char *id,
                         int (*fn)(void *arg, const store_grant *row), void *arg)
{
    int rc = VAULT_OK, stop, have = 0;
    mem_data *d;
    store_grant *g, copy;

    GUARD(need_read(&d, be));
    ENSURE(id, VAULT_EINVALID, "memory store: no grant id");
    g = grant_find(d, id);
    ENSURE(g, VAULT_ENOTFOUND, "memory store: no such grant");
    GUARD(grant_copy(&copy, g)); /* fn may update the grant */
    have = 1;
    GUARD(cb_done(fn(arg, &copy), &stop));
cleanup:
    if (have)
        grant_drop(&copy);
    return rc;
}

static int mem_grant_update(store_backend *be, const store_grant *row)
{
    int rc = VAULT_OK;
    mem_data *d;
    store_grant *g, copy;

    GUARD(need_write(&d, be));
    GUARD(grant_check(row));
    g = grant_find(d, row->id);
    ENSURE(g, VAULT_ENOTFOUND, "memory store: no such grant");
    GUARD(grant_copy(&copy, row));
    grant_drop(g);
    *g = copy;
cleanup:
    return rc;
}

static int grant_age_cmp(const void *a, const void *b)
{
    const store_grant *x = a, *y = b;

    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int mem_grant_scan(store_backend *be, int (*fn)(void *arg, const store_grant *row),
                          void *arg)
{
    int rc = VAULT_OK, stop = 0;
    mem_data *d;
    store_grant *all = NULL;
    size_t i, n = 0;

    GUARD(need_read(&d, be));
    /* copies: fn may update grants while the scan goes on */
    if (d->n_grant) {
        all = calloc(d->n_grant, sizeof *all);
        if (!all) {
            rc = nomem();
            goto cleanup;
        }
    }
    for (i = 0; i < d->n_grant; i++) {
        GUARD(grant_copy(&all[i], &d->grant[i]));
        n = i + 1;
    }
    if (n)
        qsort(all, n, sizeof *all, grant_age_cmp);
    for (i = 0; i < n && !stop; i++)
        GUARD(cb_done(fn(arg, &all[i]), &stop));
cleanup:
    for (i = 0; i < n; i++)
        grant_drop(&all[i]);
    free(all);
    return rc;
}

/* ---- search quotas ---- */

static int quota_is(const mem_quota *q, const char *quota, const char *user)
{
    return strcmp(q->quota, quota) == 0 && strcmp(q->user, user) == 0;
}

static int mem_quota_count(store_backend *be, const char *quota, const char *user, int64_t since,
                           int64_t *out)
{
    int rc = VAULT_OK;
    mem_data *d;
    size_t i;

    GUARD(need_read(&d, be));
    ENSURE(quota && user, VAULT_EINVALID, "memory store: quota or user missing");
    *out = 0;
    for (i = 0; i < d->n_quota; i++)
        if (d->quota[i].at > since && quota_is(&d->quota[i], quota, user))
            (*out)++;
cleanup:
    return rc;
}

static int mem_quota_add(store_backend *be, const char *quota, const char *user, int64_t since,
                         int64_t now)
{
    int rc = VAULT_OK;
    mem_data *d;
    mem_quota q, want;
    size_t i, k = 0;

    GUARD(need_write(&d, be));
    ENSURE(quota && user, VAULT_EINVALID, "memory store: quota or user missing");
    memset(&want, 0, sizeof want);
    want.quota = (char *)quota;
    want.user = (char *)user;
    want.at = now;
    GUARD(GROW(d, quota));
    GUARD(quota_copy(&q, &want));
    for (i = 0; i < d->n_quota; i++) {
        if (d->quota[i].at <= since && quota_is(&d->quota[i], quota, user))
            quota_drop(&d->quota[i]);
        else
            d->quota[k++] = d->quota[i];
    }
    d->n_quota = k;
    d->quota[d->n_quota++] = q;
cleanup:
    return rc;
}

static int quota_names(const mem_quota *q, const uint8_t record[VAULT_ID_BYTES])
{
    return q->has_record && memcmp(q->record, record, VAULT_ID_BYTES) == 0; /* memcmp ok: not secret */
}

static int mem_quota_count_records(store_backend *be, const char *quota, const char *user,
                                   int64_t since, const uint8_t record[VAULT_ID_BYTES],
                                   int64_t *out, int *seen)
{
    int rc = VAULT_OK;
    mem_data *d;
    size_t i, j;

    GUARD(need_read(&d, be));
    ENSURE(quota && user && record, VAULT_EINVALID, "memory store: quota, user or record missing");
    *out = 0;
    *seen = 0;
    for (i = 0; i < d->n_quota; i++) {
        const mem_quota *q = &d->quota[i];
        if (!q->has_record || q->at <= since || !quota_is(q, quota, user))
            continue;
        *seen |= quota_names(q, record);
        /* distinct: counted at its first row in the window */
        for (j = 0; j < i; j++)
            if (d->quota[j].at > since && quota_is(&d->quota[j], quota, user) &&
                quota_names(&d->quota[j], q->record))
                break;
        if (j == i)
            (*out)++;
    }
cleanup:
    return rc;
}

static int mem_quota_add_record(store_backend *be, const char *quota, const char *user,
                                const uint8_t record[VAULT_ID_BYTES], int64_t since, int64_t now)
{
    int rc = VAULT_OK;
    mem_data *d;
    mem_quota q, want;
    size_t i, k = 0;

    GUARD(need_write(&d, be));
    ENSURE(quota && user && record, VAULT_EINVALID, "memory store: quota, user or record missing");
    memset(&want, 0, sizeof want);
    want.quota = (char *)quota;
    want.user = (char *)user;
    want.at = now;
    want.has_record = 1;
    memcpy(want.record, record, VAULT_ID_BYTES);
    GUARD(GROW(d, quota));
    GUARD(quota_copy(&q, &want));
    for (i = 0; i < d->n_quota; i++) {
        if (quota_is(&d->quota[i], quota, user) &&
            (d->quota[i].at <= since || quota_names(&d->quota[i], record)))
            quota_drop(&d->quota[i]);
        else
            d->quota[k++] = d->quota[i];
    }
    d->n_quota = k;
    d->quota[d->n_quota++] = q;
cleanup:
    return rc;
}

/* ---- row_scan, destroy (backend.h, version 5) ---- */

static mem_store *store_find(const char *name, mem_store ***link);

static int cmp_meta(const void *a, const void *b)
{
    return strcmp((*(const store_meta *const *)a)->key, (*(const store_meta *const *)b)->key);
}

static int cmp_gradekey(const void *a, const void *b)
{
    const store_gradekey *x = *(const store_gradekey *const *)a, *y = *(const store_gradekey *const *)b;
    int c = strcmp(x->grade, y->grade);

    return c ? c : (x->version > y->version) - (x->version < y->version);
}

/* No row ids here: creation order is (created, id), as PostgreSQL's. */
static int cmp_record(const void *a, const void *b)
{
    const store_record *x = *(const store_record *const *)a, *y = *(const store_record *const *)b;

    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return id_cmp(x->id, y->id);
}

static int cmp_grant(const void *a, const void *b)
{
    return grant_age_cmp(*(const store_grant *const *)a, *(const store_grant *const *)b);
}

static int cmp_quota(const void *a, const void *b)
{
    const mem_quota *x = *(const mem_quota *const *)a, *y = *(const mem_quota *const *)b;
    int c = strcmp(x->quota, y->quota);

    if (!c)
        c = strcmp(x->user, y->user);
    if (!c)
        c = (x->at > y->at) - (x->at < y->at);
    if (!c) /* a use without a record first, then by record */
        c = x->has_record - y->has_record;
    if (!c && x->has_record)
        c = memcmp(x->record, y->record, VAULT_ID_BYTES); /* memcmp ok: not secret */
    return c;
}

static int mem_row_scan(store_backend *be, int kind,
                        int (*fn)(void *arg, int kind, const void *row), void *arg)
{
    int rc = VAULT_OK, stop = 0;
    mem_data *d;
    const void **rows = NULL;
    const char *base = NULL;
    size_t i, n = 0, elem = 0;
    int (*cmp)(const void *, const void *) = NULL;
    store_audit_head h;
    store_audit_state a;

    GUARD(need_read(&d, be));
    switch (kind) {
    case STORE_ROW_META: base = (const char *)d->meta; n = d->n_meta; elem = sizeof *d->meta; cmp = cmp_meta; break;
    case STORE_ROW_POLICY: base = (const char *)d->policy; n = d->n_policy; elem = sizeof *d->policy; break;
    case STORE_ROW_GRADEKEY: base = (const char *)d->gradekey; n = d->n_gradekey; elem = sizeof *d->gradekey; cmp = cmp_gradekey; break;
    case STORE_ROW_RECORD: base = (const char *)d->record; n = d->n_record; elem = sizeof *d->record; cmp = cmp_record; break;
    case STORE_ROW_GRANT: base = (const char *)d->grant; n = d->n_grant; elem = sizeof *d->grant; cmp = cmp_grant; break;
    case STORE_ROW_CHECKPOINT: base = (const char *)d->checkpoint; n = d->n_checkpoint; elem = sizeof *d->checkpoint; break;
    case STORE_ROW_QUOTA: base = (const char *)d->quota; n = d->n_quota; elem = sizeof *d->quota; cmp = cmp_quota; break;
    case STORE_ROW_AUDIT: base = (const char *)d->audit; n = d->n_audit; elem = sizeof *d->audit; break;
    case STORE_ROW_AUDIT_STATE:
        audit_head_of(d, &h);
        if (!h.pos || !h.state)
            goto cleanup;
        memset(&a, 0, sizeof a);
        a.pos = h.pos;
        memcpy(a.head, h.head, 32);
        a.state = h.state;
        a.len = h.state_len;
        memcpy(a.mac, h.state_mac, STORE_MAC_BYTES);
        GUARD(cb_done(fn(arg, kind, &a), &stop));
        goto cleanup;
    default: ENSURE(0, VAULT_EINVALID, "memory store: row_scan of unknown kind %d", kind);
    }
    if (!n)
        goto cleanup;
    rows = calloc(n, sizeof *rows);
    if (!rows) {
        rc = nomem();
        goto cleanup;
    }
    for (i = 0; i < n; i++)
        rows[i] = base + i * elem;
    if (cmp)
        qsort(rows, n, sizeof *rows, cmp);
    for (i = 0; i < n && !stop; i++) {
        if (kind == STORE_ROW_QUOTA) {
            const mem_quota *mq = rows[i];
            store_quota_row qr = {mq->quota, mq->user, mq->at, mq->has_record ? mq->record : NULL};
            GUARD(cb_done(fn(arg, kind, &qr), &stop));
        } else {
            /* a quota use goes out as the contract's row, above */
            GUARD(cb_done(fn(arg, kind, rows[i]), &stop));
        }
    }
cleanup:
    free(rows);
    return rc;
}

/* The store leaves the registry now (a later open of its name finds
 * none, a create makes a new one) and is freed with its last connection. */
static int mem_destroy(store_backend *be)
{
    int rc = VAULT_OK;
    mem_be *m = conn(be);
    mem_store **link = NULL;

    ENSURE(m->tx < 0, VAULT_ESTATE, "memory store: destroy inside a transaction");
    ENSURE(m->created && !m->st->dropped, VAULT_ESTATE,
           "memory store: the store was not created by this connection: not dropped");
    pthread_mutex_lock(&mem_lock);
    if (store_find(m->st->name, &link) == m->st) {
        *link = m->st->next;
        m->st->next = NULL;
    }
    m->st->dropped = 1;
    pthread_mutex_unlock(&mem_lock);
    m->created = 0;
cleanup:
    return rc;
}

/* ---- open, close, the registry ---- */

static void store_free(mem_store *st);

static void mem_free(store_backend *be)
{
    mem_be *m = conn(be);
    mem_store *gone = NULL;

    if (!m)
        return;
    end_tx(m, 0);
    pthread_mutex_lock(&mem_lock);
    m->st->conns--;
    if (m->st->dropped && m->st->conns == 0)
        gone = m->st;
    pthread_mutex_unlock(&mem_lock);
    store_free(gone);
    free(m);
}

static const store_backend mem_table = {
    .version = STORE_BACKEND_VERSION,
    .name = "memory",
    .free = mem_free,
    .migrate = mem_migrate,
    .begin = mem_begin,
    .commit = mem_commit,
    .rollback = mem_rollback,
    .generation = mem_generation,
    .meta_get = mem_meta_get,
    .meta_put = mem_meta_put,
    .policy_add = mem_policy_add,
    .policy_active = mem_policy_active,
    .policy_next_id = mem_policy_next_id,
    .gradekey_add = mem_gradekey_add,
    .gradekey_get = mem_gradekey_get,
    .gradekey_latest = mem_gradekey_latest,
    .gradekey_retire = mem_gradekey_retire,
    .record_get_batch = mem_record_get_batch,
    .record_write = mem_record_write,
    .record_delete = mem_record_delete,
    .record_count = mem_record_count,
    .record_scan_stale = mem_record_scan_stale,
    .field_count_stale = mem_field_count_stale,
    .bidx_find = mem_bidx_find,
    .bidx_next = mem_bidx_next,
    .audit_write = mem_audit_write,
    .audit_head = mem_audit_head,
    .audit_iter = mem_audit_iter,
    .audit_next = mem_audit_next,
    .audit_count = mem_audit_count,
    .audit_index = mem_audit_index,
    .audit_state_put = mem_audit_state_put,
    .audit_logs = mem_audit_logs,
    .checkpoint_add = mem_checkpoint_add,
    .checkpoint_scan = mem_checkpoint_scan,
    .checkpoint_last = mem_checkpoint_last,
    .grant_insert = mem_grant_insert,
    .grant_get = mem_grant_get,
    .grant_update = mem_grant_update,
    .grant_scan = mem_grant_scan,
    .quota_count = mem_quota_count,
    .quota_add = mem_quota_add,
    .bulk_begin = NULL,
    .bulk_end = NULL,
    .iter_free = mem_iter_free,
    .row_scan = mem_row_scan,
    .destroy = mem_destroy,
    .meta_delete = mem_meta_delete,
    .quota_count_records = mem_quota_count_records,
    .quota_add_record = mem_quota_add_record,
};

/* Under mem_lock. */
static mem_store *store_find(const char *name, mem_store ***link)
{
    mem_store **p;

    for (p = &mem_stores; *p; p = &(*p)->next)
        if (strcmp((*p)->name, name) == 0)
            break;
    if (link)
        *link = p;
    return *p;
}

static void store_free(mem_store *st)
{
    if (!st)
        return;
    data_unref(st->data);
    sodium_free(st->key);
    free(st->name);
    free(st);
}

/* A new, empty store named name (not yet in the registry). */
static int store_new(mem_store **out, const char *name, const uint8_t key[32])
{
    int rc = VAULT_OK;
    mem_store *st = calloc(1, sizeof *st);

    *out = NULL;
    if (!st || !(st->name = strdup(name)) || !(st->key = sodium_malloc(32)) ||
        !(st->data = calloc(1, sizeof *st->data))) {
        rc = nomem();
        goto cleanup;
    }
    memcpy(st->key, key, 32);
    st->data->refs = 1;
    st->data->next_policy = 1;
    *out = st;
    st = NULL;
cleanup:
    store_free(st);
    return rc;
}

int store_mem_open(store_backend **out, const char *uri, const uint8_t key[32], int create)
{
    int rc = VAULT_OK;
    mem_be *m = NULL;
    mem_store *st, *made = NULL;
    int locked = 0;

    *out = NULL;
    ENSURE(uri && uri[0] && key, VAULT_EINVALID, "memory store: no store name or key");
    m = calloc(1, sizeof *m);
    if (!m) {
        rc = nomem();
        goto cleanup;
    }
    m->base = mem_table;
    m->tx = -1;
    if (create)
        GUARD(store_new(&made, uri, key));
    pthread_mutex_lock(&mem_lock);
    locked = 1;
    st = store_find(uri, NULL);
    if (create) {
        ENSURE(!st, VAULT_EEXISTS, "memory store: a store of that name exists");
        made->next = mem_stores;
        mem_stores = st = made;
        made = NULL;
    } else {
        ENSURE(st, VAULT_EIO, "memory store: no such store");
        ENSURE(sodium_memcmp(st->key, key, 32) == 0, VAULT_EAUTH,
               "memory store: wrong key for this store");
    }
    st->conns++;
    m->st = st;
    m->created = create;
    *out = &m->base;
    m = NULL;
cleanup:
    if (locked)
        pthread_mutex_unlock(&mem_lock);
    store_free(made);
    free(m);
    return rc;
}

int store_mem_forget(const char *uri)
{
    int rc = VAULT_OK;
    mem_store **link, *st;

    pthread_mutex_lock(&mem_lock);
    st = uri ? store_find(uri, &link) : NULL;
    ENSURE(st, VAULT_ENOTFOUND, "memory store: no such store");
    ENSURE(st->conns == 0, VAULT_EBUSY, "memory store: the store still has connections");
    *link = st->next;
    store_free(st);
cleanup:
    pthread_mutex_unlock(&mem_lock);
    return rc;
}

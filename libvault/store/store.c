/* store: the layer above every backend (store.h).  It picks a backend by
 * location, runs the transaction hooks, and tags and checks every row
 * that decides access (docs/storage.md, "Row MACs"). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <unistr.h>

#include <sodium.h>

#include "crypto.h"
#include "store/postgresql.h"
#include "store/sqlcipher.h"
#include "store/store.h"

#define SCHEMES_MAX 8
#define SCHEME_MAX 32
#define ROW_DOMAIN "libvault/row/v1"

struct store {
    store_backend *be;
    store_guard guard;
    int in_tx, writes;
    int trust_changed; /* a grant or policy row written in this transaction */
    store_tx_hooks hooks;
    uint8_t *mb;  /* canonical bytes of the row being tagged, reused */
    size_t mb_cap;
};

/* ---- backends by scheme ---- */

static struct {
    char scheme[SCHEME_MAX];
    store_backend_open_fn open;
} schemes[SCHEMES_MAX];
static size_t nschemes;
static pthread_mutex_t schemes_lock = PTHREAD_MUTEX_INITIALIZER;

int store_register_backend(const char *scheme, store_backend_open_fn fn)
{
    int rc = VAULT_OK;
    size_t i, n = scheme ? strlen(scheme) : 0;

    ENSURE(n > 1 && n < SCHEME_MAX && fn && strspn(scheme, "abcdefghijklmnopqrstuvwxyz") == n,
           VAULT_EINVALID, "store: a backend scheme is 2..31 lower-case letters");
    pthread_mutex_lock(&schemes_lock);
    for (i = 0; i < nschemes; i++)
        if (strcmp(schemes[i].scheme, scheme) == 0)
            break;
    if (i == nschemes && nschemes == SCHEMES_MAX) {
        pthread_mutex_unlock(&schemes_lock);
        ENSURE(0, VAULT_ELIMIT, "store: too many backends");
    }
    snprintf(schemes[i].scheme, sizeof schemes[i].scheme, "%s", scheme);
    schemes[i].open = fn;
    if (i == nschemes)
        nschemes++;
    pthread_mutex_unlock(&schemes_lock);
cleanup:
    return rc;
}

/* The registered open function for "scheme:rest", or NULL (a file path,
 * for SQLCipher; a path may contain ':' further on). */
static store_backend_open_fn scheme_of(const char *location, const char **rest)
{
    const char *colon = strchr(location, ':');
    store_backend_open_fn fn = NULL;
    size_t i, n;

    if (!colon)
        return NULL;
    n = (size_t)(colon - location);
    pthread_mutex_lock(&schemes_lock);
    for (i = 0; i < nschemes; i++)
        if (strlen(schemes[i].scheme) == n && memcmp(schemes[i].scheme, location, n) == 0) /* memcmp ok: not secret */
            fn = schemes[i].open;
    pthread_mutex_unlock(&schemes_lock);
    if (fn)
        *rest = colon + 1;
    return fn;
}

int store_location_is_file(const char *location)
{
    const char *rest = NULL;

    if (store_pg_is_location(location))
        return 0;
    return scheme_of(location, &rest) == NULL;
}

int store_location_keys_path(char **out, const char *location)
{
    int rc = VAULT_OK;
    size_t n;

    *out = NULL;
    ENSURE(location && *location, VAULT_EINVALID, "missing vault location");
    if (store_pg_is_location(location))
        return store_pg_keys_path(out, location);
    /* A file vault, or a registered backend's "scheme:name": NAME.keys. */
    n = strlen(location) + sizeof ".keys";
    *out = malloc(n);
    ENSURE(*out, VAULT_ENOMEM, "out of memory");
    snprintf(*out, n, "%s.keys", location);
cleanup:
    return rc;
}

int store_location_sibling(char **out, const char *location, const char *suffix)
{
    int rc = VAULT_OK;
    size_t n;

    *out = NULL;
    ENSURE(location && *location, VAULT_EINVALID, "missing vault location");
    if (store_pg_is_location(location)) {
        char sfx[VAULT_NAME_MAX + 2];

        snprintf(sfx, sizeof sfx, "_%s", suffix);
        return store_pg_sibling(out, location, sfx);
    }
    n = strlen(location) + strlen(suffix) + 2;
    *out = malloc(n);
    ENSURE(*out, VAULT_ENOMEM, "out of memory");
    snprintf(*out, n, "%s.%s", location, suffix);
cleanup:
    return rc;
}

void store_location_display(char *out, size_t cap, const char *location)
{
    if (!cap)
        return;
    if (location && store_pg_is_location(location))
        store_pg_display(out, cap, location);
    else
        snprintf(out, cap, "%s", location ? location : "");
}

const char *store_location_copy_hint(const char *location)
{
    if (location && store_pg_is_location(location))
        return "a PostgreSQL vault is copied with the DBA's tools: pg_dump or pg_basebackup "
               "(and the keys file separately, docs/postgresql.md)";
    return "back it up with its backend's tools";
}

/* ---- canonical row bytes (docs/storage.md) ----
 * ROW_DOMAIN, one kind byte, then each item as a u32le length and its
 * bytes; integers as 8 bytes little-endian; an absent string has length
 * 0xFFFFFFFF and no bytes. */

typedef struct mbuf {
    store *s;
    size_t len;
    int err;
} mbuf;

static void mb_raw(mbuf *m, const void *p, size_t n)
{
    store *s = m->s;
    uint8_t *grown;
    size_t cap;

    if (m->err)
        return;
    if (m->len + n > s->mb_cap) {
        cap = s->mb_cap ? s->mb_cap : 1024;
        while (cap < m->len + n)
            cap *= 2;
        grown = realloc(s->mb, cap);
        if (!grown) {
            m->err = 1;
            return;
        }
        s->mb = grown;
        s->mb_cap = cap;
    }
    if (n)
        memcpy(s->mb + m->len, p, n);
    m->len += n;
}

static void mb_len(mbuf *m, uint32_t n)
{
    uint8_t b[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};

    mb_raw(m, b, 4);
}

static void mb_bytes(mbuf *m, const void *p, size_t n)
{
    if (n > UINT32_MAX - 1) {
        m->err = 1;
        return;
    }
    mb_len(m, (uint32_t)n);
    mb_raw(m, p, n);
}

static void mb_str(mbuf *m, const char *str)
{
    if (!str)
        mb_len(m, UINT32_MAX);
    else
        mb_bytes(m, str, strlen(str));
}

static void mb_int(mbuf *m, int64_t v)
{
    uint8_t b[8];
    int i;

    for (i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)v >> (8 * i));
    mb_bytes(m, b, 8);
}

static void mb_start(mbuf *m, store *s, int kind)
{
    uint8_t k = (uint8_t)kind;

    m->s = s;
    m->len = 0;
    m->err = 0;
    mb_raw(m, ROW_DOMAIN, sizeof ROW_DOMAIN - 1);
    mb_raw(m, &k, 1);
}

static int principal_set(const store_principal *p)
{
    return p->iss || p->sub || p->app || p->jti;
}

static void mb_principal(mbuf *m, const store_principal *p)
{
    mb_str(m, p->iss);
    mb_str(m, p->sub);
    mb_str(m, p->app);
    mb_str(m, p->jti);
}

static void row_bytes(mbuf *m, int kind, const void *row)
{
    size_t i;

    switch (kind) {
    case STORE_ROW_META: {
        const store_meta *r = row;
        mb_str(m, r->key);
        mb_bytes(m, r->value, r->len);
        break;
    }
    case STORE_ROW_POLICY: {
        const store_policy *r = row;
        mb_int(m, r->id);
        mb_bytes(m, r->hash, 32);
        mb_str(m, r->filename);
        mb_bytes(m, r->source, r->len);
        mb_int(m, r->applied);
        break;
    }
    case STORE_ROW_GRADEKEY: {
        const store_gradekey *r = row;
        mb_str(m, r->grade);
        mb_int(m, r->version);
        mb_bytes(m, r->wrapped, r->len);
        mb_int(m, r->created);
        break;
    }
    case STORE_ROW_RECORD: {
        const store_record *r = row;
        mb_bytes(m, r->id, VAULT_ID_BYTES);
        mb_str(m, r->jurisdiction);
        mb_int(m, r->created);
        mb_int(m, r->updated);
        mb_int(m, r->version);
        mb_int(m, (int64_t)r->nfields);
        for (i = 0; i < r->nfields; i++) {
            const store_field *f = &r->fields[i];
            mb_str(m, f->name);
            mb_str(m, f->grade);
            mb_int(m, f->key_version);
            mb_int(m, f->counter);
            mb_bytes(m, f->digest, f->digest_len);
            mb_bytes(m, f->ct, f->ct_len);
        }
        break;
    }
    case STORE_ROW_GRANT: {
        const store_grant *g = row;
        mb_str(m, g->id);
        mb_str(m, g->state);
        mb_str(m, g->issuer);
        mb_str(m, g->issuer_role);
        mb_str(m, g->user);
        mb_str(m, g->role);
        mb_str(m, g->department);
        mb_int(m, g->effect);
        mb_int(m, g->actions);
        mb_str(m, g->fields);
        mb_str(m, g->grade_min);
        mb_str(m, g->grade_max);
        mb_str(m, g->records);
        mb_str(m, g->jurisdiction);
        mb_str(m, g->purposes);
        mb_int(m, g->not_before);
        mb_int(m, g->not_after);
        mb_str(m, g->reason);
        mb_int(m, g->break_glass);
        mb_str(m, g->approver);
        mb_str(m, g->revoked_by);
        mb_str(m, g->revoke_reason);
        mb_int(m, g->created);
        mb_int(m, g->changed);
        /* Schema 5: the principals, only when one is recorded, so a row
         * without them keeps its older bytes (and MAC).  Nothing followed
         * `changed` before, so the string "schema 5" that starts them
         * keeps the bytes injective (docs/storage.md §4). */
        if (principal_set(&g->issued_by) || principal_set(&g->approved_by)) {
            mb_str(m, "schema 5");
            mb_principal(m, &g->issued_by);
            mb_principal(m, &g->approved_by);
        }
        break;
    }
    case STORE_ROW_CHECKPOINT: {
        const store_checkpoint *c = row;
        mb_int(m, (int64_t)c->size);
        mb_bytes(m, c->note, c->len);
        mb_int(m, c->created);
        break;
    }
    case STORE_ROW_AUDIT_STATE: {
        const store_audit_state *a = row;
        mb_int(m, a->pos);
        mb_bytes(m, a->head, 32);
        mb_bytes(m, a->state, a->len);
        /* Version 9: another log's state names it (after the state, so
         * the city log's keeps its older bytes and MAC; the lengths keep
         * the bytes injective). */
        if (!store_log_is_city(a->log))
            mb_str(m, a->log);
        break;
    }
    default:
        m->err = 1;
    }
}

static const char *const kind_name[] = {
    [STORE_ROW_META] = "a meta row",          [STORE_ROW_POLICY] = "a policy row",
    [STORE_ROW_GRADEKEY] = "a grade key row", [STORE_ROW_RECORD] = "a record row",
    [STORE_ROW_GRANT] = "a grant row",        [STORE_ROW_CHECKPOINT] = "a checkpoint row",
    [STORE_ROW_AUDIT_STATE] = "the audit state",
};

/* The tag of a row into out. */
static int row_mac(uint8_t out[STORE_MAC_BYTES], store *s, int kind, const void *row)
{
    int rc = VAULT_OK;
    mbuf m;

    ENSURE(s->guard.mac, VAULT_ESTATE, "store: no row guard installed");
    mb_start(&m, s, kind);
    row_bytes(&m, kind, row);
    ENSURE(!m.err, VAULT_ENOMEM, "out of memory tagging %s", kind_name[kind]);
    GUARD(s->guard.mac(s->guard.arg, s->mb, m.len, out));
cleanup:
    return rc;
}

/* Check a row a backend returned.  what names it for the message. */
static int row_check(store *s, int kind, const void *row, const uint8_t mac[STORE_MAC_BYTES],
                     const char *what)
{
    int rc = VAULT_OK;
    uint8_t want[STORE_MAC_BYTES];

    GUARD(row_mac(want, s, kind, row));
    ENSURE(sodium_memcmp(want, mac, STORE_MAC_BYTES) == 0, VAULT_EINTEGRITY,
           "%s%s%s failed its integrity check (row MAC): the store was changed outside libvault",
           kind_name[kind], what ? " " : "", what ? what : "");
cleanup:
    sodium_memzero(want, sizeof want);
    return rc;
}

/* A schema 3 store's audit state moving from its meta row onto the newest
 * audit row: a->mac holds the meta row's MAC, checked before the state is
 * tagged for its new place (a migration never launders a changed row). */
static int remac_audit_state(store *s, store_audit_state *a)
{
    int rc = VAULT_OK;
    store_meta m = {STORE_META_AUDIT_TREE, a->state, a->len, {0}};

    memcpy(m.mac, a->mac, STORE_MAC_BYTES);
    GUARD(row_check(s, STORE_ROW_META, &m, m.mac, m.key));
    GUARD(row_mac(a->mac, s, STORE_ROW_AUDIT_STATE, a));
cleanup:
    return rc;
}

static int remac(void *arg, int kind, void *row)
{
    store *s = arg;
    uint8_t *mac;

    switch (kind) {
    case STORE_ROW_META: mac = ((store_meta *)row)->mac; break;
    case STORE_ROW_POLICY: mac = ((store_policy *)row)->mac; break;
    case STORE_ROW_GRADEKEY: mac = ((store_gradekey *)row)->mac; break;
    case STORE_ROW_RECORD: mac = ((store_record *)row)->mac; break;
    case STORE_ROW_GRANT: mac = ((store_grant *)row)->mac; break;
    case STORE_ROW_CHECKPOINT: mac = ((store_checkpoint *)row)->mac; break;
    case STORE_ROW_AUDIT_STATE: return remac_audit_state(s, row);
    default: return vault__err(VAULT_EINVALID, "store: unknown row kind %d", kind);
    }
    return row_mac(mac, s, kind, row);
}

/* ---- open, close ---- */

int store_open_backend(store **out, store_backend *be, const store_guard *guard, store_migration *mig)
{
    int rc = VAULT_OK, from = 0;
    store *s = NULL;

    *out = NULL;
    if (mig)
        mig->from = 0;
    ENSURE(be, VAULT_EINVALID, "store: no backend");
    ENSURE(be->version == STORE_BACKEND_VERSION && be->audit_state_put && be->row_scan &&
               be->meta_delete && be->quota_count_records && be->quota_add_record &&
               be->audit_logs, VAULT_ESTATE,
           "store: backend '%s' has table version %u, this libvault knows %u",
           be->name ? be->name : "?", be->version, (unsigned)STORE_BACKEND_VERSION);
    ENSURE(guard && guard->mac, VAULT_EINVALID, "store: no row guard");
    s = calloc(1, sizeof *s);
    ENSURE(s, VAULT_ENOMEM, "out of memory");
    s->be = be;
    be = NULL;
    s->guard = *guard;
    /* An older schema is brought up to date at once, every row tagged. */
    GUARD(store_begin(s, STORE_TX_WRITE));
    GUARD(s->be->migrate(s->be, &from, remac, s, mig ? mig->progress : NULL, mig ? mig->arg : NULL));
    if (from != STORE_SCHEMA_VERSION) {
        /* Noted in the migration's own transaction, until the layer above
         * has logged it (STORE_META_MIGRATED). */
        uint8_t b = (uint8_t)from;
        GUARD(store_meta_put(s, STORE_META_MIGRATED, &b, 1));
    }
    GUARD(store_commit(s));
    if (mig && from != STORE_SCHEMA_VERSION)
        mig->from = from;
    *out = s;
    s = NULL;
cleanup:
    if (be)
        be->free(be);
    store_close(s);
    return rc;
}

int store_open(store **out, const char *location, const uint8_t key[32], int create,
               const store_guard *guard, store_migration *mig)
{
    int rc = VAULT_OK;
    store_backend *be = NULL;
    const char *rest = location;
    store_backend_open_fn fn = scheme_of(location, &rest);

    *out = NULL;
    if (store_pg_is_location(location))
        GUARD(store_postgresql_open(&be, location, key, create));
    else if (fn)
        GUARD(fn(&be, rest, key, create));
    else
        GUARD(store_sqlcipher_open(&be, location, key, create));
    rc = store_open_backend(out, be, guard, mig);
cleanup:
    return rc;
}

void store_close(store *s)
{
    if (!s)
        return;
    memset(&s->hooks, 0, sizeof s->hooks); /* the layer above may be half gone */
    if (s->in_tx)
        store_rollback(s);
    if (s->be)
        s->be->free(s->be);
    free(s->mb);
    free(s);
}

const char *store_backend_name(const store *s)
{
    return s->be->name;
}

/* ---- transactions ---- */

int store_begin(store *s, store_tx_kind kind)
{
    int rc = VAULT_OK;

    ENSURE(!s->in_tx, VAULT_ESTATE, "database: transaction already open");
    if (kind == STORE_TX_DEFERRED && !s->be->deferred_writes)
        kind = STORE_TX_WRITE;
    if (kind == STORE_TX_STANDBY && !s->be->standby_reads)
        kind = STORE_TX_SNAPSHOT;
    GUARD(s->be->begin(s->be, kind));
    s->in_tx = 1;
    s->writes = kind == STORE_TX_WRITE || kind == STORE_TX_DEFERRED;
    if (s->hooks.after_begin) {
        rc = s->hooks.after_begin(s->hooks.arg, s->writes);
        if (rc < 0)
            store_rollback(s);
    }
cleanup:
    return rc;
}

static void tx_end(store *s, int committed)
{
    s->in_tx = 0;
    s->writes = 0;
    s->trust_changed = 0;
    if (s->hooks.at_end)
        s->hooks.at_end(s->hooks.arg, committed);
}

int store_commit(store *s)
{
    int rc = VAULT_OK;

    if (s->in_tx && s->hooks.before_commit)
        rc = s->hooks.before_commit(s->hooks.arg);
    if (rc == VAULT_OK)
        rc = s->be->commit(s->be);
    if (rc < 0) {
        store_rollback(s);
        return rc;
    }
    tx_end(s, 1);
    return VAULT_OK;
}

void store_rollback(store *s)
{
    s->be->rollback(s->be);
    tx_end(s, 0);
}

void store_set_tx_hooks(store *s, const store_tx_hooks *hooks)
{
    if (hooks)
        s->hooks = *hooks;
    else
        memset(&s->hooks, 0, sizeof s->hooks);
}

int store_in_tx(const store *s) { return s->in_tx; }
int store_tx_writes(const store *s) { return s->writes; }

int store_generation(store *s, int64_t *out)
{
    return s->be->generation(s->be, out);
}

/* Every read runs in a transaction and every write in a write
 * transaction: a call outside one is a bug in the layer above (it would
 * read rows of no single snapshot, or write without the log). */
static int need_tx(const store *s, int write, const char *what)
{
    if (!s->in_tx)
        return vault__err(VAULT_ESTATE, "store: %s outside a transaction", what);
    if (write && !s->writes)
        return vault__err(VAULT_ESTATE, "store: %s in a read-only transaction", what);
    return VAULT_OK;
}
#define TX_READ(s)                                 \
    do {                                           \
        int tx_rc_ = need_tx((s), 0, __func__);    \
        if (tx_rc_ < 0)                            \
            return tx_rc_;                         \
    } while (0)
#define TX_WRITE(s)                                \
    do {                                           \
        int tx_rc_ = need_tx((s), 1, __func__);    \
        if (tx_rc_ < 0)                            \
            return tx_rc_;                         \
    } while (0)

/* ---- meta ---- */

typedef struct meta_out {
    store *s;
    uint8_t *out;
    size_t cap, *out_len;
} meta_out;

static int meta_fn(void *arg, const store_meta *m)
{
    meta_out *c = arg;
    int rc = VAULT_OK;

    GUARD(row_check(c->s, STORE_ROW_META, m, m->mac, m->key));
    ENSURE(m->len <= c->cap, VAULT_EINTEGRITY, "database: meta value '%s' too long", m->key);
    if (m->len)
        memcpy(c->out, m->value, m->len);
    *c->out_len = m->len;
cleanup:
    return rc;
}

int store_meta_get(store *s, const char *key, uint8_t *out, size_t cap, size_t *out_len)
{
    meta_out c = {s, out, cap, out_len};

    TX_READ(s);
    return s->be->meta_get(s->be, key, meta_fn, &c);
}

int store_meta_put(store *s, const char *key, const uint8_t *val, size_t len)
{
    int rc = VAULT_OK;
    store_meta m = {key, val, len, {0}};

    TX_WRITE(s);
    GUARD(row_mac(m.mac, s, STORE_ROW_META, &m));
    GUARD(s->be->meta_put(s->be, &m));
cleanup:
    return rc;
}

int store_meta_delete(store *s, const char *key)
{
    TX_WRITE(s);
    return s->be->meta_delete(s->be, key);
}

/* ---- policies ---- */

int store_policy_add(int64_t *out_id, store *s, const uint8_t hash[32], const char *filename,
                     const char *source, size_t len, int64_t now)
{
    int rc = VAULT_OK;
    store_policy p;

    TX_WRITE(s);
    memset(&p, 0, sizeof p);
    GUARD(s->be->policy_next_id(s->be, &p.id));
    memcpy(p.hash, hash, 32);
    p.filename = filename;
    p.source = source;
    p.len = len;
    p.applied = now;
    GUARD(row_mac(p.mac, s, STORE_ROW_POLICY, &p));
    GUARD(s->be->policy_add(s->be, &p));
    s->trust_changed = 1;
    if (out_id)
        *out_id = p.id;
cleanup:
    return rc;
}

typedef struct policy_out {
    store *s;
    int64_t *id;
    char *filename;
    size_t filename_cap;
    char **source;
    size_t *len;
} policy_out;

static int policy_fn(void *arg, const store_policy *p)
{
    policy_out *c = arg;
    int rc = VAULT_OK;
    uint8_t h[crypto_hash_sha256_BYTES];
    char *text = NULL;

    GUARD(row_check(c->s, STORE_ROW_POLICY, p, p->mac, NULL));
    crypto_hash_sha256(h, (const uint8_t *)p->source, p->len);
    ENSURE(sodium_memcmp(h, p->hash, sizeof h) == 0, VAULT_EINTEGRITY,
           "the active policy's source does not match its hash");
    text = malloc(p->len + 1);
    ENSURE(text, VAULT_ENOMEM, "out of memory");
    if (p->len)
        memcpy(text, p->source, p->len);
    text[p->len] = '\0';
    snprintf(c->filename, c->filename_cap, "%s", p->filename);
    *c->id = p->id;
    *c->source = text;
    *c->len = p->len;
    text = NULL;
cleanup:
    free(text);
    return rc;
}

int store_policy_active(int64_t *out_id, char *filename_out, size_t filename_cap,
                        char **out_source, size_t *out_len, store *s)
{
    policy_out c = {s, out_id, filename_out, filename_cap, out_source, out_len};
    int rc;

    TX_READ(s);
    rc = s->be->policy_active(s->be, policy_fn, &c);
    if (rc == VAULT_ENOTFOUND)
        rc = vault__err(VAULT_EINTEGRITY, "database: the vault has no policy");
    return rc;
}

/* ---- grade keys ---- */

int store_gradekey_add(store *s, const char *grade, uint32_t version, const uint8_t *wrapped,
                       size_t len, int64_t now)
{
    int rc = VAULT_OK;
    store_gradekey k = {grade, version, wrapped, len, now, {0}};

    TX_WRITE(s);
    GUARD(row_mac(k.mac, s, STORE_ROW_GRADEKEY, &k));
    GUARD(s->be->gradekey_add(s->be, &k));
cleanup:
    return rc;
}

static int gradekey_fn(void *arg, const store_gradekey *k)
{
    meta_out *c = arg;
    int rc = VAULT_OK;

    GUARD(row_check(c->s, STORE_ROW_GRADEKEY, k, k->mac, k->grade));
    ENSURE(k->len <= c->cap, VAULT_EINTEGRITY, "database: wrapped grade key has the wrong size");
    memcpy(c->out, k->wrapped, k->len);
    *c->out_len = k->len;
cleanup:
    return rc;
}

int store_gradekey_get(uint8_t *out, size_t cap, size_t *out_len, store *s, const char *grade,
                       uint32_t version)
{
    meta_out c = {s, out, cap, out_len};
    int rc;

    TX_READ(s);
    rc = s->be->gradekey_get(s->be, grade, version, gradekey_fn, &c);
    if (rc == VAULT_ENOTFOUND)
        rc = vault__err(VAULT_EINTEGRITY, "database: no key version %u for grade '%s'",
                        (unsigned)version, grade);
    return rc;
}

int store_gradekey_latest(uint32_t *out, store *s, const char *grade)
{
    TX_READ(s);
    return s->be->gradekey_latest(s->be, grade, out);
}

int store_gradekey_retire(store *s, const char *grade, uint32_t below_version)
{
    TX_WRITE(s);
    return s->be->gradekey_retire(s->be, grade, below_version);
}

/* ---- records ---- */

typedef struct rec_cb {
    store *s;
    store_record_fn fn;
    int (*batch_fn)(void *arg, size_t i, const store_record *row);
    void *arg;
    int found;
} rec_cb;

static int record_checked(store *s, const store_record *r)
{
    char hex[2 * VAULT_ID_BYTES + 1];

    sodium_bin2hex(hex, sizeof hex, r->id, VAULT_ID_BYTES);
    return row_check(s, STORE_ROW_RECORD, r, r->mac, hex);
}

static int one_fn(void *arg, size_t i, const store_record *r)
{
    rec_cb *c = arg;
    int rc = VAULT_OK;

    (void)i;
    if (!r)
        return VAULT_OK;
    c->found = 1;
    GUARD(record_checked(c->s, r));
    rc = c->fn(c->arg, r);
cleanup:
    return rc;
}

int store_record_get(store *s, const uint8_t id[VAULT_ID_BYTES], store_record_fn fn, void *arg)
{
    int rc = VAULT_OK;
    rec_cb c = {s, fn, NULL, arg, 0};

    TX_READ(s);
    GUARD(s->be->record_get_batch(s->be, id, 1, one_fn, &c));
    ENSURE(c.found, VAULT_ENOTFOUND, "no such record");
cleanup:
    return rc;
}

static int batch_fn(void *arg, size_t i, const store_record *r)
{
    rec_cb *c = arg;
    int rc = VAULT_OK;

    if (r)
        GUARD(record_checked(c->s, r));
    rc = c->batch_fn(c->arg, i, r);
cleanup:
    return rc;
}

int store_record_get_batch(store *s, const uint8_t *ids, size_t n,
                           int (*fn)(void *arg, size_t i, const store_record *row), void *arg)
{
    rec_cb c = {s, NULL, fn, arg, 0};

    TX_READ(s);
    return s->be->record_get_batch(s->be, ids, n, batch_fn, &c);
}

int store_record_write(store *s, store_record *row, int is_new)
{
    int rc = VAULT_OK;

    TX_WRITE(s);
    GUARD(row_mac(row->mac, s, STORE_ROW_RECORD, row));
    GUARD(s->be->record_write(s->be, row, is_new));
cleanup:
    return rc;
}

int store_record_delete(store *s, const uint8_t id[VAULT_ID_BYTES])
{
    TX_WRITE(s);
    return s->be->record_delete(s->be, id);
}

int store_record_count(int64_t *out, store *s)
{
    TX_READ(s);
    return s->be->record_count(s->be, out);
}

static int stale_fn(void *arg, const store_record *r)
{
    rec_cb *c = arg;
    int rc = VAULT_OK;

    GUARD(record_checked(c->s, r));
    rc = c->fn(c->arg, r);
cleanup:
    return rc;
}

int store_record_scan_stale(store *s, const char *grade, uint32_t below_version, size_t limit,
                            store_record_fn fn, void *arg)
{
    rec_cb c = {s, fn, NULL, arg, 0};

    TX_READ(s);
    return s->be->record_scan_stale(s->be, grade, below_version, limit, stale_fn, &c);
}

static int scan_all_fn(void *arg, int kind, const void *row)
{
    (void)kind;
    return stale_fn(arg, row);
}

int store_record_scan(store *s, store_record_fn fn, void *arg)
{
    rec_cb c = {s, fn, NULL, arg, 0};

    TX_READ(s);
    return s->be->row_scan(s->be, STORE_ROW_RECORD, scan_all_fn, &c);
}

int store_field_count_stale(int64_t *out, store *s, const char *grade, uint32_t below_version)
{
    TX_READ(s);
    return s->be->field_count_stale(s->be, grade, below_version, out);
}

int store_bidx_find(uint8_t **out, size_t *out_count, store *s, const char *field,
                    const uint8_t *digest, size_t dlen)
{
    int rc = VAULT_OK, r;
    store_iter *it = NULL;
    uint8_t *ids = NULL, *grown;
    size_t n = 0, cap = 0;

    TX_READ(s);
    *out = NULL;
    *out_count = 0;
    GUARD(s->be->bidx_find(s->be, &it, field, digest, dlen));
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            grown = realloc(ids, cap * VAULT_ID_BYTES);
            ENSURE(grown, VAULT_ENOMEM, "out of memory");
            ids = grown;
        }
        r = s->be->bidx_next(it, ids + n * VAULT_ID_BYTES);
        GUARD(r);
        if (r == 0)
            break;
        n++;
    }
    *out = ids;
    *out_count = n;
    ids = NULL;
cleanup:
    s->be->iter_free(it);
    free(ids);
    return rc;
}

int store_bulk_begin(store *s, size_t expected)
{
    TX_WRITE(s);
    return s->be->bulk_begin ? s->be->bulk_begin(s->be, expected) : VAULT_OK;
}

int store_bulk_end(store *s)
{
    TX_WRITE(s);
    return s->be->bulk_end ? s->be->bulk_end(s->be) : VAULT_OK;
}

/* ---- grants ---- */

int store_grant_insert(store *s, const store_grant *g)
{
    int rc = VAULT_OK;
    store_grant row = *g;

    TX_WRITE(s);
    GUARD(row_mac(row.mac, s, STORE_ROW_GRANT, &row));
    GUARD(s->be->grant_insert(s->be, &row));
    s->trust_changed = 1;
cleanup:
    return rc;
}

typedef struct grant_cb {
    store *s;
    int (*fn)(void *arg, const store_grant *g);
    void *arg;
} grant_cb;

static int grant_fn(void *arg, const store_grant *g)
{
    grant_cb *c = arg;
    int rc = VAULT_OK;

    GUARD(row_check(c->s, STORE_ROW_GRANT, g, g->mac, g->id));
    rc = c->fn(c->arg, g);
cleanup:
    return rc;
}

int store_grant_get(store *s, const char *id, int (*fn)(void *arg, const store_grant *g), void *arg)
{
    grant_cb c = {s, fn, arg};

    TX_READ(s);
    return s->be->grant_get(s->be, id, grant_fn, &c);
}

int store_grant_scan(store *s, int (*fn)(void *arg, const store_grant *g), void *arg)
{
    grant_cb c = {s, fn, arg};

    TX_READ(s);
    return s->be->grant_scan(s->be, grant_fn, &c);
}

typedef struct grant_state {
    store *s;
    const char *state, *approver, *revoked_by, *revoke_reason;
    const store_principal *approved_by;
    int64_t now;
} grant_state;

static int set_state_fn(void *arg, const store_grant *g)
{
    grant_state *c = arg;
    int rc = VAULT_OK;
    store_grant row = *g;

    row.state = c->state;
    if (c->approver)
        row.approver = c->approver;
    if (c->approved_by)
        row.approved_by = *c->approved_by;
    if (c->revoked_by)
        row.revoked_by = c->revoked_by;
    if (c->revoke_reason)
        row.revoke_reason = c->revoke_reason;
    row.changed = c->now;
    GUARD(row_mac(row.mac, c->s, STORE_ROW_GRANT, &row));
    GUARD(c->s->be->grant_update(c->s->be, &row));
    c->s->trust_changed = 1;
cleanup:
    return rc;
}

int store_grant_set_state(store *s, const char *id, const char *state, const char *approver,
                          const store_principal *approved_by, const char *revoked_by,
                          const char *revoke_reason, int64_t now)
{
    grant_state c = {s, state, approver, revoked_by, revoke_reason, approved_by, now};

    TX_WRITE(s);
    return store_grant_get(s, id, set_state_fn, &c);
}

/* ---- audit log ---- */

typedef struct seal_loop {
    store_audit_seal_fn fn;
    void *arg;
    size_t last, cap;
} seal_loop;

static int seal_counted(void *arg, const store_audit_head *h, store_audit_row *out, size_t cap,
                        size_t *n)
{
    seal_loop *c = arg;
    int rc = c->fn(c->arg, h, out, cap, n);

    c->last = rc < 0 ? 0 : *n;
    c->cap = cap;
    return rc;
}

/* A log's name as a backend gets it: NULL is the city's; one too long,
 * not UTF-8 or with a control byte is refused (a log names a shard). */
int store_log_check(const char *log)
{
    const uint8_t *p = (const uint8_t *)store_log_name(log);
    size_t n = strlen((const char *)p), i;

    if (n > STORE_LOG_MAX)
        return vault__err(VAULT_EINVALID, "store: a log's name is longer than %d bytes",
                          STORE_LOG_MAX);
    for (i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7f)
            return vault__err(VAULT_EINVALID, "store: a log's name has a control character");
    if (u8_check(p, n))
        return vault__err(VAULT_EINVALID, "store: a log's name is not UTF-8");
    return VAULT_OK;
}

#define log_ok store_log_check

int store_audit_seal_in(store *s, const char *log, store_audit_seal_fn fn, void *arg)
{
    int rc = VAULT_OK;
    seal_loop c = {fn, arg, 0, 0};

    TX_WRITE(s);
    GUARD(log_ok(log));
    /* Again only while the callback filled every row it was offered: a
     * call that filled fewer had nothing more (or stopped on purpose). */
    do {
        c.last = 0;
        GUARD(s->be->audit_write(s->be, store_log_name(log), seal_counted, &c));
    } while (c.last > 0 && c.last == c.cap);
cleanup:
    return rc;
}

int store_audit_seal(store *s, store_audit_seal_fn fn, void *arg)
{
    return store_audit_seal_in(s, STORE_LOG_CITY, fn, arg);
}

typedef struct last_out {
    int64_t *pos;
    uint8_t **entry;
    size_t *len;
    uint8_t *head;
} last_out;

static int last_fn(void *arg, const store_audit_head *h)
{
    last_out *c = arg;

    *c->pos = h->pos;
    memcpy(c->head, h->head, 32);
    if (!h->entry)
        return VAULT_OK;
    *c->entry = malloc(h->len ? h->len : 1);
    if (!*c->entry)
        return vault__err(VAULT_ENOMEM, "out of memory");
    if (h->len)
        memcpy(*c->entry, h->entry, h->len);
    *c->len = h->len;
    return VAULT_OK;
}

int store_audit_last_in(int64_t *out_pos, uint8_t **out_entry, size_t *out_len, uint8_t head[32],
                        store *s, const char *log)
{
    int rc = VAULT_OK;
    last_out c = {out_pos, out_entry, out_len, head};

    TX_READ(s);
    *out_pos = 0;
    *out_entry = NULL;
    *out_len = 0;
    memset(head, 0, 32);
    GUARD(log_ok(log));
    rc = s->be->audit_head(s->be, store_log_name(log), last_fn, &c);
cleanup:
    return rc;
}

int store_audit_last(int64_t *out_pos, uint8_t **out_entry, size_t *out_len, uint8_t head[32],
                     store *s)
{
    return store_audit_last_in(out_pos, out_entry, out_len, head, s, STORE_LOG_CITY);
}

static int audit_scan_filter(store *s, const store_audit_filter *f, store_audit_fn fn, void *arg)
{
    int rc = VAULT_OK, r;
    store_iter *it = NULL;
    store_audit_row row;

    GUARD(s->be->audit_iter(s->be, &it, f));
    while ((r = s->be->audit_next(it, &row)) > 0) {
        r = fn(arg, row.pos, row.entry, row.len, row.head, row.head_len);
        if (r != 0)
            break;
    }
    GUARD(r);
cleanup:
    if (it)
        s->be->iter_free(it);
    return rc;
}

int store_audit_scan_in(store *s, const char *log, int64_t after_pos, store_audit_fn fn,
                        void *arg)
{
    int rc = VAULT_OK;
    store_audit_filter f = {store_log_name(log), after_pos, NULL, NULL};

    TX_READ(s);
    GUARD(log_ok(log));
    rc = audit_scan_filter(s, &f, fn, arg);
cleanup:
    return rc;
}

int store_audit_scan(store *s, int64_t after_pos, store_audit_fn fn, void *arg)
{
    return store_audit_scan_in(s, STORE_LOG_CITY, after_pos, fn, arg);
}

/* The entries of log filed under record_id or user (the other NULL); the
 * caller checked the transaction (TX_READ names the public call). */
static int scan_filed_in(store *s, const char *log, const uint8_t *record_id, const char *user,
                         store_audit_fn fn, void *arg)
{
    int rc = VAULT_OK;
    store_audit_filter f = {store_log_name(log), 0, record_id, user};

    GUARD(log_ok(log));
    rc = audit_scan_filter(s, &f, fn, arg);
cleanup:
    return rc;
}

int store_audit_scan_record_in(store *s, const char *log, const uint8_t record_id[VAULT_ID_BYTES],
                               store_audit_fn fn, void *arg)
{
    TX_READ(s);
    return scan_filed_in(s, log, record_id, NULL, fn, arg);
}

int store_audit_scan_record(store *s, const uint8_t record_id[VAULT_ID_BYTES], store_audit_fn fn,
                            void *arg)
{
    return store_audit_scan_record_in(s, STORE_LOG_CITY, record_id, fn, arg);
}

int store_audit_scan_user_in(store *s, const char *log, const char *user, store_audit_fn fn,
                             void *arg)
{
    TX_READ(s);
    return scan_filed_in(s, log, NULL, user, fn, arg);
}

int store_audit_scan_user(store *s, const char *user, store_audit_fn fn, void *arg)
{
    return store_audit_scan_user_in(s, STORE_LOG_CITY, user, fn, arg);
}

int store_audit_count_in(int64_t *out, store *s, const char *log)
{
    int rc = VAULT_OK;

    TX_READ(s);
    GUARD(log_ok(log));
    rc = s->be->audit_count(s->be, store_log_name(log), out);
cleanup:
    return rc;
}

int store_audit_count(int64_t *out, store *s)
{
    return store_audit_count_in(out, s, STORE_LOG_CITY);
}

typedef struct logs_cb {
    int (*fn)(void *arg, const char *log, int64_t pos);
    void *arg;
    int n;
    char last[STORE_LOG_MAX + 1];
} logs_cb;

/* Each log once, the city's first, the others in byte order: a backend
 * that names one twice or out of order is refused. */
static int logs_fn(void *arg, const char *log, int64_t pos)
{
    logs_cb *c = arg;
    int rc = VAULT_OK;

    ENSURE(log && strlen(log) <= STORE_LOG_MAX && pos >= 0, VAULT_EINTEGRITY,
           "audit log: the store lists a log without a name");
    ENSURE(c->n == 0 || strcmp(c->last, log) < 0, VAULT_EINTEGRITY,
           "audit log: the store lists its logs out of order");
    snprintf(c->last, sizeof c->last, "%s", log);
    c->n++;
    rc = c->fn(c->arg, log, pos);
cleanup:
    return rc;
}

int store_audit_logs(store *s, int (*fn)(void *arg, const char *log, int64_t pos), void *arg)
{
    logs_cb c;

    TX_READ(s);
    memset(&c, 0, sizeof c);
    c.fn = fn;
    c.arg = arg;
    return s->be->audit_logs(s->be, logs_fn, &c);
}

typedef struct log_acc {
    store_log_list *l;
    int shards_only;
} log_acc;

static int log_acc_fn(void *arg, const char *log, int64_t pos)
{
    log_acc *a = arg;
    store_log_list *l = a->l;
    int rc = VAULT_OK;

    if (a->shards_only && !*log)
        return 0;
    GUARD(vault__grow((void **)&l->log, &l->cap, l->n + 1, sizeof *l->log, 8));
    snprintf(l->log[l->n].name, sizeof l->log[l->n].name, "%s", log);
    l->log[l->n++].pos = pos;
cleanup:
    return rc;
}

int store_audit_log_list(store_log_list *out, store *s, int shards_only)
{
    log_acc a = {out, shards_only};
    int rc;

    memset(out, 0, sizeof *out);
    rc = store_audit_logs(s, log_acc_fn, &a);
    if (rc < 0)
        store_log_list_free(out);
    return rc;
}

void store_log_list_free(store_log_list *l)
{
    free(l->log);
    memset(l, 0, sizeof *l);
}

int store_deferred_fresh(const store *s)
{
    return s->be->deferred_writes && s->be->deferred_fresh;
}

int store_many_logs(const store *s)
{
    return s->be->many_logs;
}

int store_audit_state_put_in(store *s, const char *log, int64_t prev_pos, int64_t pos,
                             const uint8_t head[32], const uint8_t *state, size_t len)
{
    int rc = VAULT_OK;
    store_audit_state a;

    TX_WRITE(s);
    memset(&a, 0, sizeof a);
    GUARD(log_ok(log));
    ENSURE(pos > 0 && state && len > 0, VAULT_EINVALID, "store: an audit state needs its entry");
    a.log = store_log_name(log);
    a.pos = pos;
    memcpy(a.head, head, 32);
    a.state = state;
    a.len = len;
    GUARD(row_mac(a.mac, s, STORE_ROW_AUDIT_STATE, &a));
    GUARD(s->be->audit_state_put(s->be, &a, prev_pos));
cleanup:
    return rc;
}

int store_audit_state_put(store *s, int64_t prev_pos, int64_t pos, const uint8_t head[32],
                          const uint8_t *state, size_t len)
{
    return store_audit_state_put_in(s, STORE_LOG_CITY, prev_pos, pos, head, state, len);
}

typedef struct state_out {
    store *s;
    const char *log;
    int64_t *pos;
    uint8_t *out;
    size_t cap, *len;
} state_out;

static int state_fn(void *arg, const store_audit_head *h)
{
    state_out *c = arg;
    int rc = VAULT_OK;
    store_audit_state a;
    char what[48];

    *c->pos = h->pos;
    *c->len = 0;
    /* None: an empty log, or a state not written yet (the caller says
     * what a missing state means). */
    if (!store_head_state(&a, h))
        return VAULT_OK;
    a.log = c->log;
    snprintf(what, sizeof what, "of entry %lld", (long long)h->pos);
    GUARD(row_check(c->s, STORE_ROW_AUDIT_STATE, &a, h->state_mac, what));
    ENSURE(h->state_len <= c->cap, VAULT_EINTEGRITY, "audit log: the audit state is too long");
    memcpy(c->out, h->state, h->state_len);
    *c->len = h->state_len;
cleanup:
    return rc;
}

int store_audit_state_get_in(int64_t *out_pos, uint8_t *out, size_t cap, size_t *out_len,
                             store *s, const char *log)
{
    int rc = VAULT_OK;
    state_out c = {s, store_log_name(log), out_pos, out, cap, out_len};

    TX_READ(s);
    *out_pos = 0;
    *out_len = 0;
    GUARD(log_ok(log));
    rc = s->be->audit_head(s->be, store_log_name(log), state_fn, &c);
cleanup:
    return rc;
}

int store_audit_state_get(int64_t *out_pos, uint8_t *out, size_t cap, size_t *out_len, store *s)
{
    return store_audit_state_get_in(out_pos, out, cap, out_len, s, STORE_LOG_CITY);
}

int store_audit_index(store *s)
{
    TX_WRITE(s);
    return s->be->audit_index(s->be);
}

/* ---- checkpoints ---- */

int store_checkpoint_add(store *s, uint64_t size, const char *note, int64_t now)
{
    int rc = VAULT_OK;
    store_checkpoint c = {size, note, strlen(note), now, {0}};

    TX_WRITE(s);
    GUARD(row_mac(c.mac, s, STORE_ROW_CHECKPOINT, &c));
    GUARD(s->be->checkpoint_add(s->be, &c));
cleanup:
    return rc;
}

int store_checkpoint_last(uint64_t *out, store *s)
{
    TX_READ(s);
    return s->be->checkpoint_last(s->be, out);
}

typedef struct cp_cb {
    store *s;
    int (*fn)(void *arg, uint64_t size, const char *note, size_t len);
    void *arg;
} cp_cb;

static int cp_fn(void *arg, const store_checkpoint *c)
{
    cp_cb *cb = arg;
    int rc = VAULT_OK;
    char what[32];

    snprintf(what, sizeof what, "(size %llu)", (unsigned long long)c->size);
    GUARD(row_check(cb->s, STORE_ROW_CHECKPOINT, c, c->mac, what));
    rc = cb->fn(cb->arg, c->size, c->note, c->len);
cleanup:
    return rc;
}

int store_checkpoint_scan(store *s, int (*fn)(void *arg, uint64_t size, const char *note, size_t len),
                          void *arg)
{
    cp_cb c = {s, fn, arg};

    TX_READ(s);
    return s->be->checkpoint_scan(s->be, cp_fn, &c);
}

/* ---- the digest of the rows that must not roll back ---- */

int store_trust_changed(const store *s)
{
    return s->in_tx && s->trust_changed;
}

typedef struct trust_ctx {
    vc_sha256_ctx h;
} trust_ctx;

static void trust_item(trust_ctx *c, const void *p, size_t n)
{
    uint8_t len[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};

    vc_sha256_update(&c->h, len, 4);
    vc_sha256_update(&c->h, p, n);
}

static int trust_grant_fn(void *arg, const store_grant *g)
{
    trust_ctx *c = arg;

    trust_item(c, g->id, strlen(g->id));
    trust_item(c, g->mac, STORE_MAC_BYTES);
    return VAULT_OK;
}

static int trust_policy_fn(void *arg, const store_policy *p)
{
    trust_ctx *c = arg;
    uint8_t id[8];
    int i;

    for (i = 0; i < 8; i++)
        id[i] = (uint8_t)((uint64_t)p->id >> (8 * i));
    trust_item(c, id, 8);
    trust_item(c, p->mac, STORE_MAC_BYTES);
    return VAULT_OK;
}

int store_trust_digest(store *s, uint8_t out[32])
{
    int rc = VAULT_OK;
    trust_ctx c;
    grant_cb g = {s, trust_grant_fn, &c};

    TX_READ(s);
    vc_sha256_init(&c.h);
    trust_item(&c, "libvault/trust/v1", 17);
    GUARD(s->be->grant_scan(s->be, grant_fn, &g)); /* each row MAC-checked */
    rc = s->be->policy_active(s->be, trust_policy_fn, &c);
    if (rc == VAULT_ENOTFOUND) { /* a store being created has none yet */
        vault__err_clear();
        rc = VAULT_OK;
    }
    GUARD(rc);
    vc_sha256_final(&c.h, out);
cleanup:
    return rc;
}

/* ---- quotas ---- */

int store_quota_count(int64_t *out, store *s, const char *quota, const char *user, int64_t since)
{
    TX_READ(s);
    return s->be->quota_count(s->be, quota, user, since, out);
}

int store_quota_add(store *s, const char *quota, const char *user, int64_t since, int64_t now)
{
    TX_WRITE(s);
    return s->be->quota_add(s->be, quota, user, since, now);
}

int store_quota_count_records(int64_t *out, int *seen, store *s, const char *quota,
                              const char *user, int64_t since, const uint8_t record[VAULT_ID_BYTES])
{
    TX_READ(s);
    return s->be->quota_count_records(s->be, quota, user, since, record, out, seen);
}

int store_quota_add_record(store *s, const char *quota, const char *user,
                           const uint8_t record[VAULT_ID_BYTES], int64_t since, int64_t now)
{
    TX_WRITE(s);
    return s->be->quota_add_record(s->be, quota, user, record, since, now);
}

/* ---- copies ---- */

int store_backup(store *s, const char *path, const uint8_t key[32], vault_progress_fn progress,
                 void *arg)
{
    int rc = VAULT_OK;

    ENSURE(s && path && key, VAULT_EINVALID, "store_backup: missing argument");
    ENSURE(s->be->backup_to, VAULT_ESTATE, "store: the %s backend makes no file copies",
           s->be->name ? s->be->name : "?");
    ENSURE(s->in_tx, VAULT_ESTATE, "store: a backup runs in a read transaction");
    GUARD(s->be->backup_to(s->be, path, key, progress, arg));
cleanup:
    return rc;
}

int store_file_copy(const char *from, const char *to, const uint8_t key[32],
                    vault_progress_fn progress, void *arg)
{
    return store_sqlcipher_copy(from, to, key, progress, arg);
}

struct store_file_claim {
    sqc_claim *c;
};

int store_file_claim_take(store_file_claim **out, const char *path, const uint8_t key[32])
{
    int rc = VAULT_OK;
    store_file_claim *c = calloc(1, sizeof *c);

    *out = NULL;
    ENSURE(c, VAULT_ENOMEM, "out of memory");
    GUARD(store_sqlcipher_claim(&c->c, path, key));
    *out = c;
    c = NULL;
cleanup:
    free(c);
    return rc;
}

int store_file_claim_copy(store_file_claim *c, const char *to)
{
    if (!c)
        return vault__err(VAULT_EINVALID, "claim copy: no claim");
    return store_sqlcipher_claim_copy(c->c, to);
}

void store_file_release(store_file_claim *c)
{
    if (!c)
        return;
    store_sqlcipher_release(c->c);
    free(c);
}

/* ---- store_copy (docs/storage.md "Copying a store") ---- */

#define COPY_AUDIT_BATCH 256
#define COPY_PROGRESS_EVERY 256

typedef struct copy_ctx {
    store *from, *to;
    vault_progress_fn progress;
    void *parg;
    uint64_t done, total;
    store_copy_stats *stats;
    const store_rekey *rk; /* NULL: the same master key on both sides */
    /* audit rows waiting for an append: deep copies */
    store_audit_row rows[COPY_AUDIT_BATCH];
    uint8_t *bytes[COPY_AUDIT_BATCH];
    size_t nrows, sealed;
    int64_t last_pos;
    char log[STORE_LOG_MAX + 1]; /* the log of the buffered rows (rows come by log) */
} copy_ctx;

/* Each row's MAC (checked against the source's key) must also be the
 * target's tag of the same row: the MAC covers no location, only the
 * row's own members, so the same master key gives the same tag. */
static int copy_check(copy_ctx *c, int kind, const void *row, const uint8_t mac[STORE_MAC_BYTES],
                      const char *what)
{
    int rc = VAULT_OK;
    uint8_t want[STORE_MAC_BYTES];

    GUARD(row_check(c->from, kind, row, mac, what));
    GUARD(row_mac(want, c->to, kind, row));
    ENSURE(sodium_memcmp(want, mac, STORE_MAC_BYTES) == 0, VAULT_EINVALID,
           "store copy: the target store's row key is not the source's (%s)", kind_name[kind]);
cleanup:
    sodium_memzero(want, sizeof want);
    return rc;
}

/* A row on its way across (a copy the caller may change): checked against
 * the source's MAC, then either it must carry the target's tag already
 * (the same master key) or, in a re-keying copy, the hook changes it and
 * it is tagged anew with the target's guard. */
static int copy_prepare(copy_ctx *c, int kind, void *row, uint8_t mac[STORE_MAC_BYTES],
                        const char *what)
{
    int rc = VAULT_OK;

    if (!c->rk)
        return copy_check(c, kind, row, mac, what);
    GUARD(row_check(c->from, kind, row, mac, what));
    if (c->rk->row)
        GUARD(c->rk->row(c->rk->arg, kind, row));
    GUARD(row_mac(mac, c->to, kind, row));
cleanup:
    return rc;
}

static void copy_tick(copy_ctx *c)
{
    c->done++;
    if (c->stats)
        c->stats->rows++;
    if (c->progress && c->done % COPY_PROGRESS_EVERY == 0)
        c->progress(c->done, c->total > c->done ? c->total : c->done, c->parg);
}

static int seal_copy(void *arg, const store_audit_head *h, store_audit_row *out, size_t cap,
                     size_t *n)
{
    copy_ctx *c = arg;
    size_t k = 0;

    if (c->sealed < c->nrows && c->rows[c->sealed].pos != h->pos + 1)
        return vault__err(VAULT_EINTEGRITY,
                          "store copy: audit position %lld does not follow the target's head %lld",
                          (long long)c->rows[c->sealed].pos, (long long)h->pos);
    while (k < cap && c->sealed < c->nrows)
        out[k++] = c->rows[c->sealed++];
    *n = k;
    return VAULT_OK;
}

static void copy_rows_free(copy_ctx *c)
{
    size_t i;

    for (i = 0; i < c->nrows; i++)
        free(c->bytes[i]);
    c->nrows = 0;
    c->sealed = 0;
}

/* Append the buffered audit rows to the target, as many appends as its
 * seal capacity needs. */
static int copy_flush(copy_ctx *c)
{
    int rc = VAULT_OK;
    size_t before;

    while (c->sealed < c->nrows) {
        before = c->sealed;
        GUARD(c->to->be->audit_write(c->to->be, c->log, seal_copy, c));
        ENSURE(c->sealed > before, VAULT_ERROR, "store copy: the target took no audit row");
    }
cleanup:
    copy_rows_free(c);
    return rc;
}

static int copy_audit_row(copy_ctx *c, const store_audit_row *a)
{
    int rc = VAULT_OK;
    size_t ulen, need;
    uint8_t *b, *p;
    store_audit_row *r;

    ENSURE(a->entry && a->head && a->user, VAULT_EINTEGRITY,
           "store copy: the audit entry at position %lld is incomplete", (long long)a->pos);
    ENSURE(strlen(store_log_name(a->log)) <= STORE_LOG_MAX, VAULT_EINTEGRITY,
           "store copy: an audit entry's log name is too long");
    if (strcmp(store_log_name(a->log), c->log) != 0) {
        /* the next log: the rows of the one before go first */
        ENSURE(strcmp(store_log_name(a->log), c->log) > 0, VAULT_EINTEGRITY,
               "store copy: the source's audit rows are not in log order");
        GUARD(copy_flush(c));
        snprintf(c->log, sizeof c->log, "%s", store_log_name(a->log));
        c->last_pos = 0;
    }
    ENSURE(a->pos == c->last_pos + 1, VAULT_EINTEGRITY,
           "store copy: audit position %lld follows %lld: the source's log has a gap",
           (long long)a->pos, (long long)c->last_pos);
    ulen = strlen(a->user) + 1;
    need = a->len + a->head_len + (a->record_id ? VAULT_ID_BYTES : 0) + ulen;
    b = malloc(need ? need : 1);
    ENSURE(b, VAULT_ENOMEM, "out of memory");
    c->bytes[c->nrows] = b;
    r = &c->rows[c->nrows++];
    *r = *a;
    r->log = NULL; /* the append's: c->log */
    p = b;
    memcpy(p, a->entry, a->len);
    r->entry = p;
    p += a->len;
    memcpy(p, a->head, a->head_len);
    r->head = p;
    p += a->head_len;
    if (a->record_id) {
        memcpy(p, a->record_id, VAULT_ID_BYTES);
        r->record_id = p;
        p += VAULT_ID_BYTES;
    }
    memcpy(p, a->user, ulen);
    r->user = (const char *)p;
    c->last_pos = a->pos;
    if (c->stats)
        c->stats->entries++;
    if (c->nrows == COPY_AUDIT_BATCH)
        GUARD(copy_flush(c));
cleanup:
    return rc;
}

static int copy_row(void *arg, int kind, const void *row)
{
    copy_ctx *c = arg;
    store_backend *to = c->to->be;
    int rc = VAULT_OK;

    switch (kind) {
    case STORE_ROW_META: {
        store_meta m = *(const store_meta *)row;
        GUARD(copy_prepare(c, kind, &m, m.mac, m.key));
        GUARD(to->meta_put(to, &m));
        break;
    }
    case STORE_ROW_POLICY: {
        store_policy p = *(const store_policy *)row;
        GUARD(copy_prepare(c, kind, &p, p.mac, NULL));
        GUARD(to->policy_add(to, &p));
        /* The id is in the row's MAC and in the trust digest the audit
         * state holds: it must come out the same. */
        ENSURE(p.id == ((const store_policy *)row)->id, VAULT_EINTEGRITY,
               "store copy: the target gave policy %lld the id %lld",
               (long long)((const store_policy *)row)->id, (long long)p.id);
        break;
    }
    case STORE_ROW_GRADEKEY: {
        store_gradekey k = *(const store_gradekey *)row;
        GUARD(copy_prepare(c, kind, &k, k.mac, k.grade));
        GUARD(to->gradekey_add(to, &k));
        break;
    }
    case STORE_ROW_RECORD: {
        store_record r = *(const store_record *)row;
        GUARD(copy_prepare(c, kind, &r, r.mac, NULL));
        GUARD(to->record_write(to, &r, 1));
        if (c->stats)
            c->stats->records++;
        break;
    }
    case STORE_ROW_GRANT: {
        store_grant g = *(const store_grant *)row;
        GUARD(copy_prepare(c, kind, &g, g.mac, g.id));
        GUARD(to->grant_insert(to, &g));
        break;
    }
    case STORE_ROW_CHECKPOINT: {
        store_checkpoint cp = *(const store_checkpoint *)row;
        GUARD(copy_prepare(c, kind, &cp, cp.mac, NULL));
        GUARD(to->checkpoint_add(to, &cp));
        break;
    }
    case STORE_ROW_QUOTA: {
        const store_quota_row *q = row;
        /* since INT64_MIN: forget no earlier use, record this one as it was
         * (a residents-quota use with its record: one row per record) */
        if (q->record)
            GUARD(to->quota_add_record(to, q->quota, q->user, q->record, INT64_MIN, q->at));
        else
            GUARD(to->quota_add(to, q->quota, q->user, INT64_MIN, q->at));
        break;
    }
    case STORE_ROW_AUDIT:
        GUARD(copy_audit_row(c, row));
        break;
    case STORE_ROW_AUDIT_STATE: {
        store_audit_state a = *(const store_audit_state *)row;
        GUARD(copy_prepare(c, kind, &a, a.mac, NULL));
        GUARD(to->audit_state_put(to, &a, 0));
        break;
    }
    default:
        ENSURE(0, VAULT_EINVALID, "store copy: unknown row kind %d", kind);
    }
    copy_tick(c);
cleanup:
    return rc;
}

static int any_row(void *arg, int kind, const void *row)
{
    (void)kind;
    (void)row;
    *(int *)arg = 1;
    return 1; /* one is enough */
}

/* The entries of every log, summed. */
static int sum_log(void *arg, const char *log, int64_t pos)
{
    (void)log;
    *(int64_t *)arg += pos;
    return 0;
}

static int count_row(void *arg, int kind, const void *row)
{
    (void)kind;
    (void)row;
    (*(uint64_t *)arg)++;
    return 0;
}

/* The order rows go in: what a row refers to before it (fields name grade
 * keys), the audit rows last, then the state their newest one carries. */
static const int copy_order[] = {
    STORE_ROW_META,  STORE_ROW_POLICY,     STORE_ROW_GRADEKEY, STORE_ROW_RECORD,
    STORE_ROW_GRANT, STORE_ROW_CHECKPOINT, STORE_ROW_QUOTA,    STORE_ROW_AUDIT,
    STORE_ROW_AUDIT_STATE,
};

static int copy_run(store_copy_stats *out, store *from, store *to, const store_rekey *rk,
                    vault_progress_fn progress, void *arg)
{
    int rc = VAULT_OK, own_snapshot = 0, began = 0, some = 0;
    copy_ctx *c = NULL;
    int64_t records = 0, entries = 0;
    store_log_list logs = {0};
    uint64_t small = 0;
    size_t i;

    if (out)
        memset(out, 0, sizeof *out);
    ENSURE(from && to && from != to, VAULT_EINVALID, "store_copy: missing or same store");
    ENSURE(!to->in_tx, VAULT_ESTATE, "store copy: the target store is inside a transaction");
    c = calloc(1, sizeof *c);
    ENSURE(c, VAULT_ENOMEM, "out of memory");
    c->from = from;
    c->to = to;
    c->progress = progress;
    c->parg = arg;
    c->stats = out;
    c->rk = rk;
    if (!from->in_tx) {
        GUARD(store_begin(from, STORE_TX_SNAPSHOT));
        own_snapshot = 1;
    }
    GUARD(store_begin(to, STORE_TX_WRITE));
    began = 1;
    /* The target must hold nothing: no meta row, record, audit entry or
     * any other row (a vault, or half of one).  Nothing written yet. */
    for (i = 0; i < VAULT_ARRAY_LEN(copy_order) && !some; i++)
        if (copy_order[i] != STORE_ROW_RECORD && copy_order[i] != STORE_ROW_AUDIT)
            GUARD(to->be->row_scan(to->be, copy_order[i], any_row, &some));
    GUARD(to->be->record_count(to->be, &records));
    GUARD(to->be->audit_logs(to->be, sum_log, &entries));
    ENSURE(!some && records == 0 && entries == 0, VAULT_EEXISTS,
           "store copy: the target store is not empty (it holds %s): nothing copied",
           records ? "records" : entries ? "audit entries" : "rows of a vault");
    /* The total, for progress: counted rows plus the big tables' counts. */
    for (i = 0; i < VAULT_ARRAY_LEN(copy_order); i++)
        if (copy_order[i] != STORE_ROW_RECORD && copy_order[i] != STORE_ROW_AUDIT)
            GUARD(from->be->row_scan(from->be, copy_order[i], count_row, &small));
    GUARD(from->be->record_count(from->be, &records));
    GUARD(store_audit_log_list(&logs, from, 0));
    for (i = 0; i < logs.n; i++)
        entries += logs.log[i].pos;
    c->total = small + (uint64_t)records + (uint64_t)entries;
    if (to->be->bulk_begin)
        GUARD(to->be->bulk_begin(to->be, (size_t)records));
    for (i = 0; i < VAULT_ARRAY_LEN(copy_order); i++) {
        GUARD(from->be->row_scan(from->be, copy_order[i], copy_row, c));
        if (copy_order[i] == STORE_ROW_AUDIT)
            GUARD(copy_flush(c));
        if (progress && c->done < c->total) /* after each kind too */
            progress(c->done, c->total, arg);
    }
    if (to->be->bulk_end)
        GUARD(to->be->bulk_end(to->be));
    GUARD(to->be->audit_index(to->be));
    /* What went in is what the source holds: its records, and each of
     * its logs to the same position. */
    {
        int64_t n = 0;
        GUARD(to->be->record_count(to->be, &n));
        ENSURE(n == records, VAULT_EINTEGRITY,
               "store copy: %lld records copied of the source's %lld", (long long)n,
               (long long)records);
        for (i = 0; i < logs.n; i++) {
            GUARD(to->be->audit_count(to->be, logs.log[i].name, &n));
            ENSURE(n == logs.log[i].pos, VAULT_EINTEGRITY,
                   "store copy: the target's log%s%s ends at %lld, the source's at %lld",
                   logs.log[i].name[0] ? " " : "", logs.log[i].name, (long long)n,
                   (long long)logs.log[i].pos);
        }
        n = 0;
        GUARD(to->be->audit_logs(to->be, sum_log, &n));
        ENSURE(n == entries, VAULT_EINTEGRITY,
               "store copy: the target has audit entries the source has not");
    }
    began = 0;
    GUARD(store_commit(to));
    if (progress)
        progress(c->done, c->done, arg);
cleanup:
    if (c)
        copy_rows_free(c);
    if (began)
        store_rollback(to);
    if (own_snapshot)
        store_rollback(from);
    if (rc < 0 && out)
        memset(out, 0, sizeof *out);
    free(c);
    store_log_list_free(&logs);
    return rc;
}

int store_copy(store_copy_stats *out, store *from, store *to, vault_progress_fn progress, void *arg)
{
    return copy_run(out, from, to, NULL, progress, arg);
}

int store_copy_rekey(store_copy_stats *out, store *from, store *to, const store_rekey *rk,
                     vault_progress_fn progress, void *arg)
{
    if (!rk)
        return vault__err(VAULT_EINVALID, "store_copy_rekey: missing re-keying");
    return copy_run(out, from, to, rk, progress, arg);
}

int store_rotate_swap(store *live, const char *live_rk_location, const char *next_location,
                      const char *next_rk_location, const uint8_t key[32],
                      const uint8_t rk_key[32], const uint8_t id[VAULT_ID_BYTES])
{
    int rc = VAULT_OK;

    ENSURE(live && live_rk_location && next_location && next_rk_location && key && rk_key && id,
           VAULT_EINVALID, "store_rotate_swap: missing argument");
    ENSURE(live->be->name && strcmp(live->be->name, "postgresql") == 0, VAULT_ESTATE,
           "store: the %s backend swaps no tables", live->be->name ? live->be->name : "?");
    ENSURE(live->in_tx && live->writes, VAULT_ESTATE,
           "store: the swap runs in the vault's write transaction");
    GUARD(store_pg_rotate_swap(live->be, live_rk_location, next_location, next_rk_location, key,
                               rk_key, id));
cleanup:
    return rc;
}

int store_rotation_hold(store *live)
{
    int rc = VAULT_OK;

    ENSURE(live, VAULT_EINVALID, "store_rotation_hold: missing argument");
    ENSURE(live->be->name && strcmp(live->be->name, "postgresql") == 0, VAULT_ESTATE,
           "store: the %s backend swaps no tables", live->be->name ? live->be->name : "?");
    ENSURE(live->in_tx && live->writes, VAULT_ESTATE,
           "store: the rotation lock is taken in the vault's write transaction");
    GUARD(store_pg_rotation_hold(live->be));
cleanup:
    return rc;
}

int store_under_write_lock(store *s, int (*fn)(void *arg), void *arg)
{
    int rc = VAULT_OK;

    ENSURE(s && fn, VAULT_EINVALID, "store_under_write_lock: missing argument");
    ENSURE(!s->in_tx, VAULT_ESTATE, "store: already in a transaction");
    GUARD(store_begin(s, STORE_TX_WRITE));
    rc = fn(arg);
    store_rollback(s);
cleanup:
    return rc;
}

static int rotation_locations(const char *live, const char *next)
{
    if (!live || !next || !store_pg_is_location(live) || !store_pg_is_location(next))
        return vault__err(VAULT_ESTATE, "store: only a PostgreSQL vault's copy is made so");
    return VAULT_OK;
}

int store_connection_lost(const store *s)
{
    return s && s->be->name && strcmp(s->be->name, "postgresql") == 0 && store_pg_lost(s->be);
}

int store_rotation_allowed(const char *live_location)
{
    int rc = rotation_locations(live_location, live_location);

    return rc < 0 ? rc : store_pg_rotation_allowed(live_location);
}

int store_which_key(const char *location, const uint8_t *const *keys, size_t n, int *which)
{
    int rc = rotation_locations(location, location);

    if (rc == VAULT_OK && (!keys || !which))
        rc = vault__err(VAULT_EINVALID, "store_which_key: missing argument");
    return rc < 0 ? rc : store_pg_which_key(location, keys, n, which);
}

int store_rotation_prepare(const char *live_location, const char *next_location,
                           const uint8_t id[VAULT_ID_BYTES], int *cleaned)
{
    int rc = rotation_locations(live_location, next_location);

    return rc < 0 ? rc : store_pg_rotation_prepare(live_location, next_location, id, cleaned);
}

int store_rotation_discard(const char *live_location, const char *next_location,
                           const uint8_t id[VAULT_ID_BYTES])
{
    int rc = rotation_locations(live_location, next_location);

    return rc < 0 ? rc : store_pg_rotation_discard(live_location, next_location, id);
}

int store_destroy(store *s)
{
    int rc = VAULT_OK;

    ENSURE(s, VAULT_EINVALID, "store_destroy: missing store");
    ENSURE(s->be->destroy, VAULT_ESTATE, "store: the %s backend drops no store",
           s->be->name ? s->be->name : "?");
    ENSURE(!s->in_tx, VAULT_ESTATE, "store: destroy inside a transaction");
    GUARD(s->be->destroy(s->be));
cleanup:
    return rc;
}

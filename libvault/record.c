/* record: resident records as working copies between the store and the
 * data calls (record.h).  No policy decisions here. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "names.h"
#include "record.h"
#include "text.h"

void record_row_init(record_row *r)
{
    memset(r, 0, sizeof *r);
}

void record_row_free(record_row *r)
{
    if (!r)
        return;
    free(r->fields);
    free(r->data);
    free(r->scratch);
    vc_free(r->rkey); /* vc_free wipes */
    memset(r, 0, sizeof *r);
}

static void row_clear(record_row *r)
{
    r->nfields = 0;
    r->dlen = 0;
    r->is_new = 0;
    r->rkey_state = RKEY_UNKNOWN;
    r->rkey_new = 0;
    if (r->rkey)
        vc_wipe(r->rkey, RECKEY_BYTES);
}

/* Room for the row's record key. */
static int rkey_room(record_row *r)
{
    if (!r->rkey && !(r->rkey = vc_malloc(RECKEY_BYTES)))
        return vault__err(VAULT_ENOMEM, "out of secure memory");
    return VAULT_OK;
}

/* 1 when the row has a field sealed under its record key. */
static int has_v3(const record_row *r)
{
    size_t i;

    for (i = 0; i < r->nfields; i++)
        if (r->fields[i].ct_len > 0 && r->data[r->fields[i].ct_off] == VC_FIELD_FORMAT_V3)
            return 1;
    return 0;
}

/* Look the row's key up once: RKEY_LOADED, RKEY_ERASED, or RKEY_NONE
 * when the key store has no row for it (VAULT_OK in all three). */
static int rkey_lookup(const record_ctx *c, record_row *r)
{
    int rc = VAULT_OK, erased = 0;

    if (r->rkey_state != RKEY_UNKNOWN)
        return VAULT_OK;
    GUARD(rkey_room(r));
    rc = reckeys_get(r->rkey, &erased, c->rk, r->id);
    if (rc == VAULT_ENOTFOUND) {
        vault__err_clear();
        r->rkey_state = erased ? RKEY_ERASED : RKEY_NONE;
        return VAULT_OK;
    }
    GUARD(rc);
    r->rkey_state = RKEY_LOADED;
cleanup:
    return rc;
}

/* A row whose fields need a key the key store knows nothing of. */
static int key_missing(const record_row *r)
{
    char hex[VAULT_ID_HEX_SIZE];

    vault__id_format(hex, r->id);
    return vault__err(VAULT_EINTEGRITY,
                      "record %s: the record-key store holds neither its key nor its erasure "
                      "(the store is older than the data, or was changed: put the current one "
                      "back, docs/erasure.md)",
                      hex);
}

int record_erased(const record_ctx *c, record_row *r)
{
    int rc = VAULT_OK;

    GUARD(rkey_lookup(c, r));
    if (r->rkey_state == RKEY_ERASED)
        return 1;
    if (r->rkey_state == RKEY_NONE && has_v3(r))
        return key_missing(r);
cleanup:
    return rc;
}

/* The key the row's next seal uses: its own, made now for a record
 * written before record keys (its older fields stay format 2 until they
 * are written or rotated).  VAULT_ENOTFOUND for an erased record's
 * remains: nothing is sealed into them. */
static int rkey_for_write(const record_ctx *c, record_row *r)
{
    int rc = VAULT_OK;

    GUARD(rkey_lookup(c, r));
    if (r->rkey_state == RKEY_LOADED)
        goto cleanup;
    ENSURE(r->rkey_state != RKEY_ERASED, VAULT_ENOTFOUND, "the record was erased (its key is destroyed)");
    if (has_v3(r))
        GUARD(key_missing(r));
    vc_random(r->rkey, RECKEY_BYTES);
    r->rkey_state = RKEY_LOADED;
    r->rkey_new = 1;
cleanup:
    return rc;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    return vault__grow(p, cap, need, elem, 8);
}

/* Append bytes to the row's data; *off receives where they went. */
static int data_add(size_t *off, record_row *r, const uint8_t *p, size_t n)
{
    int rc = VAULT_OK;

    GUARD(grow((void **)&r->data, &r->dcap, r->dlen + n + 1, 1));
    if (n)
        memcpy(r->data + r->dlen, p, n);
    *off = r->dlen;
    r->dlen += n;
cleanup:
    return rc;
}

static record_field *field_find(const record_row *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->nfields; i++)
        if (strcmp(r->fields[i].name, name) == 0)
            return &r->fields[i];
    return NULL;
}

int record_has(const record_row *r, const char *field)
{
    return field_find(r, field) != NULL;
}

int record_unset(record_row *r, const char *field)
{
    record_field *f = field_find(r, field);
    size_t i;

    if (!f)
        return 0;
    /* Its ciphertext stays in r->data until the row is freed; record_save
     * stores only the fields listed. */
    for (i = (size_t)(f - r->fields); i + 1 < r->nfields; i++)
        r->fields[i] = r->fields[i + 1];
    r->nfields--;
    return 1;
}

/* A slot for field `name`, kept in name order (the order rows are stored
 * and tagged in). */
static int field_slot(record_field **out, record_row *r, const char *name)
{
    int rc = VAULT_OK;
    size_t i;

    *out = field_find(r, name);
    if (*out)
        return VAULT_OK;
    ENSURE(strlen(name) < VAULT_NAME_MAX, VAULT_EINVALID, "field name too long");
    GUARD(grow((void **)&r->fields, &r->fcap, r->nfields + 1, sizeof *r->fields));
    for (i = r->nfields; i > 0 && strcmp(r->fields[i - 1].name, name) > 0; i--)
        r->fields[i] = r->fields[i - 1];
    memset(&r->fields[i], 0, sizeof r->fields[i]);
    snprintf(r->fields[i].name, sizeof r->fields[i].name, "%s", name);
    r->nfields++;
    *out = &r->fields[i];
cleanup:
    return rc;
}

int record_new(record_row *r, const char *jurisdiction, int64_t now)
{
    int rc = VAULT_OK;

    GUARD(vault__jurisdiction_check(jurisdiction, "jurisdiction"));
    row_clear(r);
    vc_random(r->id, VAULT_ID_BYTES);
    GUARD(rkey_room(r));
    vc_random(r->rkey, RECKEY_BYTES);
    r->rkey_state = RKEY_LOADED;
    r->rkey_new = 1;
    snprintf(r->jurisdiction, sizeof r->jurisdiction, "%s", jurisdiction);
    r->created = r->updated = now;
    r->version = 1;
    r->is_new = 1;
cleanup:
    return rc;
}

int record_copy(record_row *r, const store_record *row)
{
    int rc = VAULT_OK;
    size_t i;
    record_field *f;

    row_clear(r);
    ENSURE(strlen(row->jurisdiction) < sizeof r->jurisdiction, VAULT_EINTEGRITY,
           "database: record jurisdiction too long");
    memcpy(r->id, row->id, VAULT_ID_BYTES);
    snprintf(r->jurisdiction, sizeof r->jurisdiction, "%s", row->jurisdiction);
    r->created = row->created;
    r->updated = row->updated;
    r->version = row->version;
    GUARD(grow((void **)&r->fields, &r->fcap, row->nfields, sizeof *r->fields));
    for (i = 0; i < row->nfields; i++) {
        const store_field *sf = &row->fields[i];

        ENSURE(strlen(sf->name) < VAULT_NAME_MAX && strlen(sf->grade) < VAULT_NAME_MAX &&
                   sf->digest_len <= STORE_DIGEST_MAX,
               VAULT_EINTEGRITY, "database: a field of a record is malformed");
        f = &r->fields[i];
        memset(f, 0, sizeof *f);
        snprintf(f->name, sizeof f->name, "%s", sf->name);
        snprintf(f->grade, sizeof f->grade, "%s", sf->grade);
        f->key_version = sf->key_version;
        f->counter = sf->counter;
        memcpy(f->digest, sf->digest, sf->digest_len);
        f->digest_len = sf->digest_len;
        GUARD(data_add(&f->ct_off, r, sf->ct, sf->ct_len));
        f->ct_len = sf->ct_len;
        r->nfields = i + 1;
    }
cleanup:
    return rc;
}

static int copy_fn(void *arg, const store_record *row)
{
    return record_copy(arg, row);
}

int record_load(record_row *r, const record_ctx *c, const uint8_t id[VAULT_ID_BYTES])
{
    int rc = VAULT_OK;

    GUARD(store_record_get(c->db, id, copy_fn, r));
    /* A restored backup holds the rows of records erased since: without
     * their keys they are no records at all. */
    GUARD(rc = record_erased(c, r));
    ENSURE(rc == 0, VAULT_ENOTFOUND, "the record was erased (its key is destroyed)");
cleanup:
    return rc;
}

int record_load_erasable(record_row *r, const record_ctx *c, const uint8_t id[VAULT_ID_BYTES])
{
    int rc = VAULT_OK;

    GUARD(store_record_get(c->db, id, copy_fn, r));
    GUARD(rc = record_erased(c, r));
    rc = VAULT_OK;
cleanup:
    return rc;
}

void record_touch(record_row *r, int64_t now)
{
    r->version++;
    r->updated = now;
}

/* Check that a value is valid UTF-8 without NUL bytes.  The message never
 * shows the value. */
static int value_check(const char *value, size_t len, const char *field)
{
    const uint8_t *s = (const uint8_t *)value;
    size_t i = 0, n;
    uint32_t cp;

    if (len > VAULT_VALUE_MAX)
        return vault__err(VAULT_ELIMIT, "value of field '%s' is longer than %d bytes", field,
                          VAULT_VALUE_MAX);
    while (i < len) {
        if (s[i] == 0)
            return vault__err(VAULT_EINVALID, "value of field '%s' contains a NUL byte", field);
        n = vault__utf8_next(&cp, s + i, len - i);
        if (n == 0)
            return vault__err(VAULT_EINVALID, "value of field '%s' is not valid UTF-8", field);
        i += n;
    }
    return VAULT_OK;
}

static void field_ad(vc_field_ad *ad, const record_ctx *c, const record_row *r,
                     const record_field *f)
{
    ad->vault_id = c->vault_id;
    ad->record_id = r->id;
    ad->field = f->name;
    ad->grade = f->grade;
    ad->key_version = f->key_version;
    ad->counter = f->counter;
    ad->record_key = r->rkey_state == RKEY_LOADED ? r->rkey : NULL;
}

int record_set(uint8_t *out_ct_hash, const record_ctx *c, record_row *r, const vp_field *pf,
               const char *value, size_t len, int64_t now)
{
    int rc = VAULT_OK;
    record_key k;

    GUARD(record_key_latest(&k, c, pf, now));
    GUARD(record_set_key(out_ct_hash, c, r, pf, &k, value, len));
cleanup:
    return rc;
}

int record_key_latest(record_key *out, const record_ctx *c, const vp_field *pf, int64_t now)
{
    int rc = VAULT_OK;
    const char *grade = policy_grade_name(c->policy, (size_t)pf->grade);

    memset(out, 0, sizeof *out);
    ENSURE(grade && strlen(grade) < VAULT_NAME_MAX, VAULT_EINVALID, "field '%s' has no grade",
           pf->name);
    GUARD(keyring_grade_key_latest(&out->key, &out->version, c->keys, c->db, grade, now));
    out->grade = grade;
cleanup:
    return rc;
}

int record_set_key(uint8_t *out_ct_hash, const record_ctx *c, record_row *r, const vp_field *pf,
                   const record_key *k, const char *value, size_t len)
{
    int rc = VAULT_OK;
    uint8_t *ct = NULL;
    size_t ctlen = 0;
    record_field *f = NULL;
    vc_field_ad ad;

    ENSURE(value || len == 0, VAULT_EINVALID, "missing value");
    GUARD(value_check(value, len, pf->name));
    ENSURE(k->key && k->grade, VAULT_ESTATE, "field '%s': no key looked up", pf->name);
    /* A new row has its key (record_new), so the import's workers never
     * reach the key store here. */
    if (r->rkey_state != RKEY_LOADED)
        GUARD(rkey_for_write(c, r));
    GUARD(field_slot(&f, r, pf->name));
    snprintf(f->grade, sizeof f->grade, "%s", k->grade);
    f->key_version = k->version;
    f->counter = r->version;
    f->digest_len = 0;
    ct = malloc(len + VC_FIELD_OVERHEAD);
    ENSURE(ct, VAULT_ENOMEM, "out of memory");
    field_ad(&ad, c, r, f);
    GUARD(vc_field_seal(ct, len + VC_FIELD_OVERHEAD, &ctlen, k->key, &ad, (const uint8_t *)value,
                        len));
    GUARD(data_add(&f->ct_off, r, ct, ctlen));
    f->ct_len = ctlen;
    if (pf->index_exact) {
        GUARD(vc_blind_index(f->digest, keyring_bidx_root(c->keys), pf->name, value, len));
        f->digest_len = VC_BIDX_BYTES;
    }
    if (out_ct_hash)
        vc_sha256(out_ct_hash, ct, ctlen);
cleanup:
    if (rc < 0 && f) /* never a half-set field */
        f->ct_len = 0;
    free(ct);
    return rc;
}

int record_save(const record_ctx *c, record_row *r)
{
    int rc = VAULT_OK;
    size_t i, cap = 0, n = 0;
    store_record row;

    /* Fields never set (a failed record_set) are not stored. */
    for (i = 0; i < r->nfields; i++)
        ENSURE(r->fields[i].ct_len > 0, VAULT_ESTATE, "field '%s' was not sealed",
               r->fields[i].name);
    cap = r->nfields;
    if (cap) {
        free(r->scratch);
        r->scratch = calloc(cap, sizeof *r->scratch);
        ENSURE(r->scratch, VAULT_ENOMEM, "out of memory");
    }
    for (i = 0; i < r->nfields; i++, n++) {
        store_field *sf = &r->scratch[n];
        const record_field *f = &r->fields[i];

        sf->name = f->name;
        sf->grade = f->grade;
        sf->key_version = f->key_version;
        sf->counter = f->counter;
        sf->ct = r->data + f->ct_off;
        sf->ct_len = f->ct_len;
        memcpy(sf->digest, f->digest, f->digest_len);
        sf->digest_len = f->digest_len;
    }
    memset(&row, 0, sizeof row);
    memcpy(row.id, r->id, VAULT_ID_BYTES);
    row.jurisdiction = r->jurisdiction;
    row.created = r->created;
    row.updated = r->updated;
    row.version = r->version;
    row.nfields = n;
    row.fields = r->scratch;
    /* The key goes to the key store first: both commit with the unit of
     * work, the key store's first (reckeys.h). */
    if (r->rkey_new)
        GUARD(reckeys_put(c->rk, r->id, r->rkey));
    GUARD(store_record_write(c->db, &row, r->is_new));
    r->is_new = 0;
    r->rkey_new = 0;
cleanup:
    return rc;
}

int record_open(char **out, size_t *out_len, const record_ctx *c, const record_row *r,
                const char *field, record_alloc_fn alloc, void *arg)
{
    int rc = VAULT_OK;
    size_t ptlen = 0;
    const uint8_t *key = NULL;
    const record_field *f = field_find(r, field);
    char *pt = NULL;
    vc_field_ad ad;

    *out = NULL;
    ENSURE(f, VAULT_ENOTFOUND, "field '%s' has no value", field);
    ENSURE(f->ct_len >= VC_FIELD_OVERHEAD, VAULT_EINTEGRITY,
           "field '%s' failed its integrity check (ciphertext too short)", field);
    /* record_load looked the key up for every row with such fields. */
    ENSURE(r->data[f->ct_off] != VC_FIELD_FORMAT_V3 || r->rkey_state == RKEY_LOADED, VAULT_ESTATE,
           "field '%s': the record's key was not loaded", field);
    GUARD(keyring_grade_key(&key, c->keys, c->db, f->grade, f->key_version));
    pt = alloc(arg, f->ct_len - VC_FIELD_OVERHEAD + 1);
    ENSURE(pt, VAULT_ENOMEM, "out of secure memory");
    /* Handed out now, so the caller can wipe and release it on failure. */
    *out = pt;
    field_ad(&ad, c, r, f);
    GUARD(vc_field_open((uint8_t *)pt, f->ct_len - VC_FIELD_OVERHEAD, &ptlen, key, &ad,
                        r->data + f->ct_off, f->ct_len));
    pt[ptlen] = '\0';
    *out_len = ptlen;
cleanup:
    return rc;
}

static char *secure_alloc(void *arg, size_t n)
{
    (void)arg;
    return vc_malloc(n);
}

int record_open_secure(char **out, size_t *out_len, const record_ctx *c, const record_row *r,
                       const char *field)
{
    char *pt = NULL;
    int rc = record_open(&pt, out_len, c, r, field, secure_alloc, NULL);

    if (rc < 0) {
        vc_free(pt);
        pt = NULL;
    }
    *out = pt;
    return rc;
}

int record_reseal(size_t *moved, char *bad_field, size_t bad_cap, const record_ctx *c,
                  record_row *r, const char *grade, uint32_t target)
{
    int rc = VAULT_OK;
    size_t i, ptlen = 0, ctlen = 0, cap = 0;
    const uint8_t *key = NULL;
    uint8_t *pt = NULL, *ct = NULL;
    record_field *f;
    vc_field_ad ad;

    *moved = 0;
    /* Resealed fields are format 3: a record written before record keys
     * gets its key here (rkey_for_write), so rotating every grade brings
     * all records under erasure (docs/erasure.md). */
    GUARD(rkey_for_write(c, r));
    for (i = 0; i < r->nfields; i++) {
        f = &r->fields[i];
        if (f->key_version >= target || strcmp(f->grade, grade) != 0)
            continue;
        ENSURE(f->ct_len >= VC_FIELD_OVERHEAD, VAULT_EINTEGRITY,
               "field '%s' failed its integrity check (ciphertext too short)", f->name);
        if (f->ct_len > cap) {
            vc_free(pt);
            free(ct);
            cap = f->ct_len;
            pt = vc_malloc(cap);
            ct = malloc(cap);
            ENSURE(pt && ct, VAULT_ENOMEM, "out of memory");
        }
        snprintf(bad_field, bad_cap, "%s", f->name);
        GUARD(keyring_grade_key(&key, c->keys, c->db, f->grade, f->key_version));
        field_ad(&ad, c, r, f);
        if (r->data[f->ct_off] != VC_FIELD_FORMAT_V3)
            ad.record_key = NULL; /* formats 1 and 2 ignore it anyway */
        GUARD(vc_field_open(pt, cap, &ptlen, key, &ad, r->data + f->ct_off, f->ct_len));
        /* Fetched after the old key is used: a fetch may evict other cached keys. */
        GUARD(keyring_grade_key(&key, c->keys, c->db, grade, target));
        f->key_version = target;
        field_ad(&ad, c, r, f);
        GUARD(vc_field_seal(ct, cap, &ctlen, key, &ad, pt, ptlen));
        vc_wipe(pt, ptlen);
        GUARD(data_add(&f->ct_off, r, ct, ctlen));
        f->ct_len = ctlen;
        (*moved)++;
    }
    if (bad_cap)
        bad_field[0] = '\0';
cleanup:
    vc_free(pt); /* vc_free wipes */
    free(ct);
    return rc;
}

typedef struct find_ctx {
    const uint8_t *digest;
    const char *field;
    int match;
} find_ctx;

static int find_fn(void *arg, const store_record *row)
{
    find_ctx *c = arg;
    size_t i;

    for (i = 0; i < row->nfields; i++) {
        if (strcmp(row->fields[i].name, c->field) == 0)
            c->match = row->fields[i].digest_len == VC_BIDX_BYTES &&
                       sodium_memcmp(row->fields[i].digest, c->digest, VC_BIDX_BYTES) == 0;
    }
    return VAULT_OK;
}

int record_find(uint8_t **out, size_t *out_count, const record_ctx *c, const vp_field *f,
                const char *value, size_t len)
{
    int rc = VAULT_OK;
    uint8_t digest[VC_BIDX_BYTES];
    uint8_t *ids = NULL, *rkey = NULL;
    size_t n = 0, i, k = 0;
    find_ctx fc;

    *out = NULL;
    *out_count = 0;
    ENSURE(f->index_exact, VAULT_EINVALID,
           "field '%s' has no exact index (declare `index: exact` in the policy)", f->name);
    GUARD(value_check(value, len, f->name));
    GUARD(vc_blind_index(digest, keyring_bidx_root(c->keys), f->name, value, len));
    GUARD(store_bidx_find(&ids, &n, c->db, f->name, digest, sizeof digest));
    /* The index rows carry no MAC: keep the candidates whose MAC'd record
     * has this digest. */
    for (i = 0; i < n; i++) {
        fc.digest = digest;
        fc.field = f->name;
        fc.match = 0;
        rc = store_record_get(c->db, ids + i * VAULT_ID_BYTES, find_fn, &fc);
        if (rc == VAULT_ENOTFOUND) {
            rc = VAULT_OK;
            continue;
        }
        GUARD(rc);
        if (fc.match) { /* an erased record's remains find nothing */
            int erased = 0;

            if (!rkey && !(rkey = vc_malloc(RECKEY_BYTES)))
                GUARD(vault__err(VAULT_ENOMEM, "out of secure memory"));
            rc = reckeys_get(rkey, &erased, c->rk, ids + i * VAULT_ID_BYTES);
            if (rc == VAULT_ENOTFOUND) {
                vault__err_clear();
                rc = VAULT_OK;
                if (erased)
                    continue;
                /* no row: an older record (kept), or a key missing, which
                 * the caller's record_load reports */
            }
            GUARD(rc);
        }
        if (fc.match)
            memmove(ids + k++ * VAULT_ID_BYTES, ids + i * VAULT_ID_BYTES, VAULT_ID_BYTES);
    }
    *out = ids;
    *out_count = k;
    ids = NULL;
cleanup:
    free(ids);
    vc_free(rkey);
    return rc;
}

int record_erase(const record_ctx *c, const uint8_t id[VAULT_ID_BYTES])
{
    int rc = VAULT_OK;

    GUARD(reckeys_erase(c->rk, id)); /* the tombstone, also over no key */
    GUARD(store_record_delete(c->db, id));
cleanup:
    return rc;
}

int record_reindex(store_field *fields, size_t *reindexed, int *erased, const record_ctx *c,
                   const store_record *row, const uint8_t bidx_root[VC_KEYBYTES])
{
    int rc = VAULT_OK, gone;
    record_row r;
    size_t i, len = 0;
    char *pt = NULL;

    record_row_init(&r);
    *reindexed = 0;
    *erased = 0;
    GUARD(record_copy(&r, row));
    gone = record_erased(c, &r);
    GUARD(gone);
    *erased = gone;
    for (i = 0; i < row->nfields; i++) {
        fields[i] = row->fields[i];
        if (row->fields[i].digest_len == 0)
            continue;
        /* An erased record's remains keep no digest: one under the old
         * key could still be tried against guessed values. */
        fields[i].digest_len = 0;
        if (gone)
            continue;
        GUARD(record_open_secure(&pt, &len, c, &r, row->fields[i].name));
        GUARD(vc_blind_index(fields[i].digest, bidx_root, row->fields[i].name, pt, len));
        fields[i].digest_len = VC_BIDX_BYTES;
        vc_free(pt);
        pt = NULL;
        (*reindexed)++;
    }
cleanup:
    vc_free(pt);
    record_row_free(&r);
    return rc;
}

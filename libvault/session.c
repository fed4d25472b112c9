/* session: who is acting; every public data call decides through the
 * policy before it touches a record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "mask.h"
#include "vault_int.h"

typedef struct result_item {
    char field[VAULT_NAME_MAX];
    int effect;
    int present;
    char *value; /* sodium_malloc'ed, NUL-terminated */
    size_t len;
    vault_reason reason;
} result_item;

struct vault_result {
    size_t n;
    result_item *items;
};

static int copy_name(char *dst, size_t cap, const char *src, const char *what)
{
    int rc = vault__name_check(src, what);

    if (rc == VAULT_OK)
        snprintf(dst, cap, "%s", src);
    return rc;
}

int vault_session_open(vault_session **out, vault *v, const vault_subject *subject)
{
    int rc = VAULT_OK, entered = 0;
    vault_session *s = NULL;

    ENSURE(out && subject, VAULT_EINVALID, "missing session output or subject");
    *out = NULL;
    GUARD(vault__enter(v));
    entered = 1;
    s = calloc(1, sizeof *s);
    ENSURE(s, VAULT_ENOMEM, "out of memory");
    s->v = v;
    GUARD(copy_name(s->user, sizeof s->user, subject->user, "user"));
    GUARD(copy_name(s->role, sizeof s->role, subject->role, "role"));
    GUARD(copy_name(s->department, sizeof s->department, subject->department, "department"));
    GUARD(copy_name(s->purpose, sizeof s->purpose, subject->purpose, "purpose"));
    GUARD(vault__jurisdiction_check(subject->jurisdiction, "subject jurisdiction"));
    snprintf(s->jurisdiction, sizeof s->jurisdiction, "%s", subject->jurisdiction);
    ENSURE(policy_has_role(v->policy, s->role), VAULT_EINVALID,
           "role '%s' is not declared in the vault's policy", s->role);
    ENSURE(policy_has_department(v->policy, s->department), VAULT_EINVALID,
           "department '%s' is not declared in the vault's policy", s->department);
    ENSURE(policy_has_purpose(v->policy, s->purpose), VAULT_EINVALID,
           "purpose '%s' is not declared in the vault's policy", s->purpose);
    s->subject.user = s->user;
    s->subject.role = s->role;
    s->subject.department = s->department;
    s->subject.jurisdiction = s->jurisdiction;
    *out = s;
    s = NULL;
cleanup:
    if (entered)
        vault__leave(v);
    free(s);
    return rc;
}

void vault_session_close(vault_session *s)
{
    free(s);
}

/* Start a public call on a session: lock the vault. */
static int enter(vault_session *s)
{
    if (!s)
        return vault__err(VAULT_EINVALID, "no session");
    return vault__enter(s->v);
}

static void request_init(vp_request *r, const vault_session *s, int action, const char *record_id,
                         const char *jurisdiction, const char *field)
{
    r->subject = &s->subject;
    r->action = action;
    r->purpose = s->purpose;
    r->record_id = record_id;
    r->record_jurisdiction = jurisdiction;
    r->field = field;
    r->now = vault__now();
}

static const char *action_name(int action)
{
    static const char *const names[] = {"read", "write", "create", "search", "erase", "export"};

    return action >= 0 && action < (int)VAULT_ARRAY_LEN(names) ? names[action] : "unknown";
}

/* Decide; a decision error is a deny (fail closed) and is reported. */
static int decide(vp_decision *d, const vault_session *s, int action, const char *record_id,
                  const char *jurisdiction, const char *field)
{
    vp_request r;

    request_init(&r, s, action, record_id, jurisdiction, field);
    return policy_decide(d, s->v->policy, NULL, &r);
}

/* Fail with VAULT_EDENIED unless the decision allows (mask is not enough
 * for write, create, erase). */
static int require_allow(const vp_decision *d, int action, const char *what)
{
    vault_reason reason;

    if (d->effect == VAULT_EFFECT_ALLOW)
        return VAULT_OK;
    policy_reason_fill(&reason, d);
    return vault__err(VAULT_EDENIED, "%s denied for %s: %s", action_name(action), what,
                      reason.text);
}

static int record_lookup(uint8_t id[VAULT_ID_BYTES], store_record *rec, vault *v,
                         const char *record_id)
{
    int rc = VAULT_OK;

    GUARD(vault__id_parse(id, record_id));
    GUARD(store_record_get(rec, v->db, id));
cleanup:
    return rc;
}

int vault_decide(vault_reason *out, vault_session *s, int action, const char *record_id,
                 const char *field)
{
    int rc = VAULT_OK, entered = 0;
    uint8_t id[VAULT_ID_BYTES];
    store_record rec;
    vp_decision d;
    char canon[VAULT_ID_HEX_SIZE];

    ENSURE(out, VAULT_EINVALID, "missing output");
    GUARD(enter(s));
    entered = 1;
    GUARD(record_lookup(id, &rec, s->v, record_id));
    vault__id_format(canon, id);
    ENSURE(!field || policy_field(s->v->policy, field), VAULT_EINVALID,
           "field '%s' is not declared in the policy", field);
    (void)decide(&d, s, action, canon, rec.jurisdiction, field);
    policy_reason_fill(out, &d);
cleanup:
    if (entered)
        vault__leave(s->v);
    return rc;
}

int vault_explain(char **out, vault_session *s, int action, const char *record_id,
                  const char *field)
{
    int rc = VAULT_OK, entered = 0;
    uint8_t id[VAULT_ID_BYTES];
    store_record rec;
    vp_request r;
    char canon[VAULT_ID_HEX_SIZE];

    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    GUARD(enter(s));
    entered = 1;
    GUARD(record_lookup(id, &rec, s->v, record_id));
    vault__id_format(canon, id);
    request_init(&r, s, action, canon, rec.jurisdiction, field);
    GUARD(policy_explain(out, s->v->policy, NULL, &r));
cleanup:
    if (entered)
        vault__leave(s->v);
    return rc;
}

int vault_who_can(char **out, vault *v, const char *field, const char *record_id, int as_json)
{
    int rc = VAULT_OK, entered = 0;
    uint8_t id[VAULT_ID_BYTES];
    store_record rec;
    char canon[VAULT_ID_HEX_SIZE];

    ENSURE(out && field, VAULT_EINVALID, "missing output or field");
    *out = NULL;
    GUARD(vault__enter(v));
    entered = 1;
    ENSURE(policy_field(v->policy, field), VAULT_EINVALID,
           "field '%s' is not declared in the policy", field);
    if (record_id) {
        GUARD(record_lookup(id, &rec, v, record_id));
        vault__id_format(canon, id);
        GUARD(policy_who_can(out, v->policy, NULL, field, canon, rec.jurisdiction, vault__now(),
                             as_json));
    } else {
        GUARD(policy_who_can(out, v->policy, NULL, field, NULL, NULL, vault__now(), as_json));
    }
cleanup:
    if (entered)
        vault__leave(v);
    return rc;
}

/* Decide and write n fields of a record already read into rec, inside the
 * caller's write transaction. */
static int put_fields(vault_session *s, const uint8_t id[VAULT_ID_BYTES], const store_record *rec,
                      size_t n, const char *const *fields, const char *const *values,
                      const size_t *lens, int64_t now)
{
    int rc = VAULT_OK;
    size_t i;
    const vp_field *f;
    vp_decision d;
    char canon[VAULT_ID_HEX_SIZE];
    uint8_t ct_hash[VC_SHA256_BYTES];

    vault__id_format(canon, id);
    ENSURE(n == 0 || (fields && values && lens), VAULT_EINVALID, "missing fields or values");
    for (i = 0; i < n; i++) {
        ENSURE(fields[i], VAULT_EINVALID, "missing field name");
        f = policy_field(s->v->policy, fields[i]);
        ENSURE(f, VAULT_EINVALID, "field '%s' is not declared in the policy", fields[i]);
        (void)decide(&d, s, VAULT_ACTION_WRITE, canon, rec->jurisdiction, f->name);
        GUARD(require_allow(&d, VAULT_ACTION_WRITE, f->name));
        GUARD(record_put(ct_hash, s->v, id, f, values[i], lens[i], now));
    }
cleanup:
    return rc;
}

int vault_record_add(char *out_id, size_t out_id_size, vault_session *s, const char *jurisdiction,
                     size_t n, const char *const *fields, const char *const *values,
                     const size_t *value_lens)
{
    int rc = VAULT_OK, entered = 0;
    uint8_t id[VAULT_ID_BYTES];
    vp_decision d;
    store_record rec;
    int64_t now = vault__now();

    ENSURE(out_id && out_id_size >= VAULT_ID_HEX_SIZE, VAULT_EINVALID,
           "record id buffer too small");
    GUARD(enter(s));
    entered = 1;
    GUARD(vault__jurisdiction_check(jurisdiction, "jurisdiction"));
    (void)decide(&d, s, VAULT_ACTION_CREATE, NULL, jurisdiction, NULL);
    GUARD(require_allow(&d, VAULT_ACTION_CREATE, "a record"));
    GUARD(store_begin(s->v->db, 1));
    GUARD(record_create(id, s->v, jurisdiction, now));
    GUARD(store_record_get(&rec, s->v->db, id));
    GUARD(put_fields(s, id, &rec, n, fields, values, value_lens, now));
    GUARD(store_commit(s->v->db));
    vault__id_format(out_id, id);
cleanup:
    if (entered) {
        if (store_in_tx(s->v->db))
            store_rollback(s->v->db);
        vault__leave(s->v);
    }
    return rc;
}

int vault_record_create(char *out_id, size_t out_id_size, vault_session *s,
                        const char *jurisdiction)
{
    return vault_record_add(out_id, out_id_size, s, jurisdiction, 0, NULL, NULL, NULL);
}

int vault_record_update(vault_session *s, const char *record_id, size_t n,
                        const char *const *fields, const char *const *values,
                        const size_t *value_lens)
{
    int rc = VAULT_OK, entered = 0;
    uint8_t id[VAULT_ID_BYTES];
    store_record rec;

    GUARD(enter(s));
    entered = 1;
    GUARD(vault__id_parse(id, record_id));
    GUARD(store_begin(s->v->db, 1));
    GUARD(store_record_get(&rec, s->v->db, id));
    GUARD(put_fields(s, id, &rec, n, fields, values, value_lens, vault__now()));
    GUARD(store_commit(s->v->db));
cleanup:
    if (entered) {
        if (store_in_tx(s->v->db))
            store_rollback(s->v->db);
        vault__leave(s->v);
    }
    return rc;
}

int vault_record_put(vault_session *s, const char *record_id, const char *field, const char *value,
                     size_t value_len)
{
    return vault_record_update(s, record_id, 1, &field, &value, &value_len);
}

static int result_new(vault_result **out, size_t n)
{
    vault_result *r = calloc(1, sizeof *r);

    if (!r)
        return vault__err(VAULT_ENOMEM, "out of memory");
    r->items = calloc(n ? n : 1, sizeof *r->items);
    if (!r->items) {
        free(r);
        return vault__err(VAULT_ENOMEM, "out of memory");
    }
    r->n = n;
    *out = r;
    return VAULT_OK;
}

/* Fill one result item: decide, open, mask. */
static int read_field(result_item *it, vault_session *s, const uint8_t id[VAULT_ID_BYTES],
                      const char *canon, const store_record *rec, const vp_field *f, int64_t now)
{
    int rc = VAULT_OK;
    vp_decision d;
    char *pt = NULL;
    size_t ptlen = 0;

    snprintf(it->field, sizeof it->field, "%s", f->name);
    (void)decide(&d, s, VAULT_ACTION_READ, canon, rec->jurisdiction, f->name);
    policy_reason_fill(&it->reason, &d);
    it->effect = d.effect;
    if (d.effect == VAULT_EFFECT_DENY)
        goto cleanup;
    rc = record_get(&pt, &ptlen, s->v, id, f);
    if (rc == VAULT_ENOTFOUND) { /* no value stored: not an error */
        rc = VAULT_OK;
        vault__err_clear();
        goto cleanup;
    }
    GUARD(rc);
    it->present = 1;
    if (d.effect == VAULT_EFFECT_ALLOW) {
        it->value = pt;
        it->len = ptlen;
        pt = NULL;
    } else {
        GUARD(mask_apply(&it->value, &it->len,
                         d.mask == VAULT_MASK_NONE ? VAULT_MASK_REDACT : d.mask, pt, ptlen,
                         (time_t)now));
    }
cleanup:
    vc_free(pt);
    return rc;
}

int vault_record_get(vault_result **out, vault_session *s, const char *record_id,
                     const char *const *fields, size_t nfields)
{
    int rc = VAULT_OK, entered = 0;
    uint8_t id[VAULT_ID_BYTES];
    store_record rec;
    vault_result *r = NULL;
    const vp_field *f;
    char canon[VAULT_ID_HEX_SIZE];
    size_t i, n;
    int64_t now = vault__now();

    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    GUARD(enter(s));
    entered = 1;
    n = fields ? nfields : policy_field_count(s->v->policy);
    for (i = 0; fields && i < n; i++)
        ENSURE(fields[i] && policy_field(s->v->policy, fields[i]), VAULT_EINVALID,
               "field '%s' is not declared in the policy", fields[i] ? fields[i] : "(null)");
    GUARD(vault__id_parse(id, record_id));
    vault__id_format(canon, id);
    GUARD(result_new(&r, n));
    GUARD(store_begin(s->v->db, 0));
    GUARD(store_record_get(&rec, s->v->db, id));
    for (i = 0; i < n; i++) {
        f = fields ? policy_field(s->v->policy, fields[i]) : policy_field_at(s->v->policy, i);
        GUARD(read_field(&r->items[i], s, id, canon, &rec, f, now));
    }
    /* The audit entry for this read is appended here, in this transaction,
     * and committed before any value leaves the library. */
    GUARD(store_commit(s->v->db));
    *out = r;
    r = NULL;
cleanup:
    if (entered) {
        if (store_in_tx(s->v->db))
            store_rollback(s->v->db);
        vault__leave(s->v);
    }
    vault_result_free(r);
    return rc;
}

size_t vault_result_count(const vault_result *r)
{
    return r ? r->n : 0;
}

const char *vault_result_field(const vault_result *r, size_t i)
{
    return r && i < r->n ? r->items[i].field : NULL;
}

int vault_result_effect(const vault_result *r, size_t i)
{
    return r && i < r->n ? r->items[i].effect : VAULT_EFFECT_DENY;
}

int vault_result_present(const vault_result *r, size_t i)
{
    return r && i < r->n ? r->items[i].present : 0;
}

const char *vault_result_value(const vault_result *r, size_t i, size_t *out_len)
{
    if (!r || i >= r->n || !r->items[i].value) {
        if (out_len)
            *out_len = 0;
        return NULL;
    }
    if (out_len)
        *out_len = r->items[i].len;
    return r->items[i].value;
}

const vault_reason *vault_result_reason(const vault_result *r, size_t i)
{
    return r && i < r->n ? &r->items[i].reason : NULL;
}

void vault_result_free(vault_result *r)
{
    size_t i;

    if (!r)
        return;
    for (i = 0; i < r->n; i++)
        vc_free(r->items[i].value); /* sodium_free wipes */
    free(r->items);
    free(r);
}

int vault_record_find(char **out, size_t *out_count, vault_session *s, const char *field,
                      const char *value, size_t value_len)
{
    int rc = VAULT_OK, entered = 0;
    const vp_field *f;
    uint8_t *ids = NULL;
    size_t n = 0, i, kept = 0;
    char *hex = NULL;
    char canon[VAULT_ID_HEX_SIZE];
    store_record rec;
    vp_decision d;

    ENSURE(out && out_count, VAULT_EINVALID, "missing output");
    *out = NULL;
    *out_count = 0;
    GUARD(enter(s));
    entered = 1;
    ENSURE(field && value, VAULT_EINVALID, "missing field or value");
    f = policy_field(s->v->policy, field);
    ENSURE(f, VAULT_EINVALID, "field '%s' is not declared in the policy", field);
    /* Refuse outright when no record even in the subject's own jurisdiction
     * could be searched; otherwise filter candidates record by record. */
    (void)decide(&d, s, VAULT_ACTION_SEARCH, NULL, s->jurisdiction, field);
    if (d.effect == VAULT_EFFECT_DENY)
        GUARD(require_allow(&d, VAULT_ACTION_SEARCH, field));
    GUARD(store_begin(s->v->db, 0));
    GUARD(record_find(&ids, &n, s->v, f, value, value_len));
    hex = malloc(n ? n * VAULT_ID_HEX_SIZE : 1);
    ENSURE(hex, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        GUARD(store_record_get(&rec, s->v->db, ids + i * VAULT_ID_BYTES));
        vault__id_format(canon, ids + i * VAULT_ID_BYTES);
        (void)decide(&d, s, VAULT_ACTION_SEARCH, canon, rec.jurisdiction, field);
        if (d.effect == VAULT_EFFECT_DENY)
            continue;
        memcpy(hex + kept * VAULT_ID_HEX_SIZE, canon, VAULT_ID_HEX_SIZE);
        kept++;
    }
    GUARD(store_commit(s->v->db));
    *out = hex;
    *out_count = kept;
    hex = NULL;
cleanup:
    if (entered) {
        if (store_in_tx(s->v->db))
            store_rollback(s->v->db);
        vault__leave(s->v);
    }
    free(ids);
    free(hex);
    return rc;
}

int vault_record_jurisdiction(char *out, size_t out_size, vault_session *s, const char *record_id)
{
    int rc = VAULT_OK, entered = 0;
    uint8_t id[VAULT_ID_BYTES];
    store_record rec;

    ENSURE(out && out_size > VAULT_JURISDICTION_MAX, VAULT_EINVALID, "output buffer too small");
    GUARD(enter(s));
    entered = 1;
    GUARD(record_lookup(id, &rec, s->v, record_id));
    snprintf(out, out_size, "%s", rec.jurisdiction);
cleanup:
    if (entered)
        vault__leave(s->v);
    return rc;
}

int vault_record_erase(vault_session *s, const char *record_id)
{
    int rc = VAULT_OK, entered = 0;
    uint8_t id[VAULT_ID_BYTES];
    store_record rec;
    vp_decision d;
    char canon[VAULT_ID_HEX_SIZE];

    GUARD(enter(s));
    entered = 1;
    GUARD(vault__id_parse(id, record_id));
    vault__id_format(canon, id);
    GUARD(store_begin(s->v->db, 1));
    GUARD(store_record_get(&rec, s->v->db, id));
    (void)decide(&d, s, VAULT_ACTION_ERASE, canon, rec.jurisdiction, NULL);
    GUARD(require_allow(&d, VAULT_ACTION_ERASE, "the record"));
    GUARD(record_erase(s->v, id));
    GUARD(store_commit(s->v->db));
cleanup:
    if (entered) {
        if (store_in_tx(s->v->db))
            store_rollback(s->v->db);
        vault__leave(s->v);
    }
    return rc;
}

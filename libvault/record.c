/* record: resident records stored as sealed fields (no policy here: the
 * session layer decides before it calls these). */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "vault_int.h"

int record_create(uint8_t out_id[VAULT_ID_BYTES], vault *v, const char *jurisdiction, int64_t now)
{
    int rc = VAULT_OK;

    GUARD(vault__jurisdiction_check(jurisdiction, "jurisdiction"));
    vc_random(out_id, VAULT_ID_BYTES);
    GUARD(store_record_insert(v->db, out_id, jurisdiction, now));
cleanup:
    return rc;
}

/* Check that a value is valid UTF-8 without NUL bytes.  The message never
 * shows the value. */
static int value_check(const char *value, size_t len, const char *field)
{
    const unsigned char *s = (const unsigned char *)value;
    size_t i = 0, n, k;
    uint32_t cp;

    if (len > VAULT_VALUE_MAX)
        return vault__err(VAULT_ELIMIT, "value of field '%s' is longer than %d bytes", field,
                          VAULT_VALUE_MAX);
    while (i < len) {
        if (s[i] == 0)
            return vault__err(VAULT_EINVALID, "value of field '%s' contains a NUL byte", field);
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if ((s[i] & 0xE0) == 0xC0) {
            n = 1;
            cp = s[i] & 0x1F;
        } else if ((s[i] & 0xF0) == 0xE0) {
            n = 2;
            cp = s[i] & 0x0F;
        } else if ((s[i] & 0xF8) == 0xF0) {
            n = 3;
            cp = s[i] & 0x07;
        } else {
            return vault__err(VAULT_EINVALID, "value of field '%s' is not valid UTF-8", field);
        }
        if (i + n >= len)
            return vault__err(VAULT_EINVALID, "value of field '%s' is not valid UTF-8", field);
        for (k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return vault__err(VAULT_EINVALID, "value of field '%s' is not valid UTF-8", field);
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return vault__err(VAULT_EINVALID, "value of field '%s' is not valid UTF-8", field);
        i += n + 1;
    }
    return VAULT_OK;
}

static void field_ad(vc_field_ad *ad, const vault *v, const uint8_t *id, const vp_field *f,
                     const char *grade, uint32_t version, int64_t counter)
{
    ad->vault_id = v->id;
    ad->record_id = id;
    ad->field = f->name;
    ad->grade = grade;
    ad->key_version = version;
    ad->counter = counter;
}

/* counter: set by the storage v2 change.  The store keeps no per-field
 * write counter yet, and the record's version moves on every write of any
 * of its fields (store_record_touch), so a field sealed at version N would
 * not open at N + 1: every field is sealed and opened with counter 1 until
 * the record row carries each field's counter. */
#define FIELD_COUNTER_UNTRACKED 1

int record_put(uint8_t *out_ct_hash, vault *v, const uint8_t id[VAULT_ID_BYTES], const vp_field *f,
               const char *value, size_t len, int64_t now)
{
    int rc = VAULT_OK;
    const uint8_t *key = NULL;
    uint32_t version = 0;
    uint8_t *ct = NULL;
    size_t ctlen = 0;
    uint8_t digest[VC_BIDX_BYTES];
    const char *grade = policy_grade_name(v->policy, (size_t)f->grade);
    vc_field_ad ad;

    ENSURE(value || len == 0, VAULT_EINVALID, "missing value");
    GUARD(value_check(value, len, f->name));
    GUARD(keyring_grade_key_latest(&key, &version, v->keys, v->db, grade, now));
    ct = malloc(len + VC_FIELD_OVERHEAD);
    ENSURE(ct, VAULT_ENOMEM, "out of memory");
    field_ad(&ad, v, id, f, grade, version, FIELD_COUNTER_UNTRACKED);
    GUARD(vc_field_seal(ct, len + VC_FIELD_OVERHEAD, &ctlen, key, &ad, (const uint8_t *)value, len));
    GUARD(store_field_put(v->db, id, f->name, grade, version, ct, ctlen, now));
    if (f->index_exact) {
        GUARD(vc_blind_index(digest, keyring_bidx_root(v->keys), f->name, value, len));
        GUARD(store_bidx_put(v->db, f->name, digest, sizeof digest, id));
    }
    if (out_ct_hash)
        vc_sha256(out_ct_hash, ct, ctlen);
cleanup:
    free(ct);
    return rc;
}

static char *secure_alloc(void *arg, size_t n)
{
    (void)arg;
    return vc_malloc(n);
}

int record_get(char **out, size_t *out_len, vault *v, const uint8_t id[VAULT_ID_BYTES],
               const vp_field *f)
{
    char *pt = NULL;
    int rc = record_get_with(&pt, out_len, v, id, f, secure_alloc, NULL);

    if (rc < 0) {
        vc_free(pt);
        pt = NULL;
    }
    *out = pt;
    return rc;
}

int record_get_with(char **out, size_t *out_len, vault *v, const uint8_t id[VAULT_ID_BYTES],
                    const vp_field *f, record_alloc_fn alloc, void *arg)
{
    int rc = VAULT_OK;
    uint8_t *ct = NULL;
    size_t ctlen = 0, ptlen = 0;
    char grade[VAULT_NAME_MAX];
    uint32_t version = 0;
    const uint8_t *key = NULL;
    char *pt = NULL;
    vc_field_ad ad;

    *out = NULL;
    GUARD(store_field_get(&ct, &ctlen, grade, &version, v->db, id, f->name));
    ENSURE(ctlen >= VC_FIELD_OVERHEAD, VAULT_EINTEGRITY,
           "field '%s' failed its integrity check (ciphertext too short)", f->name);
    GUARD(keyring_grade_key(&key, v->keys, v->db, grade, version));
    pt = alloc(arg, ctlen - VC_FIELD_OVERHEAD + 1);
    ENSURE(pt, VAULT_ENOMEM, "out of secure memory");
    /* Handed out now, so the caller can wipe and release it on failure. */
    *out = pt;
    field_ad(&ad, v, id, f, grade, version, FIELD_COUNTER_UNTRACKED);
    GUARD(vc_field_open((uint8_t *)pt, ctlen - VC_FIELD_OVERHEAD, &ptlen, key, &ad, ct, ctlen));
    pt[ptlen] = '\0';
    *out_len = ptlen;
cleanup:
    free(ct);
    return rc;
}

int record_find(uint8_t **out, size_t *out_count, vault *v, const vp_field *f, const char *value,
                size_t len)
{
    int rc = VAULT_OK;
    uint8_t digest[VC_BIDX_BYTES];

    ENSURE(f->index_exact, VAULT_EINVALID,
           "field '%s' has no exact index (declare `index: exact` in the policy)", f->name);
    GUARD(value_check(value, len, f->name));
    GUARD(vc_blind_index(digest, keyring_bidx_root(v->keys), f->name, value, len));
    GUARD(store_bidx_find(out, out_count, v->db, f->name, digest, sizeof digest));
cleanup:
    return rc;
}

int record_erase(vault *v, const uint8_t id[VAULT_ID_BYTES])
{
    return store_record_delete(v->db, id);
}

/* Test helpers that reach below the public API into stored record rows
 * (header-only; include after vault_int.h and testutil.h). */
#ifndef VAULT_TESTROW_H
#define VAULT_TESTROW_H

#include <sodium.h>

#include "vault_int.h"
#include "testsnap.h"

/* A copy of one stored field's ciphertext (malloc'ed), its grade (grade
 * may be NULL, else VAULT_NAME_MAX bytes) and key version (may be NULL). */
static inline uint8_t *tu_raw_get(vault *v, const uint8_t id[VAULT_ID_BYTES], const char *field,
                                  size_t *len, char *grade, uint32_t *version)
{
    record_row row = {0};
    uint8_t *ct = NULL;
    size_t i;

    assert_int_equal(TU_SNAP(v->db, record_load(&row, VAULT__RX(v), id)), 0);
    for (i = 0; i < row.nfields; i++) {
        const record_field *rf = &row.fields[i];
        if (strcmp(rf->name, field) != 0)
            continue;
        ct = malloc(rf->ct_len);
        assert_non_null(ct);
        memcpy(ct, row.data + rf->ct_off, rf->ct_len);
        *len = rf->ct_len;
        if (grade)
            snprintf(grade, VAULT_NAME_MAX, "%s", rf->grade);
        if (version)
            *version = rf->key_version;
    }
    record_row_free(&row);
    if (!ct)
        fail_msg("the record has no field %s", field);
    return ct;
}

/* Replace one field's ciphertext (and grade and key version) through the
 * store, which tags the row anew: what someone holding the master key
 * could do.  Without it the row MAC fails first (tests/cli/test_tamper.sh). */
static inline void tu_raw_put(vault *v, const uint8_t id[VAULT_ID_BYTES], const char *field,
                              const char *grade, uint32_t version, const uint8_t *ct, size_t len)
{
    record_row row = {0};
    store_field sf[32];
    store_record r;
    size_t i;
    int hit = 0;

    assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
    assert_int_equal(record_load(&row, VAULT__RX(v), id), 0);
    assert_true(row.nfields < 32);
    memset(&r, 0, sizeof r);
    memcpy(r.id, row.id, VAULT_ID_BYTES);
    r.jurisdiction = row.jurisdiction;
    r.created = row.created;
    r.updated = row.updated;
    r.version = row.version;
    for (i = 0; i < row.nfields; i++) {
        const record_field *rf = &row.fields[i];
        int this = strcmp(rf->name, field) == 0;
        hit |= this;
        memset(&sf[i], 0, sizeof sf[i]);
        sf[i].name = rf->name;
        sf[i].grade = this ? grade : rf->grade;
        sf[i].key_version = this ? version : rf->key_version;
        sf[i].counter = rf->counter;
        sf[i].ct = this ? ct : row.data + rf->ct_off;
        sf[i].ct_len = this ? len : rf->ct_len;
        memcpy(sf[i].digest, rf->digest, rf->digest_len);
        sf[i].digest_len = rf->digest_len;
    }
    if (!hit) { /* a field the record had no value for, in its name order */
        size_t at = i;
        while (at > 0 && strcmp(sf[at - 1].name, field) > 0)
            at--;
        memmove(&sf[at + 1], &sf[at], (i - at) * sizeof sf[0]);
        memset(&sf[at], 0, sizeof sf[at]);
        sf[at].name = field;
        sf[at].grade = grade;
        sf[at].key_version = version;
        sf[at].counter = row.version;
        sf[at].ct = ct;
        sf[at].ct_len = len;
        i++;
    }
    r.nfields = i;
    r.fields = sf;
    assert_int_equal(store_record_write(v->db, &r, 0), 0);
    assert_int_equal(store_commit(v->db), 0);
    record_row_free(&row);
}

/* A record row with no fields, written through the store. */
static inline void tu_raw_create(vault *v, const uint8_t id[VAULT_ID_BYTES], const char *jurisdiction)
{
    store_record r;
    uint8_t key[RECKEY_BYTES];

    /* A key of its own in this vault's record-key store, as a record the
     * library creates has (a ciphertext moved in from elsewhere then fails
     * its check, rather than finding no key). */
    memset(&r, 0, sizeof r);
    memcpy(r.id, id, VAULT_ID_BYTES);
    r.jurisdiction = jurisdiction;
    r.version = 1;
    randombytes_buf(key, sizeof key);
    assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
    assert_int_equal(reckeys_put(v->rk, id, key), 0);
    assert_int_equal(store_record_write(v->db, &r, 1), 0);
    assert_int_equal(store_commit(v->db), 0);
}

/* The stored version of a record. */
static inline int64_t tu_raw_version(vault *v, const uint8_t id[VAULT_ID_BYTES])
{
    record_row row = {0};
    int64_t n;

    assert_int_equal(TU_SNAP(v->db, record_load(&row, VAULT__RX(v), id)), 0);
    n = row.version;
    record_row_free(&row);
    return n;
}

#endif

/* reckeys: the record-key store (reckeys.h, docs/erasure.md). */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "reckeys.h"

/* A record's key is the meta row "rk/<32 hex of the id>" of the key
 * store: nonce(24) | wrapped key | tag(16) under the record-key wrap key,
 * with associated data RECKEY_AD_LABEL | vault id | record id.  The row's
 * MAC (store.c) binds the name to the bytes too. */
#define RECKEY_AD_LABEL "libvault/reckey/v1"
#define RECKEY_WRAPPED (RECKEY_BYTES + VC_WRAP_OVERHEAD)
#define RECKEY_NAME_SIZE (3 + 2 * VAULT_ID_BYTES + 1)
/* What an erased record's row holds instead of its key: this one byte
 * (MAC'd like the key was), so "erased" is something the store says,
 * never just a row that is not there (a key store older than the data, or
 * a row deleted behind libvault, is an integrity failure instead). */
#define RECKEY_TOMBSTONE 0x00
/* The meta row that names the vault a key store belongs to. */
#define RECKEYS_META_VAULT "reckeys_vault_id"

enum { TX_NONE = 0, TX_SNAPSHOT = 1, TX_WRITE = 2 };

struct reckeys {
    store *st;
    keyring *keys;
    uint8_t vault_id[VAULT_ID_BYTES];
    int tx;
    size_t bulk; /* reckeys_bulk_begin's expected count (0: no bulk load) */
};

int reckeys_location(char **out, const char *location)
{
    return store_location_sibling(out, location, "rkeys");
}

store *reckeys_store(reckeys *r) { return r->st; }

static void key_name(char out[RECKEY_NAME_SIZE], const uint8_t id[VAULT_ID_BYTES])
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    memcpy(out, "rk/", 3);
    for (i = 0; i < VAULT_ID_BYTES; i++) {
        out[3 + 2 * i] = hex[id[i] >> 4];
        out[4 + 2 * i] = hex[id[i] & 15];
    }
    out[RECKEY_NAME_SIZE - 1] = '\0';
}

static size_t key_ad(uint8_t *ad, const reckeys *r, const uint8_t id[VAULT_ID_BYTES])
{
    size_t n = sizeof RECKEY_AD_LABEL - 1;

    memcpy(ad, RECKEY_AD_LABEL, n);
    memcpy(ad + n, r->vault_id, VAULT_ID_BYTES);
    memcpy(ad + n + VAULT_ID_BYTES, id, VAULT_ID_BYTES);
    return n + 2 * VAULT_ID_BYTES;
}

/* The key store in a transaction of at least `want`. */
static int need(reckeys *r, int want)
{
    int rc = VAULT_OK;

    if (r->tx >= want)
        return VAULT_OK;
    if (r->tx == TX_SNAPSHOT) { /* read only: nothing to keep */
        store_rollback(r->st);
        r->tx = TX_NONE;
    }
    GUARD(store_begin(r->st, want == TX_WRITE ? STORE_TX_WRITE : STORE_TX_SNAPSHOT));
    r->tx = want;
    if (want == TX_WRITE && r->bulk)
        GUARD(store_bulk_begin(r->st, r->bulk));
cleanup:
    return rc;
}

static int identity(reckeys *r, int create)
{
    int rc = VAULT_OK;
    uint8_t got[VAULT_ID_BYTES];
    size_t len = 0;

    GUARD(need(r, create ? TX_WRITE : TX_SNAPSHOT));
    if (create) {
        GUARD(store_meta_put(r->st, RECKEYS_META_VAULT, r->vault_id, VAULT_ID_BYTES));
        GUARD(store_commit(r->st));
        r->tx = TX_NONE;
        goto cleanup;
    }
    rc = store_meta_get(r->st, RECKEYS_META_VAULT, got, sizeof got, &len);
    ENSURE(rc != VAULT_ENOTFOUND, VAULT_EINTEGRITY, "record-key store: it names no vault");
    GUARD(rc);
    ENSURE(len == VAULT_ID_BYTES && memcmp(got, r->vault_id, VAULT_ID_BYTES) == 0, /* memcmp ok: not secret */
           VAULT_EINTEGRITY, "record-key store: it belongs to another vault");
cleanup:
    reckeys_end(r);
    return rc;
}

int reckeys_open(reckeys **out, const char *location, keyring *k,
                 const uint8_t vault_id[VAULT_ID_BYTES], int create)
{
    int rc = VAULT_OK;
    reckeys *r = NULL;

    *out = NULL;
    r = calloc(1, sizeof *r);
    ENSURE(r, VAULT_ENOMEM, "out of memory");
    r->keys = k;
    memcpy(r->vault_id, vault_id, VAULT_ID_BYTES);
    GUARD(store_open(&r->st, location, keyring_reckeys_db_key(k), create, keyring_row_guard(k),
                     NULL));
    GUARD(identity(r, create));
    *out = r;
    r = NULL;
cleanup:
    reckeys_close(r);
    return rc;
}

void reckeys_close(reckeys *r)
{
    if (!r)
        return;
    reckeys_end(r);
    store_close(r->st);
    free(r);
}

int reckeys_get(uint8_t out[RECKEY_BYTES], int *erased, reckeys *r,
                const uint8_t id[VAULT_ID_BYTES])
{
    int rc = VAULT_OK;
    char name[RECKEY_NAME_SIZE];
    uint8_t wrapped[RECKEY_WRAPPED + 1], ad[64];
    size_t len = 0, adlen, klen = 0;

    *erased = 0;
    ENSURE(r, VAULT_ESTATE, "no record-key store");
    GUARD(need(r, TX_SNAPSHOT));
    key_name(name, id);
    rc = store_meta_get(r->st, name, wrapped, sizeof wrapped, &len);
    if (rc == VAULT_ENOTFOUND)
        return vault__err(VAULT_ENOTFOUND, "the record-key store has no key for the record");
    GUARD(rc);
    if (len == 1 && wrapped[0] == RECKEY_TOMBSTONE) {
        *erased = 1;
        return vault__err(VAULT_ENOTFOUND, "the record was erased (its key is destroyed)");
    }
    ENSURE(len == RECKEY_WRAPPED, VAULT_EINTEGRITY, "record-key store: a key is malformed");
    adlen = key_ad(ad, r, id);
    rc = vc_unwrap(out, RECKEY_BYTES, &klen, keyring_reckey_wrap_key(r->keys), ad, adlen, wrapped,
                   len);
    ENSURE(rc == VAULT_OK && klen == RECKEY_BYTES, VAULT_EINTEGRITY,
           "record-key store: a record's key failed its check");
cleanup:
    return rc;
}

int reckeys_put(reckeys *r, const uint8_t id[VAULT_ID_BYTES], const uint8_t key[RECKEY_BYTES])
{
    int rc = VAULT_OK;
    char name[RECKEY_NAME_SIZE];
    uint8_t wrapped[RECKEY_WRAPPED], ad[64];
    size_t len = 0, adlen;

    ENSURE(r, VAULT_ESTATE, "no record-key store");
    GUARD(need(r, TX_WRITE));
    key_name(name, id);
    adlen = key_ad(ad, r, id);
    GUARD(vc_wrap(wrapped, sizeof wrapped, &len, keyring_reckey_wrap_key(r->keys), ad, adlen, key,
                  RECKEY_BYTES));
    GUARD(store_meta_put(r->st, name, wrapped, len));
cleanup:
    return rc;
}

int reckeys_erase(reckeys *r, const uint8_t id[VAULT_ID_BYTES])
{
    int rc = VAULT_OK;
    char name[RECKEY_NAME_SIZE];

    uint8_t tomb = RECKEY_TOMBSTONE;

    ENSURE(r, VAULT_ESTATE, "no record-key store");
    GUARD(need(r, TX_WRITE));
    key_name(name, id);
    /* The key's bytes are replaced by the tombstone (meta_put updates the
     * row in place). */
    GUARD(store_meta_put(r->st, name, &tomb, 1));
cleanup:
    return rc;
}

int reckeys_backup(reckeys *r, const char *path, vault_progress_fn progress, void *arg)
{
    int rc = VAULT_OK;

    ENSURE(r, VAULT_ESTATE, "no record-key store");
    ENSURE(r->tx == TX_NONE, VAULT_ESTATE, "record-key store: a copy inside a transaction");
    GUARD(need(r, TX_SNAPSHOT));
    rc = store_backup(r->st, path, keyring_reckeys_db_key(r->keys), progress, arg);
cleanup:
    reckeys_end(r);
    return rc;
}

int reckeys_commit(reckeys *r)
{
    int rc = VAULT_OK;

    if (!r || r->tx == TX_NONE)
        return VAULT_OK;
    if (r->tx == TX_WRITE) {
        if (r->bulk)
            GUARD(store_bulk_end(r->st));
        r->tx = TX_NONE; /* a failed commit is rolled back by the store */
        GUARD(store_commit(r->st));
    }
cleanup:
    reckeys_end(r);
    return rc;
}

void reckeys_end(reckeys *r)
{
    if (!r || !r->st)
        return;
    if (store_in_tx(r->st))
        store_rollback(r->st);
    r->tx = TX_NONE;
    r->bulk = 0;
}

int reckeys_bulk_begin(reckeys *r, size_t expected)
{
    int rc = VAULT_OK;

    ENSURE(r, VAULT_ESTATE, "no record-key store");
    r->bulk = expected ? expected : 1;
    if (r->tx == TX_WRITE)
        GUARD(store_bulk_begin(r->st, r->bulk));
cleanup:
    return rc;
}

int reckeys_rewrap(uint8_t *out, size_t cap, size_t *out_len, int *tombstone, const reckeys *r,
                   const keyring *to, const char *name, const uint8_t *val, size_t len)
{
    int rc = VAULT_OK;
    uint8_t id[VAULT_ID_BYTES], ad[64], *key = NULL;
    size_t adlen, klen = 0, idlen = 0;
    char want[RECKEY_NAME_SIZE];

    *tombstone = 0;
    *out_len = 0;
    if (strncmp(name, "rk/", 3) != 0) { /* the store's own rows: as they are */
        ENSURE(len <= cap, VAULT_ELIMIT, "record-key store: row %s too large", name);
        memcpy(out, val, len);
        *out_len = len;
        return VAULT_OK;
    }
    ENSURE(strlen(name) == RECKEY_NAME_SIZE - 1 &&
               vc_hex2bin(id, sizeof id, &idlen, name + 3, 2 * VAULT_ID_BYTES) == VAULT_OK &&
               idlen == VAULT_ID_BYTES,
           VAULT_EINTEGRITY, "record-key store: a row has a malformed name");
    key_name(want, id);
    ENSURE(strcmp(want, name) == 0, VAULT_EINTEGRITY,
           "record-key store: a row has a malformed name");
    if (len == 1 && val[0] == RECKEY_TOMBSTONE) {
        *tombstone = 1;
        out[0] = RECKEY_TOMBSTONE;
        *out_len = 1;
        return VAULT_OK;
    }
    ENSURE(len == RECKEY_WRAPPED && cap >= RECKEY_WRAPPED, VAULT_EINTEGRITY,
           "record-key store: a key is malformed");
    key = vc_malloc(RECKEY_BYTES);
    ENSURE(key, VAULT_ENOMEM, "out of secure memory");
    adlen = key_ad(ad, r, id);
    rc = vc_unwrap(key, RECKEY_BYTES, &klen, keyring_reckey_wrap_key(r->keys), ad, adlen, val,
                   len);
    ENSURE(rc == VAULT_OK && klen == RECKEY_BYTES, VAULT_EINTEGRITY,
           "record-key store: a record's key failed its check");
    GUARD(vc_wrap(out, cap, out_len, keyring_reckey_wrap_key(to), ad, adlen, key, RECKEY_BYTES));
cleanup:
    vc_free(key);
    return rc;
}

/* keyring: derived keys and the grade-key cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyring.h"

/* Subkey ids of the master key, context "vaultkey" (docs/field-format.md). */
#define KDF_CTX "vaultkey"
#define KDF_ID_DB 1
#define KDF_ID_WRAP 2
#define KDF_ID_BIDX 3
#define KDF_ID_ROWMAC 4
#define KDF_ID_PSEUDONYM 5
#define KDF_ID_CANARY 6
#define KDF_ID_RECKEYS_DB 7
#define KDF_ID_RECKEY_WRAP 8

#define GRADE_AD_LABEL "libvault/gradekey/v1"
#define CACHE_MAX 128
#define LATEST_MAX 16

typedef struct cached_key {
    char grade[VAULT_NAME_MAX];
    uint32_t version;
    uint8_t key[VC_KEYBYTES];
} cached_key;

/* Everything secret sits in one guarded allocation. */
typedef struct secrets {
    uint8_t master[VC_KEYBYTES];
    uint8_t db[VC_KEYBYTES];
    uint8_t wrap[VC_KEYBYTES];
    uint8_t bidx[VC_KEYBYTES];
    uint8_t rowmac[VC_KEYBYTES];
    uint8_t pseudonym[VC_KEYBYTES];
    uint8_t canary[VC_KEYBYTES];
    uint8_t reckeys_db[VC_KEYBYTES];
    uint8_t reckey_wrap[VC_KEYBYTES];
    cached_key cache[CACHE_MAX];
} secrets;

/* The newest version of a grade, as the current transaction sees it. */
typedef struct latest_version {
    char grade[VAULT_NAME_MAX];
    uint32_t version;
} latest_version;

struct keyring {
    secrets *s;
    store_guard guard;
    size_t ncached;
    uint8_t vault_id[VAULT_ID_BYTES];
    latest_version latest[LATEST_MAX];
    size_t nlatest;
};

/* The store's row guard: keyed BLAKE2b-256 under the row-MAC key. */
static int row_mac(void *arg, const uint8_t *msg, size_t len, uint8_t out[STORE_MAC_BYTES])
{
    const keyring *k = arg;

    return vc_keyed_hash(out, STORE_MAC_BYTES, k->s->rowmac, msg, len);
}

const store_guard *keyring_row_guard(const keyring *k) { return &k->guard; }

int keyring_new(keyring **out, const uint8_t master[VC_KEYBYTES],
                const uint8_t vault_id[VAULT_ID_BYTES])
{
    int rc = VAULT_OK;
    keyring *k = NULL;

    *out = NULL;
    k = calloc(1, sizeof *k);
    ENSURE(k, VAULT_ENOMEM, "out of memory");
    k->s = vc_malloc(sizeof *k->s);
    ENSURE(k->s, VAULT_ENOMEM, "out of secure memory");
    memcpy(k->s->master, master, VC_KEYBYTES);
    memcpy(k->vault_id, vault_id, VAULT_ID_BYTES);
    GUARD(vc_kdf(k->s->db, VC_KEYBYTES, KDF_ID_DB, KDF_CTX, master));
    GUARD(vc_kdf(k->s->wrap, VC_KEYBYTES, KDF_ID_WRAP, KDF_CTX, master));
    GUARD(vc_kdf(k->s->bidx, VC_KEYBYTES, KDF_ID_BIDX, KDF_CTX, master));
    GUARD(vc_kdf(k->s->rowmac, VC_KEYBYTES, KDF_ID_ROWMAC, KDF_CTX, master));
    GUARD(vc_kdf(k->s->pseudonym, VC_KEYBYTES, KDF_ID_PSEUDONYM, KDF_CTX, master));
    GUARD(vc_kdf(k->s->canary, VC_KEYBYTES, KDF_ID_CANARY, KDF_CTX, master));
    GUARD(vc_kdf(k->s->reckeys_db, VC_KEYBYTES, KDF_ID_RECKEYS_DB, KDF_CTX, master));
    GUARD(vc_kdf(k->s->reckey_wrap, VC_KEYBYTES, KDF_ID_RECKEY_WRAP, KDF_CTX, master));
    k->guard.mac = row_mac;
    k->guard.arg = k;
    *out = k;
    k = NULL;
cleanup:
    keyring_free(k);
    return rc;
}

void keyring_free(keyring *k)
{
    if (!k)
        return;
    vc_free(k->s); /* vc_free wipes */
    free(k);
}

const uint8_t *keyring_master(const keyring *k) { return k->s->master; }
const uint8_t *keyring_db_key(const keyring *k) { return k->s->db; }
const uint8_t *keyring_bidx_root(const keyring *k) { return k->s->bidx; }
const uint8_t *keyring_pseudonym_root(const keyring *k) { return k->s->pseudonym; }
const uint8_t *keyring_canary_key(const keyring *k) { return k->s->canary; }
const uint8_t *keyring_wrap_key(const keyring *k) { return k->s->wrap; }
const uint8_t *keyring_reckeys_db_key(const keyring *k) { return k->s->reckeys_db; }
const uint8_t *keyring_reckey_wrap_key(const keyring *k) { return k->s->reckey_wrap; }
const uint8_t *keyring_vault_id(const keyring *k) { return k->vault_id; }

/* "libvault/gradekey/v1" | vault_id | u32le len | grade | u32le version */
static size_t grade_ad(uint8_t *ad, const keyring *k, const char *grade, size_t glen,
                       uint32_t version)
{
    size_t pos = sizeof GRADE_AD_LABEL - 1;
    uint32_t l = (uint32_t)glen;
    int i;

    memcpy(ad, GRADE_AD_LABEL, pos);
    memcpy(ad + pos, k->vault_id, VAULT_ID_BYTES);
    pos += VAULT_ID_BYTES;
    for (i = 0; i < 4; i++)
        ad[pos++] = (uint8_t)(l >> (8 * i));
    memcpy(ad + pos, grade, glen);
    pos += glen;
    for (i = 0; i < 4; i++)
        ad[pos++] = (uint8_t)(version >> (8 * i));
    return pos;
}

static void cache_put(keyring *k, const char *grade, uint32_t version, const uint8_t *key)
{
    cached_key *c;
    size_t i;

    for (i = 0; i < k->ncached; i++)
        if (k->s->cache[i].version == version && strcmp(k->s->cache[i].grade, grade) == 0) {
            memcpy(k->s->cache[i].key, key, VC_KEYBYTES);
            return;
        }
    if (k->ncached == CACHE_MAX) { /* forget everything; keys reload on demand */
        vc_wipe(k->s->cache, sizeof k->s->cache);
        k->ncached = 0;
    }
    c = &k->s->cache[k->ncached++];
    snprintf(c->grade, sizeof c->grade, "%s", grade);
    c->version = version;
    memcpy(c->key, key, VC_KEYBYTES);
}

static latest_version *latest_find(keyring *k, const char *grade)
{
    size_t i;

    for (i = 0; i < k->nlatest; i++)
        if (strcmp(k->latest[i].grade, grade) == 0)
            return &k->latest[i];
    return NULL;
}

/* Remember (only inside a transaction) that `version` is grade's newest. */
static void latest_note(keyring *k, store *db, const char *grade, uint32_t version)
{
    latest_version *l;

    if (!store_in_tx(db))
        return;
    if ((l = latest_find(k, grade)) == NULL) {
        if (k->nlatest == LATEST_MAX)
            return;
        l = &k->latest[k->nlatest++];
        snprintf(l->grade, sizeof l->grade, "%s", grade);
        l->version = version;
    } else if (version > l->version) {
        l->version = version;
    }
}

void keyring_tx_end(keyring *k, int committed)
{
    if (!k)
        return;
    k->nlatest = 0;
    if (!committed && k->ncached) {
        vc_wipe(k->s->cache, sizeof k->s->cache);
        k->ncached = 0;
    }
}

static const uint8_t *cache_get(const keyring *k, const char *grade, uint32_t version)
{
    size_t i;

    for (i = 0; i < k->ncached; i++)
        if (k->s->cache[i].version == version && strcmp(k->s->cache[i].grade, grade) == 0)
            return k->s->cache[i].key;
    return NULL;
}

int keyring_grade_key_create(keyring *k, store *db, const char *grade, uint32_t version,
                             int64_t now)
{
    int rc = VAULT_OK;
    uint8_t *key = NULL;
    uint8_t ad[sizeof GRADE_AD_LABEL + VAULT_ID_BYTES + 8 + VAULT_NAME_MAX];
    uint8_t wrapped[VC_KEYBYTES + VC_WRAP_OVERHEAD];
    size_t glen = strlen(grade), adlen, wlen = 0;

    ENSURE(glen > 0 && glen < VAULT_NAME_MAX, VAULT_EINVALID, "bad grade name");
    key = vc_malloc(VC_KEYBYTES);
    ENSURE(key, VAULT_ENOMEM, "out of secure memory");
    vc_random(key, VC_KEYBYTES);
    adlen = grade_ad(ad, k, grade, glen, version);
    GUARD(vc_wrap(wrapped, sizeof wrapped, &wlen, k->s->wrap, ad, adlen, key, VC_KEYBYTES));
    GUARD(store_gradekey_add(db, grade, version, wrapped, wlen, now));
    /* Cached at once for this transaction; a rollback empties the cache
     * (keyring_tx_end), so a key that was never stored is never used. */
    cache_put(k, grade, version, key);
    latest_note(k, db, grade, version);
cleanup:
    vc_free(key);
    return rc;
}

int keyring_grade_key(const uint8_t **out, keyring *k, store *db, const char *grade,
                      uint32_t version)
{
    int rc = VAULT_OK;
    uint8_t *key = NULL;
    uint8_t ad[sizeof GRADE_AD_LABEL + VAULT_ID_BYTES + 8 + VAULT_NAME_MAX];
    uint8_t wrapped[VC_KEYBYTES + VC_WRAP_OVERHEAD];
    size_t glen = strlen(grade), adlen, wlen = 0, klen = 0;
    const uint8_t *hit;

    if ((hit = cache_get(k, grade, version)) != NULL) {
        *out = hit;
        return VAULT_OK;
    }
    ENSURE(glen > 0 && glen < VAULT_NAME_MAX, VAULT_EINVALID, "bad grade name");
    GUARD(store_gradekey_get(wrapped, sizeof wrapped, &wlen, db, grade, version));
    key = vc_malloc(VC_KEYBYTES);
    ENSURE(key, VAULT_ENOMEM, "out of secure memory");
    adlen = grade_ad(ad, k, grade, glen, version);
    rc = vc_unwrap(key, VC_KEYBYTES, &klen, k->s->wrap, ad, adlen, wrapped, wlen);
    ENSURE(rc == VAULT_OK && klen == VC_KEYBYTES, VAULT_EINTEGRITY,
           "the key of grade '%s' version %u failed its integrity check", grade,
           (unsigned)version);
    cache_put(k, grade, version, key);
    *out = cache_get(k, grade, version);
cleanup:
    vc_free(key);
    return rc;
}

int keyring_grade_key_latest(const uint8_t **out, uint32_t *out_version, keyring *k, store *db,
                             const char *grade, int64_t now)
{
    int rc = VAULT_OK;
    uint32_t version = 0;
    const latest_version *l = latest_find(k, grade);

    if (l && store_in_tx(db)) {
        version = l->version;
        GUARD(keyring_grade_key(out, k, db, grade, version));
        *out_version = version;
        return VAULT_OK;
    }
    rc = store_gradekey_latest(&version, db, grade);
    if (rc == VAULT_ENOTFOUND) {
        /* A grade added by a later policy gets its first key on first use. */
        version = 1;
        rc = keyring_grade_key_create(k, db, grade, version, now);
    }
    GUARD(rc);
    GUARD(keyring_grade_key(out, k, db, grade, version));
    latest_note(k, db, grade, version);
    *out_version = version;
cleanup:
    return rc;
}

int keyring_grade_rewrap(uint8_t *out, size_t cap, size_t *out_len, const keyring *from,
                         const keyring *to, const char *grade, uint32_t version,
                         const uint8_t *wrapped, size_t len)
{
    int rc = VAULT_OK;
    uint8_t *key = NULL;
    uint8_t ad[sizeof GRADE_AD_LABEL + VAULT_ID_BYTES + 8 + VAULT_NAME_MAX];
    size_t glen = strlen(grade), adlen, klen = 0;

    ENSURE(glen > 0 && glen < VAULT_NAME_MAX, VAULT_EINVALID, "bad grade name");
    ENSURE(memcmp(from->vault_id, to->vault_id, VAULT_ID_BYTES) == 0, /* memcmp ok: not secret */
           VAULT_EINVALID, "keyring_grade_rewrap: two vaults' keyrings");
    key = vc_malloc(VC_KEYBYTES);
    ENSURE(key, VAULT_ENOMEM, "out of secure memory");
    adlen = grade_ad(ad, from, grade, glen, version);
    rc = vc_unwrap(key, VC_KEYBYTES, &klen, from->s->wrap, ad, adlen, wrapped, len);
    ENSURE(rc == VAULT_OK && klen == VC_KEYBYTES, VAULT_EINTEGRITY,
           "the key of grade '%s' version %u failed its integrity check", grade,
           (unsigned)version);
    GUARD(vc_wrap(out, cap, out_len, to->s->wrap, ad, adlen, key, VC_KEYBYTES));
cleanup:
    vc_free(key);
    return rc;
}

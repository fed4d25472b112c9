/* canary: the vault's set of decoy records (canary.h). */
#include "canary.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "keyring.h"
#include "store/store.h"

#define CANARY_AD_LABEL "libvault/canaries/v1"
#define CANARY_VERSION 1
/* version(1) | nonce, ciphertext of the sorted ids, tag */
#define CANARY_VALUE_MAX (1 + VC_WRAP_OVERHEAD + CANARY_MAX * VAULT_ID_BYTES)

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, VAULT_ID_BYTES); /* memcmp ok: not secret */
}

static void ad_of(uint8_t *ad, const vault *v)
{
    memcpy(ad, CANARY_AD_LABEL, sizeof CANARY_AD_LABEL - 1);
    memcpy(ad + sizeof CANARY_AD_LABEL - 1, v->id, VAULT_ID_BYTES);
}

void canary__free(vault *v)
{
    free(v->canaries);
    v->canaries = NULL;
    v->ncanaries = 0;
}

int canary__load(vault *v)
{
    int rc = VAULT_OK;
    uint8_t *val = NULL, *ids = NULL, ad[sizeof CANARY_AD_LABEL - 1 + VAULT_ID_BYTES];
    size_t len = 0, n = 0;

    val = malloc(CANARY_VALUE_MAX);
    ids = malloc(CANARY_MAX * VAULT_ID_BYTES);
    ENSURE(val && ids, VAULT_ENOMEM, "out of memory");
    rc = store_meta_get(v->db, CANARY_META, val, CANARY_VALUE_MAX, &len);
    if (rc == VAULT_ENOTFOUND) { /* no canary yet */
        vault__err_clear();
        rc = VAULT_OK;
        canary__free(v);
        goto cleanup;
    }
    GUARD(rc);
    ENSURE(len > 1 + VC_WRAP_OVERHEAD && val[0] == CANARY_VERSION, VAULT_EINTEGRITY,
           "the canary set (meta row %s) is malformed", CANARY_META);
    ad_of(ad, v);
    rc = vc_unwrap(ids, CANARY_MAX * VAULT_ID_BYTES, &n, keyring_canary_key(v->keys), ad,
                   sizeof ad, val + 1, len - 1);
    ENSURE(rc == VAULT_OK && n % VAULT_ID_BYTES == 0, VAULT_EINTEGRITY,
           "the canary set (meta row %s) does not open with this vault's key", CANARY_META);
    canary__free(v);
    v->canaries = ids;
    v->ncanaries = n / VAULT_ID_BYTES;
    ids = NULL;
cleanup:
    free(val);
    free(ids);
    return rc;
}

int canary__mark(vault *v, const uint8_t id[VAULT_ID_BYTES])
{
    int rc = VAULT_OK;
    uint8_t *all = NULL, *val = NULL, ad[sizeof CANARY_AD_LABEL - 1 + VAULT_ID_BYTES];
    size_t n, len = 0;

    GUARD(canary__load(v)); /* as this transaction sees it */
    n = v->ncanaries;
    ENSURE(n < CANARY_MAX, VAULT_ELIMIT, "a vault holds at most %d canaries", CANARY_MAX);
    all = malloc((n + 1) * VAULT_ID_BYTES);
    val = malloc(CANARY_VALUE_MAX);
    ENSURE(all && val, VAULT_ENOMEM, "out of memory");
    if (n)
        memcpy(all, v->canaries, n * VAULT_ID_BYTES);
    memcpy(all + n * VAULT_ID_BYTES, id, VAULT_ID_BYTES);
    qsort(all, n + 1, VAULT_ID_BYTES, cmp_id);
    ad_of(ad, v);
    val[0] = CANARY_VERSION;
    GUARD(vc_wrap(val + 1, CANARY_VALUE_MAX - 1, &len, keyring_canary_key(v->keys), ad, sizeof ad,
                  all, (n + 1) * VAULT_ID_BYTES));
    GUARD(store_meta_put(v->db, CANARY_META, val, len + 1));
    canary__free(v);
    v->canaries = all;
    v->ncanaries = n + 1;
    all = NULL;
cleanup:
    free(all);
    free(val);
    return rc;
}

int canary__is(const vault *v, const uint8_t id[VAULT_ID_BYTES])
{
    return v->ncanaries && bsearch(id, v->canaries, v->ncanaries, VAULT_ID_BYTES, cmp_id) != NULL;
}

int canary__rewrap(uint8_t *out, size_t cap, size_t *out_len, const vault *v, const keyring *to,
                   const uint8_t *val, size_t len)
{
    int rc = VAULT_OK;
    uint8_t *ids = NULL, ad[sizeof CANARY_AD_LABEL - 1 + VAULT_ID_BYTES];
    size_t n = 0, wl = 0;

    ids = malloc(CANARY_MAX * VAULT_ID_BYTES);
    ENSURE(ids, VAULT_ENOMEM, "out of memory");
    ENSURE(len > 1 + VC_WRAP_OVERHEAD && val[0] == CANARY_VERSION, VAULT_EINTEGRITY,
           "the canary set (meta row %s) is malformed", CANARY_META);
    ad_of(ad, v);
    rc = vc_unwrap(ids, CANARY_MAX * VAULT_ID_BYTES, &n, keyring_canary_key(v->keys), ad,
                   sizeof ad, val + 1, len - 1);
    ENSURE(rc == VAULT_OK && n % VAULT_ID_BYTES == 0, VAULT_EINTEGRITY,
           "the canary set (meta row %s) does not open with this vault's key", CANARY_META);
    ENSURE(cap > 1, VAULT_ELIMIT, "canary set: no room");
    out[0] = CANARY_VERSION;
    GUARD(vc_wrap(out + 1, cap - 1, &wl, keyring_canary_key(to), ad, sizeof ad, ids, n));
    *out_len = wl + 1;
cleanup:
    free(ids);
    return rc;
}

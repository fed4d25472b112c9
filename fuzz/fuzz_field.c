/* Fuzz target: vc_field_open on arbitrary bytes as a field ciphertext,
 * with a fixed key and associated data (docs/field-format.md).  The key
 * version of the AD is taken from the ciphertext's header when it has
 * one, so inputs reach the AEAD.  The seeds are real ciphertexts under
 * this key and AD (fuzz/README.md); for those the plaintext must come
 * back, and resealing it must open again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t key[VC_KEYBYTES];
static const uint8_t fz_vault_id[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                     0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
static const uint8_t fz_record_id[16] = {0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
                                      0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    size_t i;

    (void)argc;
    (void)argv;
    if (vault_init() < 0)
        abort();
    for (i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)i; /* the first vector's key, 00 01 .. 1f */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vc_field_ad ad = {fz_vault_id, fz_record_id, "phone", "personal", 1, 1, NULL};
    uint32_t version = 0;
    size_t cap = size >= VC_FIELD_OVERHEAD ? size - VC_FIELD_OVERHEAD : 0, len = 0, len2 = 0, ctlen = 0;
    uint8_t *pt, *ct = NULL, *pt2 = NULL;

    if (vc_field_key_version(&version, data, size) == VAULT_OK)
        ad.key_version = version;
    /* exactly the capacity the API asks for, so an overrun is caught */
    pt = malloc(cap ? cap : 1);
    if (!pt)
        return 0;
    if (vc_field_open(pt, cap, &len, key, &ad, data, size) == VAULT_OK) {
        if (size < VC_FIELD_OVERHEAD || len != size - VC_FIELD_OVERHEAD)
            abort();
        ct = malloc(len + VC_FIELD_OVERHEAD);
        pt2 = malloc(len ? len : 1);
        if (!ct || !pt2)
            abort();
        if (vc_field_seal(ct, len + VC_FIELD_OVERHEAD, &ctlen, key, &ad, pt, len) != VAULT_OK ||
            ctlen != size ||
            vc_field_open(pt2, len, &len2, key, &ad, ct, ctlen) != VAULT_OK || len2 != len ||
            (len && memcmp(pt, pt2, len) != 0))
            abort();
        /* Bound to its place: another field name must not open it. */
        ad.field = "name";
        if (vc_field_open(pt2, len, &len2, key, &ad, ct, ctlen) != VAULT_EINTEGRITY)
            abort();
    }
    /* A buffer one byte short is refused, never overrun. */
    if (cap > 0 && vc_field_open(pt, cap - 1, &len, key, &ad, data, size) == VAULT_OK)
        abort();
    free(ct);
    free(pt2);
    free(pt);
    return 0;
}

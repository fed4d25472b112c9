/* Fuzz target: af_bundle_verify on arbitrary bytes as a resident proof
 * bundle (docs/audit-format.md §11), against the audit vectors' public
 * key.  An input starting with 'W' is verified without its first byte and
 * with one witness key required (the vectors' key as a cosignature/v1
 * key), so the cosignature path runs too.  The answer must be a class the
 * bundle verifier reports (or VAULT_ENOMEM), equal res.cls, with a
 * bounded one-line message; an accepted bundle names its checkpoint's
 * size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/audit_bundle.h"
#include "audit/audit_cosign.h"
#include "crypto.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pk[32], sk[64];
static af_bundle_witness wit;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (vault_init() < 0)
        abort();
    fuzz_vector_keypair(pk, sk);
    snprintf(wit.name, sizeof wit.name, "witness.test/fuzz");
    memcpy(wit.pk, pk, 32);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    af_verify_result r;
    int w = size > 0 && data[0] == 'W', rc;

    if (w) {
        data++;
        size--;
    }
    rc = af_bundle_verify(&r, (const char *)data, size, "libvault.test/vectors", pk, w ? &wit : NULL,
                          w ? 1 : 0, w ? 1 : 0);
    if (rc == VAULT_ENOMEM)
        return 0;
    if (rc != AF_OK && rc != AF_MODIFIED && rc != AF_MISSING && rc != AF_REORDERED &&
        rc != AF_BAD_SIGNATURE && rc != AF_MALFORMED && rc != AF_UNWITNESSED)
        abort();
    if (rc != r.cls || strnlen(r.message, sizeof r.message) >= sizeof r.message ||
        strchr(r.message, '\n') || r.message[0] == '\0')
        abort();
    if (rc == AF_OK && (r.checkpoints != 1 || r.newest_size == 0))
        abort();
    return 0;
}

/* Fuzz target: af_checkpoint_verify on arbitrary bytes as a C2SP signed
 * note, against the vector public key (docs/audit-format.md §3).  When a
 * note parses (verified or not), its origin, size and root are signed
 * again with the vector key: that note must verify and give them back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/audit_format.h"
#include "crypto.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pk[32], sk[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (vault_init() < 0)
        abort();
    fuzz_vector_keypair(pk, sk);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    af_checkpoint cp, again;
    char *note = NULL;
    int rc;

    rc = af_checkpoint_verify(&cp, (const char *)data, size, "libvault.test/vectors", pk);
    if (rc != VAULT_OK && rc != VAULT_EINVALID && rc != VAULT_EINTEGRITY)
        abort();
    if ((rc == VAULT_OK || rc == VAULT_EINTEGRITY) && cp.origin[0] != '\0') {
        if (af_checkpoint_sign(&note, cp.origin, cp.size, cp.root, sk) != VAULT_OK)
            abort(); /* verify accepted an origin that sign refuses */
        if (af_checkpoint_verify(&again, note, strlen(note), cp.origin, pk) != VAULT_OK ||
            strcmp(again.origin, cp.origin) != 0 || again.size != cp.size ||
            memcmp(again.root, cp.root, 32) != 0)
            abort();
        free(note);
    }
    return 0;
}

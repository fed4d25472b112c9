/* Fuzz target: af_export_verify on an arbitrary export stream (fmemopen),
 * with the vector public key (docs/audit-format.md §4-5).  An input that
 * starts with 'E' is verified together with the vector checkpoint note as
 * the external checkpoint (an export line never starts with 'E'). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/audit_format.h"
#include "crypto.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* tests/vectors/checkpoint.txt */
static const char vector_note[] =
    "libvault.test/vectors\n7\nPPs1ybcoayD8FLfieOR79rlDs69cXMEpIae/0v3PjHk=\n\n"
    "\xe2\x80\x94 libvault.test/vectors "
    "ltOHZAa+ghXFUYiVZT4QwQd1ZkLiObgoJZC2uiBf9RYWj2PWmbJOMOPWbgLM7Txji612MoD0sZCHjbvXz2ihRw0Q6wU=\n";

static uint8_t pk[32];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t sk[64];

    (void)argc;
    (void)argv;
    if (vault_init() < 0)
        abort();
    fuzz_vector_keypair(pk, sk);
    sodium_memzero(sk, sizeof sk);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    af_verify_result res;
    const char *ext = NULL;
    size_t ext_len = 0;
    uint8_t *copy;
    FILE *in;
    int rc;

    if (size > 0 && data[0] == 'E') {
        ext = vector_note;
        ext_len = sizeof vector_note - 1;
        data++;
        size--;
    }
    /* fmemopen wants a writable buffer of at least one byte */
    copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    in = size ? fmemopen(copy, size, "r") : fopen("/dev/null", "r");
    if (!in) {
        free(copy);
        return 0;
    }
    memset(&res, 0, sizeof res);
    rc = af_export_verify(&res, in, "libvault.test/vectors", pk, &ext, ext_len ? 1 : 0, NULL, NULL);
    if (rc < 0 ? (rc != VAULT_EIO && rc != VAULT_ENOMEM) : rc > AF_ROLLBACK)
        abort();
    if (rc >= 0 && rc != res.cls)
        abort();
    if (rc > 0 && (res.message[0] == '\0' || memchr(res.message, '\0', sizeof res.message) == NULL))
        abort(); /* a failure always says where, in one bounded line */
    fclose(in);
    free(copy);
    return 0;
}

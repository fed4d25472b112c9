/* witness_tools: the client side for `vaultctl witness submit|verify`:
 * verifier-key and proof text into witness_submit and
 * af_cosignature_verify. */
#include <stdlib.h>
#include <string.h>

#include "audit/audit_cosign.h"
#include "audit/witness_client.h"
#include "crypto.h"
#include "internal.h"
#include "witness.h"

#define B64_HASH 44

/* Proof text: base64 hashes, one a line (blank lines and a final newline
 * ignored). */
static int parse_proof(uint8_t (*out)[32], size_t *n, const char *text, size_t len)
{
    int rc = VAULT_OK;
    const char *p = text, *end = text + len, *nl;
    size_t llen, got;

    *n = 0;
    for (; p && p < end; p = nl ? nl + 1 : NULL) {
        nl = memchr(p, '\n', (size_t)(end - p));
        llen = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (llen && p[llen - 1] == '\r')
            llen--;
        if (llen == 0)
            continue;
        ENSURE(*n < WITNESS_PROOF_MAX, VAULT_EINVALID, "proof: more than %d hashes",
               WITNESS_PROOF_MAX);
        ENSURE(llen == B64_HASH && vc_b642bin(out[*n], 32, &got, p, llen) == 0 && got == 32,
               VAULT_EINVALID, "proof: line %zu is not base64 of 32 bytes", *n + 1);
        (*n)++;
    }
cleanup:
    return rc;
}

int witness_submit_text(char **out_line, uint64_t *out_size, const char *url, const char *wvkey,
                        uint64_t old_size, const char *proof_text, size_t proof_len,
                        const char *note, size_t note_len)
{
    int rc = VAULT_OK;
    uint8_t proof[WITNESS_PROOF_MAX][32];
    size_t n = 0;
    witness_peer wp;

    ENSURE(wvkey, VAULT_EINVALID, "witness submit: missing witness key");
    GUARD(witness_peer_parse(&wp, wvkey, strlen(wvkey)));
    if (proof_text)
        GUARD(parse_proof(proof, &n, proof_text, proof_len));
    GUARD(witness_submit(out_line, out_size, url, &wp, old_size, (const uint8_t(*)[32])proof, n,
                         note, note_len, 0));
cleanup:
    return rc;
}

int witness_note_verify(uint64_t *out_time, const char *note, size_t len, const char *wvkey)
{
    int rc = VAULT_OK;
    witness_peer wp;

    ENSURE(wvkey && note, VAULT_EINVALID, "witness verify: missing argument");
    GUARD(witness_peer_parse(&wp, wvkey, strlen(wvkey)));
    GUARD(af_cosignature_verify(out_time, note, len, wp.name, wp.pk));
cleanup:
    return rc;
}

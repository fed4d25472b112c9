/* witness_client: submit a checkpoint to a C2SP tlog-witness
 * (POST <prefix>/add-checkpoint) over libcurl and get its cosignature
 * (docs/witness.md "Submitting a checkpoint").  For vaultd's and the
 * embedded vault's submissions and for `vaultctl witness submit`. */
#ifndef VAULT_WITNESS_CLIENT_H
#define VAULT_WITNESS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define WITNESS_PROOF_MAX 63     /* consistency proof lines a request may carry */
#define WITNESS_REPLY_MAX 8192   /* bytes of a witness's answer read */
#define WITNESS_URL_MAX 1024

/* A witness as its clients know it: name and Ed25519 cosigning key. */
typedef struct witness_peer {
    char name[256];
    uint8_t pk[32];
} witness_peer;

/* Parse a witness's verifier key text name+keyid+base64(0x04 | pk)
 * (signature type 0x04, tlog-cosignature).  VAULT_EINVALID otherwise. */
int witness_peer_parse(witness_peer *out, const char *vkey, size_t len) VAULT_MUST_CHECK;

/* Submit (old_size, the nproof consistency-proof hashes from old_size to
 * the note's size, the log-signed checkpoint note) to the witness whose
 * submission prefix is `url` (http:// or https://; "/add-checkpoint" is
 * appended), waiting at most timeout_ms (0: 10 s).  May block that long.
 *
 * On 200, *out_line (malloc'ed, NUL-terminated) is the first line of the
 * answer that verifies as wp's cosignature of this note
 * (af_cosignature_verify), "— name base64\n".  Errors (message names the
 * witness and its one-line answer, never the note):
 *   VAULT_ESTATE      409: the witness holds another size, in *out_size:
 *                     retry with a proof from that size
 *   VAULT_EINTEGRITY  409 for the same size (the witness holds another
 *                     root: a split view), 422 (the proof does not
 *                     verify), or a 200 without a valid cosignature
 *   VAULT_EAUTH       403: the log's signature does not verify with the
 *                     key the witness pins
 *   VAULT_ENOTFOUND   404: the witness does not know this log
 *   VAULT_EINVALID    400/413, or bad arguments (nproof over 63, a note
 *                     over AF_NOTE_MAX, a URL not http(s))
 *   VAULT_EIO         no answer (refused, timed out) or any other status
 * out_size (may be NULL) is 0 except on VAULT_ESTATE and the split view. */
int witness_submit(char **out_line, uint64_t *out_size, const char *url, const witness_peer *wp,
                   uint64_t old_size, const uint8_t (*proof)[32], size_t nproof, const char *note,
                   size_t note_len, long timeout_ms) VAULT_MUST_CHECK;

#endif

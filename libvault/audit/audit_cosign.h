/* audit_cosign: witness cosignatures on checkpoints (C2SP tlog-cosignature,
 * cosignature/v1, Ed25519) and note verifier keys of any signature type.
 * Pure functions, no I/O.  Exact bytes: docs/witness.md "Cosignatures". */
#ifndef VAULT_AUDIT_COSIGN_H
#define VAULT_AUDIT_COSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define AF_SIGTYPE_ED25519 0x01  /* a log's checkpoint signature (signed-note) */
#define AF_SIGTYPE_COSIGN_V1 0x04 /* a witness's cosignature/v1 (tlog-cosignature) */
#define AF_COSIG_BYTES (4 + 8 + 64) /* key id | timestamp (u64 big-endian) | Ed25519 */
#define AF_COSIG_TIME_MAX INT64_MAX /* a timestamp is at most 2^63 - 1 */
#define AF_VKEY_MAX 320             /* a verifier key's text, with its NUL */

/* Key id of a note key of signature type `type`: the first 4 bytes of
 * SHA-256(name | 0x0A | type | pk). */
void af_keyid_typed(uint8_t out[4], const char *name, uint8_t type, const uint8_t pk[32]);

/* The verifier key text name+keyid(8 hex)+base64(type | pk).  VAULT_EINVALID
 * for a bad name or a buffer under AF_VKEY_MAX. */
int af_vkey_format(char *out, size_t cap, const char *name, uint8_t type,
                   const uint8_t pk[32]) VAULT_MUST_CHECK;

/* Parse verifier key text (trailing spaces and line ends ignored) of the
 * signature type `type`.  VAULT_EINVALID unless it has two '+', a valid
 * key name, 8 hex digits, base64 of exactly 33 bytes starting with `type`,
 * and a key id that matches the name and key. */
int af_vkey_parse(char name[256], uint8_t pk[32], const char *text, size_t len,
                  uint8_t type) VAULT_MUST_CHECK;

/* Length of the note's text: every byte up to and including the newline
 * before its last blank line (what the log and the witnesses sign).
 * VAULT_EINVALID for a note over AF_NOTE_MAX bytes, not ending in a
 * newline, or without a blank line. */
int af_note_text_len(size_t *out, const char *note, size_t len) VAULT_MUST_CHECK;

/* Cosign a checkpoint note as witness `name` (secret key sk: libsodium's
 * 64 bytes) at POSIX time `timestamp`: *out_line (malloc'ed,
 * NUL-terminated) is the signature line
 *   "— name base64(keyid | timestamp | Ed25519(msg))\n"
 * with keyid = af_keyid_typed(name, AF_SIGTYPE_COSIGN_V1, pk) and
 * msg = "cosignature/v1\ntime <timestamp>\n" | the note's text.  The note
 * is not verified here (the witness has done that).  VAULT_EINVALID for a
 * bad name, a malformed note or a timestamp over AF_COSIG_TIME_MAX. */
int af_cosign(char **out_line, const char *note, size_t len, const char *name, const uint8_t sk[64],
              uint64_t timestamp) VAULT_MUST_CHECK;

/* Verify the cosignature by witness (name, pk) among the note's signature
 * lines (the checkpoint with the witness's response appended).  Lines of
 * other names or key ids are ignored, and so are lines under the
 * witness's key id that don't verify (key ids are public: anyone can
 * append one).  VAULT_EINVALID for a malformed note or signature line;
 * VAULT_EINTEGRITY when no line of the witness's verifies (none is its,
 * or each is not AF_COSIG_BYTES long, carries a timestamp over
 * AF_COSIG_TIME_MAX or does not verify).  *out_time (may be NULL)
 * receives the newest verified timestamp. */
int af_cosignature_verify(uint64_t *out_time, const char *note, size_t len, const char *name,
                          const uint8_t pk[32]) VAULT_MUST_CHECK;

/* A witness as a verifier pins it (name and Ed25519 cosigning key). */
typedef struct af_witness_key {
    char name[256];
    uint8_t pk[32];
} af_witness_key;

/* How many of the n witnesses (distinct keys) cosigned the note: those
 * for which af_cosignature_verify succeeds.  A line that does not verify
 * is not counted, never an error; the error state is left clear.  *mask
 * (may be NULL) gets bit i set for witness i < 64 that counted. */
size_t af_cosign_count(const char *note, size_t len, const af_witness_key *keys, size_t n,
                       uint64_t *mask);

#endif

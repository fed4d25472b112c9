/* crypto: the only module that calls libsodium's primitives.  Thin,
 * explicit-length wrappers; formats in docs/field-format.md. */
#ifndef VAULT_CRYPTO_H
#define VAULT_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define VC_KEYBYTES 32
#define VC_NONCEBYTES 24
#define VC_TAGBYTES 16
/* Field ciphertext formats (docs/field-format.md): 1 binds no write
 * counter (still opened, never written), 2 binds it; seal writes
 * VC_FIELD_FORMAT_V2 or _V3.  All share the header and the overhead. */
#define VC_FIELD_FORMAT_V1 0x01
#define VC_FIELD_FORMAT_V2 0x02
/* 3: sealed under a key made of the grade key and the record's own key
 * (vc_field_ad.record_key), so erasing the record key erases the field
 * in every copy (docs/erasure.md).  Written whenever a record key is
 * given; 2 otherwise.  A format 3 ciphertext opened without a record key
 * is VAULT_EINTEGRITY (a format 2 one relabelled, or its key erased). */
#define VC_FIELD_FORMAT_V3 0x03
#define VC_FIELD_FORMAT VC_FIELD_FORMAT_V3
#define VC_FIELD_HEADER (1 + 4 + VC_NONCEBYTES) /* format | key_version | nonce */
#define VC_FIELD_OVERHEAD (VC_FIELD_HEADER + VC_TAGBYTES) /* 45 */
#define VC_BIDX_BYTES 16
#define VC_SHA256_BYTES 32
#define VC_SIGN_PUBLICKEYBYTES 32
#define VC_SIGN_SECRETKEYBYTES 64
#define VC_SIGN_BYTES 64
#define VC_SALTBYTES 16 /* Argon2id salt */

/* Start libsodium once per process (any thread, any number of calls):
 * selects libsodium's userland ChaCha20 random generator and reseeds it in
 * the child after fork (docs/security.md).  VAULT_ERROR if libsodium
 * can't start. */
int vc_init(void) VAULT_MUST_CHECK;

/* Guarded secret memory (sodium_malloc underneath, blocks of a few size
 * classes reused: docs/security.md); vc_free wipes and releases, NULL ok.
 * Memory from vc_malloc goes back through vc_free only. */
void *vc_malloc(size_t n);
void vc_free(void *p);
void vc_wipe(void *p, size_t n);
/* Constant-time equality of two n-byte strings: 1 equal, 0 not. */
int vc_equal(const void *a, const void *b, size_t n);
void vc_random(void *buf, size_t n);

/* Associated data of a field ciphertext (DESIGN.md §3). */
typedef struct vc_field_ad {
    const uint8_t *vault_id;  /* 16 bytes */
    const uint8_t *record_id; /* 16 bytes */
    const char *field;
    const char *grade;
    uint32_t key_version;
    /* The record version at which the field was written (>= 1): format 2
     * binds it, so a restored older ciphertext does not open.  Format 1
     * ciphertexts ignore it. */
    int64_t counter;
    /* The record's own key (32 bytes; docs/erasure.md), or NULL: seal
     * writes format 3 with one, format 2 without; open needs it for
     * format 3 (VAULT_EINTEGRITY without) and ignores it for 1 and 2. */
    const uint8_t *record_key;
} vc_field_ad;

/* Seal pt into out (pt_len + VC_FIELD_OVERHEAD bytes, out_cap at least
 * that) in format 3 (ad->record_key set) or 2: format byte | key_version
 * u32le | nonce(24) | ciphertext | tag(16), the associated data binding
 * ad->counter; format 3 under BLAKE2b-256(key = key, "libvault/field/v3"
 * | record key).  VAULT_EINVALID when
 * ad is incomplete, ad->counter < 1 or out_cap is short; VAULT_ELIMIT when
 * pt_len > VAULT_VALUE_MAX. */
int vc_field_seal(uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t key[VC_KEYBYTES],
                  const vc_field_ad *ad, const uint8_t *pt, size_t pt_len) VAULT_MUST_CHECK;
/* The same with a given nonce: for known-answer tests only. */
int vc_field_seal_nonce(uint8_t *out, size_t out_cap, size_t *out_len,
                        const uint8_t key[VC_KEYBYTES], const uint8_t nonce[VC_NONCEBYTES],
                        const vc_field_ad *ad, const uint8_t *pt, size_t pt_len) VAULT_MUST_CHECK;
/* Open a format 1, 2 or 3 ciphertext: VAULT_EINTEGRITY when it is malformed
 * (short, or another format byte), altered, or bound to another
 * vault/record/field/grade/version or (format 2) write counter.  out_cap
 * >= ct_len - VC_FIELD_OVERHEAD.  ad->key_version must equal the
 * ciphertext's; for format 2 ad->counter must be >= 1 (else
 * VAULT_EINVALID). */
int vc_field_open(uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t key[VC_KEYBYTES],
                  const vc_field_ad *ad, const uint8_t *ct, size_t ct_len) VAULT_MUST_CHECK;
/* The key version in a field ciphertext's header (format 1 or 2). */
int vc_field_key_version(uint32_t *out, const uint8_t *ct, size_t ct_len) VAULT_MUST_CHECK;
/* The format of a field ciphertext: VC_FIELD_FORMAT_V1, _V2 or _V3, or
 * VAULT_EINTEGRITY when it is shorter than VC_FIELD_OVERHEAD or has
 * another format byte.  Reads the header only (no key, no tag check), so
 * rotation can count format 1 fields as stale. */
int vc_field_format(const uint8_t *ct, size_t ct_len) VAULT_MUST_CHECK;

/* Generic wrap (key material, keyslots): nonce(24) | ciphertext | tag(16)
 * with the given associated data.  out_cap >= pt_len + 40. */
#define VC_WRAP_OVERHEAD (VC_NONCEBYTES + VC_TAGBYTES)
int vc_wrap(uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t key[VC_KEYBYTES],
            const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len) VAULT_MUST_CHECK;
/* VAULT_EAUTH when the tag does not verify (wrong key or altered data). */
int vc_unwrap(uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t key[VC_KEYBYTES],
              const uint8_t *ad, size_t ad_len, const uint8_t *ct, size_t ct_len) VAULT_MUST_CHECK;

/* Subkey `id` of `master` in context ctx (exactly 8 characters). */
int vc_kdf(uint8_t *out, size_t out_len, uint64_t id, const char ctx[8],
           const uint8_t master[VC_KEYBYTES]) VAULT_MUST_CHECK;
/* Keyed BLAKE2b: out_len in 16..64 bytes, key 32 bytes. */
int vc_keyed_hash(uint8_t *out, size_t out_len, const uint8_t key[VC_KEYBYTES],
                  const void *msg, size_t msg_len) VAULT_MUST_CHECK;

/* Passphrase -> 32-byte key with Argon2id13.  VAULT_ENOMEM when the
 * machine can't give memlimit bytes. */
int vc_pwhash(uint8_t out[VC_KEYBYTES], const char *pass, size_t pass_len,
              const uint8_t salt[VC_SALTBYTES], unsigned long long opslimit,
              size_t memlimit) VAULT_MUST_CHECK;
/* Limits for a VAULT_KDF_* profile (0 = default). */
int vc_pwhash_profile(unsigned long long *opslimit, size_t *memlimit, int profile) VAULT_MUST_CHECK;

/* Blind index of a field value: keyed BLAKE2b-128 over the normalised value
 * (surrounding ASCII/Unicode spaces trimmed; a final 'x' upper-cased) with a
 * per-field key = BLAKE2b-256(key=bidx_root, "libvault/bidx/v1" | len | field). */
int vc_blind_index(uint8_t out[VC_BIDX_BYTES], const uint8_t bidx_root[VC_KEYBYTES],
                   const char *field, const char *value, size_t value_len) VAULT_MUST_CHECK;

/* A department's pseudonym of a field value (the `pseudonym` mask,
 * docs/masks.md): "PSN-" and 16 lower-case base32 characters of the first
 * 10 bytes of keyed BLAKE2b-128 over the value normalised as for the blind
 * index, under the key BLAKE2b-256(key = pseudonym root,
 * "libvault/pseudonym/v1" | u32le len | department | u32le len | field).
 * Stable for one department and field; unrelated across departments (and
 * fields) without the root.  A blank value gives "" (out_len 0).  out holds
 * VC_PSEUDONYM_SIZE bytes (NUL included). */
#define VC_PSEUDONYM_SIZE 21
int vc_pseudonym(char out[VC_PSEUDONYM_SIZE], size_t *out_len, const uint8_t root[VC_KEYBYTES],
                 const char *department, const char *field, const char *value,
                 size_t value_len) VAULT_MUST_CHECK;

/* SHA-256, incremental and one-shot. */
int vc_sha256(uint8_t out[VC_SHA256_BYTES], const void *msg, size_t len);
typedef struct vc_sha256_ctx { unsigned char opaque[128] __attribute__((aligned(16))); } vc_sha256_ctx;
void vc_sha256_init(vc_sha256_ctx *c);
void vc_sha256_update(vc_sha256_ctx *c, const void *msg, size_t len);
void vc_sha256_final(vc_sha256_ctx *c, uint8_t out[VC_SHA256_BYTES]);
/* SHA-256 of one prefix byte followed by msg: the audit log's leaves,
 * chain and tree nodes (docs/audit-format.md section 2).  The same digest
 * as vc_sha256, computed by OpenSSL's libcrypto, which uses the CPU's SHA
 * extensions where it has them (libsodium 1.0.18's is portable C, a
 * quarter of the speed; issue 16 allows libcrypto for the log only). */
void vc_log_sha256(uint8_t out[VC_SHA256_BYTES], uint8_t prefix, const void *msg, size_t len);

/* Ed25519. */
int vc_sign_keypair(uint8_t pk[VC_SIGN_PUBLICKEYBYTES], uint8_t sk[VC_SIGN_SECRETKEYBYTES]) VAULT_MUST_CHECK;
/* The public key of a secret key. */
int vc_sign_sk_to_pk(uint8_t pk[VC_SIGN_PUBLICKEYBYTES],
                     const uint8_t sk[VC_SIGN_SECRETKEYBYTES]) VAULT_MUST_CHECK;
int vc_sign(uint8_t sig[VC_SIGN_BYTES], const void *msg, size_t len,
            const uint8_t sk[VC_SIGN_SECRETKEYBYTES]) VAULT_MUST_CHECK;
/* 0 when valid, VAULT_EINTEGRITY when not. */
int vc_verify(const uint8_t sig[VC_SIGN_BYTES], const void *msg, size_t len,
              const uint8_t pk[VC_SIGN_PUBLICKEYBYTES]) VAULT_MUST_CHECK;

/* Hex and base64 (standard alphabet, padded) helpers; out sizes include NUL. */
int vc_bin2hex(char *out, size_t out_size, const uint8_t *bin, size_t len) VAULT_MUST_CHECK;
int vc_hex2bin(uint8_t *out, size_t out_size, size_t *out_len, const char *hex, size_t hex_len) VAULT_MUST_CHECK;
int vc_bin2b64(char *out, size_t out_size, const uint8_t *bin, size_t len) VAULT_MUST_CHECK;
int vc_b642bin(uint8_t *out, size_t out_size, size_t *out_len, const char *b64, size_t b64_len) VAULT_MUST_CHECK;
size_t vc_b64_len(size_t bin_len); /* encoded length including NUL */
/* vc_b642bin for public data only (an export's entries): canonical
 * standard base64 with padding (vc_bin2b64's output) and nothing else,
 * decoded through a table, which is seven times faster than libsodium's
 * constant-time decoder and not constant time.  VAULT_EINVALID (no
 * message) for anything else; *out_len 0 then (out may be written). */
int vc_b642bin_public(uint8_t *out, size_t out_size, size_t *out_len, const char *b64,
                      size_t b64_len) VAULT_MUST_CHECK;

#endif

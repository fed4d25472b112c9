/* audit_cosign: cosignature/v1 lines (C2SP tlog-cosignature) and typed
 * note verifier keys.  Exact bytes: docs/witness.md "Cosignatures". */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_cosign.h"
#include "audit_format.h"
#include "crypto.h"

#define EM_DASH "\xE2\x80\x94"
#define KEYID_BYTES 4
#define TIME_BYTES 8
#define HEADER_MAX 64 /* "cosignature/v1\ntime <u64>\n" */

void af_keyid_typed(uint8_t out[4], const char *name, uint8_t type, const uint8_t pk[32])
{
    const uint8_t sep[2] = {0x0A, type};
    vc_sha256_ctx c;
    uint8_t h[32];

    vc_sha256_init(&c);
    vc_sha256_update(&c, name, strlen(name));
    vc_sha256_update(&c, sep, sizeof sep);
    vc_sha256_update(&c, pk, 32);
    vc_sha256_final(&c, h);
    memcpy(out, h, KEYID_BYTES);
}

int af_vkey_format(char *out, size_t cap, const char *name, uint8_t type, const uint8_t pk[32])
{
    int rc = VAULT_OK;
    uint8_t keyid[KEYID_BYTES], typed[33];
    char b64[64];

    ENSURE(out && name && pk && cap >= AF_VKEY_MAX, VAULT_EINVALID,
           "verifier key: missing argument or buffer under %d bytes", AF_VKEY_MAX);
    ENSURE(af_note_name_ok(name), VAULT_EINVALID,
           "verifier key: the name must be 1..255 bytes of UTF-8 without spaces, '+' or "
           "control characters");
    af_keyid_typed(keyid, name, type, pk);
    typed[0] = type;
    memcpy(typed + 1, pk, 32);
    GUARD(vc_bin2b64(b64, sizeof b64, typed, sizeof typed));
    snprintf(out, cap, "%s+%02x%02x%02x%02x+%s", name, keyid[0], keyid[1], keyid[2], keyid[3],
             b64);
cleanup:
    return rc;
}

int af_vkey_parse(char name[256], uint8_t pk[32], const char *text, size_t len, uint8_t type)
{
    int rc = VAULT_OK;
    const char *plus1, *plus2, *end;
    uint8_t typed[64], keyid[KEYID_BYTES], want[KEYID_BYTES];
    size_t n = 0, nlen;

    ENSURE(name && pk && text, VAULT_EINVALID, "verifier key: missing argument");
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    end = text + len;
    plus1 = memchr(text, '+', len);
    plus2 = plus1 ? memchr(plus1 + 1, '+', (size_t)(end - plus1 - 1)) : NULL;
    ENSURE(plus2 && plus2 - plus1 == 9, VAULT_EINVALID,
           "verifier key is not note verifier text (name+keyid+key)");
    nlen = (size_t)(plus1 - text);
    ENSURE(nlen > 0 && nlen < 256, VAULT_EINVALID, "verifier key: the name is empty or too long");
    memcpy(name, text, nlen);
    name[nlen] = '\0';
    ENSURE(strlen(name) == nlen && af_note_name_ok(name), VAULT_EINVALID,
           "verifier key: the name has spaces, '+' or control characters");
    ENSURE(vc_hex2bin(keyid, sizeof keyid, &n, plus1 + 1, 8) == 0 && n == KEYID_BYTES,
           VAULT_EINVALID, "verifier key: the key id is not 8 hex digits");
    ENSURE(vc_b642bin(typed, sizeof typed, &n, plus2 + 1, (size_t)(end - plus2 - 1)) == 0 &&
               n == 33,
           VAULT_EINVALID, "verifier key: the key is not base64 of 33 bytes");
    ENSURE(typed[0] == type, VAULT_EINVALID,
           "verifier key: signature type 0x%02x, expected 0x%02x", typed[0], type);
    memcpy(pk, typed + 1, 32);
    af_keyid_typed(want, name, type, pk);
    ENSURE(vc_equal(want, keyid, KEYID_BYTES), VAULT_EINVALID,
           "verifier key: the key id does not match the name and key");
cleanup:
    return rc;
}

int af_note_text_len(size_t *out, const char *note, size_t len)
{
    int rc = VAULT_OK;
    size_t i;

    ENSURE(out && note, VAULT_EINVALID, "note: missing argument");
    *out = 0;
    ENSURE(len <= AF_NOTE_MAX, VAULT_EINVALID, "note: %zu bytes, at most %d", len, AF_NOTE_MAX);
    ENSURE(len >= 2 && note[len - 1] == '\n', VAULT_EINVALID, "note: does not end with a newline");
    for (i = len - 1; i-- > 0;)
        if (note[i] == '\n' && note[i + 1] == '\n') {
            *out = i + 1;
            break;
        }
    ENSURE(*out > 0, VAULT_EINVALID, "note: no blank line before the signatures");
cleanup:
    return rc;
}

/* "cosignature/v1\ntime T\n" into hdr; its length. */
static size_t cosign_header(char hdr[HEADER_MAX], uint64_t timestamp)
{
    return (size_t)snprintf(hdr, HEADER_MAX, "cosignature/v1\ntime %" PRIu64 "\n", timestamp);
}

/* Ed25519 over header | text, without copying the text twice. */
static int cosign_message(uint8_t **out, size_t *out_len, uint64_t timestamp, const char *text,
                          size_t tlen)
{
    int rc = VAULT_OK;
    char hdr[HEADER_MAX];
    size_t hlen = cosign_header(hdr, timestamp);

    *out = malloc(hlen + tlen);
    ENSURE(*out, VAULT_ENOMEM, "out of memory building a cosigned message");
    memcpy(*out, hdr, hlen);
    memcpy(*out + hlen, text, tlen);
    *out_len = hlen + tlen;
cleanup:
    return rc;
}

static void put_u64be(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_u64be(const uint8_t *p)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

int af_cosign(char **out_line, const char *note, size_t len, const char *name, const uint8_t sk[64],
              uint64_t timestamp)
{
    int rc = VAULT_OK;
    uint8_t sig[AF_COSIG_BYTES], *msg = NULL;
    char b64[128];
    size_t tlen, mlen = 0, nlen, total;
    char *line = NULL;

    ENSURE(out_line && note && name && sk, VAULT_EINVALID, "af_cosign: missing argument");
    *out_line = NULL;
    ENSURE(af_note_name_ok(name), VAULT_EINVALID,
           "cosignature: the witness name must be 1..255 bytes of UTF-8 without spaces, '+' or "
           "control characters");
    ENSURE(timestamp <= (uint64_t)AF_COSIG_TIME_MAX, VAULT_EINVALID,
           "cosignature: timestamp over 2^63 - 1");
    GUARD(af_note_text_len(&tlen, note, len));
    GUARD(cosign_message(&msg, &mlen, timestamp, note, tlen));
    af_keyid_typed(sig, name, AF_SIGTYPE_COSIGN_V1, sk + 32); /* sk = seed | pk */
    put_u64be(sig + KEYID_BYTES, timestamp);
    GUARD(vc_sign(sig + KEYID_BYTES + TIME_BYTES, msg, mlen, sk));
    GUARD(vc_bin2b64(b64, sizeof b64, sig, sizeof sig));
    nlen = strlen(name);
    total = (sizeof EM_DASH - 1) + 1 + nlen + 1 + strlen(b64) + 1;
    line = malloc(total + 1);
    ENSURE(line, VAULT_ENOMEM, "out of memory writing a cosignature");
    snprintf(line, total + 1, EM_DASH " %s %s\n", name, b64);
    *out_line = line;
    line = NULL;
cleanup:
    free(msg);
    free(line);
    return rc;
}

int af_cosignature_verify(uint64_t *out_time, const char *note, size_t len, const char *name,
                          const uint8_t pk[32])
{
    int rc = VAULT_OK;
    uint8_t keyid[KEYID_BYTES], sig[AF_NOTE_MAX], *msg = NULL;
    const char *p, *end, *nl, *nm, *sp;
    size_t tlen, llen, siglen, mlen, nlen, known = 0, good = 0;
    uint64_t ts, newest = 0;
    char why[64] = "";
    int ok;

    ENSURE(note && name && pk, VAULT_EINVALID, "af_cosignature_verify: missing argument");
    if (out_time)
        *out_time = 0;
    GUARD(af_note_text_len(&tlen, note, len));
    af_keyid_typed(keyid, name, AF_SIGTYPE_COSIGN_V1, pk);
    nlen = strlen(name);
    end = note + len;
    for (p = note + tlen + 1; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        llen = (size_t)(nl - p);
        ENSURE(llen > sizeof EM_DASH && memcmp(p, EM_DASH " ", sizeof EM_DASH) == 0, /* memcmp ok: not secret */
               VAULT_EINVALID, "cosignature: a signature line does not start with an em dash");
        nm = p + sizeof EM_DASH;
        sp = memchr(nm, ' ', (size_t)(nl - nm));
        ENSURE(sp && sp > nm, VAULT_EINVALID, "cosignature: a signature line has no key name");
        ENSURE(vc_b642bin(sig, sizeof sig, &siglen, sp + 1, (size_t)(nl - sp - 1)) == 0 &&
                   siglen > KEYID_BYTES,
               VAULT_EINVALID, "cosignature: a signature is not base64 of a key id and signature");
        /* Another key's line (a log's, another witness's): not ours to judge. */
        if ((size_t)(sp - nm) != nlen || memcmp(nm, name, nlen) != 0 || /* memcmp ok: not secret */
            !vc_equal(sig, keyid, KEYID_BYTES))
            continue;
        known++;
        /* A line under this witness's key id that doesn't verify (anyone
         * can append one: key ids are public) is not counted, and doesn't
         * hide a line that does. */
        if (siglen != AF_COSIG_BYTES) {
            snprintf(why, sizeof why, "%zu bytes, not %d", siglen, AF_COSIG_BYTES);
            continue;
        }
        ts = get_u64be(sig + KEYID_BYTES);
        if (ts > (uint64_t)AF_COSIG_TIME_MAX) {
            snprintf(why, sizeof why, "timestamp over 2^63 - 1");
            continue;
        }
        GUARD(cosign_message(&msg, &mlen, ts, note, tlen));
        ok = vc_verify(sig + KEYID_BYTES + TIME_BYTES, msg, mlen, pk) == VAULT_OK;
        free(msg);
        msg = NULL;
        if (!ok) {
            snprintf(why, sizeof why, "does not verify");
            continue;
        }
        good++;
        if (ts > newest)
            newest = ts;
    }
    ENSURE(known > 0, VAULT_EINTEGRITY, "cosignature: no cosignature by witness %s", name);
    ENSURE(good > 0, VAULT_EINTEGRITY, "cosignature: bad signature (witness %s: %s)", name, why);
    if (out_time)
        *out_time = newest;
cleanup:
    free(msg);
    return rc;
}

size_t af_cosign_count(const char *note, size_t len, const af_witness_key *keys, size_t n,
                       uint64_t *mask)
{
    size_t count = 0;

    if (mask)
        *mask = 0;
    for (size_t i = 0; note && keys && i < n; i++) {
        int dup = 0;

        /* One public key is one witness, whatever names it is given: the
         * cosigned message doesn't hold the name, so a line copied under
         * another name must not count twice. */
        for (size_t j = 0; j < i && !dup; j++)
            dup = memcmp(keys[j].pk, keys[i].pk, 32) == 0; /* memcmp ok: not secret */
        if (dup)
            continue;
        if (af_cosignature_verify(NULL, note, len, keys[i].name, keys[i].pk) == VAULT_OK) {
            count++;
            if (mask && i < 64)
                *mask |= (uint64_t)1 << i;
        }
        vault__err_clear();
    }
    return count;
}

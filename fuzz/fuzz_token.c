/* Fuzz target: token_verify (server/token.c, docs/tokens.md) on arbitrary
 * bytes, against three pinned issuers at a fixed time.
 *
 *   input "S" HEADER "\n" PAYLOAD   the two JSON texts are encoded and
 *                                   signed here with the vector key, so
 *                                   mutations reach the claim checks
 *                                   behind the signature;
 *   any other input                 verified as the token itself.
 *
 * Issuers: "fuzz-ed" (EdDSA, the audit vectors' Ed25519 key, seed c0..df;
 * iss https://id.fuzz.example), "fuzz-kid" (the same key and iss, kid
 * "k1", the user from "preferred_username", at most one hour of
 * lifetime), "fuzz-ec" (ES256, the public key of RFC 7515 A.3, iss
 * "joe").  Audience "vaultd-fuzz"; now 1800000000, skew 60.
 *
 * Checks besides "no crash, no leak, no UB": only VAULT_OK, VAULT_EAUTH or
 * VAULT_ENOMEM; a refusal has a one-line message and leaves the claims
 * wiped; an accepted token names one of the issuers, its strings are
 * non-empty and NUL-terminated in their buffers, its times are within
 * the skew, and token_signature_check agrees with it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <sodium.h>

#include "fuzz_util.h"
#include "token.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW 1800000000LL
#define FUZZ_SKEW 60
#define FUZZ_AUD "vaultd-fuzz"
#define FUZZ_ISS "https://id.fuzz.example"

/* RFC 7515 A.3's public JWK coordinates (tests/vectors/token.txt). */
static const char rfc7515_x[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
static const char rfc7515_y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

static token_issuer *issuers[3];
static uint8_t pk[32], sk[64];

static token_issuer *make_issuer(const token_issuer_spec *spec)
{
    token_issuer *is = NULL;

    if (token_issuer_new(&is, spec) != VAULT_OK)
        abort();
    return is;
}

/* The coordinates as the PEM SubjectPublicKeyInfo a config would hold. */
static void rfc7515_pem(char *out, size_t cap)
{
    uint8_t x[32], y[32];
    size_t xn = 0, yn = 0;
    gnutls_datum_t dx = {x, 32}, dy = {y, 32}, pem = {NULL, 0};
    gnutls_pubkey_t pub;

    if (sodium_base642bin(x, sizeof x, rfc7515_x, strlen(rfc7515_x), NULL, &xn, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        sodium_base642bin(y, sizeof y, rfc7515_y, strlen(rfc7515_y), NULL, &yn, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        xn != 32 || yn != 32 || gnutls_pubkey_init(&pub) != 0)
        abort();
    if (gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_SECP256R1, &dx, &dy) != 0 ||
        gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &pem) != 0 || pem.size >= cap)
        abort();
    memcpy(out, pem.data, pem.size);
    out[pem.size] = '\0';
    gnutls_free(pem.data);
    gnutls_pubkey_deinit(pub);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    token_issuer_spec spec;
    char key[64], b64[48], pem[512];

    (void)argc;
    (void)argv;
    if (vault_init() < 0)
        abort();
    fuzz_vector_keypair(pk, sk);
    sodium_bin2base64(b64, sizeof b64, pk, sizeof pk, sodium_base64_VARIANT_ORIGINAL);
    snprintf(key, sizeof key, "ed25519:%s", b64);
    memset(&spec, 0, sizeof spec);
    spec.label = "fuzz-ed";
    spec.iss = FUZZ_ISS;
    spec.audience = FUZZ_AUD;
    spec.key = key;
    issuers[0] = make_issuer(&spec);
    spec.label = "fuzz-kid";
    spec.kid = "k1";
    spec.claim_user = "preferred_username";
    spec.max_lifetime = 3600;
    issuers[1] = make_issuer(&spec);
    memset(&spec, 0, sizeof spec);
    spec.label = "fuzz-ec";
    spec.iss = "joe";
    spec.audience = FUZZ_AUD;
    rfc7515_pem(pem, sizeof pem);
    spec.key = pem;
    spec.alg = "ES256";
    issuers[2] = make_issuer(&spec);
    if (token_issuers_check(issuers, 3) != VAULT_OK)
        abort();
    return 0;
}

/* "S" header "\n" payload -> a token signed with the vector key. */
static char *signed_token(const uint8_t *data, size_t size, size_t *len)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen, plen, hb, pb, cap;
    uint8_t sig[64];
    char *t;

    if (!nl)
        return NULL;
    hlen = (size_t)(nl - data);
    plen = size - hlen - 1;
    hb = sodium_base64_encoded_len(hlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    pb = sodium_base64_encoded_len(plen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    cap = hb + pb + 90;
    if (!(t = malloc(cap)))
        abort();
    sodium_bin2base64(t, hb, data, hlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    hb = strlen(t);
    t[hb] = '.';
    sodium_bin2base64(t + hb + 1, pb, nl + 1, plen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    *len = strlen(t);
    crypto_sign_detached(sig, NULL, (const uint8_t *)t, *len, sk);
    t[(*len)++] = '.';
    sodium_bin2base64(t + *len, cap - *len, sig, sizeof sig,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    *len = strlen(t);
    return t;
}

static void check_string(const char *s, size_t cap)
{
    if (!s[0] || !memchr(s, '\0', cap))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    token_claims c;
    const char *tok = (const char *)data, *msg;
    char *made = NULL;
    size_t len = size, i;
    int rc, known = 0;

    if (size > 0 && data[0] == 'S') {
        made = signed_token(data + 1, size - 1, &len);
        if (!made)
            return 0;
        tok = made;
    }
    rc = token_verify(&c, issuers, 3, tok, len, FUZZ_NOW, FUZZ_SKEW);
    if (rc == VAULT_OK) {
        for (i = 0; i < 3; i++)
            known |= c.issuer == issuers[i];
        if (!known)
            abort();
        check_string(c.iss, sizeof c.iss);
        check_string(c.sub, sizeof c.sub);
        check_string(c.user, sizeof c.user);
        check_string(c.role, sizeof c.role);
        check_string(c.department, sizeof c.department);
        check_string(c.jurisdiction, sizeof c.jurisdiction);
        if (!memchr(c.jti, '\0', sizeof c.jti))
            abort();
        if (c.exp <= FUZZ_NOW - FUZZ_SKEW || c.nbf > FUZZ_NOW + FUZZ_SKEW ||
            c.iat > FUZZ_NOW + FUZZ_SKEW)
            abort();
        if (token_signature_check(c.issuer, tok, len) != VAULT_OK)
            abort();
        token_claims_clear(&c);
    } else {
        if (rc != VAULT_EAUTH && rc != VAULT_ENOMEM)
            abort();
        msg = vault_error_last();
        if (!msg[0] || strchr(msg, '\n') || c.issuer || c.sub[0] || c.user[0] || c.exp)
            abort();
    }
    free(made);
    return 0;
}

/* Identity tokens: JWS compact JWTs from pinned issuers (token.h,
 * docs/tokens.md).  The order of the checks matters: nothing from the
 * payload but `iss` (to pick the pinned key) is looked at before the
 * signature verified, and no message ever carries a value from the
 * token. */
#include "token.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <sodium.h>

#include "crypto.h"
#include "internal.h"

#define ED25519_PK_BYTES 32
#define SIG_BYTES 64       /* Ed25519 and ES256 (r || s, 32 bytes each) */
#define ES256_HALF 32
/* base64url without padding of TOKEN_JSON_MAX bytes: 4 characters per 3
 * bytes, 2 or 3 for a last group of 1 or 2. */
#define B64URL_LEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))
#define ED25519_PREFIX "ed25519:"
#define PEM_MARK "-----BEGIN"

enum { CLAIM_USER, CLAIM_ROLE, CLAIM_DEPARTMENT, CLAIM_JURISDICTION, CLAIM_COUNT };
static const char *const claim_default[CLAIM_COUNT] = {"sub", "role", "department",
                                                       "jurisdiction"};
static const char *const claim_what[CLAIM_COUNT] = {"user", "role", "department",
                                                    "jurisdiction"};

struct token_issuer {
    char label[TOKEN_LABEL_MAX];
    char iss[TOKEN_ISS_MAX + 1];
    char aud[TOKEN_ISS_MAX + 1];
    char kid[TOKEN_KID_MAX + 1];
    int has_kid;
    token_alg alg;
    uint8_t ed_pk[ED25519_PK_BYTES]; /* EdDSA */
    gnutls_pubkey_t ec_pk;           /* ES256 */
    /* GnuTLS objects are safe for one thread at a time: verifications
     * under one ES256 key take turns (Ed25519 keys are plain bytes). */
    pthread_mutex_t ec_lock;
    int lock_ready;
    char claim[CLAIM_COUNT][TOKEN_KID_MAX + 1];
    int64_t max_lifetime;
};

/* The three parts of a compact JWS, pointing into the token. */
typedef struct jws_parts {
    const char *header, *payload, *sig;
    size_t header_len, payload_len, sig_len;
    size_t signing_len; /* header "." payload */
} jws_parts;

static const char *alg_name(token_alg alg)
{
    return alg == TOKEN_ALG_ES256 ? "ES256" : "EdDSA";
}

/* ---- issuers ---- */

/* 1..max bytes with no control character (C0, DEL); `strict` also keeps
 * to printable ASCII without quote or backslash (names shown in errors). */
static int config_string(char *out, size_t cap, const char *s, size_t max, int strict,
                         const char *label, const char *what)
{
    int rc = VAULT_OK;
    size_t n, i;

    ENSURE(s && *s, VAULT_EINVALID, "issuer '%s': %s is missing or empty", label, what);
    n = strlen(s);
    ENSURE(n <= max && n < cap, VAULT_EINVALID, "issuer '%s': %s is longer than %zu bytes", label,
           what, max);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        ENSURE(c >= 0x20 && c != 0x7f && (!strict || (c < 0x7f && c != '"' && c != '\\' && c != ' ')),
               VAULT_EINVALID, "issuer '%s': %s has a character that is not allowed", label, what);
    }
    memcpy(out, s, n + 1);
cleanup:
    return rc;
}

static int label_check(const char *label)
{
    int rc = VAULT_OK;
    size_t n, i;

    ENSURE(label && *label, VAULT_EINVALID, "token issuer: label is missing or empty");
    n = strlen(label);
    ENSURE(n < TOKEN_LABEL_MAX, VAULT_EINVALID, "token issuer: label is longer than %d bytes",
           TOKEN_LABEL_MAX - 1);
    for (i = 0; i < n; i++) {
        char c = label[i];
        ENSURE((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '.' || c == '-',
               VAULT_EINVALID, "token issuer: label may hold only A-Z a-z 0-9 _ . -");
    }
cleanup:
    return rc;
}

/* "ed25519:" + base64 (padded standard, or base64url without padding). */
static int key_ed25519_text(token_issuer *is, const char *b64)
{
    int rc = VAULT_OK;
    size_t n = 0, len = strlen(b64);
    const char *end = NULL;
    int ok;

    ok = sodium_base642bin(is->ed_pk, sizeof is->ed_pk, b64, len, NULL, &n, &end,
                           sodium_base64_VARIANT_ORIGINAL) == 0 &&
         end == b64 + len && n == ED25519_PK_BYTES;
    if (!ok)
        ok = sodium_base642bin(is->ed_pk, sizeof is->ed_pk, b64, len, NULL, &n, &end,
                               sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
             end == b64 + len && n == ED25519_PK_BYTES;
    ENSURE(ok, VAULT_EINVALID, "issuer '%s': key is not ed25519: and base64 of 32 bytes", is->label);
    ENSURE(crypto_core_ed25519_is_valid_point(is->ed_pk), VAULT_EINVALID,
           "issuer '%s': key is not a valid Ed25519 public key", is->label);
    is->alg = TOKEN_ALG_EDDSA;
cleanup:
    return rc;
}

/* A PEM SubjectPublicKeyInfo: P-256 (kept as a GnuTLS key) or Ed25519
 * (its 32 bytes, verified by libsodium like the ed25519: form). */
static int key_pem(token_issuer *is, const char *pem)
{
    int rc = VAULT_OK, pk_alg;
    gnutls_pubkey_t key = NULL;
    gnutls_datum_t text = {(unsigned char *)pem, 0}, x = {NULL, 0}, y = {NULL, 0};
    gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;

    text.size = (unsigned)strlen(pem);
    ENSURE(gnutls_pubkey_init(&key) == 0, VAULT_ENOMEM, "issuer '%s': out of memory", is->label);
    ENSURE(gnutls_pubkey_import(key, &text, GNUTLS_X509_FMT_PEM) == 0, VAULT_EINVALID,
           "issuer '%s': key is not a PEM SubjectPublicKeyInfo", is->label);
    pk_alg = gnutls_pubkey_get_pk_algorithm(key, NULL);
    ENSURE(pk_alg == GNUTLS_PK_ECDSA || pk_alg == GNUTLS_PK_EDDSA_ED25519, VAULT_EINVALID,
           "issuer '%s': key is neither a P-256 nor an Ed25519 key", is->label);
    ENSURE(gnutls_pubkey_export_ecc_raw2(key, &curve, &x, &y, GNUTLS_EXPORT_FLAG_NO_LZ) == 0,
           VAULT_EINVALID, "issuer '%s': key's point cannot be read", is->label);
    if (pk_alg == GNUTLS_PK_EDDSA_ED25519) {
        ENSURE(x.size == ED25519_PK_BYTES, VAULT_EINVALID,
               "issuer '%s': Ed25519 key is not 32 bytes", is->label);
        memcpy(is->ed_pk, x.data, ED25519_PK_BYTES);
        ENSURE(crypto_core_ed25519_is_valid_point(is->ed_pk), VAULT_EINVALID,
               "issuer '%s': key is not a valid Ed25519 public key", is->label);
        is->alg = TOKEN_ALG_EDDSA;
    } else {
        ENSURE(curve == GNUTLS_ECC_CURVE_SECP256R1, VAULT_EINVALID,
               "issuer '%s': EC key is not on P-256 (ES256 needs P-256)", is->label);
        is->alg = TOKEN_ALG_ES256;
        is->ec_pk = key;
        key = NULL;
    }
cleanup:
    gnutls_free(x.data);
    gnutls_free(y.data);
    if (key)
        gnutls_pubkey_deinit(key);
    return rc;
}

int token_issuer_new(token_issuer **out, const token_issuer_spec *spec)
{
    int rc = VAULT_OK, i;
    token_issuer *is = NULL;
    const char *names[CLAIM_COUNT];
    char what[64];

    ENSURE(out, VAULT_EINVALID, "token_issuer_new: no output");
    *out = NULL;
    ENSURE(spec, VAULT_EINVALID, "token_issuer_new: no issuer spec");
    GUARD(vc_init());
    GUARD(label_check(spec->label));
    ENSURE(is = calloc(1, sizeof *is), VAULT_ENOMEM, "issuer '%s': out of memory", spec->label);
    ENSURE(pthread_mutex_init(&is->ec_lock, NULL) == 0, VAULT_ENOMEM,
           "issuer '%s': out of memory", spec->label);
    is->lock_ready = 1;
    memcpy(is->label, spec->label, strlen(spec->label) + 1);
    GUARD(config_string(is->iss, sizeof is->iss, spec->iss, TOKEN_ISS_MAX, 0, is->label, "iss"));
    GUARD(config_string(is->aud, sizeof is->aud, spec->audience, TOKEN_ISS_MAX, 0, is->label,
                        "audience"));
    if (spec->kid) {
        GUARD(config_string(is->kid, sizeof is->kid, spec->kid, TOKEN_KID_MAX, 0, is->label, "kid"));
        is->has_kid = 1;
    }
    names[CLAIM_USER] = spec->claim_user;
    names[CLAIM_ROLE] = spec->claim_role;
    names[CLAIM_DEPARTMENT] = spec->claim_department;
    names[CLAIM_JURISDICTION] = spec->claim_jurisdiction;
    for (i = 0; i < CLAIM_COUNT; i++) {
        snprintf(what, sizeof what, "the claim for %s", claim_what[i]);
        GUARD(config_string(is->claim[i], sizeof is->claim[i], names[i] ? names[i] : claim_default[i],
                            TOKEN_KID_MAX, 1, is->label, what));
    }
    ENSURE(spec->max_lifetime >= 0, VAULT_EINVALID, "issuer '%s': max_lifetime is negative",
           is->label);
    is->max_lifetime = spec->max_lifetime;
    ENSURE(spec->key && *spec->key, VAULT_EINVALID, "issuer '%s': no key", is->label);
    if (strncmp(spec->key, ED25519_PREFIX, strlen(ED25519_PREFIX)) == 0)
        GUARD(key_ed25519_text(is, spec->key + strlen(ED25519_PREFIX)));
    else if (strstr(spec->key, PEM_MARK))
        GUARD(key_pem(is, spec->key));
    else
        ENSURE(0, VAULT_EINVALID, "issuer '%s': key is neither ed25519:<base64> nor a PEM public key",
               is->label);
    if (spec->alg) {
        ENSURE(strcmp(spec->alg, "EdDSA") == 0 || strcmp(spec->alg, "ES256") == 0, VAULT_EINVALID,
               "issuer '%s': alg must be EdDSA or ES256", is->label);
        ENSURE(strcmp(spec->alg, alg_name(is->alg)) == 0, VAULT_EINVALID,
               "issuer '%s': alg %s does not match its key (a %s key)", is->label, spec->alg,
               alg_name(is->alg));
    }
    *out = is;
    is = NULL;
cleanup:
    token_issuer_free(is);
    return rc;
}

void token_issuer_free(token_issuer *issuer)
{
    if (!issuer)
        return;
    if (issuer->ec_pk)
        gnutls_pubkey_deinit(issuer->ec_pk);
    if (issuer->lock_ready)
        pthread_mutex_destroy(&issuer->ec_lock);
    free(issuer);
}

const char *token_issuer_label(const token_issuer *issuer)
{
    return issuer ? issuer->label : "";
}

token_alg token_issuer_alg(const token_issuer *issuer)
{
    return issuer ? issuer->alg : TOKEN_ALG_EDDSA;
}

const char *token_issuer_kid(const token_issuer *issuer)
{
    return issuer && issuer->has_kid ? issuer->kid : NULL;
}

int token_issuers_check(token_issuer *const *issuers, size_t n)
{
    int rc = VAULT_OK;
    size_t i, j;
    const token_issuer *a, *b;

    ENSURE(issuers || n == 0, VAULT_EINVALID, "token_issuers_check: no issuers");
    for (i = 0; i < n; i++) {
        ENSURE(issuers[i], VAULT_EINVALID, "token_issuers_check: issuer %zu is NULL", i);
        for (j = 0; j < i; j++) {
            a = issuers[j];
            b = issuers[i];
            ENSURE(strcmp(a->label, b->label) != 0, VAULT_EINVALID,
                   "token issuers: label '%s' is used twice", a->label);
            ENSURE(strcmp(a->iss, b->iss) != 0 || a->has_kid != b->has_kid ||
                       (a->has_kid && strcmp(a->kid, b->kid) != 0),
                   VAULT_EINVALID,
                   "token issuers: '%s' and '%s' have the same iss and %s: a token cannot tell them apart",
                   a->label, b->label, a->has_kid ? "the same kid" : "no kid");
        }
    }
cleanup:
    return rc;
}

/* ---- parsing ---- */

/* header.payload.signature: exactly two dots.  The characters themselves
 * are left to the strict base64url decoding of each part. */
static int split_compact(jws_parts *out, const char *token, size_t len)
{
    int rc = VAULT_OK;
    const char *d1, *d2, *end;
    size_t dots = 0, i;

    memset(out, 0, sizeof *out);
    ENSURE(token && len > 0, VAULT_EAUTH, "malformed token: empty");
    ENSURE(len <= TOKEN_MAX, VAULT_EAUTH, "malformed token: longer than %d bytes", TOKEN_MAX);
    for (i = 0; i < len; i++)
        dots += token[i] == '.';
    ENSURE(dots == 2, VAULT_EAUTH,
           "malformed token: %zu parts, not the 3 of header.payload.signature", dots + 1);
    end = token + len;
    d1 = memchr(token, '.', len);
    d2 = memchr(d1 + 1, '.', (size_t)(end - d1 - 1));
    out->header = token;
    out->header_len = (size_t)(d1 - token);
    out->payload = d1 + 1;
    out->payload_len = (size_t)(d2 - d1 - 1);
    out->sig = d2 + 1;
    out->sig_len = (size_t)(end - d2 - 1);
    out->signing_len = (size_t)(d2 - token);
cleanup:
    return rc;
}

/* Strict base64url without padding into out[0..cap): the whole part must
 * decode, with zero trailing bits. */
static int b64url_decode(uint8_t *out, size_t cap, size_t *out_len, const char *b64, size_t len,
                         const char *what)
{
    int rc = VAULT_OK;
    const char *end = NULL;

    *out_len = 0;
    ENSURE(sodium_base642bin(out, cap, b64, len, NULL, out_len, &end,
                             sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
               end == b64 + len,
           VAULT_EAUTH, "malformed token: %s is not valid base64url", what);
cleanup:
    return rc;
}

/* Decode one part and parse it as a JSON object (duplicate keys refused,
 * at any depth). */
static int decode_json(json_t **out, const char *b64, size_t len, const char *what)
{
    int rc = VAULT_OK;
    uint8_t bin[TOKEN_JSON_MAX];
    size_t n = 0;
    json_error_t jerr;
    json_t *doc = NULL;

    *out = NULL;
    ENSURE(len <= B64URL_LEN(TOKEN_JSON_MAX), VAULT_EAUTH,
           "malformed token: %s is longer than %d bytes", what, TOKEN_JSON_MAX);
    GUARD(b64url_decode(bin, sizeof bin, &n, b64, len, what));
    doc = json_loadb((const char *)bin, n, JSON_REJECT_DUPLICATES, &jerr);
    /* jansson's own text quotes the input: only its class and position. */
    ENSURE(doc || json_error_code(&jerr) != json_error_duplicate_key, VAULT_EAUTH,
           "malformed token: %s has a duplicate key", what);
    ENSURE(doc, VAULT_EAUTH, "malformed token: %s is not a JSON object (error at byte %d)", what,
           jerr.position);
    ENSURE(json_is_object(doc), VAULT_EAUTH, "malformed token: %s is not a JSON object", what);
    *out = doc;
    doc = NULL;
cleanup:
    json_decref(doc);
    sodium_memzero(bin, sizeof bin);
    return rc;
}

/* The header against the issuer: its algorithm only, no extensions. */
static int check_header(const json_t *hdr, const token_issuer *is)
{
    int rc = VAULT_OK;
    const json_t *alg = json_object_get(hdr, "alg"), *typ = json_object_get(hdr, "typ"),
                 *kid = json_object_get(hdr, "kid");

    ENSURE(json_is_string(alg), VAULT_EAUTH, "malformed token: header has no \"alg\" string");
    ENSURE(strcmp(json_string_value(alg), "none") != 0, VAULT_EAUTH,
           "token refused: unsigned (alg \"none\")");
    ENSURE(strcmp(json_string_value(alg), alg_name(is->alg)) == 0, VAULT_EAUTH,
           "token refused: alg is not %s, the algorithm of issuer '%s'", alg_name(is->alg),
           is->label);
    ENSURE(!typ || (json_is_string(typ) && strcasecmp(json_string_value(typ), "JWT") == 0),
           VAULT_EAUTH, "token refused: typ is not JWT");
    ENSURE(!json_object_get(hdr, "crit"), VAULT_EAUTH,
           "token refused: header has \"crit\" (no extension is understood)");
    ENSURE(!kid || json_is_string(kid), VAULT_EAUTH, "malformed token: kid is not a string");
    ENSURE(!is->has_kid || (kid && strcmp(json_string_value(kid), is->kid) == 0), VAULT_EAUTH,
           "unknown issuer: the token's kid is not the kid of issuer '%s'", is->label);
cleanup:
    return rc;
}

/* The signature over the exact bytes header "." payload. */
static int check_signature(const token_issuer *is, const jws_parts *pt)
{
    int rc = VAULT_OK, ok;
    uint8_t sig[SIG_BYTES];
    size_t n = 0;
    gnutls_datum_t r = {sig, ES256_HALF}, s = {sig + ES256_HALF, ES256_HALF}, der = {NULL, 0};
    gnutls_datum_t data = {(unsigned char *)pt->header, (unsigned)pt->signing_len};

    ENSURE(pt->sig_len == B64URL_LEN(SIG_BYTES), VAULT_EAUTH,
           "malformed token: signature is not %d bytes", SIG_BYTES);
    GUARD(b64url_decode(sig, sizeof sig, &n, pt->sig, pt->sig_len, "signature"));
    ENSURE(n == SIG_BYTES, VAULT_EAUTH, "malformed token: signature is not %d bytes", SIG_BYTES);
    if (is->alg == TOKEN_ALG_EDDSA) {
        ENSURE(crypto_sign_verify_detached(sig, (const unsigned char *)pt->header, pt->signing_len,
                                           is->ed_pk) == 0,
               VAULT_EAUTH, "bad signature (issuer '%s')", is->label);
    } else {
        /* JWS carries r || s; GnuTLS verifies the DER SEQUENCE of both. */
        ENSURE(gnutls_encode_rs_value(&der, &r, &s) == 0, VAULT_ENOMEM,
               "token: out of memory encoding the signature");
        /* The lock is the one member of an issuer that changes. */
        pthread_mutex_lock((pthread_mutex_t *)&is->ec_lock);
        ok = gnutls_pubkey_verify_data2(is->ec_pk, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &der) >= 0;
        pthread_mutex_unlock((pthread_mutex_t *)&is->ec_lock);
        ENSURE(ok, VAULT_EAUTH, "bad signature (issuer '%s')", is->label);
    }
cleanup:
    gnutls_free(der.data);
    return rc;
}

/* A NumericDate claim: absent (allowed unless required) or an integer. */
static int get_time(int64_t *out, int *present, const json_t *payload, const char *name,
                    int required)
{
    int rc = VAULT_OK;
    const json_t *v = json_object_get(payload, name);

    *out = 0;
    *present = v != NULL;
    ENSURE(v || !required, VAULT_EAUTH, "malformed token: no \"%s\" claim", name);
    ENSURE(!v || json_is_integer(v), VAULT_EAUTH, "malformed token: \"%s\" is not an integer",
           name);
    if (v)
        *out = (int64_t)json_integer_value(v);
cleanup:
    return rc;
}

/* A string claim into out[0..cap): non-empty, shorter than cap, or "" when
 * absent and not required. */
static int get_string(char *out, size_t cap, const json_t *payload, const char *name, int required)
{
    int rc = VAULT_OK;
    const json_t *v = json_object_get(payload, name);
    size_t n;

    out[0] = '\0';
    ENSURE(v || !required, VAULT_EAUTH, "token refused: no \"%s\" claim", name);
    if (!v)
        goto cleanup;
    ENSURE(json_is_string(v), VAULT_EAUTH, "token refused: claim \"%s\" is not a string", name);
    n = json_string_length(v);
    ENSURE(n > 0, VAULT_EAUTH, "token refused: claim \"%s\" is empty", name);
    ENSURE(n < cap, VAULT_EAUTH, "token refused: claim \"%s\" is longer than %zu bytes", name,
           cap - 1);
    memcpy(out, json_string_value(v), n + 1);
cleanup:
    return rc;
}

static int check_audience(const json_t *payload, const token_issuer *is)
{
    int rc = VAULT_OK, found = 0;
    const json_t *aud = json_object_get(payload, "aud"), *e;
    size_t i;

    ENSURE(aud, VAULT_EAUTH, "wrong audience: the token has no \"aud\" (issuer '%s')", is->label);
    if (json_is_string(aud)) {
        found = strcmp(json_string_value(aud), is->aud) == 0;
    } else {
        ENSURE(json_is_array(aud), VAULT_EAUTH,
               "malformed token: \"aud\" is neither a string nor an array");
        json_array_foreach(aud, i, e) {
            ENSURE(json_is_string(e), VAULT_EAUTH, "malformed token: \"aud\" holds a non-string");
            found |= strcmp(json_string_value(e), is->aud) == 0;
        }
    }
    ENSURE(found, VAULT_EAUTH, "wrong audience (issuer '%s')", is->label);
cleanup:
    return rc;
}

/* exp, nbf, iat against now with the skew, and the issuer's lifetime. */
static int check_times(token_claims *out, const json_t *payload, const token_issuer *is,
                       int64_t now, int64_t skew)
{
    int rc = VAULT_OK, has_exp, has_nbf, has_iat;
    int64_t life;

    GUARD(get_time(&out->exp, &has_exp, payload, "exp", 1));
    GUARD(get_time(&out->nbf, &has_nbf, payload, "nbf", 0));
    GUARD(get_time(&out->iat, &has_iat, payload, "iat", 0));
    /* now and skew are bounded by the caller's checks: no overflow. */
    ENSURE(out->exp > now - skew, VAULT_EAUTH, "token expired (issuer '%s')", is->label);
    ENSURE(!has_nbf || out->nbf <= now + skew, VAULT_EAUTH, "token not yet valid (issuer '%s')",
           is->label);
    ENSURE(!has_iat || out->iat <= now + skew, VAULT_EAUTH,
           "token not yet valid: issued in the future (issuer '%s')", is->label);
    if (is->max_lifetime > 0)
        ENSURE(!__builtin_sub_overflow(out->exp, has_iat ? out->iat : now, &life) &&
                   life <= is->max_lifetime,
               VAULT_EAUTH, "token refused: lifetime longer than issuer '%s' allows (%lld s)",
               is->label, (long long)is->max_lifetime);
cleanup:
    return rc;
}

/* The issuer for the payload's iss and the header's kid. */
static int pick_issuer(const token_issuer **out, token_issuer *const *issuers, size_t n,
                       const json_t *hdr, const json_t *payload)
{
    int rc = VAULT_OK, same_iss = 0;
    const json_t *iss = json_object_get(payload, "iss"), *kid = json_object_get(hdr, "kid");
    const token_issuer *exact = NULL, *fallback = NULL;
    size_t i;

    *out = NULL;
    ENSURE(json_is_string(iss), VAULT_EAUTH, "unknown issuer: the token has no \"iss\" string");
    ENSURE(!kid || json_is_string(kid), VAULT_EAUTH, "malformed token: kid is not a string");
    for (i = 0; i < n && !exact; i++) {
        const token_issuer *is = issuers[i];
        if (!is || strcmp(is->iss, json_string_value(iss)) != 0)
            continue;
        same_iss = 1;
        if (is->has_kid && kid && strcmp(is->kid, json_string_value(kid)) == 0)
            exact = is;
        else if (!is->has_kid && !fallback)
            fallback = is;
    }
    *out = exact ? exact : fallback;
    ENSURE(*out || !same_iss, VAULT_EAUTH,
           "unknown issuer: no key of a configured issuer with this iss has the token's kid");
    ENSURE(*out, VAULT_EAUTH, "unknown issuer");
cleanup:
    return rc;
}

static int check_args(const char *token, int64_t now, int64_t skew)
{
    int rc = VAULT_OK;

    ENSURE(token, VAULT_EINVALID, "token_verify: no token");
    ENSURE(now >= 0 && now <= TOKEN_TIME_MAX, VAULT_EINVALID, "token_verify: now out of range");
    ENSURE(skew >= 0 && skew <= TOKEN_SKEW_MAX, VAULT_EINVALID,
           "token_verify: skew must be 0..%d seconds", TOKEN_SKEW_MAX);
cleanup:
    return rc;
}

int token_verify(token_claims *out, token_issuer *const *issuers, size_t n, const char *token,
                 size_t len, int64_t now, int64_t skew_seconds)
{
    int rc = VAULT_OK, i;
    jws_parts pt;
    json_t *hdr = NULL, *payload = NULL;
    const token_issuer *is = NULL;

    ENSURE(out, VAULT_EINVALID, "token_verify: no output");
    token_claims_clear(out);
    ENSURE(issuers || n == 0, VAULT_EINVALID, "token_verify: no issuers");
    GUARD(check_args(token, now, skew_seconds));
    GUARD(split_compact(&pt, token, len));
    GUARD(decode_json(&hdr, pt.header, pt.header_len, "header"));
    GUARD(decode_json(&payload, pt.payload, pt.payload_len, "payload"));
    GUARD(pick_issuer(&is, issuers, n, hdr, payload));
    GUARD(check_header(hdr, is));
    GUARD(check_signature(is, &pt));
    /* Signed by a pinned key from here on: now the claims. */
    GUARD(get_string(out->iss, sizeof out->iss, payload, "iss", 1));
    GUARD(check_audience(payload, is));
    GUARD(check_times(out, payload, is, now, skew_seconds));
    GUARD(get_string(out->sub, sizeof out->sub, payload, "sub", 1));
    GUARD(get_string(out->jti, sizeof out->jti, payload, "jti", 0));
    {
        char *dst[CLAIM_COUNT] = {out->user, out->role, out->department, out->jurisdiction};
        size_t cap[CLAIM_COUNT] = {sizeof out->user, sizeof out->role, sizeof out->department,
                                   sizeof out->jurisdiction};
        for (i = 0; i < CLAIM_COUNT; i++)
            GUARD(get_string(dst[i], cap[i], payload, is->claim[i], 1));
    }
    out->issuer = is;
cleanup:
    json_decref(hdr);
    json_decref(payload);
    if (rc < 0 && out)
        token_claims_clear(out);
    return rc;
}

int token_signature_check(const token_issuer *issuer, const char *token, size_t len)
{
    int rc = VAULT_OK;
    jws_parts pt;
    json_t *hdr = NULL;

    ENSURE(issuer && token, VAULT_EINVALID, "token_signature_check: no issuer or token");
    GUARD(split_compact(&pt, token, len));
    GUARD(decode_json(&hdr, pt.header, pt.header_len, "header"));
    GUARD(check_header(hdr, issuer));
    GUARD(check_signature(issuer, &pt));
cleanup:
    json_decref(hdr);
    return rc;
}

void token_claims_clear(token_claims *c)
{
    if (c)
        sodium_memzero(c, sizeof *c);
}

/* token: identity tokens (server/token.c).  The RFC 8037 A.4 and RFC 7515
 * A.3 vectors (tests/vectors/token.txt) through token_signature_check;
 * every claim check on tokens this program signs (Ed25519 with libsodium,
 * ES256 with a P-256 key GnuTLS generates); forged, confused, expired,
 * malformed and oversize tokens refused with VAULT_EAUTH and a message
 * that names the reason and never a value of the token; issuer
 * configurations; and a token from `vaultctl token issue` verified here. */
#include "testutil.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <sodium.h>

#include "token.h"

#define NOW 1800000000LL
#define SKEW 60
#define ISS "https://id.city.example"
#define ISS_EC "https://ec.city.example"
#define AUD "vaultd-street"

typedef struct signer {
    token_alg alg;
    uint8_t pk[32], sk[64];
    gnutls_privkey_t ec;
    char key[2048]; /* the issuer's key text: ed25519:... or PEM */
} signer;

static signer ed, ed_other, ec, ec_other;
static token_issuer *issuers[2]; /* EdDSA "city", ES256 "city-ec" */

/* ---- helpers: encoding and signing ---- */

static char *b64u(const void *p, size_t n)
{
    size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *s = malloc(cap);

    assert_non_null(s);
    sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return s;
}

static void signer_ed(signer *s, uint8_t seed_byte)
{
    uint8_t seed[32];
    char b64[64];

    memset(s, 0, sizeof *s);
    memset(seed, seed_byte, sizeof seed);
    s->alg = TOKEN_ALG_EDDSA;
    assert_int_equal(crypto_sign_seed_keypair(s->pk, s->sk, seed), 0);
    sodium_bin2base64(b64, sizeof b64, s->pk, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(s->key, sizeof s->key, "ed25519:%s", b64);
}

static void pubkey_pem(char *out, size_t cap, gnutls_pubkey_t pub)
{
    gnutls_datum_t pem = {NULL, 0};

    assert_int_equal(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &pem), 0);
    assert_true(pem.size < cap);
    memcpy(out, pem.data, pem.size);
    out[pem.size] = '\0';
    gnutls_free(pem.data);
}

static void signer_ec_curve(signer *s, gnutls_ecc_curve_t curve)
{
    gnutls_pubkey_t pub;

    memset(s, 0, sizeof *s);
    s->alg = TOKEN_ALG_ES256;
    assert_int_equal(gnutls_privkey_init(&s->ec), 0);
    assert_int_equal(gnutls_privkey_generate(s->ec, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(curve), 0), 0);
    assert_int_equal(gnutls_pubkey_init(&pub), 0);
    assert_int_equal(gnutls_pubkey_import_privkey(pub, s->ec, 0, 0), 0);
    pubkey_pem(s->key, sizeof s->key, pub);
    gnutls_pubkey_deinit(pub);
}

/* A DER INTEGER's bytes as a 32-byte big-endian number. */
static void fixed32(uint8_t out[32], const gnutls_datum_t *v)
{
    const uint8_t *p = v->data;
    size_t n = v->size;

    while (n > 32 && *p == 0) {
        p++;
        n--;
    }
    assert_true(n <= 32);
    memset(out, 0, 32);
    memcpy(out + 32 - n, p, n);
}

static void sign_raw(const signer *s, uint8_t sig[64], const char *msg, size_t len)
{
    gnutls_datum_t data = {(unsigned char *)msg, (unsigned)len}, der = {NULL, 0}, r = {NULL, 0},
                   sv = {NULL, 0};

    if (s->alg == TOKEN_ALG_EDDSA) {
        assert_int_equal(crypto_sign_detached(sig, NULL, (const uint8_t *)msg, len, s->sk), 0);
        return;
    }
    assert_int_equal(gnutls_privkey_sign_data(s->ec, GNUTLS_DIG_SHA256, 0, &data, &der), 0);
    assert_int_equal(gnutls_decode_rs_value(&der, &r, &sv), 0);
    fixed32(sig, &r);
    fixed32(sig + 32, &sv);
    gnutls_free(der.data);
    gnutls_free(r.data);
    gnutls_free(sv.data);
}

/* header.payload.signature of the two JSON texts, signed by s. */
static char *jws(const signer *s, const char *header, const char *payload)
{
    char *h = b64u(header, strlen(header)), *p = b64u(payload, strlen(payload)), *sg, *out;
    uint8_t sig[64];
    size_t n = strlen(h) + strlen(p) + 100;

    out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%s.%s", h, p);
    sign_raw(s, sig, out, strlen(out));
    sg = b64u(sig, sizeof sig);
    snprintf(out, n, "%s.%s.%s", h, p, sg);
    free(h);
    free(p);
    free(sg);
    return out;
}

static const char *hdr_for(const signer *s)
{
    return s->alg == TOKEN_ALG_EDDSA ? "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}" : "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
}

/* The claims of a good token of issuer "city" (or "city-ec"). */
static json_t *good_claims(const char *iss)
{
    json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s}", "iss", iss, "aud",
                          AUD, "sub", "li.wei", "jti", "tok-0001", "iat", (json_int_t)(NOW - 10),
                          "nbf", (json_int_t)(NOW - 10), "exp", (json_int_t)(NOW + 600), "role",
                          "grid_worker", "department", "street_office", "jurisdiction",
                          "hangzhou/gongshu/xiaohe/changzheng/grid-07");

    assert_non_null(c);
    return c;
}

/* Sign claims (taken) under header. */
static char *tok_claims(const signer *s, const char *header, json_t *claims)
{
    char *text = json_dumps(claims, JSON_COMPACT), *t;

    assert_non_null(text);
    t = jws(s, header, text);
    free(text);
    json_decref(claims);
    return t;
}

static char *good_token(void)
{
    return tok_claims(&ed, hdr_for(&ed), good_claims(ISS));
}

/* The good claims with one member set (value taken) or removed (NULL). */
static char *tok_with(const char *name, json_t *value)
{
    json_t *c = good_claims(ISS);

    if (value)
        assert_int_equal(json_object_set_new(c, name, value), 0);
    else
        assert_int_equal(json_object_del(c, name), 0);
    return tok_claims(&ed, hdr_for(&ed), c);
}

static int verify_at(token_claims *c, const char *t, int64_t now, int64_t skew)
{
    return token_verify(c, issuers, 2, t, strlen(t), now, skew);
}

/* A refusal: VAULT_EAUTH, the reason in the message, the claims wiped,
 * and no value of the token in the message. */
static void refused_at(char *t, const char *want, int64_t now, int64_t skew)
{
    static const char *const values[] = {"li.wei", "grid_worker", "street_office", "hangzhou",
                                         "tok-0001", "id.city", "ec.city", AUD, "zhang"};
    token_claims c;
    const char *msg;
    char head[17];
    size_t i;
    int rc;

    memset(&c, 0x5a, sizeof c);
    rc = verify_at(&c, t, now, skew);
    msg = vault_error_last();
    if (rc != VAULT_EAUTH || !strstr(msg, want))
        fail_msg("got %d '%s', wanted VAULT_EAUTH with '%s'", rc, msg, want);
    assert_null(c.issuer);
    assert_int_equal(c.sub[0] | c.user[0] | c.role[0] | c.iss[0] | c.jurisdiction[0], 0);
    assert_int_equal(c.exp, 0);
    for (i = 0; i < sizeof values / sizeof values[0]; i++)
        if (strstr(msg, values[i]))
            fail_msg("the message '%s' shows a value of the token", msg);
    if (strlen(t) >= 16) {
        memcpy(head, t, 16);
        head[16] = '\0';
        assert_null(strstr(msg, head));
    }
    assert_null(strchr(msg, '\n'));
    free(t);
}

static void refused(char *t, const char *want)
{
    refused_at(t, want, NOW, SKEW);
}

static void accepted_at(char *t, int64_t now, int64_t skew)
{
    token_claims c;

    if (verify_at(&c, t, now, skew) != 0)
        fail_msg("refused: %s", vault_error_last());
    assert_non_null(c.issuer);
    token_claims_clear(&c);
    free(t);
}

static void accepted(char *t)
{
    accepted_at(t, NOW, SKEW);
}

/* t with its part `which` (0 header, 1 payload, 2 signature) replaced. */
static char *replace_part(const char *t, int which, const char *part)
{
    const char *d1 = strchr(t, '.'), *d2 = strchr(d1 + 1, '.');
    size_t n = strlen(t) + strlen(part) + 4;
    char *out = malloc(n);

    assert_non_null(out);
    if (which == 0)
        snprintf(out, n, "%s%s", part, d1);
    else if (which == 1)
        snprintf(out, n, "%.*s.%s%s", (int)(d1 - t), t, part, d2);
    else
        snprintf(out, n, "%.*s.%s", (int)(d2 - t), t, part);
    return out;
}

static char *replace_part_free(char *t, int which, const char *part)
{
    char *out = replace_part(t, which, part);

    free(t);
    return out;
}

/* ---- fixture ---- */

static int setup(void **state)
{
    token_issuer_spec spec;

    (void)state;
    assert_int_equal(sodium_init() >= 0, 1);
    signer_ed(&ed, 0x11);
    signer_ed(&ed_other, 0x22);
    signer_ec_curve(&ec, GNUTLS_ECC_CURVE_SECP256R1);
    signer_ec_curve(&ec_other, GNUTLS_ECC_CURVE_SECP256R1);
    memset(&spec, 0, sizeof spec);
    spec.label = "city";
    spec.iss = ISS;
    spec.audience = AUD;
    spec.key = ed.key;
    spec.alg = "EdDSA";
    if (token_issuer_new(&issuers[0], &spec) != 0)
        fail_msg("%s", vault_error_last());
    spec.label = "city-ec";
    spec.iss = ISS_EC;
    spec.key = ec.key;
    spec.alg = NULL;
    if (token_issuer_new(&issuers[1], &spec) != 0)
        fail_msg("%s", vault_error_last());
    assert_int_equal(token_issuer_alg(issuers[1]), TOKEN_ALG_ES256);
    assert_int_equal(token_issuers_check(issuers, 2), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    token_issuer_free(issuers[0]);
    token_issuer_free(issuers[1]);
    gnutls_privkey_deinit(ec.ec);
    gnutls_privkey_deinit(ec_other.ec);
    return 0;
}

static token_issuer *issuer_of(const char *label, const char *iss, const char *key,
                               const char *kid)
{
    token_issuer_spec spec;
    token_issuer *is = NULL;

    memset(&spec, 0, sizeof spec);
    spec.label = label;
    spec.iss = iss;
    spec.audience = AUD;
    spec.key = key;
    spec.kid = kid;
    if (token_issuer_new(&is, &spec) != 0)
        fail_msg("%s", vault_error_last());
    return is;
}

/* ---- known answers ---- */

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Flip the lowest of the six bits one base64url character carries. */
static void flip_b64_bit(char *ch)
{
    const char *at = strchr(b64url_alphabet, *ch);

    assert_non_null(at);
    *ch = b64url_alphabet[(at - b64url_alphabet) ^ 1];
}

/* One bit of the signature (in its first byte). */
static void flip_sig_bit(char *t)
{
    flip_b64_bit(strrchr(t, '.') + 1);
}

static void test_rfc8037_vector(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL, key[128], *t;
    size_t n = tu_vectors("token.txt", rows, &storage), i, found = 0;
    token_issuer *is;

    (void)state;
    for (i = 0; i < n; i++) {
        if (strcmp(rows[i][0], "eddsa") != 0)
            continue;
        found++;
        snprintf(key, sizeof key, "ed25519:%s", rows[i][1]);
        is = issuer_of("rfc8037", "unused", key, NULL);
        if (token_signature_check(is, rows[i][2], strlen(rows[i][2])) != 0)
            fail_msg("RFC 8037 A.4: %s", vault_error_last());
        /* Not a claim set: token_verify refuses it. */
        {
            token_claims c;
            assert_int_equal(token_verify(&c, &is, 1, rows[i][2], strlen(rows[i][2]), NOW, 0),
                             VAULT_EAUTH);
            assert_non_null(strstr(vault_error_last(), "payload is not a JSON object"));
        }
        t = strdup(rows[i][2]);
        assert_non_null(t);
        flip_sig_bit(t);
        assert_int_equal(token_signature_check(is, t, strlen(t)), VAULT_EAUTH);
        assert_non_null(strstr(vault_error_last(), "bad signature"));
        /* The same vector is no ES256 token. */
        assert_int_equal(token_signature_check(issuers[1], rows[i][2], strlen(rows[i][2])),
                         VAULT_EAUTH);
        free(t);
        token_issuer_free(is);
    }
    assert_int_equal(found, 1);
    free(storage);
}

/* The RFC's JWK coordinates as a PEM SubjectPublicKeyInfo, through GnuTLS. */
static void pem_of_xy(char *out, size_t cap, const char *x64, const char *y64)
{
    uint8_t x[32], y[32];
    size_t xn = 0, yn = 0;
    gnutls_datum_t dx = {x, 32}, dy = {y, 32};
    gnutls_pubkey_t pub;

    assert_int_equal(sodium_base642bin(x, sizeof x, x64, strlen(x64), NULL, &xn, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    assert_int_equal(sodium_base642bin(y, sizeof y, y64, strlen(y64), NULL, &yn, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    assert_int_equal(xn, 32);
    assert_int_equal(yn, 32);
    assert_int_equal(gnutls_pubkey_init(&pub), 0);
    assert_int_equal(gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_SECP256R1, &dx, &dy), 0);
    pubkey_pem(out, cap, pub);
    gnutls_pubkey_deinit(pub);
}

static void test_rfc7515_vector(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL, pem[1024], *t;
    size_t n = tu_vectors("token.txt", rows, &storage), i, found = 0;
    token_issuer *is;

    (void)state;
    for (i = 0; i < n; i++) {
        if (strcmp(rows[i][0], "es256") != 0)
            continue;
        found++;
        pem_of_xy(pem, sizeof pem, rows[i][1], rows[i][2]);
        is = issuer_of("rfc7515", "joe", pem, NULL);
        assert_int_equal(token_issuer_alg(is), TOKEN_ALG_ES256);
        if (token_signature_check(is, rows[i][3], strlen(rows[i][3])) != 0)
            fail_msg("RFC 7515 A.3: %s", vault_error_last());
        /* Its payload is a claim set, but long expired. */
        {
            token_claims c;
            assert_int_equal(token_verify(&c, &is, 1, rows[i][3], strlen(rows[i][3]), NOW, 0),
                             VAULT_EAUTH);
            assert_non_null(strstr(vault_error_last(), "wrong audience"));
        }
        t = strdup(rows[i][3]);
        assert_non_null(t);
        flip_sig_bit(t);
        assert_int_equal(token_signature_check(is, t, strlen(t)), VAULT_EAUTH);
        assert_non_null(strstr(vault_error_last(), "bad signature"));
        /* One changed byte of the signing input. */
        flip_b64_bit(&t[25]);
        flip_sig_bit(t);
        assert_int_equal(token_signature_check(is, t, strlen(t)), VAULT_EAUTH);
        free(t);
        token_issuer_free(is);
    }
    assert_int_equal(found, 1);
    free(storage);
}

/* ---- accepted tokens ---- */

static void test_good_eddsa(void **state)
{
    token_claims c;
    char *t = good_token();

    (void)state;
    if (verify_at(&c, t, NOW, SKEW) != 0)
        fail_msg("%s", vault_error_last());
    assert_ptr_equal(c.issuer, issuers[0]);
    assert_string_equal(token_issuer_label(c.issuer), "city");
    assert_string_equal(c.iss, ISS);
    assert_string_equal(c.sub, "li.wei");
    assert_string_equal(c.jti, "tok-0001");
    assert_int_equal(c.exp, NOW + 600);
    assert_int_equal(c.iat, NOW - 10);
    assert_int_equal(c.nbf, NOW - 10);
    assert_string_equal(c.user, "li.wei");
    assert_string_equal(c.role, "grid_worker");
    assert_string_equal(c.department, "street_office");
    assert_string_equal(c.jurisdiction, "hangzhou/gongshu/xiaohe/changzheng/grid-07");
    token_claims_clear(&c);
    assert_int_equal(c.sub[0] | c.user[0], 0);
    assert_null(c.issuer);
    free(t);
    /* No jti, iat or nbf, no typ, aud as an array holding ours. */
    {
        json_t *cl = good_claims(ISS);
        json_object_del(cl, "jti");
        json_object_del(cl, "iat");
        json_object_del(cl, "nbf");
        json_object_set_new(cl, "aud", json_pack("[s,s]", "other-service", AUD));
        t = tok_claims(&ed, "{\"alg\":\"EdDSA\"}", cl);
        assert_int_equal(verify_at(&c, t, NOW, 0), 0);
        assert_string_equal(c.jti, "");
        assert_int_equal(c.iat, 0);
        token_claims_clear(&c);
        free(t);
    }
    /* typ in lower case (RFC 7515 §4.1.9: compared case-insensitively). */
    accepted(tok_claims(&ed, "{\"alg\":\"EdDSA\",\"typ\":\"jwt\"}", good_claims(ISS)));
    /* Header key hints are ignored, never used. */
    accepted(tok_claims(&ed, "{\"alg\":\"EdDSA\",\"jku\":\"https://evil.example/k\"}", good_claims(ISS)));
}

static void test_good_es256(void **state)
{
    token_claims c;
    char *t;
    int i;

    (void)state;
    /* Several, so some r or s starts with a zero byte now and then. */
    for (i = 0; i < 8; i++) {
        t = tok_claims(&ec, hdr_for(&ec), good_claims(ISS_EC));
        if (verify_at(&c, t, NOW, SKEW) != 0)
            fail_msg("%s", vault_error_last());
        assert_ptr_equal(c.issuer, issuers[1]);
        assert_string_equal(c.role, "grid_worker");
        token_claims_clear(&c);
        free(t);
    }
}

static void test_claim_mapping(void **state)
{
    token_issuer_spec spec;
    token_issuer *is = NULL;
    token_claims c;
    json_t *cl;
    char *t;

    (void)state;
    memset(&spec, 0, sizeof spec);
    spec.label = "oidc";
    spec.iss = ISS;
    spec.audience = AUD;
    spec.key = ed.key;
    spec.claim_user = "preferred_username";
    spec.claim_role = "https://city.example/role";
    spec.claim_department = "dept";
    spec.claim_jurisdiction = "area";
    assert_int_equal(token_issuer_new(&is, &spec), 0);
    cl = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s}", "iss", ISS, "aud", AUD, "sub",
                   "0b6f2c1e-opaque", "exp", (json_int_t)(NOW + 60), "preferred_username",
                   "wang.fang", "https://city.example/role", "data_officer", "dept",
                   "civil_affairs", "area", "hangzhou/gongshu");
    t = tok_claims(&ed, hdr_for(&ed), cl);
    if (token_verify(&c, &is, 1, t, strlen(t), NOW, 0) != 0)
        fail_msg("%s", vault_error_last());
    assert_string_equal(c.sub, "0b6f2c1e-opaque");
    assert_string_equal(c.user, "wang.fang");
    assert_string_equal(c.role, "data_officer");
    assert_string_equal(c.department, "civil_affairs");
    assert_string_equal(c.jurisdiction, "hangzhou/gongshu");
    token_claims_clear(&c);
    free(t);
    /* The default claims do not stand in for the mapped ones. */
    t = good_token();
    assert_int_equal(token_verify(&c, &is, 1, t, strlen(t), NOW, 0), VAULT_EAUTH);
    assert_non_null(strstr(vault_error_last(), "no \"preferred_username\" claim"));
    free(t);
    token_issuer_free(is);
}

/* ---- refused: signatures and algorithms ---- */

static void test_forged(void **state)
{
    char *t, *t2;
    json_t *cl;

    (void)state;
    /* One bit of the signature. */
    t = good_token();
    flip_sig_bit(t);
    refused(t, "bad signature");
    t = tok_claims(&ec, hdr_for(&ec), good_claims(ISS_EC));
    flip_sig_bit(t);
    refused(t, "bad signature");
    /* Another key, same issuer name. */
    refused(tok_claims(&ed_other, hdr_for(&ed), good_claims(ISS)), "bad signature");
    refused(tok_claims(&ec_other, hdr_for(&ec), good_claims(ISS_EC)), "bad signature");
    /* A changed claim under the old signature. */
    t = good_token();
    cl = good_claims(ISS);
    json_object_set_new(cl, "role", json_string("police_officer"));
    t2 = tok_claims(&ed, hdr_for(&ed), cl);
    {
        char *payload = strchr(t2, '.') + 1, *end = strchr(payload, '.');
        *end = '\0';
        refused(replace_part_free(t, 1, payload), "bad signature");
    }
    free(t2);
    /* The signature of the RFC vector on our header and payload. */
    t = good_token();
    refused(replace_part_free(t, 2, "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"),
            "bad signature");
}

static void test_alg_none_and_confusion(void **state)
{
    char *t;

    (void)state;
    /* alg none, with an empty and with a real signature. */
    t = tok_claims(&ed, "{\"alg\":\"none\"}", good_claims(ISS));
    refused(replace_part_free(t, 2, ""), "unsigned (alg \"none\")");
    refused(tok_claims(&ed, "{\"alg\":\"none\",\"typ\":\"JWT\"}", good_claims(ISS)), "alg \"none\"");
    refused(tok_claims(&ed, "{\"alg\":\"NONE\"}", good_claims(ISS)), "alg is not EdDSA");
    /* ES256 header to the EdDSA issuer (signed by either key), and back. */
    refused(tok_claims(&ec, "{\"alg\":\"ES256\"}", good_claims(ISS)), "alg is not EdDSA");
    refused(tok_claims(&ed, "{\"alg\":\"ES256\"}", good_claims(ISS)), "alg is not EdDSA");
    refused(tok_claims(&ed, "{\"alg\":\"EdDSA\"}", good_claims(ISS_EC)), "alg is not ES256");
    refused(tok_claims(&ec, "{\"alg\":\"EdDSA\"}", good_claims(ISS_EC)), "alg is not ES256");
    /* HMAC with the public key as secret, the classic confusion. */
    refused(tok_claims(&ed, "{\"alg\":\"HS256\"}", good_claims(ISS)), "alg is not EdDSA");
    refused(tok_claims(&ed, "{\"typ\":\"JWT\"}", good_claims(ISS)), "no \"alg\" string");
    refused(tok_claims(&ed, "{\"alg\":7}", good_claims(ISS)), "no \"alg\" string");
    /* crit, and a typ that is not JWT. */
    refused(tok_claims(&ed, "{\"alg\":\"EdDSA\",\"crit\":[\"exp\"],\"exp\":1}", good_claims(ISS)),
            "\"crit\"");
    refused(tok_claims(&ed, "{\"alg\":\"EdDSA\",\"b64\":false,\"crit\":[\"b64\"]}", good_claims(ISS)),
            "\"crit\"");
    refused(tok_claims(&ed, "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\"}", good_claims(ISS)),
            "typ is not JWT");
    refused(tok_claims(&ed, "{\"alg\":\"EdDSA\",\"typ\":1}", good_claims(ISS)), "typ is not JWT");
}

static void test_issuer_and_kid(void **state)
{
    token_issuer *two[3];
    token_claims c;
    json_t *cl;
    char *t;

    (void)state;
    refused(tok_claims(&ed, hdr_for(&ed), good_claims("https://evil.example")), "unknown issuer");
    cl = good_claims(ISS);
    json_object_del(cl, "iss");
    refused(tok_claims(&ed, hdr_for(&ed), cl), "unknown issuer");
    refused(tok_with("iss", json_integer(5)), "unknown issuer");
    /* Two keys of one iss told apart by kid; a third without kid. */
    two[0] = issuer_of("k1", ISS, ed.key, "k1");
    two[1] = issuer_of("k2", ISS, ed_other.key, "k2");
    assert_int_equal(token_issuers_check(two, 2), 0);
    t = tok_claims(&ed_other, "{\"alg\":\"EdDSA\",\"kid\":\"k2\"}", good_claims(ISS));
    assert_int_equal(token_verify(&c, two, 2, t, strlen(t), NOW, 0), 0);
    assert_ptr_equal(c.issuer, two[1]);
    token_claims_clear(&c);
    free(t);
    /* kid k1 with k2's key; an unknown kid; no kid at all. */
    t = tok_claims(&ed_other, "{\"alg\":\"EdDSA\",\"kid\":\"k1\"}", good_claims(ISS));
    assert_int_equal(token_verify(&c, two, 2, t, strlen(t), NOW, 0), VAULT_EAUTH);
    assert_non_null(strstr(vault_error_last(), "bad signature"));
    free(t);
    t = tok_claims(&ed, "{\"alg\":\"EdDSA\",\"kid\":\"k9\"}", good_claims(ISS));
    assert_int_equal(token_verify(&c, two, 2, t, strlen(t), NOW, 0), VAULT_EAUTH);
    assert_non_null(strstr(vault_error_last(), "unknown issuer"));
    free(t);
    t = good_token();
    assert_int_equal(token_verify(&c, two, 2, t, strlen(t), NOW, 0), VAULT_EAUTH);
    assert_non_null(strstr(vault_error_last(), "unknown issuer"));
    free(t);
    t = tok_claims(&ed, "{\"alg\":\"EdDSA\",\"kid\":5}", good_claims(ISS));
    assert_int_equal(token_verify(&c, two, 2, t, strlen(t), NOW, 0), VAULT_EAUTH);
    assert_non_null(strstr(vault_error_last(), "kid is not a string"));
    free(t);
    /* An issuer without kid takes tokens with any kid, after exact ones. */
    two[2] = issuer_of("nokid", ISS, ed.key, NULL);
    t = tok_claims(&ed, "{\"alg\":\"EdDSA\",\"kid\":\"k9\"}", good_claims(ISS));
    assert_int_equal(token_verify(&c, two, 3, t, strlen(t), NOW, 0), 0);
    assert_ptr_equal(c.issuer, two[2]);
    free(t);
    t = tok_claims(&ed_other, "{\"alg\":\"EdDSA\",\"kid\":\"k2\"}", good_claims(ISS));
    assert_int_equal(token_verify(&c, two, 3, t, strlen(t), NOW, 0), 0);
    assert_ptr_equal(c.issuer, two[1]);
    token_claims_clear(&c);
    free(t);
    /* The signature check alone still checks a configured kid. */
    t = good_token();
    assert_int_equal(token_signature_check(two[0], t, strlen(t)), VAULT_EAUTH);
    free(t);
    token_issuer_free(two[0]);
    token_issuer_free(two[1]);
    token_issuer_free(two[2]);
}

/* ---- refused: claims ---- */

static void test_audience(void **state)
{
    (void)state;
    refused(tok_with("aud", json_string("vaultd-other")), "wrong audience");
    refused(tok_with("aud", json_string(AUD "x")), "wrong audience");
    refused(tok_with("aud", json_pack("[s,s]", "a", "b")), "wrong audience");
    refused(tok_with("aud", json_array()), "wrong audience");
    refused(tok_with("aud", NULL), "wrong audience");
    refused(tok_with("aud", json_integer(1)), "neither a string nor an array");
    refused(tok_with("aud", json_pack("[s,i]", AUD, 1)), "holds a non-string");
    accepted(tok_with("aud", json_pack("[s]", AUD)));
}

static void test_times(void **state)
{
    (void)state;
    /* exp: required, an integer, now < exp + skew. */
    refused_at(tok_with("exp", json_integer(NOW - 1)), "token expired", NOW, 0);
    refused_at(tok_with("exp", json_integer(NOW)), "token expired", NOW, 0);
    accepted_at(tok_with("exp", json_integer(NOW + 1)), NOW, 0);
    accepted_at(tok_with("exp", json_integer(NOW - 30)), NOW, 60);  /* within the skew */
    accepted_at(tok_with("exp", json_integer(NOW - 59)), NOW, 60);
    refused_at(tok_with("exp", json_integer(NOW - 60)), "token expired", NOW, 60);
    refused_at(tok_with("exp", json_integer(NOW - 61)), "token expired", NOW, 60);
    refused(tok_with("exp", json_integer(-1)), "token expired");
    refused(tok_with("exp", NULL), "no \"exp\" claim");
    refused(tok_with("exp", json_string("1800000600")), "\"exp\" is not an integer");
    refused(tok_with("exp", json_real(1800000600.0)), "\"exp\" is not an integer");
    refused(tok_with("exp", json_true()), "\"exp\" is not an integer");
    /* nbf: if present, <= now + skew. */
    refused(tok_with("nbf", json_integer(NOW + SKEW + 1)), "token not yet valid");
    accepted(tok_with("nbf", json_integer(NOW + SKEW)));
    refused_at(tok_with("nbf", json_integer(NOW + 1)), "token not yet valid", NOW, 0);
    refused(tok_with("nbf", json_string("soon")), "\"nbf\" is not an integer");
    /* iat: if present, not in the future beyond the skew. */
    refused(tok_with("iat", json_integer(NOW + SKEW + 1)), "issued in the future");
    accepted(tok_with("iat", json_integer(NOW + SKEW)));
    refused(tok_with("iat", json_real(1.5)), "\"iat\" is not an integer");
    /* Arguments out of range are the caller's error. */
    {
        token_claims c;
        char *t = good_token();
        assert_int_equal(verify_at(&c, t, NOW, TOKEN_SKEW_MAX + 1), VAULT_EINVALID);
        assert_int_equal(verify_at(&c, t, NOW, -1), VAULT_EINVALID);
        assert_int_equal(verify_at(&c, t, -5, 0), VAULT_EINVALID);
        assert_int_equal(verify_at(&c, t, TOKEN_TIME_MAX + 1, 0), VAULT_EINVALID);
        assert_int_equal(token_verify(NULL, issuers, 2, t, strlen(t), NOW, 0), VAULT_EINVALID);
        assert_int_equal(token_verify(&c, issuers, 2, NULL, 5, NOW, 0), VAULT_EINVALID);
        free(t);
    }
}

static void test_max_lifetime(void **state)
{
    token_issuer_spec spec;
    token_issuer *is = NULL;
    token_claims c;
    char *t;

    (void)state;
    memset(&spec, 0, sizeof spec);
    spec.label = "short";
    spec.iss = ISS;
    spec.audience = AUD;
    spec.key = ed.key;
    spec.max_lifetime = 600; /* the good token: iat now-10, exp now+600 */
    assert_int_equal(token_issuer_new(&is, &spec), 0);
    t = good_token();
    assert_int_equal(token_verify(&c, &is, 1, t, strlen(t), NOW, 0), VAULT_EAUTH);
    assert_non_null(strstr(vault_error_last(), "lifetime longer than issuer 'short' allows"));
    free(t);
    t = tok_with("iat", json_integer(NOW));
    assert_int_equal(token_verify(&c, &is, 1, t, strlen(t), NOW, 0), 0);
    free(t);
    /* Without iat, from now; an iat far in the past cannot overflow. */
    t = tok_with("iat", NULL);
    assert_int_equal(token_verify(&c, &is, 1, t, strlen(t), NOW, 0), 0);
    free(t);
    t = tok_with("iat", json_integer(INT64_MIN));
    assert_int_equal(token_verify(&c, &is, 1, t, strlen(t), NOW, 0), VAULT_EAUTH);
    free(t);
    token_claims_clear(&c);
    token_issuer_free(is);
    spec.max_lifetime = -1;
    assert_int_equal(token_issuer_new(&is, &spec), VAULT_EINVALID);
}

static json_t *string_of(size_t n, char ch)
{
    char *s = malloc(n + 1);
    json_t *j;

    assert_non_null(s);
    memset(s, ch, n);
    s[n] = '\0';
    j = json_string(s);
    free(s);
    return j;
}

static void test_mapped_claims(void **state)
{
    size_t name_max = vault_name_max(), jur_max = vault_jurisdiction_max();

    (void)state;
    refused(tok_with("role", NULL), "no \"role\" claim");
    refused(tok_with("department", NULL), "no \"department\" claim");
    refused(tok_with("jurisdiction", NULL), "no \"jurisdiction\" claim");
    refused(tok_with("sub", NULL), "no \"sub\" claim");
    refused(tok_with("role", json_integer(3)), "claim \"role\" is not a string");
    refused(tok_with("role", json_pack("[s]", "grid_worker")), "claim \"role\" is not a string");
    refused(tok_with("department", json_null()), "claim \"department\" is not a string");
    refused(tok_with("role", json_string("")), "claim \"role\" is empty");
    refused(tok_with("sub", json_string("")), "claim \"sub\" is empty");
    /* The library's limits: names up to vault_name_max() - 1 bytes,
     * jurisdictions up to vault_jurisdiction_max(). */
    accepted(tok_with("role", string_of(name_max - 1, 'r')));
    refused(tok_with("role", string_of(name_max, 'r')), "claim \"role\" is longer than 127 bytes");
    refused(tok_with("department", string_of(name_max, 'd')), "is longer than");
    refused(tok_with("sub", string_of(name_max, 'u')), "claim \"sub\" is longer than");
    accepted(tok_with("jurisdiction", string_of(jur_max, 'j')));
    refused(tok_with("jurisdiction", string_of(jur_max + 1, 'j')),
            "claim \"jurisdiction\" is longer than 512 bytes");
    refused(tok_with("jti", json_integer(1)), "claim \"jti\" is not a string");
    refused(tok_with("jti", string_of(TOKEN_JTI_MAX + 1, 'x')), "claim \"jti\" is longer than");
}

/* ---- refused: structure, encoding, JSON ---- */

static void test_structure(void **state)
{
    char *t, *u, big[TOKEN_MAX + 64];
    size_t n;

    (void)state;
    t = good_token();
    /* 2 parts (one dot), 4 parts, 5 (a JWE's shape), no dot. */
    *strrchr(t, '.') = '\0';
    refused(t, "2 parts, not the 3");
    t = good_token();
    n = strlen(t) + 8;
    u = malloc(n);
    assert_non_null(u);
    snprintf(u, n, "%s.AAAA", t);
    refused(u, "4 parts");
    u = malloc(n);
    assert_non_null(u);
    snprintf(u, n, "%s..", t);
    refused(u, "5 parts");
    refused(strdup("eyJhbGciOiJFZERTQSJ9"), "1 parts");
    refused(strdup(".."), "header is not a JSON object");
    refused(strdup(""), "malformed token: empty");
    free(t);
    /* Oversize: the whole token, and a payload past its own limit. */
    memset(big, 'A', sizeof big);
    big[10] = '.';
    big[20] = '.';
    big[TOKEN_MAX + 1] = '\0';
    refused(strdup(big), "longer than 8192 bytes");
    {
        json_t *cl = good_claims(ISS);
        json_object_set_new(cl, "padding", string_of(TOKEN_JSON_MAX, 'p'));
        t = tok_claims(&ed, hdr_for(&ed), cl);
        assert_true(strlen(t) <= TOKEN_MAX);
        refused(t, "payload is longer than 4096 bytes");
    }
    /* Just inside the limits is fine. */
    {
        json_t *cl = good_claims(ISS);
        char *text;
        size_t len;
        json_object_set_new(cl, "padding", json_string(""));
        text = json_dumps(cl, JSON_COMPACT);
        len = strlen(text);
        free(text);
        json_object_set_new(cl, "padding", string_of(TOKEN_JSON_MAX - len, 'p'));
        accepted(tok_claims(&ed, hdr_for(&ed), cl));
    }
}

static void test_base64url(void **state)
{
    char *t, *u, *d1;
    size_t n;

    (void)state;
    /* Padding on the payload. */
    t = good_token();
    d1 = strchr(t, '.');
    {
        char *d2 = strchr(d1 + 1, '.');
        n = strlen(t) + 4;
        u = malloc(n);
        assert_non_null(u);
        snprintf(u, n, "%.*s==%s", (int)(d2 - t), t, d2);
        refused(u, "payload is not valid base64url");
        free(t);
    }
    /* The standard alphabet's + and / in the header, payload, signature. */
    t = good_token();
    t[3] = '+';
    refused(t, "header is not valid base64url");
    t = good_token();
    d1 = strchr(t, '.');
    d1[5] = '/';
    refused(t, "payload is not valid base64url");
    t = good_token();
    strrchr(t, '.')[4] = '+';
    refused(t, "signature is not valid base64url");
    t = good_token();
    d1 = strchr(t, '.');
    d1[5] = ' ';
    refused(t, "payload is not valid base64url");
    /* A part of 4k+1 characters cannot be base64url at all. */
    t = good_token();
    refused(replace_part_free(t, 0, "eyJhbGciOiJFZERTQSJ9A"), "header is not valid base64url");
    /* The same signature spelled with non-zero trailing bits: 86
     * characters carry 512 bits plus 4 that must be zero. */
    t = good_token();
    {
        char *last = t + strlen(t) - 1;
        int v = (int)(strchr(b64url_alphabet, *last) - b64url_alphabet);
        assert_int_equal(v & 15, 0);
        flip_b64_bit(last);
    }
    refused(t, "signature is not valid base64url");
    /* A signature of the wrong length. */
    t = good_token();
    refused(replace_part_free(t, 2, "AAAA"), "signature is not 64 bytes");
    t = good_token();
    refused(replace_part_free(t, 2, ""), "signature is not 64 bytes");
}

static void test_json(void **state)
{
    char *p;

    (void)state;
    /* Duplicate claims: the second "role" would win in most parsers. */
    refused(jws(&ed, hdr_for(&ed),
                "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"li.wei\",\"exp\":1800000600,"
                "\"role\":\"grid_worker\",\"role\":\"police_officer\",\"department\":\"d\","
                "\"jurisdiction\":\"hangzhou\"}"),
            "payload has a duplicate key");
    refused(jws(&ed, hdr_for(&ed),
                "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1800000600,\"exp\":1999999999}"),
            "payload has a duplicate key");
    refused(jws(&ed, "{\"alg\":\"EdDSA\",\"alg\":\"none\"}", "{}"), "header has a duplicate key");
    refused(jws(&ed, hdr_for(&ed), "{\"x\":{\"a\":1,\"a\":2}}"), "payload has a duplicate key");
    /* Not an object, not JSON. */
    refused(jws(&ed, "[\"EdDSA\"]", "{}"), "header is not a JSON object");
    refused(jws(&ed, "\"EdDSA\"", "{}"), "header is not a JSON object");
    refused(jws(&ed, hdr_for(&ed), "[1,2]"), "payload is not a JSON object");
    refused(jws(&ed, hdr_for(&ed), "{\"iss\":"), "payload is not a JSON object (error at byte");
    refused(jws(&ed, hdr_for(&ed), "{} {}"), "payload is not a JSON object");
    refused(jws(&ed, hdr_for(&ed), ""), "payload is not a JSON object");
    /* A NUL inside a claim (\u0000) is not taken. */
    refused(jws(&ed, hdr_for(&ed),
                "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"li\\u0000wei\",\"exp\":1800000600}"),
            "payload is not a JSON object");
    /* Not UTF-8. */
    p = strdup("{\"iss\":\"\xff\"}");
    assert_non_null(p);
    refused(jws(&ed, hdr_for(&ed), p), "payload is not a JSON object");
    free(p);
}

/* ---- issuer configuration ---- */

static void issuer_refused(token_issuer_spec *spec, const char *want)
{
    token_issuer *is = (token_issuer *)1;
    int rc = token_issuer_new(&is, spec);

    if (rc != VAULT_EINVALID || !strstr(vault_error_last(), want))
        fail_msg("got %d '%s', wanted VAULT_EINVALID with '%s'", rc, vault_error_last(), want);
    assert_null(is);
}

static void test_issuer_config(void **state)
{
    token_issuer_spec spec, good;
    token_issuer *is = NULL, *set[2];
    signer p384;
    char key[256], pem[1024];
    uint8_t bad[32];
    gnutls_pubkey_t pub;
    gnutls_datum_t x = {ed.pk, 32};

    (void)state;
    memset(&good, 0, sizeof good);
    good.label = "city";
    good.iss = ISS;
    good.audience = AUD;
    good.key = ed.key;
    spec = good;
    spec.label = "bad label";
    issuer_refused(&spec, "label may hold only");
    spec.label = "";
    issuer_refused(&spec, "label is missing");
    spec = good;
    spec.iss = "";
    issuer_refused(&spec, "issuer 'city': iss is missing or empty");
    spec.iss = "https://id.city.example/\n";
    issuer_refused(&spec, "iss has a character that is not allowed");
    spec = good;
    spec.audience = NULL;
    issuer_refused(&spec, "audience is missing");
    spec = good;
    spec.claim_role = "ro\"le";
    issuer_refused(&spec, "the claim for role has a character");
    spec = good;
    spec.key = "ed25519:AAAA";
    issuer_refused(&spec, "not ed25519: and base64 of 32 bytes");
    spec.key = "ed25519:";
    issuer_refused(&spec, "not ed25519: and base64 of 32 bytes");
    spec.key = "rsa:AAAA";
    issuer_refused(&spec, "neither ed25519:<base64> nor a PEM");
    spec.key = NULL;
    issuer_refused(&spec, "no key");
    spec.key = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    issuer_refused(&spec, "not a PEM SubjectPublicKeyInfo");
    /* 32 bytes that are no point of the curve. */
    memset(bad, 0, sizeof bad);
    bad[0] = 2;
    assert_int_equal(crypto_core_ed25519_is_valid_point(bad), 0);
    {
        char b64[64];
        sodium_bin2base64(b64, sizeof b64, bad, 32, sodium_base64_VARIANT_ORIGINAL);
        snprintf(key, sizeof key, "ed25519:%s", b64);
    }
    spec.key = key;
    issuer_refused(&spec, "not a valid Ed25519 public key");
    /* A P-384 key is no ES256 key. */
    signer_ec_curve(&p384, GNUTLS_ECC_CURVE_SECP384R1);
    spec.key = p384.key;
    issuer_refused(&spec, "not on P-256");
    gnutls_privkey_deinit(p384.ec);
    /* alg must match the key. */
    spec = good;
    spec.alg = "ES256";
    issuer_refused(&spec, "alg ES256 does not match its key");
    spec.alg = "RS256";
    issuer_refused(&spec, "alg must be EdDSA or ES256");
    spec = good;
    spec.key = ec.key;
    spec.alg = "EdDSA";
    issuer_refused(&spec, "alg EdDSA does not match its key");
    /* The base64url form of a JWK's x works like the padded one. */
    {
        char *u = b64u(ed.pk, 32);
        snprintf(key, sizeof key, "ed25519:%s", u);
        free(u);
    }
    spec = good;
    spec.key = key;
    assert_int_equal(token_issuer_new(&is, &spec), 0);
    accepted(good_token()); /* (the fixture's issuer) */
    {
        token_claims c;
        char *t = good_token();
        assert_int_equal(token_verify(&c, &is, 1, t, strlen(t), NOW, 0), 0);
        free(t);
    }
    token_issuer_free(is);
    /* An Ed25519 PEM SubjectPublicKeyInfo verifies libsodium's tokens. */
    assert_int_equal(gnutls_pubkey_init(&pub), 0);
    assert_int_equal(gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_ED25519, &x, NULL), 0);
    pubkey_pem(pem, sizeof pem, pub);
    gnutls_pubkey_deinit(pub);
    spec = good;
    spec.key = pem;
    spec.alg = "EdDSA";
    assert_int_equal(token_issuer_new(&is, &spec), 0);
    assert_int_equal(token_issuer_alg(is), TOKEN_ALG_EDDSA);
    {
        token_claims c;
        char *t = good_token();
        if (token_verify(&c, &is, 1, t, strlen(t), NOW, 0) != 0)
            fail_msg("%s", vault_error_last());
        free(t);
        t = tok_claims(&ed_other, hdr_for(&ed), good_claims(ISS));
        assert_int_equal(token_verify(&c, &is, 1, t, strlen(t), NOW, 0), VAULT_EAUTH);
        free(t);
    }
    /* A set: labels unique, one iss told apart by kid. */
    set[0] = is;
    set[1] = issuer_of("city", "https://other.example", ed.key, NULL);
    assert_int_equal(token_issuers_check(set, 2), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "label 'city' is used twice"));
    token_issuer_free(set[1]);
    set[1] = issuer_of("city2", ISS, ed_other.key, NULL);
    assert_int_equal(token_issuers_check(set, 2), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "the same iss and no kid"));
    token_issuer_free(set[1]);
    set[1] = issuer_of("city3", ISS, ed_other.key, "k2");
    assert_int_equal(token_issuers_check(set, 2), 0);
    token_issuer_free(set[1]);
    token_issuer_free(is);
    token_issuer_free(NULL);
}

/* ---- the development issuer ---- */

/* vaultctl token keygen + issue, verified here: the two halves agree. */
static void test_vaultctl_issuer(void **state)
{
    char vaultctl[1024], cmd[4096], line[TOKEN_MAX + 2], pub[256] = "", *dir;
    FILE *p;
    token_issuer *is = NULL;
    token_claims c;
    size_t n;

    (void)state;
#ifndef VAULT_BINARY_DIR
    skip();
#else
    snprintf(vaultctl, sizeof vaultctl, "%s/vaultctl", VAULT_BINARY_DIR);
    if (access(vaultctl, X_OK) != 0)
        skip();
    dir = tu_tmpdir();
    snprintf(cmd, sizeof cmd, "'%s' token keygen --out '%s/issuer.key'", vaultctl, dir);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(pub, sizeof pub, p));
    assert_int_equal(pclose(p), 0);
    n = strlen(pub);
    assert_true(n > 0 && pub[n - 1] == '\n');
    pub[n - 1] = '\0';
    assert_int_equal(strncmp(pub, "ed25519:", 8), 0);
    is = issuer_of("dev", "https://dev.example", pub, NULL);
    snprintf(cmd, sizeof cmd,
             "'%s' token issue --issuer-key '%s/issuer.key' --iss https://dev.example --aud " AUD
             " --sub li.wei --role grid_worker --dept street_office --jurisdiction "
             "hangzhou/gongshu --ttl 5m --jti test-1",
             vaultctl, dir);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof line, p));
    assert_int_equal(pclose(p), 0);
    n = strlen(line);
    assert_true(n > 0 && line[n - 1] == '\n');
    line[--n] = '\0';
    if (token_verify(&c, &is, 1, line, n, time(NULL), 5) != 0)
        fail_msg("%s", vault_error_last());
    assert_string_equal(c.sub, "li.wei");
    assert_string_equal(c.user, "li.wei");
    assert_string_equal(c.role, "grid_worker");
    assert_string_equal(c.department, "street_office");
    assert_string_equal(c.jurisdiction, "hangzhou/gongshu");
    assert_string_equal(c.jti, "test-1");
    assert_true(c.exp - c.iat == 300 && c.nbf == c.iat);
    token_claims_clear(&c);
    /* Five minutes later it is refused. */
    assert_int_equal(token_verify(&c, &is, 1, line, n, time(NULL) + 301, 0), VAULT_EAUTH);
    assert_non_null(strstr(vault_error_last(), "token expired"));
    token_issuer_free(is);
    tu_rmdir(dir);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc8037_vector),
        cmocka_unit_test(test_rfc7515_vector),
        cmocka_unit_test(test_good_eddsa),
        cmocka_unit_test(test_good_es256),
        cmocka_unit_test(test_claim_mapping),
        cmocka_unit_test(test_forged),
        cmocka_unit_test(test_alg_none_and_confusion),
        cmocka_unit_test(test_issuer_and_kid),
        cmocka_unit_test(test_audience),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_max_lifetime),
        cmocka_unit_test(test_mapped_claims),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_base64url),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_issuer_config),
        cmocka_unit_test(test_vaultctl_issuer),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}

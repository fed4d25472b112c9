/* token: identity tokens for vaultd.  A person is known only from a
 * signed JWT (RFC 7519) in JWS compact form (RFC 7515) from a pinned
 * issuer, signed with EdDSA/Ed25519 (RFC 8037, libsodium) or ES256
 * (ECDSA P-256 + SHA-256, RFC 7518 §3.4, GnuTLS).  What is accepted and
 * refused, the claim mapping and the key formats: docs/tokens.md.
 *
 * Errors: every refusal of a token is VAULT_EAUTH with one line naming
 * the reason class ("token expired", "bad signature", "wrong audience",
 * "unknown issuer", "malformed token: ...") and at most the label of a
 * configured issuer or a configured claim name; never the token, nor a
 * value from it.  A caller's mistake (NULL arguments, a skew out of
 * range) is VAULT_EINVALID; a bad issuer configuration VAULT_EINVALID;
 * memory VAULT_ENOMEM.  Nothing here touches files; an issuer is
 * immutable once made, so one set of issuers may be shared by threads
 * that each verify with their own token_claims (ES256 checks under one
 * key take turns on a mutex, as GnuTLS wants one thread per object). */
#ifndef VAULT_TOKEN_H
#define VAULT_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "vault.h"

#define TOKEN_MAX 8192         /* longest token, bytes of compact form */
#define TOKEN_JSON_MAX 4096    /* longest decoded header or payload JSON */
#define TOKEN_ISS_MAX 256      /* longest iss, bytes (buffers add a NUL) */
#define TOKEN_SUB_MAX 256      /* longest sub */
#define TOKEN_JTI_MAX 128      /* longest jti */
#define TOKEN_KID_MAX 128      /* longest kid */
#define TOKEN_LABEL_MAX 64     /* longest issuer label */
#define TOKEN_SKEW_MAX 600     /* largest clock skew token_verify accepts */
#define TOKEN_TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z: later `now` refused */

typedef enum token_alg {
    TOKEN_ALG_EDDSA = 1, /* "EdDSA", Ed25519 keys */
    TOKEN_ALG_ES256 = 2  /* "ES256", P-256 keys */
} token_alg;

/* One pinned issuer, opaque. */
typedef struct token_issuer token_issuer;

/* What a configuration says about one issuer (docs/tokens.md, "Issuers").
 * Every string is copied by token_issuer_new. */
typedef struct token_issuer_spec {
    const char *label;    /* the config's name for it, shown in errors: 1..63 bytes of [A-Za-z0-9_.-] */
    const char *iss;      /* the required `iss`, 1..TOKEN_ISS_MAX bytes */
    const char *audience; /* the audience that `aud` must be or contain, 1..TOKEN_ISS_MAX bytes */
    /* The public key: "ed25519:<base64 of 32 bytes>" (standard alphabet,
     * padded, or base64url without padding as in a JWK's "x"), or the text
     * of a PEM SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----") holding
     * a P-256 key (ES256) or an Ed25519 key (EdDSA). */
    const char *key;
    /* "EdDSA" or "ES256", or NULL to take it from the key.  When given it
     * must match the key's type. */
    const char *alg;
    const char *kid; /* NULL: any or no `kid`; else tokens must name this kid */
    /* The claims that carry the subject; NULL means the default in
     * brackets.  Each is a claim name of 1..TOKEN_KID_MAX bytes. */
    const char *claim_user;         /* ["sub"], e.g. "preferred_username" */
    const char *claim_role;         /* ["role"] */
    const char *claim_department;   /* ["department"] */
    const char *claim_jurisdiction; /* ["jurisdiction"] */
    /* Longest exp - iat accepted (exp - now when there is no iat), in
     * seconds; 0 means no bound beyond exp itself. */
    int64_t max_lifetime;
} token_issuer_spec;

/* Make an issuer from spec.  VAULT_EINVALID with a line naming the label
 * and the bad item (never the key bytes); VAULT_ENOMEM.  *out is NULL on
 * failure; free with token_issuer_free. */
int token_issuer_new(token_issuer **out, const token_issuer_spec *spec) VAULT_CHECK;
/* NULL does nothing. */
void token_issuer_free(token_issuer *issuer);
/* The label, the algorithm, the configured kid (NULL when none). */
const char *token_issuer_label(const token_issuer *issuer);
token_alg token_issuer_alg(const token_issuer *issuer);
const char *token_issuer_kid(const token_issuer *issuer);

/* Check a configuration's set of issuers as a whole: labels unique, and
 * no two issuers with the same iss that a token could not tell apart
 * (the same kid, or both without one).  VAULT_EINVALID naming the two
 * labels. */
int token_issuers_check(token_issuer *const *issuers, size_t n) VAULT_CHECK;

/* The verified identity.  Strings are NUL-terminated within their
 * buffers; jti is "" when the token has none; iat and nbf are 0 when the
 * token has none. */
typedef struct token_claims {
    const token_issuer *issuer; /* the issuer that signed it (not owned) */
    char iss[TOKEN_ISS_MAX + 1];
    char sub[TOKEN_SUB_MAX + 1];
    char jti[TOKEN_JTI_MAX + 1];
    int64_t exp, iat, nbf;
    /* The mapped subject, as vault_subject wants it.  Bounded by the
     * library's limits (vault_name_max(), vault_jurisdiction_max());
     * their characters are checked by vault_session_open. */
    char user[VAULT_NAME_MAX];
    char role[VAULT_NAME_MAX];
    char department[VAULT_NAME_MAX];
    char jurisdiction[VAULT_JURISDICTION_MAX + 1];
} token_claims;

/* Verify token[0..len) at time `now` (unix seconds, 0..TOKEN_TIME_MAX)
 * against the pinned issuers, allowing skew_seconds (0..TOKEN_SKEW_MAX)
 * of clock difference, and fill *out.
 *
 * The issuer is picked by the payload's `iss` and the header's `kid`: an
 * issuer whose kid equals the token's, else one of that iss without a
 * configured kid.  Then: the header's `alg` must be that issuer's
 * algorithm (never "none"), `typ`, if present, "JWT" (any case), no
 * `crit`; the signature must verify over the exact signing input; `aud`
 * must be the issuer's audience or an array holding it; `exp` (required)
 * must be an integer with now < exp + skew; `nbf`, if present, an integer
 * <= now + skew; `iat`, if present, an integer <= now + skew; exp - iat
 * (or exp - now) within the issuer's max_lifetime; `sub` a non-empty
 * string; `jti`, if present, a string; and the mapped claims non-empty
 * strings within the library's name limits.  The header's own key hints
 * (jwk, jku, x5c, x5u) are never used.
 *
 * On any failure *out is wiped (issuer NULL, strings empty) and the
 * result is VAULT_EAUTH (see the top of this file), or VAULT_EINVALID
 * for bad arguments.  The caller clears *out with token_claims_clear
 * once done with it. */
int token_verify(token_claims *out, token_issuer *const *issuers, size_t n, const char *token,
                 size_t len, int64_t now, int64_t skew_seconds) VAULT_CHECK;

/* Check the signature of token[0..len) alone under one issuer: the
 * compact structure, the header (alg, typ, crit, and the kid when the
 * issuer has one) and the signature over the signing input, without
 * reading the payload at all.  For known-answer tests (RFC 8037 A.4,
 * RFC 7515 A.3, whose payloads are no claim sets); vaultd uses
 * token_verify.  0 or VAULT_EAUTH / VAULT_EINVALID as token_verify. */
int token_signature_check(const token_issuer *issuer, const char *token, size_t len) VAULT_CHECK;

/* Wipe *c (the claims are personal data).  NULL does nothing. */
void token_claims_clear(token_claims *c);

#endif

/* crypto: thin wrappers over libsodium (the only module that calls it),
 * and the audit log's SHA-256 through OpenSSL's libcrypto (vc_log_sha256,
 * below: the one thing libcrypto does here; issue 16 allows it for the
 * log's hash only). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* SHA256_Init/Update/Final are deprecated in OpenSSL 3.0 in favour of EVP,
 * which costs three times the hash itself on a 65-byte tree node (measured:
 * 2.0 M/s against 6.2 M/s); they remain in every OpenSSL 3 release. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <sodium.h>

#include "crypto.h"

_Static_assert(VC_FIELD_OVERHEAD == 45, "field overhead is fixed by DESIGN.md");
_Static_assert(VC_NONCEBYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");
_Static_assert(VC_TAGBYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(VC_KEYBYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(sizeof(vc_sha256_ctx) >= sizeof(crypto_hash_sha256_state), "sha256 state");

#define FIELD_AD_LABEL "libvault/field/v1"
#define BIDX_LABEL "libvault/bidx/v1"
/* Associated data of a field: label, ids, names, key version and (format
 * 2) the write counter; each u32le-length-prefixed. */
#define FIELD_AD_MAX (4 * 8 + sizeof FIELD_AD_LABEL + 16 + 16 + 2 * VAULT_NAME_MAX + 4 + 8 + 1)
/* Format 3's key: BLAKE2b-256(key = grade key, FIELD_KEY_LABEL | record key). */
#define FIELD_KEY_LABEL "libvault/field/v3"

/* The forking thread's generator in the child: the internal generator of
 * libsodium 1.0.18 aborts the process (sodium_misuse) when it is used in
 * a process whose pid is not the one it was seeded in, and does not
 * reseed on its own.  Stirring gives the child a fresh key from the
 * kernel, so parent and child never share a stream. */
static void rng_after_fork_child(void)
{
    randombytes_stir();
}

static int init_rc = -1;
static const char *init_why = "libsodium failed to initialise";

/* Select libsodium's userland ChaCha20 generator (one getrandom per
 * thread and per fork rather than one per nonce; docs/security.md) before
 * sodium_init, so its first seeding runs under libsodium's init lock. */
static void init_once(void)
{
    int r;

    if (randombytes_set_implementation(&randombytes_internal_implementation) != 0)
        return;
    r = sodium_init();
    if (r < 0)
        return;
    /* 1: the program started libsodium itself (vaultctl does, before its
     * first sodium_malloc) and seeded the system generator; seed the
     * internal one here, still inside the once, not on a first draw that
     * may race with another thread's. */
    if (r == 1)
        randombytes_stir();
    if (pthread_atfork(NULL, NULL, rng_after_fork_child) != 0) {
        init_why = "cannot register the random generator's reseed after fork";
        return;
    }
    init_rc = 0;
}

int vc_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, init_once);
    if (init_rc < 0)
        return vault__err(VAULT_ERROR, "%s", init_why);
    return VAULT_OK;
}

/* Guarded memory, reused.  sodium_malloc costs an mmap, two mprotects
 * and an mlock (sodium_free the munmap): about nine system calls, which an
 * audited read paid for every result.  Blocks of a few size classes are
 * kept after vc_free instead: wiped, still guarded and locked, and handed
 * out again.  Each block starts with a small header naming its class; the
 * caller's bytes end where sodium_malloc put the guard page, so an overrun
 * past the class size still faults.  Up to pool_keep[c] blocks of class c
 * are kept (enough for the results of one batch of 1 000 reads; about 9 MB
 * of mappings at most); the rest go back to the system. */
#define POOL_HDR 16
#define POOL_MAGIC 0x7661756cU /* "vaul" */
#define POOL_UNPOOLED 0xffU
#define POOL_KEEP 1024
static const size_t pool_size[] = {496, 2032, 8176, 32752, 131056};
static const size_t pool_keep[] = {POOL_KEEP, 256, 64, 16, 4};
#define POOL_CLASSES (sizeof pool_size / sizeof pool_size[0])

typedef struct pool_hdr {
    uint32_t magic;
    uint32_t cls;
    uint64_t size; /* the caller's bytes available */
} pool_hdr;
_Static_assert(sizeof(pool_hdr) == POOL_HDR, "pool header size");

static struct {
    pthread_mutex_t lock;
    void *free[POOL_CLASSES][POOL_KEEP];
    size_t n[POOL_CLASSES];
} pool = {PTHREAD_MUTEX_INITIALIZER, {{0}}, {0}};

void *vc_malloc(size_t n)
{
    size_t c, size = n;
    uint8_t *block = NULL;
    pool_hdr *h;

    for (c = 0; c < POOL_CLASSES && n > pool_size[c]; c++)
        ;
    if (c < POOL_CLASSES) {
        size = pool_size[c];
        pthread_mutex_lock(&pool.lock);
        if (pool.n[c] > 0)
            block = pool.free[c][--pool.n[c]];
        pthread_mutex_unlock(&pool.lock);
    }
    if (!block) {
        if (size > SIZE_MAX - POOL_HDR - 15)
            return NULL;
        /* sodium_malloc ends the block at a guard page: a multiple of 16
         * keeps the header, and what follows it, aligned. */
        size = (size + 15) & ~(size_t)15;
        block = sodium_malloc(size + POOL_HDR);
        if (!block)
            return NULL;
    }
    h = (pool_hdr *)block;
    h->magic = POOL_MAGIC;
    h->cls = c < POOL_CLASSES ? (uint32_t)c : POOL_UNPOOLED;
    h->size = size;
    return block + POOL_HDR;
}

void vc_free(void *p)
{
    uint8_t *block;
    pool_hdr *h;
    size_t c;

    if (!p)
        return;
    block = (uint8_t *)p - POOL_HDR;
    h = (pool_hdr *)block;
    if (h->magic != POOL_MAGIC)
        abort(); /* not from vc_malloc: a bug, never silently tolerated */
    c = h->cls;
    sodium_memzero(p, (size_t)h->size);
    if (c < POOL_CLASSES) {
        pthread_mutex_lock(&pool.lock);
        if (pool.n[c] < pool_keep[c]) {
            pool.free[c][pool.n[c]++] = block;
            block = NULL;
        }
        pthread_mutex_unlock(&pool.lock);
    }
    if (block) {
        h->magic = 0;
        sodium_free(block); /* wipes again and unmaps */
    }
}

void vc_wipe(void *p, size_t n)
{
    if (p)
        sodium_memzero(p, n);
}

int vc_equal(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}

void vc_random(void *buf, size_t n)
{
    randombytes_buf(buf, n);
}

static void put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_u64le(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Append a u32le length and the bytes; the caller sized buf from
 * FIELD_AD_MAX and the name limits, checked in field_ad_build. */
static size_t put_item(uint8_t *buf, size_t pos, const void *item, size_t len)
{
    put_u32le(buf + pos, (uint32_t)len);
    memcpy(buf + pos + 4, item, len);
    return pos + 4 + len;
}

/* The associated data of a `format` ciphertext (docs/field-format.md):
 * format 2 is format 1's items followed by the write counter, so the two
 * never coincide (the AEAD authenticates the AD length) and a format byte
 * changed either way fails the tag. */
static int field_ad_build(uint8_t *buf, size_t *out_len, const vc_field_ad *ad, int format)
{
    int rc = VAULT_OK;
    size_t flen, glen, pos = 0;
    uint8_t ver[4], counter[8];

    ENSURE(ad && ad->vault_id && ad->record_id && ad->field && ad->grade, VAULT_EINVALID,
           "field associated data incomplete");
    flen = strlen(ad->field);
    glen = strlen(ad->grade);
    ENSURE(flen > 0 && flen < VAULT_NAME_MAX && glen > 0 && glen < VAULT_NAME_MAX,
           VAULT_EINVALID, "field or grade name empty or too long");
    ENSURE(format == VC_FIELD_FORMAT_V1 || ad->counter >= 1, VAULT_EINVALID,
           "field write counter must be at least 1");
    ENSURE(format != VC_FIELD_FORMAT_V3 || ad->record_key, VAULT_EINVALID,
           "field '%s': format 3 needs its record's key", ad->field);
    put_u32le(ver, ad->key_version);
    pos = put_item(buf, pos, FIELD_AD_LABEL, sizeof FIELD_AD_LABEL - 1);
    pos = put_item(buf, pos, ad->vault_id, VAULT_ID_BYTES);
    pos = put_item(buf, pos, ad->record_id, VAULT_ID_BYTES);
    pos = put_item(buf, pos, ad->field, flen);
    pos = put_item(buf, pos, ad->grade, glen);
    pos = put_item(buf, pos, ver, sizeof ver);
    if (format != VC_FIELD_FORMAT_V1) {
        put_u64le(counter, (uint64_t)ad->counter);
        pos = put_item(buf, pos, counter, sizeof counter);
    }
    if (format == VC_FIELD_FORMAT_V3) {
        uint8_t f = VC_FIELD_FORMAT_V3;

        pos = put_item(buf, pos, &f, 1);
    }
    *out_len = pos;
cleanup:
    return rc;
}

/* The key a format 3 field is sealed under: its grade key and its
 * record's key together, so either one gone (a record key erased) and the
 * field does not open (docs/field-format.md). */
static void field_key(uint8_t out[VC_KEYBYTES], const uint8_t grade_key[VC_KEYBYTES],
                      const uint8_t record_key[VC_KEYBYTES])
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, grade_key, VC_KEYBYTES, VC_KEYBYTES);
    crypto_generichash_update(&st, (const uint8_t *)FIELD_KEY_LABEL, sizeof FIELD_KEY_LABEL - 1);
    crypto_generichash_update(&st, record_key, VC_KEYBYTES);
    crypto_generichash_final(&st, out, VC_KEYBYTES);
    sodium_memzero(&st, sizeof st);
}

int vc_field_seal_nonce(uint8_t *out, size_t out_cap, size_t *out_len,
                        const uint8_t key[VC_KEYBYTES], const uint8_t nonce[VC_NONCEBYTES],
                        const vc_field_ad *ad, const uint8_t *pt, size_t pt_len)
{
    int rc = VAULT_OK;
    uint8_t adbuf[FIELD_AD_MAX], k3[VC_KEYBYTES] = {0};
    size_t adlen = 0;
    unsigned long long clen = 0;
    int format = ad && ad->record_key ? VC_FIELD_FORMAT_V3 : VC_FIELD_FORMAT_V2;

    ENSURE(pt_len <= VAULT_VALUE_MAX, VAULT_ELIMIT, "field value longer than %d bytes",
           VAULT_VALUE_MAX);
    ENSURE(out_cap >= pt_len + VC_FIELD_OVERHEAD, VAULT_EINVALID, "ciphertext buffer too small");
    GUARD(field_ad_build(adbuf, &adlen, ad, format));
    if (format == VC_FIELD_FORMAT_V3) {
        field_key(k3, key, ad->record_key);
        key = k3;
    }
    out[0] = (uint8_t)format;
    put_u32le(out + 1, ad->key_version);
    memcpy(out + 5, nonce, VC_NONCEBYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + VC_FIELD_HEADER, &clen, pt, pt_len, adbuf,
                                               adlen, NULL, nonce, key);
    *out_len = VC_FIELD_HEADER + (size_t)clen;
cleanup:
    sodium_memzero(k3, sizeof k3);
    return rc;
}

int vc_field_seal(uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t key[VC_KEYBYTES],
                  const vc_field_ad *ad, const uint8_t *pt, size_t pt_len)
{
    uint8_t nonce[VC_NONCEBYTES];

    randombytes_buf(nonce, sizeof nonce);
    return vc_field_seal_nonce(out, out_cap, out_len, key, nonce, ad, pt, pt_len);
}

int vc_field_format(const uint8_t *ct, size_t ct_len)
{
    if (!ct || ct_len < VC_FIELD_OVERHEAD ||
        (ct[0] != VC_FIELD_FORMAT_V1 && ct[0] != VC_FIELD_FORMAT_V2 &&
         ct[0] != VC_FIELD_FORMAT_V3))
        return vault__err(VAULT_EINTEGRITY, "field ciphertext is malformed (bad length or format byte)");
    return ct[0];
}

int vc_field_key_version(uint32_t *out, const uint8_t *ct, size_t ct_len)
{
    int format = vc_field_format(ct, ct_len);

    if (format < 0)
        return format;
    *out = get_u32le(ct + 1);
    return VAULT_OK;
}

int vc_field_open(uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t key[VC_KEYBYTES],
                  const vc_field_ad *ad, const uint8_t *ct, size_t ct_len)
{
    int rc = VAULT_OK;
    uint8_t adbuf[FIELD_AD_MAX], k3[VC_KEYBYTES] = {0};
    size_t adlen = 0;
    uint32_t version = 0;
    unsigned long long plen = 0;
    int format = 0;

    GUARD(format = vc_field_format(ct, ct_len));
    version = get_u32le(ct + 1);
    ENSURE(version == ad->key_version, VAULT_EINTEGRITY,
           "field ciphertext names key version %u, expected %u", (unsigned)version,
           (unsigned)ad->key_version);
    ENSURE(out_cap >= ct_len - VC_FIELD_OVERHEAD, VAULT_EINVALID, "plaintext buffer too small");
    ENSURE(format != VC_FIELD_FORMAT_V3 || ad->record_key, VAULT_EINTEGRITY,
           "field '%s' is sealed under its record's key, and the record has none", ad->field);
    GUARD(field_ad_build(adbuf, &adlen, ad, format));
    if (format == VC_FIELD_FORMAT_V3) {
        field_key(k3, key, ad->record_key);
        key = k3;
    }
    ENSURE(crypto_aead_xchacha20poly1305_ietf_decrypt(out, &plen, NULL, ct + VC_FIELD_HEADER,
                                                      ct_len - VC_FIELD_HEADER, adbuf, adlen,
                                                      ct + 5, key) == 0,
           VAULT_EINTEGRITY,
           "field '%s' failed its integrity check (altered, %sor moved from another record, "
           "field or vault)",
           ad->field, format != VC_FIELD_FORMAT_V1 ? "restored from an older write, " : "");
    *out_len = (size_t)plen;
cleanup:
    sodium_memzero(k3, sizeof k3);
    return rc;
}

int vc_wrap(uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t key[VC_KEYBYTES],
            const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len)
{
    unsigned long long clen = 0;

    if (out_cap < pt_len + VC_WRAP_OVERHEAD)
        return vault__err(VAULT_EINVALID, "wrap buffer too small");
    randombytes_buf(out, VC_NONCEBYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + VC_NONCEBYTES, &clen, pt, pt_len, ad, ad_len,
                                               NULL, out, key);
    *out_len = VC_NONCEBYTES + (size_t)clen;
    return VAULT_OK;
}

int vc_unwrap(uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t key[VC_KEYBYTES],
              const uint8_t *ad, size_t ad_len, const uint8_t *ct, size_t ct_len)
{
    unsigned long long plen = 0;

    if (ct_len < VC_WRAP_OVERHEAD || out_cap < ct_len - VC_WRAP_OVERHEAD)
        return vault__err(VAULT_EINTEGRITY, "wrapped key has the wrong length");
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &plen, NULL, ct + VC_NONCEBYTES,
                                                   ct_len - VC_NONCEBYTES, ad, ad_len, ct,
                                                   key) != 0)
        return vault__err(VAULT_EAUTH, "wrong key, or the wrapped key was altered");
    *out_len = (size_t)plen;
    return VAULT_OK;
}

int vc_kdf(uint8_t *out, size_t out_len, uint64_t id, const char ctx[8],
           const uint8_t master[VC_KEYBYTES])
{
    if (out_len < crypto_kdf_BYTES_MIN || out_len > crypto_kdf_BYTES_MAX)
        return vault__err(VAULT_EINVALID, "bad derived key length");
    if (crypto_kdf_derive_from_key(out, out_len, id, ctx, master) != 0)
        return vault__err(VAULT_ERROR, "key derivation failed");
    return VAULT_OK;
}

int vc_keyed_hash(uint8_t *out, size_t out_len, const uint8_t key[VC_KEYBYTES], const void *msg,
                  size_t msg_len)
{
    if (out_len < crypto_generichash_BYTES_MIN || out_len > crypto_generichash_BYTES_MAX)
        return vault__err(VAULT_EINVALID, "bad hash length");
    crypto_generichash(out, out_len, msg, msg_len, key, VC_KEYBYTES);
    return VAULT_OK;
}

int vc_pwhash_profile(unsigned long long *opslimit, size_t *memlimit, int profile)
{
    switch (profile) {
    case VAULT_KDF_INTERACTIVE:
        *opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        *memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
        return VAULT_OK;
    case 0:
    case VAULT_KDF_MODERATE:
        *opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
        *memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
        return VAULT_OK;
    case VAULT_KDF_SENSITIVE:
        *opslimit = crypto_pwhash_OPSLIMIT_SENSITIVE;
        *memlimit = crypto_pwhash_MEMLIMIT_SENSITIVE;
        return VAULT_OK;
    default:
        return vault__err(VAULT_EINVALID, "unknown key derivation profile %d", profile);
    }
}

int vc_pwhash(uint8_t out[VC_KEYBYTES], const char *pass, size_t pass_len,
              const uint8_t salt[VC_SALTBYTES], unsigned long long opslimit, size_t memlimit)
{
    if (opslimit < crypto_pwhash_OPSLIMIT_MIN || opslimit > crypto_pwhash_OPSLIMIT_MAX ||
        memlimit < crypto_pwhash_MEMLIMIT_MIN || memlimit > crypto_pwhash_MEMLIMIT_MAX)
        return vault__err(VAULT_EINTEGRITY, "passphrase slot has invalid Argon2id parameters");
    if (pass_len > crypto_pwhash_PASSWD_MAX)
        return vault__err(VAULT_EINVALID, "passphrase too long");
    if (crypto_pwhash(out, VC_KEYBYTES, pass, pass_len, salt, opslimit, memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return vault__err(VAULT_ENOMEM, "Argon2id could not get %zu bytes of memory", memlimit);
    return VAULT_OK;
}

static int is_ascii_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Width of a space (ASCII, U+00A0, U+3000 ideographic) starting at s[b], or 0. */
static size_t space_prefix(const unsigned char *s, size_t b, size_t e)
{
    if (e > b && is_ascii_space(s[b]))
        return 1;
    if (e >= b + 2 && s[b] == 0xC2 && s[b + 1] == 0xA0)
        return 2;
    if (e >= b + 3 && s[b] == 0xE3 && s[b + 1] == 0x80 && s[b + 2] == 0x80)
        return 3;
    return 0;
}

/* Width of such a space ending at s[e - 1], or 0. */
static size_t space_suffix(const unsigned char *s, size_t b, size_t e)
{
    if (e > b && is_ascii_space(s[e - 1]))
        return 1;
    if (e >= b + 2 && s[e - 2] == 0xC2 && s[e - 1] == 0xA0)
        return 2;
    if (e >= b + 3 && s[e - 3] == 0xE3 && s[e - 2] == 0x80 && s[e - 1] == 0x80)
        return 3;
    return 0;
}

static void trim_bounds(const unsigned char *s, size_t len, size_t *b, size_t *e)
{
    size_t w;

    *b = 0;
    *e = len;
    while ((w = space_prefix(s, *b, *e)) > 0)
        *b += w;
    while ((w = space_suffix(s, *b, *e)) > 0)
        *e -= w;
}

int vc_blind_index(uint8_t out[VC_BIDX_BYTES], const uint8_t bidx_root[VC_KEYBYTES],
                   const char *field, const char *value, size_t value_len)
{
    int rc = VAULT_OK;
    /* The per-field key lives on the stack for the length of this call and
     * is wiped with the hash state, which holds key material anyway: a
     * guarded sodium_malloc mapping per call cost ~10 system calls per
     * indexed value (bench/README.md). */
    uint8_t fkey[VC_KEYBYTES];
    uint8_t label[sizeof BIDX_LABEL - 1 + 4 + VAULT_NAME_MAX];
    size_t flen, b = 0, e = 0;
    crypto_generichash_state st;
    const unsigned char *v = (const unsigned char *)value;
    unsigned char last;

    ENSURE(field && (value || value_len == 0), VAULT_EINVALID, "blind index: missing input");
    flen = strlen(field);
    ENSURE(flen > 0 && flen < VAULT_NAME_MAX, VAULT_EINVALID, "field name empty or too long");
    ENSURE(value_len <= VAULT_VALUE_MAX, VAULT_ELIMIT, "value longer than %d bytes",
           VAULT_VALUE_MAX);
    memcpy(label, BIDX_LABEL, sizeof BIDX_LABEL - 1);
    put_u32le(label + sizeof BIDX_LABEL - 1, (uint32_t)flen);
    memcpy(label + sizeof BIDX_LABEL - 1 + 4, field, flen);
    crypto_generichash(fkey, VC_KEYBYTES, label, sizeof BIDX_LABEL - 1 + 4 + flen, bidx_root,
                       VC_KEYBYTES);
    trim_bounds(v, value_len, &b, &e);
    crypto_generichash_init(&st, fkey, VC_KEYBYTES, VC_BIDX_BYTES);
    if (e > b) {
        /* ID numbers end in a check character that may be x or X. */
        last = v[e - 1] == 'x' ? 'X' : v[e - 1];
        crypto_generichash_update(&st, v + b, e - b - 1);
        crypto_generichash_update(&st, &last, 1);
    }
    crypto_generichash_final(&st, out, VC_BIDX_BYTES);
cleanup:
    sodium_memzero(&st, sizeof st);
    sodium_memzero(fkey, sizeof fkey);
    return rc;
}

#define PSEUDONYM_LABEL "libvault/pseudonym/v1"

int vc_pseudonym(char out[VC_PSEUDONYM_SIZE], size_t *out_len, const uint8_t root[VC_KEYBYTES],
                 const char *department, const char *field, const char *value, size_t value_len)
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    int rc = VAULT_OK;
    uint8_t key[VC_KEYBYTES], p[16], len4[4];
    size_t dlen, flen, b = 0, e = 0, i, o = 0;
    uint32_t acc = 0;
    int bits = 0;
    crypto_generichash_state st;
    const unsigned char *v = (const unsigned char *)value;
    unsigned char last;

    out[0] = '\0';
    *out_len = 0;
    ENSURE(department && field && (value || value_len == 0), VAULT_EINVALID,
           "pseudonym: missing input");
    dlen = strlen(department);
    flen = strlen(field);
    ENSURE(dlen > 0 && dlen < VAULT_NAME_MAX && flen > 0 && flen < VAULT_NAME_MAX, VAULT_EINVALID,
           "pseudonym: department or field name empty or too long");
    ENSURE(value_len <= VAULT_VALUE_MAX, VAULT_ELIMIT, "value longer than %d bytes",
           VAULT_VALUE_MAX);
    trim_bounds(v, value_len, &b, &e);
    if (e <= b)
        goto cleanup; /* blank: nothing to stand for */
    crypto_generichash_init(&st, root, VC_KEYBYTES, sizeof key);
    crypto_generichash_update(&st, (const unsigned char *)PSEUDONYM_LABEL, sizeof PSEUDONYM_LABEL - 1);
    put_u32le(len4, (uint32_t)dlen);
    crypto_generichash_update(&st, len4, 4);
    crypto_generichash_update(&st, (const unsigned char *)department, dlen);
    put_u32le(len4, (uint32_t)flen);
    crypto_generichash_update(&st, len4, 4);
    crypto_generichash_update(&st, (const unsigned char *)field, flen);
    crypto_generichash_final(&st, key, sizeof key);
    crypto_generichash_init(&st, key, sizeof key, sizeof p);
    last = v[e - 1] == 'x' ? 'X' : v[e - 1]; /* as the blind index normalises */
    crypto_generichash_update(&st, v + b, e - b - 1);
    crypto_generichash_update(&st, &last, 1);
    crypto_generichash_final(&st, p, sizeof p);
    memcpy(out, "PSN-", 4);
    o = 4;
    for (i = 0; i < 10; i++) { /* 80 bits: 16 characters, no padding */
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    out[o] = '\0';
    *out_len = o;
cleanup:
    sodium_memzero(&st, sizeof st);
    sodium_memzero(key, sizeof key);
    sodium_memzero(p, sizeof p);
    acc = 0;
    return rc;
}

int vc_sha256(uint8_t out[VC_SHA256_BYTES], const void *msg, size_t len)
{
    crypto_hash_sha256(out, msg, len);
    return VAULT_OK;
}

void vc_sha256_init(vc_sha256_ctx *c)
{
    crypto_hash_sha256_init((crypto_hash_sha256_state *)(void *)c->opaque);
}

void vc_sha256_update(vc_sha256_ctx *c, const void *msg, size_t len)
{
    crypto_hash_sha256_update((crypto_hash_sha256_state *)(void *)c->opaque, msg, len);
}

void vc_sha256_final(vc_sha256_ctx *c, uint8_t out[VC_SHA256_BYTES])
{
    crypto_hash_sha256_final((crypto_hash_sha256_state *)(void *)c->opaque, out);
}

void vc_log_sha256(uint8_t out[VC_SHA256_BYTES], uint8_t prefix, const void *msg, size_t len)
{
    SHA256_CTX c;

    /* Neither can fail on a valid context (OpenSSL's own code). */
    (void)SHA256_Init(&c);
    (void)SHA256_Update(&c, &prefix, 1);
    (void)SHA256_Update(&c, msg, len);
    (void)SHA256_Final(out, &c);
}

/* The value of each base64 character (RFC 4648 section 4), -1 for other
 * bytes: one table, filled once. */
static signed char b64_table[256];
static pthread_once_t b64_once = PTHREAD_ONCE_INIT;

static void b64_table_fill(void)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    memset(b64_table, -1, sizeof b64_table);
    for (int i = 0; i < 64; i++)
        b64_table[(unsigned char)alphabet[i]] = (signed char)i;
}

int vc_b642bin_public(uint8_t *out, size_t out_size, size_t *out_len, const char *b64,
                      size_t b64_len)
{
    const unsigned char *p = (const unsigned char *)b64;
    size_t pad = 0, n, groups, i;
    int bad = 0, last;

    *out_len = 0;
    if (b64_len % 4 != 0)
        return VAULT_EINVALID;
    if (b64_len == 0)
        return VAULT_OK;
    if (b64[b64_len - 1] == '=')
        pad = b64[b64_len - 2] == '=' ? 2 : 1;
    n = b64_len / 4 * 3 - pad;
    if (n > out_size)
        return VAULT_EINVALID;
    pthread_once(&b64_once, b64_table_fill);
    /* Whole groups of four characters to three bytes; the last group
     * (which may hold the padding) after the loop.  A byte outside the
     * alphabet ('=' included) is -1 in the table: it sets the sign bit of
     * `bad`. */
    groups = b64_len / 4 - 1;
    for (i = 0; i < groups; i++, p += 4) {
        int a = b64_table[p[0]], b = b64_table[p[1]], c = b64_table[p[2]], d = b64_table[p[3]];

        bad |= a | b | c | d;
        out[3 * i] = (uint8_t)(a << 2 | b >> 4);
        out[3 * i + 1] = (uint8_t)(b << 4 | c >> 2);
        out[3 * i + 2] = (uint8_t)(c << 6 | d);
    }
    {
        int a = b64_table[p[0]], b = b64_table[p[1]];
        int c = pad == 2 ? 0 : b64_table[p[2]], d = pad ? 0 : b64_table[p[3]];
        uint8_t *o = out + 3 * groups;

        bad |= a | b | c | d;
        /* Canonical only: the bits the padding leaves over are zero. */
        last = pad == 2 ? b : c;
        if (bad < 0 || (pad == 1 && (last & 0x03)) || (pad == 2 && (last & 0x0f)))
            return VAULT_EINVALID;
        o[0] = (uint8_t)(a << 2 | b >> 4);
        if (pad < 2)
            o[1] = (uint8_t)(b << 4 | c >> 2);
        if (pad < 1)
            o[2] = (uint8_t)(c << 6 | d);
    }
    *out_len = n;
    return VAULT_OK;
}

int vc_sign_sk_to_pk(uint8_t pk[VC_SIGN_PUBLICKEYBYTES], const uint8_t sk[VC_SIGN_SECRETKEYBYTES])
{
    if (crypto_sign_ed25519_sk_to_pk(pk, sk) != 0)
        return vault__err(VAULT_ERROR, "signing key: no public key");
    return VAULT_OK;
}

int vc_sign_keypair(uint8_t pk[VC_SIGN_PUBLICKEYBYTES], uint8_t sk[VC_SIGN_SECRETKEYBYTES])
{
    if (crypto_sign_keypair(pk, sk) != 0)
        return vault__err(VAULT_ERROR, "signing key generation failed");
    return VAULT_OK;
}

int vc_sign(uint8_t sig[VC_SIGN_BYTES], const void *msg, size_t len,
            const uint8_t sk[VC_SIGN_SECRETKEYBYTES])
{
    if (crypto_sign_detached(sig, NULL, msg, len, sk) != 0)
        return vault__err(VAULT_ERROR, "signing failed");
    return VAULT_OK;
}

int vc_verify(const uint8_t sig[VC_SIGN_BYTES], const void *msg, size_t len,
              const uint8_t pk[VC_SIGN_PUBLICKEYBYTES])
{
    if (crypto_sign_verify_detached(sig, msg, len, pk) != 0)
        return vault__err(VAULT_EINTEGRITY, "signature does not verify");
    return VAULT_OK;
}

int vc_bin2hex(char *out, size_t out_size, const uint8_t *bin, size_t len)
{
    if (out_size < 2 * len + 1)
        return vault__err(VAULT_EINVALID, "hex buffer too small");
    sodium_bin2hex(out, out_size, bin, len);
    return VAULT_OK;
}

int vc_hex2bin(uint8_t *out, size_t out_size, size_t *out_len, const char *hex, size_t hex_len)
{
    const char *end = NULL;
    size_t n = 0;

    if (sodium_hex2bin(out, out_size, hex, hex_len, NULL, &n, &end) != 0 || end != hex + hex_len)
        return vault__err(VAULT_EINVALID, "not valid hex");
    *out_len = n;
    return VAULT_OK;
}

size_t vc_b64_len(size_t bin_len)
{
    return sodium_base64_ENCODED_LEN(bin_len, sodium_base64_VARIANT_ORIGINAL);
}

int vc_bin2b64(char *out, size_t out_size, const uint8_t *bin, size_t len)
{
    if (out_size < vc_b64_len(len))
        return vault__err(VAULT_EINVALID, "base64 buffer too small");
    sodium_bin2base64(out, out_size, bin, len, sodium_base64_VARIANT_ORIGINAL);
    return VAULT_OK;
}

int vc_b642bin(uint8_t *out, size_t out_size, size_t *out_len, const char *b64, size_t b64_len)
{
    const char *end = NULL;
    size_t n = 0;

    if (sodium_base642bin(out, out_size, b64, b64_len, NULL, &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != b64 + b64_len)
        return vault__err(VAULT_EINVALID, "not valid base64");
    *out_len = n;
    return VAULT_OK;
}

/* Field seal/open (vc_field_seal/vc_field_open) next to libsodium's
 * XChaCha20-Poly1305-IETF with the same key, value and associated-data
 * length.  Both sides draw a fresh random nonce per seal
 * (randombytes_buf), as any correct use of the AEAD must. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "bench.h"
#include "crypto.h"

#define CHUNK 256 /* operations between two clock reads */

typedef struct cctx {
    uint8_t key[VC_KEYBYTES];
    uint8_t vault_id[16], record_id[16];
    vc_field_ad ad;
    uint8_t adbuf[256]; /* raw: associated data as long as libvault's */
    size_t adlen;
    uint8_t pt[1024];
    size_t len;
    uint8_t ct[1024 + VC_FIELD_OVERHEAD];     /* libvault ciphertext of pt */
    size_t ctlen;
    uint8_t rawct[1024 + VC_TAGBYTES];        /* raw ciphertext of pt */
    unsigned long long rawctlen;
    uint8_t rawnonce[VC_NONCEBYTES];
    uint8_t out[1024 + VC_FIELD_OVERHEAD];
    uint8_t nonce[VC_NONCEBYTES];
    int failures;
} cctx;

static void put_item(cctx *c, const void *item, size_t len)
{
    c->adbuf[c->adlen] = (uint8_t)len;
    c->adbuf[c->adlen + 1] = (uint8_t)(len >> 8);
    c->adbuf[c->adlen + 2] = 0;
    c->adbuf[c->adlen + 3] = 0;
    memcpy(c->adbuf + c->adlen + 4, item, len);
    c->adlen += 4 + len;
}

static void cctx_init(cctx *c, size_t len)
{
    static const char label[] = "libvault/field/v1";
    uint8_t ver[4] = {1, 0, 0, 0}, counter[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    size_t outlen = 0;

    memset(c, 0, sizeof *c);
    randombytes_buf(c->key, sizeof c->key);
    randombytes_buf(c->vault_id, sizeof c->vault_id);
    randombytes_buf(c->record_id, sizeof c->record_id);
    c->ad.vault_id = c->vault_id;
    c->ad.record_id = c->record_id;
    c->ad.field = "phone";
    c->ad.grade = "personal";
    c->ad.key_version = 1;
    c->ad.counter = 1;
    /* The raw side authenticates associated data of the same layout and
     * length as DESIGN.md §3's, built once. */
    put_item(c, label, sizeof label - 1);
    put_item(c, c->vault_id, 16);
    put_item(c, c->record_id, 16);
    put_item(c, c->ad.field, strlen(c->ad.field));
    put_item(c, c->ad.grade, strlen(c->ad.grade));
    put_item(c, ver, sizeof ver);
    put_item(c, counter, sizeof counter); /* field format 2 */
    c->len = len;
    randombytes_buf(c->pt, len);
    bench_check(vc_field_seal(c->ct, sizeof c->ct, &c->ctlen, c->key, &c->ad, c->pt, len),
                "vc_field_seal");
    randombytes_buf(c->rawnonce, sizeof c->rawnonce);
    crypto_aead_xchacha20poly1305_ietf_encrypt(c->rawct, &c->rawctlen, c->pt, len, c->adbuf,
                                               c->adlen, NULL, c->rawnonce, c->key);
    /* Both must round-trip before anything is timed. */
    bench_check(vc_field_open(c->out, sizeof c->out, &outlen, c->key, &c->ad, c->ct, c->ctlen),
                "vc_field_open");
    if (outlen != len || memcmp(c->out, c->pt, len) != 0) /* memcmp ok: not secret */
        bench_die("vc_field_open returned other bytes");
}

static void lv_seal(cctx *c)
{
    size_t n = 0;

    c->failures += vc_field_seal(c->out, sizeof c->out, &n, c->key, &c->ad, c->pt, c->len) < 0;
}

static void raw_aead_seal(cctx *c)
{
    unsigned long long n = 0;

    randombytes_buf(c->nonce, sizeof c->nonce);
    crypto_aead_xchacha20poly1305_ietf_encrypt(c->out, &n, c->pt, c->len, c->adbuf, c->adlen,
                                               NULL, c->nonce, c->key);
}

static void lv_open(cctx *c)
{
    size_t n = 0;

    c->failures += vc_field_open(c->out, sizeof c->out, &n, c->key, &c->ad, c->ct, c->ctlen) < 0;
}

static void raw_aead_open(cctx *c)
{
    unsigned long long n = 0;

    c->failures += crypto_aead_xchacha20poly1305_ietf_decrypt(c->out, &n, NULL, c->rawct,
                                                              c->rawctlen, c->adbuf, c->adlen,
                                                              c->rawnonce, c->key) != 0;
}

/* Operations per second of fn over about `seconds`. */
static double rate(void (*fn)(cctx *), cctx *c, double seconds)
{
    uint64_t t0 = bench_now_ns(), t, limit = (uint64_t)(seconds * 1e9);
    size_t ops = 0, i;

    do {
        for (i = 0; i < CHUNK; i++)
            fn(c);
        ops += CHUNK;
        t = bench_now_ns() - t0;
    } while (t < limit);
    return (double)ops / ((double)t / 1e9);
}

/* Alternate libvault and raw rounds; the medians make the ratio. */
static json_t *compare(void (*lv)(cctx *), void (*raw)(cctx *), size_t len, const bench_cfg *cfg,
                       const char *name)
{
    cctx c;
    double lvr[64], rawr[64], a, b;
    int i, n = cfg->crypto_rounds < 64 ? cfg->crypto_rounds : 64;
    json_t *o;

    cctx_init(&c, len);
    rate(lv, &c, cfg->crypto_seconds / 4); /* warm up */
    rate(raw, &c, cfg->crypto_seconds / 4);
    for (i = 0; i < n; i++) {
        lvr[i] = rate(lv, &c, cfg->crypto_seconds);
        rawr[i] = rate(raw, &c, cfg->crypto_seconds);
    }
    if (c.failures)
        bench_die("%s: %d operations failed", name, c.failures);
    a = bench_median(lvr, (size_t)n);
    b = bench_median(rawr, (size_t)n);
    o = bench_ratio(a, b, "ops/s", 0.7);
    bench_set(o, "value_bytes", json_integer((json_int_t)len));
    bench_set(o, "libvault_ns_per_op", bench_real(1e9 / a, 1));
    bench_set(o, "raw_ns_per_op", bench_real(1e9 / b, 1));
    bench_note("%s: libvault %.0f/s, raw %.0f/s, ratio %.3f", name, a, b, a / b);
    sodium_memzero(&c, sizeof c);
    return o;
}

void bench_crypto(json_t *out, const bench_cfg *cfg)
{
    json_t *o = json_object();

    bench_set(o, "seal_32", compare(lv_seal, raw_aead_seal, 32, cfg, "field seal 32 B"));
    bench_set(o, "open_32", compare(lv_open, raw_aead_open, 32, cfg, "field open 32 B"));
    bench_set(o, "seal_1k", compare(lv_seal, raw_aead_seal, 1024, cfg, "field seal 1 KiB"));
    bench_set(o, "open_1k", compare(lv_open, raw_aead_open, 1024, cfg, "field open 1 KiB"));
    bench_set(o, "raw_primitive",
              json_string("crypto_aead_xchacha20poly1305_ietf_encrypt/decrypt, same key, value "
                          "and associated-data length; seals draw a random 24-byte nonce"));
    bench_set(out, "field_crypto", o);
}

/* crypto: field format known-answer vectors (formats 1 and 2), integrity
 * failures, blind index and key derivation vectors, the random generator
 * (userland, reseeded after fork). */
#include "testutil.h"

#include <pthread.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"
#include "keyring.h"

static uint8_t key[32], nonce[24], vid[16], rid[16];

static void fixed_inputs(void)
{
    int i;

    for (i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    for (i = 0; i < 24; i++)
        nonce[i] = (uint8_t)(0x40 + i);
    for (i = 0; i < 16; i++) {
        vid[i] = (uint8_t)(0xa0 + i);
        rid[i] = (uint8_t)(0xb0 + i);
    }
}

/* The vector's ciphertext is what libsodium itself makes of its plaintext
 * under the associated data the file spells out, so the vectors check
 * field_ad_build rather than echo it (tests/vectors/gen_field_vectors.py). */
static void check_raw_aead(const uint8_t *pt, size_t ptlen, const uint8_t *ad, size_t adlen,
                           const uint8_t *ct, size_t ctlen)
{
    uint8_t raw[512];
    unsigned long long rawlen = 0;

    assert_true(ctlen == ptlen + VC_FIELD_OVERHEAD && ptlen + VC_TAGBYTES <= sizeof raw);
    assert_memory_equal(ct + 5, nonce, VC_NONCEBYTES);
    assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(raw, &rawlen, pt, ptlen, ad, adlen,
                                                                NULL, nonce, key),
                     0);
    assert_int_equal(rawlen, ptlen + VC_TAGBYTES);
    assert_memory_equal(raw, ct + VC_FIELD_HEADER, rawlen);
}

/* What every vector row must show: libsodium's own output under the
 * row's associated data, the format and key version in the header, and
 * the plaintext back from vc_field_open with the row's inputs. */
static void check_vector(const uint8_t *pt, size_t ptlen, const uint8_t *ad, size_t adlen,
                         const uint8_t *ct, size_t ctlen, const vc_field_ad *a, int format)
{
    uint8_t back[512];
    size_t outlen = 0;
    uint32_t ver = 0;

    check_raw_aead(pt, ptlen, ad, adlen, ct, ctlen);
    assert_int_equal(vc_field_format(ct, ctlen), format);
    assert_int_equal(vc_field_key_version(&ver, ct, ctlen), 0);
    assert_int_equal(ver, a->key_version);
    assert_int_equal(vc_field_open(back, sizeof back, &outlen, key, a, ct, ctlen), 0);
    assert_int_equal(outlen, ptlen);
    if (ptlen)
        assert_memory_equal(back, pt, ptlen);
}

/* Format 1: no longer written, still opened (whatever the counter). */
static void test_field_vectors_v1(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL;
    size_t n = tu_vectors("field.txt", rows, &storage), i, ptlen, ctlen, outlen, adlen;
    uint8_t out[512], back[512];

    (void)state;
    fixed_inputs();
    assert_true(n >= 3);
    for (i = 0; i < n; i++) {
        uint8_t *pt = tu_unhex(rows[i][3], &ptlen);
        uint8_t *ad = tu_unhex(rows[i][4], &adlen);
        uint8_t *ct = tu_unhex(rows[i][5], &ctlen);
        vc_field_ad a = {vid, rid, rows[i][0], rows[i][1], (uint32_t)strtoul(rows[i][2], NULL, 10),
                         1, NULL};

        check_vector(pt, ptlen, ad, adlen, ct, ctlen, &a, VC_FIELD_FORMAT_V1);
        a.counter = 42; /* format 1 binds no counter */
        assert_int_equal(vc_field_open(back, sizeof back, &outlen, key, &a, ct, ctlen), 0);
        /* Sealing the same inputs now gives format 2: same length, same
         * header but the format byte, another tag. */
        assert_int_equal(vc_field_seal_nonce(out, sizeof out, &outlen, key, nonce, &a, pt, ptlen), 0);
        assert_int_equal(outlen, ctlen);
        assert_int_equal(out[0], VC_FIELD_FORMAT_V2);
        assert_memory_equal(out + 1, ct + 1, VC_FIELD_HEADER - 1);
        assert_memory_not_equal(out + ctlen - VC_TAGBYTES, ct + ctlen - VC_TAGBYTES, VC_TAGBYTES);
        free(pt);
        free(ad);
        free(ct);
    }
    free(storage);
}

static void test_field_vectors_v2(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL;
    size_t n = tu_vectors("field_v2.txt", rows, &storage), i, ptlen, ctlen, outlen, adlen, cut;
    uint8_t out[512], back[512];

    (void)state;
    fixed_inputs();
    assert_true(n >= 4);
    for (i = 0; i < n; i++) {
        uint8_t *pt = tu_unhex(rows[i][4], &ptlen);
        uint8_t *ad = tu_unhex(rows[i][5], &adlen);
        uint8_t *ct = tu_unhex(rows[i][6], &ctlen);
        vc_field_ad a = {vid, rid, rows[i][0], rows[i][1], (uint32_t)strtoul(rows[i][2], NULL, 10),
                         (int64_t)strtoll(rows[i][3], NULL, 10), NULL};
        int64_t counter = a.counter;

        assert_true(counter >= 1);
        assert_int_equal(vc_field_seal_nonce(out, sizeof out, &outlen, key, nonce, &a, pt, ptlen), 0);
        assert_int_equal(outlen, ptlen + VC_FIELD_OVERHEAD);
        assert_int_equal(outlen, ctlen);
        assert_memory_equal(out, ct, ctlen);
        check_vector(pt, ptlen, ad, adlen, ct, ctlen, &a, VC_FIELD_FORMAT_V2);
        /* Another counter: an older write restored, or a newer one. */
        a.counter = counter - 1;
        if (a.counter >= 1)
            assert_int_equal(vc_field_open(back, sizeof back, &outlen, key, &a, ct, ctlen),
                             VAULT_EINTEGRITY);
        a.counter = counter == INT64_MAX ? 1 : counter + 1;
        assert_int_equal(vc_field_open(back, sizeof back, &outlen, key, &a, ct, ctlen),
                         VAULT_EINTEGRITY);
        a.counter = counter ^ ((int64_t)1 << 40); /* a high byte of the counter */
        assert_int_equal(vc_field_open(back, sizeof back, &outlen, key, &a, ct, ctlen),
                         VAULT_EINTEGRITY);
        a.counter = counter;
        /* Relabelled as format 1 (opened without the counter): fails. */
        ct[0] = VC_FIELD_FORMAT_V1;
        assert_int_equal(vc_field_open(back, sizeof back, &outlen, key, &a, ct, ctlen),
                         VAULT_EINTEGRITY);
        ct[0] = VC_FIELD_FORMAT_V2;
        for (cut = 0; cut < ctlen; cut++) /* truncated at every length */
            assert_int_equal(vc_field_open(back, sizeof back, &outlen, key, &a, ct, cut),
                             VAULT_EINTEGRITY);
        assert_int_equal(vc_field_open(back, sizeof back, &outlen, key, &a, ct, ctlen), 0);
        free(pt);
        free(ad);
        free(ct);
    }
    free(storage);
}

/* Format 3: the grade key and the record key together.  The vectors are
 * sealed by the generator under BLAKE2b-256(key, label | record key), so
 * this checks the key derivation, the AD and the header at once; then
 * another record key, no record key, or a relabelled format fail. */
static void test_field_vectors_v3(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL;
    size_t n = tu_vectors("field_v3.txt", rows, &storage), i, ptlen, ctlen, outlen, adlen, cut;
    uint8_t out[512], back[512], rkey[32], other[32], k3[32], raw[512];
    unsigned long long rawlen = 0;
    crypto_generichash_state st;

    (void)state;
    fixed_inputs();
    for (i = 0; i < 32; i++) {
        rkey[i] = (uint8_t)(0xc0 + i);
        other[i] = rkey[i];
    }
    other[31] ^= 1;
    crypto_generichash_init(&st, key, 32, 32);
    crypto_generichash_update(&st, (const uint8_t *)"libvault/field/v3", 17);
    crypto_generichash_update(&st, rkey, 32);
    crypto_generichash_final(&st, k3, 32);
    assert_true(n >= 4);
    for (i = 0; i < n; i++) {
        uint8_t *pt = tu_unhex(rows[i][4], &ptlen);
        uint8_t *ad = tu_unhex(rows[i][5], &adlen);
        uint8_t *ct = tu_unhex(rows[i][6], &ctlen);
        vc_field_ad a = {vid, rid, rows[i][0], rows[i][1], (uint32_t)strtoul(rows[i][2], NULL, 10),
                         (int64_t)strtoll(rows[i][3], NULL, 10), rkey};

        assert_int_equal(vc_field_seal_nonce(out, sizeof out, &outlen, key, nonce, &a, pt, ptlen), 0);
        assert_int_equal(outlen, ctlen);
        assert_memory_equal(out, ct, ctlen);
        assert_int_equal(ct[0], VC_FIELD_FORMAT_V3);
        assert_int_equal(vc_field_format(ct, ctlen), VC_FIELD_FORMAT_V3);
        /* libsodium's own AEAD under the derived key and the row's AD */
        assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(raw, &rawlen, pt, ptlen, ad,
                                                                    adlen, NULL, nonce, k3),
                         0);
        assert_memory_equal(raw, ct + VC_FIELD_HEADER, rawlen);
        assert_int_equal(vc_field_open(back, sizeof back, &outlen, key, &a, ct, ctlen), 0);
        assert_int_equal(outlen, ptlen);
        if (ptlen)
            assert_memory_equal(back, pt, ptlen);
        /* another record's key: fails; none: refused */
        a.record_key = other;
        assert_int_equal(vc_field_open(back, sizeof back, &outlen, key, &a, ct, ctlen),
                         VAULT_EINTEGRITY);
        a.record_key = NULL;
        assert_int_equal(vc_field_open(back, sizeof back, &outlen, key, &a, ct, ctlen),
                         VAULT_EINTEGRITY);
        a.record_key = rkey;
        /* relabelled as format 2 (opened with the grade key alone): fails */
        ct[0] = VC_FIELD_FORMAT_V2;
        assert_int_equal(vc_field_open(back, sizeof back, &outlen, key, &a, ct, ctlen),
                         VAULT_EINTEGRITY);
        ct[0] = VC_FIELD_FORMAT_V3;
        for (cut = 0; cut < ctlen; cut++)
            assert_int_equal(vc_field_open(back, sizeof back, &outlen, key, &a, ct, cut),
                             VAULT_EINTEGRITY);
        free(pt);
        free(ad);
        free(ct);
    }
    free(storage);
}

/* Seal "13812345678" as phone/personal/v1 for the negative tests. */
static size_t sealed(uint8_t *out, size_t cap)
{
    vc_field_ad a = {vid, rid, "phone", "personal", 1, 1, NULL};
    size_t len = 0;

    fixed_inputs();
    assert_int_equal(vc_field_seal(out, cap, &len, key, &a, (const uint8_t *)"13812345678", 11), 0);
    return len;
}

static void test_field_moved(void **state)
{
    uint8_t ct[128], pt[128], other[16];
    size_t len = sealed(ct, sizeof ct), outlen = 0;
    vc_field_ad a = {vid, rid, "phone", "personal", 1, 1, NULL};
    uint8_t key2[32];

    (void)state;
    assert_int_equal(vc_field_open(pt, sizeof pt, &outlen, key, &a, ct, len), 0);
    memcpy(other, rid, 16);
    other[15] ^= 1;
    a.record_id = other; /* another record */
    assert_int_equal(vc_field_open(pt, sizeof pt, &outlen, key, &a, ct, len), VAULT_EINTEGRITY);
    a.record_id = rid;
    a.vault_id = other; /* another vault */
    assert_int_equal(vc_field_open(pt, sizeof pt, &outlen, key, &a, ct, len), VAULT_EINTEGRITY);
    a.vault_id = vid;
    a.field = "name"; /* another field */
    assert_int_equal(vc_field_open(pt, sizeof pt, &outlen, key, &a, ct, len), VAULT_EINTEGRITY);
    a.field = "phone";
    a.grade = "sensitive"; /* another grade */
    assert_int_equal(vc_field_open(pt, sizeof pt, &outlen, key, &a, ct, len), VAULT_EINTEGRITY);
    a.grade = "personal";
    a.key_version = 2; /* another key version */
    assert_int_equal(vc_field_open(pt, sizeof pt, &outlen, key, &a, ct, len), VAULT_EINTEGRITY);
    a.key_version = 1;
    a.counter = 2; /* another write counter (an older ciphertext restored) */
    assert_int_equal(vc_field_open(pt, sizeof pt, &outlen, key, &a, ct, len), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "restored from an older write"));
    a.counter = 1;
    memcpy(key2, key, 32);
    key2[0] ^= 0x80; /* wrong key */
    assert_int_equal(vc_field_open(pt, sizeof pt, &outlen, key2, &a, ct, len), VAULT_EINTEGRITY);
    /* and the error never shows the value */
    assert_null(strstr(vault_error_last(), "1381234"));
}

static void test_field_tampered(void **state)
{
    uint8_t ct[128], pt[128];
    size_t len = sealed(ct, sizeof ct), outlen = 0, i, cut;
    vc_field_ad a = {vid, rid, "phone", "personal", 1, 1, NULL};

    (void)state;
    for (i = 0; i < len; i++) { /* a flipped bit anywhere */
        ct[i] ^= 0x01;
        assert_int_equal(vc_field_open(pt, sizeof pt, &outlen, key, &a, ct, len), VAULT_EINTEGRITY);
        ct[i] ^= 0x01;
    }
    for (cut = 0; cut < len; cut++) /* truncated at every length */
        assert_int_equal(vc_field_open(pt, sizeof pt, &outlen, key, &a, ct, cut), VAULT_EINTEGRITY);
    assert_int_equal(vc_field_open(pt, sizeof pt, &outlen, key, &a, ct, len), 0);
    assert_int_equal(outlen, 11);
    assert_memory_equal(pt, "13812345678", 11);
}

static void test_field_formats(void **state)
{
    uint8_t ct[128], pt[128];
    size_t len = sealed(ct, sizeof ct), outlen = 0, i;
    vc_field_ad a = {vid, rid, "phone", "personal", 1, 1, NULL};
    static const uint8_t unknown[] = {0x00, 0x04, 0x80, 0xff};
    uint32_t ver = 0;

    (void)state;
    assert_int_equal(ct[0], VC_FIELD_FORMAT_V2);
    assert_int_equal(vc_field_format(ct, len), VC_FIELD_FORMAT_V2);
    assert_int_equal(vc_field_format(ct, VC_FIELD_OVERHEAD), VC_FIELD_FORMAT_V2); /* header only */
    assert_int_equal(vc_field_format(ct, VC_FIELD_OVERHEAD - 1), VAULT_EINTEGRITY);
    assert_int_equal(vc_field_format(NULL, len), VAULT_EINTEGRITY);
    for (i = 0; i < sizeof unknown; i++) {
        ct[0] = unknown[i];
        assert_int_equal(vc_field_format(ct, len), VAULT_EINTEGRITY);
        assert_int_equal(vc_field_key_version(&ver, ct, len), VAULT_EINTEGRITY);
        assert_int_equal(vc_field_open(pt, sizeof pt, &outlen, key, &a, ct, len), VAULT_EINTEGRITY);
        assert_non_null(strstr(vault_error_last(), "malformed"));
    }
    ct[0] = VC_FIELD_FORMAT_V2;
    a.counter = 0; /* a caller that lost the counter: its bug, not the data's */
    assert_int_equal(vc_field_open(pt, sizeof pt, &outlen, key, &a, ct, len), VAULT_EINVALID);
    a.counter = 1;
    assert_int_equal(vc_field_open(pt, sizeof pt, &outlen, key, &a, ct, len), 0);
}

/* libsodium's userland generator is the one in use (crypto.c, vc_init). */
static void test_rng_internal(void **state)
{
    (void)state;
    assert_string_equal(randombytes_implementation_name(), "internal");
    assert_int_equal(vc_init(), 0); /* again: a no-op */
    assert_string_equal(randombytes_implementation_name(), "internal");
}

static int read_full(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    ssize_t r;

    while (got < n) {
        r = read(fd, buf + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* After fork the child's generator is reseeded: its next bytes are not the
 * parent's next bytes (a copied ChaCha20 state would give both the same
 * stream; libsodium 1.0.18 alone would abort the child instead). */
static void test_rng_fork(void **state)
{
    uint8_t before[32], mine[32], theirs[32];
    int fds[2], status = 0;
    pid_t pid;

    (void)state;
    vc_random(before, sizeof before); /* the parent's stream is seeded and in use */
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t b[32];

        close(fds[0]);
        vc_random(b, sizeof b);
        _exit(write(fds[1], b, sizeof b) == (ssize_t)sizeof b ? 0 : 1);
    }
    close(fds[1]);
    vc_random(mine, sizeof mine);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status)); /* not killed by sodium_misuse's abort */
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(read_full(fds[0], theirs, sizeof theirs), 0);
    close(fds[0]);
    assert_memory_not_equal(mine, theirs, sizeof mine);
    assert_memory_not_equal(before, theirs, sizeof before);
}

/* Each thread draws from its own stream (thread-local in Debian's build). */
#define RNG_THREADS 4
static void *draw(void *arg)
{
    vc_random(arg, 32);
    return NULL;
}

static void test_rng_threads(void **state)
{
    pthread_t t[RNG_THREADS];
    uint8_t got[RNG_THREADS][32];
    int i, j;

    (void)state;
    for (i = 0; i < RNG_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, draw, got[i]), 0);
    for (i = 0; i < RNG_THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (i = 0; i < RNG_THREADS; i++)
        for (j = i + 1; j < RNG_THREADS; j++)
            assert_memory_not_equal(got[i], got[j], 32);
}

static void test_field_limits(void **state)
{
    uint8_t *big = calloc(1, VAULT_VALUE_MAX + 1 + VC_FIELD_OVERHEAD);
    uint8_t small[16];
    size_t len = 0;
    vc_field_ad a = {vid, rid, "phone", "personal", 1, 1, NULL};

    (void)state;
    fixed_inputs();
    assert_non_null(big);
    assert_int_equal(vc_field_seal(big, VAULT_VALUE_MAX + 1 + VC_FIELD_OVERHEAD, &len, key, &a, big,
                                   VAULT_VALUE_MAX + 1),
                     VAULT_ELIMIT);
    assert_int_equal(vc_field_seal(small, sizeof small, &len, key, &a, big, 8), VAULT_EINVALID);
    a.field = "";
    assert_int_equal(vc_field_seal(big, 200, &len, key, &a, big, 8), VAULT_EINVALID);
    a.field = "phone";
    a.counter = 0; /* write counters start at 1 */
    assert_int_equal(vc_field_seal(big, 200, &len, key, &a, big, 8), VAULT_EINVALID);
    a.counter = -1;
    assert_int_equal(vc_field_seal(big, 200, &len, key, &a, big, 8), VAULT_EINVALID);
    free(big);
}

static void test_nonces_differ(void **state)
{
    uint8_t a1[128], a2[128];
    size_t l1 = sealed(a1, sizeof a1), l2 = sealed(a2, sizeof a2);

    (void)state;
    assert_int_equal(l1, l2);
    assert_memory_not_equal(a1 + 5, a2 + 5, 24);
}

static void test_bidx_vectors(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL;
    size_t n = tu_vectors("bidx.txt", rows, &storage), i, inlen, dlen;
    uint8_t root[32], out[16];

    (void)state;
    for (i = 0; i < 32; i++)
        root[i] = (uint8_t)(0x60 + i);
    assert_true(n >= 4);
    for (i = 0; i < n; i++) {
        uint8_t *in = tu_unhex(rows[i][1], &inlen);
        uint8_t *d = tu_unhex(rows[i][3], &dlen);
        assert_int_equal(vc_blind_index(out, root, rows[i][0], (const char *)in, inlen), 0);
        assert_int_equal(dlen, 16);
        assert_memory_equal(out, d, 16);
        free(in);
        free(d);
    }
    /* Another field gives another digest for the same value. */
    assert_int_equal(vc_blind_index(out, root, "phone", "11010119900307123X", 18), 0);
    {
        uint8_t *d = tu_unhex(rows[0][3], &dlen);
        assert_memory_not_equal(out, d, 16);
        free(d);
    }
    free(storage);
}

/* tests/vectors/pseudonym.txt, from gen_pseudonym_vectors.py (Python's
 * hashlib and base32, not libvault). */
static void test_pseudonym_vectors(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL;
    size_t n = tu_vectors("pseudonym.txt", rows, &storage), i, inlen, len;
    uint8_t root[32];
    char out[VC_PSEUDONYM_SIZE];

    (void)state;
    for (i = 0; i < 32; i++)
        root[i] = (uint8_t)(0xa0 + i);
    assert_true(n >= 9);
    for (i = 0; i < n; i++) {
        uint8_t *in = tu_unhex(rows[i][2], &inlen);
        const char *want = strcmp(rows[i][3], "-") == 0 ? "" : rows[i][3];
        assert_int_equal(vc_pseudonym(out, &len, root, rows[i][0], rows[i][1], (const char *)in,
                                      inlen), 0);
        assert_string_equal(out, want);
        assert_int_equal(len, strlen(want));
        free(in);
    }
    /* Refused: no department, a name too long, a value too long. */
    assert_int_equal(vc_pseudonym(out, &len, root, "", "phone", "1", 1), VAULT_EINVALID);
    assert_int_equal(vc_pseudonym(out, &len, root, "health", NULL, "1", 1), VAULT_EINVALID);
    {
        char longname[VAULT_NAME_MAX + 1];
        memset(longname, 'a', sizeof longname - 1);
        longname[sizeof longname - 1] = '\0';
        assert_int_equal(vc_pseudonym(out, &len, root, longname, "phone", "1", 1), VAULT_EINVALID);
    }
    assert_int_equal(vc_pseudonym(out, &len, root, "health", "phone", "1", VAULT_VALUE_MAX + 1),
                     VAULT_ELIMIT);
    free(storage);
}

static void test_kdf_vectors(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL;
    size_t n = tu_vectors("kdf.txt", rows, &storage), klen;
    uint8_t master[32], vault_id[16] = {0};
    keyring *k = NULL;
    uint8_t *want;
    int i;

    (void)state;
    for (i = 0; i < 32; i++)
        master[i] = (uint8_t)(0x80 + i);
    assert_int_equal(n, 7);
    assert_int_equal(keyring_new(&k, master, vault_id), 0);
    want = tu_unhex(rows[0][2], &klen);
    assert_memory_equal(keyring_db_key(k), want, 32);
    free(want);
    want = tu_unhex(rows[1][2], &klen);
    assert_memory_equal(keyring_wrap_key(k), want, 32);
    free(want);
    want = tu_unhex(rows[2][2], &klen);
    assert_memory_equal(keyring_bidx_root(k), want, 32);
    free(want);
    want = tu_unhex(rows[3][2], &klen);
    assert_memory_equal(keyring_pseudonym_root(k), want, 32);
    free(want);
    want = tu_unhex(rows[4][2], &klen);
    assert_memory_equal(keyring_canary_key(k), want, 32);
    free(want);
    want = tu_unhex(rows[5][2], &klen);
    assert_memory_equal(keyring_reckeys_db_key(k), want, 32);
    free(want);
    want = tu_unhex(rows[6][2], &klen);
    assert_memory_equal(keyring_reckey_wrap_key(k), want, 32);
    free(want);
    keyring_free(k);
    free(storage);
}

static void test_wrap(void **state)
{
    uint8_t k[32] = {1}, secret[32] = {9}, ct[80], pt[32];
    size_t clen = 0, plen = 0;

    (void)state;
    assert_int_equal(vc_wrap(ct, sizeof ct, &clen, k, (const uint8_t *)"ad", 2, secret, 32), 0);
    assert_int_equal(vc_unwrap(pt, sizeof pt, &plen, k, (const uint8_t *)"ad", 2, ct, clen), 0);
    assert_memory_equal(pt, secret, 32);
    assert_int_equal(vc_unwrap(pt, sizeof pt, &plen, k, (const uint8_t *)"aD", 2, ct, clen), VAULT_EAUTH);
    ct[30] ^= 4;
    assert_int_equal(vc_unwrap(pt, sizeof pt, &plen, k, (const uint8_t *)"ad", 2, ct, clen), VAULT_EAUTH);
    assert_int_equal(vc_unwrap(pt, sizeof pt, &plen, k, (const uint8_t *)"ad", 2, ct, 10), VAULT_EINTEGRITY);
}

static void test_sign(void **state)
{
    uint8_t pk[32], sk[64], sig[64];

    (void)state;
    assert_int_equal(vc_sign_keypair(pk, sk), 0);
    assert_int_equal(vc_sign(sig, "note", 4, sk), 0);
    assert_int_equal(vc_verify(sig, "note", 4, pk), 0);
    assert_int_equal(vc_verify(sig, "nots", 4, pk), VAULT_EINTEGRITY);
    sig[0] ^= 1;
    assert_int_equal(vc_verify(sig, "note", 4, pk), VAULT_EINTEGRITY);
}

static void test_encodings(void **state)
{
    uint8_t bin[4] = {0xde, 0xad, 0xbe, 0xef}, back[8];
    char hex[9], b64[16];
    size_t n = 0;

    (void)state;
    assert_int_equal(vc_bin2hex(hex, sizeof hex, bin, 4), 0);
    assert_string_equal(hex, "deadbeef");
    assert_int_equal(vc_bin2hex(hex, 8, bin, 4), VAULT_EINVALID);
    assert_int_equal(vc_hex2bin(back, sizeof back, &n, "deadbeef", 8), 0);
    assert_int_equal(n, 4);
    assert_int_equal(vc_hex2bin(back, sizeof back, &n, "deadbeeg", 8), VAULT_EINVALID);
    assert_int_equal(vc_bin2b64(b64, sizeof b64, bin, 4), 0);
    assert_string_equal(b64, "3q2+7w==");
    assert_int_equal(vc_b642bin(back, sizeof back, &n, "3q2+7w==", 8), 0);
    assert_int_equal(n, 4);
    assert_int_equal(vc_b642bin(back, sizeof back, &n, "3q2+7w=", 7), VAULT_EINVALID);
}

/* vc_b642bin_public (an export's entries): canonical base64 only, the
 * same bytes as vc_b642bin for every length, and the log's SHA-256
 * (libcrypto) the same digest as libsodium's. */
static void test_public_base64_and_log_hash(void **state)
{
    static const char *const bad[] = {
        "QU=D", "Q=Q=", "QQ=A", " QUJD", "QUJD ", "QU D", "QUJD\n", "-_AA", "QR==", "QUJ=",
        "QUI", "=AAA", "QQ===", "QQ", "Q===",
    };
    uint8_t bin[300], a[300], b[300], h1[32], h2[32], buf[301];
    char b64[420];
    size_t na = 0, nb = 0, len, i;

    (void)state;
    randombytes_buf(bin, sizeof bin);
    for (len = 0; len <= sizeof bin; len++) {
        assert_int_equal(vc_bin2b64(b64, sizeof b64, bin, len), 0);
        assert_int_equal(vc_b642bin(a, sizeof a, &na, b64, strlen(b64)), 0);
        assert_int_equal(vc_b642bin_public(b, sizeof b, &nb, b64, strlen(b64)), 0);
        assert_int_equal(nb, len);
        assert_int_equal(na, nb);
        if (len > 0)
            assert_memory_equal(a, b, len);
        /* exactly the room needed, and one byte less */
        if (len > 0) {
            assert_int_equal(vc_b642bin_public(b, len, &nb, b64, strlen(b64)), 0);
            assert_memory_equal(a, b, len);
            assert_int_equal(vc_b642bin_public(b, len - 1, &nb, b64, strlen(b64)),
                             VAULT_EINVALID);
        }
        buf[0] = 0x02;
        memcpy(buf + 1, bin, len);
        vc_log_sha256(h1, 0x02, bin, len);
        assert_int_equal(vc_sha256(h2, buf, len + 1), 0);
        assert_memory_equal(h1, h2, 32);
    }
    assert_int_equal(vc_b642bin_public(b, sizeof b, &nb, "QUI=", 4), 0);
    assert_int_equal(nb, 2);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (vc_b642bin_public(b, sizeof b, &nb, bad[i], strlen(bad[i])) != VAULT_EINVALID)
            fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(vc_b642bin_public(b, sizeof b, &nb, "QU\0D", 4), VAULT_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_base64_and_log_hash),
        cmocka_unit_test(test_field_vectors_v1), cmocka_unit_test(test_field_vectors_v2),
        cmocka_unit_test(test_field_vectors_v3),
        cmocka_unit_test(test_field_moved), cmocka_unit_test(test_field_tampered),
        cmocka_unit_test(test_field_formats), cmocka_unit_test(test_field_limits),
        cmocka_unit_test(test_nonces_differ), cmocka_unit_test(test_bidx_vectors),
        cmocka_unit_test(test_kdf_vectors),
        cmocka_unit_test(test_pseudonym_vectors), cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_sign), cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_rng_internal), cmocka_unit_test(test_rng_fork),
        cmocka_unit_test(test_rng_threads),
    };

    if (vc_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

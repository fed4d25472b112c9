/* audit_cosign: cosignature/v1 lines and typed verifier keys.  Known
 * answers come from tests/vectors/gen_cosign_vectors.py, an independent
 * Python implementation of C2SP tlog-cosignature (docs/witness.md). */
#include "testutil.h"

#include <sodium.h>

#include "audit/audit_cosign.h"
#include "audit/audit_format.h"
#include "crypto.h"

static const char *vec(char *rows[TU_MAX_ROWS][TU_MAX_COLS], size_t n, const char *key)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(rows[i][0], key) == 0)
            return rows[i][1];
    fail_msg("vector %s not found", key);
    return NULL;
}

typedef struct wkey {
    uint8_t pk[32], sk[64];
    char name[256];
} wkey;

static void vector_key(wkey *k, char *rows[TU_MAX_ROWS][TU_MAX_COLS], size_t n)
{
    size_t len;
    uint8_t *seed = tu_unhex(vec(rows, n, "seed"), &len), *want;

    assert_int_equal(len, 32);
    assert_int_equal(crypto_sign_seed_keypair(k->pk, k->sk, seed), 0);
    want = tu_unhex(vec(rows, n, "pubkey"), &len);
    assert_memory_equal(k->pk, want, 32);
    snprintf(k->name, sizeof k->name, "%s", vec(rows, n, "name"));
    free(seed);
    free(want);
}

static char *read_vector(const char *file, size_t *len)
{
    char path[1024];
    char *s;

    snprintf(path, sizeof path, "%s/tests/vectors/%s", VAULT_SOURCE_DIR, file);
    s = (char *)tu_read_file(path, len);
    assert_non_null(s);
    return s;
}

/* note | line, NUL-terminated (malloc'ed). */
static char *with_line(const char *note, size_t len, const char *line, size_t *out_len)
{
    size_t ll = strlen(line);
    char *s = malloc(len + ll + 1);

    assert_non_null(s);
    memcpy(s, note, len);
    memcpy(s + len, line, ll + 1);
    *out_len = len + ll;
    return s;
}

static void test_vector_key(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL, vkey[AF_VKEY_MAX], name[256];
    size_t n = tu_vectors("cosignature.txt", rows, &storage), len;
    uint8_t keyid[4], *want, pk[32];
    wkey k;

    (void)state;
    vector_key(&k, rows, n);
    af_keyid_typed(keyid, k.name, AF_SIGTYPE_COSIGN_V1, k.pk);
    want = tu_unhex(vec(rows, n, "keyid"), &len);
    assert_memory_equal(keyid, want, 4);
    free(want);
    assert_int_equal(af_vkey_format(vkey, sizeof vkey, k.name, AF_SIGTYPE_COSIGN_V1, k.pk), 0);
    assert_string_equal(vkey, vec(rows, n, "vkey"));
    assert_int_equal(af_vkey_parse(name, pk, vkey, strlen(vkey), AF_SIGTYPE_COSIGN_V1), 0);
    assert_string_equal(name, k.name);
    assert_memory_equal(pk, k.pk, 32);
    /* The same text is not a log's (type 0x01) key. */
    assert_int_equal(af_vkey_parse(name, pk, vkey, strlen(vkey), AF_SIGTYPE_ED25519),
                     VAULT_EINVALID);
    /* The 0x01 key id differs from the 0x04 one. */
    af_keyid_typed(keyid, k.name, AF_SIGTYPE_ED25519, k.pk);
    want = tu_unhex(vec(rows, n, "keyid"), &len);
    assert_false(memcmp(keyid, want, 4) == 0); /* memcmp ok: not secret */
    free(want);
    free(storage);
}

static void test_vkey_parse_rejects(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL, name[256], bad[AF_VKEY_MAX + 16];
    size_t n = tu_vectors("cosignature.txt", rows, &storage);
    const char *good = vec(rows, n, "vkey"), *p;
    uint8_t pk[32];
    size_t gl = strlen(good);

    (void)state;
    /* Trailing line ends are fine. */
    snprintf(bad, sizeof bad, "%s\r\n", good);
    assert_int_equal(af_vkey_parse(name, pk, bad, strlen(bad), AF_SIGTYPE_COSIGN_V1), 0);
    /* A changed key id, name, key; no '+'; an empty name; a short key. */
    snprintf(bad, sizeof bad, "%s", good);
    p = strchr(bad, '+');
    bad[p - bad + 1] = bad[p - bad + 1] == '0' ? '1' : '0';
    assert_int_equal(af_vkey_parse(name, pk, bad, gl, AF_SIGTYPE_COSIGN_V1), VAULT_EINVALID);
    snprintf(bad, sizeof bad, "X%s", good);
    assert_int_equal(af_vkey_parse(name, pk, bad, gl + 1, AF_SIGTYPE_COSIGN_V1), VAULT_EINVALID);
    snprintf(bad, sizeof bad, "%s", good);
    bad[gl - 3] = bad[gl - 3] == 'A' ? 'B' : 'A';
    assert_int_equal(af_vkey_parse(name, pk, bad, gl, AF_SIGTYPE_COSIGN_V1), VAULT_EINVALID);
    assert_int_equal(af_vkey_parse(name, pk, "witness", 7, AF_SIGTYPE_COSIGN_V1), VAULT_EINVALID);
    snprintf(bad, sizeof bad, "%s", strchr(good, '+'));
    assert_int_equal(af_vkey_parse(name, pk, bad, strlen(bad), AF_SIGTYPE_COSIGN_V1),
                     VAULT_EINVALID);
    snprintf(bad, sizeof bad, "%.*s", (int)(gl - 4), good);
    assert_int_equal(af_vkey_parse(name, pk, bad, strlen(bad), AF_SIGTYPE_COSIGN_V1),
                     VAULT_EINVALID);
    free(storage);
}

/* af_cosign reproduces the Python lines byte for byte, and they verify. */
static void test_vector_cosignatures(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL, *note, *line = NULL, *both, want[512];
    size_t n = tu_vectors("cosignature.txt", rows, &storage), i, len, blen, cases = 0;
    uint64_t ts;
    wkey k;

    (void)state;
    vector_key(&k, rows, n);
    for (i = 0; i < n; i++) {
        if (strcmp(rows[i][0], "case") != 0)
            continue;
        cases++;
        note = read_vector(rows[i][1], &len);
        snprintf(want, sizeof want, "%s %s %s\n", rows[i][4], rows[i][5], rows[i][6]);
        assert_string_equal(rows[i][5], k.name);
        assert_int_equal(af_cosign(&line, note, len, k.name, k.sk,
                                   strtoull(rows[i][2], NULL, 10)),
                         0);
        assert_string_equal(line, want);
        both = with_line(note, len, line, &blen);
        assert_int_equal(af_cosignature_verify(&ts, both, blen, k.name, k.pk), 0);
        assert_int_equal(ts, strtoull(rows[i][2], NULL, 10));
        free(both);
        free(line);
        line = NULL;
        free(note);
    }
    assert_int_equal(cases, 2);
    free(storage);
}

static void test_cosignature_negative(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL, *note, *line = NULL, *both, *p;
    size_t n = tu_vectors("cosignature.txt", rows, &storage), len, blen;
    uint8_t opk[32], osk[64];
    uint64_t ts = 99;
    wkey k;

    (void)state;
    vector_key(&k, rows, n);
    note = read_vector("checkpoint.txt", &len);
    assert_int_equal(af_cosign(&line, note, len, k.name, k.sk, 1700000000), 0);

    /* No line of this witness: the log's own line does not count. */
    assert_int_equal(af_cosignature_verify(&ts, note, len, k.name, k.pk), VAULT_EINTEGRITY);
    assert_int_equal(ts, 0);
    /* Another witness name or key: not found. */
    both = with_line(note, len, line, &blen);
    assert_int_equal(af_cosignature_verify(NULL, both, blen, "witness.test/w2", k.pk),
                     VAULT_EINTEGRITY);
    crypto_sign_keypair(opk, osk);
    assert_int_equal(af_cosignature_verify(NULL, both, blen, k.name, opk), VAULT_EINTEGRITY);
    /* The checkpoint changed under the cosignature: the size line. */
    p = strstr(both, "\n7\n");
    assert_non_null(p);
    p[1] = '8';
    assert_int_equal(af_cosignature_verify(NULL, both, blen, k.name, k.pk), VAULT_EINTEGRITY);
    p[1] = '7';
    assert_int_equal(af_cosignature_verify(NULL, both, blen, k.name, k.pk), 0);
    /* The root line. */
    p = strchr(strchr(both, '\n') + 1, '\n') + 1;
    p[3] = p[3] == 'A' ? 'B' : 'A';
    assert_int_equal(af_cosignature_verify(NULL, both, blen, k.name, k.pk), VAULT_EINTEGRITY);
    free(both);
    /* The timestamp (bytes 4..11 of the signature) changed: "7A3QywAAAABl" →
     * the base64 character for the low bytes altered. */
    both = with_line(note, len, line, &blen);
    p = strstr(both, k.name);
    p = strchr(p, ' ') + 1;
    p[10] = p[10] == 'A' ? 'B' : 'A';
    assert_int_equal(af_cosignature_verify(NULL, both, blen, k.name, k.pk), VAULT_EINTEGRITY);
    free(both);
    /* A truncated signature of the right key id: bad, not ignored. */
    both = with_line(note, len, line, &blen);
    p = strstr(both, k.name);
    p = strchr(p, ' ') + 1;
    memcpy(p + 96, "\n", 2);
    assert_int_equal(af_cosignature_verify(NULL, both, strlen(both), k.name, k.pk),
                     VAULT_EINTEGRITY);
    free(both);
    /* A malformed signature line. */
    both = with_line(note, len, "- witness.test/w1 AAAA\n", &blen);
    assert_int_equal(af_cosignature_verify(NULL, both, blen, k.name, k.pk), VAULT_EINVALID);
    free(both);
    free(line);
    line = NULL;

    /* af_cosign refuses bad names, notes and timestamps. */
    assert_int_equal(af_cosign(&line, note, len, "bad name", k.sk, 1), VAULT_EINVALID);
    assert_int_equal(af_cosign(&line, note, len, "a+b", k.sk, 1), VAULT_EINVALID);
    assert_int_equal(af_cosign(&line, note, len, k.name, k.sk, (uint64_t)INT64_MAX + 1),
                     VAULT_EINVALID);
    assert_int_equal(af_cosign(&line, "origin\n1\n", 9, k.name, k.sk, 1), VAULT_EINVALID);
    assert_int_equal(af_cosign(&line, note, len - 1, k.name, k.sk, 1), VAULT_EINVALID);
    assert_null(line);
    free(note);
    free(storage);
}

/* One public key is one witness: a genuine line copied under another
 * name (the key id recomputed; the cosigned message holds no name) does
 * not count twice; a bogus line under the witness's key id hides nothing. */
static void test_cosignature_count(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL, *note, *line = NULL, *one, *two;
    char forged[1024], b64[256], *bogus;
    size_t n = tu_vectors("cosignature.txt", rows, &storage), len, l1, l2, dlen = 0;
    uint8_t sig[AF_COSIG_BYTES + 8];
    af_witness_key keys[2];
    uint64_t mask = 0;
    const char *sp;
    wkey k;

    (void)state;
    vector_key(&k, rows, n);
    note = read_vector("checkpoint.txt", &len);
    assert_int_equal(af_cosign(&line, note, len, k.name, k.sk, 1700000000), 0);
    one = with_line(note, len, line, &l1);
    /* the same signature under the name "witness.test/alias" */
    sp = strchr(line + 4, ' ');
    assert_non_null(sp);
    assert_int_equal(vc_b642bin(sig, sizeof sig, &dlen, sp + 1, strlen(sp + 1) - 1), 0);
    assert_int_equal(dlen, AF_COSIG_BYTES);
    af_keyid_typed(sig, "witness.test/alias", AF_SIGTYPE_COSIGN_V1, k.pk);
    assert_int_equal(vc_bin2b64(b64, sizeof b64, sig, dlen), 0);
    snprintf(forged, sizeof forged, "\xe2\x80\x94 witness.test/alias %s\n", b64);
    two = with_line(one, l1, forged, &l2);
    memset(keys, 0, sizeof keys);
    snprintf(keys[0].name, sizeof keys[0].name, "%s", k.name);
    memcpy(keys[0].pk, k.pk, 32);
    snprintf(keys[1].name, sizeof keys[1].name, "witness.test/alias");
    memcpy(keys[1].pk, k.pk, 32);
    /* the alias line verifies on its own (no name in the message) ... */
    assert_int_equal(af_cosignature_verify(NULL, two, l2, "witness.test/alias", k.pk), 0);
    /* ... but one key is one witness */
    assert_int_equal(af_cosign_count(two, l2, keys, 2, &mask), 1);
    assert_int_equal(mask, 1);
    /* a line under the witness's key id that doesn't verify hides nothing */
    sig[20] ^= 1;
    af_keyid_typed(sig, k.name, AF_SIGTYPE_COSIGN_V1, k.pk);
    assert_int_equal(vc_bin2b64(b64, sizeof b64, sig, dlen), 0);
    snprintf(forged, sizeof forged, "\xe2\x80\x94 %s %s\n", k.name, b64);
    bogus = with_line(one, l1, forged, &l2);
    assert_int_equal(af_cosignature_verify(NULL, bogus, l2, k.name, k.pk), 0);
    assert_int_equal(af_cosign_count(bogus, l2, keys, 1, NULL), 1);
    /* the bogus line alone: not a cosignature */
    free(two);
    two = with_line(note, len, forged, &l2);
    assert_int_equal(af_cosignature_verify(NULL, two, l2, k.name, k.pk), VAULT_EINTEGRITY);
    assert_int_equal(af_cosign_count(two, l2, keys, 1, NULL), 0);
    free(bogus);
    free(two);
    free(one);
    free(line);
    free(note);
    free(storage);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_key),
        cmocka_unit_test(test_vkey_parse_rejects),
        cmocka_unit_test(test_vector_cosignatures),
        cmocka_unit_test(test_cosignature_negative),
        cmocka_unit_test(test_cosignature_count),
    };

    if (vc_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

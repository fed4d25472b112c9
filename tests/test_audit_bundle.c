/* audit_bundle: resident proof bundles (docs/audit-format.md §11).  The
 * one-pass batch prover against the single prover for every tree up to
 * 40 leaves; the independent vector (tests/vectors/gen_bundle_vectors.py)
 * accepted and reproduced byte for byte; every tampering the format must
 * catch, with its class; malformed and oversized input; witnesses; and
 * bundles made from a vault, including a trimmed report index. */
#include "testlog.h"

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "rawdb.h"

#include "audit/audit.h"
#include "audit/audit_bundle.h"
#include "audit/audit_cosign.h"
#include "audit/audit_proof.h"
#include "crypto.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"
#define PASS "bundle test passphrase"
#define VEC VAULT_SOURCE_DIR "/tests/vectors/"

static void fixed_leaf(uint8_t out[32], uint64_t i)
{
    char text[64];

    snprintf(text, sizeof text, "proof vector leaf %llu", (unsigned long long)i);
    af_leaf_hash(out, (const uint8_t *)text, strlen(text));
}

/* ---- the batch prover gives each single proof ---------------------------- */

static void check_batch(const uint8_t (*leaves)[32], uint64_t size, const uint64_t *idx, size_t n)
{
    af_batch b;
    af_prover p;
    uint8_t leaf[32], hashes[VAULT_PROOF_HASHES_MAX][32];
    size_t j, nh;
    uint64_t i;

    assert_int_equal(af_batch_init(&b, idx, n, size), 0);
    for (i = 0; i < size; i++)
        assert_int_equal(af_batch_push(&b, leaves[i]), i + 1 == size);
    for (j = 0; j < n; j++) {
        assert_int_equal(af_prover_inclusion(&p, idx[j], size), 0);
        for (i = 0; i < size; i++)
            af_prover_push(&p, leaves[i]);
        assert_int_equal(af_batch_proof(leaf, hashes, &nh, &b, j), 0);
        assert_int_equal(nh, p.n);
        assert_memory_equal(leaf, p.leaf, 32);
        if (nh)
            assert_memory_equal(hashes, p.hashes, nh * 32);
        assert_memory_equal(b.root, p.root, 32);
        assert_int_equal(af_inclusion_verify(idx[j], size, leaf, (const uint8_t(*)[32])hashes, nh,
                                             b.root), 0);
    }
    af_batch_free(&b);
}

static void test_batch_every_shape(void **state)
{
    uint8_t leaves[40][32];
    uint64_t n, k, idx[40];
    size_t m;
    af_batch b;

    (void)state;
    for (n = 0; n < 40; n++)
        fixed_leaf(leaves[n], n);
    for (n = 1; n <= 40; n++) {
        for (k = 0; k < n; k++) /* every single leaf */
            check_batch((const uint8_t(*)[32])leaves, n, &k, 1);
        for (k = 0, m = 0; k < n; k++) /* all of them at once */
            idx[m++] = k;
        check_batch((const uint8_t(*)[32])leaves, n, idx, m);
        for (k = 0, m = 0; k < n; k += 3) /* every third */
            idx[m++] = k;
        check_batch((const uint8_t(*)[32])leaves, n, idx, m);
    }
    /* Leaves before all are in, an index outside the tree. */
    k = 2;
    assert_int_equal(af_batch_init(&b, &k, 1, 5), 0);
    af_batch_push(&b, leaves[0]);
    assert_int_equal(af_batch_proof(leaves[1], (uint8_t(*)[32])idx, &m, &b, 0), VAULT_EINVALID);
    af_batch_free(&b);
    k = 5;
    assert_int_equal(af_batch_init(&b, &k, 1, 5), VAULT_EINVALID);
}

/* ---- the vector --------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
    size_t n = 0;
    char *t = (char *)tu_read_file(path, &n);
    char *z = malloc(n + 1);

    assert_non_null(t);
    assert_non_null(z);
    memcpy(z, t, n);
    z[n] = '\0';
    free(t);
    if (len)
        *len = n;
    return z;
}

typedef struct vkey {
    char text[256], name[256];
    uint8_t pk[32], sk[64];
} vkey;

static void vector_key(vkey *k)
{
    char *t = slurp(VEC "vectors.pub", NULL);
    uint8_t seed[32], pk[32];
    int i;

    snprintf(k->text, sizeof k->text, "%s", t);
    free(t);
    assert_int_equal(af_log_vkey_parse(k->name, k->pk, k->text), 0);
    for (i = 0; i < 32; i++)
        seed[i] = (uint8_t)(0xc0 + i);
    assert_int_equal(crypto_sign_seed_keypair(pk, k->sk, seed), 0);
    assert_memory_equal(pk, k->pk, 32);
}

static int verify(af_verify_result *r, const char *json, const vkey *k,
                  const af_bundle_witness *w, size_t nw, size_t quorum)
{
    return af_bundle_verify(r, json, strlen(json), k->name, k->pk, w, nw, quorum);
}

/* The vector bundle, as JSON to tamper with. */
static json_t *vector_json(void)
{
    char *t = slurp(VEC "bundle_v2.json", NULL);
    json_t *o = json_loads(t, 0, NULL);

    free(t);
    assert_non_null(o);
    return o;
}

static char *dumps(json_t *o)
{
    char *t = json_dumps(o, JSON_COMPACT);

    assert_non_null(t);
    return t;
}

/* Verify o; the class must be `cls` and the message hold `what`. */
static void expect(json_t *o, const vkey *k, int cls, uint64_t bad, const char *what)
{
    af_verify_result r;
    char *t = dumps(o);

    assert_int_equal(verify(&r, t, k, NULL, 0, 0), cls);
    assert_int_equal(r.cls, cls);
    assert_int_equal(r.bad_seq, bad);
    if (!strstr(r.message, what))
        fail_msg("message \"%s\" lacks \"%s\"", r.message, what);
    assert_null(strchr(r.message, '\n'));
    free(t);
    json_decref(o);
}

static void test_vector(void **state)
{
    vkey k;
    size_t len, i, n = 0, nv, nv2, used = 0, nh;
    char *file = slurp(VEC "bundle_v2.json", &len), *storage, *rows[TU_MAX_ROWS][TU_MAX_COLS];
    char *storage2, *rows2[TU_MAX_ROWS][TU_MAX_COLS], *note, *statement = NULL, *out = NULL;
    uint8_t *ent[10], leaves[10][32], record[16], sig[AF_BUNDLE_SIG_BYTES], leaf[32];
    uint8_t hashes[64][32];
    size_t lens[10];
    uint64_t seqs[10], idx[10];
    af_bundle_entry be[10];
    af_verify_result r;
    af_batch b;
    af_entry e;
    void *st;

    (void)state;
    vector_key(&k);
    assert_int_equal(verify(&r, file, &k, NULL, 0, 0), AF_OK);
    assert_int_equal(r.entries, 5);
    assert_int_equal(r.newest_size, 10);
    assert_non_null(strstr(r.message, "ok: 5 entries of record b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"));
    /* The writer: the same bytes from the same log, key and checkpoint. */
    nv = tu_vectors("audit.txt", rows, &storage);
    nv2 = tu_vectors("audit_v2.txt", rows2, &storage2);
    for (i = 0; i < nv; i++)
        if (strcmp(rows[i][0], "entry") == 0)
            ent[n] = tu_unhex(rows[i][2], &lens[n]), n++;
    for (i = 0; i < nv2; i++)
        if (strcmp(rows2[i][0], "entry") == 0 && n < 10)
            ent[n] = tu_unhex(rows2[i][2], &lens[n]), n++;
    assert_int_equal(n, 10);
    for (i = 0; i < 16; i++)
        record[i] = (uint8_t)(0xb0 + i);
    for (i = 0, nv = 0; i < 10; i++) {
        af_leaf_hash(leaves[i], ent[i], lens[i]);
        assert_int_equal(af_entry_decode(&e, &st, ent[i], lens[i]), 0);
        if (e.has_record && memcmp(e.record_id, record, 16) == 0)
            seqs[nv] = i + 1, idx[nv] = i, nv++;
        free(st);
    }
    assert_int_equal(nv, 5);
    assert_int_equal(af_batch_init(&b, idx, nv, 10), 0);
    for (i = 0; i < 10; i++)
        af_batch_push(&b, leaves[i]);
    for (i = 0; i < nv; i++) {
        assert_int_equal(af_batch_proof(leaf, hashes + used, &nh, &b, i), 0);
        be[i].seq = seqs[i];
        be[i].entry = ent[idx[i]];
        be[i].len = lens[idx[i]];
        be[i].nhashes = nh;
        be[i].hashes = (const uint8_t(*)[32])(hashes + used);
        used += nh;
    }
    note = slurp(VEC "checkpoint_v2.txt", NULL);
    assert_int_equal(af_bundle_statement(&statement, k.name, 10, b.root, record, seqs, nv, NULL, 0, 0), 0);
    assert_int_equal(af_bundle_sign(sig, statement, strlen(statement), k.name, k.sk), 0);
    assert_int_equal(af_bundle_json(&out, k.name, record, note, statement, sig, be, nv, NULL, 0), 0);
    assert_int_equal(strlen(out) + 1, len);
    assert_memory_equal(out, file, len - 1);
    /* The public call agrees. */
    {
        vault_audit_result vr;
        assert_int_equal(vault_audit_verify_bundle(&vr, file, len, k.text, NULL, 0, 0), 0);
        assert_int_equal(vr.failure, VAULT_AUDIT_OK);
        assert_int_equal(vr.entries, 5);
    }
    /* The cosigned vector (witness.pub): the same writer with the
     * checkpoint as stored once cosigned gives its bytes; it verifies
     * with the witness's key, and one character of the cosignature's
     * base64 changed (each of the first 100: key id, time, signature)
     * does not count. */
    {
        size_t clen, wlen;
        char *cfile = slurp(VEC "bundle_v2_cosigned.json", &clen), *wtext;
        char *cout = NULL, *line, *copy;
        const char *cnote;
        json_t *o = json_loads(cfile, 0, NULL);
        af_bundle_witness w;
        vault_audit_result vr;

        assert_non_null(o);
        cnote = json_string_value(json_object_get(o, "checkpoint"));
        assert_non_null(strstr(cnote, "\n\xe2\x80\x94 witness.test/w1 "));
        assert_int_equal(af_bundle_json(&cout, k.name, record, cnote, statement, sig, be, nv, NULL, 0), 0);
        assert_int_equal(strlen(cout) + 1, clen);
        assert_memory_equal(cout, cfile, clen - 1);
        wtext = slurp(VEC "witness.pub", &wlen);
        assert_int_equal(af_vkey_parse(w.name, w.pk, wtext, wlen, AF_SIGTYPE_COSIGN_V1), 0);
        assert_int_equal(verify(&r, cfile, &k, &w, 1, 1), AF_OK);
        assert_non_null(strstr(r.message, "; witnessed"));
        {
            const char *keys[1] = {wtext};
            assert_int_equal(vault_audit_verify_bundle(&vr, cfile, clen, k.text, keys, 1, 0), 0);
        }
        assert_int_equal(verify(&r, file, &k, &w, 1, 1), AF_UNWITNESSED); /* the plain one */
        line = strstr(cfile, "witness.test/w1 ") + strlen("witness.test/w1 ");
        for (i = 0; i < 100 && line[i] != '\\'; i++) { /* 100: the 75 bytes before padding */
            copy = strdup(cfile);
            assert_non_null(copy);
            copy[line - cfile + (long)i] = line[i] == 'A' ? 'B' : 'A';
            assert_int_equal(verify(&r, copy, &k, &w, 1, 1), AF_UNWITNESSED);
            assert_non_null(strstr(r.message, "checkpoint 10: unwitnessed (0 of the 1"));
            free(copy);
        }
        assert_int_equal(i, 100);
        free(wtext);
        free(cout);
        free(cfile);
        json_decref(o);
    }
    af_batch_free(&b);
    for (i = 0; i < 10; i++)
        free(ent[i]);
    free(storage);
    free(storage2);
    free(note);
    free(statement);
    free(out);
    free(file);
}

static json_t *entries(json_t *o) { return json_object_get(o, "entries"); }

/* The Must-show of issue 16 and the rest of the classes. */
static void test_tampering(void **state)
{
    vkey k;
    json_t *o, *x, *h;
    char *t, *note = NULL, *other, *line = NULL;
    uint8_t osk[64], opk[32], root[32], wsk[64], wpk[32];
    af_checkpoint cp;
    af_bundle_witness w[2];
    af_verify_result r;
    size_t n;

    (void)state;
    vector_key(&k);
    /* One entry removed (entry 6): the statement lists it. */
    o = vector_json();
    json_array_remove(entries(o), 2);
    expect(o, &k, AF_MISSING, 6, "entry 6: missing (the log's signed statement lists 5");
    /* The last one removed, and all of them. */
    o = vector_json();
    json_array_remove(entries(o), 4);
    expect(o, &k, AF_MISSING, 8, "entry 8: missing");
    o = vector_json();
    json_array_clear(entries(o));
    expect(o, &k, AF_MISSING, 1, "entry 1: missing");
    /* One hash of a proof altered. */
    o = vector_json();
    h = json_array_get(json_object_get(json_array_get(entries(o), 1), "hashes"), 0);
    json_string_set(h, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    expect(o, &k, AF_MODIFIED, 2, "entry 2: modified (its inclusion proof");
    /* A hash dropped from a proof: the wrong shape is an altered proof too. */
    o = vector_json();
    json_array_remove(json_object_get(json_array_get(entries(o), 3), "hashes"), 0);
    expect(o, &k, AF_MODIFIED, 7, "entry 7: modified (its inclusion proof");
    /* One byte of an entry altered (its detail's length stays). */
    o = vector_json();
    x = json_array_get(entries(o), 0);
    t = strdup(json_string_value(json_object_get(x, "entry")));
    t[100] = t[100] == 'A' ? 'B' : 'A';
    json_object_set_new(x, "entry", json_string(t));
    free(t);
    expect(o, &k, AF_MODIFIED, 1, "entry 1: modified");
    /* An entry listed twice, and two swapped. */
    o = vector_json();
    json_array_insert_new(entries(o), 2, json_deep_copy(json_array_get(entries(o), 1)));
    expect(o, &k, AF_REORDERED, 2, "entry 2: reordered (listed twice)");
    o = vector_json();
    x = json_incref(json_array_get(entries(o), 0));
    json_array_remove(entries(o), 0);
    json_array_insert_new(entries(o), 1, x);
    expect(o, &k, AF_REORDERED, 1, "entry 1: reordered (listed after a later entry)");
    /* An entry of another record (entry 9: none) with a proof that holds. */
    {
        json_t *v = vector_json();
        af_batch b;
        uint64_t i9 = 8;
        char *s2, *rows[TU_MAX_ROWS][TU_MAX_COLS], *s3, *rows3[TU_MAX_ROWS][TU_MAX_COLS];
        uint8_t leaves[10][32], *bytes, leaf[32], hs[8][32];
        size_t nv, n3, i, m = 0, len, nh;
        char b64[1024];
        json_t *arr;

        nv = tu_vectors("audit.txt", rows, &s2);
        n3 = tu_vectors("audit_v2.txt", rows3, &s3);
        for (i = 0; i < nv; i++)
            if (strcmp(rows[i][0], "entry") == 0) {
                bytes = tu_unhex(rows[i][2], &len);
                af_leaf_hash(leaves[m++], bytes, len);
                free(bytes);
            }
        for (i = 0; i < n3; i++)
            if (strcmp(rows3[i][0], "entry") == 0 && m < 10) {
                bytes = tu_unhex(rows3[i][2], &len);
                af_leaf_hash(leaves[m], bytes, len);
                if (m == 8)
                    assert_int_equal(vc_bin2b64(b64, sizeof b64, bytes, len), 0);
                m++;
                free(bytes);
            }
        assert_int_equal(af_batch_init(&b, &i9, 1, 10), 0);
        for (i = 0; i < 10; i++)
            af_batch_push(&b, leaves[i]);
        assert_int_equal(af_batch_proof(leaf, hs, &nh, &b, 0), 0);
        af_batch_free(&b);
        arr = json_array();
        for (i = 0; i < nh; i++) {
            char hb[48];
            assert_int_equal(vc_bin2b64(hb, sizeof hb, hs[i], 32), 0);
            json_array_append_new(arr, json_string(hb));
        }
        x = json_pack("{s:i, s:s, s:o}", "seq", 9, "entry", b64, "hashes", arr);
        json_array_append_new(entries(v), x);
        expect(v, &k, AF_MODIFIED, 9, "entry 9: modified (it is not filed under the bundle's record)");
        free(s2);
        free(s3);
    }
    /* A checkpoint of another log (its own key and origin, same tree). */
    for (n = 0; n < 64; n++)
        osk[n] = 0;
    crypto_sign_keypair(opk, osk);
    o = vector_json();
    assert_int_equal(af_checkpoint_verify(&cp, json_string_value(json_object_get(o, "checkpoint")),
                                          json_string_length(json_object_get(o, "checkpoint")),
                                          k.name, k.pk), 0);
    memcpy(root, cp.root, 32);
    assert_int_equal(af_checkpoint_sign(&other, "libvault.test/another", 10, root, osk), 0);
    json_object_set_new(o, "checkpoint", json_string(other));
    expect(o, &k, AF_BAD_SIGNATURE, 10, "checkpoint 10: bad signature");
    /* ... signed under our origin by another key, and the whole bundle of
     * another log checked with our key. */
    free(other);
    assert_int_equal(af_checkpoint_sign(&other, k.name, 10, root, osk), 0);
    o = vector_json();
    json_object_set_new(o, "checkpoint", json_string(other));
    expect(o, &k, AF_BAD_SIGNATURE, 10, "checkpoint 10: bad signature");
    free(other);
    o = vector_json();
    json_object_set_new(o, "origin", json_string("libvault.test/another"));
    expect(o, &k, AF_BAD_SIGNATURE, 0, "the bundle is of another log");
    /* The statement: a seq taken out of it (signature breaks), its
     * signature altered, a statement of another record. */
    o = vector_json();
    t = strdup(json_string_value(json_object_get(o, "statement")));
    *strstr(t, " 6") = '\0';
    json_object_set_new(o, "statement", json_string(t));
    free(t);
    expect(o, &k, AF_BAD_SIGNATURE, 10, "bundle statement: bad signature");
    o = vector_json();
    t = strdup(json_string_value(json_object_get(o, "signature")));
    t[10] = t[10] == 'A' ? 'B' : 'A';
    json_object_set_new(o, "signature", json_string(t));
    free(t);
    expect(o, &k, AF_BAD_SIGNATURE, 10, "bundle statement: bad signature");
    o = vector_json();
    json_object_set_new(o, "record", json_string("c0b1b2b3b4b5b6b7b8b9babbbcbdbebf"));
    expect(o, &k, AF_MODIFIED, 0, "it is about another record");
    /* Line 7, re-signed with the vector key: "later 3" holds and is
     * reported; "later 0", a leading zero, another word or an eighth line
     * are malformed; removed, the signature breaks. */
    {
        static const char *const lines[] = {"later 3\n", "later 0\n", "later 03\n",
                                            "after 3\n", "later 3\nlater 3\n", "later 3"};
        uint8_t sig2[AF_BUNDLE_SIG_BYTES];
        char b64[128], st[512];
        for (n = 0; n < VAULT_ARRAY_LEN(lines); n++) {
            o = vector_json();
            snprintf(st, sizeof st, "%s%s", json_string_value(json_object_get(o, "statement")),
                     lines[n]);
            assert_int_equal(af_bundle_sign(sig2, st, strlen(st), k.name, k.sk), 0);
            assert_int_equal(vc_bin2b64(b64, sizeof b64, sig2, sizeof sig2), 0);
            json_object_set_new(o, "statement", json_string(st));
            json_object_set_new(o, "signature", json_string(b64));
            if (n == 0) {
                t = dumps(o);
                assert_int_equal(verify(&r, t, &k, NULL, 0, 0), AF_OK);
                assert_non_null(strstr(r.message, "of it; 3 later entries of it not in this tree"));
                free(t);
                *strstr(st, "later 3\n") = '\0'; /* the line dropped, the signature kept */
                json_object_set_new(o, "statement", json_string(st));
                expect(o, &k, AF_BAD_SIGNATURE, 10, "bundle statement: bad signature");
            } else {
                expect(o, &k, AF_MALFORMED, 0,
                       n == 4 ? "text after the last line" : "line 7 is not \"later\"");
            }
        }
    }
    /* Witnesses: none cosigned; one of two; the same key twice counts once. */
    for (n = 0; n < 2; n++) {
        uint8_t seed[32];
        memset(seed, 0x40 + (int)n, sizeof seed);
        crypto_sign_seed_keypair(n ? w[1].pk : wpk, wsk, seed);
        snprintf(w[n].name, sizeof w[n].name, "witness.test/%zu", n);
        if (!n)
            memcpy(w[0].pk, wpk, 32);
    }
    o = vector_json();
    t = dumps(o);
    assert_int_equal(verify(&r, t, &k, w, 1, 1), AF_UNWITNESSED);
    assert_non_null(strstr(r.message, "checkpoint 10: unwitnessed (0 of the 1 required"));
    assert_string_equal(af_bundle_class_name(r.cls), "unwitnessed");
    free(t);
    {
        uint8_t s0[32];
        memset(s0, 0x40, sizeof s0);
        crypto_sign_seed_keypair(wpk, wsk, s0);
    }
    note = strdup(json_string_value(json_object_get(o, "checkpoint")));
    assert_int_equal(af_cosign(&line, note, strlen(note), w[0].name, wsk, 1796083200), 0);
    t = malloc(strlen(note) + strlen(line) + 1);
    snprintf(t, strlen(note) + strlen(line) + 1, "%s%s", note, line);
    json_object_set_new(o, "checkpoint", json_string(t));
    free(t);
    t = dumps(o);
    assert_int_equal(verify(&r, t, &k, w, 1, 1), AF_OK);
    assert_int_equal(verify(&r, t, &k, w, 2, 1), AF_OK);
    assert_int_equal(verify(&r, t, &k, w, 2, 2), AF_UNWITNESSED);
    assert_non_null(strstr(r.message, "1 of the 2 required"));
    memcpy(&w[1], &w[0], sizeof w[0]);
    assert_int_equal(verify(&r, t, &k, w, 2, 2), AF_UNWITNESSED);
    assert_int_equal(verify(&r, t, &k, w, 2, 3), VAULT_EINVALID);
    assert_int_equal(verify(&r, t, &k, w, 0, 1), VAULT_EINVALID);
    assert_int_equal(verify(&r, t, &k, NULL, 0, 0), AF_OK); /* not asked for */
    free(t);
    json_decref(o);
    free(note);
    free(line);
}

/* Not a bundle: a clear one-line "malformed", never a crash. */
static void test_malformed(void **state)
{
    static const char *const bad[] = {
        "", "{", "[]", "null", "{\"bundle\":\"libvault-bundle/v1\"}", "\"x\"", "{}",
    };
    vkey k;
    af_verify_result r;
    json_t *o;
    size_t i;
    char *big;
    int rc;

    (void)state;
    vector_key(&k);
    for (i = 0; i < VAULT_ARRAY_LEN(bad); i++) {
        assert_int_equal(verify(&r, bad[i], &k, NULL, 0, 0), AF_MALFORMED);
        assert_non_null(strstr(r.message, "bundle: malformed"));
    }
    o = vector_json();
    json_object_set_new(o, "extra", json_true());
    expect(o, &k, AF_MALFORMED, 0, "exactly the keys");
    o = vector_json();
    json_object_set_new(o, "bundle", json_string("libvault-bundle/v3"));
    expect(o, &k, AF_MALFORMED, 0, "\"bundle\" is not");
    /* v2 (shard logs) has "logs" besides: a v1 bundle called v2 lacks it,
     * and a v1 bundle with it has a key too many */
    o = vector_json();
    json_object_set_new(o, "bundle", json_string("libvault-bundle/v2"));
    expect(o, &k, AF_MALFORMED, 0, "exactly the keys");
    o = vector_json();
    json_object_set_new(o, "logs", json_array());
    expect(o, &k, AF_MALFORMED, 0, "exactly the keys");
    o = vector_json();
    json_object_set_new(o, "signature", json_string("AAAA"));
    expect(o, &k, AF_MALFORMED, 0, "signature is not of its type");
    o = vector_json();
    json_object_set_new(json_array_get(entries(o), 0), "seq", json_string("1"));
    expect(o, &k, AF_MALFORMED, 1, "entries[0] is not {seq, entry, hashes}");
    o = vector_json();
    json_object_set_new(json_array_get(entries(o), 0), "entry", json_string("!!"));
    expect(o, &k, AF_MALFORMED, 1, "entry 1: malformed");
    o = vector_json();
    json_object_set_new(json_array_get(entries(o), 0), "entry", json_string("TFZBMQ=="));
    expect(o, &k, AF_MALFORMED, 1, "its bytes do not decode");
    o = vector_json();
    json_array_set_new(json_object_get(json_array_get(entries(o), 0), "hashes"), 0,
                       json_integer(5));
    expect(o, &k, AF_MALFORMED, 1, "hash 0 is not base64 of 32 bytes");
    o = vector_json();
    json_object_set_new(o, "checkpoint", json_string("not a note\n"));
    expect(o, &k, AF_MALFORMED, 0, "checkpoint: malformed");
    /* A duplicate key (jansson refuses it), a NUL inside a string. */
    assert_int_equal(verify(&r, "{\"bundle\":1,\"bundle\":2}", &k, NULL, 0, 0), AF_MALFORMED);
    o = vector_json();
    json_object_set_new(o, "statement", json_stringn("a\0b", 3));
    expect(o, &k, AF_MALFORMED, 0, "bundle: malformed");
    /* Oversized: refused before parsing. */
    big = malloc(AF_BUNDLE_MAX + 2);
    assert_non_null(big);
    memset(big, ' ', AF_BUNDLE_MAX + 1);
    big[AF_BUNDLE_MAX + 1] = '\0';
    rc = af_bundle_verify(&r, big, AF_BUNDLE_MAX + 1, k.name, k.pk, NULL, 0, 0);
    assert_int_equal(rc, AF_MALFORMED);
    assert_non_null(strstr(r.message, "larger than"));
    free(big);
    /* The public call: bad key text, a quorum above the keys. */
    {
        vault_audit_result vr;
        const char *wk[] = {"not a key"};
        assert_int_equal(vault_audit_verify_bundle(&vr, "{}", 2, "nokey", NULL, 0, 0),
                         VAULT_EINVALID);
        assert_int_equal(vault_audit_verify_bundle(&vr, "{}", 2, k.text, wk, 1, 0),
                         VAULT_EINVALID);
        assert_non_null(strstr(vault_error_last(), "witness key 1"));
        assert_int_equal(vault_audit_verify_bundle(&vr, "{}", 2, k.text, NULL, 0, 0),
                         VAULT_EINTEGRITY);
        assert_int_equal(vr.failure, VAULT_AUDIT_MALFORMED);
        assert_string_equal(vr.failure_name, "malformed");
    }
}

/* ---- from a vault ----------------------------------------------------------- */

typedef struct fixture {
    char *dir;
    char path[512];
    vault *v;
    char id[VAULT_ID_HEX_SIZE], id2[VAULT_ID_HEX_SIZE];
} fixture;

/* ---- v2: shard logs (docs/audit-format.md §11 "Shard logs") ------------ */

#define V2_SEED VAULT_SOURCE_DIR "/fuzz/corpus/fuzz_bundle/gen-v2-logs.json"

static json_t *v2_json(void)
{
    char *t = slurp(V2_SEED, NULL);
    json_t *o = json_loads(t, 0, NULL);

    free(t);
    assert_non_null(o);
    return o;
}

/* o's statement replaced by text, signed again by the vector key. */
static json_t *resigned(json_t *o, const char *text, const vkey *k)
{
    uint8_t sig[AF_BUNDLE_SIG_BYTES];
    char b64[128];

    assert_int_equal(af_bundle_sign(sig, text, strlen(text), k->name, k->sk), 0);
    assert_int_equal(vc_bin2b64(b64, sizeof b64, sig, sizeof sig), 0);
    json_object_set_new(o, "statement", json_string(text));
    json_object_set_new(o, "signature", json_string(b64));
    return o;
}

/* The seed's statement with `from` replaced by `to` (both must be there). */
static char *statement_with(json_t *o, const char *from, const char *to)
{
    const char *st = json_string_value(json_object_get(o, "statement"));
    const char *at = strstr(st, from);
    char *out;

    size_t head, tl, rest;

    assert_non_null(at);
    head = (size_t)(at - st);
    tl = strlen(to);
    rest = strlen(at + strlen(from));
    out = malloc(head + tl + rest + 1);
    assert_non_null(out);
    memcpy(out, st, head);
    memcpy(out + head, to, tl);
    memcpy(out + head + tl, at + strlen(from), rest + 1);
    return out;
}

static void expect_statement(const char *from, const char *to, const vkey *k, int cls,
                             const char *what)
{
    json_t *o = v2_json();
    char *st = statement_with(o, from, to);

    expect(resigned(o, st, k), k, cls, cls == AF_MODIFIED ? 4 : 0, what);
    free(st);
}

static void test_shard_logs_v2(void **state)
{
    vkey k;
    json_t *o, *x;
    const char *st;
    af_verify_result r;
    char *t;

    (void)state;
    vector_key(&k);
    o = v2_json();
    st = json_string_value(json_object_get(o, "statement"));
    /* the writer's statement: the city log's list, then the one shard log's */
    assert_int_equal(strncmp(st, "libvault-bundle/v2\nlibvault.test/vectors\n4\n", 42), 0);
    assert_non_null(strstr(st, "\nseqs 1\nlog 3 "));
    {
        static const char tail[] = " hangzhou/xihu\nseqs 1 3\n";

        assert_int_equal(strcmp(st + strlen(st) - (sizeof tail - 1), tail), 0);
    }
    t = dumps(o);
    assert_int_equal(verify(&r, t, &k, NULL, 0, 0), AF_OK);
    assert_non_null(strstr(r.message, "ok: 3 entries of record"));
    assert_non_null(strstr(r.message, "the 1 shard log trees it claims"));
    assert_int_equal(r.entries, 3);
    free(t);
    json_decref(o);

    /* the statement's shard-log lines */
    expect_statement(" hangzhou/xihu\nseqs 1 3\n", " hangzhou/xihu\nseqs 1 3", &k, AF_MALFORMED,
                     "not followed by its \"seqs\" line"); /* no newline at the end */
    expect_statement("\nseqs 1\nlog 3 ", "\nseqs 1\nlog 3", &k, AF_MALFORMED,
                     "a \"log\" line is not");
    expect_statement("\nlog 3 ", "\nlog 0 ", &k, AF_MALFORMED, "a \"log\" line is not");
    expect_statement(" hangzhou/xihu\nseqs 1 3\n",
                     " hangzhou/xihu\nseqs 1 3\nlog 1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= "
                     "hangzhou/aaa\nseqs\n", &k, AF_MALFORMED, "not in ascending order");
    expect_statement(" hangzhou/xihu\nseqs 1 3\n",
                     " hangzhou/xihu\nseqs 1 3\nlog 1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= "
                     "hangzhou/xihu\nseqs\n", &k, AF_MALFORMED, "not in ascending order");
    expect_statement(" hangzhou/xihu\nseqs 1 3\n", " hangzhou/xihu\n", &k, AF_MALFORMED,
                     "not followed by its \"seqs\" line");
    expect_statement(" hangzhou/xihu\nseqs 1 3\n", " hangzhou/xihu\nseqs 1 4\n", &k,
                     AF_MALFORMED, "not followed by its \"seqs\" line"); /* 4 > its size 3 */
    expect_statement(" hangzhou/xihu\nseqs 1 3\n", " hangzhou/xihu\nseqs 1 3\nlater 2\nx\n", &k,
                     AF_MALFORMED, "text after the last line");
    expect_statement(" hangzhou/xihu\nseqs 1 3\n", " hangzhou/xihu\nseqs 1 3\nlater 0\n", &k,
                     AF_MALFORMED, "the last line is not \"later\"");
    /* a v1 statement with shard-log lines is malformed */
    expect_statement("libvault-bundle/v2\n", "libvault-bundle/v1\n", &k, AF_MALFORMED,
                     "line 7 is not");
    {
        /* v2 with no shard log; a v1 statement in a v2 bundle */
        o = v2_json();
        st = json_string_value(json_object_get(o, "statement"));
        t = strndup(st, (size_t)(strstr(st, "\nlog ") - st) + 1);
        assert_non_null(t);
        expect(resigned(json_deep_copy(o), t, &k), &k, AF_MALFORMED, 0, "names no shard log");
        t[strlen("libvault-bundle/v")] = '1';
        expect(resigned(o, t, &k), &k, AF_MODIFIED, 4, "another version");
        free(t);
    }
    {
        /* a log of which the statement lists nothing, with an object */
        json_t *lg;

        o = v2_json();
        t = statement_with(o, "\nlog 3 ", "\nlog 3 ");
        free(t);
        t = statement_with(o, " hangzhou/xihu\nseqs 1 3\n",
                           " hangzhou/xihu\nseqs 1 3\nlog 3 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
                           " hangzhou/zz\nseqs\n");
        resigned(o, t, &k);
        free(t);
        lg = json_deep_copy(json_array_get(json_object_get(o, "logs"), 0));
        json_object_set_new(lg, "log", json_string("hangzhou/zz"));
        json_object_set_new(lg, "root",
                            json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
        json_array_append_new(json_object_get(o, "logs"), lg);
        expect(json_deep_copy(o), &k, AF_MALFORMED, 0, "has no place in \"logs\"");
        /* without the object it holds */
        json_array_remove(json_object_get(o, "logs"), 1);
        t = dumps(o);
        assert_int_equal(verify(&r, t, &k, NULL, 0, 0), AF_OK);
        assert_non_null(strstr(r.message, "the 2 shard log trees it claims"));
        free(t);
        json_decref(o);
    }
    /* entries and logs edited */
    o = v2_json();
    json_object_set_new(json_array_get(entries(o), 1), "log", json_string("hangzhou/nowhere"));
    expect(o, &k, AF_MODIFIED, 1, "not in a shard log whose tree the bundle proves");
    o = v2_json();
    json_object_set_new(json_array_get(entries(o), 1), "log", json_string(""));
    expect(o, &k, AF_MALFORMED, 2, "is not {[log,] seq, entry, hashes}");
    o = v2_json();
    json_object_del(json_array_get(entries(o), 2), "log"); /* xihu's entry 3 said the city's */
    expect(o, &k, AF_REORDERED, 3, "reordered");
    o = v2_json();
    x = json_incref(json_array_get(entries(o), 0));
    json_array_remove(entries(o), 0);
    json_array_append_new(entries(o), x); /* the city entry after the shard log's */
    expect(o, &k, AF_REORDERED, 1, "reordered");
    o = v2_json();
    json_array_append(json_object_get(o, "logs"),
                      json_array_get(json_object_get(o, "logs"), 0));
    expect(o, &k, AF_MALFORMED, 0, "not in ascending order of name");
    o = v2_json();
    json_object_del(o, "logs");
    expect(o, &k, AF_MALFORMED, 0, "exactly the keys");
    o = v2_json();
    json_array_remove(entries(o), 2);
    expect(o, &k, AF_MISSING, 3, "log hangzhou/xihu: entry 3: missing");
    o = v2_json();
    x = json_object_get(json_array_get(json_object_get(o, "logs"), 0), "via");
    json_object_set_new(x, "seq", json_integer(2));
    expect(o, &k, AF_MODIFIED, 2, "is not that entry");
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    vault_secret s = tu_pass_secret(PASS);
    const char *fields[] = {"name", "phone"}, *values[] = {"张三", "13812345678"};
    const char *values2[] = {"李四", "13900000000"};
    size_t lens[] = {strlen(values[0]), 11}, lens2[] = {strlen(values2[0]), 11};
    vault_session *officer, *grid;
    vault_result *r = NULL;
    const char *phone = "phone";
    int i;

    assert_non_null(f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/b.vault", f->dir);
    assert_int_equal(vault_create(&f->v, f->path, POLICY, &s), 0);
    officer = tu_session(f->v, "li", "data_officer", "street_office", STREET, "resident_service");
    grid = tu_session(f->v, "wang", "grid_worker", "community_committee", GRID7,
                      "grid_management");
    assert_int_equal(vault_record_add(f->id, sizeof f->id, officer, GRID7, 2, fields, values, lens),
                     0);
    assert_int_equal(
        vault_record_add(f->id2, sizeof f->id2, officer, GRID7, 2, fields, values2, lens2), 0);
    vault_session_close(officer);
    for (i = 0; i < 6; i++) {
        assert_int_equal(vault_record_get(&r, grid, i % 3 ? f->id2 : f->id, &phone, 1), 0);
        vault_result_free(r);
        r = NULL;
    }
    vault_session_close(grid);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    vault_close(f->v);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

/* The entries of a record with seq <= size, by reading the whole log. */
typedef struct count_ctx {
    uint8_t rec[16];
    uint64_t size, n, last_seq;
    char last_action[32];
    int last_has_record;
} count_ctx;

static void count_fn(void *arg, const af_entry *e)
{
    count_ctx *c = arg;

    assert_non_null(e);
    if (e->seq <= c->size && e->has_record && memcmp(e->record_id, c->rec, 16) == 0)
        c->n++;
    c->last_seq = e->seq;
    snprintf(c->last_action, sizeof c->last_action, "%s", e->action);
    c->last_has_record = e->has_record && memcmp(e->record_id, c->rec, 16) == 0;
}

static sqlite3 *raw_db(fixture *f)
{
    return tu_raw_db(f->v, f->path);
}

static void test_vault_bundle(void **state)
{
    fixture *f = *state;
    char pub[256], *note = NULL, *json = NULL, *json2 = NULL;
    vault_audit_result r;
    count_ctx c;
    tu_visit t = {count_fn, &c};
    af_checkpoint cp;
    char name[256];
    uint8_t pk[32];

    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, f->v), 0);
    assert_int_equal(vault_audit_checkpoint(&note, f->v), 0);
    assert_int_equal(af_log_vkey_parse(name, pk, pub), 0);
    assert_int_equal(af_checkpoint_verify(&cp, note, strlen(note), name, pk), 0);
    if (vault_audit_bundle(&json, f->v, f->id) != 0)
        fail_msg("bundle: %s", vault_error_last());
    if (vault_audit_verify_bundle(&r, json, strlen(json), pub, NULL, 0, 0) != 0)
        fail_msg("verify: %s", vault_error_last());
    /* Exactly the record's entries in the checkpoint's tree. */
    memset(&c, 0, sizeof c);
    assert_int_equal(vault__id_parse(c.rec, f->id), 0);
    c.size = cp.size;
    assert_int_equal(TU_SNAP(f->v->db, store_audit_scan(f->v->db, 0, tu_visit_fn, &t)), 0);
    assert_true(c.n >= 3);
    assert_int_equal(r.entries, c.n);
    assert_int_equal(r.newest_size, cp.size);
    /* The bundle was logged, filed under the record, after the tree. */
    assert_string_equal(c.last_action, "audit_bundle");
    assert_true(c.last_has_record);
    assert_true(c.last_seq > cp.size);
    assert_null(strstr(json, "13812345678")); /* no field value */
    assert_null(strstr(json, "张三"));
    /* Another record's bundle does not verify as this one's: its
     * statement names the other record, and the two differ. */
    assert_int_equal(vault_audit_bundle(&json2, f->v, f->id2), 0);
    assert_int_equal(vault_audit_verify_bundle(&r, json2, strlen(json2), pub, NULL, 0, 0), 0);
    assert_true(strcmp(json, json2) != 0);
    free(json2);
    json2 = NULL;
    /* A bundle of another vault's key: bad signature. */
    {
        fixture g;
        vault_secret s = tu_pass_secret(PASS);
        char pub2[256];
        memset(&g, 0, sizeof g);
        g.dir = tu_tmpdir();
        snprintf(g.path, sizeof g.path, "%s/o.vault", g.dir);
        assert_int_equal(vault_create(&g.v, g.path, POLICY, &s), 0);
        assert_int_equal(vault_audit_pubkey(pub2, sizeof pub2, g.v), 0);
        assert_int_equal(vault_audit_verify_bundle(&r, json, strlen(json), pub2, NULL, 0, 0),
                         VAULT_EINTEGRITY);
        assert_int_equal(r.failure, VAULT_AUDIT_BAD_SIGNATURE);
        vault_close(g.v);
        tu_rmdir(g.dir);
    }
    /* Refusals: a bad id. */
    assert_int_equal(vault_audit_bundle(&json2, f->v, "xyz"), VAULT_EINVALID);
    assert_int_equal(vault_audit_bundle(NULL, f->v, f->id), VAULT_EINVALID);
    free(note);
    free(json);
}

/* The report index (its merged rows and the tail's filter column) made to
 * leave out one of the record's entries behind the vault's back: the scan
 * finds the entry the index left out, and no short bundle is made. */
static void test_trimmed_index(void **state)
{
    fixture *f = *state;
    char *note = NULL, *json = NULL, sql[256];
    sqlite3 *db;

    assert_int_equal(vault_audit_checkpoint(&note, f->v), 0);
    free(note);
    db = raw_db(f);
    snprintf(sql, sizeof sql,
             "DELETE FROM audit_by_record WHERE record_id = X'%s'; UPDATE audit SET record_id ="
             " NULL WHERE pos = (SELECT MIN(pos) FROM audit WHERE record_id = X'%s');",
             f->id, f->id);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK || sqlite3_changes(db) != 1)
        fail_msg("tamper: %s", sqlite3_errmsg(db));
    sqlite3_close(db);
    assert_int_equal(vault_audit_bundle(&json, f->v, f->id), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "the report index does not list it"));
    assert_null(json);
}

/* An entry changed behind the vault's back: no bundle over it. */
static void test_tampered_entry(void **state)
{
    fixture *f = *state;
    char *note = NULL, *json = NULL;
    sqlite3 *db;

    assert_int_equal(vault_audit_checkpoint(&note, f->v), 0);
    free(note);
    db = raw_db(f);
    if (sqlite3_exec(db,
                     "UPDATE audit SET entry = substr(entry, 1, length(entry) - 1) || "
                     "X'21' WHERE pos = 4;",
                     NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("tamper: %s", sqlite3_errmsg(db));
    sqlite3_close(db);
    assert_int_equal(vault_audit_bundle(&json, f->v, f->id), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "entry 4"));
    assert_null(json);
}

/* The newest checkpoint rows deleted (the database key suffices): no
 * bundle about the older tree that is left. */
static void test_deleted_checkpoints(void **state)
{
    fixture *f = *state;
    char *note = NULL, *json = NULL;
    sqlite3 *db;

    assert_int_equal(vault_audit_checkpoint(&note, f->v), 0);
    free(note);
    assert_int_equal(vault_audit_checkpoint(&note, f->v), 0);
    free(note);
    db = raw_db(f);
    if (sqlite3_exec(db, "DELETE FROM checkpoints WHERE size = (SELECT MAX(size) FROM checkpoints);",
                     NULL, NULL, NULL) != SQLITE_OK || sqlite3_changes(db) != 1)
        fail_msg("tamper: %s", sqlite3_errmsg(db));
    sqlite3_close(db);
    assert_int_equal(vault_audit_bundle(&json, f->v, f->id), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "checkpoints were deleted"));
    assert_null(json);
}

/* ---- with the policy's witnesses -------------------------------------------- */

#define NW 2
typedef struct wfix {
    fixture f;
    char vkey[NW][AF_VKEY_MAX];
    char name[NW][64];
    uint8_t sk[NW][64];
} wfix;

/* The fixture's vault under a policy that pins two witnesses (no URLs:
 * nothing is submitted by itself), quorum unset: both are required. */
static int setup_witnessed(void **state)
{
    wfix *w = calloc(1, sizeof *w);
    char path[600], *text;
    size_t len, at;
    uint8_t seed[32], pk[32];
    fixture *f;

    assert_non_null(w);
    assert_int_equal(setup(state), 0);
    f = *state;
    w->f = *f;
    free(f);
    text = slurp(POLICY, &len);
    text = realloc(text, len + 2 * 512);
    assert_non_null(text);
    at = len;
    at += (size_t)snprintf(text + at, 64, "\nwitnesses:\n");
    for (int i = 0; i < NW; i++) {
        memset(seed, 0x51 + i, sizeof seed);
        assert_int_equal(crypto_sign_seed_keypair(pk, w->sk[i], seed), 0);
        snprintf(w->name[i], sizeof w->name[i], "witness.test/q%d", i + 1);
        assert_int_equal(af_vkey_format(w->vkey[i], sizeof w->vkey[i], w->name[i],
                                        AF_SIGTYPE_COSIGN_V1, pk), 0);
        at += (size_t)snprintf(text + at, 400, "  - key: %s\n", w->vkey[i]);
    }
    snprintf(path, sizeof path, "%s/witnessed.yaml", w->f.dir);
    tu_write_file(path, text, at);
    free(text);
    {
        char *report = NULL;
        if (vault_policy_apply(&report, w->f.v, path) != 0)
            fail_msg("policy apply: %s", vault_error_last());
        vault_free(report);
    }
    *state = w;
    return 0;
}

static int teardown_witnessed(void **state)
{
    wfix *w = *state;
    fixture *f = malloc(sizeof *f);

    assert_non_null(f);
    *f = w->f;
    free(w);
    *state = f;
    return teardown(state);
}

typedef struct note_at {
    uint64_t size;
    char *note;
} note_at;

static int note_at_fn(void *arg, uint64_t size, const char *note, size_t len)
{
    note_at *n = arg;

    if (size == n->size)
        n->note = strndup(note, len);
    return 0;
}

/* Witness i's cosignature appended to the stored checkpoint of `size`
 * through the store (the row MAC'd anew, as audit_witness.c stores it);
 * `flip`: one byte of its signature changed first. */
static void cosign_stored(wfix *w, uint64_t size, int i, int flip)
{
    note_at n = {size, NULL};
    char *line = NULL, *grown;
    size_t len, ll;
    store *db = w->f.v->db;

    assert_int_equal(TU_SNAP(db, store_checkpoint_scan(db, note_at_fn, &n)), 0);
    assert_non_null(n.note);
    len = strlen(n.note);
    assert_int_equal(af_cosign(&line, n.note, len, w->name[i], w->sk[i], 1800000000), 0);
    ll = strlen(line);
    if (flip)
        line[ll - 10] = line[ll - 10] == 'A' ? 'B' : 'A';
    grown = realloc(n.note, len + ll + 1);
    assert_non_null(grown);
    memcpy(grown + len, line, ll + 1);
    assert_int_equal(store_begin(db, STORE_TX_WRITE), 0);
    assert_int_equal(store_checkpoint_add(db, size, grown, vault__now()), 0);
    assert_int_equal(store_commit(db), 0);
    free(line);
    free(grown);
}

static uint64_t checkpoint_size(vault *v)
{
    char *note = NULL;
    uint64_t size;

    assert_int_equal(vault_audit_checkpoint(&note, v), 0);
    size = strtoull(strchr(note, '\n') + 1, NULL, 10);
    free(note);
    return size;
}

/* How many audit_bundle entries the log holds. */
typedef struct action_count {
    const char *action;
    size_t n;
} action_count;

static void action_fn(void *arg, const af_entry *e)
{
    action_count *a = arg;

    if (strcmp(e->action, a->action) == 0)
        a->n++;
}

static size_t bundles_logged(vault *v)
{
    action_count a = {"audit_bundle", 0};
    tu_visit t = {action_fn, &a};

    assert_int_equal(TU_SNAP(v->db, store_audit_scan(v->db, 0, tu_visit_fn, &t)), 0);
    return a.n;
}

static void test_witnessed_bundle(void **state)
{
    wfix *w = *state;
    vault *v = w->f.v;
    char pub[256], *json = NULL;
    const char *keys[NW] = {w->vkey[0], w->vkey[1]};
    vault_audit_result r;
    uint64_t s1, s2;
    size_t before;
    json_t *o;

    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, v), 0);
    /* Checkpoints cosigned by one of the two: refused, and logged. */
    s1 = checkpoint_size(v);
    cosign_stored(w, s1, 0, 0);
    before = bundles_logged(v);
    assert_int_equal(vault_audit_bundle(&json, v, w->f.id), VAULT_ENOTFOUND);
    assert_null(json);
    assert_string_equal(vault_error_last(), "no checkpoint is cosigned by 2 of the policy's "
                        "witnesses yet (the best has 1); submit one (audit witness)");
    assert_int_equal(bundles_logged(v), before + 1);
    /* Witness 2's line with one byte changed does not count either. */
    cosign_stored(w, s1, 1, 1);
    assert_int_equal(vault_audit_bundle(&json, v, w->f.id), VAULT_ENOTFOUND);
    assert_non_null(strstr(vault_error_last(), "(the best has 1)"));
    /* Both at s1, a later checkpoint s2 unwitnessed: the bundle proves into s1. */
    cosign_stored(w, s1, 1, 0);
    {
        vault_session *grid = tu_session(v, "wang", "grid_worker", "community_committee", GRID7,
                                         "grid_management");
        vault_result *res = NULL;
        const char *phone = "phone";
        assert_int_equal(vault_record_get(&res, grid, w->f.id, &phone, 1), 0);
        vault_result_free(res);
        vault_session_close(grid);
    }
    s2 = checkpoint_size(v);
    assert_true(s2 > s1);
    if (vault_audit_bundle(&json, v, w->f.id) != 0)
        fail_msg("bundle: %s", vault_error_last());
    if (vault_audit_verify_bundle(&r, json, strlen(json), pub, keys, NW, 0) != 0)
        fail_msg("verify: %s", vault_error_last());
    assert_int_equal(r.newest_size, s1);
    /* The record's entries after s1 (the refused bundles, the get, this
     * bundle's own entry) are counted in the signed statement. */
    o = json_loads(json, 0, NULL);
    assert_non_null(o);
    assert_non_null(strstr(json_string_value(json_object_get(o, "statement")), "\nlater 4\n"));
    json_decref(o);
    assert_non_null(strstr(r.message, "; 4 later entries of it not in this tree; witnessed"));
    free(json);
    json = NULL;
    /* A cosignature line altered in the file behind the vault's back: the
     * row's MAC no longer holds (bad signature), no bundle. */
    {
        sqlite3 *db = raw_db(&w->f);
        char sql[200];
        snprintf(sql, sizeof sql, "UPDATE checkpoints SET note = replace(note, '%s', "
                 "'witness.test/qX') WHERE size = %llu;", w->name[1], (unsigned long long)s1);
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK || sqlite3_changes(db) != 1)
            fail_msg("tamper: %s", sqlite3_errmsg(db));
        sqlite3_close(db);
    }
    assert_int_equal(vault_audit_bundle(&json, v, w->f.id), VAULT_EINTEGRITY);
    assert_null(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_every_shape),
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_shard_logs_v2),
        cmocka_unit_test_setup_teardown(test_vault_bundle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trimmed_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_checkpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_witnessed_bundle, setup_witnessed,
                                        teardown_witnessed),
    };

    assert_int_equal(vault_init(), 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* audit_proof: RFC 6962 inclusion and consistency proofs.  The one-pass
 * prover against the verifiers for every tree up to 40 leaves, against
 * the independent vectors (tests/vectors/gen_proof_vectors.py), the JSON
 * form and the offline check with the vectors' signed notes; proofs made
 * from a vault's log, their refusals and a tampered entry. */
#include "testlog.h"

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "rawdb.h"

#include "audit/audit.h"
#include "audit/audit_proof.h"
#include "crypto.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"
#define PASS "proof test passphrase"

static void fixed_leaf(uint8_t out[32], uint64_t i)
{
    char text[64];

    snprintf(text, sizeof text, "proof vector leaf %llu", (unsigned long long)i);
    af_leaf_hash(out, (const uint8_t *)text, strlen(text));
}

/* Feed leaves 0 .. size-1 of `leaves` into p. */
static void feed(af_prover *p, const uint8_t (*leaves)[32], uint64_t size)
{
    uint64_t i;

    for (i = 0; i < size; i++)
        assert_int_equal(af_prover_push(p, leaves[i]), i + 1 == size);
    assert_true(af_prover_done(p));
}

/* ---- the prover against the verifiers --------------------------------- */

#define SHAPES 40

static void test_every_shape(void **state)
{
    uint8_t leaves[SHAPES][32], root[SHAPES + 1][32];
    af_merkle m;
    af_prover p;
    uint64_t n, k;

    (void)state;
    af_merkle_init(&m);
    af_merkle_root(&m, root[0]);
    for (n = 0; n < SHAPES; n++) {
        fixed_leaf(leaves[n], n);
        af_merkle_push(&m, leaves[n]);
        af_merkle_root(&m, root[n + 1]);
    }
    for (n = 1; n <= SHAPES; n++)
        for (k = 0; k < n; k++) {
            assert_int_equal(af_prover_inclusion(&p, k, n), 0);
            feed(&p, (const uint8_t(*)[32])leaves, n);
            assert_memory_equal(p.root, root[n], 32);
            assert_memory_equal(p.leaf, leaves[k], 32);
            assert_int_equal(af_inclusion_verify(k, n, p.leaf, (const uint8_t(*)[32])p.hashes,
                                                 p.n, p.root), 0);
            if (p.n) { /* one changed hash */
                p.hashes[p.n / 2][k % 32] ^= 0x01;
                assert_int_equal(af_inclusion_verify(k, n, p.leaf,
                                                     (const uint8_t(*)[32])p.hashes, p.n, p.root),
                                 VAULT_EINTEGRITY);
            }
        }
    for (n = 0; n <= SHAPES; n++)
        for (k = 0; k <= n; k++) {
            assert_int_equal(af_prover_consistency(&p, k, n), 0);
            if (n)
                feed(&p, (const uint8_t(*)[32])leaves, n);
            assert_true(af_prover_done(&p));
            assert_memory_equal(p.root, root[n], 32);
            assert_memory_equal(p.from_root, root[k], 32);
            assert_int_equal(af_consistency_verify(k, n, p.from_root, p.root,
                                                   (const uint8_t(*)[32])p.hashes, p.n), 0);
            if (p.n) {
                p.hashes[0][n % 32] ^= 0x80;
                assert_int_equal(af_consistency_verify(k, n, p.from_root, p.root,
                                                       (const uint8_t(*)[32])p.hashes, p.n),
                                 VAULT_EINTEGRITY);
            }
        }
    /* shapes that are no proof */
    assert_int_equal(af_prover_inclusion(&p, 0, 0), VAULT_EINVALID);
    assert_int_equal(af_prover_inclusion(&p, 5, 5), VAULT_EINVALID);
    assert_int_equal(af_prover_consistency(&p, 6, 5), VAULT_EINVALID);
}

/* A proof planned for leaf k and resumed there from the tree of the
 * first k leaves (af_prover_resume: one pass that meets the leaf first)
 * is the proof made from leaf 0. */
static void test_resume(void **state)
{
    uint8_t leaves[SHAPES][32];
    af_merkle first;
    af_prover p, q;
    uint64_t n, k, i;

    (void)state;
    for (n = 0; n < SHAPES; n++)
        fixed_leaf(leaves[n], n);
    for (n = 1; n <= SHAPES; n++)
        for (k = 0; k < n; k++) {
            assert_int_equal(af_prover_inclusion(&p, k, n), 0);
            feed(&p, (const uint8_t(*)[32])leaves, n);
            af_merkle_init(&first);
            for (i = 0; i < k; i++)
                af_merkle_push(&first, leaves[i]);
            assert_int_equal(af_prover_inclusion(&q, k, n), 0);
            assert_int_equal(af_prover_resume(&q, &first), 0);
            for (i = k; i < n; i++)
                assert_int_equal(af_prover_push(&q, leaves[i]), i + 1 == n);
            assert_int_equal(q.n, p.n);
            assert_memory_equal(q.hashes, p.hashes, p.n * 32);
            assert_memory_equal(q.root, p.root, 32);
            assert_memory_equal(q.leaf, p.leaf, 32);
        }
    /* resumed anywhere but at its leaf, or after leaves were taken */
    af_merkle_init(&first);
    for (i = 0; i < 5; i++)
        af_merkle_push(&first, leaves[i]);
    assert_int_equal(af_prover_inclusion(&q, 6, 20), 0);
    assert_int_equal(af_prover_resume(&q, &first), VAULT_EINVALID);
    assert_int_equal(af_prover_inclusion(&q, 4, 20), 0);
    assert_int_equal(af_prover_resume(&q, &first), VAULT_EINVALID);
    assert_int_equal(af_prover_inclusion(&q, 5, 20), 0);
    assert_int_equal(af_prover_push(&q, leaves[0]), 0);
    assert_int_equal(af_prover_resume(&q, &first), VAULT_EINVALID);
    assert_int_equal(af_prover_consistency(&q, 5, 20), 0);
    assert_int_equal(af_prover_resume(&q, &first), VAULT_EINVALID);
}

/* ---- the independent vectors ------------------------------------------- */

typedef struct vec_tree {
    char name[16];
    uint8_t leaves[64][32];
    size_t nleaves;
    uint8_t roots[65][32];
    size_t nroots, inclusions, consistencies;
} vec_tree;

static void unhex32(uint8_t out[32], const char *hex)
{
    size_t n = 0;

    assert_int_equal(vc_hex2bin(out, 32, &n, hex, 64), 0);
    assert_int_equal(n, 32);
}

/* "-" or comma-separated hex: the expected hashes. */
static size_t parse_hashes(uint8_t (*out)[32], const char *list)
{
    size_t n = 0;

    if (strcmp(list, "-") == 0)
        return 0;
    for (;;) {
        assert_true(n < VAULT_PROOF_HASHES_MAX);
        unhex32(out[n++], list);
        if (list[64] != ',') {
            assert_int_equal(list[64], '\0');
            return n;
        }
        list += 65;
    }
}

static void check_vector_line(vec_tree *t, char *line)
{
    char word[16], list[8192];
    unsigned long long a, b;
    uint8_t want[VAULT_PROOF_HASHES_MAX][32], h[32];
    size_t nwant;
    af_prover p;

    if (sscanf(line, "tree %15s", word) == 1) {
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", word);
    } else if (sscanf(line, "leaf %llu %8191s", &a, list) == 2) {
        assert_int_equal(a, t->nleaves + 1);
        unhex32(t->leaves[t->nleaves++], list);
    } else if (sscanf(line, "root %llu %8191s", &a, list) == 2) {
        assert_int_equal(a, t->nroots);
        unhex32(t->roots[t->nroots++], list);
    } else if (sscanf(line, "inclusion %llu %llu %8191s", &a, &b, list) == 3) {
        nwant = parse_hashes(want, list);
        assert_int_equal(af_prover_inclusion(&p, a - 1, b), 0);
        feed(&p, (const uint8_t(*)[32])t->leaves, b);
        assert_int_equal(p.n, nwant);
        assert_memory_equal(p.hashes, want, nwant * 32);
        assert_memory_equal(p.root, t->roots[b], 32);
        assert_int_equal(af_inclusion_verify(a - 1, b, t->leaves[a - 1],
                                             (const uint8_t(*)[32])want, nwant, t->roots[b]), 0);
        t->inclusions++;
    } else if (sscanf(line, "consistency %llu %llu %8191s", &a, &b, list) == 3) {
        nwant = parse_hashes(want, list);
        assert_int_equal(af_prover_consistency(&p, a, b), 0);
        if (b)
            feed(&p, (const uint8_t(*)[32])t->leaves, b);
        assert_int_equal(p.n, nwant);
        assert_memory_equal(p.hashes, want, nwant * 32);
        assert_memory_equal(p.from_root, t->roots[a], 32);
        assert_int_equal(af_consistency_verify(a, b, t->roots[a], t->roots[b],
                                               (const uint8_t(*)[32])want, nwant), 0);
        t->consistencies++;
    } else {
        fail_msg("proofs.txt: unknown line %.40s", line);
    }
    if (strcmp(t->name, "fixed") == 0 && strncmp(line, "leaf", 4) == 0) {
        fixed_leaf(h, t->nleaves - 1); /* the leaves are what the header says */
        assert_memory_equal(h, t->leaves[t->nleaves - 1], 32);
    }
}

static void test_vectors(void **state)
{
    char path[1024], *line = NULL;
    size_t cap = 0, inclusions = 0, consistencies = 0;
    ssize_t len;
    FILE *f;
    vec_tree *t = calloc(1, sizeof *t);

    (void)state;
    assert_non_null(t);
    snprintf(path, sizeof path, "%s/tests/vectors/proofs.txt", VAULT_SOURCE_DIR);
    f = fopen(path, "r");
    assert_non_null(f);
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        if (strncmp(line, "tree ", 5) == 0) {
            inclusions += t->inclusions, consistencies += t->consistencies;
        }
        check_vector_line(t, line);
    }
    inclusions += t->inclusions, consistencies += t->consistencies;
    fclose(f);
    free(line);
    free(t);
    /* 1+...+20 and 1+...+21 for the fixed leaves, 10 and 5 for the log */
    assert_int_equal(inclusions, 210 + 10);
    assert_int_equal(consistencies, 231 + 5);
}

/* ---- JSON and the offline check --------------------------------------- */

static char *vector_text(const char *name)
{
    char path[1024];
    size_t len = 0;
    char *t;

    snprintf(path, sizeof path, "%s/tests/vectors/%s", VAULT_SOURCE_DIR, name);
    t = (char *)tu_read_file(path, &len);
    assert_non_null(t);
    t = realloc(t, len + 1);
    assert_non_null(t);
    t[len] = '\0';
    return t;
}

/* The vectors' verifier key text, from audit.txt's origin and public key. */
static void vector_vkey(char out[256])
{
    uint8_t pk[32], keyid[4], typed[33];
    char b64[64];

    unhex32(pk, "dde3bccec7f3a66a1115f45d720f4dc135c3ae7c4e22dca38fdb1efd6a495ff8");
    af_note_keyid(keyid, "libvault.test/vectors", pk);
    typed[0] = 0x01;
    memcpy(typed + 1, pk, 32);
    assert_int_equal(vc_bin2b64(b64, sizeof b64, typed, 33), 0);
    snprintf(out, 256, "libvault.test/vectors+%02x%02x%02x%02x+%s", keyid[0], keyid[1], keyid[2],
             keyid[3], b64);
}

static void test_json_vectors(void **state)
{
    char vkey[256], *inc = vector_text("proof_v2.json"), *con = vector_text("consistency_v2.json");
    char *n7 = vector_text("checkpoint.txt"), *n10 = vector_text("checkpoint_v2.txt"), *out = NULL;
    const char *notes[2];
    vault_proof p, q;

    char *pubfile = vector_text("vectors.pub");

    (void)state;
    vector_vkey(vkey);
    /* the key file the generator wrote is the same verifier text */
    assert_int_equal(strlen(pubfile), strlen(vkey) + 1);
    assert_memory_equal(pubfile, vkey, strlen(vkey));
    free(pubfile);
    /* inclusion: parses, prints back byte for byte, checks */
    assert_int_equal(vault_proof_parse(&p, inc, strlen(inc)), 0);
    assert_int_equal(p.kind, VAULT_PROOF_INCLUSION);
    assert_int_equal(p.seq, 3);
    assert_int_equal(p.size, 10);
    assert_int_equal(vault_proof_json(&out, &p), 0);
    assert_int_equal(strlen(out) + 1, strlen(inc));
    assert_memory_equal(out, inc, strlen(out));
    vault_free(out);
    assert_int_equal(vault_proof_check(&p, vkey, NULL, 0), 0);
    notes[0] = n10;
    assert_int_equal(vault_proof_check(&p, vkey, notes, 1), 0);
    /* one hash changed, the leaf changed, another entry's number */
    q = p;
    q.hashes[1][7] ^= 0x10;
    assert_int_equal(vault_proof_check(&q, vkey, NULL, 0), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "proof"));
    q = p;
    q.leaf[0] ^= 0x01;
    assert_int_equal(vault_proof_check(&q, vkey, NULL, 0), VAULT_EINTEGRITY);
    q = p;
    q.seq = 4;
    assert_int_equal(vault_proof_check(&q, vkey, NULL, 0), VAULT_EINTEGRITY);
    q = p;
    q.nhashes--;
    assert_int_equal(vault_proof_check(&q, vkey, NULL, 0), VAULT_EINVALID);
    /* a proof whose root no signed note vouches for */
    q = p;
    q.checkpoint = NULL;
    assert_int_equal(vault_proof_check(&q, vkey, NULL, 0), VAULT_ENOTFOUND);
    assert_int_equal(vault_proof_check(&q, vkey, notes, 1), 0);
    notes[0] = n7; /* a note of another size */
    assert_int_equal(vault_proof_check(&q, vkey, notes, 1), VAULT_EINVALID);
    /* a forged root that its hashes lead to is still not the signed one */
    q = p;
    q.hashes[0][0] ^= 1;
    q.checkpoint = NULL;
    {
        af_prover pr;
        uint8_t leaves[10][32];
        size_t i;
        /* rebuild a consistent proof over other leaves */
        for (i = 0; i < 10; i++)
            fixed_leaf(leaves[i], i);
        assert_int_equal(af_prover_inclusion(&pr, 2, 10), 0);
        feed(&pr, (const uint8_t(*)[32])leaves, 10);
        af_prover_result(&q, &pr);
    }
    notes[0] = n10;
    assert_int_equal(vault_proof_check(&q, vkey, notes, 1), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "root"));
    /* the right proof with a note of another key */
    vkey[strlen(vkey) - 3] = vkey[strlen(vkey) - 3] == 'A' ? 'B' : 'A';
    assert_int_not_equal(vault_proof_check(&p, vkey, NULL, 0), 0);
    vector_vkey(vkey);
    vault_proof_clear(&p);

    /* consistency 7 -> 10 with both notes */
    assert_int_equal(vault_proof_parse(&p, con, strlen(con)), 0);
    assert_int_equal(p.kind, VAULT_PROOF_CONSISTENCY);
    assert_int_equal(vault_proof_json(&out, &p), 0);
    assert_memory_equal(out, con, strlen(out));
    vault_free(out);
    assert_int_equal(vault_proof_check(&p, vkey, NULL, 0), 0);
    q = p;
    q.hashes[2][31] ^= 0x04;
    assert_int_equal(vault_proof_check(&q, vkey, NULL, 0), VAULT_EINTEGRITY);
    q = p;
    q.from_checkpoint = NULL;
    assert_int_equal(vault_proof_check(&q, vkey, NULL, 0), VAULT_ENOTFOUND);
    notes[0] = n7;
    notes[1] = n10;
    assert_int_equal(vault_proof_check(&q, vkey, notes, 2), 0);
    q = p;
    q.from_checkpoint = p.checkpoint; /* the size-10 note as the from note */
    assert_int_equal(vault_proof_check(&q, vkey, NULL, 0), VAULT_EINTEGRITY);
    vault_proof_clear(&p);
    vault_proof_clear(NULL);

    free(inc);
    free(con);
    free(n7);
    free(n10);
}

static void parse_fails(const char *json, const char *needle)
{
    vault_proof p;

    assert_int_equal(vault_proof_parse(&p, json, strlen(json)), VAULT_EINVALID);
    if (!strstr(vault_error_last(), needle))
        fail_msg("%s: error '%s' does not name '%s'", json, vault_error_last(), needle);
    assert_null(p.checkpoint);
}

/* An inclusion proof of one leaf with `log` (the key and its comma, or
 * "") before it and, when via is not NULL, a "via" object (ROOT in it
 * stands for a valid base64 root) must fail to parse, saying want. */
static void shard_fails(const char *log, const char *via, const char *want)
{
    static const char root[] = "\"Xvw29NmAjARJkkRsPCHxeWbD2ZwsnSKSCcbJF6KGxZk=\"";
    char j[1024], v[512] = "";
    const char *at;

    if (via) {
        at = strstr(via, "ROOT");
        if (at)
            snprintf(v, sizeof v, ",\"via\":%.*s%s%s", (int)(at - via), via, root, at + 4);
        else
            snprintf(v, sizeof v, ",\"via\":%s", via);
    }
    snprintf(j, sizeof j, "{%s\"seq\":1,\"size\":1,\"leaf\":%s,\"hashes\":[],\"root\":%s%s,"
             "\"checkpoint\":null}", log, root, root, v);
    parse_fails(j, want);
}

static void test_parse_refusals(void **state)
{
    static const char root[] = "\"Xvw29NmAjARJkkRsPCHxeWbD2ZwsnSKSCcbJF6KGxZk=\"";
    char j[1024];

    (void)state;
    parse_fails("[]", "not a JSON object");
    parse_fails("{\"seq\":1", "not a JSON object");
    parse_fails("{}", "\"seq\"");
    snprintf(j, sizeof j, "{\"seq\":1,\"from\":0,\"size\":1,\"leaf\":%s,\"hashes\":[],\"root\":%s,"
             "\"checkpoint\":null}", root, root);
    parse_fails(j, "not both");
    snprintf(j, sizeof j, "{\"seq\":1,\"size\":1,\"leaf\":%s,\"hashes\":[],\"root\":%s,"
             "\"checkpoint\":null,\"extra\":1}", root, root);
    parse_fails(j, "unknown key");
    snprintf(j, sizeof j, "{\"seq\":1,\"size\":1,\"leaf\":%s,\"hashes\":[],\"root\":%s}", root,
             root);
    parse_fails(j, "missing \"checkpoint\"");
    /* a shard log's entry: log and via together, via exactly its keys */
    shard_fails("\"log\":\"hangzhou/xihu\",", NULL, "go together");
    shard_fails("", "{}", "go together");
    shard_fails("\"log\":\"\",", "{}", "not a shard log's name");
    shard_fails("\"log\":\"x\",", "{\"seq\":1,\"entry\":\"AAAA\",\"size\":1,\"hashes\":[],"
                "\"root\":ROOT,\"more\":1}", "unknown key in \"via\"");
    shard_fails("\"log\":\"x\",", "{\"seq\":1,\"entry\":\"AAA\",\"size\":1,\"hashes\":[],"
                "\"root\":ROOT}", "\"via.entry\" is not base64");
    shard_fails("\"log\":\"x\",", "{\"seq\":1,\"entry\":\"AAAA\",\"size\":1,\"hashes\":[7],"
                "\"root\":ROOT}", "\"via.hashes[0]\"");
    shard_fails("\"log\":\"x\",", "{\"seq\":1,\"entry\":\"AAAA\",\"size\":1,\"hashes\":[]}",
                "missing \"via.root\"");
    snprintf(j, sizeof j, "{\"seq\":1,\"size\":1,\"leaf\":\"AAAA\",\"hashes\":[],\"root\":%s,"
             "\"checkpoint\":null}", root);
    parse_fails(j, "\"leaf\" is not base64 of 32 bytes");
    snprintf(j, sizeof j, "{\"seq\":-1,\"size\":1,\"leaf\":%s,\"hashes\":[],\"root\":%s,"
             "\"checkpoint\":null}", root, root);
    parse_fails(j, "\"seq\"");
    snprintf(j, sizeof j, "{\"seq\":1,\"size\":1,\"leaf\":%s,\"hashes\":[%s,7],\"root\":%s,"
             "\"checkpoint\":null}", root, root, root);
    parse_fails(j, "hashes[1]");
    snprintf(j, sizeof j, "{\"seq\":1,\"size\":1,\"leaf\":%s,\"hashes\":[],\"root\":%s,"
             "\"checkpoint\":5}", root, root);
    parse_fails(j, "\"checkpoint\"");
    snprintf(j, sizeof j, "{\"seq\":1,\"seq\":2,\"size\":1,\"leaf\":%s,\"hashes\":[],\"root\":%s,"
             "\"checkpoint\":null}", root, root);
    parse_fails(j, "not a JSON object"); /* duplicate keys */
}

/* ---- proofs from a vault's log ----------------------------------------- */

typedef struct fixture {
    char *dir;
    char path[512];
    vault *v;
    vault_session *grid;
    char id[VAULT_ID_HEX_SIZE];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    vault_secret s = tu_pass_secret(PASS);
    const char *fields[] = {"name", "phone"}, *values[] = {"张三", "13812345678"};
    size_t lens[] = {strlen(values[0]), 11};
    vault_session *officer;
    vault_result *r = NULL;
    const char *phone = "phone";
    int i;

    assert_non_null(f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/p.vault", f->dir);
    assert_int_equal(vault_create(&f->v, f->path, POLICY, &s), 0);
    officer = tu_session(f->v, "li", "data_officer", "street_office", STREET, "resident_service");
    f->grid = tu_session(f->v, "wang", "grid_worker", "community_committee", GRID7,
                         "grid_management");
    assert_int_equal(vault_record_add(f->id, sizeof f->id, officer, GRID7, 2, fields, values, lens),
                     0);
    vault_session_close(officer);
    for (i = 0; i < 9; i++) { /* entries 3 ... 11 */
        assert_int_equal(vault_record_get(&r, f->grid, f->id, &phone, 1), 0);
        vault_result_free(r);
        r = NULL;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    vault_session_close(f->grid);
    vault_close(f->v);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

typedef struct last_entry {
    char action[32], detail[256];
    int outcome;
    uint64_t n;
} last_entry;

static void last_fn(void *arg, const af_entry *e)
{
    last_entry *l = arg;

    assert_non_null(e);
    snprintf(l->action, sizeof l->action, "%s", e->action);
    snprintf(l->detail, sizeof l->detail, "%s", e->detail);
    l->outcome = e->outcome;
    l->n++;
}

static void last(last_entry *l, fixture *f)
{
    tu_visit t = {last_fn, l};

    memset(l, 0, sizeof *l);
    assert_int_equal(TU_SNAP(f->v->db, store_audit_scan(f->v->db, 0, tu_visit_fn, &t)), 0);
}

static void test_vault_proofs(void **state)
{
    fixture *f = *state;
    char pub[256], *note = NULL, *json = NULL;
    vault_proof p, r;
    last_entry l;
    uint64_t seq, size, from;
    const char *notes[1];

    /* no checkpoint covers the log yet: size 0 has nothing to name */
    assert_int_equal(vault_audit_prove(&p, f->v, 1, 0), VAULT_ENOTFOUND);
    assert_non_null(strstr(vault_error_last(), "checkpoint"));
    assert_int_equal(vault_audit_checkpoint(&note, f->v), 0);
    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, f->v), 0);
    last(&l, f);
    size = l.n - 1; /* the checkpoint covers its own entry; pubkey came after */
    /* size 0: the newest checkpoint, with its note */
    assert_int_equal(vault_audit_prove(&p, f->v, 3, 0), 0);
    assert_int_equal(p.size, size);
    assert_non_null(p.checkpoint);
    assert_string_equal(p.checkpoint, note);
    assert_int_equal(vault_proof_check(&p, pub, NULL, 0), 0);
    notes[0] = note;
    assert_int_equal(vault_proof_check(&p, pub, notes, 1), 0);
    last(&l, f);
    assert_string_equal(l.action, "audit_prove");
    assert_int_equal(l.outcome, AF_OUTCOME_OK);
    assert_non_null(strstr(l.detail, "entry 3 in the tree of size"));
    /* the JSON round trip, as vaultd and the CLI carry it */
    assert_int_equal(vault_proof_json(&json, &p), 0);
    assert_int_equal(vault_proof_parse(&r, json, strlen(json)), 0);
    assert_int_equal(vault_proof_check(&r, pub, NULL, 0), 0);
    assert_memory_equal(r.hashes, p.hashes, p.nhashes * 32);
    vault_proof_clear(&r);
    vault_free(json);
    vault_proof_clear(&p);
    /* every entry of the checkpoint's tree, and the proofs verify */
    for (seq = 1; seq <= size; seq++) {
        assert_int_equal(vault_audit_prove(&p, f->v, seq, size), 0);
        assert_int_equal(af_inclusion_verify(seq - 1, size, p.leaf,
                                             (const uint8_t(*)[32])p.hashes, p.nhashes, p.root),
                         0);
        assert_int_equal(vault_proof_check(&p, pub, NULL, 0), 0);
        vault_proof_clear(&p);
    }
    /* a size with no checkpoint: a proof without a note, checked only with one */
    assert_int_equal(vault_audit_prove(&p, f->v, 2, 5), 0);
    assert_null(p.checkpoint);
    assert_int_equal(vault_proof_check(&p, pub, NULL, 0), VAULT_ENOTFOUND);
    vault_proof_clear(&p);
    /* consistency from every size to the checkpoint */
    for (from = 0; from <= size; from++) {
        assert_int_equal(vault_audit_consistency(&p, f->v, from, 0), 0);
        assert_int_equal(p.size, size);
        assert_int_equal(p.from, from);
        assert_int_equal(af_consistency_verify(from, size, p.from_root, p.root,
                                               (const uint8_t(*)[32])p.hashes, p.nhashes), 0);
        vault_proof_clear(&p);
    }
    /* two checkpoints: the consistency proof between them checks offline */
    free(note);
    assert_int_equal(vault_audit_checkpoint(&note, f->v), 0);
    assert_int_equal(vault_audit_consistency(&p, f->v, size, 0), 0);
    assert_non_null(p.from_checkpoint);
    assert_non_null(p.checkpoint);
    assert_string_equal(p.checkpoint, note);
    assert_int_equal(vault_proof_check(&p, pub, NULL, 0), 0);
    last(&l, f);
    assert_string_equal(l.action, "audit_consistency");
    assert_int_equal(l.outcome, AF_OUTCOME_OK);
    vault_proof_clear(&p);
    free(note);
}

static void refused(fixture *f, int rc, const char *action)
{
    last_entry l;

    assert_true(rc < 0);
    last(&l, f);
    assert_string_equal(l.action, action);
    assert_int_equal(l.outcome, AF_OUTCOME_ERROR);
    assert_non_null(strstr(l.detail, "refused: "));
}

static void test_vault_refusals(void **state)
{
    fixture *f = *state;
    vault_proof p;
    int64_t count = 0;

    assert_int_equal(TU_SNAP(f->v->db, store_audit_count(&count, f->v->db)), 0);
    assert_int_equal(vault_audit_prove(&p, f->v, 0, 5), VAULT_EINVALID);
    refused(f, VAULT_EINVALID, "audit_prove");
    assert_int_equal(vault_audit_prove(&p, f->v, 6, 5), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "entry 6 is not in the tree of size 5"));
    refused(f, VAULT_EINVALID, "audit_prove");
    count += 2;
    assert_int_equal(vault_audit_prove(&p, f->v, 1, (uint64_t)count + 1), VAULT_ENOTFOUND);
    refused(f, VAULT_ENOTFOUND, "audit_prove");
    assert_int_equal(vault_audit_consistency(&p, f->v, 5, 4), VAULT_EINVALID);
    refused(f, VAULT_EINVALID, "audit_consistency");
    assert_int_equal(vault_audit_consistency(&p, f->v, 1, 1000), VAULT_ENOTFOUND);
    refused(f, VAULT_ENOTFOUND, "audit_consistency");
    assert_int_equal(vault_audit_prove(NULL, f->v, 1, 1), VAULT_EINVALID);
    assert_int_equal(vault_audit_prove(&p, NULL, 1, 1), VAULT_EINVALID);
}

static sqlite3 *raw_db(fixture *f)
{
    return tu_raw_db(f->v, f->path);
}

/* An entry changed behind the vault's back (one byte of its detail): no
 * proof over it is made; proofs of trees before it still are. */
static void test_tampered_entry(void **state)
{
    fixture *f = *state;
    vault_proof p;
    sqlite3 *db = raw_db(f);

    if (sqlite3_exec(db,
                     "UPDATE audit SET entry = substr(entry, 1, length(entry) - 1) || "
                     "X'21' WHERE pos = 6;",
                     NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("tamper: %s", sqlite3_errmsg(db));
    sqlite3_close(db);
    assert_int_equal(vault_audit_prove(&p, f->v, 2, 8), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "entry 6"));
    assert_int_equal(vault_audit_prove(&p, f->v, 8, 8), VAULT_EINTEGRITY);
    assert_int_equal(vault_audit_consistency(&p, f->v, 2, 7), VAULT_EINTEGRITY);
    assert_int_equal(vault_audit_prove(&p, f->v, 2, 5), 0);
    vault_proof_clear(&p);
    assert_int_equal(vault_audit_consistency(&p, f->v, 2, 5), 0);
    vault_proof_clear(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_shape),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_json_vectors),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test_setup_teardown(test_vault_proofs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vault_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_entry, setup, teardown),
    };

    assert_int_equal(vault_init(), 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

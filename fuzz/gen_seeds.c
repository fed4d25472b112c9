/* Writes the generated seed inputs of fuzz/corpus/ (the others are copies
 * of shipped files; see fuzz/README.md).  Not a fuzz target: built by hand,
 *
 *   cc -D_GNU_SOURCE -DSQLITE_HAS_CODEC -Iinclude -Ilibvault fuzz/gen_seeds.c \
 *      build/libvault.a $(pkg-config --libs libsodium sqlcipher yaml-0.1 jansson) \
 *      -lcsv -lunistring -lpthread -o /tmp/gen_seeds &&
 *   /tmp/gen_seeds fuzz/corpus policies/community.yaml
 *
 * Keys are fixed so the fuzz targets can open what is written here:
 * field key 00..1f with the AD of tests/vectors/field.txt; Ed25519 seed
 * c0..df (the audit vectors' key); key file bytes 30..4f. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/audit_bundle.h"
#include "audit/audit_claims.h"
#include "audit/audit_format.h"
#include "audit/audit_proof.h"
#include "crypto.h"
#include "keyslot.h"

static const char *corpus_root;

static void put(const char *target, const char *name, const void *data, size_t len)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", corpus_root, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", corpus_root, target, name);
    f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void check(int rc, const char *what)
{
    if (rc != VAULT_OK) {
        fprintf(stderr, "gen_seeds: %s: %s\n", what, vault_error_last());
        exit(1);
    }
}

static void field_seeds(void)
{
    static const uint8_t vid[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                    0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
    static const uint8_t rid[16] = {0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
                                    0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};
    static const struct {
        const char *name;
        uint32_t version;
        const char *pt;
    } seeds[] = {
        {"phone-v1", 1, "13812345678"},
        {"empty-v1", 1, ""},
        {"chinese-v7", 7, "浙江省杭州市拱墅区长征路12号3单元501"},
        {"max-version", 0xffffffffu, "x"},
    };
    uint8_t key[32], ct[256];
    size_t i, len = 0;

    for (i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)i;
    for (i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        vc_field_ad ad = {vid, rid, "phone", "personal", seeds[i].version, 1};
        check(vc_field_seal(ct, sizeof ct, &len, key, &ad, (const uint8_t *)seeds[i].pt,
                            strlen(seeds[i].pt)),
              "seal");
        put("fuzz_field", seeds[i].name, ct, len);
    }
}

static void keyslot_seeds(const char *tmp)
{
    uint8_t key[32], master[32], vid[16];
    char keyfile[512], keys[512];
    vault_secret kf = {sizeof(vault_secret), VAULT_UNLOCK_KEYFILE, keyfile, 0, 0};
    vault_secret pass = {sizeof(vault_secret), VAULT_UNLOCK_PASSPHRASE, "seed passphrase", 15, VAULT_KDF_INTERACTIVE};
    uint8_t *buf;
    size_t i, n;
    FILE *f;
    int slot = 0;

    for (i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(0x30 + i);
    for (i = 0; i < sizeof master; i++)
        master[i] = (uint8_t)(0x90 + i);
    for (i = 0; i < sizeof vid; i++)
        vid[i] = (uint8_t)(0x11 * (i + 1));
    snprintf(keyfile, sizeof keyfile, "%s/seed.key", tmp);
    snprintf(keys, sizeof keys, "%s/seed.keys", tmp);
    f = fopen(keyfile, "wb");
    if (!f || fwrite(key, 1, 32, f) != 32 || fclose(f) != 0)
        exit(1);
    /* one key-file slot */
    check(ks_create(keys, vid, master, &kf, "seed key file"), "ks_create");
    buf = NULL;
    f = fopen(keys, "rb");
    buf = malloc(KS_FILE_MAX);
    n = fread(buf, 1, KS_FILE_MAX, f);
    fclose(f);
    put("fuzz_keyslot", "keyfile-slot.keys", buf, n);
    /* plus a passphrase slot (parsed, not tried by the target) */
    check(ks_add(&slot, keys, master, &pass, "办公室 passphrase"), "ks_add");
    f = fopen(keys, "rb");
    n = fread(buf, 1, KS_FILE_MAX, f);
    fclose(f);
    put("fuzz_keyslot", "keyfile-and-passphrase.keys", buf, n);
    /* the key-file slot removed: only a passphrase slot left */
    check(ks_remove(keys, master, 0), "ks_remove");
    f = fopen(keys, "rb");
    n = fread(buf, 1, KS_FILE_MAX, f);
    fclose(f);
    put("fuzz_keyslot", "passphrase-only.keys", buf, n);
    free(buf);
    unlink(keys);
    unlink(keyfile);
}

/* Entry i of the generated logs, encoded into *enc (malloc'ed): LVA1
 * when v2_from is 0 or i < v2_from, else LVA2 with a principal (a service
 * caller on odd i, the embedded one on even i) and a third field sharing
 * the first one's reason. */
static void make_entry(uint8_t **enc, size_t *enclen, size_t i, size_t v2_from)
{
    af_entry e;
    af_field fields[3];
    int v2 = v2_from && i >= v2_from;

    memset(&e, 0, sizeof e);
    memset(fields, 0, sizeof fields);
    e.version = v2 ? AF_VERSION_2 : AF_VERSION_1;
    if (v2 && i % 2) {
        e.who.issuer = "https://id.hangzhou.example";
        e.who.subject = "330102-0042";
        e.who.token_id = "tok-8f3a";
        e.who.app = "grid-app";
        e.who.peer = "tls:192.0.2.7:51234";
    } else if (v2) {
        e.who.peer = "local:uid=0,pid=4242";
    }
    e.seq = i;
    e.time_us = 1709251200000000LL + (int64_t)i * 1000;
    e.user = i % 2 ? "wang.fang" : "李娜";
    e.role = "grid_worker";
    e.department = "community_committee";
    e.jurisdiction = "hangzhou/gongshu/xiaohe/changzheng/grid-07";
    e.purpose = "grid_management";
    e.action = i % 3 ? "read" : "write";
    e.has_record = 1;
    memset(e.record_id, (int)i, 16);
    fields[0].name = "phone";
    fields[0].effect = VAULT_EFFECT_MASK;
    fields[0].reason = "rule grid-contact (community.yaml:143)";
    fields[1].name = "health";
    fields[1].effect = VAULT_EFFECT_DENY;
    fields[1].reason = "default deny";
    fields[1].has_ct_hash = e.action[0] == 'w';
    fields[2].name = "name";
    fields[2].effect = VAULT_EFFECT_MASK;
    fields[2].reason = fields[0].reason;
    e.fields = fields;
    e.nfields = v2 ? 3 : 2;
    e.flags = i == 4 ? AF_FLAG_BREAK_GLASS : 0;
    check(af_entry_encode(enc, enclen, &e), "encode");
}

static void append_line(char **out, size_t *outlen, const char *line)
{
    size_t n = strlen(line);
    char *grown = realloc(*out, *outlen + n + 1);

    if (!grown)
        exit(1);
    memcpy(grown + *outlen, line, n);
    grown[*outlen + n] = '\n';
    *out = grown;
    *outlen += n + 1;
}

/* A log of n entries signed by the vector key, as an export with
 * checkpoints at the given sizes; the notes also become fuzz_note seeds.
 * Entries from v2_from on are LVA2 (0: none). */
static void export_seed(const char *name, size_t n, const size_t *cps, size_t ncps,
                        const uint8_t sk[64], size_t v2_from)
{
    char *out = NULL, *line = NULL, *note = NULL, fname[64];
    size_t outlen = 0, i, k, enclen = 0;
    uint8_t head[32] = {0}, leaf[32], root[32], *enc = NULL;
    af_merkle m;

    for (k = 0; k < ncps; k++) {
        af_merkle_init(&m);
        for (i = 1; i <= cps[k]; i++) {
            make_entry(&enc, &enclen, i, v2_from);
            af_leaf_hash(leaf, enc, enclen);
            af_merkle_push(&m, leaf);
            free(enc);
        }
        af_merkle_root(&m, root);
        check(af_checkpoint_sign(&note, "libvault.test/vectors", cps[k], root, sk), "sign");
        check(af_export_checkpoint_line(&line, note), "checkpoint line");
        snprintf(fname, sizeof fname, "%s-cp%zu.note", name, cps[k]);
        put("fuzz_note", fname, note, strlen(note));
        append_line(&out, &outlen, line);
        free(line);
        free(note);
    }
    for (i = 1; i <= n; i++) {
        make_entry(&enc, &enclen, i, v2_from);
        af_leaf_hash(leaf, enc, enclen);
        af_chain_next(head, head, leaf);
        check(af_export_entry_line(&line, i, enc, enclen, head), "entry line");
        append_line(&out, &outlen, line);
        free(line);
        free(enc);
    }
    snprintf(fname, sizeof fname, "%s.jsonl", name);
    put("fuzz_export", fname, out, outlen);
    free(out);
}

/* An export across logs (docs/audit-format.md §4, 3): a city log of 4
 * entries whose 4th, a log_heads entry, claims hangzhou/gongshu at 3
 * entries and hangzhou/xihu at 2, with the checkpoint at 4, then the two
 * shard logs' sections (gongshu 3 entries, xihu 4). */
static void logs_seed(const uint8_t sk[64])
{
    static const char *const logs[] = {"hangzhou/gongshu", "hangzhou/xihu"};
    static const size_t sizes[] = {3, 4}, claimed[] = {3, 2};
    char *out = NULL, *line = NULL, *note = NULL, *detail = NULL;
    size_t outlen = 0, i, k, enclen = 0, dlen = 0, dcap = 0;
    uint8_t head[32] = {0}, leaf[32], root[32], *enc = NULL, *city[4];
    size_t citylen[4];
    af_merkle m;
    af_entry e;

    for (k = 0; k < 2; k++) {
        af_merkle_init(&m);
        for (i = 1; i <= claimed[k]; i++) {
            make_entry(&enc, &enclen, i, 1);
            af_leaf_hash(leaf, enc, enclen);
            af_merkle_push(&m, leaf);
            free(enc);
        }
        af_merkle_root(&m, root);
        check(af_claim_line(&detail, &dlen, &dcap, logs[k], claimed[k], root), "claim line");
    }
    af_merkle_init(&m);
    for (i = 1; i <= 4; i++) {
        if (i < 4) {
            make_entry(&city[i - 1], &citylen[i - 1], i, 1);
        } else {
            memset(&e, 0, sizeof e);
            e.seq = 4;
            e.time_us = 1709251200000000LL + 4000;
            e.user = "os:root";
            e.who.peer = "local:uid=0,pid=4242";
            e.action = AF_ACTION_LOG_HEADS;
            e.detail = detail;
            check(af_entry_encode(&city[3], &citylen[3], &e), "log_heads entry");
        }
        af_leaf_hash(leaf, city[i - 1], citylen[i - 1]);
        af_merkle_push(&m, leaf);
    }
    af_merkle_root(&m, root);
    check(af_checkpoint_sign(&note, "libvault.test/vectors", 4, root, sk), "sign");
    check(af_export_checkpoint_line(&line, note), "checkpoint line");
    append_line(&out, &outlen, line);
    free(line);
    free(note);
    for (i = 1; i <= 4; i++) {
        af_leaf_hash(leaf, city[i - 1], citylen[i - 1]);
        af_chain_next(head, head, leaf);
        check(af_export_compact_line(&line, i, city[i - 1], citylen[i - 1], head), "entry line");
        append_line(&out, &outlen, line);
        free(line);
        free(city[i - 1]);
    }
    for (k = 0; k < 2; k++) {
        check(af_export_log_line(&line, logs[k]), "log line");
        append_line(&out, &outlen, line);
        free(line);
        memset(head, 0, sizeof head);
        for (i = 1; i <= sizes[k]; i++) {
            make_entry(&enc, &enclen, i, 1);
            af_leaf_hash(leaf, enc, enclen);
            af_chain_next(head, head, leaf);
            check(af_export_compact_line(&line, i, enc, enclen, head), "entry line");
            append_line(&out, &outlen, line);
            free(line);
            free(enc);
        }
    }
    put("fuzz_export", "gen-logs.jsonl", out, outlen);
    free(out);
    free(detail);
}

/* One entry about record 0x5a.. (or no record), seq i, with a detail. */
static void bundle_entry(uint8_t **enc, size_t *len, uint64_t i, int about, const char *action,
                         const char *detail)
{
    af_entry e;

    memset(&e, 0, sizeof e);
    e.seq = i;
    e.time_us = 1709251200000000LL + (int64_t)i * 1000;
    e.user = "wang.fang";
    e.who.peer = "local:uid=0,pid=4242";
    e.action = action;
    e.detail = detail;
    e.has_record = about;
    memset(e.record_id, 0x5a, 16);
    check(af_entry_encode(enc, len, &e), "bundle entry");
}

/* The inclusion proof of leaf k among leaves[0..n). */
static void prove_leaf(af_prover *p, uint8_t (*leaves)[32], uint64_t k, uint64_t n)
{
    uint64_t i;

    check(af_prover_inclusion(p, k, n), "plan");
    for (i = 0; i < n; i++)
        (void)af_prover_push(p, leaves[i]);
}

/* A v2 bundle (docs/audit-format.md §11 "Shard logs") signed by the
 * vector key: city entries 1..4 (1 about the record, 3 the log_heads
 * entry that claims hangzhou/xihu at 3), the checkpoint at 4, xihu's
 * entries 1..3 (1 and 3 about the record). */
static void bundle_v2_seed(const uint8_t sk[64])
{
    static const char origin[] = "libvault.test/vectors";
    uint8_t *city[4], *xihu[3], cl[4][32], xl[3][32], croot[32], xroot[32], record[16],
        sig[AF_BUNDLE_SIG_BYTES];
    size_t clen[4], xlen[3], dlen = 0, dcap = 0, i;
    char *detail = NULL, *note = NULL, *statement = NULL, *out = NULL;
    af_merkle m;
    af_prover pc, px1, px3, pv;
    af_bundle_entry be[3];
    af_bundle_log bl;
    static const uint64_t cseqs[] = {1}, xseqs[] = {1, 3};

    for (i = 0; i < 3; i++) {
        bundle_entry(&xihu[i], &xlen[i], i + 1, i != 1, "read", "");
        af_leaf_hash(xl[i], xihu[i], xlen[i]);
    }
    af_merkle_init(&m);
    for (i = 0; i < 3; i++)
        af_merkle_push(&m, xl[i]);
    af_merkle_root(&m, xroot);
    check(af_claim_line(&detail, &dlen, &dcap, "hangzhou/xihu", 3, xroot), "claim");
    bundle_entry(&city[0], &clen[0], 1, 1, "read", "");
    bundle_entry(&city[1], &clen[1], 2, 0, "audit_query", "");
    bundle_entry(&city[2], &clen[2], 3, 0, AF_ACTION_LOG_HEADS, detail);
    bundle_entry(&city[3], &clen[3], 4, 0, "audit_query", "");
    af_merkle_init(&m);
    for (i = 0; i < 4; i++) {
        af_leaf_hash(cl[i], city[i], clen[i]);
        af_merkle_push(&m, cl[i]);
    }
    af_merkle_root(&m, croot);
    check(af_checkpoint_sign(&note, origin, 4, croot, sk), "sign");
    prove_leaf(&pc, cl, 0, 4);
    prove_leaf(&pv, cl, 2, 4);
    prove_leaf(&px1, xl, 0, 3);
    prove_leaf(&px3, xl, 2, 3);
    memset(record, 0x5a, 16);
    memset(&bl, 0, sizeof bl);
    bl.log = "hangzhou/xihu";
    bl.size = 3;
    memcpy(bl.root, xroot, 32);
    bl.seqs = xseqs;
    bl.n = 2;
    bl.via_seq = 3;
    bl.via_entry = city[2];
    bl.via_len = clen[2];
    bl.via_nhashes = pv.n;
    bl.via_hashes = (const uint8_t(*)[32])pv.hashes;
    check(af_bundle_statement(&statement, origin, 4, croot, record, cseqs, 1, &bl, 1, 0),
          "statement");
    check(af_bundle_sign(sig, statement, strlen(statement), origin, sk), "statement signature");
    memset(be, 0, sizeof be);
    be[0] = (af_bundle_entry){NULL, 1, city[0], clen[0], pc.n, (const uint8_t(*)[32])pc.hashes};
    be[1] = (af_bundle_entry){"hangzhou/xihu", 1, xihu[0], xlen[0], px1.n,
                              (const uint8_t(*)[32])px1.hashes};
    be[2] = (af_bundle_entry){"hangzhou/xihu", 3, xihu[2], xlen[2], px3.n,
                              (const uint8_t(*)[32])px3.hashes};
    check(af_bundle_json(&out, origin, record, note, statement, sig, be, 3, &bl, 1), "bundle");
    put("fuzz_bundle", "gen-v2-logs.json", out, strlen(out));
    for (i = 0; i < 4; i++)
        free(city[i]);
    for (i = 0; i < 3; i++)
        free(xihu[i]);
    free(detail);
    free(note);
    free(statement);
    free(out);
}

/* A real vault's export and checkpoint note (signed by that vault's own
 * key, so the targets see them as well-formed but badly signed). */
static void vault_seeds(const char *tmp, const char *policy)
{
    char path[512], keyfile[512], exp[600], id[VAULT_ID_HEX_SIZE], *note = NULL;
    vault_secret kf = {sizeof(vault_secret), VAULT_UNLOCK_KEYFILE, keyfile, 0, 0};
    vault_subject sub = {sizeof(vault_subject), "li", "data_officer", "street_office", "hangzhou/gongshu/xiaohe",
                         "resident_service"};
    const char *fields[] = {"name", "phone"}, *values[] = {"张三", "13812345678"};
    size_t lens[] = {strlen("张三"), 11}, n = 0;
    vault *v = NULL;
    vault_session *s = NULL;
    vault_result *r = NULL;
    uint8_t *buf;
    FILE *f;

    snprintf(path, sizeof path, "%s/seed.vault", tmp);
    snprintf(keyfile, sizeof keyfile, "%s/vault.key", tmp);
    snprintf(exp, sizeof exp, "%s/export.jsonl", tmp);
    check(vault_keyfile_generate(keyfile), "keyfile");
    check(vault_create(&v, path, policy, &kf), "vault_create");
    check(vault_session_open(&s, v, &sub), "session");
    check(vault_record_add(id, sizeof id, s, "hangzhou/gongshu/xiaohe/changzheng/grid-07", 2,
                           fields, values, lens), "add");
    check(vault_record_get(&r, s, id, NULL, 0), "get");
    vault_result_free(r);
    check(vault_audit_checkpoint(&note, v), "checkpoint");
    put("fuzz_note", "vault-checkpoint.note", note, strlen(note));
    vault_free(note);
    check(vault_audit_export(v, exp, NULL, NULL), "export");
    vault_session_close(s);
    vault_close(v);
    buf = malloc(1 << 20);
    f = fopen(exp, "rb");
    if (!buf || !f)
        exit(1);
    n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    put("fuzz_export", "vault-export.jsonl", buf, n);
    free(buf);
    unlink(exp);
    unlink(keyfile);
    snprintf(exp, sizeof exp, "%s.keys", path);
    unlink(exp);
    unlink(path);
}

/* fuzz_token: tokens signed with the vector key for the target's issuers
 * at its time (1800000000), raw and mangled, and "S" inputs (header and
 * payload JSON that the target signs itself). */
static void token_put(const char *name, const char *header, const char *payload,
                      const uint8_t sk[64])
{
    char t[12000], sig64[100];
    uint8_t sig[64];
    size_t n;

    sodium_bin2base64(t, sizeof t, (const uint8_t *)header, strlen(header),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    n = strlen(t);
    t[n++] = '.';
    sodium_bin2base64(t + n, sizeof t - n, (const uint8_t *)payload, strlen(payload),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    crypto_sign_detached(sig, NULL, (const uint8_t *)t, strlen(t), sk);
    sodium_bin2base64(sig64, sizeof sig64, sig, sizeof sig, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    n = strlen(t);
    snprintf(t + n, sizeof t - n, ".%s", sig64);
    put("fuzz_token", name, t, strlen(t));
}

static void token_seeds(const uint8_t sk[64])
{
#define TOK_CLAIMS(extra)                                                                        \
    "{\"iss\":\"https://id.fuzz.example\",\"aud\":\"vaultd-fuzz\",\"sub\":\"li.wei\","          \
    "\"role\":\"grid_worker\",\"department\":\"street_office\","                               \
    "\"jurisdiction\":\"hangzhou/gongshu\",\"iat\":1799999990,\"nbf\":1799999990" extra "}"
    static const struct {
        const char *name, *header, *payload;
    } seeds[] = {
        {"good-ed", "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}", TOK_CLAIMS(",\"exp\":1800000600,\"jti\":\"t1\"")},
        {"good-kid", "{\"alg\":\"EdDSA\",\"kid\":\"k1\"}",
         TOK_CLAIMS(",\"exp\":1800000600,\"preferred_username\":\"wang.fang\"")},
        {"aud-array", "{\"alg\":\"EdDSA\"}",
         "{\"iss\":\"https://id.fuzz.example\",\"aud\":[\"x\",\"vaultd-fuzz\"],\"sub\":\"s\","
         "\"role\":\"r\",\"department\":\"d\",\"jurisdiction\":\"j\",\"exp\":1800000600}"},
        {"expired", "{\"alg\":\"EdDSA\"}", TOK_CLAIMS(",\"exp\":1799999000")},
        {"not-yet", "{\"alg\":\"EdDSA\"}",
         "{\"iss\":\"https://id.fuzz.example\",\"aud\":\"vaultd-fuzz\",\"sub\":\"s\",\"role\":\"r\","
         "\"department\":\"d\",\"jurisdiction\":\"j\",\"nbf\":1800009999,\"exp\":1800019999}"},
        {"wrong-aud", "{\"alg\":\"EdDSA\"}",
         "{\"iss\":\"https://id.fuzz.example\",\"aud\":\"other\",\"sub\":\"s\",\"exp\":1800000600}"},
        {"alg-none", "{\"alg\":\"none\"}", TOK_CLAIMS(",\"exp\":1800000600")},
        {"alg-es256", "{\"alg\":\"ES256\"}", TOK_CLAIMS(",\"exp\":1800000600")},
        {"crit", "{\"alg\":\"EdDSA\",\"crit\":[\"x\"],\"x\":1}", TOK_CLAIMS(",\"exp\":1800000600")},
        {"dup-role", "{\"alg\":\"EdDSA\"}", TOK_CLAIMS(",\"exp\":1800000600,\"role\":\"police\"")},
        {"lifetime", "{\"alg\":\"EdDSA\",\"kid\":\"k1\"}",
         TOK_CLAIMS(",\"exp\":1800999999,\"preferred_username\":\"w\"")},
    };
    static const struct {
        const char *name, *text;
    } raw[] = {
        {"sign-good", "S{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}\n" TOK_CLAIMS(",\"exp\":1800000600,\"jti\":\"t\"")},
        {"sign-kid", "S{\"alg\":\"EdDSA\",\"kid\":\"k1\"}\n"
                     TOK_CLAIMS(",\"exp\":1800000600,\"preferred_username\":\"w\"")},
        {"sign-real-exp", "S{\"alg\":\"EdDSA\"}\n" TOK_CLAIMS(",\"exp\":1.8e9")},
        {"sign-nested", "S{\"alg\":\"EdDSA\"}\n" TOK_CLAIMS(",\"exp\":1800000600,\"x\":{\"a\":[1,{\"b\":null}]}")},
        {"sign-dup", "S{\"alg\":\"EdDSA\",\"alg\":\"EdDSA\"}\n{\"iss\":1,\"iss\":2}"},
        {"sign-unicode", "S{\"alg\":\"EdDSA\"}\n"
                         TOK_CLAIMS(",\"exp\":1800000600,\"name\":\"\\u5f20\\u4e09\\ud83d\\ude00\"")},
        {"two-parts", "eyJhbGciOiJFZERTQSJ9.eyJpc3MiOiJ4In0"},
        {"four-parts", "eyJhbGciOiJFZERTQSJ9.e30.AAAA.AAAA"},
        {"padded", "eyJhbGciOiJFZERTQSJ9.e30=.AAAA"},
        {"std-alphabet", "eyJhbGciOiJFZERTQSJ9.e30+/.AAAA"},
    };
    size_t i;

    for (i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        token_put(seeds[i].name, seeds[i].header, seeds[i].payload, sk);
    for (i = 0; i < sizeof raw / sizeof raw[0]; i++)
        put("fuzz_token", raw[i].name, raw[i].text, strlen(raw[i].text));
#undef TOK_CLAIMS
}

int main(int argc, char **argv)
{
    uint8_t seed[32], pk[32], sk[64];
    char tmp[] = "/tmp/gen-seeds-XXXXXX";
    size_t i;
    static const size_t cps_a[] = {3, 8};
    static const size_t cps_b[] = {0, 1, 16};
    static const size_t cps_c[] = {6, 12};

    if (argc != 3) {
        fprintf(stderr, "usage: %s fuzz/corpus policies/community.yaml\n", argv[0]);
        return 2;
    }
    corpus_root = argv[1];
    if (vault_init() < 0 || !mkdtemp(tmp))
        return 1;
    for (i = 0; i < sizeof seed; i++)
        seed[i] = (uint8_t)(0xc0 + i);
    crypto_sign_seed_keypair(pk, sk, seed);
    field_seeds();
    keyslot_seeds(tmp);
    export_seed("gen-8", 8, cps_a, 2, sk, 0);
    export_seed("gen-16", 16, cps_b, 3, sk, 0);
    export_seed("gen-12-lva2", 12, cps_c, 2, sk, 7); /* a migrated log: 1..6 LVA1 */
    logs_seed(sk);
    bundle_v2_seed(sk);
    vault_seeds(tmp, argv[2]);
    token_seeds(sk);
    rmdir(tmp);
    return 0;
}

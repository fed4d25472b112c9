/* audit_format: canonical entries, hashes, Merkle tree, checkpoint notes,
 * the streaming verifier and the JSON Lines export.  Known answers come
 * from tests/vectors/gen_audit_vectors.py, an independent Python
 * implementation (docs/audit-format.md). */
#include "testutil.h"

#include <jansson.h>
#include <sodium.h>

#include "audit/audit_claims.h"
#include "audit/audit_format.h"
#include "crypto.h"

/* ---- helpers ------------------------------------------------------------ */

static const char *vec(char *rows[TU_MAX_ROWS][TU_MAX_COLS], size_t n, const char *key,
                       size_t col)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(rows[i][0], key) == 0)
            return rows[i][col];
    fail_msg("vector %s not found", key);
    return NULL;
}

static void unhex32(uint8_t out[32], const char *hex)
{
    size_t len;
    uint8_t *b = tu_unhex(hex, &len);

    assert_int_equal(len, 32);
    memcpy(out, b, 32);
    free(b);
}

static void fill(uint8_t *p, size_t n, uint8_t start)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(start + i);
}

static uint8_t *encode(const af_entry *e, size_t *len)
{
    uint8_t *out = NULL;

    assert_int_equal(af_entry_encode(&out, len, e), 0);
    assert_non_null(out);
    return out;
}

static void assert_entries_equal(const af_entry *a, const af_entry *b)
{
    size_t i;

    assert_int_equal(a->seq, b->seq);
    assert_true(a->time_us == b->time_us);
    assert_string_equal(a->user ? a->user : "", b->user);
    assert_string_equal(a->role ? a->role : "", b->role);
    assert_string_equal(a->department ? a->department : "", b->department);
    assert_string_equal(a->jurisdiction ? a->jurisdiction : "", b->jurisdiction);
    assert_string_equal(a->purpose ? a->purpose : "", b->purpose);
    assert_string_equal(a->action ? a->action : "", b->action);
    assert_string_equal(a->detail ? a->detail : "", b->detail);
    assert_int_equal(a->outcome, b->outcome);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->has_record, b->has_record);
    if (a->has_record)
        assert_memory_equal(a->record_id, b->record_id, 16);
    assert_memory_equal(a->policy_hash, b->policy_hash, 32);
    assert_int_equal(a->nfields, b->nfields);
    for (i = 0; i < a->nfields; i++) {
        assert_string_equal(a->fields[i].name, b->fields[i].name);
        assert_string_equal(a->fields[i].reason, b->fields[i].reason);
        assert_int_equal(a->fields[i].effect, b->fields[i].effect);
        assert_int_equal(a->fields[i].has_ct_hash, b->fields[i].has_ct_hash);
        if (a->fields[i].has_ct_hash)
            assert_memory_equal(a->fields[i].ct_hash, b->fields[i].ct_hash, 32);
    }
}

/* Encode, decode, compare, re-encode to the same bytes. */
static void roundtrip(const af_entry *e)
{
    size_t len, len2;
    uint8_t *buf = encode(e, &len), *buf2;
    af_entry d;
    void *st = NULL;
    uint64_t seq = 0;

    assert_int_equal(af_entry_decode(&d, &st, buf, len), 0);
    assert_non_null(st);
    assert_entries_equal(e, &d);
    assert_int_equal(af_entry_check(&seq, buf, len), 0);
    assert_int_equal(seq, e->seq);
    buf2 = encode(&d, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    free(buf2);
    free(st);
    free(buf);
}

/* Entry 1..3 of tests/vectors/audit.txt, built from their fields. */
static af_field v1_fields[3], v2_fields[1];

static void vector_entry(af_entry *e, int which)
{
    static const int64_t t0 = 1709251200123456LL;

    memset(e, 0, sizeof *e);
    fill(e->policy_hash, 32, 0x20);
    fill(e->record_id, 16, 0xb0);
    switch (which) {
    case 1:
        *e = (af_entry){.version = AF_VERSION_1, .seq = 1, .time_us = t0, .user = "wang.fang",
                        .role = "grid_worker",
                        .department = "street_office",
                        .jurisdiction = "hangzhou/shangcheng/xiaohe/changzheng/grid-07",
                        .purpose = "household_visit", .action = "read", .has_record = 1,
                        .fields = v1_fields, .nfields = 3, .detail = ""};
        v1_fields[0] = (af_field){"name", VAULT_EFFECT_ALLOW,
                                  "rule grid-read-basic (policy.yaml:42)", 0, {0}};
        v1_fields[1] = (af_field){"phone", VAULT_EFFECT_MASK,
                                  "rule grid-mask-phone (policy.yaml:57)", 0, {0}};
        v1_fields[2] = (af_field){"health", VAULT_EFFECT_DENY, "default deny", 0, {0}};
        break;
    case 2:
        *e = (af_entry){.version = AF_VERSION_1, .seq = 2, .time_us = t0 + 1500000,
                        .user = "李娜", .role = "网格员",
                        .department = "小河街道", .jurisdiction = "杭州/上城/小河/长征/第七网格",
                        .purpose = "入户走访", .action = "write", .flags = AF_FLAG_BREAK_GLASS,
                        .has_record = 1, .fields = v2_fields, .nfields = 1,
                        .detail = "紧急情况：独居老人"};
        v2_fields[0] = (af_field){"address", VAULT_EFFECT_ALLOW, "grant g-17", 1, {0}};
        fill(v2_fields[0].ct_hash, 32, 0x40);
        break;
    default:
        *e = (af_entry){.version = AF_VERSION_1, .seq = 3, .time_us = t0 + 60000000,
                        .user = "admin",
                        .role = "data_officer", .department = "civil_affairs",
                        .jurisdiction = "hangzhou", .purpose = NULL, .action = "keyslot_add",
                        .detail = "slot 2"};
        break;
    }
    fill(e->policy_hash, 32, 0x20);
    fill(e->record_id, 16, 0xb0);
}

/* ---- encoding and decoding --------------------------------------------- */

static void test_roundtrip_all_fields(void **state)
{
    af_field f[3] = {
        {"phone", VAULT_EFFECT_MASK, "rule r1 (p.yaml:3)", 0, {0}},
        {"address", VAULT_EFFECT_ALLOW, "grant g-1", 1, {0}},
        {"health", VAULT_EFFECT_DENY, "default deny", 0, {0}},
    };
    af_entry e = {.seq = 123456789012ULL, .time_us = -5, .user = "u1", .role = "role",
                  .department = "dept", .jurisdiction = "a/b/c", .purpose = "p",
                  .action = "write", .outcome = AF_OUTCOME_ERROR,
                  .flags = AF_FLAG_BREAK_GLASS, .has_record = 1, .fields = f, .nfields = 3,
                  .detail = "detail text"};

    (void)state;
    fill(e.record_id, 16, 1);
    fill(e.policy_hash, 32, 100);
    fill(f[1].ct_hash, 32, 200);
    roundtrip(&e);
    e.outcome = AF_OUTCOME_DENIED;
    e.has_record = 0;
    e.time_us = INT64_MIN;
    e.seq = UINT64_MAX;
    roundtrip(&e);
}

static void test_roundtrip_no_fields(void **state)
{
    af_entry e = {.version = AF_VERSION_1, .seq = 1, .action = "db_key"}; /* NULL strings encode as empty */
    size_t len;
    uint8_t *buf;

    (void)state;
    roundtrip(&e);
    buf = encode(&e, &len);
    /* magic, seq, time, 6 empty strings, 3 bytes, policy, nfields, empty detail */
    assert_int_equal(len, 4 + 8 + 8 + 6 * 4 + 6 + 3 + 32 + 4 + 4);
    assert_memory_equal(buf, "LVA1\x01\0\0\0\0\0\0\0", 12);
    free(buf);
}

static void test_roundtrip_chinese(void **state)
{
    af_entry e;

    (void)state;
    vector_entry(&e, 2);
    roundtrip(&e);
    e.user = "𠀀𪚥"; /* 4-byte UTF-8 */
    e.detail = "民政局 → 网格员，‘引号’ 😀";
    roundtrip(&e);
}

/* A small entry with known offsets: strings "u" "r" "d" "j" "p" "a", one
 * field ("n", effect, "x", no hash), detail "SECRET".  Offsets:
 * user length 20, 'u' 24, outcome 50, flags 51, has_record 52, nfields 85,
 * field name 89, effect 94, reason 95, has_ct_hash 100, detail 101. */
static uint8_t *small_entry(size_t *len)
{
    static af_field f = {"n", VAULT_EFFECT_MASK, "x", 0, {0}};
    af_entry e = {.version = AF_VERSION_1, .seq = 9, .user = "u", .role = "r", .department = "d",
                  .jurisdiction = "j",
                  .purpose = "p", .action = "a", .fields = &f, .nfields = 1,
                  .detail = "SECRET"};
    uint8_t *b = encode(&e, len);

    assert_int_equal(*len, 111);
    assert_int_equal(b[24], 'u');
    assert_int_equal(b[50], 0);
    assert_int_equal(b[85], 1);
    assert_int_equal(b[93], 'n');
    assert_int_equal(b[94], VAULT_EFFECT_MASK);
    assert_int_equal(b[99], 'x');
    assert_int_equal(b[101], 6);
    return b;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static void expect_bad(const uint8_t *b, size_t len, const char *why)
{
    af_entry d;
    void *st = (void *)1;
    uint64_t seq;
    int rc = af_entry_decode(&d, &st, b, len);

    if (rc != VAULT_EINTEGRITY)
        fail_msg("%s: decode gave %d", why, rc);
    assert_null(st);
    assert_true(strlen(vault_error_last()) > 0);
    assert_null(strstr(vault_error_last(), "SECRET"));
    assert_int_equal(af_entry_check(&seq, b, len), VAULT_EINTEGRITY);
}

static void test_decode_truncated_everywhere(void **state)
{
    size_t len, cut;
    uint8_t *b = small_entry(&len), *copy;
    af_entry e;
    af_field f[2] = {{"name", 2, "rule", 1, {0}}, {"phone", 1, "grant", 0, {0}}};

    (void)state;
    for (cut = 0; cut < len; cut++) {
        copy = malloc(cut + 1); /* exact size: ASan catches over-reads */
        memcpy(copy, b, cut);
        expect_bad(copy, cut, "truncated");
        free(copy);
    }
    free(b);
    /* The same with a record id and a ciphertext hash present. */
    vector_entry(&e, 1);
    e.fields = f, e.nfields = 2;
    b = encode(&e, &len);
    for (cut = 0; cut < len; cut++) {
        copy = malloc(cut + 1);
        memcpy(copy, b, cut);
        expect_bad(copy, cut, "truncated");
        free(copy);
    }
    free(b);
}

static void test_decode_rejects(void **state)
{
    size_t len, i;
    uint8_t *b = small_entry(&len), *m = malloc(len + 1);
    static const struct {
        size_t off;
        uint8_t byte;
        const char *why;
    } flips[] = {
        {0, 'X', "bad magic"},          {3, '2', "other version"},
        {24, 0xFF, "0xFF in a string"}, {24, 0x80, "lone continuation byte"},
        {24, 0xC0, "truncated sequence"}, {24, 0x00, "NUL in a string"},
        {50, 3, "outcome 3"},           {51, 0x08, "unknown flag"},
        {52, 2, "has_record 2"},        {94, 3, "effect 3"},
        {100, 2, "has_ct_hash 2"},      {99, 0xE4, "truncated 3-byte sequence"},
    };

    (void)state;
    for (i = 0; i < VAULT_ARRAY_LEN(flips); i++) {
        memcpy(m, b, len);
        m[flips[i].off] = flips[i].byte;
        expect_bad(m, len, flips[i].why);
    }
    memcpy(m, b, len);
    m[len] = 0;
    expect_bad(m, len + 1, "trailing byte");
    memcpy(m, b, len);
    put32(m + 20, 0xFFFFFFFFu);
    expect_bad(m, len, "huge length");
    put32(m + 20, AF_ENTRY_MAX + 1);
    expect_bad(m, len, "length over the limit");
    memcpy(m, b, len);
    put32(m + 101, 7);
    expect_bad(m, len, "detail runs past the end");
    memcpy(m, b, len);
    put32(m + 85, AF_FIELDS_MAX + 1);
    expect_bad(m, len, "too many fields");
    put32(m + 85, 2);
    expect_bad(m, len, "field count past the end");
    put32(m + 85, 0);
    expect_bad(m, len, "field count too small: trailing bytes");
    expect_bad(NULL, 0, "empty");
    free(m);
    free(b);
}

/* Malformed multi-byte UTF-8 in place of a 4-byte user name "abcd". */
static void test_decode_rejects_utf8(void **state)
{
    static const uint8_t bad[][4] = {
        {0xC0, 0x80, 'c', 'd'},       /* overlong NUL */
        {0xC1, 0xBF, 'c', 'd'},       /* overlong */
        {0xE0, 0x80, 0xAF, 'd'},      /* overlong 3-byte */
        {0xED, 0xA0, 0x80, 'd'},      /* surrogate U+D800 */
        {0xF4, 0x90, 0x80, 0x80},     /* U+110000 */
        {0xF5, 0x80, 0x80, 0x80},     /* invalid lead */
        {0xF0, 0x80, 0x80, 0x80},     /* overlong 4-byte */
        {'a', 'b', 0xE6, 0x9D},       /* truncated at the end of the string */
        {0xE6, 'b', 'c', 'd'},        /* missing continuation */
        {'a', 'b', 'c', 0xFE},
    };
    /* A 128-byte role: its length field starts with 0x80, a continuation
     * byte, so a sequence cut at the end of the user name must be caught by
     * the string's length, not by the next byte. */
    char role[129];
    af_entry e = {.seq = 1, .user = "abcd", .role = role, .detail = "SECRET"};
    size_t len, i;
    uint8_t *b, *m;

    (void)state;
    memset(role, 'r', 128);
    role[128] = '\0';
    b = encode(&e, &len);
    assert_memory_equal(b + 24, "abcd", 4);
    assert_int_equal(b[28], 0x80);
    for (i = 0; i < VAULT_ARRAY_LEN(bad); i++) {
        m = malloc(len);
        memcpy(m, b, len);
        memcpy(m + 24, bad[i], 4);
        expect_bad(m, len, "invalid UTF-8");
        assert_non_null(strstr(vault_error_last(), "user"));
        free(m);
    }
    free(b);
    /* Cut at the very end of the buffer (exact allocation: ASan sees any
     * read past it). */
    e.role = "r", e.detail = "SECRET\xE6\x9D\x8E";
    b = encode(&e, &len);
    m = malloc(len);
    memcpy(m, b, len);
    put32(m + len - 13, 8);
    expect_bad(m, len - 1, "sequence cut at the end");
    free(m);
    free(b);
}

/* Random damage never crashes or over-reads (ASan) and never gives an
 * entry that re-encodes differently. */
static void test_decode_random_damage(void **state)
{
    af_entry e;
    size_t len, i, len2;
    uint8_t *b, *m, *again;
    uint32_t x = 12345;
    char *note = NULL;
    uint8_t root[32] = {0}, seed[32], pk[32], sk[64];

    (void)state;
    vector_entry(&e, 2);
    b = encode(&e, &len);
    for (i = 0; i < 20000; i++) {
        af_entry d;
        void *st = NULL;
        size_t cut, k;
        int rc;

        x = x * 1103515245u + 12345u;
        cut = len - (x >> 16) % 3;
        m = malloc(cut);
        memcpy(m, b, cut);
        for (k = 0; k < 1 + (x >> 8) % 3; k++) {
            x = x * 1103515245u + 12345u;
            m[(x >> 8) % cut] ^= (uint8_t)(1u << ((x >> 4) % 8));
        }
        rc = af_entry_decode(&d, &st, m, cut);
        assert_true(rc == 0 || rc == VAULT_EINTEGRITY);
        if (rc == 0) {
            again = encode(&d, &len2);
            assert_int_equal(len2, cut);
            assert_memory_equal(again, m, cut);
            free(again);
        }
        free(st);
        free(m);
    }
    free(b);
    fill(seed, 32, 3);
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
    assert_int_equal(af_checkpoint_sign(&note, "vault.example/x", 99, root, sk), 0);
    len = strlen(note);
    for (i = 0; i < 20000; i++) {
        af_checkpoint c;
        int rc;

        m = malloc(len);
        memcpy(m, note, len);
        x = x * 1103515245u + 12345u;
        m[(x >> 8) % len] ^= (uint8_t)(1u << ((x >> 4) % 8));
        rc = af_checkpoint_verify(&c, (const char *)m, len, "vault.example/x", pk);
        assert_true(rc == VAULT_EINVALID || rc == VAULT_EINTEGRITY);
        free(m);
    }
    free(note);
}

/* ---- LVA2: the principal and the reason table -------------------------- */

typedef struct bld {
    uint8_t *b;
    size_t n, cap;
} bld;

static void bput(bld *x, const void *p, size_t n)
{
    if (x->n + n > x->cap) {
        x->cap = (x->n + n) * 2 + 64;
        x->b = realloc(x->b, x->cap);
        assert_non_null(x->b);
    }
    memcpy(x->b + x->n, p, n);
    x->n += n;
}

static void bint(bld *x, uint64_t v, size_t bytes)
{
    uint8_t le[8];
    size_t i;

    for (i = 0; i < bytes; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    bput(x, le, bytes);
}

static void bstr(bld *x, const char *s)
{
    bint(x, strlen(s), 4);
    bput(x, s, strlen(s));
}

/* The principal of the LVA2 test entries: a subject that must never show
 * in an error message. */
static const af_principal test_who = {"https://id.example", "SECRET-sub", "jti-1", "hotline",
                                      "tls:192.0.2.7:51234"};

/* An LVA2 entry written by hand from docs/audit-format.md §1: subject
 * "u" "r" "d" "j" "p", test_who, action "x", no record, policy hash
 * 20..3f, a reason table of `count` (the u16 as written) holding tab[0..ntab),
 * nf fields "f1", "f2", ... (effect mask, reason index idx[i], no hash),
 * detail "SECRET".  Exact size (ASan sees over-reads). */
static uint8_t *lva2_build(size_t *len, const char *const *tab, size_t ntab, uint32_t count,
                           const uint16_t *idx, size_t nf)
{
    bld x = {NULL, 0, 0};
    uint8_t policy[32], *out;
    const char *strs[] = {"u", "r", "d", "j", "p", test_who.issuer, test_who.subject,
                          test_who.token_id, test_who.app, test_who.peer, "x"};
    char name[16];
    size_t i;

    fill(policy, 32, 0x20);
    bput(&x, "LVA2", 4);
    bint(&x, 5, 8);
    bint(&x, 1709251200123456ULL, 8);
    for (i = 0; i < VAULT_ARRAY_LEN(strs); i++)
        bstr(&x, strs[i]);
    bint(&x, AF_OUTCOME_OK, 1);
    bint(&x, 0, 1);
    bint(&x, 0, 1);
    bput(&x, policy, 32);
    bint(&x, count, 2);
    for (i = 0; i < ntab; i++)
        bstr(&x, tab[i]);
    bint(&x, nf, 4);
    for (i = 0; i < nf; i++) {
        snprintf(name, sizeof name, "f%u", (unsigned)(i + 1));
        bstr(&x, name);
        bint(&x, VAULT_EFFECT_MASK, 1);
        bint(&x, idx[i], 2);
        bint(&x, 0, 1);
    }
    bstr(&x, "SECRET");
    out = malloc(x.n);
    assert_non_null(out);
    memcpy(out, x.b, x.n);
    *len = x.n;
    free(x.b);
    return out;
}

/* The entry lva2_build describes, for af_entry_encode. */
static void lva2_entry(af_entry *e, af_field *f, char names[][16], const char *const *tab,
                       const uint16_t *idx, size_t nf)
{
    size_t i;

    *e = (af_entry){.seq = 5, .time_us = 1709251200123456LL, .user = "u", .role = "r",
                    .department = "d", .jurisdiction = "j", .purpose = "p", .who = test_who,
                    .action = "x", .fields = f, .nfields = nf, .detail = "SECRET"};
    fill(e->policy_hash, 32, 0x20);
    for (i = 0; i < nf; i++) {
        snprintf(names[i], 16, "f%u", (unsigned)(i + 1));
        f[i] = (af_field){names[i], VAULT_EFFECT_MASK, tab[idx[i]], 0, {0}};
    }
}

static void expect_bad_msg(const uint8_t *b, size_t len, const char *why, const char *msg)
{
    expect_bad(b, len, why);
    if (!strstr(vault_error_last(), msg))
        fail_msg("%s: message \"%s\" does not say \"%s\"", why, vault_error_last(), msg);
}

/* The encoder writes what the document says, byte for byte: principal
 * after the subject, each distinct reason once in order of first use. */
static void test_lva2_layout(void **state)
{
    static const char *const tab[] = {"rule a (p.yaml:1)", "grant g-1", ""};
    static const uint16_t idx[] = {0, 1, 0, 2, 1};
    af_field f[5];
    char names[5][16];
    af_entry e, d;
    uint8_t *mine, *doc;
    size_t mlen, dlen;
    void *st = NULL;

    (void)state;
    lva2_entry(&e, f, names, tab, idx, 5);
    mine = encode(&e, &mlen);
    doc = lva2_build(&dlen, tab, 3, 3, idx, 5);
    assert_int_equal(mlen, dlen);
    assert_memory_equal(mine, doc, dlen);
    assert_memory_equal(mine, "LVA2", 4);
    roundtrip(&e);
    assert_int_equal(af_entry_decode(&d, &st, doc, dlen), 0);
    assert_int_equal(d.version, AF_VERSION_2);
    assert_string_equal(d.who.issuer, "https://id.example");
    assert_string_equal(d.who.subject, "SECRET-sub");
    assert_string_equal(d.who.token_id, "jti-1");
    assert_string_equal(d.who.app, "hotline");
    assert_string_equal(d.who.peer, "tls:192.0.2.7:51234");
    assert_string_equal(d.fields[3].reason, "");
    assert_ptr_equal(d.fields[0].reason, d.fields[2].reason); /* stored once */
    free(st);
    /* The same reason text from different pointers is still stored once. */
    {
        char copy[32];

        snprintf(copy, sizeof copy, "%s", tab[0]);
        f[2].reason = copy;
        free(mine);
        mine = encode(&e, &mlen);
        assert_int_equal(mlen, dlen);
        assert_memory_equal(mine, doc, dlen);
    }
    free(mine);
    free(doc);
    /* LVA1 entries decode with an empty principal. */
    vector_entry(&e, 1);
    mine = encode(&e, &mlen);
    assert_int_equal(af_entry_decode(&d, &st, mine, mlen), 0);
    assert_int_equal(d.version, AF_VERSION_1);
    assert_string_equal(d.who.issuer, "");
    assert_string_equal(d.who.peer, "");
    free(st);
    free(mine);
}

/* Each rule of the reason table (docs/audit-format.md §1) on its own. */
static void test_lva2_reason_table_rejects(void **state)
{
    static const char *const ab[] = {"A", "B"}, *const aa[] = {"A", "A"};
    static const uint16_t i01[] = {0, 1}, i012[] = {0, 1, 2}, i00[] = {0, 0}, i10[] = {1, 0},
                          i0[] = {0};
    char *many[40], *many_dup[40];
    uint16_t seq_idx[40];
    size_t len, k;
    uint8_t *b;

    (void)state;
    b = lva2_build(&len, ab, 2, 2, i012, 3);
    expect_bad_msg(b, len, "index past the table", "field 3 reason index 2 is out of range");
    free(b);
    b = lva2_build(&len, ab, 2, 2, i10, 2);
    expect_bad_msg(b, len, "table not in order of first use", "not in order of first use");
    free(b);
    b = lva2_build(&len, ab, 2, 2, i00, 2);
    expect_bad_msg(b, len, "unused string", "reason table string 2 is used by no field");
    free(b);
    b = lva2_build(&len, ab, 1, 1, NULL, 0);
    expect_bad_msg(b, len, "a table without fields", "string 1 is used by no field");
    free(b);
    b = lva2_build(&len, aa, 2, 2, i01, 2);
    expect_bad_msg(b, len, "the same text twice", "strings 1 and 2 are the same text");
    free(b);
    b = lva2_build(&len, ab, 2, AF_REASONS_MAX + 1, i01, 2);
    expect_bad_msg(b, len, "count over the limit", "reason table holds 1025 strings, at most 1024");
    free(b);
    b = lva2_build(&len, ab, 2, 0xFFFF, i01, 2);
    expect_bad_msg(b, len, "count 65535", "at most 1024");
    free(b);
    b = lva2_build(&len, ab, 2, 3, i01, 2);
    expect_bad(b, len, "count larger than the strings"); /* reads field bytes as a string */
    free(b);
    b = lva2_build(&len, ab, 0, 0, i0, 1);
    expect_bad_msg(b, len, "index into an empty table", "out of range (0 reasons)");
    free(b);
    /* Larger tables are checked for repeats by sorting: distinct is fine,
     * one repeat is not, wherever it is. */
    for (k = 0; k < 40; k++) {
        many[k] = malloc(16);
        many_dup[k] = malloc(16);
        snprintf(many[k], 16, "rule r-%02zu", k);
        snprintf(many_dup[k], 16, "rule r-%02zu", k == 31 ? (size_t)4 : k);
        seq_idx[k] = (uint16_t)k;
    }
    b = lva2_build(&len, (const char *const *)many, 40, 40, seq_idx, 40);
    assert_int_equal(af_entry_check(NULL, b, len), 0);
    free(b);
    b = lva2_build(&len, (const char *const *)many_dup, 40, 40, seq_idx, 40);
    expect_bad_msg(b, len, "a repeat in a large table", "strings 5 and 32 are the same text");
    free(b);
    for (k = 0; k < 40; k++)
        free(many[k]), free(many_dup[k]);
}

/* Truncation anywhere, bad bytes in the principal and the new fixed parts. */
static void test_lva2_decode_rejects(void **state)
{
    static const char *const tab[] = {"rule a", "grant g"};
    static const uint16_t idx[] = {0, 1, 1};
    size_t len, cut, off;
    uint8_t *b = lva2_build(&len, tab, 2, 2, idx, 3), *copy, *m = malloc(len + 1);
    const uint8_t *app;

    (void)state;
    assert_int_equal(af_entry_check(NULL, b, len), 0);
    for (cut = 0; cut < len; cut++) {
        copy = malloc(cut + 1);
        memcpy(copy, b, cut);
        expect_bad(copy, cut, "truncated");
        free(copy);
    }
    /* the app "hotline": 4 + 4 + 8 + 8 + ... find it */
    for (off = 0, app = NULL; off + 7 <= len && !app; off++)
        if (memcmp(b + off, "hotline", 7) == 0) /* memcmp ok: not secret */
            app = b + off;
    assert_non_null(app);
    off = (size_t)(app - b);
    memcpy(m, b, len);
    m[off] = 0;
    expect_bad_msg(m, len, "NUL in the app", "principal app is not valid UTF-8");
    memcpy(m, b, len);
    m[off + 2] = 0xC0;
    expect_bad_msg(m, len, "bad UTF-8 in the app", "principal app");
    memcpy(m, b, len);
    put32(m + off - 4, 200);
    expect_bad(m, len, "app length past its end");
    memcpy(m, b, len);
    m[len] = 0;
    expect_bad_msg(m, len + 1, "trailing byte", "trailing");
    memcpy(m, b, len);
    m[3] = '3';
    expect_bad_msg(m, len, "LVA3", "bad magic");
    free(m);
    free(b);
}

/* Encoding: versions, a principal in LVA1, bad principal text. */
static void test_lva2_encode_rules(void **state)
{
    af_field f = {"phone", VAULT_EFFECT_ALLOW, "r", 0, {0}};
    af_entry e = {.seq = 1, .action = "read", .fields = &f, .nfields = 1};
    uint8_t *out = NULL;
    size_t len = 0, one;

    (void)state;
    assert_int_equal(af_entry_encode(&out, &len, &e), 0); /* version 0: LVA2 */
    assert_memory_equal(out, "LVA2", 4);
    one = len;
    free(out);
    e.version = 3;
    assert_int_equal(af_entry_encode(&out, &len, &e), VAULT_EINVALID);
    assert_null(out);
    e.version = AF_VERSION_1;
    e.who.peer = "local:uid=0,pid=1";
    assert_int_equal(af_entry_encode(&out, &len, &e), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "LVA1"));
    e.version = AF_VERSION_2;
    e.who.app = "bad \xff";
    assert_int_equal(af_entry_encode(&out, &len, &e), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "principal app"));
    e.who.app = NULL;
    /* three fields with one reason cost one table string */
    {
        af_field three[3] = {f, f, f};

        e.who.peer = NULL;
        e.fields = three, e.nfields = 3;
        three[1].name = "name", three[2].name = "id";
        assert_int_equal(af_entry_encode(&out, &len, &e), 0);
        /* each more field: name str + effect + u16 + has_ct_hash */
        assert_int_equal(len, one + (4 + 4 + 1 + 2 + 1) + (4 + 2 + 1 + 2 + 1));
        free(out);
    }
}

static void test_encode_rejects(void **state)
{
    af_field f = {"phone", VAULT_EFFECT_ALLOW, "r", 0, {0}};
    af_entry e = {.seq = 1, .action = "read", .fields = &f, .nfields = 1};
    af_field *many;
    uint8_t *out = (uint8_t *)1;
    size_t len = 1;
    char *big;

    (void)state;
    e.outcome = 3;
    assert_int_equal(af_entry_encode(&out, &len, &e), VAULT_EINVALID);
    assert_null(out);
    e.outcome = -1;
    assert_int_equal(af_entry_encode(&out, &len, &e), VAULT_EINVALID);
    e.outcome = 0;
    f.effect = 3;
    assert_int_equal(af_entry_encode(&out, &len, &e), VAULT_EINVALID);
    f.effect = 0;
    f.has_ct_hash = 2;
    assert_int_equal(af_entry_encode(&out, &len, &e), VAULT_EINVALID);
    f.has_ct_hash = 0;
    e.has_record = 2;
    assert_int_equal(af_entry_encode(&out, &len, &e), VAULT_EINVALID);
    e.has_record = 0;
    e.flags = 0x80;
    assert_int_equal(af_entry_encode(&out, &len, &e), VAULT_EINVALID);
    e.flags = 0;
    e.user = "bad \xC0\x80 utf8";
    assert_int_equal(af_entry_encode(&out, &len, &e), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "user"));
    e.user = NULL;
    f.reason = "\xED\xA0\x80";
    assert_int_equal(af_entry_encode(&out, &len, &e), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "field 1 reason"));
    f.reason = "ok";
    many = calloc(AF_FIELDS_MAX + 1, sizeof *many);
    e.fields = many, e.nfields = AF_FIELDS_MAX + 1;
    assert_int_equal(af_entry_encode(&out, &len, &e), VAULT_ELIMIT);
    e.nfields = AF_FIELDS_MAX; /* the limit itself is fine */
    out = NULL;
    assert_int_equal(af_entry_encode(&out, &len, &e), 0);
    free(out);
    free(many);
    e.fields = &f, e.nfields = 1;
    big = malloc(AF_ENTRY_MAX + 1);
    memset(big, 'a', AF_ENTRY_MAX);
    big[AF_ENTRY_MAX] = '\0';
    e.detail = big;
    assert_int_equal(af_entry_encode(&out, &len, &e), VAULT_ELIMIT);
    big[AF_ENTRY_MAX - 200] = '\0';
    out = NULL;
    assert_int_equal(af_entry_encode(&out, &len, &e), 0);
    assert_true(len <= AF_ENTRY_MAX);
    free(out);
    free(big);
}

/* ---- known-answer vectors (Python) --------------------------------------- */

static void test_vector_entries(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL;
    size_t n = tu_vectors("audit.txt", rows, &storage), i, len, elen, seen = 0;
    uint8_t head[32] = {0}, leaf[32], want[32];

    (void)state;
    for (i = 0; i < n; i++) {
        uint8_t *raw, *mine;
        af_entry d;
        void *st = NULL;

        if (strcmp(rows[i][0], "entry") != 0)
            continue;
        seen++;
        assert_int_equal(strtoull(rows[i][1], NULL, 10), seen);
        raw = tu_unhex(rows[i][2], &len);
        if (seen <= 3) { /* built here from the documented fields */
            af_entry e;
            vector_entry(&e, (int)seen);
            mine = encode(&e, &elen);
            assert_int_equal(elen, len);
            assert_memory_equal(mine, raw, len);
            free(mine);
        }
        assert_int_equal(af_entry_decode(&d, &st, raw, len), 0);
        assert_int_equal(d.seq, seen);
        mine = encode(&d, &elen);
        assert_int_equal(elen, len);
        assert_memory_equal(mine, raw, len);
        free(mine);
        free(st);
        af_leaf_hash(leaf, raw, len);
        unhex32(want, rows[i][3]);
        assert_memory_equal(leaf, want, 32);
        af_chain_next(head, head, leaf);
        unhex32(want, rows[i][4]);
        assert_memory_equal(head, want, 32);
        free(raw);
    }
    assert_int_equal(seen, 7);
    free(storage);
}

static void test_vector_roots(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL;
    size_t n = tu_vectors("audit.txt", rows, &storage), i, len, nleaves = 0, nroots = 0;
    uint8_t leaves[8][32], root[32], want[32];
    af_merkle m;

    (void)state;
    for (i = 0; i < n; i++)
        if (strcmp(rows[i][0], "entry") == 0) {
            uint8_t *raw = tu_unhex(rows[i][2], &len);
            af_leaf_hash(leaves[nleaves++], raw, len);
            free(raw);
        }
    assert_int_equal(nleaves, 7);
    for (i = 0; i < n; i++) {
        size_t size, k;

        if (strcmp(rows[i][0], "root") != 0)
            continue;
        size = strtoul(rows[i][1], NULL, 10);
        assert_int_equal(size, nroots++);
        af_merkle_init(&m);
        for (k = 0; k < size; k++)
            af_merkle_push(&m, leaves[k]);
        af_merkle_root(&m, root);
        unhex32(want, rows[i][2]);
        assert_memory_equal(root, want, 32);
    }
    assert_int_equal(nroots, 8);
    free(storage);
}

/* ---- hashes and the Merkle tree ----------------------------------------- */

static void test_hash_prefixes(void **state)
{
    uint8_t a[32], b[32], buf[65], want[32], got[32];

    (void)state;
    fill(a, 32, 1);
    fill(b, 32, 77);
    buf[0] = 0x00;
    memcpy(buf + 1, a, 32);
    (void)vc_sha256(want, buf, 33);
    af_leaf_hash(got, a, 32);
    assert_memory_equal(got, want, 32);
    buf[0] = 0x01;
    memcpy(buf + 1, a, 32);
    memcpy(buf + 33, b, 32);
    (void)vc_sha256(want, buf, 65);
    af_node_hash(got, a, b);
    assert_memory_equal(got, want, 32);
    buf[0] = 0x02;
    (void)vc_sha256(want, buf, 65);
    af_chain_next(got, a, b);
    assert_memory_equal(got, want, 32);
    af_node_hash(got, b, a); /* order matters */
    assert_memory_not_equal(got, want, 32);
}

/* RFC 6962 section 2.1, written out recursively and without af_*. */
static void naive_mth(uint8_t out[32], uint8_t (*leaves)[32], size_t n)
{
    uint8_t buf[65];
    size_t k = 1;

    if (n == 0) {
        (void)vc_sha256(out, "", 0);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[0], 32);
        return;
    }
    while (k * 2 < n)
        k *= 2;
    buf[0] = 0x01;
    naive_mth(buf + 1, leaves, k);
    naive_mth(buf + 33, leaves + k, n - k);
    (void)vc_sha256(out, buf, sizeof buf);
}

static void test_merkle_vs_naive(void **state)
{
    enum { MAX = 1100 };
    uint8_t (*leaves)[32] = malloc(MAX * 32), want[32], got[32];
    af_merkle m;
    size_t n, i;
    static const size_t big[] = {127, 128, 129, 1000, 1023, 1024, 1025, MAX};

    (void)state;
    for (i = 0; i < MAX; i++) {
        uint8_t seed[8];
        put32(seed, (uint32_t)i), put32(seed + 4, 0x5eed);
        (void)vc_sha256(leaves[i], seed, sizeof seed);
    }
    af_merkle_init(&m);
    for (n = 0; n <= 64; n++) {
        naive_mth(want, leaves, n);
        af_merkle_root(&m, got);
        assert_memory_equal(got, want, 32);
        assert_int_equal(m.size, n);
        af_merkle_push(&m, leaves[n]);
    }
    for (i = 0; i < VAULT_ARRAY_LEN(big); i++) {
        af_merkle_init(&m);
        for (n = 0; n < big[i]; n++)
            af_merkle_push(&m, leaves[n]);
        naive_mth(want, leaves, big[i]);
        af_merkle_root(&m, got);
        assert_memory_equal(got, want, 32);
    }
    /* The empty tree is SHA-256 of nothing. */
    af_merkle_init(&m);
    af_merkle_root(&m, got);
    unhex32(want, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_memory_equal(got, want, 32);
    free(leaves);
}

/* RFC 6962 section 2.1.1 PATH(m, D[n]), naively, bottom first. */
static size_t naive_path(uint8_t (*out)[32], size_t m, uint8_t (*leaves)[32], size_t n)
{
    size_t k = 1, got;

    if (n <= 1)
        return 0;
    while (k * 2 < n)
        k *= 2;
    if (m < k) {
        got = naive_path(out, m, leaves, k);
        naive_mth(out[got], leaves + k, n - k);
    } else {
        got = naive_path(out, m - k, leaves + k, n - k);
        naive_mth(out[got], leaves, k);
    }
    return got + 1;
}

/* RFC 6962 section 2.1.2 SUBPROOF(m, D[n], b). */
static size_t naive_subproof(uint8_t (*out)[32], size_t m, uint8_t (*leaves)[32], size_t n,
                             int b)
{
    size_t k = 1, got;

    if (m == n) {
        if (b)
            return 0;
        naive_mth(out[0], leaves, n);
        return 1;
    }
    while (k * 2 < n)
        k *= 2;
    if (m <= k) {
        got = naive_subproof(out, m, leaves, k, b);
        naive_mth(out[got], leaves + k, n - k);
    } else {
        got = naive_subproof(out, m - k, leaves + k, n - k, 0);
        naive_mth(out[got], leaves, k);
    }
    return got + 1;
}

static void test_proofs_vs_naive(void **state)
{
    enum { MAX = 40 };
    uint8_t leaves[MAX][32], proof[70][32], r1[32], r2[32];
    size_t n, m, np;

    (void)state;
    for (n = 0; n < MAX; n++) {
        uint8_t seed[8];
        put32(seed, (uint32_t)n), put32(seed + 4, 0x9f00f);
        (void)vc_sha256(leaves[n], seed, sizeof seed);
    }
    for (n = 1; n <= MAX; n++) {
        naive_mth(r2, leaves, n);
        for (m = 0; m < n; m++) {
            np = naive_path(proof, m, leaves, n);
            assert_int_equal(af_inclusion_verify(m, n, leaves[m], (const uint8_t (*)[32])proof,
                                                 np, r2), VAULT_OK);
            /* Another leaf, a changed hash, a hash too few or too many. */
            assert_int_not_equal(af_inclusion_verify(m, n, leaves[(m + 1) % MAX],
                                                     (const uint8_t (*)[32])proof, np, r2),
                                 VAULT_OK);
            if (np) {
                proof[np - 1][5] ^= 1;
                assert_int_equal(af_inclusion_verify(m, n, leaves[m],
                                                     (const uint8_t (*)[32])proof, np, r2),
                                 VAULT_EINTEGRITY);
                proof[np - 1][5] ^= 1;
                assert_int_equal(af_inclusion_verify(m, n, leaves[m],
                                                     (const uint8_t (*)[32])proof, np - 1, r2),
                                 n == 1 ? VAULT_OK : VAULT_EINVALID);
            }
            assert_int_equal(af_inclusion_verify(m, n, leaves[m], (const uint8_t (*)[32])proof,
                                                 np + 1, r2), VAULT_EINVALID);
        }
        assert_int_equal(af_inclusion_verify(n, n, leaves[0], (const uint8_t (*)[32])proof, 0, r2),
                         VAULT_EINVALID);
        for (m = 1; m <= n; m++) {
            naive_mth(r1, leaves, m);
            np = m == n ? 0 : naive_subproof(proof, m, leaves, n, 1);
            assert_int_equal(af_consistency_verify(m, n, r1, r2, (const uint8_t (*)[32])proof, np),
                             VAULT_OK);
            if (np) {
                proof[0][0] ^= 1;
                assert_int_not_equal(af_consistency_verify(m, n, r1, r2,
                                                           (const uint8_t (*)[32])proof, np),
                                     VAULT_OK);
                proof[0][0] ^= 1;
                assert_int_not_equal(af_consistency_verify(m, n, r1, r2,
                                                           (const uint8_t (*)[32])proof, np - 1),
                                     VAULT_OK);
                /* A different old root (a forked history) is refused. */
                r1[9] ^= 1;
                assert_int_equal(af_consistency_verify(m, n, r1, r2,
                                                       (const uint8_t (*)[32])proof, np),
                                 VAULT_EINTEGRITY);
                r1[9] ^= 1;
            }
        }
        assert_int_equal(af_consistency_verify(0, n, r1, r2, NULL, 0), VAULT_OK);
        /* A larger tree can't be consistent with a smaller one. */
        assert_int_equal(af_consistency_verify(n, n - 1, r2, r1, NULL, 0), VAULT_EINVALID);
    }
}

/* ---- checkpoints ------------------------------------------------------------ */

static uint8_t pk1[32], sk1[64], pk2[32], sk2[64];

static void keys(void)
{
    uint8_t seed[32];

    fill(seed, 32, 0x11);
    assert_int_equal(crypto_sign_seed_keypair(pk1, sk1, seed), 0);
    fill(seed, 32, 0x99);
    assert_int_equal(crypto_sign_seed_keypair(pk2, sk2, seed), 0);
}

static char *sign_note(const char *origin, uint64_t size, uint8_t fillbyte, const uint8_t *sk)
{
    uint8_t root[32];
    char *note = NULL;

    fill(root, 32, fillbyte);
    assert_int_equal(af_checkpoint_sign(&note, origin, size, root, sk), 0);
    assert_non_null(note);
    return note;
}

/* Verify a note with the key named after the origin the note claims (its
 * first line): what these tests check is the parsing and the signatures. */
static int verify_str(const char *note, const uint8_t *pk)
{
    af_checkpoint c;
    char name[300];
    const char *nl = strchr(note, '\n');
    size_t n = nl ? (size_t)(nl - note) : strlen(note);

    if (n >= sizeof name)
        n = sizeof name - 1;
    memcpy(name, note, n);
    name[n] = '\0';
    return af_checkpoint_verify(&c, note, strlen(note), name, pk);
}

static void test_checkpoint_roundtrip(void **state)
{
    af_checkpoint c;
    uint8_t root[32];
    char *note;
    static const char *origins[] = {"vault.example/abc", "杭州/上城/审计日志", "x"};
    size_t i;

    (void)state;
    keys();
    for (i = 0; i < VAULT_ARRAY_LEN(origins); i++) {
        note = sign_note(origins[i], 20852163, 7, sk1);
        assert_int_equal(af_checkpoint_verify(&c, note, strlen(note), origins[i], pk1), 0);
        assert_string_equal(c.origin, origins[i]);
        assert_int_equal(c.size, 20852163);
        fill(root, 32, 7);
        assert_memory_equal(c.root, root, 32);
        free(note);
    }
    note = sign_note("o", 0, 1, sk1);
    assert_int_equal(af_checkpoint_verify(&c, note, strlen(note), "o", pk1), 0);
    assert_int_equal(c.size, 0);
    assert_memory_equal(note, "o\n0\n", 4);
    free(note);
    note = sign_note("o", UINT64_MAX, 1, sk1);
    assert_int_equal(af_checkpoint_verify(&c, note, strlen(note), "o", pk1), 0);
    assert_true(c.size == UINT64_MAX);
    free(note);
}

static void test_checkpoint_wrong_key(void **state)
{
    char *note;
    af_checkpoint c;

    (void)state;
    keys();
    note = sign_note("vault.example/abc", 5, 3, sk1);
    assert_int_equal(af_checkpoint_verify(&c, note, strlen(note), "vault.example/abc", pk2),
                     VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "bad signature"));
    /* The parsed (unverified) fields are still reported. */
    assert_int_equal(c.size, 5);
    free(note);
}

/* Replace the first occurrence of `from` in note by `to` (same length). */
static char *edit(const char *note, const char *from, const char *to)
{
    char *copy = strdup(note), *p = strstr(copy, from);

    assert_non_null(p);
    assert_int_equal(strlen(from), strlen(to));
    memcpy(p, to, strlen(to));
    return copy;
}

static void test_checkpoint_tampered(void **state)
{
    char *note, *bad;

    (void)state;
    keys();
    note = sign_note("vault.example/abc", 1234, 0, sk1);
    bad = edit(note, "\n1234\n", "\n1235\n");
    assert_int_equal(verify_str(bad, pk1), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "bad signature"));
    free(bad);
    bad = edit(note, "\nAAEC", "\nAQEC"); /* root = 00 01 02 ... */
    assert_int_equal(verify_str(bad, pk1), VAULT_EINTEGRITY);
    free(bad);
    bad = edit(note, "vault.example/abc\n", "vault.example/abd\n"); /* origin */
    assert_int_equal(verify_str(bad, pk1), VAULT_EINTEGRITY);
    free(bad);
    free(note);
}

/* The key name comes from the verifier key, never from the note: a note
 * of another origin does not verify, even when it carries a valid
 * signature line under the expected name, and lines under other names are
 * ignored (C2SP signed-note). */
static void test_checkpoint_origin(void **state)
{
    char *note, *text_end, buf[AF_NOTE_MAX];
    af_checkpoint c;
    uint8_t sig[4 + 64];
    char b64[128];
    size_t tlen;

    (void)state;
    keys();
    note = sign_note("vault.example/other", 5, 3, sk1);
    assert_int_equal(af_checkpoint_verify(&c, note, strlen(note), "vault.example/other", pk1), 0);
    assert_int_equal(af_checkpoint_verify(&c, note, strlen(note), "vault.example/abc", pk1),
                     VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "bad signature"));
    assert_string_equal(c.origin, "vault.example/other"); /* parsed, unverified */
    assert_int_equal(c.size, 5);
    /* our key and our name, signing the other log's text */
    text_end = strstr(note, "\n\n");
    tlen = (size_t)(text_end - note) + 1;
    af_note_keyid(sig, "vault.example/abc", pk1);
    assert_int_equal(crypto_sign_detached(sig + 4, NULL, (const uint8_t *)note, tlen, sk1), 0);
    assert_int_equal(vc_bin2b64(b64, sizeof b64, sig, sizeof sig), 0);
    snprintf(buf, sizeof buf, "%s\xE2\x80\x94 vault.example/abc %s\n", note, b64);
    assert_int_equal(af_checkpoint_verify(&c, buf, strlen(buf), "vault.example/abc", pk1),
                     VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "origin"));
    free(note);
}

static void test_checkpoint_malformed(void **state)
{
    char *note, *sigline, *bad, buf[AF_NOTE_MAX + 64], *two;
    const char *text = "vault.example/abc\n1234\n";
    size_t tlen;
    int rc;

    (void)state;
    keys();
    note = sign_note("vault.example/abc", 1234, 0, sk1);
    sigline = strstr(note, "\n\n") + 2;
    tlen = (size_t)(sigline - note) - 1;
    assert_int_equal(verify_str(note, pk1), 0);

#define EXPECT(code, ...)                                                  \
    do {                                                                   \
        snprintf(buf, sizeof buf, __VA_ARGS__);                            \
        rc = verify_str(buf, pk1);                                         \
        if (rc != (code))                                                  \
            fail_msg("line %d: got %d (%s)", __LINE__, rc, vault_error_last()); \
    } while (0)

    /* no blank line between text and signatures */
    EXPECT(VAULT_EINVALID, "%.*s%s", (int)tlen, note, sigline);
    /* hyphen instead of em dash */
    EXPECT(VAULT_EINVALID, "%.*s\n- %s", (int)tlen, note, sigline + 4);
    /* em dash without the space */
    EXPECT(VAULT_EINVALID, "%.*s\n\xE2\x80\x94%s", (int)tlen, note, sigline + 4);
    /* no final newline */
    EXPECT(VAULT_EINVALID, "%.*s", (int)strlen(note) - 1, note);
    /* no signature lines */
    EXPECT(VAULT_EINVALID, "%.*s\n", (int)tlen, note);
    /* missing root line */
    EXPECT(VAULT_EINVALID, "%s\n%s", text, sigline);
    /* only one line */
    EXPECT(VAULT_EINVALID, "vault.example/abc\n\n%s", sigline);
    /* bad base64 in the signature */
    bad = edit(note, " vault.example/abc ", " vault.example/abc!");
    assert_int_equal(verify_str(bad, pk1), VAULT_EINVALID);
    free(bad);
    EXPECT(VAULT_EINVALID, "%.*s\n\xE2\x80\x94 vault.example/abc ****\n", (int)tlen, note);
    /* signature shorter than a key id */
    EXPECT(VAULT_EINVALID, "%.*s\n\xE2\x80\x94 vault.example/abc AAAA\n", (int)tlen, note);
    /* no key name */
    EXPECT(VAULT_EINVALID, "%.*s\n\xE2\x80\x94  AAAAAAAA\n", (int)tlen, note);
    /* leading zero, sign, non-digit, overflow in the size line */
    EXPECT(VAULT_EINVALID, "o\n01\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n%s", sigline);
    EXPECT(VAULT_EINVALID, "o\n+1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n%s", sigline);
    EXPECT(VAULT_EINVALID, "o\n1x\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n%s", sigline);
    EXPECT(VAULT_EINVALID, "o\n18446744073709551616\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n%s", sigline);
    EXPECT(VAULT_EINVALID, "o\n\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n%s", sigline);
    /* root of 31 bytes, unpadded, not base64 */
    EXPECT(VAULT_EINVALID, "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n\n%s", sigline);
    EXPECT(VAULT_EINVALID, "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n\n%s", sigline);
    EXPECT(VAULT_EINVALID, "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*=\n\n%s", sigline);
    /* origin empty, with a space, an ideographic space, a plus */
    EXPECT(VAULT_EINVALID, "\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n%s", sigline);
    EXPECT(VAULT_EINVALID, "a b\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n%s", sigline);
    EXPECT(VAULT_EINVALID, "a\xE3\x80\x80" "b\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n%s", sigline);
    EXPECT(VAULT_EINVALID, "a+b\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n%s", sigline);
    /* control character, invalid UTF-8 */
    EXPECT(VAULT_EINVALID, "%.*s\tx\n\n%s", (int)tlen, note, sigline);
    EXPECT(VAULT_EINVALID, "%.*s\r\n%s", (int)tlen, note, sigline);
    EXPECT(VAULT_EINVALID, "%.*s\xFF\n\n%s", (int)tlen, note, sigline);
    /* an empty extension line is malformed; a non-empty one is fine but
     * must be signed */
    EXPECT(VAULT_EINVALID, "%.*s\n\next\n\n%s", (int)tlen, note, sigline);
    EXPECT(VAULT_EINTEGRITY, "%.*sext\n\n%s", (int)tlen, note, sigline);
    /* wrong key id: a signature by an unknown key is ignored, so none verifies */
    bad = strdup(note);
    memcpy(strstr(bad, "\n\n") + 2 + 4 + strlen("vault.example/abc "), "AAAAAA", 6);
    assert_int_equal(verify_str(bad, pk1), VAULT_EINTEGRITY);
    free(bad);
    /* too long */
    memset(buf, 'a', sizeof buf);
    snprintf(buf + AF_NOTE_MAX - strlen(note) + 1, strlen(note) + 1, "%s", note);
    buf[0] = 'x';
    assert_int_equal(af_checkpoint_verify(&(af_checkpoint){0}, buf, AF_NOTE_MAX + 1,
                                          "vault.example/abc", pk1),
                     VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "at most"));
    assert_int_equal(af_checkpoint_verify(&(af_checkpoint){0}, "", 0, "vault.example/abc", pk1),
                     VAULT_EINVALID);
    assert_int_equal(af_checkpoint_verify(&(af_checkpoint){0}, note, strlen(note), NULL, pk1),
                     VAULT_EINVALID);
    free(note);

    /* A foreign signature next to ours is ignored; a second, bad signature
     * by our key rejects the note. */
    note = sign_note("vault.example/abc", 1234, 0, sk1);
    two = sign_note("vault.example/abc", 1234, 0, sk2);
    sigline = strstr(note, "\n\n") + 2;
    EXPECT(0, "%s%s", note, strstr(two, "\n\n") + 2);
    EXPECT(0, "%.*s%s%s", (int)(sigline - note), note, strstr(two, "\n\n") + 2, sigline);
    free(two);
    two = sign_note("vault.example/abc", 1235, 0, sk1); /* our key, other text */
    EXPECT(VAULT_EINTEGRITY, "%s%s", note, strstr(two, "\n\n") + 2);
    free(two);
    /* Our key id with a signature of the wrong length. */
    EXPECT(VAULT_EINTEGRITY, "%.*s%.*sAAAA\n", (int)(sigline - note), note,
           (int)(strlen(sigline) - 1 - 8), sigline);
    free(note);
#undef EXPECT
}

static void test_checkpoint_sign_rejects(void **state)
{
    uint8_t root[32] = {0};
    char *note = NULL, origin[300];

    (void)state;
    keys();
    assert_int_equal(af_checkpoint_sign(&note, "", 1, root, sk1), VAULT_EINVALID);
    assert_int_equal(af_checkpoint_sign(&note, "a b", 1, root, sk1), VAULT_EINVALID);
    assert_int_equal(af_checkpoint_sign(&note, "a+b", 1, root, sk1), VAULT_EINVALID);
    assert_int_equal(af_checkpoint_sign(&note, "a\nb", 1, root, sk1), VAULT_EINVALID);
    assert_int_equal(af_checkpoint_sign(&note, "a\xC2\xA0" "b", 1, root, sk1), VAULT_EINVALID);
    assert_int_equal(af_checkpoint_sign(&note, "a\xFF", 1, root, sk1), VAULT_EINVALID);
    memset(origin, 'o', sizeof origin);
    origin[256] = '\0';
    assert_int_equal(af_checkpoint_sign(&note, origin, 1, root, sk1), VAULT_EINVALID);
    origin[255] = '\0';
    assert_int_equal(af_checkpoint_sign(&note, origin, 1, root, sk1), 0);
    assert_int_equal(verify_str(note, pk1), 0);
    free(note);
}

static void test_checkpoint_vector(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL, path[1024], *mine = NULL;
    size_t n = tu_vectors("audit.txt", rows, &storage), len, tlen, i;
    uint8_t seed[32], pk[32], sk[64], want[32], keyid[4], *file, *text, *kid;
    af_checkpoint c;

    (void)state;
    unhex32(seed, vec(rows, n, "seed", 1));
    unhex32(want, vec(rows, n, "pubkey", 1));
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
    assert_memory_equal(pk, want, 32);
    af_note_keyid(keyid, vec(rows, n, "origin", 1), pk);
    kid = tu_unhex(vec(rows, n, "keyid", 1), &len);
    assert_int_equal(len, 4);
    assert_memory_equal(keyid, kid, 4);
    free(kid);

    snprintf(path, sizeof path, "%s/tests/vectors/checkpoint.txt", VAULT_SOURCE_DIR);
    file = tu_read_file(path, &len);
    assert_non_null(file);
    assert_int_equal(af_checkpoint_verify(&c, (const char *)file, len, vec(rows, n, "origin", 1), pk),
                     0);
    assert_string_equal(c.origin, vec(rows, n, "origin", 1));
    assert_int_equal(c.size, 7);
    for (i = 0; i < n; i++)
        if (strcmp(rows[i][0], "root") == 0 && strcmp(rows[i][1], "7") == 0)
            unhex32(want, rows[i][2]);
    assert_memory_equal(c.root, want, 32);
    text = tu_unhex(vec(rows, n, "notetext", 1), &tlen);
    assert_memory_equal(file, text, tlen);
    free(text);
    /* Ed25519 is deterministic: signing the same checkpoint here gives the
     * very same note. */
    assert_int_equal(af_checkpoint_sign(&mine, c.origin, c.size, c.root, sk), 0);
    assert_int_equal(strlen(mine), len);
    assert_memory_equal(mine, file, len);
    assert_int_equal(af_checkpoint_verify(&c, (const char *)file, len, vec(rows, n, "origin", 1), pk1),
                     VAULT_EINTEGRITY);
    free(mine);
    free(file);
    free(storage);
}

/* ---- the streaming verifier ------------------------------------------------- */

typedef struct tlog {
    size_t n;
    uint8_t **e;
    size_t *len;
    uint8_t (*head)[32];
    uint8_t (*leaf)[32];
} tlog;

/* n synthetic entries; `variant` changes their contents (another history). */
static void tlog_make(tlog *l, size_t n, unsigned variant)
{
    static const char *users[] = {"wang.fang", "李娜", "zhao.lei", "chen.jing"};
    static const char *actions[] = {"read", "write", "search", "grant", "erase"};
    uint8_t prev[32] = {0};
    size_t i;

    l->n = n;
    l->e = calloc(n + 1, sizeof *l->e);
    l->len = calloc(n + 1, sizeof *l->len);
    l->head = calloc(n + 1, 32);
    l->leaf = calloc(n + 1, 32);
    for (i = 0; i < n; i++) {
        af_field f = {"phone", (int)(i % 3), "rule r-1 (p.yaml:10)", (int)(i % 2), {0}};
        char detail[32];
        af_entry e = {.seq = i + 1, .time_us = 1709251200000000LL + (int64_t)i * 1000,
                      .user = users[i % 4], .role = "grid_worker", .department = "street",
                      .jurisdiction = "hangzhou/shangcheng/xiaohe", .purpose = "visit",
                      .action = actions[i % 5], .outcome = (int)(i % 3), .has_record = 1,
                      .fields = &f, .nfields = 1, .detail = detail};

        snprintf(detail, sizeof detail, "v%u", variant);
        /* A migrated log: LVA1 entries first, then LVA2 ones with a
         * principal; the verifier takes both in one chain. */
        if (i < n / 2) {
            e.version = AF_VERSION_1;
        } else {
            e.who.app = "hotline";
            e.who.peer = "unix:uid=998";
        }
        fill(e.record_id, 16, (uint8_t)i);
        fill(f.ct_hash, 32, (uint8_t)(i * 3));
        l->e[i] = encode(&e, &l->len[i]);
        af_leaf_hash(l->leaf[i], l->e[i], l->len[i]);
        af_chain_next(l->head[i], prev, l->leaf[i]);
        memcpy(prev, l->head[i], 32);
    }
}

static void tlog_free(tlog *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->e[i]);
    free(l->e), free(l->len), free(l->head), free(l->leaf);
}

static void tlog_cp(const tlog *l, size_t size, af_checkpoint *cp)
{
    af_merkle m;
    size_t i;

    memset(cp, 0, sizeof *cp);
    af_merkle_init(&m);
    for (i = 0; i < size; i++)
        af_merkle_push(&m, l->leaf[i]);
    af_merkle_root(&m, cp->root);
    cp->size = size;
    snprintf(cp->origin, sizeof cp->origin, "test");
}

/* Push entries in the order given by `order` (1-based seqs into l). */
static int run(const tlog *l, const size_t *order, size_t n, const af_checkpoint *cps,
               size_t ncps, int with_heads, af_verify_result *res)
{
    af_verifier v;
    size_t i;

    af_verifier_init(&v, cps, ncps);
    for (i = 0; i < n; i++) {
        size_t k = order[i] - 1;
        af_verifier_push(&v, order[i], l->e[k], l->len[k], with_heads ? l->head[k] : NULL);
    }
    af_verifier_finish(&v);
    *res = v.res;
    return v.res.cls;
}

static size_t seq_order[64];

static const size_t *in_order(size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        seq_order[i] = i + 1;
    return seq_order;
}

static void test_verifier_intact(void **state)
{
    tlog l;
    af_checkpoint cps[3];
    af_verify_result r;

    (void)state;
    tlog_make(&l, 10, 0);
    tlog_cp(&l, 0, &cps[0]);
    tlog_cp(&l, 5, &cps[1]);
    tlog_cp(&l, 10, &cps[2]);
    assert_int_equal(run(&l, in_order(10), 10, cps, 3, 1, &r), AF_OK);
    assert_int_equal(r.entries, 10);
    assert_int_equal(r.checkpoints, 3);
    assert_int_equal(r.bad_seq, 0);
    assert_int_equal(run(&l, in_order(10), 10, NULL, 0, 0, &r), AF_OK);
    assert_int_equal(run(&l, in_order(0), 0, NULL, 0, 0, &r), AF_OK);
    tlog_free(&l);
}

/* A migrated log (LVA1 entries, then LVA2 ones) verifies as one chain; a
 * changed principal byte in an LVA2 entry is modified at that entry. */
static void test_verifier_mixed_versions(void **state)
{
    tlog l;
    af_checkpoint cp;
    af_verify_result r;
    af_entry d;
    void *st = NULL;
    size_t i, k;

    (void)state;
    tlog_make(&l, 10, 0);
    tlog_cp(&l, 10, &cp);
    for (i = 0; i < 10; i++) {
        assert_int_equal(af_entry_decode(&d, &st, l.e[i], l.len[i]), 0);
        assert_int_equal(d.version, i < 5 ? AF_VERSION_1 : AF_VERSION_2);
        free(st);
    }
    assert_int_equal(run(&l, in_order(10), 10, &cp, 1, 1, &r), AF_OK);
    assert_int_equal(r.entries, 10);
    for (k = 0; k + 7 <= l.len[7]; k++)
        if (memcmp(l.e[7] + k, "hotline", 7) == 0) /* memcmp ok: not secret */
            break;
    assert_true(k + 7 <= l.len[7]);
    l.e[7][k] = 'H'; /* still a well-formed entry */
    assert_int_equal(af_entry_check(NULL, l.e[7], l.len[7]), 0);
    assert_int_equal(run(&l, in_order(10), 10, &cp, 1, 1, &r), AF_MODIFIED);
    assert_int_equal(r.bad_seq, 8);
    assert_int_equal(run(&l, in_order(10), 10, &cp, 1, 0, &r), AF_MODIFIED);
    assert_int_equal(r.bad_seq, 10); /* without heads: the checkpoint */
    tlog_free(&l);
}

static void test_verifier_modified(void **state)
{
    tlog l;
    af_checkpoint cps[2];
    af_verify_result r;
    size_t i;
    uint8_t prev[32] = {0};

    (void)state;
    tlog_make(&l, 10, 0);
    tlog_cp(&l, 5, &cps[0]);
    tlog_cp(&l, 10, &cps[1]);
    l.e[5][13] ^= 0x01; /* entry 6: a bit of its time */
    assert_int_equal(run(&l, in_order(10), 10, cps, 2, 1, &r), AF_MODIFIED);
    assert_int_equal(r.bad_seq, 6);
    assert_non_null(strstr(r.message, "entry 6: modified"));
    /* Without stored heads the checkpoint after it catches it. */
    assert_int_equal(run(&l, in_order(10), 10, cps, 2, 0, &r), AF_MODIFIED);
    assert_int_equal(r.bad_seq, 10);
    assert_non_null(strstr(r.message, "do not match the signed checkpoint"));
    /* Heads recomputed by the forger: the checkpoint still catches it. */
    for (i = 0; i < 10; i++) {
        af_leaf_hash(l.leaf[i], l.e[i], l.len[i]);
        af_chain_next(l.head[i], prev, l.leaf[i]);
        memcpy(prev, l.head[i], 32);
    }
    assert_int_equal(run(&l, in_order(10), 10, cps, 2, 1, &r), AF_MODIFIED);
    assert_int_equal(r.bad_seq, 10);
    assert_int_equal(r.checkpoints, 1);
    tlog_free(&l);
}

static void test_verifier_seq_inside(void **state)
{
    tlog l;
    af_verify_result r;
    size_t order[4] = {1, 2, 3, 4};

    (void)state;
    tlog_make(&l, 4, 0);
    /* Entry 3's bytes stored under number 3 but claiming number 4 (and
     * entry 4 missing): the seq inside wins over the row's. */
    free(l.e[2]);
    l.e[2] = malloc(l.len[3]);
    memcpy(l.e[2], l.e[3], l.len[3]);
    l.len[2] = l.len[3];
    assert_int_equal(run(&l, order, 4, NULL, 0, 0, &r), AF_MODIFIED);
    assert_int_equal(r.bad_seq, 3);
    assert_non_null(strstr(r.message, "sequence number 4"));
    /* Bytes that do not decode. */
    l.e[2][0] = 'X';
    assert_int_equal(run(&l, order, 4, NULL, 0, 0, &r), AF_MALFORMED);
    assert_int_equal(r.bad_seq, 3);
    assert_non_null(strstr(r.message, "entry 3: malformed"));
    assert_non_null(strstr(r.message, "magic"));
    tlog_free(&l);
}

static void test_verifier_missing(void **state)
{
    tlog l;
    af_verify_result r;
    size_t del4[] = {1, 2, 3, 5, 6, 7, 8, 9, 10}, del1[] = {2, 3, 4}, del_many[] = {1, 2, 7, 8};

    (void)state;
    tlog_make(&l, 10, 0);
    assert_int_equal(run(&l, del4, 9, NULL, 0, 1, &r), AF_MISSING);
    assert_int_equal(r.bad_seq, 4);
    assert_non_null(strstr(r.message, "entry 4: missing"));
    assert_int_equal(r.entries, 9);
    assert_int_equal(run(&l, del1, 3, NULL, 0, 1, &r), AF_MISSING);
    assert_int_equal(r.bad_seq, 1);
    assert_int_equal(run(&l, del_many, 4, NULL, 0, 1, &r), AF_MISSING);
    assert_int_equal(r.bad_seq, 3);
    tlog_free(&l);
}

static void test_verifier_reordered(void **state)
{
    tlog l;
    af_verify_result r;
    size_t swap[] = {1, 2, 4, 3, 5}, far[] = {1, 2, 4, 5, 6, 3}, dup[] = {1, 2, 3, 2, 4},
           back[] = {2, 1, 3};
    af_verifier v;

    (void)state;
    tlog_make(&l, 6, 0);
    assert_int_equal(run(&l, swap, 5, NULL, 0, 1, &r), AF_REORDERED);
    assert_int_equal(r.bad_seq, 3);
    assert_non_null(strstr(r.message, "entry 3: reordered"));
    assert_int_equal(run(&l, far, 6, NULL, 0, 1, &r), AF_REORDERED);
    assert_int_equal(r.bad_seq, 3);
    assert_int_equal(run(&l, dup, 5, NULL, 0, 1, &r), AF_REORDERED);
    assert_int_equal(r.bad_seq, 2);
    assert_non_null(strstr(r.message, "entry 2: reordered (stored after entry 3)"));
    assert_int_equal(run(&l, back, 3, NULL, 0, 1, &r), AF_REORDERED);
    assert_int_equal(r.bad_seq, 1);
    /* sequence number 0 never exists */
    af_verifier_init(&v, NULL, 0);
    assert_int_equal(af_verifier_push(&v, 0, l.e[0], l.len[0], NULL), AF_MALFORMED);
    tlog_free(&l);
}

static void test_verifier_truncated(void **state)
{
    tlog l;
    af_checkpoint cps[2];
    af_verify_result r;

    (void)state;
    tlog_make(&l, 10, 0);
    tlog_cp(&l, 4, &cps[0]);
    tlog_cp(&l, 10, &cps[1]);
    assert_int_equal(run(&l, in_order(7), 7, cps, 2, 1, &r), AF_TRUNCATED);
    assert_int_equal(r.bad_seq, 8);
    assert_non_null(strstr(r.message, "entry 8: truncated (log has 7 entries but checkpoint "
                                      "covers 10)"));
    assert_int_equal(r.checkpoints, 1);
    assert_int_equal(run(&l, in_order(0), 0, cps, 2, 1, &r), AF_TRUNCATED);
    assert_int_equal(r.bad_seq, 1);
    tlog_free(&l);
}

static void test_verifier_rollback(void **state)
{
    tlog real, other;
    af_checkpoint cps[1];
    af_verify_result r;

    (void)state;
    tlog_make(&real, 8, 0);
    tlog_make(&other, 8, 1); /* the history the checkpoint was signed over */
    tlog_cp(&other, 5, &cps[0]);
    assert_int_equal(run(&real, in_order(8), 8, cps, 1, 1, &r), AF_MODIFIED);
    assert_int_equal(r.bad_seq, 5);
    assert_non_null(strstr(r.message, "entry 5: modified (entries up to 5"));
    tlog_cp(&other, 0, &cps[0]); /* the empty tree has one root only */
    assert_int_equal(run(&real, in_order(8), 8, cps, 1, 1, &r), AF_OK);
    tlog_free(&real);
    tlog_free(&other);
}

static void test_verifier_sticky(void **state)
{
    tlog l;
    af_verifier v;
    af_checkpoint cps[2];
    af_verify_result first;

    (void)state;
    tlog_make(&l, 6, 0);
    af_verifier_init(&v, NULL, 0);
    assert_int_equal(af_verifier_push(&v, 1, l.e[0], l.len[0], l.head[0]), AF_OK);
    assert_int_equal(af_verifier_push(&v, 2, l.e[1], l.len[1], l.head[0]), AF_MODIFIED);
    first = v.res;
    assert_int_equal(af_verifier_push(&v, 3, l.e[2], l.len[2], l.head[2]), AF_MODIFIED);
    assert_int_equal(af_verifier_push(&v, 9, l.e[2], l.len[2], NULL), AF_MODIFIED);
    assert_int_equal(af_verifier_finish(&v), AF_MODIFIED);
    assert_int_equal(v.res.bad_seq, first.bad_seq);
    assert_string_equal(v.res.message, first.message);
    /* Unsorted checkpoints are refused rather than half checked. */
    tlog_cp(&l, 4, &cps[0]);
    tlog_cp(&l, 2, &cps[1]);
    af_verifier_init(&v, cps, 2);
    assert_int_equal(af_verifier_push(&v, 1, l.e[0], l.len[0], NULL), AF_MALFORMED);
    assert_string_equal(af_class_name(AF_MODIFIED), "modified");
    assert_string_equal(af_class_name(AF_BAD_SIGNATURE), "bad signature");
    assert_string_equal(af_class_name(99), "unknown");
    tlog_free(&l);
}

/* ---- export ---------------------------------------------------------------- */

static char *tmpdir;

static int setup_tmp(void **state)
{
    (void)state;
    tmpdir = tu_tmpdir();
    return 0;
}

static int teardown_tmp(void **state)
{
    (void)state;
    tu_rmdir(tmpdir);
    tmpdir = NULL;
    return 0;
}

static char *tpath(const char *name)
{
    static char p[1024];

    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

/* Entry lines as af_export_compact_line writes them (no decoded keys). */
static int export_compact;

/* Write an export of l with checkpoints at the given sizes. */
static void write_export(const char *path, const tlog *l, const uint64_t *sizes, size_t ncp,
                         const uint8_t *sk)
{
    FILE *f = fopen(path, "w");
    size_t i;

    assert_non_null(f);
    for (i = 0; i < ncp; i++) {
        af_checkpoint c;
        char *note = NULL, *line = NULL;

        tlog_cp(l, sizes[i], &c);
        assert_int_equal(af_checkpoint_sign(&note, "vault.example/test", c.size, c.root, sk), 0);
        assert_int_equal(af_export_checkpoint_line(&line, note), 0);
        fprintf(f, "%s\n", line);
        free(line);
        free(note);
    }
    for (i = 0; i < l->n; i++) {
        char *line = NULL;

        assert_int_equal((export_compact ? af_export_compact_line : af_export_entry_line)(
                             &line, i + 1, l->e[i], l->len[i], l->head[i]), 0);
        assert_null(strchr(line, '\n'));
        fprintf(f, "%s\n", line);
        free(line);
    }
    assert_int_equal(fclose(f), 0);
}

static int verify_path(const char *path, af_verify_result *r, const char *ext)
{
    FILE *f = fopen(path, "r");
    int cls;

    assert_non_null(f);
    cls = af_export_verify(r, f, "vault.example/test", pk1, &ext, ext ? 1 : 0, NULL, NULL);
    fclose(f);
    return cls;
}

static int verify_path_notes(const char *path, af_verify_result *r, const char *const *notes,
                             size_t n)
{
    FILE *f = fopen(path, "r");
    int cls;

    assert_non_null(f);
    cls = af_export_verify(r, f, "vault.example/test", pk1, notes, n, NULL, NULL);
    fclose(f);
    return cls;
}

/* The file's lines (without newlines), NULL-terminated, in one block. */
typedef struct lines {
    char **line;
    size_t n;
    uint8_t *buf;
} lines;

static void lines_read(lines *ls, const char *path)
{
    size_t len = 0, i, cap = 16;
    uint8_t *p;

    ls->buf = tu_read_file(path, &len);
    assert_non_null(ls->buf);
    ls->buf = realloc(ls->buf, len + 1);
    ls->buf[len] = '\0';
    ls->line = malloc(cap * sizeof *ls->line);
    ls->n = 0;
    for (p = ls->buf, i = 0; i < len;) {
        uint8_t *nl = memchr(p, '\n', len - i);
        assert_non_null(nl);
        *nl = '\0';
        if (ls->n == cap)
            ls->line = realloc(ls->line, (cap *= 2) * sizeof *ls->line);
        ls->line[ls->n++] = (char *)p;
        i += (size_t)(nl - p) + 1;
        p = nl + 1;
    }
    ls->line = realloc(ls->line, (ls->n + 1) * sizeof *ls->line); /* room for one more */
}

static void lines_write(const lines *ls, const char *path)
{
    FILE *f = fopen(path, "w");
    size_t i;

    assert_non_null(f);
    for (i = 0; i < ls->n; i++)
        if (ls->line[i])
            fprintf(f, "%s\n", ls->line[i]);
    assert_int_equal(fclose(f), 0);
}

/* Apply a change to the lines of `orig`, write, verify, restore. */
static int tamper(const char *orig, void (*change)(lines *, void *), void *arg,
                  af_verify_result *r)
{
    lines ls;
    int cls;

    lines_read(&ls, orig);
    change(&ls, arg);
    lines_write(&ls, tpath("tampered.jsonl"));
    free(ls.line);
    free(ls.buf);
    cls = verify_path(tpath("tampered.jsonl"), r, NULL);
    return cls;
}

/* Lines: 0,1 checkpoints; entry seq k is line k+1. */
#define ENTRY_LINE(seq) ((seq) + 1)

static void ch_entry_byte(lines *ls, void *arg)
{
    char *l = ls->line[ENTRY_LINE(*(size_t *)arg)], *b64 = strstr(l, "\"entry\":\"") + 9;

    /* base64 character 20 encodes bits of the entry's time field */
    b64[20] = b64[20] == 'A' ? 'B' : 'A';
}

static void ch_delete(lines *ls, void *arg)
{
    ls->line[ENTRY_LINE(*(size_t *)arg)] = NULL;
}

static void ch_swap(lines *ls, void *arg)
{
    size_t a = ENTRY_LINE(*(size_t *)arg);
    char *t = ls->line[a];

    ls->line[a] = ls->line[a + 1];
    ls->line[a + 1] = t;
}

static void ch_cut_tail(lines *ls, void *arg)
{
    ls->n -= *(size_t *)arg;
}

static void ch_checkpoint_sig(lines *ls, void *arg)
{
    char *l = ls->line[*(size_t *)arg], *sig = strstr(l, "\\u2014");
    char *p;

    if (!sig)
        sig = strstr(l, "\xE2\x80\x94");
    assert_non_null(sig);
    p = strstr(sig, "\\n\"}") - 10; /* inside the base64 signature */
    *p = *p == 'A' ? 'B' : 'A';
}

static void ch_garbage(lines *ls, void *arg)
{
    ls->line[ENTRY_LINE(*(size_t *)arg)] = "this is not json";
}

static void ch_head(lines *ls, void *arg)
{
    char *h = strstr(ls->line[ENTRY_LINE(*(size_t *)arg)], "\"head\":\"") + 8;

    h[0] = h[0] == '0' ? '1' : '0';
}

static void ch_move_to_end(lines *ls, void *arg)
{
    size_t k = ENTRY_LINE(*(size_t *)arg);

    ls->line[ls->n++] = ls->line[k]; /* lines_read left room for one more */
    ls->line[k] = NULL;
}

/* Delete entry `arg`, then damage two later lines: after a gap only
 * sequence numbers matter, so the gap stays the finding. */
static void ch_delete_then_garbage(lines *ls, void *arg)
{
    ls->line[ENTRY_LINE(*(size_t *)arg)] = NULL;
    ls->line[ENTRY_LINE(*(size_t *)arg + 20)] = "garbage";
    ls->line[ENTRY_LINE(*(size_t *)arg + 30)] = "{\"seq\":\"x\"}";
}

static void ch_move_checkpoint(lines *ls, void *arg)
{
    (void)arg;
    ls->line[ls->n++] = ls->line[0]; /* after the entries (lines_read left room) */
    ls->line[0] = NULL;
}

static void test_export_roundtrip_and_tamper(void **state)
{
    tlog l;
    uint64_t sizes[2] = {50, 100};
    af_verify_result r;
    size_t arg;
    const char *orig = tpath("export.jsonl");

    (void)state;
    keys();
    tlog_make(&l, 100, 0);
    write_export(tpath("export.jsonl"), &l, sizes, 2, sk1);
    orig = strdup(tpath("export.jsonl"));
    assert_int_equal(verify_path(orig, &r, NULL), AF_OK);
    assert_int_equal(r.entries, 100);
    assert_int_equal(r.checkpoints, 2);
    assert_int_equal(r.bad_seq, 0);

    arg = 37;
    assert_int_equal(tamper(orig, ch_entry_byte, &arg, &r), AF_MODIFIED);
    assert_int_equal(r.bad_seq, 37);
    assert_non_null(strstr(r.message, "entry 37: modified"));
    arg = 64;
    assert_int_equal(tamper(orig, ch_head, &arg, &r), AF_MODIFIED);
    assert_int_equal(r.bad_seq, 64);
    arg = 40;
    assert_int_equal(tamper(orig, ch_delete, &arg, &r), AF_MISSING);
    assert_int_equal(r.bad_seq, 40);
    assert_non_null(strstr(r.message, "entry 40: missing"));
    arg = 1;
    assert_int_equal(tamper(orig, ch_delete, &arg, &r), AF_MISSING);
    assert_int_equal(r.bad_seq, 1);
    arg = 40;
    assert_int_equal(tamper(orig, ch_swap, &arg, &r), AF_REORDERED);
    assert_int_equal(r.bad_seq, 40);
    assert_non_null(strstr(r.message, "entry 40: reordered"));
    arg = 40;
    assert_int_equal(tamper(orig, ch_move_to_end, &arg, &r), AF_REORDERED);
    assert_int_equal(r.bad_seq, 40);
    assert_int_equal(tamper(orig, ch_delete_then_garbage, &arg, &r), AF_MISSING);
    assert_int_equal(r.bad_seq, 40);
    arg = 10;
    assert_int_equal(tamper(orig, ch_cut_tail, &arg, &r), AF_TRUNCATED);
    assert_int_equal(r.bad_seq, 91);
    assert_non_null(strstr(r.message, "log has 90 entries but checkpoint covers 100"));
    assert_int_equal(r.entries, 90);
    arg = 60; /* below the first checkpoint too */
    assert_int_equal(tamper(orig, ch_cut_tail, &arg, &r), AF_TRUNCATED);
    assert_int_equal(r.bad_seq, 41);
    arg = 1; /* checkpoint line 2 (size 100) */
    assert_int_equal(tamper(orig, ch_checkpoint_sig, &arg, &r), AF_BAD_SIGNATURE);
    assert_int_equal(r.bad_seq, 100);
    assert_non_null(strstr(r.message, "checkpoint 100: bad signature"));
    arg = 0;
    assert_int_equal(tamper(orig, ch_checkpoint_sig, &arg, &r), AF_BAD_SIGNATURE);
    assert_int_equal(r.bad_seq, 50);
    arg = 55;
    assert_int_equal(tamper(orig, ch_garbage, &arg, &r), AF_MALFORMED);
    assert_int_equal(r.bad_seq, 55);
    assert_non_null(strstr(r.message, "line 57: malformed"));
    assert_int_equal(tamper(orig, ch_move_checkpoint, NULL, &r), AF_MALFORMED);
    assert_non_null(strstr(r.message, "line 102: malformed (checkpoint line after"));
    free((char *)orig);
    tlog_free(&l);
}

/* A finding, then within the worker's window a line the JSON parser
 * reads (garbage, a line with a space, a line too long): the finding
 * stays the verdict, with its count. */
static void ch_entry_then_garbage(lines *ls, void *arg)
{
    size_t k = *(size_t *)arg;

    ch_entry_byte(ls, arg);
    ls->line[ENTRY_LINE(k + 50)] = "garbage";
}

static void ch_entry_then_spaced(lines *ls, void *arg)
{
    static char b[4096];
    size_t k = *(size_t *)arg;
    const char *l = ls->line[ENTRY_LINE(k + 50)];

    ch_entry_byte(ls, arg);
    snprintf(b, sizeof b, "{ %s", l + 1);
    ls->line[ENTRY_LINE(k + 50)] = b;
}

static void ch_entry_then_long(lines *ls, void *arg)
{
    static char *b;
    size_t k = *(size_t *)arg;

    ch_entry_byte(ls, arg);
    if (!b) {
        b = malloc(AF_EXPORT_LINE_MAX + 16);
        assert_non_null(b);
        memset(b, 'x', AF_EXPORT_LINE_MAX + 10);
        b[AF_EXPORT_LINE_MAX + 10] = '\0';
    }
    ls->line[ENTRY_LINE(k + 50)] = b;
}

/* Compact lines (af_export_compact_line) go past the JSON parser to the
 * worker thread (audit/audit_pipe.h): every tampering gives the same
 * verdict, first bad entry, message and count as the full lines read by
 * the JSON parser, also across the pipe's batches (2048 entries), and a
 * line that isn't canonical is still read (through the parser). */
static void test_export_compact_same_verdicts(void **state)
{
    enum { N = 5000 };
    tlog l;
    uint64_t sizes[3] = {1000, 2500, N};
    af_verify_result rf, rc;
    static const struct {
        void (*change)(lines *, void *);
        size_t arg;
        int cls;
    } cases[] = {
        {ch_entry_byte, 3001, AF_MODIFIED},   {ch_head, 2049, AF_MODIFIED},
        {ch_delete, 2500, AF_MISSING},        {ch_swap, 4095, AF_REORDERED},
        {ch_move_to_end, 100, AF_REORDERED},  {ch_delete_then_garbage, 2040, AF_MISSING},
        {ch_cut_tail, 10, AF_TRUNCATED},      {ch_garbage, 4500, AF_MALFORMED},
        {ch_checkpoint_sig, 1, AF_BAD_SIGNATURE}, {ch_entry_then_garbage, 3000, AF_MODIFIED},
        {ch_entry_then_spaced, 3000, AF_MODIFIED}, {ch_entry_then_long, 3000, AF_MODIFIED},
    };
    char *full, *compact;
    lines ls;
    size_t i;

    (void)state;
    keys();
    tlog_make(&l, N, 0);
    write_export(tpath("full.jsonl"), &l, sizes, 3, sk1);
    full = strdup(tpath("full.jsonl"));
    export_compact = 1;
    write_export(tpath("compact.jsonl"), &l, sizes, 3, sk1);
    export_compact = 0;
    compact = strdup(tpath("compact.jsonl"));
    assert_non_null(full);
    assert_non_null(compact);
    lines_read(&ls, compact);
    assert_string_equal(strstr(ls.line[5], "\",\"head\":\"") + 10 + 64, "\"}");
    assert_null(strstr(ls.line[5], "\"user\""));
    free(ls.line);
    free(ls.buf);
    assert_int_equal(verify_path(compact, &rc, NULL), AF_OK);
    assert_int_equal(rc.entries, N);
    assert_int_equal(rc.checkpoints, 3);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t a = cases[i].arg;

        assert_int_equal(tamper(full, cases[i].change, &a, &rf), cases[i].cls);
        a = cases[i].arg;
        assert_int_equal(tamper(compact, cases[i].change, &a, &rc), cases[i].cls);
        assert_int_equal(rc.bad_seq, rf.bad_seq);
        assert_int_equal(rc.entries, rf.entries);
        assert_int_equal(rc.checkpoints, rf.checkpoints);
        assert_string_equal(rc.message, rf.message);
    }
    /* not canonical (a space, a key order, upper-case hex): the parser's */
    lines_read(&ls, compact);
    {
        char *l1 = ls.line[ENTRY_LINE(7)], *l2 = ls.line[ENTRY_LINE(3000)];
        char *h = strstr(ls.line[ENTRY_LINE(4000)], "\"head\":\"") + 8;
        static char b1[4096], b2[4096];

        snprintf(b1, sizeof b1, "{ %s", l1 + 1);
        ls.line[ENTRY_LINE(7)] = b1;
        char *rest;

        *strstr(l2, ",\"entry\"") = '\0';
        rest = l2 + strlen(l2) + 1; /* "entry":"...","head":"..."} */
        snprintf(b2, sizeof b2, "{%.*s,%s}", (int)strlen(rest) - 1, rest, l2 + 1);
        ls.line[ENTRY_LINE(3000)] = b2;
        for (int k = 0; k < 64; k++)
            if (h[k] >= 'a' && h[k] <= 'f')
                h[k] = (char)(h[k] - 'a' + 'A');
    }
    lines_write(&ls, tpath("mixed.jsonl"));
    free(ls.line);
    free(ls.buf);
    assert_int_equal(verify_path(tpath("mixed.jsonl"), &rc, NULL), AF_OK);
    assert_int_equal(rc.entries, N);
    free(full);
    free(compact);
    tlog_free(&l);
}

static void test_export_external_note(void **state)
{
    tlog l, other;
    uint64_t sizes[1] = {10};
    af_verify_result r;
    af_checkpoint c;
    char *note = NULL, *foreign;

    (void)state;
    keys();
    tlog_make(&l, 20, 0);
    tlog_make(&other, 30, 1);
    write_export(tpath("ext.jsonl"), &l, sizes, 1, sk1);
    tlog_cp(&l, 20, &c);
    assert_int_equal(af_checkpoint_sign(&note, "vault.example/test", 20, c.root, sk1), 0);
    assert_int_equal(verify_path(tpath("ext.jsonl"), &r, note), AF_OK);
    assert_int_equal(r.checkpoints, 2);
    free(note);
    /* Kept outside: a later checkpoint than the export reaches. */
    tlog_cp(&l, 20, &c);
    note = NULL;
    assert_int_equal(af_checkpoint_sign(&note, "vault.example/test", 25, c.root, sk1), 0);
    assert_int_equal(verify_path(tpath("ext.jsonl"), &r, note), AF_ROLLBACK);
    assert_int_equal(r.bad_seq, 21);
    assert_non_null(strstr(r.message, "rolled back"));
    free(note);
    /* Rolled back: the log was rewritten after the external checkpoint. */
    tlog_cp(&other, 15, &c);
    note = NULL;
    assert_int_equal(af_checkpoint_sign(&note, "vault.example/test", 15, c.root, sk1), 0);
    assert_int_equal(verify_path(tpath("ext.jsonl"), &r, note), AF_ROLLBACK);
    assert_int_equal(r.bad_seq, 15);
    assert_string_equal(af_class_name(r.cls), "rolled back");
    free(note);
    /* Another key's note, a malformed note. */
    foreign = sign_note("vault.example/test", 20, 0, sk2);
    assert_int_equal(verify_path(tpath("ext.jsonl"), &r, foreign), AF_BAD_SIGNATURE);
    assert_int_equal(r.bad_seq, 20);
    assert_non_null(strstr(r.message, "external"));
    assert_int_equal(verify_path(tpath("ext.jsonl"), &r, "not a note"), AF_MALFORMED);
    assert_non_null(strstr(r.message, "external checkpoint: malformed"));
    free(foreign);
    /* Two signed checkpoints of one size with different roots, one kept
     * outside: the key signed two histories, and the export isn't the one
     * the outside copy vouches for. */
    tlog_cp(&other, 10, &c);
    note = NULL;
    assert_int_equal(af_checkpoint_sign(&note, "vault.example/test", 10, c.root, sk1), 0);
    assert_int_equal(verify_path(tpath("ext.jsonl"), &r, note), AF_ROLLBACK);
    assert_int_equal(r.bad_seq, 10);
    assert_non_null(strstr(r.message, "two histories"));
    free(note);
    tlog_free(&l);
    tlog_free(&other);
}

/* Every external note is checked, in whatever order they come. */
static void test_export_several_notes(void **state)
{
    tlog l;
    uint64_t sizes[1] = {10};
    af_verify_result r;
    af_checkpoint c;
    char *good = NULL, *late = NULL, *foreign, *other_origin = NULL;
    const char *notes[3];

    (void)state;
    keys();
    tlog_make(&l, 20, 0);
    write_export(tpath("several.jsonl"), &l, sizes, 1, sk1);
    tlog_cp(&l, 12, &c);
    assert_int_equal(af_checkpoint_sign(&good, "vault.example/test", 12, c.root, sk1), 0);
    assert_int_equal(af_checkpoint_sign(&late, "vault.example/test", 25, c.root, sk1), 0);
    assert_int_equal(af_checkpoint_sign(&other_origin, "vault.example/else", 12, c.root, sk1), 0);
    foreign = sign_note("vault.example/test", 7, 0, sk2);
    notes[0] = good;
    assert_int_equal(verify_path_notes(tpath("several.jsonl"), &r, notes, 1), AF_OK);
    assert_int_equal(r.checkpoints, 2);
    /* a note beyond the export, given first */
    notes[0] = late;
    notes[1] = good;
    assert_int_equal(verify_path_notes(tpath("several.jsonl"), &r, notes, 2), AF_ROLLBACK);
    assert_int_equal(r.bad_seq, 21);
    /* a bad note in the middle: at its size, named by its place */
    notes[0] = good;
    notes[1] = foreign;
    notes[2] = good;
    assert_int_equal(verify_path_notes(tpath("several.jsonl"), &r, notes, 3), AF_BAD_SIGNATURE);
    assert_int_equal(r.bad_seq, 7);
    assert_non_null(strstr(r.message, "external checkpoint 2"));
    /* another log's note signed by the same key */
    notes[1] = other_origin;
    assert_int_equal(verify_path_notes(tpath("several.jsonl"), &r, notes, 2), AF_BAD_SIGNATURE);
    assert_int_equal(r.bad_seq, 12);
    notes[1] = NULL;
    assert_int_equal(verify_path_notes(tpath("several.jsonl"), &r, notes, 2), VAULT_EINVALID);
    free(good);
    free(late);
    free(foreign);
    free(other_origin);
    tlog_free(&l);
}

static void test_export_malformed(void **state)
{
    FILE *f;
    af_verify_result r;
    tlog l;
    char *line = NULL;
    size_t i;
    static const char *bad[] = {
        "[1,2]",
        "{\"seq\":1}",
        "{\"seq\":\"1\",\"entry\":\"TFZBMQ==\",\"head\":\"00\"}",
        "{\"seq\":0,\"entry\":\"TFZBMQ==\",\"head\":\"00\"}",
        "{\"seq\":1,\"entry\":\"***\",\"head\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
        "{\"seq\":1,\"entry\":\"TFZBMQ==\",\"head\":\"zz00000000000000000000000000000000000000000000000000000000000000\"}",
        "{\"seq\":1,\"entry\":\"TFZBMQ==\",\"head\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
        "{\"seq\":1,\"seq\":1}",
        "{\"checkpoint\":5}",
        "{\"checkpoint\":\"no note here\\n\"}",
        "",
        "{} trailing",
    };

    (void)state;
    keys();
    for (i = 0; i < VAULT_ARRAY_LEN(bad); i++) {
        f = fopen(tpath("bad.jsonl"), "w");
        fprintf(f, "%s\n", bad[i]);
        fclose(f);
        if (verify_path(tpath("bad.jsonl"), &r, NULL) != AF_MALFORMED)
            fail_msg("accepted: %s", bad[i]);
        assert_non_null(strstr(r.message, "malformed"));
    }
    /* An over-long line. */
    f = fopen(tpath("long.jsonl"), "w");
    for (i = 0; i < AF_EXPORT_LINE_MAX + 10; i++)
        fputc('x', f);
    fclose(f);
    assert_int_equal(verify_path(tpath("long.jsonl"), &r, NULL), AF_MALFORMED);
    assert_non_null(strstr(r.message, "line 1: malformed (longer than"));
    f = fopen(tpath("long.jsonl"), "w");
    for (i = 0; i < AF_EXPORT_LINE_MAX + 1; i++) /* one byte too many, then a newline */
        fputc('x', f);
    fputs("\n{}\n", f);
    fclose(f);
    assert_int_equal(verify_path(tpath("long.jsonl"), &r, NULL), AF_MALFORMED);
    assert_non_null(strstr(r.message, "line 1: malformed (longer than"));
    /* An empty export is intact; a last line without newline is read. */
    f = fopen(tpath("empty.jsonl"), "w");
    fclose(f);
    assert_int_equal(verify_path(tpath("empty.jsonl"), &r, NULL), AF_OK);
    tlog_make(&l, 1, 0);
    assert_int_equal(af_export_entry_line(&line, 1, l.e[0], l.len[0], l.head[0]), 0);
    f = fopen(tpath("nonl.jsonl"), "w");
    fputs(line, f);
    fclose(f);
    assert_int_equal(verify_path(tpath("nonl.jsonl"), &r, NULL), AF_OK);
    assert_int_equal(r.entries, 1);
    free(line);
    tlog_free(&l);
}

/* Entries that do not decode are exported as stored, and flagged. */
static void test_export_undecodable_and_huge(void **state)
{
    tlog l;
    char *line = NULL, *big;
    af_verify_result r;
    FILE *f;
    json_t *j;
    af_entry e = {.seq = 1, .action = "read"};
    uint8_t *raw, head[32] = {0}, leaf[32];
    size_t len;

    (void)state;
    keys();
    tlog_make(&l, 2, 0);
    l.e[1][0] = 'X';
    assert_int_equal(af_export_entry_line(&line, 2, l.e[1], l.len[1], l.head[1]), 0);
    assert_non_null(strstr(line, "\"decoded\":false"));
    f = fopen(tpath("undec.jsonl"), "w");
    free(line);
    assert_int_equal(af_export_entry_line(&line, 1, l.e[0], l.len[0], l.head[0]), 0);
    fprintf(f, "%s\n", line);
    free(line);
    assert_int_equal(af_export_entry_line(&line, 2, l.e[1], l.len[1], l.head[1]), 0);
    fprintf(f, "%s\n", line);
    free(line);
    fclose(f);
    assert_int_equal(verify_path(tpath("undec.jsonl"), &r, NULL), AF_MALFORMED);
    assert_int_equal(r.bad_seq, 2);
    /* a stored head that is damaged is exported as null: malformed there */
    assert_int_equal(af_export_entry_line(&line, 1, l.e[0], l.len[0], NULL), 0);
    assert_non_null(strstr(line, "\"head\":null"));
    f = fopen(tpath("nohead.jsonl"), "w");
    fprintf(f, "%s\n", line);
    free(line);
    line = NULL;
    fclose(f);
    assert_int_equal(verify_path(tpath("nohead.jsonl"), &r, NULL), AF_MALFORMED);
    assert_int_equal(r.bad_seq, 1);
    tlog_free(&l);

    /* Control characters escape to 6 bytes each: the decoded keys would
     * make the line too long, so they are left out and it still verifies. */
    big = malloc(AF_ENTRY_MAX - 1000);
    memset(big, 0x01, AF_ENTRY_MAX - 1001);
    big[AF_ENTRY_MAX - 1001] = '\0';
    e.detail = big;
    raw = encode(&e, &len);
    af_leaf_hash(leaf, raw, len);
    af_chain_next(head, head, leaf);
    line = NULL;
    assert_int_equal(af_export_entry_line(&line, 1, raw, len, head), 0);
    assert_true(strlen(line) <= AF_EXPORT_LINE_MAX);
    j = json_loads(line, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_false(json_object_get(j, "decoded")));
    assert_null(json_object_get(j, "detail"));
    json_decref(j);
    f = fopen(tpath("huge.jsonl"), "w");
    fprintf(f, "%s\n", line);
    fclose(f);
    assert_int_equal(verify_path(tpath("huge.jsonl"), &r, NULL), AF_OK);
    free(line);
    free(raw);
    free(big);
    line = NULL;
    assert_int_equal(af_export_entry_line(&line, 0, (const uint8_t *)"LVA1", 4, head),
                     VAULT_EINVALID);
    assert_null(line);
}

/* The Python-written export verifies, and our lines say the same things. */
static void test_export_vector(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL, path[1024];
    size_t n = tu_vectors("audit.txt", rows, &storage), i, k = 0, len;
    uint8_t pk[32], head[32];
    af_verify_result r;
    lines ls;
    FILE *f;

    (void)state;
    unhex32(pk, vec(rows, n, "pubkey", 1));
    snprintf(path, sizeof path, "%s/tests/vectors/audit_export.jsonl", VAULT_SOURCE_DIR);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(af_export_verify(&r, f, vec(rows, n, "origin", 1), pk, NULL, 0, NULL, NULL),
                     AF_OK);
    fclose(f);
    assert_int_equal(r.entries, 7);
    assert_int_equal(r.checkpoints, 1);
    lines_read(&ls, path);
    assert_int_equal(ls.n, 8);
    for (i = 0; i < n; i++) {
        uint8_t *raw;
        char *mine = NULL;
        json_t *a, *b;

        if (strcmp(rows[i][0], "entry") != 0)
            continue;
        k++;
        raw = tu_unhex(rows[i][2], &len);
        unhex32(head, rows[i][4]);
        assert_int_equal(af_export_entry_line(&mine, k, raw, len, head), 0);
        a = json_loads(mine, 0, NULL);
        b = json_loads(ls.line[k], 0, NULL);
        assert_non_null(a);
        assert_non_null(b);
        if (!json_equal(a, b))
            fail_msg("entry %zu:\n C: %s\n Python: %s", k, mine, ls.line[k]);
        json_decref(a);
        json_decref(b);
        free(mine);
        free(raw);
    }
    free(ls.line);
    free(ls.buf);
    free(storage);
}

/* Entry 8 of tests/vectors/audit_v2.txt, built from its fields. */
static af_field v8_fields[3];

static void vector_entry_v2(af_entry *e)
{
    static const char *read = "allow by rule hotline-read (policy.yaml:90)";

    *e = (af_entry){.seq = 8, .time_us = 1709251200123456LL + 86400000001LL,
                    .user = "zhao.lei", .role = "hotline_agent", .department = "hotline_12345",
                    .jurisdiction = "hangzhou/shangcheng", .purpose = "complaint_followup",
                    .who = {"https://id.hangzhou.example", "330102-0042", "tok-8f3a",
                            "hotline-12345", "tls:192.0.2.7:51234"},
                    .action = "read", .has_record = 1, .fields = v8_fields, .nfields = 3,
                    .detail = ""};
    v8_fields[0] = (af_field){"name", VAULT_EFFECT_ALLOW, read, 0, {0}};
    v8_fields[1] = (af_field){"phone", VAULT_EFFECT_ALLOW, read, 0, {0}};
    v8_fields[2] = (af_field){"health", VAULT_EFFECT_DENY,
                              "deny: no rule or grant allows read of health (default deny)", 0,
                              {0}};
    fill(e->policy_hash, 32, 0x20);
    fill(e->record_id, 16, 0xb0);
}

/* The LVA2 vectors: entries 8 ... 10 continue the LVA1 log of audit.txt
 * (a migrated log), with roots, a checkpoint at 10 and an export of all
 * ten, each reproduced by the C code. */
static void test_vector_v2(void **state)
{
    char *r1[TU_MAX_ROWS][TU_MAX_COLS], *r2[TU_MAX_ROWS][TU_MAX_COLS], *st1 = NULL, *st2 = NULL;
    size_t n1 = tu_vectors("audit.txt", r1, &st1), n2 = tu_vectors("audit_v2.txt", r2, &st2);
    size_t i, len = 0, elen, nleaves = 0, nroots = 0, k;
    uint8_t leaves[10][32], heads[10][32], *raws[10] = {0}, head[32] = {0}, want[32], pk[32],
                                                       sk[64], seed[32], root[32];
    size_t lens[10];
    char path[1024], *note = NULL, *mine;
    af_merkle m;
    af_verify_result vr;
    lines ls;
    FILE *f;

    (void)state;
    for (i = 0; i < n1; i++)
        if (strcmp(r1[i][0], "entry") == 0) {
            raws[nleaves] = tu_unhex(r1[i][2], &lens[nleaves]);
            unhex32(heads[nleaves], r1[i][4]);
            af_leaf_hash(leaves[nleaves], raws[nleaves], lens[nleaves]);
            nleaves++;
        }
    assert_int_equal(nleaves, 7);
    memcpy(head, heads[6], 32);
    for (i = 0; i < n2; i++) {
        af_entry d;
        void *st = NULL;

        if (strcmp(r2[i][0], "entry") != 0)
            continue;
        assert_int_equal(strtoull(r2[i][1], NULL, 10), nleaves + 1);
        raws[nleaves] = tu_unhex(r2[i][2], &len);
        lens[nleaves] = len;
        if (nleaves == 7) { /* built here from the documented fields */
            af_entry e;

            vector_entry_v2(&e);
            mine = (char *)encode(&e, &elen);
            assert_int_equal(elen, len);
            assert_memory_equal(mine, raws[nleaves], len);
            free(mine);
        }
        assert_int_equal(af_entry_decode(&d, &st, raws[nleaves], len), 0);
        assert_int_equal(d.version, AF_VERSION_2);
        mine = (char *)encode(&d, &elen);
        assert_int_equal(elen, len);
        assert_memory_equal(mine, raws[nleaves], len);
        free(mine);
        free(st);
        af_leaf_hash(leaves[nleaves], raws[nleaves], len);
        unhex32(want, r2[i][3]);
        assert_memory_equal(leaves[nleaves], want, 32);
        af_chain_next(head, head, leaves[nleaves]);
        unhex32(want, r2[i][4]);
        assert_memory_equal(head, want, 32);
        memcpy(heads[nleaves], head, 32);
        nleaves++;
    }
    assert_int_equal(nleaves, 10);
    for (i = 0; i < n2; i++) {
        size_t size;

        if (strcmp(r2[i][0], "root") != 0)
            continue;
        size = strtoul(r2[i][1], NULL, 10);
        assert_int_equal(size, 8 + nroots++);
        af_merkle_init(&m);
        for (k = 0; k < size; k++)
            af_merkle_push(&m, leaves[k]);
        af_merkle_root(&m, root);
        unhex32(want, r2[i][2]);
        assert_memory_equal(root, want, 32);
    }
    assert_int_equal(nroots, 3);
    /* the checkpoint at 10, signed again here byte for byte */
    unhex32(seed, vec(r1, n1, "seed", 1));
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
    assert_int_equal(af_checkpoint_sign(&note, vec(r1, n1, "origin", 1), 10, root, sk), 0);
    snprintf(path, sizeof path, "%s/tests/vectors/checkpoint_v2.txt", VAULT_SOURCE_DIR);
    mine = (char *)tu_read_file(path, &len);
    assert_non_null(mine);
    assert_int_equal(strlen(note), len);
    assert_memory_equal(note, mine, len);
    free(mine);
    free(note);
    /* the same with its signed time (the "timestamp" extension line) */
    assert_int_equal(af_checkpoint_sign_at(&note, vec(r1, n1, "origin", 1), 10, root, 1796083200,
                                           sk), 0);
    snprintf(path, sizeof path, "%s/tests/vectors/checkpoint_v2_time.txt", VAULT_SOURCE_DIR);
    mine = (char *)tu_read_file(path, &len);
    assert_non_null(mine);
    assert_int_equal(strlen(note), len);
    assert_memory_equal(note, mine, len);
    {
        af_checkpoint cp;
        char *bad;
        assert_int_equal(af_checkpoint_verify(&cp, mine, len, vec(r1, n1, "origin", 1), pk), 0);
        assert_int_equal(cp.size, 10);
        assert_int_equal(cp.time, 1796083200);
        /* the time is signed: changed, it no longer verifies */
        bad = strdup(mine);
        assert_non_null(bad);
        bad[strstr(bad, "timestamp ") - bad + 10] = '2';
        assert_int_equal(af_checkpoint_verify(&cp, bad, len, vec(r1, n1, "origin", 1), pk),
                         VAULT_EINTEGRITY);
        free(bad);
    }
    free(mine);
    free(note);
    {
        /* two timestamp lines, a malformed one, an unknown extension line */
        static const char *const texts[] = {"timestamp 5\ntimestamp 6\n", "timestamp 05\n",
                                            "timestamp -1\n", "timestamp \n", "other ext\n"};
        static const int want_rc[] = {VAULT_EINVALID, VAULT_EINVALID, VAULT_EINVALID,
                                      VAULT_EINVALID, VAULT_OK};
        const char *origin = vec(r1, n1, "origin", 1);
        char text[512], note_buf[1024], b64root[64], b64sig[128];
        uint8_t sig[68];
        size_t x, tl;
        af_checkpoint cp;

        assert_non_null(origin);
        assert_int_equal(vc_bin2b64(b64root, sizeof b64root, root, 32), 0);
        for (x = 0; x < VAULT_ARRAY_LEN(texts); x++) {
            tl = (size_t)snprintf(text, sizeof text, "%s\n10\n%s\n%s", origin, b64root, texts[x]);
            af_note_keyid(sig, origin, pk);
            assert_int_equal(crypto_sign_detached(sig + 4, NULL, (const uint8_t *)text, tl, sk), 0);
            assert_int_equal(vc_bin2b64(b64sig, sizeof b64sig, sig, sizeof sig), 0);
            snprintf(note_buf, sizeof note_buf, "%s\n\xe2\x80\x94 %s %s\n", text, origin, b64sig);
            if (af_checkpoint_verify(&cp, note_buf, strlen(note_buf), origin, pk) != want_rc[x])
                fail_msg("extension case %zu: %s", x, vault_error_last());
            if (want_rc[x] == VAULT_OK)
                assert_int_equal(cp.time, 0);
        }
    }
    /* the export of the mixed log verifies, and its lines are C's */
    snprintf(path, sizeof path, "%s/tests/vectors/audit_export_v2.jsonl", VAULT_SOURCE_DIR);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(af_export_verify(&vr, f, vec(r1, n1, "origin", 1), pk, NULL, 0, NULL, NULL),
                     AF_OK);
    fclose(f);
    assert_int_equal(vr.entries, 10);
    assert_int_equal(vr.checkpoints, 1);
    lines_read(&ls, path);
    assert_int_equal(ls.n, 11);
    for (k = 0; k < 10; k++) {
        json_t *a, *b;

        mine = NULL;
        assert_int_equal(af_export_entry_line(&mine, k + 1, raws[k], lens[k], heads[k]), 0);
        a = json_loads(mine, 0, NULL);
        b = json_loads(ls.line[k + 1], 0, NULL);
        assert_non_null(a);
        assert_non_null(b);
        if (!json_equal(a, b))
            fail_msg("entry %zu:\n C: %s\n Python: %s", k + 1, mine, ls.line[k + 1]);
        /* LVA1 lines carry no principal keys, LVA2 lines all five */
        assert_int_equal(json_object_get(a, "peer") != NULL, k >= 7);
        json_decref(a);
        json_decref(b);
        free(mine);
    }
    free(ls.line);
    free(ls.buf);
    for (k = 0; k < 10; k++)
        free(raws[k]);
    free(st1);
    free(st2);
}

static void count_progress(uint64_t done, void *arg)
{
    uint64_t *calls = arg;

    assert_int_equal(done % 65536, 0);
    calls[0]++;
    calls[1] = done;
}

static void test_export_progress(void **state)
{
    enum { N = 65536 + 100 };
    FILE *f = fopen(tpath("many.jsonl"), "w");
    uint8_t head[32] = {0}, leaf[32];
    uint64_t calls[2] = {0, 0};
    af_verify_result r;
    size_t i;

    (void)state;
    keys();
    assert_non_null(f);
    for (i = 1; i <= N; i++) {
        af_entry e = {.seq = i, .time_us = (int64_t)i, .user = "u", .action = "read"};
        size_t len;
        uint8_t *raw = encode(&e, &len);
        char *line = NULL;

        af_leaf_hash(leaf, raw, len);
        af_chain_next(head, head, leaf);
        assert_int_equal(af_export_entry_line(&line, i, raw, len, head), 0);
        fprintf(f, "%s\n", line);
        free(line);
        free(raw);
    }
    fclose(f);
    f = fopen(tpath("many.jsonl"), "r");
    assert_int_equal(af_export_verify(&r, f, "vault.example/test", pk1, NULL, 0, count_progress,
                                      calls),
                     AF_OK);
    fclose(f);
    assert_int_equal(r.entries, N);
    assert_int_equal(calls[0], 1);
    assert_int_equal(calls[1], 65536);
}

/* ---- the city log's claims of shard heads (audit_claims.h) ---- */

/* The claims af_claims_take finds in an entry of action, outcome and
 * detail: how many, and whether it was marked bad. */
static size_t claims_in(const char *action, int outcome, const char *detail, int *bad)
{
    af_claims cl = {0};
    af_entry e;
    uint8_t *enc = NULL;
    size_t len = 0, n;

    memset(&e, 0, sizeof e);
    e.seq = 7;
    e.time_us = 1709251200000000LL;
    e.user = "os:root";
    e.action = action;
    e.outcome = outcome;
    e.detail = detail;
    assert_int_equal(af_entry_encode(&enc, &len, &e), 0);
    assert_int_equal(af_claims_take(&cl, 7, enc, len), 0);
    n = cl.n;
    *bad = cl.bad;
    if (cl.bad)
        assert_int_equal(cl.bad_pos, 7);
    free(enc);
    af_claims_free(&cl);
    return n;
}

static void test_claims_parse(void **state)
{
    static const char h[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    char d[1200], name[300];
    uint8_t root[32];
    char *text = NULL;
    size_t len = 0, cap = 0;
    af_claims cl = {0};
    const af_checkpoint *mine;
    af_verify_result r;
    int bad;

    (void)state;
    snprintf(d, sizeof d, "3 %s hangzhou/gongshu\n12 %s hangzhou/xihu\n", h, h);
    assert_int_equal(claims_in("log_heads", AF_OUTCOME_OK, d, &bad), 2);
    assert_false(bad);
    assert_int_equal(claims_in("log_heads", AF_OUTCOME_OK, "", &bad), 0);
    assert_false(bad);
    /* other actions and outcomes claim nothing, whatever their detail */
    assert_int_equal(claims_in("audit_query", AF_OUTCOME_OK, d, &bad), 0);
    assert_false(bad);
    assert_int_equal(claims_in("log_heads", AF_OUTCOME_ERROR, d, &bad), 0);
    assert_false(bad);
    /* each of these makes the entry bad, and none of its lines count */
    {
        /* each line is before, the root's hex, after */
        static const char *const bad_lines[][2] = {
            {"3 ", " hangzhou/xihu"},          /* no newline */
            {"0 ", " hangzhou/xihu\n"},        /* size 0 */
            {"03 ", " hangzhou/xihu\n"},       /* a leading zero */
            {"-3 ", " hangzhou/xihu\n"},       /* a sign */
            {"18446744073709551616 ", " x\n"}, /* over 2^64 - 1 */
            {"3 ", " \n"},                     /* no name */
            {"3 ", "\n"},                      /* no name, no space */
            {"3  ", " x\n"},                   /* two spaces */
        };
        size_t i;

        for (i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++) {
            snprintf(d, sizeof d, "1 %s ok\n%s%s%s", h, bad_lines[i][0], h, bad_lines[i][1]);
            assert_int_equal(claims_in("log_heads", AF_OUTCOME_OK, d, &bad), 0);
            assert_true(bad);
        }
    }
    /* one log twice in one entry, even with the same head */
    snprintf(d, sizeof d, "3 %s hangzhou/xihu\n4 %s hangzhou/xihu\n", h, h);
    assert_int_equal(claims_in("log_heads", AF_OUTCOME_OK, d, &bad), 0);
    assert_true(bad);
    snprintf(d, sizeof d, "3 %s x\n3 %s x\n", h, h);
    assert_int_equal(claims_in("log_heads", AF_OUTCOME_OK, d, &bad), 0);
    assert_true(bad);
    snprintf(d, sizeof d, "3 00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff x\n");
    assert_int_equal(claims_in("log_heads", AF_OUTCOME_OK, d, &bad), 0); /* upper case */
    assert_true(bad);
    snprintf(d, sizeof d, "3 %.62s x\n", h); /* a short root */
    assert_int_equal(claims_in("log_heads", AF_OUTCOME_OK, d, &bad), 0);
    assert_true(bad);
    memset(name, 'n', 256);
    name[256] = '\0';
    snprintf(d, sizeof d, "3 %s %s\n", h, name); /* a name over 255 bytes */
    assert_int_equal(claims_in("log_heads", AF_OUTCOME_OK, d, &bad), 0);
    assert_true(bad);
    name[255] = '\0';
    snprintf(d, sizeof d, "3 %s %s\n", h, name);
    assert_int_equal(claims_in("log_heads", AF_OUTCOME_OK, d, &bad), 1);
    assert_false(bad);

    /* the writer's line parses back; the walk by log */
    memset(root, 0xab, 32);
    assert_int_equal(af_claim_line(&text, &len, &cap, "hangzhou/xihu", 9, root), 0);
    assert_int_equal(af_claim_line(&text, &len, &cap, "hangzhou/gongshu", 4, root), 0);
    assert_int_equal(len, strlen(text));
    assert_int_equal(claims_in("log_heads", AF_OUTCOME_OK, text, &bad), 2);
    {
        af_entry e;
        uint8_t *enc = NULL;
        size_t elen = 0, n = 0, cur = 0;
        int k;

        /* two entries: xihu at 9 and gongshu at 4, then xihu at 5 */
        for (k = 0; k < 2; k++) {
            memset(&e, 0, sizeof e);
            e.seq = 2 + (uint64_t)k;
            e.action = "log_heads";
            e.detail = text;
            assert_int_equal(af_entry_encode(&enc, &elen, &e), 0);
            assert_int_equal(af_claims_take(&cl, 2 + (uint64_t)k, enc, elen), 0);
            free(enc);
            len = 0;
            assert_int_equal(af_claim_line(&text, &len, &cap, "hangzhou/xihu", 5, root), 0);
        }
        assert_false(cl.bad);
        assert_int_equal(cl.n, 3);
        af_claims_sort(&cl);
        memset(&r, 0, sizeof r);
        /* "hangzhou/gongshu" claimed, not met before xihu: rolled back */
        mine = af_claims_next(&cl, &cur, "hangzhou/xihu", &n, &r, "the export");
        assert_int_equal(r.cls, AF_ROLLBACK);
        assert_non_null(strstr(r.message, "log hangzhou/gongshu: rolled back (the city log "
                                          "claims 4 entries of it, the export has none)"));
        assert_int_equal(n, 2); /* xihu's, by size */
        assert_int_equal(mine[0].size, 5);
        assert_int_equal(mine[1].size, 9);
        assert_true(mine[0].claimed);
        assert_memory_equal(mine[0].root, root, 32);
        memset(&r, 0, sizeof r);
        assert_null(af_claims_next(&cl, &cur, NULL, &n, &r, "the export"));
        assert_int_equal(r.cls, AF_OK);
    }
    af_claims_free(&cl);
    free(text);
    /* a finding's message with its log before it */
    memset(&r, 0, sizeof r);
    af_verify_set(&r, AF_MODIFIED, 2, "entry 2: modified");
    af_verify_in_log(&r, "hangzhou/xihu");
    assert_string_equal(r.message, "log hangzhou/xihu: entry 2: modified");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_fields),
        cmocka_unit_test(test_claims_parse),
        cmocka_unit_test(test_roundtrip_no_fields),
        cmocka_unit_test(test_roundtrip_chinese),
        cmocka_unit_test(test_decode_truncated_everywhere),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_lva2_layout),
        cmocka_unit_test(test_lva2_reason_table_rejects),
        cmocka_unit_test(test_lva2_decode_rejects),
        cmocka_unit_test(test_lva2_encode_rules),
        cmocka_unit_test(test_decode_rejects_utf8),
        cmocka_unit_test(test_decode_random_damage),
        cmocka_unit_test(test_encode_rejects),
        cmocka_unit_test(test_vector_entries),
        cmocka_unit_test(test_vector_roots),
        cmocka_unit_test(test_hash_prefixes),
        cmocka_unit_test(test_merkle_vs_naive),
        cmocka_unit_test(test_checkpoint_roundtrip),
        cmocka_unit_test(test_checkpoint_wrong_key),
        cmocka_unit_test(test_checkpoint_tampered),
        cmocka_unit_test(test_checkpoint_malformed),
        cmocka_unit_test(test_checkpoint_origin),
        cmocka_unit_test(test_checkpoint_sign_rejects),
        cmocka_unit_test(test_checkpoint_vector),
        cmocka_unit_test(test_verifier_intact),
        cmocka_unit_test(test_verifier_mixed_versions),
        cmocka_unit_test(test_vector_v2),
        cmocka_unit_test(test_verifier_modified),
        cmocka_unit_test(test_verifier_seq_inside),
        cmocka_unit_test(test_verifier_missing),
        cmocka_unit_test(test_verifier_reordered),
        cmocka_unit_test(test_verifier_truncated),
        cmocka_unit_test(test_verifier_rollback),
        cmocka_unit_test(test_verifier_sticky),
        cmocka_unit_test_setup_teardown(test_export_roundtrip_and_tamper, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_export_compact_same_verdicts, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_export_external_note, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_export_several_notes, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_export_malformed, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_export_undecodable_and_huge, setup_tmp, teardown_tmp),
        cmocka_unit_test(test_export_vector),
        cmocka_unit_test(test_proofs_vs_naive),
        cmocka_unit_test_setup_teardown(test_export_progress, setup_tmp, teardown_tmp),
    };

    if (vc_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

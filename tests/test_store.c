/* store: the layer above every backend (libvault/store/store.c), run over
 * the in-memory double (tests/store_mem.c), which keeps MACs verbatim:
 *  - row MACs against the known-answer vectors of tests/vectors/rowmac.txt
 *    (gen_rowmac_vectors.py builds them from docs/storage.md alone): the
 *    bytes store.c asks its guard to tag, and the tag it hands the backend;
 *  - every kind of row whose stored MAC, or a covered member, was changed
 *    behind store.c's back is VAULT_EINTEGRITY on every read path, and
 *    nothing of it reaches the caller;
 *  - what row MACs do not catch (docs/storage.md says so): a row put back
 *    to an older state the vault wrote, a deleted row;
 *  - reads and writes outside a transaction, writes in a snapshot, and
 *    the open rules (guard, backend table version). */
#include "testutil.h"

#include <sodium.h>

#include "crypto.h"
#include "store/store.h"
#include "store_mem.h"

static const uint8_t DBKEY[32] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
                                  7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};

/* ---- the guard: keyed BLAKE2b-256 (as the keyring's), remembering the
 * last bytes it was asked to tag ---- */

typedef struct seen_guard {
    uint8_t key[32];
    uint8_t *msg;
    size_t len, calls;
    int fail;
} seen_guard;

static int guard_mac(void *arg, const uint8_t *msg, size_t len, uint8_t out[STORE_MAC_BYTES])
{
    seen_guard *g = arg;

    if (g->fail)
        return vault__err(VAULT_ERROR, "test guard: refusing to tag");
    free(g->msg);
    g->msg = malloc(len ? len : 1);
    assert_non_null(g->msg);
    memcpy(g->msg, msg, len);
    g->len = len;
    g->calls++;
    return vc_keyed_hash(out, STORE_MAC_BYTES, g->key, msg, len);
}

/* One store over a fresh in-memory backend; be stays usable (store.c owns
 * it) for reading and writing rows behind store.c's back. */
typedef struct fx {
    char name[32];
    store_backend *be;
    store *s;
    seen_guard g;
} fx;

static void fx_open(fx *f)
{
    static unsigned n;
    store_guard guard;
    store_migration mig = {NULL, NULL, -1};

    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "store-test-%u", n++);
    for (size_t i = 0; i < 32; i++)
        f->g.key[i] = (uint8_t)(0x80 + i);
    guard.mac = guard_mac;
    guard.arg = &f->g;
    assert_int_equal(store_mem_open(&f->be, f->name, DBKEY, 1), VAULT_OK);
    assert_int_equal(store_open_backend(&f->s, f->be, &guard, &mig), VAULT_OK);
    assert_int_equal(mig.from, 0); /* the double is at the current schema */
    assert_string_equal(store_backend_name(f->s), "memory");
}

static void fx_close(fx *f)
{
    store_close(f->s);
    assert_int_equal(store_mem_forget(f->name), VAULT_OK);
    free(f->g.msg);
}

#define W(f) assert_int_equal(store_begin((f)->s, STORE_TX_WRITE), VAULT_OK)
#define R(f) assert_int_equal(store_begin((f)->s, STORE_TX_SNAPSHOT), VAULT_OK)
#define C(f) assert_int_equal(store_commit((f)->s), VAULT_OK)

static void expect_integrity(int rc, const char *what)
{
    assert_int_equal(rc, VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), what));
    assert_non_null(strstr(vault_error_last(), "failed its integrity check (row MAC)"));
}

static void seq(uint8_t *out, unsigned start, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(start + i);
}

/* ---- the rows of the vectors (gen_rowmac_vectors.py, rows()) ---- */

static const char POLICY1_SRC[] = "version: 1\nname: city\n";
static const char POLICY2_SRC[] = "version: 1\nname: city\n# second\n";
#define GK_VERSION 0xFFFFFFFFu
static const char CP_NOTE[] =
    "vault.example/city\n1000\nq83vEjRWeJA=\n\n\xe2\x80\x94 vault.example/city AAAA\n";

typedef struct rec_buf {
    store_record r;
    store_field f[2];
    uint8_t ct_name[57], ct_phone[56];
} rec_buf;

static void rec_0_fields(rec_buf *b)
{
    memset(b, 0, sizeof *b);
    seq(b->r.id, 0xB0, 16);
    b->r.jurisdiction = "zhejiang/hangzhou/gongshu";
    b->r.created = b->r.updated = 1700000100;
    b->r.version = 1;
}

static void rec_2_fields(rec_buf *b)
{
    memset(b, 0, sizeof *b);
    seq(b->r.id, 0xC0, 16);
    b->r.jurisdiction = "zhejiang/hangzhou/xihu";
    b->r.created = 1700000200;
    b->r.updated = 1700000300;
    b->r.version = 5;
    seq(b->ct_name, 0x30, sizeof b->ct_name);
    seq(b->ct_phone, 0x70, sizeof b->ct_phone);
    b->f[0] = (store_field){"name", "personal", 2, 5, b->ct_name, sizeof b->ct_name, {0}, 0};
    b->f[1] = (store_field){"phone", "personal", 1, 3, b->ct_phone, sizeof b->ct_phone, {0}, 32};
    seq(b->f[1].digest, 0xD0, 32);
    b->r.nfields = 2;
    b->r.fields = b->f;
}

static store_grant grant_nulls(void)
{
    store_grant g;

    memset(&g, 0, sizeof g);
    g.id = "g-1";
    g.state = "pending";
    g.issuer = "li.wei";
    g.issuer_role = "data_officer";
    g.role = "police_officer";
    g.effect = VAULT_EFFECT_ALLOW;
    g.actions = 0x09;
    g.not_before = 1700000000;
    g.not_after = 1700086400;
    g.reason = "case 2023-117";
    g.created = 1700000000;
    return g;
}

static store_grant grant_all_set(void)
{
    store_grant g;

    memset(&g, 0, sizeof g);
    g.id = "g-2";
    g.state = "revoked";
    g.issuer = "li.wei";
    g.issuer_role = "data_officer";
    g.user = "zhang.min";
    g.role = "social_worker";
    g.department = ""; /* empty, not absent */
    g.effect = VAULT_EFFECT_MASK;
    g.actions = 0xFFFFFFFFu;
    g.fields = "name\nphone";
    g.grade_min = "public";
    g.grade_max = "personal";
    g.records = "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf\nc0c1c2c3c4c5c6c7c8c9cacbcccdcecf";
    g.jurisdiction = "zhejiang/hangzhou";
    g.purposes = "welfare\nhousing";
    g.not_before = -86400;
    g.not_after = INT64_MAX;
    g.reason = "\xe5\xb1\x85\xe6\xb0\x91\xe6\xb1\x82\xe5\x8a\xa9 2023-118"; /* 居民求助 */
    g.break_glass = 1;
    g.approver = "wang.fang";
    g.revoked_by = "chen.jie";
    g.revoke_reason = "case closed";
    g.created = 1700000500;
    g.changed = 1700000900;
    return g;
}

/* Schema 5: the principals that issued and approved it (the approver
 * through an app without a token). */
static store_grant grant_principals(void)
{
    store_grant g;

    memset(&g, 0, sizeof g);
    g.id = "g-3";
    g.state = "active";
    g.issuer = "li.wei";
    g.issuer_role = "data_officer";
    g.role = "police_officer";
    g.effect = VAULT_EFFECT_ALLOW;
    g.actions = 0x01;
    g.not_before = 1700000000;
    g.not_after = 1700086400;
    g.reason = "case 2023-119";
    g.approver = "wang.fang";
    g.created = 1700000000;
    g.changed = 1700000700;
    g.issued_by.iss = "https://id.example.gov";
    g.issued_by.sub = "u-17";
    g.issued_by.app = "street-desk";
    g.issued_by.jti = "jti-1";
    g.approved_by.app = "vaultctl";
    return g;
}

/* The vector grant row `name` ("grant_..."), and its id. */
static store_grant grant_named(const char *name)
{
    if (strcmp(name, "grant_nulls") == 0)
        return grant_nulls();
    if (strcmp(name, "grant_all_set") == 0)
        return grant_all_set();
    return grant_principals();
}

static void put_policy(fx *f, const char *src, int64_t applied, int64_t want_id)
{
    uint8_t hash[crypto_hash_sha256_BYTES];
    int64_t id = 0;

    crypto_hash_sha256(hash, (const uint8_t *)src, strlen(src));
    assert_int_equal(store_policy_add(&id, f->s, hash, "city.yaml", src, strlen(src), applied),
                     VAULT_OK);
    assert_int_equal(id, want_id);
}

/* The audit state vectors: the entry (pos) carrying it, its chain head. */
typedef struct state_vec {
    int64_t pos;
    uint8_t head[32];
    uint8_t state[8 + 64 * 32];
    size_t len;
} state_vec;

static void state_vec_of(state_vec *v, const char *name)
{
    memset(v, 0, sizeof *v);
    if (strcmp(name, "audit_state_3") == 0) {
        v->pos = 3;
        seq(v->head, 0x20, 32);
        v->state[0] = 3;
        seq(v->state + 8, 0x40, 64);
        v->state[72] = 'T';
        seq(v->state + 73, 0xE0, 32);
        v->len = 8 + 64 + 33;
    } else {
        v->pos = 1;
        seq(v->head, 0x60, 32);
        v->state[0] = 1;
        seq(v->state + 8, 0x01, 64 * 32);
        v->len = sizeof v->state;
    }
}

/* Seal entries 1..pos (the last with the vector's chain head). */
static int seal_upto(void *arg, const store_audit_head *h, store_audit_row *out, size_t cap,
                     size_t *n)
{
    const state_vec *v = arg;
    static const uint8_t entry[4] = {1, 2, 3, 4}, other[32];
    int64_t p;

    *n = 0;
    for (p = h->pos + 1; p <= v->pos && *n < cap; p++, (*n)++) {
        memset(&out[*n], 0, sizeof out[*n]);
        out[*n].pos = p;
        out[*n].entry = entry;
        out[*n].len = sizeof entry;
        out[*n].head = p == v->pos ? v->head : other;
        out[*n].head_len = 32;
        out[*n].user = "li.wei";
    }
    return 0;
}

/* Write the vector row `name` through store.h (in a write transaction of
 * its own); returns its kind, or 0 for a name this test has no row for. */
static int write_row(fx *f, const char *name)
{
    uint8_t v[72];
    rec_buf b;
    store_grant g;
    int kind = 0;

    W(f);
    if (strcmp(name, "meta_vault_id") == 0) {
        seq(v, 0xA0, 16);
        assert_int_equal(store_meta_put(f->s, "vault_id", v, 16), VAULT_OK);
        kind = STORE_ROW_META;
    } else if (strcmp(name, "meta_empty") == 0) {
        assert_int_equal(store_meta_put(f->s, "grants_version", v, 0), VAULT_OK);
        kind = STORE_ROW_META;
    } else if (strcmp(name, "policy_1") == 0) {
        put_policy(f, POLICY1_SRC, 1700000000, 1);
        kind = STORE_ROW_POLICY;
    } else if (strcmp(name, "policy_2") == 0) {
        put_policy(f, POLICY1_SRC, 1700000000, 1);
        put_policy(f, POLICY2_SRC, 1700000050, 2);
        kind = STORE_ROW_POLICY;
    } else if (strcmp(name, "gradekey_max_version") == 0) {
        seq(v, 0x10, 72);
        assert_int_equal(store_gradekey_add(f->s, "personal", GK_VERSION, v, 72, 1700000001),
                         VAULT_OK);
        kind = STORE_ROW_GRADEKEY;
    } else if (strcmp(name, "record_0_fields") == 0 || strcmp(name, "record_2_fields") == 0) {
        if (name[7] == '0')
            rec_0_fields(&b);
        else
            rec_2_fields(&b);
        assert_int_equal(store_record_write(f->s, &b.r, 1), VAULT_OK);
        kind = STORE_ROW_RECORD;
    } else if (strcmp(name, "grant_nulls") == 0 || strcmp(name, "grant_all_set") == 0 ||
               strcmp(name, "grant_principals") == 0) {
        g = grant_named(name);
        assert_int_equal(store_grant_insert(f->s, &g), VAULT_OK);
        kind = STORE_ROW_GRANT;
    } else if (strcmp(name, "checkpoint_1000") == 0) {
        assert_int_equal(store_checkpoint_add(f->s, 1000, CP_NOTE, 1700000400), VAULT_OK);
        kind = STORE_ROW_CHECKPOINT;
    } else if (strncmp(name, "audit_state_", 12) == 0) {
        state_vec sv;
        state_vec_of(&sv, name);
        assert_int_equal(store_audit_seal(f->s, seal_upto, &sv), VAULT_OK);
        assert_int_equal(store_audit_state_put(f->s, 0, sv.pos, sv.head, sv.state, sv.len),
                         VAULT_OK);
        kind = STORE_ROW_AUDIT_STATE;
    }
    C(f);
    return kind;
}

/* ---- reading rows straight from the backend (no MAC check) ---- */

static int meta_mac_cb(void *arg, const store_meta *m)
{
    memcpy(arg, m->mac, STORE_MAC_BYTES);
    return 0;
}
static int policy_mac_cb(void *arg, const store_policy *p)
{
    memcpy(arg, p->mac, STORE_MAC_BYTES);
    return 0;
}
static int gradekey_mac_cb(void *arg, const store_gradekey *k)
{
    memcpy(arg, k->mac, STORE_MAC_BYTES);
    return 0;
}
static int record_mac_cb(void *arg, size_t i, const store_record *r)
{
    (void)i;
    assert_non_null(r);
    memcpy(arg, r->mac, STORE_MAC_BYTES);
    return 0;
}
static int grant_mac_cb(void *arg, const store_grant *g)
{
    memcpy(arg, g->mac, STORE_MAC_BYTES);
    return 0;
}
static int checkpoint_mac_cb(void *arg, const store_checkpoint *c)
{
    memcpy(arg, c->mac, STORE_MAC_BYTES);
    return 0;
}
static int state_mac_cb(void *arg, const store_audit_head *h)
{
    assert_non_null(h->state);
    memcpy(arg, h->state_mac, STORE_MAC_BYTES);
    return 0;
}

/* The MAC the backend keeps for the vector row `name` of `kind`. */
static void stored_mac(uint8_t mac[STORE_MAC_BYTES], fx *f, int kind, const char *name)
{
    store_backend *be = f->be;
    uint8_t id[VAULT_ID_BYTES];

    memset(mac, 0, STORE_MAC_BYTES);
    R(f);
    switch (kind) {
    case STORE_ROW_META:
        assert_int_equal(be->meta_get(be, name[5] == 'v' ? "vault_id" : "grants_version",
                                      meta_mac_cb, mac),
                         VAULT_OK);
        break;
    case STORE_ROW_POLICY:
        assert_int_equal(be->policy_active(be, policy_mac_cb, mac), VAULT_OK);
        break;
    case STORE_ROW_GRADEKEY:
        assert_int_equal(be->gradekey_get(be, "personal", GK_VERSION, gradekey_mac_cb, mac),
                         VAULT_OK);
        break;
    case STORE_ROW_RECORD:
        seq(id, name[7] == '0' ? 0xB0 : 0xC0, VAULT_ID_BYTES);
        assert_int_equal(be->record_get_batch(be, id, 1, record_mac_cb, mac), VAULT_OK);
        break;
    case STORE_ROW_GRANT:
        assert_int_equal(be->grant_get(be, grant_named(name).id, grant_mac_cb, mac), VAULT_OK);
        break;
    case STORE_ROW_CHECKPOINT:
        assert_int_equal(be->checkpoint_scan(be, checkpoint_mac_cb, mac), VAULT_OK);
        break;
    case STORE_ROW_AUDIT_STATE:
        assert_int_equal(be->audit_head(be, STORE_LOG_CITY, state_mac_cb, mac), VAULT_OK);
        break;
    default:
        fail_msg("unknown row kind %d", kind);
    }
    store_rollback(f->s);
}

/* ---- reading rows through store.c (MACs checked) ---- */

static int count_record(void *arg, const store_record *r)
{
    (void)r;
    ++*(int *)arg;
    return 0;
}
static int count_record_i(void *arg, size_t i, const store_record *r)
{
    (void)i;
    if (r)
        ++*(int *)arg;
    return 0;
}
static int count_grant(void *arg, const store_grant *g)
{
    (void)g;
    ++*(int *)arg;
    return 0;
}
static int count_cp(void *arg, uint64_t size, const char *note, size_t len)
{
    (void)size;
    (void)note;
    (void)len;
    ++*(int *)arg;
    return 0;
}

/* Read the vector row back through store.c: its MAC must pass. */
static void read_back(fx *f, int kind, const char *name)
{
    uint8_t v[80], id[VAULT_ID_BYTES];
    size_t n = 0;
    char fname[64], *src = NULL;
    int64_t pid = 0;
    int seen = 0;

    R(f);
    switch (kind) {
    case STORE_ROW_META:
        assert_int_equal(store_meta_get(f->s, name[5] == 'v' ? "vault_id" : "grants_version", v,
                                        sizeof v, &n),
                         VAULT_OK);
        assert_int_equal(n, name[5] == 'v' ? 16 : 0);
        break;
    case STORE_ROW_POLICY:
        assert_int_equal(store_policy_active(&pid, fname, sizeof fname, &src, &n, f->s), VAULT_OK);
        assert_int_equal(pid, name[7] == '1' ? 1 : 2);
        free(src);
        break;
    case STORE_ROW_GRADEKEY:
        assert_int_equal(store_gradekey_get(v, sizeof v, &n, f->s, "personal", GK_VERSION),
                         VAULT_OK);
        assert_int_equal(n, 72);
        break;
    case STORE_ROW_RECORD:
        seq(id, name[7] == '0' ? 0xB0 : 0xC0, VAULT_ID_BYTES);
        assert_int_equal(store_record_get(f->s, id, count_record, &seen), VAULT_OK);
        assert_int_equal(seen, 1);
        break;
    case STORE_ROW_GRANT:
        assert_int_equal(store_grant_scan(f->s, count_grant, &seen), VAULT_OK);
        assert_int_equal(seen, 1);
        break;
    case STORE_ROW_CHECKPOINT:
        assert_int_equal(store_checkpoint_scan(f->s, count_cp, &seen), VAULT_OK);
        assert_int_equal(seen, 1);
        break;
    case STORE_ROW_AUDIT_STATE: {
        state_vec sv;
        uint8_t got[sizeof sv.state];
        int64_t pos = 0;
        state_vec_of(&sv, name);
        assert_int_equal(store_audit_state_get(&pos, got, sizeof got, &n, f->s), VAULT_OK);
        assert_int_equal(pos, sv.pos);
        assert_int_equal(n, sv.len);
        assert_memory_equal(got, sv.state, n);
        break;
    }
    default:
        fail_msg("unknown row kind %d", kind);
    }
    store_rollback(f->s);
}

/* ---- known-answer vectors ---- */

static const char *const KIND_NAMES[] = {
    [STORE_ROW_META] = "meta",         [STORE_ROW_POLICY] = "policy",
    [STORE_ROW_GRADEKEY] = "gradekey", [STORE_ROW_RECORD] = "record",
    [STORE_ROW_GRANT] = "grant",       [STORE_ROW_CHECKPOINT] = "checkpoint",
    [STORE_ROW_AUDIT_STATE] = "audit_state",
};

static void test_rowmac_vectors(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL;
    size_t n = tu_vectors("rowmac.txt", rows, &storage), i, blen, tlen;
    unsigned kinds = 0;

    (void)state;
    assert_int_equal(n, 14);
    for (i = 0; i < n; i++) {
        fx f;
        uint8_t *bytes, *tag;
        uint8_t mac[STORE_MAC_BYTES];
        int kind;

        if (strcmp(rows[i][0], "audit_state_3_log") == 0)
            continue; /* a shard log's: test_rowmac_log_vector */
        bytes = tu_unhex(rows[i][2], &blen);
        tag = tu_unhex(rows[i][3], &tlen);
        assert_non_null(rows[i][3]);
        fx_open(&f);
        kind = write_row(&f, rows[i][0]);
        if (kind == 0)
            fail_msg("rowmac.txt: no row named %s in this test", rows[i][0]);
        assert_string_equal(rows[i][1], KIND_NAMES[kind]);
        kinds |= 1u << kind;
        /* The canonical bytes store.c built, as the document spells them. */
        assert_non_null(f.g.msg);
        if (f.g.len != blen || memcmp(f.g.msg, bytes, blen) != 0) /* not secret */
            fail_msg("%s: store.c tagged other bytes than docs/storage.md (%zu, want %zu)",
                     rows[i][0], f.g.len, blen);
        /* The tag the backend keeps for it. */
        assert_int_equal(tlen, STORE_MAC_BYTES);
        stored_mac(mac, &f, kind, rows[i][0]);
        assert_memory_equal(mac, tag, STORE_MAC_BYTES);
        read_back(&f, kind, rows[i][0]);
        fx_close(&f);
        free(bytes);
        free(tag);
    }
    assert_int_equal(kinds, (1u << STORE_ROW_META) | (1u << STORE_ROW_POLICY) |
                                (1u << STORE_ROW_GRADEKEY) | (1u << STORE_ROW_RECORD) |
                                (1u << STORE_ROW_GRANT) | (1u << STORE_ROW_CHECKPOINT) |
                                (1u << STORE_ROW_AUDIT_STATE));
    free(storage);
}

/* The vectors' key is the key a guard tags with: another key, other tags. */
static void test_rowmac_key_matters(void **state)
{
    fx f;
    uint8_t mac[STORE_MAC_BYTES], want[STORE_MAC_BYTES];

    (void)state;
    fx_open(&f);
    f.g.key[0] ^= 1;
    assert_int_equal(write_row(&f, "meta_vault_id"), STORE_ROW_META);
    stored_mac(mac, &f, STORE_ROW_META, "meta_vault_id");
    f.g.key[0] ^= 1;
    assert_int_equal(vc_keyed_hash(want, sizeof want, f.g.key, f.g.msg, f.g.len), VAULT_OK);
    assert_memory_not_equal(mac, want, STORE_MAC_BYTES);
    /* Under the right key again, the row tagged with the other one fails. */
    R(&f);
    {
        uint8_t v[32];
        size_t n;
        expect_integrity(store_meta_get(f.s, "vault_id", v, sizeof v, &n), "a meta row vault_id");
    }
    store_rollback(f.s);
    fx_close(&f);
}

/* ---- tampering behind store.c's back, kind by kind ---- */

typedef struct meta_copy {
    uint8_t value[64];
    size_t len;
    uint8_t mac[STORE_MAC_BYTES];
} meta_copy;

static int meta_copy_cb(void *arg, const store_meta *m)
{
    meta_copy *c = arg;

    assert_true(m->len <= sizeof c->value);
    memcpy(c->value, m->value, m->len);
    c->len = m->len;
    memcpy(c->mac, m->mac, STORE_MAC_BYTES);
    return 0;
}

static void be_meta_put(fx *f, const char *key, const uint8_t *value, size_t len,
                        const uint8_t mac[STORE_MAC_BYTES])
{
    store_meta m = {key, value, len, {0}};

    memcpy(m.mac, mac, STORE_MAC_BYTES);
    W(f);
    assert_int_equal(f->be->meta_put(f->be, &m), VAULT_OK);
    C(f);
}

static int meta_read(fx *f, const char *key, char *out, size_t cap)
{
    size_t n = 0;
    int rc;

    R(f);
    memset(out, 0, cap);
    rc = store_meta_get(f->s, key, (uint8_t *)out, cap - 1, &n);
    store_rollback(f->s);
    return rc;
}

static int state_copy_cb(void *arg, const store_audit_head *h)
{
    store_audit_state *a = arg;
    static uint8_t kept[8 + 64 * 32];

    assert_non_null(h->state);
    assert_true(h->state_len <= sizeof kept);
    memcpy(kept, h->state, h->state_len);
    a->log = NULL; /* the city log */
    a->pos = h->pos;
    memcpy(a->head, h->head, 32);
    a->state = kept;
    a->len = h->state_len;
    memcpy(a->mac, h->state_mac, STORE_MAC_BYTES);
    return 0;
}

/* Put a state straight through the backend (no tag computed). */
static void be_state_put(fx *f, const store_audit_state *a)
{
    W(f);
    assert_int_equal(f->be->audit_state_put(f->be, a, 0), VAULT_OK);
    C(f);
}

static int state_read(fx *f, int64_t *pos, size_t *len)
{
    uint8_t out[8 + 64 * 32];
    int rc;

    R(f);
    rc = store_audit_state_get(pos, out, sizeof out, len, f->s);
    store_rollback(f->s);
    return rc;
}

/* The audit state on the newest entry: changed, re-tagged wrongly, or
 * moved to a newer entry with its old tag, it fails its MAC; a newest
 * entry without one reads as none (length 0, the log layer refuses it);
 * it goes only on the newest entry. */
/* A shard log's audit state (table version 9): the bytes store.c tags
 * name the log after the state, as docs/storage.md says.  The memory
 * double keeps the city log only and refuses the put, after store.c
 * tagged it: the bytes and the tag are store.c's. */
static void test_rowmac_log_vector(void **state)
{
    char *rows[TU_MAX_ROWS][TU_MAX_COLS], *storage = NULL;
    size_t n = tu_vectors("rowmac.txt", rows, &storage), i, blen, tlen;
    uint8_t *bytes = NULL, *tag = NULL, mac[STORE_MAC_BYTES];
    state_vec sv;
    fx f;

    (void)state;
    for (i = 0; i < n && strcmp(rows[i][0], "audit_state_3_log") != 0; i++)
        ;
    assert_true(i < n);
    bytes = tu_unhex(rows[i][2], &blen);
    tag = tu_unhex(rows[i][3], &tlen);
    fx_open(&f);
    state_vec_of(&sv, "audit_state_3");
    W(&f);
    assert_int_equal(store_audit_seal(f.s, seal_upto, &sv), VAULT_OK);
    assert_int_equal(store_audit_state_put_in(f.s, "hangzhou/xihu", 0, sv.pos, sv.head, sv.state,
                                              sv.len),
                     VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "hangzhou/xihu"));
    if (f.g.len != blen || memcmp(f.g.msg, bytes, blen) != 0) /* not secret */
        fail_msg("audit_state_3_log: store.c tagged other bytes than docs/storage.md");
    assert_int_equal(tlen, STORE_MAC_BYTES);
    assert_int_equal(vc_keyed_hash(mac, sizeof mac, f.g.key, f.g.msg, f.g.len), VAULT_OK);
    assert_memory_equal(mac, tag, STORE_MAC_BYTES);
    /* the city log's state keeps the bytes it had */
    assert_int_equal(store_audit_state_put(f.s, 0, sv.pos, sv.head, sv.state, sv.len), VAULT_OK);
    assert_true(f.g.len < blen);
    assert_memory_equal(f.g.msg, bytes, f.g.len);
    store_rollback(f.s);
    fx_close(&f);
    free(bytes);
    free(tag);
    free(storage);
}

static void test_audit_state_tampered(void **state)
{
    fx f;
    state_vec sv, next;
    store_audit_state a, bad;
    uint8_t changed[8 + 64 * 32];
    int64_t pos = 0;
    size_t len = 0;

    (void)state;
    fx_open(&f);
    state_vec_of(&sv, "audit_state_3");
    W(&f);
    assert_int_equal(store_audit_seal(f.s, seal_upto, &sv), VAULT_OK);
    assert_int_equal(store_audit_state_put(f.s, 0, sv.pos, sv.head, sv.state, sv.len), VAULT_OK);
    /* not on an older entry */
    assert_int_equal(store_audit_state_put(f.s, 0, sv.pos - 1, sv.head, sv.state, sv.len),
                     VAULT_EINTEGRITY);
    C(&f);
    assert_int_equal(state_read(&f, &pos, &len), VAULT_OK);
    assert_int_equal(pos, 3);
    assert_int_equal(len, sv.len);
    R(&f);
    assert_int_equal(f.be->audit_head(f.be, STORE_LOG_CITY, state_copy_cb, &a), VAULT_OK);
    store_rollback(f.s);

    /* the bytes changed under the old tag */
    bad = a;
    memcpy(changed, a.state, a.len);
    changed[8] ^= 1;
    bad.state = changed;
    be_state_put(&f, &bad);
    expect_integrity(state_read(&f, &pos, &len), "the audit state of entry 3");
    assert_int_equal(len, 0);
    /* the tag changed */
    bad = a;
    bad.mac[0] ^= 1;
    be_state_put(&f, &bad);
    expect_integrity(state_read(&f, &pos, &len), "the audit state of entry 3");
    be_state_put(&f, &a);
    assert_int_equal(state_read(&f, &pos, &len), VAULT_OK);

    /* one more entry: until a state is put on it, the newest has none */
    next = sv;
    next.pos = 4;
    seq(next.head, 0x90, 32);
    W(&f);
    assert_int_equal(store_audit_seal(f.s, seal_upto, &next), VAULT_OK);
    C(&f);
    assert_int_equal(state_read(&f, &pos, &len), VAULT_OK);
    assert_int_equal(pos, 4);
    assert_int_equal(len, 0);
    /* the old state and tag moved onto it */
    bad = a;
    bad.pos = 4;
    memcpy(bad.head, next.head, 32);
    be_state_put(&f, &bad);
    expect_integrity(state_read(&f, &pos, &len), "the audit state of entry 4");
    fx_close(&f);
}

static void test_meta_tampered(void **state)
{
    fx f;
    meta_copy c, other;
    char out[64];
    uint8_t mac[STORE_MAC_BYTES];

    (void)state;
    fx_open(&f);
    W(&f);
    assert_int_equal(store_meta_put(f.s, "note", (const uint8_t *)"SECRET-VALUE-1", 14), VAULT_OK);
    assert_int_equal(store_meta_put(f.s, "other", (const uint8_t *)"SECRET-VALUE-1", 14), VAULT_OK);
    C(&f);
    R(&f);
    assert_int_equal(f.be->meta_get(f.be, "note", meta_copy_cb, &c), VAULT_OK);
    assert_int_equal(f.be->meta_get(f.be, "other", meta_copy_cb, &other), VAULT_OK);
    store_rollback(f.s);
    assert_int_equal(meta_read(&f, "note", out, sizeof out), VAULT_OK);
    assert_string_equal(out, "SECRET-VALUE-1");

    /* The MAC changed. */
    memcpy(mac, c.mac, sizeof mac);
    mac[31] ^= 0x80;
    be_meta_put(&f, "note", c.value, c.len, mac);
    expect_integrity(meta_read(&f, "note", out, sizeof out), "a meta row note");
    assert_null(strstr(vault_error_last(), "SECRET")); /* never the value */
    assert_string_equal(out, ""); /* nothing of the row was handed out */
    /* The value changed under its old MAC. */
    be_meta_put(&f, "note", (const uint8_t *)"SECRET-VALUE-2", 14, c.mac);
    expect_integrity(meta_read(&f, "note", out, sizeof out), "a meta row note");
    /* Another key's row (same value) with its own MAC: the key is covered. */
    be_meta_put(&f, "note", other.value, other.len, other.mac);
    expect_integrity(meta_read(&f, "note", out, sizeof out), "a meta row note");
    /* The row as store.c wrote it reads again. */
    be_meta_put(&f, "note", c.value, c.len, c.mac);
    assert_int_equal(meta_read(&f, "note", out, sizeof out), VAULT_OK);
    fx_close(&f);
}

static void test_policy_tampered(void **state)
{
    fx f;
    store_policy p;
    uint8_t mac1[STORE_MAC_BYTES];
    char fname[64], *src = NULL;
    size_t n = 0;
    int64_t id = 0;

    (void)state;
    fx_open(&f);
    W(&f);
    put_policy(&f, POLICY1_SRC, 1700000000, 1);
    C(&f);
    stored_mac(mac1, &f, STORE_ROW_POLICY, "policy_1");
    /* A newer policy inserted behind store.c, carrying policy 1's MAC (its
     * id differs, so does its tag): the active policy fails. */
    memset(&p, 0, sizeof p);
    crypto_hash_sha256(p.hash, (const uint8_t *)POLICY2_SRC, strlen(POLICY2_SRC));
    p.filename = "city.yaml";
    p.source = POLICY2_SRC;
    p.len = strlen(POLICY2_SRC);
    p.applied = 1700000050;
    memcpy(p.mac, mac1, sizeof mac1);
    W(&f);
    assert_int_equal(f.be->policy_add(f.be, &p), VAULT_OK);
    assert_int_equal(p.id, 2);
    C(&f);
    R(&f);
    expect_integrity(store_policy_active(&id, fname, sizeof fname, &src, &n, f.s),
                     "a policy row");
    assert_null(src);
    store_rollback(f.s);
    fx_close(&f);
}

static void test_gradekey_tampered(void **state)
{
    fx f;
    store_gradekey k;
    uint8_t wrapped[72], mac[STORE_MAC_BYTES], out[80];
    size_t n = 0;

    (void)state;
    seq(wrapped, 0x10, sizeof wrapped);
    fx_open(&f);
    W(&f);
    assert_int_equal(store_gradekey_add(f.s, "personal", 3, wrapped, sizeof wrapped, 1700000001),
                     VAULT_OK);
    C(&f);
    R(&f);
    assert_int_equal(f.be->gradekey_get(f.be, "personal", 3, gradekey_mac_cb, mac), VAULT_OK);
    store_rollback(f.s);
    /* Version 4 inserted with version 3's MAC, and one of another grade. */
    W(&f);
    k = (store_gradekey){"personal", 4, wrapped, sizeof wrapped, 1700000001, {0}};
    memcpy(k.mac, mac, sizeof mac);
    assert_int_equal(f.be->gradekey_add(f.be, &k), VAULT_OK);
    k = (store_gradekey){"sensitive", 3, wrapped, sizeof wrapped, 1700000001, {0}};
    memcpy(k.mac, mac, sizeof mac);
    assert_int_equal(f.be->gradekey_add(f.be, &k), VAULT_OK);
    C(&f);
    R(&f);
    expect_integrity(store_gradekey_get(out, sizeof out, &n, f.s, "personal", 4),
                     "a grade key row personal");
    expect_integrity(store_gradekey_get(out, sizeof out, &n, f.s, "sensitive", 3),
                     "a grade key row sensitive");
    assert_int_equal(store_gradekey_get(out, sizeof out, &n, f.s, "personal", 3), VAULT_OK);
    store_rollback(f.s);
    fx_close(&f);
}

/* Write b's row through the backend with the MAC it has now. */
static void be_record_put(fx *f, const store_record *r)
{
    W(f);
    assert_int_equal(f->be->record_write(f->be, r, 0), VAULT_OK);
    C(f);
}

/* Every record read path fails on the tampered row; no callback runs. */
static void expect_record_fails(fx *f, const uint8_t id[VAULT_ID_BYTES])
{
    int seen = 0;

    R(f);
    expect_integrity(store_record_get(f->s, id, count_record, &seen), "a record row c0c1");
    expect_integrity(store_record_get_batch(f->s, id, 1, count_record_i, &seen),
                     "a record row c0c1");
    /* "phone" is sealed under personal key version 1: stale below 2. */
    expect_integrity(store_record_scan_stale(f->s, "personal", 2, 10, count_record, &seen),
                     "a record row c0c1");
    assert_int_equal(seen, 0);
    store_rollback(f->s);
}

static void test_record_tampered(void **state)
{
    fx f;
    rec_buf b;
    uint8_t mac[STORE_MAC_BYTES];
    int seen = 0;

    (void)state;
    fx_open(&f);
    rec_2_fields(&b);
    W(&f);
    assert_int_equal(store_record_write(f.s, &b.r, 1), VAULT_OK);
    C(&f);
    memcpy(mac, b.r.mac, sizeof mac); /* store.c wrote its tag into the row */

    b.r.mac[0] ^= 1; /* the MAC */
    be_record_put(&f, &b.r);
    expect_record_fails(&f, b.r.id);
    memcpy(b.r.mac, mac, sizeof mac);

    b.f[1].counter = 2; /* a field's write counter rolled back */
    be_record_put(&f, &b.r);
    expect_record_fails(&f, b.r.id);
    b.f[1].counter = 3;

    b.r.jurisdiction = "zhejiang/hangzhou/gongshu"; /* moved to another district */
    be_record_put(&f, &b.r);
    expect_record_fails(&f, b.r.id);
    b.r.jurisdiction = "zhejiang/hangzhou/xihu";

    b.f[1].digest[0] ^= 1; /* the blind-index digest */
    be_record_put(&f, &b.r);
    expect_record_fails(&f, b.r.id);
    b.f[1].digest[0] ^= 1;

    b.ct_name[20] ^= 1; /* a ciphertext byte */
    be_record_put(&f, &b.r);
    expect_record_fails(&f, b.r.id);
    b.ct_name[20] ^= 1;

    b.r.fields = &b.f[1]; /* a field ("name") dropped */
    b.r.nfields = 1;
    be_record_put(&f, &b.r);
    expect_record_fails(&f, b.r.id);
    b.r.fields = b.f;
    b.r.nfields = 2;

    /* Put back as store.c wrote it, the row reads. */
    be_record_put(&f, &b.r);
    R(&f);
    assert_int_equal(store_record_get(f.s, b.r.id, count_record, &seen), VAULT_OK);
    assert_int_equal(seen, 1);
    store_rollback(f.s);
    fx_close(&f);
}

static int nop_grant(void *arg, const store_grant *g)
{
    (void)arg;
    (void)g;
    fail_msg("a grant that failed its MAC reached the caller");
    return -1;
}

static void expect_grant_fails(fx *f, const char *id)
{
    char what[32];

    snprintf(what, sizeof what, "a grant row %s", id);
    R(f);
    expect_integrity(store_grant_get(f->s, id, nop_grant, NULL), what);
    expect_integrity(store_grant_scan(f->s, nop_grant, NULL), what);
    store_rollback(f->s);
    /* Changing its state reads it first: refused, nothing written. */
    W(f);
    expect_integrity(store_grant_set_state(f->s, id, "revoked", NULL, NULL, "chen.jie", "x", 1700001000),
                     what);
    store_rollback(f->s);
}

/* expect_grant_fails for one grant among valid ones: read by id, and
 * its state change, refused. */
static void expect_grant_get_fails(fx *f, const char *id)
{
    char what[32];

    snprintf(what, sizeof what, "a grant row %s", id);
    R(f);
    expect_integrity(store_grant_get(f->s, id, nop_grant, NULL), what);
    store_rollback(f->s);
    W(f);
    expect_integrity(store_grant_set_state(f->s, id, "revoked", NULL, NULL, "chen.jie", "x",
                                           1700001000),
                     what);
    store_rollback(f->s);
}

static void test_grant_tampered(void **state)
{
    fx f;
    store_grant g = grant_nulls(), h;
    uint8_t mac[STORE_MAC_BYTES], mac3[STORE_MAC_BYTES];
    int seen = 0;

    (void)state;
    fx_open(&f);
    W(&f);
    assert_int_equal(store_grant_insert(f.s, &g), VAULT_OK);
    C(&f);
    stored_mac(mac, &f, STORE_ROW_GRANT, "grant_nulls");
    memcpy(g.mac, mac, sizeof mac);

    W(&f);
    h = g;
    h.state = "active"; /* approved behind the vault's back */
    assert_int_equal(f.be->grant_update(f.be, &h), VAULT_OK);
    C(&f);
    expect_grant_fails(&f, "g-1");

    W(&f);
    h = g;
    h.user = ""; /* absent (any user) and empty are different rows */
    assert_int_equal(f.be->grant_update(f.be, &h), VAULT_OK);
    C(&f);
    expect_grant_fails(&f, "g-1");

    W(&f);
    h = g;
    h.not_after = INT64_MAX; /* extended */
    assert_int_equal(f.be->grant_update(f.be, &h), VAULT_OK);
    C(&f);
    expect_grant_fails(&f, "g-1");

    /* Back as written: readable, and set_state re-tags the new state. */
    W(&f);
    assert_int_equal(f.be->grant_update(f.be, &g), VAULT_OK);
    assert_int_equal(store_grant_set_state(f.s, "g-1", "active", "wang.fang", NULL, NULL, NULL,
                                           1700000600),
                     VAULT_OK);
    C(&f);
    R(&f);
    assert_int_equal(store_grant_scan(f.s, count_grant, &seen), VAULT_OK);
    assert_int_equal(seen, 1);
    store_rollback(f.s);

    /* Schema 5: the principal that issued it changed, or taken away (the
     * row then has the bytes of a grant from before schema 5). */
    h = grant_principals();
    W(&f);
    assert_int_equal(store_grant_insert(f.s, &h), VAULT_OK);
    C(&f);
    stored_mac(mac3, &f, STORE_ROW_GRANT, "grant_principals");
    memcpy(h.mac, mac3, sizeof mac3);
    {
        store_grant k = h;
        W(&f);
        k.issued_by.sub = "u-18"; /* another officer's subject */
        assert_int_equal(f.be->grant_update(f.be, &k), VAULT_OK);
        C(&f);
        expect_grant_get_fails(&f, "g-3");
        W(&f);
        k = h;
        memset(&k.issued_by, 0, sizeof k.issued_by);
        memset(&k.approved_by, 0, sizeof k.approved_by);
        assert_int_equal(f.be->grant_update(f.be, &k), VAULT_OK);
        C(&f);
        expect_grant_get_fails(&f, "g-3");
        W(&f);
        k = h;
        k.approved_by.app = NULL; /* approved by no app: absent */
        assert_int_equal(f.be->grant_update(f.be, &k), VAULT_OK);
        C(&f);
        expect_grant_get_fails(&f, "g-3");
        W(&f);
        assert_int_equal(f.be->grant_update(f.be, &h), VAULT_OK); /* back as written */
        C(&f);
    }

    /* A grant inserted behind store.c with another grant's MAC. */
    h = grant_all_set();
    memcpy(h.mac, mac, sizeof mac);
    W(&f);
    assert_int_equal(f.be->grant_insert(f.be, &h), VAULT_OK);
    C(&f);
    R(&f);
    expect_integrity(store_grant_get(f.s, "g-2", nop_grant, NULL), "a grant row g-2");
    expect_integrity(store_grant_scan(f.s, count_grant, &seen), "a grant row g-2");
    store_rollback(f.s);
    fx_close(&f);
}

static void test_checkpoint_tampered(void **state)
{
    fx f;
    store_checkpoint c;
    uint8_t mac[STORE_MAC_BYTES];
    int seen = 0;

    (void)state;
    fx_open(&f);
    W(&f);
    assert_int_equal(store_checkpoint_add(f.s, 1000, CP_NOTE, 1700000400), VAULT_OK);
    C(&f);
    stored_mac(mac, &f, STORE_ROW_CHECKPOINT, "checkpoint_1000");

    /* Same size, another note, the old MAC (the backend replaces it). */
    c = (store_checkpoint){1000, "forged\n", 7, 1700000400, {0}};
    memcpy(c.mac, mac, sizeof mac);
    W(&f);
    assert_int_equal(f.be->checkpoint_add(f.be, &c), VAULT_OK);
    C(&f);
    R(&f);
    expect_integrity(store_checkpoint_scan(f.s, count_cp, &seen), "a checkpoint row (size 1000)");
    assert_int_equal(seen, 0);
    store_rollback(f.s);

    /* The note as written but filed under another size. */
    c = (store_checkpoint){1000, CP_NOTE, strlen(CP_NOTE), 1700000400, {0}};
    memcpy(c.mac, mac, sizeof mac);
    W(&f);
    assert_int_equal(f.be->checkpoint_add(f.be, &c), VAULT_OK); /* restored */
    c.size = 2000;
    assert_int_equal(f.be->checkpoint_add(f.be, &c), VAULT_OK);
    C(&f);
    R(&f);
    expect_integrity(store_checkpoint_scan(f.s, count_cp, &seen), "a checkpoint row (size 2000)");
    assert_int_equal(seen, 1); /* size 1000 came first and passed */
    store_rollback(f.s);
    fx_close(&f);
}

/* What row MACs do not catch (docs/storage.md, "What a row MAC does not
 * catch"): a row put back to an older state the vault itself wrote, and a
 * deleted row.  Pinned here so the document's words stay true. */
static void test_rollback_not_caught(void **state)
{
    fx f;
    meta_copy old;
    rec_buf b;
    char out[64];
    int seen = 0;

    (void)state;
    fx_open(&f);
    W(&f);
    assert_int_equal(store_meta_put(f.s, "note", (const uint8_t *)"first", 5), VAULT_OK);
    C(&f);
    R(&f);
    assert_int_equal(f.be->meta_get(f.be, "note", meta_copy_cb, &old), VAULT_OK);
    store_rollback(f.s);
    W(&f);
    assert_int_equal(store_meta_put(f.s, "note", (const uint8_t *)"second", 6), VAULT_OK);
    C(&f);
    be_meta_put(&f, "note", old.value, old.len, old.mac);
    assert_int_equal(meta_read(&f, "note", out, sizeof out), VAULT_OK);
    assert_string_equal(out, "first");

    /* A record deleted behind the vault is simply not there. */
    rec_2_fields(&b);
    W(&f);
    assert_int_equal(store_record_write(f.s, &b.r, 1), VAULT_OK);
    C(&f);
    W(&f);
    assert_int_equal(f.be->record_delete(f.be, b.r.id), VAULT_OK);
    C(&f);
    R(&f);
    assert_int_equal(store_record_get(f.s, b.r.id, count_record, &seen), VAULT_ENOTFOUND);
    store_rollback(f.s);
    fx_close(&f);
}

/* ---- transactions ---- */

static int no_audit(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                    size_t head_len)
{
    (void)arg;
    (void)pos;
    (void)entry;
    (void)len;
    (void)head;
    (void)head_len;
    return 0;
}

/* Run one store call; rcs[k] is 1 when store.c itself refused it as out
 * of its transaction (VAULT_ESTATE with store.c's message, not the
 * backend's: the double refuses such calls too). */
#define CALL(expr)                                                                            \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        rcs[k] = rc_ == VAULT_ESTATE && strncmp(vault_error_last(), "store: store_", 13) == 0; \
        if (!rcs[k])                                                                       \
            print_message("call %zu: %d (%s)\n", k, rc_, vault_error_last());               \
        k++;                                                                               \
    } while (0)

/* Every read call; into rcs[i] whether store.c refused call i. */
static size_t all_reads(int *rcs, fx *f)
{
    uint8_t v[80], id[VAULT_ID_BYTES] = {0}, *ids = NULL, *entry = NULL, head[32];
    size_t n = 0, k = 0, len = 0;
    char fname[64], *src = NULL;
    int64_t i64 = 0;
    uint64_t u64 = 0;
    uint32_t u32 = 0;
    int seen = 0;

    CALL(store_meta_get(f->s, "note", v, sizeof v, &n));
    CALL(store_policy_active(&i64, fname, sizeof fname, &src, &n, f->s));
    CALL(store_gradekey_get(v, sizeof v, &n, f->s, "personal", 1));
    CALL(store_gradekey_latest(&u32, f->s, "personal"));
    CALL(store_record_get(f->s, id, count_record, &seen));
    CALL(store_record_get_batch(f->s, id, 1, count_record_i, &seen));
    CALL(store_record_count(&i64, f->s));
    CALL(store_record_scan_stale(f->s, "personal", 2, 10, count_record, &seen));
    CALL(store_field_count_stale(&i64, f->s, "personal", 2));
    CALL(store_bidx_find(&ids, &n, f->s, "phone", v, 32));
    CALL(store_grant_get(f->s, "g-1", count_grant, &seen));
    CALL(store_grant_scan(f->s, count_grant, &seen));
    CALL(store_audit_last(&i64, &entry, &len, head, f->s));
    CALL(store_audit_scan(f->s, 0, no_audit, NULL));
    CALL(store_audit_scan_record(f->s, id, no_audit, NULL));
    CALL(store_audit_scan_user(f->s, "li.wei", no_audit, NULL));
    CALL(store_audit_count(&i64, f->s));
    CALL(store_audit_state_get(&i64, v, sizeof v, &len, f->s));
    CALL(store_checkpoint_last(&u64, f->s));
    CALL(store_checkpoint_scan(f->s, count_cp, &seen));
    CALL(store_quota_count(&i64, f->s, "search", "li.wei", 0));
    assert_null(src);
    assert_null(ids);
    assert_null(entry);
    assert_int_equal(seen, 0);
    return k;
}

/* A seal callback that appends nothing (the call is refused before it). */
static int seal_nothing(void *arg, const store_audit_head *h, store_audit_row *out, size_t cap,
                        size_t *n)
{
    (void)arg, (void)h, (void)out, (void)cap;
    *n = 0;
    return 0;
}

/* Every write call. */
static size_t all_writes(int *rcs, fx *f)
{
    uint8_t v[32] = {0}, hash[32] = {0}, id[VAULT_ID_BYTES] = {0};
    rec_buf b;
    store_grant g = grant_nulls();
    int64_t pid = 0;
    size_t k = 0;

    rec_2_fields(&b);
    CALL(store_meta_put(f->s, "note", v, 4));
    CALL(store_policy_add(&pid, f->s, hash, "city.yaml", "x", 1, 1));
    CALL(store_gradekey_add(f->s, "personal", 1, v, 32, 1));
    CALL(store_gradekey_retire(f->s, "personal", 1));
    CALL(store_record_write(f->s, &b.r, 1));
    CALL(store_record_delete(f->s, id));
    CALL(store_bulk_begin(f->s, 100000));
    CALL(store_bulk_end(f->s));
    CALL(store_grant_insert(f->s, &g));
    CALL(store_grant_set_state(f->s, "g-1", "active", "wang.fang", NULL, NULL, NULL, 2));
    CALL(store_audit_seal(f->s, seal_nothing, NULL));
    CALL(store_audit_index(f->s));
    CALL(store_audit_state_put(f->s, 0, 1, v, v, 8));
    CALL(store_checkpoint_add(f->s, 1, "note", 1));
    CALL(store_quota_add(f->s, "search", "li.wei", 0, 1));
    return k;
}

/* ---- the SQLCipher backend's bulk path ---- */

#define BULK_RECS 300
#define BULK_FIELDS 1000 /* 300 000 blind-index rows: more than one sorted chunk */

static void bulk_digest(uint8_t d[32], unsigned rec, unsigned field, unsigned gen)
{
    uint8_t in[12];

    memcpy(in, &rec, 4);
    memcpy(in + 4, &field, 4);
    memcpy(in + 8, &gen, 4);
    crypto_generichash(d, 32, in, sizeof in, NULL, 0);
}

static void bulk_record(store_record *r, store_field *f, char (*names)[8], unsigned i,
                        unsigned gen0)
{
    static const uint8_t ct[16] = {1, 2, 3};
    unsigned j;

    memset(r, 0, sizeof *r);
    memcpy(r->id, &i, sizeof i);
    r->id[15] = 0xB1;
    r->jurisdiction = "zhejiang/hangzhou/xihu";
    r->created = r->updated = 1700000000;
    r->version = gen0 ? 2 : 1;
    for (j = 0; j < BULK_FIELDS; j++) {
        f[j] = (store_field){names[j], "personal", 1, r->version, ct, sizeof ct, {0}, 32};
        bulk_digest(f[j].digest, i, j, j == 0 ? gen0 : 0);
    }
    r->nfields = BULK_FIELDS;
    r->fields = f;
}

static size_t bulk_find(store *s, const char *field, unsigned rec, unsigned j, unsigned gen)
{
    uint8_t d[32], *ids = NULL;
    size_t n = 0;

    bulk_digest(d, rec, j, gen);
    assert_int_equal(store_bidx_find(&ids, &n, s, field, d, 32), VAULT_OK);
    if (n == 1)
        assert_memory_equal(ids, &rec, sizeof rec);
    free(ids);
    return n;
}

/* A load larger than one sorted chunk: every blind-index row is added,
 * those of the first chunk (added during the load) and of the last (at
 * bulk_end); a record the load rewrites keeps only its new digests. */
static void test_bulk_chunks(void **state)
{
    char *dir = tu_tmpdir(), path[600];
    store *s = NULL;
    store_guard guard;
    seen_guard g;
    store_record r;
    store_field *f = calloc(BULK_FIELDS, sizeof *f);
    char (*names)[8] = calloc(BULK_FIELDS, sizeof *names);
    unsigned i;

    (void)state;
    assert_non_null(f);
    assert_non_null(names);
    memset(&g, 0, sizeof g);
    guard.mac = guard_mac;
    guard.arg = &g;
    for (i = 0; i < BULK_FIELDS; i++)
        snprintf(names[i], sizeof names[i], "f%04u", i);
    snprintf(path, sizeof path, "%s/bulk.vault", dir);
    assert_int_equal(store_open(&s, path, DBKEY, 1, &guard, NULL), VAULT_OK);
    assert_int_equal(store_begin(s, STORE_TX_WRITE), VAULT_OK);
    assert_int_equal(store_bulk_begin(s, 100000), VAULT_OK);
    for (i = 0; i < BULK_RECS; i++) {
        bulk_record(&r, f, names, i, 0);
        assert_int_equal(store_record_write(s, &r, 1), VAULT_OK);
    }
    /* Record 280 (its rows still kept for the last chunk) rewritten inside
     * the load: field f0000 gets a new digest. */
    bulk_record(&r, f, names, 280, 1);
    assert_int_equal(store_record_write(s, &r, 0), VAULT_OK);
    assert_int_equal(store_bulk_end(s), VAULT_OK);
    assert_int_equal(store_commit(s), VAULT_OK);
    assert_int_equal(store_begin(s, STORE_TX_SNAPSHOT), VAULT_OK);
    assert_int_equal(bulk_find(s, "f0001", 0, 1, 0), 1);
    assert_int_equal(bulk_find(s, "f0500", 150, 500, 0), 1);
    assert_int_equal(bulk_find(s, "f0999", BULK_RECS - 1, 999, 0), 1);
    assert_int_equal(bulk_find(s, "f0000", 280, 0, 1), 1);
    assert_int_equal(bulk_find(s, "f0000", 280, 0, 0), 0); /* the old digest is gone */
    assert_int_equal(bulk_find(s, "f0001", 280, 1, 0), 1);
    assert_int_equal(bulk_find(s, "f0002", 0, 1, 0), 0); /* each digest under its own field */
    store_rollback(s);
    store_close(s);
    free(g.msg);
    free(f);
    free(names);
    tu_rmdir(dir);
}

static void test_outside_tx(void **state)
{
    fx f;
    int rcs[32];
    size_t n, i, calls;
    int64_t count = -1;

    (void)state;
    fx_open(&f);
    calls = f.g.calls;
    n = all_reads(rcs, &f);
    assert_int_equal(n, 21);
    for (i = 0; i < n; i++)
        if (!rcs[i])
            fail_msg("read call %zu outside a transaction was not refused by store.c", i);
    assert_non_null(strstr(vault_error_last(), "outside a transaction"));
    n = all_writes(rcs, &f);
    assert_int_equal(n, 15);
    for (i = 0; i < n; i++)
        if (!rcs[i])
            fail_msg("write call %zu outside a transaction was not refused by store.c", i);
    assert_non_null(strstr(vault_error_last(), "outside a transaction"));
    /* In a snapshot: reads run, writes are refused. */
    R(&f);
    assert_false(store_tx_writes(f.s));
    n = all_writes(rcs, &f);
    for (i = 0; i < n; i++)
        if (!rcs[i])
            fail_msg("write call %zu in a snapshot was not refused by store.c", i);
    assert_non_null(strstr(vault_error_last(), "in a read-only transaction"));
    assert_int_equal(store_record_count(&count, f.s), VAULT_OK);
    assert_int_equal(count, 0);
    assert_int_equal(store_begin(f.s, STORE_TX_SNAPSHOT), VAULT_ESTATE); /* no nesting */
    store_rollback(f.s);
    assert_false(store_in_tx(f.s));
    /* Nothing was tagged, so nothing was written. */
    assert_int_equal(f.g.calls, calls);
    fx_close(&f);
}

/* A guard that fails stops the write: the row is not stored untagged. */
static void test_guard_failure(void **state)
{
    fx f;
    char out[16];

    (void)state;
    fx_open(&f);
    f.g.fail = 1;
    W(&f);
    assert_int_equal(store_meta_put(f.s, "note", (const uint8_t *)"v", 1), VAULT_ERROR);
    C(&f);
    f.g.fail = 0;
    assert_int_equal(meta_read(&f, "note", out, sizeof out), VAULT_ENOTFOUND);
    fx_close(&f);
}

static void test_open_rules(void **state)
{
    store_backend *be = NULL;
    store *s = NULL;
    seen_guard g;
    store_guard guard = {guard_mac, &g}, nomac = {NULL, &g};

    (void)state;
    memset(&g, 0, sizeof g);
    assert_int_equal(store_mem_open(&be, "store-open", DBKEY, 1), VAULT_OK);
    assert_int_equal(store_open_backend(&s, be, NULL, NULL), VAULT_EINVALID); /* frees be */
    assert_null(s);
    assert_int_equal(store_mem_open(&be, "store-open", DBKEY, 0), VAULT_OK);
    assert_int_equal(store_open_backend(&s, be, &nomac, NULL), VAULT_EINVALID);
    assert_int_equal(store_mem_open(&be, "store-open", DBKEY, 0), VAULT_OK);
    be->version = STORE_BACKEND_VERSION + 1;
    assert_int_equal(store_open_backend(&s, be, &guard, NULL), VAULT_ESTATE);
    assert_non_null(strstr(vault_error_last(), "table version"));
    assert_null(s);
    /* version 4 (before row_scan and destroy) is refused too */
    assert_int_equal(store_mem_open(&be, "store-open", DBKEY, 0), VAULT_OK);
    be->version = 4;
    assert_int_equal(store_open_backend(&s, be, &guard, NULL), VAULT_ESTATE);
    assert_null(s);
    assert_int_equal(store_mem_open(&be, "store-open", DBKEY, 0), VAULT_OK);
    be->row_scan = NULL;
    assert_int_equal(store_open_backend(&s, be, &guard, NULL), VAULT_ESTATE);
    assert_int_equal(store_mem_open(&be, "store-open", DBKEY, 0), VAULT_OK);
    assert_int_equal(store_open_backend(&s, be, &guard, NULL), VAULT_OK);
    store_close(s);
    /* Every backend was freed: the store has no connection left. */
    assert_int_equal(store_mem_forget("store-open"), VAULT_OK);
    free(g.msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rowmac_vectors),
        cmocka_unit_test(test_rowmac_key_matters),
        cmocka_unit_test(test_meta_tampered),
        cmocka_unit_test(test_rowmac_log_vector),
        cmocka_unit_test(test_audit_state_tampered),
        cmocka_unit_test(test_policy_tampered),
        cmocka_unit_test(test_gradekey_tampered),
        cmocka_unit_test(test_record_tampered),
        cmocka_unit_test(test_grant_tampered),
        cmocka_unit_test(test_checkpoint_tampered),
        cmocka_unit_test(test_rollback_not_caught),
        cmocka_unit_test(test_outside_tx),
        cmocka_unit_test(test_bulk_chunks),
        cmocka_unit_test(test_guard_failure),
        cmocka_unit_test(test_open_rules),
    };

    if (vault_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

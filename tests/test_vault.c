/* vault: create/open/unlock, records through sessions, integrity of moved
 * ciphertexts, no plaintext on disk, keyslots, concurrency. */
#include "testutil.h"
#include "testsnap.h"
#include "testrow.h"

#include <signal.h>
#include <sys/wait.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store/store.h"
#include "vault_int.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"
#define PASS "correct horse battery staple"

typedef struct fixture {
    char *dir;
    char path[512];
    char keyfile[512];
    vault *v;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    vault_secret s = VAULT_SECRET_INIT;

    assert_non_null(f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/test.vault", f->dir);
    snprintf(f->keyfile, sizeof f->keyfile, "%s/test.key", f->dir);
    s = tu_pass_secret(PASS);
    assert_int_equal(vault_create(&f->v, f->path, POLICY, &s), 0);
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

static vault_session *officer(vault *v)
{
    return tu_session(v, "li", "data_officer", "street_office", STREET, "resident_service");
}

static void add(vault_session *s, char *id, const char *jur, const char *name, const char *phone,
                const char *idno)
{
    const char *fields[] = {"name", "phone", "id_number"};
    const char *values[] = {name, phone, idno};
    size_t lens[] = {strlen(name), strlen(phone), strlen(idno)};

    assert_int_equal(vault_record_add(id, VAULT_ID_HEX_SIZE, s, jur, 3, fields, values, lens), 0);
}

/* The value of one field as the session sees it ("" if none). */
static int get1(char *out, size_t cap, int *effect, vault_session *s, const char *id, const char *field)
{
    vault_result *r = NULL;
    size_t len = 0;
    const char *val;
    int rc = vault_record_get(&r, s, id, &field, 1);

    out[0] = '\0';
    if (rc < 0)
        return rc;
    assert_int_equal(vault_result_count(r), 1);
    val = vault_result_value(r, 0, &len);
    if (val)
        snprintf(out, cap, "%.*s", (int)len, val);
    if (effect)
        *effect = vault_result_effect(r, 0);
    vault_result_free(r);
    return 0;
}

static void test_roundtrip(void **state)
{
    fixture *f = *state;
    vault_session *s = officer(f->v);
    char id[VAULT_ID_HEX_SIZE], val[256];
    int effect = -1;

    add(s, id, GRID7, "张三丰", "13812345678", "11010119900307123X");
    assert_int_equal(strlen(id), 32);
    assert_int_equal(get1(val, sizeof val, &effect, s, id, "phone"), 0);
    assert_int_equal(effect, VAULT_EFFECT_ALLOW);
    assert_string_equal(val, "13812345678");
    assert_int_equal(get1(val, sizeof val, &effect, s, id, "name"), 0);
    assert_string_equal(val, "张三丰");
    assert_int_equal(vault_record_put(s, id, "phone", "13900000000", 11), 0);
    assert_int_equal(get1(val, sizeof val, NULL, s, id, "phone"), 0);
    assert_string_equal(val, "13900000000");
    {
        /* one version per update, however many fields it writes */
        uint8_t rid[VAULT_ID_BYTES];
        const char *fl[] = {"name", "address"}, *vals[] = {"张三", "长征社区"};
        size_t lens[] = {strlen(vals[0]), strlen(vals[1])};
        assert_int_equal(vault__id_parse(rid, id), 0);
        assert_int_equal(tu_raw_version(f->v, rid), 2);
        assert_int_equal(vault_record_update(s, id, 2, fl, vals, lens), 0);
        assert_int_equal(tu_raw_version(f->v, rid), 3);
    }
    /* reopen: still there */
    vault_session_close(s);
    vault_close(f->v);
    {
        vault_secret sec = tu_pass_secret(PASS);
        assert_int_equal(vault_open(&f->v, f->path, &sec), 0);
    }
    s = officer(f->v);
    assert_int_equal(get1(val, sizeof val, NULL, s, id, "phone"), 0);
    assert_string_equal(val, "13900000000");
    vault_session_close(s);
}

static void test_bad_input(void **state)
{
    fixture *f = *state;
    vault_session *s = officer(f->v);
    char id[VAULT_ID_HEX_SIZE], *big;
    vault_result *r = NULL;
    const char *nofield = "favourite_colour";

    add(s, id, GRID7, "李四", "13800000001", "110101199003071234");
    assert_int_equal(vault_record_put(s, id, "favourite_colour", "blue", 4), VAULT_EINVALID);
    assert_int_equal(vault_record_put(s, id, "name", "\xff\xfe", 2), VAULT_EINVALID);
    assert_null(strstr(vault_error_last(), "\xff"));
    assert_int_equal(vault_record_put(s, id, "name", "a\0b", 3), VAULT_EINVALID);
    big = malloc(VAULT_VALUE_MAX + 1);
    assert_non_null(big);
    memset(big, 'a', VAULT_VALUE_MAX + 1);
    assert_int_equal(vault_record_put(s, id, "name", big, VAULT_VALUE_MAX + 1), VAULT_ELIMIT);
    free(big);
    assert_int_equal(vault_record_put(s, "not-an-id", "name", "x", 1), VAULT_EINVALID);
    assert_int_equal(vault_record_put(s, "00000000000000000000000000000000", "name", "x", 1),
                     VAULT_ENOTFOUND);
    assert_int_equal(vault_record_get(&r, s, id, &nofield, 1), VAULT_EINVALID);
    assert_int_equal(vault_record_create(id, sizeof id, s, STREET "//grid-1"), VAULT_EINVALID);
    assert_int_equal(vault_record_create(id, sizeof id, s, "/" STREET), VAULT_EINVALID);
    assert_int_equal(vault_record_create(id, sizeof id, s, STREET "/Grid 1"), VAULT_EINVALID);
    vault_session_close(s);
}

static void test_atomic_update(void **state)
{
    fixture *f = *state;
    vault_session *s = officer(f->v);
    char id[VAULT_ID_HEX_SIZE], val[64];
    const char *fields[] = {"phone", "nonexistent"};
    const char *values[] = {"13999999999", "x"};
    size_t lens[] = {11, 1};
    int64_t before = 0, after = 0;

    add(s, id, GRID7, "王五", "13800000002", "110101199003071234");
    assert_int_equal(vault_record_update(s, id, 2, fields, values, lens), VAULT_EINVALID);
    assert_int_equal(get1(val, sizeof val, NULL, s, id, "phone"), 0);
    assert_string_equal(val, "13800000002"); /* nothing written */
    assert_int_equal(TU_SNAP(f->v->db, store_record_count(&before, f->v->db)), 0);
    assert_int_equal(vault_record_add(id, sizeof id, s, GRID7, 2, fields, values, lens), VAULT_EINVALID);
    assert_int_equal(TU_SNAP(f->v->db, store_record_count(&after, f->v->db)), 0);
    assert_int_equal(before, after); /* no half-made record */
    vault_session_close(s);
}

static void test_denied(void **state)
{
    fixture *f = *state;
    vault_session *s = officer(f->v), *g = NULL;
    vault_subject grid = {sizeof(vault_subject), "wang", "grid_worker", "community_committee", GRID7, "grid_management"};
    char id[VAULT_ID_HEX_SIZE], other[VAULT_ID_HEX_SIZE], val[64];
    int effect = -1;

    add(s, id, GRID7, "赵六", "13800000003", "110101199003071234");
    add(s, other, STREET "/hushu/grid-01", "钱七", "13800000004", "110101199003071234");
    assert_int_equal(vault_session_open(&g, f->v, &grid), 0);
    /* a grid worker may not write */
    assert_int_equal(vault_record_put(g, id, "phone", "13000000000", 11), VAULT_EDENIED);
    assert_int_equal(get1(val, sizeof val, NULL, s, id, "phone"), 0);
    assert_string_equal(val, "13800000003");
    /* masked in the own grid, denied outside */
    assert_int_equal(get1(val, sizeof val, &effect, g, id, "phone"), 0);
    assert_int_equal(effect, VAULT_EFFECT_MASK);
    assert_string_equal(val, "138****0003");
    assert_int_equal(get1(val, sizeof val, &effect, g, other, "phone"), 0);
    assert_int_equal(effect, VAULT_EFFECT_DENY);
    assert_string_equal(val, "");
    /* a resident's copy: the officer gets the fields, the grid worker nothing */
    {
        char *doc = NULL;
        assert_int_equal(vault_record_export(&doc, g, id), VAULT_EDENIED);
        assert_null(doc);
        /* the officer exports for a resident's request, not for service */
        assert_int_equal(vault_record_export(&doc, s, id), VAULT_EDENIED);
        {
            vault_subject req = {sizeof(vault_subject), "li", "data_officer", "street_office", STREET, "resident_request"};
            vault_session *r = NULL;
            assert_int_equal(vault_session_open(&r, f->v, &req), 0);
            assert_int_equal(vault_record_export(&doc, r, id), 0);
            assert_non_null(strstr(doc, "\"phone\": \"13800000003\""));
            vault_free(doc);
            vault_session_close(r);
        }
    }
    /* unknown role / purpose refused at session open */
    {
        vault_subject bad = grid;
        vault_session *x = NULL;
        bad.role = "janitor";
        assert_int_equal(vault_session_open(&x, f->v, &bad), VAULT_EINVALID);
        bad = grid;
        bad.purpose = "curiosity";
        assert_int_equal(vault_session_open(&x, f->v, &bad), VAULT_EINVALID);
        assert_null(x);
    }
    vault_session_close(g);
    vault_session_close(s);
}

static void test_find_and_erase(void **state)
{
    fixture *f = *state;
    vault_session *s = officer(f->v);
    char id[VAULT_ID_HEX_SIZE], id2[VAULT_ID_HEX_SIZE], *hits = NULL;
    size_t n = 0;
    vault_result *r = NULL;

    add(s, id, GRID7, "孙八", "13800000005", "33010219800101002x");
    add(s, id2, GRID7, "周九", "13800000006", "330102198001010038");
    /* normalised: surrounding space, upper-case X */
    assert_int_equal(vault_record_find(&hits, &n, s, "id_number", " 33010219800101002X ", 20), 0);
    assert_int_equal(n, 1);
    assert_string_equal(hits, id);
    vault_free(hits);
    assert_int_equal(vault_record_find(&hits, &n, s, "phone", "13800000006", 11), 0);
    assert_int_equal(n, 1);
    assert_string_equal(hits, id2);
    vault_free(hits);
    /* a field without an index can't be searched */
    assert_int_equal(vault_record_find(&hits, &n, s, "name", "孙八", strlen("孙八")), VAULT_EINVALID);
    /* erase: gone from reads and from the index */
    assert_int_equal(vault_record_erase(s, id), 0);
    assert_int_equal(vault_record_get(&r, s, id, NULL, 0), VAULT_ENOTFOUND);
    assert_int_equal(vault_record_find(&hits, &n, s, "id_number", "33010219800101002X", 18), 0);
    assert_int_equal(n, 0);
    vault_free(hits);
    assert_int_equal(vault_record_erase(s, id), VAULT_ENOTFOUND);
    vault_session_close(s);
}

/* A ciphertext copied to another record or field fails to open. */
static void test_moved_ciphertext(void **state)
{
    fixture *f = *state;
    vault_session *s = officer(f->v);
    char a[VAULT_ID_HEX_SIZE], b[VAULT_ID_HEX_SIZE], val[64];
    uint8_t ida[16], idb[16], *ct = NULL;
    size_t len = 0;
    char grade[VAULT_NAME_MAX];
    uint32_t ver = 0;

    add(s, a, GRID7, "吴十", "13800000007", "110101199003071234");
    add(s, b, GRID7, "郑一", "13800000008", "110101199003071234");
    assert_int_equal(vault__id_parse(ida, a), 0);
    assert_int_equal(vault__id_parse(idb, b), 0);
    /* another record */
    ct = tu_raw_get(f->v, ida, "phone", &len, grade, &ver);
    tu_raw_put(f->v, idb, "phone", grade, ver, ct, len);
    assert_int_equal(get1(val, sizeof val, NULL, s, b, "phone"), VAULT_EINTEGRITY);
    /* another field of the same record and grade */
    tu_raw_put(f->v, ida, "address", grade, ver, ct, len);
    assert_int_equal(get1(val, sizeof val, NULL, s, a, "address"), VAULT_EINTEGRITY);
    /* flipped bit */
    ct[len - 1] ^= 1;
    tu_raw_put(f->v, ida, "phone", grade, ver, ct, len);
    assert_int_equal(get1(val, sizeof val, NULL, s, a, "phone"), VAULT_EINTEGRITY);
    /* truncated */
    tu_raw_put(f->v, ida, "phone", grade, ver, ct, 20);
    assert_int_equal(get1(val, sizeof val, NULL, s, a, "phone"), VAULT_EINTEGRITY);
    assert_null(strstr(vault_error_last(), "1380000"));
    free(ct);
    vault_session_close(s);
}

/* A ciphertext from another vault fails to open even with the same ids. */
static void test_other_vault(void **state)
{
    fixture *f = *state;
    char path2[600], id[VAULT_ID_HEX_SIZE], val[64];
    vault *v2 = NULL;
    vault_secret sec = tu_pass_secret(PASS);
    vault_session *s = officer(f->v), *s2 = NULL;
    uint8_t rid[16], *ct = NULL;
    size_t len = 0;
    char grade[VAULT_NAME_MAX];
    uint32_t ver = 0;

    snprintf(path2, sizeof path2, "%s/other.vault", f->dir);
    assert_int_equal(vault_create(&v2, path2, POLICY, &sec), 0);
    s2 = officer(v2);
    add(s, id, GRID7, "冯二", "13800000009", "110101199003071234");
    assert_int_equal(vault__id_parse(rid, id), 0);
    ct = tu_raw_get(f->v, rid, "phone", &len, grade, &ver);
    /* same record id in the other vault, same field, same grade, same version */
    tu_raw_create(v2, rid, GRID7);
    tu_raw_put(v2, rid, "phone", grade, ver, ct, len);
    assert_int_equal(get1(val, sizeof val, NULL, s2, id, "phone"), VAULT_EINTEGRITY);
    free(ct);
    vault_session_close(s2);
    vault_session_close(s);
    vault_close(v2);
}

static void test_no_plaintext_on_disk(void **state)
{
    fixture *f = *state;
    vault_session *s = officer(f->v);
    char id[VAULT_ID_HEX_SIZE], p[1200];
    static const char *const secrets[] = {"慕容雪村测试", "13712349876", "330102199912318888",
                                          PASS};
    size_t i;
    int k;

    add(s, id, GRID7, secrets[0], secrets[1], secrets[2]);
    vault_session_close(s);
    /* while open (the WAL holds the newest pages) and after close */
    for (k = 0; k < 2; k++) {
        static const char *const suffix[] = {"", "-wal", ".keys"};
        size_t j;
        for (j = 0; j < 3; j++) {
            snprintf(p, sizeof p, "%s%s", f->path, suffix[j]);
            for (i = 0; i < 4; i++)
                assert_int_not_equal(tu_file_contains(p, secrets[i], strlen(secrets[i])), 1);
        }
        if (k == 0) {
            snprintf(p, sizeof p, "%s-wal", f->path);
            assert_int_equal(tu_file_contains(p, "x", 1) >= 0, 1); /* the WAL exists */
            vault_close(f->v);
            f->v = NULL;
        }
    }
}

static void test_unlock_failures(void **state)
{
    fixture *f = *state;
    vault *v = NULL;
    vault_secret bad = tu_pass_secret("hunter2-not-it"), good = tu_pass_secret(PASS);
    vault_secret kf = tu_keyfile_secret(f->keyfile);
    char keys[1200], copy[1200];
    uint8_t *buf;
    size_t len = 0;
    FILE *out;
    int slot = -1;

    vault_close(f->v);
    f->v = NULL;
    assert_int_equal(vault_open(&v, f->path, &bad), VAULT_EAUTH);
    assert_null(v);
    assert_null(strstr(vault_error_last(), "hunter2"));
    /* key file slot */
    assert_int_equal(vault_keyfile_generate(f->keyfile), 0);
    assert_int_equal(vault_keyfile_generate(f->keyfile), VAULT_EEXISTS);
    assert_int_equal(vault_open(&v, f->path, &kf), VAULT_EAUTH); /* not a slot yet */
    assert_int_equal(vault_open(&v, f->path, &good), 0);
    assert_int_equal(vault_keyslot_add(&slot, v, &kf, "backup"), 0);
    vault_close(v);
    v = NULL;
    assert_int_equal(vault_open(&v, f->path, &kf), 0);
    vault_close(v);
    v = NULL;
    /* another key file */
    snprintf(copy, sizeof copy, "%s/other.key", f->dir);
    assert_int_equal(vault_keyfile_generate(copy), 0);
    kf = tu_keyfile_secret(copy);
    assert_int_equal(vault_open(&v, f->path, &kf), VAULT_EAUTH);
    /* damaged keys file */
    snprintf(keys, sizeof keys, "%s.keys", f->path);
    buf = tu_read_file(keys, &len);
    assert_non_null(buf);
    out = fopen(keys, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(buf, 1, len / 2, out), len / 2);
    fclose(out);
    assert_int_equal(vault_open(&v, f->path, &good), VAULT_EINTEGRITY);
    /* restore; then swap in another vault's keys file */
    out = fopen(keys, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(buf, 1, len, out), len);
    fclose(out);
    free(buf);
    assert_int_equal(vault_open(&v, f->path, &good), 0);
    vault_close(v);
    v = NULL;
    {
        char p2[1200], k2[1200], cmd[4000];
        vault *v2 = NULL;
        snprintf(p2, sizeof p2, "%s/b.vault", f->dir);
        snprintf(k2, sizeof k2, "%s/b.vault.keys", f->dir);
        assert_int_equal(vault_create(&v2, p2, POLICY, &good), 0);
        vault_close(v2);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", k2, keys);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(vault_open(&v, f->path, &good), VAULT_EINTEGRITY);
        assert_null(v);
    }
    /* missing vault */
    snprintf(copy, sizeof copy, "%s/missing.vault", f->dir);
    assert_int_equal(vault_open(&v, copy, &good), VAULT_ENOTFOUND);
}

static void test_keyslots(void **state)
{
    fixture *f = *state;
    vault_secret kf = tu_keyfile_secret(f->keyfile), good = tu_pass_secret(PASS);
    vault_keyslot_info *slots = NULL;
    size_t n = 0;
    int slot = -1;
    vault_session *s = officer(f->v);
    char id[VAULT_ID_HEX_SIZE], val[64];

    add(s, id, GRID7, "陈皮", "13800000010", "110101199003071234");
    vault_session_close(s);
    assert_int_equal(vault_keyfile_generate(f->keyfile), 0);
    assert_int_equal(vault_keyslot_add(&slot, f->v, &kf, "backup"), 0);
    assert_int_equal(vault_keyslot_list(&slots, &n, f->v), 0);
    assert_int_equal(n, 2);
    assert_int_equal(slots[1].kind, VAULT_UNLOCK_KEYFILE);
    assert_string_equal(slots[1].label, "backup");
    vault_free(slots);
    /* remove the passphrase slot; the key file still opens; data intact */
    assert_int_equal(vault_keyslot_remove(f->v, 0), 0);
    assert_int_equal(vault_keyslot_remove(f->v, slot), VAULT_ESTATE);
    assert_int_equal(vault_keyslot_remove(f->v, 99), VAULT_ENOTFOUND);
    vault_close(f->v);
    f->v = NULL;
    assert_int_equal(vault_open(&f->v, f->path, &good), VAULT_EAUTH);
    assert_int_equal(vault_open(&f->v, f->path, &kf), 0);
    s = officer(f->v);
    assert_int_equal(get1(val, sizeof val, NULL, s, id, "phone"), 0);
    assert_string_equal(val, "13800000010");
    vault_session_close(s);
}

static void test_create_refusals(void **state)
{
    fixture *f = *state;
    vault *v = NULL;
    vault_secret good = tu_pass_secret(PASS);
    char p[1200], bad[1300];
    struct stat st;
    FILE *out;

    /* existing path */
    assert_int_equal(vault_create(&v, f->path, POLICY, &good), VAULT_EEXISTS);
    assert_null(v);
    /* invalid policy: nothing left behind */
    snprintf(p, sizeof p, "%s/new.vault", f->dir);
    snprintf(bad, sizeof bad, "%s/bad.yaml", f->dir);
    out = fopen(bad, "w");
    assert_non_null(out);
    fputs("version: 1\nname: [unclosed\n", out);
    fclose(out);
    assert_int_equal(vault_create(&v, p, bad, &good), VAULT_EPOLICY);
    assert_non_null(strstr(vault_error_last(), "bad.yaml:"));
    assert_int_not_equal(stat(p, &st), 0);
    snprintf(bad, sizeof bad, "%s.keys", p);
    assert_int_not_equal(stat(bad, &st), 0);
    /* missing policy file */
    snprintf(bad, sizeof bad, "%s/none.yaml", f->dir);
    assert_true(vault_create(&v, p, bad, &good) < 0);
    assert_int_not_equal(stat(p, &st), 0);
    /* modes */
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(bad, sizeof bad, "%s.keys", f->path);
    assert_int_equal(stat(bad, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

/* Two processes writing the same vault at once: both succeed, nothing lost. */
static void test_two_writers(void **state)
{
    fixture *f = *state;
    pid_t pids[2];
    int i, status, n = 25;
    int64_t count = 0;

    vault_close(f->v);
    f->v = NULL;
    for (i = 0; i < 2; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            vault *v = NULL;
            vault_secret sec = tu_pass_secret(PASS);
            vault_session *s;
            char id[VAULT_ID_HEX_SIZE];
            int k, bad = 0;
            if (vault_open(&v, f->path, &sec) != 0)
                _exit(2);
            s = officer(v);
            for (k = 0; k < n; k++) {
                const char *fl = "phone", *val = "13800000011";
                size_t len = 11;
                if (vault_record_add(id, sizeof id, s, GRID7, 1, &fl, &val, &len) != 0)
                    bad++;
            }
            vault_session_close(s);
            vault_close(v);
            _exit(bad ? 1 : 0);
        }
    }
    for (i = 0; i < 2; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    {
        vault_secret sec = tu_pass_secret(PASS);
        assert_int_equal(vault_open(&f->v, f->path, &sec), 0);
    }
    assert_int_equal(TU_SNAP(f->v->db, store_record_count(&count, f->v->db)), 0);
    assert_int_equal(count, 2 * n);
}

static void test_db_key(void **state)
{
    fixture *f = *state;
    char key[80];

    assert_int_equal(vault_db_key(key, sizeof key, f->v), 0);
    assert_int_equal(strlen(key), 67);
    assert_memory_equal(key, "x'", 2);
    assert_int_equal(key[66], '\'');
    assert_int_equal(vault_db_key(key, 20, f->v), VAULT_EINVALID);
    sodium_memzero(key, sizeof key);
}

/* Open the vault file with the stock SQLCipher API, key and page size. */
static int raw_open_pages(sqlite3 **db, const char *path, const char *key, int page)
{
    char sql[64];

    assert_int_equal(sqlite3_open(path, db), SQLITE_OK);
    assert_int_equal(sqlite3_key(*db, key, (int)strlen(key)), SQLITE_OK);
    snprintf(sql, sizeof sql, "PRAGMA cipher_page_size = %d", page);
    assert_int_equal(sqlite3_exec(*db, sql, NULL, NULL, NULL), SQLITE_OK);
    return sqlite3_exec(*db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
}

/* New vaults have 4 KiB pages; a vault with SQLCipher 3's 1 KiB pages (made
 * by development builds before the change) still opens, reads and
 * appends, and keeps its page size. */
static void test_page_sizes(void **state)
{
    fixture *f = *state;
    vault_session *o = officer(f->v);
    vault_secret s = tu_pass_secret(PASS);
    char key[80], id[VAULT_ID_HEX_SIZE], legacy[520], sql[1200], got[64];
    sqlite3 *db = NULL;
    vault_audit_result res;

    add(o, id, GRID7, "李四", "13900001111", "330102199001011234");
    vault_session_close(o);
    assert_int_equal(vault_db_key(key, sizeof key, f->v), 0);
    assert_int_equal(raw_open_pages(&db, f->path, key, 4096), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(raw_open_pages(&db, f->path, key, 1024), SQLITE_NOTADB);
    sqlite3_close(db);

    /* Copy the vault into a 1 KiB-page file and put it in its place.  The
     * vault is closed first: closing signs a checkpoint that the keys file
     * records, and a copy from before it would be refused as rolled back. */
    vault_close(f->v);
    f->v = NULL;
    snprintf(legacy, sizeof legacy, "%s.1k", f->path);
    assert_int_equal(raw_open_pages(&db, f->path, key, 4096), SQLITE_OK);
    snprintf(sql, sizeof sql,
             "ATTACH DATABASE '%s' AS legacy KEY \"%s\"; PRAGMA legacy.cipher_page_size = 1024;"
             "SELECT sqlcipher_export('legacy'); PRAGMA legacy.user_version = %d;"
             "DETACH DATABASE legacy;",
             legacy, key, STORE_SCHEMA_VERSION);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(rename(legacy, f->path), 0);
    snprintf(sql, sizeof sql, "%s-wal", f->path);
    unlink(sql);
    snprintf(sql, sizeof sql, "%s-shm", f->path);
    unlink(sql);
    assert_int_equal(raw_open_pages(&db, f->path, key, 4096), SQLITE_NOTADB);
    sqlite3_close(db);
    sodium_memzero(key, sizeof key);

    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    o = officer(f->v);
    assert_int_equal(get1(got, sizeof got, NULL, o, id, "phone"), 0);
    assert_string_equal(got, "13900001111");
    assert_int_equal(vault_record_put(o, id, "phone", "13900002222", 11), 0);
    assert_int_equal(get1(got, sizeof got, NULL, o, id, "phone"), 0);
    assert_string_equal(got, "13900002222");
    vault_session_close(o);
    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), 0);
    assert_int_equal(res.failure, VAULT_AUDIT_OK);
    assert_int_equal(vault_db_key(key, sizeof key, f->v), 0);
    assert_int_equal(raw_open_pages(&db, f->path, key, 1024), SQLITE_OK);
    sqlite3_close(db);
    sodium_memzero(key, sizeof key);
}

/* The quota uses as schema 5 had them: without the record a residents
 * quota use names. */
#define QUOTA_TO_SCHEMA5                                                                           \
    "CREATE TABLE quota5(quota TEXT NOT NULL, user TEXT NOT NULL, at INTEGER NOT NULL);"          \
    "INSERT INTO quota5 SELECT quota, user, at FROM quota_use;"                                   \
    "DROP TABLE quota_use; ALTER TABLE quota5 RENAME TO quota_use;"                              \
    "CREATE INDEX quota_use_lookup ON quota_use(quota, user, at);"

/* The grants table as schema 4 had it: without the principals (and the
 * quota uses without their records). */
#define GRANTS_TO_SCHEMA4                                                                          \
    QUOTA_TO_SCHEMA5                                                                               \
    "CREATE TABLE grants4(id TEXT PRIMARY KEY, state TEXT NOT NULL, issuer TEXT NOT NULL,"        \
    " issuer_role TEXT NOT NULL, subject_user TEXT, subject_role TEXT, subject_department TEXT,"  \
    " effect INTEGER NOT NULL, actions INTEGER NOT NULL, fields TEXT, grade_min TEXT,"            \
    " grade_max TEXT, records TEXT, jurisdiction TEXT, purposes TEXT,"                            \
    " not_before INTEGER NOT NULL, not_after INTEGER NOT NULL, reason TEXT NOT NULL,"             \
    " break_glass INTEGER NOT NULL, approver TEXT, revoked_by TEXT, revoke_reason TEXT,"          \
    " created INTEGER NOT NULL, changed INTEGER, mac BLOB NOT NULL) WITHOUT ROWID;"               \
    "INSERT INTO grants4 SELECT id, state, issuer, issuer_role, subject_user, subject_role,"      \
    " subject_department, effect, actions, fields, grade_min, grade_max, records, jurisdiction,"  \
    " purposes, not_before, not_after, reason, break_glass, approver, revoked_by, revoke_reason," \
    " created, changed, mac FROM grants;"                                                         \
    "DROP TABLE grants; ALTER TABLE grants4 RENAME TO grants;"

/* Turn f's vault into one as store schema 3 kept it: the audit state in
 * the meta row audit_tree (tagged as a meta row, as schema 3 did), no
 * state columns on audit, user_version 3.  damage: the meta row's value
 * changed afterwards (its tag left as it was). */
static void make_schema3(fixture *f, int damage)
{
    vault_secret s = tu_pass_secret(PASS);
    uint8_t state[8 + 64 * 32 + 64];
    size_t n = 0;
    int64_t pos = 0;
    char key[80];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    vault_close(f->v); /* whatever the close appends comes first */
    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    assert_int_equal(vault_db_key(key, sizeof key, f->v), 0); /* (logged: an entry) */
    assert_int_equal(store_begin(f->v->db, STORE_TX_WRITE), 0);
    assert_int_equal(store_audit_state_get(&pos, state, sizeof state, &n, f->v->db), 0);
    assert_true(pos > 0 && n > 8);
    assert_int_equal(store_meta_put(f->v->db, STORE_META_AUDIT_TREE, state, n), 0);
    assert_int_equal(store_commit(f->v->db), 0);
    vault_close(f->v);
    f->v = NULL;
    assert_int_equal(raw_open_pages(&db, f->path, key, 4096), SQLITE_OK);
    sodium_memzero(key, sizeof key);
    /* the meta row holds exactly the newest row's state */
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM audit a, meta m WHERE m.key = "
                                        "'audit_tree' AND a.pos = (SELECT max(pos) FROM audit)"
                                        " AND a.state = m.value",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TABLE audit3(pos INTEGER PRIMARY KEY, entry BLOB NOT NULL,"
                     " head BLOB NOT NULL, record_id BLOB, user TEXT NOT NULL,"
                     " flags INTEGER NOT NULL);"
                     "INSERT INTO audit3 SELECT pos, entry, head, record_id, user, flags FROM audit;"
                     "DROP TABLE audit; ALTER TABLE audit3 RENAME TO audit;"
                     GRANTS_TO_SCHEMA4 "PRAGMA user_version = 3;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    if (damage)
        assert_int_equal(sqlite3_exec(db,
                                      "UPDATE meta SET value = zeroblob(length(value))"
                                      " WHERE key = 'audit_tree'",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    sqlite3_close(db);
}

/* One integer from the vault file (raw, through SQLCipher). */
static int64_t raw_int(fixture *f, const char *key, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v;

    assert_int_equal(raw_open_pages(&db, f->path, key, 4096), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* A schema 4 vault with a grant (written by an embedded officer: no
 * principals) opens as schema 5 in one step: columns added, the grant's
 * MAC kept (its bytes are the same without principals), the trust the
 * log vouches for unchanged, the migration logged. */
static void test_schema4_migrates(void **state)
{
    fixture *f = *state;
    vault_session *o = officer(f->v);
    vault_secret s = tu_pass_secret(PASS);
    const char *phone = "phone";
    vault_grant_spec g = tu_grant_spec(&phone, 1, "community_committee", STREET, 3600,
                                       "follow-up visits");
    char gid[VAULT_NAME_MAX], key[80], *list = NULL;
    vault_audit_result res;
    sqlite3 *db = NULL;

    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, o, &g), 0);
    vault_session_close(o);
    assert_int_equal(vault_db_key(key, sizeof key, f->v), 0);
    vault_close(f->v);
    f->v = NULL;
    assert_int_equal(raw_open_pages(&db, f->path, key, 4096), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, GRANTS_TO_SCHEMA4 "PRAGMA user_version = 4;", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(raw_int(f, key, "PRAGMA user_version"), 4);

    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    assert_int_equal(raw_int(f, key, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(raw_int(f, key, "SELECT count(*) FROM grants WHERE issuer_iss IS NULL AND "
                                     "approver_sub IS NULL"),
                     1);
    assert_int_equal(vault_grant_list(&list, f->v, 0, 0), 0);
    assert_non_null(strstr(list, gid));
    vault_free(list);
    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), 0);
    assert_int_equal(res.failure, VAULT_AUDIT_OK);
    sodium_memzero(key, sizeof key);
}

/* A schema 5 vault with a counted search (no record column) opens as
 * schema 6: the column added, the use kept (naming no record), the
 * migration logged, the log verifies. */
static void test_schema5_migrates(void **state)
{
    fixture *f = *state;
    vault_secret s = tu_pass_secret(PASS);
    char key[80], log[600];
    vault_audit_result res;
    sqlite3 *db = NULL;

    assert_int_equal(vault_db_key(key, sizeof key, f->v), 0);
    vault_close(f->v);
    f->v = NULL;
    assert_int_equal(raw_open_pages(&db, f->path, key, 4096), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  QUOTA_TO_SCHEMA5
                                  "INSERT INTO quota_use(quota, user, at) VALUES ('q', 'wang', 5);"
                                  "PRAGMA user_version = 5;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(raw_int(f, key, "PRAGMA user_version"), 5);

    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    assert_int_equal(raw_int(f, key, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(raw_int(f, key, "SELECT count(*) FROM quota_use WHERE quota = 'q' AND"
                                     " user = 'wang' AND at = 5 AND record IS NULL"),
                     1);
    snprintf(log, sizeof log, "%s.export", f->path);
    assert_int_equal(vault_audit_export(f->v, log, NULL, NULL), 0);
    assert_true(tu_file_contains(log, "the record on each residents-quota use", 38));
    unlink(log);
    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), 0);
    assert_int_equal(res.failure, VAULT_AUDIT_OK);
    sodium_memzero(key, sizeof key);
}

/* A schema 3 vault (the audit state in meta) opens: the state moves onto
 * the newest audit row in the migration's transaction, the meta row is
 * gone, values read, the log verifies.  A schema 3 state changed outside
 * libvault is refused by the migration (never re-tagged), and the file
 * stays at schema 3. */
static void test_schema3_migrates(void **state)
{
    fixture *f = *state;
    vault_session *o = officer(f->v);
    vault_secret s = tu_pass_secret(PASS);
    char id[VAULT_ID_HEX_SIZE], got[64], key[80];
    vault_audit_result res;
    int i;

    add(o, id, GRID7, "李四", "13900001111", "330102199001011234");
    vault_session_close(o);
    assert_int_equal(vault_db_key(key, sizeof key, f->v), 0);
    for (i = 0; i < 2; i++) {
        make_schema3(f, i == 1);
        assert_int_equal(raw_int(f, key, "PRAGMA user_version"), 3);
        if (i == 1) {
            assert_int_equal(vault_open(&f->v, f->path, &s), VAULT_EINTEGRITY);
            assert_null(f->v);
            assert_non_null(strstr(vault_error_last(), "audit_tree"));
            assert_int_equal(raw_int(f, key, "PRAGMA user_version"), 3);
            assert_int_equal(raw_int(f, key, "SELECT count(*) FROM meta WHERE key = 'audit_tree'"), 1);
            break;
        }
        assert_int_equal(vault_open(&f->v, f->path, &s), 0);
        o = officer(f->v);
        assert_int_equal(get1(got, sizeof got, NULL, o, id, "phone"), 0);
        assert_string_equal(got, "13900001111");
        vault_session_close(o);
        assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), 0);
        assert_int_equal(res.failure, VAULT_AUDIT_OK);
        assert_int_equal(raw_int(f, key, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
        assert_int_equal(raw_int(f, key, "SELECT count(*) FROM meta WHERE key = 'audit_tree'"), 0);
        assert_int_equal(raw_int(f, key, "SELECT count(*) FROM audit WHERE state IS NOT NULL"), 1);
        assert_int_equal(raw_int(f, key, "SELECT count(*) FROM audit WHERE state IS NOT NULL"
                                         " AND pos = (SELECT max(pos) FROM audit)"),
                         1);
    }
    sodium_memzero(key, sizeof key);
}

static void test_constants(void **state)
{
    (void)state;
    assert_int_equal(vault_const_edenied(), VAULT_EDENIED);
    assert_int_equal(vault_field_overhead(), 45);
    assert_int_equal(vault_id_hex_size(), 33);
    assert_string_equal(vault_error_name(VAULT_EINTEGRITY), "VAULT_EINTEGRITY");
    assert_int_equal(vault_version_major(), VAULT_VERSION_MAJOR);
    vault_close(NULL);
    vault_session_close(NULL);
    vault_result_free(NULL);
}

/* Values of one result share a secure arena that grows while it is
 * filled: every value, early or late, short or long, allowed or masked,
 * must come back whole. */
static void test_result_values_intact(void **state)
{
    fixture *f = *state;
    vault_session *o = officer(f->v), *g = NULL;
    vault_subject gs = {sizeof(vault_subject), "wang", "grid_worker", "community_committee", STREET "/changzheng/grid-07",
                        "grid_management"};
    const char *fields[] = {"name", "phone", "id_number", "address", "household_registration",
                            "marital_status"};
    char *values[6];
    size_t lens[6], i, k, len;
    char id[VAULT_ID_HEX_SIZE];
    vault_result *r = NULL;
    vault_session *who[2];
    const char *val;
    int allowed = 0, masked = 0;

    values[0] = strdup("张三丰");
    values[1] = strdup("13812345678");
    values[2] = strdup("33010219900101123X");
    values[3] = malloc(3001);
    values[4] = malloc(700);
    values[5] = strdup("已婚");
    for (i = 0; i < 3000; i++)
        values[3][i] = (char)('a' + i % 26);
    values[3][3000] = '\0';
    for (i = 0; i < 699; i++)
        values[4][i] = (char)('0' + i % 10);
    values[4][699] = '\0';
    for (i = 0; i < 6; i++) {
        assert_non_null(values[i]);
        lens[i] = strlen(values[i]);
    }
    assert_int_equal(vault_record_add(id, sizeof id, o, STREET "/changzheng/grid-07", 6, fields,
                                      (const char *const *)values, lens),
                     0);
    assert_int_equal(vault_session_open(&g, f->v, &gs), 0);
    who[0] = o;
    who[1] = g;
    for (k = 0; k < 2; k++) {
        assert_int_equal(vault_record_get(&r, who[k], id, fields, 6), 0);
        for (i = 0; i < 6; i++) {
            val = vault_result_value(r, i, &len);
            switch (vault_result_effect(r, i)) {
            case VAULT_EFFECT_ALLOW:
                assert_non_null(val);
                assert_int_equal(len, lens[i]);
                assert_memory_equal(val, values[i], len);
                assert_int_equal(val[len], '\0');
                allowed++;
                break;
            case VAULT_EFFECT_MASK:
                assert_non_null(val);
                assert_int_equal(strlen(val), len);
                assert_false(len == lens[i] && memcmp(val, values[i], len) == 0);
                masked++;
                break;
            default:
                assert_null(val);
            }
        }
        vault_result_free(r);
        r = NULL;
    }
    assert_true(allowed >= 6); /* the officer reads all six */
    assert_true(masked >= 1);  /* the grid worker sees masks */
    for (i = 0; i < 6; i++)
        free(values[i]);
    vault_session_close(g);
    vault_session_close(o);
}

/* A field ciphertext put back from an earlier write, with the row tagged
 * anew (what only a master-key holder could do; without the master key
 * the row MAC fails first, tests/cli/test_tamper.sh): the write counter in
 * the ciphertext's associated data (format 2) is not the row's any more,
 * so the old value does not open. */
static void test_old_ciphertext_restored(void **state)
{
    fixture *f = *state;
    vault_session *s = officer(f->v);
    char id[VAULT_ID_HEX_SIZE], val[64], grade[VAULT_NAME_MAX];
    uint8_t rid[VAULT_ID_BYTES], *old;
    size_t len = 0;
    uint32_t ver = 0;

    add(s, id, GRID7, "赵六", "13800000003", "110101199003071234");
    assert_int_equal(vault__id_parse(rid, id), 0);
    old = tu_raw_get(f->v, rid, "phone", &len, grade, &ver);
    assert_int_equal(vault_record_put(s, id, "phone", "13900000004", 11), 0);
    tu_raw_put(f->v, rid, "phone", grade, ver, old, len); /* same key version, newer counter */
    assert_int_equal(get1(val, sizeof val, NULL, s, id, "phone"), VAULT_EINTEGRITY);
    assert_null(strstr(vault_error_last(), "13800000003"));
    free(old);
    vault_session_close(s);
}

/* An audited read runs in a snapshot without the write lock; if another
 * connection commits before its entries are sealed, the seal fails
 * (VAULT_EBUSY) instead of committing entries and values of a stale
 * snapshot, and a retry sees the new state. */
static void test_deferred_write_conflict(void **state)
{
    fixture *f = *state;
    vault_session *s = officer(f->v), *s2 = NULL;
    vault *w = NULL;
    vault_secret sec = tu_pass_secret(PASS);
    char id[VAULT_ID_HEX_SIZE], val[64];
    int64_t n = 0;
    const uint8_t one = 1;

    add(s, id, GRID7, "王五", "13800000001", "110101199003071234");
    assert_int_equal(vault_open(&w, f->path, &sec), 0);
    s2 = officer(w);
    assert_int_equal(store_begin(f->v->db, STORE_TX_DEFERRED), 0);
    assert_int_equal(store_record_count(&n, f->v->db), 0); /* the snapshot is taken */
    assert_int_equal(vault_record_put(s2, id, "phone", "13900000002", 11), 0);
    assert_int_equal(store_meta_put(f->v->db, "probe", &one, 1), VAULT_EBUSY);
    store_rollback(f->v->db);
    /* The public read retries and sees the other connection's write. */
    assert_int_equal(get1(val, sizeof val, NULL, s, id, "phone"), 0);
    assert_string_equal(val, "13900000002");
    vault_session_close(s2);
    vault_close(w);
    vault_session_close(s);
}

/* vault_reopen: a second handle with the first one's keys, no secret
 * needed; each handle works alone, and writes through one are seen (and
 * chained in one log) by the other. */
static void test_reopen(void **state)
{
    fixture *f = *state;
    vault *v2 = NULL;
    vault_session *s1 = officer(f->v), *s2;
    char id[VAULT_ID_HEX_SIZE], id2[VAULT_ID_HEX_SIZE], val[256];
    char vid1[VAULT_ID_HEX_SIZE], vid2[VAULT_ID_HEX_SIZE];

    assert_int_equal(vault_reopen(NULL, f->v), VAULT_EINVALID);
    assert_int_equal(vault_reopen(&v2, NULL), VAULT_EINVALID);
    assert_null(v2);
    add(s1, id, GRID7, "李四", "13811112222", "110101199003071234");
    assert_int_equal(vault_reopen(&v2, f->v), 0);
    assert_non_null(v2);
    assert_int_equal(vault_id(vid1, sizeof vid1, f->v), 0);
    assert_int_equal(vault_id(vid2, sizeof vid2, v2), 0);
    assert_string_equal(vid1, vid2);
    s2 = officer(v2);
    assert_int_equal(get1(val, sizeof val, NULL, s2, id, "phone"), 0);
    assert_string_equal(val, "13811112222");
    add(s2, id2, GRID7, "王五", "13833334444", "110101199003075678");
    assert_int_equal(get1(val, sizeof val, NULL, s1, id2, "phone"), 0);
    assert_string_equal(val, "13833334444");
    /* the first handle closes; the second keeps working on its own keys */
    vault_session_close(s1);
    vault_close(f->v);
    f->v = NULL;
    assert_int_equal(get1(val, sizeof val, NULL, s2, id, "phone"), 0);
    assert_string_equal(val, "13811112222");
    {
        vault_audit_result ar;
        assert_int_equal(vault_audit_verify(&ar, v2, NULL, NULL, NULL), 0);
        assert_int_equal(ar.failure, VAULT_AUDIT_OK);
        assert_true(ar.entries >= 4);
    }
    vault_session_close(s2);
    f->v = v2;
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deferred_write_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_ciphertext_restored, setup, teardown),
        T(test_roundtrip),       T(test_bad_input),        T(test_atomic_update),
        T(test_denied),          T(test_find_and_erase),   T(test_moved_ciphertext),
        T(test_other_vault),     T(test_no_plaintext_on_disk), T(test_unlock_failures),
        T(test_keyslots),        T(test_create_refusals),  T(test_two_writers),
        T(test_db_key),          cmocka_unit_test(test_constants),
        T(test_result_values_intact), T(test_page_sizes), T(test_schema3_migrates),
        T(test_schema4_migrates), T(test_schema5_migrates),
        T(test_reopen),
    };

    if (vault_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* erasure: per-record keys that reach every copy (docs/erasure.md).
 *
 * The test first: a backup of the data taken before an erasure,
 * restored after it, does not open the erased resident and opens the
 * others; their rows are in the restored file (an insider with the
 * database key sees them), but no key opens them, and search does not find
 * them.  Then: what a key store of another vault, a missing one, a
 * swapped or altered key row do; rotation removing an erased record's
 * remains; a record whose key alone is gone. */
#include "testutil.h"

#include <sys/stat.h>

#include <sodium.h>
#include <sqlite3.h>

#include "rawdb.h"
#include "reckeys.h"
#include "store/store.h"
#include "vault_int.h"
#include "testrow.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"

typedef struct fixture {
    char *dir;
    char path[400], keyfile[400], bk[400], rk[420];
    vault_secret s;
    vault *v;
    vault_session *officer;
    char id[3][VAULT_ID_HEX_SIZE];
} fixture;

static const char *const NAMES[3] = {"张三", "李四", "王五"};
static const char *const PHONES[3] = {"13812345678", "13900000002", "13700000003"};

static vault_session *officer(vault *v)
{
    return tu_session(v, "li", "data_officer", "street_office", STREET, "resident_service");
}

static void add(fixture *f, int i)
{
    const char *fields[] = {"name", "phone"}, *values[] = {NAMES[i], PHONES[i]};
    size_t lens[] = {strlen(NAMES[i]), strlen(PHONES[i])};

    assert_int_equal(
        vault_record_add(f->id[i], sizeof f->id[i], f->officer, GRID7, 2, fields, values, lens),
        0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    int i;

    assert_non_null(f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/a.vault", f->dir);
    snprintf(f->keyfile, sizeof f->keyfile, "%s/a.key", f->dir);
    snprintf(f->bk, sizeof f->bk, "%s/a.backup", f->dir);
    snprintf(f->rk, sizeof f->rk, "%s.rkeys", f->path);
    assert_int_equal(vault_keyfile_generate(f->keyfile), 0);
    f->s = tu_keyfile_secret(f->keyfile);
    assert_int_equal(vault_create(&f->v, f->path, POLICY, &f->s), 0);
    f->officer = officer(f->v);
    for (i = 0; i < 3; i++)
        add(f, i);
    *state = f;
    return 0;
}

static void fixture_close(fixture *f)
{
    vault_session_close(f->officer);
    f->officer = NULL;
    vault_close(f->v);
    f->v = NULL;
}

static void fixture_open(fixture *f)
{
    assert_int_equal(vault_open(&f->v, f->path, &f->s), 0);
    f->officer = officer(f->v);
}

static int teardown(void **state)
{
    fixture *f = *state;

    fixture_close(f);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

/* The phone of record i as the officer reads it: 0 and the value, or the
 * call's error. */
static int phone_of(char *out, size_t cap, fixture *f, int i)
{
    vault_result *r = NULL;
    const char *field = "phone", *val;
    size_t len = 0;
    int rc = vault_record_get(&r, f->officer, f->id[i], &field, 1);

    out[0] = '\0';
    if (rc < 0)
        return rc;
    val = vault_result_value(r, 0, &len);
    if (val)
        snprintf(out, cap, "%.*s", (int)len, val);
    vault_result_free(r);
    return 0;
}

static size_t found_by_phone(fixture *f, int i)
{
    char *ids = NULL;
    size_t n = 99;

    assert_int_equal(vault_record_find(&ids, &n, f->officer, "phone", PHONES[i], strlen(PHONES[i])),
                     0);
    vault_free(ids);
    return n;
}

/* 1 when the store holds a row for record i (as the database key's holder
 * sees it, below every check of the library). */
static int row_there(fixture *f, int i)
{
    sqlite3 *db = tu_raw_db(f->v, f->path);
    sqlite3_stmt *st = NULL;
    uint8_t rid[VAULT_ID_BYTES];
    int n = -1;

    assert_int_equal(vault__id_parse(rid, f->id[i]), 0);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM records WHERE id = ?1", -1, &st,
                                        NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, rid, VAULT_ID_BYTES, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* What the issue asks to see. */
static void test_restored_backup_keeps_erasure(void **state)
{
    fixture *f = *state;
    char val[64];
    vault_restore_info info;

    assert_int_equal(phone_of(val, sizeof val, f, 0), 0);
    assert_string_equal(val, PHONES[0]);
    /* a backup of the data while 张三 is still there */
    assert_int_equal(vault_backup(f->v, f->bk, NULL, NULL), 0);
    assert_int_equal(vault_record_erase(f->officer, f->id[0]), 0);
    assert_int_equal(phone_of(val, sizeof val, f, 0), VAULT_ENOTFOUND);
    assert_int_equal(row_there(f, 0), 0);
    fixture_close(f);

    /* the backup put back: the data file is the old one */
    memset(&info, 0, sizeof info);
    assert_int_equal(vault_restore(&info, f->path, f->bk, &f->s, 0), 0);
    fixture_open(f);
    assert_int_equal(row_there(f, 0), 1); /* 张三's ciphertexts are back ... */
    /* ... and open for nobody: the record reads as no record, search does
     * not find it, while the others read and are found as before */
    assert_int_equal(phone_of(val, sizeof val, f, 0), VAULT_ENOTFOUND);
    assert_string_equal(val, "");
    assert_int_equal(found_by_phone(f, 0), 0);
    assert_int_equal(phone_of(val, sizeof val, f, 1), 0);
    assert_string_equal(val, PHONES[1]);
    assert_int_equal(phone_of(val, sizeof val, f, 2), 0);
    assert_string_equal(val, PHONES[2]);
    assert_int_equal(found_by_phone(f, 1), 1);
    /* the restored log verifies, erase entry and all */
    {
        vault_audit_result res;

        memset(&res, 0, sizeof res);
        assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), 0);
    }
}

/* With the database key and the grade keys (everything but the record
 * key), 张三's stored ciphertext does not open: no key but the erased one
 * does. */
static void test_remains_do_not_open(void **state)
{
    fixture *f = *state;
    uint8_t rid[VAULT_ID_BYTES], *ct, pt[128];
    size_t len = 0, ptlen = 0;
    char grade[VAULT_NAME_MAX];
    uint32_t ver = 0;
    const uint8_t *gk = NULL;
    vc_field_ad ad;

    assert_int_equal(vault__id_parse(rid, f->id[0]), 0);
    ct = tu_raw_get(f->v, rid, "phone", &len, grade, &ver);
    assert_int_equal(ct[0], VC_FIELD_FORMAT_V3);
    assert_int_equal(vault_record_erase(f->officer, f->id[0]), 0);
    assert_int_equal(store_begin(f->v->db, STORE_TX_SNAPSHOT), 0);
    assert_int_equal(keyring_grade_key(&gk, f->v->keys, f->v->db, grade, ver), 0);
    memset(&ad, 0, sizeof ad);
    ad.vault_id = f->v->id;
    ad.record_id = rid;
    ad.field = "phone";
    ad.grade = grade;
    ad.key_version = ver;
    ad.counter = 1;
    assert_int_equal(vc_field_open(pt, sizeof pt, &ptlen, gk, &ad, ct, len), VAULT_EINTEGRITY);
    {
        uint8_t guess[RECKEY_BYTES] = {0}; /* any other record key */

        ad.record_key = guess;
        assert_int_equal(vc_field_open(pt, sizeof pt, &ptlen, gk, &ad, ct, len),
                         VAULT_EINTEGRITY);
        /* and the key store has none for it any more */
        int erased = 0;

        assert_int_equal(reckeys_get(guess, &erased, f->v->rk, rid), VAULT_ENOTFOUND);
        assert_true(erased); /* its tombstone: erased, not missing */
    }
    store_rollback(f->v->db);
    free(ct);
}

/* Without its record-key store, or with another vault's, the vault does
 * not open (never as a vault whose records are all erased); put back, it
 * opens again. */
static void test_key_store_missing_or_foreign(void **state)
{
    fixture *f = *state;
    char moved[450], other[400], val[64];
    vault *o = NULL;
    vault_secret os;
    char okey[400];

    fixture_close(f);
    snprintf(moved, sizeof moved, "%s.away", f->rk);
    assert_int_equal(rename(f->rk, moved), 0);
    assert_int_not_equal(vault_open(&f->v, f->path, &f->s), VAULT_OK);
    assert_null(f->v);
    assert_non_null(strstr(vault_error_last(), "record-key store"));
    assert_non_null(strstr(vault_error_last(), "docs/erasure.md"));
    /* another vault's key store in its place */
    snprintf(other, sizeof other, "%s/b.vault", f->dir);
    snprintf(okey, sizeof okey, "%s/b.key", f->dir);
    assert_int_equal(vault_keyfile_generate(okey), 0);
    os = tu_keyfile_secret(okey);
    assert_int_equal(vault_create(&o, other, POLICY, &os), 0);
    vault_close(o);
    {
        char orkeys[420];
        size_t n = 0;
        uint8_t *b;

        snprintf(orkeys, sizeof orkeys, "%s.rkeys", other);
        b = tu_read_file(orkeys, &n);
        assert_non_null(b);
        tu_write_file(f->rk, b, n);
        free(b);
    }
    assert_int_equal(vault_open(&f->v, f->path, &f->s), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "record-key store"));
    /* its own again */
    assert_int_equal(rename(moved, f->rk), 0);
    fixture_open(f);
    assert_int_equal(phone_of(val, sizeof val, f, 1), 0);
    assert_string_equal(val, PHONES[1]);
}

/* A key row of one record put under another's name (an insider with the
 * key store's database key), and a key row altered: the record fails its
 * check, no value comes back. */
static void test_key_rows_swapped_or_altered(void **state)
{
    fixture *f = *state;
    char val[64], n0[40], n1[40], hex0[33], hex1[33];
    store *ks = reckeys_store(f->v->rk);
    uint8_t w0[128], w1[128];
    size_t l0 = 0, l1 = 0;

    snprintf(hex0, sizeof hex0, "%s", f->id[0]);
    snprintf(hex1, sizeof hex1, "%s", f->id[1]);
    snprintf(n0, sizeof n0, "rk/%s", hex0);
    snprintf(n1, sizeof n1, "rk/%s", hex1);
    assert_int_equal(store_begin(ks, STORE_TX_WRITE), 0);
    assert_int_equal(store_meta_get(ks, n0, w0, sizeof w0, &l0), 0);
    assert_int_equal(store_meta_get(ks, n1, w1, sizeof w1, &l1), 0);
    /* written through the store, so the row MACs are right: only the
     * wrap's binding to the record id catches the swap */
    assert_int_equal(store_meta_put(ks, n0, w1, l1), 0);
    assert_int_equal(store_commit(ks), 0);
    assert_int_equal(phone_of(val, sizeof val, f, 0), VAULT_EINTEGRITY);
    assert_string_equal(val, "");
    assert_int_equal(phone_of(val, sizeof val, f, 1), 0); /* its owner still reads */
    /* a flipped byte in the wrapped key */
    w0[30] ^= 1;
    assert_int_equal(store_begin(ks, STORE_TX_WRITE), 0);
    assert_int_equal(store_meta_put(ks, n0, w0, l0), 0);
    assert_int_equal(store_commit(ks), 0);
    assert_int_equal(phone_of(val, sizeof val, f, 0), VAULT_EINTEGRITY);
    /* the right bytes back: it reads again */
    w0[30] ^= 1;
    assert_int_equal(store_begin(ks, STORE_TX_WRITE), 0);
    assert_int_equal(store_meta_put(ks, n0, w0, l0), 0);
    assert_int_equal(store_commit(ks), 0);
    assert_int_equal(phone_of(val, sizeof val, f, 0), 0);
    assert_string_equal(val, PHONES[0]);
}

/* Rotating a grade removes an erased record's remains (logged), since
 * nothing in them opens; the others move to the new key. */
static void test_rotation_removes_remains(void **state)
{
    fixture *f = *state;
    char val[64];

    assert_int_equal(vault_backup(f->v, f->bk, NULL, NULL), 0);
    assert_int_equal(vault_record_erase(f->officer, f->id[0]), 0);
    fixture_close(f);
    assert_int_equal(vault_restore(NULL, f->path, f->bk, &f->s, 0), 0);
    fixture_open(f);
    assert_int_equal(row_there(f, 0), 1);
    assert_int_equal(vault_key_rotate(f->v, "personal", NULL, NULL), 0);
    assert_int_equal(row_there(f, 0), 0);
    assert_int_equal(phone_of(val, sizeof val, f, 1), 0);
    assert_string_equal(val, PHONES[1]);
}

/* A record whose key is gone but whose rows stayed (an erase cut short
 * after the key store committed): it reads as no record, and nothing new
 * is sealed into it. */
static void test_key_dropped_reads_as_erased(void **state)
{
    fixture *f = *state;
    uint8_t rid[VAULT_ID_BYTES], key[RECKEY_BYTES];
    char val[64];

    assert_int_equal(vault__id_parse(rid, f->id[2]), 0);
    /* the simple check the rest relies on: a key dropped from a record
     * whose fields are format 3 makes it read as erased */
    assert_int_equal(store_begin(f->v->db, STORE_TX_WRITE), 0);
    {
        int erased = 1;

        assert_int_equal(reckeys_get(key, &erased, f->v->rk, rid), 0);
        assert_false(erased);
        assert_int_equal(reckeys_erase(f->v->rk, rid), 0);
        assert_int_equal(reckeys_get(key, &erased, f->v->rk, rid), VAULT_ENOTFOUND);
        assert_true(erased);
    }
    assert_int_equal(store_commit(f->v->db), 0);
    assert_int_equal(phone_of(val, sizeof val, f, 2), VAULT_ENOTFOUND);
    /* a write to it is refused too: nothing is sealed into remains */
    assert_int_not_equal(vault_record_put(f->officer, f->id[2], "phone", "13700000009", 11), 0);
    assert_int_equal(row_there(f, 2), 1); /* the rows are still there */
    /* erasing it again completes the erasure: the rows go, and the log
     * has its erase entry */
    assert_int_equal(vault_record_erase(f->officer, f->id[2]), 0);
    assert_int_equal(row_there(f, 2), 0);
    {
        char *rep = NULL;

        assert_int_equal(vault_audit_report(&rep, f->v, VAULT_REPORT_RECORD, f->id[2], 0), 0);
        assert_non_null(strstr(rep, "completes an erasure"));
        vault_free(rep);
    }
}

/* A key store older than the data (an old key-store backup put back): a
 * record written since has neither key nor erasure there.  It is an
 * integrity failure, never taken for an erasure: it does not read, and a
 * rotation stops on it instead of removing it. */
static void test_older_key_store_is_not_erasure(void **state)
{
    fixture *f = *state;
    char rkb[450], val[64], side[460];
    size_t n = 0;
    uint8_t *b;
    int i = 0;

    snprintf(rkb, sizeof rkb, "%s/old.rkeys", f->dir);
    assert_int_equal(vault_backup_record_keys(f->v, rkb, NULL, NULL), 0);
    /* a fourth resident, after that copy (it takes slot 0's place) */
    add(f, i);
    fixture_close(f);
    b = tu_read_file(rkb, &n);
    assert_non_null(b);
    tu_write_file(f->rk, b, n);
    free(b);
    snprintf(side, sizeof side, "%s-wal", f->rk);
    unlink(side);
    fixture_open(f);
    assert_int_equal(phone_of(val, sizeof val, f, 0), VAULT_EINTEGRITY);
    assert_string_equal(val, "");
    assert_non_null(strstr(vault_error_last(), "neither its key nor its erasure"));
    assert_int_not_equal(vault_key_rotate(f->v, "personal", NULL, NULL), 0);
    assert_int_equal(row_there(f, 0), 1); /* kept */
    assert_int_equal(phone_of(val, sizeof val, f, 1), 0); /* the others read */
}

/* The data's note that the vault keeps a record-key store, deleted with
 * the database key, and the key store moved away: the vault does not
 * open (never with a new empty key store, in which every record would
 * read as erased). */
static void test_note_removed_is_refused(void **state)
{
    fixture *f = *state;
    char moved[450];
    sqlite3 *db = tu_raw_db(f->v, f->path);

    assert_int_equal(sqlite3_exec(db, "DELETE FROM meta WHERE key = 'record_keys'", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_close(db);
    fixture_close(f);
    snprintf(moved, sizeof moved, "%s.away", f->rk);
    assert_int_equal(rename(f->rk, moved), 0);
    assert_int_equal(vault_open(&f->v, f->path, &f->s), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "sealed under record keys"));
    assert_int_not_equal(access(f->rk, F_OK), 0); /* no new key store made */
    /* with its key store back it still does not open: the note is what
     * was changed, and the records say so */
    assert_int_equal(rename(moved, f->rk), 0);
    assert_int_equal(vault_open(&f->v, f->path, &f->s), VAULT_EINTEGRITY);
    assert_null(f->v);
}

/* vault_backup_record_keys: a copy of the key store (0600, never over a
 * file), and the window it opens: put back with the data backup of the
 * same day, it brings back a resident erased since, which is why such
 * copies live on a short retention (docs/erasure.md). */
static void test_record_key_backup_is_the_window(void **state)
{
    fixture *f = *state;
    char rkb[450], val[64], side[460];
    struct stat st;
    size_t n = 0;
    uint8_t *b;

    snprintf(rkb, sizeof rkb, "%s/a.rkeys.backup", f->dir);
    assert_int_equal(vault_backup(f->v, f->bk, NULL, NULL), 0);
    assert_int_equal(vault_backup_record_keys(f->v, rkb, NULL, NULL), 0);
    assert_int_equal(stat(rkb, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(vault_backup_record_keys(f->v, rkb, NULL, NULL), VAULT_EEXISTS);
    assert_int_equal(vault_record_erase(f->officer, f->id[0]), 0);
    fixture_close(f);
    /* both copies put back: the erased resident is there again */
    b = tu_read_file(rkb, &n);
    assert_non_null(b);
    tu_write_file(f->rk, b, n);
    free(b);
    snprintf(side, sizeof side, "%s-wal", f->rk);
    unlink(side);
    assert_int_equal(vault_restore(NULL, f->path, f->bk, &f->s, 0), 0);
    fixture_open(f);
    assert_int_equal(phone_of(val, sizeof val, f, 0), 0);
    assert_string_equal(val, PHONES[0]);
}

/* A create never makes over, nor removes, a record-key store left where
 * the new vault's would go: someone's keys. */
static void test_create_keeps_a_leftover_key_store(void **state)
{
    fixture *f = *state;
    char path[450], rk[460], keys[460];
    uint8_t *before, *after;
    size_t nb = 0, na = 0;
    vault *v = NULL;

    snprintf(path, sizeof path, "%s/new.vault", f->dir);
    snprintf(rk, sizeof rk, "%s.rkeys", path);
    snprintf(keys, sizeof keys, "%s.keys", path);
    before = tu_read_file(f->rk, &nb);
    assert_non_null(before);
    tu_write_file(rk, before, nb);
    assert_int_equal(vault_create(&v, path, POLICY, &f->s), VAULT_EEXISTS);
    assert_null(v);
    assert_non_null(strstr(vault_error_last(), ".rkeys"));
    after = tu_read_file(rk, &na);
    assert_non_null(after);
    assert_int_equal(na, nb);
    assert_memory_equal(after, before, nb);
    assert_null(tu_read_file(keys, &na)); /* nothing made */
    assert_null(tu_read_file(path, &na));
    free(before);
    free(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restored_backup_keeps_erasure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remains_do_not_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_store_missing_or_foreign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_rows_swapped_or_altered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_removes_remains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_dropped_reads_as_erased, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_key_backup_is_the_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_keeps_a_leftover_key_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_older_key_store_is_not_erasure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_note_removed_is_refused, setup, teardown),
    };

    assert_int_equal(vault_init(), 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

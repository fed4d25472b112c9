/* migrate: vault_migrate, a SQLCipher vault copied into a server store
 * (docs/postgresql.md "Migrating a street's vault"), through the public
 * API.  Run on two targets: the in-memory double registered as "memory"
 * (always; ctest test_migrate), and PostgreSQL on the server VAULT_PG_URI
 * names (argument "postgresql"; ctest test_migrate_pg_cluster runs it in
 * a throwaway cluster, and without VAULT_PG_URI it fails rather than
 * pass).  What is checked: a vault with records, an update, an erasure,
 * grants, a key rotation and checkpoints is copied; every record reads
 * back the same through a session; the copy's log verifies end to end,
 * against a checkpoint exported from the source before the migration
 * too; the copy takes new writes and still verifies; both logs record
 * the migration; and the refusals: a wrong secret, an existing keys
 * file, a target that is not empty (unchanged), a source whose log was
 * tampered, a changed record found in the middle of the copy, and (on
 * PostgreSQL) the connection killed in the middle, each leaving no
 * target and no keys file.  Last, the previous release's fixture
 * (tests/fixtures/v1, store schema 2) migrates its schema as it opens,
 * then copies. */
#include "testutil.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <libpq-fe.h>

#include <sodium.h>

#include "rawdb.h"
#include "store/store.h"
#include "store_mem.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define FIXTURE VAULT_SOURCE_DIR "/tests/fixtures/v1"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"
#define PASS "street vault passphrase"
#define PASSWORD "migrate-PW-7"

static const char *pg_uri; /* NULL: the memory target */
static char *dir;

/* The target called `name`: its location and its keys file. */
static void target(char *loc, size_t cap, char *keys, size_t kcap, const char *name)
{
    if (pg_uri)
        assert_true((size_t)snprintf(loc, cap, "%s%svault_keys=%s/%s.keys&vault_schema=%s"
                                     "&password=" PASSWORD, pg_uri,
                                     strchr(pg_uri, '?') ? "&" : "?", dir, name, name) < cap);
    else
        assert_true((size_t)snprintf(loc, cap, "memory:%s", name) < cap);
    if (keys) {
        if (pg_uri)
            assert_true((size_t)snprintf(keys, kcap, "%s/%s.keys", dir, name) < kcap);
        else /* a registered backend's: "scheme:NAME.keys", here in dir (the cwd) */
            assert_true((size_t)snprintf(keys, kcap, "%s/memory:%s.keys", dir, name) < kcap);
    }
}

static PGconn *dba_conn(void)
{
    PGconn *c = PQconnectdb(pg_uri);

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

/* 1 when the target's store is there (a schema, a memory store). */
static int target_exists(const char *name)
{
    if (pg_uri) {
        PGconn *c = dba_conn();
        const char *p[1] = {name};
        PGresult *r = PQexecParams(c, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", 1,
                                   NULL, p, NULL, NULL, 0);
        int n;

        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        n = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        PQfinish(c);
        return n > 0;
    } else {
        char uri[128];
        uint8_t key[32] = {0};
        store_backend *be = NULL;
        int rc;

        snprintf(uri, sizeof uri, "%s", name);
        /* any key: a missing store is VAULT_EIO before the key is looked at */
        rc = store_mem_open(&be, uri, key, 0);
        if (be)
            be->free(be);
        return rc != VAULT_EIO;
    }
}

/* The last error says `needle`. */
static void error_says(const char *needle)
{
    if (!strstr(vault_error_last(), needle))
        fail_msg("the error \"%s\" does not say \"%s\"", vault_error_last(), needle);
}

static int file_exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}



static vault_session *officer(vault *v)
{
    return tu_session(v, "li", "data_officer", "street_office", STREET, "resident_service");
}

/* The source vault: what a street's vault holds after a while. */
typedef struct street {
    char path[600];
    char ids[4][VAULT_ID_HEX_SIZE]; /* 0, 1, 3 live; 2 erased */
    const char *phones[4];
    char grant[VAULT_NAME_MAX];
    char *note; /* a checkpoint exported before the migration */
} street;

static void street_make(street *st, const char *name)
{
    vault_secret sec = tu_pass_secret(PASS);
    const char *grant_fields[] = {"name"};
    vault_grant_spec g;
    vault_session *s;
    vault *v = NULL;
    int pending = -1;

    memset(st, 0, sizeof *st);
    snprintf(st->path, sizeof st->path, "%s/%s.vault", dir, name);
    if (vault_create(&v, st->path, POLICY, &sec) != 0)
        fail_msg("vault_create: %s", vault_error_last());
    s = officer(v);
    st->phones[0] = "13800000000";
    st->phones[1] = "13987654321";
    st->phones[3] = "13700000000";
    tu_add_resident(s, st->ids[0], GRID7, "张三", "13812345678");
    tu_add_resident(s, st->ids[1], GRID7, "李四", st->phones[1]);
    tu_add_resident(s, st->ids[2], GRID7, "王五", "13600000000");
    {
        const char *f = "phone", *val = st->phones[0];
        size_t len = strlen(val);
        assert_int_equal(vault_record_update(s, st->ids[0], 1, &f, &val, &len), 0);
    }
    assert_int_equal(vault_record_erase(s, st->ids[2]), 0);
    g = tu_grant_spec(grant_fields, 1, "health", STREET, 3600, "clinic follow-up");
    assert_int_equal(vault_grant_issue(st->grant, sizeof st->grant, &pending, s, &g), 0);
    assert_int_equal(vault_key_rotate(v, "personal", NULL, NULL), 0);
    tu_expect_value(s, st->ids[0], "phone", st->phones[0]);
    assert_int_equal(vault_audit_checkpoint(&st->note, v), 0);
    /* the log goes on past the note the verifier keeps */
    tu_add_resident(s, st->ids[3], GRID7, "赵六", st->phones[3]);
    vault_session_close(s);
    vault_close(v);
}

static void street_free(street *st)
{
    vault_free(st->note);
    st->note = NULL;
}

typedef struct seen_progress {
    uint64_t calls, done, total;
    int kill; /* PostgreSQL: terminate the copy's connection at the first call */
} seen_progress;

static void on_progress(uint64_t done, uint64_t total, void *arg)
{
    seen_progress *p = arg;

    assert_true(done <= total);
    p->calls++;
    p->done = done;
    p->total = total;
    if (p->kill && p->calls == 1) {
        PGconn *c = dba_conn();
        PGresult *r = PQexec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                                " AND backend_type = 'client backend'");
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        assert_true(PQntuples(r) >= 1);
        PQclear(r);
        PQfinish(c);
    }
}

static void export_log(vault *v, const char *path)
{
    unlink(path);
    if (vault_audit_export(v, path, NULL, NULL) != 0)
        fail_msg("audit export: %s", vault_error_last());
}

static uint64_t verified(vault *v, const char *note)
{
    vault_audit_result ar;
    const char *notes[1] = {note};

    if (vault_audit_verify_notes(&ar, v, notes, note ? 1 : 0, NULL, NULL) != 0)
        fail_msg("audit verify: %s (%s)", vault_error_last(), ar.message);
    assert_int_equal(ar.failure, VAULT_AUDIT_OK);
    if (note)
        assert_true(ar.checkpoints >= 1);
    return ar.entries;
}

/* ---- the migration ---- */

static void test_migrate_whole_vault(void **state)
{
    street st;
    char loc[1200], keys[700], path[760];
    vault_secret sec = tu_pass_secret(PASS);
    vault_migrate_info info;
    seen_progress pr = {0};
    vault *v = NULL;
    vault_session *s;
    vault_result *res = NULL;
    char *text = NULL, extra[VAULT_ID_HEX_SIZE];
    uint64_t n1, n2;
    struct stat sb;

    (void)state;
    street_make(&st, "street");
    target(loc, sizeof loc, keys, sizeof keys, "city");
    if (vault_migrate(&info, st.path, loc, &sec, on_progress, &pr) != 0)
        fail_msg("vault_migrate: %s", vault_error_last());
    assert_int_equal(info.records, 3);
    assert_true(info.entries > 10);
    assert_true(info.rows > info.records + info.entries);
    assert_true(pr.calls >= 1);
    assert_int_equal(pr.done, info.rows);
    assert_int_equal(pr.total, info.rows);
    /* the keys file: a copy, 0600 */
    assert_int_equal(stat(keys, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* the copy: every record the same, the erased one gone, the grant */
    assert_int_equal(vault_open(&v, loc, &sec), 0);
    s = officer(v);
    tu_expect_value(s, st.ids[0], "phone", st.phones[0]);
    tu_expect_value(s, st.ids[1], "phone", st.phones[1]);
    tu_expect_value(s, st.ids[3], "phone", st.phones[3]);
    assert_int_equal(vault_record_get(&res, s, st.ids[2], NULL, 0), VAULT_ENOTFOUND);
    assert_int_equal(vault_grant_list(&text, v, 1, 0), 0);
    assert_non_null(strstr(text, st.grant));
    vault_free(text);
    /* the log verifies end to end, against the source's checkpoint too */
    n1 = verified(v, st.note);
    assert_true(n1 > info.entries); /* the copied entries and the migration's */
    /* new writes, and it still verifies */
    tu_add_resident(s, extra, GRID7, "钱七", "13500000000");
    tu_expect_value(s, extra, "phone", "13500000000");
    assert_int_equal(vault_key_rotate(v, "personal", NULL, NULL), 0);
    tu_expect_value(s, st.ids[1], "phone", st.phones[1]);
    n2 = verified(v, st.note);
    assert_true(n2 > n1);
    snprintf(path, sizeof path, "%s/city.export", dir);
    export_log(v, path);
    assert_true(tu_file_contains(path, "copied from a sqlcipher store", 29));
    vault_session_close(s);
    vault_close(v);
    v = NULL;

    /* the source says where it went, the password hidden; it still opens
     * and verifies */
    assert_int_equal(vault_open(&v, st.path, &sec), 0);
    verified(v, st.note);
    snprintf(path, sizeof path, "%s/street.export", dir);
    export_log(v, path);
    assert_true(tu_file_contains(path, "store_migrate", 13));
    assert_true(tu_file_contains(path, "copied to ", 10));
    assert_false(tu_file_contains(path, PASSWORD, strlen(PASSWORD)));
    vault_close(v);
    v = NULL;

    /* again into the same target (its keys file moved away): not empty,
     * refused, nothing changed in it (a handle open on it across the
     * attempt sees only its own verify entry in between) */
    assert_int_equal(vault_open(&v, loc, &sec), 0);
    n1 = verified(v, st.note);
    snprintf(path, sizeof path, "%s.aside", keys);
    assert_int_equal(rename(keys, path), 0);
    assert_int_equal(vault_migrate(&info, st.path, loc, &sec, NULL, NULL), VAULT_EEXISTS);
    error_says("not empty");
    assert_null(strstr(vault_error_last(), PASSWORD));
    assert_int_equal(info.records, 0);
    assert_false(file_exists(keys)); /* the keys file it wrote is gone again */
    assert_int_equal(rename(path, keys), 0);
    assert_int_equal(verified(v, st.note), n1 + 1);
    s = officer(v);
    tu_expect_value(s, extra, "phone", "13500000000");
    vault_session_close(s);
    vault_close(v);
    street_free(&st);
}

/* The record-key store of the vault at `from` beside the copy `to` (its
 * file and WAL: no transaction is open, so together they are whole). */
static void copy_rkeys(const char *to, const char *from)
{
    static const char *const sfx[] = {".rkeys", ".rkeys-wal"};
    char a[700], b[700];
    uint8_t *bytes;
    size_t i, len = 0;

    for (i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s%s", from, sfx[i]);
        snprintf(b, sizeof b, "%s%s", to, sfx[i]);
        unlink(b);
        bytes = tu_read_file(a, &len);
        assert_true(bytes || i == 1);
        if (bytes)
            tu_write_file(b, bytes, len);
        free(bytes);
    }
}

static void test_refusals(void **state)
{
    street st;
    char loc[1200], keys[700], bad[700], side[760];
    vault_secret sec = tu_pass_secret(PASS), wrong = tu_pass_secret("not the passphrase");
    vault *v = NULL;
    sqlite3 *db;
    uint8_t *before;
    size_t blen = 0, alen = 0;

    (void)state;
    street_make(&st, "refused");

    /* a wrong secret for the source: nothing made */
    target(loc, sizeof loc, keys, sizeof keys, "t_wrong");
    assert_int_equal(vault_migrate(NULL, st.path, loc, &wrong, NULL, NULL), VAULT_EAUTH);
    assert_false(file_exists(keys));
    assert_false(target_exists("t_wrong"));

    /* an existing keys file at vault_keys: refused, the file untouched */
    target(loc, sizeof loc, keys, sizeof keys, "t_keys");
    tu_write_file(keys, "someone's keys", 14);
    before = tu_read_file(keys, &blen);
    assert_int_equal(vault_migrate(NULL, st.path, loc, &sec, NULL, NULL), VAULT_EEXISTS);
    error_says("already exists");
    assert_false(target_exists("t_keys"));
    {
        uint8_t *after = tu_read_file(keys, &alen);
        assert_int_equal(alen, blen);
        assert_memory_equal(after, before, blen);
        free(after);
    }
    free(before);
    unlink(keys);

    /* a file target: that is a backup */
    snprintf(bad, sizeof bad, "%s/copy.vault", dir);
    assert_int_equal(vault_migrate(NULL, st.path, bad, &sec, NULL, NULL), VAULT_EINVALID);
    assert_false(file_exists(bad));

    /* a source whose log was tampered: refused before anything is made */
    snprintf(bad, sizeof bad, "%s/tampered.vault", dir);
    {
        uint8_t *b = tu_read_file(st.path, &blen);
        tu_write_file(bad, b, blen);
        free(b);
        snprintf(side, sizeof side, "%s.keys", st.path);
        b = tu_read_file(side, &blen);
        snprintf(side, sizeof side, "%s.keys", bad);
        tu_write_file(side, b, blen);
        free(b);
        copy_rkeys(bad, st.path);
    }
    assert_int_equal(vault_open(&v, st.path, &sec), 0);
    db = tu_raw_db(v, bad);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE audit SET entry = substr(entry, 1, 20) || X'7e' || "
                                  "substr(entry, 22) WHERE pos = 3",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_close(db);
    target(loc, sizeof loc, keys, sizeof keys, "t_tampered");
    assert_int_equal(vault_migrate(NULL, bad, loc, &sec, NULL, NULL), VAULT_EINTEGRITY);
    error_says("source's audit log does not verify");
    assert_false(file_exists(keys));
    assert_false(target_exists("t_tampered"));

    /* a record changed behind libvault (its log intact): found by its
     * MAC in the middle of the copy; the target and keys file go again */
    snprintf(bad, sizeof bad, "%s/changed.vault", dir);
    {
        uint8_t *b = tu_read_file(st.path, &blen);
        tu_write_file(bad, b, blen);
        free(b);
        snprintf(side, sizeof side, "%s.keys", st.path);
        b = tu_read_file(side, &blen);
        snprintf(side, sizeof side, "%s.keys", bad);
        tu_write_file(side, b, blen);
        free(b);
        copy_rkeys(bad, st.path);
    }
    db = tu_raw_db(v, bad);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE records SET jurisdiction = '" STREET "/daguan/grid-02'"
                                  " WHERE rid = (SELECT max(rid) FROM records)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_close(db);
    vault_close(v);
    v = NULL;
    target(loc, sizeof loc, keys, sizeof keys, "t_changed");
    assert_int_equal(vault_migrate(NULL, bad, loc, &sec, NULL, NULL), VAULT_EINTEGRITY);
    error_says("record row");
    assert_false(file_exists(keys));
    assert_false(target_exists("t_changed"));

    /* PostgreSQL: the copy's connection killed in the middle */
    if (pg_uri) {
        seen_progress pr = {0};
        pr.kill = 1;
        target(loc, sizeof loc, keys, sizeof keys, "t_killed");
        assert_int_equal(vault_migrate(NULL, st.path, loc, &sec, on_progress, &pr), VAULT_EIO);
        error_says("connection lost");
        assert_null(strstr(vault_error_last(), PASSWORD));
        assert_false(file_exists(keys));
        assert_false(target_exists("t_killed"));
    }

    /* and after all that the source still verifies, and migrates */
    target(loc, sizeof loc, keys, sizeof keys, "t_after");
    assert_int_equal(vault_migrate(NULL, st.path, loc, &sec, NULL, NULL), 0);
    assert_int_equal(vault_open(&v, loc, &sec), 0);
    verified(v, st.note);
    vault_close(v);
    street_free(&st);
}

/* The previous release's fixture: schema 2, migrated as it opens, then
 * copied; its outside checkpoint verifies on the copy. */
static void test_migrate_fixture_v1(void **state)
{
    static const char *const files[] = {"v1.vault", "v1.vault.keys", "v1.key", "v1.cp"};
    char from[700], to[700], loc[1200], keys[700], kf[700];
    vault_secret sec;
    vault_migrate_info info;
    vault *v = NULL;
    vault_session *s;
    uint8_t *b;
    char *note;
    size_t i, len = 0;

    (void)state;
    for (i = 0; i < VAULT_ARRAY_LEN(files); i++) {
        snprintf(from, sizeof from, "%s/%s", FIXTURE, files[i]);
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        b = tu_read_file(from, &len);
        tu_write_file(to, b, len);
        chmod(to, 0600);
        free(b);
    }
    snprintf(kf, sizeof kf, "%s/v1.key", dir);
    sec = tu_keyfile_secret(kf);
    snprintf(from, sizeof from, "%s/v1.vault", dir);
    target(loc, sizeof loc, keys, sizeof keys, "fixture");
    if (vault_migrate(&info, from, loc, &sec, NULL, NULL) != 0)
        fail_msg("vault_migrate of the v1 fixture: %s", vault_error_last());
    assert_int_equal(info.records, 3);
    assert_true(info.entries > 33); /* its 33, and the schema migration's */
    assert_int_equal(vault_open(&v, loc, &sec), 0);
    s = officer(v);
    tu_expect_value(s, "0cd0cd0e1fa8f1d983d529676b2dd630", "phone", "13812349999");
    snprintf(to, sizeof to, "%s/v1.cp", dir);
    note = (char *)tu_read_file(to, &len);
    note = realloc(note, len + 1);
    assert_non_null(note);
    note[len] = 0;
    verified(v, note);
    free(note);
    vault_session_close(s);
    vault_close(v);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_whole_vault),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_migrate_fixture_v1),
    };
    char cwd[4096];
    int failed;

    pg_uri = NULL;
    if (argc >= 2 && strcmp(argv[1], "postgresql") == 0) {
        pg_uri = getenv("VAULT_PG_URI");
        if (!pg_uri || !*pg_uri) {
            fprintf(stderr, "test_migrate postgresql: VAULT_PG_URI is not set (run it under "
                            "tests/pg/pg_cluster.sh run)\n");
            return 1;
        }
    }
    if (vault_init() < 0 || store_register_backend("memory", store_mem_open) < 0)
        return 1;
    assert_non_null(getcwd(cwd, sizeof cwd));
    dir = tu_tmpdir();
    /* a memory target's keys file is "memory:NAME.keys" in the cwd */
    if (chdir(dir) != 0)
        return 1;
    failed = cmocka_run_group_tests_name(pg_uri ? "migrate to postgresql" : "migrate to memory",
                                         tests, NULL, NULL);
    if (chdir(cwd) != 0)
        return 1;
    tu_rmdir(dir);
    return failed;
}

/* backup: vault_backup and vault_restore (docs/backup.md).  Negative cases
 * first: an existing target, a plain copy of an open WAL vault, a
 * tampered copy, another vault's copy, a vault open elsewhere, a wrong
 * key, an older copy put back by hand; then a backup taken while another
 * thread writes, restored, opened and verified, with its log entries. */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include <sodium.h>
#include <sqlite3.h>

#include "op.h"
#include "rawdb.h"
#include "store/store.h"
#include "vault_int.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"

typedef struct fixture {
    char *dir;
    char path[400], keyfile[400], bk[400];
    vault_secret s;
    vault *v;
    vault_session *officer;
} fixture;

static void add_records(vault_session *s, int n)
{
    const char *fields[] = {"name", "phone"}, *values[] = {"张三", "13812345678"};
    size_t lens[] = {strlen(values[0]), 11};
    char id[VAULT_ID_HEX_SIZE];

    while (n-- > 0)
        assert_int_equal(vault_record_add(id, sizeof id, s, GRID7, 2, fields, values, lens), 0);
}

static vault_session *officer(vault *v)
{
    return tu_session(v, "li", "data_officer", "street_office", STREET, "resident_service");
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/a.vault", f->dir);
    snprintf(f->keyfile, sizeof f->keyfile, "%s/a.key", f->dir);
    snprintf(f->bk, sizeof f->bk, "%s/a.backup", f->dir);
    assert_int_equal(vault_keyfile_generate(f->keyfile), 0);
    f->s = tu_keyfile_secret(f->keyfile);
    assert_int_equal(vault_create(&f->v, f->path, POLICY, &f->s), 0);
    f->officer = officer(f->v);
    add_records(f->officer, 3);
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

static int teardown(void **state)
{
    fixture *f = *state;

    fixture_close(f);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

static int file_exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

static void with_suffix(char *out, size_t cap, const char *path, const char *suffix)
{
    int n = snprintf(out, cap, "%s%s", path, suffix);

    assert_true(n > 0 && (size_t)n < cap);
}

/* No file a restore works with is left next to the vault. */
static void assert_no_leftovers(const fixture *f)
{
    char p[600];

    with_suffix(p, sizeof p, f->path, ".restoring");
    assert_false(file_exists(p));
    with_suffix(p, sizeof p, f->path, ".restoring.keys");
    assert_false(file_exists(p));
    with_suffix(p, sizeof p, f->path, ".restoring-wal");
    assert_false(file_exists(p));
}

/* The vault opens and its log verifies; *entries (may be NULL) its size. */
static void assert_opens_and_verifies(fixture *f, uint64_t *entries)
{
    vault_audit_result res;

    assert_int_equal(vault_open(&f->v, f->path, &f->s), 0);
    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), 0);
    assert_int_equal(res.failure, VAULT_AUDIT_OK);
    if (entries)
        *entries = res.entries;
}

/* The log exported to a file, and whether it holds `needle`. */
static int log_contains(fixture *f, const char *needle)
{
    char out[600];
    int found;
    static int n;

    snprintf(out, sizeof out, "%s/export-%d.jsonl", f->dir, n++);
    assert_int_equal(vault_audit_export(f->v, out, NULL, NULL), 0);
    found = tu_file_contains(out, needle, strlen(needle));
    unlink(out);
    return found;
}

static void test_backup_refuses_existing(void **state)
{
    fixture *f = *state;
    char partial[600], nodir[600];
    uint8_t *bytes;
    size_t len = 0;

    tu_write_file(f->bk, "keep me", 7);
    assert_int_equal(vault_backup(f->v, f->bk, NULL, NULL), VAULT_EEXISTS);
    assert_non_null(strstr(vault_error_last(), "already exists"));
    bytes = tu_read_file(f->bk, &len);
    assert_int_equal(len, 7);
    assert_memory_equal(bytes, "keep me", 7);
    free(bytes);
    unlink(f->bk);
    /* An interrupted backup's .partial is not taken over either. */
    with_suffix(partial, sizeof partial, f->bk, ".partial");
    tu_write_file(partial, "x", 1);
    assert_int_equal(vault_backup(f->v, f->bk, NULL, NULL), VAULT_EEXISTS);
    assert_false(file_exists(f->bk));
    unlink(partial);
    /* A directory that isn't there: no file, no .partial. */
    snprintf(nodir, sizeof nodir, "%s/none/b.vault", f->dir);
    assert_int_equal(vault_backup(f->v, nodir, NULL, NULL), VAULT_EIO);
    assert_non_null(strstr(vault_error_last(), nodir));
    assert_false(file_exists(nodir));
    /* Bad arguments. */
    assert_int_equal(vault_backup(f->v, "", NULL, NULL), VAULT_EINVALID);
    assert_int_equal(vault_backup(NULL, f->bk, NULL, NULL), VAULT_EINVALID);
    assert_false(file_exists(f->bk));
}

/* Byte copies of a vault file and of a keys file (as cp would make them). */
static void copy_pair(const char *dst, const char *dst_keys, const char *src,
                      const char *src_keys)
{
    size_t len = 0;
    uint8_t *bytes = tu_read_file(src, &len);

    assert_non_null(bytes);
    tu_write_file(dst, bytes, len);
    free(bytes);
    bytes = tu_read_file(src_keys, &len);
    assert_non_null(bytes);
    tu_write_file(dst_keys, bytes, len);
    free(bytes);
}

/* The vault's record-key store beside the copy `dst` (docs/erasure.md: a
 * data backup opens with the current key store).  No transaction is open,
 * so the file and its WAL together are whole. */
static void copy_rkeys(const char *dst, const char *vault_path)
{
    char from[700], to[700];
    size_t len = 0;
    uint8_t *bytes;

    with_suffix(from, sizeof from, vault_path, ".rkeys");
    with_suffix(to, sizeof to, dst, ".rkeys");
    bytes = tu_read_file(from, &len);
    assert_non_null(bytes);
    tu_write_file(to, bytes, len);
    free(bytes);
    with_suffix(from, sizeof from, vault_path, ".rkeys-wal");
    with_suffix(to, sizeof to, dst, ".rkeys-wal");
    unlink(to);
    if ((bytes = tu_read_file(from, &len)) != NULL) {
        tu_write_file(to, bytes, len);
        free(bytes);
    }
}

/* What the issue saw: a byte copy of an open vault in WAL mode misses what
 * is still in the WAL and does not open; a backup of the same vault does. */
static void test_cp_of_open_vault_fails(void **state)
{
    fixture *f = *state;
    char cp[600], cpkeys[600], keys[600];
    vault *c = NULL;
    struct stat st;

    snprintf(cp, sizeof cp, "%s/cp.vault", f->dir);
    with_suffix(cpkeys, sizeof cpkeys, cp, ".keys");
    with_suffix(keys, sizeof keys, f->path, ".keys");
    copy_pair(cp, cpkeys, f->path, keys);
    copy_rkeys(cp, f->path);
    assert_int_not_equal(vault_open(&c, cp, &f->s), 0);
    assert_null(c);

    assert_int_equal(vault_backup(f->v, f->bk, NULL, NULL), 0);
    assert_int_equal(stat(f->bk, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    unlink(cp);
    unlink(cpkeys);
    copy_pair(cp, cpkeys, f->bk, keys);
    copy_rkeys(cp, f->path);
    assert_int_equal(vault_open(&c, cp, &f->s), 0);
    vault_close(c);
}

/* One audit entry of the copy changed through SQLCipher with the
 * database key: refused before anything is replaced. */
static void test_restore_tampered_copy(void **state)
{
    fixture *f = *state;
    sqlite3 *db;
    char old[600];
    vault_restore_info info;
    uint64_t before = 0, after = 0;

    assert_int_equal(vault_backup(f->v, f->bk, NULL, NULL), 0);
    db = tu_raw_db(f->v, f->bk);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE audit SET entry = substr(entry, 1, 20) || X'7e' || "
                                  "substr(entry, 22) WHERE pos = 2",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_close(db);
    fixture_close(f);
    assert_opens_and_verifies(f, &before);
    fixture_close(f);

    assert_int_equal(vault_restore(&info, f->path, f->bk, &f->s, 0), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "refused"));
    assert_non_null(strstr(vault_error_last(), "does not verify"));
    assert_non_null(strstr(vault_error_last(), f->bk));
    assert_no_leftovers(f);
    with_suffix(old, sizeof old, f->path, ".before-restore");
    assert_false(file_exists(old));
    /* The vault is as it was: same log (plus the verify entries). */
    assert_opens_and_verifies(f, &after);
    assert_int_equal(after, before + 1);
    assert_false(log_contains(f, "\"restore\""));
}

/* A backup of another vault (other keys) is refused. */
static void test_restore_other_vault(void **state)
{
    fixture *f = *state;
    char path2[600], key2[600], bk2[600];
    vault_secret s2;
    vault *o = NULL;

    snprintf(path2, sizeof path2, "%s/b.vault", f->dir);
    snprintf(key2, sizeof key2, "%s/b.key", f->dir);
    snprintf(bk2, sizeof bk2, "%s/b.backup", f->dir);
    assert_int_equal(vault_keyfile_generate(key2), 0);
    s2 = tu_keyfile_secret(key2);
    assert_int_equal(vault_create(&o, path2, POLICY, &s2), 0);
    assert_int_equal(vault_backup(o, bk2, NULL, NULL), 0);
    vault_close(o);
    fixture_close(f);
    assert_int_equal(vault_restore(NULL, f->path, bk2, &f->s, 0), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "does not open with the keys"));
    assert_no_leftovers(f);
    /* Its own keys don't unlock this vault's keys file. */
    assert_int_equal(vault_restore(NULL, f->path, bk2, &s2, 0), VAULT_EAUTH);
    assert_no_leftovers(f);
    assert_opens_and_verifies(f, NULL);
}

/* While another handle (another connection) has the vault open: refused,
 * nothing replaced; once it is closed the same restore goes through. */
static void test_restore_while_open(void **state)
{
    fixture *f = *state;
    char old[600];

    assert_int_equal(vault_backup(f->v, f->bk, NULL, NULL), 0);
    assert_int_equal(vault_restore(NULL, f->path, f->bk, &f->s, 0), VAULT_EBUSY);
    assert_non_null(strstr(vault_error_last(), "open elsewhere"));
    assert_no_leftovers(f);
    with_suffix(old, sizeof old, f->path, ".before-restore");
    assert_false(file_exists(old));
    add_records(f->officer, 1); /* the open handle still works */
    fixture_close(f);
    assert_int_equal(vault_restore(NULL, f->path, f->bk, &f->s, 0), 0);
    assert_true(file_exists(old));
    assert_opens_and_verifies(f, NULL);
}

/* Wrong key, missing backup, bad arguments. */
static void test_restore_bad_input(void **state)
{
    fixture *f = *state;
    char wrong[600], none[600];
    vault_secret ws = VAULT_SECRET_INIT;

    assert_int_equal(vault_backup(f->v, f->bk, NULL, NULL), 0);
    fixture_close(f);
    snprintf(wrong, sizeof wrong, "%s/wrong.key", f->dir);
    assert_int_equal(vault_keyfile_generate(wrong), 0);
    ws = tu_keyfile_secret(wrong);
    assert_int_equal(vault_restore(NULL, f->path, f->bk, &ws, 0), VAULT_EAUTH);
    assert_no_leftovers(f);
    snprintf(none, sizeof none, "%s/none.backup", f->dir);
    assert_int_equal(vault_restore(NULL, f->path, none, &f->s, 0), VAULT_ENOTFOUND);
    assert_int_equal(vault_restore(NULL, f->path, f->path, &f->s, 0), VAULT_EINVALID);
    assert_int_equal(vault_restore(NULL, f->path, f->bk, &f->s, 8), VAULT_EINVALID);
    assert_int_equal(vault_restore(NULL, f->path, NULL, &f->s, 0), VAULT_EINVALID);
    assert_int_equal(vault_restore(NULL, f->path, f->bk, NULL, 0), VAULT_EINVALID);
    assert_no_leftovers(f);
    /* What an interrupted restore left is neither used nor removed. */
    with_suffix(wrong, sizeof wrong, f->path, ".restoring.keys");
    tu_write_file(wrong, "x", 1);
    assert_int_equal(vault_restore(NULL, f->path, f->bk, &f->s, 0), VAULT_EEXISTS);
    assert_non_null(strstr(vault_error_last(), "interrupted restore"));
    assert_true(file_exists(wrong));
    unlink(wrong);
    assert_no_leftovers(f);
    assert_opens_and_verifies(f, NULL);
}

/* An older copy put back by hand is refused at open as rolled back; the
 * same copy restored is accepted, logged, and the old file kept; a second
 * restore needs force to replace that. */
static void test_cp_older_refused_restore_accepted(void **state)
{
    fixture *f = *state;
    char old[600], oldkeys[600], cur[600], *note = NULL;
    uint8_t *bytes;
    size_t len = 0;
    vault_restore_info info;

    assert_int_equal(vault_audit_checkpoint(&note, f->v), 0);
    vault_free(note);
    note = NULL;
    assert_int_equal(vault_backup(f->v, f->bk, NULL, NULL), 0);
    /* Newer signed history than the backup's. */
    add_records(f->officer, 2);
    assert_int_equal(vault_audit_checkpoint(&note, f->v), 0);
    vault_free(note);
    fixture_close(f);

    snprintf(cur, sizeof cur, "%s/cur.vault", f->dir);
    assert_int_equal(rename(f->path, cur), 0);
    bytes = tu_read_file(f->bk, &len);
    tu_write_file(f->path, bytes, len);
    free(bytes);
    assert_int_equal(vault_open(&f->v, f->path, &f->s), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "rolled back"));
    assert_null(f->v);
    assert_int_equal(rename(cur, f->path), 0);

    memset(&info, 0, sizeof info);
    assert_int_equal(vault_restore(&info, f->path, f->bk, &f->s, 0), 0);
    assert_true(info.from_size > info.to_size);
    assert_true(info.entries > 0);
    assert_int_equal(info.kept_old, 1);
    assert_no_leftovers(f);
    with_suffix(old, sizeof old, f->path, ".before-restore");
    with_suffix(oldkeys, sizeof oldkeys, f->path, ".keys.before-restore");
    assert_true(file_exists(old));
    assert_true(file_exists(oldkeys));
    assert_opens_and_verifies(f, NULL);
    assert_true(log_contains(f, "\"restore\""));
    assert_true(log_contains(f, "the vault had signed"));
    /* The refusal of the hand-made copy is in the restored log too. */
    assert_true(log_contains(f, "audit_rewrite_refused"));
    fixture_close(f);

    assert_int_equal(vault_restore(NULL, f->path, f->bk, &f->s, 0), VAULT_EEXISTS);
    assert_non_null(strstr(vault_error_last(), "before-restore"));
    assert_no_leftovers(f);
    assert_int_equal(vault_restore(NULL, f->path, f->bk, &f->s, VAULT_RESTORE_FORCE), 0);
    assert_opens_and_verifies(f, NULL);
}

/* A lost vault file with its keys file kept: restored in place. */
static void test_restore_missing_vault_file(void **state)
{
    fixture *f = *state;
    vault_restore_info info;

    assert_int_equal(vault_backup(f->v, f->bk, NULL, NULL), 0);
    fixture_close(f);
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(vault_restore(&info, f->path, f->bk, &f->s, 0), 0);
    assert_int_equal(info.kept_old, 0);
    assert_opens_and_verifies(f, NULL);
}

typedef struct writer {
    vault *v;
    _Atomic int stop;    /* read and written by both threads */
    _Atomic int written;
    _Atomic int rc;
    char error[256];
} writer;

static void *write_loop(void *arg)
{
    writer *w = arg;
    vault_session *s = officer(w->v);
    const char *fields[] = {"name", "phone"}, *values[] = {"李四", "13900000000"};
    size_t lens[] = {strlen(values[0]), 11};
    char id[VAULT_ID_HEX_SIZE];

    while (!w->stop && w->written < 1000000) {
        w->rc = vault_record_add(id, sizeof id, s, GRID7, 2, fields, values, lens);
        if (w->rc != 0) {
            snprintf(w->error, sizeof w->error, "%s", vault_error_last());
            break;
        }
        w->written++;
        /* A breath between writes: SQLite's busy handler is not fair, and
         * a writer that never lets go could starve the backup's own
         * write (its audit entry) past the busy timeout on a loaded
         * machine. */
        usleep(500);
    }
    vault_session_close(s);
    return NULL;
}

/* Called by vault_backup between copy steps, inside the snapshot it
 * copies: the first time, it waits (at most 10 s) until the writer has
 * committed 5 more records, so writes provably land while the copy runs. */
typedef struct overlap {
    writer *w;
    int calls;
    int before, after; /* w->written when the wait began and ended */
} overlap;

static void overlap_progress(uint64_t done, uint64_t total, void *arg)
{
    overlap *o = arg;

    (void)done;
    (void)total;
    if (o->calls++ > 0)
        return;
    o->before = o->w->written;
    for (int i = 0; i < 10000 && o->w->written < o->before + 5 && o->w->rc == 0; i++)
        usleep(1000);
    o->after = o->w->written;
}

/* The must-show: a backup taken while another handle writes
 * restores, opens and verifies. */
static void test_backup_during_writes_restores(void **state)
{
    fixture *f = *state;
    writer w;
    pthread_t t;
    int at_backup, after_backup;
    uint64_t entries = 0;
    vault_restore_info info;
    int64_t count = 0;
    overlap o;

    memset(&w, 0, sizeof w);
    memset(&o, 0, sizeof o);
    o.w = &w;
    assert_int_equal(vault_reopen(&w.v, f->v), 0);
    assert_int_equal(pthread_create(&t, NULL, write_loop, &w), 0);
    while (w.written < 20 && w.rc == 0)
        usleep(1000);
    at_backup = w.written;
    assert_int_equal(vault_backup(f->v, f->bk, overlap_progress, &o), 0);
    /* Writes committed while the copy was being made. */
    assert_true(o.calls > 0);
    assert_true(o.after >= o.before + 5);
    /* The copy's snapshot was taken before vault_backup returned: writes
     * counted after it returned are not in it (however far the writer got
     * while the backup waited for the write lock to log itself). */
    after_backup = w.written;
    while (w.written < after_backup + 5 && w.rc == 0)
        usleep(1000);
    w.stop = 1;
    pthread_join(t, NULL);
    assert_int_equal(w.rc, 0);
    assert_true(w.written > after_backup); /* writes went on after the copy */
    vault_close(w.v);
    fixture_close(f);

    assert_int_equal(vault_restore(&info, f->path, f->bk, &f->s, 0), 0);
    assert_opens_and_verifies(f, &entries);
    assert_true(entries > 0);
    assert_true(log_contains(f, "\"backup\""));
    assert_true(log_contains(f, "\"restore\""));
    /* The copy holds a whole number of writes from between the two marks. */
    assert_int_equal(op_begin(f->v, OP_READ), 0);
    assert_int_equal(store_record_count(&count, f->v->db), 0);
    op_rollback(f->v);
    assert_true(count >= 3 + at_backup);
    assert_true(count <= 3 + after_backup);
    assert_true(count < 3 + w.written);
    /* The copy is the snapshot the backup began with: the writes that
     * committed during the copy are not in it (one write may have
     * committed before its count went up). */
    assert_true(count <= 3 + o.before + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backup_refuses_existing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cp_of_open_vault_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_tampered_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_other_vault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_while_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cp_older_refused_restore_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_missing_vault_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup_during_writes_restores, setup, teardown),
    };

    assert_int_equal(vault_init(), 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

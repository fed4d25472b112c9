/* Master-key rotation (vault_key_rotate_master, docs/keyslots.md section
 * 11): after it the slots left behind and the old master key open nothing
 * of the vault, and everything the vault did before it still works under
 * the new keys: values, search (digests computed anew), erasures,
 * canaries, grants, the audit log across the rotation with the same
 * public key; pseudonyms change.  Refusals change nothing.  A SIGKILL at
 * each step leaves the vault whole under the old key or the new one. */
#include "testutil.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <sodium.h>
#include <sqlite3.h>

#include "rawdb.h"
#include "store/store.h"
#include "testlog.h"
#include "vault_int.h"

#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"

static const char policy_text[] =
    "version: 1\n"
    "name: rotate-master-test\n"
    "grades:\n"
    "  - {name: personal}\n"
    "  - {name: sensitive}\n"
    "fields:\n"
    "  name:      {grade: personal,  mask: name}\n"
    "  id_number: {grade: sensitive, mask: pseudonym, index: exact}\n"
    "  phone:     {grade: personal,  mask: phone, index: exact}\n"
    "departments:\n"
    "  - {name: street_office}\n"
    "  - {name: civil_affairs}\n"
    "roles:\n"
    "  - {name: data_officer}\n"
    "  - {name: caseworker}\n"
    "purposes:\n"
    "  - {name: resident_service}\n"
    "  - {name: case_handling}\n"
    "rules:\n"
    "  - id: officer-all\n"
    "    subjects: {role: data_officer}\n"
    "    actions: [create, read, write, erase, search]\n"
    "    purposes: [resident_service]\n"
    "    scope: within\n"
    "    effect: allow\n"
    "  - id: caseworker-pseudonyms\n"
    "    subjects: {role: caseworker}\n"
    "    actions: [read]\n"
    "    purposes: [case_handling]\n"
    "    scope: within\n"
    "    fields: [name, id_number, phone]\n"
    "    effect: mask\n"
    "data_officers: [data_officer]\n";

static const char *const IDS[3] = {"330102199001011234", "110101199003071238",
                                   "440301198505056666"};
static const char *const PHONES[3] = {"13812345678", "13900000002", "13700000003"};

typedef struct fixture {
    char *dir;
    char path[400], k1[400], k2[400], k3[400], keys[420];
    vault_secret s1, s2, s3;
    vault *v;
    char id[3][VAULT_ID_HEX_SIZE], canary[VAULT_ID_HEX_SIZE];
    char pubkey[VAULT_PUBKEY_SIZE];
    char *note; /* a checkpoint signed before the rotation */
    char pseudonym[64];
    char db_key[80];
} fixture;

static vault_session *officer(vault *v)
{
    return tu_session(v, "li", "data_officer", "street_office", STREET, "resident_service");
}

static void add(char *out, vault *v, int i, int canary)
{
    vault_session *s = officer(v);
    const char *fields[] = {"name", "id_number", "phone"};
    const char *values[] = {"张三", IDS[i], PHONES[i]};
    size_t lens[] = {strlen(values[0]), strlen(IDS[i]), strlen(PHONES[i])};

    if (canary)
        assert_int_equal(vault_canary_add(out, VAULT_ID_HEX_SIZE, s, GRID7, 3, fields, values,
                                          lens), 0);
    else
        assert_int_equal(vault_record_add(out, VAULT_ID_HEX_SIZE, s, GRID7, 3, fields, values,
                                          lens), 0);
    vault_session_close(s);
}

/* What civil affairs' caseworker sees of record id's ID number. */
static void pseudonym_of(char *out, size_t cap, vault *v, const char *id)
{
    vault_session *s = tu_session(v, "wu", "caseworker", "civil_affairs", STREET,
                                  "case_handling");
    const char *field = "id_number";
    vault_result *r = NULL;

    assert_int_equal(vault_record_get(&r, s, id, &field, 1), 0);
    assert_int_equal(vault_result_effect(r, 0), VAULT_EFFECT_MASK);
    snprintf(out, cap, "%s", vault_result_value(r, 0, NULL));
    assert_memory_equal(out, "PSN-", 4);
    vault_result_free(r);
    vault_session_close(s);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    vault_session *s;
    int i, slot = -1;

    assert_non_null(f);
    f->v = tu_new_vault(&f->dir, f->path, f->k1, sizeof f->path, NULL, policy_text);
    snprintf(f->k2, sizeof f->k2, "%s/k2.key", f->dir);
    snprintf(f->k3, sizeof f->k3, "%s/k3.key", f->dir);
    snprintf(f->keys, sizeof f->keys, "%s.keys", f->path);
    assert_int_equal(vault_keyfile_generate(f->k2), 0);
    assert_int_equal(vault_keyfile_generate(f->k3), 0);
    f->s1 = tu_keyfile_secret(f->k1);
    f->s2 = tu_keyfile_secret(f->k2);
    f->s3 = tu_keyfile_secret(f->k3);
    assert_int_equal(vault_keyslot_add(&slot, f->v, &f->s2, "the leaked one"), 0);
    assert_int_equal(slot, 1);
    for (i = 0; i < 3; i++)
        add(f->id[i], f->v, i, 0);
    add(f->canary, f->v, 2, 1);
    s = officer(f->v);
    assert_int_equal(vault_record_erase(s, f->id[2]), 0);
    vault_session_close(s);
    pseudonym_of(f->pseudonym, sizeof f->pseudonym, f->v, f->id[0]);
    assert_int_equal(vault_audit_pubkey(f->pubkey, sizeof f->pubkey, f->v), 0);
    assert_int_equal(vault_audit_checkpoint(&f->note, f->v), 0);
    assert_int_equal(vault_db_key(f->db_key, sizeof f->db_key, f->v), 0);
    vault_close(f->v);
    f->v = NULL;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    vault_close(f->v);
    vault_free(f->note);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

static size_t found(vault *v, const char *field, const char *value)
{
    vault_session *s = officer(v);
    char *ids = NULL;
    size_t n = 99;

    assert_int_equal(vault_record_find(&ids, &n, s, field, value, strlen(value)), 0);
    vault_free(ids);
    vault_session_close(s);
    return n;
}

static int phone_of(char *out, size_t cap, vault *v, const char *id)
{
    vault_session *s = officer(v);
    vault_result *r = NULL;
    const char *field = "phone";
    int rc = vault_record_get(&r, s, id, &field, 1);

    out[0] = '\0';
    if (rc == 0)
        snprintf(out, cap, "%s", vault_result_value(r, 0, NULL));
    vault_result_free(r);
    vault_session_close(s);
    return rc;
}

static void on_alarm(const vault_alarm *a, void *arg)
{
    if (strcmp(a->kind, "canary") == 0)
        (*(int *)arg)++;
}

typedef struct entry_seen {
    int rotations;
    char detail[512];
} entry_seen;

static void find_rotation(void *arg, const af_entry *e)
{
    entry_seen *s = arg;

    if (e && strcmp(e->action, "key_rotate_master") == 0) {
        s->rotations++;
        snprintf(s->detail, sizeof s->detail, "%s", e->detail ? e->detail : "");
    }
}

/* Everything the vault held works under the new keys (opened with
 * `secret`); the caller closes f->v. */
static void assert_whole(fixture *f, const vault_secret *secret)
{
    char val[64], pk[VAULT_PUBKEY_SIZE];
    int alarms = 0;
    vault_audit_result res;

    assert_int_equal(vault_open(&f->v, f->path, secret), 0);
    assert_int_equal(phone_of(val, sizeof val, f->v, f->id[0]), 0);
    assert_string_equal(val, PHONES[0]);
    assert_int_equal(phone_of(val, sizeof val, f->v, f->id[1]), 0);
    assert_string_equal(val, PHONES[1]);
    assert_int_equal(phone_of(val, sizeof val, f->v, f->id[2]), VAULT_ENOTFOUND); /* erased */
    /* search: the digests were computed anew from the values */
    assert_int_equal(found(f->v, "phone", PHONES[0]), 1);
    assert_int_equal(found(f->v, "id_number", IDS[1]), 1);
    /* the canary's value is IDS[2]: found, flagged, alarmed; the erased
     * record with the same value is not found */
    assert_int_equal(vault_set_alarm(f->v, on_alarm, &alarms), 0);
    assert_int_equal(found(f->v, "id_number", IDS[2]), 1);
    assert_int_equal(alarms, 1);
    /* the same log, the same key: it verifies against the checkpoint
     * signed before the rotation */
    memset(&res, 0, sizeof res);
    assert_int_equal(vault_audit_verify(&res, f->v, f->note, NULL, NULL), 0);
    assert_int_equal(vault_audit_pubkey(pk, sizeof pk, f->v), 0);
    assert_string_equal(pk, f->pubkey);
}

static void assert_no_leftovers(const fixture *f)
{
    static const char *const sfx[] = {".rotating-master", ".rotating-master.keys",
                                      ".rotating-master.rkeys", ".rotate-snapshot",
                                      ".rotate-snapshot.keys", ".rotate-snapshot.rkeys"};
    char p[500];
    struct stat st;
    size_t i;

    for (i = 0; i < sizeof sfx / sizeof *sfx; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, sfx[i]);
        assert_int_not_equal(lstat(p, &st), 0);
    }
}

/* The point: the leaked key file and the old master key stop
 * working; all else goes on. */
static void test_rotation(void **state)
{
    fixture *f = *state;
    vault_master_rotation m;
    vault *w = NULL;
    char psn[64], psn2[64], copy[500], copy_keys[520], old_keys[520];
    entry_seen seen;
    sqlite3 *db = NULL;
    uint8_t *bytes;
    size_t len = 0;

    /* a copy of the keys file as it was, the leaked key file with it */
    snprintf(old_keys, sizeof old_keys, "%s/old.keys", f->dir);
    bytes = tu_read_file(f->keys, &len);
    tu_write_file(old_keys, bytes, len);
    free(bytes);

    memset(&m, 0, sizeof m);
    assert_int_equal(vault_key_rotate_master(&m, f->path, &f->s1, &f->s3, "2026", 0, NULL, NULL),
                     0);
    assert_int_equal(m.records, 3); /* two residents and the canary */
    assert_int_equal(m.digests, 6);
    assert_int_equal(m.record_keys, 3);
    assert_int_equal(m.erased, 1);
    assert_true(m.grade_keys >= 2);
    assert_true(m.entries > 5);
    assert_int_equal(m.slot_kept, 0);
    assert_int_equal(m.slot_added, 2);
    assert_int_equal(m.slots_dropped, 1);
    assert_int_equal(m.dropped[0], 1);
    assert_int_equal(m.cleaned, 0);
    assert_no_leftovers(f);

    /* the slot left behind opens nothing */
    assert_int_equal(vault_open(&w, f->path, &f->s2), VAULT_EAUTH);
    assert_null(w);
    /* nor does the old keys file with it: its master key is not the
     * vault's any more (the vault file does not open under it) */
    snprintf(copy, sizeof copy, "%s/copy.vault", f->dir);
    snprintf(copy_keys, sizeof copy_keys, "%s.keys", copy);
    bytes = tu_read_file(f->path, &len);
    tu_write_file(copy, bytes, len);
    free(bytes);
    bytes = tu_read_file(old_keys, &len);
    tu_write_file(copy_keys, bytes, len);
    free(bytes);
    assert_int_equal(vault_open(&w, copy, &f->s2), VAULT_EINTEGRITY);
    assert_null(w);
    /* the old SQLCipher key opens nothing either */
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_key(db, f->db_key, (int)strlen(f->db_key)), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL),
                         SQLITE_OK);
    sqlite3_close(db);

    /* the kept secret and the new one open it, whole */
    assert_whole(f, &f->s3);
    vault_close(f->v);
    f->v = NULL;
    assert_whole(f, &f->s1);
    {
        char key[80];
        assert_int_equal(vault_db_key(key, sizeof key, f->v), 0);
        assert_string_not_equal(key, f->db_key);
        sodium_memzero(key, sizeof key);
    }
    /* pseudonyms change with the master key, and are stable after it */
    pseudonym_of(psn, sizeof psn, f->v, f->id[0]);
    pseudonym_of(psn2, sizeof psn2, f->v, f->id[0]);
    assert_string_equal(psn, psn2);
    assert_string_not_equal(psn, f->pseudonym);
    /* the rotation is in the log, with its counts */
    memset(&seen, 0, sizeof seen);
    tu_log_each(f->v->db, find_rotation, &seen);
    assert_int_equal(seen.rotations, 1);
    assert_non_null(strstr(seen.detail, "3 records"));
    assert_non_null(strstr(seen.detail, "left behind 1"));
    /* nothing secret in the files it wrote: the old master's key file
     * bytes are not in the new keys file */
    vault_close(f->v);
    f->v = NULL;
    {
        uint8_t *k2 = tu_read_file(f->k2, &len);
        assert_int_equal(len, 32);
        assert_false(tu_file_contains(f->keys, k2, 32));
        free(k2);
    }
    /* and it rotates again */
    memset(&m, 0, sizeof m);
    assert_int_equal(vault_key_rotate_master(&m, f->path, &f->s3, NULL, NULL, 0, NULL, NULL), 0);
    assert_int_equal(m.slot_kept, 2);
    assert_int_equal(m.slot_added, -1);
    assert_int_equal(m.slots_dropped, 1); /* slot 0 (k1) */
    assert_int_equal(vault_open(&w, f->path, &f->s1), VAULT_EAUTH);
    assert_whole(f, &f->s3);
}

/* --drop-current: only the new secret opens the vault. */
static void test_drop_current(void **state)
{
    fixture *f = *state;
    vault_master_rotation m;
    vault *w = NULL;

    memset(&m, 0, sizeof m);
    assert_int_equal(vault_key_rotate_master(&m, f->path, &f->s2, &f->s3, "new", 
                                             VAULT_ROTATE_MASTER_DROP_CURRENT, NULL, NULL),
                     0);
    assert_int_equal(m.slot_kept, -1);
    assert_int_equal(m.slot_added, 2);
    assert_int_equal(m.slots_dropped, 2);
    assert_int_equal(vault_open(&w, f->path, &f->s1), VAULT_EAUTH);
    assert_int_equal(vault_open(&w, f->path, &f->s2), VAULT_EAUTH);
    assert_whole(f, &f->s3);
}

/* What shows a refused rotation changed nothing: the keys file's bytes
 * (the master key and its slots), no file of a rotation left, and the
 * vault file still under the old master key's SQLCipher key.  (Not the
 * vault file's bytes: holding it as the only connection folds its WAL
 * in.) */
typedef struct snapshot {
    uint8_t *keys;
    size_t nk;
} snapshot;

static void snap_take(snapshot *s, const fixture *f)
{
    s->keys = tu_read_file(f->keys, &s->nk);
}

static void snap_same(snapshot *s, const fixture *f)
{
    size_t n = 0;
    uint8_t *now = tu_read_file(f->keys, &n);
    sqlite3 *db = NULL;

    assert_int_equal(n, s->nk);
    assert_memory_equal(now, s->keys, n);
    free(now);
    free(s->keys);
    assert_no_leftovers(f);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_key(db, f->db_key, (int)strlen(f->db_key)), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA cipher_page_size = 4096; "
                                      "SELECT count(*) FROM records",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
}

static int no_backend(store_backend **out, const char *uri, const uint8_t key[32], int create)
{
    (void)uri;
    (void)key;
    (void)create;
    *out = NULL;
    return vault__err(VAULT_EIO, "not opened");
}

static void test_refusals(void **state)
{
    fixture *f = *state;
    snapshot s;
    vault_secret wrong = tu_pass_secret("not the passphrase");
    char k4[500];

    snprintf(k4, sizeof k4, "%s/k4.key", f->dir);
    snap_take(&s, f);
    /* a wrong secret, bad arguments */
    assert_int_equal(vault_key_rotate_master(NULL, f->path, &wrong, NULL, NULL, 0, NULL, NULL),
                     VAULT_EAUTH);
    assert_int_equal(vault_key_rotate_master(NULL, f->path, &f->s1, NULL, NULL,
                                             VAULT_ROTATE_MASTER_DROP_CURRENT, NULL, NULL),
                     VAULT_EINVALID);
    assert_int_equal(vault_key_rotate_master(NULL, f->path, &f->s1, NULL, NULL, 8, NULL, NULL),
                     VAULT_EINVALID);
    assert_int_equal(vault_key_rotate_master(NULL, NULL, &f->s1, NULL, NULL, 0, NULL, NULL),
                     VAULT_EINVALID);
    /* a backend with no rotation (tests/pg/test_pg_rotate_master.c has
     * PostgreSQL's) */
    assert_int_equal(store_register_backend("norotate", no_backend), 0);
    assert_int_equal(vault_key_rotate_master(NULL, "norotate:city", &f->s1, NULL, NULL, 0, NULL,
                                             NULL),
                     VAULT_ESTATE);
    /* a new key file that already opens a slot is no new secret */
    assert_int_equal(vault_key_rotate_master(NULL, f->path, &f->s1, &f->s2, NULL, 0, NULL, NULL),
                     VAULT_EEXISTS);
    /* a new key file that does not exist */
    {
        vault_secret missing = tu_keyfile_secret(k4);
        assert_int_equal(vault_key_rotate_master(NULL, f->path, &f->s1, &missing, NULL, 0, NULL,
                                                 NULL),
                         VAULT_EIO);
    }
    snap_same(&s, f);

    /* the vault open elsewhere */
    assert_int_equal(vault_open(&f->v, f->path, &f->s1), 0);
    snap_take(&s, f);
    assert_int_equal(vault_key_rotate_master(NULL, f->path, &f->s1, NULL, NULL, 0, NULL, NULL),
                     VAULT_EBUSY);
    snap_same(&s, f);
    vault_close(f->v);
    f->v = NULL;
}

/* An insider with the database key moves a resident to another
 * jurisdiction (a row no open reads): the rotation checks every row it
 * carries and does not launder the change into a row tagged under the new
 * key. */
static void test_tampering_refused(void **state)
{
    fixture *f = *state;
    sqlite3 *db;
    snapshot sn;

    assert_int_equal(vault_open(&f->v, f->path, &f->s1), 0);
    db = tu_raw_db(f->v, f->path);
    vault_close(f->v);
    f->v = NULL;
    assert_int_equal(sqlite3_exec(db, "UPDATE records SET jurisdiction = 'hangzhou' WHERE rowid = "
                                      "(SELECT min(rowid) FROM records)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_close(db);
    snap_take(&sn, f);
    assert_int_equal(vault_key_rotate_master(NULL, f->path, &f->s1, NULL, NULL, 0, NULL, NULL),
                     VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "integrity"));
    snap_same(&sn, f);
}

static void test_cut_log_refused(void **state)
{
    fixture *f = *state;
    sqlite3 *db;
    snapshot sn;
    int rc;

    assert_int_equal(vault_open(&f->v, f->path, &f->s1), 0);
    db = tu_raw_db(f->v, f->path);
    vault_close(f->v);
    f->v = NULL;
    assert_int_equal(sqlite3_exec(db, "DELETE FROM audit WHERE pos = 3", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    snap_take(&sn, f);
    rc = vault_key_rotate_master(NULL, f->path, &f->s1, NULL, NULL, 0, NULL, NULL);
    assert_int_equal(rc, VAULT_EINTEGRITY);
    snap_same(&sn, f);
}

/* SIGKILL at each step: before the commit (steps 1 to 5) the vault is the
 * old one, under k2 only (k1 is dropped by the rotation, k3 added), and
 * the next rotation clears what was left; after it (6 to 8) the next open
 * finishes, under k3 only. */
static void test_crash_at_each_step(void **state)
{
    fixture *f = *state;
    int stepno, status;
    pid_t pid;
    vault *w = NULL;
    vault_master_rotation m;
    char base[300];

    assert_true(strlen(f->path) < sizeof base);
    memcpy(base, f->path, strlen(f->path) + 1);
    for (stepno = 1; stepno <= 8; stepno++) {
        /* a fresh copy of the fixture's vault for each step */
        char path[320], cmd[2200];
        snprintf(path, sizeof path, "%s.step%d", base, stepno);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s' && cp '%s.keys' '%s.keys' && cp '%s.rkeys' "
                                  "'%s.rkeys'", base, path, base, path, base, path);
        assert_int_equal(system(cmd), 0);
        snprintf(f->path, sizeof f->path, "%s", path);
        snprintf(f->keys, sizeof f->keys, "%s.keys", path);
        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            vault__rotate_master_stop = stepno;
            int rc = vault_key_rotate_master(NULL, path, &f->s2, &f->s3, "new",
                                             VAULT_ROTATE_MASTER_DROP_CURRENT, NULL, NULL);
            _exit(rc == 0 ? 42 : 43); /* not killed: the step was never reached */
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
        if (stepno <= 5) {
            assert_int_equal(vault_open(&w, path, &f->s3), VAULT_EAUTH);
            assert_whole(f, &f->s2);
            vault_close(f->v);
            f->v = NULL;
            memset(&m, 0, sizeof m);
            assert_int_equal(vault_key_rotate_master(&m, path, &f->s2, &f->s3, "new",
                                                     VAULT_ROTATE_MASTER_DROP_CURRENT, NULL,
                                                     NULL),
                             0);
            assert_int_equal(m.cleaned, 1);
        }
        assert_int_equal(vault_open(&w, path, &f->s2), VAULT_EAUTH);
        assert_whole(f, &f->s3);
        vault_close(f->v);
        f->v = NULL;
        assert_no_leftovers(f);
    }
    snprintf(f->path, sizeof f->path, "%s", base);
}

/* A process that opens the vault while a rotation (or a restore) holds it
 * as its only connection waits; if the file at the path is replaced
 * meanwhile, the open fails (VAULT_EBUSY, "replaced") instead of going on
 * in the file that was replaced, where its writes would be lost. */
static void test_replaced_while_opening(void **state)
{
    fixture *f = *state;
    uint8_t key[32];
    size_t klen = 0;
    store_file_claim *claim = NULL;
    char copy[500];
    int status, go[2];
    pid_t pid;

    assert_int_equal(sodium_hex2bin(key, sizeof key, f->db_key + 2, 64, NULL, &klen, NULL), 0);
    assert_int_equal(klen, 32);
    snprintf(copy, sizeof copy, "%s.copy", f->path);
    {
        size_t len = 0;
        uint8_t *b = tu_read_file(f->path, &len);
        tu_write_file(copy, b, len);
        free(b);
    }
    /* The child is made before the claim: a process forked with an open
     * SQLite connection shares its lock bookkeeping. */
    assert_int_equal(pipe(go), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        vault *w = NULL;
        char c;
        int rc;

        close(go[1]);
        if (read(go[0], &c, 1) != 1)
            _exit(9);
        rc = vault_open(&w, f->path, &f->s1);
        if (rc != VAULT_EBUSY || !strstr(vault_error_last(), "replaced"))
            fprintf(stderr, "# open: %d %s\n", rc, vault_error_last());
        vault_close(w);
        _exit(rc == VAULT_EBUSY && strstr(vault_error_last(), "replaced") ? 0 : 10 - rc);
    }
    close(go[0]);
    assert_int_equal(store_file_claim_take(&claim, f->path, key), 0);
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    usleep(1000 * 1000); /* the child waits on the claim's lock */
    assert_int_equal(rename(copy, f->path), 0);
    store_file_release(claim);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* and opening again opens the file now there */
    assert_int_equal(vault_open(&f->v, f->path, &f->s1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_current, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampering_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_log_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_at_each_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replaced_while_opening, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

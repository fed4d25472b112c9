/* rotate: data-key rotation re-encrypts a grade's fields under a new key
 * version and retires the old ones; it resumes after an interruption
 * (deterministic via rotate__run's batch limit, and a real SIGKILL) without
 * adding another version; reads and writes keep working mid-rotation; a
 * tampered ciphertext stops it with an error naming the record, never the
 * value; every step is in the audit log. */
#include "testutil.h"
#include "testsnap.h"
#include "testrow.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "audit/audit.h"
#include "crypto.h"
#include "rotate.h"
#include "store/store.h"
#include "vault_int.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"
#define NREC 150 /* two personal fields each: 300 fields */

typedef struct fixture {
    char *dir;
    char path[512];
    char keyfile[512];
    vault *v;
    vault_session *officer;
    size_t nrec;
    char (*ids)[VAULT_ID_HEX_SIZE];
} fixture;

static void name_of(char *out, size_t cap, size_t i)
{
    snprintf(out, cap, "居民%04zu号", i);
}

static void phone_of(char *out, size_t cap, size_t i)
{
    snprintf(out, cap, "138%08zu", i);
}

static void id_number_of(char *out, size_t cap, size_t i)
{
    snprintf(out, cap, "3301021990%08zu", i);
}

static void open_officer(fixture *f)
{
    f->officer = tu_session(f->v, "li", "data_officer", "street_office", STREET, "resident_service");
}

/* n records with name and phone (grade personal); every 10th also has an
 * id_number (grade sensitive), which rotating personal must not touch. */
static void add_records(fixture *f, size_t n)
{
    char name[64], phone[32], idn[32];
    size_t i;

    f->ids = calloc(n, sizeof *f->ids);
    assert_non_null(f->ids);
    f->nrec = n;
    for (i = 0; i < n; i++) {
        const char *fields[] = {"name", "phone", "id_number"};
        const char *values[] = {name, phone, idn};
        size_t lens[3];

        name_of(name, sizeof name, i);
        phone_of(phone, sizeof phone, i);
        id_number_of(idn, sizeof idn, i);
        lens[0] = strlen(name);
        lens[1] = strlen(phone);
        lens[2] = strlen(idn);
        assert_int_equal(vault_record_add(f->ids[i], sizeof f->ids[i], f->officer, GRID7,
                                          i % 10 == 0 ? 3 : 2, fields, values, lens),
                         0);
    }
}

static fixture *fixture_new(size_t nrec)
{
    fixture *f = calloc(1, sizeof *f);
    vault_secret s = VAULT_SECRET_INIT;

    assert_non_null(f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/rot.vault", f->dir);
    snprintf(f->keyfile, sizeof f->keyfile, "%s/rot.key", f->dir);
    assert_int_equal(vault_keyfile_generate(f->keyfile), 0);
    s = tu_keyfile_secret(f->keyfile);
    assert_int_equal(vault_create(&f->v, f->path, POLICY, &s), 0);
    open_officer(f);
    if (nrec)
        add_records(f, nrec);
    return f;
}

static int setup(void **state)
{
    *state = fixture_new(NREC);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    vault_session_close(f->officer);
    vault_close(f->v);
    tu_rmdir(f->dir);
    free(f->ids);
    free(f);
    return 0;
}

/* Close and reopen the handle (a fresh keyring: no cached keys). */
static void reopen(fixture *f)
{
    vault_secret s = tu_keyfile_secret(f->keyfile);

    vault_session_close(f->officer);
    vault_close(f->v);
    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    open_officer(f);
}

/* Every field of every record reads back exactly, through the public API. */
static void check_all_read(fixture *f)
{
    const char *fields[] = {"name", "phone", "id_number"};
    char want[64];
    vault_result *r = NULL;
    size_t i, len;
    const char *val;

    for (i = 0; i < f->nrec; i++) {
        assert_int_equal(vault_record_get(&r, f->officer, f->ids[i], fields, 3), 0);
        assert_int_equal(vault_result_effect(r, 0), VAULT_EFFECT_ALLOW);
        name_of(want, sizeof want, i);
        val = vault_result_value(r, 0, &len);
        assert_non_null(val);
        assert_string_equal(val, want);
        phone_of(want, sizeof want, i);
        val = vault_result_value(r, 1, &len);
        assert_non_null(val);
        assert_string_equal(val, want);
        if (i % 10 == 0) {
            id_number_of(want, sizeof want, i);
            assert_string_equal(vault_result_value(r, 2, &len), want);
        } else {
            assert_int_equal(vault_result_present(r, 2), 0);
        }
        vault_result_free(r);
    }
}

static uint32_t latest(vault *v, const char *grade)
{
    uint32_t ver = 0;

    assert_int_equal(TU_SNAP(v->db, store_gradekey_latest(&ver, v->db, grade)), 0);
    return ver;
}

static int key_exists(vault *v, const char *grade, uint32_t version)
{
    uint8_t buf[256];
    size_t len = 0;

    return TU_SNAP(v->db, store_gradekey_get(buf, sizeof buf, &len, v->db, grade, version)) == VAULT_OK;
}

static int64_t stale(vault *v, const char *grade, uint32_t below)
{
    int64_t n = -1;

    assert_int_equal(TU_SNAP(v->db, store_field_count_stale(&n, v->db, grade, below)), 0);
    return n;
}

static uint32_t field_version(fixture *f, size_t rec, const char *field)
{
    uint8_t id[VAULT_ID_BYTES], *ct;
    size_t len = 0;
    uint32_t ver = 0, hdr = 0;

    assert_int_equal(vault__id_parse(id, f->ids[rec]), 0);
    ct = tu_raw_get(f->v, id, field, &len, NULL, &ver);
    assert_int_equal(vc_field_key_version(&hdr, ct, len), 0);
    assert_int_equal(hdr, ver); /* header and row agree */
    free(ct);
    return ver;
}

/* ---- audit entries ---- */

typedef struct rot_log {
    size_t n, errors;
    char details[16][256];
    int has_record[16];
} rot_log;

static int log_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                  size_t head_len)
{
    rot_log *l = arg;
    af_entry e;
    void *storage = NULL;

    (void)pos;
    (void)head;
    (void)head_len;
    assert_int_equal(af_entry_decode(&e, &storage, entry, len), 0);
    if (strcmp(e.action, "key_rotate") == 0 && l->n < 16) {
        snprintf(l->details[l->n], sizeof l->details[l->n], "%s", e.detail ? e.detail : "");
        l->has_record[l->n] = e.has_record;
        if (e.outcome == AF_OUTCOME_ERROR)
            l->errors++;
        l->n++;
    }
    free(storage);
    return 0;
}

static void rotation_log(rot_log *l, vault *v)
{
    memset(l, 0, sizeof *l);
    assert_int_equal(TU_SNAP(v->db, store_audit_scan(v->db, 0, log_fn, l)), 0);
}

static void check_audit_intact(vault *v)
{
    vault_audit_result res;

    /* Verify against a fresh signed checkpoint as well as the chain. */
    assert_int_equal(vault_audit_checkpoint(NULL, v), 0);
    assert_int_equal(vault_audit_verify(&res, v, NULL, NULL, NULL), 0);
    assert_int_equal(res.failure, VAULT_AUDIT_OK);
}

/* ---- progress ---- */

typedef struct progress_log {
    size_t calls;
    uint64_t last_done, last_total;
    int monotonic;
} progress_log;

static void on_progress(uint64_t done, uint64_t total, void *arg)
{
    progress_log *p = arg;

    if (p->calls && done < p->last_done)
        p->monotonic = 0;
    if (done > total)
        p->monotonic = 0;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
}

/* ---- tests ---- */

static void test_rotate_reencrypts_and_retires(void **state)
{
    fixture *f = *state;
    progress_log p = {0, 0, 0, 1};
    rot_log l;
    char *hits = NULL, phone[32];
    size_t n = 0;

    assert_int_equal(latest(f->v, "personal"), 1);
    assert_int_equal(stale(f->v, "personal", 2), 2 * NREC);
    assert_int_equal(vault_key_rotate(f->v, "personal", on_progress, &p), 0);

    /* 300 fields in batches of 500: one batch, one progress call at 100 %. */
    assert_true(p.calls >= 1);
    assert_true(p.monotonic);
    assert_int_equal(p.last_done, 2 * NREC);
    assert_int_equal(p.last_total, 2 * NREC);

    assert_int_equal(latest(f->v, "personal"), 2);
    assert_int_equal(stale(f->v, "personal", 2), 0);
    assert_false(key_exists(f->v, "personal", 1));
    assert_true(key_exists(f->v, "personal", 2));
    assert_int_equal(field_version(f, 7, "phone"), 2);
    assert_int_equal(field_version(f, 7, "name"), 2);
    /* Another grade is left alone. */
    assert_int_equal(latest(f->v, "sensitive"), 1);
    assert_int_equal(field_version(f, 10, "id_number"), 1);

    check_all_read(f);
    reopen(f); /* and with no key cached: only version 2 is left to load */
    check_all_read(f);
    /* The blind index does not depend on the grade key. */
    phone_of(phone, sizeof phone, 42);
    assert_int_equal(vault_record_find(&hits, &n, f->officer, "phone", phone, strlen(phone)), 0);
    assert_int_equal(n, 1);
    assert_string_equal(hits, f->ids[42]);
    vault_free(hits);

    /* Again: version 3, version 2 retired. */
    assert_int_equal(vault_key_rotate(f->v, "personal", NULL, NULL), 0);
    assert_int_equal(latest(f->v, "personal"), 3);
    assert_false(key_exists(f->v, "personal", 2));
    assert_int_equal(stale(f->v, "personal", 3), 0);
    assert_int_equal(field_version(f, 0, "name"), 3);
    check_all_read(f);

    rotation_log(&l, f->v);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.errors, 0);
    assert_string_equal(l.details[0], "grade personal: version 2 created");
    assert_string_equal(l.details[1], "grade personal: 300 fields re-encrypted, versions below 2 retired");
    assert_string_equal(l.details[2], "grade personal: version 3 created");
    assert_string_equal(l.details[3], "grade personal: 300 fields re-encrypted, versions below 3 retired");
    check_audit_intact(f->v);
}

static void test_rotate_interrupted_resumes(void **state)
{
    fixture *f = *state;
    progress_log p = {0, 0, 0, 1};
    rot_log l;
    char new_id[VAULT_ID_HEX_SIZE];
    const char *fields[] = {"name", "phone"}, *values[] = {"新居民", "13900000000"};
    size_t lens[] = {strlen(values[0]), 11};
    const char *phone_field = "phone";
    vault_result *r = NULL;
    size_t i, on_new = 0, on_old = 0, len = 0;

    /* Two batches of 25 records (50 fields), then "interrupted": 100
     * fields moved, 200 not. */
    assert_int_equal(rotate__run(f->v, "personal", 25, 2, on_progress, &p), 1);
    assert_int_equal(p.calls, 2);
    assert_int_equal(p.last_done, 100);
    assert_int_equal(p.last_total, 2 * NREC);
    assert_int_equal(latest(f->v, "personal"), 2);
    assert_true(key_exists(f->v, "personal", 1)); /* not retired yet */
    assert_int_equal(stale(f->v, "personal", 2), 2 * NREC - 100);
    for (i = 0; i < NREC; i++) {
        if (field_version(f, i, "phone") == 2)
            on_new++;
        else
            on_old++;
        if (field_version(f, i, "name") == 2)
            on_new++;
        else
            on_old++;
    }
    assert_int_equal(on_new, 100);
    assert_int_equal(on_old, 2 * NREC - 100);

    /* Mid-rotation every field reads, on either version, also from a
     * handle that has no key cached. */
    check_all_read(f);
    reopen(f);
    check_all_read(f);

    /* Writes mid-rotation use the new version at once. */
    for (i = 0; i < NREC && field_version(f, i, "phone") == 2; i++)
        ;
    assert_true(i < NREC);
    assert_int_equal(field_version(f, i, "phone"), 1);
    assert_int_equal(vault_record_put(f->officer, f->ids[i], "phone", "13912345678", 11), 0);
    assert_int_equal(field_version(f, i, "phone"), 2);
    assert_int_equal(vault_record_get(&r, f->officer, f->ids[i], &phone_field, 1), 0);
    assert_string_equal(vault_result_value(r, 0, &len), "13912345678");
    vault_result_free(r);
    assert_int_equal(vault_record_add(new_id, sizeof new_id, f->officer, GRID7, 2, fields, values, lens), 0);
    assert_int_equal(stale(f->v, "personal", 2), 2 * NREC - 100 - 1);

    /* Resume: no version 3, remaining fields moved, version 1 retired. */
    memset(&p, 0, sizeof p);
    p.monotonic = 1;
    assert_int_equal(vault_key_rotate(f->v, "personal", on_progress, &p), 0);
    assert_int_equal(p.last_done, 2 * NREC - 100 - 1);
    assert_int_equal(p.last_total, 2 * NREC - 100 - 1);
    assert_int_equal(latest(f->v, "personal"), 2);
    assert_false(key_exists(f->v, "personal", 3));
    assert_false(key_exists(f->v, "personal", 1));
    assert_int_equal(stale(f->v, "personal", 2), 0);

    /* Restore the one value changed above and check everything. */
    {
        char phone[32];
        phone_of(phone, sizeof phone, i);
        assert_int_equal(vault_record_put(f->officer, f->ids[i], "phone", phone, strlen(phone)), 0);
    }
    check_all_read(f);
    assert_int_equal(vault_record_get(&r, f->officer, new_id, fields, 2), 0);
    assert_string_equal(vault_result_value(r, 0, &len), "新居民");
    assert_string_equal(vault_result_value(r, 1, &len), "13900000000");
    vault_result_free(r);

    rotation_log(&l, f->v);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.details[0], "grade personal: version 2 created");
    assert_string_equal(l.details[1], "grade personal: resuming rotation to version 2, 199 fields left");
    assert_string_equal(l.details[2], "grade personal: 199 fields re-encrypted, versions below 2 retired");
    check_audit_intact(f->v);
}

/* Killed after the last batch but before the old versions were retired:
 * the next run finishes that rotation instead of starting another. */
static void test_rotate_resumes_after_last_batch(void **state)
{
    fixture *f = *state;

    /* 300 fields (150 records) in batches of 75 records: two full
     * batches, stop before step 3. */
    assert_int_equal(rotate__run(f->v, "personal", 75, 2, NULL, NULL), 1);
    assert_int_equal(stale(f->v, "personal", 2), 0);
    assert_true(key_exists(f->v, "personal", 1));
    assert_int_equal(vault_key_rotate(f->v, "personal", NULL, NULL), 0);
    assert_int_equal(latest(f->v, "personal"), 2);
    assert_false(key_exists(f->v, "personal", 1));
    check_all_read(f);
}

/* A batch limit the rotation doesn't reach: it finishes normally. */
static void test_rotate_batch_limit_not_reached(void **state)
{
    fixture *f = *state;

    assert_int_equal(rotate__run(f->v, "personal", 1000, 1, NULL, NULL), 0);
    assert_int_equal(latest(f->v, "personal"), 2);
    assert_false(key_exists(f->v, "personal", 1));
    check_all_read(f);
}

static void test_rotate_unknown_grade(void **state)
{
    fixture *f = *state;
    rot_log l;

    assert_int_equal(vault_key_rotate(f->v, "top_secret", NULL, NULL), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "top_secret"));
    assert_int_equal(vault_key_rotate(f->v, "", NULL, NULL), VAULT_EINVALID);
    assert_int_equal(vault_key_rotate(f->v, NULL, NULL, NULL), VAULT_EINVALID);
    assert_int_equal(vault_key_rotate(NULL, "personal", NULL, NULL), VAULT_EINVALID);
    /* Grade names are case-sensitive, as in the policy. */
    assert_int_equal(vault_key_rotate(f->v, "Personal", NULL, NULL), VAULT_EINVALID);
    assert_int_equal(rotate__run(f->v, "personal", 0, 0, NULL, NULL), VAULT_EINVALID);
    assert_int_equal(latest(f->v, "personal"), 1);
    /* Each refused grade is an entry ("top_secret", "Personal"); nothing rotated. */
    rotation_log(&l, f->v);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.errors, 2);
    assert_non_null(strstr(l.details[0], "refused: grade 'top_secret' is not declared"));
    assert_non_null(strstr(l.details[1], "refused: grade 'Personal' is not declared"));
}

static void put_raw(fixture *f, size_t rec, const char *field, const char *grade, uint32_t version,
                    const uint8_t *ct, size_t len)
{
    uint8_t id[VAULT_ID_BYTES];

    assert_int_equal(vault__id_parse(id, f->ids[rec]), 0);
    tu_raw_put(f->v, id, field, grade, version, ct, len);
}

static uint8_t *get_raw(fixture *f, size_t rec, const char *field, size_t *len)
{
    uint8_t id[VAULT_ID_BYTES];

    assert_int_equal(vault__id_parse(id, f->ids[rec]), 0);
    return tu_raw_get(f->v, id, field, len, NULL, NULL);
}

static void test_rotate_tampered_ciphertext(void **state)
{
    fixture *f = *state;
    uint8_t garbage[11 + VC_FIELD_OVERHEAD], *orig = NULL;
    size_t orig_len = 0;
    const size_t victim = 77;
    char phone[32], name[64];
    rot_log l;
    const char *msg;

    /* A well-formed header (format 1, version 1) over random bytes. */
    orig = get_raw(f, victim, "phone", &orig_len);
    vc_random(garbage, sizeof garbage);
    garbage[0] = VC_FIELD_FORMAT;
    garbage[1] = 1;
    garbage[2] = garbage[3] = garbage[4] = 0;
    put_raw(f, victim, "phone", "personal", 1, garbage, sizeof garbage);

    assert_int_equal(vault_key_rotate(f->v, "personal", NULL, NULL), VAULT_EINTEGRITY);
    msg = vault_error_last();
    assert_non_null(strstr(msg, f->ids[victim]));
    assert_non_null(strstr(msg, "'phone'"));
    phone_of(phone, sizeof phone, victim);
    name_of(name, sizeof name, victim);
    assert_null(strstr(msg, phone));
    assert_null(strstr(msg, name));
    /* Nothing retired: every good field still reads (on v1 or v2). */
    assert_true(key_exists(f->v, "personal", 1));
    assert_int_equal(latest(f->v, "personal"), 2);

    /* The failure is logged against the record. */
    rotation_log(&l, f->v);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.errors, 1);
    assert_true(l.has_record[1]);
    assert_non_null(strstr(l.details[1], "stopped"));
    assert_non_null(strstr(l.details[1], "'phone'"));
    assert_null(strstr(l.details[1], "138"));
    check_audit_intact(f->v);

    /* Once the field is repaired (restored from a backup), running again
     * resumes the same rotation and finishes it. */
    put_raw(f, victim, "phone", "personal", 1, orig, orig_len);
    assert_int_equal(vault_key_rotate(f->v, "personal", NULL, NULL), 0);
    assert_int_equal(latest(f->v, "personal"), 2);
    assert_false(key_exists(f->v, "personal", 1));
    check_all_read(f);
    free(orig);
}

/* A valid ciphertext copied from another record does not open there. */
static void test_rotate_moved_ciphertext(void **state)
{
    fixture *f = *state;
    uint8_t *other = NULL;
    size_t len = 0;

    other = get_raw(f, 3, "phone", &len);
    put_raw(f, 4, "phone", "personal", 1, other, len);
    free(other);
    assert_int_equal(vault_key_rotate(f->v, "personal", NULL, NULL), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), f->ids[4]));
    assert_null(strstr(vault_error_last(), "13800000003"));
    assert_true(key_exists(f->v, "personal", 1));
}

/* A grade a later policy added has no key yet: rotating creates version 1. */
static void test_rotate_grade_without_key(void **state)
{
    fixture *f = *state;
    rot_log l;

    /* "public" declares no fields; drop its key behind the keyring's back. */
    assert_int_equal(store_begin(f->v->db, 1), 0);
    assert_int_equal(store_gradekey_retire(f->v->db, "public", UINT32_MAX), 0);
    assert_int_equal(store_commit(f->v->db), 0);
    assert_false(key_exists(f->v, "public", 1));
    assert_int_equal(vault_key_rotate(f->v, "public", NULL, NULL), 0);
    assert_int_equal(latest(f->v, "public"), 1);
    rotation_log(&l, f->v);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.details[0], "grade public: version 1 created");
    /* A grade with a key but no fields: a new version, the old retired. */
    assert_int_equal(vault_key_rotate(f->v, "special", NULL, NULL), 0);
    assert_int_equal(latest(f->v, "special"), 2);
    assert_false(key_exists(f->v, "special", 1));
}

/* A real interruption: a child process rotates a few thousand fields and
 * is killed with SIGKILL, either ~20 ms into the rotation or as soon as
 * its first batch has committed (the parent watches through a handle of
 * its own); the parent then resumes and finishes. */
static void kill_during_rotation(fixture *f, int after_first_batch)
{
    int fds[2], status = 0;
    pid_t pid;
    char go = 0;
    vault_secret s = tu_keyfile_secret(f->keyfile);
    int64_t left, total = (int64_t)(2 * f->nrec);
    struct timespec ms20 = {0, 20 * 1000 * 1000}, ms1 = {0, 1000 * 1000};
    uint32_t ver;
    int i;

    /* The child opens its own handle: nothing of ours crosses the fork. */
    vault_session_close(f->officer);
    f->officer = NULL;
    vault_close(f->v);
    f->v = NULL;
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        vault *cv = NULL;
        close(fds[0]);
        if (vault_open(&cv, f->path, &s) != 0)
            _exit(2);
        if (write(fds[1], "g", 1) != 1)
            _exit(3);
        _exit(vault_key_rotate(cv, "personal", NULL, NULL) == 0 ? 0 : 4);
    }
    close(fds[1]);
    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    assert_int_equal(read(fds[0], &go, 1), 1);
    close(fds[0]);
    if (after_first_batch) {
        for (i = 0; i < 20000 && stale(f->v, "personal", 2) >= total; i++)
            nanosleep(&ms1, NULL);
    } else {
        nanosleep(&ms20, NULL);
    }
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0));

    open_officer(f);
    ver = latest(f->v, "personal");
    left = stale(f->v, "personal", ver);
    print_message("killed child: signalled %d, latest version %u, %lld of %lld fields on the old key\n",
                  WIFSIGNALED(status), (unsigned)ver, (long long)left, (long long)total);
    /* Reads work in whatever state the kill left. */
    check_all_read(f);
    assert_int_equal(vault_key_rotate(f->v, "personal", NULL, NULL), 0);
    if (WIFSIGNALED(status) && ver == 2) /* interrupted: resumed, no version 3 */
        assert_int_equal(latest(f->v, "personal"), 2);
    assert_int_equal(stale(f->v, "personal", latest(f->v, "personal")), 0);
    assert_false(key_exists(f->v, "personal", latest(f->v, "personal") - 1));
    check_all_read(f);
    check_audit_intact(f->v);
}

static void test_rotate_killed_at_20ms(void **state)
{
    kill_during_rotation(*state, 0);
}

static void test_rotate_killed_after_first_batch(void **state)
{
    kill_during_rotation(*state, 1);
}

static int setup_big(void **state)
{
    *state = fixture_new(1500); /* 3000 personal fields */
    return 0;
}

static int setup_empty(void **state)
{
    *state = fixture_new(0);
    return 0;
}

/* A grade key created in a transaction that rolls back was never stored:
 * the keyring must not keep using it.  (It once stayed cached, so the next
 * transaction's version 1 sealed fields under a key the database did not
 * hold, and they were lost at the next open.) */
static void test_rolled_back_key_never_used(void **state)
{
    fixture *f = *state;
    vault *v = f->v;
    const uint8_t *k = NULL;
    uint8_t first[VC_KEYBYTES], second[VC_KEYBYTES];
    uint32_t ver = 0;
    keyring *fresh = NULL;

    assert_int_equal(store_begin(v->db, 1), 0);
    assert_int_equal(keyring_grade_key_latest(&k, &ver, v->keys, v->db, "scratch", 1000), 0);
    assert_int_equal(ver, 1);
    memcpy(first, k, VC_KEYBYTES);
    store_rollback(v->db);

    assert_int_equal(store_begin(v->db, 1), 0);
    assert_int_equal(keyring_grade_key_latest(&k, &ver, v->keys, v->db, "scratch", 1000), 0);
    assert_int_equal(ver, 1);
    memcpy(second, k, VC_KEYBYTES);
    assert_int_equal(store_commit(v->db), 0);
    assert_memory_not_equal(first, second, VC_KEYBYTES);

    /* What the database holds, through a keyring that never saw either. */
    assert_int_equal(keyring_new(&fresh, keyring_master(v->keys), v->id), 0);
    assert_int_equal(TU_SNAP(v->db, keyring_grade_key(&k, fresh, v->db, "scratch", 1)), 0);
    assert_memory_equal(k, second, VC_KEYBYTES);
    keyring_free(fresh);
}

/* The newest version is remembered only for one transaction: a version
 * created in it is seen at once, and one another handle (another process)
 * creates later is seen by the next transaction. */
static void test_latest_version_per_transaction(void **state)
{
    fixture *f = *state;
    vault *v = f->v, *other = NULL;
    vault_secret s = tu_keyfile_secret(f->keyfile);
    const uint8_t *k = NULL;
    uint32_t ver = 0, base;

    assert_int_equal(store_begin(v->db, 1), 0);
    assert_int_equal(keyring_grade_key_latest(&k, &base, v->keys, v->db, "personal", 1000), 0);
    assert_int_equal(keyring_grade_key_create(v->keys, v->db, "personal", base + 1, 1000), 0);
    assert_int_equal(keyring_grade_key_latest(&k, &ver, v->keys, v->db, "personal", 1000), 0);
    assert_int_equal(ver, base + 1);
    assert_int_equal(store_commit(v->db), 0);

    assert_int_equal(vault_open(&other, f->path, &s), 0);
    assert_int_equal(store_begin(other->db, 1), 0);
    assert_int_equal(keyring_grade_key_create(other->keys, other->db, "personal", base + 2, 1000),
                     0);
    assert_int_equal(store_commit(other->db), 0);
    vault_close(other);

    assert_int_equal(store_begin(v->db, 1), 0);
    assert_int_equal(keyring_grade_key_latest(&k, &ver, v->keys, v->db, "personal", 1000), 0);
    assert_int_equal(ver, base + 2);
    store_rollback(v->db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rotate_reencrypts_and_retires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_interrupted_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_resumes_after_last_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_batch_limit_not_reached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_unknown_grade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_tampered_ciphertext, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_moved_ciphertext, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_grade_without_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_killed_at_20ms, setup_big, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_killed_after_first_batch, setup_big, teardown),
        cmocka_unit_test_setup_teardown(test_rolled_back_key_never_used, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_latest_version_per_transaction, setup_empty, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* retention: the policy's retention schedules planned and carried out
 * (libvault/retention.c; docs/policy-format.md "Retention").
 *
 * The tests first: a run erases exactly what the plan listed
 * (the sets compared), the records that were not due read back
 * unchanged, and the audit log verifies after it; a SIGKILL at random
 * points of a run leaves each record whole or erased (or, for a field
 * schedule, with exactly its due fields gone), never half, and a final run
 * completes.  Then: not yet due and flagged records left, a bad date named
 * and skipped (never shown), a run stopped after some batches and resumed,
 * canaries, no value in the log. */
#include "testutil.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "reckeys.h"
#include "retention.h"
#include "store/store.h"
#include "testsnap.h"
#include "vault_int.h"

#define POLICY VAULT_SOURCE_DIR "/tests/data/retention.yaml"
#define DAY 86400
#define NF 5

static const char *const FIELDS[NF] = {"name", "phone", "health", "moved_out", "case_open"};
enum { F_NAME, F_PHONE, F_HEALTH, F_MOVED, F_CASE };

/* A resident: its jurisdiction and the values it is created with (NULL:
 * none). */
typedef struct res {
    const char *jur;
    const char *val[NF];
    char id[VAULT_ID_HEX_SIZE];
} res;

typedef struct fixture {
    char *dir;
    char path[512], keyfile[512];
    vault_secret sec;
    vault *v;
    vault_session *s;
} fixture;

static vault_session *officer(vault *v)
{
    return tu_session(v, "li", "officer", "office", "city", "service");
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->v = tu_new_vault(&f->dir, f->path, f->keyfile, sizeof f->path, POLICY, NULL);
    f->sec = tu_keyfile_secret(f->keyfile);
    f->s = officer(f->v);
    *state = f;
    return 0;
}

static void fx_close(fixture *f)
{
    vault_session_close(f->s);
    f->s = NULL;
    vault_close(f->v);
    f->v = NULL;
}

static void fx_open(fixture *f)
{
    if (vault_open(&f->v, f->path, &f->sec) != 0)
        fail_msg("the vault does not open: %s", vault_error_last());
    f->s = officer(f->v);
}

static int teardown(void **state)
{
    fixture *f = *state;

    fx_close(f);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

static void add(fixture *f, res *r)
{
    const char *names[NF], *vals[NF];
    size_t lens[NF], n = 0;

    for (size_t i = 0; i < NF; i++)
        if (r->val[i]) {
            names[n] = FIELDS[i];
            vals[n] = r->val[i];
            lens[n++] = strlen(r->val[i]);
        }
    if (vault_record_add(r->id, sizeof r->id, f->s, r->jur, n, names, vals, lens) != 0)
        fail_msg("record add: %s", vault_error_last());
}

/* How record r reads now: -1 gone (no such record), else a bit per field
 * that reads back as created; a field that reads back otherwise (or
 * appears) fails the test. */
static int state_of(vault_session *s, const res *r)
{
    vault_result *out = NULL;
    int rc = vault_record_get(&out, s, r->id, FIELDS, NF), bits = 0;

    if (rc == VAULT_ENOTFOUND)
        return -1;
    if (rc != 0)
        fail_msg("record get %s: %s", r->id, vault_error_last());
    for (size_t i = 0; i < NF; i++) {
        size_t len = 0;
        const char *val = vault_result_value(out, i, &len);

        if (!val)
            continue;
        if (!r->val[i] || len != strlen(r->val[i]) ||
            memcmp(val, r->val[i], len) != 0) /* memcmp ok: not secret */
            fail_msg("record %s: field %s reads back changed", r->id, FIELDS[i]);
        bits |= 1 << i;
    }
    vault_result_free(out);
    return bits;
}

/* All the fields it was created with. */
static int whole(const res *r)
{
    int bits = 0;

    for (size_t i = 0; i < NF; i++)
        if (r->val[i])
            bits |= 1 << i;
    return bits;
}

static int strptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sort the lines of text in place (each ends in '\n'). */
static void sort_lines(char *text)
{
    size_t n = 0, len = strlen(text), k = 0;
    char *copy = strdup(text), **lines, *p;

    assert_non_null(copy);
    for (p = copy; *p; p++)
        n += *p == '\n';
    lines = calloc(n ? n : 1, sizeof *lines);
    assert_non_null(lines);
    for (p = copy; *p && k < n; k++) {
        lines[k] = p;
        p = strchr(p, '\n');
        *p++ = '\0';
    }
    qsort(lines, n, sizeof *lines, strptr_cmp);
    text[0] = '\0';
    for (k = 0; k < n; k++) {
        strncat(text, lines[k], len - strlen(text));
        strncat(text, "\n", len - strlen(text));
    }
    free(lines);
    free(copy);
}

/* The items of a plan's "due" or a run's "done" as sorted lines
 * "ID schedule erase fields". */
static char *items_of(const char *json, const char *member)
{
    json_error_t err;
    json_t *doc = json_loads(json, 0, &err), *a, *it;
    size_t i, n, j;
    char **lines, *out;
    size_t total = 1;

    if (!doc)
        fail_msg("not JSON: %s", err.text);
    a = json_object_get(doc, member);
    assert_true(json_is_array(a));
    n = json_array_size(a);
    lines = calloc(n ? n : 1, sizeof *lines);
    assert_non_null(lines);
    json_array_foreach(a, i, it) {
        char buf[1024], fl[512] = "";
        json_t *fs = json_object_get(it, "fields"), *x;
        const char *sched = json_string_value(json_object_get(it, "schedule"));

        json_array_foreach(fs, j, x) {
            size_t l = strlen(fl);
            snprintf(fl + l, sizeof fl - l, "%s%s", l ? "," : "", json_string_value(x));
        }
        snprintf(buf, sizeof buf, "%s %s %s %s", json_string_value(json_object_get(it, "record")),
                 sched ? sched : "-", json_string_value(json_object_get(it, "erase")), fl);
        lines[i] = strdup(buf);
        total += strlen(buf) + 1;
    }
    qsort(lines, n, sizeof *lines, strptr_cmp);
    out = calloc(total, 1);
    assert_non_null(out);
    for (i = 0; i < n; i++) {
        strcat(out, lines[i]); /* sized above */
        strcat(out, "\n");
        free(lines[i]);
    }
    free(lines);
    json_decref(doc);
    return out;
}

static json_int_t num(const char *json, const char *key)
{
    json_t *doc = json_loads(json, 0, NULL);
    json_int_t n;

    assert_non_null(doc);
    assert_true(json_is_integer(json_object_get(doc, key)));
    n = json_integer_value(json_object_get(doc, key));
    json_decref(doc);
    return n;
}

/* The expected lines, sorted like items_of's. */
static char *expect(const char *const *lines, size_t n)
{
    char **c = calloc(n ? n : 1, sizeof *c), *out = calloc(4096, 1);

    assert_true(c && out);
    for (size_t i = 0; i < n; i++)
        c[i] = (char *)lines[i];
    qsort(c, n, sizeof *c, strptr_cmp);
    for (size_t i = 0; i < n; i++) {
        strncat(out, c[i], 4000 - strlen(out));
        strncat(out, "\n", 4000 - strlen(out));
    }
    free(c);
    return out;
}

/* The scenario: one record per case. */
enum { R_MOVED, R_FLAGGED, R_LATER, R_FIELDS, R_ELSEWHERE, R_BADDATE, R_BOTH, R_N };

static void scenario(fixture *f, res *r)
{
    static const res base[R_N] = {
        [R_MOVED] = {"city/a", {"张三", NULL, NULL, "2020-01-01", NULL}, ""},
        [R_FLAGGED] = {"city/a", {"李四", NULL, NULL, "2020-01-01", "case-17"}, ""},
        [R_LATER] = {"city/b", {"王五", NULL, NULL, "2099-01-01", NULL}, ""},
        [R_FIELDS] = {"city/a", {"赵六", "13800000004", "hypertension", NULL, NULL}, ""},
        [R_ELSEWHERE] = {"city/b", {"钱七", NULL, "diabetes", NULL, NULL}, ""},
        [R_BADDATE] = {"city/b", {"孙八", "13800000006", NULL, "2020-13-45", NULL}, ""},
        [R_BOTH] = {"city/a", {"周九", "13800000007", NULL, "2020-02-29", NULL}, ""},
    };

    for (int i = 0; i < R_N; i++) {
        r[i] = base[i];
        add(f, &r[i]);
    }
}

static void verify_log(vault *v)
{
    vault_audit_result ar;

    if (vault_audit_verify(&ar, v, NULL, NULL, NULL) != 0)
        fail_msg("audit log does not verify: %s", ar.message);
}

/* What the issue asks to see: the run erases exactly what the plan listed. */
static void test_run_erases_exactly_the_plan(void **state)
{
    fixture *f = *state;
    res r[R_N];
    char *plan = NULL, *run = NULL, *again = NULL, *want, *got_plan, *got_run, line[R_N + 2][200];
    const char *lines[8];
    int64_t now = vault__now() + 400 * DAY;
    int erased = 0;

    scenario(f, r);
    snprintf(line[0], sizeof line[0], "%s moved-away record ", r[R_MOVED].id);
    snprintf(line[1], sizeof line[1], "%s moved-away record ", r[R_BOTH].id);
    snprintf(line[2], sizeof line[2], "%s phone-idle fields phone", r[R_FIELDS].id);
    snprintf(line[3], sizeof line[3], "%s health-short fields health", r[R_FIELDS].id);
    snprintf(line[4], sizeof line[4], "%s phone-idle fields phone", r[R_BADDATE].id);
    for (int i = 0; i < 5; i++)
        lines[i] = line[i];
    want = expect(lines, 5);

    assert_int_equal(retention__plan(&plan, f->v, now, 1), 0);
    got_plan = items_of(plan, "due");
    assert_string_equal(got_plan, want);
    assert_int_equal(retention__run(&run, f->v, now, RETENTION_BATCH, 0, 1), 0);
    got_run = items_of(run, "done");
    assert_string_equal(got_run, got_plan); /* exactly what the plan listed */
    assert_int_equal(num(run, "records_erased"), 2);
    assert_int_equal(num(run, "records_with_fields_removed"), 2);
    assert_int_equal(num(run, "fields_removed"), 3);

    /* The erased are gone, the rest read back as before, minus exactly
     * the fields removed. */
    assert_int_equal(state_of(f->s, &r[R_MOVED]), -1);
    assert_int_equal(state_of(f->s, &r[R_BOTH]), -1);
    assert_int_equal(state_of(f->s, &r[R_FLAGGED]), whole(&r[R_FLAGGED]));
    assert_int_equal(state_of(f->s, &r[R_LATER]), whole(&r[R_LATER]));
    assert_int_equal(state_of(f->s, &r[R_ELSEWHERE]), whole(&r[R_ELSEWHERE]));
    assert_int_equal(state_of(f->s, &r[R_FIELDS]), 1 << F_NAME);
    assert_int_equal(state_of(f->s, &r[R_BADDATE]), (1 << F_NAME) | (1 << F_MOVED));
    {   /* the phone's blind index went with it */
        char *ids = NULL;
        size_t n = 9;

        assert_int_equal(vault_record_find(&ids, &n, f->s, "phone", "13800000004", 11), 0);
        assert_int_equal(n, 0);
        vault_free(ids);
    }
    verify_log(f->v);

    /* Each erasure is an "erase" entry by the user "retention". */
    {
        char *rep = NULL;
        json_t *a, *e;
        size_t i;

        assert_int_equal(vault_audit_report(&rep, f->v, VAULT_REPORT_USER, "retention", 1), 0);
        a = json_loads(rep, 0, NULL);
        assert_non_null(a);
        json_array_foreach(a, i, e) {
            if (strcmp(json_string_value(json_object_get(e, "action")), "erase") == 0)
                erased++;
        }
        json_decref(a);
        vault_free(rep);
    }
    assert_int_equal(erased, 5);

    /* Nothing left: a second run at the same time plans nothing. */
    assert_int_equal(retention__run(&again, f->v, now, RETENTION_BATCH, 0, 1), 0);
    assert_int_equal(num(again, "planned"), 0);
    vault_free(plan);
    vault_free(run);
    vault_free(again);
    free(want);
    free(got_plan);
    free(got_run);
}

/* Ten days on: the 30-day moves are due, the one-year phones are not yet,
 * the flagged record and the later move are left, health only in city/a. */
static void test_not_yet_due_and_flagged_left(void **state)
{
    fixture *f = *state;
    res r[R_N];
    char *plan = NULL, *text = NULL, *want, *got, line[3][200];
    const char *lines[3];

    scenario(f, r);
    snprintf(line[0], sizeof line[0], "%s moved-away record ", r[R_MOVED].id);
    snprintf(line[1], sizeof line[1], "%s moved-away record ", r[R_BOTH].id);
    snprintf(line[2], sizeof line[2], "%s health-short fields health", r[R_FIELDS].id);
    for (int i = 0; i < 3; i++)
        lines[i] = line[i];
    want = expect(lines, 3);
    assert_int_equal(retention__plan(&plan, f->v, vault__now() + 10 * DAY, 1), 0);
    got = items_of(plan, "due");
    assert_string_equal(got, want);
    /* Today nothing of last_write is due, only the old moves. */
    assert_int_equal(retention__plan(&text, f->v, vault__now(), 0), 0);
    assert_non_null(strstr(text, r[R_MOVED].id));
    assert_null(strstr(text, r[R_FIELDS].id));
    vault_free(plan);
    vault_free(text);
    free(want);
    free(got);
}

/* A date field that holds no date: the plan names the record, schedule
 * and field, never the value, in its output and in the log, and leaves
 * the record alone for that schedule. */
static void test_bad_date_reported_and_skipped(void **state)
{
    fixture *f = *state;
    res r[R_N];
    char *plan = NULL, *text = NULL, *rep = NULL, exp_path[600];
    json_t *doc, *pb;

    scenario(f, r);
    assert_int_equal(retention__plan(&plan, f->v, vault__now() + 10 * DAY, 1), 0);
    doc = json_loads(plan, 0, NULL);
    pb = json_object_get(doc, "problems");
    assert_int_equal(json_array_size(pb), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pb, 0), "record")),
                        r[R_BADDATE].id);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pb, 0), "field")),
                        "moved_out");
    assert_string_equal(json_string_value(json_object_get(json_array_get(pb, 0), "schedule")),
                        "moved-away");
    json_decref(doc);
    assert_null(strstr(plan, "2020-13-45"));
    assert_int_equal(retention__plan(&text, f->v, vault__now() + 10 * DAY, 0), 0);
    assert_non_null(strstr(text, "does not hold a date"));
    assert_null(strstr(text, "2020-13-45"));
    /* The log has the problem (an error entry on the record), no value. */
    assert_int_equal(vault_audit_report(&rep, f->v, VAULT_REPORT_RECORD, r[R_BADDATE].id, 0), 0);
    assert_non_null(strstr(rep, "does not hold a date"));
    assert_null(strstr(rep, "2020-13-45"));
    snprintf(exp_path, sizeof exp_path, "%s/log.jsonl", f->dir);
    assert_int_equal(vault_audit_export(f->v, exp_path, NULL, NULL), 0);
    assert_int_equal(tu_file_contains(exp_path, "2020-13-45", 10), 0);
    assert_int_equal(state_of(f->s, &r[R_BADDATE]), whole(&r[R_BADDATE]));
    vault_free(plan);
    vault_free(text);
    vault_free(rep);
}

/* Stopped after two batches (as a kill between batches would), then run
 * again: the two runs together did what one would have. */
static void test_stopped_run_resumes(void **state)
{
    fixture *f = *state;
    res r[R_N];
    char *plan = NULL, *first = NULL, *second = NULL;
    int64_t now = vault__now() + 400 * DAY;

    scenario(f, r);
    assert_int_equal(retention__plan(&plan, f->v, now, 1), 0);
    assert_int_equal(retention__run(&first, f->v, now, 1, 2, 1), 1);
    assert_int_equal(num(first, "batches"), 2);
    assert_int_equal(retention__run(&second, f->v, now, 1, 0, 1), 0);
    {
        char *a = items_of(first, "done"), *b = items_of(second, "done"), *p = items_of(plan, "due");
        char *both = calloc(strlen(a) + strlen(b) + 1, 1);

        assert_non_null(both);
        assert_true(strlen(a) > 0 && strlen(b) > 0);
        memcpy(both, a, strlen(a));
        memcpy(both + strlen(a), b, strlen(b) + 1);
        sort_lines(both);
        assert_string_equal(both, p); /* the two runs together: exactly the plan */
        free(a);
        free(b);
        free(p);
        free(both);
    }
    verify_log(f->v);
    vault_free(plan);
    vault_free(first);
    vault_free(second);
}

/* Canaries are kept and erased like any resident (a decoy that never
 * expired would stand out); the run counts the decoys it erased, so the
 * operator can add fresh ones. */
static void test_canaries_like_residents(void **state)
{
    fixture *f = *state;
    char id[VAULT_ID_HEX_SIZE], kept[VAULT_ID_HEX_SIZE], *run = NULL;
    const char *names[] = {"name", "moved_out"}, *old[] = {"吴十", "2020-03-01"},
               *later[] = {"郑十一", "2099-03-01"};
    size_t lo[] = {strlen(old[0]), strlen(old[1])}, ll[] = {strlen(later[0]), strlen(later[1])};
    vault_result *out = NULL;

    assert_int_equal(vault_canary_add(id, sizeof id, f->s, "city/a", 2, names, old, lo), 0);
    assert_int_equal(vault_canary_add(kept, sizeof kept, f->s, "city/a", 2, names, later, ll), 0);
    assert_int_equal(retention__run(&run, f->v, vault__now(), RETENTION_BATCH, 0, 1), 0);
    assert_int_equal(num(run, "records_erased"), 1);
    assert_int_equal(num(run, "canaries_erased"), 1);
    assert_non_null(strstr(run, id));
    assert_null(strstr(run, kept));
    assert_int_equal(vault_record_get(&out, f->s, id, names, 2), VAULT_ENOTFOUND);
    assert_int_equal(vault_record_get(&out, f->s, kept, names, 2), 0);
    vault_result_free(out);
    vault_free(run);
}

static int no_row(void *arg, const store_record *row)
{
    (void)arg;
    (void)row;
    return 0;
}

/* A record whose key is gone but whose rows are there (an erase killed
 * between the key store's commit and the data's): the plan lists its
 * remains, the run deletes the rows, and logs it. */
static void test_remains_removed(void **state)
{
    fixture *f = *state;
    res r[R_N];
    uint8_t rid[VAULT_ID_BYTES];
    char *plan = NULL, *run = NULL, *want, *got, line[200];
    const char *lines[1] = {line};

    scenario(f, r);
    assert_int_equal(vault__id_parse(rid, r[R_LATER].id), 0);
    assert_int_equal(store_begin(f->v->db, STORE_TX_WRITE), 0);
    assert_int_equal(reckeys_erase(f->v->rk, rid), 0);
    assert_int_equal(store_commit(f->v->db), 0);
    assert_int_equal(TU_SNAP(f->v->db, store_record_get(f->v->db, rid, no_row, NULL)), 0);
    snprintf(line, sizeof line, "%s - remains ", r[R_LATER].id);
    want = expect(lines, 1);
    assert_int_equal(retention__plan(&plan, f->v, vault__now(), 1), 0);
    assert_non_null(strstr(plan, "\"remains\": 1"));
    assert_int_equal(retention__run(&run, f->v, vault__now(), RETENTION_BATCH, 0, 1), 0);
    assert_int_equal(num(run, "remains_removed"), 1);
    got = items_of(run, "done");
    /* the run also erased the two old moves: keep only the remains line */
    assert_non_null(strstr(got, want));
    assert_int_equal(TU_SNAP(f->v->db, store_record_get(f->v->db, rid, no_row, NULL)),
                     VAULT_ENOTFOUND);
    vault__err_clear();
    verify_log(f->v);
    vault_free(plan);
    vault_free(run);
    free(want);
    free(got);
}

/* ---- The crash test ---- */

/* Each round adds residents of three kinds (so every kill has work to cut
 * short), then a child runs retention one record a batch and is killed
 * after a random few milliseconds. */
#define ROUND_WHOLE 12
#define ROUND_FIELDS 6
#define ROUND_KEEP 3
#define ROUND_N (ROUND_WHOLE + ROUND_FIELDS + ROUND_KEEP)
#define CRASH_KILLS 8
#define CRASH_KILLS_MAX 16 /* more while no kill has landed mid-run yet */
#define CRASH_N (ROUND_N * CRASH_KILLS_MAX)

enum { K_WHOLE, K_FIELDS, K_KEEP };

static int kind_of(int i)
{
    int j = i % ROUND_N;

    return j < ROUND_WHOLE ? K_WHOLE : j < ROUND_WHOLE + ROUND_FIELDS ? K_FIELDS : K_KEEP;
}

static void crash_child(const fixture *f, int64_t now)
{
    vault_secret sec = tu_keyfile_secret(f->keyfile);
    vault *v = NULL;
    char *out = NULL;

    if (vault_open(&v, f->path, &sec) != 0)
        _exit(2);
    /* One record a batch: as many commits as records, to be killed between. */
    if (retention__run(&out, v, now, 1, 0, 1) < 0)
        _exit(3);
    _exit(0);
}

/* After a kill: the log verifies, and each of the first n records is
 * whole, erased, or (field records) without exactly phone and health;
 * never half.  *done counts the records done, *due those due. */
static void crash_check(fixture *f, res *r, int n, int final, int *done, int *due)
{
    *done = *due = 0;
    fx_open(f);
    verify_log(f->v);
    for (int i = 0; i < n; i++) {
        int st = state_of(f->s, &r[i]), w = whole(&r[i]);
        int gone = w & ~((1 << F_PHONE) | (1 << F_HEALTH));

        switch (kind_of(i)) {
        case K_WHOLE:
            if (st != -1 && st != w)
                fail_msg("record %d is half erased (fields 0x%x of 0x%x)", i, st, w);
            if (final && st != -1)
                fail_msg("record %d is not erased after the final run", i);
            *done += st == -1;
            ++*due;
            break;
        case K_FIELDS:
            if (st != w && st != gone)
                fail_msg("field record %d is half done (fields 0x%x of 0x%x)", i, st, w);
            if (final && st != gone)
                fail_msg("field record %d still has its due fields after the final run", i);
            *done += st == gone;
            ++*due;
            break;
        default:
            if (st != w)
                fail_msg("record %d was not due and changed (fields 0x%x of 0x%x)", i, st, w);
        }
    }
    fx_close(f);
}

static void test_sigkill_mid_run(void **state)
{
    fixture *f = *state;
    res *r = calloc(CRASH_N, sizeof *r);
    char (*names)[32] = calloc(CRASH_N, 32), (*phones)[32] = calloc(CRASH_N, 32);
    int64_t now = vault__now() + 400 * DAY;
    unsigned seed = (unsigned)time(NULL);
    int partial = 0, done = 0, due = 0, n = 0, before = 0;
    long lo = 2, hi = 41, ms; /* the kill's delay, narrowed towards mid-run */
    char *out = NULL, *plan = NULL;

    assert_true(r && names && phones);
    print_message("seed %u\n", seed);
    srand(seed);
    fx_close(f);
    for (int k = 0; k < CRASH_KILLS || (partial == 0 && k < CRASH_KILLS_MAX); k++) {
        pid_t pid;
        int status = 0;
        struct timespec d;

        ms = lo + rand() % (hi - lo + 1);
        d.tv_sec = 0;
        d.tv_nsec = ms * 1000000L;

        fx_open(f);
        for (; n < (k + 1) * ROUND_N; n++) {
            snprintf(names[n], 32, "居民%d", n);
            snprintf(phones[n], 32, "139%08d", n);
            r[n].jur = "city/a";
            r[n].val[F_NAME] = names[n];
            switch (kind_of(n)) {
            case K_WHOLE:
                r[n].val[F_PHONE] = phones[n];
                r[n].val[F_MOVED] = "2020-01-01";
                break;
            case K_FIELDS:
                r[n].val[F_PHONE] = phones[n];
                r[n].val[F_HEALTH] = "asthma";
                break;
            default:
                r[n].val[F_MOVED] = "2099-01-01";
            }
            add(f, &r[n]);
        }
        fx_close(f);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            crash_child(f, now);
        nanosleep(&d, NULL);
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
            fail_msg("round %d: the child failed (%d)", k, WEXITSTATUS(status));
        crash_check(f, r, n, 0, &done, &due);
        partial += done > before && done < due; /* cut short after some batches */
        /* too late (the run was done) or too early (nothing done): the
         * next kill comes sooner or later */
        if (done >= due && ms > lo) {
            hi = ms - 1 > lo ? ms - 1 : lo;
        } else if (done == before) { /* a slow start (a server, a loaded machine) */
            lo = ms + 1;
            if (hi < 2 * lo) /* the window grows geometrically */
                hi = 2 * lo < 5000 ? 2 * lo : 5000;
        }
        before = done;
        print_message("kill %d after %ld ms: %d of %d due records done\n", k,
                      d.tv_nsec / 1000000, done, due);
    }
    print_message("%d kills landed mid-run\n", partial);
    assert_true(partial > 0); /* else the test showed nothing about a cut run */
    /* The final run completes what is left, and then nothing is due. */
    fx_open(f);
    assert_int_equal(retention__run(&out, f->v, now, RETENTION_BATCH, 0, 1), 0);
    assert_int_equal(retention__plan(&plan, f->v, now, 1), 0);
    assert_int_equal(num(plan, "records_to_erase") + num(plan, "records_with_fields") +
                         num(plan, "remains"),
                     0);
    vault_free(out);
    vault_free(plan);
    fx_close(f);
    crash_check(f, r, n, 1, &done, &due);
    assert_int_equal(done, due);
    fx_open(f);
    free(r);
    free(names);
    free(phones);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_run_erases_exactly_the_plan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_yet_due_and_flagged_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_date_reported_and_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopped_run_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_canaries_like_residents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remains_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_mid_run, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

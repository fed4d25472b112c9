/* Access quotas and alarms (issue 19): a policy `quotas:` entry with
 * `reads: N per: D` counts the records each user reads (and exports), one
 * with `residents: N per: D` the distinct residents (a record read again
 * in the window is free), one with `searches:` the searches of a field
 * read masked; over it `over: deny` refuses the access (logged) and
 * `over: alert` lets it go on, flags its audit entry [ALERT] and raises an
 * alarm through vault_set_alarm after the access committed.  Counted in
 * the store, so two processes bursting at once share one count.  With the
 * argument "postgresql" every vault is on the server VAULT_PG_URI names
 * (ctest: test_quota_alarm_pg, in a throwaway cluster): the processes then
 * share the count as vaultd instances on one database do. */
#include "testutil.h"

#include <sys/wait.h>
#include <unistd.h>

#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"

static const char policy_text[] =
    "version: 1\n"
    "name: quota-test\n"
    "grades: [personal]\n"
    "fields:\n"
    "  name:  {grade: personal}\n"
    "  phone: {grade: personal, mask: phone, index: exact}\n"
    "departments: [street_office, civil_affairs, health]\n"
    "roles: [data_officer, caseworker, nurse, clerk, visitor, grid]\n"
    "purposes: [resident_service, case_handling, public_health, grid_management]\n"
    "rules:\n"
    "  - id: officer-all\n"
    "    subjects: {role: data_officer}\n"
    "    actions: [create, read, write]\n"
    "    purposes: [resident_service]\n"
    "    scope: within\n"
    "    effect: allow\n"
    "  - id: caseworker-read\n"
    "    subjects: {role: caseworker}\n"
    "    actions: [read, export]\n"
    "    purposes: [case_handling]\n"
    "    scope: within\n"
    "    effect: allow\n"
    "  - id: nurse-read\n"
    "    subjects: {role: nurse}\n"
    "    actions: [read]\n"
    "    purposes: [public_health]\n"
    "    scope: within\n"
    "    effect: allow\n"
    "  - id: clerk-read\n"
    "    subjects: {role: clerk}\n"
    "    actions: [read, export]\n"
    "    purposes: [resident_service]\n"
    "    scope: within\n"
    "    effect: allow\n"
    "  - id: visitor-read\n"
    "    subjects: {role: visitor}\n"
    "    actions: [read]\n"
    "    purposes: [public_health]\n"
    "    scope: within\n"
    "    effect: allow\n"
    "  - id: grid-masked\n"
    "    subjects: {role: grid}\n"
    "    actions: [read]\n"
    "    purposes: [grid_management]\n"
    "    scope: within\n"
    "    fields: [phone]\n"
    "    effect: mask\n"
    "  - id: grid-search\n"
    "    subjects: {role: grid}\n"
    "    actions: [search]\n"
    "    purposes: [grid_management]\n"
    "    scope: within\n"
    "    fields: [phone]\n"
    "    effect: allow\n"
    "quotas:\n"
    "  - id: caseworker-daily\n"
    "    role: caseworker\n"
    "    purposes: [case_handling]\n"
    "    reads: 10\n"
    "    per: 1d\n"
    "  - id: nurse-daily\n"
    "    role: nurse\n"
    "    reads: 2\n"
    "    per: 1d\n"
    "    over: alert\n"
    "  - id: clerk-residents\n"
    "    role: clerk\n"
    "    residents: 4\n"
    "    per: 1d\n"
    "  - id: visitor-residents\n"
    "    role: visitor\n"
    "    residents: 2\n"
    "    per: 1d\n"
    "    over: alert\n"
    "  - id: grid-phone-search\n"
    "    role: grid\n"
    "    fields: [phone]\n"
    "    searches: 2\n"
    "    per: 1h\n"
    "    over: alert\n";

#define NREC 12

static const char *pg_uri; /* NULL: a SQLCipher file */

typedef struct fixture {
    char *dir;
    char path[1536], keyfile[512], policy[512];
    vault *v;
    char ids[NREC][VAULT_ID_HEX_SIZE];
    int alarms;
    vault_alarm last;
    char last_kind[16], last_name[64], last_user[64], last_record[VAULT_ID_HEX_SIZE];
} fixture;

static void on_alarm(const vault_alarm *a, void *arg)
{
    fixture *f = arg;

    f->alarms++;
    f->last = *a;
    snprintf(f->last_kind, sizeof f->last_kind, "%s", a->kind);
    snprintf(f->last_name, sizeof f->last_name, "%s", a->name);
    snprintf(f->last_user, sizeof f->last_user, "%s", a->user);
    snprintf(f->last_record, sizeof f->last_record, "%s", a->record);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    vault_session *s;
    const char *fields[] = {"name", "phone"}, *values[] = {"李四", "13900000000"};
    size_t lens[] = {strlen(values[0]), strlen(values[1])};

    assert_non_null(f);
    if (pg_uri) { /* one schema per test: q_<pid>_<n> */
        static int n;
        vault_secret sec;
        f->dir = tu_tmpdir();
        snprintf(f->keyfile, sizeof f->keyfile, "%s/t.key", f->dir);
        snprintf(f->policy, sizeof f->policy, "%s/policy.yaml", f->dir);
        assert_true((size_t)snprintf(f->path, sizeof f->path,
                                     "%s%svault_keys=%s/t.keys&vault_schema=q_%ld_%d", pg_uri,
                                     strchr(pg_uri, '?') ? "&" : "?", f->dir, (long)getpid(),
                                     ++n) < sizeof f->path);
        tu_write_file(f->policy, policy_text, strlen(policy_text));
        assert_int_equal(vault_keyfile_generate(f->keyfile), 0);
        sec = tu_keyfile_secret(f->keyfile);
        if (vault_create(&f->v, f->path, f->policy, &sec) != 0)
            fail_msg("vault_create: %s", vault_error_last());
    } else {
        f->v = tu_new_vault(&f->dir, f->path, f->keyfile, sizeof f->path, NULL, policy_text);
        snprintf(f->policy, sizeof f->policy, "%s/policy.yaml", f->dir);
    }
    s = tu_session(f->v, "li", "data_officer", "street_office", STREET, "resident_service");
    for (int i = 0; i < NREC; i++)
        assert_int_equal(vault_record_add(f->ids[i], VAULT_ID_HEX_SIZE, s, GRID7, 2, fields,
                                          values, lens), 0);
    vault_session_close(s);
    assert_int_equal(vault_set_alarm(f->v, on_alarm, f), 0);
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

static int read_one(vault_session *s, const char *id)
{
    const char *fields[] = {"phone"};
    vault_result *r = NULL;
    int rc = vault_record_get(&r, s, id, fields, 1);

    if (rc == 0)
        assert_string_equal(vault_result_value(r, 0, NULL), "13900000000");
    else
        assert_null(r);
    vault_result_free(r);
    return rc;
}

static int report_count(vault *v, const char *user, const char *needle)
{
    char *rep = NULL, *p;
    int n = 0;

    assert_int_equal(vault_audit_report(&rep, v, VAULT_REPORT_USER, user, 0), 0);
    for (p = rep; (p = strstr(p, needle)) != NULL; p++)
        n++;
    vault_free(rep);
    return n;
}

static void test_deny_over_the_quota(void **state)
{
    fixture *f = *state;
    vault_session *s = tu_session(f->v, "wu", "caseworker", "civil_affairs", STREET,
                                  "case_handling");
    vault_result *out[2] = {NULL, NULL};
    const char *two[] = {f->ids[0], f->ids[1]};
    char *json = NULL;
    int i;

    for (i = 0; i < 9; i++)
        assert_int_equal(read_one(s, f->ids[i]), 0);
    /* The export counts too: the tenth use. */
    assert_int_equal(vault_record_export(&json, s, f->ids[9]), 0);
    vault_free(json);
    assert_int_equal(read_one(s, f->ids[10]), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "quota 'caseworker-daily' is used up"));
    assert_int_equal(vault_record_export(&json, s, f->ids[10]), VAULT_EDENIED);
    assert_null(json);
    /* A batch over the quota: refused whole, no value out. */
    assert_int_equal(vault_record_get_batch(out, s, two, 2, NULL, 0), VAULT_EDENIED);
    assert_null(out[0]);
    assert_null(out[1]);
    /* Each refusal is an entry; nobody else's count moved. */
    assert_int_equal(report_count(f->v, "wu", "read quota caseworker-daily used up"), 3);
    assert_int_equal(f->alarms, 0);
    vault_session_close(s);
    s = tu_session(f->v, "zhao", "caseworker", "civil_affairs", STREET, "case_handling");
    assert_int_equal(read_one(s, f->ids[10]), 0);
    vault_session_close(s);
    /* Another purpose is not counted by this quota (purposes: case_handling). */
}

static void test_alert_over_the_quota(void **state)
{
    fixture *f = *state;
    vault_session *s = tu_session(f->v, "sun", "nurse", "health", STREET, "public_health");
    char log[600];

    assert_int_equal(read_one(s, f->ids[0]), 0);
    assert_int_equal(read_one(s, f->ids[1]), 0);
    assert_int_equal(f->alarms, 0);
    /* Over: the read goes on, flagged, and one alarm after its commit. */
    assert_int_equal(read_one(s, f->ids[2]), 0);
    assert_int_equal(f->alarms, 1);
    assert_string_equal(f->last_name, "nurse-daily");
    assert_string_equal(f->last_user, "sun");
    assert_string_equal(f->last_record, f->ids[2]);
    assert_int_equal(f->last.count, 3);
    assert_int_equal(f->last.limit, 2);
    assert_int_equal(f->last.per, 86400);
    assert_int_equal(read_one(s, f->ids[3]), 0);
    assert_int_equal(f->alarms, 2);
    assert_int_equal(f->last.count, 4);
    assert_int_equal(report_count(f->v, "sun", "[ALERT]"), 2);
    /* A batch whose second record doesn't exist fails whole: its alert
     * read is rolled back and raises nothing. */
    {
        vault_result *out[2] = {NULL, NULL};
        const char *two[] = {f->ids[4], "00000000000000000000000000000000"};
        assert_true(vault_record_get_batch(out, s, two, 2, NULL, 0) < 0);
        assert_int_equal(f->alarms, 2);
    }
    /* The export line carries the flag. */
    snprintf(log, sizeof log, "%s/log.jsonl", f->dir);
    assert_int_equal(vault_audit_export(f->v, log, NULL, NULL), 0);
    assert_true(tu_file_contains(log, "\"alert\": true", 13) ||
                tu_file_contains(log, "\"alert\":true", 12));
    {
        vault_audit_result res;
        assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), 0);
    }
    vault_session_close(s);
}

/* The count is in the store: two processes reading at once get the ten
 * reads of the quota between them, no more. */
static void test_concurrent_burst(void **state)
{
    fixture *f = *state;
    pid_t pids[2];
    int ok = 0, denied = 0, i, st;

    vault_close(f->v);
    f->v = NULL;
    for (i = 0; i < 2; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            vault *v = NULL;
            vault_secret sec = tu_keyfile_secret(f->keyfile);
            vault_subject sub = VAULT_SUBJECT_INIT;
            vault_session *s = NULL;
            int got = 0, no = 0;
            sub.user = "wu";
            sub.role = "caseworker";
            sub.department = "civil_affairs";
            sub.jurisdiction = STREET;
            sub.purpose = "case_handling";
            if (vault_open(&v, f->path, &sec) < 0 || vault_session_open(&s, v, &sub) < 0)
                _exit(100);
            for (int k = 0; k < 8; k++) {
                const char *fields[] = {"phone"};
                vault_result *r = NULL;
                int rc = vault_record_get(&r, s, f->ids[k], fields, 1);
                vault_result_free(r);
                if (rc == 0)
                    got++;
                else if (rc == VAULT_EDENIED)
                    no++;
                else
                    _exit(101);
            }
            vault_session_close(s);
            vault_close(v);
            _exit(got * 10 + no);
        }
    }
    for (i = 0; i < 2; i++) {
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        assert_true(WEXITSTATUS(st) < 100);
        ok += WEXITSTATUS(st) / 10;
        denied += WEXITSTATUS(st) % 10;
    }
    assert_int_equal(ok, 10);
    assert_int_equal(denied, 6);
    {
        vault_secret sec = tu_keyfile_secret(f->keyfile);
        assert_int_equal(vault_open(&f->v, f->path, &sec), 0);
        assert_int_equal(report_count(f->v, "wu", "read quota caseworker-daily used up"), 6);
    }
}

/* A residents quota counts distinct records: rereads (get, export, a
 * batch) are free, a new resident over the quota is refused and logged (a
 * batch as a whole), rereads still go on after that, and another user has
 * a count of their own. */
static void test_residents_deny(void **state)
{
    fixture *f = *state;
    vault_session *s = tu_session(f->v, "qian", "clerk", "street_office", STREET,
                                  "resident_service");
    vault_result *out[2] = {NULL, NULL};
    const char *old2[] = {f->ids[1], f->ids[3]}, *mixed[] = {f->ids[0], f->ids[5]};
    char *json = NULL;
    int i;

    for (i = 0; i < 4; i++)
        assert_int_equal(read_one(s, f->ids[i]), 0);
    for (i = 0; i < 4; i++) /* the same four again: free */
        assert_int_equal(read_one(s, f->ids[i]), 0);
    assert_int_equal(vault_record_export(&json, s, f->ids[2]), 0);
    vault_free(json);
    assert_int_equal(vault_record_get_batch(out, s, old2, 2, NULL, 0), 0);
    vault_result_free(out[0]);
    vault_result_free(out[1]);
    out[0] = out[1] = NULL;
    /* a fifth resident: refused, by read and by export */
    assert_int_equal(read_one(s, f->ids[4]), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(),
                           "quota 'clerk-residents' is used up (4 residents per 1d for each user)"));
    assert_int_equal(vault_record_export(&json, s, f->ids[4]), VAULT_EDENIED);
    assert_null(json);
    /* a batch with one new resident: refused whole, no value out */
    assert_int_equal(vault_record_get_batch(out, s, mixed, 2, NULL, 0), VAULT_EDENIED);
    assert_null(out[0]);
    assert_null(out[1]);
    /* the four read already still read */
    assert_int_equal(read_one(s, f->ids[0]), 0);
    assert_int_equal(read_one(s, f->ids[3]), 0);
    assert_int_equal(report_count(f->v, "qian", "residents quota clerk-residents used up"), 3);
    assert_int_equal(f->alarms, 0);
    vault_session_close(s);
    s = tu_session(f->v, "feng", "clerk", "street_office", STREET, "resident_service");
    assert_int_equal(read_one(s, f->ids[4]), 0);
    vault_session_close(s);
}

/* Over a residents quota with over: alert: each new resident goes on,
 * flagged, with an alarm counting distinct residents; a reread raises
 * nothing. */
static void test_residents_alert(void **state)
{
    fixture *f = *state;
    vault_session *s = tu_session(f->v, "zhou", "visitor", "health", STREET, "public_health");

    assert_int_equal(read_one(s, f->ids[0]), 0);
    assert_int_equal(read_one(s, f->ids[1]), 0);
    assert_int_equal(read_one(s, f->ids[0]), 0);
    assert_int_equal(f->alarms, 0);
    assert_int_equal(read_one(s, f->ids[2]), 0);
    assert_int_equal(f->alarms, 1);
    assert_string_equal(f->last_name, "visitor-residents");
    assert_string_equal(f->last_user, "zhou");
    assert_string_equal(f->last_record, f->ids[2]);
    assert_int_equal(f->last.count, 3);
    assert_int_equal(f->last.limit, 2);
    assert_int_equal(f->last.per, 86400);
    assert_int_equal(read_one(s, f->ids[2]), 0); /* counted already: no alarm */
    assert_int_equal(read_one(s, f->ids[1]), 0);
    assert_int_equal(f->alarms, 1);
    assert_int_equal(read_one(s, f->ids[3]), 0);
    assert_int_equal(f->alarms, 2);
    assert_int_equal(f->last.count, 4);
    assert_int_equal(report_count(f->v, "zhou", "[ALERT]"), 2);
    vault_session_close(s);
}

/* A search quota with over: alert: over it the search goes on (masked
 * reads confirmed as under the quota), every entry of that search is
 * flagged and one alarm is raised, naming no record. */
static void test_search_alert(void **state)
{
    fixture *f = *state;
    vault_session *s = tu_session(f->v, "he", "grid", "health", STREET, "grid_management");
    char *ids = NULL;
    size_t n = 0;
    int i;

    for (i = 0; i < 2; i++) {
        assert_int_equal(vault_record_find(&ids, &n, s, "phone", "13900000000", 11), 0);
        assert_int_equal(n, NREC);
        vault_free(ids);
        ids = NULL;
    }
    assert_int_equal(f->alarms, 0);
    assert_int_equal(report_count(f->v, "he", "[ALERT]"), 0);
    assert_int_equal(vault_record_find(&ids, &n, s, "phone", "13900000000", 11), 0);
    assert_int_equal(n, NREC);
    vault_free(ids);
    ids = NULL;
    assert_int_equal(f->alarms, 1);
    assert_string_equal(f->last_name, "grid-phone-search");
    assert_string_equal(f->last_kind, "quota");
    assert_string_equal(f->last_record, "");
    assert_int_equal(f->last.count, 3);
    assert_int_equal(f->last.limit, 2);
    assert_int_equal(f->last.per, 3600);
    assert_int_equal(report_count(f->v, "he", "[ALERT]"), NREC);
    /* a miss over the quota: one entry, flagged too */
    assert_int_equal(vault_record_find(&ids, &n, s, "phone", "13911111111", 11), 0);
    assert_int_equal(n, 0);
    vault_free(ids);
    assert_int_equal(f->alarms, 2);
    assert_int_equal(report_count(f->v, "he", "[ALERT]"), NREC + 1);
    vault_session_close(s);
}

/* Two processes of one clerk reading eight residents at once, in opposite
 * orders: between them they get exactly the four residents of the quota
 * (rereads of those four are free, in either process), no fifth. */
static void test_residents_burst(void **state)
{
    fixture *f = *state;
    pid_t pids[2];
    int fds[2][2], i, k, st, reads = 0, denied = 0;
    unsigned got = 0, mask, no;

    vault_close(f->v);
    f->v = NULL;
    for (i = 0; i < 2; i++) {
        assert_int_equal(pipe(fds[i]), 0);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            vault *v = NULL;
            vault_secret sec = tu_keyfile_secret(f->keyfile);
            vault_subject sub = VAULT_SUBJECT_INIT;
            vault_session *s = NULL;
            char line[32];
            unsigned m = 0, d = 0;
            int len;
            close(fds[i][0]);
            sub.user = "qian";
            sub.role = "clerk";
            sub.department = "street_office";
            sub.jurisdiction = STREET;
            sub.purpose = "resident_service";
            if (vault_open(&v, f->path, &sec) < 0 || vault_session_open(&s, v, &sub) < 0)
                _exit(100);
            for (k = 0; k < 8; k++) {
                const char *fields[] = {"phone"};
                vault_result *r = NULL;
                int j = i == 0 ? k : 7 - k;
                int rc = vault_record_get(&r, s, f->ids[j], fields, 1);
                vault_result_free(r);
                if (rc == 0)
                    m |= 1u << j;
                else if (rc == VAULT_EDENIED)
                    d++;
                else
                    _exit(101);
            }
            vault_session_close(s);
            vault_close(v);
            len = snprintf(line, sizeof line, "%u %u\n", m, d);
            if (write(fds[i][1], line, (size_t)len) != len)
                _exit(102);
            _exit(0);
        }
        close(fds[i][1]);
    }
    for (i = 0; i < 2; i++) {
        char line[32] = {0};
        ssize_t got_n = read(fds[i][0], line, sizeof line - 1);
        close(fds[i][0]);
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        assert_true(got_n > 0);
        assert_int_equal(sscanf(line, "%u %u", &mask, &no), 2);
        assert_int_equal(__builtin_popcount(mask) + (int)no, 8);
        got |= mask;
        reads += __builtin_popcount(mask);
        denied += (int)no;
    }
    assert_int_equal(__builtin_popcount(got), 4);
    assert_int_equal(reads + denied, 16);
    {
        vault_secret sec = tu_keyfile_secret(f->keyfile);
        assert_int_equal(vault_open(&f->v, f->path, &sec), 0);
        assert_int_equal(report_count(f->v, "qian", "residents quota clerk-residents used up"),
                         denied);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deny_over_the_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_over_the_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_burst, setup, teardown),
        cmocka_unit_test_setup_teardown(test_residents_deny, setup, teardown),
        cmocka_unit_test_setup_teardown(test_residents_alert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_alert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_residents_burst, setup, teardown),
    };

    if (argc >= 2 && strcmp(argv[1], "postgresql") == 0) {
        pg_uri = getenv("VAULT_PG_URI");
        if (!pg_uri || !*pg_uri) {
            fprintf(stderr, "test_quota_alarm postgresql: VAULT_PG_URI is not set (run it under "
                            "tests/pg/pg_cluster.sh run)\n");
            return 1;
        }
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

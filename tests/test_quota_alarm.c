/* Access quotas and alarms (issue 19): a policy `quotas:` entry with
 * `reads: N per: D` counts the records each user reads (and exports); over
 * it `over: deny` refuses the read (logged) and `over: alert` lets it go
 * on, flags its audit entry [ALERT] and raises an alarm through
 * vault_set_alarm after the read committed.  Counted in the store, so two
 * processes bursting at once share one count. */
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
    "  phone: {grade: personal}\n"
    "departments: [street_office, civil_affairs, health]\n"
    "roles: [data_officer, caseworker, nurse]\n"
    "purposes: [resident_service, case_handling, public_health]\n"
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
    "    over: alert\n";

#define NREC 12

typedef struct fixture {
    char *dir;
    char path[512], keyfile[512], policy[512];
    vault *v;
    char ids[NREC][VAULT_ID_HEX_SIZE];
    int alarms;
    vault_alarm last;
    char last_name[64], last_user[64], last_record[VAULT_ID_HEX_SIZE];
} fixture;

static void on_alarm(const vault_alarm *a, void *arg)
{
    fixture *f = arg;

    f->alarms++;
    f->last = *a;
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
    f->v = tu_new_vault(&f->dir, f->path, f->keyfile, sizeof f->path, NULL, policy_text);
    snprintf(f->policy, sizeof f->policy, "%s/policy.yaml", f->dir);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deny_over_the_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_over_the_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_burst, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

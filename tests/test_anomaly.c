/* vault_audit_anomalies (issue 19, "access quotas and alarms"): among the
 * users of one role, the one who read far more than the others is flagged,
 * the others aren't; a role with too few users isn't ranked; the window
 * reads only its own entries (found by binary search on their times); the
 * query is logged. */
#include "testutil.h"

#include <jansson.h>

#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"
#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"

typedef struct fixture {
    char *dir;
    char path[512], keyfile[512];
    vault *v;
    char ids[10][VAULT_ID_HEX_SIZE];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    vault_session *s;
    const char *fields[] = {"name", "phone"}, *values[] = {"李四", "13900000000"};
    size_t lens[] = {strlen(values[0]), strlen(values[1])};

    assert_non_null(f);
    f->v = tu_new_vault(&f->dir, f->path, f->keyfile, sizeof f->path, POLICY, NULL);
    s = tu_session(f->v, "li", "data_officer", "street_office", STREET, "resident_service");
    for (int i = 0; i < 10; i++)
        assert_int_equal(vault_record_add(f->ids[i], VAULT_ID_HEX_SIZE, s, GRID7, 2, fields,
                                          values, lens), 0);
    vault_session_close(s);
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

static void reads(fixture *f, const char *user, const char *role, const char *dept,
                  const char *jur, const char *purpose, int n)
{
    vault_session *s = tu_session(f->v, user, role, dept, jur, purpose);
    const char *fields[] = {"name"};

    for (int i = 0; i < n; i++) {
        vault_result *r = NULL;
        assert_int_equal(vault_record_get(&r, s, f->ids[i % 10], fields, 1), 0);
        vault_result_free(r);
    }
    vault_session_close(s);
}

static void test_the_heavy_reader_is_flagged(void **state)
{
    fixture *f = *state;
    char *text = NULL, *json = NULL, user[16];
    int i;

    for (i = 0; i < 5; i++) {
        snprintf(user, sizeof user, "grid%d", i);
        reads(f, user, "grid_worker", "community_committee", GRID7, "grid_management", 4 + i % 2);
    }
    reads(f, "grid-heavy", "grid_worker", "community_committee", GRID7, "grid_management", 60);
    /* two health workers: too few to compare */
    reads(f, "doc1", "health_worker", "health", STREET, "public_health", 3);
    reads(f, "doc2", "health_worker", "health", STREET, "public_health", 40);

    assert_int_equal(vault_audit_anomalies(&text, f->v, 86400, 0), 0);
    assert_non_null(strstr(text, "1 of 8 users far above"));
    assert_non_null(strstr(text, "grid-heavy (grid_worker/community_committee): 60 accesses"));
    assert_null(strstr(text, "grid1 ("));
    assert_non_null(strstr(text, "not ranked: doc2 (health_worker)"));
    vault_free(text);

    assert_int_equal(vault_audit_anomalies(&json, f->v, 86400, 1), 0);
    {
        json_error_t err;
        json_t *a = json_loads(json, 0, &err), *first;
        assert_non_null(a);
        assert_int_equal(json_array_size(a), 8);
        first = json_array_get(a, 0);
        assert_string_equal(json_string_value(json_object_get(first, "user")), "grid-heavy");
        assert_true(json_is_true(json_object_get(first, "flagged")));
        assert_int_equal(json_integer_value(json_object_get(first, "count")), 60);
        assert_true(json_real_value(json_object_get(first, "role_median")) < 6.0);
        assert_true(json_is_false(json_object_get(json_array_get(a, 1), "flagged")));
        json_decref(a);
    }
    vault_free(json);
    /* Each query is an entry itself, naming its window. */
    {
        char *rep = NULL;
        assert_int_equal(vault_set_actor(f->v, "qian.compliance"), 0);
        assert_int_equal(vault_audit_anomalies(&text, f->v, 3600, 0), 0);
        vault_free(text);
        assert_int_equal(vault_audit_report(&rep, f->v, VAULT_REPORT_USER, "qian.compliance", 0), 0);
        assert_non_null(strstr(rep, "audit_anomalies"));
        assert_non_null(strstr(rep, "window 3600s"));
        vault_free(rep);
    }
}

static void test_bad_window_and_empty(void **state)
{
    fixture *f = *state;
    char *text = NULL;

    assert_int_equal(vault_audit_anomalies(&text, f->v, 59, 0), VAULT_EINVALID);
    assert_null(text);
    assert_int_equal(vault_audit_anomalies(&text, f->v, 367LL * 86400, 0), VAULT_EINVALID);
    assert_int_equal(vault_audit_anomalies(NULL, f->v, 86400, 0), VAULT_EINVALID);
    /* No reads yet (only the officer's creates): nobody counted. */
    assert_int_equal(vault_audit_anomalies(&text, f->v, 3600, 0), 0);
    assert_non_null(strstr(text, "0 of 0 users"));
    vault_free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_the_heavy_reader_is_flagged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_window_and_empty, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

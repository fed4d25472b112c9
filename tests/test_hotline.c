/* The 12345 case end to end on the shipped hotline policy
 * (policies/hotline.yaml; issue 19 "complainant protection"): the desk takes
 * a complaint, the department it is dispatched to reads the order with the
 * caller as its own pseudonym, never the complainant's identity or ID
 * number (denied and logged, and no grant can give it them), and answers
 * through the order; the desk reads the answer back. */
#include "testutil.h"

#define POLICY VAULT_SOURCE_DIR "/policies/hotline.yaml"
#define CITY "hangzhou"
#define ORDER_AT "hangzhou/gongshu/xiaohe/changzheng"

typedef struct fixture {
    int alarms;
    char alarm_kind[16], alarm_name[64], alarm_user[64];
    char *dir;
    char path[512], keyfile[512];
    vault *v;
    vault_session *intake, *followup, *handler, *officer;
    char first[VAULT_ID_HEX_SIZE], second[VAULT_ID_HEX_SIZE];
} fixture;

static void on_alarm(const vault_alarm *a, void *arg)
{
    fixture *f = arg;

    f->alarms++;
    snprintf(f->alarm_kind, sizeof f->alarm_kind, "%s", a->kind);
    snprintf(f->alarm_name, sizeof f->alarm_name, "%s", a->name);
    snprintf(f->alarm_user, sizeof f->alarm_user, "%s", a->user);
}

static void take_call(char *id, vault_session *s, const char *appeal)
{
    const char *fields[] = {"name", "phone", "address", "id_number", "complainant_identity",
                            "appeal"};
    const char *values[] = {"王五", "13857124680", "杭州市拱墅区小河街道长征社区长征路12号",
                            "330105198801011234", "实名投诉人 王五 (投诉对象: 城管某中队)", appeal};
    size_t lens[6];

    for (size_t i = 0; i < 6; i++)
        lens[i] = strlen(values[i]);
    assert_int_equal(vault_record_add(id, VAULT_ID_HEX_SIZE, s, ORDER_AT, 6, fields, values, lens),
                     0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->v = tu_new_vault(&f->dir, f->path, f->keyfile, sizeof f->path, POLICY, NULL);
    f->intake = tu_session(f->v, "zhou", "hotline_agent", "hotline_12345", CITY, "hotline_intake");
    f->followup = tu_session(f->v, "zhou", "hotline_agent", "hotline_12345", CITY,
                             "hotline_followup");
    f->handler = tu_session(f->v, "qian", "handling_officer", "urban_management", CITY,
                            "work_order_handling");
    f->officer = tu_session(f->v, "sun", "hotline_data_officer", "hotline_12345", CITY,
                            "resident_request");
    assert_int_equal(vault_set_alarm(f->v, on_alarm, f), 0);
    take_call(f->first, f->intake, "长征路夜间施工噪音扰民");
    take_call(f->second, f->intake, "施工噪音仍未解决");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    vault_session_close(f->intake);
    vault_session_close(f->followup);
    vault_session_close(f->handler);
    vault_session_close(f->officer);
    vault_close(f->v);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

/* One field of `id` as `s` sees it: effect, and the value (or "") into out. */
static int look(char *out, size_t cap, vault_session *s, const char *id, const char *field)
{
    const char *fields[] = {field};
    vault_result *r = NULL;
    const char *val;
    int effect;

    assert_int_equal(vault_record_get(&r, s, id, fields, 1), 0);
    effect = vault_result_effect(r, 0);
    val = vault_result_value(r, 0, NULL);
    snprintf(out, cap, "%s", val ? val : "");
    vault_result_free(r);
    return effect;
}

static void test_department_reads_the_order_not_the_complainant(void **state)
{
    fixture *f = *state;
    char v1[256], v2[256];

    assert_int_equal(look(v1, sizeof v1, f->handler, f->first, "appeal"), VAULT_EFFECT_ALLOW);
    assert_string_equal(v1, "长征路夜间施工噪音扰民");
    assert_int_equal(look(v1, sizeof v1, f->handler, f->first, "address"), VAULT_EFFECT_ALLOW);
    /* The caller as this department's pseudonym, the same on both orders. */
    assert_int_equal(look(v1, sizeof v1, f->handler, f->first, "phone"), VAULT_EFFECT_MASK);
    assert_int_equal(look(v2, sizeof v2, f->handler, f->second, "phone"), VAULT_EFFECT_MASK);
    assert_memory_equal(v1, "PSN-", 4);
    assert_string_equal(v1, v2);
    assert_null(strstr(v1, "1385712"));
    assert_int_equal(look(v1, sizeof v1, f->handler, f->first, "name"), VAULT_EFFECT_MASK);
    assert_memory_equal(v1, "PSN-", 4);
    /* The desk sees the phone masked its own way, not as a pseudonym. */
    assert_int_equal(look(v2, sizeof v2, f->followup, f->first, "phone"), VAULT_EFFECT_MASK);
    assert_string_equal(v2, "138****4680");
    /* Never the identity or the ID number: no value, the refusal is logged,
     * and the policy's alarm: true raises an alarm. */
    assert_int_equal(f->alarms, 0); /* nothing so far: the order's own fields */
    assert_int_equal(look(v1, sizeof v1, f->handler, f->first, "complainant_identity"),
                     VAULT_EFFECT_DENY);
    assert_string_equal(v1, "");
    assert_int_equal(f->alarms, 1);
    assert_string_equal(f->alarm_kind, "deny");
    assert_string_equal(f->alarm_name, "handling-deny-identity");
    assert_string_equal(f->alarm_user, "qian");
    assert_int_equal(look(v1, sizeof v1, f->handler, f->first, "id_number"), VAULT_EFFECT_DENY);
    assert_string_equal(v1, "");
    {
        char *report = NULL;
        assert_int_equal(vault_audit_report(&report, f->v, VAULT_REPORT_USER, "qian", 0), 0);
        assert_non_null(strstr(report, "complainant_identity:deny"));
        assert_null(strstr(report, "实名投诉人"));
        vault_free(report);
    }
    /* Nor through the export (an export of the record is refused or
     * carries no identity). */
    {
        char *json = NULL;
        if (vault_record_export(&json, f->handler, f->first) == VAULT_OK) {
            assert_null(strstr(json, "实名投诉人"));
            assert_null(strstr(json, "330105198801011234"));
            vault_free(json);
        }
    }
}

static void test_department_answers_through_the_order(void **state)
{
    fixture *f = *state;
    const char *reply = "已责令施工单位夜间停工，22:00后不再施工";
    char v[256];

    assert_int_equal(vault_record_put(f->handler, f->first, "reply", reply, strlen(reply)), 0);
    /* It may not change what the caller said, nor who the caller is. */
    assert_int_equal(vault_record_put(f->handler, f->first, "appeal", "已解决", strlen("已解决")),
                     VAULT_EDENIED);
    assert_int_equal(vault_record_put(f->handler, f->first, "phone", "10000000000", 11),
                     VAULT_EDENIED);
    /* The desk reads the answer back to call the resident. */
    assert_int_equal(look(v, sizeof v, f->followup, f->first, "reply"), VAULT_EFFECT_ALLOW);
    assert_string_equal(v, reply);
    assert_int_equal(look(v, sizeof v, f->handler, f->first, "reply"), VAULT_EFFECT_ALLOW);
    assert_string_equal(v, reply);
}

/* No grant opens the identity to the handling department: grant_limits
 * send grants to hotline supervisors only. */
static void test_no_grant_for_the_department(void **state)
{
    fixture *f = *state;
    const char *fields[] = {"complainant_identity"};
    vault_grant_spec g = tu_grant_spec(fields, 1, "urban_management", CITY, 3600,
                                       "the bureau asks who complained");
    char gid[64];

    g.role = "handling_officer";
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->officer, &g), VAULT_EDENIED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_department_reads_the_order_not_the_complainant, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_department_answers_through_the_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_grant_for_the_department, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

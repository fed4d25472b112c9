/* vaultctl demo, step 5b: the 12345 case on the shipped hotline policy
 * (policies/hotline.yaml; docs/masks.md "pseudonym").  A complaint is taken
 * at the desk and dispatched to the urban management bureau, which reads
 * the order with the caller as its own pseudonym, is refused the
 * complainant's identity (logged), and answers through the order. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "demo.h"

static int failed(const char *what)
{
    cli_errf("vaultctl: demo: %s: %s", what, vault_error_last());
    return EXIT_FAIL;
}

static int session(vault_session **out, vault *v, const char *user, const char *role,
                   const char *dept, const char *purpose)
{
    vault_subject sub = VAULT_SUBJECT_INIT;

    sub.user = user;
    sub.role = role;
    sub.department = dept;
    sub.jurisdiction = "hangzhou";
    sub.purpose = purpose;
    return vault_session_open(out, v, &sub) < 0 ? failed("opening a session") : EXIT_OK;
}

static int take_call(char *id, vault_session *desk, const char *appeal)
{
    static const char *const fields[] = {"name", "phone", "address", "complainant_identity",
                                         "appeal"};
    const char *values[] = {"王五", "13857124680", "杭州市拱墅区小河街道长征社区长征路12号",
                            "实名投诉: 王五, 投诉对象为长征路施工工地及城管某中队", appeal};
    size_t lens[5];

    for (size_t i = 0; i < 5; i++)
        lens[i] = strlen(values[i]);
    return vault_record_add(id, VAULT_ID_HEX_SIZE, desk, "hangzhou/gongshu/xiaohe/changzheng", 5,
                            fields, values, lens) < 0
               ? failed("taking the call")
               : EXIT_OK;
}

/* The handle's alarms, shown as vaultd would raise them (its log,
 * alarms.command, alarms.webhook): never a value. */
static void demo_alarm(const vault_alarm *a, void *arg)
{
    (void)arg;
    printf("  An alarm is raised (vaultd: its log, alarms.command, alarms.webhook): %s %s: %s\n"
           "    (%s/%s, %s), record %.8s...\n", a->kind, a->name, a->user, a->role,
           a->department, a->purpose, a->record);
}

int demo_hotline(const char *vault_path, const char *key_path, const char *policy)
{
    static const char *const bureau_view[] = {"appeal", "address", "name", "phone",
                                              "complainant_identity"};
    static const char *const desk_view[] = {"phone", "appeal", "reply"};
    static const char *const phone[] = {"phone"};
    const char *reply = "已责令施工单位22:00后停工，次日复查";
    vault *v = NULL;
    vault_session *desk = NULL, *followup = NULL, *bureau = NULL, *market = NULL;
    vault_secret secret = VAULT_SECRET_INIT;
    vault_result *r1 = NULL, *r2 = NULL, *r3 = NULL;
    char first[VAULT_ID_HEX_SIZE], second[VAULT_ID_HEX_SIZE], *report = NULL;
    int ex = EXIT_OK;

    demo_step("5b. A complaint dispatched to the urban management bureau (12345 work order)");
    secret.kind = VAULT_UNLOCK_KEYFILE;
    secret.data = key_path;
    if (vault_keyfile_generate(key_path) < 0 || vault_create(&v, vault_path, policy, &secret) < 0) {
        ex = failed("creating the hotline desk's vault");
        goto out;
    }
    printf("  The hotline desk's own vault (%s): the caller names himself as the complainant.\n",
           policy);
    if (vault_set_alarm(v, demo_alarm, NULL) < 0) {
        ex = failed("setting the alarm callback");
        goto out;
    }
    if ((ex = session(&desk, v, "zhou.agent", "hotline_agent", "hotline_12345", "hotline_intake")) ||
        (ex = session(&followup, v, "zhou.agent", "hotline_agent", "hotline_12345",
                      "hotline_followup")) ||
        (ex = session(&bureau, v, "qian.bureau", "handling_officer", "urban_management",
                      "work_order_handling")) ||
        (ex = session(&market, v, "sun.market", "handling_officer", "market_supervision",
                      "work_order_handling")) ||
        (ex = take_call(first, desk, "长征路工地夜间施工噪音扰民")) ||
        (ex = take_call(second, desk, "噪音问题一周后仍未解决")))
        goto out;
    printf("  The desk takes two calls from the same resident and dispatches both orders.\n");
    demo_show_read(bureau, "the bureau's handling officer", first, bureau_view, 5);
    if (vault_record_get(&r1, bureau, first, phone, 1) < 0 ||
        vault_record_get(&r2, bureau, second, phone, 1) < 0) {
        ex = failed("reading the orders");
        goto out;
    }
    printf("  Both orders show the caller as %s to the bureau: it can count repeat calls.\n",
           strcmp(vault_result_value(r1, 0, NULL), vault_result_value(r2, 0, NULL)) == 0
               ? vault_result_value(r1, 0, NULL)
               : "(two different pseudonyms: unexpected)");
    if (vault_record_get(&r3, market, first, phone, 1) < 0) {
        ex = failed("reading the order as another department");
        goto out;
    }
    printf("  Market supervision, handed the same order, sees the caller as %s: %s.\n",
           vault_result_value(r3, 0, NULL),
           strcmp(vault_result_value(r1, 0, NULL), vault_result_value(r3, 0, NULL)) != 0
               ? "the two departments' pseudonyms can't be joined"
               : "(the same pseudonym: unexpected)");
    if (vault_record_put(bureau, first, "reply", reply, strlen(reply)) < 0) {
        ex = failed("writing the reply");
        goto out;
    }
    printf("  The bureau answers through the order; the desk reads the answer back to the caller:\n");
    demo_show_read(followup, "the desk (follow-up)", first, desk_view, 3);
    if (vault_audit_report(&report, v, VAULT_REPORT_DENIED, NULL, 0) < 0) {
        ex = failed("the denials report");
        goto out;
    }
    printf("  The bureau's attempt on the identity is logged (audit report --denied):\n");
    for (const char *line = report, *nl; *line; line = nl ? nl + 1 : line + strlen(line)) {
        nl = strchr(line, '\n');
        if (strstr(line, "qian.bureau") && (int)(nl ? nl - line : (long)strlen(line)) > 0)
            printf("    %.*s\n", (int)(nl ? nl - line : (long)strlen(line)), line);
    }
out:
    vault_free(report);
    vault_result_free(r1);
    vault_result_free(r2);
    vault_result_free(r3);
    vault_session_close(market);
    vault_session_close(desk);
    vault_session_close(followup);
    vault_session_close(bureau);
    vault_close(v);
    return ex;
}

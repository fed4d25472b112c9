/* Fuzz target: policy_parse on arbitrary bytes as YAML.  When a policy
 * parses, the compiled form is exercised too: a few decisions, explain,
 * who-can, the app check for every app, and a diff against itself (which
 * must be empty). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "policy/policy.h"

#define FUZZ_JUR "hangzhou/gongshu/xiaohe/changzheng/grid-07"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (vault_init() < 0)
        abort();
    return 0;
}

static void exercise(const vault_policy *p)
{
    static const char *const jurs[] = {FUZZ_JUR, "hangzhou", "a//b", ""};
    vp_subject sub;
    vp_request req;
    vp_decision d;
    vault_reason reason;
    char *text = NULL;
    size_t nf = policy_field_count(p), i;
    int action;

    if (policy_role_count(p) == 0 || policy_department_count(p) == 0 ||
        policy_purpose_count(p) == 0)
        abort(); /* parse guarantees at least one of each */
    sub.user = "fuzz.user";
    sub.role = policy_role_name(p, 0);
    sub.department = policy_department_name(p, 0);
    sub.jurisdiction = FUZZ_JUR;
    for (action = VAULT_ACTION_READ; action <= VAULT_ACTION_EXPORT; action++) {
        for (i = 0; i < 4; i++) {
            memset(&req, 0, sizeof req);
            req.subject = &sub;
            req.action = action;
            req.purpose = policy_purpose_name(p, 0);
            req.record_id = "00112233445566778899aabbccddeeff";
            req.record_jurisdiction = jurs[i];
            req.field = (action == VAULT_ACTION_CREATE || action == VAULT_ACTION_ERASE || nf == 0)
                            ? NULL
                            : policy_field_at(p, i % nf)->name;
            req.now = 1700000000;
            (void)policy_decide(&d, p, NULL, &req);
            /* Fail closed: a decision is one of the three effects. */
            if (d.effect != VAULT_EFFECT_DENY && d.effect != VAULT_EFFECT_MASK &&
                d.effect != VAULT_EFFECT_ALLOW)
                abort();
            policy_reason_fill(&reason, &d);
            if (policy_explain(&text, p, NULL, &req) == VAULT_OK)
                free(text);
            text = NULL;
        }
    }
    if (nf > 0) {
        if (policy_who_can(&text, p, NULL, policy_field_at(p, 0)->name, NULL, NULL, 1700000000,
                           0) == VAULT_OK)
            free(text);
        text = NULL;
        if (policy_who_can(&text, p, NULL, policy_field_at(p, nf - 1)->name,
                           "00112233445566778899aabbccddeeff", FUZZ_JUR, 1700000000,
                           1) == VAULT_OK)
            free(text);
        text = NULL;
    }
    /* Every app admits a subject made of its own first bounds, with a
     * one-line reason; a malformed jurisdiction and an unlisted app are
     * refused. */
    for (i = 0; i < policy_app_count(p); i++) {
        const vp_app *a = policy_app_at(p, i);
        int rc;

        if (a == NULL || a->ndepartments == 0 || a->nroles == 0 || a->njurisdictions == 0)
            abort(); /* parse guarantees non-empty lists */
        rc = policy_app_check(p, a->name, a->roles[0], a->departments[0], a->jurisdictions[0],
                              a->any_purpose ? policy_purpose_name(p, 0) : a->purposes[0],
                              a->officer_actions, &text);
        if ((rc != VAULT_OK && rc != VAULT_ENOMEM) ||
            (rc == VAULT_OK && (text == NULL || strchr(text, '\n') != NULL)))
            abort();
        free(text);
        text = NULL;
        if (policy_app_check(p, a->name, a->roles[0], a->departments[0], "a//b",
                             policy_purpose_name(p, 0), 0, NULL) != VAULT_EDENIED)
            abort(); /* a malformed jurisdiction is never admitted */
    }
    if (policy_app_check(p, "fuzz-no-such-app-", sub.role, sub.department, FUZZ_JUR,
                         policy_purpose_name(p, 0), 0, NULL) == VAULT_OK &&
        policy_app(p, "fuzz-no-such-app-") == NULL)
        abort();
    if (policy_diff(&text, p, p) == VAULT_OK) {
        if (text[0] != '\0')
            abort(); /* a policy compared with itself changes nothing */
        free(text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vault_policy *p = NULL;
    char *report = NULL;
    int rc;

    rc = policy_parse(&p, &report, "fuzz.yaml", (const char *)data, size);
    if (rc == VAULT_OK) {
        if (!p)
            abort();
        exercise(p);
    } else if (p) {
        abort(); /* no policy handed out on failure */
    }
    policy_free(p);
    free(report);
    return 0;
}

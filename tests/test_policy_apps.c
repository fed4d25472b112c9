/* The policy's `apps:` section (libvault/policy/policy_apps.c): parse
 * errors at exact FILE:LINE:COL, every bound of policy_app_check allowed
 * and denied, jurisdiction subtree edges, unknown apps and policies without
 * the section (fail closed), officers' actions, the purposes default,
 * malformed inputs, the apps part of policy_diff, and the shipped
 * policies' apps; and `auditors:` (who reads the log in service mode):
 * its errors and warnings, policy_auditor_check, its part of the diff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

#ifndef VAULT_SOURCE_DIR
#define VAULT_SOURCE_DIR "."
#endif

/* 14 lines of declarations; `apps:` is line 15, so the first app is on
 * line 16 and its keys from line 17 on. */
#define HEAD                                                \
    "version: 1\n"                                          \
    "name: apps-test\n"                                     \
    "grades: [public, special]\n"                           \
    "fields:\n"                                             \
    "  name: {grade: public}\n"                             \
    "departments: [street, hotline, health, committee]\n"   \
    "roles:\n"                                              \
    "  - {name: officer, departments: [street]}\n"          \
    "  - {name: agent, departments: [hotline]}\n"           \
    "  - {name: doctor, departments: [health]}\n"           \
    "  - {name: grid, departments: [committee]}\n"          \
    "  - anywhere\n"                                        \
    "purposes: [service, followup, care]\n"                 \
    "rules: []\n"

/* The policy the check tests use.  Lines: desk 16 (departments 17, roles
 * 18, jurisdictions 19, purposes 20), hotline 21 (departments 22, roles 23,
 * jurisdictions 24, officer_actions 25), tool 26 (departments 27, roles 28,
 * jurisdictions 29, officer_actions 30). */
#define CHECKED                                                          \
    HEAD                                                                 \
    "apps:\n"                                                            \
    "  desk:\n"                                                          \
    "    departments: [street, committee]\n"                             \
    "    roles: [officer, grid]\n"                                       \
    "    jurisdictions: [hangzhou/gongshu, hangzhou/xihu/beishan/]\n"    \
    "    purposes: [service]\n"                                          \
    "  hotline:\n"                                                       \
    "    departments: hotline\n"                                         \
    "    roles: [agent, anywhere]\n"                                     \
    "    jurisdictions: hangzhou\n"                                      \
    "    officer_actions: false\n"                                       \
    "  tool:\n"                                                          \
    "    departments: [street]\n"                                        \
    "    roles: [officer]\n"                                             \
    "    jurisdictions: [hangzhou/gongshu/xiaohe]\n"                     \
    "    officer_actions: true\n"

#define GONGSHU "hangzhou/gongshu"
#define XIAOHE "hangzhou/gongshu/xiaohe"

static void assert_contains(const char *hay, const char *needle)
{
    if (hay == NULL || strstr(hay, needle) == NULL)
        fail_msg("expected to find\n  [%s]\nin\n%s", needle, hay ? hay : "(null)");
}

static size_t count_substr(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static vault_policy *parse_ok(const char *text, char **report)
{
    vault_policy *p = NULL;
    char *rep = NULL;
    int rc = policy_parse(&p, &rep, "apps.yaml", text, strlen(text));

    if (rc != VAULT_OK)
        fail_msg("policy: rc %d\n%s", rc, rep ? rep : "");
    assert_non_null(p);
    if (report != NULL)
        *report = rep;
    else
        free(rep);
    return p;
}

/* HEAD + apps must fail with exactly `errors` error lines, one of them
 * `want` (a whole "FILE:LINE:COL: error: message" prefix). */
static void expect_error(const char *apps, int want_rc, const char *want, size_t errors)
{
    char text[8192];
    vault_policy *p = (vault_policy *)1;
    char *rep = NULL;
    int k = snprintf(text, sizeof text, "%s%s", HEAD, apps), rc;

    assert_true(k > 0 && (size_t)k < sizeof text);
    rc = policy_parse(&p, &rep, "apps.yaml", text, strlen(text));
    if (rc != want_rc)
        fail_msg("rc %d, want %d, for\n%s\n%s", rc, want_rc, apps, rep ? rep : "");
    assert_null(p);
    assert_contains(rep, want);
    if (count_substr(rep, ": error: ") != errors)
        fail_msg("%zu errors, want %zu, for\n%s\n%s", count_substr(rep, ": error: "), errors,
                 apps, rep);
    free(rep);
}

/* ---- Parsing ---- */

static void test_parse_errors(void **state)
{
    (void)state;
    expect_error("apps:\n"
                 "  a:\n"
                 "    departments: [street, helth]\n"
                 "    roles: officer\n"
                 "    jurisdictions: hangzhou\n",
                 VAULT_EPOLICY,
                 "apps.yaml:17:27: error: unknown department 'helth' (not declared under "
                 "departments:)\n", 1);
    expect_error("apps:\n"
                 "  a:\n"
                 "    departments: [street]\n"
                 "    roles: [officer, nurse]\n"
                 "    jurisdictions: hangzhou\n",
                 VAULT_EPOLICY, "apps.yaml:18:22: error: unknown role 'nurse'", 1);
    /* A role outside every listed department: the app could never act for it. */
    expect_error("apps:\n"
                 "  a:\n"
                 "    departments: [street, health]\n"
                 "    roles: [officer, doctor, agent]\n"
                 "    jurisdictions: hangzhou\n",
                 VAULT_EPOLICY,
                 "apps.yaml:18:30: error: role 'agent' of app 'a' exists in none of the app's "
                 "departments\n", 1);
    /* A role declared without departments exists everywhere. */
    expect_error("apps:\n"
                 "  a:\n"
                 "    departments: [street]\n"
                 "    roles: [anywhere, grid]\n"
                 "    jurisdictions: hangzhou\n",
                 VAULT_EPOLICY, "apps.yaml:18:23: error: role 'grid' of app 'a'", 1);
    /* Jurisdiction paths: the session rule (names.h). */
    expect_error("apps:\n"
                 "  a:\n"
                 "    departments: street\n"
                 "    roles: officer\n"
                 "    jurisdictions: [hangzhou//gongshu, /hangzhou, hangzhou/../x, Hangzhou, '',"
                 " hangzhou/gong shu, ok/path]\n",
                 VAULT_EPOLICY,
                 "apps.yaml:19:21: error: invalid jurisdiction 'hangzhou//gongshu' for app 'a': "
                 "segments of a-z, 0-9, '_' and '-' joined by single '/', at most 512 bytes\n",
                 6);
    expect_error("apps:\n"
                 "  a:\n"
                 "    departments: street\n"
                 "    roles: officer\n"
                 "    jurisdictions: [{path: hangzhou}]\n",
                 VAULT_EPOLICY,
                 "apps.yaml:19:21: error: jurisdiction must be a single value, not a mapping\n",
                 1);
    /* Duplicate app (the second is not read at all). */
    expect_error("apps:\n"
                 "  a:\n"
                 "    departments: street\n"
                 "    roles: officer\n"
                 "    jurisdictions: hangzhou\n"
                 "  a:\n"
                 "    departments: nowhere\n",
                 VAULT_EPOLICY, "apps.yaml:20:3: error: duplicate app 'a' (first at line 16)\n",
                 1);
    expect_error("apps:\n"
                 "  a:\n"
                 "    departments: street\n"
                 "    roles: officer\n"
                 "    jurisdictions: hangzhou\n"
                 "    colour: blue\n",
                 VAULT_EPOLICY,
                 "apps.yaml:20:5: error: unknown key 'colour' in app (expected one of: "
                 "description, departments, roles, jurisdictions, purposes, officer_actions)\n",
                 1);
    expect_error("apps:\n"
                 "  a:\n"
                 "    departments: street\n"
                 "    roles: officer\n",
                 VAULT_EPOLICY,
                 "apps.yaml:17:5: error: app is missing the required key 'jurisdictions'\n", 1);
    /* Empty lists, nulls and wrong types. */
    expect_error("apps:\n"
                 "  a:\n"
                 "    departments: []\n"
                 "    roles: officer\n"
                 "    jurisdictions: hangzhou\n",
                 VAULT_EPOLICY,
                 "apps.yaml:17:18: error: departments of app 'a' must be a non-empty list (or a "
                 "single name), not an empty list\n", 1);
    expect_error("apps:\n"
                 "  a:\n"
                 "    departments: street\n"
                 "    roles: {officer: yes}\n"
                 "    jurisdictions: hangzhou\n",
                 VAULT_EPOLICY,
                 "apps.yaml:18:12: error: roles of app 'a' must be a non-empty list (or a single "
                 "name), not a mapping\n", 1);
    expect_error("apps:\n"
                 "  a:\n"
                 "    departments: street\n"
                 "    roles: officer\n"
                 "    jurisdictions:\n",
                 VAULT_EPOLICY,
                 "apps.yaml:19:19: error: jurisdictions of app 'a' must be a non-empty list (or a "
                 "single name), not nothing (null)\n", 1);
    expect_error("apps:\n"
                 "  a:\n"
                 "    departments: street\n"
                 "    roles: officer\n"
                 "    jurisdictions: hangzhou\n"
                 "    purposes: []\n",
                 VAULT_EPOLICY,
                 "apps.yaml:20:15: error: purposes of app 'a' must be a non-empty list", 1);
    expect_error("apps:\n"
                 "  a:\n"
                 "    departments: street\n"
                 "    roles: officer\n"
                 "    jurisdictions: hangzhou\n"
                 "    purposes: [service, leisure]\n"
                 "    officer_actions: yes\n",
                 VAULT_EPOLICY,
                 "apps.yaml:21:22: error: officer_actions of app 'a' must be true or false\n", 2);
    expect_error("apps:\n"
                 "  a:\n"
                 "    departments: street\n"
                 "    roles: officer\n"
                 "    jurisdictions: hangzhou\n"
                 "    description: [not, text]\n",
                 VAULT_EPOLICY,
                 "apps.yaml:20:18: error: description must be a single value, not a list\n", 1);
    expect_error("apps: [grid-app, hotline-app]\n", VAULT_EPOLICY,
                 "apps.yaml:15:7: error: apps must be a mapping, not a list\n", 1);
    expect_error("apps:\n", VAULT_EPOLICY,
                 "apps.yaml:15:6: error: apps must be a mapping, not nothing (null)\n", 1);
    expect_error("apps:\n"
                 "  a: [street]\n",
                 VAULT_EPOLICY, "apps.yaml:16:6: error: app must be a mapping, not a list\n", 1);
    /* App names: the policy names rule. */
    expect_error("apps:\n"
                 "  Hotline App:\n"
                 "    departments: nowhere\n",
                 VAULT_EPOLICY,
                 "apps.yaml:16:3: error: invalid app name 'Hotline App': names use a-z, 0-9, '_' "
                 "and '-' only, at most 127 bytes\n", 1);
    expect_error("apps:\n"
                 "  [a, b]:\n"
                 "    departments: street\n",
                 VAULT_EPOLICY, "apps.yaml:16:3: error: app names must be plain names, not a list\n",
                 1);
}

static void test_parse_warnings_and_shape(void **state)
{
    vault_policy *p;
    const vp_app *a;
    char *rep = NULL;

    (void)state;
    p = parse_ok(HEAD "apps:\n"
                      "  a:\n"
                      "    description: 测试应用\n"
                      "    departments: [street, street]\n"
                      "    roles: officer\n"
                      "    jurisdictions: [hangzhou/gongshu/xiaohe, hangzhou/gongshu/, "
                      "hangzhou/gongshu]\n"
                      "    purposes: [care, care]\n",
                 &rep);
    assert_contains(rep, "apps.yaml:18:27: warning: department 'street' is listed twice for app "
                         "'a'\n");
    assert_contains(rep, "apps.yaml:20:21: warning: jurisdiction 'hangzhou/gongshu/xiaohe' of "
                         "app 'a' lies within 'hangzhou/gongshu' (line 20): it adds nothing\n");
    assert_contains(rep, "apps.yaml:20:65: warning: jurisdiction 'hangzhou/gongshu' of app 'a' "
                         "lies within 'hangzhou/gongshu' (line 20): it adds nothing\n");
    assert_contains(rep, "apps.yaml:21:22: warning: purpose 'care' is listed twice for app 'a'\n");
    assert_int_equal(count_substr(rep, ": warning: "), 5); /* + rules: [] */
    free(rep);
    assert_int_equal(policy_app_count(p), 1);
    a = policy_app_at(p, 0);
    assert_non_null(a);
    assert_ptr_equal(policy_app(p, "a"), a);
    assert_null(policy_app_at(p, 1));
    assert_null(policy_app(p, "b"));
    assert_null(policy_app(p, NULL));
    assert_string_equal(a->name, "a");
    assert_string_equal(a->description, "测试应用");
    assert_int_equal(a->ndepartments, 1);
    assert_string_equal(a->departments[0], "street");
    assert_int_equal(a->nroles, 1);
    assert_string_equal(a->roles[0], "officer");
    assert_int_equal(a->njurisdictions, 3);
    assert_string_equal(a->jurisdictions[1], "hangzhou/gongshu"); /* trailing '/' dropped */
    assert_int_equal(a->any_purpose, 0);
    assert_int_equal(a->npurposes, 1);
    assert_int_equal(a->officer_actions, 0);
    assert_int_equal(a->line, 16);
    assert_int_equal(a->departments_line, 18);
    assert_int_equal(a->roles_line, 19);
    assert_int_equal(a->jurisdictions_line, 20);
    assert_int_equal(a->purposes_line, 21);
    assert_int_equal(a->officer_actions_line, 0);
    policy_free(p);

    /* An empty section is allowed (embedded mode needs none), with a warning. */
    p = parse_ok(HEAD "apps: {}\n", &rep);
    assert_contains(rep, "apps.yaml:15:7: warning: apps lists no app: service mode admits no "
                         "app\n");
    free(rep);
    assert_int_equal(policy_app_count(p), 0);
    policy_free(p);
    assert_int_equal(policy_app_count(NULL), 0);
    assert_null(policy_app_at(NULL, 0));
}

static void test_parse_limit(void **state)
{
    size_t cap = 300 * 120 + 1024, o;
    char *text = malloc(cap);
    vault_policy *p = (vault_policy *)1;
    char *rep = NULL;

    (void)state;
    assert_non_null(text);
    o = (size_t)snprintf(text, cap, "%sapps:\n", HEAD);
    for (int i = 0; i < VP_APPS_MAX; i++)
        o += (size_t)snprintf(text + o, cap - o, "  app-%d: {departments: street, roles: "
                              "officer, jurisdictions: hangzhou}\n", i);
    p = parse_ok(text, NULL);
    assert_int_equal(policy_app_count(p), VP_APPS_MAX);
    assert_non_null(policy_app(p, "app-255"));
    policy_free(p);
    p = (vault_policy *)1;
    o += (size_t)snprintf(text + o, cap - o, "  one-more: {departments: street, roles: officer, "
                          "jurisdictions: hangzhou}\n");
    assert_true(o < cap);
    assert_int_equal(policy_parse(&p, &rep, "apps.yaml", text, o), VAULT_ELIMIT);
    assert_null(p);
    assert_contains(rep, "apps.yaml:272:3: error: too many apps: at most 256\n");
    free(rep);
    free(text);
}

/* ---- The check ---- */

/* The check must give `want`; on a denial the reason must be `reason`
 * exactly and be the last error too. */
static void expect(const vault_policy *p, const char *app, const char *role, const char *dept,
                   const char *jur, const char *purpose, int officer, int want,
                   const char *reason)
{
    char *why = (char *)1;
    int rc = policy_app_check(p, app, role, dept, jur, purpose, officer, &why);

    if (rc != want)
        fail_msg("%s/%s/%s/%s/%s/%d: rc %d, want %d (%s)", app, role ? role : "-",
                 dept ? dept : "-", jur ? jur : "-", purpose ? purpose : "-", officer, rc, want,
                 why && why != (char *)1 ? why : "no reason");
    assert_non_null(why);
    assert_true(why != (char *)1);
    assert_null(strchr(why, '\n'));
    if (reason != NULL)
        assert_string_equal(why, reason);
    if (rc == VAULT_EDENIED)
        assert_string_equal(vault_error_last(), why);
    free(why);
}

static void test_check_bounds(void **state)
{
    vault_policy *p = parse_ok(CHECKED, NULL);

    (void)state;
    /* Inside every bound. */
    expect(p, "desk", "officer", "street", GONGSHU, "service", 0, VAULT_OK,
           "app desk may act for role officer, department street, purpose service within "
           "hangzhou/gongshu (apps.yaml:16)");
    expect(p, "desk", "grid", "committee", "hangzhou/gongshu/xiaohe/changzheng/grid-07",
           "service", 0, VAULT_OK, NULL);
    /* Each bound in turn. */
    expect(p, "desk", "officer", "health", GONGSHU, "service", 0, VAULT_EDENIED,
           "app desk may not act for department health (apps.yaml:17)");
    expect(p, "desk", "agent", "street", GONGSHU, "service", 0, VAULT_EDENIED,
           "app desk may not act for role agent (apps.yaml:18)");
    expect(p, "desk", "officer", "street", "hangzhou/xihu", "service", 0, VAULT_EDENIED,
           "app desk may not act within jurisdiction hangzhou/xihu (apps.yaml:19)");
    expect(p, "desk", "officer", "street", GONGSHU, "followup", 0, VAULT_EDENIED,
           "app desk may not act for purpose followup (apps.yaml:20)");
    expect(p, "desk", "officer", "street", GONGSHU, "service", 1, VAULT_EDENIED,
           "app desk may not carry officers' actions (officer_actions is not set) "
           "(apps.yaml:16)");
    /* The hotline app asserting the health department. */
    expect(p, "hotline", "agent", "health", "hangzhou", "followup", 0, VAULT_EDENIED,
           "app hotline may not act for department health (apps.yaml:22)");
    expect(p, "hotline", "agent", "hotline", "hangzhou", "followup", 0, VAULT_OK, NULL);
    /* A role listed, in the department of the subject, but the pair is the
     * session's to check (policy_role_in_department). */
    expect(p, "hotline", "anywhere", "hotline", "hangzhou/gongshu", "care", 0, VAULT_OK, NULL);
    policy_free(p);
}

static void test_check_subtrees(void **state)
{
    static const struct {
        const char *jur;
        int want;
    } t[] = {
        {"hangzhou/gongshu", VAULT_OK},                 /* the subtree itself */
        {"hangzhou/gongshu/", VAULT_OK},                /* one trailing '/' */
        {"hangzhou/gongshu/xiaohe", VAULT_OK},          /* below it */
        {"hangzhou/gongshu/xiaohe/changzheng/grid-07", VAULT_OK},
        {"hangzhou/gongshu2", VAULT_EDENIED},           /* not on a segment boundary */
        {"hangzhou/gongshu-x/a", VAULT_EDENIED},
        {"hangzhou/gong", VAULT_EDENIED},               /* a prefix of the name */
        {"hangzhou", VAULT_EDENIED},                    /* above it */
        {"hangzhou/xihu/beishan", VAULT_OK},            /* the second subtree, written with '/' */
        {"hangzhou/xihu/beishan/a", VAULT_OK},
        {"hangzhou/xihu/beishanx", VAULT_EDENIED},
        {"gongshu", VAULT_EDENIED},
        {"x/hangzhou/gongshu", VAULT_EDENIED},
        /* Malformed: never within anything. */
        {"hangzhou//gongshu", VAULT_EDENIED},
        {"hangzhou/gongshu//", VAULT_EDENIED},
        {"/hangzhou/gongshu", VAULT_EDENIED},
        {"hangzhou/gongshu/..", VAULT_EDENIED},
        {"hangzhou/gongshu/../../xihu", VAULT_EDENIED},
        {"hangzhou/gongshu/./x", VAULT_EDENIED},
        {"hangzhou/Gongshu", VAULT_EDENIED},
        {"hangzhou/gongshu/a b", VAULT_EDENIED},
        {"hangzhou/gongshu\n", VAULT_EDENIED},
        {"", VAULT_EDENIED},
        {"/", VAULT_EDENIED},
        {NULL, VAULT_EDENIED},
    };
    vault_policy *p = parse_ok(CHECKED, NULL);
    char longpath[VAULT_JURISDICTION_MAX + 40];
    size_t o;

    (void)state;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        expect(p, "desk", "officer", "street", t[i].jur, "service", 0, t[i].want, NULL);
    expect(p, "desk", "officer", "street", "hangzhou/gongshu2", "service", 0, VAULT_EDENIED,
           "app desk may not act within jurisdiction hangzhou/gongshu2 (apps.yaml:19)");
    /* The reason never repeats a malformed path. */
    expect(p, "desk", "officer", "street", "hangzhou/gongshu\n/x", "service", 0, VAULT_EDENIED,
           "app desk may not act for a missing or malformed jurisdiction (apps.yaml:19)");
    /* Longer than VAULT_JURISDICTION_MAX, even below the subtree. */
    o = (size_t)snprintf(longpath, sizeof longpath, "%s", GONGSHU);
    while (o + 2 < VAULT_JURISDICTION_MAX + 10)
        o += (size_t)snprintf(longpath + o, sizeof longpath - o, "/a");
    assert_true(strlen(longpath) > VAULT_JURISDICTION_MAX);
    expect(p, "desk", "officer", "street", longpath, "service", 0, VAULT_EDENIED,
           "app desk may not act for a missing or malformed jurisdiction (apps.yaml:19)");
    longpath[VAULT_JURISDICTION_MAX] = '\0';
    if (longpath[VAULT_JURISDICTION_MAX - 1] == '/')
        longpath[VAULT_JURISDICTION_MAX - 1] = 'b';
    expect(p, "desk", "officer", "street", longpath, "service", 0, VAULT_OK, NULL);
    policy_free(p);
}

static void test_check_fail_closed(void **state)
{
    vault_policy *p = parse_ok(CHECKED, NULL), *none, *empty;
    char *why = (char *)1;

    (void)state;
    expect(p, "nosuch", "officer", "street", GONGSHU, "service", 0, VAULT_EDENIED,
           "app nosuch is not listed under apps (apps.yaml)");
    expect(p, "Desk", "officer", "street", GONGSHU, "service", 0, VAULT_EDENIED,
           "an app whose name is malformed may not act (apps.yaml)");
    expect(p, "", "officer", "street", GONGSHU, "service", 0, VAULT_EDENIED, NULL);
    expect(p, "desk\n", "officer", "street", GONGSHU, "service", 0, VAULT_EDENIED,
           "an app whose name is malformed may not act (apps.yaml)");
    /* Missing or malformed attributes: denied, never repeated in the reason. */
    expect(p, "desk", NULL, "street", GONGSHU, "service", 0, VAULT_EDENIED,
           "app desk may not act for role (none or malformed) (apps.yaml:18)");
    expect(p, "desk", "officer", NULL, GONGSHU, "service", 0, VAULT_EDENIED,
           "app desk may not act for department (none or malformed) (apps.yaml:17)");
    expect(p, "desk", "officer", "street\x1b[2J", GONGSHU, "service", 0, VAULT_EDENIED,
           "app desk may not act for department (none or malformed) (apps.yaml:17)");
    expect(p, "desk", "officer", "street", GONGSHU, NULL, 0, VAULT_EDENIED,
           "app desk may not act for purpose (none or malformed) (apps.yaml:20)");
    expect(p, "tool", "officer", "street", XIAOHE, "Service", 1, VAULT_EDENIED,
           "app tool may not act for purpose (none or malformed) (apps.yaml:26)");
    /* Bad calls. */
    assert_int_equal(policy_app_check(NULL, "desk", "officer", "street", GONGSHU, "service", 0,
                                      &why),
                     VAULT_EINVALID);
    assert_null(why);
    why = (char *)1;
    assert_int_equal(policy_app_check(p, NULL, "officer", "street", GONGSHU, "service", 0, &why),
                     VAULT_EINVALID);
    assert_null(why);
    /* out_reason may be NULL: the denial is still the last error. */
    assert_int_equal(policy_app_check(p, "desk", "officer", "health", GONGSHU, "service", 0,
                                      NULL),
                     VAULT_EDENIED);
    assert_string_equal(vault_error_last(),
                        "app desk may not act for department health (apps.yaml:17)");
    assert_int_equal(policy_app_check(p, "desk", "officer", "street", GONGSHU, "service", 0,
                                      NULL),
                     VAULT_OK);
    policy_free(p);

    /* No apps: section at all: every app is refused, with its own reason. */
    none = parse_ok(HEAD, NULL);
    expect(none, "desk", "officer", "street", GONGSHU, "service", 0, VAULT_EDENIED,
           "app desk may not act: policy apps-test has no apps section, so no app is admitted "
           "(apps.yaml)");
    policy_free(none);
    empty = parse_ok(HEAD "apps: {}\n", NULL);
    expect(empty, "desk", "officer", "street", GONGSHU, "service", 0, VAULT_EDENIED,
           "app desk is not listed under apps (apps.yaml)");
    policy_free(empty);
}

static void test_check_officer_actions_and_purposes(void **state)
{
    vault_policy *p = parse_ok(CHECKED, NULL);

    (void)state;
    /* officer_actions: true */
    expect(p, "tool", "officer", "street", XIAOHE, "service", 1, VAULT_OK,
           "app tool may act for role officer, department street, purpose service within "
           "hangzhou/gongshu/xiaohe, officers' actions included (apps.yaml:26)");
    expect(p, "tool", "officer", "street", XIAOHE, "service", 0, VAULT_OK, NULL);
    /* officer_actions: false, written out */
    expect(p, "hotline", "agent", "hotline", "hangzhou", "followup", 1, VAULT_EDENIED,
           "app hotline may not carry officers' actions (officer_actions is false) "
           "(apps.yaml:25)");
    /* Any non-zero officer_action counts. */
    expect(p, "hotline", "agent", "hotline", "hangzhou", "followup", -1, VAULT_EDENIED, NULL);
    /* No purposes list: every declared purpose, nothing else. */
    expect(p, "hotline", "agent", "hotline", "hangzhou", "service", 0, VAULT_OK, NULL);
    expect(p, "hotline", "agent", "hotline", "hangzhou", "care", 0, VAULT_OK, NULL);
    expect(p, "tool", "officer", "street", XIAOHE, "care", 1, VAULT_OK, NULL);
    expect(p, "hotline", "agent", "hotline", "hangzhou", "leisure", 0, VAULT_EDENIED,
           "app hotline may not act for purpose leisure (apps.yaml:21)");
    /* A purposes list: only those. */
    expect(p, "desk", "officer", "street", GONGSHU, "care", 0, VAULT_EDENIED,
           "app desk may not act for purpose care (apps.yaml:20)");
    policy_free(p);
}

/* ---- Diff ---- */

static void test_diff(void **state)
{
    vault_policy *a = parse_ok(CHECKED, NULL), *b, *none;
    char *out = NULL;

    (void)state;
    b = parse_ok(HEAD "apps:\n"
                      "  tool:\n"
                      "    departments: [street]\n"
                      "    roles: [officer]\n"
                      "    jurisdictions: [hangzhou/gongshu/xiaohe]\n"
                      "    officer_actions: false\n"
                      "  desk:\n"
                      "    departments: [street, health]\n"
                      "    roles: [officer, doctor]\n"
                      "    jurisdictions: [hangzhou/gongshu/, hangzhou/xihu]\n"
                      "  new-app:\n"
                      "    departments: committee\n"
                      "    roles: grid\n"
                      "    jurisdictions: hangzhou/gongshu\n"
                      "    purposes: [care, service]\n",
                 NULL);
    assert_int_equal(policy_diff(&out, a, b), VAULT_OK);
    assert_string_equal(out,
                        "- app tool officer_actions true->false\n"
                        "+ app desk department health\n"
                        "- app desk department committee\n"
                        "+ app desk role doctor\n"
                        "- app desk role grid\n"
                        "+ app desk jurisdiction hangzhou/xihu\n"
                        "- app desk jurisdiction hangzhou/xihu/beishan\n"
                        "+ app desk purposes [service]->any\n"
                        "+ app new-app added: departments [committee], roles [grid], "
                        "jurisdictions [hangzhou/gongshu], purposes [care, service], "
                        "officer_actions false\n"
                        "- app hotline removed: departments [hotline], roles [agent, anywhere], "
                        "jurisdictions [hangzhou], purposes any, officer_actions false\n");
    free(out);
    assert_int_equal(policy_diff(&out, b, a), VAULT_OK);
    assert_string_equal(out,
                        "+ app desk department committee\n"
                        "- app desk department health\n"
                        "+ app desk role grid\n"
                        "- app desk role doctor\n"
                        "+ app desk jurisdiction hangzhou/xihu/beishan\n"
                        "- app desk jurisdiction hangzhou/xihu\n"
                        "- app desk purposes any->[service]\n"
                        "+ app hotline added: departments [hotline], roles [agent, anywhere], "
                        "jurisdictions [hangzhou], purposes any, officer_actions false\n"
                        "+ app tool officer_actions false->true\n"
                        "- app new-app removed: departments [committee], roles [grid], "
                        "jurisdictions [hangzhou/gongshu], purposes [care, service], "
                        "officer_actions false\n");
    free(out);
    /* Nothing changes: nothing printed. */
    assert_int_equal(policy_diff(&out, a, a), VAULT_OK);
    assert_string_equal(out, "");
    free(out);
    /* Adding the section, or dropping it (every app refused from then on). */
    none = parse_ok(HEAD, NULL);
    assert_int_equal(policy_diff(&out, none, a), VAULT_OK);
    assert_int_equal(count_substr(out, "\n"), 3);
    assert_int_equal(count_substr(out, " added: "), 3);
    free(out);
    assert_int_equal(policy_diff(&out, a, none), VAULT_OK);
    assert_int_equal(count_substr(out, " removed: "), 3);
    assert_contains(out, "- app tool removed: departments [street], roles [officer], "
                         "jurisdictions [hangzhou/gongshu/xiaohe], purposes any, "
                         "officer_actions true\n");
    free(out);
    policy_free(none);
    policy_free(b);

    /* Purposes list to list, and roles. */
    b = parse_ok(HEAD "apps:\n"
                      "  desk:\n"
                      "    departments: [street, committee]\n"
                      "    roles: [officer]\n"
                      "    jurisdictions: [hangzhou/gongshu, hangzhou/xihu/beishan]\n"
                      "    purposes: [care]\n"
                      "  hotline:\n"
                      "    departments: hotline\n"
                      "    roles: [agent, anywhere]\n"
                      "    jurisdictions: hangzhou\n"
                      "  tool:\n"
                      "    description: only the description changes\n"
                      "    departments: [street]\n"
                      "    roles: [officer]\n"
                      "    jurisdictions: [hangzhou/gongshu/xiaohe/]\n"
                      "    officer_actions: true\n",
                 NULL);
    assert_int_equal(policy_diff(&out, a, b), VAULT_OK);
    assert_string_equal(out, "- app desk role grid\n"
                             "+ app desk purpose care\n"
                             "- app desk purpose service\n");
    free(out);
    policy_free(b);
    policy_free(a);
}

/* ---- The shipped policies ---- */

/* ---- auditors: who may read the log and the grants in service mode ---- */

/* HEAD + text must parse, with exactly `warnings` warnings (the HEAD's
 * `rules: []` is one), one of them `want` when not NULL. */
static vault_policy *expect_warning(const char *text, const char *want, size_t warnings)
{
    char buf[8192], *rep = NULL;
    vault_policy *p;
    int k = snprintf(buf, sizeof buf, "%s%s", HEAD, text);

    assert_true(k > 0 && (size_t)k < sizeof buf);
    p = parse_ok(buf, &rep);
    if (want != NULL)
        assert_contains(rep, want);
    if (count_substr(rep, ": warning: ") != warnings)
        fail_msg("%zu warnings, want %zu, for\n%s\n%s", count_substr(rep, ": warning: "),
                 warnings, text, rep);
    free(rep);
    return p;
}

static void test_auditors_parse(void **state)
{
    (void)state;
    /* `auditors:` is line 15 of HEAD + it */
    expect_error("auditors: [officer, nurse]\n", VAULT_EPOLICY,
                 "apps.yaml:15:21: error: unknown role 'nurse' (not declared under roles:)\n", 1);
    expect_error("auditors: [grid, service]\n", VAULT_EPOLICY,
                 "apps.yaml:15:18: error: unknown role 'service' (not declared under roles:)\n",
                 1);
    expect_error("auditors: [Officer]\n", VAULT_EPOLICY,
                 "apps.yaml:15:12: error: unknown role 'Officer'", 1);
    expect_error("auditors: {officer: true}\n", VAULT_EPOLICY,
                 "apps.yaml:15:11: error: auditors must be a list (or a single name), not a "
                 "mapping\n", 1);
    expect_error("auditors:\n", VAULT_EPOLICY,
                 "apps.yaml:15:10: error: auditors must be a list (or a single name), not "
                 "nothing (null)\n", 1);
    expect_error("auditors: [[officer]]\n", VAULT_EPOLICY,
                 "apps.yaml:15:12: error: role must be a single value, not a list\n", 1);
    expect_error("auditors: [officer]\nauditors: [agent]\n", VAULT_EPOLICY,
                 "apps.yaml:16:1: error: duplicate key 'auditors'", 1);
    /* warnings: a role twice, an empty list */
    policy_free(expect_warning("auditors: [officer, officer, agent]\n",
                               "apps.yaml:15:21: warning: role 'officer' is listed twice under "
                               "auditors\n", 2));
    policy_free(expect_warning("auditors: []\n",
                               "apps.yaml:15:11: warning: auditors lists no roles: nobody may read "
                               "the log or the grants through vaultd\n", 2));
    policy_free(expect_warning("auditors: doctor\n", NULL, 1));
}

static void test_auditors_check(void **state)
{
    vault_policy *p = expect_warning("auditors: [officer, doctor]\n", NULL, 1);
    vault_policy *none = parse_ok(CHECKED, NULL);
    vault_policy *empty = expect_warning("auditors: []\n", NULL, 2);
    char *out = NULL;

    (void)state;
    assert_int_equal(policy_auditor_check(p, "officer"), VAULT_OK);
    assert_int_equal(policy_auditor_check(p, "doctor"), VAULT_OK);
    assert_int_equal(policy_auditor_check(p, "agent"), VAULT_EDENIED);
    assert_string_equal(vault_error_last(), "role agent may not read the audit log or the "
                                            "grants: auditors does not list it (apps.yaml:15)");
    assert_int_equal(policy_auditor_check(p, "nobody"), VAULT_EDENIED);
    assert_int_equal(policy_auditor_check(p, "Officer"), VAULT_EDENIED); /* names are exact */
    assert_int_equal(policy_auditor_check(p, ""), VAULT_EDENIED);
    assert_int_equal(policy_auditor_check(p, NULL), VAULT_EINVALID);
    assert_int_equal(policy_auditor_check(NULL, "officer"), VAULT_EINVALID);
    /* fail closed: no section, or an empty one, admits nobody */
    assert_int_equal(policy_auditor_check(none, "officer"), VAULT_EDENIED);
    assert_string_equal(vault_error_last(), "role officer may not read the audit log or the "
                                            "grants: policy apps-test has no auditors section "
                                            "(apps.yaml)");
    assert_int_equal(policy_auditor_check(empty, "officer"), VAULT_EDENIED);
    /* the diff names who gains and who loses the log */
    assert_int_equal(policy_diff(&out, empty, p), VAULT_OK);
    assert_contains(out, "+ auditor officer\n+ auditor doctor\n");
    free(out);
    assert_int_equal(policy_diff(&out, p, empty), VAULT_OK);
    assert_contains(out, "- auditor officer\n- auditor doctor\n");
    free(out);
    policy_free(empty);
    empty = expect_warning("auditors: [doctor, agent]\n", NULL, 1);
    assert_int_equal(policy_diff(&out, p, empty), VAULT_OK);
    assert_string_equal(out, "+ auditor agent\n- auditor officer\n");
    free(out);
    assert_int_equal(policy_diff(&out, p, p), VAULT_OK);
    assert_string_equal(out, "");
    free(out);
    policy_free(empty);
    policy_free(none);
    policy_free(p);
}

static vault_policy *load_shipped(const char *rel)
{
    char path[1024], *rep = NULL;
    vault_policy *p = NULL;
    int k = snprintf(path, sizeof path, "%s/%s", VAULT_SOURCE_DIR, rel);

    assert_true(k > 0 && (size_t)k < sizeof path);
    if (policy_load_file(&p, &rep, NULL, NULL, path) != VAULT_OK)
        fail_msg("%s: %s\n%s", rel, vault_error_last(), rep ? rep : "");
    free(rep);
    return p;
}

static void test_shipped(void **state)
{
    vault_policy *p = load_shipped("policies/community.yaml");
    const char *grid07 = "hangzhou/gongshu/xiaohe/changzheng/grid-07";
    char *why = NULL;

    (void)state;
    assert_int_equal(policy_app_count(p), 4);
    assert_non_null(policy_app(p, "grid-app"));
    assert_non_null(policy_app(p, "hotline-app"));
    assert_non_null(policy_app(p, "street-desk"));
    assert_non_null(policy_app(p, "vaultctl"));
    /* Grid workers of the street's community committees. */
    expect(p, "grid-app", "grid_worker", "community_committee", grid07, "grid_management", 0,
           VAULT_OK, NULL);
    expect(p, "grid-app", "grid_worker", "community_committee", "hangzhou/gongshu/daguan",
           "grid_management", 0, VAULT_EDENIED, NULL);
    expect(p, "grid-app", "grid_worker", "community_committee", grid07, "resident_service", 0,
           VAULT_EDENIED, NULL);
    expect(p, "grid-app", "grid_worker", "community_committee", grid07, "grid_management", 1,
           VAULT_EDENIED, NULL);
    expect(p, "grid-app", "police_officer", "public_security", grid07, "law_enforcement", 0,
           VAULT_EDENIED, NULL);
    /* The hotline app asserting the health department: the case of DESIGN.md §1. */
    assert_int_equal(policy_app_check(p, "hotline-app", "health_worker", "health", "hangzhou",
                                      "public_health", 0, &why),
                     VAULT_EDENIED);
    assert_non_null(why);
    assert_contains(why, "app hotline-app may not act for department health (community.yaml:");
    free(why);
    expect(p, "hotline-app", "hotline_agent", "hotline_12345", "hangzhou", "hotline_followup", 0,
           VAULT_OK, NULL);
    expect(p, "hotline-app", "hotline_agent", "hotline_12345", "hangzhou", "hotline_followup", 1,
           VAULT_EDENIED, NULL);
    /* Officers: the street desk and the command line carry officers' actions. */
    expect(p, "street-desk", "data_officer", "street_office", "hangzhou/gongshu/xiaohe",
           "resident_request", 1, VAULT_OK, NULL);
    expect(p, "street-desk", "auditor", "street_office", "hangzhou/gongshu/xiaohe", "audit", 0,
           VAULT_EDENIED, NULL);
    expect(p, "vaultctl", "auditor", "street_office", "hangzhou/gongshu/xiaohe", "audit", 0,
           VAULT_OK, NULL);
    expect(p, "vaultctl", "data_officer", "street_office", "hangzhou/gongshu/xiaohe",
           "resident_service", 1, VAULT_OK, NULL);
    expect(p, "vaultctl", "data_officer", "street_office", "hangzhou/gongshu", "resident_service",
           1, VAULT_EDENIED, NULL);
    expect(p, "vaultctl", "grid_worker", "community_committee", grid07, "grid_management", 0,
           VAULT_EDENIED, NULL);
    /* The log is for auditors and data officers; street officers grant by id. */
    assert_int_equal(policy_auditor_check(p, "auditor"), VAULT_OK);
    assert_int_equal(policy_auditor_check(p, "data_officer"), VAULT_OK);
    assert_int_equal(policy_auditor_check(p, "street_officer"), VAULT_EDENIED);
    assert_int_equal(policy_auditor_check(p, "grid_worker"), VAULT_EDENIED);
    policy_free(p);

    p = load_shipped("policies/hotline.yaml");
    assert_int_equal(policy_app_count(p), 3);
    /* The handling department's app: its officers, for handling only. */
    expect(p, "work-order-app", "handling_officer", "urban_management", "hangzhou/gongshu",
           "work_order_handling", 0, VAULT_OK, NULL);
    expect(p, "work-order-app", "handling_officer", "urban_management", "hangzhou",
           "legal_disclosure", 0, VAULT_EDENIED, NULL);
    expect(p, "work-order-app", "hotline_agent", "hotline_12345", "hangzhou", "hotline_intake", 0,
           VAULT_EDENIED, NULL);
    expect(p, "hotline-app", "hotline_agent", "hotline_12345", "hangzhou/gongshu",
           "hotline_intake", 0, VAULT_OK, NULL);
    expect(p, "hotline-app", "hotline_supervisor", "hotline_12345", "hangzhou",
           "legal_disclosure", 0, VAULT_EDENIED, NULL);
    expect(p, "vaultctl", "hotline_supervisor", "hotline_12345", "hangzhou", "legal_disclosure",
           0, VAULT_OK, NULL);
    expect(p, "vaultctl", "hotline_data_officer", "hotline_12345", "hangzhou", "legal_disclosure",
           1, VAULT_OK, NULL);
    assert_int_equal(policy_auditor_check(p, "hotline_data_officer"), VAULT_OK);
    assert_int_equal(policy_auditor_check(p, "hotline_supervisor"), VAULT_EDENIED);
    policy_free(p);

    p = load_shipped("policies/health.yaml");
    assert_int_equal(policy_app_count(p), 2);
    expect(p, "clinic-app", "family_doctor", "health", "hangzhou/gongshu/xiaohe", "emergency", 1,
           VAULT_OK, NULL);
    expect(p, "clinic-app", "health_data_officer", "health", "hangzhou/gongshu", "public_health",
           0, VAULT_EDENIED, NULL);
    expect(p, "clinic-app", "family_doctor", "health", "hangzhou/xihu", "emergency", 1,
           VAULT_EDENIED, NULL);
    assert_int_equal(policy_auditor_check(p, "health_data_officer"), VAULT_OK);
    assert_int_equal(policy_auditor_check(p, "family_doctor"), VAULT_EDENIED);
    policy_free(p);
}

/* ---- data_officers: who may change the vault in service mode ---- */

static void test_data_officers(void **state)
{
    vault_policy *p, *none, *empty;
    char *out = NULL;

    (void)state;
    expect_error("data_officers: [officer, nurse]\n", VAULT_EPOLICY,
                 "apps.yaml:15:26: error: unknown role 'nurse' (not declared under roles:)\n", 1);
    expect_error("data_officers: {officer: true}\n", VAULT_EPOLICY,
                 "apps.yaml:15:16: error: data_officers must be a list (or a single name), not "
                 "a mapping\n", 1);
    expect_error("data_officers: [officer]\ndata_officers: [agent]\n", VAULT_EPOLICY,
                 "apps.yaml:16:1: error: duplicate key 'data_officers'", 1);
    policy_free(expect_warning("data_officers: [officer, officer]\n",
                               "apps.yaml:15:26: warning: role 'officer' is listed twice under "
                               "data_officers\n", 2));
    empty = expect_warning("data_officers: []\n",
                           "apps.yaml:15:16: warning: data_officers lists no roles: nobody may "
                           "change the vault through vaultd\n", 2);
    p = expect_warning("data_officers: [officer]\n", NULL, 1);
    none = parse_ok(CHECKED, NULL);
    assert_int_equal(policy_data_officer_check(p, "officer"), VAULT_OK);
    assert_int_equal(policy_data_officer_check(p, "agent"), VAULT_EDENIED);
    assert_string_equal(vault_error_last(), "role agent is not a data officer: data_officers does "
                                            "not list it (apps.yaml:15); it may not change the "
                                            "vault");
    assert_int_equal(policy_data_officer_check(none, "officer"), VAULT_EDENIED);
    assert_contains(vault_error_last(), "has no data_officers section (apps.yaml)");
    assert_int_equal(policy_data_officer_check(empty, "officer"), VAULT_EDENIED);
    assert_int_equal(policy_data_officer_check(p, NULL), VAULT_EINVALID);
    assert_int_equal(policy_diff(&out, empty, p), VAULT_OK);
    assert_string_equal(out, "+ data officer officer\n");
    free(out);
    assert_int_equal(policy_diff(&out, p, empty), VAULT_OK);
    assert_string_equal(out, "- data officer officer\n");
    free(out);
    policy_free(empty);
    policy_free(none);
    policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_warnings_and_shape),
        cmocka_unit_test(test_parse_limit),
        cmocka_unit_test(test_check_bounds),
        cmocka_unit_test(test_check_subtrees),
        cmocka_unit_test(test_check_fail_closed),
        cmocka_unit_test(test_check_officer_actions_and_purposes),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_auditors_parse),
        cmocka_unit_test(test_auditors_check),
        cmocka_unit_test(test_data_officers),
        cmocka_unit_test(test_shipped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Policy engine tests: parsing and validation (exact FILE:LINE:COL),
 * decisions (every precedence case, scopes, purposes, actions, selectors,
 * grants), explain, who-can, diff, grant limits, and robustness. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "crypto.h"
#include "policy/policy.h"

#ifndef VAULT_SOURCE_DIR
#define VAULT_SOURCE_DIR "."
#endif

#define GRID07 "hangzhou/shangcheng/xiaohe/changzheng/grid-07"
#define GRID08 "hangzhou/shangcheng/xiaohe/changzheng/grid-08"
#define REC1 "00112233445566778899aabbccddeeff"
#define REC2 "ffeeddccbbaa99887766554433221100"
#define REC3 "0123456789abcdef0123456789abcdef"

/* ---- Helpers ---- */

static const char *src_path(char *buf, size_t n, const char *rel)
{
    int k = snprintf(buf, n, "%s/%s", VAULT_SOURCE_DIR, rel);

    assert_true(k > 0 && (size_t)k < n);
    return buf;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long size;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size >= 0);
    rewind(f);
    buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    buf[size] = '\0';
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static size_t count_substr(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("expected to find\n  [%s]\nin\n%s", needle, hay);
}

static void assert_lacks(const char *hay, const char *needle)
{
    if (strstr(hay, needle) != NULL)
        fail_msg("did not expect\n  [%s]\nin\n%s", needle, hay);
}

/* Load a policy that must be valid; *report (if asked) gets the report. */
static vault_policy *load_ok(const char *rel, char **report)
{
    char path[1024], *rep = NULL;
    vault_policy *p = NULL;
    int rc = policy_load_file(&p, &rep, NULL, NULL, src_path(path, sizeof path, rel));

    if (rc != 0)
        fail_msg("%s: rc %d: %s\n%s", rel, rc, vault_error_last(), rep ? rep : "");
    assert_non_null(p);
    assert_non_null(rep);
    assert_lacks(rep, ": error: ");
    if (report != NULL)
        *report = rep;
    else
        free(rep);
    return p;
}

static vault_policy *parse_ok(const char *text)
{
    vault_policy *p = NULL;
    char *rep = NULL;
    int rc = policy_parse(&p, &rep, "inline.yaml", text, strlen(text));

    if (rc != 0)
        fail_msg("inline policy: rc %d\n%s", rc, rep ? rep : "");
    free(rep);
    return p;
}

/* ---- Jurisdictions and durations ---- */

static void test_jurisdiction_within(void **state)
{
    static const struct {
        const char *inner, *outer;
        int want;
    } t[] = {
        {"a/b", "a/b", 1},       /* equal */
        {"a/b/c", "a/b", 1},     /* child */
        {"a/b/c/d", "a", 1},     /* grandchild */
        {"a/bc", "a/b", 0},      /* sibling sharing a prefix */
        {"a/b", "a/bc", 0},
        {"a", "a/b", 0},         /* parent is not within child */
        {"a/b/", "a/b", 1},      /* one trailing slash is ignored */
        {"a/b", "a/b/", 1},
        {"a/b/c", "a/b/", 1},
        {"a/b//", "a/b", 0},     /* empty segment */
        {"", "a", 0},            /* empty */
        {"a", "", 0},
        {"", "", 0},
        {"/a/b", "/a", 0},       /* leading slash */
        {"a//b", "a", 0},
        {"a/../b", "a", 0},      /* dot segments are refused */
        {"a/./b", "a", 0},
        {"b/a", "a", 0},
        {GRID07, "hangzhou/shangcheng/xiaohe", 1},
        {GRID08, GRID07, 0},
        {"hangzhou/shangcheng/xiaohe/changzheng/grid-071", GRID07, 0},
        {NULL, "a", 0},
        {"a", NULL, 0},
    };
    char long_path[VAULT_JURISDICTION_MAX + 8];

    (void)state;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (policy_jurisdiction_within(t[i].inner, t[i].outer) != t[i].want)
            fail_msg("within(%s, %s) != %d", t[i].inner ? t[i].inner : "NULL",
                     t[i].outer ? t[i].outer : "NULL", t[i].want);
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[sizeof long_path - 1] = '\0';
    assert_int_equal(policy_jurisdiction_within(long_path, "a"), 0);
    long_path[VAULT_JURISDICTION_MAX] = '\0';
    assert_int_equal(policy_jurisdiction_within(long_path, long_path), 1);
}

static void test_durations(void **state)
{
    static const struct {
        const char *s;
        int64_t want; /* -1: invalid */
    } t[] = {
        {"45s", 45},   {"30m", 1800},  {"8h", 28800},  {"7d", 604800}, {"1s", 1},
        {"3650d", 3650LL * 86400},     {"3651d", -1},  {"0m", -1},     {"00m", -1},
        {"30", -1},    {"m", -1},      {"", -1},       {"1.5h", -1},   {"-1h", -1},
        {"30M", -1},   {" 30m", -1},   {"30m ", -1},   {"30mm", -1},   {"30w", -1},
        {"99999999999d", -1},          {"1e3s", -1},   {"+5m", -1},
        {"2y", 2LL * 365 * 86400},     {"10y", 3650LL * 86400},        {"11y", -1},
        {"0y", -1},    {"1Y", -1},     {"y", -1},
    };
    int64_t v;

    (void)state;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int rc = policy_duration_parse(&v, t[i].s);
        if (t[i].want < 0) {
            if (rc != VAULT_EINVALID)
                fail_msg("duration '%s' should be refused", t[i].s);
        } else if (rc != 0 || v != t[i].want) {
            fail_msg("duration '%s': rc %d value %lld", t[i].s, rc, (long long)v);
        }
    }
}

/* ---- Decisions on tests/data/policy/decide.yaml ---- */

typedef struct dcase {
    const char *name;
    const char *user, *role, *dept, *sjur, *purpose;
    int action;
    const char *field, *rjur, *rid;
    int64_t now;
    int effect, by;
    const char *id; /* rule or grant id, NULL: none */
    int mask;       /* -1: not checked */
} dcase;

#define R VAULT_ACTION_READ
#define W VAULT_ACTION_WRITE
#define C VAULT_ACTION_CREATE
#define S VAULT_ACTION_SEARCH
#define E VAULT_ACTION_ERASE
#define X VAULT_ACTION_EXPORT
#define ALLOW VAULT_EFFECT_ALLOW
#define MASK VAULT_EFFECT_MASK
#define DENY VAULT_EFFECT_DENY

static void run_cases(const vault_policy *p, const vp_grantset *g, const dcase *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        vp_subject s = {t[i].user ? t[i].user : "u1", t[i].role, t[i].dept, t[i].sjur};
        vp_request r = {&s, t[i].action, t[i].purpose, t[i].rid, t[i].rjur, t[i].field, t[i].now};
        vp_decision d;
        int rc = policy_decide(&d, p, g, &r);
        const char *id = d.by == VP_BY_RULE ? d.rule_id : d.by == VP_BY_GRANT ? d.grant_id : NULL;

        if ((t[i].by == VP_BY_ERROR) != (rc < 0))
            fail_msg("case '%s': rc %d (%s)", t[i].name, rc, vault_error_last());
        if (d.effect != t[i].effect || d.by != t[i].by)
            fail_msg("case '%s': effect %d by %d (%s), want effect %d by %d (%s)", t[i].name,
                     d.effect, d.by, id ? id : "-", t[i].effect, t[i].by,
                     t[i].id ? t[i].id : "-");
        if ((id == NULL) != (t[i].id == NULL) || (id != NULL && strcmp(id, t[i].id) != 0))
            fail_msg("case '%s': decided by %s, want %s", t[i].name, id ? id : "-",
                     t[i].id ? t[i].id : "-");
        if (t[i].mask >= 0 && (int)d.mask != t[i].mask)
            fail_msg("case '%s': mask %d, want %d", t[i].name, (int)d.mask, t[i].mask);
        if (d.by == VP_BY_RULE && (d.file == NULL || strcmp(d.file, "decide.yaml") != 0 ||
                                   d.line == 0) &&
            strcmp(policy_name(p), "decide-fixture") == 0)
            fail_msg("case '%s': rule position missing", t[i].name);
    }
}

#define XY "x/y"
static const dcase rule_cases[] = {
    /* precedence */
    {"deny beats mask", 0, "r1", "d1", XY, "p1", R, "d", "x/y/z", 0, 0, DENY, VP_BY_RULE, "deny-r1-d", VAULT_MASK_NONE},
    {"deny beats allow", "alice", "r2", "d1", XY, "p1", R, "e", "x/y", 0, 0, DENY, VP_BY_RULE, "deny-r2-e", -1},
    {"allow beats mask", 0, "r1", "d1", XY, "p1", R, "a", "x/y/z", 0, 0, ALLOW, VP_BY_RULE, "allow-r1", VAULT_MASK_NONE},
    {"mask only", 0, "r1", "d1", XY, "p2", R, "a", "x/y/z", 0, 0, MASK, VP_BY_RULE, "mask-r1", VAULT_MASK_NAME},
    {"mask carries field mask", 0, "r1", "d1", XY, "p2", R, "b", "x/y", 0, 0, MASK, VP_BY_RULE, "mask-r1", VAULT_MASK_PHONE},
    {"nothing: default deny", 0, "r2", "d1", XY, "p1", R, "a", "x/y", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    /* scope */
    {"scope equal path", 0, "r1", "d1", XY, "p1", R, "a", "x/y", 0, 0, ALLOW, VP_BY_RULE, "allow-r1", -1},
    {"scope child", 0, "r1", "d1", XY, "p1", R, "a", "x/y/z/w", 0, 0, ALLOW, VP_BY_RULE, "allow-r1", -1},
    {"scope sibling prefix", 0, "r1", "d1", XY, "p1", R, "a", "x/yz", 0, 0, MASK, VP_BY_RULE, "mask-r1", -1},
    {"scope trailing slash", 0, "r1", "d1", XY, "p1", R, "a", "x/y/", 0, 0, ALLOW, VP_BY_RULE, "allow-r1", -1},
    {"scope subject slash", 0, "r1", "d1", "x/y/", "p1", R, "a", "x/y/q", 0, 0, ALLOW, VP_BY_RULE, "allow-r1", -1},
    {"scope parent", 0, "r1", "d1", XY, "p1", R, "a", "x", 0, 0, MASK, VP_BY_RULE, "mask-r1", -1},
    {"scope other tree", 0, "r1", "d1", XY, "p1", R, "a", "q/y", 0, 0, MASK, VP_BY_RULE, "mask-r1", -1},
    {"scope any ignores jurisdiction", 0, "r3", "d1", XY, "p1", R, "c", "elsewhere", 0, 0, ALLOW, VP_BY_RULE, "sel-min", -1},
    /* purposes */
    {"purpose listed", 0, "r1", "d1", XY, "p1", R, "b", "x/y", 0, 0, ALLOW, VP_BY_RULE, "allow-r1", -1},
    {"purpose unlisted", 0, "r1", "d1", XY, "p3", R, "b", "x/y", 0, 0, MASK, VP_BY_RULE, "mask-r1", -1},
    {"purposes absent = any", 0, "r1", "d1", XY, "p3", R, "c", "x/y", 0, 0, MASK, VP_BY_RULE, "mask-r1", VAULT_MASK_REDACT},
    /* grade selectors */
    {"min only: at min", 0, "r3", "d1", XY, "p1", R, "c", "x/y", 0, 0, ALLOW, VP_BY_RULE, "sel-min", -1},
    {"min only: top", 0, "r3", "d1", XY, "p1", R, "d", "x/y", 0, 0, ALLOW, VP_BY_RULE, "sel-min", -1},
    {"min only: below", 0, "r3", "d1", XY, "p1", R, "b", "x/y", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"max only: at max", 0, "r3", "d1", XY, "p2", R, "a", "x/y", 0, 0, ALLOW, VP_BY_RULE, "sel-max", -1},
    {"max only: above", 0, "r3", "d1", XY, "p2", R, "b", "x/y", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"both: lower bound", 0, "r3", "d1", XY, "p3", R, "b", "x/y", 0, 0, ALLOW, VP_BY_RULE, "sel-both", -1},
    {"both: upper bound", 0, "r3", "d1", XY, "p3", R, "c", "x/y", 0, 0, ALLOW, VP_BY_RULE, "sel-both", -1},
    {"both: below", 0, "r3", "d1", XY, "p3", R, "a", "x/y", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"both: above", 0, "r3", "d1", XY, "p3", R, "d", "x/y", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"both: same grade other field", 0, "r3", "d1", XY, "p3", R, "e", "x/y", 0, 0, ALLOW, VP_BY_RULE, "sel-both", -1},
    {"fields list: listed", 0, "r1", "d1", XY, "p3", R, "a", "x/y", 0, 0, MASK, VP_BY_RULE, "mask-r1", -1},
    {"fields list: unlisted", 0, "r1", "d1", XY, "p3", R, "e", "x/y", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    /* actions */
    {"write", 0, "r2", "d1", XY, "p1", W, "a", "x/y", 0, 0, ALLOW, VP_BY_RULE, "r2-write", -1},
    {"write outside", 0, "r2", "d1", XY, "p1", W, "a", "x/z", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"write other field", 0, "r2", "d1", XY, "p1", W, "b", "x/y", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"write other department", 0, "r2", "d2", XY, "p1", W, "a", "x/y", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"search", 0, "r2", "d1", XY, "p2", S, "b", "x/y", 0, 0, ALLOW, VP_BY_RULE, "r2-search", -1},
    {"export masked", 0, "r2", "d1", XY, "p3", X, "c", "x/y", 0, 0, MASK, VP_BY_RULE, "r2-export", VAULT_MASK_REDACT},
    {"export unlisted purpose", 0, "r2", "d1", XY, "p1", X, "c", "x/y", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"read not listed", 0, "r2", "d1", XY, "p1", R, "b", "x/y", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"create", 0, "r2", "d1", XY, "p1", C, NULL, "x/y/new", 0, 0, ALLOW, VP_BY_RULE, "r2-records", -1},
    {"create outside", 0, "r2", "d1", XY, "p1", C, NULL, "x/q", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"erase", 0, "r2", "d1", XY, "p1", E, NULL, "x/y", 0, 0, ALLOW, VP_BY_RULE, "r2-records", -1},
    {"record-level ignores field rules", 0, "r1", "d1", XY, "p1", C, NULL, "x/y", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"record-level erase by r1", 0, "r1", "d1", XY, "p1", E, NULL, "x/y", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    /* subjects */
    {"user pattern", "alice", "r3", "d1", XY, "p1", R, "e", "x/y", 0, 0, ALLOW, VP_BY_RULE, "user-alice", -1},
    {"user pattern other user", "bob", "r3", "d1", XY, "p1", R, "e", "x/y", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"department-only rule", 0, "r2", "d2", XY, "p2", R, "a", "x/y", 0, 0, MASK, VP_BY_RULE, "dept-d2-mask", VAULT_MASK_NAME},
    {"allow of role beats department mask", 0, "r3", "d2", XY, "p2", R, "a", "x/y", 0, 0, ALLOW, VP_BY_RULE, "sel-max", -1},
    /* evaluation errors fail closed */
    {"empty record jurisdiction", 0, "r1", "d1", XY, "p1", R, "a", "", 0, 0, DENY, VP_BY_ERROR, NULL, -1},
    {"missing record jurisdiction", 0, "r1", "d1", XY, "p1", R, "a", NULL, 0, 0, DENY, VP_BY_ERROR, NULL, -1},
    {"missing subject jurisdiction", 0, "r1", "d1", NULL, "p1", R, "a", "x/y", 0, 0, DENY, VP_BY_ERROR, NULL, -1},
    {"dot-dot jurisdiction", 0, "r1", "d1", XY, "p1", R, "a", "x/y/../../q", 0, 0, DENY, VP_BY_ERROR, NULL, -1},
    {"unknown field", 0, "r1", "d1", XY, "p1", R, "zz", "x/y", 0, 0, DENY, VP_BY_ERROR, NULL, -1},
    {"field-level action without field", 0, "r1", "d1", XY, "p1", R, NULL, "x/y", 0, 0, DENY, VP_BY_ERROR, NULL, -1},
    {"create with a field", 0, "r2", "d1", XY, "p1", C, "a", "x/y", 0, 0, DENY, VP_BY_ERROR, NULL, -1},
    {"unknown role", 0, "r9", "d1", XY, "p1", R, "a", "x/y", 0, 0, DENY, VP_BY_ERROR, NULL, -1},
    {"unknown department", 0, "r1", "d9", XY, "p1", R, "a", "x/y", 0, 0, DENY, VP_BY_ERROR, NULL, -1},
    {"unknown purpose", 0, "r1", "d1", XY, "p9", R, "a", "x/y", 0, 0, DENY, VP_BY_ERROR, NULL, -1},
    {"missing purpose", 0, "r1", "d1", XY, NULL, R, "a", "x/y", 0, 0, DENY, VP_BY_ERROR, NULL, -1},
    {"bad action", 0, "r1", "d1", XY, "p1", 17, "a", "x/y", 0, 0, DENY, VP_BY_ERROR, NULL, -1},
    {"negative action", 0, "r1", "d1", XY, "p1", -1, "a", "x/y", 0, 0, DENY, VP_BY_ERROR, NULL, -1},
    /* a scope-any deny is decided without the jurisdiction */
    {"deny needs no jurisdiction", 0, "r1", "d1", XY, "p1", R, "d", NULL, 0, 0, DENY, VP_BY_RULE, "deny-r1-d", -1},
};

static void test_decide_rules(void **state)
{
    vault_policy *p = load_ok("tests/data/policy/decide.yaml", NULL);

    (void)state;
    run_cases(p, NULL, rule_cases, sizeof rule_cases / sizeof rule_cases[0]);
    policy_free(p);
}

static void test_decide_bad_calls(void **state)
{
    vault_policy *p = load_ok("tests/data/policy/decide.yaml", NULL);
    vault_policy *q = load_ok("tests/data/policy/decide.yaml", NULL);
    vp_subject s = {"u", "r1", "d1", "x/y"};
    vp_request r = {&s, R, "p1", NULL, "x/y", "a", 0};
    vp_request nosubj = {NULL, R, "p1", NULL, "x/y", "a", 0};
    vp_subject nouser = {NULL, "r1", "d1", "x/y"};
    vp_request rnouser = {&nouser, R, "p1", NULL, "x/y", "a", 0};
    vp_grantset *g = NULL;
    vp_decision d;

    (void)state;
    assert_true(policy_decide(NULL, p, NULL, &r) < 0);
    assert_true(policy_decide(&d, NULL, NULL, &r) < 0);
    assert_int_equal(d.effect, DENY);
    assert_int_equal(d.by, VP_BY_ERROR);
    assert_true(policy_decide(&d, p, NULL, NULL) < 0);
    assert_int_equal(d.effect, DENY);
    assert_true(policy_decide(&d, p, NULL, &nosubj) < 0);
    assert_int_equal(d.effect, DENY);
    assert_true(policy_decide(&d, p, NULL, &rnouser) < 0);
    assert_int_equal(d.by, VP_BY_ERROR);
    /* A grant set built for another policy is refused, not trusted. */
    assert_int_equal(policy_grantset_new(&g, q, NULL, 0), 0);
    assert_true(policy_decide(&d, p, g, &r) < 0);
    assert_int_equal(d.effect, DENY);
    assert_int_equal(d.by, VP_BY_ERROR);
    assert_int_equal(policy_decide(&d, p, NULL, &r), 0);
    assert_int_equal(d.effect, ALLOW);
    policy_grantset_free(g);
    policy_free(p);
    policy_free(q);
}

/* ---- Grants ---- */

static const char *const f_a[] = {"a"}, *const f_b[] = {"b"}, *const f_c[] = {"c"},
                         *const f_e[] = {"e"};
static const char *const p_p1[] = {"p1"};
static const char *const recs[] = {REC2, REC1};

static const vp_grant fixture_grants[] = {
    {"g-active", NULL, "r2", NULL, ALLOW, 1u << R, f_a, 1, 0, 0, NULL, 0, "x/y", NULL, 0, 1000, 2000},
    {"g-purpose", NULL, "r2", NULL, MASK, 1u << R, f_b, 1, 0, 0, NULL, 0, "x", p_p1, 1, 0, 5000},
    {"g-rec", "bob", NULL, NULL, ALLOW, 1u << R, f_c, 1, 0, 0, recs, 2, NULL, NULL, 0, 0, 5000},
    {"g-e", NULL, "r2", NULL, ALLOW, 1u << R, f_e, 1, 0, 0, NULL, 0, "x", NULL, 0, 0, 5000},
    {"g-r1-b", NULL, "r1", NULL, ALLOW, 1u << R, f_b, 1, 0, 0, NULL, 0, "x", NULL, 0, 0, 5000},
    {"g-whole", NULL, "r3", NULL, ALLOW, 1u << C, NULL, 0, 0, 3, NULL, 0, "x", NULL, 0, 0, 5000},
    {"g-dept", NULL, NULL, "d2", MASK, 1u << R, NULL, 0, 0, 0, NULL, 0, "x", NULL, 0, 0, 5000},
    {"g-future", "carol", NULL, NULL, ALLOW, 1u << R, f_a, 1, 0, 0, NULL, 0, "x", NULL, 0, 3000, 4000},
    {"g-partial", NULL, "r3", NULL, ALLOW, 1u << E, NULL, 0, 1, 3, NULL, 0, "x", NULL, 0, 0, 5000},
    {"g-ghost-role", NULL, "nobody", NULL, ALLOW, 1u << R, f_a, 1, 0, 0, NULL, 0, "x", NULL, 0, 0, 5000},
};

static const dcase grant_cases[] = {
    {"grant active at not_before", 0, "r2", "d1", XY, "p1", R, "a", "x/y/z", 0, 1000, ALLOW, VP_BY_GRANT, "g-active", -1},
    {"grant active before not_after", 0, "r2", "d1", XY, "p1", R, "a", "x/y/z", 0, 1999, ALLOW, VP_BY_GRANT, "g-active", -1},
    {"grant expired at exactly not_after", 0, "r2", "d1", XY, "p1", R, "a", "x/y/z", 0, 2000, DENY, VP_BY_DEFAULT, NULL, -1},
    {"grant not yet valid", 0, "r2", "d1", XY, "p1", R, "a", "x/y/z", 0, 999, DENY, VP_BY_DEFAULT, NULL, -1},
    {"grant jurisdiction sibling prefix", 0, "r2", "d1", XY, "p1", R, "a", "x/yz", 0, 1500, DENY, VP_BY_DEFAULT, NULL, -1},
    {"grant jurisdiction equal", 0, "r2", "d1", "q", "p1", R, "a", "x/y", 0, 1500, ALLOW, VP_BY_GRANT, "g-active", -1},
    {"grant purpose listed", 0, "r2", "d1", XY, "p1", R, "b", "x/y", 0, 1500, MASK, VP_BY_GRANT, "g-purpose", VAULT_MASK_PHONE},
    {"grant wrong purpose", 0, "r2", "d1", XY, "p2", R, "b", "x/y", 0, 1500, DENY, VP_BY_DEFAULT, NULL, -1},
    {"grant wrong action", 0, "r2", "d1", XY, "p1", X, "a", "x/y", 0, 1500, DENY, VP_BY_DEFAULT, NULL, -1},
    {"grant record listed", "bob", "r3", "d1", XY, "p2", R, "c", "q/q", REC1, 1500, ALLOW, VP_BY_GRANT, "g-rec", -1},
    {"grant other record listed", "bob", "r3", "d1", XY, "p2", R, "c", "q/q", REC2, 1500, ALLOW, VP_BY_GRANT, "g-rec", -1},
    {"grant record not listed", "bob", "r3", "d1", XY, "p2", R, "c", "q/q", REC3, 1500, DENY, VP_BY_DEFAULT, NULL, -1},
    {"grant record id absent", "bob", "r3", "d1", XY, "p2", R, "c", "q/q", NULL, 1500, DENY, VP_BY_DEFAULT, NULL, -1},
    {"grant user pattern other user", "alice", "r3", "d1", XY, "p2", R, "c", "q/q", REC1, 1500, DENY, VP_BY_DEFAULT, NULL, -1},
    {"deny rule beats grant", 0, "r2", "d1", XY, "p1", R, "e", "x/y", 0, 1500, DENY, VP_BY_RULE, "deny-r2-e", -1},
    {"grant allow beats rule mask", 0, "r1", "d1", XY, "p2", R, "b", "x/q", 0, 1500, ALLOW, VP_BY_GRANT, "g-r1-b", -1},
    {"rule allow wins tie with grant", 0, "r1", "d1", XY, "p1", R, "b", "x/y", 0, 1500, ALLOW, VP_BY_RULE, "allow-r1", -1},
    {"record-level grant", 0, "r3", "d1", XY, "p1", C, NULL, "x/y", 0, 1500, ALLOW, VP_BY_GRANT, "g-whole", -1},
    {"record-level grant outside", 0, "r3", "d1", XY, "p1", C, NULL, "q", 0, 1500, DENY, VP_BY_DEFAULT, NULL, -1},
    {"partial grade grant covers no record", 0, "r3", "d1", XY, "p1", E, NULL, "x/y", 0, 1500, DENY, VP_BY_DEFAULT, NULL, -1},
    {"department grant, grade range", 0, "r3", "d2", XY, "p1", R, "a", "x/y", 0, 1500, MASK, VP_BY_GRANT, "g-dept", VAULT_MASK_NAME},
    {"department grant other grade", 0, "r3", "d2", XY, "p1", R, "b", "x/y", 0, 1500, DENY, VP_BY_DEFAULT, NULL, -1},
    {"user grant not yet valid", "carol", "r3", "d1", XY, "p1", R, "a", "x/y", 0, 1500, DENY, VP_BY_DEFAULT, NULL, -1},
    {"user grant valid", "carol", "r3", "d1", XY, "p1", R, "a", "x/y", 0, 3000, ALLOW, VP_BY_GRANT, "g-future", -1},
    {"grant needs record jurisdiction", 0, "r2", "d1", XY, "p1", R, "a", NULL, 0, 1500, DENY, VP_BY_ERROR, NULL, -1},
};

static void test_grants(void **state)
{
    vault_policy *p = load_ok("tests/data/policy/decide.yaml", NULL);
    vp_grantset *g = NULL;

    (void)state;
    assert_int_equal(policy_grantset_new(&g, p, fixture_grants,
                                         sizeof fixture_grants / sizeof fixture_grants[0]),
                     0);
    run_cases(p, g, grant_cases, sizeof grant_cases / sizeof grant_cases[0]);
    /* The rule cases are unchanged by these grants where no grant applies. */
    run_cases(p, g, rule_cases, 4);
    policy_grantset_free(g);
    /* An empty grant set changes nothing. */
    assert_int_equal(policy_grantset_new(&g, p, NULL, 0), 0);
    run_cases(p, g, rule_cases, sizeof rule_cases / sizeof rule_cases[0]);
    policy_grantset_free(g);
    policy_free(p);
}

static void test_grantset_invalid(void **state)
{
    vault_policy *p = load_ok("tests/data/policy/decide.yaml", NULL);
    vp_grantset *g = (vp_grantset *)1;
    vp_grant bad[] = {
        {NULL, "bob", NULL, NULL, ALLOW, 1u << R, f_a, 1, 0, 0, NULL, 0, "x", NULL, 0, 0, 10},
        {"no-subject", NULL, NULL, NULL, ALLOW, 1u << R, f_a, 1, 0, 0, NULL, 0, "x", NULL, 0, 0, 10},
        {"deny-effect", "bob", NULL, NULL, DENY, 1u << R, f_a, 1, 0, 0, NULL, 0, "x", NULL, 0, 0, 10},
        {"bad-actions", "bob", NULL, NULL, ALLOW, 1u << 9, f_a, 1, 0, 0, NULL, 0, "x", NULL, 0, 0, 10},
        {"no-scope", "bob", NULL, NULL, ALLOW, 1u << R, f_a, 1, 0, 0, NULL, 0, NULL, NULL, 0, 0, 10},
        {"bad-scope", "bob", NULL, NULL, ALLOW, 1u << R, f_a, 1, 0, 0, NULL, 0, "a//b", NULL, 0, 0, 10},
    };

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        g = (vp_grantset *)1;
        if (policy_grantset_new(&g, p, &bad[i], 1) != VAULT_EINVALID)
            fail_msg("grant %zu should be refused", i);
        assert_null(g);
    }
    policy_free(p);
}

/* ---- Validation ---- */

typedef struct vcase {
    const char *file;
    int rc;
    const char *want[16]; /* substrings of the report, NULL-terminated */
    unsigned errors;     /* exact number of error lines */
    unsigned warnings;   /* exact number of warning lines */
} vcase;

static const vcase vcases[] = {
    {"unknown_role.yaml", VAULT_EPOLICY,
     {"tests/data/policy/unknown_role.yaml:16:22: error: unknown role 'clerc'",
      "unknown_role.yaml:18:16: error: unknown purpose 'servise'",
      "unknown_role.yaml:20:20: error: unknown field 'nmae'", NULL},
     3, 0},
    {"duplicates.yaml", VAULT_EPOLICY,
     {"duplicates.yaml:6:3: error: duplicate field 'name' (first declared at 5:3)",
      "duplicates.yaml:8:16: error: duplicate role 'clerk' (first declared at 8:9)",
      "duplicates.yaml:16:9: error: duplicate rule id 'read-all' (first used at line 11)",
      "duplicates.yaml:20:5: error: duplicate key 'scope' in rule (first at line 19)", NULL},
     4, 0},
    {"bad_duration.yaml", VAULT_EPOLICY,
     {"bad_duration.yaml:18:19: error: malformed duration '30x'",
      "bad_duration.yaml:22:19: error: malformed duration '1.5h'",
      "bad_duration.yaml:26:17: error: malformed duration '0h'", NULL},
     3, 0},
    {"bad_selector.yaml", VAULT_EPOLICY,
     {"bad_selector.yaml:15:19: error: impossible selector: grades min 'special' is above max "
      "'public'",
      "bad_selector.yaml:22:13: error: impossible selector: give either fields or grades",
      "bad_selector.yaml:28:13: error: impossible selector: the fields list is empty",
      "bad_selector.yaml:32:21: error: action 'create' acts on whole records",
      "bad_selector.yaml:40:13: error: impossible selector: grades needs min, max or both", NULL},
     5, 0},
    {"bad_quota.yaml", VAULT_EPOLICY,
     {"bad_quota.yaml:20:12: error: a quota counts one of searches, reads or residents, not "
      "both searches and reads: split it",
      "bad_quota.yaml:22:5: error: quota 'neither' has no limit: give searches (with fields), "
      "reads or residents",
      "bad_quota.yaml:27:13: error: a reads quota counts records read, whatever the fields",
      "bad_quota.yaml:32:15: error: a search quota needs the fields it lets be searched",
      "bad_quota.yaml:36:13: error: a residents quota counts the residents read, whatever the "
      "fields: drop fields",
      "bad_quota.yaml:43:11: error: unknown over 'warn': use deny or alert",
      "bad_quota.yaml:47:16: error: a quota counts one of searches, reads or residents, not "
      "both reads and residents",
      "bad_quota.yaml:51:16: error: residents must be a whole number from 1 to 1000000", NULL},
     8, 0},
    {"bad_retention.yaml", VAULT_EPOLICY,
     {"bad_retention.yaml:12:5: error: retention schedule 'nothing' covers nothing",
      "bad_retention.yaml:17:13: error: a retention schedule covers the record, fields or "
      "categories: one of them",
      "bad_retention.yaml:21:13: error: record: false covers nothing",
      "bad_retention.yaml:26:11: error: malformed duration '1w' for keep",
      "bad_retention.yaml:31:12: error: after must be last_write or a declared field",
      "bad_retention.yaml:36:18: error: unknown field 'case_open'",
      "bad_retention.yaml:38:18: error: no field has category 'secret_info'",
      "bad_retention.yaml:45:19: error: invalid jurisdiction 'a//b'",
      "bad_retention.yaml:46:9: error: duplicate retention id 'both' (first at line 15)",
      "bad_retention.yaml:47:14: error: unknown field 'pager'",
      "bad_retention.yaml:48:11: error: malformed duration '11y' for keep",
      "bad_retention.yaml:50:5: error: retention schedule is missing the required key 'keep'",
      "bad_retention.yaml:53:5: error: unknown key 'colour'", NULL},
     13, 1},
    {"bad_rule_mask.yaml", VAULT_EPOLICY,
     {"bad_rule_mask.yaml:15:11: error: mask 'pseudonym' on a rule whose effect is not mask",
      "bad_rule_mask.yaml:21:11: error: unknown mask 'blur'",
      "bad_rule_mask.yaml:27:11: error: unknown mask 'none'",
      "bad_rule_mask.yaml:33:12: error: alarm: true is for deny rules",
      "bad_rule_mask.yaml:39:12: error: alarm is true or false", NULL},
     5, 0},
    {"shadowed.yaml", VAULT_OK,
     {"shadowed.yaml:19:5: warning: rule 'clerk-special' (allow) can never take effect: deny rule "
      "'no-special' (line 13)",
      "shadowed.yaml:31:5: warning: rule 'nobody-purpose' has an empty purposes list",
      "shadowed.yaml:38:15: warning: subject role 'clerk' with department 'clinic' can never match",
      NULL},
     0, 3},
    {"structure.yaml", VAULT_EPOLICY,
     {"structure.yaml:1:10: error: unsupported version",
      "structure.yaml:3:1: error: unknown key 'colour' in the policy",
      "structure.yaml:6:30: error: unknown mask 'blur'",
      "structure.yaml:11:5: error: rule has no effect",
      "structure.yaml:13:14: error: actions must be a list (or a single name), not a mapping",
      "structure.yaml:20:5: error: more than one effect (first at line 19)",
      "structure.yaml:25:13: error: a rule has exactly one effect (allow, mask or deny), not a list",
      NULL},
     14, 0},
    {"malformed.yaml", VAULT_EPOLICY,
     {"malformed.yaml:4:7: error: YAML syntax error: did not find expected ',' or ']'", NULL}, 1,
     0},
    {"empty.yaml", VAULT_EPOLICY, {"empty.yaml:1:1: error: empty policy", NULL}, 1, 0},
    {"comments_only.yaml", VAULT_EPOLICY, {"comments_only.yaml:1:1: error: empty policy", NULL}, 1,
     0},
    {"alias.yaml", VAULT_EPOLICY,
     {"alias.yaml:6:14: error: YAML aliases (*name) are not supported", NULL}, 1, 1},
    {"decide.yaml", VAULT_OK, {NULL}, 0, 0},
};

static void test_validation_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vcases / sizeof vcases[0]; i++) {
        const vcase *v = &vcases[i];
        char rel[256], path[1024], *rep = NULL, first[600];
        vault_policy *p = NULL;
        int rc;

        snprintf(rel, sizeof rel, "tests/data/policy/%s", v->file);
        /* Relative path, so the report's file names are predictable. */
        rc = policy_load_file(&p, &rep, NULL, NULL, src_path(path, sizeof path, rel));
        if (rc != v->rc)
            fail_msg("%s: rc %d, want %d\n%s", v->file, rc, v->rc, rep ? rep : "");
        assert_non_null(rep);
        assert_true((p != NULL) == (rc == 0));
        if (rc != 0) {
            /* vault_error_last() is the first error, without "error: ". */
            snprintf(first, sizeof first, "%s", vault_error_last());
            assert_lacks(first, ": error: ");
            assert_contains(first, v->file);
        }
        for (size_t k = 0; v->want[k] != NULL; k++)
            assert_contains(rep, v->want[k]);
        if (count_substr(rep, ": error: ") != v->errors ||
            count_substr(rep, ": warning: ") != v->warnings)
            fail_msg("%s: %zu errors / %zu warnings, want %u / %u\n%s", v->file,
                     count_substr(rep, ": error: "), count_substr(rep, ": warning: "), v->errors,
                     v->warnings, rep);
        free(rep);
        policy_free(p);
    }
}

/* Unknown role reported at exactly FILE:LINE:COL, file name as given. */
static void test_unknown_role_position(void **state)
{
    const char *text = "version: 1\n"
                       "name: pos\n"
                       "grades: [low]\n"
                       "fields: {x: {grade: low}}\n"
                       "departments: [d]\n"
                       "roles: [clerk]\n"
                       "purposes: [p]\n"
                       "rules:\n"
                       "  - id: r\n"
                       "    subjects: {role: clerk}\n"
                       "    actions: [read]\n"
                       "    scope: any\n"
                       "    effect: allow\n"
                       "  - id: s\n"
                       "    subjects:\n"
                       "      - {department: d}\n"
                       "      - role:    ghost\n"
                       "    actions: read\n"
                       "    scope: any\n"
                       "    effect: deny\n";
    vault_policy *p = NULL;
    char *rep = NULL;

    (void)state;
    assert_int_equal(policy_parse(&p, &rep, "my/pos.yaml", text, strlen(text)), VAULT_EPOLICY);
    assert_null(p);
    assert_string_equal(rep, "my/pos.yaml:17:18: error: unknown role 'ghost' (not declared under "
                             "roles:)\n");
    assert_string_equal(vault_error_last(),
                        "my/pos.yaml:17:18: unknown role 'ghost' (not declared under roles:)");
    free(rep);
}

static void test_empty_and_limits(void **state)
{
    vault_policy *p = (vault_policy *)1;
    char *rep = NULL, *big, path[] = "/tmp/test_policy_bigXXXXXX";
    size_t n = 10u * 1024 * 1024;
    int fd;
    FILE *f;

    (void)state;
    /* Empty text. */
    assert_int_equal(policy_parse(&p, &rep, "e.yaml", "", 0), VAULT_EPOLICY);
    assert_null(p);
    assert_string_equal(rep, "e.yaml:1:1: error: empty policy\n");
    free(rep);
    assert_int_equal(policy_parse(&p, &rep, "e.yaml", "\n\n# nothing\n", 12), VAULT_EPOLICY);
    assert_string_equal(rep, "e.yaml:1:1: error: empty policy\n");
    free(rep);
    assert_int_equal(policy_parse(&p, NULL, "e.yaml", "~\n", 2), VAULT_EPOLICY);
    assert_int_equal(policy_parse(&p, &rep, "e.yaml", "just a string\n", 14), VAULT_EPOLICY);
    assert_contains(rep, "e.yaml:1:1: error: a policy must be a mapping");
    free(rep);

    /* 10 MB of text: refused before parsing, cleanly. */
    big = malloc(n);
    assert_non_null(big);
    memset(big, 'a', n);
    for (size_t i = 80; i < n; i += 81)
        big[i] = '\n';
    assert_int_equal(policy_parse(&p, &rep, "big.yaml", big, n), VAULT_ELIMIT);
    assert_null(p);
    assert_contains(rep, "big.yaml:1:1: error: policy is 10485760 bytes, larger than the limit of "
                         "1048576 bytes");
    assert_contains(vault_error_last(), "larger than the limit");
    free(rep);
    /* The same from a file: not read beyond the limit. */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(big, 1, n, f), n);
    fclose(f);
    assert_int_equal(policy_load_file(&p, &rep, NULL, NULL, path), VAULT_ELIMIT);
    assert_null(p);
    assert_contains(rep, ":1:1: error: policy file is larger than the limit of 1048576 bytes");
    free(rep);
    unlink(path);
    free(big);

    /* Missing file. */
    assert_int_equal(policy_load_file(&p, &rep, NULL, NULL, "/nonexistent/policy.yaml"),
                     VAULT_ENOTFOUND);
    assert_null(rep);
}

static void test_deep_nesting(void **state)
{
    char text[512];
    size_t o;
    vault_policy *p = NULL;
    char *rep = NULL;

    (void)state;
    /* 1 (document map) + 40 sequences: over the limit of 32. */
    o = (size_t)snprintf(text, sizeof text, "version: 1\ndescription: ");
    for (int i = 0; i < 40; i++)
        text[o++] = '[';
    for (int i = 0; i < 40; i++)
        text[o++] = ']';
    text[o++] = '\n';
    text[o] = '\0';
    assert_int_equal(policy_parse(&p, &rep, "deep.yaml", text, o), VAULT_ELIMIT);
    assert_contains(rep, "deep.yaml:2:45: error: YAML nesting deeper than 32 levels");
    free(rep);
    /* 31 levels: no limit problem, just a wrong type. */
    o = (size_t)snprintf(text, sizeof text, "version: 1\ndescription: ");
    for (int i = 0; i < 31; i++)
        text[o++] = '[';
    for (int i = 0; i < 31; i++)
        text[o++] = ']';
    text[o] = '\0';
    assert_int_equal(policy_parse(&p, &rep, "deep.yaml", text, o), VAULT_EPOLICY);
    assert_lacks(rep, "nesting");
    assert_contains(rep, "description must be a single value, not a list");
    free(rep);
}

static void test_count_limits(void **state)
{
    const char *head = "version: 1\nname: many\ngrades: [low]\ndepartments: [d]\nroles: [r]\n"
                       "purposes: [p]\n";
    size_t cap = 2u * 1024 * 1024, o;
    char *text = malloc(cap), *rep = NULL;
    vault_policy *p = NULL;

    (void)state;
    assert_non_null(text);
    /* 10 001 rules. */
    o = (size_t)snprintf(text, cap, "%sfields: {x: {grade: low}}\nrules:\n", head);
    for (int i = 0; i < 10001; i++)
        o += (size_t)snprintf(text + o, cap - o,
                              "- {id: r%d, subjects: any, actions: [read], scope: any, effect: "
                              "deny}\n",
                              i);
    assert_true(o < VP_SOURCE_MAX);
    assert_int_equal(policy_parse(&p, &rep, "many.yaml", text, o), VAULT_ELIMIT);
    assert_contains(rep, "many.yaml:10009:3: error: too many rules: at most 10000");
    free(rep);
    /* 10 000 rules are fine (and all shadow nothing: only denies). */
    o = (size_t)snprintf(text, cap, "%sfields: {x: {grade: low}}\nrules:\n", head);
    for (int i = 0; i < 10000; i++)
        o += (size_t)snprintf(text + o, cap - o,
                              "- {id: r%d, subjects: any, actions: [read], scope: any, effect: "
                              "deny}\n",
                              i);
    assert_int_equal(policy_parse(&p, &rep, "many.yaml", text, o), 0);
    assert_int_equal(policy_rule_count(p), 10000);
    free(rep);
    policy_free(p);
    p = NULL;
    /* 4 097 fields. */
    o = (size_t)snprintf(text, cap, "%srules: []\nfields:\n", head);
    for (int i = 0; i < 4097; i++)
        o += (size_t)snprintf(text + o, cap - o, "  f%d: {grade: low}\n", i);
    assert_int_equal(policy_parse(&p, &rep, "many.yaml", text, o), VAULT_ELIMIT);
    assert_contains(rep, "error: too many fields: at most 4096");
    free(rep);
    free(text);
}

static void test_report_everything_and_names(void **state)
{
    /* Every problem is reported, not only the first; bad names too. */
    const char *text = "version: 1\n"
                       "name: names\n"
                       "grades: [Low, ok]\n"
                       "fields:\n"
                       "  'bad field': {grade: ok}\n"
                       "  fine: {grade: nope, category: PII}\n"
                       "departments: []\n"
                       "roles: [r]\n"
                       "purposes: [p]\n"
                       "rules:\n"
                       "  - id: Bad_Id\n"
                       "    subjects: {role: r, user: 'two words'}\n"
                       "    actions: [read]\n"
                       "    scope: any\n"
                       "    effect: allow\n";
    vault_policy *p = NULL;
    char *rep = NULL;

    (void)state;
    assert_int_equal(policy_parse(&p, &rep, "n.yaml", text, strlen(text)), VAULT_EPOLICY);
    assert_contains(rep, "n.yaml:3:10: error: invalid grade 'Low'");
    assert_contains(rep, "n.yaml:5:3: error: invalid field name 'bad field'");
    assert_contains(rep, "n.yaml:6:17: error: unknown grade 'nope'");
    assert_contains(rep, "n.yaml:6:33: error: invalid category 'PII'");
    assert_contains(rep, "n.yaml:7:14: error: departments: declare at least one department");
    assert_contains(rep, "n.yaml:11:9: error: invalid rule id 'Bad_Id'");
    assert_contains(rep, "n.yaml:12:31: error: invalid user 'two words'");
    assert_int_equal(count_substr(rep, ": error: "), 7);
    free(rep);
}

/* ---- Shipped policies ---- */

static void test_shipped_policies(void **state)
{
    char dir[1024], rel[1200];
    DIR *d;
    struct dirent *e;
    int n = 0;

    (void)state;
    d = opendir(src_path(dir, sizeof dir, "policies"));
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char *rep = NULL;
        vault_policy *p;

        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        snprintf(rel, sizeof rel, "policies/%s", e->d_name);
        p = load_ok(rel, &rep);
        if (rep[0] != '\0')
            fail_msg("%s has warnings:\n%s", rel, rep);
        free(rep);
        policy_free(p);
        n++;
    }
    closedir(d);
    assert_true(n >= 3);
}

static void test_community_declarations(void **state)
{
    static const struct {
        const char *name, *grade;
        vault_mask_kind mask;
        int index;
    } want[] = {
        {"name", "personal", VAULT_MASK_NAME, 0},
        {"gender", "internal", VAULT_MASK_NONE, 0},
        {"birth_date", "personal", VAULT_MASK_AGE_BAND, 0},
        {"ethnicity", "sensitive", VAULT_MASK_REDACT, 0},
        {"id_number", "sensitive", VAULT_MASK_ID_NUMBER, 1},
        {"phone", "personal", VAULT_MASK_PHONE, 1},
        {"address", "personal", VAULT_MASK_ADDRESS, 0},
        {"household_registration", "personal", VAULT_MASK_ADDRESS, 0},
        {"marital_status", "personal", VAULT_MASK_REDACT, 0},
        {"religion", "sensitive", VAULT_MASK_REDACT, 0},
        {"health", "sensitive", VAULT_MASK_FLAG, 0},
        {"disability", "sensitive", VAULT_MASK_FLAG, 0},
        {"social_assistance", "sensitive", VAULT_MASK_FLAG, 0},
        {"bank_account", "sensitive", VAULT_MASK_BANK_CARD, 0},
        {"location", "sensitive", VAULT_MASK_REDACT, 0},
        {"minor", "sensitive", VAULT_MASK_FLAG, 0},
        {"serious_mental_disorder", "special", VAULT_MASK_FLAG, 0},
        {"community_correction", "special", VAULT_MASK_FLAG, 0},
        {"drug_rehabilitation", "special", VAULT_MASK_FLAG, 0},
        {"criminal_record", "special", VAULT_MASK_FLAG, 0},
        {"complainant_identity", "special", VAULT_MASK_REDACT, 0},
    };
    static const char *const grades[] = {"public", "internal", "personal", "sensitive", "special"};
    static const char *const depts[] = {"street_office", "community_committee", "hotline_12345",
                                        "civil_affairs", "public_security", "health", "judicial"};
    static const char *const roles[] = {"grid_worker", "community_staff", "street_officer",
                                        "data_officer", "hotline_agent", "civil_affairs_officer",
                                        "police_officer", "health_worker", "judicial_officer",
                                        "auditor"};
    static const char *const purposes[] = {
        "resident_service", "grid_management", "hotline_followup", "social_assistance",
        "public_health", "law_enforcement", "community_correction", "audit", "resident_request",
        "emergency"};
    vault_policy *p = load_ok("policies/community.yaml", NULL);

    (void)state;
    assert_string_equal(policy_name(p), "community-default");
    assert_int_equal(policy_grade_count(p), 5);
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(policy_grade_name(p, i), grades[i]);
        assert_int_equal(policy_grade_index(p, grades[i]), (int)i);
    }
    assert_string_equal(policy_grade_label(p, 4), "特殊保护");
    assert_int_equal(policy_grade_index(p, "secret"), -1);
    assert_null(policy_grade_name(p, 5));
    assert_int_equal(policy_field_count(p), 21);
    for (size_t i = 0; i < 21; i++) {
        const vp_field *f = policy_field_at(p, i);
        assert_string_equal(f->name, want[i].name);
        assert_ptr_equal(policy_field(p, want[i].name), f);
        assert_int_equal(f->grade, policy_grade_index(p, want[i].grade));
        assert_int_equal(f->mask, want[i].mask);
        assert_int_equal(f->index_exact, want[i].index);
        assert_non_null(f->category);
    }
    assert_string_equal(policy_field(p, "health")->category, "sensitive_personal_info");
    assert_null(policy_field(p, "salary"));
    assert_null(policy_field_at(p, 21));
    assert_int_equal(policy_department_count(p), 7);
    for (size_t i = 0; i < 7; i++) {
        assert_string_equal(policy_department_name(p, i), depts[i]);
        assert_true(policy_has_department(p, depts[i]));
    }
    assert_int_equal(policy_role_count(p), 10);
    for (size_t i = 0; i < 10; i++) {
        assert_string_equal(policy_role_name(p, i), roles[i]);
        assert_true(policy_has_role(p, roles[i]));
    }
    assert_int_equal(policy_purpose_count(p), 10);
    for (size_t i = 0; i < 10; i++) {
        assert_string_equal(policy_purpose_name(p, i), purposes[i]);
        assert_true(policy_has_purpose(p, purposes[i]));
    }
    assert_false(policy_has_role(p, "mayor"));
    assert_false(policy_has_role(p, NULL));
    assert_true(policy_role_in_department(p, "grid_worker", "community_committee"));
    assert_false(policy_role_in_department(p, "grid_worker", "public_security"));
    policy_free(p);
}

static void test_policy_hash(void **state)
{
    char path[1024], *text = NULL, *raw;
    size_t len = 0, rawlen;
    uint8_t h[32];
    vault_policy *p = NULL;

    (void)state;
    src_path(path, sizeof path, "policies/community.yaml");
    raw = read_all(path, &rawlen);
    assert_int_equal(policy_load_file(&p, NULL, &text, &len, path), 0);
    assert_int_equal(len, rawlen);
    assert_memory_equal(text, raw, len);
    assert_int_equal(text[len], '\0');
    assert_int_equal(vc_sha256(h, raw, rawlen), 0);
    assert_memory_equal(policy_hash(p), h, 32);
    assert_string_equal(policy_filename(p), path);
    policy_free(p);
    /* One byte more (a trailing comment) gives another hash. */
    raw = realloc(raw, rawlen + 2);
    assert_non_null(raw);
    raw[rawlen] = '#';
    assert_int_equal(policy_parse(&p, NULL, "c.yaml", raw, rawlen + 1), 0);
    assert_memory_not_equal(policy_hash(p), h, 32);
    policy_free(p);
    free(raw);
    free(text);
}

/* ---- End to end on the default policy ---- */

#define XIAOHE "hangzhou/shangcheng/xiaohe"
#define CHANGZHENG "hangzhou/shangcheng/xiaohe/changzheng"
#define GW "grid_worker", "community_committee", GRID07, "grid_management"
#define CS "community_staff", "community_committee", CHANGZHENG, "resident_service"
#define DO "data_officer", "street_office", XIAOHE
#define HW "health_worker", "health", XIAOHE, "public_health"
#define HA "hotline_agent", "hotline_12345", "hangzhou", "hotline_followup"
#define CA "civil_affairs_officer", "civil_affairs", "hangzhou/shangcheng", "social_assistance"
#define PO "police_officer", "public_security", XIAOHE, "law_enforcement"
#define JO "judicial_officer", "judicial", XIAOHE, "community_correction"
#define AU "auditor", "street_office", "hangzhou", "audit"

static const dcase community_cases[] = {
    {"grid: phone masked in own grid", 0, GW, R, "phone", GRID07, 0, 0, MASK, VP_BY_RULE, "grid-contact-masked", VAULT_MASK_PHONE},
    {"grid: name masked", 0, GW, R, "name", GRID07, 0, 0, MASK, VP_BY_RULE, "grid-contact-masked", VAULT_MASK_NAME},
    {"grid: id masked", 0, GW, R, "id_number", GRID07, 0, 0, MASK, VP_BY_RULE, "grid-contact-masked", VAULT_MASK_ID_NUMBER},
    {"grid: address masked", 0, GW, R, "address", GRID07, 0, 0, MASK, VP_BY_RULE, "grid-contact-masked", VAULT_MASK_ADDRESS},
    {"grid: gender allowed", 0, GW, R, "gender", GRID07, 0, 0, ALLOW, VP_BY_RULE, "grid-gender", -1},
    {"grid: other grid denied", 0, GW, R, "phone", GRID08, 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"grid: other street denied", 0, GW, R, "gender", "hangzhou/xihu/beishan/a/grid-07", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"grid: special never", 0, GW, R, "criminal_record", GRID07, 0, 0, DENY, VP_BY_RULE, "community-deny-special", -1},
    {"grid: health not allowed", 0, GW, R, "health", GRID07, 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"grid: search phone", 0, GW, S, "phone", GRID07, 0, 0, ALLOW, VP_BY_RULE, "grid-search", -1},
    {"grid: wrong purpose", 0, "grid_worker", "community_committee", GRID07, "resident_service", R, "phone", GRID07, 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"grid: write denied", 0, GW, W, "phone", GRID07, 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"community: personal allowed", 0, CS, R, "name", GRID07, 0, 0, ALLOW, VP_BY_RULE, "community-read-personal", -1},
    {"community: sensitive masked", 0, CS, R, "health", GRID07, 0, 0, MASK, VP_BY_RULE, "community-read-sensitive-masked", VAULT_MASK_FLAG},
    {"community: create within", 0, CS, C, NULL, GRID08, 0, 0, ALLOW, VP_BY_RULE, "community-create", -1},
    {"community: create outside", 0, CS, C, NULL, "hangzhou/shangcheng/xiaohe/other/grid-01", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"community: write", 0, CS, W, "phone", GRID07, 0, 0, ALLOW, VP_BY_RULE, "community-write", -1},
    {"community: special never", 0, CS, R, "community_correction", GRID07, 0, 0, DENY, VP_BY_RULE, "community-deny-special", -1},
    {"data officer: create", 0, DO, "resident_service", C, NULL, GRID07, 0, 0, ALLOW, VP_BY_RULE, "data-officer-records", -1},
    {"data officer: erase", 0, DO, "resident_request", E, NULL, GRID07, 0, 0, ALLOW, VP_BY_RULE, "data-officer-records", -1},
    {"data officer: write", 0, DO, "resident_service", W, "bank_account", GRID07, 0, 0, ALLOW, VP_BY_RULE, "data-officer-fields", -1},
    {"data officer: search", 0, DO, "resident_service", S, "id_number", GRID07, 0, 0, ALLOW, VP_BY_RULE, "data-officer-fields", -1},
    {"data officer: export on request", 0, DO, "resident_request", X, "phone", GRID07, 0, 0, ALLOW, VP_BY_RULE, "data-officer-export", -1},
    {"data officer: no export otherwise", 0, DO, "resident_service", X, "phone", GRID07, 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"data officer: no special", 0, DO, "resident_service", R, "criminal_record", GRID07, 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"data officer: other street", 0, DO, "resident_service", R, "name", "hangzhou/shangcheng/wangjiang/x", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"health: health plaintext", 0, HW, R, "health", GRID07, 0, 0, ALLOW, VP_BY_RULE, "health-read", -1},
    {"health: disability plaintext", 0, HW, R, "disability", GRID07, 0, 0, ALLOW, VP_BY_RULE, "health-read", -1},
    {"health: phone plaintext", 0, HW, R, "phone", GRID07, 0, 0, ALLOW, VP_BY_RULE, "health-read", -1},
    {"health: religion masked", 0, HW, R, "religion", GRID07, 0, 0, MASK, VP_BY_RULE, "health-sensitive-masked", VAULT_MASK_REDACT},
    {"health: id masked", 0, HW, R, "id_number", GRID07, 0, 0, MASK, VP_BY_RULE, "health-sensitive-masked", VAULT_MASK_ID_NUMBER},
    {"health: special denied", 0, HW, R, "serious_mental_disorder", GRID07, 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"health: wrong department", 0, "health_worker", "street_office", XIAOHE, "public_health", R, "health", GRID07, 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"hotline: name masked", 0, HA, R, "name", GRID07, 0, 0, MASK, VP_BY_RULE, "hotline-contact-masked", VAULT_MASK_NAME},
    {"hotline: phone masked", 0, HA, R, "phone", GRID07, 0, 0, MASK, VP_BY_RULE, "hotline-contact-masked", VAULT_MASK_PHONE},
    {"hotline: complainant denied", 0, HA, R, "complainant_identity", GRID07, 0, 0, DENY, VP_BY_RULE, "hotline-deny-complainant", -1},
    {"hotline: complainant export denied", 0, HA, X, "complainant_identity", GRID07, 0, 0, DENY, VP_BY_RULE, "hotline-deny-complainant", -1},
    {"hotline: criminal record denied", 0, HA, R, "criminal_record", GRID07, 0, 0, DENY, VP_BY_RULE, "hotline-deny-special", -1},
    {"hotline: mental disorder denied", 0, HA, R, "serious_mental_disorder", GRID07, 0, 0, DENY, VP_BY_RULE, "hotline-deny-special", -1},
    {"hotline: correction denied", 0, HA, R, "community_correction", GRID07, 0, 0, DENY, VP_BY_RULE, "hotline-deny-special", -1},
    {"hotline: drug rehab denied", 0, HA, R, "drug_rehabilitation", GRID07, 0, 0, DENY, VP_BY_RULE, "hotline-deny-special", -1},
    {"hotline: id not shown", 0, HA, R, "id_number", GRID07, 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"civil affairs: bank account", 0, CA, R, "bank_account", GRID07, 0, 0, ALLOW, VP_BY_RULE, "civil-affairs-assistance", -1},
    {"civil affairs: assistance", 0, CA, R, "social_assistance", GRID07, 0, 0, ALLOW, VP_BY_RULE, "civil-affairs-assistance", -1},
    {"civil affairs: health masked", 0, CA, R, "health", GRID07, 0, 0, MASK, VP_BY_RULE, "civil-affairs-health-masked", VAULT_MASK_FLAG},
    {"police: id number", 0, PO, R, "id_number", GRID07, 0, 0, ALLOW, VP_BY_RULE, "police-read", -1},
    {"police: location", 0, PO, R, "location", GRID07, 0, 0, ALLOW, VP_BY_RULE, "police-read", -1},
    {"police: special only by break-glass", 0, PO, R, "criminal_record", GRID07, 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"judicial: correction", 0, JO, R, "community_correction", GRID07, 0, 0, ALLOW, VP_BY_RULE, "judicial-correction", -1},
    {"judicial: outside", 0, JO, R, "community_correction", "hangzhou/xihu/x", 0, 0, DENY, VP_BY_DEFAULT, NULL, -1},
    {"auditor: no data", 0, AU, R, "name", GRID07, 0, 0, DENY, VP_BY_RULE, "auditor-no-data", -1},
    {"auditor: no create", 0, AU, C, NULL, GRID07, 0, 0, DENY, VP_BY_RULE, "auditor-no-data", -1},
};

static void test_community_end_to_end(void **state)
{
    vault_policy *p = load_ok("policies/community.yaml", NULL);
    static const char *const f_crim[] = {"criminal_record"};
    static const char *const f_compl[] = {"complainant_identity"};
    static const char *const p_emerg[] = {"emergency", "law_enforcement"};
    const vp_grant grants[] = {
        /* break-glass as the grants module issues it: a short user grant */
        {"bg-7", "officer-li", "police_officer", NULL, ALLOW, 1u << R, f_crim, 1, 0, 0, NULL, 0,
         GRID07, p_emerg, 2, 100, 100 + 4 * 3600},
        /* a grant can't open what a deny rule closes */
        {"g-hotline", NULL, "hotline_agent", NULL, ALLOW, 1u << R, f_compl, 1, 0, 0, NULL, 0,
         "hangzhou", NULL, 0, 0, 1000000},
    };
    const dcase with_grants[] = {
        {"police break-glass", "officer-li", PO, R, "criminal_record", GRID07, 0, 200, ALLOW, VP_BY_GRANT, "bg-7", -1},
        {"police break-glass expired", "officer-li", PO, R, "criminal_record", GRID07, 0, 100 + 4 * 3600, DENY, VP_BY_DEFAULT, NULL, -1},
        {"other officer", "officer-wang", PO, R, "criminal_record", GRID07, 0, 200, DENY, VP_BY_DEFAULT, NULL, -1},
        {"grant cannot beat hotline deny", 0, HA, R, "complainant_identity", GRID07, 0, 200, DENY, VP_BY_RULE, "hotline-deny-complainant", -1},
    };
    vp_grantset *g = NULL;

    (void)state;
    run_cases(p, NULL, community_cases, sizeof community_cases / sizeof community_cases[0]);
    assert_int_equal(policy_grantset_new(&g, p, grants, 2), 0);
    run_cases(p, g, with_grants, sizeof with_grants / sizeof with_grants[0]);
    policy_grantset_free(g);
    policy_free(p);
}

static void test_reason_text(void **state)
{
    vault_policy *p = load_ok("policies/community.yaml", NULL);
    vp_subject hw = {"dr-chen", "health_worker", "health", XIAOHE};
    vp_subject ha = {"agent-1", "hotline_agent", "hotline_12345", "hangzhou"};
    vp_request r = {&hw, R, "public_health", NULL, GRID07, "health", 0};
    vp_decision d;
    vault_reason why;
    char want[256];

    (void)state;
    assert_int_equal(policy_decide(&d, p, NULL, &r), 0);
    policy_reason_fill(&why, &d);
    assert_int_equal(why.effect, ALLOW);
    assert_string_equal(why.rule, "health-read");
    snprintf(want, sizeof want, "community.yaml:%u", d.line);
    assert_string_equal(why.where, want);
    snprintf(want, sizeof want, "allow by rule health-read (community.yaml:%u)", d.line);
    assert_string_equal(why.text, want);
    assert_string_equal(why.grant, "");

    r.field = "address";
    assert_int_equal(policy_decide(&d, p, NULL, &r), 0);
    policy_reason_fill(&why, &d);
    assert_string_equal(why.text, "deny: no rule or grant allows read of address (default deny)");
    assert_string_equal(why.rule, "");

    r.action = C;
    r.field = NULL;
    assert_int_equal(policy_decide(&d, p, NULL, &r), 0);
    policy_reason_fill(&why, &d);
    assert_string_equal(why.text,
                        "deny: no rule or grant allows create of the record (default deny)");

    r.subject = &ha;
    r.action = R;
    r.purpose = "hotline_followup";
    r.field = "criminal_record";
    assert_int_equal(policy_decide(&d, p, NULL, &r), 0);
    policy_reason_fill(&why, &d);
    assert_int_equal(why.effect, DENY);
    assert_string_equal(why.rule, "hotline-deny-special");
    assert_non_null(strstr(why.text, "deny by rule hotline-deny-special (community.yaml:"));

    r.field = "no_such_field";
    assert_true(policy_decide(&d, p, NULL, &r) < 0);
    policy_reason_fill(&why, &d);
    assert_int_equal(why.effect, DENY);
    assert_string_equal(why.text,
                        "deny: evaluation error, failing closed (field not declared by the policy)");

    /* A grant decision. */
    d.effect = MASK;
    d.by = VP_BY_GRANT;
    d.grant_id = "g-42";
    policy_reason_fill(&why, &d);
    assert_string_equal(why.text, "mask by grant g-42");
    assert_string_equal(why.grant, "g-42");
    policy_reason_fill(&why, NULL);
    assert_int_equal(why.effect, DENY);
    policy_free(p);
}

/* ---- Explain, who-can, diff ---- */

static void test_explain(void **state)
{
    vault_policy *p = load_ok("tests/data/policy/decide.yaml", NULL);
    vp_grantset *g = NULL;
    vp_subject s = {"u1", "r1", "d1", "x/y"};
    vp_request r = {&s, R, "p1", NULL, "x/y/z", "d", 1500};
    char *out = NULL;

    (void)state;
    assert_int_equal(policy_grantset_new(&g, p, fixture_grants, 5), 0);
    assert_int_equal(policy_explain(&out, p, g, &r), 0);
    assert_contains(out, "request: user u1, role r1, department d1, jurisdiction x/y, purpose p1, "
                         "action read, field d, record jurisdiction x/y/z\n");
    assert_contains(out, "rule deny-r1-d (decide.yaml:15) deny: MATCH\n");
    assert_contains(out, "rule allow-r1 (decide.yaml:21) allow: no match: field d not selected\n");
    assert_contains(out, "rule mask-r1 (decide.yaml:28) mask: MATCH\n");
    assert_contains(out, "rule deny-r2-e (decide.yaml:34) deny: no match: subject not among");
    assert_contains(out, "rule sel-max (decide.yaml:47) allow: no match: subject not among");
    assert_contains(out, "rule r2-write (decide.yaml:61) allow: no match: action read not listed");
    assert_contains(out, "grant g-active allow: no match: subject does not fit");
    assert_contains(out, "grant g-r1-b allow: no match: field d not covered");
    /* one line per rule and grant, then the decision */
    assert_int_equal(count_substr(out, "\nrule "), 13);
    assert_int_equal(count_substr(out, "\ngrant "), 5);
    assert_true(strlen(out) > 0 && out[strlen(out) - 1] == '\n');
    assert_contains(out, "\ndecision: deny by rule deny-r1-d (decide.yaml:15)\n");
    free(out);

    /* An outside record and a purpose the allow rule lacks. */
    r.field = "a";
    r.purpose = "p2";
    r.record_jurisdiction = "x/yz";
    assert_int_equal(policy_explain(&out, p, g, &r), 0);
    assert_contains(out, "rule allow-r1 (decide.yaml:21) allow: no match: purpose p2 not listed");
    assert_contains(out, "decision: mask by rule mask-r1 (decide.yaml:28)");
    free(out);
    r.purpose = "p1";
    assert_int_equal(policy_explain(&out, p, g, &r), 0);
    assert_contains(out, "allow-r1 (decide.yaml:21) allow: no match: record jurisdiction x/yz is "
                         "not within subject jurisdiction x/y");
    free(out);
    /* The error case explains itself too. */
    r.record_jurisdiction = "";
    assert_int_equal(policy_explain(&out, p, g, &r), 0);
    assert_contains(out, "error: subject or record jurisdiction missing or invalid");
    assert_contains(out, "decision: deny: evaluation error, failing closed");
    free(out);
    assert_int_equal(policy_explain(&out, p, g, NULL), VAULT_EINVALID);
    policy_grantset_free(g);
    policy_free(p);
}

static void test_who_can(void **state)
{
    vault_policy *p = load_ok("policies/community.yaml", NULL);
    static const char *const f_crim[] = {"criminal_record"};
    static const char *const f_phone[] = {"phone"};
    static const char *const one_rec[] = {REC1};
    const vp_grant grants[] = {
        {"bg-7", "officer-li", "police_officer", NULL, ALLOW, 1u << R, f_crim, 1, 0, 0, one_rec,
         1, NULL, NULL, 0, 0, 2000000000},
        {"g-civil", NULL, "civil_affairs_officer", NULL, ALLOW, 1u << R, f_phone, 1, 0, 0, NULL, 0,
         "hangzhou/shangcheng", NULL, 0, 0, 2000000000},
        {"g-old", NULL, "street_officer", NULL, ALLOW, 1u << R, f_crim, 1, 0, 0, NULL, 0,
         "hangzhou", NULL, 0, 0, 10},
    };
    vp_grantset *g = NULL;
    char *out = NULL;
    json_t *root;
    json_error_t jerr;
    size_t n;

    (void)state;
    assert_int_equal(policy_who_can(&out, p, NULL, "phone", NULL, NULL, 0, 0), 0);
    assert_contains(out, "grid_worker community_committee grid_management: mask, scope within, "
                         "by rule grid-contact-masked (community.yaml:");
    assert_contains(out, "subject jurisdiction must contain the record's jurisdiction\n");
    assert_contains(out, "hotline_agent hotline_12345 hotline_followup: mask, scope any, by rule "
                         "hotline-contact-masked (community.yaml:");
    assert_contains(out, "health_worker health public_health: allow, scope within, by rule "
                         "health-read");
    assert_lacks(out, "auditor");
    assert_lacks(out, "grid_worker community_committee resident_service");
    /* Only declared (role, department) pairs. */
    assert_lacks(out, "grid_worker street_office");
    free(out);

    /* Nobody reads special data by rule. */
    assert_int_equal(policy_who_can(&out, p, NULL, "criminal_record", NULL, NULL, 0, 0), 0);
    assert_string_equal(out, "");
    free(out);

    /* With grants: the live ones, with their expiry; not the expired one. */
    assert_int_equal(policy_grantset_new(&g, p, grants, 3), 0);
    assert_int_equal(policy_who_can(&out, p, g, "criminal_record", REC1, GRID07, 100, 0), 0);
    assert_string_equal(out, "user officer-li (role police_officer, department *, purpose *): "
                             "allow, scope any, by grant bg-7 until 2033-05-18T03:33:20Z; deny "
                             "rules for the user's role, department and purpose still apply\n");
    free(out);
    assert_int_equal(policy_who_can(&out, p, g, "criminal_record", NULL, NULL, 100, 0), 0);
    assert_contains(out, "by grant bg-7 until 2033-05-18T03:33:20Z; the record must be one of the "
                         "1 records the grant lists");
    assert_lacks(out, "g-old");
    free(out);
    assert_int_equal(policy_who_can(&out, p, g, "phone", NULL, GRID07, 100, 0), 0);
    assert_contains(out, "civil_affairs_officer civil_affairs social_assistance: allow, scope any, "
                         "by grant g-civil until 2033-05-18T03:33:20Z\n");
    assert_contains(out, "civil_affairs_officer civil_affairs audit: allow, scope any, by grant "
                         "g-civil");
    assert_contains(out, "grid_worker community_committee grid_management: mask, scope within, "
                         "by rule grid-contact-masked (community.yaml:");
    assert_contains(out, "subject jurisdiction must contain " GRID07 "\n");
    free(out);
    /* Record elsewhere: the civil-affairs grant doesn't reach it. */
    assert_int_equal(policy_who_can(&out, p, g, "phone", NULL, "hangzhou/xihu/x", 100, 0), 0);
    assert_lacks(out, "g-civil");
    free(out);

    /* JSON. */
    assert_int_equal(policy_who_can(&out, p, g, "phone", NULL, GRID07, 100, 1), 0);
    root = json_loads(out, 0, &jerr);
    assert_non_null(root);
    assert_true(json_is_array(root));
    n = json_array_size(root);
    assert_true(n > 5);
    {
        int seen_grid = 0, seen_grant = 0;
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_array_get(root, i);
            const char *role = json_string_value(json_object_get(o, "role"));
            const char *grant = json_string_value(json_object_get(o, "grant"));
            assert_string_equal(json_string_value(json_object_get(o, "field")), "phone");
            if (role && strcmp(role, "grid_worker") == 0) {
                seen_grid = 1;
                assert_string_equal(json_string_value(json_object_get(o, "effect")), "mask");
                assert_string_equal(json_string_value(json_object_get(o, "scope")), "within");
                assert_string_equal(json_string_value(json_object_get(o, "rule")),
                                    "grid-contact-masked");
                assert_true(json_is_null(json_object_get(o, "grant")));
            }
            if (grant && strcmp(grant, "g-civil") == 0) {
                seen_grant = 1;
                assert_int_equal(json_integer_value(json_object_get(o, "until_unix")),
                                 2000000000);
                assert_string_equal(json_string_value(json_object_get(o, "until")),
                                    "2033-05-18T03:33:20Z");
            }
        }
        assert_true(seen_grid && seen_grant);
    }
    json_decref(root);
    free(out);

    assert_int_equal(policy_who_can(&out, p, g, "salary", NULL, NULL, 0, 0), VAULT_ENOTFOUND);
    assert_int_equal(policy_who_can(&out, p, g, "phone", NULL, "a//b", 0, 0), VAULT_EINVALID);
    policy_grantset_free(g);
    policy_free(p);
}

static void test_who_can_conditions(void **state)
{
    /* A within-scope deny turns an any-scope allow into "outside only". */
    const char *text = "version: 1\nname: w\ngrades: [low]\nfields: {x: {grade: low, mask: "
                       "redact}}\ndepartments: [d]\nroles: [r]\npurposes: [p]\nrules:\n"
                       "  - {id: own-no, subjects: {role: r}, actions: [read], scope: within, "
                       "effect: deny}\n"
                       "  - {id: all-mask, subjects: {role: r}, actions: [read], scope: any, "
                       "effect: mask}\n"
                       "  - {id: me, subjects: {user: zhang3, role: r}, actions: [read], purposes: "
                       "[p], scope: any, effect: allow}\n";
    vault_policy *p = parse_ok(text);
    char *out = NULL;

    (void)state;
    assert_int_equal(policy_who_can(&out, p, NULL, "x", NULL, "a/b", 0, 0), 0);
    assert_string_equal(out, "r d p: mask, scope outside, by rule all-mask (inline.yaml:10); "
                             "subject jurisdiction must not contain a/b (deny rule own-no)\n"
                             "user zhang3 (role r, department *, purpose p): allow, scope any, "
                             "by rule me (inline.yaml:11); deny rules for the user's role, "
                             "department and purpose still apply\n");
    free(out);
    policy_free(p);
}

/* A deny rule naming a user is listed: an auditor sees who is stopped. */
static void test_who_can_user_deny(void **state)
{
    const char *text = "version: 1\nname: w\ngrades: [low]\nfields: {x: {grade: low}, y: "
                       "{grade: low}}\ndepartments: [d]\nroles: [r]\npurposes: [p, q]\n"
                       "rules:\n"
                       "  - {id: all-read, subjects: {role: r}, actions: [read], scope: any, "
                       "effect: allow}\n"
                       "  - {id: stop-wang, subjects: {user: wang.fang}, actions: [read], "
                       "scope: any, fields: [x], effect: deny}\n"
                       "  - {id: stop-li-here, subjects: [{user: li, role: r}, {user: zhao}], "
                       "actions: [read], purposes: [q], scope: within, effect: deny}\n"
                       "  - {id: stop-write, subjects: {user: qian}, actions: [write], scope: "
                       "any, effect: deny}\n";
    vault_policy *p = parse_ok(text);
    char *out = NULL;
    json_t *root, *o;
    json_error_t jerr;
    int seen = 0;

    (void)state;
    assert_int_equal(policy_who_can(&out, p, NULL, "x", NULL, "a/b", 0, 0), 0);
    assert_string_equal(out, "r d p: allow, scope any, by rule all-read (inline.yaml:9)\n"
                             "r d q: allow, scope any, by rule all-read (inline.yaml:9)\n"
                             "user wang.fang (role *, department *, purpose *): deny, scope any, "
                             "by rule stop-wang (inline.yaml:10); this deny wins over every rule "
                             "and grant that would let the user read\n"
                             "user li (role r, department *, purpose q): deny, scope within, by "
                             "rule stop-li-here (inline.yaml:11); subject jurisdiction must "
                             "contain a/b; this deny wins over every rule and grant that would "
                             "let the user read\n"
                             "user zhao (role *, department *, purpose q): deny, scope within, by "
                             "rule stop-li-here (inline.yaml:11); subject jurisdiction must "
                             "contain a/b; this deny wins over every rule and grant that would "
                             "let the user read\n");
    free(out);
    /* Field y: only the rule that selects it (stop-wang selects x only). */
    assert_int_equal(policy_who_can(&out, p, NULL, "y", NULL, NULL, 0, 0), 0);
    assert_lacks(out, "stop-wang");
    assert_lacks(out, "qian");
    assert_contains(out, "user li (role r, department *, purpose q): deny, scope within");
    free(out);
    /* JSON carries the same line with effect deny and the rule's place. */
    assert_int_equal(policy_who_can(&out, p, NULL, "x", NULL, NULL, 0, 1), 0);
    root = json_loads(out, 0, &jerr);
    assert_non_null(root);
    for (size_t i = 0; i < json_array_size(root); i++) {
        o = json_array_get(root, i);
        if (!json_is_string(json_object_get(o, "user")) ||
            strcmp(json_string_value(json_object_get(o, "user")), "wang.fang") != 0)
            continue;
        seen++;
        assert_string_equal(json_string_value(json_object_get(o, "effect")), "deny");
        assert_string_equal(json_string_value(json_object_get(o, "rule")), "stop-wang");
        assert_string_equal(json_string_value(json_object_get(o, "where")), "inline.yaml:10");
        assert_string_equal(json_string_value(json_object_get(o, "scope")), "any");
        assert_true(json_is_null(json_object_get(o, "role")));
        assert_true(json_is_null(json_object_get(o, "grant")));
    }
    assert_int_equal(seen, 1);
    json_decref(root);
    free(out);
    policy_free(p);
}

/* policy apply shows what changes in the retention schedules: a schedule
 * added, removed, or changed (coverage, period, anchor, flag, place). */
static void test_retention_diff(void **state)
{
    const char *head = "version: 1\nname: r\ngrades: [low]\n"
                       "fields: {x: {grade: low}, y: {grade: low, category: c}, d: {grade: low}}\n"
                       "departments: [d1]\nroles: [r1]\npurposes: [p]\nrules: []\nretention:\n";
    char a[1024], b[1024], *out = NULL;
    vault_policy *pa, *pb;

    (void)state;
    snprintf(a, sizeof a, "%s%s", head,
             "  - {id: gone, record: true, keep: 30d, after: last_write}\n"
             "  - {id: same, fields: [x], keep: 1y, after: d}\n"
             "  - {id: moved, categories: [c], keep: 7d, after: last_write}\n");
    snprintf(b, sizeof b, "%s%s", head,
             "  - {id: same, fields: [x], keep: 365d, after: d}\n"
             "  - {id: moved, fields: [x, y], keep: 2y, after: d, until_clear: x, "
             "jurisdiction: a/b}\n"
             "  - {id: new, record: true, keep: 10y, after: last_write}\n");
    pa = parse_ok(a);
    pb = parse_ok(b);
    assert_int_equal(policy_diff(&out, pa, pb), 0);
    assert_string_equal(out,
                        "~ retention moved: fields y keep 7d after last_write -> fields x,y keep "
                        "730d after d until x clears within a/b\n"
                        "+ retention new: record keep 3650d after last_write\n"
                        "- retention gone\n");
    vault_free(out);
    policy_free(pa);
    policy_free(pb);
}

static void test_diff(void **state)
{
    const char *a = "version: 1\nname: a\ngrades: [low, high]\n"
                    "fields: {x: {grade: low}, y: {grade: high}, z: {grade: low}}\n"
                    "departments: [d1, d2]\nroles: [{name: r1, departments: [d1]}, r2]\n"
                    "purposes: [p, q]\nrules:\n"
                    "  - {id: m, subjects: {role: r1}, actions: [read], purposes: [q], scope: "
                    "within, fields: [x], effect: mask}\n"
                    "  - {id: y, subjects: {role: r1}, actions: [read], scope: any, fields: [y], "
                    "effect: allow}\n"
                    "  - {id: w, subjects: {role: r2}, actions: [write], scope: any, effect: "
                    "allow}\n";
    const char *b = "version: 1\nname: b\ngrades: [low, high]\n"
                    "fields: {x: {grade: low}, y: {grade: high}, z: {grade: low}}\n"
                    "departments: [d1, d2]\nroles: [{name: r1, departments: [d1]}, r2, r3]\n"
                    "purposes: [p, q]\nrules:\n"
                    "  - {id: a, subjects: {role: r1}, actions: [read], purposes: [p], scope: "
                    "within, fields: [x], effect: allow}\n"
                    "  - {id: y, subjects: {role: r1}, actions: [read], scope: any, fields: [y], "
                    "effect: allow}\n"
                    "  - {id: no-y, subjects: {role: r1}, actions: [read], purposes: [q], scope: "
                    "within, fields: [y], effect: deny}\n"
                    "  - {id: r3, subjects: {role: r3, department: d2}, actions: [read], scope: "
                    "any, fields: [z], effect: mask}\n";
    vault_policy *pa = parse_ok(a), *pb = parse_ok(b), *pc;
    char *out = NULL, *text, *changed, *at;
    size_t len;

    (void)state;
    assert_int_equal(policy_diff(&out, pa, pb), 0);
    /* x: mask (q) -> allow (p): a gain; y still allowed for purpose p, so
     * no loss across purposes; r3 is new (only in b) and gains z masked;
     * r2's write rule is not a read cell. */
    assert_string_equal(out, "+ r1 d1 x mask->allow\n+ r3 d2 z deny->mask\n");
    free(out);
    assert_int_equal(policy_diff(&out, pb, pa), 0);
    assert_string_equal(out, "- r1 d1 x allow->mask\n- r3 d2 z mask->deny\n");
    free(out);
    assert_int_equal(policy_diff(&out, pa, pa), 0);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(policy_diff(&out, pa, NULL), VAULT_EINVALID);

    /* On the default policy: unmask the grid worker's contact fields. */
    {
        char path[1024];
        text = read_all(src_path(path, sizeof path, "policies/community.yaml"), &len);
    }
    changed = malloc(len + 1);
    assert_non_null(changed);
    memcpy(changed, text, len + 1);
    at = strstr(changed, "fields: [name, phone, id_number, address]\n    effect: mask");
    assert_non_null(at);
    memcpy(strstr(at, "effect: mask"), "effect: allo", 12);
    /* "allo" is not an effect: the changed policy must be rejected... */
    assert_int_equal(policy_parse(&pc, NULL, "c.yaml", changed, len), VAULT_EPOLICY);
    /* ...so write it properly. */
    {
        const char *old = "fields: [name, phone, id_number, address]\n    effect: mask";
        const char *neu = "fields: [name, phone, id_number, address]\n    effect: allow";
        size_t pre = (size_t)(strstr(text, old) - text);
        char *fixed = malloc(len + 2);
        assert_non_null(fixed);
        memcpy(fixed, text, pre);
        memcpy(fixed + pre, neu, strlen(neu));
        memcpy(fixed + pre + strlen(neu), text + pre + strlen(old), len - pre - strlen(old) + 1);
        vault_policy *orig = parse_ok(text);
        pc = parse_ok(fixed);
        assert_int_equal(policy_diff(&out, orig, pc), 0);
        assert_string_equal(out, "+ grid_worker community_committee name mask->allow\n"
                                 "+ grid_worker community_committee id_number mask->allow\n"
                                 "+ grid_worker community_committee phone mask->allow\n"
                                 "+ grid_worker community_committee address mask->allow\n");
        free(out);
        policy_free(orig);
        policy_free(pc);
        free(fixed);
    }
    free(changed);
    free(text);
    policy_free(pa);
    policy_free(pb);
}

/* ---- Grant limits and break-glass ---- */

/* A grant that a deny rule makes useless is warned about, also when the
 * pattern names only a role that exists only in the denied department. */
static void test_grant_blocked(void **state)
{
    vault_policy *p = load_ok("policies/community.yaml", NULL);
    static const char *const f_crim[] = {"criminal_record"}, *const f_phone[] = {"phone"};
    vp_grant g = {"g-1", NULL, "grid_worker", NULL, ALLOW, 1u << R, f_crim, 1, 0, 0,
                  NULL, 0, GRID07, NULL, 0, 0, 86400};
    char *w = NULL;

    (void)state;
    assert_int_equal(policy_grant_blocked(&w, p, &g), 0);
    assert_contains(w, "deny rule community-deny-special (community.yaml:");
    assert_contains(w, "no access at all");
    free(w);
    g.department = "community_committee";
    assert_int_equal(policy_grant_blocked(&w, p, &g), 0);
    assert_contains(w, "community-deny-special");
    free(w);
    g.fields = f_phone; /* no deny on phone for grid workers */
    assert_int_equal(policy_grant_blocked(&w, p, &g), 0);
    assert_string_equal(w, "");
    free(w);
    g.fields = f_crim;
    g.role = "health_worker"; /* exists only in health: not denied */
    g.department = NULL;
    assert_int_equal(policy_grant_blocked(&w, p, &g), 0);
    assert_string_equal(w, "");
    free(w);
    policy_free(p);
}

static void test_grant_limits(void **state)
{
    vault_policy *p = load_ok("policies/community.yaml", NULL);
    static const char *const f_phone[] = {"phone"}, *const f_bank[] = {"bank_account"},
                             *const f_crim[] = {"criminal_record"}, *const f_bad[] = {"salary"};
    const int64_t day = 86400;
    vp_grant g = {"g-1", NULL, "health_worker", "health", ALLOW, 1u << R, f_bank, 1, 0, 0,
                  NULL, 0, GRID07, NULL, 0, 0, 30 * day};
    const vp_grant_limit *l;
    const vp_break_glass *bg;
    int approval = -1;

    (void)state;
    l = policy_grant_limit(p, "data_officer");
    assert_non_null(l);
    assert_string_equal(l->issuer_role, "data_officer");
    assert_int_equal(l->max_grade, policy_grade_index(p, "special"));
    assert_int_equal(l->approval_grade, policy_grade_index(p, "special"));
    assert_int_equal(l->max_duration, 30 * day);
    assert_int_equal(l->nrecipient_departments, 4);
    assert_int_equal(l->nrecipient_roles, 0);
    assert_non_null(policy_grant_limit(p, "street_officer"));
    assert_null(policy_grant_limit(p, "grid_worker"));
    assert_null(policy_grant_limit(p, "nobody"));
    assert_int_equal(policy_grant_limit_count(p), 2);
    assert_ptr_equal(policy_grant_limit_at(p, 0), l);

    /* sensitive, 30 days, to health: fine without approval */
    assert_int_equal(policy_grant_check(&approval, p, "data_officer", &g), 0);
    assert_int_equal(approval, 0);
    assert_int_equal(policy_grant_max_grade(p, &g), policy_grade_index(p, "sensitive"));
    /* one second too long */
    g.not_after = 30 * day + 1;
    assert_int_equal(policy_grant_check(&approval, p, "data_officer", &g), VAULT_EDENIED);
    g.not_after = 30 * day;
    /* special needs a second officer */
    g.fields = f_crim;
    assert_int_equal(policy_grant_check(&approval, p, "data_officer", &g), 0);
    assert_int_equal(approval, 1);
    assert_int_equal(policy_grant_check(&approval, p, "street_officer", &g), VAULT_EDENIED);
    g.not_after = 7 * day;
    assert_int_equal(policy_grant_check(&approval, p, "street_officer", &g), 0);
    assert_int_equal(approval, 1);
    g.fields = f_phone;
    /* a recipient outside the listed departments */
    g.department = "public_security";
    g.role = "police_officer";
    assert_int_equal(policy_grant_check(&approval, p, "data_officer", &g), VAULT_EDENIED);
    /* no department named: recipients can't be checked, so refused */
    g.department = NULL;
    g.role = "health_worker";
    assert_int_equal(policy_grant_check(&approval, p, "data_officer", &g), VAULT_EDENIED);
    g.department = "health";
    /* roles without limits can't grant */
    assert_int_equal(policy_grant_check(&approval, p, "grid_worker", &g), VAULT_EDENIED);
    /* malformed grants */
    g.fields = f_bad;
    assert_int_equal(policy_grant_check(&approval, p, "data_officer", &g), VAULT_EINVALID);
    g.fields = f_phone;
    g.effect = DENY;
    assert_int_equal(policy_grant_check(&approval, p, "data_officer", &g), VAULT_EINVALID);
    g.effect = ALLOW;
    g.not_after = g.not_before;
    assert_int_equal(policy_grant_check(&approval, p, "data_officer", &g), VAULT_EINVALID);
    g.not_after = day;
    /* a grade-range grant: its top grade counts */
    g.nfields = 0;
    g.fields = NULL;
    g.grade_min = 0;
    g.grade_max = policy_grade_index(p, "special");
    assert_int_equal(policy_grant_max_grade(p, &g), policy_grade_index(p, "special"));
    assert_int_equal(policy_grant_check(&approval, p, "data_officer", &g), 0);
    assert_int_equal(approval, 1);

    bg = policy_break_glass(p);
    assert_non_null(bg);
    assert_int_equal(bg->nroles, 2);
    assert_int_equal(bg->max_duration, 4 * 3600);
    assert_int_equal(bg->max_grade, policy_grade_index(p, "special"));
    assert_true(policy_break_glass_role(p, "police_officer"));
    assert_true(policy_break_glass_role(p, "health_worker"));
    assert_false(policy_break_glass_role(p, "grid_worker"));
    policy_free(p);

    p = load_ok("policies/hotline.yaml", NULL);
    assert_null(policy_break_glass(p));
    assert_false(policy_break_glass_role(p, "hotline_agent"));
    policy_free(p);
}

/* ---- Robustness ---- */

static void test_mutations_never_crash(void **state)
{
    char path[1024], *text, *buf, *rep;
    size_t len;
    uint32_t seed = 12345;
    int ok = 0;

    (void)state;
    text = read_all(src_path(path, sizeof path, "policies/community.yaml"), &len);
    buf = malloc(len + 1);
    assert_non_null(buf);
    for (int it = 0; it < 400; it++) {
        size_t n = len;
        vault_policy *p = NULL;

        memcpy(buf, text, len + 1);
        for (int k = 0; k < 1 + it % 4; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % n;
            switch ((seed >> 4) % 4) {
            case 0: buf[at] = (char)(seed >> 16); break;        /* flip a byte */
            case 1: n = at; break;                              /* truncate */
            case 2: buf[at] = "[]{}:-,#&*!|>'\"\n "[(seed >> 16) % 17]; break;
            default: memmove(buf + at, buf + at + 1, n - at - 1); n--; break;
            }
            if (n == 0)
                n = 1;
        }
        rep = NULL;
        if (policy_parse(&p, &rep, "m.yaml", buf, n) == 0) {
            vp_subject s = {"u", "grid_worker", "community_committee", GRID07};
            vp_request r = {&s, R, "grid_management", NULL, GRID07, "phone", 0};
            vp_decision d;
            (void)policy_decide(&d, p, NULL, &r);
            ok++;
        }
        assert_non_null(rep);
        free(rep);
        policy_free(p);
    }
    assert_true(ok > 0); /* some mutations (in comments) still parse */
    free(buf);
    free(text);
}

/* policy_reason_same says "same" exactly when policy_reason_fill writes
 * the same text (an audit entry then formats the reason once). */
static void test_reason_same(void **state)
{
    static char rule_copy[] = "grid-read";
    const vp_decision d[] = {
        {VAULT_EFFECT_ALLOW, VP_BY_RULE, VAULT_MASK_NONE, "grid-read", "p.yaml", 10, NULL, 1, "name", NULL, 0},
        {VAULT_EFFECT_ALLOW, VP_BY_RULE, VAULT_MASK_NONE, rule_copy, "p.yaml", 10, NULL, 1, "phone", NULL, 0},
        {VAULT_EFFECT_ALLOW, VP_BY_RULE, VAULT_MASK_NONE, "grid-read", "p.yaml", 11, NULL, 1, "name", NULL, 0},
        {VAULT_EFFECT_ALLOW, VP_BY_RULE, VAULT_MASK_NONE, "grid-read", "q.yaml", 10, NULL, 1, "name", NULL, 0},
        {VAULT_EFFECT_MASK, VP_BY_RULE, VAULT_MASK_NONE, "grid-read", "p.yaml", 10, NULL, 1, "name", NULL, 0},
        {VAULT_EFFECT_ALLOW, VP_BY_GRANT, VAULT_MASK_NONE, NULL, NULL, 0, "g-1", 1, "name", NULL, 0},
        {VAULT_EFFECT_ALLOW, VP_BY_GRANT, VAULT_MASK_NONE, NULL, NULL, 0, "g-1", 1, "phone", NULL, 0},
        {VAULT_EFFECT_ALLOW, VP_BY_GRANT, VAULT_MASK_NONE, NULL, NULL, 0, "g-2", 1, "name", NULL, 0},
        {VAULT_EFFECT_DENY, VP_BY_DEFAULT, VAULT_MASK_NONE, NULL, NULL, 0, NULL, 1, "name", NULL, 0},
        {VAULT_EFFECT_DENY, VP_BY_DEFAULT, VAULT_MASK_NONE, NULL, NULL, 0, NULL, 1, "phone", NULL, 0},
        {VAULT_EFFECT_DENY, VP_BY_DEFAULT, VAULT_MASK_NONE, NULL, NULL, 0, NULL, 2, "name", NULL, 0},
        {VAULT_EFFECT_DENY, VP_BY_DEFAULT, VAULT_MASK_NONE, NULL, NULL, 0, NULL, 1, NULL, NULL, 0},
        {VAULT_EFFECT_DENY, VP_BY_ERROR, VAULT_MASK_NONE, NULL, NULL, 0, NULL, 1, "name", "bad", 0},
        {VAULT_EFFECT_DENY, VP_BY_ERROR, VAULT_MASK_NONE, NULL, NULL, 0, NULL, 1, "phone", "bad", 0},
        {VAULT_EFFECT_DENY, VP_BY_ERROR, VAULT_MASK_NONE, NULL, NULL, 0, NULL, 1, "name", "worse", 0},
    };
    vault_reason a, b;
    size_t i, j, same = 0;

    (void)state;
    for (i = 0; i < VAULT_ARRAY_LEN(d); i++)
        for (j = 0; j < VAULT_ARRAY_LEN(d); j++) {
            policy_reason_fill(&a, &d[i]);
            policy_reason_fill(&b, &d[j]);
            if (policy_reason_same(&d[i], &d[j]) != (strcmp(a.text, b.text) == 0))
                fail_msg("decisions %zu and %zu: same=%d but \"%s\" vs \"%s\"", i, j,
                         policy_reason_same(&d[i], &d[j]), a.text, b.text);
            same += i != j && policy_reason_same(&d[i], &d[j]);
        }
    assert_int_equal(same, 3 * 2); /* rule 0/1, grant 5/6, error 12/13, both ways */
    assert_int_equal(policy_reason_same(NULL, &d[0]), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_same),
        cmocka_unit_test(test_jurisdiction_within),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_decide_rules),
        cmocka_unit_test(test_decide_bad_calls),
        cmocka_unit_test(test_grants),
        cmocka_unit_test(test_grantset_invalid),
        cmocka_unit_test(test_validation_files),
        cmocka_unit_test(test_unknown_role_position),
        cmocka_unit_test(test_empty_and_limits),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_count_limits),
        cmocka_unit_test(test_report_everything_and_names),
        cmocka_unit_test(test_shipped_policies),
        cmocka_unit_test(test_community_declarations),
        cmocka_unit_test(test_policy_hash),
        cmocka_unit_test(test_community_end_to_end),
        cmocka_unit_test(test_reason_text),
        cmocka_unit_test(test_explain),
        cmocka_unit_test(test_who_can),
        cmocka_unit_test(test_who_can_conditions),
        cmocka_unit_test(test_who_can_user_deny),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_retention_diff),
        cmocka_unit_test(test_grant_limits),
        cmocka_unit_test(test_grant_blocked),
        cmocka_unit_test(test_mutations_never_crash),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

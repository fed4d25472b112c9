/* grants and break-glass: every refusal path, expiry, revocation,
 * second-officer approval, and the audit trail of each step. */
#include "testutil.h"

#include <time.h>

#include "audit.h"
#include "store.h"

#define POLICY VAULT_SOURCE_DIR "/tests/data/grants/limits.yaml"
#define PASS "grants test passphrase"

typedef struct fixture {
    char *dir;
    char path[512];
    vault *v;
    vault_session *clerk, *chief, *deputy, *reader, *medic;
    char id[VAULT_ID_HEX_SIZE];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    vault_secret s = tu_pass_secret(PASS);
    const char *fields[] = {"name", "phone", "health"};
    const char *values[] = {"王小明", "13912345678", "糖尿病"};
    size_t lens[] = {strlen(values[0]), strlen(values[1]), strlen(values[2])};

    assert_non_null(f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/g.vault", f->dir);
    assert_int_equal(vault_create(&f->v, f->path, POLICY, &s), 0);
    f->clerk = tu_session(f->v, "clerk1", "clerk", "office", "city/a", "service");
    f->chief = tu_session(f->v, "chief1", "chief", "office", "city/a", "service");
    f->deputy = tu_session(f->v, "deputy1", "deputy", "office", "city/a", "service");
    f->reader = tu_session(f->v, "reader1", "reader", "records_desk", "city/a", "service");
    f->medic = tu_session(f->v, "medic1", "medic", "clinic", "city/a", "emergency");
    assert_int_equal(vault_record_add(f->id, sizeof f->id, f->clerk, "city/a/b", 3, fields, values,
                                      lens), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    vault_session_close(f->clerk);
    vault_session_close(f->chief);
    vault_session_close(f->deputy);
    vault_session_close(f->reader);
    vault_session_close(f->medic);
    vault_close(f->v);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

/* Effect of one field as s sees it. */
static int effect_of(vault_session *s, const char *id, const char *field)
{
    vault_result *r = NULL;
    int e;

    assert_int_equal(vault_record_get(&r, s, id, &field, 1), 0);
    e = vault_result_effect(r, 0);
    vault_result_free(r);
    return e;
}

static vault_grant_spec spec_for(const char **fields, size_t n, const char *dept, int64_t secs)
{
    vault_grant_spec g;

    memset(&g, 0, sizeof g);
    g.department = dept;
    g.effect = VAULT_EFFECT_ALLOW;
    g.fields = fields;
    g.nfields = n;
    g.jurisdiction = "city/a";
    g.not_after = (int64_t)time(NULL) + secs;
    g.reason = "records desk follow-up";
    return g;
}

static void test_grant_within_limits(void **state)
{
    fixture *f = *state;
    const char *name = "name";
    vault_grant_spec g = spec_for(&name, 1, "records_desk", 3600);
    char gid[VAULT_NAME_MAX];
    int pending = -1;
    char *list = NULL;

    assert_int_equal(effect_of(f->reader, f->id, "name"), VAULT_EFFECT_DENY);
    assert_int_equal(vault_grant_issue(gid, sizeof gid, &pending, f->clerk, &g), 0);
    assert_int_equal(pending, 0);
    assert_memory_equal(gid, "g-", 2);
    assert_int_equal(effect_of(f->reader, f->id, "name"), VAULT_EFFECT_ALLOW);
    assert_int_equal(effect_of(f->reader, f->id, "phone"), VAULT_EFFECT_DENY);
    /* masked grants show masked values */
    g.effect = VAULT_EFFECT_MASK;
    g.fields = (const char *[]){"phone"};
    assert_int_equal(vault_grant_issue(gid, sizeof gid, &pending, f->clerk, &g), 0);
    assert_int_equal(effect_of(f->reader, f->id, "phone"), VAULT_EFFECT_MASK);
    assert_int_equal(vault_grant_list(&list, f->v, 1, 0), 0);
    assert_non_null(strstr(list, gid));
    vault_free(list);
}

static void test_grant_refusals(void **state)
{
    fixture *f = *state;
    const char *health = "health", *name = "name";
    vault_grant_spec g;
    char gid[VAULT_NAME_MAX];

    /* beyond the grade ceiling */
    g = spec_for(&health, 1, "records_desk", 3600);
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->clerk, &g), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "personal"));
    /* grade range beyond the ceiling */
    g = spec_for(NULL, 0, "records_desk", 3600);
    g.grade_max = "sensitive";
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->clerk, &g), VAULT_EDENIED);
    /* beyond the maximum duration */
    g = spec_for(&name, 1, "records_desk", 3 * 86400);
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->clerk, &g), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "172800"));
    /* to a recipient not allowed */
    g = spec_for(&name, 1, "clinic", 3600);
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->clerk, &g), VAULT_EDENIED);
    /* by a role with no grant limits */
    g = spec_for(&name, 1, "records_desk", 3600);
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->reader, &g), VAULT_EDENIED);
    /* malformed */
    g.reason = "";
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->clerk, &g), VAULT_EINVALID);
    g = spec_for(&name, 1, "records_desk", -10);
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->clerk, &g), VAULT_EINVALID);
    g = spec_for(&name, 1, NULL, 3600);
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->clerk, &g), VAULT_EINVALID);
    g = spec_for(&name, 1, "records_desk", 3600);
    g.jurisdiction = NULL;
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->clerk, &g), VAULT_EINVALID);
    g = spec_for((const char *[]){"shoe_size"}, 1, "records_desk", 3600);
    assert_true(vault_grant_issue(gid, sizeof gid, NULL, f->clerk, &g) < 0);
    /* none of these gave access */
    assert_int_equal(effect_of(f->reader, f->id, "name"), VAULT_EFFECT_DENY);
    assert_int_equal(effect_of(f->reader, f->id, "health"), VAULT_EFFECT_DENY);
}

static void test_approval(void **state)
{
    fixture *f = *state;
    const char *health = "health";
    vault_grant_spec g = spec_for(&health, 1, "records_desk", 3600);
    char gid[VAULT_NAME_MAX], gid2[VAULT_NAME_MAX];
    int pending = 0;

    g.grade_min = NULL;
    g.fields = NULL;
    g.nfields = 0;
    g.grade_min = "sensitive";
    g.grade_max = "special";
    assert_int_equal(vault_grant_issue(gid, sizeof gid, &pending, f->chief, &g), 0);
    assert_int_equal(pending, 1);
    /* pending grants don't apply */
    assert_int_equal(effect_of(f->reader, f->id, "health"), VAULT_EFFECT_DENY);
    /* the issuer can't approve their own grant */
    assert_int_equal(vault_grant_approve(f->chief, gid), VAULT_EDENIED);
    /* an officer whose ceiling is below the grant's grade can't */
    assert_int_equal(vault_grant_approve(f->clerk, gid), VAULT_EDENIED);
    /* the recipient can't approve a grant made out to them */
    g.user = "deputy1";
    g.reason = "deputy needs it";
    assert_int_equal(vault_grant_issue(gid2, sizeof gid2, &pending, f->chief, &g), 0);
    assert_int_equal(pending, 1);
    assert_int_equal(vault_grant_approve(f->deputy, gid2), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "recipient"));
    /* a second, different officer approves */
    assert_int_equal(vault_grant_approve(f->deputy, gid), 0);
    assert_int_equal(effect_of(f->reader, f->id, "health"), VAULT_EFFECT_ALLOW);
    /* approving twice */
    assert_int_equal(vault_grant_approve(f->deputy, gid), VAULT_ESTATE);
    assert_int_equal(vault_grant_approve(f->deputy, "g-0000000000000000"), VAULT_ENOTFOUND);
}

static void test_expiry_and_revocation(void **state)
{
    fixture *f = *state;
    const char *name = "name";
    vault_grant_spec g = spec_for(&name, 1, "records_desk", 2);
    char gid[VAULT_NAME_MAX], *list = NULL;

    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->clerk, &g), 0);
    assert_int_equal(effect_of(f->reader, f->id, "name"), VAULT_EFFECT_ALLOW);
    sleep(3);
    assert_int_equal(effect_of(f->reader, f->id, "name"), VAULT_EFFECT_DENY); /* expired */
    assert_int_equal(vault_grant_list(&list, f->v, 0, 0), 0);
    assert_non_null(strstr(list, "expired"));
    vault_free(list);
    assert_int_equal(vault_grant_list(&list, f->v, 1, 0), 0);
    assert_null(strstr(list, gid));
    vault_free(list);

    g = spec_for(&name, 1, "records_desk", 3600);
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->clerk, &g), 0);
    assert_int_equal(effect_of(f->reader, f->id, "name"), VAULT_EFFECT_ALLOW);
    assert_int_equal(vault_grant_revoke(f->clerk, gid, ""), VAULT_EINVALID);
    assert_int_equal(vault_grant_revoke(f->reader, gid, "not mine"), VAULT_EDENIED);
    assert_int_equal(vault_grant_revoke(f->chief, gid, "work finished"), 0);
    assert_int_equal(effect_of(f->reader, f->id, "name"), VAULT_EFFECT_DENY); /* at once */
    assert_int_equal(vault_grant_revoke(f->chief, gid, "again"), VAULT_ESTATE);
}

/* A grant issued in one process applies at once in another. */
static void test_other_handle_sees_grants(void **state)
{
    fixture *f = *state;
    vault *v2 = NULL;
    vault_secret s = {VAULT_UNLOCK_PASSPHRASE, PASS, strlen(PASS), 0};
    vault_session *reader2;
    const char *name = "name";
    vault_grant_spec g = spec_for(&name, 1, "records_desk", 3600);
    char gid[VAULT_NAME_MAX];

    assert_int_equal(vault_open(&v2, f->path, &s), 0);
    reader2 = tu_session(v2, "reader1", "reader", "records_desk", "city/a", "service");
    assert_int_equal(effect_of(reader2, f->id, "name"), VAULT_EFFECT_DENY);
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->clerk, &g), 0);
    assert_int_equal(effect_of(reader2, f->id, "name"), VAULT_EFFECT_ALLOW);
    assert_int_equal(vault_grant_revoke(f->clerk, gid, "done"), 0);
    assert_int_equal(effect_of(reader2, f->id, "name"), VAULT_EFFECT_DENY);
    vault_session_close(reader2);
    vault_close(v2);
}

static void test_break_glass(void **state)
{
    fixture *f = *state;
    char bg[VAULT_NAME_MAX], *report = NULL;

    assert_int_equal(effect_of(f->medic, f->id, "health"), VAULT_EFFECT_DENY);
    assert_int_equal(vault_break_glass(bg, sizeof bg, f->medic, f->id, "", 0), VAULT_EINVALID);
    assert_int_equal(vault_break_glass(bg, sizeof bg, f->medic, f->id, NULL, 0), VAULT_EINVALID);
    assert_int_equal(vault_break_glass(bg, sizeof bg, f->clerk, f->id, "curious", 0), VAULT_EDENIED);
    assert_int_equal(vault_break_glass(bg, sizeof bg, f->medic, f->id, "too long", 7200), VAULT_EDENIED);
    assert_int_equal(effect_of(f->medic, f->id, "health"), VAULT_EFFECT_DENY);
    assert_int_equal(vault_break_glass(bg, sizeof bg, f->medic, f->id, "unconscious patient", 600), 0);
    assert_memory_equal(bg, "bg-", 3);
    assert_int_equal(effect_of(f->medic, f->id, "health"), VAULT_EFFECT_ALLOW);
    /* flagged and listed for review */
    assert_int_equal(vault_audit_report(&report, f->v, VAULT_REPORT_BREAK_GLASS, NULL, 0), 0);
    assert_non_null(strstr(report, "unconscious patient"));
    assert_non_null(strstr(report, "read"));
    assert_non_null(strstr(report, "health:allow"));
    assert_null(strstr(report, "糖尿病"));
    vault_free(report);
    /* another record stays closed */
    {
        char other[VAULT_ID_HEX_SIZE];
        const char *fl = "health", *val = "x";
        size_t len = 1;
        assert_int_equal(vault_record_add(other, sizeof other, f->clerk, "city/a/c", 1, &fl, &val,
                                          &len), 0);
        assert_int_equal(effect_of(f->medic, other, "health"), VAULT_EFFECT_DENY);
    }
}

typedef struct counts {
    int grant, approve, revoke, glass, denied;
} counts;

static int count_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                    size_t head_len)
{
    counts *c = arg;
    af_entry e;
    void *st = NULL;

    (void)pos;
    (void)head;
    (void)head_len;
    assert_int_equal(af_entry_decode(&e, &st, entry, len), 0);
    c->grant += strcmp(e.action, "grant") == 0 && e.outcome == AF_OUTCOME_OK;
    c->approve += strcmp(e.action, "approve") == 0 && e.outcome == AF_OUTCOME_OK;
    c->revoke += strcmp(e.action, "revoke") == 0 && e.outcome == AF_OUTCOME_OK;
    c->glass += strcmp(e.action, "break_glass") == 0 && (e.flags & AF_FLAG_BREAK_GLASS);
    c->denied += e.outcome == AF_OUTCOME_DENIED && (strcmp(e.action, "grant") == 0 ||
                                                    strcmp(e.action, "approve") == 0 ||
                                                    strcmp(e.action, "break_glass") == 0);
    free(st);
    return 0;
}

static void test_every_step_logged(void **state)
{
    fixture *f = *state;
    const char *name = "name";
    vault_grant_spec g = spec_for(&name, 1, "records_desk", 3600);
    char gid[VAULT_NAME_MAX], bg[VAULT_NAME_MAX];
    counts c;
    vault_audit_result res;

    memset(&c, 0, sizeof c);
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->clerk, &g), 0);
    assert_int_equal(vault_grant_revoke(f->clerk, gid, "done"), 0);
    g = spec_for(&name, 1, "clinic", 3600);
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->clerk, &g), VAULT_EDENIED);
    g = spec_for(NULL, 0, "records_desk", 3600);
    g.grade_min = "special";
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->chief, &g), 0);
    assert_int_equal(vault_grant_approve(f->chief, gid), VAULT_EDENIED);
    assert_int_equal(vault_grant_approve(f->deputy, gid), 0);
    assert_int_equal(vault_break_glass(bg, sizeof bg, f->clerk, f->id, "x", 0), VAULT_EDENIED);
    assert_int_equal(vault_break_glass(bg, sizeof bg, f->medic, f->id, "emergency", 0), 0);
    assert_int_equal(store_audit_scan(f->v->db, 0, count_fn, &c), 0);
    assert_int_equal(c.grant, 2);
    assert_int_equal(c.approve, 1);
    assert_int_equal(c.revoke, 1);
    assert_int_equal(c.glass, 1);
    assert_int_equal(c.denied, 3);
    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_grant_within_limits), T(test_grant_refusals),  T(test_approval),
        T(test_expiry_and_revocation), T(test_other_handle_sees_grants), T(test_break_glass),
        T(test_every_step_logged),
    };

    if (vault_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

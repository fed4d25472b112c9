/* grants and break-glass: every refusal path, expiry, revocation,
 * second-officer approval, and the audit trail of each step. */
#include "testlog.h"

#include <time.h>

#include <jansson.h>

#include "audit/audit.h"
#include "store/store.h"

#define POLICY VAULT_SOURCE_DIR "/tests/data/grants/limits.yaml"
#define PASS "grants test passphrase"

typedef struct fixture {
    char *dir;
    char path[512];
    vault *v;
    vault_session *clerk, *chief, *deputy, *reader, *medic;
    char id[VAULT_ID_HEX_SIZE];
} fixture;

/* The fields every test record carries. */
static const char *const rec_fields[] = {"name", "phone", "health"};
static const char *const rec_values[] = {"王小明", "13912345678", "糖尿病"};

/* Add the test record in jurisdiction jur as s; *out gets its id. */
static void add_record(char out[VAULT_ID_HEX_SIZE], vault_session *s, const char *jur)
{
    size_t lens[] = {strlen(rec_values[0]), strlen(rec_values[1]), strlen(rec_values[2])};

    assert_int_equal(vault_record_add(out, VAULT_ID_HEX_SIZE, s, jur, 3, rec_fields, rec_values,
                                      lens), 0);
}

/* A new vault under a new temporary folder, governed by policy. */
static vault *new_vault(char **dir, char *path, size_t cap, const char *policy)
{
    vault_secret s = tu_pass_secret(PASS);
    vault *v = NULL;

    *dir = tu_tmpdir();
    snprintf(path, cap, "%s/g.vault", *dir);
    assert_int_equal(vault_create(&v, path, policy, &s), 0);
    return v;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->v = new_vault(&f->dir, f->path, sizeof f->path, POLICY);
    f->clerk = tu_session(f->v, "clerk1", "clerk", "office", "city/a", "service");
    f->chief = tu_session(f->v, "chief1", "chief", "office", "city/a", "service");
    f->deputy = tu_session(f->v, "deputy1", "deputy", "office", "city/a", "service");
    f->reader = tu_session(f->v, "reader1", "reader", "records_desk", "city/a", "service");
    f->medic = tu_session(f->v, "medic1", "medic", "clinic", "city/a", "emergency");
    add_record(f->id, f->clerk, "city/a/b");
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
    return tu_grant_spec(fields, n, dept, "city/a", secs, "records desk follow-up");
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
    vault_grant_spec g = VAULT_GRANT_SPEC_INIT;
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
    assert_non_null(strstr(vault_error_last(), "lasts 3d, longer than the max_duration 2d"));
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

/* The newest entry's action, outcome and token subject. */
typedef struct newest {
    char action[32], subject[VAULT_PRINCIPAL_MAX], detail[512];
    int outcome;
} newest;

static void newest_fn(void *arg, const af_entry *e)
{
    newest *n = arg;

    assert_non_null(e);
    snprintf(n->action, sizeof n->action, "%s", e->action);
    snprintf(n->subject, sizeof n->subject, "%s", e->who.subject ? e->who.subject : "");
    snprintf(n->detail, sizeof n->detail, "%s", e->detail ? e->detail : "");
    n->outcome = e->outcome;
}

static vault_session *session_as(vault *v, const char *user, const char *role,
                                 const vault_principal *who)
{
    vault_session *s = NULL;
    vault_subject sub = {sizeof(vault_subject), user, role, "office", "city/a", "service"};

    assert_int_equal(vault_session_open_as(&s, v, &sub, who), 0);
    return s;
}

/* Two-person approval compares authenticated subjects: one person (the
 * same token issuer and subject) under two user names can't approve
 * their own grant; another subject can; the listing shows both. */
static void test_approval_by_subject(void **state)
{
    fixture *f = *state;
    const char *health = "health";
    vault_grant_spec g = spec_for(NULL, 0, "records_desk", 3600);
    const vault_principal chief_tok = {sizeof(vault_principal), "https://id.example.gov", "u-42", "jti-1", "",
                                       "unix:uid=1000", 0, 0};
    const vault_principal same_person = {sizeof(vault_principal), "https://id.example.gov", "u-42", "jti-2", "",
                                         "unix:uid=1000", 0, 0};
    const vault_principal other_iss = {sizeof(vault_principal), "https://id.other.gov", "u-42", "", "", "unix:uid=1000",
                                       0, 0};
    const vault_principal deputy_tok = {sizeof(vault_principal), "https://id.example.gov", "u-43", "jti-3", "",
                                        "unix:uid=1001", 0, 0};
    vault_session *chief, *twin, *stranger, *deputy;
    char gid[VAULT_NAME_MAX], gid2[VAULT_NAME_MAX], *list = NULL;
    int pending = 0;
    newest n;
    json_t *arr, *row;
    json_error_t jerr;

    (void)health;
    g.grade_min = "sensitive";
    g.grade_max = "special";
    chief = session_as(f->v, "chief1", "chief", &chief_tok);
    assert_int_equal(vault_grant_issue(gid, sizeof gid, &pending, chief, &g), 0);
    assert_int_equal(pending, 1);

    /* The same subject under another user name (and role): refused, logged. */
    twin = session_as(f->v, "deputy2", "deputy", &same_person);
    assert_int_equal(vault_grant_approve(twin, gid), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "same token subject"));
    memset(&n, 0, sizeof n);
    tu_log_each(f->v->db, newest_fn, &n);
    assert_string_equal(n.action, "approve");
    assert_int_equal(n.outcome, AF_OUTCOME_DENIED);
    assert_string_equal(n.subject, "u-42");
    assert_non_null(strstr(n.detail, "same token subject"));

    /* The same name under another issuer is another person; so is
     * another subject of the same issuer. */
    g.reason = "second case";
    assert_int_equal(vault_grant_issue(gid2, sizeof gid2, &pending, chief, &g), 0);
    stranger = session_as(f->v, "deputy3", "deputy", &other_iss);
    assert_int_equal(vault_grant_approve(stranger, gid2), 0);
    deputy = session_as(f->v, "deputy1", "deputy", &deputy_tok);
    assert_int_equal(vault_grant_approve(deputy, gid), 0);
    memset(&n, 0, sizeof n);
    tu_log_each(f->v->db, newest_fn, &n);
    assert_string_equal(n.action, "approve");
    assert_int_equal(n.outcome, AF_OUTCOME_OK);

    /* Equal user names are still refused, whatever the subjects. */
    g.reason = "third case";
    assert_int_equal(vault_grant_issue(gid2, sizeof gid2, &pending, chief, &g), 0);
    vault_session_close(twin);
    twin = session_as(f->v, "chief1", "deputy", &deputy_tok);
    assert_int_equal(vault_grant_approve(twin, gid2), VAULT_EDENIED);

    /* The listing shows the principals. */
    assert_int_equal(vault_grant_list(&list, f->v, 0, 1), 0);
    arr = json_loads(list, 0, &jerr);
    assert_non_null(arr);
    vault_free(list);
    row = NULL;
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(arr, i), "id")), gid))
            row = json_array_get(arr, i);
    assert_non_null(row);
    assert_string_equal(json_string_value(json_object_get(json_object_get(row, "issued_by"),
                                                          "subject")), "u-42");
    assert_string_equal(json_string_value(json_object_get(json_object_get(row, "issued_by"),
                                                          "token_id")), "jti-1");
    assert_true(json_is_null(json_object_get(json_object_get(row, "issued_by"), "app")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(row, "approved_by"),
                                                          "subject")), "u-43");
    json_decref(arr);
    assert_int_equal(vault_grant_list(&list, f->v, 0, 0), 0);
    assert_non_null(strstr(list, "chief1 (iss=https://id.example.gov sub=u-42), approved by "
                                 "deputy1 (iss=https://id.example.gov sub=u-43)"));
    vault_free(list);
    /* An embedded grant has none. */
    g.reason = "embedded";
    assert_int_equal(vault_grant_issue(gid2, sizeof gid2, &pending, f->chief, &g), 0);
    assert_int_equal(vault_grant_list(&list, f->v, 0, 1), 0);
    arr = json_loads(list, 0, &jerr);
    vault_free(list);
    row = NULL;
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(arr, i), "id")), gid2))
            row = json_array_get(arr, i);
    assert_non_null(row);
    assert_true(json_is_null(json_object_get(row, "issued_by")));
    assert_true(json_is_null(json_object_get(row, "approved_by")));
    json_decref(arr);
    vault_session_close(chief);
    vault_session_close(twin);
    vault_session_close(stranger);
    vault_session_close(deputy);
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
    vault_secret s = {sizeof(vault_secret), VAULT_UNLOCK_PASSPHRASE, PASS, strlen(PASS), 0};
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

static void count_fn(void *arg, const af_entry *e)
{
    counts *c = arg;

    assert_non_null(e);
    c->grant += strcmp(e->action, "grant") == 0 && e->outcome == AF_OUTCOME_OK;
    c->approve += strcmp(e->action, "approve") == 0 && e->outcome == AF_OUTCOME_OK;
    c->revoke += strcmp(e->action, "revoke") == 0 && e->outcome == AF_OUTCOME_OK;
    c->glass += strcmp(e->action, "break_glass") == 0 && (e->flags & AF_FLAG_BREAK_GLASS);
    c->denied += e->outcome == AF_OUTCOME_DENIED && (strcmp(e->action, "grant") == 0 ||
                                                     strcmp(e->action, "approve") == 0 ||
                                                     strcmp(e->action, "break_glass") == 0);
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
    tu_log_each(f->v->db, count_fn, &c);
    assert_int_equal(c.grant, 2);
    assert_int_equal(c.approve, 1);
    assert_int_equal(c.revoke, 1);
    assert_int_equal(c.glass, 1);
    assert_int_equal(c.denied, 3);
    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), 0);
}


/* ---- issue 13: what an authenticated insider could do ---- */

#define OFFICERS VAULT_SOURCE_DIR "/tests/data/grants/officers.yaml"

typedef struct ofx {
    char *dir;
    char path[512];
    vault *v;
    vault_session *chief, *deputy, *far_deputy, *junior, *reader, *medic, *city;
    char id[VAULT_ID_HEX_SIZE], far[VAULT_ID_HEX_SIZE];
} ofx;

static int osetup(void **state)
{
    ofx *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->v = new_vault(&f->dir, f->path, sizeof f->path, OFFICERS);
    f->chief = tu_session(f->v, "li", "chief", "office", "city/a", "service");
    f->deputy = tu_session(f->v, "zhao", "deputy", "office", "city/a", "service");
    f->far_deputy = tu_session(f->v, "qian", "deputy", "office", "city/b", "service");
    f->junior = tu_session(f->v, "sun", "junior", "office", "city/a", "service");
    f->reader = tu_session(f->v, "zhou", "reader", "clinic", "city/a", "service");
    f->medic = tu_session(f->v, "wu", "medic", "clinic", "city/a", "emergency");
    f->city = tu_session(f->v, "cityclerk", "junior", "office", "city", "service");
    add_record(f->id, f->city, "city/a/b");
    add_record(f->far, f->city, "city/z/q");
    *state = f;
    return 0;
}

static int oteardown(void **state)
{
    ofx *f = *state;

    vault_session_close(f->chief);
    vault_session_close(f->deputy);
    vault_session_close(f->far_deputy);
    vault_session_close(f->junior);
    vault_session_close(f->reader);
    vault_session_close(f->medic);
    vault_session_close(f->city);
    vault_close(f->v);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

static vault_grant_spec ospec(const char **fields, size_t n, const char *role, int64_t secs)
{
    vault_grant_spec g = tu_grant_spec(fields, n, NULL, "city/a", secs, "case 2026-117 follow-up");

    g.role = role;
    return g;
}

/* Refused entries of `action` whose detail contains `needle`. */
typedef struct find_ctx {
    const char *action, *needle;
    int outcome, n;
} find_ctx;

static void find_fn(void *arg, const af_entry *e)
{
    find_ctx *c = arg;

    assert_non_null(e);
    if (strcmp(e->action, c->action) == 0 && e->outcome == c->outcome && e->detail &&
        strstr(e->detail, c->needle))
        c->n++;
}

static int logged(vault *v, const char *action, int outcome, const char *needle)
{
    find_ctx c = {action, needle, outcome, 0};

    tu_log_each(v->db, find_fn, &c);
    return c.n;
}

static void test_scope_inside_issuer(void **state)
{
    ofx *f = *state;
    const char *name = "name";
    vault_grant_spec g = ospec(&name, 1, "reader", 3600);
    char gid[VAULT_NAME_MAX];
    const char *far = f->far, *near = f->id, *unknown = "00000000000000000000000000000000";

    /* An officer of city/a can't grant the whole city ... */
    g.jurisdiction = "city";
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "outside the issuing officer's own jurisdiction"));
    assert_int_equal(logged(f->v, "grant", AF_OUTCOME_DENIED, "within city,"), 1);
    /* ... nor a record of another district ... */
    g.jurisdiction = NULL;
    g.records = &far;
    g.nrecords = 1;
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), VAULT_EDENIED);
    assert_int_equal(effect_of(f->reader, f->far, "name"), VAULT_EFFECT_DENY);
    /* ... nor a record that does not exist. */
    g.records = &unknown;
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), VAULT_ENOTFOUND);
    assert_int_equal(logged(f->v, "grant", AF_OUTCOME_ERROR, "does not exist"), 1);
    /* Inside their own jurisdiction it works, by subtree or by record. */
    g.records = &near;
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), 0);
    assert_int_equal(effect_of(f->reader, f->id, "name"), VAULT_EFFECT_ALLOW);
    g.records = NULL;
    g.nrecords = 0;
    g.jurisdiction = "city/a/b/"; /* one trailing '/' is ignored */
    g.fields = (const char *[]){"phone"};
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), 0);
}

static void test_no_self_grants(void **state)
{
    ofx *f = *state;
    const char *health = "health";
    vault_grant_spec g = ospec(&health, 1, NULL, 3600);
    char gid[VAULT_NAME_MAX], *rep = NULL, *pol = NULL;
    size_t len;

    g.user = "li";
    g.role = "chief";
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->chief, &g), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "no self-grants"));
    g.user = "LI"; /* the same person, spelt in capitals */
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->chief, &g), VAULT_EDENIED);
    g.user = NULL;
    g.role = "chief"; /* a pattern the issuer matches by role */
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->chief, &g), VAULT_EDENIED);
    assert_int_equal(logged(f->v, "grant", AF_OUTCOME_DENIED, "no self-grants"), 3);
    /* Only where the policy says so. */
    pol = (char *)tu_read_file(OFFICERS, &len);
    {
        char path[600], *at = strstr(pol, "    approval_from: special\n  deputy:");
        assert_non_null(at);
        snprintf(path, sizeof path, "%s/self.yaml", f->dir);
        FILE *o = fopen(path, "w");
        assert_non_null(o);
        fwrite(pol, 1, (size_t)(at - pol), o);
        fputs("    approval_from: special\n    self_grant: true\n", o);
        fputs(at + strlen("    approval_from: special\n"), o);
        fclose(o);
        assert_int_equal(vault_policy_apply(&rep, f->v, path), 0);
        vault_free(rep);
    }
    free(pol);
    g.user = "li";
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->chief, &g), 0);
}

static void test_no_chaining(void **state)
{
    ofx *f = *state;
    const char *name = "name";
    vault_grant_spec g = ospec(&name, 1, "reader", 0);
    char gid[VAULT_NAME_MAX];
    int64_t now = (int64_t)time(NULL), day = 86400;
    int ok = 0, rc;

    /* Twelve back-to-back one-day grants issued at once (junior's
     * max_duration is 1d): none that would run on from an accepted one.
     * Every other one is a new period after a full day without access
     * (docs/policy-format.md, "No chaining"). */
    for (int i = 0; i < 12; i++) {
        g.not_before = now + i * day + (i == 0);
        g.not_after = now + (i + 1) * day;
        rc = vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g);
        assert_int_equal(rc, i % 2 ? VAULT_EDENIED : 0);
        ok += rc == 0;
        if (i == 1) {
            assert_non_null(strstr(vault_error_last(), "no chaining"));
            assert_non_null(strstr(vault_error_last(), "more than the max_duration 1d"));
        }
    }
    assert_int_equal(ok, 6);
    /* Eleven short ones right after the first: all refused. */
    for (int i = 1; i < 12; i++) {
        g.not_before = now + day;
        g.not_after = now + day + i * 3600;
        assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), VAULT_EDENIED);
    }
    /* A small gap doesn't make them separate periods ... */
    g.not_before = now + day + 60;
    g.not_after = now + 2 * day;
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), VAULT_EDENIED);
    /* ... nor another officer issuing it (the limit is per recipients). */
    g.not_before = now + 3 * day;
    g.not_after = now + 3 * day + 3600;
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->city, &g), VAULT_EDENIED);
    /* The period that began on day 2 is full too. */
    g.not_before = now + 3 * day;
    g.not_after = now + 3 * day + 60;
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), VAULT_EDENIED);
    /* Other fields, or other recipients, are counted apart. */
    g.fields = (const char *[]){"phone"};
    g.not_before = 0;
    g.not_after = now + day;
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), 0);
    g.fields = &name;
    g.role = NULL;
    g.user = "zhou";
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "recipients list"));
    /* Changing the pattern doesn't restart the period: {role, department},
     * then {user, role}, then {user, role, department} can all name zhou. */
    g.user = NULL;
    g.role = "reader";
    g.department = "clinic";
    g.not_before = now + 100 * day;
    g.not_after = now + 101 * day;
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), 0);
    g.department = NULL;
    g.user = "zhou";
    g.not_before = now + 101 * day;
    g.not_after = now + 102 * day;
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "no chaining"));
    g.department = "clinic";
    g.user = "ZHOU";
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), VAULT_EDENIED);
    /* Readers of another department are other people. */
    g.user = NULL;
    g.department = "office";
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), 0);
}

static void test_explicit_actions(void **state)
{
    ofx *f = *state;
    const char *phone = "phone";
    vault_grant_spec g = ospec(&phone, 1, "reader", 3600);
    char gid[VAULT_NAME_MAX], *list = NULL;
    vault_reason why;

    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), 0);
    assert_int_equal(vault_decide(&why, f->reader, VAULT_ACTION_READ, f->id, "phone"), 0);
    assert_int_equal(why.effect, VAULT_EFFECT_ALLOW);
    /* read only by default: no search, no export */
    assert_int_equal(vault_decide(&why, f->reader, VAULT_ACTION_SEARCH, f->id, "phone"), 0);
    assert_int_equal(why.effect, VAULT_EFFECT_DENY);
    assert_int_equal(vault_decide(&why, f->reader, VAULT_ACTION_EXPORT, f->id, "phone"), 0);
    assert_int_equal(why.effect, VAULT_EFFECT_DENY);
    assert_int_equal(vault_grant_list(&list, f->v, 1, 0), 0);
    assert_non_null(strstr(list, "actions=read "));
    vault_free(list);
    /* Asked for, search is granted too, and listed. */
    g.user = "zhou";
    g.role = "reader";
    g.actions = (1u << VAULT_ACTION_READ) | (1u << VAULT_ACTION_SEARCH);
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), 0);
    assert_int_equal(vault_decide(&why, f->reader, VAULT_ACTION_SEARCH, f->id, "phone"), 0);
    assert_int_equal(why.effect, VAULT_EFFECT_ALLOW);
    assert_int_equal(vault_grant_list(&list, f->v, 1, 1), 0);
    assert_non_null(strstr(list, "\"search\""));
    vault_free(list);
    /* Write, create or erase can't be granted. */
    g.actions = 1u << VAULT_ACTION_WRITE;
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), VAULT_EINVALID);
}

static void test_time_range(void **state)
{
    ofx *f = *state;
    const char *name = "name";
    vault_grant_spec g = ospec(&name, 1, "reader", 3600);
    char gid[VAULT_NAME_MAX];

    /* The overflow that once gave a permanent grant. */
    g.not_before = INT64_MIN + 1;
    g.not_after = INT64_MAX;
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), VAULT_EINVALID);
    if (!strstr(vault_error_last(), "between 1970 and 9999"))
        fail_msg("%s", vault_error_last());
    g.not_before = -1;
    g.not_after = (int64_t)time(NULL) + 60;
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), VAULT_EINVALID);
    g.not_before = 0;
    g.not_after = INT64_C(253402300800); /* 10000-01-01 */
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->chief, &g), VAULT_EINVALID);
    assert_int_equal(effect_of(f->reader, f->id, "name"), VAULT_EFFECT_DENY);
    assert_int_equal(logged(f->v, "grant", AF_OUTCOME_ERROR, "between 1970 and 9999"), 3);
}

static void test_apply_suspends_grants(void **state)
{
    ofx *f = *state;
    const char *name = "name";
    vault_grant_spec g = ospec(&name, 1, "reader", 3600);
    char gid[VAULT_NAME_MAX], path[600], *rep = NULL, *list = NULL, *pol;
    size_t len;

    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), 0);
    assert_int_equal(effect_of(f->reader, f->id, "name"), VAULT_EFFECT_ALLOW);
    /* The new policy moves `name` to special, above junior's ceiling. */
    pol = (char *)tu_read_file(OFFICERS, &len);
    {
        char *at = strstr(pol, "name:   {grade: personal");
        FILE *o;
        assert_non_null(at);
        snprintf(path, sizeof path, "%s/moved.yaml", f->dir);
        o = fopen(path, "w");
        assert_non_null(o);
        fwrite(pol, 1, (size_t)(at - pol), o);
        fputs("name:   {grade: special", o);
        fputs(at + strlen("name:   {grade: personal"), o);
        fclose(o);
    }
    free(pol);
    assert_int_equal(vault_policy_apply(&rep, f->v, path), 0);
    assert_non_null(strstr(rep, "! suspended "));
    assert_non_null(strstr(rep, gid));
    vault_free(rep);
    assert_int_equal(effect_of(f->reader, f->id, "name"), VAULT_EFFECT_DENY);
    assert_int_equal(vault_grant_list(&list, f->v, 0, 0), 0);
    assert_non_null(strstr(list, "suspended"));
    vault_free(list);
    assert_int_equal(logged(f->v, "grant_suspend", AF_OUTCOME_OK, gid), 1);
}

/* policy apply also closes an open break-glass the new policy forbids. */
static void test_apply_closes_break_glass(void **state)
{
    ofx *f = *state;
    char bg[VAULT_NAME_MAX], path[600], *rep = NULL, *pol;
    size_t len = 0;

    assert_int_equal(vault_break_glass(bg, sizeof bg, f->medic, f->id, "collapsed", 3600), 0);
    assert_int_equal(effect_of(f->medic, f->id, "health"), VAULT_EFFECT_ALLOW);
    /* An unrelated change keeps it open ... */
    assert_int_equal(vault_policy_apply(&rep, f->v, OFFICERS), 0);
    assert_null(strstr(rep, "! suspended"));
    vault_free(rep);
    assert_int_equal(effect_of(f->medic, f->id, "health"), VAULT_EFFECT_ALLOW);
    /* ... a shorter break_glass.max_duration closes it. */
    pol = (char *)tu_read_file(OFFICERS, &len);
    {
        char *at = strstr(pol, "  max_duration: 1h\n  max_per_day");
        FILE *o;
        assert_non_null(at);
        snprintf(path, sizeof path, "%s/short.yaml", f->dir);
        o = fopen(path, "w");
        assert_non_null(o);
        fwrite(pol, 1, (size_t)(at - pol), o);
        fputs("  max_duration: 30m\n", o);
        fputs(at + strlen("  max_duration: 1h\n"), o);
        fclose(o);
    }
    free(pol);
    assert_int_equal(vault_policy_apply(&rep, f->v, path), 0);
    assert_non_null(strstr(rep, bg));
    assert_non_null(strstr(rep, "break_glass.max_duration 30m"));
    vault_free(rep);
    assert_int_equal(effect_of(f->medic, f->id, "health"), VAULT_EFFECT_DENY);

    /* Opened outside the medic's jurisdiction under any_jurisdiction, it is
     * closed by a policy that bounds break-glass to the opener's own. */
    pol = (char *)tu_read_file(OFFICERS, &len);
    {
        FILE *o;
        snprintf(path, sizeof path, "%s/anywhere.yaml", f->dir);
        o = fopen(path, "w");
        assert_non_null(o);
        fwrite(pol, 1, len, o);
        fputs("  any_jurisdiction: [medic]\n", o);
        fclose(o);
    }
    free(pol);
    assert_int_equal(vault_policy_apply(&rep, f->v, path), 0);
    vault_free(rep);
    assert_int_equal(vault_break_glass(bg, sizeof bg, f->medic, f->far, "collapsed", 600), 0);
    assert_int_equal(effect_of(f->medic, f->far, "health"), VAULT_EFFECT_ALLOW);
    assert_int_equal(vault_policy_apply(&rep, f->v, OFFICERS), 0);
    assert_non_null(strstr(rep, bg));
    assert_non_null(strstr(rep, "any_jurisdiction no longer lists it"));
    vault_free(rep);
    assert_int_equal(effect_of(f->medic, f->far, "health"), VAULT_EFFECT_DENY);
}

static void test_approver_rules(void **state)
{
    ofx *f = *state;
    const char *rec = "record";
    vault_grant_spec g = ospec(&rec, 1, "deputy", 3600);
    char gid[VAULT_NAME_MAX];
    int pending = 0;
    vault_session *li_caps = tu_session(f->v, "LI", "deputy", "office", "city/a", "service");

    /* special grade: pending, to every deputy */
    assert_int_equal(vault_grant_issue(gid, sizeof gid, &pending, f->chief, &g), 0);
    assert_int_equal(pending, 1);
    /* a deputy is a recipient through the role pattern: can't approve */
    assert_int_equal(vault_grant_approve(f->deputy, gid), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "among its recipients"));
    assert_int_equal(effect_of(f->deputy, f->id, "record"), VAULT_EFFECT_DENY);
    /* the issuer under another spelling is still the issuer */
    g.role = "reader";
    assert_int_equal(vault_grant_issue(gid, sizeof gid, &pending, f->chief, &g), 0);
    assert_int_equal(vault_grant_approve(li_caps, gid), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "issuing officer"));
    /* an approver whose jurisdiction doesn't cover the scope */
    assert_int_equal(vault_grant_approve(f->far_deputy, gid), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "approving officer's own jurisdiction"));
    /* an approver whose own limits wouldn't allow it */
    assert_int_equal(vault_grant_approve(f->junior, gid), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "approver's own limits"));
    /* a non-officer */
    assert_int_equal(vault_grant_approve(f->reader, gid), VAULT_EDENIED);
    assert_int_equal(logged(f->v, "approve", AF_OUTCOME_DENIED, gid), 4);
    assert_int_equal(effect_of(f->reader, f->id, "record"), VAULT_EFFECT_DENY);
    /* a second officer who passes every check */
    assert_int_equal(vault_grant_approve(f->deputy, gid), 0);
    assert_int_equal(effect_of(f->reader, f->id, "record"), VAULT_EFFECT_ALLOW);
    vault_session_close(li_caps);
}

static void test_user_names_normalised(void **state)
{
    ofx *f = *state;
    vault_session *wf = tu_session(f->v, "wang.fang", "deputy", "office", "city/a", "service");
    vault_session *WF = tu_session(f->v, "WANG.FANG", "deputy", "office", "city/a", "service");
    vault_session *zs = tu_session(f->v, "张三", "reader", "clinic", "city/a", "service");
    vault_session *other = tu_session(f->v, "李四", "reader", "clinic", "city/a", "service");
    vault_subject bad = {sizeof(vault_subject), "li si", "reader", "clinic", "city/a", "service"};
    vault_session *none = NULL;

    /* the deny rule names Wang.Fang: every spelling of the name is stopped */
    assert_int_equal(effect_of(wf, f->id, "name"), VAULT_EFFECT_DENY);
    assert_int_equal(effect_of(WF, f->id, "name"), VAULT_EFFECT_DENY);
    assert_int_equal(effect_of(f->deputy, f->id, "name"), VAULT_EFFECT_ALLOW);
    /* a rule for a Chinese name matches that user and nobody else */
    assert_int_equal(effect_of(zs, f->id, "name"), VAULT_EFFECT_ALLOW);
    assert_int_equal(effect_of(other, f->id, "name"), VAULT_EFFECT_DENY);
    assert_int_equal(vault_session_open(&none, f->v, &bad), VAULT_EINVALID);
    /* One trailing '/' of a jurisdiction is ignored, as in policy files. */
    {
        vault_session *slash = tu_session(f->v, "zhao", "deputy", "office", "city/a/", "service");
        char jur[VAULT_JURISDICTION_MAX + 1];
        assert_int_equal(effect_of(slash, f->id, "name"), VAULT_EFFECT_ALLOW);
        assert_int_equal(vault_record_jurisdiction(jur, sizeof jur, slash, f->id), 0);
        assert_string_equal(jur, "city/a/b");
        vault_session_close(slash);
    }
    /* A policy file name is one line of text: it is stored and logged. */
    {
        char path[600], *rep = NULL;
        size_t len;
        uint8_t *pol = tu_read_file(OFFICERS, &len);
        snprintf(path, sizeof path, "%s/new\nline.yaml", f->dir);
        tu_write_file(path, pol, len);
        free(pol);
        assert_int_equal(vault_policy_apply(&rep, f->v, path), VAULT_EINVALID);
        assert_non_null(strstr(vault_error_last(), "policy file name"));
    }
    vault_session_close(wf);
    vault_session_close(WF);
    vault_session_close(zs);
    vault_session_close(other);
}

static void test_break_glass_bounds(void **state)
{
    ofx *f = *state;
    char bg[VAULT_NAME_MAX];
    vault_session *routine = tu_session(f->v, "wu", "medic", "clinic", "city/a", "service");

    /* a record outside the medic's own jurisdiction */
    assert_int_equal(vault_break_glass(bg, sizeof bg, f->medic, f->far, "collapsed", 600),
                     VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "own jurisdiction"));
    /* a purpose the policy doesn't list for break-glass */
    assert_int_equal(vault_break_glass(bg, sizeof bg, routine, f->id, "routine", 600),
                     VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "purpose 'service'"));
    /* beyond the maximum duration: refused, and logged */
    assert_int_equal(vault_break_glass(bg, sizeof bg, f->medic, f->id, "long", 7200),
                     VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "max_duration 1h"));
    /* a reason that would forge a report line */
    assert_int_equal(vault_break_glass(bg, sizeof bg, f->medic, f->id, "ok\n[BREAK-GLASS] x", 60),
                     VAULT_EINVALID);
    assert_int_equal(logged(f->v, "break_glass", AF_OUTCOME_DENIED, "refused"), 3);
    assert_int_equal(logged(f->v, "break_glass", AF_OUTCOME_ERROR, "control character"), 1);
    /* renewals are limited: max_per_day 2 */
    assert_int_equal(vault_break_glass(bg, sizeof bg, f->medic, f->id, "collapsed", 60), 0);
    assert_int_equal(vault_break_glass(bg, sizeof bg, f->medic, f->id, "still down", 60), 0);
    assert_int_equal(vault_break_glass(bg, sizeof bg, f->medic, f->id, "again", 60),
                     VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "max_per_day is 2"));
    vault_session_close(routine);
}

static void test_useless_grant_warned(void **state)
{
    ofx *f = *state;
    const char *secret = "secret", *name = "name";
    vault_grant_spec g = ospec(&secret, 1, "reader", 3600);
    char gid[VAULT_NAME_MAX], *w = NULL;
    int pending = 0;

    assert_int_equal(vault_grant_issue(gid, sizeof gid, &pending, f->chief, &g), 0);
    assert_int_equal(vault_grant_warnings(&w, f->v, gid), 0);
    assert_non_null(strstr(w, "deny rule never-secret"));
    assert_non_null(strstr(w, "no access at all"));
    vault_free(w);
    g = ospec(&name, 1, "reader", 3600);
    assert_int_equal(vault_grant_issue(gid, sizeof gid, NULL, f->junior, &g), 0);
    assert_int_equal(vault_grant_warnings(&w, f->v, gid), 0);
    assert_string_equal(w, "");
    vault_free(w);
    assert_int_equal(vault_grant_warnings(&w, f->v, "g-0000000000000000"), VAULT_ENOTFOUND);
    /* A refused approval of an id that is not even UTF-8 is still logged. */
    assert_int_equal(vault_grant_approve(f->deputy, "g-\xff\x1b[1A"), VAULT_ENOTFOUND);
    assert_int_equal(logged(f->v, "approve", AF_OUTCOME_ERROR, "g-\\xff\\x1b[1A"), 1);
}

/* policies/hotline.yaml promises in its header that a grant approved by a
 * second data officer, for legal_disclosure, opens the complainant
 * identity for the named supervisor and nobody else, and that the deny
 * rule keeps it closed for every handling purpose, grants included. */
static void test_hotline_header_promise(void **state)
{
    vault *v = NULL;
    vault_secret sec = tu_pass_secret(PASS);
    char *dir = tu_tmpdir(), path[512], id[VAULT_ID_HEX_SIZE], gid[VAULT_NAME_MAX], *w = NULL;
    const char *fields[] = {"name", "phone", "complainant_identity"};
    const char *values[] = {"陈女士", "13800004680", "投诉人:陈女士,投诉对象:某街道城管中队"};
    size_t lens[] = {strlen(values[0]), strlen(values[1]), strlen(values[2])};
    const char *ci = "complainant_identity", *rec[1], *legal = "legal_disclosure",
               *review = "quality_review";
    vault_session *intake, *agent, *qian, *sun, *he, *he_review, *ma;
    vault_result *r = NULL;
    vault_grant_spec g = VAULT_GRANT_SPEC_INIT;
    const char *val;
    size_t len = 0;
    int pending = 0;

    (void)state;
    snprintf(path, sizeof path, "%s/desk.vault", dir);
    assert_int_equal(vault_create(&v, path, VAULT_SOURCE_DIR "/policies/hotline.yaml", &sec), 0);
    intake = tu_session(v, "zhou.agent", "hotline_agent", "hotline_12345", "hangzhou",
                        "hotline_intake");
    agent = tu_session(v, "zhou.agent", "hotline_agent", "hotline_12345", "hangzhou",
                       "hotline_followup");
    qian = tu_session(v, "qian", "hotline_data_officer", "hotline_12345", "hangzhou",
                      "resident_request");
    sun = tu_session(v, "sun", "hotline_data_officer", "hotline_12345", "hangzhou",
                     "resident_request");
    he = tu_session(v, "he.supervisor", "hotline_supervisor", "hotline_12345", "hangzhou", legal);
    he_review = tu_session(v, "he.supervisor", "hotline_supervisor", "hotline_12345", "hangzhou",
                           review);
    ma = tu_session(v, "ma.supervisor", "hotline_supervisor", "hotline_12345", "hangzhou", legal);
    assert_int_equal(vault_record_add(id, sizeof id, intake, "hangzhou/gongshu/xiaohe", 3, fields,
                                      values, lens), 0);
    rec[0] = id;

    /* Closed to everyone before any grant, legal_disclosure included. */
    assert_int_equal(effect_of(he, id, ci), VAULT_EFFECT_DENY);
    assert_int_equal(effect_of(agent, id, ci), VAULT_EFFECT_DENY);

    g = tu_grant_spec(&ci, 1, "hotline_12345", NULL, 86400, "court order 2026-0105-123");
    g.user = "he.supervisor";
    g.role = "hotline_supervisor";
    g.records = rec;
    g.nrecords = 1;
    g.purposes = &legal;
    g.npurposes = 1;
    assert_int_equal(vault_grant_issue(gid, sizeof gid, &pending, qian, &g), 0);
    assert_int_equal(pending, 1);
    assert_int_equal(vault_grant_warnings(&w, v, gid), 0);
    assert_string_equal(w, ""); /* the deny does not stop this grant */
    vault_free(w);
    assert_int_equal(effect_of(he, id, ci), VAULT_EFFECT_DENY); /* pending: not yet */
    assert_int_equal(vault_grant_approve(qian, gid), VAULT_EDENIED); /* not by the issuer */
    assert_int_equal(effect_of(he, id, ci), VAULT_EFFECT_DENY);
    assert_int_equal(vault_grant_approve(sun, gid), 0);

    /* Open for the named supervisor, for legal_disclosure ... */
    assert_int_equal(vault_record_get(&r, he, id, &ci, 1), 0);
    assert_int_equal(vault_result_effect(r, 0), VAULT_EFFECT_ALLOW);
    assert_string_equal(vault_result_reason(r, 0)->grant, gid);
    val = vault_result_value(r, 0, &len);
    assert_non_null(val);
    assert_int_equal(len, lens[2]);
    assert_memory_equal(val, values[2], len);
    vault_result_free(r);
    /* ... and for nobody else, nor for a handling purpose. */
    assert_int_equal(effect_of(ma, id, ci), VAULT_EFFECT_DENY);
    assert_int_equal(effect_of(agent, id, ci), VAULT_EFFECT_DENY);
    assert_int_equal(effect_of(qian, id, ci), VAULT_EFFECT_DENY);
    assert_int_equal(vault_record_get(&r, he_review, id, &ci, 1), 0);
    assert_int_equal(vault_result_effect(r, 0), VAULT_EFFECT_DENY);
    assert_string_equal(vault_result_reason(r, 0)->rule, "desk-deny-complainant");
    vault_result_free(r);

    /* A grant for quality review can't open it, and says so. */
    g.purposes = &review;
    assert_int_equal(vault_grant_issue(gid, sizeof gid, &pending, qian, &g), 0);
    assert_int_equal(vault_grant_approve(sun, gid), 0);
    assert_int_equal(vault_grant_warnings(&w, v, gid), 0);
    assert_non_null(strstr(w, "deny rule desk-deny-complainant"));
    assert_non_null(strstr(w, "no access at all"));
    vault_free(w);
    assert_int_equal(effect_of(he_review, id, ci), VAULT_EFFECT_DENY);

    vault_session_close(intake);
    vault_session_close(agent);
    vault_session_close(qian);
    vault_session_close(sun);
    vault_session_close(he);
    vault_session_close(he_review);
    vault_session_close(ma);
    vault_close(v);
    tu_rmdir(dir);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_grant_within_limits), T(test_grant_refusals),  T(test_approval),
        T(test_approval_by_subject),
        T(test_expiry_and_revocation), T(test_other_handle_sees_grants), T(test_break_glass),
        T(test_every_step_logged),
#define O(fn) cmocka_unit_test_setup_teardown(fn, osetup, oteardown)
        O(test_scope_inside_issuer), O(test_no_self_grants), O(test_no_chaining),
        O(test_explicit_actions), O(test_time_range), O(test_apply_suspends_grants),
        O(test_apply_closes_break_glass),
        O(test_approver_rules), O(test_user_names_normalised), O(test_break_glass_bounds),
        O(test_useless_grant_warned),
        cmocka_unit_test(test_hotline_header_promise),
    };

    if (vault_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

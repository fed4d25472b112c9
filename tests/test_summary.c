/* vault_audit_summary (issue 19, "purpose accounting"): one month's
 * entries counted by department, purpose, role, action and outcome; the
 * distinct residents counted without the canaries (N real residents and
 * K decoys report N); text, JSON and RFC 4180 CSV; bad keys and months
 * refused; an entry changed behind libvault's back fails the summary
 * instead of being counted; the unsigned index copies are not used; the
 * summary is logged. */
#include "testutil.h"

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>
#include <time.h>

#include "audit/audit.h"
#include "rawdb.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"
#define N_REAL 3
#define N_DECOY 2

typedef struct fixture {
    char *dir;
    char path[512], keyfile[512], month[16];
    vault *v;
    char real[N_REAL][VAULT_ID_HEX_SIZE], decoy[N_DECOY][VAULT_ID_HEX_SIZE];
} fixture;

static const char *fields[] = {"name", "phone"};

static void this_month(char *out, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;

    assert_non_null(gmtime_r(&now, &tm));
    snprintf(out, cap, "%04d-%02d", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100);
}

static void read_field(vault_session *s, const char *id, const char *field)
{
    vault_result *r = NULL;

    assert_int_equal(vault_record_get(&r, s, id, &field, 1), 0);
    vault_result_free(r);
}

static int setup_once(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    vault_session *officer, *grid;
    const char *values[] = {"王小明", "13812345678"};
    size_t lens[] = {strlen(values[0]), strlen(values[1])};
    int i;

    assert_non_null(f);
    f->v = tu_new_vault(&f->dir, f->path, f->keyfile, sizeof f->path, POLICY, NULL);
    officer = tu_session(f->v, "li", "data_officer", "street_office", STREET, "resident_service");
    for (i = 0; i < N_REAL; i++)
        assert_int_equal(vault_record_add(f->real[i], VAULT_ID_HEX_SIZE, officer, GRID7, 2, fields,
                                          values, lens), 0);
    for (i = 0; i < N_DECOY; i++)
        assert_int_equal(vault_canary_add(f->decoy[i], VAULT_ID_HEX_SIZE, officer, GRID7, 2,
                                          fields, values, lens), 0);
    read_field(officer, f->real[2], "name"); /* allowed */
    vault_session_close(officer);
    /* The grid worker: names and phones (masked), health (denied), and
     * one decoy read. */
    grid = tu_session(f->v, "wang", "grid_worker", "community_committee", GRID7,
                      "grid_management");
    read_field(grid, f->real[0], "name");
    read_field(grid, f->real[1], "name");
    read_field(grid, f->real[0], "phone");
    read_field(grid, f->decoy[0], "name");
    {
        vault_result *r = NULL;
        const char *h = "health"; /* denied: the entry says so, the call returns 0 */
        assert_int_equal(vault_record_get(&r, grid, f->real[0], &h, 1), 0);
        vault_result_free(r);
    }
    vault_session_close(grid);
    this_month(f->month, sizeof f->month);
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

/* The fixture's entries all in one UTC month, f->month: made again, in
 * the new month, if the month turned while they were written. */
static int setup(void **state)
{
    char before[16];
    int tries;

    for (tries = 0;; tries++) {
        this_month(before, sizeof before);
        setup_once(state);
        if (strcmp(before, ((fixture *)*state)->month) == 0 || tries > 0)
            return 0;
        teardown(state);
    }
}

static json_t *summary_json(fixture *f, const char *by)
{
    char *out = NULL;
    json_error_t err;
    json_t *o;

    assert_int_equal(vault_audit_summary(&out, f->v, by, f->month, VAULT_SUMMARY_JSON), 0);
    o = json_loads(out, 0, &err);
    assert_non_null(o);
    vault_free(out);
    return o;
}

/* The group whose values are a (and b, when not NULL) for the keys k1 (k2). */
static json_t *group(json_t *o, const char *k1, const char *a, const char *k2, const char *b)
{
    json_t *g;
    size_t i;

    json_array_foreach(json_object_get(o, "groups"), i, g) {
        if (strcmp(json_string_value(json_object_get(g, k1)), a) != 0)
            continue;
        if (k2 && strcmp(json_string_value(json_object_get(g, k2)), b) != 0)
            continue;
        return g;
    }
    fail_msg("no group %s=%s %s=%s", k1, a, k2 ? k2 : "", b ? b : "");
    return NULL;
}

static int64_t num(json_t *o, const char *k)
{
    assert_true(json_is_integer(json_object_get(o, k)));
    return json_integer_value(json_object_get(o, k));
}

static void test_residents_leave_the_canaries_out(void **state)
{
    fixture *f = *state;
    json_t *o = summary_json(f, NULL), *g;

    assert_string_equal(json_string_value(json_object_get(o, "month")), f->month);
    assert_string_equal(json_string_value(json_object_get(o, "zone")), "UTC");
    /* N real residents, K decoys: N. */
    assert_int_equal(num(o, "residents"), N_REAL);
    assert_int_equal(num(o, "canary_entries"), 1);
    /* department,purpose by default */
    assert_int_equal(json_array_size(json_object_get(o, "by")), 2);
    g = group(o, "department", "street_office", "purpose", "resident_service");
    assert_int_equal(num(g, "entries"), N_REAL + N_DECOY + 1);
    assert_int_equal(num(g, "residents"), N_REAL);
    assert_int_equal(num(g, "canary_entries"), 0);
    g = group(o, "department", "community_committee", "purpose", "grid_management");
    assert_int_equal(num(g, "entries"), 5);
    assert_int_equal(num(g, "residents"), 2); /* real[0], real[1]; the decoy isn't one */
    assert_int_equal(num(g, "canary_entries"), 1);
    json_decref(o);
}

static void test_outcomes_and_actions(void **state)
{
    fixture *f = *state;
    json_t *o = summary_json(f, "role,action,outcome"), *g;

    g = group(o, "role", "data_officer", "outcome", "allowed");
    g = group(o, "role", "grid_worker", "outcome", "masked");
    assert_string_equal(json_string_value(json_object_get(g, "action")), "read");
    assert_int_equal(num(g, "entries"), 4); /* two names, a phone, the decoy's name */
    assert_int_equal(num(g, "residents"), 2);
    assert_int_equal(num(g, "canary_entries"), 1);
    g = group(o, "role", "grid_worker", "outcome", "denied");
    assert_int_equal(num(g, "entries"), 1);
    assert_int_equal(num(g, "residents"), 1);
    {
        /* the officer's one read, allowed */
        json_t *x;
        size_t i, n = 0;
        json_array_foreach(json_object_get(o, "groups"), i, x)
            if (!strcmp(json_string_value(json_object_get(x, "role")), "data_officer") &&
                !strcmp(json_string_value(json_object_get(x, "action")), "read")) {
                assert_string_equal(json_string_value(json_object_get(x, "outcome")), "allowed");
                assert_int_equal(num(x, "entries"), 1);
                n++;
            }
        assert_int_equal(n, 1);
    }
    g = group(o, "role", "data_officer", "action", "canary_add");
    assert_int_equal(num(g, "entries"), N_DECOY);
    assert_int_equal(num(g, "residents"), 0); /* made decoys: no residents */
    json_decref(o);
}

static void test_text_and_csv(void **state)
{
    fixture *f = *state;
    char *out = NULL, line[256];

    assert_int_equal(vault_audit_summary(&out, f->v, "department", f->month, VAULT_SUMMARY_TEXT),
                     0);
    assert_non_null(strstr(out, " (UTC, from "));
    snprintf(line, sizeof line, "%d residents (canaries not counted), 1 entries touched a canary",
             N_REAL);
    assert_non_null(strstr(out, line));
    assert_non_null(strstr(out, "\ndepartment  "));
    assert_non_null(strstr(out, "\ncommunity_committee          5          2       1\n"));
    assert_non_null(strstr(out, "\n-    ")); /* the vault's own entries: no department */
    vault_free(out);

    assert_int_equal(vault_audit_summary(&out, f->v, "purpose,department", f->month,
                                         VAULT_SUMMARY_CSV), 0);
    assert_memory_equal(out, "\"purpose\",\"department\",\"entries\",\"residents\","
                             "\"canary_entries\"\r\n", 63);
    assert_non_null(strstr(out, "\r\n\"grid_management\",\"community_committee\",\"5\",\"2\","
                                "\"1\"\r\n"));
    assert_null(strstr(out, "\n\n"));
    assert_int_equal(out[strlen(out) - 1], '\n');
    assert_int_equal(out[strlen(out) - 2], '\r');
    vault_free(out);
}

static void test_csv_quotes_what_needs_it(void **state)
{
    fixture *f = *state;
    af_entry e;
    char *out = NULL;

    /* Sessions refuse such names, but an entry may hold any text (an
     * older release's, a vault_set_actor entry's purpose): a comma, a
     * quote, a newline. */
    assert_int_equal(store_begin(f->v->db, 1), 0);
    audit_entry_init(&e, f->v, NULL, "note");
    e.department = "a \"b\", c\nd";
    e.purpose = "p\x1b[8m";
    assert_int_equal(audit_append(f->v, &e), 0);
    assert_int_equal(store_commit(f->v->db), 0);
    assert_int_equal(vault_audit_summary(&out, f->v, NULL, f->month, VAULT_SUMMARY_CSV), 0);
    assert_non_null(strstr(out, "\r\n\"a \"\"b\"\", c\nd\",\"p\x1b[8m\",\"1\",\"0\",\"0\"\r\n"));
    vault_free(out);
    /* the table escapes it: one line, no control character */
    assert_int_equal(vault_audit_summary(&out, f->v, NULL, f->month, VAULT_SUMMARY_TEXT), 0);
    assert_non_null(strstr(out, "\na \"b\", c\\nd  "));
    assert_null(strchr(out, '\x1b'));
    vault_free(out);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    char *out = NULL;
    static const char *const months[] = {"2026-1", "2026-00", "2026-13", "1969-12", "2026-11x",
                                         "2026/11", "", "+026-11"};
    static const char *const bys[] = {"dept", "department,", ",purpose", "role,role",
                                      "department purpose", ""};
    size_t i;

    for (i = 0; i < sizeof months / sizeof *months; i++) {
        assert_int_equal(vault_audit_summary(&out, f->v, NULL, months[i], VAULT_SUMMARY_TEXT),
                         VAULT_EINVALID);
        assert_null(out);
        assert_non_null(strstr(vault_error_last(), "YYYY-MM"));
    }
    assert_int_equal(vault_audit_summary(&out, f->v, NULL, NULL, VAULT_SUMMARY_TEXT),
                     VAULT_EINVALID);
    for (i = 0; i < sizeof bys / sizeof *bys; i++) {
        assert_int_equal(vault_audit_summary(&out, f->v, bys[i], f->month, VAULT_SUMMARY_TEXT),
                         VAULT_EINVALID);
        assert_null(out);
        assert_null(strchr(vault_error_last(), '\n'));
    }
    assert_non_null(strstr(vault_error_last(), "unknown key ''"));
    assert_int_equal(vault_audit_summary(&out, f->v, "role,role", f->month, VAULT_SUMMARY_TEXT),
                     VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "key 'role' named twice"));
    assert_int_equal(vault_audit_summary(&out, f->v, "dept", f->month, VAULT_SUMMARY_TEXT),
                     VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "unknown key 'dept'"));
    assert_int_equal(vault_audit_summary(&out, f->v, NULL, f->month, 3), VAULT_EINVALID);
    assert_int_equal(vault_audit_summary(NULL, f->v, NULL, f->month, 0), VAULT_EINVALID);
    /* A month with nothing in it */
    assert_int_equal(vault_audit_summary(&out, f->v, NULL, "1999-01", VAULT_SUMMARY_TEXT), 0);
    assert_non_null(strstr(out, "1999-01 (UTC, from 1999-01-01 to 1999-02-01): 0 entries"));
    assert_non_null(strstr(out, "(no entries in this month)"));
    vault_free(out);
    assert_int_equal(vault_audit_summary(&out, f->v, NULL, "2024-12", VAULT_SUMMARY_JSON), 0);
    assert_non_null(strstr(out, "\"to\": \"2025-01-01\""));
    vault_free(out);
}

static void test_logged(void **state)
{
    fixture *f = *state;
    char *out = NULL, *rep = NULL;

    assert_int_equal(vault_set_actor(f->v, "qian.privacy"), 0);
    assert_int_equal(vault_audit_summary(&out, f->v, "purpose,outcome", f->month,
                                         VAULT_SUMMARY_TEXT), 0);
    vault_free(out);
    assert_int_equal(vault_audit_report(&rep, f->v, VAULT_REPORT_USER, "qian.privacy", 0), 0);
    assert_non_null(strstr(rep, "audit_summary"));
    assert_non_null(strstr(rep, "month "));
    assert_non_null(strstr(rep, " by purpose,outcome"));
    vault_free(rep);
}

static void raw_exec(fixture *f, const char *sql)
{
    sqlite3 *db = tu_raw_db(f->v, f->path);
    char *err = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
    assert_int_equal(sqlite3_changes(db) > 0, 1);
    sqlite3_close(db);
}

static void test_index_copies_are_not_used(void **state)
{
    fixture *f = *state;
    json_t *o;

    /* The rows' unsigned record ids pointed elsewhere: no effect. */
    raw_exec(f, "UPDATE audit SET record_id = NULL, flags = 0;");
    o = summary_json(f, NULL);
    assert_int_equal(num(o, "residents"), N_REAL);
    assert_int_equal(num(o, "canary_entries"), 1);
    json_decref(o);
}

static void test_a_changed_entry_is_not_counted(void **state)
{
    fixture *f = *state;
    char *out = NULL;

    /* An insider renames the department in the first grid read (the same
     * length, so the entry still decodes): the chain no longer matches. */
    raw_exec(f, "UPDATE audit SET entry = CAST(substr(entry, 1, instr(entry, CAST("
                "'community_committee' AS BLOB)) - 1) || CAST('community_c0mmittee' AS BLOB) || "
                "substr(entry, instr(entry, CAST('community_committee' AS BLOB)) + 19) AS BLOB) "
                "WHERE pos = (SELECT min(pos) FROM audit WHERE instr(entry, "
                "CAST('community_committee' AS BLOB)) > 0);");
    assert_int_equal(vault_audit_summary(&out, f->v, NULL, f->month, VAULT_SUMMARY_TEXT),
                     VAULT_EINTEGRITY);
    assert_null(out);
    assert_non_null(strstr(vault_error_last(), "does not match the chain"));
    /* and the ranking refuses it the same way */
    assert_int_equal(vault_audit_anomalies(&out, f->v, 86400, 0), VAULT_EINTEGRITY);
    assert_null(out);
}

static void test_a_cut_tail_is_refused(void **state)
{
    fixture *f = *state;
    char *out = NULL;

    /* The newest entries removed: the newest left carries no MAC'd state. */
    raw_exec(f, "DELETE FROM audit WHERE pos > (SELECT max(pos) - 2 FROM audit);");
    assert_int_equal(vault_audit_summary(&out, f->v, NULL, f->month, VAULT_SUMMARY_TEXT),
                     VAULT_EINTEGRITY);
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_residents_leave_the_canaries_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcomes_and_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_and_csv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_quotes_what_needs_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_copies_are_not_used, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_changed_entry_is_not_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_cut_tail_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

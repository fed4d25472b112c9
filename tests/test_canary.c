/* Canary records (issue 19): a decoy resident made by a data officer looks
 * to readers like any other record, and every read, search hit or export
 * that touches it is flagged [CANARY] and raises an alarm after it
 * commits; its id is in a sealed meta row that a DBA can neither read nor
 * change unseen. */
#include "testutil.h"

#include <sodium.h>
#include <sqlite3.h>

#include "rawdb.h"

#include "crypto.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"

typedef struct fixture {
    char *dir;
    char path[512], keyfile[512];
    vault *v;
    vault_session *officer, *grid;
    char real[VAULT_ID_HEX_SIZE], decoy[VAULT_ID_HEX_SIZE];
    int alarms;
    char kind[16], name[32], record[VAULT_ID_HEX_SIZE], user[64];
} fixture;

static const char *fields[] = {"name", "phone", "id_number"};

static void on_alarm(const vault_alarm *a, void *arg)
{
    fixture *f = arg;

    f->alarms++;
    snprintf(f->kind, sizeof f->kind, "%s", a->kind);
    snprintf(f->name, sizeof f->name, "%s", a->name);
    snprintf(f->record, sizeof f->record, "%s", a->record);
    snprintf(f->user, sizeof f->user, "%s", a->user);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *real[] = {"王小明", "13812345678", "330102199001011234"};
    const char *decoy[] = {"赵小红", "13987654321", "330102198805052345"};
    size_t lr[] = {strlen(real[0]), strlen(real[1]), strlen(real[2])};
    size_t ld[] = {strlen(decoy[0]), strlen(decoy[1]), strlen(decoy[2])};

    assert_non_null(f);
    f->v = tu_new_vault(&f->dir, f->path, f->keyfile, sizeof f->path, POLICY, NULL);
    f->officer = tu_session(f->v, "li", "data_officer", "street_office", STREET,
                            "resident_service");
    f->grid = tu_session(f->v, "wang", "grid_worker", "community_committee", GRID7,
                         "grid_management");
    assert_int_equal(vault_record_add(f->real, sizeof f->real, f->officer, GRID7, 3, fields, real,
                                      lr), 0);
    assert_int_equal(vault_canary_add(f->decoy, sizeof f->decoy, f->officer, GRID7, 3, fields,
                                      decoy, ld), 0);
    assert_int_equal(vault_set_alarm(f->v, on_alarm, f), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    vault_session_close(f->officer);
    vault_session_close(f->grid);
    vault_close(f->v);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

static int count_in_report(vault *v, const char *user, const char *needle)
{
    char *rep = NULL;
    int n = 0;
    const char *p;

    assert_int_equal(vault_audit_report(&rep, v, VAULT_REPORT_USER, user, 0), 0);
    for (p = rep; (p = strstr(p, needle)) != NULL; p++)
        n++;
    vault_free(rep);
    return n;
}

static void test_reads_look_alike_and_the_decoy_alarms(void **state)
{
    fixture *f = *state;
    vault_result *a = NULL, *b = NULL;
    size_t i;

    assert_int_equal(vault_record_get(&a, f->grid, f->real, fields, 3), 0);
    assert_int_equal(f->alarms, 0);
    assert_int_equal(vault_record_get(&b, f->grid, f->decoy, fields, 3), 0);
    /* The same decisions, the same kind of values. */
    for (i = 0; i < 3; i++) {
        assert_int_equal(vault_result_effect(a, i), vault_result_effect(b, i));
        assert_string_equal(vault_result_reason(a, i)->text, vault_result_reason(b, i)->text);
        assert_int_equal(vault_result_present(a, i), vault_result_present(b, i));
    }
    vault_result_free(a);
    vault_result_free(b);
    assert_int_equal(f->alarms, 1);
    assert_string_equal(f->kind, "canary");
    assert_string_equal(f->name, "read");
    assert_string_equal(f->record, f->decoy);
    assert_string_equal(f->user, "wang");
    assert_int_equal(count_in_report(f->v, "wang", "[CANARY]"), 1);
}

static void test_search_and_export_alarm(void **state)
{
    fixture *f = *state;
    char *ids = NULL, *json = NULL;
    size_t n = 0;

    assert_int_equal(vault_record_find(&ids, &n, f->officer, "phone", "13987654321", 11), 0);
    assert_int_equal(n, 1);
    vault_free(ids);
    assert_int_equal(f->alarms, 1);
    assert_string_equal(f->name, "search");
    {
        /* export is for a resident's own request (purpose resident_request) */
        vault_session *req = tu_session(f->v, "li", "data_officer", "street_office", STREET,
                                        "resident_request");
        assert_int_equal(vault_record_export(&json, req, f->decoy), 0);
        vault_free(json);
        assert_int_equal(f->alarms, 2);
        assert_string_equal(f->name, "export");
        /* the real resident's export raises nothing */
        assert_int_equal(vault_record_export(&json, req, f->real), 0);
        vault_free(json);
        assert_int_equal(f->alarms, 2);
        vault_session_close(req);
    }
    /* entries: the canary_add and the two accesses, flagged */
    assert_int_equal(count_in_report(f->v, "li", "canary_add"), 1);
    assert_int_equal(count_in_report(f->v, "li", "[CANARY]"), 2);
}

static void test_only_officers_add_and_the_set_persists(void **state)
{
    fixture *f = *state;
    const char *v1[] = {"钱七", "13700000000", "330102197001011111"};
    size_t l1[] = {strlen(v1[0]), strlen(v1[1]), strlen(v1[2])};
    char id[VAULT_ID_HEX_SIZE];
    vault_secret sec = tu_keyfile_secret(f->keyfile);
    vault_result *r = NULL;

    assert_int_equal(vault_canary_add(id, sizeof id, f->grid, GRID7, 3, fields, v1, l1),
                     VAULT_EDENIED);
    assert_int_equal(count_in_report(f->v, "wang", "canary_add"), 1);
    /* Reopened, the decoy is still one. */
    vault_session_close(f->officer);
    vault_session_close(f->grid);
    vault_close(f->v);
    assert_int_equal(vault_open(&f->v, f->path, &sec), 0);
    assert_int_equal(vault_set_alarm(f->v, on_alarm, f), 0);
    f->officer = tu_session(f->v, "li", "data_officer", "street_office", STREET,
                            "resident_service");
    f->grid = tu_session(f->v, "wang", "grid_worker", "community_committee", GRID7,
                         "grid_management");
    assert_int_equal(vault_record_get(&r, f->grid, f->decoy, fields, 1), 0);
    vault_result_free(r);
    assert_int_equal(f->alarms, 1);
}

/* A DBA with the database key sees one sealed blob, without the ids, and
 * can't change or swap it unseen. */
static void test_the_set_is_sealed(void **state)
{
    fixture *f = *state;
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    uint8_t id[16];
    size_t len;
    vault_secret sec = tu_keyfile_secret(f->keyfile);
    vault *w = NULL;

    db = tu_raw_db(f->v, f->path); /* skips on PostgreSQL */

    assert_int_equal(vc_hex2bin(id, sizeof id, &len, f->decoy, 32), 0);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'canaries'", -1,
                                        &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_null(memmem(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), id, 16));
    sqlite3_finalize(st);
    /* flip a byte of the sealed set: the row MAC (and the seal) refuse it */
    assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = CAST(substr(value, 1, 10) || "
                                      "x'00' || substr(value, 12) AS BLOB) WHERE key = 'canaries'",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    vault_session_close(f->officer);
    vault_session_close(f->grid);
    f->officer = f->grid = NULL;
    vault_close(f->v);
    f->v = NULL;
    assert_int_equal(vault_open(&w, f->path, &sec), VAULT_EINTEGRITY);
    assert_null(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads_look_alike_and_the_decoy_alarms, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_search_and_export_alarm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_officers_add_and_the_set_persists, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_the_set_is_sealed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

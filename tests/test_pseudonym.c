/* The `pseudonym` mask (docs/masks.md): a department sees a stable keyed
 * pseudonym instead of the value, the same for the same value (after the
 * blind index's normalisation) in one department and field, another one
 * in another department, another field or another vault; export shows
 * what read shows; the value appears nowhere. */
#include "testutil.h"

#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"

static const char policy_text[] =
    "version: 1\n"
    "name: pseudonym-test\n"
    "grades:\n"
    "  - {name: personal}\n"
    "  - {name: sensitive}\n"
    "fields:\n"
    "  name:      {grade: personal,  mask: name}\n"
    "  id_number: {grade: sensitive, mask: pseudonym, index: exact}\n"
    "  phone:     {grade: personal,  mask: pseudonym}\n"
    "departments:\n"
    "  - {name: street_office}\n"
    "  - {name: civil_affairs}\n"
    "  - {name: health}\n"
    "roles:\n"
    "  - {name: data_officer}\n"
    "  - {name: caseworker}\n"
    "purposes:\n"
    "  - {name: resident_service}\n"
    "  - {name: case_handling}\n"
    "rules:\n"
    "  - id: officer-all\n"
    "    subjects: {role: data_officer}\n"
    "    actions: [create, read, write]\n"
    "    purposes: [resident_service]\n"
    "    scope: within\n"
    "    effect: allow\n"
    "  - id: caseworker-pseudonyms\n"
    "    subjects: {role: caseworker}\n"
    "    actions: [read, export]\n"
    "    purposes: [case_handling]\n"
    "    scope: within\n"
    "    fields: [name, id_number, phone]\n"
    "    effect: mask\n";

typedef struct fixture {
    char *dir;
    char path[512], keyfile[512], policy[512];
    vault *v;
    char a[VAULT_ID_HEX_SIZE], b[VAULT_ID_HEX_SIZE], c[VAULT_ID_HEX_SIZE];
} fixture;

static void add(char *id, vault *v, const char *idnum, const char *phone)
{
    vault_session *s = tu_session(v, "li", "data_officer", "street_office", STREET,
                                  "resident_service");
    const char *fields[] = {"name", "id_number", "phone"}, *values[] = {"张三丰", idnum, phone};
    size_t lens[] = {strlen(values[0]), strlen(idnum), strlen(phone)};

    assert_int_equal(vault_record_add(id, VAULT_ID_HEX_SIZE, s, GRID7, 3, fields, values, lens), 0);
    vault_session_close(s);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->v = tu_new_vault(&f->dir, f->path, f->keyfile, sizeof f->path, NULL, policy_text);
    snprintf(f->policy, sizeof f->policy, "%s/policy.yaml", f->dir);
    /* a and b hold the same ID number (x and X: one after normalising);
     * b's phone is that same string, c has other values. */
    add(f->a, f->v, "11010119900307123x", "13812345678");
    add(f->b, f->v, " 11010119900307123X", "11010119900307123X");
    add(f->c, f->v, "330102199001011234", "13900000000");
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

/* What `dept`'s caseworker sees of `field` in record `id` (into out). */
static void seen(char *out, size_t cap, vault *v, const char *dept, const char *id,
                 const char *field)
{
    vault_session *s = tu_session(v, "wu", "caseworker", dept, STREET, "case_handling");
    const char *fields[] = {field};
    vault_result *r = NULL;
    const char *val;

    assert_int_equal(vault_record_get(&r, s, id, fields, 1), 0);
    assert_int_equal(vault_result_effect(r, 0), VAULT_EFFECT_MASK);
    val = vault_result_value(r, 0, NULL);
    assert_non_null(val);
    assert_true(strlen(val) < cap);
    snprintf(out, cap, "%s", val);
    vault_result_free(r);
    vault_session_close(s);
}

static void assert_pseudonym(const char *p)
{
    size_t i;

    assert_int_equal(strlen(p), 20);
    assert_memory_equal(p, "PSN-", 4);
    for (i = 4; i < 20; i++)
        assert_true((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '2' && p[i] <= '7'));
}

static void test_stable_within_a_department(void **state)
{
    fixture *f = *state;
    char pa[64], pb[64], pc[64];

    seen(pa, sizeof pa, f->v, "civil_affairs", f->a, "id_number");
    seen(pb, sizeof pb, f->v, "civil_affairs", f->b, "id_number");
    seen(pc, sizeof pc, f->v, "civil_affairs", f->c, "id_number");
    assert_pseudonym(pa);
    assert_pseudonym(pc);
    assert_string_equal(pa, pb); /* one person: civil affairs can link its cases */
    assert_string_not_equal(pa, pc);
    /* The same again after the vault is closed and opened. */
    {
        vault_secret sec = tu_keyfile_secret(f->keyfile);
        char again[64];
        vault_close(f->v);
        assert_int_equal(vault_open(&f->v, f->path, &sec), 0);
        seen(again, sizeof again, f->v, "civil_affairs", f->a, "id_number");
        assert_string_equal(again, pa);
    }
}

static void test_departments_and_fields_differ(void **state)
{
    fixture *f = *state;
    char civil[64], health[64], civil_phone[64], name[64];

    seen(civil, sizeof civil, f->v, "civil_affairs", f->a, "id_number");
    seen(health, sizeof health, f->v, "health", f->a, "id_number");
    assert_pseudonym(health);
    assert_string_not_equal(civil, health); /* two departments can't join on it */
    /* b's phone is the ID number's string: another field, another pseudonym. */
    seen(civil_phone, sizeof civil_phone, f->v, "civil_affairs", f->b, "phone");
    assert_pseudonym(civil_phone);
    assert_string_not_equal(civil_phone, civil);
    /* Other masks are as before. */
    seen(name, sizeof name, f->v, "civil_affairs", f->a, "name");
    assert_string_equal(name, "张*");
}

static void test_another_vault_differs(void **state)
{
    fixture *f = *state;
    char here[64], there[64], path[600], key[600], id[VAULT_ID_HEX_SIZE];
    vault *w = NULL;
    vault_secret sec;

    snprintf(path, sizeof path, "%s/other.vault", f->dir);
    snprintf(key, sizeof key, "%s/other.key", f->dir);
    assert_int_equal(vault_keyfile_generate(key), 0);
    sec = tu_keyfile_secret(key);
    assert_int_equal(vault_create(&w, path, f->policy, &sec), 0);
    add(id, w, "11010119900307123X", "13812345678");
    seen(here, sizeof here, f->v, "civil_affairs", f->a, "id_number");
    seen(there, sizeof there, w, "civil_affairs", id, "id_number");
    assert_string_not_equal(here, there); /* keyed by the vault's master key */
    vault_close(w);
}

/* Export shows what read shows; neither the value nor the pseudonym is in
 * the audit log, and the vault file holds no pseudonym. */
static void test_export_and_log(void **state)
{
    fixture *f = *state;
    vault_session *s = tu_session(f->v, "wu", "caseworker", "health", STREET, "case_handling");
    char read[64], *json = NULL, log[600];

    seen(read, sizeof read, f->v, "health", f->a, "id_number");
    assert_int_equal(vault_record_export(&json, s, f->a), 0);
    assert_non_null(strstr(json, read));
    assert_null(strstr(json, "1101011990"));
    vault_free(json);
    vault_session_close(s);
    snprintf(log, sizeof log, "%s/log.jsonl", f->dir);
    assert_int_equal(vault_audit_export(f->v, log, NULL, NULL), 0);
    assert_false(tu_file_contains(log, "PSN-", 4));
    assert_false(tu_file_contains(log, "1101011990", 10));
    if (!tu_on_pg()) /* the vault file's bytes */
        assert_false(tu_file_contains(f->path, "PSN-", 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stable_within_a_department, setup, teardown),
        cmocka_unit_test_setup_teardown(test_departments_and_fields_differ, setup, teardown),
        cmocka_unit_test_setup_teardown(test_another_vault_differs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_and_log, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

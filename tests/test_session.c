/* session: searches can't undo a mask (search quotas counted in the
 * store, shared by every handle), and every refusal or metadata query of a
 * data call is an audit entry (issue 13). */
#include "testutil.h"
#include "testsnap.h"
#include "testrow.h"

#include "audit/audit_format.h"
#include "store/store.h"
#include "vault_int.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"
#define PHONE "13812345678" /* a grid worker sees 138****5678 */

typedef struct fixture {
    char *dir;
    char path[512];
    char keyfile[512];
    vault *v;
    vault_session *officer, *grid;
    char id[VAULT_ID_HEX_SIZE];
} fixture;

/* The shipped policy without its `quotas:` section. */
static void write_policy_without_quotas(const char *out)
{
    size_t len = 0;
    char *src = (char *)tu_read_file(POLICY, &len);
    char *a = strstr(src, "\nquotas:\n"), *b = a ? strstr(a, "\n# Who may issue") : NULL;
    FILE *fp = fopen(out, "w");

    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(fp);
    assert_int_equal(fwrite(src, 1, (size_t)(a - src) + 1, fp), (size_t)(a - src) + 1);
    assert_int_equal(fputs(b + 1, fp) >= 0, 1);
    fclose(fp);
    free(src);
}

static int setup_with(void **state, int quotas)
{
    fixture *f = calloc(1, sizeof *f);
    vault_secret sec = VAULT_SECRET_INIT;
    char policy[600];
    const char *fields[] = {"name", "phone", "id_number"};
    const char *values[] = {"张三", PHONE, "330102198001010038"};
    size_t lens[] = {strlen(values[0]), strlen(values[1]), strlen(values[2])};

    assert_non_null(f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/s.vault", f->dir);
    snprintf(f->keyfile, sizeof f->keyfile, "%s/s.key", f->dir);
    snprintf(policy, sizeof policy, "%s/noquota.yaml", f->dir);
    if (!quotas)
        write_policy_without_quotas(policy);
    assert_int_equal(vault_keyfile_generate(f->keyfile), 0);
    sec = tu_keyfile_secret(f->keyfile);
    assert_int_equal(vault_create(&f->v, f->path, quotas ? POLICY : policy, &sec), 0);
    f->officer = tu_session(f->v, "li", "data_officer", "street_office", STREET,
                            "resident_service");
    f->grid = tu_session(f->v, "zhang", "grid_worker", "community_committee", GRID7,
                         "grid_management");
    assert_int_equal(vault_record_add(f->id, sizeof f->id, f->officer, GRID7, 3, fields, values,
                                      lens), 0);
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_with(state, 1); }
static int setup_no_quotas(void **state) { return setup_with(state, 0); }

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

static int64_t entries(vault *v)
{
    int64_t n = 0;

    assert_int_equal(TU_SNAP(v->db, store_audit_count(&n, v->db)), 0);
    return n;
}

/* The newest audit entry, decoded; free *storage after use. */
static void last_entry(af_entry *e, void **storage, vault *v)
{
    int64_t pos = 0;
    uint8_t *enc = NULL, head[32];
    size_t len = 0;

    assert_int_equal(TU_SNAP(v->db, store_audit_last(&pos, &enc, &len, head, v->db)), 0);
    assert_non_null(enc);
    assert_int_equal(af_entry_decode(e, storage, enc, len), 0);
    free(enc);
}

/* The newest entry is a refusal of `action` with `outcome`, and its detail
 * or first field's reason contains `text` (NULL: anything). */
static void assert_last(vault *v, const char *action, int outcome, const char *text)
{
    af_entry e;
    void *st = NULL;

    last_entry(&e, &st, v);
    assert_string_equal(e.action, action);
    assert_int_equal(e.outcome, outcome);
    if (text)
        assert_true((e.detail && strstr(e.detail, text)) ||
                    (e.nfields && e.fields[0].reason && strstr(e.fields[0].reason, text)));
    free(st);
}

static int find(size_t *n, vault_session *s, const char *field, const char *value)
{
    char *ids = NULL;
    int rc = vault_record_find(&ids, n, s, field, value, strlen(value));

    free(ids);
    return rc;
}

/* ---- search cannot undo a mask ---- */

/* Without a quota a grid worker, who reads the phone masked, may not
 * search it: refused and logged.  The officer, who reads it, still can. */
static void test_masked_search_refused(void **state)
{
    fixture *f = *state;
    size_t n = 9;
    int64_t before = entries(f->v);

    assert_int_equal(find(&n, f->grid, "phone", PHONE), VAULT_EDENIED);
    assert_null(strstr(vault_error_last(), PHONE));
    assert_int_equal(entries(f->v), before + 1);
    assert_last(f->v, "search", AF_OUTCOME_DENIED, "no search quota");
    assert_int_equal(find(&n, f->officer, "phone", PHONE), 0);
    assert_int_equal(n, 1);
}

/* The attack of issue 13: a grid worker sweeps the four hidden digits of
 * 138****5678.  Without quotas not one guess is answered. */
static void test_masked_search_sweep_no_quota(void **state)
{
    fixture *f = *state;
    char guess[16];
    size_t n = 0;
    int i, found = 0, refused = 0;

    for (i = 0; i < 2000 && !found; i++) {
        snprintf(guess, sizeof guess, "138%04d5678", i);
        int rc = find(&n, f->grid, "phone", guess);
        if (rc == 0 && n > 0)
            found = 1;
        if (rc == VAULT_EDENIED)
            refused++;
    }
    assert_false(found);
    assert_int_equal(refused, i);
}

/* With the shipped policy's quota (30 per worker per hour) the sweep stops
 * at the 31st guess, long before the 1,235th that would hit. */
static void test_masked_search_sweep_quota(void **state)
{
    fixture *f = *state;
    char guess[16];
    size_t n = 0;
    int i, rc = 0;

    for (i = 0; i < 2000; i++) {
        snprintf(guess, sizeof guess, "138%04d5678", i);
        rc = find(&n, f->grid, "phone", guess);
        if (rc != 0 || n > 0)
            break;
    }
    assert_int_equal(rc, VAULT_EDENIED);
    assert_int_equal(i, 30);
    assert_int_equal(n, 0);
    assert_non_null(strstr(vault_error_last(), "grid-masked-search"));
    assert_non_null(strstr(vault_error_last(), "30 searches per 1h")); /* the policy's units */
    assert_last(f->v, "search", AF_OUTCOME_DENIED, "used up");
}

/* Inside the quota a masked search finds the record (and says so in the
 * log); the quota is one count per user shared by every handle on the
 * file; another worker has a quota of their own. */
static void test_quota_shared_by_handles(void **state)
{
    fixture *f = *state;
    vault *v2 = NULL;
    vault_session *g2 = NULL, *other = NULL;
    vault_secret sec = tu_keyfile_secret(f->keyfile);
    size_t n = 0;
    int i;
    int64_t used = 0;

    assert_int_equal(vault_open(&v2, f->path, &sec), 0);
    /* the same person whichever case the app asserts (names compare
     * normalised) */
    g2 = tu_session(v2, "Zhang", "grid_worker", "community_committee", GRID7, "grid_management");
    for (i = 0; i < 30; i++) {
        assert_int_equal(find(&n, i % 2 ? g2 : f->grid, "phone", PHONE), 0);
        assert_int_equal(n, 1);
    }
    assert_last(v2, "search", AF_OUTCOME_OK, "quota grid-masked-search: 30 of 30");
    assert_int_equal(TU_SNAP(f->v->db, store_quota_count(&used, f->v->db, "grid-masked-search", "zhang",
                                       vault__now() - 3600)), 0);
    assert_int_equal(used, 30);
    assert_int_equal(find(&n, f->grid, "phone", PHONE), VAULT_EDENIED);
    assert_int_equal(find(&n, g2, "id_number", "330102198001010038"), VAULT_EDENIED);
    assert_last(f->v, "search", AF_OUTCOME_DENIED, "used up");
    other = tu_session(v2, "wang", "grid_worker", "community_committee", GRID7,
                       "grid_management");
    assert_int_equal(find(&n, other, "phone", PHONE), 0);
    assert_int_equal(n, 1);
    vault_session_close(other);
    vault_session_close(g2);
    vault_close(v2);
}

/* A search a rule allows but whose read is denied confirms nothing, even
 * under a quota: the grid worker searching a record outside the grid. */
static void test_search_unconfirmed_candidate(void **state)
{
    fixture *f = *state;
    char other[VAULT_ID_HEX_SIZE];
    const char *fl = "phone", *val = "13900001111";
    size_t len = strlen(val), n = 9;
    af_entry e;
    void *st = NULL;
    int64_t before;

    assert_int_equal(vault_record_add(other, sizeof other, f->officer, STREET "/changzheng/grid-08",
                                      1, &fl, &val, &len), 0);
    before = entries(f->v);
    assert_int_equal(find(&n, f->grid, "phone", val), 0);
    assert_int_equal(n, 0);
    /* the candidate's refusal, then the search's own entry */
    assert_int_equal(entries(f->v), before + 2);
    last_entry(&e, &st, f->v);
    assert_string_equal(e.detail, "no record confirmed; quota grid-masked-search: 1 of 30");
    free(st);
}

/* ---- quotas in policy files ---- */

static void check_policy(const char *quotas, int want)
{
    size_t len = 0;
    char *src = (char *)tu_read_file(POLICY, &len), *a = strstr(src, "\nquotas:\n");
    char *b = a ? strstr(a, "\n# Who may issue") : NULL, *dir = tu_tmpdir(), path[512];
    char *report = NULL;
    FILE *fp;

    assert_non_null(b);
    snprintf(path, sizeof path, "%s/p.yaml", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fwrite(src, 1, (size_t)(a - src) + 1, fp);
    fputs(quotas, fp);
    fputs(b, fp);
    fclose(fp);
    assert_int_equal(vault_policy_check(&report, path), want);
    if (want == 0)
        assert_null(strstr(report, "error"));
    free(report);
    free(src);
    tu_rmdir(dir);
}

static void test_quota_syntax(void **state)
{
    (void)state;
    check_policy("quotas:\n  - {id: q, role: grid_worker, fields: [phone], searches: 5, per: 1h}\n",
                 0);
    /* bad count, bad period, unknown role, unindexed field, missing keys,
     * duplicate id, unknown key */
    check_policy("quotas:\n  - {id: q, role: grid_worker, fields: [phone], searches: 0, per: 1h}\n",
                 VAULT_EPOLICY);
    check_policy("quotas:\n  - {id: q, role: grid_worker, fields: [phone], searches: -3, per: 1h}\n",
                 VAULT_EPOLICY);
    check_policy("quotas:\n  - {id: q, role: grid_worker, fields: [phone], searches: 5, per: 0h}\n",
                 VAULT_EPOLICY);
    check_policy("quotas:\n  - {id: q, role: wizard, fields: [phone], searches: 5, per: 1h}\n",
                 VAULT_EPOLICY);
    check_policy("quotas:\n  - {id: q, role: grid_worker, fields: [name], searches: 5, per: 1h}\n",
                 VAULT_EPOLICY);
    check_policy("quotas:\n  - {id: q, role: grid_worker, searches: 5, per: 1h}\n", VAULT_EPOLICY);
    check_policy("quotas:\n  - {id: q, role: grid_worker, fields: [phone], searches: 5, per: 1h}\n"
                 "  - {id: q, role: grid_worker, fields: [phone], searches: 5, per: 1h}\n",
                 VAULT_EPOLICY);
    check_policy("quotas:\n  - {id: q, role: grid_worker, fields: [phone], searches: 5, per: 1h,"
                 " reads: 3}\n", VAULT_EPOLICY);
    check_policy("quotas: {id: q}\n", VAULT_EPOLICY);
}

/* ---- every refusal of a data call is an entry ---- */

#define NOSUCH "0123456789abcdef0123456789abcdef"

static void test_unknown_record_ids_logged(void **state)
{
    fixture *f = *state;
    vault_session *s = f->officer;
    vault_result *r = NULL;
    const char *fl = "phone", *val = "13800000000", *ids[2] = {f->id, NOSUCH};
    size_t len = strlen(val);
    char *text = NULL, jur[VAULT_JURISDICTION_MAX + 1];
    vault_reason why;
    int64_t before;
    int i;
    static const char *const actions[] = {"read",   "read",         "write",  "write",
                                          "erase",  "export",       "jurisdiction",
                                          "decide", "explain",      "who_can"};

    for (i = 0; i < 10; i++) {
        int rc;
        before = entries(f->v);
        switch (i) {
        case 0: rc = vault_record_get(&r, s, NOSUCH, &fl, 1); break;
        case 1: {
            vault_result *out[2] = {NULL, NULL};
            rc = vault_record_get_batch(out, s, ids, 2, &fl, 1);
            assert_null(out[0]);
            break;
        }
        case 2: rc = vault_record_put(s, NOSUCH, fl, val, len); break;
        case 3: rc = vault_record_update(s, NOSUCH, 1, &fl, &val, &len); break;
        case 4: rc = vault_record_erase(s, NOSUCH); break;
        case 5: rc = vault_record_export(&text, s, NOSUCH); break;
        case 6: rc = vault_record_jurisdiction(jur, sizeof jur, s, NOSUCH); break;
        case 7: rc = vault_decide(&why, s, VAULT_ACTION_READ, NOSUCH, "phone"); break;
        case 8: rc = vault_explain(&text, s, VAULT_ACTION_READ, NOSUCH, "phone"); break;
        default: rc = vault_who_can(&text, f->v, "phone", NOSUCH, 0); break;
        }
        assert_int_equal(rc, VAULT_ENOTFOUND);
        assert_null(text);
        assert_int_equal(entries(f->v), before + 1);
        assert_last(f->v, actions[i], AF_OUTCOME_DENIED, "no such record");
    }
    /* a malformed id too */
    before = entries(f->v);
    assert_int_equal(vault_record_get(&r, s, "not-an-id", &fl, 1), VAULT_EINVALID);
    assert_int_equal(entries(f->v), before + 1);
    assert_last(f->v, "read", AF_OUTCOME_DENIED, "malformed record id");
}

static void test_session_refusals_logged(void **state)
{
    fixture *f = *state;
    vault_session *s = NULL;
    vault_subject wizard = {sizeof(vault_subject), "WU", "wizard", "street_office", STREET, "resident_service"};
    vault_subject astray = {sizeof(vault_subject), "wu", "grid_worker", "street_office", STREET, "resident_service"};
    vault_subject garbled = {sizeof(vault_subject), "w\nu", "grid_worker", "street_office", STREET, "resident_service"};
    af_entry e;
    void *st = NULL;
    int64_t before = entries(f->v);

    assert_int_equal(vault_session_open(&s, f->v, &wizard), VAULT_EINVALID);
    assert_null(s);
    assert_int_equal(entries(f->v), before + 1);
    last_entry(&e, &st, f->v);
    assert_string_equal(e.action, "session_open");
    assert_int_equal(e.outcome, AF_OUTCOME_DENIED);
    assert_string_equal(e.user, "wu");
    assert_string_equal(e.role, "wizard"); /* as asserted */
    assert_non_null(strstr(e.detail, "not declared"));
    free(st);
    assert_int_equal(vault_session_open(&s, f->v, &astray), VAULT_EINVALID);
    assert_last(f->v, "session_open", AF_OUTCOME_DENIED, "does not exist in department");
    /* a malformed name is not copied into the log */
    assert_int_equal(vault_session_open(&s, f->v, &garbled), VAULT_EINVALID);
    last_entry(&e, &st, f->v);
    assert_string_equal(e.user, "?");
    free(st);
    assert_int_equal(entries(f->v), before + 3);
}

static void test_undeclared_fields_logged(void **state)
{
    fixture *f = *state;
    vault_result *r = NULL;
    const char *fl = "shoe_size", *val = "42";
    size_t len = 2;
    char newid[VAULT_ID_HEX_SIZE];
    af_entry e;
    void *st = NULL;
    int64_t before = entries(f->v);

    assert_int_equal(vault_record_put(f->officer, f->id, fl, val, len), VAULT_EINVALID);
    assert_int_equal(entries(f->v), before + 1);
    last_entry(&e, &st, f->v);
    assert_string_equal(e.action, "write");
    assert_int_equal(e.outcome, AF_OUTCOME_DENIED);
    assert_int_equal(e.nfields, 1);
    assert_string_equal(e.fields[0].name, "shoe_size");
    assert_int_equal(e.fields[0].effect, VAULT_EFFECT_DENY);
    free(st);
    assert_int_equal(vault_record_get(&r, f->officer, f->id, &fl, 1), VAULT_EINVALID);
    assert_last(f->v, "read", AF_OUTCOME_DENIED, "not declared");
    assert_int_equal(vault_record_add(newid, sizeof newid, f->officer, GRID7, 1, &fl, &val, &len),
                     VAULT_EINVALID);
    assert_last(f->v, "create", AF_OUTCOME_DENIED, "not declared");
    assert_int_equal(find(&len, f->officer, "shoe_size", "42"), VAULT_EINVALID);
    assert_last(f->v, "search", AF_OUTCOME_DENIED, "not declared");
    assert_int_equal(entries(f->v), before + 4);
}

/* A ciphertext that fails its check: logged as an error, no value. */
static void test_integrity_failure_logged(void **state)
{
    fixture *f = *state;
    vault_result *r = NULL;
    const char *fl = "phone";
    uint8_t id[VAULT_ID_BYTES], *ct = NULL;
    size_t len = 0;
    char grade[VAULT_NAME_MAX], *text = NULL;
    uint32_t ver = 0;
    int64_t before;
    vault_session *req;

    assert_int_equal(vault__id_parse(id, f->id), 0);
    ct = tu_raw_get(f->v, id, "phone", &len, grade, &ver);
    ct[len - 1] ^= 1;
    tu_raw_put(f->v, id, "phone", grade, ver, ct, len);
    free(ct);
    before = entries(f->v);
    assert_int_equal(vault_record_get(&r, f->officer, f->id, &fl, 1), VAULT_EINTEGRITY);
    assert_null(r);
    assert_int_equal(entries(f->v), before + 1);
    assert_last(f->v, "read", AF_OUTCOME_ERROR, "integrity");
    req = tu_session(f->v, "li", "data_officer", "street_office", STREET, "resident_request");
    assert_int_equal(vault_record_export(&text, req, f->id), VAULT_EINTEGRITY);
    assert_null(text);
    assert_last(f->v, "export", AF_OUTCOME_ERROR, "integrity");
    vault_session_close(req);
}

/* explain and who-can are entries; explain does not tell an auditor, who
 * may read nothing of the record, where the resident lives. */
static void test_explain_who_can_logged(void **state)
{
    fixture *f = *state;
    vault_session *aud = tu_session(f->v, "qian", "auditor", "street_office", STREET, "audit");
    char *text = NULL, jur[VAULT_JURISDICTION_MAX + 1];
    vault_reason why;
    int64_t before = entries(f->v);

    assert_int_equal(vault_explain(&text, aud, VAULT_ACTION_READ, f->id, "phone"), 0);
    assert_null(strstr(text, "changzheng"));
    assert_non_null(strstr(text, "not shown"));
    assert_non_null(strstr(text, "decision: deny"));
    vault_free(text);
    assert_int_equal(entries(f->v), before + 1);
    assert_last(f->v, "explain", AF_OUTCOME_OK, "record jurisdiction not shown");
    assert_int_equal(vault_record_jurisdiction(jur, sizeof jur, aud, f->id), VAULT_EDENIED);
    assert_last(f->v, "jurisdiction", AF_OUTCOME_DENIED, NULL);
    /* the grid worker sees the record (masked): explain shows the path */
    assert_int_equal(vault_explain(&text, f->grid, VAULT_ACTION_READ, f->id, "phone"), 0);
    assert_non_null(strstr(text, "changzheng/grid-07"));
    vault_free(text);
    assert_last(f->v, "explain", AF_OUTCOME_OK, "explain read");
    assert_int_equal(vault_record_jurisdiction(jur, sizeof jur, f->grid, f->id), 0);
    assert_string_equal(jur, GRID7);
    assert_int_equal(vault_decide(&why, aud, VAULT_ACTION_READ, f->id, "phone"), 0);
    assert_last(f->v, "decide", AF_OUTCOME_OK, NULL);
    assert_int_equal(vault_who_can(&text, f->v, "phone", f->id, 0), 0);
    vault_free(text);
    assert_last(f->v, "who_can", AF_OUTCOME_OK, "who can read phone");
    assert_int_equal(vault_who_can(&text, f->v, "shoe_size", NULL, 0), VAULT_EINVALID);
    assert_null(text);
    assert_last(f->v, "who_can", AF_OUTCOME_DENIED, "not declared");
    assert_int_equal(entries(f->v), before + 7);
    vault_session_close(aud);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TN(fn) cmocka_unit_test_setup_teardown(fn, setup_no_quotas, teardown)
    const struct CMUnitTest tests[] = {
        TN(test_masked_search_refused),
        TN(test_masked_search_sweep_no_quota),
        T(test_masked_search_sweep_quota),
        T(test_quota_shared_by_handles),
        T(test_search_unconfirmed_candidate),
        cmocka_unit_test(test_quota_syntax),
        T(test_unknown_record_ids_logged),
        T(test_session_refusals_logged),
        T(test_undeclared_fields_logged),
        T(test_integrity_failure_logged),
        T(test_explain_who_can_logged),
    };

    if (vault_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The authenticated principal (vault_session_open_as, vault_set_actor_as):
 * every entry records it, embedded callers carry the local one, malformed
 * principals are refused and logged, and a changed principal byte in the
 * store breaks verification (docs/security.md, docs/audit-format.md). */
#include "testlog.h"

#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "audit/audit.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"
#define PASS "principal test passphrase"

static const vault_subject grid_sub = {sizeof(vault_subject), "wang", "grid_worker", "community_committee", GRID7,
                                       "grid_management"};
static const vault_principal gridapp = {sizeof(vault_principal), "https://id.example.gov", "u-17", "jti-9", "grid-app",
                                        "tls:192.0.2.7:51234", 0, 0};

typedef struct fixture {
    char *dir;
    char path[512];
    vault *v;
    vault_session *officer;
    char id[VAULT_ID_HEX_SIZE];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    vault_secret s = tu_pass_secret(PASS);
    const char *fields[] = {"name", "phone"}, *values[] = {"张三", "13812345678"};
    size_t lens[] = {strlen(values[0]), 11};

    assert_non_null(f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/p.vault", f->dir);
    assert_int_equal(vault_create(&f->v, f->path, POLICY, &s), 0);
    f->officer = tu_session(f->v, "li", "data_officer", "street_office", STREET,
                            "resident_service");
    assert_int_equal(
        vault_record_add(f->id, sizeof f->id, f->officer, GRID7, 2, fields, values, lens), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    vault_session_close(f->officer);
    vault_close(f->v);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

/* The newest entry, copied out. */
typedef struct last_entry {
    int version, outcome;
    char action[32], user[VAULT_NAME_MAX], detail[512];
    char issuer[VAULT_PRINCIPAL_MAX], subject[VAULT_PRINCIPAL_MAX];
    char token_id[VAULT_PRINCIPAL_MAX], app[VAULT_PRINCIPAL_MAX], peer[VAULT_PRINCIPAL_MAX];
    size_t n;
} last_entry;

static void last_fn(void *arg, const af_entry *e)
{
    last_entry *l = arg;

    assert_non_null(e);
    l->n++;
    l->version = e->version;
    l->outcome = e->outcome;
    snprintf(l->action, sizeof l->action, "%s", e->action);
    snprintf(l->user, sizeof l->user, "%s", e->user);
    snprintf(l->detail, sizeof l->detail, "%s", e->detail);
    snprintf(l->issuer, sizeof l->issuer, "%s", e->who.issuer);
    snprintf(l->subject, sizeof l->subject, "%s", e->who.subject);
    snprintf(l->token_id, sizeof l->token_id, "%s", e->who.token_id);
    snprintf(l->app, sizeof l->app, "%s", e->who.app);
    snprintf(l->peer, sizeof l->peer, "%s", e->who.peer);
}

static void last(last_entry *l, vault *v)
{
    memset(l, 0, sizeof *l);
    tu_log_each(v->db, last_fn, l);
}

static void assert_local(const last_entry *l)
{
    char want[64];

    snprintf(want, sizeof want, "local:uid=%lu,pid=%ld", (unsigned long)getuid(),
             (long)getpid());
    assert_int_equal(l->version, AF_VERSION_2);
    assert_string_equal(l->issuer, "");
    assert_string_equal(l->subject, "");
    assert_string_equal(l->token_id, "");
    assert_string_equal(l->app, "");
    assert_string_equal(l->peer, want);
}

static void read_phone(vault_session *s, const char *id)
{
    vault_result *r = NULL;
    const char *phone = "phone";

    assert_int_equal(vault_record_get(&r, s, id, &phone, 1), 0);
    vault_result_free(r);
}

/* The JSON report rows of `user`, as parsed JSON. */
static json_t *report_rows(vault *v, const char *user)
{
    char *out = NULL;
    json_t *rows;

    assert_int_equal(vault_audit_report(&out, v, VAULT_REPORT_USER, user, 1), 0);
    rows = json_loads(out, 0, NULL);
    assert_non_null(rows);
    vault_free(out);
    return rows;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *s = json_object_get(o, k);

    assert_true(json_is_string(s));
    return json_string_value(s);
}

/* An authenticated session's entries carry its principal, in the log, in
 * the export and in the report; an embedded one's the local principal. */
static void test_session_as(void **state)
{
    fixture *f = *state;
    vault_session *s = NULL, *local = NULL;
    last_entry l;
    char exp[600], *text, *report = NULL;
    size_t len = 0, i, served = 0;
    json_t *rows, *row;

    assert_int_equal(vault_session_open_as(&s, f->v, &grid_sub, &gridapp), 0);
    read_phone(s, f->id);
    last(&l, f->v);
    assert_string_equal(l.action, "read");
    assert_string_equal(l.user, "wang");
    assert_string_equal(l.issuer, "https://id.example.gov");
    assert_string_equal(l.subject, "u-17");
    assert_string_equal(l.token_id, "jti-9");
    assert_string_equal(l.app, "grid-app");
    assert_string_equal(l.peer, "tls:192.0.2.7:51234");
    /* a refusal in that session carries it too */
    assert_int_equal(vault_record_put(s, f->id, "phone", "1", 1), VAULT_EDENIED);
    last(&l, f->v);
    assert_int_equal(l.outcome, AF_OUTCOME_DENIED);
    assert_string_equal(l.app, "grid-app");
    vault_session_close(s);

    local = tu_session(f->v, "wang", "grid_worker", "community_committee", GRID7,
                       "grid_management");
    read_phone(local, f->id);
    last(&l, f->v);
    assert_string_equal(l.action, "read");
    assert_local(&l);
    vault_session_close(local);

    /* the export shows it (LVA2 lines carry the principal keys) */
    snprintf(exp, sizeof exp, "%s/audit.jsonl", f->dir);
    assert_int_equal(vault_audit_export(f->v, exp, NULL, NULL), 0);
    text = (char *)tu_read_file(exp, &len);
    assert_non_null(text);
    text = realloc(text, len + 1);
    text[len] = '\0';
    assert_non_null(strstr(text, "\"purpose\":\"grid_management\",\"issuer\":\"https://id."
                                 "example.gov\",\"subject\":\"u-17\",\"token_id\":\"jti-9\","
                                 "\"app\":\"grid-app\",\"peer\":\"tls:192.0.2.7:51234\","
                                 "\"action\":\"read\""));
    assert_non_null(strstr(text, "\"app\":\"\",\"peer\":\"local:uid="));
    free(text);

    /* and the report: JSON rows and text lines */
    rows = report_rows(f->v, "wang");
    json_array_foreach(rows, i, row) {
        if (strcmp(jstr(row, "app"), "grid-app") != 0)
            continue;
        served++;
        assert_string_equal(jstr(row, "issuer"), "https://id.example.gov");
        assert_string_equal(jstr(row, "subject"), "u-17");
        assert_string_equal(jstr(row, "token_id"), "jti-9");
        assert_string_equal(jstr(row, "peer"), "tls:192.0.2.7:51234");
    }
    assert_int_equal(served, 2); /* the read and the refused write */
    json_decref(rows);
    assert_int_equal(vault_audit_report(&report, f->v, VAULT_REPORT_RECORD, f->id, 0), 0);
    assert_non_null(strstr(report, "wang (grid_worker/community_committee @ " GRID7
                                   ") [app=grid-app iss=https://id.example.gov sub=u-17]"
                                   "  read"));
    assert_non_null(strstr(report, "@ " GRID7 ") [embedded]  read"));
    vault_free(report);
}

typedef struct bad_case {
    vault_principal who;
    int code;
    const char *app_logged, *peer_logged; /* as the refusal records them */
    const char *why;
} bad_case;

/* Malformed principals are refused with a message naming the part (never
 * its text) and logged as a session_open refusal with the principal as
 * asserted, malformed strings as "?". */
static void test_bad_principals(void **state)
{
    fixture *f = *state;
    char long_sub[VAULT_PRINCIPAL_MAX + 1];
    static const char bad_utf8[] = "SECRET\xff";
    vault_session *s = (vault_session *)1;
    last_entry l;
    size_t i, before;
    bad_case cases[] = {
        {{sizeof(vault_principal), "iss", "sub", "", "SECRET\x1b[2K", "unix:uid=998", 0, 0}, VAULT_EINVALID, "?", "unix:uid=998",
         "control character in the app"},
        {{sizeof(vault_principal), bad_utf8, "sub", "", "app", "unix:uid=998", 0, 0}, VAULT_EINVALID, "app", "unix:uid=998",
         "invalid UTF-8 in the issuer"},
        {{sizeof(vault_principal), "iss", "sub", "SECRET\n", "app", "unix:uid=998", 0, 0}, VAULT_EINVALID, "app",
         "unix:uid=998", "newline in the token id"},
        {{sizeof(vault_principal), "iss", "sub", "", "app", "tls:SECRET\xe2\x80\xae", 0, 0}, VAULT_EINVALID, "app", "?",
         "bidi control in the peer"},
        {{sizeof(vault_principal), "iss", long_sub, "", "app", "unix:uid=998", 0, 0}, VAULT_ELIMIT, "app", "unix:uid=998",
         "subject too long"},
        {{sizeof(vault_principal), "iss", "sub", "", "app", "", 0, 0}, VAULT_EINVALID, "app", "", "no peer"},
        {{sizeof(vault_principal), "iss", NULL, "", "app", "unix:uid=998", 0, 0}, VAULT_EINVALID, "app", "unix:uid=998",
         "issuer without a subject"},
        {{sizeof(vault_principal), NULL, "sub", "", "app", "unix:uid=998", 0, 0}, VAULT_EINVALID, "app", "unix:uid=998",
         "subject without an issuer"},
        {{sizeof(vault_principal), "", "", "jti", "app", "unix:uid=998", 0, 0}, VAULT_EINVALID, "app", "unix:uid=998",
         "token id without an issuer"},
        {{sizeof(vault_principal), "", "", "", "", "unix:uid=998", 0, 0}, VAULT_EINVALID, "", "unix:uid=998",
         "neither an app nor an issuer"},
    };

    (void)state;
    memset(long_sub, 'S', VAULT_PRINCIPAL_MAX);
    long_sub[VAULT_PRINCIPAL_MAX] = '\0';
    for (i = 0; i < VAULT_ARRAY_LEN(cases); i++) {
        last(&l, f->v);
        before = l.n;
        s = (vault_session *)1;
        if (vault_session_open_as(&s, f->v, &grid_sub, &cases[i].who) != cases[i].code)
            fail_msg("%s: not refused with %d (%s)", cases[i].why, cases[i].code,
                     vault_error_last());
        assert_null(s);
        assert_non_null(strstr(vault_error_last(), "principal"));
        assert_null(strstr(vault_error_last(), "SECRET"));
        assert_null(strstr(vault_error_last(), "SSSS"));
        last(&l, f->v);
        assert_int_equal(l.n, before + 1);
        assert_string_equal(l.action, "session_open");
        assert_int_equal(l.outcome, AF_OUTCOME_DENIED);
        assert_string_equal(l.user, "wang");
        assert_string_equal(l.app, cases[i].app_logged);
        assert_string_equal(l.peer, cases[i].peer_logged);
        assert_null(strstr(l.detail, "SECRET"));
    }
    assert_int_equal(vault_session_open_as(&s, f->v, &grid_sub, NULL), VAULT_EINVALID);
    assert_null(s);
    /* a subject refusal under a good principal records the principal */
    {
        vault_subject bad = grid_sub;

        bad.role = "janitor";
        assert_int_equal(vault_session_open_as(&s, f->v, &bad, &gridapp), VAULT_EINVALID);
        last(&l, f->v);
        assert_string_equal(l.action, "session_open");
        assert_string_equal(l.app, "grid-app");
        assert_string_equal(l.subject, "u-17");
    }
    /* an app alone (no person token) is a principal too */
    {
        vault_principal app_only = {sizeof(vault_principal), NULL, NULL, NULL, "grid-app", "unix:uid=998", 0, 0};

        assert_int_equal(vault_session_open_as(&s, f->v, &grid_sub, &app_only), 0);
        read_phone(s, f->id);
        last(&l, f->v);
        assert_string_equal(l.app, "grid-app");
        assert_string_equal(l.issuer, "");
        vault_session_close(s);
    }
}

/* The admin calls record the actor's principal; vault_set_actor returns
 * to the embedded one; a bad principal is refused, logged, and leaves the
 * actor as it was. */
static void test_actor_as(void **state)
{
    fixture *f = *state;
    static const vault_principal officer = {sizeof(vault_principal), "https://id.example.gov", "officer-3", "", "desk",
                                            "unix:uid=1001", 0, 0};
    static const vault_principal bad = {sizeof(vault_principal), "https://id.example.gov", "officer-3", "", "desk\t",
                                        "unix:uid=1001", 0, 0};
    char pub[VAULT_PUBKEY_SIZE];
    last_entry l;

    last(&l, f->v);
    assert_local(&l); /* the record added in setup, by an embedded session */
    assert_int_equal(vault_set_actor_as(f->v, "qian", &officer), 0);
    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, f->v), 0);
    last(&l, f->v);
    assert_string_equal(l.action, "audit_pubkey");
    assert_string_equal(l.user, "qian");
    assert_string_equal(l.subject, "officer-3");
    assert_string_equal(l.app, "desk");
    assert_string_equal(l.peer, "unix:uid=1001");

    assert_int_equal(vault_set_actor_as(f->v, "zhao", &bad), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "principal app"));
    last(&l, f->v);
    assert_string_equal(l.action, "set_actor");
    assert_int_equal(l.outcome, AF_OUTCOME_DENIED);
    assert_string_equal(l.user, "zhao");
    assert_string_equal(l.app, "?");
    assert_int_equal(vault_set_actor_as(f->v, "bad name", &officer), VAULT_EINVALID);
    last(&l, f->v);
    assert_string_equal(l.action, "set_actor");
    assert_string_equal(l.user, "?");
    assert_int_equal(vault_set_actor_as(f->v, "zhao", NULL), VAULT_EINVALID);
    /* still qian, as the officer */
    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, f->v), 0);
    last(&l, f->v);
    assert_string_equal(l.user, "qian");
    assert_string_equal(l.app, "desk");

    assert_int_equal(vault_set_actor(f->v, "qian"), 0);
    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, f->v), 0);
    last(&l, f->v);
    assert_string_equal(l.user, "qian");
    assert_local(&l);
}

/* One byte of a stored principal changed: verification says modified at
 * that entry. */
static void test_tampered_principal(void **state)
{
    fixture *f = *state;
    vault_session *s = NULL;
    vault_audit_result res;
    char key[VAULT_DB_KEY_SIZE];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t pos = 0;
    uint8_t *copy = NULL;
    size_t n = 0, k;
    const uint8_t *hit;

    assert_int_equal(vault_session_open_as(&s, f->v, &grid_sub, &gridapp), 0);
    read_phone(s, f->id);
    read_phone(s, f->id);
    vault_session_close(s);
    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), 0);

    assert_int_equal(vault_db_key(key, sizeof key, f->v), 0);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_key(db, key, (int)strlen(key)), SQLITE_OK);
    sodium_memzero(key, sizeof key);
    assert_int_equal(sqlite3_exec(db, "PRAGMA cipher_page_size = 4096", NULL, NULL, NULL),
                     SQLITE_OK);
    /* the first entry holding the app's name */
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT pos, entry FROM audit ORDER BY pos", -1, &st,
                                        NULL),
                     SQLITE_OK);
    while (!copy && sqlite3_step(st) == SQLITE_ROW) {
        const uint8_t *b = sqlite3_column_blob(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);

        for (hit = NULL, k = 0; b && k + 11 <= len && !hit; k++)
            if (memcmp(b + k, "grid-app", 8) == 0) /* memcmp ok: not secret */
                hit = b + k;
        if (!hit)
            continue;
        pos = sqlite3_column_int64(st, 0);
        copy = malloc(len);
        assert_non_null(copy);
        memcpy(copy, b, len);
        copy[hit - b + 7] = 'X'; /* "hotlineXapp" */
        n = len;
    }
    sqlite3_finalize(st);
    assert_non_null(copy);
    assert_int_equal(sqlite3_prepare_v2(db, "UPDATE audit SET entry = ? WHERE pos = ?", -1, &st,
                                        NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, copy, (int)n, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, pos);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(copy);

    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_MODIFIED);
    assert_true(res.bad_seq > 0);
}

typedef struct import_check {
    size_t creates, shared;
    char peer[VAULT_PRINCIPAL_MAX];
} import_check;

static void import_fn(void *arg, const af_entry *e)
{
    import_check *c = arg;
    size_t i, distinct = 0;

    assert_non_null(e);
    if (strcmp(e->action, "create") != 0 || e->nfields < 2 || strncmp(e->detail, "import ", 7))
        return;
    c->creates++;
    /* a decoded LVA2 entry's fields point at its reason table: one
     * pointer per table string */
    for (i = 0; i < e->nfields; i++)
        distinct += i == 0 || e->fields[i].reason != e->fields[i - 1].reason;
    c->shared += distinct == 1;
    snprintf(c->peer, sizeof c->peer, "%s", e->who.peer);
}

/* An import writes one entry per resident, each reason stored once and
 * the importing session's principal in each. */
static void test_import_entries(void **state)
{
    fixture *f = *state;
    static const vault_principal batch = {sizeof(vault_principal), NULL, NULL, NULL, "street-desk", "unix:uid=998", 0, 0};
    static const vault_subject officer = {sizeof(vault_subject), "li", "data_officer", "street_office", STREET,
                                          "resident_service"};
    vault_session *s = NULL;
    size_t count = 0;
    import_check c;

    memset(&c, 0, sizeof c);
    assert_int_equal(vault_session_open_as(&s, f->v, &officer, &batch), 0);
    assert_int_equal(vault_import_csv(&count, s, VAULT_SOURCE_DIR "/tests/data/csv/good.csv",
                                      NULL, NULL),
                     0);
    vault_session_close(s);
    assert_true(count >= 2);
    tu_log_each(f->v->db, import_fn, &c);
    assert_int_equal(c.creates, count);
    assert_int_equal(c.shared, count); /* one rule allowed every column */
    assert_string_equal(c.peer, "unix:uid=998");
}

/* The policy's apps: bound at session open (DESIGN §5): an app acts only
 * for the departments, roles, jurisdictions and purposes it lists, the
 * officer flags add their bounds, and every refusal is logged with the
 * app and the reason. */
static void test_app_bounds(void **state)
{
    fixture *f = *state;
    vault_session *s = NULL;
    static const vault_subject health_sub = {sizeof(vault_subject), "wang", "health_worker", "health", STREET,
                                             "public_health"};
    static const vault_subject officer = {sizeof(vault_subject), "li", "data_officer", "street_office", STREET,
                                          "resident_service"};
    static const vault_subject street = {sizeof(vault_subject), "zhou", "street_officer", "street_office", STREET,
                                         "resident_service"};
    static const vault_subject far = {sizeof(vault_subject), "wang", "grid_worker", "community_committee",
                                      "hangzhou/xihu/lingyin", "grid_management"};
    vault_principal hot = {sizeof(vault_principal), "https://id.example.gov", "u-9", "", "hotline-app", "unix:uid=1002", 0, 0};
    vault_principal desk = {sizeof(vault_principal), "https://id.example.gov", "u-3", "", "street-desk", "unix:uid=0", 0, 0};
    vault_principal nobody = {sizeof(vault_principal), "https://id.example.gov", "u-3", "", "nobody-app", "unix:uid=7", 0, 0};
    vault_principal cli = {sizeof(vault_principal), "https://id.example.gov", "u-5", "", "vaultctl", "unix:uid=1005", 0, 0};
    static const vault_subject auditor = {sizeof(vault_subject), "qian", "auditor", "street_office", STREET, "audit"};
    last_entry l;

    /* the hotline app asserting the health department */
    assert_int_equal(vault_session_open_as(&s, f->v, &health_sub, &hot), VAULT_EDENIED);
    assert_null(s);
    assert_non_null(strstr(vault_error_last(), "app hotline-app may not act for department health"));
    last(&l, f->v);
    assert_string_equal(l.action, "session_open");
    assert_string_equal(l.app, "hotline-app");
    assert_int_equal(l.outcome, AF_OUTCOME_DENIED);
    assert_non_null(strstr(l.detail, "department health"));
    /* an app the policy doesn't list; a jurisdiction outside the app's */
    assert_int_equal(vault_session_open_as(&s, f->v, &officer, &nobody), VAULT_EDENIED);
    assert_int_equal(vault_session_open_as(&s, f->v, &far, &gridapp), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "grid-app"));
    /* officers' actions: only through an app that allows them */
    {
        vault_principal g = gridapp;
        g.flags = VAULT_PRINCIPAL_OFFICER_APP;
        assert_int_equal(vault_session_open_as(&s, f->v, &grid_sub, &g), VAULT_EDENIED);
        g.flags = 0x80;
        assert_int_equal(vault_session_open_as(&s, f->v, &grid_sub, &g), VAULT_EINVALID);
    }
    desk.flags = VAULT_PRINCIPAL_OFFICER_APP;
    assert_int_equal(vault_session_open_as(&s, f->v, &street, &desk), 0);
    vault_session_close(s);
    s = NULL;
    /* changing the vault itself: data officers only */
    desk.flags = VAULT_PRINCIPAL_OFFICER_APP | VAULT_PRINCIPAL_DATA_OFFICER;
    cli.flags = desk.flags;
    assert_int_equal(vault_session_open_as(&s, f->v, &auditor, &cli), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "not a data officer"));
    cli.flags = VAULT_PRINCIPAL_OFFICER_APP;
    assert_int_equal(vault_session_open_as(&s, f->v, &auditor, &cli), 0);
    vault_session_close(s);
    s = NULL;
    assert_int_equal(vault_session_open_as(&s, f->v, &officer, &desk), 0);
    vault_session_close(s);
}

/* The phone of f->id as the embedded officer reads it (no deadline). */
static void phone_is(fixture *f, const char *want)
{
    vault_result *r = NULL;
    const char *phone = "phone";
    size_t len = 0;
    const char *val;

    assert_int_equal(vault_record_get(&r, f->officer, f->id, &phone, 1), 0);
    val = vault_result_value(r, 0, &len);
    assert_non_null(val);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(val, want, len);
    vault_result_free(r);
}

static int64_t records_now(vault *v)
{
    int64_t n = -1;

    assert_int_equal(store_begin(v->db, STORE_TX_SNAPSHOT), 0);
    assert_int_equal(store_record_count(&n, v->db), 0);
    store_rollback(v->db);
    return n;
}

/* Option structs (vault.h): a size of 0 (never initialised) or one
 * above this library's (a newer header) is refused, naming the struct and
 * its INIT macro; an older, smaller size is read up to its end only (the
 * members it lacks are their defaults). */
static void test_option_sizes(void **state)
{
    fixture *f = *state;
    vault_session *s = (vault_session *)1;
    vault_principal old = {sizeof(vault_principal), "https://id.example.gov", "u-3", "jti-old",
                           "street-desk", "unix:uid=998", 0, 1};
    vault_subject li = {sizeof(vault_subject), "li", "data_officer", "street_office", STREET,
                        "resident_service"};
    vault_subject zero;
    vault_secret sec;
    vault_credentials cred = VAULT_CREDENTIALS_INIT;
    vault *v = (vault *)1;

    memset(&zero, 0, sizeof zero);
    zero.user = "li";
    assert_int_equal(vault_session_open(&s, f->v, &zero), VAULT_EINVALID);
    assert_string_equal(vault_error_last(),
                        "vault_subject: size 0: initialise with VAULT_SUBJECT_INIT");
    assert_null(s);
    li.size = sizeof li + 8;
    assert_int_equal(vault_session_open(&s, f->v, &li), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "vault_subject: size"));
    assert_non_null(strstr(vault_error_last(), "is newer than this libvault's"));
    li.size = sizeof li;
    /* not_after 1 (1970) would refuse the principal as expired: a caller
     * whose header ends before not_after never set it, so it is not read */
    assert_int_equal(vault_session_open_as(&s, f->v, &li, &old), VAULT_EAUTH);
    old.size = offsetof(vault_principal, not_after);
    assert_int_equal(vault_session_open_as(&s, f->v, &li, &old), VAULT_OK);
    vault_session_close(s);
    s = NULL;
    old.size = 0;
    assert_int_equal(vault_session_open_as(&s, f->v, &li, &old), VAULT_EINVALID);
    assert_string_equal(vault_error_last(),
                        "vault_principal: size 0: initialise with VAULT_PRINCIPAL_INIT");
    /* the same check on the other entry points, before anything else */
    memset(&sec, 0, sizeof sec);
    sec.kind = VAULT_UNLOCK_KEYFILE;
    sec.data = "no-such.key";
    assert_int_equal(vault_open(&v, "no-such.vault", &sec), VAULT_EINVALID);
    assert_string_equal(vault_error_last(),
                        "vault_secret: size 0: initialise with VAULT_SECRET_INIT");
    assert_null(v);
    cred.size = 3; /* not even the size member */
    cred.token = "x.y.z";
    assert_int_equal(vault_connect(&v, "unix:///nonexistent", &cred), VAULT_EINVALID);
    assert_string_equal(vault_error_last(),
                        "vault_credentials: size 3: initialise with VAULT_CREDENTIALS_INIT");
}

/* A principal's not_after: past at open, refused (logged); passed
 * during a session, every call's commit refused: no value, no write, the
 * refusal logged; the actor likewise (one sleep of 2 s: libvault has no
 * test clock). */
static void test_token_expiry(void **state)
{
    fixture *f = *state;
    vault_session *s = NULL, *late = NULL;
    vault_principal desk = {sizeof(vault_principal), "https://id.example.gov", "u-3", "jti-exp", "street-desk",
                            "unix:uid=998", 0, 0};
    const vault_subject li = {sizeof(vault_subject), "li", "data_officer", "street_office", STREET, "resident_service"};
    const char *phone = "phone", *fields[] = {"phone"}, *values[] = {"13900000000"};
    const char *expired = "the caller's token expired during the request; nothing was committed";
    size_t lens[] = {11};
    vault_result *r = NULL;
    vault_audit_result res;
    char id[VAULT_ID_HEX_SIZE];
    last_entry l;
    int64_t t0 = (int64_t)time(NULL), nrec;
    size_t n0;

    /* Already past: the session never opens, and the attempt is logged. */
    desk.not_after = t0 - 10;
    assert_int_equal(vault_session_open_as(&late, f->v, &li, &desk), VAULT_EAUTH);
    assert_null(late);
    assert_non_null(strstr(vault_error_last(), "token expired"));
    last(&l, f->v);
    assert_string_equal(l.action, "session_open");
    assert_int_equal(l.outcome, AF_OUTCOME_DENIED);
    assert_string_equal(l.subject, "u-3");
    assert_int_equal(vault_set_actor_as(f->v, "li", &desk), VAULT_EAUTH);
    last(&l, f->v);
    assert_string_equal(l.action, "set_actor");
    assert_int_equal(l.outcome, AF_OUTCOME_DENIED);
    desk.not_after = -1;
    assert_int_equal(vault_session_open_as(&late, f->v, &li, &desk), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "not_after"));

    /* Good until t0 + 1: served while it holds. */
    desk.not_after = t0 + 1;
    assert_int_equal(vault_session_open_as(&s, f->v, &li, &desk), 0);
    read_phone(s, f->id);
    last(&l, f->v);
    assert_string_equal(l.action, "read");
    assert_int_equal(l.outcome, AF_OUTCOME_OK);
    assert_int_equal(vault_set_actor_as(f->v, "li", &desk), 0);
    sleep(2);

    /* A read: no value, only the refusal in the log. */
    last(&l, f->v);
    n0 = l.n;
    assert_int_equal(vault_record_get(&r, s, f->id, &phone, 1), VAULT_EAUTH);
    assert_null(r);
    assert_string_equal(vault_error_last(), expired);
    last(&l, f->v);
    assert_int_equal(l.n, n0 + 1);
    assert_string_equal(l.action, "read");
    assert_int_equal(l.outcome, AF_OUTCOME_DENIED);
    assert_string_equal(l.subject, "u-3");
    assert_string_equal(l.app, "street-desk");
    assert_non_null(strstr(l.detail, "token expired"));

    /* An update: the record is unchanged. */
    assert_int_equal(vault_record_update(s, f->id, 1, fields, values, lens), VAULT_EAUTH);
    assert_string_equal(vault_error_last(), expired);
    last(&l, f->v);
    assert_int_equal(l.n, n0 + 2);
    assert_string_equal(l.action, "write");
    assert_int_equal(l.outcome, AF_OUTCOME_DENIED);
    phone_is(f, "13812345678");

    /* An add: no record. */
    nrec = records_now(f->v);
    last(&l, f->v);
    n0 = l.n;
    assert_int_equal(vault_record_add(id, sizeof id, s, STREET, 1, fields, values, lens),
                     VAULT_EAUTH);
    assert_int_equal(records_now(f->v), nrec);
    last(&l, f->v);
    assert_int_equal(l.n, n0 + 1);
    assert_int_equal(l.outcome, AF_OUTCOME_DENIED);

    /* The actor's calls are held to the same deadline. */
    assert_int_equal(vault_audit_checkpoint(NULL, f->v), VAULT_EAUTH);
    assert_string_equal(vault_error_last(), expired);
    last(&l, f->v);
    assert_int_equal(l.n, n0 + 2);
    assert_string_equal(l.action, "audit_checkpoint");
    assert_int_equal(l.outcome, AF_OUTCOME_DENIED);
    assert_string_equal(l.user, "li");

    /* Embedded callers have no deadline; the log is intact. */
    assert_int_equal(vault_set_actor(f->v, "qian"), 0);
    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), 0);
    vault_session_close(s);
}

/* Reading the log and the grants through a service (VAULT_PRINCIPAL_AUDITOR)
 * is for the roles the policy's auditors: lists; an officer on an
 * officers' app who isn't one is refused, and the refusal is logged. */
static void test_log_readers(void **state)
{
    fixture *f = *state;
    vault_session *s = NULL;
    static const vault_subject street = {sizeof(vault_subject), "zhou", "street_officer", "street_office", STREET,
                                         "resident_service"};
    static const vault_subject officer = {sizeof(vault_subject), "li", "data_officer", "street_office", STREET,
                                          "resident_service"};
    static const vault_subject auditor = {sizeof(vault_subject), "qian", "auditor", "street_office", STREET, "audit"};
    vault_principal desk = {sizeof(vault_principal), "https://id.example.gov", "u-3", "j-3", "street-desk", "unix:uid=0",
                            VAULT_PRINCIPAL_OFFICER_APP | VAULT_PRINCIPAL_AUDITOR, 0};
    vault_principal cli = {sizeof(vault_principal), "https://id.example.gov", "u-5", "", "vaultctl", "unix:uid=1005",
                           VAULT_PRINCIPAL_OFFICER_APP | VAULT_PRINCIPAL_AUDITOR, 0};
    char policy[600], *src = NULL, *rep = NULL, hash[VAULT_HASH_HEX_SIZE], *cut;
    last_entry l;
    size_t n0;

    /* a street officer: an officer, a grant issuer, not an auditor */
    last(&l, f->v);
    n0 = l.n;
    assert_int_equal(vault_session_open_as(&s, f->v, &street, &desk), VAULT_EDENIED);
    assert_null(s);
    assert_non_null(strstr(vault_error_last(), "role street_officer may not read the audit log "
                                               "or the grants: auditors does not list it "
                                               "(community.yaml:"));
    last(&l, f->v);
    assert_int_equal(l.n, n0 + 1);
    assert_string_equal(l.action, "session_open");
    assert_int_equal(l.outcome, AF_OUTCOME_DENIED);
    assert_string_equal(l.user, "zhou");
    assert_string_equal(l.subject, "u-3");
    assert_string_equal(l.app, "street-desk");
    assert_non_null(strstr(l.detail, "auditors does not list it"));
    /* the same officer for an officer's action that shows no accesses */
    desk.flags = VAULT_PRINCIPAL_OFFICER_APP;
    assert_int_equal(vault_session_open_as(&s, f->v, &street, &desk), VAULT_OK);
    vault_session_close(s);
    s = NULL;
    /* the flag alone, on an app without officers' actions: a grid worker is refused */
    {
        static const vault_subject grid = {sizeof(vault_subject), "wang", "grid_worker", "community_committee", GRID7,
                                           "grid_management"};
        vault_principal g = gridapp;
        g.flags = VAULT_PRINCIPAL_AUDITOR;
        assert_int_equal(vault_session_open_as(&s, f->v, &grid, &g), VAULT_EDENIED);
        assert_non_null(strstr(vault_error_last(), "may not read the audit log"));
    }
    /* the listed roles: a data officer at the desk, an auditor on the command line */
    desk.flags = VAULT_PRINCIPAL_OFFICER_APP | VAULT_PRINCIPAL_AUDITOR;
    assert_int_equal(vault_session_open_as(&s, f->v, &officer, &desk), VAULT_OK);
    vault_session_close(s);
    s = NULL;
    assert_int_equal(vault_session_open_as(&s, f->v, &auditor, &cli), VAULT_OK);
    vault_session_close(s);
    s = NULL;
    /* but an auditor is still not a data officer */
    cli.flags |= VAULT_PRINCIPAL_DATA_OFFICER;
    assert_int_equal(vault_session_open_as(&s, f->v, &auditor, &cli), VAULT_EDENIED);
    cli.flags &= ~VAULT_PRINCIPAL_DATA_OFFICER;

    /* a policy without auditors: nobody reads the log through a service */
    assert_int_equal(vault_policy_source(&src, hash, sizeof hash, f->v), VAULT_OK);
    cut = strstr(src, "\nauditors:");
    assert_non_null(cut);
    cut[1] = '\0';
    snprintf(policy, sizeof policy, "%s/no-auditors.yaml", f->dir);
    tu_write_file(policy, src, strlen(src));
    assert_int_equal(vault_policy_apply(&rep, f->v, policy), VAULT_OK);
    assert_non_null(strstr(rep, "- auditor auditor\n- auditor data_officer\n"));
    assert_int_equal(vault_session_open_as(&s, f->v, &officer, &desk), VAULT_EDENIED);
    assert_non_null(strstr(vault_error_last(), "has no auditors section (no-auditors.yaml)"));
    assert_int_equal(vault_session_open_as(&s, f->v, &auditor, &cli), VAULT_EDENIED);
    /* embedded mode is unchanged: it trusts its caller (docs/security.md) */
    vault_free(rep);
    rep = NULL;
    assert_int_equal(vault_audit_report(&rep, f->v, VAULT_REPORT_DENIED, NULL, 0), VAULT_OK);
    assert_non_null(strstr(rep, "session_open"));
    vault_free(rep);
    vault_free(src);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_session_as),
        T(test_bad_principals),
        T(test_actor_as),
        T(test_tampered_principal),
        T(test_import_entries),
        T(test_app_bounds),
        T(test_token_expiry),
        T(test_option_sizes),
        T(test_log_readers),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}

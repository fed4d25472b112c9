/* vault_pg: a whole vault on the PostgreSQL backend (issue 17, phase 1),
 * through the public API, on the server VAULT_PG_URI names (ctest runs it
 * in a throwaway cluster, tests/pg/pg_cluster.sh; without VAULT_PG_URI it
 * fails rather than pass).  Create, open, sessions, records, grants, key
 * rotation, checkpoints and audit verify; and what must fail: a missing or
 * another vault's keys file, a DBA's edits through SQL (jurisdiction,
 * grant, policy, audit entry), a connection the server terminates, and a
 * password that must appear nowhere. */
#include "testutil.h"

#include <libpq-fe.h>

#include "store/store.h"
#include "vault_int.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"
#define PASSWORD "s3cret-PW-9"

static const char *pg_uri;
static char *dir;

/* The location of vault `schema` with keys file DIR/schema.keys; with
 * password 1, a password parameter too (the cluster trusts its socket, so
 * any password connects). */
static void location(char *buf, size_t cap, const char *schema, const char *keys_of, int password)
{
    assert_true((size_t)snprintf(buf, cap, "%s%svault_keys=%s/%s.keys&vault_schema=%s%s", pg_uri,
                                 strchr(pg_uri, '?') ? "&" : "?", dir, keys_of, schema,
                                 password ? "&password=" PASSWORD : "") < cap);
}

/* One statement as the cluster's superuser (a DBA with psql). */
static void dba(const char *sql)
{
    PGconn *c = PQconnectdb(pg_uri);
    PGresult *r;

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* The same, expected to fail (the audit table's trigger). */
static void dba_refused(const char *sql)
{
    PGconn *c = PQconnectdb(pg_uri);
    PGresult *r;

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    assert_non_null(strstr(PQerrorMessage(c), "append-only"));
    PQclear(r);
    PQfinish(c);
}



static vault *make(const char *schema, int password)
{
    char loc[1024];
    vault *v = NULL;
    vault_secret sec = tu_pass_secret("postgresql vault passphrase");

    location(loc, sizeof loc, schema, schema, password);
    if (vault_create(&v, loc, POLICY, &sec) != 0)
        fail_msg("vault_create: %s", vault_error_last());
    return v;
}

static int open_as(vault **v, const char *schema, const char *keys_of)
{
    char loc[1024];
    vault_secret sec = tu_pass_secret("postgresql vault passphrase");

    location(loc, sizeof loc, schema, keys_of, 0);
    return vault_open(v, loc, &sec);
}

static void test_whole_vault(void **state)
{
    char a[VAULT_ID_HEX_SIZE], b[VAULT_ID_HEX_SIZE], gid[VAULT_NAME_MAX], *text = NULL, *hits = NULL;
    char *note = NULL, bak[600];
    const char *grant_fields[] = {"name"};
    vault *v, *w = NULL;
    vault_session *s, *s2;
    vault_result *res = NULL;
    vault_grant_spec g;
    vault_audit_result ar;
    size_t n = 0;
    int pending = -1;

    (void)state;
    v = make("city", 0);
    assert_string_equal(store_backend_name(v->db), "postgresql");
    s = tu_session(v, "li", "data_officer", "street_office", STREET, "resident_service");
    tu_add_resident(s, a, GRID7, "张三", "13812345678");
    tu_add_resident(s, b, GRID7, "李四", "13987654321");
    tu_expect_value(s, a, "phone", "13812345678");
    {
        const char *f = "phone", *val = "13800000000";
        size_t len = strlen(val);
        assert_int_equal(vault_record_update(s, a, 1, &f, &val, &len), 0);
    }
    tu_expect_value(s, a, "phone", "13800000000");
    assert_int_equal(vault_record_find(&hits, &n, s, "phone", "13800000000", 11), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(hits, a, VAULT_ID_HEX_SIZE);
    vault_free(hits);
    assert_int_equal(vault_record_erase(s, b), 0);
    assert_int_equal(vault_record_get(&res, s, b, NULL, 0), VAULT_ENOTFOUND);

    g = tu_grant_spec(grant_fields, 1, "health", STREET, 3600, "clinic follow-up");
    assert_int_equal(vault_grant_issue(gid, sizeof gid, &pending, s, &g), 0);
    assert_int_equal(vault_grant_list(&text, v, 1, 0), 0);
    assert_non_null(strstr(text, gid));
    vault_free(text);
    assert_int_equal(vault_grant_revoke(s, gid, "no longer needed"), 0);

    /* rotation: every personal field re-sealed, the old key retired */
    assert_int_equal(vault_key_rotate(v, "personal", NULL, NULL), 0);
    tu_expect_value(s, a, "phone", "13800000000");
    assert_int_equal(vault_audit_checkpoint(&note, v), 0);
    assert_non_null(note);
    vault_free(note);

    /* copies are the DBA's: vault_backup names pg_dump */
    snprintf(bak, sizeof bak, "%s/copy.vault", dir);
    assert_int_equal(vault_backup(v, bak, NULL, NULL), VAULT_ESTATE);
    assert_non_null(strstr(vault_error_last(), "pg_dump"));

    /* a second handle (another connection) reads it, the chain verifies */
    assert_int_equal(open_as(&w, "city", "city"), 0);
    s2 = tu_session(w, "li", "data_officer", "street_office", STREET, "resident_service");
    tu_expect_value(s2, a, "phone", "13800000000");
    assert_int_equal(vault_audit_verify(&ar, w, NULL, NULL, NULL), 0);
    assert_int_equal(ar.failure, VAULT_AUDIT_OK);
    assert_true(ar.entries > 10);
    /* what one handle writes, the other sees (the generation row) */
    tu_add_resident(s2, b, GRID7, "王五", "13700000000");
    tu_expect_value(s, b, "phone", "13700000000");
    vault_session_close(s2);
    vault_session_close(s);
    vault_close(w);
    vault_close(v);
}

static void test_keys_parameter(void **state)
{
    char loc[1024];
    vault *v = NULL;
    vault_secret sec = tu_pass_secret("postgresql vault passphrase");

    (void)state;
    assert_true((size_t)snprintf(loc, sizeof loc, "%s%svault_schema=nokeys", pg_uri,
                                 strchr(pg_uri, '?') ? "&" : "?") < sizeof loc);
    assert_int_equal(vault_create(&v, loc, POLICY, &sec), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "vault_keys"));
    assert_int_equal(vault_open(&v, loc, &sec), VAULT_EINVALID);
    /* another vault's keys file */
    vault_close(make("one", 0));
    vault_close(make("two", 0));
    assert_int_equal(open_as(&v, "one", "two"), VAULT_EINTEGRITY);
    assert_null(v);
    /* a schema that is no vault */
    assert_int_equal(open_as(&v, "nothing_here", "one"), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "not a libvault vault"));
    /* made twice: the second create refuses and leaves the first whole */
    {
        char keys[600];
        snprintf(keys, sizeof keys, "%s/one.keys", dir);
        assert_int_equal(rename(keys, "/tmp/vault-pg-keep.keys"), 0);
        location(loc, sizeof loc, "one", "one", 0);
        assert_int_equal(vault_create(&v, loc, POLICY, &sec), VAULT_EEXISTS);
        assert_int_equal(rename("/tmp/vault-pg-keep.keys", keys), 0);
        assert_int_equal(open_as(&v, "one", "one"), 0);
        vault_close(v);
    }
}

/* A DBA's edits through SQL are caught by the row MACs and the chain. */
static void test_dba_tampering(void **state)
{
    char a[VAULT_ID_HEX_SIZE], gid[VAULT_NAME_MAX];
    const char *grant_fields[] = {"name"};
    vault *v = make("tamper", 0), *w = NULL;
    vault_session *s = tu_session(v, "li", "data_officer", "street_office", STREET,
                                  "resident_service");
    vault_result *res = NULL;
    vault_grant_spec g = tu_grant_spec(grant_fields, 1, "health", STREET, 3600, "follow-up");
    vault_audit_result ar;
    int pending;
    char *text = NULL;

    (void)state;
    tu_add_resident(s, a, GRID7, "张三", "13812345678");
    assert_int_equal(vault_grant_issue(gid, sizeof gid, &pending, s, &g), 0);
    vault_session_close(s);
    vault_close(v);

    /* the audit table refuses changes, even to the superuser */
    dba_refused("UPDATE tamper.audit SET flags = flags + 1");
    dba_refused("DELETE FROM tamper.audit");
    dba_refused("TRUNCATE tamper.audit");

    /* a record moved to another jurisdiction */
    dba("UPDATE tamper.records SET jurisdiction = 'hangzhou/gongshu/other'");
    assert_int_equal(open_as(&w, "tamper", "tamper"), 0);
    s = tu_session(w, "li", "data_officer", "street_office", STREET, "resident_service");
    assert_int_equal(vault_record_get(&res, s, a, NULL, 0), VAULT_EINTEGRITY);
    assert_null(strstr(vault_error_last(), "13812345678"));
    vault_session_close(s);
    vault_close(w);
    dba("UPDATE tamper.records SET jurisdiction = '" GRID7 "'");

    /* a grant widened */
    dba("UPDATE tamper.grants SET subject_department = NULL");
    if (open_as(&w, "tamper", "tamper") == 0) { /* a pending grant is read when listed */
        assert_int_equal(vault_grant_list(&text, w, 0, 0), VAULT_EINTEGRITY);
        vault_close(w);
    } else {
        assert_int_equal(vault_error_code(), VAULT_EINTEGRITY);
    }
    dba("UPDATE tamper.grants SET subject_department = 'health'");

    /* the policy changed */
    dba("UPDATE tamper.policies SET source = source || E'\\n# changed'");
    assert_int_equal(open_as(&w, "tamper", "tamper"), VAULT_EINTEGRITY);
    dba("UPDATE tamper.policies SET source = left(source, length(source) - 10)");
    assert_int_equal(open_as(&w, "tamper", "tamper"), 0);
    assert_int_equal(vault_grant_list(&text, w, 1, 0), 0);
    vault_free(text);
    vault_close(w);

    /* an audit entry rewritten by the owner, trigger dropped first */
    dba("ALTER TABLE tamper.audit DISABLE TRIGGER audit_no_change");
    dba("UPDATE tamper.audit SET entry = set_byte(entry, 20, get_byte(entry, 20) # 255)"
        " WHERE pos = 2");
    dba("ALTER TABLE tamper.audit ENABLE TRIGGER audit_no_change");
    if (open_as(&w, "tamper", "tamper") == 0) {
        int rc = vault_audit_verify(&ar, w, NULL, NULL, NULL);
        assert_true(rc == VAULT_EINTEGRITY || (rc == 0 && ar.failure != VAULT_AUDIT_OK));
        vault_close(w);
    } else {
        assert_int_equal(vault_error_code(), VAULT_EINTEGRITY);
    }
}

/* The server ends the vault's connection: the next call fails closed. */
static void test_connection_lost(void **state)
{
    char a[VAULT_ID_HEX_SIZE];
    vault *v = make("lost", 0);
    vault_session *s = tu_session(v, "li", "data_officer", "street_office", STREET,
                                  "resident_service");
    vault_result *res = NULL;
    const char *field = "phone";

    (void)state;
    tu_add_resident(s, a, GRID7, "张三", "13812345678");
    dba("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND backend_type = 'client backend'");
    assert_int_equal(vault_record_get(&res, s, a, &field, 1), VAULT_EIO);
    assert_null(res);
    assert_non_null(strstr(vault_error_last(), "connection lost"));
    assert_null(strstr(vault_error_last(), "13812345678"));
    assert_int_equal(vault_record_get(&res, s, a, &field, 1), VAULT_EIO); /* and stays so */
    vault_session_close(s);
    vault_close(v);
}

/* A password in the location: nowhere in errors, outputs or the log. */
static void test_password_hidden(void **state)
{
    char loc[1024], shown[1024], export[600];
    vault *v = make("secretive", 1), *w = NULL;
    vault_secret sec = tu_pass_secret("postgresql vault passphrase");

    (void)state;
    assert_null(strstr(v->shown, PASSWORD));
    assert_non_null(strstr(v->shown, "password=***"));
    snprintf(export, sizeof export, "%s/log.export", dir);
    assert_int_equal(vault_audit_export(v, export, NULL, NULL), 0);
    assert_int_equal(tu_file_contains(export, PASSWORD, strlen(PASSWORD)), 0);
    vault_close(v);
    /* an error that names the location: made twice */
    location(loc, sizeof loc, "secretive", "again", 1);
    assert_int_equal(vault_create(&w, loc, POLICY, &sec), VAULT_EEXISTS);
    assert_null(strstr(vault_error_last(), PASSWORD));
    assert_non_null(strstr(vault_error_last(), "***"));
    /* the three forms */
    assert_int_equal(vault_location_shown(shown, sizeof shown,
                                          "postgresql://ann:" PASSWORD "@db.example/city?sslmode=require"), 0);
    assert_string_equal(shown, "postgresql://ann:***@db.example/city?sslmode=require");
    assert_int_equal(vault_location_shown(shown, sizeof shown,
                                          "postgres://ann@db/city?password=" PASSWORD "&vault_keys=/k"), 0);
    assert_string_equal(shown, "postgres://ann@db/city?password=***&vault_keys=/k");
    assert_int_equal(vault_location_shown(shown, sizeof shown,
                                          "pg:host=db password='" PASSWORD " x' vault_keys=/k"), 0);
    assert_string_equal(shown, "pg:host=db password=*** vault_keys=/k");
    /* the keyword percent-encoded (libpq decodes it), an SSL key's
     * password, and a standby's string that holds either */
    assert_int_equal(vault_location_shown(shown, sizeof shown,
                                          "postgres://db/city?pass%77ord=" PASSWORD "&vault_keys=/k"), 0);
    assert_string_equal(shown, "postgres://db/city?pass%77ord=***&vault_keys=/k");
    assert_int_equal(vault_location_shown(shown, sizeof shown,
                                          "postgres://db/city?sslpassword=" PASSWORD), 0);
    assert_string_equal(shown, "postgres://db/city?sslpassword=***");
    assert_int_equal(vault_location_shown(shown, sizeof shown,
                                          "pg:host=db sslpassword=" PASSWORD " vault_keys=/k"), 0);
    assert_string_equal(shown, "pg:host=db sslpassword=*** vault_keys=/k");
    assert_int_equal(vault_location_shown(shown, sizeof shown,
                                          "postgres://db/city?vault_standby=host=db2%20pass%2577ord%3D"
                                          PASSWORD "&vault_keys=/k"), 0);
    assert_string_equal(shown, "postgres://db/city?vault_standby=***&vault_keys=/k");
    assert_int_equal(vault_location_shown(shown, sizeof shown,
                                          "pg:host=db vault_standby='postgresql://u:" PASSWORD
                                          "@db2/city' vault_keys=/k"), 0);
    assert_string_equal(shown, "pg:host=db vault_standby=*** vault_keys=/k");
    assert_int_equal(vault_location_shown(shown, sizeof shown,
                                          "postgres://db/city?vault_standby=host=db2%20port=5433"), 0);
    assert_string_equal(shown, "postgres://db/city?vault_standby=host=db2%20port=5433");
    assert_int_equal(vault_location_shown(shown, sizeof shown, "/srv/street.vault"), 0);
    assert_string_equal(shown, "/srv/street.vault");
    assert_int_equal(vault_location_shown(shown, 0, "x"), VAULT_EINVALID);
}

/* The pg: form, its keys and schema parameters among libpq's. */
static void test_conninfo_form(void **state)
{
    char loc[1200];
    const char *host = getenv("PGHOST"), *port = getenv("PGPORT"), *user = getenv("PGUSER"),
               *db = getenv("PGDATABASE");
    vault *v = NULL;
    vault_secret sec = tu_pass_secret("postgresql vault passphrase");

    (void)state;
    assert_non_null(host);
    assert_true((size_t)snprintf(loc, sizeof loc,
                                 "pg:host=%s port=%s vault_schema=kv user=%s vault_keys='%s/kv.keys'"
                                 " dbname=%s", host, port, user, dir, db) < sizeof loc);
    if (vault_create(&v, loc, POLICY, &sec) != 0)
        fail_msg("vault_create: %s", vault_error_last());
    vault_close(v);
    assert_int_equal(vault_open(&v, loc, &sec), 0);
    vault_close(v);
    assert_int_equal(vault_open(&v, "pg:host=", &sec), VAULT_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_vault),     cmocka_unit_test(test_keys_parameter),
        cmocka_unit_test(test_dba_tampering),   cmocka_unit_test(test_connection_lost),
        cmocka_unit_test(test_password_hidden), cmocka_unit_test(test_conninfo_form),
    };
    int failed;

    pg_uri = getenv("VAULT_PG_URI");
    if (!pg_uri || !*pg_uri) {
        fprintf(stderr, "test_vault_pg: VAULT_PG_URI is not set (run it under "
                        "tests/pg/pg_cluster.sh run)\n");
        return 1;
    }
    dir = tu_tmpdir();
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    tu_rmdir(dir);
    return failed;
}

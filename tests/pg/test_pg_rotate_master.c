/* Master-key rotation of a PostgreSQL vault (docs/keyslots.md section 11,
 * "A PostgreSQL vault"): the copies under the new keys, in schemas marked
 * as this vault's, replace the live tables' rows in the vault's write
 * transaction; the tables themselves stay.
 *
 *  - test_rotation: the slot left behind opens nothing; values, search
 *    and the log (against a checkpoint from before) work under the new
 *    keys; no copy is left; the tables keep their owner, every privilege
 *    (table, column, grant option) and no more, and a DBA's view over
 *    them in another schema;
 *  - test_stale_handle: a handle opened before the rotation (another
 *    vaultd still running with the old keys file) fails closed at its
 *    next transaction, reads and writes alike, and writes nothing;
 *  - test_tampered: a DBA's change to a record's jurisdiction stops the
 *    rotation (VAULT_EINTEGRITY) and changes nothing;
 *  - test_crash: SIGKILL after the copy, the seal or the swap (before its
 *    commit) leaves the old vault and copies the next rotation drops;
 *    SIGKILL after the swap's commit, before the keys file is renamed, is
 *    finished by the next open;
 *  - test_not_ours: a schema of the copy's name that is not this vault's
 *    copy is refused (VAULT_EEXISTS) and left whole;
 *  - test_lost_commit: the connection lost at the commit: the rotation
 *    asks the server, finds it did not take, and removes its copies and
 *    keys file under the lock; the vault is as it was
 *    (the connection cut before COMMIT);
 *  - test_denied: a role without the privileges the swap needs on the
 *    record-key store is refused before anything is made;
 *  - test_foreign_key: a DBA's table referring to the vault's records by
 *    foreign key is refused up front (the swap would delete through it);
 *  - test_lost_reply: the commit took but its reply was lost: the keys
 *    file is put in place after reading the key check under the lock;
 *  - test_rotations_cross: a second rotation that begins after the first
 *    committed, and dies, leaves a KEYS.rotating the first must not take
 *    for its own. */
#include "pgtest.h"

#include <sodium.h>

static int schema_no;

typedef struct rm {
    char schema[64], loc[1024], k1[600], k2[610], k3[610], keys[700], next_keys[720];
    vault_secret s1, s2, s3;
    char id[VAULT_ID_HEX_SIZE];
    char *note;
} rm;

static void rm_make(rm *r)
{
    vault *v = NULL;
    vault_session *s;
    const char *fields[NF], *values[NF];
    char val[NF][64];
    size_t lens[NF];
    int i, slot = -1;

    snprintf(r->schema, sizeof r->schema, "rm%d_%d", (int)getpid() % 10000, ++schema_no);
    make_vault(r->schema);
    location(r->loc, sizeof r->loc, r->schema);
    keyfile(r->k1, sizeof r->k1, r->schema);
    snprintf(r->k2, sizeof r->k2, "%s.2", r->k1);
    snprintf(r->k3, sizeof r->k3, "%s.3", r->k1);
    snprintf(r->keys, sizeof r->keys, "%s/%s.keys", dir, r->schema);
    snprintf(r->next_keys, sizeof r->next_keys, "%s.rotating", r->keys);
    assert_int_equal(vault_keyfile_generate(r->k2), 0);
    assert_int_equal(vault_keyfile_generate(r->k3), 0);
    r->s1 = tu_keyfile_secret(r->k1);
    r->s2 = tu_keyfile_secret(r->k2);
    r->s3 = tu_keyfile_secret(r->k3);
    assert_int_equal(vault_open(&v, r->loc, &r->s1), 0);
    assert_int_equal(vault_keyslot_add(&slot, v, &r->s2, "leaked"), 0);
    s = officer(v, "li");
    assert_non_null(s);
    values_for(val, 7);
    for (i = 0; i < NF; i++) {
        fields[i] = FIELDS[i];
        values[i] = val[i];
        lens[i] = strlen(val[i]);
    }
    assert_int_equal(vault_record_add(r->id, sizeof r->id, s, DISTRICT[1], NF, fields, values,
                                      lens), 0);
    vault_session_close(s);
    assert_int_equal(vault_audit_checkpoint(&r->note, v), 0);
    vault_close(v);
}

/* The record reads and is found under the keys `secret` opens. */
static void rm_whole(rm *r, const vault_secret *secret)
{
    vault *v = NULL;
    vault_session *s;
    vault_result *res = NULL;
    const char *field = "phone";
    char val[NF][64], *ids = NULL;
    size_t n = 0;
    vault_audit_result ar;

    values_for(val, 7);
    assert_int_equal(vault_open(&v, r->loc, secret), 0);
    s = officer(v, "li");
    assert_int_equal(vault_record_get(&res, s, r->id, &field, 1), 0);
    assert_string_equal(vault_result_value(res, 0, NULL), val[1]);
    vault_result_free(res);
    assert_int_equal(vault_record_find(&ids, &n, s, "phone", val[1], strlen(val[1])), 0);
    assert_int_equal(n, 1);
    vault_free(ids);
    vault_session_close(s);
    memset(&ar, 0, sizeof ar);
    assert_int_equal(vault_audit_verify(&ar, v, r->note, NULL, NULL), 0);
    vault_close(v);
}

static void rm_free(rm *r)
{
    vault_free(r->note);
}

/* The keys file's bytes now (keys_same: still those, then freed). */
typedef struct keys_snap {
    uint8_t *b;
    size_t n;
} keys_snap;

static keys_snap keys_now(const rm *r)
{
    keys_snap k = {NULL, 0};

    k.b = tu_read_file(r->keys, &k.n);
    return k;
}

static void keys_same(const rm *r, keys_snap *k)
{
    keys_snap now = keys_now(r);

    assert_int_equal(now.n, k->n);
    assert_memory_equal(now.b, k->b, k->n);
    free(now.b);
    free(k->b);
    k->b = NULL;
}

static int64_t copies_left(const rm *r)
{
    return dba_count(r->schema, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE "
                                "'%s\\_rotating%%'");
}

/* The schema's tables' owners and ACLs, and records' column ACLs, as one
 * string (malloc'd). */
static char *acls_of(PGconn *c, const char *schema)
{
    char sql[1024];
    PGresult *res;
    char *out;

    dba_sql(sql, sizeof sql, schema,
            "SELECT string_agg(relname || '=' || pg_get_userbyid(relowner) || ':' ||"
            " coalesce(relacl::text, '-'), ' ' ORDER BY relname) || ' ' ||"
            " (SELECT string_agg(attname || ':' || attacl::text, ' ' ORDER BY attname)"
            "  FROM pg_attribute WHERE attrelid = '%s.records'::regclass AND attacl IS NOT NULL)"
            " FROM pg_class WHERE relnamespace = '%s'::regnamespace");
    res = PQexec(c, sql);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    out = strdup(PQgetvalue(res, 0, 0));
    assert_non_null(out);
    PQclear(res);
    return out;
}

static void test_rotation(void **state)
{
    rm r;
    vault_master_rotation m;
    vault *v = NULL;
    PGconn *c;
    PGresult *res;
    char sql[1024], *acl_before, *acl_after;

    (void)state;
    rm_make(&r);
    /* an application role with the documented GRANTs, a clerk with a
     * column's SELECT he may pass on, a role with none, a DBA's view */
    c = PQconnectdb(pg_uri);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    snprintf(sql, sizeof sql,
             "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rm_app') THEN "
             "CREATE ROLE rm_app; CREATE ROLE rm_clerk; CREATE ROLE rm_none; END IF; END $$;"
             "GRANT USAGE ON SCHEMA %s TO rm_app; GRANT SELECT ON ALL TABLES IN SCHEMA %s TO rm_app;"
             "GRANT INSERT ON %s.audit TO rm_app; GRANT UPDATE ON %s.generation TO rm_app;"
             "GRANT SELECT (jurisdiction) ON %s.records TO rm_clerk WITH GRANT OPTION;"
             "CREATE SCHEMA IF NOT EXISTS dba_reports;"
             "CREATE VIEW dba_reports.%s_count AS SELECT count(*) AS n FROM %s.records;",
             r.schema, r.schema, r.schema, r.schema, r.schema, r.schema, r.schema);
    res = PQexec(c, sql);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    acl_before = acls_of(c, r.schema);

    memset(&m, 0, sizeof m);
    if (vault_key_rotate_master(&m, r.loc, &r.s1, &r.s3, "new", 0, NULL, NULL) != 0)
        fail_msg("rotate: %s", vault_error_last());
    assert_int_equal(m.records, 1);
    assert_int_equal(m.record_keys, 1);
    assert_true(m.digests >= 2);
    assert_int_equal(m.slot_kept, 0);
    assert_int_equal(m.slot_added, 2);
    assert_int_equal(m.slots_dropped, 1);
    assert_int_equal(vault_open(&v, r.loc, &r.s2), VAULT_EAUTH);
    rm_whole(&r, &r.s1);
    rm_whole(&r, &r.s3);
    assert_int_equal(copies_left(&r), 0);
    /* the role's privileges came along, and no more than those */
    snprintf(sql, sizeof sql,
             "SELECT has_schema_privilege('rm_app', '%s', 'USAGE')::int"
             " + has_table_privilege('rm_app', '%s.records', 'SELECT')::int"
             " + has_table_privilege('rm_app', '%s.audit', 'INSERT')::int"
             " + has_table_privilege('rm_app', '%s.generation', 'UPDATE')::int,"
             " has_table_privilege('rm_app', '%s.audit', 'UPDATE')::int"
             " + has_table_privilege('rm_app', '%s.records', 'DELETE')::int",
             r.schema, r.schema, r.schema, r.schema, r.schema, r.schema);
    res = PQexec(c, sql);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "4");
    assert_string_equal(PQgetvalue(res, 0, 1), "0");
    PQclear(res);
    /* the tables themselves: owners, table and column ACLs as they were */
    acl_after = acls_of(c, r.schema);
    assert_string_equal(acl_after, acl_before);
    assert_non_null(strstr(acl_before, "rm_clerk=r*/"));
    free(acl_after);
    free(acl_before);
    snprintf(sql, sizeof sql,
             "SELECT has_table_privilege('rm_none', '%s.records', 'INSERT')::int"
             " + has_schema_privilege('rm_none', '%s', 'CREATE')::int,"
             " (SELECT n FROM dba_reports.%s_count)",
             r.schema, r.schema, r.schema);
    res = PQexec(c, sql);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "0");
    assert_string_equal(PQgetvalue(res, 0, 1), "1"); /* the view, over the new rows */
    PQclear(res);
    PQfinish(c);
    rm_free(&r);
}

static void test_stale_handle(void **state)
{
    rm r;
    vault *old = NULL;
    vault_session *s;
    vault_result *res = NULL;
    const char *field = "phone";
    int64_t before, rc;

    (void)state;
    rm_make(&r);
    /* another process's handle, open with the old keys */
    assert_int_equal(vault_open(&old, r.loc, &r.s1), 0);
    s = officer(old, "wang");
    assert_non_null(s);
    if (vault_key_rotate_master(NULL, r.loc, &r.s1, NULL, NULL, 0, NULL, NULL) != 0)
        fail_msg("rotate: %s", vault_error_last());
    before = dba_count(r.schema, "SELECT count(*) FROM %s.audit");
    rc = vault_record_get(&res, s, r.id, &field, 1);
    assert_int_equal(rc, VAULT_EAUTH);
    assert_non_null(strstr(vault_error_last(), "key changed"));
    assert_null(res);
    {
        const char *fields[] = {"name"}, *values[] = {"x"};
        size_t lens[] = {1};
        char id[VAULT_ID_HEX_SIZE];
        assert_int_equal(vault_record_add(id, sizeof id, s, DISTRICT[0], 1, fields, values, lens),
                         VAULT_EAUTH);
    }
    assert_int_equal(dba_count(r.schema, "SELECT count(*) FROM %s.audit"), before);
    vault_session_close(s);
    vault_close(old);
    rm_whole(&r, &r.s1);
    rm_free(&r);
}

static void test_tampered(void **state)
{
    rm r;
    keys_snap before;
    PGconn *c;
    PGresult *res;
    char sql[512];

    (void)state;
    rm_make(&r);
    c = PQconnectdb(pg_uri);
    snprintf(sql, sizeof sql, "UPDATE %s.records SET jurisdiction = 'hangzhou'", r.schema);
    res = PQexec(c, sql);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    PQfinish(c);
    before = keys_now(&r);
    assert_int_equal(vault_key_rotate_master(NULL, r.loc, &r.s1, NULL, NULL, 0, NULL, NULL),
                     VAULT_EINTEGRITY);
    keys_same(&r, &before);
    assert_int_equal(copies_left(&r), 0);
    rm_free(&r);
}

/* Kill a rotation (k2 kept out, k3 in) at step n. */
static void killed_at(rm *r, int n)
{
    pid_t pid;
    int status;

    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc;
        vault__rotate_master_stop = n;
        rc = vault_key_rotate_master(NULL, r->loc, &r->s1, &r->s3, "new",
                                     VAULT_ROTATE_MASTER_DROP_CURRENT, NULL, NULL);
        _exit(rc == 0 ? 42 : 43);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

static void test_crash(void **state)
{
    rm r;
    vault *v = NULL;
    vault_master_rotation m;
    int n;

    (void)state;
    /* after the copy, after the seal, after the swap (its commit not
     * sent): the old vault, copies and a keys file left */
    for (n = 3; n <= 5; n++) {
        rm_make(&r);
        killed_at(&r, n);
        assert_true(copies_left(&r) > 0);
        assert_int_equal(vault_open(&v, r.loc, &r.s3), VAULT_EAUTH);
        rm_whole(&r, &r.s1);
        memset(&m, 0, sizeof m);
        if (vault_key_rotate_master(&m, r.loc, &r.s1, &r.s3, "new",
                                    VAULT_ROTATE_MASTER_DROP_CURRENT, NULL, NULL) != 0)
            fail_msg("rotate again after step %d: %s", n, vault_error_last());
        assert_int_equal(m.cleaned, 1);
        assert_int_equal(copies_left(&r), 0);
        assert_int_equal(vault_open(&v, r.loc, &r.s1), VAULT_EAUTH);
        rm_whole(&r, &r.s3);
        rm_free(&r);
    }

    /* after the swap's commit, before the keys file's rename */
    rm_make(&r);
    killed_at(&r, 6);
    assert_int_equal(copies_left(&r), 0);
    rm_whole(&r, &r.s3); /* the open finishes it */
    assert_int_equal(vault_open(&v, r.loc, &r.s1), VAULT_EAUTH);
    rm_whole(&r, &r.s3);
    rm_free(&r);
}

static void test_not_ours(void **state)
{
    rm r;
    keys_snap before;

    (void)state;
    rm_make(&r);
    /* someone's own schema that happens to have the copy's name */
    dba_exec(r.schema, "CREATE SCHEMA %s_rotating; CREATE TABLE %s_rotating.notes(t text);"
                       "INSERT INTO %s_rotating.notes VALUES ('keep')");
    before = keys_now(&r);
    assert_int_equal(vault_key_rotate_master(NULL, r.loc, &r.s1, &r.s3, NULL, 0, NULL, NULL),
                     VAULT_EEXISTS);
    assert_non_null(strstr(vault_error_last(), "is not this vault's rotation copy"));
    assert_int_equal(dba_count(r.schema, "SELECT count(*) FROM %s_rotating.notes"), 1);
    keys_same(&r, &before);
    rm_whole(&r, &r.s1);
    /* moved away, the rotation runs */
    dba_exec(r.schema, "ALTER SCHEMA %s_rotating RENAME TO %s_notes");
    if (vault_key_rotate_master(NULL, r.loc, &r.s1, &r.s3, NULL, 0, NULL, NULL) != 0)
        fail_msg("rotate: %s", vault_error_last());
    assert_int_equal(dba_count(r.schema, "SELECT count(*) FROM %s_notes.notes"), 1);
    rm_whole(&r, &r.s3);
    rm_free(&r);
}

/* At step 5 (the swap done, the commit next): the server ends the
 * rotation's connections. */
static const char *lost_schema;
static void cut_at_commit(int n)
{
    if (n == 5)
        (void)dba_count(lost_schema, "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
                                     " WHERE locktype = 'advisory' AND granted"
                                     " AND pid <> pg_backend_pid()");
}

static void test_lost_commit(void **state)
{
    rm r;
    vault *v = NULL;

    (void)state;
    rm_make(&r);
    lost_schema = r.schema;
    vault__rotate_master_hook = cut_at_commit;
    assert_int_equal(vault_key_rotate_master(NULL, r.loc, &r.s1, &r.s3, "new",
                                             VAULT_ROTATE_MASTER_DROP_CURRENT, NULL, NULL),
                     VAULT_EIO);
    vault__rotate_master_hook = NULL;
    assert_non_null(strstr(vault_error_last(), "did not commit"));
    assert_int_equal(copies_left(&r), 0);
    assert_int_equal(access(r.next_keys, F_OK), -1);
    assert_int_equal(vault_open(&v, r.loc, &r.s3), VAULT_EAUTH);
    rm_whole(&r, &r.s1);
    if (vault_key_rotate_master(NULL, r.loc, &r.s1, &r.s3, "new", VAULT_ROTATE_MASTER_DROP_CURRENT,
                                NULL, NULL) != 0)
        fail_msg("rotate again: %s", vault_error_last());
    rm_whole(&r, &r.s3);
    rm_free(&r);
}

static void test_denied(void **state)
{
    rm r;
    char weak[1200];
    keys_snap before;

    (void)state;
    rm_make(&r);
    /* a login role that may make schemas and replace the data's rows, but
     * not delete from the record-key store: refused before anything is
     * made, the data's copy included */
    dba_exec(r.schema, "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname ="
                       " 'rm_weak') THEN CREATE ROLE rm_weak LOGIN; END IF;"
                       " EXECUTE format('GRANT CREATE ON DATABASE %I TO rm_weak',"
                       " current_database()); END $$;"
                       "GRANT USAGE ON SCHEMA %s, %s_rkeys TO rm_weak;"
                       "GRANT ALL ON ALL TABLES IN SCHEMA %s TO rm_weak;"
                       "GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA %s_rkeys TO rm_weak");
    snprintf(weak, sizeof weak, "%s&user=rm_weak", r.loc);
    before = keys_now(&r);
    assert_int_equal(vault_key_rotate_master(NULL, weak, &r.s1, &r.s3, NULL, 0, NULL, NULL),
                     VAULT_EDENIED);
    if (!strstr(vault_error_last(), "_rkeys"))
        fail_msg("%s", vault_error_last());
    assert_int_equal(copies_left(&r), 0);
    keys_same(&r, &before);
    rm_whole(&r, &r.s1);
    dba_exec(r.schema, "DO $$ BEGIN EXECUTE format('REVOKE CREATE ON DATABASE %I FROM rm_weak',"
                       " current_database()); END $$");
    rm_free(&r);
}

/* The rotation (k1 to k3) refused before anything is made: VAULT_ESTATE
 * naming what, and no copy left. */
static void refused_up_front(rm *r, const char *named)
{
    assert_int_equal(vault_key_rotate_master(NULL, r->loc, &r->s1, &r->s3, NULL, 0, NULL, NULL),
                     VAULT_ESTATE);
    if (!strstr(vault_error_last(), named))
        fail_msg("the refusal does not name %s: %s", named, vault_error_last());
    assert_int_equal(copies_left(r), 0);
}

/* A DBA's table that refers to the vault's records by foreign key: the
 * swap would delete through it, so the rotation refuses up front. */
static void test_foreign_key(void **state)
{
    rm r;

    (void)state;
    rm_make(&r);
    dba_exec(r.schema, "CREATE SCHEMA IF NOT EXISTS dba_reports;"
                       "CREATE TABLE dba_reports.%s_cases(id bytea REFERENCES %s.record_ids(id)"
                       " ON DELETE CASCADE, note text);"
                       "INSERT INTO dba_reports.%s_cases SELECT id, 'keep' FROM %s.records");
    refused_up_front(&r, "foreign key");
    assert_int_equal(dba_count(r.schema, "SELECT count(*) FROM dba_reports.%s_cases"), 1);
    rm_whole(&r, &r.s1);
    /* nor a trigger of the DBA's on the vault's tables, which would fire
     * for every row */
    dba_exec(r.schema, "DROP TABLE dba_reports.%s_cases;"
                       "CREATE FUNCTION dba_reports.%s_note() RETURNS trigger LANGUAGE plpgsql AS"
                       " $$ BEGIN RETURN NULL; END $$;"
                       "CREATE TRIGGER dba_note AFTER DELETE ON %s.records FOR EACH ROW"
                       " EXECUTE FUNCTION dba_reports.%s_note()");
    refused_up_front(&r, "trigger dba_note");
    dba_exec(r.schema, "DROP TRIGGER dba_note ON %s.records");
    if (vault_key_rotate_master(NULL, r.loc, &r.s1, &r.s3, NULL, 0, NULL, NULL) != 0)
        fail_msg("rotate: %s", vault_error_last());
    rm_whole(&r, &r.s3);
    rm_free(&r);
}

/* The commit took but its reply was lost: the rotation reads the key
 * check under the lock, finds the new one, and puts the keys file in
 * place. */
static void test_lost_reply(void **state)
{
    rm r;
    vault *v = NULL;
    vault_master_rotation m;

    (void)state;
    rm_make(&r);
    memset(&m, 0, sizeof m);
    vault__rotate_master_lose_reply = 1;
    if (vault_key_rotate_master(&m, r.loc, &r.s1, &r.s3, "new", VAULT_ROTATE_MASTER_DROP_CURRENT,
                                NULL, NULL) != 0)
        fail_msg("rotate: %s", vault_error_last());
    vault__rotate_master_lose_reply = 0;
    assert_int_equal(copies_left(&r), 0);
    assert_int_equal(vault_open(&v, r.loc, &r.s1), VAULT_EAUTH);
    rm_whole(&r, &r.s3);
    rm_free(&r);
}

/* Rotation A has committed; before it puts its keys file in place,
 * rotation B opens (which puts A's file in place), writes its own
 * KEYS.rotating and dies before its commit.  A must not take B's file
 * for its own. */
static rm *race_r;
static void second_rotation_at(int n)
{
    pid_t pid;
    int status;

    if (n != 6)
        return;
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc;
        vault__rotate_master_hook = NULL;
        vault__rotate_master_stop = 3;
        rc = vault_key_rotate_master(NULL, race_r->loc, &race_r->s1, &race_r->s2, NULL, 0, NULL,
                                     NULL);
        _exit(rc == 0 ? 42 : 43);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void test_rotations_cross(void **state)
{
    rm r;
    vault *v = NULL;

    (void)state;
    rm_make(&r);
    race_r = &r;
    vault__rotate_master_hook = second_rotation_at;
    /* A keeps s1 and adds s3; B (killed) keeps s1 and adds s2 */
    if (vault_key_rotate_master(NULL, r.loc, &r.s1, &r.s3, "a", 0, NULL, NULL) != 0)
        fail_msg("rotate A: %s", vault_error_last());
    vault__rotate_master_hook = NULL;
    assert_int_equal(access(r.next_keys, F_OK), 0); /* B's, uncommitted */
    assert_true(copies_left(&r) > 0);
    rm_whole(&r, &r.s3);
    rm_whole(&r, &r.s1);
    assert_int_equal(vault_open(&v, r.loc, &r.s2), VAULT_EAUTH);
    /* the next rotation removes B's leftovers */
    if (vault_key_rotate_master(NULL, r.loc, &r.s1, NULL, NULL, 0, NULL, NULL) != 0)
        fail_msg("rotate again: %s", vault_error_last());
    assert_int_equal(copies_left(&r), 0);
    assert_int_equal(access(r.next_keys, F_OK), -1);
    rm_whole(&r, &r.s1);
    rm_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_stale_handle),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_crash),
        cmocka_unit_test(test_not_ours),
        cmocka_unit_test(test_lost_commit),
        cmocka_unit_test(test_denied),
        cmocka_unit_test(test_foreign_key),
        cmocka_unit_test(test_lost_reply),
        cmocka_unit_test(test_rotations_cross),
    };

    return pgtest_run("test_pg_rotate_master", tests, sizeof tests / sizeof tests[0]);
}

/* The partitioned tables of a PostgreSQL vault (issue 17, "Schema";
 * docs/postgresql.md "Partitions"), on the server VAULT_PG_URI names (ctest
 * runs it in a throwaway cluster; without VAULT_PG_URI it fails rather
 * than pass):
 *  - a new vault's records and fields are partitioned by shard alike, so a
 *    record's fields sit in the partition of its number; the blind index
 *    by digest; the id directory holds every id once and refuses a second;
 *  - a vault of the first, unpartitioned layout is partitioned when its
 *    owner opens it, its rows, privileges and audit chain intact;
 *  - and refused, untouched, when a role that does not own it opens it, or
 *    when what a DBA added to the tables would be lost;
 *  - the audit log is kept by log (schema 8): partitioned by log, each
 *    log's head row in audit_heads, TRUNCATE refused on the table and on
 *    each partition; a vault of schema 7 (one log: audit by pos and the
 *    one-row audit_state) is brought to it when its owner opens it, every
 *    entry in the city log, the state in its head row, the privileges
 *    carried, its chain verifying; refused, untouched, when a DBA's index
 *    on the log would be lost. */
#include "pg/pgtest.h"

#include "audit/audit.h"
#include "vault_int.h"

#define NPER 4 /* residents per district */

/* The name and phone of resident i of district d. */
static void resident(char name[32], char phone[16], int d, int i)
{
    snprintf(name, 32, "居民%d-%d", d, i);
    snprintf(phone, 16, "1380000%02d%02d", d, i);
}

/* Residents in each of the three districts; ids[d * NPER + i]. */
static void add_residents(vault *v, char ids[][VAULT_ID_HEX_SIZE])
{
    vault_session *s = officer(v, "li");
    char name[32], phone[16];
    int d, i;

    assert_non_null(s);
    for (d = 0; d < NDISTRICT; d++) {
        for (i = 0; i < NPER; i++) {
            resident(name, phone, d, i);
            tu_add_resident(s, ids[d * NPER + i], DISTRICT[d], name, phone);
        }
    }
    vault_session_close(s);
}

/* Every resident reads back, and is found by phone. */
static void expect_residents(vault *v, char ids[][VAULT_ID_HEX_SIZE])
{
    vault_session *s = officer(v, "wang");
    char name[32], phone[16], *hits = NULL;
    size_t n = 0;
    int d, i;

    assert_non_null(s);
    for (d = 0; d < NDISTRICT; d++) {
        for (i = 0; i < NPER; i++) {
            resident(name, phone, d, i);
            tu_expect_value(s, ids[d * NPER + i], "name", name);
            tu_expect_value(s, ids[d * NPER + i], "phone", phone);
            assert_int_equal(vault_record_find(&hits, &n, s, "phone", phone, strlen(phone)), 0);
            assert_int_equal(n, 1);
            assert_memory_equal(hits, ids[d * NPER + i], VAULT_ID_HEX_SIZE);
            vault_free(hits);
        }
    }
    vault_session_close(s);
}

/* How the tables of the schema are laid out: how many of the four are
 * partitioned, and how many partitions they have in all. */
static int64_t parted_count(const char *schema)
{
    return dba_count(schema, "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class k"
                             " ON k.oid = p.partrelid WHERE k.relnamespace = '%s'::regnamespace"
                             " AND k.relname IN ('record_ids', 'records', 'fields', 'blind_index')");
}

/* 1 when the schema's audit table is partitioned (by log). */
static int64_t audit_parted(const char *schema)
{
    return dba_count(schema, "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class k"
                             " ON k.oid = p.partrelid WHERE k.relnamespace = '%s'::regnamespace"
                             " AND k.relname = 'audit'");
}

static void test_new_vault_partitioned(void **state)
{
    char ids[NDISTRICT * NPER][VAULT_ID_HEX_SIZE];
    vault *v = NULL;

    (void)state;
    make_vault("parts");
    assert_int_equal(open_vault(&v, "parts"), 0);
    add_residents(v, ids);
    assert_int_equal(parted_count("parts"), 4);
    assert_int_equal(dba_count("parts", "SELECT count(*) FROM pg_inherits i JOIN pg_class k"
                                        " ON k.oid = i.inhrelid WHERE k.relkind = 'r' AND"
                                        " k.relnamespace = 'parts'::regnamespace"), 5 * 8);
    /* one directory row per record, naming its shard */
    assert_int_equal(dba_count("parts", "SELECT count(*) FROM parts.record_ids"), NDISTRICT * NPER);
    assert_int_equal(dba_count("parts", "SELECT count(*) FROM parts.records r JOIN parts.record_ids d"
                                        " ON d.id = r.id AND d.shard = r.shard"), NDISTRICT * NPER);
    /* co-partitioned: every field is in the partition of its record's
     * number (records_pN, fields_pN) */
    assert_int_equal(dba_count("parts", "SELECT count(*) FROM parts.fields f JOIN parts.records r"
                                        " ON r.shard = f.shard AND r.id = f.record_id"
                                        " WHERE substring(f.tableoid::regclass::text from '_p[0-9]+$')"
                                        " = substring(r.tableoid::regclass::text from '_p[0-9]+$')"),
                     NDISTRICT * NPER * 2);
    /* each district's records are in one partition (its shard's hash),
     * and its fields in the partition of the same number */
    assert_int_equal(dba_count("parts", "SELECT count(*) FROM (SELECT shard FROM parts.records"
                                        " GROUP BY shard HAVING count(DISTINCT tableoid) = 1) x"),
                     NDISTRICT);
    assert_int_equal(dba_count("parts", "SELECT count(*) FROM ONLY parts.records"), 0);
    assert_int_equal(dba_count("parts", "SELECT version FROM parts.store_info"), 8);
    /* the audit log by log: the entries about a district's records in
     * that district's log (its shard), each with one create per record,
     * the rest in the city log; every log's head row on its newest entry */
    assert_int_equal(audit_parted("parts"), 1);
    assert_true(dba_count("parts", "SELECT count(*) FROM parts.audit WHERE log = ''") > 0);
    assert_int_equal(dba_count("parts", "SELECT count(DISTINCT log) FROM parts.audit"
                                        " WHERE log <> ''"), NDISTRICT);
    assert_int_equal(dba_count("parts", "SELECT count(*) FROM parts.audit a"
                                        " JOIN parts.records r ON r.id = a.record_id"
                                        " WHERE a.log <> r.shard"), 0);
    assert_int_equal(dba_count("parts", "SELECT count(*) FROM parts.audit a"
                                        " JOIN parts.records r ON r.id = a.record_id"
                                        " AND a.log = r.shard"), NDISTRICT * NPER);
    assert_int_equal(dba_count("parts", "SELECT count(*) FROM parts.audit_heads"), NDISTRICT + 1);
    assert_int_equal(dba_count("parts", "SELECT count(*) FROM parts.audit_heads h WHERE h.pos ="
                                        " (SELECT max(pos) FROM parts.audit WHERE log = h.log)"
                                        " AND h.state IS NOT NULL"), NDISTRICT + 1);
    /* the blind index is spread by digest: more than one partition */
    assert_true(dba_count("parts", "SELECT count(DISTINCT tableoid) FROM parts.blind_index") > 1);
    expect_residents(v, ids);
    /* an erased record leaves the directory too */
    {
        vault_session *s = officer(v, "li");
        assert_non_null(s);
        assert_int_equal(vault_record_erase(s, ids[0]), 0);
        vault_session_close(s);
    }
    assert_int_equal(dba_count("parts", "SELECT count(*) FROM parts.record_ids"),
                     NDISTRICT * NPER - 1);
    assert_int_equal(dba_count("parts", "SELECT count(*) FROM parts.fields"),
                     (NDISTRICT * NPER - 1) * 2);
    assert_int_equal(dba_count("parts", "SELECT count(*) FROM parts.blind_index"),
                     NDISTRICT * NPER - 1);
    assert_int_equal(dba_count("parts", "SELECT count(*) FROM parts.records"), NDISTRICT * NPER - 1);
    verify_log(v, "after");
    vault_close(v);
}

/* The directory holds an id once, whichever shard a second row names:
 * what UNIQUE (id) did before (a DBA's insert is refused by the server). */
static void test_directory_unique(void **state)
{
    char sql[256];
    PGconn *c;
    PGresult *r;

    (void)state;
    make_vault("dirs");
    c = PQconnectdb(pg_uri);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    snprintf(sql, sizeof sql, "INSERT INTO dirs.record_ids VALUES ('\\x01', 'hangzhou/xihu'),"
                              " ('\\x01', 'hangzhou/gongshu')");
    r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23505");
    PQclear(r);
    PQfinish(c);
}

/* The schema back as the first PostgreSQL layout made it (schema 6):
 * plain tables, records with UNIQUE (id), no directory (rows kept). */
#define TO_FIRST_LAYOUT                                                                          \
    "BEGIN; SET LOCAL search_path = %s;"                                                         \
    "CREATE TEMP TABLE r1 AS SELECT * FROM records; CREATE TEMP TABLE f1 AS SELECT * FROM fields;" \
    "CREATE TEMP TABLE b1 AS SELECT * FROM blind_index;"                                         \
    "DROP TABLE blind_index, fields, records, record_ids;"                                       \
    "CREATE TABLE records(shard text NOT NULL, id bytea NOT NULL, jurisdiction text NOT NULL,"   \
    " created bigint NOT NULL, updated bigint NOT NULL, version bigint NOT NULL,"                \
    " mac bytea NOT NULL, PRIMARY KEY (shard, id), UNIQUE (id));"                                \
    "CREATE TABLE fields(shard text NOT NULL, record_id bytea NOT NULL, name text NOT NULL,"     \
    " grade text NOT NULL, key_version bigint NOT NULL, counter bigint NOT NULL,"                \
    " ct bytea NOT NULL, digest bytea, PRIMARY KEY (shard, record_id, name),"                    \
    " FOREIGN KEY (shard, record_id) REFERENCES records(shard, id) ON DELETE CASCADE,"           \
    " FOREIGN KEY (grade, key_version) REFERENCES grade_keys(grade, version));"                  \
    "CREATE INDEX fields_grade_key ON fields(grade, key_version);"                               \
    "CREATE TABLE blind_index(shard text NOT NULL, id bytea NOT NULL, field text NOT NULL,"      \
    " digest bytea NOT NULL, PRIMARY KEY (field, digest, id),"                                   \
    " FOREIGN KEY (shard, id) REFERENCES records(shard, id) ON DELETE CASCADE);"                 \
    "CREATE INDEX blind_index_record ON blind_index(shard, id);"                                 \
    "INSERT INTO records SELECT * FROM r1; INSERT INTO fields SELECT * FROM f1;"                 \
    "INSERT INTO blind_index SELECT * FROM b1; UPDATE store_info SET version = 6; COMMIT"

static void first_layout_vault(const char *schema, char ids[][VAULT_ID_HEX_SIZE])
{
    vault *v = NULL;

    make_vault(schema);
    assert_int_equal(open_vault(&v, schema), 0);
    add_residents(v, ids);
    vault_close(v);
    dba_exec(schema, TO_FIRST_LAYOUT);
    assert_int_equal(parted_count(schema), 0);
    assert_int_equal(dba_count(schema, "SELECT count(*) FROM %s.records"), NDISTRICT * NPER);
}

static void test_first_layout_partitioned_on_open(void **state)
{
    char ids[NDISTRICT * NPER][VAULT_ID_HEX_SIZE], phone[16];
    vault *v = NULL;
    int64_t entries;

    (void)state;
    first_layout_vault("older", ids);
    /* the tables owned by a role of their own (the superuser opens them
     * below), an application role's privileges, a column's too */
    dba_exec("older", "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname ="
                      " 'pt_app') THEN CREATE ROLE pt_app; CREATE ROLE pt_clerk;"
                      " CREATE ROLE pt_owner; END IF; END $$;"
                      "GRANT CREATE, USAGE ON SCHEMA %s TO pt_owner;"
                      "GRANT SELECT, REFERENCES ON %s.grade_keys TO pt_owner;"
                      "ALTER TABLE %s.records OWNER TO pt_owner; ALTER TABLE %s.fields OWNER TO pt_owner;"
                      "ALTER TABLE %s.blind_index OWNER TO pt_owner;"
                      "GRANT SELECT, INSERT, DELETE ON %s.records, %s.fields TO pt_app;"
                      "GRANT SELECT (jurisdiction) ON %s.records TO pt_clerk WITH GRANT OPTION");
    entries = dba_count("older", "SELECT count(*) FROM %s.audit");
    assert_int_equal(open_vault(&v, "older"), 0);
    assert_int_equal(parted_count("older"), 4);
    assert_int_equal(dba_count("older", "SELECT version FROM %s.store_info"), 8);
    /* the new tables and their partitions are the old tables' owner's */
    assert_int_equal(dba_count("older", "SELECT count(*) FROM pg_class WHERE relnamespace ="
                                        " '%s'::regnamespace AND relkind IN ('r', 'p') AND"
                                        " relname ~ '^(record_ids|records|fields|blind_index)'"
                                        " AND pg_get_userbyid(relowner) = 'pt_owner'"),
                     4 * 9);
    /* the migration is in the log */
    assert_true(dba_count("older", "SELECT count(*) FROM %s.audit") > entries);
    assert_int_equal(dba_count("older", "SELECT count(*) FROM %s.record_ids"), NDISTRICT * NPER);
    assert_int_equal(dba_count("older", "SELECT count(*) FROM %s.fields"), NDISTRICT * NPER * 2);
    assert_int_equal(dba_count("older", "SELECT count(*) FROM %s.blind_index"), NDISTRICT * NPER);
    assert_int_equal(dba_count("older", "SELECT count(*) FROM pg_class WHERE relnamespace ="
                                        " '%s'::regnamespace AND relname LIKE '%%_v1%%'"), 0);
    /* the privileges, as they were; records' also on the directory */
    assert_int_equal(dba_count("older", "SELECT has_table_privilege('pt_app', '%s.records', 'INSERT')::int"
                                        " + has_table_privilege('pt_app', '%s.fields', 'DELETE')::int"
                                        " + has_table_privilege('pt_app', '%s.record_ids', 'INSERT')::int"
                                        " + has_table_privilege('pt_app', '%s.record_ids', 'SELECT')::int"
                                        " + (NOT has_table_privilege('pt_app', '%s.blind_index',"
                                        " 'INSERT'))::int"),
                     5);
    assert_int_equal(dba_count("older", "SELECT has_column_privilege('pt_clerk', '%s.records',"
                                        " 'jurisdiction', 'SELECT WITH GRANT OPTION')::int"
                                        " + (NOT has_column_privilege('pt_clerk', '%s.records',"
                                        " 'mac', 'SELECT'))::int"),
                     2);
    expect_residents(v, ids);
    verify_log(v, "after");
    /* and the vault goes on: a write into each district */
    {
        vault_session *s = officer(v, "li");
        char id[VAULT_ID_HEX_SIZE];
        int d;
        assert_non_null(s);
        for (d = 0; d < NDISTRICT; d++) {
            snprintf(phone, sizeof phone, "1390000%04d", d);
            tu_add_resident(s, id, DISTRICT[d], "新居民", phone);
            tu_expect_value(s, id, "phone", phone);
        }
        vault_session_close(s);
    }
    verify_log(v, "after");
    assert_true(dba_count("older", "SELECT count(*) FROM %s.audit") > entries);
    vault_close(v);
    /* opened again: nothing more to do */
    assert_int_equal(open_vault(&v, "older"), 0);
    expect_residents(v, ids);
    vault_close(v);
}

/* What a layout change would lose, a DBA's: made, then the open refused
 * by name with nothing changed (untouched checks it), then taken away. */
typedef struct lost_case {
    const char *make, *named, *undo;
} lost_case;

static void refused_each(const char *schema, const lost_case *lost, size_t n,
                         void (*untouched)(const char *schema, int64_t arg), int64_t arg)
{
    vault *v = NULL;
    size_t i;

    for (i = 0; i < n; i++) {
        dba_exec(schema, lost[i].make);
        assert_int_equal(open_vault(&v, schema), VAULT_ESTATE);
        assert_null(v);
        if (!strstr(vault_error_last(), lost[i].named))
            fail_msg("%s: the refusal does not name %s: %s", lost[i].make, lost[i].named,
                     vault_error_last());
        untouched(schema, arg);
        dba_exec(schema, lost[i].undo);
    }
}

/* Still the first layout, every record there. */
static void first_untouched(const char *schema, int64_t arg)
{
    (void)arg;
    assert_int_equal(parted_count(schema), 0);
    assert_int_equal(dba_count(schema, "SELECT count(*) FROM %s.records"), NDISTRICT * NPER);
}

/* Refused, and the tables left as they were: a role that does not own
 * them, and what of a DBA's the new tables would not have (a trigger, an
 * index, a row-security policy, a column, storage parameters). */
static void test_first_layout_refused(void **state)
{
    static const lost_case lost[] = {
        {"CREATE FUNCTION %s.dba_note() RETURNS trigger LANGUAGE plpgsql AS"
         " $$ BEGIN RETURN NULL; END $$; CREATE TRIGGER dba_note AFTER INSERT ON %s.fields"
         " FOR EACH ROW EXECUTE FUNCTION %s.dba_note()",
         "dba_note", "DROP TRIGGER dba_note ON %s.fields"},
        {"CREATE INDEX dba_by_created ON %s.records(created)", "dba_by_created",
         "DROP INDEX %s.dba_by_created"},
        {"CREATE POLICY dba_rls ON %s.records USING (true)", "dba_rls",
         "DROP POLICY dba_rls ON %s.records"},
        /* its data would not be copied */
        {"ALTER TABLE %s.records ADD COLUMN dba_col text", "dba_col",
         "ALTER TABLE %s.records DROP COLUMN dba_col"},
        {"ALTER TABLE %s.fields SET (fillfactor = 90)", "storage parameters",
         "ALTER TABLE %s.fields RESET (fillfactor)"},
    };
    char ids[NDISTRICT * NPER][VAULT_ID_HEX_SIZE], loc[1200], kf[600];
    vault *v = NULL;
    vault_secret sec;

    (void)state;
    first_layout_vault("plain", ids);
    dba_exec("plain", "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname ="
                      " 'pt_reader') THEN CREATE ROLE pt_reader LOGIN; END IF; END $$;"
                      "GRANT USAGE ON SCHEMA %s TO pt_reader;"
                      "GRANT SELECT ON ALL TABLES IN SCHEMA %s TO pt_reader;"
                      "GRANT UPDATE ON %s.generation TO pt_reader");
    location(loc, sizeof loc, "plain");
    assert_true(strlen(loc) + 20 < sizeof loc);
    strcat(loc, "&user=pt_reader");
    keyfile(kf, sizeof kf, "plain");
    sec = tu_keyfile_secret(kf);
    assert_int_equal(vault_open(&v, loc, &sec), VAULT_EDENIED);
    assert_null(v);
    assert_non_null(strstr(vault_error_last(), "owner"));
    assert_int_equal(parted_count("plain"), 0);

    /* what the new tables would not carry, each refused by name with
     * nothing changed, then taken away again */
    refused_each("plain", lost, sizeof lost / sizeof lost[0], first_untouched, 0);
    /* taken away, the owner's open partitions the tables */
    assert_int_equal(open_vault(&v, "plain"), 0);
    assert_int_equal(parted_count("plain"), 4);
    expect_residents(v, ids);
    verify_log(v, "after");
    vault_close(v);
}

/* The audit tables back as schema 7 had them: audit keyed by pos, the
 * one-row audit_state, the immutability triggers (the city log's rows and
 * state kept). */
#define TO_SCHEMA7_AUDIT                                                                         \
    "BEGIN; SET LOCAL search_path = %s;"                                                         \
    "CREATE TEMP TABLE a7 AS SELECT pos, entry, head, record_id, \"user\", flags FROM audit"      \
    " WHERE log = '';"                                                                           \
    "CREATE TEMP TABLE s7 AS SELECT pos, head, state, mac FROM audit_heads WHERE log = '';"       \
    "DROP TABLE audit, audit_heads;"                                                             \
    "CREATE TABLE audit(pos bigint PRIMARY KEY CHECK (pos > 0), entry bytea NOT NULL,"          \
    " head bytea NOT NULL, record_id bytea, \"user\" text NOT NULL, flags bigint NOT NULL);"      \
    "CREATE INDEX audit_by_record ON audit(record_id, pos) WHERE record_id IS NOT NULL;"         \
    "CREATE INDEX audit_by_user ON audit(\"user\", pos);"                                         \
    "CREATE TABLE audit_state(one boolean PRIMARY KEY DEFAULT true CHECK (one),"                 \
    " pos bigint NOT NULL, head bytea, state bytea, mac bytea);"                                 \
    "INSERT INTO audit SELECT * FROM a7 ORDER BY pos;"                                           \
    "INSERT INTO audit_state(pos, head, state, mac) SELECT pos, head, state, mac FROM s7;"       \
    "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit"                            \
    " FOR EACH ROW EXECUTE FUNCTION audit_immutable();"                                          \
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"                                  \
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_immutable();"                                    \
    "UPDATE store_info SET version = 7; COMMIT"

/* A DBA's statement that the server must refuse with sqlstate. */
static void dba_refused(const char *sql, const char *sqlstate)
{
    PGconn *c = PQconnectdb(pg_uri);
    PGresult *r;

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), sqlstate);
    PQclear(r);
    PQfinish(c);
}

/* Still schema 7's one log, `entries` entries in it. */
static void schema7_untouched(const char *schema, int64_t entries)
{
    assert_int_equal(dba_count(schema, "SELECT version FROM %s.store_info"), 7);
    assert_int_equal(dba_count(schema, "SELECT count(*) FROM %s.audit"), entries);
    assert_int_equal(audit_parted(schema), 0);
}

static void test_schema7_log_kept_by_log(void **state)
{
    vault *v = NULL;
    int64_t entries, head;
    af_entry e;
    int i;

    (void)state;
    make_vault("onelog");
    assert_int_equal(open_vault(&v, "onelog"), 0);
    /* a schema-7 vault's log is the city log alone (entries about records
     * went there before they went to their shard's): entries of the city
     * log, then the layout of schema 7 */
    assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
    for (i = 0; i < 12; i++) {
        audit_entry_init(&e, v, NULL, "audit_query");
        e.detail = "a test entry";
        assert_int_equal(audit_append(v, &e), 0);
    }
    assert_int_equal(store_commit(v->db), 0);
    verify_log(v, "before");
    vault_close(v);
    /* TRUNCATE: refused on the table and on a partition by itself */
    dba_refused("TRUNCATE onelog.audit", "42501");
    dba_refused("TRUNCATE onelog.audit_p3", "42501");
    dba_exec("onelog", TO_SCHEMA7_AUDIT);
    dba_exec("onelog", "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname ="
                       " 'pt_auditor') THEN CREATE ROLE pt_auditor; END IF; END $$;"
                       "GRANT SELECT, INSERT ON %s.audit TO pt_auditor;"
                       "GRANT SELECT, UPDATE ON %s.audit_state TO pt_auditor;"
                       "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname ="
                       " 'pt_counter') THEN CREATE ROLE pt_counter; END IF; END $$;"
                       "GRANT SELECT (pos, flags) ON %s.audit TO pt_counter;"
                       "GRANT UPDATE (pos) ON %s.audit_state TO pt_counter");
    entries = dba_count("onelog", "SELECT count(*) FROM %s.audit");
    head = dba_count("onelog", "SELECT pos FROM %s.audit_state");
    assert_int_equal(head, entries);
    assert_int_equal(audit_parted("onelog"), 0);

    /* what the new tables would not carry: refused by name, untouched (a
     * column named as one of audit_state's, on audit, is a DBA's too) */
    {
        static const lost_case lost[] = {
            {"CREATE INDEX dba_audit_flags ON %s.audit(flags)", "dba_audit_flags",
             "DROP INDEX %s.dba_audit_flags"},
            {"ALTER TABLE %s.audit ADD COLUMN state bytea", "the column state of audit",
             "ALTER TABLE %s.audit DROP COLUMN state"},
            {"CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON %s.audit_state"
             " FOR EACH STATEMENT EXECUTE FUNCTION %s.audit_immutable()",
             "the trigger audit_no_truncate on audit_state",
             "DROP TRIGGER audit_no_truncate ON %s.audit_state"},
        };
        refused_each("onelog", lost, sizeof lost / sizeof lost[0], schema7_untouched, entries);
    }

    /* the owner's open keeps the log by log */
    assert_int_equal(open_vault(&v, "onelog"), 0);
    assert_int_equal(dba_count("onelog", "SELECT version FROM %s.store_info"), 8);
    assert_int_equal(audit_parted("onelog"), 1);
    assert_int_equal(dba_count("onelog", "SELECT count(*) FROM %s.audit WHERE log <> ''"), 0);
    /* every entry kept, and the open's own after them */
    assert_true(dba_count("onelog", "SELECT count(*) FROM %s.audit WHERE log = ''") > entries);
    assert_int_equal(dba_count("onelog", "SELECT count(*) FROM %s.audit WHERE log = ''"),
                     dba_count("onelog", "SELECT max(pos) FROM %s.audit WHERE log = ''"));
    assert_int_equal(dba_count("onelog", "SELECT (to_regclass('%s.audit_state') IS NULL"
                                         " AND to_regclass('%s.audit_v7') IS NULL)::int"), 1);
    /* the privileges carried: INSERT on the head rows too (a new log's
     * first append makes its row), never UPDATE on the entries */
    assert_int_equal(dba_count("onelog", "SELECT has_table_privilege('pt_auditor', '%s.audit', 'INSERT')::int"
                                         " + has_table_privilege('pt_auditor', '%s.audit', 'SELECT')::int"
                                         " + has_table_privilege('pt_auditor', '%s.audit_heads', 'UPDATE')::int"
                                         " + has_table_privilege('pt_auditor', '%s.audit_heads', 'INSERT')::int"
                                         " + (NOT has_table_privilege('pt_auditor', '%s.audit',"
                                         " 'UPDATE'))::int"),
                     5);
    /* a column grant on pos is one on log too; UPDATE (pos) on the state
     * gives INSERT on the head rows */
    assert_int_equal(dba_count("onelog", "SELECT has_column_privilege('pt_counter', '%s.audit', 'log', 'SELECT')::int"
                                         " + has_column_privilege('pt_counter', '%s.audit', 'flags', 'SELECT')::int"
                                         " + has_table_privilege('pt_counter', '%s.audit_heads', 'INSERT')::int"
                                         " + (NOT has_column_privilege('pt_counter', '%s.audit', 'entry',"
                                         " 'SELECT'))::int"),
                     4);
    dba_refused("TRUNCATE onelog.audit_p5", "42501");
    dba_refused("DELETE FROM onelog.audit WHERE pos = 1", "42501");
    verify_log(v, "after");
    vault_close(v);
    /* opened again: nothing more to do (nothing set aside again) */
    assert_int_equal(open_vault(&v, "onelog"), 0);
    verify_log(v, "again");
    vault_close(v);
    assert_int_equal(dba_count("onelog", "SELECT count(*) FROM pg_class WHERE relnamespace ="
                                         " '%s'::regnamespace AND relname LIKE '%%_v7%%'"), 0);
    assert_int_equal(audit_parted("onelog"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_vault_partitioned),
        cmocka_unit_test(test_directory_unique),
        cmocka_unit_test(test_first_layout_partitioned_on_open),
        cmocka_unit_test(test_first_layout_refused),
        cmocka_unit_test(test_schema7_log_kept_by_log),
    };

    return pgtest_run("test_pg_partitions", tests, sizeof tests / sizeof tests[0]);
}

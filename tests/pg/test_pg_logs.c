/* The audit log's shard logs in the library (issue 17, "one chain per
 * shard"; docs/postgresql.md "Per-shard chains"), on the server
 * VAULT_PG_URI names (ctest runs it in a throwaway cluster; without
 * VAULT_PG_URI it fails rather than pass):
 *  - entries that name a shard's log go to that log, each log its own
 *    chain: positions and sequence numbers from 1, sealed in one
 *    transaction with the city log's, each log's Merkle state on its own
 *    newest row, the city log's trust digest on the city log only;
 *  - a later transaction continues each chain where it ended, and so
 *    does one after a master-key rotation, which carries every log;
 *  - audit verify checks every log and counts their entries; an entry of
 *    a shard log changed behind the vault's back, or the log cut back, is
 *    found and named by its log, and an append to a cut log is refused;
 *  - a city checkpoint claims the shard heads first (a log_heads entry in
 *    the city log), on demand, on close when shard entries are unclaimed,
 *    and when a shard log crosses a multiple of the interval; a shard log
 *    rewritten whole with the vault's own keys (a fresh, valid chain and
 *    state) or removed is found against those claims;
 *  - an export holds every log, each shard log's lines after a line that
 *    names it, and verifies offline: a shard entry changed, a section
 *    left out or cut below its claim, sections out of order, a log
 *    rewritten whole are found and named by their log;
 *  - a shard log's entry has a two-level proof (its log's tree at a
 *    claimed size, the claim in a city checkpoint) that checks offline,
 *    and fails when any part of it is edited or the log was tampered;
 *  - a resident's bundle holds the record's entries of every log (v2:
 *    each shard log's claim with its proof), verifies offline, and fails
 *    when an entry, a claim or a proof is edited, left out or moved, or
 *    the store was tampered.
 *  - the calls that name a record (create, read, update, search, import,
 *    erase) log to the record's shard's log, the rest to the city log
 *    (test_calls_route; the other tests name their entries' logs
 *    themselves). */
#include "pg/pgtest.h"

#include <jansson.h>

#include "audit/audit.h"
#include "vault_int.h"

static const char *const XIHU = "hangzhou/xihu", *const GONGSHU = "hangzhou/gongshu";

/* A DBA takes every entry of log out of schema's audit (the trigger
 * disabled for it), and its head row too when head. */
static void dba_empty(const char *schema, const char *log, int head)
{
    char heads[200] = "", sql[600];

    if (head)
        snprintf(heads, sizeof heads, "DELETE FROM %%s.audit_heads WHERE log = '%s';", log);
    snprintf(sql, sizeof sql,
             "ALTER TABLE %%s.audit DISABLE TRIGGER audit_no_change;"
             "DELETE FROM %%s.audit WHERE log = '%s';%s"
             "ALTER TABLE %%s.audit ENABLE TRIGGER audit_no_change", log, heads);
    dba_exec(schema, sql);
}

/* n entries to log (NULL: the city's), in the caller's transaction. */
static void append_to(vault *v, const char *log, int n)
{
    af_entry e;
    int i;

    for (i = 0; i < n; i++) {
        audit_entry_init(&e, v, NULL, "audit_query");
        e.detail = "a test entry";
        e.log = log;
        assert_int_equal(audit_append(v, &e), 0);
    }
}

static void append_tx(vault *v, int city, int xihu, int gongshu)
{
    assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
    /* out of name order on purpose: sealed in name order at commit */
    append_to(v, XIHU, xihu);
    append_to(v, NULL, city);
    append_to(v, GONGSHU, gongshu);
    assert_int_equal(store_commit(v->db), 0);
}

/* The entries of log in schema's audit. */
static int64_t in_log_of(const char *schema, const char *log)
{
    char sql[300];

    snprintf(sql, sizeof sql, "SELECT count(*) FROM %%s.audit WHERE log = '%s'", log);
    return dba_count(schema, sql);
}

static int64_t in_log(const char *log, const char *what)
{
    char sql[300];

    snprintf(sql, sizeof sql, "SELECT %s FROM %%s.audit WHERE log = '%s'", what, log);
    return dba_count("plogs", sql);
}

/* The log's rows are 1..n, each a sequence number equal to its
 * position (the entry's bytes say it), and its head row's state sits on
 * the newest. */
static void expect_log(const char *log, int64_t n)
{
    char sql[400];

    assert_int_equal(in_log(log, "count(*)"), n);
    assert_int_equal(in_log(log, "coalesce(max(pos), 0)"), n);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %%s.audit_heads h WHERE h.log = '%s' AND h.state IS NOT NULL"
             " AND h.pos = %lld", log, (long long)n);
    assert_int_equal(dba_count("plogs", sql), n ? 1 : 0);
    /* the state's first 8 bytes are its tree size, little-endian; only
     * the city log's carries the trust digest ('T' after the roots) */
    snprintf(sql, sizeof sql,
             "SELECT get_byte(state, 0) + 256 * get_byte(state, 1) FROM %%s.audit_heads"
             " WHERE log = '%s'", log);
    if (n)
        assert_int_equal(dba_count("plogs", sql), n);
}

/* audit verify finds `failure`, its message saying `says`. */
static void expect_finding(vault *v, int failure, const char *says)
{
    vault_audit_result ar;

    assert_int_equal(vault_audit_verify(&ar, v, NULL, NULL, NULL), VAULT_EINTEGRITY);
    assert_int_equal(ar.failure, failure);
    if (!strstr(ar.message, says))
        fail_msg("the finding does not say \"%s\": %s", says, ar.message);
}

/* log_heads entries in the city log (their bytes hold the action). */
static int64_t heads_entries(const char *schema)
{
    return dba_count(schema, "SELECT count(*) FROM %s.audit WHERE log = ''"
                             " AND position('\\x6c6f675f6865616473'::bytea in entry) > 0");
}

/* xihu's rows and head row gone (a DBA's), then n entries appended to it
 * through the library: a fresh, valid chain and MAC'd state. */
static void rewrite_xihu(vault *v, int n)
{
    dba_empty("pheads", XIHU, 1);
    assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
    append_to(v, XIHU, n);
    assert_int_equal(store_commit(v->db), 0);
}

static void test_heads_claimed(void **state)
{
    vault *v = NULL;
    char *note = NULL;
    int64_t h0, cps;

    (void)state;
    make_vault("pheads");
    assert_int_equal(open_vault(&v, "pheads"), 0);
    h0 = heads_entries("pheads");
    assert_int_equal(h0, 0); /* no shard log: nothing to claim */
    assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
    append_to(v, XIHU, 5);
    append_to(v, GONGSHU, 2);
    assert_int_equal(store_commit(v->db), 0);
    assert_int_equal(vault_audit_checkpoint(&note, v), 0);
    vault_free(note);
    assert_int_equal(heads_entries("pheads"), 1);
    /* nothing new: no claim again */
    assert_int_equal(vault_audit_checkpoint(&note, v), 0);
    vault_free(note);
    assert_int_equal(heads_entries("pheads"), 1);
    verify_log(v, "claimed");

    /* on close, shard entries no claim covers are claimed */
    assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
    append_to(v, XIHU, 1);
    assert_int_equal(store_commit(v->db), 0);
    vault_close(v);
    assert_int_equal(heads_entries("pheads"), 2);

    /* a shard log crossing the interval: claimed and checkpointed in the
     * transaction that crosses it */
    assert_int_equal(open_vault(&v, "pheads"), 0);
    cps = dba_count("pheads", "SELECT count(*) FROM %s.checkpoints");
    assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
    append_to(v, GONGSHU, AUDIT_CHECKPOINT_EVERY);
    assert_int_equal(store_commit(v->db), 0);
    assert_int_equal(heads_entries("pheads"), 3);
    assert_int_equal(dba_count("pheads", "SELECT count(*) FROM %s.checkpoints"), cps + 1);
    verify_log(v, "crossed");

    /* log_heads entries whose claims do not parse (made with the vault's
     * own keys): malformed, the first one named, however many */
    {
        int64_t first = dba_count("pheads", "SELECT max(pos) + 1 FROM %s.audit WHERE log = ''");
        char want[80];
        af_entry e;
        int k;

        assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
        for (k = 0; k < 2; k++) {
            audit_entry_init(&e, v, NULL, AUDIT_LOG_HEADS);
            e.detail = k ? "12 00 hangzhou/xihu\n" : "no claims here";
            assert_int_equal(audit_append(v, &e), 0);
        }
        assert_int_equal(store_commit(v->db), 0);
        snprintf(want, sizeof want, "entry %lld: malformed (a log_heads entry", (long long)first);
        expect_finding(v, VAULT_AUDIT_MALFORMED, want);
    }

    /* xihu rewritten whole with the vault's keys: its rows and head row
     * gone, a fresh chain appended through the library (valid entries,
     * a valid MAC'd state): only the claims show it */
    rewrite_xihu(v, 8);
    expect_finding(v, VAULT_AUDIT_ROLLED_BACK, "log hangzhou/xihu: entry 5: rolled back");
    {
        /* the result's checkpoints are the city log's, never the claims */
        vault_audit_result ar;

        assert_int_equal(vault_audit_verify(&ar, v, NULL, NULL, NULL), VAULT_EINTEGRITY);
        assert_int_equal(ar.newest_size,
                         (uint64_t)dba_count("pheads", "SELECT max(size) FROM %s.checkpoints"));
        assert_int_equal(ar.checkpoints,
                         (uint64_t)dba_count("pheads", "SELECT count(*) FROM %s.checkpoints"));
        assert_true(ar.newest_time > 0);
    }
    /* and rewritten shorter than what was claimed of it */
    rewrite_xihu(v, 3);
    expect_finding(v, VAULT_AUDIT_ROLLED_BACK,
                   "log hangzhou/xihu: entry 4: rolled back (the log has 3 entries but the city "
                   "log claimed 6)");

    /* gongshu removed whole */
    dba_empty("pheads", GONGSHU, 1);
    expect_finding(v, VAULT_AUDIT_ROLLED_BACK, "log hangzhou/gongshu: rolled back");
    vault_close(v);
}

static void test_shard_logs(void **state)
{
    vault *v = NULL;
    vault_audit_result ar;
    int64_t city0, total;
    char sql[400];

    (void)state;
    make_vault("plogs");
    assert_int_equal(open_vault(&v, "plogs"), 0);
    city0 = in_log("", "count(*)");
    assert_true(city0 > 0);

    append_tx(v, 1, 3, 2);
    expect_log(XIHU, 3);
    expect_log(GONGSHU, 2);
    expect_log("", city0 + 1);
    /* the city log's state alone carries the trust digest */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %%s.audit_heads WHERE log <> '' AND"
             " length(state) <> 8 + 32 * (SELECT count(*) FROM generate_series(0, 15) b"
             " WHERE (get_byte(state, 0) >> b) & 1 = 1)");
    assert_int_equal(dba_count("plogs", sql), 0);

    /* each chain goes on where it ended */
    append_tx(v, 0, 2, 1);
    expect_log(XIHU, 5);
    expect_log(GONGSHU, 3);
    vault_close(v);
    assert_int_equal(open_vault(&v, "plogs"), 0);
    append_tx(v, 1, 1, 0);
    expect_log(XIHU, 6);

    /* a master-key rotation carries every log: each shard log's rows and
     * its state, tagged anew under the new key */
    vault_close(v);
    {
        char loc[1200], kf[600];
        vault_secret sec;

        location(loc, sizeof loc, "plogs");
        keyfile(kf, sizeof kf, "plogs");
        sec = tu_keyfile_secret(kf);
        if (vault_key_rotate_master(NULL, loc, &sec, NULL, NULL, 0, NULL, NULL) != 0)
            fail_msg("rotate: %s", vault_error_last());
    }
    expect_log(XIHU, 6);
    expect_log(GONGSHU, 3);
    assert_int_equal(open_vault(&v, "plogs"), 0);
    append_tx(v, 0, 1, 1);
    expect_log(XIHU, 7);
    expect_log(GONGSHU, 4);

    /* verify: every log, every entry counted */
    total = dba_count("plogs", "SELECT count(*) FROM %s.audit");
    assert_int_equal(vault_audit_verify(&ar, v, NULL, NULL, NULL), 0);
    assert_int_equal(ar.failure, VAULT_AUDIT_OK);
    assert_int_equal(ar.entries, total);

    /* an entry of a shard log changed behind the vault's back */
    dba_exec("plogs", "ALTER TABLE %s.audit DISABLE TRIGGER audit_no_change;"
                      "UPDATE %s.audit SET entry = set_byte(entry, length(entry) - 1,"
                      " get_byte(entry, length(entry) - 1) # 1)"
                      " WHERE log = 'hangzhou/xihu' AND pos = 2");
    expect_finding(v, VAULT_AUDIT_MODIFIED, "log hangzhou/xihu: entry 2");
    dba_exec("plogs", "UPDATE %s.audit SET entry = set_byte(entry, length(entry) - 1,"
                      " get_byte(entry, length(entry) - 1) # 1)"
                      " WHERE log = 'hangzhou/xihu' AND pos = 2");
    verify_log(v, "the byte put back");

    /* the newest entries of a shard log cut */
    dba_exec("plogs", "DELETE FROM %s.audit WHERE log = 'hangzhou/gongshu' AND pos = 4;"
                      "ALTER TABLE %s.audit ENABLE TRIGGER audit_no_change");
    expect_finding(v, VAULT_AUDIT_TRUNCATED, "log hangzhou/gongshu: ");
    /* and nothing is appended to it */
    assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
    append_to(v, GONGSHU, 1);
    assert_int_equal(store_commit(v->db), VAULT_EINTEGRITY);
    store_rollback(v->db);
    assert_int_equal(in_log(GONGSHU, "count(*)"), 3);
    /* the other logs go on, and so do city checkpoints (the damaged log
     * is left unclaimed) */
    append_tx(v, 1, 1, 0);
    expect_log(XIHU, 8);
    {
        char *note = NULL;
        assert_int_equal(vault_audit_checkpoint(&note, v), 0);
        vault_free(note);
    }
    /* a log whose entries are all gone, its head row left: found (its
     * name sorts before gongshu's) */
    assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
    append_to(v, "hangzhou/binjiang", 3);
    assert_int_equal(store_commit(v->db), 0);
    dba_empty("plogs", "hangzhou/binjiang", 0);
    expect_finding(v, VAULT_AUDIT_TRUNCATED, "log hangzhou/binjiang: entry 1: truncated");
    vault_close(v);
}

/* Reports read every log: a resident's entries in the shard log and the
 * city log, each shard entry naming its log (text "LOG#seq", JSON "log"),
 * the city log's as before; a user's report too. */
static void test_reports_across_logs(void **state)
{
    vault *v = NULL;
    af_entry e;
    uint8_t rid[VAULT_ID_BYTES];
    char hex[VAULT_ID_HEX_SIZE], *out = NULL;
    json_t *arr;
    json_error_t jerr;
    size_t i, in_xihu = 0, in_city = 0, other = 0;
    int k;

    (void)state;
    make_vault("preport");
    assert_int_equal(open_vault(&v, "preport"), 0);
    memset(rid, 0x5a, sizeof rid);
    vault__id_format(hex, rid);
    assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
    for (k = 0; k < 4; k++) {
        audit_entry_init(&e, v, NULL, "read");
        e.detail = "a test entry";
        e.has_record = 1;
        memcpy(e.record_id, rid, sizeof rid);
        e.log = k < 3 ? XIHU : NULL;
        assert_int_equal(audit_append(v, &e), 0);
    }
    append_to(v, GONGSHU, 2); /* another log, no record */
    assert_int_equal(store_commit(v->db), 0);

    assert_int_equal(vault_audit_report(&out, v, VAULT_REPORT_RECORD, hex, 1), 0);
    arr = json_loads(out, 0, &jerr);
    assert_non_null(arr);
    for (i = 0; i < json_array_size(arr); i++) {
        json_t *log = json_object_get(json_array_get(arr, i), "log");
        if (!log)
            in_city++;
        else if (strcmp(json_string_value(log), XIHU) == 0)
            in_xihu++;
        else
            other++;
    }
    json_decref(arr);
    vault_free(out);
    assert_int_equal(in_xihu, 3);
    assert_int_equal(in_city, 2); /* the city log's entry, and the report's own */
    assert_int_equal(other, 0);

    assert_int_equal(vault_audit_report(&out, v, VAULT_REPORT_RECORD, hex, 0), 0);
    assert_non_null(strstr(out, "  hangzhou/xihu#1  "));
    assert_non_null(strstr(out, "  hangzhou/xihu#3  "));
    assert_null(strstr(out, "hangzhou/xihu#4"));
    assert_null(strstr(out, "gongshu"));
    {
        /* 3 shard lines and the city log's 3 (the entry, and the two
         * reports' own), a line each */
        size_t lines = 0, city = 0;
        const char *p;
        for (p = out; *p; p++)
            lines += *p == '\n';
        for (p = out; (p = strstr(p, "Z  #")) != NULL; p++)
            city++;
        assert_int_equal(lines, 6);
        assert_int_equal(city, 3);
    }
    vault_free(out);

    /* the month's summary counts every log's entries (checked against
     * each log's chain and MAC'd state) */
    {
        char month[8];
        time_t now = time(NULL);
        struct tm tm;
        json_t *o, *g;
        int64_t reads = -1, residents = -1;

        gmtime_r(&now, &tm);
        strftime(month, sizeof month, "%Y-%m", &tm);
        assert_int_equal(vault_audit_summary(&out, v, "action", month, VAULT_SUMMARY_JSON), 0);
        o = json_loads(out, 0, &jerr);
        assert_non_null(o);
        for (i = 0; i < json_array_size(json_object_get(o, "groups")); i++) {
            g = json_array_get(json_object_get(o, "groups"), i);
            if (strcmp(json_string_value(json_object_get(g, "action")), "read") == 0) {
                reads = json_integer_value(json_object_get(g, "entries"));
                residents = json_integer_value(json_object_get(g, "residents"));
            }
        }
        json_decref(o);
        vault_free(out);
        assert_int_equal(reads, 4); /* 3 in xihu's log, 1 in the city's */
        assert_int_equal(residents, 1);
    }

    /* the actor's report: every log's entries of theirs */
    assert_int_equal(vault_audit_report(&out, v, VAULT_REPORT_USER, v->actor, 0), 0);
    assert_non_null(strstr(out, "  hangzhou/gongshu#2  "));
    assert_non_null(strstr(out, "  hangzhou/xihu#3  "));
    vault_free(out);
    /* and the anomaly ranking reads them: nobody above a role's others
     * here, but it ran over every log */
    assert_int_equal(vault_audit_anomalies(&out, v, 3600, 0), 0);
    vault_free(out);

    /* a shard log emptied behind the vault's back (its head row left):
     * the summary and the ranking refuse rather than count without it */
    dba_empty("preport", GONGSHU, 0);
    {
        char month[8];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(month, sizeof month, "%Y-%m", &tm);
        assert_int_equal(vault_audit_summary(&out, v, "action", month, VAULT_SUMMARY_JSON),
                         VAULT_EINTEGRITY);
        assert_non_null(strstr(vault_error_last(), "hangzhou/gongshu"));
    }
    assert_int_equal(vault_audit_anomalies(&out, v, 3600, 0), VAULT_EINTEGRITY);
    vault_close(v);
}

/* ---- exports across logs ---- */

/* The export's lines, split (a copy each). */
typedef struct lines {
    char **l;
    size_t n;
} lines;

static lines read_lines(const char *path)
{
    size_t len = 0;
    char *text = (char *)tu_read_file(path, &len), *p, *nl;
    lines out = {NULL, 0};

    for (p = text; p < text + len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(text + len - p));
        assert_non_null(nl);
        out.l = realloc(out.l, (out.n + 1) * sizeof *out.l);
        assert_non_null(out.l);
        out.l[out.n++] = strndup(p, (size_t)(nl - p));
    }
    free(text);
    return out;
}

static void lines_free(lines *x)
{
    for (size_t i = 0; i < x->n; i++)
        free(x->l[i]);
    free(x->l);
}

/* The index of the line that starts log's section (n when none). */
static size_t section(const lines *x, const char *log)
{
    char want[300];
    size_t i;

    snprintf(want, sizeof want, "{\"log\":\"%s\"}", log);
    for (i = 0; i < x->n; i++)
        if (strcmp(x->l[i], want) == 0)
            return i;
    return x->n;
}

/* The export at path verified with pub: the class, the message saying
 * says (NULL: anything; "^text": beginning with text). */
static void expect_verified(const char *path, const char *pub, int failure, const char *says)
{
    vault_audit_result ar;
    int rc;

    memset(&ar, 0, sizeof ar);
    rc = vault_audit_verify_export(&ar, path, pub, NULL, NULL, NULL);
    assert_int_equal(rc, failure ? VAULT_EINTEGRITY : 0);
    assert_int_equal(ar.failure, failure);
    if (says && (says[0] == '^' ? strncmp(ar.message, says + 1, strlen(says + 1)) != 0
                                : !strstr(ar.message, says)))
        fail_msg("the export's finding does not say \"%s\": %s", says, ar.message);
}

/* Write lines [0, n) of x but those in [skip0, skip1), with `extra`
 * (may be NULL) after line `at`, and line `swap` (if < n) replaced by
 * `with`; verify the file with pub: the class, the message saying says. */
static void expect_export(const char *path, const lines *x, size_t skip0, size_t skip1,
                          size_t at, const char *extra, size_t swap, const char *with,
                          const char *pub, int failure, const char *says)
{
    FILE *f = fopen(path, "w");
    size_t i;

    assert_non_null(f);
    for (i = 0; i < x->n; i++) {
        if (i < skip0 || i >= skip1)
            fprintf(f, "%s\n", i == swap ? with : x->l[i]);
        if (i == at && extra)
            fprintf(f, "%s\n", extra);
    }
    assert_int_equal(fclose(f), 0);
    expect_verified(path, pub, failure, says);
}

/* Write the ranges [r[i][0], r[i][1]) of x's lines, in that order, then
 * verify the file as expect_export does. */
static void expect_order(const char *path, const lines *x, const size_t (*r)[2], size_t n,
                         const char *pub, int failure, const char *says)
{
    FILE *f = fopen(path, "w");
    size_t i, k;

    assert_non_null(f);
    for (i = 0; i < n; i++)
        for (k = r[i][0]; k < r[i][1]; k++)
            fprintf(f, "%s\n", x->l[k]);
    assert_int_equal(fclose(f), 0);
    expect_verified(path, pub, failure, says);
}

static void test_export_across_logs(void **state)
{
    vault *v = NULL;
    char *note = NULL, pub[VAULT_PUBKEY_SIZE], full[600], compact[600], bad[600];
    vault_audit_result ar;
    lines x;
    size_t xs, gs, none = (size_t)-1, k;
    int64_t city, cps, newest;

    (void)state;
    make_vault("pexport");
    assert_int_equal(open_vault(&v, "pexport"), 0);
    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, v), 0);
    append_tx(v, 2, 5, 3);
    assert_int_equal(vault_audit_checkpoint(&note, v), 0); /* claims xihu 5, gongshu 3 */
    vault_free(note);
    append_tx(v, 1, 2, 0); /* xihu 6 and 7: not claimed yet */
    snprintf(full, sizeof full, "%s/pexport.jsonl", dir);
    snprintf(compact, sizeof compact, "%s/pexport-compact.jsonl", dir);
    snprintf(bad, sizeof bad, "%s/pexport-bad.jsonl", dir);
    unlink(full);
    unlink(compact);
    assert_int_equal(vault_audit_export(v, full, NULL, NULL), 0);
    assert_int_equal(vault_audit_export_as(v, compact, VAULT_EXPORT_COMPACT, NULL, NULL), 0);
    city = dba_count("pexport", "SELECT count(*) FROM %s.audit WHERE log = ''");

    /* every log's entries, the city log's checkpoints */
    assert_int_equal(vault_audit_verify_export(&ar, full, pub, NULL, NULL, NULL), 0);
    assert_int_equal(ar.failure, VAULT_AUDIT_OK);
    assert_int_equal(ar.entries, (uint64_t)city - 1 + 7 + 3); /* less the second export's */
    /* the city log's checkpoints alone: the claims are not counted */
    cps = dba_count("pexport", "SELECT count(*) FROM %s.checkpoints");
    assert_true(cps >= 1);
    assert_int_equal(ar.checkpoints, (uint64_t)cps);
    newest = dba_count("pexport", "SELECT max(size) FROM %s.checkpoints");
    assert_int_equal(ar.newest_size, (uint64_t)newest);
    assert_int_equal(vault_audit_verify_export(&ar, compact, pub, NULL, NULL, NULL), 0);
    assert_int_equal(ar.entries, (uint64_t)city + 7 + 3);

    x = read_lines(compact);
    gs = section(&x, GONGSHU);
    xs = section(&x, XIHU);
    /* the store's order: gongshu, then xihu; each section its entries */
    assert_true(gs < xs && xs + 8 == x.n && gs + 4 == xs);
    assert_non_null(strstr(x.l[gs + 1], "{\"seq\":1,"));
    assert_non_null(strstr(x.l[xs + 7], "{\"seq\":7,"));
    expect_export(bad, &x, none, none, none, NULL, none, NULL, pub, VAULT_AUDIT_OK, NULL);

    /* a shard entry's head changed: modified, named by its log */
    {
        char *l = strdup(x.l[gs + 2]), *h = strstr(l, "\"head\":\"");

        assert_non_null(h);
        h[8] = h[8] == '0' ? '1' : '0';
        expect_export(bad, &x, none, none, none, NULL, gs + 2, l, pub, VAULT_AUDIT_MODIFIED,
                      "log hangzhou/gongshu: entry 2: modified");
        free(l);
        /* the counts of a finding in a shard log: every entry read, the
         * city log's checkpoints and newest */
        assert_int_equal(vault_audit_verify_export(&ar, bad, pub, NULL, NULL, NULL),
                         VAULT_EINTEGRITY);
        assert_int_equal(ar.bad_seq, 2);
        assert_int_equal(ar.entries, (uint64_t)city + 2);
        assert_int_equal(ar.checkpoints, (uint64_t)cps);
        assert_int_equal(ar.newest_size, (uint64_t)newest);
    }
    /* gongshu's section left out: the city log claims it */
    expect_export(bad, &x, gs, xs, none, NULL, none, NULL, pub, VAULT_AUDIT_ROLLED_BACK,
                  "log hangzhou/gongshu: rolled back (the city log claims 3 entries of it, the "
                  "export has none)");
    /* xihu cut to 3: shorter than its claim; cut to 5 (its unclaimed
     * entries gone): nothing shows it, as in the vault */
    expect_export(bad, &x, xs + 4, x.n, none, NULL, none, NULL, pub, VAULT_AUDIT_ROLLED_BACK,
                  "log hangzhou/xihu: entry 4: rolled back (the log has 3 entries but the city "
                  "log claimed 5)");
    expect_export(bad, &x, xs + 6, x.n, none, NULL, none, NULL, pub, VAULT_AUDIT_OK, NULL);
    {
        /* the sections swapped: out of order */
        const size_t swapped[][2] = {{0, gs}, {xs, x.n}, {gs, xs}};
        /* xihu's section twice: its entries would go unclaimed the second
         * time; the finding is the line's, not the log's */
        const size_t twice[][2] = {{0, x.n}, {xs, x.n}};

        char says[96];

        expect_order(bad, &x, swapped, 3, pub, VAULT_AUDIT_MALFORMED, "not in ascending order");
        snprintf(says, sizeof says, "^line %zu: malformed (a log's entries in two sections)",
                 x.n + 1);
        expect_order(bad, &x, twice, 2, pub, VAULT_AUDIT_MALFORMED, says);
    }
    /* after a gap in gongshu, a log line ends it: missing, not malformed */
    expect_export(bad, &x, gs + 2, gs + 3, none, NULL, none, NULL, pub, VAULT_AUDIT_MISSING,
                  "log hangzhou/gongshu: entry 2: missing");
    /* and a malformed log line there is skipped as any unreadable line */
    expect_export(bad, &x, gs + 2, gs + 3, none, NULL, xs, "{\"log\":7}", pub,
                  VAULT_AUDIT_MISSING, "log hangzhou/gongshu: entry 2: missing");
    /* a log listed with no entries; the city log's name; a log line with
     * more; a name that is not a string */
    expect_export(bad, &x, none, none, x.n - 1, "{\"log\":\"hangzhou/zz\"}", none, NULL, pub,
                  VAULT_AUDIT_TRUNCATED, "log hangzhou/zz: entry 1: truncated");
    expect_export(bad, &x, none, none, gs - 1, "{\"log\":\"\"}", none, NULL, pub,
                  VAULT_AUDIT_MALFORMED, "is not a shard log's name");
    expect_export(bad, &x, none, none, none, NULL, gs, "{\"log\":\"hangzhou/gongshu\",\"seq\":1}",
                  pub, VAULT_AUDIT_MALFORMED, "alone");
    expect_export(bad, &x, none, none, none, NULL, gs, "{\"log\":7}", pub,
                  VAULT_AUDIT_MALFORMED, "alone");
    /* a city entry line after a shard section: its seq is wrong there */
    for (k = 0; k < x.n && strncmp(x.l[k], "{\"seq\":1,", 8) != 0; k++)
        ;
    assert_true(k < gs);
    expect_export(bad, &x, none, none, x.n - 1, x.l[k], none, NULL, pub,
                  VAULT_AUDIT_REORDERED, "log hangzhou/xihu: entry 1: reordered");
    lines_free(&x);

    /* xihu rewritten whole with the vault's keys: a valid chain, state
     * and export; only the city log's claim shows it */
    dba_empty("pexport", XIHU, 1);
    assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
    append_to(v, XIHU, 9);
    assert_int_equal(store_commit(v->db), 0);
    unlink(full);
    assert_int_equal(vault_audit_export(v, full, NULL, NULL), 0);
    assert_int_equal(vault_audit_verify_export(&ar, full, pub, NULL, NULL, NULL),
                     VAULT_EINTEGRITY);
    assert_int_equal(ar.failure, VAULT_AUDIT_ROLLED_BACK);
    assert_non_null(strstr(ar.message, "log hangzhou/xihu: entry 5: rolled back"));
    vault_close(v);
}

/* ---- proofs across logs ---- */

/* p checked offline with pub: rc, the message saying says. */
static void proof_checks(const vault_proof *p, const char *pub, int rc, const char *says)
{
    assert_int_equal(vault_proof_check(p, pub, NULL, 0), rc);
    if (says && !strstr(vault_error_last(), says))
        fail_msg("the check does not say \"%s\": %s", says, vault_error_last());
}

/* A copy of p through its JSON (what an outsider holds). */
static void copy_proof(vault_proof *out, const vault_proof *p)
{
    char *json = NULL;

    assert_int_equal(vault_proof_json(&json, p), 0);
    assert_int_equal(vault_proof_parse(out, json, strlen(json)), 0);
    vault_free(json);
}

static void test_proof_across_logs(void **state)
{
    vault *v = NULL;
    vault_proof p, q;
    char *note = NULL, pub[VAULT_PUBKEY_SIZE];

    (void)state;
    memset(&p, 0, sizeof p);
    memset(&q, 0, sizeof q);
    make_vault("pproof");
    assert_int_equal(open_vault(&v, "pproof"), 0);
    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, v), 0);
    append_tx(v, 2, 5, 3);
    /* no claim yet covers them */
    assert_int_equal(vault_audit_checkpoint(&note, v), 0);
    vault_free(note);
    append_tx(v, 1, 3, 0); /* xihu 6..8, claimed by the next checkpoint only */
    assert_int_equal(vault_audit_prove_in(&p, v, XIHU, 7, 0), VAULT_ENOTFOUND);
    assert_non_null(strstr(vault_error_last(), "newer than the claims"));
    assert_int_equal(vault_audit_prove_in(&p, v, "hangzhou/nowhere", 1, 0), VAULT_ENOTFOUND);
    assert_int_equal(vault_audit_prove_in(&p, v, XIHU, 9, 0), VAULT_ENOTFOUND);
    assert_int_equal(vault_audit_prove_in(&p, v, XIHU, 0, 0), VAULT_EINVALID);

    /* entry 2 of xihu: in its tree of 5 (the first claim covering it),
     * that claim in the newest city checkpoint */
    assert_int_equal(vault_audit_prove_in(&p, v, XIHU, 2, 0), 0);
    assert_string_equal(p.log, XIHU);
    assert_int_equal(p.seq, 2);
    assert_int_equal(p.size, 5);
    assert_non_null(p.checkpoint);
    assert_non_null(p.via_entry);
    assert_true(p.via_seq >= 1 && p.via_seq <= p.via_size);
    proof_checks(&p, pub, 0, NULL);
    copy_proof(&q, &p);
    proof_checks(&q, pub, 0, NULL);
    vault_proof_clear(&q);
    vault_proof_clear(&p);

    assert_int_equal(vault_audit_checkpoint(&note, v), 0); /* claims xihu at 8 */
    vault_free(note);
    assert_int_equal(vault_audit_prove_in(&p, v, XIHU, 7, 0), 0);
    assert_int_equal(p.size, 8);
    proof_checks(&p, pub, 0, NULL);
    vault_proof_clear(&p);
    assert_int_equal(vault_audit_prove_in(&p, v, XIHU, 2, 0), 0);
    assert_int_equal(p.size, 5); /* the smallest claim covering it */
    vault_proof_clear(&p);
    assert_int_equal(vault_audit_prove_in(&p, v, XIHU, 2, 8), 0);
    assert_int_equal(p.size, 8);
    proof_checks(&p, pub, 0, NULL);
    {
        /* the shard level of the claim at 5 (a true tree of xihu, but not
         * the one this via entry claims) under the via of the claim at 8 */
        vault_proof p5;

        memset(&p5, 0, sizeof p5);
        assert_int_equal(vault_audit_prove_in(&p5, v, XIHU, 2, 5), 0);
        proof_checks(&p5, pub, 0, NULL);
        assert_true(p5.via_seq != p.via_seq);
        copy_proof(&q, &p);
        q.size = p5.size;
        memcpy(q.leaf, p5.leaf, 32);
        memcpy(q.root, p5.root, 32);
        q.nhashes = p5.nhashes;
        memcpy(q.hashes, p5.hashes, p5.nhashes * 32);
        proof_checks(&q, pub, VAULT_EINTEGRITY, "claim: city log entry");
        vault_proof_clear(&q);
        vault_proof_clear(&p5);
    }
    vault_proof_clear(&p);
    assert_int_equal(vault_audit_prove_in(&p, v, XIHU, 2, 6), VAULT_ENOTFOUND);
    assert_int_equal(vault_audit_prove_in(&p, v, XIHU, 7, 5), VAULT_EINVALID);
    /* the city log's name is the city log's proof */
    assert_int_equal(vault_audit_prove_in(&p, v, "", 1, 0), 0);
    assert_null(p.log);
    proof_checks(&p, pub, 0, NULL);
    vault_proof_clear(&p);

    /* an outsider's copy, edited */
    assert_int_equal(vault_audit_prove_in(&p, v, GONGSHU, 3, 0), 0);
    assert_int_equal(p.size, 3);
    proof_checks(&p, pub, 0, NULL);
    copy_proof(&q, &p);
    q.leaf[0] ^= 1; /* another entry */
    proof_checks(&q, pub, VAULT_EINTEGRITY, "proof:");
    vault_proof_clear(&q);
    copy_proof(&q, &p);
    free(q.log); /* the same hashes said to be another log's */
    q.log = strdup(XIHU);
    proof_checks(&q, pub, VAULT_EINTEGRITY, "claim:");
    vault_proof_clear(&q);
    copy_proof(&q, &p);
    q.root[3] ^= 1; /* another tree */
    q.nhashes ? (void)(q.hashes[0][0] ^= 1) : (void)0;
    proof_checks(&q, pub, VAULT_EINTEGRITY, NULL);
    vault_proof_clear(&q);
    copy_proof(&q, &p);
    q.via_entry[q.via_len - 1] ^= 1; /* the claiming entry edited */
    proof_checks(&q, pub, VAULT_EINTEGRITY, NULL);
    vault_proof_clear(&q);
    copy_proof(&q, &p);
    q.via_seq += 1; /* said to be another entry */
    proof_checks(&q, pub, VAULT_EINTEGRITY, "claim:");
    vault_proof_clear(&q);
    copy_proof(&q, &p);
    q.via_root[0] ^= 1;
    proof_checks(&q, pub, VAULT_EINTEGRITY, "proof:");
    vault_proof_clear(&q);
    copy_proof(&q, &p);
    assert_true(q.via_nhashes > 0);
    q.via_hashes[0][5] ^= 1; /* the city level's path */
    proof_checks(&q, pub, VAULT_EINTEGRITY, "proof:");
    vault_proof_clear(&q);
    copy_proof(&q, &p);
    free(q.checkpoint); /* no note: nothing vouches for the city root */
    q.checkpoint = NULL;
    proof_checks(&q, pub, VAULT_ENOTFOUND, NULL);
    vault_proof_clear(&q);
    vault_proof_clear(&p);

    /* a DBA changes an entry of xihu inside the claimed range: no proof */
    dba_exec("pproof", "ALTER TABLE %s.audit DISABLE TRIGGER audit_no_change;"
                       "UPDATE %s.audit SET entry = set_byte(entry, length(entry) - 1,"
                       " get_byte(entry, length(entry) - 1) # 1)"
                       " WHERE log = 'hangzhou/xihu' AND pos = 4;"
                       "ALTER TABLE %s.audit ENABLE TRIGGER audit_no_change");
    assert_int_equal(vault_audit_prove_in(&p, v, XIHU, 2, 0), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "entry 4"));
    /* and xihu rewritten whole with the vault's keys: its tree is not the
     * claimed one */
    dba_empty("pproof", XIHU, 1);
    assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
    append_to(v, XIHU, 9);
    assert_int_equal(store_commit(v->db), 0);
    assert_int_equal(vault_audit_prove_in(&p, v, XIHU, 2, 0), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "rolled back"));
    /* the city log cut below its newest checkpoint */
    dba_exec("pproof", "ALTER TABLE %s.audit DISABLE TRIGGER audit_no_change;"
                       "DELETE FROM %s.audit WHERE log = '' AND pos > 3;"
                       "ALTER TABLE %s.audit ENABLE TRIGGER audit_no_change");
    assert_int_equal(vault_audit_prove_in(&p, v, GONGSHU, 1, 0), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "truncated"));
    vault_close(v);
}

/* A log_heads entry (made with the vault's own keys) that claims xihu
 * twice, the second head one the log does not have: verification names
 * it, and no proof of xihu is made while a checkpoint covers it (a proof
 * checked against the one line of the two it likes would pass). */
static void test_proof_duplicate_claim(void **state)
{
    vault *v = NULL;
    vault_proof p;
    char *note = NULL, detail[300];
    af_entry e;

    (void)state;
    memset(&p, 0, sizeof p);
    make_vault("pdup");
    assert_int_equal(open_vault(&v, "pdup"), 0);
    append_tx(v, 1, 3, 0);
    assert_int_equal(vault_audit_checkpoint(&note, v), 0);
    vault_free(note);
    assert_int_equal(vault_audit_prove_in(&p, v, XIHU, 2, 0), 0);
    vault_proof_clear(&p);
    snprintf(detail, sizeof detail, "3 %064d hangzhou/xihu\n3 %064d hangzhou/xihu\n", 0, 1);
    assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
    audit_entry_init(&e, v, NULL, AUDIT_LOG_HEADS);
    e.detail = detail;
    assert_int_equal(audit_append(v, &e), 0);
    assert_int_equal(store_commit(v->db), 0);
    expect_finding(v, VAULT_AUDIT_MALFORMED, "a log_heads entry whose claims do not parse");
    assert_int_equal(vault_audit_checkpoint(&note, v), 0);
    vault_free(note);
    assert_int_equal(vault_audit_prove_in(&p, v, XIHU, 2, 0), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "malformed (a log_heads entry"));
    vault_close(v);
}

/* ---- resident bundles across logs ---- */

static const uint8_t RESIDENT[VAULT_ID_BYTES] = {0x5a, 0x5a, 1, 2, 3, 4, 5, 6,
                                                 7, 8, 9, 10, 11, 12, 13, 14};

/* n entries about RESIDENT to log (NULL: the city's), in their own
 * transaction. */
static void append_about(vault *v, const char *log, int n)
{
    af_entry e;
    int i;

    assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
    for (i = 0; i < n; i++) {
        audit_entry_init(&e, v, NULL, "read");
        e.detail = "a test read";
        e.has_record = 1;
        memcpy(e.record_id, RESIDENT, VAULT_ID_BYTES);
        e.log = log;
        assert_int_equal(audit_append(v, &e), 0);
    }
    assert_int_equal(store_commit(v->db), 0);
}

/* A log_heads entry in the city log (the vault's own keys) that claims
 * log at `size` entries with its true root, read from the store. */
typedef struct root_ctx {
    af_merkle m;
    uint64_t want;
} root_ctx;

static int root_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                   size_t head_len)
{
    root_ctx *c = arg;
    uint8_t leaf[32];

    (void)pos;
    (void)head;
    (void)head_len;
    af_leaf_hash(leaf, entry, len);
    af_merkle_push(&c->m, leaf);
    return c->m.size >= c->want;
}

static void claim_by_hand(vault *v, const char *log, uint64_t size)
{
    root_ctx c;
    uint8_t root[32];
    char *text = NULL;
    size_t len = 0, cap = 0;
    af_entry e;

    af_merkle_init(&c.m);
    c.want = size;
    assert_true(TU_SNAP(v->db, store_audit_scan_in(v->db, log, 0, root_fn, &c)) >= 0);
    assert_int_equal(c.m.size, size);
    af_merkle_root(&c.m, root);
    assert_int_equal(af_claim_line(&text, &len, &cap, log, size, root), 0);
    assert_int_equal(store_begin(v->db, STORE_TX_WRITE), 0);
    audit_entry_init(&e, v, NULL, AUDIT_LOG_HEADS);
    e.detail = text;
    assert_int_equal(audit_append(v, &e), 0);
    assert_int_equal(store_commit(v->db), 0);
    free(text);
}

/* The bundle o (its JSON) verified with pub: the class, says. */
static void expect_bundle(json_t *o, const char *pub, int failure, const char *says)
{
    char *text = json_dumps(o, JSON_COMPACT);
    vault_audit_result ar;
    int rc;

    assert_non_null(text);
    memset(&ar, 0, sizeof ar);
    rc = vault_audit_verify_bundle(&ar, text, strlen(text), pub, NULL, 0, 0);
    if (rc != (failure ? VAULT_EINTEGRITY : 0) || ar.failure != failure)
        fail_msg("bundle: rc %d, class %d (want %d): %s", rc, ar.failure, failure, ar.message);
    if (says && !strstr(ar.message, says))
        fail_msg("the bundle's finding does not say \"%s\": %s", says, ar.message);
    free(text);
    json_decref(o);
}

/* The index of the first entry object of log (NULL: the city's). */
static size_t entry_of(json_t *entries, const char *log)
{
    size_t i;
    json_t *x;

    json_array_foreach(entries, i, x) {
        json_t *l = json_object_get(x, "log");

        if (log ? (l && strcmp(json_string_value(l), log) == 0) : !l)
            return i;
    }
    fail_msg("no entry of log %s", log ? log : "(city)");
    return 0;
}

static void test_bundle_across_logs(void **state)
{
    vault *v = NULL;
    char *note = NULL, *text = NULL, pub[VAULT_PUBKEY_SIZE], rid[33];
    vault_audit_result ar;
    json_t *o, *entries, *logs, *x;
    size_t i, xi, gi;

    (void)state;
    make_vault("pbundle");
    assert_int_equal(open_vault(&v, "pbundle"), 0);
    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, v), 0);
    for (i = 0; i < 16; i++)
        snprintf(rid + 2 * i, 3, "%02x", RESIDENT[i]);
    append_about(v, NULL, 2);
    append_about(v, XIHU, 3);
    append_tx(v, 1, 2, 1); /* entries about no record, in every log */
    append_about(v, GONGSHU, 1);
    assert_int_equal(vault_audit_checkpoint(&note, v), 0); /* claims xihu 5, gongshu 2 */
    vault_free(note);
    append_about(v, XIHU, 1); /* after the claim: later */

    assert_int_equal(vault_audit_bundle(&text, v, rid), 0);
    assert_int_equal(vault_audit_verify_bundle(&ar, text, strlen(text), pub, NULL, 0, 0), 0);
    assert_int_equal(ar.failure, VAULT_AUDIT_OK);
    assert_non_null(strstr(ar.message, "ok: 6 entries of record"));
    assert_non_null(strstr(ar.message, "the 2 shard log trees it claims"));
    /* the bundle's own entry (city, after the checkpoint) and xihu's 6th */
    assert_non_null(strstr(ar.message, "2 later entries"));
    o = json_loads(text, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "bundle")), "libvault-bundle/v2");
    {
        const char *st = json_string_value(json_object_get(o, "statement"));

        /* gongshu's 2nd entry and xihu's first three are the resident's */
        if (!strstr(st, " hangzhou/gongshu\nseqs 2\nlog 5 ") ||
            !strstr(st, " hangzhou/xihu\nseqs 1 2 3\nlater 2\n") ||
            strncmp(st, "libvault-bundle/v2\n", 19) != 0)
            fail_msg("the statement: %s", st);
    }
    entries = json_object_get(o, "entries");
    logs = json_object_get(o, "logs");
    assert_int_equal(json_array_size(entries), 6);
    assert_int_equal(json_array_size(logs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(logs, 0), "log")),
                        GONGSHU);
    gi = entry_of(entries, GONGSHU);
    xi = entry_of(entries, XIHU);
    assert_true(entry_of(entries, NULL) == 0 && gi == 2 && xi == 3);
    vault_free(text);

    /* an outsider's copy, edited: every part is held */
    expect_bundle(json_deep_copy(o), pub, VAULT_AUDIT_OK, NULL);
    x = json_deep_copy(o);
    json_array_remove(json_object_get(x, "entries"), xi + 1);
    expect_bundle(x, pub, VAULT_AUDIT_MISSING, "log hangzhou/xihu: entry 2: missing");
    x = json_deep_copy(o);
    json_array_remove(json_object_get(x, "entries"), gi);
    expect_bundle(x, pub, VAULT_AUDIT_MISSING, "log hangzhou/gongshu: entry");
    x = json_deep_copy(o);
    {
        /* a xihu entry moved before gongshu's */
        json_t *e = json_incref(json_array_get(json_object_get(x, "entries"), xi));

        json_array_remove(json_object_get(x, "entries"), xi);
        json_array_insert_new(json_object_get(x, "entries"), gi, e);
    }
    expect_bundle(x, pub, VAULT_AUDIT_REORDERED, "reordered");
    x = json_deep_copy(o);
    json_object_set_new(json_array_get(json_object_get(x, "entries"), xi), "log",
                        json_string(GONGSHU));
    expect_bundle(x, pub, VAULT_AUDIT_REORDERED, NULL); /* gongshu's after xihu's */
    x = json_deep_copy(o);
    json_array_remove(json_object_get(x, "logs"), 1); /* xihu's claim left out */
    expect_bundle(x, pub, VAULT_AUDIT_MODIFIED, "not in a shard log whose tree the bundle proves");
    x = json_deep_copy(o);
    json_object_set_new(json_array_get(json_object_get(x, "logs"), 1), "size", json_integer(6));
    expect_bundle(x, pub, VAULT_AUDIT_MODIFIED, "names another tree");
    x = json_deep_copy(o);
    {
        json_t *via = json_object_get(json_array_get(json_object_get(x, "logs"), 1), "via");

        json_object_set_new(via, "seq", json_integer(json_integer_value(
                                             json_object_get(via, "seq")) - 1));
    }
    expect_bundle(x, pub, VAULT_AUDIT_MODIFIED, "is not that entry");
    x = json_deep_copy(o);
    {
        json_t *via = json_object_get(json_array_get(json_object_get(x, "logs"), 1), "via");
        json_t *hs = json_object_get(via, "hashes");

        assert_true(json_array_size(hs) > 0);
        json_array_set_new(hs, 0, json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    }
    expect_bundle(x, pub, VAULT_AUDIT_MODIFIED, "its claim's inclusion proof");
    x = json_deep_copy(o);
    {
        /* a xihu entry's proof hash changed */
        json_t *hs = json_object_get(json_array_get(json_object_get(x, "entries"), xi), "hashes");

        assert_true(json_array_size(hs) > 0);
        json_array_set_new(hs, 0, json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    }
    expect_bundle(x, pub, VAULT_AUDIT_MODIFIED, "the root the city log claims");
    x = json_deep_copy(o);
    json_object_set_new(x, "bundle", json_string("libvault-bundle/v1"));
    expect_bundle(x, pub, VAULT_AUDIT_MALFORMED, "exactly the keys");
    json_decref(o);

    /* a second checkpoint claims xihu at 6; an older claim of xihu (at 5),
     * with a valid proof in the same signed tree, put in as the claim of
     * the tree the statement names: refused */
    assert_int_equal(vault_audit_checkpoint(&note, v), 0);
    vault_free(note);
    assert_int_equal(vault_audit_bundle(&text, v, rid), 0);
    o = json_loads(text, 0, NULL);
    vault_free(text);
    assert_non_null(o);
    expect_bundle(json_deep_copy(o), pub, VAULT_AUDIT_OK, NULL);
    {
        vault_proof old;
        char *pj = NULL;
        json_t *po, *via;

        memset(&old, 0, sizeof old);
        assert_int_equal(vault_audit_prove_in(&old, v, XIHU, 2, 5), 0);
        assert_int_equal(old.size, 5);
        assert_int_equal(vault_proof_json(&pj, &old), 0);
        po = json_loads(pj, 0, NULL);
        assert_non_null(po);
        via = json_object_get(po, "via");
        x = json_deep_copy(o);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(
                             json_object_get(x, "logs"), 1), "size")), 6);
        json_object_del(via, "size");
        json_object_del(via, "root");
        json_object_set(json_array_get(json_object_get(x, "logs"), 1), "via", via);
        expect_bundle(x, pub, VAULT_AUDIT_MODIFIED, "does not claim the tree the statement names");
        json_decref(po);
        vault_free(pj);
        vault_proof_clear(&old);
    }
    json_decref(o);

    /* claims made apart: a later entry claims gongshu alone (one more of
     * the resident's), a still later one xihu at 2 (true, but smaller than
     * the 6 claimed before it): gongshu's claim is the new entry's, xihu's
     * stays the first claim of 6, and the bundle still holds all of
     * xihu's */
    append_about(v, GONGSHU, 1);
    claim_by_hand(v, GONGSHU, 3);
    assert_int_equal(vault_audit_checkpoint(&note, v), 0); /* and a full claim */
    vault_free(note);
    claim_by_hand(v, XIHU, 2);
    assert_int_equal(vault_audit_checkpoint(&note, v), 0); /* nothing new to claim */
    vault_free(note);
    assert_int_equal(vault_audit_bundle(&text, v, rid), 0);
    assert_int_equal(vault_audit_verify_bundle(&ar, text, strlen(text), pub, NULL, 0, 0), 0);
    o = json_loads(text, 0, NULL);
    vault_free(text);
    assert_non_null(o);
    {
        const char *st = json_string_value(json_object_get(o, "statement"));
        json_t *lg = json_object_get(o, "logs");

        if (!strstr(st, " hangzhou/gongshu\nseqs 2 3\nlog 6 ") ||
            !strstr(st, " hangzhou/xihu\nseqs 1 2 3 6\n"))
            fail_msg("the statement: %s", st);
        /* two claims, two city entries */
        assert_int_equal(json_array_size(lg), 2);
        assert_true(json_integer_value(json_object_get(json_object_get(json_array_get(lg, 0),
                                                                       "via"), "seq")) >
                    json_integer_value(json_object_get(json_object_get(json_array_get(lg, 1),
                                                                       "via"), "seq")));
    }
    json_decref(o);

    /* a DBA takes a xihu entry about the resident out of the report index:
     * the pass finds it */
    dba_exec("pbundle", "ALTER TABLE %s.audit DISABLE TRIGGER audit_no_change;"
                        "UPDATE %s.audit SET record_id = NULL"
                        " WHERE log = 'hangzhou/xihu' AND pos = 2;"
                        "ALTER TABLE %s.audit ENABLE TRIGGER audit_no_change");
    assert_int_equal(vault_audit_bundle(&text, v, rid), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "the report index does not list it"));
    /* and changes a xihu entry inside the claimed tree */
    dba_exec("pbundle", "ALTER TABLE %s.audit DISABLE TRIGGER audit_no_change;"
                        "UPDATE %s.audit SET record_id = '\\x5a5a0102030405060708090a0b0c0d0e'"
                        " WHERE log = 'hangzhou/xihu' AND pos = 2;"
                        "UPDATE %s.audit SET entry = set_byte(entry, length(entry) - 1,"
                        " get_byte(entry, length(entry) - 1) # 1)"
                        " WHERE log = 'hangzhou/xihu' AND pos = 4;"
                        "ALTER TABLE %s.audit ENABLE TRIGGER audit_no_change");
    assert_int_equal(vault_audit_bundle(&text, v, rid), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "log hangzhou/xihu"));
    vault_close(v);
}

/* ---- which calls log where ---- */

/* Entries filed under record id (hex) in log, and in every log. */
static int64_t about_in(const char *schema, const char *id, const char *log)
{
    char sql[400];

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %%s.audit WHERE record_id = '\\x%s'%s%s%s", id,
             log ? " AND log = '" : "", log ? log : "", log ? "'" : "");
    return dba_count(schema, sql);
}

/* The calls that name a record log to its shard's log; the others, and a
 * refusal about a record that does not exist, to the city log. */
static void test_calls_route(void **state)
{
    vault *v = NULL;
    vault_session *s;
    char id[VAULT_ID_HEX_SIZE], other[VAULT_ID_HEX_SIZE], csv[600], *hits = NULL;
    const char *field = "phone", *value = "13900001111";
    size_t n = 0, len = strlen(value);
    vault_result *r = NULL;
    FILE *f;
    int64_t city0;

    (void)state;
    make_vault("proute");
    assert_int_equal(open_vault(&v, "proute"), 0);
    city0 = in_log_of("proute", "");
    s = officer(v, "li");
    assert_non_null(s);
    tu_add_resident(s, id, DISTRICT[1], "王芳", "13800001111");   /* xihu */
    tu_add_resident(s, other, DISTRICT[0], "李娜", "13800002222"); /* gongshu */
    tu_expect_value(s, id, "phone", "13800001111");
    assert_int_equal(vault_record_update(s, id, 1, &field, &value, &len), 0);
    assert_int_equal(vault_record_find(&hits, &n, s, "phone", value, len), 0);
    assert_int_equal(n, 1);
    vault_free(hits);
    /* create, read, update, search: xihu's log, none elsewhere */
    assert_int_equal(about_in("proute", id, SHARD[1]), 4);
    assert_int_equal(about_in("proute", id, NULL), 4);
    assert_int_equal(about_in("proute", other, SHARD[0]), 1);
    assert_int_equal(about_in("proute", other, NULL), 1);
    /* a record that does not exist: its refusal in the city log */
    assert_int_equal(vault_record_get(&r, s, "00112233445566778899aabbccddeeff", &field, 1),
                     VAULT_ENOTFOUND);
    assert_int_equal(about_in("proute", "00112233445566778899aabbccddeeff", ""), 1);
    /* an import: each record's create in its district's log */
    snprintf(csv, sizeof csv, "%s/proute.csv", dir);
    f = fopen(csv, "w");
    assert_non_null(f);
    fprintf(f, "jurisdiction,name,phone\n%s,张伟,13700000001\n%s,刘洋,13700000002\n%s,陈静,"
               "13700000003\n", DISTRICT[1], DISTRICT[2], DISTRICT[2]);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(vault_import_csv(&n, s, csv, NULL, NULL), 0);
    assert_int_equal(n, 3);
    assert_int_equal(dba_count("proute", "SELECT count(*) FROM %s.audit a JOIN %s.records r"
                                         " ON r.id = a.record_id WHERE a.log <> r.shard"), 0);
    assert_int_equal(dba_count("proute", "SELECT count(*) FROM %s.audit"
                                         " WHERE log = 'hangzhou/shangcheng'"), 2);
    /* an erase: in its log too */
    assert_int_equal(vault_record_erase(s, id), 0);
    assert_int_equal(about_in("proute", id, SHARD[1]), 5);
    assert_int_equal(about_in("proute", id, NULL), 5);
    /* a route is one call's: the next call's refusal about the erased
     * record (no such record: never loaded) and a report about the other
     * resident read before it are the city log's */
    assert_int_equal(vault_record_get(&r, s, id, &field, 1), VAULT_ENOTFOUND);
    assert_int_equal(about_in("proute", id, ""), 1);
    tu_expect_value(s, other, "phone", "13800002222");
    {
        char *rep = NULL;

        assert_int_equal(vault_audit_report(&rep, v, VAULT_REPORT_RECORD, other, 0), 0);
        vault_free(rep);
    }
    assert_int_equal(about_in("proute", other, SHARD[0]), 2); /* create, read */
    assert_int_equal(about_in("proute", other, ""), 1);     /* the report */
    {
        /* a shard longer than a log's name (255 bytes): its entries stay
         * in the city log, and the calls work */
        char jur[300], lid[VAULT_ID_HEX_SIZE];

        memcpy(jur, "hangzhou/", 9);
        memset(jur + 9, 'x', 250);
        memcpy(jur + 259, "/g1", 4);
        tu_add_resident(s, lid, jur, "周强", "13800003333");
        tu_expect_value(s, lid, "phone", "13800003333");
        assert_int_equal(about_in("proute", lid, ""), 2);
        assert_int_equal(about_in("proute", lid, NULL), 2);
    }
    /* what names no record stays in the city log */
    assert_true(in_log_of("proute", "") > city0);
    assert_int_equal(dba_count("proute", "SELECT count(*) FROM %s.audit WHERE log <> ''"
                                         " AND record_id IS NULL"), 0);
    vault_session_close(s);
    verify_log(v, "routed");
    vault_close(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard_logs),
        cmocka_unit_test(test_heads_claimed),
        cmocka_unit_test(test_reports_across_logs),
        cmocka_unit_test(test_export_across_logs),
        cmocka_unit_test(test_proof_across_logs),
        cmocka_unit_test(test_proof_duplicate_claim),
        cmocka_unit_test(test_bundle_across_logs),
        cmocka_unit_test(test_calls_route),
    };

    return pgtest_run("test_pg_logs", tests, sizeof tests / sizeof tests[0]);
}

/* audit (in the vault): every access leaves an entry, reads fail closed
 * when their entry can't be written, writes record the ciphertext digest,
 * concurrent appenders keep one linear chain. */
#include "testlog.h"

#include <sys/wait.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "rawdb.h"

#include "audit/audit.h"
#include "crypto.h"
#include "keyring.h"
#include "store/store.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"
#define PASS "audit test passphrase"

typedef struct fixture {
    char *dir;
    char path[512];
    vault *v;
    vault_session *officer, *grid;
    char id[VAULT_ID_HEX_SIZE];
} fixture;

static void sessions(fixture *f)
{
    f->officer = tu_session(f->v, "li", "data_officer", "street_office", STREET, "resident_service");
    f->grid = tu_session(f->v, "wang", "grid_worker", "community_committee", GRID7, "grid_management");
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    vault_secret s = tu_pass_secret(PASS);
    const char *fields[] = {"name", "phone"}, *values[] = {"张三", "13812345678"};
    size_t lens[] = {strlen(values[0]), 11};

    assert_non_null(f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/a.vault", f->dir);
    assert_int_equal(vault_create(&f->v, f->path, POLICY, &s), 0);
    sessions(f);
    assert_int_equal(vault_record_add(f->id, sizeof f->id, f->officer, GRID7, 2, fields, values, lens), 0);
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

typedef struct collected {
    size_t n;
    char actions[64][32];
    int outcomes[64];
    char details[64][256];
    uint8_t ct_hash[32];
    int has_ct_hash;
} collected;

static int collect_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                      size_t head_len)
{
    collected *c = arg;
    af_entry e;
    void *storage = NULL;
    size_t i;

    (void)pos;
    (void)head;
    (void)head_len;
    assert_int_equal(af_entry_decode(&e, &storage, entry, len), 0);
    if (c->n < 64) {
        snprintf(c->actions[c->n], sizeof c->actions[c->n], "%s", e.action);
        c->outcomes[c->n] = e.outcome;
        snprintf(c->details[c->n], sizeof c->details[c->n], "%s", e.detail ? e.detail : "");
    }
    for (i = 0; i < e.nfields; i++)
        if (e.fields[i].has_ct_hash && strcmp(e.fields[i].name, "phone") == 0) {
            memcpy(c->ct_hash, e.fields[i].ct_hash, 32);
            c->has_ct_hash = 1;
        }
    c->n++;
    free(storage);
    return 0;
}

static void collect(collected *c, vault *v)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(TU_SNAP(v->db, store_audit_scan(v->db, 0, collect_fn, c)), 0);
}

static void test_every_access_logged(void **state)
{
    fixture *f = *state;
    collected c;
    vault_result *r = NULL;
    const char *phone = "phone";
    char *hits = NULL;
    size_t n = 0;
    vault_audit_result res;

    assert_int_equal(vault_record_get(&r, f->grid, f->id, &phone, 1), 0); /* masked */
    vault_result_free(r);
    assert_int_equal(vault_record_put(f->grid, f->id, "phone", "13000000000", 11), VAULT_EDENIED);
    assert_int_equal(vault_record_find(&hits, &n, f->officer, "phone", "13812345678", 11), 0);
    vault_free(hits);
    assert_int_equal(vault_record_erase(f->grid, f->id), VAULT_EDENIED);
    collect(&c, f->v);
    assert_int_equal(c.n, 6);
    assert_string_equal(c.actions[0], "vault_create");
    assert_string_equal(c.actions[1], "create");
    assert_string_equal(c.actions[2], "read");
    assert_int_equal(c.outcomes[2], AF_OUTCOME_OK);
    assert_string_equal(c.actions[3], "write");
    assert_int_equal(c.outcomes[3], AF_OUTCOME_DENIED);
    assert_string_equal(c.actions[4], "search");
    assert_string_equal(c.actions[5], "erase");
    assert_int_equal(c.outcomes[5], AF_OUTCOME_DENIED);
    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), 0);
    assert_int_equal(res.failure, VAULT_AUDIT_OK);
    assert_int_equal(res.entries, 6);
}

/* A write records the SHA-256 of exactly the ciphertext it stored. */
static void test_write_digest(void **state)
{
    fixture *f = *state;
    collected c;
    uint8_t rid[16], digest[32];
    record_row row = {0};
    size_t i;
    int found = 0;

    assert_int_equal(vault_record_put(f->officer, f->id, "phone", "13999999999", 11), 0);
    collect(&c, f->v);
    assert_true(c.has_ct_hash);
    assert_int_equal(vault__id_parse(rid, f->id), 0);
    assert_int_equal(TU_SNAP(f->v->db, record_load(&row, VAULT__RX(f->v), rid)), 0);
    for (i = 0; i < row.nfields; i++)
        if (strcmp(row.fields[i].name, "phone") == 0) {
            vc_sha256(digest, row.data + row.fields[i].ct_off, row.fields[i].ct_len);
            found = 1;
        }
    assert_true(found);
    assert_memory_equal(digest, c.ct_hash, 32);
    record_row_free(&row);
}

/* If the entry can't be written the read fails and returns no values.
 * A trigger added through a second connection makes every append fail,
 * as a read-only or full disk would. */
static void test_read_fails_closed(void **state)
{
    fixture *f = *state;
    char key[80];
    sqlite3 *db = NULL;
    vault_result *r = NULL;
    const char *phone = "phone";
    collected before, after;

    collect(&before, f->v);
    assert_int_equal(vault_db_key(key, sizeof key, f->v), 0);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_key(db, key, (int)strlen(key)), SQLITE_OK);
    sodium_memzero(key, sizeof key);
    assert_int_equal(sqlite3_exec(db, "PRAGMA cipher_page_size = 4096", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TRIGGER block BEFORE INSERT ON audit "
                                  "BEGIN SELECT RAISE(ABORT, 'audit is read-only'); END;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_true(vault_record_get(&r, f->officer, f->id, &phone, 1) < 0);
    assert_null(r);
    assert_null(strstr(vault_error_last(), "13812345678"));
    /* writes fail too, and leave nothing behind */
    assert_true(vault_record_put(f->officer, f->id, "phone", "13000000000", 11) < 0);
    assert_int_equal(sqlite3_exec(db, "DROP TRIGGER block", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(vault_record_get(&r, f->officer, f->id, &phone, 1), 0);
    assert_string_equal(vault_result_value(r, 0, NULL), "13812345678");
    vault_result_free(r);
    collect(&after, f->v);
    /* db_key + this read */
    assert_int_equal(after.n, before.n + 2);
}

/* Two processes appending at once: one linear chain, nothing lost. */
static void test_concurrent_appenders(void **state)
{
    fixture *f = *state;
    pid_t pids[2];
    int i, status, reads = 20;
    int64_t count = 0, before = 0;
    vault_audit_result res;

    assert_int_equal(TU_SNAP(f->v->db, store_audit_count(&before, f->v->db)), 0);
    for (i = 0; i < 2; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            vault *v = NULL;
            vault_secret s = tu_pass_secret(PASS);
            vault_subject o = {sizeof(vault_subject), "worker", "data_officer", "street_office", STREET, "resident_service"};
            vault_session *sess = NULL;
            vault_result *r = NULL;
            const char *phone = "phone";
            int k, bad = 0;
            if (vault_open(&v, f->path, &s) != 0 || vault_session_open(&sess, v, &o) != 0)
                _exit(2);
            for (k = 0; k < reads; k++) {
                if (vault_record_get(&r, sess, f->id, &phone, 1) != 0)
                    bad++;
                vault_result_free(r);
                r = NULL;
            }
            vault_session_close(sess);
            vault_close(v);
            _exit(bad ? 1 : 0);
        }
    }
    for (i = 0; i < 2; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(TU_SNAP(f->v->db, store_audit_count(&count, f->v->db)), 0);
    assert_int_equal(count, before + 2 * reads);
    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), 0);
    assert_int_equal(res.entries, (uint64_t)count);
    assert_true(res.checkpoints >= 2); /* each child signed one on close */
}

/* A vault file is one shard: an entry that names a shard's log goes to
 * the one log there is (the file keeps the city log only). */
static void test_file_one_log(void **state)
{
    fixture *f = *state;
    af_entry e;
    int64_t before = 0, after = 0;
    vault_audit_result ar;

    assert_int_equal(store_begin(f->v->db, STORE_TX_SNAPSHOT), 0);
    assert_int_equal(store_audit_count(&before, f->v->db), 0);
    assert_int_equal(store_many_logs(f->v->db), 0);
    store_rollback(f->v->db);
    assert_int_equal(store_begin(f->v->db, STORE_TX_WRITE), 0);
    audit_entry_init(&e, f->v, NULL, "audit_query");
    e.detail = "for a shard's log";
    e.log = "hangzhou/xihu";
    assert_int_equal(audit_append(f->v, &e), 0);
    assert_int_equal(store_commit(f->v->db), 0);
    assert_int_equal(store_begin(f->v->db, STORE_TX_SNAPSHOT), 0);
    assert_int_equal(store_audit_count(&after, f->v->db), 0);
    store_rollback(f->v->db);
    assert_int_equal(after, before + 1);
    assert_int_equal(vault_audit_verify(&ar, f->v, NULL, NULL, NULL), 0);
    assert_int_equal(ar.entries, after);
}

static void test_checkpoint_and_pubkey(void **state)
{
    fixture *f = *state;
    char *note = NULL, pub[256], *exp_path;
    vault_audit_result res;
    size_t n;

    assert_int_equal(vault_audit_checkpoint(&note, f->v), 0);
    assert_non_null(strstr(note, "libvault/"));
    assert_non_null(strstr(note, "\n\n\xe2\x80\x94 "));
    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, f->v), 0);
    assert_int_equal(vault_audit_verify(&res, f->v, note, NULL, NULL), 0);
    n = strlen(f->path) + 16;
    exp_path = malloc(n);
    assert_non_null(exp_path);
    snprintf(exp_path, n, "%s.jsonl", f->path);
    assert_int_equal(vault_audit_export(f->v, exp_path, NULL, NULL), 0);
    assert_int_equal(vault_audit_export(f->v, exp_path, NULL, NULL), VAULT_EEXISTS); /* no clobber */
    assert_int_equal(vault_audit_verify_export(&res, exp_path, pub, note, NULL, NULL), 0);
    assert_int_equal(res.failure, VAULT_AUDIT_OK);
    /* a forged external note: one signature character changed (still
     * canonical base64) */
    note[strlen(note) - 20] = note[strlen(note) - 20] == 'A' ? 'B' : 'A';
    assert_int_equal(vault_audit_verify(&res, f->v, note, NULL, NULL), VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_BAD_SIGNATURE);
    assert_int_equal(vault_audit_verify_export(&res, exp_path, "junk", NULL, NULL, NULL), VAULT_EINVALID);
    vault_free(note);
    free(exp_path);
}

static void test_reports(void **state)
{
    fixture *f = *state;
    vault_result *r = NULL;
    const char *phone = "phone";
    char *out = NULL;

    assert_int_equal(vault_record_get(&r, f->grid, f->id, &phone, 1), 0);
    vault_result_free(r);
    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_RECORD, f->id, 0), 0);
    assert_non_null(strstr(out, "wang (grid_worker/community_committee"));
    assert_non_null(strstr(out, "phone:mask"));
    assert_null(strstr(out, "13812345678"));
    vault_free(out);
    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_USER, "wang", 1), 0);
    assert_non_null(strstr(out, "\"purpose\": \"grid_management\""));
    vault_free(out);
    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_RECORD, "nope", 0), VAULT_EINVALID);
    assert_int_equal(vault_audit_report(&out, f->v, 99, NULL, 0), VAULT_EINVALID);
}

static void test_batch_reads(void **state)
{
    fixture *f = *state;
    char id2[VAULT_ID_HEX_SIZE];
    const char *fields[] = {"phone"}, *values[] = {"13700000001"};
    size_t lens[] = {11};
    const char *ids[3], *bad_ids[2];
    vault_result *out[3];
    int64_t before = 0, after = 0;

    assert_int_equal(vault_record_add(id2, sizeof id2, f->officer, GRID7, 1, fields, values, lens), 0);
    ids[0] = f->id;
    ids[1] = id2;
    ids[2] = f->id;
    assert_int_equal(TU_SNAP(f->v->db, store_audit_count(&before, f->v->db)), 0);
    assert_int_equal(vault_record_get_batch(out, f->grid, ids, 3, fields, 1), 0);
    assert_string_equal(vault_result_value(out[0], 0, NULL), "138****5678");
    assert_string_equal(vault_result_value(out[1], 0, NULL), "137****0001");
    assert_int_equal(vault_result_effect(out[2], 0), VAULT_EFFECT_MASK);
    vault_result_free(out[0]);
    vault_result_free(out[1]);
    vault_result_free(out[2]);
    assert_int_equal(TU_SNAP(f->v->db, store_audit_count(&after, f->v->db)), 0);
    assert_int_equal(after, before + 3); /* one entry per record */
    /* all or nothing: one missing record, no results, no read entries;
     * only the refusal of the unknown id is logged */
    bad_ids[0] = f->id;
    bad_ids[1] = "0123456789abcdef0123456789abcdef";
    assert_int_equal(vault_record_get_batch(out, f->grid, bad_ids, 2, fields, 1), VAULT_ENOTFOUND);
    assert_null(out[0]);
    assert_null(out[1]);
    assert_int_equal(TU_SNAP(f->v->db, store_audit_count(&before, f->v->db)), 0);
    assert_int_equal(before, after + 1);
}

/* The kept tree state (on the newest entry). */
static void tree_blob(uint8_t *blob, size_t cap, size_t *len, vault *v)
{
    int64_t pos = 0;

    assert_int_equal(store_begin(v->db, 0), 0);
    assert_int_equal(TU_SNAP(v->db, store_audit_state_get(&pos, blob, cap, len, v->db)), 0);
    assert_true(pos > 0);
    store_rollback(v->db);
}

/* Replace it, tagged (what someone with the row-MAC key could do). */
static void tree_put(vault *v, const uint8_t *blob, size_t len)
{
    int64_t pos = 0;
    uint8_t *entry = NULL, head[32];
    size_t elen = 0;

    assert_int_equal(store_begin(v->db, 1), 0);
    assert_int_equal(store_audit_last(&pos, &entry, &elen, head, v->db), 0);
    free(entry);
    assert_int_equal(store_audit_state_put(v->db, 0, pos, head, blob, len), 0);
    assert_int_equal(store_commit(v->db), 0);
}

static void verify_ok(vault *v, uint64_t min_checkpoints)
{
    vault_audit_result res;

    assert_int_equal(vault_audit_verify(&res, v, NULL, NULL, NULL), 0);
    assert_int_equal(res.failure, VAULT_AUDIT_OK);
    assert_true(res.checkpoints >= min_checkpoints);
}

/* The Merkle state is stored compactly (8 + 32 bytes per live subtree),
 * the older full form still reads, a damaged one stops appends, and a
 * checkpoint due in the middle of a long transaction signs the right root. */
static void test_tree_state(void **state)
{
    fixture *f = *state;
    uint8_t blob[8 + 64 * 32 + 64], legacy[8 + 64 * 32];
    size_t len = 0, i;
    int64_t count = 0;
    const char *phone = "phone";
    const char **ids;
    vault_result *r = NULL, **out;
    char *note = NULL;

    assert_int_equal(TU_SNAP(f->v->db, store_audit_count(&count, f->v->db)), 0);
    tree_blob(blob, sizeof blob, &len, f->v);
    /* size, live roots, then 'T' and the trust digest (grants, policy) */
    assert_int_equal(len, 8 + 32 * (size_t)__builtin_popcountll((uint64_t)count) + 33);
    assert_int_equal(blob[len - 33], 'T');
    assert_int_equal(blob[0], (uint8_t)count);

    /* the full 64-slot form of the same state (as vaults before storage v2
     * kept it: no trust digest) */
    memset(legacy, 0, sizeof legacy);
    memcpy(legacy, blob, len - 33);
    tree_put(f->v, legacy, sizeof legacy);
    assert_int_equal(vault_record_get(&r, f->officer, f->id, &phone, 1), 0);
    vault_result_free(r);
    tree_blob(blob, sizeof blob, &len, f->v);
    assert_int_equal(len, 8 + 32 * (size_t)__builtin_popcountll((uint64_t)count + 1));
    assert_int_equal(vault_audit_checkpoint(&note, f->v), 0);
    free(note);
    verify_ok(f->v, 1);
    /* (checkpoint and verify appended entries of their own) */
    tree_blob(blob, sizeof blob, &len, f->v);

    /* damaged: a length that fits neither form */
    memcpy(legacy, blob, len);
    tree_put(f->v, legacy, len + 1);
    assert_int_equal(vault_record_get(&r, f->officer, f->id, &phone, 1), VAULT_EINTEGRITY);
    assert_null(r);
    assert_non_null(strstr(vault_error_last(), "tree state"));
    tree_put(f->v, legacy, len);
    assert_int_equal(vault_record_get(&r, f->officer, f->id, &phone, 1), 0);
    vault_result_free(r);

    /* 1 100 entries in one transaction: the checkpoint at 1 000 is signed
     * from the state kept in memory, before it is written back. */
    ids = calloc(1100, sizeof *ids);
    out = calloc(1100, sizeof *out);
    assert_non_null(ids);
    assert_non_null(out);
    for (i = 0; i < 1100; i++)
        ids[i] = f->id;
    assert_int_equal(vault_record_get_batch(out, f->grid, ids, 1100, &phone, 1), 0);
    for (i = 0; i < 1100; i++)
        vault_result_free(out[i]);
    free(ids);
    free(out);
    assert_int_equal(TU_SNAP(f->v->db, store_audit_count(&count, f->v->db)), 0);
    assert_true(count > 1000);
    verify_ok(f->v, 2);
}

/* Report-index helpers: count the entries a scan hands out, and those of
 * a whole-log scan that name a user or a record. */
typedef struct idx_count {
    int64_t n, last;
    int ordered;
    const char *user;
    const uint8_t *record_id;
} idx_count;

static int idx_count_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len,
                        const uint8_t *head, size_t head_len)
{
    idx_count *c = arg;
    af_entry e;
    void *storage = NULL;

    (void)head;
    (void)head_len;
    if (pos <= c->last)
        c->ordered = 0;
    c->last = pos;
    assert_int_equal(af_entry_decode(&e, &storage, entry, len), 0);
    if ((!c->user || (e.user && strcmp(e.user, c->user) == 0)) &&
        (!c->record_id || (e.has_record && memcmp(e.record_id, c->record_id, VAULT_ID_BYTES) == 0)))
        c->n++;
    free(storage);
    return 0;
}

/* More checkpoints fall due in one commit than are signed at once (an
 * import of a city): each is signed at its own size, and the log verifies
 * with every one of them. */
static void test_many_checkpoints_in_one_commit(void **state)
{
    fixture *f = *state;
    const size_t n = 66 * AUDIT_CHECKPOINT_EVERY;
    char path[600], line[128];
    size_t i, count = 0;
    uint64_t last = 0;
    FILE *csv;

    /* One import is one transaction: n records, n entries. */
    snprintf(path, sizeof path, "%s/many.csv", f->dir);
    csv = fopen(path, "w");
    assert_non_null(csv);
    fputs("jurisdiction,name,id_number\n", csv);
    for (i = 0; i < n; i++) {
        snprintf(line, sizeof line, "%s,r%zu,33010219900101%04zu\n", GRID7, i, i % 10000);
        fputs(line, csv);
    }
    assert_int_equal(fclose(csv), 0);
    assert_int_equal(vault_import_csv(&count, f->officer, path, NULL, NULL), 0);
    assert_int_equal(count, n);
    /* A load this large took the bulk path: its blind-index rows were
     * added at the end, and a search finds every record with the value. */
    {
        char *ids = NULL;
        size_t found = 0;
        assert_int_equal(vault_record_find(&ids, &found, f->officer, "id_number",
                                           "330102199001010042", 18), 0);
        assert_int_equal(found, n / 10000 + (42 < n % 10000));
        /* The report indexes hold every entry of the load (the bulk path
         * keeps their keys as they are appended): per record and per user
         * they give what a scan of the whole log finds. */
        {
            idx_count all = {0, 0, 1, "li", NULL}, by = {0, 0, 1, NULL, NULL};
            int64_t indexed_all = 0;

            assert_int_equal(TU_SNAP(f->v->db, store_audit_scan(f->v->db, 0, idx_count_fn, &all)), 0);
            assert_true(all.n >= (int64_t)n);
            assert_int_equal(TU_SNAP(f->v->db, store_audit_scan_user(f->v->db, "li", idx_count_fn, &by)),
                             0);
            assert_int_equal(by.n, all.n);
            assert_true(by.ordered);
            for (i = 0; i < found; i++) {
                idx_count r1 = {0, 0, 1, NULL, NULL}, r2 = {0, 0, 1, NULL, NULL};
                uint8_t rid[VAULT_ID_BYTES];

                assert_int_equal(vault__id_parse(rid, ids + i * VAULT_ID_HEX_SIZE), 0);
                r1.record_id = r2.record_id = rid;
                assert_int_equal(TU_SNAP(f->v->db, store_audit_scan(f->v->db, 0, idx_count_fn, &r1)), 0);
                assert_int_equal(TU_SNAP(f->v->db, store_audit_scan_record(f->v->db, rid, idx_count_fn, &r2)), 0);
                assert_true(r1.n >= 1);
                assert_int_equal(r2.n, r1.n);
                indexed_all += r2.n;
            }
            assert_true(indexed_all >= (int64_t)found);
        }
        vault_free(ids);
    }
    assert_int_equal(TU_SNAP(f->v->db, store_checkpoint_last(&last, f->v->db)), 0);
    assert_true(last >= n);
    verify_ok(f->v, n / AUDIT_CHECKPOINT_EVERY);
}

/* ---- tampering planted through the SQLCipher key ---- */

static sqlite3 *raw_db(fixture *f)
{
    return tu_raw_db(f->v, f->path);
}

static void raw_exec(fixture *f, const char *sql)
{
    sqlite3 *db = raw_db(f);

    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
}

static void reads(fixture *f, int n)
{
    vault_result *r = NULL;
    const char *phone = "phone";

    while (n-- > 0) {
        assert_int_equal(vault_record_get(&r, f->grid, f->id, &phone, 1), 0);
        vault_result_free(r);
        r = NULL;
    }
}

static int leaf_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                   size_t head_len)
{
    uint8_t leaf[32];

    (void)pos;
    (void)head;
    (void)head_len;
    af_leaf_hash(leaf, entry, len);
    af_merkle_push(arg, leaf);
    return 0;
}

/* What a careful attacker with the row-MAC key does after cutting
 * entries: put a kept Merkle state that matches what is left on the new
 * newest entry. */
static void tree_rebuild(vault *v)
{
    af_merkle m;
    uint8_t blob[8 + 64 * 32];
    size_t live;
    int i;

    af_merkle_init(&m);
    assert_int_equal(TU_SNAP(v->db, store_audit_scan(v->db, 0, leaf_fn, &m)), 0);
    live = (size_t)__builtin_popcountll(m.size);
    for (i = 0; i < 8; i++)
        blob[i] = (uint8_t)(m.size >> (8 * i));
    memcpy(blob + 8, m.stack, 32 * live);
    tree_put(v, blob, 8 + 32 * live);
}

/* The size a note claims (its second line). */
static uint64_t note_size(const char *note)
{
    const char *nl = strchr(note, '\n');

    assert_non_null(nl);
    return strtoull(nl + 1, NULL, 10);
}

/* Every external note counts, whatever their order: a log cut between an
 * older and a newer note is truncated even when the older note comes
 * last; a bad note anywhere in the list is reported at its size. */
static void test_several_checkpoints(void **state)
{
    fixture *f = *state;
    char *small = NULL, *big = NULL, *forged, sql[256];
    const char *notes[3];
    vault_audit_result res;
    uint64_t s_small, s_big;

    reads(f, 2);
    assert_int_equal(vault_audit_checkpoint(&small, f->v), 0);
    reads(f, 4);
    assert_int_equal(vault_audit_checkpoint(&big, f->v), 0);
    s_small = note_size(small);
    s_big = note_size(big);
    assert_true(s_big > s_small + 2);
    notes[0] = big;
    notes[1] = small;
    assert_int_equal(vault_audit_verify_notes(&res, f->v, notes, 2, NULL, NULL), 0);
    assert_int_equal(res.failure, VAULT_AUDIT_OK);

    /* a bad note among good ones: bad signature at the size it claims */
    forged = strdup(small);
    assert_non_null(forged);
    forged[strlen(forged) - 20] = forged[strlen(forged) - 20] == 'A' ? 'B' : 'A';
    notes[0] = big;
    notes[1] = forged;
    notes[2] = small;
    assert_int_equal(vault_audit_verify_notes(&res, f->v, notes, 3, NULL, NULL), VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_BAD_SIGNATURE);
    assert_int_equal(res.bad_seq, s_small);
    assert_non_null(strstr(res.message, "external checkpoint 2"));
    /* the same through the one-note call: reported at its size, not at 0 */
    assert_int_equal(vault_audit_verify(&res, f->v, forged, NULL, NULL), VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_BAD_SIGNATURE);
    assert_int_equal(res.bad_seq, s_small);
    free(forged);

    /* bad arguments */
    notes[1] = NULL;
    assert_int_equal(vault_audit_verify_notes(&res, f->v, notes, 2, NULL, NULL), VAULT_EINVALID);
    assert_int_equal(vault_audit_verify_notes(&res, f->v, NULL, 1, NULL, NULL), VAULT_EINVALID);
    assert_int_equal(vault_audit_verify_notes(&res, f->v, notes, VAULT_AUDIT_NOTES_MAX + 1, NULL,
                                              NULL),
                     VAULT_ELIMIT);
    assert_int_equal(vault_audit_notes_max(), VAULT_AUDIT_NOTES_MAX);

    /* Cut the log between the two notes, with the stored checkpoints that
     * would show it: the older note, given last, passes alone, the newer
     * one catches the cut. */
    snprintf(sql, sizeof sql,
             "DELETE FROM audit WHERE pos > %llu; DELETE FROM checkpoints WHERE size > %llu;",
             (unsigned long long)s_small + 1, (unsigned long long)s_small + 1);
    raw_exec(f, sql);
    /* the kept tree state still covers the cut entries */
    assert_int_equal(vault_audit_verify(&res, f->v, small, NULL, NULL), VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_TRUNCATED);
    assert_int_equal(res.bad_seq, s_small + 2);
    assert_non_null(strstr(res.message, "tree state"));
    tree_rebuild(f->v);
    notes[0] = big;
    notes[1] = small;
    /* The tree state rebuilt too (with the row-MAC key): the vault's record
     * of the last checkpoint it signed still shows the deleted ones. */
    assert_int_equal(vault_audit_verify(&res, f->v, small, NULL, NULL), VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_MISSING);
    assert_non_null(strstr(res.message, "checkpoints were deleted"));
    /* The newer note, kept outside, shows the log was put back to before it. */
    assert_int_equal(vault_audit_verify_notes(&res, f->v, notes, 2, NULL, NULL), VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_ROLLED_BACK);
    assert_string_equal(res.failure_name, "rolled back");
    assert_non_null(strstr(res.message, "kept outside the vault"));
    vault_free(small);
    vault_free(big);
}

/* An entry that no longer decodes: malformed at its position in the vault,
 * exported as stored, and malformed at the same seq offline. */
static void test_malformed_entry(void **state)
{
    fixture *f = *state;
    char pub[256], *exp_path, *text;
    size_t n, len = 0;
    vault_audit_result res;

    reads(f, 3);
    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, f->v), 0);
    /* magic "LVA2" -> "LVA9" (no such version) in entry 3 */
    raw_exec(f, "UPDATE audit SET entry = X'4C564139' || substr(entry, 5) WHERE pos = 3;");
    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_MALFORMED);
    assert_string_equal(res.failure_name, "malformed");
    assert_int_equal(res.bad_seq, 3);
    n = strlen(f->path) + 16;
    exp_path = malloc(n);
    assert_non_null(exp_path);
    snprintf(exp_path, n, "%s.jsonl", f->path);
    assert_int_equal(vault_audit_export(f->v, exp_path, NULL, NULL), 0);
    text = (char *)tu_read_file(exp_path, &len);
    assert_non_null(text);
    text = realloc(text, len + 1);
    text[len] = '\0';
    assert_non_null(strstr(text, "{\"seq\":3,\"entry\":\"TFZBOQ"));
    assert_non_null(strstr(text, "\"decoded\":false"));
    free(text);
    assert_int_equal(vault_audit_verify_export(&res, exp_path, pub, NULL, NULL, NULL),
                     VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_MALFORMED);
    assert_int_equal(res.bad_seq, 3);
    free(exp_path);
}

/* Only a note of this vault's origin verifies with its key: a note signed
 * by the same key under another origin (another log's name) does not, in
 * the vault or offline. */
static void test_note_origin(void **state)
{
    fixture *f = *state;
    uint8_t wrapped[256], ad[64], sk[64], root[32] = {0};
    size_t wlen = 0, n = 0, adlen;
    char *note = NULL, pub[256], *exp_path;
    vault_audit_result res;

    assert_int_equal(store_begin(f->v->db, 0), 0);
    assert_int_equal(TU_SNAP(f->v->db, store_meta_get(f->v->db, "audit_sk", wrapped, sizeof wrapped, &wlen)), 0);
    store_rollback(f->v->db);
    memcpy(ad, "libvault/auditkey/v1", 20);
    memcpy(ad + 20, f->v->id, VAULT_ID_BYTES);
    adlen = 20 + VAULT_ID_BYTES;
    assert_int_equal(vc_unwrap(sk, sizeof sk, &n, keyring_wrap_key(f->v->keys), ad, adlen, wrapped,
                               wlen),
                     0);
    assert_int_equal(n, 64);
    /* size 0: the empty tree's root is not what matters; the origin is */
    assert_int_equal(af_checkpoint_sign(&note, "libvault/other-log", 1, root, sk), 0);
    sodium_memzero(sk, sizeof sk);
    assert_int_equal(vault_audit_verify(&res, f->v, note, NULL, NULL), VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_BAD_SIGNATURE);
    assert_int_equal(res.bad_seq, 1);
    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, f->v), 0);
    n = strlen(f->path) + 16;
    exp_path = malloc(n);
    assert_non_null(exp_path);
    snprintf(exp_path, n, "%s.jsonl", f->path);
    assert_int_equal(vault_audit_export(f->v, exp_path, NULL, NULL), 0);
    assert_int_equal(vault_audit_verify_export(&res, exp_path, pub, NULL, NULL, NULL), 0);
    assert_int_equal(vault_audit_verify_export(&res, exp_path, pub, note, NULL, NULL),
                     VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_BAD_SIGNATURE);
    assert_int_equal(res.bad_seq, 1);
    free(note);
    free(exp_path);
}

typedef struct last_entry {
    char action[32], user[64], detail[200];
    int outcome;
    uint64_t n;
} last_entry;

static void last_fn(void *arg, const af_entry *e)
{
    last_entry *l = arg;

    l->n++;
    if (!e)
        return; /* damaged by the test */
    snprintf(l->action, sizeof l->action, "%s", e->action);
    snprintf(l->user, sizeof l->user, "%s", e->user);
    snprintf(l->detail, sizeof l->detail, "%s", e->detail);
    l->outcome = e->outcome;
}

static void last(last_entry *l, vault *v)
{
    memset(l, 0, sizeof *l);
    tu_log_each(v->db, last_fn, l);
}

/* export, checkpoint, pubkey and verify each leave one entry under the
 * actor; verify's records the class and counts and never fails on its
 * own entry; an export includes its own. */
static void test_metadata_logged(void **state)
{
    fixture *f = *state;
    last_entry l;
    uint64_t before;
    char *note = NULL, pub[256], *exp_path, *text;
    size_t n, len = 0;
    vault_audit_result res;

    assert_int_equal(vault_set_actor(f->v, "qian.compliance"), 0);
    last(&l, f->v);
    before = l.n;
    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, f->v), 0);
    last(&l, f->v);
    assert_int_equal(l.n, before + 1);
    assert_string_equal(l.action, "audit_pubkey");
    assert_string_equal(l.user, "qian.compliance");
    assert_int_equal(vault_audit_checkpoint(&note, f->v), 0);
    last(&l, f->v);
    assert_int_equal(l.n, before + 2);
    assert_string_equal(l.action, "audit_checkpoint");
    assert_int_equal(note_size(note), l.n); /* the note covers its own entry */
    assert_int_equal(vault_audit_verify(&res, f->v, note, NULL, NULL), 0);
    assert_int_equal(res.entries, before + 2); /* its own entry comes after */
    last(&l, f->v);
    assert_int_equal(l.n, before + 3);
    assert_string_equal(l.action, "audit_verify");
    assert_int_equal(l.outcome, AF_OUTCOME_OK);
    assert_non_null(strstr(l.detail, "ok; "));
    assert_non_null(strstr(l.detail, " entries"));
    assert_non_null(strstr(l.detail, "(1 external)"));
    /* verifying again, with the previous verify's entry in the log */
    assert_int_equal(vault_audit_verify(&res, f->v, note, NULL, NULL), 0);
    assert_int_equal(res.entries, before + 3);
    n = strlen(f->path) + 16;
    exp_path = malloc(n);
    assert_non_null(exp_path);
    snprintf(exp_path, n, "%s.jsonl", f->path);
    assert_int_equal(vault_audit_export(f->v, exp_path, NULL, NULL), 0);
    last(&l, f->v);
    assert_int_equal(l.n, before + 5);
    assert_string_equal(l.action, "audit_export");
    text = (char *)tu_read_file(exp_path, &len);
    assert_non_null(text);
    text = realloc(text, len + 1);
    text[len] = '\0';
    assert_non_null(strstr(text, "\"action\":\"audit_export\""));
    free(text);
    assert_int_equal(vault_audit_verify_export(&res, exp_path, pub, note, NULL, NULL), 0);
    assert_int_equal(res.entries, before + 5);
    /* a verification that finds damage is logged with its class */
    raw_exec(f, "UPDATE audit SET entry = X'4C564139' || substr(entry, 5) WHERE pos = 2;");
    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), VAULT_EINTEGRITY);
    last(&l, f->v);
    assert_string_equal(l.action, "audit_verify");
    assert_int_equal(l.outcome, AF_OUTCOME_ERROR);
    assert_non_null(strstr(l.detail, "malformed at entry 2"));
    vault_free(note);
    free(exp_path);
}

/* Every actor the log holds is reportable: "os:<login>" admin actors and
 * session users, compared in the normalised form (case folded, NFC). */
static void test_report_actors(void **state)
{
    fixture *f = *state;
    char pub[256], actor[VAULT_NAME_MAX], upper[VAULT_NAME_MAX], *out = NULL, longname[300];
    vault_session *li = NULL;
    vault_result *r = NULL;
    const char *phone = "phone";
    size_t i;

    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, f->v), 0); /* logged as os:<login> */
    vault__default_actor(actor, sizeof actor);
    assert_int_equal(strncmp(actor, "os:", 3), 0);
    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_USER, actor, 0), 0);
    assert_non_null(strstr(out, "audit_pubkey"));
    vault_free(out);
    for (i = 0; actor[i]; i++)
        upper[i] = (char)(actor[i] >= 'a' && actor[i] <= 'z' ? actor[i] - 'a' + 'A' : actor[i]);
    upper[i] = '\0';
    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_USER, upper, 1), 0);
    assert_non_null(strstr(out, "\"action\": \"audit_pubkey\""));
    vault_free(out);
    /* session users, under another spelling */
    reads(f, 1);
    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_USER, "WANG", 0), 0);
    assert_non_null(strstr(out, "  wang (grid_worker/community_committee"));
    vault_free(out);
    li = tu_session(f->v, "李娜", "data_officer", "street_office", STREET, "resident_service");
    assert_int_equal(vault_record_get(&r, li, f->id, &phone, 1), 0);
    vault_result_free(r);
    vault_session_close(li);
    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_USER, "李娜", 0), 0);
    assert_non_null(strstr(out, "李娜 (data_officer"));
    vault_free(out);
    /* a renamed actor, found under either spelling */
    assert_int_equal(vault_set_actor(f->v, "Qian.Compliance"), 0);
    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, f->v), 0);
    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_USER, "QIAN.compliance", 0), 0);
    assert_non_null(strstr(out, "audit_pubkey"));
    vault_free(out);
    /* what no log entry can name */
    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_USER, "", 0), VAULT_EINVALID);
    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_USER, NULL, 0), VAULT_EINVALID);
    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_USER, "wang fang", 0),
                     VAULT_EINVALID);
    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_USER, "wang\n", 0), VAULT_EINVALID);
    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_USER, "wang\xe2\x80\xae", 0),
                     VAULT_EINVALID);
    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_USER, "\xff", 0), VAULT_EINVALID);
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_true(vault_audit_report(&out, f->v, VAULT_REPORT_USER, longname, 0) < 0);
    assert_int_equal(vault_set_actor(f->v, "os: root"), VAULT_EINVALID);
}

/* Free text stored in the log (an entry written before input was checked,
 * or planted) can't forge or hide report lines: control characters and
 * bidi controls are escaped in the text report; JSON escapes them too. */
static void test_report_escapes(void **state)
{
    fixture *f = *state;
    static const char detail[] =
        "reason\n2026-01-01T00:00:00.000000Z  #99  li  read  ok  \x1b[2K\x1b[1A\\ end";
    static const char purpose[] = "visit\xe2\x80\xae" "evil";
    af_entry e;
    char *out = NULL, *p;
    size_t lines = 0;
    json_t *arr, *o;
    json_error_t jerr;

    assert_int_equal(store_begin(f->v->db, 1), 0);
    audit_entry_init(&e, f->v, NULL, "break_glass");
    e.user = "ma\x1b[8m";
    e.role = "doctor\t";
    e.department = "health";
    e.jurisdiction = "hangzhou";
    e.purpose = purpose;
    e.detail = detail;
    e.flags = AF_FLAG_BREAK_GLASS;
    e.has_record = 1;
    assert_int_equal(vault__id_parse(e.record_id, f->id), 0);
    assert_int_equal(audit_append(f->v, &e), 0);
    assert_int_equal(store_commit(f->v->db), 0);

    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_BREAK_GLASS, NULL, 0), 0);
    for (p = out; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1); /* one entry, one line */
    assert_null(strchr(out, '\x1b'));
    assert_null(strchr(out, '\t'));
    assert_null(strstr(out, "\xe2\x80\xae"));
    assert_non_null(strstr(out, "ma\\x1b[8m (doctor\\t/health @ hangzhou)"));
    assert_non_null(strstr(out, "purpose=visit\\u{202E}evil"));
    assert_non_null(strstr(out, "(reason\\n2026-01-01T00:00:00.000000Z  #99"));
    assert_non_null(strstr(out, "\\x1b[2K\\x1b[1A\\\\ end)"));
    assert_non_null(strstr(out, "[BREAK-GLASS]"));
    vault_free(out);

    /* JSON: jansson escapes control characters; the values round-trip */
    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_BREAK_GLASS, NULL, 1), 0);
    assert_null(strchr(out, '\x1b'));
    assert_null(strchr(out, '\t'));
    for (p = out; *p; p++)
        assert_true(*p == '\n' || (unsigned char)*p >= 0x20); /* newlines only between tokens */
    arr = json_loads(out, 0, &jerr);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 1);
    o = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(o, "detail")), detail);
    assert_string_equal(json_string_value(json_object_get(o, "user")), "ma\x1b[8m");
    json_decref(arr);
    vault_free(out);
}

/* A resident's report reads the record index, and still checks each
 * entry's own record id: a row re-filed under another record by someone
 * with the database key is not shown as that record's. */
typedef struct rec_count {
    uint8_t rid[VAULT_ID_BYTES];
    size_t rows, matching;
} rec_count;

static void rec_count_fn(void *arg, const af_entry *e)
{
    rec_count *c = arg;

    assert_non_null(e);
    c->rows++;
    c->matching += e->has_record && memcmp(e->record_id, c->rid, VAULT_ID_BYTES) == 0; /* memcmp ok: not secret */
}

static void test_report_by_record_index(void **state)
{
    fixture *f = *state;
    char other[VAULT_ID_HEX_SIZE], *out = NULL, sql[200];
    const char *fields[] = {"name"}, *values[] = {"李四"}, *phone = "phone";
    size_t lens[] = {strlen(values[0])}, lines = 0;
    vault_result *r = NULL;
    rec_count all, indexed;
    char *p;

    assert_int_equal(vault_record_add(other, sizeof other, f->officer, GRID7, 1, fields, values,
                                      lens), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(vault_record_get(&r, f->grid, f->id, &phone, 1), 0);
        vault_result_free(r);
    }
    assert_int_equal(vault_record_get(&r, f->grid, other, &phone, 1), 0);
    vault_result_free(r);
    memset(&all, 0, sizeof all);
    memset(&indexed, 0, sizeof indexed);
    assert_int_equal(vault__id_parse(all.rid, f->id), 0);
    memcpy(indexed.rid, all.rid, VAULT_ID_BYTES);
    tu_log_each(f->v->db, rec_count_fn, &all);
    tu_log_each_record(f->v->db, indexed.rid, rec_count_fn, &indexed);
    /* exactly the record's entries, no others read */
    assert_int_equal(indexed.matching, all.matching);
    assert_int_equal(indexed.rows, indexed.matching);
    assert_true(all.rows > indexed.rows);
    assert_int_equal(indexed.matching, 4); /* create + three reads */

    /* The other record's read, re-filed under this record in the copy
     * column: read through the index, but not reported as this record's. */
    snprintf(sql, sizeof sql, "UPDATE audit SET record_id = X'%s' WHERE record_id = X'%s';",
             f->id, other);
    raw_exec(f, sql);
    assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_RECORD, f->id, 0), 0);
    for (p = out; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 5); /* and the report itself, which names the record */
    assert_null(strstr(out, other));
    vault_free(out);
}

/* The checkpoint key is pinned in the keys file: a holder of the master
 * key who gives the store a key of their own (both meta rows, valid row
 * MACs) gets a bad signature from verify, and no checkpoint is signed. */
static void test_pinned_key(void **state)
{
    fixture *f = *state;
    vault_secret s = tu_pass_secret(PASS);
    vault_audit_result res;
    char pub[256], other_pub[256], other_path[600], *note = NULL, *text, *at;
    vault *other = NULL;
    json_t *doc;
    json_error_t jerr;
    char keys[600];
    FILE *fp;

    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, f->v), 0);
    /* The caller's own copy matches; another vault's key, or junk, doesn't. */
    assert_int_equal(vault_audit_pin(f->v, pub), 0);
    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), 0);
    snprintf(other_path, sizeof other_path, "%s/other.vault", f->dir);
    assert_int_equal(vault_create(&other, other_path, POLICY, &s), 0);
    assert_int_equal(vault_audit_pubkey(other_pub, sizeof other_pub, other), 0);
    vault_close(other);
    assert_int_equal(vault_audit_pin(f->v, other_pub), VAULT_EINTEGRITY);
    assert_int_equal(vault_audit_pin(f->v, "libvault/x+00000000+AAAA"), VAULT_EINVALID);

    /* The forgery: a fresh key pair in the store, tagged with the real row key. */
    assert_int_equal(store_begin(f->v->db, STORE_TX_WRITE), 0);
    assert_int_equal(audit_keys_create(f->v), 0);
    assert_int_equal(store_commit(f->v->db), 0);
    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_BAD_SIGNATURE);
    assert_non_null(strstr(res.message, "pinned"));
    assert_int_equal(vault_audit_checkpoint(&note, f->v), VAULT_EINTEGRITY);
    assert_null(note);
    assert_int_equal(vault_audit_pubkey(pub, sizeof pub, f->v), VAULT_EINTEGRITY);
    assert_string_equal(pub, "");
    /* Also after reopening: the pin comes from the keys file. */
    vault_session_close(f->officer);
    vault_session_close(f->grid);
    f->officer = f->grid = NULL;
    vault_close(f->v);
    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_BAD_SIGNATURE);
    vault_close(f->v);
    f->v = NULL;

    /* The keys file's anchor changed by hand fails to open (integrity). */
    snprintf(keys, sizeof keys, "%s.keys", f->path);
    doc = json_load_file(keys, 0, &jerr);
    assert_non_null(doc);
    json_object_set_new(json_object_get(doc, "audit"), "key",
                        json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    assert_int_equal(json_dump_file(doc, keys, 0), 0);
    assert_int_equal(vault_open(&f->v, f->path, &s), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "pinned audit key"));
    /* A keys file from before pinning: the store's key is pinned at open,
     * and that is logged. */
    json_object_del(doc, "audit");
    assert_int_equal(json_dump_file(doc, keys, 0), 0);
    json_decref(doc);
    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    fp = fopen(keys, "r");
    assert_non_null(fp);
    text = calloc(1, 65536);
    assert_non_null(text);
    assert_true(fread(text, 1, 65535, fp) > 0);
    fclose(fp);
    at = strstr(text, "\"audit\"");
    assert_non_null(at);
    free(text);
    {
        collected c;
        collect(&c, f->v);
        assert_true(c.n > 0 && c.n <= 64);
        assert_string_equal(c.actions[c.n - 1], "audit_key_pin");
    }
    sessions(f);
}

/* Close the fixture's vault (sessions first). */
static void fixture_close(fixture *f)
{
    vault_session_close(f->officer);
    vault_session_close(f->grid);
    f->officer = f->grid = NULL;
    vault_close(f->v);
    f->v = NULL;
}

/* A byte copy of a file, as cp would make it. */
static void copy_file(const char *dst, const char *src)
{
    size_t len = 0;
    uint8_t *bytes = tu_read_file(src, &len);

    assert_non_null(bytes);
    tu_write_file(dst, bytes, len);
    free(bytes);
}

/* Keep a copy of a vault and its keys file at `copy` (keys: copy.keys),
 * and put it back. */
static void keep_copy(const char *copy, const char *vault_path, const char *keys_path)
{
    char k[600];

    snprintf(k, sizeof k, "%s.keys", copy);
    copy_file(copy, vault_path);
    copy_file(k, keys_path);
}

static void put_back(const char *vault_path, const char *keys_path, const char *copy)
{
    char k[600];

    snprintf(k, sizeof k, "%s.keys", copy);
    copy_file(vault_path, copy);
    copy_file(keys_path, k);
}

/* The keys file's anchor: the size of the last signed checkpoint. */
static long long anchor_size(fixture *f)
{
    char keys[600];
    json_t *doc;
    json_error_t jerr;
    long long n;

    snprintf(keys, sizeof keys, "%s.keys", f->path);
    doc = json_load_file(keys, 0, &jerr);
    assert_non_null(doc);
    n = (long long)json_integer_value(json_object_get(json_object_get(doc, "audit"), "size"));
    json_decref(doc);
    return n;
}

/* The vault is its own first witness: it signs nothing that doesn't
 * extend the last checkpoint it signed, and an older copy of the store
 * put back under a newer keys file is refused as rolled back. */
static void test_self_witness(void **state)
{
    fixture *f = *state;
    vault_secret s = tu_pass_secret(PASS);
    char old[600], cur[600], sql[200], *note = NULL;
    uint8_t *bytes;
    size_t len = 0;
    uint64_t size;

    assert_int_equal(vault_audit_checkpoint(&note, f->v), 0);
    size = note_size(note);
    vault_free(note);
    note = NULL;
    assert_int_equal(anchor_size(f), (long long)size);
    reads(f, 2);
    fixture_close(f); /* close signs what came since */
    assert_true(anchor_size(f) > (long long)size);
    snprintf(old, sizeof old, "%s.old", f->path);
    copy_file(old, f->path);

    /* More accesses and checkpoints; then the old copy is put back. */
    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    sessions(f);
    reads(f, 5);
    fixture_close(f);
    snprintf(cur, sizeof cur, "%s.cur", f->path);
    assert_int_equal(rename(f->path, cur), 0);
    bytes = tu_read_file(old, &len);
    tu_write_file(f->path, bytes, len);
    free(bytes);
    assert_int_equal(vault_open(&f->v, f->path, &s), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "rolled back"));
    assert_null(f->v);
    /* The current copy opens again. */
    assert_int_equal(rename(cur, f->path), 0);
    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    sessions(f);

    /* The record deleted (the database key suffices): refused, not begun afresh. */
    raw_exec(f, "DELETE FROM meta WHERE key = 'audit_signed';");
    assert_int_equal(vault_audit_checkpoint(&note, f->v), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "is missing"));
    assert_null(note);
    fixture_close(f);
    assert_int_equal(vault_open(&f->v, f->path, &s), VAULT_EINTEGRITY);
    (void)sql;
}

/* The keys file's refusal record: its count (0 without one) and class. */
static long long refused_count(fixture *f, char *cls, size_t cap)
{
    char keys[600];
    json_t *doc, *r;
    json_error_t jerr;
    long long n = 0;

    snprintf(keys, sizeof keys, "%s.keys", f->path);
    doc = json_load_file(keys, 0, &jerr);
    assert_non_null(doc);
    r = json_object_get(json_object_get(doc, "audit"), "refused");
    if (cls && cap)
        cls[0] = '\0';
    if (r) {
        n = (long long)json_integer_value(json_object_get(r, "count"));
        if (cls)
            snprintf(cls, cap, "%s", json_string_value(json_object_get(r, "class")));
    }
    json_decref(doc);
    return n;
}

typedef struct refusal_entries {
    int n, outcome;
    char detail[256];
} refusal_entries;

/* The audit_rewrite_refused entries of v's log (of at most 64 entries):
 * how many, and the last one's outcome and detail. */
static void refusal_entries_get(refusal_entries *c, vault *v)
{
    static collected all; /* 20 KiB: off the stack */
    size_t i;

    memset(c, 0, sizeof *c);
    collect(&all, v);
    assert_true(all.n <= 64); /* else entries past 64 would go unseen */
    for (i = 0; i < all.n; i++)
        if (strcmp(all.actions[i], "audit_rewrite_refused") == 0) {
            c->n++;
            c->outcome = all.outcomes[i];
            snprintf(c->detail, sizeof c->detail, "%s", all.details[i]);
        }
}

/* A store put back behind the vault's back is refused at every open and
 * each refusal is counted in the keys file; once the good copy is back,
 * the next open logs one audit_rewrite_refused entry with the count and
 * clears the record; a damaged record stops the open. */
static void test_refusal_logged(void **state)
{
    fixture *f = *state;
    vault_secret s = tu_pass_secret(PASS);
    char old[600], cur[600], keys[600], cls[32], msg1[512];
    uint8_t *bytes, *good_keys, *crash_keys;
    size_t len = 0, klen = 0, crash_len = 0;
    refusal_entries c;
    vault_audit_result res;
    json_t *doc;
    json_error_t jerr;

    reads(f, 2);
    fixture_close(f); /* signs; the anchor moves on */
    snprintf(old, sizeof old, "%s.old", f->path);
    copy_file(old, f->path);
    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    sessions(f);
    reads(f, 3);
    fixture_close(f);
    assert_int_equal(refused_count(f, NULL, 0), 0);

    /* The older copy put back: refused, as before, and counted. */
    snprintf(cur, sizeof cur, "%s.cur", f->path);
    assert_int_equal(rename(f->path, cur), 0);
    bytes = tu_read_file(old, &len);
    tu_write_file(f->path, bytes, len);
    free(bytes);
    assert_int_equal(vault_open(&f->v, f->path, &s), VAULT_EINTEGRITY);
    assert_null(f->v);
    assert_non_null(strstr(vault_error_last(), "rolled back"));
    snprintf(msg1, sizeof msg1, "%s", vault_error_last());
    assert_int_equal(refused_count(f, cls, sizeof cls), 1);
    assert_string_equal(cls, "rolled back");
    assert_int_equal(vault_open(&f->v, f->path, &s), VAULT_EINTEGRITY);
    assert_int_equal(vault_error_code(), VAULT_EINTEGRITY);
    assert_string_equal(vault_error_last(), msg1); /* the same one-line error */
    assert_int_equal(refused_count(f, NULL, 0), 2);
    /* A keys file that can't be rewritten (an unknown member, kept by
     * every rewrite, leaves no room under its 64 KiB limit): the refusal
     * is the same, uncounted. */
    snprintf(keys, sizeof keys, "%s.keys", f->path);
    good_keys = tu_read_file(keys, &klen);
    assert_non_null(good_keys);
    doc = json_load_file(keys, 0, &jerr);
    assert_non_null(doc);
    {
        char *compact = json_dumps(doc, JSON_COMPACT), *pad;
        size_t room = 64 * 1024 - strlen(compact) - sizeof ",\"padding\":\"\"" - 8;

        pad = malloc(room + 1);
        assert_non_null(pad);
        memset(pad, 'x', room);
        pad[room] = '\0';
        json_object_set_new(doc, "padding", json_string(pad));
        free(pad);
        free(compact);
    }
    assert_int_equal(json_dump_file(doc, keys, JSON_COMPACT), 0);
    json_decref(doc);
    assert_int_equal(vault_open(&f->v, f->path, &s), VAULT_EINTEGRITY);
    assert_int_equal(vault_error_code(), VAULT_EINTEGRITY);
    assert_string_equal(vault_error_last(), msg1);
    assert_int_equal(refused_count(f, NULL, 0), 2);
    tu_write_file(keys, good_keys, klen);
    free(good_keys);

    /* The good copy back: one entry with the count, the record cleared. */
    crash_keys = tu_read_file(keys, &crash_len);
    assert_non_null(crash_keys);
    assert_int_equal(rename(cur, f->path), 0);
    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    assert_int_equal(refused_count(f, NULL, 0), 0);
    refusal_entries_get(&c, f->v);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.outcome, AF_OUTCOME_DENIED);
    assert_non_null(strstr(c.detail, "refused 2 times as rolled back"));
    assert_non_null(strstr(c.detail, "first 20"));
    assert_null(strstr(c.detail, f->dir)); /* no paths */
    assert_int_equal(vault_audit_verify(&res, f->v, NULL, NULL, NULL), 0);
    assert_int_equal(res.failure, VAULT_AUDIT_OK);
    fixture_close(f);
    /* A third open logs nothing more. */
    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    refusal_entries_get(&c, f->v);
    assert_int_equal(c.n, 1);
    fixture_close(f);
    /* A crash between the entry's commit and the clear (the keys file as
     * it was before): the refusals are logged again, not lost. */
    tu_write_file(keys, crash_keys, crash_len);
    free(crash_keys);
    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    refusal_entries_get(&c, f->v);
    assert_int_equal(c.n, 2);
    assert_non_null(strstr(c.detail, "refused 2 times"));
    assert_int_equal(refused_count(f, NULL, 0), 0);
    fixture_close(f);

    /* A refusal record changed in the keys file: the open stops. */
    snprintf(keys, sizeof keys, "%s.keys", f->path);
    good_keys = tu_read_file(keys, &klen);
    assert_non_null(good_keys);
    assert_int_equal(rename(f->path, cur), 0);
    bytes = tu_read_file(old, &len);
    tu_write_file(f->path, bytes, len);
    free(bytes);
    assert_int_equal(vault_open(&f->v, f->path, &s), VAULT_EINTEGRITY);
    assert_int_equal(refused_count(f, NULL, 0), 1);
    assert_int_equal(rename(cur, f->path), 0);
    doc = json_load_file(keys, 0, &jerr);
    assert_non_null(doc);
    json_object_set_new(json_object_get(json_object_get(doc, "audit"), "refused"), "count",
                        json_integer(0x7fff));
    assert_int_equal(json_dump_file(doc, keys, 0), 0);
    assert_int_equal(vault_open(&f->v, f->path, &s), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "integrity check"));
    /* ... and removed: the same. */
    json_object_del(json_object_get(doc, "audit"), "refused");
    assert_int_equal(json_dump_file(doc, keys, 0), 0);
    assert_int_equal(vault_open(&f->v, f->path, &s), VAULT_EINTEGRITY);
    json_decref(doc);
    /* The keys file from before that refusal opens with the good store. */
    tu_write_file(keys, good_keys, klen);
    free(good_keys);
    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    sessions(f);
}

/* A holder of the row-MAC key cuts the log back before the last signed
 * checkpoint, rebuilds the tree state and deletes the checkpoints: the
 * next checkpoint (an ordinary close, or the 1000th entry) is refused
 * instead of signed, and so is the next open. */
static void test_rewrite_not_resigned(void **state)
{
    fixture *f = *state;
    vault_secret s = tu_pass_secret(PASS);
    char sql[300], cls[32], *note = NULL;
    uint64_t size;

    reads(f, 10);
    assert_int_equal(vault_audit_checkpoint(&note, f->v), 0);
    size = note_size(note);
    vault_free(note);
    note = NULL;
    snprintf(sql, sizeof sql,
             "DELETE FROM audit WHERE pos > %llu; DELETE FROM checkpoints;",
             (unsigned long long)size - 4);
    raw_exec(f, sql);
    tree_rebuild(f->v);
    assert_int_equal(vault_audit_checkpoint(&note, f->v), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "rolled back"));
    assert_null(note);
    /* Counted outside the store (the transaction that needed the
     * checkpoint held the write lock). */
    assert_int_equal(refused_count(f, cls, sizeof cls), 1);
    assert_string_equal(cls, "rolled back");
    fixture_close(f); /* the close's checkpoint is refused too */
    assert_int_equal(refused_count(f, NULL, 0), 2);
    assert_int_equal(vault_open(&f->v, f->path, &s), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "rolled back"));
    assert_int_equal(refused_count(f, NULL, 0), 3);
}

/* Checkpoints carry their signed time; verification can require a
 * recent one (vault_audit_require_recent). */
static void test_signed_time(void **state)
{
    fixture *f = *state;
    vault_audit_result res, kept;
    char *note = NULL;
    int64_t now = (int64_t)time(NULL);

    assert_int_equal(vault_audit_checkpoint(&note, f->v), 0);
    assert_non_null(strstr(note, "\ntimestamp "));
    assert_int_equal(vault_audit_verify(&res, f->v, note, NULL, NULL), 0);
    assert_int_equal(res.newest_size, note_size(note));
    assert_true(res.newest_time >= now - 5 && res.newest_time <= now + 5);
    kept = res;
    assert_int_equal(vault_audit_require_recent(&res, 3600), 0);
    assert_int_equal(res.failure, VAULT_AUDIT_OK);
    /* an hour and more ago, no signed time, a time in the future */
    res.newest_time = now - 7200;
    assert_int_equal(vault_audit_require_recent(&res, 3600), VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_MISSING);
    assert_string_equal(res.failure_name, "missing");
    assert_non_null(strstr(res.message, "s ago"));
    res = kept;
    res.newest_time = 0;
    assert_int_equal(vault_audit_require_recent(&res, 3600), VAULT_EINTEGRITY);
    assert_non_null(strstr(res.message, "no signed time"));
    res = kept;
    res.newest_time = now + 3600;
    assert_int_equal(vault_audit_require_recent(&res, 60), VAULT_EINTEGRITY);
    assert_non_null(strstr(res.message, "future"));
    /* a failure stays the failure it was; a bad bound is invalid */
    res = kept;
    res.failure = VAULT_AUDIT_MODIFIED;
    assert_int_equal(vault_audit_require_recent(&res, 1), 0);
    assert_int_equal(res.failure, VAULT_AUDIT_MODIFIED);
    assert_int_equal(vault_audit_require_recent(&res, 0), VAULT_EINVALID);
    assert_int_equal(vault_audit_require_recent(NULL, 10), VAULT_EINVALID);
    vault_free(note);
}

/* The number of entries in f's log. */
static uint64_t log_count(fixture *f)
{
    int64_t n = 0;

    assert_int_equal(TU_SNAP(f->v->db, store_audit_count(&n, f->v->db)), 0);
    return (uint64_t)n;
}

/* Incremental verification from a trusted checkpoint
 * (vault_audit_verify_since): only the entries after it, from the tree
 * the vault kept at its size; tampering after it, a note of another log,
 * a kept tree changed or removed, and a log put back to an older copy
 * (keys file too) are each caught. */
static void test_verify_since(void **state)
{
    fixture *f = *state;
    vault_secret s = tu_pass_secret(PASS);
    vault_audit_result res, full;
    char *a = NULL, *b = NULL, *other = NULL, sql[300], cp[520], cpk[520];
    uint64_t cp_extra;
    char path2[512];
    uint64_t size_a, size_b;

    reads(f, 5);
    cp_extra = log_count(f);
    assert_int_equal(vault_audit_checkpoint(&a, f->v), 0);
    size_a = note_size(a);
    cp_extra = size_a - cp_extra; /* entries the call itself adds before it signs */
    reads(f, 30);
    /* intact: only what came after A; the same verdict as a full run */
    assert_int_equal(vault_audit_verify_since(&res, f->v, a, NULL, 0, NULL, NULL), 0);
    assert_int_equal(res.failure, VAULT_AUDIT_OK);
    assert_true(res.entries >= 30 && res.entries < 40);
    assert_int_equal(vault_audit_verify(&full, f->v, NULL, NULL, NULL), 0);
    assert_true(full.entries > res.entries + size_a - 2);
    /* an external note older than A can't be checked this way */
    assert_int_equal(vault_audit_checkpoint(&b, f->v), 0);
    size_b = note_size(b);
    assert_int_equal(vault_audit_verify_since(&res, f->v, b, (const char *const *)&a, 1, NULL,
                                              NULL), VAULT_EINVALID);
    assert_int_equal(vault_audit_verify_since(&res, f->v, a, (const char *const *)&b, 1, NULL,
                                              NULL), 0);
    assert_int_equal(vault_audit_verify_since(&res, f->v, NULL, NULL, 0, NULL, NULL),
                     VAULT_EINVALID);
    /* a note that isn't this vault's: bad signature */
    {
        fixture *o = calloc(1, sizeof *o);
        vault_secret s2 = tu_pass_secret(PASS);

        assert_non_null(o);
        snprintf(path2, sizeof path2, "%s/other.vault", f->dir);
        assert_int_equal(vault_create(&o->v, path2, POLICY, &s2), 0);
        assert_int_equal(vault_audit_checkpoint(&other, o->v), 0);
        vault_close(o->v);
        free(o);
    }
    assert_int_equal(vault_audit_verify_since(&res, f->v, other, NULL, 0, NULL, NULL),
                     VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_BAD_SIGNATURE);
    /* an entry after A changed through the database key: modified */
    snprintf(cp, sizeof cp, "%s/good.vault", f->dir);
    snprintf(cpk, sizeof cpk, "%s.keys", f->path);
    snprintf(sql, sizeof sql, "CREATE TABLE keep AS SELECT pos, head FROM audit;"
             "UPDATE audit SET head = zeroblob(32) WHERE pos = %llu;",
             (unsigned long long)size_a + 3);
    raw_exec(f, sql);
    assert_int_equal(vault_audit_verify_since(&res, f->v, a, NULL, 0, NULL, NULL),
                     VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_MODIFIED);
    assert_int_equal(res.bad_seq, size_a + 3);
    /* the entries before A are not read: damage there is the full run's */
    snprintf(sql, sizeof sql,
             "UPDATE audit SET head = (SELECT head FROM keep WHERE keep.pos = audit.pos)"
             " WHERE pos IN (SELECT pos FROM keep);"
             "UPDATE audit SET head = zeroblob(32) WHERE pos = %llu;",
             (unsigned long long)size_a - 1);
    raw_exec(f, sql);
    assert_int_equal(vault_audit_verify_since(&res, f->v, b, NULL, 0, NULL, NULL), 0);
    assert_int_equal(vault_audit_verify(&full, f->v, NULL, NULL, NULL), VAULT_EINTEGRITY);
    assert_int_equal(full.bad_seq, size_a - 1);
    raw_exec(f, "UPDATE audit SET head = (SELECT head FROM keep WHERE keep.pos = audit.pos)"
             " WHERE pos IN (SELECT pos FROM keep);"
             "DROP TABLE keep;");
    assert_int_equal(vault_audit_verify(&full, f->v, NULL, NULL, NULL), 0);
    /* the kept tree of A changed (its MAC fails), or removed */
    snprintf(sql, sizeof sql,
             "UPDATE meta SET value = value || x'00' WHERE key = 'audit_cp/%llu';",
             (unsigned long long)size_a);
    raw_exec(f, sql);
    assert_int_equal(vault_audit_verify_since(&res, f->v, a, NULL, 0, NULL, NULL),
                     VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_MODIFIED);
    snprintf(sql, sizeof sql, "DELETE FROM meta WHERE key = 'audit_cp/%llu';",
             (unsigned long long)size_a);
    raw_exec(f, sql);
    /* no kept tree (removed, or signed before they were kept): the whole
     * log is verified against the note, and the result says so */
    assert_int_equal(vault_audit_verify_since(&res, f->v, a, NULL, 0, NULL, NULL), 0);
    assert_non_null(strstr(res.message, "verified in full"));
    assert_true(res.entries > size_a);
    /* a copy put back (vault and keys file) from before B: B is larger
     * than that log, so it was rolled back */
    fixture_close(f);
    keep_copy(cp, f->path, cpk); /* vault and keys file, as they are now */
    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    sessions(f);
    reads(f, 3);
    vault_free(b);
    b = NULL;
    assert_int_equal(vault_audit_checkpoint(&b, f->v), 0);
    fixture_close(f);
    put_back(f->path, cpk, cp);
    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    assert_int_equal(vault_audit_verify_since(&res, f->v, b, NULL, 0, NULL, NULL),
                     VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_ROLLED_BACK);
    size_b = note_size(b);
    /* the copy used again: another history past B's size, with no
     * checkpoint of that size (no kept tree: in full, rolled back) ... */
    sessions(f);
    while (log_count(f) + cp_extra < size_b + 2)
        reads(f, 1);
    assert_int_equal(vault_audit_verify_since(&res, f->v, b, NULL, 0, NULL, NULL),
                     VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_ROLLED_BACK);
    /* ... and one with a checkpoint of exactly B's size: its kept tree is
     * another one (rolled back at that size) */
    fixture_close(f);
    put_back(f->path, cpk, cp);
    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    sessions(f);
    while (log_count(f) + cp_extra < size_b)
        reads(f, 1);
    assert_int_equal(log_count(f) + cp_extra, size_b);
    vault_free(other);
    other = NULL;
    assert_int_equal(vault_audit_checkpoint(&other, f->v), 0);
    assert_int_equal(note_size(other), size_b);
    assert_int_equal(vault_audit_verify_since(&res, f->v, b, NULL, 0, NULL, NULL),
                     VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_ROLLED_BACK);
    assert_int_equal(res.bad_seq, size_b);
    assert_non_null(strstr(res.message, "is not the one of the trusted checkpoint"));
    /* a stored checkpoint after the trusted one that fails its row MAC */
    raw_exec(f, "UPDATE checkpoints SET note = note || ' ' WHERE size = (SELECT max(size) FROM "
                "checkpoints);");
    assert_int_equal(vault_audit_verify_since(&res, f->v, a, NULL, 0, NULL, NULL),
                     VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_BAD_SIGNATURE);
    vault_free(a);
    vault_free(b);
    vault_free(other);
}

/* Refusals of officers' calls without a session are entries too. */
static void test_admin_refusals_logged(void **state)
{
    fixture *f = *state;
    char bad[600], *rep = NULL, *w = NULL;
    collected c;

    snprintf(bad, sizeof bad, "%s/bad.yaml", f->dir);
    tu_write_file(bad, "version: 1\nname: [x\n", 20);
    assert_int_equal(vault_policy_apply(&rep, f->v, bad), VAULT_EPOLICY);
    assert_null(rep);
    collect(&c, f->v);
    assert_true(c.n > 0 && c.n <= 64);
    assert_string_equal(c.actions[c.n - 1], "policy_apply");
    assert_int_equal(c.outcomes[c.n - 1], AF_OUTCOME_ERROR);
    assert_int_equal(vault_grant_warnings(&w, f->v, "g-0000000000000000"), VAULT_ENOTFOUND);
    assert_null(w);
    collect(&c, f->v);
    assert_string_equal(c.actions[c.n - 1], "grant_warnings");
    assert_int_equal(c.outcomes[c.n - 1], AF_OUTCOME_ERROR);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_many_checkpoints_in_one_commit, setup, teardown),
        T(test_every_access_logged), T(test_write_digest),         T(test_read_fails_closed),
        T(test_concurrent_appenders), T(test_checkpoint_and_pubkey), T(test_reports),
        T(test_file_one_log),
        T(test_batch_reads), T(test_tree_state), T(test_several_checkpoints),
        T(test_malformed_entry), T(test_note_origin), T(test_metadata_logged),
        T(test_report_actors), T(test_report_escapes), T(test_report_by_record_index),
        T(test_pinned_key), T(test_self_witness), T(test_rewrite_not_resigned),
        T(test_refusal_logged),
        T(test_signed_time), T(test_admin_refusals_logged), T(test_verify_since),
    };

    if (vault_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

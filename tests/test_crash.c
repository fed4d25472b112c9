/* crash safety: child processes import, write and read (audited) one
 * vault and are killed with SIGKILL at random moments, over and over.
 * After every kill the parent checks that
 *   - the vault opens and its audit log verifies;
 *   - every write a child acknowledged (reported on its pipe only after the
 *     call returned 0) is there with its value, and a write in flight at
 *     the kill is there whole or not at all;
 *   - no record is half-written: every record has all the fields it was
 *     created with (vault_record_add and CSV import rows here write
 *     exactly three), an import is all rows or none, and each record has
 *     its blind-index entries;
 *   - no plaintext reached a caller without its audit entry: each
 *     "READ <id>" a reader reported after vault_record_get returned is
 *     matched by a read entry for that record by that user, and each
 *     record created has its create entry.
 * 20 kills normally; VAULT_TEST_EXTENDED=1 runs 200.
 * test_kill_erasing does the same to an eraser: see its comment. */
#include "testutil.h"
#include "testsnap.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include <sqlite3.h>

#include "audit/audit_format.h"
#include "crypto.h"
#include "keyring.h"
#include "reckeys.h"
#include "store/store.h"
#include "vault_int.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"
#define NF 3
#define MAX_CHILDREN 3
#define KILLS_NORMAL 20
#define KILLS_EXTENDED 200
#define SEED_RECORDS 20
#define SAMPLE_OLD 40 /* older records re-checked after each kill */

static const char *const FIELDS[NF] = {"name", "phone", "id_number"};

enum { W_WRITER, W_IMPORTER, W_READER, W__KINDS };

/* What the parent knows about a record: the value of each field, and
 * for a write in flight at the kill, the value it would have written. */
typedef struct rec {
    uint8_t id[VAULT_ID_BYTES];
    char val[NF][64];
    char alt[NF][64]; /* "" when nothing was in flight */
    unsigned iter;    /* iteration that created it */
} rec;

typedef struct child {
    pid_t pid;
    int fd;
    int kind;
    char user[32];
    char *buf;
    size_t len, cap;
} child;

typedef struct ctx {
    char *dir;
    char path[512];
    char keyfile[512];
    rec *recs;
    size_t nrecs, cap;
    int64_t audit_pos; /* audit entries up to here were already checked */
    unsigned iter;
    unsigned seed;
} ctx;

/* ---- values: each record gets a unique number k ---- */

static void values_for(char out[NF][64], uint64_t k)
{
    snprintf(out[0], 64, "居民%llu", (unsigned long long)k);
    snprintf(out[1], 64, "1%010llu", (unsigned long long)k);
    snprintf(out[2], 64, "330102%012llu", (unsigned long long)k);
}

static uint64_t child_base(unsigned iter, int c)
{
    return 1000000ull + ((uint64_t)iter * 8 + (uint64_t)c) * 100000ull;
}

static rec *rec_add(ctx *x, const uint8_t id[VAULT_ID_BYTES], uint64_t k)
{
    rec *r;

    if (x->nrecs == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 256;
        x->recs = realloc(x->recs, x->cap * sizeof *x->recs);
        assert_non_null(x->recs);
    }
    r = &x->recs[x->nrecs++];
    memset(r, 0, sizeof *r);
    memcpy(r->id, id, VAULT_ID_BYTES);
    values_for(r->val, k);
    r->iter = x->iter;
    return r;
}

static rec *rec_find(ctx *x, const uint8_t id[VAULT_ID_BYTES], size_t from)
{
    size_t i;

    for (i = x->nrecs; i-- > from;)
        if (memcmp(x->recs[i].id, id, VAULT_ID_BYTES) == 0)
            return &x->recs[i];
    return NULL;
}

/* ---- children ---- */

static int out_fd = -1;

/* One line per write(): atomic on a pipe (< PIPE_BUF). */
static void say(const char *fmt, ...) VAULT_PRINTF(1, 2);
static void say(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0 && write(out_fd, line, (size_t)n) != n)
        _exit(9);
}

static void die(const char *what, int rc)
{
    say("ER %s: rc %d: %s\n", what, rc, vault_error_last());
    _exit(1);
}

static void child_open(vault **v, vault_session **s, const ctx *x, const char *user)
{
    vault_secret sec = tu_keyfile_secret(x->keyfile);
    vault_subject sub = {sizeof(vault_subject), user, "data_officer", "street_office", STREET, "resident_service"};
    int rc = vault_open(v, x->path, &sec);

    if (rc != 0)
        die("vault_open", rc);
    rc = vault_session_open(s, *v, &sub);
    if (rc != 0)
        die("vault_session_open", rc);
}

static void run_writer(const ctx *x, const char *user, uint64_t base)
{
    vault *v = NULL;
    vault_session *s = NULL;
    char vals[NF][64], hex[VAULT_ID_HEX_SIZE], (*mine)[VAULT_ID_HEX_SIZE];
    const char *values[NF];
    size_t lens[NF], nmine = 0, i;
    uint64_t k = base, u = base;
    unsigned ops = 0;
    int rc;

    mine = calloc(20000, sizeof *mine);
    if (!mine)
        _exit(2);
    child_open(&v, &s, x, user);
    for (;;) {
        if (nmine == 0 || rand() % 10 < 6) {
            values_for(vals, k);
            for (i = 0; i < NF; i++) {
                values[i] = vals[i];
                lens[i] = strlen(vals[i]);
            }
            say("TA %llu\n", (unsigned long long)k);
            rc = vault_record_add(hex, sizeof hex, s, GRID7, NF, FIELDS, values, lens);
            if (rc != 0)
                die("vault_record_add", rc);
            say("AA %llu %s\n", (unsigned long long)k, hex);
            if (nmine < 20000)
                memcpy(mine[nmine++], hex, VAULT_ID_HEX_SIZE);
            k++;
        } else {
            const char *rid = mine[(size_t)rand() % nmine];
            char phone[32];
            snprintf(phone, sizeof phone, "2%010llu", (unsigned long long)u++);
            say("TP %s %s\n", rid, phone);
            rc = vault_record_put(s, rid, "phone", phone, strlen(phone));
            if (rc != 0)
                die("vault_record_put", rc);
            say("AP %s %s\n", rid, phone);
        }
        /* Now and then close and reopen: kills then also land in
         * vault_close (its checkpoint) and in vault_open. */
        if (++ops % 15 == 0) {
            vault_session_close(s);
            vault_close(v);
            child_open(&v, &s, x, user);
        }
    }
}

static void run_importer(const ctx *x, const char *user, uint64_t base, int c)
{
    vault *v = NULL;
    vault_session *s = NULL;
    char path[600], vals[NF][64];
    unsigned imp = 0;
    size_t count = 0, m, r;
    uint64_t k0;
    FILE *f;
    int rc;

    snprintf(path, sizeof path, "%s/import-%u-%d.csv", x->dir, x->iter, c);
    child_open(&v, &s, x, user);
    for (;;) {
        m = 10 + (size_t)(rand() % 50);
        /* Each child owns the values base .. base + 99 999 (child_base):
         * writers use the first half, imports the second, 64 rows apart.
         * A stride of 1 000 let a fast importer's 51st import reach the
         * next child's values, and an interrupted add of that child then
         * "found" the import's record with its id number (a record
         * counted twice). */
        if (imp >= 50000 / 64)
            for (;;)
                pause(); /* its share of values is used up: wait for the kill */
        k0 = base + 50000 + (uint64_t)imp * 64;
        f = fopen(path, "w");
        if (!f)
            die("fopen", -1);
        fprintf(f, "jurisdiction,name,phone,id_number\n");
        for (r = 0; r < m; r++) {
            values_for(vals, k0 + r);
            fprintf(f, "%s,%s,%s,%s\n", GRID7, vals[0], vals[1], vals[2]);
        }
        if (fclose(f) != 0)
            die("fclose", -1);
        say("TI %zu %llu\n", m, (unsigned long long)k0);
        rc = vault_import_csv(&count, s, path, NULL, NULL);
        if (rc != 0)
            die("vault_import_csv", rc);
        say("AI %zu %zu\n", m, count);
        imp++;
    }
}

static void run_reader(const ctx *x, const char *user)
{
    vault *v = NULL;
    vault_session *s = NULL;
    char hex[3][VAULT_ID_HEX_SIZE];
    const char *ids[3];
    vault_result *res[3];
    const rec *want[3];
    size_t n, i, j, len;
    const char *val;
    int rc;

    child_open(&v, &s, x, user);
    for (;;) {
        n = rand() % 4 == 0 ? 3 : 1;
        for (i = 0; i < n; i++) {
            want[i] = &x->recs[(size_t)rand() % x->nrecs];
            vault__id_format(hex[i], want[i]->id);
            ids[i] = hex[i];
        }
        rc = n == 1 ? vault_record_get(&res[0], s, ids[0], FIELDS, NF)
                    : vault_record_get_batch(res, s, ids, n, FIELDS, NF);
        if (rc != 0)
            die("vault_record_get", rc);
        /* The values are in our hands now: report each read, then check. */
        for (i = 0; i < n; i++)
            say("RD %s\n", hex[i]);
        for (i = 0; i < n; i++) {
            for (j = 0; j < NF; j++) {
                val = vault_result_value(res[i], j, &len);
                if (vault_result_effect(res[i], j) != VAULT_EFFECT_ALLOW || !val ||
                    len != strlen(want[i]->val[j]) || memcmp(val, want[i]->val[j], len) != 0) {
                    say("ER read %s field %s: wrong value\n", hex[i], FIELDS[j]);
                    _exit(1);
                }
            }
            vault_result_free(res[i]);
        }
    }
}

static void child_main(const ctx *x, int kind, const char *user, int c, int fd)
{
    out_fd = fd;
    srand(x->seed * 131u + x->iter * 7u + (unsigned)c);
    switch (kind) {
    case W_WRITER:
        run_writer(x, user, child_base(x->iter, c));
        break;
    case W_IMPORTER:
        run_importer(x, user, child_base(x->iter, c), c);
        break;
    default:
        run_reader(x, user);
        break;
    }
    _exit(0);
}

/* ---- parent: run one round and kill it ---- */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drain(child *c)
{
    char tmp[4096];
    ssize_t n;

    for (;;) {
        n = read(c->fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        if (c->len + (size_t)n + 1 > c->cap) {
            c->cap = (c->len + (size_t)n + 1) * 2;
            c->buf = realloc(c->buf, c->cap);
            assert_non_null(c->buf);
        }
        memcpy(c->buf + c->len, tmp, (size_t)n);
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
    }
}

static void run_round(ctx *x, child *kids, int nkids, int delay_ms)
{
    int i, status;
    int64_t deadline = now_ms() + delay_ms;
    struct pollfd pfd[MAX_CHILDREN];

    for (i = 0; i < nkids; i++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        kids[i].pid = fork();
        assert_true(kids[i].pid >= 0);
        if (kids[i].pid == 0) {
            int j;
            close(p[0]);
            for (j = 0; j < i; j++)
                close(kids[j].fd);
            child_main(x, kids[i].kind, kids[i].user, i, p[1]);
        }
        close(p[1]);
        kids[i].fd = p[0];
        assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    }
    /* Read while they run, so a full pipe never stalls a child. */
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        for (i = 0; i < nkids; i++) {
            pfd[i].fd = kids[i].fd;
            pfd[i].events = POLLIN;
        }
        if (poll(pfd, (nfds_t)nkids, (int)left) > 0)
            for (i = 0; i < nkids; i++)
                if (pfd[i].revents)
                    drain(&kids[i]);
    }
    for (i = 0; i < nkids; i++)
        kill(kids[i].pid, SIGKILL);
    for (i = 0; i < nkids; i++) {
        assert_int_equal(waitpid(kids[i].pid, &status, 0), kids[i].pid);
        drain(&kids[i]);
        close(kids[i].fd);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            fail_msg("round %u: child %d (%s) ended on its own (status 0x%x): %s", x->iter, i,
                     kids[i].user, status, kids[i].buf ? kids[i].buf : "");
    }
}

/* ---- parent: checks after the kill ---- */

typedef struct seen_entry {
    char user[32];
    uint8_t id[VAULT_ID_BYTES];
    int read; /* 1 read, 0 create */
} seen_entry;

typedef struct scan_ctx {
    seen_entry *e;
    size_t n, cap;
    int64_t last_pos;
} scan_ctx;

static int scan_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                   size_t head_len)
{
    scan_ctx *c = arg;
    af_entry e;
    void *storage = NULL;
    int is_read, is_create;

    (void)head;
    (void)head_len;
    c->last_pos = pos;
    if (af_entry_decode(&e, &storage, entry, len) != 0)
        return -1;
    is_read = strcmp(e.action, "read") == 0 && e.outcome == AF_OUTCOME_OK;
    is_create = strcmp(e.action, "create") == 0 && e.outcome == AF_OUTCOME_OK;
    if ((is_read || is_create) && e.has_record) {
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 1024;
            c->e = realloc(c->e, c->cap * sizeof *c->e);
        }
        if (c->e) {
            snprintf(c->e[c->n].user, sizeof c->e[c->n].user, "%s", e.user);
            memcpy(c->e[c->n].id, e.record_id, VAULT_ID_BYTES);
            c->e[c->n].read = is_read;
            c->n++;
        }
    }
    free(storage);
    return c->cap && !c->e ? -1 : 0; /* other entries (audit_verify, ...) are skipped */
}

static size_t seen_count(const scan_ctx *c, const char *user, const uint8_t *id, int read)
{
    size_t i, n = 0;

    for (i = 0; i < c->n; i++)
        if (c->e[i].read == read && strcmp(c->e[i].user, user) == 0 &&
            memcmp(c->e[i].id, id, VAULT_ID_BYTES) == 0)
            n++;
    return n;
}


/* The record holds val (or alt, which then becomes the value) in every
 * field. */
static void check_record(vault *v, rec *r, unsigned iter)
{
    size_t j, len = 0;
    char *pt = NULL, hex[VAULT_ID_HEX_SIZE];
    int rc;
    record_ctx rx = vault__record_ctx(v);
    record_row row = {0};

    vault__id_format(hex, r->id);
    rc = TU_SNAP(v->db, record_load(&row, VAULT__RX(v), r->id));
    if (rc != 0)
        fail_msg("round %u: record %s: rc %d (%s)", iter, hex, rc, vault_error_last());
    for (j = 0; j < NF; j++) {
        rc = TU_SNAP(v->db, record_open_secure(&pt, &len, &rx, &row, FIELDS[j]));
        if (rc != 0)
            fail_msg("round %u: record %s field %s: rc %d (%s)", iter, hex, FIELDS[j], rc,
                     vault_error_last());
        if (len == strlen(r->val[j]) && memcmp(pt, r->val[j], len) == 0) {
            r->alt[j][0] = '\0';
        } else if (r->alt[j][0] && len == strlen(r->alt[j]) && memcmp(pt, r->alt[j], len) == 0) {
            snprintf(r->val[j], sizeof r->val[j], "%s", r->alt[j]);
            r->alt[j][0] = '\0';
        } else {
            fail_msg("round %u: record %s field %s holds neither the acknowledged value nor the "
                     "one in flight", iter, hex, FIELDS[j]);
        }
        vc_free(pt);
        pt = NULL;
    }
    record_row_free(&row);
}

static int64_t sql_count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Structural checks straight on the database: no half-written record. */
static void check_tables(ctx *x, vault *v)
{
    sqlite3 *db = NULL;
    char key[80];

    key[0] = 'x';
    key[1] = '\'';
    assert_int_equal(vc_bin2hex(key + 2, sizeof key - 2, keyring_db_key(v->keys), 32), 0);
    key[66] = '\'';
    key[67] = '\0';
    assert_int_equal(sqlite3_open_v2(x->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_key(db, key, 67), SQLITE_OK);
    vc_wipe(key, sizeof key);
    assert_int_equal(sqlite3_exec(db, "PRAGMA cipher_page_size = 4096", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    if (sql_count(db, "SELECT count(*) FROM records") != (int64_t)x->nrecs)
        fail_msg("round %u: %lld records in the vault, %zu known", x->iter,
                 (long long)sql_count(db, "SELECT count(*) FROM records"), x->nrecs);
    /* Each record row holds its fields (check_record opens all three). */
    assert_int_equal(sql_count(db, "SELECT count(*) FROM blind_index"), 2 * (int64_t)x->nrecs);
    sqlite3_close(db);
}

typedef struct pending_import {
    size_t m;
    uint64_t k0;
    int acked;
} pending_import;

/* Register an import's rows (acked: all must be there; in flight: all or
 * none). */
static void settle_import(ctx *x, vault *v, size_t m, uint64_t k0, int acked)
{
    char vals[NF][64];
    uint8_t id[VAULT_ID_BYTES];
    size_t r, found = 0, n;

    for (r = 0; r < m; r++) {
        values_for(vals, k0 + r);
        n = tu_find_by_idno(id, v, vals[2]);
        assert_true(n <= 1);
        if (n == 1) {
            found++;
            check_record(v, rec_add(x, id, k0 + r), x->iter);
        }
    }
    if (acked && found != m)
        fail_msg("round %u: acknowledged import of %zu rows, %zu found", x->iter, m, found);
    if (!acked && found != 0 && found != m)
        fail_msg("round %u: interrupted import left %zu of %zu rows", x->iter, found, m);
}

static void check_round(ctx *x, child *kids, int nkids)
{
    vault *v = NULL;
    vault_secret sec = tu_keyfile_secret(x->keyfile);
    vault_audit_result res;
    scan_ctx sc;
    size_t first_new = x->nrecs, i;
    int c, rc;
    char *line, *save = NULL;

    rc = vault_open(&v, x->path, &sec);
    if (rc != 0)
        fail_msg("round %u: the vault does not open after the kill: %s", x->iter,
                 vault_error_last());
    rc = vault_audit_verify(&res, v, NULL, NULL, NULL);
    if (rc != 0)
        fail_msg("round %u: audit log does not verify: %s", x->iter, res.message);
    memset(&sc, 0, sizeof sc);
    sc.last_pos = x->audit_pos;
    assert_int_equal(TU_SNAP(v->db, store_audit_scan(v->db, x->audit_pos, scan_fn, &sc)), 0);
    for (c = 0; c < nkids; c++) {
        child *k = &kids[c];
        unsigned long long kk = 0;
        char hex[VAULT_ID_HEX_SIZE + 1], val[64];
        uint8_t id[VAULT_ID_BYTES];
        int pending_add = 0;
        unsigned long long pending_k = 0;
        rec *pending_put = NULL;
        char pending_val[64] = "";
        pending_import imp = {0, 0, 1};
        size_t m = 0, cnt = 0, nrd = 0, caprd = 0, a, b, reported;
        uint8_t (*rd)[VAULT_ID_BYTES] = NULL;
        rec *r;

        for (line = k->buf ? strtok_r(k->buf, "\n", &save) : NULL; line;
             line = strtok_r(NULL, "\n", &save)) {
            if (strncmp(line, "ER ", 3) == 0)
                fail_msg("round %u: child %s failed: %s", x->iter, k->user, line + 3);
            if (sscanf(line, "TA %llu", &kk) == 1) {
                pending_add = 1;
                pending_k = kk;
            } else if (sscanf(line, "AA %llu %32s", &kk, hex) == 2) {
                assert_int_equal(vault__id_parse(id, hex), 0);
                rec_add(x, id, kk);
                pending_add = 0;
            } else if (sscanf(line, "TP %32s %63s", hex, val) == 2) {
                assert_int_equal(vault__id_parse(id, hex), 0);
                pending_put = rec_find(x, id, first_new);
                assert_non_null(pending_put);
                snprintf(pending_val, sizeof pending_val, "%s", val);
            } else if (sscanf(line, "AP %32s %63s", hex, val) == 2) {
                assert_int_equal(vault__id_parse(id, hex), 0);
                r = rec_find(x, id, first_new);
                assert_non_null(r);
                snprintf(r->val[1], sizeof r->val[1], "%s", val);
                pending_put = NULL;
            } else if (sscanf(line, "TI %zu %llu", &m, &kk) == 2) {
                imp.m = m;
                imp.k0 = kk;
                imp.acked = 0;
            } else if (sscanf(line, "AI %zu %zu", &m, &cnt) == 2) {
                if (cnt != m)
                    fail_msg("round %u: import of %zu rows reported %zu", x->iter, m, cnt);
                settle_import(x, v, imp.m, imp.k0, 1);
                imp.acked = 1;
            } else if (sscanf(line, "RD %32s", hex) == 1) {
                if (nrd == caprd) {
                    caprd = caprd ? 2 * caprd : 256;
                    rd = realloc(rd, caprd * sizeof *rd);
                    assert_non_null(rd);
                }
                assert_int_equal(vault__id_parse(rd[nrd++], hex), 0);
            } else {
                fail_msg("round %u: child %s: unexpected line '%s'", x->iter, k->user, line);
            }
        }
        /* In flight at the kill: whole or not at all. */
        if (pending_add) {
            char vals[NF][64];
            values_for(vals, pending_k);
            if (tu_find_by_idno(id, v, vals[2]) == 1)
                rec_add(x, id, pending_k);
        }
        if (pending_put)
            snprintf(pending_put->alt[1], sizeof pending_put->alt[1], "%s", pending_val);
        if (!imp.acked)
            settle_import(x, v, imp.m, imp.k0, 0);
        /* No plaintext without its entry: per record, at least as many read
         * entries by this user as reads the child reported. */
        for (a = 0; a < nrd; a++) {
            for (b = 0, reported = 0; b < nrd; b++)
                reported += memcmp(rd[a], rd[b], VAULT_ID_BYTES) == 0;
            if (seen_count(&sc, k->user, rd[a], 1) < reported) {
                vault__id_format(hex, rd[a]);
                fail_msg("round %u: %s got record %s %zu times, but the audit log has %zu read "
                         "entries for it", x->iter, k->user, hex, reported,
                         seen_count(&sc, k->user, rd[a], 1));
            }
        }
        free(rd);
    }
    /* Every record created this round has its create entry. */
    for (i = first_new; i < x->nrecs; i++) {
        size_t n = 0;
        int c2;
        for (c2 = 0; c2 < nkids; c2++)
            n += seen_count(&sc, kids[c2].user, x->recs[i].id, 0);
        if (n != 1) {
            char hex[VAULT_ID_HEX_SIZE];
            vault__id_format(hex, x->recs[i].id);
            fail_msg("round %u: record %s has %zu create entries", x->iter, hex, n);
        }
    }
    /* Values: everything touched this round, and a sample of older ones. */
    for (i = first_new; i < x->nrecs; i++)
        check_record(v, &x->recs[i], x->iter);
    for (i = 0; i < SAMPLE_OLD && first_new > 0; i++)
        check_record(v, &x->recs[(size_t)rand() % first_new], x->iter);
    check_tables(x, v);
    x->audit_pos = sc.last_pos;
    free(sc.e);
    vault_close(v);
}

static void test_kill_at_random(void **state)
{
    ctx x;
    vault *v = NULL;
    vault_session *s = NULL;
    vault_secret sec = VAULT_SECRET_INIT;
    vault_subject sub = {sizeof(vault_subject), "seed", "data_officer", "street_office", STREET, "resident_service"};
    const char *ext = getenv("VAULT_TEST_EXTENDED");
    unsigned kills = ext && *ext && strcmp(ext, "0") != 0 ? KILLS_EXTENDED : KILLS_NORMAL;
    unsigned i;
    int c;
    char vals[NF][64], hex[VAULT_ID_HEX_SIZE];
    const char *values[NF];
    size_t lens[NF], j;
    uint8_t id[VAULT_ID_BYTES];

    (void)state;
    memset(&x, 0, sizeof x);
    x.seed = (unsigned)time(NULL);
    if (getenv("VAULT_TEST_SEED"))
        x.seed = (unsigned)strtoul(getenv("VAULT_TEST_SEED"), NULL, 10);
    printf("# crash: %u kills, seed %u (VAULT_TEST_SEED to repeat)\n", kills, x.seed);
    srand(x.seed);
    x.dir = tu_tmpdir();
    snprintf(x.path, sizeof x.path, "%s/crash.vault", x.dir);
    snprintf(x.keyfile, sizeof x.keyfile, "%s/crash.key", x.dir);
    assert_int_equal(vault_keyfile_generate(x.keyfile), 0);
    sec = tu_keyfile_secret(x.keyfile);
    assert_int_equal(vault_create(&v, x.path, POLICY, &sec), 0);
    assert_int_equal(vault_session_open(&s, v, &sub), 0);
    for (i = 1; i <= SEED_RECORDS; i++) {
        values_for(vals, i);
        for (j = 0; j < NF; j++) {
            values[j] = vals[j];
            lens[j] = strlen(vals[j]);
        }
        assert_int_equal(vault_record_add(hex, sizeof hex, s, GRID7, NF, FIELDS, values, lens), 0);
        assert_int_equal(vault__id_parse(id, hex), 0);
        rec_add(&x, id, i);
    }
    vault_session_close(s);
    assert_int_equal(TU_SNAP(v->db, store_audit_count(&x.audit_pos, v->db)), 0);
    {
        int64_t last = 0;
        uint8_t *e = NULL;
        size_t elen = 0;
        uint8_t head[32];
        assert_int_equal(TU_SNAP(v->db, store_audit_last(&last, &e, &elen, head, v->db)), 0);
        free(e);
        x.audit_pos = last;
    }
    vault_close(v);

    for (i = 0; i < kills; i++) {
        child kids[MAX_CHILDREN];
        int nkids = 1 + rand() % MAX_CHILDREN, delay;
        x.iter = i + 1;
        memset(kids, 0, sizeof kids);
        for (c = 0; c < nkids; c++) {
            /* every kind shows up: the first child cycles through them */
            kids[c].kind = c == 0 ? (int)(i % W__KINDS) : rand() % W__KINDS;
            snprintf(kids[c].user, sizeof kids[c].user, "%c%u-%d",
                     kids[c].kind == W_WRITER ? 'w' : kids[c].kind == W_IMPORTER ? 'i' : 'r',
                     x.iter, c);
        }
        /* Some kills land while the children are still opening the vault. */
        delay = rand() % 4 == 0 ? rand() % 40 : 40 + rand() % 360;
        run_round(&x, kids, nkids, delay);
        check_round(&x, kids, nkids);
        for (c = 0; c < nkids; c++)
            free(kids[c].buf);
    }
    printf("# crash: %u kills survived, %zu records checked\n", kills, x.nrecs);
    free(x.recs);
    tu_rmdir(x.dir);
}

/* ---- erasure under SIGKILL (issue 19: each record whole or erased) ----
 *
 * A child erases the records listed in a file, one call each, reporting
 * "TE id" before and "AE id" after each call returned 0; it is killed at
 * a random moment, over and over.  After each kill: the vault opens and
 * its log verifies; every acknowledged erasure is gone, key and rows;
 * the one in flight is whole or erased; every other record is whole; and
 * a record whose key is gone never reads (it is erased, not half). */
#define ERASE_RECORDS 120
#define ERASE_KILLS 12

static void run_eraser(const ctx *x, const char *list)
{
    vault *v = NULL;
    vault_session *s = NULL;
    char hex[VAULT_ID_HEX_SIZE + 2];
    FILE *f = fopen(list, "r");
    int rc;

    if (!f)
        die("fopen", -1);
    child_open(&v, &s, x, "eraser");
    while (fgets(hex, sizeof hex, f)) {
        hex[strcspn(hex, "\n")] = '\0';
        if (!hex[0])
            continue;
        say("TE %s\n", hex);
        rc = vault_record_erase(s, hex);
        if (rc != 0)
            die("vault_record_erase", rc);
        say("AE %s\n", hex);
    }
    fclose(f);
    for (;;)
        pause(); /* all erased: wait for the kill */
}

/* 1 when record r is whole (every field holds its value), 0 when it is
 * erased (no record, and no key), failing on anything between. */
static int whole_or_erased(vault *v, const rec *r, unsigned round)
{
    record_ctx rx = vault__record_ctx(v);
    record_row row = {0};
    char hex[VAULT_ID_HEX_SIZE], *pt = NULL;
    uint8_t *key = vc_malloc(RECKEY_BYTES);
    size_t j, len = 0;
    int rc, krc, erased = 0;

    assert_non_null(key);
    vault__id_format(hex, r->id);
    assert_int_equal(store_begin(v->db, STORE_TX_SNAPSHOT), 0);
    krc = reckeys_get(key, &erased, v->rk, r->id);
    rc = record_load(&row, &rx, r->id);
    if (rc == VAULT_ENOTFOUND) {
        if (krc != VAULT_ENOTFOUND || !erased)
            fail_msg("round %u: record %s is gone but its key is still there (or no erasure "
                     "is recorded for it)", round, hex);
        rc = 0;
    } else if (rc == 0) {
        if (krc != 0)
            fail_msg("round %u: record %s reads without its key", round, hex);
        for (j = 0; j < NF; j++) {
            if (record_open_secure(&pt, &len, &rx, &row, FIELDS[j]) != 0 ||
                len != strlen(r->val[j]) || memcmp(pt, r->val[j], len) != 0)
                fail_msg("round %u: record %s is half there: field %s (%s)", round, hex,
                         FIELDS[j], vault_error_last());
            vc_free(pt);
            pt = NULL;
        }
        rc = 1;
    } else {
        fail_msg("round %u: record %s: rc %d (%s)", round, hex, rc, vault_error_last());
    }
    store_rollback(v->db);
    record_row_free(&row);
    vc_free(key);
    return rc;
}

static void test_kill_erasing(void **state)
{
    ctx x;
    vault *v = NULL;
    vault_session *s = NULL;
    vault_secret sec = VAULT_SECRET_INIT;
    vault_subject sub = {sizeof(vault_subject), "seed", "data_officer", "street_office", STREET,
                         "resident_service"};
    char vals[NF][64], hex[VAULT_ID_HEX_SIZE], list[600];
    const char *values[NF];
    size_t lens[NF], i, j, erased = 0, inflight_erased = 0;
    uint8_t id[VAULT_ID_BYTES];
    int *gone, round;

    (void)state;
    memset(&x, 0, sizeof x);
    x.seed = (unsigned)time(NULL);
    if (getenv("VAULT_TEST_SEED"))
        x.seed = (unsigned)strtoul(getenv("VAULT_TEST_SEED"), NULL, 10);
    printf("# erase crash: %d kills, seed %u\n", ERASE_KILLS, x.seed);
    srand(x.seed);
    x.dir = tu_tmpdir();
    snprintf(x.path, sizeof x.path, "%s/erase.vault", x.dir);
    snprintf(x.keyfile, sizeof x.keyfile, "%s/erase.key", x.dir);
    snprintf(list, sizeof list, "%s/erase.list", x.dir);
    assert_int_equal(vault_keyfile_generate(x.keyfile), 0);
    sec = tu_keyfile_secret(x.keyfile);
    assert_int_equal(vault_create(&v, x.path, POLICY, &sec), 0);
    assert_int_equal(vault_session_open(&s, v, &sub), 0);
    for (i = 0; i < ERASE_RECORDS; i++) {
        values_for(vals, 1000 + i);
        for (j = 0; j < NF; j++) {
            values[j] = vals[j];
            lens[j] = strlen(vals[j]);
        }
        assert_int_equal(vault_record_add(hex, sizeof hex, s, GRID7, NF, FIELDS, values, lens), 0);
        assert_int_equal(vault__id_parse(id, hex), 0);
        rec_add(&x, id, 1000 + i);
    }
    vault_session_close(s);
    vault_close(v);
    gone = calloc(x.nrecs, sizeof *gone);
    assert_non_null(gone);
    for (round = 1; round <= ERASE_KILLS; round++) {
        child kid;
        FILE *f = fopen(list, "w");
        char *line, *save = NULL;
        size_t inflight = SIZE_MAX;
        vault_audit_result res;

        assert_non_null(f);
        /* the records left, about a quarter of them per round, in random order */
        for (i = 0; i < x.nrecs; i++)
            if (!gone[i] && rand() % 4 == 0) {
                vault__id_format(hex, x.recs[i].id);
                fprintf(f, "%s\n", hex);
            }
        assert_int_equal(fclose(f), 0);
        memset(&kid, 0, sizeof kid);
        kid.kind = W__KINDS; /* the eraser */
        snprintf(kid.user, sizeof kid.user, "eraser");
        x.iter = (unsigned)round;
        {
            int p[2], status;
            int64_t deadline = now_ms() + 20 + rand() % 400;
            struct pollfd pfd;

            assert_int_equal(pipe(p), 0);
            kid.pid = fork();
            assert_true(kid.pid >= 0);
            if (kid.pid == 0) {
                close(p[0]);
                out_fd = p[1];
                run_eraser(&x, list);
                _exit(0);
            }
            close(p[1]);
            kid.fd = p[0];
            assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
            while (now_ms() < deadline) {
                pfd.fd = kid.fd;
                pfd.events = POLLIN;
                if (poll(&pfd, 1, (int)(deadline - now_ms())) > 0)
                    drain(&kid);
            }
            kill(kid.pid, SIGKILL);
            assert_int_equal(waitpid(kid.pid, &status, 0), kid.pid);
            drain(&kid);
            close(kid.fd);
            assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        }
        assert_int_equal(vault_open(&v, x.path, &sec), 0);
        memset(&res, 0, sizeof res);
        if (vault_audit_verify(&res, v, NULL, NULL, NULL) != 0)
            fail_msg("round %d: the log does not verify after the kill: %s", round, res.message);
        for (line = kid.buf ? strtok_r(kid.buf, "\n", &save) : NULL; line;
             line = strtok_r(NULL, "\n", &save)) {
            if (strncmp(line, "ER ", 3) == 0)
                fail_msg("round %d: the eraser failed: %s", round, line + 3);
            assert_true(strlen(line) > 3);
            assert_int_equal(vault__id_parse(id, line + 3), 0);
            for (i = 0; i < x.nrecs && memcmp(x.recs[i].id, id, VAULT_ID_BYTES) != 0; i++)
                ;
            assert_true(i < x.nrecs);
            if (strncmp(line, "TE ", 3) == 0) {
                inflight = i;
            } else {
                assert_int_equal(strncmp(line, "AE ", 3), 0);
                gone[i] = 1;
                erased++;
                inflight = SIZE_MAX;
            }
        }
        for (i = 0; i < x.nrecs; i++) {
            int w = whole_or_erased(v, &x.recs[i], x.iter);

            if (gone[i] && w)
                fail_msg("round %d: an acknowledged erasure is still there", round);
            if (!gone[i] && i != inflight && !w)
                fail_msg("round %d: a record nobody erased is gone", round);
            if (i == inflight && !w) {
                gone[i] = 1; /* the erasure in flight happened: it is erased */
                inflight_erased++;
            }
        }
        vault_close(v);
        v = NULL;
        free(kid.buf);
    }
    printf("# erase crash: %zu erasures acknowledged, %zu in flight found erased, %d kills\n",
           erased, inflight_erased, ERASE_KILLS);
    assert_true(erased > 0);
    free(gone);
    free(x.recs);
    tu_rmdir(x.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_at_random),
        cmocka_unit_test(test_kill_erasing),
    };

    if (vault_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

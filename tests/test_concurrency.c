/* concurrency: several processes, each with several threads (two sharing
 * one handle, one with its own), read, write, search, export, grant and
 * revoke, apply the policy, add keyslots, checkpoint and verify one vault
 * at once, while the parent verifies the log over and over.  Afterwards
 * the audit chain is linear and complete: its entry count equals what the
 * operations that returned must have appended, sequence numbers run 1..N
 * in storage order, and vault_audit_verify passes.
 * VAULT_TEST_EXTENDED=1 runs five times as many operations. */
#include "testutil.h"
#include "testsnap.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "audit/audit_format.h"
#include "store/store.h"
#include "vault_int.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"
#define NPROC 3
#define NTHREAD 3
#define OPS_NORMAL 30
#define OPS_EXTENDED 150
#define SEEDS 12

static const char *const FIELDS[3] = {"name", "phone", "id_number"};

typedef struct shared {
    char dir[256];
    char path[512];
    char keyfile[512];
    char seed_ids[SEEDS][VAULT_ID_HEX_SIZE];
    char seed_phone[SEEDS][16];
    unsigned ops;
} shared;

typedef struct worker {
    const shared *sh;
    vault *v;          /* the handle this thread uses */
    int proc, thread;
    unsigned seed;
    uint64_t entries;  /* audit entries the successful calls appended */
    uint64_t calls;
    char error[512];   /* first unexpected failure */
} worker;

#define FAIL(w, ...)                                                        \
    do {                                                                    \
        if (!(w)->error[0])                                                 \
            snprintf((w)->error, sizeof (w)->error, __VA_ARGS__);           \
        goto out;                                                           \
    } while (0)

#define CALL(w, expr)                                                       \
    do {                                                                    \
        int call_rc_ = (expr);                                              \
        if (call_rc_ != 0)                                                  \
            FAIL(w, "%s: rc %d: %s", #expr, call_rc_, vault_error_last());  \
    } while (0)

static void *work(void *arg)
{
    worker *w = arg;
    const shared *sh = w->sh;
    char user[32], grid_user[32], id[VAULT_ID_HEX_SIZE], mine[64][VAULT_ID_HEX_SIZE];
    char gid[VAULT_NAME_MAX], grants[32][VAULT_NAME_MAX], vals[3][48], *text = NULL;
    size_t nmine = 0, ngrants = 0, n = 0, lens[3], j;
    const char *values[3];
    vault_session *off = NULL, *grid = NULL, *req = NULL;
    vault_result *res[3] = {NULL, NULL, NULL};
    vault_audit_result ar;
    unsigned i;
    int rc, pending = 0;

    snprintf(user, sizeof user, "p%dt%d", w->proc, w->thread);
    snprintf(grid_user, sizeof grid_user, "grid-p%dt%d", w->proc, w->thread);
    {
        vault_subject o = {sizeof(vault_subject), user, "data_officer", "street_office", STREET, "resident_service"};
        vault_subject g = {sizeof(vault_subject), grid_user, "grid_worker", "community_committee", GRID7,
                           "grid_management"};
        vault_subject r = {sizeof(vault_subject), user, "data_officer", "street_office", STREET, "resident_request"};
        CALL(w, vault_session_open(&off, w->v, &o));
        CALL(w, vault_session_open(&grid, w->v, &g));
        CALL(w, vault_session_open(&req, w->v, &r));
    }
    for (i = 0; i < sh->ops; i++) {
        unsigned op = (unsigned)rand_r(&w->seed) % 100;
        const char *seed = sh->seed_ids[(unsigned)rand_r(&w->seed) % SEEDS];

        w->calls++;
        if (op < 20 || nmine == 0) { /* create with three fields */
            unsigned long long k = ((unsigned long long)w->proc * 10 + (unsigned long long)w->thread) *
                                       100000ull + i;
            snprintf(vals[0], sizeof vals[0], "居民%llu", k);
            snprintf(vals[1], sizeof vals[1], "1%010llu", k);
            snprintf(vals[2], sizeof vals[2], "330102%012llu", k);
            for (j = 0; j < 3; j++) {
                values[j] = vals[j];
                lens[j] = strlen(vals[j]);
            }
            CALL(w, vault_record_add(id, sizeof id, off, GRID7, 3, FIELDS, values, lens));
            if (nmine < 64)
                memcpy(mine[nmine++], id, sizeof id);
            w->entries += 1;
        } else if (op < 32) { /* update one of ours */
            snprintf(vals[1], sizeof vals[1], "2%010u", i);
            CALL(w, vault_record_put(off, mine[(unsigned)rand_r(&w->seed) % nmine], "phone",
                                     vals[1], strlen(vals[1])));
            w->entries += 1;
        } else if (op < 50) { /* audited read */
            CALL(w, vault_record_get(&res[0], off, seed, FIELDS, 3));
            if (vault_result_effect(res[0], 0) != VAULT_EFFECT_ALLOW)
                FAIL(w, "officer read not allowed");
            vault_result_free(res[0]);
            res[0] = NULL;
            w->entries += 1;
        } else if (op < 56) { /* batched read: one entry per record */
            const char *ids[3] = {seed, sh->seed_ids[0], mine[0]};
            CALL(w, vault_record_get_batch(res, off, ids, 3, FIELDS, 3));
            for (j = 0; j < 3; j++) {
                vault_result_free(res[j]);
                res[j] = NULL;
            }
            w->entries += 3;
        } else if (op < 62) { /* a grid worker's masked read */
            CALL(w, vault_record_get(&res[0], grid, seed, FIELDS, 3));
            if (vault_result_effect(res[0], 1) != VAULT_EFFECT_MASK)
                FAIL(w, "grid worker's phone not masked");
            vault_result_free(res[0]);
            res[0] = NULL;
            w->entries += 1;
        } else if (op < 66) { /* refused write: logged as a denial */
            rc = vault_record_put(grid, seed, "phone", "13000000000", 11);
            if (rc != VAULT_EDENIED)
                FAIL(w, "grid worker write: rc %d, wanted VAULT_EDENIED (%s)", rc,
                     vault_error_last());
            w->entries += 1;
        } else if (op < 72) { /* search: one entry per record revealed, one if none */
            CALL(w, vault_record_find(&text, &n, off, "phone",
                                      sh->seed_phone[(unsigned)rand_r(&w->seed) % SEEDS], 11));
            if (n != 1)
                FAIL(w, "search found %zu records, wanted 1", n);
            vault_free(text);
            text = NULL;
            w->entries += n ? n : 1;
        } else if (op < 76) { /* a resident's copy */
            CALL(w, vault_record_export(&text, req, seed));
            vault_free(text);
            text = NULL;
            w->entries += 1;
        } else if (op < 84) { /* grant */
            const char *field = "name";
            vault_grant_spec g = tu_grant_spec(&field, 1, "community_committee", NULL, 3600,
                                               "concurrency test");
            g.user = grid_user;
            g.records = &seed;
            g.nrecords = 1;
            CALL(w, vault_grant_issue(gid, sizeof gid, &pending, off, &g));
            if (pending)
                FAIL(w, "grant unexpectedly pending");
            if (ngrants < 32)
                memcpy(grants[ngrants++], gid, sizeof gid);
            w->entries += 1;
        } else if (op < 88 && ngrants > 0) { /* revoke */
            CALL(w, vault_grant_revoke(off, grants[--ngrants], "done"));
            w->entries += 1;
        } else if (op < 94) { /* verify while others append: logged after its scan */
            CALL(w, vault_audit_verify(&ar, w->v, NULL, NULL, NULL));
            w->entries += 1;
        } else if (op < 97) { /* checkpoint: a signed note, logged */
            CALL(w, vault_audit_checkpoint(&text, w->v));
            vault_free(text);
            text = NULL;
            w->entries += 1;
        } else if (op < 98) { /* re-apply the same policy: every handle reloads */
            CALL(w, vault_policy_apply(&text, w->v, POLICY));
            vault_free(text);
            text = NULL;
            w->entries += 1;
        } else { /* report: logged as an access itself */
            CALL(w, vault_audit_report(&text, w->v, VAULT_REPORT_USER, user, 0));
            vault_free(text);
            text = NULL;
            w->entries += 1;
        }
    }
out:
    vault_free(text);
    for (j = 0; j < 3; j++)
        vault_result_free(res[j]);
    vault_session_close(off);
    vault_session_close(grid);
    vault_session_close(req);
    return NULL;
}

/* One process: threads 0 and 1 share a handle, thread 2 has its own; the
 * last thread also adds a keyslot.  Writes "OK <entries> <calls>" or
 * "ER <message>" to fd. */
static void process_main(const shared *sh, int proc, int fd)
{
    vault *shared_v = NULL, *own_v = NULL;
    vault_secret sec = tu_keyfile_secret(sh->keyfile);
    worker w[NTHREAD];
    pthread_t th[NTHREAD];
    char line[700], kf[600];
    uint64_t entries = 0, calls = 0;
    int t, rc, slot = -1;

    memset(w, 0, sizeof w);
    if ((rc = vault_open(&shared_v, sh->path, &sec)) != 0 ||
        (rc = vault_open(&own_v, sh->path, &sec)) != 0) {
        snprintf(line, sizeof line, "ER process %d: vault_open: %s\n", proc, vault_error_last());
        goto report;
    }
    for (t = 0; t < NTHREAD; t++) {
        w[t].sh = sh;
        w[t].v = t < 2 ? shared_v : own_v;
        w[t].proc = proc;
        w[t].thread = t;
        w[t].seed = (unsigned)time(NULL) ^ (unsigned)(proc * 7919 + t * 104729);
        if (pthread_create(&th[t], NULL, work, &w[t]) != 0) {
            snprintf(line, sizeof line, "ER process %d: pthread_create\n", proc);
            goto report;
        }
    }
    /* A keyslot change while the threads run (sidecar rewrite under the
     * database write lock); one entry. */
    snprintf(kf, sizeof kf, "%s/extra-%d.key", sh->dir, proc);
    if ((rc = vault_keyfile_generate(kf)) != 0) {
        snprintf(line, sizeof line, "ER process %d: keyfile: %s\n", proc, vault_error_last());
        goto report;
    }
    {
        vault_secret extra = tu_keyfile_secret(kf);
        if ((rc = vault_keyslot_add(&slot, own_v, &extra, "concurrency")) != 0) {
            snprintf(line, sizeof line, "ER process %d: keyslot_add: %s\n", proc,
                     vault_error_last());
            goto report;
        }
        entries += 1;
    }
    for (t = 0; t < NTHREAD; t++)
        pthread_join(th[t], NULL);
    for (t = 0; t < NTHREAD; t++) {
        if (w[t].error[0]) {
            snprintf(line, sizeof line, "ER process %d thread %d: %s\n", proc, t, w[t].error);
            goto report;
        }
        entries += w[t].entries;
        calls += w[t].calls;
    }
    snprintf(line, sizeof line, "OK %llu %llu\n", (unsigned long long)entries,
             (unsigned long long)calls);
report:
    if (write(fd, line, strlen(line)) < 0)
        _exit(3);
    vault_close(shared_v);
    vault_close(own_v);
    _exit(line[0] == 'O' ? 0 : 1);
}

typedef struct linear_ctx {
    uint64_t next;
    int bad;
} linear_ctx;

static int linear_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                     size_t head_len)
{
    linear_ctx *c = arg;
    uint64_t seq = 0;

    (void)pos;
    (void)head;
    (void)head_len;
    if (af_entry_check(&seq, entry, len) != 0 || seq != c->next)
        c->bad = 1;
    c->next++;
    return c->bad;
}

static void test_many_processes_and_threads(void **state)
{
    shared sh;
    vault *v = NULL;
    vault_session *s = NULL;
    vault_subject o = {sizeof(vault_subject), "seed", "data_officer", "street_office", STREET, "resident_service"};
    vault_secret sec = VAULT_SECRET_INIT;
    vault_audit_result ar;
    const char *ext = getenv("VAULT_TEST_EXTENDED");
    char *dir, buf[NPROC][800];
    int pfd[NPROC], p, status, running, verifies = 0;
    pid_t pids[NPROC];
    int64_t before = 0, after = 0;
    uint64_t expected = 0, calls = 0;
    linear_ctx lc = {1, 0};
    size_t i;

    (void)state;
    memset(&sh, 0, sizeof sh);
    sh.ops = ext && *ext && strcmp(ext, "0") != 0 ? OPS_EXTENDED : OPS_NORMAL;
    dir = tu_tmpdir();
    snprintf(sh.dir, sizeof sh.dir, "%s", dir);
    snprintf(sh.path, sizeof sh.path, "%s/conc.vault", dir);
    snprintf(sh.keyfile, sizeof sh.keyfile, "%s/conc.key", dir);
    assert_int_equal(vault_keyfile_generate(sh.keyfile), 0);
    sec = tu_keyfile_secret(sh.keyfile);
    assert_int_equal(vault_create(&v, sh.path, POLICY, &sec), 0);
    assert_int_equal(vault_session_open(&s, v, &o), 0);
    for (i = 0; i < SEEDS; i++) {
        char name[32], idno[32];
        const char *values[3];
        size_t lens[3];
        snprintf(name, sizeof name, "种子%zu", i);
        snprintf(sh.seed_phone[i], sizeof sh.seed_phone[i], "139%08zu", i);
        snprintf(idno, sizeof idno, "3301021990%08zu", i);
        values[0] = name;
        values[1] = sh.seed_phone[i];
        values[2] = idno;
        lens[0] = strlen(name);
        lens[1] = 11;
        lens[2] = strlen(idno);
        assert_int_equal(vault_record_add(sh.seed_ids[i], sizeof sh.seed_ids[i], s, GRID7, 3,
                                          FIELDS, values, lens), 0);
    }
    vault_session_close(s);
    assert_int_equal(TU_SNAP(v->db, store_audit_count(&before, v->db)), 0);
    vault_close(v);
    v = NULL;

    for (p = 0; p < NPROC; p++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            close(fds[0]);
            process_main(&sh, p, fds[1]);
        }
        close(fds[1]);
        pfd[p] = fds[0];
    }
    /* The parent verifies while they work: every snapshot is a valid log. */
    assert_int_equal(vault_open(&v, sh.path, &sec), 0);
    do {
        if (vault_audit_verify(&ar, v, NULL, NULL, NULL) != 0)
            fail_msg("verify during the run: %s", ar.message);
        verifies++;
        running = 0;
        for (p = 0; p < NPROC; p++)
            if (pids[p] > 0) {
                pid_t r = waitpid(pids[p], &status, WNOHANG);
                if (r == 0) {
                    running++;
                    continue;
                }
                assert_int_equal(r, pids[p]);
                pids[p] = 0;
                memset(buf[p], 0, sizeof buf[p]);
                if (read(pfd[p], buf[p], sizeof buf[p] - 1) <= 0)
                    fail_msg("process %d said nothing (status 0x%x)", p, status);
                close(pfd[p]);
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                    fail_msg("%s", buf[p]);
                {
                    unsigned long long e = 0, c = 0;
                    assert_int_equal(sscanf(buf[p], "OK %llu %llu", &e, &c), 2);
                    expected += e;
                    calls += c;
                }
            }
    } while (running > 0);
    vault_close(v);
    v = NULL;

    /* Afterwards, from a fresh handle: complete, linear, intact. */
    assert_int_equal(vault_open(&v, sh.path, &sec), 0);
    assert_int_equal(TU_SNAP(v->db, store_audit_count(&after, v->db)), 0);
    expected += (uint64_t)verifies; /* the parent's verifies are logged too */
    if ((uint64_t)(after - before) != expected)
        fail_msg("%lld entries appended, the successful calls account for %llu",
                 (long long)(after - before), (unsigned long long)expected);
    assert_int_equal(TU_SNAP(v->db, store_audit_scan(v->db, 0, linear_fn, &lc)), 0);
    assert_int_equal(lc.bad, 0);
    assert_int_equal(lc.next - 1, (uint64_t)after);
    assert_int_equal(vault_audit_verify(&ar, v, NULL, NULL, NULL), 0);
    assert_int_equal(ar.entries, (uint64_t)after);
    assert_true(ar.checkpoints > 0);
    /* every extra key file opens the vault */
    for (p = 0; p < NPROC; p++) {
        char kf[600];
        vault *v2 = NULL;
        vault_secret extra = tu_keyfile_secret(kf);
        snprintf(kf, sizeof kf, "%s/extra-%d.key", sh.dir, p);
        assert_int_equal(vault_open(&v2, sh.path, &extra), 0);
        vault_close(v2);
    }
    printf("# concurrency: %llu calls by %d processes x %d threads, %llu entries, %d verifies "
           "meanwhile\n", (unsigned long long)calls, NPROC, NTHREAD, (unsigned long long)expected,
           verifies);
    vault_close(v);
    tu_rmdir(dir);
}

/* ---- decisions use the state current at commit ---- */

typedef struct waiter {
    vault_session *s;
    const char *id;
    int started;
    int rc, effect;
    char grant[VAULT_NAME_MAX];
} waiter;

static void *read_religion(void *arg)
{
    waiter *w = arg;
    vault_result *r = NULL;
    const char *fl = "religion";

    __atomic_store_n(&w->started, 1, __ATOMIC_SEQ_CST);
    w->rc = vault_record_get(&r, w->s, w->id, &fl, 1);
    if (w->rc == 0) {
        w->effect = vault_result_effect(r, 0);
        snprintf(w->grant, sizeof w->grant, "%s", vault_result_reason(r, 0)->grant);
    }
    vault_result_free(r);
    return NULL;
}

/* What vault_grant_revoke writes (libvault/grants.c): the state, and the
 * meta counter that tells other connections to rebuild their grants. */
static void revoke_in_open_tx(vault *v, const char *gid)
{
    uint8_t b[8] = {0};
    size_t n = 0, i;
    uint64_t ver = 0;

    assert_int_equal(store_grant_set_state(v->db, gid, "revoked", NULL, NULL, "li", "test", time(NULL)),
                     0);
    assert_int_equal(TU_SNAP(v->db, store_meta_get(v->db, "grants_version", b, sizeof b, &n)), 0);
    for (i = 0; i < n; i++)
        ver |= (uint64_t)b[i] << (8 * i);
    ver++;
    for (i = 0; i < 8; i++)
        b[i] = (uint8_t)(ver >> (8 * i));
    assert_int_equal(store_meta_put(v->db, "grants_version", b, sizeof b), 0);
}

/* Handle B's read has passed its entry (its cache still holds the grant)
 * and waits for the write lock, which handle A holds while it revokes the
 * grant.  When B gets the lock the grant is gone: the read must not be
 * decided by it (issue 13: 4 of 8 such reads returned `allow by grant`). */
static void test_revoke_while_a_read_waits(void **state)
{
    char *dir = tu_tmpdir(), path[512], keyfile[512], id[VAULT_ID_HEX_SIZE], gid[VAULT_NAME_MAX];
    vault *a = NULL, *b = NULL;
    vault_session *off, *zhao;
    vault_secret sec = VAULT_SECRET_INIT;
    const char *fl = "religion", *val = "佛教", *gfields[] = {"religion"};
    size_t len = strlen(val);
    vault_grant_spec spec = VAULT_GRANT_SPEC_INIT;
    int pending = 0;
    waiter w;
    pthread_t t;

    (void)state;
    snprintf(path, sizeof path, "%s/r.vault", dir);
    snprintf(keyfile, sizeof keyfile, "%s/r.key", dir);
    assert_int_equal(vault_keyfile_generate(keyfile), 0);
    sec = tu_keyfile_secret(keyfile);
    assert_int_equal(vault_create(&a, path, POLICY, &sec), 0);
    off = tu_session(a, "li", "data_officer", "street_office", STREET, "resident_service");
    assert_int_equal(vault_record_add(id, sizeof id, off, GRID7, 1, &fl, &val, &len), 0);
    spec = tu_grant_spec(gfields, 1, "street_office", STREET, 86400, "casework");
    spec.user = "zhao";
    spec.role = "street_officer";
    assert_int_equal(vault_grant_issue(gid, sizeof gid, &pending, off, &spec), 0);
    assert_int_equal(pending, 0);

    assert_int_equal(vault_open(&b, path, &sec), 0);
    zhao = tu_session(b, "zhao", "street_officer", "street_office", STREET, "resident_service");
    memset(&w, 0, sizeof w);
    w.s = zhao;
    w.id = id;
    read_religion(&w);
    assert_int_equal(w.rc, 0);
    assert_int_equal(w.effect, VAULT_EFFECT_ALLOW);
    assert_string_equal(w.grant, gid);

    assert_int_equal(store_begin(a->db, 1), 0);
    memset(&w, 0, sizeof w);
    w.s = zhao;
    w.id = id;
    assert_int_equal(pthread_create(&t, NULL, read_religion, &w), 0);
    while (!__atomic_load_n(&w.started, __ATOMIC_SEQ_CST))
        usleep(1000);
    /* B has read in its snapshot and waits for the lock to seal; once A
     * commits, B's snapshot is stale, its seal fails and it reads again. */
    usleep(300 * 1000);
    revoke_in_open_tx(a, gid);
    assert_int_equal(store_commit(a->db), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.rc, 0);
    assert_string_equal(w.grant, "");
    assert_int_equal(w.effect, VAULT_EFFECT_MASK); /* street-read-sensitive-masked */

    vault_session_close(zhao);
    vault_session_close(off);
    vault_close(b);
    vault_close(a);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revoke_while_a_read_waits),
        cmocka_unit_test(test_many_processes_and_threads),
    };

    if (vault_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

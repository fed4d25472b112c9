/* pg_concurrency: many processes and threads on one PostgreSQL vault
 * (issue 17, "Tests with a real PostgreSQL"), on the server VAULT_PG_URI
 * names (ctest runs it in a throwaway cluster, tests/pg/pg_cluster.sh;
 * without VAULT_PG_URI it fails rather than pass).  Helpers, and how the
 * checks extend to phase 2's per-shard chains: tests/pg/pgtest.h.
 *
 *  - test_processes_and_threads: 8 processes x 4 threads, each thread with
 *    its own handle (thread 0 the process's vault_open, the others
 *    vault_reopen of it, as vaultd's workers), add, update and read records
 *    in 3 districts.  Every call that returned VAULT_OK is written to the
 *    thread's log file; afterwards every acknowledged record is there with
 *    its values, nothing that failed (VAULT_EBUSY: allowed and counted) is,
 *    and the audit log is linear and complete: positions 1..N, each entry's
 *    sequence number its position, N = the entries the acknowledged calls
 *    account for, and vault_audit_verify passes.
 *  - test_rotation_with_writers: a rotation of grade personal SIGKILLed
 *    after its first batch, resumed (in batches of 4 records), and a
 *    second one by vault_key_rotate, while 4 writer processes add and
 *    update personal fields; afterwards no field is under a retired
 *    version, the retired key rows are gone, every value reads back and
 *    the log verifies.
 *  - test_lock_timeout: another connection holds the write lock past the
 *    10 s lock_timeout: VAULT_EBUSY, nothing written, nothing logged.
 * The crash tests (SIGKILL, pg_terminate_backend): tests/pg/test_pg_crash.c. */
#include "pgtest.h"

#include <pthread.h>

#include "rotate.h"

#define NPROC 8
#define NTHREAD 4
#define OPS_PER_THREAD 12
#define ROT_WRITERS 4
#define ROT_SEEDS 40

/* ---- test 1: 8 processes x 4 threads ---- */

typedef struct worker {
    const char *schema;
    vault *v;
    int proc, thread;
    unsigned seed;
    int failed;
} worker;

typedef struct mine {
    char id[VAULT_ID_HEX_SIZE];
    uint64_t k;
    char phone[64];
} mine;


static void *thread_main(void *arg)
{
    worker *w = arg;
    char name[64], vals[NF][64], hex[VAULT_ID_HEX_SIZE], phone[64];
    const char *values[NF];
    size_t lens[NF], nmine = 0, j, len;
    mine my[OPS_PER_THREAD];
    vault_session *s;
    vault_result *res = NULL;
    unsigned i;
    int fd, rc, o;

    snprintf(name, sizeof name, "%s-p%d-t%d", w->schema, w->proc, w->thread);
    fd = log_open(name);
    s = officer(w->v, name);
    if (!s) {
        say(fd, "ER session: %s\n", vault_error_last());
        w->failed = 1;
        goto out;
    }
    for (i = 0; i < OPS_PER_THREAD; i++) {
        unsigned op = (unsigned)rand_r(&w->seed) % 100;
        uint64_t k = 1000000ull * (uint64_t)(w->proc + 1) + 100000ull * (uint64_t)w->thread + i;
        mine *m = nmine ? &my[(unsigned)rand_r(&w->seed) % nmine] : NULL;

        if (op < 50 || !m) {
            int d = (int)((unsigned)rand_r(&w->seed) % NDISTRICT);
            values_for(vals, k);
            for (j = 0; j < NF; j++) {
                values[j] = vals[j];
                lens[j] = strlen(vals[j]);
            }
            say(fd, "TA %llu %d\n", (unsigned long long)k, d);
            rc = vault_record_add(hex, sizeof hex, s, DISTRICT[d], NF, FIELDS, values, lens);
            if ((o = outcome(fd, rc, "vault_record_add")) < 0)
                goto fail;
            if (o == 0) {
                say(fd, "AA %llu %d %s\n", (unsigned long long)k, d, hex);
                memcpy(my[nmine].id, hex, sizeof hex);
                my[nmine].k = k;
                snprintf(my[nmine].phone, sizeof my[nmine].phone, "%s", vals[1]);
                nmine++;
            }
        } else if (op < 75) {
            snprintf(phone, sizeof phone, "2%010llu", (unsigned long long)(k + 50000));
            say(fd, "TP %s %s\n", m->id, phone);
            rc = vault_record_put(s, m->id, "phone", phone, strlen(phone));
            if ((o = outcome(fd, rc, "vault_record_put")) < 0)
                goto fail;
            if (o == 0) {
                say(fd, "AP %s %s\n", m->id, phone);
                snprintf(m->phone, sizeof m->phone, "%s", phone);
            }
        } else {
            rc = vault_record_get(&res, s, m->id, FIELDS, NF);
            if ((o = outcome(fd, rc, "vault_record_get")) < 0)
                goto fail;
            if (o == 0) {
                values_for(vals, m->k);
                snprintf(vals[1], sizeof vals[1], "%s", m->phone);
                for (j = 0; j < NF; j++) {
                    const char *val = vault_result_value(res, j, &len);
                    if (vault_result_effect(res, j) != VAULT_EFFECT_ALLOW || !val ||
                        len != strlen(vals[j]) ||
                        memcmp(val, vals[j], len) != 0) { /* memcmp ok: test values */
                        say(fd, "ER read %s field %s: not the value written\n", m->id, FIELDS[j]);
                        goto fail;
                    }
                }
                say(fd, "AR %s\n", m->id);
            }
            vault_result_free(res);
            res = NULL;
        }
    }
    goto out;
fail:
    w->failed = 1;
out:
    vault_result_free(res);
    vault_session_close(s);
    close(fd);
    return NULL;
}

static void process_main(const char *schema, int proc)
{
    vault *v[NTHREAD] = {NULL};
    worker w[NTHREAD];
    pthread_t th[NTHREAD];
    char name[64];
    int t, failed = 0, fd;

    snprintf(name, sizeof name, "%s-p%d", schema, proc);
    fd = log_open(name);
    if (open_vault(&v[0], schema) != 0) {
        say(fd, "ER vault_open: %s\n", vault_error_last());
        _exit(1);
    }
    for (t = 1; t < NTHREAD; t++)
        if (vault_reopen(&v[t], v[0]) != 0) {
            say(fd, "ER vault_reopen: %s\n", vault_error_last());
            _exit(1);
        }
    memset(w, 0, sizeof w);
    for (t = 0; t < NTHREAD; t++) {
        w[t].schema = schema;
        w[t].v = v[t];
        w[t].proc = proc;
        w[t].thread = t;
        w[t].seed = (unsigned)time(NULL) ^ (unsigned)(proc * 7919 + t * 104729);
        if (pthread_create(&th[t], NULL, thread_main, &w[t]) != 0)
            _exit(1);
    }
    for (t = 0; t < NTHREAD; t++) {
        pthread_join(th[t], NULL);
        failed |= w[t].failed;
    }
    for (t = NTHREAD; t-- > 0;)
        vault_close(v[t]);
    close(fd);
    _exit(failed ? 1 : 0);
}

static void test_processes_and_threads(void **state)
{
    model m;
    vault *v = NULL;
    pid_t pids[NPROC];
    int p, t, status, running, verifies = 0;
    int64_t before, after;
    uint64_t expected;
    linear_ctx lc;
    pending pd;
    char name[64];
    size_t i;

    (void)state;
    memset(&m, 0, sizeof m);
    memset(&lc, 0, sizeof lc);
    m.schema = "conc";
    make_vault(m.schema);
    assert_int_equal(open_vault(&v, m.schema), 0);
    before = audit_count(v);
    for (p = 0; p < NPROC; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0)
            process_main(m.schema, p);
    }
    /* The parent verifies while they work: every snapshot is a valid log. */
    do {
        verify_log(v, "during the run");
        verifies++;
        usleep(200 * 1000);
        running = 0;
        for (p = 0; p < NPROC; p++) {
            pid_t r;
            if (pids[p] == 0)
                continue;
            r = waitpid(pids[p], &status, WNOHANG);
            if (r == 0) {
                running++;
                continue;
            }
            assert_int_equal(r, pids[p]);
            pids[p] = 0;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                snprintf(name, sizeof name, "%s-p%d", m.schema, p);
                log_settle(&m, name, &pd); /* fails with its ER line */
                for (t = 0; t < NTHREAD; t++) {
                    snprintf(name, sizeof name, "%s-p%d-t%d", m.schema, p, t);
                    log_settle(&m, name, &pd);
                }
                fail_msg("process %d ended with status 0x%x", p, status);
            }
        }
    } while (running > 0);
    vault_close(v);
    v = NULL;

    for (p = 0; p < NPROC; p++)
        for (t = 0; t < NTHREAD; t++) {
            snprintf(name, sizeof name, "%s-p%d-t%d", m.schema, p, t);
            log_settle(&m, name, &pd);
            /* no kills here: every call ended, acknowledged or refused */
            if (pd.add || pd.put)
                fail_msg("%s: a call that never returned", name);
        }

    /* Afterwards, from a fresh handle: complete, linear, intact. */
    assert_int_equal(open_vault(&v, m.schema), 0);
    after = audit_count(v);
    scan_linear(v, NULL, &lc);
    /* and the city log's claims of the shard heads (a handle's close
     * claims what no checkpoint has) */
    expected = m.adds + m.puts + m.reads + (uint64_t)verifies + lc.heads;
    if ((uint64_t)(after - before) != expected)
        fail_msg("%lld entries appended; the acknowledged calls (%llu adds, %llu updates, %llu "
                 "reads), %d verifies and %llu claims account for %llu",
                 (long long)(after - before), (unsigned long long)m.adds,
                 (unsigned long long)m.puts, (unsigned long long)m.reads, verifies,
                 (unsigned long long)lc.heads, (unsigned long long)expected);
    assert_int_equal(lc.total, after);
    /* the city log and each district's: 3 shards, each its own chain */
    assert_int_equal(lc.logs, 1 + NDISTRICT);
    check_creates(&m, &lc, 0);
    {
        vault_audit_result ar;
        assert_int_equal(vault_audit_verify(&ar, v, NULL, NULL, NULL), 0);
        assert_int_equal(ar.entries, (uint64_t)after);
    }
    /* per log: no two entries at one position, none missing */
    assert_int_equal(dba_count(m.schema, "SELECT count(*) - count(DISTINCT (log, pos))"
                                         " FROM %s.audit"), 0);
    assert_int_equal(dba_count(m.schema, "SELECT coalesce(sum(m - c), 0) FROM (SELECT log,"
                                         " max(pos) AS m, count(*) AS c FROM %s.audit"
                                         " GROUP BY log) x"), 0);
    for (i = 0; i < m.nabsent; i++) { /* refused adds left nothing */
        char vals[NF][64];
        uint8_t id[VAULT_ID_BYTES];
        values_for(vals, m.absent_k[i]);
        assert_int_equal(tu_find_by_idno(id, v, vals[2]), 0);
    }
    check_tables(&m);
    for (i = 0; i < m.nrecs; i++)
        check_record(v, &m.recs[i]);
    printf("# concurrency: %d processes x %d threads, %llu adds, %llu updates, %llu reads "
           "acknowledged, %llu VAULT_EBUSY, %d verifies meanwhile, %lld entries\n", NPROC, NTHREAD,
           (unsigned long long)m.adds, (unsigned long long)m.puts, (unsigned long long)m.reads,
           (unsigned long long)m.busy, verifies, (long long)after);
    vault_close(v);
    free(lc.created);
    free(m.recs);
}
/* ---- test 4: key rotation while writers write ---- */

static void rotator_progress(uint64_t done, uint64_t total, void *arg)
{
    char one = 1;

    (void)done;
    (void)total;
    if (write(*(int *)arg, &one, 1) != 1)
        _exit(2);
}

/* A rotation in batches of 2 records, in a process of its own, SIGKILLed
 * once its first batch has committed: left unfinished, version 2 created
 * and some fields still under version 1. */
static void kill_a_rotation(const char *schema)
{
    int fds[2], status, rc;
    pid_t pid;
    char b;
    struct pollfd pf;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        vault *v = NULL;
        int fd = fds[1];
        close(fds[0]);
        if (open_vault(&v, schema) != 0)
            _exit(1);
        rc = rotate__run(v, "personal", 2, 0, rotator_progress, &fd);
        _exit(rc == 0 ? 3 : 4); /* it ended before the kill */
    }
    close(fds[1]);
    pf.fd = fds[0];
    pf.events = POLLIN;
    pf.revents = 0;
    if (poll(&pf, 1, 60000) != 1 || read(fds[0], &b, 1) != 1)
        fail_msg("the rotation process committed no batch");
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(fds[0]);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        fail_msg("the rotation ended before it was killed (status 0x%x)", status);
}

/* The calls the writers' logs acknowledge so far ("A" lines). */
static size_t acks_so_far(char names[][64], int n)
{
    char path[700];
    size_t total = 0, len = 0, j;
    uint8_t *buf;
    int i;

    for (i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s.log", dir, names[i]);
        if (!(buf = tu_read_file(path, &len)))
            continue;
        for (j = 0; j < len; j++)
            total += buf[j] == 'A' && (j == 0 || buf[j - 1] == '\n');
        free(buf);
    }
    return total;
}

static void test_rotation_with_writers(void **state)
{
    model m;
    vault *v = NULL;
    vault_session *s;
    pid_t pids[ROT_WRITERS];
    char names[ROT_WRITERS][64], stop[600], vals[NF][64];
    char seeds[ROT_SEEDS][VAULT_ID_HEX_SIZE];
    uint64_t seed_k[ROT_SEEDS];
    const char *values[NF];
    size_t lens[NF], j, i, during_start, during_end;
    uint8_t id[VAULT_ID_BYTES];
    uint32_t latest = 0;
    int64_t stale = -1;
    int w, status;
    wctx proto;
    linear_ctx lc;
    pending pd[ROT_WRITERS];

    (void)state;
    memset(&m, 0, sizeof m);
    memset(&lc, 0, sizeof lc);
    m.schema = "rot";
    make_vault(m.schema);
    assert_int_equal(open_vault(&v, m.schema), 0);
    s = officer(v, "seed");
    assert_non_null(s);
    for (i = 0; i < ROT_SEEDS; i++) {
        values_for(vals, 1 + i);
        for (j = 0; j < NF; j++) {
            values[j] = vals[j];
            lens[j] = strlen(vals[j]);
        }
        assert_int_equal(vault_record_add(seeds[i], sizeof seeds[i], s, DISTRICT[i % NDISTRICT],
                                          NF, FIELDS, values, lens), 0);
        assert_int_equal(vault__id_parse(id, seeds[i]), 0);
        rec_add(&m, id, 1 + i, (int)(i % NDISTRICT));
        seed_k[i] = 1 + i;
    }
    vault_session_close(s);
    assert_int_equal(TU_SNAP(v->db, store_gradekey_latest(&latest, v->db, "personal")), 0);
    assert_int_equal(latest, 1);

    snprintf(stop, sizeof stop, "%s/rot.stop", dir);
    memset(&proto, 0, sizeof proto);
    proto.stop = stop;
    proto.seeds = seeds; /* writer i updates seeds i*10 .. i*10 + 9 besides its own */
    proto.seed_k = seed_k;
    proto.nseeds = ROT_SEEDS / ROT_WRITERS;
    start_writers(pids, ROT_WRITERS, m.schema, RUN_ROT, 1, names, 1, &proto);
    usleep(200 * 1000);
    during_start = acks_so_far(names, ROT_WRITERS);
    /* A rotation killed after its first batch: version 2 made, version 1
     * still in use and kept. */
    kill_a_rotation(m.schema);
    assert_int_equal(dba_count(m.schema, "SELECT count(*) FROM %s.grade_keys WHERE grade = "
                                         "'personal'"), 2);
    assert_true(dba_count(m.schema, "SELECT count(*) FROM %s.fields WHERE grade = 'personal' "
                                    "AND key_version = 1") > 0);
    /* Twice more: the first resumes the killed one in batches of 4 records
     * (each its own transaction, so the writers' transactions fall between
     * them), the second runs as vault_key_rotate does, moving the fields
     * the writers sealed under version 2 meanwhile. */
    if (rotate__run(v, "personal", 4, 0, NULL, NULL) != 0)
        fail_msg("the resumed rotation failed: %s", vault_error_last());
    if (vault_key_rotate(v, "personal", NULL, NULL) != 0)
        fail_msg("the second rotation failed: %s", vault_error_last());
    during_end = acks_so_far(names, ROT_WRITERS);
    usleep(200 * 1000);
    tu_write_file(stop, "stop", 4);
    for (w = 0; w < ROT_WRITERS; w++) {
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            log_settle(&m, names[w], &pd[w]); /* fails with its ER line */
            fail_msg("writer %d: status 0x%x", w, status);
        }
    }
    vault_close(v);
    v = NULL;
    for (w = 0; w < ROT_WRITERS; w++) {
        log_settle(&m, names[w], &pd[w]);
        if (pd[w].add || pd[w].put)
            fail_msg("%s: a call that never returned", names[w]);
    }
    if (during_end <= during_start)
        fail_msg("no write was acknowledged while the rotations ran (%zu before, %zu after)",
                 during_start, during_end);

    /* From a fresh handle: nothing under a retired version, the retired
     * key rows gone, every value back, the log intact. */
    assert_int_equal(open_vault(&v, m.schema), 0);
    assert_int_equal(TU_SNAP(v->db, store_gradekey_latest(&latest, v->db, "personal")), 0);
    assert_int_equal(latest, 3);
    assert_int_equal(TU_SNAP(v->db, store_field_count_stale(&stale, v->db, "personal", latest)), 0);
    assert_int_equal(stale, 0);
    assert_int_equal(dba_count(m.schema, "SELECT count(*) FROM %s.fields WHERE grade = "
                                         "'personal' AND key_version <> 3"), 0);
    assert_int_equal(dba_count(m.schema, "SELECT count(*) FROM %s.grade_keys WHERE grade = "
                                         "'personal'"), 1);
    assert_int_equal(dba_count(m.schema, "SELECT count(*) FROM %s.fields WHERE grade = "
                                         "'personal'"), 2 * (int64_t)m.nrecs);
    verify_log(v, "after the rotations");
    scan_linear(v, NULL, &lc);
    assert_int_equal(lc.rotate_errs, 0); /* neither rotation stopped on the way */
    check_creates(&m, &lc, 0);
    check_tables(&m);
    for (i = 0; i < m.nrecs; i++)
        check_record(v, &m.recs[i]);
    printf("# rotation: a rotation of grade personal killed after its first batch, resumed, and "
           "a second one, with %d writers, %zu writes acknowledged "
           "while they ran, %llu adds and %llu updates in all, %llu VAULT_EBUSY, %zu records, "
           "0 fields under versions 1 and 2\n", ROT_WRITERS, during_end - during_start,
           (unsigned long long)m.adds, (unsigned long long)m.puts, (unsigned long long)m.busy,
           m.nrecs);
    vault_close(v);
    free(lc.created);
    free(m.recs);
}
/* ---- test 5: the write lock not had within lock_timeout ---- */

/* Another connection holds the vault's write lock for longer than the
 * 10 s lock_timeout: a write fails with VAULT_EBUSY, in one line without
 * a value, leaves nothing (no record, no entry), and succeeds once the
 * lock is free.  (The one case of test_processes_and_threads' allowed
 * VAULT_EBUSY, made to happen.) */
static void test_lock_timeout(void **state)
{
    vault *v = NULL, *holder = NULL;
    vault_session *s;
    char vals[NF][64], hex[VAULT_ID_HEX_SIZE];
    const char *values[NF];
    size_t lens[NF], j;
    uint8_t id[VAULT_ID_BYTES];
    int64_t before, t0, waited;
    int rc;

    (void)state;
    make_vault("busy");
    assert_int_equal(open_vault(&v, "busy"), 0);
    assert_int_equal(open_vault(&holder, "busy"), 0);
    s = officer(v, "li");
    assert_non_null(s);
    values_for(vals, 77);
    for (j = 0; j < NF; j++) {
        values[j] = vals[j];
        lens[j] = strlen(vals[j]);
    }
    before = audit_count(v);
    assert_int_equal(store_begin(holder->db, STORE_TX_WRITE), 0); /* takes the write lock */
    t0 = now_ms();
    rc = vault_record_add(hex, sizeof hex, s, DISTRICT[1], NF, FIELDS, values, lens);
    waited = now_ms() - t0;
    store_rollback(holder->db);
    assert_int_equal(rc, VAULT_EBUSY);
    assert_true(waited >= 9000); /* lock_timeout, STORE_BUSY_TIMEOUT_MS */
    assert_non_null(strstr(vault_error_last(), "lock"));
    assert_null(strchr(vault_error_last(), '\n'));
    for (j = 0; j < NF; j++)
        assert_null(strstr(vault_error_last(), vals[j]));
    assert_int_equal(audit_count(v), before);
    assert_int_equal(tu_find_by_idno(id, v, vals[2]), 0);
    assert_int_equal(dba_count("busy", "SELECT count(*) FROM %s.records"), 0);
    /* the lock free again: the same call goes through */
    assert_int_equal(vault_record_add(hex, sizeof hex, s, DISTRICT[1], NF, FIELDS, values, lens), 0);
    assert_int_equal(audit_count(v), before + 1);
    assert_int_equal(dba_count("busy", "SELECT count(*) FROM %s.records"), 1);
    verify_log(v, "after the lock timeout");
    printf("# lock timeout: VAULT_EBUSY after %lld ms, nothing written, then the write went "
           "through\n", (long long)waited);
    vault_session_close(s);
    vault_close(holder);
    vault_close(v);
}
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_processes_and_threads),
        cmocka_unit_test(test_rotation_with_writers),
        cmocka_unit_test(test_lock_timeout),
    };

    return pgtest_run("test_pg_concurrency", tests, sizeof tests / sizeof tests[0]);
}

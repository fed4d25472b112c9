/* pg_crash: what a client's death or a lost connection leaves behind in a
 * PostgreSQL vault (issue 17, "Tests with a real PostgreSQL"), on the
 * server VAULT_PG_URI names (ctest runs it in a throwaway cluster,
 * tests/pg/pg_cluster.sh; without VAULT_PG_URI it fails rather than pass).
 * Helpers: tests/pg/pgtest.h.
 *
 *  - test_sigkill_clients: writers SIGKILLed at random moments (20 kills).
 *  - test_terminate_backends: the writers' PostgreSQL backends ended with
 *    pg_terminate_backend mid-run (in one round, with every writer held
 *    inside a transaction by a DBA's lock on the generation table); each
 *    writer's next call fails closed with VAULT_EIO, and every later one
 *    on that handle too.
 * After each round of either (check_round): every acknowledged write is
 * there with its value, a write in flight is whole or absent, each record
 * has its one create entry, the log verifies and the vault opens. */
#include "pgtest.h"

#define KILL_ROUNDS 10   /* x 2 writers: 20 kills */
#define KILL_WRITERS 2
#define TERM_ROUNDS 3    /* x 3 writers: 9 backends terminated */
#define TERM_WRITERS 3

/* ---- test 2: SIGKILL of clients ---- */

static void test_sigkill_clients(void **state)
{
    model m;
    pid_t pids[KILL_WRITERS];
    char names[KILL_WRITERS][64];
    int round, i, status;
    log_marks pos;
    uint64_t acked;

    (void)state;
    memset(&pos, 0, sizeof pos);
    memset(&m, 0, sizeof m);
    m.schema = "killed";
    make_vault(m.schema);
    for (round = 1; round <= KILL_ROUNDS; round++) {
        start_writers(pids, KILL_WRITERS, m.schema, RUN_KILL, round, names, 0, NULL);
        /* some kills land while the writers are still opening the vault */
        usleep((useconds_t)(round % 4 == 0 ? rand() % 100 : 150 + rand() % 600) * 1000);
        for (i = 0; i < KILL_WRITERS; i++)
            kill(pids[i], SIGKILL);
        for (i = 0; i < KILL_WRITERS; i++) {
            assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
            if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
                pending pd;
                log_settle(&m, names[i], &pd); /* fails with its ER line */
                fail_msg("round %d: writer %d ended on its own (status 0x%x)", round, i, status);
            }
            m.kills++;
        }
        check_round(&m, names, KILL_WRITERS, &pos, round);
    }
    acked = m.adds + m.puts + m.reads;
    printf("# sigkill: %llu kills, %llu calls acknowledged (%llu adds, %llu updates), %zu "
           "records, %lld entries, all verified\n", (unsigned long long)m.kills,
           (unsigned long long)acked, (unsigned long long)m.adds, (unsigned long long)m.puts,
           m.nrecs, (long long)marks_total(&pos));
    assert_true(m.adds > 0);
    free(m.recs);
}
/* ---- test 3: pg_terminate_backend mid-run ---- */

/* End every client backend of the database but this one's and the
 * holder's (application_name vault_test_hold); returns how many. */
static int64_t terminate_clients(void)
{
    PGconn *c = PQconnectdb(pg_uri);
    PGresult *r;
    int64_t n;

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    r = PQexec(c, "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) AS t FROM "
                  "pg_stat_activity WHERE datname = current_database() AND pid <> "
                  "pg_backend_pid() AND backend_type = 'client backend' AND "
                  "application_name <> 'vault_test_hold') x WHERE t");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("pg_terminate_backend: %s", PQerrorMessage(c));
    n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return n;
}

/* A DBA's lock on the generation row's table: every writer that begins
 * blocks inside its transaction (the write lock taken, or waiting for it)
 * until the holder lets go.  NULL: no hold. */
static PGconn *hold_generation(const char *schema)
{
    char sql[200];
    PGconn *c;
    PGresult *r;

    c = PQconnectdb(pg_uri);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "SET application_name = 'vault_test_hold'"));
    snprintf(sql, sizeof sql, "BEGIN; LOCK TABLE %s.generation IN ACCESS EXCLUSIVE MODE", schema);
    r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    return c;
}

static void test_terminate_backends(void **state)
{
    model m;
    pid_t pids[TERM_WRITERS];
    char names[TERM_WRITERS][64];
    int round, i, status;
    log_marks pos;
    int64_t terminated = 0, t0;
    uint64_t eio_before;
    int in_tx = 0;

    memset(&pos, 0, sizeof pos);
    (void)state;
    memset(&m, 0, sizeof m);
    m.schema = "terminated";
    make_vault(m.schema);
    for (round = 1; round <= TERM_ROUNDS; round++) {
        PGconn *hold = NULL;
        start_writers(pids, TERM_WRITERS, m.schema, RUN_TERM, round, names, 1, NULL);
        usleep((useconds_t)(100 + rand() % 500) * 1000);
        if (round == 2) { /* every writer caught inside a transaction */
            hold = hold_generation(m.schema);
            t0 = now_ms();
            while (dba_count(m.schema, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                       "current_database() AND wait_event_type IN ('Lock') AND "
                                       "state <> 'idle'") < TERM_WRITERS)
                if (now_ms() - t0 > 5000)
                    fail_msg("round 2: the writers are not all waiting inside a transaction");
                else
                    usleep(20 * 1000);
        }
        i = (int)terminate_clients();
        if (hold) {
            PQclear(PQexec(hold, "ROLLBACK"));
            PQfinish(hold);
            in_tx++;
        }
        if (i < TERM_WRITERS)
            fail_msg("round %d: %d backends terminated, %d writers connected", round, i,
                     TERM_WRITERS);
        terminated += i;
        /* each writer's next call fails with VAULT_EIO and it exits 0 */
        t0 = now_ms();
        for (i = 0; i < TERM_WRITERS; i++) {
            pid_t r;
            while ((r = waitpid(pids[i], &status, WNOHANG)) == 0) {
                if (now_ms() - t0 > 60000) {
                    kill(pids[i], SIGKILL);
                    fail_msg("round %d: writer %d still runs after its backend was terminated",
                             round, i);
                }
                usleep(20 * 1000);
            }
            assert_int_equal(r, pids[i]);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                pending pd;
                log_settle(&m, names[i], &pd); /* fails with its ER line */
                fail_msg("round %d: writer %d: status 0x%x", round, i, status);
            }
        }
        eio_before = m.eio;
        check_round(&m, names, TERM_WRITERS, &pos, round);
        assert_int_equal(m.eio - eio_before, TERM_WRITERS); /* each saw its VAULT_EIO */
    }
    /* Three writers never wait 10 s for the write lock: a VAULT_EBUSY here
     * is a terminated connection reported as something it isn't. */
    assert_int_equal(m.busy, 0);
    assert_int_equal(in_tx, 1);
    printf("# terminate: %lld backends terminated (one round's all inside a transaction), %llu "
           "VAULT_EIO seen, %llu calls acknowledged, %zu records, %lld entries, all verified\n",
           (long long)terminated,
           (unsigned long long)m.eio, (unsigned long long)(m.adds + m.puts + m.reads), m.nrecs,
           (long long)marks_total(&pos));
    free(m.recs);
}
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_clients),
        cmocka_unit_test(test_terminate_backends),
    };

    return pgtest_run("test_pg_crash", tests, sizeof tests / sizeof tests[0]);
}

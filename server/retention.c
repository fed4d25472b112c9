/* retention: vaultd's retention thread (docs/service.md "Retention").
 * Every retention.every (default 24h; off: never) it runs the policy's
 * retention schedules (vault_retention_run) on a handle of its own, so no
 * worker waits on it, and logs what it did to standard error (the
 * journal): counts only, never a value or a record's content.  The run's
 * entries carry the user "retention" and vaultd's own principal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

static struct {
    pthread_t thread;
    int running;
    int stop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    vd_server *srv;
    vault *v;
} R = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static json_int_t count(const json_t *doc, const char *key)
{
    return json_integer_value(json_object_get(doc, key));
}

static void run_once(void)
{
    char *out = NULL;
    json_t *doc;
    int rc = vault_retention_run(&out, R.v, 1);

    if (rc != VAULT_OK) {
        fprintf(stderr, "vaultd: retention: the run failed (retried in %llds): %s\n",
                (long long)R.srv->cfg->retention_every, vault_error_last());
        goto out;
    }
    doc = json_loads(out, 0, NULL);
    fprintf(stderr,
            "vaultd: retention: %lld records erased, %lld records with %lld fields removed, "
            "%lld remains removed, %zu skipped, %zu problems\n",
            (long long)count(doc, "records_erased"), (long long)count(doc, "records_with_fields_removed"),
            (long long)count(doc, "fields_removed"), (long long)count(doc, "remains_removed"),
            json_array_size(json_object_get(doc, "skipped")),
            json_array_size(json_object_get(doc, "problems")));
    pthread_mutex_lock(&R.srv->mlock);
    R.srv->m.retention_runs++;
    R.srv->m.retention_erased += (uint64_t)count(doc, "records_erased");
    pthread_mutex_unlock(&R.srv->mlock);
    json_decref(doc);
out:
    vault_free(out);
}

static void *run(void *arg)
{
    time_t next = time(NULL) + (time_t)R.srv->cfg->retention_every;

    (void)arg;
    pthread_mutex_lock(&R.lock);
    while (!R.stop) {
        struct timespec until;

        if (time(NULL) >= next) {
            pthread_mutex_unlock(&R.lock);
            run_once();
            pthread_mutex_lock(&R.lock);
            next = time(NULL) + (time_t)R.srv->cfg->retention_every;
            continue;
        }
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        (void)pthread_cond_timedwait(&R.cond, &R.lock, &until);
    }
    pthread_mutex_unlock(&R.lock);
    return NULL;
}

int vd_retention_start(vd_server *srv, vault *first, char *err, size_t cap)
{
    if (srv->cfg->retention_every <= 0)
        return 0;
    R.srv = srv;
    if (vault_reopen(&R.v, first) != VAULT_OK || vault_set_actor(R.v, "vaultd") != VAULT_OK ||
        vault_set_witness_auto(R.v, 0) != VAULT_OK) {
        snprintf(err, cap, "retention: opening a handle: %s", vault_error_last());
        return -1;
    }
    R.stop = 0;
    if (pthread_create(&R.thread, NULL, run, NULL) != 0) {
        snprintf(err, cap, "retention: cannot start the thread: %s", strerror(errno));
        return -1;
    }
    R.running = 1;
    return 0;
}

void vd_retention_stop(void)
{
    if (R.running) {
        pthread_mutex_lock(&R.lock);
        R.stop = 1;
        pthread_cond_signal(&R.cond);
        pthread_mutex_unlock(&R.lock);
        pthread_join(R.thread, NULL);
        R.running = 0;
    }
    vault_close(R.v);
    R.v = NULL;
}

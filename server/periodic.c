/* periodic: vaultd's background rounds on a handle of their own (the
 * witness submissions, witness.c; the retention runs, retention.c): a
 * thread that runs round() every `interval` seconds, and sooner when due()
 * says so (looked at once a second), until vd_periodic_stop. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server.h"

/* The round's handle lost its database connection (a failover, a
 * restart): a new one first, so the rounds go on without a restart. */
static void renew(vd_periodic *p)
{
    vault *nv;

    if (!vault_connection_lost(p->v))
        return;
    nv = vd_handle_fresh(p->v, NULL, NULL);
    if (!nv) {
        fprintf(stderr, "vaultd: %s: the database connection was lost and a new one could not be "
                        "opened (%s): the next round tries again\n", p->what, vault_error_last());
        return;
    }
    vault_close(p->v);
    p->v = nv;
    fprintf(stderr, "vaultd: %s: the database connection was lost: a new handle\n", p->what);
}

static void *periodic_run(void *arg)
{
    vd_periodic *p = arg;
    time_t next = p->first_now ? 0 : time(NULL) + (time_t)p->interval;

    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        struct timespec until;

        if (time(NULL) >= next || (p->due && p->due())) {
            pthread_mutex_unlock(&p->lock);
            renew(p);
            p->round();
            pthread_mutex_lock(&p->lock);
            next = time(NULL) + (time_t)p->interval;
            continue;
        }
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        (void)pthread_cond_timedwait(&p->cond, &p->lock, &until);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int vd_periodic_start(vd_periodic *p, vault *first, char *err, size_t cap)
{
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    if (vault_reopen(&p->v, first) != VAULT_OK || vault_set_actor(p->v, "vaultd") != VAULT_OK ||
        vault_set_witness_auto(p->v, 0) != VAULT_OK) {
        snprintf(err, cap, "%s: opening a handle: %s", p->what, vault_error_last());
        return -1;
    }
    p->stop = 0;
    if (pthread_create(&p->thread, NULL, periodic_run, p) != 0) {
        snprintf(err, cap, "%s: cannot start the thread: %s", p->what, strerror(errno));
        return -1;
    }
    p->running = 1;
    return 0;
}

void vd_periodic_stop(vd_periodic *p)
{
    if (!p->running)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    p->running = 0;
}

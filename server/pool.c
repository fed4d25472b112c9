/* pool: one vault handle per worker thread (docs/threading.md: a handle
 * serialises its calls; each has its own connection).  The first handle
 * is the one vaultd unlocked; the others are vault_reopen()ed from it, so
 * the secret is used once.  A request borrows a handle for its duration. */
#include <stdio.h>
#include <stdlib.h>

#include "server.h"

int vd_pool_open(vd_pool *p, vault *first, size_t n, char *err, size_t err_cap)
{
    size_t i;

    p->n = 0;
    p->alarm_fn = NULL;
    p->alarm_arg = NULL;
    p->due_lost = 0;
    p->v = calloc(n, sizeof *p->v);
    p->busy = calloc(n, sizeof *p->busy);
    if (!p->v || !p->busy || pthread_mutex_init(&p->lock, NULL) != 0 ||
        pthread_cond_init(&p->cond, NULL) != 0) {
        snprintf(err, err_cap, "out of memory");
        return -1;
    }
    p->v[0] = first;
    p->n = 1;
    for (i = 1; i < n; i++) {
        if (vault_reopen(&p->v[i], first) != VAULT_OK) {
            snprintf(err, err_cap, "opening worker handle %zu: %s", i, vault_error_last());
            return -1;
        }
        p->n = i + 1;
    }
    return 0;
}

vault *vd_pool_get(vd_pool *p)
{
    vault *v = NULL;
    size_t i;

    pthread_mutex_lock(&p->lock);
    while (!v) {
        for (i = 0; i < p->n && !v; i++)
            if (!p->busy[i]) {
                p->busy[i] = 1;
                v = p->v[i];
            }
        if (!v)
            pthread_cond_wait(&p->cond, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return v;
}

/* A new handle from v, set up as the pool's: acting for vaultd, no
 * witness submission of its own, the alarms. */
static vault *fresh_handle(const vd_pool *p, vault *v)
{
    vault *nv = NULL;

    if (vault_reopen(&nv, v) != VAULT_OK || vault_set_actor(nv, "vaultd") != VAULT_OK ||
        vault_set_witness_auto(nv, 0) != VAULT_OK ||
        (p->alarm_fn && vault_set_alarm(nv, p->alarm_fn, p->alarm_arg) != VAULT_OK)) {
        vault_close(nv);
        return NULL;
    }
    return nv;
}

void vd_pool_put(vd_pool *p, vault *v, int rc)
{
    vault *nv = NULL;
    size_t i;

    if (rc == VAULT_EIO) {
        nv = fresh_handle(p, v);
        if (nv)
            fprintf(stderr, "vaultd: a handle's call failed with VAULT_EIO (the database "
                            "connection lost?): replaced by a new one\n");
        else
            fprintf(stderr, "vaultd: a handle's call failed with VAULT_EIO and a new one could "
                            "not be opened (%s): the next request tries again\n",
                    vault_error_last());
    }
    pthread_mutex_lock(&p->lock);
    for (i = 0; i < p->n; i++)
        if (p->v[i] == v) {
            if (nv)
                p->v[i] = nv;
            p->busy[i] = 0;
        }
    if (nv && vault_witness_take_due(v))
        p->due_lost = 1;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    if (nv)
        vault_close(v);
}

int vd_pool_take_due(vd_pool *p)
{
    int any;
    size_t i;

    pthread_mutex_lock(&p->lock);
    any = p->due_lost;
    p->due_lost = 0;
    for (i = 0; i < p->n; i++)
        any |= vault_witness_take_due(p->v[i]);
    pthread_mutex_unlock(&p->lock);
    return any;
}

void vd_pool_close(vd_pool *p)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        vault_close(p->v[i]);
    free(p->v);
    free(p->busy);
    p->v = NULL;
    p->busy = NULL;
    p->n = 0;
}

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
    p->due = 0;
    p->v = calloc(n, sizeof *p->v);
    p->busy = calloc(n, sizeof *p->busy);
    p->stale = calloc(n, sizeof *p->stale);
    if (!p->v || !p->busy || !p->stale || pthread_mutex_init(&p->lock, NULL) != 0 ||
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

vault *vd_handle_fresh(vault *v, vault_alarm_fn alarm_fn, void *alarm_arg)
{
    vault *nv = NULL;

    if (vault_reopen(&nv, v) != VAULT_OK || vault_set_actor(nv, "vaultd") != VAULT_OK ||
        vault_set_witness_auto(nv, 0) != VAULT_OK ||
        (alarm_fn && vault_set_alarm(nv, alarm_fn, alarm_arg) != VAULT_OK)) {
        vault_close(nv);
        return NULL;
    }
    return nv;
}

vault *vd_pool_get(vd_pool *p)
{
    vault *v = NULL, *nv;
    size_t i, slot = 0;
    int stale = 0;

    pthread_mutex_lock(&p->lock);
    while (!v) {
        for (i = 0; i < p->n && !v; i++)
            if (!p->busy[i]) {
                p->busy[i] = 1;
                v = p->v[i];
                slot = i;
                stale = p->stale[i];
            }
        if (!v)
            pthread_cond_wait(&p->cond, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    if (!stale)
        return v;
    /* Its connection was lost (or, after a lost one, it sat idle): a new
     * handle, before this request uses it.  The slot is this thread's
     * (busy), so nothing else reads it meanwhile. */
    nv = vd_handle_fresh(v, p->alarm_fn, p->alarm_arg);
    if (!nv) {
        fprintf(stderr, "vaultd: a handle's database connection was lost and a new one could "
                        "not be opened (%s): this request fails, the next tries again\n",
                vault_error_last());
        return v;
    }
    pthread_mutex_lock(&p->lock);
    p->v[slot] = nv;
    p->stale[slot] = 0;
    p->due |= vault_witness_take_due(v);
    pthread_mutex_unlock(&p->lock);
    vault_close(v);
    fprintf(stderr, "vaultd: a handle whose database connection was lost: replaced by a new "
                    "one\n");
    return nv;
}

void vd_pool_put(vd_pool *p, vault *v)
{
    /* On the thread that used it: nobody else is in a call on it. */
    int due = vault_witness_take_due(v), lost = vault_connection_lost(v);
    size_t i;

    pthread_mutex_lock(&p->lock);
    for (i = 0; i < p->n; i++) {
        if (p->v[i] == v) {
            p->busy[i] = 0;
            p->stale[i] |= lost;
        } else if (lost && !p->busy[i]) {
            p->stale[i] = 1; /* idle ones met the same end, most likely: checked at their use */
        }
    }
    p->due |= due;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

int vd_pool_take_due(vd_pool *p)
{
    int any;

    pthread_mutex_lock(&p->lock);
    any = p->due;
    p->due = 0;
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
    free(p->stale);
    p->v = NULL;
    p->busy = NULL;
    p->stale = NULL;
    p->n = 0;
}

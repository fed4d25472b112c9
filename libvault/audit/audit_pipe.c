/* audit_pipe: the reading thread queues entries, a worker verifies them
 * (audit_pipe.h).  A ring of AF_PIPE_BATCHES batches: `ready` counts the
 * batches handed to the worker and not yet given back (the one it works
 * on included); the reader fills slot (rd + ready) % AF_PIPE_BATCHES, the
 * worker verifies slot rd, so they never share one. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "audit_pipe.h"

typedef struct pipe_item {
    uint64_t seq;
    uint32_t off, len;
    uint8_t head[32];
    uint8_t has_head, seq_from_entry;
} pipe_item;

typedef struct pipe_batch {
    uint8_t *buf;
    size_t used;
    pipe_item *items;
    size_t n;
} pipe_batch;

struct af_pipe {
    af_verifier *ver;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pipe_batch b[AF_PIPE_BATCHES];
    size_t rd, ready;
    pipe_batch *cur;   /* the reader's batch (NULL between batches) */
    int done;          /* the reader has queued everything */
    int stopped;       /* the worker found something: read with __atomic */
    int threaded;      /* 0: verify on the reader's thread */
    pthread_t worker;
};

/* Feed one entry as the in-vault scan's verify_fn does: returns 1 when
 * verification must stop. */
static int feed(af_verifier *ver, const pipe_item *it, const uint8_t *entry)
{
    const uint8_t *head = it->has_head ? it->head : NULL;
    int r = it->seq_from_entry ? af_verifier_push_stored(ver, it->seq, entry, it->len, head)
                               : af_verifier_push(ver, it->seq, entry, it->len, head);

    /* A gap may turn out to be a reordering when the skipped entry comes
     * later, so keep feeding after "missing". */
    return r && r != AF_MISSING;
}

static void batch_feed(af_pipe *p, const pipe_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (!__atomic_load_n(&p->stopped, __ATOMIC_RELAXED) &&
            feed(p->ver, &b->items[i], b->buf + b->items[i].off))
            __atomic_store_n(&p->stopped, 1, __ATOMIC_RELEASE);
}

static void *worker_main(void *arg)
{
    af_pipe *p = arg;

    for (;;) {
        pipe_batch *b;

        pthread_mutex_lock(&p->lock);
        while (p->ready == 0 && !p->done)
            pthread_cond_wait(&p->cond, &p->lock);
        if (p->ready == 0) { /* done and nothing left */
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        b = &p->b[p->rd];
        pthread_mutex_unlock(&p->lock);
        batch_feed(p, b);
        pthread_mutex_lock(&p->lock);
        b->n = 0;
        b->used = 0;
        p->rd = (p->rd + 1) % AF_PIPE_BATCHES;
        p->ready--;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
    }
}

int af_pipe_start(af_pipe **out, af_verifier *ver)
{
    int rc = VAULT_OK;
    af_pipe *p = calloc(1, sizeof *p);

    *out = NULL;
    ENSURE(p, VAULT_ENOMEM, "out of memory starting verification");
    p->ver = ver;
    for (size_t i = 0; i < AF_PIPE_BATCHES; i++) {
        p->b[i].buf = malloc(AF_PIPE_BATCH_BYTES);
        p->b[i].items = malloc(AF_PIPE_BATCH_ITEMS * sizeof *p->b[i].items);
        ENSURE(p->b[i].buf && p->b[i].items, VAULT_ENOMEM, "out of memory starting verification");
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    /* Without a second thread the same work runs on this one. */
    p->threaded = pthread_create(&p->worker, NULL, worker_main, p) == 0;
    *out = p;
    p = NULL;
cleanup:
    if (p) {
        for (size_t i = 0; i < AF_PIPE_BATCHES; i++)
            free(p->b[i].buf), free(p->b[i].items);
        free(p);
    }
    return rc;
}

/* Hand the reader's batch to the worker (or verify it here). */
static void hand_over(af_pipe *p)
{
    if (!p->cur)
        return;
    if (!p->threaded) {
        batch_feed(p, p->cur);
        p->cur->n = p->cur->used = 0;
        return; /* the reader keeps its one batch */
    }
    pthread_mutex_lock(&p->lock);
    p->ready++;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    p->cur = NULL;
}

void af_pipe_drain(af_pipe *p)
{
    hand_over(p);
    if (!p->threaded)
        return;
    pthread_mutex_lock(&p->lock);
    while (p->ready > 0)
        pthread_cond_wait(&p->cond, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

int af_pipe_push(af_pipe *p, uint64_t seq, int seq_from_entry, const uint8_t *entry, size_t len,
                 const uint8_t *stored_head)
{
    pipe_item *it, big;

    if (__atomic_load_n(&p->stopped, __ATOMIC_ACQUIRE))
        return 1;
    if (len > AF_PIPE_BATCH_BYTES / 2) {
        /* Longer than any valid entry (AF_ENTRY_MAX): verified here, in
         * its place in the order, once the worker is idle; the verifier
         * reports it. */
        af_pipe_drain(p);
        memset(&big, 0, sizeof big);
        big.seq = seq;
        big.len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
        big.has_head = stored_head != NULL;
        big.seq_from_entry = seq_from_entry != 0;
        if (stored_head)
            memcpy(big.head, stored_head, 32);
        if (!__atomic_load_n(&p->stopped, __ATOMIC_ACQUIRE) && feed(p->ver, &big, entry))
            __atomic_store_n(&p->stopped, 1, __ATOMIC_RELEASE);
        return __atomic_load_n(&p->stopped, __ATOMIC_ACQUIRE) ? 1 : 0;
    }
    if (p->cur && (p->cur->n == AF_PIPE_BATCH_ITEMS || p->cur->used + len > AF_PIPE_BATCH_BYTES))
        hand_over(p);
    if (!p->cur) {
        if (p->threaded) {
            pthread_mutex_lock(&p->lock);
            while (p->ready == AF_PIPE_BATCHES)
                pthread_cond_wait(&p->cond, &p->lock);
            p->cur = &p->b[(p->rd + p->ready) % AF_PIPE_BATCHES];
            pthread_mutex_unlock(&p->lock);
        } else {
            p->cur = &p->b[0];
        }
    }
    it = &p->cur->items[p->cur->n++];
    it->seq = seq;
    it->off = (uint32_t)p->cur->used;
    it->len = (uint32_t)len;
    it->has_head = stored_head != NULL;
    it->seq_from_entry = seq_from_entry != 0;
    if (stored_head)
        memcpy(it->head, stored_head, 32);
    if (len)
        memcpy(p->cur->buf + p->cur->used, entry, len);
    p->cur->used += len;
    return __atomic_load_n(&p->stopped, __ATOMIC_ACQUIRE) ? 1 : 0;
}

int af_pipe_stopped(af_pipe *p)
{
    return p && __atomic_load_n(&p->stopped, __ATOMIC_ACQUIRE);
}

void af_pipe_finish(af_pipe *p)
{
    if (!p)
        return;
    hand_over(p);
    if (p->threaded) {
        pthread_mutex_lock(&p->lock);
        p->done = 1;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->worker, NULL);
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    for (size_t i = 0; i < AF_PIPE_BATCHES; i++)
        free(p->b[i].buf), free(p->b[i].items);
    free(p);
}

/* audit_scan: checked reads of a stretch of the log (audit_scan.h). */
#include "audit_scan.h"

#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/audit_format.h"

/* ---- the first entry at or after a time ---- */

typedef struct probe_ctx {
    int64_t time_us;
    int found;
} probe_ctx;

static int probe_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                    size_t head_len)
{
    probe_ctx *c = arg;
    af_entry e;
    void *storage = NULL;

    (void)head;
    (void)head_len;
    if (audit_entry_read(&e, &storage, pos, entry, len) < 0)
        return VAULT_EINTEGRITY;
    c->time_us = e.time_us;
    c->found = 1;
    free(storage);
    return 1; /* one is enough */
}

static int time_at(int64_t *out, vault *v, const char *log, int64_t pos)
{
    int rc = VAULT_OK;
    probe_ctx c = {0, 0};

    GUARD(store_audit_scan_in(v->db, log, pos - 1, probe_fn, &c));
    ENSURE(c.found, VAULT_EINTEGRITY, "audit log: no entry at position %lld; run audit verify",
           (long long)pos);
    *out = c.time_us;
cleanup:
    return rc;
}

int audit__first_at_in(int64_t *out, vault *v, const char *log, int64_t t_us)
{
    int rc = VAULT_OK;
    int64_t n = 0, lo = 1, hi, t = 0;

    GUARD(store_audit_count_in(&n, v->db, log));
    hi = n + 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        GUARD(time_at(&t, v, log, mid));
        if (t < t_us)
            lo = mid + 1;
        else
            hi = mid;
    }
    *out = lo;
cleanup:
    return rc;
}

/* ---- the checked scan ---- */

typedef struct chain_ctx {
    int64_t first;    /* the first position handed out */
    int64_t last;     /* the last position checked (0: none yet) */
    int have_prev;    /* prev holds the head before `last + 1` */
    uint8_t prev[32];
    store_audit_fn fn;
    void *arg;
    int stopped;
} chain_ctx;

static int chain_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                    size_t head_len)
{
    chain_ctx *c = arg;
    uint8_t leaf[32], next[32];
    int rc = VAULT_OK, r;

    if (!c->have_prev) { /* the entry before `first`: only its head is used */
        ENSURE(pos == c->first - 1 && head && head_len == 32, VAULT_EINTEGRITY,
               "audit log: no entry with a chain head at position %lld; run audit verify",
               (long long)(c->first - 1));
        memcpy(c->prev, head, 32);
        c->have_prev = 1;
        c->last = pos;
        goto cleanup;
    }
    ENSURE(pos == c->last + 1, VAULT_EINTEGRITY,
           "audit log: no entry at position %lld (the next is at %lld); run audit verify",
           (long long)(c->last + 1), (long long)pos);
    af_leaf_hash(leaf, entry, len);
    af_chain_next(next, c->prev, leaf);
    ENSURE(head && head_len == 32 && memcmp(next, head, 32) == 0, /* memcmp ok: not secret */
           VAULT_EINTEGRITY,
           "audit log: the entry at position %lld does not match the chain; run audit verify",
           (long long)pos);
    memcpy(c->prev, next, 32);
    c->last = pos;
    r = c->fn(c->arg, pos, entry, len, head, head_len);
    if (r > 0)
        c->stopped = 1;
    rc = r;
cleanup:
    return rc;
}

int audit__first_at(int64_t *out, vault *v, int64_t t_us)
{
    return audit__first_at_in(out, v, STORE_LOG_CITY, t_us);
}

int audit__scan_checked_in(vault *v, const char *log, int64_t first, store_audit_fn fn, void *arg)
{
    int rc = VAULT_OK;
    chain_ctx c;
    af_merkle m;
    int64_t newest = 0;
    uint8_t *entry = NULL, head[32];
    size_t len = 0;

    memset(&c, 0, sizeof c);
    ENSURE(v && fn && first >= 1, VAULT_EINVALID, "audit scan: bad arguments");
    c.first = first;
    c.fn = fn;
    c.arg = arg;
    if (first == 1)
        c.have_prev = 1; /* head_0: 32 zero bytes */
    GUARD(store_audit_scan_in(v->db, log, first >= 2 ? first - 2 : 0, chain_fn, &c));
    if (c.stopped)
        goto cleanup;
    /* The newest head, as the MAC'd audit state vouches for it (a missing
     * or changed state fails here, as at every append). */
    GUARD(audit__tree_load_in(&m, NULL, v, log));
    GUARD(store_audit_last_in(&newest, &entry, &len, head, v->db, log));
    if (c.last < first) { /* nothing at or after `first` was handed out */
        ENSURE(newest < first, VAULT_EINTEGRITY,
               "audit log: the entries from position %lld are not all readable; run audit verify",
               (long long)first);
        goto cleanup;
    }
    ENSURE(newest == c.last && memcmp(head, c.prev, 32) == 0, /* memcmp ok: not secret */
           VAULT_EINTEGRITY,
           "audit log: the entries up to position %lld do not lead to the newest entry's "
           "head; run audit verify", (long long)c.last);
cleanup:
    free(entry);
    return rc;
}

int audit__scan_checked(vault *v, int64_t first, store_audit_fn fn, void *arg)
{
    return audit__scan_checked_in(v, STORE_LOG_CITY, first, fn, arg);
}

/* ---- every log ---- */

int audit__since_every_log(vault *v, int64_t t_us,
                           int (*each)(void *arg, const char *log, int64_t first), void *arg)
{
    int rc = VAULT_OK;
    store_log_list l = {0};
    int64_t lo = 0;
    size_t i;

    GUARD(store_audit_log_list(&l, v->db, 1));
    for (i = 0; i <= l.n; i++) {
        const char *log = i ? l.log[i - 1].name : STORE_LOG_CITY;
        /* an emptied log (its head row names entries it no longer has)
         * is no log with nothing to count */
        ENSURE(!i || l.log[i - 1].pos > 0, VAULT_EINTEGRITY,
               "audit log: log %s: its entries are gone (its head row names some); run audit "
               "verify", log);
        GUARD(audit__first_at_in(&lo, v, log, t_us));
        GUARD(each(arg, log, lo));
    }
cleanup:
    store_log_list_free(&l);
    return rc;
}

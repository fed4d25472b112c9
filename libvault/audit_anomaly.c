/* Access anomalies (issue 19; docs/audit-format.md "Anomalies"): who read
 * far more residents' data in a window than the others of the same role.
 *
 * The window's first entry is found by a binary search on the entries'
 * signed times (the log is appended in time order), so the scan costs the
 * window, not the log; every entry read is checked against the chain up
 * to the newest entry's MAC'd head (audit_scan.h), so no entry changed
 * or put in with the database key is counted.  Counted: the accesses to residents' data (read,
 * export, search) by session users; per role the median and the median
 * absolute deviation (MAD) of the users' counts; a user's score is the
 * modified z-score 0.6745 (count - median) / MAD (Iglewicz and Hoaglin),
 * with the MAD taken as at least 1 so that a role whose users all read
 * alike still ranks a user far above them.  Flagged: score >= 3.5 and at
 * least 3 times the role's median.  A role with fewer than 3 users has no
 * peers to compare with and is listed apart. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit.h"
#include "audit/audit_format.h"
#include "audit_scan.h"
#include "client/client.h"
#include "op.h"
#include "text.h"
#include "vault_int.h"

#define ANOM_USERS_MAX 100000 /* distinct users counted in one window */
#define ANOM_SCORE 3.5
#define ANOM_TIMES 3.0
#define ANOM_PEERS_MIN 3

typedef struct anom_user {
    char user[VAULT_NAME_MAX];
    char role[VAULT_NAME_MAX];
    char department[VAULT_NAME_MAX];
    int64_t count;
    double median, score;
    int peers; /* users of the role, this one included */
} anom_user;

typedef struct anom_ctx {
    vault *v;
    int64_t t0_us;
    anom_user *u;
    size_t n, cap;
    int64_t first_pos, entries; /* first_pos: the city log's */
} anom_ctx;

static int count_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                    size_t head_len);

static int count_log(void *arg, const char *log, int64_t lo)
{
    anom_ctx *c = arg;

    if (!*log)
        c->first_pos = lo;
    return audit__scan_checked_in(c->v, log, lo > 1 ? lo - 1 : 1, count_fn, c);
}

static int is_access(const char *action)
{
    return strcmp(action, "read") == 0 || strcmp(action, "export") == 0 ||
           strcmp(action, "search") == 0;
}

static int count_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                    size_t head_len)
{
    anom_ctx *c = arg;
    af_entry e;
    void *storage = NULL;
    size_t i;
    int rc = VAULT_OK;

    (void)head;
    (void)head_len;
    if (audit_entry_read(&e, &storage, pos, entry, len) < 0)
        return VAULT_EINTEGRITY;
    if (e.time_us < c->t0_us)
        goto cleanup; /* the entry before the window, checked with it */
    c->entries++;
    if (!*e.role || !is_access(e.action))
        goto cleanup;
    for (i = 0; i < c->n; i++)
        if (strcmp(c->u[i].user, e.user) == 0 && strcmp(c->u[i].role, e.role) == 0)
            break;
    if (i == c->n) {
        ENSURE(c->n < ANOM_USERS_MAX, VAULT_ELIMIT, "audit anomalies: more than %d users in the "
               "window: give a shorter one", ANOM_USERS_MAX);
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 64;
            anom_user *g = realloc(c->u, cap * sizeof *g);
            ENSURE(g, VAULT_ENOMEM, "out of memory");
            c->u = g;
            c->cap = cap;
        }
        memset(&c->u[i], 0, sizeof c->u[i]);
        snprintf(c->u[i].user, sizeof c->u[i].user, "%s", e.user);
        snprintf(c->u[i].role, sizeof c->u[i].role, "%s", e.role);
        snprintf(c->u[i].department, sizeof c->u[i].department, "%s", e.department);
        c->n++;
    }
    c->u[i].count++;
cleanup:
    free(storage);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static double median_of(int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_i64);
    return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2.0;
}

/* Each user's role median and score. */
static int score(anom_ctx *c)
{
    int rc = VAULT_OK;
    int64_t *v = NULL;
    size_t i, j, k;

    v = malloc((c->n ? c->n : 1) * sizeof *v);
    ENSURE(v, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < c->n; i++) {
        double med, mad;
        if (c->u[i].peers) /* this role is done */
            continue;
        for (j = i, k = 0; j < c->n; j++)
            if (strcmp(c->u[j].role, c->u[i].role) == 0)
                v[k++] = c->u[j].count;
        med = median_of(v, k);
        for (j = 0; j < k; j++) /* |x - med| * 2, kept integral */
            v[j] = (int64_t)fabs(2.0 * (double)v[j] - 2.0 * med);
        mad = median_of(v, k) / 2.0;
        if (mad < 1.0)
            mad = 1.0;
        for (j = i; j < c->n; j++)
            if (strcmp(c->u[j].role, c->u[i].role) == 0) {
                c->u[j].median = med;
                c->u[j].peers = (int)k;
                c->u[j].score = 0.6745 * ((double)c->u[j].count - med) / mad;
            }
    }
cleanup:
    free(v);
    return rc;
}

static int flagged(const anom_user *u)
{
    return u->peers >= ANOM_PEERS_MIN && u->score >= ANOM_SCORE &&
           (double)u->count >= ANOM_TIMES * u->median;
}

static int by_score(const void *a, const void *b)
{
    const anom_user *x = a, *y = b;

    if (flagged(x) != flagged(y))
        return flagged(y) - flagged(x);
    return x->score < y->score ? 1 : x->score > y->score ? -1 : strcmp(x->user, y->user);
}

int vault_audit_anomalies(char **out, vault *v, int64_t window, int as_json)
{
    int rc = VAULT_OK, entered = 0;
    anom_ctx c;
    af_entry e;
    int64_t now_us;
    char detail[64];
    json_t *arr = NULL;
    vault_buf b;
    size_t i, nflag = 0;

    memset(&c, 0, sizeof c);
    vault__buf_init(&b, "audit anomalies", 0, 0);
    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    ENSURE(v, VAULT_EINVALID, "missing vault handle");
    ENSURE(window >= 60 && window <= 366 * 86400, VAULT_EINVALID,
           "audit anomalies: the window must be 1m ... 366d");
    if (v->remote) {
        rc = client_audit_anomalies(out, v, window, as_json);
        goto cleanup;
    }
    GUARD(vault__enter(v));
    entered = 1;
    /* A query of the log about people: logged first, like the reports. */
    GUARD(op_begin(v, OP_WRITE));
    audit_entry_init(&e, v, NULL, "audit_anomalies");
    snprintf(detail, sizeof detail, "window %" PRId64 "s", window);
    e.detail = detail;
    GUARD(audit_append(v, &e));
    GUARD(op_commit(v));
    now_us = vault__now() * 1000000;
    c.t0_us = now_us - window * 1000000;
    GUARD(op_begin(v, OP_STANDBY_READ));
    /* In every log, the first entry at or after t0 (each log is in time
     * order); the one before it is checked too, so the search's last
     * probe is. */
    c.v = v;
    GUARD(audit__since_every_log(v, c.t0_us, count_log, &c));
    op_rollback(v);
    GUARD(score(&c));
    if (c.n)
        qsort(c.u, c.n, sizeof *c.u, by_score);
    for (i = 0; i < c.n; i++)
        nflag += flagged(&c.u[i]);
    if (as_json) {
        arr = json_array();
        ENSURE(arr, VAULT_ENOMEM, "out of memory");
        for (i = 0; i < c.n; i++) {
            json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:f, s:f, s:i, s:b}", "user", c.u[i].user,
                                  "role", c.u[i].role, "department", c.u[i].department, "count",
                                  (json_int_t)c.u[i].count, "role_median", c.u[i].median, "score",
                                  c.u[i].score, "peers", c.u[i].peers, "flagged",
                                  flagged(&c.u[i]));
            ENSURE(o && json_array_append_new(arr, o) == 0, VAULT_ENOMEM, "out of memory");
        }
        *out = json_dumps(arr, JSON_INDENT(2));
        ENSURE(*out, VAULT_ENOMEM, "out of memory");
        goto cleanup;
    }
    vault__buf_printf(&b, "%zu of %zu users far above the others of their role in the last %" PRId64
                      "s (%" PRId64 " entries read, the city log's from position %" PRId64 ")\n",
                      nflag, c.n, window, c.entries, c.first_pos);
    for (i = 0; i < c.n; i++) {
        if (!flagged(&c.u[i]))
            continue;
        vault__buf_printf(&b, "  %s (%s/%s): %" PRId64 " accesses, the role's median %.1f, score %.1f\n",
                          c.u[i].user, c.u[i].role, c.u[i].department, c.u[i].count,
                          c.u[i].median, c.u[i].score);
    }
    for (i = 0; i < c.n; i++)
        if (c.u[i].peers < ANOM_PEERS_MIN)
            vault__buf_printf(&b, "  (not ranked: %s (%s), fewer than %d users of the role)\n",
                              c.u[i].user, c.u[i].role, ANOM_PEERS_MIN);
    *out = vault__buf_steal(&b);
    ENSURE(*out, VAULT_ENOMEM, "out of memory");
cleanup:
    if (entered)
        op_rollback(v);
    vault__exit(v, entered);
    json_decref(arr);
    vault__buf_free(&b);
    free(c.u);
    return rc;
}

/* audit_claims: parsing and walking the city log's claims of shard heads
 * (audit_claims.h; docs/audit-format.md §5 "Shard logs"). */
#include <stdlib.h>
#include <string.h>

#include "audit_claims.h"

typedef unsigned long long ull;

int af_claim_line(char **text, size_t *len, size_t *cap, const char *log, uint64_t size,
                  const uint8_t root[32])
{
    static const char hexd[] = "0123456789abcdef";
    size_t n = strlen(log), at;
    int i;

    if (vault__grow((void **)text, cap, *len + n + 96, 1, 4096) < 0)
        return VAULT_ENOMEM;
    at = *len + (size_t)snprintf(*text + *len, *cap - *len, "%llu ", (ull)size);
    for (i = 0; i < 32; i++) {
        (*text)[at++] = hexd[root[i] >> 4];
        (*text)[at++] = hexd[root[i] & 15];
    }
    (*text)[at++] = ' ';
    memcpy(*text + at, log, n);
    at += n;
    (*text)[at++] = '\n';
    (*text)[at] = '\0';
    *len = at;
    return VAULT_OK;
}

static int hex_lower(uint8_t out[32], const char *h)
{
    int i;

    for (i = 0; i < 64; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return 0;
    for (i = 0; i < 32; i++) {
        unsigned hi = (unsigned char)h[2 * i], lo = (unsigned char)h[2 * i + 1];

        out[i] = (uint8_t)(((hi <= '9' ? hi - '0' : hi - 'a' + 10) << 4) |
                           (lo <= '9' ? lo - '0' : lo - 'a' + 10));
    }
    return 1;
}

/* The lines of one detail: 0, -1 when one does not parse (nothing of this
 * detail is kept then), VAULT_ENOMEM. */
static int claims_parse(af_claims *l, const char *d)
{
    size_t first = l->n;

    while (*d) {
        const char *nl = strchr(d, '\n'), *sp1, *sp2;
        size_t n = nl ? (size_t)(nl - d) : strlen(d), name;
        af_checkpoint *c;
        uint64_t size = 0;

        sp1 = memchr(d, ' ', n);
        sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - d)) : NULL;
        name = sp2 ? (size_t)(d + n - sp2 - 1) : 0;
        if (!nl || !sp2 || sp2 - sp1 - 1 != 64 || name == 0 || name > AF_LOG_NAME_MAX ||
            !af_parse_u64(&size, d, (size_t)(sp1 - d)) || size == 0)
            goto bad;
        if (vault__grow((void **)&l->c, &l->cap, l->n + 1, sizeof *l->c, 16) < 0)
            return VAULT_ENOMEM;
        c = &l->c[l->n];
        memset(c, 0, sizeof *c);
        if (!hex_lower(c->root, sp1 + 1))
            goto bad;
        c->size = size;
        c->claimed = 1;
        memcpy(c->origin, sp2 + 1, name);
        c->origin[name] = '\0';
        if (strlen(c->origin) != name)
            goto bad;
        /* one entry claims a log once: two heads of it would let a proof
         * pick the one the log does not have */
        for (size_t k = first; k < l->n; k++)
            if (strcmp(l->c[k].origin, c->origin) == 0)
                goto bad;
        l->n++;
        d = nl + 1;
    }
    return 0;
bad:
    l->n = first;
    return -1;
}

int af_claims_take(af_claims *l, uint64_t pos, const uint8_t *entry, size_t len)
{
    af_entry e;
    void *st = NULL;
    int rc = VAULT_OK, r;

    if (!memmem(entry, len, AF_ACTION_LOG_HEADS, sizeof AF_ACTION_LOG_HEADS - 1))
        return VAULT_OK;
    if (af_entry_decode(&e, &st, entry, len) < 0) {
        vault__err_clear(); /* the verifier names a damaged entry */
        return VAULT_OK;
    }
    if (e.action && strcmp(e.action, AF_ACTION_LOG_HEADS) == 0 && e.outcome == AF_OUTCOME_OK) {
        r = claims_parse(l, e.detail ? e.detail : "");
        if (r == -1 && !l->bad) { /* the first is named */
            l->bad = 1;
            l->bad_pos = pos;
        } else if (r < 0 && r != -1) {
            rc = r;
        }
    }
    free(st);
    return rc;
}

static int claim_cmp(const void *a, const void *b)
{
    const af_checkpoint *x = a, *y = b;
    int c = strcmp(x->origin, y->origin);

    return c ? c : (x->size > y->size) - (x->size < y->size);
}

void af_claims_sort(af_claims *l)
{
    if (l->n > 1)
        qsort(l->c, l->n, sizeof *l->c, claim_cmp);
}

const af_checkpoint *af_claims_next(af_claims *l, size_t *cursor, const char *log, size_t *n,
                                    af_verify_result *r, const char *source)
{
    size_t k = *cursor, first;

    *n = 0;
    while (k < l->n && (!log || strcmp(l->c[k].origin, log) < 0)) {
        if (r->cls == AF_OK)
            af_verify_set(r, AF_ROLLBACK, 1,
                          "log %.80s: rolled back (the city log claims %llu entries of it, %s "
                          "has none)", l->c[k].origin, (ull)l->c[k].size, source);
        k++;
    }
    first = k;
    while (log && k < l->n && strcmp(l->c[k].origin, log) == 0)
        k++;
    *cursor = k;
    *n = k - first;
    return *n ? l->c + first : NULL;
}

void af_verify_in_log(af_verify_result *r, const char *log)
{
    char msg[sizeof r->message];
    int at;

    memcpy(msg, r->message, sizeof msg);
    at = snprintf(r->message, sizeof r->message, "log %.80s: ", log);
    if (at > 0 && (size_t)at < sizeof r->message) {
        size_t n = strnlen(msg, sizeof r->message - (size_t)at - 1);

        memcpy(r->message + at, msg, n);
        r->message[(size_t)at + n] = '\0';
    }
}

void af_claims_free(af_claims *l)
{
    free(l->c);
    memset(l, 0, sizeof *l);
}

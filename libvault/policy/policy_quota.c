/* Policy files: the `quotas:` section (docs/policy-format.md "Quotas").
 * A search quota lets a role search a field whose read it sees only
 * masked, a bounded number of times per user and period: each such search
 * confirms or refutes a guess of the hidden value, so without a bound a
 * search undoes the mask (DESIGN.md §3, blind index).  An access quota
 * bounds the records (`reads:`) or the distinct residents (`residents:`)
 * each user reads per period.  The counting is the session's
 * (libvault/session.c, store table quota_use). */
#include <stdio.h>
#include <string.h>

#include "policy_int.h"

#define VP_QUOTAS_MAX 1024
#define VP_QUOTA_COUNT_MAX 1000000

static uint64_t *bits_new(pctx *c, size_t words)
{
    uint64_t *b = vp_alloc(&c->p->arena, (words ? words : 1) * sizeof *b);

    if (b == NULL)
        c->oom = 1;
    return b;
}

/* A whole number 1..VP_QUOTA_COUNT_MAX, or -1 (reported). */
static int64_t want_count(pctx *c, const vnode *n, const char *what)
{
    int64_t v = 0;
    size_t i;

    if (!vp_want(c, n, VN_SCALAR, what))
        return -1;
    for (i = 0; i < n->len; i++) {
        if (n->s[i] < '0' || n->s[i] > '9' || v > VP_QUOTA_COUNT_MAX)
            break;
        v = v * 10 + (n->s[i] - '0');
    }
    if (n->len == 0 || i < n->len || v < 1 || v > VP_QUOTA_COUNT_MAX) {
        vp_diag_n(c, VP_ERR, n, "%s must be a whole number from 1 to %d", what,
                  VP_QUOTA_COUNT_MAX);
        return -1;
    }
    return v;
}

static void list_into(pctx *c, uint64_t *bits, const vnode *n, int kind, const char *what)
{
    size_t count, i;

    if (n->type == VN_MAP || (n->type == VN_SCALAR && n->is_null) ||
        (n->type == VN_SEQ && n->n == 0)) {
        vp_diag_n(c, VP_ERR, n, "%s must be a non-empty list (or a single name)", what);
        return;
    }
    count = vp_list_len(n);
    if (count > VP_LIST_MAX) {
        vp_diag_n(c, VP_ERR, n, "%s: too many items, at most %d", what, VP_LIST_MAX);
        c->limit = 1;
        return;
    }
    for (i = 0; i < count; i++) {
        int k = vp_lookup(c, kind, vp_list_at(n, i));

        if (k >= 0)
            vp_setbit(bits, (size_t)k);
    }
}

static void parse_quota(pctx *c, vp_quota *q, const vnode *m, vp_map *ids)
{
    static const vp_keydef defs[] = {
        {"id", 1},       {"description", 0}, {"role", 1},  {"department", 0},
        {"purposes", 0}, {"fields", 0},      {"searches", 0}, {"per", 1},
        {"reads", 0},    {"over", 0},        {"residents", 0},
    };
    enum { ID, DESC, ROLE, DEPT, PURPOSES, FIELDS, SEARCHES, PER, READS, OVER, RESIDENTS };
    /* the three limits, in the order a quota names them in messages */
    static const struct {
        int key, kind;
        const char *name;
    } limits[] = {
        {SEARCHES, VP_QUOTA_SEARCH, "searches"},
        {READS, VP_QUOTA_READS, "reads"},
        {RESIDENTS, VP_QUOTA_RESIDENTS, "residents"},
    };
    const vnode *lim = NULL;
    const vnode *v[VAULT_ARRAY_LEN(defs)];
    vault_policy *p = c->p;
    size_t i;
    int prev;

    q->role = -1;
    q->dept = -1;
    q->line = m->line;
    if (!vp_map_keys(c, m, "quota", defs, VAULT_ARRAY_LEN(defs), v))
        return;
    if (v[ID] != NULL && vp_want_name(c, v[ID], "quota id")) {
        q->id = vp_strndup(&p->arena, v[ID]->s, v[ID]->len);
        if (q->id == NULL) {
            c->oom = 1;
            return;
        }
        prev = vp_map_put(ids, q->id, v[ID]->len, (int)v[ID]->line);
        if (prev < -1)
            c->oom = 1;
        else if (prev >= 0)
            vp_diag_n(c, VP_ERR, v[ID], "duplicate quota id '%s' (first at line %d)", q->id, prev);
    }
    if (v[DESC] != NULL)
        (void)vp_want_text(c, v[DESC], "description");
    if (v[ROLE] != NULL)
        q->role = vp_lookup(c, VP_K_ROLE, v[ROLE]);
    if (v[DEPT] != NULL)
        q->dept = vp_lookup(c, VP_K_DEPT, v[DEPT]);
    if (q->role >= 0 && q->dept >= 0 && p->roles[q->role].depts != NULL &&
        !vp_bit(p->roles[q->role].depts, (size_t)q->dept))
        vp_diag_n(c, VP_WARN, v[DEPT], "role '%s' does not exist in department '%s': this quota "
                  "never applies", p->roles[q->role].n.name, p->depts[q->dept].name);
    q->purposes = bits_new(c, p->pw);
    q->fields = bits_new(c, p->fw);
    if (q->purposes == NULL || q->fields == NULL)
        return;
    q->any_purpose = v[PURPOSES] == NULL;
    if (v[PURPOSES] != NULL)
        list_into(c, q->purposes, v[PURPOSES], VP_K_PURPOSE, "purposes");
    if (v[FIELDS] != NULL) {
        list_into(c, q->fields, v[FIELDS], VP_K_FIELD, "fields");
        for (i = 0; i < p->nfields; i++)
            if (vp_bit(q->fields, i) && !p->fields[i].index_exact)
                vp_diag_n(c, VP_ERR, v[FIELDS], "field '%s' has no blind index ('index: exact'): "
                          "it can't be searched, so a search quota for it means nothing",
                          p->fields[i].name);
    }
    /* Exactly one limit: searches (with fields), reads or residents
     * (without).  The second one given is the error. */
    for (i = 0; i < VAULT_ARRAY_LEN(limits); i++) {
        const vnode *n = v[limits[i].key];

        if (n == NULL)
            continue;
        if (lim != NULL) {
            vp_diag_n(c, VP_ERR, n, "a quota counts one of searches, reads or residents, not "
                      "both %s and %s: split it", limits[q->kind].name, limits[i].name);
            continue;
        }
        lim = n;
        q->kind = limits[i].kind;
        q->searches = want_count(c, n, limits[i].name);
    }
    if (lim == NULL)
        vp_diag_n(c, VP_ERR, m, "quota '%s' has no limit: give searches (with fields), reads or "
                  "residents", q->id ? q->id : "(no id)");
    else if (q->kind == VP_QUOTA_SEARCH && v[FIELDS] == NULL)
        vp_diag_n(c, VP_ERR, lim, "a search quota needs the fields it lets be searched");
    else if (q->kind == VP_QUOTA_READS && v[FIELDS] != NULL)
        vp_diag_n(c, VP_ERR, v[FIELDS], "a reads quota counts records read, whatever the "
                  "fields: drop fields");
    else if (q->kind == VP_QUOTA_RESIDENTS && v[FIELDS] != NULL)
        vp_diag_n(c, VP_ERR, v[FIELDS], "a residents quota counts the residents read, whatever "
                  "the fields: drop fields");
    q->over = VP_OVER_DENY;
    if (v[OVER] != NULL && vp_want(c, v[OVER], VN_SCALAR, "over")) {
        if (v[OVER]->len == 5 && memcmp(v[OVER]->s, "alert", 5) == 0) /* memcmp ok: not secret */
            q->over = VP_OVER_ALERT;
        else if (!(v[OVER]->len == 4 && memcmp(v[OVER]->s, "deny", 4) == 0)) { /* memcmp ok: not secret */
            char qq[80];
            vp_quote(qq, sizeof qq, v[OVER]->s, v[OVER]->len);
            vp_diag_n(c, VP_ERR, v[OVER], "unknown over '%s': use deny or alert", qq);
        }
    }
    if (v[PER] != NULL)
        q->per = vp_want_duration(c, v[PER], "per");
}

int vp_parse_quotas(pctx *c, const vnode *seq)
{
    vault_policy *p = c->p;
    vp_map ids = {NULL, 0, 0};
    size_t n, i;

    if (!vp_want(c, seq, VN_SEQ, "quotas"))
        return VAULT_OK;
    n = seq->n;
    if (n > VP_QUOTAS_MAX) {
        vp_diag_n(c, VP_ERR, seq->kids[VP_QUOTAS_MAX], "too many quotas: at most %d",
                  VP_QUOTAS_MAX);
        c->limit = 1;
        n = VP_QUOTAS_MAX;
    }
    if (n == 0)
        return VAULT_OK;
    p->quotas = vp_alloc(&p->arena, n * sizeof *p->quotas);
    if (p->quotas == NULL) {
        c->oom = 1;
        return VAULT_OK;
    }
    for (i = 0; i < n; i++)
        parse_quota(c, &p->quotas[i], seq->kids[i], &ids);
    p->nquotas = n;
    vp_map_free(&ids);
    return c->oom ? vault__err(VAULT_ENOMEM, "policy: out of memory") : VAULT_OK;
}

const vp_quota *policy_search_quota(const vault_policy *p, const char *role, const char *dept,
                                    const char *purpose, const char *field)
{
    int r, d, q, f;
    size_t i;

    if (p == NULL || role == NULL || dept == NULL || purpose == NULL || field == NULL)
        return NULL;
    r = vp_map_gets(&p->role_map, role);
    d = vp_map_gets(&p->dept_map, dept);
    q = vp_map_gets(&p->purpose_map, purpose);
    f = vp_map_gets(&p->field_map, field);
    if (r < 0 || d < 0 || q < 0 || f < 0)
        return NULL;
    for (i = 0; i < p->nquotas; i++) {
        const vp_quota *x = &p->quotas[i];

        if (x->id == NULL || x->kind != VP_QUOTA_SEARCH || x->searches <= 0 || x->per <= 0 ||
            x->role != r ||
            (x->dept >= 0 && x->dept != d) || !vp_bit(x->fields, (size_t)f) ||
            (!x->any_purpose && !vp_bit(x->purposes, (size_t)q)))
            continue;
        return x;
    }
    return NULL;
}

size_t policy_quota_count(const vault_policy *p)
{
    return p ? p->nquotas : 0;
}

size_t policy_read_quotas(const vp_quota **out, size_t cap, const vault_policy *p,
                          const char *role, const char *dept, const char *purpose)
{
    int r, d, q;
    size_t i, n = 0;

    if (p == NULL || role == NULL || dept == NULL || purpose == NULL)
        return 0;
    r = vp_map_gets(&p->role_map, role);
    d = vp_map_gets(&p->dept_map, dept);
    q = vp_map_gets(&p->purpose_map, purpose);
    if (r < 0 || d < 0 || q < 0)
        return 0;
    for (i = 0; i < p->nquotas && n < cap; i++) {
        const vp_quota *x = &p->quotas[i];

        if (x->id == NULL || x->kind == VP_QUOTA_SEARCH || x->searches <= 0 || x->per <= 0 ||
            x->role != r || (x->dept >= 0 && x->dept != d) ||
            (!x->any_purpose && !vp_bit(x->purposes, (size_t)q)))
            continue;
        out[n++] = x;
    }
    return n;
}

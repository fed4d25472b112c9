/* grants: time-bound access issued by data officers within the policy's
 * grant_limits, second-officer approval, revocation, break-glass. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "audit/audit.h"
#include "crypto.h"
#include "grants.h"
#include "text.h"
#include "op.h"
#include "client/client.h"

#define GRANT_ACTIONS ((1u << VAULT_ACTION_READ) | (1u << VAULT_ACTION_SEARCH) | (1u << VAULT_ACTION_EXPORT))
#define DETAIL_MAX 1024
#define LIST_MAX 1024 /* entries in a grant's field, record or purpose list */

/* ---- small helpers ---- */

static int join(char **out, const char *const *items, size_t n)
{
    size_t i, len = 1;
    char *s, *p;

    *out = NULL;
    if (n == 0)
        return VAULT_OK;
    for (i = 0; i < n; i++)
        len += strlen(items[i]) + 1;
    s = p = malloc(len);
    if (!s)
        return vault__err(VAULT_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        size_t k = strlen(items[i]);
        memcpy(p, items[i], k);
        p += k;
        *p++ = i + 1 < n ? '\n' : '\0';
    }
    *out = s;
    return VAULT_OK;
}

/* ISO 8601 UTC.  Times come range-checked (VP_TIME_MAX), but gmtime_r
 * still fails on a platform whose time_t is narrower: say so. */
static int time_text(char *out, size_t cap, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tmv;

    if (t < 0 || t > VP_TIME_MAX || (int64_t)tt != t || !gmtime_r(&tt, &tmv) ||
        strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tmv) == 0)
        return vault__err(VAULT_EINVALID, "time %lld is outside 1970..9999", (long long)t);
    return VAULT_OK;
}

static int time_ok(int64_t t)
{
    return t >= 0 && t <= VP_TIME_MAX;
}

typedef struct get_ctx {
    owned_grant *out;
    const vault_policy *p;
} get_ctx;

static int get_fn(void *arg, const store_grant *s)
{
    get_ctx *c = arg;

    return grants__own(c->out, c->p, s);
}

static int load_grant(owned_grant *out, vault *v, const char *id)
{
    get_ctx c = {out, v->policy};

    memset(out, 0, sizeof *out);
    if (!id || !*id || strlen(id) >= VAULT_NAME_MAX)
        return vault__err(VAULT_EINVALID, "missing or malformed grant id");
    return store_grant_get(v->db, id, get_fn, &c);
}

/* ---- refusals ---- */

/* Codes that mean "refused" (the request was looked at and turned down),
 * as opposed to failures of the vault itself. */
#define is_refusal op_is_refusal

/* Log the refusal of `action` (op_refused) and return `code`. */
static int refuse(vault_session *s, const char *action, const uint8_t *rid, const char *saved,
                  const char *request, int code)
{
    vault__err(code, "%s", saved);
    return op_refused(s->v, s, action, rid, code, request);
}

/* A bounded text line built piece by piece; caller text is escaped. */
typedef struct line {
    char *s;
    size_t cap, len;
} line;

static void line_printf(line *l, const char *fmt, ...) VAULT_PRINTF(2, 3);
static void line_printf(line *l, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (l->len + 1 >= l->cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(l->s + l->len, l->cap - l->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    l->len = (size_t)n >= l->cap - l->len ? l->cap - 1 : l->len + (size_t)n;
}

/* Caller-supplied text, escaped and cut to `max` bytes. */
static void line_text(line *l, const char *t, size_t max)
{
    char *esc = NULL;
    size_t n;

    if (!t) {
        line_printf(l, "*");
        return;
    }
    n = strnlen(t, max + 1);
    if (vault__text_escape(&esc, t, n > max ? max : n) < 0) {
        vault__err_clear();
        line_printf(l, "?");
        return;
    }
    line_printf(l, "%s%s", esc, n > max ? "..." : "");
    free(esc);
}

static void line_time(line *l, int64_t t)
{
    char buf[32];

    if (time_text(buf, sizeof buf, t) == VAULT_OK)
        line_printf(l, "%s", buf);
    else {
        vault__err_clear();
        line_printf(l, "%lld", (long long)t);
    }
}

static void line_list(line *l, const char *const *items, size_t n)
{
    for (size_t i = 0; i < n && i < 16; i++) {
        line_printf(l, "%s", i ? "," : "");
        line_text(l, items ? items[i] : NULL, 64);
    }
    if (n > 16)
        line_printf(l, ",...(%zu)", n);
}

static void line_actions(line *l, unsigned actions)
{
    static const int order[] = {VAULT_ACTION_READ, VAULT_ACTION_SEARCH, VAULT_ACTION_EXPORT};
    int first = 1;

    for (size_t i = 0; i < VAULT_ARRAY_LEN(order); i++)
        if (actions & (1u << order[i])) {
            line_printf(l, "%s%s", first ? "" : ",",
                        order[i] == VAULT_ACTION_READ     ? "read"
                        : order[i] == VAULT_ACTION_SEARCH ? "search"
                                                          : "export");
            first = 0;
        }
    if (first)
        line_printf(l, "none");
}

/* A grant request as the caller gave it, for the log of a refusal: the
 * parameters, never a value (a grant carries none). */
static void describe_spec(char *out, size_t cap, const vault_grant_spec *g)
{
    line l = {out, cap, 0};

    out[0] = '\0';
    line_printf(&l, "%s ", g->effect == VAULT_EFFECT_MASK ? "mask" : "allow");
    if (g->nfields) {
        line_printf(&l, "fields=");
        line_list(&l, g->fields, g->nfields);
    } else {
        line_printf(&l, "grades=");
        line_text(&l, g->grade_min, 64);
        line_printf(&l, "..");
        line_text(&l, g->grade_max, 64);
    }
    line_printf(&l, " actions=");
    line_actions(&l, g->actions ? g->actions : 1u << VAULT_ACTION_READ);
    line_printf(&l, " to user=");
    line_text(&l, g->user, 64);
    line_printf(&l, " role=");
    line_text(&l, g->role, 64);
    line_printf(&l, " dept=");
    line_text(&l, g->department, 64);
    if (g->nrecords) {
        line_printf(&l, ", records=");
        line_list(&l, g->records, g->nrecords);
    } else {
        line_printf(&l, ", within ");
        line_text(&l, g->jurisdiction, 128);
    }
    line_printf(&l, ", purposes=");
    if (g->npurposes)
        line_list(&l, g->purposes, g->npurposes);
    else
        line_printf(&l, "any");
    line_printf(&l, ", ");
    if (g->not_before)
        line_time(&l, g->not_before);
    else
        line_printf(&l, "now");
    line_printf(&l, " .. ");
    line_time(&l, g->not_after);
    line_printf(&l, ": ");
    line_text(&l, g->reason, 200);
}

/* Keep the message that refused a request, describe the request with
 * describe_req (which may touch the thread's error), and log both. */
typedef void (*request_fn)(line *l, const void *arg);

static int refused(vault_session *s, const char *action, const uint8_t *rid, int code,
                   request_fn describe_req, const void *arg)
{
    char saved[512], request[DETAIL_MAX];
    line l = {request, sizeof request, 0};

    snprintf(saved, sizeof saved, "%s", vault_error_last());
    request[0] = '\0';
    describe_req(&l, arg);
    return refuse(s, action, rid, saved, request, code);
}

static void spec_request(line *l, const void *arg)
{
    describe_spec(l->s, l->cap, arg);
    l->len = strlen(l->s);
}

/* Describe a stored or new grant for the audit log and listings. */
static void describe(char *out, size_t cap, const vault_policy *p, const vp_grant *g,
                     const char *reason, int pending)
{
    line l = {out, cap, 0};

    out[0] = '\0';
    line_printf(&l, "%s %s ", g->id, g->effect == VAULT_EFFECT_ALLOW ? "allow" : "mask");
    if (g->nfields) {
        line_printf(&l, "fields=");
        line_list(&l, g->fields, g->nfields);
    } else {
        line_printf(&l, "grades=%s..%s", policy_grade_name(p, (size_t)g->grade_min),
                    policy_grade_name(p, (size_t)g->grade_max));
    }
    line_printf(&l, " actions=");
    line_actions(&l, g->actions);
    line_printf(&l, " to user=");
    line_text(&l, g->user, 64);
    line_printf(&l, " role=%s dept=%s, ", g->role ? g->role : "*",
                g->department ? g->department : "*");
    if (g->nrecords)
        line_printf(&l, "%zu record%s", g->nrecords, g->nrecords == 1 ? "" : "s");
    else
        line_printf(&l, "within %s", g->jurisdiction ? g->jurisdiction : "?");
    line_printf(&l, ", purposes=");
    if (g->npurposes)
        line_list(&l, g->purposes, g->npurposes);
    else
        line_printf(&l, "any");
    line_printf(&l, ", ");
    line_time(&l, g->not_before);
    line_printf(&l, " .. ");
    line_time(&l, g->not_after);
    line_printf(&l, "%s: ", pending ? " (pending approval)" : "");
    line_text(&l, reason, 511);
}

/* ---- the checks every officer action shares ---- */

/* 1 when user names a and b are one person (compared in normalised
 * form; a stored name that no longer normalises is compared as stored). */
static int same_user(const char *a, const char *b)
{
    char na[VAULT_NAME_MAX], nb[VAULT_NAME_MAX];

    if (!a || !b)
        return 0;
    if (vault__user_norm(na, sizeof na, a, "user") < 0 ||
        vault__user_norm(nb, sizeof nb, b, "user") < 0) {
        vault__err_clear();
        return strcmp(a, b) == 0;
    }
    return strcmp(na, nb) == 0;
}

/* The principal a grant row records for session s: the token's issuer
 * and subject, the app and the token id, as authenticated; all NULL for
 * an embedded caller (whose name is all the row can say). */
static store_principal row_principal(const vault_session *s)
{
    store_principal p = {NULL, NULL, NULL, NULL};

    if (s->who.issuer[0]) {
        p.iss = s->who.issuer;
        p.sub = s->who.subject;
    }
    if (s->who.app[0])
        p.app = s->who.app;
    if (s->who.token_id[0])
        p.jti = s->who.token_id;
    return p;
}

/* 1 when s is the person who issued o, as authenticated: the same token
 * issuer and subject, whatever user name either token's claims gave.
 * iss and sub compare exactly: they are case-sensitive strings. */
static int same_subject(const owned_grant *o, const vault_session *s)
{
    return o->issued_by.iss && o->issued_by.sub && s->who.issuer[0] &&
           strcmp(o->issued_by.iss, s->who.issuer) == 0 &&
           strcmp(o->issued_by.sub, s->who.subject) == 0;
}

/* 1 when session s is among the people g's recipient pattern names: its
 * user is the pattern's user, or its role and department fit the
 * pattern's role and department part.  Stricter than a decision match on
 * purpose: {user: bob, role: clerk} also touches every clerk. */
static int pattern_touches(const vp_grant *g, const vault_session *s)
{
    if (g->user && same_user(g->user, s->user))
        return 1;
    if (!g->role && !g->department)
        return 0;
    return (!g->role || strcmp(g->role, s->role) == 0) &&
           (!g->department || strcmp(g->department, s->department) == 0);
}

/* The grant's scope lies inside `jurisdiction` (an officer's own): its
 * subtree is inside it, or every listed record lives inside it.  Unknown
 * records are VAULT_ENOTFOUND.  `who` names the officer in the message. */
static int scope_within(vault *v, const vp_grant *g, const char *jurisdiction, const char *who)
{
    int rc = VAULT_OK;
    uint8_t rid[VAULT_ID_BYTES];
    record_row rec = {0};

    if (g->nrecords == 0) {
        ENSURE(g->jurisdiction && policy_jurisdiction_within(g->jurisdiction, jurisdiction),
               VAULT_EDENIED, "the grant covers %s, outside the %s's own jurisdiction %s",
               g->jurisdiction ? g->jurisdiction : "?", who, jurisdiction);
        goto cleanup;
    }
    for (size_t i = 0; i < g->nrecords; i++) {
        GUARD(vault__id_parse(rid, g->records[i]));
        {
            record_ctx rx = vault__record_ctx(v);

            rc = record_load(&rec, &rx, rid);
        }
        ENSURE(rc != VAULT_ENOTFOUND, VAULT_ENOTFOUND, "the grant names record %s, which does "
               "not exist", g->records[i]);
        GUARD(rc);
        ENSURE(policy_jurisdiction_within(rec.jurisdiction, jurisdiction), VAULT_EDENIED,
               "the grant names record %s, outside the %s's own jurisdiction %s", g->records[i],
               who, jurisdiction);
    }
cleanup:
    record_row_free(&rec);
    return rc;
}

/* Fields g selects under p, as one flag per declared field. */
static void field_flags(uint8_t *out, const vault_policy *p, const vp_grant *g)
{
    size_t n = policy_field_count(p);

    for (size_t f = 0; f < n; f++) {
        const vp_field *pf = policy_field_at(p, f);
        out[f] = 0;
        if (g->nfields == 0)
            out[f] = pf->grade >= g->grade_min && pf->grade <= g->grade_max;
        for (size_t k = 0; k < g->nfields && !out[f]; k++)
            out[f] = strcmp(g->fields[k], pf->name) == 0;
    }
}

/* 1 when one person could match both recipient patterns (user, role,
 * department against b's): no attribute that both name differs, and a
 * role one names can exist in a department the other names.  So
 * {department: X}, {user: u, department: X} and {user: u, role: r,
 * department: X} all meet: changing the pattern doesn't restart a period. */
static int patterns_meet(const vault_policy *p, const char *user, const char *role,
                         const char *dept, const vp_grant *b)
{
    const char *r = role ? role : b->role, *d = dept ? dept : b->department;

    if (user && b->user && !same_user(user, b->user))
        return 0;
    if (role && b->role && strcmp(role, b->role) != 0)
        return 0;
    if (dept && b->department && strcmp(dept, b->department) != 0)
        return 0;
    return !(r && d && !policy_role_in_department(p, r, d));
}

/* 1 when a's and b's scopes may cover one record: nested subtrees, a
 * shared record id, or (not looked up) a record list against a subtree. */
static int scopes_meet(const vp_grant *a, const vp_grant *b)
{
    if (a->nrecords == 0 && b->nrecords == 0)
        return policy_jurisdiction_within(a->jurisdiction, b->jurisdiction) ||
               policy_jurisdiction_within(b->jurisdiction, a->jurisdiction);
    if (a->nrecords && b->nrecords) {
        for (size_t i = 0; i < a->nrecords; i++)
            for (size_t k = 0; k < b->nrecords; k++)
                if (strcmp(a->records[i], b->records[k]) == 0)
                    return 1;
        return 0;
    }
    return 1;
}

typedef struct span {
    int64_t from, until;
    int is_new; /* the grant being checked */
} span;

typedef struct chain_ctx {
    const vault_policy *p;
    const vp_grant *g;
    const uint8_t *gf; /* g's field flags */
    uint8_t *tf;       /* scratch */
    size_t nf;
    span *spans;
    size_t n, cap;
    int64_t now;
} chain_ctx;

static int chain_fn(void *arg, const store_grant *s)
{
    chain_ctx *c = arg;
    owned_grant o;
    int meets = 0, rc;
    int64_t until;

    if (s->break_glass) /* bounded by break_glass.max_per_day instead */
        return 0;
    if (strcmp(s->state, "pending") == 0 && s->not_after <= c->now)
        return 0; /* expired unapproved: it never gave access */
    if (!patterns_meet(c->p, s->user, s->role, s->department, c->g))
        return 0;
    rc = grants__own(&o, c->p, s);
    if (rc < 0)
        return rc;
    if (o.usable && scopes_meet(&o.g, c->g)) {
        field_flags(c->tf, c->p, &o.g);
        for (size_t f = 0; f < c->nf && !meets; f++)
            meets = c->tf[f] && c->gf[f];
    }
    until = o.g.not_after;
    /* A revoked or suspended grant gave access until it was stopped. */
    if ((strcmp(s->state, "revoked") == 0 || strcmp(s->state, "suspended") == 0) && s->changed &&
        s->changed < until)
        until = s->changed;
    if (meets && until > o.g.not_before) {
        if (c->n == c->cap) {
            span *grown;
            c->cap = c->cap ? c->cap * 2 : 16;
            grown = realloc(c->spans, c->cap * sizeof *grown);
            if (!grown) {
                grants__own_free(&o);
                return vault__err(VAULT_ENOMEM, "out of memory");
            }
            c->spans = grown;
        }
        c->spans[c->n].from = o.g.not_before;
        c->spans[c->n].until = until;
        c->spans[c->n].is_new = 0;
        c->n++;
    }
    grants__own_free(&o);
    return VAULT_OK;
}

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;

    return x->from < y->from ? -1 : x->from > y->from;
}

/* No chaining (docs/policy-format.md, "Grant limits"): grants to recipient
 * patterns that meet, for a shared field and a meeting scope, join into one
 * period when less than max_duration lies between them; the time they
 * cover in the period that holds g, counted once where they overlap,
 * may not exceed max_duration. */
static int chain_check(vault *v, const vp_grant *g, const vp_grant_limit *lim)
{
    int rc = VAULT_OK;
    chain_ctx c;
    int64_t covered, until;
    int has_new;
    char want[32], max[32];

    memset(&c, 0, sizeof c);
    c.p = v->policy;
    c.g = g;
    c.now = vault__now();
    c.nf = policy_field_count(v->policy);
    c.tf = calloc(c.nf ? c.nf : 1, 2);
    ENSURE(c.tf, VAULT_ENOMEM, "out of memory");
    c.gf = c.tf + (c.nf ? c.nf : 1);
    field_flags((uint8_t *)c.gf, v->policy, g);
    GUARD(store_grant_scan(v->db, chain_fn, &c));
    {
        span *grown = realloc(c.spans, (c.n + 1) * sizeof *grown);
        ENSURE(grown, VAULT_ENOMEM, "out of memory");
        c.spans = grown;
    }
    c.spans[c.n].from = g->not_before;
    c.spans[c.n].until = g->not_after;
    c.spans[c.n].is_new = 1;
    c.n++;
    qsort(c.spans, c.n, sizeof *c.spans, span_cmp);
    /* Walk the periods in time order; every time lies within 1970..9999,
     * so no sum below overflows. */
    covered = c.spans[0].until - c.spans[0].from;
    until = c.spans[0].until;
    has_new = c.spans[0].is_new;
    for (size_t i = 1; i < c.n; i++) {
        const span *sp = &c.spans[i];
        if (sp->from < until + lim->max_duration) { /* joins the period */
            if (sp->from >= until)
                covered += sp->until - sp->from;
            else if (sp->until > until)
                covered += sp->until - until;
            if (sp->until > until)
                until = sp->until;
        } else if (has_new) {
            break; /* the period that holds the new grant is complete */
        } else {
            covered = sp->until - sp->from;
            until = sp->until;
        }
        has_new |= sp->is_new;
    }
    if (covered > lim->max_duration) {
        policy_duration_text(want, sizeof want, covered);
        policy_duration_text(max, sizeof max, lim->max_duration);
        ENSURE(0, VAULT_EDENIED, "with the grants already made to the same recipients for these "
               "fields and scope, access would last %s in one period, more than the max_duration "
               "%s of role %s (no chaining)", want, max, lim->issuer_role);
    }
cleanup:
    free(c.tf);
    free(c.spans);
    return rc;
}

/* ---- issuing ---- */

static int new_id(char *out, size_t cap, const char *prefix)
{
    uint8_t r[8];
    char hex[17];
    int rc = VAULT_OK;

    vc_random(r, sizeof r);
    GUARD(vc_bin2hex(hex, sizeof hex, r, sizeof r));
    ENSURE((size_t)snprintf(out, cap, "%s%s", prefix, hex) < cap, VAULT_EINVALID,
           "grant id buffer too small");
cleanup:
    return rc;
}

static int check_optional_name(const char *name, const char *what)
{
    return name ? vault__name_check(name, what) : VAULT_OK;
}

typedef struct issue_ctx {
    vault_session *s;
    const vault_grant_spec *spec;
    char id[VAULT_NAME_MAX], jur[VAULT_JURISDICTION_MAX + 1], user[VAULT_NAME_MAX];
    char (*ids)[VAULT_ID_HEX_SIZE];
    const char **idp;
    char *fields, *records, *purposes;
    int needs;
} issue_ctx;


/* The end of a call that changed a grant: the live-set version bumped,
 * its entry, the commit, and the live set rebuilt from what was
 * committed (every grant, approval, revocation and break-glass). */
static int grants_committed(vault *v, af_entry *e, const char *detail)
{
    int rc = VAULT_OK;

    GUARD(grants__bump(v));
    e->detail = detail;
    GUARD(audit_append(v, e));
    GUARD(op_commit(v));
    GUARD(op_reload(v, 1));
cleanup:
    return rc;
}

static int issue(issue_ctx *c)
{
    int rc = VAULT_OK, gmin, gmax;
    vault_session *s = c->s;
    vault *v = s->v;
    const vault_grant_spec *spec = c->spec;
    const vp_grant_limit *lim;
    vp_grant g;
    store_grant row;
    char detail[DETAIL_MAX];
    af_entry e;
    int64_t now = vault__now();
    size_t i;

    GUARD(vault__text_check(spec->reason, 511, "a grant's written reason"));
    ENSURE(spec->user || spec->role || spec->department, VAULT_EINVALID,
           "a grant needs a recipient: user, or role and/or department");
    if (spec->user)
        GUARD(vault__user_norm(c->user, sizeof c->user, spec->user, "recipient user"));
    GUARD(check_optional_name(spec->role, "recipient role"));
    GUARD(check_optional_name(spec->department, "recipient department"));
    ENSURE(spec->effect == VAULT_EFFECT_ALLOW || spec->effect == VAULT_EFFECT_MASK, VAULT_EINVALID,
           "a grant's effect is allow or mask");
    ENSURE(spec->nfields <= LIST_MAX && spec->nrecords <= LIST_MAX && spec->npurposes <= LIST_MAX,
           VAULT_ELIMIT, "at most %d fields, records or purposes in a grant", LIST_MAX);
    ENSURE(spec->nfields == 0 || spec->fields, VAULT_EINVALID, "missing field list");
    ENSURE(spec->nrecords == 0 || spec->records, VAULT_EINVALID, "missing record list");
    ENSURE(spec->npurposes == 0 || spec->purposes, VAULT_EINVALID, "missing purpose list");
    ENSURE(!(spec->nfields && (spec->grade_min || spec->grade_max)), VAULT_EINVALID,
           "a grant selects fields or a grade range, not both");
    ENSURE(spec->nrecords > 0 || spec->jurisdiction, VAULT_EINVALID,
           "a grant covers listed records or a jurisdiction");
    ENSURE(!(spec->nrecords > 0 && spec->jurisdiction), VAULT_EINVALID,
           "a grant covers listed records or a jurisdiction, not both");
    ENSURE((spec->actions & ~GRANT_ACTIONS) == 0, VAULT_EINVALID,
           "a grant's actions are read, search and export");
    if (spec->jurisdiction)
        GUARD(vault__jurisdiction_norm(c->jur, sizeof c->jur, spec->jurisdiction,
                                       "grant jurisdiction"));
    gmin = spec->grade_min ? policy_grade_index(v->policy, spec->grade_min) : 0;
    gmax = spec->grade_max ? policy_grade_index(v->policy, spec->grade_max)
                           : (int)policy_grade_count(v->policy) - 1;
    ENSURE(gmin >= 0 && gmax >= 0, VAULT_EINVALID, "unknown grade in the grant");
    c->ids = calloc(spec->nrecords ? spec->nrecords : 1, sizeof *c->ids);
    c->idp = calloc(spec->nrecords ? spec->nrecords : 1, sizeof *c->idp);
    ENSURE(c->ids && c->idp, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < spec->nrecords; i++) {
        uint8_t rid[VAULT_ID_BYTES];
        GUARD(vault__id_parse(rid, spec->records[i]));
        vault__id_format(c->ids[i], rid);
        c->idp[i] = c->ids[i];
    }
    ENSURE(time_ok(spec->not_before) && time_ok(spec->not_after), VAULT_EINVALID,
           "a grant's times must lie between 1970 and 9999");
    memset(&g, 0, sizeof g);
    GUARD(new_id(c->id, sizeof c->id, "g-"));
    g.id = c->id;
    g.user = spec->user ? c->user : NULL;
    g.role = spec->role;
    g.department = spec->department;
    g.effect = spec->effect;
    g.actions = spec->actions ? spec->actions : 1u << VAULT_ACTION_READ;
    g.fields = spec->fields;
    g.nfields = spec->nfields;
    g.grade_min = gmin;
    g.grade_max = gmax;
    g.records = c->idp;
    g.nrecords = spec->nrecords;
    g.jurisdiction = spec->jurisdiction ? c->jur : NULL;
    g.purposes = spec->purposes;
    g.npurposes = spec->npurposes;
    g.not_before = spec->not_before ? spec->not_before : now;
    g.not_after = spec->not_after;
    ENSURE(g.not_after > g.not_before, VAULT_EINVALID, "a grant must end after it starts");
    ENSURE(g.not_after > now, VAULT_EINVALID, "a grant must end in the future");
    /* Decide on the state as it is now: the write lock is held from here
     * to the commit. */
    GUARD(op_begin(v, OP_WRITE));
    GUARD(grants__sync(v, 0));
    GUARD(policy_grant_check(&c->needs, v->policy, s->role, &g));
    lim = policy_grant_limit(v->policy, s->role);
    GUARD(scope_within(v, &g, s->jurisdiction, "issuing officer"));
    ENSURE(lim->self_grant || !pattern_touches(&g, s), VAULT_EDENIED,
           "no self-grants: the recipients include the issuing officer (%s as %s in %s), and "
           "grant_limits of role %s do not say self_grant: true", s->user, s->role,
           s->department, s->role);
    GUARD(chain_check(v, &g, lim));
    GUARD(join(&c->fields, spec->fields, spec->nfields));
    GUARD(join(&c->records, c->idp, spec->nrecords));
    GUARD(join(&c->purposes, spec->purposes, spec->npurposes));
    memset(&row, 0, sizeof row);
    row.id = c->id;
    row.state = c->needs ? "pending" : "active";
    row.issuer = s->user;
    row.issuer_role = s->role;
    row.user = g.user;
    row.role = g.role;
    row.department = g.department;
    row.effect = g.effect;
    row.actions = g.actions;
    row.fields = c->fields;
    row.grade_min = spec->nfields ? NULL : policy_grade_name(v->policy, (size_t)gmin);
    row.grade_max = spec->nfields ? NULL : policy_grade_name(v->policy, (size_t)gmax);
    row.records = c->records;
    row.jurisdiction = g.jurisdiction;
    row.purposes = c->purposes;
    row.not_before = g.not_before;
    row.not_after = g.not_after;
    row.reason = spec->reason;
    row.created = now;
    row.issued_by = row_principal(s);
    describe(detail, sizeof detail, v->policy, &g, spec->reason, c->needs);
    GUARD(store_grant_insert(v->db, &row));
    audit_entry_init(&e, v, s, "grant");
    GUARD(grants_committed(v, &e, detail));
cleanup:
    return rc;
}

int vault_grant_issue(char *out_id, size_t out_id_size, int *out_pending, vault_session *s,
                      const vault_grant_spec *spec)
{
    int rc = VAULT_OK, entered = 0;
    vault *v = NULL;
    vault_grant_spec spec_l;
    issue_ctx c;

    memset(&c, 0, sizeof c);
    VAULT_OPT_IN(spec, spec_l, "vault_grant_spec", "VAULT_GRANT_SPEC_INIT");
    if (s && s->v->remote)
        return client_grant_issue(out_id, out_id_size, out_pending, s, spec);
    ENSURE(out_id && out_id_size >= 20 && s && spec, VAULT_EINVALID,
           "missing grant id buffer, session or grant");
    if (out_pending)
        *out_pending = 0;
    v = s->v;
    GUARD(vault__enter(v));
    entered = 1;
    c.s = s;
    c.spec = spec;
    rc = issue(&c);
    if (is_refusal(rc))
        rc = refused(s, "grant", NULL, rc, spec_request, spec);
    GUARD(rc);
    snprintf(out_id, out_id_size, "%s", c.id);
    if (out_pending)
        *out_pending = c.needs;
cleanup:
    vault__exit(v, entered);
    free(c.fields);
    free(c.records);
    free(c.purposes);
    free(c.ids);
    free(c.idp);
    return rc;
}

/* ---- approving and revoking ---- */

static int approve(vault_session *s, const char *grant_id)
{
    int rc = VAULT_OK;
    vault *v = s->v;
    owned_grant o;
    store_principal approved_by;
    af_entry e;
    char detail[DETAIL_MAX + 32], desc[DETAIL_MAX];

    memset(&o, 0, sizeof o);
    GUARD(op_begin(v, OP_WRITE));
    GUARD(grants__sync(v, 0));
    GUARD(load_grant(&o, v, grant_id));
    ENSURE(strcmp(o.state, "pending") == 0, VAULT_ESTATE, "grant %s is %s, not pending approval",
           o.id, o.state);
    ENSURE(o.g.not_after > vault__now(), VAULT_ESTATE, "grant %s has expired unapproved", o.id);
    ENSURE(o.usable, VAULT_ESTATE, "grant %s names a grade the policy no longer has", o.id);
    ENSURE(!same_user(o.issuer, s->user), VAULT_EDENIED,
           "grant %s: the issuing officer can't approve it; a second, different officer must",
           o.id);
    ENSURE(!same_subject(&o, s), VAULT_EDENIED,
           "grant %s: the approver is the officer who issued it (the same token subject of issuer "
           "%s, under another user name); a second, different officer must",
           o.id, o.issued_by.iss);
    ENSURE(!pattern_touches(&o.g, s), VAULT_EDENIED,
           "grant %s: the approver (%s as %s in %s) is among its recipients", o.id, s->user,
           s->role, s->department);
    ENSURE(policy_grant_limit(v->policy, s->role), VAULT_EDENIED,
           "grant %s: role '%s' has no grant_limits and can't approve", o.id, s->role);
    rc = policy_grant_check(NULL, v->policy, s->role, &o.g);
    if (rc < 0) {
        char why[400];
        snprintf(why, sizeof why, "%s", vault_error_last());
        ENSURE(0, rc, "grant %s: the approver's own limits don't allow it: %s", o.id, why);
    }
    GUARD(scope_within(v, &o.g, s->jurisdiction, "approving officer"));
    approved_by = row_principal(s);
    GUARD(store_grant_set_state(v->db, o.id, "active", s->user, &approved_by, NULL, NULL,
                                vault__now()));
    audit_entry_init(&e, v, s, "approve");
    describe(desc, sizeof desc, v->policy, &o.g, o.reason, 0);
    snprintf(detail, sizeof detail, "approved %s", desc);
    GUARD(grants_committed(v, &e, detail));
cleanup:
    grants__own_free(&o);
    return rc;
}

static void approve_request(line *l, const void *arg)
{
    line_printf(l, "approve ");
    line_text(l, arg, 64);
}

int vault_grant_approve(vault_session *s, const char *grant_id)
{
    if (s && s->v->remote)
        return client_grant_approve(s, grant_id);
    int rc = VAULT_OK, entered = 0;
    vault *v = NULL;

    ENSURE(s, VAULT_EINVALID, "no session");
    v = s->v;
    GUARD(vault__enter(v));
    entered = 1;
    rc = approve(s, grant_id);
    if (is_refusal(rc))
        rc = refused(s, "approve", NULL, rc, approve_request, grant_id);
cleanup:
    vault__exit(v, entered);
    return rc;
}

static int revoke(vault_session *s, const char *grant_id, const char *reason)
{
    int rc = VAULT_OK;
    vault *v = s->v;
    owned_grant o;
    af_entry e;
    char detail[DETAIL_MAX];
    line l = {detail, sizeof detail, 0};

    memset(&o, 0, sizeof o);
    GUARD(vault__text_check(reason, 511, "a revocation's written reason"));
    GUARD(op_begin(v, OP_WRITE));
    GUARD(load_grant(&o, v, grant_id));
    ENSURE(strcmp(o.state, "revoked") != 0, VAULT_ESTATE, "grant %s is already revoked", o.id);
    ENSURE(same_user(o.issuer, s->user) || policy_grant_limit(v->policy, s->role) ||
               (o.break_glass && o.user && same_user(o.user, s->user)),
           VAULT_EDENIED, "role '%s' may not revoke grants", s->role);
    GUARD(store_grant_set_state(v->db, o.id, "revoked", NULL, NULL, s->user, reason,
                                vault__now()));
    audit_entry_init(&e, v, s, "revoke");
    line_printf(&l, "revoked %s: ", o.id);
    line_text(&l, reason, 511);
    GUARD(grants_committed(v, &e, detail));
cleanup:
    grants__own_free(&o);
    return rc;
}

typedef struct revoke_req {
    const char *id, *reason;
} revoke_req;

static void revoke_request(line *l, const void *arg)
{
    const revoke_req *r = arg;

    line_printf(l, "revoke ");
    line_text(l, r->id, 64);
    line_printf(l, ": ");
    line_text(l, r->reason, 200);
}

int vault_grant_revoke(vault_session *s, const char *grant_id, const char *reason)
{
    if (s && s->v->remote)
        return client_grant_revoke(s, grant_id, reason);
    int rc = VAULT_OK, entered = 0;
    vault *v = NULL;
    revoke_req r = {grant_id, reason};

    ENSURE(s, VAULT_EINVALID, "no session");
    v = s->v;
    GUARD(vault__enter(v));
    entered = 1;
    rc = revoke(s, grant_id, reason);
    if (is_refusal(rc))
        rc = refused(s, "revoke", NULL, rc, revoke_request, &r);
cleanup:
    vault__exit(v, entered);
    return rc;
}

/* ---- warnings ---- */

int vault_grant_warnings(char **out, vault *v, const char *grant_id)
{
    if (v && v->remote)
        return client_grant_warnings(out, v, grant_id);
    int rc = VAULT_OK, entered = 0;
    owned_grant o;

    memset(&o, 0, sizeof o);
    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    GUARD(vault__enter(v));
    entered = 1;
    GUARD(op_begin(v, OP_WRITE));
    rc = load_grant(&o, v, grant_id);
    if (is_refusal(rc))
        rc = op_refused(v, NULL, "grant_warnings", NULL, rc, NULL);
    GUARD(rc);
    {
        af_entry e;
        char detail[VAULT_NAME_MAX + 32];
        snprintf(detail, sizeof detail, "warnings for %s", o.id);
        audit_entry_init(&e, v, NULL, "grant_warnings");
        e.detail = detail;
        GUARD(audit_append(v, &e));
    }
    GUARD(op_commit(v));
    if (!o.usable) {
        *out = strdup("warning: the grant names a grade the policy no longer has\n");
        ENSURE(*out, VAULT_ENOMEM, "out of memory");
    } else {
        GUARD(policy_grant_blocked(out, v->policy, &o.g));
    }
cleanup:
    grants__own_free(&o);
    vault__exit(v, entered);
    return rc;
}

/* ---- listing ---- */

typedef struct list_ctx {
    const vault_policy *p;
    int active_only, as_json;
    int64_t now;
    json_t *arr;
    vault_buf text; /* wiped: it holds names and reasons */
} list_ctx;

static const char *live_state(const store_grant *s, int64_t now)
{
    if (strcmp(s->state, "active") != 0)
        return s->state;
    if (now >= s->not_after)
        return "expired";
    if (now < s->not_before)
        return "scheduled";
    return "active";
}

static json_t *json_actions(unsigned actions)
{
    json_t *a = json_array();
    static const int order[] = {VAULT_ACTION_READ, VAULT_ACTION_SEARCH, VAULT_ACTION_EXPORT};

    for (size_t i = 0; a && i < VAULT_ARRAY_LEN(order); i++)
        if (actions & (1u << order[i]))
            json_array_append_new(a, json_string(order[i] == VAULT_ACTION_READ     ? "read"
                                                 : order[i] == VAULT_ACTION_SEARCH ? "search"
                                                                                   : "export"));
    return a;
}

static json_t *json_opt(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* A recorded principal as JSON: {"issuer", "subject", "app", "token_id"}
 * (absent members null), or null when none is recorded. */
static json_t *json_principal(const store_principal *p)
{
    if (!p->iss && !p->sub && !p->app && !p->jti)
        return json_null();
    return json_pack("{s:o, s:o, s:o, s:o}", "issuer", json_opt(p->iss), "subject",
                     json_opt(p->sub), "app", json_opt(p->app), "token_id", json_opt(p->jti));
}

/* " (iss=I sub=S app=A)", the parts recorded, escaped; nothing when none. */
static void line_principal(line *l, const store_principal *p)
{
    if (!p->iss && !p->app)
        return;
    line_printf(l, " (");
    if (p->iss) {
        line_printf(l, "iss=");
        line_text(l, p->iss, 128);
        line_printf(l, " sub=");
        line_text(l, p->sub, 128);
    }
    if (p->app) {
        line_printf(l, "%sapp=", p->iss ? " " : "");
        line_text(l, p->app, 64);
    }
    line_printf(l, ")");
}

static int list_fn(void *arg, const store_grant *s)
{
    list_ctx *c = arg;
    owned_grant o;
    int rc = VAULT_OK;
    const char *state = live_state(s, c->now);
    char text[DETAIL_MAX * 2];
    line l = {text, sizeof text, 0};

    memset(&o, 0, sizeof o);
    if (c->active_only && strcmp(state, "active") != 0)
        return 0;
    GUARD(grants__own(&o, c->p, s));
    if (c->as_json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:b}", "id", s->id, "state",
                              state, "effect", s->effect == VAULT_EFFECT_ALLOW ? "allow" : "mask",
                              "issuer", s->issuer, "not_before", (json_int_t)s->not_before,
                              "not_after", (json_int_t)s->not_after, "reason", s->reason,
                              "break_glass", s->break_glass != 0);
        ENSURE(j, VAULT_ENOMEM, "out of memory");
        json_object_set_new(j, "user", json_opt(s->user));
        json_object_set_new(j, "role", json_opt(s->role));
        json_object_set_new(j, "department", json_opt(s->department));
        json_object_set_new(j, "fields", json_opt(s->fields));
        json_object_set_new(j, "grade_min", json_opt(s->grade_min));
        json_object_set_new(j, "grade_max", json_opt(s->grade_max));
        json_object_set_new(j, "jurisdiction", json_opt(s->jurisdiction));
        json_object_set_new(j, "records", json_opt(s->records));
        json_object_set_new(j, "purposes", json_opt(s->purposes));
        json_object_set_new(j, "actions", json_actions(s->actions));
        json_object_set_new(j, "approver", json_opt(s->approver));
        json_object_set_new(j, "revoked_by", json_opt(s->revoked_by));
        json_object_set_new(j, "revoke_reason", json_opt(s->revoke_reason));
        json_object_set_new(j, "issued_by", json_principal(&s->issued_by));
        json_object_set_new(j, "approved_by", json_principal(&s->approved_by));
        json_array_append_new(c->arr, j);
        goto cleanup;
    }
    line_printf(&l, "%-9s ", state);
    if (o.usable) {
        char d[DETAIL_MAX];
        describe(d, sizeof d, c->p, &o.g, s->reason, 0);
        line_printf(&l, "%s", d);
    } else {
        line_printf(&l, "%s (grade no longer in the policy)", s->id);
    }
    line_printf(&l, "%s  [by ", s->break_glass ? " BREAK-GLASS" : "");
    line_text(&l, s->issuer, 128);
    line_principal(&l, &s->issued_by);
    if (s->approver) {
        line_printf(&l, ", approved by ");
        line_text(&l, s->approver, 128);
        line_principal(&l, &s->approved_by);
    }
    if (s->revoked_by) {
        line_printf(&l, ", %s by ", strcmp(s->state, "suspended") == 0 ? "suspended" : "revoked");
        line_text(&l, s->revoked_by, 128);
        line_printf(&l, ": ");
        line_text(&l, s->revoke_reason, 511);
    }
    line_printf(&l, "]\n");
    GUARD(vault__buf_put(&c->text, text, l.len));
cleanup:
    grants__own_free(&o);
    return rc;
}

int vault_grant_list(char **out, vault *v, int active_only, int as_json)
{
    if (v && v->remote)
        return client_grant_list(out, v, active_only, as_json);
    int rc = VAULT_OK, entered = 0;
    list_ctx c;

    memset(&c, 0, sizeof c);
    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    GUARD(vault__enter(v));
    entered = 1;
    vault__buf_init(&c.text, "grant list", 0, 1);
    c.p = v->policy;
    c.active_only = active_only;
    c.as_json = as_json;
    c.now = vault__now();
    if (as_json) {
        c.arr = json_array();
        ENSURE(c.arr, VAULT_ENOMEM, "out of memory");
    }
    /* Who holds which access is itself worth a trace: the entry and the
     * listing are one unit, one snapshot. */
    GUARD(op_begin(v, OP_WRITE));
    GUARD(audit__log_meta(v, "grant_list", AF_OUTCOME_OK,
                          active_only ? "active grants listed" : "all grants listed"));
    GUARD(store_grant_scan(v->db, list_fn, &c));
    GUARD(op_commit(v));
    GUARD(vault__listing_take(out, as_json ? c.arr : NULL, &c.text));
cleanup:
    vault__exit(v, entered);
    json_decref(c.arr);
    vault__buf_free(&c.text);
    return rc;
}

/* ---- break-glass ---- */

static int name_listed(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

typedef struct count_ctx {
    const char *user;
    int64_t since;
    int n;
} count_ctx;

static int count_fn(void *arg, const store_grant *s)
{
    count_ctx *c = arg;

    if (s->break_glass && s->created > c->since && same_user(s->issuer, c->user))
        c->n++;
    return VAULT_OK;
}

typedef struct glass_ctx {
    vault_session *s;
    const uint8_t *rid;
    const char *reason;
    int64_t seconds;
    char id[VAULT_NAME_MAX];
} glass_ctx;

static int glass(glass_ctx *c)
{
    int rc = VAULT_OK;
    vault_session *s = c->s;
    vault *v = s->v;
    const vp_break_glass *bg;
    char hex[VAULT_ID_HEX_SIZE], detail[DETAIL_MAX], until[32], max[32], want[32];
    record_row rec = {0};
    store_grant row;
    af_entry e;
    count_ctx n;
    int64_t now = vault__now(), seconds = c->seconds;
    line l = {detail, sizeof detail, 0};

    GUARD(vault__text_check(c->reason, 511, "a break-glass written reason"));
    bg = policy_break_glass(v->policy);
    ENSURE(bg && policy_break_glass_role(v->policy, s->role), VAULT_EDENIED,
           "role '%s' may not break glass under this policy", s->role);
    ENSURE(name_listed(s->purpose, bg->purposes, bg->npurposes), VAULT_EDENIED,
           "purpose '%s' is not one the policy lists for break-glass", s->purpose);
    ENSURE(seconds >= 0, VAULT_EINVALID, "break-glass duration must be positive");
    if (seconds == 0)
        seconds = bg->max_duration;
    if (seconds > bg->max_duration) {
        policy_duration_text(want, sizeof want, seconds > VP_TIME_MAX ? VP_TIME_MAX : seconds);
        policy_duration_text(max, sizeof max, bg->max_duration);
        ENSURE(0, VAULT_EDENIED, "break-glass for %s exceeds the policy's max_duration %s", want,
               max);
    }
    vault__id_format(hex, c->rid);
    GUARD(op_begin(v, OP_WRITE));
    GUARD(grants__sync(v, 0));
    {
        record_ctx rx = vault__record_ctx(v);

        rc = record_load(&rec, &rx, c->rid);
    }
    ENSURE(rc != VAULT_ENOTFOUND, VAULT_ENOTFOUND, "no record %s", hex);
    GUARD(rc);
    vault__route(v, c->rid, rec.jurisdiction);
    ENSURE(policy_jurisdiction_within(rec.jurisdiction, s->jurisdiction) ||
               name_listed(s->role, bg->any_jurisdiction, bg->nany_jurisdiction),
           VAULT_EDENIED, "break-glass is bounded to your own jurisdiction %s; the record lies "
           "outside it, and the policy's break_glass.any_jurisdiction does not list role '%s'",
           s->jurisdiction, s->role);
    n.user = s->user;
    n.since = now - 86400;
    n.n = 0;
    GUARD(store_grant_scan(v->db, count_fn, &n));
    ENSURE(n.n < bg->max_per_day, VAULT_EDENIED,
           "%s broke glass %d time%s in the last 24 hours: the policy's break_glass.max_per_day "
           "is %d", s->user, n.n, n.n == 1 ? "" : "s", bg->max_per_day);
    GUARD(new_id(c->id, sizeof c->id, "bg-"));
    memset(&row, 0, sizeof row);
    row.id = c->id;
    row.state = "active";
    row.issuer = s->user;
    row.issuer_role = s->role;
    row.user = s->user;
    row.role = s->role;
    row.department = s->department;
    row.effect = VAULT_EFFECT_ALLOW;
    row.actions = 1u << VAULT_ACTION_READ;
    row.grade_min = policy_grade_name(v->policy, 0);
    row.grade_max = policy_grade_name(v->policy, (size_t)bg->max_grade);
    row.records = hex;
    row.purposes = s->purpose;
    row.not_before = now;
    row.not_after = now + seconds; /* both within range: no overflow */
    row.reason = c->reason;
    row.break_glass = 1;
    row.created = now;
    row.issued_by = row_principal(s);
    GUARD(store_grant_insert(v->db, &row));
    GUARD(time_text(until, sizeof until, row.not_after));
    line_printf(&l, "%s opens the record until %s (grades up to %s): ", c->id, until,
                row.grade_max);
    line_text(&l, c->reason, 511);
    audit_entry_init(&e, v, s, "break_glass");
    e.flags = AF_FLAG_BREAK_GLASS;
    e.has_record = 1;
    memcpy(e.record_id, c->rid, VAULT_ID_BYTES);
    GUARD(grants_committed(v, &e, detail));
cleanup:
    record_row_free(&rec);
    return rc;
}

typedef struct glass_req {
    const char *record_id, *reason;
    int64_t seconds;
} glass_req;

static void glass_request(line *l, const void *arg)
{
    const glass_req *r = arg;

    line_printf(l, "break-glass on ");
    line_text(l, r->record_id, 64);
    if (r->seconds > 0 && r->seconds <= VP_TIME_MAX) {
        char dur[32];
        policy_duration_text(dur, sizeof dur, r->seconds);
        line_printf(l, " for %s: ", dur);
    } else {
        line_printf(l, " for %llds: ", (long long)r->seconds);
    }
    line_text(l, r->reason, 200);
}

int vault_break_glass(char *out_id, size_t out_id_size, vault_session *s, const char *record_id,
                      const char *reason, int64_t seconds)
{
    if (s && s->v->remote)
        return client_break_glass(out_id, out_id_size, s, record_id, reason, seconds);
    int rc = VAULT_OK, entered = 0;
    vault *v = NULL;
    uint8_t rid[VAULT_ID_BYTES];
    glass_ctx c;

    memset(&c, 0, sizeof c);
    ENSURE(out_id && out_id_size >= 20 && s, VAULT_EINVALID, "missing id buffer or session");
    v = s->v;
    GUARD(vault__enter(v));
    entered = 1;
    rc = vault__id_parse(rid, record_id);
    if (rc == VAULT_OK) {
        c.s = s;
        c.rid = rid;
        c.reason = reason;
        c.seconds = seconds;
        rc = glass(&c);
    }
    if (is_refusal(rc)) {
        glass_req r = {record_id, reason, seconds};
        rc = refused(s, "break_glass", c.rid, rc, glass_request, &r);
    }
    GUARD(rc);
    snprintf(out_id, out_id_size, "%s", c.id);
cleanup:
    vault__exit(v, entered);
    return rc;
}


/* ---- a new policy: outstanding grants re-checked ---- */

typedef struct recheck_ctx {
    vault *v;
    const vault_policy *p;
    int64_t now;
    owned_grant *hit;
    char (*why)[400];
    size_t n, cap;
} recheck_ctx;

/* An open break-glass under a new policy: its role, purpose, duration
 * and grade must still be allowed by the new break_glass section.  Sets
 * why ("" when it may stay open). */
static void glass_recheck(char *why, size_t cap, const vault_policy *old, const vault_policy *p,
                          const owned_grant *o)
{
    const vp_break_glass *bg = policy_break_glass(p), *was = policy_break_glass(old);
    int64_t secs = o->g.not_after - o->g.not_before; /* both range-checked */
    char have[32], max[32];

    why[0] = '\0';
    if (!bg)
        snprintf(why, cap, "the new policy has no break_glass section");
    else if (!o->role || !policy_break_glass_role(p, o->role))
        snprintf(why, cap, "role '%s' may no longer break glass", o->role ? o->role : "?");
    else if (o->g.npurposes != 1 || !name_listed(o->g.purposes[0], bg->purposes, bg->npurposes))
        snprintf(why, cap, "purpose '%s' is no longer one for break-glass",
                 o->g.npurposes ? o->g.purposes[0] : "?");
    else if (!o->usable || o->g.grade_max > bg->max_grade)
        snprintf(why, cap, "it opens grades above the new break_glass.max_grade");
    else if (was && name_listed(o->role, was->any_jurisdiction, was->nany_jurisdiction) &&
             !name_listed(o->role, bg->any_jurisdiction, bg->nany_jurisdiction))
        /* The opener's jurisdiction is not kept with the grant, so it may
         * have been opened outside it: close it (it can be opened again). */
        snprintf(why, cap, "the new policy bounds break-glass of role '%s' to the opener's own "
                 "jurisdiction (break_glass.any_jurisdiction no longer lists it)", o->role);
    else if (secs > bg->max_duration) {
        policy_duration_text(have, sizeof have, secs);
        policy_duration_text(max, sizeof max, bg->max_duration);
        snprintf(why, cap, "it lasts %s, longer than the new break_glass.max_duration %s", have,
                 max);
    }
}

static int recheck_fn(void *arg, const store_grant *s)
{
    recheck_ctx *c = arg;
    owned_grant o;
    int rc = VAULT_OK, needs = 0, bad;
    char why[400] = "";

    if (s->not_after <= c->now ||
        (strcmp(s->state, "active") != 0 && strcmp(s->state, "pending") != 0))
        return 0;
    GUARD(grants__own(&o, c->p, s));
    if (o.break_glass) {
        glass_recheck(why, sizeof why, c->v->policy, c->p, &o);
    } else if (!o.usable) {
        snprintf(why, sizeof why, "it names a grade the new policy does not have");
    } else {
        bad = policy_grant_check(&needs, c->p, s->issuer_role, &o.g);
        if (bad < 0) {
            snprintf(why, sizeof why, "%s", vault_error_last());
            vault__err_clear();
        } else if (needs && strcmp(s->state, "active") == 0 && !s->approver) {
            snprintf(why, sizeof why, "it now reaches the approval grade of role %s and was "
                     "never approved by a second officer", s->issuer_role);
        }
    }
    if (!*why) {
        grants__own_free(&o);
        return VAULT_OK;
    }
    if (c->n == c->cap) {
        owned_grant *g2;
        char (*w2)[400];
        c->cap = c->cap ? c->cap * 2 : 8;
        g2 = realloc(c->hit, c->cap * sizeof *g2);
        if (g2)
            c->hit = g2;
        w2 = realloc(c->why, c->cap * sizeof *w2);
        if (w2)
            c->why = w2;
        if (!g2 || !w2) {
            grants__own_free(&o);
            return vault__err(VAULT_ENOMEM, "out of memory");
        }
    }
    c->hit[c->n] = o;
    snprintf(c->why[c->n], sizeof c->why[c->n], "%s", why);
    c->n++;
cleanup:
    return rc;
}

int grants__recheck(char **out, vault *v, const vault_policy *newp)
{
    int rc = VAULT_OK;
    recheck_ctx c;
    af_entry e;
    char detail[DETAIL_MAX];
    vault_buf text;
    const vault_policy *old = v->policy;

    memset(&c, 0, sizeof c);
    vault__buf_init(&text, "grant recheck", 0, 0);
    *out = NULL;
    c.v = v;
    c.p = newp;
    c.now = vault__now();
    GUARD(store_grant_scan(v->db, recheck_fn, &c));
    for (size_t i = 0; i < c.n; i++) {
        GUARD(store_grant_set_state(v->db, c.hit[i].id, "suspended", NULL, NULL, v->actor,
                                    c.why[i], c.now));
        snprintf(detail, sizeof detail, "suspended %s: the new policy no longer allows it: %s",
                 c.hit[i].id, c.why[i]);
        audit_entry_init(&e, v, NULL, "grant_suspend");
        e.detail = detail;
        v->policy = (vault_policy *)newp; /* logged under the policy that applies now */
        rc = audit_append(v, &e);
        v->policy = (vault_policy *)old;
        GUARD(rc);
        GUARD(vault__buf_printf(&text, "! suspended %s: %s\n", c.hit[i].id, c.why[i]));
    }
    if (c.n)
        GUARD(grants__bump(v));
    if (c.n) {
        *out = vault__buf_steal(&text);
        ENSURE(*out, VAULT_ENOMEM, "grant recheck: out of memory");
    }
cleanup:
    vault__buf_free(&text);
    for (size_t i = 0; i < c.n; i++)
        grants__own_free(&c.hit[i]);
    free(c.hit);
    free(c.why);
    return rc;
}

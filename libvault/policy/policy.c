/* Policy decisions (DESIGN.md §5), reasons, and the accessors of a
 * compiled policy.  Grant sets and grant limits: policy_grants.c.
 *
 * policy_decide, for (subject, action, purpose, record, field):
 *   1. any matching deny rule                       -> deny
 *   2. else the first matching allow rule           -> allow
 *   3. else the first matching live allow grant     -> allow
 *   4. else the first matching mask rule            -> mask
 *   5. else the first matching live mask grant      -> mask
 *   6. else                                         -> deny (default)
 * An evaluation error (bad request, unknown name, unusable jurisdiction
 * where a rule or grant needs it) is a deny with by = VP_BY_ERROR.
 * Candidates come from the rule buckets of the subject's role, department
 * and the shared key, and the grant buckets of the subject's user, role
 * and department, for the action and field at hand (policy_compile.c);
 * nothing is allocated. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

/* ---- Accessors ---- */

const char *policy_name(const vault_policy *p)
{
    return p && p->name ? p->name : "";
}

const uint8_t *policy_hash(const vault_policy *p)
{
    return p ? p->hash : NULL;
}

const char *policy_filename(const vault_policy *p)
{
    return p ? p->filename : "";
}

size_t policy_grade_count(const vault_policy *p)
{
    return p ? p->ngrades : 0;
}

const char *policy_grade_name(const vault_policy *p, size_t i)
{
    return p && i < p->ngrades ? p->grades[i].name : NULL;
}

const char *policy_grade_label(const vault_policy *p, size_t i)
{
    return p && i < p->ngrades ? p->grades[i].label : NULL;
}

int policy_grade_index(const vault_policy *p, const char *name)
{
    return p ? vp_map_gets(&p->grade_map, name) : -1;
}

size_t policy_field_count(const vault_policy *p)
{
    return p ? p->nfields : 0;
}

const vp_field *policy_field_at(const vault_policy *p, size_t i)
{
    return p && i < p->nfields ? &p->fields[i] : NULL;
}

const char *policy_field_label(const vault_policy *p, size_t i)
{
    return p && i < p->nfields ? p->field_info[i].label : NULL;
}

int policy_field_index(const vault_policy *p, const char *name)
{
    return p ? vp_map_gets(&p->field_map, name) : -1;
}

const vp_field *policy_field(const vault_policy *p, const char *name)
{
    int i = policy_field_index(p, name);

    return i < 0 ? NULL : &p->fields[i];
}

int policy_has_role(const vault_policy *p, const char *name)
{
    return p && vp_map_gets(&p->role_map, name) >= 0;
}

int policy_has_department(const vault_policy *p, const char *name)
{
    return p && vp_map_gets(&p->dept_map, name) >= 0;
}

int policy_has_purpose(const vault_policy *p, const char *name)
{
    return p && vp_map_gets(&p->purpose_map, name) >= 0;
}

size_t policy_role_count(const vault_policy *p)
{
    return p ? p->nroles : 0;
}

const char *policy_role_name(const vault_policy *p, size_t i)
{
    return p && i < p->nroles ? p->roles[i].n.name : NULL;
}

size_t policy_department_count(const vault_policy *p)
{
    return p ? p->ndepts : 0;
}

const char *policy_department_name(const vault_policy *p, size_t i)
{
    return p && i < p->ndepts ? p->depts[i].name : NULL;
}

size_t policy_purpose_count(const vault_policy *p)
{
    return p ? p->npurposes : 0;
}

const char *policy_purpose_name(const vault_policy *p, size_t i)
{
    return p && i < p->npurposes ? p->purposes[i].name : NULL;
}

size_t policy_rule_count(const vault_policy *p)
{
    return p ? p->nrules : 0;
}

int policy_role_in_department(const vault_policy *p, const char *role, const char *department)
{
    int r = p ? vp_map_gets(&p->role_map, role) : -1;
    int d = p ? vp_map_gets(&p->dept_map, department) : -1;

    if (r < 0 || d < 0)
        return 0;
    return p->roles[r].depts == NULL || vp_bit(p->roles[r].depts, (size_t)d);
}

size_t policy_grant_limit_count(const vault_policy *p)
{
    return p ? p->nlimits : 0;
}

const vp_grant_limit *policy_grant_limit_at(const vault_policy *p, size_t i)
{
    return p && i < p->nlimits ? &p->limits[i] : NULL;
}

const vp_grant_limit *policy_grant_limit(const vault_policy *p, const char *issuer_role)
{
    int r = p ? vp_map_gets(&p->role_map, issuer_role) : -1;

    if (r < 0 || p->limit_of_role == NULL || p->limit_of_role[r] < 0)
        return NULL;
    return &p->limits[p->limit_of_role[r]];
}

const vp_break_glass *policy_break_glass(const vault_policy *p)
{
    return p && p->has_break_glass ? &p->break_glass : NULL;
}

int policy_break_glass_role(const vault_policy *p, const char *role)
{
    const vp_break_glass *bg = policy_break_glass(p);

    if (bg == NULL || role == NULL)
        return 0;
    for (size_t i = 0; i < bg->nroles; i++)
        if (strcmp(bg->roles[i], role) == 0)
            return 1;
    return 0;
}

int policy_data_officer_check(const vault_policy *p, const char *role)
{
    int rc = VAULT_OK, listed = 0;

    ENSURE(p != NULL && role != NULL, VAULT_EINVALID,
           "policy_data_officer_check: missing argument");
    for (size_t i = 0; i < p->ndata_officers; i++)
        listed |= strcmp(p->data_officers[i], role) == 0;
    ENSURE(listed || p->has_data_officers, VAULT_EDENIED, "role %s is not a data officer: policy "
           "%s has no data_officers section (%s), so nobody may change the vault through a "
           "service", role, p->name, p->basename);
    ENSURE(listed, VAULT_EDENIED, "role %s is not a data officer: data_officers does not list it "
           "(%s:%u); it may not change the vault", role, p->basename, p->data_officers_line);
cleanup:
    return rc;
}

int policy_auditor_check(const vault_policy *p, const char *role)
{
    int rc = VAULT_OK, listed = 0;

    ENSURE(p != NULL && role != NULL, VAULT_EINVALID, "policy_auditor_check: missing argument");
    for (size_t i = 0; i < p->nauditors; i++)
        listed |= strcmp(p->auditors[i], role) == 0;
    ENSURE(listed || p->has_auditors, VAULT_EDENIED, "role %s may not read the audit log or the "
           "grants: policy %s has no auditors section (%s)", role, p->name, p->basename);
    ENSURE(listed, VAULT_EDENIED, "role %s may not read the audit log or the grants: auditors does "
           "not list it (%s:%u)", role, p->basename, p->auditors_line);
cleanup:
    return rc;
}

/* ---- Decisions ---- */

#define JUR_UNKNOWN 0
#define JUR_IN 1
#define JUR_OUT 2
#define JUR_BAD 3

typedef struct dctx {
    const vault_policy *p;
    const vp_request *req;
    const char *user;
    int action, field, role, dept, purpose;
    const vp_bucket *rl[VP_RULE_LISTS]; /* candidate rule buckets */
    const vp_bucket *gl[6]; /* candidate grant buckets */
    int jur;     /* record within subject, computed on first need */
    int rec_len; /* valid length of the record jurisdiction, -1 bad, -2 unknown */
} dctx;

static int record_jur_len(dctx *d)
{
    if (d->rec_len == -2)
        d->rec_len = vp_jur_len(d->req->record_jurisdiction);
    return d->rec_len;
}

static int rule_match(const vp_rule *r, dctx *d)
{
    if (!r->any_purpose && !vp_bit(r->purposes, (size_t)d->purpose))
        return 0;
    if (d->field >= 0 ? !vp_bit(r->fields, (size_t)d->field) : r->sel != VP_SEL_NONE)
        return 0;
    if (!r->any_subject) {
        size_t i;
        for (i = 0; i < r->nsubj; i++) {
            const vp_subj *s = &r->subj[i];
            if ((s->role < 0 || s->role == d->role) && (s->dept < 0 || s->dept == d->dept) &&
                (s->user == NULL || strcmp(s->user, d->user) == 0))
                break;
        }
        if (i == r->nsubj)
            return 0;
    }
    if (r->scope == VP_SCOPE_WITHIN) {
        if (d->jur == JUR_UNKNOWN) {
            int sl = vp_jur_len(d->req->subject->jurisdiction), rl = record_jur_len(d);
            d->jur = sl < 0 || rl < 0 ? JUR_BAD
                     : vp_jur_within_n(d->req->record_jurisdiction, rl,
                                       d->req->subject->jurisdiction, sl)
                         ? JUR_IN
                         : JUR_OUT;
        }
        if (d->jur == JUR_BAD)
            return VAULT_EINVALID;
        return d->jur == JUR_IN;
    }
    return 1;
}

/* First matching entry of class cls in bucket b with an index below
 * *best; updates *best.  <0 on an evaluation error.  Entries of a class
 * are in ascending order, so the scan stops at the first match. */
static int scan_rules(const vp_bucket *b, int cls, dctx *d, uint32_t *best)
{
    const vault_policy *p = d->p;
    uint32_t start = b->off;

    for (int c = 0; c < cls; c++)
        start += b->n[c];
    for (uint32_t i = start; i < start + b->n[cls]; i++) {
        uint32_t idx = p->ix.data[i];
        int m;

        if (idx >= *best)
            break;
        m = rule_match(&p->rules[idx], d);
        if (m < 0)
            return m;
        if (m) {
            *best = idx;
            break;
        }
    }
    return VAULT_OK;
}

static int best_rule(dctx *d, int cls, uint32_t *best)
{
    int rc = VAULT_OK;

    *best = UINT32_MAX;
    for (int k = 0; k < VP_RULE_LISTS; k++)
        if (d->rl[k] != NULL)
            GUARD(scan_rules(d->rl[k], cls, d, best));
cleanup:
    return rc;
}

static int grant_match(const vp_cgrant *g, dctx *d)
{
    const vp_request *req = d->req;

    /* The tests on the grant's first cache line first. */
    if (req->now < g->not_before || req->now >= g->not_after)
        return 0;
    if ((g->role >= 0 && g->role != d->role) || (g->dept >= 0 && g->dept != d->dept))
        return 0;
    if (d->field < 0 && !g->whole)
        return 0;
    if (!g->any_purpose && !vp_bit(g->purposes, (size_t)d->purpose))
        return 0;
    if (d->field >= 0 && !vp_bit(g->fields, (size_t)d->field))
        return 0;
    if (g->user != NULL && strcmp(g->user, d->user) != 0)
        return 0;
    if (g->nrecords > 0) {
        if (req->record_id == NULL)
            return 0;
        return bsearch(&req->record_id, g->records, g->nrecords, sizeof *g->records,
                       vp_strptr_cmp) != NULL;
    }
    if (record_jur_len(d) < 0)
        return VAULT_EINVALID;
    return vp_jur_within_n(req->record_jurisdiction, d->rec_len, g->jurisdiction, g->jurlen);
}

static int scan_grants(const vp_grantset *gs, const vp_bucket *b, int cls, dctx *d,
                       uint32_t *best)
{
    uint32_t start = b->off + (cls == 1 ? b->n[0] : 0);

    for (uint32_t i = start; i < start + b->n[cls]; i++) {
        uint32_t idx = gs->ix.data[i];
        int m;

        if (idx >= *best)
            break;
        m = grant_match(&gs->g[idx], d);
        if (m < 0)
            return m;
        if (m) {
            *best = idx;
            break;
        }
    }
    return VAULT_OK;
}

/* cls 0: allow grants, 1: mask grants. */
static int best_grant(const vp_grantset *gs, dctx *d, int cls, uint32_t *best)
{
    int rc = VAULT_OK;

    *best = UINT32_MAX;
    if (gs == NULL || gs->n == 0)
        return VAULT_OK;
    for (int k = 0; k < 6; k++)
        if (d->gl[k] != NULL)
            GUARD(scan_grants(gs, d->gl[k], cls, d, best));
cleanup:
    return rc;
}

void vp_grant_lists(const vp_grantset *g, int user, int action, int role, int dept, int field,
                    const vp_bucket *out[6])
{
    const vault_policy *p = g->p;
    size_t sk[3];

    sk[0] = user >= 0 ? (size_t)user : SIZE_MAX;
    sk[1] = role >= 0 ? g->nusers + (size_t)role : SIZE_MAX;
    sk[2] = dept >= 0 ? g->nusers + p->nroles + (size_t)dept : SIZE_MAX;
    vp_ix_probe(&g->ix, p->nfields, sk, 3, action, field, out);
}

/* Fail closed: a deny by VP_BY_ERROR, `detail` saying what failed. */
#define FAIL_CLOSED(code, text)         \
    do {                                \
        detail = (text);                \
        rc = (code);                    \
        goto cleanup;                   \
    } while (0)

int policy_decide(vp_decision *out, const vault_policy *p, const vp_grantset *g,
                  const vp_request *req)
{
    int rc = VAULT_OK;
    const char *detail = NULL;
    const vp_rule *r = NULL;
    uint32_t best = UINT32_MAX;
    dctx d;

    memset(&d, 0, sizeof d);
    if (out == NULL)
        return vault__err(VAULT_EINVALID, "policy_decide: out is NULL");
    memset(out, 0, sizeof *out);
    out->effect = VAULT_EFFECT_DENY;
    out->by = VP_BY_ERROR;
    out->mask = VAULT_MASK_NONE;
    out->action = req ? req->action : -1;
    if (p == NULL || req == NULL || req->subject == NULL)
        FAIL_CLOSED(VAULT_EINVALID, "missing policy, request or subject");
    if (req->action < 0 || req->action >= VP_NACTIONS)
        FAIL_CLOSED(VAULT_EINVALID, "unknown action");
    if (g != NULL && g->p != p)
        FAIL_CLOSED(VAULT_EINVALID, "grant set built for another policy");
    d.p = p;
    d.req = req;
    d.action = req->action;
    d.rec_len = -2;
    d.jur = JUR_UNKNOWN;
    d.field = -1;
    if ((1u << req->action) & VP_RECORD_ACTIONS) {
        if (req->field != NULL)
            FAIL_CLOSED(VAULT_EINVALID, "create and erase take no field");
    } else {
        if (req->field == NULL)
            FAIL_CLOSED(VAULT_EINVALID, "this action needs a field");
        d.field = vp_map_gets(&p->field_map, req->field);
        if (d.field < 0)
            FAIL_CLOSED(VAULT_ENOTFOUND, "field not declared by the policy");
        out->field = p->fields[d.field].name;
    }
    d.user = req->subject->user;
    if (d.user == NULL)
        FAIL_CLOSED(VAULT_EINVALID, "subject has no user");
    d.role = vp_map_gets(&p->role_map, req->subject->role);
    d.dept = vp_map_gets(&p->dept_map, req->subject->department);
    d.purpose = vp_map_gets(&p->purpose_map, req->purpose);
    if (d.role < 0 || d.dept < 0 || d.purpose < 0)
        FAIL_CLOSED(VAULT_EINVALID, "role, department or purpose not declared by the policy");
    vp_rule_lists(p, d.action, p->nusers ? vp_map_gets(&p->user_map, d.user) : -1, d.role,
                  d.dept, d.field, d.rl);
    if (g != NULL && g->n > 0)
        vp_grant_lists(g, vp_map_gets(&g->user_map, d.user), d.action, d.role, d.dept, d.field,
                       d.gl);

    /* 1. deny rules, 2. allow rules. */
    for (int cls = 0; cls < 2 && best == UINT32_MAX; cls++)
        if (best_rule(&d, cls, &best) < 0)
            FAIL_CLOSED(VAULT_EINVALID, "a rule could not be evaluated (jurisdiction)");
    if (best != UINT32_MAX) {
        r = &p->rules[best];
        goto cleanup;
    }
    /* 3. allow grants. */
    if (best_grant(g, &d, 0, &best) < 0)
        FAIL_CLOSED(VAULT_EINVALID, "a grant could not be evaluated (jurisdiction)");
    if (best != UINT32_MAX) {
        out->effect = VAULT_EFFECT_ALLOW;
        goto cleanup;
    }
    /* 4. mask rules. */
    if (best_rule(&d, 2, &best) < 0)
        FAIL_CLOSED(VAULT_EINVALID, "a rule could not be evaluated (jurisdiction)");
    if (best != UINT32_MAX) {
        r = &p->rules[best];
        goto cleanup;
    }
    /* 5. mask grants. */
    if (best_grant(g, &d, 1, &best) < 0)
        FAIL_CLOSED(VAULT_EINVALID, "a grant could not be evaluated (jurisdiction)");
    if (best != UINT32_MAX)
        out->effect = VAULT_EFFECT_MASK;
    /* 6. otherwise the default deny (best stays UINT32_MAX). */

cleanup:
    if (rc < 0) {
        out->effect = VAULT_EFFECT_DENY;
        out->by = VP_BY_ERROR;
        out->detail = detail;
        return vault__err(rc, "policy decision failed closed: %s", detail);
    }
    if (r != NULL) {
        out->effect = r->effect;
        out->by = VP_BY_RULE;
        out->rule_id = r->id;
        out->alarm = r->alarm && r->effect == VAULT_EFFECT_DENY;
        out->file = p->basename;
        out->line = r->line;
    } else if (best != UINT32_MAX) {
        out->by = VP_BY_GRANT;
        out->grant_id = g->g[best].id;
    } else {
        out->effect = VAULT_EFFECT_DENY;
        out->by = VP_BY_DEFAULT;
    }
    if (out->effect == VAULT_EFFECT_MASK && d.field >= 0)
        out->mask = r != NULL && r->mask != VAULT_MASK_NONE ? r->mask : p->fields[d.field].mask;
    return rc;
}
#undef FAIL_CLOSED

/* snprintf that may cut: reasons are one line and may be truncated. */
static void textf(char *out, size_t n, const char *fmt, ...) VAULT_PRINTF(3, 4);
static void textf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

static int same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Mirrors the cases of policy_reason_fill below: what its text depends on. */
int policy_reason_same(const vp_decision *a, const vp_decision *b)
{
    if (!a || !b || a->effect != b->effect || a->by != b->by)
        return 0;
    switch (a->by) {
    case VP_BY_RULE:
        return a->line == b->line && same_text(a->rule_id, b->rule_id) &&
               same_text(a->file, b->file);
    case VP_BY_GRANT:
        return same_text(a->grant_id, b->grant_id);
    case VP_BY_DEFAULT:
        return a->action == b->action && same_text(a->field, b->field);
    default:
        return same_text(a->detail, b->detail);
    }
}

void policy_reason_fill(vault_reason *out, const vp_decision *d)
{
    const char *eff;

    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    out->effect = VAULT_EFFECT_DENY;
    if (d == NULL) {
        textf(out->text, sizeof out->text, "deny: no decision (fail closed)");
        return;
    }
    out->effect = d->effect;
    eff = vp_effect_name(d->effect);
    switch (d->by) {
    case VP_BY_RULE:
        textf(out->rule, sizeof out->rule, "%s", d->rule_id ? d->rule_id : "");
        textf(out->where, sizeof out->where, "%s:%u", d->file ? d->file : "", d->line);
        textf(out->text, sizeof out->text, "%s by rule %s (%s)", eff, out->rule, out->where);
        break;
    case VP_BY_GRANT:
        textf(out->grant, sizeof out->grant, "%s", d->grant_id ? d->grant_id : "");
        textf(out->text, sizeof out->text, "%s by grant %s", eff, out->grant);
        break;
    case VP_BY_DEFAULT:
        if (d->field != NULL)
            textf(out->text, sizeof out->text,
                     "deny: no rule or grant allows %s of %s (default deny)",
                     vp_action_name(d->action), d->field);
        else
            textf(out->text, sizeof out->text,
                     "deny: no rule or grant allows %s of the record (default deny)",
                     vp_action_name(d->action));
        break;
    default:
        out->effect = VAULT_EFFECT_DENY;
        textf(out->text, sizeof out->text, "deny: evaluation error, failing closed (%s)",
                 d->detail ? d->detail : "unknown error");
        break;
    }
}

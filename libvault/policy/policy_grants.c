/* Grant sets (an indexed, immutable copy of the live grants, built by
 * policy_grantset_new for policy_decide) and the checks of grant_limits.
 * Grants are issued, approved and revoked by grants.c; this file only
 * compiles them against a policy: names to ids, field and purpose
 * bitsets, sorted record lists, and the same (subject, action, field)
 * index the rules use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

/* ---- Grant sets ---- */

void policy_grantset_free(vp_grantset *g)
{
    if (g == NULL)
        return;
    vp_map_free(&g->user_map);
    vp_ix_free(&g->ix);
    vp_arena_free(&g->arena);
    free(g);
}

static int grant_compile(vp_grantset *gs, vp_cgrant *c, const vp_grant *in, size_t i)
{
    int rc = VAULT_OK;
    const vault_policy *p = gs->p;
    vp_arena *a = &gs->arena;

    ENSURE(in->id != NULL && in->id[0] != '\0' && strlen(in->id) < VAULT_NAME_MAX,
           VAULT_EINVALID, "grant %zu: missing or overlong id", i);
    ENSURE(in->user != NULL || in->role != NULL || in->department != NULL, VAULT_EINVALID,
           "grant %s: the subject pattern names nobody", in->id);
    ENSURE(in->effect == VAULT_EFFECT_ALLOW || in->effect == VAULT_EFFECT_MASK, VAULT_EINVALID,
           "grant %s: effect must be allow or mask", in->id);
    ENSURE((in->actions & ~VP_ALL_ACTIONS) == 0, VAULT_EINVALID, "grant %s: unknown action bits",
           in->id);
    ENSURE(in->nfields == 0 || in->fields != NULL, VAULT_EINVALID, "grant %s: fields missing",
           in->id);
    ENSURE(in->nrecords == 0 || in->records != NULL, VAULT_EINVALID, "grant %s: records missing",
           in->id);
    ENSURE(in->npurposes == 0 || in->purposes != NULL, VAULT_EINVALID,
           "grant %s: purposes missing", in->id);
    c->id = vp_strndup(a, in->id, strlen(in->id));
    ENSURE(c->id != NULL, VAULT_ENOMEM, "grants: out of memory");
    c->effect = in->effect;
    c->actions = in->actions;
    c->not_before = in->not_before;
    c->not_after = in->not_after;
    c->role = c->dept = -1;
    if (in->user != NULL) {
        char un[VAULT_NAME_MAX];
        ENSURE(vp_user_norm(un, sizeof un, in->user, strlen(in->user)), VAULT_EINVALID,
               "grant %s: invalid user", in->id);
        c->user = vp_strndup(a, un, strlen(un));
        ENSURE(c->user != NULL, VAULT_ENOMEM, "grants: out of memory");
    }
    /* A name this policy doesn't declare can't match any subject: the
     * grant is kept (for who-can) but never matches. */
    if (in->role != NULL && (c->role = vp_map_gets(&p->role_map, in->role)) < 0)
        c->dead = 1;
    if (in->department != NULL && (c->dept = vp_map_gets(&p->dept_map, in->department)) < 0)
        c->dead = 1;

    c->fields = vp_alloc(a, (p->fw ? p->fw : 1) * sizeof *c->fields);
    c->purposes = vp_alloc(a, (p->pw ? p->pw : 1) * sizeof *c->purposes);
    ENSURE(c->fields != NULL && c->purposes != NULL, VAULT_ENOMEM, "grants: out of memory");
    if (in->nfields > 0) {
        for (size_t k = 0; k < in->nfields; k++) {
            int f;
            ENSURE(in->fields[k] != NULL, VAULT_EINVALID, "grant %s: NULL field", in->id);
            f = vp_map_gets(&p->field_map, in->fields[k]);
            if (f >= 0)
                vp_setbit(c->fields, (size_t)f);
        }
    } else {
        for (size_t f = 0; f < p->nfields; f++)
            if (p->fields[f].grade >= in->grade_min && p->fields[f].grade <= in->grade_max)
                vp_setbit(c->fields, f);
        c->whole = in->grade_min <= 0 && in->grade_max >= (int)p->ngrades - 1;
    }
    c->any_purpose = in->npurposes == 0;
    for (size_t k = 0; k < in->npurposes; k++) {
        int q;
        ENSURE(in->purposes[k] != NULL, VAULT_EINVALID, "grant %s: NULL purpose", in->id);
        q = vp_map_gets(&p->purpose_map, in->purposes[k]);
        if (q >= 0)
            vp_setbit(c->purposes, (size_t)q);
    }
    if (!c->any_purpose && vp_bits_empty(c->purposes, p->pw))
        c->dead = 1; /* never widen an unknown purpose list into "any" */
    if (in->nrecords > 0) {
        c->records = vp_alloc(a, in->nrecords * sizeof *c->records);
        ENSURE(c->records != NULL, VAULT_ENOMEM, "grants: out of memory");
        for (size_t k = 0; k < in->nrecords; k++) {
            ENSURE(in->records[k] != NULL, VAULT_EINVALID, "grant %s: NULL record id", in->id);
            c->records[k] = vp_strndup(a, in->records[k], strlen(in->records[k]));
            ENSURE(c->records[k] != NULL, VAULT_ENOMEM, "grants: out of memory");
        }
        c->nrecords = in->nrecords;
        qsort(c->records, c->nrecords, sizeof *c->records, vp_strptr_cmp);
    } else {
        c->jurlen = vp_jur_len(in->jurisdiction);
        ENSURE(c->jurlen >= 0, VAULT_EINVALID,
               "grant %s: needs listed records or a valid jurisdiction", in->id);
        c->jurisdiction = vp_strndup(a, in->jurisdiction, (size_t)c->jurlen);
        ENSURE(c->jurisdiction != NULL, VAULT_ENOMEM, "grants: out of memory");
    }
    if (c->not_after <= c->not_before)
        c->dead = 1;
cleanup:
    return rc;
}

/* Put grant i under every (subject key, action, field slot) it can match. */
static int index_grant(vp_grantset *gs, size_t i, int fill)
{
    int rc = VAULT_OK;
    const vault_policy *p = gs->p;
    const vp_cgrant *c = &gs->g[i];
    int cls = c->effect == VAULT_EFFECT_ALLOW ? 0 : 1;
    size_t sk, nsel = 0;
    int wide;

    if (c->dead)
        return VAULT_OK;
    if (c->user != NULL)
        sk = (size_t)vp_map_gets(&gs->user_map, c->user);
    else if (c->role >= 0)
        sk = gs->nusers + (size_t)c->role;
    else
        sk = gs->nusers + p->nroles + (size_t)c->dept;
    for (size_t w = 0; w < p->fw; w++)
        nsel += (size_t)__builtin_popcountll(c->fields[w]);
    wide = nsel > VP_NARROW_FIELDS;
    for (int a = 0; a < VP_NACTIONS; a++) {
        if (!(c->actions & (1u << a)))
            continue;
        if ((1u << a) & VP_RECORD_ACTIONS) {
            if (c->whole)
                GUARD(vp_ix_put(&gs->ix, vp_ix_key(p->nfields, sk, a, 0), cls, (uint32_t)i, fill));
            continue;
        }
        if (wide) {
            GUARD(vp_ix_put(&gs->ix, vp_ix_key(p->nfields, sk, a, 0), cls, (uint32_t)i, fill));
            continue;
        }
        for (size_t f = 0; f < p->nfields; f++)
            if (vp_bit(c->fields, f))
                GUARD(vp_ix_put(&gs->ix, vp_ix_key(p->nfields, sk, a, f + 1), cls, (uint32_t)i,
                                fill));
    }
cleanup:
    return rc;
}

static int grantset_index(vp_grantset *gs)
{
    int rc = VAULT_OK;

    for (size_t i = 0; i < gs->n; i++) {
        const vp_cgrant *c = &gs->g[i];
        int prev;

        if (c->dead || c->user == NULL)
            continue;
        prev = vp_map_put(&gs->user_map, c->user, strlen(c->user), (int)gs->nusers);
        ENSURE(prev >= -1, VAULT_ENOMEM, "grants: out of memory");
        if (prev == -1)
            gs->nusers++;
    }
    for (size_t i = 0; i < gs->n; i++)
        GUARD(index_grant(gs, i, 0));
    ENSURE(vp_ix_layout(&gs->ix) == VAULT_OK, VAULT_ENOMEM, "grants: out of memory");
    /* Allow grants first, then mask grants, each in the order given. */
    for (size_t i = 0; i < gs->n; i++)
        GUARD(index_grant(gs, i, 1));
cleanup:
    free(gs->ix.cur);
    gs->ix.cur = NULL;
    if (rc == VAULT_ENOMEM || rc == VAULT_ELIMIT)
        rc = vault__err(rc, "grants: %s", rc == VAULT_ENOMEM ? "out of memory" : "index too large");
    return rc;
}

int policy_grantset_new(vp_grantset **out, const vault_policy *p, const vp_grant *grants,
                        size_t ngrants)
{
    int rc = VAULT_OK;
    vp_grantset *gs = NULL;

    ENSURE(out != NULL && p != NULL && (grants != NULL || ngrants == 0), VAULT_EINVALID,
           "policy_grantset_new: missing argument");
    *out = NULL;
    ENSURE(ngrants <= VP_GRANTS_MAX, VAULT_ELIMIT, "grants: more than %d live grants",
           VP_GRANTS_MAX);
    gs = calloc(1, sizeof *gs);
    ENSURE(gs != NULL, VAULT_ENOMEM, "grants: out of memory");
    gs->p = p;
    if (ngrants > 0) {
        gs->g = vp_alloc(&gs->arena, ngrants * sizeof *gs->g);
        ENSURE(gs->g != NULL, VAULT_ENOMEM, "grants: out of memory");
    }
    for (size_t i = 0; i < ngrants; i++) {
        GUARD(grant_compile(gs, &gs->g[i], &grants[i], i));
        gs->n = i + 1;
    }
    GUARD(grantset_index(gs));
    *out = gs;
    gs = NULL;
cleanup:
    policy_grantset_free(gs);
    return rc;
}

/* ---- Grant limits ---- */

int policy_grant_max_grade(const vault_policy *p, const vp_grant *g)
{
    int top = -1;

    if (p == NULL || g == NULL)
        return -1;
    if (g->nfields == 0) {
        int lo = g->grade_min < 0 ? 0 : g->grade_min;
        int hi = g->grade_max >= (int)p->ngrades ? (int)p->ngrades - 1 : g->grade_max;
        for (size_t f = 0; f < p->nfields; f++)
            if (p->fields[f].grade >= lo && p->fields[f].grade <= hi && p->fields[f].grade > top)
                top = p->fields[f].grade;
        return top;
    }
    for (size_t k = 0; k < g->nfields; k++) {
        const vp_field *f = g->fields ? policy_field(p, g->fields[k]) : NULL;
        if (f != NULL && f->grade > top)
            top = f->grade;
    }
    return top;
}

static int name_in(const char *name, const char *const *list, size_t n)
{
    if (name == NULL)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

int policy_grant_check(int *out_needs_approval, const vault_policy *p, const char *issuer_role,
                       const vp_grant *g)
{
    int rc = VAULT_OK;
    const vp_grant_limit *l;
    int grade;

    if (out_needs_approval != NULL)
        *out_needs_approval = 0;
    ENSURE(p != NULL && g != NULL && issuer_role != NULL, VAULT_EINVALID,
           "grant check: missing argument");
    l = policy_grant_limit(p, issuer_role);
    ENSURE(l != NULL, VAULT_EDENIED, "role %s may not issue grants (no grant_limits entry)",
           policy_has_role(p, issuer_role) ? issuer_role : "(undeclared)");
    ENSURE(g->id != NULL && g->id[0] != '\0', VAULT_EINVALID, "grant: missing id");
    ENSURE(g->effect == VAULT_EFFECT_ALLOW || g->effect == VAULT_EFFECT_MASK, VAULT_EINVALID,
           "grant: effect must be allow or mask");
    ENSURE(g->actions != 0 && (g->actions & ~VP_ALL_ACTIONS) == 0, VAULT_EINVALID,
           "grant: no or unknown actions");
    ENSURE(g->user != NULL || g->role != NULL || g->department != NULL, VAULT_EINVALID,
           "grant: the subject pattern names nobody");
    ENSURE(g->role == NULL || policy_has_role(p, g->role), VAULT_EINVALID,
           "grant: role not declared by the policy");
    ENSURE(g->department == NULL || policy_has_department(p, g->department), VAULT_EINVALID,
           "grant: department not declared by the policy");
    ENSURE(g->nfields == 0 || g->fields != NULL, VAULT_EINVALID, "grant: fields missing");
    for (size_t k = 0; k < g->nfields; k++)
        ENSURE(g->fields[k] != NULL && policy_field(p, g->fields[k]) != NULL, VAULT_EINVALID,
               "grant: field not declared by the policy");
    ENSURE(g->nfields > 0 || (g->grade_min >= 0 && g->grade_min <= g->grade_max &&
                              g->grade_max < (int)p->ngrades),
           VAULT_EINVALID, "grant: invalid grade range");
    ENSURE(g->npurposes == 0 || g->purposes != NULL, VAULT_EINVALID, "grant: purposes missing");
    for (size_t k = 0; k < g->npurposes; k++)
        ENSURE(g->purposes[k] != NULL && policy_has_purpose(p, g->purposes[k]), VAULT_EINVALID,
               "grant: purpose not declared by the policy");
    ENSURE(g->nrecords > 0 || vp_jur_len(g->jurisdiction) >= 0, VAULT_EINVALID,
           "grant: needs listed records or a valid jurisdiction");
    /* In range first, so the difference below can't overflow. */
    ENSURE(g->not_before >= 0 && g->not_before <= VP_TIME_MAX && g->not_after >= 0 &&
               g->not_after <= VP_TIME_MAX,
           VAULT_EINVALID, "grant: times must lie between 1970 and 9999");
    ENSURE(g->not_after > g->not_before, VAULT_EINVALID, "grant: not_after must follow not_before");
    grade = policy_grant_max_grade(p, g);
    ENSURE(grade >= 0, VAULT_EINVALID, "grant: selects no field");
    ENSURE(grade <= l->max_grade, VAULT_EDENIED,
           "grant reaches grade %s, above the %s ceiling for role %s", p->grades[grade].name,
           p->grades[l->max_grade].name, l->issuer_role);
    if (g->not_after - g->not_before > l->max_duration) {
        char want[32], max[32];
        policy_duration_text(want, sizeof want, g->not_after - g->not_before);
        policy_duration_text(max, sizeof max, l->max_duration);
        ENSURE(0, VAULT_EDENIED, "grant lasts %s, longer than the max_duration %s of role %s", want,
               max, l->issuer_role);
    }
    ENSURE(l->nrecipient_roles == 0 || name_in(g->role, l->recipient_roles, l->nrecipient_roles),
           VAULT_EDENIED, "role %s may only grant to the roles in its recipients list",
           l->issuer_role);
    ENSURE(l->nrecipient_departments == 0 ||
               name_in(g->department, l->recipient_departments, l->nrecipient_departments),
           VAULT_EDENIED, "role %s may only grant to the departments in its recipients list",
           l->issuer_role);
    if (out_needs_approval != NULL)
        *out_needs_approval = l->approval_grade >= 0 && grade >= l->approval_grade;
cleanup:
    return rc;
}

/* ---- Grants a deny rule makes useless ---- */

/* 1 when deny rule r stops every subject that g's pattern names from
 * reading field f, whatever the record: scope any, every purpose g may be
 * used for, a subject pattern that covers g's. */
static int deny_blocks(const vault_policy *p, const vp_rule *r, const vp_grant *g,
                       const vp_subj *pat, size_t f)
{
    int covers = r->any_subject;

    if (r->effect != VAULT_EFFECT_DENY || r->never || r->scope != VP_SCOPE_ANY ||
        !(r->actions & (1u << VAULT_ACTION_READ)) || !vp_bit(r->fields, f))
        return 0;
    if (!r->any_purpose) {
        if (g->npurposes == 0)
            return 0;
        for (size_t k = 0; k < g->npurposes; k++) {
            int q = vp_map_gets(&p->purpose_map, g->purposes[k]);
            if (q < 0 || !vp_bit(r->purposes, (size_t)q))
                return 0;
        }
    }
    for (size_t i = 0; !covers && i < r->nsubj; i++)
        covers = vp_subj_covers(&r->subj[i], pat);
    return covers;
}

/* deny_blocks for every subject the pattern can name: a pattern without a
 * department whose role exists only in some departments (`roles:
 * departments:`) is blocked when the rule blocks it in each of them. */
static int deny_blocks_all(const vault_policy *p, const vp_rule *r, const vp_grant *g,
                           const vp_subj *pat, size_t f)
{
    vp_subj one = *pat;
    int any = 0;

    if (deny_blocks(p, r, g, pat, f))
        return 1;
    if (pat->dept >= 0 || pat->role < 0 || p->roles[pat->role].depts == NULL)
        return 0;
    for (size_t d = 0; d < p->ndepts; d++) {
        if (!vp_bit(p->roles[pat->role].depts, d))
            continue;
        one.dept = (int)d;
        if (!deny_blocks(p, r, g, &one, f))
            return 0;
        any = 1;
    }
    return any;
}

static const char *file_base(const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;

    return slash ? slash + 1 : path ? path : "";
}

int policy_grant_blocked(char **out, const vault_policy *p, const vp_grant *g)
{
    int rc = VAULT_OK;
    vault_buf b = {0};
    vp_subj pat;
    char un[VAULT_NAME_MAX];
    size_t selected = 0, blocked = 0;

    ENSURE(out != NULL && p != NULL && g != NULL, VAULT_EINVALID,
           "grant warnings: missing argument");
    *out = NULL;
    memset(&pat, 0, sizeof pat);
    pat.role = g->role ? vp_map_gets(&p->role_map, g->role) : -1;
    pat.dept = g->department ? vp_map_gets(&p->dept_map, g->department) : -1;
    pat.user_id = -1;
    if (g->user != NULL && vp_user_norm(un, sizeof un, g->user, strlen(g->user)))
        pat.user = un;
    for (size_t f = 0; f < p->nfields; f++) {
        int sel = 0;
        if (g->nfields == 0)
            sel = p->fields[f].grade >= g->grade_min && p->fields[f].grade <= g->grade_max;
        for (size_t k = 0; k < g->nfields && !sel; k++)
            sel = g->fields[k] != NULL && strcmp(g->fields[k], p->fields[f].name) == 0;
        if (!sel)
            continue;
        selected++;
        for (size_t i = 0; i < p->nrules; i++) {
            const vp_rule *r = &p->rules[i];
            if (deny_blocks_all(p, r, g, &pat, f)) {
                vault__buf_printf(&b, "warning: deny rule %s (%s:%u) wins over this grant: its "
                              "recipients can never read field %s\n", r->id,
                              file_base(p->filename), r->line, p->fields[f].name);
                blocked++;
                break;
            }
        }
    }
    if (selected > 0 && blocked == selected)
        vault__buf_printf(&b, "warning: the grant gives its recipients no access at all\n");
    ENSURE(!b.failed, VAULT_ENOMEM, "out of memory");
    *out = b.s ? b.s : strdup("");
    b.s = NULL;
    ENSURE(*out != NULL, VAULT_ENOMEM, "out of memory");
cleanup:
    vault__buf_free(&b);
    return rc;
}

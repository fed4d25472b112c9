/* Compile a parsed policy for fast decisions and look for rules that can
 * never take effect.
 *
 * Index: every rule goes into one bucket per (subject key, action) it can
 * match, where the subject key is the role a subject pattern names, else
 * the department it names, else the shared bucket.  A decision then reads
 * at most three buckets (its role's, its department's, the shared one) for
 * its action.  Inside a bucket the deny rules come first, then allow, then
 * mask, each in file order, so the first match in a class is the one that
 * decides and the scan can stop there. */
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

int vp_subj_covers(const vp_subj *s, const vp_subj *t)
{
    if (s->role >= 0 && s->role != t->role)
        return 0;
    if (s->dept >= 0 && s->dept != t->dept)
        return 0;
    if (s->user != NULL && (t->user == NULL || strcmp(s->user, t->user) != 0))
        return 0;
    return 1;
}

int vp_rule_matches_cell(const vault_policy *p, const vp_rule *r, int action, int role, int dept,
                         int purpose, int field)
{
    (void)p;
    if (!(r->actions & (1u << action)))
        return 0;
    if (!r->any_purpose && (purpose < 0 || !vp_bit(r->purposes, (size_t)purpose)))
        return 0;
    if (field >= 0 ? !vp_bit(r->fields, (size_t)field) : r->sel != VP_SEL_NONE)
        return 0;
    if (r->any_subject)
        return 1;
    for (size_t i = 0; i < r->nsubj; i++) {
        const vp_subj *s = &r->subj[i];
        if (s->user == NULL && (s->role < 0 || s->role == role) && (s->dept < 0 || s->dept == dept))
            return 1;
    }
    return 0;
}

/* ---- Index ---- */

static int effect_class(int effect)
{
    return effect == VAULT_EFFECT_DENY ? 0 : effect == VAULT_EFFECT_ALLOW ? 1 : 2;
}

/* The distinct subject keys of rule r (see vault_policy.ix). */
static size_t rule_keys(const vault_policy *p, const vp_rule *r, uint32_t *keys, uint32_t *stamp,
                        uint32_t mark)
{
    size_t n = 0;
    uint32_t shared = (uint32_t)(p->nroles + p->ndepts);

    if (r->any_subject) {
        keys[n++] = shared;
        return n;
    }
    for (size_t i = 0; i < r->nsubj; i++) {
        const vp_subj *s = &r->subj[i];
        uint32_t k = s->user_id >= 0 ? shared + 1u + (uint32_t)s->user_id
                     : s->role >= 0  ? (uint32_t)s->role
                     : s->dept >= 0  ? (uint32_t)(p->nroles + (size_t)s->dept)
                                     : shared;
        if (stamp[k] == mark)
            continue;
        stamp[k] = mark;
        keys[n++] = k;
    }
    return n;
}

static size_t popcount_bits(const uint64_t *b, size_t words)
{
    size_t n = 0;

    for (size_t i = 0; i < words; i++)
        n += (size_t)__builtin_popcountll(b[i]);
    return n;
}

static int nactions(unsigned actions)
{
    return __builtin_popcount(actions);
}

/* Put rule i under every (subject key, action, field slot) it can match. */
static int index_rule(vault_policy *p, size_t i, const uint32_t *keys, size_t nk, int fill)
{
    int rc = VAULT_OK;
    const vp_rule *r = &p->rules[i];
    int cls = effect_class(r->effect);
    size_t nsel = r->sel == VP_SEL_NONE ? p->nfields : popcount_bits(r->fields, p->fw);
    int wide = r->sel == VP_SEL_NONE || nsel > VP_NARROW_FIELDS ||
               nk * (size_t)nactions(r->actions) * nsel > VP_NARROW_ENTRIES;

    for (size_t k = 0; k < nk; k++)
        for (int a = 0; a < VP_NACTIONS; a++) {
            if (!(r->actions & (1u << a)))
                continue;
            if ((1u << a) & VP_RECORD_ACTIONS) {
                if (r->sel == VP_SEL_NONE)
                    GUARD(vp_ix_put(&p->ix, vp_ix_key(p->nfields, keys[k], a, 0), cls,
                                    (uint32_t)i, fill));
                continue;
            }
            if (wide) {
                GUARD(vp_ix_put(&p->ix, vp_ix_key(p->nfields, keys[k], a, 0), cls, (uint32_t)i,
                                fill));
                continue;
            }
            for (size_t f = 0; f < p->nfields; f++)
                if (vp_bit(r->fields, f))
                    GUARD(vp_ix_put(&p->ix, vp_ix_key(p->nfields, keys[k], a, f + 1), cls,
                                    (uint32_t)i, fill));
        }
cleanup:
    return rc;
}

static int build_index(vault_policy *p)
{
    int rc = VAULT_OK;
    size_t nkeys = p->nroles + p->ndepts + 1 + p->nusers;
    uint32_t *stamp = NULL, keys[VP_SUBJECTS_MAX + 1];

    stamp = calloc(nkeys, sizeof *stamp);
    ENSURE(stamp != NULL, VAULT_ENOMEM, "policy: out of memory");
    /* Count, lay out, then fill class by class so each class of a bucket
     * lists its rules in file order. */
    for (size_t i = 0; i < p->nrules; i++) {
        if (p->rules[i].never)
            continue;
        GUARD(index_rule(p, i, keys, rule_keys(p, &p->rules[i], keys, stamp, (uint32_t)i + 1),
                         0));
    }
    GUARD(vp_ix_layout(&p->ix) < 0 ? vault__err(VAULT_ENOMEM, "policy: out of memory")
                                   : VAULT_OK);
    memset(stamp, 0, nkeys * sizeof *stamp);
    for (size_t i = 0; i < p->nrules; i++) {
        if (p->rules[i].never)
            continue;
        GUARD(index_rule(p, i, keys, rule_keys(p, &p->rules[i], keys, stamp, (uint32_t)i + 1),
                         1));
    }
cleanup:
    free(p->ix.cur);
    p->ix.cur = NULL;
    free(stamp);
    if (rc == VAULT_ENOMEM)
        rc = vault__err(VAULT_ENOMEM, "policy: out of memory");
    else if (rc == VAULT_ELIMIT)
        rc = vault__err(VAULT_ELIMIT, "policy: rule index too large");
    return rc;
}

void vp_rule_lists(const vault_policy *p, int action, int user, int role, int dept, int field,
                   const vp_bucket *out[VP_RULE_LISTS])
{
    size_t shared = p->nroles + p->ndepts, sk[4];

    sk[0] = user >= 0 ? shared + 1 + (size_t)user : SIZE_MAX;
    sk[1] = role >= 0 ? (size_t)role : SIZE_MAX;
    sk[2] = dept >= 0 ? p->nroles + (size_t)dept : SIZE_MAX;
    sk[3] = shared;
    vp_ix_probe(&p->ix, p->nfields, sk, 4, action, field, out);
}

/* ---- Warnings ---- */

static int field_level(unsigned actions)
{
    return (actions & ~VP_RECORD_ACTIONS) != 0;
}

static void warn_never(vault_policy *p, vp_rule *r, vp_warn_fn warn, void *ctx)
{
    if (r->actions == 0) {
        warn(ctx, r->line, r->col, "rule '%s' lists no actions: it can never match", r->id);
        r->never = 1;
    }
    if (!r->any_subject && r->nsubj == 0) {
        warn(ctx, r->line, r->col, "rule '%s' lists no subjects: it can never match", r->id);
        r->never = 1;
    }
    if (!r->any_purpose && vp_bits_empty(r->purposes, p->pw)) {
        warn(ctx, r->line, r->col, "rule '%s' has an empty purposes list: it can never match",
             r->id);
        r->never = 1;
    }
    if (r->sel == VP_SEL_GRADES && vp_bits_empty(r->fields, p->fw) && field_level(r->actions)) {
        warn(ctx, r->line, r->col,
             "rule '%s' selects no field (no field has a grade from '%s' to '%s'): it can "
             "never match",
             r->id, p->grades[r->grade_min].name, p->grades[r->grade_max].name);
        r->never = 1;
    }
    /* A role declared for some departments never meets a subject of
     * another department. */
    for (size_t i = 0; i < r->nsubj; i++) {
        const vp_subj *s = &r->subj[i];
        const vp_role *role = s->role >= 0 ? &p->roles[s->role] : NULL;

        if (role != NULL && role->depts != NULL && s->dept >= 0 &&
            !vp_bit(role->depts, (size_t)s->dept))
            warn(ctx, s->line, s->col,
                 "subject role '%s' with department '%s' can never match: the role is not "
                 "declared for that department",
                 role->n.name, p->depts[s->dept].name);
    }
}

/* Does deny rule d take effect wherever allow/mask rule a would? */
static int shadows(const vault_policy *p, const vp_rule *d, const vp_rule *a)
{
    if ((a->actions & ~d->actions) != 0)
        return 0;
    if (d->scope == VP_SCOPE_WITHIN && a->scope != VP_SCOPE_WITHIN)
        return 0;
    if (!d->any_subject) {
        if (a->any_subject)
            return 0;
        for (size_t i = 0; i < a->nsubj; i++) {
            size_t j;
            for (j = 0; j < d->nsubj; j++)
                if (vp_subj_covers(&d->subj[j], &a->subj[i]))
                    break;
            if (j == d->nsubj)
                return 0;
        }
    }
    if (!d->any_purpose && !vp_bits_subset(a->purposes, d->purposes, p->pw))
        return 0;
    if (field_level(a->actions) && !vp_bits_subset(a->fields, d->fields, p->fw))
        return 0;
    return 1;
}

int vp_compile(vault_policy *p, vp_warn_fn warn, void *ctx)
{
    int rc = VAULT_OK;

    for (size_t i = 0; i < p->nrules; i++)
        warn_never(p, &p->rules[i], warn, ctx);
    for (size_t i = 0; i < p->nrules; i++) {
        const vp_rule *a = &p->rules[i];

        if (a->never || a->effect == VAULT_EFFECT_DENY)
            continue;
        for (size_t j = 0; j < p->nrules; j++) {
            const vp_rule *d = &p->rules[j];

            if (d->never || d->effect != VAULT_EFFECT_DENY || !shadows(p, d, a))
                continue;
            warn(ctx, a->line, a->col,
                 "rule '%s' (%s) can never take effect: deny rule '%s' (line %u) covers all its "
                 "subjects, actions, purposes, scope and fields",
                 a->id, vp_effect_name(a->effect), d->id, d->line);
            break;
        }
    }
    GUARD(build_index(p));
cleanup:
    return rc;
}

/* Policy files, second half: rules, grant_limits and break_glass.  The
 * declarations (grades, fields, ...) are already read (policy_yaml.c), so
 * every name here resolves to a small integer and every field selector to
 * a bitset at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

static uint64_t *bits_new(pctx *c, size_t words)
{
    uint64_t *b = vp_alloc(&c->p->arena, (words ? words : 1) * sizeof *b);

    if (b == NULL)
        c->oom = 1;
    return b;
}

static int scalar_is(const vnode *n, const char *s)
{
    return n->type == VN_SCALAR && strlen(s) == n->len && memcmp(n->s, s, n->len) == 0; /* memcmp ok: not secret */
}

/* ---- Subjects ---- */

static void parse_pattern(pctx *c, vp_subj *s, const vnode *m)
{
    static const vp_keydef defs[] = {{"user", 0}, {"role", 0}, {"department", 0}};
    const vnode *v[3];
    char q[80], un[VAULT_NAME_MAX];

    s->role = -1;
    s->dept = -1;
    s->user_id = -1;
    s->line = m->line;
    s->col = m->col;
    if (!vp_map_keys(c, m, "subject", defs, 3, v))
        return;
    if (v[0] == NULL && v[1] == NULL && v[2] == NULL) {
        vp_diag_n(c, VP_ERR, m,
                  "a subject names at least one of user, role, department (write 'subjects: "
                  "any' for everyone)");
        return;
    }
    if (v[0] != NULL && vp_want(c, v[0], VN_SCALAR, "user")) {
        /* Kept in the comparison form sessions and grants use (text.h). */
        if (!vp_user_norm(un, sizeof un, v[0]->s, v[0]->len)) {
            vp_quote(q, sizeof q, v[0]->s, v[0]->len);
            vp_diag_n(c, VP_ERR, v[0], "invalid user '%s': 1 to %d bytes of UTF-8, no spaces, "
                      "control, bidirectional or invisible characters", q, VAULT_NAME_MAX - 1);
        } else if ((s->user = vp_strndup(&c->p->arena, un, strlen(un))) == NULL) {
            c->oom = 1;
        } else {
            int prev = vp_map_put(&c->p->user_map, s->user, strlen(un), (int)c->p->nusers);
            if (prev < -1)
                c->oom = 1;
            else if (prev == -1)
                s->user_id = (int)c->p->nusers++;
            else
                s->user_id = prev;
        }
    }
    if (v[1] != NULL)
        s->role = vp_lookup(c, VP_K_ROLE, v[1]);
    if (v[2] != NULL)
        s->dept = vp_lookup(c, VP_K_DEPT, v[2]);
}

static void parse_subjects(pctx *c, vp_rule *r, const vnode *n)
{
    size_t count;

    if (n->type == VN_SCALAR && !n->is_null) {
        if (scalar_is(n, "any"))
            r->any_subject = 1;
        else
            vp_diag_n(c, VP_ERR, n, "subjects must be 'any', a mapping of user/role/department, "
                      "or a list of such mappings");
        return;
    }
    if (n->type == VN_MAP) {
        r->subj = vp_alloc(&c->p->arena, sizeof *r->subj);
        if (r->subj == NULL) {
            c->oom = 1;
            return;
        }
        r->nsubj = 1;
        parse_pattern(c, &r->subj[0], n);
        return;
    }
    if (!vp_want(c, n, VN_SEQ, "subjects"))
        return;
    count = n->n;
    if (count > VP_SUBJECTS_MAX) {
        vp_diag_n(c, VP_ERR, n->kids[VP_SUBJECTS_MAX], "too many subjects in one rule: at most %d",
                  VP_SUBJECTS_MAX);
        c->limit = 1;
        count = VP_SUBJECTS_MAX;
    }
    if (count == 0)
        return;
    r->subj = vp_alloc(&c->p->arena, count * sizeof *r->subj);
    if (r->subj == NULL) {
        c->oom = 1;
        return;
    }
    r->nsubj = count;
    for (size_t i = 0; i < count; i++)
        parse_pattern(c, &r->subj[i], n->kids[i]);
}

/* ---- Lists of actions and purposes ---- */

static size_t list_count(pctx *c, const vnode *n, const char *what)
{
    if (n->type == VN_MAP || (n->type == VN_SCALAR && n->is_null)) {
        if (!n->bad)
            vp_diag_n(c, VP_ERR, n, "%s must be a list (or a single name), not %s", what,
                      vp_node_kind(n));
        return 0;
    }
    if (vp_list_len(n) > VP_LIST_MAX) {
        vp_diag_n(c, VP_ERR, n, "%s: too many items, at most %d", what, VP_LIST_MAX);
        c->limit = 1;
        return 0;
    }
    return vp_list_len(n);
}

/* Returns the node of the first record-level action (for the selector
 * check), or NULL. */
static const vnode *parse_actions(pctx *c, vp_rule *r, const vnode *n)
{
    const vnode *record_level = NULL;
    size_t count = list_count(c, n, "actions");
    char q[80];

    for (size_t i = 0; i < count; i++) {
        const vnode *a = vp_list_at(n, i);
        int act;

        if (!vp_want(c, a, VN_SCALAR, "action"))
            continue;
        act = vp_action_from_name(a->s, a->len);
        if (act < 0) {
            vp_quote(q, sizeof q, a->s, a->len);
            vp_diag_n(c, VP_ERR, a, "unknown action '%s' (expected read, write, create, search, "
                      "erase or export)", q);
            continue;
        }
        if (r->actions & (1u << act))
            vp_diag_n(c, VP_WARN, a, "action '%s' is listed twice", vp_action_name(act));
        r->actions |= 1u << act;
        if (((1u << act) & VP_RECORD_ACTIONS) && record_level == NULL)
            record_level = a;
    }
    return record_level;
}

static void parse_purposes(pctx *c, uint64_t *bits, const vnode *n)
{
    size_t count = list_count(c, n, "purposes");

    for (size_t i = 0; i < count; i++) {
        const vnode *item = vp_list_at(n, i);
        int q = vp_lookup(c, VP_K_PURPOSE, item);

        if (q < 0)
            continue;
        if (vp_bit(bits, (size_t)q))
            vp_diag_n(c, VP_WARN, item, "purpose '%s' is listed twice",
                      c->p->purposes[q].name);
        vp_setbit(bits, (size_t)q);
    }
}

/* ---- Field selectors ---- */

static void parse_field_list(pctx *c, vp_rule *r, const vnode *n)
{
    size_t count = list_count(c, n, "fields");

    if (n->type == VN_SEQ && n->n == 0) {
        vp_diag_n(c, VP_ERR, n, "impossible selector: the fields list is empty");
        return;
    }
    for (size_t i = 0; i < count; i++) {
        const vnode *item = vp_list_at(n, i);
        int f = vp_lookup(c, VP_K_FIELD, item);

        if (f < 0)
            continue;
        if (vp_bit(r->fields, (size_t)f))
            vp_diag_n(c, VP_WARN, item, "field '%s' is listed twice", c->p->fields[f].name);
        vp_setbit(r->fields, (size_t)f);
    }
}

static void parse_grade_selector(pctx *c, vp_rule *r, const vnode *n)
{
    static const vp_keydef defs[] = {{"min", 0}, {"max", 0}};
    const vault_policy *p = c->p;
    const vnode *v[2];
    int lo = 0, hi = (int)p->ngrades - 1, ok = 1;

    if (n->type == VN_SCALAR && !n->is_null) {
        /* `grades: personal` is shorthand for {min: personal, max: personal} */
        lo = hi = vp_lookup(c, VP_K_GRADE, n);
        ok = lo >= 0;
    } else {
        if (!vp_map_keys(c, n, "grades selector", defs, 2, v))
            return;
        if (v[0] == NULL && v[1] == NULL) {
            vp_diag_n(c, VP_ERR, n, "impossible selector: grades needs min, max or both");
            return;
        }
        if (v[0] != NULL && (lo = vp_lookup(c, VP_K_GRADE, v[0])) < 0)
            ok = 0;
        if (v[1] != NULL && (hi = vp_lookup(c, VP_K_GRADE, v[1])) < 0)
            ok = 0;
        if (ok && lo > hi) {
            vp_diag_n(c, VP_ERR, v[0] ? v[0] : n,
                      "impossible selector: grades min '%s' is above max '%s'",
                      p->grades[lo].name, p->grades[hi].name);
            ok = 0;
        }
    }
    if (!ok)
        return;
    r->grade_min = lo;
    r->grade_max = hi;
    for (size_t f = 0; f < p->nfields; f++)
        if (p->fields[f].grade >= lo && p->fields[f].grade <= hi)
            vp_setbit(r->fields, f);
}

/* ---- Rules ---- */

static void parse_rule(pctx *c, vp_rule *r, const vnode *m)
{
    static const vp_keydef defs[] = {
        {"id", 1},    {"description", 0}, {"subjects", 1}, {"actions", 1}, {"purposes", 0},
        {"scope", 1}, {"fields", 0},      {"grades", 0},   {"effect", 1},
        {"mask", 0},  {"alarm", 0},
    };
    enum { ID, DESC, SUBJ, ACT, PURP, SCOPE, FIELDS, GRADES, EFFECT, MASK, ALARM };
    vault_policy *p = c->p;
    const vnode *v[VAULT_ARRAY_LEN(defs)], *record_level = NULL;
    char q[80];

    r->id = "(no id)";
    r->line = m->line;
    r->col = m->col;
    r->effect = VAULT_EFFECT_DENY;
    if (!vp_map_keys(c, m, "rule", defs, VAULT_ARRAY_LEN(defs), v))
        return;
    if (v[ID] != NULL && vp_want_name(c, v[ID], "rule id")) {
        const char *id = vp_strndup(&p->arena, v[ID]->s, v[ID]->len);
        int prev;

        if (id == NULL) {
            c->oom = 1;
            return;
        }
        prev = vp_map_put(&c->rule_ids, id, v[ID]->len, (int)(r - p->rules));
        if (prev < -1) {
            c->oom = 1;
            return;
        }
        if (prev >= 0)
            vp_diag_n(c, VP_ERR, v[ID], "duplicate rule id '%s' (first used at line %u)", id,
                      p->rules[prev].line);
        r->id = id;
    }
    if (v[DESC] != NULL)
        r->description = vp_want_text(c, v[DESC], "description");

    if (v[EFFECT] != NULL) {
        const vnode *e = v[EFFECT];
        if (e->type == VN_SEQ || e->type == VN_MAP) {
            vp_diag_n(c, VP_ERR, e, "a rule has exactly one effect (allow, mask or deny), not %s",
                      vp_node_kind(e));
        } else if (vp_want(c, e, VN_SCALAR, "effect")) {
            if (scalar_is(e, "allow")) {
                r->effect = VAULT_EFFECT_ALLOW;
            } else if (scalar_is(e, "mask")) {
                r->effect = VAULT_EFFECT_MASK;
            } else if (scalar_is(e, "deny")) {
                r->effect = VAULT_EFFECT_DENY;
            } else {
                vp_quote(q, sizeof q, e->s, e->len);
                vp_diag_n(c, VP_ERR, e, "unknown effect '%s': use allow, mask or deny", q);
            }
        }
    }
    /* A mask rule may show its fields with a mask of its own (a handling
     * department sees the caller as a pseudonym, the desk as 138****5678). */
    if (v[MASK] != NULL && vp_want(c, v[MASK], VN_SCALAR, "mask")) {
        vault_mask_kind mk = VAULT_MASK_NONE;

        vp_quote(q, sizeof q, v[MASK]->s, v[MASK]->len);
        if (r->effect != VAULT_EFFECT_MASK) {
            vp_diag_n(c, VP_ERR, v[MASK], "mask '%s' on a rule whose effect is not mask", q);
        } else if (memchr(v[MASK]->s, '\0', v[MASK]->len) != NULL ||
                   mask_kind_from_name(&mk, v[MASK]->s) != VAULT_OK || mk == VAULT_MASK_NONE) {
            vault__err_clear();
            vp_diag_n(c, VP_ERR, v[MASK],
                      "unknown mask '%s' (expected name, id_number, phone, bank_card, address, "
                      "age_band, flag, redact or pseudonym)", q);
        } else {
            r->mask = mk;
        }
    }
    /* A deny rule may raise an alarm for every denial it decides (the
     * complainant's identity asked for by the department complained of). */
    if (v[ALARM] != NULL && vp_want(c, v[ALARM], VN_SCALAR, "alarm")) {
        if (scalar_is(v[ALARM], "true"))
            r->alarm = 1;
        else if (!scalar_is(v[ALARM], "false"))
            vp_diag_n(c, VP_ERR, v[ALARM], "alarm is true or false");
        if (r->alarm && r->effect != VAULT_EFFECT_DENY)
            vp_diag_n(c, VP_ERR, v[ALARM], "alarm: true is for deny rules (a quota's over: alert "
                      "raises alarms for reads that go on)");
    }
    if (v[SUBJ] != NULL)
        parse_subjects(c, r, v[SUBJ]);
    if (v[ACT] != NULL)
        record_level = parse_actions(c, r, v[ACT]);

    r->purposes = bits_new(c, p->pw);
    r->fields = bits_new(c, p->fw);
    if (r->purposes == NULL || r->fields == NULL)
        return;
    if (v[PURP] != NULL) {
        parse_purposes(c, r->purposes, v[PURP]);
    } else {
        r->any_purpose = 1;
        for (size_t i = 0; i < p->npurposes; i++)
            vp_setbit(r->purposes, i);
    }
    if (v[SCOPE] != NULL && vp_want(c, v[SCOPE], VN_SCALAR, "scope")) {
        if (scalar_is(v[SCOPE], "any")) {
            r->scope = VP_SCOPE_ANY;
        } else if (scalar_is(v[SCOPE], "within")) {
            r->scope = VP_SCOPE_WITHIN;
        } else {
            vp_quote(q, sizeof q, v[SCOPE]->s, v[SCOPE]->len);
            vp_diag_n(c, VP_ERR, v[SCOPE], "unknown scope '%s': use any or within", q);
        }
    }

    if (v[FIELDS] != NULL && v[GRADES] != NULL) {
        vp_diag_n(c, VP_ERR, v[GRADES],
                  "impossible selector: give either fields or grades, not both");
    } else if (v[FIELDS] != NULL) {
        r->sel = VP_SEL_FIELDS;
        parse_field_list(c, r, v[FIELDS]);
    } else if (v[GRADES] != NULL) {
        r->sel = VP_SEL_GRADES;
        parse_grade_selector(c, r, v[GRADES]);
    } else {
        r->sel = VP_SEL_NONE;
        r->grade_min = 0;
        r->grade_max = p->ngrades ? (int)p->ngrades - 1 : 0;
        for (size_t f = 0; f < p->nfields; f++)
            vp_setbit(r->fields, f);
    }
    if (record_level != NULL && (v[FIELDS] != NULL || v[GRADES] != NULL)) {
        vp_quote(q, sizeof q, record_level->s, record_level->len);
        vp_diag_n(c, VP_ERR, record_level,
                  "action '%s' acts on whole records: a rule with create or erase cannot have a "
                  "field selector (drop fields/grades or split the rule)",
                  q);
    }
}

int vp_parse_rules(pctx *c, const vnode *seq)
{
    int rc = VAULT_OK;
    vault_policy *p = c->p;
    size_t count;

    if (!vp_want(c, seq, VN_SEQ, "rules"))
        return VAULT_OK;
    count = seq->n;
    if (count == 0) {
        vp_diag_n(c, VP_WARN, seq, "no rules: every request is denied by default");
        return VAULT_OK;
    }
    if (count > VP_RULES_MAX) {
        vp_diag_n(c, VP_ERR, seq->kids[VP_RULES_MAX], "too many rules: at most %d",
                  VP_RULES_MAX);
        c->limit = 1;
        count = VP_RULES_MAX;
    }
    p->rules = vp_alloc(&p->arena, count * sizeof *p->rules);
    ENSURE(p->rules != NULL, VAULT_ENOMEM, "policy: out of memory");
    for (size_t i = 0; i < count; i++) {
        parse_rule(c, &p->rules[i], seq->kids[i]);
        ENSURE(!c->oom, VAULT_ENOMEM, "policy: out of memory");
    }
    p->nrules = count;
cleanup:
    return rc;
}

/* ---- grant_limits and break_glass ---- */

/* Names of kind (role/department) from a list, as an arena array of the
 * declared names. */
static const char *const *name_array(pctx *c, const vnode *n, int kind, const char *what,
                                     size_t *out_n)
{
    size_t count = list_count(c, n, what), k = 0;
    const char **out;

    *out_n = 0;
    if (count == 0)
        return NULL;
    out = vp_alloc(&c->p->arena, count * sizeof *out);
    if (out == NULL) {
        c->oom = 1;
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        int x = vp_lookup(c, kind, vp_list_at(n, i));

        if (x < 0)
            continue;
        out[k++] = kind == VP_K_ROLE   ? c->p->roles[x].n.name
                   : kind == VP_K_DEPT ? c->p->depts[x].name
                                       : c->p->purposes[x].name;
    }
    *out_n = k;
    return out;
}

/* true / false; -1 (reported) for anything else. */
static int want_bool(pctx *c, const vnode *n, const char *what)
{
    if (scalar_is(n, "true"))
        return 1;
    if (scalar_is(n, "false"))
        return 0;
    vp_diag_n(c, VP_ERR, n, "%s must be true or false", what);
    return -1;
}

/* A whole number 1..max; -1 (reported) for anything else. */
static int want_count(pctx *c, const vnode *n, const char *what, int max)
{
    int v = 0;

    if (n->type == VN_SCALAR && n->len > 0 && n->len <= 6) {
        size_t i;
        for (i = 0; i < n->len && n->s[i] >= '0' && n->s[i] <= '9'; i++)
            v = v * 10 + (n->s[i] - '0');
        if (i == n->len && v >= 1 && v <= max)
            return v;
    }
    vp_diag_n(c, VP_ERR, n, "%s must be a whole number from 1 to %d", what, max);
    return -1;
}

int vp_parse_grant_limits(pctx *c, const vnode *m)
{
    static const vp_keydef defs[] = {{"max_grade", 1},     {"max_duration", 1},
                                     {"recipients", 1},    {"approval_from", 0},
                                     {"self_grant", 0}};
    static const vp_keydef rdefs[] = {{"roles", 0}, {"departments", 0}};
    int rc = VAULT_OK;
    vault_policy *p = c->p;
    vp_map seen = {NULL, 0, 0};

    if (!vp_want(c, m, VN_MAP, "grant_limits"))
        return VAULT_OK;
    p->limit_of_role = vp_alloc(&p->arena, (p->nroles ? p->nroles : 1) * sizeof(int));
    p->limits = vp_alloc(&p->arena, (m->n ? m->n : 1) * sizeof *p->limits);
    ENSURE(p->limit_of_role != NULL && p->limits != NULL, VAULT_ENOMEM, "policy: out of memory");
    for (size_t i = 0; i < p->nroles; i++)
        p->limit_of_role[i] = -1;
    for (size_t i = 0; i < m->n; i++) {
        const vnode *k = m->kids[2 * i], *v[5], *rv[2];
        vp_grant_limit *l = &p->limits[p->nlimits];
        int role, prev;

        if (k->type == VN_SCALAR) {
            prev = vp_map_put(&seen, k->s, k->len, (int)k->line);
            ENSURE(prev >= -1, VAULT_ENOMEM, "policy: out of memory");
            if (prev >= 0) {
                char q[80];
                vp_quote(q, sizeof q, k->s, k->len);
                vp_diag_n(c, VP_ERR, k, "duplicate key '%s' in grant_limits (first at line %d)",
                          q, prev);
                continue;
            }
        }
        role = vp_lookup(c, VP_K_ROLE, k);
        if (!vp_map_keys(c, m->kids[2 * i + 1], "grant limit", defs, 5, v) || role < 0)
            continue;
        l->issuer_role = p->roles[role].n.name;
        l->line = k->line;
        l->approval_grade = -1;
        l->max_grade = v[0] ? vp_lookup(c, VP_K_GRADE, v[0]) : -1;
        l->max_duration = v[1] ? vp_want_duration(c, v[1], "max_duration") : -1;
        if (v[2] != NULL && vp_map_keys(c, v[2], "recipients", rdefs, 2, rv)) {
            if (rv[0] == NULL && rv[1] == NULL)
                vp_diag_n(c, VP_ERR, v[2], "recipients needs roles, departments or both");
            if (rv[0] != NULL)
                l->recipient_roles = name_array(c, rv[0], VP_K_ROLE, "recipient roles",
                                                &l->nrecipient_roles);
            if (rv[1] != NULL)
                l->recipient_departments = name_array(c, rv[1], VP_K_DEPT, "recipient departments",
                                                      &l->nrecipient_departments);
            if ((rv[0] != NULL && l->nrecipient_roles == 0 && rv[0]->type == VN_SEQ) ||
                (rv[1] != NULL && l->nrecipient_departments == 0 && rv[1]->type == VN_SEQ))
                vp_diag_n(c, VP_WARN, v[2], "an empty recipients list: role '%s' can grant to "
                          "nobody", l->issuer_role);
        }
        if (v[3] != NULL) {
            l->approval_grade = vp_lookup(c, VP_K_GRADE, v[3]);
            if (l->approval_grade >= 0 && l->max_grade >= 0 && l->approval_grade > l->max_grade)
                vp_diag_n(c, VP_WARN, v[3], "approval_from is above max_grade: no grant of role "
                          "'%s' will ever need a second approval", l->issuer_role);
        }
        if (v[4] != NULL)
            l->self_grant = want_bool(c, v[4], "self_grant") == 1;
        ENSURE(!c->oom, VAULT_ENOMEM, "policy: out of memory");
        p->limit_of_role[role] = (int)p->nlimits;
        p->nlimits++;
    }
cleanup:
    vp_map_free(&seen);
    return rc;
}

/* A top-level list of declared roles (`auditors:`, `data_officers:`):
 * what names the list in messages, nobody what an empty list means. */
static int parse_role_list(pctx *c, const vnode *n, const char *what, const char *nobody,
                           const char *const **roles, size_t *nroles, int *has, unsigned *line)
{
    int rc = VAULT_OK;
    vault_policy *p = c->p;
    size_t count = list_count(c, n, what), k = 0;
    const char **out = NULL;

    *has = 1;
    *line = n->line;
    if (count == 0) {
        if (n->type == VN_SEQ)
            vp_diag_n(c, VP_WARN, n, "%s lists no roles: %s", what, nobody);
        goto cleanup;
    }
    out = vp_alloc(&p->arena, count * sizeof *out);
    ENSURE(out != NULL, VAULT_ENOMEM, "policy: out of memory");
    for (size_t i = 0; i < count; i++) {
        const vnode *item = vp_list_at(n, i);
        int x = vp_lookup(c, VP_K_ROLE, item), dup = 0;

        if (x < 0)
            continue;
        for (size_t j = 0; j < k; j++)
            dup |= out[j] == p->roles[x].n.name; /* one arena string per role */
        if (dup) {
            vp_diag_n(c, VP_WARN, item, "role '%s' is listed twice under %s",
                      p->roles[x].n.name, what);
            continue;
        }
        out[k++] = p->roles[x].n.name;
    }
    *roles = out;
    *nroles = k;
cleanup:
    return rc;
}

/* `auditors:`, a list of declared roles that may read the log and the
 * grants in service mode (VAULT_PRINCIPAL_AUDITOR). */
int vp_parse_auditors(pctx *c, const vnode *n)
{
    vault_policy *p = c->p;

    return parse_role_list(c, n, "auditors", "nobody may read the log or the grants through "
                           "vaultd", &p->auditors, &p->nauditors, &p->has_auditors,
                           &p->auditors_line);
}

/* `data_officers:`, the declared roles that may change the vault itself
 * in service mode (policy apply, key rotation, db-key;
 * VAULT_PRINCIPAL_DATA_OFFICER). */
int vp_parse_data_officers(pctx *c, const vnode *n)
{
    vault_policy *p = c->p;

    return parse_role_list(c, n, "data_officers", "nobody may change the vault through vaultd",
                           &p->data_officers, &p->ndata_officers, &p->has_data_officers,
                           &p->data_officers_line);
}

int vp_parse_break_glass(pctx *c, const vnode *m)
{
    static const vp_keydef defs[] = {{"roles", 1},       {"max_duration", 1},
                                     {"max_grade", 0},   {"purposes", 1},
                                     {"max_per_day", 0}, {"any_jurisdiction", 0}};
    int rc = VAULT_OK;
    vault_policy *p = c->p;
    vp_break_glass *bg = &p->break_glass;
    const vnode *v[6];

    if (!vp_map_keys(c, m, "break_glass", defs, 6, v))
        goto cleanup;
    bg->line = m->line;
    bg->max_grade = p->ngrades ? (int)p->ngrades - 1 : 0;
    bg->max_per_day = VP_BREAK_GLASS_PER_DAY;
    if (v[3] != NULL) {
        bg->purposes = name_array(c, v[3], VP_K_PURPOSE, "break_glass purposes", &bg->npurposes);
        if (bg->npurposes == 0 && v[3]->type == VN_SEQ)
            vp_diag_n(c, VP_WARN, v[3], "break_glass lists no purposes: nobody can break glass");
    }
    if (v[4] != NULL)
        bg->max_per_day = want_count(c, v[4], "max_per_day", 1000);
    if (v[5] != NULL)
        bg->any_jurisdiction = name_array(c, v[5], VP_K_ROLE, "break_glass any_jurisdiction",
                                          &bg->nany_jurisdiction);
    if (v[0] != NULL) {
        bg->roles = name_array(c, v[0], VP_K_ROLE, "break_glass roles", &bg->nroles);
        if (bg->nroles == 0 && v[0]->type == VN_SEQ)
            vp_diag_n(c, VP_WARN, v[0], "break_glass lists no roles: nobody can break glass");
    }
    if (v[1] != NULL)
        bg->max_duration = vp_want_duration(c, v[1], "max_duration");
    if (v[2] != NULL)
        bg->max_grade = vp_lookup(c, VP_K_GRADE, v[2]);
    p->has_break_glass = 1;
    ENSURE(!c->oom, VAULT_ENOMEM, "policy: out of memory");
cleanup:
    return rc;
}

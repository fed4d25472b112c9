/* Questions about a policy: explain one decision, who may read a field,
 * and what changes between two policies.  None of this is on the hot
 * path; it favours clear output over speed. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy_int.h"

static void put_safe(vault_buf *b, const char *s)
{
    char q[80];

    if (s == NULL) {
        vault__buf_puts(b, "(none)");
        return;
    }
    vp_quote(q, sizeof q, s, strlen(s));
    vault__buf_puts(b, q);
}

static void iso_time(char *out, size_t n, int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (gmtime_r(&tt, &tm) == NULL || strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, n, "@%lld", (long long)t);
}

/* ---- Explain ---- */

/* hide: the subject may not learn the record's jurisdiction, so neither
 * the path nor whether a scope holds is shown. */
static void explain_rule(vault_buf *b, const vault_policy *p, const vp_rule *r, const vp_request *req,
                         int field, int role, int dept, int purpose, int hide)
{
    const vp_subject *s = req->subject;

    vault__buf_printf(b, "rule %s (%s:%u) %s: ", r->id, p->basename, r->line,
                  vp_effect_name(r->effect));
    if (r->never) {
        vault__buf_puts(b, "no match: this rule can never match (see the policy warnings)\n");
        return;
    }
    if (!(r->actions & (1u << req->action))) {
        vault__buf_printf(b, "no match: action %s not listed\n", vp_action_name(req->action));
        return;
    }
    if (!r->any_subject) {
        size_t i;
        for (i = 0; i < r->nsubj; i++) {
            const vp_subj *t = &r->subj[i];
            if ((t->role < 0 || t->role == role) && (t->dept < 0 || t->dept == dept) &&
                (t->user == NULL || (s->user != NULL && strcmp(t->user, s->user) == 0)))
                break;
        }
        if (i == r->nsubj) {
            vault__buf_puts(b, "no match: subject not among the rule's subjects\n");
            return;
        }
    }
    if (!r->any_purpose && (purpose < 0 || !vp_bit(r->purposes, (size_t)purpose))) {
        vault__buf_puts(b, "no match: purpose ");
        put_safe(b, req->purpose);
        vault__buf_puts(b, " not listed\n");
        return;
    }
    if (field < 0 && r->sel != VP_SEL_NONE) {
        vault__buf_puts(b, "no match: the rule selects fields, a record-level action needs a rule "
                       "without fields/grades\n");
        return;
    }
    if (field >= 0 && !vp_bit(r->fields, (size_t)field)) {
        vault__buf_printf(b, "no match: field %s not selected\n", p->fields[field].name);
        return;
    }
    if (r->scope == VP_SCOPE_WITHIN && hide) {
        vault__buf_puts(b, "scope within: not shown (the record's jurisdiction is not yours to see)\n");
        return;
    }
    if (r->scope == VP_SCOPE_WITHIN) {
        int sl = vp_jur_len(s->jurisdiction), rl = vp_jur_len(req->record_jurisdiction);
        if (sl < 0 || rl < 0) {
            vault__buf_puts(b, "error: subject or record jurisdiction missing or invalid (counts as "
                           "a deny)\n");
            return;
        }
        if (!vp_jur_within_n(req->record_jurisdiction, rl, s->jurisdiction, sl)) {
            vault__buf_puts(b, "no match: record jurisdiction ");
            put_safe(b, req->record_jurisdiction);
            vault__buf_puts(b, " is not within subject jurisdiction ");
            put_safe(b, s->jurisdiction);
            vault__buf_puts(b, "\n");
            return;
        }
    }
    vault__buf_puts(b, "MATCH\n");
}

static void explain_grant(vault_buf *b, const vault_policy *p, const vp_cgrant *g,
                          const vp_request *req, int field, int role, int dept, int purpose,
                          int hide)
{
    const vp_subject *s = req->subject;
    char t[40];

    vault__buf_printf(b, "grant %s %s: ", g->id, vp_effect_name(g->effect));
    if (g->dead) {
        vault__buf_puts(b, "no match: names a role, department or purpose this policy lacks, or "
                       "has an empty validity period\n");
        return;
    }
    if (!(g->actions & (1u << req->action))) {
        vault__buf_printf(b, "no match: action %s not granted\n", vp_action_name(req->action));
        return;
    }
    if ((g->role >= 0 && g->role != role) || (g->dept >= 0 && g->dept != dept) ||
        (g->user != NULL && (s->user == NULL || strcmp(g->user, s->user) != 0))) {
        vault__buf_puts(b, "no match: subject does not fit the grant's pattern\n");
        return;
    }
    if (req->now < g->not_before) {
        iso_time(t, sizeof t, g->not_before);
        vault__buf_printf(b, "no match: not valid before %s\n", t);
        return;
    }
    if (req->now >= g->not_after) {
        iso_time(t, sizeof t, g->not_after);
        vault__buf_printf(b, "no match: expired at %s\n", t);
        return;
    }
    if (!g->any_purpose && (purpose < 0 || !vp_bit(g->purposes, (size_t)purpose))) {
        vault__buf_puts(b, "no match: purpose not granted\n");
        return;
    }
    if (field >= 0 ? !vp_bit(g->fields, (size_t)field) : !g->whole) {
        if (field >= 0)
            vault__buf_printf(b, "no match: field %s not covered\n", p->fields[field].name);
        else
            vault__buf_puts(b, "no match: covers only some grades, not the whole record\n");
        return;
    }
    if (g->nrecords > 0) {
        size_t i;
        for (i = 0; i < g->nrecords && req->record_id != NULL; i++)
            if (strcmp(g->records[i], req->record_id) == 0)
                break;
        if (req->record_id == NULL || i == g->nrecords) {
            vault__buf_puts(b, "no match: record not among the grant's records\n");
            return;
        }
    } else if (hide) {
        vault__buf_puts(b, "scope: not shown (the record's jurisdiction is not yours to see)\n");
        return;
    } else {
        int rl = vp_jur_len(req->record_jurisdiction);
        if (rl < 0) {
            vault__buf_puts(b, "error: record jurisdiction missing or invalid (counts as a deny)\n");
            return;
        }
        if (!vp_jur_within_n(req->record_jurisdiction, rl, g->jurisdiction, g->jurlen)) {
            vault__buf_printf(b, "no match: record is not within %s\n", g->jurisdiction);
            return;
        }
    }
    iso_time(t, sizeof t, g->not_after);
    vault__buf_printf(b, "MATCH (until %s)\n", t);
}

int policy_explain(char **out, const vault_policy *p, const vp_grantset *g, const vp_request *req)
{
    return policy_explain_for(out, p, g, req, 0);
}

int policy_explain_for(char **out, const vault_policy *p, const vp_grantset *g,
                       const vp_request *req, int hide_record_jurisdiction)
{
    int hide = hide_record_jurisdiction;
    int rc = VAULT_OK;
    vault_buf b = {0};
    vp_decision d;
    vault_reason reason;
    int field = -1, role, dept, purpose;

    ENSURE(out != NULL && p != NULL && req != NULL && req->subject != NULL, VAULT_EINVALID,
           "policy_explain: missing argument");
    *out = NULL;
    role = vp_map_gets(&p->role_map, req->subject->role);
    dept = vp_map_gets(&p->dept_map, req->subject->department);
    purpose = vp_map_gets(&p->purpose_map, req->purpose);
    if (req->field != NULL)
        field = vp_map_gets(&p->field_map, req->field);

    vault__buf_puts(&b, "request: user ");
    put_safe(&b, req->subject->user);
    vault__buf_puts(&b, ", role ");
    put_safe(&b, req->subject->role);
    vault__buf_puts(&b, ", department ");
    put_safe(&b, req->subject->department);
    vault__buf_puts(&b, ", jurisdiction ");
    put_safe(&b, req->subject->jurisdiction);
    vault__buf_puts(&b, ", purpose ");
    put_safe(&b, req->purpose);
    vault__buf_printf(&b, ", action %s, field ", vp_action_name(req->action));
    put_safe(&b, req->field);
    vault__buf_puts(&b, ", record jurisdiction ");
    if (hide)
        vault__buf_puts(&b, "(not shown)");
    else
        put_safe(&b, req->record_jurisdiction);
    vault__buf_printf(&b, "\npolicy %s: %zu rules, %zu grants\n", policy_name(p), p->nrules,
                  g ? g->n : 0);

    (void)policy_decide(&d, p, g, req); /* the error, if any, is in d */
    if (d.by != VP_BY_ERROR || (req->action >= 0 && req->action < VP_NACTIONS &&
                                (req->field == NULL || field >= 0))) {
        if (req->action >= 0 && req->action < VP_NACTIONS) {
            for (size_t i = 0; i < p->nrules; i++)
                explain_rule(&b, p, &p->rules[i], req, field, role, dept, purpose, hide);
            for (size_t i = 0; g != NULL && g->p == p && i < g->n; i++)
                explain_grant(&b, p, &g->g[i], req, field, role, dept, purpose, hide);
        }
    }
    policy_reason_fill(&reason, &d);
    vault__buf_printf(&b, "decision: %s\n", reason.text);
    *out = vault__buf_steal(&b);
    ENSURE(*out != NULL, VAULT_ENOMEM, "explain: out of memory");
cleanup:
    vault__buf_free(&b);
    return rc;
}

/* ---- Who can ---- */

typedef struct src {
    int effect;
    int rule;  /* rule index or -1 */
    int grant; /* grant index or -1 */
} src;

static int src_better(const src *a, const src *b)
{
    return a->effect > b->effect;
}

typedef struct wctx {
    const vault_policy *p;
    const vp_grantset *g;
    int field;
    const char *record_id;
    const char *rec_jur; /* NULL: any record */
    int rec_len;
    int64_t now;
    int as_json;
    vault_buf text;
    json_t *arr;
    int failed;
} wctx;

static int jset(json_t *o, const char *key, const char *val)
{
    json_t *v = val ? json_string(val) : json_null();

    if (v == NULL)
        return -1;
    return json_object_set_new(o, key, v);
}

/* One line of output. */
static void emit(wctx *w, const char *user, const char *role, const char *dept,
                 const char *purpose, const src *s, const char *scope, const char *cond,
                 const char *note)
{
    const vault_policy *p = w->p;
    const vp_rule *r = s->rule >= 0 ? &p->rules[s->rule] : NULL;
    const vp_cgrant *gr = s->grant >= 0 ? &w->g->g[s->grant] : NULL;
    char until[40] = "", where[VAULT_NAME_MAX + 32] = "";

    if (gr != NULL)
        iso_time(until, sizeof until, gr->not_after);
    if (r != NULL)
        snprintf(where, sizeof where, "%s:%u", p->basename, r->line);
    if (w->as_json) {
        json_t *o = json_object();
        if (o == NULL || jset(o, "user", user) < 0 || jset(o, "role", role) < 0 ||
            jset(o, "department", dept) < 0 || jset(o, "purpose", purpose) < 0 ||
            jset(o, "field", p->fields[w->field].name) < 0 ||
            jset(o, "effect", vp_effect_name(s->effect)) < 0 || jset(o, "scope", scope) < 0 ||
            jset(o, "condition", cond) < 0 || jset(o, "rule", r ? r->id : NULL) < 0 ||
            jset(o, "where", r ? where : NULL) < 0 || jset(o, "grant", gr ? gr->id : NULL) < 0 ||
            jset(o, "until", gr ? until : NULL) < 0 ||
            json_object_set_new(o, "until_unix",
                                gr ? json_integer((json_int_t)gr->not_after) : json_null()) < 0 ||
            jset(o, "note", note) < 0 || json_array_append_new(w->arr, o) < 0) {
            json_decref(o);
            w->failed = 1;
        }
        return;
    }
    if (user != NULL)
        vault__buf_printf(&w->text, "user %s (role %s, department %s, purpose %s): ", user,
                      role ? role : "*", dept ? dept : "*", purpose ? purpose : "*");
    else
        vault__buf_printf(&w->text, "%s %s %s: ", role, dept, purpose);
    vault__buf_printf(&w->text, "%s, scope %s, by ", vp_effect_name(s->effect), scope);
    if (r != NULL)
        vault__buf_printf(&w->text, "rule %s (%s)", r->id, where);
    else
        vault__buf_printf(&w->text, "grant %s until %s", gr->id, until);
    if (cond != NULL)
        vault__buf_printf(&w->text, "; %s", cond);
    if (note != NULL)
        vault__buf_printf(&w->text, "; %s", note);
    vault__buf_puts(&w->text, "\n");
}

/* How grant c relates to the record asked about: 1 applies, 0 not, 2
 * applies to some records only (cond filled). */
static int grant_scope(const wctx *w, const vp_cgrant *c, char *cond, size_t n)
{
    if (c->nrecords > 0) {
        if (w->record_id != NULL) {
            for (size_t i = 0; i < c->nrecords; i++)
                if (strcmp(c->records[i], w->record_id) == 0)
                    return 1;
            return 0;
        }
        snprintf(cond, n, "the record must be one of the %zu records the grant lists",
                 c->nrecords);
        return 2;
    }
    if (w->rec_jur != NULL)
        return vp_jur_within_n(w->rec_jur, w->rec_len, c->jurisdiction, c->jurlen);
    snprintf(cond, n, "the record must lie within %s", c->jurisdiction);
    return 2;
}

static int grant_live_for(const wctx *w, const vp_cgrant *c)
{
    return !c->dead && (c->actions & (1u << VAULT_ACTION_READ)) && w->now >= c->not_before &&
           w->now < c->not_after && vp_bit(c->fields, (size_t)w->field);
}

/* A live read grant whose role/department pattern and purposes fit the
 * (role, dept, purpose) cell; its scope is the caller's to check. */
static int grant_fits_cell(const wctx *w, const vp_cgrant *c, int role, int dept, int purpose)
{
    return grant_live_for(w, c) && (c->role < 0 || c->role == role) &&
           (c->dept < 0 || c->dept == dept) &&
           (c->any_purpose || vp_bit(c->purposes, (size_t)purpose));
}

static void cell(wctx *w, int role, int dept, int purpose)
{
    const vault_policy *p = w->p;
    const vp_bucket *bs[VP_RULE_LISTS], *gb[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    int deny_any = -1, deny_within = -1;
    src any = {VAULT_EFFECT_DENY, -1, -1}, within = any, ug = any, out, in;
    const char *rn = p->roles[role].n.name, *dn = p->depts[dept].name,
               *qn = p->purposes[purpose].name;
    char cond[VAULT_JURISDICTION_MAX + 96], gcond[VAULT_JURISDICTION_MAX + 160];
    const char *rec = w->rec_jur ? w->rec_jur : "the record's jurisdiction";

    vp_rule_lists(p, VAULT_ACTION_READ, -1, role, dept, w->field, bs);
    for (int k = 0; k < VP_RULE_LISTS; k++) {
        const vp_bucket *b = bs[k];
        for (uint32_t i = b ? b->off : 0; b && i < b->off + b->n[0] + b->n[1] + b->n[2]; i++) {
            int idx = (int)p->ix.data[i];
            const vp_rule *r = &p->rules[idx];
            src s = {r->effect, idx, -1};
            int *dslot;
            src *best;

            if (!vp_rule_matches_cell(p, r, VAULT_ACTION_READ, role, dept, purpose, w->field))
                continue;
            if (r->effect == VAULT_EFFECT_DENY) {
                dslot = r->scope == VP_SCOPE_ANY ? &deny_any : &deny_within;
                if (*dslot < 0 || idx < *dslot)
                    *dslot = idx;
                continue;
            }
            best = r->scope == VP_SCOPE_ANY ? &any : &within;
            if (src_better(&s, best) || (s.effect == best->effect && idx < best->rule))
                *best = s;
        }
    }
    if (deny_any >= 0)
        return;
    /* Grants that name a role and/or department but no user. */
    if (w->g != NULL && w->g->n > 0)
        vp_grant_lists(w->g, -1, VAULT_ACTION_READ, role, dept, w->field, gb);
    for (int k = 0; k < 6; k++)
        for (uint32_t i = gb[k] ? gb[k]->off : 0; gb[k] && i < gb[k]->off + gb[k]->n[0] + gb[k]->n[1];
             i++) {
            const vp_cgrant *c = &w->g->g[w->g->ix.data[i]];
            src s = {c->effect, -1, (int)w->g->ix.data[i]};

            if (!grant_fits_cell(w, c, role, dept, purpose))
                continue;
            if (grant_scope(w, c, gcond, sizeof gcond) == 1 &&
                (src_better(&s, &ug) || (s.effect == ug.effect && s.grant < ug.grant)))
                ug = s;
        }
    out = any;
    if (src_better(&ug, &out))
        out = ug;
    in = out;
    if (src_better(&within, &in))
        in = within;
    if (deny_within >= 0)
        in.effect = VAULT_EFFECT_DENY;
    if (out.effect != VAULT_EFFECT_DENY) {
        if (deny_within >= 0) {
            snprintf(cond, sizeof cond, "subject jurisdiction must not contain %s (deny rule %s)",
                     rec, p->rules[deny_within].id);
            emit(w, NULL, rn, dn, qn, &out, "outside", cond, NULL);
        } else {
            emit(w, NULL, rn, dn, qn, &out, "any", NULL, NULL);
        }
    }
    if (in.effect > out.effect) {
        snprintf(cond, sizeof cond, "subject jurisdiction must contain %s", rec);
        emit(w, NULL, rn, dn, qn, &in, "within", cond, NULL);
    }
    /* Grants that hold for some records only. */
    for (int k = 0; k < 6; k++)
        for (uint32_t i = gb[k] ? gb[k]->off : 0; gb[k] && i < gb[k]->off + gb[k]->n[0] + gb[k]->n[1];
             i++) {
            const vp_cgrant *c = &w->g->g[w->g->ix.data[i]];
            src s = {c->effect, -1, (int)w->g->ix.data[i]};

            if (!grant_fits_cell(w, c, role, dept, purpose) ||
                grant_scope(w, c, gcond, sizeof gcond) != 2 || !src_better(&s, &out))
                continue;
            if (deny_within >= 0) {
                size_t l = strlen(gcond);
                snprintf(gcond + l, sizeof gcond - l,
                         "; subject jurisdiction must not contain it (deny rule %s)",
                         p->rules[deny_within].id);
            }
            emit(w, NULL, rn, dn, qn, &s, "record", gcond, NULL);
        }
}

static void purposes_text(char *out, size_t n, const vault_policy *p, int any, const uint64_t *b)
{
    size_t o = 0;

    out[0] = '\0';
    if (any) {
        snprintf(out, n, "*");
        return;
    }
    for (size_t q = 0; q < p->npurposes && o < n; q++) {
        int k;
        if (!vp_bit(b, q))
            continue;
        k = snprintf(out + o, n - o, "%s%s", o ? "," : "", p->purposes[q].name);
        if (k < 0)
            break;
        o += (size_t)k;
    }
}

/* Entries naming a user: rules with a user pattern (deny rules too, so
 * an auditor sees who is stopped), grants to a user. */
static void user_entries(wctx *w)
{
    const vault_policy *p = w->p;
    const char *note = "deny rules for the user's role, department and purpose still apply";
    const char *deny_note = "this deny wins over every rule and grant that would let the user read";
    char pq[512], cond[VAULT_JURISDICTION_MAX + 96];
    const char *rec = w->rec_jur ? w->rec_jur : "the record's jurisdiction";

    for (size_t i = 0; i < p->nrules; i++) {
        const vp_rule *r = &p->rules[i];
        src s = {r->effect, (int)i, -1};

        if (r->never || !(r->actions & (1u << VAULT_ACTION_READ)) ||
            !vp_bit(r->fields, (size_t)w->field))
            continue;
        purposes_text(pq, sizeof pq, p, r->any_purpose, r->purposes);
        snprintf(cond, sizeof cond, "subject jurisdiction must contain %s", rec);
        for (size_t k = 0; k < r->nsubj; k++) {
            const vp_subj *t = &r->subj[k];
            if (t->user == NULL)
                continue;
            emit(w, t->user, t->role >= 0 ? p->roles[t->role].n.name : NULL,
                 t->dept >= 0 ? p->depts[t->dept].name : NULL, pq, &s,
                 r->scope == VP_SCOPE_ANY ? "any" : "within",
                 r->scope == VP_SCOPE_ANY ? NULL : cond,
                 r->effect == VAULT_EFFECT_DENY ? deny_note : note);
        }
    }
    for (size_t i = 0; w->g != NULL && i < w->g->n; i++) {
        const vp_cgrant *c = &w->g->g[i];
        src s = {c->effect, -1, (int)i};
        int sc;

        if (c->user == NULL || !grant_live_for(w, c))
            continue;
        sc = grant_scope(w, c, cond, sizeof cond);
        if (sc == 0)
            continue;
        purposes_text(pq, sizeof pq, p, c->any_purpose, c->purposes);
        emit(w, c->user, c->role >= 0 ? p->roles[c->role].n.name : NULL,
             c->dept >= 0 ? p->depts[c->dept].name : NULL, pq, &s, sc == 1 ? "any" : "record",
             sc == 2 ? cond : NULL, note);
    }
}

int policy_who_can(char **out, const vault_policy *p, const vp_grantset *g, const char *field,
                   const char *record_id, const char *record_jurisdiction, int64_t now,
                   int as_json)
{
    int rc = VAULT_OK;
    wctx w;

    memset(&w, 0, sizeof w);
    ENSURE(out != NULL && p != NULL && field != NULL, VAULT_EINVALID,
           "policy_who_can: missing argument");
    *out = NULL;
    ENSURE(g == NULL || g->p == p, VAULT_EINVALID, "who-can: grant set built for another policy");
    w.p = p;
    w.g = g;
    w.field = vp_map_gets(&p->field_map, field);
    ENSURE(w.field >= 0, VAULT_ENOTFOUND, "who-can: the policy declares no such field");
    w.record_id = record_id;
    w.rec_jur = record_jurisdiction;
    w.now = now;
    w.as_json = as_json;
    if (record_jurisdiction != NULL) {
        w.rec_len = vp_jur_len(record_jurisdiction);
        ENSURE(w.rec_len >= 0, VAULT_EINVALID, "who-can: invalid record jurisdiction");
    }
    if (as_json) {
        w.arr = json_array();
        ENSURE(w.arr != NULL, VAULT_ENOMEM, "who-can: out of memory");
    }
    for (size_t r = 0; r < p->nroles; r++)
        for (size_t d = 0; d < p->ndepts; d++) {
            if (p->roles[r].depts != NULL && !vp_bit(p->roles[r].depts, d))
                continue;
            for (size_t q = 0; q < p->npurposes; q++)
                cell(&w, (int)r, (int)d, (int)q);
        }
    user_entries(&w);
    ENSURE(!w.failed, VAULT_EINVALID, "who-can: could not encode the answer as JSON");
    if (as_json) {
        *out = json_dumps(w.arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        ENSURE(*out != NULL, VAULT_ENOMEM, "who-can: out of memory");
    } else {
        *out = vault__buf_steal(&w.text);
        ENSURE(*out != NULL, VAULT_ENOMEM, "who-can: out of memory");
    }
cleanup:
    json_decref(w.arr);
    vault__buf_free(&w.text);
    return rc;
}

/* ---- Diff ---- */

/* Best read effect of (role, dept, field) over every purpose, scope
 * ignored (as if the subject's jurisdiction contained the record), user
 * patterns and grants ignored. */
static int cell_effect(const vault_policy *p, const char *rn, const char *dn, const char *fn)
{
    int role = vp_map_gets(&p->role_map, rn), dept = vp_map_gets(&p->dept_map, dn);
    int field = vp_map_gets(&p->field_map, fn), best = VAULT_EFFECT_DENY;
    const vp_bucket *bs[VP_RULE_LISTS];

    if (role < 0 || dept < 0 || field < 0)
        return VAULT_EFFECT_DENY;
    vp_rule_lists(p, VAULT_ACTION_READ, -1, role, dept, field, bs);
    for (size_t q = 0; q < p->npurposes && best < VAULT_EFFECT_ALLOW; q++) {
        int denied = 0, eff = VAULT_EFFECT_DENY;

        for (int k = 0; k < VP_RULE_LISTS && !denied; k++)
            for (uint32_t i = bs[k] ? bs[k]->off : 0;
                 bs[k] && i < bs[k]->off + bs[k]->n[0] + bs[k]->n[1] + bs[k]->n[2]; i++) {
                const vp_rule *r = &p->rules[p->ix.data[i]];
                if (!vp_rule_matches_cell(p, r, VAULT_ACTION_READ, role, dept, (int)q, field))
                    continue;
                if (r->effect == VAULT_EFFECT_DENY) {
                    denied = 1;
                    break;
                }
                if (r->effect > eff)
                    eff = r->effect;
            }
        if (!denied && eff > best)
            best = eff;
    }
    return best;
}

/* Names of `a` then those of `b` that `a` lacks. */
static const char **union_names(size_t *out_n, const vp_map *amap,
                                const char *(*aname)(const vault_policy *, size_t),
                                const vault_policy *a, size_t na,
                                const char *(*bname)(const vault_policy *, size_t),
                                const vault_policy *b, size_t nb)
{
    const char **v = calloc(na + nb + 1, sizeof *v);
    size_t n = 0;

    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < na; i++)
        v[n++] = aname(a, i);
    for (size_t i = 0; i < nb; i++)
        if (vp_map_gets(amap, bname(b, i)) < 0)
            v[n++] = bname(b, i);
    *out_n = n;
    return v;
}

static const char *fname_at(const vault_policy *p, size_t i)
{
    return p->fields[i].name;
}

static int pair_ok(const vault_policy *p, const char *rn, const char *dn)
{
    return policy_role_in_department(p, rn, dn);
}

static int listed_in(const char *const *roles, size_t n, const char *role)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(roles[i], role) == 0)
            return 1;
    return 0;
}

/* Who gains (+) or loses (-) the right to change the vault through a
 * service (`data_officers:`). */
static void data_officers_diff(vault_buf *b, const vault_policy *old_p, const vault_policy *new_p)
{
    for (size_t i = 0; i < new_p->ndata_officers; i++)
        if (!listed_in(old_p->data_officers, old_p->ndata_officers, new_p->data_officers[i]))
            vault__buf_printf(b, "+ data officer %s\n", new_p->data_officers[i]);
    for (size_t i = 0; i < old_p->ndata_officers; i++)
        if (!listed_in(new_p->data_officers, new_p->ndata_officers, old_p->data_officers[i]))
            vault__buf_printf(b, "- data officer %s\n", old_p->data_officers[i]);
}

static int auditor_listed(const vault_policy *p, const char *role)
{
    return listed_in(p->auditors, p->nauditors, role);
}

/* Who gains (+) or loses (-) the log and the grant list (`auditors:`):
 * the new policy's order, then roles only the old one lists. */
static void auditors_diff(vault_buf *b, const vault_policy *old_p, const vault_policy *new_p)
{
    for (size_t i = 0; i < new_p->nauditors; i++)
        if (!auditor_listed(old_p, new_p->auditors[i]))
            vault__buf_printf(b, "+ auditor %s\n", new_p->auditors[i]);
    for (size_t i = 0; i < old_p->nauditors; i++)
        if (!auditor_listed(new_p, old_p->auditors[i]))
            vault__buf_printf(b, "- auditor %s\n", old_p->auditors[i]);
}

int policy_diff(char **out, const vault_policy *old_p, const vault_policy *new_p)
{
    int rc = VAULT_OK;
    vault_buf b = {0};
    const char **roles = NULL, **depts = NULL, **fields = NULL;
    size_t nr = 0, nd = 0, nf = 0;

    ENSURE(out != NULL && old_p != NULL && new_p != NULL, VAULT_EINVALID,
           "policy_diff: missing argument");
    *out = NULL;
    roles = union_names(&nr, &new_p->role_map, policy_role_name, new_p, new_p->nroles,
                        policy_role_name, old_p, old_p->nroles);
    depts = union_names(&nd, &new_p->dept_map, policy_department_name, new_p, new_p->ndepts,
                        policy_department_name, old_p, old_p->ndepts);
    fields = union_names(&nf, &new_p->field_map, fname_at, new_p, new_p->nfields,
                         fname_at, old_p, old_p->nfields);
    ENSURE(roles != NULL && depts != NULL && fields != NULL, VAULT_ENOMEM,
           "diff: out of memory");
    for (size_t r = 0; r < nr; r++)
        for (size_t d = 0; d < nd; d++) {
            if (!pair_ok(old_p, roles[r], depts[d]) && !pair_ok(new_p, roles[r], depts[d]))
                continue;
            for (size_t f = 0; f < nf; f++) {
                int eo = cell_effect(old_p, roles[r], depts[d], fields[f]);
                int en = cell_effect(new_p, roles[r], depts[d], fields[f]);
                if (eo == en)
                    continue;
                vault__buf_printf(&b, "%c %s %s %s %s->%s\n", en > eo ? '+' : '-', roles[r],
                              depts[d], fields[f], vp_effect_name(eo), vp_effect_name(en));
            }
        }
    vp_apps_diff(&b, old_p, new_p);
    auditors_diff(&b, old_p, new_p);
    data_officers_diff(&b, old_p, new_p);
    vp_witnesses_diff(&b, old_p, new_p);
    vp_retention_diff(&b, old_p, new_p);
    *out = vault__buf_steal(&b);
    ENSURE(*out != NULL, VAULT_ENOMEM, "diff: out of memory");
cleanup:
    vault__buf_free(&b);
    free(roles);
    free(depts);
    free(fields);
    return rc;
}

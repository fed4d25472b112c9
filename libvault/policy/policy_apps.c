/* Policy files: the `apps:` section (docs/policy-format.md "Apps").  In
 * service mode every request comes from an authenticated app (vaultd maps
 * its client certificate or Unix peer uid to an app name) acting for a
 * person; the app's entry bounds the departments, roles, jurisdiction
 * subtrees and purposes it may act for, and whether it may carry officers'
 * actions (DESIGN.md §1: the hotline app asserting the health department).
 * Here: parsing, the check (policy_app_check), and the apps part of
 * policy_diff. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

/* ---- Parsing ---- */

static int scalar_is(const vnode *n, const char *s)
{
    return n->type == VN_SCALAR && strlen(s) == n->len && memcmp(n->s, s, n->len) == 0; /* memcmp ok: not secret */
}

/* A list given as a non-empty sequence or a single scalar: its length, or
 * 0 (reported). */
static size_t list_count(pctx *c, const vnode *n, const char *app, const char *what)
{
    if (n->type == VN_MAP || (n->type == VN_SCALAR && n->is_null) ||
        (n->type == VN_SEQ && n->n == 0)) {
        if (!n->bad)
            vp_diag_n(c, VP_ERR, n, "%s of app '%s' must be a non-empty list (or a single "
                      "name), not %s", what, app,
                      n->type == VN_SEQ ? "an empty list" : vp_node_kind(n));
        return 0;
    }
    if (vp_list_len(n) > VP_LIST_MAX) {
        vp_diag_n(c, VP_ERR, n, "%s of app '%s': too many items, at most %d", what, app,
                  VP_LIST_MAX);
        c->limit = 1;
        return 0;
    }
    return vp_list_len(n);
}

/* Declared names of `kind` into an arena array (each once; a repeat is
 * warned about).  *out_bad is set when an item was not a declared name. */
static const char *const *name_list(pctx *c, const vnode *n, int kind, const char *app,
                                    const char *what, size_t *out_n, int *out_bad)
{
    const vault_policy *p = c->p;
    size_t count = list_count(c, n, app, what), k = 0;
    const char **out;

    *out_n = 0;
    *out_bad = count == 0;
    if (count == 0)
        return NULL;
    out = vp_alloc(&c->p->arena, count * sizeof *out);
    if (out == NULL) {
        c->oom = 1;
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        const vnode *item = vp_list_at(n, i);
        int x = vp_lookup(c, kind, item);
        const char *name;
        size_t j;

        if (x < 0) {
            *out_bad = 1;
            continue;
        }
        name = kind == VP_K_ROLE ? p->roles[x].n.name
               : kind == VP_K_DEPT ? p->depts[x].name
                                   : p->purposes[x].name;
        for (j = 0; j < k && strcmp(out[j], name) != 0; j++)
            ;
        if (j < k) {
            vp_diag_n(c, VP_WARN, item, "%s '%s' is listed twice for app '%s'",
                      vp_kind_names[kind], name, app);
            continue;
        }
        out[k++] = name;
    }
    *out_n = k;
    return out;
}

/* A jurisdiction subtree as sessions and records write it (names.h: segments
 * of [a-z0-9_-] joined by single '/'), one trailing '/' dropped.  Its length,
 * or -1. */
static int jur_norm_len(const char *s, size_t len)
{
    size_t seg = 0;

    if (len > 1 && s[len - 1] == '/')
        len--;
    if (len == 0 || len > VAULT_JURISDICTION_MAX)
        return -1;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '/')
            continue;
        if (!vp_name_ok(s + seg, i - seg))
            return -1;
        seg = i + 1;
    }
    return (int)len;
}

static const char *const *jur_list(pctx *c, const vnode *n, const char *app, size_t *out_n)
{
    size_t count = list_count(c, n, app, "jurisdictions"), k = 0;
    const char **out;
    const vnode **at;
    int *lens;
    char q[80];

    *out_n = 0;
    if (count == 0)
        return NULL;
    out = vp_alloc(&c->p->arena, count * sizeof *out);
    at = vp_alloc(&c->p->arena, count * sizeof *at);
    lens = vp_alloc(&c->p->arena, count * sizeof *lens);
    if (out == NULL || at == NULL || lens == NULL) {
        c->oom = 1;
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        const vnode *item = vp_list_at(n, i);
        int len;

        if (!vp_want(c, item, VN_SCALAR, "jurisdiction"))
            continue;
        len = jur_norm_len(item->s, item->len);
        if (len < 0) {
            vp_quote(q, sizeof q, item->s, item->len);
            vp_diag_n(c, VP_ERR, item, "invalid jurisdiction '%s' for app '%s': segments of "
                      "a-z, 0-9, '_' and '-' joined by single '/', at most %d bytes", q, app,
                      VAULT_JURISDICTION_MAX);
            continue;
        }
        out[k] = vp_strndup(&c->p->arena, item->s, (size_t)len);
        if (out[k] == NULL) {
            c->oom = 1;
            return NULL;
        }
        lens[k] = len;
        at[k++] = item;
    }
    /* A subtree inside another listed one adds nothing: say so, once. */
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            if (i == j || !vp_jur_within_n(out[i], lens[i], out[j], lens[j]) ||
                (lens[i] == lens[j] && i < j))
                continue;
            vp_diag_n(c, VP_WARN, at[i], "jurisdiction '%s' of app '%s' lies within '%s' "
                      "(line %u): it adds nothing", out[i], app, out[j], at[j]->line);
            break;
        }
    *out_n = k;
    return out;
}

static void parse_app(pctx *c, vp_app *a, const vnode *m)
{
    static const vp_keydef defs[] = {
        {"description", 0}, {"departments", 1}, {"roles", 1},
        {"jurisdictions", 1}, {"purposes", 0},  {"officer_actions", 0},
    };
    enum { DESC, DEPTS, ROLES, JURS, PURPOSES, OFFICER };
    const vnode *v[VAULT_ARRAY_LEN(defs)];
    const vault_policy *p = c->p;
    int dept_bad = 1, role_bad = 1, purpose_bad = 0;

    a->any_purpose = 1;
    if (!vp_map_keys(c, m, "app", defs, VAULT_ARRAY_LEN(defs), v))
        return;
    if (v[DESC] != NULL)
        a->description = vp_want_text(c, v[DESC], "description");
    if (v[DEPTS] != NULL) {
        a->departments_line = v[DEPTS]->line;
        a->departments = name_list(c, v[DEPTS], VP_K_DEPT, a->name, "departments",
                                   &a->ndepartments, &dept_bad);
    }
    if (v[ROLES] != NULL) {
        a->roles_line = v[ROLES]->line;
        a->roles = name_list(c, v[ROLES], VP_K_ROLE, a->name, "roles", &a->nroles, &role_bad);
    }
    /* Each role must exist in one of the app's departments, or the app
     * could never act for it (checked when both lists resolved). */
    for (size_t i = 0; !dept_bad && !role_bad && i < vp_list_len(v[ROLES]); i++) {
        const vnode *item = vp_list_at(v[ROLES], i);
        int r = vp_map_get(&p->role_map, item->s, item->len);
        size_t d;

        for (d = 0; d < a->ndepartments; d++)
            if (policy_role_in_department(p, p->roles[r].n.name, a->departments[d]))
                break;
        if (d == a->ndepartments)
            vp_diag_n(c, VP_ERR, item, "role '%s' of app '%s' exists in none of the app's "
                      "departments", p->roles[r].n.name, a->name);
    }
    if (v[JURS] != NULL) {
        a->jurisdictions_line = v[JURS]->line;
        a->jurisdictions = jur_list(c, v[JURS], a->name, &a->njurisdictions);
    }
    if (v[PURPOSES] != NULL) {
        a->any_purpose = 0;
        a->purposes_line = v[PURPOSES]->line;
        a->purposes = name_list(c, v[PURPOSES], VP_K_PURPOSE, a->name, "purposes", &a->npurposes,
                                &purpose_bad);
    }
    if (v[OFFICER] != NULL) {
        a->officer_actions_line = v[OFFICER]->line;
        if (scalar_is(v[OFFICER], "true"))
            a->officer_actions = 1;
        else if (!scalar_is(v[OFFICER], "false") && !v[OFFICER]->bad)
            vp_diag_n(c, VP_ERR, v[OFFICER], "officer_actions of app '%s' must be true or false",
                      a->name);
    }
}

int vp_parse_apps(pctx *c, const vnode *m)
{
    vault_policy *p = c->p;
    size_t n, i;
    char q[80];

    if (!vp_want(c, m, VN_MAP, "apps"))
        return VAULT_OK;
    p->has_apps = 1;
    n = m->n;
    if (n == 0) {
        vp_diag_n(c, VP_WARN, m, "apps lists no app: service mode admits no app");
        return VAULT_OK;
    }
    if (n > VP_APPS_MAX) {
        vp_diag_n(c, VP_ERR, m->kids[2 * VP_APPS_MAX], "too many apps: at most %d", VP_APPS_MAX);
        c->limit = 1;
        n = VP_APPS_MAX;
    }
    p->apps = vp_alloc(&p->arena, n * sizeof *p->apps);
    if (p->apps == NULL) {
        c->oom = 1;
        return vault__err(VAULT_ENOMEM, "policy: out of memory");
    }
    for (i = 0; i < n; i++) {
        const vnode *k = m->kids[2 * i];
        vp_app *a = &p->apps[p->napps];
        int prev;

        if (k->type != VN_SCALAR) {
            if (!k->bad)
                vp_diag_n(c, VP_ERR, k, "app names must be plain names, not %s",
                          vp_node_kind(k));
            continue;
        }
        if (!vp_want_name(c, k, "app name"))
            continue;
        a->name = vp_strndup(&p->arena, k->s, k->len);
        if (a->name == NULL) {
            c->oom = 1;
            break;
        }
        a->line = k->line;
        prev = vp_map_put(&p->app_map, a->name, k->len, (int)p->napps);
        if (prev < -1) {
            c->oom = 1;
            break;
        }
        if (prev >= 0) {
            vp_quote(q, sizeof q, k->s, k->len);
            vp_diag_n(c, VP_ERR, k, "duplicate app '%s' (first at line %u)", q,
                      p->apps[prev].line);
            continue;
        }
        parse_app(c, a, m->kids[2 * i + 1]);
        p->napps++;
        if (c->oom)
            break;
    }
    return c->oom ? vault__err(VAULT_ENOMEM, "policy: out of memory") : VAULT_OK;
}

/* ---- Look-ups ---- */

size_t policy_app_count(const vault_policy *p)
{
    return p ? p->napps : 0;
}

const vp_app *policy_app_at(const vault_policy *p, size_t i)
{
    return p && i < p->napps ? &p->apps[i] : NULL;
}

const vp_app *policy_app(const vault_policy *p, const char *name)
{
    int i;

    if (p == NULL || name == NULL)
        return NULL;
    i = vp_map_gets(&p->app_map, name);
    return i >= 0 ? &p->apps[i] : NULL;
}

static int in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

/* ---- The check ---- */

/* A caller's name attribute as a reason may quote it: the name when it is
 * one (policy names rule), else a placeholder. */
static const char *shown(const char *s)
{
    return s != NULL && vp_name_ok(s, strlen(s)) ? s : "(none or malformed)";
}

/* End the check with a denial whose reason is the formatted text. */
#define DENY(...)                                      \
    do {                                               \
        snprintf(text, sizeof text, __VA_ARGS__);      \
        rc = VAULT_EDENIED;                            \
        goto cleanup;                                  \
    } while (0)

int policy_app_check(const vault_policy *p, const char *app, const char *role,
                     const char *department, const char *jurisdiction, const char *purpose,
                     int officer_action, char **out_reason)
{
    int rc = VAULT_OK, len = -1;
    const vp_app *a = NULL;
    char text[1024], jur[VAULT_JURISDICTION_MAX + 1];
    size_t k;

    text[0] = '\0';
    if (out_reason != NULL)
        *out_reason = NULL;
    ENSURE(p != NULL && app != NULL, VAULT_EINVALID, "app check: no policy or no app name given");
    if (!vp_name_ok(app, strlen(app)))
        DENY("an app whose name is malformed may not act (%s)", p->basename);
    if (!p->has_apps)
        DENY("app %s may not act: policy %s has no apps section, so no app is admitted (%s)", app,
             p->name, p->basename);
    if ((a = policy_app(p, app)) == NULL)
        DENY("app %s is not listed under apps (%s)", app, p->basename);
    if (department == NULL || !in_list(a->departments, a->ndepartments, department))
        DENY("app %s may not act for department %s (%s:%u)", app, shown(department), p->basename,
             a->departments_line);
    if (role == NULL || !in_list(a->roles, a->nroles, role))
        DENY("app %s may not act for role %s (%s:%u)", app, shown(role), p->basename,
             a->roles_line);
    if (jurisdiction != NULL)
        len = jur_norm_len(jurisdiction, strnlen(jurisdiction, VAULT_JURISDICTION_MAX + 2));
    if (len < 0)
        DENY("app %s may not act for a missing or malformed jurisdiction (%s:%u)", app,
             p->basename, a->jurisdictions_line);
    memcpy(jur, jurisdiction, (size_t)len);
    jur[len] = '\0';
    for (k = 0; k < a->njurisdictions; k++)
        if (vp_jur_within_n(jur, len, a->jurisdictions[k], (int)strlen(a->jurisdictions[k])))
            break;
    if (k == a->njurisdictions)
        DENY("app %s may not act within jurisdiction %s (%s:%u)", app, jur, p->basename,
             a->jurisdictions_line);
    if (purpose == NULL || vp_map_gets(&p->purpose_map, purpose) < 0 ||
        (!a->any_purpose && !in_list(a->purposes, a->npurposes, purpose)))
        DENY("app %s may not act for purpose %s (%s:%u)", app, shown(purpose), p->basename,
             a->any_purpose ? a->line : a->purposes_line);
    if (officer_action && !a->officer_actions)
        DENY("app %s may not carry officers' actions (officer_actions is %s) (%s:%u)", app,
             a->officer_actions_line ? "false" : "not set", p->basename,
             a->officer_actions_line ? a->officer_actions_line : a->line);
    snprintf(text, sizeof text, "app %s may act for role %s, department %s, purpose %s within "
             "%s%s (%s:%u)", app, role, department, purpose, a->jurisdictions[k],
             officer_action ? ", officers' actions included" : "", p->basename, a->line);
cleanup:
    if (rc == VAULT_EDENIED)
        vault__err(rc, "%s", text);
    if ((rc == VAULT_OK || rc == VAULT_EDENIED) && out_reason != NULL &&
        (*out_reason = strdup(text)) == NULL)
        rc = vault__err(VAULT_ENOMEM, "app check: out of memory");
    return rc;
}
#undef DENY

/* ---- Diff ---- */

static void put_list(vault_buf *b, const char *const *list, size_t n)
{
    vault__buf_puts(b, "[");
    for (size_t i = 0; i < n; i++)
        vault__buf_printf(b, "%s%s", i ? ", " : "", list[i]);
    vault__buf_puts(b, "]");
}

static void put_app(vault_buf *b, char sign, const vp_app *a, const char *what)
{
    vault__buf_printf(b, "%c app %s %s: departments ", sign, a->name, what);
    put_list(b, a->departments, a->ndepartments);
    vault__buf_puts(b, ", roles ");
    put_list(b, a->roles, a->nroles);
    vault__buf_puts(b, ", jurisdictions ");
    put_list(b, a->jurisdictions, a->njurisdictions);
    vault__buf_puts(b, ", purposes ");
    if (a->any_purpose)
        vault__buf_puts(b, "any");
    else
        put_list(b, a->purposes, a->npurposes);
    vault__buf_printf(b, ", officer_actions %s\n", a->officer_actions ? "true" : "false");
}

static void list_diff(vault_buf *b, const char *app, const char *what, const char *const *o,
                      size_t no, const char *const *n, size_t nn)
{
    for (size_t i = 0; i < nn; i++)
        if (!in_list(o, no, n[i]))
            vault__buf_printf(b, "+ app %s %s %s\n", app, what, n[i]);
    for (size_t i = 0; i < no; i++)
        if (!in_list(n, nn, o[i]))
            vault__buf_printf(b, "- app %s %s %s\n", app, what, o[i]);
}

static void app_diff(vault_buf *b, const vp_app *o, const vp_app *n)
{
    list_diff(b, n->name, "department", o->departments, o->ndepartments, n->departments,
              n->ndepartments);
    list_diff(b, n->name, "role", o->roles, o->nroles, n->roles, n->nroles);
    list_diff(b, n->name, "jurisdiction", o->jurisdictions, o->njurisdictions, n->jurisdictions,
              n->njurisdictions);
    if (o->any_purpose && !n->any_purpose) {
        vault__buf_printf(b, "- app %s purposes any->", n->name);
        put_list(b, n->purposes, n->npurposes);
        vault__buf_puts(b, "\n");
    } else if (!o->any_purpose && n->any_purpose) {
        vault__buf_printf(b, "+ app %s purposes ", n->name);
        put_list(b, o->purposes, o->npurposes);
        vault__buf_puts(b, "->any\n");
    } else if (!n->any_purpose) {
        list_diff(b, n->name, "purpose", o->purposes, o->npurposes, n->purposes, n->npurposes);
    }
    if (o->officer_actions != n->officer_actions)
        vault__buf_printf(b, "%c app %s officer_actions %s->%s\n", n->officer_actions ? '+' : '-',
                      n->name, o->officer_actions ? "true" : "false",
                      n->officer_actions ? "true" : "false");
}

void vp_apps_diff(vault_buf *b, const vault_policy *old_p, const vault_policy *new_p)
{
    for (size_t i = 0; i < new_p->napps; i++) {
        const vp_app *n = &new_p->apps[i], *o = policy_app(old_p, n->name);

        if (o == NULL)
            put_app(b, '+', n, "added");
        else
            app_diff(b, o, n);
    }
    for (size_t i = 0; i < old_p->napps; i++)
        if (policy_app(new_p, old_p->apps[i].name) == NULL)
            put_app(b, '-', &old_p->apps[i], "removed");
}

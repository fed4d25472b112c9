/* Policy files: the declarations (grades, fields, departments, roles and
 * purposes, read in that dependency order whatever order the file gives
 * them), then the top level hands rules, grant limits and break-glass to
 * policy_rules.c, quotas to policy_quota.c and apps to policy_apps.c.  Nodes are read through
 * policy_node.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"
#include "text.h"

/* ---- Declarations ---- */

/* A list of declared names: each item `name` or {name:, label:} (+ for
 * roles `departments:`).  Fills out (count *out_n). */
static void parse_names(pctx *c, const vnode *seq, int kind, vp_named **out, size_t *out_n,
                        const vnode ***out_extra)
{
    static const vp_keydef defs_plain[] = {{"name", 1}, {"label", 0}};
    static const vp_keydef defs_role[] = {{"name", 1}, {"label", 0}, {"departments", 0}};
    vault_policy *p = c->p;
    vp_map *map = (vp_map *)vp_kind_map(p, kind);
    size_t max = kind == VP_K_GRADE ? VP_GRADES_MAX : VP_NAMES_MAX, n = 0;
    vp_named *names;
    const vnode **extra = NULL;
    char what[64];

    *out = NULL;
    *out_n = 0;
    if (!vp_want(c, seq, VN_SEQ, vp_kind_sections[kind])) {
        c->sect_bad[kind] = 1;
        return;
    }
    if (seq->n == 0) {
        vp_diag_n(c, VP_ERR, seq, "%s: declare at least one %s", vp_kind_sections[kind],
                  vp_kind_names[kind]);
        c->sect_bad[kind] = 1;
        return;
    }
    if (seq->n > max) {
        vp_diag_n(c, VP_ERR, seq->kids[max], "too many %s: at most %zu", vp_kind_sections[kind], max);
        c->limit = 1;
        c->sect_bad[kind] = 1;
    }
    names = vp_alloc(&p->arena, (seq->n < max ? seq->n : max) * sizeof *names);
    if (kind == VP_K_ROLE && names != NULL)
        extra = vp_alloc(&p->arena, (seq->n < max ? seq->n : max) * sizeof *extra);
    if (names == NULL || (kind == VP_K_ROLE && extra == NULL)) {
        c->oom = 1;
        return;
    }
    snprintf(what, sizeof what, "%s entry", vp_kind_names[kind]);
    for (size_t i = 0; i < seq->n && i < max; i++) {
        const vnode *item = seq->kids[i], *name = item, *v[3] = {NULL, NULL, NULL};
        int prev;

        if (item->type == VN_MAP) {
            if (!vp_map_keys(c, item, what, kind == VP_K_ROLE ? defs_role : defs_plain,
                             kind == VP_K_ROLE ? 3 : 2, v))
                continue;
            name = v[0];
            if (name == NULL)
                continue;
        }
        if (!vp_want_name(c, name, vp_kind_names[kind]))
            continue;
        names[n].name = vp_strndup(&p->arena, name->s, name->len);
        if (names[n].name == NULL) {
            c->oom = 1;
            return;
        }
        names[n].line = name->line;
        names[n].col = name->col;
        if (v[1] != NULL)
            names[n].label = vp_want_text(c, v[1], "label");
        prev = vp_map_put(map, names[n].name, name->len, (int)n);
        if (prev < -1) {
            c->oom = 1;
            return;
        }
        if (prev >= 0) {
            vp_diag_n(c, VP_ERR, name, "duplicate %s '%s' (first declared at %u:%u)",
                      vp_kind_names[kind], names[n].name, names[prev].line, names[prev].col);
            continue;
        }
        if (extra != NULL)
            extra[n] = v[2];
        n++;
    }
    *out = names;
    *out_n = n;
    if (out_extra != NULL)
        *out_extra = extra;
}

static void parse_role_departments(pctx *c, const vnode **extra)
{
    vault_policy *p = c->p;

    for (size_t r = 0; r < p->nroles; r++) {
        const vnode *list = extra[r];

        if (list == NULL)
            continue;
        if (list->type != VN_SEQ && !vp_want(c, list, VN_SCALAR, "role departments"))
            continue;
        p->roles[r].depts = vp_alloc(&p->arena, (p->dw ? p->dw : 1) * sizeof(uint64_t));
        if (p->roles[r].depts == NULL) {
            c->oom = 1;
            return;
        }
        if (list->type == VN_SEQ && list->n == 0)
            vp_diag_n(c, VP_WARN, list, "role '%s' lists no departments: nobody can hold it",
                      p->roles[r].n.name);
        for (size_t i = 0; i < vp_list_len(list); i++) {
            int d = vp_lookup(c, VP_K_DEPT, vp_list_at(list, i));
            if (d >= 0)
                vp_setbit(p->roles[r].depts, (size_t)d);
        }
    }
}

static void parse_fields(pctx *c, const vnode *m)
{
    static const vp_keydef defs[] = {{"grade", 1}, {"mask", 0}, {"index", 0},
                                     {"category", 0}, {"label", 0}};
    vault_policy *p = c->p;
    size_t n = 0, count;

    if (!vp_want(c, m, VN_MAP, "fields")) {
        c->sect_bad[VP_K_FIELD] = 1;
        return;
    }
    if (m->n == 0) {
        vp_diag_n(c, VP_ERR, m, "fields: declare at least one field");
        c->sect_bad[VP_K_FIELD] = 1;
        return;
    }
    count = m->n;
    if (count > VP_FIELDS_MAX) {
        vp_diag_n(c, VP_ERR, m->kids[2 * VP_FIELDS_MAX], "too many fields: at most %d",
                  VP_FIELDS_MAX);
        c->limit = 1;
        c->sect_bad[VP_K_FIELD] = 1;
        count = VP_FIELDS_MAX;
    }
    p->fields = vp_alloc(&p->arena, count * sizeof *p->fields);
    p->field_info = vp_alloc(&p->arena, count * sizeof *p->field_info);
    if (p->fields == NULL || p->field_info == NULL) {
        c->oom = 1;
        return;
    }
    for (size_t i = 0; i < count; i++) {
        const vnode *k = m->kids[2 * i], *v[5];
        vp_field *f = &p->fields[n];
        int prev, g;

        if (!vp_want_name(c, k, "field name"))
            continue;
        f->name = vp_strndup(&p->arena, k->s, k->len);
        if (f->name == NULL) {
            c->oom = 1;
            return;
        }
        prev = vp_map_put(&p->field_map, f->name, k->len, (int)n);
        if (prev < -1) {
            c->oom = 1;
            return;
        }
        if (prev >= 0) {
            vp_diag_n(c, VP_ERR, k, "duplicate field '%s' (first declared at %u:%u)", f->name,
                      p->field_info[prev].line, p->field_info[prev].col);
            continue;
        }
        p->field_info[n].name = f->name;
        p->field_info[n].line = k->line;
        p->field_info[n].col = k->col;
        f->mask = VAULT_MASK_NONE;
        f->grade = 0;
        n++;
        if (!vp_map_keys(c, m->kids[2 * i + 1], "field", defs, VAULT_ARRAY_LEN(defs), v))
            continue;
        g = v[0] ? vp_lookup(c, VP_K_GRADE, v[0]) : -1;
        if (g >= 0)
            f->grade = g;
        if (v[1] != NULL && vp_want(c, v[1], VN_SCALAR, "mask")) {
            vault_mask_kind mk = VAULT_MASK_NONE;
            char q[80];

            if (strcmp(v[1]->s, "none") != 0 &&
                (memchr(v[1]->s, '\0', v[1]->len) != NULL ||
                 mask_kind_from_name(&mk, v[1]->s) != VAULT_OK)) {
                vp_quote(q, sizeof q, v[1]->s, v[1]->len);
                vp_diag_n(c, VP_ERR, v[1],
                          "unknown mask '%s' (expected none, name, id_number, phone, bank_card, "
                          "address, age_band, flag, redact or pseudonym)",
                          q);
            }
            f->mask = mk;
        }
        if (v[2] != NULL && vp_want(c, v[2], VN_SCALAR, "index")) {
            if (strcmp(v[2]->s, "exact") == 0)
                f->index_exact = 1;
            else if (strcmp(v[2]->s, "none") != 0)
                vp_diag_n(c, VP_ERR, v[2], "index must be 'exact' or 'none'");
        }
        if (v[3] != NULL && vp_want_name(c, v[3], "category"))
            f->category = vp_strndup(&p->arena, v[3]->s, v[3]->len);
        if (v[4] != NULL)
            p->field_info[n - 1].label = vp_want_text(c, v[4], "label");
    }
    p->nfields = n;
}

/* ---- Top level ---- */

int vp_parse_root(pctx *c, const vnode *root)
{
    static const vp_keydef defs[] = {
        {"version", 1}, {"name", 1},  {"description", 0}, {"grades", 1},
        {"fields", 1},  {"departments", 1}, {"roles", 1}, {"purposes", 1},
        {"rules", 1},   {"grant_limits", 0}, {"break_glass", 0}, {"quotas", 0},
        {"apps", 0},    {"auditors", 0}, {"data_officers", 0}, {"witnesses", 0},
        {"witness_quorum", 0}, {"retention", 0},
    };
    enum { V, NAME, DESC, GRADES, FIELDS, DEPTS, ROLES, PURPOSES, RULES, LIMITS, BG, QUOTAS, APPS,
           AUDITORS, DATA_OFFICERS, WITNESSES, QUORUM, RETENTION };
    const vnode *v[VAULT_ARRAY_LEN(defs)];
    vault_policy *p = c->p;
    const vnode **role_extra = NULL;
    int rc = VAULT_OK;

    if (root->type != VN_MAP) {
        vp_diag_n(c, VP_ERR, root,
                  "a policy must be a mapping with version, name, grades, fields, departments, "
                  "roles, purposes and rules; found %s",
                  vp_node_kind(root));
        return VAULT_OK;
    }
    vp_map_keys(c, root, "the policy", defs, VAULT_ARRAY_LEN(defs), v);
    for (int k = 0; k < VP_K_COUNT; k++)
        c->sect_bad[k] = 0;
    if (v[V] != NULL && vp_want(c, v[V], VN_SCALAR, "version") &&
        !(v[V]->len == 1 && v[V]->s[0] == '1'))
        vp_diag_n(c, VP_ERR, v[V], "unsupported version: this library reads 'version: 1'");
    if (v[NAME] != NULL && vp_want_name(c, v[NAME], "policy name"))
        p->name = vp_strndup(&p->arena, v[NAME]->s, v[NAME]->len);
    if (v[DESC] != NULL)
        p->description = vp_want_text(c, v[DESC], "description");

    if (v[GRADES] != NULL)
        parse_names(c, v[GRADES], VP_K_GRADE, &p->grades, &p->ngrades, NULL);
    else
        c->sect_bad[VP_K_GRADE] = 1;
    if (v[DEPTS] != NULL)
        parse_names(c, v[DEPTS], VP_K_DEPT, &p->depts, &p->ndepts, NULL);
    else
        c->sect_bad[VP_K_DEPT] = 1;
    if (v[PURPOSES] != NULL)
        parse_names(c, v[PURPOSES], VP_K_PURPOSE, &p->purposes, &p->npurposes, NULL);
    else
        c->sect_bad[VP_K_PURPOSE] = 1;
    p->dw = (p->ndepts + 63) / 64;
    p->pw = (p->npurposes + 63) / 64;
    if (v[ROLES] != NULL) {
        vp_named *names = NULL;
        size_t n = 0;

        parse_names(c, v[ROLES], VP_K_ROLE, &names, &n, &role_extra);
        if (n > 0) {
            p->roles = vp_alloc(&p->arena, n * sizeof *p->roles);
            if (p->roles == NULL)
                c->oom = 1;
            else
                for (size_t i = 0; i < n; i++)
                    p->roles[i].n = names[i];
            p->nroles = p->roles ? n : 0;
        }
        if (role_extra != NULL && p->roles != NULL)
            parse_role_departments(c, role_extra);
    } else {
        c->sect_bad[VP_K_ROLE] = 1;
    }
    if (v[FIELDS] != NULL)
        parse_fields(c, v[FIELDS]);
    else
        c->sect_bad[VP_K_FIELD] = 1;
    p->fw = (p->nfields + 63) / 64;
    if (c->oom)
        return vault__err(VAULT_ENOMEM, "policy: out of memory");

    if (v[RULES] != NULL)
        GUARD(vp_parse_rules(c, v[RULES]));
    if (v[LIMITS] != NULL)
        GUARD(vp_parse_grant_limits(c, v[LIMITS]));
    if (v[BG] != NULL)
        GUARD(vp_parse_break_glass(c, v[BG]));
    if (v[AUDITORS] != NULL)
        GUARD(vp_parse_auditors(c, v[AUDITORS]));
    if (v[DATA_OFFICERS] != NULL)
        GUARD(vp_parse_data_officers(c, v[DATA_OFFICERS]));
    if (v[QUOTAS] != NULL)
        GUARD(vp_parse_quotas(c, v[QUOTAS]));
    if (v[APPS] != NULL)
        GUARD(vp_parse_apps(c, v[APPS]));
    if (v[WITNESSES] != NULL || v[QUORUM] != NULL)
        GUARD(vp_parse_witnesses(c, v[WITNESSES], v[QUORUM]));
    if (v[RETENTION] != NULL)
        GUARD(vp_parse_retention(c, v[RETENTION]));
    ENSURE(!c->oom, VAULT_ENOMEM, "policy: out of memory");
cleanup:
    return rc;
}

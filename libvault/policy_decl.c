/* Policy files: the checked accessors of the YAML node tree (types,
 * mapping keys, names, durations) and the declarations: grades, fields,
 * departments, roles and purposes, read in that dependency order whatever
 * order the file gives them, then the top level hands rules, grant limits
 * and break-glass to policy_rules.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"
#include "text.h"

/* ---- Node helpers ---- */

const char *vp_node_kind(const vnode *n)
{
    if (n == NULL || (n->type == VN_SCALAR && n->is_null))
        return "nothing (null)";
    switch (n->type) {
    case VN_SEQ: return "a list";
    case VN_MAP: return "a mapping";
    default: return "a single value";
    }
}

int vp_want(pctx *c, const vnode *n, int type, const char *what)
{
    static const char *const want[] = {"a single value", "a list", "a mapping"};

    if (n == NULL)
        return 0;
    if (n->type == type && !(type == VN_SCALAR && n->is_null))
        return 1;
    if (!n->bad)
        vp_diag_n(c, VP_ERR, n, "%s must be %s, not %s", what, want[type], vp_node_kind(n));
    return 0;
}

size_t vp_list_len(const vnode *n)
{
    if (n == NULL)
        return 0;
    return n->type == VN_SEQ ? n->n : 1;
}

const vnode *vp_list_at(const vnode *n, size_t i)
{
    return n->type == VN_SEQ ? n->kids[i] : n;
}

int vp_map_keys(pctx *c, const vnode *m, const char *what, const vp_keydef *defs, size_t ndefs,
                const vnode **out)
{
    const vnode *keys[32];
    char q[80], expected[400];
    size_t o = 0;

    for (size_t i = 0; i < ndefs; i++) {
        out[i] = NULL;
        keys[i] = NULL;
    }
    if (!vp_want(c, m, VN_MAP, what))
        return 0;
    expected[0] = '\0';
    for (size_t i = 0; i < ndefs && o < sizeof expected; i++) {
        int w = snprintf(expected + o, sizeof expected - o, "%s%s", i ? ", " : "", defs[i].name);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    for (size_t i = 0; i < m->n; i++) {
        const vnode *k = m->kids[2 * i], *v = m->kids[2 * i + 1];
        size_t d;

        if (k->type != VN_SCALAR) {
            if (!k->bad)
                vp_diag_n(c, VP_ERR, k, "keys of %s must be plain names, not %s", what,
                          vp_node_kind(k));
            continue;
        }
        for (d = 0; d < ndefs; d++)
            if (strlen(defs[d].name) == k->len && memcmp(defs[d].name, k->s, k->len) == 0) /* memcmp ok: not secret */
                break;
        vp_quote(q, sizeof q, k->s, k->len);
        if (d == ndefs) {
            vp_diag_n(c, VP_ERR, k, "unknown key '%s' in %s (expected one of: %s)", q, what,
                      expected);
            continue;
        }
        if (keys[d] != NULL) {
            if (strcmp(defs[d].name, "effect") == 0)
                vp_diag_n(c, VP_ERR, k,
                          "more than one effect (first at line %u): a rule has exactly one of "
                          "allow, mask, deny",
                          keys[d]->line);
            else
                vp_diag_n(c, VP_ERR, k, "duplicate key '%s' in %s (first at line %u)", q, what,
                          keys[d]->line);
            continue;
        }
        keys[d] = k;
        out[d] = v;
    }
    for (size_t d = 0; d < ndefs; d++) {
        if (!defs[d].required || keys[d] != NULL)
            continue;
        if (strcmp(defs[d].name, "effect") == 0)
            vp_diag_n(c, VP_ERR, m, "%s has no effect: exactly one 'effect: allow|mask|deny' is "
                      "required", what);
        else
            vp_diag_n(c, VP_ERR, m, "%s is missing the required key '%s'", what, defs[d].name);
    }
    return 1;
}

int vp_want_name(pctx *c, const vnode *n, const char *what)
{
    char q[80];

    if (!vp_want(c, n, VN_SCALAR, what))
        return 0;
    if (vp_name_ok(n->s, n->len))
        return 1;
    vp_quote(q, sizeof q, n->s, n->len);
    vp_diag_n(c, VP_ERR, n,
              "invalid %s '%s': names use a-z, 0-9, '_' and '-' only, at most %d bytes", what, q,
              VAULT_NAME_MAX - 1);
    return 0;
}

static const char *const kind_names[VP_K_COUNT] = {"grade", "field", "role", "department",
                                                   "purpose"};
static const char *const kind_sections[VP_K_COUNT] = {"grades", "fields", "roles", "departments",
                                                      "purposes"};

static const vp_map *kind_map(const vault_policy *p, int kind)
{
    switch (kind) {
    case VP_K_GRADE: return &p->grade_map;
    case VP_K_FIELD: return &p->field_map;
    case VP_K_ROLE: return &p->role_map;
    case VP_K_DEPT: return &p->dept_map;
    default: return &p->purpose_map;
    }
}

int vp_lookup(pctx *c, int kind, const vnode *n)
{
    char q[80];
    int v;

    if (!vp_want(c, n, VN_SCALAR, kind_names[kind]))
        return -1;
    v = vp_map_get(kind_map(c->p, kind), n->s, n->len);
    if (v >= 0)
        return v;
    if (!c->sect_bad[kind]) {
        vp_quote(q, sizeof q, n->s, n->len);
        vp_diag_n(c, VP_ERR, n, "unknown %s '%s' (not declared under %s:)", kind_names[kind], q,
                  kind_sections[kind]);
    }
    return -1;
}

int64_t vp_want_duration(pctx *c, const vnode *n, const char *what)
{
    int64_t v;
    char q[80];

    if (!vp_want(c, n, VN_SCALAR, what))
        return -1;
    if (vp_duration_parse(&v, n->s, n->len) == VAULT_OK)
        return v;
    vp_quote(q, sizeof q, n->s, n->len);
    vp_diag_n(c, VP_ERR, n,
              "malformed duration '%s' for %s: use a positive whole number followed by s, m, h "
              "or d (e.g. 30m, 8h, 7d), at most 3650d",
              q, what);
    return -1;
}

const char *vp_want_text(pctx *c, const vnode *n, const char *what)
{
    const char *s;

    if (!vp_want(c, n, VN_SCALAR, what))
        return NULL;
    if (n->len > VP_LABEL_MAX || memchr(n->s, '\0', n->len) != NULL) {
        vp_diag_n(c, VP_ERR, n, "%s must be text of at most %d bytes without NUL", what,
                  VP_LABEL_MAX);
        return NULL;
    }
    s = vp_strndup(&c->p->arena, n->s, n->len);
    if (s == NULL) {
        c->oom = 1;
        return NULL;
    }
    /* Labels and descriptions are shown to people: the one free-text
     * rule (text.h), so none can move a cursor or reorder a line. */
    if (n->len > 0 && vault__text_check(s, VP_LABEL_MAX, what) < 0) {
        vault__err_clear();
        vp_diag_n(c, VP_ERR, n, "%s must be one line of text: no control characters (newline "
                  "and tab included) or bidirectional controls", what);
        return NULL;
    }
    return s;
}

/* ---- Declarations ---- */

/* A list of declared names: each item `name` or {name:, label:} (+ for
 * roles `departments:`).  Fills out (count *out_n). */
static void parse_names(pctx *c, const vnode *seq, int kind, vp_named **out, size_t *out_n,
                        const vnode ***out_extra)
{
    static const vp_keydef defs_plain[] = {{"name", 1}, {"label", 0}};
    static const vp_keydef defs_role[] = {{"name", 1}, {"label", 0}, {"departments", 0}};
    vault_policy *p = c->p;
    vp_map *map = (vp_map *)kind_map(p, kind);
    size_t max = kind == VP_K_GRADE ? VP_GRADES_MAX : VP_NAMES_MAX, n = 0;
    vp_named *names;
    const vnode **extra = NULL;
    char what[64];

    *out = NULL;
    *out_n = 0;
    if (!vp_want(c, seq, VN_SEQ, kind_sections[kind])) {
        c->sect_bad[kind] = 1;
        return;
    }
    if (seq->n == 0) {
        vp_diag_n(c, VP_ERR, seq, "%s: declare at least one %s", kind_sections[kind],
                  kind_names[kind]);
        c->sect_bad[kind] = 1;
        return;
    }
    if (seq->n > max) {
        vp_diag_n(c, VP_ERR, seq->kids[max], "too many %s: at most %zu", kind_sections[kind], max);
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
    snprintf(what, sizeof what, "%s entry", kind_names[kind]);
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
        if (!vp_want_name(c, name, kind_names[kind]))
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
                      kind_names[kind], names[n].name, names[prev].line, names[prev].col);
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
                          "address, age_band, flag or redact)",
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
    };
    enum { V, NAME, DESC, GRADES, FIELDS, DEPTS, ROLES, PURPOSES, RULES, LIMITS, BG, QUOTAS };
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
    if (v[QUOTAS] != NULL)
        GUARD(vp_parse_quotas(c, v[QUOTAS]));
    ENSURE(!c->oom, VAULT_ENOMEM, "policy: out of memory");
cleanup:
    return rc;
}

/* Reading policy nodes: type checks, mapping keys, lists, declared-name
 * look-ups, durations and text, each reporting at the node's position.
 * Used by every part of the parser above the YAML tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"
#include "text.h"

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

const char *const vp_kind_names[VP_K_COUNT] = {"grade", "field", "role", "department",
                                                   "purpose"};
const char *const vp_kind_sections[VP_K_COUNT] = {"grades", "fields", "roles", "departments",
                                                      "purposes"};

const vp_map *vp_kind_map(const vault_policy *p, int kind)
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

    if (!vp_want(c, n, VN_SCALAR, vp_kind_names[kind]))
        return -1;
    v = vp_map_get(vp_kind_map(c->p, kind), n->s, n->len);
    if (v >= 0)
        return v;
    if (!c->sect_bad[kind]) {
        vp_quote(q, sizeof q, n->s, n->len);
        vp_diag_n(c, VP_ERR, n, "unknown %s '%s' (not declared under %s:)", vp_kind_names[kind], q,
                  vp_kind_sections[kind]);
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
              "malformed duration '%s' for %s: use a positive whole number followed by s, m, h, "
              "d or y (e.g. 30m, 8h, 7d, 2y), at most 3650d (10y)",
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

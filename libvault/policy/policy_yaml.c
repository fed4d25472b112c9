/* Policy files: YAML text -> node tree (libyaml events, with the depth,
 * alias and document checks).  The tree is read by policy_decl.c
 * (declarations), policy_rules.c (rules, grant limits, break-glass) and
 * policy_quota.c through the helpers of policy_node.c; policy_load.c
 * drives the whole parse.  Every problem is reported as FILE:LINE:COL
 * with libyaml's marks (policy_diag.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "policy_int.h"

/* ---- YAML events -> tree ---- */

typedef struct frame {
    vnode *node;
    vnode **v;
    size_t n, cap;
} frame;

static int frame_push(frame *f, vnode *kid)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        vnode **v = realloc(f->v, cap * sizeof *v);
        if (v == NULL)
            return VAULT_ENOMEM;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = kid;
    return VAULT_OK;
}

static vnode *node_new(vp_arena *ta, int type, const yaml_mark_t *m)
{
    vnode *n = vp_alloc(ta, sizeof *n);

    if (n == NULL)
        return NULL;
    n->type = type;
    n->line = (unsigned)m->line + 1;
    n->col = (unsigned)m->column + 1;
    return n;
}

/* Line and column (1-based, columns in characters) of a byte offset. */
static void offset_mark(const char *text, size_t len, size_t off, unsigned *line, unsigned *col)
{
    unsigned l = 1, k = 1;

    for (size_t i = 0; i < off && i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') {
            l++;
            k = 1;
        } else if ((ch & 0xC0) != 0x80) {
            k++;
        }
    }
    *line = l;
    *col = k;
}

static void syntax_error(pctx *c, const yaml_parser_t *y, const char *text, size_t len)
{
    unsigned line, col;
    const char *problem = y->problem ? y->problem : "malformed YAML";

    if (y->error == YAML_READER_ERROR) {
        offset_mark(text, len, y->problem_offset, &line, &col);
    } else {
        line = (unsigned)y->problem_mark.line + 1;
        col = (unsigned)y->problem_mark.column + 1;
    }
    if (y->context != NULL)
        vp_diag(c, VP_ERR, line, col, "YAML syntax error: %s (%s at line %u column %u)", problem,
                y->context, (unsigned)y->context_mark.line + 1,
                (unsigned)y->context_mark.column + 1);
    else
        vp_diag(c, VP_ERR, line, col, "YAML syntax error: %s", problem);
}

static int scalar_is_null(const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;

    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    return n == 0 || (n == 1 && s[0] == '~') ||
           (n == 4 && (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 || /* memcmp ok: not secret */
                       memcmp(s, "NULL", 4) == 0)); /* memcmp ok: not secret */
}

/* Build the tree of the single document in text.  Problems go to the
 * report; *out_root stays NULL when there is no usable document.  Returns
 * VAULT_ENOMEM or VAULT_OK. */
int vp_yaml_tree(vnode **out_root, pctx *c, vp_arena *ta, const char *text, size_t len)
{
    int rc = VAULT_OK;
    yaml_parser_t y;
    yaml_event_t ev;
    frame st[VP_DEPTH_MAX + 1];
    size_t depth = 0;
    int ndocs = 0, done = 0, inited = 0;
    vnode *root = NULL;

    *out_root = NULL;
    memset(st, 0, sizeof st);
    ENSURE(yaml_parser_initialize(&y) == 1, VAULT_ENOMEM, "policy: out of memory");
    inited = 1;
    yaml_parser_set_input_string(&y, (const unsigned char *)text, len);

    while (!done) {
        vnode *n = NULL;

        if (!yaml_parser_parse(&y, &ev)) {
            if (y.error == YAML_MEMORY_ERROR) {
                rc = vault__err(VAULT_ENOMEM, "policy: out of memory");
                goto cleanup;
            }
            syntax_error(c, &y, text, len);
            root = NULL; /* a broken document is not checked further */
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++ndocs > 1) {
                vp_diag(c, VP_ERR, (unsigned)ev.start_mark.line + 1,
                        (unsigned)ev.start_mark.column + 1,
                        "a policy file holds one YAML document; found a second one");
                done = 1;
            }
            break;
        case YAML_ALIAS_EVENT:
            vp_diag(c, VP_ERR, (unsigned)ev.start_mark.line + 1,
                    (unsigned)ev.start_mark.column + 1,
                    "YAML aliases (*name) are not supported in policy files; write the value out");
            n = node_new(ta, VN_SCALAR, &ev.start_mark);
            if (n != NULL) {
                n->bad = 1;
                n->is_null = 1;
                n->s = "";
            }
            break;
        case YAML_SCALAR_EVENT:
            n = node_new(ta, VN_SCALAR, &ev.start_mark);
            if (n != NULL) {
                n->len = ev.data.scalar.length;
                n->s = vp_strndup(ta, (const char *)ev.data.scalar.value, n->len);
                n->is_null = scalar_is_null(&ev);
                if (n->s == NULL)
                    n = NULL;
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (depth == VP_DEPTH_MAX) {
                vp_diag(c, VP_ERR, (unsigned)ev.start_mark.line + 1,
                        (unsigned)ev.start_mark.column + 1,
                        "YAML nesting deeper than %d levels", VP_DEPTH_MAX);
                c->limit = 1;
                root = NULL;
                done = 1;
                break;
            }
            n = node_new(ta, ev.type == YAML_SEQUENCE_START_EVENT ? VN_SEQ : VN_MAP,
                         &ev.start_mark);
            if (n == NULL)
                break;
            st[depth].node = n;
            st[depth].n = 0;
            depth++;
            n = NULL; /* attached to its parent when it ends */
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            frame *f = &st[depth - 1];
            n = f->node;
            if (f->n > 0) {
                n->kids = vp_alloc(ta, f->n * sizeof *n->kids);
                if (n->kids == NULL) {
                    n = NULL;
                    break;
                }
                memcpy(n->kids, f->v, f->n * sizeof *n->kids);
            }
            n->n = n->type == VN_MAP ? f->n / 2 : f->n;
            depth--;
            break;
        }
        default:
            break;
        }
        if ((ev.type == YAML_SCALAR_EVENT || ev.type == YAML_ALIAS_EVENT ||
             ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) &&
            n == NULL) {
            yaml_event_delete(&ev);
            rc = vault__err(VAULT_ENOMEM, "policy: out of memory");
            goto cleanup;
        }
        yaml_event_delete(&ev);
        if (n != NULL) {
            if (depth > 0) {
                GUARD(frame_push(&st[depth - 1], n) < 0
                          ? vault__err(VAULT_ENOMEM, "policy: out of memory")
                          : VAULT_OK);
            } else if (root == NULL) {
                root = n;
            }
        }
    }
    *out_root = root;

cleanup:
    for (size_t i = 0; i < VAULT_ARRAY_LEN(st); i++)
        free(st[i].v);
    if (inited)
        yaml_parser_delete(&y);
    return rc;
}

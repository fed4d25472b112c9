/* Policy files: reading (size limit, one read of at most VP_SOURCE_MAX + 1
 * bytes), YAML text -> node tree (libyaml events, with the depth, alias
 * and document checks), and the diagnostics report, sorted by position.
 * The tree is read by policy_decl.c (declarations) and policy_rules.c
 * (rules, grant limits, break-glass); bitsets, indexes and warnings come
 * from policy_compile.c.  Every problem is reported as FILE:LINE:COL with
 * libyaml's marks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "crypto.h"
#include "policy_int.h"

/* ---- Diagnostics ---- */

static void diag_v(pctx *c, int is_err, unsigned line, unsigned col, const char *fmt, va_list ap)
{
    char msg[400];
    vp_buf t = {NULL, 0, 0, 0};
    vp_diag_entry *e;

    if (is_err)
        c->nerr++;
    else
        c->nwarn++;
    if (c->ndiag++ >= VP_DIAG_MAX)
        return;
    if (c->ndiags == c->capdiags) {
        size_t cap = c->capdiags ? c->capdiags * 2 : 16;
        vp_diag_entry *d = realloc(c->diags, cap * sizeof *d);
        if (d == NULL) {
            c->oom = 1;
            return;
        }
        c->diags = d;
        c->capdiags = cap;
    }
    vsnprintf(msg, sizeof msg, fmt, ap);
    vp_buf_printf(&t, "%s:%u:%u: %s: %s", c->file, line, col, is_err ? "error" : "warning", msg);
    e = &c->diags[c->ndiags];
    e->text = vp_buf_take(&t);
    if (e->text == NULL) {
        c->oom = 1;
        return;
    }
    e->line = line;
    e->col = col;
    e->seq = c->ndiag;
    e->is_err = is_err;
    c->ndiags++;
}

static int diag_cmp(const void *a, const void *b)
{
    const vp_diag_entry *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The report in file order; the first error (without "error: ") for
 * vault_error_last(). */
static void finish_report(pctx *c)
{
    size_t flen = strlen(c->file);

    if (c->ndiags > 0)
        qsort(c->diags, c->ndiags, sizeof *c->diags, diag_cmp);
    for (size_t i = 0; i < c->ndiags; i++) {
        const vp_diag_entry *e = &c->diags[i];

        vp_buf_printf(&c->rep, "%s\n", e->text);
        if (e->is_err && c->first[0] == '\0') {
            /* "FILE:L:C: error: msg" -> "FILE:L:C: msg" */
            const char *colon = strstr(e->text + flen, ": error: ");
            if (colon != NULL)
                snprintf(c->first, sizeof c->first, "%.*s: %s", (int)(colon - e->text), e->text,
                         colon + 9);
        }
    }
    if (c->ndiag > VP_DIAG_MAX)
        vp_buf_printf(&c->rep, "%s: note: %u more problems not shown\n", c->file,
                      c->ndiag - VP_DIAG_MAX);
}

void vp_diag(pctx *c, int is_err, unsigned line, unsigned col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    diag_v(c, is_err, line, col, fmt, ap);
    va_end(ap);
}

void vp_diag_n(pctx *c, int is_err, const vnode *n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    diag_v(c, is_err, n ? n->line : 1, n ? n->col : 1, fmt, ap);
    va_end(ap);
}

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
static int build_tree(vnode **out_root, pctx *c, vp_arena *ta, const char *text, size_t len)
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

static void pctx_free(pctx *c)
{
    for (size_t i = 0; i < c->ndiags; i++)
        free(c->diags[i].text);
    free(c->diags);
    vp_buf_free(&c->rep);
    vp_map_free(&c->rule_ids);
}

static void policy_maps_free(vault_policy *p)
{
    vp_map_free(&p->grade_map);
    vp_map_free(&p->field_map);
    vp_map_free(&p->role_map);
    vp_map_free(&p->dept_map);
    vp_map_free(&p->purpose_map);
    vp_map_free(&p->user_map);
}

void policy_free(vault_policy *p)
{
    if (p == NULL)
        return;
    policy_maps_free(p);
    vp_ix_free(&p->ix);
    vp_arena_free(&p->arena);
    free(p);
}

static void warn_cb(void *ctx, unsigned line, unsigned col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    diag_v(ctx, VP_WARN, line, col, fmt, ap);
    va_end(ap);
}

int policy_parse(vault_policy **out, char **out_report, const char *filename, const char *text,
                 size_t len)
{
    int rc = VAULT_OK;
    pctx c;
    vp_arena tree = {NULL};
    vault_policy *p = NULL;
    vnode *root = NULL;
    const char *slash;

    memset(&c, 0, sizeof c);
    if (out_report != NULL)
        *out_report = NULL;
    ENSURE(out != NULL, VAULT_EINVALID, "policy_parse: out is NULL");
    *out = NULL;
    ENSURE(text != NULL || len == 0, VAULT_EINVALID, "policy_parse: text is NULL");
    if (filename == NULL || filename[0] == '\0')
        filename = "<policy>";
    c.file = filename;

    p = calloc(1, sizeof *p);
    ENSURE(p != NULL, VAULT_ENOMEM, "policy: out of memory");
    c.p = p;
    p->filename = vp_strndup(&p->arena, filename, strlen(filename));
    ENSURE(p->filename != NULL, VAULT_ENOMEM, "policy: out of memory");
    slash = strrchr(p->filename, '/');
    p->basename = slash ? slash + 1 : p->filename;

    if (len > VP_SOURCE_MAX) {
        vp_diag(&c, VP_ERR, 1, 1, "policy is %zu bytes, larger than the limit of %d bytes", len,
                VP_SOURCE_MAX);
        c.limit = 1;
        goto report;
    }
    if (len == 0) {
        vp_diag(&c, VP_ERR, 1, 1, "empty policy");
        goto report;
    }
    GUARD(vc_sha256(p->hash, text, len));
    GUARD(build_tree(&root, &c, &tree, text, len));
    if (root == NULL || (root->type == VN_SCALAR && root->is_null)) {
        if (c.nerr == 0)
            vp_diag(&c, VP_ERR, 1, 1, "empty policy");
        goto report;
    }
    GUARD(vp_parse_root(&c, root));
    if (c.nerr == 0)
        GUARD(vp_compile(p, warn_cb, &c));

report:
    finish_report(&c);
    ENSURE(!c.rep.oom && !c.oom, VAULT_ENOMEM, "policy: out of memory");
    if (c.nerr > 0) {
        if (c.first[0] == '\0')
            snprintf(c.first, sizeof c.first, "%s: %u errors", c.file, c.nerr);
        rc = vault__err(c.limit ? VAULT_ELIMIT : VAULT_EPOLICY, "%s", c.first);
        goto cleanup;
    }
    *out = p;
    p = NULL;

cleanup:
    if (out_report != NULL) {
        *out_report = vp_buf_take(&c.rep);
        if (*out_report == NULL && rc == VAULT_OK) {
            policy_free(*out);
            *out = NULL;
            rc = vault__err(VAULT_ENOMEM, "policy: out of memory");
        }
    }
    vp_arena_free(&tree);
    pctx_free(&c);
    policy_free(p);
    return rc;
}

int policy_load_file(vault_policy **out, char **out_report, char **out_text, size_t *out_len,
                     const char *path)
{
    int rc = VAULT_OK;
    FILE *f = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;

    if (out != NULL)
        *out = NULL;
    if (out_report != NULL)
        *out_report = NULL;
    if (out_text != NULL)
        *out_text = NULL;
    if (out_len != NULL)
        *out_len = 0;
    ENSURE(out != NULL && path != NULL, VAULT_EINVALID, "policy_load_file: missing argument");
    f = fopen(path, "rb");
    ENSURE(f != NULL, errno == ENOENT ? VAULT_ENOTFOUND : VAULT_EIO, "%s: cannot open: %s", path,
           strerror(errno));
    /* Read at most one byte past the limit: a huge file is refused without
     * reading it all. */
    for (;;) {
        size_t got;

        if (len + 1 >= cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb;

            if (ncap > (size_t)VP_SOURCE_MAX + 2)
                ncap = (size_t)VP_SOURCE_MAX + 2;
            nb = realloc(buf, ncap);
            ENSURE(nb != NULL, VAULT_ENOMEM, "policy: out of memory");
            buf = nb;
            cap = ncap;
        }
        got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0 || len > VP_SOURCE_MAX)
            break;
    }
    ENSURE(!ferror(f), VAULT_EIO, "%s: read error", path);
    if (len > VP_SOURCE_MAX) {
        if (out_report != NULL) {
            vp_buf r = {NULL, 0, 0, 0};
            vp_buf_printf(&r, "%s:1:1: error: policy file is larger than the limit of %d bytes\n",
                          path, VP_SOURCE_MAX);
            *out_report = vp_buf_take(&r);
        }
        rc = vault__err(VAULT_ELIMIT, "%s:1:1: policy file is larger than the limit of %d bytes",
                        path, VP_SOURCE_MAX);
        goto cleanup;
    }
    buf[len] = '\0';
    rc = policy_parse(out, out_report, path, buf, len);
    if (rc == VAULT_OK && out_text != NULL) {
        *out_text = buf;
        buf = NULL;
    }
    if (rc == VAULT_OK && out_len != NULL)
        *out_len = len;

cleanup:
    if (f != NULL)
        fclose(f);
    free(buf);
    return rc;
}

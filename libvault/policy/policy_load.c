/* Policy files, top of the parser: reading (size limit, one read of at
 * most VP_SOURCE_MAX + 1 bytes), then YAML -> tree (policy_yaml.c), the
 * declarations and rules (policy_decl.c and below), and compilation
 * (policy_compile.c), with one report (policy_diag.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "policy_int.h"

static void pctx_free(pctx *c)
{
    for (size_t i = 0; i < c->ndiags; i++)
        free(c->diags[i].text);
    free(c->diags);
    vault__buf_free(&c->rep);
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
    vp_map_free(&p->app_map);
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
    vp_diag_v(ctx, VP_WARN, line, col, fmt, ap);
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
    GUARD(vp_yaml_tree(&root, &c, &tree, text, len));
    if (root == NULL || (root->type == VN_SCALAR && root->is_null)) {
        if (c.nerr == 0)
            vp_diag(&c, VP_ERR, 1, 1, "empty policy");
        goto report;
    }
    GUARD(vp_parse_root(&c, root));
    if (c.nerr == 0)
        GUARD(vp_compile(p, warn_cb, &c));

report:
    vp_report_finish(&c);
    ENSURE(!c.rep.failed && !c.oom, VAULT_ENOMEM, "policy: out of memory");
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
        *out_report = vault__buf_steal(&c.rep);
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
            vault_buf r = {0};
            vault__buf_printf(&r, "%s:1:1: error: policy file is larger than the limit of %d bytes\n",
                          path, VP_SOURCE_MAX);
            *out_report = vault__buf_steal(&r);
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

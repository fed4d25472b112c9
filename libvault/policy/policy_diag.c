/* Policy diagnostics: every problem found while reading a policy file,
 * as FILE:LINE:COL: error|warning: message, collected and sorted into
 * the report by position (the lowest layer of the policy parser). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

/* ---- Diagnostics ---- */

void vp_diag_v(pctx *c, int is_err, unsigned line, unsigned col, const char *fmt, va_list ap)
{
    char msg[400];
    vault_buf t = {0};
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
    vault__buf_printf(&t, "%s:%u:%u: %s: %s", c->file, line, col, is_err ? "error" : "warning", msg);
    e = &c->diags[c->ndiags];
    e->text = vault__buf_steal(&t);
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
void vp_report_finish(pctx *c)
{
    size_t flen = strlen(c->file);

    if (c->ndiags > 0)
        qsort(c->diags, c->ndiags, sizeof *c->diags, diag_cmp);
    for (size_t i = 0; i < c->ndiags; i++) {
        const vp_diag_entry *e = &c->diags[i];

        vault__buf_printf(&c->rep, "%s\n", e->text);
        if (e->is_err && c->first[0] == '\0') {
            /* "FILE:L:C: error: msg" -> "FILE:L:C: msg" */
            const char *colon = strstr(e->text + flen, ": error: ");
            if (colon != NULL)
                snprintf(c->first, sizeof c->first, "%.*s: %s", (int)(colon - e->text), e->text,
                         colon + 9);
        }
    }
    if (c->ndiag > VP_DIAG_MAX)
        vault__buf_printf(&c->rep, "%s: note: %u more problems not shown\n", c->file,
                      c->ndiag - VP_DIAG_MAX);
}

void vp_diag(pctx *c, int is_err, unsigned line, unsigned col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vp_diag_v(c, is_err, line, col, fmt, ap);
    va_end(ap);
}

void vp_diag_n(pctx *c, int is_err, const vnode *n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vp_diag_v(c, is_err, n ? n->line : 1, n ? n->col : 1, fmt, ap);
    va_end(ap);
}

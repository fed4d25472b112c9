/* Policy files: the `retention:` section (docs/policy-format.md
 * "Retention").  A schedule says how long the vault keeps a whole record,
 * or some of its fields, after the record's last write or after a date
 * held in one of its fields, and optionally only once a flag field has
 * cleared (PIPL Art. 19 and 47).  The erasing is libvault/retention.c's. */
#include <stdio.h>
#include <string.h>

#include "policy_int.h"

#define VP_RETENTION_MAX 256

static int scalar_is(const vnode *n, const char *s)
{
    return n->type == VN_SCALAR && strlen(s) == n->len &&
           memcmp(n->s, s, n->len) == 0; /* memcmp ok: not secret */
}

/* A non-empty list (or a single name); 0 when reported. */
static size_t want_list(pctx *c, const vnode *n, const char *what)
{
    size_t count;

    if (n->type == VN_MAP || (n->type == VN_SCALAR && n->is_null) ||
        (n->type == VN_SEQ && n->n == 0)) {
        vp_diag_n(c, VP_ERR, n, "%s must be a non-empty list (or a single name)", what);
        return 0;
    }
    count = vp_list_len(n);
    if (count > VP_LIST_MAX) {
        vp_diag_n(c, VP_ERR, n, "%s: too many items, at most %d", what, VP_LIST_MAX);
        c->limit = 1;
        return 0;
    }
    return count;
}

/* categories: every field of each category named. */
static void categories_into(pctx *c, uint64_t *bits, const vnode *n)
{
    vault_policy *p = c->p;
    size_t count = want_list(c, n, "categories"), i, f;

    for (i = 0; i < count; i++) {
        const vnode *item = vp_list_at(n, i);
        int any = 0;
        char q[80];

        if (!vp_want_name(c, item, "category"))
            continue;
        for (f = 0; f < p->nfields; f++)
            if (p->fields[f].category != NULL && strlen(p->fields[f].category) == item->len &&
                memcmp(p->fields[f].category, item->s, item->len) == 0) { /* memcmp ok: not secret */
                vp_setbit(bits, f);
                any = 1;
            }
        if (!any && !c->sect_bad[VP_K_FIELD]) {
            vp_quote(q, sizeof q, item->s, item->len);
            vp_diag_n(c, VP_ERR, item, "no field has category '%s' (fields: ... category:)", q);
        }
    }
}

/* A jurisdiction subtree (segments of names joined by '/', one trailing
 * '/' dropped): an arena copy, or NULL (reported). */
static const char *want_subtree(pctx *c, const vnode *n)
{
    size_t len, seg = 0, i;
    char q[80];

    if (!vp_want(c, n, VN_SCALAR, "jurisdiction"))
        return NULL;
    len = n->len;
    if (len > 1 && n->s[len - 1] == '/')
        len--;
    for (i = 0; len > 0 && len <= VAULT_JURISDICTION_MAX && i <= len; i++) {
        if (i < len && n->s[i] != '/')
            continue;
        if (!vp_name_ok(n->s + seg, i - seg))
            break;
        seg = i + 1;
    }
    if (len == 0 || len > VAULT_JURISDICTION_MAX || i <= len) {
        vp_quote(q, sizeof q, n->s, n->len);
        vp_diag_n(c, VP_ERR, n, "invalid jurisdiction '%s': segments of [a-z0-9_-] joined by '/'",
                  q);
        return NULL;
    }
    return vp_strndup(&c->p->arena, n->s, len);
}

static void parse_schedule(pctx *c, vp_retention *r, const vnode *m, vp_map *ids)
{
    static const vp_keydef defs[] = {
        {"id", 1},   {"description", 0}, {"record", 0},      {"fields", 0},
        {"categories", 0}, {"keep", 1},  {"after", 1},       {"until_clear", 0},
        {"jurisdiction", 0},
    };
    enum { ID, DESC, RECORD, FIELDS, CATS, KEEP, AFTER, UNTIL, JUR };
    const vnode *v[VAULT_ARRAY_LEN(defs)];
    vault_policy *p = c->p;
    int prev, selectors;
    size_t i, count;

    r->after = -1;
    r->until_clear = -1;
    r->line = m->line;
    if (!vp_map_keys(c, m, "retention schedule", defs, VAULT_ARRAY_LEN(defs), v))
        return;
    if (v[ID] != NULL && vp_want_name(c, v[ID], "retention id")) {
        r->id = vp_strndup(&p->arena, v[ID]->s, v[ID]->len);
        if (r->id == NULL) {
            c->oom = 1;
            return;
        }
        prev = vp_map_put(ids, r->id, v[ID]->len, (int)v[ID]->line);
        if (prev < -1)
            c->oom = 1;
        else if (prev >= 0)
            vp_diag_n(c, VP_ERR, v[ID], "duplicate retention id '%s' (first at line %d)", r->id,
                      prev);
    }
    if (v[DESC] != NULL)
        r->description = vp_want_text(c, v[DESC], "description");
    r->fields = vp_alloc(&p->arena, (p->fw ? p->fw : 1) * sizeof *r->fields);
    if (r->fields == NULL) {
        c->oom = 1;
        return;
    }
    /* What it covers: exactly one of record, fields, categories. */
    selectors = (v[RECORD] != NULL) + (v[FIELDS] != NULL) + (v[CATS] != NULL);
    if (selectors == 0)
        vp_diag_n(c, VP_ERR, m, "retention schedule '%s' covers nothing: give record: true, "
                  "fields or categories", r->id ? r->id : "(no id)");
    else if (selectors > 1)
        vp_diag_n(c, VP_ERR, v[CATS] ? v[CATS] : v[FIELDS], "a retention schedule covers the "
                  "record, fields or categories: one of them, not several");
    if (v[RECORD] != NULL) {
        if (scalar_is(v[RECORD], "true"))
            r->whole = 1;
        else if (scalar_is(v[RECORD], "false"))
            vp_diag_n(c, VP_ERR, v[RECORD], "record: false covers nothing: give fields or "
                      "categories instead");
        else if (!v[RECORD]->bad)
            vp_diag_n(c, VP_ERR, v[RECORD], "record must be true (the whole record)");
    }
    if (v[FIELDS] != NULL) {
        count = want_list(c, v[FIELDS], "fields");
        for (i = 0; i < count; i++) {
            int k = vp_lookup(c, VP_K_FIELD, vp_list_at(v[FIELDS], i));

            if (k >= 0)
                vp_setbit(r->fields, (size_t)k);
        }
    }
    if (v[CATS] != NULL)
        categories_into(c, r->fields, v[CATS]);
    if (r->whole)
        for (i = 0; i < p->nfields; i++)
            vp_setbit(r->fields, i);
    if (v[KEEP] != NULL)
        r->keep = vp_want_duration(c, v[KEEP], "keep");
    if (v[AFTER] != NULL && vp_want(c, v[AFTER], VN_SCALAR, "after")) {
        if (scalar_is(v[AFTER], "last_write")) {
            r->after = -1;
        } else {
            char q[80];

            r->after = vp_map_get(&p->field_map, v[AFTER]->s, v[AFTER]->len);
            if (r->after < 0 && !c->sect_bad[VP_K_FIELD]) {
                vp_quote(q, sizeof q, v[AFTER]->s, v[AFTER]->len);
                vp_diag_n(c, VP_ERR, v[AFTER], "after must be last_write or a declared field "
                          "holding a date (YYYY-MM-DD); '%s' is neither", q);
            }
            if (r->after < 0)
                r->keep = -1; /* never due: the policy is refused anyway */
        }
    }
    if (v[UNTIL] != NULL) {
        r->until_clear = vp_lookup(c, VP_K_FIELD, v[UNTIL]);
        if (r->until_clear < 0)
            r->keep = -1;
    }
    if (v[JUR] != NULL)
        r->jurisdiction = want_subtree(c, v[JUR]);
}

int vp_parse_retention(pctx *c, const vnode *seq)
{
    vault_policy *p = c->p;
    vp_map ids = {NULL, 0, 0};
    size_t n, i;

    if (!vp_want(c, seq, VN_SEQ, "retention"))
        return VAULT_OK;
    n = seq->n;
    if (n > VP_RETENTION_MAX) {
        vp_diag_n(c, VP_ERR, seq->kids[VP_RETENTION_MAX],
                  "too many retention schedules: at most %d", VP_RETENTION_MAX);
        c->limit = 1;
        n = VP_RETENTION_MAX;
    }
    if (n == 0)
        return VAULT_OK;
    p->retention = vp_alloc(&p->arena, n * sizeof *p->retention);
    if (p->retention == NULL) {
        c->oom = 1;
        return VAULT_OK;
    }
    for (i = 0; i < n; i++)
        parse_schedule(c, &p->retention[i], seq->kids[i], &ids);
    p->nretention = n;
    vp_map_free(&ids);
    return c->oom ? vault__err(VAULT_ENOMEM, "policy: out of memory") : VAULT_OK;
}

size_t policy_retention_count(const vault_policy *p)
{
    return p ? p->nretention : 0;
}

const vp_retention *policy_retention_at(const vault_policy *p, size_t i)
{
    return p && i < p->nretention ? &p->retention[i] : NULL;
}

/* One line's worth of what a schedule does, for the diff:
 * "record|fields a,b keep 30d after last_write|FIELD[ until FLAG clears][ within J]". */
static void describe(vault_buf *b, const vault_policy *p, const vp_retention *r)
{
    char keep[32];
    size_t n = 0;

    if (r->whole) {
        vault__buf_puts(b, "record");
    } else {
        vault__buf_puts(b, "fields ");
        for (size_t i = 0; i < p->nfields; i++)
            if (vp_bit(r->fields, i))
                vault__buf_printf(b, "%s%s", n++ ? "," : "", p->fields[i].name);
    }
    policy_duration_text(keep, sizeof keep, r->keep);
    vault__buf_printf(b, " keep %s after %s", keep,
                      r->after >= 0 ? p->fields[r->after].name : "last_write");
    if (r->until_clear >= 0)
        vault__buf_printf(b, " until %s clears", p->fields[r->until_clear].name);
    if (r->jurisdiction)
        vault__buf_printf(b, " within %s", r->jurisdiction);
}

static const vp_retention *find_id(const vault_policy *p, const char *id)
{
    for (size_t i = 0; i < p->nretention; i++)
        if (p->retention[i].id && strcmp(p->retention[i].id, id) == 0)
            return &p->retention[i];
    return NULL;
}

void vp_retention_diff(vault_buf *b, const vault_policy *old_p, const vault_policy *new_p)
{
    vault_buf was, now;

    vault__buf_init(&was, "retention diff", 0, 0);
    vault__buf_init(&now, "retention diff", 0, 0);
    for (size_t i = 0; i < new_p->nretention; i++) {
        const vp_retention *r = &new_p->retention[i], *o;

        if (r->id == NULL)
            continue;
        o = find_id(old_p, r->id);
        vault__buf_free(&now);
        describe(&now, new_p, r);
        if (o == NULL) {
            vault__buf_printf(b, "+ retention %s: %s\n", r->id, now.s ? now.s : "");
            continue;
        }
        vault__buf_free(&was);
        describe(&was, old_p, o);
        if (was.s && now.s && strcmp(was.s, now.s) != 0)
            vault__buf_printf(b, "~ retention %s: %s -> %s\n", r->id, was.s, now.s);
    }
    for (size_t i = 0; i < old_p->nretention; i++)
        if (old_p->retention[i].id && find_id(new_p, old_p->retention[i].id) == NULL)
            vault__buf_printf(b, "- retention %s\n", old_p->retention[i].id);
    vault__buf_free(&was);
    vault__buf_free(&now);
}

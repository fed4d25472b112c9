/* grants, the live set: stored grants copied out of their rows and
 * mapped onto the policy (grants__own), and the indexed set decisions use,
 * rebuilt when another connection changed the grants (grants__sync).
 * Below op.c: it calls nothing that takes the handle. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grants_set.h"

#define META_GRANTS_VERSION "grants_version"

void grants__strlist_free(strlist *l)
{
    free(l->buf);
    free(l->items);
    memset(l, 0, sizeof *l);
}

int grants__strlist_split(strlist *l, const char *text)
{
    char *p;
    size_t cap = 1;

    memset(l, 0, sizeof *l);
    if (!text || !*text)
        return VAULT_OK;
    l->buf = strdup(text);
    if (!l->buf)
        return vault__err(VAULT_ENOMEM, "out of memory");
    for (p = l->buf; *p; p++)
        cap += *p == '\n';
    l->items = calloc(cap, sizeof *l->items);
    if (!l->items) {
        grants__strlist_free(l);
        return vault__err(VAULT_ENOMEM, "out of memory");
    }
    for (p = l->buf; p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (*p)
            l->items[l->n++] = p;
        p = nl ? nl + 1 : NULL;
    }
    return VAULT_OK;
}

/* Join names with newlines into a malloc'ed string (NULL for none). */
int grants__bump(vault *v)
{
    uint8_t b[8] = {0};
    size_t n = 0;
    uint64_t ver = 0;
    int rc = store_meta_get(v->db, META_GRANTS_VERSION, b, sizeof b, &n), i;

    if (rc == VAULT_ENOTFOUND) {
        vault__err_clear();
        rc = VAULT_OK;
    }
    if (rc < 0)
        return rc;
    for (i = 0; i < 8 && (size_t)i < n; i++)
        ver |= (uint64_t)b[i] << (8 * i);
    ver++;
    for (i = 0; i < 8; i++)
        b[i] = (uint8_t)(ver >> (8 * i));
    return store_meta_put(v->db, META_GRANTS_VERSION, b, sizeof b);
}

static int read_version(int64_t *out, vault *v)
{
    uint8_t b[8] = {0};
    size_t n = 0;
    int rc = store_meta_get(v->db, META_GRANTS_VERSION, b, sizeof b, &n), i;
    uint64_t ver = 0;

    if (rc == VAULT_ENOTFOUND) {
        vault__err_clear();
        *out = 0;
        return VAULT_OK;
    }
    if (rc < 0)
        return rc;
    for (i = 0; i < 8 && (size_t)i < n; i++)
        ver |= (uint64_t)b[i] << (8 * i);
    *out = (int64_t)ver;
    return VAULT_OK;
}

/* ---- stored grants, copied out of their rows ---- */


static void principal_free(owned_principal *p)
{
    free(p->iss);
    free(p->sub);
    free(p->app);
    free(p->jti);
}

void grants__own_free(owned_grant *o)
{
    grants__strlist_free(&o->fields);
    grants__strlist_free(&o->records);
    grants__strlist_free(&o->purposes);
    free(o->id);
    free(o->state);
    free(o->issuer);
    free(o->issuer_role);
    free(o->user);
    free(o->role);
    free(o->department);
    free(o->jurisdiction);
    free(o->reason);
    free(o->approver);
    free(o->revoked_by);
    free(o->revoke_reason);
    principal_free(&o->issued_by);
    principal_free(&o->approved_by);
    memset(o, 0, sizeof *o);
}

static int dup_opt(char **out, const char *s)
{
    *out = NULL;
    if (s && !(*out = strdup(s)))
        return vault__err(VAULT_ENOMEM, "out of memory");
    return VAULT_OK;
}

/* Copy row s and map it onto policy p. */
static int principal_dup(owned_principal *o, const store_principal *s)
{
    int rc = VAULT_OK;

    GUARD(dup_opt(&o->iss, s->iss));
    GUARD(dup_opt(&o->sub, s->sub));
    GUARD(dup_opt(&o->app, s->app));
    GUARD(dup_opt(&o->jti, s->jti));
cleanup:
    return rc;
}

int grants__own(owned_grant *o, const vault_policy *p, const store_grant *s)
{
    int rc = VAULT_OK;

    memset(o, 0, sizeof *o);
    GUARD(grants__strlist_split(&o->fields, s->fields));
    GUARD(grants__strlist_split(&o->records, s->records));
    GUARD(grants__strlist_split(&o->purposes, s->purposes));
    GUARD(dup_opt(&o->id, s->id));
    GUARD(dup_opt(&o->state, s->state));
    GUARD(dup_opt(&o->issuer, s->issuer));
    GUARD(dup_opt(&o->issuer_role, s->issuer_role));
    GUARD(dup_opt(&o->user, s->user));
    GUARD(dup_opt(&o->role, s->role));
    GUARD(dup_opt(&o->department, s->department));
    GUARD(dup_opt(&o->jurisdiction, s->jurisdiction));
    GUARD(dup_opt(&o->reason, s->reason));
    GUARD(dup_opt(&o->approver, s->approver));
    GUARD(dup_opt(&o->revoked_by, s->revoked_by));
    GUARD(dup_opt(&o->revoke_reason, s->revoke_reason));
    GUARD(principal_dup(&o->issued_by, &s->issued_by));
    GUARD(principal_dup(&o->approved_by, &s->approved_by));
    o->break_glass = s->break_glass;
    o->created = s->created;
    o->changed = s->changed;
    o->g.id = o->id;
    o->g.user = o->user;
    o->g.role = o->role;
    o->g.department = o->department;
    o->g.effect = s->effect;
    o->g.actions = s->actions;
    o->g.fields = o->fields.items;
    o->g.nfields = o->fields.n;
    o->g.grade_min = s->grade_min ? policy_grade_index(p, s->grade_min) : 0;
    o->g.grade_max = s->grade_max ? policy_grade_index(p, s->grade_max)
                                  : (int)policy_grade_count(p) - 1;
    o->g.records = o->records.items;
    o->g.nrecords = o->records.n;
    o->g.jurisdiction = o->jurisdiction;
    o->g.purposes = o->purposes.items;
    o->g.npurposes = o->purposes.n;
    o->g.not_before = s->not_before;
    o->g.not_after = s->not_after;
    /* A grade the current policy no longer has: the grant can't apply. */
    o->usable = o->g.nfields > 0 || (o->g.grade_min >= 0 && o->g.grade_max >= 0);
cleanup:
    if (rc < 0)
        grants__own_free(o);
    return rc;
}

typedef struct build_ctx {
    vault *v;
    owned_grant *items;
    size_t n, cap;
    int64_t now;
} build_ctx;

static int build_fn(void *arg, const store_grant *s)
{
    build_ctx *c = arg;
    owned_grant *grown;
    int rc;

    if (strcmp(s->state, "active") != 0 || s->not_after <= c->now)
        return 0;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        grown = realloc(c->items, c->cap * sizeof *grown);
        if (!grown)
            return vault__err(VAULT_ENOMEM, "out of memory");
        c->items = grown;
    }
    rc = grants__own(&c->items[c->n], c->v->policy, s);
    if (rc < 0)
        return rc;
    if (c->items[c->n].usable)
        c->n++;
    else
        grants__own_free(&c->items[c->n]);
    return VAULT_OK;
}

int grants__reload(vault *v)
{
    int rc = VAULT_OK;
    build_ctx c;
    vp_grant *flat = NULL;
    vp_grantset *set = NULL;
    int64_t version = 0;
    size_t i;

    memset(&c, 0, sizeof c);
    c.v = v;
    c.now = vault__now();
    GUARD(read_version(&version, v));
    GUARD(store_grant_scan(v->db, build_fn, &c));
    flat = calloc(c.n ? c.n : 1, sizeof *flat);
    ENSURE(flat, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < c.n; i++)
        flat[i] = c.items[i].g;
    GUARD(policy_grantset_new(&set, v->policy, flat, c.n));
    if (store_in_tx(v->db)) { /* callers may hold pointers until the end */
        policy_grantset_free(v->retired_grants);
        v->retired_grants = v->grants;
    } else {
        policy_grantset_free(v->grants);
    }
    v->grants = set;
    v->grants_version = version;
cleanup:
    for (i = 0; i < c.n; i++)
        grants__own_free(&c.items[i]);
    free(c.items);
    free(flat);
    return rc;
}

int grants__sync(vault *v, int force)
{
    int64_t version = 0;
    int rc = read_version(&version, v);

    if (rc < 0)
        return rc;
    if (force || !v->grants || version != v->grants_version)
        return grants__reload(v);
    return VAULT_OK;
}

int grants__is_break_glass(const char *grant_id)
{
    return grant_id && strncmp(grant_id, "bg-", 3) == 0;
}

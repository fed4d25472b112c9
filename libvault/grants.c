/* grants: time-bound access issued by data officers within the policy's
 * grant_limits, second-officer approval, revocation, break-glass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "audit.h"
#include "crypto.h"
#include "grants.h"
#include "text.h"

#define META_GRANTS_VERSION "grants_version"
#define GRANT_ACTIONS ((1u << VAULT_ACTION_READ) | (1u << VAULT_ACTION_SEARCH) | (1u << VAULT_ACTION_EXPORT))
#define DETAIL_MAX 1024
#define LIST_MAX 1024 /* entries in a grant's field, record or purpose list */

/* ---- small helpers ---- */

/* A newline-separated list split into an array pointing into a copy. */
typedef struct strlist {
    char *buf;
    const char **items;
    size_t n;
} strlist;

static void strlist_free(strlist *l)
{
    free(l->buf);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static int strlist_split(strlist *l, const char *text)
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
        strlist_free(l);
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
static int join(char **out, const char *const *items, size_t n)
{
    size_t i, len = 1;
    char *s, *p;

    *out = NULL;
    if (n == 0)
        return VAULT_OK;
    for (i = 0; i < n; i++)
        len += strlen(items[i]) + 1;
    s = p = malloc(len);
    if (!s)
        return vault__err(VAULT_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        size_t k = strlen(items[i]);
        memcpy(p, items[i], k);
        p += k;
        *p++ = i + 1 < n ? '\n' : '\0';
    }
    *out = s;
    return VAULT_OK;
}

static void time_text(char *out, size_t cap, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tmv;

    gmtime_r(&tt, &tmv);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tmv);
}

static int bump_version(vault *v)
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

/* ---- converting stored grants for the decision engine ---- */

typedef struct owned_grant {
    vp_grant g;
    strlist fields, records, purposes;
} owned_grant;

static void owned_free(owned_grant *o)
{
    strlist_free(&o->fields);
    strlist_free(&o->records);
    strlist_free(&o->purposes);
}

/* 0 and *usable = 1 when the stored grant maps onto the current policy. */
static int to_vp(owned_grant *o, int *usable, const vault_policy *p, const store_grant *s)
{
    int rc = VAULT_OK;

    memset(o, 0, sizeof *o);
    *usable = 0;
    GUARD(strlist_split(&o->fields, s->fields));
    GUARD(strlist_split(&o->records, s->records));
    GUARD(strlist_split(&o->purposes, s->purposes));
    o->g.id = s->id;
    o->g.user = s->user;
    o->g.role = s->role;
    o->g.department = s->department;
    o->g.effect = s->effect;
    o->g.actions = s->actions;
    o->g.fields = o->fields.items;
    o->g.nfields = o->fields.n;
    o->g.grade_min = s->grade_min ? policy_grade_index(p, s->grade_min) : 0;
    o->g.grade_max = s->grade_max ? policy_grade_index(p, s->grade_max)
                                  : (int)policy_grade_count(p) - 1;
    o->g.records = o->records.items;
    o->g.nrecords = o->records.n;
    o->g.jurisdiction = s->jurisdiction;
    o->g.purposes = o->purposes.items;
    o->g.npurposes = o->purposes.n;
    o->g.not_before = s->not_before;
    o->g.not_after = s->not_after;
    /* A grade the current policy no longer has: the grant can't apply. */
    *usable = o->g.nfields > 0 || (o->g.grade_min >= 0 && o->g.grade_max >= 0);
cleanup:
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
    int usable = 0, rc;
    store_grant copy = *s;

    if (strcmp(s->state, "active") != 0 || s->not_after <= c->now)
        return 0;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        grown = realloc(c->items, c->cap * sizeof *grown);
        if (!grown)
            return vault__err(VAULT_ENOMEM, "out of memory");
        c->items = grown;
    }
    /* The row's strings live only during this call: keep copies. */
    copy.id = strdup(s->id);
    rc = copy.id ? to_vp(&c->items[c->n], &usable, c->v->policy, &copy)
                 : vault__err(VAULT_ENOMEM, "out of memory");
    if (rc < 0) {
        free((char *)copy.id);
        return rc;
    }
    c->items[c->n].g.id = copy.id;
#define KEEP(field)                                                  \
    if (s->field && !(c->items[c->n].g.field = strdup(s->field))) {  \
        rc = vault__err(VAULT_ENOMEM, "out of memory");              \
    }
    KEEP(user)
    KEEP(role)
    KEEP(department)
    KEEP(jurisdiction)
#undef KEEP
    c->n++;
    if (!usable) { /* drop it again, keeping the copies freed below */
        c->n--;
        owned_free(&c->items[c->n]);
        free((char *)c->items[c->n].g.id);
        free((char *)c->items[c->n].g.user);
        free((char *)c->items[c->n].g.role);
        free((char *)c->items[c->n].g.department);
        free((char *)c->items[c->n].g.jurisdiction);
    }
    return rc;
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
    policy_grantset_free(v->grants);
    v->grants = set;
    v->grants_version = version;
cleanup:
    for (i = 0; i < c.n; i++) {
        owned_free(&c.items[i]);
        free((char *)c.items[i].g.id);
        free((char *)c.items[i].g.user);
        free((char *)c.items[i].g.role);
        free((char *)c.items[i].g.department);
        free((char *)c.items[i].g.jurisdiction);
    }
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

/* ---- issuing ---- */

static int check_optional_name(const char *name, const char *what)
{
    return name ? vault__name_check(name, what) : VAULT_OK;
}

static int new_id(char *out, size_t cap, const char *prefix)
{
    uint8_t r[8];
    char hex[17];
    int rc = VAULT_OK;

    vc_random(r, sizeof r);
    GUARD(vc_bin2hex(hex, sizeof hex, r, sizeof r));
    ENSURE((size_t)snprintf(out, cap, "%s%s", prefix, hex) < cap, VAULT_EINVALID,
           "grant id buffer too small");
cleanup:
    return rc;
}

/* Describe a grant for the audit log and listings (no field values). */
static void describe(char *out, size_t cap, const vault_policy *p, const vp_grant *g,
                     const char *reason, int pending)
{
    char from[32], until[32], sel[300] = "", scope[300];
    size_t i, len = 0;

    (void)p;
    time_text(from, sizeof from, g->not_before);
    time_text(until, sizeof until, g->not_after);
    if (g->nfields) {
        for (i = 0; i < g->nfields && len + 1 < sizeof sel; i++)
            len += (size_t)snprintf(sel + len, sizeof sel - len, "%s%s", i ? "," : "fields=",
                                    g->fields[i]);
    } else {
        snprintf(sel, sizeof sel, "grades=%s..%s", policy_grade_name(p, (size_t)g->grade_min),
                 policy_grade_name(p, (size_t)g->grade_max));
    }
    if (g->nrecords)
        snprintf(scope, sizeof scope, "%zu record%s", g->nrecords, g->nrecords == 1 ? "" : "s");
    else
        snprintf(scope, sizeof scope, "within %s", g->jurisdiction);
    snprintf(out, cap, "%s %s %s to user=%s role=%s dept=%s, %s, %s .. %s%s: %s", g->id,
             g->effect == VAULT_EFFECT_ALLOW ? "allow" : "mask", sel, g->user ? g->user : "*",
             g->role ? g->role : "*", g->department ? g->department : "*", scope, from, until,
             pending ? " (pending approval)" : "", reason ? reason : "");
}

int vault_grant_issue(char *out_id, size_t out_id_size, int *out_pending, vault_session *s,
                      const vault_grant_spec *spec)
{
    int rc = VAULT_OK, entered = 0, needs = 0, gmin, gmax;
    vault *v = NULL;
    vp_grant g;
    store_grant row;
    char id[VAULT_NAME_MAX], detail[DETAIL_MAX], jur[VAULT_JURISDICTION_MAX + 1];
    char ruser[VAULT_NAME_MAX];
    const char *scope = NULL, *recipient = NULL;
    char *fields = NULL, *records = NULL, *purposes = NULL, (*ids)[VAULT_ID_HEX_SIZE] = NULL;
    const char **idp = NULL;
    size_t i;
    af_entry e;
    vp_decision d;
    int64_t now = vault__now();

    ENSURE(out_id && out_id_size >= 20 && s && spec, VAULT_EINVALID,
           "missing grant id buffer, session or grant");
    if (out_pending)
        *out_pending = 0;
    v = s->v;
    GUARD(vault__enter(v));
    entered = 1;
    ENSURE(spec->reason && *spec->reason, VAULT_EINVALID, "a grant needs a written reason");
    ENSURE(strlen(spec->reason) < 512, VAULT_ELIMIT, "reason longer than 511 bytes");
    ENSURE(spec->user || spec->role || spec->department, VAULT_EINVALID,
           "a grant needs a recipient: user, or role and/or department");
    GUARD(check_optional_name(spec->role, "recipient role"));
    GUARD(check_optional_name(spec->department, "recipient department"));
    ENSURE(spec->effect == VAULT_EFFECT_ALLOW || spec->effect == VAULT_EFFECT_MASK, VAULT_EINVALID,
           "a grant's effect is allow or mask");
    ENSURE(spec->nfields <= LIST_MAX && spec->nrecords <= LIST_MAX && spec->npurposes <= LIST_MAX,
           VAULT_ELIMIT, "at most %d fields, records or purposes in a grant", LIST_MAX);
    ENSURE(spec->nfields == 0 || spec->fields, VAULT_EINVALID, "missing field list");
    ENSURE(spec->nrecords == 0 || spec->records, VAULT_EINVALID, "missing record list");
    ENSURE(spec->npurposes == 0 || spec->purposes, VAULT_EINVALID, "missing purpose list");
    ENSURE(!(spec->nfields && (spec->grade_min || spec->grade_max)), VAULT_EINVALID,
           "a grant selects fields or a grade range, not both");
    ENSURE(spec->nrecords > 0 || spec->jurisdiction, VAULT_EINVALID,
           "a grant covers listed records or a jurisdiction");
    ENSURE(!(spec->nrecords > 0 && spec->jurisdiction), VAULT_EINVALID,
           "a grant covers listed records or a jurisdiction, not both");
    if (spec->jurisdiction) {
        GUARD(vault__jurisdiction_norm(jur, sizeof jur, spec->jurisdiction, "grant jurisdiction"));
        scope = jur;
    }
    if (spec->user) {
        GUARD(vault__user_norm(ruser, sizeof ruser, spec->user, "recipient user"));
        recipient = ruser;
    }
    gmin = spec->grade_min ? policy_grade_index(v->policy, spec->grade_min) : 0;
    gmax = spec->grade_max ? policy_grade_index(v->policy, spec->grade_max)
                           : (int)policy_grade_count(v->policy) - 1;
    ENSURE(gmin >= 0 && gmax >= 0, VAULT_EINVALID, "unknown grade in the grant");
    ids = calloc(spec->nrecords ? spec->nrecords : 1, sizeof *ids);
    idp = calloc(spec->nrecords ? spec->nrecords : 1, sizeof *idp);
    ENSURE(ids && idp, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < spec->nrecords; i++) {
        uint8_t rid[VAULT_ID_BYTES];
        GUARD(vault__id_parse(rid, spec->records[i]));
        vault__id_format(ids[i], rid);
        idp[i] = ids[i];
    }
    memset(&g, 0, sizeof g);
    GUARD(new_id(id, sizeof id, "g-"));
    g.id = id;
    g.user = recipient;
    g.role = spec->role;
    g.department = spec->department;
    g.effect = spec->effect;
    g.actions = GRANT_ACTIONS;
    g.fields = spec->fields;
    g.nfields = spec->nfields;
    g.grade_min = gmin;
    g.grade_max = gmax;
    g.records = idp;
    g.nrecords = spec->nrecords;
    g.jurisdiction = scope;
    g.purposes = spec->purposes;
    g.npurposes = spec->npurposes;
    g.not_before = spec->not_before ? spec->not_before : now;
    g.not_after = spec->not_after;
    ENSURE(g.not_after > g.not_before, VAULT_EINVALID, "a grant must end after it starts");
    ENSURE(g.not_after > now, VAULT_EINVALID, "a grant must end in the future");
    rc = policy_grant_check(&needs, v->policy, s->role, &g);
    if (rc == VAULT_EDENIED) {
        memset(&d, 0, sizeof d);
        d.effect = VAULT_EFFECT_DENY;
        d.by = VP_BY_DEFAULT;
        rc = session__log_denial(s, "grant", NULL, NULL, &d, rc);
        goto cleanup;
    }
    GUARD(rc);
    GUARD(join(&fields, spec->fields, spec->nfields));
    GUARD(join(&records, idp, spec->nrecords));
    GUARD(join(&purposes, spec->purposes, spec->npurposes));
    memset(&row, 0, sizeof row);
    row.id = id;
    row.state = needs ? "pending" : "active";
    row.issuer = s->user;
    row.issuer_role = s->role;
    row.user = recipient;
    row.role = spec->role;
    row.department = spec->department;
    row.effect = spec->effect;
    row.actions = g.actions;
    row.fields = fields;
    row.grade_min = spec->nfields ? NULL : policy_grade_name(v->policy, (size_t)gmin);
    row.grade_max = spec->nfields ? NULL : policy_grade_name(v->policy, (size_t)gmax);
    row.records = records;
    row.jurisdiction = scope;
    row.purposes = purposes;
    row.not_before = g.not_before;
    row.not_after = g.not_after;
    row.reason = spec->reason;
    row.created = now;
    describe(detail, sizeof detail, v->policy, &g, spec->reason, needs);
    GUARD(store_begin(v->db, 1));
    GUARD(store_grant_insert(v->db, &row));
    GUARD(bump_version(v));
    audit_entry_init(&e, v, s, "grant");
    e.detail = detail;
    GUARD(audit_append(v, &e));
    GUARD(store_commit(v->db));
    GUARD(grants__reload(v));
    snprintf(out_id, out_id_size, "%s", id);
    if (out_pending)
        *out_pending = needs;
cleanup:
    vault__exit(v, entered);
    free(fields);
    free(records);
    free(purposes);
    free(ids);
    free(idp);
    return rc;
}

/* ---- approving and revoking ---- */

typedef struct grant_copy {
    char id[VAULT_NAME_MAX], state[16], issuer[VAULT_NAME_MAX], user[VAULT_NAME_MAX];
    int has_user, usable, max_grade, break_glass;
    char detail[DETAIL_MAX];
} grant_copy;

typedef struct copy_ctx {
    grant_copy *out;
    const vault_policy *p;
} copy_ctx;

static int copy_fn(void *arg, const store_grant *s)
{
    copy_ctx *c = arg;
    owned_grant o;
    int rc = to_vp(&o, &c->out->usable, c->p, s);

    if (rc < 0)
        return rc;
    snprintf(c->out->id, sizeof c->out->id, "%s", s->id);
    snprintf(c->out->state, sizeof c->out->state, "%s", s->state);
    snprintf(c->out->issuer, sizeof c->out->issuer, "%s", s->issuer);
    c->out->has_user = s->user != NULL;
    snprintf(c->out->user, sizeof c->out->user, "%s", s->user ? s->user : "");
    c->out->break_glass = s->break_glass;
    c->out->max_grade = c->out->usable ? policy_grant_max_grade(c->p, &o.g) : -1;
    if (c->out->usable)
        describe(c->out->detail, sizeof c->out->detail, c->p, &o.g, s->reason, 0);
    else
        snprintf(c->out->detail, sizeof c->out->detail, "%s", s->id);
    owned_free(&o);
    return VAULT_OK;
}

static int load_copy(grant_copy *out, vault *v, const char *id)
{
    copy_ctx c = {out, v->policy};

    memset(out, 0, sizeof *out);
    if (!id || !*id || strlen(id) >= VAULT_NAME_MAX)
        return vault__err(VAULT_EINVALID, "missing or malformed grant id");
    return store_grant_get(v->db, id, copy_fn, &c);
}

int vault_grant_approve(vault_session *s, const char *grant_id)
{
    int rc = VAULT_OK, entered = 0;
    vault *v = NULL;
    grant_copy g;
    const vp_grant_limit *lim;
    af_entry e;
    char detail[DETAIL_MAX + 32];
    vp_decision d;

    ENSURE(s, VAULT_EINVALID, "no session");
    v = s->v;
    GUARD(vault__enter(v));
    entered = 1;
    GUARD(store_begin(v->db, 1));
    GUARD(load_copy(&g, v, grant_id));
    ENSURE(strcmp(g.state, "pending") == 0, VAULT_ESTATE, "grant %s is %s, not pending approval",
           g.id, g.state);
    memset(&d, 0, sizeof d);
    d.effect = VAULT_EFFECT_DENY;
    lim = policy_grant_limit(v->policy, s->role);
    if (strcmp(g.issuer, s->user) == 0)
        rc = vault__err(VAULT_EDENIED, "grant %s: the issuing officer can't approve it; a second, "
                                       "different officer must", g.id);
    else if (g.has_user && strcmp(g.user, s->user) == 0)
        rc = vault__err(VAULT_EDENIED, "grant %s: its recipient can't approve it", g.id);
    else if (!lim)
        rc = vault__err(VAULT_EDENIED, "grant %s: role '%s' has no grant_limits and can't approve",
                        g.id, s->role);
    else if (!g.usable || g.max_grade > lim->max_grade)
        rc = vault__err(VAULT_EDENIED,
                        "grant %s reaches grade '%s', above role '%s''s ceiling '%s'", g.id,
                        g.usable ? policy_grade_name(v->policy, (size_t)g.max_grade) : "?",
                        s->role, policy_grade_name(v->policy, (size_t)lim->max_grade));
    if (rc == VAULT_EDENIED) {
        rc = session__log_denial(s, "approve", NULL, NULL, &d, rc);
        goto cleanup;
    }
    GUARD(store_grant_set_state(v->db, g.id, "active", s->user, NULL, NULL, vault__now()));
    GUARD(bump_version(v));
    audit_entry_init(&e, v, s, "approve");
    snprintf(detail, sizeof detail, "approved %s", g.detail);
    e.detail = detail;
    GUARD(audit_append(v, &e));
    GUARD(store_commit(v->db));
    GUARD(grants__reload(v));
cleanup:
    vault__exit(v, entered);
    return rc;
}

int vault_grant_revoke(vault_session *s, const char *grant_id, const char *reason)
{
    int rc = VAULT_OK, entered = 0;
    vault *v = NULL;
    grant_copy g;
    af_entry e;
    char detail[DETAIL_MAX];
    vp_decision d;

    ENSURE(s, VAULT_EINVALID, "no session");
    v = s->v;
    GUARD(vault__enter(v));
    entered = 1;
    ENSURE(reason && *reason, VAULT_EINVALID, "revoking needs a written reason");
    ENSURE(strlen(reason) < 512, VAULT_ELIMIT, "reason longer than 511 bytes");
    GUARD(store_begin(v->db, 1));
    GUARD(load_copy(&g, v, grant_id));
    ENSURE(strcmp(g.state, "revoked") != 0, VAULT_ESTATE, "grant %s is already revoked", g.id);
    if (strcmp(g.issuer, s->user) != 0 && !policy_grant_limit(v->policy, s->role) &&
        !(g.break_glass && g.has_user && strcmp(g.user, s->user) == 0)) {
        memset(&d, 0, sizeof d);
        rc = vault__err(VAULT_EDENIED, "role '%s' may not revoke grants", s->role);
        rc = session__log_denial(s, "revoke", NULL, NULL, &d, rc);
        goto cleanup;
    }
    GUARD(store_grant_set_state(v->db, g.id, "revoked", NULL, s->user, reason, vault__now()));
    GUARD(bump_version(v));
    audit_entry_init(&e, v, s, "revoke");
    snprintf(detail, sizeof detail, "revoked %s: %s", g.id, reason);
    e.detail = detail;
    GUARD(audit_append(v, &e));
    GUARD(store_commit(v->db));
    GUARD(grants__reload(v));
cleanup:
    vault__exit(v, entered);
    return rc;
}

/* ---- listing ---- */

typedef struct list_ctx {
    const vault_policy *p;
    int active_only, as_json;
    int64_t now;
    json_t *arr;
    char *text;
    size_t len, cap;
} list_ctx;

static const char *live_state(const store_grant *s, int64_t now)
{
    if (strcmp(s->state, "active") != 0)
        return s->state;
    if (now >= s->not_after)
        return "expired";
    if (now < s->not_before)
        return "scheduled";
    return "active";
}

static int list_fn(void *arg, const store_grant *s)
{
    list_ctx *c = arg;
    owned_grant o;
    int usable = 0, rc = VAULT_OK;
    const char *state = live_state(s, c->now);
    char line[DETAIL_MAX + 128], *grown;
    size_t n;

    if (c->active_only && strcmp(state, "active") != 0)
        return 0;
    GUARD(to_vp(&o, &usable, c->p, s));
    if (c->as_json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:b}", "id", s->id, "state",
                              state, "effect", s->effect == VAULT_EFFECT_ALLOW ? "allow" : "mask",
                              "issuer", s->issuer, "not_before", (json_int_t)s->not_before,
                              "not_after", (json_int_t)s->not_after, "reason", s->reason,
                              "break_glass", s->break_glass != 0);
        if (!j) {
            owned_free(&o);
            return vault__err(VAULT_ENOMEM, "out of memory");
        }
        json_object_set_new(j, "user", s->user ? json_string(s->user) : json_null());
        json_object_set_new(j, "role", s->role ? json_string(s->role) : json_null());
        json_object_set_new(j, "department", s->department ? json_string(s->department) : json_null());
        json_object_set_new(j, "fields", s->fields ? json_string(s->fields) : json_null());
        json_object_set_new(j, "grade_min", s->grade_min ? json_string(s->grade_min) : json_null());
        json_object_set_new(j, "grade_max", s->grade_max ? json_string(s->grade_max) : json_null());
        json_object_set_new(j, "jurisdiction", s->jurisdiction ? json_string(s->jurisdiction) : json_null());
        json_object_set_new(j, "records", s->records ? json_string(s->records) : json_null());
        json_object_set_new(j, "approver", s->approver ? json_string(s->approver) : json_null());
        json_object_set_new(j, "revoked_by", s->revoked_by ? json_string(s->revoked_by) : json_null());
        json_array_append_new(c->arr, j);
    } else {
        char d[DETAIL_MAX];
        if (usable)
            describe(d, sizeof d, c->p, &o.g, s->reason, 0);
        else
            snprintf(d, sizeof d, "%s (grade no longer in the policy)", s->id);
        n = (size_t)snprintf(line, sizeof line, "%-9s %s%s  [by %s%s%s]\n", state, d,
                             s->break_glass ? " BREAK-GLASS" : "", s->issuer,
                             s->approver ? ", approved by " : "", s->approver ? s->approver : "");
        if (n >= sizeof line)
            n = sizeof line - 1;
        if (c->len + n + 1 > c->cap) {
            c->cap = (c->cap + n + 1) * 2;
            grown = realloc(c->text, c->cap);
            if (!grown) {
                owned_free(&o);
                return vault__err(VAULT_ENOMEM, "out of memory");
            }
            c->text = grown;
        }
        memcpy(c->text + c->len, line, n + 1);
        c->len += n;
    }
    owned_free(&o);
cleanup:
    return rc;
}

int vault_grant_list(char **out, vault *v, int active_only, int as_json)
{
    int rc = VAULT_OK, entered = 0;
    list_ctx c;

    memset(&c, 0, sizeof c);
    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    GUARD(vault__enter(v));
    entered = 1;
    c.p = v->policy;
    c.active_only = active_only;
    c.as_json = as_json;
    c.now = vault__now();
    if (as_json) {
        c.arr = json_array();
        ENSURE(c.arr, VAULT_ENOMEM, "out of memory");
    }
    GUARD(store_grant_scan(v->db, list_fn, &c));
    if (as_json) {
        *out = json_dumps(c.arr, JSON_INDENT(2));
        ENSURE(*out, VAULT_ENOMEM, "out of memory");
    } else {
        *out = c.text ? c.text : strdup("");
        c.text = NULL;
        ENSURE(*out, VAULT_ENOMEM, "out of memory");
    }
cleanup:
    if (entered)
        vault__leave(v);
    json_decref(c.arr);
    free(c.text);
    return rc;
}

/* ---- break-glass ---- */

int vault_break_glass(char *out_id, size_t out_id_size, vault_session *s, const char *record_id,
                      const char *reason, int64_t seconds)
{
    int rc = VAULT_OK, entered = 0;
    vault *v = NULL;
    const vp_break_glass *bg;
    uint8_t rid[VAULT_ID_BYTES];
    char hex[VAULT_ID_HEX_SIZE], id[VAULT_NAME_MAX], detail[DETAIL_MAX], until[32];
    store_record rec;
    store_grant row;
    af_entry e;
    vp_decision d;
    int64_t now = vault__now();

    ENSURE(out_id && out_id_size >= 20 && s, VAULT_EINVALID, "missing id buffer or session");
    v = s->v;
    GUARD(vault__enter(v));
    entered = 1;
    ENSURE(reason && *reason, VAULT_EINVALID, "break-glass needs a written reason");
    ENSURE(strlen(reason) < 512, VAULT_ELIMIT, "reason longer than 511 bytes");
    ENSURE(seconds >= 0, VAULT_EINVALID, "break-glass duration must be positive");
    GUARD(vault__id_parse(rid, record_id));
    vault__id_format(hex, rid);
    bg = policy_break_glass(v->policy);
    if (!bg || !policy_break_glass_role(v->policy, s->role)) {
        memset(&d, 0, sizeof d);
        rc = vault__err(VAULT_EDENIED, "role '%s' may not break glass under this policy", s->role);
        rc = session__log_denial(s, "break_glass", rid, NULL, &d, rc);
        goto cleanup;
    }
    if (seconds == 0)
        seconds = bg->max_duration;
    ENSURE(seconds <= bg->max_duration, VAULT_EDENIED,
           "break-glass for %lld s exceeds the policy's maximum of %lld s", (long long)seconds,
           (long long)bg->max_duration);
    GUARD(new_id(id, sizeof id, "bg-"));
    GUARD(store_begin(v->db, 1));
    GUARD(store_record_get(&rec, v->db, rid));
    memset(&row, 0, sizeof row);
    row.id = id;
    row.state = "active";
    row.issuer = s->user;
    row.issuer_role = s->role;
    row.user = s->user;
    row.role = s->role;
    row.department = s->department;
    row.effect = VAULT_EFFECT_ALLOW;
    row.actions = 1u << VAULT_ACTION_READ;
    row.grade_min = policy_grade_name(v->policy, 0);
    row.grade_max = policy_grade_name(v->policy, (size_t)bg->max_grade);
    row.records = hex;
    row.purposes = s->purpose;
    row.not_before = now;
    row.not_after = now + seconds;
    row.reason = reason;
    row.break_glass = 1;
    row.created = now;
    GUARD(store_grant_insert(v->db, &row));
    GUARD(bump_version(v));
    time_text(until, sizeof until, row.not_after);
    snprintf(detail, sizeof detail, "%s opens the record until %s (grades up to %s): %s", id,
             until, row.grade_max, reason);
    audit_entry_init(&e, v, s, "break_glass");
    e.flags = AF_FLAG_BREAK_GLASS;
    e.has_record = 1;
    memcpy(e.record_id, rid, VAULT_ID_BYTES);
    e.detail = detail;
    GUARD(audit_append(v, &e));
    GUARD(store_commit(v->db));
    GUARD(grants__reload(v));
    snprintf(out_id, out_id_size, "%s", id);
cleanup:
    vault__exit(v, entered);
    return rc;
}

int grants__is_break_glass(const char *grant_id)
{
    return grant_id && strncmp(grant_id, "bg-", 3) == 0;
}

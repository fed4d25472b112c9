/* Purpose accounting (issue 19; docs/audit-format.md "Summary"): the audit
 * entries of one calendar month (UTC) counted by department, purpose,
 * role, action and outcome, for the privacy officer.
 *
 * The month's first entry is found by a binary search on the entries'
 * signed times; from the one before it to the newest, every entry is
 * checked against the hash chain and the newest head against the MAC'd
 * audit state (audit_scan.h), so the counts rest on signed entries, never
 * on the rows' unsigned index copies.  Per group: the entries, the
 * distinct residents they name (canaries left out: a decoy is no
 * resident, canary.h) and the entries flagged as touching a canary.
 * Outcomes: refused (outcome error: the operation was refused or
 * failed), denied (outcome denied, or a field denied), masked (a field
 * masked, none denied), allowed (the rest). */
#include <csv.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit.h"
#include "audit/audit_format.h"
#include "audit_scan.h"
#include "canary.h"
#include "client/client.h"
#include "op.h"
#include "text.h"
#include "vault_int.h"

#define SUM_KEYS 5
#define SUM_GROUPS_MAX 100000      /* groups in one summary */
#define SUM_PAIRS_MAX (1u << 21)   /* distinct (group, resident) pairs counted */
#define SUM_ALL UINT32_MAX         /* the group index of the month's total */

enum { K_DEPARTMENT, K_PURPOSE, K_ROLE, K_ACTION, K_OUTCOME };
static const char *const key_names[SUM_KEYS] = {"department", "purpose", "role", "action",
                                                "outcome"};

typedef struct sum_group {
    char *val[SUM_KEYS]; /* the values of the keys asked for, in their order */
    uint64_t hash;
    int64_t entries, residents, canary;
} sum_group;

typedef struct sum_pair {
    uint32_t g; /* group index + 1, 0: empty slot (SUM_ALL for the total) */
    uint8_t id[VAULT_ID_BYTES];
} sum_pair;

typedef struct sum_ctx {
    vault *v;
    int keys[SUM_KEYS];
    size_t nkeys;
    int64_t t0_us, t1_us;
    sum_group *g;
    size_t ng, gcap;
    uint32_t *gslot; /* open addressing over g: index + 1, 0 empty */
    size_t gslots;
    sum_pair *p;
    size_t np, pslots;
    int64_t entries, residents, canary;
} sum_ctx;

/* ---- arguments ---- */

static int parse_by(sum_ctx *c, const char *by)
{
    int rc = VAULT_OK;
    const char *s = by ? by : "department,purpose", *end;
    size_t len, i, k;

    c->nkeys = 0;
    for (;;) {
        end = strchr(s, ',');
        len = end ? (size_t)(end - s) : strlen(s);
        for (k = 0; k < SUM_KEYS; k++)
            if (strlen(key_names[k]) == len && strncmp(s, key_names[k], len) == 0)
                break;
        ENSURE(k < SUM_KEYS, VAULT_EINVALID,
               "audit summary: unknown key '%.*s' to group by (give a comma list of department, "
               "purpose, role, action, outcome)", (int)(len > 32 ? 32 : len), s);
        for (i = 0; i < c->nkeys; i++)
            ENSURE(c->keys[i] != (int)k, VAULT_EINVALID,
                   "audit summary: key '%s' named twice to group by", key_names[k]);
        c->keys[c->nkeys++] = (int)k;
        if (!end)
            break;
        s = end + 1;
    }
cleanup:
    return rc;
}

/* Days from 1970-01-01 to y-m-01 (proleptic Gregorian; H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* "YYYY-MM", 1970-01 ... 9999-12: [t0, t1) in microseconds, UTC. */
static int parse_month(sum_ctx *c, const char *month)
{
    int rc = VAULT_OK, ok, m = 0, i;
    int64_t y = 0;

    ENSURE(month, VAULT_EINVALID, "audit summary: missing month (YYYY-MM)");
    ok = strlen(month) == 7 && month[4] == '-';
    for (i = 0; ok && i < 7; i++)
        if (i != 4 && !is_digit(month[i]))
            ok = 0;
    if (ok) {
        for (i = 0; i < 4; i++)
            y = y * 10 + (month[i] - '0');
        m = (month[5] - '0') * 10 + (month[6] - '0');
        ok = y >= 1970 && m >= 1 && m <= 12;
    }
    ENSURE(ok, VAULT_EINVALID, "audit summary: the month must be YYYY-MM, 1970-01 or later "
           "(e.g. 2026-11)");
    c->t0_us = days_from_civil(y, m) * 86400 * 1000000;
    c->t1_us = (m == 12 ? days_from_civil(y + 1, 1) : days_from_civil(y, m + 1)) * 86400 * 1000000;
cleanup:
    return rc;
}

/* ---- counting ---- */

static const char *outcome_of(const af_entry *e)
{
    size_t i;
    int masked = 0;

    if (e->outcome == AF_OUTCOME_ERROR)
        return "refused";
    if (e->outcome == AF_OUTCOME_DENIED)
        return "denied";
    for (i = 0; i < e->nfields; i++) {
        if (e->fields[i].effect == VAULT_EFFECT_DENY)
            return "denied";
        if (e->fields[i].effect == VAULT_EFFECT_MASK)
            masked = 1;
    }
    return masked ? "masked" : "allowed";
}

static const char *value_of(const af_entry *e, int key)
{
    const char *s;

    switch (key) {
    case K_DEPARTMENT: s = e->department; break;
    case K_PURPOSE: s = e->purpose; break;
    case K_ROLE: s = e->role; break;
    case K_ACTION: s = e->action; break;
    default: return outcome_of(e);
    }
    return s ? s : "";
}

/* FNV-1a over the values, each with its length, so no two tuples mix. */
static uint64_t hash_values(const char *const *vals, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i, j, len;

    for (i = 0; i < n; i++) {
        len = strlen(vals[i]);
        for (j = 0; j < sizeof len; j++)
            h = (h ^ (uint8_t)(len >> (8 * j))) * 1099511628211ULL;
        for (j = 0; j < len; j++)
            h = (h ^ (uint8_t)vals[i][j]) * 1099511628211ULL;
    }
    return h;
}

static int same_values(const sum_group *g, const char *const *vals, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(g->val[i], vals[i]) != 0)
            return 0;
    return 1;
}

static int grow_groups(sum_ctx *c)
{
    int rc = VAULT_OK;
    size_t slots = c->gslots ? c->gslots * 2 : 64, i, j;
    uint32_t *t = calloc(slots, sizeof *t);

    ENSURE(t, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < c->ng; i++) {
        for (j = c->g[i].hash & (slots - 1); t[j]; j = (j + 1) & (slots - 1))
            ;
        t[j] = (uint32_t)i + 1;
    }
    free(c->gslot);
    c->gslot = t;
    c->gslots = slots;
cleanup:
    return rc;
}

/* The group of these values, made when new: its index in *out. */
static int group_of(size_t *out, sum_ctx *c, const char *const *vals)
{
    int rc = VAULT_OK;
    uint64_t h = hash_values(vals, c->nkeys);
    size_t j, i;
    sum_group *g = NULL;

    if (c->gslots == 0)
        GUARD(grow_groups(c));
    for (j = h & (c->gslots - 1); c->gslot[j]; j = (j + 1) & (c->gslots - 1)) {
        g = &c->g[c->gslot[j] - 1];
        if (g->hash == h && same_values(g, vals, c->nkeys)) {
            *out = c->gslot[j] - 1;
            goto cleanup;
        }
    }
    ENSURE(c->ng < SUM_GROUPS_MAX, VAULT_ELIMIT,
           "audit summary: more than %d groups in the month: group by fewer keys", SUM_GROUPS_MAX);
    if (c->ng == c->gcap) {
        size_t cap = c->gcap ? c->gcap * 2 : 32;
        sum_group *grown = realloc(c->g, cap * sizeof *grown);
        ENSURE(grown, VAULT_ENOMEM, "out of memory");
        c->g = grown;
        c->gcap = cap;
    }
    g = &c->g[c->ng];
    memset(g, 0, sizeof *g);
    g->hash = h;
    for (i = 0; i < c->nkeys; i++) {
        g->val[i] = strdup(vals[i]);
        ENSURE(g->val[i], VAULT_ENOMEM, "out of memory");
    }
    c->gslot[j] = (uint32_t)c->ng + 1;
    *out = c->ng++;
    if (2 * c->ng > c->gslots)
        GUARD(grow_groups(c));
cleanup:
    if (rc < 0 && g && g == &c->g[c->ng]) /* a half-made group: give its strings back */
        for (i = 0; i < c->nkeys; i++)
            free(g->val[i]);
    return rc;
}

static uint64_t pair_hash(uint32_t g, const uint8_t id[VAULT_ID_BYTES])
{
    uint64_t h = 1469598103934665603ULL;
    size_t i;

    for (i = 0; i < 4; i++)
        h = (h ^ (uint8_t)(g >> (8 * i))) * 1099511628211ULL;
    for (i = 0; i < VAULT_ID_BYTES; i++)
        h = (h ^ id[i]) * 1099511628211ULL;
    return h;
}

static int grow_pairs(sum_ctx *c)
{
    int rc = VAULT_OK;
    size_t slots = c->pslots ? c->pslots * 2 : 1024, i, j;
    sum_pair *t = calloc(slots, sizeof *t);

    ENSURE(t, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < c->pslots; i++) {
        if (!c->p[i].g)
            continue;
        for (j = pair_hash(c->p[i].g, c->p[i].id) & (slots - 1); t[j].g; j = (j + 1) & (slots - 1))
            ;
        t[j] = c->p[i];
    }
    free(c->p);
    c->p = t;
    c->pslots = slots;
cleanup:
    return rc;
}

/* 1 when (g, id) is new (and now counted), 0 when it was seen. */
static int pair_add(int *added, sum_ctx *c, uint32_t g, const uint8_t id[VAULT_ID_BYTES])
{
    int rc = VAULT_OK;
    size_t j;

    *added = 0;
    if (2 * (c->np + 1) > c->pslots)
        GUARD(grow_pairs(c));
    for (j = pair_hash(g, id) & (c->pslots - 1); c->p[j].g; j = (j + 1) & (c->pslots - 1))
        if (c->p[j].g == g && memcmp(c->p[j].id, id, VAULT_ID_BYTES) == 0) /* memcmp ok: not secret */
            goto cleanup;
    ENSURE(c->np < SUM_PAIRS_MAX, VAULT_ELIMIT,
           "audit summary: more than %u (group, resident) pairs in the month: group by fewer keys",
           SUM_PAIRS_MAX);
    c->p[j].g = g;
    memcpy(c->p[j].id, id, VAULT_ID_BYTES);
    c->np++;
    *added = 1;
cleanup:
    return rc;
}

static int count_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                    size_t head_len)
{
    sum_ctx *c = arg;
    af_entry e;
    void *storage = NULL;
    const char *vals[SUM_KEYS];
    size_t i, gi = 0;
    int rc = VAULT_OK, added = 0;

    (void)head;
    (void)head_len;
    if (audit_entry_read(&e, &storage, pos, entry, len) < 0)
        return VAULT_EINTEGRITY;
    if (e.time_us < c->t0_us || e.time_us >= c->t1_us)
        goto cleanup; /* checked, outside the month */
    for (i = 0; i < c->nkeys; i++)
        vals[i] = value_of(&e, c->keys[i]);
    GUARD(group_of(&gi, c, vals));
    c->g[gi].entries++;
    c->entries++;
    if (e.flags & AF_FLAG_CANARY) {
        c->g[gi].canary++;
        c->canary++;
    }
    /* A resident: a record that is no decoy (the set is the handle's,
     * loaded in this transaction). */
    if (e.has_record && !canary__is(c->v, e.record_id)) {
        GUARD(pair_add(&added, c, (uint32_t)gi + 1, e.record_id));
        c->g[gi].residents += added;
        GUARD(pair_add(&added, c, SUM_ALL, e.record_id));
        c->residents += added;
    }
cleanup:
    free(storage);
    return rc;
}

/* ---- output ---- */

/* The groups in the order of their values (the keys not asked for are
 * NULL in every group). */
static int by_values(const void *a, const void *b)
{
    const sum_group *x = a, *y = b;
    size_t i;
    int r;

    for (i = 0; i < SUM_KEYS && x->val[i] && y->val[i]; i++)
        if ((r = strcmp(x->val[i], y->val[i])) != 0)
            return r;
    return 0;
}

static void iso_day(char *out, size_t cap, int64_t t_us)
{
    int64_t days = t_us / 1000000 / 86400, z, era, doe, yoe, y, doy, mp, d, m;

    /* civil_from_days (H. Hinnant) */
    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    snprintf(out, cap, "%04" PRId64 "-%02" PRId64 "-%02" PRId64, y + (m <= 2), m, d);
}

static int to_json(char **out, const sum_ctx *c, const char *month)
{
    int rc = VAULT_OK;
    json_t *o = NULL, *by = NULL, *groups = NULL, *row;
    char from[32], to[32];
    size_t i, k;

    iso_day(from, sizeof from, c->t0_us);
    iso_day(to, sizeof to, c->t1_us);
    by = json_array();
    groups = json_array();
    ENSURE(by && groups, VAULT_ENOMEM, "out of memory");
    for (k = 0; k < c->nkeys; k++)
        ENSURE(json_array_append_new(by, json_string(key_names[c->keys[k]])) == 0, VAULT_ENOMEM,
               "out of memory");
    for (i = 0; i < c->ng; i++) {
        row = json_object();
        ENSURE(row && json_array_append_new(groups, row) == 0, VAULT_ENOMEM, "out of memory");
        /* a value that is not UTF-8 (an LVA1 entry's) is null, never dropped */
        for (k = 0; k < c->nkeys; k++) {
            json_t *s = json_string(c->g[i].val[k]);
            ENSURE(json_object_set_new(row, key_names[c->keys[k]], s ? s : json_null()) == 0,
                   VAULT_ENOMEM, "out of memory");
        }
        ENSURE(json_object_set_new(row, "entries", json_integer(c->g[i].entries)) == 0 &&
               json_object_set_new(row, "residents", json_integer(c->g[i].residents)) == 0 &&
               json_object_set_new(row, "canary_entries", json_integer(c->g[i].canary)) == 0,
               VAULT_ENOMEM, "out of memory");
    }
    o = json_pack("{s:s, s:s, s:s, s:s, s:O, s:I, s:I, s:I, s:O}", "month", month, "zone", "UTC",
                  "from", from, "to", to, "by", by, "entries", (json_int_t)c->entries,
                  "residents", (json_int_t)c->residents, "canary_entries",
                  (json_int_t)c->canary, "groups", groups);
    ENSURE(o, VAULT_ENOMEM, "out of memory");
    *out = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    ENSURE(*out, VAULT_ENOMEM, "out of memory");
cleanup:
    json_decref(o);
    json_decref(by);
    json_decref(groups);
    return rc;
}

/* One RFC 4180 field, always quoted (libcsv doubles the quotes inside). */
static void csv_field(vault_buf *b, const char *s, int last)
{
    size_t n = csv_write(NULL, 0, s, strlen(s));

    if (vault__buf_reserve(b, n + 2) == VAULT_OK) {
        csv_write(b->s + b->len, n, s, strlen(s));
        b->len += n;
        b->s[b->len] = '\0';
    }
    vault__buf_puts(b, last ? "\r\n" : ",");
}

static void csv_number(vault_buf *b, int64_t n, int last)
{
    char num[24];

    snprintf(num, sizeof num, "%" PRId64, n);
    csv_field(b, num, last);
}

static void to_csv(vault_buf *b, const sum_ctx *c)
{
    size_t i, k;

    for (k = 0; k < c->nkeys; k++)
        csv_field(b, key_names[c->keys[k]], 0);
    csv_field(b, "entries", 0);
    csv_field(b, "residents", 0);
    csv_field(b, "canary_entries", 1);
    for (i = 0; i < c->ng; i++) {
        for (k = 0; k < c->nkeys; k++)
            csv_field(b, c->g[i].val[k], 0);
        csv_number(b, c->g[i].entries, 0);
        csv_number(b, c->g[i].residents, 0);
        csv_number(b, c->g[i].canary, 1);
    }
}

/* A table: the keys' columns (escaped, "-" for empty), then the counts. */
static int to_text(vault_buf *b, const sum_ctx *c, const char *month)
{
    int rc = VAULT_OK;
    char **cell = NULL, from[32], to[32];
    size_t i, k, w[SUM_KEYS], ncell = c->ng * c->nkeys;
    static const char *const counts[] = {"entries", "residents", "canary"};

    iso_day(from, sizeof from, c->t0_us);
    iso_day(to, sizeof to, c->t1_us);
    vault__buf_printf(b, "%s (UTC, from %s to %s): %" PRId64 " entries, %" PRId64
                      " residents (canaries not counted), %" PRId64 " entries touched a canary\n",
                      month, from, to, c->entries, c->residents, c->canary);
    if (!c->ng) {
        vault__buf_puts(b, "  (no entries in this month)\n");
        goto cleanup;
    }
    cell = calloc(ncell ? ncell : 1, sizeof *cell);
    ENSURE(cell, VAULT_ENOMEM, "out of memory");
    for (k = 0; k < c->nkeys; k++)
        w[k] = strlen(key_names[c->keys[k]]);
    for (i = 0; i < c->ng; i++)
        for (k = 0; k < c->nkeys; k++) {
            const char *s = *c->g[i].val[k] ? c->g[i].val[k] : "-";
            GUARD(vault__text_escape(&cell[i * c->nkeys + k], s, strlen(s)));
            if (strlen(cell[i * c->nkeys + k]) > w[k])
                w[k] = strlen(cell[i * c->nkeys + k]);
        }
    for (k = 0; k < c->nkeys; k++)
        vault__buf_printf(b, "%-*s  ", (int)w[k], key_names[c->keys[k]]);
    vault__buf_printf(b, "%9s  %9s  %6s\n", counts[0], counts[1], counts[2]);
    for (i = 0; i < c->ng; i++) {
        for (k = 0; k < c->nkeys; k++)
            vault__buf_printf(b, "%-*s  ", (int)w[k], cell[i * c->nkeys + k]);
        vault__buf_printf(b, "%9" PRId64 "  %9" PRId64 "  %6" PRId64 "\n", c->g[i].entries,
                          c->g[i].residents, c->g[i].canary);
    }
cleanup:
    for (i = 0; cell && i < ncell; i++)
        free(cell[i]);
    free(cell);
    return rc;
}

int vault_const_summary_text(void) { return VAULT_SUMMARY_TEXT; }
int vault_const_summary_json(void) { return VAULT_SUMMARY_JSON; }
int vault_const_summary_csv(void) { return VAULT_SUMMARY_CSV; }

static int count_log(void *arg, const char *log, int64_t lo)
{
    return audit__scan_checked_in(((sum_ctx *)arg)->v, log, lo > 1 ? lo - 1 : 1, count_fn,
                                  arg);
}

int vault_audit_summary(char **out, vault *v, const char *by, const char *month, int format)
{
    int rc = VAULT_OK, entered = 0;
    sum_ctx c;
    af_entry e;
    char detail[96];
    vault_buf b;
    size_t i, k;

    memset(&c, 0, sizeof c);
    vault__buf_init(&b, "audit summary", 0, 0);
    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    ENSURE(v, VAULT_EINVALID, "missing vault handle");
    ENSURE(format == VAULT_SUMMARY_TEXT || format == VAULT_SUMMARY_JSON ||
           format == VAULT_SUMMARY_CSV, VAULT_EINVALID,
           "audit summary: unknown format %d (text, JSON or CSV)", format);
    GUARD(parse_by(&c, by));
    GUARD(parse_month(&c, month));
    if (v->remote) {
        rc = client_audit_summary(out, v, by, month, format);
        goto cleanup;
    }
    c.v = v;
    GUARD(vault__enter(v));
    entered = 1;
    /* A query of the log about people: logged first, like the reports. */
    GUARD(op_begin(v, OP_WRITE));
    audit_entry_init(&e, v, NULL, "audit_summary");
    vault__buf_printf(&b, "month %s by ", month);
    for (k = 0; k < c.nkeys; k++)
        vault__buf_printf(&b, "%s%s", k ? "," : "", key_names[c.keys[k]]);
    snprintf(detail, sizeof detail, "%s", b.s ? b.s : "");
    vault__buf_free(&b);
    e.detail = detail;
    GUARD(audit_append(v, &e));
    GUARD(op_commit(v));
    GUARD(op_begin(v, OP_STANDBY_READ));
    /* The canary set as this transaction sees it. */
    GUARD(canary__load(v));
    /* every log's entries of the month (each log is in time order) */
    GUARD(audit__since_every_log(v, c.t0_us, count_log, &c));
    op_rollback(v);
    if (c.ng)
        qsort(c.g, c.ng, sizeof *c.g, by_values);
    if (format == VAULT_SUMMARY_JSON) {
        GUARD(to_json(out, &c, month));
        goto cleanup;
    }
    if (format == VAULT_SUMMARY_CSV)
        to_csv(&b, &c);
    else
        GUARD(to_text(&b, &c, month));
    *out = vault__buf_steal(&b);
    ENSURE(*out, b.failed ? b.failed : VAULT_ENOMEM, "audit summary: could not build the output");
cleanup:
    if (entered)
        op_rollback(v);
    vault__exit(v, entered);
    vault__buf_free(&b);
    for (i = 0; i < c.ng; i++)
        for (k = 0; k < c.nkeys; k++)
            free(c.g[i].val[k]);
    free(c.g);
    free(c.gslot);
    free(c.p);
    return rc;
}

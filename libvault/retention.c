/* retention: plan and carry out the policy's retention schedules
 * (retention.h; docs/erasure.md "Retention"). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit.h"
#include "canary.h"
#include "crypto.h"
#include "op.h"
#include "retention.h"
#include "text.h"
#include "client/client.h"

#define RET_ACTOR "retention"

enum { RET_RECORD = 0, RET_FIELDS = 1, RET_REMAINS = 2 };
static const char *const what_names[] = {"record", "fields", "remains"};

/* One thing due for one record.  Items of a record are consecutive. */
typedef struct ret_item {
    uint8_t id[VAULT_ID_BYTES];
    char sched[VAULT_NAME_MAX]; /* "" for remains */
    int what;                   /* RET_* */
    char *fields;               /* RET_FIELDS: the fields, comma-separated (malloc'ed) */
} ret_item;

/* A value that kept a schedule from being evaluated (never the value). */
typedef struct ret_problem {
    uint8_t id[VAULT_ID_BYTES];
    char sched[VAULT_NAME_MAX];
    char field[VAULT_NAME_MAX];
} ret_problem;

typedef struct ret_list {
    ret_item *it;
    size_t n, cap;
    ret_problem *pb;
    size_t np, pcap;
} ret_list;

/* What a run did. */
typedef struct ret_stats {
    size_t records, field_records, fields, remains, canaries, batches;
    ret_list done;
    uint8_t *skipped; /* ids, 16 bytes each */
    size_t nskipped, skcap;
} ret_stats;

static void list_free(ret_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->it[i].fields);
    free(l->it);
    free(l->pb);
    memset(l, 0, sizeof *l);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    return vault__grow(p, cap, need, elem, 16);
}

/* Append an item; fields (may be NULL) is taken over, freed on failure. */
static int item_add(ret_list *l, const uint8_t *id, const char *sched, int what, char *fields)
{
    int rc = VAULT_OK;
    ret_item *it;

    GUARD(grow((void **)&l->it, &l->cap, l->n + 1, sizeof *l->it));
    it = &l->it[l->n++];
    memcpy(it->id, id, VAULT_ID_BYTES);
    snprintf(it->sched, sizeof it->sched, "%s", sched ? sched : "");
    it->what = what;
    it->fields = fields;
    fields = NULL;
cleanup:
    free(fields);
    return rc;
}

static int problem_add(ret_list *l, const uint8_t *id, const char *sched, const char *field)
{
    int rc = VAULT_OK;
    ret_problem *pb;

    GUARD(grow((void **)&l->pb, &l->pcap, l->np + 1, sizeof *l->pb));
    pb = &l->pb[l->np++];
    memcpy(pb->id, id, VAULT_ID_BYTES);
    snprintf(pb->sched, sizeof pb->sched, "%s", sched);
    snprintf(pb->field, sizeof pb->field, "%s", field);
cleanup:
    return rc;
}

/* ---- Evaluating one record ---- */

static int covers(const vp_retention *s, size_t field)
{
    return (int)((s->fields[field >> 6] >> (field & 63u)) & 1u);
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
    int64_t yy = y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD" (years 1900..9999) -> unix seconds at 00:00 UTC; -1 when
 * it is not such a date. */
static int date_parse(int64_t *out, const char *s, size_t len)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d, max;

    if (len != 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) < 0 ||
        digits(s + 5, 2, &m) < 0 || digits(s + 8, 2, &d) < 0)
        return -1;
    if (y < 1900 || m < 1 || m > 12)
        return -1;
    max = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    if (d < 1 || d > max)
        return -1;
    *out = days_from_civil(y, m, d) * 86400;
    return 0;
}

/* Open field `name` of r for the vault's own use (no decision: retention
 * is the vault's duty).  *out NULL when the record has no value. */
static int open_own(char **out, size_t *len, vault *v, const record_row *r, const char *name)
{
    int rc = VAULT_OK;
    char hex[VAULT_ID_HEX_SIZE], why[256];
    record_ctx rx = vault__record_ctx(v);

    *out = NULL;
    *len = 0;
    if (!record_has(r, name))
        return VAULT_OK;
    rc = record_open_secure(out, len, &rx, r, name);
    if (rc < 0) {
        snprintf(why, sizeof why, "%s", vault_error_last());
        vault__id_format(hex, r->id);
        rc = vault__err(rc, "retention: field '%s' of record %s failed to open: %s", name, hex,
                        why);
    }
    return rc;
}

/* *due = 1 when schedule s is due for r at now.  A date field whose value
 * is not a date is a problem (added to l when l is not NULL), not due. */
static int sched_due(int *due, ret_list *l, vault *v, const record_row *r, const vp_retention *s,
                     int64_t now)
{
    int rc = VAULT_OK;
    const vault_policy *p = v->policy;
    char *pt = NULL;
    size_t len = 0;
    int64_t base = r->updated;
    const char *fname;

    *due = 0;
    if (s->id == NULL || s->keep <= 0)
        goto cleanup;
    if (s->jurisdiction && !policy_jurisdiction_within(r->jurisdiction, s->jurisdiction))
        goto cleanup;
    if (s->until_clear >= 0) {
        fname = policy_field_at(p, (size_t)s->until_clear)->name;
        GUARD(open_own(&pt, &len, v, r, fname));
        if (pt && len > 0)
            goto cleanup; /* the flag is up: kept */
        vc_free(pt);
        pt = NULL;
    }
    if (s->after >= 0) {
        fname = policy_field_at(p, (size_t)s->after)->name;
        GUARD(open_own(&pt, &len, v, r, fname));
        if (!pt)
            goto cleanup; /* no date: not due */
        if (date_parse(&base, pt, len) < 0) {
            if (l)
                GUARD(problem_add(l, r->id, s->id, fname));
            goto cleanup;
        }
    }
    *due = base <= now - s->keep;
cleanup:
    vc_free(pt);
    return rc;
}

/* Append to l what is due for the loaded record r at now: one whole-record
 * item (the first due `record: true` schedule), else one item per due
 * field schedule with the fields it removes that no earlier one took. */
static int record_due(ret_list *l, vault *v, const record_row *r, int64_t now)
{
    int rc = VAULT_OK, due = 0;
    const vault_policy *p = v->policy;
    size_t ns = policy_retention_count(p), nf = policy_field_count(p), i, k;
    uint8_t *taken = NULL;
    vault_buf b;

    vault__buf_init(&b, "retention field list", 1u << 20, 0);
    for (i = 0; i < ns; i++) {
        const vp_retention *s = policy_retention_at(p, i);

        if (!s->whole)
            continue;
        GUARD(sched_due(&due, l, v, r, s, now));
        if (due) {
            GUARD(item_add(l, r->id, s->id, RET_RECORD, NULL));
            goto cleanup;
        }
    }
    taken = calloc(nf ? nf : 1, 1);
    ENSURE(taken, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < ns; i++) {
        const vp_retention *s = policy_retention_at(p, i);
        char *list;

        if (s->whole || s->id == NULL)
            continue;
        b.len = 0;
        for (k = 0; k < nf; k++) {
            const char *name = policy_field_at(p, k)->name;

            if (!taken[k] && covers(s, k) && record_has(r, name))
                vault__buf_printf(&b, "%s%s", b.len ? "," : "", name);
        }
        GUARD(b.failed ? b.failed : VAULT_OK);
        if (b.len == 0)
            continue; /* none of its fields left to remove */
        GUARD(sched_due(&due, l, v, r, s, now));
        if (!due)
            continue;
        for (k = 0; k < nf; k++)
            if (covers(s, k) && record_has(r, policy_field_at(p, k)->name))
                taken[k] = 1;
        list = strdup(b.s);
        ENSURE(list, VAULT_ENOMEM, "out of memory");
        GUARD(item_add(l, r->id, s->id, RET_FIELDS, list));
    }
cleanup:
    free(taken);
    vault__buf_free(&b);
    return rc;
}

/* ---- Loading a record as it stands ---- */

static int copy_cb(void *arg, const store_record *row)
{
    return record_copy(arg, row);
}

/* *state: 0 no such record, 1 an erased record's remains (its key gone),
 * 2 a record (r loaded with its key). */
static int load_state(int *state, record_row *r, vault *v, const uint8_t *id)
{
    int rc = store_record_get(v->db, id, copy_cb, r);
    record_ctx rx = vault__record_ctx(v);

    *state = 0;
    if (rc == VAULT_ENOTFOUND) {
        vault__err_clear();
        return VAULT_OK;
    }
    GUARD(rc);
    GUARD(rc = record_erased(&rx, r));
    *state = rc == 1 ? 1 : 2;
    rc = VAULT_OK;
    vault__route(v, id, r->jurisdiction); /* its erase entries go to its shard's log */
cleanup:
    return rc;
}

/* ---- The plan ---- */

typedef struct ids_ctx {
    uint8_t *ids;
    size_t n, cap;
} ids_ctx;

static int id_fn(void *arg, const store_record *row)
{
    ids_ctx *c = arg;
    int rc = VAULT_OK;

    GUARD(grow((void **)&c->ids, &c->cap, c->n + 1, VAULT_ID_BYTES));
    memcpy(c->ids + c->n * VAULT_ID_BYTES, row->id, VAULT_ID_BYTES);
    c->n++;
cleanup:
    return rc;
}

/* Read every record once, in one snapshot, and list what is due. */
static int build_plan(ret_list *l, size_t *scanned, vault *v, int64_t now)
{
    int rc = VAULT_OK, state = 0;
    ids_ctx ids = {NULL, 0, 0};
    record_row r;

    record_row_init(&r);
    *scanned = 0;
    GUARD(op_begin(v, OP_READ));
    if (policy_retention_count(v->policy) == 0)
        goto cleanup; /* nothing is ever due; remains wait for a rotation */
    GUARD(store_record_scan(v->db, id_fn, &ids));
    for (size_t i = 0; i < ids.n; i++) {
        const uint8_t *id = ids.ids + i * VAULT_ID_BYTES;

        GUARD(load_state(&state, &r, v, id));
        if (state == 1)
            GUARD(item_add(l, id, NULL, RET_REMAINS, NULL));
        else if (state == 2)
            GUARD(record_due(l, v, &r, now));
    }
    *scanned = ids.n;
cleanup:
    op_rollback(v);
    v->route_log[0] = '\0'; /* the plan's own entries are the city log's */
    record_row_free(&r);
    free(ids.ids);
    return rc;
}

static int append_entry(vault *v, const char *action, int outcome, const uint8_t *id,
                        const af_field *fields, size_t nfields, const char *detail)
{
    af_entry e;

    audit_entry_init(&e, v, NULL, action);
    e.user = RET_ACTOR; /* the principal stays the caller's (the actor's) */
    e.outcome = outcome;
    if (id) {
        e.has_record = 1;
        memcpy(e.record_id, id, VAULT_ID_BYTES);
    }
    e.fields = fields;
    e.nfields = nfields;
    e.detail = detail;
    return audit_append(v, &e);
}

static void counts(size_t out[3], const ret_list *l)
{
    out[0] = out[1] = out[2] = 0;
    for (size_t i = 0; i < l->n; i++)
        out[l->it[i].what]++;
}

/* Log a plan: one summary entry, and one per problem (up to
 * RETENTION_PROBLEMS_LOGGED), in a write transaction of its own. */
static int log_plan(vault *v, const ret_list *l, size_t scanned, int for_run)
{
    int rc = VAULT_OK;
    char detail[512];
    size_t c[3];

    counts(c, l);
    GUARD(op_begin(v, OP_WRITE));
    snprintf(detail, sizeof detail,
             "%s started by %s: %zu schedules, %zu records read: %zu records to erase, %zu with "
             "fields to remove, %zu remains of erased records, %zu problems",
             for_run ? "run" : "plan", v->actor, policy_retention_count(v->policy), scanned, c[0],
             c[1], c[2], l->np);
    GUARD(append_entry(v, "retention_plan", AF_OUTCOME_OK, NULL, NULL, 0, detail));
    for (size_t i = 0; i < l->np && i < RETENTION_PROBLEMS_LOGGED; i++) {
        snprintf(detail, sizeof detail,
                 "schedule %s: field '%s' does not hold a date (YYYY-MM-DD): skipped",
                 l->pb[i].sched, l->pb[i].field);
        GUARD(append_entry(v, "retention_plan", AF_OUTCOME_ERROR, l->pb[i].id, NULL, 0, detail));
    }
    GUARD(op_commit(v));
cleanup:
    op_rollback(v);
    return rc;
}

/* ---- Output ---- */

static json_t *item_json(const ret_item *it)
{
    char hex[VAULT_ID_HEX_SIZE];
    json_t *o, *f = json_array();
    const char *p, *q;

    vault__id_format(hex, it->id);
    for (p = it->fields; f && p && *p; p = *q ? q + 1 : q) {
        q = strchr(p, ',');
        if (!q)
            q = p + strlen(p);
        json_array_append_new(f, json_stringn(p, (size_t)(q - p)));
    }
    o = json_pack("{s:s, s:s?, s:s, s:o}", "record", hex, "schedule",
                  it->sched[0] ? it->sched : NULL, "erase", what_names[it->what], "fields",
                  f ? f : json_array());
    return o;
}

static json_t *items_json(const ret_list *l)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < l->n; i++)
        if (json_array_append_new(a, item_json(&l->it[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *problems_json(const ret_list *l)
{
    json_t *a = json_array();
    char hex[VAULT_ID_HEX_SIZE];

    for (size_t i = 0; a && i < l->np; i++) {
        vault__id_format(hex, l->pb[i].id);
        if (json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "record", hex, "schedule",
                                               l->pb[i].sched, "field", l->pb[i].field, "problem",
                                               "not a date (YYYY-MM-DD)")) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static void items_text(vault_buf *b, const ret_list *l)
{
    char hex[VAULT_ID_HEX_SIZE];

    for (size_t i = 0; i < l->n; i++) {
        const ret_item *it = &l->it[i];

        vault__id_format(hex, it->id);
        if (it->what == RET_RECORD)
            vault__buf_printf(b, "%s erase the record (schedule %s)\n", hex, it->sched);
        else if (it->what == RET_FIELDS)
            vault__buf_printf(b, "%s remove fields %s (schedule %s)\n", hex, it->fields,
                              it->sched);
        else
            vault__buf_printf(b, "%s remove the remains of an erased record (its key is gone)\n",
                              hex);
    }
    for (size_t i = 0; i < l->np; i++) {
        vault__id_format(hex, l->pb[i].id);
        vault__buf_printf(b, "%s problem: schedule %s: field '%s' does not hold a date "
                          "(YYYY-MM-DD): skipped\n", hex, l->pb[i].sched, l->pb[i].field);
    }
}

static int dump(char **out, json_t *doc)
{
    int rc = VAULT_OK;

    ENSURE(doc, VAULT_ENOMEM, "out of memory");
    *out = json_dumps(doc, JSON_INDENT(2));
    ENSURE(*out, VAULT_ENOMEM, "out of memory");
cleanup:
    json_decref(doc);
    return rc;
}

static int plan_out(char **out, const ret_list *l, size_t scanned, int64_t now, size_t nsched,
                    int as_json)
{
    int rc = VAULT_OK;
    size_t c[3];
    vault_buf b;

    counts(c, l);
    vault__buf_init(&b, "retention plan", 0, 0);
    if (as_json) {
        GUARD(dump(out, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "now",
                                  (json_int_t)now, "schedules", (json_int_t)nsched,
                                  "records_read", (json_int_t)scanned, "records_to_erase",
                                  (json_int_t)c[0], "records_with_fields", (json_int_t)c[1],
                                  "remains", (json_int_t)c[2], "due", items_json(l),
                                  "problems", problems_json(l))));
        goto cleanup;
    }
    vault__buf_printf(&b, "retention plan: %zu schedules, %zu records read: %zu records to erase, "
                      "%zu with fields to remove, %zu remains, %zu problems\n",
                      nsched, scanned, c[0], c[1], c[2], l->np);
    items_text(&b, l);
    *out = vault__buf_steal(&b);
    ENSURE(*out, VAULT_ENOMEM, "out of memory");
cleanup:
    vault__buf_free(&b);
    return rc;
}

int retention__plan(char **out, vault *v, int64_t now, int as_json)
{
    int rc = VAULT_OK, entered = 0;
    ret_list l;
    size_t scanned = 0;

    memset(&l, 0, sizeof l);
    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    GUARD(vault__enter(v));
    entered = 1;
    ENSURE(!op_in_tx(v), VAULT_ESTATE, "retention inside an open transaction");
    GUARD(build_plan(&l, &scanned, v, now));
    GUARD(log_plan(v, &l, scanned, 0));
    GUARD(plan_out(out, &l, scanned, now, policy_retention_count(v->policy), as_json));
cleanup:
    list_free(&l);
    vault__exit(v, entered);
    return rc;
}

/* ---- The run ---- */

static int same_items(const ret_list *fresh, const ret_item *planned, size_t n)
{
    if (fresh->n != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const ret_item *a = &fresh->it[i], *b = &planned[i];

        if (a->what != b->what || strcmp(a->sched, b->sched) != 0 ||
            strcmp(a->fields ? a->fields : "", b->fields ? b->fields : "") != 0)
            return 0;
    }
    return 1;
}

static int same_id(const ret_item *a, const ret_item *b)
{
    /* record ids */
    return memcmp(a->id, b->id, VAULT_ID_BYTES) == 0; /* memcmp ok: not secret */
}

/* Remove an item's fields from r and log them (one "erase" entry). */
static int remove_fields(ret_stats *st, vault *v, record_row *r, const ret_item *it)
{
    int rc = VAULT_OK;
    af_field *af = NULL;
    char (*names)[VAULT_NAME_MAX] = NULL, reason[VAULT_NAME_MAX + 32], detail[VAULT_NAME_MAX + 64];
    size_t n = 1, k = 0, len;
    const char *p, *q;

    for (p = it->fields; *p; p++)
        n += *p == ',';
    af = calloc(n, sizeof *af);
    names = calloc(n, sizeof *names);
    ENSURE(af && names, VAULT_ENOMEM, "out of memory");
    snprintf(reason, sizeof reason, "retention schedule %s", it->sched);
    for (p = it->fields; *p && k < n; p = *q ? q + 1 : q) {
        q = strchr(p, ',');
        if (!q)
            q = p + strlen(p);
        len = (size_t)(q - p);
        ENSURE(len > 0 && len < VAULT_NAME_MAX, VAULT_EINVALID, "retention: bad field list");
        memcpy(names[k], p, len);
        names[k][len] = '\0';
        (void)record_unset(r, names[k]);
        af[k].name = names[k];
        af[k].effect = VAULT_EFFECT_ALLOW;
        af[k].reason = reason;
        k++;
    }
    snprintf(detail, sizeof detail, "retention schedule %s: %zu fields removed", it->sched, k);
    GUARD(append_entry(v, "erase", AF_OUTCOME_OK, r->id, af, k, detail));
    st->fields += k;
cleanup:
    free(af);
    free(names);
    return rc;
}

static int skip(ret_stats *st, const uint8_t *id)
{
    int rc = VAULT_OK;

    GUARD(grow((void **)&st->skipped, &st->skcap, st->nskipped + 1, VAULT_ID_BYTES));
    memcpy(st->skipped + st->nskipped * VAULT_ID_BYTES, id, VAULT_ID_BYTES);
    st->nskipped++;
cleanup:
    return rc;
}

static int done_add(ret_stats *st, const ret_item *it)
{
    char *f = NULL;

    if (it->fields && !(f = strdup(it->fields)))
        return vault__err(VAULT_ENOMEM, "out of memory");
    return item_add(&st->done, it->id, it->sched, it->what, f);
}

/* Carry out the planned items it[0..n) of one record, in the open write
 * transaction, when the record still gives exactly them. */
static int carry_out(ret_stats *st, vault *v, const ret_item *it, size_t n, int64_t now)
{
    int rc = VAULT_OK, state = 0, fields = 0;
    record_row r;
    ret_list fresh;
    record_ctx rx = vault__record_ctx(v);
    char detail[VAULT_NAME_MAX + 96];

    record_row_init(&r);
    memset(&fresh, 0, sizeof fresh);
    GUARD(load_state(&state, &r, v, it[0].id));
    if (state == 1 && n == 1 && it[0].what == RET_REMAINS) {
        GUARD(record_erase(&rx, it[0].id));
        GUARD(append_entry(v, "erase", AF_OUTCOME_OK, it[0].id, NULL, 0,
                           "retention: the remains of an erased record (its key is gone) removed"));
        st->remains++;
        GUARD(done_add(st, &it[0]));
        goto cleanup;
    }
    if (state == 2)
        GUARD(record_due(&fresh, v, &r, now));
    if (state != 2 || !same_items(&fresh, it, n)) {
        GUARD(skip(st, it[0].id)); /* erased or changed since the plan: the next run sees it */
        goto cleanup;
    }
    if (it[0].what == RET_RECORD) {
        int decoy = canary__is(v, it[0].id);

        GUARD(record_erase(&rx, it[0].id));
        snprintf(detail, sizeof detail, "retention schedule %s: the record erased (its key "
                 "destroyed)", it[0].sched);
        GUARD(append_entry(v, "erase", AF_OUTCOME_OK, it[0].id, NULL, 0, detail));
        st->records++;
        st->canaries += decoy != 0;
        GUARD(done_add(st, &it[0]));
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        GUARD(remove_fields(st, v, &r, &it[i]));
        GUARD(done_add(st, &it[i]));
        fields = 1;
    }
    if (fields) {
        /* A new version, but not a write of the resident's data: the
         * record's last write (`updated`) stays as it was. */
        r.version++;
        GUARD(record_save(&rx, &r));
        st->field_records++;
    }
cleanup:
    list_free(&fresh);
    record_row_free(&r);
    return rc;
}

static int run_out(char **out, const ret_list *plan, const ret_stats *st, int64_t now,
                   int complete, int as_json)
{
    int rc = VAULT_OK;
    json_t *sk = NULL;
    char hex[VAULT_ID_HEX_SIZE];
    vault_buf b;

    vault__buf_init(&b, "retention run", 0, 0);
    if (as_json) {
        sk = json_array();
        for (size_t i = 0; sk && i < st->nskipped; i++) {
            vault__id_format(hex, st->skipped + i * VAULT_ID_BYTES);
            json_array_append_new(sk, json_string(hex));
        }
        GUARD(dump(out, json_pack("{s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}",
                                  "now", (json_int_t)now, "complete", complete, "planned",
                                  (json_int_t)plan->n, "records_erased", (json_int_t)st->records,
                                  "records_with_fields_removed", (json_int_t)st->field_records,
                                  "fields_removed", (json_int_t)st->fields, "remains_removed",
                                  (json_int_t)st->remains, "canaries_erased",
                                  (json_int_t)st->canaries, "batches", (json_int_t)st->batches,
                                  "done", items_json(&st->done), "skipped", sk ? sk : json_array(),
                                  "problems", problems_json(plan))));
        sk = NULL;
        goto cleanup;
    }
    vault__buf_printf(&b, "retention run%s: %zu records erased, %zu records with %zu fields "
                      "removed, %zu remains removed, %zu skipped (changed since the plan), %zu "
                      "problems, in %zu batches\n",
                      complete ? "" : " (stopped early)", st->records, st->field_records,
                      st->fields, st->remains, st->nskipped, plan->np, st->batches);
    items_text(&b, &st->done);
    for (size_t i = 0; i < plan->np; i++) {
        vault__id_format(hex, plan->pb[i].id);
        vault__buf_printf(&b, "%s problem: schedule %s: field '%s' does not hold a date "
                          "(YYYY-MM-DD): skipped\n", hex, plan->pb[i].sched, plan->pb[i].field);
    }
    *out = vault__buf_steal(&b);
    ENSURE(*out, VAULT_ENOMEM, "out of memory");
cleanup:
    json_decref(sk);
    vault__buf_free(&b);
    return rc;
}

int retention__run(char **out, vault *v, int64_t now, size_t batch, size_t max_batches,
                   int as_json)
{
    int rc = VAULT_OK, entered = 0, complete = 1;
    ret_list l;
    ret_stats st;
    size_t scanned = 0, i = 0, j, nrec;
    char detail[512];

    memset(&l, 0, sizeof l);
    memset(&st, 0, sizeof st);
    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    ENSURE(batch > 0, VAULT_EINVALID, "the batch size must be at least 1");
    GUARD(vault__enter(v));
    entered = 1;
    ENSURE(!op_in_tx(v), VAULT_ESTATE, "retention inside an open transaction");
    GUARD(build_plan(&l, &scanned, v, now));
    GUARD(log_plan(v, &l, scanned, 1));
    while (i < l.n) {
        if (max_batches && st.batches >= max_batches) {
            complete = 0;
            break;
        }
        GUARD(op_begin(v, OP_WRITE));
        for (nrec = 0; i < l.n && nrec < batch; nrec++, i = j) {
            for (j = i + 1; j < l.n && same_id(&l.it[j], &l.it[i]); j++)
                ;
            GUARD(carry_out(&st, v, &l.it[i], j - i, now));
        }
        GUARD(op_commit(v));
        st.batches++;
    }
    if (complete) {
        GUARD(op_begin(v, OP_WRITE));
        snprintf(detail, sizeof detail,
                 "run done: %zu records erased, %zu records with %zu fields removed, %zu remains "
                 "removed, %zu skipped (changed since the plan), in %zu batches",
                 st.records, st.field_records, st.fields, st.remains, st.nskipped, st.batches);
        GUARD(append_entry(v, "retention_run", AF_OUTCOME_OK, NULL, NULL, 0, detail));
        GUARD(op_commit(v));
    }
    GUARD(run_out(out, &l, &st, now, complete, as_json));
    rc = complete ? VAULT_OK : 1;
cleanup:
    list_free(&l);
    list_free(&st.done);
    free(st.skipped);
    vault__exit(v, entered);
    return rc;
}

/* ---- Public ---- */

int vault_retention_plan(char **out, vault *v, int as_json)
{
    if (v && v->remote)
        return client_retention(out, v, 0, as_json);
    return retention__plan(out, v, vault__now(), as_json);
}

int vault_retention_run(char **out, vault *v, int as_json)
{
    if (v && v->remote)
        return client_retention(out, v, 1, as_json);
    int rc = retention__run(out, v, vault__now(), RETENTION_BATCH, 0, as_json);

    return rc > 0 ? VAULT_OK : rc; /* without a batch limit it never stops early */
}

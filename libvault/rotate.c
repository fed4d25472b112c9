/* rotate: re-encrypt one grade's fields under a new data key in batches
 * that each commit on their own, then retire the old key versions.
 * Procedure in rotate.h; the operator's view in docs/key-rotation.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "crypto.h"
#include "rotate.h"
#include "op.h"
#include "client/client.h"

/* Room kept for one wrapped grade key when probing whether it exists. */
#define WRAPPED_MAX 256

typedef struct rot_ctx {
    vault *v;
    const char *grade;
    uint32_t target;       /* the version every field ends up under */
    int64_t now;
    size_t moved;          /* records rewritten in the current batch */
    size_t fields;         /* fields re-encrypted in the current batch */
    record_row row;        /* the record being rewritten (ciphertexts only) */
    int bad;               /* a field failed to open: bad_id / bad_field name it */
    uint8_t bad_id[VAULT_ID_BYTES];
    char bad_field[VAULT_NAME_MAX];
    /* progress */
    vault_progress_fn progress;
    void *arg;
    uint64_t done, total;
    size_t batch, batches, max_batches;
} rot_ctx;

/* Append a "key_rotate" entry in the open transaction. */
static int log_step(vault *v, int outcome, const uint8_t *record_id, const char *detail)
{
    af_entry e;

    audit_entry_init(&e, v, NULL, "key_rotate");
    e.outcome = outcome;
    if (record_id) {
        e.has_record = 1;
        memcpy(e.record_id, record_id, VAULT_ID_BYTES);
    }
    e.detail = detail;
    return audit_append(v, &e);
}

/* store_record_scan_stale callback: move one record's stale fields to the
 * target version, through record.c (the same sealing as every write).  An
 * integrity failure is reported with the record and field (never the
 * value). */
static int rotate_record(void *arg, const store_record *row)
{
    rot_ctx *c = arg;
    int rc = VAULT_OK;
    size_t n = 0;
    char why[256], hex[VAULT_ID_HEX_SIZE];
    record_ctx rx = vault__record_ctx(c->v);

    GUARD(record_copy(&c->row, row));
    vault__route(c->v, c->row.id, c->row.jurisdiction);
    rc = record_erased(&rx, &c->row);
    GUARD(rc);
    if (rc == 1) {
        /* An erased record's remains (a restored backup, an erase cut
         * short): nothing opens, so nothing moves; they go, logged. */
        rc = VAULT_OK;
        GUARD(record_erase(&rx, c->row.id));
        snprintf(why, sizeof why, "grade %s: the remains of an erased record (no key) removed",
                 c->grade);
        GUARD(log_step(c->v, AF_OUTCOME_OK, c->row.id, why));
        c->moved++;
        goto cleanup;
    }
    rc = record_reseal(&n, c->bad_field, sizeof c->bad_field, &rx, &c->row, c->grade, c->target);
    if (rc == VAULT_EINTEGRITY) {
        c->bad = 1;
        memcpy(c->bad_id, c->row.id, VAULT_ID_BYTES);
        snprintf(why, sizeof why, "%s", vault_error_last()); /* it is overwritten below */
        vault__id_format(hex, c->row.id);
        ENSURE(0, VAULT_EINTEGRITY,
               "key rotation of grade '%s' stopped: field '%s' of record %s failed to open: %s",
               c->grade, c->bad_field, hex, why);
    }
    GUARD(rc);
    GUARD(record_save(&rx, &c->row));
    c->fields += n;
    c->moved++;
cleanup:
    return rc;
}

static void report(rot_ctx *c)
{
    if (c->done > c->total) /* more stale fields turned up than first counted */
        c->total = c->done;
    if (c->progress)
        c->progress(c->done, c->total, c->arg);
}

/* After a field failed to open: roll the batch back, log the failure in a
 * transaction of its own, and keep the original error for the caller. */
static int fail_logged(rot_ctx *c, int code)
{
    char msg[512], detail[3 * VAULT_NAME_MAX];
    vault *v = c->v;

    snprintf(msg, sizeof msg, "%s", vault_error_last());
    op_rollback(v);
    if (c->bad)
        snprintf(detail, sizeof detail,
                 "grade %s: rotation to version %u stopped: field '%s' failed to open", c->grade,
                 (unsigned)c->target, c->bad_field);
    else /* a row that failed its MAC, before any field was opened */
        snprintf(detail, sizeof detail,
                 "grade %s: rotation to version %u stopped: a record failed its integrity check",
                 c->grade, (unsigned)c->target);
    /* Best effort: the integrity error matters more than its entry. */
    if (op_begin(v, OP_WRITE) == VAULT_OK &&
        (log_step(v, AF_OUTCOME_ERROR, c->bad ? c->bad_id : NULL, detail) < 0 ||
         op_commit(v) < 0))
        op_rollback(v);
    return vault__err(code, "%s", msg);
}

/* Step 2: re-encrypt until no stale field is left (0) or max_batches
 * batches have run (1).  Each batch is one write transaction, so other
 * processes read and write between batches. */
static int run_batches(rot_ctx *c)
{
    int rc = VAULT_OK;
    vault *v = c->v;

    for (;;) {
        c->moved = 0;
        c->fields = 0;
        c->now = vault__now();
        GUARD(op_begin(v, OP_WRITE));
        rc = store_record_scan_stale(v->db, c->grade, c->target, c->batch, rotate_record, c);
        if (rc < 0) {
            if (rc == VAULT_EINTEGRITY)
                rc = fail_logged(c, rc);
            goto cleanup;
        }
        GUARD(op_commit(v));
        c->batches++;
        c->done += c->fields;
        report(c);
        if (c->moved < c->batch)
            break; /* nothing stale left */
        if (c->max_batches && c->batches >= c->max_batches) {
            rc = 1;
            break;
        }
    }
cleanup:
    op_rollback(v);
    return rc;
}

/* 1 when `version` of the grade's key is still stored, 0 when not. */
static int version_kept(int *out, vault *v, const char *grade, uint32_t version)
{
    uint8_t wrapped[WRAPPED_MAX];
    size_t len = 0;
    int rc = store_gradekey_get(wrapped, sizeof wrapped, &len, v->db, grade, version);

    *out = rc == VAULT_OK;
    if (rc == VAULT_EINTEGRITY) { /* "no key version N": retired */
        vault__err_clear();
        rc = VAULT_OK;
    }
    return rc;
}

/* Step 1: pick the target version, creating it unless an earlier
 * rotation is unfinished.  *out_first is 1 when the grade had no key at
 * all (version 1 was created; nothing to re-encrypt). */
static int start(rot_ctx *c, int *out_first)
{
    int rc = VAULT_OK, kept = 0;
    vault *v = c->v;
    uint32_t latest = 0;
    int64_t stale = 0;
    char detail[2 * VAULT_NAME_MAX];

    *out_first = 0;
    GUARD(op_begin(v, OP_WRITE));
    rc = store_gradekey_latest(&latest, v->db, c->grade);
    if (rc == VAULT_ENOTFOUND) {
        vault__err_clear();
        rc = VAULT_OK;
        GUARD(keyring_grade_key_create(v->keys, v->db, c->grade, 1, vault__now()));
        c->target = 1;
        *out_first = 1;
        snprintf(detail, sizeof detail, "grade %s: version 1 created", c->grade);
        GUARD(log_step(v, AF_OUTCOME_OK, NULL, detail));
        GUARD(op_commit(v));
        goto cleanup;
    }
    GUARD(rc);
    GUARD(store_field_count_stale(&stale, v->db, c->grade, latest));
    /* Unfinished: fields left behind, or killed after the last batch but
     * before the old versions were retired (retiring removes every
     * version below the newest, so the one just below tells). */
    if (stale == 0 && latest > 1)
        GUARD(version_kept(&kept, v, c->grade, latest - 1));
    if (stale > 0 || kept) {
        c->target = latest;
        snprintf(detail, sizeof detail, "grade %s: resuming rotation to version %u, %lld fields left",
                 c->grade, (unsigned)latest, (long long)stale);
    } else {
        ENSURE(latest < UINT32_MAX, VAULT_ELIMIT, "grade '%s' has run out of key versions", c->grade);
        c->target = latest + 1;
        GUARD(keyring_grade_key_create(v->keys, v->db, c->grade, c->target, vault__now()));
        GUARD(store_field_count_stale(&stale, v->db, c->grade, c->target));
        snprintf(detail, sizeof detail, "grade %s: version %u created", c->grade,
                 (unsigned)c->target);
    }
    c->total = (uint64_t)stale;
    GUARD(log_step(v, AF_OUTCOME_OK, NULL, detail));
    GUARD(op_commit(v));
cleanup:
    op_rollback(v);
    return rc;
}

/* Step 3: retire the old versions once nothing is sealed under them.
 * Returns 1 (nothing done) when stale fields turned up meanwhile. */
static int finish(rot_ctx *c)
{
    int rc = VAULT_OK;
    vault *v = c->v;
    int64_t stale = 0;
    char detail[2 * VAULT_NAME_MAX];

    GUARD(op_begin(v, OP_WRITE));
    GUARD(store_field_count_stale(&stale, v->db, c->grade, c->target));
    if (stale > 0) {
        c->total += (uint64_t)stale;
        rc = 1;
        goto cleanup;
    }
    GUARD(store_gradekey_retire(v->db, c->grade, c->target));
    snprintf(detail, sizeof detail, "grade %s: %llu fields re-encrypted, versions below %u retired",
             c->grade, (unsigned long long)c->done, (unsigned)c->target);
    GUARD(log_step(v, AF_OUTCOME_OK, NULL, detail));
    GUARD(op_commit(v));
cleanup:
    op_rollback(v);
    return rc;
}

int rotate__run(vault *v, const char *grade, size_t batch, size_t max_batches,
                vault_progress_fn progress, void *arg)
{
    int rc = VAULT_OK, entered = 0, first = 0;
    rot_ctx c;

    memset(&c, 0, sizeof c);
    GUARD(vault__enter(v));
    entered = 1;
    ENSURE(grade && *grade, VAULT_EINVALID, "missing grade");
    ENSURE(batch > 0, VAULT_EINVALID, "the batch size must be at least 1");
    if (strlen(grade) >= VAULT_NAME_MAX || policy_grade_index(v->policy, grade) < 0) {
        /* refused, and logged like every refusal */
        vault__err(VAULT_EINVALID, "grade '%.64s' is not declared by the active policy", grade);
        rc = op_refused(v, NULL, "key_rotate", NULL, VAULT_EINVALID, NULL);
        goto cleanup;
    }
    ENSURE(!op_in_tx(v), VAULT_ESTATE, "key rotation inside an open transaction");
    c.v = v;
    c.grade = grade;
    c.batch = batch;
    c.max_batches = max_batches;
    c.progress = progress;
    c.arg = arg;
    GUARD(start(&c, &first));
    if (first)
        goto cleanup; /* a grade without a key has no fields to move */
    for (;;) {
        rc = run_batches(&c);
        if (rc != VAULT_OK) /* stopped at max_batches (1), or failed */
            goto cleanup;
        rc = finish(&c);
        GUARD(rc);
        if (rc == VAULT_OK)
            break;
    }
    if (c.done != c.total) { /* fields erased meanwhile: end the bar at 100% */
        c.total = c.done;
        report(&c);
    }
cleanup:
    record_row_free(&c.row);
    if (entered)
        vault__leave(v);
    return rc;
}

int vault_key_rotate(vault *v, const char *grade, vault_progress_fn progress, void *arg)
{
    if (v && v->remote)
        return client_key_rotate(v, grade);
    int rc = rotate__run(v, grade, ROTATE_BATCH, 0, progress, arg);

    return rc > 0 ? VAULT_OK : rc; /* without a batch limit it never stops early */
}

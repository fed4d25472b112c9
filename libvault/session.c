/* session: who is acting; every public data call decides through the
 * policy before it touches a record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit.h"
#include "crypto.h"
#include "canary.h"
#include "grants_set.h"
#include "mask.h"
#include "text.h"
#include "vault_int.h"
#include "op.h"
#include "result.h"
#include "client/client.h"


static int log_refusal(vault *v, vault_session *s, const char *action, const uint8_t *id,
                       const char *field, const char *field_reason, const char *detail,
                       int outcome, int code);

static int copy_name(char *dst, size_t cap, const char *src, const char *what)
{
    int rc = vault__name_check(src, what);

    if (rc == VAULT_OK)
        snprintf(dst, cap, "%s", src);
    return rc;
}

/* User names are kept in their comparison form (text.h), as the policy
 * and the grants keep them, so "LI" and "li" are one person. */
static int copy_user(char *dst, size_t cap, const char *src)
{
    return vault__user_norm(dst, cap, src, "user");
}

/* Check the asserted subject against the policy and fill s. */
static int session_fill(vault_session *s, const vault_subject *subject)
{
    int rc = VAULT_OK;
    const vault_policy *p = s->v->policy;

    GUARD(copy_user(s->user, sizeof s->user, subject->user));
    GUARD(copy_name(s->role, sizeof s->role, subject->role, "role"));
    GUARD(copy_name(s->department, sizeof s->department, subject->department, "department"));
    GUARD(copy_name(s->purpose, sizeof s->purpose, subject->purpose, "purpose"));
    GUARD(vault__jurisdiction_norm(s->jurisdiction, sizeof s->jurisdiction, subject->jurisdiction,
                                   "subject jurisdiction"));
    ENSURE(policy_has_role(p, s->role), VAULT_EINVALID,
           "role '%s' is not declared in the vault's policy", s->role);
    ENSURE(policy_has_department(p, s->department), VAULT_EINVALID,
           "department '%s' is not declared in the vault's policy", s->department);
    ENSURE(policy_has_purpose(p, s->purpose), VAULT_EINVALID,
           "purpose '%s' is not declared in the vault's policy", s->purpose);
    ENSURE(policy_role_in_department(p, s->role, s->department), VAULT_EINVALID,
           "role '%s' does not exist in department '%s' under the vault's policy", s->role,
           s->department);
cleanup:
    return rc;
}

/* An asserted attribute as the log may record it: in the form sessions
 * keep it when it is well formed, else "?" (never raw bytes of unknown
 * form). */
#define ASSERTED_NAME 0
#define ASSERTED_USER 1
#define ASSERTED_PATH 2
static void asserted(char *dst, size_t cap, const char *src, int kind)
{
    int rc = VAULT_EINVALID;

    if (src && kind == ASSERTED_USER)
        rc = vault__user_norm(dst, cap, src, "user");
    else if (src && kind == ASSERTED_PATH)
        rc = vault__jurisdiction_norm(dst, cap, src, "jurisdiction");
    else if (src && (rc = vault__name_check(src, "name")) == VAULT_OK)
        snprintf(dst, cap, "%s", src);
    if (rc != VAULT_OK)
        snprintf(dst, cap, "?");
}

/* A session that failed to open is still an attempt to act: log it with
 * the subject and principal as asserted (outcome denied, the reason as
 * detail; who NULL: embedded). */
static int log_open_refusal(vault *v, const vault_subject *subject, const vault_principal *who,
                            int code)
{
    char saved[512];
    vault_session t;

    snprintf(saved, sizeof saved, "%s", vault_error_last());
    memset(&t, 0, sizeof t);
    t.v = v;
    vault__who_asserted(&t.who, who);
    asserted(t.user, sizeof t.user, subject->user, ASSERTED_USER);
    asserted(t.role, sizeof t.role, subject->role, ASSERTED_NAME);
    asserted(t.department, sizeof t.department, subject->department, ASSERTED_NAME);
    asserted(t.purpose, sizeof t.purpose, subject->purpose, ASSERTED_NAME);
    asserted(t.jurisdiction, sizeof t.jurisdiction, subject->jurisdiction, ASSERTED_PATH);
    vault__err(code, "%s", saved); /* the checks above may have replaced it */
    return log_refusal(v, &t, "session_open", NULL, NULL, NULL, saved, AF_OUTCOME_DENIED, code);
}

/* May the session's app act for its subject (the policy's apps:), and
 * for an officer's action (flags)?  VAULT_EDENIED with the reason. */
static int app_admit(vault *v, const vault_session *s, unsigned flags)
{
    int rc = VAULT_OK;
    char *why = NULL;

    ENSURE((flags & ~(VAULT_PRINCIPAL_OFFICER_APP | VAULT_PRINCIPAL_DATA_OFFICER |
                      VAULT_PRINCIPAL_AUDITOR)) == 0,
           VAULT_EINVALID, "principal flags: unknown bits 0x%x", flags);
    rc = policy_app_check(v->policy, s->who.app, s->role, s->department, s->jurisdiction,
                          s->purpose, (flags & VAULT_PRINCIPAL_OFFICER_APP) != 0, &why);
    if (rc == VAULT_EDENIED)
        rc = vault__err(VAULT_EDENIED, "%s", why ? why : "the app may not act for this subject");
    GUARD(rc);
    if (flags & VAULT_PRINCIPAL_DATA_OFFICER)
        GUARD(policy_data_officer_check(v->policy, s->role));
    if (flags & VAULT_PRINCIPAL_AUDITOR)
        GUARD(policy_auditor_check(v->policy, s->role));
cleanup:
    free(why);
    return rc;
}

/* Open a session for `subject` as `who` (NULL: embedded). */
static int session_open(vault_session **out, vault *v, const vault_subject *subject,
                        const vault_principal *who)
{
    int rc = VAULT_OK, entered = 0;
    vault_session *s = NULL;

    ENSURE(out && subject, VAULT_EINVALID, "missing session output or subject");
    *out = NULL;
    GUARD(vault__enter(v));
    entered = 1;
    s = calloc(1, sizeof *s);
    ENSURE(s, VAULT_ENOMEM, "out of memory");
    s->v = v;
    if (who)
        rc = vault__who_set(&s->who, who);
    else
        vault__who_local(&s->who);
    if (rc == VAULT_OK)
        rc = vault__who_current(&s->who, vault__now());
    if (rc == VAULT_OK)
        rc = session_fill(s, subject);
    /* The policy's apps: bound, where s holds the checked subject and
     * principal together; a refusal is logged below like any other. */
    if (rc == VAULT_OK && who && s->who.app[0])
        rc = app_admit(v, s, who->flags);
    if (rc < 0 && rc != VAULT_ENOMEM) {
        rc = log_open_refusal(v, subject, who, rc);
        goto cleanup;
    }
    GUARD(rc);
    s->subject.user = s->user;
    s->subject.role = s->role;
    s->subject.department = s->department;
    s->subject.jurisdiction = s->jurisdiction;
    *out = s;
    s = NULL;
cleanup:
    vault__exit(v, entered);
    free(s);
    return rc;
}

/* The caller's structs checked and copied (vault__opt_in) before either
 * mode reads them. */
#define SUBJECT_IN() VAULT_OPT_IN(subject, subject_l, "vault_subject", "VAULT_SUBJECT_INIT")

int vault_session_open(vault_session **out, vault *v, const vault_subject *subject)
{
    int rc = VAULT_OK;
    vault_subject subject_l;

    if (out)
        *out = NULL;
    SUBJECT_IN();
    rc = v && v->remote ? client_session_open(out, v, subject)
                        : session_open(out, v, subject, NULL);
cleanup:
    return rc;
}

int vault_session_open_as(vault_session **out, vault *v, const vault_subject *subject,
                          const vault_principal *who)
{
    int rc = VAULT_OK;
    vault_subject subject_l;
    vault_principal who_l;

    if (out)
        *out = NULL;
    SUBJECT_IN();
    if (v && v->remote) {
        rc = client_session_open(out, v, subject); /* the token is the principal */
        goto cleanup;
    }
    ENSURE(who, VAULT_EINVALID, "missing principal");
    VAULT_OPT_IN(who, who_l, "vault_principal", "VAULT_PRINCIPAL_INIT");
    rc = session_open(out, v, subject, who);
cleanup:
    return rc;
}

void vault_session_close(vault_session *s)
{
    free(s);
}

/* Start a public call on a session: lock the vault. */
static int enter(vault_session *s)
{
    if (!s)
        return vault__err(VAULT_EINVALID, "no session");
    return vault__enter(s->v);
}

static void request_init(vp_request *r, const vault_session *s, int action, const char *record_id,
                         const char *jurisdiction, const char *field)
{
    r->subject = &s->subject;
    r->action = action;
    r->purpose = s->purpose;
    r->record_id = record_id;
    r->record_jurisdiction = jurisdiction;
    r->field = field;
    r->now = vault__now();
}

static const char *action_name(int action)
{
    static const char *const names[] = {"read", "write", "create", "search", "erase", "export"};

    return action >= 0 && action < (int)VAULT_ARRAY_LEN(names) ? names[action] : "unknown";
}

/* Decide, with the live grants; a decision error is a deny (fail closed). */
static int decide(vp_decision *d, const vault_session *s, int action, const char *record_id,
                  const char *jurisdiction, const char *field)
{
    vp_request r;

    request_init(&r, s, action, record_id, jurisdiction, field);
    return policy_decide(d, s->v->policy, s->v->grants, &r);
}

int session__decide(vp_decision *d, const vault_session *s, int action, const char *record_id,
                    const char *jurisdiction, const char *field)
{
    return decide(d, s, action, record_id, jurisdiction, field);
}

/* Fail with VAULT_EDENIED unless the decision allows (mask is not enough
 * for write, create, erase). */
static int require_allow(const vp_decision *d, int action, const char *what)
{
    vault_reason reason;

    if (d->effect == VAULT_EFFECT_ALLOW)
        return VAULT_OK;
    policy_reason_fill(&reason, d);
    return vault__err(VAULT_EDENIED, "%s denied for %s: %s", action_name(action), what,
                      reason.text);
}

/* Roll back the caller's transaction, append one entry for a refused or
 * failed attempt (outcome AF_OUTCOME_*) in a transaction of its own, and
 * return `code` with the message that was set.  `s` may be NULL (an
 * operation without a session).  `field` (may be NULL) is recorded with a
 * deny and `field_reason` when it is a well-formed name, else mentioned in
 * the detail as invalid.  If the entry can't be written the attempt still
 * fails, with the logging error. */
static int log_refusal(vault *v, vault_session *s, const char *action, const uint8_t *id,
                       const char *field, const char *field_reason, const char *detail,
                       int outcome, int code)
{
    char saved[512];
    int rc = VAULT_OK;
    af_entry e;
    af_field f;

    snprintf(saved, sizeof saved, "%s", vault_error_last());
    op_rollback(v);
    audit_entry_init(&e, v, s, action);
    e.outcome = outcome;
    if (id) {
        e.has_record = 1;
        memcpy(e.record_id, id, VAULT_ID_BYTES);
    }
    memset(&f, 0, sizeof f);
    if (field && vault__name_check(field, "field") == VAULT_OK) {
        f.name = field;
        f.effect = VAULT_EFFECT_DENY;
        f.reason = field_reason ? field_reason : "";
        e.fields = &f;
        e.nfields = 1;
    } else if (field) {
        field_reason = "a malformed field name";
    }
    e.detail = detail ? detail : field && !e.nfields ? field_reason : NULL;
    GUARD(op_begin(v, OP_WRITE));
    GUARD(audit_append(v, &e));
    GUARD(op_commit(v));
    rc = vault__err(code, "%s", saved);
cleanup:
    op_rollback(v);
    return rc;
}

int session__log_denial(vault_session *s, const char *action, const uint8_t *id,
                        const char *field, const vp_decision *d, int code)
{
    vault_reason reason;

    policy_reason_fill(&reason, d);
    return log_refusal(s->v, s, action, id, field, reason.text, field ? NULL : reason.text,
                       AF_OUTCOME_DENIED, code);
}

/* A field a data call names must be declared; one that is not is a
 * refusal, logged.  *out is the policy's field. */
static int field_logged(const vp_field **out, vault_session *s, const char *action,
                        const uint8_t *id, const char *name)
{
    int rc = VAULT_OK;

    *out = name ? policy_field(s->v->policy, name) : NULL;
    if (*out)
        return VAULT_OK;
    rc = name ? vault__err(VAULT_EINVALID, "field '%s' is not declared in the policy", name)
              : vault__err(VAULT_EINVALID, "missing field name");
    return log_refusal(s->v, s, action, id, name, "not declared by the policy",
                       name ? NULL : "missing field name", AF_OUTCOME_DENIED, rc);
}

/* Parse a record id and read its row, for a data call: a malformed or
 * unknown id is a refusal, logged (the caller's transaction is rolled
 * back).  `s` may be NULL (who-can). */
static int record_lookup(uint8_t id[VAULT_ID_BYTES], record_row *rec, vault *v,
                         vault_session *s, const char *action, const char *record_id)
{
    int rc = vault__id_parse(id, record_id);

    if (rc < 0)
        return log_refusal(v, s, action, NULL, NULL, NULL, "malformed record id",
                           AF_OUTCOME_DENIED, rc);
    {
        record_ctx rx = vault__record_ctx(v);

        /* An erase also takes an erased record's remains (an erasure cut
         * short after its key was destroyed): it completes it, logged. */
        rc = strcmp(action, "erase") == 0 ? record_load_erasable(rec, &rx, id)
                                          : record_load(rec, &rx, id);
    }
    if (rc == VAULT_ENOTFOUND)
        return log_refusal(v, s, action, id, NULL, NULL, "no such record", AF_OUTCOME_DENIED,
                           rc);
    if (rc == VAULT_EINTEGRITY) /* logged; nothing of the record is used */
        return log_refusal(v, s, action, id, NULL, "record failed its integrity check", NULL,
                           AF_OUTCOME_ERROR, rc);
    if (rc == VAULT_OK)
        vault__route(v, id, rec->jurisdiction); /* its entries go to its shard's log */
    return rc;
}

/* 1 when the subject may see that the record exists and where it is: it
 * may read (or see masked) at least one of its fields. */
static int record_visible(const vault_session *s, const char *canon, const record_row *rec)
{
    vp_decision d;
    size_t i, n = policy_field_count(s->v->policy);

    for (i = 0; i < n; i++) {
        (void)decide(&d, s, VAULT_ACTION_READ, canon, rec->jurisdiction,
                     policy_field_at(s->v->policy, i)->name);
        if (d.effect != VAULT_EFFECT_DENY)
            return 1;
    }
    return 0;
}

/* Append the entry of a metadata query (decide, explain, jurisdiction). */
static int log_query(vault_session *s, const char *action, const uint8_t *id, const char *field,
                     const vp_decision *d, const char *detail)
{
    af_entry e;
    af_field f;
    vault_reason why;

    audit_entry_init(&e, s->v, s, action);
    e.has_record = 1;
    memcpy(e.record_id, id, VAULT_ID_BYTES);
    memset(&f, 0, sizeof f);
    if (field && d) {
        policy_reason_fill(&why, d);
        f.name = field;
        f.effect = d->effect;
        f.reason = why.text;
        e.fields = &f;
        e.nfields = 1;
    }
    e.detail = detail;
    return audit_append(s->v, &e);
}

int vault_decide(vault_reason *out, vault_session *s, int action, const char *record_id,
                 const char *field)
{
    if (s && s->v->remote)
        return client_decide(out, s, action, record_id, field);
    int rc = VAULT_OK, entered = 0;
    uint8_t id[VAULT_ID_BYTES];
    record_row rec = {0};
    vp_decision d;
    const vp_field *f = NULL;
    char canon[VAULT_ID_HEX_SIZE], detail[64];

    ENSURE(out, VAULT_EINVALID, "missing output");
    GUARD(enter(s));
    entered = 1;
    GUARD(op_begin(s->v, OP_WRITE));
    GUARD(record_lookup(id, &rec, s->v, s, "decide", record_id));
    vault__id_format(canon, id);
    if (field)
        GUARD(field_logged(&f, s, "decide", id, field));
    (void)decide(&d, s, action, canon, rec.jurisdiction, f ? f->name : NULL);
    snprintf(detail, sizeof detail, "decision on %s", action_name(action));
    GUARD(log_query(s, "decide", id, f ? f->name : NULL, &d, detail));
    GUARD(op_commit(s->v));
    policy_reason_fill(out, &d);
cleanup:
    record_row_free(&rec);
    vault__exit(s ? s->v : NULL, entered);
    return rc;
}

int vault_explain(char **out, vault_session *s, int action, const char *record_id,
                  const char *field)
{
    if (s && s->v->remote)
        return client_explain(out, s, action, record_id, field);
    int rc = VAULT_OK, entered = 0, hide;
    uint8_t id[VAULT_ID_BYTES];
    record_row rec = {0};
    vp_request r;
    vp_decision d;
    const vp_field *f = NULL;
    char canon[VAULT_ID_HEX_SIZE], detail[96], *text = NULL;

    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    GUARD(enter(s));
    entered = 1;
    GUARD(op_begin(s->v, OP_WRITE));
    GUARD(record_lookup(id, &rec, s->v, s, "explain", record_id));
    vault__id_format(canon, id);
    if (field)
        GUARD(field_logged(&f, s, "explain", id, field));
    /* Explaining names the record's jurisdiction; to a subject that may
     * not see the record at all it would reveal where the resident lives. */
    hide = !record_visible(s, canon, &rec);
    request_init(&r, s, action, canon, rec.jurisdiction, f ? f->name : NULL);
    GUARD(policy_explain_for(&text, s->v->policy, s->v->grants, &r, hide));
    (void)decide(&d, s, action, canon, rec.jurisdiction, f ? f->name : NULL);
    snprintf(detail, sizeof detail, "explain %s%s", action_name(action),
             hide ? " (record jurisdiction not shown)" : "");
    GUARD(log_query(s, "explain", id, f ? f->name : NULL, &d, detail));
    GUARD(op_commit(s->v));
    *out = text;
    text = NULL;
cleanup:
    record_row_free(&rec);
    vault__exit(s ? s->v : NULL, entered);
    free(text);
    return rc;
}

/* who-can's answer for field (and record_id, may be NULL) as the open
 * transaction sees the vault; e gets its entry. */
static int who_can_answer(char **text, af_entry *e, char *detail, size_t dcap, record_row *rec,
                          vault *v, const char *field, const char *record_id, int as_json)
{
    int rc = VAULT_OK;
    uint8_t id[VAULT_ID_BYTES];
    char canon[VAULT_ID_HEX_SIZE];
    const vp_field *f = policy_field(v->policy, field);

    free(*text);
    *text = NULL;
    record_row_free(rec);
    if (!f) {
        rc = vault__err(VAULT_EINVALID, "field '%s' is not declared in the policy", field);
        return log_refusal(v, NULL, "who_can", NULL, field, "not declared by the policy", NULL,
                           AF_OUTCOME_DENIED, rc);
    }
    audit_entry_init(e, v, NULL, "who_can");
    snprintf(detail, dcap, "who can read %s", f->name);
    e->detail = detail;
    if (record_id) {
        GUARD(record_lookup(id, rec, v, NULL, "who_can", record_id));
        vault__id_format(canon, id);
        e->has_record = 1;
        memcpy(e->record_id, id, VAULT_ID_BYTES);
        GUARD(policy_who_can(text, v->policy, v->grants, f->name, canon, rec->jurisdiction,
                             vault__now(), as_json));
    } else {
        GUARD(policy_who_can(text, v->policy, v->grants, f->name, NULL, NULL, vault__now(),
                             as_json));
    }
cleanup:
    return rc;
}

/* Worked out in a snapshot that may be the standby's (OP_STANDBY_READ:
 * one that has every commit the primary had when it began), then logged
 * on the primary; worked out again there, in the write, if the policy or
 * grants changed between (the generation moved) or the answer is about a
 * record (a record's change does not move every backend's generation:
 * store/backend.h): the answer given is always the one the logged
 * entry's policy, grants and record give. */
int vault_who_can(char **out, vault *v, const char *field, const char *record_id, int as_json)
{
    if (v && v->remote)
        return client_who_can(out, v, field, record_id, as_json);
    int rc = VAULT_OK, entered = 0;
    int64_t seen;
    record_row rec = {0};
    char detail[VAULT_NAME_MAX + 32], *text = NULL;
    af_entry e;

    ENSURE(out && field, VAULT_EINVALID, "missing output or field");
    *out = NULL;
    GUARD(vault__enter(v));
    entered = 1;
    GUARD(op_begin(v, OP_STANDBY_READ));
    GUARD(who_can_answer(&text, &e, detail, sizeof detail, &rec, v, field, record_id, as_json));
    seen = v->generation;
    op_rollback(v);
    GUARD(op_begin(v, OP_WRITE));
    if (v->generation != seen || record_id)
        GUARD(who_can_answer(&text, &e, detail, sizeof detail, &rec, v, field, record_id,
                             as_json));
    GUARD(audit_append(v, &e));
    GUARD(op_commit(v));
    *out = text;
    text = NULL;
cleanup:
    record_row_free(&rec);
    vault__exit(v, entered);
    free(text);
    return rc;
}

/* Decide and write n fields of a record already read into rec, inside the
 * caller's write transaction; fill af[i] for the audit entry.  On a denial,
 * *denied is the index of the refused field and *d its decision. */
static int put_fields(vault_session *s, const char *action, const uint8_t id[VAULT_ID_BYTES],
                      record_row *rec, size_t n, const char *const *fields,
                      const char *const *values, const size_t *lens, int64_t now, af_field *af,
                      vault_reason *reasons, vp_decision *d, size_t *denied)
{
    int rc = VAULT_OK;
    size_t i;
    const vp_field *f;
    char canon[VAULT_ID_HEX_SIZE];
    record_ctx rx = vault__record_ctx(s->v);
    vp_decision prev;

    vault__id_format(canon, id);
    memset(&prev, 0, sizeof prev);
    ENSURE(n == 0 || (fields && values && lens), VAULT_EINVALID, "missing fields or values");
    ENSURE(n <= AF_FIELDS_MAX, VAULT_ELIMIT, "at most %d fields at once", AF_FIELDS_MAX);
    for (i = 0; i < n; i++) {
        /* An undeclared field is logged (for a new record without its id:
         * the record is not created). */
        GUARD(field_logged(&f, s, action, strcmp(action, "create") ? id : NULL, fields[i]));
        (void)decide(d, s, VAULT_ACTION_WRITE, canon, rec->jurisdiction, f->name);
        if (d->effect != VAULT_EFFECT_ALLOW) {
            *denied = i;
            GUARD(require_allow(d, VAULT_ACTION_WRITE, f->name));
        }
        /* Fields written under the same rule as the one before share its
         * reason text (formatted once; the entry stores it once). */
        if (i > 0 && policy_reason_same(&prev, d)) {
            af[i].reason = af[i - 1].reason;
        } else {
            policy_reason_fill(&reasons[i], d);
            af[i].reason = reasons[i].text;
            prev = *d;
        }
        af[i].name = f->name;
        af[i].effect = d->effect;
        af[i].has_ct_hash = 1;
        GUARD(record_set(af[i].ct_hash, &rx, rec, f, values[i], lens[i], now));
    }
cleanup:
    return rc;
}

/* Arrays for an n-field write's audit entry. */
static int write_arrays(af_field **af, vault_reason **reasons, size_t n)
{
    /* Before allocating: a huge n must not become a huge allocation. */
    if (n > AF_FIELDS_MAX)
        return vault__err(VAULT_ELIMIT, "at most %d fields at once", AF_FIELDS_MAX);
    *af = calloc(n ? n : 1, sizeof **af);
    *reasons = calloc(n ? n : 1, sizeof **reasons);
    if (!*af || !*reasons) {
        free(*af);
        free(*reasons);
        *af = NULL;
        *reasons = NULL;
        return vault__err(VAULT_ENOMEM, "out of memory");
    }
    return VAULT_OK;
}

/* vault_record_add, and vault_canary_add (canary 1): the same record, the
 * same rows, in the set of decoys as well, by a data officer only. */
static int add_record(char *out_id, size_t out_id_size, vault_session *s, const char *jurisdiction,
                      size_t n, const char *const *fields, const char *const *values,
                      const size_t *value_lens, int canary)
{
    int rc = VAULT_OK, entered = 0;
    uint8_t id[VAULT_ID_BYTES];
    vp_decision d;
    record_row rec = {0};
    int64_t now = vault__now();
    af_field *af = NULL;
    vault_reason *reasons = NULL, why;
    af_entry e;
    size_t denied = SIZE_MAX;
    char jur[VAULT_JURISDICTION_MAX + 1];

    ENSURE(out_id && out_id_size >= VAULT_ID_HEX_SIZE, VAULT_EINVALID,
           "record id buffer too small");
    GUARD(enter(s));
    entered = 1;
    GUARD(vault__jurisdiction_norm(jur, sizeof jur, jurisdiction, "jurisdiction"));
    jurisdiction = jur;
    GUARD(write_arrays(&af, &reasons, n));
    /* Decide inside the write transaction: it has seen every policy and
     * grant change committed before it (vault.c, tx_after_begin). */
    GUARD(op_begin(s->v, OP_WRITE));
    if (canary && policy_data_officer_check(s->v->policy, s->role) != VAULT_OK) {
        rc = vault__err(VAULT_EDENIED, "canary add: role '%s' is not a data officer of the policy "
                        "(data_officers:)", s->role);
        rc = log_refusal(s->v, s, "canary_add", NULL, NULL, NULL,
                         "refused: not a data officer", AF_OUTCOME_DENIED, rc);
        goto cleanup;
    }
    (void)decide(&d, s, VAULT_ACTION_CREATE, NULL, jurisdiction, NULL);
    if (d.effect != VAULT_EFFECT_ALLOW) {
        rc = require_allow(&d, VAULT_ACTION_CREATE, "a record");
        rc = session__log_denial(s, canary ? "canary_add" : "create", NULL, NULL, &d, rc);
        goto cleanup;
    }
    policy_reason_fill(&why, &d);
    GUARD(record_new(&rec, jurisdiction, now));
    memcpy(id, rec.id, VAULT_ID_BYTES);
    rc = put_fields(s, "create", id, &rec, n, fields, values, value_lens, now, af, reasons, &d, &denied);
    if (rc == VAULT_EDENIED) {
        rc = session__log_denial(s, "create", NULL, fields[denied], &d, rc);
        goto cleanup;
    }
    GUARD(rc);
    {
        record_ctx rx = vault__record_ctx(s->v);
        GUARD(record_save(&rx, &rec));
    }
    /* A decoy: the same record as any other, its id in the sealed set.
     * Its entry says so (auditors see decoys; readers can't). */
    if (canary)
        GUARD(canary__mark(s->v, id));
    audit_entry_init(&e, s->v, s, canary ? "canary_add" : "create");
    e.has_record = 1;
    memcpy(e.record_id, id, VAULT_ID_BYTES);
    vault__route(s->v, id, rec.jurisdiction);
    e.fields = af;
    e.nfields = n;
    e.detail = why.text;
    GUARD(audit_append(s->v, &e));
    GUARD(op_commit(s->v));
    vault__id_format(out_id, id);
cleanup:
    record_row_free(&rec);
    vault__exit(s ? s->v : NULL, entered);
    free(af);
    free(reasons);
    return rc;
}

int vault_record_add(char *out_id, size_t out_id_size, vault_session *s, const char *jurisdiction,
                     size_t n, const char *const *fields, const char *const *values,
                     const size_t *value_lens)
{
    if (s && s->v->remote)
        return client_record_add(out_id, out_id_size, s, jurisdiction, n, fields, values,
                                 value_lens);
    return add_record(out_id, out_id_size, s, jurisdiction, n, fields, values, value_lens, 0);
}

int vault_canary_add(char *out_id, size_t out_id_size, vault_session *s, const char *jurisdiction,
                     size_t n, const char *const *fields, const char *const *values,
                     const size_t *value_lens)
{
    if (s && s->v->remote)
        return vault__err(VAULT_EINVALID, "vault_canary_add: not through vaultd: run it on the "
                          "vault (vaultctl --vault)");
    return add_record(out_id, out_id_size, s, jurisdiction, n, fields, values, value_lens, 1);
}

int vault_record_create(char *out_id, size_t out_id_size, vault_session *s,
                        const char *jurisdiction)
{
    if (s && s->v->remote)
        return client_record_create(out_id, out_id_size, s, jurisdiction);
    return vault_record_add(out_id, out_id_size, s, jurisdiction, 0, NULL, NULL, NULL);
}

int vault_record_update(vault_session *s, const char *record_id, size_t n,
                        const char *const *fields, const char *const *values,
                        const size_t *value_lens)
{
    if (s && s->v->remote)
        return client_record_update(s, record_id, n, fields, values, value_lens);
    int rc = VAULT_OK, entered = 0;
    uint8_t id[VAULT_ID_BYTES];
    record_row rec = {0};
    af_field *af = NULL;
    vault_reason *reasons = NULL;
    vp_decision d;
    af_entry e;
    size_t denied = SIZE_MAX;

    GUARD(enter(s));
    entered = 1;
    GUARD(write_arrays(&af, &reasons, n));
    GUARD(op_begin(s->v, OP_WRITE));
    GUARD(record_lookup(id, &rec, s->v, s, "write", record_id));
    record_touch(&rec, vault__now());
    rc = put_fields(s, "write", id, &rec, n, fields, values, value_lens, vault__now(), af, reasons, &d,
                    &denied);
    if (rc == VAULT_EDENIED) {
        rc = session__log_denial(s, "write", id, fields[denied], &d, rc);
        goto cleanup;
    }
    GUARD(rc);
    {
        record_ctx rx = vault__record_ctx(s->v);
        GUARD(record_save(&rx, &rec));
    }
    audit_entry_init(&e, s->v, s, "write");
    e.has_record = 1;
    memcpy(e.record_id, id, VAULT_ID_BYTES);
    e.fields = af;
    e.nfields = n;
    GUARD(audit_append(s->v, &e));
    GUARD(op_commit(s->v));
cleanup:
    record_row_free(&rec);
    vault__exit(s ? s->v : NULL, entered);
    free(af);
    free(reasons);
    return rc;
}

int vault_record_put(vault_session *s, const char *record_id, const char *field, const char *value,
                     size_t value_len)
{
    return vault_record_update(s, record_id, 1, &field, &value, &value_len);
}

/* What field f of the loaded record shows under decision d (allow or
 * mask, never deny), in memory from alloc(arg, n) (scratch: each call may
 * hand back the same place): the plaintext when allowed, its mask in
 * place of it when masked.  VAULT_ENOTFOUND (no value) comes back with no
 * message; a ciphertext that fails its check is logged as an error of
 * `action` (read, export), and no value is shown.  On failure the caller
 * wipes what alloc handed out.  Read and export share it. */
static int shown_value(char **out, size_t *out_len, vault_session *s, const char *action,
                       const uint8_t id[VAULT_ID_BYTES], const record_row *rec,
                       const vp_field *f, const vp_decision *d, record_alloc_fn alloc,
                       void *arg, int64_t now)
{
    int rc = VAULT_OK;
    char *pt = NULL, *masked = NULL, *to;
    size_t ptlen = 0, mlen = 0;
    record_ctx rx = vault__record_ctx(s->v);

    *out = NULL;
    rc = record_open(&pt, &ptlen, &rx, rec, f->name, alloc, arg);
    *out = pt;
    if (rc == VAULT_ENOTFOUND) { /* no value stored: not an error */
        vault__err_clear();
        goto cleanup;
    }
    if (rc == VAULT_EINTEGRITY) { /* logged; the call returns no value at all */
        rc = log_refusal(s->v, s, action, id, f->name, "ciphertext failed its integrity check",
                         NULL, AF_OUTCOME_ERROR, rc);
        goto cleanup;
    }
    GUARD(rc);
    if (d->effect == VAULT_EFFECT_ALLOW) {
        *out_len = ptlen;
        goto cleanup;
    }
    if (d->mask == VAULT_MASK_PSEUDONYM) {
        /* Keyed by the reading department and the field: the same value
         * shows the same pseudonym to one department, an unrelated one to
         * another (docs/masks.md "pseudonym"). */
        masked = vc_malloc(VC_PSEUDONYM_SIZE);
        ENSURE(masked, VAULT_ENOMEM, "out of secure memory");
        GUARD(vc_pseudonym(masked, &mlen, keyring_pseudonym_root(s->v->keys), s->department,
                           f->name, pt, ptlen));
    } else {
        GUARD(mask_apply(&masked, &mlen, d->mask == VAULT_MASK_NONE ? VAULT_MASK_REDACT : d->mask,
                         pt, ptlen, (time_t)now));
    }
    vc_wipe(pt, ptlen + 1);
    to = alloc(arg, mlen + 1);
    ENSURE(to, VAULT_ENOMEM, "out of secure memory");
    memcpy(to, masked, mlen);
    to[mlen] = '\0';
    *out = to;
    *out_len = mlen;
cleanup:
    vc_free(masked);
    return rc;
}

/* Fill one result item: decide, then the value shown. */
static int deny_alarm(unsigned *flags, vault_session *s, const uint8_t id[VAULT_ID_BYTES],
                      const vp_decision *d, int64_t now);

static int read_field(vault_result *r, result_item *it, vault_session *s,
                      const uint8_t id[VAULT_ID_BYTES], const char *canon,
                      const record_row *rec, const vp_field *f, int64_t now, unsigned *flags)
{
    int rc = VAULT_OK;
    vp_decision d;
    char *pt = NULL;
    size_t len = 0;

    snprintf(it->field, sizeof it->field, "%s", f->name);
    (void)decide(&d, s, VAULT_ACTION_READ, canon, rec->jurisdiction, f->name);
    policy_reason_fill(&it->reason, &d);
    it->effect = d.effect;
    GUARD(deny_alarm(flags, s, id, &d, now));
    if (d.effect == VAULT_EFFECT_DENY)
        goto cleanup;
    /* Opened straight into the result's arena, past its committed end,
     * and kept there. */
    rc = shown_value(&pt, &len, s, "read", id, rec, f, &d, result_arena_alloc, r, now);
    if (rc == VAULT_ENOTFOUND) {
        rc = VAULT_OK;
        goto cleanup;
    }
    GUARD(rc);
    it->present = 1;
    result_arena_commit(r, it, len);
    pt = NULL;
cleanup:
    /* A failure may leave plaintext past the arena's committed end. */
    if (pt && r->arena)
        vc_wipe(r->arena + r->used, r->cap - r->used);
    return rc;
}

/* A scratch allocator for shown_value: one guarded buffer, replaced (and
 * wiped) by the next request. */
typedef struct scratch {
    char *p;
} scratch;

static char *scratch_alloc(void *arg, size_t n)
{
    scratch *sc = arg;

    vc_free(sc->p);
    sc->p = vc_malloc(n);
    return sc->p;
}

/* A quota used up with `over: alert`: the access goes on, *flags gets
 * AF_FLAG_ALERT and an alarm (kind "quota") is raised when the access
 * commits.  id is the record (NULL for a search). */
static int quota_alert(unsigned *flags, vault_session *s, const vp_quota *q,
                       const uint8_t *id, int64_t used, int64_t now)
{
    vault__alarm a;

    *flags |= AF_FLAG_ALERT;
    memset(&a, 0, sizeof a);
    snprintf(a.kind, sizeof a.kind, "quota");
    snprintf(a.name, sizeof a.name, "%s", q->id);
    snprintf(a.user, sizeof a.user, "%s", s->user);
    snprintf(a.role, sizeof a.role, "%s", s->role);
    snprintf(a.department, sizeof a.department, "%s", s->department);
    snprintf(a.purpose, sizeof a.purpose, "%s", s->purpose);
    if (id)
        vault__id_format(a.record, id);
    a.count = used + 1;
    a.limit = q->searches;
    a.per = q->per;
    a.time = now;
    return op_alarm_add(s->v, &a);
}

/* The policy's access quotas for the subject (policy_read_quotas), in the
 * read's own transaction (two processes bursting at once are counted as
 * one: the counting write takes the write lock, and a stale snapshot
 * starts over).  A read of a record counts one use of each reads quota,
 * and one resident of each residents quota unless the user read that
 * record already in the quota's window (the use then moves to now).  Over
 * a quota: deny (the read refused and logged) or alert (quota_alert). */
#define READ_QUOTAS_MAX 16
static int read_quotas(unsigned *flags, vault_session *s, const uint8_t id[VAULT_ID_BYTES],
                       const char *action, int64_t now)
{
    int rc = VAULT_OK, seen;
    const vp_quota *qs[READ_QUOTAS_MAX];
    size_t n = policy_read_quotas(qs, READ_QUOTAS_MAX, s->v->policy, s->role, s->department,
                                  s->purpose), i;
    int64_t used = 0;
    char per[32], why[256];

    for (i = 0; i < n; i++) {
        const vp_quota *q = qs[i];
        int residents = q->kind == VP_QUOTA_RESIDENTS;
        const char *what = residents ? "residents" : "reads";

        seen = 0;
        if (residents)
            GUARD(store_quota_count_records(&used, &seen, s->v->db, q->id, s->user, now - q->per,
                                            id));
        else
            GUARD(store_quota_count(&used, s->v->db, q->id, s->user, now - q->per));
        if (!seen && used >= q->searches) {
            policy_duration_text(per, sizeof per, q->per);
            if (q->over == VP_OVER_DENY) {
                snprintf(why, sizeof why, "%s quota %s used up (%lld %s per %s)",
                         residents ? "residents" : "read", q->id, (long long)q->searches, what,
                         per);
                rc = vault__err(VAULT_EDENIED, "%s denied: quota '%s' is used up (%lld %s per "
                                "%s for each user)", action, q->id, (long long)q->searches, what,
                                per);
                return log_refusal(s->v, s, action, id, NULL, NULL, why, AF_OUTCOME_DENIED, rc);
            }
            GUARD(quota_alert(flags, s, q, id, used, now));
        }
        if (residents)
            GUARD(store_quota_add_record(s->v->db, q->id, s->user, id, now - q->per, now));
        else
            GUARD(store_quota_add(s->v->db, q->id, s->user, now - q->per, now));
    }
cleanup:
    return rc;
}

/* An access that touches a canary (a decoy record, canary.h): its entry
 * gets AF_FLAG_CANARY in *flags and an alarm (kind "canary") is raised
 * when the access commits.  Nothing for another record. */
static int canary_touch(unsigned *flags, vault_session *s, const uint8_t id[VAULT_ID_BYTES],
                        const char *action, int64_t now)
{
    vault__alarm a;

    if (!canary__is(s->v, id))
        return VAULT_OK;
    *flags |= AF_FLAG_CANARY;
    memset(&a, 0, sizeof a);
    snprintf(a.kind, sizeof a.kind, "canary");
    snprintf(a.name, sizeof a.name, "%s", action);
    snprintf(a.user, sizeof a.user, "%s", s->user);
    snprintf(a.role, sizeof a.role, "%s", s->role);
    snprintf(a.department, sizeof a.department, "%s", s->department);
    snprintf(a.purpose, sizeof a.purpose, "%s", s->purpose);
    vault__id_format(a.record, id);
    a.count = 1;
    a.time = now;
    return op_alarm_add(s->v, &a);
}

/* A denial decided by a rule with `alarm: true`: the entry gets
 * AF_FLAG_ALERT and an alarm (kind "deny", name the rule) is raised when
 * the access commits (the denial's entry is committed with the rest). */
static int deny_alarm(unsigned *flags, vault_session *s, const uint8_t id[VAULT_ID_BYTES],
                      const vp_decision *d, int64_t now)
{
    vault__alarm a;

    if (d->effect != VAULT_EFFECT_DENY || !d->alarm)
        return VAULT_OK;
    *flags |= AF_FLAG_ALERT;
    memset(&a, 0, sizeof a);
    snprintf(a.kind, sizeof a.kind, "deny");
    snprintf(a.name, sizeof a.name, "%s", d->rule_id ? d->rule_id : "");
    snprintf(a.user, sizeof a.user, "%s", s->user);
    snprintf(a.role, sizeof a.role, "%s", s->role);
    snprintf(a.department, sizeof a.department, "%s", s->department);
    snprintf(a.purpose, sizeof a.purpose, "%s", s->purpose);
    vault__id_format(a.record, id);
    a.count = 1;
    a.time = now;
    return op_alarm_add(s->v, &a);
}

/* Read one record's fields and append its audit entry, inside the
 * caller's write transaction. */
static int get_one(vault_result **out, vault_session *s, const char *record_id,
                   const char *const *fields, size_t n, int64_t now)
{
    int rc = VAULT_OK, any = 0, glass = 0;
    unsigned alert = 0;
    uint8_t id[VAULT_ID_BYTES];
    record_row rec = {0};
    vault_result *r = NULL;
    const vp_field *f;
    char canon[VAULT_ID_HEX_SIZE];
    size_t i;
    af_field *af = NULL;
    af_entry e;

    GUARD(result_new(&r, n));
    af = calloc(n ? n : 1, sizeof *af);
    ENSURE(af, VAULT_ENOMEM, "out of memory");
    GUARD(record_lookup(id, &rec, s->v, s, "read", record_id));
    vault__id_format(canon, id);
    GUARD(read_quotas(&alert, s, id, "read", now));
    GUARD(canary_touch(&alert, s, id, "read", now));
    for (i = 0; i < n; i++) {
        if (fields)
            GUARD(field_logged(&f, s, "read", id, fields[i]));
        else
            f = policy_field_at(s->v->policy, i);
        GUARD(read_field(r, &r->items[i], s, id, canon, &rec, f, now, &alert));
        af[i].name = r->items[i].field;
        af[i].effect = r->items[i].effect;
        af[i].reason = r->items[i].reason.text;
        any |= r->items[i].effect != VAULT_EFFECT_DENY;
        glass |= grants__is_break_glass(r->items[i].reason.grant);
    }
    audit_entry_init(&e, s->v, s, "read");
    e.has_record = 1;
    memcpy(e.record_id, id, VAULT_ID_BYTES);
    e.fields = af;
    e.nfields = n;
    e.outcome = any || n == 0 ? AF_OUTCOME_OK : AF_OUTCOME_DENIED;
    e.flags = (glass ? AF_FLAG_BREAK_GLASS : 0) | alert;
    GUARD(audit_append(s->v, &e));
    *out = r;
    r = NULL;
cleanup:
    record_row_free(&rec);
    free(af);
    vault_result_free(r);
    return rc;
}

int vault_record_get_batch(vault_result **out, vault_session *s, const char *const *record_ids,
                           size_t n, const char *const *fields, size_t nfields)
{
    if (s && s->v->remote)
        return client_record_get_batch(out, s, record_ids, n, fields, nfields);
    int rc = VAULT_OK, entered = 0, attempt, reloaded = 0;
    size_t i, nf = 0;
    int64_t now = vault__now();

    ENSURE(out && (record_ids || n == 0), VAULT_EINVALID, "missing output or record ids");
    for (i = 0; i < n; i++)
        out[i] = NULL;
    ENSURE(s, VAULT_EINVALID, "no session");
    GUARD(vault__enter_audited(s->v));
    entered = 1;
    /* The values are read and their entries are sealed at the commit,
     * before any value leaves the library; if they can't be written the
     * caller gets the error and no values (fail closed).  The read does
     * not hold the write lock (other readers and, on PostgreSQL, readers
     * of other shards' logs go on); when another connection changed what
     * it decided by meanwhile (the policy, grants or keys) the commit
     * fails and the whole read starts over, the last time with the write
     * lock from the beginning.  Each beginning picks up the policy and
     * grants as they are then, so the field list is read after it. */
    for (attempt = 1;; attempt++) {
        /* a begin that found the policy or grants changed since the
         * handle loaded them (VAULT_EBUSY) starts over too, reloaded
         * first: the first time not counted as a try */
        rc = op_begin(s->v, attempt < OP_AUDITED_TRIES ? OP_AUDITED_READ : OP_WRITE);
        if (rc == VAULT_EBUSY && !reloaded) {
            reloaded = 1;
            attempt--;
            vault__err_clear();
            GUARD(op_refresh(s->v));
            continue;
        }
        if (rc == VAULT_OK) {
            nf = fields ? nfields : policy_field_count(s->v->policy);
            ENSURE(nf <= AF_FIELDS_MAX, VAULT_ELIMIT, "at most %d fields at once", AF_FIELDS_MAX);
        }
        for (i = 0; i < n && rc == VAULT_OK; i++)
            rc = get_one(&out[i], s, record_ids[i], fields, nf, now);
        /* The seal may come early in a long batch (audit_append), or at
         * the commit: either fails with VAULT_EBUSY when what the read
         * decided by changed meanwhile. */
        if (rc == VAULT_OK)
            rc = op_commit(s->v);
        if (rc != VAULT_EBUSY || attempt >= OP_AUDITED_TRIES)
            break;
        op_rollback(s->v);
        for (i = 0; i < n; i++) { /* nothing read in the stale attempt is released */
            vault_result_free(out[i]);
            out[i] = NULL;
        }
        vault__err_clear();
        GUARD(op_refresh(s->v));
        rc = VAULT_OK;
    }
    GUARD(rc);
cleanup:
    vault__exit(s ? s->v : NULL, entered);
    if (rc < 0)
        for (i = 0; out && i < n; i++) {
            vault_result_free(out[i]);
            out[i] = NULL;
        }
    return rc;
}

int vault_record_get(vault_result **out, vault_session *s, const char *record_id,
                     const char *const *fields, size_t nfields)
{
    if (!out)
        return vault__err(VAULT_EINVALID, "missing output");
    return vault_record_get_batch(out, s, &record_id, 1, fields, nfields);
}

/* A search confirms or refutes a guess of the value searched for, so it
 * reveals a record only where the subject's read of that field is plaintext
 * allow; where the read is masked, only under a policy search quota, which
 * every such search counts against (docs/policy-format.md "Quotas").
 * Before the search: one unit of the subject's quota, or a refusal when it
 * is used up or when no quota lets a masked read be searched.  A refused
 * search and every candidate that is not confirmed are logged. */
static int find_quota(const vp_quota **out, unsigned *flags, vault_session *s, const vp_field *f,
                      int64_t now, char *note, size_t note_cap)
{
    int rc = VAULT_OK;
    const vp_quota *q;
    vp_decision d, rd;
    int64_t used = 0;
    char why[VAULT_REASON_TEXT_SIZE + 128];
    vault_reason reason;

    *out = NULL;
    note[0] = '\0';
    /* Refuse outright when no record even in the subject's own
     * jurisdiction could be searched; otherwise filter record by record. */
    (void)decide(&d, s, VAULT_ACTION_SEARCH, NULL, s->jurisdiction, f->name);
    if (d.effect == VAULT_EFFECT_DENY) {
        rc = require_allow(&d, VAULT_ACTION_SEARCH, f->name);
        return session__log_denial(s, "search", NULL, f->name, &d, rc);
    }
    q = policy_search_quota(s->v->policy, s->role, s->department, s->purpose, f->name);
    if (!q) {
        (void)decide(&rd, s, VAULT_ACTION_READ, NULL, s->jurisdiction, f->name);
        if (rd.effect == VAULT_EFFECT_ALLOW)
            return VAULT_OK;
        policy_reason_fill(&reason, &rd);
        snprintf(why, sizeof why, "read of %s is not plaintext (%s) and no search quota covers it",
                 f->name, reason.text);
        rc = vault__err(VAULT_EDENIED, "search denied for %s: a search would confirm a value "
                        "the subject may not read, and the policy gives role '%s' no search "
                        "quota for it", f->name, s->role);
        return log_refusal(s->v, s, "search", NULL, f->name, why, NULL, AF_OUTCOME_DENIED, rc);
    }
    GUARD(store_quota_count(&used, s->v->db, q->id, s->user, now - q->per));
    if (used >= q->searches && q->over == VP_OVER_ALERT) {
        /* over: alert: the search goes on, each of its entries flagged */
        GUARD(quota_alert(flags, s, q, NULL, used, now));
    } else if (used >= q->searches) {
        char per[32];
        policy_duration_text(per, sizeof per, q->per); /* as the policy says it */
        snprintf(why, sizeof why, "search quota %s used up (%lld per %s)", q->id,
                 (long long)q->searches, per);
        rc = vault__err(VAULT_EDENIED, "search denied for %s: quota '%s' is used up (%lld "
                        "searches per %s for each user)", f->name, q->id,
                        (long long)q->searches, per);
        return log_refusal(s->v, s, "search", NULL, f->name, why, NULL, AF_OUTCOME_DENIED, rc);
    }
    GUARD(store_quota_add(s->v->db, q->id, s->user, now - q->per, now));
    snprintf(note, note_cap, "quota %s: %lld of %lld", q->id, (long long)used + 1,
             (long long)q->searches);
    *out = q;
cleanup:
    return rc;
}

int vault_record_find(char **out, size_t *out_count, vault_session *s, const char *field,
                      const char *value, size_t value_len)
{
    if (s && s->v->remote)
        return client_record_find(out, out_count, s, field, value, value_len);
    int rc = VAULT_OK, entered = 0, confirmed;
    const vp_field *f;
    const vp_quota *q = NULL;
    uint8_t *ids = NULL;
    size_t n = 0, i, kept = 0;
    char *hex = NULL;
    char canon[VAULT_ID_HEX_SIZE], note[VAULT_NAME_MAX + 64];
    char why_text[VAULT_REASON_TEXT_SIZE + 96];
    record_row rec = {0};
    vp_decision d, rd;
    af_entry e;
    af_field af;
    vault_reason why, rwhy;
    int64_t now = vault__now();
    unsigned alert = 0; /* AF_FLAG_ALERT: a search quota used up, over: alert */

    memset(&af, 0, sizeof af);
    ENSURE(out && out_count, VAULT_EINVALID, "missing output");
    *out = NULL;
    *out_count = 0;
    GUARD(enter(s));
    entered = 1;
    ENSURE(field && value, VAULT_EINVALID, "missing field or value");
    GUARD(op_begin(s->v, OP_WRITE));
    GUARD(field_logged(&f, s, "search", NULL, field));
    GUARD(find_quota(&q, &alert, s, f, now, note, sizeof note));
    {
        record_ctx rx = vault__record_ctx(s->v);
        rc = record_find(&ids, &n, &rx, f, value, value_len);
    }
    if (rc < 0 && rc != VAULT_ENOMEM) {
        snprintf(why_text, sizeof why_text, "%s", vault_error_last());
        rc = log_refusal(s->v, s, "search", NULL, f->name, "refused", why_text,
                         AF_OUTCOME_DENIED, rc);
        goto cleanup;
    }
    GUARD(rc);
    hex = malloc(n ? n * VAULT_ID_HEX_SIZE : 1);
    ENSURE(hex, VAULT_ENOMEM, "out of memory");
    /* One entry per candidate, so the resident's own report shows that
     * someone found them (or was refused); one entry when none. */
    for (i = 0; i < n; i++) {
        const uint8_t *rid = ids + i * VAULT_ID_BYTES;
        {
            record_ctx rx = vault__record_ctx(s->v);

            GUARD(record_load(&rec, &rx, rid));
        }
        vault__route(s->v, rid, rec.jurisdiction);
        vault__id_format(canon, rid);
        (void)decide(&d, s, VAULT_ACTION_SEARCH, canon, rec.jurisdiction, f->name);
        (void)decide(&rd, s, VAULT_ACTION_READ, canon, rec.jurisdiction, f->name);
        confirmed = d.effect != VAULT_EFFECT_DENY &&
                    (rd.effect == VAULT_EFFECT_ALLOW || (q && rd.effect == VAULT_EFFECT_MASK));
        policy_reason_fill(&why, &d);
        audit_entry_init(&e, s->v, s, "search");
        e.has_record = 1;
        memcpy(e.record_id, rid, VAULT_ID_BYTES);
        af.name = f->name;
        af.effect = confirmed ? d.effect : VAULT_EFFECT_DENY;
        af.reason = why.text;
        if (confirmed && d.effect == VAULT_EFFECT_ALLOW && rd.effect != VAULT_EFFECT_ALLOW)
            af.effect = VAULT_EFFECT_MASK; /* confirmed under a quota, read masked */
        if (!confirmed && d.effect != VAULT_EFFECT_DENY) {
            policy_reason_fill(&rwhy, &rd);
            snprintf(why_text, sizeof why_text, "not confirmed: read is not plaintext (%s)",
                     rwhy.text);
            af.reason = why_text;
        }
        e.fields = &af;
        e.nfields = 1;
        e.outcome = confirmed ? AF_OUTCOME_OK : AF_OUTCOME_DENIED;
        e.detail = note[0] ? note : NULL;
        {
            unsigned cf = 0;
            GUARD(canary_touch(&cf, s, rid, "search", now));
            e.flags |= cf | alert;
        }
        GUARD(audit_append(s->v, &e));
        if (!confirmed)
            continue;
        memcpy(hex + kept * VAULT_ID_HEX_SIZE, canon, VAULT_ID_HEX_SIZE);
        kept++;
    }
    if (kept == 0) {
        audit_entry_init(&e, s->v, s, "search");
        af.name = f->name;
        af.effect = VAULT_EFFECT_ALLOW;
        af.reason = "";
        e.fields = &af;
        e.nfields = 1;
        e.detail = n ? "no record confirmed" : "no record found";
        e.flags |= alert;
        if (note[0]) {
            snprintf(why_text, sizeof why_text, "%s; %s", e.detail, note);
            e.detail = why_text;
        }
        GUARD(audit_append(s->v, &e));
    }
    GUARD(op_commit(s->v));
    *out = hex;
    *out_count = kept;
    hex = NULL;
cleanup:
    record_row_free(&rec);
    vault__exit(s ? s->v : NULL, entered);
    free(ids);
    free(hex);
    return rc;
}

int vault_record_jurisdiction(char *out, size_t out_size, vault_session *s, const char *record_id)
{
    if (s && s->v->remote)
        return client_record_jurisdiction(out, out_size, s, record_id);
    int rc = VAULT_OK, entered = 0;
    uint8_t id[VAULT_ID_BYTES];
    record_row rec = {0};
    char canon[VAULT_ID_HEX_SIZE];

    ENSURE(out && out_size > VAULT_JURISDICTION_MAX, VAULT_EINVALID, "output buffer too small");
    GUARD(enter(s));
    entered = 1;
    GUARD(op_begin(s->v, OP_WRITE));
    GUARD(record_lookup(id, &rec, s->v, s, "jurisdiction", record_id));
    vault__id_format(canon, id);
    if (!record_visible(s, canon, &rec)) {
        rc = vault__err(VAULT_EDENIED, "jurisdiction denied: role '%s' may not read any field "
                        "of the record for purpose '%s'", s->role, s->purpose);
        rc = log_refusal(s->v, s, "jurisdiction", id, NULL, NULL,
                         "no field of the record may be read", AF_OUTCOME_DENIED, rc);
        goto cleanup;
    }
    GUARD(log_query(s, "jurisdiction", id, NULL, NULL, "record jurisdiction shown"));
    GUARD(op_commit(s->v));
    snprintf(out, out_size, "%s", rec.jurisdiction);
cleanup:
    record_row_free(&rec);
    vault__exit(s ? s->v : NULL, entered);
    return rc;
}

int vault_record_erase(vault_session *s, const char *record_id)
{
    if (s && s->v->remote)
        return client_record_erase(s, record_id);
    int rc = VAULT_OK, entered = 0;
    uint8_t id[VAULT_ID_BYTES];
    record_row rec = {0};
    vp_decision d;
    char canon[VAULT_ID_HEX_SIZE];
    af_entry e;
    vault_reason why;

    GUARD(enter(s));
    entered = 1;
    GUARD(op_begin(s->v, OP_WRITE));
    GUARD(record_lookup(id, &rec, s->v, s, "erase", record_id));
    vault__id_format(canon, id);
    (void)decide(&d, s, VAULT_ACTION_ERASE, canon, rec.jurisdiction, NULL);
    if (d.effect != VAULT_EFFECT_ALLOW) {
        rc = require_allow(&d, VAULT_ACTION_ERASE, "the record");
        rc = session__log_denial(s, "erase", id, NULL, &d, rc);
        goto cleanup;
    }
    {
        record_ctx rx = vault__record_ctx(s->v);
        GUARD(record_erase(&rx, id));
    }
    policy_reason_fill(&why, &d);
    if (rec.rkey_state == RKEY_ERASED) { /* the rows of an erasure cut short */
        size_t n = strlen(why.text);

        snprintf(why.text + n, sizeof why.text - n, "%s",
                 "; completes an erasure whose key was already destroyed");
    }
    audit_entry_init(&e, s->v, s, "erase");
    e.has_record = 1;
    memcpy(e.record_id, id, VAULT_ID_BYTES);
    e.detail = why.text;
    GUARD(audit_append(s->v, &e));
    GUARD(op_commit(s->v));
cleanup:
    record_row_free(&rec);
    vault__exit(s ? s->v : NULL, entered);
    return rc;
}

int vault_record_export(char **out, vault_session *s, const char *record_id)
{
    if (s && s->v->remote)
        return client_record_export(out, s, record_id);
    int rc = VAULT_OK, entered = 0;
    uint8_t id[VAULT_ID_BYTES];
    record_row rec = {0};
    char canon[VAULT_ID_HEX_SIZE];
    size_t i, n, nf = 0;
    vp_decision d;
    const vp_field *f;
    char *pt = NULL, *dump = NULL;
    size_t ptlen = 0;
    scratch sc = {NULL};
    json_t *doc = NULL, *fields = NULL;
    af_field *af = NULL;
    vault_reason *reasons = NULL;
    af_entry e;
    int64_t now = vault__now();
    int any = 0;
    unsigned alert = 0;

    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    GUARD(enter(s));
    entered = 1;
    GUARD(op_begin(s->v, OP_WRITE));
    GUARD(record_lookup(id, &rec, s->v, s, "export", record_id));
    vault__id_format(canon, id);
    GUARD(read_quotas(&alert, s, id, "export", now));
    GUARD(canary_touch(&alert, s, id, "export", now));
    n = policy_field_count(s->v->policy);
    af = calloc(n ? n : 1, sizeof *af);
    reasons = calloc(n ? n : 1, sizeof *reasons);
    fields = json_object();
    ENSURE(af && reasons && fields, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        f = policy_field_at(s->v->policy, i);
        (void)decide(&d, s, VAULT_ACTION_EXPORT, canon, rec.jurisdiction, f->name);
        GUARD(deny_alarm(&alert, s, id, &d, now));
        if (d.effect == VAULT_EFFECT_DENY)
            continue;
        any = 1;
        rc = shown_value(&pt, &ptlen, s, "export", id, &rec, f, &d, scratch_alloc, &sc, now);
        if (rc == VAULT_ENOTFOUND) {
            rc = VAULT_OK;
            continue;
        }
        GUARD(rc);
        json_object_set_new(fields, f->name, json_stringn(pt, ptlen));
        policy_reason_fill(&reasons[nf], &d);
        af[nf].name = f->name;
        af[nf].effect = d.effect;
        af[nf].reason = reasons[nf].text;
        nf++;
    }
    if (!any) { /* not one field may be exported by this subject */
        (void)decide(&d, s, VAULT_ACTION_EXPORT, canon, rec.jurisdiction,
                     policy_field_at(s->v->policy, 0)->name);
        rc = vault__err(VAULT_EDENIED, "export denied: no field of the record may be exported "
                                       "by role '%s' for purpose '%s'", s->role, s->purpose);
        rc = session__log_denial(s, "export", id, NULL, &d, rc);
        goto cleanup;
    }
    doc = json_pack("{s:s, s:s, s:O}", "record", canon, "jurisdiction", rec.jurisdiction,
                    "fields", fields);
    ENSURE(doc, VAULT_ENOMEM, "out of memory");
    audit_entry_init(&e, s->v, s, "export");
    e.has_record = 1;
    memcpy(e.record_id, id, VAULT_ID_BYTES);
    e.fields = af;
    e.nfields = nf;
    e.outcome = nf ? AF_OUTCOME_OK : AF_OUTCOME_DENIED;
    e.flags = alert;
    GUARD(audit_append(s->v, &e));
    GUARD(op_commit(s->v));
    dump = json_dumps(doc, JSON_INDENT(2));
    ENSURE(dump, VAULT_ENOMEM, "out of memory");
    *out = dump;
    dump = NULL;
cleanup:
    record_row_free(&rec);
    vault__exit(s ? s->v : NULL, entered);
    vc_free(sc.p); /* pt points into it */
    /* jansson's copies are wiped on free: vault_init installs a wiping
     * allocator for it. */
    json_decref(doc);
    json_decref(fields);
    free(af);
    free(reasons);
    return rc;
}

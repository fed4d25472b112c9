/* Policy: parse YAML (policy_yaml.c) into a compiled, immutable form and
 * decide (policy.c).  A compiled policy is never modified after
 * policy_parse returns, so one may be shared between threads freely.
 * Format: docs/policy-format.md.  Semantics: DESIGN.md §5. */
#ifndef VAULT_POLICY_H
#define VAULT_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "mask.h"

#define VP_SOURCE_MAX (1024 * 1024) /* largest policy file accepted, bytes */

typedef struct vault_policy vault_policy;

typedef struct vp_field {
    const char *name;
    int grade;            /* index into the grades, 0 = least sensitive */
    vault_mask_kind mask; /* VAULT_MASK_NONE when none declared */
    int index_exact;      /* 1 for `index: exact` (blind index kept) */
    const char *category; /* PIPL category tag, or NULL */
} vp_field;

/* Parse and validate.  On success *out is the compiled policy.  Whether it
 * succeeds or not, *out_report (if out_report is not NULL) receives a
 * malloc'ed text with every diagnostic, one per line, as
 *   FILE:LINE:COL: error: message
 *   FILE:LINE:COL: warning: message
 * (an empty string when there are none).  Returns 0, or VAULT_EPOLICY with
 * vault_error_last() set to the first error line (without the "error: "),
 * VAULT_ELIMIT when the text exceeds VP_SOURCE_MAX or nesting/count limits. */
int policy_parse(vault_policy **out, char **out_report, const char *filename,
                 const char *text, size_t len) VAULT_MUST_CHECK;
/* Read `path` (at most VP_SOURCE_MAX bytes) and policy_parse it.  *out_text
 * (may be NULL) receives the file's bytes, malloc'ed and NUL-terminated, and
 * *out_len their length, so the caller can store exactly what was parsed. */
int policy_load_file(vault_policy **out, char **out_report, char **out_text, size_t *out_len,
                     const char *path) VAULT_MUST_CHECK;
void policy_free(vault_policy *p);

/* The policy's `name:` and the SHA-256 of its source bytes. */
const char *policy_name(const vault_policy *p);
const uint8_t *policy_hash(const vault_policy *p); /* 32 bytes */
const char *policy_filename(const vault_policy *p);

/* Grades, ordered from least (0) to most sensitive. */
size_t policy_grade_count(const vault_policy *p);
const char *policy_grade_name(const vault_policy *p, size_t i);
int policy_grade_index(const vault_policy *p, const char *name); /* -1 if none */

size_t policy_field_count(const vault_policy *p);
const vp_field *policy_field_at(const vault_policy *p, size_t i);
const vp_field *policy_field(const vault_policy *p, const char *name); /* NULL if none */

/* Declared names (1 when declared). */
int policy_has_role(const vault_policy *p, const char *name);
int policy_has_department(const vault_policy *p, const char *name);
int policy_has_purpose(const vault_policy *p, const char *name);
size_t policy_role_count(const vault_policy *p);
const char *policy_role_name(const vault_policy *p, size_t i);
size_t policy_department_count(const vault_policy *p);
const char *policy_department_name(const vault_policy *p, size_t i);
size_t policy_purpose_count(const vault_policy *p);
const char *policy_purpose_name(const vault_policy *p, size_t i);

/* 1 when jurisdiction path `inner` equals `outer` or lies below it, on
 * path-segment boundaries ("a/b" is inside "a", "a/bc" is not inside "a/b"). */
int policy_jurisdiction_within(const char *inner, const char *outer);

/* ---- Grants as the decision engine sees them (issued by grants.c) ---- */

typedef struct vp_grant {
    const char *id;
    /* Subject pattern: every non-NULL attribute must match; at least one set. */
    const char *user;
    const char *role;
    const char *department;
    int effect;           /* VAULT_EFFECT_ALLOW or VAULT_EFFECT_MASK */
    unsigned actions;     /* bit (1u << VAULT_ACTION_*) per action granted */
    /* Field selector: listed fields, or grades grade_min..grade_max. */
    const char *const *fields;
    size_t nfields;
    int grade_min, grade_max; /* used when nfields == 0 */
    /* Scope: listed record ids (hex), or a jurisdiction subtree. */
    const char *const *records;
    size_t nrecords;
    const char *jurisdiction; /* used when nrecords == 0 */
    const char *const *purposes; /* empty = any purpose */
    size_t npurposes;
    int64_t not_before, not_after; /* unix seconds; applies in [not_before, not_after) */
} vp_grant;

/* An indexed, immutable copy of the live grants, for fast decisions. */
typedef struct vp_grantset vp_grantset;
int policy_grantset_new(vp_grantset **out, const vault_policy *p,
                        const vp_grant *grants, size_t ngrants) VAULT_MUST_CHECK;
void policy_grantset_free(vp_grantset *g);

/* ---- Decisions ---- */

typedef struct vp_subject {
    const char *user;
    const char *role;
    const char *department;
    const char *jurisdiction;
} vp_subject;

typedef struct vp_request {
    const vp_subject *subject;
    int action;                      /* VAULT_ACTION_* */
    const char *purpose;
    const char *record_id;           /* hex, or NULL */
    const char *record_jurisdiction; /* the record's path (for create: the new one) */
    const char *field;               /* NULL for record-level actions */
    int64_t now;                     /* unix seconds, for grants */
} vp_request;

#define VP_BY_DEFAULT 0 /* no rule or grant matched: default deny */
#define VP_BY_RULE 1
#define VP_BY_GRANT 2
#define VP_BY_ERROR 3 /* evaluation failed: fail closed (deny) */

typedef struct vp_decision {
    int effect;           /* VAULT_EFFECT_* */
    int by;               /* VP_BY_* */
    vault_mask_kind mask; /* for VAULT_EFFECT_MASK: the field's mask */
    const char *rule_id;  /* VP_BY_RULE: the deciding rule */
    const char *file;     /* VP_BY_RULE: where it is */
    unsigned line;
    const char *grant_id; /* VP_BY_GRANT */
    /* Added: the request's action and field name (NULL for record-level
     * actions or an undeclared field), and for VP_BY_ERROR a short static
     * text saying what failed; they let policy_reason_fill write a full
     * sentence. */
    int action;
    const char *field;
    const char *detail;
    int alarm;            /* VP_BY_RULE deny from a rule with `alarm: true` */
} vp_decision;

/* Decide.  Never fails open: on any error the decision is a deny with
 * by = VP_BY_ERROR and the return value is the error.  `g` may be NULL.
 * Pointers in *out point into p and g and live as long as they do. */
int policy_decide(vp_decision *out, const vault_policy *p, const vp_grantset *g,
                  const vp_request *req);

/* Fill the public reason struct from a decision. */
void policy_reason_fill(vault_reason *out, const vp_decision *d);
/* 1 when policy_reason_fill writes the same text for a and b (an audit
 * entry's fields decided by one rule or grant format it once). */
int policy_reason_same(const vp_decision *a, const vp_decision *b);

/* Every rule and grant considered for `req`, one line each, saying whether
 * it matched and if not why; last line the decision.  malloc'ed. */
int policy_explain(char **out, const vault_policy *p, const vp_grantset *g,
                   const vp_request *req) VAULT_MUST_CHECK;
/* The same; hide_record_jurisdiction = 1 leaves out the record's path and
 * whether each scope holds (for a subject that may not see the record). */
int policy_explain_for(char **out, const vault_policy *p, const vp_grantset *g,
                       const vp_request *req, int hide_record_jurisdiction) VAULT_MUST_CHECK;

/* Who may read `field` of a record at `record_jurisdiction` (NULL: any
 * record) and id `record_id` (may be NULL): one line per (role, department,
 * purpose) cell with an allow or mask, naming effect, scope and the rule or
 * grant (with its expiry).  As a JSON array when as_json.  malloc'ed. */
int policy_who_can(char **out, const vault_policy *p, const vp_grantset *g,
                   const char *field, const char *record_id,
                   const char *record_jurisdiction, int64_t now, int as_json) VAULT_MUST_CHECK;

/* The (role, department, field) read cells whose best effect differs
 * between old and new, one line each: "+ role dept field mask->allow" for a
 * gain, "- role dept field allow->deny" for a loss; then the `apps:`
 * bounds gained or lost (policy_apps.c): "+ app NAME added: ...", "- app
 * NAME removed: ...", "+ app NAME department D", "- app NAME jurisdiction
 * J", "+ app NAME officer_actions false->true", ...; then the roles
 * `auditors:` gains ("+ auditor ROLE") or loses ("- auditor ROLE"); then
 * the witnesses pinned or dropped ("+ witness NAME", "- witness NAME",
 * "~ witness NAME url A->B") and "~ witness_quorum A->B".
 * malloc'ed ("" when nothing changes). */
int policy_diff(char **out, const vault_policy *old_p, const vault_policy *new_p) VAULT_MUST_CHECK;

/* ---- Added: grant limits, break-glass and helpers (policy.c, policy_grants.c) ---- */

/* What officers of one role may grant (`grant_limits:`). */
typedef struct vp_grant_limit {
    const char *issuer_role;
    int max_grade;        /* most sensitive grade they may grant */
    int64_t max_duration; /* seconds, for not_after - not_before */
    /* The grant's subject pattern must name one of these roles (when
     * nrecipient_roles > 0) and one of these departments (when
     * nrecipient_departments > 0). */
    const char *const *recipient_roles;
    size_t nrecipient_roles;
    const char *const *recipient_departments;
    size_t nrecipient_departments;
    int approval_grade; /* a grant reaching this grade needs a second,
                           different officer's approval; -1: never */
    int self_grant;     /* `self_grant: true`: may grant to a pattern that
                           matches the issuer (default: no) */
    unsigned line;      /* where it is declared */
} vp_grant_limit;

/* Break-glass openings per user in any 24 hours when the policy gives no
 * `max_per_day`. */
#define VP_BREAK_GLASS_PER_DAY 3

/* Who may break glass (`break_glass:`). */
typedef struct vp_break_glass {
    const char *const *roles;
    size_t nroles;
    int64_t max_duration; /* seconds */
    int max_grade;        /* most sensitive grade it opens (the top grade
                             when the policy gives none) */
    const char *const *purposes; /* the session's purpose must be one */
    size_t npurposes;
    int max_per_day;      /* openings per user in any 24 hours */
    /* Roles that may open records outside their own jurisdiction. */
    const char *const *any_jurisdiction;
    size_t nany_jurisdiction;
    unsigned line;
} vp_break_glass;

size_t policy_grant_limit_count(const vault_policy *p);
const vp_grant_limit *policy_grant_limit_at(const vault_policy *p, size_t i);
/* The limits for officers of `issuer_role`; NULL: that role may not grant. */
const vp_grant_limit *policy_grant_limit(const vault_policy *p, const char *issuer_role);
/* NULL when the policy has no `break_glass:` section. */
const vp_break_glass *policy_break_glass(const vault_policy *p);
/* 1 when `role` is listed under break_glass.roles. */
int policy_break_glass_role(const vault_policy *p, const char *role);
/* May `role` read the audit log (reports, exports) and the grant list in
 * service mode: is it listed under `auditors:`?  VAULT_OK, or
 * VAULT_EDENIED with a one-line reason naming the role and where the
 * policy lists its auditors (or that it has none). */
int policy_auditor_check(const vault_policy *p, const char *role) VAULT_MUST_CHECK;
/* The same for changing the vault itself through a service (policy apply,
 * key rotation, db-key): is the role listed under `data_officers:`? */
int policy_data_officer_check(const vault_policy *p, const char *role) VAULT_MUST_CHECK;

/* A witness the policy pins (`witnesses:`, docs/policy-format.md
 * "Witnesses"): its verifier key (C2SP vkey, signature type 0x04, as
 * `vaultctl witness pubkey` prints it), parsed into name and Ed25519 key,
 * and the URL checkpoints are submitted to (NULL: none given; the vault
 * then only counts that witness's cosignatures). */
typedef struct vp_witness {
    const char *vkey;  /* the key text as written */
    const char *name;  /* the witness's key name */
    uint8_t pk[32];
    const char *url;   /* http(s):// submission prefix, or NULL */
    unsigned line, col;
} vp_witness;

size_t policy_witness_count(const vault_policy *p);
const vp_witness *policy_witness_at(const vault_policy *p, size_t i);
/* The witness whose verifier key is `vkey` (compared parsed: name and key),
 * or NULL. */
const vp_witness *policy_witness_find(const vault_policy *p, const char *vkey);
/* How many cosignatures from distinct pinned witnesses verification
 * requires: `witness_quorum:`, by default every witness listed; 0 when
 * the policy pins none. */
size_t policy_witness_quorum(const vault_policy *p);

/* The most sensitive grade g's field selector reaches (listed fields that
 * the policy declares, or grade_max clamped), -1 when it selects none. */
int policy_grant_max_grade(const vault_policy *p, const vp_grant *g);
/* Check a proposed grant against issuer_role's grant_limits: grade
 * ceiling, duration, recipients, and that the effect, actions, fields and
 * purposes are well formed and declared.  Returns 0, VAULT_EDENIED (the
 * message names the limit) or VAULT_EINVALID.  *out_needs_approval (may be
 * NULL) is set to 1 when the grant reaches the approval grade. */
int policy_grant_check(int *out_needs_approval, const vault_policy *p, const char *issuer_role,
                       const vp_grant *g) VAULT_MUST_CHECK;

/* Warning lines ("warning: ...\n") for fields of g that an unconditional
 * deny rule keeps from every subject g's pattern names, so the grant can
 * never open them; "" when none.  malloc'ed. */
int policy_grant_blocked(char **out, const vault_policy *p, const vp_grant *g) VAULT_MUST_CHECK;
/* Seconds as the policy writes them: "30d", "8h", "90m", "45s" (the
 * largest unit that divides it). */
void policy_duration_text(char *out, size_t cap, int64_t secs);
/* Latest instant a grant or break-glass may name: 9999-12-31T23:59:59Z. */
#define VP_TIME_MAX INT64_C(253402300799)
/* "45s", "30m", "8h", "7d" -> seconds; anything else VAULT_EINVALID. */
int policy_duration_parse(int64_t *out, const char *text) VAULT_MUST_CHECK;
/* 1 when `role` may act in `department`: the role declares no
 * `departments:`, or lists this one.  0 for undeclared names. */
int policy_role_in_department(const vault_policy *p, const char *role, const char *department);
/* Labels (e.g. 敏感), or NULL when none was given. */
const char *policy_grade_label(const vault_policy *p, size_t i);
const char *policy_field_label(const vault_policy *p, size_t i);
int policy_field_index(const vault_policy *p, const char *name); /* -1 if none */
size_t policy_rule_count(const vault_policy *p);

/* ---- Added: search quotas (`quotas:`, policy_quota.c) ---- */

/* Three kinds of quota, per user in any window of `per` seconds:
 *  - a search quota: a role may search `fields` whose read it sees only
 *    masked at most `searches` times;
 *  - an access quota (`reads:`): a role reads at most `reads` records
 *    (every read counts, rereads too);
 *  - a residents quota (`residents:`): a role reads at most `residents`
 *    distinct records (a record read again in the window is free).
 * Over any of them the policy says deny (logged) or alert (the access goes
 * on, its entry is flagged and an alarm raised: vault_set_alarm). */
enum { VP_QUOTA_SEARCH = 0, VP_QUOTA_READS = 1, VP_QUOTA_RESIDENTS = 2 };
enum { VP_OVER_DENY = 0, VP_OVER_ALERT = 1 };
typedef struct vp_quota {
    const char *id;
    int kind;            /* VP_QUOTA_* */
    int over;            /* VP_OVER_*: what the quota does when used up */
    int role;            /* role index */
    int dept;            /* department index, -1: any */
    int any_purpose;     /* no `purposes:` key */
    uint64_t *purposes;  /* bitset over purposes */
    uint64_t *fields;    /* bitset over fields (search quotas) */
    int64_t searches;    /* the limit, 1..1000000: searches, reads or residents (kind) */
    int64_t per;         /* seconds */
    unsigned line;
} vp_quota;

/* The first quota in file order covering a search of `field` by (role,
 * department) for `purpose`; NULL when none does. */
const vp_quota *policy_search_quota(const vault_policy *p, const char *role, const char *dept,
                                    const char *purpose, const char *field);
size_t policy_quota_count(const vault_policy *p);
/* The access quotas (VP_QUOTA_READS and VP_QUOTA_RESIDENTS) that count a
 * read by (role, department) for `purpose`, in file order: up to cap into
 * out; returns how many apply. */
size_t policy_read_quotas(const vp_quota **out, size_t cap, const vault_policy *p,
                          const char *role, const char *dept, const char *purpose);

/* ---- Added: retention schedules (`retention:`, policy_retention.c) ---- */

/* How long the vault keeps a record, or some of its fields
 * (docs/policy-format.md "Retention"): due once `keep` seconds have passed
 * since the record's last write (after -1) or since the date (YYYY-MM-DD,
 * UTC midnight) held in field `after`, and, with until_clear >= 0, only
 * while that field has no value or an empty one. */
typedef struct vp_retention {
    const char *id;
    const char *description; /* or NULL */
    int whole;               /* record: true - the whole record is erased */
    uint64_t *fields;        /* bitset over fields: the fields removed (all for whole) */
    int64_t keep;            /* seconds (-1 in a refused policy) */
    int after;               /* field index holding the date, -1: the last write */
    int until_clear;         /* field index of the flag, -1: none */
    const char *jurisdiction; /* only records within this subtree, or NULL: all */
    unsigned line;
} vp_retention;
size_t policy_retention_count(const vault_policy *p);
const vp_retention *policy_retention_at(const vault_policy *p, size_t i); /* NULL past the end */

/* ---- Added: which authenticated app may act for whom (`apps:`, policy_apps.c) ---- */

#define VP_APPS_MAX 256 /* apps in one policy */

/* One entry of `apps:`.  Every name is one the policy declares; the
 * jurisdictions are kept without a trailing '/'. */
typedef struct vp_app {
    const char *name;
    const char *description; /* or NULL */
    const char *const *departments;
    size_t ndepartments;
    const char *const *roles;
    size_t nroles;
    const char *const *jurisdictions; /* subtrees the app may act within */
    size_t njurisdictions;
    int any_purpose;         /* no `purposes:` key: every declared purpose */
    const char *const *purposes;
    size_t npurposes;
    int officer_actions;     /* may carry officers' actions (default 0) */
    /* Where each part is written, for reasons (0 when the key is absent). */
    unsigned line, departments_line, roles_line, jurisdictions_line, purposes_line,
        officer_actions_line;
} vp_app;

/* Apps listed under `apps:` (0 when the policy has no such section). */
size_t policy_app_count(const vault_policy *p);
const vp_app *policy_app_at(const vault_policy *p, size_t i); /* NULL past the end */
const vp_app *policy_app(const vault_policy *p, const char *name); /* NULL if not listed */

/* May the authenticated app `app` act for a subject with this role,
 * department, jurisdiction and purpose, and (officer_action != 0) carry an
 * officer's action (grant, approve, revoke, break-glass, policy apply, key
 * and keyslot changes)?  VAULT_OK when the app is listed and the department
 * and role are among its lists, the jurisdiction lies within one of its
 * subtrees (policy_jurisdiction_within: on segment boundaries), the purpose
 * is one it lists (any declared purpose when it lists none) and, for an
 * officer's action, it has `officer_actions: true`.  Fails closed:
 * VAULT_EDENIED for an app not listed, a policy without `apps:`, a bound
 * not met, or a missing or malformed attribute; VAULT_EINVALID when p or
 * app is NULL; VAULT_ENOMEM.  Never blocks.
 *
 * *out_reason (may be NULL; free()) receives one line for the log, naming
 * the app, the bound and where the policy says it, e.g.
 *   app hotline-app may not act for department health (community.yaml:41)
 * and on success which entry admitted the subject.  It quotes only names
 * and paths that are well formed (never a user name, never raw bytes);
 * NULL on VAULT_ENOMEM.  A denial also sets vault_error_last() to it. */
int policy_app_check(const vault_policy *p, const char *app, const char *role,
                     const char *department, const char *jurisdiction, const char *purpose,
                     int officer_action, char **out_reason) VAULT_MUST_CHECK;

#endif

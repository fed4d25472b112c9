/* Private layout of a compiled policy and of a grant set, shared by the
 * policy module's files:
 *   policy.c          decisions, reasons, accessors
 *   policy_grants.c   grant sets, grant limits
 *   policy_load.c     reading a file, the whole parse (top of the parser)
 *   policy_decl.c     declarations, the top level of the document
 *   policy_rules.c    rules, grant_limits, break_glass, auditors
 *   policy_quota.c    quotas
 *   policy_retention.c retention schedules
 *   policy_apps.c     apps: parse, the app check, the apps part of diff
 *   policy_witness.c  witnesses, witness_quorum: parse, accessors, diff
 *   policy_node.c     checked node accessors (types, keys, names, text)
 *   policy_yaml.c     YAML -> node tree
 *   policy_diag.c     diagnostics and the sorted report
 *   policy_compile.c  rule index, never-match and shadow warnings
 *   policy_query.c    explain, who-can, diff
 *   policy_util.c     arena, string map, sparse index, text buffer, paths
 * Not installed; nothing outside libvault/policy*.c includes it. */
#ifndef VAULT_POLICY_INT_H
#define VAULT_POLICY_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "text.h"

/* ---- Limits (docs/policy-format.md "Limits") ---- */
#define VP_DEPTH_MAX 32        /* YAML nesting */
#define VP_GRADES_MAX 64
#define VP_FIELDS_MAX 4096
#define VP_NAMES_MAX 1024      /* roles, departments, purposes (each) */
#define VP_RULES_MAX 10000
#define VP_SUBJECTS_MAX 256    /* subject patterns in one rule */
#define VP_LIST_MAX 4096       /* items in any other list */
#define VP_LABEL_MAX 256       /* bytes of a label or description, NUL excluded */
#define VP_DIAG_MAX 1000       /* diagnostics kept in one report */
#define VP_DURATION_MAX (3650LL * 86400) /* ten years */
#define VP_GRANTS_MAX 1000000  /* grants in one grant set */

#define VP_NACTIONS 6
#define VP_RECORD_ACTIONS ((1u << VAULT_ACTION_CREATE) | (1u << VAULT_ACTION_ERASE))
#define VP_ALL_ACTIONS ((1u << VP_NACTIONS) - 1u)

/* ---- Arena: every string and small array of a policy lives in one ---- */
typedef struct vp_chunk vp_chunk;
typedef struct vp_arena {
    vp_chunk *head;
} vp_arena;

void *vp_alloc(vp_arena *a, size_t n); /* zeroed, 16-byte aligned; NULL on OOM */
char *vp_strndup(vp_arena *a, const char *s, size_t n);
void vp_arena_free(vp_arena *a);

/* ---- String -> int map (open addressing, FNV-1a) ---- */
typedef struct vp_slot {
    uint64_t hash;
    const char *key; /* borrowed: must outlive the map */
    uint32_t len;
    int32_t val;
} vp_slot;

typedef struct vp_map {
    vp_slot *slots;
    uint32_t cap; /* power of two, or 0 */
    uint32_t n;
} vp_map;

uint64_t vp_hash(const char *s, size_t len);
/* Insert key -> val.  Returns -1 when inserted, the existing value when the
 * key is already present (nothing changes), or VAULT_ENOMEM (< -1). */
int vp_map_put(vp_map *m, const char *key, size_t len, int val);
int vp_map_get(const vp_map *m, const char *key, size_t len); /* -1: none */
int vp_map_gets(const vp_map *m, const char *s);              /* NUL-terminated */
void vp_map_free(vp_map *m);

/* Text (reports, diagnostics, diffs) is built in a vault_buf (text.h),
 * which remembers running out of memory. */

/* Write `s` (n bytes) into out (size out_size) for a diagnostic: at most 64
 * bytes, control characters and quotes replaced by '?', "..." when cut. */
void vp_quote(char *out, size_t out_size, const char *s, size_t n);

/* qsort/bsearch comparison of two `const char *`. */
int vp_strptr_cmp(const void *a, const void *b);

/* ---- Bitsets ---- */
static inline int vp_bit(const uint64_t *b, size_t i)
{
    return (int)((b[i >> 6] >> (i & 63u)) & 1u);
}
static inline void vp_setbit(uint64_t *b, size_t i)
{
    b[i >> 6] |= (uint64_t)1 << (i & 63u);
}
/* 1 when every bit of `sub` is set in `super` (n words). */
int vp_bits_subset(const uint64_t *sub, const uint64_t *super, size_t n);
int vp_bits_empty(const uint64_t *b, size_t n);

/* ---- Names, durations, jurisdictions ---- */
int vp_name_ok(const char *s, size_t len);   /* [a-z0-9_-]{1,VAULT_NAME_MAX-1} */
/* 1 when s[0..len) is a valid user name (text.h); writes its comparison
 * form (case folded, NFC) into out (cap >= VAULT_NAME_MAX). */
int vp_user_norm(char *out, size_t cap, const char *s, size_t len);
/* "30m" -> 1800.  0 or VAULT_EINVALID. */
int vp_duration_parse(int64_t *out, const char *s, size_t len);
/* Length of the path without one trailing '/', or -1 when the path is not
 * a valid jurisdiction (NULL, empty, leading '/', empty, "." or ".."
 * segment, longer than VAULT_JURISDICTION_MAX). */
int vp_jur_len(const char *s);
/* inner within outer; both already checked with vp_jur_len. */
int vp_jur_within_n(const char *inner, int ilen, const char *outer, int olen);

const char *vp_action_name(int action);
int vp_action_from_name(const char *s, size_t len); /* -1: none */
const char *vp_effect_name(int effect);

/* ---- Compiled policy ---- */
typedef struct vp_named {
    const char *name;
    const char *label; /* or NULL */
    unsigned line, col;
} vp_named;

typedef struct vp_role {
    vp_named n;
    uint64_t *depts; /* bitset over departments, or NULL: any department */
} vp_role;

typedef struct vp_subj {
    const char *user; /* or NULL */
    int user_id;      /* index in the policy's user map, -1 when no user */
    int role;         /* role index, -1 any */
    int dept;         /* department index, -1 any */
    unsigned line, col;
} vp_subj;

#define VP_SCOPE_ANY 0
#define VP_SCOPE_WITHIN 1

#define VP_SEL_NONE 0   /* no selector: every field, and record-level actions */
#define VP_SEL_FIELDS 1 /* fields: [...] */
#define VP_SEL_GRADES 2 /* grades: {min, max} */

typedef struct vp_rule {
    const char *id;
    const char *description; /* or NULL */
    unsigned line, col;
    int effect;
    vault_mask_kind mask;  /* effect mask: the rule's own `mask:` (NONE: the field's) */
    int alarm;             /* effect deny: `alarm: true`, a denial it decides raises an alarm */
    unsigned actions;      /* bit per VAULT_ACTION_* */
    int never;             /* can never match (warned): left out of the index */
    int scope;             /* VP_SCOPE_* */
    int sel;               /* VP_SEL_* */
    int grade_min, grade_max;
    int any_subject;       /* `subjects: any` */
    size_t nsubj;
    vp_subj *subj;
    int any_purpose;       /* no `purposes:` key */
    uint64_t *fields;      /* p->fw words: the selected fields (all for NONE) */
    uint64_t *purposes;    /* p->pw words (all set when any_purpose) */
} vp_rule;

/* A bucket of candidates: entries [off, off+n[0]) are of the first class
 * (deny rules / allow grants), then n[1] of the second (allow rules / mask
 * grants), then n[2] of the third (mask rules), each in file or given
 * order, so the first match in a class is the one that decides. */
typedef struct vp_bucket {
    uint32_t off;
    uint32_t n[3];
} vp_bucket;

/* Sparse index: key -> bucket, open addressing.  A key combines a subject
 * key (role, department, user or "shared"), an action and a field slot:
 * slot 0 holds entries that cover many or all fields (and record-level
 * actions), slot f+1 entries that select field f among a few. */
typedef struct vp_ixslot {
    uint64_t key;      /* 0: empty slot, else key + 1 */
    vp_bucket b;       /* next to its key: one cache line per probe */
} vp_ixslot;

typedef struct vp_index {
    uint32_t cap;      /* power of two, or 0 */
    uint32_t nbuckets;
    vp_ixslot *slots;
    uint32_t *cur;     /* fill cursors while building, then freed */
    uint32_t *data;
    size_t total;
} vp_index;

#define VP_NARROW_FIELDS 32  /* at most this many fields: one entry per field */
#define VP_NARROW_ENTRIES 2048

static inline uint64_t vp_ix_key(size_t nfields, size_t subject, int action, size_t slot)
{
    return ((uint64_t)subject * VP_NACTIONS + (uint64_t)action) * (nfields + 1) + slot;
}
/* Count pass (fill == 0) then fill pass (fill == 1, after vp_ix_layout). */
int vp_ix_put(vp_index *ix, uint64_t key, int cls, uint32_t val, int fill);
int vp_ix_layout(vp_index *ix);
const vp_bucket *vp_ix_get(const vp_index *ix, uint64_t key);
/* VP_IX_NONE in keys[i] gives out[i] = NULL.  The slots of all n keys are
 * prefetched first, so their cache misses overlap instead of queueing:
 * on the decision path the index is larger than the caches. */
#define VP_IX_NONE UINT64_MAX
void vp_ix_get_many(const vp_index *ix, const uint64_t *keys, int n, const vp_bucket **out);
/* The buckets for subject keys sk[0..nsk) (SIZE_MAX: none), action and
 * field (-1: none): for each key its many-fields slot and its field slot,
 * two entries of out per key, fetched together.  Used by the rule and the
 * grant look-ups on the decision path, so it stays inline. */
static inline void vp_ix_probe(const vp_index *ix, size_t nfields, const size_t *sk, int nsk,
                               int action, int field, const vp_bucket **out)
{
    uint64_t keys[8];
    int n = 0;

    for (int k = 0; k < nsk && k < 4; k++) {
        if (sk[k] == SIZE_MAX) {
            keys[n++] = VP_IX_NONE;
            keys[n++] = VP_IX_NONE;
            continue;
        }
        keys[n++] = vp_ix_key(nfields, sk[k], action, 0);
        keys[n++] = field >= 0 ? vp_ix_key(nfields, sk[k], action, (size_t)field + 1) : VP_IX_NONE;
    }
    vp_ix_get_many(ix, keys, n, out);
}
void vp_ix_free(vp_index *ix);

struct vault_policy {
    vp_arena arena;
    const char *name;
    const char *description;
    const char *filename; /* as given */
    const char *basename; /* for reasons: "community.yaml" */
    uint8_t hash[32];

    size_t ngrades;
    vp_named *grades;
    vp_map grade_map;

    size_t nfields;
    vp_field *fields;
    vp_named *field_info; /* label and position per field */
    vp_map field_map;

    size_t nroles, ndepts, npurposes;
    vp_role *roles;
    vp_named *depts;
    vp_named *purposes;
    vp_map role_map, dept_map, purpose_map;
    vp_map user_map;  /* users named by rule subjects -> user number */
    size_t nusers;

    size_t nrules;
    vp_rule *rules;
    size_t fw, pw, dw;      /* bitset words: fields, purposes, departments */

    /* Rule index (policy_compile.c).  A subject pattern is filed under its
     * most selective attribute: user u -> nroles + ndepts + 1 + u, else
     * role k -> k, else department k -> nroles + k, else (`any`) the
     * shared key nroles + ndepts. */
    vp_index ix;

    size_t nlimits;
    vp_grant_limit *limits;
    int *limit_of_role; /* [nroles]: index into limits or -1 */

    int has_break_glass;
    vp_break_glass break_glass;

    int has_auditors;    /* an `auditors:` key, even an empty list */
    unsigned auditors_line;
    size_t nauditors;    /* roles that may read the log and the grants */
    const char *const *auditors;

    int has_data_officers; /* a `data_officers:` key, even an empty list */
    unsigned data_officers_line;
    size_t ndata_officers; /* roles that may change the vault through a service */
    const char *const *data_officers;

    size_t nquotas;      /* `quotas:` (policy_quota.c) */
    vp_quota *quotas;

    size_t nwitnesses;   /* `witnesses:` (policy_witness.c) */
    vp_witness *witnesses;
    size_t witness_quorum; /* cosignatures verification requires (0: none listed) */
    unsigned witness_quorum_line;

    int has_apps;        /* an `apps:` section, even an empty one (policy_apps.c) */
    size_t napps;
    vp_app *apps;
    vp_map app_map;      /* app name -> index */

    size_t nretention;   /* `retention:` (policy_retention.c) */
    vp_retention *retention;
};

/* ---- Compiled grant set ---- */
/* What a decision tests comes first: a scan over a bucket reads one cache
 * line per grant until a test needs a bitmap or a string. */
typedef struct vp_cgrant {
    int64_t not_before, not_after;
    int role, dept;          /* -1: not part of the pattern */
    int any_purpose;
    int whole;               /* selects every grade: also covers create/erase */
    const char *user;        /* or NULL */
    uint64_t *purposes;      /* pw words */
    uint64_t *fields;        /* fw words */
    size_t nrecords;
    int jurlen;
    int dead;                /* names something this policy lacks: never matches */
    const char **records;    /* sorted */
    const char *jurisdiction;
    const char *id;
    int effect;
    unsigned actions;
} vp_cgrant;

struct vp_grantset {
    vp_arena arena;
    const vault_policy *p;
    size_t n;
    vp_cgrant *g;
    vp_map user_map; /* user -> user number */
    size_t nusers;
    /* Subject keys: user u -> u, role k -> nusers + k, department k ->
     * nusers + nroles + k (grants naming a department only). */
    vp_index ix;
};

/* ---- Shared between the .c files ---- */

/* Compile the parsed rules (bitsets, index) and emit warnings through
 * `warn` (policy_compile.c). */
typedef void (*vp_warn_fn)(void *ctx, unsigned line, unsigned col, const char *fmt, ...)
    VAULT_PRINTF(4, 5);
int vp_compile(vault_policy *p, vp_warn_fn warn, void *ctx) VAULT_MUST_CHECK;

/* Does the rule match this cell, ignoring the user?  Used by who-can and
 * diff.  Returns 1/0. */
int vp_rule_matches_cell(const vault_policy *p, const vp_rule *r, int action, int role,
                         int dept, int purpose, int field);
/* The candidate rule buckets for (action, user, role, dept, field): up to
 * VP_RULE_LISTS, NULL where empty.  user/role/dept -1: none.  field -1:
 * record level. */
#define VP_RULE_LISTS 8
void vp_rule_lists(const vault_policy *p, int action, int user, int role, int dept, int field,
                   const vp_bucket *out[VP_RULE_LISTS]);
/* Candidate grant buckets for (user number, role, dept, action, field);
 * user -1: none. */
void vp_grant_lists(const vp_grantset *g, int user, int action, int role, int dept, int field,
                    const vp_bucket *out[6]);
/* Does the subject pattern s cover t (every attribute s names, t names equal)? */
int vp_subj_covers(const vp_subj *s, const vp_subj *t);

/* ---- Parser internals (policy_yaml.c, policy_decl.c, policy_rules.c) ---- */

#define VN_SCALAR 0
#define VN_SEQ 1
#define VN_MAP 2

/* A YAML node as built from libyaml's events (aliases refused, so the
 * tree is a tree and walking it costs what the text costs). */
typedef struct vnode {
    int type;
    int is_null; /* plain "", "~" or "null" */
    int bad;     /* already reported (e.g. an alias): stay quiet about it */
    unsigned line, col; /* 1-based */
    const char *s;      /* scalar text, NUL-terminated copy */
    size_t len;
    struct vnode **kids; /* seq: n items; map: kids[2i] key, kids[2i+1] value */
    size_t n;
} vnode;

#define VP_K_GRADE 0
#define VP_K_FIELD 1
#define VP_K_ROLE 2
#define VP_K_DEPT 3
#define VP_K_PURPOSE 4
#define VP_K_COUNT 5

typedef struct vp_diag_entry {
    unsigned line, col, seq;
    int is_err;
    char *text; /* "FILE:LINE:COL: error: message" */
} vp_diag_entry;

typedef struct pctx {
    vault_policy *p;
    const char *file;
    vault_buf rep;               /* the sorted report, built at the end */
    vp_diag_entry *diags;     /* kept: the first VP_DIAG_MAX */
    size_t ndiags, capdiags;
    unsigned nerr, nwarn, ndiag;
    int limit; /* a size or count limit was exceeded: VAULT_ELIMIT */
    int oom;
    int sect_bad[VP_K_COUNT]; /* section missing or broken: no "unknown X" noise */
    vp_map rule_ids;
    char first[512];
} pctx;

#define VP_ERR 1
#define VP_WARN 0

void vp_diag(pctx *c, int is_err, unsigned line, unsigned col, const char *fmt, ...)
    VAULT_PRINTF(5, 6);
void vp_diag_n(pctx *c, int is_err, const vnode *n, const char *fmt, ...) VAULT_PRINTF(4, 5);
void vp_diag_v(pctx *c, int is_err, unsigned line, unsigned col, const char *fmt, va_list ap);
/* Sort the diagnostics into c->rep; the first error (without "error: ")
 * into c->first. */
void vp_report_finish(pctx *c);
/* YAML text -> node tree in ta (policy_yaml.c); *out_root NULL for an
 * empty document. */
int vp_yaml_tree(vnode **out_root, pctx *c, vp_arena *ta, const char *text,
                 size_t len) VAULT_MUST_CHECK;
/* Names of the declared kinds (VP_K_*), their sections, and their maps. */
extern const char *const vp_kind_names[VP_K_COUNT];
extern const char *const vp_kind_sections[VP_K_COUNT];
const vp_map *vp_kind_map(const vault_policy *p, int kind);

typedef struct vp_keydef {
    const char *name;
    int required;
} vp_keydef;
/* Collect the values of a mapping's keys: out[i] for defs[i] (NULL when
 * absent); reports unknown, duplicate and missing keys.  `what` names the
 * mapping in messages.  Returns 0 when m is not a usable mapping. */
int vp_map_keys(pctx *c, const vnode *m, const char *what, const vp_keydef *defs, size_t ndefs,
                const vnode **out);
int vp_want(pctx *c, const vnode *n, int type, const char *what);
const char *vp_node_kind(const vnode *n);
/* A declared name of kind VP_K_*: its index, or -1 (reported). */
int vp_lookup(pctx *c, int kind, const vnode *n);
/* A scalar that is a valid name: 1, else reported and 0. */
int vp_want_name(pctx *c, const vnode *n, const char *what);
/* Items of a list given as a sequence or a single scalar. */
size_t vp_list_len(const vnode *n);
const vnode *vp_list_at(const vnode *n, size_t i);
/* A duration scalar in seconds, or -1 (reported). */
int64_t vp_want_duration(pctx *c, const vnode *n, const char *what);
/* A label/description: arena copy, or NULL (reported when bad). */
const char *vp_want_text(pctx *c, const vnode *n, const char *what);

/* The whole document (policy_decl.c). */
int vp_parse_root(pctx *c, const vnode *root) VAULT_MUST_CHECK;
int vp_parse_rules(pctx *c, const vnode *seq) VAULT_MUST_CHECK;
int vp_parse_grant_limits(pctx *c, const vnode *m) VAULT_MUST_CHECK;
int vp_parse_break_glass(pctx *c, const vnode *m) VAULT_MUST_CHECK;
int vp_parse_auditors(pctx *c, const vnode *n) VAULT_MUST_CHECK;
int vp_parse_data_officers(pctx *c, const vnode *n) VAULT_MUST_CHECK;
int vp_parse_quotas(pctx *c, const vnode *seq) VAULT_MUST_CHECK; /* policy_quota.c */
int vp_parse_apps(pctx *c, const vnode *m) VAULT_MUST_CHECK;     /* policy_apps.c */
int vp_parse_retention(pctx *c, const vnode *seq) VAULT_MUST_CHECK; /* policy_retention.c */
/* The retention part of policy_diff: "+ retention ID: WHAT", "- retention ID",
 * "~ retention ID: OLD -> NEW" (policy_retention.c). */
void vp_retention_diff(vault_buf *b, const vault_policy *old_p, const vault_policy *new_p);
/* `witnesses:` and `witness_quorum:` (either may be NULL; policy_witness.c). */
int vp_parse_witnesses(pctx *c, const vnode *list, const vnode *quorum) VAULT_MUST_CHECK;
/* The witnesses part of policy_diff: "+ witness NAME", "- witness NAME",
 * "~ witness NAME url A->B", "~ witness_quorum A->B". */
void vp_witnesses_diff(vault_buf *b, const vault_policy *old_p, const vault_policy *new_p);
/* The apps part of policy_diff: one line per app bound gained (+) or lost
 * (-) from old_p to new_p (policy_apps.c). */
void vp_apps_diff(vault_buf *b, const vault_policy *old_p, const vault_policy *new_p);

#endif

/*
 * libvault: a resident-data vault with field-level encryption, policy
 * decisions and an audit trail.
 *
 * Conventions (see docs/errors.md and docs/threading.md):
 *  - Every function that can fail returns int: 0 (VAULT_OK) on success or a
 *    negative VAULT_E* code.  vault_error_last() then describes the failure
 *    in one line.  Messages never contain secrets or field values.
 *  - Output parameters come first and are named out*.
 *  - Destructors (_close, _free) accept NULL and do nothing with it.
 *  - Strings are NUL-terminated UTF-8 unless a length is passed with them.
 *  - Record ids are 32 lower-case hex characters (16 random bytes).
 */
#ifndef VAULT_H
#define VAULT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VAULT_BUILDING) && defined(__GNUC__)
#define VAULT_API __attribute__((visibility("default")))
#else
#define VAULT_API
#endif

#if defined(__GNUC__)
#define VAULT_CHECK __attribute__((warn_unused_result))
#else
#define VAULT_CHECK
#endif

/* ---- Versions ---------------------------------------------------------- */

#define VAULT_VERSION_MAJOR 0
#define VAULT_VERSION_MINOR 1
#define VAULT_VERSION_PATCH 0

VAULT_API const char *vault_version_string(void);
VAULT_API int vault_version_major(void);
VAULT_API int vault_version_minor(void);
VAULT_API int vault_version_patch(void);

/* ---- Option structs ----------------------------------------------------
 * Every struct below that the caller fills in and passes in
 * (vault_secret, vault_credentials, vault_subject, vault_principal,
 * vault_witness_target, vault_grant_spec) starts with `size_t size`,
 * which its VAULT_*_INIT macro sets to sizeof the struct in the caller's
 * header:
 *     vault_subject s = VAULT_SUBJECT_INIT;
 *     s.user = "li"; ...
 * The structs grow only by members appended at the end, so a caller
 * built against an older header passes a smaller size, and the members
 * it lacks read as 0 / NULL (their defaults).  A size of 0 (never
 * initialised) or one larger than this library's struct (a newer
 * header) is VAULT_EINVALID "vault_subject: size 0: initialise with
 * VAULT_SUBJECT_INIT".  docs/api.md "Option structs". */

/* ---- Errors ------------------------------------------------------------ */

#define VAULT_OK 0
#define VAULT_ERROR -1      /* failure with no more specific code */
#define VAULT_EINVALID -2   /* invalid argument or input data */
#define VAULT_ENOMEM -3     /* out of memory */
#define VAULT_EIO -4        /* file or database I/O failed */
#define VAULT_EAUTH -5      /* wrong passphrase or key */
#define VAULT_EINTEGRITY -6 /* tampering or corruption detected */
#define VAULT_EDENIED -7    /* the policy denies the access */
#define VAULT_ENOTFOUND -8  /* no such record, field, slot or file */
#define VAULT_EEXISTS -9    /* already exists */
#define VAULT_EBUSY -10     /* the vault stayed locked by another writer */
#define VAULT_EPOLICY -11   /* the policy file is invalid */
#define VAULT_ELIMIT -12    /* a size or count limit was exceeded */
#define VAULT_ESTATE -13    /* not allowed in the current state */

/* The message for the last failure on this thread.  Never NULL (empty when
 * nothing failed yet); valid until the next libvault call on this thread. */
VAULT_API const char *vault_error_last(void);
/* The code of the last failure on this thread (0 when none). */
VAULT_API int vault_error_code(void);
/* A short constant name for a code: "VAULT_EDENIED", ... */
VAULT_API const char *vault_error_name(int code);

/* Constants as functions, for bindings. */
VAULT_API int vault_const_ok(void);
VAULT_API int vault_const_error(void);
VAULT_API int vault_const_einvalid(void);
VAULT_API int vault_const_enomem(void);
VAULT_API int vault_const_eio(void);
VAULT_API int vault_const_eauth(void);
VAULT_API int vault_const_eintegrity(void);
VAULT_API int vault_const_edenied(void);
VAULT_API int vault_const_enotfound(void);
VAULT_API int vault_const_eexists(void);
VAULT_API int vault_const_ebusy(void);
VAULT_API int vault_const_epolicy(void);
VAULT_API int vault_const_elimit(void);
VAULT_API int vault_const_estate(void);

/* ---- Sizes and limits -------------------------------------------------- */

#define VAULT_ID_BYTES 16
#define VAULT_ID_HEX_SIZE 33      /* 32 hex characters + NUL */
#define VAULT_KEY_BYTES 32        /* master key, key files */
#define VAULT_FIELD_OVERHEAD 45   /* bytes added to a value when sealed */
#define VAULT_VALUE_MAX 65536     /* longest field value, bytes */
#define VAULT_JURISDICTION_MAX 512 /* longest jurisdiction path, bytes */
#define VAULT_NAME_MAX 128        /* longest user/role/field/... name */
#define VAULT_PRINCIPAL_MAX 256   /* longest principal string + NUL (vault_principal) */

VAULT_API size_t vault_id_bytes(void);
VAULT_API size_t vault_id_hex_size(void);
VAULT_API size_t vault_key_bytes(void);
VAULT_API size_t vault_field_overhead(void);
VAULT_API size_t vault_value_max(void);
VAULT_API size_t vault_jurisdiction_max(void);
VAULT_API size_t vault_name_max(void);
VAULT_API size_t vault_principal_max(void);
/* Buffer sizes named in the comments below, as functions for bindings. */
#define VAULT_DB_KEY_SIZE 68    /* vault_db_key: "x'<64 hex>'" + NUL */
#define VAULT_HASH_HEX_SIZE 65  /* vault_policy_source: SHA-256 hex + NUL */
#define VAULT_PUBKEY_SIZE 256   /* vault_audit_pubkey */
#define VAULT_REASON_TEXT_SIZE 256
VAULT_API size_t vault_db_key_size(void);
VAULT_API size_t vault_hash_hex_size(void);
VAULT_API size_t vault_pubkey_size(void);
VAULT_API size_t vault_reason_text_size(void);
VAULT_API size_t vault_audit_name_size(void);    /* vault_audit_result.failure_name */
VAULT_API size_t vault_audit_message_size(void); /* vault_audit_result.message */

/* ---- Library ----------------------------------------------------------- */

/* Initialise the library (libsodium).  Called implicitly by vault_create and
 * vault_open; safe to call more than once and from several threads. */
VAULT_API int vault_init(void) VAULT_CHECK;

/* ---- Unlocking ----------------------------------------------------------- */

#define VAULT_UNLOCK_PASSPHRASE 1 /* secret = passphrase bytes */
#define VAULT_UNLOCK_KEYFILE 2    /* secret = path of a key file */

VAULT_API int vault_const_unlock_passphrase(void);
VAULT_API int vault_const_unlock_keyfile(void);
VAULT_API int vault_const_kdf_interactive(void);
VAULT_API int vault_const_kdf_moderate(void);
VAULT_API int vault_const_kdf_sensitive(void);

/* Argon2id cost profiles for passphrase slots. */
#define VAULT_KDF_INTERACTIVE 1 /* ~64 MiB, for tests and low-end machines */
#define VAULT_KDF_MODERATE 2    /* ~256 MiB, the default */
#define VAULT_KDF_SENSITIVE 3   /* ~1 GiB */

typedef struct vault_secret {
    size_t size;        /* sizeof(vault_secret): VAULT_SECRET_INIT */
    int kind;           /* VAULT_UNLOCK_PASSPHRASE or VAULT_UNLOCK_KEYFILE */
    const void *data;   /* passphrase bytes, or key file path (NUL-terminated) */
    size_t len;         /* passphrase length; ignored for key files */
    int kdf_profile;    /* VAULT_KDF_*, 0 = default; used when creating a slot */
} vault_secret;
#define VAULT_SECRET_INIT {.size = sizeof(vault_secret)}

/* Write a new key file: 32 random bytes, mode 0600.  Fails with
 * VAULT_EEXISTS rather than overwrite an existing file. */
VAULT_API int vault_keyfile_generate(const char *path) VAULT_CHECK;

/* ---- Vault handle -------------------------------------------------------- */

typedef struct vault vault;

/* Progress callback of the long calls (open with a migration, import,
 * rotation, verification, export, backup): done of total in the unit each
 * call names (total 0 when unknown).  Called on the caller's thread. */
typedef void (*vault_progress_fn)(uint64_t done, uint64_t total, void *arg);

/* Create a new vault at `path` (and its key sidecar `path`.keys) governed by
 * the policy in `policy_file`, with `secret` as its first keyslot.  Fails
 * with VAULT_EEXISTS if either file exists, VAULT_EPOLICY if the policy is
 * invalid.  Nothing is left behind on failure. */
VAULT_API int vault_create(vault **out, const char *path, const char *policy_file,
                           const vault_secret *secret) VAULT_CHECK;

/* Open an existing vault.  A wrong passphrase or key file gives VAULT_EAUTH;
 * a damaged key sidecar VAULT_EINTEGRITY. */
VAULT_API int vault_open(vault **out, const char *path, const vault_secret *secret) VAULT_CHECK;

/* vault_open, reporting the progress of a schema migration: a vault of an
 * older release is brought up to date as it opens, in one transaction
 * (docs/storage.md).  progress (may be NULL) gets
 * records copied of the records there are while a migration copies them,
 * the last call with done = total; it is not called when the open
 * migrates nothing, or only changes columns. */
VAULT_API int vault_open_progress(vault **out, const char *path, const vault_secret *secret,
                                  vault_progress_fn progress, void *arg) VAULT_CHECK;

/* Open another handle on the vault `v` is open on, with v's keys, without
 * unlocking again (no passphrase, no key file).  For a process that serves
 * several threads at once (vaultd's workers: one handle per thread, each
 * with its own connection; see docs/threading.md).  The new handle is
 * independent: close each one.  v's own store is not read, so a handle
 * whose database connection was lost (VAULT_EIO) can be replaced so. */
VAULT_API int vault_reopen(vault **out, vault *v) VAULT_CHECK;
/* 1 when the handle's database connection is gone (PostgreSQL: the server
 * ended it, a failover, a restart; every later call fails with
 * VAULT_EIO): replace the handle (vault_reopen, then vault_close).  0
 * otherwise, and always for a vault file or a client-mode handle. */
VAULT_API int vault_connection_lost(vault *v);

/* Close the handle, wiping its keys. */
VAULT_API void vault_close(vault *v);

/* A vault location as it may be shown (messages, logs, output): a
 * password in a PostgreSQL location ("postgresql://u:PASSWORD@h/db",
 * "pg:... password=PASSWORD") replaced by "***", anything else as given.
 * out is always NUL-terminated (cut to fit); VAULT_EINVALID when out_size
 * is 0 or location NULL.  docs/postgresql.md "Locations". */
VAULT_API int vault_location_shown(char *out, size_t out_size, const char *location) VAULT_CHECK;

/* The vault's random id as 32 hex characters (out must hold 33 bytes). */
VAULT_API int vault_id(char *out, size_t out_size, const vault *v) VAULT_CHECK;

/* The raw key of the SQLCipher backend (the embedded default: a vault
 * that is a file) as "x'<64 hex>'" for the stock sqlcipher shell.  `out`
 * must hold at least 68 bytes; wipe it after use.  Logged.  A vault kept
 * by another backend has no such key: VAULT_ESTATE. */
VAULT_API int vault_db_key(char *out, size_t out_size, vault *v) VAULT_CHECK;

/* ---- Client mode ---------------------------------------------------------- */

/* How a client-mode handle reaches vaultd and who it is (docs/service.md
 * "Client mode").  Exactly one of token and token_file. */
typedef struct vault_credentials {
    size_t size;            /* sizeof(vault_credentials): VAULT_CREDENTIALS_INIT */
    const char *token;      /* the identity token (a JWT, docs/tokens.md) as text */
    const char *token_file; /* or a file holding it (read once, at connect; white space
                               around it is dropped) */
    const char *ca_file;    /* https: CA certificate(s) to trust (PEM); NULL: the system's */
    const char *cert_file;  /* https: the app's client certificate (PEM), with key_file */
    const char *key_file;   /* https: its private key (PEM) */
    const char *purpose;    /* the purpose sent with calls that take no session (audit,
                               policy, grant list, who-can, key rotation); NULL: those
                               calls fail with VAULT_ESTATE */
    long timeout_ms;        /* for one request, connecting included; 0: 30000 */
} vault_credentials;
#define VAULT_CREDENTIALS_INIT {.size = sizeof(vault_credentials)}

/* Client mode: a handle on the vault vaultd serves at `url`,
 * "unix:///run/vaultd/vaultd.sock" (the app is this process's uid) or
 * "https://host:port" (TLS 1.3 only, the server's certificate and host
 * name verified against cred->ca_file, the app by cred->cert_file).  The
 * process never holds a key: every call below that works in client mode
 * is one request to vaultd, and the subject of every session is the one
 * the token names.  vault_connect asks vaultd once (/v1/health), so a
 * wrong URL or CA fails here: VAULT_EIO when vaultd can't be reached,
 * VAULT_EAUTH when its certificate does not verify, VAULT_EINVALID for a
 * malformed URL or token; a wrong or expired token fails at the first
 * call that needs it (VAULT_EAUTH, vaultd's message kept).
 *
 * What works, and what it returns, in client mode:
 *  - the same codes and messages as embedded, decided by vaultd (its JSON
 *    error's code and message): vault_session_open (_as), _close,
 *    vault_decide, vault_explain, vault_who_can, vault_policy_source,
 *    vault_policy_apply (the file is sent; errors name its base name),
 *    every vault_record_* call, vault_result_*, vault_import_csv (the
 *    file sent as text/csv), vault_grant_issue/approve/revoke/list/
 *    warnings, vault_break_glass, vault_audit_verify (_notes),
 *    vault_audit_report, vault_audit_export, vault_audit_checkpoint,
 *    vault_audit_pubkey, vault_audit_prove, vault_audit_consistency (the
 *    answer parsed as vault_proof_parse does), vault_key_rotate,
 *    vault_retention_plan, vault_retention_run,
 *    vault_db_key (refused unless vaultd's configuration enables it),
 *    vault_id, vault_close.  Progress
 *    callbacks are not called in client mode.  Values sent must be UTF-8
 *    (VAULT_EINVALID otherwise).
 *  - a session remembers only its purpose: the subject's user, role,
 *    department and jurisdiction given to vault_session_open (and the
 *    principal of vault_session_open_as) are not sent and are ignored;
 *    the token's subject acts, and the audit entries show the token's
 *    issuer, subject and id, the app and the peer.  Opening a session
 *    sends nothing: an unknown purpose fails at the session's first call.
 *  - VAULT_ESTATE, with a message naming the call: vault_reopen,
 *    vault_keyslot_add/remove/list, vault_set_actor, vault_set_actor_as,
 *    vault_log_refusal (the service's own calls).
 *  - a connection lost, refused or timed out is VAULT_EIO "vaultd:
 *    connection lost: ..." and no value: nothing is cached and no request
 *    is retried (a write may have happened; read back to know).
 * The handle serialises calls as an embedded one does (one request at a
 * time); open one handle per thread for parallel requests. */
VAULT_API int vault_connect(vault **out, const char *url, const vault_credentials *cred) VAULT_CHECK;

/* Replace a client-mode handle's identity token (tokens expire).  The
 * next request uses it.  VAULT_ESTATE on an embedded handle,
 * VAULT_EINVALID for text that is not a JWT's characters. */
VAULT_API int vault_set_token(vault *v, const char *token) VAULT_CHECK;

/* 1 when `v` is a client-mode handle (vault_connect), else 0. */
VAULT_API int vault_is_remote(const vault *v);

/* ---- Keyslots ------------------------------------------------------------ */

/* Add a keyslot holding the master key under `secret`.  Returns the new
 * slot's number in *out_slot (may be NULL).  Data is not re-encrypted. */
VAULT_API int vault_keyslot_add(int *out_slot, vault *v, const vault_secret *secret,
                                const char *label) VAULT_CHECK;
/* Remove slot `slot`.  Removing the last slot fails with VAULT_ESTATE. */
VAULT_API int vault_keyslot_remove(vault *v, int slot) VAULT_CHECK;

typedef struct vault_keyslot_info {
    int slot;
    int kind;          /* VAULT_UNLOCK_* */
    char label[VAULT_NAME_MAX];
    int64_t created;   /* unix seconds */
} vault_keyslot_info;

/* List the slots: *out (free with vault_free) holds *out_count entries. */
VAULT_API int vault_keyslot_list(vault_keyslot_info **out, size_t *out_count, vault *v) VAULT_CHECK;

/* Free memory returned by libvault (lists, reports, exports).  The memory
 * is wiped first, so it is safe for text that held field values. */
VAULT_API void vault_free(void *p);

/* ---- Policy ---------------------------------------------------------------- */

#define VAULT_EFFECT_DENY 0
#define VAULT_EFFECT_MASK 1
#define VAULT_EFFECT_ALLOW 2

VAULT_API int vault_const_effect_deny(void);
VAULT_API int vault_const_effect_mask(void);
VAULT_API int vault_const_effect_allow(void);

#define VAULT_ACTION_READ 0
#define VAULT_ACTION_WRITE 1
#define VAULT_ACTION_CREATE 2
#define VAULT_ACTION_SEARCH 3
#define VAULT_ACTION_ERASE 4
#define VAULT_ACTION_EXPORT 5

VAULT_API int vault_const_action_read(void);
VAULT_API int vault_const_action_write(void);
VAULT_API int vault_const_action_create(void);
VAULT_API int vault_const_action_search(void);
VAULT_API int vault_const_action_erase(void);
VAULT_API int vault_const_action_export(void);

/* Check a policy file.  Returns 0 when it is valid (warnings allowed) or
 * VAULT_EPOLICY.  `*out_report` (free with vault_free; may be NULL) receives
 * every error and warning, one "FILE:LINE:COL: error|warning: message" per
 * line. */
VAULT_API int vault_policy_check(char **out_report, const char *policy_file) VAULT_CHECK;

/* Replace the vault's policy.  `*out_report` (may be NULL) receives the
 * access changes, one "+|- role department field effect" line per cell
 * that gains (+) or loses (-) access, then one "+|- app NAME ..." line per
 * bound of the `apps:` section gained or lost (docs/policy-format.md
 * "Apps"), then one "+|- auditor ROLE" line per role that `auditors:`
 * gains or loses.  Logged. */
VAULT_API int vault_policy_apply(char **out_report, vault *v, const char *policy_file) VAULT_CHECK;

/* The active policy's YAML text and its SHA-256 as hex (out_hash: 65 bytes). */
VAULT_API int vault_policy_source(char **out, char *out_hash, size_t out_hash_size,
                                  vault *v) VAULT_CHECK;

/* ---- Sessions ------------------------------------------------------------- */

typedef struct vault_session vault_session;

typedef struct vault_subject {
    size_t size;              /* sizeof(vault_subject): VAULT_SUBJECT_INIT */
    const char *user;         /* required */
    const char *role;         /* required, a role of the policy */
    const char *department;   /* required, a department of the policy */
    const char *jurisdiction; /* required, e.g. "hangzhou/shangcheng/xiaohe" */
    const char *purpose;      /* required, a purpose of the policy */
} vault_subject;
#define VAULT_SUBJECT_INIT {.size = sizeof(vault_subject)}

/* Who is calling, as a service that authenticated the caller (vaultd)
 * saw it.  Every audit entry records it (docs/audit-format.md, LVA2).
 * Each string is at most VAULT_PRINCIPAL_MAX - 1 bytes of UTF-8 without
 * control characters (C0, DEL, C1), U+2028/U+2029 or bidi controls; NULL
 * counts as "".  peer is required; issuer and subject come together (a
 * token names both); token_id needs an issuer; app or issuer must be
 * given (a principal naming neither is the embedded one). */
typedef struct vault_principal {
    size_t size;          /* sizeof(vault_principal): VAULT_PRINCIPAL_INIT */
    const char *issuer;   /* token issuer (iss); "" when none (embedded) */
    const char *subject;  /* token subject (sub) */
    const char *token_id; /* token id (jti), may be "" */
    const char *app;      /* authenticated app name; "" embedded */
    const char *peer;     /* transport peer, e.g. "unix:uid=998" or "tls:192.0.2.7:51234" */
    unsigned flags;       /* VAULT_PRINCIPAL_*: what the request asks beyond a data call */
    int64_t not_after;    /* the last instant (unix seconds, the vault's clock) the
                             credential is good; 0 = no limit.  vaultd sets it from the
                             token's exp and its clock_skew.  A session or actor past it
                             is refused (VAULT_EAUTH), and so is the commit of any call
                             whose access it records: nothing is written or returned */
} vault_principal;
#define VAULT_PRINCIPAL_INIT {.size = sizeof(vault_principal)}

/* vault_principal.flags.  With an app, vault_session_open_as checks the
 * policy's apps: bounds (docs/policy-format.md "Apps"); these flags add:
 *   VAULT_PRINCIPAL_OFFICER_APP: an officer's action (grants, approvals,
 *     revocations, break-glass, policy apply, key changes, audit reports
 *     and exports): the app must say officer_actions: true;
 *   VAULT_PRINCIPAL_DATA_OFFICER: the subject's role must be one the
 *     policy's data_officers: lists, for the actions that change the
 *     vault itself (policy apply, key rotation, db-key);
 *   VAULT_PRINCIPAL_AUDITOR: the subject's role must be one the policy's
 *     auditors: lists (docs/policy-format.md "auditors"), for the calls
 *     that show who accessed whom (audit reports and exports) and the
 *     grant list (every grant's recipients and reasons).
 * Each refusal is VAULT_EDENIED, logged as "session_open". */
#define VAULT_PRINCIPAL_OFFICER_APP 0x1u
#define VAULT_PRINCIPAL_DATA_OFFICER 0x2u
#define VAULT_PRINCIPAL_AUDITOR 0x4u

/* Open a session: who is acting, for what.  Unknown role, department or
 * purpose, or a role outside its department, gives VAULT_EINVALID; the
 * refused attempt is an audit entry (action "session_open", the subject
 * as asserted, malformed names as "?").  The session borrows `v`; close
 * it first.
 *
 * This is embedded mode: the caller is trusted to be who `subject` says,
 * and nothing authenticated it.  Its entries say so: an empty issuer,
 * subject, token id and app, and the peer "local:uid=U,pid=P" (the
 * process's real uid and pid when the session opened;
 * docs/security.md).
 *
 * In client mode (vault_connect) only subject->purpose is used: the token
 * names who acts, and the other members are ignored. */
VAULT_API int vault_session_open(vault_session **out, vault *v, const vault_subject *subject) VAULT_CHECK;

/* Open a session for a caller a service authenticated: `who` is the
 * principal (the app from its certificate or peer uid, the person from
 * their identity token) and `subject` the role, department, jurisdiction
 * and purpose taken from those two, never from a request body.  As
 * vault_session_open, plus VAULT_EINVALID for a principal that breaks
 * the rules of vault_principal (the message names the part, never its
 * text), and VAULT_EAUTH for one already past who->not_after.  Every
 * refusal is a "session_open" audit entry carrying the principal as
 * asserted (malformed strings as "?").
 *
 * The session keeps who->not_after: every later call on it whose
 * transaction records an access (outcome ok) is refused at commit once
 * the vault's clock is past it: the transaction is rolled back (nothing
 * written, no value returned), the call returns VAULT_EAUTH "the
 * caller's token expired during the request; nothing was committed",
 * and the refusal is an entry of its own (outcome denied, the action
 * refused).  In client mode not_after is ignored: vaultd decides.
 *
 * When who->app is set, the policy's apps: section must let that app act
 * for the subject's department, role, jurisdiction and purpose (and the
 * flags' further bounds hold); otherwise VAULT_EDENIED, logged, with the
 * bound that failed and its policy line: an app not listed, or a policy
 * without apps:, is refused (fail closed). */
VAULT_API int vault_session_open_as(vault_session **out, vault *v, const vault_subject *subject,
                                    const vault_principal *who) VAULT_CHECK;
VAULT_API void vault_session_close(vault_session *s);

/* ---- Decisions ------------------------------------------------------------ */

/* Why a decision came out as it did.  `rule` is the rule id, `where`
 * "file:line" of the rule, `grant` the grant id; unused ones are "". */
typedef struct vault_reason {
    int effect;               /* VAULT_EFFECT_* */
    char rule[VAULT_NAME_MAX];
    char where[VAULT_NAME_MAX + 32];
    char grant[VAULT_NAME_MAX];
    char text[VAULT_REASON_TEXT_SIZE]; /* one-line human explanation */
} vault_reason;

/* Decide (without touching data) what the session may do with `field` of
 * `record_id` for `action`.  field may be NULL for record level actions
 * (create, erase).  The query is an audit entry ("decide"); a malformed
 * or unknown id (VAULT_EINVALID, VAULT_ENOTFOUND) or an undeclared field
 * (VAULT_EINVALID) is logged as a refusal.  Takes the write lock. */
VAULT_API int vault_decide(vault_reason *out, vault_session *s, int action,
                           const char *record_id, const char *field) VAULT_CHECK;

/* Explain a decision: every rule considered and why it matched or not.
 * *out is text, one line per rule, freed with vault_free.  An audit entry
 * ("explain"); refusals as for vault_decide.  To a subject who may read
 * (or see masked) no field of the record, the record's jurisdiction and
 * whether each rule's or grant's scope holds are not shown. */
VAULT_API int vault_explain(char **out, vault_session *s, int action,
                            const char *record_id, const char *field) VAULT_CHECK;

/* Who may read `field` (of `record_id`, or of any record when NULL): one
 * line per (role, department, purpose) with effect, scope and rule or
 * grant, freed with vault_free.  With as_json, a JSON array instead.  An
 * audit entry ("who_can", by the handle's actor); an unknown record or
 * undeclared field is logged as a refusal. */
VAULT_API int vault_who_can(char **out, vault *v, const char *field,
                            const char *record_id, int as_json) VAULT_CHECK;

/* ---- Records ---------------------------------------------------------------- */

/* Create an empty record in `jurisdiction`.  out_id receives its id
 * (VAULT_ID_HEX_SIZE bytes).  Requires an allow for action create. */
VAULT_API int vault_record_create(char *out_id, size_t out_id_size, vault_session *s,
                                  const char *jurisdiction) VAULT_CHECK;

/* Write one field.  Fails with VAULT_EDENIED unless the policy allows
 * action write on that field; VAULT_EINVALID for an undeclared field. */
VAULT_API int vault_record_put(vault_session *s, const char *record_id, const char *field,
                               const char *value, size_t value_len) VAULT_CHECK;

/* Write several fields at once, all or nothing: if any field is undeclared,
 * invalid or denied, nothing is written. */
VAULT_API int vault_record_update(vault_session *s, const char *record_id, size_t n,
                                  const char *const *fields, const char *const *values,
                                  const size_t *value_lens) VAULT_CHECK;

/* Create a record and write its first fields in one transaction (create
 * and write must both be allowed); all or nothing. */
VAULT_API int vault_record_add(char *out_id, size_t out_id_size, vault_session *s,
                               const char *jurisdiction, size_t n, const char *const *fields,
                               const char *const *values, const size_t *value_lens) VAULT_CHECK;

/* Per-field results of a read. */
typedef struct vault_result vault_result;

/* Read `nfields` fields (all declared fields when fields is NULL).  Returns
 * 0 when the record exists, even if every field is denied: each field then
 * carries its own effect and reason.  VAULT_ENOTFOUND for no such record,
 * VAULT_EINVALID for an undeclared field, VAULT_EINTEGRITY when a stored
 * ciphertext fails its check (no value at all is returned then); each of
 * these refusals is an audit entry. */
VAULT_API int vault_record_get(vault_result **out, vault_session *s, const char *record_id,
                               const char *const *fields, size_t nfields) VAULT_CHECK;

/* Read the same fields of n records in one transaction: one audit entry per
 * record, one durable commit for all, and no value returned before that
 * commit.  out[i] receives record_ids[i]'s result (free each with
 * vault_result_free).  All or nothing: on failure every out[i] is NULL. */
VAULT_API int vault_record_get_batch(vault_result **out, vault_session *s,
                                     const char *const *record_ids, size_t n,
                                     const char *const *fields, size_t nfields) VAULT_CHECK;

VAULT_API size_t vault_result_count(const vault_result *r);
VAULT_API const char *vault_result_field(const vault_result *r, size_t i);
/* VAULT_EFFECT_ALLOW (plaintext), _MASK (masked value) or _DENY (no value). */
VAULT_API int vault_result_effect(const vault_result *r, size_t i);
/* 1 when the field has a stored value (and the effect is not deny). */
VAULT_API int vault_result_present(const vault_result *r, size_t i);
/* The value (NULL when denied or absent); *out_len may be NULL. */
VAULT_API const char *vault_result_value(const vault_result *r, size_t i, size_t *out_len);
VAULT_API const vault_reason *vault_result_reason(const vault_result *r, size_t i);
/* Wipe and free the result. */
VAULT_API void vault_result_free(vault_result *r);

/* Find records whose `field` (declared `index: exact`) equals `value` after
 * normalisation.  *out (free with vault_free) receives *out_count ids of
 * VAULT_ID_HEX_SIZE bytes each, back to back.  Requires action search, and
 * returns only records whose `field` the session may read in plaintext,
 * unless a policy search quota covers the search (docs/policy-format.md
 * "Quotas"): then masked records are returned too, and each call counts
 * one search against the user's quota, shared by every handle on the
 * vault.  VAULT_EDENIED (logged) when the search is not allowed, when the
 * read is masked and no quota applies, or when the quota is used up (a
 * quota with `over: alert` lets it go on, flagged, with an alarm). */
VAULT_API int vault_record_find(char **out, size_t *out_count, vault_session *s,
                                const char *field, const char *value, size_t value_len) VAULT_CHECK;

/* The record's jurisdiction (out: VAULT_JURISDICTION_MAX + 1 bytes).  An
 * audit entry ("jurisdiction"); VAULT_EDENIED (logged) when the session
 * may read no field of the record, even masked. */
VAULT_API int vault_record_jurisdiction(char *out, size_t out_size, vault_session *s,
                                        const char *record_id) VAULT_CHECK;

/* Erase the record: its ciphertexts and index entries are deleted (secure
 * delete); the audit trail stays.  Requires action erase. */
VAULT_API int vault_record_erase(vault_session *s, const char *record_id) VAULT_CHECK;


/* ---- Audit log ------------------------------------------------------------ */

/* Name the actor recorded for operations that take no session (keyslot
 * changes, policy apply, db-key, checkpoints).  Default "os:<login name>".
 * The rule for session user names applies (valid UTF-8, no control, space
 * or bidi characters; VAULT_EINVALID / VAULT_ELIMIT otherwise) and the
 * name is kept case-folded and NFC, as session users are. */
VAULT_API int vault_set_actor(vault *v, const char *user) VAULT_CHECK;

/* vault_set_actor for an authenticated officer (vaultd): the admin calls
 * above are then recorded with `who` (rules as for vault_session_open_as),
 * until the next vault_set_actor or vault_set_actor_as.  vault_set_actor
 * (and a new handle) means embedded: the "local:uid=U,pid=P" principal.
 * VAULT_EINVALID / VAULT_ELIMIT for a bad name or principal, VAULT_EAUTH
 * for one past who->not_after; that refusal is an audit entry (action
 * "set_actor", outcome denied) and the actor stays as it was.  The calls
 * recorded with `who` are held to its not_after at commit, as a
 * session's are (vault_session_open_as). */
VAULT_API int vault_set_actor_as(vault *v, const char *user, const vault_principal *who) VAULT_CHECK;

/* For a service (vaultd): record a request refused before it reached a
 * session, such as a peer mapped to no app or a token that failed its
 * checks, so that every refusal leaves a trace.  `who` holds what is
 * known of the caller (malformed or missing parts are logged as "?" or
 * ""), `action` a name for what was refused ("request"), `detail` the
 * reason without values.  The entry's user is "?", outcome denied. */
VAULT_API int vault_log_refusal(vault *v, const vault_principal *who, const char *action,
                                const char *detail) VAULT_CHECK;

/* Write a signed checkpoint of the log now.  *out_note (may be NULL; free
 * with vault_free) receives the C2SP signed note, to keep outside the vault.
 * Logged as action "audit_checkpoint"; the note covers that entry. */
VAULT_API int vault_audit_checkpoint(char **out_note, vault *v) VAULT_CHECK;

/* ---- Witnesses (docs/witness.md "Submitting from a vault") ----
 * A witness to submit to: its verifier key (C2SP vkey, signature type
 * 0x04, as `vaultctl witness pubkey` prints it; it must be one the
 * policy's `witnesses:` pins) and the URL of its tlog-witness service. */
typedef struct vault_witness_target {
    size_t size; /* sizeof(vault_witness_target): VAULT_WITNESS_TARGET_INIT; every
                    element of an array the same (the array's stride) */
    const char *key;
    const char *url;
} vault_witness_target;
#define VAULT_WITNESS_TARGET_INIT {.size = sizeof(vault_witness_target)}

/* What one witness did with the newest checkpoint. */
typedef struct vault_witness_status {
    char name[256];     /* the witness's key name */
    uint64_t size;      /* the checkpoint submitted */
    int already;        /* 1: it was cosigned by this witness before this call */
    int result;         /* VAULT_OK: cosigned and stored; else VAULT_E* */
    char message[256];  /* one line when result < 0 */
} vault_witness_status;

VAULT_API size_t vault_witness_status_size(void);

/* Timeout of an embedded vault's own submission, per request. */
#define VAULT_WITNESS_AUTO_MS 2000

/* Submit the newest stored checkpoint to each witness (targets NULL: the
 * policy's witnesses that give a url) that has not cosigned it, with the
 * consistency proof from the largest stored checkpoint it cosigned (or,
 * after a 409, from the size it says it holds), and store every
 * cosignature that verifies with the witness's pinned key for exactly
 * this checkpoint (appended to the stored note; `audit export` carries
 * it).  No network call is made inside a transaction or with the handle
 * locked; each request waits at most timeout_ms (0: 10 s).  Not logged.
 * status[0..*out_n) (may be NULL) says what each witness did.  Returns
 * VAULT_OK when every witness has cosigned it; else the first witness's
 * error (VAULT_EIO unreachable, VAULT_EINTEGRITY split view or bad proof,
 * ...), with what the others gave stored all the same; a target whose
 * key the policy does not pin is not submitted to and fails alone
 * (VAULT_EDENIED in its status).  VAULT_ENOTFOUND for no
 * checkpoint or no witness with a url, VAULT_EINVALID in client mode. */
VAULT_API int vault_audit_witness(vault_witness_status *status, size_t cap, size_t *out_n,
                                  vault *v, const vault_witness_target *targets,
                                  size_t ntargets, long timeout_ms) VAULT_CHECK;

/* An embedded vault submits by itself after vault_audit_checkpoint and
 * after the checkpoint vault_close signs (best effort, VAULT_WITNESS_AUTO_MS)
 * when its policy's witnesses give URLs.  on 0 turns that off (vaultd
 * does: it submits from a thread of its own). */
VAULT_API int vault_set_witness_auto(vault *v, int on) VAULT_CHECK;

/* VAULT_OK when `key` (verifier key text) is a witness the active policy
 * pins under `witnesses:`; VAULT_EDENIED (naming the witness) when it
 * isn't, VAULT_EINVALID when it isn't a witness verifier key. */
VAULT_API int vault_witness_pinned(vault *v, const char *key) VAULT_CHECK;

/* 1 when a checkpoint was committed through this handle since the last
 * call (which clears it), else 0: what vaultd's submitting thread polls. */
VAULT_API int vault_witness_take_due(vault *v);

/* The checkpoint verifier key as C2SP note verifier text
 * "<origin>+<keyid hex>+<base64(0x01 | public key)>".  out: 256 bytes.
 * The origin "libvault/<vault id, 32 hex>" is the key's name; notes of
 * another origin never verify with it (docs/audit-format.md §3).  Logged
 * as action "audit_pubkey". */
VAULT_API int vault_audit_pubkey(char *out, size_t out_size, vault *v) VAULT_CHECK;

/* Pin the checkpoint verifier key the caller trusts (the text of
 * vault_audit_pubkey, from the auditor's copy or the service's config):
 * from then on, on this handle, vault_audit_verify reports a bad
 * signature, and vault_audit_pubkey and vault_audit_checkpoint fail with
 * VAULT_EINTEGRITY, when the vault's key is another one.  An embedded
 * vault also checks every key against the one pinned in its keys file
 * (docs/keyslots.md section 10); this adds the caller's own copy, and in
 * client mode is the only check.  VAULT_EINVALID for text that isn't a
 * verifier key; VAULT_EINTEGRITY for the key of another vault. */
VAULT_API int vault_audit_pin(vault *v, const char *pubkey) VAULT_CHECK;

/* Failure classes of a verification. */
#define VAULT_AUDIT_OK 0
#define VAULT_AUDIT_MODIFIED 1
#define VAULT_AUDIT_MISSING 2
#define VAULT_AUDIT_REORDERED 3
#define VAULT_AUDIT_TRUNCATED 4
#define VAULT_AUDIT_BAD_SIGNATURE 5
#define VAULT_AUDIT_MALFORMED 6
#define VAULT_AUDIT_ROLLED_BACK 7 /* the log doesn't extend a checkpoint kept outside it
                                   * (docs/audit-format.md section 5, "Rollback") */
#define VAULT_AUDIT_UNWITNESSED 8 /* the newest checkpoint carries fewer valid cosignatures
                                   * from distinct pinned witnesses than required */

VAULT_API int vault_const_audit_ok(void);
VAULT_API int vault_const_audit_modified(void);
VAULT_API int vault_const_audit_missing(void);
VAULT_API int vault_const_audit_reordered(void);
VAULT_API int vault_const_audit_truncated(void);
VAULT_API int vault_const_audit_bad_signature(void);
VAULT_API int vault_const_audit_malformed(void);
VAULT_API int vault_const_audit_rolled_back(void);
VAULT_API int vault_const_audit_unwitnessed(void);
VAULT_API int vault_const_export_compact(void); /* VAULT_EXPORT_COMPACT */

typedef struct vault_audit_result {
    int failure;          /* VAULT_AUDIT_* */
    char failure_name[16];/* "modified", "missing", ... ("" when intact) */
    uint64_t bad_seq;     /* first bad entry (or checkpoint size) */
    uint64_t entries;     /* entries checked */
    uint64_t checkpoints; /* signed checkpoints checked */
    char message[256];    /* one line */
    uint64_t newest_size; /* the largest checkpoint checked (0: none) */
    int64_t newest_time;  /* its signed time, Unix seconds (0: the note carries none) */
} vault_audit_result;

/* Require a recent checkpoint (docs/audit-format.md §3): an intact result
 * whose newest checkpoint was signed more than max_age seconds ago, or
 * carries no signed time, becomes a "missing" failure (a log whose newest
 * checkpoint is old may be withheld from its reader), and VAULT_EINTEGRITY
 * is returned; otherwise VAULT_OK and the result is unchanged (a failure
 * stays the failure it was).  VAULT_EINVALID for max_age <= 0. */
VAULT_API int vault_audit_require_recent(vault_audit_result *r, int64_t max_age);

/* Progress callbacks: vault_progress_fn, under "Vault handle" above. */

/* ---- Canaries (decoy residents) -------------------------------------------
 * vault_canary_add creates a record as vault_record_add does (the same
 * decisions, rows and field format: a reader can't tell it from a real
 * resident) and puts its id in the vault's sealed set of decoys.  Every
 * read, search hit or export that touches a canary is flagged in its audit
 * entry ([CANARY]) and raises an alarm (kind "canary", name the action)
 * through vault_set_alarm.  Only a role listed under the policy's
 * data_officers: may add one (VAULT_EDENIED, logged); the entry that
 * records it is action canary_add.  At most 4096 per vault.  Not in client
 * mode.  docs/privacy.md "Canary records". */
VAULT_API int vault_canary_add(char *out_id, size_t out_id_size, vault_session *officer,
                               const char *jurisdiction, size_t n, const char *const *fields,
                               const char *const *values, const size_t *value_lens) VAULT_CHECK;

/* ---- Alarms --------------------------------------------------------------
 * An access over a policy quota whose `over:` is alert goes on, its audit
 * entry carries the alert flag ([ALERT] in reports), and the handle's
 * alarm callback is called once for it (and once for every access that
 * touched a canary) after the transaction that logged it committed (never for one rolled back), on the calling thread, with
 * the handle locked: the callback must not call into the same handle.
 * Strings are valid during the call only; no field value is ever in an
 * alarm (docs/policy-format.md "Quotas", vaultd: docs/service.md). */
typedef struct vault_alarm {
    const char *kind;       /* "quota"; "canary" (a decoy record was touched); "deny" (a
                               denial by a rule with alarm: true) */
    const char *name;       /* the quota's id; for a canary the action (read, search,
                               export); for a denial the rule's id */
    const char *user;       /* the subject, as its session named it */
    const char *role;
    const char *department;
    const char *purpose;
    const char *record;     /* the record read, 32 hex digits, or "" */
    int64_t count;          /* uses in the quota's window, this one included (a residents
                               quota: distinct residents; canary: 1) */
    int64_t limit;          /* the quota's limit (canary: 0) */
    int64_t per;            /* its window, seconds (canary: 0) */
    int64_t time;           /* when (Unix seconds) */
} vault_alarm;
typedef void (*vault_alarm_fn)(const vault_alarm *alarm, void *arg);
/* Set (fn NULL: clear) the handle's alarm callback.  Without one, alarms
 * are only the flagged entries.  VAULT_EINVALID for a client-mode handle
 * (vaultd raises the alarms of the vault it serves). */
VAULT_API int vault_set_alarm(vault *v, vault_alarm_fn fn, void *arg) VAULT_CHECK;

/* Most external checkpoint notes one verification takes. */
#define VAULT_AUDIT_NOTES_MAX 1024
VAULT_API size_t vault_audit_notes_max(void);

/* Verify the whole log: every entry re-hashed and chained, every stored
 * checkpoint's signature and root, and every one of the nnotes external
 * checkpoint notes (C2SP signed notes kept outside the vault, each a
 * NUL-terminated string; notes may be NULL when nnotes is 0).  Every note
 * is checked: a note larger than the log is "truncated", a bad one is
 * "bad signature" at the size it claims (or "malformed" when it does not
 * parse), and only signature lines named after this vault's origin count.
 * An entry that no longer decodes is "malformed" at its position.  When
 * the active policy pins witnesses (`witnesses:`), the newest stored
 * checkpoint must carry valid cosignatures from witness_quorum of them,
 * else VAULT_AUDIT_UNWITNESSED (docs/audit-format.md section 5).  Returns
 * 0 when intact, or VAULT_EINTEGRITY with *out naming the first bad entry
 * and the class; VAULT_EINVALID for a NULL note, VAULT_ELIMIT for more
 * than VAULT_AUDIT_NOTES_MAX.  Reads one snapshot, then appends an
 * "audit_verify" entry recording the class and counts (that entry is not
 * covered by this run; when the damage found stops appends, the finding is
 * still returned).  Blocks while another writer holds the store. */
VAULT_API int vault_audit_verify_notes(vault_audit_result *out, vault *v,
                                       const char *const *notes, size_t nnotes,
                                       vault_progress_fn progress, void *arg) VAULT_CHECK;

/* Incremental verification (docs/audit-format.md section 5, "Verifying
 * from a trusted checkpoint"): since_note is a checkpoint the caller
 * trusts (kept from an earlier verification, or from a witness); it must
 * verify with the vault's pinned key.  Only the entries after it are read
 * and checked, from the tree the vault kept at its size, which must fold
 * to the note's root (else VAULT_AUDIT_ROLLED_BACK): every later stored
 * checkpoint's signature and root, the kept tree state, the stored
 * checkpoints' lag and the witnesses, as vault_audit_verify_notes does;
 * the nnotes external notes must not be smaller than since_note
 * (VAULT_EINVALID).  Time is proportional to the entries after it.
 * out->entries counts those.  When the vault keeps no tree for that size
 * (a checkpoint signed by an older libvault, a record removed, or another
 * history since), the whole log is verified instead, with since_note as an
 * external checkpoint, and an intact result's message says "verified in
 * full".  VAULT_EINVALID in client mode.  Logged as "audit_verify" once
 * the scan ran, as a full verification is (refusals of the arguments
 * before it are not). */
VAULT_API int vault_audit_verify_since(vault_audit_result *out, vault *v, const char *since_note,
                                       const char *const *notes, size_t nnotes,
                                       vault_progress_fn progress, void *arg) VAULT_CHECK;

/* vault_audit_verify_notes with at most one note (checkpoint_note may be
 * NULL). */
VAULT_API int vault_audit_verify(vault_audit_result *out, vault *v, const char *checkpoint_note,
                                 vault_progress_fn progress, void *arg) VAULT_CHECK;

/* Write the log as JSON Lines (checkpoints first, then entries) to path
 * ("-" for standard output).  Needs no keys to verify: see below.  An
 * "audit_export" entry is committed first, and the export includes it.
 * Entries that no longer decode are exported as stored. */
VAULT_API int vault_audit_export(vault *v, const char *path, vault_progress_fn progress,
                                 void *arg) VAULT_CHECK;

/* vault_audit_export with flags.  VAULT_EXPORT_COMPACT: entry lines carry
 * seq, entry and head only, without the decoded keys for people
 * (docs/audit-format.md section 4, "Compact lines"): a third of the size,
 * and verified several times faster.  VAULT_EINVALID for other flags,
 * and for VAULT_EXPORT_COMPACT in client mode. */
#define VAULT_EXPORT_COMPACT 1
VAULT_API int vault_audit_export_as(vault *v, const char *path, int flags,
                                    vault_progress_fn progress, void *arg) VAULT_CHECK;

/* Verify an export offline with the public key text alone (no vault),
 * and every one of the nnotes external checkpoint notes, as
 * vault_audit_verify_notes does.  Nothing is logged (there is no vault).
 * VAULT_EINVALID for a malformed public key or a NULL note, VAULT_ENOTFOUND
 * when the export can't be opened, VAULT_EIO on a read error,
 * VAULT_EINTEGRITY with *out filled on any finding. */
VAULT_API int vault_audit_verify_export_notes(vault_audit_result *out, const char *export_path,
                                              const char *pubkey, const char *const *notes,
                                              size_t nnotes, vault_progress_fn progress,
                                              void *arg) VAULT_CHECK;

/* vault_audit_verify_export_notes with at most one note (may be NULL). */
VAULT_API int vault_audit_verify_export(vault_audit_result *out, const char *export_path,
                                        const char *pubkey, const char *checkpoint_note,
                                        vault_progress_fn progress, void *arg) VAULT_CHECK;

/* vault_audit_verify_export_notes, then the witnesses (docs/audit-format.md
 * section 5, "Witnesses"): the export's newest checkpoint must carry valid
 * cosignatures from at least `quorum` (0: all) of the nwitness distinct
 * witnesses whose verifier keys (C2SP vkey text, signature type 0x04, as
 * `vaultctl witness pubkey` prints it) are given, else the class is
 * VAULT_AUDIT_UNWITNESSED.  A cosignature line that does not verify is
 * not counted.  nwitness 0 is vault_audit_verify_export_notes.
 * VAULT_EINVALID for a key that isn't a witness key, a quorum above
 * nwitness, or "-" as the export path with witnesses. */
VAULT_API int vault_audit_verify_export_witnessed(vault_audit_result *out,
                                                  const char *export_path, const char *pubkey,
                                                  const char *const *notes, size_t nnotes,
                                                  const char *const *witness_keys,
                                                  size_t nwitness, size_t quorum,
                                                  vault_progress_fn progress,
                                                  void *arg) VAULT_CHECK;

/* Reports over the log. */
#define VAULT_REPORT_RECORD 1      /* arg: record id: who accessed this resident */
#define VAULT_REPORT_USER 2        /* arg: user: what this user accessed */
#define VAULT_REPORT_DENIED 3      /* all denials */
#define VAULT_REPORT_BREAK_GLASS 4 /* all break-glass accesses */

VAULT_API int vault_const_report_record(void);
VAULT_API int vault_const_report_user(void);
VAULT_API int vault_const_report_denied(void);
VAULT_API int vault_const_report_break_glass(void);

/* *out (free with vault_free): one line per entry, or a JSON array when
 * as_json.  Logged as an audit access itself.  For VAULT_REPORT_USER, arg
 * is any actor the log can hold (a session user, "os:<login>", a
 * vault_set_actor name), compared case-folded and NFC; VAULT_EINVALID for a
 * name no entry can hold.  Free text in text lines is escaped (control
 * characters as \n, \t, \xNN; bidi controls as \u{XXXX}), so no stored
 * text can forge or hide a line (docs/audit-format.md §7).  Each line
 * shows the principal after the subject ("[app=A iss=I sub=S]", or
 * "[embedded]"); JSON rows carry issuer, subject, token_id, app and peer
 * (null for entries older than format LVA2). */
VAULT_API int vault_audit_report(char **out, vault *v, int kind, const char *arg,
                                 int as_json) VAULT_CHECK;

/* Who accessed residents' data far more than the others of their role in
 * the last `window` seconds (60 ... 366 days): per user and role the count
 * of read, export and search entries, the role's median and a modified
 * z-score; flagged when the score is >= 3.5 and the count >= 3 times the
 * median, among roles of 3 users or more (docs/audit-format.md
 * "Anomalies").  *out (vault_free) is text, or with as_json a JSON array
 * of {user, role, department, count, role_median, score, peers, flagged},
 * flagged first.  Reads the window's entries only (found by their signed
 * times), each checked against the hash chain up to the newest entry
 * (VAULT_EINTEGRITY when one does not match).  Logged.  In client mode
 * through vaultd (POST /v1/audit/anomalies, an auditor's route). */
VAULT_API int vault_audit_anomalies(char **out, vault *v, int64_t window, int as_json) VAULT_CHECK;

/* Purpose accounting for the privacy officer (docs/audit-format.md
 * "Summary"): the audit entries of one calendar month, `month` "YYYY-MM"
 * in UTC (from its first day 00:00 UTC to the next month's), counted by
 * the keys of `by`, a comma list of department, purpose, role, action
 * and outcome (NULL: "department,purpose"; VAULT_EINVALID for an unknown
 * key, one named twice, or a month not YYYY-MM of 1970 or later).
 * outcome is refused (the operation was refused or failed), denied (it
 * was, or a field was), masked (a field was masked, none denied) or
 * allowed.  Per group: entries, residents (the distinct records its
 * entries name, canaries left out: a decoy is no resident) and
 * canary_entries (entries that touched a canary).  Every entry counted is
 * checked against the hash chain up to the newest entry's MAC'd head
 * (VAULT_EINTEGRITY when one does not match), never taken from the
 * unsigned index copies.  *out (vault_free): with VAULT_SUMMARY_TEXT a
 * table (a first line with the totals, "-" for an empty value, text
 * escaped as in reports); VAULT_SUMMARY_JSON {month, zone, from, to, by,
 * entries, residents, canary_entries, groups: [{<key>: value, ...,
 * entries, residents, canary_entries}]}; VAULT_SUMMARY_CSV RFC 4180 (a
 * header row, every field quoted, CRLF).  Groups sorted by their values.
 * Logged (action audit_summary, detail "month M by K,..."). In client mode
 * through vaultd (POST /v1/audit/summary, an auditor's route). */
#define VAULT_SUMMARY_TEXT 0
#define VAULT_SUMMARY_JSON 1
#define VAULT_SUMMARY_CSV 2
VAULT_API int vault_const_summary_text(void);
VAULT_API int vault_const_summary_json(void);
VAULT_API int vault_const_summary_csv(void);
VAULT_API int vault_audit_summary(char **out, vault *v, const char *by, const char *month,
                                  int format) VAULT_CHECK;

/* ---- Proofs (RFC 6962; docs/audit-format.md section "Proofs") ----------
 * Entry seq (1-based, as everywhere in the log) is the RFC 6962 leaf
 * index seq - 1; the tree of size S holds entries 1..S.  A proof carries
 * the root(s) it leads to and, when the vault stores a signed checkpoint
 * of that size, its note: checked against a note and the public key with
 * vault_proof_check, without the vault. */
#define VAULT_PROOF_INCLUSION 1   /* entry seq is in the tree of `size` */
#define VAULT_PROOF_CONSISTENCY 2 /* the tree of `size` extends the tree of `from` */
#define VAULT_PROOF_HASHES_MAX 128

typedef struct vault_proof {
    int kind;               /* VAULT_PROOF_* */
    uint64_t seq;           /* inclusion: the entry (1-based); 0 otherwise */
    uint64_t from;          /* consistency: the older size A; 0 otherwise */
    uint64_t size;          /* the tree size the proof leads to (S, or B) */
    uint8_t leaf[32];       /* inclusion: SHA-256(0x00 | entry bytes) */
    uint8_t from_root[32];  /* consistency: root of the first `from` entries */
    uint8_t root[32];       /* root of the first `size` entries */
    size_t nhashes;
    uint8_t hashes[VAULT_PROOF_HASHES_MAX][32]; /* in RFC 6962 order */
    char *checkpoint;       /* signed note of size `size`, or NULL when none is stored;
                               of size via_size for a shard log's entry */
    char *from_checkpoint;  /* consistency: signed note of size `from`, or NULL */
    /* Inclusion of an entry of a shard log (docs/audit-format.md, "Proofs
     * across logs"): seq, size, leaf, hashes and root are in that log's
     * tree, and the via_ members prove that the city log claims that tree:
     * its log_heads entry via_seq (its bytes via_entry), whose detail
     * names (size, root, log), is in the city tree of via_size entries,
     * root via_root, which `checkpoint` signs.  All 0 / NULL for an entry
     * of the city log. */
    char *log;              /* the shard log's name; NULL: the city log */
    uint64_t via_seq;
    uint8_t *via_entry;
    size_t via_len;
    uint64_t via_size;
    uint8_t via_root[32];
    size_t via_nhashes;
    uint8_t via_hashes[VAULT_PROOF_HASHES_MAX][32];
} vault_proof;

/* sizeof(vault_proof) and VAULT_PROOF_HASHES_MAX, for bindings that
 * mirror the struct. */
VAULT_API size_t vault_proof_struct_size(void);
VAULT_API size_t vault_proof_hashes_max(void);
VAULT_API int vault_const_proof_inclusion(void);
VAULT_API int vault_const_proof_consistency(void);

/* Inclusion proof of entry seq (1-based) in the tree of the first `size`
 * entries.  size 0 means the newest signed checkpoint's size (the proof
 * then always carries a note; VAULT_ENOTFOUND when no checkpoint covers
 * seq yet: write one with vault_audit_checkpoint, or name a size).  Any
 * other size up to the log's is allowed; out->checkpoint is the stored
 * note of that size, or NULL.  Every entry up to `size` is read and
 * checked as vault_audit_verify checks it (bytes, sequence, chain head,
 * stored checkpoints' signatures and roots): one pass over them with
 * O(log size) memory.  VAULT_EINVALID for seq 0 or seq > size,
 * VAULT_ENOTFOUND for size beyond the log, VAULT_EINTEGRITY when an
 * entry or checkpoint in the range fails its checks (no proof of
 * damaged data is made).  Logged as action "audit_prove", refusals too
 * (outcome error).  *out is cleared first; release it with
 * vault_proof_clear.  Blocks while another writer holds the store. */
VAULT_API int vault_audit_prove(vault_proof *out, vault *v, uint64_t seq, uint64_t size) VAULT_CHECK;

/* The same for entry seq of log (NULL or "": the city log, exactly
 * vault_audit_prove; a shard log's name, as reports show it, where the
 * store keeps shard logs: PostgreSQL).  A shard log's entry is proved
 * in two levels (vault_proof's via_ members): in that log's tree at a
 * size the city log claims for it (size: that claimed size; 0: the
 * earliest claim that covers seq), and the claiming log_heads entry in
 * the city tree of the newest signed checkpoint, whose note the proof
 * carries.  Every entry read on the way (the city log's up to the
 * checkpoint, the shard log's up to the claim, against every claim of it
 * up to that size) is checked as vault_audit_verify checks it.  VAULT_ENOTFOUND when no claim in the
 * newest checkpoint covers seq (write a checkpoint: vault_audit_checkpoint
 * claims every shard log's head first) or the log is unknown;
 * VAULT_EINVALID for seq 0, a named size below seq, or a log name a file
 * vault can't have; VAULT_EINTEGRITY for damage in either log (a claim
 * that does not parse, a shard log that is not the tree claimed, a city
 * log cut below the checkpoint).  Logged as "audit_prove". */
VAULT_API int vault_audit_prove_in(vault_proof *out, vault *v, const char *log, uint64_t seq,
                                   uint64_t size) VAULT_CHECK;

/* Consistency proof from the tree of size `from` to the tree of size `to`
 * (from <= to; to 0: the newest signed checkpoint's size).  from 0 and
 * from == to give an empty proof.  Errors, cost and logging (action
 * "audit_consistency") as for vault_audit_prove; VAULT_EINVALID for
 * from > to. */
VAULT_API int vault_audit_consistency(vault_proof *out, vault *v, uint64_t from,
                                      uint64_t to) VAULT_CHECK;

/* Free what *p holds (its notes, log and via_entry) and zero it; NULL
 * does nothing. */
VAULT_API void vault_proof_clear(vault_proof *p);

/* The proof as one JSON object (docs/audit-format.md, "Proofs"):
 *   inclusion:   {"seq","size","leaf","hashes":[base64...],"root","checkpoint"}
 *   a shard log's entry: {"log","seq","size","leaf","hashes","root",
 *                 "via":{"seq","entry","size","hashes","root"},"checkpoint"}
 *   consistency: {"from","size","from_root","root","hashes","from_checkpoint","checkpoint"}
 * hashes and roots in base64, notes as text or null.  *out freed with
 * vault_free. */
VAULT_API int vault_proof_json(char **out, const vault_proof *p) VAULT_CHECK;

/* Parse that JSON (len bytes) into *out (cleared first; release with
 * vault_proof_clear).  VAULT_EINVALID, naming the key, for anything else:
 * a missing or extra key, a hash that is not base64 of 32 bytes, more
 * than VAULT_PROOF_HASHES_MAX hashes. */
VAULT_API int vault_proof_parse(vault_proof *out, const char *json, size_t len) VAULT_CHECK;

/* Check a proof offline with the public key text (vault_audit_pubkey)
 * alone: the hashes must lead from the leaf (or from_root) to the root
 * (af_inclusion_verify / af_consistency_verify), and each root must be
 * vouched for by a checkpoint note signed by that key: the proof's own
 * notes and every one of the nnotes notes given (each must verify, be of
 * the proof's size or from-size, and name the same root).  0 when it
 * holds; VAULT_EINTEGRITY (message says which part failed: "proof",
 * "bad signature", "root") otherwise; VAULT_EINVALID for a malformed key,
 * note or proof shape; VAULT_ENOTFOUND when a root has no signed note.
 * A shard log's entry (p->log set): its hashes must lead to root in that
 * log's tree, via_entry must be a log_heads entry numbered via_seq whose
 * detail claims exactly (size, root) for p->log ("claim" in the message
 * otherwise), the via_ hashes must lead from its leaf to via_root, and
 * the notes must vouch for via_root at via_size. */
VAULT_API int vault_proof_check(const vault_proof *p, const char *pubkey,
                                const char *const *notes, size_t nnotes) VAULT_CHECK;

/* ---- Resident proof bundles (docs/audit-format.md section 11) -----------
 * Everything a resident (or a deputy, an ombudsman) needs to check offline,
 * with the log's public key alone, who accessed their record: the entries
 * filed under it, each with its inclusion proof into the newest signed
 * checkpoint, that checkpoint's note as stored (with any witness
 * cosignatures), and the log key's signed statement listing which entries
 * of the record that tree holds, so that a removed entry is seen. */

/* "unwitnessed": fewer valid cosignatures than required.  The in-vault
 * verifier gets the same class on another branch; one value for both. */
#ifndef VAULT_AUDIT_UNWITNESSED
#define VAULT_AUDIT_UNWITNESSED 8
#endif

/* The bundle of record record_id (32 hex digits) as JSON text (*out, freed
 * with vault_free): every entry filed under the record (found through the
 * report index) up to the newest stored checkpoint, proved in one pass
 * over entries 1 .. its size, every entry checked as vault_audit_verify
 * checks it first.  Entries newer than that checkpoint are not in it
 * (write one with vault_audit_checkpoint first to include them).  A record
 * without entries gives a bundle of none, which still proves that.  Where
 * the store keeps shard logs and the checkpoint claims some, the bundle is
 * libvault-bundle/v2 (docs/audit-format.md §11 "Shard logs"): the
 * record's entries of every log, each shard log read up to its largest
 * claim in the checkpoint and proved in that tree, the claim proved in
 * the checkpoint.  Logged first as action "audit_bundle", filed under the
 * record.  VAULT_EINVALID for a bad id, VAULT_ENOTFOUND when no checkpoint
 * is stored, VAULT_EINTEGRITY when a log or its report index fails a check
 * (no bundle of damaged data is made), VAULT_ELIMIT beyond 65536 entries
 * or 4096 claimed shard logs.
 * In client mode, vaultd's /v1/audit/bundle (auditors only).  Blocks
 * while another writer holds the store. */
VAULT_API int vault_audit_bundle(char **out, vault *v, const char *record_id) VAULT_CHECK;

/* Verify a bundle (len bytes of JSON) offline with the log's verifier key
 * text (vault_audit_pubkey) and, when nwitness > 0, the witnesses'
 * verifier keys (vaultctl witness pubkey): at least `quorum` distinct ones
 * (0: all given) must have cosigned the checkpoint.  0 when it holds
 * (out->message "ok: ..."); VAULT_EINTEGRITY with out->failure the class:
 * modified (an entry or proof altered, an entry of another record, a
 * statement about another tree), missing (an entry the statement lists is
 * not in the bundle), reordered (an entry twice or out of order), bad
 * signature (another log's checkpoint, or one not signed by the key),
 * malformed (not a bundle; over 64 MiB), unwitnessed.  VAULT_EINVALID
 * for a malformed key or a quorum above nwitness.  No vault, no I/O. */
VAULT_API int vault_audit_verify_bundle(vault_audit_result *out, const char *json, size_t len,
                                        const char *pubkey, const char *const *witness_keys,
                                        size_t nwitness, size_t quorum) VAULT_CHECK;

/* ---- Grants and break-glass ------------------------------------------------ */

/* A grant issued by a data officer (the session's subject) to a subject
 * pattern.  Bounded by the policy's grant_limits for the officer's role. */
typedef struct vault_grant_spec {
    size_t size;              /* sizeof(vault_grant_spec): VAULT_GRANT_SPEC_INIT */
    const char *user;         /* recipient pattern: user, or role and/or department */
    const char *role;
    const char *department;
    int effect;               /* VAULT_EFFECT_ALLOW or VAULT_EFFECT_MASK */
    const char *const *fields; /* fields, or NULL with grade_min/grade_max names */
    size_t nfields;
    const char *grade_min;    /* NULL: least sensitive */
    const char *grade_max;    /* NULL: most sensitive */
    const char *const *records; /* record ids, or NULL with a jurisdiction */
    size_t nrecords;
    const char *jurisdiction; /* subtree the grant covers when no records are listed */
    const char *const *purposes; /* NULL / 0: any purpose */
    size_t npurposes;
    int64_t not_before;       /* unix seconds; 0 = now */
    int64_t not_after;        /* unix seconds, required */
    const char *reason;       /* required, written reason (one line of text) */
    unsigned actions;         /* (1u << VAULT_ACTION_READ) | ..._SEARCH | ..._EXPORT;
                                 0 = read only */
} vault_grant_spec;
#define VAULT_GRANT_SPEC_INIT {.size = sizeof(vault_grant_spec)}

/* Issue a grant.  out_id receives its id ("g-" + 16 hex; VAULT_NAME_MAX
 * bytes).  VAULT_EDENIED names the broken limit: the officer's role may
 * not grant, the grade ceiling, the duration, the recipients, a scope
 * (jurisdiction subtree or listed record) outside the officer's own
 * jurisdiction, recipients that include the officer (no self-grants
 * unless grant_limits say self_grant: true), or continuous access beyond
 * max_duration with the grants already made (no chaining; see
 * docs/policy-format.md).  Times lie in 1970..9999 (VAULT_EINVALID
 * otherwise).  A listed record that does not exist is VAULT_ENOTFOUND.
 * Every refusal is an audit entry naming the limit and the request.
 * A grant reaching the policy's approval grade is issued pending
 * (*out_pending = 1) and applies only after vault_grant_approve by a
 * second, different officer.  Takes the write lock (may wait, then
 * VAULT_EBUSY). */
VAULT_API int vault_grant_issue(char *out_id, size_t out_id_size, int *out_pending,
                                vault_session *officer, const vault_grant_spec *spec) VAULT_CHECK;
/* Approve a pending grant.  The approver must be a data officer (a role
 * with grant_limits) other than the issuer (another user name and, when
 * both were authenticated (vault_session_open_as), another token issuer
 * and subject: one person holding two tokens whose user claims differ is
 * still the issuer; the grant row records both principals), not among the grant's
 * recipients (its user, or its role and department part), whose own
 * jurisdiction covers the grant's scope and whose own limits would allow
 * the grant.  VAULT_EDENIED otherwise, VAULT_ESTATE when the grant is not
 * pending or has expired; every refusal is an audit entry. */
VAULT_API int vault_grant_approve(vault_session *officer, const char *grant_id) VAULT_CHECK;
/* Revoke a grant at once (reason required). */
VAULT_API int vault_grant_revoke(vault_session *officer, const char *grant_id,
                                 const char *reason) VAULT_CHECK;
/* List grants (logged: action grant_list) as text (one per line, free
 * text escaped) or a JSON array,
 * each with its state (pending, active, scheduled, expired, suspended,
 * revoked), actions, purposes and revoke or suspension reason, and the
 * authenticated principals that issued and approved it where recorded
 * (text: "by USER (iss=I sub=S app=A)"; JSON: issued_by and approved_by,
 * {issuer, subject, app, token_id} or null);
 * active_only skips all but active ones.  *out freed with vault_free. */
VAULT_API int vault_grant_list(char **out, vault *v, int active_only, int as_json) VAULT_CHECK;
/* Warnings about a grant, one "warning: ...\n" line each ("" when none):
 * fields that a deny rule of the policy keeps from all its recipients
 * whatever the grant says, so the grant can't open them.  Logged (action
 * grant_warnings).  *out freed with vault_free. */
VAULT_API int vault_grant_warnings(char **out, vault *v, const char *grant_id) VAULT_CHECK;

/* Break glass: open one record for the session's subject for `seconds`
 * (0 = the policy's maximum) with a mandatory reason.  Only roles the
 * policy names may, for a purpose its break_glass.purposes lists, on a
 * record inside their own jurisdiction (unless break_glass.any_jurisdiction
 * lists the role), at most break_glass.max_per_day times per user in any
 * 24 hours (default 3).  VAULT_EDENIED otherwise, VAULT_ENOTFOUND for no
 * such record; every refusal is an audit entry.  Every access under it
 * is flagged in the audit log.  out_id receives the break-glass grant id. */
VAULT_API int vault_break_glass(char *out_id, size_t out_id_size, vault_session *s,
                                const char *record_id, const char *reason,
                                int64_t seconds) VAULT_CHECK;

/* ---- Import, export, key rotation ----------------------------------------- */

/* Import residents from a CSV file: a header row names the fields, one
 * column named "jurisdiction" says where each resident lives.  All or
 * nothing: any bad row, unknown or duplicate column, or denied write
 * aborts the whole file with "FILE:ROW:COLUMN: message" and imports
 * nothing.  One audit entry per record created.  *out_count (may be NULL)
 * receives the number of records imported. */
VAULT_API int vault_import_csv(size_t *out_count, vault_session *s, const char *path,
                               vault_progress_fn progress, void *arg) VAULT_CHECK;

/* A resident's copy request: every field of the record the session may
 * see (plaintext or masked; denied and empty fields left out) as a JSON
 * object, action export.  Logged.  *out freed with vault_free (wipe it). */
VAULT_API int vault_record_export(char **out, vault_session *s, const char *record_id) VAULT_CHECK;

/* Rotate a grade's data key: add a new version (new writes use it at
 * once) and re-encrypt that grade's fields in batches, each its own
 * transaction, then retire the old versions.  Resumable: run it again
 * after an interruption and it carries on without adding another
 * version.  Reads keep working throughout.  Logged. */
VAULT_API int vault_key_rotate(vault *v, const char *grade, vault_progress_fn progress,
                               void *arg) VAULT_CHECK;

/* ---- Master-key rotation (docs/keyslots.md section 11) --------------------- */

/* What vault_key_rotate_master did. */
typedef struct vault_master_rotation {
    uint64_t records;     /* records carried under the new keys */
    uint64_t digests;     /* blind-index digests computed anew */
    uint64_t record_keys; /* record keys wrapped anew */
    uint64_t erased;      /* erasures (tombstones) carried */
    uint64_t grade_keys;  /* grade-key versions wrapped anew */
    uint64_t entries;     /* audit entries carried (the log, unchanged) */
    int slot_kept;        /* the unlocking secret's slot, kept; -1 when dropped */
    int slot_added;       /* the new secret's slot; -1 when none was given */
    size_t slots_dropped; /* slots left behind (their secrets open nothing now) */
    int dropped[32];      /* their numbers */
    int cleaned;          /* 1: an earlier, uncommitted rotation's files were removed */
} vault_master_rotation;

/* The slot of the unlocking secret is not carried over: only new_secret
 * opens the vault afterwards (a leaked key file used to unlock it). */
#define VAULT_ROTATE_MASTER_DROP_CURRENT 1u
VAULT_API unsigned vault_const_rotate_master_drop_current(void);

/* Give the vault file at `path` a new random master key and replace
 * everything derived from the old one: the SQLCipher key of the vault file
 * and of its record-key store, the row-MAC key (every row tagged anew), the
 * key that wraps grade keys and the audit signing key, the record keys'
 * wrap key, the blind-index key (every digest computed anew from the
 * opened value), the pseudonym key (pseudonyms change), the canary seal,
 * and the audit anchor's MAC.  Grade keys, record keys, ciphertexts and
 * the audit signing key stay: the log and its checkpoints verify across
 * the rotation with the same public key.  `secret` unlocks the vault;
 * the new keys file holds the new master key under it (its slot number
 * and label kept) unless flags has VAULT_ROTATE_MASTER_DROP_CURRENT, and
 * under new_secret (may be NULL; a key file must exist) in a new slot
 * labelled new_label.  Every other slot is left behind: its passphrase or
 * key file opens neither the vault nor any copy made from now on.  The
 * vault file must not be open anywhere (VAULT_EBUSY: stop vaultd
 * first); it is held as the only connection throughout.  A PostgreSQL
 * vault's write lock is held instead, the copies take the live schemas'
 * places in one transaction, and handles still under the old keys fail
 * closed (VAULT_EAUTH) at their next transaction.  Its audit log must verify
 * (VAULT_EINTEGRITY, nothing changed), and every row is checked as it is
 * carried.  Crash-safe: until the new keys file is renamed into place
 * nothing of the vault changed; after, the next open finishes.  The new
 * log holds an entry, action key_rotate_master, with the counts, and a
 * checkpoint over it.  Copies made before (backups, the old keys file)
 * still open with the old secrets: retire them.  Another backend is
 * VAULT_ESTATE.  progress (may be NULL): rows copied of total.  Blocks
 * (Argon2id for passphrases) and reads the whole vault. */
VAULT_API int vault_key_rotate_master(vault_master_rotation *out, const char *path,
                                      const vault_secret *secret, const vault_secret *new_secret,
                                      const char *new_label, unsigned flags,
                                      vault_progress_fn progress, void *arg) VAULT_CHECK;

/* ---- Retention (docs/policy-format.md "Retention", docs/erasure.md) --------
 * The active policy's `retention:` schedules.  Retention is the vault's
 * own duty, not an access: no rule decides it; its entries carry the user
 * "retention" with the handle's actor principal (vault_set_actor_as).
 *
 * vault_retention_plan: what is due now, reading every record once (one
 * snapshot; date and flag fields are opened with the vault's keys).
 * *out (vault_free) is text, one line per item, or with as_json
 * {now, schedules, records_read, records_to_erase, records_with_fields,
 * remains, due: [{record, schedule, erase: "record"|"fields"|"remains",
 * fields: [...]}], problems: [{record, schedule, field, problem}]}.
 * "remains" are records whose key is already gone (an erase cut short);
 * a problem is a date field whose value is not YYYY-MM-DD (named, never
 * shown; that schedule is skipped for the record).  Logged (action
 * retention_plan; one entry per problem, up to 100).
 *
 * vault_retention_run: compute a plan, log it, and carry out exactly what
 * it lists, in batches of 100 records that each commit: a record is erased
 * through the record erase (its key destroyed), fields are removed from
 * the record (one row write; the record's last write time stays), remains
 * are deleted; each one "erase" entry naming the schedule.  A record that
 * changed since the plan is skipped (listed) for the next run.  A killed
 * run leaves every record whole, erased or with exactly its due fields
 * removed; running again carries on.  *out: text, or JSON {now, complete,
 * planned, records_erased, records_with_fields_removed, fields_removed,
 * remains_removed, canaries_erased, batches, done: [items as in the plan],
 * skipped: [ids], problems: [...]}.  Both block for the whole scan; in
 * client mode through vaultd (POST /v1/retention/plan, /v1/retention/run,
 * a data officer's routes).  VAULT_EINTEGRITY when a row fails its MAC or
 * a date or flag field fails to open (the message names record and field). */
VAULT_API int vault_retention_plan(char **out, vault *v, int as_json) VAULT_CHECK;
VAULT_API int vault_retention_run(char **out, vault *v, int as_json) VAULT_CHECK;

/* ---- Backup ----------------------------------------------------------------
 * docs/backup.md.  Embedded vaults in a SQLCipher file only (client mode and
 * other backends: VAULT_EINVALID / VAULT_ESTATE). */

/* Copy the open vault into the new file `out_path`: one consistent
 * snapshot through SQLite's online backup API (never a file copy: other
 * handles and processes may write meanwhile; they are not stopped), with
 * the same store key and page size, mode 0600.  An audit entry, action
 * "backup", is committed first, so the copy holds it.  The copy is written
 * to `out_path`.partial and linked to `out_path` when complete: an existing
 * `out_path` (or .partial) is refused with VAULT_EEXISTS and never
 * overwritten, and a failed backup leaves neither.  The keys file
 * (`<vault>.keys`) is not in the copy: keep a copy of it separately
 * (docs/backup.md).  progress (may be NULL) gets pages done of total.
 * Blocks while another writer holds the store, for the entry only; the
 * handle itself is busy until the copy is done (other handles are not).
 * VAULT_EIO for a target that can't be written (named in the message). */
VAULT_API int vault_backup(vault *v, const char *out_path, vault_progress_fn progress,
                           void *arg) VAULT_CHECK;
/* The same for the vault's record-key store (docs/erasure.md): a new file
 * out_path (mode 0600, never overwriting), a consistent copy of PATH.rkeys
 * under its own key, while the vault stays open.  Logged (action backup).
 * Every such copy undoes the erasures made after it once put back: keep
 * these copies on a short retention of their own, apart from the data
 * backups.  VAULT_ESTATE for a vault not kept in files (PostgreSQL: dump
 * the schema NAME_rkeys) and for a client-mode handle. */
VAULT_API int vault_backup_record_keys(vault *v, const char *out_path, vault_progress_fn progress,
                                       void *arg) VAULT_CHECK;

/* What vault_restore did: the size of the last checkpoint the keys file's
 * anchor recorded before (what the vault had signed), the size of the last
 * checkpoint the backup had signed, and the entries its verification
 * checked. */
typedef struct vault_restore_info {
    uint64_t from_size;
    uint64_t to_size;
    uint64_t entries;
    int kept_old; /* 1: the replaced file is `path`.before-restore (0: there was none) */
} vault_restore_info;

/* Replace an existing PATH.before-restore (and PATH.keys.before-restore)
 * left by an earlier restore instead of refusing. */
#define VAULT_RESTORE_FORCE 1u
VAULT_API unsigned vault_const_restore_force(void);

/* Put the backup `from` back as the vault at `path`, unlocking the vault's
 * current keys file (`path`.keys) with `secret`.  Nothing is replaced
 * until the copy passed every check, in a temporary copy next to the
 * vault (`path`.restoring): it opens with the vault's keys (another
 * vault's copy: VAULT_EINTEGRITY), its store schema reads, and its audit
 * log verifies (vault_audit_verify; a tampered copy: VAULT_EINTEGRITY
 * with the class).  Then, holding the vault file as its only connection
 * (open elsewhere: VAULT_EBUSY), the old file is kept as
 * `path`.before-restore (and the keys file as `path`.keys.before-restore;
 * VAULT_EEXISTS when they exist, unless VAULT_RESTORE_FORCE), the keys
 * file's audit anchor is moved back to the copy's last signed checkpoint
 * and the copy renamed over `path`.  The restored log holds an entry,
 * action "restore", naming the checkpoint sizes it went back from and to
 * (its actor is the default one, os:<login>), and a checkpoint signed
 * over it.  A missing `path` (a lost disk, the
 * keys file kept) is restored without a before-restore copy.  out (may be
 * NULL) gets the sizes.  VAULT_EAUTH: wrong secret.  Blocks (Argon2id,
 * twice for a passphrase) and reads the whole copy. */
VAULT_API int vault_restore(vault_restore_info *out, const char *path, const char *from,
                            const vault_secret *secret, unsigned flags) VAULT_CHECK;

/* ---- Migration (docs/postgresql.md "Migrating a street's vault") ---- */

/* What vault_migrate copied: the audit entries (the source's log as it
 * was copied, before the entries the migration itself appends), the
 * records, and every row of the store. */
typedef struct vault_migrate_info {
    uint64_t entries;
    uint64_t records;
    uint64_t rows;
} vault_migrate_info;

/* Copy the SQLCipher vault at from_path into a new vault at to_location
 * (a PostgreSQL location, or a registered backend's): the same vault
 * (id, keys, records, grants, policies, the audit log with its
 * checkpoints), so the log verifies end to end there, against
 * checkpoints exported from the source before too.  The source is
 * unlocked with `secret` and its log verified first (VAULT_EINTEGRITY
 * when it does not verify); its write lock is held until the end.  The
 * target's keys file (the location's vault_keys=PATH) must not exist
 * (VAULT_EEXISTS): a copy of the source's is written there (the same
 * slots, so `secret` opens both; mode 0600).  The target store must be
 * new or empty (VAULT_EEXISTS, nothing changed in it).  Every row's MAC
 * is checked as it is copied (VAULT_EINTEGRITY).  The copy is then
 * opened as a vault, its log verified, and an entry (action
 * store_migrate, "copied from a sqlcipher store (N entries, ...)")
 * appended there; the source's log gets one too ("copied to LOCATION",
 * password hidden).  On a failure before the copy is whole, the target
 * store this call created is dropped and the new keys file removed.  A
 * file target is VAULT_EINVALID (copy a file vault with vault_backup).
 * out (may be NULL) gets the counts; progress (may be NULL) rows copied
 * of total.  VAULT_EAUTH: wrong secret. */
VAULT_API int vault_migrate(vault_migrate_info *out, const char *from_path,
                            const char *to_location, const vault_secret *secret,
                            vault_progress_fn progress, void *arg) VAULT_CHECK;

#ifdef __cplusplus
}
#endif
#endif /* VAULT_H */

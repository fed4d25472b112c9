/* audit_format: the audit log's bytes and hashes, with no database.
 * Canonical entry encoding, leaf/chain/Merkle hashes (RFC 6962, SHA-256),
 * C2SP signed-note checkpoints (Ed25519), the JSON Lines export and its
 * offline verifier.  Exact bytes in docs/audit-format.md. */
#ifndef VAULT_AUDIT_FORMAT_H
#define VAULT_AUDIT_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "internal.h"

#define AF_HASH_BYTES 32
#define AF_ENTRY_MAX (256 * 1024)  /* largest encoded entry accepted */
#define AF_FIELDS_MAX 1024         /* fields in one entry */
#define AF_NOTE_MAX 4096           /* largest checkpoint note accepted */
#define AF_REASONS_MAX AF_FIELDS_MAX /* strings in an LVA2 entry's reason table */

/* Entry format versions (the magic): LVA1 entries are still decoded and
 * verified; every new entry is LVA2. */
#define AF_VERSION_1 1 /* "LVA1": no principal, a reason string per field */
#define AF_VERSION_2 2 /* "LVA2": the principal, a table of distinct reasons */

/* Outcome of the operation the entry records. */
#define AF_OUTCOME_OK 0
#define AF_OUTCOME_DENIED 1
#define AF_OUTCOME_ERROR 2

/* Entry flags. */
#define AF_FLAG_BREAK_GLASS 0x01
/* An access over a policy quota whose `over:` is alert (it went on). */
#define AF_FLAG_ALERT 0x02
/* An access that touched a canary (a decoy record, canary.h). */
#define AF_FLAG_CANARY 0x04
#define AF_FLAGS_KNOWN (AF_FLAG_BREAK_GLASS | AF_FLAG_ALERT | AF_FLAG_CANARY)

typedef struct af_field {
    const char *name;
    int effect;            /* VAULT_EFFECT_* decided for this field */
    const char *reason;    /* "rule ID (FILE:LINE)", "grant ID", "default deny", ...;
                              LVA2 stores each distinct text once per entry (fields
                              decoded from one share the pointer) */
    int has_ct_hash;       /* 1 for writes: SHA-256 of the new ciphertext */
    uint8_t ct_hash[32];
} af_field;

/* Who acted, as authenticated (LVA2; all empty in a decoded LVA1 entry).
 * Embedded callers carry an empty issuer and app and a "local:" peer. */
typedef struct af_principal {
    const char *issuer;    /* identity token issuer (iss) */
    const char *subject;   /* token subject (sub) */
    const char *token_id;  /* token id (jti) */
    const char *app;       /* authenticated app */
    const char *peer;      /* transport peer: "unix:uid=998", "tls:192.0.2.7:51234", "local:..." */
} af_principal;

/* One audit entry.  Strings are UTF-8; NULL is encoded as empty.  Never
 * holds a field value. */
typedef struct af_entry {
    int version;           /* AF_VERSION_*: set by decoding; encoding takes 0 as
                              AF_VERSION_2 (LVA1 only for tests and old vectors) */
    uint64_t seq;          /* 1, 2, 3, ... */
    int64_t time_us;       /* UTC microseconds since the epoch */
    const char *user, *role, *department, *jurisdiction, *purpose;
    af_principal who;      /* LVA2 only: LVA1 encoding refuses a non-empty one */
    const char *action;    /* "read", "write", "create", "search", "erase", "export",
                              "policy_apply", "keyslot_add", "keyslot_remove", "db_key",
                              "grant", "approve", "revoke", "break_glass", "key_rotate", ... */
    int outcome;           /* AF_OUTCOME_* */
    unsigned flags;        /* AF_FLAG_* */
    int has_record;
    uint8_t record_id[16];
    uint8_t policy_hash[32];
    const af_field *fields;
    size_t nfields;
    const char *detail;    /* free text without values: "slot 2", "grant g-17", ... */
    int64_t not_after;     /* not encoded: the principal's deadline (vault_principal), which
                              the log holds an entry's commit to (audit.h); 0: none */
    const char *log;       /* not encoded: the log it goes to (NULL or "": the city log; a
                              shard's name, where the store keeps shard logs: audit.h) */
} af_entry;

/* Set the sequence number of an encoded entry (sealing at commit: an
 * entry is encoded when it is collected, numbered when it is sealed). */
void af_entry_set_seq(uint8_t *enc, size_t len, uint64_t seq);
/* Encode to the canonical bytes (LVA2 unless e->version is AF_VERSION_1;
 * the reason table is built from the fields' reasons, compared by text).
 * *out malloc'ed.  VAULT_ELIMIT beyond AF_ENTRY_MAX or AF_FIELDS_MAX;
 * VAULT_EINVALID for a version other than 0, 1, 2, or a principal in an
 * LVA1 entry. */
int af_entry_encode(uint8_t **out, size_t *out_len, const af_entry *e) VAULT_MUST_CHECK;

/* Decode canonical bytes (LVA1 or LVA2).  The decoded entry points into
 * *storage (malloc'ed; free it after use).  VAULT_EINTEGRITY on any
 * malformation: bad magic/version, truncation, trailing bytes, over-long
 * lengths, and for LVA2 a reason table that is not the canonical one
 * (docs/audit-format.md §1). */
int af_entry_decode(af_entry *out, void **storage, const uint8_t *buf, size_t len) VAULT_MUST_CHECK;

/* Validate canonical bytes exactly as af_entry_decode does, without
 * allocating; *out_seq (may be NULL) receives the entry's sequence number.
 * VAULT_EINTEGRITY on any malformation.  Used by the verifier. */
int af_entry_check(uint64_t *out_seq, const uint8_t *buf, size_t len) VAULT_MUST_CHECK;

/* leaf = SHA-256(0x00 | entry) */
void af_leaf_hash(uint8_t out[32], const uint8_t *entry, size_t len);
/* head_n = SHA-256(0x02 | head_{n-1} | leaf_n); head_0 = 32 zero bytes */
void af_chain_next(uint8_t out[32], const uint8_t prev[32], const uint8_t leaf[32]);
/* node = SHA-256(0x01 | left | right) */
void af_node_hash(uint8_t out[32], const uint8_t left[32], const uint8_t right[32]);

/* Incremental RFC 6962 Merkle Tree Hash over leaf hashes appended in order,
 * O(log n) memory.  The root of the empty tree is SHA-256(""). */
typedef struct af_merkle {
    uint8_t stack[64][32];
    uint64_t size;
} af_merkle;
void af_merkle_init(af_merkle *m);
void af_merkle_push(af_merkle *m, const uint8_t leaf[32]);
void af_merkle_root(const af_merkle *m, uint8_t out[32]);

/* ---- RFC 6962 proofs (docs/audit-format.md) ----
 * Verify that leaf hash `leaf` is entry index (0-based) of the tree of
 * `size` leaves with root `root`, given the n hashes of its audit path
 * (RFC 6962 section 2.1.1, bottom first).  VAULT_EINVALID for a proof of
 * the wrong shape (index outside the tree, too many or too few hashes),
 * VAULT_EINTEGRITY when the hashes do not lead to root. */
int af_inclusion_verify(uint64_t index, uint64_t size, const uint8_t leaf[32],
                        const uint8_t (*proof)[32], size_t n, const uint8_t root[32]) VAULT_MUST_CHECK;
/* Verify that the tree of size2 (root2) extends the tree of size1 (root1),
 * given the n hashes of the RFC 6962 section 2.1.2 consistency proof.
 * Equal sizes need no hashes and equal roots; size1 = 0 needs none.
 * VAULT_EINVALID / VAULT_EINTEGRITY as above. */
int af_consistency_verify(uint64_t size1, uint64_t size2, const uint8_t root1[32],
                          const uint8_t root2[32], const uint8_t (*proof)[32], size_t n) VAULT_MUST_CHECK;

/* ---- checkpoints: C2SP signed notes ---- */

/* Decimal u64, no sign, no leading zeros, n bytes at s; 1 on success. */
int af_parse_u64(uint64_t *out, const char *s, size_t n);

/* Key id of an Ed25519 note key: first 4 bytes of
 * SHA-256(name | 0x0A | 0x01 | public key). */
void af_note_keyid(uint8_t out[4], const char *name, const uint8_t pk[32]);

/* 1 when name is a valid note key name (docs/audit-format.md §3: 1..255
 * bytes of UTF-8, no control characters, Unicode spaces or '+'), else 0. */
int af_note_name_ok(const char *name);

/* Write the signed checkpoint note for (origin, size, root), signed with sk
 * (64-byte libsodium Ed25519 secret key) under key name `origin`:
 *   origin\nsize\nbase64(root)\n\n— origin base64(keyid|sig)\n
 * *out malloc'ed, NUL-terminated. */
int af_checkpoint_sign(char **out, const char *origin, uint64_t size, const uint8_t root[32],
                       const uint8_t sk[64]) VAULT_MUST_CHECK;
/* The same with the signed time: time > 0 adds the extension line
 * "timestamp <Unix seconds>" after the root (docs/audit-format.md §3). */
int af_checkpoint_sign_at(char **out, const char *origin, uint64_t size, const uint8_t root[32],
                          int64_t time, const uint8_t sk[64]) VAULT_MUST_CHECK;

typedef struct af_checkpoint {
    char origin[256];
    uint64_t size;
    uint8_t root[32];
    int external; /* kept outside the vault: a log that doesn't extend it is rolled back */
    int claimed;  /* a shard log's head that the city log claims (audit_claims.h; origin:
                     the log's name): a log that doesn't extend it is rolled back */
    int64_t time; /* its "timestamp" extension line (Unix seconds), 0 when it has none */
} af_checkpoint;

/* Parse and verify a note against the verifier key (key_name, pk).  Only
 * signature lines named key_name with its key id count, and the note's
 * origin must be key_name (docs/audit-format.md §3).  VAULT_EINVALID for a
 * malformed note; VAULT_EINTEGRITY when no signature line by this key
 * verifies, one of them fails, or the origin is another log's (the message
 * says "bad signature").  *out holds the parsed, unverified origin, size
 * and root whenever the text parsed. */
int af_checkpoint_verify(af_checkpoint *out, const char *note, size_t len, const char *key_name,
                         const uint8_t pk[32]) VAULT_MUST_CHECK;

/* Parse a log's C2SP note verifier key text "<name>+<keyid hex>+<base64(0x01 |
 * key)>" (vault_audit_pubkey) into its name (the log's origin) and
 * Ed25519 key: af_vkey_parse (audit_cosign.h) with the Ed25519 type.
 * VAULT_EINVALID when it is not such text or the key id does not match. */
int af_log_vkey_parse(char name[256], uint8_t pk[32], const char *text) VAULT_MUST_CHECK;

/* ---- verification ---- */

/* Failure classes, in vault_audit reports and exit messages. */
#define AF_OK 0
#define AF_MODIFIED 1     /* an entry's bytes or hash do not match the chain */
#define AF_MISSING 2      /* a sequence number is skipped */
#define AF_REORDERED 3    /* sequence numbers out of order */
#define AF_TRUNCATED 4    /* fewer entries than a checkpoint covers */
#define AF_BAD_SIGNATURE 5 /* a checkpoint signature does not verify */
#define AF_MALFORMED 6    /* an entry or export line can't be parsed */
#define AF_ROLLBACK 7     /* the log does not extend a checkpoint (root mismatch) */
#define AF_UNWITNESSED 8  /* the newest checkpoint lacks the cosignatures required */
const char *af_class_name(int cls); /* "modified", "missing", ... */

typedef struct af_verify_result {
    int cls;             /* AF_* */
    uint64_t bad_seq;    /* first bad entry (or checkpoint size), 0 if none */
    uint64_t entries;    /* entries checked */
    uint64_t checkpoints;/* checkpoints verified */
    char message[256];   /* one line, no values */
    uint64_t newest_size;/* the largest checkpoint whose root matched (0: none) */
    int64_t newest_time; /* its signed time (the latest of that size), 0 when none */
} af_verify_result;

/* Record a verification failure in r: class, first bad sequence number,
 * one-line message; returns cls (audit_export.c, used by audit.c too). */
int af_verify_set(af_verify_result *r, int cls, uint64_t bad_seq, const char *fmt, ...)
    VAULT_PRINTF(4, 5);

/* Streaming verifier: feed entries in stored order, then checkpoints. */
typedef struct af_verifier {
    uint64_t next_seq;
    uint8_t head[32];
    af_merkle tree;
    af_verify_result res;
    /* Merkle roots at sizes named by checkpoints are checked as they pass. */
    const af_checkpoint *cps;
    size_t ncps, next_cp;
} af_verifier;

/* cps: verified checkpoints sorted by size (may be NULL / 0). */
void af_verifier_init(af_verifier *v, const af_checkpoint *cps, size_t ncps);
/* The same, starting after a trusted checkpoint instead of at entry 1:
 * `tree` is the tree at its size (its root the trusted one: the caller
 * checked), `head` the chain head after its last entry; every one of cps
 * must be at least that size.  Entries fed are those after it. */
void af_verifier_resume(af_verifier *v, const af_checkpoint *cps, size_t ncps,
                        const af_merkle *tree, const uint8_t head[32]);
/* Feed one entry (its bytes, and the chain head stored with it, or NULL
 * when none is stored, as in an export).  Returns 0 while everything holds,
 * else the failure class (also in v->res). */
int af_verifier_push(af_verifier *v, uint64_t seq, const uint8_t *entry, size_t len,
                     const uint8_t *stored_head);
/* The same for an entry the caller has just passed through af_entry_check,
 * which returned VAULT_OK and this very seq (saves parsing it twice). */
int af_verifier_push_checked(af_verifier *v, uint64_t seq, const uint8_t *entry, size_t len,
                             const uint8_t *stored_head);
/* An entry as stored at pos: its sequence number from its bytes when they
 * check (af_verifier_push_checked), else pos (af_verifier_push, so a
 * damaged entry is named by its place). */
int af_verifier_push_stored(af_verifier *v, uint64_t pos, const uint8_t *entry, size_t len,
                            const uint8_t *stored_head);
/* Finish: checkpoints beyond the entries seen mean truncation. */
int af_verifier_finish(af_verifier *v);

/* ---- export (JSON Lines) ---- */

/* Longest export line (without its newline) af_export_verify accepts.
 * af_export_entry_line drops the decoded keys of an entry whose line would
 * be longer (see docs/audit-format.md). */
#define AF_EXPORT_LINE_MAX (2 * AF_ENTRY_MAX)

/* One export line for an entry: {"seq":N,"entry":"<base64>","head":"<hex>",
 * ...decoded fields for people...}.  *out malloc'ed, no trailing newline.
 * head may be NULL (a stored head that is damaged): written as null, which
 * an export verifier reports as malformed. */
int af_export_entry_line(char **out, uint64_t seq, const uint8_t *entry, size_t len,
                         const uint8_t head[32]) VAULT_MUST_CHECK;
/* The compact line of the same entry, exactly
 * {"seq":N,"entry":"<base64>","head":"<64 hex>"} (head null when NULL):
 * no decoded keys.  af_export_verify reads such lines without the JSON
 * parser. */
int af_export_compact_line(char **out, uint64_t seq, const uint8_t *entry, size_t len,
                           const uint8_t head[32]) VAULT_MUST_CHECK;
/* A checkpoint line: {"checkpoint":"<note text>"}. */
int af_export_checkpoint_line(char **out, const char *note) VAULT_MUST_CHECK;
/* The line that starts a shard log's entries: {"log":"<name>"} (after
 * the city log's entries; shard logs in ascending byte order of name). */
int af_export_log_line(char **out, const char *log) VAULT_MUST_CHECK;

/* Verify an export read from `in` with only the verifier key (name, pk):
 * every entry re-hashed and chained, every checkpoint's signature checked
 * and its root compared with the Merkle root of the entries up to its size,
 * plus every one of the nnotes external checkpoint notes (NUL-terminated;
 * notes may be NULL when nnotes is 0); then each shard log's entries, its
 * own chain from entry 1, against every head the city log's log_heads
 * entries claim for it (audit_claims.h), and every claimed log must be in
 * the export.  Fills *out (entries: of every log; checkpoints and the
 * newest: the city log's); returns 0 when intact, else the failure class.
 * `progress` (may be NULL) is called every 65536 entries. */
int af_export_verify(af_verify_result *out, FILE *in, const char *name, const uint8_t pk[32],
                     const char *const *notes, size_t nnotes,
                     void (*progress)(uint64_t done, void *arg), void *arg);

#endif

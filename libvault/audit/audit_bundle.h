/* audit_bundle: a resident's proof bundle (docs/audit-format.md §11): the
 * entries filed under one record, each with its RFC 6962 inclusion proof
 * into one signed checkpoint, that checkpoint's note as stored (with any
 * witness cosignatures), and the log key's signed statement of which
 * entries of the record that tree holds.  Pure functions, no I/O: the
 * writer for the vault (libvault/audit_bundle_api.c: another base name
 * than this file's, as fuzz/run.sh names objects by base name) and for
 * the vectors, and the offline verifier. */
#ifndef VAULT_AUDIT_BUNDLE_H
#define VAULT_AUDIT_BUNDLE_H

#include "audit_format.h"

#define AF_BUNDLE_TAG "libvault-bundle/v1"   /* "bundle" key and the statement's first line */
#define AF_BUNDLE_TAG_V2 "libvault-bundle/v2" /* the same, for a bundle with shard logs */
#define AF_BUNDLE_LOGS_MAX 4096              /* shard logs one statement names */
#define AF_BUNDLE_MAX (64u << 20)            /* bytes of bundle JSON a reader takes */
#define AF_BUNDLE_ENTRIES_MAX 65536          /* entries in one bundle */
#define AF_BUNDLE_SIG_BYTES (4 + 64)         /* key id | Ed25519 signature */
#define AF_BUNDLE_WITNESSES_MAX 64           /* witness keys one verification takes */

/* The class "unwitnessed" (engineer W adds VAULT_AUDIT_UNWITNESSED = 8 to
 * the verifier on another branch; the same value here). */
#ifndef AF_UNWITNESSED
#define AF_UNWITNESSED 8
#endif
/* af_class_name, knowing "unwitnessed". */
const char *af_bundle_class_name(int cls);

typedef struct af_bundle_entry {
    const char *log;        /* a shard log's name (v2), NULL: the city log */
    uint64_t seq;
    const uint8_t *entry;   /* canonical bytes (docs/audit-format.md §1) */
    size_t len;
    size_t nhashes;
    const uint8_t (*hashes)[32]; /* PATH(seq - 1, D[size]), at most VAULT_PROOF_HASHES_MAX;
                                    for a shard log's entry D is that log's claimed tree */
} af_bundle_entry;

/* A shard log in a v2 bundle (docs/audit-format.md §11 "Shard logs"): the
 * tree of it the checkpoint's city tree claims (size, root: the newest
 * log_heads claim of it in the checkpoint), the record's entries in that
 * tree (seqs, increasing, each in 1..size), and, when via_entry is set,
 * the claiming log_heads entry (city seq via_seq) with its inclusion
 * proof in the checkpoint's tree: a log with entries in the bundle needs
 * it. */
typedef struct af_bundle_log {
    const char *log;
    uint64_t size;
    uint8_t root[32];
    const uint64_t *seqs;
    size_t n;
    uint64_t via_seq;
    const uint8_t *via_entry;
    size_t via_len;
    size_t via_nhashes;
    const uint8_t (*via_hashes)[32];
} af_bundle_log;

/* The statement text (malloc'ed, NUL-terminated):
 *   libvault-bundle/v1\n<origin>\n<size>\n<base64 root>\nrecord <32 hex>\nseqs[ <seq>]...\n
 * and, when later > 0, a last line "later <later>\n": the number of the
 * record's entries after the trees (not in the bundle).  seqs strictly
 * increasing, each in 1..size.  With nlogs > 0 (shard logs, names
 * strictly ascending) the first line is libvault-bundle/v2 and two lines
 * per log follow the city log's seqs line, before "later":
 * "log <size> <base64 root> <name>\n" and its "seqs[ <seq>]...\n".
 * VAULT_EINVALID otherwise. */
int af_bundle_statement(char **out, const char *origin, uint64_t size, const uint8_t root[32],
                        const uint8_t record[16], const uint64_t *seqs, size_t n,
                        const af_bundle_log *logs, size_t nlogs, uint64_t later) VAULT_MUST_CHECK;

/* key id(origin, pk) | Ed25519(sk, text): the statement's signature. */
int af_bundle_sign(uint8_t out[AF_BUNDLE_SIG_BYTES], const char *text, size_t len,
                   const char *origin, const uint8_t sk[64]) VAULT_MUST_CHECK;

/* The bundle's JSON text (malloc'ed; compact, keys in the order of
 * docs/audit-format.md §11, so the same input gives the same bytes).
 * nlogs > 0: a v2 bundle, whose "logs" holds each of logs that has a
 * via_entry; e then lists the city log's entries first, then each shard
 * log's, the logs in order. */
int af_bundle_json(char **out, const char *origin, const uint8_t record[16], const char *note,
                   const char *statement, const uint8_t sig[AF_BUNDLE_SIG_BYTES],
                   const af_bundle_entry *e, size_t n, const af_bundle_log *logs,
                   size_t nlogs) VAULT_MUST_CHECK;

/* A witness's verifier key (af_vkey_parse with AF_SIGTYPE_COSIGN_V1). */
typedef struct af_bundle_witness {
    char name[256];
    uint8_t pk[32];
} af_bundle_witness;

/* Verify a bundle (len bytes of JSON) against the log's verifier key
 * (name, pk) and, when nw > 0, require cosignatures on its checkpoint
 * by at least `quorum` (1..nw) of the nw distinct witness keys.  Returns
 * the class (AF_OK, AF_MODIFIED, AF_MISSING, AF_REORDERED,
 * AF_BAD_SIGNATURE, AF_MALFORMED, AF_UNWITNESSED; also in out->cls with
 * bad_seq and a one-line message without values), or VAULT_EINVALID for
 * bad arguments (a quorum out of range) and VAULT_ENOMEM.  out->entries is
 * the number of entries checked, out->newest_size / newest_time the
 * checkpoint's size and signed time.  Never trusts the input's shape. */
int af_bundle_verify(af_verify_result *out, const char *json, size_t len, const char *name,
                     const uint8_t pk[32], const af_bundle_witness *w, size_t nw,
                     size_t quorum) VAULT_MUST_CHECK;

#endif

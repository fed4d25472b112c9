/* keyslot: the `<vault>.keys` sidecar holding the master key in one or
 * more slots (passphrase via Argon2id, or a key file).  Format in
 * docs/keyslots.md.  Every rewrite is atomic: temp file in the same
 * directory, fsync, rename, fsync of the directory; mode 0600.
 * Callers serialise concurrent writers (the vault holds its database write
 * lock around every change); readers never see a partial file. */
#ifndef VAULT_KEYSLOT_H
#define VAULT_KEYSLOT_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define KS_MAX_SLOTS 32
#define KS_FILE_MAX (64 * 1024) /* larger sidecars are refused as damaged */

/* Create the sidecar with its first slot.  VAULT_EEXISTS if `path` exists. */
int ks_create(const char *path, const uint8_t vault_id[VAULT_ID_BYTES],
              const uint8_t master[VAULT_KEY_BYTES], const vault_secret *secret,
              const char *label) VAULT_MUST_CHECK;

/* Recover the master key (into `master`, 32 bytes the caller allocated
 * with sodium_malloc) and the vault id.  Tries every slot of the secret's
 * kind.  VAULT_EAUTH: no slot opens with this secret.  VAULT_EINTEGRITY:
 * the file is damaged (unparseable, wrong version, bad field).
 * VAULT_ENOTFOUND: no sidecar.  On failure `master` is wiped. */
int ks_unlock(uint8_t master[VAULT_KEY_BYTES], uint8_t vault_id[VAULT_ID_BYTES],
              const char *path, const vault_secret *secret) VAULT_MUST_CHECK;

/* Add a slot; *out_slot (may be NULL) receives its number.  `master` must
 * be the vault's master key: it is checked against an existing slot's
 * key check value first (VAULT_EAUTH if it does not match). */
int ks_add(int *out_slot, const char *path, const uint8_t master[VAULT_KEY_BYTES],
           const vault_secret *secret, const char *label) VAULT_MUST_CHECK;

/* Remove slot number `slot` (VAULT_ENOTFOUND if none); the last one can't
 * be removed (VAULT_ESTATE).  `master` is checked as for ks_add. */
int ks_remove(const char *path, const uint8_t master[VAULT_KEY_BYTES], int slot) VAULT_MUST_CHECK;

/* The refusals of a store rewritten behind the vault's back
 * (docs/keyslots.md section 10, "The refusal record"): kept in the
 * anchor until an entry in the log says so.  count 0: none. */
#define KS_REFUSED_ROLLED_BACK 1    /* the log or its record is older than the anchor */
#define KS_REFUSED_REWRITTEN 2      /* the log doesn't extend what the vault signed */
#define KS_REFUSED_RECORD_MISSING 3 /* the store's record of the last signing is gone */
typedef struct ks_refusals {
    uint64_t count;
    int64_t first, last; /* microseconds since 1970 UTC */
    int cls;             /* KS_REFUSED_* of the last refusal */
} ks_refusals;
/* "rolled back", "rewritten", "record missing"; NULL for another value. */
const char *ks_refused_name(int cls);

/* The audit anchor (docs/keyslots.md section 10): the audit log's
 * checkpoint public key, pinned outside the store, the last checkpoint
 * the vault signed (size 0: none yet) and the refusals not yet logged,
 * MAC'd with the master key so only a holder of the master key can
 * change them. */
typedef struct ks_anchor {
    uint8_t pk[32];
    uint64_t size;
    uint8_t root[32];
    ks_refusals refused;
} ks_anchor;
/* *found = 0 (and *out zeroed) for a sidecar written before libvault
 * pinned the audit key.  VAULT_EINTEGRITY when the anchor or its refusal
 * record is damaged or fails the MAC; VAULT_EAUTH when `master` isn't
 * this sidecar's key. */
int ks_anchor_get(ks_anchor *out, int *found, const char *path,
                  const uint8_t master[VAULT_KEY_BYTES]) VAULT_MUST_CHECK;
/* Write (replace) the key, size and root; atomic like every rewrite.  The
 * refusal record is the file's own, kept (a->refused is ignored), so an
 * anchor update never drops refusals another process recorded; an anchor
 * already in the file must pass its MAC first (VAULT_EINTEGRITY). */
int ks_anchor_set(const char *path, const uint8_t master[VAULT_KEY_BYTES],
                  const ks_anchor *a) VAULT_MUST_CHECK;
/* Count one refusal of class `cls` at `now` (µs UTC) in the file's
 * anchor; *out (may be NULL) receives the anchor written.
 * VAULT_ENOTFOUND when the file has no anchor.  The caller holds the
 * store's write lock, like every writer of the file. */
int ks_refusal_note(ks_anchor *out, const char *path, const uint8_t master[VAULT_KEY_BYTES],
                    int cls, int64_t now) VAULT_MUST_CHECK;
/* Clear the record once the log holds an entry for `logged`: only when
 * the file's record is still exactly `logged` (*cleared = 1); refusals
 * counted since stay for the next entry (*cleared = 0).  *out (may be
 * NULL) receives the anchor as the file now has it.  Write lock held. */
int ks_refusal_clear(ks_anchor *out, int *cleared, const char *path,
                     const uint8_t master[VAULT_KEY_BYTES],
                     const ks_refusals *logged) VAULT_MUST_CHECK;
/* VAULT_OK when the sidecar at path holds `master` (its master check
 * passes), VAULT_EAUTH when it holds another; the file's own errors
 * otherwise.  No secret is needed. */
int ks_holds(const char *path, const uint8_t master[VAULT_KEY_BYTES]) VAULT_MUST_CHECK;
/* Copy the sidecar `from` to the new file `to` (atomic like every
 * write, mode 0600; VAULT_EEXISTS when `to` exists): the same slots,
 * vault id and audit anchor, for the same vault in another place
 * (vault_migrate).  `master` must be the vault's (VAULT_EAUTH), and the
 * anchor, if any, must pass its MAC (VAULT_EINTEGRITY). */
int ks_copy(const char *from, const char *to, const uint8_t master[VAULT_KEY_BYTES]) VAULT_MUST_CHECK;
/* A keys file for the same vault under a new master key (master-key
 * rotation, docs/keyslots.md section 11): the new file `to` (VAULT_EEXISTS
 * when it exists; atomic, mode 0600) holds the vault id, the check value
 * of new_master, the audit anchor with its refusal record MAC'd under
 * new_master, and at most two slots wrapping new_master: the slot of
 * `from` that `keep` (may be NULL) opens, with its number, label,
 * creation time and Argon2id cost (VAULT_EAUTH when it opens none), and
 * a new slot for `add` (may be NULL; not both NULL) numbered from's
 * next_slot.  Every other slot of `from` is left behind and listed in
 * out->dropped.  old_master must be from's (VAULT_EAUTH); an anchor that
 * fails its MAC is VAULT_EINTEGRITY.  `from` is not changed. */
typedef struct ks_rekey_info {
    int kept;  /* the kept slot's number, -1 for none */
    int added; /* the new slot's number, -1 for none */
    size_t ndropped;
    vault_keyslot_info dropped[KS_MAX_SLOTS];
} ks_rekey_info;
int ks_rekey(ks_rekey_info *out, const char *from, const char *to,
             const uint8_t old_master[VAULT_KEY_BYTES], const uint8_t new_master[VAULT_KEY_BYTES],
             const vault_secret *keep, const vault_secret *add,
             const char *add_label) VAULT_MUST_CHECK;
/* List the slots (no secrets): *out malloc'ed, *out_count entries. */
int ks_list(vault_keyslot_info **out, size_t *out_count, const char *path) VAULT_MUST_CHECK;

/* Write 32 random bytes to a new file with mode 0600 (O_EXCL). */
int ks_keyfile_generate(const char *path) VAULT_MUST_CHECK;

#endif

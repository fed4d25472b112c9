/* migrate: copy a SQLCipher vault into a server backend's store
 * (vault_migrate, docs/postgresql.md "Migrating a street's vault").
 *
 * The order, and why:
 *  1. open the source with its keys file and verify its audit log (a log
 *     that does not verify is not copied: VAULT_EINTEGRITY);
 *  2. hold the source's write lock from here to the end, with one entry
 *     for its log staged (committed at the end, only when all went well),
 *     so nothing changes the source while it is copied;
 *  3. write a copy of the source's keys file at the target's vault_keys
 *     (same slots, same audit anchor: the copy holds the same checkpoints;
 *     O_EXCL, 0600, atomic);
 *  4. create the target store (a new schema) and copy every row into it
 *     in one transaction (store_copy: every MAC checked, audit rows as
 *     they were);
 *  5. open the copy as a vault (the anchor check at open passes only if
 *     the copy extends what the keys file says was signed), verify its log
 *     end to end, and append the target's store_migrate entry;
 *  6. commit the source's entry.
 * On a failure before 6 the target store this call created is dropped
 * again (store_destroy: only a store this call's connection created) and
 * the new keys file removed; the source keeps everything but the
 * audit_verify entry of step 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "keyring.h"
#include "keyslot.h"
#include "op.h"
#include "reckeys.h"
#include "store/store.h"
#include "vault_int.h"

/* Whole-log verification before a copy is made or trusted (vault_int.h). */
int vault__log_verifies(vault *v, const char *what)
{
    int rc = VAULT_OK;
    vault_audit_result r;

    memset(&r, 0, sizeof r);
    rc = vault_audit_verify(&r, v, NULL, NULL, NULL);
    if (rc == VAULT_EINTEGRITY && r.failure == VAULT_AUDIT_UNWITNESSED) {
        vault__err_clear();
        rc = VAULT_OK;
        r.failure = VAULT_AUDIT_OK;
    }
    if (rc == VAULT_EINTEGRITY || (rc == VAULT_OK && r.failure != VAULT_AUDIT_OK))
        rc = vault__err(VAULT_EINTEGRITY, "%s audit log does not verify (%s%s%s)", what,
                        r.failure_name[0] ? r.failure_name : "damaged", r.message[0] ? ": " : "",
                        r.message);
    return rc;
}

int vault_migrate(vault_migrate_info *out, const char *from_path, const char *to_location,
                  const vault_secret *secret, vault_progress_fn progress, void *arg)
{
    int rc = VAULT_OK, keys_made = 0, src_tx = 0, copy_done = 0;
    vault *src = NULL, *dst_v = NULL;
    store *dst = NULL, *dst_rk = NULL;
    char *rk_to = NULL;
    store_copy_stats rst;
    char *keys_to = NULL, shown[512], saved[1024], detail[700];
    store_copy_stats st;
    struct stat sb;
    af_entry e;
    int64_t entries = 0;
    vault_secret secret_l;

    if (out)
        memset(out, 0, sizeof *out);
    vault__err_clear();
    GUARD(vault_init());
    ENSURE(from_path && *from_path && to_location && *to_location && secret, VAULT_EINVALID,
           "vault_migrate: missing source, target or secret");
    VAULT_OPT_IN(secret, secret_l, "vault_secret", "VAULT_SECRET_INIT");
    store_location_display(shown, sizeof shown, to_location);
    ENSURE(store_location_is_file(from_path), VAULT_EINVALID,
           "migrate: the source %s is not a vault file (it copies a SQLCipher vault)", from_path);
    ENSURE(!store_location_is_file(to_location), VAULT_EINVALID,
           "migrate: the target %s is a file: a file vault is copied with vaultctl backup", shown);
    GUARD(store_location_keys_path(&keys_to, to_location));
    ENSURE(lstat(keys_to, &sb) != 0 && errno == ENOENT, VAULT_EEXISTS,
           "migrate: keys file %s already exists (the target's vault_keys must be a new file)",
           keys_to);

    /* 1. the source, and its log */
    GUARD(vault_open(&src, from_path, secret));
    GUARD(vault__log_verifies(src, "migrate: the source's"));

    /* 2. its write lock, and its entry, staged */
    GUARD(op_begin(src, OP_WRITE));
    src_tx = 1;
    GUARD(store_audit_count(&entries, src->db));
    audit_entry_init(&e, src, NULL, "store_migrate");
    snprintf(detail, sizeof detail, "copied to %s (%lld entries)", shown, (long long)entries);
    e.detail = detail;
    GUARD(audit_append(src, &e));

    /* 3. the keys file: the same slots and anchor, at the new place */
    GUARD(ks_copy(src->keys_path, keys_to, keyring_master(src->keys)));
    keys_made = 1;

    /* 4. the target store and every row */
    rc = store_open(&dst, to_location, keyring_db_key(src->keys), 1, keyring_row_guard(src->keys),
                    NULL);
    if (rc == VAULT_EEXISTS) {
        snprintf(saved, sizeof saved, "%s", vault_error_last());
        rc = vault__err(VAULT_EEXISTS, "migrate: the target is not empty: %s", saved);
    }
    GUARD(rc);
    GUARD(store_copy(&st, src->db, dst, progress, arg));
    /* ... and the record keys, into the target's own key store beside it
     * (docs/erasure.md): without them no record of the copy opens. */
    GUARD(reckeys_location(&rk_to, to_location));
    rc = store_open(&dst_rk, rk_to, keyring_reckeys_db_key(src->keys), 1,
                    keyring_row_guard(src->keys), NULL);
    if (rc == VAULT_EEXISTS) {
        snprintf(saved, sizeof saved, "%s", vault_error_last());
        rc = vault__err(VAULT_EEXISTS, "migrate: the target's record-key store is not empty: %s",
                        saved);
    }
    GUARD(rc);
    GUARD(store_copy(&rst, reckeys_store(src->rk), dst_rk, NULL, NULL));

    /* 5. the copy as a vault: it opens (the anchor check), its log
     * verifies end to end, and it records where it came from */
    GUARD(vault_open(&dst_v, to_location, secret));
    GUARD(vault__log_verifies(dst_v, "migrate: the copy's"));
    snprintf(detail, sizeof detail,
             "copied from a sqlcipher store (%llu entries, %llu records, %llu rows)",
             (unsigned long long)st.entries, (unsigned long long)st.records,
             (unsigned long long)st.rows);
    GUARD(op_begin(dst_v, OP_WRITE));
    GUARD(audit__log_meta(dst_v, "store_migrate", AF_OUTCOME_OK, detail));
    GUARD(op_commit(dst_v));
    copy_done = 1; /* whole and verified: it stays, whatever comes next */
    keys_made = 0;

    /* 6. the source's own entry */
    src_tx = 0;
    rc = op_commit(src);
    if (rc < 0) {
        snprintf(saved, sizeof saved, "%s", vault_error_last());
        rc = vault__err(rc, "migrate: %s is a complete copy, but the source's log could not "
                        "record it: %s", shown, saved);
        goto cleanup;
    }
    if (out) {
        out->entries = st.entries;
        out->records = st.records;
        out->rows = st.rows;
    }
cleanup:
    /* what went wrong, kept across the closes below (they may clear it) */
    if (rc < 0)
        snprintf(saved, sizeof saved, "%s", vault_error_last());
    if (!copy_done && dst_v)
        dst_v->ready = 0; /* no checkpoint signed on the way out */
    vault_close(dst_v);
    if (src_tx)
        op_rollback(src);
    if (rc < 0 && !copy_done && dst && store_destroy(dst) < 0)
        snprintf(saved + strlen(saved), sizeof saved - strlen(saved),
                 "; the half-made target could not be dropped: %s", vault_error_last());
    store_close(dst);
    /* the key store made here goes with the half-made data */
    if (rc < 0 && !copy_done && dst_rk && store_destroy(dst_rk) < 0)
        snprintf(saved + strlen(saved), sizeof saved - strlen(saved),
                 "; the half-made record-key store could not be dropped: %s", vault_error_last());
    store_close(dst_rk);
    free(rk_to);
    if (keys_made)
        unlink(keys_to);
    vault_close(src);
    free(keys_to);
    if (rc < 0)
        vault__err(rc, "%s", saved);
    return rc;
}

/* backup: consistent copies of an open vault and putting one back
 * (docs/backup.md).  The copy is the store alone; the keys file, with the
 * keyslots and the audit anchor, stays where it is.  A restore is a
 * rollback of the vault file on purpose: it is checked in a temporary copy
 * first, then recorded in the keys file's anchor and in the restored log,
 * so a copy put back by hand (cp) is still refused at open. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "client/client.h"
#include "crypto.h"
#include "keyring.h"
#include "keyslot.h"
#include "op.h"
#include "reckeys.h"
#include "store/store.h"
#include "vault_int.h"

#define BACKUP_PATH_MAX 4096

unsigned vault_const_restore_force(void) { return VAULT_RESTORE_FORCE; }

/* `base` + `suffix` into out (cap bytes); VAULT_EINVALID when too long. */
int vault__path_with(char *out, size_t cap, const char *base, const char *suffix)
{
    int n = snprintf(out, cap, "%s%s", base, suffix);

    if (n < 0 || (size_t)n >= cap)
        return vault__err(VAULT_EINVALID, "%s: path too long", base);
    return VAULT_OK;
}

int vault__exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

/* fsync the directory holding `path`, so a link or rename in it lasts. */
int vault__sync_dir_of(const char *path)
{
    int rc = VAULT_OK, fd = -1;
    char dir[BACKUP_PATH_MAX];
    char *slash;

    GUARD(vault__path_with(dir, sizeof dir, path, ""));
    slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ENSURE(fd >= 0 && fsync(fd) == 0, VAULT_EIO, "%s: %s", dir, strerror(errno));
cleanup:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* A consistent copy of the data store (rk 0) or of the record-key store
 * (rk 1) into the new file out_path: FILE.partial first, then FILE. */
static int backup_one(vault *v, int rk, const char *out_path, vault_progress_fn progress, void *arg)
{
    int rc = VAULT_OK, entered = 0, made = 0;
    char partial[BACKUP_PATH_MAX];
    af_entry e;

    ENSURE(out_path && *out_path, VAULT_EINVALID, "missing backup file name");
    GUARD(vault__enter(v));
    entered = 1;
    ENSURE(store_location_is_file(v->path), VAULT_ESTATE,
           "%s is not kept in a SQLCipher file: %s", v->shown,
           rk ? "dump its record-key store, the schema NAME_rkeys, with pg_dump -n "
                "(docs/erasure.md)"
              : store_location_copy_hint(v->path));
    GUARD(vault__path_with(partial, sizeof partial, out_path, ".partial"));
    ENSURE(!vault__exists(out_path), VAULT_EEXISTS, "%s already exists (a backup never overwrites)",
           out_path);
    ENSURE(!vault__exists(partial), VAULT_EEXISTS,
           "%s exists (an interrupted backup? remove it first)", partial);
    /* Logged before the copy, so a copy of the data holds its own entry. */
    GUARD(op_begin(v, OP_WRITE));
    audit_entry_init(&e, v, NULL, "backup");
    e.detail = rk ? "online copy of the record-key store (it undoes later erasures: keep it "
                    "on a short retention, docs/erasure.md)"
                  : "online copy of the vault file (the keys file and the record-key store "
                    "are not in it)";
    GUARD(audit_append(v, &e));
    GUARD(op_commit(v));
    if (rk) {
        rc = reckeys_backup(v->rk, partial, progress, arg);
    } else {
        /* One snapshot for the whole copy: writers elsewhere go on (WAL). */
        GUARD(op_begin(v, OP_READ));
        rc = store_backup(v->db, partial, keyring_db_key(v->keys), progress, arg);
        op_rollback(v);
    }
    GUARD(rc);
    made = 1;
    /* link(2) fails on an existing name: a file made meanwhile is kept. */
    ENSURE(link(partial, out_path) == 0, errno == EEXIST ? VAULT_EEXISTS : VAULT_EIO, "%s: %s",
           out_path, errno == EEXIST ? "already exists (a backup never overwrites)"
                                     : strerror(errno));
    ENSURE(unlink(partial) == 0, VAULT_EIO, "%s: %s", partial, strerror(errno));
    made = 0;
    GUARD(vault__sync_dir_of(out_path));
cleanup:
    if (made)
        unlink(partial);
    vault__exit(v, entered);
    return rc;
}

int vault_backup(vault *v, const char *out_path, vault_progress_fn progress, void *arg)
{
    if (v && v->remote)
        return client_unsupported("vault_backup", "back the vault up on vaultd's host");
    return backup_one(v, 0, out_path, progress, arg);
}

int vault_backup_record_keys(vault *v, const char *out_path, vault_progress_fn progress, void *arg)
{
    if (v && v->remote)
        return client_unsupported("vault_backup_record_keys", "back the vault up on vaultd's host");
    return backup_one(v, 1, out_path, progress, arg);
}

/* ---- restore ---- */

/* The names a restore of `path` uses. */
typedef struct restore_paths {
    char keys[BACKUP_PATH_MAX];     /* the vault's keys file */
    char tmp[BACKUP_PATH_MAX];      /* the copy being checked */
    char tmp_keys[BACKUP_PATH_MAX]; /* its keys file while it is checked */
    char old[BACKUP_PATH_MAX];      /* the replaced vault file, kept */
    char old_keys[BACKUP_PATH_MAX]; /* the keys file as it was, kept */
    char rkeys[BACKUP_PATH_MAX];    /* the record-key store: the live one, always */
} restore_paths;

static int restore_paths_make(restore_paths *p, const char *path)
{
    int rc = VAULT_OK;

    GUARD(vault__path_with(p->keys, sizeof p->keys, path, ".keys"));
    GUARD(vault__path_with(p->rkeys, sizeof p->rkeys, path, ".rkeys"));
    GUARD(vault__path_with(p->tmp, sizeof p->tmp, path, ".restoring"));
    GUARD(vault__path_with(p->tmp_keys, sizeof p->tmp_keys, path, ".restoring.keys"));
    GUARD(vault__path_with(p->old, sizeof p->old, path, ".before-restore"));
    GUARD(vault__path_with(p->old_keys, sizeof p->old_keys, path, ".keys.before-restore"));
cleanup:
    return rc;
}

static void remove_tmp(const restore_paths *p)
{
    char side[BACKUP_PATH_MAX + 8];

    unlink(p->tmp);
    snprintf(side, sizeof side, "%s-wal", p->tmp);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", p->tmp);
    unlink(side);
    snprintf(side, sizeof side, "%s-journal", p->tmp);
    unlink(side);
    unlink(p->tmp_keys);
}

/* A new file `to` (O_EXCL, mode 0600) with the bytes of the keys file
 * `from` (at most KS_FILE_MAX: larger ones are refused as damaged). */
int vault__keys_copy(const char *from, const char *to)
{
    int rc = VAULT_OK, in = -1, out = -1;
    char *buf = NULL;
    ssize_t n;
    size_t len = 0;

    buf = malloc(KS_FILE_MAX + 1);
    ENSURE(buf, VAULT_ENOMEM, "out of memory");
    in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    ENSURE(in >= 0, errno == ENOENT ? VAULT_ENOTFOUND : VAULT_EIO, "%s: %s", from,
           strerror(errno));
    while ((n = read(in, buf + len, KS_FILE_MAX + 1 - len)) > 0 && len + (size_t)n <= KS_FILE_MAX)
        len += (size_t)n;
    ENSURE(n == 0, n < 0 ? VAULT_EIO : VAULT_EINTEGRITY, "%s: %s", from,
           n < 0 ? strerror(errno) : "too large for a keys file");
    out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    ENSURE(out >= 0, errno == EEXIST ? VAULT_EEXISTS : VAULT_EIO, "%s: %s", to, strerror(errno));
    ENSURE(write(out, buf, len) == (ssize_t)len && fsync(out) == 0, VAULT_EIO, "%s: %s", to,
           strerror(errno));
cleanup:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (buf)
        vc_wipe(buf, KS_FILE_MAX + 1);
    free(buf);
    return rc;
}

/* Prefix the message set by a failed check with where it came from. */
static int refused(int rc, const char *from)
{
    char saved[512];

    snprintf(saved, sizeof saved, "%s", vault_error_last());
    return vault__err(rc, "restore of %s refused: %s", from, saved);
}

/* Open the copy at p->tmp (its keys file p->tmp_keys: the vault's, with
 * the anchor at no checkpoint, so the copy's own record is what the open
 * checks the log against), verify its log, log the restore, sign a
 * checkpoint over it, and close it.  *out receives what its keys file's
 * anchor then holds: the anchor the vault's keys file must get. */
static int restore_check(ks_anchor *out, vault_restore_info *info, const restore_paths *p,
                         const char *from, const vault_secret *secret, const uint8_t *master,
                         const ks_anchor *live, int live_found)
{
    int rc = VAULT_OK, found = 0, in_tx = 0;
    vault *c = NULL;
    vault_audit_result res;
    ks_anchor a;
    char detail[256], *note = NULL;
    char side[BACKUP_PATH_MAX + 8];
    struct stat st;

    GUARD(vault__keys_copy(p->keys, p->tmp_keys));
    if (live_found) {
        a = *live;
        a.size = 0;
        memset(a.root, 0, sizeof a.root);
        GUARD(ks_anchor_set(p->tmp_keys, master, &a));
    }
    /* The copy is checked with the vault's record-key store as it is now:
     * a record erased since the backup stays erased (docs/erasure.md). */
    rc = vault__open_with_reckeys(&c, p->tmp, secret, p->rkeys);
    if (rc < 0) {
        rc = refused(rc, from);
        goto cleanup;
    }
    /* Its checkpoints go to the witnesses from the restored vault, if at all. */
    GUARD(vault_set_witness_auto(c, 0));
    memset(&res, 0, sizeof res);
    rc = vault_audit_verify(&res, c, NULL, NULL, NULL);
    if (rc == VAULT_EINTEGRITY && res.failure != VAULT_AUDIT_OK) {
        rc = vault__err(VAULT_EINTEGRITY,
                        "restore of %s refused: its audit log does not verify: %s at %llu: %s",
                        from, res.failure_name, (unsigned long long)res.bad_seq, res.message);
        goto cleanup;
    }
    if (rc < 0) {
        rc = refused(rc, from);
        goto cleanup;
    }
    info->entries = res.entries;
    GUARD(op_begin(c, OP_READ));
    in_tx = 1;
    GUARD(audit__signed_size(&info->to_size, &found, c));
    op_rollback(c);
    in_tx = 0;
    info->from_size = live_found ? live->size : 0;
    snprintf(detail, sizeof detail,
             "vault file restored from a backup: log signed up to checkpoint %llu, "
             "the vault had signed %llu",
             (unsigned long long)info->to_size, (unsigned long long)info->from_size);
    GUARD(op_log_query(c, "restore", AF_OUTCOME_OK, detail));
    GUARD(vault_audit_checkpoint(&note, c));
    vault_close(c);
    c = NULL;
    /* The last connection folded its WAL back in: the file is whole. */
    snprintf(side, sizeof side, "%s-wal", p->tmp);
    ENSURE(stat(side, &st) != 0, VAULT_EBUSY, "%s is still open elsewhere", p->tmp);
    GUARD(ks_anchor_get(out, &found, p->tmp_keys, master));
    ENSURE(found && out->size > 0, VAULT_EINTEGRITY,
           "%s: the checked copy has no signed checkpoint in its anchor", p->tmp_keys);
cleanup:
    if (in_tx)
        op_rollback(c);
    vault_free(note);
    if (c) {
        /* Closing may clear the message (a checkpoint it could not sign). */
        char saved[512];

        snprintf(saved, sizeof saved, "%s", vault_error_last());
        vault_close(c);
        if (rc < 0)
            vault__err(rc, "%s", saved);
    }
    return rc;
}

int vault_restore(vault_restore_info *out, const char *path, const char *from,
                  const vault_secret *secret, unsigned flags)
{
    int rc = VAULT_OK, live_found = 0, live_exists, tmp_made = 0, old_made = 0, anchor_moved = 0;
    int renamed = 0;
    restore_paths p;
    uint8_t *master = NULL;
    uint8_t id[VAULT_ID_BYTES];
    keyring *kr = NULL;
    store_file_claim *claim = NULL;
    ks_anchor live, next;
    vault_restore_info info;
    vault_secret secret_l;
    struct stat st_from, st_path;
    char side[BACKUP_PATH_MAX + 8];

    vault__err_clear();
    GUARD(vault_init());
    memset(&info, 0, sizeof info);
    memset(&live, 0, sizeof live);
    ENSURE(path && *path && from && *from && secret, VAULT_EINVALID,
           "vault_restore: missing vault path, backup file or secret");
    VAULT_OPT_IN(secret, secret_l, "vault_secret", "VAULT_SECRET_INIT");
    ENSURE((flags & ~VAULT_RESTORE_FORCE) == 0, VAULT_EINVALID, "vault_restore: unknown flags");
    ENSURE(store_location_is_file(path), VAULT_ESTATE,
           "%s is not kept in a SQLCipher file: restore it with its backend's tools", path);
    GUARD(restore_paths_make(&p, path));
    ENSURE(stat(from, &st_from) == 0 && S_ISREG(st_from.st_mode), VAULT_ENOTFOUND,
           "%s: no such backup file", from);
    live_exists = lstat(path, &st_path) == 0;
    ENSURE(!live_exists || st_path.st_dev != st_from.st_dev || st_path.st_ino != st_from.st_ino,
           VAULT_EINVALID, "%s is the vault file itself", from);
    ENSURE(!vault__exists(p.tmp) && !vault__exists(p.tmp_keys), VAULT_EEXISTS,
           "%s exists (an interrupted restore? remove it first)", p.tmp);
    if (live_exists && !(flags & VAULT_RESTORE_FORCE))
        ENSURE(!vault__exists(p.old) && !vault__exists(p.old_keys), VAULT_EEXISTS,
               "%s exists (from an earlier restore): move it away, or force the restore to "
               "replace it", vault__exists(p.old) ? p.old : p.old_keys);
    if (!live_exists) {
        /* No vault file, but its WAL would be read into the copy. */
        snprintf(side, sizeof side, "%s-wal", path);
        ENSURE(!vault__exists(side), VAULT_ESTATE, "%s exists without its vault file: remove it first",
               side);
    }
    master = vc_malloc(VAULT_KEY_BYTES);
    ENSURE(master, VAULT_ENOMEM, "out of secure memory");
    GUARD(ks_unlock(master, id, p.keys, secret));
    GUARD(keyring_new(&kr, master, id));
    GUARD(ks_anchor_get(&live, &live_found, p.keys, master));
    tmp_made = 1;
    rc = store_file_copy(from, p.tmp, keyring_db_key(kr), NULL, NULL);
    if (rc == VAULT_EAUTH)
        rc = vault__err(VAULT_EINTEGRITY,
                        "restore of %s refused: it does not open with the keys of %s (a copy of "
                        "another vault, or not a vault)", from, path);
    GUARD(rc);
    GUARD(restore_check(&next, &info, &p, from, secret, master, &live, live_found));
    /* Held from here on: nobody opens the vault while it is replaced.  Not
     * earlier, so a refused copy leaves the vault file untouched. */
    if (live_exists)
        GUARD(store_file_claim_take(&claim, path, keyring_db_key(kr)));
    {
        /* A process that closed meanwhile may have signed one more
         * checkpoint: the entry would name the wrong one. */
        ks_anchor now;
        int now_found = 0;

        GUARD(ks_anchor_get(&now, &now_found, p.keys, master));
        ENSURE(now_found == live_found && now.size == live.size, VAULT_EBUSY,
               "%s changed during the restore (another process wrote to it): restore again",
               path);
    }
    /* Checked.  Keep the old files, then move the anchor back, then the
     * file: a crash in between leaves the old vault under an anchor it
     * extends (it opens), never the restored one under a newer anchor. */
    if (live_exists) {
        if (flags & VAULT_RESTORE_FORCE) {
            unlink(p.old);
            unlink(p.old_keys);
        }
        ENSURE(link(path, p.old) == 0, errno == EEXIST ? VAULT_EEXISTS : VAULT_EIO, "%s: %s",
               p.old, strerror(errno));
        old_made = 1;
        ENSURE(link(p.keys, p.old_keys) == 0, errno == EEXIST ? VAULT_EEXISTS : VAULT_EIO,
               "%s: %s", p.old_keys, strerror(errno));
        old_made = 2;
        info.kept_old = 1;
    }
    next.refused = live.refused; /* ks_anchor_set keeps the file's own */
    GUARD(ks_anchor_set(p.keys, master, &next));
    anchor_moved = 1;
    ENSURE(rename(p.tmp, path) == 0, VAULT_EIO, "%s: %s", path, strerror(errno));
    renamed = 1;
    tmp_made = 0;
    anchor_moved = 0;
    old_made = 0;
    GUARD(vault__sync_dir_of(path));
    /* The old file's shared memory index (its WAL was folded in). */
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    if (out)
        *out = info;
cleanup:
    if (anchor_moved && live_found && ks_anchor_set(p.keys, master, &live) < 0)
        vault__err(VAULT_EIO, "%s: the audit anchor could not be put back after a failed "
                              "restore: restore again", p.keys);
    if (old_made >= 1)
        unlink(p.old);
    if (old_made >= 2)
        unlink(p.old_keys);
    if (tmp_made)
        remove_tmp(&p);
    else if (renamed)
        unlink(p.tmp_keys);
    store_file_release(claim);
    keyring_free(kr);
    vc_free(master);
    return rc;
}

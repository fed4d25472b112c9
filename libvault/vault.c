/* vault: the handle, creating and opening vaults, keyslots, policies. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/audit.h"
#include "crypto.h"
#include "grants.h"
#include "op.h"
#include "text.h"
#include "keyslot.h"
#include "vault_int.h"
#include "client/client.h"

#define VAULT_FORMAT_TAG "libvault-vault-v1"

/* ---- versions, constants ---- */

const char *vault_version_string(void) { return "0.1.0"; }
int vault_version_major(void) { return VAULT_VERSION_MAJOR; }
int vault_version_minor(void) { return VAULT_VERSION_MINOR; }
int vault_version_patch(void) { return VAULT_VERSION_PATCH; }

int vault_const_ok(void) { return VAULT_OK; }
int vault_const_error(void) { return VAULT_ERROR; }
int vault_const_einvalid(void) { return VAULT_EINVALID; }
int vault_const_enomem(void) { return VAULT_ENOMEM; }
int vault_const_eio(void) { return VAULT_EIO; }
int vault_const_eauth(void) { return VAULT_EAUTH; }
int vault_const_eintegrity(void) { return VAULT_EINTEGRITY; }
int vault_const_edenied(void) { return VAULT_EDENIED; }
int vault_const_enotfound(void) { return VAULT_ENOTFOUND; }
int vault_const_eexists(void) { return VAULT_EEXISTS; }
int vault_const_ebusy(void) { return VAULT_EBUSY; }
int vault_const_epolicy(void) { return VAULT_EPOLICY; }
int vault_const_elimit(void) { return VAULT_ELIMIT; }
int vault_const_estate(void) { return VAULT_ESTATE; }
int vault_const_unlock_passphrase(void) { return VAULT_UNLOCK_PASSPHRASE; }
int vault_const_unlock_keyfile(void) { return VAULT_UNLOCK_KEYFILE; }
int vault_const_kdf_interactive(void) { return VAULT_KDF_INTERACTIVE; }
int vault_const_kdf_moderate(void) { return VAULT_KDF_MODERATE; }
int vault_const_kdf_sensitive(void) { return VAULT_KDF_SENSITIVE; }
int vault_const_audit_ok(void) { return VAULT_AUDIT_OK; }
int vault_const_audit_modified(void) { return VAULT_AUDIT_MODIFIED; }
int vault_const_audit_missing(void) { return VAULT_AUDIT_MISSING; }
int vault_const_audit_reordered(void) { return VAULT_AUDIT_REORDERED; }
int vault_const_audit_truncated(void) { return VAULT_AUDIT_TRUNCATED; }
int vault_const_audit_bad_signature(void) { return VAULT_AUDIT_BAD_SIGNATURE; }
int vault_const_audit_malformed(void) { return VAULT_AUDIT_MALFORMED; }
int vault_const_audit_rolled_back(void) { return VAULT_AUDIT_ROLLED_BACK; }
int vault_const_audit_unwitnessed(void) { return VAULT_AUDIT_UNWITNESSED; }
int vault_const_export_compact(void) { return VAULT_EXPORT_COMPACT; }
int vault_const_report_record(void) { return VAULT_REPORT_RECORD; }
int vault_const_report_user(void) { return VAULT_REPORT_USER; }
int vault_const_report_denied(void) { return VAULT_REPORT_DENIED; }
int vault_const_report_break_glass(void) { return VAULT_REPORT_BREAK_GLASS; }
int vault_const_effect_deny(void) { return VAULT_EFFECT_DENY; }
int vault_const_effect_mask(void) { return VAULT_EFFECT_MASK; }
int vault_const_effect_allow(void) { return VAULT_EFFECT_ALLOW; }
int vault_const_action_read(void) { return VAULT_ACTION_READ; }
int vault_const_action_write(void) { return VAULT_ACTION_WRITE; }
int vault_const_action_create(void) { return VAULT_ACTION_CREATE; }
int vault_const_action_search(void) { return VAULT_ACTION_SEARCH; }
int vault_const_action_erase(void) { return VAULT_ACTION_ERASE; }
int vault_const_action_export(void) { return VAULT_ACTION_EXPORT; }

size_t vault_id_bytes(void) { return VAULT_ID_BYTES; }
size_t vault_id_hex_size(void) { return VAULT_ID_HEX_SIZE; }
size_t vault_key_bytes(void) { return VAULT_KEY_BYTES; }
size_t vault_field_overhead(void) { return VAULT_FIELD_OVERHEAD; }
size_t vault_value_max(void) { return VAULT_VALUE_MAX; }
size_t vault_jurisdiction_max(void) { return VAULT_JURISDICTION_MAX; }
size_t vault_name_max(void) { return VAULT_NAME_MAX; }
size_t vault_principal_max(void) { return VAULT_PRINCIPAL_MAX; }
size_t vault_db_key_size(void) { return VAULT_DB_KEY_SIZE; }
size_t vault_hash_hex_size(void) { return VAULT_HASH_HEX_SIZE; }
size_t vault_pubkey_size(void) { return VAULT_PUBKEY_SIZE; }
size_t vault_reason_text_size(void) { return VAULT_REASON_TEXT_SIZE; }
size_t vault_audit_name_size(void) { return sizeof(((vault_audit_result *)0)->failure_name); }
size_t vault_audit_message_size(void) { return sizeof(((vault_audit_result *)0)->message); }

static void wiping_free(void *p);

static void install_allocator(void)
{
    json_set_alloc_funcs(malloc, wiping_free);
}

/* jansson's free, wiping what it held: JSON documents built from field
 * values (exports, results) must not leave plaintext in freed memory. */
static void wiping_free(void *p)
{
    if (p) {
        vc_wipe(p, malloc_usable_size(p));
        free(p);
    }
}

int vault_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, install_allocator);
    return vc_init();
}

void vault_free(void *p)
{
    wiping_free(p);
}

/* ---- create / open / close ---- */

static int keys_path_for(char **out, const char *path)
{
    return store_location_keys_path(out, path);
}

static int handle_new(vault **out, const char *path)
{
    int rc = VAULT_OK;
    vault *v = NULL;

    ENSURE(path && *path, VAULT_EINVALID, "missing vault path");
    v = calloc(1, sizeof *v);
    ENSURE(v, VAULT_ENOMEM, "out of memory");
    ENSURE(pthread_mutex_init(&v->lock, NULL) == 0, VAULT_ERROR, "cannot create a mutex");
    v->path = strdup(path);
    ENSURE(v->path, VAULT_ENOMEM, "out of memory");
    store_location_display(v->shown, sizeof v->shown, path);
    GUARD(keys_path_for(&v->keys_path, path));
    v->generation = -1;
    vault__default_actor(v->actor, sizeof v->actor);
    vault__who_local(&v->actor_who);
    *out = v;
    v = NULL;
cleanup:
    vault_close(v);
    return rc;
}

static void remove_store_files(const char *path)
{
    char side[4096];

    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static void remove_vault_files(const char *path, const char *keys_path, const char *rk_path)
{
    unlink(keys_path);
    if (!store_location_is_file(path))
        return; /* a server's vault: nothing else of it is a file here */
    remove_store_files(path);
    if (rk_path)
        remove_store_files(rk_path);
}

/* The data store's note that the vault keeps record keys (docs/erasure.md):
 * once it is there, a missing record-key store is an error, never a new
 * empty one (which would erase every record). */
#define META_RECORD_KEYS "record_keys"

static int v3_fn(void *arg, const store_record *r)
{
    size_t i;

    for (i = 0; i < r->nfields; i++)
        if (r->fields[i].ct_len > 0 && r->fields[i].ct[0] == VC_FIELD_FORMAT_V3) {
            *(int *)arg = 1;
            return 1; /* one is enough */
        }
    return 0;
}

/* Open the record-key store at `loc` beside the open data store, making it
 * when the vault has none yet (a new vault, or one from before record
 * keys: `noted` 0).  Without the note, the records must show it: one
 * sealed under a record key means the note was removed behind libvault,
 * and the vault does not open (never with a new, empty key store). */
static int reckeys_attach(vault *v, const char *loc, int noted)
{
    int rc = VAULT_OK;
    char shown[512];
    uint8_t one = 1;

    store_location_display(shown, sizeof shown, loc);
    if (noted) {
        rc = reckeys_open(&v->rk, loc, v->keys, v->id, 0);
        if (rc < 0) {
            char why[512];

            snprintf(why, sizeof why, "%s", vault_error_last());
            return vault__err(rc == VAULT_EINTEGRITY || rc == VAULT_EAUTH ? VAULT_EINTEGRITY : rc,
                              "%s: the record-key store %s does not open (%s); without it no "
                              "record opens: put its backup back (docs/erasure.md)",
                              v->shown, shown, why);
        }
        return VAULT_OK;
    }
    {
        int any = 0;

        GUARD(op_begin(v, OP_READ));
        rc = store_record_scan(v->db, v3_fn, &any);
        op_rollback(v);
        GUARD(rc);
        ENSURE(!any, VAULT_EINTEGRITY,
               "%s: its records are sealed under record keys, but the note that it keeps a "
               "record-key store is gone (changed behind libvault?): not opened, and no new key "
               "store made (docs/erasure.md)",
               v->shown);
    }
    rc = reckeys_open(&v->rk, loc, v->keys, v->id, 1);
    if (rc == VAULT_EEXISTS) /* made by an open that stopped before the note */
        rc = reckeys_open(&v->rk, loc, v->keys, v->id, 0);
    if (rc < 0 && store_location_is_file(loc) &&
        (strstr(vault_error_last(), "(no schema)") || strstr(vault_error_last(), "names no vault"))) {
        /* Half made by an open that stopped (no schema or no identity
         * yet): no record is sealed under a key of it (checked above) and
         * none was written since (the note comes before any), so it is
         * made again.  Another vault's, or one under another key, stays. */
        vault__err_clear();
        remove_store_files(loc);
        rc = reckeys_open(&v->rk, loc, v->keys, v->id, 1);
    }
    GUARD(rc);
    GUARD(op_begin(v, OP_WRITE));
    GUARD(store_meta_put(v->db, META_RECORD_KEYS, &one, 1));
    GUARD(op_commit(v));
cleanup:
    return rc;
}

/* Base name of a path, for citing a policy as "file:line". */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

int vault_create(vault **out, const char *path, const char *policy_file,
                 const vault_secret *secret)
{
    int rc = VAULT_OK;
    vault *v = NULL;
    uint8_t *master = NULL;
    char *report = NULL, *src = NULL;
    size_t srclen = 0, i;
    int files_made = 0, rk_made = 0;
    char *rk_loc = NULL;
    uint8_t rk_one = 1;
    struct stat st;
    int64_t now = vault__now();
    uint8_t fmt[] = VAULT_FORMAT_TAG;
    af_entry e;
    char detail[300];
    vault_secret secret_l;

    ENSURE(out, VAULT_EINVALID, "missing output handle");
    *out = NULL;
    vault__err_clear();
    GUARD(vault_init());
    ENSURE(policy_file && secret, VAULT_EINVALID, "missing policy file or secret");
    VAULT_OPT_IN(secret, secret_l, "vault_secret", "VAULT_SECRET_INIT");
    GUARD(handle_new(&v, path));
    ENSURE(!store_location_is_file(v->path) || stat(v->path, &st) != 0, VAULT_EEXISTS,
           "%s already exists", v->shown);
    ENSURE(stat(v->keys_path, &st) != 0, VAULT_EEXISTS, "%s already exists", v->keys_path);
    /* A record-key store left there is someone's keys: never made over,
     * never removed by a create that fails. */
    GUARD(reckeys_location(&rk_loc, v->path));
    ENSURE(!store_location_is_file(v->path) || stat(rk_loc, &st) != 0, VAULT_EEXISTS,
           "%s already exists", rk_loc);
    GUARD(vault__text_check(base_name(policy_file), 255, "policy file name"));
    rc = policy_load_file(&v->policy, &report, &src, &srclen, policy_file);
    if (rc < 0) {
        /* Keep the first error line from the report, which says FILE:LINE:COL. */
        if (rc == VAULT_EPOLICY && report && *report) {
            char *nl = strchr(report, '\n');
            if (nl)
                *nl = '\0';
            vault__err(rc, "%s", report);
        }
        goto cleanup;
    }
    master = vc_malloc(VAULT_KEY_BYTES);
    ENSURE(master, VAULT_ENOMEM, "out of secure memory");
    vc_random(master, VAULT_KEY_BYTES);
    vc_random(v->id, VAULT_ID_BYTES);
    GUARD(ks_create(v->keys_path, v->id, master, secret, "initial"));
    files_made = 1;
    GUARD(keyring_new(&v->keys, master, v->id));
    GUARD(store_open(&v->db, v->path, keyring_db_key(v->keys), 1, keyring_row_guard(v->keys),
                     NULL));
    op_attach_tx_hooks(v);
    rc = reckeys_open(&v->rk, rk_loc, v->keys, v->id, 1);
    rk_made = rc != VAULT_EEXISTS; /* made here (whole or half): removed on failure */
    GUARD(rc);
    GUARD(op_begin(v, OP_WRITE));
    GUARD(store_meta_put(v->db, "format", fmt, sizeof fmt - 1));
    GUARD(store_meta_put(v->db, META_RECORD_KEYS, &rk_one, 1));
    GUARD(store_meta_put(v->db, "vault_id", v->id, VAULT_ID_BYTES));
    GUARD(store_policy_add(&v->policy_id, v->db, policy_hash(v->policy), base_name(policy_file),
                           src, srclen, now));
    for (i = 0; i < policy_grade_count(v->policy); i++)
        GUARD(keyring_grade_key_create(v->keys, v->db, policy_grade_name(v->policy, i), 1, now));
    GUARD(audit_keys_create(v));
    /* Pin the checkpoint key outside the store (docs/keyslots.md section 10). */
    GUARD(audit__load_pk(v->anchor.pk, v));
    GUARD(ks_anchor_set(v->keys_path, master, &v->anchor));
    v->anchor_known = 1;
    audit_entry_init(&e, v, NULL, "vault_create");
    snprintf(detail, sizeof detail, "policy %s", base_name(policy_file));
    e.detail = detail;
    GUARD(audit_append(v, &e));
    GUARD(grants__sync(v, 1));
    GUARD(op_commit(v));
    GUARD(store_generation(v->db, &v->generation));
    v->ready = 1;
    *out = v;
    v = NULL;
cleanup:
    if (v && v->db)
        op_rollback(v);
    if (rc < 0 && files_made && v) {
        store_close(v->db);
        v->db = NULL;
        reckeys_close(v->rk);
        v->rk = NULL;
        remove_vault_files(v->path, v->keys_path, rk_made ? rk_loc : NULL);
    }
    free(rk_loc);
    vault_close(v);
    vc_free(master);
    free(report);
    free(src);
    return rc;
}

/* An older store was brought up to storage v2 (now, or at an open that
 * stopped before it logged it): say so in the log, and clear the note,
 * in one transaction (the chain runs on across the migration). */
static int log_migration(vault *v)
{
    int rc = VAULT_OK;
    uint8_t from = 0;
    const uint8_t none = 0;
    size_t n = 0;
    char detail[96];

    GUARD(op_begin(v, OP_READ));
    rc = store_meta_get(v->db, STORE_META_MIGRATED, &from, 1, &n);
    op_rollback(v);
    if (rc == VAULT_ENOTFOUND || (rc == VAULT_OK && n == 0)) {
        vault__err_clear();
        rc = VAULT_OK;
        goto cleanup;
    }
    GUARD(rc);
    GUARD(op_begin(v, OP_WRITE));
    rc = store_meta_get(v->db, STORE_META_MIGRATED, &from, 1, &n);
    if (rc == VAULT_OK && n == 1) { /* not logged by another process meanwhile */
        snprintf(detail, sizeof detail, "store migrated from schema %u to %d (%s)", (unsigned)from,
                 STORE_SCHEMA_VERSION,
                 from < 3   ? "storage v2: row MACs"
                 : from < 4 ? "the audit state on the newest row"
                 : from < 5 ? "the principals on each grant"
                 : from < 6 ? "the record on each residents-quota use"
                            : "PostgreSQL's partitioned tables; nothing in a file");
        GUARD(audit__log_meta(v, "store_migrate", AF_OUTCOME_OK, detail));
        GUARD(store_meta_put(v->db, STORE_META_MIGRATED, &none, 0));
        audit_trust_mark(v); /* from now on the log vouches for grants and policy */
    }
    GUARD(rc);
    GUARD(op_commit(v));
cleanup:
    op_rollback(v);
    return rc;
}

/* Read the audit anchor from the keys sidecar.  A sidecar written before
 * libvault pinned the audit key gets the store's key pinned now (trust on
 * first use, logged, docs/keyslots.md section 10); when the vault or its
 * sidecar can't be written, it stays unpinned for this handle. */
static int anchor_load(vault *v)
{
    int rc = VAULT_OK, found = 0;
    ks_anchor a;

    GUARD(ks_anchor_get(&v->anchor, &found, v->keys_path, keyring_master(v->keys)));
    if (found) {
        v->anchor_known = 1;
        goto cleanup;
    }
    if (op_begin(v, OP_WRITE) < 0) {
        vault__err_clear();
        goto cleanup; /* read-only */
    }
    /* Under the write lock: another process may have pinned it meanwhile. */
    GUARD(ks_anchor_get(&v->anchor, &found, v->keys_path, keyring_master(v->keys)));
    if (found) {
        v->anchor_known = 1;
        goto cleanup;
    }
    memset(&a, 0, sizeof a);
    GUARD(audit__load_pk(a.pk, v));
    rc = ks_anchor_set(v->keys_path, keyring_master(v->keys), &a);
    if (rc == VAULT_EIO) {
        vault__err_clear();
        rc = VAULT_OK;
        goto cleanup; /* the sidecar's directory is read-only */
    }
    GUARD(rc);
    GUARD(audit__log_meta(v, "audit_key_pin", AF_OUTCOME_OK,
                          "checkpoint public key pinned in the keys file"));
    GUARD(op_commit(v));
    v->anchor = a;
    v->anchor_known = 1;
cleanup:
    op_rollback(v);
    return rc;
}

/* The open's anchor check: in a snapshot; a refusal is checked again
 * under the write lock, where audit_anchor_check counts it in the keys
 * file (docs/keyslots.md section 10).  An open that can't take the write
 * lock (a read-only vault file) refuses without counting.  The error and
 * message are the refusal's either way. */
static int anchor_verify(vault *v)
{
    int rc = VAULT_OK;
    char saved[512];

    GUARD(op_begin(v, OP_READ));
    rc = audit_anchor_check(v);
    op_rollback(v);
    if (rc != VAULT_EINTEGRITY)
        goto cleanup;
    snprintf(saved, sizeof saved, "%s", vault_error_last());
    if (op_begin(v, OP_WRITE) < 0) {
        rc = vault__err(VAULT_EINTEGRITY, "%s", saved);
        goto cleanup;
    }
    rc = audit_anchor_check(v); /* repaired meanwhile: passes */
cleanup:
    op_rollback(v);
    return rc;
}

/* "2026-12-01T18:46:21.123456Z" for `us` microseconds since 1970 UTC. */
static void time_us_format(char *out, size_t cap, int64_t us)
{
    struct tm tm;
    time_t sec = (time_t)(us / 1000000);
    char day[32];

    if (!gmtime_r(&sec, &tm) || strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf(day, sizeof day, "@%lld", (long long)sec);
    if (snprintf(out, cap, "%s.%06lldZ", day, (long long)(us % 1000000)) >= (int)cap && cap)
        out[cap - 1] = '\0'; /* cut (a date this long is not one libvault writes) */
}

/* The store was refused as rewritten at earlier opens (the keys file
 * counts them) and now passes: one entry, action audit_rewrite_refused,
 * in a transaction of its own, then the count is cleared, under the
 * write lock again, only if it is still the one logged.  A crash between
 * the two logs it twice, never loses it.  An open that can't write
 * leaves it for one that can. */
static int log_refusals(vault *v)
{
    int rc = VAULT_OK, found = 0, cleared = 0;
    ks_anchor a;
    ks_refusals logged;
    char first[40], last[40], detail[200];

    if (!v->anchor_known || v->anchor.refused.count == 0)
        goto cleanup;
    if (op_begin(v, OP_WRITE) < 0) {
        vault__err_clear();
        goto cleanup; /* read-only */
    }
    /* Under the write lock: another process may have logged it meanwhile,
     * or moved the anchor on. */
    GUARD(ks_anchor_get(&a, &found, v->keys_path, keyring_master(v->keys)));
    ENSURE(found, VAULT_EINTEGRITY, "keys file %s: the audit anchor is gone", v->keys_path);
    v->anchor = a;
    if (a.refused.count == 0)
        goto cleanup;
    GUARD(audit_anchor_check(v));
    logged = a.refused;
    time_us_format(first, sizeof first, logged.first);
    time_us_format(last, sizeof last, logged.last);
    snprintf(detail, sizeof detail,
             "store refused %llu time%s as %s (integrity check failed at open or signing), "
             "first %s, last %s",
             (unsigned long long)logged.count, logged.count == 1 ? "" : "s",
             ks_refused_name(logged.cls), first, last);
    GUARD(audit__log_meta(v, "audit_rewrite_refused", AF_OUTCOME_DENIED, detail));
    GUARD(op_commit(v));
    if (op_begin(v, OP_WRITE) < 0 ||
        ks_refusal_clear(&a, &cleared, v->keys_path, keyring_master(v->keys), &logged) < 0) {
        vault__err_clear(); /* logged; the record stays and is logged again later */
        goto cleanup;
    }
    v->anchor.refused = a.refused;
cleanup:
    op_rollback(v);
    return rc;
}

/* Open the vault at `path` with its master key already unwrapped (from a
 * keyslot, or from another handle on the same vault). */
static int open_unlocked_keys(vault **out, const char *path, const uint8_t *master,
                              const uint8_t keys_id[VAULT_ID_BYTES], vault_progress_fn progress,
                              void *arg, const char *rk_location, const char *keys_path);

static int open_unlocked(vault **out, const char *path, const uint8_t *master,
                         const uint8_t keys_id[VAULT_ID_BYTES], vault_progress_fn progress,
                         void *arg, const char *rk_location)
{
    return open_unlocked_keys(out, path, master, keys_id, progress, arg, rk_location, NULL);
}

/* keys_path (may be NULL): the keys file, instead of the one the location
 * names (a rotation's new copy, before its keys file is in place). */
static int open_unlocked_keys(vault **out, const char *path, const uint8_t *master,
                              const uint8_t keys_id[VAULT_ID_BYTES], vault_progress_fn progress,
                              void *arg, const char *rk_location, const char *keys_path)
{
    int rc = VAULT_OK, noted = 0;
    vault *v = NULL;
    uint8_t fmt[64], one = 0;
    size_t n = 0;
    char *rk_loc = NULL;
    store_migration mig = {progress, arg, 0};

    GUARD(handle_new(&v, path));
    if (keys_path) {
        char *k = strdup(keys_path);
        ENSURE(k, VAULT_ENOMEM, "out of memory");
        free(v->keys_path);
        v->keys_path = k;
    }
    GUARD(keyring_new(&v->keys, master, keys_id));
    /* A master-key rotation that committed but was cut short before its
     * files were in place is finished here (docs/keyslots.md section 11). */
    if (!rk_location && store_location_is_file(v->path))
        GUARD(vault__rotate_master_recover(v->path, v->keys));
    rc = store_open(&v->db, v->path, keyring_db_key(v->keys), 0, keyring_row_guard(v->keys), &mig);
    if (rc == VAULT_OK)
        op_attach_tx_hooks(v);
    ENSURE(rc != VAULT_EAUTH, VAULT_EINTEGRITY,
           "%s does not open with the key from %s (the keys file belongs to another vault, "
           "or the vault file is damaged)", v->shown, v->keys_path);
    GUARD(rc);
    GUARD(op_begin(v, OP_READ));
    GUARD(store_meta_get(v->db, "format", fmt, sizeof fmt, &n));
    ENSURE(n == sizeof VAULT_FORMAT_TAG - 1 && memcmp(fmt, VAULT_FORMAT_TAG, n) == 0, /* memcmp ok: not secret */
           VAULT_EINTEGRITY, "%s is not a libvault vault of a supported format", v->shown);
    GUARD(store_meta_get(v->db, "vault_id", v->id, sizeof v->id, &n));
    ENSURE(n == VAULT_ID_BYTES && memcmp(v->id, keys_id, VAULT_ID_BYTES) == 0, VAULT_EINTEGRITY, /* memcmp ok: not secret */
           "%s belongs to another vault than %s", v->keys_path, v->shown);
    rc = store_meta_get(v->db, META_RECORD_KEYS, &one, 1, &n);
    if (rc != VAULT_ENOTFOUND)
        GUARD(rc);
    noted = rc == VAULT_OK;
    rc = VAULT_OK;
    vault__err_clear();
    op_rollback(v);
    if (!rk_location)
        GUARD(reckeys_location(&rk_loc, v->path));
    GUARD(reckeys_attach(v, rk_location ? rk_location : rk_loc, noted));
    GUARD(op_begin(v, OP_READ));
    GUARD(store_generation(v->db, &v->generation));
    GUARD(op_reload(v, 1));
    GUARD(op_commit(v));
    /* mig.from: logged from the store's note, which survives a crash */
    GUARD(log_migration(v));
    GUARD(anchor_load(v));
    /* The store must extend the last checkpoint the keys file recorded. */
    GUARD(anchor_verify(v));
    GUARD(log_refusals(v));
    v->ready = 1;
    *out = v;
    v = NULL;
cleanup:
    free(rk_loc);
    vault_close(v);
    return rc;
}

int vault_open(vault **out, const char *path, const vault_secret *secret)
{
    return vault_open_progress(out, path, secret, NULL, NULL);
}

static int open_secret(vault **out, const char *path, const vault_secret *secret,
                       vault_progress_fn progress, void *arg, const char *rk_location);

int vault_open_progress(vault **out, const char *path, const vault_secret *secret,
                        vault_progress_fn progress, void *arg)
{
    return open_secret(out, path, secret, progress, arg, NULL);
}

int vault__open_master(vault **out, const char *path, const uint8_t *master,
                       const uint8_t id[VAULT_ID_BYTES], const char *rk_location,
                       const char *keys_path)
{
    if (!out)
        return vault__err(VAULT_EINVALID, "missing output handle");
    *out = NULL;
    return open_unlocked_keys(out, path, master, id, NULL, NULL, rk_location, keys_path);
}

int vault__open_with_reckeys(vault **out, const char *path, const vault_secret *secret,
                             const char *rk_location)
{
    return open_secret(out, path, secret, NULL, NULL, rk_location);
}

static int open_secret(vault **out, const char *path, const vault_secret *secret,
                       vault_progress_fn progress, void *arg, const char *rk_location)
{
    int rc = VAULT_OK;
    uint8_t *master = NULL;
    uint8_t keys_id[VAULT_ID_BYTES];
    char *keys_path = NULL;
    struct stat st;
    vault_secret secret_l;

    ENSURE(out, VAULT_EINVALID, "missing output handle");
    *out = NULL;
    vault__err_clear();
    GUARD(vault_init());
    ENSURE(secret, VAULT_EINVALID, "missing passphrase or key file");
    VAULT_OPT_IN(secret, secret_l, "vault_secret", "VAULT_SECRET_INIT");
    ENSURE(path && *path, VAULT_EINVALID, "missing vault path");
    ENSURE(!store_location_is_file(path) || stat(path, &st) == 0, VAULT_ENOTFOUND,
           "%s: no such vault", path);
    GUARD(keys_path_for(&keys_path, path));
    /* A PostgreSQL vault's rotation that committed before its keys file
     * was put in place is finished here (docs/keyslots.md section 11). */
    if (!store_location_is_file(path) && !rk_location)
        GUARD(vault__rotate_master_recover_keys(path, keys_path, secret));
    master = vc_malloc(VAULT_KEY_BYTES);
    ENSURE(master, VAULT_ENOMEM, "out of secure memory");
    GUARD(ks_unlock(master, keys_id, keys_path, secret));
    GUARD(open_unlocked(out, path, master, keys_id, progress, arg, rk_location));
cleanup:
    free(keys_path);
    vc_free(master);
    return rc;
}

int vault_set_alarm(vault *v, vault_alarm_fn fn, void *arg)
{
    int rc = VAULT_OK;

    ENSURE(v, VAULT_EINVALID, "missing vault handle");
    ENSURE(!v->remote, VAULT_EINVALID,
           "vault_set_alarm: a client-mode handle raises no alarms (vaultd raises them)");
    GUARD(vault__lock(v));
    v->alarm_fn = fn;
    v->alarm_arg = arg;
    vault__leave(v);
cleanup:
    return rc;
}

int vault_reopen(vault **out, vault *v)
{
    if (v && v->remote)
        return client_unsupported("vault_reopen", "connect again with vault_connect");
    int rc = VAULT_OK, entered = 0;
    uint8_t *master = NULL;
    uint8_t id[VAULT_ID_BYTES];
    char *path = NULL;

    ENSURE(out, VAULT_EINVALID, "missing output handle");
    *out = NULL;
    ENSURE(v, VAULT_EINVALID, "missing vault handle");
    /* Only the keys and the location are taken: no refresh from v's
     * store, so a handle whose connection is gone reopens too (vaultd
     * replaces such a handle so). */
    GUARD(vault__lock(v));
    entered = 1;
    master = vc_malloc(VAULT_KEY_BYTES);
    ENSURE(master, VAULT_ENOMEM, "out of secure memory");
    memcpy(master, keyring_master(v->keys), VAULT_KEY_BYTES);
    memcpy(id, v->id, sizeof id);
    path = strdup(v->path);
    ENSURE(path, VAULT_ENOMEM, "out of memory");
    vault__leave(v);
    entered = 0;
    GUARD(open_unlocked(out, path, master, id, NULL, NULL, NULL));
    /* The new handle keeps the key the caller pinned on this one. */
    memcpy((*out)->expect_pk, v->expect_pk, sizeof v->expect_pk);
    (*out)->expect_known = v->expect_known;
cleanup:
    if (entered)
        vault__leave(v);
    free(path);
    vc_free(master);
    return rc;
}

int vault_connection_lost(vault *v)
{
    int lost;

    if (!v || v->remote)
        return 0;
    pthread_mutex_lock(&v->lock);
    lost = store_connection_lost(v->db) || (v->rk && store_connection_lost(reckeys_store(v->rk)));
    pthread_mutex_unlock(&v->lock);
    return lost;
}

void vault_close(vault *v)
{
    if (!v)
        return;
    if (v->remote) {
        client_close(v);
        return;
    }
    /* Sign what was appended since the last checkpoint; a failure here
     * (read-only file, say) loses nothing: verify still checks the chain. */
    if (v->ready && op_checkpoint_if_needed(v) < 0)
        vault__err_clear();
    /* ... and hand it to the policy's witnesses (best effort, short
     * timeout; docs/witness.md "Submitting from a vault"). */
    if (v->ready && v->witness_due && !v->witness_manual) {
        v->witness_due = 0;
        if (vault_audit_witness(NULL, 0, NULL, v, NULL, 0, VAULT_WITNESS_AUTO_MS) < 0)
            vault__err_clear();
    }
    reckeys_close(v->rk);
    store_close(v->db);
    keyring_free(v->keys);
    vault__retired_free(v);
    policy_grantset_free(v->grants);
    policy_free(v->policy);
    free(v->path);
    free(v->keys_path);
    audit_tail_free(v);
    free(v->alarms);
    free(v->canaries);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

int vault_location_shown(char *out, size_t out_size, const char *location)
{
    if (!out || !out_size || !location)
        return vault__err(VAULT_EINVALID, "vault_location_shown: missing argument");
    store_location_display(out, out_size, location);
    return VAULT_OK;
}

int vault_id(char *out, size_t out_size, const vault *v)
{
    if (v && v->remote)
        return client_id(out, out_size, v);
    if (!out || !v || out_size < VAULT_ID_HEX_SIZE)
        return vault__err(VAULT_EINVALID, "vault_id: output buffer too small");
    vault__id_format(out, v->id);
    return VAULT_OK;
}

int vault_db_key(char *out, size_t out_size, vault *v)
{
    if (v && v->remote)
        return client_db_key(out, out_size, v);
    int rc = VAULT_OK, entered = 0;
    af_entry e;

    ENSURE(out && out_size >= 68, VAULT_EINVALID, "vault_db_key: output buffer too small");
    GUARD(vault__enter(v));
    entered = 1;
    ENSURE(store_location_is_file(v->path), VAULT_ESTATE,
           "%s is not kept in a SQLCipher file: it has no database key", v->shown);
    /* Log first: the key is handed out only once its entry is committed. */
    GUARD(op_begin(v, OP_WRITE));
    audit_entry_init(&e, v, NULL, "db_key");
    e.detail = "raw SQLCipher key handed out";
    GUARD(audit_append(v, &e));
    GUARD(op_commit(v));
    out[0] = 'x';
    out[1] = '\'';
    GUARD(vc_bin2hex(out + 2, out_size - 2, keyring_db_key(v->keys), VC_KEYBYTES));
    out[66] = '\'';
    out[67] = '\0';
cleanup:
    vault__exit(v, entered);
    return rc;
}

int vault_keyfile_generate(const char *path)
{
    vault__err_clear();
    if (vc_init() < 0)
        return VAULT_ERROR;
    if (!path || !*path)
        return vault__err(VAULT_EINVALID, "missing key file path");
    return ks_keyfile_generate(path);
}

/* ---- keyslots ---- */

/* Keyslot changes run under the database write lock, so two processes
 * can't rewrite the sidecar at once. */
/* Keyslot changes run under the database write lock, so two processes
 * can't rewrite the sidecar at once.  The audit entry is appended first
 * and committed after the sidecar is rewritten. */
static int keyslot_change(vault *v, int *out_slot, const vault_secret *secret, const char *label,
                          int remove_slot)
{
    int rc = VAULT_OK, entered = 0;
    af_entry e;
    char detail[VAULT_NAME_MAX + 64];

    GUARD(vault__enter(v));
    entered = 1;
    GUARD(op_begin(v, OP_WRITE));
    audit_entry_init(&e, v, NULL, remove_slot >= 0 ? "keyslot_remove" : "keyslot_add");
    if (remove_slot >= 0)
        snprintf(detail, sizeof detail, "slot %d", remove_slot);
    else
        snprintf(detail, sizeof detail, "%s slot '%s'",
                 secret && secret->kind == VAULT_UNLOCK_KEYFILE ? "key file" : "passphrase",
                 label ? label : "");
    e.detail = detail;
    GUARD(audit_append(v, &e));
    if (remove_slot >= 0)
        GUARD(ks_remove(v->keys_path, keyring_master(v->keys), remove_slot));
    else
        GUARD(ks_add(out_slot, v->keys_path, keyring_master(v->keys), secret, label ? label : ""));
    GUARD(op_commit(v));
cleanup:
    vault__exit(v, entered);
    return rc;
}

int vault_keyslot_add(int *out_slot, vault *v, const vault_secret *secret, const char *label)
{
    if (v && v->remote)
        return client_unsupported("vault_keyslot_add", "keyslots are vaultd's host's business");
    int rc = VAULT_OK;
    vault_secret secret_l;

    VAULT_OPT_IN(secret, secret_l, "vault_secret", "VAULT_SECRET_INIT");
    rc = keyslot_change(v, out_slot, secret, label, -1);
cleanup:
    return rc;
}

int vault_keyslot_remove(vault *v, int slot)
{
    if (v && v->remote)
        return client_unsupported("vault_keyslot_remove", "keyslots are vaultd's host's business");
    if (slot < 0)
        return vault__err(VAULT_EINVALID, "slot numbers are 0 or more");
    return keyslot_change(v, NULL, NULL, NULL, slot);
}

int vault_keyslot_list(vault_keyslot_info **out, size_t *out_count, vault *v)
{
    if (v && v->remote)
        return client_unsupported("vault_keyslot_list", "keyslots are vaultd's host's business");
    int rc = VAULT_OK;

    GUARD(vault__enter(v));
    rc = op_log_query(v, "keyslot_list", AF_OUTCOME_OK, "keyslot list");
    if (rc == VAULT_OK)
        rc = ks_list(out, out_count, v->keys_path);
    vault__leave(v);
cleanup:
    return rc;
}

/* ---- policy ---- */

int vault_policy_check(char **out_report, const char *policy_file)
{
    int rc = VAULT_OK;
    vault_policy *p = NULL;
    char *report = NULL;

    vault__err_clear();
    if (out_report)
        *out_report = NULL;
    GUARD(vc_init());
    ENSURE(policy_file, VAULT_EINVALID, "missing policy file");
    rc = policy_load_file(&p, &report, NULL, NULL, policy_file);
cleanup:
    policy_free(p);
    if (out_report)
        *out_report = report;
    else
        free(report);
    return rc;
}

int vault_policy_apply(char **out_report, vault *v, const char *policy_file)
{
    if (v && v->remote)
        return client_policy_apply(out_report, v, policy_file);
    int rc = VAULT_OK, entered = 0;
    vault_policy *p = NULL;
    char *report = NULL, *src = NULL, *diff = NULL, *suspended = NULL;
    size_t srclen = 0;
    int64_t id = 0;
    af_entry e;
    char detail[400];

    if (out_report)
        *out_report = NULL;
    GUARD(vault__enter(v));
    entered = 1;
    ENSURE(policy_file, VAULT_EINVALID, "missing policy file");
    /* Its name is stored and logged: one line of text. */
    GUARD(vault__text_check(base_name(policy_file), 255, "policy file name"));
    rc = policy_load_file(&p, &report, &src, &srclen, policy_file);
    if (rc == VAULT_EPOLICY && report && *report) {
        char *nl = strchr(report, '\n');
        if (nl)
            *nl = '\0';
        vault__err(rc, "%s", report);
    }
    /* A policy refused (FILE:LINE:COL) is an entry too. */
    if (op_is_refusal(rc))
        rc = op_refused(v, NULL, "policy_apply", NULL, rc, NULL);
    GUARD(rc);
    GUARD(policy_diff(&diff, v->policy, p));
    GUARD(op_begin(v, OP_WRITE));
    GUARD(store_policy_add(&id, v->db, policy_hash(p), base_name(policy_file), src, srclen,
                           vault__now()));
    /* Grants the new policy no longer allows stop with it, in the same
     * transaction. */
    GUARD(grants__recheck(&suspended, v, p));
    {
        /* Logged under the new policy's hash: the entry says what now applies. */
        vault_policy *old_p = v->policy;
        char hex[65];
        GUARD(vc_bin2hex(hex, sizeof hex, policy_hash(p), 32));
        snprintf(detail, sizeof detail, "policy %s sha256 %s", base_name(policy_file), hex);
        audit_entry_init(&e, v, NULL, "policy_apply");
        e.detail = detail;
        v->policy = p;
        rc = audit_append(v, &e);
        v->policy = old_p;
        GUARD(rc);
    }
    GUARD(op_commit(v));
    GUARD(store_generation(v->db, &v->generation));
    policy_free(v->policy);
    v->policy = p;
    v->policy_id = id;
    p = NULL;
    GUARD(op_reload(v, 1));
    if (out_report) {
        if (suspended) {
            char *both = NULL;
            size_t a = strlen(diff), b = strlen(suspended);
            both = malloc(a + b + 1);
            ENSURE(both, VAULT_ENOMEM, "out of memory");
            memcpy(both, diff, a);
            memcpy(both + a, suspended, b + 1);
            free(diff);
            diff = both;
        }
        *out_report = diff;
        diff = NULL;
    }
cleanup:
    vault__exit(v, entered);
    free(suspended);
    policy_free(p);
    free(report);
    free(src);
    free(diff);
    return rc;
}

int vault_policy_source(char **out, char *out_hash, size_t out_hash_size, vault *v)
{
    if (v && v->remote)
        return client_policy_source(out, out_hash, out_hash_size, v);
    int rc = VAULT_OK, entered = 0;
    char filename[256], *src = NULL;
    size_t len = 0;
    int64_t id = 0;

    ENSURE(out && out_hash && out_hash_size >= 65, VAULT_EINVALID,
           "vault_policy_source: output buffer too small");
    *out = NULL;
    GUARD(vault__enter(v));
    entered = 1;
    /* One unit: the entry and the source it describes, one snapshot. */
    GUARD(op_begin(v, OP_WRITE));
    GUARD(audit__log_meta(v, "policy_show", AF_OUTCOME_OK, "active policy source"));
    GUARD(store_policy_active(&id, filename, sizeof filename, &src, &len, v->db));
    GUARD(op_commit(v));
    GUARD(vc_bin2hex(out_hash, out_hash_size, policy_hash(v->policy), 32));
    *out = src;
    src = NULL;
cleanup:
    vault__exit(v, entered);
    free(src);
    return rc;
}

void vault__route(vault *v, const uint8_t id[VAULT_ID_BYTES], const char *jurisdiction)
{
    size_t n;

    if (!v || !v->db || !store_many_logs(v->db) || !jurisdiction || !*jurisdiction) {
        if (v)
            v->route_log[0] = '\0';
        return;
    }
    n = store_shard_len(jurisdiction);
    if (n > STORE_LOG_MAX || n >= sizeof v->route_log) {
        /* a shard no log can be named by: its entries stay in the city log */
        v->route_log[0] = '\0';
        return;
    }
    memcpy(v->route_id, id, VAULT_ID_BYTES);
    memcpy(v->route_log, jurisdiction, n);
    v->route_log[n] = '\0';
}

const char *vault__routed(const vault *v, const uint8_t id[VAULT_ID_BYTES])
{
    if (!v->route_log[0] || memcmp(v->route_id, id, VAULT_ID_BYTES) != 0) /* memcmp ok: not secret */
        return NULL;
    return v->route_log;
}

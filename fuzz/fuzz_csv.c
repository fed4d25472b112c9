/* Fuzz target: vault_import_csv on a CSV file written from the input,
 * into a vault under /tmp created once per process (key-file slot, so no
 * Argon2id) with the shipped policies/community.yaml, as the street's data
 * officer.  The vault is re-created every FUZZ_CSV_RECREATE successful
 * imports so it stays small.  Checks: the import is all or nothing (the
 * record count grows by exactly *out_count, or not at all on failure) and
 * every failure comes with a message. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "store/store.h"
#include "vault_int.h"

#define FUZZ_CSV_RECREATE 200
#define FUZZ_STREET "hangzhou/gongshu/xiaohe"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], vault_path[128], key_path[128], csv_path[128], policy_path[4096];
static vault *v;
static vault_session *officer;
static unsigned imports;
static int verbose; /* FUZZ_CSV_VERBOSE=1: print each import's outcome */

static void remove_vault(void)
{
    fuzz_remove_vault(vault_path);
}

static void close_vault(void)
{
    vault_session_close(officer);
    officer = NULL;
    vault_close(v);
    v = NULL;
}

static void make_vault(void)
{
    vault_secret s = {sizeof(vault_secret), VAULT_UNLOCK_KEYFILE, key_path, 0, 0};
    vault_subject sub = {sizeof(vault_subject), "fuzz", "data_officer", "street_office", FUZZ_STREET, "resident_service"};

    remove_vault();
    if (vault_create(&v, vault_path, policy_path, &s) != VAULT_OK ||
        vault_session_open(&officer, v, &sub) != VAULT_OK) {
        fprintf(stderr, "fuzz_csv: cannot create the vault: %s\n", vault_error_last());
        abort();
    }
    imports = 0;
}

static void cleanup(void)
{
    close_vault();
    remove_vault();
    unlink(key_path);
    unlink(csv_path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (vault_init() < 0)
        abort();
    verbose = getenv("FUZZ_CSV_VERBOSE") != NULL;
    fuzz_policy_path(policy_path, sizeof policy_path, "fuzz_csv");
    snprintf(dir, sizeof dir, "/tmp/fuzz-csv-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(vault_path, sizeof vault_path, "%s/fuzz.vault", dir);
    snprintf(key_path, sizeof key_path, "%s/fuzz.key", dir);
    snprintf(csv_path, sizeof csv_path, "%s/in.csv", dir);
    if (vault_keyfile_generate(key_path) != VAULT_OK)
        abort();
    make_vault();
    /* After the first vault_create: handlers run in reverse order, and
     * vault_close must run before OpenSSL's own exit handler (registered
     * when SQLCipher first uses it) tears libcrypto down. */
    atexit(cleanup);
    return 0;
}

/* The number of records, read in a snapshot of its own (store.c refuses
 * reads outside a transaction). */
static int record_count(int64_t *out)
{
    int rc = store_begin(v->db, STORE_TX_SNAPSHOT);

    if (rc == VAULT_OK)
        rc = store_record_count(out, v->db);
    if (store_in_tx(v->db))
        store_rollback(v->db);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t count = 0;
    int64_t before = 0, after = 0;
    int rc;
    const char *msg;

    fuzz_write_file(csv_path, data, size);
    if (record_count(&before) != VAULT_OK)
        abort();
    rc = vault_import_csv(&count, officer, csv_path, NULL, NULL);
    msg = vault_error_last();
    if (record_count(&after) != VAULT_OK)
        abort();
    if (verbose)
        fprintf(stderr, "fuzz_csv: rc %d, %zu records: %s\n", rc, count, msg);
    if (rc == VAULT_OK) {
        if (after - before != (int64_t)count)
            abort(); /* every record imported is counted */
        if (count > 0 && ++imports >= FUZZ_CSV_RECREATE) {
            close_vault();
            make_vault();
        }
    } else {
        if (after != before)
            abort(); /* all or nothing */
        if (msg[0] == '\0')
            abort(); /* a failure always says why */
    }
    return 0;
}

/* Fuzz target: ks_unlock (and ks_list) on a `<vault>.keys` sidecar written
 * from the input, unlocked with a fixed key file.  Only key-file slots are
 * tried: a passphrase slot runs Argon2id with the parameters in the file,
 * which an attacker who can write the sidecar may set to libsodium's
 * maximum (a documented denial of service, docs/keyslots.md §9), so it is
 * not something a fuzzer should rediscover.  Passphrase slots are still
 * parsed and validated.  The seeds are real sidecars whose key-file slot
 * opens with this key (fuzz/gen_seeds.c).  Files live in a directory under
 * /tmp made once per process and removed at exit. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "fuzz_util.h"
#include "keyslot.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], keys_path[128], key_path[128];
static uint8_t *master;

static void cleanup(void)
{
    unlink(keys_path);
    unlink(key_path);
    rmdir(dir);
    vc_free(master);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t key[32];
    size_t i;

    (void)argc;
    (void)argv;
    if (vault_init() < 0)
        abort();
    snprintf(dir, sizeof dir, "/tmp/fuzz-keyslot-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(keys_path, sizeof keys_path, "%s/v.keys", dir);
    snprintf(key_path, sizeof key_path, "%s/fuzz.key", dir);
    for (i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(0x30 + i); /* the key gen_seeds.c used */
    fuzz_write_file(key_path, key, sizeof key);
    master = vc_malloc(VAULT_KEY_BYTES);
    if (!master)
        abort();
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vault_secret s = {sizeof(vault_secret), VAULT_UNLOCK_KEYFILE, key_path, 0, 0};
    uint8_t id[VAULT_ID_BYTES];
    vault_keyslot_info *slots = NULL;
    size_t n = 0, i;
    int rc, lrc;

    fuzz_write_file(keys_path, data, size);
    rc = ks_unlock(master, id, keys_path, &s);
    if (rc != VAULT_OK && rc != VAULT_EAUTH && rc != VAULT_EINTEGRITY && rc != VAULT_ENOMEM)
        abort();
    if (rc != VAULT_OK)
        for (i = 0; i < VAULT_KEY_BYTES; i++)
            if (master[i] != 0)
                abort(); /* wiped on every failure */
    lrc = ks_list(&slots, &n, keys_path);
    if (lrc == VAULT_OK) {
        if (n == 0 || n > KS_MAX_SLOTS)
            abort();
        for (i = 0; i < n; i++)
            if (memchr(slots[i].label, '\0', sizeof slots[i].label) == NULL)
                abort();
        free(slots);
    } else if (rc == VAULT_OK) {
        abort(); /* a file that unlocks also lists */
    }
    return 0;
}

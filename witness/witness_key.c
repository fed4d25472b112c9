/* witness_key: the witness's key file (docs/witness.md "Key file"):
 *   libvault-witness-key v1\n
 *   name <witness name>\n
 *   seed <base64 of the 32-byte Ed25519 seed>\n
 * created new and 0600; a key file others can read is refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/audit_cosign.h"
#include "audit/audit_format.h"
#include "crypto.h"
#include "internal.h"
#include "witness_int.h"

#define KEY_MAGIC "libvault-witness-key v1\n"
#define KEY_FILE_MAX 1024
#define SEED_BYTES 32

int witness_key_generate(char *vkey, size_t cap, const char *name, const char *path)
{
    int rc = VAULT_OK, fd = -1, len;
    uint8_t *seed = vc_malloc(SEED_BYTES), pk[32], *sk = vc_malloc(64);
    char *text = vc_malloc(KEY_FILE_MAX), b64[64];

    ENSURE(seed && sk && text, VAULT_ENOMEM, "out of memory for a witness key");
    ENSURE(vkey && name && path, VAULT_EINVALID, "missing argument");
    ENSURE(af_note_name_ok(name), VAULT_EINVALID,
           "the name must be 1..255 bytes of UTF-8 without spaces, '+' or "
           "control characters");
    vc_random(seed, SEED_BYTES);
    ENSURE(crypto_sign_seed_keypair(pk, sk, seed) == 0, VAULT_ERROR, "witness keygen: Ed25519 failed");
    GUARD(af_vkey_format(vkey, cap, name, AF_SIGTYPE_COSIGN_V1, pk));
    GUARD(vc_bin2b64(b64, sizeof b64, seed, SEED_BYTES));
    len = snprintf(text, KEY_FILE_MAX, KEY_MAGIC "name %s\nseed %s\n", name, b64);
    sodium_memzero(b64, sizeof b64);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    ENSURE(fd >= 0 || errno != EEXIST, VAULT_EEXISTS,
           "%s already exists; not overwritten", path);
    ENSURE(fd >= 0, VAULT_EIO, "cannot create %s: %s", path, strerror(errno));
    ENSURE(fchmod(fd, 0600) == 0 && write(fd, text, (size_t)len) == len && fsync(fd) == 0,
           VAULT_EIO, "cannot write %s: %s", path, strerror(errno));
cleanup:
    if (fd >= 0 && close(fd) != 0 && rc == VAULT_OK)
        rc = vault__err(VAULT_EIO, "cannot write %s", path);
    if (rc < 0 && fd >= 0)
        unlink(path);
    vc_free(seed);
    vc_free(sk);
    vc_free(text);
    return rc;
}

/* The value after "KEY " on its own line of text, NUL-terminated in place. */
static char *field(char *text, const char *key)
{
    size_t klen = strlen(key);
    char *p = text, *nl;

    for (; p && *p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (!nl)
            return NULL;
        if ((size_t)(nl - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == ' ') {
            *nl = '\0';
            return p + klen + 1;
        }
    }
    return NULL;
}

int witness__key_load(char name[256], uint8_t pk[32], uint8_t sk[64], const char *path)
{
    int rc = VAULT_OK, fd = -1;
    char *text = vc_malloc(KEY_FILE_MAX + 1), *nm, *sd;
    uint8_t *seed = vc_malloc(SEED_BYTES + 8);
    struct stat st;
    ssize_t n;
    size_t slen = 0;

    ENSURE(text && seed, VAULT_ENOMEM, "out of memory for a witness key");
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    ENSURE(fd >= 0, errno == ENOENT ? VAULT_ENOTFOUND : VAULT_EIO,
           "witness key %s: cannot open: %s", path, strerror(errno));
    ENSURE(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), VAULT_EINVALID,
           "witness key %s: not a regular file", path);
    ENSURE((st.st_mode & 077) == 0, VAULT_EINVALID,
           "witness key %s: readable by others (mode %03o); chmod 600 it", path,
           (unsigned)(st.st_mode & 0777));
    n = read(fd, text, KEY_FILE_MAX + 1);
    ENSURE(n >= 0, VAULT_EIO, "witness key %s: cannot read: %s", path, strerror(errno));
    ENSURE(n <= KEY_FILE_MAX, VAULT_EINVALID, "witness key %s: over %d bytes", path, KEY_FILE_MAX);
    text[n] = '\0';
    ENSURE(strlen(text) == (size_t)n && strncmp(text, KEY_MAGIC, strlen(KEY_MAGIC)) == 0,
           VAULT_EINVALID, "witness key %s: not a libvault witness key file", path);
    nm = field(text + strlen(KEY_MAGIC), "name");
    ENSURE(nm && strlen(nm) < 256 && af_note_name_ok(nm), VAULT_EINVALID,
           "witness key %s: no valid name line", path);
    snprintf(name, 256, "%s", nm);
    sd = field(nm + strlen(nm) + 1, "seed");
    ENSURE(sd && vc_b642bin(seed, SEED_BYTES + 8, &slen, sd, strlen(sd)) == 0 && slen == SEED_BYTES,
           VAULT_EINVALID, "witness key %s: no valid seed line", path);
    ENSURE(crypto_sign_seed_keypair(pk, sk, seed) == 0, VAULT_ERROR,
           "witness key %s: Ed25519 failed", path);
cleanup:
    if (fd >= 0)
        close(fd);
    vc_free(text);
    vc_free(seed);
    return rc;
}

int witness_key_vkey(char *vkey, size_t cap, const char *path)
{
    int rc = VAULT_OK;
    char name[256];
    uint8_t pk[32], *sk = vc_malloc(64);

    ENSURE(sk, VAULT_ENOMEM, "out of memory for a witness key");
    ENSURE(vkey && path, VAULT_EINVALID, "witness pubkey: missing argument");
    GUARD(witness__key_load(name, pk, sk, path));
    GUARD(af_vkey_format(vkey, cap, name, AF_SIGTYPE_COSIGN_V1, pk));
cleanup:
    vc_free(sk);
    return rc;
}

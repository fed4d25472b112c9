/* Helpers shared by the fuzz targets (header-only; each target is built
 * on its own by fuzz/run.sh and, for the corpus replay, by ctest). */
#ifndef VAULT_FUZZ_UTIL_H
#define VAULT_FUZZ_UTIL_H

#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sodium.h>

/* The shipped policies/community.yaml: under VAULT_SOURCE_DIR, else next
 * to this header (__FILE__ is absolute in the CMake and fuzz/run.sh
 * builds).  Aborts, naming the target, when it is not there. */
static inline void fuzz_policy_path(char *out, size_t cap, const char *target)
{
    const char *src = getenv("VAULT_SOURCE_DIR");
    char here[4096];

    if (src && *src) {
        snprintf(out, cap, "%s/policies/community.yaml", src);
    } else {
        snprintf(here, sizeof here, "%s", __FILE__);
        snprintf(out, cap, "%s/../policies/community.yaml", dirname(here));
    }
    if (access(out, R_OK) != 0) {
        fprintf(stderr, "%s: %s not found (set VAULT_SOURCE_DIR)\n", target, out);
        abort();
    }
}

/* Remove a vault file and everything that goes with it (WAL, shared
 * memory, journal, keys sidecar). */
static inline void fuzz_remove_vault(const char *vault_path)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal", ".keys"};
    char p[4200];
    size_t i;

    for (i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(p, sizeof p, "%s%s", vault_path, suffix[i]);
        unlink(p);
    }
}

/* Write size bytes to path (created 0600, truncated); abort on failure. */
static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t done = 0;
    ssize_t n;

    if (fd < 0)
        abort();
    while (done < size) {
        n = write(fd, data + done, size - done);
        if (n <= 0)
            abort();
        done += (size_t)n;
    }
    close(fd);
}

/* The Ed25519 key of tests/vectors (seed bytes c0 .. df). */
static inline void fuzz_vector_keypair(uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32];
    size_t i;

    for (i = 0; i < sizeof seed; i++)
        seed[i] = (uint8_t)(0xc0 + i);
    crypto_sign_seed_keypair(pk, sk, seed);
}

#endif

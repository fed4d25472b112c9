/* witness_int: what the witness files lend each other. */
#ifndef VAULT_WITNESS_INT_H
#define VAULT_WITNESS_INT_H

#include <pthread.h>
#include <stdint.h>

#include "witness.h"

#define WITNESS_ID_HEX 33 /* a log's file id: 16 bytes of SHA-256(origin) in hex, + NUL */

/* One log the witness follows: its pinned key and the last checkpoint it
 * cosigned (size 0 and no root before the first). */
typedef struct witness_log {
    char origin[256];
    uint8_t pk[32];
    char id[WITNESS_ID_HEX];
    pthread_mutex_t mu;  /* held from the check of `old` until the state is persisted */
    int has;             /* a checkpoint was cosigned */
    uint64_t size;
    uint8_t root[32];
} witness_log;

struct witness {
    char name[256];
    uint8_t pk[32];
    uint8_t *sk;         /* 64 bytes, vc_malloc'ed */
    char *dir;
    int lock_fd;
    witness_log *logs;
    size_t nlogs;
};

/* witness_key.c: read a key file (must be 0600). */
int witness__key_load(char name[256], uint8_t pk[32], uint8_t sk[64], const char *path);

/* witness_state.c */
/* Write data to DIR/SUB/NAME atomically: a temporary file in the same
 * folder, fsync, rename, fsync of the folder. */
int witness__write_atomic(const char *dir, const char *sub, const char *name, const void *data,
                          size_t len);
/* Create DIR, DIR/logs and DIR/evidence (0700) and lock DIR/lock. */
int witness__state_open(int *lock_fd, const char *dir);
/* Load a log's last cosigned checkpoint (DIR/logs/ID.checkpoint), if any. */
int witness__state_load(witness *w, witness_log *l);
/* Persist a newly cosigned checkpoint note for l. */
int witness__state_save(witness *w, const witness_log *l, const char *note, size_t len);
/* Keep a refused request as evidence: DIR/evidence/ID-SIZE-KIND-HASH.request
 * (the body as received) and .held (the checkpoint held then). */
int witness__evidence(witness *w, const witness_log *l, const char *kind, uint64_t size,
                      const char *body, size_t len);

#endif

/* Fuzz target: the witness's add-checkpoint path below HTTP
 * (witness/witness_core.c, docs/witness.md) on arbitrary request bodies:
 * witness_request_parse, then witness_add_checkpoint on a witness of the
 * audit vectors' log (key seed c0..df, origin libvault.test/vectors) with
 * its state in /tmp/fuzz-witness-*, removed at exit.
 *
 * Checks besides "no crash, no leak, no UB": the status is one of 200,
 * 400, 403, 404, 409, 413, 422; every answer is one line ending in a
 * newline; a 409 is the witness's size in decimal; a 200 is only given
 * for a body that parses, and its line verifies (af_cosignature_verify)
 * as the witness's cosignature of the request's checkpoint. */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/audit_cosign.h"
#include "audit/audit_format.h"
#include "fuzz_util.h"
#include "witness_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static witness *w;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    witness_close(w);
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t pk[32], sk[64];
    char key[128], state[128], vkey[AF_VKEY_MAX], wvkey[WITNESS_VKEY_MAX];
    const char *logs[1] = {vkey};
    witness_config cfg = {state, key, logs, 1};

    (void)argc;
    (void)argv;
    if (vault_init() < 0)
        abort();
    fuzz_vector_keypair(pk, sk);
    snprintf(dir, sizeof dir, "/tmp/fuzz-witness-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(key, sizeof key, "%s/w.key", dir);
    snprintf(state, sizeof state, "%s/state", dir);
    if (af_vkey_format(vkey, sizeof vkey, "libvault.test/vectors", AF_SIGTYPE_ED25519, pk) != 0 ||
        witness_key_generate(wvkey, sizeof wvkey, "witness.fuzz/w1", key) != 0 ||
        witness_open(&w, &cfg) != 0)
        abort();
    atexit(cleanup);
    return 0;
}

static int one_line(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && s[n - 1] == '\n' && memchr(s, '\n', n) == s + n - 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    witness_request q;
    witness_reply r;
    int parsed = witness_request_parse(&q, (const char *)data, size) == VAULT_OK;
    char *both;
    size_t i, blen;

    memset(&r, 0, sizeof r);
    witness_add_checkpoint(w, &r, (const char *)data, size, 1700000000);
    switch (r.status) {
    case 200: case 400: case 403: case 404: case 409: case 413: case 422: break;
    default: abort();
    }
    if (!one_line(r.body))
        abort();
    if (r.status == 409)
        for (i = 0; r.body[i] != '\n'; i++)
            if (r.body[i] < '0' || r.body[i] > '9')
                abort();
    if (r.status == 200) {
        if (!parsed)
            abort();
        blen = q.note_len + strlen(r.body);
        both = malloc(blen);
        if (!both)
            abort();
        memcpy(both, q.note, q.note_len);
        memcpy(both + q.note_len, r.body, strlen(r.body));
        if (af_cosignature_verify(NULL, both, blen, w->name, w->pk) != VAULT_OK)
            abort();
        free(both);
    }
    return 0;
}

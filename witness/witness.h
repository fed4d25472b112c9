/* witness: an independent C2SP tlog-witness for libvault's audit logs
 * (`vaultctl witness`, docs/witness.md).  It holds its own Ed25519 key and
 * state directory and needs no vault and no vault key.  Functions return
 * 0 or a negative VAULT_E* code with vault_error_last() set. */
#ifndef VAULT_WITNESS_H
#define VAULT_WITNESS_H

#include <stddef.h>
#include <stdint.h>

#define WITNESS_BODY_MAX 16384  /* add-checkpoint request bodies accepted */
#define WITNESS_LOGS_MAX 256    /* logs one witness follows */
#define WITNESS_VKEY_MAX 320    /* a verifier key's text, with its NUL */
#define WITNESS_REPLY_TEXT 512  /* a reply body */

/* ---- the key file (docs/witness.md "Key file") ---- */

/* Write a new key file at path (created new, 0600, never over a file or
 * through a symbolic link) for witness `name`, and its verifier key
 * name+keyid+base64(0x04 | pk) into vkey.  VAULT_EINVALID for a bad name,
 * VAULT_EEXISTS when path exists, VAULT_EIO on a write error. */
int witness_key_generate(char *vkey, size_t cap, const char *name, const char *path);
/* The verifier key of an existing key file. */
int witness_key_vkey(char *vkey, size_t cap, const char *path);

/* ---- the witness ---- */

typedef struct witness witness;

typedef struct witness_config {
    const char *state_dir;       /* created 0700 if missing */
    const char *key_file;        /* from witness_key_generate; must be 0600 */
    const char *const *logs;     /* verifier keys of the logs witnessed */
    size_t nlogs;
} witness_config;

/* Load the key and each log's last cosigned checkpoint from the state
 * directory, which is locked for this process (a second witness on the
 * same directory gets VAULT_EBUSY).  A state file that does not verify
 * with its log's key is VAULT_EINTEGRITY: the witness does not start. */
int witness_open(witness **out, const witness_config *cfg);
void witness_close(witness *w);
const char *witness_name(const witness *w);

/* One add-checkpoint request parsed (docs/witness.md "Request"); the note
 * points into the body.  VAULT_EINVALID with a one-line message. */
typedef struct witness_request {
    uint64_t old_size;
    uint8_t proof[63][32];
    size_t nproof;
    const char *note;
    size_t note_len;
} witness_request;
int witness_request_parse(witness_request *out, const char *body, size_t len);

typedef struct witness_reply {
    int status;                  /* HTTP status */
    const char *content_type;
    char body[WITNESS_REPLY_TEXT];
} witness_reply;

/* Answer one add-checkpoint body at POSIX time `now`: the checks of
 * docs/witness.md in order, the new state persisted before a 200.  Safe
 * from several threads: requests for one log are serialized.  Always
 * fills *r (a 500 when the state can't be written). */
void witness_add_checkpoint(witness *w, witness_reply *r, const char *body, size_t len,
                            uint64_t now);

/* ---- HTTP (libmicrohttpd) ---- */

typedef struct witness_http witness_http;
/* Listen on "HOST:PORT" ("[V6]:PORT"; port 0 picks one: witness_http_port
 * says which) and serve POST /add-checkpoint in threads of its own. */
int witness_http_start(witness_http **out, witness *w, const char *listen);
unsigned witness_http_port(const witness_http *h);
void witness_http_stop(witness_http *h);

/* ---- client side, for `vaultctl witness submit|verify` ---- */

/* Submit a checkpoint file's note with old size and proof text (base64
 * hashes, one a line; may be NULL) to the witness at url whose verifier
 * key is wvkey: witness_submit (libvault/audit/witness_client.h) with its
 * errors; *out_line malloc'ed. */
int witness_submit_text(char **out_line, uint64_t *out_size, const char *url, const char *wvkey,
                        uint64_t old_size, const char *proof_text, size_t proof_len,
                        const char *note, size_t note_len);
/* Verify the cosignature of the witness wvkey in a note (the checkpoint
 * with cosignature lines appended): af_cosignature_verify. */
int witness_note_verify(uint64_t *out_time, const char *note, size_t len, const char *wvkey);

#endif

/* config: vaultd's configuration file (YAML), parsed and checked.
 * The format is documented in docs/service.md ("Configuration"). */
#ifndef VAULTD_CONFIG_H
#define VAULTD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How vaultd unlocks its vault at start. */
#define VD_UNLOCK_KEYFILE 1 /* unlock.key_file: a key file (vault_keyfile_generate) */
#define VD_UNLOCK_PROMPT 2  /* unlock.passphrase: prompt (no echo, on the terminal) */
#define VD_UNLOCK_FD 3      /* unlock.fd: N: a passphrase read from an inherited descriptor */

/* A transport identity and the app name it authenticates as. */
typedef struct vd_client {
    char *app;             /* an app of the policy's apps: section */
    int has_uid;           /* Unix socket: the peer's uid (SO_PEERCRED) */
    uid_t uid;
    char *tls_cn;          /* TLS: subject CN of a certificate that chains to client_ca */
    int has_fp;            /* TLS: or the certificate's SHA-256 fingerprint, pinned */
    uint8_t fp[32];
    unsigned line;
} vd_client;

/* A pinned identity-token issuer (docs/tokens.md). */
typedef struct vd_issuer {
    char *name;            /* a label for messages */
    char *iss;             /* the token's required iss */
    char *audience;        /* the required aud */
    char *key;             /* "ed25519:<base64>", or the path of a PEM public key (ES256) */
    char *kid;             /* optional */
    char *claim_user, *claim_role, *claim_department, *claim_jurisdiction;
    int64_t max_lifetime;  /* longest exp - iat accepted, seconds (0: no bound) */
    unsigned line;
} vd_issuer;

/* A witness vaultd submits checkpoints to (audit.witnesses). */
typedef struct vd_witness {
    char *key;             /* its verifier key: must be one the vault's policy pins */
    char *url;             /* its tlog-witness URL (http:// or https://) */
    unsigned line, col;    /* of the key, for the refusal at start */
} vd_witness;

typedef struct vd_config {
    char *file;            /* the configuration file's path, for messages */
    char *vault;           /* the vault's location */
    int unlock;            /* VD_UNLOCK_* */
    char *unlock_key_file;
    int unlock_fd;
    char *unix_path;       /* listen.unix */
    unsigned unix_mode;    /* listen.unix_mode, default 0660 */
    char *tls_host;        /* listen.tls.address host part ("" = all) */
    uint16_t tls_port;     /* 0 = no TLS listener */
    char *tls_cert, *tls_key, *tls_client_ca;
    char *tls_crl;         /* listen.tls.crl: revoked app certificates (PEM), or NULL */
    vd_client *clients;
    size_t nclients;
    vd_issuer *issuers;
    size_t nissuers;
    int64_t clock_skew;     /* seconds, default 60 */
    size_t max_body;        /* bytes, default 1 MiB */
    size_t max_import_body; /* bytes, default 64 MiB */
    unsigned workers;       /* vault handles and request threads, default 4 */
    unsigned max_connections; /* default 256 */
    unsigned max_connections_per_ip; /* TLS, default 64 */
    unsigned request_timeout; /* seconds a connection may idle, default 30 */
    int allow_db_key;         /* service.db_key: true enables the db-key route */
    char *audit_pubkey;       /* audit.pubkey: the pinned checkpoint key, or NULL */
    vd_witness *witnesses;    /* audit.witnesses */
    size_t nwitnesses;
    int64_t witness_retry;    /* audit.witness_retry, seconds, default 30 */
    int64_t witness_timeout;  /* audit.witness_timeout, seconds, default 5 */
    char *alarm_command;      /* alarms.command: run for each alarm (NULL: none) */
    int64_t alarm_timeout;    /* alarms.timeout, seconds, default 10 */
    char *alarm_webhook;      /* alarms.webhook: URL each alarm is POSTed to (NULL: none) */
    char *alarm_webhook_ca;   /* alarms.webhook_ca: CA bundle for it (NULL: the system's) */
    int64_t retention_every;  /* retention.every, seconds, default 86400; 0: off */
} vd_config;

/* A file vaultd trusts (its configuration, issuer keys, TLS files): a
 * regular file that no one but its owner may write, owned by root or by
 * vaultd's own user.  0, or -1 with "WHAT: PATH: ..." in err. */
int vd_file_trusted(int fd, const char *path, const char *what, char *err, size_t err_cap);

/* Parse and check `path`.  On failure returns -1 and writes one line
 * "FILE:LINE:COL: message" (or "FILE: message") into err. */
int vd_config_load(vd_config **out, const char *path, char *err, size_t err_cap);
void vd_config_free(vd_config *c);

/* "1MiB", "512KiB", "4096" -> bytes; "30s", "2m", "1h" -> seconds.  0 on
 * success, -1 if malformed or out of range. */
int vd_parse_size(size_t *out, const char *text);
int vd_parse_seconds(int64_t *out, const char *text);

#endif

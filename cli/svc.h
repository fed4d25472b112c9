/* Running a vaultd next to a program that uses it: the demo's service part
 * (cmd_demo.c) and the benchmark's service section (bench/service.c).
 * Child processes only (posix_spawn): vaultd, `vaultctl token`, certtool.
 * Every function returns 0 or -1 with a one-line message in err (never a
 * token or a key). */
#ifndef VAULTCTL_SVC_H
#define VAULTCTL_SVC_H

#include <stddef.h>
#include <sys/types.h>

#define SVC_ERR_MAX 512
#define SVC_TOKEN_MAX 8192 /* docs/tokens.md TOKEN_MAX */

/* One entry of the config's clients: exactly one of uid (>= 0) and tls_cn. */
typedef struct svc_client {
    const char *app;
    long uid;           /* -1: none */
    const char *tls_cn; /* NULL: none */
} svc_client;

/* What svc_config_write puts in a vaultd config (docs/service.md). */
typedef struct svc_config {
    const char *vault, *key_file;
    const char *unix_path;          /* required */
    int tls_port;                   /* 0: no TLS; else 127.0.0.1:PORT with certs from tls_dir */
    const char *tls_dir;            /* server.crt, server.key, ca.crt (svc_certs) */
    const svc_client *clients;
    size_t nclients;
    const char *issuer_name, *iss, *aud, *issuer_pub; /* one development issuer */
    unsigned workers;               /* 0: vaultd's default */
} svc_config;

/* Run argv[0] (found on PATH) with argv, stdin from /dev/null; its
 * standard output goes to out (cap bytes, NUL-terminated, trailing white
 * space dropped; out may be NULL), the last line of its standard error to
 * err when it fails.  0 when it exited 0. */
int svc_run(char *out, size_t cap, char *err, size_t errcap, const char *const *argv);

/* A CA (DIR/ca.crt, ca.key), a server certificate for localhost and
 * 127.0.0.1 signed by it (server.crt, server.key), and one TLS client
 * certificate per name with that subject CN (NAME.crt, NAME.key), by
 * GnuTLS's certtool (Debian gnutls-bin), ECDSA P-256, valid two days. */
int svc_certs(const char *dir, const char *const *clients, size_t n, char *err, size_t errcap);

/* A free TCP port on 127.0.0.1 (bound, read, closed: another process
 * could take it before vaultd does; fine for a demo or a bench). */
int svc_free_port(int *port, char *err, size_t errcap);

/* Write the config file (mode 0600); paths are written as YAML
 * double-quoted scalars. */
int svc_config_write(const char *path, const svc_config *c, char *err, size_t errcap);

/* `vaultctl token keygen --out KEY`: the public key ("ed25519:...") into pub. */
int svc_keygen(char *pub, size_t cap, const char *vaultctl, const char *key, char *err,
               size_t errcap);

/* `vaultctl token issue`: a development token (docs/tokens.md) into tok
 * (SVC_TOKEN_MAX bytes). */
int svc_token(char *tok, size_t cap, const char *vaultctl, const char *key, const char *iss,
              const char *aud, const char *sub, const char *role, const char *dept,
              const char *jurisdiction, char *err, size_t errcap);

/* Start `vaultd --config CONFIG`, its output appended to LOG, and wait
 * (at most timeout_s seconds) until it says READY=1 on a notify socket in
 * DIR (sd_notify's NOTIFY_SOCKET protocol, as under systemd).  A vaultd
 * that exits or is not ready in time fails with the last line of its log;
 * it is then stopped. */
int svc_start(pid_t *out_pid, const char *vaultd, const char *config, const char *log,
              const char *dir, int timeout_s, char *err, size_t errcap);

/* SIGTERM, then wait (20 s, then SIGKILL): vaultd's exit status, or -1. */
int svc_stop(pid_t pid);

#endif

/* Running a vaultd for the demo and the benchmark (svc.h). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "svc.h"

extern char **environ;

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static int join(char *out, size_t cap, const char *dir, const char *name, const char *ext)
{
    return (size_t)snprintf(out, cap, "%s/%s%s", dir, name, ext) < cap ? 0 : -1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Keep the last non-empty line of buf (len bytes) in out. */
static void last_line(char *out, size_t cap, const char *buf, size_t len)
{
    size_t end = len, start;

    while (end && (buf[end - 1] == '\n' || buf[end - 1] == '\r' || buf[end - 1] == ' '))
        end--;
    start = end;
    while (start && buf[start - 1] != '\n')
        start--;
    snprintf(out, cap, "%.*s", (int)(end - start), buf + start);
}

int svc_run(char *out, size_t cap, char *err, size_t errcap, const char *const *argv)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1}, rc = -1, status = 0, open_fds = 2;
    char ebuf[2048], scratch[4096];
    size_t olen = 0, elen = 0;
    posix_spawn_file_actions_t fa;
    pid_t pid = -1;
    int fa_ok = 0;

    if (pipe(po) != 0 || pipe(pe) != 0) {
        fail(err, errcap, "%s: pipe: %s", argv[0], strerror(errno));
        goto cleanup;
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        fail(err, errcap, "%s: out of memory", argv[0]);
        goto cleanup;
    }
    fa_ok = 1;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawn_file_actions_addclose(&fa, po[0]);
    posix_spawn_file_actions_addclose(&fa, pe[0]);
    if ((errno = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ)) != 0) {
        fail(err, errcap, "cannot run %s: %s", argv[0], strerror(errno));
        pid = -1;
        goto cleanup;
    }
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;
    while (open_fds > 0) {
        struct pollfd p[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
        ssize_t n;
        int i;
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (i = 0; i < 2; i++) {
            char *dst = scratch;
            size_t room = sizeof scratch, *used = NULL;
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (i == 0 && out && olen + 1 < cap)
                dst = out + olen, room = cap - 1 - olen, used = &olen;
            else if (i == 1 && elen + 1 < sizeof ebuf)
                dst = ebuf + elen, room = sizeof ebuf - 1 - elen, used = &elen;
            n = read(p[i].fd, dst, room); /* beyond the buffers: read and dropped */
            if (n > 0 && used)
                *used += (size_t)n;
            if (n == 0 || (n < 0 && errno != EINTR)) {
                close(p[i].fd);
                if (i == 0)
                    po[0] = -1;
                else
                    pe[0] = -1;
                open_fds--;
            }
        }
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    if (out) {
        out[olen] = '\0';
        while (olen && (out[olen - 1] == '\n' || out[olen - 1] == ' ' || out[olen - 1] == '\r'))
            out[--olen] = '\0';
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char line[400];
        last_line(line, sizeof line, ebuf, elen);
        fail(err, errcap, "%s failed (exit %d)%s%s", argv[0],
             WIFEXITED(status) ? WEXITSTATUS(status) : -1, line[0] ? ": " : "", line);
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (pid > 0)
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    if (po[0] >= 0)
        close(po[0]);
    if (po[1] >= 0)
        close(po[1]);
    if (pe[0] >= 0)
        close(pe[0]);
    if (pe[1] >= 0)
        close(pe[1]);
    return rc;
}

static int write_file(const char *path, const char *text, char *err, size_t errcap)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    size_t len = strlen(text), off = 0;
    ssize_t n;

    if (fd < 0)
        return fail(err, errcap, "%s: %s", path, strerror(errno));
    while (off < len) {
        n = write(fd, text + off, len - off);
        if (n <= 0 && errno != EINTR) {
            close(fd);
            return fail(err, errcap, "%s: write: %s", path, strerror(errno));
        }
        if (n > 0)
            off += (size_t)n;
    }
    if (close(fd) != 0)
        return fail(err, errcap, "%s: %s", path, strerror(errno));
    return 0;
}

/* certtool --generate-privkey, then a self-signed (ca == NULL) or
 * CA-signed certificate from the template text. */
static int certtool(const char *dir, const char *name, const char *tpl_text, const char *ca,
                    char *err, size_t errcap)
{
    char key[1024], crt[1024], tpl[1024], cakey[1024], cacrt[1024];

    if (join(key, sizeof key, dir, name, ".key") || join(crt, sizeof crt, dir, name, ".crt") ||
        join(tpl, sizeof tpl, dir, name, ".tpl") ||
        join(cakey, sizeof cakey, dir, ca ? ca : "", ".key") ||
        join(cacrt, sizeof cacrt, dir, ca ? ca : "", ".crt"))
        return fail(err, errcap, "%s: path too long", dir);
    if (write_file(tpl, tpl_text, err, errcap) < 0)
        return -1;
    {
        const char *const gen[] = {"certtool", "--generate-privkey", "--key-type=ecdsa",
                                   "--curve=secp256r1", "--outfile", key, NULL};
        if (svc_run(NULL, 0, err, errcap, gen) < 0)
            return -1;
    }
    if (!ca) {
        const char *const self[] = {"certtool", "--generate-self-signed", "--load-privkey", key,
                                    "--template", tpl, "--outfile", crt, NULL};
        return svc_run(NULL, 0, err, errcap, self);
    } else {
        const char *const sign[] = {"certtool", "--generate-certificate", "--load-privkey", key,
                                    "--load-ca-certificate", cacrt, "--load-ca-privkey", cakey,
                                    "--template", tpl, "--outfile", crt, NULL};
        return svc_run(NULL, 0, err, errcap, sign);
    }
}

int svc_certs(const char *dir, const char *const *clients, size_t n, char *err, size_t errcap)
{
    char tpl[512];
    size_t i;

    if (certtool(dir, "ca", "cn = \"libvault demo CA\"\nca\ncert_signing_key\nexpiration_days = 2\n",
                 NULL, err, errcap) < 0 ||
        certtool(dir, "server",
                 "cn = \"localhost\"\ndns_name = \"localhost\"\nip_address = \"127.0.0.1\"\n"
                 "tls_www_server\nexpiration_days = 2\n",
                 "ca", err, errcap) < 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (strpbrk(clients[i], "\"\\\n") ||
            (size_t)snprintf(tpl, sizeof tpl, "cn = \"%s\"\ntls_www_client\nexpiration_days = 2\n",
                             clients[i]) >= sizeof tpl)
            return fail(err, errcap, "bad client certificate name");
        if (certtool(dir, clients[i], tpl, "ca", err, errcap) < 0)
            return -1;
    }
    return 0;
}

int svc_free_port(int *port, char *err, size_t errcap)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return fail(err, errcap, "socket: %s", strerror(errno));
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return fail(err, errcap, "cannot find a free port on 127.0.0.1: %s", strerror(errno));
    }
    *port = ntohs(a.sin_port);
    close(fd);
    return 0;
}

/* A YAML double-quoted scalar; no control characters. */
static int yq(char *out, size_t cap, const char *s)
{
    size_t o = 0;

    if (cap < 3)
        return -1;
    out[o++] = '"';
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f || o + 4 >= cap)
            return -1;
        if (*s == '"' || *s == '\\')
            out[o++] = '\\';
        out[o++] = *s;
    }
    out[o++] = '"';
    out[o] = '\0';
    return 0;
}

int svc_config_write(const char *path, const svc_config *c, char *err, size_t errcap)
{
    char text[16384], q[4][2100], p[1100];
    size_t n = 0, i;
    int w;

#define ADD(...)                                                          \
    do {                                                                  \
        w = snprintf(text + n, sizeof text - n, __VA_ARGS__);             \
        if (w < 0 || (size_t)w >= sizeof text - n)                        \
            return fail(err, errcap, "%s: config too long", path);        \
        n += (size_t)w;                                                   \
    } while (0)
    if (yq(q[0], sizeof q[0], c->vault) || yq(q[1], sizeof q[1], c->key_file) ||
        yq(q[2], sizeof q[2], c->unix_path) || yq(q[3], sizeof q[3], c->issuer_pub))
        return fail(err, errcap, "%s: a path is too long or holds control characters", path);
    ADD("# written by %s for this run only\nvault: %s\nunlock:\n  key_file: %s\n", "libvault",
        q[0], q[1]);
    ADD("listen:\n  unix: %s\n  unix_mode: 0600\n", q[2]);
    if (c->tls_port) {
        ADD("  tls:\n    address: 127.0.0.1:%d\n", c->tls_port);
        if (join(p, sizeof p, c->tls_dir, "server", ".crt") || yq(q[0], sizeof q[0], p))
            return fail(err, errcap, "%s: path too long", path);
        ADD("    cert: %s\n", q[0]);
        if (join(p, sizeof p, c->tls_dir, "server", ".key") || yq(q[0], sizeof q[0], p))
            return fail(err, errcap, "%s: path too long", path);
        ADD("    key: %s\n", q[0]);
        if (join(p, sizeof p, c->tls_dir, "ca", ".crt") || yq(q[0], sizeof q[0], p))
            return fail(err, errcap, "%s: path too long", path);
        ADD("    client_ca: %s\n", q[0]);
    }
    ADD("clients:\n");
    for (i = 0; i < c->nclients; i++) {
        if (c->clients[i].uid >= 0)
            ADD("  - app: %s\n    unix_uid: %ld\n", c->clients[i].app, c->clients[i].uid);
        else
            ADD("  - app: %s\n    tls_cn: %s\n", c->clients[i].app, c->clients[i].tls_cn);
    }
    ADD("issuers:\n  - name: %s\n    iss: %s\n    audience: %s\n    key: %s\n", c->issuer_name,
        c->iss, c->aud, q[3]);
    if (c->workers)
        ADD("limits:\n  workers: %u\n", c->workers);
#undef ADD
    unlink(path); /* a config of an earlier run in a kept directory */
    return write_file(path, text, err, errcap);
}

int svc_keygen(char *pub, size_t cap, const char *vaultctl, const char *key, char *err,
               size_t errcap)
{
    const char *const argv[] = {vaultctl, "token", "keygen", "--out", key, NULL};
    char out[1024], *p, *e;

    if (svc_run(out, sizeof out, err, errcap, argv) < 0)
        return -1;
    if (!(p = strstr(out, "ed25519:")))
        return fail(err, errcap, "token keygen printed no ed25519: key");
    e = p + strcspn(p, " \t\r\n");
    if ((size_t)(e - p) >= cap)
        return fail(err, errcap, "token keygen: key too long");
    memcpy(pub, p, (size_t)(e - p));
    pub[e - p] = '\0';
    return 0;
}

int svc_token(char *tok, size_t cap, const char *vaultctl, const char *key, const char *iss,
              const char *aud, const char *sub, const char *role, const char *dept,
              const char *jurisdiction, char *err, size_t errcap)
{
    const char *const argv[] = {vaultctl, "token", "issue", "--issuer-key", key, "--iss", iss,
                                "--aud", aud, "--sub", sub, "--role", role, "--dept", dept,
                                "--jurisdiction", jurisdiction, "--ttl", "1h", NULL};

    if (svc_run(tok, cap, err, errcap, argv) < 0)
        return -1;
    if (strchr(tok, '\n') || strlen(tok) + 1 >= cap || !strchr(tok, '.'))
        return fail(err, errcap, "token issue printed something that is not one token");
    return 0;
}

/* The last line of vaultd's log, for a start that failed. */
static void log_tail(char *out, size_t cap, const char *log)
{
    char buf[4096];
    FILE *f = fopen(log, "r");
    long size;
    size_t n = 0;

    out[0] = '\0';
    if (!f)
        return;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0)
        fseek(f, size > (long)sizeof buf ? size - (long)sizeof buf : 0, SEEK_SET);
    else
        rewind(f);
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    last_line(out, cap, buf, n);
}

int svc_start(pid_t *out_pid, const char *vaultd, const char *config, const char *log,
              const char *dir, int timeout_s, char *err, size_t errcap)
{
    char notify[sizeof(((struct sockaddr_un *)0)->sun_path)], envbuf[200], tail[400], msg[256];
    const char *const argv[] = {vaultd, "--config", config, NULL};
    struct sockaddr_un a;
    posix_spawn_file_actions_t fa;
    char **env = NULL;
    size_t ne = 0, i;
    int fd = -1, rc = -1, status, fa_ok = 0, waited = 0, ready = 0;
    pid_t pid = -1;
    ssize_t got;

    *out_pid = -1;
    if (access(vaultd, X_OK) != 0)
        return fail(err, errcap, "vaultd not found at %s (%s)", vaultd, strerror(errno));
    if ((size_t)snprintf(notify, sizeof notify, "%s/notify.sock", dir) >= sizeof notify)
        return fail(err, errcap, "%s: path too long for a socket", dir);
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    memcpy(a.sun_path, notify, strlen(notify) + 1);
    unlink(notify);
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fail(err, errcap, "notify socket %s: %s", notify, strerror(errno));
        goto cleanup;
    }
    for (ne = 0; environ[ne]; ne++)
        ;
    if (!(env = calloc(ne + 2, sizeof *env))) {
        fail(err, errcap, "out of memory");
        goto cleanup;
    }
    for (i = 0, ne = 0; environ[i]; i++)
        if (strncmp(environ[i], "NOTIFY_SOCKET=", 14) != 0)
            env[ne++] = environ[i];
    snprintf(envbuf, sizeof envbuf, "NOTIFY_SOCKET=%s", notify);
    env[ne++] = envbuf;
    env[ne] = NULL;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        fail(err, errcap, "out of memory");
        goto cleanup;
    }
    fa_ok = 1;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if ((errno = posix_spawn(&pid, vaultd, &fa, NULL, (char *const *)argv, env)) != 0) {
        fail(err, errcap, "cannot start %s: %s", vaultd, strerror(errno));
        pid = -1;
        goto cleanup;
    }
    for (i = 0; i < (size_t)timeout_s * 10 && !ready; i++) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) > 0 && (got = recv(fd, msg, sizeof msg - 1, 0)) > 0) {
            msg[got] = '\0';
            ready = strstr(msg, "READY=1") != NULL;
        }
        if (!ready && waitpid(pid, &status, WNOHANG) == pid) {
            waited = 1;
            log_tail(tail, sizeof tail, log);
            fail(err, errcap, "vaultd exited (%d) before it was ready: %s",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, tail);
            goto cleanup;
        }
    }
    if (!ready) {
        log_tail(tail, sizeof tail, log);
        fail(err, errcap, "vaultd was not ready after %d s: %s", timeout_s, tail);
        goto cleanup;
    }
    *out_pid = pid;
    rc = 0;
cleanup:
    if (rc < 0 && pid > 0 && !waited)
        svc_stop(pid);
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    free(env);
    if (fd >= 0)
        close(fd);
    unlink(notify);
    return rc;
}

int svc_stop(pid_t pid)
{
    int status = 0, i;
    pid_t w;

    if (pid <= 0 || kill(pid, SIGTERM) != 0)
        return -1;
    for (i = 0; i < 400; i++) {
        w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (w < 0 && errno != EINTR)
            return -1;
        sleep_ms(50);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return -1;
}

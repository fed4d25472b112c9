/* vaultd: the vault as a service (docs/service.md).  Unlocks one vault at
 * start, holds its keys (in libvault's guarded memory, in this process
 * only), and serves apps over a Unix socket and TLS 1.3 with client
 * certificates; every request is authenticated twice (the app by its
 * transport, the person by a signed identity token). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <systemd/sd-daemon.h>

#include "server.h"

#define PASSPHRASE_MAX 1024

/* The --help text: generated from server/vaultd.help (tools/gen_help.py). */
extern const char vaultd_usage[];

/* No core dumps and no ptrace by other users' processes: the keys live here. */
static int harden(char *err, size_t cap)
{
    struct rlimit none = {0, 0};

    if (setrlimit(RLIMIT_CORE, &none) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        snprintf(err, cap, "cannot disable core dumps: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Read a passphrase: from an inherited descriptor, or from the terminal
 * without echo.  Into sodium_malloc'ed memory. */
static int read_passphrase(char **out, size_t *out_len, int fd, int prompt, char *err, size_t cap)
{
    char *buf = sodium_malloc(PASSPHRASE_MAX + 1);
    size_t n = 0;
    ssize_t got;
    struct termios old, quiet;
    int tty = -1, restore = 0;

    if (!buf) {
        snprintf(err, cap, "out of secure memory");
        return -1;
    }
    if (prompt) {
        tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
        if (tty < 0) {
            snprintf(err, cap, "unlock.passphrase: prompt needs a terminal (use unlock.fd "
                               "under a supervisor)");
            sodium_free(buf);
            return -1;
        }
        if (write(tty, "vaultd: passphrase: ", 20) < 0) { /* best effort */
        }
        if (tcgetattr(tty, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
            quiet.c_lflag |= ICANON;
            restore = tcsetattr(tty, TCSAFLUSH, &quiet) == 0;
        }
        fd = tty;
    }
    while (n < PASSPHRASE_MAX) {
        got = read(fd, buf + n, PASSPHRASE_MAX - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
        if (prompt && memchr(buf, '\n', n))
            break;
    }
    if (restore)
        tcsetattr(tty, TCSAFLUSH, &old);
    if (tty >= 0) {
        if (write(tty, "\n", 1) < 0) { /* best effort */
        }
        close(tty);
    } else {
        close(fd); /* the supervisor's descriptor has served its purpose */
    }
    if (prompt) {
        char *nl = memchr(buf, '\n', n);
        if (nl)
            n = (size_t)(nl - buf);
    } else if (n && buf[n - 1] == '\n') {
        n--;
    }
    if (n && buf[n - 1] == '\r')
        n--;
    if (n == 0 || n >= PASSPHRASE_MAX) {
        snprintf(err, cap, "unlock: %s", n ? "passphrase longer than 1023 bytes" : "empty passphrase");
        sodium_free(buf);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return 0;
}

static int unlock(vault **v, const vd_config *cfg, char *err, size_t cap)
{
    vault_secret sec = VAULT_SECRET_INIT;
    char *pass = NULL;
    size_t plen = 0;
    int rc;

    sec = (vault_secret)VAULT_SECRET_INIT;
    if (cfg->unlock == VD_UNLOCK_KEYFILE) {
        sec.kind = VAULT_UNLOCK_KEYFILE;
        sec.data = cfg->unlock_key_file;
    } else {
        if (read_passphrase(&pass, &plen, cfg->unlock_fd, cfg->unlock == VD_UNLOCK_PROMPT, err,
                            cap) < 0)
            return VAULT_EAUTH;
        sec.kind = VAULT_UNLOCK_PASSPHRASE;
        sec.data = pass;
        sec.len = plen;
    }
    rc = vault_open(v, cfg->vault, &sec);
    if (pass)
        sodium_free(pass);
    if (rc != VAULT_OK) {
        char shown[256]; /* a PostgreSQL location's password is never logged */
        if (vault_location_shown(shown, sizeof shown, cfg->vault) < 0)
            snprintf(shown, sizeof shown, "(vault)");
        snprintf(err, cap, "%s: %s", shown, vault_error_last());
    }
    return rc;
}

static int exit_code(int rc)
{
    return rc == VAULT_EINTEGRITY ? 3 : rc == VAULT_EAUTH ? 6 : 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"check-config", no_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"routes", no_argument, NULL, 'R'},
                                         {0, 0, 0, 0}};
    const char *config = NULL;
    int check = 0, opt, rc, sig = 0, status = 1;
    char err[512] = "", shown[1024];
    vd_server srv;
    vault *v = NULL;
    sigset_t stop;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'k': check = 1; break;
        case 'h': fputs(vaultd_usage, stdout); return 0;
        case 'V': printf("vaultd %s\n", vault_version_string()); return 0;
        case 'R':
            for (size_t i = 0; i < vd_nroutes; i++)
                printf("%s %s %s\n", vd_routes[i].method, vd_routes[i].path,
                       (vd_routes[i].officer & VAULT_PRINCIPAL_DATA_OFFICER) ? "data_officer"
                       : (vd_routes[i].officer & VAULT_PRINCIPAL_AUDITOR)    ? "auditor"
                       : vd_routes[i].officer                              ? "officer"
                                                                           : "-");
            return 0;
        default: fputs(vaultd_usage, stderr); return 2;
        }
    }
    if (!config || optind != argc) {
        fprintf(stderr, "vaultd: %s\n%s", config ? "unexpected argument" : "--config FILE is required",
                vaultd_usage);
        return 2;
    }
    memset(&srv, 0, sizeof srv);
    if (harden(err, sizeof err) < 0) {
        fprintf(stderr, "vaultd: %s\n", err);
        return 1;
    }
    if (vault_init() != VAULT_OK) {
        fprintf(stderr, "vaultd: %s\n", vault_error_last());
        return 1;
    }
    if (vd_config_load(&srv.cfg, config, err, sizeof err) < 0) {
        fprintf(stderr, "vaultd: %s\n", err);
        return 1;
    }
    if (vd_auth_issuers_load(&srv, err, sizeof err) < 0) {
        fprintf(stderr, "vaultd: %s\n", err);
        goto cleanup;
    }
    if (check) {
        printf("vaultd: %s: ok\n", config);
        status = 0;
        goto cleanup;
    }
    /* Stop signals are taken by sigwait below, in this thread only. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&srv.mlock, NULL);
    srv.started = (int64_t)time(NULL);
    rc = unlock(&v, srv.cfg, err, sizeof err);
    if (rc != VAULT_OK) {
        fprintf(stderr, "vaultd: %s\n", err);
        status = exit_code(rc);
        goto cleanup;
    }
    /* The configured audit key must be the vault's (docs/service.md): a
     * store whose key was replaced is refused before anything is served. */
    if (srv.cfg->audit_pubkey) {
        char key[VAULT_PUBKEY_SIZE];
        if ((rc = vault_audit_pin(v, srv.cfg->audit_pubkey)) != VAULT_OK ||
            (rc = vault_audit_pubkey(key, sizeof key, v)) != VAULT_OK) {
            fprintf(stderr, "vaultd: %s: audit.pubkey: %s\n", srv.cfg->file, vault_error_last());
            status = exit_code(rc);
            vault_close(v);
            goto cleanup;
        }
    }
    /* Every audit.witnesses key must be one the policy pins. */
    if (vd_witness_check(&srv, v, err, sizeof err) < 0) {
        fprintf(stderr, "vaultd: %s\n", err);
        vault_close(v);
        goto cleanup;
    }
    /* vaultd submits from its own thread, to audit.witnesses only. */
    if (vault_set_witness_auto(v, 0) != VAULT_OK || vault_set_actor(v, "vaultd") != VAULT_OK ||
        vd_pool_open(&srv.pool, v, srv.cfg->workers, err, sizeof err) < 0) {
        fprintf(stderr, "vaultd: %s\n", err[0] ? err : vault_error_last());
        if (!srv.pool.n)
            vault_close(v);
        goto cleanup;
    }
    /* Alarms (quota over: alert) to the journal, alarms.command and
     * alarms.webhook (alarm.c); libcurl starts before any thread uses it. */
    if (vd_alarm_init(srv.cfg, err, sizeof err) < 0) {
        fprintf(stderr, "vaultd: %s\n", err);
        goto cleanup;
    }
    for (size_t i = 0; i < srv.pool.n; i++)
        if (vault_set_alarm(srv.pool.v[i], vd_alarm, srv.cfg) != VAULT_OK) {
            fprintf(stderr, "vaultd: %s\n", vault_error_last());
            goto cleanup;
        }
    srv.pool.alarm_fn = vd_alarm; /* and every handle that replaces one */
    srv.pool.alarm_arg = srv.cfg;
    for (size_t i = 1; i < srv.pool.n; i++)
        if (vault_set_witness_auto(srv.pool.v[i], 0) != VAULT_OK) {
            fprintf(stderr, "vaultd: %s\n", vault_error_last());
            goto cleanup;
        }
    if (vd_witness_start(&srv, v, err, sizeof err) < 0) {
        fprintf(stderr, "vaultd: %s\n", err);
        goto cleanup;
    }
    if (vd_retention_start(&srv, v, err, sizeof err) < 0) {
        fprintf(stderr, "vaultd: %s\n", err);
        goto cleanup;
    }
    if (vd_http_start(&srv, err, sizeof err) < 0) {
        fprintf(stderr, "vaultd: %s\n", err);
        goto cleanup;
    }
    sd_notify(0, "READY=1\nSTATUS=serving");
    if (vault_location_shown(shown, sizeof shown, srv.cfg->vault) < 0)
        snprintf(shown, sizeof shown, "(vault)");
    fprintf(stderr, "vaultd: serving %s%s%s%s (%u workers)\n", shown,
            srv.cfg->unix_path ? " on unix:" : "", srv.cfg->unix_path ? srv.cfg->unix_path : "",
            srv.cfg->tls_port ? " and TLS" : "", srv.cfg->workers);
    /* SIGHUP reloads the revocation list (listen.tls.crl); the policy
     * reloads itself from the store. */
    while (sigwait(&stop, &sig) == 0 && sig == SIGHUP) {
        if (vd_http_load_crl(srv.cfg, err, sizeof err) < 0)
            fprintf(stderr, "vaultd: SIGHUP: %s (the revocation list in force is kept)\n", err);
        else if (srv.cfg->tls_crl)
            fprintf(stderr, "vaultd: SIGHUP: revocation list %s reloaded\n", srv.cfg->tls_crl);
    }
    sd_notify(0, "STOPPING=1");
    fprintf(stderr, "vaultd: stopping (signal %d)\n", sig);
    status = 0;
cleanup:
    vd_http_stop();
    vd_witness_stop();
    vd_retention_stop();
    vd_pool_close(&srv.pool);
    vd_witness_finish();
    vd_auth_issuers_free(&srv);
    vd_config_free(srv.cfg);
    return status;
}

/* http: libmicrohttpd glue (docs/service.md "Transport").  Two daemons:
 * one on a Unix socket (the app is the peer's uid), one over TLS 1.3 with
 * client certificates (the app is the certificate).  A request's body is
 * collected up to its route's limit, parsed as one JSON object, and passed
 * with the authenticated caller to the route's handler on a vault handle
 * from the pool.  Errors are {"error": {"code", "message"}} with one line. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <sodium.h>

#include "server.h"

static struct MHD_Daemon *unix_daemon, *tls_daemon;
static int unix_fd = -1;
static char *unix_path; /* the socket this process made, removed at stop */
static char *tls_mem_cert, *tls_mem_key, *tls_mem_ca;

/* Per-connection-request state, from the first call to completion. */
typedef struct conn_ctx {
    const vd_route *route;
    vd_caller who;       /* authenticated at the first call, before any body */
    char *body;
    size_t len, cap, limit;
    int refused;         /* a response was queued early (size, route) */
    int too_big;         /* the body ran past the limit: answer 413 at its end */
    size_t declared;     /* Content-Length, when given (bounded by limit) */
    char refusal[300];   /* not authenticated: the 401's message, sent at the end */
    size_t discarded;
} conn_ctx;

#define DISCARD_MAX ((size_t)1 << 20)

/* ---- responses ---- */

static void json_buffer_free(void *p)
{
    json_malloc_t m;
    json_free_t f;

    json_get_alloc_funcs(&m, &f);
    f(p); /* libvault's jansson allocator wipes before it frees */
}

static void wiped_free(void *p)
{
    if (p) {
        sodium_memzero(p, strlen(p));
        free(p);
    }
}

static enum MHD_Result send_text(struct MHD_Connection *c, int status, char *text,
                                 void (*freefn)(void *), const char *type)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer_with_free_callback(strlen(text), text, freefn);
    if (!resp) {
        freefn(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (status == 503)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, int status, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(doc);
    if (!text)
        return MHD_NO;
    return send_text(c, status, text, json_buffer_free, "application/json");
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *code,
                                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *code,
                                  const char *fmt, ...)
{
    char msg[320];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return send_json(c, status,
                     json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

/* ---- who is on the other end (the transport layer of auth) ---- */

static int unix_peer(vd_caller *who, vd_server *srv, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct ucred cred;
    socklen_t len = sizeof cred;
    size_t i;

    if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return -1;
    snprintf(who->peer, sizeof who->peer, "unix:uid=%u,pid=%d", (unsigned)cred.uid,
             (int)cred.pid);
    for (i = 0; i < srv->cfg->nclients; i++) {
        const vd_client *cl = &srv->cfg->clients[i];
        if (cl->has_uid && cl->uid == cred.uid) {
            snprintf(who->app, sizeof who->app, "%s", cl->app);
            return 0;
        }
    }
    return -1;
}

static void addr_text(char *out, size_t cap, const struct sockaddr *sa)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(out, cap, "tls:%s:%u", host, port);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(out, cap, "tls:[%s]:%u", host, port);
    } else {
        snprintf(out, cap, "tls:?");
    }
}

/* ---- revoked app certificates (listen.tls.crl) ---- */

static pthread_mutex_t crl_lock = PTHREAD_MUTEX_INITIALIZER;
static gnutls_x509_crl_t *crls;
static unsigned int ncrls;

static void crl_list_free(gnutls_x509_crl_t *list, unsigned int n)
{
    unsigned int i;

    for (i = 0; i < n; i++)
        gnutls_x509_crl_deinit(list[i]);
    gnutls_free(list);
}

static char *slurp(const char *path, char *err, size_t err_cap, const char *what);

int vd_http_load_crl(const vd_config *cfg, char *err, size_t err_cap)
{
    gnutls_x509_crl_t *list = NULL, *old;
    gnutls_x509_crt_t *cas = NULL;
    unsigned int n = 0, nca = 0, i, old_n;
    gnutls_datum_t d;
    char *pem = NULL, *capem = NULL;
    int rc = -1;

    if (!cfg->tls_crl)
        return 0;
    if (!(pem = slurp(cfg->tls_crl, err, err_cap, "listen.tls.crl")) ||
        !(capem = slurp(cfg->tls_client_ca, err, err_cap, "listen.tls.client_ca")))
        goto out;
    d.data = (unsigned char *)pem;
    d.size = (unsigned int)strlen(pem);
    if (gnutls_x509_crl_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0) < 0 || n == 0) {
        snprintf(err, err_cap, "listen.tls.crl: %s: not a PEM certificate revocation list",
                 cfg->tls_crl);
        goto out;
    }
    d.data = (unsigned char *)capem;
    d.size = (unsigned int)strlen(capem);
    if (gnutls_x509_crt_list_import2(&cas, &nca, &d, GNUTLS_X509_FMT_PEM, 0) < 0 || nca == 0) {
        snprintf(err, err_cap, "listen.tls.client_ca: %s: no certificate", cfg->tls_client_ca);
        goto out;
    }
    for (i = 0; i < n; i++) {
        unsigned int status = 1;
        if (gnutls_x509_crl_verify(list[i], cas, nca, 0, &status) < 0 || status != 0) {
            snprintf(err, err_cap, "listen.tls.crl: %s: CRL %u is not signed by client_ca (or "
                     "has expired)", cfg->tls_crl, i + 1);
            goto out;
        }
    }
    pthread_mutex_lock(&crl_lock);
    old = crls;
    old_n = ncrls;
    crls = list;
    ncrls = n;
    pthread_mutex_unlock(&crl_lock);
    list = old;
    n = old_n;
    rc = 0;
out:
    if (list)
        crl_list_free(list, n);
    for (i = 0; i < nca; i++)
        gnutls_x509_crt_deinit(cas[i]);
    gnutls_free(cas);
    free(pem);
    free(capem);
    return rc;
}

/* 1 when a CRL in force lists the certificate. */
static int crt_revoked(gnutls_x509_crt_t crt)
{
    int r = 0;

    pthread_mutex_lock(&crl_lock);
    if (ncrls)
        r = gnutls_x509_crt_check_revocation(crt, crls, ncrls) != 0;
    pthread_mutex_unlock(&crl_lock);
    return r;
}

/* The client certificate: it must chain to client_ca (GnuTLS checks the
 * chain, validity and key usage); then its CN or SHA-256 fingerprint
 * names the app. */
static int tls_peer(vd_caller *who, vd_server *srv, struct MHD_Connection *c, char *why,
                    size_t why_cap)
{
    const union MHD_ConnectionInfo *ai = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const union MHD_ConnectionInfo *si = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t session;
    const gnutls_datum_t *certs;
    unsigned int ncerts = 0, status = 0;
    gnutls_x509_crt_t crt = NULL;
    uint8_t fp[32];
    char cn[256];
    size_t cn_len = sizeof cn, i;
    int rc = -1;

    addr_text(who->peer, sizeof who->peer, ai ? ai->client_addr : NULL);
    if (!si) {
        snprintf(why, why_cap, "no TLS session");
        return -1;
    }
    session = (gnutls_session_t)si->tls_session;
    certs = gnutls_certificate_get_peers(session, &ncerts);
    if (!certs || ncerts == 0) {
        snprintf(why, why_cap, "no client certificate");
        return -1;
    }
    {
        /* the chain to client_ca, validity, and a certificate made for TLS
         * clients (extended key usage), not one made for a server */
        gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
                                         (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
        if (gnutls_certificate_verify_peers(session, &purpose, 1, &status) != 0)
            status = 1;
    }
    if (status != 0) {
        snprintf(why, why_cap, "the client certificate is not trusted (not from client_ca, expired, or "
                               "not made for TLS clients)");
        return -1;
    }
    crypto_hash_sha256(fp, certs[0].data, certs[0].size);
    {
        size_t n = strlen(who->peer);
        char hex[17];
        sodium_bin2hex(hex, sizeof hex, fp, 8);
        snprintf(who->peer + n, sizeof who->peer - n, ",cert=%s", hex);
    }
    if (gnutls_x509_crt_init(&crt) < 0 ||
        gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) < 0) {
        snprintf(why, why_cap, "the client certificate does not parse");
        goto out;
    }
    /* A revoked certificate names no app, whatever its CN or fingerprint
     * (gnutls_x509_crt_check_revocation: < 0 on error counts as revoked). */
    if (crt_revoked(crt)) {
        snprintf(why, why_cap, "the client certificate is revoked (listen.tls.crl)");
        goto out;
    }
    if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cn_len) < 0)
        cn[0] = '\0';
    for (i = 0; i < srv->cfg->nclients; i++) {
        const vd_client *cl = &srv->cfg->clients[i];
        if ((cl->has_fp && sodium_memcmp(cl->fp, fp, 32) == 0) ||
            (cl->tls_cn && cn[0] && strcmp(cl->tls_cn, cn) == 0)) {
            snprintf(who->app, sizeof who->app, "%s", cl->app);
            rc = 0;
            break;
        }
    }
    if (rc < 0)
        snprintf(why, why_cap, "the client certificate is not mapped to an app in the configuration");
out:
    if (crt)
        gnutls_x509_crt_deinit(crt);
    return rc;
}

/* ---- dispatch ---- */

static const vd_route *route_find(const char *method, const char *url, int *path_known)
{
    size_t i;

    *path_known = 0;
    for (i = 0; i < vd_nroutes; i++)
        if (!strcmp(vd_routes[i].path, url)) {
            *path_known = 1;
            if (!strcmp(vd_routes[i].method, method))
                return &vd_routes[i];
        }
    return NULL;
}

static void count(vd_server *srv, int status)
{
    pthread_mutex_lock(&srv->mlock);
    srv->m.requests++;
    if (status < 400)
        srv->m.ok++;
    else if (status < 500)
        srv->m.client_errors++;
    else
        srv->m.server_errors++;
    if (status == 401)
        srv->m.auth_failures++;
    if (status == 403)
        srv->m.denied++;
    pthread_mutex_unlock(&srv->mlock);
}

/* Log a request refused before it reached the vault (no app, no valid
 * token): an audit entry, so that every refusal leaves a trace.  A peer
 * that no app maps to is not authenticated at all, so its refusals are
 * rate-limited (UNAUTH_BURST, then one a second): anyone who can connect
 * could otherwise grow the log without bound.  The refusals not logged
 * one by one are counted in the next entry's detail and in
 * vaultd_refusals_unlogged_total. */
#define UNAUTH_BURST 20.0
static pthread_mutex_t refusal_lock = PTHREAD_MUTEX_INITIALIZER;
static double refusal_tokens = UNAUTH_BURST;
static time_t refusal_refill;
static uint64_t refusals_unlogged; /* since the last entry */

static void log_refusal(vd_server *srv, const vd_caller *who, const char *path, const char *why)
{
    vault *v;
    vault_principal p = {sizeof(vault_principal), who->iss, who->sub, who->jti, who->app, who->peer, 0, 0};
    char detail[400];
    uint64_t skipped = 0;
    time_t now = time(NULL);

    if (!who->app[0]) {
        pthread_mutex_lock(&refusal_lock);
        refusal_tokens += (double)(now - refusal_refill);
        if (refusal_tokens > UNAUTH_BURST)
            refusal_tokens = UNAUTH_BURST;
        refusal_refill = now;
        if (refusal_tokens < 1.0) {
            refusals_unlogged++;
            pthread_mutex_unlock(&refusal_lock);
            pthread_mutex_lock(&srv->mlock);
            srv->m.refusals_unlogged++;
            pthread_mutex_unlock(&srv->mlock);
            return;
        }
        refusal_tokens -= 1.0;
        skipped = refusals_unlogged;
        refusals_unlogged = 0;
        pthread_mutex_unlock(&refusal_lock);
    }
    if (skipped)
        snprintf(detail, sizeof detail, "%s: %s (and %llu refusals of unmapped peers not logged "
                                        "one by one since the last such entry)",
                 path, why, (unsigned long long)skipped);
    else
        snprintf(detail, sizeof detail, "%s: %s", path, why);
    v = vd_pool_get(&srv->pool);
    if (vault_log_refusal(v, &p, "request", detail) != VAULT_OK)
        fprintf(stderr, "vaultd: could not log a refused request: %s\n", vault_error_last());
    vd_pool_put(&srv->pool, v);
}

static enum MHD_Result handle(vd_server *srv, struct MHD_Connection *c, const char *method,
                              conn_ctx *cc)
{
    vd_request r;
    int status;
    enum MHD_Result ret;

    memset(&r, 0, sizeof r);
    r.srv = srv;
    r.method = method;
    r.path = cc->route->path;
    r.who = cc->who;
    r.route = cc->route;
    vd_dispatch(&r, cc->body, cc->len,
                MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "purpose"));
    sodium_memzero(&r.who, sizeof r.who);
    status = r.status;
    count(srv, status);
    if (r.text) {
        ret = send_text(c, status, r.text, wiped_free, r.content_type ? r.content_type : "text/plain");
        json_decref(r.out);
        return ret;
    }
    if (!r.out)
        r.out = json_object();
    return send_json(c, status, r.out);
}

/* Who is calling, before anything of the body is kept: the app from the
 * transport, never from the request; then the person, from a signed
 * identity token.  A refusal is logged at once; the body that follows is
 * dropped as it comes (never buffered: at most max_body of it, then the
 * connection is closed), and the 401 goes out when it ends. */
static void authenticate(vd_server *srv, struct MHD_Connection *c, int tls, conn_ctx *cc)
{
    char why[256] = "";
    const char *auth;

    if ((tls ? tls_peer(&cc->who, srv, c, why, sizeof why) : unix_peer(&cc->who, srv, c)) < 0) {
        if (!why[0])
            snprintf(why, sizeof why, "this peer is not mapped to an app in the configuration");
        if (cc->route->needs_token || strcmp(cc->route->path, "/v1/health")) {
            log_refusal(srv, &cc->who, cc->route->path, why);
            snprintf(cc->refusal, sizeof cc->refusal, "client not authenticated: %s", why);
            return;
        }
    }
    if (cc->route->needs_token) {
        auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (vd_auth_token(&cc->who, srv, auth, why, sizeof why) < 0) {
            log_refusal(srv, &cc->who, cc->route->path, why);
            snprintf(cc->refusal, sizeof cc->refusal, "%s", why);
        }
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls, int tls)
{
    vd_server *srv = cls;
    conn_ctx *cc = *con_cls;
    int known = 0;
    const char *cl;
    unsigned long long declared;

    (void)version;
    if (!cc) {
        cc = calloc(1, sizeof *cc);
        if (!cc)
            return MHD_NO;
        *con_cls = cc;
        cc->route = route_find(method, url, &known);
        if (!cc->route) {
            cc->refused = 1;
            count(srv, known ? 405 : 404);
            if (known)
                return send_error(c, 405, "VAULT_EINVALID", "%s is not allowed on this path",
                                  method);
            return send_error(c, 404, "VAULT_ENOTFOUND", "no such route (see docs/api.md)");
        }
        cc->limit = cc->route->large_body ? srv->cfg->max_import_body : srv->cfg->max_body;
        authenticate(srv, c, tls, cc);
        if (cc->refusal[0])
            cc->limit = srv->cfg->max_body; /* nothing large from a stranger */
        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && sscanf(cl, "%llu", &declared) == 1) {
            if (declared > cc->limit && cc->refusal[0]) {
                cc->refused = 1;
                count(srv, 401);
                return send_error(c, 401, "VAULT_EAUTH", "%s", cc->refusal);
            }
            if (declared > cc->limit) {
                cc->refused = 1;
                count(srv, 413);
                return send_error(c, 413, "VAULT_ELIMIT", "request body over %zu bytes",
                                  cc->limit);
            }
            cc->declared = (size_t)declared; /* the buffer is sized once */
        }
        return MHD_YES;
    }
    if (cc->refused) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (cc->refusal[0]) {
        if (*upload_size) { /* dropped, never kept */
            cc->discarded += *upload_size;
            *upload_size = 0;
            return cc->discarded > cc->limit ? MHD_NO : MHD_YES;
        }
        cc->refused = 1;
        count(srv, 401);
        return send_error(c, 401, "VAULT_EAUTH", "%s", cc->refusal);
    }
    if (cc->too_big) {
        /* A body that ran past the limit without declaring its length:
         * libmicrohttpd answers only once the upload ends, so drop what
         * comes, up to DISCARD_MAX more, then close the connection. */
        if (*upload_size) {
            cc->discarded += *upload_size;
            *upload_size = 0;
            return cc->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
        }
        cc->refused = 1;
        count(srv, 413);
        return send_error(c, 413, "VAULT_ELIMIT", "request body over %zu bytes", cc->limit);
    }
    if (*upload_size) {
        if (cc->len + *upload_size > cc->limit) {
            cc->too_big = 1;
            cc->discarded = *upload_size;
            *upload_size = 0;
            sodium_memzero(cc->body, cc->cap);
            cc->len = 0;
            return MHD_YES;
        }
        if (cc->len + *upload_size + 1 > cc->cap) {
            size_t ncap = cc->cap ? cc->cap : 4096;
            char *nb;
            if (cc->declared >= cc->len + *upload_size && cc->declared + 1 > ncap)
                ncap = cc->declared + 1;
            while (ncap < cc->len + *upload_size + 1)
                ncap *= 2;
            if (ncap > cc->limit + 1)
                ncap = cc->limit + 1;
            nb = malloc(ncap);
            if (!nb)
                return MHD_NO;
            if (cc->body) {
                memcpy(nb, cc->body, cc->len);
                sodium_memzero(cc->body, cc->cap);
                free(cc->body);
            }
            cc->body = nb;
            cc->cap = ncap;
        }
        memcpy(cc->body + cc->len, upload, *upload_size);
        cc->len += *upload_size;
        cc->body[cc->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    return handle(srv, c, method, cc);
}

static enum MHD_Result on_unix(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    return on_request(cls, c, url, method, version, upload, upload_size, con_cls, 0);
}

static enum MHD_Result on_tls(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    return on_request(cls, c, url, method, version, upload, upload_size, con_cls, 1);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    conn_ctx *cc = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (!cc)
        return;
    if (cc->body) {
        sodium_memzero(cc->body, cc->cap); /* bodies carry field values */
        free(cc->body);
    }
    sodium_memzero(&cc->who, sizeof cc->who);
    free(cc);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fputs("vaultd: http: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* ---- listeners ---- */

static int unix_listen(const char *path, unsigned mode, char *err, size_t err_cap)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd;

    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, err_cap, "listen.unix: %s: path too long for a Unix socket", path);
        return -1;
    }
    /* A stale socket of a vaultd that stopped: replace it; never another file. */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, err_cap, "listen.unix: %s exists and is not a socket", path);
            return -1;
        }
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_cap, "listen.unix: socket: %s", strerror(errno));
        return -1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    {
        mode_t old = umask(0177); /* no window in which others may connect */
        int b = bind(fd, (struct sockaddr *)&sa, sizeof sa);
        umask(old);
        if (b != 0) {
            snprintf(err, err_cap, "listen.unix: bind %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
    }
    free(unix_path);
    unix_path = strdup(path);
    if (!unix_path || chmod(path, mode) != 0 || listen(fd, 128) != 0) {
        snprintf(err, err_cap, "listen.unix: %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    return fd;
}

static char *slurp(const char *path, char *err, size_t err_cap, const char *what)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f) {
        snprintf(err, err_cap, "%s: %s: %s", what, path, strerror(errno));
        return NULL;
    }
    if (vd_file_trusted(fileno(f), path, what, err, err_cap) < 0) {
        fclose(f);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < (1 << 20) &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
    } else {
        snprintf(err, err_cap, "%s: %s: cannot read (or over 1 MiB)", what, path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

int vd_http_start(vd_server *srv, char *err, size_t err_cap)
{
    const vd_config *cfg = srv->cfg;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

    if (cfg->unix_path) {
        unix_fd = unix_listen(cfg->unix_path, cfg->unix_mode, err, err_cap);
        if (unix_fd < 0)
            return -1;
        unix_daemon = MHD_start_daemon(
            flags, 0, NULL, NULL, on_unix, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
            MHD_OPTION_LISTEN_SOCKET, unix_fd,
            MHD_OPTION_THREAD_POOL_SIZE, cfg->workers, MHD_OPTION_CONNECTION_LIMIT,
            cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, cfg->request_timeout,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_STRICT_FOR_CLIENT, 1,
            MHD_OPTION_END);
        if (!unix_daemon) {
            snprintf(err, err_cap, "listen.unix: %s: the HTTP server did not start", cfg->unix_path);
            return -1;
        }
    }
    if (cfg->tls_port) {
        struct sockaddr_storage ss;
        socklen_t sl;
        memset(&ss, 0, sizeof ss);
        if (!*cfg->tls_host || inet_pton(AF_INET, cfg->tls_host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            in->sin_family = AF_INET;
            in->sin_port = htons(cfg->tls_port);
            if (!*cfg->tls_host)
                in->sin_addr.s_addr = htonl(INADDR_ANY);
            sl = sizeof *in;
        } else if (inet_pton(AF_INET6, cfg->tls_host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons(cfg->tls_port);
            sl = sizeof *in6;
        } else {
            snprintf(err, err_cap, "listen.tls.address: %s is not an IP address", cfg->tls_host);
            return -1;
        }
        (void)sl;
        if (vd_http_load_crl(cfg, err, err_cap) < 0)
            return -1;
        if (!(tls_mem_cert = slurp(cfg->tls_cert, err, err_cap, "listen.tls.cert")) ||
            !(tls_mem_key = slurp(cfg->tls_key, err, err_cap, "listen.tls.key")) ||
            !(tls_mem_ca = slurp(cfg->tls_client_ca, err, err_cap, "listen.tls.client_ca")))
            return -1;
        tls_daemon = MHD_start_daemon(
            flags | MHD_USE_TLS | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), cfg->tls_port,
            NULL, NULL, on_tls, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
            MHD_OPTION_HTTPS_MEM_CERT, tls_mem_cert, MHD_OPTION_HTTPS_MEM_KEY, tls_mem_key,
            MHD_OPTION_HTTPS_MEM_TRUST, tls_mem_ca, MHD_OPTION_HTTPS_PRIORITIES,
            "NORMAL:-VERS-ALL:+VERS-TLS1.3", MHD_OPTION_THREAD_POOL_SIZE, cfg->workers,
            MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
            cfg->max_connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, cfg->request_timeout,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_STRICT_FOR_CLIENT, 1,
            MHD_OPTION_END);
        if (!tls_daemon) {
            snprintf(err, err_cap, "listen.tls: port %u: the HTTPS server did not start (port in "
                                   "use, or a bad certificate or key)",
                     (unsigned)cfg->tls_port);
            return -1;
        }
    }
    return 0;
}

void vd_http_stop(void)
{
    if (unix_daemon)
        MHD_stop_daemon(unix_daemon);
    if (tls_daemon)
        MHD_stop_daemon(tls_daemon);
    unix_daemon = tls_daemon = NULL;
    if (unix_path) {
        unlink(unix_path);
        free(unix_path);
        unix_path = NULL;
    }
    if (tls_mem_key) {
        sodium_memzero(tls_mem_key, strlen(tls_mem_key));
        free(tls_mem_key);
    }
    free(tls_mem_cert);
    free(tls_mem_ca);
    tls_mem_cert = tls_mem_key = tls_mem_ca = NULL;
}

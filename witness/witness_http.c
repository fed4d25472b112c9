/* witness_http: POST /add-checkpoint over libmicrohttpd (plain HTTP: the
 * answers are signed; docs/witness.md "Deployment" for TLS in front). */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "internal.h"
#include "witness_int.h"

#define THREADS 4
#define CONNECTIONS_MAX 64
#define TIMEOUT_S 15
#define DISCARD_MAX (4 * WITNESS_BODY_MAX) /* then the connection is closed */

struct witness_http {
    struct MHD_Daemon *d;
    witness *w;
};

typedef struct conn_body {
    char buf[WITNESS_BODY_MAX + 1];
    size_t len, discarded;
    int too_big;
} conn_body;

static enum MHD_Result send_reply(struct MHD_Connection *c, unsigned status, const char *type,
                                  const char *text)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    witness_http *h = cls;
    conn_body *b = *con_cls;
    witness_reply *r;
    enum MHD_Result ret;

    (void)version;
    if (strcmp(url, "/add-checkpoint") != 0)
        return send_reply(c, 404, "text/plain; charset=utf-8", "witness: no such path\n");
    if (strcmp(method, "POST") != 0)
        return send_reply(c, 405, "text/plain; charset=utf-8",
                          "witness: add-checkpoint takes POST\n");
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b)
            return MHD_NO;
        *con_cls = b;
        return MHD_YES;
    }
    if (*upload_size) {
        if (b->too_big || *upload_size > WITNESS_BODY_MAX - b->len) {
            /* Answered (413) once the upload ends; a body that goes on
             * and on is cut off. */
            b->too_big = 1;
            b->discarded += *upload_size;
            *upload_size = 0;
            return b->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
        }
        memcpy(b->buf + b->len, upload, *upload_size);
        b->len += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    if (b->too_big) {
        char msg[64];
        snprintf(msg, sizeof msg, "witness: request body over %d bytes\n", WITNESS_BODY_MAX);
        return send_reply(c, 413, "text/plain; charset=utf-8", msg);
    }
    r = calloc(1, sizeof *r);
    if (!r)
        return MHD_NO;
    witness_add_checkpoint(h->w, r, b->buf, b->len, (uint64_t)time(NULL));
    ret = send_reply(c, (unsigned)r->status, r->content_type, r->body);
    free(r);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fputs("witness: http: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* "HOST:PORT" or "[V6]:PORT" into a socket address. */
static int parse_listen(struct sockaddr_storage *ss, const char *listen)
{
    int rc = VAULT_OK, e;
    char host[256];
    const char *colon = strrchr(listen, ':'), *hs = listen;
    size_t hl;
    struct addrinfo hints, *ai = NULL;

    ENSURE(colon && colon[1], VAULT_EINVALID, "witness: --listen wants HOST:PORT, not %s", listen);
    hl = (size_t)(colon - listen);
    if (hl >= 2 && listen[0] == '[' && listen[hl - 1] == ']')
        hs++, hl -= 2;
    ENSURE(hl > 0 && hl < sizeof host, VAULT_EINVALID, "witness: --listen wants HOST:PORT");
    memcpy(host, hs, hl);
    host[hl] = '\0';
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    e = getaddrinfo(host, colon + 1, &hints, &ai);
    ENSURE(e == 0 && ai && ai->ai_addrlen <= sizeof *ss, VAULT_EINVALID,
           "witness: --listen %s: %s", listen, e ? gai_strerror(e) : "no address");
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
cleanup:
    if (ai)
        freeaddrinfo(ai);
    return rc;
}

int witness_http_start(witness_http **out, witness *w, const char *listen)
{
    int rc = VAULT_OK;
    struct sockaddr_storage ss;
    witness_http *h = NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

    ENSURE(out && w && listen, VAULT_EINVALID, "witness_http_start: missing argument");
    *out = NULL;
    GUARD(parse_listen(&ss, listen));
    h = calloc(1, sizeof *h);
    ENSURE(h, VAULT_ENOMEM, "out of memory for the witness server");
    h->w = w;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
                            mhd_log, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)THREADS,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)TIMEOUT_S,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                            MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_END);
    ENSURE(h->d, VAULT_EIO, "witness: cannot listen on %s (in use, or not an address here)",
           listen);
    *out = h;
    h = NULL;
cleanup:
    free(h);
    return rc;
}

unsigned witness_http_port(const witness_http *h)
{
    const union MHD_DaemonInfo *i =
        h ? MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;

    return i ? i->port : 0;
}

void witness_http_stop(witness_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}

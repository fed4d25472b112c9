/* server: vaultd's shared state and the pieces that pass it around.
 *
 *   vaultd.c   start: config, hardening, unlock, listeners, signals
 *   pool.c     one vault handle per worker (vault_reopen), borrowed per request
 *   http.c     libmicrohttpd glue: bodies with limits, JSON in and out,
 *              errors as {"error": {...}}, the route table's dispatch
 *   auth.c     who is calling: the app (peer uid or client certificate)
 *              and the person (a signed identity token), both checked
 *   routes.c   one handler per API route (docs/api.md), each a call of
 *              the public vault.h API on a session whose subject comes
 *              only from auth.c */
#ifndef VAULTD_SERVER_H
#define VAULTD_SERVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "token.h"
#include "vault.h"

struct token_issuer;

/* The vault handles, one per worker. */
typedef struct vd_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    vault **v;
    int *busy;
    size_t n;
    int *stale;      /* the slot's handle is to be replaced before its next use */
    vault_alarm_fn alarm_fn; /* the handles' alarm callback, once set (vd_alarm) */
    void *alarm_arg;
    int due;         /* a checkpoint was committed through a handle since the last look */
} vd_pool;

int vd_pool_open(vd_pool *p, vault *first, size_t n, char *err, size_t err_cap);
/* The alarm callback of every pool handle (alarm.c): arg is the vd_config. */
void vd_alarm(const vault_alarm *a, void *arg);
/* Before the first alarm: start libcurl when an alarms.webhook is set.
 * 0, or -1 with the reason in err. */
int vd_alarm_init(const vd_config *cfg, char *err, size_t err_cap);
/* A handle for a request.  One whose database connection was lost (seen
 * by vd_pool_put: a failover, a server restart, a backend ended; and the
 * idle ones then, which most likely met the same end) is first replaced
 * by a new one (vault_reopen: a new connection, which a multi-host
 * location points at the new primary), so the failed request was the
 * only one; if that fails too, the old one is used (its call fails
 * VAULT_EIO) and the next request tries again. */
vault *vd_pool_get(vd_pool *p);
/* Give v back, on the thread that used it. */
void vd_pool_put(vd_pool *p, vault *v);
/* 1 when any pool handle committed a checkpoint since the last call
 * (witness.c); reads no handle. */
int vd_pool_take_due(vd_pool *p);
/* A new handle from v (vault_reopen), acting for vaultd, no witness
 * submission of its own, alarm_fn (may be NULL) as its alarms; NULL on
 * failure (vault_error_last says why). */
vault *vd_handle_fresh(vault *v, vault_alarm_fn alarm_fn, void *alarm_arg);
void vd_pool_close(vd_pool *p);

/* Counters for /v1/metrics. */
typedef struct vd_metrics {
    uint64_t requests, ok, client_errors, server_errors, denied, auth_failures;
    uint64_t refusals_unlogged; /* unmapped peers' refusals beyond the rate limit */
    uint64_t witness_rounds;    /* submissions to the witnesses (witness.c) */
    uint64_t witness_cosigned;  /* cosignatures got and stored */
    uint64_t witness_failures;  /* witnesses that did not cosign in a round */
    uint64_t retention_runs;    /* retention runs done (retention.c) */
    uint64_t retention_erased;  /* records they erased */
} vd_metrics;

typedef struct vd_server {
    vd_config *cfg;
    vd_pool pool;
    struct token_issuer **issuers;
    size_t nissuers;
    pthread_mutex_t mlock;
    vd_metrics m;
    int64_t started;
} vd_server;

/* Who is calling one request, once authenticated. */
#define VD_PEER_MAX 160
typedef struct vd_caller {
    char app[128];           /* from the transport (clients: in the config) */
    char peer[VD_PEER_MAX];  /* "unix:uid=998,pid=4242" or "tls:192.0.2.7:51234" */
    int has_token;
    char iss[TOKEN_ISS_MAX + 1], sub[TOKEN_SUB_MAX + 1], jti[TOKEN_JTI_MAX + 1];
    char user[VAULT_NAME_MAX], role[VAULT_NAME_MAX], department[VAULT_NAME_MAX];
    char jurisdiction[VAULT_JURISDICTION_MAX + 1];
    int64_t exp;
} vd_caller;

/* One request as the handlers see it. */
typedef struct vd_request {
    vd_server *srv;
    vault *v;                /* a handle of the pool, for this request only */
    const struct vd_route *route;
    const char *method;
    const char *path;        /* without the query */
    json_t *body;            /* the parsed JSON object (NULL for GET) */
    const char *raw;         /* the raw body (import: CSV) */
    size_t raw_len;
    vd_caller who;
    /* Response: status and JSON document (or text). */
    int status;
    json_t *out;
    char *text;              /* instead of out (metrics, policy source) */
    const char *content_type;
} vd_request;

/* Handlers return 0 after setting status/out, or use vd_fail. */
typedef int (*vd_handler)(vd_request *r);

typedef struct vd_route {
    const char *method;
    const char *path;
    vd_handler fn;
    int needs_token;   /* 0: health and metrics only */
    unsigned officer;  /* VAULT_PRINCIPAL_OFFICER_APP, _DATA_OFFICER: officers' actions */
    int large_body;    /* import: max_import_body instead of max_body */
    int raw_body;      /* the body is not JSON (CSV) */
} vd_route;

extern const vd_route vd_routes[];
extern const size_t vd_nroutes;

/* Set an error response from a library code and the thread's last error
 * (or msg when not NULL).  Returns -1. */
int vd_fail(vd_request *r, int rc, const char *msg);
/* HTTP status for a library code. */
int vd_http_status(int rc);
const char *vd_code_name(int rc);

/* The authenticated session for a data route (token + app + purpose);
 * on failure sets the response and returns NULL. */
vault_session *vd_session(vd_request *r);
/* Record the caller as the actor of handle-level operations (officers'
 * routes); on failure sets the response and returns -1. */
int vd_actor(vd_request *r);

/* Authenticate the person: Authorization: Bearer <token>. */
int vd_auth_token(vd_caller *who, vd_server *srv, const char *authorization, char *err,
                  size_t err_cap);
int vd_auth_issuers_load(vd_server *srv, char *err, size_t err_cap);
void vd_auth_issuers_free(vd_server *srv);

/* Run an authenticated request (r->srv, r->route, r->who set): parse the
 * body (JSON, or raw for CSV routes), take the purpose from the query when
 * the body has none, run the handler on a pool handle.  Sets r->status and
 * r->out or r->text (free with vd_request_clear). */
void vd_dispatch(vd_request *r, const char *body, size_t len, const char *query_purpose);
void vd_request_clear(vd_request *r);

/* Start/stop the HTTP listeners. */
int vd_http_start(vd_server *srv, char *err, size_t err_cap);
/* (Re)load listen.tls.crl: every CRL in it must be signed by client_ca.
 * On failure the CRLs in force stay as they were.  0 or -1 with err. */
int vd_http_load_crl(const vd_config *cfg, char *err, size_t err_cap);
void vd_http_stop(void);

/* A background round on a handle of vaultd's own (periodic.c): round()
 * every interval seconds (the first at once when first_now), and sooner
 * when due() (may be NULL) says so; set what, round, due, interval and
 * first_now, then start.  vd_periodic_start: 0, or -1 with "WHAT: ..." in
 * err; vd_periodic_stop joins the thread (v stays open: the caller
 * closes it). */
typedef struct vd_periodic {
    const char *what;
    void (*round)(void);
    int (*due)(void);
    int64_t interval;
    int first_now;
    vault *v;
    pthread_t thread;
    int running, stop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
} vd_periodic;
int vd_periodic_start(vd_periodic *p, vault *first, char *err, size_t cap);
void vd_periodic_stop(vd_periodic *p);

/* The submitting thread (witness.c; docs/service.md "Witnesses").
 * vd_witness_check: every audit.witnesses key must be pinned by the
 * vault's policy, else -1 and "FILE:LINE:COL: ..." in err.
 * vd_witness_start: no-op without audit.witnesses; vd_witness_stop joins
 * the thread (safe when none was started or it was stopped). */
int vd_witness_check(vd_server *srv, vault *v, char *err, size_t cap);
int vd_witness_start(vd_server *srv, vault *first, char *err, size_t cap);
void vd_witness_stop(void);
/* The retention thread (retention.c; docs/service.md "Retention"): every
 * retention.every it runs vault_retention_run on a handle of its own.
 * vd_retention_start: no-op with retention.every off; vd_retention_stop
 * joins the thread and closes its handle (safe when none was started). */
int vd_retention_start(vd_server *srv, vault *first, char *err, size_t cap);
void vd_retention_stop(void);
/* After the pool's handles closed (and signed their last checkpoints):
 * one last round, then the thread's handle is closed. */
void vd_witness_finish(void);

#endif

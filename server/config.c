/* config: vaultd's YAML configuration (docs/service.md).  libyaml loads
 * the document; this file walks it, refusing unknown keys and wrong types
 * with "FILE:LINE:COL: message". */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <yaml.h>

#define CLIENTS_MAX 1024
#define ISSUERS_MAX 64

typedef struct walk {
    yaml_document_t *doc;
    const char *file;
    char *err;
    size_t err_cap;
} walk;

static int fail(walk *w, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(walk *w, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n)
        snprintf(w->err, w->err_cap, "%s:%lu:%lu: %s", w->file,
                 (unsigned long)n->start_mark.line + 1, (unsigned long)n->start_mark.column + 1,
                 msg);
    else
        snprintf(w->err, w->err_cap, "%s: %s", w->file, msg);
    return -1;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A scalar string (copied), non-empty, without control characters. */
static int get_str(char **out, walk *w, const yaml_node_t *n, const char *what)
{
    const char *s = scalar(n);
    size_t i;

    if (!s)
        return fail(w, n, "%s must be a string", what);
    if (!*s)
        return fail(w, n, "%s must not be empty", what);
    for (i = 0; s[i]; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return fail(w, n, "%s contains a control character", what);
    if (strlen(s) > 4096)
        return fail(w, n, "%s is longer than 4096 bytes", what);
    free(*out);
    *out = strdup(s);
    if (!*out)
        return fail(w, n, "out of memory");
    return 0;
}

static int get_uint(unsigned long *out, walk *w, const yaml_node_t *n, const char *what,
                    unsigned long min, unsigned long max, int base)
{
    const char *s = scalar(n);
    char *end = NULL;
    unsigned long v;

    if (!s || !*s || *s == '-' || *s == '+')
        return fail(w, n, "%s must be a number", what);
    errno = 0;
    v = strtoul(s, &end, base);
    if (errno || *end)
        return fail(w, n, "%s must be a number", what);
    if (v < min || v > max)
        return fail(w, n, "%s must be between %lu and %lu", what, min, max);
    *out = v;
    return 0;
}

static int get_bool(int *out, walk *w, const yaml_node_t *n, const char *what)
{
    const char *s = scalar(n);

    if (s && (!strcmp(s, "true") || !strcmp(s, "yes"))) {
        *out = 1;
        return 0;
    }
    if (s && (!strcmp(s, "false") || !strcmp(s, "no"))) {
        *out = 0;
        return 0;
    }
    return fail(w, n, "%s must be true or false", what);
}

int vd_parse_size(size_t *out, const char *text)
{
    static const struct {
        const char *suffix;
        unsigned long long mul;
    } units[] = {{"", 1}, {"B", 1}, {"KiB", 1024}, {"MiB", 1024 * 1024},
                 {"GiB", 1024ULL * 1024 * 1024}};
    char *end = NULL;
    unsigned long long v;
    size_t i;

    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno)
        return -1;
    for (i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(end, units[i].suffix)) {
            if (v > SIZE_MAX / units[i].mul)
                return -1;
            *out = (size_t)(v * units[i].mul);
            return 0;
        }
    return -1;
}

int vd_parse_seconds(int64_t *out, const char *text)
{
    static const struct {
        const char *suffix;
        long long mul;
    } units[] = {{"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
    char *end = NULL;
    long long v;
    size_t i;

    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno)
        return -1;
    for (i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(end, units[i].suffix)) {
            if (v > INT64_MAX / units[i].mul)
                return -1;
            *out = v * units[i].mul;
            return 0;
        }
    return -1;
}

/* Iterate a mapping: fn(w, key, value, arg) for each pair. */
typedef int (*pair_fn)(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);

static int each_pair(walk *w, yaml_node_t *map, const char *what, pair_fn fn, void *arg)
{
    yaml_node_pair_t *p;
    yaml_node_t *k, *v;
    const char *key;

    if (!map || map->type != YAML_MAPPING_NODE)
        return fail(w, map, "%s must be a mapping", what);
    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_pair_t *q;
        k = yaml_document_get_node(w->doc, p->key);
        v = yaml_document_get_node(w->doc, p->value);
        key = scalar(k);
        if (!key)
            return fail(w, k, "keys of %s must be strings", what);
        for (q = map->data.mapping.pairs.start; q < p; q++)
            if (!strcmp(scalar(yaml_document_get_node(w->doc, q->key)) ?: "", key))
                return fail(w, k, "%s: key '%s' given twice", what, key);
        if (fn(w, key, k, v, arg) < 0)
            return -1;
    }
    return 0;
}

/* ---- sections ---- */

static int unlock_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    vd_config *c = arg;
    unsigned long fd;
    const char *s;

    if (c->unlock)
        return fail(w, k, "unlock takes one of key_file, passphrase, fd");
    if (!strcmp(key, "key_file")) {
        c->unlock = VD_UNLOCK_KEYFILE;
        return get_str(&c->unlock_key_file, w, v, "unlock.key_file");
    }
    if (!strcmp(key, "passphrase")) {
        s = scalar(v);
        if (!s || strcmp(s, "prompt"))
            return fail(w, v, "unlock.passphrase must be 'prompt' (never the passphrase "
                              "itself: use unlock.fd to pass one from a supervisor)");
        c->unlock = VD_UNLOCK_PROMPT;
        return 0;
    }
    if (!strcmp(key, "fd")) {
        if (get_uint(&fd, w, v, "unlock.fd", 0, 1024, 10) < 0)
            return -1;
        c->unlock = VD_UNLOCK_FD;
        c->unlock_fd = (int)fd;
        return 0;
    }
    return fail(w, k, "unknown key '%s' in unlock (key_file, passphrase, fd)", key);
}

static int parse_address(vd_config *c, walk *w, yaml_node_t *v)
{
    const char *s = scalar(v), *colon;
    unsigned long port;
    char *end = NULL;
    size_t hl;

    if (!s)
        return fail(w, v, "listen.tls.address must be HOST:PORT");
    if (*s == '[') {
        colon = strstr(s, "]:");
        if (!colon)
            return fail(w, v, "listen.tls.address must be HOST:PORT or [IPV6]:PORT");
        hl = (size_t)(colon - s - 1);
        s++;
        colon++;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return fail(w, v, "listen.tls.address must be HOST:PORT");
        hl = (size_t)(colon - s);
    }
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (errno || *end || !colon[1] || port == 0 || port > 65535)
        return fail(w, v, "listen.tls.address: the port must be 1 ... 65535");
    free(c->tls_host);
    c->tls_host = strndup(s, hl);
    if (!c->tls_host)
        return fail(w, v, "out of memory");
    c->tls_port = (uint16_t)port;
    return 0;
}

static int tls_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    vd_config *c = arg;

    if (!strcmp(key, "address"))
        return parse_address(c, w, v);
    if (!strcmp(key, "cert"))
        return get_str(&c->tls_cert, w, v, "listen.tls.cert");
    if (!strcmp(key, "key"))
        return get_str(&c->tls_key, w, v, "listen.tls.key");
    if (!strcmp(key, "client_ca"))
        return get_str(&c->tls_client_ca, w, v, "listen.tls.client_ca");
    if (!strcmp(key, "crl"))
        return get_str(&c->tls_crl, w, v, "listen.tls.crl");
    return fail(w, k, "unknown key '%s' in listen.tls (address, cert, key, client_ca, crl)", key);
}

static int listen_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    vd_config *c = arg;
    unsigned long mode;

    if (!strcmp(key, "unix"))
        return get_str(&c->unix_path, w, v, "listen.unix");
    if (!strcmp(key, "unix_mode")) {
        if (get_uint(&mode, w, v, "listen.unix_mode", 0, 0777, 8) < 0)
            return -1;
        c->unix_mode = (unsigned)mode;
        return 0;
    }
    if (!strcmp(key, "tls")) {
        if (each_pair(w, v, "listen.tls", tls_pair, c) < 0)
            return -1;
        if (!c->tls_port || !c->tls_cert || !c->tls_key || !c->tls_client_ca)
            return fail(w, v, "listen.tls needs address, cert, key and client_ca (clients "
                              "authenticate with certificates)");
        return 0;
    }
    return fail(w, k, "unknown key '%s' in listen (unix, unix_mode, tls)", key);
}

static int client_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    vd_client *cl = arg;
    unsigned long uid;
    const char *s;
    size_t bin_len = 0;

    if (!strcmp(key, "app"))
        return get_str(&cl->app, w, v, "clients[].app");
    if (!strcmp(key, "unix_uid")) {
        if (get_uint(&uid, w, v, "clients[].unix_uid", 0, 0xfffffffeUL, 10) < 0)
            return -1;
        cl->has_uid = 1;
        cl->uid = (uid_t)uid;
        return 0;
    }
    if (!strcmp(key, "tls_cn"))
        return get_str(&cl->tls_cn, w, v, "clients[].tls_cn");
    if (!strcmp(key, "cert_sha256")) {
        s = scalar(v);
        if (!s || strlen(s) != 64 ||
            sodium_hex2bin(cl->fp, sizeof cl->fp, s, 64, NULL, &bin_len, NULL) != 0 ||
            bin_len != 32)
            return fail(w, v, "clients[].cert_sha256 must be 64 hex digits");
        cl->has_fp = 1;
        return 0;
    }
    return fail(w, k, "unknown key '%s' in a client (app, unix_uid, tls_cn, cert_sha256)", key);
}

static int issuer_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    vd_issuer *is = arg;
    static const struct {
        const char *key;
        size_t off;
    } keys[] = {
        {"name", offsetof(vd_issuer, name)},
        {"iss", offsetof(vd_issuer, iss)},
        {"audience", offsetof(vd_issuer, audience)},
        {"key", offsetof(vd_issuer, key)},
        {"kid", offsetof(vd_issuer, kid)},
        {"user_claim", offsetof(vd_issuer, claim_user)},
        {"role_claim", offsetof(vd_issuer, claim_role)},
        {"department_claim", offsetof(vd_issuer, claim_department)},
        {"jurisdiction_claim", offsetof(vd_issuer, claim_jurisdiction)},
    };
    size_t i;
    int64_t secs;

    if (!strcmp(key, "max_lifetime")) {
        if (vd_parse_seconds(&secs, scalar(v)) < 0 || secs < 60 || secs > 30 * 86400)
            return fail(w, v, "max_lifetime must be 1m ... 30d");
        is->max_lifetime = secs;
        return 0;
    }
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(key, keys[i].key))
            return get_str((char **)((char *)is + keys[i].off), w, v, key);
    return fail(w, k,
                "unknown key '%s' in an issuer (name, iss, audience, key, kid, max_lifetime, "
                "user_claim, role_claim, department_claim, jurisdiction_claim)",
                key);
}

static int seq_items(walk *w, yaml_node_t *seq, const char *what, size_t max,
                     yaml_node_item_t **start, size_t *n)
{
    if (!seq || seq->type != YAML_SEQUENCE_NODE)
        return fail(w, seq, "%s must be a list", what);
    *start = seq->data.sequence.items.start;
    *n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (*n > max)
        return fail(w, seq, "%s: at most %zu entries", what, max);
    return 0;
}

static int parse_clients(vd_config *c, walk *w, yaml_node_t *seq)
{
    yaml_node_item_t *it;
    size_t n, i, j;
    vd_client *cl;

    if (seq_items(w, seq, "clients", CLIENTS_MAX, &it, &n) < 0)
        return -1;
    c->clients = calloc(n ? n : 1, sizeof *c->clients);
    if (!c->clients)
        return fail(w, seq, "out of memory");
    for (i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(w->doc, it[i]);
        cl = &c->clients[i];
        c->nclients = i + 1;
        cl->line = item ? (unsigned)item->start_mark.line + 1 : 0;
        if (each_pair(w, item, "a client", client_pair, cl) < 0)
            return -1;
        if (!cl->app)
            return fail(w, item, "a client needs an app");
        if (cl->has_uid + !!cl->tls_cn + cl->has_fp != 1)
            return fail(w, item, "a client names exactly one of unix_uid, tls_cn, cert_sha256");
        for (j = 0; j < i; j++) {
            const vd_client *o = &c->clients[j];
            if ((cl->has_uid && o->has_uid && cl->uid == o->uid) ||
                (cl->tls_cn && o->tls_cn && !strcmp(cl->tls_cn, o->tls_cn)) ||
                (cl->has_fp && o->has_fp && !memcmp(cl->fp, o->fp, 32))) /* memcmp ok: not secret */
                return fail(w, item, "this client identity is already mapped (line %u)", o->line);
        }
    }
    return 0;
}

static int parse_issuers(vd_config *c, walk *w, yaml_node_t *seq)
{
    yaml_node_item_t *it;
    size_t n, i, j;
    vd_issuer *is;

    if (seq_items(w, seq, "issuers", ISSUERS_MAX, &it, &n) < 0)
        return -1;
    c->issuers = calloc(n ? n : 1, sizeof *c->issuers);
    if (!c->issuers)
        return fail(w, seq, "out of memory");
    for (i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(w->doc, it[i]);
        is = &c->issuers[i];
        c->nissuers = i + 1;
        is->line = item ? (unsigned)item->start_mark.line + 1 : 0;
        if (each_pair(w, item, "an issuer", issuer_pair, is) < 0)
            return -1;
        if (!is->name || !is->iss || !is->audience || !is->key)
            return fail(w, item, "an issuer needs name, iss, audience and key");
        for (j = 0; j < i; j++)
            if (!strcmp(c->issuers[j].name, is->name))
                return fail(w, item, "issuer '%s' is defined twice", is->name);
    }
    return 0;
}

static int limits_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    vd_config *c = arg;
    unsigned long n;
    size_t sz;
    int64_t secs;

    if (!strcmp(key, "max_body") || !strcmp(key, "max_import_body")) {
        if (vd_parse_size(&sz, scalar(v)) < 0 || sz < 1024 || sz > (size_t)1 << 32)
            return fail(w, v, "limits.%s must be a size from 1KiB to 4GiB (e.g. 1MiB)", key);
        *(strcmp(key, "max_body") == 0 ? &c->max_body : &c->max_import_body) = sz;
        return 0;
    }
    if (!strcmp(key, "workers")) {
        if (get_uint(&n, w, v, "limits.workers", 1, 64, 10) < 0)
            return -1;
        c->workers = (unsigned)n;
        return 0;
    }
    if (!strcmp(key, "max_connections")) {
        if (get_uint(&n, w, v, "limits.max_connections", 1, 65536, 10) < 0)
            return -1;
        c->max_connections = (unsigned)n;
        return 0;
    }
    if (!strcmp(key, "max_connections_per_ip")) {
        if (get_uint(&n, w, v, "limits.max_connections_per_ip", 1, 65536, 10) < 0)
            return -1;
        c->max_connections_per_ip = (unsigned)n;
        return 0;
    }
    if (!strcmp(key, "request_timeout")) {
        if (vd_parse_seconds(&secs, scalar(v)) < 0 || secs < 1 || secs > 3600)
            return fail(w, v, "limits.request_timeout must be 1s ... 1h");
        c->request_timeout = (unsigned)secs;
        return 0;
    }
    if (!strcmp(key, "clock_skew")) {
        if (vd_parse_seconds(&secs, scalar(v)) < 0 || secs > 600)
            return fail(w, v, "limits.clock_skew must be 0s ... 10m");
        c->clock_skew = secs;
        return 0;
    }
    return fail(w, k,
                "unknown key '%s' in limits (max_body, max_import_body, workers, "
                "max_connections, max_connections_per_ip, request_timeout, clock_skew)",
                key);
}

static int service_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    vd_config *c = arg;

    if (!strcmp(key, "db_key"))
        return get_bool(&c->allow_db_key, w, v, "service.db_key");
    return fail(w, k, "unknown key '%s' in service (db_key)", key);
}

#define WITNESSES_MAX 32

static int witness_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    vd_witness *wt = arg;

    if (!strcmp(key, "key")) {
        wt->line = (unsigned)v->start_mark.line + 1;
        wt->col = (unsigned)v->start_mark.column + 1;
        return get_str(&wt->key, w, v, "a witness's key");
    }
    if (!strcmp(key, "url")) {
        if (get_str(&wt->url, w, v, "a witness's url") < 0)
            return -1;
        if (strncmp(wt->url, "http://", 7) != 0 && strncmp(wt->url, "https://", 8) != 0)
            return fail(w, v, "a witness's url must be http:// or https://");
        if (strlen(wt->url) > 1023 || strchr(wt->url, ' '))
            return fail(w, v, "a witness's url must be at most 1023 bytes without spaces");
        return 0;
    }
    return fail(w, k, "unknown key '%s' in a witness (key, url)", key);
}

static int parse_witnesses(vd_config *c, walk *w, yaml_node_t *seq)
{
    yaml_node_item_t *it;
    size_t n, i, j;

    if (seq_items(w, seq, "audit.witnesses", WITNESSES_MAX, &it, &n) < 0)
        return -1;
    c->witnesses = calloc(n ? n : 1, sizeof *c->witnesses);
    if (!c->witnesses)
        return fail(w, seq, "out of memory");
    for (i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(w->doc, it[i]);
        vd_witness *wt = &c->witnesses[i];

        c->nwitnesses = i + 1;
        if (each_pair(w, item, "a witness", witness_pair, wt) < 0)
            return -1;
        if (!wt->key || !wt->url)
            return fail(w, item, "a witness needs key and url");
        for (j = 0; j < i; j++)
            if (!strcmp(c->witnesses[j].key, wt->key))
                return fail(w, item, "this witness key is listed twice (line %u)",
                            c->witnesses[j].line);
    }
    return 0;
}

static int audit_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    vd_config *c = arg;
    int64_t secs;

    if (!strcmp(key, "pubkey"))
        return get_str(&c->audit_pubkey, w, v, "audit.pubkey");
    if (!strcmp(key, "witnesses"))
        return parse_witnesses(c, w, v);
    if (!strcmp(key, "witness_retry")) {
        if (vd_parse_seconds(&secs, scalar(v)) < 0 || secs < 1 || secs > 86400)
            return fail(w, v, "audit.witness_retry must be 1s ... 24h");
        c->witness_retry = secs;
        return 0;
    }
    if (!strcmp(key, "witness_timeout")) {
        if (vd_parse_seconds(&secs, scalar(v)) < 0 || secs < 1 || secs > 60)
            return fail(w, v, "audit.witness_timeout must be 1s ... 1m");
        c->witness_timeout = secs;
        return 0;
    }
    return fail(w, k, "unknown key '%s' in audit (pubkey, witnesses, witness_retry, "
                "witness_timeout)", key);
}

/* An alarm webhook: https:// anywhere, http:// only to this host (an
 * alarm names a user and a record: never in clear over a network). */
static int vd_webhook_url_ok(const char *u)
{
    static const char *const local[] = {"127.0.0.1", "[::1]", "localhost"};
    size_t i, n;

    if (!strncmp(u, "https://", 8))
        return u[8] && u[8] != '/';
    if (strncmp(u, "http://", 7))
        return 0;
    u += 7;
    for (i = 0; i < sizeof local / sizeof local[0]; i++) {
        n = strlen(local[i]);
        if (!strncmp(u, local[i], n) && (u[n] == ':' || u[n] == '/' || !u[n]))
            return 1;
    }
    return 0;
}

static int alarms_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    vd_config *c = arg;
    int64_t secs;

    if (!strcmp(key, "command")) {
        if (get_str(&c->alarm_command, w, v, "alarms.command") < 0)
            return -1;
        if (c->alarm_command[0] != '/' || access(c->alarm_command, X_OK) != 0)
            return fail(w, v, "alarms.command must be the absolute path of an executable file");
        return 0;
    }
    if (!strcmp(key, "timeout")) {
        if (vd_parse_seconds(&secs, scalar(v)) < 0 || secs < 1 || secs > 300)
            return fail(w, v, "alarms.timeout must be 1s ... 5m");
        c->alarm_timeout = secs;
        return 0;
    }
    if (!strcmp(key, "webhook")) {
        if (get_str(&c->alarm_webhook, w, v, "alarms.webhook") < 0)
            return -1;
        if (!vd_webhook_url_ok(c->alarm_webhook))
            return fail(w, v, "alarms.webhook must be an https:// URL (or http:// to 127.0.0.1, "
                              "[::1] or localhost)");
        return 0;
    }
    if (!strcmp(key, "webhook_ca")) {
        if (get_str(&c->alarm_webhook_ca, w, v, "alarms.webhook_ca") < 0)
            return -1;
        if (c->alarm_webhook_ca[0] != '/' || access(c->alarm_webhook_ca, R_OK) != 0)
            return fail(w, v, "alarms.webhook_ca must be the absolute path of a readable file");
        return 0;
    }
    return fail(w, k, "unknown key '%s' in alarms (command, timeout, webhook, webhook_ca)", key);
}

static int retention_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    vd_config *c = arg;
    int64_t secs;

    if (!strcmp(key, "every")) {
        const char *s = scalar(v);

        if (s && !strcmp(s, "off")) {
            c->retention_every = 0;
            return 0;
        }
        if (vd_parse_seconds(&secs, s) < 0 || secs < 1 || secs > 30 * 86400)
            return fail(w, v, "retention.every must be off or 1s ... 30d (e.g. 24h)");
        c->retention_every = secs;
        return 0;
    }
    return fail(w, k, "unknown key '%s' in retention (every)", key);
}

static int top_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    vd_config *c = arg;

    if (!strcmp(key, "vault"))
        return get_str(&c->vault, w, v, "vault");
    if (!strcmp(key, "unlock"))
        return each_pair(w, v, "unlock", unlock_pair, c);
    if (!strcmp(key, "listen"))
        return each_pair(w, v, "listen", listen_pair, c);
    if (!strcmp(key, "clients"))
        return parse_clients(c, w, v);
    if (!strcmp(key, "issuers"))
        return parse_issuers(c, w, v);
    if (!strcmp(key, "limits"))
        return each_pair(w, v, "limits", limits_pair, c);
    if (!strcmp(key, "service"))
        return each_pair(w, v, "service", service_pair, c);
    if (!strcmp(key, "audit"))
        return each_pair(w, v, "audit", audit_pair, c);
    if (!strcmp(key, "alarms"))
        return each_pair(w, v, "alarms", alarms_pair, c);
    if (!strcmp(key, "retention"))
        return each_pair(w, v, "retention", retention_pair, c);
    return fail(w, k,
                "unknown key '%s' (vault, unlock, listen, clients, issuers, limits, service, "
                "audit, alarms, retention)",
                key);
}

int vd_config_load(vd_config **out, const char *path, char *err, size_t err_cap)
{
    FILE *f = NULL;
    yaml_parser_t parser;
    yaml_document_t doc;
    int have_parser = 0, have_doc = 0, rc = -1;
    vd_config *c = NULL;
    walk w = {&doc, path, err, err_cap};
    yaml_node_t *root;

    *out = NULL;
    err[0] = '\0';
    f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_cap, "%s: cannot open: %s", path, strerror(errno));
        goto cleanup;
    }
    /* It pins the issuers, the apps and the audit key: only its owner
     * (root or vaultd) may change it. */
    if (vd_file_trusted(fileno(f), path, "configuration", err, err_cap) < 0)
        goto cleanup;
    c = calloc(1, sizeof *c);
    if (!c || !(c->file = strdup(path))) {
        snprintf(err, err_cap, "%s: out of memory", path);
        goto cleanup;
    }
    c->unix_mode = 0660;
    c->clock_skew = 60;
    c->max_body = (size_t)1 << 20;
    c->max_import_body = (size_t)64 << 20;
    c->workers = 4;
    c->max_connections = 256;
    c->max_connections_per_ip = 64;
    c->request_timeout = 30;
    c->unlock_fd = -1;
    c->witness_retry = 30;
    c->witness_timeout = 5;
    c->alarm_timeout = 10;
    c->retention_every = 86400;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, err_cap, "%s: out of memory", path);
        goto cleanup;
    }
    have_parser = 1;
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, err_cap, "%s:%lu:%lu: %s", path, (unsigned long)parser.problem_mark.line + 1,
                 (unsigned long)parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "not valid YAML");
        goto cleanup;
    }
    have_doc = 1;
    root = yaml_document_get_root_node(&doc);
    if (!root) {
        snprintf(err, err_cap, "%s: the file is empty", path);
        goto cleanup;
    }
    if (each_pair(&w, root, "the configuration", top_pair, c) < 0)
        goto cleanup;
    if (!c->vault) {
        fail(&w, root, "the configuration needs 'vault' (the vault's path)");
        goto cleanup;
    }
    if (!c->unlock) {
        fail(&w, root, "the configuration needs 'unlock' (key_file, passphrase: prompt, or fd)");
        goto cleanup;
    }
    if (!c->unix_path && !c->tls_port) {
        fail(&w, root, "the configuration needs 'listen' with unix or tls (or both)");
        goto cleanup;
    }
    *out = c;
    c = NULL;
    rc = 0;
cleanup:
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_parser)
        yaml_parser_delete(&parser);
    if (f)
        fclose(f);
    vd_config_free(c);
    return rc;
}

void vd_config_free(vd_config *c)
{
    size_t i;

    if (!c)
        return;
    for (i = 0; i < c->nclients; i++) {
        free(c->clients[i].app);
        free(c->clients[i].tls_cn);
    }
    free(c->clients);
    for (i = 0; i < c->nissuers; i++) {
        vd_issuer *is = &c->issuers[i];
        free(is->name);
        free(is->iss);
        free(is->audience);
        free(is->key);
        free(is->kid);
        free(is->claim_user);
        free(is->claim_role);
        free(is->claim_department);
        free(is->claim_jurisdiction);
    }
    free(c->issuers);
    for (i = 0; i < c->nwitnesses; i++) {
        free(c->witnesses[i].key);
        free(c->witnesses[i].url);
    }
    free(c->witnesses);
    free(c->file);
    free(c->vault);
    free(c->audit_pubkey);
    free(c->alarm_command);
    free(c->alarm_webhook);
    free(c->alarm_webhook_ca);
    free(c->unlock_key_file);
    free(c->unix_path);
    free(c->tls_host);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->tls_client_ca);
    free(c->tls_crl);
    free(c);
}

/* client: client mode (client.h, docs/service.md "Client mode").
 *
 * One CURL easy handle per vault handle, used under the handle's mutex
 * (so one request at a time per handle, as every public call).  Unix
 * sockets through CURLOPT_UNIX_SOCKET_PATH; https with TLS 1.3 only, the
 * peer and host verified, an optional client certificate.  Request bodies
 * and answers that can hold field values are wiped when freed (answers
 * in a buffer wiped as it grows; jansson's memory through the wiping
 * allocator vault_init installs).  Every POST goes on a fresh connection
 * that is not reused: libcurl resends a request on a reused connection
 * that closed before any answer, and that must never repeat a write. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "client/client.h"
#include "crypto.h"
#include "names.h"
#include "result.h"

#define ANSWER_MAX ((size_t)64 << 20)   /* a JSON answer held in memory */
#define EXPORT_MAX ((size_t)1 << 34)    /* an audit export streamed to a file */
#define UPLOAD_MAX ((size_t)64 << 20)   /* a CSV or policy file sent */
#define TOKEN_MAX 16384                 /* an identity token, bytes */
#define URL_MAX 2048
#define TIMEOUT_DEFAULT_MS 30000L

struct vault_client {
    CURL *curl;
    int https;
    char *sock;               /* unix:// socket path, or NULL */
    char base[URL_MAX];       /* "http://localhost" or "https://host:port" */
    char *token;              /* vc_malloc'ed, wiped on replace and close */
    char *ca_file, *cert_file, *key_file;
    char purpose[VAULT_NAME_MAX];
    long timeout_ms;
};

/* ---- library set-up ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_setup(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---- the token ---- */

/* A JWT is base64url parts joined by dots: nothing else may go into the
 * Authorization header (no header injection through a token file). */
static int token_check(const char *t, size_t len)
{
    size_t i;

    if (len == 0)
        return vault__err(VAULT_EINVALID, "client: the identity token is empty");
    if (len >= TOKEN_MAX)
        return vault__err(VAULT_ELIMIT, "client: the identity token is longer than %d bytes",
                          TOKEN_MAX - 1);
    for (i = 0; i < len; i++) {
        char c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '='))
            return vault__err(VAULT_EINVALID,
                              "client: the identity token has a character outside base64url and "
                              "'.' at byte %zu",
                              i);
    }
    return VAULT_OK;
}

static int token_store(struct vault_client *c, const char *t, size_t len)
{
    int rc = VAULT_OK;
    char *copy = NULL;

    GUARD(token_check(t, len));
    copy = vc_malloc(len + 1);
    ENSURE(copy, VAULT_ENOMEM, "out of secure memory");
    memcpy(copy, t, len);
    copy[len] = '\0';
    vc_free(c->token);
    c->token = copy;
cleanup:
    return rc;
}

/* The token from a file: its text with surrounding white space dropped. */
static int token_from_file(struct vault_client *c, const char *path)
{
    int rc = VAULT_OK, fd = -1;
    char *buf = NULL;
    size_t len = 0, start = 0;
    ssize_t got;

    buf = vc_malloc(TOKEN_MAX + 1);
    ENSURE(buf, VAULT_ENOMEM, "out of secure memory");
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    ENSURE(fd >= 0, errno == ENOENT ? VAULT_ENOTFOUND : VAULT_EIO, "%s: cannot open: %s", path,
           strerror(errno));
    while (len <= TOKEN_MAX) {
        got = read(fd, buf + len, TOKEN_MAX + 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        ENSURE(got >= 0, VAULT_EIO, "%s: read failed: %s", path, strerror(errno));
        if (got == 0)
            break;
        len += (size_t)got;
    }
    ENSURE(len <= TOKEN_MAX, VAULT_ELIMIT, "%s: larger than %d bytes: not a token", path,
           TOKEN_MAX);
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                   buf[len - 1] == '\t'))
        len--;
    while (start < len && (buf[start] == ' ' || buf[start] == '\t' || buf[start] == '\n'))
        start++;
    rc = token_store(c, buf + start, len - start);
    if (rc < 0)
        rc = vault__err(rc, "%s: %s", path, vault_error_last());
cleanup:
    if (fd >= 0)
        close(fd);
    vc_free(buf); /* wipes */
    return rc;
}

/* ---- URLs ---- */

static int parse_url(struct vault_client *c, const char *url)
{
    int rc = VAULT_OK;
    const char *rest;

    if (!strncmp(url, "unix://", 7)) {
        rest = url + 7;
        ENSURE(rest[0] == '/' && rest[1], VAULT_EINVALID,
               "client: a unix URL names an absolute socket path: unix:///run/vaultd/vaultd.sock");
        ENSURE(strlen(rest) < 108, VAULT_ELIMIT, "client: the socket path is too long");
        c->sock = strdup(rest);
        ENSURE(c->sock, VAULT_ENOMEM, "out of memory");
        snprintf(c->base, sizeof c->base, "http://localhost");
    } else if (!strncmp(url, "https://", 8)) {
        rest = url + 8;
        ENSURE(*rest && !strpbrk(rest, "/?#@ \t\r\n"), VAULT_EINVALID,
               "client: an https URL is https://HOST:PORT, with no path");
        ENSURE(strlen(url) < sizeof c->base, VAULT_ELIMIT, "client: the URL is too long");
        snprintf(c->base, sizeof c->base, "%s", url);
        c->https = 1;
    } else {
        rc = vault__err(VAULT_EINVALID,
                        "client: the URL must start unix:// or https:// (http is refused: "
                        "tokens never travel in clear)");
    }
cleanup:
    return rc;
}

/* ---- one request ---- */

/* The answer: in memory (wiped as it grows and when freed) or, for an
 * export that succeeded, streamed to `sink`. */
typedef struct answer {
    CURL *curl;
    char *p;
    size_t len, cap, max;
    int over;
    FILE *sink;
    int sink_failed;
} answer;

static void answer_free(answer *a)
{
    if (a->p) {
        sodium_memzero(a->p, a->cap);
        free(a->p);
    }
    a->p = NULL;
    a->len = a->cap = 0;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    answer *a = arg;
    size_t n = size * nmemb, cap;
    long status = 0;
    char *p;

    if (a->len > a->max || n > a->max - a->len) {
        a->over = 1;
        return 0; /* stops the transfer */
    }
    if (a->sink) {
        curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            if (fwrite(data, 1, n, a->sink) != n) {
                a->sink_failed = 1;
                return 0;
            }
            a->len += n;
            return n;
        }
    }
    if (a->cap - a->len < n + 1) {
        cap = a->cap ? a->cap : 4096;
        while (cap - a->len < n + 1)
            cap *= 2;
        p = malloc(cap);
        if (!p)
            return 0;
        if (a->len)
            memcpy(p, a->p, a->len);
        if (a->p) { /* the old buffer, wiped */
            sodium_memzero(a->p, a->cap);
            free(a->p);
        }
        a->p = p;
        a->cap = cap;
    }
    memcpy(a->p + a->len, data, n);
    a->len += n;
    a->p[a->len] = '\0';
    return n;
}

/* The library code named by an error document's "code". */
static int code_of(const char *name)
{
    int code;

    for (code = VAULT_ERROR; code >= VAULT_ESTATE; code--)
        if (name && !strcmp(name, vault_error_name(code)))
            return code;
    return VAULT_ERROR;
}

static int transport_error(const struct vault_client *c, CURLcode cc, const char *detail)
{
    const char *what = *detail ? detail : curl_easy_strerror(cc);

    switch (cc) {
    case CURLE_PEER_FAILED_VERIFICATION:
        return vault__err(VAULT_EAUTH, "vaultd: %s: the server's certificate did not verify: %s",
                          c->base, what);
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return vault__err(VAULT_EINVALID, "vaultd: a certificate or key file cannot be used: %s",
                          what);
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return vault__err(VAULT_EIO, "vaultd: connection lost: cannot connect to %s: %s",
                          c->sock ? c->sock : c->base, what);
    case CURLE_OPERATION_TIMEDOUT:
        return vault__err(VAULT_EIO, "vaultd: connection lost: no answer within %ld ms",
                          c->timeout_ms);
    default:
        return vault__err(VAULT_EIO, "vaultd: connection lost: %s", what);
    }
}

/* The options every request sets (the handle is reset before each). */
static int set_common(struct vault_client *c, const char *url, char *errbuf)
{
    CURL *h = c->curl;
    CURLcode cc = CURLE_OK;

    cc |= curl_easy_setopt(h, CURLOPT_URL, url);
    cc |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    cc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    cc |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    cc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
    cc |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    cc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, c->https ? "https" : "http");
    cc |= curl_easy_setopt(h, CURLOPT_PROXY, ""); /* never through a proxy from the environment */
    if (c->sock)
        cc |= curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->sock);
    if (c->https) {
        cc |= curl_easy_setopt(h, CURLOPT_SSLVERSION,
                               (long)(CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_DEFAULT));
        cc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        cc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        if (c->ca_file) {
            /* trust that CA alone: not the system's store as well (which
             * libcurl-gnutls would also load, ~145 files, per connection) */
            cc |= curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
            cc |= curl_easy_setopt(h, CURLOPT_CAPATH, (char *)NULL);
        }
        if (c->cert_file)
            cc |= curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
        if (c->key_file)
            cc |= curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
    }
    return cc == CURLE_OK ? VAULT_OK
                          : vault__err(VAULT_ERROR, "client: libcurl refused an option (%s)",
                                       curl_easy_strerror(cc));
}

/* Send one request and take its answer.
 *   path     "/v1/...", with query_purpose appended as ?purpose= when set
 *   body     a JSON body (POST), or NULL
 *   raw      a text/csv body (POST) of raw_len bytes, or NULL
 *   sink     where a successful answer's bytes go (no *out then)
 *   token    0 for /v1/health (no Authorization header)
 * *out receives the parsed JSON answer (an object).  A non-2xx answer is
 * the error its document names, with its message. */
static int request(json_t **out, struct vault_client *c, const char *method, const char *path,
                   const char *query_purpose, const json_t *body, const char *raw,
                   size_t raw_len, FILE *sink, int token)
{
    int rc = VAULT_OK;
    char url[URL_MAX + 256], errbuf[CURL_ERROR_SIZE], *auth = NULL, *text = NULL, *esc = NULL;
    size_t auth_len = 0, text_len = 0;
    struct curl_slist *hdr = NULL, *tmp;
    answer a;
    long status = 0;
    CURLcode cc;
    json_t *doc = NULL, *err;
    json_error_t jerr;

    memset(&a, 0, sizeof a);
    a.curl = c->curl;
    a.max = sink ? EXPORT_MAX : ANSWER_MAX;
    a.sink = sink;
    errbuf[0] = '\0';
    if (out)
        *out = NULL;
    ENSURE(!token || c->token, VAULT_EAUTH, "client: no identity token (vault_set_token)");
    if (query_purpose) {
        esc = curl_easy_escape(c->curl, query_purpose, 0);
        ENSURE(esc, VAULT_ENOMEM, "out of memory");
    }
    ENSURE(snprintf(url, sizeof url, "%s%s%s%s", c->base, path, esc ? "?purpose=" : "",
                    esc ? esc : "") < (int)sizeof url,
           VAULT_ELIMIT, "client: the request URL is too long");
    curl_easy_reset(c->curl);
    GUARD(set_common(c, url, errbuf));
    if (token) {
        auth_len = strlen(c->token) + 32;
        auth = vc_malloc(auth_len);
        ENSURE(auth, VAULT_ENOMEM, "out of secure memory");
        snprintf(auth, auth_len, "Authorization: Bearer %s", c->token);
        tmp = curl_slist_append(hdr, auth);
        ENSURE(tmp, VAULT_ENOMEM, "out of memory");
        hdr = tmp;
    }
    tmp = curl_slist_append(hdr, "Expect:");
    ENSURE(tmp, VAULT_ENOMEM, "out of memory");
    hdr = tmp;
    if (!strcmp(method, "POST")) {
        if (body) {
            text = json_dumps(body, JSON_COMPACT);
            ENSURE(text, VAULT_ENOMEM, "out of memory");
            text_len = strlen(text);
            raw = text;
            raw_len = text_len;
        }
        tmp = curl_slist_append(hdr, body ? "Content-Type: application/json"
                                          : "Content-Type: text/csv; charset=utf-8");
        ENSURE(tmp, VAULT_ENOMEM, "out of memory");
        hdr = tmp;
        cc = curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
        cc |= curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, raw ? raw : "");
        cc |= curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                               (curl_off_t)(raw ? raw_len : 0));
        /* A write is sent once, on a connection of its own. */
        cc |= curl_easy_setopt(c->curl, CURLOPT_FRESH_CONNECT, 1L);
        cc |= curl_easy_setopt(c->curl, CURLOPT_FORBID_REUSE, 1L);
    } else {
        cc = curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    }
    cc |= curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdr);
    cc |= curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
    cc |= curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &a);
    ENSURE(cc == CURLE_OK, VAULT_ERROR, "client: libcurl refused an option");
    cc = curl_easy_perform(c->curl);
    if (cc == CURLE_WRITE_ERROR && a.over) {
        rc = vault__err(VAULT_ELIMIT, "vaultd: the answer is larger than %zu bytes", a.max);
        goto cleanup;
    }
    if (cc == CURLE_WRITE_ERROR && a.sink_failed) {
        rc = vault__err(VAULT_EIO, "client: writing the answer failed: %s", strerror(errno));
        goto cleanup;
    }
    if (cc != CURLE_OK) {
        rc = transport_error(c, cc, errbuf);
        goto cleanup;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) {
        doc = a.p ? json_loadb(a.p, a.len, 0, &jerr) : NULL;
        err = json_object_get(doc, "error");
        if (!json_is_string(json_object_get(err, "code")) ||
            !json_is_string(json_object_get(err, "message"))) {
            rc = vault__err(VAULT_EIO, "vaultd: HTTP %ld without an error document", status);
            goto cleanup;
        }
        rc = vault__err(code_of(json_string_value(json_object_get(err, "code"))), "%s",
                        json_string_value(json_object_get(err, "message")));
        goto cleanup;
    }
    if (sink)
        goto cleanup;
    doc = a.p ? json_loadb(a.p, a.len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    ENSURE(json_is_object(doc), VAULT_EIO, "vaultd: the answer is not a JSON object");
    *out = doc;
    doc = NULL;
cleanup:
    if (text) {
        sodium_memzero(text, text_len);
        free(text);
    }
    vc_free(auth);
    /* The list holds a copy of the Authorization header: wipe it first
     * (libcurl's own request buffer can't be reached: docs/security.md). */
    for (tmp = hdr; tmp; tmp = tmp->next)
        if (tmp->data)
            sodium_memzero(tmp->data, strlen(tmp->data));
    curl_slist_free_all(hdr);
    curl_free(esc);
    answer_free(&a);
    json_decref(doc);
    return rc;
}

/* A POST with a JSON body (stolen: freed here). */
static int post(json_t **out, vault *v, const char *path, json_t *body)
{
    int rc;

    if (!body)
        return vault__err(VAULT_EINVALID,
                          "client: a request argument is not UTF-8 text (or out of memory)");
    rc = request(out, v->remote, "POST", path, NULL, body, NULL, 0, NULL, 1);
    json_decref(body);
    return rc;
}

/* ---- entering and leaving a call ---- */

static int enter(vault *v)
{
    if (!v || !v->remote)
        return vault__err(VAULT_EINVALID, "no vault handle");
    pthread_mutex_lock(&v->lock);
    vault__err_clear();
    return VAULT_OK;
}

static void leave(vault *v)
{
    pthread_mutex_unlock(&v->lock);
}

static int enter_session(vault_session *s)
{
    if (!s)
        return vault__err(VAULT_EINVALID, "no session");
    return enter(s->v);
}

/* The purpose of a call that takes no session. */
static int handle_purpose(const char **out, vault *v)
{
    *out = v->remote->purpose;
    if (!**out)
        return vault__err(VAULT_ESTATE,
                          "client mode: this call takes no session, so it needs the purpose given "
                          "at connect (vault_credentials.purpose)");
    return VAULT_OK;
}

/* A body {"purpose": P} for a session's or the handle's purpose. */
static json_t *body_for(const char *purpose)
{
    return json_pack("{s:s}", "purpose", purpose);
}

static const char *str_member(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Copy a string member of the answer into out (out_size bytes). */
static int copy_member(char *out, size_t out_size, const json_t *o, const char *key)
{
    const char *s = str_member(o, key);

    if (!s)
        return vault__err(VAULT_EIO, "vaultd: the answer has no '%s'", key);
    if (strlen(s) >= out_size)
        return vault__err(VAULT_EINVALID, "output buffer too small for '%s'", key);
    memcpy(out, s, strlen(s) + 1);
    return VAULT_OK;
}

/* A string member as a new vault_free-able string. */
static int dup_member(char **out, const json_t *o, const char *key)
{
    const char *s = str_member(o, key);

    *out = NULL;
    if (!s)
        return vault__err(VAULT_EIO, "vaultd: the answer has no '%s'", key);
    *out = strdup(s);
    return *out ? VAULT_OK : vault__err(VAULT_ENOMEM, "out of memory");
}

/* A JSON member as text the way the embedded calls write it. */
static int dump_member(char **out, const json_t *o, const char *key)
{
    const json_t *m = json_object_get(o, key);

    *out = NULL;
    if (!m)
        return vault__err(VAULT_EIO, "vaultd: the answer has no '%s'", key);
    *out = json_dumps(m, JSON_INDENT(2));
    return *out ? VAULT_OK : vault__err(VAULT_ENOMEM, "out of memory");
}

static const char *const action_names[] = {"read", "write", "create", "search", "erase", "export"};

static int action_name(const char **out, int action)
{
    if (action < 0 || action >= (int)VAULT_ARRAY_LEN(action_names))
        return vault__err(VAULT_EINVALID, "unknown action %d", action);
    *out = action_names[action];
    return VAULT_OK;
}

static int effect_code(const char *name)
{
    if (name && !strcmp(name, "allow"))
        return VAULT_EFFECT_ALLOW;
    if (name && !strcmp(name, "mask"))
        return VAULT_EFFECT_MASK;
    return VAULT_EFFECT_DENY;
}

static void reason_fill(vault_reason *r, const json_t *o, const char *text_key)
{
    memset(r, 0, sizeof *r);
    r->effect = effect_code(str_member(o, "effect"));
    snprintf(r->rule, sizeof r->rule, "%s", str_member(o, "rule") ? str_member(o, "rule") : "");
    snprintf(r->where, sizeof r->where, "%s",
             str_member(o, "where") ? str_member(o, "where") : "");
    snprintf(r->grant, sizeof r->grant, "%s",
             str_member(o, "grant") ? str_member(o, "grant") : "");
    snprintf(r->text, sizeof r->text, "%s",
             str_member(o, text_key) ? str_member(o, text_key) : "");
}

/* ---- the handle ---- */

int vault_connect(vault **out, const char *url, const vault_credentials *cred)
{
    int rc = VAULT_OK;
    vault *v = NULL;
    struct vault_client *c = NULL;
    vault_credentials cred_l;

    ENSURE(out && url && cred, VAULT_EINVALID, "vault_connect: missing output, URL or credentials");
    *out = NULL;
    VAULT_OPT_IN(cred, cred_l, "vault_credentials", "VAULT_CREDENTIALS_INIT");
    GUARD(vault_init());
    pthread_once(&curl_once, curl_setup);
    ENSURE(curl_ok, VAULT_ERROR, "client: libcurl failed to initialise");
    ENSURE(!cred->token != !cred->token_file, VAULT_EINVALID,
           "vault_connect: give the token or the token file, one of them");
    ENSURE(cred->timeout_ms >= 0, VAULT_EINVALID, "vault_connect: a negative timeout");
    c = calloc(1, sizeof *c);
    ENSURE(c, VAULT_ENOMEM, "out of memory");
    c->timeout_ms = cred->timeout_ms ? cred->timeout_ms : TIMEOUT_DEFAULT_MS;
    GUARD(parse_url(c, url));
    ENSURE(c->https || (!cred->ca_file && !cred->cert_file && !cred->key_file), VAULT_EINVALID,
           "vault_connect: CA, certificate and key files are for https URLs (a Unix socket's "
           "app is its peer uid)");
    ENSURE(!cred->cert_file == !cred->key_file, VAULT_EINVALID,
           "vault_connect: a client certificate needs its key, and a key its certificate");
    if (cred->purpose) {
        GUARD(vault__name_check(cred->purpose, "purpose"));
        snprintf(c->purpose, sizeof c->purpose, "%s", cred->purpose);
    }
    c->ca_file = dup_or_null(cred->ca_file);
    c->cert_file = dup_or_null(cred->cert_file);
    c->key_file = dup_or_null(cred->key_file);
    ENSURE((!cred->ca_file || c->ca_file) && (!cred->cert_file || c->cert_file) &&
               (!cred->key_file || c->key_file),
           VAULT_ENOMEM, "out of memory");
    if (cred->token)
        GUARD(token_store(c, cred->token, strlen(cred->token)));
    else
        GUARD(token_from_file(c, cred->token_file));
    c->curl = curl_easy_init();
    ENSURE(c->curl, VAULT_ENOMEM, "client: libcurl could not make a handle");
    v = calloc(1, sizeof *v);
    ENSURE(v, VAULT_ENOMEM, "out of memory");
    ENSURE(pthread_mutex_init(&v->lock, NULL) == 0, VAULT_ERROR, "cannot create a mutex");
    v->remote = c;
    c = NULL;
    /* Reach vaultd once, so a wrong URL or CA fails here and not later. */
    {
        char id[VAULT_ID_HEX_SIZE];
        GUARD(client_id(id, sizeof id, v));
    }
    *out = v;
    v = NULL;
cleanup:
    if (v)
        client_close(v);
    if (c) {
        if (c->curl)
            curl_easy_cleanup(c->curl);
        vc_free(c->token);
        free(c->sock);
        free(c->ca_file);
        free(c->cert_file);
        free(c->key_file);
        free(c);
    }
    return rc;
}

int vault_set_token(vault *v, const char *token)
{
    int rc = VAULT_OK;

    ENSURE(v && token, VAULT_EINVALID, "vault_set_token: missing handle or token");
    ENSURE(v->remote, VAULT_ESTATE,
           "vault_set_token: an embedded handle has no token (client mode only: vault_connect)");
    GUARD(enter(v));
    rc = token_store(v->remote, token, strlen(token));
    leave(v);
cleanup:
    return rc;
}

void client_close(vault *v)
{
    struct vault_client *c = v->remote;

    if (c) {
        if (c->curl)
            curl_easy_cleanup(c->curl);
        vc_free(c->token);
        free(c->sock);
        free(c->ca_file);
        free(c->cert_file);
        free(c->key_file);
        free(c);
    }
    pthread_mutex_destroy(&v->lock);
    free(v);
}

int client_unsupported(const char *call, const char *why)
{
    vault__err_clear();
    return vault__err(VAULT_ESTATE, "%s: not available in client mode (%s)", call, why);
}

int client_id(char *out, size_t out_size, const vault *cv)
{
    int rc = VAULT_OK;
    vault *v = (vault *)cv; /* the handle's mutex and CURL handle; nothing else changes */
    json_t *ans = NULL;

    ENSURE(out && out_size >= VAULT_ID_HEX_SIZE, VAULT_EINVALID,
           "vault_id: output buffer too small");
    GUARD(enter(v));
    rc = request(&ans, v->remote, "GET", "/v1/health", NULL, NULL, NULL, 0, NULL, 0);
    if (rc == VAULT_OK)
        rc = copy_member(out, out_size, ans, "vault");
    if (rc == VAULT_OK && strlen(out) != VAULT_ID_HEX_SIZE - 1)
        rc = vault__err(VAULT_EIO, "vaultd: the health answer names no vault id");
    leave(v);
cleanup:
    json_decref(ans);
    return rc;
}

int client_db_key(char *out, size_t out_size, vault *v)
{
    int rc = VAULT_OK;
    const char *purpose;
    json_t *ans = NULL;

    GUARD(enter(v));
    rc = handle_purpose(&purpose, v);
    if (rc == VAULT_OK)
        rc = post(&ans, v, "/v1/db-key", body_for(purpose));
    if (rc == VAULT_OK)
        rc = copy_member(out, out_size, ans, "db_key");
    leave(v);
cleanup:
    json_decref(ans); /* wiped on free (vault_init's allocator) */
    return rc;
}

/* ---- sessions ---- */

int client_session_open(vault_session **out, vault *v, const vault_subject *subject)
{
    int rc = VAULT_OK;
    vault_session *s = NULL;

    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    ENSURE(subject && subject->purpose, VAULT_EINVALID,
           "client mode: a session needs a purpose (the subject comes from the token)");
    GUARD(vault__name_check(subject->purpose, "purpose"));
    s = calloc(1, sizeof *s);
    ENSURE(s, VAULT_ENOMEM, "out of memory");
    s->v = v;
    snprintf(s->purpose, sizeof s->purpose, "%s", subject->purpose);
    *out = s;
cleanup:
    return rc;
}

/* ---- decisions ---- */

static json_t *decision_body(vault_session *s, int action, const char *record_id,
                             const char *field, int *rc)
{
    const char *a = NULL;
    json_t *b;

    if ((*rc = action_name(&a, action)) < 0)
        return NULL;
    if (!record_id) {
        *rc = vault__err(VAULT_EINVALID, "missing record id");
        return NULL;
    }
    b = json_pack("{s:s,s:s,s:s}", "purpose", s->purpose, "action", a, "id", record_id);
    if (b && field)
        json_object_set_new(b, "field", json_string(field));
    if (!b)
        *rc = vault__err(VAULT_ENOMEM, "out of memory");
    return b;
}

/* decide and explain: one request of the session with the decision's
 * arguments; *ans receives the answer (json_decref it, also on failure). */
static int decision_call(json_t **ans, vault_session *s, const char *path, int action,
                         const char *record_id, const char *field)
{
    int rc = VAULT_OK;
    json_t *b;

    *ans = NULL;
    GUARD(enter_session(s));
    b = decision_body(s, action, record_id, field, &rc);
    if (rc == VAULT_OK)
        rc = post(ans, s->v, path, b);
    leave(s->v);
cleanup:
    return rc;
}

int client_decide(vault_reason *out, vault_session *s, int action, const char *record_id,
                  const char *field)
{
    int rc = VAULT_OK;
    json_t *ans = NULL;

    ENSURE(out, VAULT_EINVALID, "missing output");
    GUARD(decision_call(&ans, s, "/v1/policy/decide", action, record_id, field));
    reason_fill(out, ans, "reason");
cleanup:
    json_decref(ans);
    return rc;
}

int client_explain(char **out, vault_session *s, int action, const char *record_id,
                   const char *field)
{
    int rc = VAULT_OK;
    json_t *ans = NULL;

    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    GUARD(decision_call(&ans, s, "/v1/policy/explain", action, record_id, field));
    GUARD(dup_member(out, ans, "explanation"));
cleanup:
    json_decref(ans);
    return rc;
}

/* A listing route's answer: the JSON member as the library writes it, or
 * the text vaultd's library wrote. */
static int listing(char **out, vault *v, const char *path, json_t *b, const char *member,
                   int as_json)
{
    int rc;
    json_t *ans = NULL;

    if (b && !as_json)
        json_object_set_new(b, "format", json_string("text"));
    rc = post(&ans, v, path, b);
    if (rc == VAULT_OK)
        rc = as_json ? dump_member(out, ans, member) : dup_member(out, ans, "text");
    json_decref(ans);
    return rc;
}

int client_who_can(char **out, vault *v, const char *field, const char *record_id, int as_json)
{
    int rc = VAULT_OK;
    const char *purpose;
    json_t *b;

    ENSURE(out && field, VAULT_EINVALID, "missing output or field");
    *out = NULL;
    GUARD(enter(v));
    rc = handle_purpose(&purpose, v);
    if (rc == VAULT_OK) {
        b = json_pack("{s:s,s:s}", "purpose", purpose, "field", field);
        if (b && record_id)
            json_object_set_new(b, "id", json_string(record_id));
        rc = listing(out, v, "/v1/policy/who-can", b, "who", as_json);
    }
    leave(v);
cleanup:
    return rc;
}

int client_policy_source(char **out, char *out_hash, size_t out_hash_size, vault *v)
{
    int rc = VAULT_OK;
    const char *purpose;
    json_t *ans = NULL;

    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    GUARD(enter(v));
    rc = handle_purpose(&purpose, v);
    if (rc == VAULT_OK)
        rc = request(&ans, v->remote, "GET", "/v1/policy", purpose, NULL, NULL, 0, NULL, 1);
    if (rc == VAULT_OK && out_hash)
        rc = copy_member(out_hash, out_hash_size, ans, "sha256");
    if (rc == VAULT_OK)
        rc = dup_member(out, ans, "yaml");
    leave(v);
cleanup:
    json_decref(ans);
    return rc;
}

/* A whole file (at most `max` bytes) in memory; *out wiped by the caller. */
static int read_file(char **out, size_t *out_len, const char *path, size_t max)
{
    int rc = VAULT_OK;
    FILE *f = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    struct stat st;

    *out = NULL;
    f = fopen(path, "rb");
    ENSURE(f, errno == ENOENT ? VAULT_ENOTFOUND : VAULT_EIO, "%s: cannot open: %s", path,
           strerror(errno));
    ENSURE(fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode), VAULT_EINVALID,
           "%s: not a regular file", path);
    ENSURE((size_t)st.st_size <= max, VAULT_ELIMIT, "%s: larger than %zu bytes", path, max);
    cap = (size_t)st.st_size + 1;
    buf = malloc(cap);
    ENSURE(buf, VAULT_ENOMEM, "out of memory");
    got = fread(buf, 1, cap, f);
    ENSURE(!ferror(f), VAULT_EIO, "%s: read failed", path);
    ENSURE(got < cap, VAULT_ELIMIT, "%s: grew while it was read", path);
    len = got;
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    buf = NULL;
cleanup:
    if (f)
        fclose(f);
    if (buf) {
        sodium_memzero(buf, cap);
        free(buf);
    }
    return rc;
}

/* vaultd names the file it was sent by its own copy (an in-memory file,
 * a private directory): put the caller's path back at the front of a
 * "FILE:LINE:..." message whose FILE starts with `server_prefix`. */
static int local_file_name(int rc, const char *path, const char *server_prefix)
{
    char msg[1024];
    const char *colon;

    if (rc >= 0 || strncmp(vault_error_last(), server_prefix, strlen(server_prefix)) != 0)
        return rc;
    snprintf(msg, sizeof msg, "%s", vault_error_last());
    colon = strchr(msg + strlen(server_prefix), ':');
    if (!colon)
        return rc;
    return vault__err(rc, "%s%s", path, colon);
}

int client_policy_apply(char **out_report, vault *v, const char *policy_file)
{
    int rc = VAULT_OK, entered = 0;
    const char *purpose, *name;
    char *yaml = NULL;
    size_t len = 0;
    json_t *ans = NULL, *b;

    if (out_report)
        *out_report = NULL;
    ENSURE(policy_file, VAULT_EINVALID, "missing policy file");
    GUARD(enter(v));
    entered = 1;
    GUARD(handle_purpose(&purpose, v));
    GUARD(read_file(&yaml, &len, policy_file, UPLOAD_MAX));
    ENSURE(strlen(yaml) == len, VAULT_EPOLICY, "%s: the policy holds a NUL byte", policy_file);
    name = strrchr(policy_file, '/');
    name = name ? name + 1 : policy_file;
    b = json_pack("{s:s,s:s,s:s}", "purpose", purpose, "filename", name, "yaml", yaml);
    ENSURE(b, VAULT_EPOLICY, "%s: the policy is not valid UTF-8", policy_file);
    /* vaultd names the policy by the file name sent ("NAME:LINE:COL: ...") */
    rc = post(&ans, v, "/v1/policy/apply", b);
    if (rc < 0 && strncmp(vault_error_last(), name, strlen(name)) == 0 &&
        vault_error_last()[strlen(name)] == ':') {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", vault_error_last() + strlen(name));
        rc = vault__err(rc, "%s%s", policy_file, msg);
    }
    GUARD(rc);
    if (out_report)
        GUARD(dup_member(out_report, ans, "changes"));
cleanup:
    if (entered)
        leave(v);
    free(yaml);
    json_decref(ans);
    return rc;
}

/* ---- records ---- */

/* {"name": "value", ...} from parallel arrays: values must be UTF-8 (JSON
 * strings), names unique. */
static int values_object(json_t **out, size_t n, const char *const *fields,
                         const char *const *values, const size_t *lens)
{
    int rc = VAULT_OK;
    json_t *o = json_object(), *s;
    size_t i;

    *out = NULL;
    ENSURE(o, VAULT_ENOMEM, "out of memory");
    ENSURE(n == 0 || (fields && values && lens), VAULT_EINVALID, "missing fields or values");
    for (i = 0; i < n; i++) {
        ENSURE(fields[i] && values[i], VAULT_EINVALID, "field %zu: missing name or value", i);
        ENSURE(!json_object_get(o, fields[i]), VAULT_EINVALID, "field %.64s given twice",
               fields[i]);
        s = json_stringn(values[i], lens[i]);
        ENSURE(s, VAULT_EINVALID,
               "field %.64s: client mode sends values as JSON strings, so they must be UTF-8",
               fields[i]);
        ENSURE(json_object_set_new(o, fields[i], s) == 0, VAULT_EINVALID,
               "field %zu: the name is not UTF-8", i);
    }
    *out = o;
    o = NULL;
cleanup:
    json_decref(o);
    return rc;
}

/* One request of a session with one argument: {purpose, key: value} to
 * path; *ans receives the answer (json_decref it, also on failure). */
static int session_call(json_t **ans, vault_session *s, const char *path, const char *key,
                        const char *value)
{
    int rc = VAULT_OK;

    *ans = NULL;
    GUARD(enter_session(s));
    rc = post(ans, s->v, path, json_pack("{s:s,s:s}", "purpose", s->purpose, key, value));
    leave(s->v);
cleanup:
    return rc;
}

/* session_call, then the answer's string member `want` into out. */
static int session_copy(char *out, size_t out_size, vault_session *s, const char *path,
                        const char *key, const char *value, const char *want)
{
    int rc = VAULT_OK;
    json_t *ans = NULL;

    ENSURE(out && value, VAULT_EINVALID, "missing output or %s", key);
    GUARD(session_call(&ans, s, path, key, value));
    GUARD(copy_member(out, out_size, ans, want));
cleanup:
    json_decref(ans);
    return rc;
}

int client_record_create(char *out_id, size_t out_id_size, vault_session *s,
                         const char *jurisdiction)
{
    return session_copy(out_id, out_id_size, s, "/v1/records/create", "jurisdiction",
                        jurisdiction, "id");
}

int client_record_add(char *out_id, size_t out_id_size, vault_session *s,
                      const char *jurisdiction, size_t n, const char *const *fields,
                      const char *const *values, const size_t *value_lens)
{
    int rc = VAULT_OK, entered = 0;
    json_t *ans = NULL, *vals = NULL;

    if (n == 0)
        return client_record_create(out_id, out_id_size, s, jurisdiction);
    ENSURE(out_id && jurisdiction, VAULT_EINVALID, "missing output or jurisdiction");
    GUARD(enter_session(s));
    entered = 1;
    GUARD(values_object(&vals, n, fields, values, value_lens));
    GUARD(post(&ans, s->v, "/v1/records/add",
               json_pack("{s:s,s:s,s:O}", "purpose", s->purpose, "jurisdiction", jurisdiction,
                         "fields", vals)));
    GUARD(copy_member(out_id, out_id_size, ans, "id"));
cleanup:
    if (entered)
        leave(s->v);
    json_decref(vals);
    json_decref(ans);
    return rc;
}

int client_record_update(vault_session *s, const char *record_id, size_t n,
                         const char *const *fields, const char *const *values,
                         const size_t *value_lens)
{
    int rc = VAULT_OK, entered = 0;
    json_t *ans = NULL, *vals = NULL;

    ENSURE(record_id, VAULT_EINVALID, "missing record id");
    GUARD(enter_session(s));
    entered = 1;
    GUARD(values_object(&vals, n, fields, values, value_lens));
    GUARD(post(&ans, s->v, "/v1/records/update",
               json_pack("{s:s,s:s,s:O}", "purpose", s->purpose, "id", record_id, "fields",
                         vals)));
cleanup:
    if (entered)
        leave(s->v);
    json_decref(vals);
    json_decref(ans);
    return rc;
}

/* One record's field results into a vault_result (values in its guarded
 * arena). */
static int result_from(vault_result **out, const json_t *fields)
{
    int rc = VAULT_OK;
    vault_result *r = NULL;
    const json_t *f;
    const char *name, *val, *b64;
    vault_reason why;
    unsigned char *bin = NULL;
    size_t i, n, binlen = 0, cap = 0;

    *out = NULL;
    ENSURE(json_is_array(fields), VAULT_EIO, "vaultd: a record answer without 'fields'");
    n = json_array_size(fields);
    GUARD(result_new(&r, n));
    for (i = 0; i < n; i++) {
        f = json_array_get(fields, i);
        name = str_member(f, "name");
        ENSURE(name && json_is_boolean(json_object_get(f, "present")), VAULT_EIO,
               "vaultd: field result %zu is malformed", i);
        reason_fill(&why, f, "reason");
        val = str_member(f, "value");
        b64 = str_member(f, "value_base64");
        if (val) {
            GUARD(result_set(r, i, name, why.effect, json_is_true(json_object_get(f, "present")),
                             val, json_string_length(json_object_get(f, "value")), &why));
        } else if (b64) {
            cap = strlen(b64);
            bin = vc_malloc(cap + 1);
            ENSURE(bin, VAULT_ENOMEM, "out of secure memory");
            ENSURE(sodium_base642bin(bin, cap + 1, b64, cap, NULL, &binlen, NULL,
                                     sodium_base64_VARIANT_ORIGINAL) == 0,
                   VAULT_EIO, "vaultd: field result %zu: bad value_base64", i);
            GUARD(result_set(r, i, name, why.effect, json_is_true(json_object_get(f, "present")),
                             (const char *)bin, binlen, &why));
            vc_free(bin);
            bin = NULL;
        } else {
            GUARD(result_set(r, i, name, why.effect, json_is_true(json_object_get(f, "present")),
                             NULL, 0, &why));
        }
    }
    *out = r;
    r = NULL;
cleanup:
    vc_free(bin);
    vault_result_free(r);
    return rc;
}

static json_t *strv(const char *const *v, size_t n)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a && i < n; i++) {
        if (!v[i] || json_array_append_new(a, json_string(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

int client_record_get_batch(vault_result **out, vault_session *s, const char *const *record_ids,
                            size_t n, const char *const *fields, size_t nfields)
{
    int rc = VAULT_OK, entered = 0;
    json_t *ans = NULL, *b = NULL, *recs, *rec, *ids = NULL, *fl = NULL;
    size_t i;

    ENSURE(out && (record_ids || n == 0), VAULT_EINVALID, "missing output or record ids");
    for (i = 0; i < n; i++)
        out[i] = NULL;
    GUARD(enter_session(s));
    entered = 1;
    ids = strv(record_ids, n);
    ENSURE(ids, VAULT_EINVALID, "missing record id");
    if (fields) {
        fl = strv(fields, nfields);
        ENSURE(fl, VAULT_EINVALID, "missing or non-UTF-8 field name");
    }
    if (n == 1) {
        b = json_pack("{s:s,s:O}", "purpose", s->purpose, "id", json_array_get(ids, 0));
        if (b && fl)
            json_object_set(b, "fields", fl);
        GUARD(post(&ans, s->v, "/v1/records/get", b));
        GUARD(result_from(&out[0], json_object_get(ans, "fields")));
        goto cleanup;
    }
    ENSURE(n > 0, VAULT_EINVALID, "no record ids");
    b = json_pack("{s:s,s:O}", "purpose", s->purpose, "ids", ids);
    if (b && fl)
        json_object_set(b, "fields", fl);
    GUARD(post(&ans, s->v, "/v1/records/get-batch", b));
    recs = json_object_get(ans, "records");
    ENSURE(json_is_array(recs) && json_array_size(recs) == n, VAULT_EIO,
           "vaultd: the batch answer has not one result per record");
    for (i = 0; i < n; i++) {
        rec = json_array_get(recs, i);
        ENSURE(str_member(rec, "id") && !strcmp(str_member(rec, "id"), record_ids[i]), VAULT_EIO,
               "vaultd: the batch answer is out of order at %zu", i);
        GUARD(result_from(&out[i], json_object_get(rec, "fields")));
    }
cleanup:
    if (entered)
        leave(s->v);
    if (rc < 0)
        for (i = 0; out && i < n; i++) {
            vault_result_free(out[i]);
            out[i] = NULL;
        }
    json_decref(ids);
    json_decref(fl);
    json_decref(ans);
    return rc;
}

int client_record_find(char **out, size_t *out_count, vault_session *s, const char *field,
                       const char *value, size_t value_len)
{
    int rc = VAULT_OK, entered = 0;
    json_t *ans = NULL, *ids, *val;
    char *buf = NULL;
    size_t i, n;
    const char *id;

    ENSURE(out && out_count && field && value, VAULT_EINVALID, "missing output, field or value");
    *out = NULL;
    *out_count = 0;
    GUARD(enter_session(s));
    entered = 1;
    val = json_stringn(value, value_len);
    ENSURE(val, VAULT_EINVALID, "client mode sends the value searched for as a JSON string, so it "
                                "must be UTF-8");
    GUARD(post(&ans, s->v, "/v1/records/find",
               json_pack("{s:s,s:s,s:o}", "purpose", s->purpose, "field", field, "value", val)));
    ids = json_object_get(ans, "ids");
    ENSURE(json_is_array(ids), VAULT_EIO, "vaultd: the find answer has no 'ids'");
    n = json_array_size(ids);
    buf = calloc(n ? n : 1, VAULT_ID_HEX_SIZE);
    ENSURE(buf, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        id = json_string_value(json_array_get(ids, i));
        ENSURE(id && strlen(id) == VAULT_ID_HEX_SIZE - 1, VAULT_EIO,
               "vaultd: id %zu of the find answer is malformed", i);
        memcpy(buf + i * VAULT_ID_HEX_SIZE, id, VAULT_ID_HEX_SIZE);
    }
    *out = buf;
    *out_count = n;
    buf = NULL;
cleanup:
    if (entered)
        leave(s->v);
    free(buf);
    json_decref(ans);
    return rc;
}

int client_record_jurisdiction(char *out, size_t out_size, vault_session *s,
                               const char *record_id)
{
    return session_copy(out, out_size, s, "/v1/records/jurisdiction", "id", record_id,
                        "jurisdiction");
}

int client_record_erase(vault_session *s, const char *record_id)
{
    int rc = VAULT_OK;
    json_t *ans = NULL;

    ENSURE(record_id, VAULT_EINVALID, "missing record id");
    GUARD(session_call(&ans, s, "/v1/records/erase", "id", record_id));
    ENSURE(json_is_true(json_object_get(ans, "erased")), VAULT_EIO,
           "vaultd: the erase answer does not say erased");
cleanup:
    json_decref(ans);
    return rc;
}

int client_record_export(char **out, vault_session *s, const char *record_id)
{
    int rc = VAULT_OK;
    json_t *ans = NULL;

    ENSURE(out && record_id, VAULT_EINVALID, "missing output or record id");
    *out = NULL;
    GUARD(session_call(&ans, s, "/v1/records/export", "id", record_id));
    /* The same text the embedded call writes (jansson keeps the order). */
    *out = json_dumps(ans, JSON_INDENT(2));
    ENSURE(*out, VAULT_ENOMEM, "out of memory");
cleanup:
    json_decref(ans);
    return rc;
}

int client_import_csv(size_t *out_count, vault_session *s, const char *path)
{
    int rc = VAULT_OK, entered = 0;
    char *csv = NULL;
    size_t len = 0;
    json_t *ans = NULL, *n;

    if (out_count)
        *out_count = 0;
    ENSURE(path, VAULT_EINVALID, "missing CSV path");
    GUARD(enter_session(s));
    entered = 1;
    GUARD(read_file(&csv, &len, path, UPLOAD_MAX));
    GUARD(local_file_name(
        request(&ans, s->v->remote, "POST", "/v1/import", s->purpose, NULL, csv, len, NULL, 1),
        path, "/proc/self/fd/"));
    n = json_object_get(ans, "imported");
    ENSURE(json_is_integer(n) && json_integer_value(n) >= 0, VAULT_EIO,
           "vaultd: the import answer has no count");
    if (out_count)
        *out_count = (size_t)json_integer_value(n);
cleanup:
    if (entered)
        leave(s->v);
    if (csv) {
        sodium_memzero(csv, len);
        free(csv);
    }
    json_decref(ans);
    return rc;
}

/* ---- grants ---- */

static int set_opt_str(json_t *b, const char *key, const char *val)
{
    if (!val)
        return 0;
    return json_object_set_new(b, key, json_string(val));
}

int client_grant_issue(char *out_id, size_t out_id_size, int *out_pending,
                       vault_session *officer, const vault_grant_spec *g)
{
    int rc = VAULT_OK, entered = 0, bad = 0;
    json_t *ans = NULL, *b = NULL, *acts, *a;
    unsigned bit;

    ENSURE(out_id && g, VAULT_EINVALID, "missing output or grant");
    GUARD(enter_session(officer));
    entered = 1;
    ENSURE(g->effect == VAULT_EFFECT_ALLOW || g->effect == VAULT_EFFECT_MASK, VAULT_EINVALID,
           "a grant's effect is allow or mask");
    ENSURE(g->reason, VAULT_EINVALID, "a grant needs a reason");
    b = json_pack("{s:s,s:s,s:s,s:I}", "purpose", officer->purpose, "effect",
                  g->effect == VAULT_EFFECT_ALLOW ? "allow" : "mask", "reason", g->reason,
                  "not_after", (json_int_t)g->not_after);
    ENSURE(b, VAULT_EINVALID, "the grant's reason is not UTF-8");
    bad |= set_opt_str(b, "user", g->user);
    bad |= set_opt_str(b, "role", g->role);
    bad |= set_opt_str(b, "department", g->department);
    bad |= set_opt_str(b, "grade_min", g->grade_min);
    bad |= set_opt_str(b, "grade_max", g->grade_max);
    bad |= set_opt_str(b, "jurisdiction", g->jurisdiction);
    if (g->not_before)
        bad |= json_object_set_new(b, "not_before", json_integer((json_int_t)g->not_before));
    if (g->fields) {
        a = strv(g->fields, g->nfields);
        bad |= !a || json_object_set_new(b, "fields", a);
    }
    if (g->records) {
        a = strv(g->records, g->nrecords);
        bad |= !a || json_object_set_new(b, "records", a);
    }
    if (g->purposes && g->npurposes) {
        a = strv(g->purposes, g->npurposes);
        bad |= !a || json_object_set_new(b, "purposes", a);
    }
    if (g->actions) {
        acts = json_array();
        for (bit = 0; acts && bit < VAULT_ARRAY_LEN(action_names); bit++)
            if (g->actions & (1u << bit))
                bad |= json_array_append_new(acts, json_string(action_names[bit]));
        bad |= !acts || json_object_set_new(b, "actions", acts);
        ENSURE(!(g->actions >> VAULT_ARRAY_LEN(action_names)), VAULT_EINVALID,
               "unknown action bits in the grant");
    }
    ENSURE(!bad, VAULT_EINVALID, "a grant's names must be UTF-8 text");
    a = b;
    b = NULL;
    GUARD(post(&ans, officer->v, "/v1/grants/issue", a));
    GUARD(copy_member(out_id, out_id_size, ans, "id"));
    if (out_pending)
        *out_pending = json_is_true(json_object_get(ans, "pending"));
cleanup:
    if (entered)
        leave(officer->v);
    json_decref(b);
    json_decref(ans);
    return rc;
}

int client_grant_approve(vault_session *officer, const char *grant_id)
{
    int rc = VAULT_OK;
    json_t *ans = NULL;

    ENSURE(grant_id, VAULT_EINVALID, "missing grant id");
    GUARD(session_call(&ans, officer, "/v1/grants/approve", "id", grant_id));
cleanup:
    json_decref(ans);
    return rc;
}

int client_grant_revoke(vault_session *officer, const char *grant_id, const char *reason)
{
    int rc = VAULT_OK;
    json_t *ans = NULL;

    ENSURE(grant_id && reason, VAULT_EINVALID, "missing grant id or reason");
    GUARD(enter_session(officer));
    rc = post(&ans, officer->v, "/v1/grants/revoke",
              json_pack("{s:s,s:s,s:s}", "purpose", officer->purpose, "id", grant_id, "reason",
                        reason));
    leave(officer->v);
cleanup:
    json_decref(ans);
    return rc;
}

int client_grant_list(char **out, vault *v, int active_only, int as_json)
{
    int rc = VAULT_OK;
    const char *purpose;

    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    GUARD(enter(v));
    rc = handle_purpose(&purpose, v);
    if (rc == VAULT_OK)
        rc = listing(out, v, "/v1/grants/list",
                     json_pack("{s:s,s:b}", "purpose", purpose, "active_only", active_only),
                     "grants", as_json);
    leave(v);
cleanup:
    return rc;
}

int client_grant_warnings(char **out, vault *v, const char *grant_id)
{
    int rc = VAULT_OK;
    const char *purpose;
    json_t *ans = NULL;

    ENSURE(out && grant_id, VAULT_EINVALID, "missing output or grant id");
    *out = NULL;
    GUARD(enter(v));
    rc = handle_purpose(&purpose, v);
    if (rc == VAULT_OK)
        rc = post(&ans, v, "/v1/grants/warnings",
                  json_pack("{s:s,s:s}", "purpose", purpose, "id", grant_id));
    if (rc == VAULT_OK)
        rc = dup_member(out, ans, "warnings");
    leave(v);
cleanup:
    json_decref(ans);
    return rc;
}

int client_break_glass(char *out_id, size_t out_id_size, vault_session *s,
                       const char *record_id, const char *reason, int64_t seconds)
{
    int rc = VAULT_OK;
    json_t *ans = NULL;

    ENSURE(out_id && record_id && reason, VAULT_EINVALID, "missing output, record id or reason");
    GUARD(enter_session(s));
    rc = post(&ans, s->v, "/v1/break-glass",
              json_pack("{s:s,s:s,s:s,s:I}", "purpose", s->purpose, "id", record_id, "reason",
                        reason, "seconds", (json_int_t)seconds));
    if (rc == VAULT_OK)
        rc = copy_member(out_id, out_id_size, ans, "grant");
    leave(s->v);
cleanup:
    json_decref(ans);
    return rc;
}

/* ---- audit ---- */

int client_audit_checkpoint(char **out_note, vault *v)
{
    int rc = VAULT_OK;
    const char *purpose;
    json_t *ans = NULL;
    char *note = NULL;

    if (out_note)
        *out_note = NULL;
    GUARD(enter(v));
    rc = handle_purpose(&purpose, v);
    if (rc == VAULT_OK)
        rc = post(&ans, v, "/v1/audit/checkpoint", body_for(purpose));
    if (rc == VAULT_OK)
        rc = dup_member(&note, ans, "note");
    leave(v);
    if (rc == VAULT_OK && out_note) {
        *out_note = note;
        note = NULL;
    }
cleanup:
    free(note);
    json_decref(ans);
    return rc;
}

int client_audit_pubkey(char *out, size_t out_size, vault *v)
{
    int rc = VAULT_OK;
    const char *purpose;
    json_t *ans = NULL;

    ENSURE(out, VAULT_EINVALID, "missing output");
    GUARD(enter(v));
    rc = handle_purpose(&purpose, v);
    if (rc == VAULT_OK)
        rc = request(&ans, v->remote, "GET", "/v1/audit/pubkey", purpose, NULL, NULL, 0, NULL, 1);
    if (rc == VAULT_OK)
        rc = copy_member(out, out_size, ans, "verifier");
    leave(v);
cleanup:
    json_decref(ans);
    return rc;
}

static int audit_class(const char *name)
{
    /* Indexed by VAULT_AUDIT_* (af_class_name's names). */
    static const char *const names[] = {"ok",        "modified",      "missing",
                                        "reordered", "truncated",     "bad signature",
                                        "malformed", "rolled back",   "unwitnessed"};
    int i;

    for (i = 0; i < (int)VAULT_ARRAY_LEN(names); i++)
        if (name && !strcmp(name, names[i]))
            return i;
    return -1;
}

int client_audit_verify(vault_audit_result *out, vault *v, const char *const *notes,
                        size_t nnotes)
{
    int rc = VAULT_OK, entered = 0, cls;
    const char *purpose;
    json_t *ans = NULL, *b, *a;

    ENSURE(out, VAULT_EINVALID, "missing output");
    memset(out, 0, sizeof *out);
    ENSURE(notes || nnotes == 0, VAULT_EINVALID, "missing checkpoint notes");
    ENSURE(nnotes <= VAULT_AUDIT_NOTES_MAX, VAULT_ELIMIT, "at most %d checkpoint notes",
           VAULT_AUDIT_NOTES_MAX);
    GUARD(enter(v));
    entered = 1;
    GUARD(handle_purpose(&purpose, v));
    b = body_for(purpose);
    if (b && nnotes) {
        a = strv(notes, nnotes);
        ENSURE(a, VAULT_EINVALID, "a NULL or non-UTF-8 checkpoint note");
        json_object_set_new(b, "checkpoints", a);
    }
    GUARD(post(&ans, v, "/v1/audit/verify", b));
    cls = audit_class(str_member(ans, "class"));
    ENSURE(cls >= 0 && json_is_boolean(json_object_get(ans, "ok")) &&
               json_is_integer(json_object_get(ans, "entries")),
           VAULT_EIO, "vaultd: the verify answer is malformed");
    out->failure = cls;
    if (cls)
        snprintf(out->failure_name, sizeof out->failure_name, "%s", str_member(ans, "class"));
    out->bad_seq = (uint64_t)json_integer_value(json_object_get(ans, "bad_seq"));
    out->entries = (uint64_t)json_integer_value(json_object_get(ans, "entries"));
    out->checkpoints = (uint64_t)json_integer_value(json_object_get(ans, "checkpoints"));
    /* Older services leave these out: 0, "no signed time". */
    out->newest_size = (uint64_t)json_integer_value(json_object_get(ans, "newest_size"));
    out->newest_time = (int64_t)json_integer_value(json_object_get(ans, "newest_time"));
    snprintf(out->message, sizeof out->message, "%s",
             str_member(ans, "message") ? str_member(ans, "message") : "");
    if (!json_is_true(json_object_get(ans, "ok")) || cls != VAULT_AUDIT_OK)
        rc = vault__err(VAULT_EINTEGRITY, "%s", out->message);
cleanup:
    if (entered)
        leave(v);
    json_decref(ans);
    return rc;
}

int client_audit_proof(char **out_json, vault *v, const char *route, const char *log,
                       const char *k1, uint64_t a, const char *k2, uint64_t b)
{
    int rc = VAULT_OK, entered = 0;
    const char *purpose;
    json_t *ans = NULL, *body;

    ENSURE(out_json && route && k1 && k2, VAULT_EINVALID, "missing output");
    *out_json = NULL;
    ENSURE(a <= INT64_MAX && b <= INT64_MAX, VAULT_EINVALID, "a tree size beyond 2^63");
    GUARD(enter(v));
    entered = 1;
    GUARD(handle_purpose(&purpose, v));
    body = body_for(purpose);
    if (body && (json_object_set_new(body, k1, json_integer((json_int_t)a)) != 0 ||
                 json_object_set_new(body, k2, json_integer((json_int_t)b)) != 0 ||
                 (log && json_object_set_new(body, "log", json_string(log)) != 0))) {
        json_decref(body);
        body = NULL;
    }
    GUARD(post(&ans, v, route, body));
    *out_json = json_dumps(ans, JSON_COMPACT);
    ENSURE(*out_json, VAULT_EIO, "vaultd: the proof answer is not a JSON object");
cleanup:
    if (entered)
        leave(v);
    json_decref(ans);
    return rc;
}

int client_audit_bundle(char **out_json, vault *v, const char *record_id)
{
    int rc = VAULT_OK, entered = 0;
    const char *purpose;
    json_t *ans = NULL, *body;

    ENSURE(out_json && record_id, VAULT_EINVALID, "missing output or record id");
    *out_json = NULL;
    GUARD(enter(v));
    entered = 1;
    GUARD(handle_purpose(&purpose, v));
    body = body_for(purpose);
    if (body && json_object_set_new(body, "record", json_string(record_id)) != 0) {
        json_decref(body);
        body = NULL;
    }
    GUARD(post(&ans, v, "/v1/audit/bundle", body));
    /* The caller verifies it as any bundle from elsewhere. */
    *out_json = json_dumps(ans, JSON_COMPACT);
    ENSURE(*out_json, VAULT_EIO, "vaultd: the bundle answer is not a JSON object");
cleanup:
    if (entered)
        leave(v);
    json_decref(ans);
    return rc;
}

int client_audit_export(vault *v, const char *path)
{
    int rc = VAULT_OK, entered = 0, fd = -1, to_stdout;
    const char *purpose;
    char *tmp = NULL;
    FILE *f = NULL;
    json_t *b = NULL;
    size_t n;

    ENSURE(path, VAULT_EINVALID, "missing export path");
    to_stdout = !strcmp(path, "-");
    GUARD(enter(v));
    entered = 1;
    GUARD(handle_purpose(&purpose, v));
    if (to_stdout) {
        f = stdout;
    } else {
        /* As the embedded export: beside the target, then linked into place. */
        n = strlen(path) + 16;
        tmp = malloc(n);
        ENSURE(tmp, VAULT_ENOMEM, "out of memory");
        snprintf(tmp, n, "%s.partial", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        ENSURE(fd >= 0, errno == EEXIST ? VAULT_EEXISTS : VAULT_EIO, "%s: cannot create: %s", tmp,
               errno == EEXIST ? "it exists already" : strerror(errno));
        f = fdopen(fd, "w");
        if (!f) {
            rc = vault__err(VAULT_EIO, "%s: cannot create: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            goto cleanup;
        }
    }
    b = body_for(purpose);
    ENSURE(b, VAULT_ENOMEM, "out of memory");
    rc = request(NULL, v->remote, "POST", "/v1/audit/export", NULL, b, NULL, 0, f, 1);
    if (to_stdout) {
        fflush(stdout);
        goto cleanup;
    }
    if (rc == VAULT_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        rc = vault__err(VAULT_EIO, "%s: write failed", tmp);
    fclose(f);
    if (rc == VAULT_OK && link(tmp, path) != 0)
        rc = vault__err(errno == EEXIST ? VAULT_EEXISTS : VAULT_EIO, "%s: %s", path,
                        errno == EEXIST ? "already exists" : strerror(errno));
    unlink(tmp);
cleanup:
    if (entered)
        leave(v);
    json_decref(b);
    free(tmp);
    return rc;
}

int client_audit_report(char **out, vault *v, int kind, const char *arg, int as_json)
{
    static const char *const kinds[] = {NULL, "record", "user", "denied", "break_glass"};
    int rc = VAULT_OK;
    const char *purpose;
    json_t *b;

    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    ENSURE(kind >= VAULT_REPORT_RECORD && kind <= VAULT_REPORT_BREAK_GLASS, VAULT_EINVALID,
           "unknown report kind %d", kind);
    ENSURE(arg || (kind != VAULT_REPORT_RECORD && kind != VAULT_REPORT_USER), VAULT_EINVALID,
           "this report needs an argument");
    GUARD(enter(v));
    rc = handle_purpose(&purpose, v);
    if (rc == VAULT_OK) {
        b = json_pack("{s:s,s:s}", "purpose", purpose, "kind", kinds[kind]);
        if (b && arg && (kind == VAULT_REPORT_RECORD || kind == VAULT_REPORT_USER))
            json_object_set_new(b, "arg", json_string(arg));
        rc = listing(out, v, "/v1/audit/report", b, "entries", as_json);
    }
    leave(v);
cleanup:
    return rc;
}

int client_audit_anomalies(char **out, vault *v, int64_t window, int as_json)
{
    int rc = VAULT_OK;
    const char *purpose;
    json_t *b;

    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    GUARD(enter(v));
    rc = handle_purpose(&purpose, v);
    if (rc == VAULT_OK) {
        b = json_pack("{s:s,s:I}", "purpose", purpose, "window", (json_int_t)window);
        rc = listing(out, v, "/v1/audit/anomalies", b, "users", as_json);
    }
    leave(v);
cleanup:
    return rc;
}

int client_audit_summary(char **out, vault *v, const char *by, const char *month, int format)
{
    static const char *const formats[] = {"text", "json", "csv"};
    int rc = VAULT_OK;
    const char *purpose;
    json_t *b = NULL, *ans = NULL;

    ENSURE(out && month, VAULT_EINVALID, "missing output or month");
    *out = NULL;
    ENSURE(format >= VAULT_SUMMARY_TEXT && format <= VAULT_SUMMARY_CSV, VAULT_EINVALID,
           "audit summary: unknown format %d", format);
    GUARD(enter(v));
    rc = handle_purpose(&purpose, v);
    if (rc == VAULT_OK) {
        b = json_pack("{s:s,s:s,s:s}", "purpose", purpose, "month", month, "format",
                      formats[format]);
        if (b && by)
            json_object_set_new(b, "by", json_string(by));
        /* JSON: the member "summary"; text and CSV: "text" */
        rc = post(&ans, v, "/v1/audit/summary", b);
        if (rc == VAULT_OK)
            rc = format == VAULT_SUMMARY_JSON ? dump_member(out, ans, "summary")
                                              : dup_member(out, ans, "text");
    }
    leave(v);
cleanup:
    json_decref(ans);
    return rc;
}

int client_key_rotate(vault *v, const char *grade)
{
    int rc = VAULT_OK;
    const char *purpose;
    json_t *ans = NULL;

    ENSURE(grade, VAULT_EINVALID, "missing grade");
    GUARD(enter(v));
    rc = handle_purpose(&purpose, v);
    if (rc == VAULT_OK)
        rc = post(&ans, v, "/v1/keys/rotate",
                  json_pack("{s:s,s:s}", "purpose", purpose, "grade", grade));
    leave(v);
cleanup:
    json_decref(ans);
    return rc;
}

int client_retention(char **out, vault *v, int run, int as_json)
{
    int rc = VAULT_OK;
    const char *purpose;
    json_t *ans = NULL;

    ENSURE(out, VAULT_EINVALID, "missing output");
    *out = NULL;
    GUARD(enter(v));
    rc = handle_purpose(&purpose, v);
    if (rc == VAULT_OK)
        rc = post(&ans, v, run ? "/v1/retention/run" : "/v1/retention/plan",
                  json_pack("{s:s,s:s}", "purpose", purpose, "format", as_json ? "json" : "text"));
    if (rc == VAULT_OK)
        rc = as_json ? dump_member(out, ans, "retention") : dup_member(out, ans, "text");
    leave(v);
cleanup:
    json_decref(ans);
    return rc;
}

int vault_is_remote(const vault *v)
{
    return v && v->remote ? 1 : 0;
}

/* dispatch: one authenticated request, from its body's bytes to the
 * handler's answer, without the transport (http.c does the transport and
 * the authentication; fuzz/fuzz_request.c drives this part directly). */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "server.h"

int vd_http_status(int rc)
{
    switch (rc) {
    case VAULT_OK: return 200;
    case VAULT_EINVALID: return 400;
    case VAULT_EAUTH: return 401;
    case VAULT_EDENIED: return 403;
    case VAULT_ENOTFOUND: return 404;
    case VAULT_EEXISTS: return 409;
    case VAULT_ESTATE: return 409;
    case VAULT_EPOLICY: return 422;
    case VAULT_ELIMIT: return 413;
    case VAULT_EBUSY: return 503;
    default: return 500;
    }
}

const char *vd_code_name(int rc)
{
    return vault_error_name(rc);
}

int vd_fail(vd_request *r, int rc, const char *msg)
{
    const char *m = msg ? msg : vault_error_last();

    if (rc == VAULT_OK)
        rc = VAULT_ERROR;
    json_decref(r->out);
    if (r->text) {
        sodium_memzero(r->text, strlen(r->text));
        free(r->text);
    }
    r->text = NULL;
    r->status = vd_http_status(rc);
    r->out = json_pack("{s:{s:s,s:s}}", "error", "code", vd_code_name(rc), "message",
                       m && *m ? m : "request failed");
    return -1;
}

void vd_dispatch(vd_request *r, const char *body, size_t len, const char *query_purpose)
{
    json_error_t jerr;
    char msg[320];

    r->status = 200;
    r->out = NULL;
    r->text = NULL;
    if (r->route->raw_body) {
        r->raw = body ? body : "";
        r->raw_len = len;
        r->body = json_object();
    } else if (len) {
        r->body = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!r->body || !json_is_object(r->body)) {
            if (!r->body) /* not jansson's text: it quotes the body, values included */
                snprintf(msg, sizeof msg,
                         "request body: line %d column %d: not valid JSON (or a duplicate key)",
                         jerr.line, jerr.column);
            else
                snprintf(msg, sizeof msg, "request body must be a JSON object");
            json_decref(r->body);
            r->body = NULL;
            vd_fail(r, VAULT_EINVALID, msg);
            return;
        }
    } else {
        r->body = json_object();
    }
    if (!r->body) {
        vd_fail(r, VAULT_ENOMEM, "out of memory");
        return;
    }
    /* GET and CSV routes take the purpose from the query, ?purpose=... */
    if (query_purpose && !json_object_get(r->body, "purpose"))
        json_object_set_new(r->body, "purpose", json_string(query_purpose));
    r->v = vd_pool_get(&r->srv->pool);
    r->route->fn(r);
    /* The handle goes back to the pool acting for vaultd again: an
     * officer's actor (vd_actor) is this request's only, and so is the
     * token's deadline it carries. */
    if (vault_set_actor(r->v, "vaultd") != VAULT_OK) /* the answer stands: it is done */
        fprintf(stderr, "vaultd: resetting a handle's actor: %s\n", vault_error_last());
    vd_pool_put(&r->srv->pool, r->v);
    r->v = NULL;
    if (!r->out && !r->text)
        r->out = json_object();
    json_decref(r->body);
    r->body = NULL;
    /* No check of the token's expiry here: every route with a token acts
     * through a session or an actor that carries the token's deadline
     * (auth.c), and the vault refuses to commit a call past it, so a
     * request that succeeded committed in time, and one that didn't
     * committed nothing and released nothing (VAULT_EAUTH, 401). */
}

void vd_request_clear(vd_request *r)
{
    json_decref(r->out);
    r->out = NULL;
    if (r->text) {
        sodium_memzero(r->text, strlen(r->text));
        free(r->text);
        r->text = NULL;
    }
}

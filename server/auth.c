/* auth: who is calling.  The app was named by the transport (http.c: the
 * peer uid on the Unix socket, the client certificate over TLS); here the
 * person is named by a signed identity token (token.c), and the two make
 * the session a request runs in.  Nothing in the request body can change
 * either: the body gives only the purpose and the operation's arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"
#include "token.h"

#define KEY_FILE_MAX (64 * 1024)

/* An issuer's key: "ed25519:..." inline, else the path of a PEM file. */
static char *issuer_key_text(const vd_issuer *is, char *err, size_t cap)
{
    FILE *f;
    char *buf;
    size_t n;

    if (!strncmp(is->key, "ed25519:", 8))
        return strdup(is->key);
    f = fopen(is->key, "rb");
    if (!f) {
        snprintf(err, cap, "issuer %s: key: cannot open %s", is->name, is->key);
        return NULL;
    }
    if (vd_file_trusted(fileno(f), is->key, "issuer key", err, cap) < 0) {
        fclose(f);
        return NULL;
    }
    buf = malloc(KEY_FILE_MAX + 1);
    n = buf ? fread(buf, 1, KEY_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (!buf || n == 0 || n > KEY_FILE_MAX) {
        snprintf(err, cap, "issuer %s: key: %s is empty, unreadable or over 64 KiB", is->name,
                 is->key);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

int vd_auth_issuers_load(vd_server *srv, char *err, size_t cap)
{
    const vd_config *cfg = srv->cfg;
    token_issuer **list;
    size_t i;

    list = calloc(cfg->nissuers ? cfg->nissuers : 1, sizeof *list);
    if (!list) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    srv->issuers = (struct token_issuer **)list;
    for (i = 0; i < cfg->nissuers; i++) {
        const vd_issuer *is = &cfg->issuers[i];
        token_issuer_spec spec;
        char *key = issuer_key_text(is, err, cap);
        int rc;

        if (!key)
            return -1;
        memset(&spec, 0, sizeof spec);
        spec.label = is->name;
        spec.iss = is->iss;
        spec.audience = is->audience;
        spec.key = key;
        spec.kid = is->kid;
        spec.claim_user = is->claim_user;
        spec.claim_role = is->claim_role;
        spec.claim_department = is->claim_department;
        spec.claim_jurisdiction = is->claim_jurisdiction;
        spec.max_lifetime = is->max_lifetime;
        rc = token_issuer_new(&list[i], &spec);
        free(key);
        if (rc != VAULT_OK) {
            snprintf(err, cap, "%s:%u: %s", cfg->file, is->line, vault_error_last());
            return -1;
        }
        srv->nissuers = i + 1;
    }
    if (token_issuers_check(list, srv->nissuers) != VAULT_OK) {
        snprintf(err, cap, "%s: issuers: %s", cfg->file, vault_error_last());
        return -1;
    }
    return 0;
}

void vd_auth_issuers_free(vd_server *srv)
{
    size_t i;

    for (i = 0; i < srv->nissuers; i++)
        token_issuer_free((token_issuer *)srv->issuers[i]);
    free(srv->issuers);
    srv->issuers = NULL;
    srv->nissuers = 0;
}

int vd_auth_token(vd_caller *who, vd_server *srv, const char *authorization, char *err,
                  size_t cap)
{
    token_claims c;
    const char *tok;
    int rc;

    if (!authorization || strncmp(authorization, "Bearer ", 7) != 0) {
        snprintf(err, cap, "an identity token is required (Authorization: Bearer ...)");
        return -1;
    }
    tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    rc = token_verify(&c, (token_issuer *const *)srv->issuers, srv->nissuers, tok, strlen(tok),
                      (int64_t)time(NULL), srv->cfg->clock_skew);
    if (rc != VAULT_OK) {
        snprintf(err, cap, "%s", vault_error_last());
        token_claims_clear(&c);
        return -1;
    }
    who->has_token = 1;
    snprintf(who->iss, sizeof who->iss, "%s", c.iss);
    snprintf(who->sub, sizeof who->sub, "%s", c.sub);
    snprintf(who->jti, sizeof who->jti, "%s", c.jti);
    snprintf(who->user, sizeof who->user, "%s", c.user);
    snprintf(who->role, sizeof who->role, "%s", c.role);
    snprintf(who->department, sizeof who->department, "%s", c.department);
    snprintf(who->jurisdiction, sizeof who->jurisdiction, "%s", c.jurisdiction);
    who->exp = c.exp;
    token_claims_clear(&c);
    return 0;
}

static void principal_of(vault_principal *p, const vd_request *r)
{
    *p = (vault_principal)VAULT_PRINCIPAL_INIT;
    p->issuer = r->who.iss;
    p->subject = r->who.sub;
    p->token_id = r->who.jti;
    p->app = r->who.app;
    p->peer = r->who.peer;
    p->flags = r->route->officer;
    /* The last second token_verify would still take the token (it takes
     * it while exp > now - skew): the vault refuses to commit anything
     * for the caller after it (vault.h, vault_principal.not_after). */
    if (r->who.has_token)
        p->not_after = r->who.exp + r->srv->cfg->clock_skew - 1 > 0
                           ? r->who.exp + r->srv->cfg->clock_skew - 1
                           : 1;
}

vault_session *vd_session(vd_request *r)
{
    vault_session *s = NULL;
    vault_subject sub = VAULT_SUBJECT_INIT;
    vault_principal p = VAULT_PRINCIPAL_INIT;
    json_t *pj = json_object_get(r->body, "purpose");
    int rc;

    if (!json_is_string(pj)) {
        vd_fail(r, VAULT_EINVALID, "request body: 'purpose' must be a string (missing)");
        return NULL;
    }
    sub.user = r->who.user;
    sub.role = r->who.role;
    sub.department = r->who.department;
    sub.jurisdiction = r->who.jurisdiction;
    sub.purpose = json_string_value(pj);
    principal_of(&p, r);
    rc = vault_session_open_as(&s, r->v, &sub, &p);
    if (rc != VAULT_OK) {
        vd_fail(r, rc, NULL);
        return NULL;
    }
    return s;
}

int vd_actor(vd_request *r)
{
    vault_session *s;
    vault_principal p = VAULT_PRINCIPAL_INIT;
    int rc;

    /* The same checks as a data call (subject, app bounds, officer flags),
     * and their refusal logged, through a session; then the handle acts
     * as that principal for the call that follows. */
    if (!(s = vd_session(r)))
        return -1;
    vault_session_close(s);
    principal_of(&p, r);
    rc = vault_set_actor_as(r->v, r->who.user, &p);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    return 0;
}

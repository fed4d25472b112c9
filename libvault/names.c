/* names: record ids, the names and jurisdiction paths that subjects and
 * grants carry, the default actor, and the clock: the small checks every
 * layer above shares (text.c has the rule for user names and free text). */
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "names.h"
#include "text.h"

int64_t vault__now(void)
{
    return (int64_t)time(NULL);
}

/* ---- ids and names ---- */

void vault__id_format(char out[VAULT_ID_HEX_SIZE], const uint8_t id[VAULT_ID_BYTES])
{
    if (vc_bin2hex(out, VAULT_ID_HEX_SIZE, id, VAULT_ID_BYTES) < 0)
        out[0] = '\0'; /* cannot happen: the size is fixed */
}

int vault__id_parse(uint8_t out[VAULT_ID_BYTES], const char *text)
{
    char hex[2 * VAULT_ID_BYTES];
    size_t i, n = 0, len, got = 0;

    if (!text)
        return vault__err(VAULT_EINVALID, "missing record id");
    len = strlen(text);
    if (len != 32 && len != 36)
        return vault__err(VAULT_EINVALID, "record id must be 32 hex characters or a UUID");
    for (i = 0; i < len; i++) {
        if (len == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (text[i] != '-')
                return vault__err(VAULT_EINVALID, "record id is not a valid UUID");
            continue;
        }
        hex[n++] = text[i];
    }
    if (vc_hex2bin(out, VAULT_ID_BYTES, &got, hex, n) < 0 || got != VAULT_ID_BYTES)
        return vault__err(VAULT_EINVALID, "record id must be 32 hex characters or a UUID");
    return VAULT_OK;
}

int vault__name_check(const char *name, const char *what)
{
    size_t i, len;

    if (!name || !*name)
        return vault__err(VAULT_EINVALID, "%s is missing", what);
    len = strlen(name);
    if (len >= VAULT_NAME_MAX)
        return vault__err(VAULT_ELIMIT, "%s longer than %d bytes", what, VAULT_NAME_MAX - 1);
    for (i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '@'))
            return vault__err(VAULT_EINVALID,
                              "%s may contain only letters, digits and _ - . @", what);
    }
    return VAULT_OK;
}

int vault__jurisdiction_check(const char *path, const char *what)
{
    size_t i, len, seg = 0;

    if (!path || !*path)
        return vault__err(VAULT_EINVALID, "%s is missing", what);
    len = strlen(path);
    if (len > VAULT_JURISDICTION_MAX)
        return vault__err(VAULT_ELIMIT, "%s longer than %d bytes", what, VAULT_JURISDICTION_MAX);
    for (i = 0; i <= len; i++) {
        char c = path[i];
        if (c == '/' || c == '\0') {
            if (seg == 0)
                return vault__err(VAULT_EINVALID,
                                  "%s '%s' has an empty segment (use a/b/c, no leading, "
                                  "trailing or double '/')", what, path);
            seg = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return vault__err(VAULT_EINVALID,
                              "%s may contain only a-z, 0-9, '_', '-' and '/' between segments",
                              what);
        seg++;
    }
    return VAULT_OK;
}

int vault__jurisdiction_norm(char *out, size_t cap, const char *path, const char *what)
{
    size_t len;

    if (!out || cap < VAULT_JURISDICTION_MAX + 1)
        return vault__err(VAULT_EINVALID, "%s: no room for the path", what);
    if (!path || !*path)
        return vault__err(VAULT_EINVALID, "%s is missing", what);
    len = strlen(path);
    if (len > 1 && path[len - 1] == '/')
        len--; /* one trailing '/' is ignored, as in policy files */
    if (len > VAULT_JURISDICTION_MAX)
        return vault__err(VAULT_ELIMIT, "%s longer than %d bytes", what, VAULT_JURISDICTION_MAX);
    memmove(out, path, len);
    out[len] = '\0';
    return vault__jurisdiction_check(out, what);
}

/* ---- actors ---- */

void vault__default_actor(char *out, size_t cap)
{
    struct passwd pw, *res = NULL;
    char buf[1024];

    if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &res) == 0 && res && res->pw_name)
        snprintf(out, cap, "os:%s", res->pw_name);
    else
        snprintf(out, cap, "os:uid-%u", (unsigned)getuid());
}

/* ---- principals ---- */

void vault__who_local(vault__who *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->peer, sizeof out->peer, "local:uid=%lu,pid=%ld", (unsigned long)getuid(),
             (long)getpid());
}

/* One principal string: "" is allowed (NULL counts as ""), anything else
 * is free text (text.h) of at most VAULT_PRINCIPAL_MAX - 1 bytes. */
static int who_str(const char *s, const char *what)
{
    if (!s || !*s)
        return VAULT_OK;
    return vault__text_check(s, VAULT_PRINCIPAL_MAX - 1, what);
}

#define WHO_SET(s) ((s) && *(s))

int vault__who_set(vault__who *out, const vault_principal *in)
{
    int rc = VAULT_OK;

    ENSURE(out && in, VAULT_EINVALID, "missing principal");
    GUARD(who_str(in->issuer, "principal issuer"));
    GUARD(who_str(in->subject, "principal subject"));
    GUARD(who_str(in->token_id, "principal token id"));
    GUARD(who_str(in->app, "principal app"));
    GUARD(who_str(in->peer, "principal peer"));
    ENSURE(WHO_SET(in->peer), VAULT_EINVALID, "principal peer is missing");
    ENSURE(WHO_SET(in->issuer) == WHO_SET(in->subject), VAULT_EINVALID,
           "principal %s is missing: a token names both its issuer and its subject",
           WHO_SET(in->issuer) ? "subject" : "issuer");
    ENSURE(!WHO_SET(in->token_id) || WHO_SET(in->issuer), VAULT_EINVALID,
           "principal token id without an issuer");
    ENSURE(WHO_SET(in->issuer) || WHO_SET(in->app), VAULT_EINVALID,
           "principal names neither an app nor a token issuer (an unauthenticated caller "
           "is the embedded one: vault_session_open)");
    ENSURE(in->not_after >= 0, VAULT_EINVALID,
           "principal not_after is negative (unix seconds, or 0 for no limit)");
    snprintf(out->issuer, sizeof out->issuer, "%s", in->issuer ? in->issuer : "");
    snprintf(out->subject, sizeof out->subject, "%s", in->subject ? in->subject : "");
    snprintf(out->token_id, sizeof out->token_id, "%s", in->token_id ? in->token_id : "");
    snprintf(out->app, sizeof out->app, "%s", in->app ? in->app : "");
    snprintf(out->peer, sizeof out->peer, "%s", in->peer);
    out->not_after = in->not_after;
cleanup:
    return rc;
}

int vault__who_current(const vault__who *w, int64_t now)
{
    if (!w->not_after || now <= w->not_after)
        return VAULT_OK;
    return vault__err(VAULT_EAUTH, "the caller's token expired %lld s ago (not_after %lld)",
                      (long long)(now - w->not_after), (long long)w->not_after);
}

static void asserted_str(char *dst, size_t cap, const char *s)
{
    if (who_str(s, "principal") == VAULT_OK) {
        snprintf(dst, cap, "%s", s ? s : "");
    } else {
        vault__err_clear();
        snprintf(dst, cap, "?");
    }
}

void vault__who_asserted(vault__who *out, const vault_principal *in)
{
    if (!in) {
        vault__who_local(out);
        return;
    }
    asserted_str(out->issuer, sizeof out->issuer, in->issuer);
    asserted_str(out->subject, sizeof out->subject, in->subject);
    asserted_str(out->token_id, sizeof out->token_id, in->token_id);
    asserted_str(out->app, sizeof out->app, in->app);
    asserted_str(out->peer, sizeof out->peer, in->peer);
    out->not_after = 0; /* a refusal's entry releases nothing: no deadline */
}

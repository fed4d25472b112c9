/* Thread-local error messages (vault_error_last). */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static _Thread_local char err_msg[512];
static _Thread_local int err_code;

int vault__err(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    err_code = code;
    return code;
}

void vault__err_clear(void)
{
    err_msg[0] = '\0';
    err_code = 0;
}

const char *vault_error_last(void)
{
    return err_msg;
}

int vault_error_code(void)
{
    return err_code;
}

const char *vault_error_name(int code)
{
    switch (code) {
    case VAULT_OK: return "VAULT_OK";
    case VAULT_ERROR: return "VAULT_ERROR";
    case VAULT_EINVALID: return "VAULT_EINVALID";
    case VAULT_ENOMEM: return "VAULT_ENOMEM";
    case VAULT_EIO: return "VAULT_EIO";
    case VAULT_EAUTH: return "VAULT_EAUTH";
    case VAULT_EINTEGRITY: return "VAULT_EINTEGRITY";
    case VAULT_EDENIED: return "VAULT_EDENIED";
    case VAULT_ENOTFOUND: return "VAULT_ENOTFOUND";
    case VAULT_EEXISTS: return "VAULT_EEXISTS";
    case VAULT_EBUSY: return "VAULT_EBUSY";
    case VAULT_EPOLICY: return "VAULT_EPOLICY";
    case VAULT_ELIMIT: return "VAULT_ELIMIT";
    case VAULT_ESTATE: return "VAULT_ESTATE";
    default: return "VAULT_EUNKNOWN";
    }
}

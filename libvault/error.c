/* Thread-local error messages (vault_error_last). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int vault__opt_in(void *full, size_t full_size, const void *in, const char *name,
                  const char *init)
{
    size_t size;

    memcpy(&size, in, sizeof size); /* the leading size_t of every option struct */
    if (size < sizeof size)
        return vault__err(VAULT_EINVALID, "%s: size %zu: initialise with %s", name, size, init);
    if (size > full_size)
        return vault__err(VAULT_EINVALID,
                          "%s: size %zu is newer than this libvault's (%zu): initialise with "
                          "%s of the header of the libvault it runs with", name, size, full_size,
                          init);
    memcpy(full, in, size);
    memset((char *)full + size, 0, full_size - size);
    return VAULT_OK;
}

int vault__grow(void **p, size_t *cap, size_t need, size_t elem, size_t first)
{
    size_t n = *cap ? *cap : first;
    void *q;

    if (need <= *cap)
        return VAULT_OK;
    while (n < need)
        n *= 2;
    q = realloc(*p, n * elem);
    if (!q)
        return vault__err(VAULT_ENOMEM, "out of memory");
    *p = q;
    *cap = n;
    return VAULT_OK;
}

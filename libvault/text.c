/* text: validation of names and free text, and escaping for output
 * (libunistring for UTF-8, Unicode properties, case folding and NFC). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "text.h"

/* C0, DEL, C1, and the Unicode line and paragraph separators (they end
 * a line on some terminals and in many viewers). */
static int is_control(ucs4_t c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029;
}

size_t vault__utf8_next(uint32_t *cp, const uint8_t *s, size_t n)
{
    ucs4_t c;
    int k;

    if (n == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    k = u8_mbtoucr(&c, s, n);
    if (k <= 0)
        return 0;
    *cp = c;
    return (size_t)k;
}

int vault__text_check(const char *s, size_t max, const char *what)
{
    const uint8_t *p = (const uint8_t *)s, *end;
    size_t len;
    ucs4_t c;
    int n;

    if (s == NULL || *s == '\0')
        return vault__err(VAULT_EINVALID, "%s is missing", what);
    len = strlen(s);
    if (len > max)
        return vault__err(VAULT_ELIMIT, "%s longer than %zu bytes", what, max);
    end = p + len;
    while (p < end) {
        n = u8_mbtoucr(&c, p, (size_t)(end - p));
        if (n < 0)
            return vault__err(VAULT_EINVALID, "%s is not valid UTF-8 (byte %zu)", what,
                              (size_t)(p - (const uint8_t *)s) + 1);
        if (is_control(c))
            return vault__err(VAULT_EINVALID,
                              "%s contains a control character or line separator (byte %zu); "
                              "write it on one line without tabs", what,
                              (size_t)(p - (const uint8_t *)s) + 1);
        if (uc_is_property_bidi_control(c))
            return vault__err(VAULT_EINVALID,
                              "%s contains a bidirectional control character U+%04X (byte %zu)",
                              what, (unsigned)c, (size_t)(p - (const uint8_t *)s) + 1);
        p += n;
    }
    return VAULT_OK;
}

int vault__user_norm(char *out, size_t cap, const char *in, const char *what)
{
    int rc = VAULT_OK;
    const uint8_t *p, *end;
    uint8_t *folded = NULL;
    size_t len, flen = 0;
    ucs4_t c;
    int n;

    ENSURE(out != NULL && cap >= VAULT_NAME_MAX, VAULT_EINVALID, "%s: no room for the name", what);
    ENSURE(in != NULL && *in != '\0', VAULT_EINVALID, "%s is missing", what);
    len = strlen(in);
    ENSURE(len < VAULT_NAME_MAX, VAULT_ELIMIT, "%s longer than %d bytes", what,
           VAULT_NAME_MAX - 1);
    p = (const uint8_t *)in;
    end = p + len;
    /* Printable ASCII without upper case is its own NFC case fold: the
     * usual name, done without libunistring (every audit entry files its
     * user under this form). */
    while (p < end && *p > 0x20 && *p < 0x7f && !(*p >= 'A' && *p <= 'Z'))
        p++;
    if (p == end) {
        memcpy(out, in, len + 1);
        goto cleanup;
    }
    p = (const uint8_t *)in;
    while (p < end) {
        n = u8_mbtoucr(&c, p, (size_t)(end - p));
        ENSURE(n > 0, VAULT_EINVALID, "%s is not valid UTF-8", what);
        ENSURE(!is_control(c) && !uc_is_property_white_space(c) &&
                   !uc_is_property_bidi_control(c) &&
                   !uc_is_property_default_ignorable_code_point(c),
               VAULT_EINVALID,
               "%s may not contain spaces, control, bidirectional or invisible characters "
               "(U+%04X)", what, (unsigned)c);
        p += n;
    }
    folded = u8_casefold((const uint8_t *)in, len, "", UNINORM_NFC, NULL, &flen);
    ENSURE(folded != NULL, VAULT_ENOMEM, "%s: out of memory", what);
    ENSURE(flen > 0 && flen < VAULT_NAME_MAX, VAULT_ELIMIT,
           "%s longer than %d bytes once normalised", what, VAULT_NAME_MAX - 1);
    memmove(out, folded, flen);
    out[flen] = '\0';
cleanup:
    free(folded);
    return rc;
}

int vault__text_escape(char **out, const char *in, size_t len)
{
    int rc = VAULT_OK;
    const uint8_t *p = (const uint8_t *)in, *end = p + len;
    size_t cap = len * 10 + 1, k = 0; /* "\u{XXXXXX}" is the longest form */
    char *s = NULL;
    ucs4_t c;
    int n;

    ENSURE(out != NULL && (in != NULL || len == 0), VAULT_EINVALID, "escape: missing argument");
    *out = NULL;
    ENSURE(len < SIZE_MAX / 10, VAULT_ELIMIT, "escape: text too long");
    s = malloc(cap);
    ENSURE(s != NULL, VAULT_ENOMEM, "out of memory");
    while (p < end) {
        n = u8_mbtoucr(&c, p, (size_t)(end - p));
        if (n < 0) {
            k += (size_t)snprintf(s + k, cap - k, "\\x%02x", *p);
            p++;
            continue;
        }
        if (c == '\\')
            k += (size_t)snprintf(s + k, cap - k, "\\\\");
        else if (c == '\n')
            k += (size_t)snprintf(s + k, cap - k, "\\n");
        else if (c == '\t')
            k += (size_t)snprintf(s + k, cap - k, "\\t");
        else if (c == 0x2028 || c == 0x2029)
            k += (size_t)snprintf(s + k, cap - k, "\\u{%04X}", (unsigned)c);
        else if (is_control(c))
            k += (size_t)snprintf(s + k, cap - k, "\\x%02x", (unsigned)c);
        else if (uc_is_property_bidi_control(c))
            k += (size_t)snprintf(s + k, cap - k, "\\u{%04X}", (unsigned)c);
        else {
            memcpy(s + k, p, (size_t)n);
            k += (size_t)n;
        }
        p += n;
    }
    s[k] = '\0';
    *out = s;
    s = NULL;
cleanup:
    free(s);
    return rc;
}

int vault__listing_take(char **out, struct json_t *arr, vault_buf *text)
{
    int failed = text->failed;

    if (arr) {
        *out = json_dumps(arr, JSON_INDENT(2));
    } else {
        *out = vault__buf_steal(text);
        if (*out == NULL && failed)
            return failed; /* the append said why */
    }
    return *out ? VAULT_OK : vault__err(VAULT_ENOMEM, "out of memory");
}

/* ---- Growing text buffer ---- */

void vault__buf_init(vault_buf *b, const char *what, size_t max, int wipe)
{
    memset(b, 0, sizeof *b);
    b->what = what;
    b->max = max;
    b->wipe = wipe;
}

static const char *buf_what(const vault_buf *b)
{
    return b->what ? b->what : "text";
}

static int buf_fail(vault_buf *b, int code)
{
    b->failed = code;
    if (code == VAULT_ELIMIT)
        return vault__err(code, "%s: longer than %zu bytes", buf_what(b), b->max);
    return vault__err(code, "%s: out of memory", buf_what(b));
}

int vault__buf_reserve(vault_buf *b, size_t extra)
{
    size_t need, cap;
    char *s;

    if (b->failed)
        return b->failed;
    if (extra > SIZE_MAX - b->len - 1)
        return buf_fail(b, VAULT_ENOMEM);
    need = b->len + extra + 1;
    if (b->max && need - 1 > b->max)
        return buf_fail(b, VAULT_ELIMIT);
    if (need <= b->cap)
        return VAULT_OK;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (b->wipe) {
        /* never realloc: the old block would go back unwiped */
        s = malloc(cap);
        if (s == NULL)
            return buf_fail(b, VAULT_ENOMEM);
        if (b->s) {
            memcpy(s, b->s, b->len + 1);
            explicit_bzero(b->s, b->cap);
            free(b->s);
        }
    } else {
        s = realloc(b->s, cap);
        if (s == NULL)
            return buf_fail(b, VAULT_ENOMEM);
    }
    if (b->s == NULL)
        s[0] = '\0';
    b->s = s;
    b->cap = cap;
    return VAULT_OK;
}

int vault__buf_put(vault_buf *b, const void *p, size_t n)
{
    int rc = VAULT_OK;

    GUARD(vault__buf_reserve(b, n));
    if (n > 0)
        memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
cleanup:
    return rc;
}

int vault__buf_puts(vault_buf *b, const char *s)
{
    return vault__buf_put(b, s, strlen(s));
}

int vault__buf_vprintf(vault_buf *b, const char *fmt, va_list ap)
{
    int rc = VAULT_OK;
    va_list ap2;
    int n;

    if (b->failed)
        return b->failed;
    /* one pass when it fits in what is left, a second after growing */
    va_copy(ap2, ap);
    n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        b->failed = VAULT_ERROR;
        ENSURE(0, VAULT_ERROR, "%s: formatting failed", buf_what(b));
    }
    if (b->s == NULL || (size_t)n >= b->cap - b->len) {
        if (b->s)
            b->s[b->len] = '\0'; /* drop the cut attempt */
        GUARD(vault__buf_reserve(b, (size_t)n));
        n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        if (n < 0) {
            b->failed = VAULT_ERROR;
            ENSURE(0, VAULT_ERROR, "%s: formatting failed", buf_what(b));
        }
    } else if (b->max && b->len + (size_t)n > b->max) {
        b->s[b->len] = '\0';
        GUARD(buf_fail(b, VAULT_ELIMIT));
    }
    b->len += (size_t)n;
cleanup:
    return rc;
}

int vault__buf_printf(vault_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vault__buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *vault__buf_steal(vault_buf *b)
{
    char *s = NULL;

    if (!b->failed && vault__buf_reserve(b, 0) == VAULT_OK) {
        s = b->s;
        b->s = NULL;
    }
    vault__buf_free(b);
    return s;
}

void vault__buf_free(vault_buf *b)
{
    if (b->s && b->wipe)
        explicit_bzero(b->s, b->cap);
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

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

int vault__listing_take(char **out, struct json_t *arr, char **text)
{
    if (arr) {
        *out = json_dumps(arr, JSON_INDENT(2));
    } else {
        *out = *text ? *text : strdup("");
        *text = NULL;
    }
    return *out ? VAULT_OK : vault__err(VAULT_ENOMEM, "out of memory");
}

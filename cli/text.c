/* vaultctl: text output: padding by display width (the C library's
 * wcwidth, in a UTF-8 LC_CTYPE), so tables with Chinese text, emoji and
 * combining marks line up, and escaping what a terminal would obey. */
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <sodium.h>
#include <unistr.h>

#include "cli.h"

void cli_locale_init(void)
{
    const char *cs;

    /* Only LC_CTYPE: messages, numbers and dates stay as documented. */
    if (setlocale(LC_CTYPE, "") && (cs = nl_langinfo(CODESET)) && strcmp(cs, "UTF-8") == 0)
        return;
    setlocale(LC_CTYPE, "C.UTF-8");
}

int cli_display_width(const char *s)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t len = strlen(s), i = 0;
    ucs4_t cp;
    int w = 0, r, cw;

    while (i < len) {
        r = u8_mbtoucr(&cp, p + i, len - i);
        if (r <= 0) { /* not UTF-8 here: one byte, one column (as \xNN would be) */
            w++;
            i++;
            continue;
        }
        i += (size_t)r;
        /* wcwidth: 0 for combining marks, 2 for wide (CJK, emoji), -1 for
         * what has no width of its own (controls: escaped before this). */
        cw = wcwidth((wchar_t)cp);
        w += cw < 0 ? 1 : cw;
    }
    return w;
}

void cli_print_padded(FILE *f, const char *s, int width)
{
    int w = cli_display_width(s);

    fputs(s, f);
    for (; w < width; w++)
        fputc(' ', f);
}

/* Bidirectional formatting controls: they reorder how a terminal shows the
 * rest of the line (Trojan Source, CVE-2021-42574). */
static int is_bidi(uint32_t cp)
{
    return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* The Unicode line and paragraph separators: line breaks to many viewers. */
static int is_separator(uint32_t cp)
{
    return cp == 0x2028 || cp == 0x2029;
}

char *cli_escape(const char *s, size_t len, int style)
{
    const uint8_t *p = (const uint8_t *)s;
    char *out = NULL;
    size_t cap, o = 0, i = 0, n;
    ucs4_t cp;
    int r;

    /* Worst case 4 output bytes per input byte: \xNN for one byte,
     * \u{XXXX} for two or three. */
    if (len > (SIZE_MAX - 1) / 4)
        goto out;
    cap = 4 * len + 1;
    out = malloc(cap);
    if (!out)
        goto out;
    while (i < len) {
        /* n = 0: not valid UTF-8 here (overlong, surrogate, cut short). */
        r = u8_mbtoucr(&cp, p + i, len - i);
        n = r > 0 ? (size_t)r : 0;
        if (style == CLI_ESC_JSON) {
            /* jansson wrote the document: valid UTF-8, C0 escaped (DEL,
             * C1 and bidi controls not). */
            if (n > 0 && (cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || is_bidi(cp) ||
                          is_separator(cp)))
                o += (size_t)snprintf(out + o, cap - o, "\\u%04x", (unsigned)cp);
            else {
                n = n ? n : 1;
                memcpy(out + o, p + i, n);
                o += n;
            }
        } else if (n == 0) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02X", p[i]);
            n = 1;
        } else if (cp == '\\') {
            memcpy(out + o, "\\\\", 2);
            o += 2;
        } else if (style == CLI_ESC_LINES && (cp == '\n' || cp == '\t')) {
            out[o++] = (char)cp;
        } else if (cp == '\n' || cp == '\t' || cp == '\r') {
            out[o++] = '\\';
            out[o++] = cp == '\n' ? 'n' : cp == '\t' ? 't' : 'r';
        } else if (cp < 0x20 || cp == 0x7F) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02X", (unsigned)cp);
        } else if ((cp >= 0x80 && cp <= 0x9F) || is_bidi(cp) || is_separator(cp)) {
            o += (size_t)snprintf(out + o, cap - o, "\\u{%04X}", (unsigned)cp);
        } else {
            memcpy(out + o, p + i, n);
            o += n;
        }
        i += n;
    }
    out[o] = '\0';
out:
    return out;
}

void cli_text_free(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

int cli_print_escaped(FILE *f, const char *s, size_t len, int width)
{
    char *e = cli_escape(s, len, CLI_ESC_TEXT);

    if (!e)
        return EXIT_FAIL;
    cli_print_padded(f, e, width);
    cli_text_free(e);
    return EXIT_OK;
}

int cli_print_json(FILE *f, const json_t *doc)
{
    char *text = json_dumps(doc, JSON_INDENT(2)), *safe = NULL;
    int ex = EXIT_FAIL;

    if (!text)
        goto out;
    if (!(safe = cli_escape(text, strlen(text), CLI_ESC_JSON)))
        goto out;
    fputs(safe, f);
    fputc('\n', f);
    ex = EXIT_OK;
out:
    cli_text_free(safe);
    cli_text_free(text);
    return ex;
}

int cli_print_pack(const cli *c, const char *fmt, ...)
{
    json_t *o;
    json_error_t jerr;
    va_list ap;
    int ex;

    va_start(ap, fmt);
    o = json_vpack_ex(&jerr, 0, fmt, ap);
    va_end(ap);
    if (!o) {
        cli_errf("%s: %s: no JSON for the result (not UTF-8 or out of memory)", c->prog, c->cmd);
        return EXIT_FAIL;
    }
    ex = cli_print_json(stdout, o);
    json_decref(o);
    return ex;
}

void cli_errf(const char *fmt, ...)
{
    char line[2048], *safe;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    safe = cli_escape(line, strlen(line), CLI_ESC_TEXT);
    fprintf(stderr, "%s\n", safe ? safe : "vaultctl: out of memory");
    cli_text_free(safe);
}

void cli_put_lines(FILE *f, const char *text)
{
    char *safe = cli_escape(text, strlen(text), CLI_ESC_LINES);

    fputs(safe ? safe : "vaultctl: out of memory\n", f);
    cli_text_free(safe);
}

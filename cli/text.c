/* vaultctl: padding by display width, so tables with Chinese text line up. */
#include <stdint.h>
#include <string.h>

#include "cli.h"

/* Columns a code point takes on a terminal: 2 for East Asian wide and
 * fullwidth ranges, else 1 (combining marks are rare in this data). */
static int cp_width(uint32_t cp)
{
    return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                   (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                   (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                   (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD)
               ? 2
               : 1;
}

int cli_display_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    int w = 0;
    uint32_t cp;
    int n, i;

    while (*p) {
        if (*p < 0x80) {
            cp = *p;
            n = 1;
        } else if ((*p & 0xE0) == 0xC0) {
            cp = *p & 0x1F;
            n = 2;
        } else if ((*p & 0xF0) == 0xE0) {
            cp = *p & 0x0F;
            n = 3;
        } else {
            cp = *p & 0x07;
            n = 4;
        }
        for (i = 1; i < n && (p[i] & 0xC0) == 0x80; i++)
            cp = (cp << 6) | (p[i] & 0x3F);
        p += i;
        w += cp_width(cp);
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

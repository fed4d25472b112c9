/* text: the one set of rules for names and free text that people type
 * (user names, reasons, labels), and the one escaper for text output.
 * See docs/policy-format.md, "User names". */
#ifndef VAULT_TEXT_H
#define VAULT_TEXT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* The one UTF-8 decoder (libunistring's u8_mbtoucr): the length, 1..4,
 * of the well-formed sequence at s[0..n) (RFC 3629: no overlong form, no
 * surrogate U+D800..U+DFFF, nothing past U+10FFFF), its code point in
 * *cp; 0 when the bytes there are malformed or truncated, or n is 0.
 * NUL decodes as U+0000 (length 1): callers that refuse it say so. */
size_t vault__utf8_next(uint32_t *cp, const uint8_t *s, size_t n);

/* Free text (reasons, labels, file names): 1..max bytes of valid UTF-8
 * with no C0 or C1 control character (newline and tab included), no DEL,
 * no line or paragraph separator (U+2028, U+2029) and no bidirectional
 * control (U+061C, U+200E, U+200F, U+202A..U+202E,
 * U+2066..U+2069).  VAULT_EINVALID or VAULT_ELIMIT, naming `what`. */
int vault__text_check(const char *s, size_t max, const char *what) VAULT_MUST_CHECK;

/* A user name: valid UTF-8, 1..VAULT_NAME_MAX-1 bytes once normalised, no
 * control, white-space, bidirectional-control or other invisible
 * (default-ignorable) character.  Writes the comparison form into out
 * (cap >= VAULT_NAME_MAX): Unicode case folding, then NFC.  Every place
 * that compares user names compares this form.  `in` and `out` may be
 * the same buffer. */
int vault__user_norm(char *out, size_t cap, const char *in, const char *what) VAULT_MUST_CHECK;

/* A malloc'ed copy of in[0..len) for a text line: backslash becomes
 * "\\", newline "\n", tab "\t", other C0/C1 controls and DEL "\xNN",
 * bidirectional controls and U+2028/U+2029 "\u{XXXX}", bytes that are
 * not UTF-8 "\xNN". */
int vault__text_escape(char **out, const char *in, size_t len) VAULT_MUST_CHECK;

/* The one growing text buffer (reports, the grant list, policy
 * diagnostics and diffs).  Zero-initialised or vault__buf_init'ed; s is
 * NUL-terminated once anything was appended.  A failure (no memory, or
 * the text would pass `max` bytes) is remembered: later appends do
 * nothing and vault__buf_steal gives NULL, so a caller may build a text
 * with many appends and check once.  With `wipe`, every block given back
 * (grown out of, freed) is zeroed first: for text that held personal
 * data. */
typedef struct vault_buf {
    char *s;
    size_t len, cap;
    size_t max;       /* longest text, bytes; 0: no bound */
    int wipe;
    int failed;       /* VAULT_ENOMEM or VAULT_ELIMIT once an append failed, else 0 */
    const char *what; /* names the text in messages ("audit report"); NULL: "text" */
} vault_buf;

void vault__buf_init(vault_buf *b, const char *what, size_t max, int wipe);
/* Room for `extra` more bytes (and the NUL).  VAULT_ENOMEM, VAULT_ELIMIT
 * (also the code of an earlier failure). */
int vault__buf_reserve(vault_buf *b, size_t extra);
int vault__buf_put(vault_buf *b, const void *p, size_t n);
int vault__buf_puts(vault_buf *b, const char *s);
int vault__buf_printf(vault_buf *b, const char *fmt, ...) VAULT_PRINTF(2, 3);
int vault__buf_vprintf(vault_buf *b, const char *fmt, va_list ap) VAULT_PRINTF(2, 0);
/* Hand over the text (malloc'ed, "" when nothing was appended) and reset
 * the buffer; NULL (and the buffer freed) after a failure. */
char *vault__buf_steal(vault_buf *b);
/* Free what the buffer holds (wiped when asked) and reset it; keeps
 * what, max and wipe. */
void vault__buf_free(vault_buf *b);

/* The result of a listing (a report, the grants) for the caller: the JSON
 * array as indented text when arr is not NULL, else the text built so far
 * (taken from *text; "" when none).  VAULT_ENOMEM, or the code *text
 * failed with. */
struct json_t;
int vault__listing_take(char **out, struct json_t *arr, vault_buf *text) VAULT_MUST_CHECK;

#endif

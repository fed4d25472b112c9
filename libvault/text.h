/* text: the one set of rules for names and free text that people type
 * (user names, reasons, labels), and the one escaper for text output.
 * See docs/policy-format.md, "User names". */
#ifndef VAULT_TEXT_H
#define VAULT_TEXT_H

#include <stddef.h>

#include "internal.h"

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

/* The result of a listing (a report, the grants) for the caller: the JSON
 * array as indented text when arr is not NULL, else the text built so far
 * (*text, taken; "" when none).  VAULT_ENOMEM. */
struct json_t;
int vault__listing_take(char **out, struct json_t *arr, char **text) VAULT_MUST_CHECK;

#endif

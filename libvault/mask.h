/* Masks: pure functions from a plaintext value to its masked form.
 * UTF-8 aware: they count code points, never split one.  Invalid UTF-8 is
 * refused (VAULT_EINVALID) rather than passed through. */
#ifndef VAULT_MASK_H
#define VAULT_MASK_H

#include <stddef.h>
#include <time.h>

#include "internal.h"

typedef enum vault_mask_kind {
    VAULT_MASK_NONE = 0,  /* no mask declared: a "mask" decision shows redact */
    VAULT_MASK_NAME,      /* 张三 -> 张*, 欧阳娜娜 -> 欧阳*, John Smith -> J*** S**** */
    VAULT_MASK_ID_NUMBER, /* 110101199003071234 -> 110***********1234 */
    VAULT_MASK_PHONE,     /* 13812345678 -> 138****5678 */
    VAULT_MASK_BANK_CARD, /* 6222021234567890123 -> 6222 **** **** 0123 */
    VAULT_MASK_ADDRESS,   /* cut after the community (社区/村/居委会) level */
    VAULT_MASK_AGE_BAND,  /* 1990-03-07 -> 30-39 (needs `now`) */
    VAULT_MASK_FLAG,      /* any non-empty value -> "yes", empty -> "no" */
    VAULT_MASK_REDACT,    /* -> "***" */
    /* -> "PSN-" + 16 characters: keyed per department and field
     * (vc_pseudonym, through the session); mask_apply refuses it. */
    VAULT_MASK_PSEUDONYM,
    VAULT_MASK__COUNT
} vault_mask_kind;

/* "name", "id_number", ... -> kind; returns 0 or VAULT_EINVALID. */
int mask_kind_from_name(vault_mask_kind *out, const char *name) VAULT_MUST_CHECK;
/* kind -> its name ("none" for VAULT_MASK_NONE). */
const char *mask_kind_name(vault_mask_kind kind);

/* Mask `in` (in_len bytes).  *out is NUL-terminated, allocated with
 * vc_malloc and must be released with vc_free (which wipes it);
 * *out_len excludes the NUL.  `now` is the current time (for age bands).
 * Empty input gives an empty output except for FLAG ("no"). */
int mask_apply(char **out, size_t *out_len, vault_mask_kind kind,
               const char *in, size_t in_len, time_t now) VAULT_MUST_CHECK;

#endif

/* Masks: pure functions from a plaintext value to the text a "mask"
 * decision shows.  The exact rules, with examples, are in docs/masks.md.
 *
 * Every mask works on code points of strictly validated UTF-8, so it never
 * splits one.  The plaintext's decoded copy lives in guarded memory
 * (vc_malloc, wiped by vc_free); small stack copies are wiped before return.
 * Masks are not constant-time: they hide content, not timing. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto.h"
#include "mask.h"
#include "text.h"

static const char *const kind_names[VAULT_MASK__COUNT] = {
    [VAULT_MASK_NONE] = "none",         [VAULT_MASK_NAME] = "name",
    [VAULT_MASK_ID_NUMBER] = "id_number", [VAULT_MASK_PHONE] = "phone",
    [VAULT_MASK_BANK_CARD] = "bank_card", [VAULT_MASK_ADDRESS] = "address",
    [VAULT_MASK_AGE_BAND] = "age_band", [VAULT_MASK_FLAG] = "flag",
    [VAULT_MASK_REDACT] = "redact",     [VAULT_MASK_PSEUDONYM] = "pseudonym",
};

int mask_kind_from_name(vault_mask_kind *out, const char *name)
{
    int rc = VAULT_OK;
    int printable = 1;
    size_t i;

    ENSURE(out != NULL && name != NULL, VAULT_EINVALID, "mask: no mask name given");
    for (i = 0; i < VAULT_MASK__COUNT; i++) {
        if (strcmp(name, kind_names[i]) == 0) {
            *out = (vault_mask_kind)i;
            goto cleanup;
        }
    }
    /* Names are not secret, but the message stays one short line. */
    for (i = 0; name[i] != '\0'; i++) {
        if (i >= 64 || (unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7e) {
            printable = 0;
            break;
        }
    }
    if (printable) {
        rc = vault__err(VAULT_EINVALID,
                        "mask: unknown mask name '%s' (known: none, name, id_number, phone, "
                        "bank_card, address, age_band, flag, redact, pseudonym)", name);
    } else {
        rc = vault__err(VAULT_EINVALID,
                        "mask: unknown mask name (not shown: too long or not printable ASCII)");
    }
cleanup:
    return rc;
}

const char *mask_kind_name(vault_mask_kind kind)
{
    if ((int)kind < 0 || (int)kind >= VAULT_MASK__COUNT) {
        return "unknown";
    }
    return kind_names[kind];
}

/* ---- UTF-8 ------------------------------------------------------------- */

/* Decode the code point at s (len > 0 bytes available): its length in
 * bytes, or 0 when the sequence is not strict UTF-8 (vault__utf8_next). */
static size_t utf8_decode(uint32_t *out, const unsigned char *s, size_t len)
{
    return vault__utf8_next(out, s, len);
}

/* Number of code points in s, or SIZE_MAX when s is not valid UTF-8. */
static size_t utf8_count(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n = 0, k;
    uint32_t c;

    while (i < len) {
        k = utf8_decode(&c, p + i, len - i);
        if (k == 0) {
            return SIZE_MAX;
        }
        i += k;
        n++;
    }
    return n;
}

/* A value decoded into code points; cp and off share one vc_malloc
 * block.  off[i] is the byte offset of cp[i]; off[n] == len. */
typedef struct text {
    const char *s;
    size_t len;
    size_t n;
    uint32_t *cp;
    uint32_t *off;
} text;

static int text_decode(text *t, const char *s, size_t len, size_t n)
{
    int rc = VAULT_OK;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, k = 0;

    t->cp = vc_malloc((2 * n + 1) * sizeof(uint32_t));
    ENSURE(t->cp != NULL, VAULT_ENOMEM, "mask: out of memory");
    t->off = t->cp + n;
    t->s = s;
    t->len = len;
    t->n = n;
    while (k < n) {
        t->off[k] = (uint32_t)i;
        i += utf8_decode(&t->cp[k], p + i, len - i);
        k++;
    }
    t->off[n] = (uint32_t)len;
cleanup:
    return rc;
}

static void text_free(text *t)
{
    vc_free(t->cp);
    t->cp = NULL;
    t->off = NULL;
}

static int is_space(uint32_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int is_digit(uint32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 0xff10 && c <= 0xff19); /* ASCII, fullwidth */
}

static int is_han(uint32_t c)
{
    return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) ||
           (c >= 0x20000 && c <= 0x3134f) || (c >= 0xf900 && c <= 0xfaff) || c == 0x3007;
}

/* ---- Output buffer ----------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static int buf_put(buf *b, const char *s, size_t n)
{
    int rc = VAULT_OK;

    ENSURE(n <= b->cap - b->len, VAULT_ERROR, "mask: internal output overflow");
    memcpy(b->p + b->len, s, n);
    b->len += n;
cleanup:
    return rc;
}

static int put_stars(buf *b, size_t n)
{
    int rc = VAULT_OK;

    ENSURE(n <= b->cap - b->len, VAULT_ERROR, "mask: internal output overflow");
    memset(b->p + b->len, '*', n);
    b->len += n;
cleanup:
    return rc;
}

/* Copy code points [from, to) of t unchanged. */
static int put_cps(buf *b, const text *t, size_t from, size_t to)
{
    return buf_put(b, t->s + t->off[from], t->off[to] - t->off[from]);
}

/* ---- name -------------------------------------------------------------- */

/* Compound (two-character) surnames, simplified and traditional forms. */
static const char compound_surnames[] =
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 令狐 宇文 司徒 夏侯 "
    "轩辕 端木 独孤 南宫 西门 百里 呼延 东郭 鲜于 太史 闻人 申屠 公羊 澹台 "
    "濮阳 淳于 单于 钟离 赫连 万俟 拓跋 司空 司寇 仲孙 闾丘 左丘 完颜 公冶 "
    "漆雕 壤驷 巫马 颛孙 羊舌 夹谷 宰父 公西 亓官 第五 子车 公良 东门 南门 "
    "微生 太叔 段干 "
    "歐陽 司馬 諸葛 東方 尉遲 公孫 長孫 軒轅 獨孤 南宮 西門 東郭 鮮于 聞人 "
    "澹臺 濮陽 單于 鍾離 赫連 萬俟 仲孫 閭丘 顓孫 夾谷 東門 南門";

static int is_compound_surname(uint32_t a, uint32_t b)
{
    const unsigned char *p = (const unsigned char *)compound_surnames;
    size_t len = sizeof compound_surnames - 1, i = 0;
    uint32_t x, y;

    while (i < len) {
        i += utf8_decode(&x, p + i, len - i);
        i += utf8_decode(&y, p + i, len - i);
        if (x == a && y == b) {
            return 1;
        }
        i++; /* the separating space */
    }
    return 0;
}

static int is_name_dot(uint32_t c)
{
    return c == 0xb7 || c == 0x2027 || c == 0x30fb || c == 0xff65; /* 买买提·艾力 */
}

static int is_han_name(const text *t)
{
    size_t i;

    if (!is_han(t->cp[0])) {
        return 0;
    }
    for (i = 1; i < t->n; i++) {
        if (!is_han(t->cp[i]) && !is_name_dot(t->cp[i])) {
            return 0;
        }
    }
    return 1;
}

static int is_latin_letter(uint32_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= 0xc0 && c <= 0x24f && c != 0xd7 && c != 0xf7) || (c >= 0x1e00 && c <= 0x1eff);
}

static int is_latin_name(const text *t)
{
    size_t i;
    uint32_t c;

    for (i = 0; i < t->n; i++) {
        c = t->cp[i];
        if (!is_latin_letter(c) && !(c >= 0x300 && c <= 0x36f) && c != ' ' && c != '-' &&
            c != '\'' && c != '.' && c != 0x2019) {
            return 0;
        }
    }
    return 1;
}

static int mask_name(buf *b, const text *t)
{
    int rc = VAULT_OK;
    size_t i;

    if (t->n == 1) {
        GUARD(put_stars(b, 1));
    } else if (is_han_name(t)) {
        /* Surname + one star: the given name's length stays hidden. */
        i = (t->n >= 3 && is_compound_surname(t->cp[0], t->cp[1])) ? 2 : 1;
        GUARD(put_cps(b, t, 0, i));
        GUARD(put_stars(b, 1));
    } else if (is_latin_name(t)) {
        for (i = 0; i < t->n; i++) {
            if (t->cp[i] == ' ' || i == 0 || t->cp[i - 1] == ' ') {
                GUARD(put_cps(b, t, i, i + 1));
            } else {
                GUARD(put_stars(b, 1));
            }
        }
    } else {
        GUARD(put_cps(b, t, 0, 1));
        GUARD(put_stars(b, t->n - 1));
    }
cleanup:
    return rc;
}

/* ---- id_number --------------------------------------------------------- */

static int mask_id_number(buf *b, const text *t)
{
    int rc = VAULT_OK;
    size_t n = t->n;

    if (n <= 7) {
        GUARD(put_stars(b, n));
    } else if (n <= 10) {
        GUARD(put_stars(b, n - 2));
        GUARD(put_cps(b, t, n - 2, n));
    } else {
        GUARD(put_cps(b, t, 0, 3));
        GUARD(put_stars(b, n - 7));
        GUARD(put_cps(b, t, n - 4, n));
    }
cleanup:
    return rc;
}

/* ---- phone ------------------------------------------------------------- */

static int is_phone_sep(uint32_t c)
{
    return c == ' ' || c == '-' || c == '+' || c == '(' || c == ')' || c == '.';
}

/* Keep digits [0, head) and the last `tail` digits, star the other digits
 * and every character that is not a separator; separators stay. */
static int mask_phone(buf *b, const text *t)
{
    int rc = VAULT_OK;
    char d[8] = {0}; /* the first digits, for classification */
    const char *nat;
    size_t ndig = 0, k = 0, i, p = 0, nn, area, head = 0, tail = 0;
    int plus = 0, foreign = 0;
    uint32_t c;

    for (i = 0; i < t->n; i++) {
        c = t->cp[i];
        if (c >= '0' && c <= '9') {
            if (ndig < sizeof d) {
                d[ndig] = (char)c;
            }
            ndig++;
        }
    }
    for (i = 0; i < t->n && (t->cp[i] == '(' || t->cp[i] == ' '); i++) {
    }
    plus = i < t->n && t->cp[i] == '+';

    if (ndig >= 7) {
        /* Country prefix: +86, 0086, or a bare 86 before a mobile number. */
        if (plus) {
            if (d[0] == '8' && d[1] == '6') {
                p = 2;
            } else {
                foreign = 1;
            }
        } else if (d[0] == '0' && d[1] == '0' && d[2] == '8' && d[3] == '6') {
            p = 4;
        } else if (ndig == 13 && d[0] == '8' && d[1] == '6' && d[2] == '1') {
            p = 2;
        }
        nat = d + p;
        nn = ndig - p;
        head = p;
        tail = nn >= 7 ? 4 : 0;
        if (foreign || nn < 2) {
            /* other: only the last 4 digits */
        } else if (nn == 11 && nat[0] == '1') {
            head = p + 3; /* mobile: 138****5678 */
        } else if (nat[0] == '0') {
            /* Landline with trunk 0: 010 and 02x have 3-digit area codes,
             * the rest 4; the local number has 7 or 8 digits. */
            area = (nat[1] == '1' || nat[1] == '2') ? 3 : 4;
            if (nn >= area + 7 && nn <= area + 8) {
                head = p + area;
            }
        } else if (p > 0) {
            area = (nat[0] == '1' || nat[0] == '2') ? 2 : 3; /* +86 571 ... */
            if (nn >= area + 7 && nn <= area + 8) {
                head = p + area;
            }
        }
    }
    for (i = 0; i < t->n; i++) {
        c = t->cp[i];
        if (c >= '0' && c <= '9') {
            if (k < head || k >= ndig - tail) {
                GUARD(put_cps(b, t, i, i + 1));
            } else {
                GUARD(put_stars(b, 1));
            }
            k++;
        } else if (is_phone_sep(c)) {
            GUARD(put_cps(b, t, i, i + 1));
        } else {
            GUARD(put_stars(b, 1));
        }
    }
cleanup:
    sodium_memzero(d, sizeof d);
    return rc;
}

/* ---- bank_card --------------------------------------------------------- */

/* Fewer digits than this are masked entirely: with 4 + 4 shown, an 11-digit
 * number would leave 3 hidden digits, one of them fixed by the Luhn check. */
#define BANK_CARD_MIN_DIGITS 12

static int mask_bank_card(buf *b, const text *t)
{
    int rc = VAULT_OK;
    size_t ndig = 0, other = 0, k = 0, i;
    uint32_t c;

    for (i = 0; i < t->n; i++) {
        c = t->cp[i];
        if (c >= '0' && c <= '9') {
            ndig++;
        } else if (c != ' ' && c != '-') {
            other++;
        }
    }
    if (other > 0 || ndig < BANK_CARD_MIN_DIGITS) {
        GUARD(put_stars(b, ndig + other));
        goto cleanup;
    }
    /* A fixed-width middle, so the output does not reveal the length. */
    for (i = 0; i < t->n; i++) {
        c = t->cp[i];
        if (c < '0' || c > '9') {
            continue;
        }
        if (k == ndig - 4) {
            GUARD(buf_put(b, " **** **** ", 11));
        }
        if (k < 4 || k >= ndig - 4) {
            GUARD(put_cps(b, t, i, i + 1));
        }
        k++;
    }
cleanup:
    return rc;
}

/* ---- address ----------------------------------------------------------- */

/* Smallest end (in code points) of any occurrence of any of the
 * space-separated markers in t, or SIZE_MAX when none occurs. */
static size_t find_marker_end(const text *t, const char *markers)
{
    const unsigned char *p = (const unsigned char *)markers;
    size_t len = strlen(markers), i = 0, m, j, k, best = SIZE_MAX;
    uint32_t mk[8];

    while (i < len) {
        for (m = 0; i < len && p[i] != ' ' && m < VAULT_ARRAY_LEN(mk); m++) {
            i += utf8_decode(&mk[m], p + i, len - i);
        }
        i++;
        for (j = 0; m > 0 && j + m <= t->n && j + m < best; j++) {
            for (k = 0; k < m && t->cp[j + k] == mk[k]; k++) {
            }
            if (k == m) {
                best = j + m;
                break;
            }
        }
    }
    return best;
}

static int mask_address_latin(buf *b, const text *t)
{
    int rc = VAULT_OK;
    size_t start = t->n, end = t->n, kept = 0, i, j;
    int digit;

    /* Walk the comma-separated parts from the end: keep at most two, never
     * the first, and none from a part with a digit onwards. */
    while (kept < 2) {
        for (i = end; i > 0 && t->cp[i - 1] != ','; i--) {
        }
        if (i == 0) {
            break; /* the first part */
        }
        digit = 0;
        for (j = i; j < end; j++) {
            digit |= is_digit(t->cp[j]);
        }
        for (j = i; j < end && is_space(t->cp[j]); j++) {
        }
        if (digit || j == end) {
            break;
        }
        start = i;
        kept++;
        end = i - 1;
    }
    if (kept == 0) {
        GUARD(buf_put(b, "***", 3));
        goto cleanup;
    }
    while (is_space(t->cp[start])) {
        start++;
    }
    GUARD(buf_put(b, "***, ", 5));
    GUARD(put_cps(b, t, start, t->n));
cleanup:
    return rc;
}

static int mask_address(buf *b, const text *t)
{
    int rc = VAULT_OK;
    size_t cut, i;
    int han = 0;

    for (i = 0; i < t->n; i++) {
        han |= is_han(t->cp[i]);
    }
    if (!han) {
        GUARD(mask_address_latin(b, t));
        goto cleanup;
    }
    cut = find_marker_end(t, "社区 居委会 村委会 居民委员会 村民委员会");
    if (cut == SIZE_MAX) {
        cut = find_marker_end(t, "村 嘎查");
    }
    if (cut == SIZE_MAX) {
        cut = find_marker_end(t, "街道 镇 乡");
    }
    if (cut == SIZE_MAX) {
        cut = t->n > 6 ? 6 : 0;
    }
    /* Never keep a house, building or room number. */
    for (i = 0; i < cut; i++) {
        if (is_digit(t->cp[i])) {
            cut = i;
        }
    }
    GUARD(put_cps(b, t, 0, cut));
    GUARD(buf_put(b, "***", 3));
cleanup:
    return rc;
}

/* ---- age_band ---------------------------------------------------------- */

static int days_in_month(long y, long m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

static long parse_digits(const char *s, size_t n)
{
    long v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int mask_age_band(buf *b, const text *t, time_t now)
{
    int rc = VAULT_OK;
    struct {
        long y, m, d, age;
        struct tm tm;
        char band[16];
    } w;
    int dash = t->len == 10;
    int n;

    memset(&w, 0, sizeof w);
    ENSURE((t->len == 10 && t->s[4] == '-' && t->s[7] == '-') || t->len == 8, VAULT_EINVALID,
           "age_band: value is not a date (YYYY-MM-DD or YYYYMMDD)");
    w.y = parse_digits(t->s, 4);
    w.m = parse_digits(t->s + 4 + dash, 2);
    w.d = parse_digits(t->s + 6 + 2 * dash, 2);
    ENSURE(w.y >= 1 && w.m >= 1 && w.m <= 12 && w.d >= 1 && w.d <= days_in_month(w.y, w.m),
           VAULT_EINVALID, "age_band: value is not a valid date (YYYY-MM-DD or YYYYMMDD)");
    ENSURE(gmtime_r(&now, &w.tm) != NULL, VAULT_EINVALID, "age_band: current time out of range");
    w.age = (long)w.tm.tm_year + 1900 - w.y;
    /* Birthday not reached yet this year (29 February counts from 1 March
     * in common years). */
    if (w.tm.tm_mon + 1 < w.m || (w.tm.tm_mon + 1 == w.m && w.tm.tm_mday < w.d)) {
        w.age--;
    }
    ENSURE(w.age >= 0, VAULT_EINVALID, "age_band: birth date is in the future");
    if (w.age >= 90) {
        n = snprintf(w.band, sizeof w.band, "90+");
    } else {
        n = snprintf(w.band, sizeof w.band, "%ld-%ld", w.age / 10 * 10, w.age / 10 * 10 + 9);
    }
    ENSURE(n > 0 && (size_t)n < sizeof w.band, VAULT_ERROR, "age_band: formatting failed");
    GUARD(buf_put(b, w.band, (size_t)n));
cleanup:
    sodium_memzero(&w, sizeof w);
    return rc;
}

/* ---- mask_apply -------------------------------------------------------- */

int mask_apply(char **out, size_t *out_len, vault_mask_kind kind, const char *in, size_t in_len,
               time_t now)
{
    int rc = VAULT_OK;
    text t = {0};
    buf b = {0};
    char *res = NULL;
    const char *s = in;
    size_t len = in_len, n;

    ENSURE(out != NULL, VAULT_EINVALID, "mask: no output pointer");
    *out = NULL;
    if (out_len != NULL) {
        *out_len = 0;
    }
    ENSURE((int)kind >= 0 && (int)kind < VAULT_MASK__COUNT, VAULT_EINVALID,
           "mask: unknown mask kind %d", (int)kind);
    ENSURE(kind != VAULT_MASK_PSEUDONYM, VAULT_EINVALID,
           "mask: a pseudonym needs the department's key (vc_pseudonym), not mask_apply");
    ENSURE(in != NULL || in_len == 0, VAULT_EINVALID, "mask: no input value");
    ENSURE(in_len <= VAULT_VALUE_MAX, VAULT_ELIMIT, "mask: value longer than %d bytes",
           VAULT_VALUE_MAX);
    n = utf8_count(in, in_len);
    ENSURE(n != SIZE_MAX, VAULT_EINVALID, "mask: value is not valid UTF-8");

    /* ASCII whitespace at either end is not part of the value; an ASCII
     * byte never sits inside a multi-byte sequence, so n shrinks by one per
     * byte trimmed. */
    while (len > 0 && is_space((unsigned char)s[0])) {
        s++, len--, n--;
    }
    while (len > 0 && is_space((unsigned char)s[len - 1])) {
        len--, n--;
    }

    b.cap = len + 64; /* no mask adds more than "***, " or a 19-byte card */
    b.p = vc_malloc(b.cap);
    ENSURE(b.p != NULL, VAULT_ENOMEM, "mask: out of memory");
    if (len == 0) {
        if (kind == VAULT_MASK_FLAG) {
            GUARD(buf_put(&b, "no", 2));
        }
        goto done;
    }
    GUARD(text_decode(&t, s, len, n));
    switch (kind) {
    case VAULT_MASK_NAME: GUARD(mask_name(&b, &t)); break;
    case VAULT_MASK_ID_NUMBER: GUARD(mask_id_number(&b, &t)); break;
    case VAULT_MASK_PHONE: GUARD(mask_phone(&b, &t)); break;
    case VAULT_MASK_BANK_CARD: GUARD(mask_bank_card(&b, &t)); break;
    case VAULT_MASK_ADDRESS: GUARD(mask_address(&b, &t)); break;
    case VAULT_MASK_AGE_BAND: GUARD(mask_age_band(&b, &t, now)); break;
    case VAULT_MASK_FLAG: GUARD(buf_put(&b, "yes", 3)); break;
    case VAULT_MASK_NONE:
    case VAULT_MASK_REDACT:
    default: GUARD(buf_put(&b, "***", 3)); break;
    }
done:
    res = vc_malloc(b.len + 1);
    ENSURE(res != NULL, VAULT_ENOMEM, "mask: out of memory");
    memcpy(res, b.p, b.len);
    res[b.len] = '\0';
    *out = res;
    res = NULL;
    if (out_len != NULL) {
        *out_len = b.len;
    }
cleanup:
    vc_free(res);
    vc_free(b.p);
    text_free(&t);
    return rc;
}

/* text: free-text validation, user-name normalisation (NFC, case fold)
 * and output escaping. */
#include "testutil.h"

#include "crypto.h"
#include "mask.h"
#include "text.h"

static void test_text_check(void **state)
{
    char longer[600];

    (void)state;
    assert_int_equal(vault__text_check("patient unconscious, ward 3", 511, "reason"), VAULT_OK);
    assert_int_equal(vault__text_check("\xe6\x80\xa5\xe8\xaf\x8a", 511, "reason"), VAULT_OK);
    assert_int_equal(vault__text_check("", 511, "reason"), VAULT_EINVALID);
    assert_int_equal(vault__text_check(NULL, 511, "reason"), VAULT_EINVALID);
    /* A newline forges a report line; ESC sequences rewrite the terminal. */
    assert_int_equal(vault__text_check("ok\n[BREAK-GLASS] forged", 511, "reason"), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "reason contains a control character"));
    assert_int_equal(vault__text_check("x\x1b[2K\x1b[1A", 511, "reason"), VAULT_EINVALID);
    assert_int_equal(vault__text_check("tab\there", 511, "reason"), VAULT_EINVALID);
    assert_int_equal(vault__text_check("del\x7f", 511, "reason"), VAULT_EINVALID);
    assert_int_equal(vault__text_check("c1 \xc2\x9b" "2K", 511, "reason"), VAULT_EINVALID);
    /* U+202E RIGHT-TO-LEFT OVERRIDE and U+2066 LEFT-TO-RIGHT ISOLATE */
    assert_int_equal(vault__text_check("abc\xe2\x80\xae" "fed", 511, "reason"), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "U+202E"));
    assert_int_equal(vault__text_check("\xe2\x81\xa6x", 511, "reason"), VAULT_EINVALID);
    assert_int_equal(vault__text_check("bad \xff utf-8", 511, "reason"), VAULT_EINVALID);
    assert_int_equal(vault__text_check("line\xe2\x80\xa8sep", 511, "reason"), VAULT_EINVALID);
    assert_int_equal(vault__text_check("\xed\xa0\x80", 511, "reason"), VAULT_EINVALID); /* surrogate */
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(vault__text_check(longer, 511, "reason"), VAULT_ELIMIT);
    /* The message names what was checked, never the text itself. */
    assert_int_equal(vault__text_check("secret-ish\n", 511, "label"), VAULT_EINVALID);
    assert_null(strstr(vault_error_last(), "secret-ish"));
}

static void test_user_norm(void **state)
{
    char a[VAULT_NAME_MAX], b[VAULT_NAME_MAX], big[VAULT_NAME_MAX + 1];

    (void)state;
    assert_int_equal(vault__user_norm(a, sizeof a, "LI", "user"), VAULT_OK);
    assert_int_equal(vault__user_norm(b, sizeof b, "li", "user"), VAULT_OK);
    assert_string_equal(a, b);
    assert_int_equal(vault__user_norm(a, sizeof a, "Wang.Fang", "user"), VAULT_OK);
    assert_string_equal(a, "wang.fang");
    /* Chinese names are normal; they pass unchanged. */
    assert_int_equal(vault__user_norm(a, sizeof a, "\xe5\xbc\xa0\xe4\xb8\x89", "user"), VAULT_OK);
    assert_string_equal(a, "\xe5\xbc\xa0\xe4\xb8\x89");
    /* NFC: e + combining acute equals the precomposed e-acute. */
    assert_int_equal(vault__user_norm(a, sizeof a, "Jose\xcc\x81", "user"), VAULT_OK);
    assert_int_equal(vault__user_norm(b, sizeof b, "jos\xc3\xa9", "user"), VAULT_OK);
    assert_string_equal(a, b);
    /* Fullwidth letters fold to the same case but stay distinct from ASCII
     * (NFC, not NFKC): only one spelling of a name exists per person. */
    assert_int_equal(vault__user_norm(a, sizeof a, "\xef\xbc\xac\xef\xbc\xa9", "user"), VAULT_OK);
    assert_string_not_equal(a, "li");
    /* In place. */
    snprintf(a, sizeof a, "%s", "MiXeD");
    assert_int_equal(vault__user_norm(a, sizeof a, a, "user"), VAULT_OK);
    assert_string_equal(a, "mixed");
    /* Refused: empty, spaces, controls, bidi, invisible, bad UTF-8, long. */
    assert_int_equal(vault__user_norm(a, sizeof a, "", "user"), VAULT_EINVALID);
    assert_int_equal(vault__user_norm(a, sizeof a, NULL, "user"), VAULT_EINVALID);
    assert_int_equal(vault__user_norm(a, sizeof a, "li si", "user"), VAULT_EINVALID);
    assert_int_equal(vault__user_norm(a, sizeof a, "li\xe3\x80\x80si", "user"), VAULT_EINVALID);
    assert_int_equal(vault__user_norm(a, sizeof a, "li\nsi", "user"), VAULT_EINVALID);
    assert_int_equal(vault__user_norm(a, sizeof a, "li\xe2\x80\xaesi", "user"), VAULT_EINVALID);
    assert_int_equal(vault__user_norm(a, sizeof a, "li\xe2\x80\x8bsi", "user"), VAULT_EINVALID);
    assert_int_equal(vault__user_norm(a, sizeof a, "li\xff", "user"), VAULT_EINVALID);
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(vault__user_norm(a, sizeof a, big, "user"), VAULT_ELIMIT);
    big[VAULT_NAME_MAX - 1] = '\0';
    assert_int_equal(vault__user_norm(a, sizeof a, big, "user"), VAULT_OK);
    assert_int_equal(vault__user_norm(a, 8, "li", "user"), VAULT_EINVALID);
}

static void test_escape(void **state)
{
    char *out = NULL;
    const char in[] = "a\\b\nc\td\x1b[2K\xe2\x80\xae" "e\xff\xe5\xbc\xa0";

    (void)state;
    assert_int_equal(vault__text_escape(&out, in, sizeof in - 1), VAULT_OK);
    assert_string_equal(out, "a\\\\b\\nc\\td\\x1b[2K\\u{202E}e\\xff\xe5\xbc\xa0");
    free(out);
    assert_int_equal(vault__text_escape(&out, "", 0), VAULT_OK);
    assert_string_equal(out, "");
    free(out);
    /* A NUL inside the given length is escaped, not a terminator. */
    assert_int_equal(vault__text_escape(&out, "x\0y", 3), VAULT_OK);
    assert_string_equal(out, "x\\x00y");
    free(out);
    assert_int_equal(vault__text_escape(NULL, "x", 1), VAULT_EINVALID);
}

/* ---- the one UTF-8 decoder (vault__utf8_next) ---- */

typedef struct utf8_vec {
    const char *bytes;
    size_t n;
    size_t want_len; /* 0: refused */
    uint32_t want_cp;
    const char *what;
} utf8_vec;

static const utf8_vec utf8_vecs[] = {
    {"A", 1, 1, 0x41, "ASCII"},
    {"\0", 1, 1, 0, "NUL decodes (callers refuse it)"},
    {"\x7f", 1, 1, 0x7f, "DEL"},
    {"\xc2\x80", 2, 2, 0x80, "2-byte lowest"},
    {"\xdf\xbf", 2, 2, 0x7ff, "2-byte highest"},
    {"\xe0\xa0\x80", 3, 3, 0x800, "3-byte lowest"},
    {"\xe5\xbc\xa0", 3, 3, 0x5f20, "3-byte CJK"},
    {"\xed\x9f\xbf", 3, 3, 0xd7ff, "below the surrogates"},
    {"\xee\x80\x80", 3, 3, 0xe000, "above the surrogates"},
    {"\xef\xbf\xbf", 3, 3, 0xffff, "3-byte highest"},
    {"\xf0\x90\x80\x80", 4, 4, 0x10000, "4-byte lowest"},
    {"\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff, "U+10FFFF"},
    {"\xe5\xbc\xa0X", 4, 3, 0x5f20, "stops after the sequence"},
    {"\xc0\x80", 2, 0, 0, "overlong NUL, 2 bytes"},
    {"\xc1\xbf", 2, 0, 0, "overlong, 2 bytes"},
    {"\xe0\x80\xaf", 3, 0, 0, "overlong, 3 bytes"},
    {"\xe0\x9f\xbf", 3, 0, 0, "overlong U+07FF, 3 bytes"},
    {"\xf0\x80\x80\xaf", 4, 0, 0, "overlong, 4 bytes"},
    {"\xf0\x8f\xbf\xbf", 4, 0, 0, "overlong U+FFFF, 4 bytes"},
    {"\xed\xa0\x80", 3, 0, 0, "surrogate U+D800"},
    {"\xed\xbf\xbf", 3, 0, 0, "surrogate U+DFFF"},
    {"\xf4\x90\x80\x80", 4, 0, 0, "U+110000"},
    {"\xf5\x80\x80\x80", 4, 0, 0, "lead F5"},
    {"\xf8\x88\x80\x80\x80", 5, 0, 0, "5-byte form"},
    {"\xff", 1, 0, 0, "FF"},
    {"\x80", 1, 0, 0, "lone continuation 80"},
    {"\xbf", 1, 0, 0, "lone continuation BF"},
    {"\xe5\x28\xa0", 3, 0, 0, "bad second byte"},
    {"\xf0\x90\x28\x80", 4, 0, 0, "bad third byte"},
    {"\xf0\x90\x80\x28", 4, 0, 0, "bad fourth byte"},
    {"\xc2", 1, 0, 0, "2-byte cut after 1"},
    {"\xe5\xbc", 2, 0, 0, "3-byte cut after 2"},
    {"\xe5", 1, 0, 0, "3-byte cut after 1"},
    {"\xf0\x90\x80", 3, 0, 0, "4-byte cut after 3"},
    {"\xf0\x90", 2, 0, 0, "4-byte cut after 2"},
    {"\xf0", 1, 0, 0, "4-byte cut after 1"},
};

static void test_utf8_next(void **state)
{
    uint32_t cp;
    size_t i, k;

    (void)state;
    for (i = 0; i < VAULT_ARRAY_LEN(utf8_vecs); i++) {
        const utf8_vec *t = &utf8_vecs[i];

        cp = 0xdeadbeef;
        k = vault__utf8_next(&cp, (const uint8_t *)t->bytes, t->n);
        if (k != t->want_len || (k && cp != t->want_cp)) {
            print_error("%s: length %zu cp %x, want %zu %x\n", t->what, k, (unsigned)cp,
                        t->want_len, (unsigned)t->want_cp);
            fail();
        }
    }
    /* nothing to decode */
    assert_int_equal(vault__utf8_next(&cp, (const uint8_t *)"A", 0), 0);
}

/* Every refused vector is refused by each former hand decoder's caller:
 * a masked value (mask.c); each accepted one masks.  (Record values,
 * keyslot labels and audit entry text: test_record/test_keyslot/
 * test_audit_format and test_import check them.) */
static void test_utf8_callers(void **state)
{
    char in[16], *out;
    size_t i, len;
    int rc;

    (void)state;
    assert_int_equal(vault_init(), VAULT_OK); /* vc_malloc: libsodium */
    for (i = 0; i < VAULT_ARRAY_LEN(utf8_vecs); i++) {
        const utf8_vec *t = &utf8_vecs[i];

        if (t->want_len != 0 && (t->want_cp < 0x20 || t->n != t->want_len))
            continue; /* controls and trailing bytes: not this test's point */
        memcpy(in, "ab", 2);
        memcpy(in + 2, t->bytes, t->n);
        out = NULL;
        rc = mask_apply(&out, &len, VAULT_MASK_NAME, in, t->n + 2, 0);
        if ((rc == VAULT_OK) != (t->want_len != 0)) {
            print_error("mask: %s: rc %d\n", t->what, rc);
            fail();
        }
        if (rc == VAULT_OK)
            vc_free(out);
        else
            assert_non_null(strstr(vault_error_last(), "UTF-8"));
    }
}

/* ---- the growing text buffer (vault_buf) ---- */

static void test_buf_growth(void **state)
{
    vault_buf b;
    char *s;
    size_t i;

    (void)state;
    for (int wipe = 0; wipe <= 1; wipe++) {
        vault__buf_init(&b, "test text", 0, wipe);
        for (i = 0; i < 5000; i++) {
            assert_int_equal(vault__buf_printf(&b, "%04zu,", i), VAULT_OK);
            assert_int_equal(vault__buf_put(&b, "x", 1), VAULT_OK);
        }
        assert_int_equal(b.len, 5000 * 6);
        assert_int_equal(strlen(b.s), b.len);
        assert_true(b.cap > b.len);
        for (i = 0; i < 5000; i += 997) {
            char want[8];

            snprintf(want, sizeof want, "%04zu,x", i);
            assert_memory_equal(b.s + i * 6, want, 6);
        }
        s = vault__buf_steal(&b);
        assert_non_null(s);
        assert_null(b.s);
        assert_int_equal(b.len, 0);
        assert_memory_equal(s + 4999 * 6, "4999,x", 7);
        free(s);
    }
    /* nothing appended: "" */
    vault__buf_init(&b, NULL, 0, 0);
    s = vault__buf_steal(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    /* a long printf that doesn't fit what is left */
    vault__buf_init(&b, NULL, 0, 0);
    assert_int_equal(vault__buf_puts(&b, "a"), VAULT_OK);
    assert_int_equal(vault__buf_printf(&b, "%0700d|", 7), VAULT_OK);
    assert_int_equal(b.len, 702);
    assert_int_equal(b.s[701], '|');
    assert_int_equal(b.s[700], '7');
    vault__buf_free(&b);
}

static void test_buf_failures(void **state)
{
    vault_buf b;
    char *s = NULL;

    (void)state;
    /* bounded: the printf that would pass max fails, sticks, and keeps the text before it */
    vault__buf_init(&b, "grant list", 10, 0);
    assert_int_equal(vault__buf_printf(&b, "%s", "12345"), VAULT_OK);
    assert_int_equal(vault__buf_printf(&b, "%s", "67890"), VAULT_OK);
    assert_int_equal(vault__buf_printf(&b, "%d", 1), VAULT_ELIMIT);
    assert_string_equal(vault_error_last(), "grant list: longer than 10 bytes");
    assert_string_equal(b.s, "1234567890");
    assert_int_equal(vault__buf_puts(&b, ""), VAULT_ELIMIT);
    assert_int_equal(vault__buf_printf(&b, "x"), VAULT_ELIMIT);
    assert_null(vault__buf_steal(&b));
    assert_null(b.s);
    /* a bounded put too */
    vault__buf_init(&b, NULL, 4, 1);
    assert_int_equal(vault__buf_put(&b, "abcde", 5), VAULT_ELIMIT);
    assert_string_equal(vault_error_last(), "text: longer than 4 bytes");
    vault__buf_free(&b);
    /* a size that can't be allocated: no memory, remembered */
    vault__buf_init(&b, "audit report", 0, 0);
    assert_int_equal(vault__buf_puts(&b, "kept"), VAULT_OK);
    assert_int_equal(vault__buf_reserve(&b, SIZE_MAX - 2), VAULT_ENOMEM);
    assert_string_equal(vault_error_last(), "audit report: out of memory");
    assert_int_equal(b.failed, VAULT_ENOMEM);
    assert_int_equal(vault__buf_puts(&b, "more"), VAULT_ENOMEM);
    assert_string_equal(b.s, "kept");
    /* a listing built in a failed buffer fails with its code */
    assert_int_equal(vault__listing_take(&s, NULL, &b), VAULT_ENOMEM);
    assert_null(s);
    assert_null(b.s);
    vault__buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_check),
        cmocka_unit_test(test_utf8_next),
        cmocka_unit_test(test_utf8_callers),
        cmocka_unit_test(test_buf_growth),
        cmocka_unit_test(test_buf_failures),
        cmocka_unit_test(test_user_norm),
        cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* text: free-text validation, user-name normalisation (NFC, case fold)
 * and output escaping. */
#include "testutil.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_check),
        cmocka_unit_test(test_user_norm),
        cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

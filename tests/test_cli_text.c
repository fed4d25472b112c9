/* vaultctl's escape routine (cli/text.c), byte by byte: what the shell
 * tests can't reach (invalid UTF-8 can't be stored in a vault, so only
 * this test feeds it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "../cli/text.c"

static void expect(const char *in, size_t len, int style, const char *want)
{
    char *got = cli_escape(in, len, style);

    assert_non_null(got);
    assert_string_equal(got, want);
    cli_text_free(got);
}

#define TEXT(lit, want) expect(lit, sizeof lit - 1, CLI_ESC_TEXT, want)
#define JSON(lit, want) expect(lit, sizeof lit - 1, CLI_ESC_JSON, want)

static void test_text_plain(void **state)
{
    (void)state;
    TEXT("", "");
    TEXT("13812345678", "13812345678");
    TEXT("张三 长征路12号", "张三 长征路12号"); /* CJK and spaces stay */
    TEXT("a\\b", "a\\\\b");                  /* backslash doubled: unambiguous */
}

static void test_text_controls(void **state)
{
    (void)state;
    TEXT("\x1b[2K\x1b[1A", "\\x1B[2K\\x1B[1A");
    TEXT("a\nb\tc\rd", "a\\nb\\tc\\rd");
    TEXT("\x7f\x01", "\\x7F\\x01");
    TEXT("nul\0in", "nul\\x00in");       /* a NUL inside the length */
    TEXT("\xc2\x85\xc2\x9f", "\\u{0085}\\u{009F}"); /* C1 */
    TEXT("\xc2\xa0", "\xc2\xa0");         /* U+00A0 is not C1 */
}

static void test_text_bidi(void **state)
{
    (void)state;
    TEXT("\xe2\x80\xae", "\\u{202E}");
    TEXT("\xe2\x80\xaa\xe2\x80\xac", "\\u{202A}\\u{202C}");
    TEXT("\xe2\x81\xa6\xe2\x81\xa9", "\\u{2066}\\u{2069}");
    TEXT("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", "\\u{200E}\\u{200F}\\u{061C}");
    TEXT("\xe2\x80\xaf", "\xe2\x80\xaf"); /* U+202F (narrow space) stays */
}

static void test_text_invalid_utf8(void **state)
{
    (void)state;
    TEXT("\xff", "\\xFF");
    TEXT("\xc0\xaf", "\\xC0\\xAF");             /* overlong '/' */
    TEXT("\xed\xa0\x80", "\\xED\\xA0\\x80");     /* surrogate */
    TEXT("ab\xe2\x80", "ab\\xE2\\x80");          /* cut short at the end */
    TEXT("\xf4\x90\x80\x80", "\\xF4\\x90\\x80\\x80"); /* beyond U+10FFFF */
    TEXT("\x80z", "\\x80z");                     /* stray continuation */
}

static void test_worst_case_fits(void **state)
{
    char in[64];
    char *got;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof in; i++)
        in[i] = (char)0xff; /* 1 byte -> 4 */
    got = cli_escape(in, sizeof in, CLI_ESC_TEXT);
    assert_non_null(got);
    assert_int_equal(strlen(got), 4 * sizeof in);
    cli_text_free(got);
    for (i = 0; i + 2 <= sizeof in; i += 2) {
        in[i] = (char)0xc2; /* U+0085: 2 bytes -> 8 */
        in[i + 1] = (char)0x85;
    }
    got = cli_escape(in, sizeof in, CLI_ESC_TEXT);
    assert_non_null(got);
    assert_int_equal(strlen(got), 4 * sizeof in);
    cli_text_free(got);
}

static void test_json(void **state)
{
    (void)state;
    /* What jansson leaves raw becomes \uXXXX; what it escaped stays. */
    JSON("{\"v\": \"a\\u001b[2K\xe2\x80\xae\x7f\xc2\x85\"}",
         "{\"v\": \"a\\u001b[2K\\u202e\\u007f\\u0085\"}");
    JSON("{\"v\": \"张三\\\\n\"}", "{\"v\": \"张三\\\\n\"}");
    JSON("", "");
}

/* Columns by wcwidth: CJK and emoji 2, a combining mark 0. */
static void test_width(void **state)
{
    (void)state;
    assert_int_equal(cli_display_width(""), 0);
    assert_int_equal(cli_display_width("abc"), 3);
    assert_int_equal(cli_display_width("\xe5\xbc\xa0\xe4\xb8\x89"), 4);     /* 张三 */
    assert_int_equal(cli_display_width("Jose\xcc\x81"), 4);                 /* e + U+0301 */
    assert_int_equal(cli_display_width("\xc3\xa9"), 1);                     /* precomposed */
    assert_int_equal(cli_display_width("\xf0\x9f\x98\x80"), 2);             /* U+1F600 */
    assert_int_equal(cli_display_width("\xf0\x9f\x8f\xa5 ok"), 5);         /* U+1F3E5 hospital */
    assert_int_equal(cli_display_width("\xef\xbc\xa1"), 2);                 /* fullwidth A */
    assert_int_equal(cli_display_width("\xe2\x80\x8b"), 0);                 /* zero width space */
    assert_int_equal(cli_display_width("\xff\xfe"), 2);                      /* invalid: 1 each */
}

/* Padded cells line up: each row's next column starts at the same column. */
static void test_padded(void **state)
{
    static const char *const cells[] = {"\xe5\xbc\xa0\xe4\xb8\x89", "Jose\xcc\x81",
                                        "\xf0\x9f\x98\x80 smile", "plain"};
    char *buf = NULL;
    size_t len = 0, i;
    FILE *f;

    (void)state;
    for (i = 0; i < sizeof cells / sizeof cells[0]; i++) {
        f = open_memstream(&buf, &len);
        assert_non_null(f);
        cli_print_padded(f, cells[i], 12);
        fputs("|", f);
        fclose(f);
        assert_int_equal(cli_display_width(buf), 13);
        assert_int_equal(buf[len - 1], '|');
        free(buf);
        buf = NULL;
    }
    f = open_memstream(&buf, &len); /* wider than the cell: printed whole, no padding */
    cli_print_padded(f, "\xe5\xbc\xa0\xe4\xb8\x89", 3);
    fclose(f);
    assert_string_equal(buf, "\xe5\xbc\xa0\xe4\xb8\x89");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_plain),       cmocka_unit_test(test_text_controls),
        cmocka_unit_test(test_text_bidi),        cmocka_unit_test(test_text_invalid_utf8),
        cmocka_unit_test(test_worst_case_fits),  cmocka_unit_test(test_json),
        cmocka_unit_test(test_width),            cmocka_unit_test(test_padded),
    };
    cli_locale_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}

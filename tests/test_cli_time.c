/* vaultctl's times (cli/timefmt.c): the forms accepted, bad ones and DST
 * gaps and overlaps refused, local output with its offset, and the
 * rewriting of library text, in Asia/Shanghai, UTC and America/New_York
 * (tzdata's zones, through the C library). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../cli/timefmt.c"

/* The usage-error path of cli_time_option, captured (common.c prints it). */
static char last_usage[512];

int cli_usage_error(const cli *c, const char *fmt, ...)
{
    va_list ap;

    (void)c;
    va_start(ap, fmt);
    vsnprintf(last_usage, sizeof last_usage, fmt, ap);
    va_end(ap);
    return EXIT_USAGE;
}

static void zone(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static int64_t parse_ok(const char *s)
{
    char why[160];
    int64_t t = -1;

    assert_int_equal(cli_time_parse(&t, s, why, sizeof why), CLI_TIME_OK);
    return t;
}

static int parse_err(const char *s, char *why, size_t cap)
{
    int64_t t = 0;
    int r = cli_time_parse(&t, s, why, cap);

    assert_int_not_equal(r, CLI_TIME_OK);
    return r;
}

/* 2026-12-01T09:00:00Z */
#define T0 1796115600LL

static void test_rfc3339_offsets(void **state)
{
    (void)state;
    zone("America/New_York"); /* the zone plays no part here */
    assert_int_equal(parse_ok("2026-12-01T09:00:00Z"), T0);
    assert_int_equal(parse_ok("2026-12-01t09:00:00z"), T0);
    assert_int_equal(parse_ok("2026-12-01T09:00Z"), T0);
    assert_int_equal(parse_ok("2026-12-01T17:00+08:00"), T0);
    assert_int_equal(parse_ok("2026-12-01T17:00:00+08:00"), T0);
    assert_int_equal(parse_ok("2026-12-01T04:00:00-05:00"), T0);
    assert_int_equal(parse_ok("2026-12-01T09:00:00.999999Z"), T0); /* fraction dropped */
    assert_int_equal(parse_ok("2026-12-01T09:00:00.5+00:00"), T0);
    assert_int_equal(parse_ok("2026-12-01T14:30+05:30"), T0);
    assert_int_equal(parse_ok("2026-12-01 17:00+08:00"), T0);
    assert_int_equal(parse_ok("2028-02-29T00:00:00Z"), 1835395200LL); /* leap day */
    assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse_ok("9999-12-31T23:59:59Z"), TIME_MAX);
}

static void test_local_forms(void **state)
{
    (void)state;
    zone("Asia/Shanghai");
    assert_int_equal(parse_ok("2026-12-01 17:00"), T0);
    assert_int_equal(parse_ok("2026-12-01T17:00"), T0);
    assert_int_equal(parse_ok("2026-12-01 17:00:00"), T0);
    assert_int_equal(parse_ok("2026-12-01"), T0 - 17 * 3600); /* local midnight */
    zone("UTC");
    assert_int_equal(parse_ok("2026-12-01 09:00"), T0);
    assert_int_equal(parse_ok("2026-12-01"), T0 - 9 * 3600);
    zone("America/New_York");
    assert_int_equal(parse_ok("2026-12-01 04:00"), T0);       /* EST, -05:00 */
    assert_int_equal(parse_ok("2026-07-01 12:00"), 1782921600LL); /* EDT: 16:00Z */
    assert_int_equal(parse_ok("2026-11-01 03:00"), 1793520000LL); /* just after the overlap */
}

static void test_bad_forms(void **state)
{
    static const char *const bad[] = {
        "", "2026", "2026-12", "2026-12-1", "26-12-01", "2026/12/01", "2026-12-01T",
        "2026-12-01T9:00", "2026-12-01T09", "2026-12-01T09:0", "2026-12-01T09:00:0",
        "2026-12-01T09:00:00.", "2026-12-01T09:00:00.1234567890Z", "2026-12-01T09:00:00+08",
        "2026-12-01T09:00:00+0800", "2026-12-01T09:00:00 Z", "2026-12-01Z", "2026-12-01+08:00",
        "2026-12-01T09:00:00Zjunk", " 2026-12-01", "2026-12-01 ", "1796115600", "now",
        "2026-12-01T09:00:00UTC", "2026-12-01T09:00:00+08:00:00", "2026-12-01T09:00:00-",
        "+2026-12-01", "2026-12-01\t09:00",
    };
    char why[160];
    size_t i;

    (void)state;
    zone("UTC");
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse_err(bad[i], why, sizeof why), CLI_TIME_BAD);
        assert_string_equal(why, "is not a time");
    }
    parse_err("2026-02-29", why, sizeof why); /* not a leap year */
    assert_string_equal(why, "names no such day");
    parse_err("2026-13-01", why, sizeof why);
    assert_string_equal(why, "names no such day");
    parse_err("2026-04-31T00:00Z", why, sizeof why);
    assert_string_equal(why, "names no such day");
    parse_err("2026-00-10", why, sizeof why);
    assert_string_equal(why, "names no such day");
    parse_err("2026-12-01T24:00Z", why, sizeof why);
    assert_non_null(strstr(why, "no such time of day"));
    parse_err("2026-12-01T09:60Z", why, sizeof why);
    assert_non_null(strstr(why, "no such time of day"));
    parse_err("2026-12-01T09:00:60Z", why, sizeof why);
    assert_non_null(strstr(why, "no such time of day"));
    parse_err("2026-12-01T09:00+24:00", why, sizeof why);
    assert_non_null(strstr(why, "offset"));
    parse_err("2026-12-01T09:00+08:60", why, sizeof why);
    assert_non_null(strstr(why, "offset"));
    assert_int_equal(parse_err("1969-12-31T23:59:59Z", why, sizeof why), CLI_TIME_RANGE);
    assert_int_equal(parse_err("1970-01-01T07:59+08:00", why, sizeof why), CLI_TIME_RANGE);
    assert_int_equal(parse_err("9999-12-31T23:59:59-00:01", why, sizeof why), CLI_TIME_RANGE);
    assert_non_null(strstr(why, "1970"));
}

static void test_dst(void **state)
{
    char why[160];

    (void)state;
    zone("America/New_York");
    /* 2026-03-08: 02:00 EST becomes 03:00 EDT. */
    assert_int_equal(parse_err("2026-03-08 02:30", why, sizeof why), CLI_TIME_GAP);
    assert_non_null(strstr(why, "does not exist in America/New_York"));
    assert_non_null(strstr(why, "-05:00"));
    assert_non_null(strstr(why, "-04:00"));
    assert_int_equal(parse_ok("2026-03-08 01:59"), 1772953140LL);
    assert_int_equal(parse_ok("2026-03-08 03:00"), 1772953200LL);
    /* 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:30 happens twice. */
    assert_int_equal(parse_err("2026-11-01 01:30", why, sizeof why), CLI_TIME_AMBIGUOUS);
    assert_string_equal(why, "happens twice in America/New_York (the clocks go back): add the "
                             "offset, -04:00 or -05:00");
    assert_int_equal(parse_ok("2026-11-01T01:30-04:00"), 1793511000LL);
    assert_int_equal(parse_ok("2026-11-01T01:30-05:00"), 1793514600LL);
    zone("Asia/Shanghai"); /* no DST since 1991 */
    assert_int_equal(parse_ok("2026-03-08 02:30"), 1772908200LL);
    assert_int_equal(parse_ok("2026-11-01 01:30"), 1793467800LL);
    zone("UTC");
    assert_int_equal(parse_ok("2026-03-08 02:30"), 1772937000LL);
}

static void test_option_message(void **state)
{
    int64_t t;

    (void)state;
    zone("UTC");
    assert_int_equal(cli_time_option(NULL, "--until", "2026-12-01T09:00Z", &t), EXIT_OK);
    assert_int_equal(t, T0);
    assert_int_equal(cli_time_option(NULL, "--until", "tomorrow", &t), EXIT_USAGE);
    assert_non_null(strstr(last_usage, "--until: 'tomorrow' is not a time; use "));
    assert_non_null(strstr(last_usage, "2026-12-01T09:00+08:00"));
    assert_non_null(strstr(last_usage, "(local time)"));
    assert_null(strchr(last_usage, '\n'));
    zone("America/New_York");
    assert_int_equal(cli_time_option(NULL, "--from", "2026-11-01 01:30", &t), EXIT_USAGE);
    assert_non_null(strstr(last_usage, "--from: '2026-11-01 01:30' happens twice"));
}

static void test_format(void **state)
{
    char out[40];

    (void)state;
    zone("Asia/Shanghai");
    assert_int_equal(cli_time_format(out, sizeof out, T0, -1, 0), 0);
    assert_string_equal(out, "2026-12-01T09:00:00Z");
    assert_int_equal(cli_time_format(out, sizeof out, T0, -1, 1), 0);
    assert_string_equal(out, "2026-12-01T17:00:00+08:00");
    assert_int_equal(cli_time_format(out, sizeof out, T0, 123, 1), 0);
    assert_string_equal(out, "2026-12-01T17:00:00.000123+08:00");
    zone("America/New_York");
    assert_int_equal(cli_time_format(out, sizeof out, T0, -1, 1), 0);
    assert_string_equal(out, "2026-12-01T04:00:00-05:00");
    assert_int_equal(cli_time_format(out, sizeof out, 1782921600LL, -1, 1), 0);
    assert_string_equal(out, "2026-07-01T12:00:00-04:00");
    zone("UTC");
    assert_int_equal(cli_time_format(out, sizeof out, T0, -1, 1), 0);
    assert_string_equal(out, "2026-12-01T09:00:00+00:00");
    zone("Asia/Kolkata");
    assert_int_equal(cli_time_format(out, sizeof out, T0, -1, 1), 0);
    assert_string_equal(out, "2026-12-01T14:30:00+05:30");
    /* Out of range and no room: -1, never a cut time. */
    assert_int_equal(cli_time_format(out, sizeof out, -1, -1, 0), -1);
    assert_string_equal(out, "@-1");
    assert_int_equal(cli_time_format(out, 10, T0, -1, 0), -1);
    /* Round trip: what is printed parses back to the instant. */
    zone("America/New_York");
    assert_int_equal(cli_time_format(out, sizeof out, 1793514600LL, -1, 1), 0);
    assert_string_equal(out, "2026-11-01T01:30:00-05:00");
    assert_int_equal(parse_ok(out), 1793514600LL);
}

static void expect_localized(const char *in, const char *want)
{
    char *got = cli_time_localize(in);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_localize(void **state)
{
    (void)state;
    zone("Asia/Shanghai");
    expect_localized("2026-12-01T09:00:00.123456Z  #4  li (data_officer/street_office @ x)  read\n"
                     "2026-12-01T16:30:00.000001Z  #5  zhou  grant_list  ok\n",
                     "2026-12-01T17:00:00.123456+08:00  #4  li (data_officer/street_office @ x)  read\n"
                     "2026-12-02T00:30:00.000001+08:00  #5  zhou  grant_list  ok\n");
    expect_localized("active    phone to role x until 2026-12-08T09:00:00Z  [by li]",
                     "active    phone to role x until 2026-12-08T17:00:00+08:00  [by li]");
    /* Not a UTC time standing alone: left as it is. */
    expect_localized("x2026-12-01T09:00:00Z", "x2026-12-01T09:00:00Z");
    expect_localized("2026-12-01T09:00:00Zx", "2026-12-01T09:00:00Zx");
    expect_localized("2026-12-01T09:00:00+01:00", "2026-12-01T09:00:00+01:00");
    expect_localized("2026-12-01T09:00:00", "2026-12-01T09:00:00");
    expect_localized("2026-13-01T09:00:00Z", "2026-13-01T09:00:00Z");
    expect_localized("2026-12-01T09:00:00.Z", "2026-12-01T09:00:00.Z");
    expect_localized("2026-12-01T09:00:00.1234567890Z", "2026-12-01T09:00:00.1234567890Z");
    expect_localized("2026-12-01T09:00:0", "2026-12-01T09:00:0");
    expect_localized("", "");
    expect_localized("张三 2026-12-01T09:00:00Z", "张三 2026-12-01T17:00:00+08:00");
    zone("America/New_York");
    expect_localized("(2026-12-01T09:00:00Z,2026-07-01T16:00:00Z)",
                     "(2026-12-01T04:00:00-05:00,2026-07-01T12:00:00-04:00)");
}

static void test_localize_grows(void **state)
{
    char in[20 * 50 + 1], *got;
    size_t i;

    (void)state;
    zone("Asia/Shanghai");
    /* Stamps back to back are words of one another: none is rewritten. */
    for (i = 0; i < 50; i++)
        memcpy(in + 20 * i, "2026-12-01T09:00:00Z", 20);
    in[sizeof in - 1] = '\0';
    got = cli_time_localize(in);
    assert_non_null(got);
    assert_string_equal(got, in);
    free(got);
    /* Separated by one byte each: every one grows by 5, within the bound. */
    {
        char sep[21 * 40 + 1];
        for (i = 0; i < 40; i++) {
            memcpy(sep + 21 * i, "2026-12-01T09:00:00Z", 20);
            sep[21 * i + 20] = ' ';
        }
        sep[sizeof sep - 1] = '\0';
        got = cli_time_localize(sep);
        assert_non_null(got);
        assert_int_equal(strlen(got), strlen(sep) + 40 * 5);
        assert_non_null(strstr(got, "2026-12-01T17:00:00+08:00 2026-12-01T17:00:00+08:00"));
        free(got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_offsets), cmocka_unit_test(test_local_forms),
        cmocka_unit_test(test_bad_forms),       cmocka_unit_test(test_dst),
        cmocka_unit_test(test_option_message),  cmocka_unit_test(test_format),
        cmocka_unit_test(test_localize),        cmocka_unit_test(test_localize_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for libvault/mask.c: every mask against exact expected strings
 * (docs/masks.md shows the same examples), plus refusals and limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto.h"
#include "mask.h"

typedef struct mcase {
    vault_mask_kind kind;
    const char *in;
    const char *want; /* expected output; NULL when rc is an error */
    int rc;
} mcase;

#define OK(k, in, want) {(k), (in), (want), VAULT_OK}
#define BAD(k, in, rc) {(k), (in), NULL, (rc)}

/* The instants the tests mask at (Unix seconds, UTC; `date -u -d ... +%s`). */
#define T_2025_06_15_0000 ((time_t)1749945600)   /* 2025-06-15T00:00:00Z */
#define T_2025_06_15_1200 ((time_t)1749988800)   /* 2025-06-15T12:00:00Z */
#define T_2025_06_15_2359 ((time_t)1750031999)   /* 2025-06-15T23:59:59Z */
#define T_2026_02_28_1200 ((time_t)1772280000)   /* 2026-02-28T12:00:00Z */
#define T_2026_03_01_0000 ((time_t)1772323200)   /* 2026-03-01T00:00:00Z */
#define T_2028_02_29_1200 ((time_t)1835438400)   /* 2028-02-29T12:00:00Z, a leap day */

/* Run one case; on a mismatch say which one before failing. */
static void check(const mcase *c, size_t idx, time_t now)
{
    char *out = (char *)1;
    size_t len = 12345;
    int rc = mask_apply(&out, &len, c->kind, c->in, strlen(c->in), now);

    if (rc != c->rc) {
        print_error("case %zu (%s, \"%s\"): rc %d (%s), want %d\n", idx,
                    mask_kind_name(c->kind), c->in, rc, vault_error_last(), c->rc);
        if (rc == VAULT_OK) {
            print_error("  output \"%s\"\n", out);
            vc_free(out);
        }
        fail();
    }
    if (rc != VAULT_OK) {
        assert_null(out);
        assert_int_equal(len, 0);
        assert_true(vault_error_last()[0] != '\0');
        return;
    }
    assert_non_null(out);
    if (strcmp(out, c->want) != 0 || len != strlen(c->want)) {
        print_error("case %zu (%s, \"%s\"): got \"%s\" (len %zu), want \"%s\"\n", idx,
                    mask_kind_name(c->kind), c->in, out, len, c->want);
        vc_free(out);
        fail();
    }
    vc_free(out);
}

static void run(const mcase *cases, size_t n, time_t now)
{
    size_t i;

    for (i = 0; i < n; i++) {
        check(&cases[i], i, now);
    }
}

#define RUN(cases, now) run((cases), sizeof(cases) / sizeof((cases)[0]), (now))

static void test_name(void **state)
{
    static const mcase cases[] = {
        OK(VAULT_MASK_NAME, "张三", "张*"),
        OK(VAULT_MASK_NAME, "张三丰", "张*"),
        OK(VAULT_MASK_NAME, "王小二子", "王*"),
        OK(VAULT_MASK_NAME, "张", "*"),
        OK(VAULT_MASK_NAME, "欧阳娜娜", "欧阳*"),
        OK(VAULT_MASK_NAME, "欧阳修", "欧阳*"),
        OK(VAULT_MASK_NAME, "司马光", "司马*"),
        OK(VAULT_MASK_NAME, "诸葛亮", "诸葛*"),
        OK(VAULT_MASK_NAME, "上官婉儿", "上官*"),
        OK(VAULT_MASK_NAME, "慕容复", "慕容*"),
        OK(VAULT_MASK_NAME, "尉迟恭", "尉迟*"),
        OK(VAULT_MASK_NAME, "拓跋宏", "拓跋*"),
        OK(VAULT_MASK_NAME, "歐陽娜娜", "歐陽*"),
        OK(VAULT_MASK_NAME, "欧阳", "欧*"),
        OK(VAULT_MASK_NAME, "司马", "司*"),
        OK(VAULT_MASK_NAME, "欧三", "欧*"),
        OK(VAULT_MASK_NAME, "  张三丰\t", "张*"),
        OK(VAULT_MASK_NAME, "买买提·艾力", "买*"),
        OK(VAULT_MASK_NAME, "\xf0\xa0\x80\x80三", "\xf0\xa0\x80\x80*"), /* U+20000 */
        OK(VAULT_MASK_NAME, "John Smith", "J*** S****"),
        OK(VAULT_MASK_NAME, "José Álvarez", "J*** Á******"),
        OK(VAULT_MASK_NAME, "Jose\xcc\x81", "J****"), /* decomposed é: 5 code points */
        OK(VAULT_MASK_NAME, "Jean-Pierre Dupont", "J********** D*****"),
        OK(VAULT_MASK_NAME, "Mary  O'Neil", "M***  O*****"),
        OK(VAULT_MASK_NAME, "J", "*"),
        OK(VAULT_MASK_NAME, "Al", "A*"),
        OK(VAULT_MASK_NAME, "Bob", "B**"),
        OK(VAULT_MASK_NAME, "Иван Петров", "И**********"),
        OK(VAULT_MASK_NAME, "김민수", "김**"),
        OK(VAULT_MASK_NAME, "张John", "张****"),
        OK(VAULT_MASK_NAME, "张 三", "张**"),
        OK(VAULT_MASK_NAME, "😀ab", "😀**"),
    };
    (void)state;
    RUN(cases, 0);
}

static void test_id_number(void **state)
{
    static const mcase cases[] = {
        OK(VAULT_MASK_ID_NUMBER, "110101199003071234", "110***********1234"),
        OK(VAULT_MASK_ID_NUMBER, "11010119900307123X", "110***********123X"),
        OK(VAULT_MASK_ID_NUMBER, "11010119900307123x", "110***********123x"),
        OK(VAULT_MASK_ID_NUMBER, " 110101199003071234\n", "110***********1234"),
        OK(VAULT_MASK_ID_NUMBER, "110101900307123", "110********7123"),
        OK(VAULT_MASK_ID_NUMBER, "1", "*"),
        OK(VAULT_MASK_ID_NUMBER, "12", "**"),
        OK(VAULT_MASK_ID_NUMBER, "123", "***"),
        OK(VAULT_MASK_ID_NUMBER, "1234567", "*******"),
        OK(VAULT_MASK_ID_NUMBER, "12345678", "******78"),
        OK(VAULT_MASK_ID_NUMBER, "E12345678", "*******78"),
        OK(VAULT_MASK_ID_NUMBER, "1234567890", "********90"),
        OK(VAULT_MASK_ID_NUMBER, "12345678901", "123****8901"),
        OK(VAULT_MASK_ID_NUMBER, "护照号码", "****"),
        OK(VAULT_MASK_ID_NUMBER, "港澳通行证C12345678", "港澳通*******5678"),
    };
    (void)state;
    RUN(cases, 0);
}

static void test_phone(void **state)
{
    static const mcase cases[] = {
        OK(VAULT_MASK_PHONE, "13812345678", "138****5678"),
        OK(VAULT_MASK_PHONE, "138 1234 5678", "138 **** 5678"),
        OK(VAULT_MASK_PHONE, "138-1234-5678", "138-****-5678"),
        OK(VAULT_MASK_PHONE, "+86 13812345678", "+86 138****5678"),
        OK(VAULT_MASK_PHONE, "+8613812345678", "+86138****5678"),
        OK(VAULT_MASK_PHONE, "(+86) 138 1234 5678", "(+86) 138 **** 5678"),
        OK(VAULT_MASK_PHONE, "86 13812345678", "86 138****5678"),
        OK(VAULT_MASK_PHONE, "8613812345678", "86138****5678"),
        OK(VAULT_MASK_PHONE, "0086 13812345678", "0086 138****5678"),
        OK(VAULT_MASK_PHONE, "0571-87654321", "0571-****4321"),
        OK(VAULT_MASK_PHONE, "057187654321", "0571****4321"),
        OK(VAULT_MASK_PHONE, "010-12345678", "010-****5678"),
        OK(VAULT_MASK_PHONE, "021-1234567", "021-***4567"),
        OK(VAULT_MASK_PHONE, "(0571) 8765 4321", "(0571) **** 4321"),
        OK(VAULT_MASK_PHONE, "+86 571 87654321", "+86 571 ****4321"),
        OK(VAULT_MASK_PHONE, "+86 10 12345678", "+86 10 ****5678"),
        OK(VAULT_MASK_PHONE, "+86 0571 87654321", "+86 0571 ****4321"),
        OK(VAULT_MASK_PHONE, "+1 415 555 0100", "+* *** *** 0100"),
        OK(VAULT_MASK_PHONE, "87654321", "****4321"),
        OK(VAULT_MASK_PHONE, "0571-87654321转123", "****-*******1*123"),
        OK(VAULT_MASK_PHONE, "电话13812345678", "**138****5678"),
        OK(VAULT_MASK_PHONE, "+86 12345", "+86 *****"),
        OK(VAULT_MASK_PHONE, "123456", "******"),
        OK(VAULT_MASK_PHONE, "110", "***"),
        OK(VAULT_MASK_PHONE, "12", "**"),
        OK(VAULT_MASK_PHONE, "1", "*"),
        OK(VAULT_MASK_PHONE, "１３８１２３４５６７８", "***********"), /* fullwidth digits */
    };
    (void)state;
    RUN(cases, 0);
}

static void test_bank_card(void **state)
{
    static const mcase cases[] = {
        OK(VAULT_MASK_BANK_CARD, "6222021234567890123", "6222 **** **** 0123"),
        OK(VAULT_MASK_BANK_CARD, "6222 0212 3456 7890 123", "6222 **** **** 0123"),
        OK(VAULT_MASK_BANK_CARD, "6222-0212-3456-7890", "6222 **** **** 7890"),
        OK(VAULT_MASK_BANK_CARD, "6222021234567890", "6222 **** **** 7890"),
        OK(VAULT_MASK_BANK_CARD, "622202123456", "6222 **** **** 3456"),
        OK(VAULT_MASK_BANK_CARD, "62220212345", "***********"),
        OK(VAULT_MASK_BANK_CARD, "1234 5678", "********"),
        OK(VAULT_MASK_BANK_CARD, "12345678", "********"),
        OK(VAULT_MASK_BANK_CARD, "123", "***"),
        OK(VAULT_MASK_BANK_CARD, "12", "**"),
        OK(VAULT_MASK_BANK_CARD, "1", "*"),
        OK(VAULT_MASK_BANK_CARD, "6222 0212 3456 789A", "****************"),
        OK(VAULT_MASK_BANK_CARD, "工行6222021234567890", "******************"),
    };
    (void)state;
    RUN(cases, 0);
}

static void test_address(void **state)
{
    static const mcase cases[] = {
        OK(VAULT_MASK_ADDRESS, "浙江省杭州市上城区小河街道长征社区长征路12号3单元501",
           "浙江省杭州市上城区小河街道长征社区***"),
        OK(VAULT_MASK_ADDRESS, "浙江省杭州市上城区小河街道长征社区居委会",
           "浙江省杭州市上城区小河街道长征社区***"),
        OK(VAULT_MASK_ADDRESS, "北京市东城区东华门街道多福巷居委会5号院",
           "北京市东城区东华门街道多福巷居委会***"),
        OK(VAULT_MASK_ADDRESS, "浙江省杭州市余杭区良渚街道新港村村委会旁",
           "浙江省杭州市余杭区良渚街道新港村村委会***"),
        OK(VAULT_MASK_ADDRESS, "河北省保定市涞水县三坡镇南峪村8号", "河北省保定市涞水县三坡镇南峪村***"),
        OK(VAULT_MASK_ADDRESS, "内蒙古自治区锡林郭勒盟阿巴嘎旗别力古台镇巴彦图嘎查3号",
           "内蒙古自治区锡林郭勒盟阿巴嘎旗别力古台镇巴彦图嘎查***"),
        OK(VAULT_MASK_ADDRESS, "上海市黄浦区南京东路街道中山东一路12号",
           "上海市黄浦区南京东路街道***"),
        OK(VAULT_MASK_ADDRESS, "江苏省苏州市吴中区木渎镇金山路8号", "江苏省苏州市吴中区木渎镇***"),
        OK(VAULT_MASK_ADDRESS, "上海市杨浦区控江路1000弄鞍山四村5号", "上海市杨浦区控江路***"),
        OK(VAULT_MASK_ADDRESS, "北京市海淀区学院路", "北京市海淀区***"),
        OK(VAULT_MASK_ADDRESS, "北京市海淀区", "***"),
        OK(VAULT_MASK_ADDRESS, "12号院3单元", "***"),
        OK(VAULT_MASK_ADDRESS, "1号楼长征社区", "***"),
        OK(VAULT_MASK_ADDRESS, "村", "村***"),
        OK(VAULT_MASK_ADDRESS, "杭州", "***"),
        OK(VAULT_MASK_ADDRESS, "杭州市", "***"),
        OK(VAULT_MASK_ADDRESS, "12 Main St, Springfield, IL", "***, Springfield, IL"),
        OK(VAULT_MASK_ADDRESS, "Flat 3, 12 Main St, Springfield", "***, Springfield"),
        OK(VAULT_MASK_ADDRESS, "12 Main St, Springfield", "***, Springfield"),
        OK(VAULT_MASK_ADDRESS, "10 Downing St, London, SW1A 2AA", "***"),
        OK(VAULT_MASK_ADDRESS, "Rue de la Paix,  Paris ,France", "***, Paris ,France"),
        OK(VAULT_MASK_ADDRESS, "12 Main St", "***"),
        OK(VAULT_MASK_ADDRESS, "Main St,, Springfield", "***, Springfield"),
        OK(VAULT_MASK_ADDRESS, "a", "***"),
        OK(VAULT_MASK_ADDRESS, "ab", "***"),
        OK(VAULT_MASK_ADDRESS, "a,b", "***, b"),
    };
    (void)state;
    RUN(cases, 0);
}

static void test_age_band(void **state)
{
    static const mcase cases[] = {
        OK(VAULT_MASK_AGE_BAND, "1995-06-15", "30-39"), /* 30th birthday today */
        OK(VAULT_MASK_AGE_BAND, "1995-06-16", "20-29"), /* tomorrow */
        OK(VAULT_MASK_AGE_BAND, "1995-06-14", "30-39"),
        OK(VAULT_MASK_AGE_BAND, "19950615", "30-39"),
        OK(VAULT_MASK_AGE_BAND, "19950616", "20-29"),
        OK(VAULT_MASK_AGE_BAND, " 1995-06-15\n", "30-39"),
        OK(VAULT_MASK_AGE_BAND, "2025-06-15", "0-9"), /* born today */
        OK(VAULT_MASK_AGE_BAND, "2015-06-16", "0-9"),
        OK(VAULT_MASK_AGE_BAND, "2015-06-15", "10-19"),
        OK(VAULT_MASK_AGE_BAND, "1935-06-16", "80-89"),
        OK(VAULT_MASK_AGE_BAND, "1935-06-15", "90+"),
        OK(VAULT_MASK_AGE_BAND, "1900-01-01", "90+"),
        OK(VAULT_MASK_AGE_BAND, "1990-03-07", "30-39"),
        OK(VAULT_MASK_AGE_BAND, "1996-01-31", "20-29"),
        OK(VAULT_MASK_AGE_BAND, "1995-12-31", "20-29"),
        BAD(VAULT_MASK_AGE_BAND, "2025-06-16", VAULT_EINVALID), /* future */
        BAD(VAULT_MASK_AGE_BAND, "2026-01-01", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "20250616", VAULT_EINVALID),
    };
    (void)state;
    /* Both ends of the UTC day give the same answer. */
    RUN(cases, T_2025_06_15_0000);
    RUN(cases, T_2025_06_15_2359);
}

static void test_age_band_leap_day(void **state)
{
    static const mcase before[] = {
        OK(VAULT_MASK_AGE_BAND, "1996-02-29", "20-29"), /* 29 until 1 March */
        OK(VAULT_MASK_AGE_BAND, "19960229", "20-29"),
    };
    static const mcase after[] = {
        OK(VAULT_MASK_AGE_BAND, "1996-02-29", "30-39"),
    };
    static const mcase on_leap_day[] = {
        OK(VAULT_MASK_AGE_BAND, "1998-03-01", "20-29"),
        OK(VAULT_MASK_AGE_BAND, "1988-02-29", "40-49"), /* 40th birthday 2028-02-29 */
        OK(VAULT_MASK_AGE_BAND, "1988-03-01", "30-39"),
        OK(VAULT_MASK_AGE_BAND, "2000-02-29", "20-29"),
        BAD(VAULT_MASK_AGE_BAND, "1900-02-29", VAULT_EINVALID), /* 1900: not leap */
    };
    (void)state;
    RUN(before, T_2026_02_28_1200);
    RUN(after, T_2026_03_01_0000);
    RUN(on_leap_day, T_2028_02_29_1200);
}

static void test_age_band_invalid(void **state)
{
    static const mcase cases[] = {
        BAD(VAULT_MASK_AGE_BAND, "1990-02-30", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "2023-02-29", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "1990-13-01", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "1990-00-10", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "1990-04-31", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "1990-04-00", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "0000-01-01", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "1990-4-1", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "1990/04/01", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "1990-04-01T00", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "199004011", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "1990040", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "1990-0a-01", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "+990-04-01", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "abcdefgh", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "1", VAULT_EINVALID),
        BAD(VAULT_MASK_AGE_BAND, "一九九〇年", VAULT_EINVALID),
    };
    (void)state;
    RUN(cases, T_2025_06_15_1200);
}

static void test_flag_redact_none(void **state)
{
    static const mcase cases[] = {
        OK(VAULT_MASK_FLAG, "1", "yes"),
        OK(VAULT_MASK_FLAG, "是", "yes"),
        OK(VAULT_MASK_FLAG, "no", "yes"), /* any content at all */
        OK(VAULT_MASK_FLAG, "false", "yes"),
        OK(VAULT_MASK_FLAG, "0", "yes"),
        OK(VAULT_MASK_FLAG, " x ", "yes"),
        OK(VAULT_MASK_FLAG, "", "no"),
        OK(VAULT_MASK_FLAG, " \t\r\n\v\f", "no"),
        OK(VAULT_MASK_REDACT, "a", "***"),
        OK(VAULT_MASK_REDACT, "张三", "***"),
        OK(VAULT_MASK_REDACT, "110101199003071234", "***"),
        OK(VAULT_MASK_REDACT, "", ""),
        OK(VAULT_MASK_REDACT, "   ", ""),
        OK(VAULT_MASK_NONE, "a", "***"),
        OK(VAULT_MASK_NONE, "张三", "***"),
        OK(VAULT_MASK_NONE, "", ""),
    };
    (void)state;
    RUN(cases, 0);
}

static void test_empty_and_blank(void **state)
{
    static const char *const inputs[] = {"", " ", "\t\n", "  \r\n  "};
    char *out;
    size_t len, i;
    int k;

    (void)state;
    for (k = 0; k < VAULT_MASK__COUNT; k++) {
        if (k == VAULT_MASK_PSEUDONYM)
            continue; /* keyed: vc_pseudonym (test_crypto, test_pseudonym) */
        for (i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
            out = NULL;
            assert_int_equal(mask_apply(&out, &len, (vault_mask_kind)k, inputs[i],
                                        strlen(inputs[i]), 0), VAULT_OK);
            assert_non_null(out);
            assert_string_equal(out, k == VAULT_MASK_FLAG ? "no" : "");
            assert_int_equal(len, strlen(out));
            vc_free(out);
        }
        /* NULL with length 0 is an empty value. */
        out = NULL;
        assert_int_equal(mask_apply(&out, &len, (vault_mask_kind)k, NULL, 0, 0), VAULT_OK);
        assert_string_equal(out, k == VAULT_MASK_FLAG ? "no" : "");
        vc_free(out);
    }
}

static void test_invalid_utf8(void **state)
{
    static const char *const bad[] = {
        "\xff",
        "\xfe",
        "\x80",                 /* lone continuation byte */
        "\xe5\xbc",             /* 张 cut short */
        "\xe5",                 /* lead byte alone */
        "\xc0\xaf",             /* overlong '/' */
        "\xc1\xbf",             /* overlong */
        "\xe0\x80\xaf",         /* overlong, 3 bytes */
        "\xf0\x80\x80\xaf",     /* overlong, 4 bytes */
        "\xed\xa0\x80",         /* surrogate U+D800 */
        "\xf4\x90\x80\x80",     /* above U+10FFFF */
        "\xf5\x80\x80\x80",
        "\xe5\x28\xa0",         /* bad continuation */
        "张三丰\xff",
        "张三丰\xe5\xbc",
        "13812345678\x80",
        "110101199003071234\xc0\xaf",
        "1995-06-15\xff",
    };
    char *out;
    size_t len, i;
    int k;

    (void)state;
    for (k = 0; k < VAULT_MASK__COUNT; k++) {
        if (k == VAULT_MASK_PSEUDONYM)
            continue; /* keyed: vc_pseudonym (test_crypto, test_pseudonym) */
        for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            out = (char *)1;
            len = 7;
            vault__err_clear();
            if (mask_apply(&out, &len, (vault_mask_kind)k, bad[i], strlen(bad[i]), 0) !=
                VAULT_EINVALID) {
                print_error("kind %s, bad input %zu accepted\n", mask_kind_name(k), i);
                fail();
            }
            assert_null(out);
            assert_int_equal(len, 0);
            assert_int_equal(vault_error_code(), VAULT_EINVALID);
            assert_non_null(strstr(vault_error_last(), "UTF-8"));
            /* The message never carries the value. */
            assert_null(strstr(vault_error_last(), "张三丰"));
            assert_null(strstr(vault_error_last(), "1381234"));
            assert_null(strstr(vault_error_last(), "1995"));
        }
    }
}

static void test_limits_and_arguments(void **state)
{
    char *big = malloc(VAULT_VALUE_MAX + 1);
    char *out = NULL;
    size_t len = 0, i;

    (void)state;
    assert_non_null(big);
    memset(big, 'a', VAULT_VALUE_MAX + 1);

    assert_int_equal(mask_apply(&out, &len, VAULT_MASK_REDACT, big, VAULT_VALUE_MAX + 1, 0),
                     VAULT_ELIMIT);
    assert_null(out);
    assert_int_equal(vault_error_code(), VAULT_ELIMIT);
    assert_int_equal(mask_apply(&out, &len, VAULT_MASK_NAME, big, VAULT_VALUE_MAX + 1, 0),
                     VAULT_ELIMIT);

    /* Exactly the limit is fine. */
    assert_int_equal(mask_apply(&out, &len, VAULT_MASK_REDACT, big, VAULT_VALUE_MAX, 0), VAULT_OK);
    assert_string_equal(out, "***");
    vc_free(out);
    assert_int_equal(mask_apply(&out, &len, VAULT_MASK_NAME, big, VAULT_VALUE_MAX, 0), VAULT_OK);
    assert_int_equal(len, VAULT_VALUE_MAX);
    assert_int_equal(out[0], 'a');
    for (i = 1; i < len; i++) {
        assert_int_equal(out[i], '*');
    }
    assert_int_equal(out[len], '\0');
    vc_free(out);
    memset(big, '7', VAULT_VALUE_MAX);
    assert_int_equal(mask_apply(&out, &len, VAULT_MASK_BANK_CARD, big, VAULT_VALUE_MAX, 0), VAULT_OK);
    assert_string_equal(out, "7777 **** **** 7777");
    vc_free(out);
    free(big);

    /* out_len is optional. */
    assert_int_equal(mask_apply(&out, NULL, VAULT_MASK_PHONE, "13812345678", 11, 0), VAULT_OK);
    assert_string_equal(out, "138****5678");
    vc_free(out);

    /* in_len, not the NUL, bounds the input. */
    assert_int_equal(mask_apply(&out, &len, VAULT_MASK_ID_NUMBER, "110101199003071234", 11, 0),
                     VAULT_OK);
    assert_string_equal(out, "110****9900");
    vc_free(out);

    assert_int_equal(mask_apply(NULL, &len, VAULT_MASK_REDACT, "a", 1, 0), VAULT_EINVALID);
    out = (char *)1;
    assert_int_equal(mask_apply(&out, &len, VAULT_MASK_REDACT, NULL, 1, 0), VAULT_EINVALID);
    assert_null(out);
    assert_int_equal(mask_apply(&out, &len, VAULT_MASK__COUNT, "a", 1, 0), VAULT_EINVALID);
    /* The pseudonym needs the department's key: never an unkeyed mask. */
    out = NULL;
    assert_int_equal(mask_apply(&out, &len, VAULT_MASK_PSEUDONYM, "13812345678", 11, 0),
                     VAULT_EINVALID);
    assert_null(out);
    assert_null(strstr(vault_error_last(), "1381234"));
    assert_int_equal(mask_apply(&out, &len, (vault_mask_kind)-1, "a", 1, 0), VAULT_EINVALID);
    assert_null(out);
}

static void test_kind_names(void **state)
{
    static const char *const names[VAULT_MASK__COUNT] = {
        "none", "name", "id_number", "phone", "bank_card", "address", "age_band", "flag",
        "redact", "pseudonym",
    };
    static const char *const unknown[] = {"", "Name", "NAME", "names", "nam", "phone ",
                                          "mask", "id-number"};
    vault_mask_kind kind;
    char longname[100];
    int k;
    size_t i;

    (void)state;
    for (k = 0; k < VAULT_MASK__COUNT; k++) {
        kind = VAULT_MASK__COUNT;
        assert_int_equal(mask_kind_from_name(&kind, names[k]), VAULT_OK);
        assert_int_equal(kind, k);
        assert_string_equal(mask_kind_name((vault_mask_kind)k), names[k]);
    }
    assert_string_equal(mask_kind_name(VAULT_MASK__COUNT), "unknown");
    assert_string_equal(mask_kind_name((vault_mask_kind)-1), "unknown");

    assert_int_equal(mask_kind_from_name(&kind, "bogus_mask"), VAULT_EINVALID);
    assert_int_equal(vault_error_code(), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "'bogus_mask'"));
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_int_equal(mask_kind_from_name(&kind, unknown[i]), VAULT_EINVALID);
    }
    assert_int_equal(mask_kind_from_name(&kind, "bad\nname"), VAULT_EINVALID);
    assert_null(strchr(vault_error_last(), '\n'));
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(mask_kind_from_name(&kind, longname), VAULT_EINVALID);
    assert_true(strlen(vault_error_last()) < 100);
    assert_int_equal(mask_kind_from_name(&kind, NULL), VAULT_EINVALID);
    assert_int_equal(mask_kind_from_name(NULL, "name"), VAULT_EINVALID);
}

/* The hidden part of a value never shows up in its masked form. */
static void test_no_leak(void **state)
{
    static const struct {
        vault_mask_kind kind;
        const char *in;
        const char *hidden[4];
    } cases[] = {
        {VAULT_MASK_ID_NUMBER, "110101199003071234", {"19900307", "199", "0307", "101"}},
        {VAULT_MASK_ID_NUMBER, "11010119900307123X", {"19900307", "1990", NULL, NULL}},
        {VAULT_MASK_PHONE, "13812345678", {"1234", "812345", NULL, NULL}},
        {VAULT_MASK_PHONE, "+86 13812345678", {"1234", NULL, NULL, NULL}},
        {VAULT_MASK_PHONE, "0571-87654321", {"8765", "876", NULL, NULL}},
        {VAULT_MASK_BANK_CARD, "6222021234567890123", {"0212", "345678", "021234567890", NULL}},
        {VAULT_MASK_NAME, "张三丰", {"三", "丰", NULL, NULL}},
        {VAULT_MASK_NAME, "欧阳娜娜", {"娜", NULL, NULL, NULL}},
        {VAULT_MASK_NAME, "John Smith", {"ohn", "mith", "o", "h"}},
        {VAULT_MASK_ADDRESS, "浙江省杭州市上城区小河街道长征社区长征路12号3单元501",
         {"长征路", "12", "单元", "501"}},
        {VAULT_MASK_ADDRESS, "12 Main St, Springfield, IL", {"12", "Main", NULL, NULL}},
        {VAULT_MASK_AGE_BAND, "1990-03-07", {"1990", "03", "07", NULL}},
        {VAULT_MASK_REDACT, "secret", {"s", "e", NULL, NULL}},
        {VAULT_MASK_NONE, "secret", {"s", "e", NULL, NULL}},
        {VAULT_MASK_FLAG, "secret", {"secret", "cr", "t", NULL}},
    };
    char *out;
    size_t len, i, j;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(mask_apply(&out, &len, cases[i].kind, cases[i].in, strlen(cases[i].in),
                                    T_2025_06_15_0000), VAULT_OK);
        for (j = 0; j < 4 && cases[i].hidden[j] != NULL; j++) {
            if (strstr(out, cases[i].hidden[j]) != NULL) {
                print_error("case %zu: \"%s\" shows \"%s\"\n", i, out, cases[i].hidden[j]);
                fail();
            }
        }
        assert_int_equal(len, strlen(out));
        vc_free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name),
        cmocka_unit_test(test_id_number),
        cmocka_unit_test(test_phone),
        cmocka_unit_test(test_bank_card),
        cmocka_unit_test(test_address),
        cmocka_unit_test(test_age_band),
        cmocka_unit_test(test_age_band_leap_day),
        cmocka_unit_test(test_age_band_invalid),
        cmocka_unit_test(test_flag_redact_none),
        cmocka_unit_test(test_empty_and_blank),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_limits_and_arguments),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_no_leak),
    };

    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

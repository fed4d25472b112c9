/* vaultctl's progress bar (cli/progress.c): what it draws with and without
 * a total, at most 10 redraws a second, the line cleared at the end, and
 * nothing at all when it has no terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../cli/progress.c"

typedef struct sink {
    FILE *f;
    char *buf;
    size_t len;
} sink;

/* A bar drawing into a memory stream instead of a terminal. */
static void bar_open(cli_progress *p, sink *s, const char *what, const char *unit)
{
    s->buf = NULL;
    s->len = 0;
    s->f = open_memstream(&s->buf, &s->len);
    assert_non_null(s->f);
    cli_progress_start_on(p, s->f, what, unit);
}

/* What the bar has written so far. */
static const char *drawn(sink *s)
{
    assert_int_equal(fflush(s->f), 0);
    return s->buf ? s->buf : "";
}

static void sink_close(sink *s)
{
    fclose(s->f);
    free(s->buf);
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;

    for (; (s = strstr(s, what)) != NULL; s += strlen(what))
        n++;
    return n;
}

static void test_total(void **state)
{
    cli_progress p;
    sink s;
    const char *out;

    (void)state;
    bar_open(&p, &s, "verifying", "entries");
    cli_progress_update_at(&p, 250, 1000, 0);
    assert_string_equal(drawn(&s), "\r  verifying [######..................] 250 / 1000 entries ( 25%)\033[K");
    cli_progress_update_at(&p, 1000, 1000, 10); /* the last one: drawn at once */
    assert_non_null(strstr(drawn(&s), "[########################] 1000 / 1000 entries (100%)"));
    cli_progress_end(&p);
    out = drawn(&s); /* flushed first: s.len is then the whole length */
    assert_int_equal(strcmp(out + s.len - 4, "\r\033[K"), 0); /* cleared */
    sink_close(&s);
}

static void test_count_only(void **state)
{
    cli_progress p;
    sink s;

    (void)state;
    bar_open(&p, &s, "importing", "records");
    cli_progress_update_at(&p, 1000, 0, 0);
    assert_string_equal(drawn(&s), "\r  importing: 1000 records\033[K");
    assert_null(strchr(s.buf, '%'));
    sink_close(&s);
}

static void test_rate(void **state)
{
    cli_progress p;
    sink s;
    int64_t ms;

    (void)state;
    bar_open(&p, &s, "g", "fields");
    /* 1000 reports over one second: about 10 redraws, not 1000. */
    for (ms = 0; ms < 1000; ms++)
        cli_progress_update_at(&p, (uint64_t)ms, 5000, ms);
    assert_int_equal(count(drawn(&s), "\r"), 10);
    assert_int_equal(p.done, 999); /* every report kept, drawn or not */
    cli_progress_end(&p);
    sink_close(&s);
}

static void test_no_terminal(void **state)
{
    cli_progress p;

    (void)state;
    cli_progress_start_on(&p, NULL, "verifying", "entries");
    cli_progress_update_at(&p, 1, 2, 0);
    cli_progress_fn(2, 2, &p);
    assert_int_equal(p.drawn, 0);
    assert_int_equal(p.done, 2);
    cli_progress_end(&p); /* nothing to clear, nothing written */
}

static void test_end_without_draw(void **state)
{
    cli_progress p;
    sink s;

    (void)state;
    bar_open(&p, &s, "x", "y");
    cli_progress_end(&p); /* never drawn: the line is someone else's */
    assert_string_equal(drawn(&s), "");
    sink_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_total),       cmocka_unit_test(test_count_only),
        cmocka_unit_test(test_rate),        cmocka_unit_test(test_no_terminal),
        cmocka_unit_test(test_end_without_draw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Timing, statistics, JSON and raw SQLCipher helpers for vault_bench. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "bench.h"

uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

uint64_t bench_percentile(uint64_t *s, size_t n, double p)
{
    size_t i;

    if (n == 0)
        return 0;
    qsort(s, n, sizeof *s, cmp_u64);
    /* Nearest rank: the smallest sample with at least p% at or below it. */
    i = (size_t)ceil(p / 100.0 * (double)n);
    return s[i ? i - 1 : 0];
}

double bench_median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One "vault_bench: ..." line on stderr (stdout carries only the JSON). */
static void vnote(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void vnote(const char *fmt, va_list ap)
{
    fputs("vault_bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void bench_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vnote(fmt, ap);
    va_end(ap);
    exit(1);
}

void bench_check(int rc, const char *what)
{
    if (rc < 0)
        bench_die("%s: %s (%s)", what, vault_error_last(), vault_error_name(rc));
}

uint64_t bench_rand(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

void bench_note(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vnote(fmt, ap);
    va_end(ap);
}

json_t *bench_real(double v, int digits)
{
    double scale = pow(10.0, digits);

    return json_real(round(v * scale) / scale);
}

void bench_set(json_t *o, const char *k, json_t *v)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        bench_die("out of memory building the JSON document");
}

json_t *bench_ratio(double libvault, double raw, const char *unit, double target_ratio)
{
    json_t *o = json_object();
    double ratio = raw > 0 ? libvault / raw : 0;

    bench_set(o, "libvault", bench_real(libvault, 1));
    bench_set(o, "raw", bench_real(raw, 1));
    bench_set(o, "unit", json_string(unit));
    bench_set(o, "ratio", bench_real(ratio, 3));
    if (target_ratio > 0) {
        bench_set(o, "target_ratio", bench_real(target_ratio, 2));
        bench_set(o, "met", json_boolean(ratio >= target_ratio));
    }
    return o;
}

/* ---- raw SQLCipher ---- */

void raw_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "vault_bench: sqlite: %s: %s\n", sql, err ? err : "?");
        sqlite3_free(err);
        exit(1);
    }
}

sqlite3_stmt *raw_prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        bench_die("sqlite: prepare %s: %s", sql, sqlite3_errmsg(db));
    return st;
}

void raw_random_key(char out[68])
{
    uint8_t k[32];

    randombytes_buf(k, sizeof k);
    out[0] = 'x';
    out[1] = '\'';
    sodium_bin2hex(out + 2, 65, k, sizeof k);
    out[66] = '\'';
    out[67] = '\0';
    sodium_memzero(k, sizeof k);
}

sqlite3 *raw_open(const char *path, const char *keyspec)
{
    sqlite3 *db = NULL;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        bench_die("sqlite: open %s: %s", path, db ? sqlite3_errmsg(db) : "?");
    if (sqlite3_key(db, keyspec, (int)strlen(keyspec)) != SQLITE_OK)
        bench_die("sqlite: key %s", path);
    /* libvault's page size (STORE_PAGE_SIZE), for the vault's own file and
     * for the raw baselines alike. */
    raw_exec(db, "PRAGMA cipher_page_size = 4096");
    raw_exec(db, "SELECT count(*) FROM sqlite_master");
    sqlite3_busy_timeout(db, 10000);
    /* The same pragmas as libvault's store_open (libvault/store.c). */
    raw_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
                 "PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY;"
                 "PRAGMA cache_size = -16384;");
    return db;
}

long raw_pragma(sqlite3 *db, const char *name)
{
    char sql[96];
    sqlite3_stmt *st;
    long v = -1;

    snprintf(sql, sizeof sql, "PRAGMA %s", name);
    st = raw_prepare(db, sql);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

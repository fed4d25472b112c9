/* vaultctl: times on the command line and in its output.
 *
 * Input: RFC 3339 with Z or an offset (seconds and a fraction optional),
 * a plain local date-time, or a date alone (local midnight).  "Local" is
 * TZ, else the system zone, through the C library: timegm reads the wall
 * clock fields, localtime_r's tm_gmtoff says which offsets are in force
 * around them, so a wall time that a DST change skips (none) or repeats
 * (two) is refused with what to type instead, never guessed.
 *
 * Output: UTC ("...Z") unless local output is on (--local, or TZ set in
 * the environment and no --utc); then local time with its offset.  JSON
 * stays UTC (numbers or ...Z) whatever is chosen. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int is_alnum(char ch)
{
    return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* n digits at *p into *out; 0, or -1 (not n digits). */
static int take_digits(const char **p, int n, int *out)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (!is_digit((*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int take_char(const char **p, char ch)
{
    if (**p != ch)
        return -1;
    (*p)++;
    return 0;
}

static int days_in(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

/* The instant of a UTC calendar time (fields already checked). */
static int64_t utc_seconds(int y, int mo, int d, int h, int mi, int sec)
{
    struct tm tmv;

    memset(&tmv, 0, sizeof tmv);
    tmv.tm_year = y - 1900;
    tmv.tm_mon = mo - 1;
    tmv.tm_mday = d;
    tmv.tm_hour = h;
    tmv.tm_min = mi;
    tmv.tm_sec = sec;
    return (int64_t)timegm(&tmv);
}

/* The zone's name for messages: TZ as set, else the system's. */
static const char *zone_name(void)
{
    const char *tz = getenv("TZ");

    if (tz && *tz == ':')
        tz++;
    return tz && *tz ? tz : "the system time zone";
}

/* "+08:00" for 28800 seconds east. */
static void offset_text(char *out, size_t cap, long off)
{
    long a = off < 0 ? -off : off;

    snprintf(out, cap, "%c%02u:%02u", off < 0 ? '-' : '+', (unsigned)(a / 3600 % 100),
             (unsigned)(a / 60 % 60));
}

/* The instants whose local wall clock reads `wall` (seconds as if UTC):
 * for each offset in force within a day of it, wall - offset counts when
 * that offset is the one in force then.  Up to 3 distinct offsets (no zone
 * changes twice within a day), so at most 3 instants.  seen[] gets the
 * offsets around (*nseen of them), for the message when there is none. */
static size_t local_instants(int64_t t[3], long off[3], long seen[3], size_t *nseen_out,
                             int64_t wall)
{
    size_t nseen = 0, n = 0, i, k;
    int64_t d;
    struct tm lt;
    time_t tt;

    for (d = -86400; d <= 86400; d += 86400) {
        tt = (time_t)(wall + d);
        if (!localtime_r(&tt, &lt))
            continue;
        for (k = 0; k < nseen && seen[k] != lt.tm_gmtoff; k++)
            ;
        if (k == nseen)
            seen[nseen++] = lt.tm_gmtoff;
    }
    for (i = 0; i < nseen; i++) {
        tt = (time_t)(wall - seen[i]);
        if (localtime_r(&tt, &lt) && lt.tm_gmtoff == seen[i]) {
            t[n] = wall - seen[i];
            off[n++] = seen[i];
        }
    }
    *nseen_out = nseen;
    /* Earliest first, for the message. */
    for (i = 1; i < n; i++)
        for (k = i; k > 0 && t[k] < t[k - 1]; k--) {
            int64_t x = t[k];
            long o = off[k];
            t[k] = t[k - 1], off[k] = off[k - 1];
            t[k - 1] = x, off[k - 1] = o;
        }
    return n;
}

int cli_time_parse(int64_t *out, const char *s, char *why, size_t cap)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, zoned = 0, ndig;
    long off = 0, offs[3], seen[3] = {0, 0, 0};
    int64_t wall, t[3];
    char a[16], b[16];
    size_t n, nseen = 0;

    *out = 0;
    if (cap)
        why[0] = '\0';
    if (take_digits(&p, 4, &y) || take_char(&p, '-') || take_digits(&p, 2, &mo) ||
        take_char(&p, '-') || take_digits(&p, 2, &d))
        goto malformed;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (take_digits(&p, 2, &h) || take_char(&p, ':') || take_digits(&p, 2, &mi))
            goto malformed;
        if (*p == ':') {
            p++;
            if (take_digits(&p, 2, &sec))
                goto malformed;
            if (*p == '.') { /* a fraction: dropped (grants count whole seconds) */
                for (p++, ndig = 0; is_digit(*p); p++)
                    ndig++;
                if (ndig == 0 || ndig > 9)
                    goto malformed;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
            zoned = 1;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1;
            if (take_digits(&p, 2, &oh) || take_char(&p, ':') || take_digits(&p, 2, &om))
                goto malformed;
            if (oh > 23 || om > 59) {
                snprintf(why, cap, "has an offset beyond +-23:59");
                return CLI_TIME_BAD;
            }
            off = sign * (oh * 3600L + om * 60L);
            zoned = 1;
        }
    }
    if (*p)
        goto malformed;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in(y, mo)) {
        snprintf(why, cap, "names no such day");
        return CLI_TIME_BAD;
    }
    if (h > 23 || mi > 59 || sec > 59) {
        snprintf(why, cap, "names no such time of day (00:00:00 .. 23:59:59)");
        return CLI_TIME_BAD;
    }
    wall = utc_seconds(y, mo, d, h, mi, sec);
    if (zoned) {
        *out = wall - off;
    } else {
        n = local_instants(t, offs, seen, &nseen, wall);
        if (n == 0) {
            offset_text(a, sizeof a, seen[0]);
            offset_text(b, sizeof b, nseen > 1 ? seen[nseen - 1] : seen[0]);
            snprintf(why, cap, "does not exist in %s (the clocks skip it): give an offset, %s "
                               "(before the change) or %s (after)", zone_name(), a, b);
            return CLI_TIME_GAP;
        }
        if (n > 1) {
            offset_text(a, sizeof a, offs[0]);
            offset_text(b, sizeof b, offs[1]);
            snprintf(why, cap, "happens twice in %s (the clocks go back): add the offset, %s or %s",
                     zone_name(), a, b);
            return CLI_TIME_AMBIGUOUS;
        }
        *out = t[0];
    }
    if (*out < 0 || *out > TIME_MAX) {
        snprintf(why, cap, "is outside 1970-01-01 .. 9999-12-31 (UTC)");
        return CLI_TIME_RANGE;
    }
    return CLI_TIME_OK;
malformed:
    snprintf(why, cap, "is not a time");
    return CLI_TIME_BAD;
}

int cli_time_option(const cli *c, const char *opt, const char *s, int64_t *out)
{
    char why[160];
    int r = cli_time_parse(out, s, why, sizeof why);

    if (r == CLI_TIME_OK)
        return EXIT_OK;
    if (r == CLI_TIME_GAP || r == CLI_TIME_AMBIGUOUS)
        return cli_usage_error(c, "%s: '%s' %s", opt, s, why);
    return cli_usage_error(c, "%s: '%s' %s; use 2026-12-01T09:00:00Z, 2026-12-01T09:00+08:00, "
                              "'2026-12-01 09:00' (local time) or 2026-12-01 (local midnight)",
                           opt, s, why);
}

int cli_time_format(char *out, size_t cap, int64_t t, long usec, int local)
{
    char base[24], frac[16] = "", zone[16] = "Z";
    time_t tt = (time_t)t;
    struct tm tmv;

    if (cap == 0)
        return -1;
    if (t < 0 || t > TIME_MAX || !(local ? localtime_r(&tt, &tmv) : gmtime_r(&tt, &tmv)))
        goto raw;
    /* An offset of odd seconds (local mean time) has no RFC 3339 form:
     * show that instant in UTC instead. */
    if (local && tmv.tm_gmtoff % 60 != 0) {
        local = 0;
        if (!gmtime_r(&tt, &tmv))
            goto raw;
    }
    if (strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tmv) == 0)
        goto raw;
    if (usec >= 0)
        snprintf(frac, sizeof frac, ".%06ld", usec % 1000000);
    if (local)
        offset_text(zone, sizeof zone, tmv.tm_gmtoff);
    if (snprintf(out, cap, "%s%s%s", base, frac, zone) >= (int)cap)
        return -1;
    return 0;
raw:
    snprintf(out, cap, "@%lld", (long long)t);
    return -1;
}

/* A UTC time as the library writes it at s: YYYY-MM-DDTHH:MM:SS, an
 * optional fraction of 1 to 9 digits, Z, not inside a longer word.
 * Returns its length and its instant, or 0. */
static size_t utc_stamp(const char *s, int64_t *t, size_t *frac_len)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    const char *p = s + 19;
    size_t i, nf = 0;
    int y, mo, d, h, mi, sec;

    for (i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != shape[i])
            return 0;
    if (*p == '.')
        for (p++, nf = 1; is_digit(*p) && nf <= 9; p++)
            nf++;
    if (nf == 1 || nf > 10 || *p != 'Z' || is_alnum(p[1]))
        return 0;
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    mo = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    h = (s[11] - '0') * 10 + (s[12] - '0');
    mi = (s[14] - '0') * 10 + (s[15] - '0');
    sec = (s[17] - '0') * 10 + (s[18] - '0');
    if (mo < 1 || mo > 12 || d < 1 || d > days_in(y, mo) || h > 23 || mi > 59 || sec > 59)
        return 0;
    *t = utc_seconds(y, mo, d, h, mi, sec);
    *frac_len = nf;
    return (size_t)(p + 1 - s);
}

char *cli_time_localize(const char *text)
{
    size_t len = strlen(text), cap, i = 0, o = 0, n, nf;
    char stamp[40], *out, *z;
    int64_t t;

    /* Each stamp is at least 20 bytes and grows by at most 5 ("Z" to
     * "+hh:mm"). */
    cap = len + (len / 20 + 1) * 5 + 1;
    if (!(out = malloc(cap)))
        return NULL;
    while (i < len) {
        n = (i == 0 || !is_alnum(text[i - 1])) && len - i >= 20 ? utc_stamp(text + i, &t, &nf) : 0;
        if (n && cli_time_format(stamp, sizeof stamp, t, -1, 1) == 0) {
            /* The fraction as written (the library's digits), then the offset. */
            z = stamp + 19;
            memcpy(out + o, stamp, 19);
            o += 19;
            memcpy(out + o, text + i + 19, nf);
            o += nf;
            memcpy(out + o, z, strlen(z));
            o += strlen(z);
            i += n;
        } else {
            out[o++] = text[i++];
        }
    }
    out[o] = '\0';
    return out;
}

void cli_put_times(FILE *f, const cli *c, const char *text)
{
    char *local = c->local ? cli_time_localize(text) : NULL;

    fputs(local ? local : text, f);
    free(local);
}

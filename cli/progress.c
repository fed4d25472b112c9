/* vaultctl: the one progress bar, for import, key rotate, audit verify and
 * export.  It draws on standard error only when that is a terminal (a log
 * file or a pipe gets nothing), at most 10 times a second however often
 * the library reports, and clears its line at the end so what follows
 * starts at column 0. */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define BAR_WIDTH 24
#define REDRAW_MS 100

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cli_progress_start_on(cli_progress *p, FILE *f, const char *label, const char *unit)
{
    memset(p, 0, sizeof *p);
    p->f = f;
    p->label = label ? label : "";
    p->unit = unit ? unit : "";
    p->last_ms = -1;
}

void cli_progress_start(cli_progress *p, const char *label, const char *unit)
{
    cli_progress_start_on(p, isatty(STDERR_FILENO) ? stderr : NULL, label, unit);
}

static void draw(cli_progress *p)
{
    char bar[BAR_WIDTH + 1];
    uint64_t fill, i;

    if (p->total) {
        fill = p->done >= p->total ? BAR_WIDTH : p->done * BAR_WIDTH / p->total;
        for (i = 0; i < BAR_WIDTH; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        /* \033[K: a shorter line leaves nothing of the longer one. */
        fprintf(p->f, "\r  %s [%s] %llu / %llu %s (%3.0f%%)\033[K", p->label, bar,
                (unsigned long long)p->done, (unsigned long long)p->total, p->unit,
                p->done >= p->total ? 100.0 : 100.0 * (double)p->done / (double)p->total);
    } else {
        fprintf(p->f, "\r  %s: %llu %s\033[K", p->label, (unsigned long long)p->done, p->unit);
    }
    fflush(p->f);
    p->drawn = 1;
}

void cli_progress_update_at(cli_progress *p, uint64_t done, uint64_t total, int64_t now)
{
    p->done = done;
    p->total = total;
    if (!p->f)
        return;
    /* The first report and the last (done == total) always; the rest when
     * a tenth of a second has passed. */
    if (p->last_ms >= 0 && now - p->last_ms < REDRAW_MS && !(total && done >= total))
        return;
    p->last_ms = now;
    draw(p);
}

void cli_progress_update(cli_progress *p, uint64_t done, uint64_t total)
{
    cli_progress_update_at(p, done, total, p->f ? now_ms() : 0);
}

void cli_progress_fn(uint64_t done, uint64_t total, void *arg)
{
    cli_progress_update(arg, done, total);
}

void cli_progress_end(cli_progress *p)
{
    if (p->f && p->drawn) {
        fputs("\r\033[K", p->f);
        fflush(p->f);
    }
    p->drawn = 0;
}

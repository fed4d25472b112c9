/* alarm: what vaultd does with the alarms the library raises (an access
 * over a policy quota whose over: is alert; vault_set_alarm): one line in
 * the journal for each, and, when the configuration names one, the
 * alarms.command run with the alarm in its environment (docs/service.md
 * "Alarms").  No field value is ever in an alarm.
 *
 * The library calls vd_alarm on the worker thread that made the read,
 * with that handle locked, so nothing here blocks: the command runs from
 * a detached thread of its own, at most VD_ALARMS_RUNNING at a time (an
 * alarm beyond that is logged as not delivered). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "server.h"

#define VD_ALARMS_RUNNING 8
#define VD_ALARM_ENV 12

typedef struct alarm_run {
    char *command;
    int64_t timeout;
    char env[VD_ALARM_ENV][192];
} alarm_run;

static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static int running;

static void alarm_env(alarm_run *r, const vault_alarm *a)
{
    size_t i = 0;

    snprintf(r->env[i++], sizeof r->env[0], "PATH=/usr/sbin:/usr/bin:/sbin:/bin");
    snprintf(r->env[i++], sizeof r->env[0], "VAULT_ALARM_KIND=%s", a->kind);
    snprintf(r->env[i++], sizeof r->env[0], "VAULT_ALARM_NAME=%s", a->name);
    snprintf(r->env[i++], sizeof r->env[0], "VAULT_ALARM_USER=%s", a->user);
    snprintf(r->env[i++], sizeof r->env[0], "VAULT_ALARM_ROLE=%s", a->role);
    snprintf(r->env[i++], sizeof r->env[0], "VAULT_ALARM_DEPARTMENT=%s", a->department);
    snprintf(r->env[i++], sizeof r->env[0], "VAULT_ALARM_PURPOSE=%s", a->purpose);
    snprintf(r->env[i++], sizeof r->env[0], "VAULT_ALARM_RECORD=%s", a->record);
    snprintf(r->env[i++], sizeof r->env[0], "VAULT_ALARM_COUNT=%" PRId64, a->count);
    snprintf(r->env[i++], sizeof r->env[0], "VAULT_ALARM_LIMIT=%" PRId64, a->limit);
    snprintf(r->env[i++], sizeof r->env[0], "VAULT_ALARM_PER=%" PRId64, a->per);
    snprintf(r->env[i++], sizeof r->env[0], "VAULT_ALARM_TIME=%" PRId64, a->time);
}

/* Run the command to its end or its timeout (then SIGKILL), and say so
 * when it failed. */
static void *alarm_thread(void *arg)
{
    alarm_run *r = arg;
    char *envp[VD_ALARM_ENV + 1], *argv[2] = {r->command, NULL};
    struct timespec nap = {0, 50 * 1000 * 1000};
    int64_t waited_ms = 0;
    int st = 0, i;
    pid_t pid, got = 0;

    for (i = 0; i < VD_ALARM_ENV; i++)
        envp[i] = r->env[i];
    envp[VD_ALARM_ENV] = NULL;
    pid = fork();
    if (pid == 0) {
        /* Nothing of vaultd's goes with it: no descriptor (the vault, the
         * sockets), no signal mask, an environment of the alarm only. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        closefrom(STDERR_FILENO + 1);
        execve(r->command, argv, envp);
        _exit(127);
    }
    if (pid < 0) {
        fprintf(stderr, "vaultd: alarms.command %s: cannot start it: %s\n", r->command,
                strerror(errno));
    } else {
        while ((got = waitpid(pid, &st, WNOHANG)) == 0 && waited_ms < r->timeout * 1000) {
            nanosleep(&nap, NULL);
            waited_ms += 50;
        }
        if (got == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            fprintf(stderr, "vaultd: alarms.command %s: killed after %" PRId64 "s\n", r->command,
                    r->timeout);
        } else if (got == pid && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
            fprintf(stderr, "vaultd: alarms.command %s: %s %d\n", r->command,
                    WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        }
    }
    pthread_mutex_lock(&running_lock);
    running--;
    pthread_mutex_unlock(&running_lock);
    free(r->command);
    free(r);
    return NULL;
}

void vd_alarm(const vault_alarm *a, void *arg)
{
    const vd_config *cfg = arg;
    alarm_run *r;
    pthread_t t;
    pthread_attr_t at;
    int go = 0;

    /* Under systemd (stderr is the journal) with the fields a query can
     * select on; else one line on stderr. */
    if (getenv("JOURNAL_STREAM"))
        sd_journal_send("MESSAGE=vaultd: alarm: %s %s: %s (%s/%s, %s) read record %s: %" PRId64
                        " of %" PRId64 " per %" PRId64 "s",
                        a->kind, a->name, a->user, a->role, a->department, a->purpose, a->record,
                        a->count, a->limit, a->per, "PRIORITY=4", "VAULT_ALARM_KIND=%s", a->kind,
                        "VAULT_ALARM_NAME=%s", a->name, "VAULT_ALARM_USER=%s", a->user,
                        "VAULT_ALARM_RECORD=%s", a->record, NULL);
    else
        fprintf(stderr,
                "vaultd: alarm: %s %s: %s (%s/%s, %s) read record %s: %" PRId64 " of %" PRId64
                " per %" PRId64 "s\n",
                a->kind, a->name, a->user, a->role, a->department, a->purpose, a->record, a->count,
                a->limit, a->per);
    if (!cfg->alarm_command)
        return;
    pthread_mutex_lock(&running_lock);
    if (running < VD_ALARMS_RUNNING) {
        running++;
        go = 1;
    }
    pthread_mutex_unlock(&running_lock);
    if (!go) {
        fprintf(stderr, "vaultd: alarms.command: %d already running: alarm %s for %s not "
                "delivered to it (it is in the journal and the audit log)\n",
                VD_ALARMS_RUNNING, a->name, a->user);
        return;
    }
    r = calloc(1, sizeof *r);
    if (r && (r->command = strdup(cfg->alarm_command)) != NULL) {
        r->timeout = cfg->alarm_timeout;
        alarm_env(r, a);
        if (pthread_attr_init(&at) == 0) {
            pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
            if (pthread_create(&t, &at, alarm_thread, r) == 0) {
                pthread_attr_destroy(&at);
                return;
            }
            pthread_attr_destroy(&at);
        }
    }
    fprintf(stderr, "vaultd: alarms.command: cannot start a thread for alarm %s\n", a->name);
    if (r)
        free(r->command);
    free(r);
    pthread_mutex_lock(&running_lock);
    running--;
    pthread_mutex_unlock(&running_lock);
}

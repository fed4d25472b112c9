/* alarm: what vaultd does with the alarms the library raises (an access
 * over a policy quota whose over: is alert; vault_set_alarm): one line in
 * the journal for each, and, when the configuration names one, the
 * alarms.command run with the alarm in its environment, and the alarm as
 * JSON POSTed to the alarms.webhook (docs/service.md "Alarms").  No field
 * value is ever in an alarm.
 *
 * The library calls vd_alarm on the worker thread that made the read,
 * with that handle locked, so nothing here blocks: the command and the
 * webhook run from a detached thread of their own, at most
 * VD_ALARMS_RUNNING at a time (an alarm beyond that is logged as not
 * delivered). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <systemd/sd-journal.h>

#include "server.h"

#define VD_ALARMS_RUNNING 8
#define VD_ALARM_ENV 12

typedef struct alarm_run {
    char *command;            /* NULL: none */
    char *webhook, *ca;       /* NULL: none / the system's CAs */
    char *body;               /* the alarm as JSON, for the webhook */
    int64_t timeout;
    char env[VD_ALARM_ENV][192];
} alarm_run;

static void run_free(alarm_run *r)
{
    if (!r)
        return;
    free(r->command);
    free(r->webhook);
    free(r->ca);
    free(r->body);
    free(r);
}

/* The alarm as a JSON object (the environment's names, lower case). */
static char *alarm_json(const vault_alarm *a)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I}", "kind", a->kind,
                          "name", a->name, "user", a->user, "role", a->role, "department",
                          a->department, "purpose", a->purpose, "record", a->record, "count",
                          (json_int_t)a->count, "limit", (json_int_t)a->limit, "per",
                          (json_int_t)a->per, "time", (json_int_t)a->time);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    return s;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* POST the alarm to the webhook; a failure is one line on stderr (the
 * alarm is in the journal line and the audit log anyway). */
static void alarm_post(const alarm_run *r)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode cc;
    long status = 0;

    if (!h || !(hdr = curl_slist_append(NULL, "Content-Type: application/json"))) {
        fprintf(stderr, "vaultd: alarms.webhook: cannot start libcurl: alarm not delivered\n");
        goto cleanup;
    }
    cc = curl_easy_setopt(h, CURLOPT_URL, r->webhook);
    cc |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    cc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    cc |= curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)r->timeout);
    cc |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    cc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    cc |= curl_easy_setopt(h, CURLOPT_PROXY, ""); /* never a proxy from the environment */
    cc |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
    cc |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    cc |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    if (r->ca)
        cc |= curl_easy_setopt(h, CURLOPT_CAINFO, r->ca);
    if (cc != CURLE_OK) {
        fprintf(stderr, "vaultd: alarms.webhook: libcurl refused an option: alarm not delivered\n");
        goto cleanup;
    }
    cc = curl_easy_perform(h);
    if (cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK)
        fprintf(stderr, "vaultd: alarms.webhook %s: %s: alarm not delivered\n", r->webhook,
                errbuf[0] ? errbuf : curl_easy_strerror(cc));
    else if (status < 200 || status > 299)
        fprintf(stderr, "vaultd: alarms.webhook %s: HTTP %ld: alarm not delivered\n", r->webhook,
                status);
cleanup:
    curl_slist_free_all(hdr);
    if (h)
        curl_easy_cleanup(h);
}

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

    if (r->webhook)
        alarm_post(r);
    if (!r->command)
        goto done;
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
done:
    pthread_mutex_lock(&running_lock);
    running--;
    pthread_mutex_unlock(&running_lock);
    run_free(r);
    return NULL;
}

int vd_alarm_init(const vd_config *cfg, char *err, size_t err_cap)
{
    if (cfg->alarm_webhook && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, err_cap, "alarms.webhook: libcurl does not start");
        return -1;
    }
    return 0;
}

/* stderr is connected to the journal: JOURNAL_STREAM names its device
 * and inode (systemd.exec(5)), not merely inherited from elsewhere. */
static int stderr_is_journal(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void vd_alarm(const vault_alarm *a, void *arg)
{
    const vd_config *cfg = arg;
    alarm_run *r;
    pthread_t t;
    pthread_attr_t at;
    int go = 0;

    /* Under systemd (stderr is the journal) with the fields a query can
     * select on; else one line on stderr: an alarm is never dropped
     * silently (libsystemd drops a message when no journal listens). */
    if (!stderr_is_journal() ||
        sd_journal_send("MESSAGE=vaultd: alarm: %s %s: %s (%s/%s, %s) read record %s: %" PRId64
                        " of %" PRId64 " per %" PRId64 "s",
                        a->kind, a->name, a->user, a->role, a->department, a->purpose, a->record,
                        a->count, a->limit, a->per, "PRIORITY=4", "VAULT_ALARM_KIND=%s", a->kind,
                        "VAULT_ALARM_NAME=%s", a->name, "VAULT_ALARM_USER=%s", a->user,
                        "VAULT_ALARM_RECORD=%s", a->record, NULL) < 0)
        fprintf(stderr,
                "vaultd: alarm: %s %s: %s (%s/%s, %s) read record %s: %" PRId64 " of %" PRId64
                " per %" PRId64 "s\n",
                a->kind, a->name, a->user, a->role, a->department, a->purpose, a->record, a->count,
                a->limit, a->per);
    if (!cfg->alarm_command && !cfg->alarm_webhook)
        return;
    pthread_mutex_lock(&running_lock);
    if (running < VD_ALARMS_RUNNING) {
        running++;
        go = 1;
    }
    pthread_mutex_unlock(&running_lock);
    if (!go) {
        fprintf(stderr, "vaultd: alarms: %d already being delivered: alarm %s for %s not "
                "delivered to the command or webhook (it is in the journal and the audit log)\n",
                VD_ALARMS_RUNNING, a->name, a->user);
        return;
    }
    r = calloc(1, sizeof *r);
    if (r && (!cfg->alarm_command || (r->command = strdup(cfg->alarm_command))) &&
        (!cfg->alarm_webhook || ((r->webhook = strdup(cfg->alarm_webhook)) &&
                                 (r->body = alarm_json(a)))) &&
        (!cfg->alarm_webhook_ca || (r->ca = strdup(cfg->alarm_webhook_ca)))) {
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
    fprintf(stderr, "vaultd: alarms: cannot start a thread for alarm %s\n", a->name);
    run_free(r);
    pthread_mutex_lock(&running_lock);
    running--;
    pthread_mutex_unlock(&running_lock);
}

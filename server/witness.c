/* witness: vaultd's submitting thread (docs/service.md "Witnesses").
 * After each new checkpoint (a worker handle committed one: polled once a
 * second with vault_witness_take_due) and every audit.witness_retry
 * seconds, it hands the newest stored checkpoint to each witness of
 * audit.witnesses that has not cosigned it (vault_audit_witness, on a
 * handle of its own, so no worker waits on a witness), and the library
 * stores the cosignatures.  Failures go to standard error (the journal),
 * one line per witness, and into /v1/metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static struct {
    vd_periodic p;
    vd_server *srv;
    vault_witness_target *targets;
} W;

static void count(vd_server *srv, uint64_t ok, uint64_t failed)
{
    pthread_mutex_lock(&srv->mlock);
    srv->m.witness_cosigned += ok;
    srv->m.witness_failures += failed;
    srv->m.witness_rounds++;
    pthread_mutex_unlock(&srv->mlock);
}

static void submit_round(void)
{
    vault_witness_status st[32];
    size_t n = 0, ok = 0, failed = 0;
    const vd_config *cfg = W.srv->cfg;
    int rc = vault_audit_witness(st, 32, &n, W.p.v, W.targets, cfg->nwitnesses,
                                 (long)cfg->witness_timeout * 1000);

    if (rc < 0 && n == 0) {
        /* Nothing to submit yet (no checkpoint) is no failure. */
        if (rc != VAULT_ENOTFOUND)
            fprintf(stderr, "vaultd: witnesses: %s\n", vault_error_last());
        count(W.srv, 0, rc == VAULT_ENOTFOUND ? 0 : 1);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (st[i].result == VAULT_OK) {
            ok += !st[i].already;
            continue;
        }
        failed++;
        fprintf(stderr, "vaultd: witness %s: checkpoint %llu not cosigned, retried in %llds: %s\n",
                st[i].name, (unsigned long long)st[i].size, (long long)cfg->witness_retry,
                st[i].message);
    }
    count(W.srv, ok, failed);
}

/* Any handle committed a checkpoint since the last look. */
static int due(void)
{
    return vd_pool_take_due(&W.srv->pool);
}

int vd_witness_check(vd_server *srv, vault *v, char *err, size_t cap)
{
    const vd_config *cfg = srv->cfg;

    for (size_t i = 0; i < cfg->nwitnesses; i++)
        if (vault_witness_pinned(v, cfg->witnesses[i].key) != VAULT_OK) {
            snprintf(err, cap, "%s:%u:%u: audit.witnesses: %s", cfg->file,
                     cfg->witnesses[i].line, cfg->witnesses[i].col, vault_error_last());
            return -1;
        }
    return 0;
}

int vd_witness_start(vd_server *srv, vault *first, char *err, size_t cap)
{
    const vd_config *cfg = srv->cfg;

    if (cfg->nwitnesses == 0)
        return 0;
    W.srv = srv;
    W.targets = calloc(cfg->nwitnesses, sizeof *W.targets);
    if (!W.targets) {
        snprintf(err, cap, "witnesses: out of memory");
        return -1;
    }
    for (size_t i = 0; i < cfg->nwitnesses; i++) {
        W.targets[i].size = sizeof W.targets[i];
        W.targets[i].key = cfg->witnesses[i].key;
        W.targets[i].url = cfg->witnesses[i].url;
    }
    W.p.what = "witnesses";
    W.p.round = submit_round;
    W.p.due = due;
    W.p.interval = cfg->witness_retry;
    W.p.first_now = 1; /* at start: submit what is there */
    return vd_periodic_start(&W.p, first, err, cap);
}

void vd_witness_stop(void)
{
    vd_periodic_stop(&W.p);
}

void vd_witness_finish(void)
{
    vd_witness_stop();
    /* The pool's handles are closed: their last checkpoints go out once. */
    if (W.p.v && W.srv)
        submit_round();
    vault_close(W.p.v);
    W.p.v = NULL;
    free(W.targets);
    W.targets = NULL;
}

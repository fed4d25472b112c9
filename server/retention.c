/* retention: vaultd's retention thread (docs/service.md "Retention").
 * Every retention.every (default 24h; off: never) it runs the policy's
 * retention schedules (vault_retention_run) on a handle of its own, so no
 * worker waits on it, and logs what it did to standard error (the
 * journal): counts only, never a value or a record's content.  The run's
 * entries carry the user "retention" and vaultd's own principal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static struct {
    vd_periodic p;
    vd_server *srv;
} R;

static json_int_t count(const json_t *doc, const char *key)
{
    return json_integer_value(json_object_get(doc, key));
}

static void run_once(void)
{
    char *out = NULL;
    json_t *doc;
    int rc = vault_retention_run(&out, R.p.v, 1);

    if (rc != VAULT_OK) {
        fprintf(stderr, "vaultd: retention: the run failed (retried in %llds): %s\n",
                (long long)R.srv->cfg->retention_every, vault_error_last());
        goto out;
    }
    doc = json_loads(out, 0, NULL);
    fprintf(stderr,
            "vaultd: retention: %lld records erased, %lld records with %lld fields removed, "
            "%lld remains removed, %zu skipped, %zu problems\n",
            (long long)count(doc, "records_erased"), (long long)count(doc, "records_with_fields_removed"),
            (long long)count(doc, "fields_removed"), (long long)count(doc, "remains_removed"),
            json_array_size(json_object_get(doc, "skipped")),
            json_array_size(json_object_get(doc, "problems")));
    pthread_mutex_lock(&R.srv->mlock);
    R.srv->m.retention_runs++;
    R.srv->m.retention_erased += (uint64_t)count(doc, "records_erased");
    pthread_mutex_unlock(&R.srv->mlock);
    json_decref(doc);
out:
    vault_free(out);
}

int vd_retention_start(vd_server *srv, vault *first, char *err, size_t cap)
{
    if (srv->cfg->retention_every <= 0)
        return 0;
    R.srv = srv;
    R.p.what = "retention";
    R.p.round = run_once;
    R.p.due = NULL;
    R.p.interval = srv->cfg->retention_every;
    R.p.first_now = 0; /* the first run one interval after start */
    return vd_periodic_start(&R.p, first, err, cap);
}

void vd_retention_stop(void)
{
    vd_periodic_stop(&R.p);
    vault_close(R.p.v);
    R.p.v = NULL;
}

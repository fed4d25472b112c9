/* Fuzz target: vaultd's request layer (server/dispatch.c and the route
 * handlers of server/routes.c) on an authenticated caller, below the HTTP
 * parser (libmicrohttpd's own) and above the library.  The input's first
 * byte picks the route (modulo the route table), the second one whether
 * the query carries a purpose; the rest is the request body.  The caller
 * is a data officer of the street through the street-desk app, with a
 * token that never expires, against a vault under /tmp made once per
 * process (key-file slot) with the shipped policies/community.yaml and two
 * records, re-created every FUZZ_REQUEST_RECREATE inputs so it stays small.
 * Checks: every answer is a status 200..599 with a JSON object (an error
 * object {"error": {"code", "message"}} for >= 400) or, for the text
 * routes, text; no crash, leak or sanitizer report. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "server.h"

#define FUZZ_REQUEST_RECREATE 500
#define STREET "hangzhou/gongshu/xiaohe"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], vault_path[128], key_path[128], policy_path[4096];
static vd_server srv;
static vd_config cfg;
static unsigned runs;
static int verbose; /* FUZZ_REQUEST_VERBOSE=1: print each answer */

static void remove_vault(void)
{
    fuzz_remove_vault(vault_path);
}

static void make_vault(void)
{
    vault_secret s = {sizeof(vault_secret), VAULT_UNLOCK_KEYFILE, key_path, 0, 0};
    vault_subject sub = {sizeof(vault_subject), "fuzz", "data_officer", "street_office", STREET, "resident_service"};
    const char *fields[] = {"name", "phone"}, *values[] = {"张三", "13812345678"};
    size_t lens[] = {strlen(values[0]), 11};
    vault *v = NULL;
    vault_session *officer = NULL;
    char id[VAULT_ID_HEX_SIZE], err[256];

    remove_vault();
    if (vault_create(&v, vault_path, policy_path, &s) != VAULT_OK ||
        vault_session_open(&officer, v, &sub) != VAULT_OK ||
        vault_record_add(id, sizeof id, officer, STREET "/changzheng/grid-07", 2, fields, values,
                         lens) != VAULT_OK ||
        vault_record_add(id, sizeof id, officer, STREET "/changzheng/grid-08", 1, fields, values,
                         lens) != VAULT_OK) {
        fprintf(stderr, "fuzz_request: cannot create the vault: %s\n", vault_error_last());
        abort();
    }
    vault_session_close(officer);
    if (vd_pool_open(&srv.pool, v, 1, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_request: %s\n", err);
        abort();
    }
    runs = 0;
}

static void cleanup(void)
{
    vd_pool_close(&srv.pool);
    remove_vault();
    unlink(key_path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (vault_init() < 0)
        abort();
    fuzz_policy_path(policy_path, sizeof policy_path, "fuzz_request");
    snprintf(dir, sizeof dir, "/tmp/fuzz-request-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(vault_path, sizeof vault_path, "%s/fuzz.vault", dir);
    snprintf(key_path, sizeof key_path, "%s/fuzz.key", dir);
    if (vault_keyfile_generate(key_path) != VAULT_OK)
        abort();
    verbose = getenv("FUZZ_REQUEST_VERBOSE") != NULL;
    cfg.max_body = (size_t)1 << 20;
    cfg.max_import_body = (size_t)1 << 20;
    cfg.workers = 1;
    cfg.clock_skew = 60;
    srv.cfg = &cfg;
    pthread_mutex_init(&srv.mlock, NULL);
    make_vault();
    atexit(cleanup);
    return 0;
}

static void caller(vd_caller *who)
{
    memset(who, 0, sizeof *who);
    snprintf(who->app, sizeof who->app, "street-desk");
    snprintf(who->peer, sizeof who->peer, "unix:uid=0,pid=1");
    who->has_token = 1;
    snprintf(who->iss, sizeof who->iss, "https://id.fuzz.invalid");
    snprintf(who->sub, sizeof who->sub, "officer-fuzz");
    snprintf(who->jti, sizeof who->jti, "jti-1");
    snprintf(who->user, sizeof who->user, "officer-fuzz");
    snprintf(who->role, sizeof who->role, "data_officer");
    snprintf(who->department, sizeof who->department, "street_office");
    snprintf(who->jurisdiction, sizeof who->jurisdiction, STREET);
    who->exp = INT64_MAX / 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vd_request r;
    json_t *err;
    char *body = NULL;

    if (size < 2)
        return 0;
    if (++runs > FUZZ_REQUEST_RECREATE) {
        vd_pool_close(&srv.pool);
        make_vault();
    }
    memset(&r, 0, sizeof r);
    r.srv = &srv;
    r.route = &vd_routes[data[0] % vd_nroutes];
    r.method = r.route->method;
    r.path = r.route->path;
    caller(&r.who);
    /* the handlers see the body as libmicrohttpd hands it: NUL-terminated */
    body = malloc(size - 2 + 1);
    if (!body)
        abort();
    memcpy(body, data + 2, size - 2);
    body[size - 2] = '\0';
    vd_dispatch(&r, body, size - 2, (data[1] & 1) ? "resident_service" : NULL);
    if (verbose) {
        char *t = r.out ? json_dumps(r.out, JSON_COMPACT) : NULL;
        fprintf(stderr, "fuzz_request: %s %s -> %d %.160s\n", r.method, r.path, r.status,
                t ? t : "(text)");
        free(t);
    }
    if (r.status < 200 || r.status > 599)
        abort();
    if (r.text) {
        if (r.status >= 400)
            abort();
    } else if (!json_is_object(r.out)) {
        abort();
    } else if (r.status >= 400) {
        err = json_object_get(r.out, "error");
        if (!json_is_string(json_object_get(err, "code")) ||
            !json_is_string(json_object_get(err, "message")))
            abort();
    }
    vd_request_clear(&r);
    free(body);
    return 0;
}

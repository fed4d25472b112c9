/* vaultctl demo, the service part: the vault of the embedded tour served by
 * vaultd, and apps using it in client mode (vault_connect), as an app in
 * another process would.
 *
 * Who is who: vaultd maps a caller's transport to an app (its config's
 * clients:), and the policy's apps: bounds what each app may act for.  On
 * the Unix socket an app is a uid, and one uid is one app; every process
 * of this demo runs under the same uid, so the socket carries one app
 * (street-desk, the officers' desk) and the grid and hotline apps connect
 * over TLS on 127.0.0.1 with client certificates from a CA the demo makes
 * (certtool), the way apps on other machines do.  That works without root
 * and shows both transports. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "demo.h"
#include "svc.h"

#define STREET "hangzhou/gongshu/xiaohe"
#define GRID07 STREET "/changzheng/grid-07"
#define ISS "https://id.demo.invalid"
#define AUD "vaultd-demo"

const char *const demo_service_files[] = {
    "vaultd.yaml", "vaultd.log", "vaultd.sock", "notify.sock", "issuer.key",
    "ca.key", "ca.crt", "ca.tpl", "server.key", "server.crt", "server.tpl",
    "grid-app.key", "grid-app.crt", "grid-app.tpl", "hotline-app.key", "hotline-app.crt",
    "hotline-app.tpl", NULL};

/* One person: the token the identity provider signed for them. */
typedef struct person {
    const char *sub, *role, *dept, *jurisdiction;
    char token[SVC_TOKEN_MAX];
} person;

enum { P_LI, P_ZHOU, P_GRID, P_HOTLINE, P_HEALTH, P_STREET, P_N };

typedef struct demo_svc {
    const demo_service_in *in;
    char sock[1100], tls[64], ca[1100], certs[2][2][1100]; /* grid, hotline: crt, key */
    person p[P_N];
} demo_svc;

static int say_fail(const char *what, const char *why)
{
    cli_errf("vaultctl: demo: %s: %s", what, why);
    return EXIT_FAIL;
}

static int vfail(const char *what, int rc)
{
    cli_errf("vaultctl: demo: %s: %s", what, vault_error_last());
    return cli_exit_code(rc);
}

static int path(char *out, size_t cap, const char *dir, const char *name)
{
    return (size_t)snprintf(out, cap, "%s/%s", dir, name) < cap ? 0 : -1;
}

/* A client-mode handle for `who`: the officers' desk on the Unix socket,
 * or an app over TLS with its certificate (app 0 grid-app, 1 hotline-app). */
static int connect_as(vault **out, const demo_svc *d, const person *who, int tls_app,
                      const char *purpose)
{
    vault_credentials cred = VAULT_CREDENTIALS_INIT;
    char url[1200];
    int rc;

    cred = (vault_credentials)VAULT_CREDENTIALS_INIT;
    cred.token = who->token;
    cred.purpose = purpose;
    if (tls_app < 0) {
        snprintf(url, sizeof url, "unix://%s", d->sock);
    } else {
        snprintf(url, sizeof url, "%s", d->tls);
        cred.ca_file = d->ca;
        cred.cert_file = d->certs[tls_app][0];
        cred.key_file = d->certs[tls_app][1];
    }
    if ((rc = vault_connect(out, url, &cred)) < 0)
        return vfail("connecting to vaultd", rc);
    return 0;
}

static int session(vault_session **out, vault *v, const char *purpose)
{
    /* Client mode sends only the purpose: the token says who acts. */
    vault_subject sub = {sizeof(vault_subject), "-", "-", "-", "-", purpose};
    int rc = vault_session_open(out, v, &sub);

    return rc < 0 ? vfail("opening a session", rc) : 0;
}

static int start(demo_svc *d, pid_t *pid)
{
    const demo_service_in *in = d->in;
    char cfg[1100], log[1100], ikey[1100], pub[128], err[SVC_ERR_MAX];
    static const char *const apps[] = {"grid-app", "hotline-app"};
    svc_client clients[3] = {{"street-desk", (long)getuid(), NULL},
                             {"grid-app", -1, "grid-app"},
                             {"hotline-app", -1, "hotline-app"}};
    svc_config sc;
    int port = 0, i;

    if (path(cfg, sizeof cfg, in->dir, "vaultd.yaml") || path(log, sizeof log, in->dir, "vaultd.log") ||
        path(ikey, sizeof ikey, in->dir, "issuer.key") ||
        path(d->sock, sizeof d->sock, in->dir, "vaultd.sock") ||
        path(d->ca, sizeof d->ca, in->dir, "ca.crt"))
        return say_fail(in->dir, "path too long");
    for (i = 0; i < 2; i++)
        if ((size_t)snprintf(d->certs[i][0], sizeof d->certs[i][0], "%s/%s.crt", in->dir,
                             apps[i]) >= sizeof d->certs[i][0] ||
            (size_t)snprintf(d->certs[i][1], sizeof d->certs[i][1], "%s/%s.key", in->dir,
                             apps[i]) >= sizeof d->certs[i][1])
            return say_fail(in->dir, "path too long");
    if (svc_keygen(pub, sizeof pub, in->vaultctl, ikey, err, sizeof err) < 0)
        return say_fail("the identity provider's key", err);
    if (svc_certs(in->dir, apps, 2, err, sizeof err) < 0)
        return say_fail("TLS certificates", err);
    if (svc_free_port(&port, err, sizeof err) < 0)
        return say_fail("TLS port", err);
    snprintf(d->tls, sizeof d->tls, "https://127.0.0.1:%d", port);
    memset(&sc, 0, sizeof sc);
    sc.vault = in->vault;
    sc.key_file = in->key_file;
    sc.unix_path = d->sock;
    sc.tls_port = port;
    sc.tls_dir = in->dir;
    sc.clients = clients;
    sc.nclients = 3;
    sc.issuer_name = "demo-idp";
    sc.iss = ISS;
    sc.aud = AUD;
    sc.issuer_pub = pub;
    sc.workers = 2;
    if (svc_config_write(cfg, &sc, err, sizeof err) < 0)
        return say_fail("vaultd's config", err);
    if (svc_start(pid, in->vaultd, cfg, log, in->dir, 60, err, sizeof err) < 0)
        return say_fail("starting vaultd", err);
    printf("  vaultd serves %s\n"
           "    on the Unix socket %s\n"
           "    and on TLS %s (config vaultd.yaml, log vaultd.log, same directory).\n"
           "  It unlocked the vault with the key file; the apps below hold no key.\n"
           "  Its clients: section says which caller is which app:\n"
           "    street-desk   processes of uid %ld on the socket (here: this demo, as the officers' desk)\n"
           "    grid-app      a TLS client certificate with CN grid-app, from the demo's CA\n"
           "    hotline-app   a TLS client certificate with CN hotline-app\n"
           "  One uid is one app, and every process of this demo has the same uid, so the two\n"
           "  other apps are told apart the way apps on other machines are: by certificate.\n"
           "  The policy's apps: section bounds each app (grid-app: grid workers of the\n"
           "  community committee; hotline-app: hotline agents; street-desk: street officers).\n",
           in->vault, d->sock, d->tls, (long)getuid());
    for (i = 0; i < P_N; i++) {
        person *p = &d->p[i];
        if (svc_token(p->token, sizeof p->token, in->vaultctl, ikey, ISS, AUD, p->sub, p->role,
                      p->dept, p->jurisdiction, err, sizeof err) < 0)
            return say_fail("issuing a token", err);
    }
    return 0;
}

static void show_tokens(const demo_svc *d)
{
    int i;

    printf("  The identity provider (here `vaultctl token issue`, the development issuer\n"
           "  whose public key vaultd pins as demo-idp) signs a token for each person:\n");
    for (i = 0; i < P_N; i++)
        printf("    %-13s %s of %s @ %s\n", d->p[i].sub, d->p[i].role, d->p[i].dept,
               d->p[i].jurisdiction);
    printf("  An app sends the token with each request; vaultd builds the session from the app\n"
           "  it authenticated and the token's claims, never from what the request says.\n");
}

/* The hotline app, first with its agent's token and a subject that claims
 * the health department (ignored), then with a health worker's token
 * (refused: the app may not act for health). */
static int hotline(demo_svc *d)
{
    vault *v = NULL;
    vault_session *s = NULL;
    vault_subject claim = {sizeof(vault_subject), "zhao.health", "health_worker", "health", STREET, "public_health"};
    static const char *const f[] = {"name", "health"};
    vault_result *r = NULL;
    int rc, ex;

    if ((ex = connect_as(&v, d, &d->p[P_HOTLINE], 1, "hotline_followup")) != 0)
        return ex;
    claim.purpose = "hotline_followup";
    if ((rc = vault_session_open(&s, v, &claim)) < 0) {
        ex = vfail("opening a session", rc);
        goto out;
    }
    printf("  The hotline app opens a session saying it is zhao.health of the health department.\n"
           "  In client mode that subject is not even sent; the token says sun.hotline:\n");
    demo_show_read(s, "hotline-app, token sun.hotline", d->in->id_a, f, 2);
    vault_session_close(s);
    vault_close(v);
    s = NULL;
    v = NULL;
    if ((ex = connect_as(&v, d, &d->p[P_HEALTH], 1, "public_health")) != 0 ||
        (ex = session(&s, v, "public_health")) != 0)
        goto out;
    printf("  Then it sends a health worker's token (zhao.health, health department):\n");
    rc = vault_record_get(&r, s, d->in->id_a, f, 2);
    if (rc == 0) {
        vault_result_free(r);
        ex = say_fail("hotline-app", "vaultd let the hotline app act for the health department");
        goto out;
    }
    printf("    refused (%s): %s\n", vault_error_name(rc), vault_error_last());
    printf("  The health worker's own app could read this; the hotline app may not act for\n"
           "  health, whatever token it holds. The refusal is in the audit log (step 16).\n");
    ex = 0;
out:
    vault_session_close(s);
    vault_close(v);
    return ex;
}

/* Two-person rule: li.officer issues a special-grade grant, cannot
 * approve it herself; zhou.officer can. */
static int two_person(demo_svc *d, char *gid, size_t gid_size)
{
    vault *vli = NULL, *vzhou = NULL, *vst = NULL;
    vault_session *li = NULL, *zhou = NULL, *st = NULL;
    const char *field = "community_correction", *rec = d->in->id_a;
    static const char *const f[] = {"name", "community_correction"};
    const char *purpose = "resident_service";
    vault_grant_spec spec = VAULT_GRANT_SPEC_INIT;
    int rc, ex, pending = 0;

    if ((ex = connect_as(&vli, d, &d->p[P_LI], -1, purpose)) != 0 ||
        (ex = session(&li, vli, purpose)) != 0 ||
        (ex = connect_as(&vzhou, d, &d->p[P_ZHOU], -1, purpose)) != 0 ||
        (ex = session(&zhou, vzhou, purpose)) != 0 ||
        (ex = connect_as(&vst, d, &d->p[P_STREET], -1, purpose)) != 0 ||
        (ex = session(&st, vst, purpose)) != 0)
        goto out;
    demo_show_read(st, "street officer he.street, before", rec, f, 2);
    spec = (vault_grant_spec)VAULT_GRANT_SPEC_INIT;
    spec.user = "he.street";
    spec.role = "street_officer";
    spec.department = "street_office";
    spec.effect = VAULT_EFFECT_ALLOW;
    spec.fields = &field;
    spec.nfields = 1;
    spec.records = &rec;
    spec.nrecords = 1;
    spec.purposes = &purpose;
    spec.npurposes = 1;
    spec.not_after = (int64_t)time(NULL) + 24 * 3600;
    spec.reason = "resettlement support for resident A";
    if ((rc = vault_grant_issue(gid, gid_size, &pending, li, &spec)) < 0) {
        ex = vfail("granting", rc);
        goto out;
    }
    printf("  li.officer (street-desk, token li.officer) grants he.street community_correction of\n"
           "  record A for one day: grant %s, %s\n", gid,
           pending ? "pending: special grade needs a second officer" : "NOT pending");
    if (!pending) {
        ex = say_fail("grant", "a special-grade grant was not held for approval");
        goto out;
    }
    rc = vault_grant_approve(li, gid);
    if (rc == 0) {
        ex = say_fail("grant", "the issuing officer approved her own grant");
        goto out;
    }
    printf("  li.officer approves it with her own token: refused (%s): %s\n", vault_error_name(rc),
           vault_error_last());
    if ((rc = vault_grant_approve(zhou, gid)) < 0) {
        ex = vfail("approving", rc);
        goto out;
    }
    printf("  zhou.officer approves it with his token: approved. vaultd compared the two\n"
           "  authenticated subjects (issuer and subject of each token), not names in a request.\n");
    demo_show_read(st, "street officer he.street, after", rec, f, 2);
    ex = 0;
out:
    vault_session_close(li);
    vault_session_close(zhou);
    vault_session_close(st);
    vault_close(vli);
    vault_close(vzhou);
    vault_close(vst);
    return ex;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s ? s : "-";
}

/* A report row's log: its "log" member, absent for the city log's. */
static const char *row_log(json_t *row)
{
    const char *s = json_string_value(json_object_get(row, "log"));

    return s ? s : "";
}

/* Add the rows of a JSON report made through vaultd (a non-empty app) to
 * `all`, once each (an entry is its log and its seq). */
static void collect(json_t *all, const char *text)
{
    json_error_t je;
    json_t *rows = json_loads(text, 0, &je), *row, *have;
    size_t i, j;
    int dup;

    json_array_foreach(rows, i, row) {
        const char *app = json_string_value(json_object_get(row, "app"));
        json_int_t seq = json_integer_value(json_object_get(row, "seq"));
        if (!app || !*app)
            continue;
        dup = 0;
        json_array_foreach(all, j, have)
            dup |= json_integer_value(json_object_get(have, "seq")) == seq &&
                   strcmp(row_log(have), row_log(row)) == 0;
        if (!dup)
            json_array_append(all, row);
    }
    json_decref(rows);
}

/* By log (the city log's first), then seq: each log's own order. */
static int by_seq(const void *a, const void *b)
{
    json_t *ra = *(json_t *const *)a, *rb = *(json_t *const *)b;
    json_int_t x = json_integer_value(json_object_get(ra, "seq"));
    json_int_t y = json_integer_value(json_object_get(rb, "seq"));
    int c = strcmp(row_log(ra), row_log(rb));

    return c ? c : (x < y ? -1 : x > y);
}

static int audit(demo_svc *d)
{
    static const struct {
        int kind;
        const char *arg;
    } reports[] = {{VAULT_REPORT_RECORD, NULL}, {VAULT_REPORT_USER, "li.officer"},
                   {VAULT_REPORT_USER, "zhou.officer"}, {VAULT_REPORT_DENIED, NULL}};
    vault *v = NULL;
    char *rep = NULL;
    json_t *all = json_array(), **sorted = NULL;
    size_t i, n;
    int rc, ex;

    if (!all)
        return say_fail("audit", "out of memory");
    if ((ex = connect_as(&v, d, &d->p[P_LI], -1, "resident_service")) != 0)
        goto out;
    for (i = 0; i < sizeof reports / sizeof reports[0]; i++) {
        if ((rc = vault_audit_report(&rep, v, reports[i].kind,
                                     reports[i].arg ? reports[i].arg : d->in->id_a, 1)) < 0) {
            ex = vfail("report", rc);
            goto out;
        }
        collect(all, rep);
        vault_free(rep);
        rep = NULL;
    }
    n = json_array_size(all);
    if (n == 0 || !(sorted = calloc(n, sizeof *sorted))) {
        ex = say_fail("audit", n ? "out of memory" : "no entry names a service principal");
        goto out;
    }
    for (i = 0; i < n; i++)
        sorted[i] = json_array_get(all, i);
    qsort(sorted, n, sizeof *sorted, by_seq);
    printf("  li.officer asks vaultd for the reports (audit report --record A, --user li.officer,\n"
           "  --user zhou.officer, --denied, as JSON). The entries made through the service:\n");
    for (i = 0; i < n; i++)
        printf("    %s#%-5lld %-12s %-6s iss=%s sub=%s app=%s peer=%s\n", row_log(sorted[i]),
               (long long)json_integer_value(json_object_get(sorted[i], "seq")),
               jstr(sorted[i], "action"), jstr(sorted[i], "outcome"), jstr(sorted[i], "issuer"),
               jstr(sorted[i], "subject"), jstr(sorted[i], "app"), jstr(sorted[i], "peer"));
    printf("  Each names the token's issuer and subject, the app vaultd authenticated and the\n"
           "  transport peer (uid and pid on the socket; address and certificate over TLS),\n"
           "  including the refusals: the hotline app's session for health, li's own approval.\n"
           "  Entries of the embedded tour say [embedded] instead: that process vouched for itself.\n");
    ex = 0;
out:
    free(sorted);
    json_decref(all);
    vault_free(rep);
    vault_close(v);
    return ex;
}

int demo_service(cli *c, const demo_service_in *in)
{
    demo_svc *d = calloc(1, sizeof *d);
    vault *v = NULL;
    vault_session *s = NULL;
    static const char *const grid_view[] = {"name", "phone", "health"};
    char gid[VAULT_NAME_MAX];
    pid_t pid = -1;
    int ex = EXIT_FAIL, st, i;
    static const struct {
        const char *sub, *role, *dept, *jurisdiction;
    } people[P_N] = {
        {"li.officer", "data_officer", "street_office", STREET},
        {"zhou.officer", "data_officer", "street_office", STREET},
        {"wang.grid", "grid_worker", "community_committee", GRID07},
        {"sun.hotline", "hotline_agent", "hotline_12345", "hangzhou"},
        {"zhao.health", "health_worker", "health", STREET},
        {"he.street", "street_officer", "street_office", STREET},
    };

    (void)c;
    if (!d)
        return say_fail("service part", "out of memory");
    d->in = in;
    for (i = 0; i < P_N; i++) {
        d->p[i].sub = people[i].sub;
        d->p[i].role = people[i].role;
        d->p[i].dept = people[i].dept;
        d->p[i].jurisdiction = people[i].jurisdiction;
    }

    demo_step("11. The same vault as a service: vaultd holds the keys, apps hold none");
    if ((ex = start(d, &pid)) != 0)
        goto out;

    demo_step("12. People carry signed identity tokens; apps connect with vault_connect");
    show_tokens(d);

    demo_step("13. The grid worker reads through the service, from grid-app over TLS");
    if ((ex = connect_as(&v, d, &d->p[P_GRID], 0, "grid_management")) != 0 ||
        (ex = session(&s, v, "grid_management")) != 0)
        goto out;
    demo_show_read(s, "grid worker via grid-app", in->id_a, grid_view, 3);
    printf("  The same decisions as in step 3: masked phone, health denied, now decided by\n"
           "  vaultd for the subject of wang.grid's token, within grid-app's bounds.\n");
    vault_session_close(s);
    vault_close(v);
    s = NULL;
    v = NULL;

    demo_step("14. The hotline app cannot assert the health department");
    if ((ex = hotline(d)) != 0)
        goto out;

    demo_step("15. A special-grade grant needs a second, different officer");
    if ((ex = two_person(d, gid, sizeof gid)) != 0)
        goto out;

    demo_step("16. The audit log names the authenticated principals");
    if ((ex = audit(d)) != 0)
        goto out;

    demo_step("17. vaultd stops");
    st = svc_stop(pid);
    pid = -1;
    printf("  SIGTERM: vaultd finished its requests, wrote its checkpoint, wiped its keys and\n"
           "  exited with status %d; its socket is %s.\n", st,
           access(d->sock, F_OK) == 0 ? "STILL THERE" : "gone");
    ex = st == 0 && access(d->sock, F_OK) != 0 ? EXIT_OK
                                                 : say_fail("vaultd", "did not stop cleanly");
out:
    vault_session_close(s);
    vault_close(v);
    if (pid > 0)
        svc_stop(pid);
    for (i = 0; i < P_N; i++)
        sodium_memzero(d->p[i].token, sizeof d->p[i].token);
    free(d);
    return ex;
}

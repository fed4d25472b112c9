/* client mode (libvault/client/): the C client against a real vaultd
 * started by tests/server/with_vaultd.py (its environment names the
 * socket, the TLS port, certificates, tokens and the vault file).  What
 * must hold (issue 15): the same results through the service as embedded;
 * the subject comes from the token; a wrong, expired, not-yet-valid,
 * forged or wrong-audience token and a wrong CA are errors with the right
 * codes; a lost connection is an error
 * with no value.  The last test kills vaultd. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"
#define PHONE "13812345678"

static const char *env(const char *name)
{
    const char *v = getenv(name);

    if (!v) {
        fprintf(stderr, "test_client: %s is not set: run through tests/server/with_vaultd.py\n",
                name);
        exit(1);
    }
    return v;
}

static char unix_url[600];

static int connect_unix(vault **out, const char *token_env, const char *purpose)
{
    vault_credentials c = VAULT_CREDENTIALS_INIT;

    c = (vault_credentials)VAULT_CREDENTIALS_INIT;
    c.token_file = env(token_env);
    c.purpose = purpose;
    snprintf(unix_url, sizeof unix_url, "unix://%s", env("VAULTD_SOCK"));
    return vault_connect(out, unix_url, &c);
}

static vault *remote_officer(void)
{
    vault *v = NULL;

    assert_int_equal(connect_unix(&v, "VAULTD_TOKEN_OFFICER", "resident_service"), VAULT_OK);
    assert_int_equal(vault_is_remote(v), 1);
    return v;
}

static vault *embedded(void)
{
    vault *v = NULL;
    vault_secret sec = tu_keyfile_secret(env("VAULTD_KEYFILE"));

    assert_int_equal(vault_open(&v, env("VAULTD_VAULT"), &sec), VAULT_OK);
    assert_int_equal(vault_is_remote(v), 0);
    return v;
}

/* A session in client mode: only the purpose counts. */
static vault_session *remote_session(vault *v, const char *purpose)
{
    vault_subject sub = {sizeof(vault_subject), NULL, NULL, NULL, NULL, purpose};
    vault_session *s = NULL;

    assert_int_equal(vault_session_open(&s, v, &sub), VAULT_OK);
    return s;
}

static void add_resident(char *id, vault_session *s)
{
    const char *f[] = {"name", "phone", "health"};
    const char *val[] = {"张三", PHONE, "高血压"};
    size_t len[] = {strlen(val[0]), strlen(val[1]), strlen(val[2])};

    assert_int_equal(vault_record_add(id, VAULT_ID_HEX_SIZE, s, GRID7, 3, f, val, len), VAULT_OK);
}

/* Two results say the same: fields, effects, presence, values, reasons. */
static void assert_same_result(const vault_result *a, const vault_result *b)
{
    size_t i, la, lb;
    const char *va, *vb;

    assert_int_equal(vault_result_count(a), vault_result_count(b));
    for (i = 0; i < vault_result_count(a); i++) {
        assert_string_equal(vault_result_field(a, i), vault_result_field(b, i));
        assert_int_equal(vault_result_effect(a, i), vault_result_effect(b, i));
        assert_int_equal(vault_result_present(a, i), vault_result_present(b, i));
        va = vault_result_value(a, i, &la);
        vb = vault_result_value(b, i, &lb);
        assert_int_equal(!va, !vb);
        if (va) {
            assert_int_equal(la, lb);
            assert_memory_equal(va, vb, la);
        }
        assert_string_equal(vault_result_reason(a, i)->text, vault_result_reason(b, i)->text);
        assert_string_equal(vault_result_reason(a, i)->rule, vault_result_reason(b, i)->rule);
        assert_string_equal(vault_result_reason(a, i)->where, vault_result_reason(b, i)->where);
        assert_string_equal(vault_result_reason(a, i)->grant, vault_result_reason(b, i)->grant);
    }
}

/* ---- connecting ---- */

static void test_connect_refuses_bad_arguments(void **state)
{
    vault_credentials c = VAULT_CREDENTIALS_INIT;
    vault *v = (vault *)1;
    char url[600];

    (void)state;
    c = (vault_credentials)VAULT_CREDENTIALS_INIT;
    c.token_file = env("VAULTD_TOKEN_OFFICER");
    assert_int_equal(vault_connect(&v, "http://localhost:8080", &c), VAULT_EINVALID);
    assert_null(v);
    assert_non_null(strstr(vault_error_last(), "unix:// or https://"));
    assert_int_equal(vault_connect(&v, "unix://relative.sock", &c), VAULT_EINVALID);
    assert_int_equal(vault_connect(&v, "https://host:1/path", &c), VAULT_EINVALID);
    /* CA and certificates are for https only */
    snprintf(url, sizeof url, "unix://%s", env("VAULTD_SOCK"));
    c.ca_file = env("VAULTD_CA");
    assert_int_equal(vault_connect(&v, url, &c), VAULT_EINVALID);
    c.ca_file = NULL;
    /* exactly one of token and token file */
    c.token = "a.b.c";
    assert_int_equal(vault_connect(&v, url, &c), VAULT_EINVALID);
    c.token_file = NULL;
    c.token = "a.b.c\r\nX-Injected: 1";
    assert_int_equal(vault_connect(&v, url, &c), VAULT_EINVALID);
    assert_null(strstr(vault_error_last(), "Injected"));
    c.token = NULL;
    c.token_file = "/nonexistent/token";
    assert_int_equal(vault_connect(&v, url, &c), VAULT_ENOTFOUND);
    /* no vaultd there: an I/O error naming the connection */
    c.token_file = env("VAULTD_TOKEN_OFFICER");
    assert_int_equal(vault_connect(&v, "unix:///nonexistent/vaultd.sock", &c), VAULT_EIO);
    assert_non_null(strstr(vault_error_last(), "vaultd: connection lost"));
    assert_null(v);
}

static void test_id_is_the_served_vault(void **state)
{
    vault *r = remote_officer(), *e = embedded();
    char a[VAULT_ID_HEX_SIZE], b[VAULT_ID_HEX_SIZE];

    (void)state;
    assert_int_equal(vault_id(a, sizeof a, r), VAULT_OK);
    assert_int_equal(vault_id(b, sizeof b, e), VAULT_OK);
    assert_string_equal(a, b);
    vault_close(r);
    vault_close(e);
}

/* ---- data calls ---- */

static void test_records_same_as_embedded(void **state)
{
    vault *r = remote_officer(), *e = embedded();
    vault_session *rs = remote_session(r, "resident_service");
    vault_session *es = tu_session(e, "officer-li", "data_officer", "street_office", STREET,
                                   "resident_service");
    char id[VAULT_ID_HEX_SIZE], jur[VAULT_JURISDICTION_MAX + 1], *ids = NULL, *exp = NULL;
    vault_result *a = NULL, *b = NULL, *batch[2] = {NULL, NULL};
    const char *fields[] = {"name", "phone", "health", "religion"};
    const char *ids2[2];
    const char *newphone = "13900000000";
    size_t n = 0, len = 0;
    char created[VAULT_ID_HEX_SIZE];
    int rc_r, rc_e;

    (void)state;
    add_resident(id, rs);
    /* what the service wrote, embedded reads; and the other way round */
    assert_int_equal(vault_record_get(&a, rs, id, fields, 4), VAULT_OK);
    assert_int_equal(vault_record_get(&b, es, id, fields, 4), VAULT_OK);
    assert_same_result(a, b);
    assert_string_equal(vault_result_value(a, 0, &len), "张三");
    assert_int_equal(vault_result_present(a, 3), 0);
    vault_result_free(a);
    vault_result_free(b);
    a = b = NULL;
    /* all declared fields (fields NULL) */
    assert_int_equal(vault_record_get(&a, rs, id, NULL, 0), VAULT_OK);
    assert_int_equal(vault_record_get(&b, es, id, NULL, 0), VAULT_OK);
    assert_same_result(a, b);
    vault_result_free(a);
    vault_result_free(b);
    a = b = NULL;

    assert_int_equal(vault_record_put(rs, id, "phone", newphone, strlen(newphone)), VAULT_OK);
    assert_int_equal(vault_record_get(&b, es, id, fields + 1, 1), VAULT_OK);
    assert_string_equal(vault_result_value(b, 0, NULL), newphone);
    vault_result_free(b);
    b = NULL;

    assert_int_equal(vault_record_find(&ids, &n, rs, "phone", newphone, strlen(newphone)),
                     VAULT_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ids, id);
    vault_free(ids);

    assert_int_equal(vault_record_jurisdiction(jur, sizeof jur, rs, id), VAULT_OK);
    assert_string_equal(jur, GRID7);

    assert_int_equal(vault_record_create(created, sizeof created, rs, STREET), VAULT_OK);
    ids2[0] = id;
    ids2[1] = created;
    assert_int_equal(vault_record_get_batch(batch, rs, ids2, 2, fields, 2), VAULT_OK);
    assert_int_equal(vault_result_present(batch[0], 0), 1);
    assert_int_equal(vault_result_present(batch[1], 0), 0);
    vault_result_free(batch[0]);
    vault_result_free(batch[1]);

    /* the same refusals with the same codes */
    rc_r = vault_record_export(&exp, rs, id);
    rc_e = vault_record_export(&exp, es, id);
    assert_int_equal(rc_r, rc_e);
    assert_int_equal(vault_record_get(&a, rs, "00000000000000000000000000000000", NULL, 0),
                     VAULT_ENOTFOUND);
    assert_null(a);
    assert_int_equal(vault_record_get(&a, rs, id, (const char *[]){"shoe_size"}, 1),
                     VAULT_EINVALID);
    assert_null(a);
    /* a value that is not UTF-8 can't be sent as JSON: refused here */
    assert_int_equal(vault_record_put(rs, id, "name", "\xff\xfe", 2), VAULT_EINVALID);

    assert_int_equal(vault_record_erase(rs, created), VAULT_OK);
    assert_int_equal(vault_record_get(&b, es, created, NULL, 0), VAULT_ENOTFOUND);

    vault_session_close(rs);
    vault_session_close(es);
    vault_close(r);
    vault_close(e);
}

/* The token is the subject: a grid worker's session given an officer's
 * subject still reads masked, and the audit entry names the grid worker. */
static void test_subject_comes_from_the_token(void **state)
{
    vault *off = remote_officer(), *grid = NULL, *e = embedded();
    vault_session *os = remote_session(off, "resident_service"), *gs = NULL;
    vault_subject claimed = {sizeof(vault_subject), "officer-li", "data_officer", "street_office", STREET,
                             "grid_management"};
    vault_credentials c = VAULT_CREDENTIALS_INIT;
    vault_result *res = NULL;
    char id[VAULT_ID_HEX_SIZE], url[700], *report = NULL;
    const char *phone[] = {"phone"};

    (void)state;
    add_resident(id, os);
    c = (vault_credentials)VAULT_CREDENTIALS_INIT;
    c.token_file = env("VAULTD_TOKEN_GRID");
    c.ca_file = env("VAULTD_CA");
    c.cert_file = env("VAULTD_GRID_CERT");
    c.key_file = env("VAULTD_GRID_KEY");
    snprintf(url, sizeof url, "%s", env("VAULTD_TLS"));
    assert_int_equal(vault_connect(&grid, url, &c), VAULT_OK);
    assert_int_equal(vault_session_open(&gs, grid, &claimed), VAULT_OK);
    assert_int_equal(vault_record_get(&res, gs, id, phone, 1), VAULT_OK);
    assert_int_equal(vault_result_effect(res, 0), VAULT_EFFECT_MASK);
    assert_string_equal(vault_result_value(res, 0, NULL), "138****5678");
    vault_result_free(res);
    assert_int_equal(vault_audit_report(&report, e, VAULT_REPORT_RECORD, id, 0), VAULT_OK);
    assert_non_null(strstr(report, "grid-zhang"));
    assert_non_null(strstr(report, "app=grid-app"));
    vault_free(report);
    vault_session_close(gs);
    vault_session_close(os);
    vault_close(grid);
    vault_close(off);
    vault_close(e);
}

/* ---- grants ---- */

static void test_grants_same_as_embedded(void **state)
{
    vault *r = remote_officer(), *r2 = NULL, *e = embedded();
    vault_session *rs = remote_session(r, "resident_service"), *rs2;
    char id[VAULT_ID_HEX_SIZE], gid[VAULT_NAME_MAX], *lr = NULL, *le = NULL, *w = NULL;
    const char *recs[1];
    vault_grant_spec g = VAULT_GRANT_SPEC_INIT;
    int pending = 0;

    (void)state;
    add_resident(id, rs);
    recs[0] = id;
    g = (vault_grant_spec)VAULT_GRANT_SPEC_INIT;
    g.role = "civil_affairs_officer";
    g.department = "civil_affairs";
    g.effect = VAULT_EFFECT_ALLOW;
    g.grade_min = "special";
    g.grade_max = "special";
    g.records = recs;
    g.nrecords = 1;
    g.not_after = (int64_t)time(NULL) + 7 * 86400;
    g.reason = "低保复核 case 2026-118";
    assert_int_equal(vault_grant_issue(gid, sizeof gid, &pending, rs, &g), VAULT_OK);
    assert_int_equal(pending, 1);
    /* an officer can't approve their own grant: the service's refusal */
    assert_int_equal(vault_grant_approve(rs, gid), VAULT_EDENIED);
    assert_int_equal(connect_unix(&r2, "VAULTD_TOKEN_OFFICER2", "resident_service"), VAULT_OK);
    rs2 = remote_session(r2, "resident_service");
    assert_int_equal(vault_grant_approve(rs2, gid), VAULT_OK);
    assert_int_equal(vault_grant_approve(rs2, gid), VAULT_ESTATE);
    /* the listing, text and JSON, as embedded writes it */
    assert_int_equal(vault_grant_list(&lr, r, 0, 0), VAULT_OK);
    assert_int_equal(vault_grant_list(&le, e, 0, 0), VAULT_OK);
    assert_string_equal(lr, le);
    assert_non_null(strstr(lr, gid));
    vault_free(lr);
    vault_free(le);
    assert_int_equal(vault_grant_list(&lr, r, 1, 1), VAULT_OK);
    assert_int_equal(vault_grant_list(&le, e, 1, 1), VAULT_OK);
    assert_string_equal(lr, le);
    vault_free(lr);
    vault_free(le);
    assert_int_equal(vault_grant_warnings(&w, r, gid), VAULT_OK);
    vault_free(w);
    assert_int_equal(vault_grant_revoke(rs, gid, "case closed"), VAULT_OK);
    assert_int_equal(vault_grant_revoke(rs, "g-0000000000000000", "none"), VAULT_ENOTFOUND);
    vault_session_close(rs2);
    vault_session_close(rs);
    vault_close(r2);
    vault_close(r);
    vault_close(e);
}

/* ---- policy and audit ---- */

static void test_policy_and_audit(void **state)
{
    vault *r = remote_officer(), *e = embedded();
    char *src = NULL, *src2 = NULL, *note = NULL, *rep = NULL, *who_r = NULL, *who_e = NULL;
    char hash[VAULT_HASH_HEX_SIZE], hash2[VAULT_HASH_HEX_SIZE];
    char pk[VAULT_PUBKEY_SIZE], pk2[VAULT_PUBKEY_SIZE], path[700];
    const char *notes[1];
    vault_audit_result res;

    (void)state;
    assert_int_equal(vault_policy_source(&src, hash, sizeof hash, r), VAULT_OK);
    assert_int_equal(vault_policy_source(&src2, hash2, sizeof hash2, e), VAULT_OK);
    assert_string_equal(hash, hash2);
    assert_string_equal(src, src2);
    vault_free(src);
    vault_free(src2);
    assert_int_equal(vault_who_can(&who_r, r, "phone", NULL, 0), VAULT_OK);
    assert_int_equal(vault_who_can(&who_e, e, "phone", NULL, 0), VAULT_OK);
    assert_string_equal(who_r, who_e);
    vault_free(who_r);
    vault_free(who_e);

    assert_int_equal(vault_audit_pubkey(pk, sizeof pk, r), VAULT_OK);
    assert_int_equal(vault_audit_pubkey(pk2, sizeof pk2, e), VAULT_OK);
    assert_string_equal(pk, pk2);
    assert_int_equal(vault_audit_checkpoint(&note, r), VAULT_OK);
    notes[0] = note;
    memset(&res, 0, sizeof res);
    assert_int_equal(vault_audit_verify_notes(&res, r, notes, 1, NULL, NULL), VAULT_OK);
    assert_int_equal(res.failure, VAULT_AUDIT_OK);
    assert_true(res.entries > 0);
    assert_true(res.checkpoints >= 1);
    /* a note of another log is refused the same way embedded refuses it */
    notes[0] = "not a note";
    assert_int_equal(vault_audit_verify_notes(&res, r, notes, 1, NULL, NULL), VAULT_EINTEGRITY);
    assert_int_equal(res.failure, VAULT_AUDIT_MALFORMED);
    assert_string_equal(res.failure_name, "malformed");

    assert_int_equal(vault_audit_report(&rep, r, VAULT_REPORT_DENIED, NULL, 1), VAULT_OK);
    assert_int_equal(rep[0], '[');
    vault_free(rep);

    /* the export verifies offline with the public key alone */
    snprintf(path, sizeof path, "%s/client-export.jsonl", env("VAULTD_TMP"));
    if (vault_audit_export(r, path, NULL, NULL) != VAULT_OK)
        fail_msg("export: %s", vault_error_last());
    assert_int_equal(vault_audit_export(r, path, NULL, NULL), VAULT_EEXISTS);
    memset(&res, 0, sizeof res);
    assert_int_equal(vault_audit_verify_export(&res, path, pk, note, NULL, NULL), VAULT_OK);
    assert_true(tu_file_contains(path, "audit_export", strlen("audit_export")));
    vault_free(note);
    vault_close(r);
    vault_close(e);
}

/* ---- what client mode refuses ---- */

static void test_unsupported_calls_are_state_errors(void **state)
{
    vault *r = remote_officer(), *r2 = NULL, *np = NULL;
    vault_keyslot_info *slots = NULL;
    size_t n = 0;
    char *list = NULL;

    (void)state;
    assert_int_equal(vault_keyslot_list(&slots, &n, r), VAULT_ESTATE);
    assert_non_null(strstr(vault_error_last(), "client mode"));
    assert_int_equal(vault_keyslot_remove(r, 0), VAULT_ESTATE);
    assert_int_equal(vault_reopen(&r2, r), VAULT_ESTATE);
    assert_null(r2);
    assert_int_equal(vault_set_actor(r, "someone"), VAULT_ESTATE);
    /* no purpose at connect: the calls without a session can't name one */
    assert_int_equal(connect_unix(&np, "VAULTD_TOKEN_OFFICER", NULL), VAULT_OK);
    assert_int_equal(vault_grant_list(&list, np, 0, 0), VAULT_ESTATE);
    assert_null(list);
    /* an embedded handle has no token */
    vault_close(np);
    np = embedded();
    assert_int_equal(vault_set_token(np, "a.b.c"), VAULT_ESTATE);
    vault_close(np);
    vault_close(r);
}

/* ---- tokens and certificates ---- */

static void test_bad_tokens_are_auth_errors(void **state)
{
    vault *v = NULL;
    vault_session *s;
    vault_result *res = (vault_result *)1;
    char *text = NULL;
    size_t len = 0;
    uint8_t *good;

    (void)state;
    /* connect only asks /v1/health: the token is refused at its first use */
    assert_int_equal(connect_unix(&v, "VAULTD_TOKEN_EXPIRED", "resident_service"), VAULT_OK);
    s = remote_session(v, "resident_service");
    assert_int_equal(vault_record_get(&res, s, "00000000000000000000000000000000", NULL, 0),
                     VAULT_EAUTH);
    assert_null(res);
    assert_non_null(strstr(vault_error_last(), "expired"));
    /* a fresh token on the same handle works */
    good = tu_read_file(env("VAULTD_TOKEN_OFFICER"), &len);
    text = calloc(1, len + 1);
    memcpy(text, good, len);
    while (len && text[len - 1] == '\n')
        text[--len] = '\0';
    assert_int_equal(vault_set_token(v, text), VAULT_OK);
    assert_int_equal(vault_record_get(&res, s, "00000000000000000000000000000000", NULL, 0),
                     VAULT_ENOTFOUND);
    assert_int_equal(vault_set_token(v, "not a token"), VAULT_EINVALID);
    free(text);
    free(good);
    vault_session_close(s);
    vault_close(v);

    assert_int_equal(connect_unix(&v, "VAULTD_TOKEN_FORGED", "resident_service"), VAULT_OK);
    s = remote_session(v, "resident_service");
    assert_int_equal(vault_grant_list(&text, v, 0, 0), VAULT_EAUTH);
    assert_null(text);
    vault_session_close(s);
    vault_close(v);
}

/* Every token vaultd must refuse (tests/server/vaultd_harness.py
 * bad_tokens): wrong key, expired, not yet valid, a changed payload under
 * the old signature, alg none, wrong audience.  Each call is VAULT_EAUTH
 * with no value, the message names why and holds no part of the token. */
static void test_every_bad_token_is_eauth(void **state)
{
    static const struct {
        const char *env, *why;
    } cases[] = {
        {"VAULTD_TOKEN_BAD_WRONG_KEY", "bad signature"},
        {"VAULTD_TOKEN_BAD_EXPIRED", "token expired"},
        {"VAULTD_TOKEN_BAD_NOT_YET_VALID", "token not yet valid"},
        {"VAULTD_TOKEN_BAD_FORGED_PAYLOAD", "bad signature"},
        {"VAULTD_TOKEN_BAD_ALG_NONE", "unsigned (alg \"none\")"},
        {"VAULTD_TOKEN_BAD_WRONG_AUDIENCE", "wrong audience"},
    };
    const char *f[] = {"name"}, *val[] = {"假冒"};
    size_t len[] = {strlen(val[0])}, n = 0;
    char id[VAULT_ID_HEX_SIZE], *text;
    vault_audit_result ar;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vault *v = NULL;
        vault_session *s;
        vault_result *res = (vault_result *)1;
        char *list = (char *)1, *tok, *part;
        uint8_t *raw = tu_read_file(env(cases[i].env), &n);

        assert_int_equal(connect_unix(&v, cases[i].env, "resident_service"), VAULT_OK);
        s = remote_session(v, "resident_service");
        assert_int_equal(vault_record_get(&res, s, "00000000000000000000000000000000", NULL, 0),
                         VAULT_EAUTH);
        assert_null(res);
        if (!strstr(vault_error_last(), cases[i].why))
            fail_msg("%s: '%s' does not say '%s'", cases[i].env, vault_error_last(), cases[i].why);
        /* no part of the token in the message */
        tok = calloc(1, n + 1);
        memcpy(tok, raw, n);
        for (part = tok; part && *part;) {
            char *dot = strpbrk(part, ".\n");
            if (dot)
                *dot = '\0';
            if (*part && strstr(vault_error_last(), part))
                fail_msg("%s: the message holds the token", cases[i].env);
            part = dot ? dot + 1 : NULL;
        }
        free(tok);
        free(raw);
        assert_int_equal(vault_record_add(id, sizeof id, s, GRID7, 1, f, val, len), VAULT_EAUTH);
        assert_int_equal(vault_grant_list(&list, v, 0, 0), VAULT_EAUTH);
        assert_null(list);
        memset(&ar, 0, sizeof ar);
        assert_int_equal(vault_audit_verify_notes(&ar, v, NULL, 0, NULL, NULL), VAULT_EAUTH);
        text = (char *)1;
        assert_int_equal(vault_audit_report(&text, v, VAULT_REPORT_DENIED, NULL, 1), VAULT_EAUTH);
        assert_null(text);
        vault_session_close(s);
        vault_close(v);
    }
}

static void test_wrong_ca_and_missing_certificate(void **state)
{
    vault_credentials c = VAULT_CREDENTIALS_INIT;
    vault *v = NULL;
    vault_session *s;
    vault_result *res = NULL;
    char url[700];
    int rc;

    (void)state;
    c = (vault_credentials)VAULT_CREDENTIALS_INIT;
    c.token_file = env("VAULTD_TOKEN_GRID");
    c.purpose = "grid_management";
    c.cert_file = env("VAULTD_GRID_CERT");
    c.key_file = env("VAULTD_GRID_KEY");
    snprintf(url, sizeof url, "%s", env("VAULTD_TLS"));
    /* the server's certificate does not chain to this CA */
    c.ca_file = env("VAULTD_ROGUE_CA");
    assert_int_equal(vault_connect(&v, url, &c), VAULT_EAUTH);
    assert_null(v);
    assert_non_null(strstr(vault_error_last(), "certificate"));
    /* the right CA, but no client certificate: the app is unknown */
    c.ca_file = env("VAULTD_CA");
    c.cert_file = c.key_file = NULL;
    assert_int_equal(vault_connect(&v, url, &c), VAULT_OK);
    s = remote_session(v, "grid_management");
    assert_int_equal(vault_record_get(&res, s, "00000000000000000000000000000000", NULL, 0),
                     VAULT_EAUTH);
    assert_null(res);
    vault_session_close(s);
    vault_close(v);
    /* a client certificate from an unknown CA, with grid-app's CN: no app */
    c.cert_file = env("VAULTD_ROGUE_CERT");
    c.key_file = env("VAULTD_ROGUE_KEY");
    rc = vault_connect(&v, url, &c);
    if (rc == VAULT_OK) { /* or refused in the handshake: then as an auth error */
        s = remote_session(v, "grid_management");
        assert_int_equal(vault_record_get(&res, s, "00000000000000000000000000000000", NULL, 0),
                         VAULT_EAUTH);
        assert_null(res);
        vault_session_close(s);
        vault_close(v);
    } else {
        assert_int_equal(rc, VAULT_EAUTH);
        assert_null(v);
    }
    /* a certificate without its key */
    c.cert_file = env("VAULTD_GRID_CERT");
    c.key_file = NULL;
    assert_int_equal(vault_connect(&v, url, &c), VAULT_EINVALID);
}

/* ---- last: vaultd goes away ---- */

static void test_lost_connection_is_an_error_without_value(void **state)
{
    vault *r = remote_officer();
    vault_session *s = remote_session(r, "resident_service");
    vault_result *res = NULL;
    char id[VAULT_ID_HEX_SIZE], vid[VAULT_ID_HEX_SIZE], *list = NULL;
    pid_t pid = (pid_t)atol(env("VAULTD_PID"));
    const char *f[] = {"phone"};
    int i;

    (void)state;
    add_resident(id, s);
    assert_int_equal(vault_record_get(&res, s, id, f, 1), VAULT_OK);
    vault_result_free(res);
    res = NULL;
    assert_int_equal(kill(pid, SIGKILL), 0);
    for (i = 0; i < 100 && kill(pid, 0) == 0; i++) { /* until the harness reaps it */
        if (waitpid(pid, NULL, WNOHANG) == pid)
            break;
        usleep(20000);
    }
    res = (vault_result *)1;
    assert_int_equal(vault_record_get(&res, s, id, f, 1), VAULT_EIO);
    assert_null(res);
    assert_non_null(strstr(vault_error_last(), "vaultd: connection lost"));
    assert_int_equal(vault_grant_list(&list, r, 0, 0), VAULT_EIO);
    assert_null(list);
    assert_int_equal(vault_id(vid, sizeof vid, r), VAULT_EIO); /* not cached */
    vault_session_close(s);
    vault_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_refuses_bad_arguments),
        cmocka_unit_test(test_id_is_the_served_vault),
        cmocka_unit_test(test_records_same_as_embedded),
        cmocka_unit_test(test_subject_comes_from_the_token),
        cmocka_unit_test(test_grants_same_as_embedded),
        cmocka_unit_test(test_policy_and_audit),
        cmocka_unit_test(test_unsupported_calls_are_state_errors),
        cmocka_unit_test(test_bad_tokens_are_auth_errors),
        cmocka_unit_test(test_every_bad_token_is_eauth),
        cmocka_unit_test(test_wrong_ca_and_missing_certificate),
        cmocka_unit_test(test_lost_connection_is_an_error_without_value),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

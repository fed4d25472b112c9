/* routes: one handler per API route (docs/api.md, docs/openapi.yaml).
 * Each is a call of the public vault.h API on the request's pool handle,
 * on a session whose subject comes only from the authenticated caller
 * (vd_session); the request body supplies the purpose and the operation's
 * arguments, never who is asking. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "server.h"

#define IDS_MAX 10000     /* ids in one get-batch */
#define FIELDS_MAX 1024   /* fields named in one request */

/* ---- arguments ---- */

static const char *arg_str(vd_request *r, const char *key, int required)
{
    json_t *v = json_object_get(r->body, key);

    if (!v && !required)
        return NULL;
    if (!json_is_string(v)) {
        char msg[128];
        snprintf(msg, sizeof msg, "request body: '%s' must be a string%s", key,
                 v ? "" : " (missing)");
        vd_fail(r, VAULT_EINVALID, msg);
        return NULL;
    }
    return json_string_value(v);
}

/* A list of strings (NULL when absent and optional).  *ok = 0 on error. */
static const char **arg_strv(vd_request *r, const char *key, size_t *n, size_t max, int *ok)
{
    json_t *a = json_object_get(r->body, key), *it;
    const char **out;
    size_t i;
    char msg[160];

    *n = 0;
    *ok = 1;
    if (!a || json_is_null(a))
        return NULL;
    if (!json_is_array(a) || json_array_size(a) > max) {
        snprintf(msg, sizeof msg, "request body: '%s' must be a list of at most %zu strings", key,
                 max);
        vd_fail(r, VAULT_EINVALID, msg);
        *ok = 0;
        return NULL;
    }
    out = calloc(json_array_size(a) + 1, sizeof *out);
    if (!out) {
        vd_fail(r, VAULT_ENOMEM, "out of memory");
        *ok = 0;
        return NULL;
    }
    json_array_foreach(a, i, it) {
        if (!json_is_string(it)) {
            snprintf(msg, sizeof msg, "request body: '%s'[%zu] must be a string", key, i);
            vd_fail(r, VAULT_EINVALID, msg);
            free(out);
            *ok = 0;
            return NULL;
        }
        out[i] = json_string_value(it);
    }
    *n = json_array_size(a);
    return out;
}

/* "fields": {"name": "value", ...} as parallel arrays. */
static int arg_values(vd_request *r, const char ***names, const char ***values, size_t **lens,
                      size_t *n)
{
    json_t *o = json_object_get(r->body, "fields"), *val;
    const char *k;
    size_t i = 0;

    *n = 0;
    *names = *values = NULL;
    *lens = NULL;
    if (!json_is_object(o) || json_object_size(o) == 0 || json_object_size(o) > FIELDS_MAX)
        return vd_fail(r, VAULT_EINVALID,
                       "request body: 'fields' must be an object of 1 ... 1024 field: value pairs");
    *names = calloc(json_object_size(o), sizeof **names);
    *values = calloc(json_object_size(o), sizeof **values);
    *lens = calloc(json_object_size(o), sizeof **lens);
    if (!*names || !*values || !*lens)
        return vd_fail(r, VAULT_ENOMEM, "out of memory");
    json_object_foreach(o, k, val) {
        if (!json_is_string(val)) {
            char msg[160];
            snprintf(msg, sizeof msg, "request body: fields.%.64s must be a string", k);
            return vd_fail(r, VAULT_EINVALID, msg);
        }
        (*names)[i] = k;
        (*values)[i] = json_string_value(val);
        (*lens)[i] = json_string_length(val);
        i++;
    }
    *n = i;
    return 0;
}

static void free_values(const char **names, const char **values, size_t *lens)
{
    free(names);
    free(values);
    free(lens);
}

static const char *effect_name(int e)
{
    return e == VAULT_EFFECT_ALLOW ? "allow" : e == VAULT_EFFECT_MASK ? "mask" : "deny";
}

static json_t *result_json(const vault_result *res, const char *id)
{
    json_t *fields = json_array(), *o;
    size_t i, len = 0;

    for (i = 0; i < vault_result_count(res); i++) {
        const char *val = vault_result_value(res, i, &len);
        const vault_reason *why = vault_result_reason(res, i);
        o = json_pack("{s:s,s:s,s:b,s:s,s:s,s:s,s:s}", "name", vault_result_field(res, i),
                      "effect", effect_name(vault_result_effect(res, i)), "present",
                      vault_result_present(res, i), "reason", why ? why->text : "", "rule",
                      why ? why->rule : "", "where", why ? why->where : "", "grant",
                      why ? why->grant : "");
        if (val) {
            json_t *s = json_stringn(val, len);
            if (!s) { /* not UTF-8: the bytes in base64 */
                size_t cap = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
                char *b64 = malloc(cap);
                if (b64) {
                    sodium_bin2base64(b64, cap, (const unsigned char *)val, len,
                                      sodium_base64_VARIANT_ORIGINAL);
                    json_object_set_new(o, "value_base64", json_string(b64));
                    sodium_memzero(b64, cap);
                    free(b64);
                }
            } else {
                json_object_set_new(o, "value", s);
            }
        }
        json_array_append_new(fields, o);
    }
    return json_pack("{s:s,s:o}", "id", id, "fields", fields);
}

/* The optional member "format": "json" (the default) or "text" (the
 * library's text form, as vaultctl prints it).  1 for text, 0 for json,
 * -1 on error. */
static int arg_text_format(vd_request *r)
{
    json_t *f = json_object_get(r->body, "format");

    if (!f || json_is_null(f))
        return 0;
    if (json_is_string(f) && !strcmp(json_string_value(f), "json"))
        return 0;
    if (json_is_string(f) && !strcmp(json_string_value(f), "text"))
        return 1;
    vd_fail(r, VAULT_EINVALID, "request body: 'format' must be json or text");
    return -1;
}

/* The answer of a listing route: {member: <JSON>} or, as text, {text}. */
static int listing(vd_request *r, const char *member, char *out, int text, const char *what)
{
    json_error_t jerr;
    char msg[96];

    if (text)
        r->out = json_pack("{s:s}", "text", out);
    else
        r->out = json_pack("{s:o}", member, json_loads(out, 0, &jerr));
    vault_free(out);
    if (!r->out) {
        snprintf(msg, sizeof msg, "the %s is not valid %s", what, text ? "UTF-8" : "JSON");
        return vd_fail(r, VAULT_ERROR, msg);
    }
    return 0;
}

/* ---- the two ends of a session route ---- */

/* The record or grant named by the member "id", and a session of the
 * caller (vd_session).  0, or -1 with the error answer set. */
static int id_session(vd_request *r, vault_session **s, const char **id)
{
    *s = NULL;
    if (!(*id = arg_str(r, "id", 1)) || !(*s = vd_session(r)))
        return -1;
    return 0;
}

/* Close the session of a call that returned rc: 0 when it succeeded,
 * else -1 with the error answer set. */
static int session_end(vd_request *r, vault_session *s, int rc)
{
    vault_session_close(s);
    return rc == VAULT_OK ? 0 : vd_fail(r, rc, NULL);
}

/* ---- health and metrics ---- */

static int h_health(vd_request *r)
{
    char id[VAULT_ID_HEX_SIZE];

    if (vault_id(id, sizeof id, r->v) != VAULT_OK)
        return vd_fail(r, VAULT_ERROR, NULL);
    r->out = json_pack("{s:s,s:s,s:s}", "status", "ok", "vault", id, "version",
                       vault_version_string());
    return 0;
}

static int h_metrics(vd_request *r)
{
    vd_metrics m;
    char *t = NULL;

    pthread_mutex_lock(&r->srv->mlock);
    m = r->srv->m;
    pthread_mutex_unlock(&r->srv->mlock);
    if (asprintf(&t,
                 "# TYPE vaultd_requests_total counter\n"
                 "vaultd_requests_total %llu\n"
                 "vaultd_requests_ok_total %llu\n"
                 "vaultd_requests_client_errors_total %llu\n"
                 "vaultd_requests_server_errors_total %llu\n"
                 "vaultd_requests_denied_total %llu\n"
                 "vaultd_auth_failures_total %llu\n"
                 "vaultd_refusals_unlogged_total %llu\n"
                 "vaultd_witness_rounds_total %llu\n"
                 "vaultd_witness_cosignatures_total %llu\n"
                 "vaultd_witness_failures_total %llu\n"
                 "vaultd_retention_runs_total %llu\n"
                 "vaultd_retention_records_erased_total %llu\n"
                 "vaultd_uptime_seconds %lld\n"
                 "vaultd_workers %u\n",
                 (unsigned long long)m.requests, (unsigned long long)m.ok,
                 (unsigned long long)m.client_errors, (unsigned long long)m.server_errors,
                 (unsigned long long)m.denied, (unsigned long long)m.auth_failures,
                 (unsigned long long)m.refusals_unlogged,
                 (unsigned long long)m.witness_rounds, (unsigned long long)m.witness_cosigned,
                 (unsigned long long)m.witness_failures,
                 (unsigned long long)m.retention_runs, (unsigned long long)m.retention_erased,
                 (long long)(time(NULL) - r->srv->started), r->srv->cfg->workers) < 0)
        return vd_fail(r, VAULT_ENOMEM, "out of memory");
    r->text = t;
    r->content_type = "text/plain; version=0.0.4";
    return 0;
}

/* ---- records ---- */

static int h_record_get(vd_request *r)
{
    vault_session *s = NULL;
    vault_result *res = NULL;
    const char *id, **fields = NULL;
    size_t nf = 0;
    int ok, rc;

    if (!(id = arg_str(r, "id", 1)))
        return -1;
    fields = arg_strv(r, "fields", &nf, FIELDS_MAX, &ok);
    if (!ok || !(s = vd_session(r)))
        goto done;
    rc = vault_record_get(&res, s, id, fields, fields ? nf : 0);
    if (rc != VAULT_OK)
        vd_fail(r, rc, NULL);
    else
        r->out = result_json(res, id);
done:
    vault_result_free(res);
    vault_session_close(s);
    free(fields);
    return 0;
}

static int h_record_get_batch(vd_request *r)
{
    vault_session *s = NULL;
    vault_result **res = NULL;
    const char **ids = NULL, **fields = NULL;
    size_t n = 0, nf = 0, i;
    int ok, rc;
    json_t *arr;

    ids = arg_strv(r, "ids", &n, IDS_MAX, &ok);
    if (!ok)
        goto done;
    if (!ids || !n) {
        vd_fail(r, VAULT_EINVALID, "request body: 'ids' must list 1 ... 10000 record ids");
        goto done;
    }
    fields = arg_strv(r, "fields", &nf, FIELDS_MAX, &ok);
    if (!ok || !(s = vd_session(r)))
        goto done;
    res = calloc(n, sizeof *res);
    if (!res) {
        vd_fail(r, VAULT_ENOMEM, "out of memory");
        goto done;
    }
    rc = vault_record_get_batch(res, s, ids, n, fields, fields ? nf : 0);
    if (rc != VAULT_OK) {
        vd_fail(r, rc, NULL);
        goto done;
    }
    arr = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(arr, result_json(res[i], ids[i]));
    r->out = json_pack("{s:o}", "records", arr);
done:
    if (res)
        for (i = 0; i < n; i++)
            vault_result_free(res[i]);
    free(res);
    vault_session_close(s);
    free(ids);
    free(fields);
    return 0;
}

static int h_record_add(vd_request *r)
{
    vault_session *s = NULL;
    const char *jur, **names = NULL, **values = NULL;
    size_t *lens = NULL, n = 0;
    char id[VAULT_ID_HEX_SIZE];
    int rc;

    if (!(jur = arg_str(r, "jurisdiction", 1)) || arg_values(r, &names, &values, &lens, &n) < 0 ||
        !(s = vd_session(r)))
        goto done;
    rc = vault_record_add(id, sizeof id, s, jur, n, names, values, lens);
    if (rc != VAULT_OK)
        vd_fail(r, rc, NULL);
    else {
        r->status = 201;
        r->out = json_pack("{s:s}", "id", id);
    }
done:
    vault_session_close(s);
    free_values(names, values, lens);
    return 0;
}

static int h_record_create(vd_request *r)
{
    vault_session *s = NULL;
    const char *jur;
    char id[VAULT_ID_HEX_SIZE];

    if (!(jur = arg_str(r, "jurisdiction", 1)) || !(s = vd_session(r)) ||
        session_end(r, s, vault_record_create(id, sizeof id, s, jur)) < 0)
        return -1;
    r->status = 201;
    r->out = json_pack("{s:s}", "id", id);
    return 0;
}

static int h_record_jurisdiction(vd_request *r)
{
    vault_session *s;
    const char *id;
    char jur[VAULT_JURISDICTION_MAX + 1];

    if (id_session(r, &s, &id) < 0 ||
        session_end(r, s, vault_record_jurisdiction(jur, sizeof jur, s, id)) < 0)
        return -1;
    r->out = json_pack("{s:s,s:s}", "id", id, "jurisdiction", jur);
    return 0;
}

static int h_record_update(vd_request *r)
{
    vault_session *s = NULL;
    const char *id, **names = NULL, **values = NULL;
    size_t *lens = NULL, n = 0;
    int rc;

    if (!(id = arg_str(r, "id", 1)) || arg_values(r, &names, &values, &lens, &n) < 0 ||
        !(s = vd_session(r)))
        goto done;
    rc = vault_record_update(s, id, n, names, values, lens);
    if (rc != VAULT_OK)
        vd_fail(r, rc, NULL);
    else
        r->out = json_pack("{s:s}", "id", id);
done:
    vault_session_close(s);
    free_values(names, values, lens);
    return 0;
}

static int h_record_find(vd_request *r)
{
    vault_session *s = NULL;
    const char *field, *value;
    char *ids = NULL;
    size_t n = 0, i;
    int rc;
    json_t *arr;

    if (!(field = arg_str(r, "field", 1)) || !(value = arg_str(r, "value", 1)) ||
        !(s = vd_session(r)))
        goto done;
    rc = vault_record_find(&ids, &n, s, field, value, strlen(value));
    if (rc != VAULT_OK) {
        vd_fail(r, rc, NULL);
        goto done;
    }
    arr = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(arr, json_string(ids + i * VAULT_ID_HEX_SIZE));
    r->out = json_pack("{s:o}", "ids", arr);
done:
    vault_free(ids);
    vault_session_close(s);
    return 0;
}

static int h_record_erase(vd_request *r)
{
    vault_session *s;
    const char *id;

    if (id_session(r, &s, &id) < 0 || session_end(r, s, vault_record_erase(s, id)) < 0)
        return -1;
    r->out = json_pack("{s:s,s:b}", "id", id, "erased", 1);
    return 0;
}

static int h_record_export(vd_request *r)
{
    vault_session *s = NULL;
    const char *id;
    char *doc = NULL;
    json_error_t jerr;
    int rc;

    if (!(id = arg_str(r, "id", 1)) || !(s = vd_session(r)))
        goto done;
    rc = vault_record_export(&doc, s, id);
    if (rc != VAULT_OK) {
        vd_fail(r, rc, NULL);
        goto done;
    }
    r->out = json_loads(doc, 0, &jerr);
    if (!r->out)
        vd_fail(r, VAULT_ERROR, "the export is not valid JSON");
done:
    if (doc) {
        sodium_memzero(doc, strlen(doc));
        vault_free(doc);
    }
    vault_session_close(s);
    return 0;
}

/* ---- audit ---- */

static int h_audit_verify(vd_request *r)
{
    vault_audit_result res;
    const char *note = NULL, **notes = NULL;
    size_t n = 0;
    int rc, ok;

    if (json_object_get(r->body, "checkpoint") && !(note = arg_str(r, "checkpoint", 1)))
        return -1;
    notes = arg_strv(r, "checkpoints", &n, VAULT_AUDIT_NOTES_MAX, &ok);
    if (!ok)
        return -1;
    if (note && notes) {
        free(notes);
        return vd_fail(r, VAULT_EINVALID,
                       "request body: give 'checkpoint' or 'checkpoints', not both");
    }
    if (vd_actor(r) < 0) {
        free(notes);
        return -1;
    }
    memset(&res, 0, sizeof res);
    if (notes)
        rc = vault_audit_verify_notes(&res, r->v, notes, n, NULL, NULL);
    else
        rc = vault_audit_verify(&res, r->v, note, NULL, NULL);
    free(notes);
    if (rc != VAULT_OK && rc != VAULT_EINTEGRITY)
        return vd_fail(r, rc, NULL);
    r->out = json_pack("{s:b,s:s,s:I,s:I,s:I,s:s,s:I,s:I}", "ok", res.failure == VAULT_AUDIT_OK,
                       "class", res.failure == VAULT_AUDIT_OK ? "ok" : res.failure_name,
                       "bad_seq", (json_int_t)res.bad_seq, "entries", (json_int_t)res.entries,
                       "checkpoints", (json_int_t)res.checkpoints, "message", res.message,
                       "newest_size", (json_int_t)res.newest_size, "newest_time",
                       (json_int_t)res.newest_time);
    return 0;
}

static int h_audit_checkpoint(vd_request *r)
{
    char *note = NULL;
    int rc;

    if (vd_actor(r) < 0)
        return -1;
    rc = vault_audit_checkpoint(&note, r->v);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    r->out = json_pack("{s:s}", "note", note);
    vault_free(note);
    return 0;
}

static int h_audit_pubkey(vd_request *r)
{
    char key[256];
    int rc;

    if (vd_actor(r) < 0)
        return -1;
    rc = vault_audit_pubkey(key, sizeof key, r->v);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    r->out = json_pack("{s:s}", "verifier", key);
    return 0;
}

static int h_audit_report(vd_request *r)
{
    static const struct {
        const char *name;
        int kind;
    } kinds[] = {{"record", VAULT_REPORT_RECORD},
                 {"user", VAULT_REPORT_USER},
                 {"denied", VAULT_REPORT_DENIED},
                 {"break_glass", VAULT_REPORT_BREAK_GLASS}};
    const char *kind, *arg = NULL;
    char *out = NULL;
    size_t i;
    int rc, k = -1, text;

    if (!(kind = arg_str(r, "kind", 1)))
        return -1;
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kind, kinds[i].name))
            k = kinds[i].kind;
    if (k < 0)
        return vd_fail(r, VAULT_EINVALID,
                       "request body: 'kind' must be record, user, denied or break_glass");
    if ((k == VAULT_REPORT_RECORD || k == VAULT_REPORT_USER) && !(arg = arg_str(r, "arg", 1)))
        return -1;
    if ((text = arg_text_format(r)) < 0 || vd_actor(r) < 0)
        return -1;
    rc = vault_audit_report(&out, r->v, k, arg, !text);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    return listing(r, "entries", out, text, "report");
}

/* /v1/audit/anomalies {window?, format?}: window in seconds (default 7 days). */
static int h_audit_anomalies(vd_request *r)
{
    json_t *w = json_object_get(r->body, "window");
    json_int_t window = 7 * 86400;
    char *out = NULL;
    int rc, text;

    if (w && !json_is_null(w)) {
        if (!json_is_integer(w))
            return vd_fail(r, VAULT_EINVALID,
                           "request body: 'window' must be an integer number of seconds");
        window = json_integer_value(w);
    }
    if ((text = arg_text_format(r)) < 0 || vd_actor(r) < 0)
        return -1;
    rc = vault_audit_anomalies(&out, r->v, (int64_t)window, !text);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    return listing(r, "users", out, text, "anomaly list");
}

/* /v1/audit/summary {month, by?, format?: json|text|csv}: {summary} or,
 * as text or CSV, {text}. */
static int h_audit_summary(vd_request *r)
{
    json_t *f = json_object_get(r->body, "format");
    const char *month, *by = NULL, *fs = "json";
    char *out = NULL;
    json_error_t jerr;
    int rc, format;

    if (!(month = arg_str(r, "month", 1)))
        return -1;
    if (json_object_get(r->body, "by") && !(by = arg_str(r, "by", 1)))
        return -1;
    if (f && !json_is_null(f) && !(fs = json_string_value(f)))
        fs = "";
    format = !strcmp(fs, "json") ? VAULT_SUMMARY_JSON
             : !strcmp(fs, "text") ? VAULT_SUMMARY_TEXT
             : !strcmp(fs, "csv") ? VAULT_SUMMARY_CSV : -1;
    if (format < 0)
        return vd_fail(r, VAULT_EINVALID, "request body: 'format' must be json, text or csv");
    if (vd_actor(r) < 0)
        return -1;
    rc = vault_audit_summary(&out, r->v, by, month, format);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    if (format == VAULT_SUMMARY_JSON)
        r->out = json_pack("{s:o}", "summary", json_loads(out, 0, &jerr));
    else
        r->out = json_pack("{s:s}", "text", out);
    vault_free(out);
    if (!r->out)
        return vd_fail(r, VAULT_ERROR, "the summary is not valid UTF-8 or JSON");
    return 0;
}

/* ---- policy ---- */

/* A tree size or sequence number: a non-negative integer, 0 when absent
 * and not required. */
static int size_arg(vd_request *r, const char *key, uint64_t *out, int required)
{
    json_t *v = json_object_get(r->body, key);
    char msg[128];

    *out = 0;
    if (!v && !required)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(msg, sizeof msg, "request body: '%s' must be a non-negative integer%s", key,
                 v ? "" : " (missing)");
        return vd_fail(r, VAULT_EINVALID, msg);
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* /v1/audit/prove {seq, size, log} and /v1/audit/consistency {from, to}:
 * the answer is the proof object (docs/audit-format.md, "Proofs"). */
static int h_audit_proof(vd_request *r, int inclusion)
{
    vault_proof p;
    uint64_t a, b;
    char *json = NULL;
    const char *log = NULL;
    int rc;

    if (size_arg(r, inclusion ? "seq" : "from", &a, 1) < 0 ||
        size_arg(r, inclusion ? "size" : "to", &b, 0) < 0)
        return -1;
    if (!inclusion && json_object_get(r->body, "log"))
        return vd_fail(r, VAULT_EINVALID, "request body: 'log' goes with /v1/audit/prove only "
                                          "(consistency proofs are of the city log)");
    if (inclusion && json_object_get(r->body, "log") && !(log = arg_str(r, "log", 1)))
        return -1;
    if (vd_actor(r) < 0)
        return -1;
    rc = inclusion ? vault_audit_prove_in(&p, r->v, log, a, b)
                   : vault_audit_consistency(&p, r->v, a, b);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    rc = vault_proof_json(&json, &p);
    vault_proof_clear(&p);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    r->out = json_loads(json, 0, NULL);
    vault_free(json);
    if (!r->out)
        return vd_fail(r, VAULT_ERROR, "the proof is not valid JSON");
    return 0;
}

/* /v1/audit/bundle {record}: the resident's proof bundle (docs/audit-format.md
 * section 11), an object the caller verifies offline. */
static int h_audit_bundle(vd_request *r)
{
    const char *record;
    char *json = NULL;
    int rc;

    if (!(record = arg_str(r, "record", 1)) || vd_actor(r) < 0)
        return -1;
    rc = vault_audit_bundle(&json, r->v, record);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    r->out = json_loads(json, 0, NULL);
    vault_free(json);
    if (!r->out)
        return vd_fail(r, VAULT_ERROR, "the bundle is not valid JSON");
    return 0;
}

static int h_audit_prove(vd_request *r) { return h_audit_proof(r, 1); }
static int h_audit_consistency(vd_request *r) { return h_audit_proof(r, 0); }

static int h_policy_show(vd_request *r)
{
    char *src = NULL, hash[65];
    int rc;

    if (vd_actor(r) < 0)
        return -1;
    rc = vault_policy_source(&src, hash, sizeof hash, r->v);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    r->out = json_pack("{s:s,s:s}", "sha256", hash, "yaml", src);
    vault_free(src);
    if (!r->out)
        return vd_fail(r, VAULT_ERROR, "the policy text is not valid UTF-8");
    return 0;
}

static int action_code(const char *name)
{
    static const char *const names[] = {"read", "write", "create", "search", "erase", "export"};
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (name && !strcmp(name, names[i]))
            return (int)i;
    return -1;
}

/* explain and decide: {action, id, field?} in a session of the caller. */
static int decision_args(vd_request *r, int *action, const char **id, const char **field,
                         vault_session **s)
{
    const char *name;

    *field = NULL;
    *s = NULL;
    if (!(name = arg_str(r, "action", 1)) || !(*id = arg_str(r, "id", 1)))
        return -1;
    if ((*action = action_code(name)) < 0)
        return vd_fail(r, VAULT_EINVALID,
                       "request body: 'action' must be read, write, create, search, erase or export");
    if (json_object_get(r->body, "field") && !(*field = arg_str(r, "field", 1)))
        return -1;
    return (*s = vd_session(r)) ? 0 : -1;
}

static int h_policy_explain(vd_request *r)
{
    vault_session *s;
    const char *id, *field;
    char *out = NULL;
    int a;

    if (decision_args(r, &a, &id, &field, &s) < 0 ||
        session_end(r, s, vault_explain(&out, s, a, id, field)) < 0)
        return -1;
    r->out = json_pack("{s:s}", "explanation", out);
    vault_free(out);
    return 0;
}

static int h_policy_decide(vd_request *r)
{
    vault_session *s;
    const char *id, *field;
    vault_reason why;
    int a;

    memset(&why, 0, sizeof why);
    if (decision_args(r, &a, &id, &field, &s) < 0 ||
        session_end(r, s, vault_decide(&why, s, a, id, field)) < 0)
        return -1;
    r->out = json_pack("{s:s,s:s,s:s,s:s,s:s}", "effect", effect_name(why.effect), "rule",
                       why.rule, "where", why.where, "grant", why.grant, "reason", why.text);
    return 0;
}

static int h_policy_who_can(vd_request *r)
{
    const char *field, *id = NULL;
    char *out = NULL;
    int rc, text;

    if (!(field = arg_str(r, "field", 1)))
        return -1;
    if (json_object_get(r->body, "id") && !(id = arg_str(r, "id", 1)))
        return -1;
    if ((text = arg_text_format(r)) < 0 || vd_actor(r) < 0)
        return -1;
    rc = vault_who_can(&out, r->v, field, id, !text);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    return listing(r, "who", out, text, "who-can output");
}


/* ---- grants and break-glass (officers' actions) ---- */

static int action_bits(vd_request *r, unsigned *out)
{
    const char **names;
    size_t n = 0, i;
    int ok, a;

    *out = 0;
    names = arg_strv(r, "actions", &n, 8, &ok);
    if (!ok)
        return -1;
    for (i = 0; i < n; i++) {
        a = action_code(names[i]);
        if (a != VAULT_ACTION_READ && a != VAULT_ACTION_SEARCH && a != VAULT_ACTION_EXPORT) {
            free(names);
            return vd_fail(r, VAULT_EINVALID,
                           "request body: 'actions' may hold read, search and export");
        }
        *out |= 1u << a;
    }
    free(names);
    return 0;
}

static int time_arg(vd_request *r, const char *key, int64_t *out, int required)
{
    json_t *v = json_object_get(r->body, key);
    char msg[128];

    if (!v && !required) {
        *out = 0;
        return 0;
    }
    if (!json_is_integer(v)) {
        snprintf(msg, sizeof msg, "request body: '%s' must be unix seconds (an integer)%s", key,
                 v ? "" : " (missing)");
        return vd_fail(r, VAULT_EINVALID, msg);
    }
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* An optional string member ("" or absent -> NULL). */
static int opt_str(vd_request *r, const char *key, const char **out)
{
    json_t *v = json_object_get(r->body, key);

    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!(*out = arg_str(r, key, 1)))
        return -1;
    return 0;
}

static int h_grant_issue(vd_request *r)
{
    vault_session *s = NULL;
    vault_grant_spec g = VAULT_GRANT_SPEC_INIT;
    const char **fields = NULL, **records = NULL, **purposes = NULL, *effect;
    char id[VAULT_NAME_MAX];
    int pending = 0, ok, rc;

    g = (vault_grant_spec)VAULT_GRANT_SPEC_INIT;
    if (opt_str(r, "user", &g.user) < 0 || opt_str(r, "role", &g.role) < 0 ||
        opt_str(r, "department", &g.department) < 0 || opt_str(r, "grade_min", &g.grade_min) < 0 ||
        opt_str(r, "grade_max", &g.grade_max) < 0 ||
        opt_str(r, "jurisdiction", &g.jurisdiction) < 0 || !(g.reason = arg_str(r, "reason", 1)) ||
        time_arg(r, "not_before", &g.not_before, 0) < 0 ||
        time_arg(r, "not_after", &g.not_after, 1) < 0 || action_bits(r, &g.actions) < 0)
        goto done;
    if (!(effect = arg_str(r, "effect", 1)))
        goto done;
    if (!strcmp(effect, "allow"))
        g.effect = VAULT_EFFECT_ALLOW;
    else if (!strcmp(effect, "mask"))
        g.effect = VAULT_EFFECT_MASK;
    else {
        vd_fail(r, VAULT_EINVALID, "request body: 'effect' must be allow or mask");
        goto done;
    }
    fields = arg_strv(r, "fields", &g.nfields, FIELDS_MAX, &ok);
    if (!ok)
        goto done;
    records = arg_strv(r, "records", &g.nrecords, IDS_MAX, &ok);
    if (!ok)
        goto done;
    purposes = arg_strv(r, "purposes", &g.npurposes, 64, &ok);
    if (!ok)
        goto done;
    g.fields = fields;
    g.records = records;
    g.purposes = purposes;
    if (!(s = vd_session(r)))
        goto done;
    rc = vault_grant_issue(id, sizeof id, &pending, s, &g);
    if (rc != VAULT_OK)
        vd_fail(r, rc, NULL);
    else {
        r->status = 201;
        r->out = json_pack("{s:s,s:b}", "id", id, "pending", pending);
    }
done:
    vault_session_close(s);
    free(fields);
    free(records);
    free(purposes);
    return 0;
}

static int h_grant_approve(vd_request *r)
{
    vault_session *s;
    const char *id;

    if (id_session(r, &s, &id) < 0 || session_end(r, s, vault_grant_approve(s, id)) < 0)
        return -1;
    r->out = json_pack("{s:s,s:s}", "id", id, "state", "active");
    return 0;
}

static int h_grant_revoke(vd_request *r)
{
    vault_session *s;
    const char *id, *reason;

    if (!(reason = arg_str(r, "reason", 1)) || id_session(r, &s, &id) < 0 ||
        session_end(r, s, vault_grant_revoke(s, id, reason)) < 0)
        return -1;
    r->out = json_pack("{s:s,s:s}", "id", id, "state", "revoked");
    return 0;
}

static int h_grant_list(vd_request *r)
{
    json_t *a = json_object_get(r->body, "active_only");
    char *out = NULL;
    int rc, text;

    if (a && !json_is_boolean(a))
        return vd_fail(r, VAULT_EINVALID, "request body: 'active_only' must be true or false");
    if ((text = arg_text_format(r)) < 0 || vd_actor(r) < 0)
        return -1;
    rc = vault_grant_list(&out, r->v, a && json_is_true(a), !text);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    return listing(r, "grants", out, text, "grant list");
}

static int h_grant_warnings(vd_request *r)
{
    const char *id;
    char *out = NULL;
    int rc;

    if (!(id = arg_str(r, "id", 1)) || vd_actor(r) < 0)
        return -1;
    rc = vault_grant_warnings(&out, r->v, id);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    r->out = json_pack("{s:s,s:s}", "id", id, "warnings", out);
    vault_free(out);
    if (!r->out)
        return vd_fail(r, VAULT_ERROR, "the warnings are not valid UTF-8");
    return 0;
}

static int h_break_glass(vd_request *r)
{
    vault_session *s;
    const char *id, *reason;
    int64_t secs = 0;
    char gid[VAULT_NAME_MAX];

    if (!(reason = arg_str(r, "reason", 1)) || time_arg(r, "seconds", &secs, 0) < 0 ||
        id_session(r, &s, &id) < 0 ||
        session_end(r, s, vault_break_glass(gid, sizeof gid, s, id, reason, secs)) < 0)
        return -1;
    r->status = 201;
    r->out = json_pack("{s:s,s:s}", "id", id, "grant", gid);
    return 0;
}

/* ---- import, policy apply, key rotation ---- */

/* The request's bytes in an anonymous in-memory file (never on disk: a
 * CSV holds residents' values), as a path the library can open. */
static int memfile(char *path, size_t cap, const char *name, const void *data, size_t len)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    const char *p = data;
    ssize_t w;

    if (fd < 0)
        return -1;
    while (len) {
        w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

static int h_import(vd_request *r)
{
    vault_session *s = NULL;
    char path[64];
    size_t count = 0;
    int fd, rc;

    if (!r->raw_len)
        return vd_fail(r, VAULT_EINVALID, "request body: a CSV file (text/csv) is required");
    if (!(s = vd_session(r)))
        return -1;
    fd = memfile(path, sizeof path, "import.csv", r->raw, r->raw_len);
    if (fd < 0) {
        vault_session_close(s);
        return vd_fail(r, VAULT_EIO, "cannot hold the CSV in memory");
    }
    rc = vault_import_csv(&count, s, path, NULL, NULL);
    close(fd);
    vault_session_close(s);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    r->status = 201;
    r->out = json_pack("{s:I}", "imported", (json_int_t)count);
    return 0;
}

static int h_policy_apply(vd_request *r)
{
    const char *yaml, *name;
    char dir[] = "/tmp/vaultd-policy-XXXXXX", path[512], *report = NULL;
    FILE *f;
    int rc;

    if (!(yaml = arg_str(r, "yaml", 1)) || !(name = arg_str(r, "filename", 1)))
        return -1;
    if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") ||
        strlen(name) > 128)
        return vd_fail(r, VAULT_EINVALID,
                       "request body: 'filename' must be a plain file name (it names the rules' "
                       "FILE:LINE in every decision)");
    if (vd_actor(r) < 0)
        return -1;
    if (!mkdtemp(dir))
        return vd_fail(r, VAULT_EIO, "cannot make a private directory for the policy");
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wx");
    if (!f || fwrite(yaml, 1, strlen(yaml), f) != strlen(yaml) || fclose(f) != 0) {
        unlink(path);
        rmdir(dir);
        return vd_fail(r, VAULT_EIO, "cannot write the policy to a private directory");
    }
    rc = vault_policy_apply(&report, r->v, path);
    unlink(path);
    rmdir(dir);
    if (rc != VAULT_OK) {
        /* errors name the file as the officer sent it, not our copy */
        char msg[512], *at;
        size_t dl = strlen(dir) + 1;
        snprintf(msg, sizeof msg, "%s", vault_error_last());
        while ((at = strstr(msg, dir)) && at[dl - 1] == '/')
            memmove(at, at + dl, strlen(at + dl) + 1);
        vault_free(report);
        return vd_fail(r, rc, msg);
    }
    r->out = json_pack("{s:s}", "changes", report ? report : "");
    vault_free(report);
    return 0;
}

static int h_key_rotate(vd_request *r)
{
    const char *grade;
    int rc;

    if (!(grade = arg_str(r, "grade", 1)) || vd_actor(r) < 0)
        return -1;
    rc = vault_key_rotate(r->v, grade, NULL, NULL);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    r->out = json_pack("{s:s,s:b}", "grade", grade, "rotated", 1);
    return 0;
}

/* /v1/retention/plan, /v1/retention/run {format?: json|text}: the
 * answer's "retention" (the library's JSON) or "text". */
static int retention(vd_request *r, int run)
{
    json_t *f = json_object_get(r->body, "format");
    const char *fs = "json";
    char *out = NULL;
    json_error_t jerr;
    int rc, as_json;

    if (f && !json_is_null(f) && !(fs = json_string_value(f)))
        fs = "";
    if (strcmp(fs, "json") != 0 && strcmp(fs, "text") != 0)
        return vd_fail(r, VAULT_EINVALID, "request body: 'format' must be json or text");
    as_json = strcmp(fs, "json") == 0;
    if (vd_actor(r) < 0)
        return -1;
    rc = run ? vault_retention_run(&out, r->v, as_json) : vault_retention_plan(&out, r->v, as_json);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    r->out = as_json ? json_pack("{s:o}", "retention", json_loads(out, 0, &jerr))
                     : json_pack("{s:s}", "text", out);
    vault_free(out);
    if (!r->out)
        return vd_fail(r, VAULT_ERROR, "the retention answer is not valid UTF-8 or JSON");
    return 0;
}

static int h_retention_plan(vd_request *r)
{
    return retention(r, 0);
}

static int h_retention_run(vd_request *r)
{
    return retention(r, 1);
}

/* vault_audit_export writes beside its target and links the file into
 * place (never a partial export under the name), so it needs a real
 * directory: a private one (mode 0700, the file 0600), removed at once. */
static int h_audit_export(vd_request *r)
{
    char dir[] = "/tmp/vaultd-export-XXXXXX", path[64];
    struct stat st;
    char *text = NULL;
    FILE *f = NULL;
    int rc;

    if (vd_actor(r) < 0)
        return -1;
    /* The export holds no field values (docs/audit-format.md §4); the
     * library writes it next to its final name and renames it. */
    if (!mkdtemp(dir))
        return vd_fail(r, VAULT_EIO, "cannot make a private directory for the export");
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    rc = vault_audit_export(r->v, path, NULL, NULL);
    if (rc == VAULT_OK) {
        f = fopen(path, "rb");
        if (!f || fstat(fileno(f), &st) != 0 || st.st_size > (off_t)1 << 31 ||
            !(text = malloc((size_t)st.st_size + 1)) ||
            fread(text, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
            free(text);
            text = NULL;
            rc = vd_fail(r, VAULT_EIO, "cannot read the export back");
        } else {
            text[st.st_size] = '\0';
        }
    } else {
        vd_fail(r, rc, NULL);
    }
    if (f)
        fclose(f);
    unlink(path);
    rmdir(dir);
    if (!text)
        return -1;
    r->text = text;
    r->content_type = "application/x-ndjson";
    return 0;
}

static int h_db_key(vd_request *r)
{
    char key[80];
    int rc;

    if (vd_actor(r) < 0)
        return -1;
    if (!r->srv->cfg->allow_db_key) {
        /* the attempt is what the log must show: an entry as the officer */
        vault_principal p = {sizeof(vault_principal), r->who.iss, r->who.sub, r->who.jti, r->who.app, r->who.peer,
                             r->route->officer, 0};
        const char *msg = "db-key is disabled in service mode (service.db_key in the configuration)";
        if (vault_log_refusal(r->v, &p, "db_key", msg) != VAULT_OK)
            return vd_fail(r, VAULT_ERROR, NULL);
        return vd_fail(r, VAULT_EDENIED, msg);
    }
    rc = vault_db_key(key, sizeof key, r->v);
    if (rc != VAULT_OK)
        return vd_fail(r, rc, NULL);
    r->out = json_pack("{s:s}", "db_key", key);
    sodium_memzero(key, sizeof key);
    return 0;
}

/* Officers' routes: the app must allow officers' actions (OA); those that
 * change the vault itself also need a data officer's role (DO); those that
 * show who accessed whom, and every grant, a role the policy's auditors:
 * lists (AU). */
#define OA VAULT_PRINCIPAL_OFFICER_APP
#define DO (VAULT_PRINCIPAL_OFFICER_APP | VAULT_PRINCIPAL_DATA_OFFICER)
#define AU (VAULT_PRINCIPAL_OFFICER_APP | VAULT_PRINCIPAL_AUDITOR)

const vd_route vd_routes[] = {
    {"GET", "/v1/health", h_health, 0, 0, 0, 0},
    {"GET", "/v1/metrics", h_metrics, 0, 0, 0, 0},
    {"POST", "/v1/records/get", h_record_get, 1, 0, 0, 0},
    {"POST", "/v1/records/get-batch", h_record_get_batch, 1, 0, 0, 0},
    {"POST", "/v1/records/add", h_record_add, 1, 0, 0, 0},
    {"POST", "/v1/records/create", h_record_create, 1, 0, 0, 0},
    {"POST", "/v1/records/update", h_record_update, 1, 0, 0, 0},
    {"POST", "/v1/records/find", h_record_find, 1, 0, 0, 0},
    {"POST", "/v1/records/erase", h_record_erase, 1, 0, 0, 0},
    {"POST", "/v1/records/export", h_record_export, 1, 0, 0, 0},
    {"POST", "/v1/records/jurisdiction", h_record_jurisdiction, 1, 0, 0, 0},
    {"POST", "/v1/policy/decide", h_policy_decide, 1, 0, 0, 0},
    {"POST", "/v1/policy/explain", h_policy_explain, 1, 0, 0, 0},
    {"POST", "/v1/policy/who-can", h_policy_who_can, 1, OA, 0, 0},
    {"GET", "/v1/policy", h_policy_show, 1, 0, 0, 0},
    {"POST", "/v1/audit/verify", h_audit_verify, 1, 0, 0, 0},
    {"POST", "/v1/audit/checkpoint", h_audit_checkpoint, 1, OA, 0, 0},
    {"GET", "/v1/audit/pubkey", h_audit_pubkey, 1, 0, 0, 0},
    {"POST", "/v1/audit/prove", h_audit_prove, 1, 0, 0, 0},
    {"POST", "/v1/audit/consistency", h_audit_consistency, 1, 0, 0, 0},
    {"POST", "/v1/audit/report", h_audit_report, 1, AU, 0, 0},
    {"POST", "/v1/audit/anomalies", h_audit_anomalies, 1, AU, 0, 0},
    {"POST", "/v1/audit/summary", h_audit_summary, 1, AU, 0, 0},
    {"POST", "/v1/audit/bundle", h_audit_bundle, 1, AU, 0, 0},
    {"POST", "/v1/audit/export", h_audit_export, 1, AU, 0, 0},
    {"POST", "/v1/grants/issue", h_grant_issue, 1, OA, 0, 0},
    {"POST", "/v1/grants/approve", h_grant_approve, 1, OA, 0, 0},
    {"POST", "/v1/grants/revoke", h_grant_revoke, 1, OA, 0, 0},
    {"POST", "/v1/grants/list", h_grant_list, 1, AU, 0, 0},
    {"POST", "/v1/grants/warnings", h_grant_warnings, 1, OA, 0, 0},
    {"POST", "/v1/break-glass", h_break_glass, 1, OA, 0, 0},
    {"POST", "/v1/import", h_import, 1, 0, 1, 1},
    {"POST", "/v1/policy/apply", h_policy_apply, 1, DO, 0, 0},
    {"POST", "/v1/keys/rotate", h_key_rotate, 1, DO, 0, 0},
    {"POST", "/v1/retention/plan", h_retention_plan, 1, DO, 0, 0},
    {"POST", "/v1/retention/run", h_retention_run, 1, DO, 0, 0},
    {"POST", "/v1/db-key", h_db_key, 1, DO, 0, 0},
};
const size_t vd_nroutes = sizeof vd_routes / sizeof vd_routes[0];

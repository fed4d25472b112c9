/* client: client mode of the library (vault_connect).  A handle made by
 * vault_connect holds no key and no store: every public call that works in
 * client mode is one HTTP request to vaultd (docs/api.md), made here with
 * libcurl, answered in JSON (jansson).  The public calls dispatch to these
 * functions at their top when v->remote is set; the embedded paths stay
 * as they are.  Each returns a VAULT_* code with the message of vaultd's
 * error document kept (or "vaultd: connection lost: ..." for a transport
 * failure, VAULT_EIO); no request is ever retried. */
#ifndef VAULT_CLIENT_H
#define VAULT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "vault_int.h"

/* VAULT_ESTATE: `call` does not work in client mode (why: the reason). */
int client_unsupported(const char *call, const char *why);
void client_close(vault *v);
int client_id(char *out, size_t out_size, const vault *v);
int client_db_key(char *out, size_t out_size, vault *v);

int client_session_open(vault_session **out, vault *v, const vault_subject *subject);

int client_decide(vault_reason *out, vault_session *s, int action, const char *record_id,
                  const char *field);
int client_explain(char **out, vault_session *s, int action, const char *record_id,
                   const char *field);
int client_who_can(char **out, vault *v, const char *field, const char *record_id, int as_json);
int client_policy_source(char **out, char *out_hash, size_t out_hash_size, vault *v);
int client_policy_apply(char **out_report, vault *v, const char *policy_file);

int client_record_create(char *out_id, size_t out_id_size, vault_session *s,
                         const char *jurisdiction);
int client_record_add(char *out_id, size_t out_id_size, vault_session *s,
                      const char *jurisdiction, size_t n, const char *const *fields,
                      const char *const *values, const size_t *value_lens);
int client_record_update(vault_session *s, const char *record_id, size_t n,
                         const char *const *fields, const char *const *values,
                         const size_t *value_lens);
int client_record_get_batch(vault_result **out, vault_session *s, const char *const *record_ids,
                            size_t n, const char *const *fields, size_t nfields);
int client_record_find(char **out, size_t *out_count, vault_session *s, const char *field,
                       const char *value, size_t value_len);
int client_record_jurisdiction(char *out, size_t out_size, vault_session *s,
                               const char *record_id);
int client_record_erase(vault_session *s, const char *record_id);
int client_record_export(char **out, vault_session *s, const char *record_id);
int client_import_csv(size_t *out_count, vault_session *s, const char *path);

int client_grant_issue(char *out_id, size_t out_id_size, int *out_pending,
                       vault_session *officer, const vault_grant_spec *spec);
int client_grant_approve(vault_session *officer, const char *grant_id);
int client_grant_revoke(vault_session *officer, const char *grant_id, const char *reason);
int client_grant_list(char **out, vault *v, int active_only, int as_json);
int client_grant_warnings(char **out, vault *v, const char *grant_id);
int client_break_glass(char *out_id, size_t out_id_size, vault_session *s,
                       const char *record_id, const char *reason, int64_t seconds);

int client_audit_checkpoint(char **out_note, vault *v);
int client_audit_pubkey(char *out, size_t out_size, vault *v);
int client_audit_verify(vault_audit_result *out, vault *v, const char *const *notes,
                        size_t nnotes);
int client_audit_export(vault *v, const char *path);
int client_audit_report(char **out, vault *v, int kind, const char *arg, int as_json);
/* POST {window, format} to /v1/audit/anomalies: the answer's "users" (or
 * "text"), as vault_audit_anomalies gives it. */
int client_audit_anomalies(char **out, vault *v, int64_t window, int as_json);
/* POST {by, month, format: text|json|csv} to /v1/audit/summary: the
 * answer's "summary" object (format json) or its "text". */
int client_audit_summary(char **out, vault *v, const char *by, const char *month, int format);
/* POST {k1: a, k2: b} (and log, when not NULL: an entry of a shard log)
 * to a proof route (/v1/audit/prove, /v1/audit/consistency); *out_json
 * (malloc'ed) is the answer, a proof object for audit_prove.c to parse. */
int client_audit_proof(char **out_json, vault *v, const char *route, const char *log,
                       const char *k1, uint64_t a, const char *k2, uint64_t b) VAULT_MUST_CHECK;
/* POST {record} to /v1/audit/bundle; *out_json (malloc'ed) is the bundle. */
int client_audit_bundle(char **out_json, vault *v, const char *record_id);
int client_key_rotate(vault *v, const char *grade);
/* POST {format: text|json} to /v1/retention/plan (run 0) or /v1/retention/run
 * (run 1): the answer's "retention" object (json) or its "text". */
int client_retention(char **out, vault *v, int run, int as_json);

#endif

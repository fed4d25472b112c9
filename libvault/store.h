/* store: the SQLCipher database, the only module that writes SQL.  Above
 * it everything speaks in records, fields, keys and audit entries; a
 * PostgreSQL backend can implement this same interface later.
 *
 * One store handle is one connection; it is not shared between threads
 * without the caller's lock (the vault handle holds one).  Several
 * processes may open the same file: WAL mode, a busy timeout, and write
 * transactions taken with BEGIN IMMEDIATE so writers serialise. */
#ifndef VAULT_STORE_H
#define VAULT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define STORE_SCHEMA_VERSION 1
#define STORE_BUSY_TIMEOUT_MS 10000

typedef struct store store;

/* Open (create = 1: create a new file, failing if it exists) with the raw
 * 32-byte SQLCipher key.  A wrong key gives VAULT_EAUTH; a file that is not
 * a libvault database VAULT_EINTEGRITY; a newer schema VAULT_ESTATE. */
int store_open(store **out, const char *path, const uint8_t key[32], int create) VAULT_MUST_CHECK;
void store_close(store *s);

/* Transactions.  write = 1 takes the write lock at once (BEGIN IMMEDIATE),
 * waiting up to the busy timeout (then VAULT_EBUSY). */
int store_begin(store *s, int write) VAULT_MUST_CHECK;
int store_commit(store *s) VAULT_MUST_CHECK;
void store_rollback(store *s);
/* 1 while a transaction is open. */
int store_in_tx(const store *s);
/* A counter that changes when another connection commits (PRAGMA data_version). */
int store_data_version(store *s, int64_t *out) VAULT_MUST_CHECK;

/* Small named values (vault id, creation time, ...). */
int store_meta_get(store *s, const char *key, uint8_t *out, size_t cap, size_t *out_len) VAULT_MUST_CHECK;
int store_meta_put(store *s, const char *key, const uint8_t *val, size_t len) VAULT_MUST_CHECK;

/* Policies: each applied policy is kept; the newest is active. */
int store_policy_add(int64_t *out_id, store *s, const uint8_t hash[32], const char *filename,
                     const char *source, size_t len, int64_t now) VAULT_MUST_CHECK;
/* The active policy's id, file name (as applied) and source (malloc'ed,
 * NUL-terminated). */
int store_policy_active(int64_t *out_id, char *filename_out, size_t filename_cap,
                        char **out_source, size_t *out_len, store *s) VAULT_MUST_CHECK;

/* Wrapped grade keys per (grade, version). */
int store_gradekey_add(store *s, const char *grade, uint32_t version, const uint8_t *wrapped,
                       size_t len, int64_t now) VAULT_MUST_CHECK;
int store_gradekey_get(uint8_t *out, size_t cap, size_t *out_len, store *s, const char *grade,
                       uint32_t version) VAULT_MUST_CHECK;
/* Newest version of a grade's key; VAULT_ENOTFOUND when it has none. */
int store_gradekey_latest(uint32_t *out, store *s, const char *grade) VAULT_MUST_CHECK;

/* Records. */
typedef struct store_record {
    char jurisdiction[VAULT_JURISDICTION_MAX + 1];
    int64_t created, updated, version;
} store_record;

int store_record_insert(store *s, const uint8_t id[VAULT_ID_BYTES], const char *jurisdiction,
                        int64_t now) VAULT_MUST_CHECK;
/* VAULT_ENOTFOUND when there is no such record. */
int store_record_get(store_record *out, store *s, const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;
/* Bump version and updated time. */
int store_record_touch(store *s, const uint8_t id[VAULT_ID_BYTES], int64_t now) VAULT_MUST_CHECK;
/* Delete the record, its fields and index entries (secure_delete is on). */
int store_record_delete(store *s, const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;
int store_record_count(int64_t *out, store *s) VAULT_MUST_CHECK;

/* Field ciphertexts. */
int store_field_put(store *s, const uint8_t id[VAULT_ID_BYTES], const char *field,
                    const char *grade, uint32_t key_version, const uint8_t *ct, size_t len,
                    int64_t now) VAULT_MUST_CHECK;
/* *out is malloc'ed (ciphertext, not secret).  VAULT_ENOTFOUND if unset.
 * grade_out holds VAULT_NAME_MAX bytes. */
int store_field_get(uint8_t **out, size_t *out_len, char *grade_out, uint32_t *key_version,
                    store *s, const uint8_t id[VAULT_ID_BYTES], const char *field) VAULT_MUST_CHECK;

/* Blind index: one digest per (field, record). */
int store_bidx_put(store *s, const char *field, const uint8_t *digest, size_t dlen,
                   const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;
/* Record ids with this digest: *out malloc'ed, *out_count ids of 16 bytes. */
int store_bidx_find(uint8_t **out, size_t *out_count, store *s, const char *field,
                    const uint8_t *digest, size_t dlen) VAULT_MUST_CHECK;

#endif

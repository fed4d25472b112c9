/* Small helpers shared by the test programs (header-only). */
#ifndef VAULT_TESTUTIL_H
#define VAULT_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vault.h"

#ifndef VAULT_SOURCE_DIR
#define VAULT_SOURCE_DIR "."
#endif

/* Decode hex ("-" means empty) into a malloc'ed buffer. */
static inline uint8_t *tu_unhex(const char *hex, size_t *len)
{
    size_t n = strcmp(hex, "-") == 0 ? 0 : strlen(hex) / 2, i;
    uint8_t *out = malloc(n + 1);
    unsigned v;

    assert_non_null(out);
    for (i = 0; i < n; i++) {
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    *len = n;
    return out;
}

/* Read the non-comment lines of a vector file into fields split on spaces.
 * Returns the number of lines; rows[i][j] are pointers into *storage. */
#define TU_MAX_ROWS 64
#define TU_MAX_COLS 8
static inline size_t tu_vectors(const char *name, char *rows[TU_MAX_ROWS][TU_MAX_COLS],
                                char **storage)
{
    char path[1024];
    FILE *f;
    long size;
    char *buf, *line, *save = NULL;
    size_t n = 0, c;

    snprintf(path, sizeof path, "%s/tests/vectors/%s", VAULT_SOURCE_DIR, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    buf = calloc(1, (size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *tok, *s2 = NULL;
        if (line[0] == '#' || line[0] == '\0')
            continue;
        assert_true(n < TU_MAX_ROWS);
        memset(rows[n], 0, sizeof rows[n]);
        for (c = 0, tok = strtok_r(line, " ", &s2); tok && c < TU_MAX_COLS;
             tok = strtok_r(NULL, " ", &s2))
            rows[n][c++] = tok;
        n++;
    }
    *storage = buf;
    return n;
}

/* A fresh temporary directory (removed by tu_rmdir). */
static inline char *tu_tmpdir(void)
{
    char *d = strdup("/tmp/vault-test-XXXXXX");

    assert_non_null(d);
    assert_non_null(mkdtemp(d));
    return d;
}

static inline void tu_rmdir(char *d)
{
    char cmd[1200];

    if (!d)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", d);
    free(d);
}

/* Read a whole file; NULL if it does not exist.  The buffer has a NUL
 * after the last byte (not counted in *len), so text can be read as a
 * string. */
static inline uint8_t *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0, got;

    if (!f)
        return NULL;
    for (;;) {
        if (n + 1 >= cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        if (!got)
            break;
        n += got;
    }
    assert_int_equal(ferror(f), 0);
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Write a whole file (created or truncated); the test fails on any error. */
static inline void tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* 1 when the file contains the bytes, 0 when not, -1 when it is missing. */
static inline int tu_file_contains(const char *path, const void *needle, size_t nlen)
{
    size_t len = 0;
    uint8_t *buf = tu_read_file(path, &len);
    int found;

    if (!buf)
        return -1;
    found = memmem(buf, len, needle, nlen) != NULL;
    free(buf);
    return found;
}

/* Unlock secrets: a key file, or a passphrase at the interactive KDF cost. */
static inline vault_secret tu_keyfile_secret(const char *path)
{
    vault_secret s = {sizeof(vault_secret), VAULT_UNLOCK_KEYFILE, path, 0, 0};
    return s;
}

static inline vault_secret tu_pass_secret(const char *pass)
{
    vault_secret s = {sizeof(vault_secret), VAULT_UNLOCK_PASSPHRASE, pass, strlen(pass), VAULT_KDF_INTERACTIVE};
    return s;
}

/* A new vault in a new temporary directory, unlocked by a new key file:
 * *dir (tu_rmdir it), path and keyfile (cap bytes each) are filled, and
 * the policy is the file `policy`, or the YAML `policy_text` written to
 * DIR/policy.yaml when policy is NULL.  The test fails if any step does. */
/* 1 when tu_new_vault makes PostgreSQL vaults (below): a test of the
 * vault file's own bytes skips then. */
static inline int tu_on_pg(void)
{
    const char *pg = getenv("VAULT_PG_URI"), *on = getenv("VAULT_TEST_PG");

    return on && strcmp(on, "1") == 0 && pg && *pg;
}

/* With VAULT_TEST_PG=1 and VAULT_PG_URI set (the *_pg ctest entries, in
 * a throwaway cluster: tests/pg/pg_cluster.sh), the vault is a new schema
 * on that server instead of a file, its keys file in the directory. */
static inline vault *tu_new_vault(char **dir, char *path, char *keyfile, size_t cap,
                                  const char *policy, const char *policy_text)
{
    char pol[600];
    vault *v = NULL;
    vault_secret sec;
    const char *pg = getenv("VAULT_PG_URI");
    static int made;

    *dir = tu_tmpdir();
    if (tu_on_pg())
        assert_true((size_t)snprintf(path, cap, "%s%svault_keys=%s/t.keys&vault_schema=t%ld_%d", pg,
                                     strchr(pg, '?') ? "&" : "?", *dir, (long)getpid(),
                                     ++made) < cap);
    else
        snprintf(path, cap, "%s/t.vault", *dir);
    snprintf(keyfile, cap, "%s/t.key", *dir);
    if (!policy) {
        snprintf(pol, sizeof pol, "%s/policy.yaml", *dir);
        tu_write_file(pol, policy_text, strlen(policy_text));
        policy = pol;
    }
    assert_int_equal(vault_keyfile_generate(keyfile), 0);
    sec = tu_keyfile_secret(keyfile);
    if (vault_create(&v, path, policy, &sec) != 0)
        fail_msg("vault_create: %s", vault_error_last());
    return v;
}

/* A resident with a name and a phone in jurisdiction jur, as s; the test
 * fails (naming the library's message) if the add does. */
static inline void tu_add_resident(vault_session *s, char *id, const char *jur, const char *name,
                                   const char *phone)
{
    const char *fields[] = {"name", "phone"};
    const char *values[] = {name, phone};
    size_t lens[] = {strlen(name), strlen(phone)};

    if (vault_record_add(id, VAULT_ID_HEX_SIZE, s, jur, 2, fields, values, lens) != 0)
        fail_msg("record add: %s", vault_error_last());
}

/* Field `field` of record id reads back as want through s. */
static inline void tu_expect_value(vault_session *s, const char *id, const char *field,
                                   const char *want)
{
    vault_result *r = NULL;
    size_t len = 0;
    const char *val;

    if (vault_record_get(&r, s, id, &field, 1) != 0)
        fail_msg("record get: %s", vault_error_last());
    val = vault_result_value(r, 0, &len);
    assert_non_null(val);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(val, want, len);
    vault_result_free(r);
}

/* A session for the subject; the test fails if it cannot be opened. */
static inline vault_session *tu_session(vault *v, const char *user, const char *role,
                                        const char *dept, const char *jurisdiction,
                                        const char *purpose)
{
    vault_subject sub = {sizeof(vault_subject), user, role, dept, jurisdiction, purpose};
    vault_session *s = NULL;

    assert_int_equal(vault_session_open(&s, v, &sub), 0);
    return s;
}

/* An allowing grant of n fields to a department, within jurisdiction (may
 * be NULL: set records instead), for `seconds` from now. */
static inline vault_grant_spec tu_grant_spec(const char *const *fields, size_t n, const char *dept,
                                             const char *jurisdiction, int64_t seconds,
                                             const char *reason)
{
    vault_grant_spec g = VAULT_GRANT_SPEC_INIT;

    g.department = dept;
    g.effect = VAULT_EFFECT_ALLOW;
    g.fields = fields;
    g.nfields = n;
    g.jurisdiction = jurisdiction;
    g.not_after = (int64_t)time(NULL) + seconds;
    g.reason = reason;
    return g;
}

#endif

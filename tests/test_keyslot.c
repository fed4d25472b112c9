/* Tests for the keyslot sidecar (libvault/keyslot.c, docs/keyslots.md). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, mkdtemp */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>

#include "testutil.h"

#include "crypto.h"
#include "keyslot.h"

#define PASS1 "correct horse battery staple 马"
#define PASS2 "a second, different passphrase"

typedef struct T {
    char dir[64];
    char keys[128];  /* the sidecar */
    char kf[128];    /* a generated key file */
    char kf2[128];   /* another generated key file */
    uint8_t *master; /* secure memory */
    uint8_t id[VAULT_ID_BYTES];
    uint8_t *orig; /* the sidecar's bytes right after creation */
    size_t orig_len;
} T;

/* ---- helpers --------------------------------------------------------------- */

/* A file that must exist, read whole (NUL after the last byte). */
static uint8_t *slurp(const char *path, size_t *len)
{
    uint8_t *buf = tu_read_file(path, len);

    assert_non_null(buf);
    return buf;
}

static int file_equals(const char *path, const void *buf, size_t len)
{
    size_t n = 0;
    uint8_t *cur = slurp(path, &n);
    int eq = n == len && (len == 0 || vc_equal(cur, buf, len)); /* may hold key bytes */

    free(cur);
    return eq;
}

static int exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

static mode_t mode_of(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void restore(T *t)
{
    tu_write_file(t->keys, t->orig, t->orig_len);
}

/* Unlock and expect `want`; on success the key and id must be the vault's. */
static void expect_unlock(T *t, const vault_secret *s, int want)
{
    uint8_t *key = vc_malloc(VAULT_KEY_BYTES);
    uint8_t id[VAULT_ID_BYTES];
    int rc;

    assert_non_null(key);
    memset(key, 0xAA, VAULT_KEY_BYTES);
    rc = ks_unlock(key, id, t->keys, s);
    if (rc != want)
        print_error("ks_unlock gave %s (%s), wanted %s\n", vault_error_name(rc),
                    vault_error_last(), vault_error_name(want));
    assert_int_equal(rc, want);
    if (rc == VAULT_OK) {
        assert_true(vc_equal(key, t->master, VAULT_KEY_BYTES));
        assert_memory_equal(id, t->id, VAULT_ID_BYTES);
    } else {
        /* The caller's buffer is wiped on failure. */
        uint8_t zero[VAULT_KEY_BYTES] = {0};
        assert_true(vc_equal(key, zero, VAULT_KEY_BYTES));
    }
    vc_free(key);
}

static json_t *load_json(T *t)
{
    json_error_t err;
    json_t *doc = json_load_file(t->keys, 0, &err);

    assert_non_null(doc);
    return doc;
}

static void save_json(T *t, json_t *doc)
{
    assert_int_equal(json_dump_file(doc, t->keys, JSON_INDENT(2)), 0);
    json_decref(doc);
}

static json_t *slot0(json_t *doc)
{
    json_t *s = json_array_get(json_object_get(doc, "slots"), 0);

    assert_non_null(s);
    return s;
}

/* Flip one bit of the decoded value of a base64 member and re-encode. */
static void flip_b64(json_t *obj, const char *key, size_t byte)
{
    uint8_t bin[128];
    char b64[256];
    size_t n = 0;
    const char *s = json_string_value(json_object_get(obj, key));

    assert_non_null(s);
    assert_int_equal(vc_b642bin(bin, sizeof bin, &n, s, strlen(s)), 0);
    assert_true(byte < n);
    bin[byte] ^= 0x01;
    assert_int_equal(vc_bin2b64(b64, sizeof b64, bin, n), 0);
    assert_int_equal(json_object_set_new(obj, key, json_string(b64)), 0);
}

static void set_b64_of_len(json_t *obj, const char *key, size_t len)
{
    uint8_t bin[128];
    char b64[256];

    vc_random(bin, sizeof bin);
    assert_int_equal(vc_bin2b64(b64, sizeof b64, bin, len), 0);
    assert_int_equal(json_object_set_new(obj, key, json_string(b64)), 0);
}

static int count_temps(T *t)
{
    DIR *d = opendir(t->dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, "vault.keys.tmp.", 15) == 0;
    closedir(d);
    return n;
}

static void assert_damaged(T *t)
{
    vault_secret s = tu_pass_secret(PASS1);
    vault_keyslot_info *info = NULL;
    size_t n = 0;

    expect_unlock(t, &s, VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "is damaged"));
    assert_non_null(strstr(vault_error_last(), t->keys));
    assert_int_equal(ks_list(&info, &n, t->keys), VAULT_EINTEGRITY);
    assert_null(info);
    assert_int_equal(ks_add(NULL, t->keys, t->master, &s, NULL), VAULT_EINTEGRITY);
}

/* ---- fixtures ---------------------------------------------------------------- */

static int setup(void **state)
{
    T *t = calloc(1, sizeof *t);
    vault_secret s = VAULT_SECRET_INIT;

    if (!t || vc_init() != 0)
        return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/test_keyslot.XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->keys, sizeof t->keys, "%s/vault.keys", t->dir);
    snprintf(t->kf, sizeof t->kf, "%s/one.key", t->dir);
    snprintf(t->kf2, sizeof t->kf2, "%s/two.key", t->dir);
    t->master = vc_malloc(VAULT_KEY_BYTES);
    if (!t->master)
        return -1;
    vc_random(t->master, VAULT_KEY_BYTES);
    vc_random(t->id, sizeof t->id);
    if (ks_keyfile_generate(t->kf) != 0 || ks_keyfile_generate(t->kf2) != 0)
        return -1;
    s = tu_pass_secret(PASS1);
    if (ks_create(t->keys, t->id, t->master, &s, "owner") != 0) {
        fprintf(stderr, "ks_create: %s\n", vault_error_last());
        return -1;
    }
    t->orig = slurp(t->keys, &t->orig_len);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    T *t = *state;
    DIR *d = opendir(t->dir);
    struct dirent *e;
    struct stat st;

    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
        else
            unlinkat(dirfd(d), e->d_name, 0);
    }
    if (d)
        closedir(d);
    rmdir(t->dir);
    vc_free(t->master);
    free(t->orig);
    free(t);
    return 0;
}

/* ---- create and unlock -------------------------------------------------------- */

static void test_passphrase_unlock(void **state)
{
    T *t = *state;
    vault_secret s = tu_pass_secret(PASS1);

    expect_unlock(t, &s, VAULT_OK);
}

static void test_keyfile_create_unlock(void **state)
{
    T *t = *state;
    vault_secret s = tu_keyfile_secret(t->kf);

    assert_int_equal(unlink(t->keys), 0);
    assert_int_equal(ks_create(t->keys, t->id, t->master, &s, NULL), 0);
    expect_unlock(t, &s, VAULT_OK);
    s = tu_pass_secret(PASS1);
    expect_unlock(t, &s, VAULT_EAUTH);
    assert_non_null(strstr(vault_error_last(), "no slot of that kind"));
}

static void test_wrong_passphrase(void **state)
{
    T *t = *state;
    vault_secret s = tu_pass_secret("correct horse battery stapl3 马");

    expect_unlock(t, &s, VAULT_EAUTH);
    assert_non_null(strstr(vault_error_last(), "wrong passphrase"));
    assert_null(strstr(vault_error_last(), "stapl3"));
    s = tu_pass_secret("");
    expect_unlock(t, &s, VAULT_EAUTH);
}

static void test_wrong_keyfile(void **state)
{
    T *t = *state;
    vault_secret s = tu_keyfile_secret(t->kf);

    assert_int_equal(ks_add(NULL, t->keys, t->master, &s, "usb"), 0);
    s = tu_keyfile_secret(t->kf2);
    expect_unlock(t, &s, VAULT_EAUTH);
    assert_non_null(strstr(vault_error_last(), "wrong key file"));
}

static void test_keyfile_bad_size(void **state)
{
    T *t = *state;
    char bad[160], missing[160];
    uint8_t bytes[40];
    vault_secret s = tu_keyfile_secret(t->kf);
    size_t sizes[] = {0, 31, 33, 40};
    size_t i;

    assert_int_equal(ks_add(NULL, t->keys, t->master, &s, "usb"), 0);
    snprintf(bad, sizeof bad, "%s/bad.key", t->dir);
    s = tu_keyfile_secret(bad);
    for (i = 0; i < VAULT_ARRAY_LEN(sizes); i++) {
        vc_random(bytes, sizeof bytes);
        tu_write_file(bad, bytes, sizes[i]);
        expect_unlock(t, &s, VAULT_EAUTH);
        assert_non_null(strstr(vault_error_last(), "exactly 32 bytes"));
        /* A bad key file can't protect a new slot either; the file is untouched. */
        {
            size_t n = 0;
            uint8_t *before = slurp(t->keys, &n);
            assert_int_equal(ks_add(NULL, t->keys, t->master, &s, NULL), VAULT_EAUTH);
            assert_true(file_equals(t->keys, before, n));
            free(before);
        }
    }
    /* The first 32 bytes of the 33-byte file are the real key: still refused. */
    {
        size_t n = 0;
        uint8_t *real = slurp(t->kf, &n);
        uint8_t longer[33];
        assert_int_equal(n, 32);
        memcpy(longer, real, 32);
        longer[32] = '\n';
        tu_write_file(bad, longer, sizeof longer);
        expect_unlock(t, &s, VAULT_EAUTH);
        free(real);
    }
    snprintf(missing, sizeof missing, "%s/missing.key", t->dir);
    s = tu_keyfile_secret(missing);
    expect_unlock(t, &s, VAULT_EIO);
    /* ks_create with a bad key file leaves nothing behind. */
    assert_int_equal(unlink(t->keys), 0);
    s = tu_keyfile_secret(bad);
    assert_int_equal(ks_create(t->keys, t->id, t->master, &s, NULL), VAULT_EAUTH);
    assert_false(exists(t->keys));
    assert_int_equal(count_temps(t), 0);
}

static void test_missing_sidecar(void **state)
{
    T *t = *state;
    vault_secret s = tu_pass_secret(PASS1);
    vault_keyslot_info *info = NULL;
    size_t n = 0;

    assert_int_equal(unlink(t->keys), 0);
    expect_unlock(t, &s, VAULT_ENOTFOUND);
    assert_int_equal(ks_list(&info, &n, t->keys), VAULT_ENOTFOUND);
    assert_int_equal(ks_add(NULL, t->keys, t->master, &s, NULL), VAULT_ENOTFOUND);
    assert_int_equal(ks_remove(t->keys, t->master, 0), VAULT_ENOTFOUND);
    assert_false(exists(t->keys));
    /* A directory in its place is an I/O problem, not damage. */
    assert_int_equal(mkdir(t->keys, 0700), 0);
    expect_unlock(t, &s, VAULT_EIO);
}

static void test_bad_arguments(void **state)
{
    T *t = *state;
    vault_secret s = tu_pass_secret(""), odd = {sizeof(vault_secret), 7, "x", 1, 0};
    char other[160];

    snprintf(other, sizeof other, "%s/other.keys", t->dir);
    assert_int_equal(ks_create(other, t->id, t->master, &s, NULL), VAULT_EINVALID);
    assert_int_equal(ks_create(other, t->id, t->master, &odd, NULL), VAULT_EINVALID);
    s = tu_pass_secret(PASS1);
    s.kdf_profile = 99;
    assert_int_equal(ks_create(other, t->id, t->master, &s, NULL), VAULT_EINVALID);
    assert_int_equal(ks_create(other, t->id, t->master, NULL, NULL), VAULT_EINVALID);
    assert_false(exists(other));
    assert_int_equal(count_temps(t), 0);
}

/* ---- damage ------------------------------------------------------------------- */

static void test_damaged_raw(void **state)
{
    T *t = *state;
    uint8_t *big;
    char *dup;
    size_t i;

    /* truncated at several points */
    for (i = 0; i < t->orig_len - 2; i += t->orig_len / 7) {
        tu_write_file(t->keys, t->orig, i);
        assert_damaged(t);
    }
    tu_write_file(t->keys, t->orig, t->orig_len - 2); /* lost the final "}\n" */
    assert_damaged(t);
    tu_write_file(t->keys, "", 0);
    assert_damaged(t);
    tu_write_file(t->keys, "garbage, not JSON {", 19);
    assert_damaged(t);
    tu_write_file(t->keys, "\0\0\0\0\0\0\0\0", 8);
    assert_damaged(t);
    tu_write_file(t->keys, "[]", 2);
    assert_damaged(t);
    /* valid document followed by trailing garbage */
    big = malloc(t->orig_len + 1);
    assert_non_null(big);
    memcpy(big, t->orig, t->orig_len);
    big[t->orig_len] = 'x';
    tu_write_file(t->keys, big, t->orig_len + 1);
    assert_damaged(t);
    free(big);
    /* duplicate key: the second "version" must not be silently preferred */
    dup = malloc(t->orig_len + 32);
    assert_non_null(dup);
    assert_int_equal(t->orig[0], '{');
    memcpy(dup, "{\"version\": 1,", 14);
    memcpy(dup + 14, t->orig + 1, t->orig_len - 1);
    tu_write_file(t->keys, dup, t->orig_len + 13);
    assert_damaged(t);
    free(dup);
    /* larger than KS_FILE_MAX (valid JSON padded with spaces) */
    big = malloc(KS_FILE_MAX + 2);
    assert_non_null(big);
    memset(big, ' ', KS_FILE_MAX + 2);
    memcpy(big, t->orig, t->orig_len);
    tu_write_file(t->keys, big, KS_FILE_MAX + 1);
    assert_damaged(t);
    assert_non_null(strstr(vault_error_last(), "larger than"));
    /* ... while exactly KS_FILE_MAX is still read */
    tu_write_file(t->keys, big, KS_FILE_MAX);
    {
        vault_keyslot_info *info = NULL;
        size_t n = 0;
        assert_int_equal(ks_list(&info, &n, t->keys), 0);
        assert_int_equal(n, 1);
        free(info);
    }
    free(big);
    restore(t);
    {
        vault_secret s = tu_pass_secret(PASS1);
        expect_unlock(t, &s, VAULT_OK);
    }
}

typedef void (*edit_fn)(json_t *doc);

static void e_format(json_t *d) { json_object_set_new(d, "format", json_string("libvault-keyz")); }
static void e_version2(json_t *d) { json_object_set_new(d, "version", json_integer(2)); }
static void e_version_str(json_t *d) { json_object_set_new(d, "version", json_string("1")); }
static void e_no_format(json_t *d) { json_object_del(d, "format"); }
static void e_no_id(json_t *d) { json_object_del(d, "vault_id"); }
static void e_id_upper(json_t *d)
{
    char id[33];
    size_t i;
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(d, "vault_id")));
    for (i = 0; id[i]; i++)
        id[i] = id[i] >= 'a' && id[i] <= 'f' ? (char)(id[i] - 32) : id[i];
    if (strcmp(id, json_string_value(json_object_get(d, "vault_id"))) == 0)
        id[0] = 'G'; /* all digits: still not lower-case hex */
    json_object_set_new(d, "vault_id", json_string(id));
}
static void e_id_short(json_t *d) { json_object_set_new(d, "vault_id", json_string("0123456789abcdef0123456789abcd")); }
static void e_id_nonhex(json_t *d) { json_object_set_new(d, "vault_id", json_string("0123456789abcdef0123456789abcdeg")); }
static void e_check_bad(json_t *d) { json_object_set_new(d, "check", json_string("!!!!")); }
static void e_check_len(json_t *d) { set_b64_of_len(d, "check", 15); }
static void e_no_check(json_t *d) { json_object_del(d, "check"); }
static void e_next_low(json_t *d) { json_object_set_new(d, "next_slot", json_integer(0)); }
static void e_next_neg(json_t *d) { json_object_set_new(d, "next_slot", json_integer(-1)); }
static void e_no_next(json_t *d) { json_object_del(d, "next_slot"); }
static void e_slots_obj(json_t *d) { json_object_set_new(d, "slots", json_object()); }
static void e_slots_empty(json_t *d) { json_object_set_new(d, "slots", json_array()); }
static void e_slots_many(json_t *d)
{
    json_t *a = json_object_get(d, "slots");
    int i;
    for (i = 1; i <= KS_MAX_SLOTS; i++) {
        json_t *c = json_deep_copy(slot0(d));
        json_object_set_new(c, "slot", json_integer(i));
        json_array_append_new(a, c);
    }
    json_object_set_new(d, "next_slot", json_integer(KS_MAX_SLOTS + 1));
}
static void e_slot_dup(json_t *d) { json_array_append_new(json_object_get(d, "slots"), json_deep_copy(slot0(d))); }
static void e_slot_str(json_t *d) { json_array_append_new(json_object_get(d, "slots"), json_string("slot")); }
static void e_slot_neg(json_t *d) { json_object_set_new(slot0(d), "slot", json_integer(-1)); }
static void e_slot_real(json_t *d) { json_object_set_new(slot0(d), "slot", json_real(0.0)); }
static void e_kind(json_t *d) { json_object_set_new(slot0(d), "kind", json_string("fido2")); }
static void e_no_kind(json_t *d) { json_object_del(slot0(d), "kind"); }
static void e_kind_kf(json_t *d) { json_object_set_new(slot0(d), "kind", json_string("keyfile")); }
static void e_label_ctl(json_t *d) { json_object_set_new(slot0(d), "label", json_string("own\ter")); }
static void e_label_bidi(json_t *d) { json_object_set_new(slot0(d), "label", json_string("a\xe2\x80\xae" "b")); }
static void e_label_long(json_t *d)
{
    char l[VAULT_NAME_MAX + 1];
    memset(l, 'l', VAULT_NAME_MAX);
    l[VAULT_NAME_MAX] = 0;
    json_object_set_new(slot0(d), "label", json_string(l));
}
static void e_no_label(json_t *d) { json_object_del(slot0(d), "label"); }
static void e_created_real(json_t *d) { json_object_set_new(slot0(d), "created", json_real(1.5)); }
static void e_created_neg(json_t *d) { json_object_set_new(slot0(d), "created", json_integer(-5)); }
static void e_salt_bad(json_t *d) { json_object_set_new(slot0(d), "salt", json_string("not*base64")); }
static void e_salt_len(json_t *d) { set_b64_of_len(slot0(d), "salt", 17); }
static void e_wrapped_len(json_t *d) { set_b64_of_len(slot0(d), "wrapped", 71); }
static void e_wrapped_char(json_t *d)
{
    char w[200];
    snprintf(w, sizeof w, "%s", json_string_value(json_object_get(slot0(d), "wrapped")));
    w[10] = '#';
    json_object_set_new(slot0(d), "wrapped", json_string(w));
}
static void e_no_wrapped(json_t *d) { json_object_del(slot0(d), "wrapped"); }
static void e_ops_zero(json_t *d) { json_object_set_new(slot0(d), "opslimit", json_integer(0)); }
static void e_ops_str(json_t *d) { json_object_set_new(slot0(d), "opslimit", json_string("2")); }
static void e_no_mem(json_t *d) { json_object_del(slot0(d), "memlimit"); }
static void e_mem_tiny(json_t *d) { json_object_set_new(slot0(d), "memlimit", json_integer(1)); }

static void test_damaged_fields(void **state)
{
    static const struct {
        const char *name;
        edit_fn fn;
    } cases[] = {
        {"format", e_format}, {"version 2", e_version2}, {"version string", e_version_str},
        {"no format", e_no_format}, {"no vault_id", e_no_id}, {"vault_id upper", e_id_upper},
        {"vault_id short", e_id_short}, {"vault_id non-hex", e_id_nonhex},
        {"check not b64", e_check_bad}, {"check length", e_check_len}, {"no check", e_no_check},
        {"next_slot low", e_next_low}, {"next_slot negative", e_next_neg},
        {"no next_slot", e_no_next}, {"slots object", e_slots_obj},
        {"slots empty", e_slots_empty}, {"too many slots", e_slots_many},
        {"duplicate slot", e_slot_dup}, {"slot is a string", e_slot_str},
        {"slot negative", e_slot_neg}, {"slot real", e_slot_real}, {"kind", e_kind},
        {"no kind", e_no_kind}, {"keyfile with Argon2 params", e_kind_kf},
        {"label control", e_label_ctl}, {"label bidi", e_label_bidi},
        {"label long", e_label_long}, {"no label", e_no_label},
        {"created real", e_created_real}, {"created negative", e_created_neg},
        {"salt not b64", e_salt_bad}, {"salt length", e_salt_len},
        {"wrapped length", e_wrapped_len}, {"wrapped bad char", e_wrapped_char},
        {"no wrapped", e_no_wrapped}, {"opslimit zero", e_ops_zero},
        {"opslimit string", e_ops_str}, {"no memlimit", e_no_mem},
    };
    T *t = *state;
    size_t i;
    json_t *doc;

    for (i = 0; i < VAULT_ARRAY_LEN(cases); i++) {
        restore(t);
        doc = load_json(t);
        cases[i].fn(doc);
        save_json(t, doc);
        print_message("damage: %s\n", cases[i].name);
        assert_damaged(t);
    }
    restore(t);
    {
        vault_secret s = tu_pass_secret(PASS1);
        expect_unlock(t, &s, VAULT_OK);
    }
}

/* Edits that keep the file well-formed but change what a slot is bound to:
 * the AEAD tag no longer verifies, which can't be told apart from a wrong
 * secret, so VAULT_EAUTH. */
static void test_damaged_bindings(void **state)
{
    T *t = *state;
    vault_secret s = tu_pass_secret(PASS1);
    json_t *doc;
    char id[33];

    /* bit flip inside the wrapped key (ciphertext, tag, nonce) */
    {
        size_t where[] = {0, 30, 71};
        size_t i;
        for (i = 0; i < VAULT_ARRAY_LEN(where); i++) {
            restore(t);
            doc = load_json(t);
            flip_b64(slot0(doc), "wrapped", where[i]);
            save_json(t, doc);
            expect_unlock(t, &s, VAULT_EAUTH);
        }
    }
    /* salt */
    restore(t);
    doc = load_json(t);
    flip_b64(slot0(doc), "salt", 3);
    save_json(t, doc);
    expect_unlock(t, &s, VAULT_EAUTH);
    /* opslimit still in Argon2id's range */
    restore(t);
    doc = load_json(t);
    json_object_set_new(slot0(doc), "opslimit", json_integer(3));
    save_json(t, doc);
    expect_unlock(t, &s, VAULT_EAUTH);
    /* vault_id replaced by another well-formed id */
    restore(t);
    doc = load_json(t);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(doc, "vault_id")));
    id[5] = id[5] == '0' ? '1' : '0';
    json_object_set_new(doc, "vault_id", json_string(id));
    save_json(t, doc);
    expect_unlock(t, &s, VAULT_EAUTH);
    /* slot renumbered */
    restore(t);
    doc = load_json(t);
    json_object_set_new(slot0(doc), "slot", json_integer(5));
    json_object_set_new(doc, "next_slot", json_integer(6));
    save_json(t, doc);
    expect_unlock(t, &s, VAULT_EAUTH);
    /* label and created are not bound: editing them changes nothing secret */
    restore(t);
    doc = load_json(t);
    json_object_set_new(slot0(doc), "label", json_string("relabelled"));
    json_object_set_new(slot0(doc), "created", json_integer(12345));
    save_json(t, doc);
    expect_unlock(t, &s, VAULT_OK);
}

/* The key check value: a slot opens, the check disagrees -> damaged; and
 * ks_add/ks_remove can no longer confirm the master key. */
static void test_damaged_check(void **state)
{
    T *t = *state;
    vault_secret s = tu_pass_secret(PASS1);
    json_t *doc = load_json(t);
    size_t n = 0;
    uint8_t *before;

    flip_b64(doc, "check", 0);
    save_json(t, doc);
    expect_unlock(t, &s, VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "key check value"));
    before = slurp(t->keys, &n);
    s = tu_keyfile_secret(t->kf);
    assert_int_equal(ks_add(NULL, t->keys, t->master, &s, NULL), VAULT_EAUTH);
    assert_int_equal(ks_remove(t->keys, t->master, 0), VAULT_EAUTH);
    assert_true(file_equals(t->keys, before, n));
    free(before);
}

/* A damaged passphrase slot is reported, but doesn't stop another slot of
 * the same kind from opening. */
static void test_damaged_slot_skipped(void **state)
{
    T *t = *state;
    vault_secret s2 = tu_pass_secret(PASS2), s1 = tu_pass_secret(PASS1), wrong = tu_pass_secret("nope");
    json_t *doc;

    assert_int_equal(ks_add(NULL, t->keys, t->master, &s2, "second"), 0);
    doc = load_json(t);
    json_object_set_new(slot0(doc), "memlimit", json_integer(1));
    save_json(t, doc);
    expect_unlock(t, &s2, VAULT_OK);
    expect_unlock(t, &s1, VAULT_EINTEGRITY);
    expect_unlock(t, &wrong, VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "slot 0"));
}

/* Argon2id parameters outside libsodium's range are judged by vc_pwhash
 * when the slot is tried: the file still lists and accepts slot changes
 * (so the damaged slot can be removed), but unlocking says it is damaged. */
static void test_damaged_params_range(void **state)
{
    T *t = *state;
    vault_secret p = tu_pass_secret(PASS1), k = tu_keyfile_secret(t->kf);
    vault_keyslot_info *info = NULL;
    size_t n = 0;
    int slot = -1;
    json_t *doc = load_json(t);

    e_mem_tiny(doc);
    save_json(t, doc);
    expect_unlock(t, &p, VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "is damaged"));
    assert_non_null(strstr(vault_error_last(), "slot 0"));
    assert_int_equal(ks_list(&info, &n, t->keys), 0);
    assert_int_equal(n, 1);
    free(info);
    assert_int_equal(ks_add(&slot, t->keys, t->master, &p, "replacement"), 0);
    assert_int_equal(ks_remove(t->keys, t->master, 0), 0);
    expect_unlock(t, &p, VAULT_OK);
    /* a huge opslimit is refused the same way, without running it */
    doc = load_json(t);
    json_object_set_new(slot0(doc), "opslimit", json_integer(0x7fffffffffffLL));
    save_json(t, doc);
    expect_unlock(t, &p, VAULT_EINTEGRITY);
    expect_unlock(t, &k, VAULT_EAUTH);
}

/* ---- add, remove, list ---------------------------------------------------------- */

static void test_add_keyfile_unlock_both(void **state)
{
    T *t = *state;
    vault_secret k = tu_keyfile_secret(t->kf), p = tu_pass_secret(PASS1);
    int slot = -1;

    assert_int_equal(ks_add(&slot, t->keys, t->master, &k, "usb stick"), 0);
    assert_int_equal(slot, 1);
    expect_unlock(t, &p, VAULT_OK);
    expect_unlock(t, &k, VAULT_OK);
    /* The same key file again: refused, naming the slot it opens. */
    slot = -1;
    assert_int_equal(ks_add(&slot, t->keys, t->master, &k, "again"), VAULT_EEXISTS);
    assert_non_null(strstr(vault_error_last(), "already unlocks slot 1"));
    assert_int_equal(slot, -1);
}

static void test_second_passphrase(void **state)
{
    T *t = *state;
    vault_secret p1 = tu_pass_secret(PASS1), p2 = tu_pass_secret(PASS2), wrong = tu_pass_secret("wrong");
    int slot = -1;

    assert_int_equal(ks_add(&slot, t->keys, t->master, &p2, "deputy"), 0);
    assert_int_equal(slot, 1);
    expect_unlock(t, &p1, VAULT_OK);
    expect_unlock(t, &p2, VAULT_OK);
    expect_unlock(t, &wrong, VAULT_EAUTH);
}

static void test_remove(void **state)
{
    T *t = *state;
    vault_secret k = tu_keyfile_secret(t->kf), p = tu_pass_secret(PASS1);
    vault_keyslot_info *info = NULL;
    size_t n = 0;
    int slot = -1;

    assert_int_equal(ks_add(&slot, t->keys, t->master, &k, NULL), 0);
    assert_int_equal(ks_remove(t->keys, t->master, 0), 0);
    expect_unlock(t, &p, VAULT_EAUTH);
    expect_unlock(t, &k, VAULT_OK);
    assert_int_equal(ks_list(&info, &n, t->keys), 0);
    assert_int_equal(n, 1);
    assert_int_equal(info[0].slot, 1);
    free(info);
    /* slot numbers are never reused, even after removing the highest */
    assert_int_equal(ks_add(&slot, t->keys, t->master, &p, NULL), 0);
    assert_int_equal(slot, 2);
    assert_int_equal(ks_remove(t->keys, t->master, 2), 0);
    assert_int_equal(ks_add(&slot, t->keys, t->master, &p, NULL), 0);
    assert_int_equal(slot, 3);
    expect_unlock(t, &p, VAULT_OK);
    assert_int_equal(mode_of(t->keys), 0600);
}

static void test_remove_last(void **state)
{
    T *t = *state;
    vault_secret p = tu_pass_secret(PASS1);

    assert_int_equal(ks_remove(t->keys, t->master, 0), VAULT_ESTATE);
    assert_true(file_equals(t->keys, t->orig, t->orig_len));
    expect_unlock(t, &p, VAULT_OK);
}

static void test_remove_unknown(void **state)
{
    T *t = *state;

    assert_int_equal(ks_remove(t->keys, t->master, 1), VAULT_ENOTFOUND);
    assert_int_equal(ks_remove(t->keys, t->master, -1), VAULT_ENOTFOUND);
    assert_int_equal(ks_remove(t->keys, t->master, 7), VAULT_ENOTFOUND);
    assert_true(file_equals(t->keys, t->orig, t->orig_len));
}

static void test_wrong_master(void **state)
{
    T *t = *state;
    vault_secret k = tu_keyfile_secret(t->kf);
    uint8_t *other = vc_malloc(VAULT_KEY_BYTES);

    assert_non_null(other);
    memcpy(other, t->master, VAULT_KEY_BYTES);
    other[31] ^= 0x80;
    assert_int_equal(ks_add(NULL, t->keys, other, &k, NULL), VAULT_EAUTH);
    assert_true(file_equals(t->keys, t->orig, t->orig_len));
    assert_int_equal(ks_add(NULL, t->keys, t->master, &k, NULL), 0);
    assert_int_equal(ks_remove(t->keys, other, 1), VAULT_EAUTH);
    assert_int_equal(ks_remove(t->keys, other, 0), VAULT_EAUTH);
    expect_unlock(t, &k, VAULT_OK);
    vc_free(other);
}

static void test_list(void **state)
{
    T *t = *state;
    vault_secret k = tu_keyfile_secret(t->kf);
    vault_keyslot_info *info = NULL;
    size_t n = 0;
    int64_t before = (int64_t)time(NULL), after;

    assert_int_equal(ks_add(NULL, t->keys, t->master, &k, "备份 U 盘"), 0);
    after = (int64_t)time(NULL);
    assert_int_equal(ks_list(&info, &n, t->keys), 0);
    assert_int_equal(n, 2);
    assert_int_equal(info[0].slot, 0);
    assert_int_equal(info[0].kind, VAULT_UNLOCK_PASSPHRASE);
    assert_string_equal(info[0].label, "owner");
    assert_true(info[0].created <= after && info[0].created > before - 600);
    assert_int_equal(info[1].slot, 1);
    assert_int_equal(info[1].kind, VAULT_UNLOCK_KEYFILE);
    assert_string_equal(info[1].label, "备份 U 盘");
    assert_true(info[1].created >= before && info[1].created <= after);
    free(info);
}

/* A key file of its own for the n-th slot a test adds (ks_add refuses a
 * key file that already opens a slot): path into buf, 128 bytes. */
static vault_secret nth_keyfile(char *buf, const T *t, int n)
{
    snprintf(buf, 128, "%s/k%d.key", t->dir, n);
    if (access(buf, F_OK) != 0)
        assert_int_equal(vault_keyfile_generate(buf), 0);
    return tu_keyfile_secret(buf);
}

static void test_labels(void **state)
{
    T *t = *state;
    vault_secret k = tu_keyfile_secret(t->kf);
    char l[VAULT_NAME_MAX + 1], p2[128], p3[128];
    vault_keyslot_info *info = NULL;
    size_t n = 0;
    const char *bad[] = {"tab\there", "nl\n", "del\x7f", "\xff", "\xc0\xaf", "\xe2\x80",
                         "\xed\xa0\x80", "c1\xc2\x85", "rtl\xe2\x80\xae", "\xf4\x90\x80\x80"};
    size_t i;

    for (i = 0; i < VAULT_ARRAY_LEN(bad); i++)
        assert_int_equal(ks_add(NULL, t->keys, t->master, &k, bad[i]), VAULT_EINVALID);
    memset(l, 'a', VAULT_NAME_MAX);
    l[VAULT_NAME_MAX] = 0;
    assert_int_equal(ks_add(NULL, t->keys, t->master, &k, l), VAULT_ELIMIT);
    assert_true(file_equals(t->keys, t->orig, t->orig_len));
    l[VAULT_NAME_MAX - 1] = 0; /* 127 bytes: the longest allowed */
    assert_int_equal(ks_add(NULL, t->keys, t->master, &k, l), 0);
    k = nth_keyfile(p2, t, 2);
    assert_int_equal(ks_add(NULL, t->keys, t->master, &k, NULL), 0);
    k = nth_keyfile(p3, t, 3);
    assert_int_equal(ks_add(NULL, t->keys, t->master, &k, "网格员 grid-07 ✓ 😀"), 0);
    assert_int_equal(ks_list(&info, &n, t->keys), 0);
    assert_int_equal(n, 4);
    assert_string_equal(info[1].label, l);
    assert_string_equal(info[2].label, "");
    assert_string_equal(info[3].label, "网格员 grid-07 ✓ 😀");
    free(info);
}

static void test_slot_limit(void **state)
{
    T *t = *state;
    vault_secret k;
    char path[128];
    int i, slot = -1;
    size_t n = 0;
    uint8_t *before;

    for (i = 1; i < KS_MAX_SLOTS; i++) {
        k = nth_keyfile(path, t, i);
        assert_int_equal(ks_add(&slot, t->keys, t->master, &k, "k"), 0);
        assert_int_equal(slot, i);
    }
    before = slurp(t->keys, &n);
    k = nth_keyfile(path, t, KS_MAX_SLOTS);
    assert_int_equal(ks_add(&slot, t->keys, t->master, &k, "k"), VAULT_ELIMIT);
    assert_true(file_equals(t->keys, before, n));
    free(before);
    assert_int_equal(ks_remove(t->keys, t->master, 5), 0);
    assert_int_equal(ks_add(&slot, t->keys, t->master, &k, "k"), 0);
    assert_int_equal(slot, KS_MAX_SLOTS);
    expect_unlock(t, &k, VAULT_OK);
}

/* ---- files on disk ------------------------------------------------------------------ */

static void test_mode_0600(void **state)
{
    T *t = *state;
    vault_secret p = tu_pass_secret(PASS1), k = tu_keyfile_secret(t->kf);
    mode_t old = umask(0);
    char kf3[160];

    assert_int_equal(unlink(t->keys), 0);
    assert_int_equal(ks_create(t->keys, t->id, t->master, &p, NULL), 0);
    assert_int_equal(mode_of(t->keys), 0600);
    assert_int_equal(ks_add(NULL, t->keys, t->master, &k, NULL), 0);
    assert_int_equal(mode_of(t->keys), 0600);
    assert_int_equal(ks_remove(t->keys, t->master, 1), 0);
    assert_int_equal(mode_of(t->keys), 0600);
    snprintf(kf3, sizeof kf3, "%s/three.key", t->dir);
    assert_int_equal(ks_keyfile_generate(kf3), 0);
    assert_int_equal(mode_of(kf3), 0600);
    /* even a umask that takes the owner's write bit */
    umask(0277);
    assert_int_equal(ks_add(NULL, t->keys, t->master, &k, NULL), 0);
    assert_int_equal(mode_of(t->keys), 0600);
    assert_int_equal(unlink(kf3), 0);
    assert_int_equal(ks_keyfile_generate(kf3), 0);
    assert_int_equal(mode_of(kf3), 0600);
    umask(old);
    expect_unlock(t, &p, VAULT_OK);
}

static void test_create_existing(void **state)
{
    T *t = *state;
    vault_secret p = tu_pass_secret(PASS2);
    uint8_t *other = vc_malloc(VAULT_KEY_BYTES);
    char plain[160], link_path[160];

    assert_non_null(other);
    vc_random(other, VAULT_KEY_BYTES);
    assert_int_equal(ks_create(t->keys, t->id, other, &p, NULL), VAULT_EEXISTS);
    assert_true(file_equals(t->keys, t->orig, t->orig_len));
    snprintf(plain, sizeof plain, "%s/plain.keys", t->dir);
    tu_write_file(plain, "hello", 5);
    assert_int_equal(ks_create(plain, t->id, other, &p, NULL), VAULT_EEXISTS);
    assert_true(file_equals(plain, "hello", 5));
    /* a dangling symlink counts as existing too: nothing is created through it */
    snprintf(link_path, sizeof link_path, "%s/link.keys", t->dir);
    assert_int_equal(symlink("nowhere.keys", link_path), 0);
    assert_int_equal(ks_create(link_path, t->id, other, &p, NULL), VAULT_EEXISTS);
    assert_int_equal(count_temps(t), 0);
    vc_free(other);
    {
        vault_secret p1 = tu_pass_secret(PASS1);
        expect_unlock(t, &p1, VAULT_OK);
    }
}

static void test_no_secrets_in_file(void **state)
{
    T *t = *state;
    vault_secret k = tu_keyfile_secret(t->kf), p2 = tu_pass_secret(PASS2);
    size_t n = 0, kn = 0;
    uint8_t *file, *kbytes;
    char hex[2 * VAULT_KEY_BYTES + 1], b64[64];

    assert_int_equal(ks_add(NULL, t->keys, t->master, &k, NULL), 0);
    assert_int_equal(ks_add(NULL, t->keys, t->master, &p2, NULL), 0);
    file = slurp(t->keys, &n);
    kbytes = slurp(t->kf, &kn);
    assert_int_equal(kn, VAULT_KEY_BYTES);
    assert_null(memmem(file, n, PASS1, strlen(PASS1)));
    assert_null(memmem(file, n, PASS2, strlen(PASS2)));
    assert_null(memmem(file, n, t->master, VAULT_KEY_BYTES));
    assert_null(memmem(file, n, t->master, 8));
    assert_null(memmem(file, n, kbytes, VAULT_KEY_BYTES));
    assert_int_equal(vc_bin2hex(hex, sizeof hex, t->master, VAULT_KEY_BYTES), 0);
    assert_null(memmem(file, n, hex, strlen(hex)));
    assert_int_equal(vc_bin2b64(b64, sizeof b64, t->master, VAULT_KEY_BYTES), 0);
    assert_null(memmem(file, n, b64, 40));
    assert_int_equal(vc_bin2b64(b64, sizeof b64, kbytes, VAULT_KEY_BYTES), 0);
    assert_null(memmem(file, n, b64, 40));
    /* sanity: the search would find what is there */
    assert_non_null(memmem(file, n, "libvault-keys", 13));
    free(file);
    free(kbytes);
}

static void test_format_shape(void **state)
{
    T *t = *state;
    json_t *doc = load_json(t), *s = slot0(doc);
    char id_hex[33];
    const char *keys[] = {"slot", "kind", "label", "created", "salt", "opslimit", "memlimit", "wrapped"};
    size_t i;

    assert_string_equal(json_string_value(json_object_get(doc, "format")), "libvault-keys");
    assert_int_equal(json_integer_value(json_object_get(doc, "version")), 1);
    assert_int_equal(vc_bin2hex(id_hex, sizeof id_hex, t->id, sizeof t->id), 0);
    assert_string_equal(json_string_value(json_object_get(doc, "vault_id")), id_hex);
    assert_int_equal(json_integer_value(json_object_get(doc, "next_slot")), 1);
    assert_int_equal(strlen(json_string_value(json_object_get(doc, "check"))), 24);
    assert_int_equal(json_object_size(s), VAULT_ARRAY_LEN(keys));
    for (i = 0; i < VAULT_ARRAY_LEN(keys); i++)
        assert_non_null(json_object_get(s, keys[i]));
    assert_string_equal(json_string_value(json_object_get(s, "kind")), "passphrase");
    assert_int_equal(json_integer_value(json_object_get(s, "opslimit")), 2);
    assert_int_equal(json_integer_value(json_object_get(s, "memlimit")), 67108864);
    assert_int_equal(strlen(json_string_value(json_object_get(s, "salt"))), 24);
    assert_int_equal(strlen(json_string_value(json_object_get(s, "wrapped"))), 96);
    json_decref(doc);
    assert_int_equal(t->orig[t->orig_len - 1], '\n');
}

/* Keys written by a newer libvault that we don't know are kept on rewrite. */
static void test_unknown_keys_preserved(void **state)
{
    T *t = *state;
    vault_secret k = tu_keyfile_secret(t->kf), p = tu_pass_secret(PASS1);
    json_t *doc = load_json(t);

    json_object_set_new(doc, "x-note", json_string("kept"));
    json_object_set_new(slot0(doc), "x-hint", json_integer(7));
    save_json(t, doc);
    expect_unlock(t, &p, VAULT_OK);
    assert_int_equal(ks_add(NULL, t->keys, t->master, &k, NULL), 0);
    doc = load_json(t);
    assert_string_equal(json_string_value(json_object_get(doc, "x-note")), "kept");
    assert_int_equal(json_integer_value(json_object_get(slot0(doc), "x-hint")), 7);
    json_decref(doc);
}

static void test_keyfile_generate(void **state)
{
    T *t = *state;
    size_t n = 0, n2 = 0;
    uint8_t *a = slurp(t->kf, &n), *b = slurp(t->kf2, &n2);

    assert_int_equal(n, 32);
    assert_int_equal(n2, 32);
    assert_false(vc_equal(a, b, 32));
    assert_int_equal(mode_of(t->kf), 0600);
    assert_int_equal(ks_keyfile_generate(t->kf), VAULT_EEXISTS);
    assert_true(file_equals(t->kf, a, n));
    assert_int_equal(ks_keyfile_generate(t->keys), VAULT_EEXISTS);
    assert_true(file_equals(t->keys, t->orig, t->orig_len));
    free(a);
    free(b);
}

/* ---- interrupted writes ------------------------------------------------------------- */

static void test_interrupted_rewrite(void **state)
{
    T *t = *state;
    vault_secret p = tu_pass_secret(PASS1), k = tu_keyfile_secret(t->kf);
    vault_keyslot_info *info = NULL;
    size_t n = 0;
    int round, status = 0, killed_mid_write = 0;
    pid_t pid;
    uint32_t r;

    for (round = 0; round < 20; round++) {
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int slot;
            for (;;) {
                if (ks_add(&slot, t->keys, t->master, &k, "churn") != 0)
                    _exit(10);
                if (ks_remove(t->keys, t->master, slot) != 0)
                    _exit(11);
            }
        }
        vc_random(&r, sizeof r);
        usleep((useconds_t)(1000 + r % 15000));
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        /* The child must have been looping, not failing. */
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
        killed_mid_write += count_temps(t) > 0;
        assert_int_equal(ks_list(&info, &n, t->keys), 0);
        /* slot 0 plus at most the one churn slot the kill interrupted */
        assert_true(n == 1 || n == 2);
        assert_int_equal(info[0].slot, 0);
        assert_int_equal(info[0].kind, VAULT_UNLOCK_PASSPHRASE);
        expect_unlock(t, &p, VAULT_OK);
        if (n == 2)
            assert_int_equal(ks_remove(t->keys, t->master, info[1].slot), 0);
        free(info);
        info = NULL;
        assert_int_equal(mode_of(t->keys), 0600);
    }
    print_message("interrupted rewrite: %d of 20 kills left a temp file\n", killed_mid_write);
    /* The next successful write clears stale temp files. */
    assert_int_equal(ks_add(NULL, t->keys, t->master, &k, NULL), 0);
    assert_int_equal(count_temps(t), 0);
    expect_unlock(t, &k, VAULT_OK);
}

static void test_stale_temp(void **state)
{
    T *t = *state;
    vault_secret p = tu_pass_secret(PASS1), k = tu_keyfile_secret(t->kf);
    char stale[192], longer[192], other[192];
    vault_keyslot_info *info = NULL;
    size_t n = 0;

    snprintf(stale, sizeof stale, "%s.tmp.abc123", t->keys);
    tu_write_file(stale, t->orig, t->orig_len / 2);
    snprintf(longer, sizeof longer, "%s.tmp.abc1234", t->keys);
    tu_write_file(longer, "x", 1);
    snprintf(other, sizeof other, "%s/other.keys.tmp.abc123", t->dir);
    tu_write_file(other, "x", 1);
    expect_unlock(t, &p, VAULT_OK);
    assert_int_equal(ks_list(&info, &n, t->keys), 0);
    assert_int_equal(n, 1);
    free(info);
    assert_int_equal(ks_add(NULL, t->keys, t->master, &k, NULL), 0);
    expect_unlock(t, &k, VAULT_OK);
    expect_unlock(t, &p, VAULT_OK);
    /* ours is gone; names that are not our temp files are left alone */
    assert_false(exists(stale));
    assert_true(exists(longer));
    assert_true(exists(other));
}

/* The audit anchor (docs/keyslots.md section 10): the vectors of the
 * docs, a wrong master, a changed field, a root without a checkpoint. */
static void test_audit_anchor(void **state)
{
    T *t = *state;
    vault_secret s = tu_keyfile_secret(t->kf);
    char path[160];
    ks_anchor a, got;
    int found = -1;
    uint8_t *wrong = vc_malloc(VAULT_KEY_BYTES);
    json_t *doc, *au;
    json_error_t jerr;
    size_t i, n = 0;
    static const char *const pk_hex =
        "dde3bccec7f3a66a1115f45d720f4dc135c3ae7c4e22dca38fdb1efd6a495ff8";

    assert_non_null(wrong);
    /* Before anything is pinned: found = 0. */
    assert_int_equal(ks_anchor_get(&got, &found, t->keys, t->master), 0);
    assert_int_equal(found, 0);
    for (i = 0; i < VAULT_KEY_BYTES; i++)
        t->master[i] = (uint8_t)i;
    assert_int_equal(vc_hex2bin(t->id, sizeof t->id, &n, "934562c886917a3193a76e1fd4989118", 32), 0);
    snprintf(path, sizeof path, "%s/vectors.keys", t->dir);
    assert_int_equal(ks_create(path, t->id, t->master, &s, NULL), 0);
    memset(&a, 0, sizeof a);
    assert_int_equal(vc_hex2bin(a.pk, sizeof a.pk, &n, pk_hex, 64), 0);
    assert_int_equal(ks_anchor_set(path, t->master, &a), 0);
    doc = json_load_file(path, 0, &jerr);
    assert_non_null(doc);
    au = json_object_get(doc, "audit");
    assert_string_equal(json_string_value(json_object_get(au, "key")),
                        "3eO8zsfzpmoRFfRdcg9NwTXDrnxOItyjj9se/WpJX/g=");
    assert_string_equal(json_string_value(json_object_get(au, "mac")),
                        "Fw4Inuf40bpC+kn7DyltrdCOwIywDbK50eG68sYDER0=");
    assert_null(json_object_get(au, "root"));
    json_decref(doc);
    a.size = 7;
    memset(a.root, 0x5f, sizeof a.root);
    assert_int_equal(ks_anchor_set(path, t->master, &a), 0);
    doc = json_load_file(path, 0, &jerr);
    assert_non_null(doc);
    au = json_object_get(doc, "audit");
    assert_string_equal(json_string_value(json_object_get(au, "mac")),
                        "4FLbbZgeniE1LgQ3Q42LXGiNJzv+C5rVxZXknWdiTVo=");
    assert_string_equal(json_string_value(json_object_get(au, "root")),
                        "X19fX19fX19fX19fX19fX19fX19fX19fX19fX19fX18=");
    assert_int_equal(ks_anchor_get(&got, &found, path, t->master), 0);
    assert_int_equal(found, 1);
    assert_int_equal(got.size, 7);
    assert_memory_equal(got.pk, a.pk, 32);
    assert_memory_equal(got.root, a.root, 32);
    /* Another master key: refused as for every change of the file. */
    vc_random(wrong, VAULT_KEY_BYTES);
    assert_int_equal(ks_anchor_get(&got, &found, path, wrong), VAULT_EAUTH);
    assert_int_equal(ks_anchor_set(path, wrong, &a), VAULT_EAUTH);
    /* An older checkpoint put back (size changed): the MAC fails. */
    json_object_set_new(au, "size", json_integer(6));
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    assert_int_equal(ks_anchor_get(&got, &found, path, t->master), VAULT_EINTEGRITY);
    assert_int_equal(found, 0);
    /* A root with size 0, and a key that isn't 32 bytes: damaged. */
    json_object_set_new(au, "size", json_integer(0));
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    assert_int_equal(ks_anchor_get(&got, &found, path, t->master), VAULT_EINTEGRITY);
    assert_non_null(strstr(vault_error_last(), "without a checkpoint"));
    json_object_del(au, "root");
    json_object_set_new(au, "key", json_string("AAAA"));
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    assert_int_equal(ks_anchor_get(&got, &found, path, t->master), VAULT_EINTEGRITY);
    json_object_set_new(doc, "audit", json_string("x"));
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    assert_int_equal(ks_anchor_get(&got, &found, path, t->master), VAULT_EINTEGRITY);
    json_decref(doc);
    vc_free(wrong);
}

/* Write `doc` to `path` and expect ks_anchor_get to refuse it as damaged. */
static void expect_damaged(json_t *doc, const char *path, const uint8_t *master)
{
    ks_anchor got;
    int found = -1;

    assert_int_equal(json_dump_file(doc, path, 0), 0);
    assert_int_equal(ks_anchor_get(&got, &found, path, master), VAULT_EINTEGRITY);
    assert_int_equal(found, 0);
    assert_int_equal(got.refused.count, 0);
}

/* The refusal record in the anchor (docs/keyslots.md section 10): counted,
 * kept by anchor updates, cleared only when it is the one logged, and
 * MAC'd with the anchor (vectors computed with Python's hashlib). */
static void test_refusal_record(void **state)
{
    T *t = *state;
    vault_secret s = tu_keyfile_secret(t->kf);
    char path[160], bare[160];
    ks_anchor a, got;
    ks_refusals logged;
    int found = -1, cleared = -1;
    json_t *doc, *au, *rf, *copy;
    json_error_t jerr;
    size_t i, n = 0;
    static const int64_t t1 = 1764547200000000, t2 = 1764550800123456;

    for (i = 0; i < VAULT_KEY_BYTES; i++)
        t->master[i] = (uint8_t)i;
    assert_int_equal(vc_hex2bin(t->id, sizeof t->id, &n, "934562c886917a3193a76e1fd4989118", 32), 0);
    /* No anchor yet: nothing to count in. */
    snprintf(bare, sizeof bare, "%s/bare.keys", t->dir);
    assert_int_equal(ks_create(bare, t->id, t->master, &s, NULL), 0);
    assert_int_equal(ks_refusal_note(NULL, bare, t->master, KS_REFUSED_REWRITTEN, t1),
                     VAULT_ENOTFOUND);
    snprintf(path, sizeof path, "%s/vectors.keys", t->dir);
    assert_int_equal(ks_create(path, t->id, t->master, &s, NULL), 0);
    memset(&a, 0, sizeof a);
    assert_int_equal(vc_hex2bin(a.pk, sizeof a.pk, &n,
                                "dde3bccec7f3a66a1115f45d720f4dc135c3ae7c4e22dca38fdb1efd6a495ff8",
                                64), 0);
    /* One refusal with size 0, class "record missing". */
    assert_int_equal(ks_anchor_set(path, t->master, &a), 0);
    assert_int_equal(ks_refusal_note(&got, path, t->master, KS_REFUSED_RECORD_MISSING, t1), 0);
    assert_int_equal(got.refused.count, 1);
    doc = json_load_file(path, 0, &jerr);
    au = json_object_get(doc, "audit");
    assert_string_equal(json_string_value(json_object_get(au, "mac")),
                        "l73TCAuk9VRGHW6e8HupwJcWQwULE8CNf0U+dMPV508=");
    json_decref(doc);
    /* Size 7, two refusals: first t1, last t2, class "rolled back". */
    a.size = 7;
    memset(a.root, 0x5f, sizeof a.root);
    assert_int_equal(ks_refusal_clear(NULL, &cleared, path, t->master, &got.refused), 0);
    assert_int_equal(cleared, 1);
    assert_int_equal(ks_anchor_set(path, t->master, &a), 0);
    assert_int_equal(ks_refusal_note(NULL, path, t->master, KS_REFUSED_REWRITTEN, t1), 0);
    assert_int_equal(ks_refusal_note(&got, path, t->master, KS_REFUSED_ROLLED_BACK, t2), 0);
    assert_int_equal(got.refused.count, 2);
    assert_int_equal(got.refused.first, t1);
    assert_int_equal(got.refused.last, t2);
    assert_int_equal(got.refused.cls, KS_REFUSED_ROLLED_BACK);
    doc = json_load_file(path, 0, &jerr);
    assert_non_null(doc);
    au = json_object_get(doc, "audit");
    assert_string_equal(json_string_value(json_object_get(au, "mac")),
                        "UzxIlRILn8RavZ7B25I5E/Cvb0AQbZQ3jBdRMwgies0=");
    rf = json_object_get(au, "refused");
    assert_int_equal(json_integer_value(json_object_get(rf, "count")), 2);
    assert_int_equal(json_integer_value(json_object_get(rf, "first")), t1);
    assert_int_equal(json_integer_value(json_object_get(rf, "last")), t2);
    assert_string_equal(json_string_value(json_object_get(rf, "class")), "rolled back");
    assert_int_equal(ks_anchor_get(&got, &found, path, t->master), 0);
    assert_int_equal(found, 1);
    assert_int_equal(got.refused.count, 2);
    logged = got.refused;
    /* An anchor update keeps the file's record, whatever the caller holds. */
    a.size = 8;
    assert_int_equal(ks_anchor_set(path, t->master, &a), 0);
    assert_int_equal(ks_anchor_get(&got, &found, path, t->master), 0);
    assert_int_equal(got.size, 8);
    assert_int_equal(got.refused.count, 2);
    assert_int_equal(got.refused.last, t2);
    /* Tampered: each field, the record removed, a class this version
     * doesn't know, last before first: refused as damaged. */
    copy = json_deep_copy(doc);
    json_object_set_new(json_object_get(json_object_get(copy, "audit"), "refused"), "count",
                        json_integer(1));
    expect_damaged(copy, path, t->master);
    json_decref(copy);
    copy = json_deep_copy(doc);
    json_object_set_new(json_object_get(json_object_get(copy, "audit"), "refused"), "last",
                        json_integer(t2 + 1));
    expect_damaged(copy, path, t->master);
    assert_int_equal(ks_anchor_set(path, t->master, &a), VAULT_EINTEGRITY);
    assert_int_equal(ks_refusal_note(NULL, path, t->master, KS_REFUSED_REWRITTEN, t2),
                     VAULT_EINTEGRITY);
    json_decref(copy);
    copy = json_deep_copy(doc);
    json_object_set_new(json_object_get(json_object_get(copy, "audit"), "refused"), "class",
                        json_string("rewritten"));
    expect_damaged(copy, path, t->master);
    json_object_set_new(json_object_get(json_object_get(copy, "audit"), "refused"), "class",
                        json_string("lost"));
    expect_damaged(copy, path, t->master);
    assert_non_null(strstr(vault_error_last(), "\"class\""));
    json_decref(copy);
    copy = json_deep_copy(doc);
    json_object_set_new(json_object_get(json_object_get(copy, "audit"), "refused"), "last",
                        json_integer(t1 - 1));
    expect_damaged(copy, path, t->master);
    assert_non_null(strstr(vault_error_last(), "out of range"));
    json_object_del(json_object_get(copy, "audit"), "refused");
    expect_damaged(copy, path, t->master);
    assert_non_null(strstr(vault_error_last(), "integrity check"));
    json_decref(copy);
    copy = json_deep_copy(doc);
    json_object_set_new(json_object_get(copy, "audit"), "refused", json_integer(2));
    expect_damaged(copy, path, t->master);
    json_decref(copy);
    /* The good file back: a clear for another record leaves it; the
     * logged one clears it (v1 MAC again). */
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    logged.count = 1;
    assert_int_equal(ks_refusal_clear(&got, &cleared, path, t->master, &logged), 0);
    assert_int_equal(cleared, 0);
    assert_int_equal(got.refused.count, 2);
    logged.count = 2;
    assert_int_equal(ks_refusal_clear(&got, &cleared, path, t->master, &logged), 0);
    assert_int_equal(cleared, 1);
    assert_int_equal(got.refused.count, 0);
    json_decref(doc);
    doc = json_load_file(path, 0, &jerr);
    au = json_object_get(doc, "audit");
    assert_null(json_object_get(au, "refused"));
    assert_string_equal(json_string_value(json_object_get(au, "mac")),
                        "4FLbbZgeniE1LgQ3Q42LXGiNJzv+C5rVxZXknWdiTVo=");
    assert_int_equal(ks_anchor_get(&got, &found, path, t->master), 0);
    assert_int_equal(got.refused.count, 0);
    /* Bad arguments. */
    assert_int_equal(ks_refusal_note(NULL, path, t->master, 0, t1), VAULT_EINVALID);
    assert_int_equal(ks_refusal_note(NULL, path, t->master, KS_REFUSED_REWRITTEN, -1),
                     VAULT_EINVALID);
    assert_int_equal(ks_refusal_clear(NULL, NULL, path, t->master, &logged), VAULT_EINVALID);
    assert_null(ks_refused_name(4));
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T_(test_passphrase_unlock),
        T_(test_keyfile_create_unlock),
        T_(test_wrong_passphrase),
        T_(test_wrong_keyfile),
        T_(test_keyfile_bad_size),
        T_(test_missing_sidecar),
        T_(test_bad_arguments),
        T_(test_damaged_raw),
        T_(test_damaged_fields),
        T_(test_damaged_bindings),
        T_(test_damaged_check),
        T_(test_damaged_slot_skipped),
        T_(test_damaged_params_range),
        T_(test_add_keyfile_unlock_both),
        T_(test_second_passphrase),
        T_(test_remove),
        T_(test_remove_last),
        T_(test_remove_unknown),
        T_(test_wrong_master),
        T_(test_list),
        T_(test_labels),
        T_(test_slot_limit),
        T_(test_mode_0600),
        T_(test_create_existing),
        T_(test_no_secrets_in_file),
        T_(test_format_shape),
        T_(test_unknown_keys_preserved),
        T_(test_keyfile_generate),
        T_(test_interrupted_rewrite),
        T_(test_stale_temp),
        T_(test_audit_anchor),
        T_(test_refusal_record),
#undef T_
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

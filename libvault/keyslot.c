/* keyslot: the `<vault>.keys` sidecar.  Format, key derivation and the
 * write procedure are specified in docs/keyslots.md; keep them in step. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkostemp, renameat2 */
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "crypto.h"
#include "keyslot.h"
#include "text.h"

#define KS_FORMAT "libvault-keys"
#define KS_VERSION 1
#define KS_AD_LABEL "libvault/keyslot/v1"
#define KS_KEYFILE_LABEL "libvault/keyfile-kek/v1"
#define KS_CHECK_LABEL "libvault/keycheck/v1"
#define KS_ANCHOR_LABEL "libvault/audit-anchor/v1"
#define KS_ANCHOR_LABEL2 "libvault/audit-anchor/v2" /* with a refusal record */
#define KS_KIND_PASSPHRASE "passphrase"
#define KS_KIND_KEYFILE "keyfile"
#define KS_CHECK_BYTES 16
#define KS_WRAPPED_BYTES (VC_WRAP_OVERHEAD + VAULT_KEY_BYTES) /* 72 */
#define KS_AD_BYTES \
    (sizeof KS_AD_LABEL - 1 + VAULT_ID_BYTES + 4 + 1 + VC_SALTBYTES + 8 + 8) /* 72 */
#define KS_SLOT_NUMBER_MAX INT32_MAX
#define KS_TMP_SUFFIX ".tmp.XXXXXX"
#define KS_TMP_RANDOM 6 /* the X's mkostemp replaces */

_Static_assert(VAULT_UNLOCK_PASSPHRASE == 1 && VAULT_UNLOCK_KEYFILE == 2,
               "the kind byte of the associated data is the VAULT_UNLOCK_* value");
_Static_assert(VAULT_KEY_BYTES == VC_KEYBYTES, "master key and wrapping key sizes");

typedef struct ks_slot {
    size_t index; /* position in the "slots" array */
    int number;
    int kind; /* VAULT_UNLOCK_* */
    char label[VAULT_NAME_MAX];
    int64_t created;
    uint8_t salt[VC_SALTBYTES];
    uint64_t opslimit; /* 0 for key-file slots */
    uint64_t memlimit; /* 0 for key-file slots */
    uint8_t wrapped[KS_WRAPPED_BYTES];
} ks_slot;

typedef struct ks_file {
    const char *path;
    json_t *doc; /* kept so a rewrite preserves what it does not touch */
    uint8_t vault_id[VAULT_ID_BYTES];
    uint8_t check[KS_CHECK_BYTES];
    int64_t next_slot;
    size_t nslots;
    ks_slot slots[KS_MAX_SLOTS];
} ks_file;

/* ---- Errors ------------------------------------------------------------ */

static int damaged(const char *path, const char *fmt, ...) VAULT_PRINTF(2, 3);

/* VAULT_EINTEGRITY "keys file <path> is damaged: <what>".  `what` never
 * carries file content beyond names and numbers. */
static int damaged(const char *path, const char *fmt, ...)
{
    char what[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return vault__err(VAULT_EINTEGRITY, "keys file %s is damaged: %s", path, what);
}

/* ENSURE for file content; needs `path` in scope. */
#define ENSURE_INTACT(cond, ...)              \
    do {                                      \
        if (!(cond)) {                        \
            rc = damaged(path, __VA_ARGS__);  \
            goto cleanup;                     \
        }                                     \
    } while (0)

/* ---- Small helpers ------------------------------------------------------- */

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static const char *kind_name(int kind)
{
    return kind == VAULT_UNLOCK_PASSPHRASE ? KS_KIND_PASSPHRASE : KS_KIND_KEYFILE;
}

/* 1 when s[0..len) is well-formed UTF-8 holding no control characters (C0,
 * DEL, C1), line/paragraph separators or bidirectional formatting marks:
 * labels are shown to people in listings and must not rearrange them. */
static int label_printable(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0, n;
    uint32_t cp;

    while (i < len) {
        n = vault__utf8_next(&cp, p + i, len - i);
        if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
            cp == 0x200e || cp == 0x200f || cp == 0x2028 || cp == 0x2029 ||
            (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
            return 0;
        i += n;
    }
    return 1;
}

static int check_label(const char *label)
{
    int rc = VAULT_OK;
    size_t len;

    if (!label)
        return VAULT_OK;
    len = strlen(label);
    if (len == 0)
        return VAULT_OK; /* no label */
    /* The one rule for free text (text.h); the sidecar reader keeps its
     * own check, which reports damage as an integrity failure. */
    GUARD(vault__text_check(label, VAULT_NAME_MAX - 1, "slot label"));
cleanup:
    return rc;
}

/* `creating`: the secret will protect a new slot (empty passphrases are
 * refused then; at unlock they merely fail to open anything). */
static int check_secret(const vault_secret *secret, int creating)
{
    int rc = VAULT_OK;

    ENSURE(secret, VAULT_EINVALID, "no secret given");
    ENSURE(secret->kind == VAULT_UNLOCK_PASSPHRASE || secret->kind == VAULT_UNLOCK_KEYFILE,
           VAULT_EINVALID, "unknown secret kind %d", secret->kind);
    ENSURE(secret->data, VAULT_EINVALID, "secret has no data");
    ENSURE(secret->kind != VAULT_UNLOCK_PASSPHRASE || !creating || secret->len > 0,
           VAULT_EINVALID, "passphrase is empty");
cleanup:
    return rc;
}

static int write_all(int fd, const void *buf, size_t len, const char *path)
{
    int rc = VAULT_OK;
    const uint8_t *p = buf;
    ssize_t n;

    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        ENSURE(n > 0, VAULT_EIO, "cannot write %s: %s", path,
               n < 0 ? strerror(errno) : "no progress");
        p += n;
        len -= (size_t)n;
    }
cleanup:
    return rc;
}

/* The directory part of `path` ("." when it has none), malloc'ed. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t len;
    char *dir;

    if (!slash)
        return strdup(".");
    len = slash == path ? 1 : (size_t)(slash - path);
    dir = malloc(len + 1);
    if (dir) {
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    return dir;
}

static const char *base_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

/* fsync the directory holding `path`, so a rename or new name in it lasts. */
static int sync_dir(const char *path)
{
    int rc = VAULT_OK;
    int dfd = -1;
    char *dir = dir_of(path);

    ENSURE(dir, VAULT_ENOMEM, "out of memory");
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ENSURE(dfd >= 0, VAULT_EIO, "cannot open directory %s: %s", dir, strerror(errno));
    /* EINVAL: the file system cannot sync directories; nothing more to do. */
    ENSURE(fsync(dfd) == 0 || errno == EINVAL, VAULT_EIO,
           "%s was written but its directory %s could not be synced: %s", path, dir,
           strerror(errno));
cleanup:
    if (dfd >= 0)
        close(dfd);
    free(dir);
    return rc;
}

/* "<base>.tmp.XXXXXX" as made by mkostemp (six [A-Za-z0-9]). */
static int is_temp_name(const char *name, const char *base, size_t blen)
{
    const char *r;
    size_t i;

    if (strncmp(name, base, blen) != 0 || strncmp(name + blen, ".tmp.", 5) != 0)
        return 0;
    r = name + blen + 5;
    for (i = 0; i < KS_TMP_RANDOM; i++) {
        if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= 'A' && r[i] <= 'Z') ||
              (r[i] >= '0' && r[i] <= '9')))
            return 0;
    }
    return r[KS_TMP_RANDOM] == '\0';
}

/* Best effort, after a successful write: delete temp files left by
 * interrupted earlier writes, so a slot they still hold does not linger.
 * Writers are serialised by the caller, so none of them is in use. */
static void remove_stale_temps(const char *path)
{
    char *dir = dir_of(path);
    const char *base = base_of(path);
    size_t blen = strlen(base);
    DIR *d = NULL;
    struct dirent *e;
    struct stat st;

    if (dir)
        d = opendir(dir);
    while (d && (e = readdir(d)) != NULL) {
        if (is_temp_name(e->d_name, base, blen) &&
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    if (d)
        closedir(d);
    free(dir);
}

/* ---- Reading and parsing --------------------------------------------------- */

static void ks_file_free(ks_file *f)
{
    if (f) {
        json_decref(f->doc);
        free(f);
    }
}

static int read_sidecar(char **out, size_t *out_len, const char *path)
{
    int rc = VAULT_OK;
    int fd = -1;
    char *buf = NULL;
    size_t got = 0;
    ssize_t n;
    struct stat st;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    ENSURE(fd >= 0 || errno != ENOENT, VAULT_ENOTFOUND, "no keys file at %s", path);
    ENSURE(fd >= 0, VAULT_EIO, "cannot open keys file %s: %s", path, strerror(errno));
    ENSURE(fstat(fd, &st) == 0, VAULT_EIO, "cannot stat keys file %s: %s", path,
           strerror(errno));
    ENSURE(S_ISREG(st.st_mode), VAULT_EIO, "keys file %s is not a regular file", path);
    ENSURE_INTACT(st.st_size <= KS_FILE_MAX, "larger than %d bytes", KS_FILE_MAX);
    buf = malloc(KS_FILE_MAX + 1);
    ENSURE(buf, VAULT_ENOMEM, "out of memory");
    /* Read one byte past the limit to notice a file that grew meanwhile. */
    while (got < KS_FILE_MAX + 1) {
        n = read(fd, buf + got, KS_FILE_MAX + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        ENSURE(n >= 0, VAULT_EIO, "cannot read keys file %s: %s", path, strerror(errno));
        if (n == 0)
            break;
        got += (size_t)n;
    }
    ENSURE_INTACT(got <= KS_FILE_MAX, "larger than %d bytes", KS_FILE_MAX);
    *out = buf;
    *out_len = got;
    buf = NULL;
cleanup:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

static int get_string(const char **out, size_t *out_len, json_t *obj, const char *key,
                      const char *where, const char *path)
{
    int rc = VAULT_OK;
    json_t *v = json_object_get(obj, key);

    ENSURE_INTACT(json_is_string(v), "%s: \"%s\" is missing or not a string", where, key);
    *out = json_string_value(v);
    *out_len = json_string_length(v);
cleanup:
    return rc;
}

static int get_int(json_int_t *out, json_t *obj, const char *key, json_int_t min,
                   json_int_t max, const char *where, const char *path)
{
    int rc = VAULT_OK;
    json_t *v = json_object_get(obj, key);

    ENSURE_INTACT(json_is_integer(v), "%s: \"%s\" is missing or not an integer", where, key);
    ENSURE_INTACT(json_integer_value(v) >= min && json_integer_value(v) <= max,
                  "%s: \"%s\" is out of range", where, key);
    *out = json_integer_value(v);
cleanup:
    return rc;
}

/* Base64 that must decode to exactly `len` bytes. */
static int get_b64(uint8_t *out, size_t len, json_t *obj, const char *key, const char *where,
                   const char *path)
{
    int rc = VAULT_OK;
    const char *s = NULL;
    size_t slen = 0, n = 0;

    GUARD(get_string(&s, &slen, obj, key, where, path));
    ENSURE_INTACT(vc_b642bin(out, len, &n, s, slen) == VAULT_OK && n == len,
                  "%s: \"%s\" is not base64 of %zu bytes", where, key, len);
cleanup:
    return rc;
}

static int parse_slot(ks_slot *s, json_t *obj, size_t index, const char *path)
{
    int rc = VAULT_OK;
    char where[32];
    const char *str = NULL;
    size_t len = 0;
    json_int_t v = 0;

    snprintf(where, sizeof where, "slots[%zu]", index);
    s->index = index;
    ENSURE_INTACT(json_is_object(obj), "%s is not an object", where);
    GUARD(get_int(&v, obj, "slot", 0, KS_SLOT_NUMBER_MAX, where, path));
    s->number = (int)v;
    snprintf(where, sizeof where, "slot %d", s->number);
    GUARD(get_string(&str, &len, obj, "kind", where, path));
    if (strcmp(str, KS_KIND_PASSPHRASE) == 0)
        s->kind = VAULT_UNLOCK_PASSPHRASE;
    else if (strcmp(str, KS_KIND_KEYFILE) == 0)
        s->kind = VAULT_UNLOCK_KEYFILE;
    else
        ENSURE_INTACT(0, "%s: unknown kind", where);
    GUARD(get_string(&str, &len, obj, "label", where, path));
    ENSURE_INTACT(len < VAULT_NAME_MAX && label_printable(str, len),
                  "%s: label too long or not printable", where);
    memcpy(s->label, str, len);
    s->label[len] = '\0';
    GUARD(get_int(&v, obj, "created", 0, INT64_MAX, where, path));
    s->created = v;
    GUARD(get_b64(s->salt, sizeof s->salt, obj, "salt", where, path));
    if (s->kind == VAULT_UNLOCK_PASSPHRASE) {
        /* The Argon2id range itself is vc_pwhash's to judge (at unlock). */
        GUARD(get_int(&v, obj, "opslimit", 1, LLONG_MAX, where, path));
        s->opslimit = (uint64_t)v;
        GUARD(get_int(&v, obj, "memlimit", 1,
                      (uint64_t)LLONG_MAX < SIZE_MAX ? LLONG_MAX : (json_int_t)SIZE_MAX, where,
                      path));
        s->memlimit = (uint64_t)v;
    } else {
        ENSURE_INTACT(!json_object_get(obj, "opslimit") && !json_object_get(obj, "memlimit"),
                      "%s: a key-file slot has Argon2id parameters", where);
        s->opslimit = 0;
        s->memlimit = 0;
    }
    GUARD(get_b64(s->wrapped, sizeof s->wrapped, obj, "wrapped", where, path));
cleanup:
    return rc;
}

static int parse_doc(ks_file *f, const char *path)
{
    int rc = VAULT_OK;
    const char *str = NULL;
    size_t len = 0, i, j, n = 0;
    json_int_t v = 0;
    json_t *slots;

    ENSURE_INTACT(json_is_object(f->doc), "the top level is not an object");
    GUARD(get_string(&str, &len, f->doc, "format", "top level", path));
    ENSURE_INTACT(strcmp(str, KS_FORMAT) == 0, "\"format\" is not \"%s\"", KS_FORMAT);
    GUARD(get_int(&v, f->doc, "version", INT_MIN, INT_MAX, "top level", path));
    ENSURE_INTACT(v == KS_VERSION, "version %d is not supported (this libvault reads %d)",
                  (int)v, KS_VERSION);
    GUARD(get_string(&str, &len, f->doc, "vault_id", "top level", path));
    ENSURE_INTACT(len == 2 * VAULT_ID_BYTES && strspn(str, "0123456789abcdef") == len,
                  "\"vault_id\" is not 32 lower-case hex characters");
    ENSURE_INTACT(vc_hex2bin(f->vault_id, sizeof f->vault_id, &n, str, len) == VAULT_OK &&
                      n == VAULT_ID_BYTES,
                  "\"vault_id\" is not valid hex");
    GUARD(get_b64(f->check, sizeof f->check, f->doc, "check", "top level", path));
    GUARD(get_int(&v, f->doc, "next_slot", 0, (json_int_t)KS_SLOT_NUMBER_MAX + 1, "top level",
                  path));
    f->next_slot = v;
    slots = json_object_get(f->doc, "slots");
    ENSURE_INTACT(json_is_array(slots), "\"slots\" is missing or not an array");
    ENSURE_INTACT(json_array_size(slots) > 0, "\"slots\" is empty");
    ENSURE_INTACT(json_array_size(slots) <= KS_MAX_SLOTS, "more than %d slots", KS_MAX_SLOTS);
    f->nslots = json_array_size(slots);
    for (i = 0; i < f->nslots; i++) {
        GUARD(parse_slot(&f->slots[i], json_array_get(slots, i), i, path));
        ENSURE_INTACT(f->slots[i].number < f->next_slot, "slot %d is not below \"next_slot\"",
                      f->slots[i].number);
        for (j = 0; j < i; j++)
            ENSURE_INTACT(f->slots[j].number != f->slots[i].number, "slot %d appears twice",
                          f->slots[i].number);
    }
cleanup:
    return rc;
}

static int ks_load(ks_file **out, const char *path)
{
    int rc = VAULT_OK;
    ks_file *f = NULL;
    char *text = NULL, *near;
    size_t len = 0;
    json_error_t jerr;

    GUARD(read_sidecar(&text, &len, path));
    f = calloc(1, sizeof *f);
    ENSURE(f, VAULT_ENOMEM, "out of memory");
    f->path = path;
    f->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!f->doc) {
        /* Keep jansson's reason but not the file text it quotes. */
        near = strstr(jerr.text, " near ");
        if (near)
            *near = '\0';
        ENSURE_INTACT(0, "not valid JSON (line %d, column %d: %s)", jerr.line, jerr.column,
                      jerr.text);
    }
    GUARD(parse_doc(f, path));
    *out = f;
    f = NULL;
cleanup:
    ks_file_free(f);
    free(text);
    return rc;
}

/* ---- Key derivation and wrapping ------------------------------------------- */

static void build_ad(uint8_t ad[KS_AD_BYTES], const uint8_t vault_id[VAULT_ID_BYTES],
                     const ks_slot *s)
{
    size_t pos = 0;

    memcpy(ad, KS_AD_LABEL, sizeof KS_AD_LABEL - 1);
    pos += sizeof KS_AD_LABEL - 1;
    memcpy(ad + pos, vault_id, VAULT_ID_BYTES);
    pos += VAULT_ID_BYTES;
    put_le(ad + pos, (uint32_t)s->number, 4);
    pos += 4;
    ad[pos++] = (uint8_t)s->kind;
    memcpy(ad + pos, s->salt, VC_SALTBYTES);
    pos += VC_SALTBYTES;
    put_le(ad + pos, s->opslimit, 8);
    pos += 8;
    put_le(ad + pos, s->memlimit, 8);
}

static int compute_check(uint8_t out[KS_CHECK_BYTES], const uint8_t master[VAULT_KEY_BYTES],
                         const uint8_t vault_id[VAULT_ID_BYTES])
{
    uint8_t msg[sizeof KS_CHECK_LABEL - 1 + VAULT_ID_BYTES];

    memcpy(msg, KS_CHECK_LABEL, sizeof KS_CHECK_LABEL - 1);
    memcpy(msg + sizeof KS_CHECK_LABEL - 1, vault_id, VAULT_ID_BYTES);
    return vc_keyed_hash(out, KS_CHECK_BYTES, master, msg, sizeof msg);
}

static int verify_master(const ks_file *f, const uint8_t master[VAULT_KEY_BYTES])
{
    int rc = VAULT_OK;
    uint8_t check[KS_CHECK_BYTES];

    GUARD(compute_check(check, master, f->vault_id));
    ENSURE(vc_equal(check, f->check, sizeof check), VAULT_EAUTH,
           "the master key given is not this vault's (keys file %s)", f->path);
cleanup:
    vc_wipe(check, sizeof check);
    return rc;
}

/* Read a key file into `out` (VAULT_KEY_BYTES + 1 bytes of secure memory).
 * Pipes work too (e.g. a process substitution), so no size from fstat. */
static int read_keyfile(uint8_t *out, const char *kpath)
{
    int rc = VAULT_OK;
    int fd = -1;
    size_t got = 0;
    ssize_t n;

    fd = open(kpath, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    ENSURE(fd >= 0, VAULT_EIO, "cannot open key file %s: %s", kpath, strerror(errno));
    while (got < VAULT_KEY_BYTES + 1) {
        n = read(fd, out + got, VAULT_KEY_BYTES + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        ENSURE(n >= 0, VAULT_EIO, "cannot read key file %s: %s", kpath, strerror(errno));
        if (n == 0)
            break;
        got += (size_t)n;
    }
    ENSURE(got == VAULT_KEY_BYTES, VAULT_EAUTH, "key file must be exactly %d bytes (%s)",
           VAULT_KEY_BYTES, kpath);
cleanup:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* The slot's key-encryption key.  `keyfile`: the key file's 32 bytes, for
 * key-file slots.  `path`: the keys file, for messages. */
static int derive_kek(uint8_t kek[VC_KEYBYTES], const ks_slot *s, const vault_secret *secret,
                      const uint8_t *keyfile, const char *path)
{
    int rc = VAULT_OK;
    uint8_t msg[sizeof KS_KEYFILE_LABEL - 1 + VC_SALTBYTES];
    int r;

    if (s->kind == VAULT_UNLOCK_PASSPHRASE) {
        r = vc_pwhash(kek, secret->data, secret->len, s->salt, s->opslimit, (size_t)s->memlimit);
        ENSURE_INTACT(r != VAULT_EINTEGRITY, "slot %d: Argon2id parameters out of range",
                      s->number);
        GUARD(r);
    } else {
        memcpy(msg, KS_KEYFILE_LABEL, sizeof KS_KEYFILE_LABEL - 1);
        memcpy(msg + sizeof KS_KEYFILE_LABEL - 1, s->salt, VC_SALTBYTES);
        GUARD(vc_keyed_hash(kek, VC_KEYBYTES, keyfile, msg, sizeof msg));
    }
cleanup:
    return rc;
}

/* A new slot object for `master` under `secret`; `like` (may be NULL):
 * the slot it replaces, whose creation time and Argon2id cost it keeps
 * (master-key rotation). */
static int seal_slot_like(json_t **out, int number, const uint8_t vault_id[VAULT_ID_BYTES],
                          const uint8_t master[VAULT_KEY_BYTES], const vault_secret *secret,
                          const char *label, const char *path, const ks_slot *like);

static int seal_slot(json_t **out, int number, const uint8_t vault_id[VAULT_ID_BYTES],
                     const uint8_t master[VAULT_KEY_BYTES], const vault_secret *secret,
                     const char *label, const char *path)
{
    return seal_slot_like(out, number, vault_id, master, secret, label, path, NULL);
}

static int seal_slot_like(json_t **out, int number, const uint8_t vault_id[VAULT_ID_BYTES],
                          const uint8_t master[VAULT_KEY_BYTES], const vault_secret *secret,
                          const char *label, const char *path, const ks_slot *like)
{
    int rc = VAULT_OK;
    ks_slot s;
    uint8_t *keyfile = NULL, *kek = NULL;
    uint8_t ad[KS_AD_BYTES];
    char salt64[64], wrapped64[128];
    unsigned long long ops = 0;
    size_t mem = 0, n = 0;
    json_t *obj = NULL;

    memset(&s, 0, sizeof s);
    s.number = number;
    s.kind = secret->kind;
    s.created = (int64_t)time(NULL);
    if (s.created < 0) /* a clock before 1970: keep the file readable */
        s.created = 0;
    vc_random(s.salt, sizeof s.salt);
    kek = vc_malloc(VC_KEYBYTES);
    ENSURE(kek, VAULT_ENOMEM, "out of secure memory");
    if (like)
        s.created = like->created;
    if (s.kind == VAULT_UNLOCK_PASSPHRASE && like) {
        s.opslimit = like->opslimit;
        s.memlimit = like->memlimit;
    } else if (s.kind == VAULT_UNLOCK_PASSPHRASE) {
        GUARD(vc_pwhash_profile(&ops, &mem, secret->kdf_profile));
        s.opslimit = ops;
        s.memlimit = mem;
    } else {
        keyfile = vc_malloc(VAULT_KEY_BYTES + 1);
        ENSURE(keyfile, VAULT_ENOMEM, "out of secure memory");
        GUARD(read_keyfile(keyfile, secret->data));
    }
    GUARD(derive_kek(kek, &s, secret, keyfile, path));
    build_ad(ad, vault_id, &s);
    GUARD(vc_wrap(s.wrapped, sizeof s.wrapped, &n, kek, ad, sizeof ad, master, VAULT_KEY_BYTES));
    ENSURE(n == KS_WRAPPED_BYTES, VAULT_ERROR, "wrapped key has an unexpected length");
    GUARD(vc_bin2b64(salt64, sizeof salt64, s.salt, sizeof s.salt));
    GUARD(vc_bin2b64(wrapped64, sizeof wrapped64, s.wrapped, sizeof s.wrapped));
    if (s.kind == VAULT_UNLOCK_PASSPHRASE)
        obj = json_pack("{s:i, s:s, s:s, s:I, s:s, s:I, s:I, s:s}", "slot", number, "kind",
                        kind_name(s.kind), "label", label ? label : "", "created",
                        (json_int_t)s.created, "salt", salt64, "opslimit",
                        (json_int_t)s.opslimit, "memlimit", (json_int_t)s.memlimit, "wrapped",
                        wrapped64);
    else
        obj = json_pack("{s:i, s:s, s:s, s:I, s:s, s:s}", "slot", number, "kind",
                        kind_name(s.kind), "label", label ? label : "", "created",
                        (json_int_t)s.created, "salt", salt64, "wrapped", wrapped64);
    ENSURE(obj, VAULT_ENOMEM, "out of memory building the keys file");
    *out = obj;
cleanup:
    vc_free(kek);
    vc_free(keyfile);
    return rc;
}

/* Open slot `s` with `secret` into `key` (secure memory).  VAULT_EAUTH when
 * the secret does not open it. */
static int open_slot(uint8_t key[VAULT_KEY_BYTES], uint8_t kek[VC_KEYBYTES], const ks_file *f,
                     const ks_slot *s, const vault_secret *secret, const uint8_t *keyfile)
{
    int rc = VAULT_OK;
    const char *path = f->path;
    uint8_t ad[KS_AD_BYTES];
    size_t n = 0;

    GUARD(derive_kek(kek, s, secret, keyfile, path));
    build_ad(ad, f->vault_id, s);
    GUARD(vc_unwrap(key, VAULT_KEY_BYTES, &n, kek, ad, sizeof ad, s->wrapped,
                    sizeof s->wrapped));
    ENSURE_INTACT(n == VAULT_KEY_BYTES, "slot %d: wrapped key has the wrong length", s->number);
cleanup:
    return rc;
}

/* ---- Writing ---------------------------------------------------------------- */

/* Put `doc` at `path` atomically: temp file in the same directory, 0600,
 * fsync, then rename over `path` (or, with no_clobber, a link that fails
 * with VAULT_EEXISTS if `path` exists), then fsync the directory.  On
 * failure before the rename the old file is untouched and the temp gone. */
static int ks_store(const json_t *doc, const char *path, int no_clobber)
{
    int rc = VAULT_OK;
    char *text = NULL, *tmp = NULL;
    size_t len, plen = strlen(path);
    int fd = -1, tmp_exists = 0, r;

    text = json_dumps(doc, JSON_INDENT(2));
    ENSURE(text, VAULT_ENOMEM, "out of memory writing the keys file");
    len = strlen(text);
    ENSURE(len + 1 <= KS_FILE_MAX, VAULT_ELIMIT, "keys file %s would exceed %d bytes", path,
           KS_FILE_MAX);
    tmp = malloc(plen + sizeof KS_TMP_SUFFIX);
    ENSURE(tmp, VAULT_ENOMEM, "out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, KS_TMP_SUFFIX, sizeof KS_TMP_SUFFIX);
    fd = mkostemp(tmp, O_CLOEXEC);
    ENSURE(fd >= 0, VAULT_EIO, "cannot create a temporary file next to %s: %s", path,
           strerror(errno));
    tmp_exists = 1;
    ENSURE(fchmod(fd, 0600) == 0, VAULT_EIO, "cannot set the mode of %s: %s", tmp,
           strerror(errno));
    GUARD(write_all(fd, text, len, tmp));
    GUARD(write_all(fd, "\n", 1, tmp));
    ENSURE(fsync(fd) == 0, VAULT_EIO, "cannot sync %s: %s", tmp, strerror(errno));
    r = close(fd);
    fd = -1;
    ENSURE(r == 0, VAULT_EIO, "cannot close %s: %s", tmp, strerror(errno));
    if (no_clobber) {
        r = link(tmp, path);
        /* File systems without hard links (vfat, some FUSE): rename that
         * refuses to replace. */
        if (r != 0 && (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS)) {
            r = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
            if (r == 0)
                tmp_exists = 0;
        }
        ENSURE(r == 0 || errno != EEXIST, VAULT_EEXISTS, "keys file %s already exists", path);
        ENSURE(r == 0, VAULT_EIO, "cannot create keys file %s: %s", path, strerror(errno));
    } else {
        ENSURE(rename(tmp, path) == 0, VAULT_EIO, "cannot replace keys file %s: %s", path,
               strerror(errno));
        tmp_exists = 0;
    }
    if (tmp_exists) {
        (void)unlink(tmp);
        tmp_exists = 0;
    }
    GUARD(sync_dir(path));
    remove_stale_temps(path);
cleanup:
    if (fd >= 0)
        close(fd);
    if (tmp_exists)
        (void)unlink(tmp);
    free(tmp);
    free(text);
    return rc;
}

/* ---- Public (internal) interface ----------------------------------------------- */

int ks_create(const char *path, const uint8_t vault_id[VAULT_ID_BYTES],
              const uint8_t master[VAULT_KEY_BYTES], const vault_secret *secret,
              const char *label)
{
    int rc = VAULT_OK;
    struct stat st;
    char id_hex[VAULT_ID_HEX_SIZE], check64[64];
    uint8_t check[KS_CHECK_BYTES];
    json_t *slot = NULL, *doc = NULL;
    int r;

    ENSURE(path && vault_id && master, VAULT_EINVALID, "ks_create: missing argument");
    GUARD(vc_init());
    GUARD(check_secret(secret, 1));
    GUARD(check_label(label));
    /* Fail early, before the slow KDF; the link in ks_store closes the race. */
    r = lstat(path, &st);
    ENSURE(r != 0, VAULT_EEXISTS, "keys file %s already exists", path);
    ENSURE(errno == ENOENT, VAULT_EIO, "cannot check %s: %s", path, strerror(errno));
    GUARD(vc_bin2hex(id_hex, sizeof id_hex, vault_id, VAULT_ID_BYTES));
    GUARD(compute_check(check, master, vault_id));
    GUARD(vc_bin2b64(check64, sizeof check64, check, sizeof check));
    GUARD(seal_slot(&slot, 0, vault_id, master, secret, label, path));
    doc = json_pack("{s:s, s:i, s:s, s:s, s:I, s:[O]}", "format", KS_FORMAT, "version",
                    KS_VERSION, "vault_id", id_hex, "check", check64, "next_slot",
                    (json_int_t)1, "slots", slot);
    ENSURE(doc, VAULT_ENOMEM, "out of memory building the keys file");
    GUARD(ks_store(doc, path, 1));
cleanup:
    vc_wipe(check, sizeof check);
    json_decref(slot);
    json_decref(doc);
    return rc;
}

int ks_unlock(uint8_t master[VAULT_KEY_BYTES], uint8_t vault_id[VAULT_ID_BYTES],
              const char *path, const vault_secret *secret)
{
    int rc = VAULT_OK;
    ks_file *f = NULL;
    uint8_t *keyfile = NULL, *kek = NULL, *key = NULL;
    uint8_t check[KS_CHECK_BYTES];
    char first_msg[512] = "";
    int first_err = VAULT_OK, opened = 0, tried = 0, r;
    size_t i;

    ENSURE(master && vault_id && path, VAULT_EINVALID, "ks_unlock: missing argument");
    GUARD(vc_init());
    GUARD(check_secret(secret, 0));
    GUARD(ks_load(&f, path));
    kek = vc_malloc(VC_KEYBYTES);
    key = vc_malloc(VAULT_KEY_BYTES);
    ENSURE(kek && key, VAULT_ENOMEM, "out of secure memory");
    if (secret->kind == VAULT_UNLOCK_KEYFILE) {
        keyfile = vc_malloc(VAULT_KEY_BYTES + 1);
        ENSURE(keyfile, VAULT_ENOMEM, "out of secure memory");
        GUARD(read_keyfile(keyfile, secret->data));
    }
    for (i = 0; i < f->nslots && !opened; i++) {
        if (f->slots[i].kind != secret->kind)
            continue;
        tried++;
        r = open_slot(key, kek, f, &f->slots[i], secret, keyfile);
        if (r == VAULT_OK) {
            opened = 1;
        } else if (r != VAULT_EAUTH && first_err == VAULT_OK) {
            /* A damaged slot must not hide behind "wrong passphrase", nor
             * stop another slot from opening. */
            first_err = r;
            snprintf(first_msg, sizeof first_msg, "%s", vault_error_last());
        }
    }
    ENSURE(opened || first_err == VAULT_OK, first_err, "%s", first_msg);
    ENSURE(opened, VAULT_EAUTH, "wrong %s%s",
           secret->kind == VAULT_UNLOCK_PASSPHRASE ? "passphrase" : "key file",
           tried ? "" : " (the keys file has no slot of that kind)");
    GUARD(compute_check(check, key, f->vault_id));
    ENSURE_INTACT(vc_equal(check, f->check, sizeof check),
                  "a slot opened but the key check value does not match");
    memcpy(master, key, VAULT_KEY_BYTES);
    memcpy(vault_id, f->vault_id, VAULT_ID_BYTES);
cleanup:
    if (rc < 0 && master)
        vc_wipe(master, VAULT_KEY_BYTES);
    vc_wipe(check, sizeof check);
    vc_free(key);
    vc_free(kek);
    vc_free(keyfile);
    ks_file_free(f);
    return rc;
}

/* A key file that already opens a slot is not enrolled twice (a second
 * slot for one secret only hides that it is one).  Passphrases are not
 * checked: that would cost an Argon2id run per passphrase slot. */
static int keyfile_not_enrolled(const ks_file *f, const vault_secret *secret, const char *path)
{
    int rc = VAULT_OK, r;
    uint8_t *kek = NULL, *key = NULL, *keyfile = NULL;
    size_t i;

    if (secret->kind != VAULT_UNLOCK_KEYFILE || access((const char *)secret->data, F_OK) != 0)
        goto cleanup; /* a new key file is made from fresh random bytes */
    kek = vc_malloc(VC_KEYBYTES);
    key = vc_malloc(VAULT_KEY_BYTES);
    keyfile = vc_malloc(VAULT_KEY_BYTES + 1);
    ENSURE(kek && key && keyfile, VAULT_ENOMEM, "out of secure memory");
    GUARD(read_keyfile(keyfile, secret->data));
    for (i = 0; i < f->nslots; i++) {
        if (f->slots[i].kind != VAULT_UNLOCK_KEYFILE)
            continue;
        r = open_slot(key, kek, f, &f->slots[i], secret, keyfile);
        vault__err_clear();
        ENSURE(r != VAULT_OK, VAULT_EEXISTS, "keys file %s: that key file already unlocks slot %d",
               path, f->slots[i].number);
    }
cleanup:
    vc_free(kek);
    vc_free(key);
    vc_free(keyfile);
    return rc;
}

int ks_add(int *out_slot, const char *path, const uint8_t master[VAULT_KEY_BYTES],
           const vault_secret *secret, const char *label)
{
    int rc = VAULT_OK;
    ks_file *f = NULL;
    json_t *slot = NULL;
    int number;

    ENSURE(path && master, VAULT_EINVALID, "ks_add: missing argument");
    GUARD(vc_init());
    GUARD(check_secret(secret, 1));
    GUARD(check_label(label));
    GUARD(ks_load(&f, path));
    GUARD(verify_master(f, master));
    ENSURE(f->nslots < KS_MAX_SLOTS, VAULT_ELIMIT, "keys file %s already has %d slots, the most",
           path, KS_MAX_SLOTS);
    ENSURE(f->next_slot <= KS_SLOT_NUMBER_MAX, VAULT_ELIMIT, "keys file %s: no slot numbers left",
           path);
    number = (int)f->next_slot;
    GUARD(keyfile_not_enrolled(f, secret, path));
    GUARD(seal_slot(&slot, number, f->vault_id, master, secret, label, path));
    ENSURE(json_array_append(json_object_get(f->doc, "slots"), slot) == 0 &&
               json_object_set_new(f->doc, "next_slot", json_integer(f->next_slot + 1)) == 0,
           VAULT_ENOMEM, "out of memory building the keys file");
    GUARD(ks_store(f->doc, path, 0));
    if (out_slot)
        *out_slot = number;
cleanup:
    json_decref(slot);
    ks_file_free(f);
    return rc;
}

int ks_remove(const char *path, const uint8_t master[VAULT_KEY_BYTES], int slot)
{
    int rc = VAULT_OK;
    ks_file *f = NULL;
    size_t i;
    const ks_slot *found = NULL;

    ENSURE(path && master, VAULT_EINVALID, "ks_remove: missing argument");
    GUARD(vc_init());
    GUARD(ks_load(&f, path));
    GUARD(verify_master(f, master));
    for (i = 0; i < f->nslots; i++) {
        if (f->slots[i].number == slot)
            found = &f->slots[i];
    }
    ENSURE(found, VAULT_ENOTFOUND, "keys file %s has no slot %d", path, slot);
    ENSURE(f->nslots > 1, VAULT_ESTATE, "slot %d is the last one and can't be removed", slot);
    ENSURE(json_array_remove(json_object_get(f->doc, "slots"), found->index) == 0, VAULT_ERROR,
           "cannot remove slot %d", slot);
    GUARD(ks_store(f->doc, path, 0));
cleanup:
    ks_file_free(f);
    return rc;
}

/* ---- The audit anchor (docs/keyslots.md section 10) ------------------------- */

_Static_assert(sizeof KS_ANCHOR_LABEL == sizeof KS_ANCHOR_LABEL2, "anchor labels: 24 bytes");

static const char *const refused_names[] = {
    [KS_REFUSED_ROLLED_BACK] = "rolled back",
    [KS_REFUSED_REWRITTEN] = "rewritten",
    [KS_REFUSED_RECORD_MISSING] = "record missing",
};

const char *ks_refused_name(int cls)
{
    if (cls < KS_REFUSED_ROLLED_BACK || cls > KS_REFUSED_RECORD_MISSING)
        return NULL;
    return refused_names[cls];
}

/* mac = BLAKE2b-256 keyed with the master key over the label, the vault
 * id, the key, the size (u64 little-endian) and the root (32 zero bytes
 * when size is 0); with a refusal record (count > 0) the label is the v2
 * one and the count, first, last (u64 little-endian each) and the class
 * byte follow. */
static int anchor_mac(uint8_t out[32], const uint8_t master[VAULT_KEY_BYTES],
                      const uint8_t vault_id[VAULT_ID_BYTES], const ks_anchor *a)
{
    uint8_t msg[sizeof KS_ANCHOR_LABEL - 1 + VAULT_ID_BYTES + 32 + 8 + 32 + 8 + 8 + 8 + 1],
        *p = msg;
    const ks_refusals *r = &a->refused;

    memcpy(p, r->count ? KS_ANCHOR_LABEL2 : KS_ANCHOR_LABEL, sizeof KS_ANCHOR_LABEL - 1);
    p += sizeof KS_ANCHOR_LABEL - 1;
    memcpy(p, vault_id, VAULT_ID_BYTES);
    p += VAULT_ID_BYTES;
    memcpy(p, a->pk, 32);
    p += 32;
    put_le(p, a->size, 8);
    p += 8;
    if (a->size)
        memcpy(p, a->root, 32);
    else
        memset(p, 0, 32);
    p += 32;
    if (r->count) {
        put_le(p, r->count, 8);
        put_le(p + 8, (uint64_t)r->first, 8);
        put_le(p + 16, (uint64_t)r->last, 8);
        p[24] = (uint8_t)r->cls;
        p += 25;
    }
    return vc_keyed_hash(out, 32, master, msg, (size_t)(p - msg));
}

static int refused_parse(ks_refusals *out, json_t *obj, const char *path)
{
    int rc = VAULT_OK, i;
    json_int_t n = 0;
    const char *name = NULL;
    size_t len = 0;
    static const char where[] = "\"audit\".\"refused\"";

    ENSURE_INTACT(json_is_object(obj), "%s is not an object", where);
    GUARD(get_int(&n, obj, "count", 1, INT64_MAX, where, path));
    out->count = (uint64_t)n;
    GUARD(get_int(&n, obj, "first", 0, INT64_MAX, where, path));
    out->first = (int64_t)n;
    GUARD(get_int(&n, obj, "last", out->first, INT64_MAX, where, path));
    out->last = (int64_t)n;
    GUARD(get_string(&name, &len, obj, "class", where, path));
    out->cls = 0;
    for (i = KS_REFUSED_ROLLED_BACK; i <= KS_REFUSED_RECORD_MISSING; i++) {
        if (strlen(refused_names[i]) == len && memcmp(name, refused_names[i], len) == 0) /* memcmp ok: not secret */
            out->cls = i;
    }
    ENSURE_INTACT(out->cls != 0, "%s: \"class\" is not one this version knows", where);
cleanup:
    return rc;
}

/* The anchor of a loaded file, MAC-checked; *found = 0 without one. */
static int anchor_parse(ks_anchor *out, int *found, const ks_file *f,
                        const uint8_t master[VAULT_KEY_BYTES])
{
    int rc = VAULT_OK;
    const char *path = f->path;
    json_t *a, *r;
    json_int_t size = 0;
    uint8_t mac[32], want[32];
    static const char where[] = "\"audit\"";

    memset(out, 0, sizeof *out);
    *found = 0;
    a = json_object_get(f->doc, "audit");
    if (!a)
        goto cleanup; /* written before libvault pinned the audit key */
    ENSURE_INTACT(json_is_object(a), "\"audit\" is not an object");
    GUARD(get_b64(out->pk, sizeof out->pk, a, "key", where, path));
    GUARD(get_int(&size, a, "size", 0, INT64_MAX, where, path));
    out->size = (uint64_t)size;
    if (size > 0)
        GUARD(get_b64(out->root, sizeof out->root, a, "root", where, path));
    else
        ENSURE_INTACT(!json_object_get(a, "root"), "%s: a \"root\" without a checkpoint", where);
    r = json_object_get(a, "refused");
    if (r)
        GUARD(refused_parse(&out->refused, r, path));
    GUARD(get_b64(mac, sizeof mac, a, "mac", where, path));
    GUARD(anchor_mac(want, master, f->vault_id, out));
    ENSURE(vc_equal(want, mac, sizeof mac), VAULT_EINTEGRITY,
           "keys file %s: the pinned audit key failed its integrity check (the file was changed "
           "outside libvault)", path);
    *found = 1;
cleanup:
    if (rc < 0)
        memset(out, 0, sizeof *out);
    return rc;
}

/* Put `a` (key, size, root and refusal record) into the loaded file and
 * store it. */
static int anchor_fill(ks_file *f, const uint8_t master[VAULT_KEY_BYTES], const ks_anchor *a);

static int anchor_write(ks_file *f, const uint8_t master[VAULT_KEY_BYTES], const ks_anchor *a)
{
    int rc = VAULT_OK;

    GUARD(anchor_fill(f, master, a));
    GUARD(ks_store(f->doc, f->path, 0));
cleanup:
    return rc;
}

/* Put `a` into the loaded file's document (not stored). */
static int anchor_fill(ks_file *f, const uint8_t master[VAULT_KEY_BYTES], const ks_anchor *a)
{
    int rc = VAULT_OK;
    const char *path = f->path;
    json_t *obj = NULL;
    uint8_t mac[32];
    char pk64[64], root64[64], mac64[64];
    const ks_refusals *r = &a->refused;

    ENSURE(a->size <= (uint64_t)INT64_MAX, VAULT_EINVALID, "ks_anchor_set: size out of range");
    ENSURE(r->count == 0 || (r->count <= (uint64_t)INT64_MAX && r->first >= 0 &&
                             r->last >= r->first && ks_refused_name(r->cls)),
           VAULT_EINVALID, "keys file %s: refusal record out of range", path);
    GUARD(anchor_mac(mac, master, f->vault_id, a));
    GUARD(vc_bin2b64(pk64, sizeof pk64, a->pk, sizeof a->pk));
    GUARD(vc_bin2b64(mac64, sizeof mac64, mac, sizeof mac));
    obj = json_pack("{s:s, s:I, s:s}", "key", pk64, "size", (json_int_t)a->size, "mac", mac64);
    ENSURE(obj, VAULT_ENOMEM, "out of memory building the keys file");
    if (a->size) {
        GUARD(vc_bin2b64(root64, sizeof root64, a->root, sizeof a->root));
        ENSURE(json_object_set_new(obj, "root", json_string(root64)) == 0, VAULT_ENOMEM,
               "out of memory building the keys file");
    }
    if (r->count)
        ENSURE(json_object_set_new(obj, "refused",
                                   json_pack("{s:I, s:I, s:I, s:s}", "count",
                                             (json_int_t)r->count, "first", (json_int_t)r->first,
                                             "last", (json_int_t)r->last, "class",
                                             ks_refused_name(r->cls))) == 0,
               VAULT_ENOMEM, "out of memory building the keys file");
    ENSURE(json_object_set(f->doc, "audit", obj) == 0, VAULT_ENOMEM,
           "out of memory building the keys file");
cleanup:
    json_decref(obj);
    return rc;
}

int ks_anchor_get(ks_anchor *out, int *found, const char *path,
                  const uint8_t master[VAULT_KEY_BYTES])
{
    int rc = VAULT_OK;
    ks_file *f = NULL;

    ENSURE(out && found && path && master, VAULT_EINVALID, "ks_anchor_get: missing argument");
    memset(out, 0, sizeof *out);
    *found = 0;
    GUARD(vc_init());
    GUARD(ks_load(&f, path));
    GUARD(verify_master(f, master));
    GUARD(anchor_parse(out, found, f, master));
cleanup:
    ks_file_free(f);
    return rc;
}

int ks_holds(const char *path, const uint8_t master[VAULT_KEY_BYTES])
{
    int rc = VAULT_OK;
    ks_file *f = NULL;

    ENSURE(path && master, VAULT_EINVALID, "ks_holds: missing argument");
    GUARD(vc_init());
    GUARD(ks_load(&f, path));
    GUARD(verify_master(f, master));
cleanup:
    ks_file_free(f);
    return rc;
}

int ks_copy(const char *from, const char *to, const uint8_t master[VAULT_KEY_BYTES])
{
    int rc = VAULT_OK, found = 0;
    ks_file *f = NULL;
    ks_anchor a;

    ENSURE(from && to && master, VAULT_EINVALID, "ks_copy: missing argument");
    GUARD(vc_init());
    GUARD(ks_load(&f, from));
    GUARD(verify_master(f, master));
    /* The anchor goes along as it is: it must be intact (MAC) to start with. */
    GUARD(anchor_parse(&a, &found, f, master));
    GUARD(ks_store(f->doc, to, 1));
cleanup:
    vc_wipe(&a, sizeof a);
    ks_file_free(f);
    return rc;
}

int ks_anchor_set(const char *path, const uint8_t master[VAULT_KEY_BYTES], const ks_anchor *a)
{
    int rc = VAULT_OK, found = 0;
    ks_file *f = NULL;
    ks_anchor cur, next;

    ENSURE(path && master && a, VAULT_EINVALID, "ks_anchor_set: missing argument");
    GUARD(vc_init());
    GUARD(ks_load(&f, path));
    GUARD(verify_master(f, master));
    GUARD(anchor_parse(&cur, &found, f, master));
    next = *a;
    next.refused = cur.refused; /* zero when the file had none */
    GUARD(anchor_write(f, master, &next));
cleanup:
    ks_file_free(f);
    return rc;
}

int ks_refusal_note(ks_anchor *out, const char *path, const uint8_t master[VAULT_KEY_BYTES],
                    int cls, int64_t now)
{
    int rc = VAULT_OK, found = 0;
    ks_file *f = NULL;
    ks_anchor a;
    ks_refusals *r = &a.refused;

    ENSURE(path && master && ks_refused_name(cls) && now >= 0, VAULT_EINVALID,
           "ks_refusal_note: bad argument");
    GUARD(vc_init());
    GUARD(ks_load(&f, path));
    GUARD(verify_master(f, master));
    GUARD(anchor_parse(&a, &found, f, master));
    ENSURE(found, VAULT_ENOTFOUND, "keys file %s has no audit anchor to record a refusal in",
           path);
    if (r->count == 0)
        r->first = now;
    if (r->count < (uint64_t)INT64_MAX)
        r->count++;
    r->last = now > r->first ? now : r->first; /* a clock set back keeps first <= last */
    r->cls = cls;
    GUARD(anchor_write(f, master, &a));
    if (out)
        *out = a;
cleanup:
    ks_file_free(f);
    return rc;
}

int ks_refusal_clear(ks_anchor *out, int *cleared, const char *path,
                     const uint8_t master[VAULT_KEY_BYTES], const ks_refusals *logged)
{
    int rc = VAULT_OK, found = 0;
    ks_file *f = NULL;
    ks_anchor a;
    const ks_refusals *r = &a.refused;

    ENSURE(cleared && path && master && logged, VAULT_EINVALID,
           "ks_refusal_clear: missing argument");
    *cleared = 0;
    GUARD(vc_init());
    GUARD(ks_load(&f, path));
    GUARD(verify_master(f, master));
    GUARD(anchor_parse(&a, &found, f, master));
    if (found && r->count && r->count == logged->count && r->first == logged->first &&
        r->last == logged->last && r->cls == logged->cls) {
        memset(&a.refused, 0, sizeof a.refused);
        GUARD(anchor_write(f, master, &a));
        *cleared = 1;
    }
    if (out)
        *out = a;
cleanup:
    ks_file_free(f);
    return rc;
}

int ks_list(vault_keyslot_info **out, size_t *out_count, const char *path)
{
    int rc = VAULT_OK;
    ks_file *f = NULL;
    vault_keyslot_info *info = NULL;
    size_t i;

    ENSURE(out && out_count && path, VAULT_EINVALID, "ks_list: missing argument");
    GUARD(vc_init());
    GUARD(ks_load(&f, path));
    info = calloc(f->nslots, sizeof *info);
    ENSURE(info, VAULT_ENOMEM, "out of memory");
    for (i = 0; i < f->nslots; i++) {
        info[i].slot = f->slots[i].number;
        info[i].kind = f->slots[i].kind;
        memcpy(info[i].label, f->slots[i].label, sizeof info[i].label);
        info[i].created = f->slots[i].created;
    }
    *out = info;
    *out_count = f->nslots;
    info = NULL;
cleanup:
    free(info);
    ks_file_free(f);
    return rc;
}

int ks_keyfile_generate(const char *path)
{
    int rc = VAULT_OK;
    int fd = -1, created = 0, r;
    uint8_t *buf = NULL;

    ENSURE(path, VAULT_EINVALID, "ks_keyfile_generate: missing path");
    GUARD(vc_init());
    buf = vc_malloc(VAULT_KEY_BYTES);
    ENSURE(buf, VAULT_ENOMEM, "out of secure memory");
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    ENSURE(fd >= 0 || errno != EEXIST, VAULT_EEXISTS, "key file %s already exists", path);
    ENSURE(fd >= 0, VAULT_EIO, "cannot create key file %s: %s", path, strerror(errno));
    created = 1;
    /* 0600 whatever the umask took away. */
    ENSURE(fchmod(fd, 0600) == 0, VAULT_EIO, "cannot set the mode of %s: %s", path,
           strerror(errno));
    vc_random(buf, VAULT_KEY_BYTES);
    GUARD(write_all(fd, buf, VAULT_KEY_BYTES, path));
    ENSURE(fsync(fd) == 0, VAULT_EIO, "cannot sync %s: %s", path, strerror(errno));
    r = close(fd);
    fd = -1;
    ENSURE(r == 0, VAULT_EIO, "cannot close %s: %s", path, strerror(errno));
    GUARD(sync_dir(path));
cleanup:
    if (fd >= 0)
        close(fd);
    if (rc < 0 && created)
        (void)unlink(path);
    vc_free(buf);
    return rc;
}

/* The slot of f that `secret` opens (its index), VAULT_EAUTH for none. */
static int slot_opened_by(size_t *out, const ks_file *f, const vault_secret *secret,
                          const uint8_t master[VAULT_KEY_BYTES])
{
    int rc = VAULT_OK, r, found = 0;
    uint8_t *kek = NULL, *key = NULL, *keyfile = NULL;
    size_t i;

    kek = vc_malloc(VC_KEYBYTES);
    key = vc_malloc(VAULT_KEY_BYTES);
    ENSURE(kek && key, VAULT_ENOMEM, "out of secure memory");
    if (secret->kind == VAULT_UNLOCK_KEYFILE) {
        keyfile = vc_malloc(VAULT_KEY_BYTES + 1);
        ENSURE(keyfile, VAULT_ENOMEM, "out of secure memory");
        GUARD(read_keyfile(keyfile, secret->data));
    }
    for (i = 0; i < f->nslots && !found; i++) {
        if (f->slots[i].kind != secret->kind)
            continue;
        r = open_slot(key, kek, f, &f->slots[i], secret, keyfile);
        if (r == VAULT_OK && vc_equal(key, master, VAULT_KEY_BYTES)) {
            *out = i;
            found = 1;
        }
        vault__err_clear();
    }
    ENSURE(found, VAULT_EAUTH, "keys file %s: the %s to keep opens none of its slots", f->path,
           secret->kind == VAULT_UNLOCK_PASSPHRASE ? "passphrase" : "key file");
cleanup:
    vc_free(kek);
    vc_free(key);
    vc_free(keyfile);
    return rc;
}

int ks_rekey(ks_rekey_info *out, const char *from, const char *to,
             const uint8_t old_master[VAULT_KEY_BYTES], const uint8_t new_master[VAULT_KEY_BYTES],
             const vault_secret *keep, const vault_secret *add, const char *add_label)
{
    int rc = VAULT_OK, found = 0, kept_any = 0;
    ks_file *f = NULL;
    ks_file g;
    ks_anchor a;
    size_t kept = 0, i, n = 0;
    json_t *doc = NULL, *slots = NULL, *slot = NULL;
    uint8_t check[KS_CHECK_BYTES];
    char check64[64];
    struct stat st;

    ENSURE(out && from && to && old_master && new_master && (keep || add), VAULT_EINVALID,
           "ks_rekey: missing argument");
    memset(out, 0, sizeof *out);
    out->added = -1;
    memset(&g, 0, sizeof g);
    GUARD(vc_init());
    ENSURE(!vc_equal(old_master, new_master, VAULT_KEY_BYTES), VAULT_EINVALID,
           "ks_rekey: the new master key is the old one");
    if (keep)
        GUARD(check_secret(keep, 0));
    if (add) {
        GUARD(check_secret(add, 1));
        GUARD(check_label(add_label));
    }
    ENSURE(lstat(to, &st) != 0 && errno == ENOENT, VAULT_EEXISTS, "keys file %s already exists",
           to);
    GUARD(ks_load(&f, from));
    GUARD(verify_master(f, old_master));
    GUARD(anchor_parse(&a, &found, f, old_master)); /* intact, or refused */
    if (keep) {
        GUARD(slot_opened_by(&kept, f, keep, old_master));
        kept_any = 1;
    }
    if (add)
        GUARD(keyfile_not_enrolled(f, add, from));
    ENSURE(f->next_slot <= KS_SLOT_NUMBER_MAX, VAULT_ELIMIT, "keys file %s: no slot numbers left",
           from);
    doc = json_deep_copy(f->doc); /* keys this version does not know go along */
    slots = json_array();
    ENSURE(doc && slots, VAULT_ENOMEM, "out of memory building the keys file");
    GUARD(compute_check(check, new_master, f->vault_id));
    GUARD(vc_bin2b64(check64, sizeof check64, check, sizeof check));
    if (kept_any) {
        const ks_slot *k = &f->slots[kept];
        GUARD(seal_slot_like(&slot, k->number, f->vault_id, new_master, keep, k->label, to, k));
        ENSURE(json_array_append_new(slots, slot) == 0, VAULT_ENOMEM,
               "out of memory building the keys file");
        slot = NULL;
        out->kept = k->number;
    } else {
        out->kept = -1;
    }
    if (add) {
        GUARD(seal_slot(&slot, (int)f->next_slot, f->vault_id, new_master, add, add_label, to));
        ENSURE(json_array_append_new(slots, slot) == 0, VAULT_ENOMEM,
               "out of memory building the keys file");
        slot = NULL;
        out->added = (int)f->next_slot;
    }
    ENSURE(json_object_set_new(doc, "check", json_string(check64)) == 0 &&
               json_object_set_new(doc, "next_slot",
                                   json_integer(f->next_slot + (add ? 1 : 0))) == 0 &&
               json_object_set(doc, "slots", slots) == 0,
           VAULT_ENOMEM, "out of memory building the keys file");
    for (i = 0; i < f->nslots; i++) {
        if (kept_any && i == kept)
            continue;
        out->dropped[n].slot = f->slots[i].number;
        out->dropped[n].kind = f->slots[i].kind;
        memcpy(out->dropped[n].label, f->slots[i].label, sizeof out->dropped[n].label);
        out->dropped[n].created = f->slots[i].created;
        n++;
    }
    out->ndropped = n;
    g.path = to;
    g.doc = doc;
    memcpy(g.vault_id, f->vault_id, VAULT_ID_BYTES);
    if (found)
        GUARD(anchor_fill(&g, new_master, &a)); /* the refusal record too */
    GUARD(ks_store(doc, to, 1));
cleanup:
    vc_wipe(check, sizeof check);
    vc_wipe(&a, sizeof a);
    json_decref(slot);
    json_decref(slots);
    json_decref(doc);
    ks_file_free(f);
    return rc;
}

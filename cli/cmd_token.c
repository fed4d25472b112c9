/* vaultctl token keygen|issue: a development issuer of identity tokens
 * (EdDSA JWTs, docs/tokens.md) for tests and demos.  Production vaultd
 * configs name the city's identity provider instead. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"

#define SEED_BYTES 32
#define KEY_FILE_MAX 4096
#define SEED_PREFIX "ed25519-seed:"
#define TTL_MAX 86400               /* a development token lives a day at most */
#define TTL_DEFAULT 3600
#define CLAIM_MAX 256               /* iss, aud, sub, jti, kid: bytes */
#define TIME_MAX 253402300799LL     /* 9999-12-31T23:59:59Z */
#define B64_32 45                   /* base64 of 32 bytes, padded, + NUL */

enum { OPT_OUT = OPT__GLOBAL_END, OPT_ISSUER_KEY, OPT_ISS, OPT_AUD, OPT_SUB, OPT_TTL, OPT_JTI,
       OPT_KID, OPT_AT };

typedef struct issue_args {
    const char *out, *issuer_key, *iss, *aud, *sub, *ttl, *jti, *kid, *at;
} issue_args;

/* The Ed25519 secret key in sodium memory (seed and expanded key). */
typedef struct issuer_key {
    unsigned char *seed; /* SEED_BYTES */
    unsigned char *sk;   /* crypto_sign_SECRETKEYBYTES */
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
} issuer_key;

static int key_alloc(issuer_key *k, const cli *c)
{
    memset(k, 0, sizeof *k);
    k->seed = sodium_malloc(SEED_BYTES);
    k->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!k->seed || !k->sk) {
        cli_errf("%s: %s: out of secure memory", c->prog, c->cmd);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static void key_free(issuer_key *k)
{
    sodium_free(k->seed);
    sodium_free(k->sk);
    k->seed = k->sk = NULL;
}

static void print_public(const issuer_key *k)
{
    char b64[B64_32];

    sodium_bin2base64(b64, sizeof b64, k->pk, sizeof k->pk, sodium_base64_VARIANT_ORIGINAL);
    printf("ed25519:%s\n", b64);
}

static int keygen(cli *c, const issue_args *a)
{
    static const char head[] = "# vaultctl development token issuer key (Ed25519): tests and demos only.\n";
    issuer_key k;
    char *text = NULL, b64[B64_32], pub[B64_32];
    size_t cap = 512, len;
    FILE *f = NULL;
    int ex;

    if ((ex = key_alloc(&k, c)) != EXIT_OK)
        goto cleanup;
    if (!(text = sodium_malloc(cap))) {
        cli_errf("%s: %s: out of secure memory", c->prog, c->cmd);
        ex = EXIT_FAIL;
        goto cleanup;
    }
    randombytes_buf(k.seed, SEED_BYTES);
    crypto_sign_seed_keypair(k.pk, k.sk, k.seed);
    sodium_bin2base64(b64, sizeof b64, k.seed, SEED_BYTES, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(pub, sizeof pub, k.pk, sizeof k.pk, sodium_base64_VARIANT_ORIGINAL);
    len = (size_t)snprintf(text, cap, "%s# public key: ed25519:%s\n%s%s\n", head, pub, SEED_PREFIX,
                           b64);
    sodium_memzero(b64, sizeof b64);
    if ((ex = cli_file_create(&f, c, a->out)) != EXIT_OK)
        goto cleanup;
    /* Unbuffered: the seed goes from sodium memory to the file, not
     * through a stdio buffer left on the heap. */
    setvbuf(f, NULL, _IONBF, 0);
    (void)fwrite(text, 1, len, f); /* a short write sets the error flag */
    if ((ex = cli_file_finish(c, f, a->out, 1)) != EXIT_OK)
        goto cleanup;
    if (c->json)
        ex = cli_print_pack(c, "{s:s+}", "public_key", "ed25519:", pub);
    else
        print_public(&k);
cleanup:
    if (text)
        sodium_free(text);
    key_free(&k);
    return ex;
}

/* Read the key file into k (exit codes as the help says). */
static int key_read(issuer_key *k, const cli *c, const char *path)
{
    struct stat st;
    char *buf = NULL, *line, *next;
    const char *end = NULL, *b64;
    size_t n = 0, got = 0, found = 0;
    int bad;
    ssize_t r;
    int fd = -1, ex = EXIT_OK;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
        cli_errf("%s: %s: %s: %s", c->prog, c->cmd, path, strerror(errno));
        ex = errno == ENOENT ? EXIT_NOTFOUND : EXIT_FAIL;
        goto cleanup;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > KEY_FILE_MAX) {
        cli_errf("%s: %s: %s: not an issuer key file (a regular file of at most %d bytes)",
                 c->prog, c->cmd, path, KEY_FILE_MAX);
        ex = EXIT_INVALID;
        goto cleanup;
    }
    if (st.st_mode & 077) {
        cli_errf("%s: %s: %s: others may read this key (mode %03o); chmod 600 it", c->prog, c->cmd,
                 path, (unsigned)(st.st_mode & 0777));
        ex = EXIT_FAIL;
        goto cleanup;
    }
    if (!(buf = sodium_malloc(KEY_FILE_MAX + 1))) {
        cli_errf("%s: %s: out of secure memory", c->prog, c->cmd);
        ex = EXIT_FAIL;
        goto cleanup;
    }
    while (got < KEY_FILE_MAX && (r = read(fd, buf + got, KEY_FILE_MAX - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    bad = memchr(buf, '\0', got) != NULL;
    for (line = buf; !bad && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        b64 = line + strlen(SEED_PREFIX);
        found++;
        bad = strncmp(line, SEED_PREFIX, strlen(SEED_PREFIX)) != 0 ||
              sodium_base642bin(k->seed, SEED_BYTES, b64, strlen(b64), NULL, &n, &end,
                                sodium_base64_VARIANT_ORIGINAL) != 0 ||
              *end != '\0' || n != SEED_BYTES;
    }
    if (bad || found != 1) {
        cli_errf("%s: %s: %s: not an issuer key file (expected one line '%s<base64 of 32 "
                 "bytes>'; see 'vaultctl token keygen')",
                 c->prog, c->cmd, path, SEED_PREFIX);
        ex = EXIT_INVALID;
        goto cleanup;
    }
    crypto_sign_seed_keypair(k->pk, k->sk, k->seed);
cleanup:
    if (buf)
        sodium_free(buf);
    if (fd >= 0)
        close(fd);
    return ex;
}

/* A claim value from the command line: 1..max bytes, no control bytes. */
static int arg_ok(const cli *c, const char *opt, const char *v, size_t max)
{
    size_t n, i;

    if (!v || !*v)
        return cli_usage_error(c, "%s is required", opt);
    n = strlen(v);
    if (n > max)
        return cli_usage_error(c, "%s is longer than %zu bytes", opt, max);
    for (i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return cli_usage_error(c, "%s holds a control character", opt);
    return EXIT_OK;
}

static char *b64url(const void *p, size_t n)
{
    size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *s = malloc(cap);

    if (s)
        sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return s;
}

static int issue(cli *c, const issue_args *a)
{
    issuer_key k;
    json_t *hdr = NULL, *claims = NULL, *out = NULL;
    char *htext = NULL, *ctext = NULL, *h64 = NULL, *c64 = NULL, *s64 = NULL, *tok = NULL;
    char jti[2 * 16 + 1], *endp = NULL;
    unsigned char rnd[16], sig[crypto_sign_BYTES];
    const char *user = c->subject.user ? c->subject.user : a->sub;
    long long at;
    int64_t ttl = TTL_DEFAULT, now;
    size_t len;
    int ex = EXIT_OK;

    memset(&k, 0, sizeof k);
    if (!a->issuer_key || !*a->issuer_key)
        return cli_usage_error(c, "--issuer-key FILE is required");
    if ((ex = arg_ok(c, "--iss", a->iss, CLAIM_MAX)) != EXIT_OK ||
        (ex = arg_ok(c, "--aud", a->aud, CLAIM_MAX)) != EXIT_OK ||
        (ex = arg_ok(c, "--sub", a->sub, CLAIM_MAX)) != EXIT_OK ||
        (ex = arg_ok(c, "--user", user, vault_name_max() - 1)) != EXIT_OK ||
        (ex = arg_ok(c, "--role", c->subject.role, vault_name_max() - 1)) != EXIT_OK ||
        (ex = arg_ok(c, "--dept", c->subject.department, vault_name_max() - 1)) != EXIT_OK ||
        (ex = arg_ok(c, "--jurisdiction", c->subject.jurisdiction, vault_jurisdiction_max())) != EXIT_OK ||
        (a->jti && (ex = arg_ok(c, "--jti", a->jti, CLAIM_MAX)) != EXIT_OK) ||
        (a->kid && (ex = arg_ok(c, "--kid", a->kid, CLAIM_MAX)) != EXIT_OK))
        return ex;
    if (c->subject.purpose)
        return cli_usage_error(c, "--purpose is not part of an identity token (each request names its own)");
    if (a->ttl && ((ttl = cli_parse_duration(a->ttl)) < 0 || ttl > TTL_MAX))
        return cli_usage_error(c, "--ttl takes a duration like 30m or 8h, at most 24h "
                                  "(a development token)");
    now = (int64_t)time(NULL);
    if (a->at && strchr(a->at, '-')) { /* a date: the time forms of every option */
        int64_t t;
        if ((ex = cli_time_option(c, "--at", a->at, &t)) != EXIT_OK)
            return ex;
        if (t > TIME_MAX - TTL_MAX)
            return cli_usage_error(c, "--at: '%s' is too late for a token", a->at);
        now = t;
    } else if (a->at) {
        errno = 0;
        at = strtoll(a->at, &endp, 10);
        if (errno || endp == a->at || *endp || at < 0 || at > TIME_MAX - TTL_MAX)
            return cli_usage_error(c, "--at takes unix seconds or a time (2026-12-01T09:00:00Z, "
                                      "2026-12-01T09:00+08:00, '2026-12-01 09:00' local)");
        now = (int64_t)at;
    }
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(jti, sizeof jti, rnd, sizeof rnd);
    if ((ex = key_alloc(&k, c)) != EXIT_OK || (ex = key_read(&k, c, a->issuer_key)) != EXIT_OK)
        goto cleanup;
    hdr = a->kid ? json_pack("{s:s, s:s, s:s}", "alg", "EdDSA", "typ", "JWT", "kid", a->kid)
                 : json_pack("{s:s, s:s}", "alg", "EdDSA", "typ", "JWT");
    claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "iss", a->iss,
                       "aud", a->aud, "sub", a->sub, "preferred_username", user, "role",
                       c->subject.role, "department", c->subject.department, "jurisdiction",
                       c->subject.jurisdiction, "iat", (json_int_t)now, "nbf", (json_int_t)now,
                       "exp", (json_int_t)(now + ttl), "jti", a->jti ? a->jti : jti);
    if (!hdr || !claims || !(htext = json_dumps(hdr, JSON_COMPACT)) ||
        !(ctext = json_dumps(claims, JSON_COMPACT)) || !(h64 = b64url(htext, strlen(htext))) ||
        !(c64 = b64url(ctext, strlen(ctext)))) {
        cli_errf("%s: %s: out of memory (or an argument is not UTF-8)", c->prog, c->cmd);
        ex = EXIT_FAIL;
        goto cleanup;
    }
    len = strlen(h64) + 1 + strlen(c64) + 1 + 90;
    if (!(tok = malloc(len))) {
        cli_errf("%s: %s: out of memory", c->prog, c->cmd);
        ex = EXIT_FAIL;
        goto cleanup;
    }
    snprintf(tok, len, "%s.%s", h64, c64);
    crypto_sign_detached(sig, NULL, (const unsigned char *)tok, strlen(tok), k.sk);
    if (!(s64 = b64url(sig, sizeof sig))) {
        cli_errf("%s: %s: out of memory", c->prog, c->cmd);
        ex = EXIT_FAIL;
        goto cleanup;
    }
    snprintf(tok + strlen(tok), len - strlen(tok), ".%s", s64);
    if (c->json) {
        out = json_pack("{s:s, s:s, s:I}", "token", tok, "jti", a->jti ? a->jti : jti, "exp",
                        (json_int_t)(now + ttl));
        if (!out || cli_print_json(stdout, out) != 0) {
            cli_errf("%s: %s: out of memory", c->prog, c->cmd);
            ex = EXIT_FAIL;
        }
    } else {
        printf("%s\n", tok);
    }
cleanup:
    json_decref(hdr);
    json_decref(claims);
    json_decref(out);
    free(htext);
    free(ctext);
    free(h64);
    free(c64);
    free(s64);
    free(tok);
    key_free(&k);
    return ex;
}

int cmd_token(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"out", required_argument, NULL, OPT_OUT},
                                         {"issuer-key", required_argument, NULL, OPT_ISSUER_KEY},
                                         {"iss", required_argument, NULL, OPT_ISS},
                                         {"aud", required_argument, NULL, OPT_AUD},
                                         {"sub", required_argument, NULL, OPT_SUB},
                                         {"ttl", required_argument, NULL, OPT_TTL},
                                         {"jti", required_argument, NULL, OPT_JTI},
                                         {"kid", required_argument, NULL, OPT_KID},
                                         {"at", required_argument, NULL, OPT_AT},
                                         {NULL, 0, NULL, 0}};
    issue_args a;
    const char *sub = NULL;
    int opt, r, i;

    memset(&a, 0, sizeof a);
    opterr = 0;
    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        switch (opt) {
        case OPT_HELP: return cli_help_for("token");
        case OPT_OUT: a.out = optarg; continue;
        case OPT_ISSUER_KEY: a.issuer_key = optarg; continue;
        case OPT_ISS: a.iss = optarg; continue;
        case OPT_AUD: a.aud = optarg; continue;
        case OPT_SUB: a.sub = optarg; continue;
        case OPT_TTL: a.ttl = optarg; continue;
        case OPT_JTI: a.jti = optarg; continue;
        case OPT_KID: a.kid = optarg; continue;
        case OPT_AT: a.at = optarg; continue;
        default: break;
        }
        if ((r = cli_global_option(c, opt, optarg)) <= 0)
            return r < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option or missing value");
    }
    /* What is left: the subcommand word (getopt moved it behind the options). */
    for (i = optind; i < argc; i++) {
        if (!sub && (strcmp(argv[i], "keygen") == 0 || strcmp(argv[i], "issue") == 0)) {
            sub = argv[i];
            continue;
        }
        return cli_usage_error(c, "unexpected argument '%s'", argv[i]);
    }
    if (!sub)
        return cli_usage_error(c, "say 'token keygen' or 'token issue'");
    if (strcmp(sub, "keygen") == 0) {
        c->cmd = "token keygen";
        if (!a.out || !*a.out)
            return cli_usage_error(c, "--out FILE is required");
        if (a.issuer_key || a.iss || a.aud || a.sub || a.ttl || a.jti || a.kid || a.at)
            return cli_usage_error(c, "keygen takes --out FILE only");
        return keygen(c, &a);
    }
    c->cmd = "token issue";
    if (a.out)
        return cli_usage_error(c, "issue prints the token; redirect it to a file");
    return issue(c, &a);
}

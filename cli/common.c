/* vaultctl: options, unlocking, error reporting shared by the commands. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"

#define PASS_MAX 1024

extern char **environ;

/* Passphrase variables, taken out of the environment at start.  `data` is
 * sodium memory; get_passphrase hands it to the vault_secret (taken = 1),
 * and cli_secret_free releases it. */
typedef struct env_secret {
    const char *name;
    char *data;
    size_t len;
    int present, too_long, taken;
} env_secret;

static env_secret env_secrets[] = {
    {"VAULT_PASSPHRASE", NULL, 0, 0, 0, 0},
    {"VAULT_NEW_PASSPHRASE", NULL, 0, 0, 0, 0},
    {"VAULT_TOKEN", NULL, 0, 0, 0, 0},
};

/* Copy NAME's value into sodium memory, drop NAME from the environment,
 * then wipe the whole "NAME=value" strings: /proc/PID/environ shows the
 * original block, so unsetenv alone would leave them readable there. */
static int take_env(env_secret *e)
{
    size_t nlen = strlen(e->name), i, nhits = 0;
    char *hits[8], *val;

    for (i = 0; environ && environ[i]; i++) {
        if (strncmp(environ[i], e->name, nlen) != 0 || environ[i][nlen] != '=')
            continue;
        if (nhits < sizeof hits / sizeof hits[0])
            hits[nhits++] = environ[i];
        else /* absurdly many duplicates: wipe the value, keep the name */
            sodium_memzero(environ[i] + nlen + 1, strlen(environ[i] + nlen + 1));
    }
    if (nhits == 0)
        return 0;
    val = hits[0] + nlen + 1; /* getenv's answer: the first one */
    e->present = 1;
    e->len = strlen(val);
    if (e->len >= PASS_MAX) {
        e->too_long = 1;
        e->len = 0;
    } else {
        if (!(e->data = sodium_malloc(PASS_MAX)))
            return -1;
        memcpy(e->data, val, e->len + 1);
    }
    /* unsetenv first (it finds the entries by name), then wipe their bytes. */
    if (unsetenv(e->name) != 0)
        return -1;
    for (i = 0; i < nhits; i++)
        sodium_memzero(hits[i], strlen(hits[i]));
    return 0;
}

int cli_harden_process(const cli *c)
{
    static const struct rlimit no_core = {0, 0};
    size_t i;

    /* Keys live in this process: no core file may hold them. */
    if (setrlimit(RLIMIT_CORE, &no_core) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        cli_errf("%s: cannot disable core dumps: %s", c->prog, strerror(errno));
        return EXIT_FAIL;
    }
    if (sodium_init() < 0) { /* before sodium_malloc */
        cli_errf("%s: cannot initialise libsodium", c->prog);
        return EXIT_FAIL;
    }
    for (i = 0; i < sizeof env_secrets / sizeof env_secrets[0]; i++) {
        if (take_env(&env_secrets[i]) < 0) {
            cli_errf("%s: cannot take %s out of the environment", c->prog,
                    env_secrets[i].name);
            return EXIT_FAIL;
        }
    }
    return EXIT_OK;
}

void cli_env_secrets_free(void)
{
    size_t i;

    for (i = 0; i < sizeof env_secrets / sizeof env_secrets[0]; i++) {
        if (env_secrets[i].data && !env_secrets[i].taken)
            sodium_free(env_secrets[i].data);
        env_secrets[i].data = NULL;
    }
}

static env_secret *find_env_secret(const char *name)
{
    size_t i;

    for (i = 0; name && i < sizeof env_secrets / sizeof env_secrets[0]; i++)
        if (strcmp(env_secrets[i].name, name) == 0)
            return &env_secrets[i];
    return NULL;
}

int cli_exit_code(int rc)
{
    switch (rc) {
    case VAULT_OK: return EXIT_OK;
    case VAULT_EINTEGRITY: return EXIT_INTEGRITY;
    case VAULT_EDENIED: return EXIT_DENIED;
    case VAULT_ENOTFOUND: return EXIT_NOTFOUND;
    case VAULT_EAUTH: return EXIT_AUTH;
    case VAULT_EINVALID:
    case VAULT_EPOLICY:
    case VAULT_ELIMIT: return EXIT_INVALID;
    default: return EXIT_FAIL;
    }
}

int cli_fail(const cli *c, int rc)
{
    const char *msg = vault_error_last();

    cli_errf("%s: %s: %s", c->prog, c->cmd ? c->cmd : "error",
            *msg ? msg : vault_error_name(rc));
    return cli_exit_code(rc);
}

int cli_usage_error(const cli *c, const char *fmt, ...)
{
    va_list ap;
    char msg[1024];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* The message may quote what was typed: escaped like every error. */
    cli_errf("%s: %s: %s (see '%s %s --help')", c->prog, c->cmd ? c->cmd : "usage", msg, c->prog,
             c->cmd ? c->cmd : "");
    return EXIT_USAGE;
}

int cli_refuse_json(const cli *c)
{
    return cli_usage_error(c, "--json: no JSON output for %s (its output is not a result "
                              "object); run it without --json", c->cmd);
}

int64_t cli_parse_duration(const char *s)
{
    static const struct {
        char unit;
        long long seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    char *end = NULL;
    long long n;
    size_t i;

    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno || end == s || n <= 0 || !end[0] || end[1])
        return -1;
    for (i = 0; i < sizeof units / sizeof units[0]; i++)
        if (end[0] == units[i].unit)
            return n > INT64_MAX / units[i].seconds ? -1 : n * units[i].seconds;
    return -1;
}

int cli_global_option(cli *c, int opt, const char *arg)
{
    switch (opt) {
    case OPT_VAULT: c->vault_path = arg; c->vault_flag = 1; return 1;
    case OPT_KEY_FILE: c->key_file = arg; c->vault_flag = 1; return 1;
    case OPT_SERVER: c->server = arg; return 1;
    case OPT_TOKEN_FILE: c->token_file = arg; return 1;
    case OPT_CA_FILE: c->ca_file = arg; return 1;
    case OPT_CERT: c->cert_file = arg; return 1;
    case OPT_KEY: c->cert_key_file = arg; return 1;
    case OPT_JSON: c->json = 1; return 1;
    case OPT_LOCAL: c->local = 1; return 1;
    case OPT_UTC: c->local = 0; return 1;
    case OPT_USER: c->subject.user = arg; return 1;
    case OPT_ROLE: c->subject.role = arg; return 1;
    case OPT_DEPT: c->subject.department = arg; return 1;
    case OPT_JURISDICTION: c->subject.jurisdiction = arg; return 1;
    case OPT_PURPOSE: c->subject.purpose = arg; return 1;
    case OPT_KDF:
        if (strcmp(arg, "interactive") == 0)
            c->kdf_profile = VAULT_KDF_INTERACTIVE;
        else if (strcmp(arg, "moderate") == 0)
            c->kdf_profile = VAULT_KDF_MODERATE;
        else if (strcmp(arg, "sensitive") == 0)
            c->kdf_profile = VAULT_KDF_SENSITIVE;
        else {
            cli_errf("%s: --kdf must be interactive, moderate or sensitive", c->prog);
            return -1;
        }
        return 1;
    default: return 0;
    }
}

/* Read a line from the terminal with echo off into buf (sodium memory). */
static int prompt_secret(char *buf, size_t cap, size_t *len, const char *prompt)
{
    struct termios old, quiet;
    FILE *tty = fopen("/dev/tty", "r+");
    int ok = 0;
    size_t n;

    if (!tty)
        return -1;
    if (tcgetattr(fileno(tty), &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        fputs(prompt, tty);
        fflush(tty);
        tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
        ok = fgets(buf, (int)cap, tty) != NULL;
        tcsetattr(fileno(tty), TCSAFLUSH, &old);
        fputs("\n", tty);
    }
    fclose(tty);
    if (!ok)
        return -1;
    n = strlen(buf);
    if (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    *len = n;
    return 0;
}

void cli_secret_free(vault_secret *s)
{
    if (s && s->kind == VAULT_UNLOCK_PASSPHRASE && s->data)
        sodium_free((void *)s->data);
    if (s)
        memset(s, 0, sizeof *s);
}

/* Passphrase from `env` (as taken at start) or the terminal (confirm: ask
 * twice). */
static int get_passphrase(vault_secret *out, cli *c, const char *env, int confirm)
{
    env_secret *e = find_env_secret(env);
    char *buf = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    int rc = EXIT_OK;

    if (e && e->present && e->too_long) {
        rc = cli_usage_error(c, "%s is too long", env);
        goto out;
    }
    if (e && e->present && (e->taken || !e->data)) {
        /* Each variable unlocks once; its copy is wiped after use. */
        rc = cli_usage_error(c, "%s was already used", env);
        goto out;
    }
    if (e && e->present) {
        buf = e->data;
        len = e->len;
        e->taken = 1;
        e->data = NULL;
    } else if (isatty(STDIN_FILENO)) {
        if (!(buf = sodium_malloc(PASS_MAX))) {
            cli_errf("%s: out of secure memory", c->prog);
            rc = EXIT_FAIL;
            goto out;
        }
        if (prompt_secret(buf, PASS_MAX, &len, "Passphrase: ") < 0) {
            rc = cli_usage_error(c, "could not read a passphrase from the terminal");
            goto out;
        }
        if (confirm) {
            again = sodium_malloc(PASS_MAX);
            if (!again || prompt_secret(again, PASS_MAX, &len2, "Again: ") < 0 || len2 != len ||
                sodium_memcmp(again, buf, len) != 0) {
                rc = cli_usage_error(c, "the passphrases do not match");
                goto out;
            }
        }
    } else {
        rc = cli_usage_error(c, "no passphrase: give --key-file, set %s, or run on a terminal",
                             env ? env : "VAULT_PASSPHRASE");
        goto out;
    }
    if (confirm && len < 8) {
        rc = cli_usage_error(c, "a new passphrase must be at least 8 characters");
        goto out;
    }
    out->kind = VAULT_UNLOCK_PASSPHRASE;
    out->data = buf;
    out->len = len;
    out->kdf_profile = c->kdf_profile;
    buf = NULL;
out:
    if (buf)
        sodium_free(buf);
    if (again)
        sodium_free(again);
    return rc;
}

int cli_new_secret(vault_secret *out, cli *c, const char *key_file, const char *env)
{
    *out = (vault_secret)VAULT_SECRET_INIT;
    if (key_file) {
        if (access(key_file, F_OK) != 0) {
            int rc = vault_keyfile_generate(key_file);
            if (rc < 0)
                return cli_fail(c, rc);
            cli_errf("%s: wrote a new key file %s (keep it safe: it unlocks the vault)",
                    c->prog, key_file);
        }
        out->kind = VAULT_UNLOCK_KEYFILE;
        out->data = key_file;
        out->kdf_profile = c->kdf_profile;
        return EXIT_OK;
    }
    return get_passphrase(out, c, env, 1);
}

/* Client mode: connect to vaultd at --server. */
static int connect_server(vault **out, cli *c)
{
    vault_credentials cred = VAULT_CREDENTIALS_INIT;
    env_secret *tok = find_env_secret("VAULT_TOKEN");
    int rc;

    if (c->vault_flag)
        return cli_usage_error(c, "--server is client mode: --vault and --key-file are for a "
                                  "vault file (embedded mode)");
    if (c->subject.user || c->subject.role || c->subject.department || c->subject.jurisdiction)
        return cli_usage_error(c, "--server is client mode: the token says who is acting, so "
                                  "--user, --role, --dept and --jurisdiction are refused "
                                  "(give --purpose)");
    if (!c->token_file && !(tok && tok->present))
        return cli_usage_error(c, "--server needs an identity token: --token-file FILE or "
                                  "VAULT_TOKEN");
    if (!c->token_file && tok->too_long)
        return cli_usage_error(c, "VAULT_TOKEN is too long");
    cred = (vault_credentials)VAULT_CREDENTIALS_INIT;
    cred.token_file = c->token_file;
    cred.token = c->token_file ? NULL : tok->data;
    cred.ca_file = c->ca_file;
    cred.cert_file = c->cert_file;
    cred.key_file = c->cert_key_file;
    cred.purpose = c->subject.purpose;
    rc = vault_connect(out, c->server, &cred);
    return rc < 0 ? cli_fail(c, rc) : EXIT_OK;
}

int cli_unlock_secret(vault_secret *out, cli *c)
{
    *out = (vault_secret)VAULT_SECRET_INIT;
    if (c->key_file) {
        out->kind = VAULT_UNLOCK_KEYFILE;
        out->data = c->key_file;
        return EXIT_OK;
    }
    return get_passphrase(out, c, "VAULT_PASSPHRASE", 0);
}

int cli_open_vault(vault **out, cli *c)
{
    vault_secret secret = VAULT_SECRET_INIT;
    cli_progress bar;
    int rc, ex;

    *out = NULL;
    if (c->server)
        return connect_server(out, c);
    if (c->token_file || c->ca_file || c->cert_file || c->cert_key_file)
        return cli_usage_error(c, "--token-file, --ca-file, --cert and --key are for client "
                                  "mode: give --server URL");
    if (!c->vault_path || !*c->vault_path)
        return cli_usage_error(c, "which vault? give --vault PATH or set VAULT_PATH");
    if ((ex = cli_unlock_secret(&secret, c)) != EXIT_OK)
        return ex;
    /* A vault of an older release migrates as it opens: the bar shows it. */
    cli_progress_start(&bar, "migrating", "records");
    rc = vault_open_progress(out, c->vault_path, &secret, cli_progress_fn, &bar);
    cli_progress_end(&bar);
    cli_secret_free(&secret);
    if (rc == VAULT_OK && c->subject.user && (rc = vault_set_actor(*out, c->subject.user)) < 0) {
        ex = cli_fail(c, rc); /* before the close, which clears the message */
        vault_close(*out);
        *out = NULL;
        return ex;
    }
    return rc < 0 ? cli_fail(c, rc) : EXIT_OK;
}

int cli_open_session(vault_session **out, vault *v, cli *c)
{
    int rc;

    *out = NULL;
    if (vault_is_remote(v)) {
        if (!c->subject.purpose)
            return cli_usage_error(c, "say for what: --purpose is required (the token says "
                                      "who is acting)");
        rc = vault_session_open(out, v, &c->subject);
        return rc < 0 ? cli_fail(c, rc) : EXIT_OK;
    }
    if (!c->subject.user || !c->subject.role || !c->subject.department ||
        !c->subject.jurisdiction || !c->subject.purpose)
        return cli_usage_error(c, "say who is acting: --user, --role, --dept, --jurisdiction "
                                  "and --purpose are all required");
    rc = vault_session_open(out, v, &c->subject);
    return rc < 0 ? cli_fail(c, rc) : EXIT_OK;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *opts)
{
    char all[64];
    int opt;

    snprintf(all, sizeof all, "h%s", shortopts);
    opt = getopt_long(argc, argv, all, opts, NULL);
    return opt == 'h' ? OPT_HELP : opt;
}

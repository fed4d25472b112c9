/* vaultctl: shared command-line plumbing.  The CLI uses only vault.h. */
#ifndef VAULTCTL_CLI_H
#define VAULTCTL_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "vault.h"

/* Exit codes (DESIGN.md §7, docs/errors.md). */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_INTEGRITY 3
#define EXIT_DENIED 4
#define EXIT_NOTFOUND 5
#define EXIT_AUTH 6
#define EXIT_INVALID 7

/* Long-only global options get ids from here up. */
enum {
    OPT_VAULT = 1000,
    OPT_KEY_FILE,
    OPT_JSON,
    OPT_USER,
    OPT_ROLE,
    OPT_DEPT,
    OPT_JURISDICTION,
    OPT_PURPOSE,
    OPT_KDF,
    OPT_SERVER,
    OPT_TOKEN_FILE,
    OPT_CA_FILE,
    OPT_CERT,
    OPT_KEY,
    OPT_HELP,
    OPT_LOCAL,
    OPT_UTC,
    OPT__GLOBAL_END
};

typedef struct cli {
    const char *vault_path;
    const char *key_file;
    int vault_flag;          /* --vault or --key-file given on the command line */
    /* Client mode (--server): vaultd's URL, the token and the TLS files. */
    const char *server;
    const char *token_file;
    const char *ca_file;
    const char *cert_file;
    const char *cert_key_file;
    int json;
    int local;               /* times in local time (--local, or TZ set; --utc clears) */
    int kdf_profile;
    vault_subject subject;
    const char *prog;
    const char *cmd; /* e.g. "record get", for messages */
} cli;

/* getopt_long table entries for the global options, to splice into each
 * command's table: CLI_GLOBAL_OPTIONS, then its own, then {0}. */
#define CLI_GLOBAL_OPTIONS                                        \
    {"vault", required_argument, NULL, OPT_VAULT},                \
    {"key-file", required_argument, NULL, OPT_KEY_FILE},          \
    {"json", no_argument, NULL, OPT_JSON},                        \
    {"user", required_argument, NULL, OPT_USER},                  \
    {"role", required_argument, NULL, OPT_ROLE},                  \
    {"dept", required_argument, NULL, OPT_DEPT},                  \
    {"jurisdiction", required_argument, NULL, OPT_JURISDICTION},  \
    {"purpose", required_argument, NULL, OPT_PURPOSE},            \
    {"kdf", required_argument, NULL, OPT_KDF},                    \
    {"server", required_argument, NULL, OPT_SERVER},              \
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},      \
    {"ca-file", required_argument, NULL, OPT_CA_FILE},            \
    {"cert", required_argument, NULL, OPT_CERT},                  \
    {"key", required_argument, NULL, OPT_KEY},                    \
    {"help", no_argument, NULL, OPT_HELP},                        \
    {"local", no_argument, NULL, OPT_LOCAL},                      \
    {"utc", no_argument, NULL, OPT_UTC}

/* getopt_long over a command's options with -h as --help: returns
 * OPT_HELP for either (shortopts: the command's own short options, not
 * including h). */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *opts);

/* Handle a global option: 1 handled, 0 not a global option, -1 bad value. */
int cli_global_option(cli *c, int opt, const char *arg);

/* Report a library failure: "vaultctl: <cmd>: <message>" on stderr, and
 * return the exit code for the library code rc. */
int cli_fail(const cli *c, int rc);
/* Report a usage error and return EXIT_USAGE. */
int cli_usage_error(const cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Map a library code to an exit code. */
int cli_exit_code(int rc);

/* Open the vault named by --vault / VAULT_PATH, unlocking with --key-file,
 * VAULT_PASSPHRASE or a no-echo prompt on a terminal; or, with --server
 * URL, connect to vaultd (client mode) with the token of --token-file or
 * VAULT_TOKEN (and --ca-file, --cert, --key for https).  In client mode
 * the subject flags are a usage error (the token names the subject),
 * --purpose excepted. */
int cli_open_vault(vault **out, cli *c);
/* The secret that unlocks the vault's keys file, as cli_open_vault gets
 * it (--key-file, VAULT_PASSPHRASE or a no-echo prompt), for calls that
 * take one instead of a handle (restore).  Release with cli_secret_free. */
int cli_unlock_secret(vault_secret *out, cli *c);
/* Read a secret for a new slot: --key-file style path or passphrase from
 * `env` or a prompt (asked twice).  The passphrase buffer is sodium_malloc'ed;
 * release it with cli_secret_free. */
int cli_new_secret(vault_secret *out, cli *c, const char *key_file, const char *env);
void cli_secret_free(vault_secret *s);
/* Open a session for --user/--role/--dept/--jurisdiction/--purpose (in
 * client mode: --purpose alone). */
int cli_open_session(vault_session **out, vault *v, cli *c);

/* Before anything is unlocked: no core dumps (RLIMIT_CORE 0), not dumpable
 * or ptrace-attachable by the same user (PR_SET_DUMPABLE 0), and the
 * passphrase variables taken out of the environment and their bytes wiped
 * (so /proc/PID/environ no longer shows them).  EXIT_OK or EXIT_FAIL. */
int cli_harden_process(const cli *c);
/* Wipe and free what cli_harden_process kept of the environment. */
void cli_env_secrets_free(void);

/* The one safe file writer.  cli_file_create makes a new file for writing:
 * O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600 whatever the umask; an existing file
 * or a symbolic link at `path` is refused (never overwritten or followed).
 * cli_file_finish flushes, fsyncs and closes it, and removes it when a
 * write failed or when `ok` is 0 (the caller failed and said why).
 * cli_file_write does both for one buffer.  Each prints its own one-line
 * error (none for ok == 0) and returns EXIT_OK or EXIT_FAIL. */
int cli_file_create(FILE **out, const cli *c, const char *path);
int cli_file_finish(const cli *c, FILE *f, const char *path, int ok);
int cli_file_write(const cli *c, const char *path, const char *text, size_t len);

/* Escape text from the vault (field values, reasons) for output, so it
 * can't move the cursor, erase lines or reorder what a reviewer sees.
 * CLI_ESC_TEXT: C0/C1 controls, DEL and bidi controls (U+061C, U+200E/F,
 * U+202A-202E, U+2066-2069) become \n \t \r \xNN \u{XXXX}, invalid UTF-8
 * bytes \xNN, and a backslash \\.  CLI_ESC_JSON: for a document jansson
 * wrote (C0 already escaped), DEL, C1 and bidi controls become \uXXXX,
 * which is the same JSON.  CLI_ESC_LINES: as TEXT, but newlines and tabs
 * stay (multi-line text: policy sources, reports).  U+2028/U+2029 are
 * escaped in every style.  Returns a malloc'ed string, NULL when out of
 * memory. */
enum { CLI_ESC_TEXT, CLI_ESC_JSON, CLI_ESC_LINES };
char *cli_escape(const char *s, size_t len, int style);
/* One line on standard error, formatted, escaped (CLI_ESC_TEXT: file
 * names and messages may carry what a caller typed), then a newline. */
void cli_errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Multi-line text escaped with CLI_ESC_LINES. */
void cli_put_lines(FILE *f, const char *text);
/* Wipe and free a string that may hold values (cli_escape's result). */
void cli_text_free(char *s);
/* Print `s` escaped (CLI_ESC_TEXT), padded to `width` columns. */
int cli_print_escaped(FILE *f, const char *s, size_t len, int width);
/* json_dumps with JSON_INDENT(2), escaped (CLI_ESC_JSON), and a newline. */
int cli_print_json(FILE *f, const json_t *doc);
/* --json result of a command: json_pack(fmt, ...) printed with
 * cli_print_json on standard output; EXIT_OK, or EXIT_FAIL with a
 * one-line error naming c->cmd when the object can't be built. */
int cli_print_pack(const cli *c, const char *fmt, ...);
/* For a command whose output is no result object (a tour, a server, a
 * file streamed to stdout): the usage error for --json, EXIT_USAGE. */
int cli_refuse_json(const cli *c);

/* Terminal columns of a UTF-8 string, by the C library's wcwidth (CJK and
 * emoji 2, combining marks 0, an invalid byte 1), and printing padded to
 * a width in columns, so tables with Chinese text line up. */
int cli_display_width(const char *s);
void cli_print_padded(FILE *f, const char *s, int width);

/* Times (cli/timefmt.c, docs/cli-output.md).  cli_time_parse reads
 * 2026-12-01T09:00:00Z, 2026-12-01T09:00+08:00 (seconds and a fraction
 * optional; the fraction is dropped), a local "2026-12-01 09:00" or
 * 2026-12-01T09:00, or 2026-12-01 (local midnight), local being TZ or
 * the system zone, into Unix seconds (1970 .. 9999).  On failure `why`
 * says what is wrong, to follow the value in a message: CLI_TIME_BAD (no
 * such form, day, time or offset), CLI_TIME_GAP (a local time the clocks
 * skip), CLI_TIME_AMBIGUOUS (one they repeat: the message names both
 * offsets), CLI_TIME_RANGE.  cli_time_option prints that as a usage error
 * naming the option and the forms, and returns EXIT_OK or EXIT_USAGE. */
enum { CLI_TIME_OK = 0, CLI_TIME_BAD = -1, CLI_TIME_GAP = -2, CLI_TIME_AMBIGUOUS = -3,
       CLI_TIME_RANGE = -4 };
int cli_time_parse(int64_t *out, const char *s, char *why, size_t cap);
int cli_time_option(const cli *c, const char *opt, const char *s, int64_t *out);
/* `t` as 2026-12-01T09:00:00Z, or with local, 2026-12-01T17:00:00+08:00;
 * usec >= 0 adds six digits of fraction.  0, or -1 (out of range or no
 * room: "@<seconds>" when it fits). */
int cli_time_format(char *out, size_t cap, int64_t t, long usec, int local);
/* A copy of library text (listings, reports) with every UTC time in it
 * (YYYY-MM-DDTHH:MM:SS[.f]Z, standing alone) shown as local time with its
 * offset, fraction kept: the same instants.  NULL when out of memory. */
char *cli_time_localize(const char *text);
/* fputs of library text, localized when c->local. */
void cli_put_times(FILE *f, const cli *c, const char *text);

/* The one progress bar (cli/progress.c) for long operations: on standard
 * error, only when it is a terminal; "done / total unit (pct%)" and a bar
 * when the total is known, "done unit" otherwise; redrawn at most 10
 * times a second; cli_progress_end clears the line.  cli_progress_fn is a
 * vault_progress_fn taking the cli_progress as arg. */
typedef struct cli_progress {
    FILE *f;           /* NULL: draw nothing */
    const char *label; /* e.g. "verifying", a grade */
    const char *unit;  /* "entries", "records", "fields" */
    int drawn;
    int64_t last_ms;   /* when last drawn (monotonic), -1: never */
    uint64_t done, total;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *label, const char *unit);
void cli_progress_update(cli_progress *p, uint64_t done, uint64_t total);
void cli_progress_fn(uint64_t done, uint64_t total, void *arg);
void cli_progress_end(cli_progress *p);
/* For tests: draw to f as a terminal would, with the clock given. */
void cli_progress_start_on(cli_progress *p, FILE *f, const char *label, const char *unit);
void cli_progress_update_at(cli_progress *p, uint64_t done, uint64_t total, int64_t now_ms);

/* Once at start: LC_CTYPE from the environment when it is UTF-8, else
 * C.UTF-8, so wcwidth measures the columns of CJK, emoji and combining
 * marks (cli/text.c). */
void cli_locale_init(void);

/* "45s", "30m", "8h", "7d" -> seconds; -1 when malformed or too large. */
int64_t cli_parse_duration(const char *s);

/* Help (cli/help.c, from cli/vaultctl.help; docs/help.md).
 * cli_help_text: the text of "" (vaultctl --help), a group ("record") or
 * a leaf ("record add"); NULL when there is none.  cli_help_for prints
 * one to stdout (the top-level text for an unknown name) and returns
 * EXIT_OK.  cli_help_requested: when argv (from the command word, up to
 * "--") holds --help or -h, prints the help of the leaf its words name
 * (else of the command) and returns 1, whatever else is wrong in argv.
 * cli_help_command: `vaultctl help [COMMAND [SUBCOMMAND]]`, argv from
 * "help"; EXIT_OK, or EXIT_USAGE for an unknown name. */
const char *cli_help_text(const char *name);
int cli_help_for(const char *name);
int cli_help_requested(int argc, char **argv);
/* The command's name as its help names it, from argv (the command word
 * first): "record erase" for `record ID erase --bogus`, else argv[0].
 * Usage errors name it, and point to its --help. */
const char *cli_command_name(int argc, char **argv);
int cli_help_command(int argc, char **argv);

/* Commands: argc/argv start at the command word. */
int cmd_init(cli *c, int argc, char **argv);
int cmd_keyslot(cli *c, int argc, char **argv);
int cmd_key(cli *c, int argc, char **argv);
int cmd_policy(cli *c, int argc, char **argv);
int cmd_record(cli *c, int argc, char **argv);
int cmd_demo(cli *c, int argc, char **argv);
int cmd_audit(cli *c, int argc, char **argv);
int cmd_grant(cli *c, int argc, char **argv);       /* grant, grant approve */
int cmd_revoke(cli *c, int argc, char **argv);
int cmd_grants(cli *c, int argc, char **argv);
int cmd_break_glass(cli *c, int argc, char **argv);
int cmd_export(cli *c, int argc, char **argv);      /* resident's copy */
int cmd_import(cli *c, int argc, char **argv);      /* cli/cmd_import.c */
int cmd_canary(cli *c, int argc, char **argv);      /* cli/cmd_canary.c: canary add */
int cmd_key_rotate(cli *c, int argc, char **argv);  /* cli/cmd_rotate.c: key rotate */
int cmd_key_rotate_master(cli *c, int argc, char **argv); /* cli/cmd_rotate.c: key rotate-master */
int cmd_retention(cli *c, int argc, char **argv);   /* cli/cmd_retention.c: retention plan|run */
int cmd_token(cli *c, int argc, char **argv);       /* cli/cmd_token.c: development issuer */
int cmd_witness(cli *c, int argc, char **argv);     /* cli/cmd_witness.c: witness/ */
int cmd_backup(cli *c, int argc, char **argv);      /* cli/cmd_backup.c: backup */
int cmd_restore(cli *c, int argc, char **argv);     /* cli/cmd_backup.c: restore */
int cmd_migrate(cli *c, int argc, char **argv);     /* cli/cmd_backup.c: migrate */

#endif

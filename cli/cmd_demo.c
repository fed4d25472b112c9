/* vaultctl demo: a guided tour in a temporary directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "demo.h"
#include "synth.h"

#ifndef VAULT_POLICY_DIR
#define VAULT_POLICY_DIR "policies"
#endif

#define DEMO_RESIDENTS 3000
#define STREET "hangzhou/gongshu/xiaohe"

void demo_step(const char *title)
{
    printf("\n== %s\n", title);
}

static int fail(const char *what, int rc)
{
    cli_errf("vaultctl: demo: %s: %s", what, vault_error_last());
    return cli_exit_code(rc);
}

/* Print one field of a read the way a person would see it. */
void demo_show_read(vault_session *s, const char *who, const char *id, const char *const *fields,
                    size_t n)
{
    vault_result *r = NULL;
    size_t i, len;
    int rc = vault_record_get(&r, s, id, fields, n);

    printf("  %s reads record %.8s…:\n", who, id);
    if (rc < 0) {
        printf("    refused: %s\n", vault_error_last());
        return;
    }
    for (i = 0; i < vault_result_count(r); i++) {
        const char *val = vault_result_value(r, i, &len);
        int e = vault_result_effect(r, i);
        printf("    %-22s %-6s ", vault_result_field(r, i),
               e == VAULT_EFFECT_ALLOW ? "plain" : e == VAULT_EFFECT_MASK ? "masked" : "DENIED");
        cli_print_padded(stdout, e == VAULT_EFFECT_DENY ? "-" : val ? val : "(no value)", 36);
        printf(" (%s)\n", vault_result_reason(r, i)->text);
    }
    vault_result_free(r);
}

/* Does `needle` occur anywhere in the file's raw bytes? -1 if unreadable. */
static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    int found;

    if (!f)
        return -1;
    for (;;) {
        if (n == cap) {
            char *grown = realloc(buf, cap ? cap * 2 : 1 << 16);
            if (!grown) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = grown;
            cap = cap ? cap * 2 : 1 << 16;
        }
        got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    found = memmem(buf, n, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

static int open_as(vault_session **out, vault *v, const char *user, const char *role,
                   const char *dept, const char *jurisdiction, const char *purpose)
{
    vault_subject sub = {sizeof(vault_subject), user, role, dept, jurisdiction, purpose};
    int rc = vault_session_open(out, v, &sub);

    return rc < 0 ? fail("opening a session", rc) : 0;
}

static void remove_tree(const char *dir)
{
    static const char *const names[] = {"street.vault", "street.vault-wal", "street.vault-shm",
                                        "street.vault.keys", "street.key", "residents.csv",
                                        "audit.jsonl", "audit.pub", "tampered.jsonl",
                                        "checkpoint.txt", "hotline.vault", "hotline.vault-wal",
                                        "hotline.vault-shm", "hotline.vault.keys", "hotline.key",
                                        "street.vault.rkeys", "street.vault.rkeys-wal",
                                        "street.vault.rkeys-shm", "hotline.vault.rkeys",
                                        "hotline.vault.rkeys-wal", "hotline.vault.rkeys-shm"};
    char path[4096];
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    for (i = 0; demo_service_files[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, demo_service_files[i]);
        unlink(path);
    }
    rmdir(dir);
}


/* An installed vaultctl: `rel` (a path relative to this program's
 * directory, compiled in) + `name` in buf when it exists, else NULL. */
static const char *installed(char *buf, size_t cap, const char *self, const char *rel,
                             const char *name, int mode)
{
    const char *slash = strrchr(self, '/');

    if (!slash || !rel ||
        (size_t)snprintf(buf, cap, "%.*s/%s/%s", (int)(slash - self), self, rel, name) >= cap ||
        access(buf, mode) != 0)
        return NULL;
    return buf;
}

/* The vaultd to run: --vaultd, else the installed one beside an installed
 * vaultctl (sbin), else the one built with this vaultctl (its path
 * compiled in, as the policy directory is), else one next to this
 * program.  NULL (with a message) when none is there. */
static const char *find_vaultd(char *buf, size_t cap, const char *given, const char *self)
{
    const char *slash;

    if (given) {
        if (access(given, X_OK) == 0)
            return given;
        cli_errf("vaultctl: demo: --vaultd %s: %s", given, strerror(errno));
        return NULL;
    }
#ifdef VAULT_SBIN_INSTALLED
    if (installed(buf, cap, self, VAULT_SBIN_INSTALLED, "vaultd", X_OK))
        return buf;
#endif
#ifdef VAULT_VAULTD_PATH
    if (access(VAULT_VAULTD_PATH, X_OK) == 0)
        return VAULT_VAULTD_PATH;
#endif
    if ((slash = strrchr(self, '/')) &&
        (size_t)snprintf(buf, cap, "%.*s/vaultd", (int)(slash - self), self) < cap &&
        access(buf, X_OK) == 0)
        return buf;
    cli_errf("vaultctl: demo: vaultd not found (looked for %s%s%.*s/vaultd); build it with "
             "`make`, give --vaultd PATH, or run the embedded tour alone with --no-service",
#ifdef VAULT_VAULTD_PATH
             VAULT_VAULTD_PATH, " and ",
#else
             "", "",
#endif
             slash ? (int)(slash - self) : 1, slash ? self : ".");
    return NULL;
}

/* Write the synthetic residents as CSV (the demo imports them like a data
 * officer would); remember residents A and B.  Values have no commas or
 * quotes, so plain joining is valid CSV. */
static int write_csv(const cli *c, const char *path, long n, synth_resident *a, synth_resident *b)
{
    FILE *f = NULL;
    synth g;
    synth_resident r;
    long i;
    int have_a = 0, have_b = 0;

    if (cli_file_create(&f, c, path) != EXIT_OK)
        return -1;
    synth_init(&g, 20261123);
    fprintf(f, "jurisdiction,name,gender,birth_date,id_number,phone,address,health,disability\n");
    for (i = 0; i < n; i++) {
        synth_resident_make(&g, &r);
        if (!have_a && strcmp(r.jurisdiction, STREET "/changzheng/grid-07") == 0) {
            *a = r;
            have_a = 1;
        } else if (!have_b && strstr(r.jurisdiction, "/hushu/")) {
            *b = r;
            have_b = 1;
        }
        fprintf(f, "%s,%s,%s,%s,%s,%s,%s,%s,%s\n", r.jurisdiction, r.name, r.gender, r.birth_date,
                r.id_number, r.phone, r.address, r.health, r.disability);
    }
    if (cli_file_finish(c, f, path, 1) != EXIT_OK || !have_a || !have_b)
        return -1;
    return 0;
}

/* The one record whose id number is `idno`, found as `s`. */
static int find_one(char *out, vault_session *s, const char *idno)
{
    char *hits = NULL;
    size_t n = 0;
    int rc = vault_record_find(&hits, &n, s, "id_number", idno, strlen(idno));

    if (rc < 0)
        return fail("searching", rc);
    if (n != 1) {
        vault_free(hits);
        cli_errf("vaultctl: demo: expected one match, got %zu", n);
        return EXIT_FAIL;
    }
    memcpy(out, hits, VAULT_ID_HEX_SIZE);
    vault_free(hits);
    return 0;
}

static void say_verify(const char *what, int rc, const vault_audit_result *r)
{
    if (rc == 0)
        printf("  %s: intact (%llu entries, %llu signed checkpoints)\n", what,
               (unsigned long long)r->entries, (unsigned long long)r->checkpoints);
    else if (rc == VAULT_EINTEGRITY)
        printf("  %s: FAILED, %s at entry %llu (%s)\n", what, r->failure_name,
               (unsigned long long)r->bad_seq, r->message);
    else
        printf("  %s: could not run: %s\n", what, vault_error_last());
}

/* Copy src to dst, changing one character of line `line` (1-based) inside
 * its "entry" value: what someone editing a kept copy of the log would do. */
static int tamper_copy(const cli *c, const char *src, const char *dst, long line)
{
    FILE *in = fopen(src, "r"), *out = NULL;
    char *buf = NULL, *p;
    size_t cap = 0;
    ssize_t len;
    long n = 0;
    int done = 0;

    if (!in || cli_file_create(&out, c, dst) != EXIT_OK) {
        if (in)
            fclose(in);
        return -1;
    }
    while ((len = getline(&buf, &cap, in)) > 0) {
        if (++n == line && (p = strstr(buf, "\"entry\":\"")) && strlen(p) > 40) {
            p += 30; /* somewhere inside the base64 of the entry */
            *p = *p == 'A' ? 'B' : 'A';
            done = 1;
        }
        fputs(buf, out);
    }
    free(buf);
    fclose(in);
    return cli_file_finish(c, out, dst, 1) == EXIT_OK && done ? 0 : -1;
}

int cmd_demo(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"policy", required_argument, NULL, 'p'},
                                         {"keep", required_argument, NULL, 'k'},
                                         {"residents", required_argument, NULL, 'n'},
                                         {"vaultd", required_argument, NULL, 'd'},
                                         {"no-service", no_argument, NULL, 'S'},
                                         {NULL, 0, NULL, 0}};
    const char *policy = VAULT_POLICY_DIR "/community.yaml", *keep = NULL, *vaultd_opt = NULL;
    const char *vaultd = NULL;
    char self[4096], vaultd_buf[4096], policy_buf[4096];
    int service = 1, policy_given = 0;
    ssize_t self_len;
    char tmpl[] = "/tmp/vaultctl-demo-XXXXXX", *dir = NULL;
    char vpath[2048], kpath[2048], csv[2048], exp[2048], pub[2048], bad[2048], side[4096];
    char ida[VAULT_ID_HEX_SIZE], idb[VAULT_ID_HEX_SIZE], gid[VAULT_NAME_MAX], bg[VAULT_NAME_MAX];
    char pubkey[256], *report = NULL, *note = NULL;
    synth_resident a, b;
    vault *v = NULL;
    vault_session *officer = NULL, *grid = NULL, *health = NULL, *hotline = NULL, *judicial = NULL,
                  *police = NULL;
    vault_secret secret = {sizeof(vault_secret), VAULT_UNLOCK_KEYFILE, NULL, 0, 0};
    vault_audit_result res;
    vault_grant_spec spec = VAULT_GRANT_SPEC_INIT;
    int opt, rg, rc = VAULT_OK, ex = EXIT_OK, leak = 0, pending = 0;
    long residents = DEMO_RESIDENTS;
    size_t imported = 0, j;
    char *end = NULL;
    static const char *const grid_view[] = {"name", "gender", "phone", "id_number", "address",
                                            "health"};
    static const char *const health_view[] = {"name", "birth_date", "health", "disability"};
    static const char *const hotline_view[] = {"name", "phone", "community_correction",
                                               "complainant_identity"};
    static const char *const special_view[] = {"name", "community_correction"};
    const char *health_field = "health";
    const char *cc_field = "community_correction", *cc_value = "在矫";
    size_t cc_len = strlen(cc_value);

    while ((opt = cli_getopt(argc, argv, "", opts)) != -1) {
        if (opt == OPT_HELP)
            return cli_help_for("demo");
        if (opt == 'p')
            policy = optarg, policy_given = 1;
        else if (opt == 'k')
            keep = optarg;
        else if (opt == 'd')
            vaultd_opt = optarg;
        else if (opt == 'S')
            service = 0;
        else if (opt == 'n') {
            errno = 0;
            residents = strtol(optarg, &end, 10);
            if (errno || *end || residents < 50 || residents > 1000000)
                return cli_usage_error(c, "--residents takes 50 to 1000000");
        } else if ((rg = cli_global_option(c, opt, optarg)) <= 0)
            return rg < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option");
    }
    if (c->json) /* a guided tour for people, not a result */
        return cli_refuse_json(c);
    /* Find vaultd before the tour, so a missing one fails at once. */
    self_len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (self_len <= 0 || (size_t)self_len >= sizeof self - 1) {
        cli_errf("vaultctl: demo: cannot find this program (/proc/self/exe)");
        return EXIT_FAIL;
    }
    self[self_len] = '\0';
#ifdef VAULT_POLICY_DIR_INSTALLED
    /* Installed: the policy from the installed data directory. */
    if (!policy_given &&
        installed(policy_buf, sizeof policy_buf, self, VAULT_POLICY_DIR_INSTALLED,
                  "community.yaml", R_OK))
        policy = policy_buf;
#endif
    if (service && !(vaultd = find_vaultd(vaultd_buf, sizeof vaultd_buf, vaultd_opt, self)))
        return EXIT_FAIL;
    if (keep) {
        if (mkdir(keep, 0700) != 0) {
            cli_errf("vaultctl: demo: %s: %s", keep, strerror(errno));
            return EXIT_FAIL;
        }
        dir = (char *)keep;
    } else if (!(dir = mkdtemp(tmpl))) {
        cli_errf("vaultctl: demo: cannot make a temporary directory: %s", strerror(errno));
        return EXIT_FAIL;
    }
    snprintf(vpath, sizeof vpath, "%s/street.vault", dir);
    snprintf(kpath, sizeof kpath, "%s/street.key", dir);
    snprintf(csv, sizeof csv, "%s/residents.csv", dir);
    snprintf(exp, sizeof exp, "%s/audit.jsonl", dir);
    snprintf(pub, sizeof pub, "%s/audit.pub", dir);
    snprintf(bad, sizeof bad, "%s/tampered.jsonl", dir);

    printf("libvault demo: one resident record shared by several departments, each seeing\n"
           "only what the policy (%s) lets it see, and every access on the record.\n", policy);

    demo_step("1. A data officer creates the street office's vault");
    if ((rc = vault_keyfile_generate(kpath)) < 0) {
        ex = fail("key file", rc);
        goto out;
    }
    secret.data = kpath;
    if ((rc = vault_create(&v, vpath, policy, &secret)) < 0) {
        ex = fail("creating the vault", rc);
        goto out;
    }
    printf("  vault %s, unlocked by the key file %s\n", vpath, kpath);
    printf("  The master key is kept wrapped in street.vault.keys. The database is encrypted by\n"
           "  SQLCipher, and every field is sealed again with XChaCha20-Poly1305 under its grade's key.\n");

    demo_step("2. The officer imports synthetic residents from a CSV file");
    if (write_csv(c, csv, residents, &a, &b) < 0) {
        cli_errf("vaultctl: demo: could not write %s", csv);
        ex = EXIT_FAIL;
        goto out;
    }
    if ((ex = open_as(&officer, v, "li.officer", "data_officer", "street_office", STREET,
                      "resident_service")) != 0)
        goto out;
    if ((rc = vault_import_csv(&imported, officer, csv, NULL, NULL)) < 0) {
        ex = fail("importing", rc);
        goto out;
    }
    printf("  %zu residents imported in one all-or-nothing transaction (plausible names, ID numbers\n"
           "  with valid check digits, mobile numbers, addresses in 16 grids of two communities)\n",
           imported);
    if ((ex = find_one(ida, officer, a.id_number)) != 0 || (ex = find_one(idb, officer, b.id_number)) != 0)
        goto out;
    printf("  Resident A (record %.8s…) lives in changzheng grid-07, resident B (%.8s…) in hushu.\n"
           "  The officer found both by ID number through the keyed blind index, not by plaintext.\n",
           ida, idb);
    if ((ex = open_as(&judicial, v, "sun.judicial", "judicial_officer", "judicial", STREET,
                      "community_correction")) != 0)
        goto out;
    if ((rc = vault_record_put(judicial, ida, cc_field, cc_value, cc_len)) < 0) {
        ex = fail("recording community correction", rc);
        goto out;
    }
    printf("  The judicial office records that A is under community correction (special-protected).\n");

    demo_step("3. A grid worker of changzheng grid-07 (网格员) looks residents up");
    if ((ex = open_as(&grid, v, "wang.grid", "grid_worker", "community_committee",
                      STREET "/changzheng/grid-07", "grid_management")) != 0)
        goto out;
    demo_show_read(grid, "grid worker, own grid (A)", ida, grid_view, 6);
    demo_show_read(grid, "grid worker, other community (B)", idb, grid_view, 3);

    demo_step("4. The health department reads health fields for public health work");
    if ((ex = open_as(&health, v, "zhao.health", "health_worker", "health", STREET,
                      "public_health")) != 0)
        goto out;
    demo_show_read(health, "health worker", ida, health_view, 4);

    demo_step("5. The 12345 hotline desk never sees special-protected fields");
    if ((ex = open_as(&hotline, v, "sun.hotline", "hotline_agent", "hotline_12345", "hangzhou",
                      "hotline_followup")) != 0)
        goto out;
    demo_show_read(hotline, "hotline agent", ida, hotline_view, 4);

    /* 5b: the hotline policy next to the community one (the shipped ones). */
    {
        char hpol[2048], hv[2048], hk[2048];
        const char *slash = strrchr(policy, '/');
        int dirlen = slash ? (int)(slash - policy) : 1;

        snprintf(hpol, sizeof hpol, "%.*s/hotline.yaml", dirlen, slash ? policy : ".");
        snprintf(hv, sizeof hv, "%s/hotline.vault", dir);
        snprintf(hk, sizeof hk, "%s/hotline.key", dir);
        if (access(hpol, R_OK) != 0) {
            demo_step("5b. A complaint dispatched to the urban management bureau (12345 work order)");
            printf("  (skipped: no hotline.yaml next to %s)\n", policy);
        } else if ((ex = demo_hotline(hv, hk, hpol)) != EXIT_OK) {
            goto out;
        }
    }

    demo_step("6. The officer grants the grid worker two hours of masked health data, then revokes it");
    spec = (vault_grant_spec)VAULT_GRANT_SPEC_INIT;
    spec.user = "wang.grid";
    spec.department = "community_committee";
    spec.effect = VAULT_EFFECT_MASK;
    spec.fields = &health_field;
    spec.nfields = 1;
    spec.jurisdiction = STREET "/changzheng/grid-07";
    spec.purposes = (const char *[]){"grid_management"};
    spec.npurposes = 1;
    spec.not_after = (int64_t)time(NULL) + 2 * 3600;
    spec.reason = "heat-wave check on residents with chronic conditions";
    if ((rc = vault_grant_issue(gid, sizeof gid, &pending, officer, &spec)) < 0) {
        ex = fail("granting", rc);
        goto out;
    }
    printf("  grant %s: mask health, grid-07 only, 2 hours, reason \"%s\"\n", gid, spec.reason);
    demo_show_read(grid, "grid worker with the grant", ida, &health_field, 1);
    if ((rc = vault_grant_revoke(officer, gid, "check finished")) < 0) {
        ex = fail("revoking", rc);
        goto out;
    }
    printf("  grant %s revoked\n", gid);
    demo_show_read(grid, "grid worker after revocation", ida, &health_field, 1);
    spec.user = "wang.grid";
    spec.effect = VAULT_EFFECT_ALLOW;
    spec.fields = &cc_field;
    spec.reason = "curious";
    rc = vault_grant_issue(gid, sizeof gid, &pending, officer, &spec);
    printf("  granting the grid worker a special-protected field: %s\n",
           rc == 0 ? (pending ? "pending a second officer (and the policy's deny would still win)"
                              : "granted")
                   : vault_error_last());

    demo_step("7. Break-glass: a police officer in an emergency");
    if ((ex = open_as(&police, v, "wu.police", "police_officer", "public_security", "hangzhou",
                      "emergency")) != 0)
        goto out;
    demo_show_read(police, "police officer", ida, special_view, 2);
    if ((rc = vault_break_glass(bg, sizeof bg, police, ida, "missing-person search, 110 call",
                                3600)) < 0) {
        ex = fail("break-glass", rc);
        goto out;
    }
    printf("  %s: record A opened for one hour, reason on record\n", bg);
    demo_show_read(police, "police officer under break-glass", ida, special_view, 2);

    demo_step("8. Resident A asks \"who looked at my data?\"");
    if ((rc = vault_set_actor(v, "qian.compliance")) < 0) {
        ex = fail("naming the compliance officer", rc);
        goto out;
    }
    if ((rc = vault_audit_report(&report, v, VAULT_REPORT_RECORD, ida, 0)) < 0) {
        ex = fail("report", rc);
        goto out;
    }
    fputs(report, stdout);
    vault_free(report);
    report = NULL;
    if ((rc = vault_audit_report(&report, v, VAULT_REPORT_BREAK_GLASS, NULL, 0)) < 0) {
        ex = fail("report", rc);
        goto out;
    }
    {
        size_t lines = 0;
        const char *p;
        for (p = report; *p; p++)
            lines += *p == '\n';
        printf("  the break-glass review list (audit report --break-glass) has %zu entr%s\n", lines,
               lines == 1 ? "y" : "ies");
    }
    vault_free(report);
    report = NULL;

    demo_step("9. The audit log verifies; a tampered copy does not");
    rc = vault_audit_verify(&res, v, NULL, NULL, NULL);
    say_verify("the vault's log", rc, &res);
    if (rc < 0) {
        ex = cli_exit_code(rc);
        goto out;
    }
    if ((rc = vault_audit_checkpoint(&note, v)) < 0 ||
        (rc = vault_audit_pubkey(pubkey, sizeof pubkey, v)) < 0 ||
        (rc = vault_audit_export(v, exp, NULL, NULL)) < 0) {
        ex = fail("exporting the log", rc);
        goto out;
    }
    {
        FILE *f = NULL;
        if ((ex = cli_file_create(&f, c, pub)) != EXIT_OK)
            goto out;
        fprintf(f, "%s\n", pubkey);
        if ((ex = cli_file_finish(c, f, pub, 1)) != EXIT_OK)
            goto out;
    }
    printf("  exported the log to %s; public key: %s\n", exp, pubkey);
    rc = vault_audit_verify_export(&res, exp, pubkey, note, NULL, NULL);
    say_verify("offline, export + public key only", rc, &res);
    if (rc < 0) {
        ex = cli_exit_code(rc);
        goto out;
    }
    if (tamper_copy(c, exp, bad, (long)res.checkpoints + 12) < 0) {
        cli_errf("vaultctl: demo: could not make the tampered copy");
        ex = EXIT_FAIL;
        goto out;
    }
    rc = vault_audit_verify_export(&res, bad, pubkey, note, NULL, NULL);
    say_verify("a copy with one character changed", rc, &res);
    if (rc != VAULT_EINTEGRITY) {
        cli_errf("vaultctl: demo: the tampered copy was not caught");
        ex = EXIT_FAIL;
        goto out;
    }

    demo_step("10. The files on disk hold no plaintext");
    vault_session_close(officer);
    vault_session_close(grid);
    vault_session_close(health);
    vault_session_close(hotline);
    vault_session_close(judicial);
    vault_session_close(police);
    officer = grid = health = hotline = judicial = police = NULL;
    vault_close(v);
    v = NULL;
    for (j = 0; j < 5; j++) {
        static const char *const suffix[] = {"", "-wal", ".keys", ".rkeys", ".rkeys-wal"};
        const char *needles[7] = {a.name, a.phone, a.id_number, b.name, b.phone, b.id_number,
                                  cc_value};
        size_t q;
        if ((size_t)snprintf(side, sizeof side, "%s%s", vpath, suffix[j]) >= sizeof side)
            continue;
        for (q = 0; q < 7; q++)
            if (file_contains(side, needles[q]) == 1)
                leak = 1;
    }
    printf("  I searched %s, its -wal file, its .keys file and its record-key store\n"
           "  (.rkeys, -wal) for A's and B's names,\n"
           "  phone numbers and ID numbers: %s\n", vpath,
           leak ? "FOUND (this is a bug)" : "none found");
    if (leak)
        ex = EXIT_FAIL;
    if (service && !leak) {
        demo_service_in in = {dir, vpath, kpath, vaultd, self, ida, idb};
        fflush(stdout);
        if ((ex = demo_service(c, &in)) != EXIT_OK)
            goto out;
    }
    printf("\nDone.  %s\n", keep ? "The vault and its files were kept in the directory given."
                                 : "The temporary directory is removed.");
out:
    vault_free(report);
    vault_free(note);
    vault_session_close(officer);
    vault_session_close(grid);
    vault_session_close(health);
    vault_session_close(hotline);
    vault_session_close(judicial);
    vault_session_close(police);
    vault_close(v);
    if (!keep && dir)
        remove_tree(dir);
    return ex;
}

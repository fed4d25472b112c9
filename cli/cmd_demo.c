/* vaultctl demo: a guided tour in a temporary directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "synth.h"

#ifndef VAULT_POLICY_DIR
#define VAULT_POLICY_DIR "policies"
#endif

#define DEMO_RESIDENTS 300
#define STREET "hangzhou/gongshu/xiaohe"

static const char demo_help[] =
    "usage: vaultctl demo [--policy FILE] [--keep DIR] [--residents N]\n"
    "\n"
    "Create a vault in a temporary directory from the default community policy, fill it\n"
    "with synthetic residents, and narrate what different staff can and cannot see.\n"
    "--keep DIR leaves the vault in DIR (which must not exist) instead of deleting it.\n"
    "\n"
    "example:\n"
    "  vaultctl demo\n";

static void step(const char *title)
{
    printf("\n== %s\n", title);
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "vaultctl: demo: %s: %s\n", what, vault_error_last());
    return cli_exit_code(rc);
}

/* Print one field of a read the way a person would see it. */
static void show_read(vault_session *s, const char *who, const char *id, const char *const *fields,
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
        printf("    %-22s %-6s %-28s (%s)\n", vault_result_field(r, i),
               e == VAULT_EFFECT_ALLOW ? "plain" : e == VAULT_EFFECT_MASK ? "masked" : "DENIED",
               e == VAULT_EFFECT_DENY ? "-" : val ? val : "(no value)",
               vault_result_reason(r, i)->text);
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
    vault_subject sub = {user, role, dept, jurisdiction, purpose};
    int rc = vault_session_open(out, v, &sub);

    return rc < 0 ? fail("opening a session", rc) : 0;
}

static void remove_tree(const char *dir)
{
    static const char *const names[] = {"street.vault", "street.vault-wal", "street.vault-shm",
                                        "street.vault.keys", "street.key"};
    char path[4096];
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int cmd_demo(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS,
                                         {"policy", required_argument, NULL, 'p'},
                                         {"keep", required_argument, NULL, 'k'},
                                         {"residents", required_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    const char *policy = VAULT_POLICY_DIR "/community.yaml", *keep = NULL;
    char tmpl[] = "/tmp/vaultctl-demo-XXXXXX", *dir = NULL;
    char vpath[2048], kpath[2048], side[4096];
    char ids[DEMO_RESIDENTS * 4][VAULT_ID_HEX_SIZE];
    synth_resident people[8];
    vault *v = NULL;
    vault_session *officer = NULL, *grid = NULL, *health = NULL, *hotline = NULL;
    vault_secret secret = {VAULT_UNLOCK_KEYFILE, NULL, 0, 0};
    synth g;
    synth_resident r;
    int opt, rg, rc = VAULT_OK, ex = EXIT_OK, leak = 0;
    long residents = DEMO_RESIDENTS, i, in_grid = -1, outside = -1;
    char *end = NULL, *hits = NULL;
    size_t nhits = 0, j;
    static const char *const fields[] = {"name", "gender", "birth_date", "id_number", "phone",
                                         "address", "health", "disability"};
    static const char *const grid_view[] = {"name", "gender", "phone", "id_number", "address",
                                            "health"};
    static const char *const health_view[] = {"name", "birth_date", "health", "disability"};
    static const char *const hotline_view[] = {"name", "phone", "community_correction",
                                               "complainant_identity"};

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == OPT_HELP)
            return cli_help(demo_help);
        if (opt == 'p')
            policy = optarg;
        else if (opt == 'k')
            keep = optarg;
        else if (opt == 'n') {
            errno = 0;
            residents = strtol(optarg, &end, 10);
            if (errno || *end || residents < 10 || residents > DEMO_RESIDENTS * 4)
                return cli_usage_error(c, "--residents takes 10 to %d", DEMO_RESIDENTS * 4);
        } else if ((rg = cli_global_option(c, opt, optarg)) <= 0)
            return rg < 0 ? EXIT_USAGE : cli_usage_error(c, "unknown option");
    }
    if (keep) {
        if (mkdir(keep, 0700) != 0) {
            fprintf(stderr, "vaultctl: demo: %s: %s\n", keep, strerror(errno));
            return EXIT_FAIL;
        }
        dir = (char *)keep;
    } else if (!(dir = mkdtemp(tmpl))) {
        fprintf(stderr, "vaultctl: demo: cannot make a temporary directory: %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    snprintf(vpath, sizeof vpath, "%s/street.vault", dir);
    snprintf(kpath, sizeof kpath, "%s/street.key", dir);

    printf("libvault demo: one resident record shared by several departments, each seeing\n"
           "only what the policy (%s) lets it see.\n", policy);

    step("1. A data officer creates the street office's vault");
    if ((rc = vault_keyfile_generate(kpath)) < 0) {
        ex = fail("key file", rc);
        goto out;
    }
    secret.data = kpath;
    if ((rc = vault_create(&v, vpath, policy, &secret)) < 0) {
        ex = fail("creating the vault", rc);
        goto out;
    }
    printf("  vault %s, unlocked by key file %s\n", vpath, kpath);
    printf("  the master key sits in %s.keys, wrapped; the database is SQLCipher-encrypted\n"
           "  and every field is sealed again with XChaCha20-Poly1305 under a key for its grade.\n",
           vpath);

    step("2. The officer enters synthetic residents across two communities and 8 grids each");
    if ((ex = open_as(&officer, v, "li.officer", "data_officer", "street_office", STREET,
                      "resident_service")) != 0)
        goto out;
    synth_init(&g, 20261123);
    for (i = 0; i < residents; i++) {
        const char *all[8], *names[8], *vals[8];
        size_t lens[8], nv = 0;
        synth_resident_make(&g, &r);
        all[0] = r.name, all[1] = r.gender, all[2] = r.birth_date, all[3] = r.id_number;
        all[4] = r.phone, all[5] = r.address, all[6] = r.health, all[7] = r.disability;
        for (j = 0; j < 8; j++) {
            if (!*all[j]) /* no condition, no disability: leave the field unset */
                continue;
            names[nv] = fields[j];
            vals[nv] = all[j];
            lens[nv++] = strlen(all[j]);
        }
        if ((rc = vault_record_add(ids[i], sizeof ids[i], officer, r.jurisdiction, nv, names, vals,
                                   lens)) < 0) {
            ex = fail("adding a resident", rc);
            goto out;
        }
        if (in_grid < 0 && strcmp(r.jurisdiction, "hangzhou/gongshu/xiaohe/changzheng/grid-07") == 0) {
            in_grid = i;
            people[0] = r;
        } else if (outside < 0 && strstr(r.jurisdiction, "hushu/")) {
            outside = i;
            people[1] = r;
        }
    }
    printf("  %ld residents written (names, ID numbers with valid check digits, mobiles, addresses)\n",
           residents);
    if (in_grid < 0 || outside < 0) {
        fprintf(stderr, "vaultctl: demo: too few residents to show every case; use more\n");
        ex = EXIT_FAIL;
        goto out;
    }
    printf("  resident A lives in changzheng/grid-07, resident B in the hushu community\n");

    step("3. A grid worker of changzheng grid-07 (网格员) looks residents up");
    if ((ex = open_as(&grid, v, "wang.grid", "grid_worker", "community_committee",
                      STREET "/changzheng/grid-07", "grid_management")) != 0)
        goto out;
    show_read(grid, "grid worker, own grid", ids[in_grid], grid_view, 6);
    show_read(grid, "grid worker, other community", ids[outside], grid_view, 6);

    step("4. The health department reads health fields for public health work");
    if ((ex = open_as(&health, v, "zhao.health", "health_worker", "health", STREET,
                      "public_health")) != 0)
        goto out;
    show_read(health, "health worker", ids[in_grid], health_view, 4);

    step("5. The 12345 hotline desk never sees special-protected fields");
    if ((ex = open_as(&hotline, v, "sun.hotline", "hotline_agent", "hotline_12345", "hangzhou",
                      "hotline_followup")) != 0)
        goto out;
    show_read(hotline, "hotline agent", ids[in_grid], hotline_view, 4);

    step("6. Finding a resident by ID number uses a keyed blind index, not plaintext");
    rc = vault_record_find(&hits, &nhits, officer, "id_number", people[0].id_number,
                           strlen(people[0].id_number));
    if (rc < 0) {
        ex = fail("searching", rc);
        goto out;
    }
    printf("  the officer searches by resident A's ID number: %zu match%s%s%.8s…\n", nhits,
           nhits == 1 ? "" : "es", nhits ? ", record " : "", nhits ? hits : "");
    vault_free(hits);
    hits = NULL;

    step("7. The files on disk hold no plaintext");
    vault_close(v);
    v = NULL;
    for (j = 0; j < 3; j++) {
        static const char *const suffix[] = {"", "-wal", ".keys"};
        const char *needles[6] = {people[0].name, people[0].phone, people[0].id_number,
                                  people[1].name, people[1].phone, people[1].id_number};
        size_t q;
        if ((size_t)snprintf(side, sizeof side, "%s%s", vpath, suffix[j]) >= sizeof side)
            continue;
        for (q = 0; q < 6; q++)
            if (file_contains(side, needles[q]) == 1)
                leak = 1;
    }
    printf("  searched %s, its -wal and .keys files for residents A and B's names,\n"
           "  phone numbers and ID numbers: %s\n", vpath, leak ? "FOUND (this is a bug)" : "none found");
    if (leak)
        ex = EXIT_FAIL;

    printf("\nDone.  %s\n", keep ? "The vault was kept in the directory given." :
                                   "The temporary directory is removed.");
out:
    vault_session_close(officer);
    vault_session_close(grid);
    vault_session_close(health);
    vault_session_close(hotline);
    vault_close(v);
    if (!keep && dir)
        remove_tree(dir);
    return ex;
}

/* limits: every size and count limit is refused with a clear error, never
 * a crash or unbounded memory: huge field values, huge and deeply nested
 * policies, long jurisdictions and names, thousands of grants, and CSV
 * files with a 10 MB cell or a million columns.  Where memory matters the
 * operation runs in a child process whose peak RSS (getrusage, with the
 * high-water mark reset first) must stay under a bound. */
#include "testutil.h"
#include "testsnap.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "audit/audit_format.h"
#include "policy/policy.h"
#include "store/store.h"
#include "vault_int.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"
#define MIB (1024 * 1024)
/* Peak RSS an operation may add (KiB).  Generous, for the ASan build; the
 * inputs below are 10 to 100 times larger, so an operation that buffered
 * or copied its input whole would blow through it. */
#define GROWTH_LIMIT_KB (24 * 1024)

typedef struct fixture {
    char *dir;
    char path[512];
    char keyfile[512];
    vault *v;
    vault_session *officer;
    char id[VAULT_ID_HEX_SIZE];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    vault_secret s = VAULT_SECRET_INIT;
    const char *fields[] = {"name", "phone"}, *values[] = {"张三", "13812345678"};
    size_t lens[] = {strlen(values[0]), 11};

    assert_non_null(f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/limits.vault", f->dir);
    snprintf(f->keyfile, sizeof f->keyfile, "%s/limits.key", f->dir);
    assert_int_equal(vault_keyfile_generate(f->keyfile), 0);
    s = tu_keyfile_secret(f->keyfile);
    assert_int_equal(vault_create(&f->v, f->path, POLICY, &s), 0);
    f->officer = tu_session(f->v, "li", "data_officer", "street_office", STREET, "resident_service");
    assert_int_equal(vault_record_add(f->id, sizeof f->id, f->officer, GRID7, 2, fields, values,
                                      lens), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    vault_session_close(f->officer);
    vault_close(f->v);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- helpers ---- */

static char *filled(size_t n, char c)
{
    char *p = malloc(n + 1);

    assert_non_null(p);
    memset(p, c, n);
    p[n] = '\0';
    return p;
}

static char *path_in(fixture *f, const char *name)
{
    size_t n = strlen(f->dir) + strlen(name) + 2;
    char *p = malloc(n);

    assert_non_null(p);
    snprintf(p, n, "%s/%s", f->dir, name);
    return p;
}

/* Error messages are one bounded line. */
static void assert_clear_error(int rc)
{
    const char *msg = vault_error_last();

    assert_true(rc < 0);
    assert_int_equal(vault_error_code(), rc);
    assert_true(msg[0] != '\0');
    assert_true(strlen(msg) < 1024);
    assert_null(strchr(msg, '\n'));
}

static long maxrss_kb(void)
{
    struct rusage ru;

    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

/* Reset this process's RSS high-water mark to its current RSS (Linux
 * /proc/PID/clear_refs "5"); then getrusage's ru_maxrss measures from now. */
static int reset_peak(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    int ok;

    if (fd < 0)
        return -1;
    ok = write(fd, "5", 1) == 1;
    close(fd);
    return ok ? 0 : -1;
}

typedef struct measured {
    int rc;
    long growth_kb;
    char msg[512];
} measured;

/* Run op(f, arg) in a child with its own vault handle (never a connection
 * shared across fork) and report its return code, message and the peak
 * RSS it added.  The child must exit normally: a crash fails the test. */
static measured run_measured(fixture *f, int (*op)(fixture *, vault *, vault_session *, void *),
                             void *arg)
{
    int pfd[2], status = 0;
    pid_t pid;
    measured m;
    ssize_t got;

    memset(&m, 0, sizeof m);
    assert_int_equal(pipe(pfd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        vault *v = NULL;
        vault_session *s = NULL;
        vault_secret sec = tu_keyfile_secret(f->keyfile);
        vault_subject sub = {sizeof(vault_subject), "li", "data_officer", "street_office", STREET, "resident_service"};
        long before;

        close(pfd[0]);
        if (vault_open(&v, f->path, &sec) != 0 || vault_session_open(&s, v, &sub) != 0)
            _exit(3);
        if (reset_peak() != 0)
            fprintf(stderr, "note: /proc/self/clear_refs not writable; growth is approximate\n");
        before = maxrss_kb();
        m.rc = op(f, v, s, arg);
        m.growth_kb = maxrss_kb() - before;
        snprintf(m.msg, sizeof m.msg, "%s", vault_error_last());
        if (write(pfd[1], &m, sizeof m) != (ssize_t)sizeof m)
            _exit(4);
        vault_session_close(s);
        vault_close(v);
        _exit(0);
    }
    close(pfd[1]);
    got = read(pfd[0], &m, sizeof m);
    close(pfd[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("child did not exit normally (status 0x%x)", status);
    assert_int_equal(got, (ssize_t)sizeof m);
    return m;
}

/* ---- field values ---- */

static void test_value_limit(void **state)
{
    fixture *f = *state;
    char *big = filled(VAULT_VALUE_MAX + 1, 'a');
    const char *field = "address";
    vault_result *r = NULL;
    size_t len = 0;
    const char *val;
    char *hits = NULL;
    size_t n = 0;
    int64_t before = 0, after = 0;

    /* exactly the limit: stored and read back whole */
    assert_int_equal(vault_record_put(f->officer, f->id, "address", big, VAULT_VALUE_MAX), 0);
    assert_int_equal(vault_record_get(&r, f->officer, f->id, &field, 1), 0);
    val = vault_result_value(r, 0, &len);
    assert_non_null(val);
    assert_int_equal(len, VAULT_VALUE_MAX);
    assert_int_equal(val[0], 'a');
    assert_int_equal(val[len - 1], 'a');
    vault_result_free(r);
    /* one byte more: refused, nothing written, nothing logged as a write */
    assert_int_equal(TU_SNAP(f->v->db, store_audit_count(&before, f->v->db)), 0);
    assert_int_equal(vault_record_put(f->officer, f->id, "address", big, VAULT_VALUE_MAX + 1),
                     VAULT_ELIMIT);
    assert_clear_error(VAULT_ELIMIT);
    assert_non_null(strstr(vault_error_last(), "65536"));
    assert_int_equal(TU_SNAP(f->v->db, store_audit_count(&after, f->v->db)), 0);
    assert_int_equal(after, before);
    /* in a multi-field add: all or nothing */
    {
        const char *fields[] = {"name", "address"};
        const char *values[] = {"李四", big};
        size_t lens[] = {strlen("李四"), VAULT_VALUE_MAX + 1};
        char id[VAULT_ID_HEX_SIZE];
        int64_t recs = 0, recs2 = 0;
        assert_int_equal(TU_SNAP(f->v->db, store_record_count(&recs, f->v->db)), 0);
        assert_int_equal(vault_record_add(id, sizeof id, f->officer, GRID7, 2, fields, values,
                                          lens), VAULT_ELIMIT);
        assert_int_equal(TU_SNAP(f->v->db, store_record_count(&recs2, f->v->db)), 0);
        assert_int_equal(recs, recs2);
    }
    /* searching for a huge value */
    assert_int_equal(vault_record_find(&hits, &n, f->officer, "phone", big, VAULT_VALUE_MAX + 1),
                     VAULT_ELIMIT);
    assert_null(hits);
    free(big);
}

static int op_put_huge(fixture *f, vault *v, vault_session *s, void *arg)
{
    size_t n = *(size_t *)arg;
    /* Fresh anonymous pages, never touched (and unknown to ASan, so no
     * shadow memory either): the library must refuse by length, without
     * reading or copying the value. */
    char *huge = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    int rc;

    (void)v;
    if (huge == MAP_FAILED)
        return VAULT_ENOMEM;
    rc = vault_record_put(s, f->id, "address", huge, n);
    munmap(huge, n);
    return rc;
}

static void test_value_huge_memory(void **state)
{
    fixture *f = *state;
    size_t n = (size_t)256 * MIB;
    measured m = run_measured(f, op_put_huge, &n);

    assert_int_equal(m.rc, VAULT_ELIMIT);
    assert_true(m.growth_kb < GROWTH_LIMIT_KB);
}

/* Counts far beyond AF_FIELDS_MAX are refused before anything is
 * allocated for them. */
static void test_field_count_limit(void **state)
{
    fixture *f = *state;
    size_t n = AF_FIELDS_MAX + 1, i;
    const char **fields = calloc(n, sizeof *fields), **values = calloc(n, sizeof *values);
    size_t *lens = calloc(n, sizeof *lens);
    vault_result *r = NULL;
    char id[VAULT_ID_HEX_SIZE];

    assert_true(fields && values && lens);
    for (i = 0; i < n; i++) {
        fields[i] = "name";
        values[i] = "x";
        lens[i] = 1;
    }
    assert_int_equal(vault_record_update(f->officer, f->id, n, fields, values, lens), VAULT_ELIMIT);
    assert_clear_error(VAULT_ELIMIT);
    assert_int_equal(vault_record_add(id, sizeof id, f->officer, GRID7, n, fields, values, lens),
                     VAULT_ELIMIT);
    assert_int_equal(vault_record_get(&r, f->officer, f->id, fields, n), VAULT_ELIMIT);
    assert_null(r);
    /* absurd counts: refused, not a multi-terabyte allocation */
    assert_true(vault_record_update(f->officer, f->id, (size_t)1 << 40, fields, values, lens) ==
                VAULT_ELIMIT);
    assert_true(vault_record_add(id, sizeof id, f->officer, GRID7, SIZE_MAX / 2, fields, values,
                                 lens) == VAULT_ELIMIT);
    assert_int_equal(vault_record_get(&r, f->officer, f->id, fields, SIZE_MAX), VAULT_ELIMIT);
    free(fields);
    free(values);
    free(lens);
}

/* ---- policies ---- */

static void test_policy_size_limit(void **state)
{
    fixture *f = *state;
    char *p = path_in(f, "huge.yaml"), *report = NULL, hash[65], hash2[65], *src = NULL;
    char *text;
    size_t base_len = 0, i;
    uint8_t *base = tu_read_file(POLICY, &base_len);
    vault_policy *pol = NULL;

    assert_non_null(base);
    /* exactly VP_SOURCE_MAX: the shipped policy padded with comment lines */
    text = malloc(VP_SOURCE_MAX + 2);
    assert_non_null(text);
    memcpy(text, base, base_len);
    i = base_len;
    if (text[i - 1] != '\n')
        text[i++] = '\n';
    while (i < VP_SOURCE_MAX) {
        size_t line = VP_SOURCE_MAX - i < 100 ? VP_SOURCE_MAX - i : 100;
        if (line > 1) {
            text[i] = '#';
            memset(text + i + 1, 'x', line - 2);
        }
        text[i + line - 1] = '\n';
        i += line;
    }
    tu_write_file(p, text, VP_SOURCE_MAX);
    assert_int_equal(vault_policy_check(&report, p), 0);
    free(report);
    report = NULL;
    /* one byte more */
    text[VP_SOURCE_MAX] = '\n';
    tu_write_file(p, text, VP_SOURCE_MAX + 1);
    assert_int_equal(vault_policy_check(&report, p), VAULT_ELIMIT);
    assert_clear_error(VAULT_ELIMIT);
    assert_non_null(report);
    assert_non_null(strstr(report, "larger than the limit"));
    free(report);
    report = NULL;
    assert_int_equal(policy_parse(&pol, &report, "huge.yaml", text, VP_SOURCE_MAX + 1),
                     VAULT_ELIMIT);
    assert_null(pol);
    free(report);
    report = NULL;
    /* applying it leaves the active policy alone */
    assert_int_equal(vault_policy_source(&src, hash, sizeof hash, f->v), 0);
    free(src);
    assert_int_equal(vault_policy_apply(&report, f->v, p), VAULT_ELIMIT);
    assert_null(report);
    assert_int_equal(vault_policy_source(&src, hash2, sizeof hash2, f->v), 0);
    free(src);
    assert_string_equal(hash, hash2);
    free(text);
    free(base);
    free(p);
}

static int op_policy_check(fixture *f, vault *v, vault_session *s, void *arg)
{
    char *report = NULL;
    int rc;

    (void)f;
    (void)v;
    (void)s;
    rc = vault_policy_check(&report, arg);
    free(report);
    return rc;
}

static void test_policy_huge_file_memory(void **state)
{
    fixture *f = *state;
    char *p = path_in(f, "sparse.yaml");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    measured m;

    /* 512 MiB (a sparse file): only the first VP_SOURCE_MAX + 1 bytes may be read */
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "version: 1\n", 11), 11);
    assert_int_equal(ftruncate(fd, (off_t)512 * MIB), 0);
    close(fd);
    m = run_measured(f, op_policy_check, p);
    assert_int_equal(m.rc, VAULT_ELIMIT);
    assert_true(m.growth_kb < GROWTH_LIMIT_KB);
    free(p);
}

static void check_policy_text_refused(const char *text, size_t len)
{
    vault_policy *pol = NULL;
    char *report = NULL;
    int rc = policy_parse(&pol, &report, "deep.yaml", text, len);

    assert_true(rc == VAULT_ELIMIT || rc == VAULT_EPOLICY);
    assert_null(pol);
    assert_non_null(report);
    assert_non_null(strstr(report, "deep.yaml:"));
    free(report);
}

static void test_policy_deep_nesting(void **state)
{
    size_t depth = 200000, i, n;
    char *text = malloc(4 * depth + 64), *p;

    (void)state;
    assert_non_null(text);
    /* flow sequences: description: [[[[ ... ]]]] */
    n = (size_t)snprintf(text, 64, "version: 1\ndescription: ");
    memset(text + n, '[', depth);
    memset(text + n + depth, ']', depth);
    n += 2 * depth;
    text[n++] = '\n';
    check_policy_text_refused(text, n);
    /* flow mappings: {a: {a: ... }} */
    p = text;
    p += snprintf(p, 64, "version: 1\nname: ");
    for (i = 0; i < depth / 4; i++) {
        memcpy(p, "{a: ", 4);
        p += 4;
    }
    memset(p, '}', depth / 4);
    p += depth / 4;
    *p++ = '\n';
    check_policy_text_refused(text, (size_t)(p - text));
    /* block mappings, indented one space per level (a few thousand deep) */
    {
        size_t levels = 3000, cap = levels * (levels + 4) + 64;
        char *blk = malloc(cap), *q = blk;
        assert_non_null(blk);
        q += snprintf(q, 64, "version: 1\nrules:\n");
        for (i = 0; i < levels; i++) {
            memset(q, ' ', i + 1);
            q += i + 1;
            memcpy(q, "a:\n", 3);
            q += 3;
        }
        check_policy_text_refused(blk, (size_t)(q - blk));
        free(blk);
    }
    /* the nesting limit is 32: 40 levels inside a description are refused
     * with VAULT_ELIMIT */
    n = (size_t)snprintf(text, 64, "version: 1\ndescription: ");
    memset(text + n, '[', 40);
    memset(text + n + 40, ']', 40);
    n += 80;
    text[n++] = '\n';
    {
        vault_policy *pol = NULL;
        char *report = NULL;
        assert_int_equal(policy_parse(&pol, &report, "deep.yaml", text, n), VAULT_ELIMIT);
        free(report);
    }
    /* aliases (a "billion laughs" document) are refused */
    n = (size_t)snprintf(text, 4 * depth + 64,
                         "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                         "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                         "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n");
    check_policy_text_refused(text, n);
    free(text);
}

/* Many declared names and rules near the count limits still parse. */
static void test_policy_many_items(void **state)
{
    size_t nfields = 4000, nrules = 5000, i, cap = 2 * MIB, n = 0;
    char *text = malloc(cap);
    vault_policy *pol = NULL;
    char *report = NULL;

    (void)state;
    assert_non_null(text);
#define ADD(...) (n += (size_t)snprintf(text + n, cap - n, __VA_ARGS__), assert_true(n < cap))
    ADD("version: 1\nname: many\ngrades: [low, high]\nfields:\n");
    for (i = 0; i < nfields; i++)
        ADD("  f%zu: {grade: %s}\n", i, i % 2 ? "high" : "low");
    ADD("departments: [d]\nroles: [r]\npurposes: [p]\nrules:\n");
    for (i = 0; i < nrules; i++)
        ADD("  - {id: r%zu, subjects: {user: u%zu}, actions: [read], scope: any, fields: [f%zu], "
            "effect: allow}\n", i, i, i % nfields);
#undef ADD
    assert_int_equal(policy_parse(&pol, &report, "many.yaml", text, n), 0);
    assert_int_equal(policy_field_count(pol), nfields);
    assert_int_equal(policy_rule_count(pol), nrules);
    {
        vp_subject sub = {"u4321", "r", "d", "a"};
        vp_request req = {&sub, VAULT_ACTION_READ, "p", NULL, "a/b", "f321", 0};
        vp_decision d;
        assert_int_equal(policy_decide(&d, pol, NULL, &req), 0);
        assert_int_equal(d.effect, VAULT_EFFECT_ALLOW);
        assert_string_equal(d.rule_id, "r4321");
        req.field = "f322";
        assert_int_equal(policy_decide(&d, pol, NULL, &req), 0);
        assert_int_equal(d.effect, VAULT_EFFECT_DENY);
    }
    policy_free(pol);
    pol = NULL;
    free(report);
    report = NULL;
    /* one past the count limits: 4097 fields, 10 001 rules */
    n = 0;
#define ADD(...) (n += (size_t)snprintf(text + n, cap - n, __VA_ARGS__), assert_true(n < cap))
    ADD("version: 1\nname: many\ngrades: [g]\nfields:\n");
    for (i = 0; i < 4097; i++)
        ADD("  f%zu: {grade: g}\n", i);
    ADD("departments: [d]\nroles: [r]\npurposes: [p]\nrules: []\n");
    assert_int_equal(policy_parse(&pol, &report, "many.yaml", text, n), VAULT_ELIMIT);
    assert_null(pol);
    free(report);
    report = NULL;
    n = 0;
    ADD("version: 1\nname: many\ngrades: [g]\nfields: {f: {grade: g}}\n"
        "departments: [d]\nroles: [r]\npurposes: [p]\nrules:\n");
    for (i = 0; i < 10001; i++)
        ADD("- {id: r%zu, subjects: any, actions: read, scope: any, effect: deny}\n", i);
#undef ADD
    assert_int_equal(policy_parse(&pol, &report, "many.yaml", text, n), VAULT_ELIMIT);
    assert_null(pol);
    free(report);
    free(text);
}

/* ---- jurisdictions and names ---- */

static void test_long_jurisdiction(void **state)
{
    fixture *f = *state;
    char jur[VAULT_JURISDICTION_MAX + 2], id[VAULT_ID_HEX_SIZE];
    size_t n;
    vault_session *s = NULL;
    vault_subject sub = {sizeof(vault_subject), "li", "data_officer", "street_office", NULL, "resident_service"};
    char *huge = filled(4 * MIB, 'a');
    char out[VAULT_JURISDICTION_MAX + 1];

    /* exactly VAULT_JURISDICTION_MAX bytes, many short segments */
    n = (size_t)snprintf(jur, sizeof jur, "%s", STREET);
    while (n + 2 <= VAULT_JURISDICTION_MAX) {
        jur[n++] = '/';
        jur[n++] = 'g';
    }
    if (n < VAULT_JURISDICTION_MAX)
        jur[n++] = 'h';
    jur[n] = '\0';
    assert_int_equal(strlen(jur), VAULT_JURISDICTION_MAX);
    assert_int_equal(vault_record_create(id, sizeof id, f->officer, jur), 0);
    assert_int_equal(vault_record_jurisdiction(out, sizeof out, f->officer, id), 0);
    assert_string_equal(out, jur);
    /* one byte more */
    jur[n++] = 'h';
    jur[n] = '\0';
    assert_int_equal(vault_record_create(id, sizeof id, f->officer, jur), VAULT_ELIMIT);
    assert_clear_error(VAULT_ELIMIT);
    sub.jurisdiction = jur;
    assert_int_equal(vault_session_open(&s, f->v, &sub), VAULT_ELIMIT);
    assert_null(s);
    /* megabytes */
    assert_int_equal(vault_record_create(id, sizeof id, f->officer, huge), VAULT_ELIMIT);
    assert_true(strlen(vault_error_last()) < 1024);
    sub.jurisdiction = huge;
    assert_int_equal(vault_session_open(&s, f->v, &sub), VAULT_ELIMIT);
    /* within-checks on the longest paths still decide */
    assert_true(policy_jurisdiction_within(huge, "a") == 0 || policy_jurisdiction_within(huge, "a") == 1);
    free(huge);
}

static void test_long_names(void **state)
{
    fixture *f = *state;
    char name[VAULT_NAME_MAX + 1], id[VAULT_ID_HEX_SIZE];
    char *huge = filled(MIB, 'n');
    vault_session *s = NULL;
    vault_subject sub = {sizeof(vault_subject), NULL, "data_officer", "street_office", STREET, "resident_service"};
    vault_result *r = NULL;
    const char *hf = huge;
    vault_secret ks = tu_keyfile_secret(f->keyfile);
    int slot = -1;
    vault_grant_spec g = VAULT_GRANT_SPEC_INIT;

    /* user: 127 bytes ok, 128 refused */
    memset(name, 'u', VAULT_NAME_MAX - 1);
    name[VAULT_NAME_MAX - 1] = '\0';
    sub.user = name;
    assert_int_equal(vault_session_open(&s, f->v, &sub), 0);
    assert_int_equal(vault_record_create(id, sizeof id, s, GRID7), 0);
    vault_session_close(s);
    s = NULL;
    memset(name, 'u', VAULT_NAME_MAX);
    name[VAULT_NAME_MAX] = '\0';
    assert_int_equal(vault_session_open(&s, f->v, &sub), VAULT_ELIMIT);
    assert_clear_error(VAULT_ELIMIT);
    sub.user = huge;
    assert_int_equal(vault_session_open(&s, f->v, &sub), VAULT_ELIMIT);
    sub.user = "li";
    sub.role = huge;
    assert_int_equal(vault_session_open(&s, f->v, &sub), VAULT_ELIMIT);
    sub.role = "data_officer";
    sub.purpose = name;
    assert_int_equal(vault_session_open(&s, f->v, &sub), VAULT_ELIMIT);
    assert_null(s);
    /* actor, keyslot label */
    assert_int_equal(vault_set_actor(f->v, name), VAULT_ELIMIT);
    assert_int_equal(vault_set_actor(f->v, huge), VAULT_ELIMIT);
    assert_int_equal(vault_keyslot_add(&slot, f->v, &ks, name), VAULT_ELIMIT);
    assert_clear_error(VAULT_ELIMIT);
    /* a huge field name is just not declared; the message stays short */
    assert_int_equal(vault_record_put(f->officer, f->id, huge, "x", 1), VAULT_EINVALID);
    assert_true(strlen(vault_error_last()) < 1024);
    assert_int_equal(vault_record_get(&r, f->officer, f->id, &hf, 1), VAULT_EINVALID);
    assert_true(strlen(vault_error_last()) < 1024);
    assert_null(r);
    assert_int_equal(vault_record_get(&r, f->officer, huge, NULL, 0), VAULT_EINVALID);
    /* grant reason and recipient */
    g = (vault_grant_spec)VAULT_GRANT_SPEC_INIT;
    g.user = "wang";
    g.department = "community_committee";
    g.effect = VAULT_EFFECT_ALLOW;
    g.fields = (const char *[]){"name"};
    g.nfields = 1;
    g.jurisdiction = STREET;
    g.not_after = (int64_t)time(NULL) + 3600;
    g.reason = huge;
    assert_int_equal(vault_grant_issue(id, sizeof id, NULL, f->officer, &g), VAULT_ELIMIT);
    g.reason = "follow-up";
    g.user = name;
    assert_int_equal(vault_grant_issue(id, sizeof id, NULL, f->officer, &g), VAULT_ELIMIT);
    /* reports, who-can, break-glass */
    {
        char *out = NULL;
        char bg[VAULT_NAME_MAX];
        assert_int_equal(vault_audit_report(&out, f->v, VAULT_REPORT_USER, huge, 0), VAULT_ELIMIT);
        assert_null(out);
        assert_int_equal(vault_who_can(&out, f->v, huge, NULL, 0), VAULT_EINVALID);
        assert_true(strlen(vault_error_last()) < 1024);
        assert_null(out);
        assert_true(vault_break_glass(bg, sizeof bg, f->officer, f->id, huge, 60) < 0);
        assert_true(strlen(vault_error_last()) < 1024);
    }
    /* a grant listing more fields than any policy could declare */
    {
        size_t nf = 100000, k;
        const char **many = calloc(nf, sizeof *many);
        assert_non_null(many);
        for (k = 0; k < nf; k++)
            many[k] = "name";
        g.fields = many;
        g.nfields = nf;
        g.user = "wang";
        assert_int_equal(vault_grant_issue(id, sizeof id, NULL, f->officer, &g), VAULT_ELIMIT);
        free(many);
        g.fields = (const char *[]){"name"};
        g.nfields = 1;
    }
    /* a policy name over the limit is an error in the file */
    {
        char text[512];
        vault_policy *pol = NULL;
        char *report = NULL;
        size_t n = (size_t)snprintf(text, sizeof text, "version: 1\nname: %.*s\n", VAULT_NAME_MAX,
                                    huge);
        assert_int_equal(policy_parse(&pol, &report, "long.yaml", text, n), VAULT_EPOLICY);
        assert_non_null(strstr(report, "long.yaml:2:"));
        free(report);
    }
    free(huge);
}

/* ---- grants ---- */

static void test_many_grants(void **state)
{
    fixture *f = *state;
    size_t n = 2000, i;
    char (*ids)[VAULT_NAME_MAX] = calloc(n, sizeof *ids);
    char user[32], other[VAULT_ID_HEX_SIZE], *list = NULL;
    const char *field = "bank_account";
    const char *rec = f->id;
    vault_grant_spec g = VAULT_GRANT_SPEC_INIT;
    vault_reason why;
    vault_session *s;
    int pending = -1, base_effect;

    assert_non_null(ids);
    assert_int_equal(vault_record_create(other, sizeof other, f->officer, GRID7), 0);
    /* baseline: a grid worker can't read bank_account */
    s = tu_session(f->v, "nobody", "grid_worker", "community_committee", GRID7, "grid_management");
    assert_int_equal(vault_decide(&why, s, VAULT_ACTION_READ, f->id, field), 0);
    base_effect = why.effect;
    assert_int_equal(base_effect, VAULT_EFFECT_DENY);
    vault_session_close(s);
    g = (vault_grant_spec)VAULT_GRANT_SPEC_INIT;
    g.department = "community_committee";
    g.effect = VAULT_EFFECT_ALLOW;
    g.fields = &field;
    g.nfields = 1;
    g.records = &rec;
    g.nrecords = 1;
    g.not_after = (int64_t)time(NULL) + 24 * 3600;
    g.reason = "bulk test of many live grants";
    for (i = 0; i < n; i++) {
        snprintf(user, sizeof user, "u%04zu", i);
        g.user = user;
        assert_int_equal(vault_grant_issue(ids[i], sizeof ids[i], &pending, f->officer, &g), 0);
        assert_int_equal(pending, 0);
    }
    /* every grantee gets exactly its own grant, on that record only */
    for (i = 0; i < n; i += 97) {
        snprintf(user, sizeof user, "u%04zu", i);
        s = tu_session(f->v, user, "grid_worker", "community_committee", GRID7, "grid_management");
        assert_int_equal(vault_decide(&why, s, VAULT_ACTION_READ, f->id, field), 0);
        assert_int_equal(why.effect, VAULT_EFFECT_ALLOW);
        assert_string_equal(why.grant, ids[i]);
        assert_int_equal(vault_decide(&why, s, VAULT_ACTION_READ, other, field), 0);
        assert_int_equal(why.effect, VAULT_EFFECT_DENY);
        assert_int_equal(vault_decide(&why, s, VAULT_ACTION_READ, f->id, "health"), 0);
        assert_int_equal(why.effect, VAULT_EFFECT_DENY);
        vault_session_close(s);
    }
    /* someone else in the same department, and a special field (deny rule) */
    s = tu_session(f->v, "u9999", "grid_worker", "community_committee", GRID7, "grid_management");
    assert_int_equal(vault_decide(&why, s, VAULT_ACTION_READ, f->id, field), 0);
    assert_int_equal(why.effect, VAULT_EFFECT_DENY);
    vault_session_close(s);
    /* revoking one takes effect at once, the others stay */
    assert_int_equal(vault_grant_revoke(f->officer, ids[7], "no longer needed"), 0);
    s = tu_session(f->v, "u0007", "grid_worker", "community_committee", GRID7, "grid_management");
    assert_int_equal(vault_decide(&why, s, VAULT_ACTION_READ, f->id, field), 0);
    assert_int_equal(why.effect, VAULT_EFFECT_DENY);
    vault_session_close(s);
    s = tu_session(f->v, "u0008", "grid_worker", "community_committee", GRID7, "grid_management");
    assert_int_equal(vault_decide(&why, s, VAULT_ACTION_READ, f->id, field), 0);
    assert_int_equal(why.effect, VAULT_EFFECT_ALLOW);
    assert_string_equal(why.grant, ids[8]);
    vault_session_close(s);
    /* listing all of them works */
    assert_int_equal(vault_grant_list(&list, f->v, 1, 0), 0);
    assert_non_null(strstr(list, ids[n - 1]));
    assert_null(strstr(list, ids[7]));
    vault_free(list);
    /* a second handle (another process would do the same) sees them all */
    {
        vault *v2 = NULL;
        vault_secret ks = tu_keyfile_secret(f->keyfile);
        assert_int_equal(vault_open(&v2, f->path, &ks), 0);
        s = tu_session(v2, "u1999", "grid_worker", "community_committee", GRID7, "grid_management");
        assert_int_equal(vault_decide(&why, s, VAULT_ACTION_READ, f->id, field), 0);
        assert_int_equal(why.effect, VAULT_EFFECT_ALLOW);
        assert_string_equal(why.grant, ids[n - 1]);
        vault_session_close(s);
        vault_close(v2);
    }
    free(ids);
}

/* ---- CSV ---- */

static int op_import(fixture *f, vault *v, vault_session *s, void *arg)
{
    size_t count = 0;

    (void)f;
    (void)v;
    return vault_import_csv(&count, s, arg, NULL, NULL);
}

static void test_csv_huge_cell(void **state)
{
    fixture *f = *state;
    char *p = path_in(f, "bigcell.csv");
    size_t cell = 10 * MIB, n;
    char *text = malloc(cell + 256);
    measured m;
    int64_t before = 0, after = 0;
    int quoted;

    assert_non_null(text);
    for (quoted = 0; quoted < 2; quoted++) {
        n = (size_t)snprintf(text, 256, "jurisdiction,name,address\n%s,王五,%s", GRID7,
                             quoted ? "\"" : "");
        memset(text + n, 'a', cell);
        n += cell;
        n += (size_t)snprintf(text + n, 8, "%s\n", quoted ? "\"" : "");
        tu_write_file(p, text, n);
        assert_int_equal(TU_SNAP(f->v->db, store_record_count(&before, f->v->db)), 0);
        m = run_measured(f, op_import, p);
        assert_int_equal(m.rc, VAULT_ELIMIT);
        assert_non_null(strstr(m.msg, "bigcell.csv:2:3:"));
        assert_non_null(strstr(m.msg, "longer than"));
        assert_null(strstr(m.msg, "aaaa")); /* never the value */
        assert_true(m.growth_kb < GROWTH_LIMIT_KB);
        assert_int_equal(TU_SNAP(f->v->db, store_record_count(&after, f->v->db)), 0);
        assert_int_equal(after, before);
    }
    /* a 10 MB header cell */
    memcpy(text, "jurisdiction,", 13);
    memset(text + 13, 'c', cell);
    text[13 + cell] = '\n';
    tu_write_file(p, text, 14 + cell);
    m = run_measured(f, op_import, p);
    assert_true(m.rc == VAULT_ELIMIT || m.rc == VAULT_EINVALID);
    assert_null(strstr(m.msg, "cccc"));
    assert_true(m.growth_kb < GROWTH_LIMIT_KB);
    free(text);
    free(p);
}

static void test_csv_million_columns(void **state)
{
    fixture *f = *state;
    char *p = path_in(f, "wide.csv");
    size_t cols = 1000000, i, n = 0, cap = cols * 12 + 256;
    char *text = malloc(cap);
    measured m;
    static const char *const kinds[] = {"dup", "unknown", "empty", "wide_row"};
    size_t k;
    int64_t before = 0, after = 0;

    assert_non_null(text);
    assert_int_equal(TU_SNAP(f->v->db, store_record_count(&before, f->v->db)), 0);
    for (k = 0; k < VAULT_ARRAY_LEN(kinds); k++) {
        n = 0;
        if (k == 3) { /* a valid header and a row of a million cells */
            n += (size_t)snprintf(text + n, cap - n, "jurisdiction,name\n%s", GRID7);
            for (i = 0; i < cols; i++)
                n += (size_t)snprintf(text + n, cap - n, ",x");
        } else {
            n += (size_t)snprintf(text + n, cap - n, "jurisdiction");
            for (i = 0; i < cols; i++) {
                if (k == 0)
                    n += (size_t)snprintf(text + n, cap - n, ",name");
                else if (k == 1)
                    n += (size_t)snprintf(text + n, cap - n, ",c%07zu", i);
                else
                    n += (size_t)snprintf(text + n, cap - n, ",");
            }
            n += (size_t)snprintf(text + n, cap - n, "\n%s,x", GRID7);
        }
        n += (size_t)snprintf(text + n, cap - n, "\n");
        tu_write_file(p, text, n);
        m = run_measured(f, op_import, p);
        if (m.rc != VAULT_EINVALID && m.rc != VAULT_ELIMIT)
            fail_msg("%s: rc %d (%s)", kinds[k], m.rc, m.msg);
        assert_non_null(strstr(m.msg, "wide.csv:"));
        assert_true(strlen(m.msg) < 512);
        if (m.growth_kb >= GROWTH_LIMIT_KB)
            fail_msg("%s: peak RSS grew by %ld KiB", kinds[k], m.growth_kb);
    }
    assert_int_equal(TU_SNAP(f->v->db, store_record_count(&after, f->v->db)), 0);
    assert_int_equal(after, before);
    free(text);
    free(p);
}

/* A long jurisdiction or an over-long field name inside a CSV. */
static void test_csv_long_values(void **state)
{
    fixture *f = *state;
    char *p = path_in(f, "long.csv");
    char *jur = filled(VAULT_JURISDICTION_MAX + 1, 'j');
    char *col = filled(VAULT_NAME_MAX * 4, 'k');
    char *text = malloc(8192);
    size_t count = 99, n;

    assert_non_null(text);
    n = (size_t)snprintf(text, 8192, "jurisdiction,name\n%s,x\n", jur);
    tu_write_file(p, text, n);
    assert_int_equal(vault_import_csv(&count, f->officer, p, NULL, NULL), VAULT_ELIMIT);
    assert_int_equal(count, 0);
    assert_non_null(strstr(vault_error_last(), "long.csv:2:1:"));
    assert_null(strstr(vault_error_last(), "jjjj"));
    n = (size_t)snprintf(text, 8192, "jurisdiction,%s\n%s,x\n", col, GRID7);
    tu_write_file(p, text, n);
    assert_int_equal(vault_import_csv(&count, f->officer, p, NULL, NULL), VAULT_EINVALID);
    assert_non_null(strstr(vault_error_last(), "long.csv:1:2:"));
    assert_true(strlen(vault_error_last()) < 1024);
    free(text);
    free(jur);
    free(col);
    free(p);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_value_limit),        T(test_value_huge_memory),   T(test_field_count_limit),
        T(test_policy_size_limit),  T(test_policy_huge_file_memory),
        cmocka_unit_test(test_policy_deep_nesting), cmocka_unit_test(test_policy_many_items),
        T(test_long_jurisdiction),  T(test_long_names),          T(test_many_grants),
        T(test_csv_huge_cell),      T(test_csv_million_columns), T(test_csv_long_values),
    };

    if (vault_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

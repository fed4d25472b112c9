/* import: CSV files imported all or nothing, with FILE:ROW:COL messages
 * that never show a value, one audit entry per record, streaming. */
#include "testutil.h"
#include "testsnap.h"

#include "audit/audit_format.h"
#include "store/store.h"
#include "vault_int.h"

#define POLICY VAULT_SOURCE_DIR "/policies/community.yaml"
#define CSV(name) VAULT_SOURCE_DIR "/tests/data/csv/" name
#define STREET "hangzhou/gongshu/xiaohe"
#define GRID7 STREET "/changzheng/grid-07"
#define PASS "correct horse battery staple"

typedef struct fixture {
    char *dir;
    char path[512];
    vault *v;
    vault_session *officer;
    int64_t records, entries; /* counts before the import under test */
} fixture;

static int64_t record_count(fixture *f)
{
    int64_t n = -1;

    assert_int_equal(TU_SNAP(f->v->db, store_record_count(&n, f->v->db)), 0);
    return n;
}

static int64_t entry_count(fixture *f)
{
    int64_t n = -1;

    assert_int_equal(TU_SNAP(f->v->db, store_audit_count(&n, f->v->db)), 0);
    return n;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    vault_secret s = tu_pass_secret(PASS);
    char id[VAULT_ID_HEX_SIZE];
    const char *fields[] = {"name", "phone"};
    const char *values[] = {"已有居民", "13700000001"};
    size_t lens[] = {strlen(values[0]), strlen(values[1])};

    assert_non_null(f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/test.vault", f->dir);
    assert_int_equal(vault_create(&f->v, f->path, POLICY, &s), 0);
    f->officer = tu_session(f->v, "li", "data_officer", "street_office", STREET, "resident_service");
    /* One resident already there, so "nothing imported" is not "empty". */
    assert_int_equal(vault_record_add(id, sizeof id, f->officer, GRID7, 2, fields, values, lens), 0);
    f->records = record_count(f);
    f->entries = entry_count(f);
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

/* ---- audit helpers ---- */

typedef struct scan {
    int64_t creates, imports_denied;
    int64_t imports_refused; /* "import" entries of a refused file ("refused: ...") */
    int64_t with_detail; /* create entries whose detail starts with `prefix` */
    const char *prefix;
    int all_hashed;      /* every field of every create entry has a ct hash */
} scan;

static int scan_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                   size_t head_len)
{
    scan *sc = arg;
    af_entry e;
    void *storage = NULL;
    size_t i;

    (void)pos;
    (void)head;
    (void)head_len;
    assert_int_equal(af_entry_decode(&e, &storage, entry, len), 0);
    if (strcmp(e.action, "create") == 0) {
        sc->creates++;
        if (sc->prefix && e.detail && strncmp(e.detail, sc->prefix, strlen(sc->prefix)) == 0)
            sc->with_detail++;
        for (i = 0; i < e.nfields; i++)
            if (!e.fields[i].has_ct_hash || e.fields[i].effect != VAULT_EFFECT_ALLOW)
                sc->all_hashed = 0;
    }
    if (strcmp(e.action, "import") == 0 && e.outcome == AF_OUTCOME_DENIED)
        sc->imports_denied++;
    if (strcmp(e.action, "import") == 0 && e.outcome == AF_OUTCOME_ERROR && e.detail &&
        strncmp(e.detail, "refused: ", 9) == 0)
        sc->imports_refused++;
    free(storage);
    return 0;
}

static scan audit_scan(fixture *f, const char *prefix)
{
    scan sc;

    memset(&sc, 0, sizeof sc);
    sc.prefix = prefix;
    sc.all_hashed = 1;
    assert_int_equal(TU_SNAP(f->v->db, store_audit_scan(f->v->db, 0, scan_fn, &sc)), 0);
    return sc;
}

/* ---- helpers ---- */

/* The message must be "<path>:<row>:<col>: " followed by `text`. */
static void assert_message(const char *path, unsigned row, unsigned col, const char *text)
{
    char want[1024];
    const char *msg = vault_error_last();

    snprintf(want, sizeof want, "%s:%u:%u: ", path, row, col);
    if (strncmp(msg, want, strlen(want)) != 0 || !strstr(msg + strlen(want), text)) {
        fprintf(stderr, "message: %s\nwanted:  %s...%s\n", msg, want, text);
        fail();
    }
}

/* No value of the file may appear in the message. */
static void assert_no_values(const char *const *values)
{
    const char *msg = vault_error_last();

    for (; *values; values++) {
        if (strstr(msg, *values)) {
            fprintf(stderr, "message shows a value '%s': %s\n", *values, msg);
            fail();
        }
    }
}

/* The import failed and left no record behind, and no entry but its
 * refusal: `denials` denial entries, or else one "refused: <message>"
 * entry (the message says where, never a value). */
static void assert_nothing_imported(fixture *f, int64_t denials)
{
    scan sc = audit_scan(f, NULL);

    assert_int_equal(record_count(f), f->records);
    if (denials)
        assert_int_equal(sc.imports_refused, 0);
    else
        assert_true(sc.imports_refused >= 1); /* one per refused attempt */
    assert_int_equal(entry_count(f), f->entries + denials + sc.imports_refused);
    assert_int_equal(sc.creates, 1); /* the fixture's own record */
    assert_int_equal(sc.imports_denied, denials);
}

static char *find_by_phone(vault_session *s, const char *phone)
{
    char *ids = NULL, *id;
    size_t n = 0;

    assert_int_equal(vault_record_find(&ids, &n, s, "phone", phone, strlen(phone)), 0);
    assert_int_equal(n, 1);
    id = strdup(ids);
    vault_free(ids);
    return id;
}

/* The record with this phone has `value` in `field` (NULL: no value). */
static void expect_field(vault_session *s, const char *phone, const char *field,
                         const char *value)
{
    char *id = find_by_phone(s, phone);
    vault_result *r = NULL;
    const char *got;
    size_t len = 0;

    assert_int_equal(vault_record_get(&r, s, id, &field, 1), 0);
    assert_int_equal(vault_result_effect(r, 0), VAULT_EFFECT_ALLOW);
    got = vault_result_value(r, 0, &len);
    if (!value) {
        assert_int_equal(vault_result_present(r, 0), 0);
    } else {
        assert_non_null(got);
        assert_int_equal(len, strlen(value));
        assert_memory_equal(got, value, len);
    }
    vault_result_free(r);
    free(id);
}

typedef struct progress_log {
    uint64_t calls, last, nonzero_total;
} progress_log;

static void on_progress(uint64_t done, uint64_t total, void *arg)
{
    progress_log *p = arg;

    p->calls++;
    p->last = done;
    if (total)
        p->nonzero_total++;
}

/* ---- tests ---- */

static void test_good_file(void **state)
{
    fixture *f = *state;
    size_t n = 0;
    scan sc;
    char prefix[600];

    assert_int_equal(vault_import_csv(&n, f->officer, CSV("good.csv"), NULL, NULL), 0);
    assert_int_equal(n, 4);
    assert_int_equal(record_count(f), f->records + 4);
    expect_field(f->officer, "13812345601", "name", "欧阳娜娜");
    expect_field(f->officer, "13812345601", "id_number", "330102199001011234");
    expect_field(f->officer, "13812345601", "address", "浙江省杭州市拱墅区长征路12号,3单元501");
    expect_field(f->officer, "13812345601", "gender", "女");
    expect_field(f->officer, "13812345601", "health", NULL); /* empty cell: not set */
    expect_field(f->officer, "13812345602", "name", "张三");
    expect_field(f->officer, "13812345602", "address", "小河街道大兜路8号\n2幢1单元");
    expect_field(f->officer, "13812345602", "health", "高血压, 二级");
    expect_field(f->officer, "13812345602", "id_number", NULL);
    expect_field(f->officer, "13812345603", "name", "李\"小龙\"四");
    expect_field(f->officer, "13812345603", "id_number", "33010219850505123X");
    expect_field(f->officer, "13812345603", "address", NULL);
    expect_field(f->officer, "13812345604", "name", "  王 五  "); /* spaces kept */
    expect_field(f->officer, "13812345604", "address", NULL);     /* "" is empty too */
    expect_field(f->officer, "13812345604", "health", "糖尿病 \"早期\"");
    {
        char *id = find_by_phone(f->officer, "13812345602");
        char jur[VAULT_JURISDICTION_MAX + 1];
        assert_int_equal(vault_record_jurisdiction(jur, sizeof jur, f->officer, id), 0);
        assert_string_equal(jur, STREET "/dadou/grid-02");
        free(id);
    }
    /* One create entry per record, naming the file and row. */
    snprintf(prefix, sizeof prefix, "import %s row ", CSV("good.csv"));
    sc = audit_scan(f, prefix);
    assert_int_equal(sc.creates, 1 + 4);
    assert_int_equal(sc.with_detail, 4);
    assert_true(sc.all_hashed);
    snprintf(prefix, sizeof prefix, "import %s row 5 (create: allow by rule", CSV("good.csv"));
    sc = audit_scan(f, prefix);
    assert_int_equal(sc.with_detail, 1);
}

static void test_no_plaintext_on_disk(void **state)
{
    fixture *f = *state;
    size_t n = 0;
    char wal[600];
    vault_secret s = tu_pass_secret(PASS);

    assert_int_equal(vault_import_csv(&n, f->officer, CSV("good.csv"), NULL, NULL), 0);
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_int_equal(tu_file_contains(f->path, "欧阳娜娜", strlen("欧阳娜娜")), 0);
    assert_int_not_equal(tu_file_contains(wal, "欧阳娜娜", strlen("欧阳娜娜")), 1);
    assert_int_not_equal(tu_file_contains(wal, "330102199001011234", 18), 1);
    assert_int_not_equal(tu_file_contains(wal, "高血压", strlen("高血压")), 1);
    vault_session_close(f->officer);
    vault_close(f->v);
    assert_int_equal(tu_file_contains(f->path, "330102199001011234", 18), 0);
    assert_int_equal(tu_file_contains(f->path, "高血压", strlen("高血压")), 0);
    assert_int_equal(vault_open(&f->v, f->path, &s), 0);
    f->officer = tu_session(f->v, "li", "data_officer", "street_office", STREET, "resident_service");
}

static void test_bom(void **state)
{
    fixture *f = *state;
    size_t n = 0;

    assert_int_equal(vault_import_csv(&n, f->officer, CSV("bom.csv"), NULL, NULL), 0);
    assert_int_equal(n, 2);
    expect_field(f->officer, "13812345611", "name", "赵六");
    expect_field(f->officer, "13812345612", "name", "钱七"); /* last line without newline */
}

/* RFC 4180: spaces belong to the cell, quoted or not (libcsv would trim
 * them by default); a space before an opening quote is malformed. */
static void test_spaces_kept(void **state)
{
    fixture *f = *state;
    char path[600];
    const char text[] = "jurisdiction,name,phone\n" GRID7 ", 周 一 ,13812345691\n";
    const char bad[] = "jurisdiction,name,phone\n" GRID7 ", \"周二\",13812345692\n";
    size_t n = 0;

    snprintf(path, sizeof path, "%s/spaces.csv", f->dir);
    tu_write_file(path, text, sizeof text - 1);
    assert_int_equal(vault_import_csv(&n, f->officer, path, NULL, NULL), 0);
    assert_int_equal(n, 1);
    expect_field(f->officer, "13812345691", "name", " 周 一 ");
    tu_write_file(path, bad, sizeof bad - 1);
    assert_int_equal(vault_import_csv(&n, f->officer, path, NULL, NULL), VAULT_EINVALID);
    assert_message(path, 2, 2, "malformed CSV");
    assert_int_equal(record_count(f), f->records + 1);
}

static void test_bad_utf8_in_the_middle(void **state)
{
    fixture *f = *state;
    size_t n = 99;
    const char *values[] = {"13812345623", "\xff", "孙八", "周九", NULL};

    assert_int_equal(vault_import_csv(&n, f->officer, CSV("bad_utf8.csv"), NULL, NULL),
                     VAULT_EINVALID);
    assert_int_equal(n, 0);
    assert_message(CSV("bad_utf8.csv"), 4, 3, "value of field 'name' is not valid UTF-8");
    assert_no_values(values);
    assert_nothing_imported(f, 0);
}

static void test_bad_jurisdiction(void **state)
{
    fixture *f = *state;
    const char *values[] = {"Hangzhou", "陈二", "13812345632", NULL};

    assert_int_equal(vault_import_csv(NULL, f->officer, CSV("bad_jurisdiction.csv"), NULL, NULL),
                     VAULT_EINVALID);
    assert_message(CSV("bad_jurisdiction.csv"), 3, 2, "jurisdiction may contain only");
    assert_no_values(values);
    assert_nothing_imported(f, 0);
}

/* vault__jurisdiction_check quotes the path for an empty segment; import
 * must not, since a misaligned file could put a value in that column. */
static void test_bad_jurisdiction_not_echoed(void **state)
{
    fixture *f = *state;
    char path[600];
    const char text[] = "jurisdiction,name\n/13812345678,卫一\n";
    const char *values[] = {"13812345678", "卫一", NULL};

    snprintf(path, sizeof path, "%s/echo.csv", f->dir);
    tu_write_file(path, text, sizeof text - 1);
    assert_int_equal(vault_import_csv(NULL, f->officer, path, NULL, NULL), VAULT_EINVALID);
    assert_message(path, 2, 1, "jurisdiction has an empty segment");
    assert_no_values(values);
    {
        /* A long path, whose quoted form would not fit a message whole. */
        char text2[700], seg[481];
        const char *v2[] = {seg, "13812345678", NULL};
        memset(seg, 'q', 480);
        seg[480] = '\0';
        snprintf(text2, sizeof text2, "jurisdiction,name\n%s//13812345678,卫一\n", seg);
        tu_write_file(path, text2, strlen(text2));
        assert_int_equal(vault_import_csv(NULL, f->officer, path, NULL, NULL), VAULT_EINVALID);
        assert_message(path, 2, 1, "jurisdiction has an empty segment");
        assert_no_values(v2);
    }
    assert_nothing_imported(f, 0);
}

static void test_wrong_cell_count(void **state)
{
    fixture *f = *state;
    const char *values[] = {"蒋二", "13812345642", NULL};

    assert_int_equal(vault_import_csv(NULL, f->officer, CSV("cell_count.csv"), NULL, NULL),
                     VAULT_EINVALID);
    assert_message(CSV("cell_count.csv"), 3, 4, "row has 3 cells, header has 4");
    assert_no_values(values);
    assert_nothing_imported(f, 0);
}

static void test_too_many_cells(void **state)
{
    fixture *f = *state;
    char path[600];
    const char text[] = "jurisdiction,name\n" GRID7 ",卫一\n" GRID7 ",卫二,13812345678,x\n";

    snprintf(path, sizeof path, "%s/extra.csv", f->dir);
    tu_write_file(path, text, sizeof text - 1);
    assert_int_equal(vault_import_csv(NULL, f->officer, path, NULL, NULL), VAULT_EINVALID);
    assert_message(path, 3, 3, "row has 4 cells, header has 2");
    assert_nothing_imported(f, 0);
}

static void test_unknown_column(void **state)
{
    fixture *f = *state;

    assert_int_equal(vault_import_csv(NULL, f->officer, CSV("unknown_column.csv"), NULL, NULL),
                     VAULT_EINVALID);
    assert_message(CSV("unknown_column.csv"), 1, 3,
                   "unknown column 'shoe_size' (not a field of the policy)");
    assert_nothing_imported(f, 0);
}

/* A file without its header row: the first row's cells are values and
 * must not be echoed as column names. */
static void test_missing_header_not_echoed(void **state)
{
    fixture *f = *state;
    char path[600];
    const char text[] = GRID7 ",13812345678\n";
    const char t2[] = "jurisdiction,张三\n";
    const char *values[] = {"13812345678", "张三", NULL};

    snprintf(path, sizeof path, "%s/noheader.csv", f->dir);
    tu_write_file(path, text, sizeof text - 1);
    assert_int_equal(vault_import_csv(NULL, f->officer, path, NULL, NULL), VAULT_EINVALID);
    assert_message(path, 1, 1, "unknown column (not a field of the policy");
    assert_no_values(values);
    tu_write_file(path, t2, sizeof t2 - 1);
    assert_int_equal(vault_import_csv(NULL, f->officer, path, NULL, NULL), VAULT_EINVALID);
    assert_message(path, 1, 2, "unknown column (not a field of the policy");
    assert_no_values(values);
    assert_nothing_imported(f, 0);
}

static void test_duplicate_header(void **state)
{
    fixture *f = *state;
    char path[600];
    const char text[] = "jurisdiction,name,jurisdiction\n" GRID7 ",a," GRID7 "\n";

    assert_int_equal(vault_import_csv(NULL, f->officer, CSV("duplicate_header.csv"), NULL, NULL),
                     VAULT_EINVALID);
    assert_message(CSV("duplicate_header.csv"), 1, 4, "duplicate column 'name'");
    snprintf(path, sizeof path, "%s/dupj.csv", f->dir);
    tu_write_file(path, text, sizeof text - 1);
    assert_int_equal(vault_import_csv(NULL, f->officer, path, NULL, NULL), VAULT_EINVALID);
    assert_message(path, 1, 3, "duplicate column 'jurisdiction'");
    assert_nothing_imported(f, 0);
}

static void test_no_jurisdiction_column(void **state)
{
    fixture *f = *state;
    char path[600];
    const char text[] = "name,phone,";

    assert_int_equal(vault_import_csv(NULL, f->officer, CSV("no_jurisdiction.csv"), NULL, NULL),
                     VAULT_EINVALID);
    assert_message(CSV("no_jurisdiction.csv"), 1, 1, "no jurisdiction column");
    snprintf(path, sizeof path, "%s/emptyname.csv", f->dir);
    tu_write_file(path, text, sizeof text - 1);
    assert_int_equal(vault_import_csv(NULL, f->officer, path, NULL, NULL), VAULT_EINVALID);
    assert_message(path, 1, 3, "empty column name");
    assert_nothing_imported(f, 0);
}

static void test_denied_grid_worker(void **state)
{
    fixture *f = *state;
    vault_session *grid = tu_session(f->v, "wang", "grid_worker", "community_committee", GRID7,
                                     "grid_management");

    assert_int_equal(vault_import_csv(NULL, grid, CSV("good.csv"), NULL, NULL), VAULT_EDENIED);
    assert_message(CSV("good.csv"), 2, 1, "create of a record denied: deny");
    assert_nothing_imported(f, 1);
    vault_session_close(grid);
}

static void test_denied_outside_jurisdiction(void **state)
{
    fixture *f = *state;
    const char *values[] = {"尤二", "13812345672", NULL};

    assert_int_equal(
        vault_import_csv(NULL, f->officer, CSV("outside_jurisdiction.csv"), NULL, NULL),
        VAULT_EDENIED);
    assert_message(CSV("outside_jurisdiction.csv"), 3, 1, "create of a record denied: deny");
    assert_no_values(values);
    assert_nothing_imported(f, 1); /* row 2 was created, then rolled back */
}

static void test_denied_write(void **state)
{
    fixture *f = *state;
    const char *values[] = {"有前科", "何二", NULL};

    assert_int_equal(vault_import_csv(NULL, f->officer, CSV("denied_write.csv"), NULL, NULL),
                     VAULT_EDENIED);
    assert_message(CSV("denied_write.csv"), 3, 3,
                   "write of field 'criminal_record' denied: deny: no rule or grant allows write "
                   "of criminal_record");
    assert_no_values(values);
    assert_nothing_imported(f, 1);
}

static void test_empty_and_header_only(void **state)
{
    fixture *f = *state;
    size_t n = 99;
    char path[600];
    progress_log p;

    assert_int_equal(vault_import_csv(&n, f->officer, CSV("empty.csv"), NULL, NULL),
                     VAULT_EINVALID);
    assert_message(CSV("empty.csv"), 1, 1, "empty file (no header row)");
    snprintf(path, sizeof path, "%s/bomonly.csv", f->dir);
    tu_write_file(path, "\xEF\xBB\xBF\r\n\r\n", 7);
    assert_int_equal(vault_import_csv(&n, f->officer, path, NULL, NULL), VAULT_EINVALID);
    assert_message(path, 1, 1, "empty file (no header row)");
    assert_nothing_imported(f, 0);
    f->entries += 2; /* the two refusals */
    memset(&p, 0, sizeof p);
    n = 99;
    assert_int_equal(vault_import_csv(&n, f->officer, CSV("header_only.csv"), on_progress, &p), 0);
    assert_int_equal(n, 0);
    assert_int_equal(record_count(f), f->records);
    assert_int_equal(entry_count(f), f->entries);
}

static void test_value_too_long(void **state)
{
    fixture *f = *state;
    char path[600];
    size_t head = strlen("jurisdiction,name,phone\n" GRID7 ",");
    size_t len = head + VAULT_VALUE_MAX + 1 + strlen(",13812345681\n");
    char *text = malloc(len + 1);
    size_t n = 0;

    assert_non_null(text);
    snprintf(path, sizeof path, "%s/long.csv", f->dir);
    /* Exactly VAULT_VALUE_MAX bytes: accepted. */
    memcpy(text, "jurisdiction,name,phone\n" GRID7 ",", head);
    memset(text + head, 'a', VAULT_VALUE_MAX);
    memcpy(text + head + VAULT_VALUE_MAX, ",13812345681\n", 13);
    tu_write_file(path, text, head + VAULT_VALUE_MAX + 13);
    assert_int_equal(vault_import_csv(&n, f->officer, path, NULL, NULL), 0);
    assert_int_equal(n, 1);
    f->records++;
    f->entries++;
    /* One more byte: refused, at row 2 column 2. */
    memset(text + head, 'b', VAULT_VALUE_MAX + 1);
    memcpy(text + head + VAULT_VALUE_MAX + 1, ",13812345682\n", 13);
    tu_write_file(path, text, len);
    assert_int_equal(vault_import_csv(&n, f->officer, path, NULL, NULL), VAULT_ELIMIT);
    assert_message(path, 2, 2, "value of field 'name' is longer than 65536 bytes");
    assert_null(strstr(vault_error_last(), "bbbb"));
    assert_int_equal(record_count(f), f->records);
    assert_int_equal(entry_count(f), f->entries + 1); /* the refusal */
    free(text);
}

/* A quoted cell that never ends is refused once it outgrows any value,
 * without reading the rest of the file into memory. */
static void test_endless_cell(void **state)
{
    fixture *f = *state;
    char path[600], block[4096];
    FILE *fp;
    int i;

    snprintf(path, sizeof path, "%s/endless.csv", f->dir);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("jurisdiction,address,name\n" GRID7 ",\"", fp);
    memset(block, 'x', sizeof block);
    for (i = 0; i < 1024; i++) /* 4 MiB */
        assert_int_equal(fwrite(block, 1, sizeof block, fp), sizeof block);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(vault_import_csv(NULL, f->officer, path, NULL, NULL), VAULT_ELIMIT);
    assert_message(path, 2, 2, "value of field 'address' is longer than 65536 bytes");
    assert_nothing_imported(f, 0);
}

static void test_malformed(void **state)
{
    fixture *f = *state;
    const char *values[] = {"施", NULL};

    assert_int_equal(vault_import_csv(NULL, f->officer, CSV("malformed.csv"), NULL, NULL),
                     VAULT_EINVALID);
    assert_message(CSV("malformed.csv"), 3, 2, "malformed CSV");
    assert_no_values(values);
    assert_int_equal(vault_import_csv(NULL, f->officer, CSV("unterminated.csv"), NULL, NULL),
                     VAULT_EINVALID);
    assert_message(CSV("unterminated.csv"), 3, 2, "quoted cell not closed");
    assert_nothing_imported(f, 0);
}

static void test_nul_byte(void **state)
{
    fixture *f = *state;
    char path[600];
    const char text[] = "jurisdiction,name\n" GRID7 ",a\0b\n";

    snprintf(path, sizeof path, "%s/nul.csv", f->dir);
    tu_write_file(path, text, sizeof text - 1);
    assert_int_equal(vault_import_csv(NULL, f->officer, path, NULL, NULL), VAULT_EINVALID);
    assert_message(path, 2, 2, "value of field 'name' contains a NUL byte");
    assert_nothing_imported(f, 0);
}

/* ROW counts records: a quoted two-line cell is one record, a blank line
 * is not a record, an all-empty row is a record that is skipped. */
static void test_record_numbers(void **state)
{
    fixture *f = *state;

    assert_int_equal(vault_import_csv(NULL, f->officer, CSV("record_numbers.csv"), NULL, NULL),
                     VAULT_EINVALID);
    assert_message(CSV("record_numbers.csv"), 4, 1, "jurisdiction may contain only");
    assert_nothing_imported(f, 0);
}

static void test_missing_file(void **state)
{
    fixture *f = *state;

    assert_int_equal(vault_import_csv(NULL, f->officer, CSV("no-such-file.csv"), NULL, NULL),
                     VAULT_ENOTFOUND);
    assert_non_null(strstr(vault_error_last(), "no-such-file.csv"));
    assert_int_equal(vault_import_csv(NULL, NULL, CSV("good.csv"), NULL, NULL), VAULT_EINVALID);
    assert_int_equal(vault_import_csv(NULL, f->officer, NULL, NULL, NULL), VAULT_EINVALID);
    assert_nothing_imported(f, 0);
}

/* 20 000 rows generated at run time: all imported, progress reported every
 * 1000 rows with an unknown total, one create entry each. */
static void test_many_rows(void **state)
{
    fixture *f = *state;
    char path[600];
    FILE *fp;
    int i;
    size_t n = 0;
    progress_log p;
    scan sc;

    snprintf(path, sizeof path, "%s/many.csv", f->dir);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("jurisdiction,name,phone,address\r\n", fp);
    for (i = 0; i < 20000; i++)
        fprintf(fp, "%s/grid-%02d,居民%05d,139%08d,\"长征路%d号, %d室\"\r\n", STREET "/changzheng",
                i % 12, i, i, i % 300, i);
    assert_int_equal(fclose(fp), 0);
    memset(&p, 0, sizeof p);
    assert_int_equal(vault_import_csv(&n, f->officer, path, on_progress, &p), 0);
    assert_int_equal(n, 20000);
    assert_int_equal(p.calls, 20);
    assert_int_equal(p.last, 20000);
    assert_int_equal(p.nonzero_total, 0);
    assert_int_equal(record_count(f), f->records + 20000);
    sc = audit_scan(f, NULL);
    assert_int_equal(sc.creates, 1 + 20000);
    expect_field(f->officer, "13900012345", "name", "居民12345");
    expect_field(f->officer, "13900012345", "address", "长征路45号, 12345室");
}

/* ---- the worker and the writer (more rows than the batches in flight) ---- */

#define PIPE_ROWS 2000 /* several times IMPORT_BATCH * IMPORT_BATCHES */

/* PIPE_ROWS residents; row `bad` (CSV row number, header 1) gets the
 * jurisdiction `bad_jur` instead of its grid; 0 for none. */
static void write_pipe_csv(char *path, size_t cap, fixture *f, int bad, const char *bad_jur)
{
    FILE *fp;
    int i;

    snprintf(path, cap, "%s/pipe.csv", f->dir);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("jurisdiction,name,phone,id_number\r\n", fp);
    for (i = 0; i < PIPE_ROWS; i++) {
        if (i + 2 == bad)
            fprintf(fp, "%s,", bad_jur);
        else
            fprintf(fp, "%s/grid-%02d,", STREET "/changzheng", i % 12);
        /* Every 7th row leaves the phone empty: rows of different shapes. */
        if (i % 7)
            fprintf(fp, "居民%05d,138%08d,33010519900101%04d\r\n", i, i, i);
        else
            fprintf(fp, "居民%05d,,33010519900101%04d\r\n", i, i);
    }
    assert_int_equal(fclose(fp), 0);
}

typedef struct order_scan {
    int next_row;  /* the CSV row the next create entry must name */
    int bad;       /* entries out of order */
} order_scan;

static int order_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len, const uint8_t *head,
                    size_t head_len)
{
    order_scan *o = arg;
    af_entry e;
    void *storage = NULL;
    const char *at;

    (void)pos;
    (void)head;
    (void)head_len;
    assert_int_equal(af_entry_decode(&e, &storage, entry, len), 0);
    if (strcmp(e.action, "create") == 0 && e.detail && strncmp(e.detail, "import ", 7) == 0) {
        at = strstr(e.detail, " row ");
        if (!at || strtol(at + 5, NULL, 10) != o->next_row)
            o->bad++;
        o->next_row++;
    }
    free(storage);
    return 0;
}

/* Progress runs on the writer (the calling thread): pausing it there lets
 * the worker fill every batch of the ring meanwhile. */
static void slow_progress(uint64_t done, uint64_t total, void *arg)
{
    struct timespec ts = {0, 300 * 1000 * 1000};

    (void)total;
    *(uint64_t *)arg = done;
    nanosleep(&ts, NULL);
}

/* The entries come in the file's order, one per record, and each record
 * got its own row's values (the worker prepares, the writer writes), also
 * when the writer falls behind and the ring is full. */
static void test_pipeline_order(void **state)
{
    fixture *f = *state;
    char path[600], *ids = NULL;
    size_t n = 0;
    order_scan o = {2, 0};
    uint64_t last = 0;
    scan sc;

    write_pipe_csv(path, sizeof path, f, 0, NULL);
    assert_int_equal(vault_import_csv(&n, f->officer, path, slow_progress, &last), 0);
    assert_int_equal(n, PIPE_ROWS);
    assert_int_equal(last, PIPE_ROWS);
    assert_int_equal(record_count(f), f->records + PIPE_ROWS);
    assert_int_equal(TU_SNAP(f->v->db, store_audit_scan(f->v->db, 0, order_fn, &o)), 0);
    assert_int_equal(o.bad, 0);
    assert_int_equal(o.next_row, 2 + PIPE_ROWS);
    sc = audit_scan(f, NULL);
    assert_int_equal(sc.creates, 1 + PIPE_ROWS);
    assert_true(sc.all_hashed);
    /* Rows from the first, a middle and the last batch. */
    expect_field(f->officer, "13800000001", "name", "居民00001");
    expect_field(f->officer, "13800001000", "id_number", "330105199001011000");
    expect_field(f->officer, "13800001999", "name", "居民01999");
    /* Resident 7's phone cell is empty: not set, not indexed. */
    assert_int_equal(vault_record_find(&ids, &n, f->officer, "phone", "13800000007", 11), 0);
    assert_int_equal(n, 0);
    vault_free(ids);
}

/* A bad row far past the first batches: its own row and column, and the
 * records written before it are rolled back with the rest. */
static void test_pipeline_late_error(void **state)
{
    fixture *f = *state;
    char path[600];

    write_pipe_csv(path, sizeof path, f, 1901, "hangzhou//xiaohe");
    assert_int_equal(vault_import_csv(NULL, f->officer, path, NULL, NULL), VAULT_EINVALID);
    assert_message(path, 1901, 1, "jurisdiction has an empty segment");
    assert_nothing_imported(f, 0);
}

/* A failure on the writer's side (here the entry's detail, which names
 * the file, is not UTF-8): reported at its row, the worker stopped while
 * it waits for room in the ring, nothing imported. */
static void test_pipeline_writer_failure(void **state)
{
    fixture *f = *state;
    char path[600], bad[700];

    write_pipe_csv(path, sizeof path, f, 0, NULL);
    snprintf(bad, sizeof bad, "%s/pipe-\xff.csv", f->dir);
    assert_int_equal(rename(path, bad), 0);
    assert_int_equal(vault_import_csv(NULL, f->officer, bad, NULL, NULL), VAULT_EINVALID);
    assert_message(bad, 2, 1, "not valid UTF-8");
    assert_nothing_imported(f, 0);
}

/* A denied row late in the file: one denial entry, nothing imported. */
static void test_pipeline_late_denial(void **state)
{
    fixture *f = *state;
    char path[600];

    write_pipe_csv(path, sizeof path, f, 1500, "hangzhou/xihu/lingyin/grid-01");
    assert_int_equal(vault_import_csv(NULL, f->officer, path, NULL, NULL), VAULT_EDENIED);
    assert_message(path, 1500, 1, "create of a record denied");
    assert_nothing_imported(f, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_plaintext_on_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spaces_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_utf8_in_the_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_jurisdiction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_jurisdiction_not_echoed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_cell_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_cells, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_column, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_header_not_echoed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_jurisdiction_column, setup, teardown),
        cmocka_unit_test_setup_teardown(test_denied_grid_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_denied_outside_jurisdiction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_denied_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_header_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endless_cell, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_late_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_late_denial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_writer_failure, setup, teardown),
    };

    assert_int_equal(vault_init(), 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

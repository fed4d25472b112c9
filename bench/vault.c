/* The measures on a real vault.  A synthetic CSV of residents (cli/synth.c)
 * is imported by a child process started from this program's own binary
 * (execv of /proc/self/exe), so its peak RSS (wait4's ru_maxrss, and
 * VmHWM read by the child) is the import's alone and not inherited from
 * this process.  The imported vault then serves the reads, lookups and
 * the audit verification. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csv.h>
#include <sodium.h>

#include "bench.h"
#include "synth.h"

#define SYNTH_SEED 20240611u
static const char *const columns[VB_COLUMNS] = {"name",    "gender", "birth_date", "id_number",
                                                 "phone",   "address", "health",   "disability"};

/* The acting data officer: may create records and write and read every
 * field up to `sensitive` in the whole street (policies/community.yaml). */
static const vault_subject officer = {sizeof(vault_subject), "bench.officer", "data_officer", "street_office",
                                      "hangzhou/gongshu/xiaohe", "resident_service"};

static void path_join(char *out, size_t cap, const char *dir, const char *name)
{
    if ((size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap)
        bench_die("path too long: %s/%s", dir, name);
}

static const char *column_value(const synth_resident *r, int c)
{
    switch (c) {
    case 0: return r->name;
    case 1: return r->gender;
    case 2: return r->birth_date;
    case 3: return r->id_number;
    case 4: return r->phone;
    case 5: return r->address;
    case 6: return r->health;
    default: return r->disability;
    }
}

/* residents.csv, quoted by libcsv; remembers each value's length (for the
 * raw bulk insert) and the id numbers of evenly spread residents (for the
 * lookups). */
static void write_csv(vb *b)
{
    FILE *f = fopen(b->csv, "w");
    synth g;
    synth_resident r;
    size_t i, step, next = 0, k = 0;
    uint64_t rng = 0x1234567u;
    int c;

    if (!f)
        bench_die("%s: %s", b->csv, strerror(errno));
    b->lens = calloc(b->residents * VB_COLUMNS, sizeof *b->lens);
    b->nlookup = b->cfg->lookups < b->residents ? b->cfg->lookups : b->residents;
    b->lookup = calloc(b->nlookup ? b->nlookup : 1, sizeof *b->lookup);
    if (!b->lens || !b->lookup)
        bench_die("out of memory");
    step = b->residents / (b->nlookup ? b->nlookup : 1);
    fputs("jurisdiction", f);
    for (c = 0; c < VB_COLUMNS; c++)
        fprintf(f, ",%s", columns[c]);
    fputc('\n', f);
    synth_init(&g, SYNTH_SEED);
    for (i = 0; i < b->residents; i++) {
        synth_resident_make(&g, &r);
        csv_fwrite(f, r.jurisdiction, strlen(r.jurisdiction));
        for (c = 0; c < VB_COLUMNS; c++) {
            const char *val = column_value(&r, c);
            size_t n = strlen(val);
            fputc(',', f);
            csv_fwrite(f, val, n);
            b->lens[i * VB_COLUMNS + (size_t)c] = (uint16_t)n;
            b->fields += n > 0;
            b->field_bytes += n;
        }
        fputc('\n', f);
        if (i == next && k < b->nlookup) {
            snprintf(b->lookup[k++], sizeof b->lookup[0], "%s", r.id_number);
            next = k * step + (step > 1 ? bench_rand(&rng) % step : 0);
        }
    }
    b->nlookup = k;
    if (fclose(f) != 0)
        bench_die("%s: write failed", b->csv);
}

static void keyfile_secret(vault_secret *sec, const char *key)
{
    vault_secret init = VAULT_SECRET_INIT;

    *sec = init;
    sec->kind = VAULT_UNLOCK_KEYFILE;
    sec->data = key;
}

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(key);

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            kb = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

/* A line on stderr every 100 000 records, for long runs. */
static void child_progress(uint64_t done, uint64_t total, void *arg)
{
    const uint64_t *t0 = arg;

    (void)total;
    if (done % 100000 == 0)
        bench_note("import child: %llu records, %.1f s", (unsigned long long)done,
                   (double)(bench_now_ns() - *t0) / 1e9);
}

/* argv: VAULT KEYFILE CSV RESULT.  Writes "seconds count hwm_kb rss_before_kb". */
int bench_import_child(int argc, char **argv)
{
    vault *v = NULL;
    vault_session *s = NULL;
    vault_secret sec = VAULT_SECRET_INIT;
    size_t count = 0;
    uint64_t t0, t1;
    long before, hwm;
    FILE *f;

    if (argc != 4)
        bench_die("--child-import VAULT KEYFILE CSV RESULT");
    keyfile_secret(&sec, argv[1]);
    bench_check(vault_open(&v, argv[0], &sec), "child: vault_open");
    bench_check(vault_session_open(&s, v, &officer), "child: session");
    before = status_kb("VmRSS");
    t0 = bench_now_ns();
    bench_check(vault_import_csv(&count, s, argv[2], child_progress, &t0), "child: vault_import_csv");
    t1 = bench_now_ns();
    hwm = status_kb("VmHWM");
    vault_session_close(s);
    vault_close(v);
    f = fopen(argv[3], "w");
    if (!f)
        bench_die("%s: %s", argv[3], strerror(errno));
    fprintf(f, "%.9f %zu %ld %ld\n", (double)(t1 - t0) / 1e9, count, hwm, before);
    return fclose(f) == 0 ? 0 : 1;
}

/* Run the import in a fresh process; returns its seconds and fills *o. */
static double import_in_child(json_t *o, vb *b)
{
    char result[600], line[256], *end;
    struct rusage ru;
    int status = 0;
    pid_t pid;
    double secs;
    size_t count;
    long hwm, before;
    FILE *f;

    path_join(result, sizeof result, b->cfg->workdir, "import.result");
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        char *args[] = {(char *)"vault_bench", (char *)"--child-import", b->vault, b->key, b->csv,
                        result, NULL};
        execv(b->cfg->self, args);
        _exit(127);
    }
    memset(&ru, 0, sizeof ru);
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        bench_die("the import child failed (status %d)", status);
    f = fopen(result, "r");
    if (!f || !fgets(line, sizeof line, f))
        bench_die("%s: no result", result);
    fclose(f);
    secs = strtod(line, &end);
    count = (size_t)strtoull(end, &end, 10);
    hwm = strtol(end, &end, 10);
    before = strtol(end, &end, 10);
    if (count != b->residents)
        bench_die("imported %zu records, expected %zu", count, b->residents);
    bench_set(o, "residents", json_integer((json_int_t)count));
    bench_set(o, "peak_rss_mb", bench_real((double)ru.ru_maxrss / 1024.0, 1));
    bench_set(o, "vm_hwm_mb", bench_real((double)hwm / 1024.0, 1));
    bench_set(o, "rss_before_import_mb", bench_real((double)before / 1024.0, 1));
    bench_set(o, "target_mb", json_integer(100));
    bench_set(o, "peak_vs_target", bench_real((double)ru.ru_maxrss / 1024.0 / 100.0, 3));
    bench_set(o, "met", json_boolean((double)ru.ru_maxrss / 1024.0 < 100.0));
    bench_set(o, "how", json_string("child process (fork + execv of this binary) importing the "
                                    "CSV; peak_rss_mb = wait4 ru_maxrss, vm_hwm_mb = the "
                                    "child's /proc/self/status VmHWM"));
    bench_note("import: %zu residents in %.2f s, peak RSS %.1f MB", count, secs,
               (double)ru.ru_maxrss / 1024.0);
    return secs;
}

/* Raw baseline: one transaction of INSERTs, one row per imported field
 * (16-byte record id, field name, random bytes as long as libvault's
 * ciphertext: value + 45), into a SQLCipher file with the same pragmas and
 * default page settings.  Returns fields per second. */
static double raw_bulk_insert(vb *b, size_t *out_rows)
{
    char path[600], keyspec[68];
    sqlite3 *db;
    sqlite3_stmt *st;
    uint8_t *rnd;
    const size_t rnd_len = 1 << 20;
    size_t i, rows = 0, off = 0;
    uint64_t t0, t;
    int c;

    path_join(path, sizeof path, b->cfg->workdir, "raw_bulk.db");
    raw_random_key(keyspec);
    db = raw_open(path, keyspec);
    raw_exec(db, "CREATE TABLE fields(id INTEGER PRIMARY KEY, record_id BLOB NOT NULL,"
                 " name TEXT NOT NULL, ct BLOB NOT NULL)");
    rnd = malloc(rnd_len + VAULT_VALUE_MAX);
    if (!rnd)
        bench_die("out of memory");
    randombytes_buf(rnd, rnd_len + VAULT_VALUE_MAX);
    st = raw_prepare(db, "INSERT INTO fields(record_id, name, ct) VALUES (?1, ?2, ?3)");
    t0 = bench_now_ns();
    raw_exec(db, "BEGIN IMMEDIATE");
    for (i = 0; i < b->residents; i++) {
        const uint8_t *rid = rnd + (i * 16) % rnd_len;
        for (c = 0; c < VB_COLUMNS; c++) {
            size_t n = b->lens[i * VB_COLUMNS + (size_t)c];
            if (n == 0)
                continue;
            off = (off + 97) % rnd_len;
            sqlite3_bind_blob(st, 1, rid, 16, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, columns[c], -1, SQLITE_STATIC);
            sqlite3_bind_blob(st, 3, rnd + off, (int)(n + VAULT_FIELD_OVERHEAD), SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE)
                bench_die("raw insert: %s", sqlite3_errmsg(db));
            sqlite3_reset(st);
            rows++;
        }
    }
    raw_exec(db, "COMMIT");
    t = bench_now_ns() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(rnd);
    *out_rows = rows;
    return (double)rows / ((double)t / 1e9);
}

/* Every record id, read through the raw connection. */
static void load_ids(vb *b)
{
    sqlite3_stmt *st = raw_prepare(b->raw, "SELECT id FROM records");
    size_t cap = b->residents ? b->residents : 1;

    b->ids = malloc(cap * sizeof *b->ids);
    if (!b->ids)
        bench_die("out of memory");
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (b->nids == cap)
            bench_die("more records than imported");
        if (sqlite3_column_bytes(st, 0) != VAULT_ID_BYTES)
            bench_die("record id of unexpected length");
        sodium_bin2hex(b->ids[b->nids++], VAULT_ID_HEX_SIZE, sqlite3_column_blob(st, 0),
                       VAULT_ID_BYTES);
    }
    sqlite3_finalize(st);
    if (b->nids != b->residents)
        bench_die("found %zu records, expected %zu", b->nids, b->residents);
}

/* The settings the raw connections share with libvault's, as read back
 * from the vault's own file. */
static json_t *settings(sqlite3 *db)
{
    json_t *o = json_object();

    bench_set(o, "page_size", json_integer(raw_pragma(db, "page_size")));
    bench_set(o, "cache_size", json_integer(raw_pragma(db, "cache_size")));
    bench_set(o, "synchronous", json_integer(raw_pragma(db, "synchronous")));
    bench_set(o, "journal_mode", json_string("wal"));
    return o;
}

void bench_vault(json_t *out, const bench_cfg *cfg, int do_vault, int do_service)
{
    vb b;
    vault_secret sec = VAULT_SECRET_INIT;
    json_t *rss = json_object(), *cmp;
    char dbkey[80];
    double secs, raw_rate;
    size_t rows = 0;

    memset(&b, 0, sizeof b);
    b.cfg = cfg;
    b.residents = cfg->residents;
    path_join(b.key, sizeof b.key, cfg->workdir, "vault.key");
    path_join(b.vault, sizeof b.vault, cfg->workdir, "residents.vault");
    path_join(b.csv, sizeof b.csv, cfg->workdir, "residents.csv");
    bench_check(vault_keyfile_generate(b.key), "vault_keyfile_generate");
    bench_note("writing %zu synthetic residents", b.residents);
    write_csv(&b);
    keyfile_secret(&sec, b.key);
    bench_check(vault_create(&b.v, b.vault, cfg->policy, &sec), "vault_create");
    vault_close(b.v);
    b.v = NULL;

    secs = import_in_child(rss, &b);
    if (do_vault) {
        raw_rate = raw_bulk_insert(&b, &rows);
        if (rows != b.fields)
            bench_die("raw rows %zu != fields %zu", rows, b.fields);
        cmp = bench_ratio((double)b.fields / secs, raw_rate, "fields/s", 0.25);
        bench_set(cmp, "residents", json_integer((json_int_t)b.residents));
        bench_set(cmp, "fields", json_integer((json_int_t)b.fields));
        bench_set(cmp, "value_bytes", json_integer((json_int_t)b.field_bytes));
        bench_set(cmp, "libvault_seconds", bench_real(secs, 3));
        bench_set(cmp, "libvault_residents_per_s", bench_real((double)b.residents / secs, 1));
        bench_set(cmp, "raw", bench_real(raw_rate, 1));
        bench_set(cmp, "raw_primitive",
                  json_string("one transaction of INSERTs, one row per imported field (16-byte "
                              "record id, field name, value length + 45 random bytes) into a "
                              "SQLCipher file with the same pragmas and page settings"));
        bench_set(out, "bulk_import", cmp);
        bench_note("bulk import: libvault %.0f fields/s, raw %.0f fields/s, ratio %.3f",
                   (double)b.fields / secs, raw_rate, (double)b.fields / secs / raw_rate);
    }

    bench_check(vault_open(&b.v, b.vault, &sec), "vault_open");
    bench_check(vault_set_actor(b.v, "bench"), "vault_set_actor");
    bench_check(vault_session_open(&b.s, b.v, &officer), "vault_session_open");
    bench_check(vault_db_key(dbkey, sizeof dbkey, b.v), "vault_db_key");
    b.raw = raw_open(b.vault, dbkey);
    sodium_memzero(dbkey, sizeof dbkey);
    load_ids(&b);
    bench_set(out, "sqlcipher_settings", settings(b.raw));

    if (do_vault) {
        bench_set(out, "import_peak_rss", rss);
        bench_reads(out, &b);
        bench_lookups(out, &b);
        bench_verify(out, &b);
    } else {
        json_decref(rss);
    }
    if (do_service)
        bench_service(out, &b);

    sqlite3_close(b.raw);
    vault_session_close(b.s);
    vault_close(b.v);
    free(b.ids);
    free(b.lens);
    free(b.lookup);
}

/* Audited reads of one field (phone) of random residents, batched
 * (vault_record_get_batch: one audit entry per record, one commit per
 * batch) and one durable commit each (vault_record_get), next to raw
 * SQLCipher doing the least the same job needs: point selects of the
 * field's row in the vault's own file, and one small INSERT per
 * synchronous=FULL WAL transaction.  Then blind-index lookups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bench.h"

static const char *const phone[] = {"phone"};

static void id_bin(uint8_t out[VAULT_ID_BYTES], const char *hex)
{
    size_t n = 0;

    if (sodium_hex2bin(out, VAULT_ID_BYTES, hex, 32, NULL, &n, NULL) != 0 || n != VAULT_ID_BYTES)
        bench_die("bad record id %s", hex);
}

static void check_result(const vault_result *r)
{
    if (vault_result_count(r) != 1 || vault_result_effect(r, 0) != VAULT_EFFECT_ALLOW ||
        !vault_result_present(r, 0))
        bench_die("audited read: expected an allowed, present phone");
}

/* One round of batched reads: returns reads per second. */
static double batched_round(vb *b, uint64_t seed, const char **ids, vault_result **res)
{
    size_t B = b->cfg->batch_size, k, i;
    uint64_t rng = seed, t = 0, t0;

    for (k = 0; k < b->cfg->batches; k++) {
        for (i = 0; i < B; i++)
            ids[i] = b->ids[bench_rand(&rng) % b->nids];
        t0 = bench_now_ns();
        bench_check(vault_record_get_batch(res, b->s, ids, B, phone, 1), "vault_record_get_batch");
        for (i = 0; i < B; i++) {
            if (i == 0)
                check_result(res[0]);
            vault_result_free(res[i]);
        }
        t += bench_now_ns() - t0;
    }
    return (double)(B * b->cfg->batches) / ((double)t / 1e9);
}

/* The same ids as raw point selects, one read transaction per batch. */
static double raw_select_round(vb *b, uint64_t seed, sqlite3_stmt *sel, uint8_t *bin)
{
    size_t B = b->cfg->batch_size, k, i, bytes = 0;
    uint64_t rng = seed, t = 0, t0;

    for (k = 0; k < b->cfg->batches; k++) {
        for (i = 0; i < B; i++)
            id_bin(bin + i * VAULT_ID_BYTES, b->ids[bench_rand(&rng) % b->nids]);
        t0 = bench_now_ns();
        raw_exec(b->raw, "BEGIN");
        for (i = 0; i < B; i++) {
            sqlite3_bind_blob(sel, 1, bin + i * VAULT_ID_BYTES, VAULT_ID_BYTES, SQLITE_STATIC);
            if (sqlite3_step(sel) != SQLITE_ROW)
                bench_die("raw select: no row");
            bytes += (size_t)sqlite3_column_bytes(sel, 0);
            sqlite3_reset(sel);
        }
        raw_exec(b->raw, "COMMIT");
        t += bench_now_ns() - t0;
    }
    if (bytes == 0)
        bench_die("raw select read nothing");
    return (double)(B * b->cfg->batches) / ((double)t / 1e9);
}

static void batched(json_t *out, vb *b)
{
    size_t B = b->cfg->batch_size;
    const char **ids = malloc(B * sizeof *ids);
    vault_result **res = malloc(B * sizeof *res);
    uint8_t *bin = malloc(B * VAULT_ID_BYTES);
    /* Storage v2 keeps a record's fields in its row: the raw primitive is
     * the point select of that row by its public id. */
    sqlite3_stmt *sel = raw_prepare(b->raw, "SELECT body FROM records WHERE id = ?1");
    double lv[64], raw[64], a, c;
    int r, n = b->cfg->read_rounds < 64 ? b->cfg->read_rounds : 64;
    json_t *o;

    if (!ids || !res || !bin)
        bench_die("out of memory");
    for (r = 0; r < n; r++) {
        lv[r] = batched_round(b, 1000 + (uint64_t)r, ids, res);
        raw[r] = raw_select_round(b, 1000 + (uint64_t)r, sel, bin);
    }
    a = bench_median(lv, (size_t)n);
    c = bench_median(raw, (size_t)n);
    o = bench_ratio(a, c, "reads/s", 0.5);
    bench_set(o, "batch_size", json_integer((json_int_t)B));
    bench_set(o, "reads_per_round", json_integer((json_int_t)(B * b->cfg->batches)));
    bench_set(o, "rounds", json_integer(n));
    bench_set(o, "libvault_us_per_read", bench_real(1e6 / a, 2));
    bench_set(o, "raw_us_per_read", bench_real(1e6 / c, 2));
    bench_set(o, "raw_primitive", json_string("SELECT body FROM records WHERE id = ? (the row "
                                              "that holds the record's fields) on the vault's own "
                                              "file (opened with its db key), same ids, one read "
                                              "transaction per batch"));
    bench_set(out, "audited_reads_batched", o);
    bench_note("batched reads: libvault %.0f/s, raw %.0f/s, ratio %.3f", a, c, a / c);
    sqlite3_finalize(sel);
    free(ids);
    free(res);
    free(bin);
}

static void durable(json_t *out, vb *b)
{
    size_t N = b->cfg->commits, i, nl = 0;
    int r, n = b->cfg->commit_rounds < 64 ? b->cfg->commit_rounds : 64;
    uint64_t *lat_lv = malloc(N * (size_t)n * sizeof *lat_lv);
    uint64_t *lat_raw = malloc(N * (size_t)n * sizeof *lat_raw);
    uint64_t rng = 77, t0, t1, tl, tr;
    double lv[64], raw[64], a, c;
    char path[600], keyspec[68];
    uint8_t blob[64];
    sqlite3 *db;
    sqlite3_stmt *ins;
    vault_result *res = NULL;
    json_t *o;

    if (!lat_lv || !lat_raw)
        bench_die("out of memory");
    if ((size_t)snprintf(path, sizeof path, "%s/raw_commit.db", b->cfg->workdir) >= sizeof path)
        bench_die("path too long");
    raw_random_key(keyspec);
    db = raw_open(path, keyspec);
    raw_exec(db, "CREATE TABLE log(id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    ins = raw_prepare(db, "INSERT INTO log(v) VALUES (?1)");
    randombytes_buf(blob, sizeof blob);
    for (r = 0; r < n; r++) {
        tl = tr = 0;
        for (i = 0; i < N; i++) {
            const char *id = b->ids[bench_rand(&rng) % b->nids];
            t0 = bench_now_ns();
            bench_check(vault_record_get(&res, b->s, id, phone, 1), "vault_record_get");
            vault_result_free(res);
            t1 = bench_now_ns();
            lat_lv[nl] = t1 - t0;
            tl += t1 - t0;
            t0 = bench_now_ns();
            raw_exec(db, "BEGIN IMMEDIATE");
            sqlite3_bind_blob(ins, 1, blob, sizeof blob, SQLITE_STATIC);
            if (sqlite3_step(ins) != SQLITE_DONE)
                bench_die("raw insert: %s", sqlite3_errmsg(db));
            sqlite3_reset(ins);
            raw_exec(db, "COMMIT");
            t1 = bench_now_ns();
            lat_raw[nl++] = t1 - t0;
            tr += t1 - t0;
        }
        lv[r] = (double)N / ((double)tl / 1e9);
        raw[r] = (double)N / ((double)tr / 1e9);
    }
    a = bench_median(lv, (size_t)n);
    c = bench_median(raw, (size_t)n);
    o = bench_ratio(a, c, "commits/s", 0.8);
    bench_set(o, "commits_per_round", json_integer((json_int_t)N));
    bench_set(o, "rounds", json_integer(n));
    bench_set(o, "libvault_p50_us", bench_real((double)bench_percentile(lat_lv, nl, 50) / 1e3, 1));
    bench_set(o, "libvault_p99_us", bench_real((double)bench_percentile(lat_lv, nl, 99) / 1e3, 1));
    b->raw_commit_p50_ns = (double)bench_percentile(lat_raw, nl, 50);
    bench_set(o, "raw_p50_us", bench_real(b->raw_commit_p50_ns / 1e3, 1));
    bench_set(o, "raw_p99_us", bench_real((double)bench_percentile(lat_raw, nl, 99) / 1e3, 1));
    bench_set(o, "raw_primitive", json_string("BEGIN IMMEDIATE; INSERT 64 bytes; COMMIT in a "
                                              "SQLCipher WAL file with synchronous=FULL"));
    bench_set(out, "audited_reads_durable", o);
    bench_note("durable reads: libvault %.0f/s, raw commits %.0f/s, ratio %.3f", a, c, a / c);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    free(lat_lv);
    free(lat_raw);
}

void bench_reads(json_t *out, vb *b)
{
    batched(out, b);
    durable(out, b);
}

/* vault_record_find by id number: blind index + one audited, durable
 * commit per lookup.  Raw context: the index's own point select in the
 * same file (for the records found), and the raw durable commit above. */
void bench_lookups(json_t *out, vb *b)
{
    size_t n = b->nlookup, i, count = 0, found = 0;
    uint64_t *lat = malloc((n ? n : 1) * sizeof *lat), *rlat = malloc((n ? n : 1) * sizeof *rlat);
    uint8_t *hits = malloc((n ? n : 1) * VAULT_ID_BYTES), digest[64];
    char *ids = NULL;
    uint64_t t0, p50, p99, rp50, rp99;
    sqlite3_stmt *dig, *find;
    int dlen, *dlens = NULL;
    uint8_t *digests = NULL;
    json_t *o = json_object();

    if (!lat || !rlat || !hits)
        bench_die("out of memory");
    for (i = 0; i < n; i++) {
        t0 = bench_now_ns();
        bench_check(vault_record_find(&ids, &count, b->s, "id_number", b->lookup[i],
                                      strlen(b->lookup[i])),
                    "vault_record_find");
        lat[i] = bench_now_ns() - t0;
        if (count < 1)
            bench_die("lookup %zu found nothing", i);
        found += count;
        id_bin(hits + i * VAULT_ID_BYTES, ids);
        vault_free(ids);
    }
    /* The digests of the records found: one pass over the index rows (they
     * have no index by record id). */
    digests = calloc(n ? n : 1, 64);
    dlens = calloc(n ? n : 1, sizeof *dlens);
    if (!digests || !dlens)
        bench_die("out of memory");
    dig = raw_prepare(b->raw, "SELECT id, digest FROM blind_index WHERE field = 'id_number'");
    while (sqlite3_step(dig) == SQLITE_ROW) {
        if (sqlite3_column_bytes(dig, 0) != VAULT_ID_BYTES || sqlite3_column_bytes(dig, 1) > 64)
            continue;
        for (i = 0; i < n; i++)
            if (!dlens[i] && memcmp(hits + i * VAULT_ID_BYTES, sqlite3_column_blob(dig, 0),
                                    VAULT_ID_BYTES) == 0) {
                dlens[i] = sqlite3_column_bytes(dig, 1);
                memcpy(digests + 64 * i, sqlite3_column_blob(dig, 1), (size_t)dlens[i]);
            }
    }
    find = raw_prepare(b->raw, "SELECT id FROM blind_index WHERE field = ?1 AND digest = ?2 "
                               "ORDER BY id");
    for (i = 0; i < n; i++) {
        if (!dlens[i])
            bench_die("raw: no blind index row for a found record");
        dlen = dlens[i];
        memcpy(digest, digests + 64 * i, (size_t)dlen);
        t0 = bench_now_ns();
        sqlite3_bind_text(find, 1, "id_number", -1, SQLITE_STATIC);
        sqlite3_bind_blob(find, 2, digest, dlen, SQLITE_STATIC);
        while (sqlite3_step(find) == SQLITE_ROW)
            (void)sqlite3_column_blob(find, 0);
        sqlite3_reset(find);
        rlat[i] = bench_now_ns() - t0;
    }
    sqlite3_finalize(dig);
    sqlite3_finalize(find);
    free(digests);
    free(dlens);
    p50 = bench_percentile(lat, n, 50);
    p99 = bench_percentile(lat, n, 99);
    rp50 = bench_percentile(rlat, n, 50);
    rp99 = bench_percentile(rlat, n, 99);
    bench_set(o, "residents", json_integer((json_int_t)b->residents));
    bench_set(o, "lookups", json_integer((json_int_t)n));
    bench_set(o, "records_found", json_integer((json_int_t)found));
    bench_set(o, "p50_us", bench_real((double)p50 / 1e3, 1));
    bench_set(o, "p99_us", bench_real((double)p99 / 1e3, 1));
    bench_set(o, "raw_select_p50_us", bench_real((double)rp50 / 1e3, 1));
    bench_set(o, "raw_select_p99_us", bench_real((double)rp99 / 1e3, 1));
    bench_set(o, "raw_commit_p50_us", bench_real(b->raw_commit_p50_ns / 1e3, 1));
    /* The least an audited lookup can cost: the index select plus one
     * durable commit of its audit entry. */
    bench_set(o, "raw_floor_p50_us", bench_real(((double)rp50 + b->raw_commit_p50_ns) / 1e3, 1));
    bench_set(o, "ratio", bench_real(((double)rp50 + b->raw_commit_p50_ns) / (double)p50, 3));
    bench_set(o, "ratio_meaning", json_string("(raw index select p50 + raw durable commit p50) / "
                                              "libvault p50; no DESIGN.md target"));
    bench_set(out, "lookup_blind_index", o);
    bench_note("lookups: p50 %.1f us, p99 %.1f us (raw select p50 %.1f us)", (double)p50 / 1e3,
               (double)p99 / 1e3, (double)rp50 / 1e3);
    free(lat);
    free(rlat);
    free(hits);
}

/* Audit verification (vault_audit_verify over the whole log of the
 * imported vault, on two threads) next to raw SHA-256 (libcrypto, through
 * vc_log_sha256, the implementation libvault uses for the log) over the
 * same entry bytes, one hash per entry.  Also: a compact export verified
 * offline (vault_audit_verify_export), incremental verification of the
 * last 10 000 entries (vault_audit_verify_since), and a breakdown of the
 * parts on the same entries held in memory: the raw SQLCipher scan,
 * af_entry_check, the hashes alone (leaf, chain, Merkle), the whole
 * af_verifier on one thread, and libsodium's SHA-256 for comparison. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/audit_format.h"
#include "bench.h"
#include "crypto.h"

typedef struct entries {
    uint8_t *buf;     /* every entry, back to back */
    size_t *off, *len;
    uint8_t (*head)[32];
    size_t n, bytes;
} entries;

static double secs_since(uint64_t t0)
{
    return (double)(bench_now_ns() - t0) / 1e9;
}

/* Step through the log as verify reads it; returns seconds.  With keep,
 * copy the entries into e (sized by a first pass without keep). */
static double raw_scan(vb *b, entries *e, int keep)
{
    sqlite3_stmt *st = raw_prepare(b->raw, "SELECT pos, entry, head FROM audit ORDER BY pos");
    size_t n = 0, bytes = 0;
    uint64_t t0 = bench_now_ns();
    double t;

    while (sqlite3_step(st) == SQLITE_ROW) {
        const uint8_t *p = sqlite3_column_blob(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        const uint8_t *h = sqlite3_column_blob(st, 2);

        if (keep) {
            if (n >= e->n || bytes + len > e->bytes || !h || sqlite3_column_bytes(st, 2) != 32)
                bench_die("audit log changed while it was read");
            memcpy(e->buf + bytes, p, len);
            memcpy(e->head[n], h, 32);
            e->off[n] = bytes;
            e->len[n] = len;
        }
        bytes += len;
        n++;
    }
    t = secs_since(t0);
    sqlite3_finalize(st);
    if (!keep) {
        e->n = n;
        e->bytes = bytes;
    }
    return t;
}

static void load_entries(vb *b, entries *e, double *scan_secs)
{
    *scan_secs = raw_scan(b, e, 0); /* counts, and is the timed raw scan */
    e->buf = malloc(e->bytes ? e->bytes : 1);
    e->off = malloc(e->n * sizeof *e->off);
    e->len = malloc(e->n * sizeof *e->len);
    e->head = malloc(e->n * sizeof *e->head);
    if (!e->buf || !e->off || !e->len || !e->head)
        bench_die("out of memory");
    (void)raw_scan(b, e, 1);
}

/* The raw primitive: libcrypto's SHA-256 once over each entry. */
static double rate_sha256(const entries *e)
{
    uint8_t h[32];
    uint64_t t0 = bench_now_ns();
    size_t i;

    for (i = 0; i < e->n; i++)
        vc_log_sha256(h, 0x00, e->buf + e->off[i], e->len[i]);
    return (double)e->n / secs_since(t0);
}

/* libsodium 1.0.18's (portable C), as libvault hashed the log before. */
static double rate_sodium_sha256(const entries *e)
{
    uint8_t h[32];
    uint64_t t0 = bench_now_ns();
    size_t i;

    for (i = 0; i < e->n; i++)
        crypto_hash_sha256(h, e->buf + e->off[i], e->len[i]);
    return (double)e->n / secs_since(t0);
}

static double rate_check(const entries *e)
{
    uint64_t t0 = bench_now_ns(), seq;
    size_t i;

    for (i = 0; i < e->n; i++)
        if (af_entry_check(&seq, e->buf + e->off[i], e->len[i]) != 0)
            bench_die("entry %zu malformed", i);
    return (double)e->n / secs_since(t0);
}

static double rate_hashes(const entries *e)
{
    uint8_t leaf[32], head[32];
    static af_merkle m;
    uint64_t t0 = bench_now_ns();
    size_t i;

    memset(head, 0, sizeof head);
    af_merkle_init(&m);
    for (i = 0; i < e->n; i++) {
        af_leaf_hash(leaf, e->buf + e->off[i], e->len[i]);
        af_chain_next(head, head, leaf);
        af_merkle_push(&m, leaf);
    }
    if (sodium_memcmp(head, e->head[e->n - 1], 32) != 0)
        bench_die("recomputed chain head differs from the stored one");
    return (double)e->n / secs_since(t0);
}

static double rate_verifier(const entries *e)
{
    static af_verifier v;
    uint64_t t0 = bench_now_ns();
    size_t i;

    af_verifier_init(&v, NULL, 0);
    for (i = 0; i < e->n; i++)
        if (af_verifier_push(&v, i + 1, e->buf + e->off[i], e->len[i], e->head[i]) != 0)
            bench_die("in-memory verification failed: %s", v.res.message);
    (void)af_verifier_finish(&v);
    return (double)e->n / secs_since(t0);
}

/* libcrypto SHA-256 throughput over 64 KiB, MB/s. */
static double sha256_mbps(void)
{
    static uint8_t buf[65536];
    uint8_t h[32];
    uint64_t t0 = bench_now_ns();
    size_t i, n = 0;

    randombytes_buf(buf, sizeof buf);
    do {
        for (i = 0; i < 16; i++)
            vc_log_sha256(h, 0x00, buf, sizeof buf);
        n += 16;
    } while (bench_now_ns() - t0 < 300000000u);
    return (double)n * sizeof buf / 1e6 / secs_since(t0);
}

static size_t blocks(size_t msg_len)
{
    return (msg_len + 9 + 63) / 64; /* padding: 0x80 and a 64-bit length */
}

/* The stored checkpoint note nearest below `size` (malloc'ed). */
static char *note_below(vb *b, uint64_t size, uint64_t *got)
{
    sqlite3_stmt *st = raw_prepare(b->raw, "SELECT size, note FROM checkpoints WHERE size <= ?1 "
                                           "ORDER BY size DESC LIMIT 1");
    char *note = NULL;

    sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *got = (uint64_t)sqlite3_column_int64(st, 0);
        note = strdup((const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    if (!note)
        bench_die("no stored checkpoint at or below %llu entries", (unsigned long long)size);
    return note;
}

void bench_verify(json_t *out, vb *b)
{
    int r, n = b->cfg->verify_rounds < 16 ? b->cfg->verify_rounds : 16;
    double lv[16], raw[16], a, c, scan, t, ex[16], since[16];
    double check[16], hashes[16], ver[16], sod[16];
    vault_audit_result res;
    entries e;
    uint64_t t0, since_size = 0, since_entries = 0, exported = 0;
    size_t i, raw_blocks = 0, ver_blocks = 0, entries_checked = 0;
    json_t *o, *br = json_object(), *eo, *so;
    char pub[VAULT_PUBKEY_SIZE], path[600], *note;

    memset(&e, 0, sizeof e);
    for (r = 0; r < n; r++) {
        t0 = bench_now_ns();
        bench_check(vault_audit_verify(&res, b->v, NULL, NULL, NULL), "vault_audit_verify");
        t = secs_since(t0);
        if (res.failure != VAULT_AUDIT_OK)
            bench_die("audit verify: %s", res.message);
        entries_checked = (size_t)res.entries;
        lv[r] = (double)res.entries / t;
    }
    /* the last 10 000 entries, from the stored checkpoint before them */
    note = note_below(b, entries_checked > 10000 ? entries_checked - 10000 : 0, &since_size);
    for (r = 0; r < n; r++) {
        t0 = bench_now_ns();
        bench_check(vault_audit_verify_since(&res, b->v, note, NULL, 0, NULL, NULL),
                    "vault_audit_verify_since");
        since[r] = secs_since(t0);
        if (res.failure != VAULT_AUDIT_OK)
            bench_die("audit verify --since: %s", res.message);
        since_entries = res.entries;
    }
    free(note);
    /* a compact export, verified offline */
    snprintf(path, sizeof path, "%s.compact.jsonl", b->vault);
    (void)unlink(path);
    bench_check(vault_audit_export_as(b->v, path, VAULT_EXPORT_COMPACT, NULL, NULL),
                "vault_audit_export_as");
    bench_check(vault_audit_pubkey(pub, sizeof pub, b->v), "vault_audit_pubkey");
    for (r = 0; r < n; r++) {
        t0 = bench_now_ns();
        bench_check(vault_audit_verify_export(&res, path, pub, NULL, NULL, NULL),
                    "vault_audit_verify_export");
        t = secs_since(t0);
        exported = res.entries;
        ex[r] = (double)res.entries / t;
    }
    (void)unlink(path);
    load_entries(b, &e, &scan);
    /* The last rounds logged their own entries after their scans. */
    if (e.n < entries_checked || e.n > entries_checked + 2 * (size_t)n + 4)
        bench_die("the log has %zu entries, verify checked %zu", e.n, entries_checked);
    for (r = 0; r < n; r++) {
        raw[r] = rate_sha256(&e);
        sod[r] = rate_sodium_sha256(&e);
        check[r] = rate_check(&e);
        hashes[r] = rate_hashes(&e);
        ver[r] = rate_verifier(&e);
    }
    for (i = 0; i < e.n; i++) {
        raw_blocks += blocks(e.len[i]);
        /* leaf over 0x00|entry, chain and one Merkle node (amortised) of 65 bytes */
        ver_blocks += blocks(e.len[i] + 1) + 2 * blocks(65);
    }
    a = bench_median(lv, (size_t)n);
    c = bench_median(raw, (size_t)n);
    /* DESIGN.md section 9 (second edition) and issue 16: at least 700 000
     * entries/s verified in the vault, 1 000 000 from an export. */
    o = bench_ratio(a, c, "entries/s", 0);
    bench_set(o, "target_entries_per_s", json_integer(700000));
    bench_set(o, "met", json_boolean(a >= 7e5));
    bench_set(o, "entries", json_integer((json_int_t)e.n));
    bench_set(o, "checkpoints", json_integer((json_int_t)res.checkpoints));
    bench_set(o, "mean_entry_bytes", bench_real((double)e.bytes / (double)e.n, 1));
    bench_set(o, "sha256_blocks_per_entry_raw", bench_real((double)raw_blocks / (double)e.n, 2));
    bench_set(o, "sha256_blocks_per_entry_verify", bench_real((double)ver_blocks / (double)e.n, 2));
    bench_set(o, "sha256_mb_per_s", bench_real(sha256_mbps(), 1));
    bench_set(br, "sqlcipher_scan_entries_per_s", bench_real((double)e.n / scan, 1));
    bench_set(br, "entry_check_entries_per_s", bench_real(bench_median(check, (size_t)n), 1));
    bench_set(br, "hashes_only_entries_per_s", bench_real(bench_median(hashes, (size_t)n), 1));
    bench_set(br, "af_verifier_one_thread_in_memory_entries_per_s",
              bench_real(bench_median(ver, (size_t)n), 1));
    bench_set(br, "libsodium_sha256_entries_per_s", bench_real(bench_median(sod, (size_t)n), 1));
    bench_set(o, "breakdown", br);
    bench_set(o, "raw_primitive", json_string("libcrypto SHA-256 once over each entry's bytes, "
                                              "held in memory"));
    eo = bench_ratio(bench_median(ex, (size_t)n), c, "entries/s", 0);
    bench_set(eo, "entries", json_integer((json_int_t)exported));
    bench_set(eo, "target_entries_per_s", json_integer(1000000));
    bench_set(eo, "met", json_boolean(bench_median(ex, (size_t)n) >= 1e6));
    bench_set(eo, "format", json_string("audit export --compact, read from the page cache"));
    bench_set(o, "export", eo);
    so = json_object();
    bench_set(so, "trusted_checkpoint_size", json_integer((json_int_t)since_size));
    bench_set(so, "entries", json_integer((json_int_t)since_entries));
    bench_set(so, "seconds", bench_real(bench_median(since, (size_t)n), 4));
    bench_set(o, "since", so);
    bench_set(out, "audit_verify", o);
    bench_note("audit verify: libvault %.0f entries/s, raw SHA-256 %.0f entries/s, ratio %.3f", a,
               c, a / c);
    bench_note("audit verify --export (compact): %.0f entries/s; --since the last %llu entries: "
               "%.3f s", bench_median(ex, (size_t)n), (unsigned long long)since_entries,
               bench_median(since, (size_t)n));
    free(e.buf);
    free(e.off);
    free(e.len);
    free(e.head);
}

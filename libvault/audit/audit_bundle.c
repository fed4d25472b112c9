/* audit_bundle: the resident proof bundle's statement, JSON and offline
 * verifier (audit_bundle.h; docs/audit-format.md §11). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit_bundle.h"
#include "audit_claims.h"
#include "audit_cosign.h"
#include "crypto.h"

typedef unsigned long long ull;

const char *af_bundle_class_name(int cls)
{
    return cls == AF_UNWITNESSED ? "unwitnessed" : af_class_name(cls);
}

/* ---- statement ------------------------------------------------------------- */

/* " <seq>"... of seqs after the text at *s (off bytes of cap used), each
 * checked to be increasing and in 1..size. */
static int seqs_text(char *s, size_t cap, size_t *off, const uint64_t *seqs, size_t n,
                     uint64_t size)
{
    int rc = VAULT_OK, w;
    size_t i;

    ENSURE(n <= AF_BUNDLE_ENTRIES_MAX, VAULT_ELIMIT, "bundle: more than %d entries",
           AF_BUNDLE_ENTRIES_MAX);
    for (i = 0; i < n; i++) {
        ENSURE(seqs[i] >= 1 && seqs[i] <= size && (i == 0 || seqs[i] > seqs[i - 1]),
               VAULT_EINVALID, "bundle: entry %llu is out of order or not in the tree of size %llu",
               (ull)seqs[i], (ull)size);
        w = snprintf(s + *off, cap - *off, " %llu", (ull)seqs[i]);
        ENSURE(w > 0 && (size_t)w < cap - *off, VAULT_EINVALID, "bundle: statement too long");
        *off += (size_t)w;
    }
    ENSURE(*off + 2 <= cap, VAULT_EINVALID, "bundle: statement too long");
    s[(*off)++] = '\n';
    s[*off] = '\0';
cleanup:
    return rc;
}

int af_bundle_statement(char **out, const char *origin, uint64_t size, const uint8_t root[32],
                        const uint8_t record[16], const uint64_t *seqs, size_t n,
                        const af_bundle_log *logs, size_t nlogs, uint64_t later)
{
    int rc = VAULT_OK;
    char rb[48], rid[33], *s = NULL;
    size_t cap, off, i, total = n;
    int w;

    ENSURE(out && origin && root && record && (seqs || n == 0) && (logs || nlogs == 0),
           VAULT_EINVALID, "af_bundle_statement: missing argument");
    *out = NULL;
    ENSURE(af_note_name_ok(origin), VAULT_EINVALID, "bundle: the origin is not a valid key name");
    ENSURE(nlogs <= AF_BUNDLE_LOGS_MAX, VAULT_ELIMIT, "bundle: more than %d shard logs",
           AF_BUNDLE_LOGS_MAX);
    for (i = 0; i < nlogs; i++) {
        ENSURE(logs[i].log && *logs[i].log && strlen(logs[i].log) <= 255 &&
                   !strchr(logs[i].log, '\n') && (logs[i].seqs || logs[i].n == 0) &&
                   logs[i].size >= 1 &&
                   (i == 0 || strcmp(logs[i].log, logs[i - 1].log) > 0),
               VAULT_EINVALID, "bundle: shard log %zu is not valid or not in order", i);
        total += logs[i].n;
    }
    ENSURE(total <= AF_BUNDLE_ENTRIES_MAX, VAULT_ELIMIT, "bundle: more than %d entries",
           AF_BUNDLE_ENTRIES_MAX);
    GUARD(vc_bin2b64(rb, sizeof rb, root, 32));
    GUARD(vc_bin2hex(rid, sizeof rid, record, 16));
    cap = strlen(AF_BUNDLE_TAG_V2) + strlen(origin) + 21 + strlen(rb) + 8 + 32 + 8 + 21 * total +
          16 + 6 + 21 + nlogs * (4 + 21 + 45 + 256 + 8);
    s = malloc(cap);
    ENSURE(s, VAULT_ENOMEM, "out of memory building a bundle");
    w = snprintf(s, cap, "%s\n%s\n%llu\n%s\nrecord %s\nseqs",
                 nlogs ? AF_BUNDLE_TAG_V2 : AF_BUNDLE_TAG, origin, (ull)size, rb, rid);
    ENSURE(w > 0 && (size_t)w < cap, VAULT_EINVALID, "bundle: statement too long");
    off = (size_t)w;
    GUARD(seqs_text(s, cap, &off, seqs, n, size));
    for (i = 0; i < nlogs; i++) {
        GUARD(vc_bin2b64(rb, sizeof rb, logs[i].root, 32));
        w = snprintf(s + off, cap - off, "log %llu %s %s\nseqs", (ull)logs[i].size, rb,
                     logs[i].log);
        ENSURE(w > 0 && (size_t)w < cap - off, VAULT_EINVALID, "bundle: statement too long");
        off += (size_t)w;
        GUARD(seqs_text(s, cap, &off, logs[i].seqs, logs[i].n, logs[i].size));
    }
    if (later > 0) {
        /* The record's entries after the trees: a last line only when
         * there are some, so that a statement without them keeps its
         * lines. */
        w = snprintf(s + off, cap - off, "later %llu\n", (ull)later);
        ENSURE(w > 0 && (size_t)w < cap - off, VAULT_EINVALID, "bundle: statement too long");
    }
    *out = s;
    s = NULL;
cleanup:
    free(s);
    return rc;
}

int af_bundle_sign(uint8_t out[AF_BUNDLE_SIG_BYTES], const char *text, size_t len,
                   const char *origin, const uint8_t sk[64])
{
    int rc = VAULT_OK;
    uint8_t pk[32];

    ENSURE(out && text && origin && sk, VAULT_EINVALID, "af_bundle_sign: missing argument");
    GUARD(vc_sign_sk_to_pk(pk, sk));
    af_note_keyid(out, origin, pk);
    GUARD(vc_sign(out + 4, text, len, sk));
cleanup:
    return rc;
}

/* ---- JSON ------------------------------------------------------------------ */

static json_t *jb64(const uint8_t *b, size_t n)
{
    char *t = malloc(vc_b64_len(n));
    json_t *j = NULL;

    if (t && vc_bin2b64(t, vc_b64_len(n), b, n) == VAULT_OK)
        j = json_string(t);
    free(t);
    return j;
}

static int jadd(json_t *o, const char *k, json_t *v)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        return vault__err(VAULT_ENOMEM, "out of memory building a bundle");
    return VAULT_OK;
}

/* {["log",] "seq", "entry", "hashes"} of one entry (log: a shard log's,
 * NULL for none). */
static int entry_json(json_t **out, const char *log, uint64_t seq, const uint8_t *entry,
                      size_t len, const uint8_t (*hashes)[32], size_t nhashes)
{
    int rc = VAULT_OK;
    json_t *x = json_object(), *hs = json_array();
    size_t k;

    *out = NULL;
    ENSURE(x && hs, VAULT_ENOMEM, "out of memory building a bundle");
    if (log)
        GUARD(jadd(x, "log", json_string(log)));
    GUARD(jadd(x, "seq", json_integer((json_int_t)seq)));
    GUARD(jadd(x, "entry", jb64(entry, len)));
    for (k = 0; k < nhashes; k++)
        ENSURE(json_array_append_new(hs, jb64(hashes[k], 32)) == 0, VAULT_ENOMEM,
               "out of memory building a bundle");
    rc = jadd(x, "hashes", hs);
    hs = NULL;
    GUARD(rc);
    *out = x;
    x = NULL;
cleanup:
    json_decref(hs);
    json_decref(x);
    return rc;
}

/* The "logs" array: {"log", "size", "root", "via": {"seq", "entry",
 * "hashes"}} of each shard log with a via entry. */
static int logs_json(json_t **out, const af_bundle_log *logs, size_t nlogs)
{
    int rc = VAULT_OK;
    json_t *arr = json_array(), *x = NULL, *via = NULL;
    size_t i;

    *out = NULL;
    ENSURE(arr, VAULT_ENOMEM, "out of memory building a bundle");
    for (i = 0; i < nlogs; i++) {
        if (!logs[i].via_entry)
            continue;
        ENSURE(logs[i].via_seq >= 1 && logs[i].via_seq <= INT64_MAX &&
                   logs[i].size >= 1 && logs[i].size <= INT64_MAX &&
                   logs[i].via_nhashes <= VAULT_PROOF_HASHES_MAX &&
                   (logs[i].via_hashes || logs[i].via_nhashes == 0),
               VAULT_EINVALID, "bundle: shard log %zu is not valid", i);
        GUARD(entry_json(&via, NULL, logs[i].via_seq, logs[i].via_entry, logs[i].via_len,
                         logs[i].via_hashes, logs[i].via_nhashes));
        x = json_object();
        ENSURE(x, VAULT_ENOMEM, "out of memory building a bundle");
        GUARD(jadd(x, "log", json_string(logs[i].log)));
        GUARD(jadd(x, "size", json_integer((json_int_t)logs[i].size)));
        GUARD(jadd(x, "root", jb64(logs[i].root, 32)));
        rc = jadd(x, "via", via);
        via = NULL;
        GUARD(rc);
        ENSURE(json_array_append_new(arr, x) == 0, VAULT_ENOMEM,
               "out of memory building a bundle");
        x = NULL;
    }
    *out = arr;
    arr = NULL;
cleanup:
    json_decref(via);
    json_decref(x);
    json_decref(arr);
    return rc;
}

int af_bundle_json(char **out, const char *origin, const uint8_t record[16], const char *note,
                   const char *statement, const uint8_t sig[AF_BUNDLE_SIG_BYTES],
                   const af_bundle_entry *e, size_t n, const af_bundle_log *logs, size_t nlogs)
{
    int rc = VAULT_OK;
    json_t *o = NULL, *arr = NULL, *x, *la = NULL;
    char rid[33];
    size_t i;

    ENSURE(out && origin && record && note && statement && sig && (e || n == 0) &&
               (logs || nlogs == 0), VAULT_EINVALID, "af_bundle_json: missing argument");
    *out = NULL;
    ENSURE(n <= AF_BUNDLE_ENTRIES_MAX, VAULT_ELIMIT, "bundle: more than %d entries",
           AF_BUNDLE_ENTRIES_MAX);
    GUARD(vc_bin2hex(rid, sizeof rid, record, 16));
    o = json_object();
    arr = json_array();
    ENSURE(o && arr, VAULT_ENOMEM, "out of memory building a bundle");
    GUARD(jadd(o, "bundle", json_string(nlogs ? AF_BUNDLE_TAG_V2 : AF_BUNDLE_TAG)));
    GUARD(jadd(o, "origin", json_string(origin)));
    GUARD(jadd(o, "record", json_string(rid)));
    GUARD(jadd(o, "checkpoint", json_string(note)));
    GUARD(jadd(o, "statement", json_string(statement)));
    GUARD(jadd(o, "signature", jb64(sig, AF_BUNDLE_SIG_BYTES)));
    for (i = 0; i < n; i++) {
        ENSURE(e[i].seq >= 1 && e[i].seq <= INT64_MAX && e[i].nhashes <= VAULT_PROOF_HASHES_MAX &&
                   (e[i].hashes || e[i].nhashes == 0) && e[i].entry && (!e[i].log || nlogs),
               VAULT_EINVALID, "bundle: entry %zu is not valid", i);
        GUARD(entry_json(&x, e[i].log, e[i].seq, e[i].entry, e[i].len, e[i].hashes,
                         e[i].nhashes));
        ENSURE(json_array_append_new(arr, x) == 0, VAULT_ENOMEM,
               "out of memory building a bundle");
    }
    rc = jadd(o, "entries", arr);
    arr = NULL;
    GUARD(rc);
    if (nlogs) {
        GUARD(logs_json(&la, logs, nlogs));
        rc = jadd(o, "logs", la);
        la = NULL;
        GUARD(rc);
    }
    *out = json_dumps(o, JSON_COMPACT);
    ENSURE(*out, VAULT_ENOMEM, "out of memory building a bundle");
cleanup:
    json_decref(la);
    json_decref(arr);
    json_decref(o);
    return rc;
}

/* ---- reading --------------------------------------------------------------- */

/* One list of the statement: the city log's, or a shard log's (v2). */
typedef struct st_list {
    char log[256];    /* "" for the city log */
    uint64_t size;
    uint8_t root[32];
    uint64_t *seqs;
    size_t n;
    int proved;       /* a shard log: the bundle's "logs" proves its claim */
    size_t next;      /* check_entries: the next of seqs to meet */
} st_list;

typedef struct statement {
    int v2;
    char origin[256];
    uint64_t size;
    uint8_t root[32];
    uint8_t record[16];
    st_list *lists;   /* [0] the city log's, then the shard logs' by name */
    size_t nlists;
    size_t total;     /* sequence numbers in every list */
    uint64_t later;   /* the "later" line (0: none) */
} statement;

static void statement_free(statement *st)
{
    size_t i;

    for (i = 0; i < st->nlists; i++)
        free(st->lists[i].seqs);
    free(st->lists);
}

/* A decimal u64 without sign or leading zeros, [s, e). */
static int parse_u64(uint64_t *out, const char *s, const char *e)
{
    uint64_t v = 0;

    if (s == e || (*s == '0' && e - s > 1))
        return 0;
    for (; s < e; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 1;
}

/* The next line [*p, eol) of [*p, end); 0 when there is no complete one. */
static int next_line(const char **line, const char **eol, const char **p, const char *end)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));

    if (!nl)
        return 0;
    *line = *p;
    *eol = nl;
    *p = nl + 1;
    return 1;
}

/* The numbers of a "seqs" line [l, e) into list, each in 1..list->size
 * and increasing; 0 or -1 (not such a line) or VAULT_ENOMEM. */
static int seqs_parse(st_list *list, statement *st, const char *l, const char *e)
{
    const char *q, *sp;
    size_t cap = 0;
    uint64_t v, *grown;

    if (e - l < 4 || memcmp(l, "seqs", 4) != 0) /* memcmp ok: not secret */
        return -1;
    for (q = l + 4; q < e; q = sp) {
        if (*q != ' ')
            return -1;
        q++;
        sp = memchr(q, ' ', (size_t)(e - q));
        if (!sp)
            sp = e;
        if (!parse_u64(&v, q, sp) || v == 0 || v > list->size ||
            (list->n > 0 && v <= list->seqs[list->n - 1]))
            return -1;
        if (st->total == AF_BUNDLE_ENTRIES_MAX)
            return -1;
        if (list->n == cap) {
            cap = cap ? 2 * cap : 64;
            grown = realloc(list->seqs, cap * sizeof *grown);
            if (!grown)
                return vault__err(VAULT_ENOMEM, "out of memory reading a bundle");
            list->seqs = grown;
        }
        list->seqs[list->n++] = v;
        st->total++;
    }
    return 0;
}

/* A new list at the end of st (VAULT_ENOMEM). */
static int list_add(statement *st)
{
    st_list *grown = realloc(st->lists, (st->nlists + 1) * sizeof *grown);

    if (!grown)
        return vault__err(VAULT_ENOMEM, "out of memory reading a bundle");
    st->lists = grown;
    memset(&st->lists[st->nlists], 0, sizeof *st->lists);
    st->nlists++;
    return VAULT_OK;
}

/* 0 or a malformed-class message in r. */
static int statement_parse(statement *st, af_verify_result *r, const char *t, size_t len)
{
    const char *p = t, *end = t + len, *l, *e, *sp1, *sp2;
    size_t got = 0, tag;
    int k;
    st_list *list;

#define BAD(why) af_verify_set(r, AF_MALFORMED, 0, "bundle statement: malformed (%s)", why)
    if (strlen(t) != len)
        return BAD("it holds a NUL byte");
    tag = strlen(AF_BUNDLE_TAG);
    if (!next_line(&l, &e, &p, end) || (size_t)(e - l) != tag ||
        (memcmp(l, AF_BUNDLE_TAG, tag) != 0 && memcmp(l, AF_BUNDLE_TAG_V2, tag) != 0)) /* memcmp ok: not secret */
        return BAD("line 1 is not " AF_BUNDLE_TAG " or " AF_BUNDLE_TAG_V2);
    st->v2 = memcmp(l, AF_BUNDLE_TAG_V2, tag) == 0; /* memcmp ok: not secret */
    if (!next_line(&l, &e, &p, end) || e == l || (size_t)(e - l) >= sizeof st->origin)
        return BAD("line 2 is not an origin");
    memcpy(st->origin, l, (size_t)(e - l));
    st->origin[e - l] = '\0';
    if (!af_note_name_ok(st->origin))
        return BAD("line 2 is not an origin");
    if (!next_line(&l, &e, &p, end) || !parse_u64(&st->size, l, e))
        return BAD("line 3 is not a tree size");
    if (!next_line(&l, &e, &p, end) || e - l != 44 ||
        vc_b642bin(st->root, 32, &got, l, 44) != VAULT_OK || got != 32) {
        vault__err_clear();
        return BAD("line 4 is not a base64 root");
    }
    if (!next_line(&l, &e, &p, end) || e - l != 7 + 32 || memcmp(l, "record ", 7) != 0 || /* memcmp ok: not secret */
        vc_hex2bin(st->record, 16, &got, l + 7, 32) != VAULT_OK || got != 16) {
        vault__err_clear();
        return BAD("line 5 is not \"record\" and 32 hex digits");
    }
    if (list_add(st) < 0)
        return VAULT_ENOMEM;
    st->lists[0].size = st->size;
    memcpy(st->lists[0].root, st->root, 32);
    st->lists[0].proved = 1; /* the checkpoint signs it */
    if (!next_line(&l, &e, &p, end) || (k = seqs_parse(&st->lists[0], st, l, e)) == -1)
        return BAD("line 6 is not \"seqs\" and increasing sequence numbers in 1..size, "
                   "single spaces between");
    if (k < 0)
        return k;
    /* v2: "log <size> <root> <name>" and its "seqs" line, names ascending */
    while (st->v2 && p != end && end - p > 4 && memcmp(p, "log ", 4) == 0) { /* memcmp ok: not secret */
        if (st->nlists > AF_BUNDLE_LOGS_MAX)
            return BAD("more than 4096 shard logs");
        if (!next_line(&l, &e, &p, end))
            return BAD("a \"log\" line without its newline");
        if (list_add(st) < 0)
            return VAULT_ENOMEM;
        list = &st->lists[st->nlists - 1];
        sp1 = memchr(l + 4, ' ', (size_t)(e - l - 4));
        sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(e - sp1 - 1)) : NULL;
        if (!sp2 || !parse_u64(&list->size, l + 4, sp1) || list->size == 0 || sp2 - sp1 - 1 != 44 ||
            vc_b642bin(list->root, 32, &got, sp1 + 1, 44) != VAULT_OK || got != 32 ||
            e - sp2 - 1 < 1 || e - sp2 - 1 > 255) {
            vault__err_clear();
            return BAD("a \"log\" line is not \"log\", a size, a base64 root and a name");
        }
        memcpy(list->log, sp2 + 1, (size_t)(e - sp2 - 1));
        list->log[e - sp2 - 1] = '\0';
        if (st->nlists > 2 && strcmp(list->log, st->lists[st->nlists - 2].log) <= 0)
            return BAD("the shard logs are not in ascending order of name");
        if (!next_line(&l, &e, &p, end) || (k = seqs_parse(list, st, l, e)) == -1)
            return BAD("a \"log\" line is not followed by its \"seqs\" line");
        if (k < 0)
            return k;
    }
    if (st->v2 && st->nlists == 1)
        return BAD("a " AF_BUNDLE_TAG_V2 " statement names no shard log");
    if (p != end) {
        /* the last line, when there is one: "later <N>", N >= 1 */
        if (!next_line(&l, &e, &p, end) || e - l < 7 ||
            memcmp(l, "later ", 6) != 0 || /* memcmp ok: not secret */
            !parse_u64(&st->later, l + 6, e) || st->later == 0)
            return BAD(st->v2 ? "the last line is not \"later\" and a count of at least 1"
                              : "line 7 is not \"later\" and a count of at least 1");
        if (p != end)
            return BAD("text after the last line");
    }
    return AF_OK;
#undef BAD
}

static const char *const top_keys[] = {"bundle", "origin", "record", "checkpoint",
                                       "statement", "signature", "entries", "logs"};
static const char *const entry_keys[] = {"seq", "entry", "hashes", "log"};
static const char *const log_keys[] = {"log", "size", "root", "via"};

/* Exactly the keys `keys` (none missing, none other). */
static int keys_ok(json_t *o, const char *const *keys, size_t n)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_object_size(o) != n)
        return 0;
    json_object_foreach(o, k, v) {
        for (i = 0; i < n && strcmp(k, keys[i]) != 0; i++)
            ;
        if (i == n)
            return 0;
    }
    return 1;
}

/* A JSON string without NUL bytes. */
static const char *jstr(json_t *o, const char *k, size_t *len)
{
    json_t *j = json_object_get(o, k);

    if (!json_is_string(j) || strlen(json_string_value(j)) != json_string_length(j))
        return NULL;
    *len = json_string_length(j);
    return json_string_value(j);
}

/* Base64 of exactly n bytes (n 0: any length up to cap; *got set). */
static int jbin(uint8_t *out, size_t cap, size_t *got, json_t *j, size_t n)
{
    size_t g = 0;
    int ok = json_is_string(j) &&
             vc_b642bin(out, cap, &g, json_string_value(j), json_string_length(j)) == VAULT_OK &&
             (n == 0 || g == n);

    vault__err_clear();
    if (got)
        *got = g;
    return ok;
}

typedef struct vstate {
    af_verify_result *r;
    const char *name;
    const uint8_t *pk;
    af_checkpoint cp;
    statement st;
    uint8_t record[16];
    uint8_t *buf;              /* one entry's bytes */
    uint8_t (*hashes)[32];
    int hard;                  /* a failure other than missing was found */
    int missing;               /* first missing seq found (0: none) */
    uint64_t missing_seq;
    st_list *missing_log;      /* ... in that list */
} vstate;

/* The statement's list of a shard log (by name), or NULL. */
static st_list *list_of(statement *st, const char *log)
{
    size_t lo = 1, hi = st->nlists;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->lists[mid].log, log);

        if (c == 0)
            return &st->lists[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* A v2 bundle's "logs": each a shard log the statement names, with the
 * same size and root, whose via entry (a log_heads entry of the city log
 * that claims exactly that tree) is in the checkpoint's tree. */
static int check_logs(vstate *s, json_t *arr)
{
    af_verify_result *r = s->r;
    json_t *x, *via, *h;
    size_t i, k, got, nh;
    const char *name, *prev = NULL;
    st_list *list;
    uint64_t vseq, inner = 0;
    uint8_t root[32], leaf[32];
    af_claims cl = {0};
    int found;

    if (!json_is_array(arr) || json_array_size(arr) > AF_BUNDLE_LOGS_MAX)
        return af_verify_set(r, AF_MALFORMED, 0,
                             "bundle: malformed (\"logs\" is not an array of at most %d)",
                             AF_BUNDLE_LOGS_MAX);
    json_array_foreach(arr, i, x) {
        size_t nlen = 0;

        via = json_object_get(x, "via");
        if (!json_is_object(x) || !keys_ok(x, log_keys, VAULT_ARRAY_LEN(log_keys)) ||
            !(name = jstr(x, "log", &nlen)) || nlen == 0 ||
            !json_is_integer(json_object_get(x, "size")) ||
            !jbin(root, 32, NULL, json_object_get(x, "root"), 32) || !json_is_object(via) ||
            !keys_ok(via, entry_keys, 3) || !json_is_integer(json_object_get(via, "seq")) ||
            json_integer_value(json_object_get(via, "seq")) < 1 ||
            !json_is_array(json_object_get(via, "hashes")) ||
            json_array_size(json_object_get(via, "hashes")) > VAULT_PROOF_HASHES_MAX ||
            !jbin(s->buf, AF_ENTRY_MAX, &got, json_object_get(via, "entry"), 0))
            return af_verify_set(r, AF_MALFORMED, 0,
                                 "bundle: malformed (logs[%zu] is not {log, size, root, via: "
                                 "{seq, entry, hashes}})", i);
        nh = json_array_size(json_object_get(via, "hashes"));
        json_array_foreach(json_object_get(via, "hashes"), k, h)
            if (!jbin(s->hashes[k], 32, NULL, h, 32))
                return af_verify_set(r, AF_MALFORMED, 0,
                                     "bundle: malformed (logs[%zu]: hash %zu is not base64 of 32 "
                                     "bytes)", i, k);
        if (prev && strcmp(name, prev) <= 0)
            return af_verify_set(r, AF_MALFORMED, 0,
                                 "bundle: malformed (\"logs\" is not in ascending order of name)");
        prev = name;
        list = list_of(&s->st, name);
        if (!list || json_integer_value(json_object_get(x, "size")) < 0 ||
            (uint64_t)json_integer_value(json_object_get(x, "size")) != list->size ||
            !vc_equal(root, list->root, 32))
            return af_verify_set(r, AF_MODIFIED, 0,
                                 "log %.80s: modified (the log's signed statement names another "
                                 "tree of it, or none)", name);
        if (list->n == 0)
            return af_verify_set(r, AF_MALFORMED, 0,
                                 "bundle: malformed (logs[%zu]: log %.80s, of which the "
                                 "statement lists no entry, has no place in \"logs\")", i, name);
        vseq = (uint64_t)json_integer_value(json_object_get(via, "seq"));
        if (af_entry_check(&inner, s->buf, got) != VAULT_OK || inner != vseq) {
            vault__err_clear();
            return af_verify_set(r, AF_MODIFIED, vseq,
                                 "log %.80s: modified (its claim, city entry %llu, is not that "
                                 "entry)", name, (ull)vseq);
        }
        if (af_claims_take(&cl, vseq, s->buf, got) < 0)
            return VAULT_ENOMEM;
        for (k = 0, found = 0; k < cl.n && !found; k++)
            found = strcmp(cl.c[k].origin, name) == 0 && cl.c[k].size == list->size &&
                    vc_equal(cl.c[k].root, list->root, 32);
        af_claims_free(&cl);
        if (!found)
            return af_verify_set(r, AF_MODIFIED, vseq,
                                 "log %.80s: modified (city entry %llu does not claim the tree "
                                 "the statement names)", name, (ull)vseq);
        af_leaf_hash(leaf, s->buf, got);
        if (vseq > s->cp.size ||
            af_inclusion_verify(vseq - 1, s->cp.size, leaf, (const uint8_t(*)[32])s->hashes, nh,
                                s->cp.root) != VAULT_OK) {
            vault__err_clear();
            return af_verify_set(r, AF_MODIFIED, vseq,
                                 "log %.80s: modified (its claim's inclusion proof does not lead "
                                 "to the checkpoint's root)", name);
        }
        list->proved = 1; /* (names ascend: one object a log) */
    }
    return AF_OK;
}

/* The seqs of list before `upto` (all: UINT64_MAX) that no entry had:
 * the first is the missing one. */
static void list_skip(vstate *s, st_list *list, uint64_t upto)
{
    while (list->next < list->n && list->seqs[list->next] < upto) {
        if (!s->missing) {
            s->missing = 1;
            s->missing_seq = list->seqs[list->next];
            s->missing_log = list;
        }
        list->next++;
    }
}

/* Every entry, in order: shape, order, bytes, record, proof, statement.
 * The city log's entries come first, then each shard log's, the logs in
 * the statement's order. */
static int check_entries(vstate *s, json_t *arr)
{
    af_verify_result *r = s->r;
    json_t *x, *h;
    size_t i, k, got, nh, cur = 0, nlen;
    uint64_t seq, prev = 0, eseq;
    af_entry e;
    void *storage = NULL;
    uint8_t leaf[32];
    st_list *list;
    const char *log = "";
    int ok;

    if (!json_is_array(arr) || json_array_size(arr) > AF_BUNDLE_ENTRIES_MAX)
        return af_verify_set(r, AF_MALFORMED, 0,
                             "bundle: malformed (\"entries\" is not an array of at most %d)",
                             AF_BUNDLE_ENTRIES_MAX);
    json_array_foreach(arr, i, x) {
        int has_log = json_is_object(x) && json_object_get(x, "log") != NULL;

        if (!json_is_object(x) ||
            !keys_ok(x, entry_keys, VAULT_ARRAY_LEN(entry_keys) - (has_log ? 0 : 1)) ||
            (has_log && (!s->st.v2 || !(log = jstr(x, "log", &nlen)) || nlen == 0)) ||
            !json_is_integer(json_object_get(x, "seq")) ||
            json_integer_value(json_object_get(x, "seq")) < 1 ||
            !json_is_array(json_object_get(x, "hashes")) ||
            json_array_size(json_object_get(x, "hashes")) > VAULT_PROOF_HASHES_MAX)
            return af_verify_set(r, AF_MALFORMED, prev + 1,
                                 s->st.v2 ? "bundle: malformed (entries[%zu] is not {[log,] seq, "
                                            "entry, hashes})"
                                          : "bundle: malformed (entries[%zu] is not {seq, entry, "
                                            "hashes})", i);
        seq = (uint64_t)json_integer_value(json_object_get(x, "seq"));
        if (!jbin(s->buf, AF_ENTRY_MAX, &got, json_object_get(x, "entry"), 0))
            return af_verify_set(r, AF_MALFORMED, seq,
                                 "entry %llu: malformed (\"entry\" is not base64 of at most %d "
                                 "bytes)", (ull)seq, AF_ENTRY_MAX);
        nh = json_array_size(json_object_get(x, "hashes"));
        json_array_foreach(json_object_get(x, "hashes"), k, h)
            if (!jbin(s->hashes[k], 32, NULL, h, 32))
                return af_verify_set(r, AF_MALFORMED, seq,
                                     "entry %llu: malformed (hash %zu is not base64 of 32 bytes)",
                                     (ull)seq, k);
        r->entries = i + 1;
        if (s->hard)
            continue;
        list = has_log ? list_of(&s->st, log) : &s->st.lists[0];
        if (!list || !list->proved) {
            s->hard = 1;
            af_verify_set(r, AF_MODIFIED, seq,
                          "log %.80s: entry %llu: modified (not in a shard log whose tree the "
                          "bundle proves)", log, (ull)seq);
            continue;
        }
        k = (size_t)(list - s->st.lists);
        if (k < cur || (k == cur && i > 0 && seq <= prev)) {
            s->hard = 1;
            af_verify_set(r, AF_REORDERED, seq,
                          k == cur && seq == prev
                              ? "%s%.80s%sentry %llu: reordered (listed twice)"
                              : "%s%.80s%sentry %llu: reordered (listed after a later entry)",
                          k ? "log " : "", list->log, k ? ": " : "", (ull)seq);
            continue;
        }
        if (k > cur) {
            /* the lists passed over are done */
            for (; cur < k; cur++)
                list_skip(s, &s->st.lists[cur], UINT64_MAX);
        }
        prev = seq;
        if (seq > list->size) {
            s->hard = 1;
            af_verify_set(r, AF_MODIFIED, seq,
                          "%s%.80s%sentry %llu: modified (not in the signed tree of size %llu)",
                          k ? "log " : "", list->log, k ? ": " : "", (ull)seq, (ull)list->size);
            continue;
        }
        if (af_entry_decode(&e, &storage, s->buf, got) != VAULT_OK) {
            vault__err_clear();
            s->hard = 1;
            af_verify_set(r, AF_MALFORMED, seq,
                          "%s%.80s%sentry %llu: malformed (its bytes do not decode)",
                          k ? "log " : "", list->log, k ? ": " : "", (ull)seq);
            continue;
        }
        eseq = e.seq;
        ok = e.has_record && memcmp(e.record_id, s->record, 16) == 0; /* memcmp ok: not secret */
        free(storage);
        storage = NULL;
        if (eseq != seq) {
            s->hard = 1;
            af_verify_set(r, AF_MODIFIED, seq,
                          "%s%.80s%sentry %llu: modified (its bytes hold another sequence "
                          "number)", k ? "log " : "", list->log, k ? ": " : "", (ull)seq);
            continue;
        }
        if (!ok) {
            s->hard = 1;
            af_verify_set(r, AF_MODIFIED, seq,
                          "%s%.80s%sentry %llu: modified (it is not filed under the bundle's "
                          "record)", k ? "log " : "", list->log, k ? ": " : "", (ull)seq);
            continue;
        }
        af_leaf_hash(leaf, s->buf, got);
        if (af_inclusion_verify(seq - 1, list->size, leaf, (const uint8_t(*)[32])s->hashes, nh,
                                list->root) != VAULT_OK) {
            vault__err_clear();
            s->hard = 1;
            af_verify_set(r, AF_MODIFIED, seq,
                          k ? "log %.80s: entry %llu: modified (its inclusion proof does not "
                              "lead to the root the city log claims)"
                            : "%.0sentry %llu: modified (its inclusion proof does not lead to "
                              "the checkpoint's root)", list->log, (ull)seq);
            continue;
        }
        /* The statement's list, merged with the bundle's. */
        list_skip(s, list, seq);
        if (list->next == list->n || list->seqs[list->next] != seq) {
            s->hard = 1;
            af_verify_set(r, AF_MODIFIED, seq,
                          "%s%.80s%sentry %llu: modified (the log's signed statement does not "
                          "list it)", k ? "log " : "", list->log, k ? ": " : "", (ull)seq);
            continue;
        }
        list->next++;
    }
    if (s->hard)
        return r->cls;
    for (; cur < s->st.nlists; cur++)
        list_skip(s, &s->st.lists[cur], UINT64_MAX);
    if (s->missing && s->missing_log == &s->st.lists[0])
        return af_verify_set(r, AF_MISSING, s->missing_seq,
                             "entry %llu: missing (the log's signed statement lists %zu entries "
                             "of the record, the bundle holds %zu)",
                             (ull)s->missing_seq, s->st.total, json_array_size(arr));
    if (s->missing)
        return af_verify_set(r, AF_MISSING, s->missing_seq,
                             "log %.80s: entry %llu: missing (the log's signed statement lists "
                             "%zu entries of the record, the bundle holds %zu)",
                             s->missing_log->log, (ull)s->missing_seq, s->st.total,
                             json_array_size(arr));
    return AF_OK;
}

/* How many of the distinct witness keys cosigned the note. */
static size_t cosigned(const char *note, size_t len, const af_bundle_witness *w, size_t nw)
{
    size_t i, j, count = 0;

    for (i = 0; i < nw; i++) {
        for (j = 0; j < i; j++)
            if (memcmp(w[i].pk, w[j].pk, 32) == 0) /* memcmp ok: not secret */
                break;
        if (j < i)
            continue; /* one public key is one witness, whatever its names */
        if (af_cosignature_verify(NULL, note, len, w[i].name, w[i].pk) == VAULT_OK)
            count++;
        vault__err_clear();
    }
    return count;
}

int af_bundle_verify(af_verify_result *out, const char *json, size_t len, const char *name,
                     const uint8_t pk[32], const af_bundle_witness *w, size_t nw, size_t quorum)
{
    int rc = VAULT_OK, r, v2;
    json_t *o = NULL;
    json_error_t jerr;
    vstate s;
    const char *note, *text, *rid;
    size_t nlen, tlen, rlen, got = 0, have;
    uint8_t sig[AF_BUNDLE_SIG_BYTES], kid[4];
    char why[256];

    memset(&s, 0, sizeof s);
    ENSURE(out && (json || len == 0) && name && pk && (w || nw == 0), VAULT_EINVALID,
           "af_bundle_verify: missing argument");
    memset(out, 0, sizeof *out);
    ENSURE(nw <= AF_BUNDLE_WITNESSES_MAX, VAULT_ELIMIT, "at most %d witness keys",
           AF_BUNDLE_WITNESSES_MAX);
    ENSURE(nw == 0 ? quorum == 0 : quorum >= 1 && quorum <= nw, VAULT_EINVALID,
           "the witness quorum must be 1 .. %zu (the number of witness keys given)", nw);
    s.r = out;
    s.name = name;
    s.pk = pk;
    if (len > AF_BUNDLE_MAX) {
        rc = af_verify_set(out, AF_MALFORMED, 0, "bundle: malformed (larger than %u bytes)",
                           AF_BUNDLE_MAX);
        goto cleanup;
    }
    o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    /* v2 (shard logs) has "logs" besides v1's keys */
    text = json_is_object(o) ? jstr(o, "bundle", &tlen) : NULL;
    v2 = text && strcmp(text, AF_BUNDLE_TAG_V2) == 0;
    if (!json_is_object(o) ||
        !keys_ok(o, top_keys, VAULT_ARRAY_LEN(top_keys) - (v2 ? 0 : 1))) {
        rc = af_verify_set(out, AF_MALFORMED, 0,
                           o ? "bundle: malformed (not an object of exactly the keys of a bundle)"
                             : "bundle: malformed (not JSON: line %d column %d)",
                           jerr.line, jerr.column);
        goto cleanup;
    }
    if (!text || (!v2 && strcmp(text, AF_BUNDLE_TAG) != 0)) {
        rc = af_verify_set(out, AF_MALFORMED, 0,
                           "bundle: malformed (\"bundle\" is not \"%s\" or \"%s\")",
                           AF_BUNDLE_TAG, AF_BUNDLE_TAG_V2);
        goto cleanup;
    }
    note = jstr(o, "checkpoint", &nlen);
    text = jstr(o, "statement", &tlen);
    rid = jstr(o, "record", &rlen);
    if (!note || !text || !rid || !jstr(o, "origin", &have) ||
        !jbin(sig, sizeof sig, NULL, json_object_get(o, "signature"), sizeof sig) || rlen != 32 ||
        vc_hex2bin(s.record, 16, &got, rid, 32) != VAULT_OK || got != 16) {
        vault__err_clear();
        rc = af_verify_set(out, AF_MALFORMED, 0,
                           "bundle: malformed (origin, record, checkpoint, statement or "
                           "signature is not of its type)");
        goto cleanup;
    }
    /* Whose log: the key's, never the bundle's say. */
    if (strcmp(json_string_value(json_object_get(o, "origin")), name) != 0) {
        rc = af_verify_set(out, AF_BAD_SIGNATURE, 0,
                           "bundle: bad signature (the bundle is of another log than the key)");
        goto cleanup;
    }
    r = af_checkpoint_verify(&s.cp, note, nlen, name, pk);
    if (r != VAULT_OK) {
        snprintf(why, sizeof why, "%s", vault_error_last());
        vault__err_clear();
        rc = r == VAULT_EINTEGRITY
                 ? af_verify_set(out, AF_BAD_SIGNATURE, s.cp.size,
                                 "checkpoint %llu: bad signature (%s)", (ull)s.cp.size, why)
                 : af_verify_set(out, AF_MALFORMED, 0, "checkpoint: malformed (%s)", why);
        goto cleanup;
    }
    out->checkpoints = 1;
    out->newest_size = s.cp.size;
    out->newest_time = s.cp.time;
    af_note_keyid(kid, name, pk);
    if (memcmp(kid, sig, 4) != 0 || /* memcmp ok: not secret */
        vc_verify(sig + 4, text, tlen, pk) != VAULT_OK) {
        vault__err_clear();
        rc = af_verify_set(out, AF_BAD_SIGNATURE, s.cp.size,
                           "bundle statement: bad signature (not signed by the log's key)");
        goto cleanup;
    }
    rc = statement_parse(&s.st, out, text, tlen);
    if (rc != AF_OK)
        goto cleanup;
    if (s.st.v2 != v2) {
        rc = af_verify_set(out, AF_MODIFIED, s.cp.size,
                           "bundle statement: modified (it is of another version than the "
                           "bundle)");
        goto cleanup;
    }
    if (strcmp(s.st.origin, name) != 0) {
        rc = af_verify_set(out, AF_BAD_SIGNATURE, s.cp.size,
                           "bundle statement: bad signature (it is of another log)");
        goto cleanup;
    }
    if (s.st.size != s.cp.size || !vc_equal(s.st.root, s.cp.root, 32)) {
        rc = af_verify_set(out, AF_MODIFIED, s.cp.size,
                           "bundle statement: modified (it is about another tree than the "
                           "checkpoint)");
        goto cleanup;
    }
    if (!vc_equal(s.st.record, s.record, 16)) {
        rc = af_verify_set(out, AF_MODIFIED, 0,
                           "bundle statement: modified (it is about another record than the "
                           "bundle)");
        goto cleanup;
    }
    s.buf = malloc(AF_ENTRY_MAX);
    s.hashes = malloc(VAULT_PROOF_HASHES_MAX * 32);
    ENSURE(s.buf && s.hashes, VAULT_ENOMEM, "out of memory reading a bundle");
    if (v2 && (rc = check_logs(&s, json_object_get(o, "logs"))) != AF_OK)
        goto cleanup;
    rc = check_entries(&s, json_object_get(o, "entries"));
    if (rc != AF_OK)
        goto cleanup;
    /* Witnesses last: what a bundle shows must hold before who saw it counts. */
    if (nw > 0 && (have = cosigned(note, nlen, w, nw)) < quorum) {
        rc = af_verify_set(out, AF_UNWITNESSED, s.cp.size,
                           "checkpoint %llu: unwitnessed (%zu of the %zu required cosignatures)",
                           (ull)s.cp.size, have, quorum);
        goto cleanup;
    }
    if (s.st.later)
        snprintf(why, sizeof why, "; %llu later entr%s of it not in this tree",
                 (ull)s.st.later, s.st.later == 1 ? "y" : "ies");
    else
        why[0] = '\0';
    if (v2)
        af_verify_set(out, AF_OK, 0,
                      "ok: %zu entries of record %s; the log's key states that the signed tree "
                      "of size %llu and the %zu shard log trees it claims hold no other entry of "
                      "it%s%s",
                      s.st.total, rid, (ull)s.cp.size, s.st.nlists - 1, why,
                      nw ? "; witnessed" : "");
    else
        af_verify_set(out, AF_OK, 0,
                      "ok: %zu entries of record %s; the log's key states that the signed tree "
                      "of size %llu holds no other entry of it%s%s",
                      s.st.total, rid, (ull)s.cp.size, why, nw ? "; witnessed" : "");
cleanup:
    if (rc < 0 && out)
        memset(out, 0, sizeof *out);
    statement_free(&s.st);
    free(s.buf);
    free(s.hashes);
    json_decref(o);
    return rc;
}

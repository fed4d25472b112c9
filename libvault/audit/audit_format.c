/* audit_format: canonical audit entries, their hashes, the incremental
 * RFC 6962 Merkle tree and C2SP signed-note checkpoints.  The verifier and
 * the JSON Lines export are in audit_export.c.  Exact bytes:
 * docs/audit-format.md. */
#include <inttypes.h>
#include <string.h>

#include <sodium.h> /* sodium_memcmp only */

#include "audit_format.h"
#include "audit_cosign.h"
#include "crypto.h"
#include "text.h"

#define MAGIC_V1 "LVA1"
#define MAGIC_V2 "LVA2"
#define MAGIC_LEN 4
#define NSTRINGS_MAX 11 /* the header strings of LVA2 (LVA1: 6) */
/* Reason tables up to this size are checked for repeats pair by pair,
 * larger ones by sorting. */
#define REASONS_PAIRWISE 16

/* ---- UTF-8 -------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s[0..n), with its code
 * point in *cp; 0 when malformed (vault__utf8_next, text.h). */
static size_t utf8_seq(const uint8_t *s, size_t n, uint32_t *cp)
{
    return vault__utf8_next(cp, s, n);
}

/* 1 when s[0..n) is well-formed UTF-8 without NUL (an entry string). */
static int entry_text_ok(const uint8_t *s, size_t n)
{
    size_t i = 0, k;
    uint32_t cp;

    while (i < n) {
        /* ASCII fast path, eight bytes at a time: none has its top bit
         * set and none is zero. */
        while (n - i >= 8) {
            uint64_t w;

            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080ull) ||
                ((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull))
                break;
            i += 8;
        }
        if (i >= n)
            break;
        if (s[i] >= 0x01 && s[i] < 0x80) {
            i++;
            continue;
        }
        k = utf8_seq(s + i, n - i, &cp);
        if (k == 0 || cp == 0)
            return 0;
        i += k;
    }
    return 1;
}

/* 1 when s[0..n) is UTF-8 with no control character but newline (a note). */
static int note_text_ok(const uint8_t *s, size_t n)
{
    size_t i = 0, k;
    uint32_t cp;

    while (i < n) {
        k = utf8_seq(s + i, n - i, &cp);
        if (k == 0 || (cp < 0x20 && cp != '\n'))
            return 0;
        i += k;
    }
    return 1;
}

/* Unicode White_Space (as Go's unicode.IsSpace, which C2SP note tools use). */
static int is_unicode_space(uint32_t cp)
{
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* A note key name: non-empty UTF-8, no control characters, no Unicode
 * spaces, no '+'; here also short enough for af_checkpoint.origin. */
static int key_name_ok(const uint8_t *s, size_t n)
{
    size_t i = 0, k;
    uint32_t cp;

    if (n == 0 || n >= sizeof(((af_checkpoint *)0)->origin))
        return 0;
    while (i < n) {
        k = utf8_seq(s + i, n - i, &cp);
        if (k == 0 || cp < 0x20 || cp == '+' || is_unicode_space(cp))
            return 0;
        i += k;
    }
    return 1;
}

/* ---- entry encoding ----------------------------------------------------- */

/* Error messages name the part: "user", "field 3 reason" (field index is
 * 1-based, 0 = not a field; field parts are passed as " reason"). */
#define PART_FMT "%s%.0zu%s"
#define PART_ARGS(what, field) (field) ? "field " : "", (field), (what)

/* The header strings of an entry in their order: LVA1 has the subject
 * and the action; LVA2 puts the principal between them.  Fills slots
 * and names, returns how many. */
static size_t header_slots(const char **slots[NSTRINGS_MAX], const char *names[NSTRINGS_MAX],
                           af_entry *e, int version)
{
    size_t n = 0;

#define SLOT(member, name) (slots[n] = &e->member, names[n++] = (name))
    SLOT(user, "user");
    SLOT(role, "role");
    SLOT(department, "department");
    SLOT(jurisdiction, "jurisdiction");
    SLOT(purpose, "purpose");
    if (version == AF_VERSION_2) {
        SLOT(who.issuer, "principal issuer");
        SLOT(who.subject, "principal subject");
        SLOT(who.token_id, "principal token id");
        SLOT(who.app, "principal app");
        SLOT(who.peer, "principal peer");
    }
    SLOT(action, "action");
#undef SLOT
    return n;
}

static uint8_t *put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
    return p + 4;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    p = put_u32(p, (uint32_t)v);
    return put_u32(p, (uint32_t)(v >> 32));
}

static uint8_t *put_str(uint8_t *p, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    p = put_u32(p, (uint32_t)n);
    if (n)
        memcpy(p, s, n);
    return p + n;
}

/* Add the encoded size of string s to *total after checking it. */
static int size_str(size_t *total, const char *s, const char *what, size_t field)
{
    int rc = VAULT_OK;
    size_t n = s ? strlen(s) : 0;

    ENSURE(n <= AF_ENTRY_MAX, VAULT_ELIMIT, "audit entry: " PART_FMT " is %zu bytes, more than %d",
           PART_ARGS(what, field), n, AF_ENTRY_MAX);
    ENSURE(entry_text_ok((const uint8_t *)s, n), VAULT_EINVALID,
           "audit entry: " PART_FMT " is not valid UTF-8", PART_ARGS(what, field));
    *total += 4 + n;
cleanup:
    return rc;
}

static int principal_empty(const af_principal *w)
{
    return !(w->issuer && *w->issuer) && !(w->subject && *w->subject) &&
           !(w->token_id && *w->token_id) && !(w->app && *w->app) && !(w->peer && *w->peer);
}

/* The reason table of an LVA2 entry: each distinct text once, in order of
 * first use (so that the table, and the entry, have one encoding);
 * idx[i] is field i's.  Pointer equality first: callers that format a
 * reason once per entry share it. */
static size_t reason_table(const char *tab[AF_REASONS_MAX], uint16_t idx[AF_FIELDS_MAX],
                           const af_entry *e)
{
    size_t nt = 0, i, j;

    for (i = 0; i < e->nfields; i++) {
        const char *r = e->fields[i].reason ? e->fields[i].reason : "";

        for (j = 0; j < nt; j++)
            if (tab[j] == r || strcmp(tab[j], r) == 0)
                break;
        if (j == nt)
            tab[nt++] = r;
        idx[i] = (uint16_t)j;
    }
    return nt;
}

void af_entry_set_seq(uint8_t *enc, size_t len, uint64_t seq)
{
    if (enc && len >= MAGIC_LEN + 8)
        put_u64(enc + MAGIC_LEN, seq);
}

int af_entry_encode(uint8_t **out, size_t *out_len, const af_entry *e)
{
    int rc = VAULT_OK;
    af_entry c;
    const char **slots[NSTRINGS_MAX], *names[NSTRINGS_MAX], *tab[AF_REASONS_MAX];
    uint16_t idx[AF_FIELDS_MAX];
    size_t total = MAGIC_LEN + 8 + 8 + 3 + 32 + 4, i, j, ns, nt = 0;
    int v2;
    uint8_t *buf = NULL, *p;

    ENSURE(out && out_len && e, VAULT_EINVALID, "af_entry_encode: missing argument");
    *out = NULL;
    *out_len = 0;
    ENSURE(e->version == 0 || e->version == AF_VERSION_1 || e->version == AF_VERSION_2,
           VAULT_EINVALID, "audit entry: format version %d is not 1 or 2", e->version);
    v2 = e->version != AF_VERSION_1;
    ENSURE(v2 || principal_empty(&e->who), VAULT_EINVALID,
           "audit entry: an LVA1 entry can't hold a principal");
    ENSURE(e->nfields <= AF_FIELDS_MAX, VAULT_ELIMIT, "audit entry: %zu fields, at most %d",
           e->nfields, AF_FIELDS_MAX);
    ENSURE(e->nfields == 0 || e->fields, VAULT_EINVALID, "audit entry: fields missing");
    ENSURE(e->outcome >= AF_OUTCOME_OK && e->outcome <= AF_OUTCOME_ERROR, VAULT_EINVALID,
           "audit entry: outcome %d is not one of 0..2", e->outcome);
    ENSURE((e->flags & ~(unsigned)AF_FLAGS_KNOWN) == 0, VAULT_EINVALID,
           "audit entry: unknown flags 0x%x", e->flags);
    ENSURE(e->has_record == 0 || e->has_record == 1, VAULT_EINVALID,
           "audit entry: has_record must be 0 or 1");
    c = *e; /* header_slots wants a writable entry; only read here */
    ns = header_slots(slots, names, &c, v2 ? AF_VERSION_2 : AF_VERSION_1);
    for (i = 0; i < ns; i++)
        GUARD(size_str(&total, *slots[i], names[i], 0));
    if (e->has_record)
        total += 16;
    for (i = 0; i < e->nfields; i++) {
        const af_field *f = &e->fields[i];

        ENSURE(f->effect >= VAULT_EFFECT_DENY && f->effect <= VAULT_EFFECT_ALLOW, VAULT_EINVALID,
               "audit entry: field %zu effect %d is not one of 0..2", i + 1, f->effect);
        ENSURE(f->has_ct_hash == 0 || f->has_ct_hash == 1, VAULT_EINVALID,
               "audit entry: field %zu has_ct_hash must be 0 or 1", i + 1);
        GUARD(size_str(&total, f->name, " name", i + 1));
        if (v2)
            total += 2; /* its index into the reason table */
        else
            GUARD(size_str(&total, f->reason, " reason", i + 1));
        total += 2 + (f->has_ct_hash ? 32 : 0);
    }
    if (v2) {
        nt = reason_table(tab, idx, e);
        total += 2;
        /* In order of first use: each is named by the field that first uses it. */
        for (i = j = 0; i < e->nfields; i++)
            if (idx[i] == j)
                GUARD(size_str(&total, tab[j++], " reason", i + 1));
    }
    GUARD(size_str(&total, e->detail, "detail", 0));
    ENSURE(total <= AF_ENTRY_MAX, VAULT_ELIMIT, "audit entry: %zu bytes, more than %d", total,
           AF_ENTRY_MAX);

    buf = malloc(total);
    ENSURE(buf, VAULT_ENOMEM, "out of memory encoding an audit entry");
    p = buf;
    memcpy(p, v2 ? MAGIC_V2 : MAGIC_V1, MAGIC_LEN), p += MAGIC_LEN;
    p = put_u64(p, e->seq);
    p = put_u64(p, (uint64_t)e->time_us);
    for (i = 0; i < ns; i++)
        p = put_str(p, *slots[i]);
    *p++ = (uint8_t)e->outcome;
    *p++ = (uint8_t)e->flags;
    *p++ = (uint8_t)e->has_record;
    if (e->has_record)
        memcpy(p, e->record_id, 16), p += 16;
    memcpy(p, e->policy_hash, 32), p += 32;
    if (v2) {
        p = put_u16(p, (uint16_t)nt);
        for (i = 0; i < nt; i++)
            p = put_str(p, tab[i]);
    }
    p = put_u32(p, (uint32_t)e->nfields);
    for (i = 0; i < e->nfields; i++) {
        const af_field *f = &e->fields[i];

        p = put_str(p, f->name);
        *p++ = (uint8_t)f->effect;
        if (v2)
            p = put_u16(p, idx[i]);
        else
            p = put_str(p, f->reason);
        *p++ = (uint8_t)f->has_ct_hash;
        if (f->has_ct_hash)
            memcpy(p, f->ct_hash, 32), p += 32;
    }
    p = put_str(p, e->detail);
    ENSURE((size_t)(p - buf) == total, VAULT_ERROR, "audit entry: internal size mismatch");
    *out = buf;
    *out_len = total;
    buf = NULL;
cleanup:
    free(buf);
    return rc;
}

/* ---- entry decoding ----------------------------------------------------- */

typedef struct reader {
    const uint8_t *p, *end;
    size_t nstr; /* strings taken */
} reader;

/* Where decoded strings and fields go; NULL members when only validating. */
typedef struct sink {
    af_entry *e;
    af_field *fields;
    char *text;
} sink;

/* One string of an LVA2 reason table as stored, for the repeat check. */
typedef struct reason_ref {
    const uint8_t *p;
    uint32_t n;
    uint32_t k; /* its index in the table */
} reason_ref;

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static int need(reader *r, size_t n, const char *what, size_t field)
{
    if ((size_t)(r->end - r->p) < n)
        return vault__err(VAULT_EINTEGRITY, "audit entry: truncated in " PART_FMT,
                          PART_ARGS(what, field));
    return VAULT_OK;
}

/* Take one str; *raw / *raw_len (may be NULL) receive where it is stored. */
static int take_str_at(reader *r, const char **dst, sink *out, const char *what, size_t field,
                       const uint8_t **raw, uint32_t *raw_len)
{
    int rc = VAULT_OK;
    uint32_t n;

    GUARD(need(r, 4, what, field));
    n = get_u32(r->p);
    r->p += 4;
    ENSURE(n <= AF_ENTRY_MAX, VAULT_EINTEGRITY,
           "audit entry: " PART_FMT " length %lu exceeds the limit", PART_ARGS(what, field),
           (unsigned long)n);
    ENSURE((size_t)(r->end - r->p) >= n, VAULT_EINTEGRITY,
           "audit entry: " PART_FMT " length %lu runs past the end", PART_ARGS(what, field),
           (unsigned long)n);
    ENSURE(entry_text_ok(r->p, n), VAULT_EINTEGRITY,
           "audit entry: " PART_FMT " is not valid UTF-8 (or contains NUL)",
           PART_ARGS(what, field));
    if (raw)
        *raw = r->p, *raw_len = n;
    if (out->text) {
        memcpy(out->text, r->p, n);
        out->text[n] = '\0';
        *dst = out->text;
        out->text += n + 1;
    }
    r->p += n;
    r->nstr++;
cleanup:
    return rc;
}

static int take_str(reader *r, const char **dst, sink *out, const char *what, size_t field)
{
    return take_str_at(r, dst, out, what, field, NULL, NULL);
}

static int take_u8(reader *r, uint8_t *v, uint8_t max, const char *what, size_t field)
{
    int rc = VAULT_OK;

    GUARD(need(r, 1, what, field));
    *v = *r->p++;
    ENSURE(*v <= max, VAULT_EINTEGRITY, "audit entry: " PART_FMT " is %u, at most %u",
           PART_ARGS(what, field), *v, max);
cleanup:
    return rc;
}

static int reason_cmp(const void *a, const void *b)
{
    const reason_ref *x = a, *y = b;
    int c;

    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    c = x->n ? memcmp(x->p, y->p, x->n) : 0; /* memcmp ok: not secret */
    return c ? c : (x->k < y->k ? -1 : x->k > y->k);
}

/* No text twice in a reason table (sorts refs when it is large). */
static int reasons_distinct(reason_ref *refs, size_t n)
{
    size_t i, j;

    if (n <= REASONS_PAIRWISE) {
        for (i = 0; i < n; i++)
            for (j = i + 1; j < n; j++)
                if (refs[i].n == refs[j].n &&
                    memcmp(refs[i].p, refs[j].p, refs[i].n) == 0) /* memcmp ok: not secret */
                    return vault__err(VAULT_EINTEGRITY,
                                      "audit entry: reason table strings %zu and %zu are the "
                                      "same text",
                                      i + 1, j + 1);
        return VAULT_OK;
    }
    qsort(refs, n, sizeof *refs, reason_cmp);
    for (i = 1; i < n; i++)
        if (refs[i].n == refs[i - 1].n &&
            memcmp(refs[i].p, refs[i - 1].p, refs[i].n) == 0) /* memcmp ok: not secret */
            return vault__err(VAULT_EINTEGRITY,
                              "audit entry: reason table strings %lu and %lu are the same text",
                              (unsigned long)refs[i - 1].k + 1, (unsigned long)refs[i].k + 1);
    return VAULT_OK;
}

/* An LVA2 reason table: u16 count, then the strings; tab receives the
 * decoded strings when decoding. */
static int take_reasons(reader *r, sink *out, const char *tab[AF_REASONS_MAX], uint32_t *count)
{
    int rc = VAULT_OK;
    reason_ref refs[AF_REASONS_MAX];
    const char *ignored;
    char what[40];
    uint32_t n, k;

    GUARD(need(r, 2, "reason table count", 0));
    n = get_u16(r->p);
    r->p += 2;
    ENSURE(n <= AF_REASONS_MAX, VAULT_EINTEGRITY,
           "audit entry: reason table holds %lu strings, at most %d", (unsigned long)n,
           AF_REASONS_MAX);
    for (k = 0; k < n; k++) {
        const uint8_t *at = r->p;

        /* The string's number goes into a message only (formatted when one
         * is needed: verification walks millions of entries). */
        if (take_str_at(r, out->text ? &tab[k] : &ignored, out, "reason table string", 0,
                        &refs[k].p, &refs[k].n) != VAULT_OK) {
            r->p = at;
            snprintf(what, sizeof what, "reason table string %lu", (unsigned long)k + 1);
            GUARD(take_str_at(r, out->text ? &tab[k] : &ignored, out, what, 0, &refs[k].p,
                              &refs[k].n));
        }
        refs[k].k = k;
    }
    GUARD(reasons_distinct(refs, n));
    *count = n;
cleanup:
    return rc;
}

/* Walk the canonical bytes; fill `out` when its members are set. */
static int walk(const uint8_t *buf, size_t len, sink *out, uint64_t *seq, size_t *nfields,
                size_t *nstrs)
{
    int rc = VAULT_OK;
    reader r = {buf, buf + len, 0};
    af_entry scratch;
    af_entry *e = out->e ? out->e : &scratch;
    const char **slots[NSTRINGS_MAX], *names[NSTRINGS_MAX], *tab[AF_REASONS_MAX];
    const char *ignored;
    uint8_t b;
    uint32_t nf, i, nr = 0, used = 0;
    size_t k, ns;

    ENSURE(buf || len == 0, VAULT_EINVALID, "audit entry: missing bytes");
    ENSURE(len <= AF_ENTRY_MAX, VAULT_EINTEGRITY, "audit entry: %zu bytes, more than %d", len,
           AF_ENTRY_MAX);
    GUARD(need(&r, MAGIC_LEN + 16, "header", 0));
    if (memcmp(r.p, MAGIC_V2, MAGIC_LEN) == 0) /* memcmp ok: not secret */
        e->version = AF_VERSION_2;
    else if (memcmp(r.p, MAGIC_V1, MAGIC_LEN) == 0) /* memcmp ok: not secret */
        e->version = AF_VERSION_1;
    else
        ENSURE(0, VAULT_EINTEGRITY, "audit entry: bad magic (not LVA1 or LVA2)");
    r.p += MAGIC_LEN;
    e->seq = get_u64(r.p);
    e->time_us = (int64_t)get_u64(r.p + 8);
    r.p += 16;
    if (e->version == AF_VERSION_1)
        e->who.issuer = e->who.subject = e->who.token_id = e->who.app = e->who.peer = "";
    ns = header_slots(slots, names, e, e->version);
    for (k = 0; k < ns; k++)
        GUARD(take_str(&r, slots[k], out, names[k], 0));
    GUARD(take_u8(&r, &b, AF_OUTCOME_ERROR, "outcome", 0));
    e->outcome = b;
    GUARD(need(&r, 1, "flags", 0));
    e->flags = *r.p++;
    ENSURE((e->flags & ~(unsigned)AF_FLAGS_KNOWN) == 0, VAULT_EINTEGRITY,
           "audit entry: unknown flags 0x%x", e->flags);
    GUARD(take_u8(&r, &b, 1, "has_record", 0));
    e->has_record = b;
    if (b) {
        GUARD(need(&r, 16, "record id", 0));
        memcpy(e->record_id, r.p, 16);
        r.p += 16;
    }
    GUARD(need(&r, 32, "policy hash", 0));
    memcpy(e->policy_hash, r.p, 32);
    r.p += 32;
    if (e->version == AF_VERSION_2)
        GUARD(take_reasons(&r, out, tab, &nr));
    GUARD(need(&r, 4, "field count", 0));
    nf = get_u32(r.p);
    r.p += 4;
    ENSURE(nf <= AF_FIELDS_MAX, VAULT_EINTEGRITY, "audit entry: %lu fields, at most %d",
           (unsigned long)nf, AF_FIELDS_MAX);
    for (i = 0; i < nf; i++) {
        af_field *f = out->fields ? &out->fields[i] : NULL;
        size_t fi = (size_t)i + 1;

        GUARD(take_str(&r, f ? &f->name : &ignored, out, " name", fi));
        GUARD(take_u8(&r, &b, VAULT_EFFECT_ALLOW, " effect", fi));
        if (f)
            f->effect = b;
        if (e->version == AF_VERSION_2) {
            uint16_t ri;

            GUARD(need(&r, 2, " reason index", fi));
            ri = get_u16(r.p);
            r.p += 2;
            ENSURE(ri < nr, VAULT_EINTEGRITY,
                   "audit entry: field %zu reason index %u is out of range (%lu reasons)", fi,
                   (unsigned)ri, (unsigned long)nr);
            /* Canonical: the table lists reasons in order of first use. */
            ENSURE(ri <= used, VAULT_EINTEGRITY,
                   "audit entry: field %zu reason index %u is not in order of first use", fi,
                   (unsigned)ri);
            if (ri == used)
                used++;
            if (f)
                f->reason = tab[ri];
        } else {
            GUARD(take_str(&r, f ? &f->reason : &ignored, out, " reason", fi));
        }
        GUARD(take_u8(&r, &b, 1, " has_ct_hash", fi));
        if (f)
            f->has_ct_hash = b;
        if (b) {
            GUARD(need(&r, 32, " ct_hash", fi));
            if (f)
                memcpy(f->ct_hash, r.p, 32);
            r.p += 32;
        } else if (f) {
            memset(f->ct_hash, 0, 32);
        }
    }
    ENSURE(used == nr, VAULT_EINTEGRITY,
           "audit entry: reason table string %lu is used by no field", (unsigned long)used + 1);
    e->fields = out->fields;
    e->nfields = nf;
    GUARD(take_str(&r, &e->detail, out, "detail", 0));
    ENSURE(r.p == r.end, VAULT_EINTEGRITY, "audit entry: %zu trailing bytes",
           (size_t)(r.end - r.p));
    if (seq)
        *seq = e->seq;
    if (nfields)
        *nfields = nf;
    if (nstrs)
        *nstrs = r.nstr;
cleanup:
    return rc;
}

int af_entry_check(uint64_t *out_seq, const uint8_t *buf, size_t len)
{
    sink none = {NULL, NULL, NULL};

    return walk(buf, len, &none, out_seq, NULL, NULL);
}

int af_entry_decode(af_entry *out, void **storage, const uint8_t *buf, size_t len)
{
    int rc = VAULT_OK;
    sink none = {NULL, NULL, NULL}, into;
    size_t nf = 0, nstr = 0;
    void *mem = NULL;

    ENSURE(out && storage, VAULT_EINVALID, "af_entry_decode: missing argument");
    *storage = NULL;
    memset(out, 0, sizeof *out);
    GUARD(walk(buf, len, &none, NULL, &nf, &nstr));
    /* Fields first (aligned), then every string with its NUL: the strings
     * take fewer bytes than the entry, plus one NUL each. */
    mem = malloc(nf * sizeof(af_field) + len + nstr + 1);
    ENSURE(mem, VAULT_ENOMEM, "out of memory decoding an audit entry");
    into.e = out;
    into.fields = nf ? (af_field *)mem : NULL;
    into.text = (char *)mem + nf * sizeof(af_field);
    GUARD(walk(buf, len, &into, NULL, NULL, NULL));
    *storage = mem;
    mem = NULL;
cleanup:
    if (rc != VAULT_OK && out)
        memset(out, 0, sizeof *out);
    free(mem);
    return rc;
}

/* ---- hashes and the Merkle tree --------------------------------------- */

void af_leaf_hash(uint8_t out[32], const uint8_t *entry, size_t len)
{
    vc_log_sha256(out, 0x00, entry, len);
}

static void hash_pair(uint8_t out[32], uint8_t prefix, const uint8_t a[32], const uint8_t b[32])
{
    uint8_t buf[64];

    memcpy(buf, a, 32);
    memcpy(buf + 32, b, 32);
    vc_log_sha256(out, prefix, buf, sizeof buf);
}

void af_chain_next(uint8_t out[32], const uint8_t prev[32], const uint8_t leaf[32])
{
    hash_pair(out, 0x02, prev, leaf);
}

void af_node_hash(uint8_t out[32], const uint8_t left[32], const uint8_t right[32])
{
    hash_pair(out, 0x01, left, right);
}

void af_merkle_init(af_merkle *m)
{
    memset(m, 0, sizeof *m);
}

/* stack[0..popcount(size)) holds the roots of the perfect subtrees that
 * make up the tree, largest (leftmost) first: one per set bit of size. */
void af_merkle_push(af_merkle *m, const uint8_t leaf[32])
{
    unsigned n = (unsigned)__builtin_popcountll(m->size);
    uint64_t s = m->size;

    if (m->size == UINT64_MAX)
        return; /* 2^64 - 1 leaves: unreachable in practice */
    memcpy(m->stack[n++], leaf, 32);
    /* Each trailing 1 bit of the old size is a subtree of the new leaf's
     * height: merge them. */
    for (; s & 1; s >>= 1, n--)
        af_node_hash(m->stack[n - 2], m->stack[n - 2], m->stack[n - 1]);
    m->size++;
}

void af_merkle_root(const af_merkle *m, uint8_t out[32])
{
    unsigned n = (unsigned)__builtin_popcountll(m->size), i;
    uint8_t h[32];

    if (n == 0) {
        (void)vc_sha256(out, "", 0);
        return;
    }
    /* RFC 6962 splits at the largest power of two below the size: the left
     * part is the largest perfect subtree, so fold from the right. */
    memcpy(h, m->stack[n - 1], 32);
    for (i = n - 1; i-- > 0;)
        af_node_hash(h, m->stack[i], h);
    memcpy(out, h, 32);
}

/* ---- RFC 6962 proofs (verification: RFC 9162 sections 2.1.3.2, 2.1.4.2) */

int af_inclusion_verify(uint64_t index, uint64_t size, const uint8_t leaf[32],
                        const uint8_t (*proof)[32], size_t n, const uint8_t root[32])
{
    uint64_t fn = index, sn;
    uint8_t r[32];
    size_t i;

    if (index >= size)
        return vault__err(VAULT_EINVALID, "inclusion proof: entry %" PRIu64
                          " is not in a tree of size %" PRIu64, index + 1, size);
    if (n > 64)
        return vault__err(VAULT_EINVALID, "inclusion proof: %zu hashes is too many", n);
    sn = size - 1;
    memcpy(r, leaf, 32);
    for (i = 0; i < n; i++) {
        if (sn == 0)
            return vault__err(VAULT_EINVALID, "inclusion proof: %zu hashes is too many for "
                              "entry %" PRIu64 " of %" PRIu64, n, index + 1, size);
        if ((fn & 1) || fn == sn) {
            af_node_hash(r, proof[i], r);
            if (!(fn & 1))
                while (fn != 0 && !(fn & 1)) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            af_node_hash(r, r, proof[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return vault__err(VAULT_EINVALID, "inclusion proof: %zu hashes is too few for entry %"
                          PRIu64 " of %" PRIu64, n, index + 1, size);
    if (sodium_memcmp(r, root, 32) != 0)
        return vault__err(VAULT_EINTEGRITY, "inclusion proof: entry %" PRIu64
                          " does not lead to the root of the tree of size %" PRIu64,
                          index + 1, size);
    return VAULT_OK;
}

int af_consistency_verify(uint64_t size1, uint64_t size2, const uint8_t root1[32],
                          const uint8_t root2[32], const uint8_t (*proof)[32], size_t n)
{
    uint64_t fn, sn;
    uint8_t fr[32], sr[32];
    size_t i = 0;

    if (size1 > size2)
        return vault__err(VAULT_EINVALID, "consistency proof: size %" PRIu64
                          " is larger than size %" PRIu64, size1, size2);
    if (size1 == size2) {
        if (n != 0)
            return vault__err(VAULT_EINVALID, "consistency proof: a tree of size %" PRIu64
                              " needs no hashes to itself", size1);
        if (sodium_memcmp(root1, root2, 32) != 0)
            return vault__err(VAULT_EINTEGRITY, "consistency proof: two different roots for "
                              "the tree of size %" PRIu64, size1);
        return VAULT_OK;
    }
    if (size1 == 0) {
        if (n != 0)
            return vault__err(VAULT_EINVALID, "consistency proof: the empty tree needs no hashes");
        return VAULT_OK;
    }
    if (n == 0 || n > 128)
        return vault__err(VAULT_EINVALID, "consistency proof: %zu hashes from size %" PRIu64
                          " to %" PRIu64 " is not a proof", n, size1, size2);
    fn = size1 - 1;
    sn = size2 - 1;
    /* A first tree that is a perfect subtree is its own first hash (RFC
     * 9162 prepends it to the path). */
    if ((size1 & (size1 - 1)) == 0) {
        memcpy(fr, root1, 32);
    } else {
        memcpy(fr, proof[0], 32);
        i = 1;
    }
    memcpy(sr, fr, 32);
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    for (; i < n; i++) {
        if (sn == 0)
            return vault__err(VAULT_EINVALID, "consistency proof: %zu hashes is too many from "
                              "size %" PRIu64 " to %" PRIu64, n, size1, size2);
        if ((fn & 1) || fn == sn) {
            af_node_hash(fr, proof[i], fr);
            af_node_hash(sr, proof[i], sr);
            if (!(fn & 1))
                while (fn != 0 && !(fn & 1)) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            af_node_hash(sr, sr, proof[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return vault__err(VAULT_EINVALID, "consistency proof: %zu hashes is too few from size %"
                          PRIu64 " to %" PRIu64, n, size1, size2);
    if (sodium_memcmp(fr, root1, 32) != 0 || sodium_memcmp(sr, root2, 32) != 0)
        return vault__err(VAULT_EINTEGRITY, "consistency proof: the tree of size %" PRIu64
                          " does not extend the tree of size %" PRIu64, size2, size1);
    return VAULT_OK;
}

/* ---- checkpoints: C2SP signed notes ----------------------------------- */

#define EM_DASH "\xE2\x80\x94"
#define KEYID_BYTES 4
#define B64_ROOT_LEN 44 /* base64 of 32 bytes, padded */

void af_note_keyid(uint8_t out[4], const char *name, const uint8_t pk[32])
{
    af_keyid_typed(out, name, AF_SIGTYPE_ED25519, pk);
}

int af_note_name_ok(const char *name)
{
    return name && key_name_ok((const uint8_t *)name, strlen(name));
}

int af_parse_u64(uint64_t *out, const char *s, size_t n)
{
    uint64_t v = 0;
    size_t i;

    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return 0;
    for (i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

int af_checkpoint_sign(char **out, const char *origin, uint64_t size, const uint8_t root[32],
                       const uint8_t sk[64])
{
    return af_checkpoint_sign_at(out, origin, size, root, 0, sk);
}

int af_checkpoint_sign_at(char **out, const char *origin, uint64_t size, const uint8_t root[32],
                          int64_t time, const uint8_t sk[64])
{
    int rc = VAULT_OK;
    char text[AF_NOTE_MAX], b64root[B64_ROOT_LEN + 1], b64sig[128], num[24], ts[40];
    uint8_t sig[KEYID_BYTES + VC_SIGN_BYTES];
    size_t olen, tlen, nlen, slen, total;
    char *note = NULL, *p;

    ENSURE(out && origin && root && sk, VAULT_EINVALID, "af_checkpoint_sign: missing argument");
    *out = NULL;
    ENSURE(time >= 0, VAULT_EINVALID, "af_checkpoint_sign: negative time");
    olen = strlen(origin);
    ENSURE(key_name_ok((const uint8_t *)origin, olen), VAULT_EINVALID,
           "checkpoint: origin must be 1..255 bytes of UTF-8 without spaces, '+' or "
           "control characters");
    nlen = (size_t)snprintf(num, sizeof num, "%llu", (unsigned long long)size);
    GUARD(vc_bin2b64(b64root, sizeof b64root, root, 32));
    tlen = olen + 1 + nlen + 1 + B64_ROOT_LEN + 1;
    memcpy(text, origin, olen);
    p = text + olen;
    *p++ = '\n';
    memcpy(p, num, nlen), p += nlen;
    *p++ = '\n';
    memcpy(p, b64root, B64_ROOT_LEN), p += B64_ROOT_LEN;
    *p++ = '\n';
    if (time > 0) {
        size_t n = (size_t)snprintf(ts, sizeof ts, "timestamp %lld\n", (long long)time);
        memcpy(p, ts, n), p += n;
        tlen += n;
    }
    /* libsodium's secret key is seed | public key. */
    af_note_keyid(sig, origin, sk + 32);
    GUARD(vc_sign(sig + KEYID_BYTES, text, tlen, sk));
    GUARD(vc_bin2b64(b64sig, sizeof b64sig, sig, sizeof sig));
    slen = strlen(b64sig);
    /* text | "\n" | "— " origin " " sig "\n" */
    total = tlen + 1 + (sizeof EM_DASH - 1) + 1 + olen + 1 + slen + 1;
    ENSURE(total <= AF_NOTE_MAX, VAULT_ELIMIT, "checkpoint: note longer than %d bytes",
           AF_NOTE_MAX);
    note = malloc(total + 1);
    ENSURE(note, VAULT_ENOMEM, "out of memory signing a checkpoint");
    p = note;
    memcpy(p, text, tlen), p += tlen;
    *p++ = '\n';
    memcpy(p, EM_DASH " ", sizeof EM_DASH), p += sizeof EM_DASH;
    memcpy(p, origin, olen), p += olen;
    *p++ = ' ';
    memcpy(p, b64sig, slen), p += slen;
    *p++ = '\n';
    *p = '\0';
    *out = note;
    note = NULL;
cleanup:
    free(note);
    return rc;
}

/* The next line of [*p, end) without its newline; 0 at the end.  The
 * caller guarantees the region ends with a newline. */
static int next_line(const char **p, const char *end, const char **line, size_t *len)
{
    const char *nl;

    if (*p >= end)
        return 0;
    nl = memchr(*p, '\n', (size_t)(end - *p));
    *line = *p;
    *len = (size_t)(nl - *p);
    *p = nl + 1;
    return 1;
}

/* The checkpoint text: origin, size and root lines, then optional
 * non-empty extension lines (ignored). */
static int parse_text(af_checkpoint *out, const char *text, size_t tlen)
{
    int rc = VAULT_OK;
    const char *p = text, *end = text + tlen, *line[3];
    size_t len[3], n, i, rootlen = 0;

    for (i = 0; i < 3; i++)
        ENSURE(next_line(&p, end, &line[i], &len[i]), VAULT_EINVALID,
               "checkpoint: the note text has %zu lines, at least 3 needed", i);
    ENSURE(key_name_ok((const uint8_t *)line[0], len[0]), VAULT_EINVALID,
           "checkpoint: origin line must be 1..255 bytes without spaces, '+' or control "
           "characters");
    memcpy(out->origin, line[0], len[0]);
    out->origin[len[0]] = '\0';
    ENSURE(af_parse_u64(&out->size, line[1], len[1]), VAULT_EINVALID,
           "checkpoint: tree size line is not a decimal number without leading zeros");
    ENSURE(len[2] == B64_ROOT_LEN &&
               vc_b642bin(out->root, sizeof out->root, &rootlen, line[2], len[2]) == 0 &&
               rootlen == 32,
           VAULT_EINVALID, "checkpoint: root hash line is not base64 of 32 bytes");
    while (next_line(&p, end, &line[0], &n)) {
        uint64_t t = 0;

        ENSURE(n > 0, VAULT_EINVALID, "checkpoint: empty line in the note text");
        /* libvault's extension: the signed time.  Others are ignored. */
        if (n >= 10 && memcmp(line[0], "timestamp ", 10) == 0) { /* memcmp ok: not secret */
            ENSURE(out->time == 0, VAULT_EINVALID, "checkpoint: two timestamp lines");
            ENSURE(af_parse_u64(&t, line[0] + 10, n - 10) && t > 0 && t <= (uint64_t)INT64_MAX,
                   VAULT_EINVALID,
                   "checkpoint: timestamp line is not a positive decimal number without leading "
                   "zeros");
            out->time = (int64_t)t;
        }
    }
cleanup:
    return rc;
}

int af_checkpoint_verify(af_checkpoint *out, const char *note, size_t len, const char *key_name,
                         const uint8_t pk[32])
{
    int rc = VAULT_OK;
    const char *end = note + len, *sep = NULL, *p, *line, *name, *b64;
    uint8_t sig[AF_NOTE_MAX], keyid[KEYID_BYTES];
    size_t tlen, llen, nlen, siglen, i, known = 0, good = 0, bad = 0;

    ENSURE(out && note && key_name && pk, VAULT_EINVALID, "af_checkpoint_verify: missing argument");
    memset(out, 0, sizeof *out);
    ENSURE(len <= AF_NOTE_MAX, VAULT_EINVALID, "checkpoint: note is %zu bytes, at most %d", len,
           AF_NOTE_MAX);
    ENSURE(note_text_ok((const uint8_t *)note, len), VAULT_EINVALID,
           "checkpoint: note is not UTF-8 text without control characters");
    ENSURE(len > 0 && note[len - 1] == '\n', VAULT_EINVALID,
           "checkpoint: note does not end with a newline");
    /* The text ends at the last blank line. */
    for (i = len - 1; i-- > 0;)
        if (note[i] == '\n' && note[i + 1] == '\n') {
            sep = note + i;
            break;
        }
    ENSURE(sep, VAULT_EINVALID, "checkpoint: no blank line before the signatures");
    tlen = (size_t)(sep - note) + 1; /* the text keeps its final newline */
    GUARD(parse_text(out, note, tlen));
    p = sep + 2;
    ENSURE(p < end, VAULT_EINVALID, "checkpoint: no signature lines");
    af_note_keyid(keyid, key_name, pk);
    while (next_line(&p, end, &line, &llen)) {
        const char *sp;

        ENSURE(llen > sizeof EM_DASH && memcmp(line, EM_DASH " ", sizeof EM_DASH) == 0, /* memcmp ok: not secret */
               VAULT_EINVALID, "checkpoint: signature line does not start with an em dash");
        name = line + sizeof EM_DASH;
        sp = memchr(name, ' ', (size_t)(line + llen - name));
        ENSURE(sp && sp > name, VAULT_EINVALID, "checkpoint: signature line has no key name");
        nlen = (size_t)(sp - name);
        b64 = sp + 1;
        ENSURE(vc_b642bin(sig, sizeof sig, &siglen, b64, (size_t)(line + llen - b64)) == 0 &&
                   siglen > KEYID_BYTES,
               VAULT_EINVALID, "checkpoint: signature is not base64 of a key id and signature");
        /* Signatures by other keys (other name or key id) are ignored: the
         * name is the verifier key's, never taken from the note. */
        if (nlen != strlen(key_name) || memcmp(name, key_name, nlen) != 0 || /* memcmp ok: not secret */
            sodium_memcmp(sig, keyid, KEYID_BYTES) != 0)
            continue;
        known++;
        if (siglen == KEYID_BYTES + VC_SIGN_BYTES &&
            vc_verify(sig + KEYID_BYTES, note, tlen, pk) == VAULT_OK)
            good++;
        else
            bad++;
    }
    ENSURE(known > 0, VAULT_EINTEGRITY,
           "checkpoint: bad signature (no signature line by the given key)");
    ENSURE(bad == 0 && good > 0, VAULT_EINTEGRITY,
           "checkpoint: bad signature (a signature by the given key does not verify)");
    /* A valid signature on a note of another log (tlog-checkpoint: the
     * origin must be the one the verifier expects) proves nothing here. */
    ENSURE(strcmp(out->origin, key_name) == 0, VAULT_EINTEGRITY,
           "checkpoint: bad signature (the note's origin is not the key's name)");
cleanup:
    return rc;
}

/* ---- note verifier keys (vault_audit_pubkey text) ---- */
int af_log_vkey_parse(char name[256], uint8_t pk[32], const char *text)
{
    if (!text)
        return vault__err(VAULT_EINVALID, "public key: missing");
    return af_vkey_parse(name, pk, text, strlen(text), AF_SIGTYPE_ED25519);
}

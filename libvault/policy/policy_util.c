/* Small helpers for the policy module: an arena, a string map, a growing
 * text buffer, bitsets, names, durations and jurisdiction paths. */
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"
#include "text.h"

/* ---- Arena ---- */

struct vp_chunk {
    vp_chunk *next;
    size_t used, cap;
    alignas(16) unsigned char data[];
};

#define VP_CHUNK_SIZE 16384

void *vp_alloc(vp_arena *a, size_t n)
{
    vp_chunk *c = a->head;
    size_t need = (n + 15u) & ~(size_t)15u;
    void *out;

    if (need < n)
        return NULL;
    if (c == NULL || c->cap - c->used < need) {
        size_t cap = need > VP_CHUNK_SIZE ? need : VP_CHUNK_SIZE;

        if (cap > SIZE_MAX - sizeof *c)
            return NULL;
        c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->used = 0;
        c->cap = cap;
        /* A big block goes behind the current chunk so the rest of the
         * current chunk stays usable. */
        if (a->head != NULL && need > VP_CHUNK_SIZE) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    out = c->data + c->used;
    c->used += need;
    memset(out, 0, n);
    return out;
}

char *vp_strndup(vp_arena *a, const char *s, size_t n)
{
    char *out = vp_alloc(a, n + 1);

    if (out == NULL)
        return NULL;
    if (n > 0)
        memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

void vp_arena_free(vp_arena *a)
{
    vp_chunk *c = a->head;

    while (c != NULL) {
        vp_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

/* ---- Map ---- */

uint64_t vp_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int map_grow(vp_map *m)
{
    uint32_t cap = m->cap ? m->cap * 2u : 16u;
    vp_slot *slots;

    if (cap < m->cap || cap > (1u << 28))
        return VAULT_ENOMEM;
    slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return VAULT_ENOMEM;
    for (uint32_t i = 0; i < m->cap; i++) {
        vp_slot *s = &m->slots[i];
        uint32_t j;

        if (s->key == NULL)
            continue;
        j = (uint32_t)s->hash & (cap - 1u);
        while (slots[j].key != NULL)
            j = (j + 1u) & (cap - 1u);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return VAULT_OK;
}

static int map_find(const vp_map *m, const char *key, size_t len, uint64_t h)
{
    uint32_t j;

    if (m->cap == 0)
        return -1;
    j = (uint32_t)h & (m->cap - 1u);
    while (m->slots[j].key != NULL) {
        const vp_slot *s = &m->slots[j];

        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) /* memcmp ok: not secret */
            return (int)j;
        j = (j + 1u) & (m->cap - 1u);
    }
    return -1;
}

int vp_map_put(vp_map *m, const char *key, size_t len, int val)
{
    uint64_t h = vp_hash(key, len);
    int at;
    uint32_t j;

    if (len > UINT32_MAX)
        return VAULT_ENOMEM;
    at = map_find(m, key, len, h);
    if (at >= 0)
        return m->slots[at].val;
    if ((m->n + 1u) * 2u > m->cap) {
        int rc = map_grow(m);
        if (rc < 0)
            return rc;
    }
    j = (uint32_t)h & (m->cap - 1u);
    while (m->slots[j].key != NULL)
        j = (j + 1u) & (m->cap - 1u);
    m->slots[j].hash = h;
    m->slots[j].key = key;
    m->slots[j].len = (uint32_t)len;
    m->slots[j].val = val;
    m->n++;
    return -1;
}

int vp_map_get(const vp_map *m, const char *key, size_t len)
{
    int at;

    if (key == NULL)
        return -1;
    at = map_find(m, key, len, vp_hash(key, len));
    return at < 0 ? -1 : m->slots[at].val;
}

int vp_map_gets(const vp_map *m, const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    size_t len = 0;
    int at;

    if (s == NULL || m->cap == 0)
        return -1;
    /* Hash and measure in one pass: this is on the decision path. */
    while (s[len] != '\0') {
        h ^= (unsigned char)s[len];
        h *= 1099511628211ULL;
        len++;
    }
    at = map_find(m, s, len, h);
    return at < 0 ? -1 : m->slots[at].val;
}

void vp_map_free(vp_map *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

/* ---- Sparse bucket index ---- */

static uint32_t ix_home(const vp_index *ix, uint64_t key);

static uint32_t ix_slot(const vp_index *ix, uint64_t key)
{
    uint32_t j = ix_home(ix, key);

    while (ix->slots[j].key != 0 && ix->slots[j].key != key + 1)
        j = (j + 1u) & (ix->cap - 1u);
    return j;
}

static int ix_grow(vp_index *ix)
{
    vp_index n = *ix;

    n.cap = ix->cap ? ix->cap * 2u : 64u;
    if (n.cap < ix->cap || n.cap > (1u << 30))
        return VAULT_ENOMEM;
    n.slots = calloc(n.cap, sizeof *n.slots);
    if (n.slots == NULL)
        return VAULT_ENOMEM;
    for (uint32_t i = 0; i < ix->cap; i++) {
        uint32_t j;

        if (ix->slots[i].key == 0)
            continue;
        j = ix_slot(&n, ix->slots[i].key - 1);
        n.slots[j] = ix->slots[i];
    }
    free(ix->slots);
    *ix = n;
    return VAULT_OK;
}

int vp_ix_put(vp_index *ix, uint64_t key, int cls, uint32_t val, int fill)
{
    uint32_t j;
    vp_bucket *b;

    if (!fill) {
        if ((ix->nbuckets + 1u) * 2u > ix->cap) {
            int rc = ix_grow(ix);
            if (rc < 0)
                return rc;
        }
        j = ix_slot(ix, key);
        if (ix->slots[j].key == 0) {
            ix->slots[j].key = key + 1;
            ix->nbuckets++;
        }
        if (ix->total >= UINT32_MAX - 1)
            return VAULT_ELIMIT;
        ix->slots[j].b.n[cls]++;
        ix->total++;
        return VAULT_OK;
    }
    j = ix_slot(ix, key);
    b = &ix->slots[j].b;
    ix->data[b->off + ix->cur[(size_t)j * 3 + (size_t)cls]++] = val;
    return VAULT_OK;
}

int vp_ix_layout(vp_index *ix)
{
    uint32_t off = 0;

    ix->data = malloc((ix->total ? ix->total : 1) * sizeof *ix->data);
    ix->cur = calloc(ix->cap ? (size_t)ix->cap * 3 : 1, sizeof *ix->cur);
    if (ix->data == NULL || ix->cur == NULL)
        return VAULT_ENOMEM;
    for (uint32_t j = 0; j < ix->cap; j++) {
        vp_bucket *b = &ix->slots[j].b;

        if (ix->slots[j].key == 0)
            continue;
        b->off = off;
        ix->cur[(size_t)j * 3] = 0;
        ix->cur[(size_t)j * 3 + 1] = b->n[0];
        ix->cur[(size_t)j * 3 + 2] = b->n[0] + b->n[1];
        off += b->n[0] + b->n[1] + b->n[2];
    }
    return VAULT_OK;
}

const vp_bucket *vp_ix_get(const vp_index *ix, uint64_t key)
{
    uint32_t j;

    if (ix->cap == 0)
        return NULL;
    j = ix_slot(ix, key);
    return ix->slots[j].key == 0 ? NULL : &ix->slots[j].b;
}

static uint32_t ix_home(const vp_index *ix, uint64_t key)
{
    uint64_t h = (key + 1) * 0x9E3779B97F4A7C15ULL;

    return (uint32_t)(h >> 32) & (ix->cap - 1u);
}

void vp_ix_get_many(const vp_index *ix, const uint64_t *keys, int n, const vp_bucket **out)
{
    int i;

    if (ix->cap == 0) {
        for (i = 0; i < n; i++)
            out[i] = NULL;
        return;
    }
    for (i = 0; i < n; i++)
        if (keys[i] != VP_IX_NONE)
            __builtin_prefetch(&ix->slots[ix_home(ix, keys[i])]);
    for (i = 0; i < n; i++)
        out[i] = keys[i] == VP_IX_NONE ? NULL : vp_ix_get(ix, keys[i]);
}

void vp_ix_free(vp_index *ix)
{
    free(ix->slots);
    free(ix->cur);
    free(ix->data);
    memset(ix, 0, sizeof *ix);
}

void vp_quote(char *out, size_t out_size, const char *s, size_t n)
{
    size_t o = 0, limit = 64;

    if (out_size == 0)
        return;
    for (size_t i = 0; i < n && i < limit && o + 1 < out_size; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c < 0x20 || c == 0x7f || c == '\'' || c == '"' || c == '\\') ? '?' : (char)c;
    }
    if (n > limit && o + 4 < out_size) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

int vp_strptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- Bitsets ---- */

int vp_bits_subset(const uint64_t *sub, const uint64_t *super, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((sub[i] & ~super[i]) != 0)
            return 0;
    return 1;
}

int vp_bits_empty(const uint64_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

/* ---- Names ---- */

int vp_name_ok(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > VAULT_NAME_MAX - 1)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int vp_user_norm(char *out, size_t cap, const char *s, size_t len)
{
    char tmp[VAULT_NAME_MAX];
    int rc;

    if (s == NULL || len == 0 || len > VAULT_NAME_MAX - 1 || memchr(s, '\0', len) != NULL)
        return 0;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    rc = vault__user_norm(out, cap, tmp, "user");
    vault__err_clear(); /* the caller reports where, with its own message */
    return rc == VAULT_OK;
}

int vp_duration_parse(int64_t *out, const char *s, size_t len)
{
    int64_t v = 0, unit;
    size_t i;

    if (s == NULL || len < 2 || len > 12)
        return VAULT_EINVALID;
    for (i = 0; i + 1 < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return VAULT_EINVALID;
        v = v * 10 + (s[i] - '0'); /* at most 11 digits: no overflow */
    }
    switch (s[len - 1]) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'y': unit = 365 * 86400; break; /* a year of 365 days */
    default: return VAULT_EINVALID;
    }
    if (v <= 0 || v > VP_DURATION_MAX / unit)
        return VAULT_EINVALID;
    *out = v * unit;
    return VAULT_OK;
}

void policy_duration_text(char *out, size_t cap, int64_t secs)
{
    static const struct { int64_t n; char u; } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}};

    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (secs > 0 && secs % units[i].n == 0) {
            snprintf(out, cap, "%lld%c", (long long)(secs / units[i].n), units[i].u);
            return;
        }
    snprintf(out, cap, "%llds", (long long)secs);
}

int policy_duration_parse(int64_t *out, const char *text)
{
    int rc = VAULT_OK;

    ENSURE(out != NULL && text != NULL, VAULT_EINVALID, "duration: missing argument");
    ENSURE(vp_duration_parse(out, text, strlen(text)) == VAULT_OK, VAULT_EINVALID,
           "malformed duration: use a positive whole number and s, m, h or d, at most 3650d");
cleanup:
    return rc;
}

/* ---- Jurisdictions ---- */

int vp_jur_len(const char *s)
{
    size_t len, seg = 0;

    if (s == NULL)
        return -1;
    len = strnlen(s, VAULT_JURISDICTION_MAX + 2);
    if (len > 1 && s[len - 1] == '/')
        len--;
    if (len == 0 || len > VAULT_JURISDICTION_MAX)
        return -1;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            size_t n = i - seg;
            if (n == 0)
                return -1;
            if ((n == 1 && s[seg] == '.') || (n == 2 && s[seg] == '.' && s[seg + 1] == '.'))
                return -1;
            seg = i + 1;
        } else if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            return -1;
        }
    }
    return (int)len;
}

int vp_jur_within_n(const char *inner, int ilen, const char *outer, int olen)
{
    if (ilen < olen || memcmp(inner, outer, (size_t)olen) != 0) /* memcmp ok: not secret */
        return 0;
    return ilen == olen || inner[olen] == '/';
}

int policy_jurisdiction_within(const char *inner, const char *outer)
{
    int il = vp_jur_len(inner), ol = vp_jur_len(outer);

    if (il < 0 || ol < 0)
        return 0;
    return vp_jur_within_n(inner, il, outer, ol);
}

/* ---- Actions and effects ---- */

static const char *const action_names[VP_NACTIONS] = {
    [VAULT_ACTION_READ] = "read",     [VAULT_ACTION_WRITE] = "write",
    [VAULT_ACTION_CREATE] = "create", [VAULT_ACTION_SEARCH] = "search",
    [VAULT_ACTION_ERASE] = "erase",   [VAULT_ACTION_EXPORT] = "export",
};

const char *vp_action_name(int action)
{
    if (action < 0 || action >= VP_NACTIONS)
        return "?";
    return action_names[action];
}

int vp_action_from_name(const char *s, size_t len)
{
    for (int i = 0; i < VP_NACTIONS; i++)
        if (strlen(action_names[i]) == len && memcmp(action_names[i], s, len) == 0) /* memcmp ok: not secret */
            return i;
    return -1;
}

const char *vp_effect_name(int effect)
{
    switch (effect) {
    case VAULT_EFFECT_ALLOW: return "allow";
    case VAULT_EFFECT_MASK: return "mask";
    case VAULT_EFFECT_DENY: return "deny";
    default: return "?";
    }
}

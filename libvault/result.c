/* result: per-field results of a read (result.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "result.h"

int result_new(vault_result **out, size_t n)
{
    vault_result *r = calloc(1, sizeof *r);

    if (!r)
        return vault__err(VAULT_ENOMEM, "out of memory");
    r->items = calloc(n ? n : 1, sizeof *r->items);
    if (!r->items) {
        free(r);
        return vault__err(VAULT_ENOMEM, "out of memory");
    }
    r->n = n;
    *out = r;
    return VAULT_OK;
}

/* Room for need more bytes after r->used; what is past r->used is not
 * kept when the arena moves (the old one is wiped). */
static int arena_reserve(vault_result *r, size_t need)
{
    size_t cap = r->cap ? r->cap : 256;
    char *p;

    if (r->cap - r->used >= need)
        return VAULT_OK;
    while (cap - r->used < need) {
        if (cap > SIZE_MAX / 2)
            return vault__err(VAULT_ENOMEM, "out of secure memory");
        cap *= 2;
    }
    p = vc_malloc(cap);
    if (!p)
        return vault__err(VAULT_ENOMEM, "out of secure memory");
    if (r->used)
        memcpy(p, r->arena, r->used);
    vc_free(r->arena); /* vc_free wipes */
    r->arena = p;
    r->cap = cap;
    return VAULT_OK;
}

char *result_arena_alloc(void *arg, size_t n)
{
    vault_result *r = arg;

    return arena_reserve(r, n) == VAULT_OK ? r->arena + r->used : NULL;
}

void result_arena_commit(vault_result *r, result_item *it, size_t len)
{
    it->has_value = 1;
    it->off = r->used;
    it->len = len;
    r->used += len + 1;
}

int result_set(vault_result *r, size_t i, const char *field, int effect, int present,
               const char *value, size_t len, const vault_reason *why)
{
    int rc = VAULT_OK;
    result_item *it;
    char *to;

    ENSURE(r && i < r->n && field, VAULT_EINVALID, "result: item %zu out of range", i);
    it = &r->items[i];
    ENSURE(strlen(field) < sizeof it->field, VAULT_EINVALID, "result: field name too long");
    snprintf(it->field, sizeof it->field, "%s", field);
    it->effect = effect;
    it->present = present;
    if (why)
        it->reason = *why;
    else
        memset(&it->reason, 0, sizeof it->reason);
    it->reason.effect = effect;
    if (value) {
        ENSURE(len < SIZE_MAX - 1, VAULT_ELIMIT, "result: value too long");
        to = result_arena_alloc(r, len + 1);
        ENSURE(to, VAULT_ENOMEM, "out of secure memory");
        memcpy(to, value, len);
        to[len] = '\0';
        result_arena_commit(r, it, len);
    }
cleanup:
    return rc;
}

size_t vault_result_count(const vault_result *r)
{
    return r ? r->n : 0;
}

const char *vault_result_field(const vault_result *r, size_t i)
{
    return r && i < r->n ? r->items[i].field : NULL;
}

int vault_result_effect(const vault_result *r, size_t i)
{
    return r && i < r->n ? r->items[i].effect : VAULT_EFFECT_DENY;
}

int vault_result_present(const vault_result *r, size_t i)
{
    return r && i < r->n ? r->items[i].present : 0;
}

const char *vault_result_value(const vault_result *r, size_t i, size_t *out_len)
{
    if (!r || i >= r->n || !r->items[i].has_value) {
        if (out_len)
            *out_len = 0;
        return NULL;
    }
    if (out_len)
        *out_len = r->items[i].len;
    return r->arena + r->items[i].off;
}

const vault_reason *vault_result_reason(const vault_result *r, size_t i)
{
    return r && i < r->n ? &r->items[i].reason : NULL;
}

void vault_result_free(vault_result *r)
{
    if (!r)
        return;
    vc_free(r->arena); /* vc_free wipes */
    free(r->items);
    free(r);
}

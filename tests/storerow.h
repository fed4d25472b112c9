/* A store-level record row for the backend tests (header-only): one field,
 * "phone" of grade "personal" under key version 1, ciphertext "ct" (no
 * MAC: the backend stores what store.c would compute, unchecked). */
#ifndef VAULT_STOREROW_H
#define VAULT_STOREROW_H

#include <string.h>

#include "store/backend.h"

static inline void tu_store_record(store_record *r, store_field *f, uint8_t idbyte,
                                   const char *jurisdiction, int64_t version)
{
    memset(r, 0, sizeof *r);
    memset(r->id, idbyte, VAULT_ID_BYTES);
    r->jurisdiction = jurisdiction;
    r->version = version;
    r->nfields = 1;
    r->fields = f;
    memset(f, 0, sizeof *f);
    f->name = "phone";
    f->grade = "personal";
    f->key_version = 1;
    f->ct = (const uint8_t *)"ct";
    f->ct_len = 2;
}

#endif

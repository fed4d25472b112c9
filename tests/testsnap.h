/* Reads below the public API run in a transaction, as every read of the
 * store must (store.c refuses others): TU_SNAP(db, call) runs call in a
 * snapshot of its own unless db is in a transaction already.  Header-only;
 * include after the store header. */
#ifndef VAULT_TESTSNAP_H
#define VAULT_TESTSNAP_H

#include "record.h"
#include "store/store.h"
#include "vault_int.h"

static inline int tu_snap_begin(store *db, int *own)
{
    *own = !store_in_tx(db);
    return *own ? store_begin(db, STORE_TX_SNAPSHOT) : 0;
}

static inline int tu_snap_end(store *db, int own, int rc)
{
    if (own && store_in_tx(db)) {
        if (rc < 0)
            store_rollback(db);
        else if (store_commit(db) != 0)
            rc = -98;
    }
    return rc;
}

#define TU_SNAP(db, call)                                \
    __extension__({                                      \
        int tu_own_, tu_rc_ = tu_snap_begin((db), &tu_own_); \
        if (tu_rc_ == 0)                                 \
            tu_rc_ = (call);                             \
        tu_snap_end((db), tu_own_, tu_rc_);              \
    })

/* Records whose id_number is this value, found below the API (no audit
 * entry) in a snapshot: how many (0 or 1 expected), the first into out.
 * Include after testutil.h (cmocka). */
static inline size_t tu_find_by_idno(uint8_t out[VAULT_ID_BYTES], vault *v, const char *idno)
{
    uint8_t *ids = NULL;
    size_t n = 0;
    const vp_field *f = policy_field(v->policy, "id_number");
    record_ctx rx = vault__record_ctx(v);

    assert_non_null(f);
    assert_int_equal(TU_SNAP(v->db, record_find(&ids, &n, &rx, f, idno, strlen(idno))), 0);
    if (n >= 1)
        memcpy(out, ids, VAULT_ID_BYTES);
    free(ids);
    return n;
}

#endif

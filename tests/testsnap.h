/* Reads below the public API run in a transaction, as every read of the
 * store must (store.c refuses others): TU_SNAP(db, call) runs call in a
 * snapshot of its own unless db is in a transaction already.  Header-only;
 * include after the store header. */
#ifndef VAULT_TESTSNAP_H
#define VAULT_TESTSNAP_H

#include "store/store.h"

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

#endif

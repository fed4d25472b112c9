/* Tests that read the audit log entry by entry: one adapter from the
 * store's scan callback to a visitor of decoded entries. */
#ifndef VAULT_TESTLOG_H
#define VAULT_TESTLOG_H

#include "testutil.h"

#include "audit/audit_format.h"
#include "store/store.h"
#include "testsnap.h"

/* A visitor of one decoded entry (e is NULL when the stored bytes no
 * longer decode, as in tests that damage the log). */
typedef void (*tu_entry_fn)(void *arg, const af_entry *e);

typedef struct tu_visit {
    tu_entry_fn fn;
    void *arg;
} tu_visit;

static inline int tu_visit_fn(void *arg, int64_t pos, const uint8_t *entry, size_t len,
                              const uint8_t *head, size_t head_len)
{
    tu_visit *t = arg;
    af_entry e;
    void *storage = NULL;

    (void)pos;
    (void)head;
    (void)head_len;
    if (af_entry_decode(&e, &storage, entry, len) == 0)
        t->fn(t->arg, &e);
    else
        t->fn(t->arg, NULL);
    free(storage);
    return 0;
}

/* Visit every entry of the log in storage order. */
static inline void tu_log_each(store *db, tu_entry_fn fn, void *arg)
{
    tu_visit t = {fn, arg};

    assert_int_equal(TU_SNAP(db, store_audit_scan(db, 0, tu_visit_fn, &t)), 0);
}

/* Visit the entries filed under one record (the audit_record index). */
static inline void tu_log_each_record(store *db, const uint8_t rid[VAULT_ID_BYTES],
                                      tu_entry_fn fn, void *arg)
{
    tu_visit t = {fn, arg};

    assert_int_equal(TU_SNAP(db, store_audit_scan_record(db, rid, tu_visit_fn, &t)), 0);
}

#endif

/* op: entering and leaving a public call on a handle, and the store
 * transaction hooks (op.c).  vault__enter, vault__leave, vault__exit and
 * vault__retired_free are declared in vault_int.h.  Not installed. */
#ifndef VAULT_OP_H
#define VAULT_OP_H

#include "vault_int.h"

/* Load the vault's active policy when it changed (or there is none yet). */
int op_load_policy(vault *v) VAULT_MUST_CHECK;
/* Install the transaction hooks on the handle's store. */
void op_attach_tx_hooks(vault *v);

#endif

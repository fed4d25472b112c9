/* canary: decoy residents (issue 19; docs/privacy.md "Canary records").
 *
 * A canary is an ordinary record (made through the normal create path, so
 * its rows, fields and entries look like any other's) whose id is in the
 * vault's canary set: one meta row, "canaries", sealed with a subkey of
 * the master key (crypto_kdf id 6) with the vault id as associated data
 * and MAC'd like every row, so neither a reader nor the database's owner
 * can tell which records are decoys.  Any read, search hit or export of
 * one is flagged in its audit entry (AF_FLAG_CANARY) and raises an alarm
 * (vault_set_alarm, kind "canary").  The set is loaded with the policy
 * (op_reload) and kept in the handle. */
#ifndef VAULT_CANARY_H
#define VAULT_CANARY_H

#include <stdint.h>

#include "keyring.h"
#include "vault_int.h"

#define CANARY_META "canaries"
#define CANARY_MAX 4096 /* decoys in one vault */

/* (Re)load the set from the store, in the caller's transaction. */
int canary__load(vault *v) VAULT_MUST_CHECK;
/* Add id to the set and store it, in the caller's write transaction. */
int canary__mark(vault *v, const uint8_t id[VAULT_ID_BYTES]) VAULT_MUST_CHECK;
/* 1 when id is a canary. */
int canary__is(const vault *v, const uint8_t id[VAULT_ID_BYTES]);
void canary__free(vault *v);
/* Master-key rotation: the meta row's value `val` (v's canary set)
 * sealed again under `to`'s canary key into out (cap bytes; the row's
 * own length plus nothing more suffices).  VAULT_EINTEGRITY when it does
 * not open. */
#define CANARY_VALUE_CAP (1 + 40 + CANARY_MAX * VAULT_ID_BYTES)
int canary__rewrap(uint8_t *out, size_t cap, size_t *out_len, const vault *v, const keyring *to,
                   const uint8_t *val, size_t len) VAULT_MUST_CHECK;

#endif

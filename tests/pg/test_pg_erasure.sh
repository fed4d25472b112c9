#!/usr/bin/env bash
# Erasure that reaches backups, on PostgreSQL (issue 19; docs/erasure.md),
# inside a throwaway cluster (tests/pg/pg_cluster.sh run).  The data
# backup is what a DBA takes of the vault's schema: `pg_dump -n NAME`, with
# the keys file as it was.  It holds no record key (those live in the
# schema NAME_rkeys).  A resident is erased; the backup is put back (schema
# dropped and reloaded from the dump, the keys file copied back): the
# erased resident's rows are in the database again, and do not open or
# turn up in a search, while the other resident reads and the log
# verifies.
VAULTCTL=$1
. "$(dirname "$0")/../cli/lib.sh"
[ -n "${VAULT_PG_URI:-}" ] || { echo "test_pg_erasure: VAULT_PG_URI is not set (run under tests/pg/pg_cluster.sh run)"; exit 1; }
command -v psql >/dev/null && command -v pg_dump >/dev/null ||
    { echo "test_pg_erasure: psql or pg_dump is missing (postgresql-client-15)"; exit 1; }
unset VAULT_PASSPHRASE VAULT_PATH

POL="$SRC/policies/community.yaml"
case "$VAULT_PG_URI" in *\?*) sep='&' ;; *) sep='?' ;; esac
J=hangzhou/gongshu/xiaohe/changzheng/grid-07
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
A_PHONE=13812345678; B_PHONE=13700002222
S=erasure
LOC="${VAULT_PG_URI}${sep}vault_keys=$TMP/$S.keys&vault_schema=$S"
vc() { "$VAULTCTL" --vault "$LOC" --key-file "$TMP/$S.key" "$@"; }
dba() { psql -X -q -v ON_ERROR_STOP=1 -At -c "$1" 2>"$TMP/sqlerr"; }

vc init --policy "$POL" >/dev/null 2>&1 || { bad "init"; finish; }
RA=$(vc "${OFFICER[@]}" record add --in "$J" name=欧阳娜娜 phone=$A_PHONE 2>/dev/null)
RB=$(vc "${OFFICER[@]}" record add --in "$J" name=李娟 phone=$B_PHONE 2>/dev/null)
[ ${#RA} = 32 ] && [ ${#RB} = 32 ] && ok "two residents added" || { bad "record add ('$RA' '$RB')"; finish; }
[ "$(dba "SELECT count(*) FROM ${S}_rkeys.meta WHERE key LIKE 'rk/%'")" = 2 ] &&
    ok "their keys are in the schema ${S}_rkeys" || bad "record keys: $(cat "$TMP/sqlerr")"
[ "$(dba "SELECT count(*) FROM $S.meta WHERE key LIKE 'rk/%'")" = 0 ] &&
    ok "and not in the data schema $S" || bad "a record key in the data schema"

# the data backup: the schema alone, and the keys file as it is
vc audit checkpoint >/dev/null 2>&1
pg_dump -n "$S" -f "$TMP/data.sql" 2>"$TMP/sqlerr" && ok "pg_dump -n $S" || bad "pg_dump: $(cat "$TMP/sqlerr")"
cp "$TMP/$S.keys" "$TMP/keys.backup"
grep -q "${S}_rkeys" "$TMP/data.sql" && bad "the data dump names the key store" || ok "the data dump holds no record key store"
grep -q "rk/" "$TMP/data.sql" && bad "the data dump holds a record key row" || ok "nor any record key row"

expect_exit 0 "A is erased" -- vc "${OFFICER[@]}" record erase "$RA"
[ "$(dba "SELECT length(value) FROM ${S}_rkeys.meta WHERE key = 'rk/$RA'")" = 1 ] &&
    ok "A's key is gone: its row holds the one-byte tombstone" || bad "A's key is still there"

# the backup put back, as a DBA does: the schema reloaded, the keys file back
dba "DROP SCHEMA $S CASCADE" && psql -X -q -v ON_ERROR_STOP=1 -f "$TMP/data.sql" >/dev/null 2>"$TMP/sqlerr" &&
    ok "the data schema restored from the dump" || bad "restore: $(head -c 300 "$TMP/sqlerr")"
cp "$TMP/keys.backup" "$TMP/$S.keys"
[ "$(dba "SELECT count(*) FROM $S.records WHERE id = '\\x$RA'")" = 1 ] &&
    ok "A's rows are in the restored data" || bad "A's rows are not in the restored data"

vc "${OFFICER[@]}" record get "$RA" --fields phone >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" != 0 ] && ! grep -qF "$A_PHONE" "$TMP/out" "$TMP/err" && grep -q "erased" "$TMP/err" &&
    ok "A does not open in the restored vault (exit $rc: $(head -n1 "$TMP/err" | cut -c1-80))" ||
    bad "A read from the restored backup (exit $rc: $(head -c 200 "$TMP/err"))"
vc "${OFFICER[@]}" record find --field phone --value "$A_PHONE" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" = 0 ] && [ ! -s "$TMP/out" ] && ok "a search for A's phone finds nothing" || bad "the search found: $(cat "$TMP/out")"
vc "${OFFICER[@]}" record get "$RB" --fields phone >"$TMP/out" 2>"$TMP/err"
grep -qF "$B_PHONE" "$TMP/out" && ok "B reads as before" || bad "B: $(cat "$TMP/err")"
expect_exit 0 "the restored log verifies" -- vc audit verify
finish

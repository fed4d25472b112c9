#!/usr/bin/env bash
# vaultctl on a PostgreSQL vault (docs/postgresql.md "Locations"), run
# inside a throwaway cluster (tests/pg/pg_cluster.sh run: VAULT_PG_URI set):
# init, record add and get, audit verify and summary through --vault 'postgresql://...'
# and the pg: form; backup refused naming pg_dump; the location's password
# in no output, error or export; key rotate-master.
VAULTCTL=$1
. "$(dirname "$0")/../cli/lib.sh"
[ -n "${VAULT_PG_URI:-}" ] || { echo "test_vaultctl_pg: VAULT_PG_URI is not set (run under tests/pg/pg_cluster.sh run)"; exit 1; }

PW=vaultctl-PW-42
case "$VAULT_PG_URI" in *\?*) sep='&' ;; *) sep='?' ;; esac
V="${VAULT_PG_URI}${sep}vault_keys=$TMP/ctl.keys&vault_schema=ctl&password=$PW"
K="$TMP/ctl.key"
POL="$SRC/policies/community.yaml"
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
unset VAULT_PASSPHRASE VAULT_PATH

nopw() { if grep -q -- "$PW" "$TMP/out" "$TMP/err"; then bad "$1: the password shows"; else ok "$1: no password"; fi; }

expect_exit 0 "init on postgresql://" -- "$VAULTCTL" --vault "$V" --key-file "$K" init --policy "$POL"
expect_grep "password=\*\*\*" "$TMP/out" "init shows the location redacted"
nopw "init"
[ "$(stat -c %a "$TMP/ctl.keys")" = 600 ] && ok "the keys file is on this host, mode 0600" || bad "keys file"
expect_exit 1 "init again refuses" -- "$VAULTCTL" --vault "$V" --key-file "$K" init --policy "$POL"
nopw "init again"
expect_exit 0 "record add" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record add \
    --in hangzhou/gongshu/xiaohe/changzheng/grid-07 name=欧阳娜娜 phone=13812345678
ID=$(tr -d '\n' <"$TMP/out")
[ ${#ID} = 32 ] && ok "record id is 32 hex" || bad "record id '$ID'"
expect_exit 0 "record get" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record get "$ID" --fields phone
expect_grep "13812345678" "$TMP/out" "the phone comes back"
PGV="pg:host=$PGHOST port=$PGPORT user=$PGUSER dbname=$PGDATABASE vault_schema=ctl vault_keys=$TMP/ctl.keys"
expect_exit 0 "record get through the pg: form" -- "$VAULTCTL" --vault "$PGV" --key-file "$K" "${OFFICER[@]}" record get "$ID" --fields phone
expect_grep "13812345678" "$TMP/out" "the same record"
expect_exit 0 "audit verify" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit verify
nopw "audit verify"
# the summary's chain-checked scan over the PostgreSQL rows (issue 19)
expect_exit 0 "audit summary" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit summary --month "$(date -u +%Y-%m)" --by action,outcome
expect_grep "create  *allowed  *1  *1  *0" "$TMP/out" "the record add counted, one resident"
nopw "audit summary"
expect_exit 0 "audit export" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit export --out "$TMP/log.export"
grep -q -- "$PW" "$TMP/log.export" && bad "the export holds the password" || ok "the export holds no password"
"$VAULTCTL" --vault "$V" --key-file "$K" backup --out "$TMP/copy.vault" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" != 0 ] && ok "backup refuses (exit $rc)" || bad "backup of a PostgreSQL vault succeeded"
grep -q "pg_dump" "$TMP/err" && ok "and names pg_dump" || { bad "backup error names pg_dump"; cat "$TMP/err"; }
[ "$(wc -l <"$TMP/err")" = 1 ] && ok "in one line" || bad "backup error is $(wc -l <"$TMP/err") lines"
nopw "backup"
[ ! -e "$TMP/copy.vault" ] && ok "no copy file" || bad "a copy file was made"
expect_exit 7 "a location without vault_keys (exit 7: invalid)" -- "$VAULTCTL" --vault "${VAULT_PG_URI}${sep}vault_schema=ctl" --key-file "$K" audit verify
expect_grep "vault_keys" "$TMP/err" "says vault_keys is missing"
# key rotate-master on PostgreSQL (issue 19): the old key file opens
# nothing after --drop-current, the new one reads the record and verifies
expect_exit 0 "key rotate-master" -- "$VAULTCTL" --vault "$V" --key-file "$K" key rotate-master --new-key-file "$TMP/ctl2.key" --drop-current
nopw "key rotate-master"
expect_exit 0 "the new key file reads the record" -- "$VAULTCTL" --vault "$V" --key-file "$TMP/ctl2.key" "${OFFICER[@]}" record get "$ID" --fields phone
expect_grep "13812345678" "$TMP/out" "the phone, after the rotation"
"$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record get "$ID" --fields phone >"$TMP/out" 2>"$TMP/err"
[ $? != 0 ] && ok "the old key file opens nothing" || bad "the old key file still opens the vault"
expect_no_grep "13812345678" "$TMP/out" "and shows no value"
expect_exit 0 "audit verify after the rotation" -- "$VAULTCTL" --vault "$V" --key-file "$TMP/ctl2.key" audit verify
# across logs (issue 17): the record's entries are in gongshu's log; its
# bundle (v2) checks with libvault and with the independent reader of
# tests/vectors/check_bundle.py, and a proof of its create in that log
# checks offline
K2="$TMP/ctl2.key"
expect_exit 0 "audit checkpoint" -- "$VAULTCTL" --vault "$V" --key-file "$K2" audit checkpoint
expect_exit 0 "audit pubkey" -- "$VAULTCTL" --vault "$V" --key-file "$K2" audit pubkey
cp "$TMP/out" "$TMP/audit.pub"
expect_exit 0 "a bundle of the record" -- "$VAULTCTL" --vault "$V" --key-file "$K2" audit report --record "$ID" --bundle "$TMP/b.json"
expect_grep '"bundle":"libvault-bundle/v2"' "$TMP/b.json" "a v2 bundle"
expect_grep '"log":"hangzhou/gongshu"' "$TMP/b.json" "with the entries of gongshu's log"
expect_exit 0 "audit verify-bundle" -- "$VAULTCTL" audit verify-bundle "$TMP/b.json" --pubkey "$TMP/audit.pub"
expect_exit 0 "the independent reader" -- python3 "$SRC/tests/vectors/check_bundle.py" "$TMP/b.json" --pubkey "$TMP/audit.pub"
expect_grep "and 1 shard log trees" "$TMP/out" "the reader saw the shard log"
expect_exit 0 "audit prove --log" -- "$VAULTCTL" --vault "$V" --key-file "$K2" audit prove --log hangzhou/gongshu --seq 1 --out "$TMP/p.json"
expect_exit 0 "audit check-proof" -- "$VAULTCTL" audit check-proof --proof "$TMP/p.json" --pubkey "$TMP/audit.pub"
expect_grep "entry 1 of log hangzhou/gongshu is in its tree" "$TMP/out" "it names the log"
finish

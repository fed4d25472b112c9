#!/usr/bin/env bash
# vaultctl migrate (docs/postgresql.md "Migrating a street's vault"), run
# inside a throwaway cluster (tests/pg/pg_cluster.sh run: VAULT_PG_URI set):
# a street's vault file copied into PostgreSQL, text and --json output, the
# copy reads and verifies against a checkpoint kept from the file before;
# refusals with their exit codes (the target not empty: 1, nothing changed;
# the keys file there: 1; a wrong key file: 6; a file target: 7; usage: 2),
# each leaving no keys file behind; the location's password nowhere.
VAULTCTL=$1
. "$(dirname "$0")/../cli/lib.sh"
[ -n "${VAULT_PG_URI:-}" ] || { echo "test_vaultctl_migrate_pg: VAULT_PG_URI is not set (run under tests/pg/pg_cluster.sh run)"; exit 1; }

PW=migrate-PW-31
case "$VAULT_PG_URI" in *\?*) sep='&' ;; *) sep='?' ;; esac
to() { echo "${VAULT_PG_URI}${sep}vault_keys=$TMP/$1.keys&vault_schema=$1&password=$PW"; }
F="$TMP/street.vault"; K="$TMP/street.key"
POL="$SRC/policies/community.yaml"
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
unset VAULT_PASSPHRASE VAULT_PATH

nopw() { if grep -q -- "$PW" "$TMP/out" "$TMP/err"; then bad "$1: the password shows"; else ok "$1: no password"; fi; }

expect_exit 0 "init a file vault" -- "$VAULTCTL" --vault "$F" --key-file "$K" init --policy "$POL"
expect_exit 0 "record add" -- "$VAULTCTL" --vault "$F" --key-file "$K" "${OFFICER[@]}" record add \
    --in hangzhou/gongshu/xiaohe/changzheng/grid-07 name=欧阳娜娜 phone=13812345678
ID=$(tr -d '\n' <"$TMP/out")
expect_exit 0 "a checkpoint kept outside" -- "$VAULTCTL" --vault "$F" --key-file "$K" audit checkpoint --out "$TMP/street.cp"

# text
expect_exit 0 "migrate" -- "$VAULTCTL" --key-file "$K" migrate --from "$F" --to "$(to city)"
expect_grep "^migrated .*street.vault to .*password=\*\*\*.*: 1 records, [0-9]* audit entries copied" "$TMP/out" "says what it copied, the location redacted"
nopw "migrate"
[ "$(stat -c %a "$TMP/city.keys")" = 600 ] && ok "the new keys file is 0600" || bad "keys file mode"
expect_exit 0 "record get from the copy" -- "$VAULTCTL" --vault "$(to city)" --key-file "$K" "${OFFICER[@]}" record get "$ID" --fields phone
expect_grep "13812345678" "$TMP/out" "the phone comes back"
expect_exit 0 "audit verify of the copy against the file's checkpoint" -- "$VAULTCTL" --vault "$(to city)" --key-file "$K" audit verify --checkpoint "$TMP/street.cp"
nopw "audit verify"

# --json
expect_exit 0 "migrate --json" -- "$VAULTCTL" --key-file "$K" --json migrate --from "$F" --to "$(to town)"
python3 - "$TMP/out" "$PW" <<'PY' && ok "--json: from, to (redacted), entries, records" || bad "--json output: $(cat "$TMP/out")"
import json, sys
o = json.load(open(sys.argv[1]))
assert set(o) == {"from", "to", "entries", "records"}, o
assert o["from"].endswith("street.vault") and "***" in o["to"] and sys.argv[2] not in o["to"], o
assert o["records"] == 1 and o["entries"] > 5, o
PY

# refusals
mv "$TMP/city.keys" "$TMP/city.keys.aside"
expect_exit 1 "into a vault that is there (exit 1)" -- "$VAULTCTL" --key-file "$K" migrate --from "$F" --to "$(to city)"
expect_grep "not empty" "$TMP/err" "says the target is not empty"
[ "$(wc -l <"$TMP/err")" = 1 ] && ok "in one line" || bad "the error is $(wc -l <"$TMP/err") lines"
nopw "not empty"
[ ! -e "$TMP/city.keys" ] && ok "no keys file left" || bad "a keys file was left"
mv "$TMP/city.keys.aside" "$TMP/city.keys"
expect_exit 0 "the vault there is unchanged: it verifies" -- "$VAULTCTL" --vault "$(to city)" --key-file "$K" audit verify --checkpoint "$TMP/street.cp"
echo "someone else's" >"$TMP/other.keys"
expect_exit 1 "a keys file at vault_keys (exit 1)" -- "$VAULTCTL" --key-file "$K" migrate --from "$F" --to "$(to other)"
expect_grep "already exists" "$TMP/err" "names the keys file"
[ "$(cat "$TMP/other.keys")" = "someone else's" ] && ok "and leaves it alone" || bad "the keys file was changed"
head -c 32 /dev/urandom >"$TMP/wrong.key"; chmod 600 "$TMP/wrong.key"
expect_exit 6 "a wrong key file (exit 6)" -- "$VAULTCTL" --key-file "$TMP/wrong.key" migrate --from "$F" --to "$(to wrong)"
[ ! -e "$TMP/wrong.keys" ] && ok "no keys file made" || bad "a keys file was made"
expect_exit 7 "a file target (exit 7)" -- "$VAULTCTL" --key-file "$K" migrate --from "$F" --to "$TMP/copy.vault"
expect_grep "backup" "$TMP/err" "points to backup"
expect_exit 2 "no --to (usage)" -- "$VAULTCTL" --key-file "$K" migrate --from "$F"
expect_exit 2 "--vault is not how (usage)" -- "$VAULTCTL" --vault "$F" --key-file "$K" migrate --from "$F" --to "$(to x)"
nopw "usage"
expect_exit 0 "--help" -- "$VAULTCTL" migrate --help
expect_grep "vault_keys" "$TMP/out" "the help names vault_keys"
finish

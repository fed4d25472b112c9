#!/bin/bash
# vaultctl backup / restore (docs/backup.md): refusals first (an existing
# target, a vault open elsewhere, a tampered copy changed through the stock
# sqlcipher shell with the database key, another vault's copy, a plain cp
# of an open vault, an older copy put back by hand), then a good restore
# that opens, verifies and logs itself.
VAULTCTL=${1:?usage: test_backup.sh path/to/vaultctl}
. "$(dirname "$0")/lib.sh"
command -v sqlcipher >/dev/null || { bad "sqlcipher shell not installed (make deps installs it)"; finish; exit 1; }
unset VAULT_PASSPHRASE VAULT_PATH

POL="$SRC/policies/community.yaml"
J1=hangzhou/gongshu/xiaohe/changzheng/grid-07
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
D="$TMP/a"
mkdir -p "$D"
vc() { "$VAULTCTL" --vault "$D/v" --key-file "$D/k" "$@"; }
add() { vc "${OFFICER[@]}" record add --in "$J1" name=张三 phone=13812345678 >/dev/null 2>&1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

vc init --policy "$POL" >/dev/null 2>&1 || { bad "init"; finish; exit 1; }
add && add || bad "record add"
KEY=$(vc key db-key 2>/dev/null) || bad "db-key"
# sql FILE STATEMENTS: run them in the stock shell on FILE with the database key.
sql() {
    { printf 'PRAGMA key = "%s";\nPRAGMA cipher_page_size = 4096;\n%s\n' "$KEY" "$2"; } |
        sqlcipher -batch -bail "$1"
}

# --- backup ---
expect_exit 2 "backup without --out is a usage error" -- vc backup
expect_exit 0 "backup of the vault" -- vc backup --out "$D/b1"
[ "$(stat -c %a "$D/b1")" = 600 ] && ok "the backup has mode 0600" || bad "backup mode $(stat -c %a "$D/b1")"
[ ! -e "$D/b1.partial" ] && ok "no .partial left" || bad ".partial left behind"
expect_grep "the keys file and the record-key store are not in it" "$TMP/out" "backup says the keys file and the record keys are separate"
before=$(sha "$D/b1")
expect_exit 1 "backup over an existing file is refused" -- vc backup --out "$D/b1"
expect_grep "already exists" "$TMP/err" "the refusal says so"
[ "$(sha "$D/b1")" = "$before" ] && ok "the existing file is untouched" || bad "the existing file changed"
expect_exit 1 "backup into a missing directory fails" -- vc backup --out "$D/none/b"
[ ! -e "$D/none/b.partial" ] && [ ! -e "$D/none/b" ] && ok "and leaves nothing" || bad "left a file"
expect_exit 0 "backup --json" -- vc --json backup --out "$D/b2"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["backup"]==sys.argv[2]' "$TMP/out" "$D/b2" \
    && ok "backup --json names the file" || bad "backup --json: $(cat "$TMP/out")"
vc audit export --out "$D/log1" >/dev/null 2>&1
expect_grep '"action": *"backup"' "$D/log1" "the backup is in the log"

# --- a vault held open elsewhere (the stock shell) ---
mkfifo "$TMP/hold"
sqlcipher -batch "$D/v" <"$TMP/hold" >/dev/null 2>&1 &
HOLDER=$!
exec 3>"$TMP/hold"
printf 'PRAGMA key = "%s";\nPRAGMA cipher_page_size = 4096;\nSELECT count(*) FROM meta;\n' "$KEY" >&3
sleep 0.5
add && add && vc audit checkpoint >/dev/null 2>&1 || bad "writes while the shell holds the vault"
# What the issue saw: cp of an open WAL vault is an old state (the WAL is
# not in it), refused next to the current keys file.
mkdir -p "$D/cp"
cp "$D/v" "$D/cp/v" && cp "$D/v.keys" "$D/cp/v.keys"
# the record-key store as it is (a data copy opens with the current one:
# docs/erasure.md), so what is refused is the data file's old state
cp "$D/v.rkeys" "$D/cp/v.rkeys" && { [ ! -e "$D/v.rkeys-wal" ] || cp "$D/v.rkeys-wal" "$D/cp/v.rkeys-wal"; }
expect_exit 3 "a cp of the open vault does not open" -- "$VAULTCTL" --vault "$D/cp/v" --key-file "$D/k" audit verify
expect_exit 1 "restore while the vault is open elsewhere is refused" -- vc restore --from "$D/b1"
expect_grep "open elsewhere" "$TMP/err" "the refusal says why"
[ ! -e "$D/v.before-restore" ] && [ ! -e "$D/v.restoring" ] && ok "nothing replaced, nothing left" \
    || bad "files left by a refused restore"
exec 3>&-
wait "$HOLDER" 2>/dev/null

# --- a tampered copy: one audit entry changed with the database key ---
cp "$D/b1" "$D/t1"
n=$(sql "$D/t1" "UPDATE audit SET entry = substr(entry, 1, 20) || X'7e' || substr(entry, 22) WHERE pos = 2; SELECT changes();" 2>/dev/null | tail -n 1)
[ "$n" = 1 ] || bad "the tampering changed no row"
live=$(sha "$D/v")
expect_exit 3 "restore of a tampered copy is refused" -- vc restore --from "$D/t1"
expect_grep "does not verify" "$TMP/err" "it names the failed verification"
expect_no_grep "$KEY" "$TMP/err" "the message holds no key"
[ "$(sha "$D/v")" = "$live" ] && ok "the vault file is untouched" || bad "the vault file changed"
[ ! -e "$D/v.restoring" ] && [ ! -e "$D/v.restoring.keys" ] && [ ! -e "$D/v.before-restore" ] \
    && ok "no temporary copy left" || bad "temporary files left"

# --- another vault's copy ---
O="$TMP/o"; mkdir -p "$O"
"$VAULTCTL" --vault "$O/v" --key-file "$O/k" init --policy "$POL" >/dev/null 2>&1
"$VAULTCTL" --vault "$O/v" --key-file "$O/k" backup --out "$O/b" >/dev/null 2>&1
expect_exit 3 "restore of another vault's copy is refused" -- vc restore --from "$O/b"
expect_grep "does not open with the keys" "$TMP/err" "it says whose keys"
expect_exit 6 "restore with the wrong key file" -- "$VAULTCTL" --vault "$D/v" --key-file "$O/k" restore --from "$D/b1"

# --- an older copy put back by hand is refused at open ---
mv "$D/v" "$D/v.cur"
cp "$D/b1" "$D/v"
expect_exit 3 "cp of an older copy over the vault is refused" -- vc audit verify
expect_grep "rolled back" "$TMP/err" "as rolled back"
rm -f "$D/v" "$D/v-wal" "$D/v-shm"
mv "$D/v.cur" "$D/v"
expect_exit 0 "the current file opens again" -- vc audit verify

# --- a good restore ---
expect_exit 2 "restore without --from is a usage error" -- vc restore
expect_exit 2 "restore is not in client mode" -- "$VAULTCTL" --server unix:///nonexistent restore --from "$D/b1"
expect_exit 0 "restore of the first backup" -- vc --json restore --from "$D/b1"
python3 - "$TMP/out" <<'EOF' && ok "restore --json gives the sizes" || bad "restore --json: $(cat "$TMP/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["from_size"] > d["to_size"] >= 0 and d["entries"] > 0 and d["kept_old"] is True, d
EOF
[ -e "$D/v.before-restore" ] && [ -e "$D/v.keys.before-restore" ] && ok "the old files are kept" \
    || bad "no before-restore files"
expect_exit 0 "the restored vault verifies" -- vc audit verify
vc audit export --out "$D/log2" >/dev/null 2>&1
expect_grep '"action": *"restore"' "$D/log2" "the restore is in the restored log"
expect_grep "the vault had signed" "$D/log2" "with the sizes it went back from and to"
expect_no_grep "$D/b1" "$D/log2" "the log names no path"
expect_exit 1 "a second restore keeps the first one's old file" -- vc restore --from "$D/b1"
expect_grep "before-restore" "$TMP/err" "and says so"
expect_exit 0 "restore --force replaces it" -- vc restore --force --from "$D/b2"
expect_exit 0 "that vault verifies too" -- vc audit verify
expect_exit 0 "backup --help" -- vc backup --help
expect_grep "example:" "$TMP/out" "backup --help has an example"
expect_exit 0 "restore -h" -- vc restore -h
expect_grep "example:" "$TMP/out" "restore -h has an example"
finish

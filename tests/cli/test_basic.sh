#!/usr/bin/env bash
# vaultctl end to end: init, keyslots, records, db-key with the stock
# sqlcipher shell, exit codes.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

V="$TMP/street.vault"
K="$TMP/street.key"
POL="$SRC/policies/community.yaml"
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
GRID=(--user wang --role grid_worker --dept community_committee --jurisdiction hangzhou/gongshu/xiaohe/changzheng/grid-07 --purpose grid_management)
unset VAULT_PASSPHRASE VAULT_PATH

expect_exit 0 "help" -- "$VAULTCTL" --help
expect_exit 2 "no command is a usage error" -- "$VAULTCTL"
expect_exit 2 "unknown command is a usage error" -- "$VAULTCTL" frobnicate
for c in init keyslot key policy record demo import export grant; do
    expect_exit 0 "$c --help" -- "$VAULTCTL" "$c" --help
    expect_grep "example" "$TMP/out" "$c --help shows an example"
done
# -h is --help everywhere, for every leaf command too.
for c in "init" "keyslot add" "keyslot list" "keyslot remove" "key db-key" "key rotate" \
         "policy check" "policy apply" "policy show" "policy explain" "policy who-can" \
         "record add" "record get" "record find" "record update" "record erase" \
         "audit verify" "audit checkpoint" "audit report" "audit export" "audit verify-bundle" \
         "grant" "grant approve" "revoke" "grants" "break-glass" "import" "export" \
         "token keygen" "token issue" "witness keygen" "witness serve" "backup" "restore" "demo"; do
    # shellcheck disable=SC2086
    expect_exit 0 "$c -h" -- "$VAULTCTL" $c -h
    expect_grep "usage:" "$TMP/out" "$c -h prints the usage"
done
expect_exit 0 "vaultctl --help" -- "$VAULTCTL" --help
expect_grep "example" "$TMP/out" "vaultctl --help shows an example"
expect_exit 0 "record --help" -- "$VAULTCTL" record --help
expect_grep "record find --field phone --value-stdin" "$TMP/out" "record --help has a --value-stdin example"
expect_grep "record get 0123" "$TMP/out" "record --help has a get example"
# Recipient options combine into one pattern; the help must not show them as exclusive.
expect_exit 0 "grant --help" -- "$VAULTCTL" grant --help
expect_no_grep "--to-user U |" "$TMP/out" "grant --help does not show --to-user as exclusive"
expect_grep "\[--to-user U\] \[--to-role R\] \[--to-dept D\]" "$TMP/out" "grant --help shows the three recipient options as combinable"
expect_grep "combine" "$TMP/out" "grant --help says they combine"
expect_grep "grant approve g-" "$TMP/out" "grant --help has an approve example"

expect_exit 0 "init with a new key file" -- "$VAULTCTL" --vault "$V" --key-file "$K" init --policy "$POL"
[ "$(stat -c %a "$V.keys")" = 600 ] && ok "keys file mode 0600" || bad "keys file mode"
[ "$(stat -c %s "$K")" = 32 ] && ok "key file is 32 bytes" || bad "key file size"
expect_exit 1 "init refuses an existing vault" -- "$VAULTCTL" --vault "$V" --key-file "$K" init --policy "$POL"
expect_exit 7 "init with a broken policy exits 7" -- "$VAULTCTL" --vault "$TMP/x.vault" --key-file "$K" init --policy /dev/null
[ ! -e "$TMP/x.vault" ] && [ ! -e "$TMP/x.vault.keys" ] && ok "nothing left behind" || bad "files left behind"

expect_exit 0 "record add" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record add \
    --in hangzhou/gongshu/xiaohe/changzheng/grid-07 name=欧阳娜娜 phone=13812345678 id_number=330102199001011234
ID=$(tr -d '\n' <"$TMP/out")
[ ${#ID} = 32 ] && ok "record id is 32 hex" || bad "record id '$ID'"

printf '{"address": "浙江省杭州市拱墅区小河街道长征社区长征路12号3单元501", "health": "高血压"}' >"$TMP/in.json"
expect_exit 0 "record update from JSON" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record update "$ID" --input "$TMP/in.json"
expect_exit 7 "record update with an unknown field" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record update "$ID" shoe_size=42
expect_exit 2 "FIELD=VALUE without =" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record update "$ID" shoe_size
expect_exit 2 "FIELD=VALUE with an empty field name" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record update "$ID" =x
expect_grep "empty field name" "$TMP/err" "the message says the field name is empty"
# A result that can't be written (a full disk) is a failure, never exit 0.
if [ -w /dev/full ]; then
    "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" --json record get "$ID" --fields name >/dev/full 2>"$TMP/err"
    [ $? = 1 ] && grep -q "writing standard output" "$TMP/err" && ok "record get to a full disk: exit 1, standard output could not be written" ||
        bad "a full disk: $(cat "$TMP/err")"
    "$VAULTCTL" --help >/dev/full 2>/dev/null && bad "--help to a full disk exits 0" || ok "--help to a full disk fails"
fi
# A backup that can't be written says why (the library's message, not a code).
expect_exit 1 "backup into a missing directory fails" -- "$VAULTCTL" --vault "$V" --key-file "$K" backup --out "$TMP/no/such/dir/b.vault"
expect_grep "b.vault.partial: No such file or directory" "$TMP/err" "and says why"
# A broken --input file: where it breaks, never the values it holds.
printf '{"id_number": "330102199001011234' >"$TMP/broken.json"
expect_exit 7 "record update from broken JSON" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record update "$ID" --input "$TMP/broken.json"
expect_grep "broken.json:1:[0-9]*: not valid JSON" "$TMP/err" "the error says where the JSON breaks"
expect_no_grep "3301021990" "$TMP/err" "and doesn't quote the value"
expect_exit 2 "record get --fields '' is a usage error" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record get "$ID" --fields ''
expect_exit 2 "record get --fields ',,' is a usage error" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record get "$ID" --fields ',,'
expect_exit 0 "officer reads" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record get "$ID" --fields name,phone
expect_grep "13812345678" "$TMP/out" "officer sees the phone in plaintext"
expect_exit 0 "grid worker reads, JSON" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${GRID[@]}" --json record get "$ID" --fields phone,name
expect_grep '138\*\*\*\*5678' "$TMP/out" "grid worker sees the phone masked"
expect_grep '"rule"' "$TMP/out" "the JSON names the rule"
expect_no_grep "13812345678" "$TMP/out" "grid worker never sees the full phone"
expect_exit 4 "grid worker may not write" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${GRID[@]}" record update "$ID" phone=13000000000
expect_exit 0 "find by phone" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record find --field phone --value 13812345678
expect_grep "$ID" "$TMP/out" "find returns the record"
expect_exit 5 "get of a missing record" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record get 00000000000000000000000000000000
expect_exit 2 "record get without a subject" -- "$VAULTCTL" --vault "$V" --key-file "$K" record get "$ID"

# Unlocking
head -c 32 /dev/urandom >"$TMP/wrong.key"
expect_exit 6 "wrong key file exits 6" -- "$VAULTCTL" --vault "$V" --key-file "$TMP/wrong.key" "${OFFICER[@]}" record get "$ID"
expect_exit 2 "no passphrase and no terminal is a usage error" -- "$VAULTCTL" --vault "$V" keyslot list </dev/null
expect_exit 0 "keyslot add passphrase" -- \
    env VAULT_NEW_PASSPHRASE="a long enough passphrase" "$VAULTCTL" --vault "$V" --key-file "$K" --kdf interactive keyslot add --label ops
expect_exit 0 "keyslot list" -- env VAULT_PASSPHRASE="a long enough passphrase" "$VAULTCTL" --vault "$V" keyslot list
expect_grep "ops" "$TMP/out" "the new slot is listed"
expect_exit 6 "wrong passphrase exits 6" -- env VAULT_PASSPHRASE="not it" "$VAULTCTL" --vault "$V" keyslot list
expect_exit 0 "remove the key file slot" -- env VAULT_PASSPHRASE="a long enough passphrase" "$VAULTCTL" --vault "$V" keyslot remove 0
expect_exit 6 "the removed key file no longer opens" -- "$VAULTCTL" --vault "$V" --key-file "$K" keyslot list
expect_exit 1 "the last slot can't be removed" -- env VAULT_PASSPHRASE="a long enough passphrase" "$VAULTCTL" --vault "$V" keyslot remove 1
expect_exit 0 "add the key file back" -- env VAULT_PASSPHRASE="a long enough passphrase" "$VAULTCTL" --vault "$V" keyslot add --new-key-file "$K"

# No plaintext in any file
for f in "$V" "$V-wal" "$V.keys"; do
    [ -e "$f" ] || continue
    if grep -qa -e 13812345678 -e 欧阳娜娜 -e 330102199001011234 -e 高血压 "$f"; then bad "plaintext in $f"; else ok "no plaintext in $(basename "$f")"; fi
done

# The stock sqlcipher shell opens the file with the derived key, and only with it.
if command -v sqlcipher >/dev/null; then
    expect_exit 0 "key db-key" -- "$VAULTCTL" --vault "$V" --key-file "$K" key db-key
    KEY=$(cat "$TMP/out")
    expect_grep "warning" "$TMP/err" "db-key warns"
    n=$(sqlcipher "$V" "PRAGMA key = \"$KEY\"; PRAGMA cipher_page_size = 4096; SELECT count(*) FROM records;" 2>&1)
    [ "$n" = 1 ] && ok "sqlcipher shell opens the vault with the derived key" || bad "sqlcipher with key: $n"
    out=$(sqlcipher "$V" "SELECT count(*) FROM records;" 2>&1)
    case "$out" in *"not a database"*|*"encrypted"*) ok "sqlcipher shell without a key fails";; *) bad "sqlcipher without key: $out";; esac
    out=$(sqlcipher "$V" "PRAGMA key = \"x'$(printf '%064d' 0)'\"; PRAGMA cipher_page_size = 4096; SELECT count(*) FROM records;" 2>&1)
    case "$out" in *"not a database"*|*"encrypted"*) ok "sqlcipher shell with a wrong key fails";; *) bad "sqlcipher wrong key: $out";; esac
    out=$(sqlcipher "$V" "PRAGMA key = 'street.key'; PRAGMA cipher_page_size = 4096; SELECT count(*) FROM records;" 2>&1)
    case "$out" in *"not a database"*|*"encrypted"*) ok "sqlcipher shell with a passphrase-style key fails";; *) bad "sqlcipher passphrase key: $out";; esac
else
    bad "sqlcipher shell not installed (make deps installs it)"
fi

expect_exit 0 "erase" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record erase "$ID"
expect_exit 5 "erased record is gone" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record get "$ID"
expect_exit 0 "find after erasure" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record find --field phone --value 13812345678
[ ! -s "$TMP/out" ] && ok "find returns nothing after erasure" || bad "find still returns the erased record"
KEY=$("$VAULTCTL" --vault "$V" --key-file "$K" key db-key 2>/dev/null)
n=$(sqlcipher "$V" "PRAGMA key = \"$KEY\"; PRAGMA cipher_page_size = 4096; SELECT (SELECT count(*) FROM records WHERE hex(id) = upper('$ID')) + (SELECT count(*) FROM blind_index WHERE hex(id) = upper('$ID'));" 2>&1)
[ "$n" = 0 ] && ok "no ciphertext of the erased record remains" || bad "ciphertexts left: $n"
expect_exit 0 "the audit trail of the erased record stays" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit report --record "$ID"
expect_grep " erase " "$TMP/out" "the report shows the erasure"
expect_grep " create " "$TMP/out" "and the accesses before it"

finish

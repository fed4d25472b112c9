#!/usr/bin/env bash
# vaultctl key rotate: rotate a grade's data key, values stay readable,
# the log verifies, unknown grades and bad usage get their exit codes.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

V="$TMP/street.vault"
K="$TMP/street.key"
POL="$SRC/policies/community.yaml"
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
GRID=hangzhou/gongshu/xiaohe/changzheng/grid-07
unset VAULT_PASSPHRASE VAULT_PATH
vc() { "$VAULTCTL" --vault "$V" --key-file "$K" "$@"; }

expect_exit 0 "key rotate --help" -- "$VAULTCTL" key rotate --help
expect_grep "example" "$TMP/out" "key rotate --help shows an example"
expect_grep "key rotate --grade" "$TMP/out" "the example rotates a grade"

expect_exit 0 "init" -- vc init --policy "$POL"
ids=()
for i in 1 2 3 4 5; do
    expect_exit 0 "record add $i" -- vc "${OFFICER[@]}" record add --in "$GRID" \
        name="居民$i" phone="1381234567$i" id_number="33010219900101123$i"
    ids+=("$(tr -d '\n' <"$TMP/out")")
done

expect_exit 0 "rotate personal" -- vc key rotate --grade personal
expect_grep "grade personal" "$TMP/out" "summary names the grade"
expect_grep "10 fields re-encrypted" "$TMP/out" "summary counts the fields (name + phone of 5 records)"
expect_grep "retired" "$TMP/out" "summary says the old versions are retired"
[ ! -s "$TMP/err" ] && ok "no progress bar when stderr is not a terminal" || bad "stderr: $(head -c 200 "$TMP/err")"

for i in 1 2 3 4 5; do
    expect_exit 0 "record $i readable after rotation" -- vc "${OFFICER[@]}" record get "${ids[$((i - 1))]}" --fields name,phone,id_number
    expect_grep "居民$i" "$TMP/out" "name $i intact"
    expect_grep "1381234567$i" "$TMP/out" "phone $i intact"
    expect_grep "33010219900101123$i" "$TMP/out" "id number $i intact"
done
expect_exit 0 "find by phone after rotation" -- vc "${OFFICER[@]}" record find --field phone --value 13812345673
expect_grep "${ids[2]}" "$TMP/out" "the blind index still finds the record"

# Options on either side of the word "rotate", and JSON.
expect_exit 0 "rotate again, options first, JSON" -- vc --json key --grade personal rotate
expect_grep '"grade": "personal"' "$TMP/out" "JSON names the grade"
expect_grep '"fields_reencrypted": 10' "$TMP/out" "JSON counts the fields"
if command -v python3 >/dev/null; then
    python3 -m json.tool "$TMP/out" >/dev/null 2>&1 && ok "JSON parses" || bad "JSON does not parse"
fi
expect_exit 0 "rotate sensitive" -- vc key rotate --grade sensitive
expect_grep "5 fields re-encrypted" "$TMP/out" "5 id numbers re-encrypted"
expect_exit 0 "writes after rotation" -- vc "${OFFICER[@]}" record update "${ids[0]}" phone=13900000000
expect_exit 0 "read after write" -- vc "${OFFICER[@]}" record get "${ids[0]}" --fields phone
expect_grep "13900000000" "$TMP/out" "new value readable"

# Errors.
expect_exit 7 "unknown grade exits 7" -- vc key rotate --grade top_secret
expect_grep "top_secret" "$TMP/err" "the message names the grade"
expect_exit 2 "missing --grade is a usage error" -- vc key rotate
expect_exit 2 "a stray argument is a usage error" -- vc key rotate --grade personal extra
expect_exit 2 "an unknown option is a usage error" -- vc key rotate --grade personal --batch 5
head -c 32 /dev/urandom >"$TMP/wrong.key"
expect_exit 6 "wrong key exits 6" -- "$VAULTCTL" --vault "$V" --key-file "$TMP/wrong.key" key rotate --grade personal

# The audit log has the rotation steps and still verifies.
expect_exit 0 "audit verify after rotations" -- vc audit verify
if command -v sqlcipher >/dev/null; then
    expect_exit 0 "key db-key" -- vc key db-key
    KEY=$(cat "$TMP/out")
    n=$(sqlcipher "$V" "PRAGMA key = \"$KEY\"; PRAGMA cipher_page_size = 4096; SELECT group_concat(grade || ':' || version, ' ') FROM (SELECT grade, version FROM grade_keys WHERE grade IN ('personal', 'sensitive') ORDER BY grade, version);" 2>&1)
    [ "$n" = "personal:3 sensitive:2" ] && ok "only the newest key versions are left" || bad "grade keys: $n"
    # Every record read back above; with the older versions' keys gone,
    # none of them can still be sealed under one.
    n=$(sqlcipher "$V" "PRAGMA key = \"$KEY\"; PRAGMA cipher_page_size = 4096; SELECT count(*) FROM grade_keys WHERE grade = 'personal' AND version <> 3;" 2>&1)
    [ "$n" = 0 ] && ok "every personal field is on version 3 (older keys retired)" || bad "old personal keys left: $n"
fi
for f in "$V" "$V-wal"; do
    [ -e "$f" ] || continue
    if grep -qa -e 13812345671 -e 居民1 "$f"; then bad "plaintext in $f"; else ok "no plaintext in $(basename "$f")"; fi
done

# A progress bar when stderr is a terminal (script(1) gives us one).
if command -v script >/dev/null; then
    script -qec "$VAULTCTL --vault $V --key-file $K key rotate --grade personal" /dev/null >"$TMP/tty" 2>&1
    grep -q "#" "$TMP/tty" && grep -q "fields (100%)" "$TMP/tty" && ok "progress bar on a terminal" || {
        bad "no progress bar on a terminal"; sed 's/^/    /' "$TMP/tty" | head -5; }
fi

# A record changed behind the vault's back stops the rotation: exit 3, the
# record is named, the value never.  (A ciphertext that fails to open under
# a valid row MAC, which only the master key can make, is test_rotate.c's.)
if command -v sqlcipher >/dev/null; then
    sqlcipher "$V" "PRAGMA key = \"$KEY\"; PRAGMA cipher_page_size = 4096; UPDATE records SET body = substr(body, 1, length(body) - 3) || randomblob(3) WHERE id = x'${ids[1]}';" >/dev/null 2>&1
    expect_exit 3 "rotation over a tampered record exits 3" -- vc key rotate --grade personal
    expect_grep "${ids[1]}" "$TMP/err" "the message names the record"
    expect_grep "integrity" "$TMP/err" "the message says integrity"
    expect_no_grep "13812345672" "$TMP/err" "the message never shows the value"
    expect_exit 0 "the other records still read mid-rotation" -- vc "${OFFICER[@]}" record get "${ids[2]}" --fields name,phone
    expect_grep "13812345673" "$TMP/out" "value intact"
fi

finish

#!/usr/bin/env bash
# Resident proof bundles through vaultctl: `audit report --record ID
# --bundle FILE` writes a bundle that `audit verify-bundle` checks offline
# with the public key alone; the same bundle with one entry removed, one
# proof hash altered, another vault's key, a duplicated entry or a witness
# requirement nobody met fails (exit 3) with its class; bad arguments are
# usage errors; no field value is in the bundle; the bundle is logged.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

POL="$SRC/policies/community.yaml"
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
GRID=(--user wang --role grid_worker --dept community_committee --jurisdiction hangzhou/gongshu/xiaohe/changzheng/grid-07 --purpose grid_management)

d="$TMP/a"; mkdir -p "$d"
vc() { "$VAULTCTL" --vault "$d/v" --key-file "$d/k" "$@"; }
vc init --policy "$POL" >/dev/null 2>&1 || { bad "init"; finish; exit 1; }
id=$(vc "${OFFICER[@]}" record add --in hangzhou/gongshu/xiaohe/changzheng/grid-07 name=张三 phone=13812345678 2>/dev/null)
id2=$(vc "${OFFICER[@]}" record add --in hangzhou/gongshu/xiaohe/changzheng/grid-07 name=李四 phone=13900000000 2>/dev/null)
for i in 1 2 3; do vc "${GRID[@]}" record get "$id" --fields phone >/dev/null 2>&1; vc "${GRID[@]}" record get "$id2" --fields name >/dev/null 2>&1; done
vc audit pubkey --out "$d/pub" >/dev/null 2>&1

expect_exit 0 "report --record --bundle writes a bundle" -- vc audit report --record "$id" --bundle "$d/b.json"
expect_exit 0 "verify-bundle accepts it with the public key alone" -- \
    "$VAULTCTL" audit verify-bundle "$d/b.json" --pubkey "$d/pub"
expect_grep "ok: 4 entries of record $id" "$TMP/out" "it names the record and its 4 entries (add, 3 reads)"
if grep -q 13812345678 "$d/b.json" || grep -q 张三 "$d/b.json"; then bad "a field value is in the bundle"; else ok "no field value in the bundle"; fi
expect_exit 0 "the report shows the bundle was handed out" -- vc audit report --record "$id"
expect_grep "audit_bundle" "$TMP/out" "an audit_bundle entry filed under the record"
expect_exit 0 "verify-bundle --json" -- "$VAULTCTL" --json audit verify-bundle "$d/b.json" --pubkey "$d/pub"
expect_grep '"ok": true' "$TMP/out" "the JSON result says ok"

tamper() { # tamper WHAT OUT: a changed copy of the bundle
    python3 - "$d/b.json" "$2" "$1" <<'EOF'
import base64, copy, json, sys
b = json.load(open(sys.argv[1], encoding="utf-8"))
what = sys.argv[3]
if what == "remove":
    del b["entries"][1]
elif what == "hash":
    e = b["entries"][0]
    h = bytearray(base64.b64decode(e["hashes"][0])); h[3] ^= 1
    e["hashes"][0] = base64.b64encode(bytes(h)).decode()
elif what == "duplicate":
    b["entries"].insert(1, copy.deepcopy(b["entries"][0]))
open(sys.argv[2], "w", encoding="utf-8").write(json.dumps(b, ensure_ascii=False))
EOF
}
tamper remove "$d/removed.json"
expect_exit 3 "one entry removed: exit 3" -- "$VAULTCTL" audit verify-bundle "$d/removed.json" --pubkey "$d/pub"
expect_grep "FAILED: missing: entry [0-9]*: missing (the log's signed statement lists 4 entries" "$TMP/err" "class missing, naming the entry"
tamper hash "$d/hash.json"
expect_exit 3 "one proof hash altered: exit 3" -- "$VAULTCTL" audit verify-bundle "$d/hash.json" --pubkey "$d/pub"
expect_grep "FAILED: modified: entry [0-9]*: modified (its inclusion proof" "$TMP/err" "class modified"
tamper duplicate "$d/dup.json"
expect_exit 3 "an entry listed twice: exit 3" -- "$VAULTCTL" audit verify-bundle "$d/dup.json" --pubkey "$d/pub"
expect_grep "FAILED: reordered: .*listed twice" "$TMP/err" "class reordered"

# --max-age: the bundle's checkpoint must be that recent (as audit verify --max-age)
expect_exit 0 "verify-bundle --max-age 1h: a fresh checkpoint" -- \
    "$VAULTCTL" audit verify-bundle "$d/b.json" --pubkey "$d/pub" --max-age 1h
expect_grep "^ok: 4 entries" "$TMP/out" "it holds"
sleep 2
expect_exit 3 "verify-bundle --max-age 1s: the checkpoint is older, exit 3" -- \
    "$VAULTCTL" audit verify-bundle "$d/b.json" --pubkey "$d/pub" --max-age 1s
expect_grep "FAILED: missing: checkpoint [0-9]*: missing (the newest checkpoint was signed [0-9]* s ago; one signed within 1 s" "$TMP/err" "class missing, as verify says it"
expect_exit 3 "verify-bundle --max-age on an undated checkpoint (the vector): exit 3" -- \
    "$VAULTCTL" audit verify-bundle "$SRC/tests/vectors/bundle_v2.json" --pubkey "$SRC/tests/vectors/vectors.pub" --max-age 7d
expect_grep "FAILED: missing: checkpoint 10: missing (the newest checkpoint carries no signed time" "$TMP/err" "undated: missing"
expect_exit 2 "verify-bundle --max-age with a bad duration" -- \
    "$VAULTCTL" audit verify-bundle "$d/b.json" --pubkey "$d/pub" --max-age soon
expect_grep "not a duration" "$TMP/err" "it says so"
# the record's entries after the checkpoint are counted, signed, and printed
vc "${GRID[@]}" record get "$id" --fields phone >/dev/null 2>&1
expect_exit 0 "a second bundle after another read" -- vc audit report --record "$id" --bundle "$d/b2.json"
expect_exit 0 "it verifies" -- "$VAULTCTL" audit verify-bundle "$d/b2.json" --pubkey "$d/pub"
expect_grep "; [1-9][0-9]* later entr[a-z]* of it not in this tree" "$TMP/out" "verify-bundle prints the later entries"

# another vault: its key does not verify this bundle, nor this key its bundle
d2="$TMP/b"; mkdir -p "$d2"
"$VAULTCTL" --vault "$d2/v" --key-file "$d2/k" init --policy "$POL" >/dev/null 2>&1
"$VAULTCTL" --vault "$d2/v" --key-file "$d2/k" audit pubkey --out "$d2/pub" >/dev/null 2>&1
expect_exit 3 "another vault's key: exit 3" -- "$VAULTCTL" audit verify-bundle "$d/b.json" --pubkey "$d2/pub"
expect_grep "FAILED: bad signature" "$TMP/err" "class bad signature"

# witnesses: none has cosigned this checkpoint
"$VAULTCTL" witness keygen --name witness.test/one --out "$d/w1.key" >/dev/null 2>&1
"$VAULTCTL" witness pubkey --key "$d/w1.key" >"$d/w1.pub" 2>/dev/null
expect_exit 3 "a witness required and none cosigned: exit 3" -- \
    "$VAULTCTL" audit verify-bundle "$d/b.json" --pubkey "$d/pub" --witness-key "$d/w1.pub"
expect_grep "FAILED: unwitnessed: checkpoint [0-9]*: unwitnessed (0 of the 1 required" "$TMP/err" "class unwitnessed"

# the independent vector (docs/audit-format.md §11)
V="$SRC/tests/vectors"
expect_exit 0 "verify-bundle: the vector bundle" -- \
    "$VAULTCTL" audit verify-bundle "$V/bundle_v2.json" --pubkey "$V/vectors.pub"
expect_grep "ok: 5 entries of record b0b1b2b3b4b5b6b7b8b9babbbcbdbebf" "$TMP/out" "the documented output"

# not a bundle, bad arguments
printf '{"bundle":' >"$d/junk.json"
expect_exit 3 "a truncated file: exit 3, malformed" -- "$VAULTCTL" audit verify-bundle "$d/junk.json" --pubkey "$d/pub"
expect_grep "FAILED: malformed: bundle: malformed (not JSON" "$TMP/err" "one line saying where"
expect_exit 1 "a missing file" -- "$VAULTCTL" audit verify-bundle "$d/none.json" --pubkey "$d/pub"
expect_exit 2 "verify-bundle without --pubkey" -- "$VAULTCTL" audit verify-bundle "$d/b.json"
expect_exit 2 "verify-bundle without FILE" -- "$VAULTCTL" audit verify-bundle --pubkey "$d/pub"
expect_exit 2 "--witness-quorum above the keys" -- \
    "$VAULTCTL" audit verify-bundle "$d/b.json" --pubkey "$d/pub" --witness-key "$d/w1.pub" --witness-quorum 2
expect_exit 2 "--bundle without --record" -- vc audit report --denied --bundle "$d/x.json"
expect_exit 2 "--bundle with another subcommand" -- vc audit export --bundle "$d/x.json"
expect_exit 7 "a bad record id" -- vc audit report --record nothex --bundle "$d/x.json"
expect_exit 1 "an existing file is not overwritten" -- vc audit report --record "$id" --bundle "$d/b.json"
expect_exit 0 "audit verify-bundle --help" -- "$VAULTCTL" audit verify-bundle --help
expect_grep "verify-bundle resident.json --pubkey" "$TMP/out" "--help has an example"
expect_grep "verify-bundle FILE --pubkey FILE .*--max-age DURATION\|\[--max-age DURATION\]   (no vault)" "$TMP/out" "--help names verify-bundle --max-age"
finish

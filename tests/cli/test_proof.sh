#!/usr/bin/env bash
# RFC 6962 proofs through vaultctl: `audit prove` and `audit consistency`
# give proof files that `audit check-proof` checks offline with the public
# key alone; a changed hash, another log's key or a note of another size
# fails; bad arguments are refused (and logged); an entry changed through
# the stock sqlcipher shell gives exit 3 instead of a proof.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

POL="$SRC/policies/community.yaml"
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
GRID=(--user wang --role grid_worker --dept community_committee --jurisdiction hangzhou/gongshu/xiaohe/changzheng/grid-07 --purpose grid_management)
command -v sqlcipher >/dev/null || { bad "sqlcipher shell not installed (make deps installs it)"; finish; exit 1; }

d="$TMP/a"; mkdir -p "$d"
vc() { "$VAULTCTL" --vault "$d/v" --key-file "$d/k" "$@"; }
vc init --policy "$POL" >/dev/null 2>&1 || { bad "init"; finish; exit 1; }
id=$(vc "${OFFICER[@]}" record add --in hangzhou/gongshu/xiaohe/changzheng/grid-07 name=张三 phone=13812345678 2>/dev/null)
for i in 1 2 3 4; do vc "${GRID[@]}" record get "$id" --fields phone >/dev/null 2>&1; done
vc audit checkpoint --out "$d/cp" >/dev/null 2>&1
vc audit pubkey --out "$d/pub" >/dev/null 2>&1
size=$(sed -n 2p "$d/cp")
sql() { # sql STATEMENTS: the stock shell with the database key (one entry, one checkpoint)
    local key
    key=$(vc key db-key 2>/dev/null)
    sqlcipher "$d/v" "PRAGMA key = \"$key\"; PRAGMA cipher_page_size = 4096; $1" | tail -n 1
}

# without --size: the newest checkpoint (every vaultctl run signs one as it closes)
newest=$(sql "SELECT max(size) FROM checkpoints;")
expect_exit 0 "prove --seq 3 without --size" -- vc audit prove --seq 3 --out "$d/pn.json"
expect_grep "\"size\":$newest," "$d/pn.json" "the proof is into the newest checkpoint (size $newest)"
# into the checkpoint kept outside, checked offline
expect_exit 0 "prove --seq 3 --size $size writes a proof" -- vc audit prove --seq 3 --size "$size" --out "$d/p3.json"
expect_exit 0 "check-proof accepts it with the public key alone" -- \
    "$VAULTCTL" audit check-proof --proof "$d/p3.json" --pubkey "$d/pub"
expect_grep "ok: entry 3 is in the signed tree of size $size" "$TMP/out" "check-proof says what it proved"
expect_exit 0 "check-proof also against the note kept outside" -- \
    "$VAULTCTL" audit check-proof --proof "$d/p3.json" --pubkey "$d/pub" --checkpoint "$d/cp"
expect_exit 0 "prove prints the proof for people" -- vc audit prove --seq 1 --size "$size"
expect_grep "entry 1 is in the tree of size $size" "$TMP/out" "the text names the entry and size"
expect_exit 0 "prove --json prints the proof object" -- vc audit prove --seq 2 --json
expect_grep '"hashes":\[' "$TMP/out" "the object has its hashes"

# one hash changed: a proof that does not lead to the signed root
python3 - "$d/p3.json" "$d/bad.json" <<'EOF'
import base64, json, sys
p = json.load(open(sys.argv[1], encoding="utf-8"))
h = bytearray(base64.b64decode(p["hashes"][0])); h[5] ^= 1
p["hashes"][0] = base64.b64encode(bytes(h)).decode()
open(sys.argv[2], "w", encoding="utf-8").write(json.dumps(p, ensure_ascii=False))
EOF
expect_exit 3 "check-proof refuses a proof with one hash changed" -- \
    "$VAULTCTL" audit check-proof --proof "$d/bad.json" --pubkey "$d/pub"
expect_grep "proof" "$TMP/err" "the error says the proof failed"
[ "$(wc -l <"$TMP/err")" = 1 ] && ok "one-line error" || bad "the error is not one line"

# another vault's key
d2="$TMP/b"; mkdir -p "$d2"
"$VAULTCTL" --vault "$d2/v" --key-file "$d2/k" init --policy "$POL" >/dev/null 2>&1
"$VAULTCTL" --vault "$d2/v" --key-file "$d2/k" audit pubkey --out "$d2/pub" >/dev/null 2>&1
expect_exit 3 "check-proof refuses another vault's key" -- \
    "$VAULTCTL" audit check-proof --proof "$d/p3.json" --pubkey "$d2/pub"

# a proof without its note is checked only with one
python3 - "$d/p3.json" "$d/nonote.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1], encoding="utf-8")); p["checkpoint"] = None
open(sys.argv[2], "w", encoding="utf-8").write(json.dumps(p, ensure_ascii=False))
EOF
expect_exit 5 "check-proof: no signed note vouches for its root" -- \
    "$VAULTCTL" audit check-proof --proof "$d/nonote.json" --pubkey "$d/pub"
expect_exit 0 "check-proof: the note kept outside vouches for it" -- \
    "$VAULTCTL" audit check-proof --proof "$d/nonote.json" --pubkey "$d/pub" --checkpoint "$d/cp"
expect_exit 7 "check-proof: a note of another size is refused" -- \
    "$VAULTCTL" audit check-proof --proof "$d/pn.json" --pubkey "$d/pub" --checkpoint "$d/cp"

# consistency between two checkpoints
vc "${GRID[@]}" record get "$id" --fields phone >/dev/null 2>&1
vc audit checkpoint --out "$d/cp2" >/dev/null 2>&1
expect_exit 0 "consistency --from the first checkpoint" -- vc audit consistency --from "$size" --out "$d/c.json"
expect_exit 0 "check-proof accepts it with both notes kept outside" -- \
    "$VAULTCTL" audit check-proof --proof "$d/c.json" --pubkey "$d/pub" --checkpoint "$d/cp" --checkpoint "$d/cp2"
expect_grep "extends the signed tree of size $size" "$TMP/out" "check-proof says what it proved"

# refusals: exit codes, and each is logged
expect_exit 7 "prove --seq 0 is refused" -- vc audit prove --seq 0
expect_exit 7 "prove --seq beyond --size is refused" -- vc audit prove --seq 9 --size 3
expect_exit 5 "prove --size beyond the log is refused" -- vc audit prove --seq 1 --size 100000
expect_exit 7 "consistency --from beyond --to is refused" -- vc audit consistency --from 5 --to 4
expect_exit 2 "prove without --seq is a usage error" -- vc audit prove
expect_exit 2 "prove --seq -1 is a usage error" -- vc audit prove --seq -1
expect_exit 2 "--from goes only with consistency" -- vc audit prove --seq 1 --from 2
refusals=$(sql "SELECT count(*) FROM audit WHERE hex(entry) LIKE '%' || hex('refused: ') || '%';")
[ "${refusals:-0}" -ge 4 ] && ok "the refusals are in the log ($refusals)" || bad "refusals logged: ${refusals:-none}"

# an entry changed behind the vault's back: no proof over it
sql "UPDATE audit SET entry = substr(entry, 1, length(entry) - 1) || X'21' WHERE pos = 4;" >/dev/null
expect_exit 3 "prove over a changed entry is an integrity error" -- vc audit prove --seq 2 --size 6
expect_grep "entry 4" "$TMP/err" "the error names the changed entry"
expect_exit 3 "consistency over a changed entry is an integrity error" -- vc audit consistency --from 1 --to 6
expect_exit 0 "a proof of the tree before it is still made" -- vc audit prove --seq 2 --size 3

# the worked example of docs/audit-format.md §10, from the independent vectors
V="$SRC/tests/vectors"
expect_exit 0 "check-proof: the vector inclusion proof" -- \
    "$VAULTCTL" audit check-proof --proof "$V/proof_v2.json" --pubkey "$V/vectors.pub"
expect_grep "ok: entry 3 is in the signed tree of size 10" "$TMP/out" "the documented output"
expect_exit 0 "check-proof: the vector consistency proof, with both notes given too" -- \
    "$VAULTCTL" audit check-proof --proof "$V/consistency_v2.json" --pubkey "$V/vectors.pub" \
    --checkpoint "$V/checkpoint.txt" --checkpoint "$V/checkpoint_v2.txt"
expect_exit 3 "check-proof: the vector proof with this vault's key" -- \
    "$VAULTCTL" audit check-proof --proof "$V/proof_v2.json" --pubkey "$d/pub"

expect_exit 0 "audit prove --help" -- "$VAULTCTL" audit prove --help
expect_grep "check-proof --proof" "$TMP/out" "--help shows check-proof with an example"
finish

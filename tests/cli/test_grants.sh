#!/usr/bin/env bash
# vaultctl grant / grant approve / revoke / grants / break-glass / export.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

V="$TMP/v"; K="$TMP/k"
POL="$SRC/tests/data/grants/limits.yaml"
CLERK=(--user clerk1 --role clerk --dept office --jurisdiction city/a --purpose service)
CHIEF=(--user chief1 --role chief --dept office --jurisdiction city/a --purpose service)
DEPUTY=(--user deputy1 --role deputy --dept office --jurisdiction city/a --purpose service)
READER=(--user reader1 --role reader --dept records_desk --jurisdiction city/a --purpose service)
MEDIC=(--user medic1 --role medic --dept clinic --jurisdiction city/a --purpose emergency)
vc() { "$VAULTCTL" --vault "$V" --key-file "$K" "$@"; }

vc init --policy "$POL" >/dev/null 2>&1 && ok "init" || bad "init"
ID=$(vc "${CLERK[@]}" record add --in city/a/b name=王小明 phone=13912345678 health=糖尿病 2>/dev/null)

expect_exit 4 "reader is denied before a grant" -- vc "${READER[@]}" record get "$ID" --fields name
expect_exit 2 "grant without a reason" -- vc "${CLERK[@]}" grant --to-dept records_desk --fields name --in city/a --for 1h
expect_exit 2 "grant with a bad duration" -- vc "${CLERK[@]}" grant --to-dept records_desk --fields name --in city/a --for 1y --reason x
expect_exit 4 "grant beyond the grade ceiling" -- vc "${CLERK[@]}" grant --to-dept records_desk --fields health --in city/a --for 1h --reason x
expect_grep "personal" "$TMP/err" "the refusal names the ceiling"
expect_exit 4 "grant beyond the maximum duration" -- vc "${CLERK[@]}" grant --to-dept records_desk --fields name --in city/a --for 3d --reason x
expect_exit 4 "grant to a recipient not allowed" -- vc "${CLERK[@]}" grant --to-dept clinic --fields name --in city/a --for 1h --reason x
expect_exit 0 "grant within limits" -- vc "${CLERK[@]}" grant --to-dept records_desk --fields name --in city/a --for 1h --reason "desk follow-up"
G=$(cut -d' ' -f1 "$TMP/out")
expect_exit 0 "reader reads the granted field" -- vc "${READER[@]}" record get "$ID" --fields name
expect_grep "王小明" "$TMP/out" "in plaintext"
expect_grep "$G" "$TMP/out" "naming the grant"
expect_exit 0 "grants --active --json" -- vc --json grants --active
expect_grep "\"id\": \"$G\"" "$TMP/out" "the grant is listed"
expect_exit 0 "revoke" -- vc "${CLERK[@]}" revoke "$G" --reason "done"
expect_exit 4 "revoked grant stops at once" -- vc "${READER[@]}" record get "$ID" --fields name

expect_exit 0 "top-grade grant is issued pending" -- vc "${CHIEF[@]}" grant --to-dept records_desk --grades sensitive..special --records "$ID" --for 1h --reason "case review"
expect_grep "pending" "$TMP/out" "and says so"
P=$(cut -d' ' -f1 "$TMP/out")
expect_exit 4 "pending grant does not apply" -- vc "${READER[@]}" record get "$ID" --fields health
expect_exit 4 "the issuer can't approve" -- vc "${CHIEF[@]}" grant approve "$P"
expect_exit 0 "a second officer approves" -- vc "${DEPUTY[@]}" grant approve "$P"
expect_exit 0 "approved grant applies" -- vc "${READER[@]}" record get "$ID" --fields health

# --actions: read only by default; search must be asked for.
expect_exit 2 "--actions with write is a usage error" -- vc "${CLERK[@]}" grant --to-dept records_desk --fields phone --in city/a --actions read,write --for 1h --reason x
expect_grep "read, search or export" "$TMP/err" "and says which actions a grant may allow"
expect_exit 2 "--actions empty is a usage error" -- vc "${CLERK[@]}" grant --to-dept records_desk --fields phone --in city/a --actions , --for 1h --reason x
expect_exit 0 "read-only grant on phone" -- vc "${CLERK[@]}" grant --to-dept records_desk --fields phone --in city/a --for 1h --reason "call back"
GR=$(cut -d' ' -f1 "$TMP/out")
vc "${READER[@]}" record find --field phone --value 13912345678 >"$TMP/find" 2>&1
expect_no_grep "$ID" "$TMP/find" "a read-only grant does not let the reader search"
expect_exit 0 "grant --actions read,search" -- vc "${CLERK[@]}" grant --to-dept records_desk --fields phone --in city/a --actions read,search --for 1h --reason "find callers"
GS=$(cut -d' ' -f1 "$TMP/out")
expect_exit 0 "the reader searches under the search grant" -- vc "${READER[@]}" record find --field phone --value 13912345678
expect_grep "$ID" "$TMP/out" "and finds the record"
expect_exit 0 "grants --json lists the actions" -- vc --json grants --active
python3 -c 'import json,sys; g={o["id"]: o for o in json.load(open(sys.argv[1]))}; sys.exit(not (g[sys.argv[2]]["actions"]==["read"] and g[sys.argv[3]]["actions"]==["read","search"]))' "$TMP/out" "$GR" "$GS" \
    && ok "read by default, read+search as asked" || bad "grant actions not as asked"
vc "${CLERK[@]}" revoke "$GR" --reason done >/dev/null 2>&1 && vc "${CLERK[@]}" revoke "$GS" --reason done >/dev/null 2>&1 || bad "revoke the action grants"

# Warnings: a grant a deny rule makes useless says so on stderr, at issue and at approval.
HV="$TMP/hv"; HK="$TMP/hk"
hc() { "$VAULTCTL" --vault "$HV" --key-file "$HK" "$@"; }
H=(--dept hotline_12345 --jurisdiction hangzhou)
hc init --policy "$SRC/policies/hotline.yaml" >/dev/null 2>&1 && ok "init a hotline desk vault" || bad "init a hotline desk vault"
HID=$(hc --user zhou.agent --role hotline_agent "${H[@]}" --purpose hotline_intake record add --in hangzhou/gongshu name=陈女士 complainant_identity=陈女士投诉某中队 2>/dev/null)
expect_exit 0 "a grant for quality review is issued (pending)" -- hc --user qian --role hotline_data_officer "${H[@]}" --purpose resident_request grant --to-role hotline_supervisor --to-dept hotline_12345 --fields complainant_identity --records "$HID" --purposes quality_review --for 1d --reason "review call"
HG=$(cut -d' ' -f1 "$TMP/out")
expect_grep "^warning: deny rule desk-deny-complainant (.*hotline.yaml:[0-9]*) wins over this grant" "$TMP/err" "grant warns that the deny rule wins"
expect_grep "^warning: the grant gives its recipients no access at all" "$TMP/err" "and that it gives no access"
expect_no_grep "warning" "$TMP/out" "warnings stay off standard output"
expect_exit 0 "the second officer approves it" -- hc --user sun --role hotline_data_officer "${H[@]}" --purpose resident_request grant approve "$HG"
expect_grep "^approved $HG" "$TMP/out" "approve says approved"
expect_grep "^warning: deny rule desk-deny-complainant" "$TMP/err" "grant approve warns too"
expect_exit 0 "a grant for legal disclosure to a named supervisor" -- hc --user qian --role hotline_data_officer "${H[@]}" --purpose resident_request grant --to-user he.supervisor --to-role hotline_supervisor --to-dept hotline_12345 --fields complainant_identity --records "$HID" --purposes legal_disclosure --for 1d --reason "court order 2026-0105-123"
HL=$(cut -d' ' -f1 "$TMP/out")
expect_no_grep "warning" "$TMP/err" "draws no warning"
expect_exit 0 "approved by the second officer" -- hc --user sun --role hotline_data_officer "${H[@]}" --purpose resident_request grant approve "$HL"
expect_no_grep "warning" "$TMP/err" "without a warning"
expect_exit 0 "the named supervisor reads it for legal disclosure" -- hc --user he.supervisor --role hotline_supervisor "${H[@]}" --purpose legal_disclosure record get "$HID" --fields complainant_identity
expect_grep "陈女士投诉某中队" "$TMP/out" "in plaintext"
expect_exit 4 "another supervisor does not" -- hc --user ma.supervisor --role hotline_supervisor "${H[@]}" --purpose legal_disclosure record get "$HID" --fields complainant_identity

expect_exit 2 "break-glass without a reason" -- vc "${MEDIC[@]}" break-glass --record "$ID"
expect_exit 4 "break-glass by a role not named" -- vc "${CLERK[@]}" break-glass --record "$ID" --reason x
expect_exit 0 "break-glass" -- vc "${MEDIC[@]}" break-glass --record "$ID" --reason "unconscious patient" --for 30m
expect_exit 0 "medic reads under break-glass" -- vc "${MEDIC[@]}" record get "$ID" --fields health
expect_exit 0 "break-glass review report" -- vc audit report --break-glass
expect_grep "unconscious patient" "$TMP/out" "lists the reason"
expect_grep "BREAK-GLASS" "$TMP/out" "flags the accesses"

expect_exit 0 "resident copy export" -- vc --user clerk1 --role clerk --dept office --jurisdiction city/a --purpose service export --record "$ID"
expect_grep '"phone": "13912345678"' "$TMP/out" "holds the fields the subject may see"
expect_exit 0 "audit verifies after all that" -- vc audit verify
finish

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

#!/usr/bin/env bash
# README's "CLI at a glance" says which administration commands are not
# policy decisions and which of them leave no audit entry: check both
# against what vaultctl does.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

V="$TMP/v"; K="$TMP/k"
README="$SRC/README.md"
vc() { "$VAULTCTL" --vault "$V" --key-file "$K" "$@"; }

# The README paragraph about administration commands, on one line.
para=$(awk '/\*\*not policy decisions\*\*/ { on = 1 } on && /^$/ { exit } on { printf "%s ", $0 }' "$README")
[ -n "$para" ] && ok "README says which commands are not policy decisions" \
    || bad "README has no paragraph on the commands that are not policy decisions"
for cmd in 'init' 'keyslot add|list|remove' 'key db-key' 'key rotate' 'policy apply|show|who-can' \
           'grants' 'audit verify|checkpoint|pubkey|export|report'; do
    case "$para" in *"\`$cmd\`"*) ok "README lists \`$cmd\` as an administration command" ;;
                    *) bad "README does not list \`$cmd\` as an administration command" ;; esac
done
case "$para" in *'Each of them is an audit entry all the same.'*)
    ok "README says every administration command leaves an entry" ;;
    *) bad "README does not say every administration command leaves an entry" ;; esac
expect_grep 'audit verify \[--checkpoint FILE\]\.\.\.' "$README" "README shows --checkpoint repeats"

# Entries a command adds (an export's own entry is in the export).
entries() { vc audit export --out "$TMP/e$1" >/dev/null 2>&1; grep -c '"action"' "$TMP/e$1"; }
n=0
logs() { # logs WANT DESCRIPTION -- command...
    local want=$1 what=$2 a b; shift 3
    n=$((n + 1)); a=$(entries "a$n")
    "$@" >"$TMP/out" 2>"$TMP/err" || { bad "$what (exit $?)"; sed 's/^/    /' "$TMP/err" | head -5; return; }
    b=$(entries "b$n")
    if [ "$want" = some ] && [ $((b - a - 1)) -gt 0 ]; then ok "$what leaves an audit entry"
    elif [ "$want" = none ] && [ $((b - a - 1)) -eq 0 ]; then ok "$what leaves no audit entry"
    else bad "$what: $((b - a - 1)) entries, README says $want"; fi
}

vc init --policy "$SRC/policies/community.yaml" >/dev/null 2>&1 && ok "init" || bad "init"
vc audit export --out "$TMP/e0" >/dev/null 2>&1
expect_grep '"action": *"vault_create"' "$TMP/e0" "init leaves an audit entry"
logs some "keyslot add" -- vc keyslot add --new-key-file "$TMP/k2"
logs some "keyslot list" -- vc keyslot list
logs some "keyslot remove" -- vc keyslot remove 1
logs some "key db-key" -- vc key db-key
logs some "key rotate" -- vc key rotate --grade personal
logs some "policy apply" -- vc policy apply "$SRC/policies/community.yaml"
logs some "policy show" -- vc policy show
logs some "policy who-can" -- vc policy who-can --field phone
logs some "grants" -- vc grants
logs some "audit checkpoint" -- vc audit checkpoint --out "$TMP/cp1"
logs some "audit pubkey" -- vc audit pubkey --out "$TMP/pub"
logs some "audit verify" -- vc audit verify
logs some "audit report" -- vc audit report --denied

# The commands that act as a subject can't run without one.
expect_exit 2 "grant without a subject is refused" -- vc grant --to-dept street_office --fields phone --in hangzhou --for 1h --reason x
expect_grep "say who is acting" "$TMP/err" "and asks who is acting"

# --checkpoint FILE, several times: every note counts.
vc audit checkpoint --out "$TMP/cp2" >/dev/null 2>&1 || bad "second checkpoint"
expect_exit 0 "audit verify with two checkpoints" -- vc audit verify --checkpoint "$TMP/cp1" --checkpoint "$TMP/cp2"
sed '2s/^[0-9]*$/999999/' "$TMP/cp1" >"$TMP/cpbad"
expect_exit 3 "a bad first note fails although the last one is good" -- vc audit verify --checkpoint "$TMP/cpbad" --checkpoint "$TMP/cp2"
finish

# Helpers for the vaultctl shell tests.  Source after setting VAULTCTL.
set -u
fails=0
passes=0
TMP=$(mktemp -d /tmp/vaultctl-test-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
SRC=${VAULT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

ok()   { passes=$((passes + 1)); echo "ok - $1"; }
bad()  { fails=$((fails + 1)); echo "not ok - $1"; }

# expect_exit CODE DESCRIPTION -- command...
expect_exit() {
    local want=$1 what=$2; shift 3
    "$@" >"$TMP/out" 2>"$TMP/err"
    local got=$?
    if [ "$got" = "$want" ]; then ok "$what"; else
        bad "$what (exit $got, wanted $want)"; sed 's/^/    /' "$TMP/err" "$TMP/out" | head -20; fi
}

# expect_grep PATTERN FILE DESCRIPTION
expect_grep() {
    if grep -q -- "$1" "$2"; then ok "$3"; else bad "$3 (no '$1' in output)"; sed 's/^/    /' "$2" | head -20; fi
}

expect_no_grep() {
    if grep -q -- "$1" "$2"; then bad "$3 ('$1' found)"; else ok "$3"; fi
}

finish() {
    echo "$passes passed, $fails failed"
    [ "$fails" = 0 ]
}

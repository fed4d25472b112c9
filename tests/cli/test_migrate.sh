#!/usr/bin/env bash
# A vault of the previous release (the checked-in fixture tests/fixtures/v1,
# store schema 2: see tests/fixtures/README.md) opened by this vaultctl: it
# migrates to the newest schema, every value reads back, the blind index
# finds, the grants keep their states, and the audit log verifies across
# the migration (against a checkpoint kept outside the vault) with no entry
# but the ones this test's own accesses made.  A damaged fixture is a clear
# error, never a crash.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

# The newest store schema this code writes (libvault/store/store.h
# STORE_SCHEMA_VERSION).
SCHEMA_NOW=8
# Audit entries the first open appends: the store_migrate entry, and
# audit_key_pin (the v1 keys file pins no audit key: it is pinned then).
MIGRATION_ENTRIES=2

FIX="$SRC/tests/fixtures/v1"
D="$TMP/m"
V="$D/v1.vault"; K="$D/v1.key"
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
GRID=(--user wang --role grid_worker --dept community_committee --jurisdiction hangzhou/gongshu/xiaohe/changzheng/grid-07 --purpose grid_management)
unset VAULT_PASSPHRASE VAULT_PATH
command -v sqlcipher >/dev/null || { bad "sqlcipher shell not installed (make deps installs it)"; finish; exit 1; }
[ -s "$FIX/expected.txt" ] || { bad "no fixture at $FIX"; finish; exit 1; }
hdr=$(sed -n 's/^#define STORE_SCHEMA_VERSION \([0-9][0-9]*\).*/\1/p' "$SRC/libvault/store/store.h" 2>/dev/null)
[ -z "$hdr" ] || [ "$hdr" = "$SCHEMA_NOW" ] && ok "SCHEMA_NOW ($SCHEMA_NOW) is the store's schema version" ||
    bad "SCHEMA_NOW is $SCHEMA_NOW but libvault/store/store.h says $hdr: set it here and in test_tamper.sh"

# A copy of the fixture in DIR (git keeps no file modes: the keys file goes back to 0600).
copy_fixture() {
    mkdir -p "$1"
    cp "$FIX/v1.vault" "$FIX/v1.vault.keys" "$FIX/v1.key" "$FIX/v1.cp" "$1/"
    chmod 600 "$1"/*
}
copy_fixture "$D"

# Every vaultctl run on the vault leaves exactly one audit entry (a refusal
# too); vc counts them in $TMP/calls, which works from $(...) as well.
: >"$TMP/calls"
vc() { echo "$*" >>"$TMP/calls"; "$VAULTCTL" --vault "$V" --key-file "$K" "$@"; }
calls() { wc -l <"$TMP/calls"; }

# expected.txt: "KIND NAME VALUE..." lines (tests/fixtures/make-v1.sh)
exp() { awk -v k="$1" -v n="$2" '$1 == k && $2 == n { $1 = ""; $2 = ""; sub(/^  /, ""); print; exit }' "$FIX/expected.txt"; }
ENTRIES=$(awk '$1 == "entries" { print $2 }' "$FIX/expected.txt")
PAGE=$(awk '$1 == "page_size" { print $2 }' "$FIX/expected.txt")
FIX_SCHEMA=$(awk '$1 == "schema" { print $2 }' "$FIX/expected.txt")
rid() { exp record "$1" | cut -d' ' -f1; }
fval() { awk -v r="$1" -v f="$2" '$1 == "field" && $2 == r && $3 == f { print $4; exit }' "$FIX/expected.txt"; }
R1=$(rid R1); R2=$(rid R2); R3=$(rid R3)
R4=$(exp erased R4)
[ ${#R1} = 32 ] && [ ${#R2} = 32 ] && [ ${#R3} = 32 ] && [ ${#R4} = 32 ] && [ "$ENTRIES" -gt 20 ] &&
    ok "expected.txt names the records and the log size ($ENTRIES entries)" || bad "expected.txt unreadable"

# 1. The first access migrates; the log verifies across it, outside checkpoint
#    included.  verify counts the entries before its own.
expect_exit 0 "audit verify of the v1 vault (first open: migration)" -- vc audit verify --checkpoint "$D/v1.cp"
n=$(sed -n 's/^ok: \([0-9]*\) entries.*/\1/p' "$TMP/out")
[ "$n" = $((ENTRIES + MIGRATION_ENTRIES)) ] && ok "the log has the fixture's entries, none lost or added ($n)" ||
    bad "log has ${n:-?} entries, wanted $((ENTRIES + MIGRATION_ENTRIES))"

# 2. Every value reads back, as the data officer (allowed up to sensitive in xiaohe).
for r in R1 R2 R3; do
    id=$(rid $r)
    fields=$(awk -v r=$r '$1 == "field" && $2 == r { printf "%s%s", s, $3; s = "," }' "$FIX/expected.txt")
    expect_exit 0 "$r reads after the migration" -- vc "${OFFICER[@]}" --json record get "$id" --fields "$fields"
    cp "$TMP/out" "$TMP/$r.json"
    while read -r _ _ f want; do
        got=$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print([x["value"] for x in d["fields"] if x["field"] == sys.argv[2] and x["effect"] == "allow"][0])' "$TMP/$r.json" "$f" 2>/dev/null)
        [ "$got" = "$want" ] && ok "$r $f reads back in plaintext" || bad "$r $f: '$got', wanted '$want'"
    done < <(awk -v r=$r '$1 == "field" && $2 == r' "$FIX/expected.txt")
done
expect_exit 5 "the erased record stays erased" -- vc "${OFFICER[@]}" record get "$R4"
expect_exit 0 "the grid worker reads R1 masked (the policy still decides)" -- vc "${GRID[@]}" record get "$R1" --fields phone,health
expect_grep '138\*\*\*\*9999' "$TMP/out" "the phone is masked"
expect_no_grep "13812349999" "$TMP/out" "never in plaintext"
expect_no_grep "高血压" "$TMP/out" "the denied field is not shown"
expect_exit 4 "the grid worker is still denied the other grid's resident" -- vc "${GRID[@]}" record get "$R3" --fields name
expect_no_grep "李娟" "$TMP/out" "and sees nothing of it"

# 3. The blind index, by the indexed id_number and phone.
for r in R1 R2 R3; do
    expect_exit 0 "find $r by id_number" -- vc "${OFFICER[@]}" record find --field id_number --value "$(fval $r id_number)"
    [ "$(tr -d '\n' <"$TMP/out")" = "$(rid $r)" ] && ok "finds $r and only $r" || bad "find $r: $(tr '\n' ' ' <"$TMP/out")"
done
expect_exit 0 "find R1 by its updated phone" -- vc "${OFFICER[@]}" record find --field phone --value 13812349999
[ "$(tr -d '\n' <"$TMP/out")" = "$R1" ] && ok "the updated phone finds R1" || bad "find by the updated phone: $(cat "$TMP/out")"
expect_exit 0 "find by R1's old phone" -- vc "${OFFICER[@]}" record find --field phone --value "$(exp old R1 | sed -n 's/^phone //p')"
[ ! -s "$TMP/out" ] && ok "the old phone finds nothing" || bad "the old phone still finds $(cat "$TMP/out")"
expect_exit 0 "find the erased resident by id_number" -- vc "${OFFICER[@]}" record find --field id_number --value 330108196604045678
[ ! -s "$TMP/out" ] && ok "the erased resident is not found" || bad "the erased resident is found"

# 4. Grants keep their states (an active grant lists as expired once past its end).
expect_exit 0 "grants --json" -- vc --json grants
now=$(date +%s)
while read -r _ g id state until; do
    want=$state
    [ "$state" = active ] && [ "$now" -ge "$until" ] && want=expired
    got=$(python3 -c 'import json,sys
print([g["state"] for g in json.load(open(sys.argv[1])) if g["id"] == sys.argv[2]][0])' "$TMP/out" "$id" 2>/dev/null)
    [ "$got" = "$want" ] && ok "grant $g ($id) is $want" || bad "grant $g ($id) is '$got', wanted $want"
done < <(awk '$1 == "grant"' "$FIX/expected.txt")

# 5. The log of a resident spans the migration.
expect_exit 0 "audit report --record R1" -- vc audit report --record "$R1"
expect_grep " create " "$TMP/out" "R1's report shows its creation (before the migration)"
[ "$(grep -c ' read ' "$TMP/out")" -ge 3 ] && ok "and the reads before and after it" || bad "reads missing from R1's report"

# 6. New writes on the migrated vault, then the log verifies again.
expect_exit 0 "update R2 after the migration" -- vc "${OFFICER[@]}" record update "$R2" phone=13900009999
expect_exit 0 "add a resident after the migration" -- vc "${OFFICER[@]}" record add --in hangzhou/gongshu/xiaohe/daguan/grid-02 name=赵敏 id_number=330110200005056789
R5=$(tr -d '\n' <"$TMP/out")
expect_exit 0 "read the new writes" -- vc "${OFFICER[@]}" record get "$R2" --fields phone,name
expect_grep "13900009999" "$TMP/out" "R2's new phone reads back"
expect_grep "张伟" "$TMP/out" "next to its migrated name"
expect_exit 0 "find the new resident" -- vc "${OFFICER[@]}" record find --field id_number --value 330110200005056789
[ "$(tr -d '\n' <"$TMP/out")" = "$R5" ] && ok "the new resident is found" || bad "new resident not found"
expect_exit 0 "audit verify after the new writes" -- vc audit verify --checkpoint "$D/v1.cp"
n=$(sed -n 's/^ok: \([0-9]*\) entries.*/\1/p' "$TMP/out")
want=$((ENTRIES + MIGRATION_ENTRIES + $(calls) - 1))
[ "$n" = "$want" ] && ok "the log grew by this test's $(($(calls) - 1)) earlier accesses only ($n entries)" || bad "log has ${n:-?} entries, wanted $want"

# 7. The file is at the newest schema, as the stock shell sees it.
KEY=$(vc key db-key 2>/dev/null)
got=$(sqlcipher "$V" "PRAGMA key = \"$KEY\"; PRAGMA cipher_page_size = $PAGE; PRAGMA user_version;" 2>&1)
[ "$got" = "$SCHEMA_NOW" ] && ok "the migrated store is at schema $SCHEMA_NOW (was $FIX_SCHEMA)" || bad "schema after migration: '$got', wanted $SCHEMA_NOW"
# The audit state left the meta row for the newest audit row (schema 4).
got=$(sqlcipher "$V" "PRAGMA key = \"$KEY\"; PRAGMA cipher_page_size = $PAGE;
    SELECT (SELECT count(*) FROM meta WHERE key = 'audit_tree') || ' ' ||
           (SELECT count(*) FROM audit WHERE state IS NOT NULL) || ' ' ||
           (SELECT count(*) FROM audit WHERE state IS NOT NULL AND pos = (SELECT max(pos) FROM audit));" 2>&1 | tail -n 1)
[ "$got" = "0 1 1" ] && ok "the audit state is on the newest audit row only, no meta row holds it" ||
    bad "audit state after migration: '$got' (meta rows, rows with a state, on the newest), wanted '0 1 1'"
expect_exit 0 "a second open of the migrated vault verifies" -- vc audit verify --checkpoint "$D/v1.cp"

# 8. Damaged fixtures: a clear one-line error with the integrity or key exit code, never a crash.
# damaged NAME OFFSET: a copy of the fixture with one byte at OFFSET flipped; its path in $DV.
damaged() {
    copy_fixture "$TMP/$1"
    DV="$TMP/$1/v1.vault"
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$DV" | tr -d ' ')
    printf "\\$(printf '%03o' $((b ^ 0x5a)))" | dd of="$DV" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
# one_line_error WHAT RC: rc is 3 or 6, stderr is one "vaultctl: " line that names no value.
one_line_error() {
    if [ "$2" = 3 ] || [ "$2" = 6 ]; then ok "$1: exit $2"; else bad "$1: exit $2, wanted 3 or 6"; sed 's/^/    /' "$TMP/err" | head -5; fi
    [ "$(wc -l <"$TMP/err")" = 1 ] && grep -q '^vaultctl: ' "$TMP/err" && ok "$1: one line, $(cut -c1-90 "$TMP/err")" ||
        bad "$1: error is not one vaultctl line"
    expect_no_grep "欧阳娜娜\|13812349999\|330102199001011234" "$TMP/err" "$1: the error names no value"
}
size=$(stat -c %s "$FIX/v1.vault")
damaged page1 $((PAGE / 2))
"$VAULTCTL" --vault "$DV" --key-file "$K" audit verify >"$TMP/out" 2>"$TMP/err"
one_line_error "a byte flipped in the first page" $?

damaged middle $((size / 2 + 100))
# SQLCipher checks a page when it is read, so the damage shows only on the
# access that reads it (the migration reads every row, but not the pages of
# the old indexes it drops).  Whatever runs must be clean.
{
    crashed=0; wrong=0
    for cmd in "audit verify" "grants" "record get $R1" "record get $R2" "record get $R3" \
               "record find --field id_number --value 330102199001011234"; do
        # shellcheck disable=SC2086
        "$VAULTCTL" --vault "$DV" --key-file "$K" "${OFFICER[@]}" $cmd >"$TMP/out" 2>"$TMP/err"
        rc=$?
        [ "$rc" -ge 128 ] && crashed=1
        case $rc in 0|3|6) ;; *) wrong=1 ;; esac
        [ "$rc" = 0 ] || [ "$(wc -l <"$TMP/err")" = 1 ] || wrong=1
    done
    [ "$crashed" = 0 ] && ok "a byte flipped in the middle: no crash" || bad "a byte flipped in the middle: crash"
    [ "$wrong" = 0 ] && ok "a byte flipped in the middle: each access succeeds or fails with 3/6 in one line" ||
        bad "a byte flipped in the middle: another exit code or a longer error"
}

head -c 32 /dev/urandom >"$TMP/wrong.key"
copy_fixture "$TMP/wrongkey"
expect_exit 6 "the fixture with another key file: exit 6" -- "$VAULTCTL" --vault "$TMP/wrongkey/v1.vault" --key-file "$TMP/wrong.key" audit verify

# The migration's progress bar: on a terminal (script(1) gives one), the
# first open draws "migrating" with the fixture's records as the total and
# ends at 100%; the next open migrates nothing and draws nothing.  Off a
# terminal nothing is drawn (the runs above left stderr empty on success).
if command -v script >/dev/null; then
    copy_fixture "$TMP/tty"
    NREC=$(awk '$1 == "record"' "$FIX/expected.txt" | wc -l)
    tty_run() { script -qec "$(printf '%q ' "$VAULTCTL" --vault "$TMP/tty/v1.vault" --key-file "$TMP/tty/v1.key" audit pubkey)" /dev/null >"$TMP/tty.out" 2>&1; }
    tty_run
    expect_grep "migrating \[#*\] $NREC / $NREC records (100%)" "$TMP/tty.out" "migration bar on a terminal ($NREC records)"
    tty_run
    expect_no_grep "migrating" "$TMP/tty.out" "no bar when nothing migrates"
    copy_fixture "$TMP/notty"
    "$VAULTCTL" --vault "$TMP/notty/v1.vault" --key-file "$TMP/notty/v1.key" audit pubkey >/dev/null 2>"$TMP/err"
    [ ! -s "$TMP/err" ] && ok "no migration bar off a terminal" || bad "stderr off a terminal: $(head -c 120 "$TMP/err" | cat -A)"
else
    bad "script(1) missing (bsdutils): the migration bar can't be tested"
fi

finish

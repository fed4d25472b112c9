#!/usr/bin/env bash
# vaultctl import: exit codes, FILE:ROW:COL messages without values, all
# or nothing, JSON output, no plaintext on disk, progress only on a terminal.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

V="$TMP/street.vault"
K="$TMP/street.key"
POL="$SRC/policies/community.yaml"
D="$SRC/tests/data/csv"
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
GRID=(--user wang --role grid_worker --dept community_committee --jurisdiction hangzhou/gongshu/xiaohe/changzheng/grid-07 --purpose grid_management)
unset VAULT_PASSPHRASE VAULT_PATH
vc() { "$VAULTCTL" --vault "$V" --key-file "$K" "$@"; }

# no_record PHONE DESCRIPTION: no resident has this phone
no_record() {
    vc "${OFFICER[@]}" record find --field phone --value "$1" >"$TMP/find" 2>&1
    if [ $? = 0 ] && [ ! -s "$TMP/find" ]; then ok "$2"; else bad "$2"; sed 's/^/    /' "$TMP/find"; fi
}

expect_exit 0 "import --help" -- "$VAULTCTL" import --help
expect_grep "example" "$TMP/out" "import --help shows an example"
expect_grep "FILE:ROW:COL" "$TMP/out" "import --help names the message format"
expect_exit 2 "import without a file is a usage error" -- "$VAULTCTL" import
expect_exit 2 "import of two files is a usage error" -- "$VAULTCTL" import a.csv b.csv

expect_exit 0 "init" -- vc init --policy "$POL"
expect_exit 2 "import without a subject is a usage error" -- vc import "$D/good.csv"

# A good file: Chinese values, quoted commas and line breaks, CRLF.
expect_exit 0 "import a good file" -- vc "${OFFICER[@]}" import "$D/good.csv"
expect_grep "imported 4 records" "$TMP/out" "says how many records"
[ ! -s "$TMP/err" ] && ok "no progress output when stderr is not a terminal" || bad "stderr not empty: $(head -c 200 "$TMP/err")"
expect_exit 0 "imported values read back" -- vc "${OFFICER[@]}" --json record get \
    "$(vc "${OFFICER[@]}" record find --field phone --value 13812345602)" --fields address,health
expect_grep '小河街道大兜路8号\\n2幢1单元' "$TMP/out" "a quoted line break survives"
expect_grep '高血压, 二级' "$TMP/out" "a quoted comma survives"

expect_exit 0 "import --json" -- vc "${OFFICER[@]}" --json import "$D/bom.csv"
expect_grep '"imported": 2' "$TMP/out" "JSON gives the count"
if command -v python3 >/dev/null; then
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d == {"imported": 2} else 1)' "$TMP/out" \
        && ok "the JSON is exactly {\"imported\": 2}" || bad "JSON output: $(cat "$TMP/out")"
fi

# Invalid files: exit 7, FILE:ROW:COL on stderr, no value shown, nothing imported.
expect_exit 7 "invalid UTF-8 in row 4 exits 7" -- vc "${OFFICER[@]}" import "$D/bad_utf8.csv"
expect_grep "bad_utf8.csv:4:3: value of field 'name' is not valid UTF-8" "$TMP/err" "FILE:ROW:COL for invalid UTF-8"
expect_no_grep "孙八" "$TMP/err" "the message shows no value"
expect_no_grep "13812345623" "$TMP/err" "the message shows no phone"
no_record 13812345621 "rows before the bad one were not imported"

expect_exit 7 "bad jurisdiction exits 7" -- vc "${OFFICER[@]}" import "$D/bad_jurisdiction.csv"
expect_grep "bad_jurisdiction.csv:3:2: jurisdiction may contain only" "$TMP/err" "FILE:ROW:COL for a bad jurisdiction"
no_record 13812345631 "nothing imported from the file with a bad jurisdiction"

expect_exit 7 "wrong cell count exits 7" -- vc "${OFFICER[@]}" import "$D/cell_count.csv"
expect_grep "cell_count.csv:3:4: row has 3 cells, header has 4" "$TMP/err" "FILE:ROW:COL for a short row"

expect_exit 7 "unknown column exits 7" -- vc "${OFFICER[@]}" import "$D/unknown_column.csv"
expect_grep "unknown_column.csv:1:3: unknown column 'shoe_size' (not a field of the policy)" "$TMP/err" "unknown column named"
expect_exit 7 "duplicate column exits 7" -- vc "${OFFICER[@]}" import "$D/duplicate_header.csv"
expect_grep "duplicate_header.csv:1:4: duplicate column 'name'" "$TMP/err" "duplicate column named"
expect_exit 7 "no jurisdiction column exits 7" -- vc "${OFFICER[@]}" import "$D/no_jurisdiction.csv"
expect_grep "no_jurisdiction.csv:1:1: no jurisdiction column" "$TMP/err" "missing jurisdiction column"
expect_exit 7 "empty file exits 7" -- vc "${OFFICER[@]}" import "$D/empty.csv"
expect_grep "empty.csv:1:1: empty file (no header row)" "$TMP/err" "empty file"
expect_exit 7 "malformed CSV exits 7" -- vc "${OFFICER[@]}" import "$D/malformed.csv"
expect_grep "malformed.csv:3:2: malformed CSV" "$TMP/err" "malformed CSV located"
expect_exit 0 "header only imports nothing" -- vc "${OFFICER[@]}" import "$D/header_only.csv"
expect_grep "imported 0 records" "$TMP/out" "header only: 0 records"
expect_exit 5 "missing file exits 5" -- vc "${OFFICER[@]}" import "$TMP/no-such.csv"

# Denied: exit 4, logged, nothing imported.
expect_exit 4 "grid worker may not import" -- vc "${GRID[@]}" import "$D/good.csv"
expect_grep "good.csv:2:1: create of a record denied" "$TMP/err" "FILE:ROW:COL for a denied create"
expect_exit 4 "a row outside the officer's street is denied" -- vc "${OFFICER[@]}" import "$D/outside_jurisdiction.csv"
expect_grep "outside_jurisdiction.csv:3:1: create of a record denied" "$TMP/err" "FILE:ROW:COL outside the jurisdiction"
no_record 13812345671 "the row before the denied one was rolled back"
expect_exit 4 "a denied field write exits 4" -- vc "${OFFICER[@]}" import "$D/denied_write.csv"
expect_grep "denied_write.csv:3:3: write of field 'criminal_record' denied: " "$TMP/err" "FILE:ROW:COL for a denied write"
expect_no_grep "有前科" "$TMP/err" "the denied value is not shown"
expect_exit 0 "the denials are in the audit log" -- vc audit report --denied
expect_grep "import" "$TMP/out" "denied imports are reported"
expect_exit 0 "the audit log verifies after imports and denials" -- vc audit verify

# No plaintext of imported values on disk.
for f in "$V" "$V-wal"; do
    [ -e "$f" ] || continue
    if grep -qa -e 欧阳娜娜 -e 330102199001011234 -e 13812345601 -e 高血压 -e 大兜路 -e 赵六 "$f"; then
        bad "plaintext in $(basename "$f")"
    else
        ok "no plaintext in $(basename "$f")"
    fi
done

# On a terminal a progress line is drawn on stderr (and cleared).
if command -v script >/dev/null; then
    script -qec "$(printf '%q ' "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" import "$D/header_only.csv")" /dev/null >"$TMP/tty" 2>&1
    script -qec "$(printf '%q ' "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" import "$D/bom.csv")" /dev/null >"$TMP/tty" 2>&1
    expect_grep "importing: 2 records" "$TMP/tty" "progress shown on a terminal"
fi

finish

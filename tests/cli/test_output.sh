#!/usr/bin/env bash
# Values from the vault can't drive the terminal: `record get` text output
# escapes control characters and bidi overrides (always, not only on a
# terminal), --json and `export` keep them JSON-escaped (bidi and C1 too),
# and escaped output still says exactly what was stored.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

V="$TMP/street.vault"
K="$TMP/street.key"
POL="$SRC/policies/community.yaml"
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
unset VAULT_PASSPHRASE VAULT_NEW_PASSPHRASE VAULT_PATH

# name: ESC[2K (erase line), ESC[1A (cursor up), a newline, U+202E (RLO).
NAME=$(printf 'li\033[2K\033[1Awang\nfake line\342\200\256gnaw')
# address: tab, CR, DEL, backslash, U+0085 (C1 NEL), U+2066 (LRI), Chinese.
ADDR=$(printf '长征路\t12号\r\177\\x41\302\205\342\201\246end')

expect_exit 0 "init" -- "$VAULTCTL" --vault "$V" --key-file "$K" init --policy "$POL"
expect_exit 0 "record add with control characters in values" -- "$VAULTCTL" --vault "$V" --key-file "$K" \
    "${OFFICER[@]}" record add --in hangzhou/gongshu/xiaohe/changzheng/grid-07 "name=$NAME" "address=$ADDR"
ID=$(tr -d '\n' <"$TMP/out")

# no_raw FILE WHAT: no ESC, CR, DEL, C1 or bidi control bytes in FILE.
no_raw() {
    if LC_ALL=C grep -q "$(printf '[\033\r\177]')" "$1" ||
        grep -q -e "$(printf '\342\200\256')" -e "$(printf '\342\201\246')" -e "$(printf '\302\205')" "$1"; then
        bad "$2: raw control or bidi characters in the output"; else ok "$2: no raw control or bidi characters"; fi
}

expect_exit 0 "record get (text, not a terminal)" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" \
    record get "$ID" --fields name,address
no_raw "$TMP/out" "record get"
[ "$(wc -l <"$TMP/out")" = 3 ] && ok "one line per field (a newline in a value can't add a line)" ||
    bad "record get printed $(wc -l <"$TMP/out") lines, wanted 3"
expect_grep 'li\\x1B\[2K\\x1B\[1Awang\\nfake line\\u{202E}gnaw' "$TMP/out" "name shown with ESC, newline and U+202E escaped"
expect_grep '长征路\\t12号\\r\\x7F\\\\x41\\u{0085}\\u{2066}end' "$TMP/out" "address: tab, CR, DEL, backslash, C1, LRI escaped; Chinese kept"

expect_exit 0 "record get --json" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" --json \
    record get "$ID" --fields name,address
no_raw "$TMP/out" "record get --json"
expect_grep '\\u202e' "$TMP/out" "U+202E is \\u202e in JSON"
NAME="$NAME" ADDR="$ADDR" python3 - "$TMP/out" <<'EOF' && ok "the JSON values are exactly what was stored" || bad "JSON values differ"
import json, os, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
got = {f["field"]: f["value"] for f in doc["fields"]}
assert got["name"] == os.environ["NAME"], repr(got["name"])
assert got["address"] == os.environ["ADDR"], repr(got["address"])
EOF

expect_exit 0 "export to standard output" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" \
    --purpose resident_request export --record "$ID"
no_raw "$TMP/out" "export"
NAME="$NAME" python3 - "$TMP/out" <<'EOF' && ok "the export is JSON with the stored name" || bad "export content"
import json, os, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
assert doc["fields"]["name"] == os.environ["NAME"], repr(doc)
EOF
expect_exit 0 "export --out" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" \
    --purpose resident_request export --record "$ID" --out "$TMP/export.json"
no_raw "$TMP/export.json" "export --out"

# A keyslot label is free text from the vault as well (if the vault takes it).
LABEL=$(printf 'ops\033[2Kroot')
if "$VAULTCTL" --vault "$V" --key-file "$K" keyslot add --new-key-file "$TMP/k2" --label "$LABEL" >/dev/null 2>&1; then
    expect_exit 0 "keyslot list" -- "$VAULTCTL" --vault "$V" --key-file "$K" keyslot list
    no_raw "$TMP/out" "keyslot list"
    expect_grep 'ops\\x1B\[2Kroot' "$TMP/out" "the label is shown escaped"
else
    ok "a label with control characters is refused at input"
fi

# U+2028 / U+2029 end a line in many viewers: escaped in text and JSON.
SEP=$(printf 'a\342\200\250b\342\200\251c')
expect_exit 0 "record add with line separators" -- "$VAULTCTL" --vault "$V" --key-file "$K" \
    "${OFFICER[@]}" record add --in hangzhou/gongshu/xiaohe/changzheng/grid-07 "name=$SEP"
SID=$(tr -d '\n' <"$TMP/out")
expect_exit 0 "record get (line separators)" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" \
    record get "$SID" --fields name
expect_grep 'a\\u{2028}b\\u{2029}c' "$TMP/out" "U+2028 and U+2029 escaped in text"
expect_exit 0 "record get --json (line separators)" -- "$VAULTCTL" --vault "$V" --key-file "$K" \
    "${OFFICER[@]}" --json record get "$SID" --fields name
expect_no_grep "$(printf '\342\200\250')" "$TMP/out" "no raw U+2028 in JSON"

# Errors quote what was typed (file names, ids): escaped too.
BADCSV="$TMP/$(printf 'evil\033[2K.csv')"
printf 'jurisdiction,name\n' >"$BADCSV"
"$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" import "$BADCSV" >/dev/null 2>"$TMP/err"
"$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" grant approve "$(printf 'g-\033[1A')" >/dev/null 2>>"$TMP/err"
"$VAULTCTL" --vault "$V" --key-file "$K" audit verify --checkpoint "$(printf '/nope\342\200\256')" >/dev/null 2>>"$TMP/err"
"$VAULTCTL" "$(printf -- '--bogus\033[2K')" >/dev/null 2>>"$TMP/err"
"$VAULTCTL" "$(printf 'nocmd\342\200\250')" >/dev/null 2>>"$TMP/err"
[ -s "$TMP/err" ] && ok "the bad commands said why" || bad "no error messages"
expect_no_grep "$(printf '\342\200\250')" "$TMP/err" "no raw U+2028 in error messages"
no_raw "$TMP/err" "error messages"

# What was typed comes back escaped in the success lines too.
ODD="$TMP/$(printf 'odd\033[2K.vault')"
expect_exit 0 "init at an odd path" -- "$VAULTCTL" --vault "$ODD" --key-file "$TMP/odd.key" init --policy "$POL"
no_raw "$TMP/out" "init's message"

# A stored policy is shown as text: bidi characters in it are escaped.
BIDI_POL="$TMP/bidi.yaml"
{ printf '# owner: \342\200\256evil\n'; cat "$POL"; } >"$BIDI_POL"
expect_exit 0 "policy apply (a comment with U+202E)" -- "$VAULTCTL" --vault "$V" --key-file "$K" policy apply "$BIDI_POL"
expect_exit 0 "policy show" -- "$VAULTCTL" --vault "$V" --key-file "$K" policy show
no_raw "$TMP/out" "policy show"
expect_grep 'owner: \\u{202E}evil' "$TMP/out" "the comment is shown escaped"

# Labels in a policy are one line of text.
LAB_POL="$TMP/label.yaml"
sed 's/label: 网格员/label: "网格\\e[2K员"/' "$POL" >"$LAB_POL"
expect_exit 7 "policy check refuses a label with ESC" -- "$VAULTCTL" policy check "$LAB_POL"
expect_grep "label must be one line of text" "$TMP/err" "and says why"

# Columns are measured with wcwidth: CJK and emoji take 2, a combining mark
# 0, so the reason column starts at the same place on every line.
ID2=$("$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record add \
    --in hangzhou/gongshu/xiaohe/changzheng/grid-07 "name=张三" "address=$(printf 'Jose\314\201')" \
    "phone=$(printf '\360\237\230\200 138')")
for env in "" "LANG=C" "LC_ALL=POSIX" "LC_ALL=C.UTF-8"; do
    env $env "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record get "$ID2" \
        --fields name,address,phone >"$TMP/w.txt" 2>&1
    # value cell: 28 columns, then one space, then the reason.
    expect_grep "^  name                     allow 张三$(printf '%25s' '')allow" "$TMP/w.txt" \
        "${env:-default locale}: 张三 is 4 columns"
    expect_grep "^  address                  allow $(printf 'Jose\314\201')$(printf '%25s' '')allow" "$TMP/w.txt" \
        "${env:-default locale}: a combining acute takes no column"
    expect_grep "^  phone                    allow $(printf '\360\237\230\200') 138$(printf '%23s' '')allow" \
        "$TMP/w.txt" "${env:-default locale}: an emoji is 2 columns"
done

# The progress bar: nothing when standard error is not a terminal; on a
# terminal (script(1) gives one) a count or done / total, then the line
# cleared before the result.
CSV="$TMP/many.csv"
{ echo "jurisdiction,name,phone"
  for i in $(seq 1 1500); do echo "hangzhou/gongshu/xiaohe/changzheng/grid-07,居民$i,139$(printf %08d "$i")"; done
} >"$CSV"
expect_exit 0 "import (stderr a file)" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" import "$CSV"
[ -s "$TMP/err" ] && bad "import drew on a file: $(head -c 80 "$TMP/err" | cat -A)" || ok "import: no progress off a terminal"
expect_exit 0 "audit verify (stderr a file)" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit verify
[ -s "$TMP/err" ] && bad "audit verify drew on a file" || ok "audit verify: no progress off a terminal"
if command -v script >/dev/null; then
    CMD=$(printf '%q ' "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" import "$CSV")
    script -qec "$CMD" /dev/null >"$TMP/tty.txt" 2>&1 </dev/null
    expect_grep "$(printf '\r')  importing: 1000 records" "$TMP/tty.txt" "import on a terminal: a count (no total known)"
    expect_grep "$(printf '\r\033\\[Kimported 1500 records')" "$TMP/tty.txt" "import: the line is cleared before the result"
    CMD=$(printf '%q ' "$VAULTCTL" --vault "$V" --key-file "$K" audit verify)
    script -qec "$CMD" /dev/null >"$TMP/tty.txt" 2>&1 </dev/null
    expect_grep "verifying \[#*\] [0-9]* / [0-9]* entries (100%)" "$TMP/tty.txt" "audit verify on a terminal: done / total and a percentage"
    expect_grep "$(printf '\r\033\\[Kok: ')" "$TMP/tty.txt" "audit verify: the line is cleared before the result"
    n=$(tr '\r' '\n' <"$TMP/tty.txt" | grep -c "verifying")
    [ "$n" -le 20 ] && ok "audit verify: redrawn $n times (at most 10 a second)" || bad "audit verify redrawn $n times"
    CMD=$(printf '%q ' "$VAULTCTL" --vault "$V" --key-file "$K" key rotate --grade personal)
    script -qec "$CMD" /dev/null >"$TMP/tty.txt" 2>&1 </dev/null
    expect_grep "personal \[#*\] [0-9]* / [0-9]* fields (100%)" "$TMP/tty.txt" "key rotate on a terminal: a bar with the total"
    expect_grep "$(printf '\r\033\\[Kgrade personal: new data key')" "$TMP/tty.txt" "key rotate: the line is cleared before the result"
else
    bad "script(1) (bsdutils) is missing: the terminal cases did not run"
fi

finish

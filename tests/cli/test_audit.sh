#!/usr/bin/env bash
# Audit log tampering through the stock sqlcipher shell, with the key from
# `vaultctl key db-key`: each kind of tampering is caught with its class and
# exit code 3; an untouched log verifies with exit 0.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

POL="$SRC/policies/community.yaml"
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
GRID=(--user wang --role grid_worker --dept community_committee --jurisdiction hangzhou/gongshu/xiaohe/changzheng/grid-07 --purpose grid_management)
command -v sqlcipher >/dev/null || { bad "sqlcipher shell not installed (make deps installs it)"; finish; exit 1; }

# A fresh vault with a handful of entries; echo its path.
fresh() {
    local d="$TMP/$1"; mkdir -p "$d"
    "$VAULTCTL" --vault "$d/v" --key-file "$d/k" init --policy "$POL" >/dev/null 2>&1 || return 1
    local id
    id=$("$VAULTCTL" --vault "$d/v" --key-file "$d/k" "${OFFICER[@]}" record add \
        --in hangzhou/gongshu/xiaohe/changzheng/grid-07 name=张三 phone=13812345678 2>/dev/null)
    for i in 1 2 3; do
        "$VAULTCTL" --vault "$d/v" --key-file "$d/k" "${GRID[@]}" record get "$id" --fields phone,name >/dev/null 2>&1
    done
    "$VAULTCTL" --vault "$d/v" --key-file "$d/k" "${OFFICER[@]}" record get "$id" --fields phone >/dev/null 2>&1
    echo "$d"
}

sql() { # sql DIR STATEMENTS
    local key
    key=$("$VAULTCTL" --vault "$1/v" --key-file "$1/k" key db-key 2>/dev/null)
    sqlcipher "$1/v" "PRAGMA key = \"$key\"; PRAGMA cipher_page_size = 4096; $2"
}

verify() { # verify DIR [extra args] -> output in $TMP/out, exit in $rc
    "$VAULTCTL" --vault "$1/v" --key-file "$1/k" audit verify "${@:2}" >"$TMP/out" 2>"$TMP/err"
    rc=$?
}

check() { # check WHAT WANT_EXIT WANT_CLASS: ok on stdout, a failure on stderr (stdout empty)
    local where="$TMP/out"
    [ "$2" = 0 ] || where="$TMP/err"
    if [ "$rc" = "$2" ] && grep -q -- "$3" "$where" && { [ "$2" = 0 ] || [ ! -s "$TMP/out" ]; }; then ok "$1"; else
        bad "$1 (exit $rc, wanted $2 and '$3')"; sed 's/^/    /' "$TMP/out" "$TMP/err" | head; fi
}

# Untouched
d=$(fresh clean) || { bad "setup"; finish; exit 1; }
verify "$d"; check "untouched log verifies" 0 "ok:"
n=$(sql "$d" "SELECT count(*) FROM audit;")
[ "$n" -ge 7 ] && ok "every access left an entry ($n)" || bad "only $n entries"
n=$(sql "$d" "SELECT count(*) FROM audit WHERE user = 'wang';")
[ "$n" = 3 ] && ok "the grid worker's three reads are logged" || bad "grid worker entries: $n"
if sql "$d" "SELECT hex(entry) FROM audit;" | grep -qi "$(printf '13812345678' | od -An -tx1 | tr -d ' \n')"; then
    bad "a field value appears in the audit log"; else ok "no field value in the audit log"; fi

# 1. One byte of an entry changed (inside the user name, so it still parses)
d=$(fresh modify)
hex=$(sql "$d" "SELECT hex(entry) FROM audit WHERE pos = 4;")
wang=$(printf 'wang' | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
wanh=$(printf 'wanh' | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
sql "$d" "UPDATE audit SET entry = X'${hex/$wang/$wanh}' WHERE pos = 4;"
verify "$d"; check "changed byte: modified, exit 3" 3 "modified at entry 4"

# 1b. One byte of the recorded principal changed (the peer of an embedded
#     caller, "local:uid=..." -> "local:uiX=..."): modified at that entry
d=$(fresh principal)
hex=$(sql "$d" "SELECT hex(entry) FROM audit WHERE pos = 4;")
from=$(printf 'local:uid=' | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
to=$(printf 'local:uiX=' | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
case "$hex" in *"$from"*) ok "entries record the embedded caller's local peer" ;;
    *) bad "no local peer in entry 4" ;; esac
sql "$d" "UPDATE audit SET entry = X'${hex/$from/$to}' WHERE pos = 4;"
verify "$d"; check "changed principal byte: modified, exit 3" 3 "modified at entry 4"

# 2. An entry deleted
d=$(fresh delete)
sql "$d" "DELETE FROM audit WHERE pos = 3;"
verify "$d"; check "deleted entry: missing, exit 3" 3 "missing at entry 3"

# 3. Two entries swapped
d=$(fresh swap)
sql "$d" "CREATE TEMP TABLE t AS SELECT pos, entry, head FROM audit WHERE pos IN (3, 4);
UPDATE audit SET entry = (SELECT entry FROM t WHERE pos = 4), head = (SELECT head FROM t WHERE pos = 4) WHERE pos = 3;
UPDATE audit SET entry = (SELECT entry FROM t WHERE pos = 3), head = (SELECT head FROM t WHERE pos = 3) WHERE pos = 4;"
verify "$d"; check "swapped entries: reordered, exit 3" 3 "reordered"

# 4. The newest entries deleted, with every checkpoint that covered them:
#    the vault's kept tree state was on the newest entry and went with
#    them, so the next access (verify's too) is an integrity error that
#    says where the log now ends (someone who also puts a matching state,
#    MAC'd, on the new newest entry is caught only by a checkpoint kept
#    outside the vault: tests/test_audit.c).
d=$(fresh truncate)
"$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit checkpoint --out "$d/outside.cp" >/dev/null 2>&1
total=$(sql "$d" "SELECT count(*) FROM audit;")
keep=$((total - 3))
sql "$d" "DELETE FROM audit WHERE pos > $keep; DELETE FROM checkpoints WHERE size > $keep;"
check_err() { # check_err WHAT WANT_EXIT WANT_TEXT: the one-line error on standard error
    if [ "$rc" = "$2" ] && [ "$(wc -l <"$TMP/err")" = 1 ] && grep -q -- "$3" "$TMP/err"; then ok "$1"; else
        bad "$1 (exit $rc, wanted $2 and '$3' on one line)"; sed 's/^/    /' "$TMP/out" "$TMP/err" | head; fi
}
verify "$d"; check_err "truncation takes the tree state with it: integrity error, exit 3" 3 \
    "newest entry (position $keep) carries no tree state"
verify "$d" --checkpoint "$d/outside.cp"; check_err "truncation, with the outside checkpoint: the same error" 3 \
    "carries no tree state"

# 4b. Several outside checkpoints: every one is checked, whatever the order
#     (before, only the last --checkpoint counted).
d=$(fresh several)
"$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit checkpoint --out "$d/cp1" >/dev/null 2>&1
"$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit checkpoint --out "$d/cp2" >/dev/null 2>&1
verify "$d" --checkpoint "$d/cp1" --checkpoint "$d/cp2"; check "two good outside checkpoints verify" 0 "ok:"
size1=$(sed -n 2p "$d/cp1")
# one signature character changed, still canonical base64
sig=$(tail -n 1 "$d/cp1")
pos=$((${#sig} - 20)); c=${sig:$pos:1}; [ "$c" = A ] && r=B || r=A
{ sed '$d' "$d/cp1"; printf '%s%s%s\n' "${sig:0:$pos}" "$r" "${sig:$((pos + 1))}"; } >"$d/forged"
verify "$d" --checkpoint "$d/forged" --checkpoint "$d/cp2"
check "a forged note given before a good one: bad signature at its size, exit 3" 3 "bad signature at entry $size1"
verify "$d" --checkpoint "$d/cp2" --checkpoint "$d/forged"
check "a forged note given after a good one: bad signature, exit 3" 3 "bad signature at entry $size1"
"$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit pubkey --out "$d/pub" >/dev/null 2>&1
"$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit export --out "$d/exp.jsonl" >/dev/null 2>&1
expect_exit 3 "offline: every --checkpoint is checked too" -- \
    "$VAULTCTL" audit verify --export "$d/exp.jsonl" --pubkey "$d/pub" --checkpoint "$d/forged" --checkpoint "$d/cp2"
expect_grep "bad signature at entry $size1" "$TMP/err" "offline: the forged note is reported at its size"
expect_exit 0 "offline: two good notes" -- \
    "$VAULTCTL" audit verify --export "$d/exp.jsonl" --pubkey "$d/pub" --checkpoint "$d/cp1" --checkpoint "$d/cp2"
expect_exit 2 "--checkpoint only goes with verify" -- \
    "$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit export --checkpoint "$d/cp1"

# 4c. An entry that no longer decodes: malformed in the vault, exported as
#     stored, malformed at the same entry offline.
d=$(fresh malformed)
"$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit pubkey --out "$d/pub" >/dev/null 2>&1
sql "$d" "UPDATE audit SET entry = X'4C564139' || substr(entry, 5) WHERE pos = 3;"
verify "$d"; check "undecodable entry: malformed, exit 3" 3 "malformed at entry 3"
expect_exit 0 "the damaged log still exports" -- \
    "$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit export --out "$d/exp.jsonl"
expect_exit 3 "offline: the damaged entry" -- "$VAULTCTL" audit verify --export "$d/exp.jsonl" --pubkey "$d/pub"
expect_grep "malformed at entry 3" "$TMP/err" "offline: reported as malformed at its seq"

# 5. A checkpoint signature replaced
d=$(fresh signature)
sql "$d" "UPDATE checkpoints SET note = substr(note, 1, length(note) - 6) || 'AAAAA' || char(10) WHERE size = (SELECT max(size) FROM checkpoints);"
verify "$d"; check "replaced signature: bad signature, exit 3" 3 "bad signature"

# 6. Offline: export + public key only, and tampering with the export file
d=$(fresh offline)
"$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit pubkey --out "$d/pub" >/dev/null 2>&1
"$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit export --out "$d/exp.jsonl" >/dev/null 2>&1
expect_exit 0 "offline verify of an export with the public key alone" -- \
    "$VAULTCTL" audit verify --export "$d/exp.jsonl" --pubkey "$d/pub"
grep -v '"seq":3,' "$d/exp.jsonl" >"$d/cut.jsonl"
expect_exit 3 "offline: a line removed from the export" -- "$VAULTCTL" audit verify --export "$d/cut.jsonl" --pubkey "$d/pub"
expect_grep "missing" "$TMP/err" "offline: reported as missing"
other=$(fresh other)
"$VAULTCTL" --vault "$other/v" --key-file "$other/k" audit pubkey --out "$other/pub" >/dev/null 2>&1
expect_exit 3 "offline: another vault's public key" -- "$VAULTCTL" audit verify --export "$d/exp.jsonl" --pubkey "$other/pub"
expect_grep "bad signature" "$TMP/err" "offline: reported as bad signature"
echo "not a key" >"$d/junk.pub"
expect_exit 7 "offline: a malformed public key is invalid input" -- "$VAULTCTL" audit verify --export "$d/exp.jsonl" --pubkey "$d/junk.pub"
# In the vault, --pubkey is the auditor's own copy: the vault's key must be it.
expect_exit 0 "in the vault: verify --pubkey with the vault's own key" -- \
    "$VAULTCTL" --vault "$other/v" --key-file "$other/k" audit verify --pubkey "$other/pub"
expect_exit 3 "in the vault: verify --pubkey with another vault's key" -- \
    "$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit verify --pubkey "$other/pub"
expect_grep "not this vault" "$TMP/err" "in the vault: the other vault's key is named as such"
expect_exit 7 "in the vault: a malformed --pubkey is invalid input" -- \
    "$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit verify --pubkey "$d/junk.pub"
# Signed time: --max-age requires a recent newest checkpoint.
expect_exit 0 "verify --max-age 1h on a fresh vault" -- \
    "$VAULTCTL" --vault "$other/v" --key-file "$other/k" audit verify --max-age 1h
expect_exit 0 "the vectors' export verifies" -- \
    "$VAULTCTL" audit verify --export "$SRC/tests/vectors/audit_export_v2.jsonl" --pubkey "$SRC/tests/vectors/vectors.pub"
expect_exit 3 "offline --max-age: a newest checkpoint without a signed time" -- \
    "$VAULTCTL" audit verify --export "$SRC/tests/vectors/audit_export_v2.jsonl" --pubkey "$SRC/tests/vectors/vectors.pub" --max-age 1h
expect_grep "no signed time" "$TMP/err" "offline --max-age: named as such"
expect_exit 2 "--max-age takes a duration" -- \
    "$VAULTCTL" --vault "$other/v" --key-file "$other/k" audit verify --max-age soon
expect_exit 2 "--max-age goes with verify" -- \
    "$VAULTCTL" --vault "$other/v" --key-file "$other/k" audit pubkey --max-age 1h
expect_exit 0 "init prints the audit public key" -- \
    "$VAULTCTL" init --vault "$TMP/pinned.vault" --key-file "$TMP/pinned.key" --policy "$POL"
expect_grep "audit public key" "$TMP/out" "init: the key is labelled for the auditors"
expect_grep '"audit"' "$TMP/pinned.vault.keys" "init: the key is pinned in the keys file"

# 6b. Compact exports (no decoded keys) verify the same, and tampering
#     with one is caught the same.
"$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit export --compact --out "$d/compact.jsonl" >/dev/null 2>&1
if grep -q '"user"' "$d/compact.jsonl"; then bad "a compact export has decoded keys"; else ok "a compact export has no decoded keys"; fi
expect_exit 0 "offline verify of a compact export" -- \
    "$VAULTCTL" audit verify --export "$d/compact.jsonl" --pubkey "$d/pub"
grep -v '"seq":3,' "$d/compact.jsonl" >"$d/ccut.jsonl"
expect_exit 3 "offline: a line removed from a compact export" -- "$VAULTCTL" audit verify --export "$d/ccut.jsonl" --pubkey "$d/pub"
expect_grep "entry 3: missing" "$TMP/err" "compact: reported as missing at 3"
sed 's/^\({"seq":4,"entry":"\)\(.\{20\}\)A/\1\2B/; t; s/^\({"seq":4,"entry":"\)\(.\{20\}\)[^A]/\1\2A/' "$d/compact.jsonl" >"$d/cmod.jsonl"
expect_exit 3 "offline: a compact entry changed" -- "$VAULTCTL" audit verify --export "$d/cmod.jsonl" --pubkey "$d/pub"
expect_grep "entry 4: m" "$TMP/err" "compact: the changed entry is named"
expect_exit 2 "--compact goes with export" -- \
    "$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit verify --compact

# 6c. audit verify --since a kept checkpoint: only the entries after it.
d=$(fresh since)
"$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit checkpoint --out "$d/cp.txt" >/dev/null 2>&1
for i in 1 2 3 4 5; do "$VAULTCTL" --vault "$d/v" --key-file "$d/k" "${GRID[@]}" record find --field phone --value 13812345678 >/dev/null 2>&1; done
verify "$d" --since "$d/cp.txt"; check "verify --since a kept checkpoint" 0 "ok: "
n=$(sed -n 's/^ok: \([0-9]*\) entries.*/\1/p' "$TMP/out")
verify "$d"; full=$(sed -n 's/^ok: \([0-9]*\) entries.*/\1/p' "$TMP/out")
[ -n "$n" ] && [ "$n" -lt "$full" ] && [ "$n" -ge 5 ] && ok "--since checked the $n newer entries of $full" || bad "--since checked ${n:-?} of ${full:-?}"
pos=$(sql "$d" "SELECT max(pos) - 2 FROM audit;")
sql "$d" "UPDATE audit SET head = zeroblob(32) WHERE pos = $pos;"
verify "$d" --since "$d/cp.txt"; check "--since: an entry after the checkpoint changed" 3 "modified"
"$VAULTCTL" --vault "$other/v" --key-file "$other/k" audit checkpoint --out "$d/other-cp.txt" >/dev/null 2>&1
verify "$d" --since "$d/other-cp.txt"; check "--since another vault's checkpoint: bad signature" 3 "bad signature"
expect_exit 2 "--since goes with verify in the vault" -- \
    "$VAULTCTL" audit verify --export "$d/x.jsonl" --pubkey "$d/pub" --since "$d/cp.txt"
expect_exit 0 "verify --help names --since" -- "$VAULTCTL" audit --help
expect_grep "\-\-since" "$TMP/out" "the help says what --since does"

# 6d. --json on checkpoint and pubkey: one object with the text in it.
"$VAULTCTL" --vault "$d/v" --key-file "$d/k" --json audit checkpoint >"$TMP/cp.json" 2>"$TMP/err"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["checkpoint"].startswith("libvault/"), d' "$TMP/cp.json" &&
    ok "audit checkpoint --json is one object with the note" || { bad "audit checkpoint --json"; cat "$TMP/cp.json"; }
"$VAULTCTL" --vault "$d/v" --key-file "$d/k" --json audit pubkey --out "$d/pub2" >"$TMP/pk.json" 2>"$TMP/err"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); k=open(sys.argv[2]).read(); assert d["pubkey"] + "\n" == k and d["out"] == sys.argv[2], d' "$TMP/pk.json" "$d/pub2" &&
    ok "audit pubkey --json names the key and the file written" || { bad "audit pubkey --json"; cat "$TMP/pk.json"; }

# 7. Reports
d=$(fresh report)
id=$(sql "$d" "SELECT lower(hex(id)) FROM records LIMIT 1;")
expect_exit 0 "report --record" -- "$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit report --record "$id"
expect_grep "wang (grid_worker/community_committee" "$TMP/out" "the resident's report names the grid worker"
expect_grep "wang (grid_worker/community_committee @ hangzhou/gongshu/xiaohe/changzheng/grid-07) \[embedded\]" "$TMP/out" "and says the caller was embedded (not authenticated)"
expect_grep "phone:mask" "$TMP/out" "and what they saw"
expect_exit 0 "report --user --json" -- "$VAULTCTL" --vault "$d/v" --key-file "$d/k" --json audit report --user wang
expect_grep '"purpose": "grid_management"' "$TMP/out" "the user report says for what purpose"
expect_grep '"peer": "local:uid=' "$TMP/out" "the JSON report gives the principal's peer"
expect_grep '"app": ""' "$TMP/out" "and an empty app (embedded)"
expect_exit 0 "report --denied" -- "$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit report --denied
expect_exit 2 "report needs exactly one selector" -- "$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit report
n=$(sql "$d" "SELECT count(*) FROM audit WHERE hex(entry) LIKE '%$(printf 'db_key' | od -An -tx1 | tr -d ' \n' | tr a-f A-F)%';")
[ "$n" -ge 1 ] && ok "key db-key was logged" || bad "db-key not logged"

# 8. Metadata queries are audit entries
d=$(fresh meta)
logged() { # logged DIR ACTION -> count of entries with that action
    sql "$1" "SELECT count(*) FROM audit WHERE hex(entry) LIKE '%$(printf '%s' "$2" | od -An -tx1 | tr -d ' \n' | tr a-f A-F)%';"
}
# init hands out the public key once (it prints it for the auditors).
[ "$(logged "$d" audit_pubkey)" = 1 ] && ok "init's public key is logged" || bad "init's audit_pubkey not logged once"
for a in audit_export audit_checkpoint audit_verify; do
    [ "$(logged "$d" "$a")" = 0 ] || bad "$a logged before it ran"
done
"$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit export --out "$d/exp.jsonl" >/dev/null 2>&1
"$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit checkpoint --out "$d/cp" >/dev/null 2>&1
"$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit pubkey --out "$d/pub" >/dev/null 2>&1
verify "$d" --checkpoint "$d/cp"; check "verify after the metadata queries" 0 "ok:"
for a in audit_export audit_checkpoint audit_pubkey audit_verify; do
    n=$(logged "$d" "$a")
    want=1; [ "$a" = audit_pubkey ] && want=2
    [ "$n" = "$want" ] && ok "$a leaves one entry" || bad "$a left $n entries"
done
verify "$d" --checkpoint "$d/cp"; check "verify is not upset by its own earlier entry" 0 "ok:"
expect_grep '"action":"audit_export"' "$d/exp.jsonl" "the export includes its own entry"
expect_exit 0 "report --user os:LOGIN (the actor of admin entries)" -- \
    "$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit report --user "os:$(id -un)"
expect_grep "audit_pubkey" "$TMP/out" "the admin's metadata queries are in their report"
expect_exit 0 "report --user in another case finds the same actor" -- \
    "$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit report --user "OS:$(id -un | tr a-z A-Z)"
expect_grep "audit_pubkey" "$TMP/out" "user names in reports are compared case-folded"
expect_exit 0 "report --user WANG finds the grid worker wang" -- \
    "$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit report --user WANG
expect_grep "wang (grid_worker" "$TMP/out" "the session user's reads are in the report"
expect_exit 7 "report --user with a space is invalid" -- \
    "$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit report --user "os: root"

# 9. Free text in the log can't forge or hide report lines on a terminal:
#    an entry's detail planted with a newline, a fake line and ESC codes.
d=$(fresh escape)
id=$(sql "$d" "SELECT lower(hex(id)) FROM records LIMIT 1;")
pos=$(sql "$d" "SELECT max(pos) FROM audit WHERE user = 'wang';")
hex=$(sql "$d" "SELECT hex(entry) FROM audit WHERE pos = $pos;")
payload=$(printf 'x\n2026-01-01T00:00:00.000000Z  #99  li  read  ok  [BREAK-GLASS]\033[2K\033[1A' | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
n=$(( ${#payload} / 2 ))
lenhex=$(printf '%02X%02X%02X%02X' $((n & 255)) $(((n >> 8) & 255)) 0 0)
[ "${hex: -8}" = 00000000 ] || bad "setup: the grid worker's read has a detail"
sql "$d" "UPDATE audit SET entry = X'${hex:0:${#hex}-8}${lenhex}${payload}' WHERE pos = $pos;"
expect_exit 0 "report over the planted entry" -- \
    "$VAULTCTL" --vault "$d/v" --key-file "$d/k" audit report --record "$id"
if grep -q "#99" "$TMP/out" && ! grep -q '^2026-01-01T00:00:00.000000Z  #99' "$TMP/out"; then
    ok "a newline in stored text can't start a forged report line"; else bad "forged line in the report"; sed 's/^/    /' "$TMP/out"; fi
if grep -q "$(printf '\033')" "$TMP/out"; then bad "an ESC byte reached the report"; else ok "ESC sequences are escaped"; fi
expect_grep 'x\\n2026' "$TMP/out" "the newline is shown as \\n"
expect_grep '\\x1b\[2K' "$TMP/out" "ESC is shown as \\x1b"
expect_grep 'x\\n2026-01-01T00:00:00.000000Z  #99' "$TMP/out" "the forged text stays inside its entry's line"
expect_exit 0 "the JSON report over the planted entry" -- \
    "$VAULTCTL" --vault "$d/v" --key-file "$d/k" --json audit report --record "$id"
if grep -q "$(printf '\033')" "$TMP/out"; then bad "an ESC byte reached the JSON report"; else ok "JSON escapes ESC too"; fi
expect_grep 'x\\n2026' "$TMP/out" "JSON escapes the newline"

# 9. audit summary (issue 19): the month's table, CSV, bad keys and months
#    refused in one line each, and a log changed behind libvault's back
#    refused (exit 3) instead of counted.
s=$(fresh summary)
M=$(date -u +%Y-%m)
sv() { "$VAULTCTL" --vault "$s/v" --key-file "$s/k" "$@"; }
expect_exit 0 "audit summary" -- sv audit summary --month "$M"
expect_grep "1 residents (canaries not counted)" "$TMP/out" "summary: the one resident"
expect_grep "^community_committee  *grid_management  *3  *1  *0$" "$TMP/out" "summary: the grid worker's three reads"
expect_exit 0 "audit summary --csv" -- sv audit summary --month "$M" --by purpose,outcome --csv
expect_grep '^"grid_management","masked","3","1","0"' "$TMP/out" "summary --csv: quoted fields"
[ "$(grep -c $'\r$' "$TMP/out")" = "$(wc -l <"$TMP/out")" ] && [ "$(wc -l <"$TMP/out")" -ge 2 ] \
    && ok "summary --csv: every line ends in CRLF" || bad "summary --csv: not CRLF line ends"
for m in 2026-13 2026-1 1969-12 26-11; do
    expect_exit 7 "summary --month $m is refused" -- sv audit summary --month "$m"
    [ "$(wc -l <"$TMP/err")" = 1 ] && grep -q "YYYY-MM" "$TMP/err" && ok "  in one line naming YYYY-MM" || bad "  the error for $m: $(cat "$TMP/err")"
done
expect_exit 7 "summary --by with an unknown key" -- sv audit summary --month "$M" --by department,dept
expect_grep "unknown key 'dept'" "$TMP/err" "  names the key"
[ "$(wc -l <"$TMP/err")" = 1 ] && ok "  in one line" || bad "  $(wc -l <"$TMP/err") lines"
expect_exit 2 "summary needs --month" -- sv audit summary
expect_exit 2 "--by goes with summary" -- sv audit report --denied --by role
expect_exit 2 "--csv and --json together" -- sv --json audit summary --month "$M" --csv
sql "$s" "UPDATE audit SET entry = CAST(substr(entry, 1, instr(entry, CAST('grid_management' AS BLOB)) - 1) || CAST('grid_managemenT' AS BLOB) || substr(entry, instr(entry, CAST('grid_management' AS BLOB)) + 15) AS BLOB) WHERE pos = (SELECT min(pos) FROM audit WHERE instr(entry, CAST('grid_management' AS BLOB)) > 0);" >/dev/null 2>&1
expect_exit 3 "summary of a log with a changed entry is refused" -- sv audit summary --month "$M"
expect_grep "does not match the chain" "$TMP/err" "  naming the chain"
expect_exit 3 "and so are the anomalies" -- sv audit anomalies --since 1d

finish

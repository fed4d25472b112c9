#!/usr/bin/env bash
# Times in vaultctl (docs/cli-output.md): grant --from/--until in RFC 3339
# with offsets, local date-times and dates, in Asia/Shanghai, UTC and
# America/New_York; DST gaps and overlaps refused; UTC output by default,
# local with --local or TZ (--utc wins back), JSON always UTC.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

V="$TMP/street.vault"
K="$TMP/street.key"
POL="$SRC/policies/community.yaml"
OFFICER=(--vault "$V" --key-file "$K" --user li --role data_officer --dept street_office
    --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
GRANT=(grant --to-role civil_affairs_officer --to-dept civil_affairs --fields phone
    --in hangzhou/gongshu/xiaohe/changzheng --purposes social_assistance)
unset VAULT_PASSPHRASE VAULT_NEW_PASSPHRASE VAULT_PATH TZ

for z in Asia/Shanghai America/New_York UTC; do
    [ -f "/usr/share/zoneinfo/$z" ] || { echo "tzdata is missing ($z): apt-get install tzdata"; exit 1; }
done

expect_exit 0 "init" -- "$VAULTCTL" --vault "$V" --key-file "$K" init --policy "$POL"

# grant_window TZ FROM UNTIL WANT_NOT_BEFORE WANT_NOT_AFTER WHAT
grant_window() {
    local tz=$1 from=$2 until=$3 nb=$4 na=$5 what=$6
    if TZ=$tz "$VAULTCTL" "${OFFICER[@]}" --json "${GRANT[@]}" --from "$from" --until "$until" \
        --reason "window $what" >"$TMP/g.json" 2>"$TMP/err"; then
        local id
        id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["grant"])' "$TMP/g.json")
        "$VAULTCTL" --vault "$V" --key-file "$K" grants --json >"$TMP/list.json"
        got=$(python3 -c 'import json,sys
g=[x for x in json.load(open(sys.argv[1])) if x["id"]==sys.argv[2]][0]
print(g["not_before"], g["not_after"])' "$TMP/list.json" "$id")
        [ "$got" = "$nb $na" ] && ok "$what" || bad "$what (stored $got, wanted $nb $na)"
    else
        bad "$what (refused)"; sed 's/^/    /' "$TMP/err"
    fi
}

# 2027-01-10T01:00:00Z = 1799542800, 2027-01-10T10:00:00Z = 1799575200.
grant_window Asia/Shanghai "2027-01-10 09:00" "2027-01-10T18:00+08:00" 1799542800 1799575200 \
    "Shanghai: a plain local date-time and an RFC 3339 offset"
grant_window Asia/Shanghai "2027-01-10T09:00" "2027-01-10T10:00:00Z" 1799542800 1799575200 \
    "Shanghai: local with T, and Z"
grant_window America/New_York "2027-01-09 20:00" "2027-01-10T05:00:00.750-05:00" 1799542800 1799575200 \
    "New York (EST): local, and an offset with a fraction (dropped)"
grant_window UTC "2027-01-10 01:00:00" "2027-01-10T10:00:00+00:00" 1799542800 1799575200 \
    "UTC: local with seconds, and +00:00"
# A date alone: local midnight.  2027-01-10T00:00+08:00 = 2027-01-09T16:00:00Z.
grant_window Asia/Shanghai "2027-01-10" "2027-01-11" 1799510400 1799596800 \
    "Shanghai: dates alone are local midnight"
grant_window America/New_York "2027-07-01 12:00" "2027-07-01T13:00-04:00" 1814457600 1814461200 \
    "New York (EDT): the summer offset"

# Bad values: exit 2, one line naming the option and the forms.
for bad_time in "tomorrow" "2027-01-10T09:00:00+0800" "2027/01/10" "1799542800" "2027-01-10T25:00Z" \
    "2027-02-29" "2027-01-10T09:00+24:00" "1969-12-31T23:00:00Z"; do
    expect_exit 2 "--until '$bad_time' refused" -- env TZ=Asia/Shanghai "$VAULTCTL" "${OFFICER[@]}" \
        "${GRANT[@]}" --until "$bad_time" --reason x
    [ "$(wc -l <"$TMP/err")" = 1 ] && ok "  one line" || bad "  $(wc -l <"$TMP/err") lines"
    expect_grep "grant: --until: '$bad_time' " "$TMP/err" "  names the option and the value"
done
expect_grep "use 2026-12-01T09:00:00Z, 2026-12-01T09:00+08:00, '2026-12-01 09:00' (local time) or 2026-12-01" \
    "$TMP/err" "the expected forms are listed"
expect_exit 2 "--from 'soon' refused" -- "$VAULTCTL" "${OFFICER[@]}" "${GRANT[@]}" --from soon --for 1h --reason x
expect_grep "grant: --from: 'soon' is not a time" "$TMP/err" "--from names itself"

# DST in New York: 2027-03-14 02:30 does not exist, 2027-11-07 01:30 happens twice.
expect_exit 2 "a local time in the spring gap is refused" -- env TZ=America/New_York "$VAULTCTL" \
    "${OFFICER[@]}" "${GRANT[@]}" --from "2027-03-14 02:30" --for 1h --reason x
expect_grep "does not exist in America/New_York (the clocks skip it): give an offset, -05:00 (before the change) or -04:00 (after)" \
    "$TMP/err" "the gap is named, with the offsets"
expect_exit 2 "a local time in the autumn overlap is refused" -- env TZ=America/New_York "$VAULTCTL" \
    "${OFFICER[@]}" "${GRANT[@]}" --from "2027-11-07 01:30" --for 1h --reason x
expect_grep "happens twice in America/New_York (the clocks go back): add the offset, -04:00 or -05:00" \
    "$TMP/err" "the overlap is named, with both offsets"
# 2027-11-07T01:30-05:00 = 06:30Z = 1825569000.
grant_window America/New_York "2027-11-07T01:30-05:00" "2027-11-07 03:00" 1825569000 1825574400 \
    "the overlap with its offset is taken"
grant_window Asia/Shanghai "2027-03-14 02:30" "2027-03-14 03:30" 1804962600 1804966200 \
    "New York's gap is a plain time in Shanghai (no DST)"
grant_window Asia/Shanghai "2027-11-07 01:30" "2027-11-07 02:00" 1825522200 1825524000 \
    "New York's overlap is a plain time in Shanghai"

# Output: UTC by default; local with --local or TZ; --utc wins; JSON UTC.
expect_exit 0 "grants (no TZ)" -- "$VAULTCTL" --vault "$V" --key-file "$K" grants
expect_grep "2027-01-10T01:00:00Z .. 2027-01-10T10:00:00Z: window Shanghai: a plain" "$TMP/out" "grants: UTC by default"
expect_no_grep "+08:00" "$TMP/out" "grants: no offsets by default"
expect_exit 0 "grants (TZ=Asia/Shanghai)" -- env TZ=Asia/Shanghai "$VAULTCTL" --vault "$V" --key-file "$K" grants
expect_grep "2027-01-10T09:00:00+08:00 .. 2027-01-10T18:00:00+08:00: window Shanghai: a plain" "$TMP/out" \
    "grants: TZ set shows local time with the offset"
expect_no_grep "[0-9]Z " "$TMP/out" "grants: no UTC time left under TZ"
expect_exit 0 "grants --utc (TZ set)" -- env TZ=Asia/Shanghai "$VAULTCTL" --vault "$V" --key-file "$K" --utc grants
expect_grep "2027-01-10T01:00:00Z .. 2027-01-10T10:00:00Z" "$TMP/out" "grants --utc: UTC even with TZ"
expect_exit 0 "grants --local (New York)" -- env TZ=America/New_York "$VAULTCTL" --vault "$V" --key-file "$K" grants --local
expect_grep "2027-01-09T20:00:00-05:00 .. 2027-01-10T05:00:00-05:00" "$TMP/out" "grants --local: winter offset"
expect_grep "2027-07-01T12:00:00-04:00 .. 2027-07-01T13:00:00-04:00" "$TMP/out" "grants --local: summer offset"
expect_exit 0 "grants --json (TZ set)" -- env TZ=Asia/Shanghai "$VAULTCTL" --vault "$V" --key-file "$K" --local grants --json
expect_grep '"not_before": 1799542800' "$TMP/out" "grants --json: Unix seconds whatever the zone"
expect_no_grep "+08:00" "$TMP/out" "grants --json: no local times"

expect_exit 0 "keyslot list --local" -- env TZ=Asia/Shanghai "$VAULTCTL" --vault "$V" --key-file "$K" --local keyslot list
expect_grep "^0     keyfile     [0-9-]*T[0-9:]*+08:00 initial$" "$TMP/out" "keyslot list: local creation time, columns kept"
expect_exit 0 "keyslot list" -- "$VAULTCTL" --vault "$V" --key-file "$K" keyslot list
expect_grep "^0     keyfile     [0-9-]*T[0-9:]*Z initial$" "$TMP/out" "keyslot list: UTC by default"

expect_exit 0 "audit report --local" -- env TZ=Asia/Shanghai "$VAULTCTL" --vault "$V" --key-file "$K" --local \
    audit report --user li
expect_grep "^20[0-9-]*T[0-9:]*\.[0-9]\{6\}+08:00  #[0-9]*  li " "$TMP/out" "audit report: local time, microseconds kept"
expect_no_grep "^20[0-9-]*T[0-9:.]*Z" "$TMP/out" "audit report: no UTC line start under --local"
expect_exit 0 "audit report" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit report --user li
expect_grep "^20[0-9-]*T[0-9:]*\.[0-9]\{6\}Z  #[0-9]*  li " "$TMP/out" "audit report: UTC by default"
expect_exit 0 "audit report --json --local" -- env TZ=Asia/Shanghai "$VAULTCTL" --vault "$V" --key-file "$K" --local \
    --json audit report --user li
expect_grep '"time": "20[0-9-]*T[0-9:.]*Z"' "$TMP/out" "audit report --json: UTC"

expect_exit 0 "audit checkpoint" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit checkpoint --out "$TMP/cp.txt"
expect_exit 0 "audit verify --local" -- env TZ=America/New_York "$VAULTCTL" --vault "$V" --key-file "$K" --local audit verify
expect_grep "^newest checkpoint: [0-9]* entries, signed 20[0-9-]*T[0-9:]*-0[45]:00$" "$TMP/out" \
    "audit verify: the newest checkpoint's signed time, local"
expect_exit 0 "audit verify" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit verify
expect_grep "^newest checkpoint: [0-9]* entries, signed 20[0-9-]*T[0-9:]*Z$" "$TMP/out" \
    "audit verify: the newest checkpoint's signed time, UTC"

# Library text that names grant windows: policy explain and who-can.
RID=$("$VAULTCTL" "${OFFICER[@]}" record add --in hangzhou/gongshu/xiaohe/changzheng/grid-07 "name=王五" phone=13800000000)
"$VAULTCTL" "${OFFICER[@]}" grant --to-role civil_affairs_officer --to-dept civil_affairs --fields phone \
    --records "$RID" --purposes social_assistance --from 2027-02-01T08:00+08:00 --until "2027-02-01 18:00" \
    --reason visit >/dev/null 2>&1 || bad "grant on the record"
CIVIL=(--vault "$V" --key-file "$K" --user wu --role civil_affairs_officer --dept civil_affairs
    --jurisdiction hangzhou/gongshu --purpose social_assistance)
expect_exit 0 "policy explain (TZ)" -- env TZ=Asia/Shanghai "$VAULTCTL" "${CIVIL[@]}" policy explain --record "$RID" --field phone
expect_grep "not valid before 2027-02-01T08:00:00+08:00" "$TMP/out" "policy explain: the grant window in local time"
expect_exit 0 "policy explain --utc (TZ)" -- env TZ=Asia/Shanghai "$VAULTCTL" "${CIVIL[@]}" --utc policy explain --record "$RID" --field phone
expect_grep "not valid before 2027-02-01T00:00:00Z" "$TMP/out" "policy explain --utc: in UTC"

# token issue --at takes the same forms (and Unix seconds, as before).
expect_exit 0 "token keygen" -- "$VAULTCTL" token keygen --out "$TMP/issuer.key"
TOK=(token issue --issuer-key "$TMP/issuer.key" --iss https://idp.test --aud vaultd --sub s1 --role r --dept d
    --jurisdiction hangzhou --ttl 1h --json)
expect_exit 0 "token issue --at a local time" -- env TZ=Asia/Shanghai "$VAULTCTL" "${TOK[@]}" --at "2027-01-10 09:00"
expect_grep '"exp": 1799546400' "$TMP/out" "token issue --at: local time read in TZ"
expect_exit 0 "token issue --at Unix seconds" -- "$VAULTCTL" "${TOK[@]}" --at 1799542800
expect_grep '"exp": 1799546400' "$TMP/out" "token issue --at: Unix seconds still work"
expect_exit 2 "token issue --at a bad time" -- "$VAULTCTL" "${TOK[@]}" --at "2027-01-10 9:00"
expect_grep "token issue: --at: '2027-01-10 9:00' is not a time; use " "$TMP/err" "token issue --at: one line naming the option"

# A TZ that names no zone (a typo) is UTC to glibc without a word: vaultctl
# says so in one line; a real zone or a POSIX rule says nothing.
TZ=Asia/Shangai "$VAULTCTL" --version >/dev/null 2>"$TMP/err"
expect_grep "warning: TZ=Asia/Shangai names no time zone .*local times are UTC" "$TMP/err" "a misspelt TZ is named"
for z in Asia/Shanghai :Asia/Shanghai CST-8 UTC; do
    TZ=$z "$VAULTCTL" --version >/dev/null 2>"$TMP/err"
    [ ! -s "$TMP/err" ] && ok "TZ=$z: no warning" || bad "TZ=$z: $(cat "$TMP/err")"
done

finish

#!/usr/bin/env bash
# Reports, verification and who-can read from a streaming standby
# (docs/postgresql.md "Standby reads"), run inside a throwaway cluster
# (tests/pg/pg_cluster.sh run): a standby made with pg_basebackup beside
# the primary, named in the location by vault_standby.
#
#  - with the standby caught up, verify, a report and who-can are read on
#    it: shown by an audit row a DBA adds on the primary while the
#    standby's replay is paused (the generation row unchanged), which the
#    standby's verify does not see and the primary's does;
#  - with replay paused and a grant revoked on the primary, a report
#    through the standby's location has the revoke, read on the primary
#    (the standby's scans unchanged), and who-can does not name it;
#  - with the standby down, every call still works, on the primary;
#  - a password in vault_standby is shown as ***, in either spelling.
VAULTCTL=$1
. "$(dirname "$0")/../cli/lib.sh"
[ -n "${VAULT_PG_URI:-}" ] || { echo "test_pg_standby_reads: VAULT_PG_URI is not set (run under tests/pg/pg_cluster.sh run)"; exit 1; }
. "$(dirname "$0")/standby_lib.sh"

CL=$(dirname "$PGHOST")
SB=$CL/reader
SPORT=5434
trap 'standby_stop "$SB"; rm -rf "$TMP"' EXIT

case "$VAULT_PG_URI" in *\?*) sep='&' ;; *) sep='?' ;; esac
V="${VAULT_PG_URI}${sep}vault_keys=$TMP/city.keys&vault_schema=city"
# the standby's libpq connection string, its spaces percent-encoded
VR="$V&vault_standby=host=$PGHOST%20port=$SPORT%20user=$PGUSER%20dbname=$PGDATABASE"
JUR=hangzhou/gongshu/xiaohe/changzheng/grid-07
# a health worker with a purpose no rule of the policy allows: only the grant lets him read
DOCTOR=(--user zhou --role health_worker --dept health --jurisdiction hangzhou/gongshu --purpose resident_service)

standby_up "$SB" "$SPORT" reader

expect_exit 0 "init on the primary" -- "$VAULTCTL" --vault "$V" --key-file "$K" init --policy "$POL"
"$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record add --in "$JUR" \
    name=张三 phone=13812345678 >"$TMP/out" 2>"$TMP/err"
id=$(tr -d '\n' <"$TMP/out")
[ ${#id} = 32 ] && ok "a record added" || { bad "no record id"; cat "$TMP/err"; }
expect_exit 0 "a grant to the health department" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" \
    grant --to-dept health --fields phone --records "$id" --for 1h --reason "clinic follow-up"
gid=$(grep -o 'g-[0-9a-f]\{16\}' "$TMP/out" "$TMP/err" | head -1 | cut -d: -f2)
[ -n "$gid" ] && ok "the grant's id: $gid" || bad "no grant id in the output"

# the standby caught up: verify, a report and who-can through it, and
# read there: the standby's own count of scans of the audit table (its
# partitions) grows
# (stats of a backend are kept when it exits: vaultctl's has by then)
# (a backend's stats are flushed before it leaves pg_stat_activity: wait
# for every other client backend of the standby to be gone first)
scans() {
    for _ in $(seq 1 100); do
        [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" "$SPORT")" = 0 ] && break
        sleep 0.05
    done
    q "SELECT coalesce(sum(seq_scan), 0) + coalesce(sum(idx_scan), 0) FROM pg_stat_user_tables WHERE schemaname = 'city' AND relname ~ '^audit(_p[0-9]+)?$'" "$SPORT"
}
standby_caught_up "$SPORT" && ok "the standby has replayed everything" || bad "the standby is behind"
s0=$(scans)
expect_exit 0 "verify through the standby's location" -- "$VAULTCTL" --vault "$VR" --key-file "$K" audit verify
s1=$(scans)
[ "$s1" -gt "$s0" ] && ok "read on the standby (its audit scans $s0 -> $s1)" || bad "not read on the standby (scans $s0 -> $s1)"
expect_exit 0 "verify on the primary" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit verify
s2=$(scans)
[ "$s2" = "$s1" ] && ok "without vault_standby nothing is read there ($s2)" || bad "the standby was read ($s1 -> $s2)"
standby_caught_up "$SPORT" || bad "the standby is behind"
expect_exit 0 "who-can through it" -- "$VAULTCTL" --vault "$VR" --key-file "$K" policy who-can --field phone --record "$id"
expect_grep "$gid" "$TMP/out" "who-can names the live grant"
standby_caught_up "$SPORT" || bad "the standby is behind"
s0=$(scans)
expect_exit 0 "a resident's report through it" -- "$VAULTCTL" --vault "$VR" --key-file "$K" audit report --record "$id"
expect_grep "create" "$TMP/out" "the report has the record's create entry"
s1=$(scans)
[ "$s1" -gt "$s0" ] && ok "the report read on the standby ($s0 -> $s1)" || bad "the report not read on the standby ($s0 -> $s1)"

# replay paused, a DBA adds a checkpoint row on the primary: no libvault
# commit (the generation row unchanged), but the primary's WAL moved, so
# the standby is behind it and verify through its location reads the
# primary and finds the row
standby_caught_up "$SPORT" || bad "the standby is behind"
q "SELECT pg_wal_replay_pause()" "$SPORT" >/dev/null
q "INSERT INTO city.checkpoints(size, note, created, mac) VALUES (99999, 'forged', 0, '\\x00')" >/dev/null &&
    ok "a DBA's checkpoint row on the primary" || bad "the DBA's insert failed"
s0=$(scans)
expect_exit 3 "verify through the standby's location finds it (read on the primary)" -- \
    "$VAULTCTL" --vault "$VR" --key-file "$K" audit verify
s1=$(scans)
[ "$s1" = "$s0" ] && ok "the standby, behind, was not read ($s1)" || bad "the standby was read ($s0 -> $s1)"
expect_exit 3 "verify on the primary finds it" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit verify
q "SELECT pg_wal_replay_resume()" "$SPORT" >/dev/null
standby_stop "$SB"

# a fresh vault for the revoke: the standby from scratch
rm -rf "$SB" "$SB.log" "$SB.bb.log"
q "DROP SCHEMA city CASCADE; DROP SCHEMA city_rkeys CASCADE" >/dev/null
rm -f "$TMP/city.keys" "$K"
expect_exit 0 "init again" -- "$VAULTCTL" --vault "$V" --key-file "$K" init --policy "$POL"
"$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record add --in "$JUR" \
    name=李四 phone=13987654321 >"$TMP/out" 2>"$TMP/err"
id=$(tr -d '\n' <"$TMP/out")
expect_exit 0 "a grant to the doctor" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" \
    grant --to-dept health --fields phone --records "$id" --for 1h --reason "clinic follow-up"
gid=$(grep -o 'g-[0-9a-f]\{16\}' "$TMP/out" "$TMP/err" | head -1 | cut -d: -f2)
standby_start "$SB" "$SPORT" reader && ok "the standby made again" || bad "the standby did not start again"
standby_caught_up "$SPORT" && ok "and caught up" || bad "the standby is behind"
expect_exit 0 "the doctor reads the phone (the grant is live)" -- \
    "$VAULTCTL" --vault "$VR" --key-file "$K" "${DOCTOR[@]}" record get "$id" --fields phone
expect_grep "13987654321" "$TMP/out" "the phone comes back"

# replay paused; the grant revoked on the primary
q "SELECT pg_wal_replay_pause()" "$SPORT" >/dev/null
expect_exit 0 "the grant revoked on the primary" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" \
    revoke "$gid" --reason "follow-up done"
live=$(q "SELECT state FROM city.grants WHERE id = '$gid'" "$SPORT")
[ "$live" != revoked ] && ok "the standby still has the grant as '$live'" || bad "the standby replayed the revoke"
s0=$(scans)
expect_exit 0 "the officer's report through the standby's location" -- \
    "$VAULTCTL" --vault "$VR" --key-file "$K" audit report --user li
expect_grep "revoke" "$TMP/out" "has the revoke (the standby, behind, was not used)"
s1=$(scans)
[ "$s1" = "$s0" ] && ok "the standby was not read ($s1)" || bad "the standby was read ($s0 -> $s1)"
expect_exit 0 "who-can through the standby's location" -- \
    "$VAULTCTL" --vault "$VR" --key-file "$K" policy who-can --field phone --record "$id"
expect_no_grep "$gid" "$TMP/out" "does not name the revoked grant"
expect_exit 4 "the doctor's read (an audited read: always the primary's) is denied" -- \
    "$VAULTCTL" --vault "$VR" --key-file "$K" "${DOCTOR[@]}" record get "$id" --fields phone
expect_no_grep "13987654321" "$TMP/out" "no phone"
q "SELECT pg_wal_replay_resume()" "$SPORT" >/dev/null
standby_caught_up "$SPORT" && ok "replay resumed, caught up" || bad "the standby is behind"
expect_exit 0 "who-can through the standby, caught up" -- \
    "$VAULTCTL" --vault "$VR" --key-file "$K" policy who-can --field phone --record "$id"
expect_no_grep "$gid" "$TMP/out" "still without the revoked grant"

# the standby down: the primary answers
standby_stop "$SB"
expect_exit 0 "verify through the standby's location, the standby down" -- \
    "$VAULTCTL" --vault "$VR" --key-file "$K" audit verify
expect_exit 0 "who-can, the standby down" -- \
    "$VAULTCTL" --vault "$VR" --key-file "$K" policy who-can --field phone --record "$id"

# a password in vault_standby is never shown: init prints the location
for form in "password=Zq9-standby-pw" "user=u%20pass%2577ord=Zq9-standby-pw"; do
    VP="${VAULT_PG_URI}${sep}vault_keys=$TMP/shown.keys&vault_schema=shown&vault_standby=host=$PGHOST%20port=$SPORT%20$form"
    rm -f "$TMP/shown.keys" "$TMP/shown.key"
    q "DROP SCHEMA IF EXISTS shown CASCADE; DROP SCHEMA IF EXISTS shown_rkeys CASCADE" >/dev/null 2>&1
    expect_exit 0 "init with a vault_standby that holds a password ($form)" -- \
        "$VAULTCTL" --vault "$VP" --key-file "$TMP/shown.key" init --policy "$POL"
    expect_grep "vault_standby=\*\*\*" "$TMP/out" "the location is shown with vault_standby=***"
    if grep -q "Zq9-standby-pw" "$TMP/out" "$TMP/err"; then bad "the standby's password is shown"; else
        ok "the standby's password is not shown"; fi
done
VP="${VAULT_PG_URI}${sep}vault_keys=$TMP/plain.keys&vault_schema=plain&vault_standby=host=$PGHOST%20port=$SPORT"
expect_exit 0 "init with a vault_standby without a password" -- \
    "$VAULTCTL" --vault "$VP" --key-file "$TMP/plain.key" init --policy "$POL"
expect_grep "vault_standby=host=" "$TMP/out" "that one is shown as it is"

finish

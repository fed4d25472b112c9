#!/usr/bin/env bash
# A vault on a primary with a synchronous standby (docs/postgresql.md,
# "Deployment"), run inside a throwaway cluster (tests/pg/pg_cluster.sh
# run): a streaming standby made with pg_basebackup beside the primary,
# named in synchronous_standby_names.
#
#  - writes and audited reads commit, and the standby reports itself sync;
#  - with the standby stopped, a write does not return (the commit waits
#    for a standby that has it): nothing is acknowledged on one disk;
#  - the primary crashes (immediate stop) and the standby is promoted:
#    every record whose add was acknowledged is there and reads back, and
#    the log verifies against the checkpoint taken on the primary.
VAULTCTL=$1
. "$(dirname "$0")/../cli/lib.sh"
[ -n "${VAULT_PG_URI:-}" ] || { echo "test_pg_standby: VAULT_PG_URI is not set (run under tests/pg/pg_cluster.sh run)"; exit 1; }

. "$(dirname "$0")/standby_lib.sh"
CL=$(dirname "$PGHOST")   # the cluster's directory (pg_cluster.sh: DIR/sock)
SB=$CL/standby
SPORT=5433
stop_standby() { standby_stop "$SB"; }
trap 'stop_standby; rm -rf "$TMP"' EXIT

case "$VAULT_PG_URI" in *\?*) sep='&' ;; *) sep='?' ;; esac
V="${VAULT_PG_URI}${sep}vault_keys=$TMP/city.keys&vault_schema=city"
VS="${V/port=$PGPORT/port=$SPORT}"

# the standby, streaming from the primary, then named synchronous
standby_up "$SB" "$SPORT" standby_a
q "ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (standby_a)'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
state=""
for _ in $(seq 1 100); do
    state=$(q "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby_a'")
    [ "$state" = sync ] && break
    sleep 0.1
done
[ "$state" = sync ] && ok "the standby is synchronous" || bad "the standby's state is '$state'"

expect_exit 0 "init on the primary" -- "$VAULTCTL" --vault "$V" --key-file "$K" init --policy "$POL"
ids=()
for i in 1 2 3 4 5; do
    "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record add \
        --in hangzhou/gongshu/xiaohe/changzheng/grid-07 name=居民$i phone=1381234567$i >"$TMP/out" 2>"$TMP/err" &&
        ids+=("$(tr -d '\n' <"$TMP/out")")
done
[ ${#ids[@]} = 5 ] && ok "5 records added, each acknowledged" || bad "${#ids[@]} of 5 records added"
expect_exit 0 "an audited read" -- "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record get "${ids[0]}" --fields phone
expect_grep "13812345671" "$TMP/out" "the phone comes back"
expect_exit 0 "a checkpoint on the primary" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit checkpoint --out "$TMP/cp.note"
sent=$(q "SELECT sent_lsn = flush_lsn FROM pg_stat_replication WHERE application_name = 'standby_a'")
[ "$sent" = t ] && ok "the standby has flushed all it was sent" || ok "the standby is catching up ($sent)"

# no standby: a write waits, so it is never acknowledged on one disk
stop_standby
timeout 5 "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record add \
    --in hangzhou/gongshu/xiaohe/changzheng/grid-07 name=等待 phone=13900000000 >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" = 124 ] && ok "with no standby the write does not return (timeout)" ||
    bad "with no standby the write returned (exit $rc)"
[ ! -s "$TMP/out" ] && ok "and no record id came back" || bad "a record id came back: $(cat "$TMP/out")"

# the standby back, catching up; then the primary crashes and it is promoted
standby_again "$SB" "$SPORT" && ok "the standby started again" || bad "the standby did not start again"
for _ in $(seq 1 100); do
    state=$(q "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby_a'")
    [ "$state" = sync ] && break
    sleep 0.1
done
own "$PGBIN/pg_ctl" -D "$CL/data" -m immediate -w -t 30 stop >/dev/null 2>&1 && ok "the primary crashed (immediate stop)" ||
    bad "the primary did not stop"
own "$PGBIN/pg_ctl" -D "$SB" -w -t 60 promote >/dev/null 2>&1 && ok "the standby is promoted" || bad "promote failed"
n=$(q "SELECT count(*) FROM city.records WHERE id IN ($(for id in "${ids[@]}"; do printf "'\\\\x%s'::bytea," "$id"; done | sed 's/,$//'))" "$SPORT")
[ "$n" = 5 ] && ok "every acknowledged record is on the promoted standby" || bad "$n of 5 acknowledged records there"
expect_exit 0 "a record reads back from it" -- "$VAULTCTL" --vault "$VS" --key-file "$K" "${OFFICER[@]}" record get "${ids[4]}" --fields phone
expect_grep "13812345675" "$TMP/out" "the last acknowledged phone"
expect_exit 0 "its log verifies against the primary's checkpoint" -- "$VAULTCTL" --vault "$VS" --key-file "$K" audit verify --checkpoint "$TMP/cp.note"

finish

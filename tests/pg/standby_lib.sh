# A streaming standby beside the throwaway cluster (tests/pg/pg_cluster.sh
# run), for the standby tests: sourced after tests/cli/lib.sh (SRC, TMP,
# ok, bad, finish), with PGHOST, PGPORT and PGUSER set by the harness.
#   standby_start DIR PORT NAME  pg_basebackup into DIR, then start it on
#                                PORT (Unix socket beside the primary's),
#                                streaming as application_name NAME
#   standby_again DIR PORT       start it again after standby_stop
#   standby_stop DIR             immediate stop (no error when down)
#   standby_caught_up PORT       wait (10 s at most) until it has replayed
#                                all the primary has written: 0 when it has
#   standby_up DIR PORT NAME     standby_start, reported with ok; the test
#                                ends (exit 1) when it does not start
#   q SQL [PORT]                 one value from psql (PORT: the primary's)
# and, for the tests' vault: POL (the community policy), K (its key file)
# and OFFICER (a data officer of hangzhou/gongshu's subject flags).
POL="$SRC/policies/community.yaml"
K="$TMP/city.key"
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu --purpose resident_service)
unset VAULT_PASSPHRASE VAULT_PATH
q() { psql -X -q -A -t -p "${2:-$PGPORT}" -c "$1"; }
standby_up() {
    if standby_start "$1" "$2" "$3"; then
        ok "a streaming standby started"
    else
        bad "the standby did not start"; cat "$1.bb.log" "$1.log" 2>/dev/null | head -20
        finish; exit 1
    fi
}
PGBIN=/usr/lib/postgresql/15/bin
own() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
standby_again() {
    own "$PGBIN/pg_ctl" -D "$1" -l "$1.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$PGHOST' -c port=$2 -c unix_socket_permissions=0700" \
        start >/dev/null 2>&1
}
standby_start() {
    own "$PGBIN/pg_basebackup" -D "$1" -R -X stream -c fast \
        -d "host=$PGHOST port=$PGPORT user=$PGUSER application_name=$3" >"$1.bb.log" 2>&1 &&
        standby_again "$1" "$2"
}
standby_stop() { own "$PGBIN/pg_ctl" -D "$1" -m immediate -w -t 30 stop >/dev/null 2>&1 || true; }
standby_caught_up() {
    local want have
    want=$(psql -X -q -A -t -p "$PGPORT" -c "SELECT pg_current_wal_lsn()")
    for _ in $(seq 1 100); do
        have=$(psql -X -q -A -t -p "$1" -c "SELECT pg_last_wal_replay_lsn() >= '$want'::pg_lsn")
        [ "$have" = t ] && return 0
        sleep 0.1
    done
    return 1
}

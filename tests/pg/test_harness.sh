#!/usr/bin/env bash
# The throwaway PostgreSQL cluster of the tests (tests/pg/pg_cluster.sh):
# the server is PostgreSQL 15, listens on a Unix socket in its temporary
# directory only, commits durably, and is gone afterwards: after a command
# that succeeds, after one that fails (whose status comes back), and after
# the harness itself is killed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PGC=$HERE/pg_cluster.sh
TMP=$(mktemp -d /tmp/vault-pgtest-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fails=0
passes=0
ok()  { passes=$((passes + 1)); echo "ok - $1"; }
bad() { fails=$((fails + 1)); echo "not ok - $1"; }

probe() { # runs inside the cluster: writes what it sees to $1
    {
        echo "host=$PGHOST"
        echo "version=$(psql -XAtc 'show server_version')"
        echo "listen=$(psql -XAtc 'show listen_addresses')"
        echo "fsync=$(psql -XAtc 'show fsync')"
        echo "sync=$(psql -XAtc 'show synchronous_commit')"
        echo "uri_user=$(psql -XAt "$VAULT_PG_URI" -c 'select current_user')"
        echo "datadir=$(psql -XAtc 'show data_directory')"
    } >"$1"
}
export -f probe

"$PGC" run bash -c 'probe "$0"' "$TMP/seen" >"$TMP/log" 2>&1
rc=$?
if [ "$rc" = 77 ]; then cat "$TMP/log"; exit 77; fi
[ "$rc" = 0 ] && ok "a cluster starts and the command runs in it" || { bad "cluster run (exit $rc)"; cat "$TMP/log"; }
get() { sed -n "s/^$1=//p" "$TMP/seen"; }
case "$(get version)" in 15.*) ok "PostgreSQL 15 ($(get version))" ;; *) bad "PostgreSQL 15 (got '$(get version)')" ;; esac
[ -z "$(get listen)" ] && ok "no TCP listener (listen_addresses is empty)" || bad "no TCP listener ($(get listen))"
case "$(get host)" in /tmp/vault-pg-*/cluster/sock) ok "the socket is in the cluster's temporary directory" ;;
    *) bad "socket directory ($(get host))" ;; esac
[ "$(get fsync)" = on ] && [ "$(get sync)" = on ] && ok "commits are durable (fsync, synchronous_commit on)" ||
    bad "durable commits (fsync=$(get fsync) synchronous_commit=$(get sync))"
[ "$(get uri_user)" = vault_admin ] && ok "VAULT_PG_URI connects" || bad "VAULT_PG_URI connects ($(get uri_user))"
dir=$(dirname "$(get host)")
[ ! -e "$dir" ] && ok "the cluster's directory is removed" || bad "the cluster's directory is removed ($dir)"
pgrep -f -- "-D $(get datadir)" >/dev/null && bad "no server left running" || ok "no server left running"

# A failing command: its status comes back, the cluster still goes.
"$PGC" run bash -c 'echo "$PGHOST" >"$0"; exit 3' "$TMP/host2" >"$TMP/log" 2>&1
rc=$?
[ "$rc" = 3 ] && ok "a failing command's status comes back (3)" || bad "failing command's status (exit $rc)"
[ -s "$TMP/host2" ] && [ ! -e "$(dirname "$(cat "$TMP/host2")")" ] && ok "and the cluster is removed" ||
    bad "cluster removed after a failing command"

# The harness killed while the command runs: command and cluster go.
"$PGC" run bash -c 'echo $$ >"$0.pid"; echo "$PGHOST" >"$0"; exec sleep 120' "$TMP/host3" >"$TMP/log" 2>&1 &
h=$!
for _ in $(seq 1 1200); do [ -s "$TMP/host3" ] && break; sleep 0.1; done  # a start under load may be slow
kill -TERM "$h"
wait "$h"
rc=$?
[ "$rc" = 130 ] && ok "the harness stops on SIGTERM (exit 130)" || bad "harness on SIGTERM (exit $rc)"
if [ -s "$TMP/host3" ] && [ ! -e "$(dirname "$(cat "$TMP/host3")")" ]; then ok "and the cluster is removed"
else bad "cluster removed after SIGTERM"; fi
# (its own pid, not any "sleep 120": another run of this test may be going)
cmd_pid=$(cat "$TMP/host3.pid" 2>/dev/null)
[ -n "$cmd_pid" ] && ! kill -0 "$cmd_pid" 2>/dev/null && ok "the command is stopped too" ||
    bad "the command is stopped too (pid ${cmd_pid:-unknown})"

# Usage errors.
"$PGC" run >/dev/null 2>&1; [ $? = 1 ] && ok "run without a command is refused" || bad "run without a command"
mkdir "$TMP/exists"
"$PGC" start "$TMP/exists" >/dev/null 2>"$TMP/err"; rc=$?
[ "$rc" = 1 ] && grep -q "exists" "$TMP/err" && ok "start refuses an existing directory" ||
    bad "start refuses an existing directory (exit $rc)"

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]

#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests (docs/postgresql.md,
# "Tests"): created in a temporary directory, reachable only over a Unix
# socket there (no TCP), stopped and removed at the end.
#
#   tests/pg/pg_cluster.sh run CMD [ARG...]
#       start a cluster, run CMD with PGHOST, PGPORT, PGUSER and PGDATABASE
#       set (and VAULT_PG_URI, a libpq URI naming them), stop and remove
#       the cluster whatever CMD did; exit with CMD's status
#   tests/pg/pg_cluster.sh start DIR     (DIR must not exist; prints the
#                                         environment as shell assignments)
#   tests/pg/pg_cluster.sh stop DIR
#
# PostgreSQL 15 comes from Debian (postgresql-15).  When it is missing, the
# script installs it as root, and otherwise exits 77 (ctest's skip) with a
# message saying how to get it, unless VAULT_CI=1 is set (.ci/run sets it):
# CI never skips.  The server never runs as root: as root, the cluster
# belongs to the `postgres` user the Debian package creates.
set -euo pipefail

PGVER=15
PGBIN=/usr/lib/postgresql/$PGVER/bin
SUPERUSER=vault_admin
DATABASE=vault_test
PORT=5432 # names the socket file only; there is no TCP listener

die() { echo "pg_cluster: $*" >&2; exit 1; }

ensure_installed() {
    [ -x "$PGBIN/postgres" ] && [ -x "$PGBIN/initdb" ] && command -v psql >/dev/null && return 0
    if [ "$(id -u)" = 0 ]; then
        echo "pg_cluster: installing postgresql-$PGVER from Debian" >&2
        # The package's default cluster is not needed: only the programs.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "postgresql-$PGVER" "postgresql-client-$PGVER" >&2 ||
            die "apt-get install postgresql-$PGVER failed"
        return 0
    fi
    if [ "${VAULT_CI:-0}" = 1 ]; then
        die "PostgreSQL $PGVER is missing ($PGBIN/postgres) and CI never skips: run make deps as root"
    fi
    echo "SKIP: PostgreSQL $PGVER is not installed ($PGBIN/postgres); as root: apt-get install postgresql-$PGVER, or make deps" >&2
    exit 77
}

# as_owner CMD...: run as the cluster's owner.
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
    local dir=$1
    [ -e "$dir" ] && die "$dir exists: give a new directory"
    mkdir -m 0700 "$dir"
    mkdir -m 0700 "$dir/sock"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
    # Trust on the socket alone: the socket's directory is mode 0700, so
    # only its owner (and root) can reach it.
    as_owner "$PGBIN/initdb" -D "$dir/data" -U "$SUPERUSER" --auth=trust -E UTF8 \
        --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir/sock' -c port=$PORT -c unix_socket_permissions=0700" \
        start >/dev/null || { cat "$dir/server.log" >&2; die "the server did not start (log above)"; }
    PGHOST=$dir/sock PGPORT=$PORT PGUSER=$SUPERUSER \
        "$PGBIN/createdb" "$DATABASE" || die "createdb $DATABASE failed"
    echo "PGHOST='$dir/sock'; PGPORT=$PORT; PGUSER=$SUPERUSER; PGDATABASE=$DATABASE;" \
         "VAULT_PG_URI='postgresql:///$DATABASE?host=$dir/sock&port=$PORT&user=$SUPERUSER';" \
         "export PGHOST PGPORT PGUSER PGDATABASE VAULT_PG_URI"
}

stop() {
    local dir=$1
    [ -d "$dir/data" ] || return 0
    # fast: roll back open transactions; immediate if that hangs.
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
        as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}

case "${1:-}" in
run)
    shift
    [ $# -ge 1 ] || die "usage: pg_cluster.sh run CMD [ARG...]"
    ensure_installed
    base=$(mktemp -d /tmp/vault-pg-XXXXXX)
    chmod 0755 "$base" # the cluster's owner must reach its directory
    dir=$base/cluster
    trap 'stop "$dir"; rm -rf "$base"' EXIT
    eval "$(start "$dir")"
    # In the background, so that a signal to this script is handled at
    # once (bash runs traps only between commands, and `wait` is one):
    # the command is stopped, then the cluster.  Its standard input is
    # /dev/null.
    "$@" </dev/null &
    child=$!
    trap 'kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 130' INT TERM
    set +e
    wait "$child"
    rc=$?
    set -e
    exit $rc
    ;;
start)
    [ $# = 2 ] || die "usage: pg_cluster.sh start DIR"
    ensure_installed
    start "$2"
    ;;
stop)
    [ $# = 2 ] || die "usage: pg_cluster.sh stop DIR"
    stop "$2"
    ;;
*)
    die "usage: pg_cluster.sh run CMD [ARG...] | start DIR | stop DIR"
    ;;
esac

#!/usr/bin/env bash
# server/vaultd.service: the hardening issue 15 asks for is there, and
# systemd itself accepts the unit (systemd-analyze verify, with ExecStart
# pointing at the vaultd just built).  Usage: test_unit.sh VAULTD
set -u
VAULTD=$1
SRC=$(cd "$(dirname "$0")/../.." && pwd)
UNIT=$SRC/server/vaultd.service
fails=0
for want in '^Type=notify$' '^User=vaultd$' '^NoNewPrivileges=yes$' '^ProtectSystem=strict$' \
            '^LimitCORE=0$' '^PrivateTmp=yes$' '^CapabilityBoundingSet=$' '^UMask=0077$' \
            '--check-config$'; do
    if grep -q -- "$want" "$UNIT"; then echo "ok - $want"; else echo "not ok - $want missing"; fails=$((fails + 1)); fi
done
if command -v systemd-analyze >/dev/null; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    sed "s|/usr/sbin/vaultd|$VAULTD|g" "$UNIT" >"$tmp/vaultd.service"
    # The man pages are installed with the package, not on this machine:
    # systemd-analyze doesn't look for them; the generated ones are
    # checked below instead.
    if out=$(systemd-analyze verify --man=no "$tmp/vaultd.service" 2>&1) && [ -z "$out" ]; then
        echo "ok - systemd-analyze verify"
    else
        echo "not ok - systemd-analyze verify: $out"; fails=$((fails + 1))
    fi
else
    echo "not ok - systemd-analyze not found (Debian's systemd package)"; fails=$((fails + 1))
fi
# Every man page the unit's Documentation= names is one the build makes.
GEN=$(dirname "$VAULTD")/generated
docs=$(sed -n 's/^Documentation=//p' "$UNIT" | tr ' ' '\n' | sed -n 's/^man:\(.*\)(\([0-9]\))$/\1.\2/p')
if [ -z "$docs" ]; then
    echo "not ok - Documentation= names the man pages"; fails=$((fails + 1))
fi
for m in $docs; do
    if [ -f "$GEN/$m" ]; then echo "ok - Documentation: man page $m is generated"
    else echo "not ok - Documentation: man page $m is not generated ($GEN)"; fails=$((fails + 1)); fi
done
[ "$fails" = 0 ]

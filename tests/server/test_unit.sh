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
    if out=$(systemd-analyze verify "$tmp/vaultd.service" 2>&1) && [ -z "$out" ]; then
        echo "ok - systemd-analyze verify"
    else
        echo "not ok - systemd-analyze verify: $out"; fails=$((fails + 1))
    fi
else
    echo "not ok - systemd-analyze not found (Debian's systemd package)"; fails=$((fails + 1))
fi
[ "$fails" = 0 ]

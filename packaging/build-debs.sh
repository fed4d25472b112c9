#!/usr/bin/env bash
# Build the Debian packages from this source tree and check them with
# lintian (docs/packaging.md).  Usage: packaging/build-debs.sh OUTDIR
#
# The tree is copied first (the files git knows, committed or not, when it
# is a git checkout; else everything but build directories), so the build
# never writes into the checkout and `..` of the copy collects the .debs.
# OUTDIR gets the .deb files, the .changes/.buildinfo, build.log and
# lintian.log.  Exit 0 only if dpkg-buildpackage succeeded and lintian
# reported no error.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: packaging/build-debs.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
VERSION=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)
WORK=$(mktemp -d /tmp/libvault-deb-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
TREE="$WORK/libvault-$VERSION"
mkdir "$TREE"

if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Deleted but not yet committed files are skipped.
    (cd "$SRC" && git ls-files -z -co --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf -) | tar -C "$TREE" -xf -
else
    tar -C "$SRC" --exclude='./build*' --exclude='./.git' -cf - . | tar -C "$TREE" -xf -
fi

echo "packaging: dpkg-buildpackage -us -uc -b in $TREE (log: $OUT/build.log)"
# Debian's own tools, not a python3 or cmake first in a developer's PATH.
if ! (cd "$TREE" && env PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg-buildpackage -us -uc -b) >"$OUT/build.log" 2>&1; then
    echo "packaging: dpkg-buildpackage failed; the end of $OUT/build.log:" >&2
    tail -25 "$OUT/build.log" >&2
    exit 1
fi
rm -f "$OUT"/*.deb "$OUT"/*.changes "$OUT"/*.buildinfo
mv "$WORK"/*.deb "$WORK"/*.changes "$WORK"/*.buildinfo "$OUT"/
CHANGES=$(ls "$OUT"/*.changes)

echo "packaging: lintian (log: $OUT/lintian.log)"
set +e
lintian --fail-on error --display-info "$CHANGES" >"$OUT/lintian.log" 2>&1
rc=$?
set -e
errors=$(grep -c '^E: ' "$OUT/lintian.log" || true)
warnings=$(grep -c '^W: ' "$OUT/lintian.log" || true)
echo "packaging: lintian: $errors errors, $warnings warnings (exit $rc)"
if [ "$rc" != 0 ]; then
    grep -E '^(E|W): ' "$OUT/lintian.log" >&2 || cat "$OUT/lintian.log" >&2
    exit 1
fi
ls -1 "$OUT"/*.deb

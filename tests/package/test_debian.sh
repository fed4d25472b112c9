#!/usr/bin/env bash
# Builds the Debian packages (packaging/build-debs.sh: dpkg-buildpackage
# -us -uc -b, then lintian, which must report no error), then checks what
# each package holds and that the unpacked packages work together:
# vaultctl runs from them, its demo finds the packaged policies, and
# Debian's python3 imports the packaged bindings, which load the packaged
# libvault.so.0 through the normal loader.
set -u
fails=0
passes=0
TMP=$(mktemp -d /tmp/libvault-pkgtest-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
SRC=$(cd "$(dirname "$0")/../.." && pwd)
ok()  { passes=$((passes + 1)); echo "ok - $1"; }
bad() { fails=$((fails + 1)); echo "not ok - $1"; }

if [ "$(id -u)" != 0 ] && ! command -v dpkg-buildpackage >/dev/null; then
    echo "SKIP: dpkg-buildpackage is missing; as root, make deps installs it"
    exit 77
fi

OUT="$TMP/out"
if "$SRC/packaging/build-debs.sh" "$OUT" >"$TMP/build.out" 2>&1; then
    ok "dpkg-buildpackage -us -uc -b and lintian (no errors)"
else
    bad "dpkg-buildpackage -us -uc -b and lintian (no errors)"
    cat "$TMP/build.out"
    echo "$passes passed, $fails failed"
    exit 1
fi
grep '^packaging: lintian:' "$TMP/build.out"
grep -E '^(E|W): ' "$OUT/lintian.log" | sed 's/^/    lintian: /'

deb() { ls "$OUT"/"$1"_*.deb 2>/dev/null | head -1; }
# has PACKAGE PATH-REGEX WHAT
has() {
    local f
    f=$(deb "$1")
    if [ -n "$f" ] && dpkg-deb -c "$f" | awk '{print $6}' | grep -Eq "$2"; then ok "$1: $3"
    else bad "$1: $3 (no $2)"; fi
}
for p in libvault0 libvault-dev vaultctl vaultd python3-libvault; do
    [ -n "$(deb "$p")" ] && ok "package $p built" || bad "package $p built"
done
has libvault0 '^\./usr/lib/[^/]+/libvault\.so\.0$' "the shared library under its soname"
has libvault-dev '^\./usr/include/vault\.h$' "the header"
has libvault-dev '^\./usr/lib/[^/]+/libvault\.a$' "the static library"
has libvault-dev '^\./usr/lib/[^/]+/pkgconfig/libvault\.pc$' "the pkg-config file"
has libvault-dev '^\./usr/lib/[^/]+/cmake/libvault/libvaultConfig\.cmake$' "the CMake package"
has vaultctl '^\./usr/bin/vaultctl$' "the program"
has vaultctl '^\./usr/share/libvault/policies/community\.yaml$' "the shipped policies"
has vaultctl '^\./usr/share/man/man1/vaultctl\.1\.gz$' "its man page"
has vaultctl '^\./usr/share/bash-completion/completions/vaultctl$' "its bash completion"
has vaultd '^\./usr/sbin/vaultd$' "the program"
has vaultd '^\./usr/share/man/man8/vaultd\.8\.gz$' "its man page"
has vaultd '^\./usr/share/man/man5/vaultd\.conf\.5\.gz$' "the configuration's man page"
has vaultd '^\./lib/systemd/system/vaultd\.service$' "the systemd unit"
has python3-libvault '^\./usr/lib/python3/dist-packages/libvault/__init__\.py$' "the module"
has python3-libvault '^\./usr/lib/python3/dist-packages/libvault/py\.typed$' "the py.typed marker"
has python3-libvault '^\./usr/lib/python3/dist-packages/libvault-[0-9.]+\.dist-info/METADATA$' "its metadata"
if dpkg-deb -c "$(deb libvault0)" | grep -q 'libvault\.a\|vault\.h'; then
    bad "libvault0 holds no development files"
else ok "libvault0 holds no development files"; fi
dpkg-deb -f "$(deb python3-libvault)" Depends | grep -q 'libvault0' &&
    ok "python3-libvault depends on libvault0" || bad "python3-libvault depends on libvault0"
dpkg-deb -f "$(deb vaultd)" Depends | grep -q 'adduser' &&
    ok "vaultd depends on adduser (its postinst adds the vaultd user)" || bad "vaultd depends on adduser"
# libvault0 carries SQLCipher (docs/packaging.md): it doesn't depend on
# libsqlcipher0 and names the source it was built with.
dpkg-deb -f "$(deb libvault0)" Depends | grep -q 'libsqlcipher' &&
    bad "libvault0 depends on libsqlcipher0" || ok "libvault0 doesn't depend on libsqlcipher0"
for p in libvault0 libvault-dev; do
    dpkg-deb -f "$(deb $p)" Built-Using | grep -q '^sqlcipher (= ' && ok "$p: Built-Using sqlcipher" ||
        bad "$p: no Built-Using: sqlcipher"
done

# The packaged static library exports only the public API.
mkdir -p "$TMP/dev" && dpkg-deb -x "$(deb libvault-dev)" "$TMP/dev"
if nm -g --defined-only "$(ls "$TMP"/dev/usr/lib/*/libvault.a)" 2>/dev/null | awk '{print $3}' |
       grep -v '^vault_' | grep -q .; then
    bad "libvault.a: only vault_* symbols are global"
    nm -g --defined-only "$(ls "$TMP"/dev/usr/lib/*/libvault.a)" | grep -v ' vault_' | head -5
else ok "libvault.a: only vault_* symbols are global"; fi

# Unpack the runtime packages into one root and use them from there.
ROOT="$TMP/root"
for p in libvault0 vaultctl vaultd python3-libvault; do dpkg-deb -x "$(deb "$p")" "$ROOT"; done
LIBDIR=$(dirname "$(ls "$ROOT"/usr/lib/*/libvault.so.0)")
if LD_LIBRARY_PATH="$LIBDIR" "$ROOT/usr/bin/vaultctl" --version >"$TMP/v" 2>&1 &&
       grep -q "$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version | sed 's/-.*//')" "$TMP/v"; then
    ok "the packaged vaultctl runs and has the package's version"
else bad "the packaged vaultctl runs and has the package's version"; cat "$TMP/v"; fi
if (cd "$TMP" && "$ROOT/usr/bin/vaultctl" demo --no-service --residents 50) >"$TMP/demo" 2>&1 &&
       grep -q "$ROOT/usr/bin/../share/libvault/policies/community.yaml" "$TMP/demo"; then
    ok "the packaged demo runs on the packaged policy"
else bad "the packaged demo runs on the packaged policy"; tail -5 "$TMP/demo"; fi
if LD_LIBRARY_PATH="$LIBDIR" "$ROOT/usr/sbin/vaultd" --help >"$TMP/d" 2>&1; then
    ok "the packaged vaultd runs"
else bad "the packaged vaultd runs"; cat "$TMP/d"; fi
# Debian's python3, not a developer's: the package is for it.
if env -u LIBVAULT_PATH PYTHONPATH="$ROOT/usr/lib/python3/dist-packages" LD_LIBRARY_PATH="$LIBDIR" \
       /usr/bin/python3 -c 'import libvault; print(libvault.library_path)' >"$TMP/py" 2>&1 &&
       grep -q "^$LIBDIR/libvault.so.0" "$TMP/py"; then
    ok "Debian's python3 imports the packaged bindings, which load the packaged library"
else bad "Debian's python3 imports the packaged bindings"; cat "$TMP/py"; fi

# lintian's warnings, too, are none: the packages are clean.
if grep -q '^W: ' "$OUT/lintian.log"; then bad "lintian: no warnings"; else ok "lintian: no warnings"; fi

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]

#!/usr/bin/env bash
# Install into a temporary prefix, then build the README's C example against
# it twice: with pkg-config (libvault.pc) and with find_package(libvault)
# (target libvault::vault), and run both.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

BUILD=$(cd "$(dirname "$VAULTCTL")" && pwd)
PREFIX="$TMP/prefix"
cmake --install "$BUILD" --prefix "$PREFIX" >"$TMP/install.log" 2>&1 && ok "cmake --install" || { bad "cmake --install"; cat "$TMP/install.log"; }
LIBDIR=$(dirname "$(find "$PREFIX" -name 'libvault.so.0' | head -1)")
[ -f "$PREFIX/include/vault.h" ] && ok "header installed" || bad "header installed"
[ -n "$LIBDIR" ] && [ -f "$LIBDIR/libvault.a" ] && ok "shared and static libraries installed" || bad "libraries installed"
[ -f "$LIBDIR/pkgconfig/libvault.pc" ] && ok "libvault.pc installed" || bad "libvault.pc installed"
[ -f "$LIBDIR/cmake/libvault/libvaultConfig.cmake" ] && ok "CMake package installed" || bad "CMake package installed"
[ -x "$PREFIX/bin/vaultctl" ] && ok "vaultctl installed" || bad "vaultctl installed"
# The man pages and the bash completion generated from the help sources.
for page in man1/vaultctl.1 man5/vaultd.conf.5 man8/vaultd.8; do
    [ -f "$PREFIX/share/man/$page" ] && ok "$page installed" || bad "$page installed"
done
if [ -f "$PREFIX/share/bash-completion/completions/vaultctl" ] &&
   [ "$(bash -c 'source "$1"; COMP_WORDS=(vaultctl rec); COMP_CWORD=1; _vaultctl; echo "${COMPREPLY[*]}"' _ \
        "$PREFIX/share/bash-completion/completions/vaultctl")" = record ]; then
    ok "bash completion installed and completes"; else bad "bash completion installed"; fi

# The installed vaultctl's demo takes the installed policy (and the
# installed vaultd), not the build tree's.
[ -f "$PREFIX/share/libvault/policies/community.yaml" ] && ok "policies installed in share/libvault" ||
    bad "policies installed"
if (cd "$TMP" && ASAN_OPTIONS=detect_leaks=0 "$PREFIX/bin/vaultctl" demo --no-service --residents 50) \
       >"$TMP/demo.out" 2>&1; then ok "the installed demo runs"; else bad "the installed demo runs"; tail -5 "$TMP/demo.out"; fi
expect_grep "$PREFIX/bin/../share/libvault/policies/community.yaml" "$TMP/demo.out" \
    "the installed demo uses the installed policy"

# The README's example, verbatim.
awk '/^```c$/{on=1; next} /^```$/{on=0} on' "$SRC/README.md" >"$TMP/example.c"
[ -s "$TMP/example.c" ] && ok "README has a C example" || bad "README has a C example"
SAN=""
grep -q '^VAULT_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" && SAN="-fsanitize=address,undefined"

run_example() { # DIR BINARY
    mkdir -p "$1/policies" && cp "$SRC/policies/community.yaml" "$1/policies/"
    (cd "$1" && LD_LIBRARY_PATH="$LIBDIR" ASAN_OPTIONS=detect_leaks=0 "$2") >"$TMP/out" 2>&1
}

export PKG_CONFIG_PATH="$LIBDIR/pkgconfig"
if cc $SAN -o "$TMP/ex-pc" "$TMP/example.c" $(pkg-config --cflags --libs libvault) 2>"$TMP/err"; then
    ok "example builds with pkg-config"
    if run_example "$TMP/run-pc" "$TMP/ex-pc"; then ok "example runs"; else bad "example runs"; cat "$TMP/out"; fi
    expect_grep "phone = 13812345678 (allow by rule" "$TMP/out" "example prints the value and the rule"
else
    bad "example builds with pkg-config"; cat "$TMP/err"
fi

# Cflags carry only what vault.h needs: an app that includes both vault.h
# and sqlite3.h compiles against the system's header, not SQLCipher's
# older one (the private dependencies are in Libs.private, not
# Requires.private, whose Cflags pkg-config would add).
cflags=$(pkg-config --cflags libvault)
# The system's SQLite header and library, for the checks below that an
# app may use both (libsqlite3-dev is in the Makefile's DEPS).
[ -f /usr/include/sqlite3.h ] && ok "the system's sqlite3.h is there" ||
    bad "/usr/include/sqlite3.h missing: install libsqlite3-dev (make deps)"
set -- $cflags
if [ $# = 1 ] && [ "$(cd "${1#-I}" 2>/dev/null && pwd)" = "$(cd "$PREFIX/include" && pwd)" ]; then
    ok "libvault.pc Cflags: only the include directory"; else bad "libvault.pc Cflags: '$cflags'"; fi
# SQLCipher is inside libvault, its names hidden: nothing to link besides.
pkg-config --static --libs libvault | grep -q -- "-lsqlcipher" &&
    bad "pkg-config --static --libs libvault names -lsqlcipher" || ok "static linking needs no -lsqlcipher"
readelf -d "$LIBDIR/libvault.so.0" | grep -q 'NEEDED.*libsqlcipher' &&
    bad "libvault.so.0 needs libsqlcipher.so.0" || ok "libvault.so.0 doesn't load libsqlcipher.so.0"
n=$(nm -D --defined-only "$LIBDIR/libvault.so.0" | awk 'NF == 3 && $3 !~ /^vault_/' | wc -l)
[ "$n" = 0 ] && ok "libvault.so.0 exports only vault_* names" || bad "libvault.so.0 exports $n other names"
n=$(nm -D --defined-only "$LIBDIR/libvault.so.0" | awk 'NF == 3 && $3 ~ /^vault__/' | wc -l)
[ "$n" = 0 ] && ok "and no vault__ internals" || bad "libvault.so.0 exports $n vault__ internals"
if [ -f /usr/include/sqlite3.h ]; then
    printf '#include <vault.h>\n#include <sqlite3.h>\n#if SQLITE_VERSION_NUMBER < 3016000\n#error SQLCipher 3.4 header (SQLite 3.15)\n#endif\nint main(void) { return 0; }\n' >"$TMP/both.c"
    if cc -c -o "$TMP/both.o" "$TMP/both.c" $cflags 2>"$TMP/err"; then
        ok "vault.h with the system's sqlite3.h"; else bad "vault.h with sqlite3.h"; cat "$TMP/err"; fi
fi

# The installed static library exports the public API only: an
# application with functions of its own named like libvault's internals
# (store_open, af_leaf_hash) links against it and runs.
printf 'int store_open(void) { return 42; }\nint af_leaf_hash(void) { return 7; }\n' >"$TMP/mine.c"
libs=$(pkg-config --static --libs libvault | sed "s|-lvault|$LIBDIR/libvault.a|")
if cc $SAN -o "$TMP/ex-static" "$TMP/example.c" "$TMP/mine.c" $cflags $libs 2>"$TMP/err"; then
    ok "an app with its own store_open links the static library"
    if run_example "$TMP/run-static" "$TMP/ex-static"; then ok "and runs"; else bad "and runs"; cat "$TMP/out"; fi
else
    bad "an app with its own store_open links the static library"; head -5 "$TMP/err"
fi
n=$(nm -g --defined-only "$LIBDIR/libvault.a" | awk 'NF == 3 && $3 !~ /^vault_/ {print $3}' | grep -v '^vault__' | wc -l)
[ "$n" = 0 ] && ok "libvault.a defines only vault_* names" || bad "libvault.a defines $n other names"
n=$(nm -g --defined-only "$LIBDIR/libvault.a" | awk 'NF == 3 && $3 ~ /^vault__/' | wc -l)
[ "$n" = 0 ] && ok "and no vault__ internals" || bad "libvault.a exports $n vault__ internals"

# An application that uses the system's SQLite too (-lsqlite3, ahead of
# libvault in the link, so its sqlite3_* come first): SQLite work before
# and after the README's example answers from the system's SQLite (json()
# is newer than SQLCipher's SQLite 3.15), the example's vault works, and
# the vault it wrote is encrypted (the system's SQLite can't read it).
if [ -f /usr/include/sqlite3.h ]; then
    cat >"$TMP/mixed.c" <<'MIXED'
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
int example_main(void);
static int plain_sqlite(const char *when)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_libversion_number() == SQLITE_VERSION_NUMBER &&
             sqlite3_open(":memory:", &db) == SQLITE_OK &&
             sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (json('[1, 2]'))", 0, 0, 0) == SQLITE_OK &&
             sqlite3_prepare_v2(db, "SELECT x FROM t", -1, &st, NULL) == SQLITE_OK &&
             sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "[1,2]") == 0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (!ok) fprintf(stderr, "system SQLite %s the vault: wrong answer\n", when);
    return ok;
}
static int vault_file_unreadable(void)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2("street.vault", &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", 0, 0, 0);
    sqlite3_close(db);
    if (rc != SQLITE_NOTADB) fprintf(stderr, "street.vault: plain SQLite got %d, not SQLITE_NOTADB\n", rc);
    return rc == SQLITE_NOTADB;
}
int main(void)
{
    if (!plain_sqlite("before")) return 10;
    if (example_main() != 0) return 11;
    if (!plain_sqlite("after")) return 12;
    return vault_file_unreadable() ? 0 : 13;
}
MIXED
    sed 's/^int main(/int example_main(/' "$TMP/example.c" >"$TMP/example-lib.c"
    if cc $SAN -o "$TMP/mixed-shared" "$TMP/mixed.c" "$TMP/example-lib.c" -lsqlite3 \
          $(pkg-config --cflags --libs libvault) 2>"$TMP/err"; then
        if run_example "$TMP/run-mixed-shared" "$TMP/mixed-shared"; then
            ok "an app with the system's libsqlite3 and libvault.so runs"
        else bad "an app with the system's libsqlite3 and libvault.so runs (exit $?)"; cat "$TMP/out"; fi
    else bad "an app with -lsqlite3 links libvault.so"; head -5 "$TMP/err"; fi
    if cc $SAN -o "$TMP/mixed-static" "$TMP/mixed.c" "$TMP/example-lib.c" -lsqlite3 $cflags $libs 2>"$TMP/err"; then
        if run_example "$TMP/run-mixed-static" "$TMP/mixed-static"; then
            ok "an app with the system's libsqlite3 and libvault.a runs"
        else bad "an app with the system's libsqlite3 and libvault.a runs (exit $?)"; cat "$TMP/out"; fi
    else bad "an app with -lsqlite3 links libvault.a"; head -5 "$TMP/err"; fi
fi

# cmake_consumer DIR TARGET WHAT: DIR/example.c, built with
# find_package(libvault) against TARGET, then run.
cmake_consumer() {
    cat >"$1/CMakeLists.txt" <<CMK
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(libvault 0.1 REQUIRED)
add_executable(example example.c)
target_link_libraries(example PRIVATE $2)
CMK
    if cmake -S "$1" -B "$1/build" -DCMAKE_PREFIX_PATH="$PREFIX" \
           -DCMAKE_C_FLAGS="$SAN" -DCMAKE_EXE_LINKER_FLAGS="$SAN" >"$1/cm.log" 2>&1 &&
       cmake --build "$1/build" >>"$1/cm.log" 2>&1; then
        ok "$3 builds"
        if run_example "$1/run" "$1/build/example"; then ok "and runs"; else bad "and runs"; cat "$TMP/out"; fi
    else
        bad "$3 builds"; tail -20 "$1/cm.log"
    fi
}

mkdir -p "$TMP/consumer"
cp "$TMP/example.c" "$TMP/consumer/"
cmake_consumer "$TMP/consumer" libvault::vault "the example with find_package(libvault) and libvault::vault"

# libvault::vault_static passes its dependencies' libraries on, not their
# include directories: the system's sqlite3.h, not SQLCipher's, in an app
# that includes both.  Then the same app links and runs.
if [ -f /usr/include/sqlite3.h ]; then
    mkdir -p "$TMP/consumer-static"
    cat "$TMP/both.c" | sed 's/int main(void) { return 0; }//' >"$TMP/consumer-static/both.h"
    { echo '#include "both.h"'; sed 's/^int main(/int example_main(/' "$TMP/example.c";
      echo 'int main(void) { return example_main(); }'; } >"$TMP/consumer-static/example.c"
    cmake_consumer "$TMP/consumer-static" libvault::vault_static \
        "libvault::vault_static with the system's sqlite3.h"
fi
finish

#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan + UBSan) against the library
# sources and run each for SECONDS with its seed corpus.
#
#   fuzz/run.sh [SECONDS] [TARGET...]        (make fuzz FUZZ_SECONDS=600)
#
# TARGET is fuzz_policy, fuzz_csv, ... (default: every fuzz/fuzz_*.c).
# Environment: FUZZ_JOBS (targets run at once, default 1), FUZZ_OUT (build
# and work directory, default build-fuzz/), FUZZ_FLAGS (extra libFuzzer
# flags), CC (default clang).
#
# New inputs go to $FUZZ_OUT/corpus/<target>, never into fuzz/corpus (the
# seeds are read only).  Crashes, leaks, timeouts and OOMs land in
# fuzz/findings/<target>-*.  Logs: $FUZZ_OUT/logs/<target>.log; a summary
# line per target (seconds, execs, coverage, result) is printed at the end.
# Exit status: 0 when every target ran clean, 1 on any finding, 2 on a
# build or usage error.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_PER_TARGET=${1:-60}
shift || true
case $SECONDS_PER_TARGET in
    ''|*[!0-9]*) echo "usage: fuzz/run.sh [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
CC=${CC:-clang}
OUT=${FUZZ_OUT:-$ROOT/build-fuzz}
JOBS=${FUZZ_JOBS:-1}
FINDINGS=$ROOT/fuzz/findings
mkdir -p "$OUT/obj" "$OUT/corpus" "$OUT/logs" "$FINDINGS" || exit 2

if [ $# -gt 0 ]; then
    TARGETS=("$@")
else
    TARGETS=()
    for f in "$ROOT"/fuzz/fuzz_*.c; do TARGETS+=("$(basename "$f" .c)"); done
fi
for t in "${TARGETS[@]}"; do
    [ -f "$ROOT/fuzz/$t.c" ] || { echo "fuzz/run.sh: no fuzz/$t.c" >&2; exit 2; }
done

command -v "$CC" >/dev/null || { echo "fuzz/run.sh: $CC not found (make deps installs clang)" >&2; exit 2; }
PKG_CFLAGS=$(pkg-config --cflags libsodium sqlcipher yaml-0.1 jansson gnutls libcurl) || exit 2
PKG_LIBS=$(pkg-config --libs libsodium sqlcipher yaml-0.1 jansson gnutls libcurl) || exit 2
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -DSQLITE_HAS_CODEC -Wall -Wextra -Wshadow
        -I$ROOT/include -I$ROOT/libvault -I$ROOT/server -I$ROOT/witness $PKG_CFLAGS $SAN"

# The library once (and vaultd's token checks and request layer: server/token.c,
# dispatch.c, routes.c, auth.c, pool.c; the witness below HTTP), with coverage
# instrumentation but without libFuzzer's main.
echo "fuzz/run.sh: building the library with $CC" >&2
objs=()
for src in "$ROOT"/libvault/*.c "$ROOT"/libvault/*/*.c "$ROOT"/server/token.c \
           "$ROOT"/server/dispatch.c "$ROOT"/server/routes.c "$ROOT"/server/auth.c "$ROOT"/server/pool.c "$ROOT"/server/files.c \
           "$ROOT"/witness/witness_core.c "$ROOT"/witness/witness_state.c "$ROOT"/witness/witness_key.c; do
    obj=$OUT/obj/$(basename "$src" .c).o
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$ROOT/fuzz/run.sh" -nt "$obj" ] ||
       [ -n "$(find "$ROOT/libvault" "$ROOT/include" "$ROOT/server" "$ROOT/witness" -name '*.h' -newer "$obj" 2>/dev/null | head -1)" ]; then
        # shellcheck disable=SC2086
        $CC $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj" || exit 2
    fi
    objs+=("$obj")
done
for t in "${TARGETS[@]}"; do
    echo "fuzz/run.sh: building $t" >&2
    # shellcheck disable=SC2086
    $CC $CFLAGS -fsanitize=fuzzer "$ROOT/fuzz/$t.c" "${objs[@]}" $PKG_LIBS -lcsv -lunistring -lpthread \
        -o "$OUT/$t" || exit 2
done

run_one() {
    local t=$1 work=$OUT/corpus/$1 log=$OUT/logs/$1.log rc
    mkdir -p "$work"
    # Keep the seeds' sub-directories out of the work corpus: libFuzzer reads
    # fuzz/corpus/<t> itself (second directory: read, never written).
    before=$(find "$FINDINGS" -maxdepth 1 -name "$t-*" | wc -l)
    # shellcheck disable=SC2086
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$OUT/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=30 -rss_limit_mb=2048 \
        -max_len=1048576 -print_final_stats=1 -artifact_prefix="$FINDINGS/$t-" \
        ${FUZZ_FLAGS:-} "$work" "$ROOT/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    after=$(find "$FINDINGS" -maxdepth 1 -name "$t-*" | wc -l)
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    if [ "$rc" = 0 ] && [ "$after" = "$before" ]; then result=clean; else result="FINDING (exit $rc, see $log)"; fi
    printf '%-14s %6ss  execs %-10s cov %-6s ft %-6s %s\n' "$t" "$SECONDS_PER_TARGET" \
        "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result" >"$OUT/logs/$t.summary"
    [ "$result" = clean ]
}

status=0
for t in "${TARGETS[@]}"; do
    rm -f "$OUT/logs/$t.summary"
    echo "fuzz/run.sh: running $t for ${SECONDS_PER_TARGET}s" >&2
    run_one "$t" &
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 1; done
done
wait
# The verdict comes from the summaries (bash may forget the status of a
# background job once `jobs` has reported it).
echo "target         time    executions       coverage     result"
for t in "${TARGETS[@]}"; do
    if [ -f "$OUT/logs/$t.summary" ]; then cat "$OUT/logs/$t.summary"; else echo "$t: no result"; fi
    grep -q ' clean$' "$OUT/logs/$t.summary" 2>/dev/null || status=1
done
if [ "$status" != 0 ]; then
    echo "fuzz/run.sh: findings in $FINDINGS (add each to fuzz/corpus/<target>/ once fixed)" >&2
fi
exit $status

#!/usr/bin/env bash
# A vaultctl process that holds keys can't dump them and doesn't show its
# secrets: RLIMIT_CORE is 0, it is not dumpable (so /proc/PID/* belongs to
# root and other users can't read or ptrace it), VAULT_PASSPHRASE is gone
# from /proc/PID/environ, and `record find --value-stdin` keeps the value
# out of /proc/PID/cmdline (what `ps` shows).
#
# vaultctl is caught while it blocks reading the search value from a FIFO
# this script holds open.  Run as root, vaultctl runs as nobody (setpriv), so
# the owner of /proc/PID/environ tells dumpable (nobody) from not (root),
# and root can still read the environment to check it was wiped.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

POL="$SRC/policies/community.yaml"
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
PASS="correct horse battery staple 7f3a"
PHONE=13912345678
unset VAULT_PASSPHRASE VAULT_NEW_PASSPHRASE VAULT_PATH

D="$TMP/run"
mkdir "$D"
V="$D/street.vault"
expect_exit 0 "init with a passphrase" -- env VAULT_PASSPHRASE="$PASS" "$VAULTCTL" --vault "$V" --kdf interactive init --policy "$POL"
expect_exit 0 "record add" -- env VAULT_PASSPHRASE="$PASS" "$VAULTCTL" --vault "$V" "${OFFICER[@]}" record add \
    --in hangzhou/gongshu/xiaohe/changzheng/grid-07 name=张三 phone=$PHONE
ID=$(tr -d '\n' <"$TMP/out")

# Negative cases of --value-stdin first.
expect_exit 2 "--value and --value-stdin together" -- env VAULT_PASSPHRASE="$PASS" "$VAULTCTL" --vault "$V" \
    "${OFFICER[@]}" record find --field phone --value $PHONE --value-stdin
expect_exit 2 "--value-stdin only goes with find" -- env VAULT_PASSPHRASE="$PASS" "$VAULTCTL" --vault "$V" \
    "${OFFICER[@]}" record get "$ID" --value-stdin
expect_exit 2 "find without any value" -- env VAULT_PASSPHRASE="$PASS" "$VAULTCTL" --vault "$V" \
    "${OFFICER[@]}" record find --field phone
head -c 70000 /dev/zero | tr '\0' 1 >"$TMP/long"
expect_exit 7 "a value longer than the field maximum" -- env VAULT_PASSPHRASE="$PASS" "$VAULTCTL" --vault "$V" \
    "${OFFICER[@]}" record find --field phone --value-stdin <"$TMP/long"
expect_grep "longer than" "$TMP/err" "says the value is too long"
expect_no_grep 1111 "$TMP/err" "the error does not show the value"
printf '%s\n' $PHONE >"$TMP/value"
expect_exit 0 "find with the value on stdin (one newline dropped)" -- env VAULT_PASSPHRASE="$PASS" "$VAULTCTL" \
    --vault "$V" "${OFFICER[@]}" record find --field phone --value-stdin <"$TMP/value"
expect_grep "$ID" "$TMP/out" "finds the record"
printf '%s' $PHONE >"$TMP/value"
expect_exit 0 "find with the value on stdin (no newline)" -- env VAULT_PASSPHRASE="$PASS" "$VAULTCTL" \
    --vault "$V" "${OFFICER[@]}" record find --field phone --value-stdin <"$TMP/value"
expect_grep "$ID" "$TMP/out" "finds the record"
printf '%s\n' 13900000000 >"$TMP/value"
expect_exit 0 "find with another value on stdin" -- env VAULT_PASSPHRASE="$PASS" "$VAULTCTL" \
    --vault "$V" "${OFFICER[@]}" record find --field phone --value-stdin <"$TMP/value"
expect_no_grep "$ID" "$TMP/out" "another value finds nothing"

# The caught process.  As root, run it as nobody so ownership means something.
RUNAS=()
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    chmod 711 "$TMP"
    chown -R 65534:65534 "$D"
    RUNAS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
RUN=$VAULTCTL
if [ ${#RUNAS[@]} -gt 0 ] && ! "${RUNAS[@]}" "$VAULTCTL" --version >/dev/null 2>&1; then
    # The build tree is private to root (a clone in a 0700 temporary
    # folder): give nobody its own copy of vaultctl and libvault.
    mkdir "$D/bin"
    cp "$VAULTCTL" "$D/bin/vaultctl"
    LIB=$(ldd "$VAULTCTL" | awk '/libvault\.so/ {print $3}')
    [ -z "$LIB" ] || cp "$LIB" "$D/bin/" # none today: vaultctl links libvault statically
    chmod -R a+rX "$D/bin"
    RUN="$D/bin/vaultctl"
    export LD_LIBRARY_PATH="$D/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
FIFO="$D/value.fifo"
mkfifo -m 666 "$FIFO"
VAULT_PASSPHRASE="$PASS" "${RUNAS[@]}" "$RUN" --vault "$V" "${OFFICER[@]}" \
    record find --field phone --value-stdin <"$FIFO" >"$TMP/found" 2>"$TMP/found.err" &
PID=$!
exec 3>"$FIFO" # opens once vaultctl (the reader) has; the value stays unsent

# Wait (at most 20 s) until it is blocked reading the value: until then it
# may still be starting up.  It can't get past the read while we hold fd 3.
blocked=0
for _ in $(seq 200); do
    if [ "$(readlink "/proc/$PID/exe" 2>/dev/null)" = "$(readlink -f "$RUN")" ] &&
        grep -q pipe "/proc/$PID/wchan" 2>/dev/null; then
        blocked=1
        break
    fi
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
done
if [ "$blocked" = 1 ]; then ok "vaultctl waits for the value on standard input"; else
    bad "vaultctl did not block on standard input"; sed 's/^/    /' "$TMP/found.err"; fi

if grep -q '^Max core file size *0 *0 ' "/proc/$PID/limits" 2>/dev/null; then
    ok "RLIMIT_CORE is 0 (soft and hard)"; else
    bad "core dumps are not disabled"; grep 'core' "/proc/$PID/limits" | sed 's/^/    /'; fi

owner=$(stat -c %u "/proc/$PID/environ" 2>/dev/null)
if [ ${#RUNAS[@]} -gt 0 ] || [ "$(id -u)" != 0 ]; then
    # Dumpable: owned by the process's own user; not dumpable: by root.
    if [ "$owner" = 0 ]; then ok "not dumpable (/proc/PID/environ belongs to root)"; else
        bad "still dumpable (/proc/PID/environ belongs to uid ${owner:-?})"; fi
else
    echo "# skip - dumpable check needs root with setpriv, or a non-root run"
fi

if tr '\0' '\n' <"/proc/$PID/environ" >"$TMP/environ" 2>/dev/null; then
    expect_no_grep "VAULT_PASSPHRASE" "$TMP/environ" "VAULT_PASSPHRASE is gone from /proc/PID/environ"
    expect_no_grep "$PASS" "$TMP/environ" "the passphrase bytes are gone from /proc/PID/environ"
    expect_grep "VAULT_SOURCE_DIR\|PATH=" "$TMP/environ" "(the rest of the environment is still readable)"
else
    echo "# skip - /proc/PID/environ is unreadable here (not root), as a non-dumpable process's is"
fi

tr '\0' ' ' <"/proc/$PID/cmdline" >"$TMP/cmdline" 2>/dev/null
expect_grep "value-stdin" "$TMP/cmdline" "(the command line is readable, as ps shows it)"
expect_no_grep "$PHONE" "$TMP/cmdline" "the searched value is not on the command line"

trap '' PIPE # if vaultctl is gone, the write fails instead of killing the test
printf '%s\n' $PHONE >&3 2>/dev/null
exec 3>&-
wait "$PID"
rc=$?
[ "$rc" = 0 ] && ok "the caught process unlocked and searched (exit 0)" || {
    bad "the caught process failed (exit $rc)"; sed 's/^/    /' "$TMP/found.err"; }
expect_grep "$ID" "$TMP/found" "it found the record"

finish

#!/usr/bin/env bash
# vaultctl demo (make demo): the embedded tour and its service part
# (cli/demo_service.c).  Checks the service part's key lines (the grid
# worker through vaultd, the hotline app refused for health, the two-person
# grant, the audit entries naming issuer, subject, app and peer), that
# vaultd is stopped and nothing is left behind, and how a missing or broken
# vaultd fails.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"
unset VAULT_PATH VAULT_TOKEN

# ---- the whole demo, kept in a directory so its files can be checked ----
KEEP="$TMP/kept"
expect_exit 0 "the demo runs (embedded tour and service part)" -- \
    "$VAULTCTL" demo --residents 300 --keep "$KEEP"
cp "$TMP/out" "$TMP/demo"
D="$TMP/demo"
expect_grep "== 10. The files on disk hold no plaintext" "$D" "the embedded tour is still there"
expect_grep "^== 11\. .*vaultd holds the keys" "$D" "step 11 starts vaultd"
expect_grep "on the Unix socket $KEEP/vaultd.sock" "$D" "vaultd serves the demo's vault on a socket in its directory"
expect_grep "and on TLS https://127.0.0.1:[0-9]*" "$D" "and over TLS on 127.0.0.1"
expect_grep "street-desk   processes of uid $(id -u) on the socket" "$D" "the socket maps this uid to street-desk"
# step 5b: the 12345 case (policies/hotline.yaml): the bureau sees the
# caller as its pseudonym, never the identity (the attempt raises an alarm);
# another department sees another pseudonym; it answers; the refusal is logged.
sed -n '/^== 5b/,/^== 6/p' "$D" >"$TMP/s5b"
expect_grep "^ *appeal  *plain .*handling-read-order" "$TMP/s5b" "the bureau reads the appeal"
expect_grep "^ *phone  *masked PSN-[a-z2-7]\{16\} .*handling-caller-pseudonym" "$TMP/s5b" \
    "the bureau sees the caller's phone as a pseudonym"
expect_no_grep "1385712" "$TMP/s5b" "the caller's number is never shown"
expect_grep "^ *complainant_identity  *DENIED .*handling-deny-identity" "$TMP/s5b" \
    "the bureau is denied the complainant's identity"
expect_grep "Both orders show the caller as PSN-[a-z2-7]\{16\} to the bureau" "$TMP/s5b" \
    "the same pseudonym on both orders"
expect_grep "^ *reply  *plain .*agent-followup-order" "$TMP/s5b" "the desk reads the bureau's reply"
expect_grep "qian.bureau .*complainant_identity:deny" "$TMP/s5b" "the refusal is in the denials report"
expect_no_grep "实名投诉" "$TMP/s5b" "the identity's text appears nowhere"
expect_grep "An alarm is raised .*: deny handling-deny-identity: qian.bureau" "$TMP/s5b" \
    "the attempt on the identity raises the rule's alarm"
expect_grep "Market supervision, handed the same order, sees the caller as PSN-[a-z2-7]\{16\}: the two departments' pseudonyms can't be joined" \
    "$TMP/s5b" "another department gets another pseudonym"
# step 13: the grid worker through grid-app
sed -n '/^== 13/,/^== 14/p' "$D" >"$TMP/s13"
expect_grep "grid worker via grid-app reads record" "$TMP/s13" "the grid worker reads through vaultd"
expect_grep "^ *phone  *masked 1[0-9]\{2\}\*\*\*\*[0-9]\{4\} " "$TMP/s13" "phone masked through the service"
expect_grep "^ *health  *DENIED " "$TMP/s13" "health denied through the service"
# step 14: hotline-app
sed -n '/^== 14/,/^== 15/p' "$D" >"$TMP/s14"
expect_grep "hotline-app, token sun.hotline reads record" "$TMP/s14" "the token, not the claimed subject, acts"
expect_grep "^ *health  *DENIED " "$TMP/s14" "the hotline agent's token cannot read health"
expect_grep "refused (VAULT_EDENIED): app hotline-app may not act for department health" "$TMP/s14" \
    "hotline-app refused when it asserts the health department"
# step 15: the two-person rule
sed -n '/^== 15/,/^== 16/p' "$D" >"$TMP/s15"
expect_grep "grant g-[0-9a-f]\{16\}, pending: special grade needs a second officer" "$TMP/s15" \
    "the special-grade grant is pending"
expect_grep "li.officer approves it with her own token: refused (VAULT_EDENIED)" "$TMP/s15" \
    "the issuing officer's own approval is refused"
expect_grep "zhou.officer approves it with his token: approved" "$TMP/s15" "a second officer approves"
expect_grep "community_correction  *plain .*allow by grant g-" "$TMP/s15" "the approved grant applies"
# step 16: principals in the audit entries
sed -n '/^== 16/,/^== 17/p' "$D" >"$TMP/s16"
ISS='iss=https://id.demo.invalid'
expect_grep "read  *ok  *$ISS sub=wang.grid app=grid-app peer=tls:127.0.0.1:[0-9]*,cert=[0-9a-f]*" \
    "$TMP/s16" "audit: the grid worker's read names issuer, subject, app and TLS peer"
expect_grep "session_open denied $ISS sub=zhao.health app=hotline-app peer=tls:" "$TMP/s16" \
    "audit: the hotline app's refusal is an entry with its principal"
expect_grep "approve  *denied $ISS sub=li.officer app=street-desk peer=unix:uid=$(id -u)," "$TMP/s16" \
    "audit: the refused self-approval names the socket peer"
expect_grep "approve  *ok  *$ISS sub=zhou.officer app=street-desk" "$TMP/s16" \
    "audit: the second officer's approval"
expect_no_grep "app= " "$TMP/s16" "audit: only entries with an app are listed"
# step 17: vaultd stopped, nothing left running
expect_grep "exited with status 0; its socket is gone" "$D" "vaultd stopped by SIGTERM, exit 0"
expect_grep "^Done\." "$D" "the demo ends"
LEFT=$(pgrep -f "$KEEP/vaultd.yaml")
if [ -n "$LEFT" ]; then bad "a vaultd is still running"; kill $LEFT; else ok "no vaultd left running"; fi
if [ -e "$KEEP/vaultd.sock" ] || [ -e "$KEEP/notify.sock" ]; then bad "a socket was left in the directory"
else ok "no socket left in the directory"; fi
expect_grep "^  unix_mode: 0600" "$KEEP/vaultd.yaml" "the socket is for this uid only"
expect_grep "^  - app: grid-app" "$KEEP/vaultd.yaml" "the config maps grid-app"
expect_grep "^    tls_cn: hotline-app" "$KEEP/vaultd.yaml" "the config maps hotline-app by certificate"
expect_grep "vaultd: stopping (signal 15)" "$KEEP/vaultd.log" "vaultd's log shows the SIGTERM"
# The service's entries are in the vault's own log, and it still verifies.
expect_exit 0 "the vault's log verifies after the service part" -- \
    "$VAULTCTL" --vault "$KEEP/street.vault" --key-file "$KEEP/street.key" audit verify
expect_exit 0 "the user report of zhou.officer" -- \
    "$VAULTCTL" --vault "$KEEP/street.vault" --key-file "$KEEP/street.key" audit report --user zhou.officer
expect_grep "\[app=street-desk iss=https://id.demo.invalid sub=zhou.officer\]  approve" "$TMP/out" \
    "the approval is on record with its principal"

# ---- the temporary directory is removed ----
expect_exit 0 "the demo in a temporary directory" -- "$VAULTCTL" demo --residents 100
DIR=$(sed -n 's|.*vaultd serves \(/tmp/vaultctl-demo-[A-Za-z0-9]*\)/street.vault.*|\1|p' "$TMP/out")
if [ -n "$DIR" ] && [ ! -e "$DIR" ]; then ok "the temporary directory is removed"; else
    bad "temporary directory '$DIR' left behind"; fi

# ---- --no-service: the embedded tour alone ----
expect_exit 0 "--no-service" -- "$VAULTCTL" demo --residents 100 --no-service
expect_no_grep "^== 11" "$TMP/out" "--no-service stops after the embedded tour"
expect_grep "^Done\." "$TMP/out" "--no-service ends the tour"

# ---- a missing or broken vaultd ----
expect_exit 1 "--vaultd that does not exist" -- "$VAULTCTL" demo --vaultd "$TMP/no-such-vaultd"
expect_grep "vaultctl: demo: --vaultd $TMP/no-such-vaultd: No such file" "$TMP/err" \
    "a missing vaultd is named"
expect_no_grep "== 1\." "$TMP/out" "a missing vaultd fails before the tour starts"
printf '#!/bin/sh\necho "vaultd: cannot open the vault (planted failure)" >&2\nexit 1\n' >"$TMP/bad-vaultd"
chmod +x "$TMP/bad-vaultd"
expect_exit 1 "a vaultd that exits at start" -- \
    "$VAULTCTL" demo --residents 100 --vaultd "$TMP/bad-vaultd" --keep "$TMP/bad"
expect_grep "starting vaultd: vaultd exited (1) before it was ready: vaultd: cannot open the vault (planted failure)" \
    "$TMP/err" "a vaultd that fails says why"
NL="$TMP/line
break"
expect_exit 1 "a directory whose name cannot go into vaultd's config" -- \
    "$VAULTCTL" demo --residents 100 --keep "$NL"
expect_grep "vaultd's config: .*control characters" "$TMP/err" "a path with a newline is refused, not written"
# A vaultd that is never ready: it is stopped after the timeout (not run
# here: 60 s); one that ignores SIGTERM is killed (svc_stop).

finish

#!/usr/bin/env bash
# Every file vaultctl creates (key files, record exports, audit exports,
# checkpoints, public keys) is 0600 whatever the umask, is new (an existing
# file is never overwritten) and is never written through a symlink.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

POL="$SRC/policies/community.yaml"
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
unset VAULT_PASSPHRASE VAULT_NEW_PASSPHRASE VAULT_PATH

# mode_is WANT FILE DESCRIPTION
mode_is() {
    local got
    got=$(stat -c %a "$2" 2>/dev/null)
    if [ "$got" = "$1" ]; then ok "$3"; else bad "$3 (mode ${got:-missing}, wanted $1)"; fi
}

for mask in 022 000; do
    D="$TMP/u$mask"
    mkdir "$D"
    V="$D/street.vault"
    K="$D/street.key"
    (
        umask "$mask"
        "$VAULTCTL" --vault "$V" --key-file "$K" init --policy "$POL" >/dev/null 2>"$TMP/err" &&
        "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" record add \
            --in hangzhou/gongshu/xiaohe/changzheng/grid-07 name=张三 phone=13812345678 >"$D/id" &&
        "$VAULTCTL" --vault "$V" --key-file "$K" "${OFFICER[@]}" --purpose resident_request \
            export --record "$(cat "$D/id")" --out "$D/export.json" &&
        "$VAULTCTL" --vault "$V" --key-file "$K" audit checkpoint --out "$D/cp.txt" >/dev/null &&
        "$VAULTCTL" --vault "$V" --key-file "$K" audit export --out "$D/audit.jsonl" &&
        "$VAULTCTL" --vault "$V" --key-file "$K" audit pubkey --out "$D/audit.pub" &&
        "$VAULTCTL" --vault "$V" --key-file "$K" keyslot add --new-key-file "$D/backup.key" >/dev/null
    ) 2>>"$TMP/err"
    rc=$?
    if [ "$rc" = 0 ]; then ok "umask $mask: every writing command ran"; else
        bad "umask $mask: a writing command failed (exit $rc)"; sed 's/^/    /' "$TMP/err"; fi
    for f in street.key street.vault street.vault.keys export.json audit.jsonl cp.txt audit.pub backup.key; do
        mode_is 600 "$D/$f" "umask $mask: $f is 0600"
    done
done

D="$TMP/u022"
V="$D/street.vault"
K="$D/street.key"
ID=$(cat "$D/id")

# An existing file is not overwritten: exit 1, one line naming the file, content untouched.
printf 'keep me\n' >"$TMP/taken"
chmod 644 "$TMP/taken"
check_untouched() {
    if [ "$(cat "$TMP/taken")" = "keep me" ] && [ "$(stat -c %a "$TMP/taken")" = 644 ]; then
        ok "$1: the existing file is untouched"; else bad "$1: the existing file was changed"; fi
}
expect_exit 1 "record export refuses an existing --out" -- "$VAULTCTL" --vault "$V" --key-file "$K" \
    "${OFFICER[@]}" --purpose resident_request export --record "$ID" --out "$TMP/taken"
expect_grep "already exists" "$TMP/err" "the error says the file exists"
[ "$(wc -l <"$TMP/err")" = 1 ] && ok "the error is one line" || bad "the error is not one line"
check_untouched "record export"
expect_exit 1 "audit export refuses an existing --out" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit export --out "$TMP/taken"
check_untouched "audit export"
expect_exit 1 "audit checkpoint refuses an existing --out" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit checkpoint --out "$TMP/taken"
check_untouched "audit checkpoint"
expect_exit 1 "audit pubkey refuses an existing --out" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit pubkey --out "$TMP/taken"
check_untouched "audit pubkey"

# A failed export leaves no file behind (it is created first, then removed).
expect_exit 5 "record export of a missing record" -- "$VAULTCTL" --vault "$V" --key-file "$K" \
    "${OFFICER[@]}" --purpose resident_request export --record 00000000000000000000000000000000 --out "$TMP/none.json"
[ ! -e "$TMP/none.json" ] && ok "no file is left by a failed export" || bad "a failed export left a file"

# A symlink at the target is refused, whether it points at a file or nowhere,
# and nothing is written where it points.
printf 'victim\n' >"$TMP/victim"
ln -s "$TMP/victim" "$TMP/link-file"
ln -s "$TMP/nowhere" "$TMP/link-dangling"
for link in link-file link-dangling; do
    expect_exit 1 "record export refuses a symlink ($link)" -- "$VAULTCTL" --vault "$V" --key-file "$K" \
        "${OFFICER[@]}" --purpose resident_request export --record "$ID" --out "$TMP/$link"
    expect_exit 1 "audit export refuses a symlink ($link)" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit export --out "$TMP/$link"
    expect_exit 1 "audit checkpoint refuses a symlink ($link)" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit checkpoint --out "$TMP/$link"
    expect_exit 1 "audit pubkey refuses a symlink ($link)" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit pubkey --out "$TMP/$link"
done
# (An existing key file is read, not written, so only a dangling link matters here.)
expect_exit 1 "keyslot add refuses a dangling symlink as new key file" -- "$VAULTCTL" --vault "$V" --key-file "$K" \
    keyslot add --new-key-file "$TMP/link-dangling"
expect_exit 1 "init refuses a symlink as new key file" -- "$VAULTCTL" --vault "$TMP/new.vault" \
    --key-file "$TMP/link-dangling" init --policy "$POL"
[ "$(cat "$TMP/victim")" = victim ] && ok "the symlinked file is untouched" || bad "written through a symlink"
[ ! -e "$TMP/nowhere" ] && ok "nothing created at a dangling symlink's target" || bad "created through a dangling symlink"
[ -L "$TMP/link-file" ] && [ -L "$TMP/link-dangling" ] && ok "the symlinks themselves are left alone" || bad "a symlink was removed"
"$VAULTCTL" --vault "$V" --key-file "$K" audit pubkey --out "$TMP/link-file" 2>"$TMP/err"
expect_grep "symbolic link" "$TMP/err" "the error says it is a symlink"

# audit export writes PATH.partial first: a file or symlink there is refused
# and left in place.
ln -s "$TMP/victim" "$TMP/a.jsonl.partial"
expect_exit 1 "audit export refuses a symlink at PATH.partial" -- "$VAULTCTL" --vault "$V" --key-file "$K" audit export --out "$TMP/a.jsonl"
[ -L "$TMP/a.jsonl.partial" ] && [ ! -e "$TMP/a.jsonl" ] && [ "$(cat "$TMP/victim")" = victim ] &&
    ok "PATH.partial left in place, nothing written" || bad "audit export wrote through or removed PATH.partial"

# What was written is what was asked for (the helper does not lose data).
python3 - "$D/export.json" <<'EOF' && ok "the record export is valid JSON with the name" || bad "record export content"
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
assert "张三" in json.dumps(doc, ensure_ascii=False), doc
EOF
expect_exit 0 "the exported log verifies offline" -- "$VAULTCTL" audit verify --export "$D/audit.jsonl" --pubkey "$D/audit.pub" --checkpoint "$D/cp.txt"

finish

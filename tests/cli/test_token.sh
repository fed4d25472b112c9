#!/usr/bin/env bash
# vaultctl token keygen|issue, the development issuer (docs/tokens.md):
# the key file (mode 0600, never overwritten, its documented format), the
# public key line a vaultd config takes, the token's header and claims,
# bad arguments (exit 2) and bad key files (5 missing, 7 not a key file,
# 1 readable by others).  tests/test_token.c verifies an issued token's
# signature with server/token.c.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"
unset VAULT_PATH

KEY="$TMP/issuer.key"
ISSUE=(token issue --issuer-key "$KEY" --iss https://dev-idp.example --aud vaultd-street
       --sub li.wei --role grid_worker --dept street_office
       --jurisdiction hangzhou/gongshu/xiaohe/changzheng/grid-07)

# part N FILE: the Nth dot-separated part of the token in FILE, decoded.
part() {
    python3 -c 'import base64,sys
t=open(sys.argv[2]).read().strip().split(".")[int(sys.argv[1])]
sys.stdout.write(base64.urlsafe_b64decode(t+"="*(-len(t)%4)).decode())' "$1" "$2"
}
# claim NAME FILE: one claim of the token in FILE (JSON-encoded).
claim() { part 1 "$2" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin).get(sys.argv[1])))' "$1"; }

# ---- keygen ----
expect_exit 0 "keygen writes a key" -- "$VAULTCTL" token keygen --out "$KEY"
PUB=$(cat "$TMP/out")
if [[ $PUB =~ ^ed25519:[A-Za-z0-9+/]{43}=$ ]]; then ok "keygen prints ed25519:<base64 of 32 bytes>"; else
    bad "keygen printed '$PUB'"; fi
[ "$(stat -c %a "$KEY")" = 600 ] && ok "the key file is 0600" || bad "key file mode $(stat -c %a "$KEY")"
expect_grep "^ed25519-seed:[A-Za-z0-9+/]\{43\}=$" "$KEY" "the key file holds one ed25519-seed line"
expect_grep "^# public key: $PUB$" "$KEY" "the key file names its public key in a comment"
[ "$(grep -vc '^#' "$KEY")" = 1 ] && ok "one non-comment line" || bad "more than one key line"
cp "$KEY" "$TMP/key.before"
expect_exit 1 "keygen refuses to overwrite" -- "$VAULTCTL" token keygen --out "$KEY"
expect_grep "already exists" "$TMP/err" "the refusal says the file exists"
cmp -s "$KEY" "$TMP/key.before" && ok "the existing key is untouched" || bad "the existing key changed"
expect_exit 0 "a second keygen" -- "$VAULTCTL" token keygen --out "$TMP/other.key"
[ "$(cat "$TMP/out")" != "$PUB" ] && ok "a second key differs" || bad "two keygens gave one key"
expect_exit 0 "keygen --json" -- "$VAULTCTL" --json token keygen --out "$TMP/third.key"
expect_grep '"public_key": "ed25519:' "$TMP/out" "keygen --json names the public key"
expect_exit 2 "keygen without --out" -- "$VAULTCTL" token keygen
expect_exit 2 "keygen with issue options" -- "$VAULTCTL" token keygen --out "$TMP/x.key" --sub li
[ ! -e "$TMP/x.key" ] && ok "nothing written on a usage error" || bad "a usage error wrote a key"

# ---- issue ----
expect_exit 0 "issue prints a token" -- "$VAULTCTL" "${ISSUE[@]}" --ttl 30m --jti t-1 --kid dev-1
cp "$TMP/out" "$TMP/tok"
[ "$(wc -l <"$TMP/tok")" = 1 ] && ok "one line" || bad "issue printed $(wc -l <"$TMP/tok") lines"
if grep -qE '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}$' "$TMP/tok"; then
    ok "three base64url parts, a 64-byte signature"; else bad "not a compact JWS: $(cat "$TMP/tok")"; fi
[ "$(part 0 "$TMP/tok")" = '{"alg":"EdDSA","typ":"JWT","kid":"dev-1"}' ] && ok "header: EdDSA, JWT, the kid" ||
    bad "header $(part 0 "$TMP/tok")"
for kv in 'iss "https://dev-idp.example"' 'aud "vaultd-street"' 'sub "li.wei"' 'preferred_username "li.wei"' \
          'role "grid_worker"' 'department "street_office"' \
          'jurisdiction "hangzhou/gongshu/xiaohe/changzheng/grid-07"' 'jti "t-1"'; do
    name=${kv%% *}; want=${kv#* }
    got=$(claim "$name" "$TMP/tok")
    [ "$got" = "$want" ] && ok "claim $name" || bad "claim $name is $got, wanted $want"
done
iat=$(claim iat "$TMP/tok"); nbf=$(claim nbf "$TMP/tok"); exp=$(claim exp "$TMP/tok")
now=$(date +%s)
[ "$nbf" = "$iat" ] && [ $((exp - iat)) = 1800 ] && ok "nbf = iat, exp = iat + 30m" || bad "iat $iat nbf $nbf exp $exp"
[ $((now - iat)) -ge 0 ] && [ $((now - iat)) -le 30 ] && ok "iat is now" || bad "iat $iat, now $now"

expect_exit 0 "issue with --user, default ttl and jti" -- "$VAULTCTL" "${ISSUE[@]}" --user wang.fang
cp "$TMP/out" "$TMP/tok2"
[ "$(claim preferred_username "$TMP/tok2")" = '"wang.fang"' ] && ok "--user goes into preferred_username" || bad "--user lost"
[ "$(claim sub "$TMP/tok2")" = '"li.wei"' ] && ok "sub stays --sub" || bad "sub changed"
[ $(($(claim exp "$TMP/tok2") - $(claim iat "$TMP/tok2"))) = 3600 ] && ok "default ttl 1h" || bad "default ttl"
[ "$(part 0 "$TMP/tok2")" = '{"alg":"EdDSA","typ":"JWT"}' ] && ok "no kid unless asked" || bad "header $(part 0 "$TMP/tok2")"
j1=$(claim jti "$TMP/tok2")
"$VAULTCTL" "${ISSUE[@]}" >"$TMP/tok3" 2>/dev/null
j2=$(claim jti "$TMP/tok3")
[[ $j1 =~ ^\"[0-9a-f]{32}\"$ ]] && [ "$j1" != "$j2" ] && ok "jti: 16 random bytes in hex, new each time" ||
    bad "jti $j1 / $j2"
expect_exit 0 "issue --at (a token from the past)" -- "$VAULTCTL" "${ISSUE[@]}" --at 1700000000 --ttl 45s
[ "$(claim iat "$TMP/out")" = 1700000000 ] && [ "$(claim exp "$TMP/out")" = 1700000045 ] &&
    ok "--at sets iat/nbf, exp = at + ttl" || bad "--at: $(part 1 "$TMP/out")"
expect_exit 0 "issue --json" -- "$VAULTCTL" --json "${ISSUE[@]}" --jti 'j"1'
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["jti"]=="j\"1" and d["token"].count(".")==2 and d["exp"]>0' \
    "$TMP/out" && ok "--json: token, jti (escaped) and exp" || bad "--json output: $(cat "$TMP/out")"

# ---- bad arguments: exit 2, nothing on stdout ----
usage() {
    local what=$1; shift
    expect_exit 2 "$what" -- "$VAULTCTL" "$@"
    [ ! -s "$TMP/out" ] && ok "$what: no token printed" || bad "$what: printed something"
}
usage "no subcommand" token
usage "unknown subcommand" token mint
usage "two subcommands" token issue keygen
usage "unknown option" "${ISSUE[@]}" --lifetime 1h
usage "missing --role" token issue --issuer-key "$KEY" --iss i --aud a --sub s --dept d --jurisdiction j
usage "missing --issuer-key" token issue --iss i --aud a --sub s --role r --dept d --jurisdiction j
usage "missing --sub" token issue --issuer-key "$KEY" --iss i --aud a --role r --dept d --jurisdiction j
usage "empty --aud" token issue --issuer-key "$KEY" --iss i --aud '' --sub s --role r --dept d --jurisdiction j
usage "--ttl beyond 24h" "${ISSUE[@]}" --ttl 25h
usage "--ttl of days" "${ISSUE[@]}" --ttl 2d
usage "--ttl 0" "${ISSUE[@]}" --ttl 0s
usage "--ttl not a duration" "${ISSUE[@]}" --ttl soon
usage "--ttl overflowing" "${ISSUE[@]}" --ttl 999999999999999999d
usage "--at not a number" "${ISSUE[@]}" --at yesterday
usage "--at negative" "${ISSUE[@]}" --at -5
usage "--purpose" "${ISSUE[@]}" --purpose resident_service
usage "issue --out" "${ISSUE[@]}" --out "$TMP/t.jwt"
usage "a role longer than the library's names" "${ISSUE[@]}" --role "$(printf 'r%.0s' $(seq 128))"
usage "a control character" "${ISSUE[@]}" --sub "$(printf 'li\033[2K')"
expect_grep "control character" "$TMP/err" "the error names the control character"
expect_exit 0 "token issue --help" -- "$VAULTCTL" token issue --help
expect_grep "example:" "$TMP/out" "the help has an example"
expect_grep "tests and demos only" "$TMP/out" "the help says it is for tests and demos"

# ---- bad key files ----
keyfile() { printf '%b' "$2" >"$TMP/$1"; chmod 600 "$TMP/$1"; }
badkey() {
    local code=$1 what=$2 file=$3
    expect_exit "$code" "$what" -- "$VAULTCTL" token issue --issuer-key "$file" --iss i --aud a --sub s \
        --role r --dept d --jurisdiction j
    [ ! -s "$TMP/out" ] && ok "$what: no token printed" || bad "$what: printed a token"
    [ "$(wc -l <"$TMP/err")" = 1 ] && ok "$what: a one-line error" || bad "$what: $(cat "$TMP/err")"
    expect_no_grep "ed25519-seed:[A-Za-z0-9]" "$TMP/err" "$what: the error shows no key"
}
badkey 5 "a missing key file" "$TMP/nope.key"
keyfile empty.key ''
badkey 7 "an empty key file" "$TMP/empty.key"
keyfile garbage.key 'hello world\n'
badkey 7 "a file of something else" "$TMP/garbage.key"
keyfile short.key 'ed25519-seed:AAAA\n'
badkey 7 "a seed of 3 bytes" "$TMP/short.key"
keyfile long.key "ed25519-seed:$(head -c 33 /dev/zero | base64 -w0)\n"
badkey 7 "a seed of 33 bytes" "$TMP/long.key"
keyfile urlsafe.key "ed25519-seed:$(grep '^ed25519-seed:' "$KEY" | cut -d: -f2 | tr '+/' '-_' | tr -d '=')\n"
if grep -q '[-_]' "$TMP/urlsafe.key"; then badkey 7 "a seed in another alphabet" "$TMP/urlsafe.key"; else
    badkey 7 "a seed without its padding" "$TMP/urlsafe.key"; fi
keyfile two.key "$(grep '^ed25519-seed:' "$KEY")\n$(grep '^ed25519-seed:' "$TMP/other.key")\n"
badkey 7 "two seed lines" "$TMP/two.key"
keyfile crlf.key "$(grep '^ed25519-seed:' "$KEY")\r\n"
badkey 7 "a CRLF line end" "$TMP/crlf.key"
keyfile pub.key "$PUB\n"
badkey 7 "a public key in place of the secret" "$TMP/pub.key"
mkdir "$TMP/dir.key"
badkey 7 "a directory" "$TMP/dir.key"
cp "$KEY" "$TMP/open.key"; chmod 644 "$TMP/open.key"
badkey 1 "a key file others may read" "$TMP/open.key"
expect_grep "chmod 600" "$TMP/err" "the error says how to fix the mode"
# Comment lines and a missing final newline are fine.
keyfile comments.key "# a comment\n\n$(grep '^ed25519-seed:' "$KEY")"
expect_exit 0 "a key file with comments and no final newline" -- "$VAULTCTL" token issue --issuer-key "$TMP/comments.key" \
    --iss i --aud a --sub s --role r --dept d --jurisdiction j

finish

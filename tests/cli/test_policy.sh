#!/usr/bin/env bash
# vaultctl policy check / apply / show / explain / who-can.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

V="$TMP/v"; K="$TMP/k"
POL="$SRC/policies/community.yaml"
vc() { "$VAULTCTL" --vault "$V" --key-file "$K" "$@"; }
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
GRID=(--user wang --role grid_worker --dept community_committee --jurisdiction hangzhou/gongshu/xiaohe/changzheng/grid-07 --purpose grid_management)

for p in "$SRC"/policies/*.yaml; do
    expect_exit 0 "policy check $(basename "$p")" -- "$VAULTCTL" policy check "$p"
done
# An unknown role on a known line is reported as FILE:LINE:COL, exit 7.
sed '136s/role: grid_worker/role: grid_wroker/' "$POL" >"$TMP/typo.yaml"
line=$(grep -n "role: grid_wroker" "$TMP/typo.yaml" | head -1 | cut -d: -f1)
expect_exit 7 "a policy with an unknown role is refused" -- "$VAULTCTL" policy check "$TMP/typo.yaml"
expect_grep "typo.yaml:$line:" "$TMP/err" "the error says FILE:LINE"
expect_grep "grid_wroker" "$TMP/err" "and names the unknown role"
printf 'version: 1\nname: [unclosed\n' >"$TMP/bad.yaml"
expect_exit 7 "malformed YAML exits 7" -- "$VAULTCTL" policy check "$TMP/bad.yaml"
: >"$TMP/empty.yaml"
expect_exit 7 "an empty file exits 7" -- "$VAULTCTL" policy check "$TMP/empty.yaml"
head -c 10485760 /dev/zero | tr '\0' 'a' >"$TMP/huge.yaml"
expect_exit 7 "a 10 MB file is refused cleanly" -- "$VAULTCTL" policy check "$TMP/huge.yaml"
expect_exit 7 "--json check of a bad file" -- "$VAULTCTL" --json policy check "$TMP/typo.yaml"
expect_grep '"valid": false' "$TMP/out" "reports valid: false"

vc init --policy "$POL" >/dev/null 2>&1 || bad "init"
ID=$(vc "${OFFICER[@]}" record add --in hangzhou/gongshu/xiaohe/changzheng/grid-07 name=张三 phone=13812345678 2>/dev/null)
expect_exit 0 "policy show" -- vc policy show
expect_grep "^# sha256 " "$TMP/out" "shows the hash"
expect_grep "community-default" "$TMP/out" "and the source"
expect_exit 0 "policy explain" -- vc "${GRID[@]}" policy explain --record "$ID" --field phone
expect_grep "grid-contact-masked" "$TMP/out" "explain names the deciding rule"
expect_exit 0 "policy who-can --field phone" -- vc policy who-can --field phone
expect_grep "grid_worker" "$TMP/out" "who-can lists the grid worker"
expect_exit 0 "who-can --json for one record" -- vc --json policy who-can --field phone --record "$ID"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$TMP/out" && ok "who-can --json is valid JSON" || bad "who-can --json is not JSON"
expect_exit 7 "who-can for an undeclared field" -- vc policy who-can --field shoe_size

# Applying a stricter policy: the grid worker loses the phone; the change is reported.
awk '
  /^  - id: grid-contact-masked/ { skip = 1 }
  skip && /^  - id: / && !/grid-contact-masked/ { skip = 0 }
  !skip { print }' "$POL" >"$TMP/stricter.yaml"
"$VAULTCTL" policy check "$TMP/stricter.yaml" >/dev/null 2>&1 || bad "stricter policy does not check (test setup)"
sed '/^apps:/,$d' "$TMP/stricter.yaml" >"$TMP/stricter-noapps.yaml"
expect_exit 0 "policy apply" -- vc policy apply "$TMP/stricter.yaml"
expect_grep "^- grid_worker community_committee phone" "$TMP/out" "apply reports the lost cell"
expect_exit 4 "the new policy applies at once" -- vc "${GRID[@]}" record get "$ID" --fields phone
expect_exit 7 "applying an invalid policy is refused" -- vc policy apply "$TMP/typo.yaml"

# A deny rule naming a user shows in who-can, text and JSON.
awk '{ print } /^rules:/ { print "  - {id: stop-wang-fang, subjects: {user: wang.fang}, actions: [read], scope: any, fields: [phone], effect: deny}" }' \
    "$TMP/stricter.yaml" >"$TMP/userdeny.yaml"
expect_exit 0 "apply a policy with a user deny rule" -- vc policy apply "$TMP/userdeny.yaml"
expect_exit 0 "who-can --field phone with a user deny" -- vc policy who-can --field phone
expect_grep "^user wang.fang (role \*, department \*, purpose \*): deny, scope any, by rule stop-wang-fang (userdeny.yaml:98)" \
    "$TMP/out" "who-can lists the deny rule naming wang.fang"
expect_exit 0 "who-can --json with a user deny" -- vc --json policy who-can --field phone
python3 -c 'import json,sys; d=[o for o in json.load(open(sys.argv[1])) if o["user"]=="wang.fang"]; sys.exit(not (len(d)==1 and d[0]["effect"]=="deny" and d[0]["rule"]=="stop-wang-fang"))' "$TMP/out" \
    && ok "who-can --json has the deny for wang.fang" || bad "who-can --json lacks the deny for wang.fang"
# An apps: change shows in apply's report; policy show prints the section.
sed 's/^    departments: \[hotline_12345\]$/    departments: [hotline_12345, health]/' \
    "$TMP/userdeny.yaml" >"$TMP/apps.yaml"
cmp -s "$TMP/userdeny.yaml" "$TMP/apps.yaml" && bad "the hotline app's departments line was not found (test setup)"
expect_exit 0 "apply a policy widening the hotline app" -- vc policy apply "$TMP/apps.yaml"
expect_grep "^+ app hotline-app department health$" "$TMP/out" "apply reports the app's new department"
expect_exit 0 "apply the policy without apps:" -- vc policy apply "$TMP/stricter-noapps.yaml"
expect_grep "^- app grid-app removed: departments \[community_committee\]" "$TMP/out" \
    "apply reports every app removed"
expect_exit 0 "policy show" -- vc policy show
expect_no_grep "^apps:" "$TMP/out" "the active policy has no apps section"
expect_exit 0 "apply the policy with apps: again" -- vc policy apply "$TMP/apps.yaml"
expect_grep "^+ app vaultctl added: .*officer_actions true$" "$TMP/out" "apply reports the apps added"
expect_exit 0 "policy show" -- vc policy show
expect_grep "^  hotline-app:$" "$TMP/out" "policy show prints the apps section"
expect_exit 0 "the log records the change and still verifies" -- vc audit verify
finish

#!/usr/bin/env bash
# A DBA with psql against a PostgreSQL vault (issue 17, "Tests with a real
# PostgreSQL"), run inside a throwaway cluster (tests/pg/pg_cluster.sh run:
# VAULT_PG_URI, PGHOST... set; psql connects as its superuser).  Each case
# changes rows as the cluster's superuser can: a resident moved to another
# district, a grant's recipient or end date, a policy's text, the stored
# audit public key (another vault's row, MAC and all), the audit state, an
# audit entry, a middle audit row and the newest ones deleted (the
# append-only trigger disabled first, as the owner can), two records'
# fields swapped.  Each must
# be caught at the next access or by `vaultctl audit verify`: exit 3 (the
# integrity failure of vaultctl's exit codes) with a one-line message naming
# the class, and no value of the tampered row on the output.  Then the
# application role of docs/postgresql.md, made with its GRANTs: it runs the
# vault, and can't UPDATE or DELETE audit rows nor create tables.
VAULTCTL=$1
. "$(dirname "$0")/../cli/lib.sh"
[ -n "${VAULT_PG_URI:-}" ] || { echo "test_pg_tamper: VAULT_PG_URI is not set (run under tests/pg/pg_cluster.sh run)"; exit 1; }
command -v psql >/dev/null || { echo "test_pg_tamper: psql is missing (postgresql-client-15)"; exit 1; }
unset VAULT_PASSPHRASE VAULT_PATH

POL="$SRC/policies/community.yaml"
case "$VAULT_PG_URI" in *\?*) sep='&' ;; *) sep='?' ;; esac
JA=hangzhou/gongshu/xiaohe/changzheng/grid-07   # resident A: the officer's street
JB=hangzhou/xihu/lingyin/fayun/grid-01          # resident B: another district
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
XIHU=(--user wu --role data_officer --dept street_office --jurisdiction hangzhou/xihu/lingyin --purpose resident_service)
CIVIL=(--user qian --role civil_affairs_officer --dept civil_affairs --jurisdiction hangzhou/gongshu/xiaohe --purpose social_assistance)
STAFF=(--user sun --role community_staff --dept community_committee --jurisdiction hangzhou/gongshu/xiaohe/changzheng --purpose resident_service)
A_NAME=欧阳娜娜; A_PHONE=13812345678; A_HEALTH=高血压
B_NAME=李娟; B_PHONE=13700002222; B_HEALTH=糖尿病

# loc SCHEMA [USER]: the vault in SCHEMA (keys file $TMP/SCHEMA.keys), as USER.
loc() { echo "${VAULT_PG_URI}${sep}vault_keys=$TMP/$1.keys&vault_schema=$1${2:+&user=$2}"; }
# vc ...: vaultctl on the current vault $S
vc() { "$VAULTCTL" --vault "$(loc "$S" "${AS_USER:-}")" --key-file "$TMP/$S.key" "$@"; }
# dba SQL: as the superuser; prints the rows (unaligned, tuples only)
dba() { psql -X -q -v ON_ERROR_STOP=1 -At -c "$1" 2>"$TMP/sqlerr"; }
# tamper WHAT SQL: as the superuser, requiring that some row changed
tamper() {
    local out
    out=$(psql -X -v ON_ERROR_STOP=1 -c "$2" 2>"$TMP/sqlerr") || { bad "$1: the SQL failed: $(head -c 200 "$TMP/sqlerr")"; return 1; }
    case "$out" in *" 0"|"") bad "$1: the tampering changed no row ($out)"; return 1 ;; esac
    return 0
}

# fresh SCHEMA: a new vault with residents A (the officer's street) and B
# (another district); sets S, RA, RB.
fresh() {
    S=$1
    vc init --policy "$POL" >/dev/null 2>&1 || { bad "$S: init"; return 1; }
    RA=$(vc "${OFFICER[@]}" record add --in "$JA" name=$A_NAME phone=$A_PHONE health=$A_HEALTH 2>/dev/null)
    RB=$(vc "${XIHU[@]}" record add --in "$JB" name=$B_NAME phone=$B_PHONE health=$B_HEALTH 2>/dev/null)
    [ ${#RA} = 32 ] && [ ${#RB} = 32 ] || { bad "$S: record add ('$RA' '$RB')"; return 1; }
}

# check_caught CLASS FORBIDDEN... -- command: 0 when the command exits 3 with
# one line on stderr naming an integrity failure (and CLASS, unless "-"),
# and none of the FORBIDDEN strings on stdout or stderr; $why says what
# happened.
check_caught() {
    local class=$1 forbidden=() rc v leaked=""
    shift
    while [ "$1" != -- ]; do forbidden+=("$1"); shift; done
    shift
    "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    for v in "${forbidden[@]}"; do grep -qF -- "$v" "$TMP/out" "$TMP/err" && leaked="$leaked $v"; done
    if [ "$rc" = 3 ] && [ "$(wc -l <"$TMP/err")" -le 1 ] && [ -z "$leaked" ] &&
       grep -qi "integrity\|FAILED" "$TMP/err" "$TMP/out" &&
       { [ "$class" = - ] || grep -qi -- "$class" "$TMP/err" "$TMP/out"; }; then
        why=$(cat "$TMP/err" "$TMP/out" | head -n 1 | cut -c1-110); return 0
    fi
    why="exit $rc, wanted 3 with one line naming '$class'${leaked:+; printed$leaked}"
    return 1
}
caught() {
    local what=$1
    shift
    if check_caught "$@"; then ok "$what: caught ($why)"; else
        bad "$what: $why"; sed 's/^/    /' "$TMP/err" "$TMP/out" | head -8; fi
}
# verify_caught WHAT CLASS: `vaultctl audit verify` exits 3 naming CLASS.
verify_caught() {
    caught "$1 (audit verify)" "$2" -- vc audit verify
}

# ---- a. a resident moved to another district ----
fresh move || exit 1
expect_exit 4 "a: the xiaohe officer may not read B in xihu" -- vc "${OFFICER[@]}" record get "$RB" --fields name,phone
expect_no_grep "$B_PHONE" "$TMP/out" "a: and gets none of B's values"
tamper "a" "UPDATE move.records SET jurisdiction = '$JA' WHERE id = '\\x$RB'" &&
    # nor masked (138****5678): the prefix with its stars, since the
    # record id in the message is hex and may hold the 3 digits alone
    caught "a: B moved into xiaohe through psql, then read there" integrity "$B_NAME" "$B_PHONE" "${B_PHONE:0:3}*" "*${B_PHONE: -4}" -- \
        vc "${OFFICER[@]}" record get "$RB" --fields name,phone

# ---- b. a grant's recipient, and its end date ----
fresh tgrant || exit 1
G=$(vc "${OFFICER[@]}" grant --to-role civil_affairs_officer --to-dept civil_affairs --fields health \
    --records "$RA" --purposes social_assistance --for 1h --reason "relief assessment" 2>/dev/null | cut -d' ' -f1)
[ -n "$G" ] && ok "b: a grant to civil affairs ($G)" || bad "b: grant"
expect_exit 0 "b: civil affairs reads A's health under it" -- vc "${CIVIL[@]}" record get "$RA" --fields health
expect_grep "$A_HEALTH" "$TMP/out" "b: in plaintext"
expect_exit 0 "b: community staff see it masked at most (no grant)" -- vc "${STAFF[@]}" record get "$RA" --fields health
expect_no_grep "$A_HEALTH" "$TMP/out" "b: community staff do not see it"
tamper "b1" "UPDATE tgrant.grants SET subject_role = 'community_staff', subject_department = 'community_committee' WHERE id = '$G'" &&
    caught "b1: the grant's recipient changed to community staff, used by them" integrity "$A_HEALTH" -- \
        vc "${STAFF[@]}" record get "$RA" --fields health
dba "UPDATE tgrant.grants SET subject_role = 'civil_affairs_officer', subject_department = 'civil_affairs' WHERE id = '$G'" >/dev/null
expect_exit 0 "b1: put back, the grant works again" -- vc "${CIVIL[@]}" record get "$RA" --fields health
tamper "b2" "UPDATE tgrant.grants SET not_after = not_after + 365 * 86400 WHERE id = '$G'" &&
    caught "b2: the grant's end date moved a year on, used by its recipient" integrity "$A_HEALTH" -- \
        vc "${CIVIL[@]}" record get "$RA" --fields health
caught "b2: and the grant list" integrity -- vc "${OFFICER[@]}" grants

# ---- c. a policy's text ----
fresh policy || exit 1
tamper "c" "UPDATE policy.policies SET source = replace(source, 'effect: mask', 'effect: allow') WHERE id = (SELECT max(id) FROM policy.policies)" &&
    caught "c: the active policy's text changed (masks become allows)" integrity "$A_PHONE" "$A_NAME" -- \
        vc "${OFFICER[@]}" record get "$RA" --fields name,phone

# ---- d. the stored audit public key: another vault's row, MAC and all ----
# A read doesn't use the stored key (entries are chained; a checkpoint is
# signed with the secret key, which is checked against the key pinned in
# the keys file, and that one is untouched): what shows or checks the
# stored key refuses, audit pubkey and audit verify.
fresh pk_other || exit 1
fresh pk || exit 1
tamper "d" "UPDATE pk.meta m SET value = o.value, mac = o.mac FROM pk_other.meta o WHERE m.key = 'audit_pk' AND o.key = 'audit_pk'" &&
    caught "d: the audit public key replaced (another vault's row), then audit pubkey" integrity -- vc audit pubkey
verify_caught "d: the audit public key replaced" "integrity\|signature"

# ---- e. the audit state ----
fresh state || exit 1
tamper "e" "UPDATE state.audit_heads SET state = set_byte(state, 3, get_byte(state, 3) # 1) WHERE log = ''" &&
    caught "e: the audit state changed, then a read" integrity "$A_PHONE" -- \
        vc "${OFFICER[@]}" record get "$RA" --fields phone

# ---- f. an audit entry changed, the trigger disabled first ----
fresh entry || exit 1
vc "${OFFICER[@]}" record get "$RA" --fields phone >/dev/null 2>&1
vc audit checkpoint >/dev/null 2>&1
psql -X -q -c "UPDATE entry.audit SET flags = flags" >/dev/null 2>"$TMP/sqlerr"
grep -q "append-only" "$TMP/sqlerr" && ok "f: the trigger refuses the superuser's UPDATE" || bad "f: an UPDATE of audit went through"
dba "ALTER TABLE entry.audit DISABLE TRIGGER audit_no_change"
tamper "f" "UPDATE entry.audit SET entry = set_byte(entry, length(entry) - 1, get_byte(entry, length(entry) - 1) # 1) WHERE log = '' AND pos = 2" &&
    dba "ALTER TABLE entry.audit ENABLE TRIGGER audit_no_change" &&
    verify_caught "f: the last byte of the city log's entry 2 changed" "modified"

# ---- f2. an entry of a shard log changed (resident A's read is in gongshu's log) ----
fresh shardentry || exit 1
vc "${OFFICER[@]}" record get "$RA" --fields phone >/dev/null 2>&1
vc audit checkpoint >/dev/null 2>&1
dba "ALTER TABLE shardentry.audit DISABLE TRIGGER audit_no_change"
tamper "f2" "UPDATE shardentry.audit SET entry = set_byte(entry, length(entry) - 1, get_byte(entry, length(entry) - 1) # 1) WHERE log = 'hangzhou/gongshu' AND pos = 2" &&
    dba "ALTER TABLE shardentry.audit ENABLE TRIGGER audit_no_change" &&
    verify_caught "f2: the last byte of entry 2 of gongshu's log changed" "log hangzhou/gongshu: entry 2: "

# ---- g. a middle audit row deleted ----
fresh gap || exit 1
for i in 1 2 3; do vc "${OFFICER[@]}" record get "$RA" --fields phone >/dev/null 2>&1; done
vc audit checkpoint >/dev/null 2>&1
N=$(dba "SELECT count(*) FROM gap.audit WHERE log = ''")
dba "ALTER TABLE gap.audit DISABLE TRIGGER audit_no_change"
tamper "g" "DELETE FROM gap.audit WHERE log = '' AND pos = 3" &&
    dba "ALTER TABLE gap.audit ENABLE TRIGGER audit_no_change" &&
    verify_caught "g: entry 3 of $N deleted" "missing"

# ---- g2. the newest audit rows deleted (the log cut back) ----
fresh cut || exit 1
for i in 1 2 3; do vc "${OFFICER[@]}" record get "$RA" --fields phone >/dev/null 2>&1; done
N=$(dba "SELECT max(pos) FROM cut.audit WHERE log = ''")
dba "ALTER TABLE cut.audit DISABLE TRIGGER audit_no_change"
tamper "g2" "DELETE FROM cut.audit WHERE log = '' AND pos >= $((N - 1))" &&
    dba "ALTER TABLE cut.audit ENABLE TRIGGER audit_no_change" &&
    caught "g2: entries $((N - 1)) and $N of $N deleted, then a read" integrity "$A_PHONE" -- \
        vc "${OFFICER[@]}" record get "$RA" --fields phone
verify_caught "g2: the log cut back" "truncated\|rolled back\|missing\|integrity"

# ---- h. two records' fields swapped ----
fresh swap || exit 1
R2=$(vc "${OFFICER[@]}" record add --in "$JA" name=王芳 phone=13900003333 2>/dev/null)
tamper "h" "UPDATE swap.fields f SET ct = o.ct, counter = o.counter FROM swap.fields o
WHERE f.name = 'phone' AND o.name = 'phone' AND f.record_id <> o.record_id
  AND f.record_id IN ('\\x$RA', '\\x$R2') AND o.record_id IN ('\\x$RA', '\\x$R2')" &&
    caught "h: A's and another resident's phone ciphertexts swapped, A read" integrity "13900003333" "$A_PHONE" -- \
        vc "${OFFICER[@]}" record get "$RA" --fields phone
caught "h: and the other read" integrity "13900003333" "$A_PHONE" -- vc "${OFFICER[@]}" record get "$R2" --fields phone

# ---- i. the application role of docs/postgresql.md ----
fresh app || exit 1
dba "CREATE ROLE vaultd_app LOGIN;
GRANT USAGE ON SCHEMA app TO vaultd_app;
GRANT SELECT ON ALL TABLES IN SCHEMA app TO vaultd_app;
GRANT INSERT, UPDATE, DELETE ON app.meta, app.policies, app.grade_keys, app.record_ids, app.records,
      app.fields, app.blind_index, app.checkpoints, app.grants, app.quota_use TO vaultd_app;
GRANT UPDATE ON app.generation TO vaultd_app;
GRANT INSERT, UPDATE ON app.audit_heads TO vaultd_app;
GRANT INSERT ON app.audit TO vaultd_app;
GRANT USAGE ON SCHEMA app_rkeys TO vaultd_app;
GRANT SELECT ON ALL TABLES IN SCHEMA app_rkeys TO vaultd_app;
GRANT INSERT, UPDATE, DELETE ON app_rkeys.meta TO vaultd_app;
GRANT UPDATE ON app_rkeys.generation TO vaultd_app;" >/dev/null && ok "i: vaultd_app made with the documented GRANTs" ||
    bad "i: the documented GRANTs: $(head -c 200 "$TMP/sqlerr")"
AS_USER=vaultd_app
expect_exit 0 "i: the app role reads a record" -- vc "${OFFICER[@]}" record get "$RA" --fields phone
expect_grep "$A_PHONE" "$TMP/out" "i: with its value"
expect_exit 0 "i: the app role adds a record" -- vc "${OFFICER[@]}" record add --in "$JA" name=赵敏 phone=13600004444
expect_exit 0 "i: the app role updates a field" -- vc "${OFFICER[@]}" record update "$RA" phone=13811112222
expect_exit 0 "i: the app role issues a grant" -- vc "${OFFICER[@]}" grant --to-role civil_affairs_officer \
    --to-dept civil_affairs --fields health --records "$RA" --purposes social_assistance --for 1h --reason "relief assessment"
expect_exit 0 "i: the app role rotates a grade key" -- vc key rotate --grade personal
expect_exit 0 "i: the app role applies the policy again" -- vc policy apply "$POL"
expect_exit 0 "i: the app role erases a record" -- vc "${XIHU[@]}" record erase "$RB"
expect_exit 0 "i: the app role checkpoints" -- vc audit checkpoint
expect_exit 0 "i: the app role verifies the log" -- vc audit verify
AS_USER=
app_refused() { # app_refused WHAT SQL: vaultd_app may not
    if psql -X -q -v ON_ERROR_STOP=1 -U vaultd_app -c "$2" >/dev/null 2>"$TMP/sqlerr"; then
        bad "i: vaultd_app could $1"
    elif grep -q "permission denied\|must be owner" "$TMP/sqlerr"; then ok "i: vaultd_app may not $1 ($(head -n 1 "$TMP/sqlerr" | cut -c1-70))"
    else bad "i: $1 failed, but not for want of a privilege: $(head -n 1 "$TMP/sqlerr")"; fi
}
app_refused "UPDATE audit rows" "UPDATE app.audit SET flags = flags + 1"
app_refused "DELETE audit rows" "DELETE FROM app.audit WHERE pos = 2"
app_refused "TRUNCATE audit" "TRUNCATE app.audit"
app_refused "TRUNCATE a partition of audit" "TRUNCATE app.audit_p0"
app_refused "DELETE a head row" "DELETE FROM app.audit_heads"
app_refused "create a table in the vault's schema" "CREATE TABLE app.extra(x int)"
app_refused "create a table in public" "CREATE TABLE public.extra(x int)"
app_refused "drop the trigger" "ALTER TABLE app.audit DISABLE TRIGGER audit_no_change"
# every log (the city's and each shard's) 1..N without a gap
[ "$(dba "SELECT coalesce(sum(m - c), 0) FROM (SELECT log, max(pos) AS m, count(*) AS c FROM app.audit GROUP BY log) x")" = 0 ] &&
[ "$(dba "SELECT count(DISTINCT log) FROM app.audit")" -ge 2 ] &&
    ok "i: every log is whole after the app role's attempts" || bad "i: the log changed"

finish

#!/usr/bin/env bash
# Tampering with the rows that decide access, through the stock sqlcipher
# shell and the database key from `vaultctl key db-key` (what anyone with
# the key, a backup or a root shell can do): moving a record to another
# jurisdiction, inserting a grant, inserting a policy, restoring an old field
# ciphertext, changing a grade-key row, changing a meta or checkpoint row,
# changing, removing, moving or replacing the audit state on the newest
# audit row (schema 4).  Each must be an integrity error (exit 3, a one-line
# error naming it) on the next access, never a silent use of the changed
# row: row MACs (storage v2, store schema 3 and 4, docs/storage.md).
#
# Schema 2 has no row MACs, so there these cases are the known hole: the
# script skips (exit 77, ctest SKIP_RETURN_CODE) while SCHEMA_NOW < 3.  Run
# it anyway with VAULT_TAMPER_ANYWAY=1 to see which cases get through.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

# The newest store schema this code writes (libvault/store/store.h
# STORE_SCHEMA_VERSION); each case's SQL has a form for 2 and for 3.
SCHEMA_NOW=8

hdr=$(sed -n 's/^#define STORE_SCHEMA_VERSION \([0-9][0-9]*\).*/\1/p' "$SRC/libvault/store/store.h" 2>/dev/null)
if [ -n "$hdr" ] && [ "$hdr" != "$SCHEMA_NOW" ]; then
    bad "SCHEMA_NOW is $SCHEMA_NOW but libvault/store/store.h says $hdr: set SCHEMA_NOW here and in test_migrate.sh"
    finish; exit 1
fi
if [ "$SCHEMA_NOW" -lt 3 ] && [ -z "${VAULT_TAMPER_ANYWAY:-}" ]; then
    echo "skip: store schema $SCHEMA_NOW has no row MACs, so these tamper cases are expected to get through" \
         "(VAULT_TAMPER_ANYWAY=1 runs them)"
    exit 77
fi
command -v sqlcipher >/dev/null || { bad "sqlcipher shell not installed (make deps installs it)"; finish; exit 1; }
unset VAULT_PASSPHRASE VAULT_PATH

POL="$SRC/policies/community.yaml"
J1=hangzhou/gongshu/xiaohe/changzheng/grid-07
J2=hangzhou/gongshu/xiaohe/daguan/grid-02
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
STAFF1=(--user sun --role community_staff --dept community_committee --jurisdiction "$J1" --purpose resident_service)
GRID1=(--user wang --role grid_worker --dept community_committee --jurisdiction "$J1" --purpose grid_management)
CIVIL=(--user qian --role civil_affairs_officer --dept civil_affairs --jurisdiction hangzhou/gongshu/xiaohe --purpose social_assistance)
# Resident A in grid-07, B in grid-02.
A_NAME=欧阳娜娜; A_PHONE=13812345678; A_HEALTH=高血压
B_NAME=李娟; B_PHONE=13700002222; B_HEALTH=糖尿病

# fresh NAME: a new vault in $TMP/NAME with residents A and B; sets D, RA, RB.
fresh() {
    D="$TMP/$1"; mkdir -p "$D"
    vc init --policy "$POL" >/dev/null 2>&1 || { bad "$1: init"; return 1; }
    RA=$(vc "${OFFICER[@]}" record add --in "$J1" name=$A_NAME phone=$A_PHONE id_number=330102199001011234 health=$A_HEALTH 2>/dev/null)
    RB=$(vc "${OFFICER[@]}" record add --in "$J2" name=$B_NAME phone=$B_PHONE health=$B_HEALTH 2>/dev/null)
    [ ${#RA} = 32 ] && [ ${#RB} = 32 ] || { bad "$1: record add"; return 1; }
}
vc() { "$VAULTCTL" --vault "$D/v" --key-file "$D/k" "$@"; }
# sql STATEMENTS (or standard input): run them in the stock shell with the
# database key; the output of SELECTs is printed.
sql() {
    local key
    # DBKEY: a key fetched before (each db-key call is logged and signed)
    key=${DBKEY:-$(vc key db-key 2>/dev/null)} || { echo "db-key failed" >&2; return 1; }
    { printf 'PRAGMA key = "%s";\nPRAGMA cipher_page_size = 4096;\n' "$key"; if [ $# -gt 0 ]; then printf '%s\n' "$1"; else cat; fi; } |
        sqlcipher -batch -bail "$D/v"
}
# tamper WHAT STATEMENTS...: change rows, requiring that some changed.
tamper() {
    local what=$1 n
    shift
    n=$(sql "$* SELECT total_changes();" 2>"$TMP/sqlerr" | tail -n 1)
    if [ "${n:-0}" -gt 0 ] 2>/dev/null; then return 0; fi
    bad "$what: the tampering changed no row ($(head -c 200 "$TMP/sqlerr"))"
    return 1
}
hexof() { od -An -tx1 <"$1" | tr -d ' \n'; } # hexof FILE

# check_caught FORBIDDEN... -- command: 0 when the command exits 3 with a
# one-line error naming an integrity failure and none of the FORBIDDEN
# strings on standard output; $why says what happened.
check_caught() {
    local forbidden=() rc v leaked=""
    while [ "$1" != -- ]; do forbidden+=("$1"); shift; done
    shift
    "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    for v in "${forbidden[@]}"; do grep -qF -- "$v" "$TMP/out" && leaked="$leaked $v"; done
    if [ "$rc" = 3 ] && [ "$(wc -l <"$TMP/err")" = 1 ] && grep -qi integrity "$TMP/err" && [ -z "$leaked" ]; then
        why=$(cut -c1-100 "$TMP/err"); return 0
    fi
    why="exit $rc, wanted 3 with one 'integrity' line${leaked:+; printed$leaked}"
    return 1
}
# caught WHAT FORBIDDEN... -- command: the next access is an integrity error.
caught() {
    local what=$1
    shift
    if check_caught "$@"; then ok "$what: integrity error ($why)"; else
        bad "$what: $why"; sed 's/^/    /' "$TMP/err" "$TMP/out" | head -8; fi
}
# caught_or_verify WHAT FORBIDDEN... -- command: as caught, or else the
# access leaks nothing and `audit verify` fails with exit 3.
caught_or_verify() {
    local what=$1 first rc
    shift
    if check_caught "$@"; then ok "$what: integrity error on the next access ($why)"; return; fi
    first=$why
    case $first in *printed*) bad "$what: the next access: $first"; return ;; esac
    vc audit verify >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ "$rc" = 3 ] && grep -qi "integrity\|FAILED" "$TMP/out" "$TMP/err"; then
        ok "$what: audit verify fails ($(cat "$TMP/out" "$TMP/err" | head -n 1 | cut -c1-100))"
    else
        bad "$what: neither the next access ($first) nor audit verify (exit $rc) reports it"
        sed 's/^/    /' "$TMP/out" "$TMP/err" | head -5
    fi
}

# ---- a. a record moved to another jurisdiction ----
move_record() { # move_record ID JURISDICTION
    tamper "move" "UPDATE records SET jurisdiction = '$2' WHERE id = x'$1';" # same in 2 and 3
}
fresh move || exit 1
expect_exit 4 "a: grid-07's staff may not read grid-02's resident" -- vc "${STAFF1[@]}" record get "$RB" --fields name,phone
move_record "$RB" "$J1" &&
    caught "a: record moved into grid-07, read by grid-07's staff" "$B_NAME" "$B_PHONE" "${B_PHONE:0:3}****" -- \
        vc "${STAFF1[@]}" record get "$RB" --fields name,phone

# ---- b. a grant row inserted (a copy of a real one, wider) ----
widen_grant() { # widen_grant GRANT_ID NEW_ID: a copy over the whole city, every grade
    # Schema 3 copies the row's mac with it (a tag of another row).
    tamper "grant" "CREATE TEMP TABLE g AS SELECT * FROM grants WHERE id = '$1';
UPDATE g SET id = '$2', records = NULL, jurisdiction = 'hangzhou', fields = NULL,
    grade_min = 'public', grade_max = 'sensitive';
INSERT INTO grants SELECT * FROM g;"
}
fresh grant || exit 1
G=$(vc "${OFFICER[@]}" grant --to-role civil_affairs_officer --to-dept civil_affairs --fields health \
    --records "$RA" --purposes social_assistance --for 1d --reason "relief assessment" 2>/dev/null | cut -d' ' -f1)
expect_exit 0 "b: the real grant lets civil affairs read A's health" -- vc "${CIVIL[@]}" record get "$RA" --fields health
expect_grep "$A_HEALTH" "$TMP/out" "b: in plaintext"
expect_exit 0 "b: but B's health only masked" -- vc "${CIVIL[@]}" record get "$RB" --fields health
expect_no_grep "$B_HEALTH" "$TMP/out" "b: B's health is not shown"
widen_grant "$G" g-0123456789abcdef &&
    caught "b: a forged wider grant, used by its recipient" "$B_HEALTH" -- vc "${CIVIL[@]}" record get "$RB" --fields health

# ---- b2. an issuing principal written onto a grant (schema 5 columns) ----
# An embedded officer's grant records no principal; one put in afterwards
# (a token subject another officer could then be compared with) changes
# the row's bytes, so its MAC no longer checks.  tests/server/test_vaultd.py
# changes a principal vaultd recorded.
if [ "$SCHEMA_NOW" -ge 5 ]; then
    fresh grant-principal || exit 1
    G=$(vc "${OFFICER[@]}" grant --to-role civil_affairs_officer --to-dept civil_affairs --fields health \
        --records "$RA" --purposes social_assistance --for 1d --reason "relief assessment" 2>/dev/null | cut -d' ' -f1)
    expect_exit 0 "b2: the grant lists" -- vc "${OFFICER[@]}" grants
    tamper "principal" "UPDATE grants SET issuer_iss = 'https://id.example.gov', issuer_sub = 'u-99' WHERE id = '$G';" &&
        caught "b2: an issuer principal forged onto a grant" "$A_HEALTH" -- vc "${CIVIL[@]}" record get "$RA" --fields health
fi

# ---- c. a policy row inserted (grid workers read contacts in plaintext) ----
add_policy() { # add_policy FILE: a newer policy row with FILE's source
    local src hash
    src=$(hexof "$1")
    hash=$(sha256sum "$1" | cut -d' ' -f1)
    if [ "$SCHEMA_NOW" -ge 3 ]; then
        tamper "policy" "INSERT INTO policies(id, hash, filename, source, applied, mac)
SELECT max(id) + 1, x'$hash', 'community.yaml', CAST(x'$src' AS TEXT), max(applied) + 1,
    (SELECT mac FROM policies ORDER BY id DESC LIMIT 1) FROM policies;"
    else
        tamper "policy" "INSERT INTO policies(id, hash, filename, source, applied)
SELECT max(id) + 1, x'$hash', 'community.yaml', CAST(x'$src' AS TEXT), max(applied) + 1 FROM policies;"
    fi
}
fresh policy || exit 1
python3 - "$POL" "$D/open.yaml" <<'EOF'
import sys
s = open(sys.argv[1], encoding="utf-8").read()
old = "fields: [name, phone, id_number, address]\n    effect: mask"
assert s.count(old) == 1, "grid-contact-masked not found"
open(sys.argv[2], "w", encoding="utf-8").write(s.replace(old, old.replace("mask", "allow")))
EOF
expect_exit 0 "c: the grid worker reads A's phone" -- vc "${GRID1[@]}" record get "$RA" --fields phone
expect_no_grep "$A_PHONE" "$TMP/out" "c: masked"
add_policy "$D/open.yaml" &&
    caught "c: a forged newer policy, then a read" "$A_PHONE" "$A_NAME" -- vc "${GRID1[@]}" record get "$RA" --fields name,phone

# ---- d. an old field ciphertext restored ----
# saved_field ID FIELD: the stored bytes that hold FIELD of record ID, as
# hex, then the record's version.
saved_field() {
    if [ "$SCHEMA_NOW" -ge 3 ]; then
        sql "SELECT hex(body) FROM records WHERE id = x'$1'; SELECT version FROM records WHERE id = x'$1';"
    else
        sql "SELECT hex(ct) FROM fields WHERE record_id = x'$1' AND name = '$2'; SELECT version FROM records WHERE id = x'$1';"
    fi
}
# restore_field ID FIELD HEX [VERSION]: put the saved bytes back (and the version).
restore_field() {
    local ver=${4:+"UPDATE records SET version = $4 WHERE id = x'$1';"}
    if [ "$SCHEMA_NOW" -ge 3 ]; then
        tamper "restore" "UPDATE records SET body = x'$3' WHERE id = x'$1'; ${ver:-}"
    else
        tamper "restore" "UPDATE fields SET ct = x'$3' WHERE record_id = x'$1' AND name = '$2'; ${ver:-}"
    fi
}
for variant in bytes bytes+version; do
    fresh "restore-${variant/+/-}" || exit 1
    saved=$(saved_field "$RA" phone)
    old_ct=$(sed -n 1p <<<"$saved"); old_ver=$(sed -n 2p <<<"$saved")
    [ -n "$old_ct" ] && [ -n "$old_ver" ] || { bad "d: no stored bytes for A's phone"; continue; }
    expect_exit 0 "d ($variant): update A's phone" -- vc "${OFFICER[@]}" record update "$RA" phone=13999990000
    if [ "$variant" = bytes ]; then restore_field "$RA" phone "$old_ct"; else restore_field "$RA" phone "$old_ct" "$old_ver"; fi &&
        caught "d ($variant): the old ciphertext put back, then a read" "$A_PHONE" -- vc "${OFFICER[@]}" record get "$RA" --fields phone
done

# ---- d2. a crafted record body (names longer than any field's, 1 024 of
#      them): refused as malformed before any MAC or field is read, no crash ----
if [ "$SCHEMA_NOW" -ge 3 ]; then
    fresh "crafted-body" || exit 1
    body=$(python3 -c '
import struct, sys
name = b"n" * 255
out = bytes([1]) + struct.pack("<H", 1024)
for i in range(1024):
    out += bytes([255]) + name + bytes([255]) + name + struct.pack("<Iq", 1, 1) + bytes([0]) + struct.pack("<I", 0)
sys.stdout.write(out.hex())')
    tamper "crafted body" "UPDATE records SET body = x'$body' WHERE id = x'$RA';" &&
        caught "d2: a crafted record body, then a read" "$A_PHONE" -- vc "${OFFICER[@]}" record get "$RA" --fields phone
fi

# ---- e. a grade-key row changed ----
change_gradekey() { # change_gradekey copy|flip: personal v1 <- sensitive v1, or one byte flipped
    if [ "$1" = copy ]; then
        tamper "grade key" "UPDATE grade_keys SET wrapped = (SELECT wrapped FROM grade_keys WHERE grade = 'sensitive' AND version = 1)
WHERE grade = 'personal' AND version = 1;"
    else
        tamper "grade key" "UPDATE grade_keys SET wrapped = substr(wrapped, 1, 20) || x'5a' || substr(wrapped, 22)
WHERE grade = 'personal' AND version = 1;"
    fi
} # same in 2 and 3
for variant in copy flip; do
    fresh "gradekey-$variant" || exit 1
    change_gradekey $variant &&
        caught "e ($variant): personal's key row changed, then a read of a personal field" "$A_NAME" -- \
            vc "${OFFICER[@]}" record get "$RA" --fields name
done

# ---- f. a meta row and a checkpoint row changed ----
fresh other || exit 1
OTHER_PK=$(sql "SELECT hex(value) FROM meta WHERE key = 'audit_pk';")
fresh meta || exit 1
[ -n "$OTHER_PK" ] && tamper "meta" "UPDATE meta SET value = x'$OTHER_PK' WHERE key = 'audit_pk';" && # same in 2 and 3
    caught_or_verify "f: the audit public key replaced by another vault's" -- vc "${OFFICER[@]}" record get "$RA" --fields name
fresh checkpoint || exit 1
vc audit checkpoint >/dev/null 2>&1
tamper "checkpoint" "UPDATE checkpoints SET created = created - 86400 WHERE size = (SELECT max(size) FROM checkpoints);" && # same in 2 and 3
    caught_or_verify "f: a checkpoint row's time changed" -- vc "${OFFICER[@]}" record get "$RA" --fields name


# ---- g. rows put back exactly as the vault once wrote them (old tags) ----
if [ "$SCHEMA_NOW" -ge 3 ]; then
    # A revoked grant restored to its active row.
    fresh rollback-grant || exit 1
    G=$(vc "${OFFICER[@]}" grant --to-role civil_affairs_officer --to-dept civil_affairs --fields health \
        --records "$RA" --purposes social_assistance --for 1d --reason "relief assessment" 2>/dev/null | cut -d' ' -f1)
    sql "CREATE TABLE saved_grant AS SELECT * FROM grants WHERE id = '$G';" >/dev/null
    expect_exit 0 "g: revoke the grant" -- vc "${OFFICER[@]}" revoke "$G" --reason "assessment done"
    tamper "grant rollback" "DELETE FROM grants WHERE id = '$G'; INSERT INTO grants SELECT * FROM saved_grant;" &&
        caught "g: the revoked grant's active row put back, then its recipient reads" "$A_HEALTH" -- \
            vc "${CIVIL[@]}" record get "$RA" --fields health
    # The newest policy row removed (the one before it active again).
    fresh rollback-policy || exit 1
    expect_exit 0 "g: apply the policy again (a second policy row)" -- vc policy apply "$POL"
    tamper "policy rollback" "DELETE FROM policies WHERE id = (SELECT max(id) FROM policies);" &&
        caught "g: the newest policy row removed, then a read" "$A_PHONE" -- vc "${GRID1[@]}" record get "$RA" --fields phone
fi

# ---- h. the audit state (tree state and trust digest) on the newest audit row ----
if [ "$SCHEMA_NOW" -ge 4 ]; then
    NEWEST="(SELECT max(pos) FROM audit)"
    fresh other-state || exit 1
    OTHER_STATE=$(sql "SELECT hex(state) || ' ' || hex(state_mac) FROM audit WHERE pos = $NEWEST;")
    fresh state-edit || exit 1
    [ "$(sql "SELECT count(*) FROM audit WHERE state IS NOT NULL;")" = 1 ] &&
        ok "h: one audit row carries the state" || bad "h: not exactly one audit row carries the state"
    [ "$(sql "SELECT count(*) FROM meta WHERE key = 'audit_tree';")" = 0 ] &&
        ok "h: no meta row holds it" || bad "h: a meta row audit_tree is left"
    tamper "state edit" "UPDATE audit SET state = zeroblob(length(state)) WHERE pos = $NEWEST;" &&
        caught "h: the state changed" "$A_NAME" -- vc "${OFFICER[@]}" record get "$RA" --fields name
    fresh state-removed || exit 1
    tamper "state removed" "UPDATE audit SET state = NULL, state_mac = NULL WHERE pos = $NEWEST;" &&
        caught "h: the state removed" "$A_NAME" -- vc "${OFFICER[@]}" record get "$RA" --fields name
    fresh state-cut || exit 1
    tamper "newest entry deleted" "DELETE FROM audit WHERE pos = $NEWEST;" &&
        caught "h: the newest entry deleted, the state with it" "$A_NAME" -- vc "${OFFICER[@]}" record get "$RA" --fields name
    fresh state-moved || exit 1
    tamper "state moved" "UPDATE audit SET state = (SELECT state FROM audit WHERE pos = $NEWEST),
        state_mac = (SELECT state_mac FROM audit WHERE pos = $NEWEST) WHERE pos = $NEWEST - 1;
        DELETE FROM audit WHERE pos = $NEWEST;" &&
        caught "h: the state moved to the entry before (the newest deleted)" "$A_NAME" -- vc "${OFFICER[@]}" record get "$RA" --fields name
    fresh state-other || exit 1
    if [ -n "$OTHER_STATE" ]; then
        tamper "state swapped" "UPDATE audit SET state = x'${OTHER_STATE% *}', state_mac = x'${OTHER_STATE#* }' WHERE pos = $NEWEST;" &&
            caught "h: another vault's state (with its tag) put in" "$A_NAME" -- vc "${OFFICER[@]}" record get "$RA" --fields name
    else
        bad "h: no state read from the other vault"
    fi
    fresh state-old || exit 1
    OLD_STATE=$(sql "SELECT hex(state) || ' ' || hex(state_mac) FROM audit WHERE pos = $NEWEST;")
    expect_exit 0 "h: one more access (the state moves on)" -- vc "${OFFICER[@]}" record get "$RB" --fields name
    tamper "old state put back" "UPDATE audit SET state = x'${OLD_STATE% *}', state_mac = x'${OLD_STATE#* }' WHERE pos = $NEWEST;" &&
        caught "h: the state the vault wrote one access before put back" "$A_NAME" -- vc "${OFFICER[@]}" record get "$RA" --fields name
fi

# ---- i. the insider's rewrite: an entry cut from the middle, the rest
#      renumbered and re-chained, the stored checkpoints and the vault's
#      record of its last signed checkpoint deleted (DESIGN.md section 6) ----
if [ "$SCHEMA_NOW" -ge 4 ]; then
    fresh rewrite || exit 1
    for i in 1 2 3; do vc "${OFFICER[@]}" record get "$RA" --fields name >/dev/null 2>&1; done
    vc audit checkpoint >/dev/null 2>&1
    sql "SELECT pos || ' ' || hex(entry) || ' ' || hex(head) FROM audit ORDER BY pos;" >"$TMP/rows"
    python3 - "$TMP/rows" >"$TMP/rewrite.sql" <<'PY'
import hashlib, struct, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
cut = len(rows) // 2                      # the entry in the middle goes
out, prev = [], bytes.fromhex(rows[cut - 1][2])
out.append("DELETE FROM audit WHERE pos = %s;" % rows[cut][0])
for pos, entry, _ in rows[cut + 1:]:
    e = bytearray(bytes.fromhex(entry))
    seq = struct.unpack_from("<Q", e, 4)[0]
    struct.pack_into("<Q", e, 4, seq - 1)  # renumbered
    leaf = hashlib.sha256(b"\x00" + bytes(e)).digest()
    prev = hashlib.sha256(b"\x02" + prev + leaf).digest()
    out.append("UPDATE audit SET pos = %d, entry = x'%s', head = x'%s' WHERE pos = %s;"
               % (int(pos) - 1, e.hex(), prev.hex(), pos))
out.append("DELETE FROM audit_by_record; DELETE FROM audit_by_user;")
out.append("DELETE FROM checkpoints; DELETE FROM meta WHERE key = 'audit_signed';")
print("\n".join(out))
PY
    DBKEY=$(vc key db-key 2>/dev/null)
    cp "$D/v" "$TMP/good.vault" # the store as the vault last signed it
    tamper "rewrite" "$(cat "$TMP/rewrite.sql")" &&
        caught "i: a middle entry cut, renumbered, re-chained, checkpoints deleted: the next access" \
            "$A_NAME" -- vc "${OFFICER[@]}" record get "$RA" --fields name
    expect_exit 3 "i: audit verify fails on the rewritten log" -- vc audit verify
    expect_exit 3 "i: no checkpoint is signed over it" -- vc audit checkpoint
    # Each refusal is counted in the keys file's anchor (docs/keyslots.md
    # section 10), not in the rewritten store.
    refused() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])).get("audit",{}).get("refused") or {}; print(r.get("count",0), r.get("class",""))' "$D/v.keys"; }
    got=$(refused)
    if [ "$got" = "3 record missing" ]; then ok "i: the keys file counts the 3 refusals ($got)"; else
        bad "i: the keys file's refusal record is '$got', wanted '3 record missing'"; fi
    # The good copy put back: the next open logs the refusals once.
    cp "$TMP/good.vault" "$D/v"
    expect_exit 0 "i: the store put back opens and verifies" -- vc audit verify
    got=$(refused)
    if [ "$got" = "0 " ]; then ok "i: the refusal record is cleared once logged"; else
        bad "i: the refusal record is '$got' after the repair"; fi
    vc audit export --out "$TMP/after.jsonl" >/dev/null 2>&1
    n=$(grep -c '"action":"audit_rewrite_refused"' "$TMP/after.jsonl")
    if [ "$n" = 1 ] && grep '"action":"audit_rewrite_refused"' "$TMP/after.jsonl" | grep -q '"outcome":"denied".*refused 3 times as record missing'; then
        ok "i: one audit_rewrite_refused entry (denied, 3 times)"
    else bad "i: $n audit_rewrite_refused entries, wanted 1 with 'refused 3 times'"; fi
fi

finish

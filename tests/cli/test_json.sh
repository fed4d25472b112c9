#!/usr/bin/env bash
# Every vaultctl leaf command with --json (issue 18; docs/cli-output.md
# "JSON output"): each leaf of cli/vaultctl.help (`@leaf NAME`) has a case
# here, run on a real vault in a state where it succeeds; its standard
# output must be exactly one JSON value (json.loads of the whole of it)
# with the keys the docs name.  A leaf without a case, or a case for a
# leaf the help source doesn't have, fails the test, so a new command
# can't land without its JSON.  The commands that refuse --json (demo,
# witness serve, audit export without --out) exit 2 with nothing on
# standard output and one line on standard error naming the command.  A
# tampered log: audit verify --json exits 3 with {"ok": false} and the
# failure class its stderr line names.  Client mode: a few leaves through
# a real vaultd (tests/server/with_vaultd.py), also with --json.
#
#   bash tests/cli/test_json.sh build/vaultctl
VAULTCTL=$1
case "$VAULTCTL" in /*) ;; *) VAULTCTL=$PWD/$VAULTCTL ;; esac  # the test runs in its directory
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { bad "python3 not installed"; finish; exit 1; }
command -v sqlcipher >/dev/null || { bad "sqlcipher shell not installed (make deps installs it)"; finish; exit 1; }

# check.py FILE SPEC...: FILE holds exactly one JSON value, and each SPEC holds:
#   PATH            the path exists          PATH=JSON   it equals JSON (else the string)
#   PATH:TYPE       str int bool num list obj null (a bool is no int)
#   exact=K1,K2     the top-level object has exactly these keys
# A PATH is keys joined by '.'; a part ending in [] walks every element of
# that (non-empty) list: `fields[].effect`, `[].slot` (a top-level list).
cat >"$TMP/check.py" <<'EOF'
import json, sys
text = open(sys.argv[1], encoding="utf-8").read()
try:
    doc = json.loads(text)
except ValueError as e:
    sys.exit("standard output is not one JSON value (%s): %r" % (e, text[:120]))
TYPES = {"str": (str,), "int": (int,), "bool": (bool,), "num": (int, float),
         "list": (list,), "obj": (dict,), "null": (type(None),)}

def nodes(path):
    vals = [doc]
    for part in path.split(".") if path else []:
        name, each = (part[:-2], True) if part.endswith("[]") else (part, False)
        out = []
        for v in vals:
            if name:
                if not isinstance(v, dict) or name not in v:
                    raise LookupError("no key %r (path %s) in %s" % (name, path, json.dumps(v, ensure_ascii=False)[:200]))
                v = v[name]
            if each:
                if not isinstance(v, list) or not v:
                    raise LookupError("%s: not a non-empty list" % path)
                out.extend(v)
            else:
                out.append(v)
        vals = out
    return vals

try:
    for spec in sys.argv[2:]:
        if spec.startswith("exact="):
            want = set(spec[6:].split(",")) if spec[6:] else set()
            if not isinstance(doc, dict) or set(doc) != want:
                got = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
                raise LookupError("keys %s, wanted exactly %s" % (got, sorted(want)))
        elif "=" in spec:
            path, raw = spec.split("=", 1)
            try:
                want = json.loads(raw)
            except ValueError:
                want = raw
            for v in nodes(path):
                if v != want or type(v) is not type(want):
                    raise LookupError("%s is %r, wanted %r" % (path, v, want))
        elif ":" in spec:
            path, t = spec.rsplit(":", 1)
            for v in nodes(path):
                if not isinstance(v, TYPES[t]) or (t in ("int", "num") and isinstance(v, bool)):
                    raise LookupError("%s is %r, not %s" % (path, v, t))
        else:
            nodes(spec)
except LookupError as e:
    sys.exit(str(e))
EOF

declare -A CASE=()  # leaf -> 1 once a case ran it

# jcase LEAF EXIT SPEC... -- COMMAND...: COMMAND exits EXIT with one JSON
# value on stdout that meets every SPEC (check.py above).
jcase() {
    local leaf=$1 want=$2 spec=(); shift 2
    while [ "$1" != -- ]; do spec+=("$1"); shift; done; shift
    CASE[$leaf]=1
    "$@" >"$TMP/out" 2>"$TMP/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        bad "$leaf --json: exit $got, wanted $want"; sed 's/^/    /' "$TMP/err" "$TMP/out" | head -10; return 1
    fi
    if python3 "$TMP/check.py" "$TMP/out" "${spec[@]}" 2>"$TMP/why"; then ok "$leaf --json: one JSON value with ${spec[*]}"; else
        bad "$leaf --json: $(tail -n 1 "$TMP/why")"; sed 's/^/    /' "$TMP/out" | head -10; return 1; fi
}

# jrefuse LEAF -- COMMAND...: COMMAND (with --json) refuses: exit 2, nothing on
# stdout, one line on stderr that names LEAF.
jrefuse() {
    local leaf=$1; shift 2
    CASE[$leaf]=1
    "$@" >"$TMP/out" 2>"$TMP/err"
    local got=$? lines
    lines=$(wc -l <"$TMP/err")
    if [ "$got" = 2 ] && [ ! -s "$TMP/out" ] && [ "$lines" = 1 ] && grep -q -- "$leaf" "$TMP/err"; then
        ok "$leaf --json is refused: exit 2, stdout empty, one line naming it"; else
        bad "$leaf --json refusal (exit $got, $(wc -c <"$TMP/out") bytes on stdout, $lines lines on stderr)"
        sed 's/^/    /' "$TMP/err" "$TMP/out" | head -10; fi
}

# ---- client mode (run by with_vaultd.py, below): a few leaves through vaultd ----
if [ "${2:-}" = --client ]; then
    R=("$VAULTCTL" --server "unix://$VAULTD_SOCK" --token-file "$VAULTD_TOKEN_OFFICER" --purpose resident_service --json)
    jcase "record add" 0 exact=record,fields record:str fields=2 -- \
        "${R[@]}" record add --in hangzhou/gongshu/xiaohe/changzheng/grid-07 name=李四 phone=13912345678
    rid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["record"])' "$TMP/out" 2>/dev/null)
    jcase "record get" 0 exact=record,fields record="$rid" "fields[].field:str" "fields[].effect:str" -- \
        "${R[@]}" record get "$rid" --fields name,phone
    grep -q '"value": "李四"' "$TMP/out" && ok "client record get: the value, as embedded" || bad "client record get: no value"
    jcase "record find" 0 "[]:str" -- "${R[@]}" record find --field phone --value 13912345678
    jcase "grant" 0 exact=grant,pending grant:str pending=false -- \
        "${R[@]}" grant --to-dept community_committee --fields phone --in hangzhou/gongshu/xiaohe --for 1h --reason json-test
    jcase "grants" 0 "[].id:str" "[].state:str" "[].not_after:int" -- "${R[@]}" grants
    jcase "audit verify" 0 exact=ok,failure,bad_seq,entries,checkpoints,message,newest_size,newest_time \
        ok=true failure= entries:int -- "${R[@]}" audit verify
    jcase "audit anomalies" 0 "[].user:str" "[].count:int" "[].flagged:bool" -- "${R[@]}" audit anomalies --since 1d
    jcase "audit summary" 0 exact=month,zone,from,to,by,entries,residents,canary_entries,groups \
        zone=UTC residents:int "groups[].purpose:str" "groups[].entries:int" -- \
        "${R[@]}" audit summary --month "$(date -u +%Y-%m)"
    jrefuse "demo" -- "${R[@]}" demo
    finish
    exit
fi

POL="$SRC/policies/community.yaml"
GRIDJ=hangzhou/gongshu/xiaohe/changzheng/grid-07
OFFICER=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
OFFICER2=(--user zhou --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_service)
REQUEST=(--user li --role data_officer --dept street_office --jurisdiction hangzhou/gongshu/xiaohe --purpose resident_request)
GRID=(--user wang --role grid_worker --dept community_committee --jurisdiction "$GRIDJ" --purpose grid_management)
POLICE=(--user zhao --role police_officer --dept public_security --jurisdiction hangzhou/gongshu/xiaohe --purpose emergency)
d="$TMP/a"; mkdir -p "$d"; cd "$d" || exit 1
vc() { "$VAULTCTL" --vault "$d/v" --key-file "$d/k" --json "$@"; }
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$TMP/out" "$1" 2>/dev/null; }

# A witness (`vaultctl witness serve` on a free port), stopped at exit.
WPID=
trap '[ -n "$WPID" ] && kill "$WPID" 2>/dev/null; rm -rf "$TMP"' EXIT

# ---- vault, keyslots, keys ----
jcase "init" 0 exact=vault,id,policy,audit_pubkey vault="$d/v" id:str policy="$POL" -- vc init --policy "$POL"
jcase "keyslot add" 0 exact=slot,kind,label slot=1 kind=passphrase label=ops -- \
    env VAULT_NEW_PASSPHRASE="a long enough passphrase" "$VAULTCTL" --vault "$d/v" --key-file "$d/k" --json \
    --kdf interactive keyslot add --label ops
jcase "keyslot list" 0 "[].slot:int" "[].kind:str" "[].label:str" "[].created:int" -- vc keyslot list
jcase "keyslot remove" 0 exact=slot,removed slot=1 removed=true -- vc keyslot remove 1
jcase "key db-key" 0 exact=db_key db_key:str -- vc key db-key
DBKEY=$(field db_key)
jcase "key rotate" 0 grade=personal ok=true fields_reencrypted:int seconds:num -- vc key rotate --grade personal

# ---- policy ----
jcase "policy check" 0 exact=file,valid,diagnostics valid=true diagnostics:list -- vc policy check "$POL"
jcase "policy show" 0 exact=sha256,source sha256:str source:str -- vc policy show
jcase "policy who-can" 0 "[].role:str" "[].field=phone" "[].effect:str" "[].rule" -- vc policy who-can --field phone

# ---- records ----
jcase "record add" 0 exact=record,fields record:str fields=2 -- vc "${OFFICER[@]}" record add --in "$GRIDJ" name=张三 phone=13812345678
ID=$(field record)
printf 'jurisdiction,name,phone\n%s,王五,13700000000\n%s,赵六,13700000001\n' "$GRIDJ" "$GRIDJ" >"$d/r.csv"
jcase "import" 0 exact=imported imported=2 -- vc "${OFFICER[@]}" import "$d/r.csv"
jcase "canary add" 0 exact=canaries,in "canaries[]:str" in="$GRIDJ" -- vc "${OFFICER[@]}" canary add --in "$GRIDJ" --count 2
jcase "record get" 0 exact=record,fields record="$ID" "fields[].field:str" "fields[].effect:str" "fields[].present:bool" \
    "fields[].reason:str" "fields[].value" -- vc "${GRID[@]}" record get "$ID" --fields name,phone
grep -q '"value": "138\*\*\*\*5678"' "$TMP/out" && ok "record get --json: the masked value" || bad "record get --json: no masked phone"
jcase "record find" 0 "[]=$ID" -- vc "${OFFICER[@]}" record find --field phone --value 13812345678
jcase "record update" 0 exact=record,updated record="$ID" updated=1 -- vc "${OFFICER[@]}" record update "$ID" phone=13800000000
jcase "record find" 0 "[]:str" -- vc "${OFFICER[@]}" record find --field phone --value 13700000000
E=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0])' "$TMP/out" 2>/dev/null)
jcase "record erase" 0 exact=record,erased record="$E" erased=true -- vc "${OFFICER[@]}" record erase "$E"
jcase "policy explain" 0 exact=decision,rule,where,grant,reason,lines decision=mask rule=grid-contact-masked \
    where=community.yaml:143 grant= "lines:list" -- vc "${GRID[@]}" policy explain --record "$ID" --field phone

# ---- grants ----
jcase "grant" 0 exact=grant,pending grant:str pending=true -- vc "${OFFICER[@]}" grant --to-role civil_affairs_officer \
    --to-dept civil_affairs --grades special..special --records "$ID" --for 7d --reason review
P=$(field grant)
jcase "grant approve" 0 exact=grant,approved grant="$P" approved=true -- vc "${OFFICER2[@]}" grant approve "$P"
jcase "grants" 0 "[].id:str" "[].state:str" "[].issuer:str" "[].not_before:int" "[].not_after:int" -- vc grants --active
grep -q "\"id\": \"$P\"" "$TMP/out" && ok "grants --json lists the approved grant" || bad "grants --json: no $P"
jcase "revoke" 0 exact=grant,revoked grant="$P" revoked=true -- vc "${OFFICER[@]}" revoke "$P" --reason done
jcase "break-glass" 0 exact=grant,record,flagged grant:str record="$ID" flagged=true -- \
    vc "${POLICE[@]}" break-glass --record "$ID" --reason "fire on the third floor"
jcase "export" 0 exact=export,out export="$ID" out="$d/copy.json" -- vc "${REQUEST[@]}" export --record "$ID" --out "$d/copy.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["fields"]["phone"]=="13800000000"' "$d/copy.json" 2>/dev/null \
    && ok "export --out: the file holds the copy" || bad "export --out: the file is not the copy"

# ---- the audit log ----
jcase "audit checkpoint" 0 exact=checkpoint,out checkpoint:str out="$d/cp" -- vc audit checkpoint --out "$d/cp"
jcase "audit pubkey" 0 exact=pubkey,out pubkey:str out="$d/pub" -- vc audit pubkey --out "$d/pub"
jcase "audit verify" 0 exact=ok,failure,bad_seq,entries,checkpoints,message,newest_size,newest_time \
    ok=true failure= bad_seq=0 entries:int checkpoints:int newest_size:int newest_time:int -- vc audit verify --pubkey "$d/pub"
jcase "audit export" 0 exact=out,compact out="$d/ex.jsonl" compact=false -- vc audit export --out "$d/ex.jsonl"
jcase "audit verify" 0 ok=true failure= entries:int -- "$VAULTCTL" --json audit verify --export "$d/ex.jsonl" --pubkey "$d/pub"
jrefuse "audit export" -- vc audit export
jcase "audit report" 0 "[].seq:int" "[].action:str" "[].record=$ID" -- vc audit report --record "$ID"
jcase "audit anomalies" 0 "[].user:str" "[].role:str" "[].count:int" "[].role_median:num" \
    "[].score:num" "[].peers:int" "[].flagged:bool" -- vc audit anomalies --since 1d
jcase "audit summary" 0 exact=month,zone,from,to,by,entries,residents,canary_entries,groups \
    month="$(date -u +%Y-%m)" zone=UTC by:list entries:int residents:int canary_entries:int \
    "groups[].department:str" "groups[].action:str" "groups[].entries:int" "groups[].residents:int" \
    "groups[].canary_entries:int" -- vc audit summary --month "$(date -u +%Y-%m)" --by department,action
jcase "audit report" 0 exact=bundle,record bundle="$d/b.json" record="$ID" -- vc audit report --record "$ID" --bundle "$d/b.json"
jcase "audit verify-bundle" 0 exact=ok,failure,bad_seq,entries,message,size,time ok=true failure= entries:int size:int -- \
    "$VAULTCTL" --json audit verify-bundle "$d/b.json" --pubkey "$d/pub"
jcase "audit prove" 0 exact=out out="$d/p.json" -- vc audit prove --seq 2 --out "$d/p.json"
jcase "audit prove" 0 seq=2 size:int leaf:str hashes:list root:str checkpoint:str -- vc audit prove --seq 2
jcase "audit consistency" 0 exact=out out="$d/c.json" -- vc audit consistency --from 2 --out "$d/c.json"
jcase "audit consistency" 0 from=2 size:int hashes:list root:str -- vc audit consistency --from 2
jcase "audit check-proof" 0 exact=ok,kind,seq,size ok=true kind=inclusion seq=2 size:int -- \
    "$VAULTCTL" --json audit check-proof --proof "$d/p.json" --pubkey "$d/pub"
jcase "audit check-proof" 0 exact=ok,kind,from,size ok=true kind=consistency from=2 size:int -- \
    "$VAULTCTL" --json audit check-proof --proof "$d/c.json" --pubkey "$d/pub"

# ---- tokens ----
jcase "token keygen" 0 exact=public_key public_key:str -- vc token keygen --out "$d/issuer.key"
jcase "token issue" 0 exact=token,jti,exp token:str jti:str exp:int -- vc token issue --issuer-key "$d/issuer.key" \
    --iss https://id.test.invalid --aud vaultd-test --sub s --role data_officer --dept street_office \
    --jurisdiction hangzhou/gongshu/xiaohe --ttl 1h

# ---- a witness: keygen, serve (refuses --json; started without), submit, verify, audit witness ----
jcase "witness keygen" 0 exact=vkey,out vkey:str out="$d/w1.key" -- vc witness keygen --name witness.test/one --out "$d/w1.key"
WKEY=$(field vkey)
jcase "witness pubkey" 0 exact=vkey vkey="$WKEY" -- vc witness pubkey --key "$d/w1.key"
LOGKEY=$(cat "$d/pub")
jrefuse "witness serve" -- vc witness serve --state "$d/wstate" --key "$d/w1.key" --listen 127.0.0.1:0 --log "$LOGKEY"
"$VAULTCTL" witness serve --state "$d/wstate" --key "$d/w1.key" --listen 127.0.0.1:0 --log "$LOGKEY" \
    >"$d/w.out" 2>"$d/w.err" &
WPID=$!
for _ in $(seq 50); do grep -q '^listening on ' "$d/w.out" && break; sleep 0.1; done
PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$d/w.out")
if [ -z "$PORT" ]; then
    bad "witness serve did not start: $(head -c 300 "$d/w.err")"
else
    ok "witness serve listens on port $PORT"
    jcase "witness submit" 0 exact=cosignature,size cosignature:str size:int -- \
        vc witness submit --url "http://127.0.0.1:$PORT" --witness "$WKEY" --checkpoint "$d/cp" --old 0
    { cat "$d/cp"; field cosignature; } >"$d/cosigned"
    jcase "witness verify" 0 exact=ok,cosigned ok=true cosigned:int -- vc witness verify --witness "$WKEY" "$d/cosigned"
    # No witness pinned yet: audit witness fails in one stderr line and
    # prints no JSON (an empty list would read as a round that went well).
    vc audit witness >"$TMP/out" 2>"$TMP/err"; got=$?
    if [ "$got" = 5 ] && [ ! -s "$TMP/out" ] && [ "$(wc -l <"$TMP/err")" = 1 ]; then
        ok "audit witness --json with no witness: exit 5, stdout empty, one error line"; else
        bad "audit witness --json with no witness: exit $got, stdout '$(head -c 100 "$TMP/out")'"; fi
    # Pin the witness in the policy: policy apply reports the change; then
    # audit witness submits the newest checkpoint to it.
    { cat "$POL"; printf '\nwitnesses:\n  - key: %s\n    url: http://127.0.0.1:%s\n' "$WKEY" "$PORT"; } >"$d/pw.yaml"
    jcase "policy apply" 0 exact=applied,changes applied="$d/pw.yaml" "changes[]:str" -- vc policy apply "$d/pw.yaml"
    jcase "audit witness" 0 exact=witnesses "witnesses[].name=witness.test/one" "witnesses[].cosigned=true" \
        "witnesses[].already:bool" "witnesses[].size:int" "witnesses[].message:str" -- vc audit witness
fi

# ---- retention: a vault of tests/data/retention.yaml, one resident past its time ----
rv() { "$VAULTCTL" --vault "$d/rv" --key-file "$d/rk" --json "$@"; }
rv init --policy "$SRC/tests/data/retention.yaml" >/dev/null 2>&1 || bad "retention: init"
rv --user li --role officer --dept office --jurisdiction city --purpose service \
    record add --in city/a name=张三 moved_out=2020-01-01 >"$TMP/out" 2>/dev/null
RID=$(field record)
jcase "retention plan" 0 exact=now,schedules,records_read,records_to_erase,records_with_fields,remains,due,problems \
    now:int schedules=3 records_read=1 records_to_erase=1 "due[].record=$RID" "due[].schedule=moved-away" \
    "due[].erase=record" "due[].fields:list" problems:list -- rv retention plan
jcase "retention run" 0 exact=now,complete,planned,records_erased,records_with_fields_removed,fields_removed,remains_removed,canaries_erased,batches,done,skipped,problems \
    complete=true planned=1 records_erased=1 fields_removed=0 batches=1 "done[].record=$RID" skipped:list -- rv retention run
jcase "retention plan" 0 records_read=0 records_to_erase=0 due:list -- rv retention plan

# ---- backup, restore; demo refuses --json ----
jcase "backup" 0 exact=backup,of backup="$d/bk" of=data -- vc backup --out "$d/bk"
jcase "backup" 0 exact=backup,of backup="$d/rkeys.bk" of=record_keys -- vc backup --record-keys --out "$d/rkeys.bk"
[ -n "$WPID" ] && kill "$WPID" 2>/dev/null && wait "$WPID" 2>/dev/null; WPID=
jcase "restore" 0 exact=restored,from_size,to_size,entries,kept_old restored="$d/bk" from_size:int entries:int kept_old=true -- \
    vc restore --from "$d/bk"
jrefuse "demo" -- "$VAULTCTL" --json demo
# migrate: into PostgreSQL, in a throwaway cluster of its own (tests/pg/pg_cluster.sh)
jcase "migrate" 0 exact=from,to,entries,records from="$d/v" to:str entries:int records:int -- \
    bash "$SRC/tests/pg/pg_cluster.sh" run bash -c \
    '"$0" --key-file "$1" --json migrate --from "$2" --to "$VAULT_PG_URI&vault_keys=$3&vault_schema=j"' \
    "$VAULTCTL" "$d/k" "$d/v" "$d/j.keys"

# ---- a new master key: the old database key opens nothing, k and k2 open the vault ----
jcase "key rotate-master" 0 exact=vault,ok,records,digests_recomputed,record_keys,erasures_kept,grade_keys,audit_entries,slot_kept,slot_added,slots_dropped,cleaned_leftovers \
    ok=true records:int slot_kept=0 slot_added:int slots_dropped:list cleaned_leftovers=false -- \
    vc key rotate-master --new-key-file "$d/k2" --label two
if sqlcipher "$d/v" "PRAGMA key = \"$DBKEY\"; PRAGMA cipher_page_size = 4096; SELECT count(*) FROM records;" >/dev/null 2>&1; then
    bad "key rotate-master: the old database key still opens the vault file"; else
    ok "key rotate-master: the old database key opens the vault file no more"; fi
"$VAULTCTL" --vault "$d/v" --key-file "$d/k2" keyslot list >/dev/null 2>&1 && ok "key rotate-master: the new key file opens the vault" || bad "key rotate-master: the new key file does not open the vault"
vc key db-key >"$TMP/out" 2>/dev/null; DBKEY=$(field db_key)

# ---- a tampered log: audit verify --json says which failure, exit 3 ----
hex=$(sqlcipher "$d/v" "PRAGMA key = \"$DBKEY\"; PRAGMA cipher_page_size = 4096; SELECT hex(entry) FROM audit WHERE pos = 4;" | tail -n 1)
from=$(printf 'li' | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
case "$hex" in *"$from"*) ;; *) bad "entry 4 does not name the user li";; esac
sqlcipher "$d/v" "PRAGMA key = \"$DBKEY\"; PRAGMA cipher_page_size = 4096; UPDATE audit SET entry = X'${hex/$from/6C6A}' WHERE pos = 4;" >/dev/null
jcase "audit verify" 3 exact=ok,failure,bad_seq,entries,checkpoints,message,newest_size,newest_time ok=false \
    failure:str bad_seq=4 message:str -- vc audit verify
class=$(field failure)
if [ -n "$class" ] && [ "$(wc -l <"$TMP/err")" = 1 ] && grep -q "FAILED: $class[ :]" "$TMP/err"; then
    ok "a tampered log: failure \"$class\" is the class the stderr line names"; else
    bad "a tampered log: failure \"$class\" against stderr: $(head -c 300 "$TMP/err")"; fi

# ... and a master-key rotation refuses to carry it: exit 3, the keys file as it was
cp "$d/v.keys" "$TMP/keys.before"
vc key rotate-master >"$TMP/out" 2>"$TMP/err"; got=$?
if [ "$got" = 3 ] && cmp -s "$d/v.keys" "$TMP/keys.before" && grep -q 'does not verify' "$TMP/err"; then
    ok "key rotate-master over a tampered log: exit 3, nothing changed"; else
    bad "key rotate-master over a tampered log: exit $got, $(head -c 300 "$TMP/err")"; fi

# ---- client mode: through vaultd (tests/server/with_vaultd.py starts one with TLS and tokens) ----
VAULTD="$(dirname "$VAULTCTL")/vaultd"
if [ -x "$VAULTD" ]; then
    if VAULTCTL="$VAULTCTL" VAULTD="$VAULTD" python3 "$SRC/tests/server/with_vaultd.py" \
        bash "$SRC/tests/cli/test_json.sh" "$VAULTCTL" --client >"$TMP/client" 2>&1; then
        ok "client mode: record add/get/find, grant, grants, audit verify through vaultd with --json"; else
        bad "client mode through vaultd"; fi
    sed -n 's/^/    client: /p' "$TMP/client" | grep -v 'client: ok - ' | head -30
else
    bad "no vaultd next to $VAULTCTL (client mode not tested)"
fi

# ---- every leaf of the help source has a case, and no case names another ----
mapfile -t LEAVES < <(sed -n 's/^@leaf //p' "$SRC/cli/vaultctl.help")
[ "${#LEAVES[@]}" -ge 40 ] && ok "${#LEAVES[@]} leaves in cli/vaultctl.help" || bad "only ${#LEAVES[@]} leaves in cli/vaultctl.help"
declare -A HELP=()
for leaf in "${LEAVES[@]}"; do
    HELP[$leaf]=1
    [ -n "${CASE[$leaf]:-}" ] || bad "leaf \"$leaf\" has no --json case in tests/cli/test_json.sh"
done
for leaf in "${!CASE[@]}"; do
    [ -n "${HELP[$leaf]:-}" ] || bad "a --json case for \"$leaf\", which is no leaf of cli/vaultctl.help"
done
ok "${#CASE[@]} leaves run with --json"
finish

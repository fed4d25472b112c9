#!/usr/bin/env bash
# Help from one source (cli/vaultctl.help, server/vaultd.help; docs/help.md):
# every leaf's --help, the leaves dispatched, the man pages, man == --help,
# the bash completion, and the generator's refusal of a bad source.
VAULTCTL=$1
. "$(dirname "$0")/lib.sh"

BUILD=$(cd "$(dirname "$VAULTCTL")" && pwd)
GEN="$BUILD/generated"
VAULTD="$BUILD/vaultd"
unset VAULT_PATH VAULT_PASSPHRASE VAULT_TOKEN
mapfile -t LEAVES < <(sed -n 's/^@leaf //p' "$SRC/cli/vaultctl.help")
mapfile -t GROUPS_ < <(sed -n 's/^@group //p' "$SRC/cli/vaultctl.help")
[ "${#LEAVES[@]}" -ge 40 ] && ok "the source names ${#LEAVES[@]} leaves" || bad "only ${#LEAVES[@]} leaves"

# Every leaf: --help and -h to stdout, exit 0, usage and an example, even
# with a wrong option after it; `vaultctl help LEAF` the same text.
for leaf in "${LEAVES[@]}"; do
    # shellcheck disable=SC2086
    "$VAULTCTL" $leaf --help >"$TMP/out" 2>"$TMP/err"; rc=$?
    if [ $rc = 0 ] && [ ! -s "$TMP/err" ] && grep -q "^usage: " "$TMP/out" &&
       grep -q "^examples\?:$" "$TMP/out" && grep -q "^options: " "$TMP/out"; then
        ok "$leaf --help: usage, options, example"
    else bad "$leaf --help (exit $rc)"; head -5 "$TMP/out" "$TMP/err"; fi
    # shellcheck disable=SC2086
    "$VAULTCTL" $leaf --no-such-option -h >"$TMP/out2" 2>/dev/null; rc=$?
    [ $rc = 0 ] && cmp -s "$TMP/out" "$TMP/out2" && ok "$leaf -h with a wrong option: the same help" ||
        bad "$leaf -h with a wrong option (exit $rc)"
    # shellcheck disable=SC2086
    "$VAULTCTL" help $leaf >"$TMP/out3" 2>/dev/null; rc=$?
    [ $rc = 0 ] && cmp -s "$TMP/out" "$TMP/out3" && ok "help $leaf" || bad "help $leaf (exit $rc)"
done

# Groups: one line per leaf; an unknown leaf is a usage error.
for g in "${GROUPS_[@]}"; do
    expect_exit 0 "$g --help" -- "$VAULTCTL" "$g" --help
    for leaf in "${LEAVES[@]}"; do
        case "$leaf" in "$g "*) expect_grep "^  ${leaf#"$g "} " "$TMP/out" "$g --help lists ${leaf#"$g "}" ;; esac
    done
    expect_exit 2 "$g frobnicate: unknown subcommand" -- "$VAULTCTL" "$g" frobnicate
    [ -s "$TMP/err" ] && ok "$g frobnicate says why" || bad "$g frobnicate: no message"
done
expect_exit 2 "help frobnicate: no such command" -- "$VAULTCTL" help frobnicate
expect_grep "no such command 'frobnicate'" "$TMP/err" "help names what is unknown"
expect_exit 2 "help record frob" -- "$VAULTCTL" help record frob
expect_exit 0 "help: the top-level text" -- "$VAULTCTL" help
for h in -h --help; do
    expect_exit 0 "help $h: the top-level text" -- "$VAULTCTL" help $h
    expect_grep "^usage: vaultctl" "$TMP/out" "help $h prints the usage"
done
"$VAULTCTL" --help >"$TMP/top"
cmp -s "$TMP/out" "$TMP/top" && ok "help = --help" || bad "help differs from --help"

# Each leaf of the source is one vaultctl dispatches (no vault here: it
# fails, but not as an unknown command), and every command word vaultctl
# dispatches is in the source.
for leaf in "${LEAVES[@]}"; do
    # shellcheck disable=SC2086
    (cd "$TMP" && timeout 20 "$VAULTCTL" $leaf --no-such-option </dev/null) >/dev/null 2>"$TMP/err"; rc=$?
    if [ $rc != 0 ] && ! grep -q "unknown command\|unknown subcommand" "$TMP/err"; then
        ok "$leaf is dispatched"; else bad "$leaf is not dispatched (exit $rc)"; cat "$TMP/err"; fi
done
for w in $(grep -o 'strcmp(cmd, "[a-z-]*")' "$SRC/cli/main.c" | sed 's/.*"\(.*\)".*/\1/' | sort -u); do
    [ "$w" = help ] && continue
    printf '%s\n' "${LEAVES[@]}" | grep -q "^$w\( \|$\)" && ok "command $w is in the source" ||
        bad "command $w dispatched but not in cli/vaultctl.help"
done
for f in "$SRC"/cli/cmd_*.c; do
    for w in $(grep -o 'strcmp(sub, "[a-z-]*")' "$f" | sed 's/.*"\(.*\)".*/\1/' | sort -u); do
        printf '%s\n' "${LEAVES[@]}" | grep -q " $w$" && ok "subcommand $w is in the source" ||
            bad "subcommand $w ($(basename "$f")) not in cli/vaultctl.help"
    done
done

# Man pages: render without warnings, with the sections man pages have.
for page in vaultctl.1 vaultd.8 vaultd.conf.5; do
    [ -f "$GEN/$page" ] || { bad "$page generated"; continue; }
    groff -man -Tutf8 -ww -z "$GEN/$page" 2>"$TMP/err"
    [ ! -s "$TMP/err" ] && ok "$page renders without warnings" || { bad "$page warnings"; head -5 "$TMP/err"; }
    for sh in NAME SYNOPSIS DESCRIPTION OPTIONS EXAMPLES '"SEE ALSO"'; do
        grep -q "^\.SH $sh" "$GEN/$page" && ok "$page has $sh" || bad "$page lacks $sh"
    done
    bad_lines=$(grep -v '^\.\(TH\|SH\|SS\|PP\|TP\|B\|RS\|RE\|nf\|fi\|br\|nh\|ad\)\( \|$\)' "$GEN/$page" |
        grep -v '^\.\\"' | grep -c "^[.']")
    [ "$bad_lines" = 0 ] && ok "$page: no text line starts with . or '" || bad "$page: $bad_lines lines start with . or '"
done
grep -q '^\.SH "EXIT STATUS"' "$GEN/vaultctl.1" && grep -q '^\.SH ENVIRONMENT' "$GEN/vaultctl.1" &&
    grep -q '^\.SH FILES' "$GEN/vaultctl.1" && ok "vaultctl.1: exit status, environment, files" ||
    bad "vaultctl.1 lacks exit status, environment or files"
grep -q -- '--check-config' "$GEN/vaultd.8" && bad "vaultd.8 has an unescaped -" || ok "vaultd.8 escapes - in options"
if command -v man >/dev/null; then
    MANWIDTH=80 man -l "$GEN/vaultctl.1" >"$TMP/man.txt" 2>"$TMP/err" </dev/null && [ ! -s "$TMP/err" ] &&
        ok "man -l vaultctl.1" || { bad "man -l vaultctl.1"; head -3 "$TMP/err"; }
fi

# The man page says what --help says, for every leaf (vaultd too).
python3 - "$VAULTCTL" "$GEN/vaultctl.1" "$VAULTD" "$GEN/vaultd.8" "${LEAVES[@]}" <<'PY' && ok "man sections = --help, every leaf" || bad "man sections differ from --help"
import re, subprocess, sys
vaultctl, page, vaultd, dpage, leaves = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
def flat(text):
    text = re.sub(r".\x08", "", text)
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    for a, b in (("\u2212", "-"), ("\u2010", "-"), ("\u2018", "`"), ("\u2019", "'"), ("\u00ad", "")):
        text = text.replace(a, b)
    return re.sub(r"\s+", "", text)
def render(p):
    return flat(subprocess.run(["groff", "-man", "-Tutf8", "-P-c", p], check=True,
                               capture_output=True, text=True).stdout)
man = render(page)
bad = 0
for leaf in leaves:
    out = subprocess.run([vaultctl] + leaf.split() + ["--help"], capture_output=True, text=True).stdout
    usage, _, body = out.partition("\n\n")
    sect = man.find(flat(usage.replace("usage: ", "", 1)))
    if sect < 0 or man.find(flat(body), sect) < 0:
        print("  %s: man page and --help differ" % leaf); bad = 1
dman = render(dpage)
for part in subprocess.run([vaultd, "--help"], capture_output=True, text=True).stdout.split("\n\n")[1:2]:
    if flat(part) not in dman:
        print("  vaultd: man page lacks the description"); bad = 1
sys.exit(bad)
PY

# Bash completion.
COMP="$GEN/vaultctl.bash"
complete_words() { # WORDS... -> the completions of the last word
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _vaultctl; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$COMP" "$@"
}
[ "$(complete_words vaultctl rec)" = record ] && ok "vaultctl rec<TAB>: record" || bad "vaultctl rec<TAB>: '$(complete_words vaultctl rec)'"
[ "$(complete_words vaultctl --vault v.vault rec)" = record ] && ok "after --vault PATH too" || bad "after --vault PATH"
# Option values per leaf: a fixed list, a time (nothing), a file.
[ "$(complete_words vaultctl keyslot add --kdf m)" = moderate ] && ok "--kdf m<TAB>: moderate" ||
    bad "--kdf m<TAB>: '$(complete_words vaultctl keyslot add --kdf m)'"
[ "$(complete_words vaultctl --kdf '' | tr '\n' ' ')" = "interactive moderate sensitive " ] &&
    ok "--kdf <TAB>: the three profiles" || bad "--kdf <TAB>: '$(complete_words vaultctl --kdf '')'"
mkdir -p "$TMP/cw" && touch "$TMP/cw/backup.vault"
[ -z "$(cd "$TMP/cw" && complete_words vaultctl grant --from '')" ] && ok "grant --from <TAB>: no file names (a time)" ||
    bad "grant --from <TAB>: '$(cd "$TMP/cw" && complete_words vaultctl grant --from '')'"
[ "$(cd "$TMP/cw" && complete_words vaultctl restore --from b)" = backup.vault ] &&
    ok "restore --from b<TAB>: the file" || bad "restore --from b<TAB>: '$(cd "$TMP/cw" && complete_words vaultctl restore --from b)'"
complete_words vaultctl record a >"$TMP/c"; [ "$(cat "$TMP/c")" = add ] && ok "vaultctl record a<TAB>: add" || bad "record a<TAB>: $(cat "$TMP/c")"
complete_words vaultctl record add --in >"$TMP/c"
grep -qx -- --in "$TMP/c" && ok "record add --<TAB> offers --in" || bad "record add --in<TAB>: $(tr '\n' ' ' <"$TMP/c")"
complete_words vaultctl record add --i >"$TMP/c"
[ "$(sort "$TMP/c" | tr '\n' ' ')" = "--in --input " ] && ok "record add --i<TAB>: --in --input" || bad "record add --i<TAB>: $(tr '\n' ' ' <"$TMP/c")"
complete_words vaultctl record add -- >"$TMP/c"
grep -qx -- --vault "$TMP/c" && ! grep -qx -- --fields "$TMP/c" && ok "record add --<TAB>: globals, not get's --fields" ||
    bad "record add --<TAB>: $(tr '\n' ' ' <"$TMP/c")"
mkdir -p "$TMP/cwd" && touch "$TMP/cwd/values.json"
(cd "$TMP/cwd" && complete_words vaultctl record add --input val) >"$TMP/c"
grep -qx values.json "$TMP/c" && ok "--input FILE completes file names" || bad "--input FILE: $(cat "$TMP/c")"
(cd "$TMP/cwd" && complete_words vaultctl record add --in val) >"$TMP/c"
[ -z "$(tr -d '\n' <"$TMP/c")" ] && ok "--in JURISDICTION does not complete files" || bad "--in completes $(cat "$TMP/c")"
complete_words vaultctl audit verify-b >"$TMP/c"; [ "$(cat "$TMP/c")" = verify-bundle ] && ok "audit verify-b<TAB>" || bad "audit verify-b<TAB>: $(cat "$TMP/c")"

# vaultd --help from its source.
expect_exit 0 "vaultd --help" -- "$VAULTD" --help
expect_grep "^Example:\|^example:" "$TMP/out" "vaultd --help has an example"
expect_grep "check-config" "$TMP/out" "vaultd --help names --check-config"
expect_exit 0 "vaultd -h" -- "$VAULTD" -h

# The generator refuses a bad source with FILE:LINE: message.
sed '/^@leaf backup$/,/^@leaf restore$/{/^@@example$/,/^cp /d}' "$SRC/cli/vaultctl.help" >"$TMP/bad.help"
expect_exit 1 "a leaf without an example is refused" -- python3 "$SRC/tools/gen_help.py" vaultctl "$TMP/bad.help" "$TMP" 0
expect_grep "bad.help:[0-9]*: backup has no @@example" "$TMP/err" "the message names the file, line and leaf"
printf '@top\nsummary: x\n@bogus\n' >"$TMP/bad2.help"
expect_exit 1 "an unknown section is refused" -- python3 "$SRC/tools/gen_help.py" vaultctl "$TMP/bad2.help" "$TMP" 0
expect_grep "bad2.help:3: unknown section @bogus" "$TMP/err" "with its line"

finish

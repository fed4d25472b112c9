#!/usr/bin/env bash
# Banned functions and memcmp on secrets (docs/STYLE: "no strcpy, sprintf,
# atoi, strtok; memcmp never on secrets").  Run by ctest as cli_test_banned
# with the vaultctl path as $1, which is not needed here.
#
# 1. No call of strcpy, sprintf, strtok, atoi or gets in libvault/, cli/, server/ or witness/
#    (a word-boundary match followed by '(', so snprintf, strtok_r, fgets
#    and prose in comments such as "the caller gets the error" pass).
# 2. Every line of libvault/, cli/, server/ or witness/ that uses memcmp carries the comment
#    /* memcmp ok: not secret */ — a reviewer's statement that the bytes
#    compared are not secret.  Secrets (keys, tags, MACs, check values,
#    hashes a forger could probe) are compared with vc_equal/sodium_memcmp.
# 3. The checks themselves work: a planted file with each banned call and
#    an unmarked memcmp is caught.
VAULTCTL=${1:-}
. "$(dirname "$0")/lib.sh"
: "$VAULTCTL"
cd "$SRC" || exit 1

BANNED='\b(strcpy|sprintf|strtok|atoi|gets)[[:space:]]*\('
MEMCMP='\bmemcmp\b'
ALLOW='/\* memcmp ok: not secret \*/'

# banned_in DIR...: print "file:line: text" of every banned call
banned_in() { grep -rnE --include='*.c' --include='*.h' "$BANNED" "$@" 2>/dev/null; }
# memcmp_unmarked DIR...: memcmp lines without the allow-list comment
memcmp_unmarked() {
    grep -rnE --include='*.c' --include='*.h' "$MEMCMP" "$@" 2>/dev/null | grep -vE "$ALLOW"
}

for dir in libvault cli server witness; do
    if [ ! -d "$dir" ]; then bad "$dir/ exists"; continue; fi
    hits=$(banned_in "$dir")
    if [ -z "$hits" ]; then ok "$dir/: no strcpy, sprintf, strtok, atoi or gets"; else
        bad "$dir/: banned calls"; printf '%s\n' "$hits" | sed 's/^/    /'; fi
    hits=$(memcmp_unmarked "$dir")
    if [ -z "$hits" ]; then ok "$dir/: every memcmp is marked 'memcmp ok: not secret'"; else
        bad "$dir/: memcmp without '/* memcmp ok: not secret */' (use vc_equal for secrets)"
        printf '%s\n' "$hits" | sed 's/^/    /'; fi
done

# The checks must be able to fail.
mkdir -p "$TMP/plant"
cat >"$TMP/plant/p.c" <<'C'
void f(char *d, const char *s, const char *k1, const char *k2)
{
    strcpy(d, s);
    sprintf (d, "%s", s);
    strtok(d, ",");
    (void)atoi(s);
    gets(d);
    if (memcmp(k1, k2, 32) == 0) return;
    if (memcmp(s, "LVA1", 4) == 0) return; /* memcmp ok: not secret */
    snprintf(d, 4, "%s", s); strtok_r(d, ",", &d); fgets(d, 4, 0); /* the caller gets it */
}
C
n=$(banned_in "$TMP/plant" | wc -l)
if [ "$n" = 5 ]; then ok "planted banned calls are caught (5 of 5, no false positives)"; else
    bad "planted banned calls: $n caught, wanted 5"; banned_in "$TMP/plant" | sed 's/^/    /'; fi
n=$(memcmp_unmarked "$TMP/plant" | wc -l)
if [ "$n" = 1 ]; then ok "an unmarked memcmp is caught, a marked one passes"; else
    bad "planted memcmp: $n flagged, wanted 1"; fi

finish

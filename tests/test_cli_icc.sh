#!/bin/bash
# test_cli_icc.sh - `gainmap icc`: list, write, identify, refuse misuse.
set -u
CLI=${GAINMAP_CLI:-build/gainmap}
T=${GAINMAP_TMP:-/tmp}/cli_icc.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect() { # expect CODE DESCRIPTION -- command...
    local want=$1 what=$2; shift 3
    "$@" >"$T/out" 2>"$T/err"; local got=$?
    if [ "$got" = "$want" ]; then ok; else bad "$what: exit $got, expected $want ($(cat "$T/err"))"; fi
}

expect 0 "list" -- "$CLI" icc --list
grep -q '^HDR_P3_D65_ST2084 ' "$T/out" && grep -q '^P3_PQ ' "$T/out" && grep -q '^p3-hlg ' "$T/out" && ok || bad "list content"
for name in srgb p3 p3-pq bt2020-pq bt709-pq p3-hlg bt2020-hlg bt709-hlg HDR_P3_D65_ST2084 P3_PQ; do
    expect 0 "write $name" -- "$CLI" icc "$name" -o "$T/$name.icc"
    [ "$(head -c 40 "$T/$name.icc" | tail -c 4)" = "acsp" ] && ok || bad "$name: no acsp"
    expect 0 "identify $name" -- "$CLI" icc --identify "$T/$name.icc"
    case $name in
    srgb) want="srgb srgb" ;; p3) want="p3 srgb" ;; bt2020-pq) want="bt2020 pq" ;;
    p3-hlg) want="p3 hlg" ;; bt2020-hlg) want="bt2020 hlg" ;; bt709-pq) want="srgb pq" ;;
    bt709-hlg) want="srgb hlg" ;; *) want="p3 pq" ;;
    esac
    [ "$(cat "$T/out")" = "$want" ] && ok || bad "$name identified as '$(cat "$T/out")', expected '$want'"
done
# the cicp tag of the PQ profile: 'cicp' 0 0 0 0 12 16 0 1
od -An -tx1 -v "$T/p3-pq.icc" | tr -d ' \n' | grep -q '63696370000000000c100001' && ok || bad "p3-pq cicp bytes"
cmp -s "$T/p3-pq.icc" "$T/HDR_P3_D65_ST2084.icc" && bad "HDR_P3_D65_ST2084 identical to p3-pq (descriptions differ)" || ok
cmp -s "$T/P3_PQ.icc" "$T/HDR_P3_D65_ST2084.icc" && bad "P3_PQ identical to HDR_P3_D65_ST2084" || ok
# misuse and failures
expect 2 "unknown name" -- "$CLI" icc adobe-rgb -o "$T/x.icc"
grep -q "unknown profile name 'adobe-rgb'" "$T/err" && ok || bad "unknown name message: $(cat "$T/err")"
expect 2 "missing output" -- "$CLI" icc p3
grep -q "option --output FILE is required" "$T/err" && ok || bad "missing output message"
expect 2 "missing name" -- "$CLI" icc -o "$T/x.icc"
expect 1 "existing output" -- "$CLI" icc p3 -o "$T/p3.icc"
expect 0 "existing output with --force" -- "$CLI" icc p3 -o "$T/p3.icc" --force
printf 'not an icc profile at all, just some text that is long enough to pass the size check ........................................................\n' >"$T/junk.icc"
expect 1 "identify junk" -- "$CLI" icc --identify "$T/junk.icc"
grep -q "junk.icc: the ICC profile lacks the 'acsp' signature" "$T/err" && ok || bad "junk message: $(cat "$T/err")"
expect 0 "help" -- "$CLI" help icc
grep -q 'gainmap icc NAME -o FILE' "$T/out" && ok || bad "help text"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

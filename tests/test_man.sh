#!/bin/bash
# test_man.sh - docs/gainmap.1 is what scripts/gen-man makes from the CLI's
# help texts today (regenerate: scripts/gen-man build/gainmap), covers every
# command, and renders without roff warnings.
set -u
CLI=${GAINMAP_CLI:-build/gainmap}
SRC=${GM_SOURCE_DIR:-.}
T=${GAINMAP_TMP:-/tmp}/test_man
rm -rf "$T" && mkdir -p "$T"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

bash "$SRC/scripts/gen-man" "$CLI" "$T/gainmap.1" && ok || bad "gen-man exit $?"
if diff -u "$SRC/docs/gainmap.1" "$T/gainmap.1" >"$T/diff.txt"; then
    ok
else
    bad "docs/gainmap.1 is out of date with the help texts; run scripts/gen-man $CLI (diff below)"
    head -40 "$T/diff.txt" >&2
fi

# every command listed by `gainmap help` has its section, with its usage line
for c in $("$CLI" help | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1; next} on && !/^  / {on = 0}'); do
    grep -q "^\.SS gainmap $c\$" "$SRC/docs/gainmap.1" && ok || bad "no section for $c"
    first=$("$CLI" help "$c" | head -1 | sed -e 's/\\/\\e/g' -e 's/-/\\-/g')
    grep -qF -- "$first" "$SRC/docs/gainmap.1" && ok || bad "$c: usage line '$first' missing"
done
n=$(grep -c '^\.SS gainmap ' "$SRC/docs/gainmap.1")
[ "$n" -ge 11 ] && ok || bad "only $n command sections"

# the page renders cleanly
if command -v groff >/dev/null; then
    warn=$(groff -man -ww -z "$SRC/docs/gainmap.1" 2>&1)
    [ -z "$warn" ] && ok || bad "groff warnings: $warn"
    text=$(groff -man -Tutf8 "$SRC/docs/gainmap.1" 2>/dev/null | sed 's/.\x08//g')
    case "$text" in *"gainmap convert PATH..."*) ok ;; *) bad "rendered page lacks the convert usage" ;; esac
    case "$text" in *"--recursive"*) ok ;; *) bad "rendered page lacks plain ASCII option names" ;; esac
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/usr/bin/env bash
# test_install.sh - `cmake --install` puts the tool, both libraries, the one
# header, gainmap.pc and the man page under a prefix; the installed tool runs
# (it finds its library through $ORIGIN/../lib); a program compiled against
# the installed header and library links and reports the version.
set -u
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }

T=${GAINMAP_TMP:-/tmp}/test_install
rm -rf "$T"; mkdir -p "$T"
cmake --install "$GM_BUILD_DIR" --prefix "$T/p" >"$T/log" 2>&1
check "[ $? -eq 0 ]" "cmake --install failed: $(cat "$T/log")"
libdir=$(cd "$T/p" && ls -d lib*/ 2>/dev/null | head -1); libdir=${libdir%/}
for f in bin/gainmap include/gainmap.h "$libdir/libgainmap.a" "$libdir/libgainmap.so" \
         "$libdir/pkgconfig/gainmap.pc" share/man/man1/gainmap.1; do
  check "[ -e '$T/p/$f' ]" "not installed: $f"
done
out=$(env -u LD_LIBRARY_PATH "$T/p/bin/gainmap" --version 2>&1)
check "[ \"\$out\" = 'gainmap 0.1.0 (avx2 kernels)' ] || [ \"\$out\" = 'gainmap 0.1.0 (sse2 kernels)' ] || [ \"\$out\" = 'gainmap 0.1.0 (portable kernels)' ]" "installed tool: $out"
check "grep -q '^Libs: .*-lgainmap' '$T/p/$libdir/pkgconfig/gainmap.pc'" "gainmap.pc has no -lgainmap"
# only gainmap_* symbols are exported
extra=$(nm -D --defined-only "$T/p/$libdir/libgainmap.so" | awk '$2 ~ /^[TDB]$/ && $3 !~ /^gainmap_/ {print $3}')
check "[ -z \"\$extra\" ]" "symbols exported beyond gainmap_*: $extra"
cat >"$T/use.c" <<'C'
#include <gainmap.h>
#include <stdio.h>
int main(void)
{
    gainmap_ctx *ctx = gainmap_ctx_new();
    printf("%s %d\n", gainmap_version_string(), ctx != NULL);
    gainmap_ctx_free(ctx);
    return gainmap_version() == GAINMAP_VERSION_NUMBER ? 0 : 1;
}
C
san=""   # a sanitizer build's library needs the sanitizer runtimes at link time
nm -D "$T/p/$libdir/libgainmap.so" | grep -q ' U __asan_' && san="-fsanitize=address,undefined"
cc -std=c11 -Wall -Werror $san "$T/use.c" -I"$T/p/include" -L"$T/p/$libdir" -lgainmap -Wl,-rpath,"$T/p/$libdir" -o "$T/use" 2>"$T/cc.log"
check "[ $? -eq 0 ]" "compiling against the installed header failed: $(cat "$T/cc.log")"
out=$("$T/use" 2>&1)
check "[ \"\$out\" = '0.1.0 1' ]" "program linked to the installed library printed: $out"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

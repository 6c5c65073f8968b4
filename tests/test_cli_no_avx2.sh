#!/bin/bash
# test_cli_no_avx2.sh - the AVX2 kernels (src/cpu.c: chosen at run time)
# give the SSE2 kernels' exact bytes: the same master encoded and decoded
# with and without GAINMAP_NO_AVX2=1 gives identical files.  Masters: the
# bundled sample (768x512) and a 1100x800 bench master (tall enough for the
# encoder's sampled Huffman tables).  On a CPU without AVX2 both runs take
# the SSE2 kernels; the test says so.
set -u
CLI=${GAINMAP_CLI:-build/gainmap}
SRC=${GM_SOURCE_DIR:-.}
BUILD=${GM_BUILD_DIR:-build}
T=${GAINMAP_TMP:-/tmp}/test_cli_no_avx2
rm -rf "$T" && mkdir -p "$T"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
same() { # same A B WHAT
    if cmp -s "$1" "$2"; then ok; else bad "$3: $1 and $2 differ"; fi
}

# the switch takes effect: --version names the kernels in use
v_default=$("$CLI" --version)
v_off=$(GAINMAP_NO_AVX2=1 "$CLI" --version)
case "$v_off" in *"(sse2 kernels)"*) ok ;; *) bad "GAINMAP_NO_AVX2=1: --version says '$v_off'" ;; esac
if grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
    echo "this CPU has AVX2: comparing the AVX2 kernels with the SSE2 ones"
    case "$v_default" in *"(avx2 kernels)"*) ok ;; *) bad "AVX2 CPU: --version says '$v_default'" ;; esac
else
    echo "this CPU has no AVX2: both runs take the SSE2 kernels"
    case "$v_default" in *"(sse2 kernels)"*) ok ;; *) bad "no AVX2: --version says '$v_default'" ;; esac
fi
v_zero=$(GAINMAP_NO_AVX2=0 "$CLI" --version)
[ "$v_zero" = "$v_default" ] && ok || bad "GAINMAP_NO_AVX2=0 should change nothing: '$v_zero'"

cp "$SRC/samples/sample_p3_pq.tif" "$T/sample.tif"
masters="$T/sample.tif"
if [ -x "$BUILD/bench_master" ] && "$BUILD/bench_master" 1100 800 "$T/tall.tif" >/dev/null 2>&1; then
    masters="$masters $T/tall.tif"
else
    bad "bench_master 1100 800 could not make the tall master"
fi

for m in $masters; do
    b=$(basename "$m" .tif)
    for opts in "" "--gainmap-channels 1" "--base-primaries srgb"; do
        tag=$b$(echo "$opts" | tr -d ' -')
        "$CLI" encode "$m" $opts -o "$T/$tag.jpg" 2>"$T/err1" || bad "encode $b $opts: $(cat "$T/err1")"
        GAINMAP_NO_AVX2=1 "$CLI" encode "$m" $opts -o "$T/$tag.sse2.jpg" 2>"$T/err2" ||
            bad "encode $b $opts without AVX2: $(cat "$T/err2")"
        same "$T/$tag.jpg" "$T/$tag.sse2.jpg" "encode $b $opts"
    done
    "$CLI" decode "$T/$b.jpg" -t pq -o "$T/$b.ppm" 2>"$T/err1" || bad "decode $b: $(cat "$T/err1")"
    GAINMAP_NO_AVX2=1 "$CLI" decode "$T/$b.jpg" -t pq -o "$T/$b.sse2.ppm" 2>"$T/err2" ||
        bad "decode $b without AVX2: $(cat "$T/err2")"
    same "$T/$b.ppm" "$T/$b.sse2.ppm" "decode $b"
done

rm -rf "$T"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

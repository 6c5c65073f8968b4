#!/bin/bash
# bench_convert.sh - how `gainmap convert` scales with -j: converts one
# folder of HDR masters with -j 1 and with -j 2 (each run on fresh output
# folders, best of R runs) and prints the speed-up.  Issue 7 asks for at
# least 1.7x on two cores.
#   bench/bench_convert.sh [GAINMAP_BINARY] [FILES] [SIZE] [VARIANTS] [RUNS]
#   defaults: build/gainmap, 8 masters, 1024x768, uhdr,HDR_gain_map, 2 runs
# CPUS=0,1 (default) pins the runs to two processors with taskset when it
# is available, so the figure means "on two cores" on a bigger machine too.
set -euo pipefail
CLI=${1:-build/gainmap}
N=${2:-8}
SIZE=${3:-1024x768}
VARIANTS=${4:-uhdr,HDR_gain_map}
RUNS=${5:-2}
CPUS=${CPUS:-0,1}
W=${SIZE%x*}
H=${SIZE#*x}
T=$(mktemp -d "${TMPDIR:-/tmp}/bench_convert.XXXXXX")
trap 'rm -rf "$T"' EXIT

# Masters: the bundled PQ P3 sample, recoded to the wanted size through the
# CLI when it is not already that size (recode keeps size; so tile by copy).
SRC=$(cd "$(dirname "$0")/.." && pwd)/samples/sample_p3_pq.tif
mkdir -p "$T/in"
if [ "$SIZE" = "768x512" ] || ! command -v python3 >/dev/null; then
    for i in $(seq -w 1 "$N"); do cp "$SRC" "$T/in/m$i.tif"; done
    W=768 H=512
else
    # a larger master: tile the sample with python3 + the CLI's PFM round trip
    "$CLI" -q recode "$SRC" -o "$T/s.pfm"
    python3 - "$T/s.pfm" "$T/big.pfm" "$W" "$H" <<'EOF'
import sys, struct
src, dst, W, H = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = open(src, 'rb').read()
parts = data.split(b'\n', 3)
w, h = map(int, parts[1].split())
scale = float(parts[2])
px = parts[3]
fmt = '<' if scale < 0 else '>'
row = w * 12
out = bytearray()
for y in range(H):
    sy = y % h
    line = px[sy * row:(sy + 1) * row]
    reps = (W + w - 1) // w
    out += (line * reps)[:W * 12]
open(dst, 'wb').write(b'PF\n%d %d\n%s\n' % (W, H, parts[2]) + bytes(out))
EOF
    "$CLI" -q recode "$T/big.pfm" -o "$T/big.tif" --transfer pq --primaries p3
    for i in $(seq -w 1 "$N"); do cp "$T/big.tif" "$T/in/m$i.tif"; done
fi

PIN=()
if command -v taskset >/dev/null && [ -n "$CPUS" ]; then
    PIN=(taskset -c "$CPUS")
fi

best() {   # best JOBS -> seconds (best of RUNS)
    local j=$1 best_t=""
    for r in $(seq 1 "$RUNS"); do
        rm -rf "$T/out"
        local t0 t1
        t0=$(date +%s.%N)
        "${PIN[@]}" "$CLI" -q convert "$T/in" -o "$T/out" --to "$VARIANTS" -j "$j"
        t1=$(date +%s.%N)
        local t
        t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
        if [ -z "$best_t" ] || awk -v a="$t" -v b="$best_t" 'BEGIN { exit !(a < b) }'; then best_t=$t; fi
    done
    echo "$best_t"
}

echo "bench_convert: $N masters ${W}x${H}, variants $VARIANTS, best of $RUNS, cpus ${CPUS:-all} ($(nproc) online)"
t1=$(best 1)
t2=$(best 2)
echo "-j 1: ${t1} s"
echo "-j 2: ${t2} s"
awk -v a="$t1" -v b="$t2" 'BEGIN { printf "speed-up -j 2 vs -j 1: %.2fx (target >= 1.7x)\n", a / b }'

#!/usr/bin/env bash
# bench/bound.sh - how many bits does a master need for 48 dB, with our
# gain-map JPEG and with single-layer HDR codings of the same picture?
#
#   bench/bound.sh BUILD [MASTER...]
#
# For each master (default: samples/sample_p3_pq.tif and the HDR masters of
# ../shared/corpus/hdr_master) it prints bits per pixel and PSNR (10-bit PQ
# code values over all channels, master primaries, PQ clipped at 10000
# cd/m2: the measure of tests/test_encode_roundtrip.c) for:
#   gainmap   our UltraHDR JPEG: the defaults, --preset small and a few
#             base/map qualities (decoded at full headroom by gainmap decode)
#   jpeg8-pq  one 8-bit JPEG of the PQ picture itself (cjpeg -optimize, 4:4:4):
#             what a single JPEG layer with no SDR base would cost
#   hevc10-pq one 10-bit 4:4:4 HEVC image of the PQ picture (heif-enc, x265
#             at libheif's default preset): a far stronger codec than JPEG
# and, per coding, the bits per pixel at which it reaches 48 dB (linear
# interpolation between the two settings around it; "<X" when the lowest
# rate tried, X, already reaches it; "-" when no setting does).  The single-layer codings carry no SDR picture at all, so
# they are a generous bound for any JPEG gain-map encoder (issue 5).
# Needs cjpeg/djpeg (libjpeg-turbo-progs) and heif-enc/heif-convert
# (libheif-examples), which scripts/install-deps installs.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: bench/bound.sh BUILD [MASTER...]" >&2; exit 2; }
BUILD=$1; shift
GM=$BUILD/gainmap
PSNR=$BUILD/bench_psnr
for t in "$GM" "$PSNR"; do
  [ -x "$t" ] || { echo "bench/bound.sh: $t is missing (build first: make)" >&2; exit 1; }
done
for t in cjpeg djpeg heif-enc heif-convert; do
  command -v "$t" >/dev/null || { echo "bench/bound.sh: $t is missing (scripts/install-deps)" >&2; exit 1; }
done
HERE=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then
  C=$HERE/../shared/corpus/hdr_master
  set -- "$HERE/samples/sample_p3_pq.tif" "$C/gainmapjs__memorial.exr" "$C/vearutop__BrightRings.exr" \
    "$C/libavif__cosmos1650_yuv444_10bpc_p3pq.avif" "$C/libavif__colors_wcg_hdr_rec2020.avif"
fi
if [ -d /dev/shm ] && [ -w /dev/shm ]; then TMPBASE=/dev/shm; else TMPBASE=${TMPDIR:-/tmp}; fi
WORK=$(mktemp -d "$TMPBASE/gainmap-bound.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# row CODING SETTING FILE DECODED: one result line "coding setting bpp dB"
row() {
  local bytes; bytes=$(stat -c %s "$3")
  printf '%-10s %-22s %6.3f bpp  %6s dB\n' "$1" "$2" "$(awk -v b="$bytes" -v p="$PIXELS" 'BEGIN { print b * 8 / p }')" \
    "$("$PSNR" "$WORK/ref.ppm" "$4")"
}

for M in "$@"; do
  # the reference: the master as 16-bit PQ in its own primaries
  line=$("$GM" recode -f "$M" -o "$WORK/ref.ppm" -t pq 2>&1)
  PRIM=${line##* }
  read -r W H < <(sed -n 2p "$WORK/ref.ppm")
  PIXELS=$((W * H))
  echo "== $(basename "$M") (${W}x$H, $PRIM)"
  {
    for s in "default:" "small:--preset small" "q85/88:-q 85 --gainmap-quality 88" \
             "q95/96:-q 95 --gainmap-quality 96" "q98/98:-q 98 --gainmap-quality 98"; do
      name=${s%%:*}; args=${s#*:}
      # shellcheck disable=SC2086
      "$GM" encode -f "$M" -o "$WORK/gm.jpg" $args
      "$GM" decode -f "$WORK/gm.jpg" -o "$WORK/gm.ppm" -p "$PRIM" -t pq 2>/dev/null
      row gainmap "$name" "$WORK/gm.jpg" "$WORK/gm.ppm"
    done
    "$PSNR" --to8 "$WORK/ref.ppm" "$WORK/ref8.ppm"
    for q in 85 90 95 97 98 99; do
      cjpeg -quality "$q" -sample 1x1 -optimize "$WORK/ref8.ppm" >"$WORK/one.jpg"
      djpeg "$WORK/one.jpg" >"$WORK/one.ppm"
      row jpeg8-pq "q$q" "$WORK/one.jpg" "$WORK/one.ppm"
    done
    "$GM" recode -f "$WORK/ref.ppm" -o "$WORK/ref.png" 2>/dev/null
    for q in 50 60 70 80 90; do
      heif-enc -q "$q" -b 10 -p chroma=444 "$WORK/ref.png" -o "$WORK/one.heic" >/dev/null
      heif-convert "$WORK/one.heic" "$WORK/dec.png" >/dev/null
      # heif-enc writes no colour tags here: read the 16-bit PNG as the PQ codes it holds
      "$GM" recode -f "$WORK/dec.png" -o "$WORK/one.ppm" -t pq --input-transfer pq --input-primaries "$PRIM" 2>/dev/null
      row hevc10-pq "q$q" "$WORK/one.heic" "$WORK/one.ppm"
    done
  } | tee "$WORK/rows"
  # bits per pixel at 48 dB per coding (rows of one coding in rising bpp)
  awk '{ c = $1; b = $3; d = $5
         if (!(c in seen)) { seen[c] = 1; if (d >= 48) at[c] = "<" b }
         else if (!(c in at) && lb[c] < b && ld[c] < 48 && d >= 48)
           at[c] = sprintf("%.2f", lb[c] + (48 - ld[c]) * (b - lb[c]) / (d - ld[c]))
         lb[c] = b; ld[c] = d }
       END { printf "   48 dB at:"
             for (c in seen) printf "  %s %s", c, (c in at) ? at[c] " bpp" : "-"
             print "" }' \
    <(grep -v '^gainmap' "$WORK/rows"; grep '^gainmap' "$WORK/rows" | sort -k3,3n)
done

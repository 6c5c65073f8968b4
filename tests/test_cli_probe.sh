#!/bin/bash
# test_cli_probe.sh - `gainmap probe` and `gainmap recode` on the bundled
# sample and the corpus masters: reported encodings, light levels, format
# conversions, and misuse.
set -u
CLI=${GAINMAP_CLI:-build/gainmap}
SRC=${GM_SOURCE_DIR:-.}
CORPUS=${GM_CORPUS_DIR:-../shared/corpus}
T=${GAINMAP_TMP:-/tmp}/test_cli_probe
rm -rf "$T" && mkdir -p "$T"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
has() { # has "text" "needle" "what"
    case "$1" in *"$2"*) ok ;; *) bad "$3: expected '$2' in: $1" ;; esac
}
# num_between VALUE LO HI WHAT
num_between() {
    if awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; then ok; else bad "$4: $1 not in [$2, $3]"; fi
}
json_num() { sed -n "s/.*\"$2\":\([-0-9.e]*\).*/\1/p" <<<"$1"; }

SAMPLE="$SRC/samples/sample_p3_pq.tif"
out=$("$CLI" probe "$SAMPLE") && ok || bad "probe sample exit $?"
has "$out" "format:       TIFF" "probe sample"
has "$out" "size:         768x512" "probe sample"
has "$out" "bit depth:    16 (integer samples)" "probe sample"
has "$out" "transfer:     pq" "probe sample"
has "$out" "primaries:    p3" "probe sample"
has "$out" "identified as p3 pq" "probe sample"
has "$out" "peak:         4000.0 cd/m2" "probe sample"

j=$("$CLI" probe --json "$CORPUS/hdr_master/gainmapjs__memorial.exr") && ok || bad "probe exr"
has "$j" '"schema":"gainmap-probe/1"' "json"
has "$j" '"format":"OpenEXR","width":512,"height":768,"channels":3' "json"
has "$j" '"transfer":"linear","primaries":"srgb"' "json"
num_between "$(json_num "$j" peak_nits)" 45000 45500 "memorial peak (luminance of the brightest pixel x 203)"

j=$("$CLI" probe --json "$CORPUS/hdr_master/gainmapjs__memorial.hdr") && ok || bad "probe hdr"
has "$j" '"format":"Radiance HDR","width":512,"height":768' "json hdr"

# PQ P3 TIFF -> linear EXR: the 4000-nit neutral survives within half precision.
"$CLI" -q recode "$SAMPLE" -o "$T/lin.exr" && ok || bad "recode exr"
j=$("$CLI" probe --json "$T/lin.exr")
has "$j" '"transfer":"linear","primaries":"p3"' "recode exr"
num_between "$(json_num "$j" peak_nits)" 3990 4010 "exr peak"

# -> PQ BT.2020 PNG: cICP 9/16/0/1, same peak.
"$CLI" -q recode "$SAMPLE" -o "$T/pq2020.png" --primaries bt2020 && ok || bad "recode png"
j=$("$CLI" probe --json "$T/pq2020.png")
has "$j" '"transfer":"pq","primaries":"bt2020","cicp":[9,16,0,1]' "recode png"
num_between "$(json_num "$j" peak_nits)" 3995 4005 "png peak"

# -> HLG TIFF: a generated p3-hlg ICC, peak limited by the 1000-nit HLG display.
"$CLI" -q recode "$SAMPLE" -o "$T/hlg.tif" --transfer hlg && ok || bad "recode hlg"
out=$("$CLI" probe "$T/hlg.tif")
has "$out" "transfer:     hlg" "hlg tif"
has "$out" "identified as p3 hlg" "hlg tif"
j=$("$CLI" probe --json "$T/hlg.tif")
num_between "$(json_num "$j" peak_nits)" 995 1001 "hlg peak"

# HLG -> PQ -> mean light of the ramp-limited image matches the HLG reading within 1%.
"$CLI" -q recode "$T/hlg.tif" -o "$T/back.png" --transfer pq && ok || bad "recode back"
m1=$(json_num "$("$CLI" probe --json "$T/hlg.tif")" mean_nits)
m2=$(json_num "$("$CLI" probe --json "$T/back.png")" mean_nits)
num_between "$(awk -v a="$m1" -v b="$m2" 'BEGIN { print b / a }')" 0.99 1.01 "hlg->pq mean ratio"

# --transfer on probe overrides the tagging.
out=$("$CLI" probe --transfer linear "$T/pq2020.png")
has "$out" "transfer:     linear (from --transfer)" "override"

# Misuse: exit 2 with the option named; never overwrite the input.
out=$("$CLI" probe 2>&1); rc=$?
[ $rc -eq 2 ] && ok || bad "probe without file exit $rc"
has "$out" "gainmap probe: missing FILE" "probe usage"
out=$("$CLI" probe --transfer nope "$SAMPLE" 2>&1); rc=$?
[ $rc -eq 2 ] && ok || bad "bad transfer exit $rc"
has "$out" "option --transfer expects pq, hlg, linear" "probe usage"
out=$("$CLI" recode "$SAMPLE" -o "$T/x.exr" --transfer pq 2>&1); rc=$?
[ $rc -eq 2 ] && ok || bad "exr pq exit $rc"
has "$out" "OpenEXR files hold linear light" "recode usage"
out=$("$CLI" recode "$SAMPLE" -o "$T/x.bmp" 2>&1); rc=$?
[ $rc -eq 2 ] && ok || bad "bmp exit $rc"
has "$out" "option --output expects a name ending in .png, .tif, .exr, .pfm or .ppm, not" "recode usage"
cp "$T/pq2020.png" "$T/same.png"
out=$("$CLI" recode "$T/same.png" -o "$T/same.png" 2>&1); rc=$?
[ $rc -eq 1 ] && ok || bad "same file exit $rc"
has "$out" "refusing to overwrite the input" "same file"
out=$("$CLI" help recode)
has "$out" "Usage: gainmap recode [OPTIONS] IN -o OUT" "help"

# An existing output is replaced only with --force.
out=$("$CLI" recode "$SAMPLE" -o "$T/pq2020.png" --primaries bt2020 2>&1); rc=$?
[ $rc -eq 1 ] && ok || bad "existing output exit $rc"
has "$out" "pq2020.png: already exists (use --force to replace it)" "existing output"
"$CLI" -q recode "$SAMPLE" -o "$T/pq2020.png" --primaries bt2020 --force && ok || bad "recode --force"

# PQ and HLG TIFFs in BT.709 primaries carry a generated bt709-pq/-hlg ICC
# profile, so they read back as what they are (they used to read as sRGB).
for tf in pq hlg; do
    "$CLI" -q recode "$SAMPLE" -o "$T/709$tf.tif" --primaries srgb --transfer $tf && ok || bad "recode 709 $tf"
    out=$("$CLI" probe "$T/709$tf.tif")
    has "$out" "transfer:     $tf" "709 $tf tif transfer"
    has "$out" "identified as srgb $tf" "709 $tf tif icc"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

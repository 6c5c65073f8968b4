#!/bin/bash
# test_cli_heif.sh - `gainmap info/validate/extract/decode` on HEIC/AVIF/HIF
# corpus files: exit codes, key output lines, one-line errors, and the
# extracted one-image HEIFs checked with heif-info/heif-convert
# (libheif-examples) when installed.
set -u
CLI=${GAINMAP_CLI:-build/gainmap}
CORPUS=${GM_CORPUS_DIR:-../shared/corpus}
T=${GAINMAP_TMP:-/tmp}/test_cli_heif
rm -rf "$T" && mkdir -p "$T"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
has() { # has "text" "needle" "what"
    case "$1" in *"$2"*) ok ;; *) bad "$3: expected '$2' in: $1" ;; esac
}
lacks() {
    case "$1" in *"$2"*) bad "$3: unexpected '$2' in: $1" ;; *) ok ;; esac
}
rc_is() { # rc_is ACTUAL EXPECTED WHAT
    if [ "$1" -eq "$2" ]; then ok; else bad "$3: exit $1, expected $2"; fi
}

PUG="$CORPUS/apple_heic_gainmap/pillowheif__pug.heic"
SDR="$CORPUS/avif_tmap/libavif__seine_sdr_gainmap_srgb.avif"
HDR="$CORPUS/avif_tmap/libavif__seine_hdr_gainmap_srgb.avif"
ALTR="$CORPUS/corrupt_fuzz/libavif__seine_hdr_gainmap_wrongaltr.avif"
HIF="$CORPUS/corrupt_fuzz/pillowheif__corrupted.hif"
NOGM="$CORPUS/negative_no_gainmap/pillowheif__empty_icc.heic"
IP16="$CORPUS/apple_heic_gainmap/libvips__apple-heic-gainmap.heic"

# --- info ---------------------------------------------------------------
out=$("$CLI" info "$PUG"); rc_is $? 0 "info pug"
has "$out" "container      HEIF" "info pug"
has "$out" "dialects       Apple HDRGainMap" "info pug"
has "$out" "base image     4032x3024, 3 components, p3 primaries, srgb transfer, orientation 1" "info pug"
has "$out" "gain-map image 2016x1512, 1 component, bytes 1161154-1289274, found by HEIF item" "info pug"
has "$out" "Apple headroom 3.4822 (1.8 stops)" "info pug"

out=$("$CLI" info "$IP16"); rc_is $? 0 "info iPhone 16"
has "$out" "dialects       ISO 21496-1, Apple HDRGainMap, HEIF tmap" "info iPhone 16"
has "$out" "base image     4284x5712, 3 components, p3 primaries" "info iPhone 16 (rotated)"
has "$out" "gain-map image 2142x2856, 1 component, found by HEIF item" "info iPhone 16"
has "$out" "headroom       base 0 stops (1x), alternate 2.78711 stops (6.902x)" "info iPhone 16"
has "$out" "issues         none" "info iPhone 16"

j=$("$CLI" info --json "$HDR"); rc_is $? 0 "info --json hdr avif"
has "$j" '"container": "heif"' "json"
has "$j" '"dialects": ["iso21496", "tmap"]' "json"
has "$j" '"metadata_source": "iso21496"' "json"
has "$j" '"base_hdr_headroom": {"n": 13, "d": 10, "value": 1.3}' "json"
has "$j" '"gainmap_kind": "tmap", "base_item": 1, "gainmap_item": 3, "tmap_item": 2' "json"
has "$j" '"alternate": {"width": 400, "height": 300, "cicp": [1, 13, 6, 1]' "json"

out=$("$CLI" info "$HIF" 2>&1); rc_is $? 1 "info corrupted.hif"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && ok || bad "info corrupted.hif: not one line: $out"
has "$out" "gainmap: $HIF: the file is cut short: data of tile item 256 lies beyond its end (28851 bytes)" "corrupt"

# --- validate -----------------------------------------------------------
out=$("$CLI" validate "$PUG"); rc_is $? 4 "validate pug"
has "$out" "warning: Apple gain map only (no ISO 21496-1 'tmap' item): non-Apple platforms show SDR [apple-only]" "validate pug"
out=$("$CLI" validate "$SDR"); rc_is $? 0 "validate seine sdr avif"
[ "$out" = "no issues found" ] && ok || bad "validate seine sdr avif printed: $out"
out=$("$CLI" validate "$ALTR"); rc_is $? 4 "validate wrongaltr"
has "$out" "tmap is not the preferred rendition; the gain map is ignored [tmap-not-preferred]" "validate wrongaltr"
out=$("$CLI" validate "$CORPUS/corrupt_fuzz/libavif__unsupported_gainmap_version.avif"); rc_is $? 4 "validate v99"
has "$out" "tmap item 3 has version 99 (only 0 is defined); the gain map is ignored [tmap-version]" "validate v99"
out=$("$CLI" validate "$HIF" 2>&1); rc_is $? 1 "validate corrupted.hif"
"$CLI" validate --quiet "$SDR" "$PUG"; rc_is $? 4 "validate --quiet two files"

# --- extract ------------------------------------------------------------
"$CLI" -q extract "$PUG" --base "$T/b.heic" --gainmap "$T/g.heic" --metadata "$T/m.json"; rc_is $? 0 "extract pug"
has "$(cat "$T/m.json")" '"gainmap_kind": "apple-aux"' "extract pug metadata"
has "$(head -c 12 "$T/g.heic" | tail -c 8)" "ftypheic" "extract pug map brand"
out=$("$CLI" info "$T/g.heic"); rc_is $? 0 "info of the extracted map"
has "$out" "base image     2016x1512, 3 components" "extracted map reopened"
"$CLI" extract "$SDR" --gainmap "$T/g.jpg" 2>"$T/err"; rc_is $? 2 "extract HEIF item to .jpg"
has "$(cat "$T/err")" "option --gainmap: $SDR is a HEIF file, so its gain map is written as a one-image AVIF; name it .avif" "extract name"
[ ! -e "$T/g.jpg" ] && ok || bad "extract wrote g.jpg"
"$CLI" -q extract "$SDR" -g "$T/g.avif"; rc_is $? 0 "extract avif map"
"$CLI" extract "$ALTR" -g "$T/x.avif" 2>"$T/err"; rc_is $? 1 "extract map of wrongaltr"
has "$(cat "$T/err")" "no gain-map image found; nothing written" "extract wrongaltr"
"$CLI" -q extract "$PUG" --base "$T/b.heic" 2>/dev/null; rc_is $? 1 "extract refuses to replace"
if command -v heif-info >/dev/null && command -v heif-convert >/dev/null; then
    has "$(heif-info "$T/b.heic" 2>&1)" "image: 4032x3024" "heif-info base.heic"
    has "$(heif-info "$T/g.heic" 2>&1)" "image: 2016x1512" "heif-info map.heic"
    has "$(heif-info "$T/g.avif" 2>&1)" "image: 400x300" "heif-info map.avif"
    # the extracted items decode to the same YUV samples as libheif gives
    # for the original primary and aux image (y4m: raw planes, no metadata)
    (cd "$T" && heif-convert --quiet --with-aux --no-colons "$PUG" ref.y4m >/dev/null 2>&1 &&
        heif-convert --quiet g.heic g.y4m >/dev/null 2>&1 && heif-convert --quiet b.heic b.y4m >/dev/null 2>&1)
    cmp -s "$T/g.y4m" "$T/ref-urn_com_apple_photo_2020_aux_hdrgainmap.y4m" && ok ||
        bad "extracted pug map differs from heif-convert --with-aux"
    cmp -s "$T/b.y4m" "$T/ref.y4m" && ok || bad "extracted pug base differs from heif-convert"
else
    echo "(libheif-examples not installed: extracted files not cross-checked)"
fi

# --- decode -------------------------------------------------------------
"$CLI" -q decode "$SDR" -o "$T/sdr.png"; rc_is $? 0 "decode seine sdr avif"
out=$("$CLI" probe "$T/sdr.png"); rc_is $? 0 "probe decoded png"
has "$out" "size:         400x300" "decoded png"
has "$out" "transfer:     pq" "decoded png"
has "$out" "primaries:    bt2020" "decoded png"
"$CLI" -q decode "$HDR" -o "$T/hdr.exr" -H 1; rc_is $? 0 "decode hdr avif to SDR headroom"
"$CLI" -q decode "$PUG" -o "$T/pug.ppm" -t srgb -p base; rc_is $? 0 "decode pug SDR"
has "$(head -c 20 "$T/pug.ppm")" "4032 3024" "decoded pug size"
# its tmap is ignored, and its primary is PQ: decode writes that image as it is
out=$("$CLI" decode "$ALTR" -o "$T/a.png" 2>&1); rc_is $? 0 "decode wrongaltr"
out=$("$CLI" probe "$T/a.png"); rc_is $? 0 "probe decoded wrongaltr"
has "$out" "size:         400x300" "decoded wrongaltr"
has "$out" "transfer:     pq" "decoded wrongaltr"
out=$("$CLI" decode "$NOGM" -o "$T/n.png" 2>&1); rc_is $? 1 "decode SDR heic without gain map"
has "$out" "gainmap: $NOGM: the file has no usable gain map" "decode SDR heic without gain map"
out=$("$CLI" decode "$HIF" -o "$T/c.png" 2>&1); rc_is $? 1 "decode corrupted.hif"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && ok || bad "decode corrupted.hif: not one line: $out"
[ ! -e "$T/c.png" ] && ok || bad "decode corrupted.hif wrote output"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

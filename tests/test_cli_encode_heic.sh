#!/bin/bash
# test_cli_encode_heic.sh - `gainmap encode ... -o OUT.heic`: each HEIC
# variant from the bundled sample master, read back by `gainmap info` /
# `validate` and by heif-info (libheif-examples); the format from --as and
# from the extension; a grid of small tiles decodes like one picture (our
# reader and libheif); the master's EXIF is carried with orientation 1;
# usage errors for combinations that cannot work (exit 2, one message).
set -u
CLI=${GAINMAP_CLI:-build/gainmap}
SRC=${GM_SOURCE_DIR:-.}
T=${GAINMAP_TMP:-/tmp}/test_cli_encode_heic
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
HEIFINFO=0
command -v heif-info >/dev/null && command -v heif-convert >/dev/null && HEIFINFO=1

M="$T/master.tif"   # 768x512 PQ Display P3
cp "$SRC/samples/sample_p3_pq.tif" "$M"

# --- each variant -----------------------------------------------------------
for v in heic heic-apple heic-iso heic-pq; do
    out=$("$CLI" -v encode "$M" -o "$T/$v.heic" --as $v 2>&1); rc_is $? 0 "encode --as $v"
    has "$out" "$T/$v.heic: $v, " "encode --as $v -v"
    [ "$(head -c 12 "$T/$v.heic" | tail -c 4)" = "heic" ] && ok || bad "$v: major brand is not heic"
    if [ $HEIFINFO = 1 ]; then
        out=$(heif-info "$T/$v.heic" 2>&1); rc_is $? 0 "heif-info $v"
        has "$out" "main brand: heic" "heif-info $v"
        heif-convert "$T/$v.heic" "$T/$v-libheif.png" >/dev/null 2>&1; rc_is $? 0 "heif-convert $v"
    fi
done
out=$("$CLI" info "$T/heic.heic"); rc_is $? 0 "info heic"
has "$out" "dialects       ISO 21496-1, Apple HDRGainMap, HEIF tmap" "info heic"
has "$out" "metadata       from ISO 21496-1, 1 channel" "info heic"
out=$("$CLI" validate "$T/heic.heic"); rc_is $? 0 "validate heic"
has "$out" "no issues found" "validate heic"
out=$("$CLI" info "$T/heic-apple.heic"); rc_is $? 0 "info heic-apple"
has "$out" "dialects       Apple HDRGainMap" "info heic-apple"
lacks "$out" "HEIF tmap" "info heic-apple"
out=$("$CLI" validate "$T/heic-apple.heic"); rc_is $? 4 "validate heic-apple (Apple only is a risk)"
has "$out" "[apple-only]" "validate heic-apple"
out=$("$CLI" info "$T/heic-iso.heic"); rc_is $? 0 "info heic-iso"
has "$out" "dialects       ISO 21496-1, HEIF tmap" "info heic-iso"
has "$out" "metadata       from ISO 21496-1, 3 channels" "info heic-iso"
out=$("$CLI" validate "$T/heic-iso.heic"); rc_is $? 0 "validate heic-iso"
out=$("$CLI" info "$T/heic-pq.heic"); rc_is $? 0 "info heic-pq"
has "$out" "gain map       no" "info heic-pq"
has "$out" "p3 primaries, pq transfer" "info heic-pq"
# the two ICC profiles of the original workflow
"$CLI" encode "$M" -o "$T/p3pq.heic" --as heic-pq --icc P3_PQ; rc_is $? 0 "encode heic-pq --icc P3_PQ"
"$CLI" icc HDR_P3_D65_ST2084 -o "$T/a.icc" >/dev/null 2>&1 && "$CLI" icc P3_PQ -o "$T/b.icc" >/dev/null 2>&1
for pair in "heic-pq.heic a.icc" "p3pq.heic b.icc"; do
    set -- $pair
    python3 -c "import sys; sys.exit(open(sys.argv[2],'rb').read() not in open(sys.argv[1],'rb').read())" \
        "$T/$1" "$T/$2" && ok || bad "$1 does not hold the $2 profile"
done

# --- format from the extension ----------------------------------------------
"$CLI" encode "$M" -o "$T/ext.heic"; rc_is $? 0 "encode .heic"
out=$("$CLI" info "$T/ext.heic"); has "$out" "dialects       ISO 21496-1, Apple HDRGainMap, HEIF tmap" ".heic = heic"
"$CLI" encode "$M" -o "$T/ext.HEIF"; rc_is $? 0 "encode .HEIF"
out=$("$CLI" info "$T/ext.HEIF"); has "$out" "container      HEIF" ".HEIF = heic"
"$CLI" encode "$M" -o "$T/ext.jpg"; rc_is $? 0 "encode .jpg"
out=$("$CLI" info "$T/ext.jpg"); has "$out" "container      JPEG" ".jpg = UltraHDR"
"$CLI" encode "$M" -o "$T/asjpeg.heic" --as jpeg; rc_is $? 0 "encode --as jpeg"
[ "$(head -c 2 "$T/asjpeg.heic" | od -An -tx1 | tr -d ' ')" = "ffd8" ] && ok || bad "--as jpeg did not write a JPEG"

# --- grid: small tiles decode like one picture -------------------------------
"$CLI" encode "$M" -o "$T/one.heic" --as heic-iso --grid never; rc_is $? 0 "grid never"
"$CLI" encode "$M" -o "$T/grid.heic" --as heic-iso --grid always --tile-size 256; rc_is $? 0 "grid always"
out=$("$CLI" info "$T/grid.heic"); rc_is $? 0 "info grid"
has "$out" "base image     768x512" "info grid"
has "$out" "gain-map image 768x512" "info grid"
lacks "$out" "bytes" "info grid (no byte range for a grid)"
"$CLI" validate "$T/grid.heic" >/dev/null; rc_is $? 0 "validate grid"
"$CLI" decode "$T/one.heic" -o "$T/one.ppm" -t pq -p p3; rc_is $? 0 "decode one"
"$CLI" decode "$T/grid.heic" -o "$T/grid.ppm" -t pq -p p3; rc_is $? 0 "decode grid"
# PSNR (16-bit PPM samples as 10-bit codes) between the two decodes
psnr() {
    python3 - "$1" "$2" <<'EOF'
import sys, math, array
def load(p):
    d = open(p, 'rb').read()
    parts, pos = [], 0
    while len(parts) < 4:
        while d[pos:pos+1].isspace(): pos += 1
        e = pos
        while not d[e:e+1].isspace(): e += 1
        parts.append(d[pos:e]); pos = e
    pos += 1
    w, h, mx = int(parts[1]), int(parts[2]), int(parts[3])
    a = array.array('H' if mx > 255 else 'B', d[pos:pos + w * h * 3 * (2 if mx > 255 else 1)])
    if mx > 255 and sys.byteorder == 'little': a.byteswap()
    return w, h, mx, a
wa, ha, ma, a = load(sys.argv[1]); wb, hb, mb, b = load(sys.argv[2])
if (wa, ha) != (wb, hb): print(0); sys.exit()
s = 1023.0 / ma
se = sum((round(x * s) - round(y * s)) ** 2 for x, y in zip(a, b))
print("%.2f" % (99.0 if se == 0 else 10 * math.log10(1023.0 ** 2 * len(a) / se)))
EOF
}
if command -v python3 >/dev/null; then
    db=$(psnr "$T/one.ppm" "$T/grid.ppm")
    awk -v d="$db" 'BEGIN { exit !(d >= 45) }' && ok || bad "grid vs one picture, our decode: $db dB < 45"
    if [ $HEIFINFO = 1 ]; then
        heif-convert "$T/one.heic" "$T/one-lh.y4m" >/dev/null 2>&1; rc_is $? 0 "heif-convert one"
        heif-convert "$T/grid.heic" "$T/grid-lh.y4m" >/dev/null 2>&1; rc_is $? 0 "heif-convert grid"
        out=$(heif-info "$T/grid.heic"); has "$out" "image: 768x512 (id=1), primary" "heif-info grid"
        [ -s "$T/grid-lh.y4m" ] && [ "$(head -c 20 "$T/grid-lh.y4m")" = "$(head -c 20 "$T/one-lh.y4m")" ] && ok ||
            bad "libheif: grid and one-picture decodes differ in size"
    fi
fi

# --- EXIF of the master ------------------------------------------------------
if command -v exiftool >/dev/null; then
    # a PNG master with an eXIf chunk (our TIFF reader keeps no EXIF)
    "$CLI" recode "$M" -o "$T/exif.png" >/dev/null 2>&1; rc_is $? 0 "recode to PNG"
    exiftool -q -overwrite_original -Artist="Test Artist" -Orientation#=6 "$T/exif.png" >/dev/null 2>&1
    "$CLI" encode "$T/exif.png" -o "$T/exif.heic"; rc_is $? 0 "encode with EXIF"
    out=$(exiftool -s -Artist -Orientation -HDRHeadroom "$T/exif.heic" 2>&1)
    has "$out" "HDRHeadroom                     : 1.01" "maker33 value"
    has "$out" "Test Artist" "EXIF carried"
    has "$out" "Horizontal (normal)" "orientation 1 (pixels turned)"
    has "$out" "HDRHeadroom" "maker note kept"
    out=$("$CLI" info "$T/exif.heic"); has "$out" "base image     512x768" "orientation applied to pixels"
    "$CLI" encode "$T/exif.png" -o "$T/noexif.heic" --no-exif; rc_is $? 0 "--no-exif"
    out=$(exiftool -s -Artist -HDRHeadroom "$T/noexif.heic" 2>&1)
    lacks "$out" "Test Artist" "--no-exif"
    has "$out" "HDRHeadroom" "--no-exif keeps the maker note"
fi

# --- usage errors --------------------------------------------------------------
err() { # err EXPECTED-TEXT ARGS...
    local want=$1; shift
    out=$("$CLI" encode "$M" "$@" 2>&1); local rc=$?
    rc_is $rc 2 "encode $*"
    has "$out" "$want" "encode $*"
    [ "$(printf '%s\n' "$out" | grep -c '^gainmap')" -ge 1 ] && ok || bad "encode $*: no 'gainmap' line"
}
err "--subsampling 422 is not available for HEIC (use 444 or 420)" -o "$T/e.heic" --subsampling 422
err "--icc chooses heic-pq's profile; use it with --as heic-pq" -o "$T/e.heic" --icc P3_PQ
err "option --icc expects HDR_P3_D65_ST2084 or P3_PQ, not 'sRGB'" -o "$T/e.heic" --as heic-pq --icc sRGB
err "option --as expects jpeg, heic, heic-apple, heic-iso or heic-pq, not 'avif'" -o "$T/e.heic" --as avif
err "--metadata applies to JPEG output" -o "$T/e.heic" --metadata iso
err "--gamma does not apply to Apple's gain map (--as heic); use --as heic-iso" -o "$T/e.heic" --gamma 1.5
err "Apple's gain map (--as heic-apple) has one channel" -o "$T/e.heic" --as heic-apple --gainmap-channels 3
err "--speed applies to HEIC output" -o "$T/e.jpg" --speed fast
err "option --speed expects fast, medium or slow, not 'turbo'" -o "$T/e.heic" --speed turbo
err "option --tile-size expects a multiple of 64 from 64 to 4096, not '100'" -o "$T/e.heic" --tile-size 100
err "option --grid expects auto, always or never, not 'yes'" -o "$T/e.heic" --grid yes
err "--sdr has no use with --as heic-pq" -o "$T/e.heic" --as heic-pq --sdr "$T/heic-pq-libheif.png"
"$CLI" encode "$M" -o "$T/e.heic" --sdr "$T/ext.jpg" >/dev/null 2>&1; rc_is $? 2 "JPEG --sdr for HEIC"
out=$("$CLI" encode "$M" -o "$T/e.heic" --sdr "$T/ext.jpg" 2>&1)
has "$out" "a JPEG base is kept byte for byte only in JPEG output" "JPEG --sdr for HEIC"
[ -e "$T/e.heic" ] && bad "a refused encode left $T/e.heic" || ok
out=$("$CLI" encode "$M" -o "$T/heic.heic" 2>&1); rc_is $? 1 "existing output without -f"

echo "test_cli_encode_heic: $pass passed, $fail failed"
[ $fail -eq 0 ]

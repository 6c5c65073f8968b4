#!/bin/bash
# test_exiftool.sh - compare the fields exiftool reads from every corpus
# gain-map JPEG with `gainmap info --json`: image sizes, MPF entries (exiftool
# gives absolute starts), hdrgm XMP of the gain map (exiftool's MPImage2 stream
# run through exiftool again), GContainer Item:Length, Apple maker notes
# HDRHeadroom/HDRGain and HDRGainMap XMP.  The gain-map stream exiftool
# extracts must be byte-identical to `gainmap extract --gainmap`.
# Skips (exit 0, with a message) when exiftool or python3 is missing.
set -u
CLI=${GAINMAP_CLI:-build/gainmap}
CORPUS=${GM_CORPUS_DIR:-$(dirname "$0")/../../shared/corpus}
TMP=${GAINMAP_TMP:-/tmp}/test_exiftool
if ! command -v exiftool >/dev/null 2>&1; then
    echo "SKIP: exiftool not found (install the Debian package libimage-exiftool-perl)"
    exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "SKIP: python3 not found (needed to compare JSON)"
    exit 0
fi
rm -rf "$TMP" && mkdir -p "$TMP" || exit 1

fail=0
files=0
for f in "$CORPUS"/ultrahdr_v1_xmp_mpf/*.jpg "$CORPUS"/adobe_hdrgm_jpeg/*.jpg \
         "$CORPUS"/ultrahdr_iso21496_jpeg/*.jpg "$CORPUS"/apple_jpeg_gainmap/*; do
    [ -f "$f" ] || continue
    files=$((files + 1))
    name=$(basename "$f")
    if ! "$CLI" info --json "$f" > "$TMP/info.json" 2> "$TMP/err"; then
        echo "FAIL $name: gainmap info --json failed: $(cat "$TMP/err")"
        fail=1
        continue
    fi
    exiftool -j -G1 -n "$f" > "$TMP/primary.json" 2>/dev/null
    rm -f "$TMP/map_exiftool.jpg" "$TMP/map_ours.jpg" "$TMP/map.json"
    exiftool -b -MPImage2 "$f" > "$TMP/map_exiftool.jpg" 2>/dev/null
    if [ -s "$TMP/map_exiftool.jpg" ]; then
        exiftool -j -G1 -n "$TMP/map_exiftool.jpg" > "$TMP/map.json" 2>/dev/null
        if "$CLI" --quiet extract "$f" --gainmap "$TMP/map_ours.jpg" 2> "$TMP/err"; then
            if ! cmp -s "$TMP/map_exiftool.jpg" "$TMP/map_ours.jpg"; then
                echo "FAIL $name: the gain-map stream differs from exiftool's MPImage2"
                fail=1
            fi
        else
            echo "note $name: no gain map extracted ($(cat "$TMP/err"))"
        fi
    else
        echo '[{}]' > "$TMP/map.json"
    fi
    python3 - "$name" "$TMP/info.json" "$TMP/primary.json" "$TMP/map.json" <<'EOF' || fail=1
import json, sys
name, info, prim, mapj = sys.argv[1:5]
g = json.load(open(info))
p = json.load(open(prim))[0]
m = json.load(open(mapj))[0]
bad = []
n = 0

def same(what, ours, theirs, tol=1e-9):
    global n
    n += 1
    if isinstance(theirs, list) or isinstance(ours, list):
        a = ours if isinstance(ours, list) else [ours]
        b = theirs if isinstance(theirs, list) else [theirs]
        ok = len(a) == len(b) and all(abs(float(x) - float(y)) <= tol * max(1, abs(float(y))) for x, y in zip(a, b))
    elif isinstance(theirs, (int, float)) and not isinstance(theirs, bool):
        ok = ours is not None and abs(float(ours) - float(theirs)) <= tol * max(1, abs(float(theirs)))
    else:
        ok = str(ours).lower() == str(theirs).lower()
    if not ok:
        bad.append("%s: gainmap %r, exiftool %r" % (what, ours, theirs))

same("base width", g["base"]["width"], p["File:ImageWidth"])
same("base height", g["base"]["height"], p["File:ImageHeight"])
mpf = g.get("mpf") or {}
if "MPImage2:MPImageStart" in p and "entries" in mpf:
    same("MPF entry 1 size", mpf["entries"][0]["size"], p["MPImage1:MPImageLength"])
    same("MPF entry 1 type", mpf["entries"][0]["type"], p["MPImage1:MPImageType"])
    same("MPF entry 2 size", mpf["entries"][1]["size"], p["MPImage2:MPImageLength"])
    same("MPF entry 2 type", mpf["entries"][1]["type"], p["MPImage2:MPImageType"])
    same("MPF number of images", mpf["number_of_images"], p["MPF0:NumberOfImages"])
    if g["gainmap"] and g["gainmap"]["locator"] == "mpf":
        same("gain-map offset", g["gainmap"]["offset"], p["MPImage2:MPImageStart"])
if g["gainmap"] and "File:ImageWidth" in m:
    same("gain-map width", g["gainmap"]["width"], m["File:ImageWidth"])
    same("gain-map height", g["gainmap"]["height"], m["File:ImageHeight"])
    same("gain-map components", g["gainmap"]["components"], m["File:ColorComponents"])
x = g.get("xmp") or {}
for k in ["GainMapMin", "GainMapMax", "Gamma", "OffsetSDR", "OffsetHDR", "HDRCapacityMin", "HDRCapacityMax",
          "BaseRenditionIsHDR", "Version"]:
    t = "XMP-hdrgm:" + k
    if t in m or k in x:
        ours = x.get(k)
        if isinstance(ours, list) and len(ours) == 1 and not isinstance(m.get(t), list):
            ours = ours[0]
        same("gain-map XMP " + k, ours, m.get(t))
px = g.get("primary_xmp") or {}
if "XMP-hdrgm:Version" in p:
    same("primary hdrgm:Version", px.get("Version"), p["XMP-hdrgm:Version"])
if "XMP-Container:DirectoryItemLength" in p:
    L = p["XMP-Container:DirectoryItemLength"]
    L = L[-1] if isinstance(L, list) else L
    items = [i for i in (g.get("gcontainer") or []) if i["semantic"] == "GainMap"]
    same("GContainer Item:Length", items[0]["length"] if items else None, L)
a = g.get("apple") or {}
for ours, theirs, src in [("HDRHeadroom", "Apple:HDRHeadroom", p), ("HDRGain", "Apple:HDRGain", p),
                          ("HDRGainMapVersion", "XMP-HDRGainMap:HDRGainMapVersion", m),
                          ("HDRGainMapHeadroom", "XMP-HDRGainMap:HDRGainMapHeadroom", m)]:
    if theirs in src or ours in a:
        same("Apple " + ours, a.get(ours), src.get(theirs), 1e-8)
for b in bad:
    print("FAIL %s: %s" % (name, b))
print("%s %s: %d fields compared" % ("FAIL" if bad else "ok  ", name, n))
sys.exit(1 if bad else 0)
EOF
done
echo "$files files compared with exiftool $(exiftool -ver)"
[ "$files" -ge 24 ] || { echo "FAIL: expected at least 24 corpus gain-map files, found $files"; fail=1; }
exit $fail

#!/usr/bin/env bash
# test_chromium.sh - does a real browser apply our gain map?
#
# Encodes a small HDR master (SDR-level grey 0.5 on the left, a patch 3 stops
# above SDR white, 8.0, on the right) to UltraHDR v1.1 and to ISO-only and
# XMP-only variants and a BT.2020 base (red there instead of grey), then
# draws each JPEG - and, for contrast, the base image alone - into linear float16 2D canvases in headless Chromium with
# globalHDRHeadroom (log2) 0, 1, 2 and Infinity, reads the pixels back and
# checks: the bright patch is 1.0 at headroom 0 and 2, 4, 8 (+-5%) at
# headrooms 1, 2, Infinity; the base alone never exceeds 1.0; the grey half
# stays 0.5 everywhere.  Skips (exit 0) when Chromium is not installed.
set -euo pipefail

CHROME=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROME" ]; then
  echo "SKIP: chromium not installed ($CHROME)"
  exit 0
fi
GM=${GAINMAP_CLI:-build/gainmap}
TMP=$(mktemp -d "${GAINMAP_TMP:-/tmp}/chromium.XXXXXX")
PROFILE=$(mktemp -d)
trap 'rm -rf "$TMP" "$PROFILE"' EXIT

# 64x32 linear PFMs: left 0.5 (SDR grey; sRGB red 0.5 in red.pfm), right
# 8.0 (3 stops over SDR white).
python3 - "$TMP/master.pfm" "$TMP/red.pfm" <<'EOF'
import struct, sys
w, h = 64, 32
for path, left in ((sys.argv[1], (0.5, 0.5, 0.5)), (sys.argv[2], (0.5, 0.0, 0.0))):
    rows = []
    for y in range(h):
        row = []
        for x in range(w):
            row += left if x < w // 2 else (8.0, 8.0, 8.0)
        rows.append(struct.pack('<%df' % len(row), *row))
    with open(path, 'wb') as f:
        f.write(b'PF\n%d %d\n-1.0\n' % (w, h))
        for r in reversed(rows):   # PFM rows are stored bottom to top
            f.write(r)
EOF
for m in both iso xmp; do
  "$GM" encode "$TMP/master.pfm" -o "$TMP/$m.jpg" --primaries srgb --base-primaries srgb --metadata $m
done
# a BT.2020 base (what a BT.2020 master with colours outside P3 gets), with
# sRGB red on the left: only a browser that reads the base's ICC profile
# shows it as (0.5, 0, 0) (read as sRGB, the BT.2020 codes are a duller red)
"$GM" encode "$TMP/red.pfm" -o "$TMP/bt2020.jpg" --primaries srgb --base-primaries bt2020
"$GM" extract "$TMP/both.jpg" --base "$TMP/base.jpg"

b64() { base64 -w0 "$1"; }
cat > "$TMP/page.html" <<EOF
<!DOCTYPE html><html><body><pre id="out">pending</pre><script>
const sources = {both: 'data:image/jpeg;base64,$(b64 "$TMP/both.jpg")',
                 iso: 'data:image/jpeg;base64,$(b64 "$TMP/iso.jpg")',
                 xmp: 'data:image/jpeg;base64,$(b64 "$TMP/xmp.jpg")',
                 bt2020: 'data:image/jpeg;base64,$(b64 "$TMP/bt2020.jpg")',
                 base: 'data:image/jpeg;base64,$(b64 "$TMP/base.jpg")'};
function px(ctx, x, y) {
  let d;
  try { d = ctx.getImageData(x, y, 1, 1, {pixelFormat: 'rgba-float16'}).data; }
  catch (e) { d = ctx.getImageData(x, y, 1, 1).data; }
  const s = (d instanceof Uint8ClampedArray) ? 1 / 255 : 1;
  return [d[0] * s, d[1] * s, d[2] * s].map(v => Number(v.toFixed(4)));
}
async function main() {
  const lines = [];
  for (const name of ['both', 'iso', 'xmp', 'bt2020', 'base']) {
    const img = new Image();
    img.src = sources[name];
    await img.decode();
    for (const h of [0, 1, 2, Infinity]) {
      const c = document.createElement('canvas');
      c.width = img.width; c.height = img.height;
      const ctx = c.getContext('2d', {colorSpace: 'srgb-linear', colorType: 'float16'});
      if (!('globalHDRHeadroom' in ctx)) { lines.push('no-hdr-headroom-api'); break; }
      ctx.globalHDRHeadroom = h;
      ctx.drawImage(img, 0, 0);
      const dark = px(ctx, 8, 16), bright = px(ctx, 56, 16);
      lines.push([name, h, dark.join(','), bright.join(',')].join(' '));
    }
  }
  document.getElementById('out').textContent = 'RESULT\n' + lines.join('\n') + '\nEND';
}
main().catch(e => { document.getElementById('out').textContent = 'ERROR ' + e; });
</script></body></html>
EOF

# The page finishes asynchronously (image decode runs outside virtual time),
# so a dump can come back before the result; try a few times.
RESULT=
for attempt in 1 2 3 4 5; do
  DOM=$(timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$PROFILE" --enable-experimental-web-platform-features \
    --enable-blink-features=CanvasGlobalHDRHeadroom,CanvasFloatingPoint \
    --virtual-time-budget=10000 --dump-dom "file://$TMP/page.html" 2>/dev/null || true)
  # result lines (the page source itself also holds these words, so match whole lines)
  RESULT=$(printf '%s\n' "$DOM" | grep -E '^(both|iso|xmp|bt2020|base) ' || true)
  [ -n "$RESULT" ] && break
  sleep 1
done
printf '%s\n' "$RESULT"
if [ -z "$RESULT" ]; then
  echo "FAIL: no result from chromium"; printf '%s\n' "$DOM" | head -5; exit 1
fi
if printf '%s\n' "$DOM" | grep -q '^no-hdr-headroom-api$'; then
  echo "FAIL: this chromium has no globalHDRHeadroom"; exit 1
fi
# Columns: name headroom dark(r,g,b) bright(r,g,b).  Checks in awk.
printf '%s\n' "$RESULT" | awk '
  function near(v, want) { return v >= want * 0.95 && v <= want * 1.05 }
  { split($3, d, ","); split($4, b, ",")
    for (c = 1; c <= 3; c++) {
      if ($1 == "bt2020") {   # sRGB red 0.5: within 0.03 at full headroom, red elsewhere
        wr = c == 1 ? 0.5 : 0; tol = $2 == "Infinity" ? 0.03 : (c == 1 ? 0.1 : 0.05)
        if (d[c] < wr - tol || d[c] > wr + tol) { print "FAIL: bt2020 headroom " $2 ": red patch channel " c " " d[c] ", want " wr; fail = 1 }
      } else if (!near(d[c], 0.5)) { print "FAIL: " $1 " headroom " $2 ": SDR grey " d[c] ", want 0.5"; fail = 1 }
      want = ($1 == "base" || $2 == "0") ? 1 : ($2 == "1" ? 2 : ($2 == "2" ? 4 : 8))
      if (!near(b[c], want)) { print "FAIL: " $1 " headroom " $2 ": bright patch " b[c] ", want " want; fail = 1 }
    }
    n++ }
  END {
    if (n != 20) { print "FAIL: expected 20 result lines, got " n; fail = 1 }
    if (!fail) print "PASS: chromium applies the gain map (v1.1, ISO-only, XMP-only, BT.2020 base): 1, 2, 4, 8 at headroom 0, 1, 2, inf; base alone stays at 1"
    exit fail
  }'

#!/usr/bin/env bash
# test_faults_cli.sh - the CLI never loses data:
#  - an output that names the input (same path, a hard link, a symlink) is
#    refused and the input is unchanged;
#  - inputs are only read: info/validate/decode/extract work on a file on a
#    read-only mount (root, where tmpfs can be mounted) or a mode-0444 file;
#  - a full disk (a 256 KB tmpfs when mountable; always a file-size limit
#    with SIGXFSZ ignored, which fails write() with EFBIG the same way)
#    gives exit 1 with the system's error (ENOSPC/EFBIG text from every writer:
#    PFM, PNG, TIFF, EXR), and leaves the folder as it was:
#    no partial output, no temporary file, an existing output untouched.
set -u
cli=${GAINMAP_CLI:?}
corpus=${GM_CORPUS_DIR:?}
tmp=${GAINMAP_TMP:-/tmp}/test_faults_cli
rm -rf "$tmp" && mkdir -p "$tmp"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$1${2:+ ($2)}"; fi; }

src=$corpus/ultrahdr_iso21496_jpeg/uhdrrs__minnie_ultrahdr_sys.jpg   # 320x240: ~900 KB as PFM
in=$tmp/in.jpg
cp "$src" "$in"
sum=$(sha256sum < "$in")

# --- outputs that are the input ---------------------------------------------
ln "$in" "$tmp/hardlink.pfm"
ln -s "$in" "$tmp/symlink.pfm"
cp "$in" "$tmp/same.pfm"
for out in "$tmp/hardlink.pfm" "$tmp/symlink.pfm"; do
  err=$("$cli" decode "$in" -o "$out" 2>&1); rc=$?
  check "[ $rc -eq 1 ]" "decode -o $(basename "$out"): exit $rc"
  check "[[ \"\$err\" == *'refusing to overwrite the input file'* ]]" "$err"
done
err=$("$cli" decode "$tmp/same.pfm" -o "$tmp/same.pfm" 2>&1); rc=$?
check "[ $rc -eq 1 ] && [[ \"\$err\" == *'refusing to overwrite the input file'* ]]" "decode IN -o IN: $rc $err"
check "[ \"$(sha256sum < "$tmp/same.pfm")\" = \"$sum\" ]"
err=$("$cli" extract "$in" --base "$tmp/hardlink.pfm" --force 2>&1); rc=$?
check "[ $rc -ne 0 ]" "extract --base onto the input: exit $rc"
check "[ \"$(sha256sum < "$in")\" = \"$sum\" ]" "input changed"
rm -f "$tmp/hardlink.pfm" "$tmp/symlink.pfm" "$tmp/same.pfm"

# --- read-only input -----------------------------------------------------------
ro=$tmp/ro
mkdir -p "$ro"
mounted_ro=0
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=4m tmpfs "$ro" 2>/dev/null; then
  cp "$in" "$ro/in.jpg"
  if mount -o remount,ro "$ro" 2>/dev/null; then mounted_ro=1; fi
else
  cp "$in" "$ro/in.jpg"
  chmod 0444 "$ro/in.jpg"
fi
"$cli" info "$ro/in.jpg" >/dev/null; check "[ $? -eq 0 ]" "info on a read-only input"
"$cli" validate "$ro/in.jpg" >/dev/null; rc=$?
check "[ $rc -eq 0 ] || [ $rc -eq 4 ]" "validate on a read-only input: exit $rc"
"$cli" decode "$ro/in.jpg" -o "$tmp/ro_out.png"; check "[ $? -eq 0 ] && [ -s $tmp/ro_out.png ]" "decode of a read-only input"
"$cli" extract "$ro/in.jpg" --gainmap "$tmp/ro_map.jpg"; check "[ $? -eq 0 ]" "extract of a read-only input"
check "[ \"$(sha256sum < "$ro/in.jpg")\" = \"$sum\" ]"
if [ $mounted_ro -eq 1 ]; then
  echo "read-only input: on a read-only tmpfs mount"
  umount "$ro"
else
  echo "read-only input: mode 0444 (no read-only mount here)"
  chmod 0644 "$ro/in.jpg"
fi

# --- full disk -----------------------------------------------------------------
# $1 folder, $2 how (for messages), $3 expected error text; runs each writer.
full_disk_cases() {
  local dir=$1 how=$2 want=$3 err rc
  printf 'keep me' > "$dir/old.pfm"
  local before
  before=$(ls -A "$dir" | tr '\n' ' ')
  for out in new.pfm old.pfm new.png new.tif new.exr; do
    err=$("$cli" decode "$in" -o "$dir/$out" 2>&1); rc=$?
    check "[ $rc -eq 1 ]" "$how: decode -o $out: exit $rc ($err)"
    check "[[ \"\$err\" == *\"$out\"* ]]" "$how: message does not name $out: $err"
    # every writer gives the system's reason, not only "write error"
    [ "$out" != old.pfm ] && check "[[ \"\$err\" == *'$want'* ]]" "$how: $out: message lacks '$want': $err"
    echo "  $how: decode -o $out -> $err"
    check "[ \"$(ls -A "$dir" | tr '\n' ' ')\" = \"$before\" ]" "$how: $out left: $(ls -A "$dir" | tr '\n' ' ')"
  done
  check "[ \"$(cat "$dir/old.pfm")\" = 'keep me' ]" "$how: the existing output was changed"
  err=$("$cli" extract "$in" --base "$dir/base.jpg" 2>&1); rc=$?
  check "[ $rc -eq 1 ] && [ \"$(ls -A "$dir" | tr '\n' ' ')\" = \"$before\" ]" "$how: extract: $rc $err"
  rm -f "$dir/old.pfm"
}

full=$tmp/full
mkdir -p "$full"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=256k tmpfs "$full" 2>/dev/null; then
  # Fill most of it first, so even the small outputs do not fit.
  head -c 245760 /dev/zero > "$full/filler"   # 4 pages (16 KB) left
  full_disk_cases "$full" "256 KB tmpfs" "No space left on device"
  umount "$full"
else
  echo "full disk: tmpfs cannot be mounted here; the file-size limit case below covers it"
fi
limited=$tmp/limited
mkdir -p "$limited"
(
  trap '' XFSZ
  ulimit -f 16   # 16 KB
  full_disk_cases "$limited" "16 KB file-size limit" "File too large"
  echo "$pass $fail" > "$tmp/counts"
)
read -r p2 f2 < "$tmp/counts"
pass=$p2 fail=$f2

# --- every corrupt_fuzz corpus file: decode refuses it with one line, except
# the libavif files whose broken tmap readers must ignore: what they show is
# the primary, a PQ image, which decode writes as it is (plain HDR) ----------
n=0
for f in "$corpus"/corrupt_fuzz/*; do
  case $(basename "$f") in
  libavif__seine_hdr_gainmap_wrongaltr.avif | libavif__unsupported_gainmap_version.avif | \
  libavif__supported_gainmap_writer_version_with_extra_bytes.avif)
    err=$("$cli" decode "$f" -o "$tmp/plain.png" 2>&1); rc=$?
    check "[ $rc -eq 0 ] && [ -z \"\$err\" ] && [ -s $tmp/plain.png ]" "$(basename "$f"): exit $rc: $err"
    rm -f "$tmp/plain.png"
    echo "  corrupt_fuzz/$(basename "$f"): the primary (PQ) written"
    n=$((n + 1))
    continue ;;
  esac
  err=$("$cli" decode "$f" -o "$tmp/corrupt.png" 2>&1); rc=$?
  lines=$(printf '%s\n' "$err" | wc -l)
  check "[ $rc -eq 1 ] && [ $lines -eq 1 ] && [[ \"\$err\" == \"gainmap: $f: \"* ]]" "$(basename "$f"): exit $rc: $err"
  check "[ ! -e $tmp/corrupt.png ]"
  echo "  corrupt_fuzz/$(basename "$f"): $err"
  n=$((n + 1))
done
check "[ $n -ge 6 ]" "only $n corrupt_fuzz files"

echo "$pass passed, $fail failed"
rm -rf "$tmp"
[ "$fail" -eq 0 ]

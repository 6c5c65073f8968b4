#!/usr/bin/env bash
# test_fuzz_short.sh - every libFuzzer harness for a few seconds (default 8,
# GM_FUZZ_SECONDS), two at a time, when clang and libFuzzer are installed;
# fails on any crash, leak, timeout or out-of-memory.  The harnesses are
# built with clang, ASan and UBSan in $GM_BUILD_DIR/fuzz-short (kept between
# runs, so only the first run pays for the build).  Without clang the test
# says so and passes: the replay_fuzz_* tests still run every seed and kept
# crash input through the plain-main harnesses.
set -u
src=${GM_SOURCE_DIR:?}
build=${GM_FUZZ_BUILD:-${GM_BUILD_DIR:?}/fuzz-short}
seconds=${GM_FUZZ_SECONDS:-8}
if ! command -v clang >/dev/null; then
  echo "SKIPPED: clang is not installed (scripts/install-deps installs clang and libclang-rt-14-dev)"
  exit 0
fi
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
    clang -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
  echo "SKIPPED: clang cannot link -fsanitize=fuzzer (install libclang-rt-14-dev)"
  exit 0
fi
mkdir -p "$build"
exec 9>"$build/.lock"
flock 9
if ! { CC=clang cmake -S "$src" -B "$build" -DGAINMAP_LIBFUZZER=ON -DGAINMAP_SANITIZE=ON -DGAINMAP_TESTS=OFF \
         -DGAINMAP_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
       cmake --build "$build" -j 2 --target fuzz_targets >"$build/build.log" 2>&1; }; then
  tail -30 "$build/build.log"
  echo "FAIL: the libFuzzer build failed"
  exit 1
fi
work=$build/short-run
rm -rf "$work" && mkdir -p "$work"
run() {
  local name=$1 dict=$src/fuzz/$1.dict
  [ -f "$dict" ] || dict=$src/fuzz/gainmap.dict
  mkdir -p "$work/$name/corpus" "$work/$name/found"
  # A private copy of the seeds: the fuzzer adds to its first folder.
  [ -d "$src/fuzz/seeds/$name" ] && cp "$src/fuzz/seeds/$name"/* "$work/$name/corpus/" 2>/dev/null
  local extra=()
  [ -d "$src/fuzz/crashes/$name" ] && extra+=("$src/fuzz/crashes/$name")
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 -dict="$dict" \
      -artifact_prefix="$work/$name/found/" -print_final_stats=1 -close_fd_mask=1 \
      "$work/$name/corpus" "${extra[@]}" >"$work/$name.log" 2>&1
  local rc=$?
  local execs
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$name.log" | grep -o '[0-9]*$' | tail -1)
  if [ $rc -ne 0 ] || [ -n "$(ls "$work/$name/found")" ]; then
    echo "FAIL $name (exit $rc): $(ls "$work/$name/found" | head -3) - log $work/$name.log"
    grep -m5 -E 'ERROR|SUMMARY|runtime error' "$work/$name.log"
  else
    echo "ok   $name: ${execs:-?} executions in ${seconds}s"
  fi
}
names=()
for f in "$src"/fuzz/fuzz_*.c; do names+=("$(basename "$f" .c)"); done
out=$work/results
: > "$out"
i=0
while [ $i -lt ${#names[@]} ]; do
  run "${names[$i]}" >> "$out" &
  [ $((i + 1)) -lt ${#names[@]} ] && run "${names[$((i + 1))]}" >> "$out" &
  wait
  i=$((i + 2))
done
cat "$out"
! grep -q '^FAIL' "$out"

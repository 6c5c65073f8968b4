#!/usr/bin/env bash
# test_corpus_present.sh - the shared corpus the corpus tests read is there.
# When it is not, this names the one cause of all their failures.
set -u
if [ -f "$GM_CORPUS_DIR/MANIFEST.tsv" ]; then
  n=$(($(wc -l < "$GM_CORPUS_DIR/MANIFEST.tsv") - 1))
  echo "corpus at $GM_CORPUS_DIR: $n files listed"
  echo "1 passed, 0 failed"
  exit 0
fi
echo "FAIL: no test corpus at $GM_CORPUS_DIR (MANIFEST.tsv missing): put shared/ beside the checkout, or configure with -DGAINMAP_CORPUS_DIR=... or GAINMAP_CORPUS_DIR in the environment"
echo "0 passed, 1 failed"
exit 1

#!/usr/bin/env bash
# Runs one fuzz target for a while, then merges what it found into the kept corpus:
#
#   fuzz/run.sh TARGET SECONDS      # TARGET: wire_parse, scenario_load, live_intake or arm_import
#
# New inputs go to fuzz/work/TARGET (not kept); at the end libFuzzer's merge keeps in
# fuzz/corpus/TARGET only the inputs that add coverage. A crash stops the run and leaves the
# input in fuzz/artifacts/TARGET: fix the bug, then copy the input to fuzz/regressions/TARGET so
# that `cargo test -p vnetsim-fuzz` replays it forever. Needs cargo-fuzz (`cargo install
# cargo-fuzz`); runs on the stable toolchain without a sanitizer (`-s none`): Rust's own checks
# (bounds, overflow in debug assertions, which cargo fuzz turns on) find the panics.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz/run.sh TARGET SECONDS}
seconds=${2:?usage: fuzz/run.sh TARGET SECONDS}
mkdir -p "fuzz/work/$target" "fuzz/corpus/$target"
max_len=4096
case $target in scenario_load | arm_import) max_len=65536 ;; esac
# A crash, or Ctrl-C (libFuzzer stops cleanly on it), still merges what was found so far.
status=0
cargo fuzz run -s none --features libfuzzer "$target" "fuzz/work/$target" "fuzz/corpus/$target" -- \
  -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 ||
  status=$?
cargo fuzz run -s none --features libfuzzer "$target" -- -merge=1 \
  "fuzz/corpus/$target" "fuzz/work/$target" >/dev/null 2>&1
echo "corpus of $target: $(find "fuzz/corpus/$target" -type f | wc -l) inputs"
exit "$status"
